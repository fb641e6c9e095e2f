/* The IR verifier: run by the pipeline after every pass and by the text parser on what it
 * built, so that a pass that breaks the graph is caught at the pass, not three passes later.
 *
 * Structure (always): value and node ids equal their positions; no dead nodes are left; names
 * are present, unique and found by the name maps; every node output is produced by that node
 * and by no other; every node input is a graph input, a constant or the output of an earlier
 * node (topological order); arity is within the op table's limits and required inputs are
 * present; graph inputs have no producer and no payload; graph outputs are defined; constants
 * have a static shape and a payload or an elided checksum; dtypes, shapes, encodings and
 * attribute values are in range (so that the printer can print them and the parser read them);
 * an encoded constant with a payload has a packed form of its encoding that decodes to exactly
 * that payload, made for the matrix view of every node that reads it as a weight.
 *
 * Types (where known): each node whose inputs all have dtypes is inferred again on a scratch
 * copy, and its stored output dtypes and shapes must agree with the inferred ones wherever both
 * are known. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

#define ENC_PARAM_MAX 65536 /* as in compiler/encoding.c: what encoding_parse accepts */

static bool in_values(const Graph *g, const Value *v)
{
	return v->id >= 0 && v->id < g->n_values && g->values[v->id] == v;
}

static bool in_nodes(const Graph *g, const Node *n)
{
	return n->id >= 0 && n->id < g->n_nodes && g->nodes[n->id] == n;
}

static bool param_ok(int x) { return x >= 1 && x <= ENC_PARAM_MAX; }

static bool encoding_ok(const Encoding *e)
{
	switch (e->kind) {
	case ENC_DENSE:
	case ENC_CSR: return true;
	case ENC_BSR: return param_ok(e->u.bsr.r) && param_ok(e->u.bsr.c);
	case ENC_NM: return param_ok(e->u.nm.n) && param_ok(e->u.nm.m) && e->u.nm.n <= e->u.nm.m;
	case ENC_GS: return param_ok(e->u.gs.v) && param_ok(e->u.gs.b);
	case ENC_TASD:
		if (e->u.tasd.nterms < 1 || e->u.tasd.nterms > NNZC_MAX_TASD_TERMS)
			return false;
		for (int i = 0; i < e->u.tasd.nterms; i++)
			if (!param_ok(e->u.tasd.term[i].n) || !param_ok(e->u.tasd.term[i].m) ||
			    e->u.tasd.term[i].n > e->u.tasd.term[i].m)
				return false;
		return true;
	}
	return false;
}

static bool encoding_equal(const Encoding *a, const Encoding *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case ENC_DENSE:
	case ENC_CSR: return true;
	case ENC_BSR: return a->u.bsr.r == b->u.bsr.r && a->u.bsr.c == b->u.bsr.c;
	case ENC_NM: return a->u.nm.n == b->u.nm.n && a->u.nm.m == b->u.nm.m;
	case ENC_GS: return a->u.gs.v == b->u.gs.v && a->u.gs.b == b->u.gs.b;
	case ENC_TASD:
		if (a->u.tasd.nterms != b->u.tasd.nterms)
			return false;
		for (int i = 0; i < a->u.tasd.nterms; i++)
			if (a->u.tasd.term[i].n != b->u.tasd.term[i].n || a->u.tasd.term[i].m != b->u.tasd.term[i].m)
				return false;
		return true;
	}
	return false;
}

/* An encoded constant with a payload carries a packed form that decodes to exactly that payload
 * (the interpreter computes from one, folding and export read the other); without a payload
 * (elided in a dump) there is nothing to pack and nothing to check. Activations may carry an
 * encoding (a promise about their values) but never a packed form. */
static int check_packed(const Value *v, Diag *d)
{
	const SparseData *s = v->sparse;
	if (s == NULL) {
		if (v->enc.kind != ENC_DENSE && v->data != NULL)
			return diag_error(d, "constant '%s' is encoded but has no packed form (use sparse_attach)", v->name);
		return 0;
	}
	if (v->data == NULL || !dtype_is_float(v->dtype))
		return diag_error(d, "value '%s' has a packed form but no float payload", v->name);
	if (!encoding_equal(&s->enc, &v->enc) || v->enc.kind == ENC_DENSE)
		return diag_error(d, "value '%s': its packed form is of another encoding than the value's", v->name);
	int64_t numel = shape_numel(&v->shape), pn;
	if (!mul_ok_i64(s->view.rows, s->view.cols, &pn) || pn != numel)
		return diag_error(d, "value '%s': its packed form is a %lld x %lld matrix, the value has %lld elements",
				  v->name, (long long)s->view.rows, (long long)s->view.cols, (long long)numel);
	float *dense = malloc((size_t)(numel ? numel : 1) * sizeof *dense);
	if (dense == NULL)
		return diag_error(d, "out of memory");
	sparse_decode(s, dense);
	const float *p = v->data;
	int64_t bad = -1;
	for (int64_t i = 0; i < numel && bad < 0; i++)
		if (!(dense[i] == p[i] || (p[i] != p[i] && dense[i] != dense[i]))) /* NaN == NaN here */
			bad = i;
	float got = bad >= 0 ? dense[bad] : 0.0f;
	free(dense);
	if (bad >= 0)
		return diag_error(d, "value '%s': its packed form decodes to %.9g at element %lld, the payload holds %.9g"
				  " (was the payload changed without re-packing?)",
				  v->name, (double)got, (long long)bad, (double)p[bad]);
	return 0;
}

/* A packed weight is read through the matrix view of every node that uses it as its weight. */
static int check_weight_views(const Node *n, Diag *d)
{
	WeightView view;
	const Value *w = n->n_in > 1 ? n->in[1] : NULL;
	if (w == NULL || w->sparse == NULL || !weight_view(n, 1, &view))
		return 0;
	const WeightView *s = &w->sparse->view;
	if (!weight_view_equal(&view, s))
		return node_error(d, n, "weight '%s' was packed for another matrix view than this node reads", w->name);
	return 0;
}

static int check_value(const Graph *g, const Value *v, int i, Diag *d)
{
	if (v == NULL)
		return diag_error(d, "value #%d is NULL", i);
	if (v->name == NULL || v->name[0] == '\0')
		return diag_error(d, "value #%d has no name", i);
	if (v->id != i)
		return diag_error(d, "value '%s' has id %d but is at position %d", v->name, v->id, i);
	const Value *found = graph_find_value(g, v->name);
	if (found != v)
		return diag_error(d, found ? "two values are named '%s'" : "value '%s' is missing from the name map",
				  v->name);
	if ((unsigned)v->dtype >= DT_COUNT)
		return diag_error(d, "value '%s' has an invalid dtype %d", v->name, (int)v->dtype);
	if (v->shape.rank < -1 || v->shape.rank > NNZC_MAX_RANK)
		return diag_error(d, "value '%s' has an invalid rank %d", v->name, v->shape.rank);
	for (int k = 0; k < v->shape.rank; k++)
		if (v->shape.dim[k] < -1)
			return diag_error(d, "value '%s' has an invalid dimension %lld", v->name, (long long)v->shape.dim[k]);
	if (shape_numel(&v->shape) == -2) /* every later size computation would overflow too */
		return diag_error(d, "value '%s' has a shape whose element count overflows", v->name);
	if (!encoding_ok(&v->enc))
		return diag_error(d, "value '%s' has an invalid encoding", v->name);
	if (value_is_const(v)) {
		if (v->producer)
			return diag_error(d, "value '%s' is produced by node '%s' but also has a constant payload", v->name,
					  v->producer->name ? v->producer->name : "?");
		if (v->dtype == DT_UNDEFINED)
			return diag_error(d, "constant '%s' has no dtype", v->name);
		int64_t numel = shape_numel(&v->shape);
		if (numel < 0)
			return diag_error(d, "constant '%s' has no static shape or its size overflows", v->name);
		if (v->data == NULL && (v->elided->nnz < 0 || v->elided->nnz > numel))
			return diag_error(d, "constant '%s' claims %lld non-zeros in %lld elements", v->name,
					  (long long)v->elided->nnz, (long long)numel);
	}
	return check_packed(v, d);
}

/* After the nodes are known to be sound: a value's producer lists it among its outputs. */
static int check_producer(const Graph *g, const Value *v, Diag *d)
{
	const Node *p = v->producer;
	if (p == NULL)
		return 0;
	if (!in_nodes(g, p))
		return diag_error(d, "value '%s' names a producer that is not a node of the graph", v->name);
	for (int k = 0; k < p->n_out; k++)
		if (p->out[k] == v)
			return 0;
	return diag_error(d, "value '%s' names node '%s' as its producer, but is not one of its outputs", v->name,
			  p->name);
}

static int check_attrs(const Node *n, Diag *d)
{
	for (const AttrDesc *a = op_info[n->op].attrs; a->name; a++) {
		const char *p = (const char *)&n->attr + a->offset;
		switch (a->type) {
		case AT_ENUM: {
			int v, count = 0;
			memcpy(&v, p, sizeof v);
			while (a->enum_names[count])
				count++;
			if (v < 0 || v >= count)
				return node_error(d, n, "attribute %s has an invalid value %d", a->name, v);
			break;
		}
		case AT_DTYPE: {
			DType t;
			memcpy(&t, p, sizeof t);
			if ((unsigned)t >= DT_COUNT || t == DT_UNDEFINED)
				return node_error(d, n, "attribute %s is not a dtype", a->name);
			break;
		}
		case AT_SCALAR: {
			ScalarAttr s;
			memcpy(&s, p, sizeof s);
			if ((unsigned)s.dtype >= DT_COUNT || s.dtype == DT_UNDEFINED)
				return node_error(d, n, "attribute %s has no dtype", a->name);
			break;
		}
		case AT_INTS: {
			Ints v;
			memcpy(&v, p, sizeof v);
			if (v.n < 0 || v.n > NNZC_MAX_INTS)
				return node_error(d, n, "attribute %s has an invalid length %d", a->name, v.n);
			break;
		}
		case AT_INT:
		case AT_FLOAT: break;
		}
	}
	return 0;
}

/* defined[v->id]: v may be used from here on. */
static int check_node(const Graph *g, const Node *n, int i, bool *defined, Diag *d)
{
	if (n == NULL)
		return diag_error(d, "node #%d is NULL", i);
	if ((unsigned)n->op >= OP_COUNT)
		return diag_error(d, "node #%d has an invalid op %d", i, (int)n->op);
	if (n->name == NULL || n->name[0] == '\0')
		return diag_error(d, "node #%d (%s) has no name", i, op_name(n->op));
	if (n->id != i)
		return node_error(d, n, "has id %d but is at position %d", n->id, i);
	if (n->dead)
		return node_error(d, n, "is dead but still in the graph (graph_compact was not run)");
	const Node *found = graph_find_node(g, n->name);
	if (found != n)
		return node_error(d, n, found ? "another node has the same name" : "is missing from the node name map");
	const OpInfo *info = &op_info[n->op];
	if (n->n_in < info->min_in || (info->max_in >= 0 && n->n_in > info->max_in))
		return node_error(d, n, "takes %d..%d inputs, has %d", info->min_in, info->max_in, n->n_in);
	if (n->n_out < info->min_out || (info->max_out >= 0 && n->n_out > info->max_out))
		return node_error(d, n, "takes %d..%d outputs, has %d", info->min_out, info->max_out, n->n_out);
	for (int k = 0; k < n->n_in; k++) {
		const Value *v = n->in[k];
		if (v == NULL) {
			if (k < info->min_in)
				return node_error(d, n, "required input %d is missing", k);
			continue;
		}
		if (!in_values(g, v))
			return node_error(d, n, "input %d ('%s') is not a value of the graph", k, v->name ? v->name : "?");
		if (defined[v->id])
			continue;
		if (v->producer)
			return node_error(d, n, "input '%s' is produced by node '%s', which comes later (not in topological order)",
					  v->name, v->producer->name);
		return node_error(d, n, "input '%s' is not a graph input, a constant or the output of an earlier node",
				  v->name);
	}
	for (int k = 0; k < n->n_out; k++) {
		const Value *v = n->out[k];
		if (v == NULL)
			return node_error(d, n, "output %d is NULL", k);
		if (!in_values(g, v))
			return node_error(d, n, "output %d ('%s') is not a value of the graph", k, v->name ? v->name : "?");
		if (v->producer != n)
			return node_error(d, n, "output '%s' names another producer", v->name);
		if (defined[v->id])
			return node_error(d, n, "output '%s' is defined twice", v->name);
		defined[v->id] = true;
	}
	if (check_weight_views(n, d) < 0)
		return -1;
	return check_attrs(n, d);
}

static int verify_structure(const Graph *g, Diag *d)
{
	for (int i = 0; i < g->n_values; i++)
		if (check_value(g, g->values[i], i, d) < 0)
			return -1;
	bool *defined = calloc((size_t)g->n_values + 1, 1);
	if (defined == NULL)
		return diag_error(d, "out of memory");
	int rc = -1;
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		if (v == NULL || !in_values(g, v)) {
			diag_error(d, "graph input #%d is not a value of the graph", i);
			goto out;
		}
		if (v->producer || value_is_const(v)) {
			diag_error(d, "graph input '%s' has a %s", v->name, v->producer ? "producer" : "constant payload");
			goto out;
		}
		if (defined[v->id]) {
			diag_error(d, "graph input '%s' is listed twice", v->name);
			goto out;
		}
		defined[v->id] = true;
	}
	for (int i = 0; i < g->n_values; i++)
		if (value_is_const(g->values[i]))
			defined[i] = true;
	for (int i = 0; i < g->n_nodes; i++)
		if (check_node(g, g->nodes[i], i, defined, d) < 0)
			goto out;
	for (int i = 0; i < g->n_values; i++)
		if (check_producer(g, g->values[i], d) < 0)
			goto out;
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		if (v == NULL || !in_values(g, v)) {
			diag_error(d, "graph output #%d is not a value of the graph", i);
			goto out;
		}
		if (!defined[v->id]) {
			diag_error(d, "graph output '%s' is not defined by an input, a constant or a node", v->name);
			goto out;
		}
	}
	rc = 0;
out:
	free(defined);
	return rc;
}

static void type_str(const Value *v, char *buf, size_t cap)
{
	char s[160];
	snprintf(buf, cap, "%s%s", dtype_name(v->dtype), shape_str(&v->shape, s, sizeof s));
}

/* Does the stored type of `have` agree with the inferred `want` where both are known? */
static bool types_agree(const Value *have, const Value *want)
{
	if (have->dtype != DT_UNDEFINED && want->dtype != DT_UNDEFINED && have->dtype != want->dtype)
		return false;
	if (have->shape.rank < 0 || want->shape.rank < 0)
		return true;
	if (have->shape.rank != want->shape.rank)
		return false;
	for (int i = 0; i < have->shape.rank; i++)
		if (have->shape.dim[i] >= 0 && want->shape.dim[i] >= 0 && have->shape.dim[i] != want->shape.dim[i])
			return false;
	return true;
}

/* Infer n again on copies of its inputs and outputs, never touching the graph. */
static int check_node_types(const Node *n, Diag *d)
{
	for (int i = 0; i < n->n_in; i++)
		if (n->in[i] && n->in[i]->dtype == DT_UNDEFINED)
			return 0; /* nothing to check against until shape inference has run */
	Value *vin = calloc((size_t)n->n_in + 1, sizeof *vin);
	Value *vout = calloc((size_t)n->n_out + 1, sizeof *vout);
	Value **pin = calloc((size_t)n->n_in + 1, sizeof *pin);
	Value **pout = calloc((size_t)n->n_out + 1, sizeof *pout);
	int rc = -1;
	if (!vin || !vout || !pin || !pout) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < n->n_in; i++)
		if (n->in[i]) {
			vin[i] = *n->in[i];
			pin[i] = &vin[i];
		}
	for (int i = 0; i < n->n_out; i++) {
		vout[i] = *n->out[i];
		vout[i].dtype = DT_UNDEFINED;
		vout[i].shape = shape_unknown();
		vout[i].data = NULL;
		vout[i].elided = NULL;
		pout[i] = &vout[i];
	}
	Node scratch = *n;
	scratch.in = pin;
	scratch.out = pout;
	Diag tmp = {0};
	if (infer_node(&scratch, &tmp) < 0) {
		diag_error(d, "%s (inferring it again from its stored inputs)", tmp.msg);
		goto out;
	}
	for (int i = 0; i < n->n_out; i++)
		if (!types_agree(n->out[i], &vout[i])) {
			char have[192], want[192];
			type_str(n->out[i], have, sizeof have);
			type_str(&vout[i], want, sizeof want);
			node_error(d, n, "output '%s' is stored as %s but its inputs give %s", n->out[i]->name, have, want);
			goto out;
		}
	rc = 0;
out:
	free(vin);
	free(vout);
	free(pin);
	free(pout);
	return rc;
}

int graph_verify(const Graph *g, Diag *d)
{
	if (verify_structure(g, d) < 0)
		return -1;
	for (int i = 0; i < g->n_nodes; i++)
		if (check_node_types(g->nodes[i], d) < 0)
			return -1;
	return 0;
}
