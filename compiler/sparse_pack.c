/* Packing a weight that fits its encoding (sparse_attach): values plus indices, in the graph's
 * arena, laid out as struct SparseData in nnzc/ir.h says. The selection rules are the ones
 * sparse_fits checks (sparse_pattern.c, sparse_gs.c), so a matrix that fits always packs, and
 * decoding a pack gives the matrix back exactly. */
#include "sparse_private.h"

#include <stdlib.h>
#include <string.h>

/* Arena arrays sized by the weight: NULL (and *ok = false) on overflow or exhaustion. */
static void *arr(Arena *a, int64_t n, size_t size, bool *ok)
{
	if (!*ok)
		return NULL;
	void *p = n >= 0 ? arena_alloc_data(a, (size_t)(n ? n : 1), size) : NULL;
	if (p == NULL)
		*ok = false;
	return p;
}

static SparseData *new_pack(Arena *a, const WeightView *view, const Encoding *enc)
{
	SparseData *s = arena_alloc(a, sizeof *s);
	s->enc = *enc;
	s->view = *view;
	return s;
}

static SparseData *pack_csr(Arena *a, const float *data, const WeightView *v, const Encoding *enc)
{
	SparseData *s = new_pack(a, v, enc);
	int64_t nnz = 0;
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c = 0; c < v->cols; c++)
			nnz += data[weight_view_offset(v, r, c)] != 0.0f;
	bool ok = true;
	s->u.csr.row_ptr = arr(a, v->rows + 1, sizeof(int64_t), &ok);
	s->u.csr.col = arr(a, nnz, sizeof(int32_t), &ok);
	s->u.csr.val = arr(a, nnz, sizeof(float), &ok);
	if (!ok)
		return NULL;
	int64_t k = 0;
	for (int64_t r = 0; r < v->rows; r++) {
		s->u.csr.row_ptr[r] = k;
		for (int64_t c = 0; c < v->cols; c++) {
			float x = data[weight_view_offset(v, r, c)];
			if (x == 0.0f)
				continue;
			s->u.csr.col[k] = (int32_t)c;
			s->u.csr.val[k++] = x;
		}
	}
	s->u.csr.row_ptr[v->rows] = k;
	s->stored = k;
	return s;
}

static bool block_nonzero(const float *data, const WeightView *v, int64_t r0, int64_t c0, int64_t br, int64_t bc)
{
	for (int64_t r = r0; r < r0 + br && r < v->rows; r++)
		for (int64_t c = c0; c < c0 + bc && c < v->cols; c++)
			if (data[weight_view_offset(v, r, c)] != 0.0f)
				return true;
	return false;
}

static SparseData *pack_bsr(Arena *a, const float *data, const WeightView *v, const Encoding *enc)
{
	SparseData *s = new_pack(a, v, enc);
	int64_t br = enc->u.bsr.r, bc = enc->u.bsr.c;
	int64_t brows = (v->rows + br - 1) / br, bcols = (v->cols + bc - 1) / bc, nblocks = 0, bsize = 0, total = 0;
	for (int64_t i = 0; i < brows; i++)
		for (int64_t j = 0; j < bcols; j++)
			nblocks += block_nonzero(data, v, i * br, j * bc, br, bc);
	bool ok = mul_ok_i64(br, bc, &bsize) && mul_ok_i64(nblocks, bsize, &total);
	s->u.bsr.brows = brows;
	s->u.bsr.bcols = bcols;
	s->u.bsr.row_ptr = arr(a, brows + 1, sizeof(int64_t), &ok);
	s->u.bsr.col = arr(a, nblocks, sizeof(int32_t), &ok);
	s->u.bsr.val = arr(a, total, sizeof(float), &ok); /* zeroed: the virtual padding */
	if (!ok)
		return NULL;
	int64_t k = 0;
	for (int64_t i = 0; i < brows; i++) {
		s->u.bsr.row_ptr[i] = k;
		for (int64_t j = 0; j < bcols; j++) {
			if (!block_nonzero(data, v, i * br, j * bc, br, bc))
				continue;
			float *blk = s->u.bsr.val + k * bsize;
			for (int64_t y = 0; y < br && i * br + y < v->rows; y++)
				for (int64_t x = 0; x < bc && j * bc + x < v->cols; x++)
					blk[y * bc + x] = data[weight_view_offset(v, i * br + y, j * bc + x)];
			s->u.bsr.col[k++] = (int32_t)j;
		}
	}
	s->u.bsr.row_ptr[brows] = k;
	s->stored = total;
	return s;
}

/* data read through `from`; the pack describes `view` (they differ for TASD terms, which are
 * selected in a row-major scratch matrix but decode into the weight's own layout). */
static SparseData *pack_nm(Arena *a, const float *data, const WeightView *from, const WeightView *view,
			   const Encoding *enc)
{
	SparseData *s = new_pack(a, view, enc);
	int64_t n = enc->u.nm.n, m = enc->u.nm.m, groups = (from->cols + m - 1) / m, slots;
	bool ok = mul_ok_i64(from->rows, groups, &slots) && mul_ok_i64(slots, n, &slots);
	s->u.nm.groups = groups;
	s->u.nm.off = arr(a, slots, 1, &ok);
	s->u.nm.val = arr(a, slots, sizeof(float), &ok);
	if (!ok)
		return NULL;
	SpRank scratch[256];
	float gbuf[256];
	for (int64_t r = 0; r < from->rows; r++)
		for (int64_t g = 0; g < groups; g++) {
			int w = (int)(from->cols - g * m < m ? from->cols - g * m : m);
			for (int i = 0; i < w; i++)
				gbuf[i] = data[weight_view_offset(from, r, g * m + i)];
			uint8_t *off = s->u.nm.off + (r * groups + g) * n;
			float *val = s->u.nm.val + (r * groups + g) * n;
			sp_nm_select(gbuf, w, (int)n, scratch, off);
			for (int64_t j = 0; j < n; j++)
				val[j] = off[j] < w ? gbuf[off[j]] : 0.0f;
		}
	s->stored = slots;
	return s;
}

static SparseData *pack_gs(Arena *a, const float *data, const WeightView *v, const Encoding *enc)
{
	SparseData *s = new_pack(a, v, enc);
	int64_t vv = enc->u.gs.v, ngroups = (v->rows + vv - 1) / vv;
	int32_t **cols = calloc((size_t)ngroups, sizeof *cols);
	int64_t *ptr = malloc((size_t)(ngroups + 1) * sizeof *ptr);
	bool ok = cols != NULL && ptr != NULL;
	if (ptr)
		ptr[0] = 0;
	for (int64_t g = 0; g < ngroups && ok; g++) {
		int lanes = (int)(v->rows - g * vv < vv ? v->rows - g * vv : vv);
		int64_t steps, nd;
		double d2;
		/* the data fits (checked by the caller), so nothing is dropped and nothing written */
		ok = sp_gs_plan((float *)data, v, g * vv, lanes, enc->u.gs.b, false, &steps, &cols[g], &d2, &nd) == 0;
		if (ok)
			ptr[g + 1] = ptr[g] + steps * lanes;
	}
	s->u.gs.ngroups = ngroups;
	s->u.gs.ptr = arr(a, ngroups + 1, sizeof(int64_t), &ok);
	s->u.gs.col = arr(a, ok ? ptr[ngroups] : 0, sizeof(int32_t), &ok);
	s->u.gs.val = arr(a, ok ? ptr[ngroups] : 0, sizeof(float), &ok);
	if (ok) {
		memcpy(s->u.gs.ptr, ptr, (size_t)(ngroups + 1) * sizeof *ptr);
		for (int64_t g = 0; g < ngroups; g++) {
			int64_t lanes = v->rows - g * vv < vv ? v->rows - g * vv : vv;
			for (int64_t k = ptr[g]; k < ptr[g + 1]; k++) {
				int32_t c = cols[g][k - ptr[g]];
				s->u.gs.col[k] = c;
				s->u.gs.val[k] = data[weight_view_offset(v, g * vv + (k - ptr[g]) % lanes, c)];
			}
		}
		s->stored = ptr[ngroups];
	}
	for (int64_t g = 0; cols && g < ngroups; g++)
		free(cols[g]);
	free(cols);
	free(ptr);
	return ok ? s : NULL;
}

static SparseData *pack_tasd(Arena *a, const float *data, const WeightView *v, const Encoding *enc)
{
	SparseData *s = new_pack(a, v, enc);
	int nt = enc->u.tasd.nterms;
	int64_t numel = v->rows * v->cols;
	float *resid = malloc((size_t)numel * sizeof *resid), *terms[NNZC_MAX_TASD_TERMS] = {0};
	bool ok = resid != NULL;
	for (int t = 0; t < nt; t++)
		ok = ok && (terms[t] = malloc((size_t)numel * sizeof(float))) != NULL;
	ok = ok && sp_tasd_split(data, v, enc, resid, terms) == 0;
	WeightView rm = {v->rows, v->cols, v->cols, 1, v->cols, 0}; /* the scratch terms: view order, row-major */
	s->u.tasd.nterms = nt;
	for (int t = 0; t < nt && ok; t++) {
		Encoding e = {.kind = ENC_NM};
		e.u.nm.n = enc->u.tasd.term[t].n;
		e.u.nm.m = enc->u.tasd.term[t].m;
		SparseData *term = pack_nm(a, terms[t], &rm, v, &e);
		ok = term != NULL;
		s->u.tasd.term[t] = term;
		s->stored += ok ? term->stored : 0;
	}
	free(resid);
	for (int t = 0; t < nt; t++)
		free(terms[t]);
	return ok ? s : NULL;
}

static void enc_str(const Encoding *e, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	buf[0] = '\0';
	if (f) {
		encoding_print(e, f);
		fclose(f);
	}
}

int sparse_attach(Graph *g, Value *v, const WeightView *view, const Encoding *enc, Diag *d)
{
	char es[96];
	if (enc->kind == ENC_DENSE) {
		v->enc = *enc;
		v->sparse = NULL;
		return 0;
	}
	enc_str(enc, es, sizeof es);
	if (v->data == NULL || !dtype_is_float(v->dtype))
		return diag_error(d, "cannot encode '%s' as %s: not a float constant with a payload", v->name, es);
	int64_t numel = shape_numel(&v->shape), vn;
	if (!mul_ok_i64(view->rows, view->cols, &vn) || vn != numel)
		return diag_error(d, "cannot encode '%s' as %s: a %lld x %lld matrix view of %lld elements", v->name, es,
				  (long long)view->rows, (long long)view->cols, (long long)numel);
	const char *why = sp_unsupported(enc, view);
	if (why)
		return diag_error(d, "cannot encode '%s' as %s: %s", v->name, es, why);
	if (!sparse_fits(v->data, view, enc))
		return diag_error(d, "'%s' does not fit %s: encoding it would change values", v->name, es);
	SparseData *s = NULL;
	switch (enc->kind) {
	case ENC_CSR: s = pack_csr(g->arena, v->data, view, enc); break;
	case ENC_BSR: s = pack_bsr(g->arena, v->data, view, enc); break;
	case ENC_NM: s = pack_nm(g->arena, v->data, view, view, enc); break;
	case ENC_GS: s = pack_gs(g->arena, v->data, view, enc); break;
	case ENC_TASD: s = pack_tasd(g->arena, v->data, view, enc); break;
	case ENC_DENSE: break;
	}
	if (s == NULL)
		return diag_error(d, "out of memory packing '%s' as %s", v->name, es);
	v->enc = *enc;
	v->sparse = s;
	return 0;
}
