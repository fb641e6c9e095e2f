/* Static activation memory plan: every intermediate tensor gets an offset in one workspace,
 * reusing memory whose previous tenant is dead.
 *
 * Lifetimes are node-index intervals [producer, last reader]. Buffers are placed greedily by
 * decreasing size, each at the lowest aligned offset that overlaps no already placed buffer
 * whose lifetime intersects its own ("greedy by size", as TFLite's planner): simple, and within
 * a few percent of optimal on CNNs. Graph inputs and outputs live in the caller's buffers and
 * constants in the object, so neither is planned. A value read by the node that produces it is
 * impossible (verified IR is acyclic), so a buffer never overlaps its inputs' buffers, unless the
 * target asks for it (share, see ir.h): a value that takes over a dying input's buffer joins
 * that buffer, whose lifetime then runs from the first member's producer to the last member's
 * last reader (ResNet's residual chain is one buffer per stage instead of two alternating). */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

#define PLAN_ALIGN 64

typedef struct Interval {
	int value;            /* value id */
	int first, last;      /* node indices */
	int64_t size, offset; /* bytes */
} Interval;

/* the buffer value v lives in: follow the shares to the first value of the chain (each share
 * points to a value made by an earlier node, so the walk ends) */
static int buffer_of(const int *joined, int v)
{
	while (joined[v] >= 0)
		v = joined[v];
	return v;
}

static int by_size_desc(const void *a, const void *b)
{
	const Interval *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->value - y->value; /* deterministic */
}

static int by_offset(const void *a, const void *b)
{
	const Interval *const *x = a, *const *y = b;
	if ((*x)->offset != (*y)->offset)
		return (*x)->offset < (*y)->offset ? -1 : 1;
	return (*x)->value - (*y)->value;
}

void memplan_free(MemPlan *p)
{
	free(p->offset);
	free(p->bytes);
	memset(p, 0, sizeof *p);
}

int memplan_build(const Graph *g, const int *share, MemPlan *p, Diag *d)
{
	memset(p, 0, sizeof *p);
	int nv = g->n_values;
	p->offset = malloc(((size_t)nv + 1) * sizeof *p->offset);
	p->bytes = calloc((size_t)nv + 1, sizeof *p->bytes);
	Interval *iv = calloc((size_t)nv + 1, sizeof *iv);
	const Interval **placed = calloc((size_t)nv + 1, sizeof *placed);
	int *first = malloc(((size_t)nv + 1) * sizeof *first), *last = malloc(((size_t)nv + 1) * sizeof *last);
	int *joined = malloc(((size_t)nv + 1) * sizeof *joined), *slot = malloc(((size_t)nv + 1) * sizeof *slot);
	bool *taken = calloc((size_t)nv + 1, sizeof *taken);
	int rc = -1;
	if (!p->offset || !p->bytes || !iv || !placed || !first || !last || !joined || !slot || !taken) {
		diag_error(d, "out of memory planning activations");
		goto out;
	}
	for (int i = 0; i < nv; i++) {
		p->offset[i] = -1;
		first[i] = last[i] = -1;
		joined[i] = slot[i] = -1;
	}
	for (int k = 0; k < g->n_nodes; k++) {
		const Node *n = g->nodes[k];
		for (int j = 0; j < n->n_out; j++)
			first[n->out[j]->id] = k;
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j])
				last[n->in[j]->id] = k;
	}
	int n_iv = 0;
	for (int i = 0; i < nv; i++) {
		const Value *v = g->values[i];
		if (first[i] < 0 || graph_is_output(g, v))
			continue;
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		if (!ok) {
			char sb[128];
			diag_error(d, "value '%s' has the non-static shape %s; the cpu target needs static shapes", v->name,
				   shape_str(&v->shape, sb, sizeof sb));
			goto out;
		}
		if (bytes > (size_t)INT64_MAX / 4) {
			diag_error(d, "value '%s' is too large to plan (%zu bytes)", v->name, bytes);
			goto out;
		}
		p->bytes[i] = (int64_t)bytes;
		p->offset[i] = 0; /* planned; placed below */
	}
	/* shares the planner can honour: both planned, the same size, the old value made by an
	 * earlier node and dying where the new one is made, and not yet taken by another output of
	 * that node (value ids follow creation, not node order, so any id may join any) */
	for (int i = 0; share && i < nv; i++) {
		int u = share[i];
		if (u < 0 || u >= nv || p->offset[i] < 0 || p->offset[u] < 0 || p->bytes[u] != p->bytes[i] ||
		    first[u] >= first[i] || last[u] != first[i] || taken[u])
			continue;
		joined[i] = u;
		taken[u] = true;
	}
	for (int i = 0; i < nv; i++) {
		if (p->offset[i] < 0)
			continue;
		/* an output nobody reads still needs somewhere to go */
		int l = last[i] < first[i] ? first[i] : last[i], b = buffer_of(joined, i);
		if (slot[b] < 0) {
			slot[b] = n_iv;
			iv[n_iv++] = (Interval){b, first[i], l, (p->bytes[i] + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN, 0};
			continue;
		}
		Interval *x = &iv[slot[b]];
		x->first = first[i] < x->first ? first[i] : x->first;
		x->last = l > x->last ? l : x->last;
	}
	qsort(iv, (size_t)n_iv, sizeof *iv, by_size_desc);
	int n_placed = 0;
	for (int i = 0; i < n_iv; i++) {
		Interval *x = &iv[i];
		/* candidates: buffers alive at the same time, in address order; take the first gap */
		int n_live = 0;
		for (int k = 0; k < n_placed; k++)
			if (placed[k]->first <= x->last && x->first <= placed[k]->last)
				placed[n_live++] = placed[k];
		qsort((void *)placed, (size_t)n_live, sizeof *placed, by_offset);
		int64_t at = 0;
		for (int k = 0; k < n_live; k++) {
			if (placed[k]->offset >= at + x->size)
				break;
			if (placed[k]->offset + placed[k]->size > at)
				at = placed[k]->offset + placed[k]->size;
		}
		x->offset = at;
		if (at + x->size > p->size)
			p->size = at + x->size;
		p->offset[x->value] = at;
		/* rebuild the placed list: all placed so far plus x, order irrelevant */
		n_placed = 0;
		for (int k = 0; k <= i; k++)
			placed[n_placed++] = &iv[k];
		p->n_buffers++;
	}
	for (int i = 0; i < nv; i++) {
		if (p->offset[i] < 0)
			continue;
		p->offset[i] = p->offset[buffer_of(joined, i)];
		p->naive_size += (p->bytes[i] + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
	}
	rc = 0;
out:
	free(iv);
	free(placed);
	free(first);
	free(last);
	free(joined);
	free(slot);
	free(taken);
	if (rc < 0)
		memplan_free(p);
	return rc;
}
