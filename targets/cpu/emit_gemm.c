/* MatMul, Gemm and nnzc.FusedGemm.
 *
 * Float products go through the blocked GEMM of gemm.c with B's columns as the vector lanes: a
 * constant B (a fully connected layer's weights) is repacked at compile time into column panels,
 * so at batch 1 the product is a GEMV streaming the panels with the output features in the
 * lanes; a non-constant B is read in place when its rows are contiguous and gathered into panels
 * otherwise. Gemm's C is an epilogue addend broadcast by strides (beta * C), the residual of the
 * fused form another, alpha scales the product, the activation comes last. A constant float B
 * with zeros may instead go to a sparse kernel, as the cost model decides (try_sparse below).
 *
 * Integer products (the int64 compute class) are plain loops with wrapping arithmetic, exactly
 * as the reference kernels compute them (alpha/beta other than 1 through double). */
#include "gemm.h"
#include "sparse.h"

#include <string.h>

/* ---------------------------------------------------------------- integer products */

typedef struct IntGemm {
	int64_t m, n, k;
	int nbd;
	int64_t bdim[NNZC_MAX_RANK], a_bs[NNZC_MAX_RANK], b_bs[NNZC_MAX_RANK], c_bs[NNZC_MAX_RANK];
	const Value *a, *b, *y, *cm; /* cm: Gemm's C or NULL */
	int64_t a_rs, a_ks, b_ks, b_ns, cm_rs, cm_cs;
	float alpha, beta;
	bool unit; /* alpha == beta == 1: exact wrapping sum */
} IntGemm;

/* One iteration per output row (batch x m). */
static int emit_int_gemm(Cg *cg, const IntGemm *q, NodeCode *code)
{
	LLVMBuilderRef b = cg->b;
	int64_t batch = 1;
	for (int i = 0; i < q->nbd; i++)
		batch *= q->bdim[i];
	code->n_tasks = 0;
	if (batch * q->m == 0 || q->n == 0)
		return 0;
	LLVMValueRef fn = cg_task_begin(cg, "igemm");
	LLVMValueRef pa = cg_ptr(cg, q->a), pb = cg_ptr(cg, q->b), py = cg_ptr(cg, q->y);
	LLVMValueRef pc = q->cm ? cg_ptr(cg, q->cm) : NULL;
	Loop il, jl, kl;
	LLVMValueRef it = cg_for(cg, &il, cg->begin, cg->end, 1, "row");
	LLVMValueRef i = LLVMBuildSRem(b, it, cg_i64(cg, q->m), "");
	LLVMValueRef rem = LLVMBuildSDiv(b, it, cg_i64(cg, q->m), "");
	LLVMValueRef ao = cg_i64(cg, 0), bo = ao, yo = ao;
	for (int d = q->nbd - 1; d >= 0; d--) {
		LLVMValueRef digit = LLVMBuildSRem(b, rem, cg_i64(cg, q->bdim[d]), "");
		rem = LLVMBuildSDiv(b, rem, cg_i64(cg, q->bdim[d]), "");
		ao = LLVMBuildAdd(b, ao, LLVMBuildMul(b, digit, cg_i64(cg, q->a_bs[d]), ""), "");
		bo = LLVMBuildAdd(b, bo, LLVMBuildMul(b, digit, cg_i64(cg, q->b_bs[d]), ""), "");
		yo = LLVMBuildAdd(b, yo, LLVMBuildMul(b, digit, cg_i64(cg, q->c_bs[d]), ""), "");
	}
	ao = LLVMBuildAdd(b, ao, LLVMBuildMul(b, i, cg_i64(cg, q->a_rs), ""), "");
	yo = LLVMBuildAdd(b, yo, LLVMBuildMul(b, i, cg_i64(cg, q->n), ""), "");
	LLVMValueRef j = cg_for(cg, &jl, cg_i64(cg, 0), cg_i64(cg, q->n), 1, "j");
	LLVMValueRef acc = cg_var(cg, cg->t_i64, cg_i64(cg, 0), "acc");
	LLVMValueRef bj = LLVMBuildAdd(b, bo, LLVMBuildMul(b, j, cg_i64(cg, q->b_ns), ""), "");
	LLVMValueRef p = cg_for(cg, &kl, cg_i64(cg, 0), cg_i64(cg, q->k), 1, "p");
	LLVMValueRef av = cg_load(cg, cg->t_i64, pa, LLVMBuildAdd(b, ao, LLVMBuildMul(b, p, cg_i64(cg, q->a_ks), ""), ""));
	LLVMValueRef bv = cg_load(cg, cg->t_i64, pb, LLVMBuildAdd(b, bj, LLVMBuildMul(b, p, cg_i64(cg, q->b_ks), ""), ""));
	/* plain (not nsw) add and mul wrap modulo 2^64, as the interpreter's uint64 arithmetic */
	LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, cg->t_i64, acc, ""), LLVMBuildMul(b, av, bv, ""), ""), acc);
	cg_for_end(cg, &kl);
	LLVMValueRef sum = LLVMBuildLoad2(b, cg->t_i64, acc, "");
	LLVMValueRef cv = cg_i64(cg, 0);
	if (pc) {
		LLVMValueRef co = LLVMBuildAdd(b, LLVMBuildMul(b, i, cg_i64(cg, q->cm_rs), ""),
					       LLVMBuildMul(b, j, cg_i64(cg, q->cm_cs), ""), "");
		cv = cg_load(cg, cg->t_i64, pc, co);
	}
	LLVMValueRef out;
	if (q->unit) {
		out = LLVMBuildAdd(b, sum, cv, "");
	} else {
		LLVMValueRef s = LLVMBuildFMul(b, LLVMConstReal(cg->t_f64, q->alpha), LLVMBuildSIToFP(b, sum, cg->t_f64, ""), "");
		LLVMValueRef t = LLVMBuildFMul(b, LLVMConstReal(cg->t_f64, q->beta), LLVMBuildSIToFP(b, cv, cg->t_f64, ""), "");
		out = LLVMBuildFPToSI(b, LLVMBuildFAdd(b, s, t, ""), cg->t_i64, "");
	}
	cg_store(cg, cg_round_dtype(cg, q->y->dtype, out), py, LLVMBuildAdd(b, yo, j, ""));
	cg_for_end(cg, &jl);
	cg_for_end(cg, &il);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = batch * q->m;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- sparse weights */

/* A float product whose B is a constant weight: the cost model (sparse.h) chooses between the
 * dense GEMM and the sparse kernels from the weight's actual zeros. CK_SPARSE_LANES (sparse_gemm.c)
 * puts the output features in the lanes and serves a few rows of X (batch 1). CK_SPARSE_ROWS and
 * BLOCKS (spmm.c) run the product transposed, C^T = W x X^T with W = B^T (rows = output
 * features), so that the lanes run along X's rows and each weight is a broadcast.
 *
 * The transposed kinds are offered only when --kernels forces sparse kernels: spmm.c's
 * transposed C (c_trans) stores and reloads its partial sums lane by lane at C's row stride once
 * per k-block, which on a transformer's MatMul (X 128 x 768, W 768 x 3072, 90% zeros) measured
 * 56 ms against 2.5-9 ms dense, while the cost model predicts 0.57 ms and would pick it. Until
 * that path is fast (or calibrated), many rows of X stay dense under --kernels auto.
 * Returns 0 when a sparse kernel was emitted, 1 when the dense kernel is to be used, -1 on error. */
static int try_sparse(Cg *cg, const Node *n, const GemmSpec *s, NodeCode *code)
{
	const Value *w = s->b;
	if (w->data == NULL || w->producer || !dtype_is_float(w->dtype) || s->nbd != 0 || s->k > INT32_MAX ||
	    s->m == 0 || s->n == 0 || s->k == 0)
		return 1;
	SpRows rows;
	if (sprows_build(w->data, s->n, s->k, s->b_ns, s->b_ks, &rows) < 0)
		return node_error(cg->d, n, "out of memory");
	/* the transposed product for spmm.c: A = W [n][k], B = X^T [k][m], C stored as Y */
	GemmSpec t = *s;
	t.m = s->n;
	t.n = s->m;
	t.a = w;
	t.a_rs = s->b_ns;
	t.a_ks = s->b_ks;
	t.b = s->a;
	t.b_ks = s->a_ks;
	t.b_ns = s->a_rs;
	t.b_kind = t.b_ns == 1 ? GB_DIRECT : GB_GATHER;
	t.c_trans = true;
	int br = spmm_block_rows(&rows, t.m), pr = sparse_pattern_rows(t.m);
	ProductShape p = {.m = t.m, .n = t.n, .k = s->k, .batch = 1, .nnz = rows.nnz, .block_r = br};
	unsigned can = 0;
	if (cg->opt->kernels == CPU_KERNELS_SPARSE) {
		can |= 1u << CK_SPARSE_ROWS;
		if (br > 1)
			can |= 1u << CK_SPARSE_BLOCKS;
		if (pr > 0) {
			can |= 1u << CK_SPARSE_PATTERNS;
			p.entries = sparse_pattern_entries(w->data, s->n, s->k, s->b_ns, s->b_ks, pr);
		}
	}
	if (spgemm_lanes_can_run(s))
		can |= 1u << CK_SPARSE_LANES;
	CpuKernelKind kind = cpu_choose_kernel(cg, n, &p, can);
	int rc = 1;
	if (kind == CK_SPARSE_LANES)
		rc = spgemm_lanes_emit(cg, s, &rows, code);
	else if (kind != CK_DENSE)
		rc = spmm_emit(cg, &t, &rows, kind, kind == CK_SPARSE_BLOCKS ? br : kind == CK_SPARSE_PATTERNS ? pr : 1, code);
	sprows_free(&rows);
	if (rc == 1 && kind != CK_DENSE) {
		double dense = cpu_cost_seconds(cg, CK_DENSE, &p);
		cpu_note_choice(cg, n, CK_DENSE, dense, dense);
	}
	return rc;
}

/* ---------------------------------------------------------------- Gemm, FusedGemm */

int emit_gemm(Cg *cg, const Node *n, NodeCode *code)
{
	static const Activation none = {ACT_NONE, 0.0f, 0.0f};
	bool fused = n->op == OP_FusedGemm;
	const GemmAttrs *ga = fused ? &n->attr.fused_gemm.gemm : &n->attr.gemm;
	const Activation *act = fused ? &n->attr.fused_gemm.act : &none;
	const Value *a = n->in[0], *b = n->in[1], *c = opt_input(n, 2), *r = fused ? opt_input(n, 3) : NULL;
	const Value *y = n->out[0];
	int64_t m = y->shape.dim[0], nn = y->shape.dim[1], k = a->shape.dim[ga->trans_a ? 0 : 1];
	int64_t cm = 1, cn = 1;
	if (c) {
		int rk = c->shape.rank;
		cm = rk == 2 ? c->shape.dim[0] : 1;
		cn = rk >= 1 ? c->shape.dim[rk - 1] : 1;
		if (rk > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != nn))
			return node_error(cg->d, n, "C does not broadcast to [%lld,%lld]", (long long)m, (long long)nn);
	}
	if (!dtype_is_float(y->dtype)) {
		if (r || act->kind != ACT_NONE)
			return node_error(cg->d, n, "integer %s with a residual or activation is not supported", op_name(n->op));
		IntGemm q = {.m = m, .n = nn, .k = k, .a = a, .b = b, .y = y, .cm = c, .alpha = ga->alpha, .beta = ga->beta};
		q.a_rs = ga->trans_a ? 1 : k;
		q.a_ks = ga->trans_a ? m : 1;
		q.b_ks = ga->trans_b ? 1 : nn;
		q.b_ns = ga->trans_b ? k : 1;
		q.cm_rs = cm == 1 ? 0 : cn;
		q.cm_cs = cn == 1 ? 0 : 1;
		q.unit = ga->alpha == 1.0f && ga->beta == 1.0f;
		return emit_int_gemm(cg, &q, code);
	}
	GemmSpec s;
	memset(&s, 0, sizeof s);
	s.node = n;
	s.m = m;
	s.n = nn;
	s.k = k;
	s.a = a;
	s.a_rs = ga->trans_a ? 1 : k;
	s.a_ks = ga->trans_a ? m : 1;
	s.b = b;
	s.b_ks = ga->trans_b ? 1 : nn;
	s.b_ns = ga->trans_b ? k : 1;
	if (b->data)
		s.b_kind = GB_PACKED;
	else
		s.b_kind = s.b_ns == 1 ? GB_DIRECT : GB_GATHER;
	s.c = y;
	s.ldc = nn;
	s.alpha = ga->alpha;
	if (c && ga->beta != 0.0f) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = c;
		ad->scale = ga->beta;
		ad->rs = cm == 1 ? 0 : cn;
		ad->cs = cn == 1 ? 0 : 1;
	}
	if (r) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = r;
		ad->scale = 1.0f;
		ad->rs = nn;
		ad->cs = 1;
	}
	s.act = *act;
	int rc = try_sparse(cg, n, &s, code);
	return rc == 1 ? gemm_emit(cg, &s, code) : rc;
}

/* ---------------------------------------------------------------- MatMul */

int emit_matmul(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
	int ra = a->shape.rank, rb = b->shape.rank;
	int64_t m = ra == 1 ? 1 : a->shape.dim[ra - 2], k = a->shape.dim[ra - 1];
	int64_t nn = rb == 1 ? 1 : b->shape.dim[rb - 1];
	/* the result's batch dims; each operand's (right-aligned) strides over them, 0 where it is
	 * broadcast */
	int nb = y->shape.rank - (ra > 1) - (rb > 1), na = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
	int64_t sa[NNZC_MAX_RANK], sb[NNZC_MAX_RANK], sc[NNZC_MAX_RANK], batch = 1, batch_a = 1, batch_b = 1;
	int64_t st_a = m * k, st_b = k * nn, st_c = m * nn;
	for (int i = nb - 1; i >= 0; i--) {
		int ia = i - (nb - na), ib = i - (nb - nbb);
		int64_t da = ia >= 0 ? a->shape.dim[ia] : 1, db = ib >= 0 ? b->shape.dim[ib] : 1;
		sa[i] = da == 1 ? 0 : st_a;
		sb[i] = db == 1 ? 0 : st_b;
		sc[i] = st_c;
		st_a *= da;
		st_b *= db;
		st_c *= y->shape.dim[i];
		batch *= y->shape.dim[i];
		batch_a *= da;
		batch_b *= db;
	}
	if (!dtype_is_float(y->dtype)) {
		IntGemm q = {.m = m, .n = nn, .k = k, .nbd = nb, .a = a, .b = b, .y = y, .alpha = 1, .beta = 1, .unit = true};
		q.a_rs = k;
		q.a_ks = 1;
		q.b_ks = nn;
		q.b_ns = 1;
		for (int i = 0; i < nb; i++) {
			q.bdim[i] = y->shape.dim[i];
			q.a_bs[i] = sa[i];
			q.b_bs[i] = sb[i];
			q.c_bs[i] = sc[i];
		}
		return emit_int_gemm(cg, &q, code);
	}
	GemmSpec s;
	memset(&s, 0, sizeof s);
	s.node = n;
	s.m = m;
	s.n = nn;
	s.k = k;
	s.a = a;
	s.a_rs = k;
	s.a_ks = 1;
	s.b = b;
	s.b_ks = nn;
	s.b_ns = 1;
	s.c = y;
	s.ldc = nn;
	s.alpha = 1.0f;
	s.act.kind = ACT_NONE;
	if (batch_b == 1 && batch_a == batch) {
		/* B shared by every batch: one product with the batches stacked along M */
		s.m = batch * m;
		s.b_kind = b->data ? GB_PACKED : GB_DIRECT;
		if (rb == 2) {
			int rc = try_sparse(cg, n, &s, code);
			if (rc != 1)
				return rc;
		}
	} else {
		s.b_kind = GB_DIRECT;
		s.nbd = nb;
		for (int i = 0; i < nb; i++) {
			s.bdim[i] = y->shape.dim[i];
			s.a_bs[i] = sa[i];
			s.b_bs[i] = sb[i];
			s.c_bs[i] = sc[i];
		}
	}
	return gemm_emit(cg, &s, code);
}
