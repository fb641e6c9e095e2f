/* The ONNX writer: Graph -> an ONNX model, IR version 8, opset 17 of the default domain,
 * producer "nnzc". Constants become initializers (raw_data in their declared dtype), nodes get
 * their non-default attributes from the AttrDesc tables. Where the canonical IR form differs
 * from opset 17 it is mapped back:
 *   Reduce* other than ReduceSum: axes input -> axes attribute (must be constant)
 *   Split num_outputs (opset 18)  -> split input computed from the static input shape
 *   Pad axes input (opset 18)     -> full pads when pads/axes are constant and the rank known
 *   nnzc.FusedConv / FusedGemm    -> Conv/Gemm [+ Add(residual)] [+ activation node]
 * Things opset 17 cannot express (Resize antialias or half_pixel_symmetric, Pad mode wrap,
 * AveragePool dilations) are errors, never silently dropped, and so is nnzc.TasdActivation
 * (docs/sparsity.md, "TASD", says why it is not expanded). The file is written atomically. */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

#define EXPORT_OPSET 17
#define MAX_ATTRS 32

typedef struct Exporter {
	const Graph *g;
	Arena *a;
	Diag *d;
	Onnx__NodeProto **nodes;
	int n_nodes, cap_nodes;
	Onnx__TensorProto **inits;
	int n_inits, cap_inits;
	/* names made up here, so that two of them never collide: [0] values, [1] nodes */
	const char **gen[2];
	int n_gen[2], cap_gen[2];
} Exporter;

static void *grow(Arena *a, void *old, int n, int *cap, size_t elem)
{
	if (n < *cap)
		return old;
	int ncap = *cap ? *cap * 2 : 32;
	void *p = arena_alloc(a, (size_t)ncap * elem);
	if (old)
		memcpy(p, old, (size_t)n * elem);
	*cap = ncap;
	return p;
}

static bool generated(const Exporter *ex, const char *s, int kind)
{
	for (int i = 0; i < ex->n_gen[kind]; i++)
		if (strcmp(ex->gen[kind][i], s) == 0)
			return true;
	return false;
}

/* A value or node name derived from base that the graph does not use. */
static const char *fresh_name(Exporter *ex, const char *base, bool node)
{
	const char *cand = base;
	for (int k = 1;; k++) {
		bool taken = generated(ex, cand, node) ||
			     (node ? graph_find_node(ex->g, cand) != NULL : graph_find_value(ex->g, cand) != NULL);
		if (!taken)
			break;
		cand = arena_printf(ex->a, "%s_%d", base, k);
	}
	ex->gen[node] = grow(ex->a, ex->gen[node], ex->n_gen[node], &ex->cap_gen[node], sizeof *ex->gen[node]);
	ex->gen[node][ex->n_gen[node]++] = cand;
	return cand;
}

static Onnx__NodeProto *add_node(Exporter *ex, const char *op_type, const char *name, int n_in, const char *const *in,
				 int n_out, const char *const *out)
{
	Onnx__NodeProto *np = arena_alloc(ex->a, sizeof *np);
	onnx__node_proto__init(np);
	np->op_type = (char *)op_type;
	np->name = (char *)name;
	np->n_input = (size_t)n_in;
	np->input = arena_alloc(ex->a, (size_t)(n_in + 1) * sizeof *np->input);
	for (int i = 0; i < n_in; i++)
		np->input[i] = (char *)(in[i] ? in[i] : "");
	np->n_output = (size_t)n_out;
	np->output = arena_alloc(ex->a, (size_t)(n_out + 1) * sizeof *np->output);
	for (int i = 0; i < n_out; i++)
		np->output[i] = (char *)out[i];
	np->attribute = arena_alloc(ex->a, MAX_ATTRS * sizeof *np->attribute);
	ex->nodes = grow(ex->a, ex->nodes, ex->n_nodes, &ex->cap_nodes, sizeof *ex->nodes);
	ex->nodes[ex->n_nodes++] = np;
	return np;
}

static void add_attr(Onnx__NodeProto *np, Onnx__AttributeProto *a)
{
	if (np->n_attribute < MAX_ATTRS) /* tables have fewer than MAX_ATTRS fields */
		np->attribute[np->n_attribute++] = a;
}

static int add_table_attrs(Exporter *ex, Onnx__NodeProto *np, int op, const OpAttrs *attrs, const char *const *skip)
{
	int n = attrs_to_onnx(ex->a, op, attrs, skip, np->attribute + np->n_attribute, MAX_ATTRS - (int)np->n_attribute,
			      ex->d);
	if (n < 0)
		return -1;
	np->n_attribute += (size_t)n;
	return 0;
}

static int add_initializer(Exporter *ex, const char *name, DType dtype, const Shape *shape, const void *data)
{
	Onnx__TensorProto *tp = arena_alloc(ex->a, sizeof *tp);
	onnx__tensor_proto__init(tp);
	tp->name = (char *)name;
	if (onnx_tensor_fill(tp, ex->a, dtype, shape, data, ex->d) < 0)
		return -1;
	ex->inits = grow(ex->a, ex->inits, ex->n_inits, &ex->cap_inits, sizeof *ex->inits);
	ex->inits[ex->n_inits++] = tp;
	return 0;
}

/* A new 1-D int64 or scalar float initializer; returns its name or NULL. */
static const char *const_i64(Exporter *ex, const char *base, const int64_t *v, int n)
{
	const char *name = fresh_name(ex, base, false);
	Shape s = shape_make(1, (int64_t[]){n});
	return add_initializer(ex, name, DT_I64, &s, v) < 0 ? NULL : name;
}

static const char *const_scalar_f(Exporter *ex, const char *base, DType dtype, float v)
{
	const char *name = fresh_name(ex, base, false);
	Shape s = shape_make(0, NULL);
	return add_initializer(ex, name, dtype, &s, &v) < 0 ? NULL : name;
}

static Onnx__ValueInfoProto *value_info(Exporter *ex, const Value *v, const char *role)
{
	if (v->dtype == DT_UNDEFINED || v->shape.rank < 0) {
		diag_error(ex->d, "graph %s '%s' has no known dtype and shape (run shape inference before writing ONNX)", role,
			   v->name);
		return NULL;
	}
	Onnx__ValueInfoProto *vi = arena_alloc(ex->a, sizeof *vi);
	onnx__value_info_proto__init(vi);
	vi->name = (char *)v->name;
	Onnx__TypeProto *tp = arena_alloc(ex->a, sizeof *tp);
	onnx__type_proto__init(tp);
	Onnx__TypeProto__Tensor *tt = arena_alloc(ex->a, sizeof *tt);
	onnx__type_proto__tensor__init(tt);
	tt->has_elem_type = 1;
	tt->elem_type = dtype_to_onnx(v->dtype);
	Onnx__TensorShapeProto *sp = arena_alloc(ex->a, sizeof *sp);
	onnx__tensor_shape_proto__init(sp);
	sp->n_dim = (size_t)v->shape.rank;
	sp->dim = arena_alloc(ex->a, (size_t)(v->shape.rank + 1) * sizeof *sp->dim);
	for (int i = 0; i < v->shape.rank; i++) {
		Onnx__TensorShapeProto__Dimension *dim = arena_alloc(ex->a, sizeof *dim);
		onnx__tensor_shape_proto__dimension__init(dim);
		if (v->shape.dim[i] >= 0) {
			dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
			dim->dim_value = v->shape.dim[i];
		}
		sp->dim[i] = dim;
	}
	tt->shape = sp;
	tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp->tensor_type = tt;
	vi->type = tp;
	return vi;
}

/* ---------------------------------------------------------------- nodes */

static bool is_reduce_with_axes_attr(Op op)
{
	switch (op) {
	case OP_ReduceMean: case OP_ReduceMax: case OP_ReduceMin: case OP_ReduceProd: case OP_ReduceSumSquare:
	case OP_ReduceL1: case OP_ReduceL2: case OP_ReduceLogSumExp:
		return true;
	default:
		return false;
	}
}

/* Names of n's inputs, trailing omitted ones dropped. */
static int input_names(const Node *n, const char **names, int n_max)
{
	int k = n->n_in < n_max ? n->n_in : n_max;
	for (int i = 0; i < k; i++)
		names[i] = n->in[i] ? n->in[i]->name : "";
	while (k > 0 && names[k - 1][0] == '\0')
		k--;
	return k;
}

/* Integer values of a constant input (at most cap). */
static int const_ints(Exporter *ex, const Node *n, int i, const char *what, int64_t *v, int cap, int *count)
{
	const Value *c = n->in[i];
	if (c == NULL || c->data == NULL)
		return node_error(ex->d, n, "%s must be a constant to be written for opset %d", what, EXPORT_OPSET);
	Tensor t = value_tensor(c);
	int64_t numel = tensor_numel(&t);
	if (numel < 0 || numel > cap)
		return node_error(ex->d, n, "%s has %lld values, at most %d are supported", what, (long long)numel, cap);
	for (int64_t k = 0; k < numel; k++)
		v[k] = tensor_get_i(&t, k);
	*count = (int)numel;
	return 0;
}

static int export_activation(Exporter *ex, const Node *n, const Activation *act, const char *in, const char *out)
{
	const char *op = NULL;
	switch (act->kind) {
	case ACT_RELU: op = "Relu"; break;
	case ACT_LEAKY_RELU: op = "LeakyRelu"; break;
	case ACT_CLIP: op = "Clip"; break;
	case ACT_SIGMOID: op = "Sigmoid"; break;
	case ACT_TANH: op = "Tanh"; break;
	case ACT_HARD_SIGMOID: op = "HardSigmoid"; break;
	case ACT_HARD_SWISH: op = "HardSwish"; break;
	default: return node_error(ex->d, n, "unknown activation kind %d", act->kind);
	}
	const char *name = fresh_name(ex, arena_printf(ex->a, "%s_act", n->name), true);
	const char *ins[3] = {in, NULL, NULL};
	int n_in = 1;
	if (act->kind == ACT_CLIP) {
		DType dt = n->out[0]->dtype != DT_UNDEFINED && dtype_is_float(n->out[0]->dtype) ? n->out[0]->dtype : DT_F32;
		ins[1] = const_scalar_f(ex, arena_printf(ex->a, "%s_min", n->name), dt, act->alpha);
		ins[2] = const_scalar_f(ex, arena_printf(ex->a, "%s_max", n->name), dt, act->beta);
		if (ins[1] == NULL || ins[2] == NULL)
			return -1;
		n_in = 3;
	}
	Onnx__NodeProto *np = add_node(ex, op, name, n_in, ins, 1, &out);
	if (act->kind == ACT_LEAKY_RELU)
		add_attr(np, onnx_attr_new_float(ex->a, "alpha", act->alpha));
	if (act->kind == ACT_HARD_SIGMOID) {
		add_attr(np, onnx_attr_new_float(ex->a, "alpha", act->alpha));
		add_attr(np, onnx_attr_new_float(ex->a, "beta", act->beta));
	}
	return 0;
}

/* out = act(op(X, W, B) + R) -> op [+ Add] [+ activation] */
static int export_fused(Exporter *ex, const Node *n)
{
	bool conv = n->op == OP_FusedConv;
	const Activation *act = conv ? &n->attr.fused_conv.act : &n->attr.fused_gemm.act;
	const Value *r = n->n_in > 3 ? n->in[3] : NULL;
	bool has_act = act->kind != ACT_NONE;
	const char *final = n->out[0]->name;
	const char *cur = (r || has_act) ? fresh_name(ex, arena_printf(ex->a, "%s_%s", final, conv ? "conv" : "gemm"), false)
					 : final;
	const char *ins[3];
	int n_in = input_names(n, ins, 3);
	Onnx__NodeProto *np = add_node(ex, conv ? "Conv" : "Gemm", n->name, n_in, ins, 1, &cur);
	OpAttrs base;
	attrs_init(conv ? OP_Conv : OP_Gemm, &base);
	if (conv)
		base.conv = n->attr.fused_conv.conv;
	else
		base.gemm = n->attr.fused_gemm.gemm;
	if (add_table_attrs(ex, np, conv ? OP_Conv : OP_Gemm, &base, NULL) < 0)
		return -1;
	if (r) {
		const char *sum = has_act ? fresh_name(ex, arena_printf(ex->a, "%s_add", final), false) : final;
		const char *add_in[2] = {cur, r->name};
		add_node(ex, "Add", fresh_name(ex, arena_printf(ex->a, "%s_add", n->name), true), 2, add_in, 1, &sum);
		cur = sum;
	}
	if (has_act)
		return export_activation(ex, n, act, cur, final);
	return 0;
}

/* Pad-18's axes input -> full pads for opset 17. */
static int pad_with_axes(Exporter *ex, const Node *n, const char **ins)
{
	int rank = n->in[0]->shape.rank;
	int64_t pads[2 * NNZC_MAX_RANK], axes[NNZC_MAX_RANK], full[2 * NNZC_MAX_RANK] = {0};
	int np_, na;
	if (rank < 0)
		return node_error(ex->d, n, "the axes input needs a known input rank to be written for opset %d", EXPORT_OPSET);
	if (const_ints(ex, n, 1, "pads", pads, 2 * NNZC_MAX_RANK, &np_) < 0 ||
	    const_ints(ex, n, 3, "axes", axes, NNZC_MAX_RANK, &na) < 0)
		return -1;
	if (np_ != 2 * na)
		return node_error(ex->d, n, "pads has %d values for %d axes", np_, na);
	for (int i = 0; i < na; i++) {
		int ax;
		if (shape_axis(axes[i], rank, &ax, ex->d) < 0)
			return -1;
		full[ax] = pads[i];
		full[ax + rank] = pads[i + na];
	}
	ins[1] = const_i64(ex, arena_printf(ex->a, "%s_pads", n->name), full, 2 * rank);
	return ins[1] ? 0 : -1;
}

static int export_node(Exporter *ex, const Node *n)
{
	if (n->op == OP_FusedConv || n->op == OP_FusedGemm)
		return export_fused(ex, n);
	if (n->op == OP_TasdActivation)
		return node_error(ex->d, n, "activation TASD cannot be written as ONNX: emit the model without tasd-activations");
	const char *ins[64];
	const char **in = n->n_in <= 64 ? ins : arena_alloc(ex->a, (size_t)n->n_in * sizeof *in);
	int n_in = input_names(n, in, n->n_in);
	const char **outs = arena_alloc(ex->a, (size_t)(n->n_out + 1) * sizeof *outs);
	for (int i = 0; i < n->n_out; i++)
		outs[i] = n->out[i]->name;
	const char *skip[4] = {NULL};
	Onnx__AttributeProto *extra[2] = {NULL, NULL};
	int n_extra = 0;
	const char *op_type = op_name(n->op);

	if (is_reduce_with_axes_attr(n->op)) {
		skip[0] = "noop_with_empty_axes";
		if (n_in >= 2) {
			int64_t axes[NNZC_MAX_RANK];
			int na;
			if (const_ints(ex, n, 1, "axes", axes, NNZC_MAX_RANK, &na) < 0)
				return -1;
			n_in = 1;
			if (na > 0)
				extra[n_extra++] = onnx_attr_new_ints(ex->a, "axes", axes, na);
			else if (n->attr.reduce.noop_with_empty_axes)
				op_type = "Identity"; /* empty axes with noop: the input unchanged */
		} else if (n->attr.reduce.noop_with_empty_axes) {
			op_type = "Identity";
		}
	}
	switch (n->op) {
	case OP_Split:
		skip[0] = "num_outputs";
		if (n->attr.split.num_outputs > 0) {
			const Shape *s = &n->in[0]->shape;
			int ax;
			if (s->rank < 0 || shape_axis(n->attr.split.axis, s->rank, &ax, ex->d) < 0 || s->dim[ax] < 0)
				return node_error(ex->d, n, "num_outputs needs a known input dim on the split axis to be written for opset %d",
						  EXPORT_OPSET);
			int64_t k = n->attr.split.num_outputs, dim = s->dim[ax], chunk = (dim + k - 1) / k;
			if (k != n->n_out || k > 4096 || chunk * (k - 1) > dim)
				return node_error(ex->d, n, "cannot split %lld into %lld outputs", (long long)dim, (long long)k);
			int64_t *sizes = arena_alloc(ex->a, (size_t)k * sizeof *sizes);
			for (int64_t i = 0; i < k; i++)
				sizes[i] = i < k - 1 ? chunk : dim - chunk * (k - 1);
			in[1] = const_i64(ex, arena_printf(ex->a, "%s_split", n->name), sizes, (int)k);
			if (in[1] == NULL)
				return -1;
			n_in = 2;
		}
		break;
	case OP_Resize:
		if (n->attr.resize.antialias != 0)
			return node_error(ex->d, n, "antialias=1 cannot be written for opset %d", EXPORT_OPSET);
		if (n->attr.resize.coordinate_transformation_mode == COORD_HALF_PIXEL_SYMMETRIC)
			return node_error(ex->d, n, "coordinate_transformation_mode half_pixel_symmetric cannot be written for opset %d",
					  EXPORT_OPSET);
		skip[0] = "antialias";
		break;
	case OP_Cast:
		skip[0] = "saturate"; /* opset 19, float8 only */
		break;
	case OP_BatchNormalization:
		if (n->attr.batch_norm.spatial != 1)
			return node_error(ex->d, n, "spatial=%lld cannot be written", (long long)n->attr.batch_norm.spatial);
		skip[0] = "spatial";
		break;
	case OP_Pad:
		if (n->attr.pad.mode == PAD_WRAP)
			return node_error(ex->d, n, "mode wrap cannot be written for opset %d", EXPORT_OPSET);
		if (n_in >= 4) {
			if (pad_with_axes(ex, n, in) < 0)
				return -1;
			n_in = 3;
			while (n_in > 0 && in[n_in - 1][0] == '\0')
				n_in--;
		}
		break;
	case OP_AveragePool: {
		const Ints *dl = &n->attr.pool.dilations;
		for (int i = 0; i < dl->n; i++)
			if (dl->v[i] != 1)
				return node_error(ex->d, n, "dilations cannot be written for opset %d", EXPORT_OPSET);
		skip[0] = "dilations";
		skip[1] = "storage_order";
		break;
	}
	default:
		break;
	}
	Onnx__NodeProto *np = add_node(ex, op_type, n->name, n_in, in, n->n_out, outs);
	if (strcmp(op_type, "Identity") == 0)
		return 0;
	if (add_table_attrs(ex, np, n->op, &n->attr, skip) < 0)
		return -1;
	for (int i = 0; i < n_extra; i++)
		add_attr(np, extra[i]);
	return 0;
}

/* ---------------------------------------------------------------- the model */

/* Initializers for the graph's constants that the written nodes or outputs use (a Reduce
 * axes input that became an attribute is not written), before the ones made up here. */
static int add_graph_constants(Exporter *ex)
{
	const Graph *g = ex->g;
	bool *used = calloc((size_t)g->n_values + 1, 1);
	if (used == NULL)
		return diag_error(ex->d, "out of memory");
	for (int i = 0; i < ex->n_nodes; i++)
		for (size_t k = 0; k < ex->nodes[i]->n_input; k++) {
			const Value *v = graph_find_value(g, ex->nodes[i]->input[k]);
			if (v)
				used[v->id] = true;
		}
	for (int i = 0; i < g->n_outputs; i++)
		used[g->outputs[i]->id] = true;
	Onnx__TensorProto **made = ex->inits;
	int n_made = ex->n_inits;
	ex->inits = NULL;
	ex->n_inits = ex->cap_inits = 0;
	int rc = 0;
	for (int i = 0; i < g->n_values && rc == 0; i++) {
		const Value *v = g->values[i];
		if (!value_is_const(v) || !used[v->id])
			continue;
		if (v->data == NULL)
			rc = diag_error(ex->d, "constant '%s' has no data (elided in a dump); it cannot be written", v->name);
		else
			rc = add_initializer(ex, v->name, v->dtype, &v->shape, v->data);
	}
	for (int i = 0; i < n_made && rc == 0; i++) {
		ex->inits = grow(ex->a, ex->inits, ex->n_inits, &ex->cap_inits, sizeof *ex->inits);
		ex->inits[ex->n_inits++] = made[i];
	}
	free(used);
	return rc;
}

static int build_model(Exporter *ex, Onnx__ModelProto *m, Onnx__GraphProto *gp)
{
	const Graph *g = ex->g;
	for (int i = 0; i < g->n_nodes; i++)
		if (!g->nodes[i]->dead && export_node(ex, g->nodes[i]) < 0)
			return -1;
	if (add_graph_constants(ex) < 0)
		return -1;
	gp->n_input = (size_t)g->n_inputs;
	gp->input = arena_alloc(ex->a, (size_t)(g->n_inputs + 1) * sizeof *gp->input);
	for (int i = 0; i < g->n_inputs; i++)
		if ((gp->input[i] = value_info(ex, g->inputs[i], "input")) == NULL)
			return -1;
	gp->n_output = (size_t)g->n_outputs;
	gp->output = arena_alloc(ex->a, (size_t)(g->n_outputs + 1) * sizeof *gp->output);
	for (int i = 0; i < g->n_outputs; i++)
		if ((gp->output[i] = value_info(ex, g->outputs[i], "output")) == NULL)
			return -1;
	gp->name = (char *)(g->name ? g->name : "graph");
	gp->n_node = (size_t)ex->n_nodes;
	gp->node = ex->nodes;
	gp->n_initializer = (size_t)ex->n_inits;
	gp->initializer = ex->inits;

	m->has_ir_version = 1;
	m->ir_version = 8;
	m->producer_name = "nnzc";
	m->producer_version = "0.1";
	Onnx__OperatorSetIdProto *os = arena_alloc(ex->a, sizeof *os);
	onnx__operator_set_id_proto__init(os);
	os->domain = "";
	os->has_version = 1;
	os->version = EXPORT_OPSET;
	m->n_opset_import = 1;
	m->opset_import = arena_alloc(ex->a, sizeof *m->opset_import);
	m->opset_import[0] = os;
	m->graph = gp;
	return 0;
}

int onnx_export(const Graph *g, const char *path, Diag *d)
{
	Exporter ex = {.g = g, .a = arena_new(), .d = d};
	Onnx__ModelProto m;
	Onnx__GraphProto gp;
	onnx__model_proto__init(&m);
	onnx__graph_proto__init(&gp);
	int rc = build_model(&ex, &m, &gp);
	if (rc == 0) {
		size_t len = onnx__model_proto__get_packed_size(&m);
		uint8_t *buf = malloc(len ? len : 1);
		if (buf == NULL) {
			rc = diag_error(d, "%s: cannot allocate %zu bytes for the model", path, len);
		} else {
			onnx__model_proto__pack(&m, buf);
			rc = outfile_write_all(path, buf, len, d);
			free(buf);
		}
	} else {
		char prefix[512];
		snprintf(prefix, sizeof prefix, "%s: ", path);
		diag_prefix(d, prefix);
	}
	arena_free(ex.a);
	return rc;
}
