/* Attribute schemas: one AttrDesc table per attribute struct layout, so that ONNX import and
 * export, the text dump and its parser treat every op's attributes with one piece of code. */
#include "nnzc/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define A_INT(nm, field, def) {.name = nm, .type = AT_INT, .offset = offsetof(OpAttrs, field), .dint = (def)}
#define A_REQ_INT(nm, field) {.name = nm, .type = AT_INT, .offset = offsetof(OpAttrs, field), .required = true}
#define A_FLOAT(nm, field, def) {.name = nm, .type = AT_FLOAT, .offset = offsetof(OpAttrs, field), .dfloat = (def)}
#define A_INTS(nm, field) {.name = nm, .type = AT_INTS, .offset = offsetof(OpAttrs, field)}
#define A_ENUM(nm, field, names, def) \
	{.name = nm, .type = AT_ENUM, .offset = offsetof(OpAttrs, field), .enum_names = (names), .dint = (def)}
#define A_END {.name = NULL}

static const char *const auto_pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", NULL};
static const char *const pad_mode_names[] = {"constant", "reflect", "edge", "wrap", NULL};
static const char *const resize_mode_names[] = {"nearest", "linear", "cubic", NULL};
static const char *const coord_names[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
					  "align_corners", "asymmetric", "tf_crop_and_resize", NULL};
static const char *const nearest_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};
static const char *const act_names[] = {"none", "relu", "leaky_relu", "clip", "sigmoid", "tanh",
					"hard_sigmoid", "hard_swish", NULL};

const AttrDesc attrs_none[] = {A_END};
const AttrDesc attrs_leaky_relu[] = {A_FLOAT("alpha", unary.alpha, 0.01f), A_END};
const AttrDesc attrs_elu[] = {A_FLOAT("alpha", unary.alpha, 1.0f), A_END};
const AttrDesc attrs_selu[] = {A_FLOAT("alpha", unary.alpha, 1.67326319217681884765625f),
			       A_FLOAT("gamma", unary.beta, 1.05070102214813232421875f), A_END};
const AttrDesc attrs_hard_sigmoid[] = {A_FLOAT("alpha", unary.alpha, 0.2f), A_FLOAT("beta", unary.beta, 0.5f), A_END};
const AttrDesc attrs_cast[] = {
	{.name = "to", .type = AT_DTYPE, .offset = offsetof(OpAttrs, cast.to), .required = true},
	A_INT("saturate", cast.saturate, 1), A_END};
const AttrDesc attrs_dropout[] = {A_INT("seed", dropout.seed, 0), A_END};
const AttrDesc attrs_softmax[] = {A_INT("axis", axis.axis, -1), A_END};
const AttrDesc attrs_flatten[] = {A_INT("axis", axis.axis, 1), A_END};
const AttrDesc attrs_concat[] = {A_REQ_INT("axis", axis.axis), A_END};
const AttrDesc attrs_gather[] = {A_INT("axis", axis.axis, 0), A_END};
const AttrDesc attrs_batch_norm[] = {A_FLOAT("epsilon", batch_norm.epsilon, 1e-5f),
				     A_FLOAT("momentum", batch_norm.momentum, 0.9f),
				     A_INT("training_mode", batch_norm.training_mode, 0),
				     A_INT("spatial", batch_norm.spatial, 1), A_END};
const AttrDesc attrs_layer_norm[] = {A_INT("axis", layer_norm.axis, -1), A_FLOAT("epsilon", layer_norm.epsilon, 1e-5f),
				     A_INT("stash_type", layer_norm.stash_type, 1), A_END};
const AttrDesc attrs_instance_norm[] = {A_FLOAT("epsilon", instance_norm.epsilon, 1e-5f), A_END};
const AttrDesc attrs_reduce[] = {A_INT("keepdims", reduce.keepdims, 1),
				 A_INT("noop_with_empty_axes", reduce.noop_with_empty_axes, 0), A_END};
const AttrDesc attrs_arg_reduce[] = {A_INT("axis", arg_reduce.axis, 0), A_INT("keepdims", arg_reduce.keepdims, 1),
				     A_INT("select_last_index", arg_reduce.select_last_index, 0), A_END};
const AttrDesc attrs_gemm[] = {A_FLOAT("alpha", gemm.alpha, 1.0f), A_FLOAT("beta", gemm.beta, 1.0f),
			       A_INT("transA", gemm.trans_a, 0), A_INT("transB", gemm.trans_b, 0), A_END};
#define CONV_FIELDS(p)                                                                          \
	A_ENUM("auto_pad", p.auto_pad, auto_pad_names, AUTO_PAD_NOTSET), A_INTS("dilations", p.dilations), \
		A_INT("group", p.group, 1), A_INTS("kernel_shape", p.kernel_shape),                      \
		A_INTS("output_padding", p.output_padding), A_INTS("output_shape", p.output_shape),     \
		A_INTS("pads", p.pads), A_INTS("strides", p.strides)
const AttrDesc attrs_conv[] = {CONV_FIELDS(conv), A_END};
const AttrDesc attrs_pool[] = {A_ENUM("auto_pad", pool.auto_pad, auto_pad_names, AUTO_PAD_NOTSET),
			       A_INT("ceil_mode", pool.ceil_mode, 0),
			       A_INT("count_include_pad", pool.count_include_pad, 0),
			       A_INTS("dilations", pool.dilations), A_INTS("kernel_shape", pool.kernel_shape),
			       A_INTS("pads", pool.pads), A_INT("storage_order", pool.storage_order, 0),
			       A_INTS("strides", pool.strides), A_END};
const AttrDesc attrs_reshape[] = {A_INT("allowzero", reshape.allowzero, 0), A_END};
const AttrDesc attrs_transpose[] = {A_INTS("perm", transpose.perm), A_END};
const AttrDesc attrs_split[] = {A_INT("axis", split.axis, 0), A_INT("num_outputs", split.num_outputs, 0), A_END};
const AttrDesc attrs_shape[] = {A_INT("start", shape.start, 0), A_INT("end", shape.end, INT64_MAX), A_END};
const AttrDesc attrs_constant_of_shape[] = {
	{.name = "value", .type = AT_SCALAR, .offset = offsetof(OpAttrs, constant_of_shape.value)}, A_END};
const AttrDesc attrs_pad[] = {A_ENUM("mode", pad.mode, pad_mode_names, PAD_CONSTANT), A_END};
const AttrDesc attrs_resize[] = {
	A_INT("antialias", resize.antialias, 0),
	A_ENUM("coordinate_transformation_mode", resize.coordinate_transformation_mode, coord_names, COORD_HALF_PIXEL),
	A_FLOAT("cubic_coeff_a", resize.cubic_coeff_a, -0.75f), A_INT("exclude_outside", resize.exclude_outside, 0),
	A_FLOAT("extrapolation_value", resize.extrapolation_value, 0.0f),
	A_ENUM("mode", resize.mode, resize_mode_names, RESIZE_NEAREST),
	A_ENUM("nearest_mode", resize.nearest_mode, nearest_names, NEAREST_ROUND_PREFER_FLOOR), A_END};
#define ACT_FIELDS(p)                                                                              \
	A_ENUM("activation", p.kind, act_names, ACT_NONE), A_FLOAT("act_alpha", p.alpha, 0.0f), \
		A_FLOAT("act_beta", p.beta, 0.0f)
const AttrDesc attrs_fused_conv[] = {CONV_FIELDS(fused_conv.conv), ACT_FIELDS(fused_conv.act), A_END};
const AttrDesc attrs_fused_gemm[] = {A_FLOAT("alpha", fused_gemm.gemm.alpha, 1.0f),
				     A_FLOAT("beta", fused_gemm.gemm.beta, 1.0f),
				     A_INT("transA", fused_gemm.gemm.trans_a, 0),
				     A_INT("transB", fused_gemm.gemm.trans_b, 0), ACT_FIELDS(fused_gemm.act), A_END};
/* Required, so that a dump always shows the whole series and the axis it runs along. */
const AttrDesc attrs_tasd_activation[] = {A_REQ_INT("axis", tasd_act.axis),
					  {.name = "n", .type = AT_INTS, .offset = offsetof(OpAttrs, tasd_act.n), .required = true},
					  {.name = "m", .type = AT_INTS, .offset = offsetof(OpAttrs, tasd_act.m), .required = true},
					  A_END};

#define FIELD(a, desc, type) ((type *)((char *)(a) + (desc)->offset))
#define CFIELD(a, desc, type) ((const type *)((const char *)(a) + (desc)->offset))

void attrs_init(int op, OpAttrs *a)
{
	memset(a, 0, sizeof *a);
	for (const AttrDesc *d = op_info[op].attrs; d->name; d++) {
		switch (d->type) {
		case AT_INT: *FIELD(a, d, int64_t) = d->dint; break;
		case AT_FLOAT: *FIELD(a, d, float) = d->dfloat; break;
		case AT_ENUM: *FIELD(a, d, int) = (int)d->dint; break;
		case AT_DTYPE: *FIELD(a, d, DType) = (DType)d->dint; break;
		case AT_INTS: FIELD(a, d, Ints)->n = 0; break;
		case AT_SCALAR: {
			ScalarAttr *s = FIELD(a, d, ScalarAttr);
			s->dtype = DT_F32;
			s->f = 0;
			s->i = 0;
			break;
		}
		}
	}
}

const AttrDesc *attrs_find(int op, const char *name)
{
	for (const AttrDesc *d = op_info[op].attrs; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

bool attr_is_default(const AttrDesc *d, const OpAttrs *a)
{
	switch (d->type) {
	case AT_INT: return *CFIELD(a, d, int64_t) == d->dint && !d->required;
	case AT_FLOAT: {
		float v = *CFIELD(a, d, float);
		return memcmp(&v, &d->dfloat, sizeof v) == 0;
	}
	case AT_ENUM: return *CFIELD(a, d, int) == d->dint;
	case AT_DTYPE: return false;
	case AT_INTS: return CFIELD(a, d, Ints)->n == 0;
	case AT_SCALAR: {
		const ScalarAttr *s = CFIELD(a, d, ScalarAttr);
		return s->dtype == DT_F32 && s->f == 0 && !signbit(s->f);
	}
	}
	return false;
}

static void print_float(double v, FILE *f)
{
	if (isnan(v))
		fputs("nan", f);
	else if (isinf(v))
		fputs(v < 0 ? "-inf" : "inf", f);
	else
		fprintf(f, "%.9g", v);
}

void attr_print(const AttrDesc *d, const OpAttrs *a, FILE *f)
{
	fprintf(f, "%s=", d->name);
	switch (d->type) {
	case AT_INT: fprintf(f, "%lld", (long long)*CFIELD(a, d, int64_t)); break;
	case AT_FLOAT: print_float(*CFIELD(a, d, float), f); break;
	case AT_ENUM: fputs(d->enum_names[*CFIELD(a, d, int)], f); break;
	case AT_DTYPE: fputs(dtype_name(*CFIELD(a, d, DType)), f); break;
	case AT_INTS: {
		const Ints *v = CFIELD(a, d, Ints);
		fputc('[', f);
		for (int i = 0; i < v->n; i++)
			fprintf(f, i ? ",%lld" : "%lld", (long long)v->v[i]);
		fputc(']', f);
		break;
	}
	case AT_SCALAR: {
		const ScalarAttr *s = CFIELD(a, d, ScalarAttr);
		fprintf(f, "%s:", dtype_name(s->dtype));
		if (dtype_is_float(s->dtype))
			print_float(s->f, f);
		else
			fprintf(f, "%lld", (long long)s->i);
		break;
	}
	}
}

int attr_enum_lookup(const AttrDesc *d, const char *spelling)
{
	for (int i = 0; d->enum_names[i]; i++)
		if (strcmp(d->enum_names[i], spelling) == 0)
			return i;
	return -1;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static int parse_word(const char *s, char *buf, size_t cap, const char **end)
{
	size_t n = 0;
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_') {
		if (n + 1 >= cap)
			return -1;
		buf[n++] = *s++;
	}
	buf[n] = '\0';
	*end = s;
	return n ? 0 : -1;
}

static int parse_i64(const char *s, int64_t *v, const char **end)
{
	char *e;
	long long x = strtoll(s, &e, 10);
	if (e == s)
		return -1;
	*v = x;
	*end = e;
	return 0;
}

static int parse_f64(const char *s, double *v, const char **end)
{
	char *e;
	*v = strtod(s, &e);
	if (e == s)
		return -1;
	*end = e;
	return 0;
}

int attr_parse_value(const AttrDesc *d, const char *s, const char **end, OpAttrs *a, Diag *diag)
{
	char word[64];
	s = skip_ws(s);
	switch (d->type) {
	case AT_INT:
		if (parse_i64(s, FIELD(a, d, int64_t), end) < 0)
			return diag_error(diag, "attribute %s: expected an integer", d->name);
		return 0;
	case AT_FLOAT: {
		double v;
		if (parse_f64(s, &v, end) < 0)
			return diag_error(diag, "attribute %s: expected a number", d->name);
		*FIELD(a, d, float) = (float)v;
		return 0;
	}
	case AT_ENUM: {
		int k;
		if (parse_word(s, word, sizeof word, end) < 0 || (k = attr_enum_lookup(d, word)) < 0)
			return diag_error(diag, "attribute %s: unknown value", d->name);
		*FIELD(a, d, int) = k;
		return 0;
	}
	case AT_DTYPE: {
		DType t;
		if (parse_word(s, word, sizeof word, end) < 0 || (t = dtype_from_name(word)) == DT_UNDEFINED)
			return diag_error(diag, "attribute %s: unknown dtype", d->name);
		*FIELD(a, d, DType) = t;
		return 0;
	}
	case AT_INTS: {
		Ints *v = FIELD(a, d, Ints);
		v->n = 0;
		if (*s != '[')
			return diag_error(diag, "attribute %s: expected [", d->name);
		s = skip_ws(s + 1);
		while (*s != ']') {
			if (v->n == NNZC_MAX_INTS)
				return diag_error(diag, "attribute %s: more than %d values", d->name, NNZC_MAX_INTS);
			if (parse_i64(s, &v->v[v->n++], &s) < 0)
				return diag_error(diag, "attribute %s: expected an integer", d->name);
			s = skip_ws(s);
			if (*s == ',')
				s = skip_ws(s + 1);
			else if (*s != ']')
				return diag_error(diag, "attribute %s: expected , or ]", d->name);
		}
		*end = s + 1;
		return 0;
	}
	case AT_SCALAR: {
		ScalarAttr *v = FIELD(a, d, ScalarAttr);
		if (parse_word(s, word, sizeof word, &s) < 0 || (v->dtype = dtype_from_name(word)) == DT_UNDEFINED ||
		    *s != ':')
			return diag_error(diag, "attribute %s: expected dtype:value", d->name);
		s++;
		if (dtype_is_float(v->dtype) ? parse_f64(s, &v->f, end) : parse_i64(s, &v->i, end))
			return diag_error(diag, "attribute %s: bad scalar", d->name);
		return 0;
	}
	}
	return diag_error(diag, "attribute %s: bad type", d->name);
}
