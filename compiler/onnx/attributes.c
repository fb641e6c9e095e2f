/* ONNX AttributeProto <-> OpAttrs, driven by each op's AttrDesc table (compiler/attrs.c), so
 * that no op needs attribute code of its own in the frontend or the writer. */
#include "onnx_internal.h"

#include <string.h>

#define AT(x) ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__##x

const Onnx__AttributeProto *onnx_attr_find(const Onnx__NodeProto *np, const char *name)
{
	for (size_t i = 0; i < np->n_attribute; i++)
		if (np->attribute[i]->name && strcmp(np->attribute[i]->name, name) == 0)
			return np->attribute[i];
	return NULL;
}

int onnx_attr_type(const Onnx__AttributeProto *a)
{
	if (a->has_type && a->type != AT(UNDEFINED))
		return a->type;
	/* IR version 1 files have no type field: the populated field says it */
	if (a->has_f) return AT(FLOAT);
	if (a->has_i) return AT(INT);
	if (a->has_s) return AT(STRING);
	if (a->t) return AT(TENSOR);
	if (a->g) return AT(GRAPH);
	if (a->sparse_tensor) return AT(SPARSE_TENSOR);
	if (a->n_floats) return AT(FLOATS);
	if (a->n_ints) return AT(INTS);
	if (a->n_strings) return AT(STRINGS);
	if (a->n_tensors) return AT(TENSORS);
	if (a->n_graphs) return AT(GRAPHS);
	return AT(UNDEFINED);
}

const char *onnx_attr_type_name(int type)
{
	switch (type) {
	case AT(FLOAT): return "FLOAT";
	case AT(INT): return "INT";
	case AT(STRING): return "STRING";
	case AT(TENSOR): return "TENSOR";
	case AT(GRAPH): return "GRAPH";
	case AT(SPARSE_TENSOR): return "SPARSE_TENSOR";
	case AT(TYPE_PROTO): return "TYPE_PROTO";
	case AT(FLOATS): return "FLOATS";
	case AT(INTS): return "INTS";
	case AT(STRINGS): return "STRINGS";
	case AT(TENSORS): return "TENSORS";
	case AT(GRAPHS): return "GRAPHS";
	case AT(SPARSE_TENSORS): return "SPARSE_TENSORS";
	case AT(TYPE_PROTOS): return "TYPE_PROTOS";
	default: return "UNDEFINED";
	}
}

static int want_type(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, int want)
{
	int type = onnx_attr_type(a);
	if (type != want)
		return build_error(im, b, "attribute '%s' has type %s, expected %s", a->name, onnx_attr_type_name(type),
				   onnx_attr_type_name(want));
	return 0;
}

int attr_get_string(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, char *buf, size_t cap)
{
	if (want_type(im, b, a, AT(STRING)) < 0)
		return -1;
	if (a->s.len >= cap || (a->s.len && memchr(a->s.data, '\0', a->s.len)))
		return build_error(im, b, "attribute '%s' has an invalid value", a->name);
	if (a->s.len)
		memcpy(buf, a->s.data, a->s.len);
	buf[a->s.len] = '\0';
	return 0;
}

int attr_get_ints(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, int64_t *v, int cap, int *n)
{
	if (want_type(im, b, a, AT(INTS)) < 0)
		return -1;
	if (a->n_ints > (size_t)cap)
		return build_error(im, b, "attribute '%s' has %zu values, at most %d are supported", a->name, a->n_ints, cap);
	for (size_t i = 0; i < a->n_ints; i++)
		v[i] = a->ints[i];
	*n = (int)a->n_ints;
	return 0;
}

int attr_get_floats(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, float *v, int cap, int *n)
{
	if (want_type(im, b, a, AT(FLOATS)) < 0)
		return -1;
	if (a->n_floats > (size_t)cap)
		return build_error(im, b, "attribute '%s' has %zu values, at most %d are supported", a->name, a->n_floats,
				   cap);
	for (size_t i = 0; i < a->n_floats; i++)
		v[i] = a->floats[i];
	*n = (int)a->n_floats;
	return 0;
}

int attr_get_float(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, float *v)
{
	if (want_type(im, b, a, AT(FLOAT)) < 0)
		return -1;
	*v = a->f;
	return 0;
}

/* A one-element TENSOR attribute (ConstantOfShape's value). */
static int scalar_from_tensor(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, ScalarAttr *s)
{
	char label[300];
	snprintf(label, sizeof label, "node '%.100s' (%.60s): attribute '%.60s'", b->name, b->np->op_type, a->name);
	if (a->t == NULL)
		return diag_error(im->d, "%s: has no tensor", label);
	OnnxTensorInfo info;
	int rc = onnx_tensor_info(a->t, label, im->dir, &info, im->d);
	if (rc == 0 && info.numel != 1)
		rc = diag_error(im->d, "%s: must hold one element, has %lld", label, (long long)info.numel);
	union { float f; int64_t i; } v = {0};
	if (rc == 0)
		rc = onnx_tensor_load(a->t, label, &info, &v, im->d);
	onnx_tensor_info_done(&info);
	if (rc < 0)
		return -1;
	s->dtype = info.dtype;
	s->f = dtype_is_float(info.dtype) ? v.f : 0;
	s->i = dtype_is_float(info.dtype) ? 0 : v.i;
	return 0;
}

int attr_from_onnx(Importer *im, NodeBuild *b, const AttrDesc *desc, const Onnx__AttributeProto *a)
{
	void *field = (char *)&b->attr + desc->offset;
	switch (desc->type) {
	case AT_INT:
		if (want_type(im, b, a, AT(INT)) < 0)
			return -1;
		*(int64_t *)field = a->i;
		return 0;
	case AT_FLOAT:
		return attr_get_float(im, b, a, field);
	case AT_INTS: {
		Ints *v = field;
		if (want_type(im, b, a, AT(INTS)) < 0)
			return -1;
		if (a->n_ints > NNZC_MAX_INTS)
			return build_error(im, b, "attribute '%s' has %zu values, at most %d are supported", a->name,
					   a->n_ints, NNZC_MAX_INTS);
		return attr_get_ints(im, b, a, v->v, NNZC_MAX_INTS, &v->n);
	}
	case AT_ENUM: {
		char s[64];
		if (attr_get_string(im, b, a, s, sizeof s) < 0)
			return -1;
		int k = attr_enum_lookup(desc, s);
		if (k < 0) {
			char list[512];
			size_t len = 0;
			list[0] = '\0';
			for (int i = 0; desc->enum_names[i] && len < sizeof list; i++)
				len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", desc->enum_names[i]);
			return build_error(im, b, "attribute '%s' has value '%s', expected one of: %s", a->name, s, list);
		}
		*(int *)field = k;
		return 0;
	}
	case AT_DTYPE: {
		if (want_type(im, b, a, AT(INT)) < 0)
			return -1;
		DType t = a->i >= 0 && a->i <= 1000 ? dtype_from_onnx((int)a->i) : DT_UNDEFINED;
		if (t == DT_UNDEFINED)
			return build_error(im, b, "attribute '%s': data type %s (%lld) is not supported", a->name,
					   dtype_onnx_name(a->i >= 0 && a->i <= 1000 ? (int)a->i : -1), (long long)a->i);
		*(DType *)field = t;
		return 0;
	}
	case AT_SCALAR:
		if (want_type(im, b, a, AT(TENSOR)) < 0)
			return -1;
		return scalar_from_tensor(im, b, a, field);
	}
	return build_error(im, b, "attribute '%s': internal error: bad descriptor", a->name);
}

/* ---------------------------------------------------------------- export */

static Onnx__AttributeProto *attr_new(Arena *a, const char *name, int type)
{
	Onnx__AttributeProto *p = arena_alloc(a, sizeof *p);
	onnx__attribute_proto__init(p);
	p->name = (char *)name;
	p->has_type = 1;
	p->type = type;
	return p;
}

Onnx__AttributeProto *onnx_attr_new_int(Arena *a, const char *name, int64_t v)
{
	Onnx__AttributeProto *p = attr_new(a, name, AT(INT));
	p->has_i = 1;
	p->i = v;
	return p;
}

Onnx__AttributeProto *onnx_attr_new_float(Arena *a, const char *name, float v)
{
	Onnx__AttributeProto *p = attr_new(a, name, AT(FLOAT));
	p->has_f = 1;
	p->f = v;
	return p;
}

Onnx__AttributeProto *onnx_attr_new_ints(Arena *a, const char *name, const int64_t *v, int n)
{
	Onnx__AttributeProto *p = attr_new(a, name, AT(INTS));
	p->n_ints = (size_t)n;
	p->ints = arena_alloc(a, (size_t)(n + 1) * sizeof *p->ints);
	for (int i = 0; i < n; i++)
		p->ints[i] = v[i];
	return p;
}

Onnx__AttributeProto *onnx_attr_new_string(Arena *a, const char *name, const char *s)
{
	Onnx__AttributeProto *p = attr_new(a, name, AT(STRING));
	p->has_s = 1;
	p->s.len = strlen(s);
	p->s.data = (uint8_t *)arena_strdup(a, s);
	return p;
}

int attrs_to_onnx(Arena *a, int op, const OpAttrs *attrs, const char *const *skip, Onnx__AttributeProto **out,
		  int cap, Diag *d)
{
	int n = 0;
	for (const AttrDesc *desc = op_info[op].attrs; desc->name; desc++) {
		bool skipped = false;
		for (int k = 0; skip && skip[k]; k++)
			if (strcmp(skip[k], desc->name) == 0)
				skipped = true;
		if (skipped || attr_is_default(desc, attrs))
			continue;
		if (n == cap)
			return diag_error(d, "%s: too many attributes", op_name(op));
		const void *field = (const char *)attrs + desc->offset;
		switch (desc->type) {
		case AT_INT: out[n++] = onnx_attr_new_int(a, desc->name, *(const int64_t *)field); break;
		case AT_FLOAT: out[n++] = onnx_attr_new_float(a, desc->name, *(const float *)field); break;
		case AT_INTS: {
			const Ints *v = field;
			out[n++] = onnx_attr_new_ints(a, desc->name, v->v, v->n);
			break;
		}
		case AT_ENUM: out[n++] = onnx_attr_new_string(a, desc->name, desc->enum_names[*(const int *)field]); break;
		case AT_DTYPE: out[n++] = onnx_attr_new_int(a, desc->name, dtype_to_onnx(*(const DType *)field)); break;
		case AT_SCALAR: {
			const ScalarAttr *s = field;
			Onnx__AttributeProto *p = attr_new(a, desc->name, AT(TENSOR));
			p->t = arena_alloc(a, sizeof *p->t);
			onnx__tensor_proto__init(p->t);
			Shape one = shape_make(1, (int64_t[]){1});
			union { float f; int64_t i; } v;
			if (dtype_is_float(s->dtype))
				v.f = (float)s->f;
			else
				v.i = s->i;
			if (onnx_tensor_fill(p->t, a, s->dtype, &one, &v, d) < 0)
				return -1;
			out[n++] = p;
			break;
		}
		}
	}
	return n;
}
