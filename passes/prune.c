/* prune: magnitude pruning of the weights to a sparsity pattern, then their encoding.
 *
 * Requires: constant weights; run it after fold-bn and fuse (`--prune` appends it to the end of
 * the pipeline) so that the magnitudes ranked are those of the folded weights — a BatchNorm
 * scale multiplies a whole output channel, and the unscaled values would rank it wrongly.
 * Argument (grammar in prune_spec.h, examples in docs/sparsity.md "Passes and options"):
 *     prune(unstructured:0.9;global;keep=first,last;layer4.*=nm:2:4;fc=dense)
 * Layers: every (node, weight input) for which weight_view says yes — Conv (grouped and
 * depthwise included) and FusedConv W, Gemm and FusedGemm B, MatMul constant 2-D B — pruned on
 * its matrix view (rows = output channels, columns = the reduction index, tap-major for a Conv):
 *   unstructured:S  the round(S*rows*cols) smallest |w| are zeroed            -> csr
 *   channel:S       the round(S*rows) rows with the smallest RMS are zeroed   -> csr (empty rows;
 *                   the output channel is then bias-only, which every kernel handles)
 *   block:RxC:S     the round(S*blocks) R x C blocks (edge blocks padded with zeros) with the
 *                   smallest L2 norm are zeroed                              -> bsr(R,C)
 *   nm:N:M          the N largest |w| of every M consecutive columns kept     -> nm(N,M)
 *   gs:V:B:S        k = round((1-S)*cols) kept per row, in groups of V rows, the largest |w|
 *                   such that no bank (column mod B) holds more than k kept elements of a
 *                   group, so that they form k conflict-free steps           -> gs(V,B)
 * With `global` the unstructured, block or channel units of every layer that gets the default
 * pattern compete for one threshold (channel rows by RMS, so long rows are not favoured);
 * rule-matched layers stay layer-wise. Ties: the lower index is kept. The sparsity counted is
 * the fraction of zeros afterwards, zeros already there included.
 * A layer whose shape cannot take its pattern (fewer columns than M, a Conv with fewer input
 * channels per group than M, smaller than one block, no
 * conflict-free gs selection) is left as it is, with a remark; so are layers kept by
 * keep=first/last or a GLOB=dense rule, and weights shared in a way that one pruning cannot
 * serve (see layer_weights).
 * Remarks: per pruned weight, key "sparsity" (achieved) with the L2 fraction dropped
 * (||dropped|| / ||w||) in the text; per layer left alone, why; for global, the threshold.
 * Preserves: the graph's structure, names, shapes and dtypes; only weight values and encodings
 * change (weights are modified in place: every reader of a pruned weight is a layer that asked
 * for exactly this pruning). */
#include "prune_spec.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char PASS[] = "prune";

static int64_t numel_of(const LayerWeight *x) { return x->view.rows * x->view.cols; }

/* Attach the encoding and tell what it cost. */
static int finish(Graph *g, const SparsityArgs *a, const LayerWeight *l, int n, int i, const float *orig, Diag *d)
{
	const LayerWeight *x = &l[i];
	const Pattern *p = layer_pattern(a, x);
	int64_t numel = numel_of(x), zeros = 0;
	const float *w = x->w->data;
	double total = 0, dropped = 0;
	for (int64_t j = 0; j < numel; j++) {
		double o = orig[j];
		total += o * o;
		if (w[j] == 0.0f) {
			zeros++;
			dropped += o * o;
		}
	}
	if (sparse_attach(g, x->w, &x->view, &p->enc, d) < 0)
		return -1;
	double sparsity = numel ? (double)zeros / (double)numel : 0.0;
	double frac = total > 0 ? sqrt(dropped / total) : 0.0;
	char enc[64], shared[160] = "";
	encoding_str(&p->enc, enc, sizeof enc);
	int others = 0;
	for (int k = 0; k < n; k++)
		if (k != i && l[k].owner == i && others++ == 0)
			snprintf(shared, sizeof shared, "; weight '%s' shared with node '%s'", x->w->name, l[k].node->name);
	if (others > 1)
		snprintf(shared + strlen(shared), sizeof shared - strlen(shared), " and %d more", others - 1);
	graph_remark(g, PASS, x->node, "sparsity", sparsity, "pruned to %s (%s): sparsity %.3f, dropped L2 fraction %.4f%s",
		     enc, p->text, sparsity, frac, shared);
	return 0;
}

/* Rank the units of layers idx[0..m) together and zero the lowest fraction `sparsity` of them. */
static int prune_ranked(Graph *g, const SparsityArgs *a, LayerWeight *l, const int *idx, int m, double sparsity,
			bool global, Diag *d)
{
	RankLayer *rl = calloc((size_t)m + 1, sizeof *rl);
	if (rl == NULL)
		return diag_error(d, "out of memory");
	int rc = 0, ready = 0;
	int64_t total = 0;
	for (; ready < m && rc == 0; ready++) {
		LayerWeight *x = &l[idx[ready]];
		rc = rank_layer_init(&rl[ready], x->w->data, &x->view, layer_pattern(a, x), d);
		total += rl[ready].n_units;
	}
	float threshold = 0;
	int64_t k = llround(sparsity * (double)total);
	if (rc == 0)
		rc = prune_lowest(rl, m, k, &threshold, d);
	if (rc == 0 && global)
		graph_remark(g, PASS, NULL, "threshold", threshold,
			     "global: %lld of the %lld units of %d layers zeroed, those scoring at most %.6g", (long long)k,
			     (long long)total, m, (double)threshold);
	for (int i = 0; i < ready; i++)
		rank_layer_free(&rl[i]);
	free(rl);
	return rc;
}

static int run(Graph *g, const SparsityArgs *a, LayerWeight *l, int n, float **orig, Diag *d)
{
	char buf[256];
	/* who runs: owners not kept dense whose shape can take the pattern */
	for (int i = 0; i < n; i++) {
		LayerWeight *x = &l[i];
		if (x->owner != i || x->skip)
			continue;
		const char *why = pattern_misfit(layer_pattern(a, x), &x->view, buf, sizeof buf);
		if (why) {
			x->skip = arena_strdup(g->arena, why);
			continue;
		}
		int64_t numel = numel_of(x);
		orig[i] = malloc((size_t)(numel ? numel : 1) * sizeof(float));
		if (orig[i] == NULL)
			return node_error(d, x->node, "out of memory");
		memcpy(orig[i], x->w->data, (size_t)numel * sizeof(float));
	}
	int *idx = malloc(((size_t)n + 1) * sizeof *idx);
	if (idx == NULL)
		return diag_error(d, "out of memory");
	int m = 0;
	for (int i = 0; i < n; i++)
		if (orig[i] && a->rules.global && l[i].rule < 0)
			idx[m++] = i;
	int rc = m ? prune_ranked(g, a, l, idx, m, a->def.sparsity, true, d) : 0;
	for (int i = 0; i < n && rc == 0; i++) {
		LayerWeight *x = &l[i];
		if (orig[i] == NULL || (a->rules.global && x->rule < 0))
			continue;
		const Pattern *p = layer_pattern(a, x);
		switch (p->sel) {
		case SEL_MAGNITUDE:
		case SEL_BLOCK:
		case SEL_CHANNEL: rc = prune_ranked(g, a, l, &i, 1, p->sparsity, false, d); break;
		case SEL_NM: select_nm(x->w->data, &x->view, p->enc.u.nm.n, p->enc.u.nm.m); break;
		case SEL_GS: {
			int64_t k = llround((1.0 - p->sparsity) * (double)x->view.cols);
			rc = select_gs(x->w->data, &x->view, p->enc.u.gs.v, p->enc.u.gs.b, k, d);
			if (rc == 1) {
				rc = 0;
				x->skip = arena_printf(g->arena, "no selection of %lld of %lld columns per row "
						   "has at most %lld per bank in every group of %d rows (gs(%d,%d))",
						   (long long)k, (long long)x->view.cols, (long long)k, p->enc.u.gs.v,
						   p->enc.u.gs.v, p->enc.u.gs.b);
				free(orig[i]);
				orig[i] = NULL;
			} else if (rc == 0 && !sparse_fits(x->w->data, &x->view, &p->enc)) {
				/* k conflict-free steps exist, but the packer schedules greedily and may need
				 * more than the columns allow: let it drop the few it cannot place */
				if (sparse_project(x->w->data, &x->view, &p->enc) < 0)
					rc = diag_error(d, "out of memory");
			}
			break;
		}
		default: assert(!"prune: no selection for this pattern");
		}
		if (rc < 0)
			diag_prefix(d, arena_printf(g->arena, "node '%s': ", x->node->name));
	}
	free(idx);
	/* remarks (and encodings) in node order */
	for (int i = 0; i < n && rc == 0; i++) {
		const LayerWeight *x = &l[i];
		if (x->skip && x->skip[0])
			layer_remark_kept(g, PASS, x, x->skip);
		else if (orig[i])
			rc = finish(g, a, l, n, i, orig[i], d);
	}
	return rc;
}

int pass_prune(Graph *g, const PassOptions *opt, Diag *d)
{
	SparsityRun *r = sparsity_begin(g, opt, PASS, d);
	if (r == NULL)
		return -1;
	float **orig = calloc((size_t)r->n + 1, sizeof *orig);
	int rc = orig ? run(g, &r->args, r->l, r->n, orig, d) : diag_error(d, "out of memory");
	for (int i = 0; orig && i < r->n; i++)
		free(orig[i]);
	free(orig);
	return sparsity_end(g, r, PASS, rc);
}
