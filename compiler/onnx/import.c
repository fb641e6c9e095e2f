/* The ONNX frontend: a model file -> a Graph in the canonical form of ops.def.
 *
 * Order of work, chosen so that every error is found where it can be named best:
 *   1. parse (wire check first: hostile nesting never reaches protobuf-c's recursion)
 *   2. unsupported op types, all of them in one message (DIAG_UNSUPPORTED); then the opset
 *   3. declare every name the file defines: initializers (decoded), graph inputs, node outputs;
 *      a name defined twice is an error; --input-shape applied, inputs must then be static
 *   4. Constant nodes become constants
 *   5. every other node: inputs resolved, attributes through the AttrDesc table, then the
 *      opset canonicalisation (canonicalize.c); helper values are created only now, so they
 *      can never take a name that the file uses
 *   6. graph outputs, topological sort (files need not be sorted; cycles are errors)
 * Errors get the model path as prefix once, at the end. */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

#define OPSET_MIN 7
#define OPSET_MAX 21
#define KIND_CONSTANT (-2)
#define KIND_UPSAMPLE (-3)
#define KIND_UNSUPPORTED (-1)
/* Far above any real node; keeps hostile files from making the per-node checks quadratic. */
#define MAX_NODE_ARITY 65536
#define MAX_NODE_ATTRS 256
#define MAX_UNSUPPORTED_TYPES 32

static bool default_domain(const char *dom) { return dom == NULL || dom[0] == '\0' || strcmp(dom, "ai.onnx") == 0; }

static const char *op_type_of(const Onnx__NodeProto *np) { return np->op_type ? np->op_type : ""; }

/* Op id for a node, or KIND_* for the types the frontend rewrites or does not know. */
static int node_kind(const Onnx__NodeProto *np)
{
	if (!default_domain(np->domain))
		return KIND_UNSUPPORTED;
	const char *t = op_type_of(np);
	if (strcmp(t, "Constant") == 0)
		return KIND_CONSTANT;
	if (strcmp(t, "Upsample") == 0)
		return KIND_UPSAMPLE;
	if (strncmp(t, "nnzc.", 5) == 0) /* internal ops never come from files */
		return KIND_UNSUPPORTED;
	return op_from_name(t);
}

static char *node_display_name(Arena *a, const Onnx__NodeProto *np, int index)
{
	if (np->name && np->name[0])
		return arena_strdup(a, np->name);
	return arena_printf(a, "%s_%d", op_type_of(np), index);
}

int build_error(Importer *im, const NodeBuild *b, const char *fmt, ...)
{
	char body[1536];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	return diag_error(im->d, "node '%s' (%s): %s", b->name, op_type_of(b->np), body);
}

/* ---------------------------------------------------------------- helpers for canonicalize.c */

Value *import_const_i64(Importer *im, const char *name, const int64_t *v, int n)
{
	Shape s = shape_make(1, (int64_t[]){n});
	Value *c = graph_add_constant(im->g, name, DT_I64, &s, im->d);
	if (c)
		memcpy(c->data, v, (size_t)n * sizeof *v);
	return c;
}

Value *import_const_f(Importer *im, const char *name, DType dtype, const float *v, int n, bool rank0)
{
	Shape s = rank0 ? shape_make(0, NULL) : shape_make(1, (int64_t[]){n});
	Value *c = graph_add_constant(im->g, name, dtype, &s, im->d);
	if (c) {
		memcpy(c->data, v, (size_t)n * sizeof *v);
		dtype_round(dtype, c->data, (size_t)n);
	}
	return c;
}

void build_push_input(Importer *im, NodeBuild *b, Value *v)
{
	if (b->n_in == b->cap_in) {
		int cap = b->cap_in ? 2 * b->cap_in : 4;
		Value **p = arena_alloc(im->g->arena, (size_t)cap * sizeof *p);
		if (b->n_in)
			memcpy(p, b->in, (size_t)b->n_in * sizeof *p);
		b->in = p;
		b->cap_in = cap;
	}
	b->in[b->n_in++] = v;
}

Node *import_helper(Importer *im, Op op, const char *name, int n_in, Value *const *in, int n_out)
{
	return graph_add_node(im->g, op, name, n_in, in, n_out);
}

static int check_arity(Importer *im, NodeBuild *b)
{
	const OpInfo *oi = &op_info[b->op];
	while (b->n_in > 0 && b->in[b->n_in - 1] == NULL)
		b->n_in--; /* trailing omitted optional inputs */
	if (b->n_in < oi->min_in || (oi->max_in >= 0 && b->n_in > oi->max_in)) {
		if (oi->max_in < 0)
			return build_error(im, b, "has %d inputs, expects at least %d", b->n_in, oi->min_in);
		return build_error(im, b, "has %d inputs, expects %d to %d", b->n_in, oi->min_in, oi->max_in);
	}
	for (int i = 0; i < oi->min_in; i++)
		if (b->in[i] == NULL)
			return build_error(im, b, "required input %d is empty", i);
	if (b->n_out < oi->min_out || (oi->max_out >= 0 && b->n_out > oi->max_out)) {
		if (oi->max_out < 0)
			return build_error(im, b, "has %d outputs, expects at least %d", b->n_out, oi->min_out);
		return build_error(im, b, "has %d outputs, nnzc supports %d to %d", b->n_out, oi->min_out, oi->max_out);
	}
	return 0;
}

Node *import_emit(Importer *im, NodeBuild *b)
{
	if (check_arity(im, b) < 0)
		return NULL;
	Node *n = graph_add_node(im->g, b->op, b->name, b->n_in, b->in, 0);
	n->n_out = b->n_out;
	n->out = b->out;
	for (int i = 0; i < b->n_out; i++)
		b->out[i]->producer = n;
	n->attr = b->attr;
	b->emitted = true;
	return n;
}

/* ---------------------------------------------------------------- unsupported ops */

typedef struct Unsupported {
	const char *op_type, *domain;
	int64_t opset;
	int count;
	const char *names[6];
} Unsupported;

static int64_t domain_opset(const Onnx__ModelProto *m, const char *domain)
{
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const Onnx__OperatorSetIdProto *o = m->opset_import[i];
		bool same = default_domain(domain) ? default_domain(o->domain) : (o->domain && strcmp(o->domain, domain) == 0);
		if (same)
			return o->has_version ? o->version : 1;
	}
	return -1;
}

static int report_unsupported(Importer *im, const Onnx__ModelProto *m, const Onnx__GraphProto *gp)
{
	Unsupported *u = NULL;
	int nu = 0;
	long more_types = 0; /* nodes of op types beyond the first MAX_UNSUPPORTED_TYPES */
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		if (node_kind(np) != KIND_UNSUPPORTED)
			continue;
		const char *dom = default_domain(np->domain) ? "" : np->domain;
		int k;
		for (k = 0; k < nu; k++)
			if (strcmp(u[k].op_type, op_type_of(np)) == 0 && strcmp(u[k].domain, dom) == 0)
				break;
		if (k == nu && nu == MAX_UNSUPPORTED_TYPES) {
			more_types++;
			continue;
		}
		if (k == nu) {
			Unsupported *p = realloc(u, (size_t)(nu + 1) * sizeof *u);
			if (p == NULL) {
				free(u);
				return diag_error(im->d, "out of memory");
			}
			u = p;
			memset(&u[nu], 0, sizeof u[nu]);
			u[nu].op_type = op_type_of(np);
			u[nu].domain = dom;
			u[nu].opset = domain_opset(m, dom);
			nu++;
		}
		if (u[k].count < 6)
			u[k].names[u[k].count] = node_display_name(im->g->arena, np, (int)i);
		u[k].count++;
	}
	if (nu == 0)
		return 0;
	char msg[1900];
	size_t len = 0;
#define PUT(...) \
	do { \
		if (len < sizeof msg) \
			len += (size_t)snprintf(msg + len, sizeof msg - len, __VA_ARGS__); \
	} while (0)
	PUT("unsupported ops: ");
	for (int k = 0; k < nu; k++) {
		PUT("%s%s (", k ? ", " : "", u[k].op_type[0] ? u[k].op_type : "<empty op_type>");
		if (u[k].domain[0])
			PUT("domain '%s', ", u[k].domain);
		PUT("%s ", u[k].count > 1 ? "nodes" : "node");
		int shown = u[k].count < 6 ? u[k].count : 6;
		for (int j = 0; j < shown; j++)
			PUT("%s'%s'", j ? ", " : "", u[k].names[j]);
		if (u[k].count > shown)
			PUT(" and %d more", u[k].count - shown);
		if (u[k].opset >= 0)
			PUT(", opset %lld)", (long long)u[k].opset);
		else
			PUT(", no opset import)");
	}
	if (more_types)
		PUT(", and %ld more nodes of other op types", more_types);
#undef PUT
	free(u);
	if (len >= sizeof msg)
		memcpy(msg + sizeof msg - 5, "...", 4);
	return diag_unsupported(im->d, "%s", msg);
}

/* ---------------------------------------------------------------- declarations */

/* What defined each file name, for "defined twice" messages (indexed by value id). */
typedef struct Defs {
	int *node; /* -1: initializer, -2: graph input, >= 0: node index */
	int cap;
} Defs;

static const char *def_what(const Importer *im, const Onnx__GraphProto *gp, const Defs *defs, const Value *v)
{
	int k = v->id < defs->cap ? defs->node[v->id] : -3;
	if (k == -1)
		return "an initializer";
	if (k == -2)
		return "a graph input";
	if (k >= 0)
		return arena_printf(im->g->arena, "node '%s'", node_display_name(im->g->arena, gp->node[k], k));
	return "something else";
}

static Value *file_value(const Importer *im, const char *name)
{
	Value *v = graph_find_value(im->g, name);
	return v && v->id < im->n_declared ? v : NULL;
}

static int declare_initializers(Importer *im, const Onnx__GraphProto *gp, Defs *defs)
{
	if (gp->n_sparse_initializer)
		return diag_error(im->d, "sparse initializers are not supported");
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const Onnx__TensorProto *tp = gp->initializer[i];
		if (tp->name == NULL || tp->name[0] == '\0')
			return diag_error(im->d, "initializer %zu has no name", i);
		if (graph_find_value(im->g, tp->name))
			return diag_error(im->d, "initializer '%s' is defined twice", tp->name);
		char label[300];
		snprintf(label, sizeof label, "initializer '%.256s'", tp->name);
		OnnxTensorInfo info;
		int rc = onnx_tensor_info(tp, label, im->dir, &info, im->d);
		Value *v = NULL;
		if (rc == 0) {
			v = graph_add_constant(im->g, tp->name, info.dtype, &info.shape, im->d);
			rc = v ? onnx_tensor_load(tp, label, &info, v->data, im->d) : -1;
		}
		onnx_tensor_info_done(&info);
		if (rc < 0)
			return -1;
		defs->node[v->id] = -1;
	}
	return 0;
}

/* Graph inputs that are not initializers (IR >= 4 may list initializers among the inputs). */
static int declare_inputs(Importer *im, const Onnx__GraphProto *gp, Defs *defs)
{
	for (size_t i = 0; i < gp->n_input; i++) {
		const Onnx__ValueInfoProto *vi = gp->input[i];
		if (vi->name == NULL || vi->name[0] == '\0')
			return diag_error(im->d, "graph input %zu has no name", i);
		Value *old = graph_find_value(im->g, vi->name);
		if (old && value_is_const(old))
			continue;
		if (old)
			return diag_error(im->d, "graph input '%s' is listed twice", vi->name);
		const Onnx__TypeProto *tp = vi->type;
		if (tp == NULL || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || tp->tensor_type == NULL)
			return diag_error(im->d, "graph input '%s' is not a tensor (sequences, maps, optionals and sparse tensors are not supported)",
					  vi->name);
		const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
		int et = tt->has_elem_type ? tt->elem_type : 0;
		DType dt = dtype_from_onnx(et);
		if (dt == DT_UNDEFINED)
			return diag_error(im->d, "graph input '%s': data type %s (%d) is not supported", vi->name,
					  dtype_onnx_name(et), et);
		Shape s = shape_unknown();
		if (tt->shape) {
			if (tt->shape->n_dim > NNZC_MAX_RANK)
				return diag_error(im->d, "graph input '%s': rank %zu exceeds the maximum of %d", vi->name,
						  tt->shape->n_dim, NNZC_MAX_RANK);
			s = shape_make((int)tt->shape->n_dim, NULL);
			for (size_t k = 0; k < tt->shape->n_dim; k++) {
				const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[k];
				if (dim->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
					continue; /* dim_param or nothing: unknown */
				if (dim->dim_value < 0)
					return diag_error(im->d, "graph input '%s': dim %zu is negative (%lld)", vi->name, k,
							  (long long)dim->dim_value);
				s.dim[k] = dim->dim_value;
			}
		}
		Value *v = graph_add_value(im->g, vi->name, dt, &s);
		graph_add_input(im->g, v);
		defs->node[v->id] = -2;
	}
	return 0;
}

static const Onnx__ValueInfoProto *input_info(const Onnx__GraphProto *gp, const char *name)
{
	for (size_t i = 0; i < gp->n_input; i++)
		if (strcmp(gp->input[i]->name, name) == 0)
			return gp->input[i];
	return NULL;
}

/* The shape of actual input data fixes the dims the model leaves unknown, where it agrees with
 * the known ones; a mismatch is left for the run-time input check to report. */
static void fit_data_shape(Value *v, const Shape *s)
{
	bool fits = !shape_is_static(&v->shape) && (v->shape.rank < 0 || v->shape.rank == s->rank);
	for (int k = 0; fits && v->shape.rank >= 0 && k < s->rank; k++)
		fits = v->shape.dim[k] < 0 || v->shape.dim[k] == s->dim[k];
	if (fits)
		v->shape = *s;
}

static int apply_input_shapes(Importer *im, const Onnx__GraphProto *gp, const ImportOptions *opt)
{
	char sb[128], sb2[128];
	Graph *g = im->g;
	for (int i = 0; opt && i < opt->n_input_shapes; i++) {
		const InputShape *is = &opt->input_shapes[i];
		const char *nm = is->name ? is->name : "";
		Value *v = graph_find_value(g, nm);
		if (v && value_is_const(v) && v->id < im->n_declared)
			return diag_error(im->d, "--input-shape for '%s': '%s' is an initializer, not a graph input", nm, nm);
		if (v == NULL || !graph_is_input(g, v)) {
			char list[512];
			size_t len = 0;
			list[0] = '\0';
			for (int k = 0; k < g->n_inputs && len < sizeof list; k++)
				len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", k ? ", " : "", g->inputs[k]->name);
			return diag_error(im->d, "--input-shape for '%s': the model has no input named '%s' (its inputs: %s)", nm, nm,
					  g->n_inputs ? list : "none");
		}
		for (int k = 0; k < i; k++)
			if (opt->input_shapes[k].name && strcmp(opt->input_shapes[k].name, nm) == 0)
				return diag_error(im->d, "--input-shape for '%s': given twice", nm);
		if (is->shape.rank < 0 || is->shape.rank > NNZC_MAX_RANK)
			return diag_error(im->d, "--input-shape for '%s': bad rank %d", nm, is->shape.rank);
		if (v->shape.rank >= 0 && v->shape.rank != is->shape.rank)
			return diag_error(im->d, "--input-shape for '%s': rank %d given, the model says %s (rank %d)", nm,
					  is->shape.rank, shape_str(&v->shape, sb, sizeof sb), v->shape.rank);
		for (int k = 0; k < is->shape.rank; k++) {
			if (is->shape.dim[k] < 0)
				return diag_error(im->d, "--input-shape for '%s': dim %d is negative", nm, k);
			if (v->shape.rank >= 0 && v->shape.dim[k] >= 0 && v->shape.dim[k] != is->shape.dim[k])
				return diag_error(im->d, "--input-shape for '%s': %s conflicts with the model's %s at dim %d", nm,
						  shape_str(&is->shape, sb, sizeof sb), shape_str(&v->shape, sb2, sizeof sb2), k);
		}
		if (shape_numel(&is->shape) < 0)
			return diag_error(im->d, "--input-shape for '%s': the element count of %s overflows", nm,
					  shape_str(&is->shape, sb, sizeof sb));
		v->shape = is->shape;
	}
	for (int i = 0; opt && i < g->n_inputs && i < opt->n_data_shapes; i++)
		fit_data_shape(g->inputs[i], &opt->data_shapes[i]);
	for (int i = 0; opt && i < opt->n_named_data_shapes; i++) {
		const InputShape *is = &opt->named_data_shapes[i];
		Value *v = is->name ? graph_find_value(g, is->name) : NULL;
		if (v && graph_is_input(g, v))
			fit_data_shape(v, &is->shape); /* an unknown name is for the run to report */
	}
	/* every later stage works on static shapes */
	for (int i = 0; i < g->n_inputs; i++) {
		Value *v = g->inputs[i];
		if (v->shape.rank < 0)
			return diag_error(im->d, "graph input '%s' has no shape in the model; give it with --input-shape %s=D0,D1,...",
					  v->name, v->name);
		for (int k = 0; k < v->shape.rank; k++) {
			if (v->shape.dim[k] >= 0)
				continue;
			/* an unknown dim can only come from the model's own shape, never from --input-shape */
			const Onnx__ValueInfoProto *vi = input_info(gp, v->name);
			const Onnx__TensorShapeProto *sp = vi ? vi->type->tensor_type->shape : NULL;
			const char *sym = NULL;
			if (sp && (size_t)k < sp->n_dim &&
			    sp->dim[k]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
			    sp->dim[k]->dim_param && sp->dim[k]->dim_param[0])
				sym = sp->dim[k]->dim_param;
			char hint[256];
			size_t len = 0;
			for (int j = 0; j < v->shape.rank && len < sizeof hint; j++) {
				if (v->shape.dim[j] >= 0)
					len += (size_t)snprintf(hint + len, sizeof hint - len, j ? ",%lld" : "%lld",
								(long long)v->shape.dim[j]);
				else
					len += (size_t)snprintf(hint + len, sizeof hint - len, j ? ",D%d" : "D%d", j);
			}
			if (sym)
				return diag_error(im->d, "graph input '%s': dim %d ('%s') is not fixed; give the shape with --input-shape %s=%s",
						  v->name, k, sym, v->name, hint);
			return diag_error(im->d, "graph input '%s': dim %d is not fixed; give the shape with --input-shape %s=%s",
					  v->name, k, v->name, hint);
		}
		if (shape_numel(&v->shape) < 0)
			return diag_error(im->d, "graph input '%s': the element count of %s overflows", v->name,
					  shape_str(&v->shape, sb, sizeof sb));
	}
	return 0;
}

/* Declare every node output name; remember each node's output list (arena). */
static int declare_node_outputs(Importer *im, const Onnx__GraphProto *gp, Defs *defs, Value ***outs, int *n_outs)
{
	for (size_t i = 0; i < gp->n_node; i++) {
		const Onnx__NodeProto *np = gp->node[i];
		if (np->n_input > MAX_NODE_ARITY || np->n_output > MAX_NODE_ARITY || np->n_attribute > MAX_NODE_ATTRS)
			return diag_error(im->d, "node '%s' has %zu inputs, %zu outputs and %zu attributes: too many",
					  node_display_name(im->g->arena, np, (int)i), np->n_input, np->n_output,
					  np->n_attribute);
		int n = (int)np->n_output;
		while (n > 0 && (np->output[n - 1] == NULL || np->output[n - 1][0] == '\0'))
			n--; /* trailing omitted optional outputs */
		outs[i] = arena_alloc(im->g->arena, (size_t)(n + 1) * sizeof **outs);
		n_outs[i] = n;
		for (int k = 0; k < n; k++) {
			const char *nm = np->output[k];
			if (nm == NULL || nm[0] == '\0')
				continue; /* an omitted output before a present one: made anonymous later */
			Value *old = graph_find_value(im->g, nm);
			if (old)
				return diag_error(im->d, "value '%s' is defined twice: by %s and by node '%s'", nm,
						  def_what(im, gp, defs, old), node_display_name(im->g->arena, np, (int)i));
			Value *v = graph_add_value(im->g, nm, DT_UNDEFINED, NULL);
			defs->node[v->id] = (int)i;
			outs[i][k] = v;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- Constant nodes */

static int import_constant(Importer *im, NodeBuild *b)
{
	const Onnx__NodeProto *np = b->np;
	for (size_t i = 0; i < np->n_input; i++)
		if (np->input[i] && np->input[i][0])
			return build_error(im, b, "has inputs, Constant takes none");
	if (b->n_out != 1 || b->out[0] == NULL)
		return build_error(im, b, "must have exactly one output");
	if (np->n_attribute != 1)
		return build_error(im, b, "must have exactly one attribute (value, value_float(s) or value_int(s)), has %zu",
				   np->n_attribute);
	const Onnx__AttributeProto *a = np->attribute[0];
	const char *an = a->name ? a->name : "";
	Value *v = b->out[0];
	int type = onnx_attr_type(a);
	if (strcmp(an, "value") == 0) {
		if (type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR || a->t == NULL)
			return build_error(im, b, "attribute 'value' has type %s, expected TENSOR", onnx_attr_type_name(type));
		char label[300];
		snprintf(label, sizeof label, "node '%.200s' (Constant): attribute 'value'", b->name);
		OnnxTensorInfo info;
		int rc = onnx_tensor_info(a->t, label, im->dir, &info, im->d);
		if (rc == 0) {
			v->dtype = info.dtype;
			v->shape = info.shape;
			rc = value_alloc_payload(im->g, v, im->d) ? onnx_tensor_load(a->t, label, &info, v->data, im->d) : -1;
		}
		onnx_tensor_info_done(&info);
		return rc;
	}
	bool is_float = strcmp(an, "value_float") == 0 || strcmp(an, "value_floats") == 0;
	bool is_int = strcmp(an, "value_int") == 0 || strcmp(an, "value_ints") == 0;
	if (!is_float && !is_int) {
		if (strcmp(an, "sparse_value") == 0 || strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0)
			return build_error(im, b, "a Constant with attribute '%s' is not supported", an);
		return build_error(im, b, "unknown attribute '%s'", an);
	}
	bool list = an[strlen(an) - 1] == 's';
	int want = is_float ? (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
			    : (list ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
	if (type != want)
		return build_error(im, b, "attribute '%s' has type %s, expected %s", an, onnx_attr_type_name(type),
				   onnx_attr_type_name(want));
	size_t n = list ? (is_float ? a->n_floats : a->n_ints) : 1;
	v->dtype = is_float ? DT_F32 : DT_I64;
	v->shape = list ? shape_make(1, (int64_t[]){(int64_t)n}) : shape_make(0, NULL);
	if (value_alloc_payload(im->g, v, im->d) == NULL)
		return -1;
	if (is_float)
		memcpy(v->data, list ? a->floats : &a->f, n * sizeof(float));
	else
		memcpy(v->data, list ? a->ints : &a->i, n * sizeof(int64_t));
	return 0;
}

/* ---------------------------------------------------------------- ordinary nodes */

static int read_attributes(Importer *im, NodeBuild *b)
{
	const Onnx__NodeProto *np = b->np;
	for (size_t i = 0; i < np->n_attribute; i++) {
		const Onnx__AttributeProto *a = np->attribute[i];
		if (a->name == NULL || a->name[0] == '\0')
			return build_error(im, b, "attribute %zu has no name", i);
		if (a->ref_attr_name && a->ref_attr_name[0])
			return build_error(im, b, "attribute '%s' refers to a function attribute, which is only valid inside functions",
					   a->name);
		for (size_t k = 0; k < i; k++)
			if (strcmp(np->attribute[k]->name, a->name) == 0)
				return build_error(im, b, "attribute '%s' is given twice", a->name);
		AttrRole role = canon_attr_role(b, im->opset, a->name);
		if (role != ATTR_TABLE)
			continue;
		const AttrDesc *desc = attrs_find(b->op, a->name);
		if (desc == NULL)
			return build_error(im, b, "unknown attribute '%s' (opset %lld)", a->name, (long long)im->opset);
		if (attr_from_onnx(im, b, desc, a) < 0)
			return -1;
	}
	for (const AttrDesc *desc = op_info[b->op].attrs; desc->name; desc++)
		if (desc->required && onnx_attr_find(np, desc->name) == NULL)
			return build_error(im, b, "missing required attribute '%s'", desc->name);
	return 0;
}

static int import_node(Importer *im, NodeBuild *b, int kind)
{
	const Onnx__NodeProto *np = b->np;
	b->op = kind == KIND_UPSAMPLE ? OP_Resize : (Op)kind;
	attrs_init(b->op, &b->attr);
	int n_in = (int)np->n_input;
	while (n_in > 0 && (np->input[n_in - 1] == NULL || np->input[n_in - 1][0] == '\0'))
		n_in--;
	for (int i = 0; i < n_in; i++) {
		const char *nm = np->input[i];
		if (nm == NULL || nm[0] == '\0') {
			build_push_input(im, b, NULL);
			continue;
		}
		Value *v = file_value(im, nm);
		if (v == NULL)
			return build_error(im, b, "input '%s' is not defined (no graph input, initializer or node output has that name)",
					   nm);
		build_push_input(im, b, v);
	}
	for (int i = 0; i < b->n_out; i++)
		if (b->out[i] == NULL)
			b->out[i] = graph_add_value(im->g, arena_printf(im->g->arena, "%s:%d", b->name, i), DT_UNDEFINED, NULL);
	if (read_attributes(im, b) < 0 || canon_node(im, b) < 0)
		return -1;
	if (!b->emitted && import_emit(im, b) == NULL)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- the model */

static int default_opset(Importer *im, const Onnx__ModelProto *m)
{
	int64_t v = domain_opset(m, "");
	if (v < 0)
		return diag_error(im->d, "the model imports no opset of the default domain (ai.onnx)");
	if (v < OPSET_MIN || v > OPSET_MAX)
		return diag_error(im->d, "opset %lld of the default domain is not supported (nnzc reads opsets %d to %d)",
				  (long long)v, OPSET_MIN, OPSET_MAX);
	im->opset = v;
	return 0;
}

static int import_graph(Importer *im, const Onnx__ModelProto *m, const ImportOptions *opt)
{
	const Onnx__GraphProto *gp = m->graph;
	/* unsupported op types first: a model of another domain only (training ops, ai.onnx.ml)
	 * imports no default opset at all, and what it lacks is those ops */
	if (report_unsupported(im, m, gp) < 0 || default_opset(im, m) < 0)
		return -1;
	if (gp->n_node > (size_t)INT32_MAX / 4)
		return diag_error(im->d, "too many nodes");
	size_t n_names = gp->n_initializer + gp->n_input + 1;
	for (size_t i = 0; i < gp->n_node; i++)
		n_names += gp->node[i]->n_output;
	Defs defs = {calloc(n_names, sizeof(int)), (int)n_names};
	Value ***outs = calloc(gp->n_node + 1, sizeof *outs);
	int *n_outs = calloc(gp->n_node + 1, sizeof *n_outs);
	int rc = -1;
	if (defs.node == NULL || outs == NULL || n_outs == NULL || n_names > INT32_MAX) {
		diag_error(im->d, "out of memory");
		goto out;
	}
	if (declare_initializers(im, gp, &defs) < 0 || declare_inputs(im, gp, &defs) < 0)
		goto out;
	im->n_declared = im->g->n_values;
	if (apply_input_shapes(im, gp, opt) < 0 || declare_node_outputs(im, gp, &defs, outs, n_outs) < 0)
		goto out;
	im->n_declared = im->g->n_values;

	/* Constants first: canonicalisation may look at their payloads whatever the file order */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < gp->n_node; i++) {
			const Onnx__NodeProto *np = gp->node[i];
			int kind = node_kind(np);
			if ((kind == KIND_CONSTANT) != (pass == 0))
				continue;
			NodeBuild b = {.np = np, .index = (int)i, .out = outs[i], .n_out = n_outs[i]};
			b.name = node_display_name(im->g->arena, np, (int)i);
			if (kind == KIND_CONSTANT ? import_constant(im, &b) : import_node(im, &b, kind))
				goto out;
		}
	}

	for (size_t i = 0; i < gp->n_output; i++) {
		const char *nm = gp->output[i]->name;
		Value *v = nm && nm[0] ? file_value(im, nm) : NULL;
		if (v == NULL) {
			diag_error(im->d, "graph output '%s' is not a graph input, initializer or node output", nm ? nm : "");
			goto out;
		}
		graph_add_output(im->g, v);
	}
	if (gp->n_output == 0) {
		diag_error(im->d, "the graph has no outputs");
		goto out;
	}
	/* a graph of constants only has no nodes to sort (and graph_toposort would memcpy
	 * into a NULL node array) */
	rc = im->g->n_nodes ? graph_toposort(im->g, im->d) : 0;
out:
	free(defs.node);
	free(outs);
	free(n_outs);
	return rc;
}

Graph *onnx_import_buffer(const uint8_t *buf, size_t len, const char *path, const ImportOptions *opt, Diag *d)
{
	const char *label = path ? path : "<buffer>";
	if (buf == NULL || len == 0) {
		diag_error(d, "%s: file is empty", label);
		return NULL;
	}
	Onnx__ModelProto *m = NULL;
	if (onnx_wire_ok(&onnx__model_proto__descriptor, buf, len))
		m = onnx__model_proto__unpack(NULL, len, buf);
	if (m == NULL) {
		diag_error(d, "%s: not a valid ONNX model (protobuf parse failed)", label);
		return NULL;
	}
	if (m->graph == NULL) {
		onnx__model_proto__free_unpacked(m, NULL);
		diag_error(d, "%s: not a valid ONNX model (no graph)", label);
		return NULL;
	}
	Importer im = {.path = label, .d = d};
	im.g = graph_new(m->graph->name && m->graph->name[0] ? m->graph->name : "graph");
	im.g->source = arena_strdup(im.g->arena, label);
	char *dir = path ? onnx_dirname(path) : NULL;
	im.dir = dir;
	int rc = path && dir == NULL ? diag_error(d, "out of memory") : import_graph(&im, m, opt);
	im.g->opset = im.opset;
	free(dir);
	onnx__model_proto__free_unpacked(m, NULL);
	if (rc < 0) {
		size_t n = strlen(label);
		if (strncmp(d->msg, label, n) != 0 || d->msg[n] != ':') {
			char prefix[512];
			snprintf(prefix, sizeof prefix, "%s: ", label);
			diag_prefix(d, prefix);
		}
		graph_free(im.g);
		return NULL;
	}
	return im.g;
}

Graph *onnx_import(const char *path, const ImportOptions *opt, Diag *d)
{
	uint8_t *buf;
	size_t len;
	if (onnx_read_file(path, &buf, &len, d) < 0)
		return NULL;
	Graph *g = onnx_import_buffer(buf, len, path, opt, d);
	free(buf);
	return g;
}
