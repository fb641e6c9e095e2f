/* dce: dead-code elimination.
 *
 * Requires: nothing (works on any structurally valid graph).
 * Does: marks dead every node none of whose outputs is read by a live node or listed as a
 * graph output, then compacts, which also drops constants and values nothing refers to any
 * more. Nodes are visited once in reverse topological order, each death releasing its inputs,
 * so whole dead chains go in one sweep.
 * Preserves: topological order, names, shapes, graph inputs (even unused ones: they are the
 * caller's interface).
 * Invalidates: node and value ids (renumbered by the compaction). */
#include "nnzc/ir.h"

#include <stdlib.h>

int pass_dce(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	(void)d;
	int *uses = graph_use_counts(g);
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		Node *n = g->nodes[i];
		if (n->dead)
			continue;
		bool used = false;
		for (int j = 0; j < n->n_out && !used; j++)
			used = uses[n->out[j]->id] > 0;
		if (used)
			continue;
		n->dead = true;
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j])
				uses[n->in[j]->id]--;
	}
	free(uses);
	graph_compact(g);
	return 0;
}
