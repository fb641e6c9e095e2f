/* Which matrices an encoding can hold (sparse_fits), and the nearest one it can (sparse_project).
 *
 * The rules, per kind (ties always go to the lower index, so results never depend on anything
 * but the data):
 *   nm(N,M)  keep the N largest magnitudes of every group of M consecutive columns of a row;
 *   tasd     greedy: term 1 keeps the top-N1 of every M1 group, term k the top-Nk of what the
 *            earlier terms left; the matrix becomes the sum of the terms;
 *   gs(V,B)  keep what a bank-conflict-free, load-balanced schedule can hold (sparse_gs.c);
 *   csr, bsr hold anything.
 * sparse_fits(x) is exactly "sparse_project(x) would drop nothing", and both share the selection
 * code with sparse_attach, so a matrix that fits always packs. */
#include "sparse_private.h"

#include <stdlib.h>
#include <string.h>

static int rank_cmp(const void *pa, const void *pb)
{
	const SpRank *a = pa, *b = pb;
	if (a->mag != b->mag)
		return a->mag > b->mag ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

static int off_cmp(const void *pa, const void *pb)
{
	return (int)*(const uint8_t *)pa - (int)*(const uint8_t *)pb;
}

void sp_nm_select(const float *vals, int w, int n, SpRank *scratch, uint8_t *off)
{
	int nz = 0;
	for (int i = 0; i < w; i++)
		nz += vals[i] != 0.0f;
	int k = 0;
	if (nz <= n) {
		/* the common case when packing: every non-zero, then the lowest zero offsets (real
		 * ones first, as their index is lower than any virtual one) */
		for (int i = 0; i < w && k < n; i++)
			if (vals[i] != 0.0f)
				off[k++] = (uint8_t)i;
		for (int i = 0; k < n; i++)
			if (i >= w || vals[i] == 0.0f)
				off[k++] = (uint8_t)i;
	} else {
		for (int i = 0; i < w; i++)
			scratch[i] = (SpRank){sp_mag(vals[i]), i};
		qsort(scratch, (size_t)w, sizeof *scratch, rank_cmp);
		for (; k < n; k++)
			off[k] = (uint8_t)scratch[k].idx;
	}
	qsort(off, (size_t)n, 1, off_cmp);
}

/* Keep the top-n of every group of m in the row-major matrix x (rows x cols): kept entries
 * move to `keep` (if not NULL, zeroed by the caller), the others stay in x. */
static void nm_split(float *x, int64_t rows, int64_t cols, int n, int m, float *keep, SpRank *scratch,
		     float *gbuf, uint8_t *off)
{
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c0 = 0; c0 < cols; c0 += m) {
			int w = (int)(cols - c0 < m ? cols - c0 : m);
			float *row = x + r * cols + c0;
			memcpy(gbuf, row, (size_t)w * sizeof *gbuf);
			sp_nm_select(gbuf, w, n, scratch, off);
			for (int j = 0; j < n; j++) {
				if (off[j] >= w)
					continue;
				if (keep)
					keep[r * cols + c0 + off[j]] = row[off[j]];
				row[off[j]] = 0.0f;
			}
		}
}

int sp_tasd_split(const float *data, const WeightView *v, const Encoding *enc, float *resid, float **terms)
{
	int mmax = 1;
	for (int t = 0; t < enc->u.tasd.nterms; t++)
		mmax = enc->u.tasd.term[t].m > mmax ? enc->u.tasd.term[t].m : mmax;
	SpRank *scratch = malloc((size_t)mmax * sizeof *scratch);
	float *gbuf = malloc((size_t)mmax * sizeof *gbuf);
	uint8_t *off = malloc((size_t)mmax);
	if (!scratch || !gbuf || !off) {
		free(scratch);
		free(gbuf);
		free(off);
		return -1;
	}
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c = 0; c < v->cols; c++)
			resid[r * v->cols + c] = data[weight_view_offset(v, r, c)];
	for (int t = 0; t < enc->u.tasd.nterms; t++) {
		if (terms)
			memset(terms[t], 0, (size_t)(v->rows * v->cols) * sizeof(float));
		nm_split(resid, v->rows, v->cols, enc->u.tasd.term[t].n, enc->u.tasd.term[t].m, terms ? terms[t] : NULL,
			 scratch, gbuf, off);
	}
	free(scratch);
	free(gbuf);
	free(off);
	return 0;
}

/* Apply nm to data in place through the view; returns the dropped squared L2 (and whether
 * anything non-zero was dropped, for fits). With `apply` false data is left untouched. */
static double nm_project(float *data, const WeightView *v, int n, int m, bool apply, int64_t *ndropped)
{
	SpRank scratch[256];
	float gbuf[256];
	uint8_t off[256];
	bool kept[256];
	double dropped = 0.0;
	*ndropped = 0;
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c0 = 0; c0 < v->cols; c0 += m) {
			int w = (int)(v->cols - c0 < m ? v->cols - c0 : m);
			int nz = 0;
			for (int i = 0; i < w; i++) {
				gbuf[i] = data[weight_view_offset(v, r, c0 + i)];
				nz += gbuf[i] != 0.0f;
			}
			if (nz <= n)
				continue;
			sp_nm_select(gbuf, w, n, scratch, off);
			memset(kept, 0, (size_t)w);
			for (int j = 0; j < n; j++)
				if (off[j] < w)
					kept[off[j]] = true;
			for (int i = 0; i < w; i++) {
				if (kept[i] || gbuf[i] == 0.0f)
					continue;
				dropped += (double)gbuf[i] * (double)gbuf[i];
				(*ndropped)++;
				if (apply)
					data[weight_view_offset(v, r, c0 + i)] = 0.0f;
			}
		}
	return dropped;
}

/* Returns the dropped squared L2, or -1 when out of memory. */
static double tasd_project(float *data, const WeightView *v, const Encoding *enc, bool apply, int64_t *ndropped)
{
	int64_t numel = v->rows * v->cols;
	float *resid = malloc((size_t)(numel ? numel : 1) * sizeof *resid);
	if (resid == NULL || sp_tasd_split(data, v, enc, resid, NULL) < 0) {
		free(resid);
		return -1.0;
	}
	double dropped = 0.0;
	*ndropped = 0;
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c = 0; c < v->cols; c++) {
			float x = resid[r * v->cols + c];
			if (x == 0.0f)
				continue;
			dropped += (double)x * (double)x;
			(*ndropped)++;
			if (apply)
				data[weight_view_offset(v, r, c)] = 0.0f;
		}
	free(resid);
	return dropped;
}

static double gs_project(float *data, const WeightView *v, int vv, int b, bool apply, int64_t *ndropped)
{
	double dropped = 0.0;
	*ndropped = 0;
	for (int64_t r0 = 0; r0 < v->rows; r0 += vv) {
		int lanes = (int)(v->rows - r0 < vv ? v->rows - r0 : vv);
		int64_t steps, nd = 0;
		double d2 = 0.0;
		if (sp_gs_plan(data, v, r0, lanes, b, apply, &steps, NULL, &d2, &nd) < 0)
			return -1.0;
		dropped += d2;
		*ndropped += nd;
	}
	return dropped;
}

const char *sp_unsupported(const Encoding *e, const WeightView *v)
{
	int64_t n;
	if (v->rows < 1 || v->cols < 1 || !mul_ok_i64(v->rows, v->cols, &n))
		return "an empty or oversized matrix";
	if (v->group < 1 || v->cols % v->group != 0)
		return "a matrix view whose columns per tap do not divide its columns";
	if (v->cols > INT32_MAX)
		return "more columns than 32-bit indices address"; /* no real weight comes near */
	switch (e->kind) {
	case ENC_DENSE:
	case ENC_CSR: return NULL;
	case ENC_BSR:
		if (e->u.bsr.r < 1 || e->u.bsr.c < 1)
			return "block sizes below 1";
		/* a block wider than the matrix would be mostly virtual padding, stored */
		if (e->u.bsr.r > v->rows || e->u.bsr.c > v->cols)
			return "blocks larger than the matrix";
		return NULL;
	case ENC_NM:
		if (e->u.nm.n < 1 || e->u.nm.n > e->u.nm.m || e->u.nm.m > 256)
			return "N:M needs 1 <= N <= M <= 256";
		return NULL;
	case ENC_GS: return e->u.gs.v >= 1 && e->u.gs.b >= 1 ? NULL : "V and B below 1";
	case ENC_TASD:
		if (e->u.tasd.nterms < 1 || e->u.tasd.nterms > NNZC_MAX_TASD_TERMS)
			return "1 to 4 terms";
		for (int t = 0; t < e->u.tasd.nterms; t++)
			if (e->u.tasd.term[t].n < 1 || e->u.tasd.term[t].n > e->u.tasd.term[t].m || e->u.tasd.term[t].m > 256)
				return "terms N:M need 1 <= N <= M <= 256";
		return NULL;
	}
	return "an unknown encoding";
}

bool sparse_fits(const float *data, const WeightView *view, const Encoding *enc)
{
	if (sp_unsupported(enc, view))
		return false;
	int64_t nd = 0;
	double r = 0.0;
	/* project with apply=false never writes: the cast only shares the code path */
	switch (enc->kind) {
	case ENC_DENSE:
	case ENC_CSR:
	case ENC_BSR: return true;
	case ENC_NM: r = nm_project((float *)data, view, enc->u.nm.n, enc->u.nm.m, false, &nd); break;
	case ENC_TASD: r = tasd_project((float *)data, view, enc, false, &nd); break;
	case ENC_GS: r = gs_project((float *)data, view, enc->u.gs.v, enc->u.gs.b, false, &nd); break;
	}
	return r >= 0.0 && nd == 0;
}

double sparse_project(float *data, const WeightView *view, const Encoding *enc)
{
	if (sp_unsupported(enc, view))
		return 0.0; /* nothing this encoding could pack: leave the data alone */
	int64_t nd;
	double r = 0.0;
	switch (enc->kind) {
	case ENC_DENSE:
	case ENC_CSR:
	case ENC_BSR: return 0.0;
	case ENC_NM: r = nm_project(data, view, enc->u.nm.n, enc->u.nm.m, true, &nd); break;
	case ENC_TASD: r = tasd_project(data, view, enc, true, &nd); break;
	case ENC_GS: r = gs_project(data, view, enc->u.gs.v, enc->u.gs.b, true, &nd); break;
	}
	return r;
}
