/* The matrix view of a weight, and reading a packed form back (decode, non-zero count).
 *
 * Every encoding describes a matrix whose rows are output channels and whose columns are the
 * reduction index, whatever the op's own layout: this file is the one place that knows how
 * Conv, Gemm and MatMul lay their weights out, so that passes, packing and kernels agree on what
 * "row" and "column" mean. A Conv's columns are ordered tap-major, channel-minor (not the
 * weight's own channel-major order): everything reads them through weight_view_offset, and
 * kernels map them to their reduction order with weight_view_reduction (nnzc/ir.h). */
#include "sparse_private.h"

#include <string.h>

bool weight_view(const Node *n, int slot, WeightView *view)
{
	if (slot != 1 || n->n_in < 2 || n->in[1] == NULL)
		return false;
	const Value *w = n->in[1];
	if (!value_is_const(w) || !dtype_is_float(w->dtype) || !shape_is_static(&w->shape))
		return false;
	const Shape *s = &w->shape;
	WeightView r;
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv: {
		/* W[O, Cg, k...]: a row is one output channel's whole receptive field, its columns
		 * ordered tap-major, channel-minor (column j = channel j % Cg at tap j / Cg), so that
		 * nm groups run along the input channels at a fixed tap as DESIGN.md fixes it */
		if (s->rank < 3)
			return false;
		int64_t taps = 1, cols;
		for (int i = 2; i < s->rank; i++)
			if (!mul_ok_i64(taps, s->dim[i], &taps))
				return false;
		if (!mul_ok_i64(s->dim[1], taps, &cols))
			return false;
		r = (WeightView){s->dim[0], cols, cols, taps, s->dim[1], 1};
		break;
	}
	case OP_Gemm:
	case OP_FusedGemm: {
		int64_t tb = n->op == OP_Gemm ? n->attr.gemm.trans_b : n->attr.fused_gemm.gemm.trans_b;
		if (s->rank != 2)
			return false;
		/* one "tap": group = cols, tap_stride unused */
		if (tb) /* B[N, K] is already output-major */
			r = (WeightView){s->dim[0], s->dim[1], s->dim[1], 1, s->dim[1], 0};
		else    /* B[K, N] seen transposed */
			r = (WeightView){s->dim[1], s->dim[0], 1, s->dim[1], s->dim[0], 0};
		break;
	}
	case OP_MatMul:
		if (s->rank != 2)
			return false; /* a batched B is a different matrix per batch: not a weight */
		r = (WeightView){s->dim[1], s->dim[0], 1, s->dim[1], s->dim[0], 0};
		break;
	default: return false;
	}
	if (r.rows < 1 || r.cols < 1 || r.group < 1)
		return false;
	if (view)
		*view = r;
	return true;
}

/* Add term s into dense (already holding the earlier terms, or zeros). */
static void decode_add(const SparseData *s, float *dense)
{
	const WeightView *v = &s->view;
	switch (s->enc.kind) {
	case ENC_CSR:
		for (int64_t r = 0; r < v->rows; r++)
			for (int64_t k = s->u.csr.row_ptr[r]; k < s->u.csr.row_ptr[r + 1]; k++)
				dense[weight_view_offset(v, r, s->u.csr.col[k])] += s->u.csr.val[k];
		break;
	case ENC_BSR: {
		int64_t br = s->enc.u.bsr.r, bc = s->enc.u.bsr.c;
		for (int64_t i = 0; i < s->u.bsr.brows; i++)
			for (int64_t k = s->u.bsr.row_ptr[i]; k < s->u.bsr.row_ptr[i + 1]; k++) {
				const float *blk = s->u.bsr.val + k * br * bc;
				int64_t c0 = (int64_t)s->u.bsr.col[k] * bc;
				for (int64_t y = 0; y < br && i * br + y < v->rows; y++)
					for (int64_t x = 0; x < bc && c0 + x < v->cols; x++)
						dense[weight_view_offset(v, i * br + y, c0 + x)] += blk[y * bc + x];
			}
		break;
	}
	case ENC_NM: {
		int64_t n = s->enc.u.nm.n, m = s->enc.u.nm.m, groups = s->u.nm.groups;
		for (int64_t r = 0; r < v->rows; r++)
			for (int64_t g = 0; g < groups; g++) {
				const uint8_t *off = s->u.nm.off + (r * groups + g) * n;
				const float *val = s->u.nm.val + (r * groups + g) * n;
				for (int64_t j = 0; j < n; j++) {
					int64_t c = g * m + off[j];
					if (c < v->cols) /* offsets past a partial last group are virtual zeros */
						dense[weight_view_offset(v, r, c)] += val[j];
				}
			}
		break;
	}
	case ENC_GS: {
		int64_t vv = s->enc.u.gs.v;
		for (int64_t g = 0; g < s->u.gs.ngroups; g++) {
			int64_t lanes = v->rows - g * vv < vv ? v->rows - g * vv : vv;
			for (int64_t k = s->u.gs.ptr[g]; k < s->u.gs.ptr[g + 1]; k++)
				dense[weight_view_offset(v, g * vv + (k - s->u.gs.ptr[g]) % lanes, s->u.gs.col[k])] += s->u.gs.val[k];
		}
		break;
	}
	case ENC_TASD:
		for (int t = 0; t < s->u.tasd.nterms; t++)
			decode_add(s->u.tasd.term[t], dense);
		break;
	case ENC_DENSE: break;
	}
}

/* Every position is stored at most once per term, and terms have disjoint supports, so the
 * additions into zeros are exact: decode gives the packed values bit for bit (up to the sign
 * of zero). */
void sparse_decode(const SparseData *s, float *dense)
{
	memset(dense, 0, (size_t)(s->view.rows * s->view.cols) * sizeof *dense);
	decode_add(s, dense);
}

static int64_t count_nz(const float *v, int64_t n)
{
	int64_t k = 0;
	for (int64_t i = 0; i < n; i++)
		k += v[i] != 0.0f;
	return k;
}

int64_t sparse_nnz(const SparseData *s)
{
	switch (s->enc.kind) {
	case ENC_CSR: return count_nz(s->u.csr.val, s->stored);
	case ENC_BSR: return count_nz(s->u.bsr.val, s->stored);
	case ENC_NM: return count_nz(s->u.nm.val, s->stored);
	case ENC_GS: return count_nz(s->u.gs.val, s->stored);
	case ENC_TASD: {
		int64_t k = 0;
		for (int t = 0; t < s->u.tasd.nterms; t++)
			k += sparse_nnz(s->u.tasd.term[t]);
		return k;
	}
	case ENC_DENSE: break;
	}
	return 0;
}
