/* Weights into the formats the matrix unit reads (docs/accel-isa.md, `mm` modes), and the
 * re-encoding of weights whose encoding the config cannot run.
 *
 * Formats, on the weight's matrix view (rows = output channels, columns = the reduction in view
 * order; for a Conv tap-major, channel-minor, which is the order the im2col rows follow):
 *   dense         vals[rows, K] row-major
 *   nm(N,M)       vals and idx [rows, ceil(K/M)*N]: slot g*N + s is the s-th kept element of group
 *                 g, idx its position in the group (SparseData's nm pack as it is)
 *   tasd          one nm pack per term, summed by one mma per term
 * gs and everything else (csr, bsr, modes the config lacks) run dense from Value.data, the
 * effective weights: correct, without the sparse speed-up. */
#include "targets/accel/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int gcd(int a, int b) { return b ? gcd(b, a % b) : a; }

static bool term_supported(const nnzrt_accel_config *cfg, int n, int m)
{
	return nnzrt_accel_mode_supported(cfg, NNZRT_ACCEL_MODE_NM, n, m) != 0;
}

/* One nm pack into const words: values then indices, [rows, groups * n]. */
static int pack_nm(Lower *L, const SparseData *s, int64_t kp, uint64_t *vals, uint64_t *idx)
{
	int n = s->enc.u.nm.n, m = s->enc.u.nm.m;
	int64_t groups = kp / m, per_row = groups * n, rows = s->view.rows;
	int64_t total;
	if (!mul_ok_i64(rows, per_row, &total))
		return diag_error(L->d, "accel: weight too large");
	uint32_t *w = calloc((size_t)(total > 0 ? total : 1), sizeof *w);
	if (w == NULL)
		return diag_error(L->d, "accel: out of memory");
	/* s->u.nm.groups may be smaller than kp / m when the view's columns are not a multiple of M
	 * and a TASD sibling has a larger alignment: the extra groups stay zero (index 0, value 0) */
	for (int64_t r = 0; r < rows; r++)
		for (int64_t g = 0; g < s->u.nm.groups; g++)
			for (int k = 0; k < n; k++) {
				float v = s->u.nm.val[(r * s->u.nm.groups + g) * n + k];
				memcpy(&w[r * per_row + g * n + k], &v, sizeof v);
			}
	int rc = nnza_add_consts(L->b, w, (size_t)total, vals, L->d);
	for (int64_t r = 0; r < rows && rc == 0; r++)
		for (int64_t g = 0; g < groups; g++)
			for (int k = 0; k < n; k++)
				w[r * per_row + g * n + k] =
					g < s->u.nm.groups ? s->u.nm.off[(r * s->u.nm.groups + g) * n + k] : (uint32_t)k;
	if (rc == 0)
		rc = nnza_add_consts(L->b, w, (size_t)total, idx, L->d);
	free(w);
	return rc;
}

int lw_pack_weight(Lower *L, const Value *w, const WeightView *view, WPack *p)
{
	memset(p, 0, sizeof *p);
	p->rows = view->rows;
	p->kalign = 1;
	const SparseData *s = w->sparse;
	const nnzrt_accel_config *cfg = L->cfg;
	if (s && s->enc.kind == ENC_NM && term_supported(cfg, s->enc.u.nm.n, s->enc.u.nm.m)) {
		p->mode = NNZRT_ACCEL_MODE_NM;
		p->nterms = 1;
		p->term[0].n = s->enc.u.nm.n;
		p->term[0].m = s->enc.u.nm.m;
		p->kalign = s->enc.u.nm.m;
		p->kp = (view->cols + p->kalign - 1) / p->kalign * p->kalign;
		return pack_nm(L, s, p->kp, &p->term[0].vals, &p->term[0].idx);
	}
	if (s && s->enc.kind == ENC_TASD) {
		bool ok = s->u.tasd.nterms >= 1;
		int al = 1;
		for (int t = 0; t < s->u.tasd.nterms && ok; t++) {
			const SparseData *ts = s->u.tasd.term[t];
			ok = ts->enc.kind == ENC_NM && term_supported(cfg, ts->enc.u.nm.n, ts->enc.u.nm.m);
			if (ok)
				al = al / gcd(al, ts->enc.u.nm.m) * ts->enc.u.nm.m;
		}
		if (ok) {
			p->mode = NNZRT_ACCEL_MODE_NM;
			p->tasd = true;
			p->nterms = s->u.tasd.nterms;
			p->kalign = al;
			p->kp = (view->cols + al - 1) / al * al;
			for (int t = 0; t < p->nterms; t++) {
				const SparseData *ts = s->u.tasd.term[t];
				p->term[t].n = ts->enc.u.nm.n;
				p->term[t].m = ts->enc.u.nm.m;
				if (pack_nm(L, ts, p->kp, &p->term[t].vals, &p->term[t].idx) < 0)
					return -1;
			}
			return 0;
		}
	}
	if (s && s->enc.kind == ENC_GS && nnzrt_accel_mode_supported(cfg, NNZRT_ACCEL_MODE_GS, 0, 0)) {
		/* each row's non-zeros in slot order: step by step, as the gather engine takes them */
		int64_t rows = view->rows, V = s->enc.u.gs.v, slots = s->u.gs.ptr[s->u.gs.ngroups];
		p->mode = NNZRT_ACCEL_MODE_GS;
		p->kp = view->cols;
		p->gs_ptr = calloc((size_t)rows + 1, sizeof *p->gs_ptr);
		p->gs_col = malloc((size_t)(slots > 0 ? slots : 1) * sizeof *p->gs_col);
		p->gs_val = malloc((size_t)(slots > 0 ? slots : 1) * sizeof *p->gs_val);
		if (p->gs_ptr == NULL || p->gs_col == NULL || p->gs_val == NULL) {
			lw_pack_free(p);
			return diag_error(L->d, "accel: out of memory");
		}
		int64_t k = 0;
		for (int64_t r = 0; r < rows; r++) {
			int64_t g = r / V, lanes = rows - g * V < V ? rows - g * V : V, l = r - g * V;
			for (int64_t sl = s->u.gs.ptr[g] + l; sl < s->u.gs.ptr[g + 1]; sl += lanes)
				if (s->u.gs.val[sl] != 0.0f) {
					p->gs_col[k] = s->u.gs.col[sl];
					p->gs_val[k++] = s->u.gs.val[sl];
				}
			p->gs_ptr[r + 1] = k;
		}
		return 0;
	}
	/* dense, from the effective weights */
	p->mode = NNZRT_ACCEL_MODE_DENSE;
	p->kp = view->cols;
	int64_t total;
	if (!mul_ok_i64(view->rows, view->cols, &total))
		return diag_error(L->d, "accel: weight too large");
	float *m = malloc((size_t)(total > 0 ? total : 1) * sizeof *m);
	if (m == NULL)
		return diag_error(L->d, "accel: out of memory");
	const float *data = w->data;
	for (int64_t r = 0; r < view->rows; r++)
		for (int64_t j = 0; j < view->cols; j++)
			m[r * view->cols + j] = data[weight_view_offset(view, r, j)];
	int rc = lw_const_floats(L, m, total, &p->dense);
	free(m);
	return rc;
}

void lw_pack_free(WPack *p)
{
	free(p->gs_ptr);
	free(p->gs_col);
	free(p->gs_val);
	p->gs_ptr = NULL;
	p->gs_col = NULL;
	p->gs_val = NULL;
}

/* ---------------------------------------------------------------- fitting weights to a config */

/* Whether cfg's matrix unit runs encoding e as it is. */
static bool runnable(const nnzrt_accel_config *cfg, const SparseData *s)
{
	if (s == NULL)
		return true; /* dense */
	if (s->enc.kind == ENC_NM)
		return term_supported(cfg, s->enc.u.nm.n, s->enc.u.nm.m);
	if (s->enc.kind == ENC_GS)
		return nnzrt_accel_mode_supported(cfg, NNZRT_ACCEL_MODE_GS, 0, 0) != 0;
	if (s->enc.kind == ENC_TASD) {
		for (int t = 0; t < s->u.tasd.nterms; t++)
			if (s->u.tasd.term[t]->enc.kind != ENC_NM ||
			    !term_supported(cfg, s->u.tasd.term[t]->enc.u.nm.n, s->u.tasd.term[t]->enc.u.nm.m))
				return false;
		return true;
	}
	return false;
}

/* The cfg's nm mode (N, M) with the smallest N/M not below `density`, else its densest one;
 * false if it has none. For a range N1-N2:M, N = ceil(density * M) clamped into it. */
static bool pick_mode(const nnzrt_accel_config *cfg, double density, int *pn, int *pm)
{
	bool found = false, above = false;
	double best = 0;
	for (int i = 0; i < cfg->n_modes; i++) {
		const nnzrt_accel_mode *md = &cfg->modes[i];
		if (md->kind != NNZRT_ACCEL_MODE_NM)
			continue;
		int n = (int)ceil(density * md->m - 1e-9);
		n = n < md->n_lo ? md->n_lo : n > md->n_hi ? md->n_hi : n;
		double r = (double)n / md->m;
		bool ab = r >= density - 1e-12;
		/* prefer modes that keep everything; among them the sparsest, else the densest */
		bool better = !found || (ab && !above) || (ab == above && (ab ? r < best : r > best));
		if (better) {
			found = true;
			above = ab;
			best = r;
			*pn = n;
			*pm = md->m;
		}
	}
	return found;
}

int accel_fit_weights(Graph *g, const nnzrt_accel_config *cfg, Diag *d)
{
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		WeightView view;
		if (n->dead || !weight_view(n, 1, &view))
			continue;
		Value *w = n->in[1];
		if (w->data == NULL || runnable(cfg, w->sparse))
			continue;
		int64_t numel = view.rows * view.cols, nz = 0;
		float *data = w->data;
		double total = 0;
		for (int64_t r = 0; r < view.rows; r++)
			for (int64_t j = 0; j < view.cols; j++) {
				float x = data[weight_view_offset(&view, r, j)];
				nz += x != 0.0f;
				total += (double)x * x;
			}
		int nn, mm;
		char from[64] = "?";
		FILE *ef = fmemopen(from, sizeof from, "w");
		if (ef) {
			encoding_print(&w->enc, ef);
			fclose(ef);
		}
		Encoding e = {.kind = ENC_NM};
		if (!pick_mode(cfg, numel ? (double)nz / (double)numel : 0, &nn, &mm) || view.cols < mm ||
		    (view.group < view.cols && view.group % mm != 0)) {
			graph_remark(g, "accel", n, NULL, 0, "weight %s kept as it is (runs dense): %s", from,
				     pick_mode(cfg, 0, &nn, &mm) ? "its shape does not take the config's N:M groups"
								 : "the config has no N:M mode");
			continue;
		}
		e.u.nm.n = nn;
		e.u.nm.m = mm;
		double dropped = sparse_project(data, &view, &e);
		if (dropped < 0)
			return node_error(d, n, "out of memory");
		if (sparse_attach(g, w, &view, &e, d) < 0)
			return -1;
		double frac = total > 0 && dropped > 0 ? sqrt(dropped / total) : 0.0;
		graph_remark(g, "accel", n, "dropped_l2_fraction", frac,
			     "%s -> nm(%d,%d) for %s: dropped L2 fraction %.4f", from, nn, mm, cfg->name, frac);
	}
	return 0;
}
