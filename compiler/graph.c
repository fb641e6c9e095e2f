/* Graph construction and editing: values, nodes, unique names, use counts, topological order. */
#include "nnzc/ir.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Open-addressing map from name to pointer, in the graph's arena. */
typedef struct NameMap {
	Arena *arena;
	size_t cap, count;
	const char **keys;
	void **vals;
} NameMap;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static NameMap *map_new(Arena *a, size_t cap)
{
	NameMap *m = arena_alloc(a, sizeof *m);
	m->arena = a;
	m->cap = cap;
	m->keys = arena_alloc(a, cap * sizeof *m->keys);
	m->vals = arena_alloc(a, cap * sizeof *m->vals);
	return m;
}

static void *map_get(const NameMap *m, const char *key)
{
	for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == NULL)
			return NULL;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

static void map_put(NameMap *m, const char *key, void *val)
{
	if (2 * (m->count + 1) > m->cap) {
		NameMap *bigger = map_new(m->arena, m->cap * 2);
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				map_put(bigger, m->keys[i], m->vals[i]);
		*m = *bigger;
	}
	size_t i = hash_str(key) & (m->cap - 1);
	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == NULL)
		m->count++;
	m->keys[i] = key;
	m->vals[i] = val;
}

Graph *graph_new(const char *name)
{
	Arena *a = arena_new();
	Graph *g = arena_alloc(a, sizeof *g);
	g->arena = a;
	g->name = arena_strdup(a, name ? name : "graph");
	g->source = "";
	g->names = map_new(a, 256);
	g->node_names = map_new(a, 256);
	return g;
}

void graph_free(Graph *g)
{
	if (g)
		arena_free(g->arena);
}

static void *grow(Arena *a, void *old, int n, int *cap, size_t elem)
{
	if (n < *cap)
		return old;
	int ncap = *cap ? *cap * 2 : 64;
	void *p = arena_alloc(a, (size_t)ncap * elem);
	if (old)
		memcpy(p, old, (size_t)n * elem);
	*cap = ncap;
	return p;
}

static const char *unique_name(Graph *g, NameMap *m, const char *base, const char *fallback, int counter)
{
	if (base == NULL || base[0] == '\0')
		base = arena_printf(g->arena, "%s%d", fallback, counter);
	if (map_get(m, base) == NULL)
		return arena_strdup(g->arena, base);
	for (int k = 1;; k++) {
		char *cand = arena_printf(g->arena, "%s_%d", base, k);
		if (map_get(m, cand) == NULL)
			return cand;
	}
}

Value *graph_add_value(Graph *g, const char *name, DType dtype, const Shape *shape)
{
	Value *v = arena_alloc(g->arena, sizeof *v);
	v->id = g->n_values;
	v->name = unique_name(g, g->names, name, "t", g->n_values);
	v->dtype = dtype;
	v->shape = shape ? *shape : shape_unknown();
	v->enc.kind = ENC_DENSE;
	g->values = grow(g->arena, g->values, g->n_values, &g->cap_values, sizeof *g->values);
	g->values[g->n_values++] = v;
	map_put(g->names, v->name, v);
	return v;
}

void *value_alloc_payload(Graph *g, Value *v, Diag *d)
{
	int64_t n = shape_numel(&v->shape);
	if (n < 0) {
		diag_error(d, "constant '%s': shape is not static or its size overflows", v->name);
		return NULL;
	}
	void *p = arena_alloc_data(g->arena, (size_t)n, dtype_compute_size(v->dtype));
	if (p == NULL) {
		diag_error(d, "constant '%s': cannot allocate %lld elements", v->name, (long long)n);
		return NULL;
	}
	v->data = p;
	v->elided = NULL;
	/* a pack (and its encoding) describes the old payload: kept, it would outlive a rewrite */
	v->sparse = NULL;
	v->enc = (Encoding){.kind = ENC_DENSE};
	return p;
}

Value *graph_add_constant(Graph *g, const char *name, DType dtype, const Shape *shape, Diag *d)
{
	Value *v = graph_add_value(g, name, dtype, shape);
	if (value_alloc_payload(g, v, d) == NULL)
		return NULL;
	return v;
}

int value_set_constant(Graph *g, Value *v, const Tensor *t, Diag *d)
{
	v->dtype = t->dtype;
	v->shape = t->shape;
	void *p = value_alloc_payload(g, v, d);
	if (p == NULL)
		return -1;
	memcpy(p, t->data, tensor_nbytes(t));
	v->enc.kind = ENC_DENSE;
	v->producer = NULL;
	return 0;
}

static Node *new_node(Graph *g, Op op, const char *name, int n_in, Value *const *in, int n_out)
{
	Node *n = arena_alloc(g->arena, sizeof *n);
	n->op = op;
	n->name = unique_name(g, g->node_names, name, op_name(op), g->n_nodes);
	map_put(g->node_names, n->name, n);
	n->n_in = n_in;
	n->in = arena_alloc(g->arena, (size_t)(n_in ? n_in : 1) * sizeof *n->in);
	for (int i = 0; i < n_in; i++)
		n->in[i] = in ? in[i] : NULL;
	n->n_out = n_out;
	n->out = arena_alloc(g->arena, (size_t)(n_out ? n_out : 1) * sizeof *n->out);
	for (int i = 0; i < n_out; i++) {
		char *oname = n_out == 1 ? arena_printf(g->arena, "%s", n->name)
					 : arena_printf(g->arena, "%s:%d", n->name, i);
		n->out[i] = graph_add_value(g, oname, DT_UNDEFINED, NULL);
		n->out[i]->producer = n;
	}
	attrs_init(op, &n->attr);
	return n;
}

Node *graph_add_node(Graph *g, Op op, const char *name, int n_in, Value *const *in, int n_out)
{
	Node *n = new_node(g, op, name, n_in, in, n_out);
	g->nodes = grow(g->arena, g->nodes, g->n_nodes, &g->cap_nodes, sizeof *g->nodes);
	n->id = g->n_nodes;
	g->nodes[g->n_nodes++] = n;
	return n;
}

Node *graph_insert_node(Graph *g, Node *before, Op op, const char *name, int n_in, Value *const *in, int n_out)
{
	Node *n = new_node(g, op, name, n_in, in, n_out);
	g->nodes = grow(g->arena, g->nodes, g->n_nodes, &g->cap_nodes, sizeof *g->nodes);
	int pos = g->n_nodes;
	for (int i = 0; i < g->n_nodes; i++)
		if (g->nodes[i] == before) {
			pos = i;
			break;
		}
	memmove(&g->nodes[pos + 1], &g->nodes[pos], (size_t)(g->n_nodes - pos) * sizeof *g->nodes);
	g->nodes[pos] = n;
	g->n_nodes++;
	for (int i = pos; i < g->n_nodes; i++)
		g->nodes[i]->id = i;
	return n;
}

static void push_value(Graph *g, Value ***list, int *n, Value *v)
{
	Value **p = arena_alloc(g->arena, (size_t)(*n + 1) * sizeof *p);
	if (*n)
		memcpy(p, *list, (size_t)*n * sizeof *p);
	p[(*n)++] = v;
	*list = p;
}

void graph_add_input(Graph *g, Value *v) { push_value(g, &g->inputs, &g->n_inputs, v); }
void graph_add_output(Graph *g, Value *v) { push_value(g, &g->outputs, &g->n_outputs, v); }

Value *graph_find_value(const Graph *g, const char *name) { return map_get(g->names, name); }
Node *graph_find_node(const Graph *g, const char *name) { return map_get(g->node_names, name); }

void graph_replace_uses(Graph *g, Value *old, Value *new_value)
{
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j] == old)
				n->in[j] = new_value;
	}
	for (int i = 0; i < g->n_outputs; i++)
		if (g->outputs[i] == old)
			g->outputs[i] = new_value;
}

int *graph_use_counts(const Graph *g)
{
	int *uses = calloc((size_t)g->n_values + 1, sizeof *uses);
	if (uses == NULL) {
		fputs("nnzc: fatal: out of memory\n", stderr);
		abort();
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		if (n->dead)
			continue;
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j])
				uses[n->in[j]->id]++;
	}
	for (int i = 0; i < g->n_outputs; i++)
		uses[g->outputs[i]->id]++;
	return uses;
}

bool graph_is_input(const Graph *g, const Value *v)
{
	for (int i = 0; i < g->n_inputs; i++)
		if (g->inputs[i] == v)
			return true;
	return false;
}

bool graph_is_output(const Graph *g, const Value *v)
{
	for (int i = 0; i < g->n_outputs; i++)
		if (g->outputs[i] == v)
			return true;
	return false;
}

void graph_compact(Graph *g)
{
	int k = 0;
	for (int i = 0; i < g->n_nodes; i++)
		if (!g->nodes[i]->dead)
			g->nodes[k++] = g->nodes[i];
	g->n_nodes = k;
	for (int i = 0; i < g->n_nodes; i++)
		g->nodes[i]->id = i;

	/* keep values that are referenced: inputs, outputs, live node inputs and outputs */
	bool *keep = calloc((size_t)g->n_values + 1, 1);
	if (keep == NULL) {
		fputs("nnzc: fatal: out of memory\n", stderr);
		abort();
	}
	for (int i = 0; i < g->n_inputs; i++)
		keep[g->inputs[i]->id] = true;
	for (int i = 0; i < g->n_outputs; i++)
		keep[g->outputs[i]->id] = true;
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j])
				keep[n->in[j]->id] = true;
		for (int j = 0; j < n->n_out; j++)
			keep[n->out[j]->id] = true;
	}
	/* rebuild the name map so that dropped names can be reused */
	g->names = map_new(g->arena, 256);
	k = 0;
	for (int i = 0; i < g->n_values; i++) {
		Value *v = g->values[i];
		if (!keep[v->id])
			continue;
		g->values[k++] = v;
		map_put(g->names, v->name, v);
	}
	free(keep);
	g->n_values = k;
	for (int i = 0; i < g->n_values; i++)
		g->values[i]->id = i;
	g->node_names = map_new(g->arena, 256);
	for (int i = 0; i < g->n_nodes; i++)
		map_put(g->node_names, g->nodes[i]->name, g->nodes[i]);
}

int graph_toposort(Graph *g, Diag *d)
{
	/* Kahn's algorithm over producer edges, stable: among ready nodes the earliest first. */
	int n = g->n_nodes;
	int *pending = calloc((size_t)n + 1, sizeof *pending);
	Node **order = calloc((size_t)n + 1, sizeof *order);
	bool *placed = calloc((size_t)n + 1, 1);
	if (!pending || !order || !placed) {
		fputs("nnzc: fatal: out of memory\n", stderr);
		abort();
	}
	for (int i = 0; i < n; i++)
		g->nodes[i]->id = i;
	for (int i = 0; i < n; i++) {
		Node *nd = g->nodes[i];
		for (int j = 0; j < nd->n_in; j++)
			if (nd->in[j] && nd->in[j]->producer)
				pending[i]++;
	}
	/* users lists would be faster; graphs are small enough for the quadratic bound in the
	 * worst case, and in the usual already-sorted case this is one sweep */
	int done = 0;
	bool progress = true;
	while (done < n && progress) {
		progress = false;
		for (int i = 0; i < n; i++) {
			if (placed[i] || pending[i] > 0)
				continue;
			Node *nd = g->nodes[i];
			placed[i] = true;
			order[done++] = nd;
			progress = true;
			for (int o = 0; o < nd->n_out; o++)
				for (int k = 0; k < n; k++) {
					Node *u = g->nodes[k];
					for (int j = 0; j < u->n_in; j++)
						if (u->in[j] == nd->out[o])
							pending[k]--;
				}
		}
	}
	int rc = 0;
	if (done < n) {
		for (int i = 0; i < n; i++)
			if (!placed[i]) {
				rc = node_error(d, g->nodes[i], "graph has a cycle through this node");
				break;
			}
	} else if (n > 0) {
		memcpy(g->nodes, order, (size_t)n * sizeof *order);
		for (int i = 0; i < n; i++)
			g->nodes[i]->id = i;
	}
	free(pending);
	free(order);
	free(placed);
	return rc;
}
