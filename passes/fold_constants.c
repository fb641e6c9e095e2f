/* fold-constants: evaluate at compile time every node whose inputs are all constant.
 *
 * Requires: shape-infer (output shapes are read to refuse bloating folds before evaluating;
 * a node whose shapes are still unknown gets one more inference attempt here).
 * Does: in topological order, so that chains fold in one sweep, runs ref_eval_node on each
 * live node whose present inputs all carry a payload, and turns its outputs into constants.
 * The output *values* stay — same names, same ids — and only lose their producer, so graph
 * outputs keep their names and every user sees the constant without any rewiring.
 * A fold is refused when it would grow the model: output bytes (in the dtypes' file sizes)
 * must be <= max(64 KiB, input bytes); ConstantOfShape/Expand/Tile/Range of a large shape are
 * cheaper to compute at run time than to store. Nodes reading a constant known only by its
 * checksum (an elided payload from a dump) are skipped: there is nothing to evaluate.
 * An evaluation error is an error of the model (it would fail at run time too) and is
 * returned.
 * Preserves: topological order, value names, graph inputs and outputs.
 * Invalidates: node and value ids (the compaction drops folded nodes and the constants only
 * they read). */
#include "nnzc/ir.h"

#include <string.h>

#define FOLD_MIN_BUDGET ((int64_t)64 * 1024)
#define FOLD_MAX_OUTPUTS 16

/* Bytes v takes in a model file; -1 when its shape is not static or the size overflows. */
static int64_t file_bytes(const Value *v)
{
	int64_t numel = shape_numel(&v->shape), bytes;
	if (numel < 0 || !mul_ok_i64(numel, (int64_t)dtype_storage_size(v->dtype), &bytes))
		return -1;
	return bytes;
}

static bool foldable(const Node *n)
{
	if (n->n_out > FOLD_MAX_OUTPUTS)
		return false;
	bool any = false;
	for (int i = 0; i < n->n_in; i++) {
		const Value *v = n->in[i];
		if (v == NULL)
			continue;
		if (v->data == NULL) /* not a constant, or an elided one */
			return false;
		any = true;
	}
	return any;
}

static bool outputs_known(const Node *n)
{
	for (int i = 0; i < n->n_out; i++)
		if (!shape_is_static(&n->out[i]->shape) || n->out[i]->dtype == DT_UNDEFINED)
			return false;
	return true;
}

/* The size rule: refuse folds whose result is much larger than what they read. */
static bool within_budget(const Node *n)
{
	int64_t in_bytes = 0, out_bytes = 0;
	for (int i = 0; i < n->n_in; i++) {
		const Value *v = n->in[i];
		bool seen = false;
		for (int k = 0; k < i && !seen; k++)
			seen = n->in[k] == v;
		if (v == NULL || seen)
			continue;
		int64_t b = file_bytes(v);
		if (b < 0 || __builtin_add_overflow(in_bytes, b, &in_bytes))
			return false;
	}
	for (int i = 0; i < n->n_out; i++) {
		int64_t b = file_bytes(n->out[i]);
		if (b < 0 || __builtin_add_overflow(out_bytes, b, &out_bytes))
			return false;
	}
	return out_bytes <= (in_bytes > FOLD_MIN_BUDGET ? in_bytes : FOLD_MIN_BUDGET);
}

static int fold_node(Graph *g, Node *n, Diag *d)
{
	Tensor outs[FOLD_MAX_OUTPUTS];
	if (ref_eval_node(n, outs, d) < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < n->n_out && rc == 0; i++)
		rc = value_set_constant(g, n->out[i], &outs[i], d);
	for (int i = 0; i < n->n_out; i++)
		tensor_free(&outs[i]);
	n->dead = true;
	return rc;
}

int pass_fold_constants(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	bool changed = false;
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		if (n->dead || !foldable(n))
			continue;
		if (!outputs_known(n) && infer_node(n, d) < 0)
			return -1;
		if (!outputs_known(n) || !within_budget(n))
			continue;
		if (fold_node(g, n, d) < 0)
			return -1;
		changed = true;
	}
	if (changed)
		graph_compact(g);
	return 0;
}
