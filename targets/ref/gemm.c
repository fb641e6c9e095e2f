/* Matrix products: Gemm, nnzc.FusedGemm and MatMul (numpy semantics: 1-D operands, batched
 * with broadcasting). Float products go through sgemm(); the integer types ONNX allows for
 * MatMul and Gemm take a plain triple loop with wrapping arithmetic, which is all they need.
 * An encoded weight B (Tensor.sparse) is computed from its packed form by sparse_rows(), as
 * the transposed product Y^T = Bview x A^T (the view's rows are B's output features).
 *
 * Gemm is FusedGemm without an activation or residual: Y is first filled with beta*C (and R),
 * then the product is accumulated into it and the activation applied in place, so the fused
 * form and the unfused one run the same code. */
#include "nn.h"
#include "loop.h"

#include <string.h>

/* ---------------------------------------------------------------- Gemm, FusedGemm */

/* Strides that broadcast C (rank <= 2, unidirectionally) over an m x n result. */
static void bias_strides(const Tensor *c, int64_t *sm, int64_t *sn)
{
	int r = c->shape.rank;
	int64_t cm = r == 2 ? c->shape.dim[0] : 1, cn = r >= 1 ? c->shape.dim[r - 1] : 1;
	*sm = cm == 1 ? 0 : cn;
	*sn = cn == 1 ? 0 : 1;
}

/* Integer Gemm: exact (wrapping) when alpha and beta are 1, as in every real model; other
 * scales go through double, as ONNX Runtime casts them. */
static void gemm_int(const GemmAttrs *g, const Tensor *a, const Tensor *b, const Tensor *c, int64_t m, int64_t n,
		     int64_t k, int64_t *y)
{
	const int64_t *pa = a->data, *pb = b->data;
	int64_t sm = 0, sn = 0;
	if (c)
		bias_strides(c, &sm, &sn);
	bool unit = g->alpha == 1.0f && g->beta == 1.0f;
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			uint64_t acc = 0;
			for (int64_t p = 0; p < k; p++) {
				int64_t av = g->trans_a ? pa[p * m + i] : pa[i * k + p];
				int64_t bv = g->trans_b ? pb[j * k + p] : pb[p * n + j];
				acc += (uint64_t)av * (uint64_t)bv;
			}
			int64_t cv = c ? ((const int64_t *)c->data)[i * sm + j * sn] : 0;
			if (unit)
				y[i * n + j] = (int64_t)(acc + (uint64_t)cv);
			else
				y[i * n + j] = (int64_t)(g->alpha * (double)(int64_t)acc + g->beta * (double)cv);
		}
}

static int gemm_run(const Node *n, const GemmAttrs *g, const Activation *act, Tensor *const *in, Tensor *y,
		    Diag *d)
{
	const Tensor *a = in[0], *b = in[1], *c = nn_opt_in(n, in, 2);
	const Tensor *r = n->op == OP_FusedGemm ? nn_opt_in(n, in, 3) : NULL;
	int64_t m = y->shape.dim[0], nn = y->shape.dim[1];
	int64_t k = a->shape.dim[g->trans_a ? 0 : 1];
	if (a->shape.dim[g->trans_a ? 1 : 0] != m || b->shape.dim[g->trans_b ? 1 : 0] != k ||
	    b->shape.dim[g->trans_b ? 0 : 1] != nn)
		return node_error(d, n, "operand shapes disagree with the output at run time");
	if (c != NULL) {
		int rc = c->shape.rank;
		int64_t cm = rc == 2 ? c->shape.dim[0] : 1, cn = rc >= 1 ? c->shape.dim[rc - 1] : 1;
		if (rc > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != nn))
			return node_error(d, n, "C does not broadcast to [%lld,%lld] at run time", (long long)m, (long long)nn);
	}
	if (nn_check_numel(n, r, m * nn, "residual", d) < 0)
		return -1;
	if (!dtype_is_float(y->dtype)) {
		if (r != NULL || act->kind != ACT_NONE)
			return node_error(d, n, "integer %s with a residual or activation is not supported",
					  op_name(n->op));
		gemm_int(g, a, b, c, m, nn, k, y->data);
		ref_round_result(y);
		return 0;
	}
	float *py = y->data;
	bool acc = false;
	if (c != NULL && g->beta != 0.0f) {
		const float *pc = c->data;
		int64_t sm, sn;
		bias_strides(c, &sm, &sn);
		for (int64_t i = 0; i < m; i++)
			for (int64_t j = 0; j < nn; j++)
				py[i * nn + j] = g->beta * pc[i * sm + j * sn];
		acc = true;
	}
	if (r != NULL) {
		const float *pr = r->data;
		for (int64_t i = 0; i < m * nn; i++)
			py[i] = acc ? py[i] + pr[i] : pr[i];
		acc = true;
	}
	if (b->sparse) {
		/* Y^T[N, M] += alpha * Bview[N, K] x A'^T[K, M], from the packed form */
		if (sparse_check_view(n, b->sparse, nn, k, d) < 0)
			return -1;
		if (!acc)
			memset(py, 0, (size_t)(m * nn) * sizeof *py);
		MatRef at = g->trans_a ? (MatRef){a->data, m, 1} : (MatRef){a->data, 1, k};
		sparse_rows(b->sparse, 0, nn, m, g->alpha, at, py, 1, nn);
		act_apply(act, py, m * nn);
		ref_round_result(y);
		return 0;
	}
	MatRef ma = g->trans_a ? (MatRef){a->data, 1, m} : (MatRef){a->data, k, 1};
	MatRef mb = g->trans_b ? (MatRef){b->data, 1, k} : (MatRef){b->data, nn, 1};
	if (sgemm(m, nn, k, g->alpha, ma, mb, acc, py, nn) < 0)
		return node_error(d, n, "out of memory for packing buffers");
	act_apply(act, py, m * nn);
	ref_round_result(y);
	return 0;
}

int ref_gemm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	static const Activation none = {ACT_NONE, 0.0f, 0.0f};
	return gemm_run(n, &n->attr.gemm, &none, in, out[0], d);
}

int ref_fused_gemm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	return gemm_run(n, &n->attr.fused_gemm.gemm, &n->attr.fused_gemm.act, in, out[0], d);
}

/* ---------------------------------------------------------------- MatMul */

static void matmul_int(const int64_t *a, const int64_t *b, int64_t *y, int64_t m, int64_t n, int64_t k)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			uint64_t acc = 0;
			for (int64_t p = 0; p < k; p++)
				acc += (uint64_t)a[i * k + p] * (uint64_t)b[p * n + j];
			y[i * n + j] = (int64_t)acc;
		}
}

int ref_matmul(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *a = in[0], *b = in[1];
	Tensor *y = out[0];
	int ra = a->shape.rank, rb = b->shape.rank;
	int64_t m = ra == 1 ? 1 : a->shape.dim[ra - 2], k = a->shape.dim[ra - 1];
	int64_t nn = rb == 1 ? 1 : b->shape.dim[rb - 1];
	if (b->shape.dim[rb == 1 ? 0 : rb - 2] != k)
		return node_error(d, n, "inner dims differ at run time: %lld vs %lld", (long long)k,
				  (long long)b->shape.dim[rb == 1 ? 0 : rb - 2]);
	/* the result's batch dims; each operand's (right-aligned) strides over them, 0 where it is
	 * broadcast */
	int nb = y->shape.rank - (ra > 1) - (rb > 1), na = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
	int64_t sa[NNZC_MAX_RANK], sb[NNZC_MAX_RANK], batch = 1, batch_a = 1, batch_b = 1;
	int64_t st_a = m * k, st_b = k * nn;
	for (int i = nb - 1; i >= 0; i--) {
		int ia = i - (nb - na), ib = i - (nb - nbb);
		int64_t da = ia >= 0 ? a->shape.dim[ia] : 1, db = ib >= 0 ? b->shape.dim[ib] : 1;
		if ((da != 1 && da != y->shape.dim[i]) || (db != 1 && db != y->shape.dim[i]))
			return node_error(d, n, "batch dims disagree with the output at run time");
		sa[i] = da == 1 ? 0 : st_a;
		sb[i] = db == 1 ? 0 : st_b;
		st_a *= da;
		st_b *= db;
		batch *= y->shape.dim[i];
		batch_a *= da;
		batch_b *= db;
	}
	bool fl = dtype_is_float(y->dtype);
	if (fl && b->sparse) {
		/* a 2-D encoded B (the only kind weight_view allows), shared by every batch:
		 * Y^T[N, batch*M] = Bview[N, K] x A^T[K, batch*M], from the packed form */
		if (sparse_check_view(n, b->sparse, nn, k, d) < 0)
			return -1;
		memset(y->data, 0, (size_t)(batch * m * nn) * sizeof(float));
		sparse_rows(b->sparse, 0, nn, batch * m, 1.0f, (MatRef){a->data, 1, k}, y->data, 1, nn);
		ref_round_result(y);
		return 0;
	}
	if (fl && batch_b == 1 && batch_a == batch) {
		/* B shared by every batch: one product with the batches stacked along M */
		if (sgemm(batch * m, nn, k, 1.0f, (MatRef){a->data, k, 1}, (MatRef){b->data, nn, 1}, false, y->data, nn) < 0)
			return node_error(d, n, "out of memory for packing buffers");
		ref_round_result(y);
		return 0;
	}
	int64_t idx[NNZC_MAX_RANK] = {0};
	for (int64_t t = 0; t < batch; t++) {
		int64_t oa = 0, ob = 0;
		for (int i = 0; i < nb; i++) {
			oa += idx[i] * sa[i];
			ob += idx[i] * sb[i];
		}
		if (fl) {
			const float *pa = (const float *)a->data + oa, *pb = (const float *)b->data + ob;
			float *py = (float *)y->data + t * m * nn;
			if (sgemm(m, nn, k, 1.0f, (MatRef){pa, k, 1}, (MatRef){pb, nn, 1}, false, py, nn) < 0)
				return node_error(d, n, "out of memory for packing buffers");
		} else {
			matmul_int((const int64_t *)a->data + oa, (const int64_t *)b->data + ob,
				   (int64_t *)y->data + t * m * nn, m, nn, k);
		}
		for (int i = nb - 1; i >= 0; i--) {
			if (++idx[i] < y->shape.dim[i])
				break;
			idx[i] = 0;
		}
	}
	ref_round_result(y);
	return 0;
}
