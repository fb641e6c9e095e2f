/* convert-pattern: re-encode every weight in the pattern a target accepts, reporting what it
 * cost.
 *
 * Requires: constant weights (any encoding, dense included).
 * Argument (grammar in layer_rules.h and prune_spec.h): a target encoding, then optional
 * keep=first,last and GLOB=TARGET rules, e.g. convert-pattern(nm:2:4;keep=first;fc=csr).
 * Targets: dense, csr, nm:N:M, bsr:RxC (or block:RxC), gs:V:B, or any encoding as the dumps
 * spell it (nm(2,4), tasd[(2,4),(1,4)]).
 * Does: for every (node, weight input) for which weight_view says yes, sparse_project onto the
 * target (the largest magnitudes the pattern allows are kept; csr, bsr and dense keep
 * everything), then sparse_attach. A weight whose shape cannot take the target (fewer columns
 * than M or, for a Conv, input channels per group than M, smaller than one block), kept by keep=first/last, or shared in a way one conversion
 * cannot serve, stays as it is, with a remark.
 * Remarks: per converted weight, key "dropped_l2_fraction" = ||dropped|| / ||w|| (0 when the
 * weight already fits), with the encodings before and after and the densities in the text.
 * Preserves: the graph's structure, names, shapes and dtypes; only weight values and encodings
 * change. */
#include "prune_spec.h"

#include <math.h>
#include <stdlib.h>

static const char PASS[] = "convert-pattern";

static double density(const float *w, int64_t n)
{
	int64_t nz = 0;
	for (int64_t i = 0; i < n; i++)
		nz += w[i] != 0.0f;
	return n ? (double)nz / (double)n : 0.0;
}

static int convert(Graph *g, const LayerWeight *x, const Pattern *p, Diag *d)
{
	float *w = x->w->data;
	int64_t numel = x->view.rows * x->view.cols;
	double total = 0;
	for (int64_t i = 0; i < numel; i++)
		total += (double)w[i] * w[i];
	double before = density(w, numel);
	char from[64], to[64];
	encoding_str(&x->w->enc, from, sizeof from);
	encoding_str(&p->enc, to, sizeof to);
	double dropped = sparse_project(w, &x->view, &p->enc);
	if (dropped < 0)
		return node_error(d, x->node, "out of memory");
	if (sparse_attach(g, x->w, &x->view, &p->enc, d) < 0) {
		diag_prefix(d, arena_printf(g->arena, "node '%s': ", x->node->name));
		return -1;
	}
	double frac = total > 0 && dropped > 0 ? sqrt(dropped / total) : 0.0;
	graph_remark(g, PASS, x->node, "dropped_l2_fraction", frac,
		     "%s -> %s: dropped L2 fraction %.4f (density %.3f -> %.3f)", from, to, frac, before,
		     density(w, numel));
	return 0;
}

int pass_convert_pattern(Graph *g, const PassOptions *opt, Diag *d)
{
	SparsityRun *r = sparsity_begin(g, opt, PASS, d);
	if (r == NULL)
		return -1;
	int rc = 0;
	char buf[256];
	for (int i = 0; i < r->n && rc == 0; i++) {
		const LayerWeight *x = &r->l[i];
		const Pattern *p = layer_pattern(&r->args, x);
		const char *why = x->skip;
		if (why == NULL && x->owner != i)
			continue; /* a shared weight, converted with its first reader */
		if (why == NULL)
			why = pattern_misfit(p, &x->view, buf, sizeof buf);
		if (why) {
			if (why[0])
				layer_remark_kept(g, PASS, x, why);
			continue;
		}
		rc = convert(g, x, p, d);
	}
	return sparsity_end(g, r, PASS, rc);
}
