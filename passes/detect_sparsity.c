/* detect-sparsity: give every weight of a model pruned elsewhere the tightest encoding that
 * holds it exactly. Changes no value.
 *
 * Requires: shape inference (static weight shapes). Run it after fold-bn and fuse: folding a
 * BatchNorm scales a weight (its zeros stay zeros) and would otherwise have to re-pack it.
 * Preserves: every value and shape; invalidates nothing. Sets Value.enc and Value.sparse of the
 * weights (weight_view) it encodes, and records one remark per weight (key "density").
 *
 * The rule, per weight matrix (docs/sparsity.md, "Detecting sparsity"):
 *   1. nm(N,M), M in 4, 8, ..., 256 (at most the row length), N the largest non-zero count of
 *      any group of M consecutive view columns (for a Conv: input channels at a fixed tap, so a
 *      model pruned along the channels, as PyTorch ASP does, is found): taken when
 *      N/M <= 1/2 and the non-zeros fill at least 90% of the N slots of every group (a tensor
 *      pruned to N:M fills them all, except for weights that were zero already, while the
 *      busiest group of an unstructured tensor sets N far above its average); the smallest
 *      N/M wins, then the smaller M;
 *   2. bsr(R,C) for the block shapes below: taken when the density is <= 1/2 and the non-zeros
 *      fill at least 90% of the stored blocks (whole blocks are zero); the fewest stored
 *      elements win, then the larger block;
 *   3. csr when the density is <= 1/2 (beyond that the indices cost more than the zeros);
 *   4. dense otherwise.
 * A weight already encoded is left as it is; one read by two nodes as different matrices
 * (MatMul and Gemm with transB=1, say) stays dense, as no single pack serves both. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

#define FILL_MIN 0.9
#define DENSITY_MAX 0.5

static const int nm_ms[] = {4, 8, 16, 32, 64, 128, 256};
static const int bsr_shapes[][2] = {{1, 2}, {2, 1}, {1, 4}, {4, 1}, {2, 2}, {1, 8}, {8, 1},
				    {4, 4}, {1, 16}, {16, 1}, {8, 8}, {16, 16}};

static inline float at(const float *w, const WeightView *v, int64_t r, int64_t c)
{
	return w[weight_view_offset(v, r, c)];
}

/* The tightest nm(N, m): N = the largest count of any group; *fill = nnz / slots. */
static int nm_needed(const float *w, const WeightView *v, int m, double *fill)
{
	int need = 0;
	int64_t slots_if_full = 0, nnz = 0;
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c0 = 0; c0 < v->cols; c0 += m) {
			int k = 0;
			for (int64_t c = c0; c < c0 + m && c < v->cols; c++)
				k += at(w, v, r, c) != 0.0f;
			need = k > need ? k : need;
			nnz += k;
		}
	/* slots of nm(need, m): a partial group of width w holds min(need, w) */
	for (int64_t c0 = 0; c0 < v->cols; c0 += m) {
		int64_t width = v->cols - c0 < m ? v->cols - c0 : m;
		slots_if_full += width < need ? width : need;
	}
	slots_if_full *= v->rows;
	*fill = slots_if_full ? (double)nnz / (double)slots_if_full : 1.0;
	return need;
}

/* Elements bsr(br, bc) stores (virtual padding included). */
static int64_t bsr_stored(const float *w, const WeightView *v, int br, int bc)
{
	int64_t blocks = 0;
	for (int64_t r0 = 0; r0 < v->rows; r0 += br)
		for (int64_t c0 = 0; c0 < v->cols; c0 += bc) {
			bool nz = false;
			for (int64_t r = r0; r < r0 + br && r < v->rows && !nz; r++)
				for (int64_t c = c0; c < c0 + bc && c < v->cols && !nz; c++)
					nz = at(w, v, r, c) != 0.0f;
			blocks += nz;
		}
	return blocks * br * bc;
}

static Encoding detect(const float *w, const WeightView *v, int64_t nnz, char *why, size_t cap)
{
	Encoding e;
	memset(&e, 0, sizeof e);
	double numel = (double)v->rows * (double)v->cols, density = nnz / numel;
	/* 1. nm */
	double best = 2.0;
	for (size_t i = 0; i < sizeof nm_ms / sizeof *nm_ms; i++) {
		int m = nm_ms[i];
		double fill;
		if (m > v->cols)
			break; /* one partial group per row says nothing about a pattern */
		int n = nm_needed(w, v, m, &fill);
		double ratio = (double)n / m;
		if (n >= 1 && ratio <= DENSITY_MAX && fill >= FILL_MIN && ratio < best) {
			best = ratio;
			e.kind = ENC_NM;
			e.u.nm.n = n;
			e.u.nm.m = m;
			snprintf(why, cap, "%.1f%% of the %d:%d slots filled", 100.0 * fill, n, m);
		}
	}
	if (e.kind == ENC_NM || nnz == 0)
		return e; /* an all-zero weight stays dense: nothing to gain from describing it */
	if (density > DENSITY_MAX) {
		snprintf(why, cap, "too dense to encode");
		return e;
	}
	/* 2. bsr */
	int64_t fewest = -1;
	for (size_t i = 0; i < sizeof bsr_shapes / sizeof *bsr_shapes; i++) {
		int br = bsr_shapes[i][0], bc = bsr_shapes[i][1];
		if (br > v->rows || bc > v->cols)
			continue;
		int64_t stored = bsr_stored(w, v, br, bc);
		if ((double)nnz < FILL_MIN * (double)stored)
			continue;
		if (fewest < 0 || stored < fewest || (stored == fewest && br * bc > e.u.bsr.r * e.u.bsr.c)) {
			fewest = stored;
			e.kind = ENC_BSR;
			e.u.bsr.r = br;
			e.u.bsr.c = bc;
			snprintf(why, cap, "%.1f%% of the stored %dx%d blocks filled", 100.0 * (double)nnz / (double)stored,
				 br, bc);
		}
	}
	if (e.kind == ENC_BSR)
		return e;
	/* 3. csr */
	e.kind = ENC_CSR;
	snprintf(why, cap, "unstructured");
	return e;
}

int pass_detect_sparsity(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	bool *done = calloc((size_t)g->n_values + 1, 1);
	if (done == NULL)
		return diag_error(d, "out of memory");
	int rc = 0;
	for (int i = 0; i < g->n_nodes && rc == 0; i++) {
		Node *n = g->nodes[i];
		WeightView view, other;
		if (n->dead || !weight_view(n, 1, &view) || n->in[1]->data == NULL || done[n->in[1]->id])
			continue;
		Value *w = n->in[1];
		done[w->id] = true;
		if (w->enc.kind != ENC_DENSE) {
			char es[96] = "";
			FILE *f = fmemopen(es, sizeof es, "w");
			if (f) {
				encoding_print(&w->enc, f);
				fclose(f);
			}
			graph_remark(g, "detect-sparsity", n, NULL, 0.0, "weight '%s' is already encoded as %s", w->name, es);
			continue;
		}
		const Node *clash = NULL;
		for (int k = i + 1; k < g->n_nodes && clash == NULL; k++) {
			const Node *m = g->nodes[k];
			if (!m->dead && m->n_in > 1 && m->in[1] == w && weight_view(m, 1, &other) &&
			    !weight_view_equal(&view, &other))
				clash = m;
		}
		int64_t nnz = value_nnz(w);
		double density = (double)nnz / ((double)view.rows * (double)view.cols);
		if (clash) {
			graph_remark(g, "detect-sparsity", n, "density", density,
				     "kept dense: weight '%s' is also read by '%s' as another matrix", w->name, clash->name);
			continue;
		}
		char why[128] = "";
		Encoding e = detect(w->data, &view, nnz, why, sizeof why);
		if (e.kind == ENC_DENSE) {
			graph_remark(g, "detect-sparsity", n, "density", density, "dense (%.1f%% non-zero%s%s)",
				     100.0 * density, why[0] ? ", " : "", why);
			continue;
		}
		rc = sparse_attach(g, w, &view, &e, d);
		if (rc < 0)
			break;
		char es[96] = "";
		FILE *f = fmemopen(es, sizeof es, "w");
		if (f) {
			encoding_print(&e, f);
			fclose(f);
		}
		graph_remark(g, "detect-sparsity", n, "density", density, "%s (%.1f%% non-zero, %s)", es, 100.0 * density,
			     why);
	}
	free(done);
	return rc;
}
