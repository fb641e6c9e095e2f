/* Vector helpers for the reduction-style emitters (pooling, Reduce*, ArgMax, Softmax, the
 * normalisations): constants of any scalar or vector type, the combining operations of a
 * reduction and their horizontal (cross-lane) form, a vectorised expf, per-lane libm calls,
 * constant index tables, and CgRowAcc, the reduction of contiguous runs into one value.
 *
 * Every helper takes scalar and vector operands alike and derives the lane count from the
 * operand's type, so an emitter writes its arithmetic once for the vector loop and its scalar
 * tail. */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_vec(LLVMTypeRef t) { return LLVMGetTypeKind(t) == LLVMVectorTypeKind; }
static LLVMTypeRef scalar_of(LLVMTypeRef t) { return is_vec(t) ? LLVMGetElementType(t) : t; }
static bool is_fp(LLVMTypeRef t)
{
	LLVMTypeKind k = LLVMGetTypeKind(scalar_of(t));
	return k == LLVMFloatTypeKind || k == LLVMDoubleTypeKind || k == LLVMHalfTypeKind;
}

static LLVMValueRef splat_const(LLVMTypeRef t, LLVMValueRef c)
{
	if (!is_vec(t))
		return c;
	unsigned lanes = LLVMGetVectorSize(t);
	LLVMValueRef e[64];
	if (lanes > 64)
		lanes = 64; /* never: vlen is at most 16 f32 lanes; kept finite for the array */
	for (unsigned i = 0; i < lanes; i++)
		e[i] = c;
	return LLVMConstVector(e, lanes);
}

LLVMValueRef cg_constf(Cg *cg, LLVMTypeRef t, double v)
{
	(void)cg;
	return splat_const(t, LLVMConstReal(scalar_of(t), v));
}

LLVMValueRef cg_consti(Cg *cg, LLVMTypeRef t, int64_t v)
{
	(void)cg;
	return splat_const(t, LLVMConstInt(scalar_of(t), (unsigned long long)v, 1));
}

LLVMValueRef cg_combine(Cg *cg, CgRed op, LLVMValueRef a, LLVMValueRef b)
{
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef t = LLVMTypeOf(a);
	bool fp = is_fp(t);
	switch (op) {
	case CG_ADD: return fp ? LLVMBuildFAdd(B, a, b, "") : LLVMBuildAdd(B, a, b, "");
	case CG_MUL: return fp ? LLVMBuildFMul(B, a, b, "") : LLVMBuildMul(B, a, b, "");
	case CG_MAX:
	case CG_MIN:
		if (!fp)
			return cg_intrinsic(cg, op == CG_MAX ? "llvm.smax" : "llvm.smin", t, (LLVMValueRef[]){a, b}, 2);
		/* b > a ? b : a: a NaN in b is never taken (x86 maxps/minps with the operands this way round) */
		return LLVMBuildSelect(B, LLVMBuildFCmp(B, op == CG_MAX ? LLVMRealOGT : LLVMRealOLT, b, a, ""), b, a, "");
	case CG_MAX_NAN:
	case CG_MIN_NAN:
		if (!fp)
			return cg_intrinsic(cg, op == CG_MAX_NAN ? "llvm.smax" : "llvm.smin", t, (LLVMValueRef[]){a, b}, 2);
		return cg_intrinsic(cg, op == CG_MAX_NAN ? "llvm.maximum" : "llvm.minimum", t, (LLVMValueRef[]){a, b}, 2);
	}
	return NULL;
}

/* lanes [from, from + n) of v as a vector of n lanes */
static LLVMValueRef sub_vector(Cg *cg, LLVMValueRef v, unsigned from, unsigned n)
{
	LLVMValueRef idx[64];
	for (unsigned i = 0; i < n; i++)
		idx[i] = cg_i32(cg, (int32_t)(from + i));
	return LLVMBuildShuffleVector(cg->b, v, LLVMGetPoison(LLVMTypeOf(v)), LLVMConstVector(idx, n), "");
}

LLVMValueRef cg_hreduce(Cg *cg, CgRed op, LLVMValueRef v)
{
	LLVMTypeRef t = LLVMTypeOf(v);
	if (!is_vec(t))
		return v;
	unsigned lanes = LLVMGetVectorSize(t);
	/* halve while even: the pairs combined are lanes i and i + half, a balanced tree */
	while (lanes > 1 && lanes % 2 == 0) {
		unsigned h = lanes / 2;
		v = cg_combine(cg, op, sub_vector(cg, v, 0, h), sub_vector(cg, v, h, h));
		lanes = h;
	}
	LLVMValueRef r = LLVMBuildExtractElement(cg->b, v, cg_i32(cg, 0), "");
	for (unsigned i = 1; i < lanes; i++)
		r = cg_combine(cg, op, r, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, (int32_t)i), ""));
	return r;
}

static LLVMValueRef fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	return cg_intrinsic(cg, "llvm.fmuladd", LLVMTypeOf(a), (LLVMValueRef[]){a, b, c}, 3);
}

/* expf on float lanes, after Cephes: k = round(x / ln 2), r = x - k ln 2 in two parts (Cody and
 * Waite), e^r by a degree-7 polynomial (relative error about 1 ulp on |r| <= ln2/2), times 2^k
 * built in the exponent field. 2^k is applied as two factors 2^(k/2) and 2^(k-k/2), each a
 * normal float, so results down in the subnormal range are rounded once, correctly, by the last
 * multiplication; x is clamped to [-104, 89] first, where e^x is already 0 and +inf in float.
 * NaN is given back unchanged. No libm call, no table, no branch: the loops stay vectorised. */
LLVMValueRef cg_exp(Cg *cg, LLVMValueRef x)
{
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMTypeRef it = is_vec(t) ? LLVMVectorType(cg->t_i32, LLVMGetVectorSize(t)) : cg->t_i32;
	/* NaN goes to the low clamp (and comes back at the end): nothing below sees a NaN */
	LLVMValueRef lo = cg_constf(cg, t, -104.0), hi = cg_constf(cg, t, 89.0);
	LLVMValueRef xc = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGE, x, lo, ""), x, lo, "");
	xc = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOLE, xc, hi, ""), xc, hi, "");
	/* k = round-to-nearest(x * log2(e)) by adding 1.5 * 2^23: the integer lands in the low
	 * mantissa bits, and the float subtraction gives k back exactly */
	LLVMValueRef magic = cg_constf(cg, t, 12582912.0);
	LLVMValueRef tk = LLVMBuildFAdd(B, LLVMBuildFMul(B, xc, cg_constf(cg, t, 1.44269504088896341), ""), magic, "");
	LLVMValueRef kf = LLVMBuildFSub(B, tk, magic, "");
	LLVMValueRef k = LLVMBuildSub(B, LLVMBuildBitCast(B, tk, it, ""), cg_consti(cg, it, 0x4B400000), "");
	/* ln 2 = C1 + C2 with C1 short enough that k * C1 is exact */
	LLVMValueRef r = LLVMBuildFSub(B, xc, LLVMBuildFMul(B, kf, cg_constf(cg, t, 0.693359375), ""), "");
	r = LLVMBuildFSub(B, r, LLVMBuildFMul(B, kf, cg_constf(cg, t, -2.12194440e-4), ""), "");
	static const double p[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2,
				   1.6666665459E-1, 5.0000001201E-1};
	LLVMValueRef y = cg_constf(cg, t, p[0]);
	for (int i = 1; i < 6; i++)
		y = fmuladd(cg, y, r, cg_constf(cg, t, p[i]));
	LLVMValueRef rr = LLVMBuildFMul(B, r, r, "");
	y = fmuladd(cg, y, rr, LLVMBuildFAdd(B, r, cg_constf(cg, t, 1.0), ""));
	/* k in [-150, 128]: halves in [-75, 64], so both 2^half are normal floats */
	LLVMValueRef k1 = LLVMBuildAShr(B, k, cg_consti(cg, it, 1), "");
	LLVMValueRef k2 = LLVMBuildSub(B, k, k1, "");
	LLVMValueRef s1 = LLVMBuildBitCast(
		B, LLVMBuildShl(B, LLVMBuildAdd(B, k1, cg_consti(cg, it, 127), ""), cg_consti(cg, it, 23), ""), t, "");
	LLVMValueRef s2 = LLVMBuildBitCast(
		B, LLVMBuildShl(B, LLVMBuildAdd(B, k2, cg_consti(cg, it, 127), ""), cg_consti(cg, it, 23), ""), t, "");
	LLVMValueRef e = LLVMBuildFMul(B, LLVMBuildFMul(B, y, s1, ""), s2, "");
	return LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealUNO, x, x, ""), x, e, "");
}

LLVMValueRef cg_libm(Cg *cg, const char *name, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x), st = scalar_of(t);
	if (!is_vec(t))
		return cg_call_extern(cg, name, st, &st, 1, &x);
	LLVMValueRef r = LLVMGetPoison(t);
	for (unsigned i = 0; i < LLVMGetVectorSize(t); i++) {
		LLVMValueRef lane = LLVMBuildExtractElement(cg->b, x, cg_i32(cg, (int32_t)i), "");
		LLVMValueRef v = cg_call_extern(cg, name, st, &st, 1, &lane);
		r = LLVMBuildInsertElement(cg->b, r, v, cg_i32(cg, (int32_t)i), "");
	}
	return r;
}

LLVMValueRef cg_fp_to_i64_sat(Cg *cg, LLVMValueRef f)
{
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef t = LLVMTypeOf(f);
	LLVMTypeRef it = is_vec(t) ? LLVMVectorType(cg->t_i64, LLVMGetVectorSize(t)) : cg->t_i64;
	/* as tensor_get_i: inside (-9.2e18, 9.2e18) truncate, else the sign's extreme (NaN: INT64_MIN) */
	LLVMValueRef in = LLVMBuildAnd(B, LLVMBuildFCmp(B, LLVMRealOGT, f, cg_constf(cg, t, -9.2e18), ""),
				       LLVMBuildFCmp(B, LLVMRealOLT, f, cg_constf(cg, t, 9.2e18), ""), "");
	LLVMValueRef safe = LLVMBuildSelect(B, in, f, cg_constf(cg, t, 0.0), "");
	LLVMValueRef out = LLVMBuildSelect(B, LLVMBuildFCmp(B, LLVMRealOGT, f, cg_constf(cg, t, 0.0), ""),
					   cg_consti(cg, it, INT64_MAX), cg_consti(cg, it, INT64_MIN), "");
	return LLVMBuildSelect(B, in, LLVMBuildFPToSI(B, safe, it, ""), out, "");
}

LLVMValueRef cg_table_i64(Cg *cg, const int64_t *v, int64_t n, const char *what)
{
	LLVMValueRef stack[64], *e = stack;
	if (n > 64) {
		e = malloc((size_t)n * sizeof *e);
		if (e == NULL)
			return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		e[i] = cg_i64(cg, v[i]);
	LLVMValueRef init = LLVMConstArray2(cg->t_i64, e, (uint64_t)n);
	if (e != stack)
		free(e);
	char name[96];
	snprintf(name, sizeof name, "nnzc.node%d.%s", cg->node_index, what);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(gv, 64);
	return gv;
}

LLVMValueRef cg_table_f32(Cg *cg, const float *v, int64_t n, const char *what)
{
	size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
	char stack[256];
	const char *data = n > 0 ? (const char *)v : stack;
	if (n <= 0)
		memset(stack, 0, sizeof stack);
	LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, data, bytes, 1);
	char name[96];
	snprintf(name, sizeof name, "nnzc.node%d.%s", cg->node_index, what);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(gv, 64);
	return gv;
}

/* ---------------------------------------------------------------- CgRowAcc */

LLVMValueRef cg_convert(Cg *cg, LLVMValueRef v, LLVMTypeRef to)
{
	LLVMTypeRef from = LLVMTypeOf(v);
	LLVMTypeRef fs = scalar_of(from), ts = scalar_of(to);
	if (fs == ts)
		return v;
	LLVMTypeRef vt = is_vec(from) ? LLVMVectorType(ts, LLVMGetVectorSize(from)) : ts;
	if (!is_fp(from)) {
		/* integers become float first, as the interpreter converts an integer tensor to f32 */
		LLVMTypeRef f32 = is_vec(from) ? LLVMVectorType(cg->t_f32, LLVMGetVectorSize(from)) : cg->t_f32;
		v = LLVMBuildSIToFP(cg->b, v, f32, "");
		return ts == cg->t_f32 ? v : LLVMBuildFPExt(cg->b, v, vt, "");
	}
	return LLVMBuildFPExt(cg->b, v, vt, "");
}

void cg_row_init(Cg *cg, CgRowAcc *ra, LLVMValueRef init)
{
	if (ra->unroll < 1)
		ra->unroll = 1;
	if (ra->unroll > CG_ROW_MAX_UNROLL)
		ra->unroll = CG_ROW_MAX_UNROLL;
	LLVMTypeRef vt = ra->lanes > 1 ? cg_vec(cg, ra->at, ra->lanes) : NULL;
	for (int u = 0; u < ra->unroll && vt; u++)
		ra->vacc[u] = cg_var(cg, vt, cg_splat(cg, init, ra->lanes), "vacc");
	ra->sacc = cg_var(cg, ra->at, init, "sacc");
}

static LLVMValueRef row_load(Cg *cg, CgRowAcc *ra, LLVMValueRef ptr, LLVMValueRef idx, int lanes)
{
	LLVMTypeRef lt = lanes > 1 ? cg_vec(cg, ra->et, lanes) : ra->et;
	LLVMValueRef v = cg_convert(cg, cg_load(cg, lt, ptr, idx), lanes > 1 ? cg_vec(cg, ra->at, lanes) : ra->at);
	return ra->map ? ra->map(cg, v, ra->map_ctx) : v;
}

void cg_row_run(Cg *cg, CgRowAcc *ra, LLVMValueRef ptr, LLVMValueRef base, int64_t len)
{
	LLVMBuilderRef B = cg->b;
	int64_t i = 0;
	if (ra->lanes > 1) {
		LLVMTypeRef vt = cg_vec(cg, ra->at, ra->lanes);
		int64_t step = (int64_t)ra->lanes * ra->unroll;
		int64_t n_big = len / step * step;
		if (n_big > 0) {
			Loop l;
			LLVMValueRef iv = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, n_big), step, "r");
			for (int u = 0; u < ra->unroll; u++) {
				LLVMValueRef idx = LLVMBuildAdd(B, base, LLVMBuildAdd(B, iv, cg_i64(cg, (int64_t)u * ra->lanes), ""), "");
				LLVMValueRef a = LLVMBuildLoad2(B, vt, ra->vacc[u], "");
				LLVMBuildStore(B, cg_combine(cg, ra->op, a, row_load(cg, ra, ptr, idx, ra->lanes)), ra->vacc[u]);
			}
			cg_for_end(cg, &l);
			i = n_big;
		}
		/* whole vectors left over: unrolled straight-line, at most unroll - 1 of them */
		for (int u = 0; i + ra->lanes <= len; u++, i += ra->lanes) {
			LLVMValueRef idx = LLVMBuildAdd(B, base, cg_i64(cg, i), "");
			LLVMValueRef a = LLVMBuildLoad2(B, vt, ra->vacc[u], "");
			LLVMBuildStore(B, cg_combine(cg, ra->op, a, row_load(cg, ra, ptr, idx, ra->lanes)), ra->vacc[u]);
		}
	}
	if (i < len) {
		Loop l;
		LLVMValueRef iv = cg_for(cg, &l, cg_i64(cg, i), cg_i64(cg, len), 1, "t");
		LLVMValueRef a = LLVMBuildLoad2(B, ra->at, ra->sacc, "");
		LLVMBuildStore(B, cg_combine(cg, ra->op, a, row_load(cg, ra, ptr, LLVMBuildAdd(B, base, iv, ""), 1)), ra->sacc);
		cg_for_end(cg, &l);
	}
}

LLVMValueRef cg_row_result(Cg *cg, CgRowAcc *ra)
{
	LLVMValueRef s = LLVMBuildLoad2(cg->b, ra->at, ra->sacc, "");
	if (ra->lanes <= 1)
		return s;
	LLVMTypeRef vt = cg_vec(cg, ra->at, ra->lanes);
	LLVMValueRef v = LLVMBuildLoad2(cg->b, vt, ra->vacc[0], "");
	for (int u = 1; u < ra->unroll; u++)
		v = cg_combine(cg, ra->op, v, LLVMBuildLoad2(cg->b, vt, ra->vacc[u], ""));
	return cg_combine(cg, ra->op, cg_hreduce(cg, ra->op, v), s);
}
