/* The register-blocked micro-kernel of the matrix products (gemm_micro: one MR x NV-vector tile
 * of C over a k-block, accumulators in registers, epilogue in registers, one store), and the
 * vector pieces it and the convolution emitters are built from: constants, the fused
 * multiply-add, masked and strided loads and stores, the fused activations, scratch arrays and
 * constant tables.
 *
 * Masks are compile-time constants: shapes are static, so which lanes of a vector fall outside a
 * row is known when the code is generated. A masked access never touches its masked-off lanes
 * (llvm.masked.load/store: a k-mask on AVX-512, vmaskmov on AVX2, lane-wise code on SSE). */
#include "gemm.h"

#include <math.h>
#include <string.h>

LLVMValueRef vk_fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	return cg_intrinsic(cg, "llvm.fmuladd", LLVMTypeOf(a), (LLVMValueRef[]){a, b, c}, 3);
}

LLVMValueRef vk_mask(Cg *cg, int lanes, uint64_t bits)
{
	LLVMValueRef e[64];
	for (int i = 0; i < lanes && i < 64; i++)
		e[i] = LLVMConstInt(cg->t_i1, (bits >> i) & 1, 0);
	return LLVMConstVector(e, (unsigned)lanes);
}

/* An intrinsic overloaded on a vector type and a pointer type (llvm.masked.load/store). */
static LLVMValueRef call_vp(Cg *cg, const char *name, LLVMTypeRef vt, LLVMValueRef *args, int n)
{
	LLVMTypeRef tys[2] = {vt, cg->t_ptr};
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, tys, 2);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, tys, 2);
	return LLVMBuildCall2(cg->b, ft, fn, args, (unsigned)n, "");
}

LLVMValueRef vk_load(Cg *cg, LLVMValueRef base, LLVMValueRef off, int lanes, uint64_t bits)
{
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, lanes);
	bits &= vk_all(lanes);
	if (bits == 0)
		return LLVMConstNull(vt);
	if (bits == vk_all(lanes))
		return cg_load(cg, vt, base, off);
	/* not inbounds: the masked-off lanes may lie before or after the tensor */
	LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->t_f32, base, &off, 1, "");
	LLVMValueRef args[4] = {p, cg_i32(cg, 4), vk_mask(cg, lanes, bits), LLVMConstNull(vt)};
	return call_vp(cg, "llvm.masked.load", vt, args, 4);
}

void vk_store(Cg *cg, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off, uint64_t bits)
{
	int lanes = (int)LLVMGetVectorSize(LLVMTypeOf(v));
	bits &= vk_all(lanes);
	if (bits == 0)
		return;
	if (bits == vk_all(lanes)) {
		cg_store(cg, v, base, off);
		return;
	}
	LLVMValueRef p = LLVMBuildGEP2(cg->b, cg->t_f32, base, &off, 1, "");
	LLVMValueRef args[4] = {v, p, cg_i32(cg, 4), vk_mask(cg, lanes, bits)};
	call_vp(cg, "llvm.masked.store", LLVMTypeOf(v), args, 4);
}

LLVMValueRef vk_load_strided(Cg *cg, LLVMValueRef base, int64_t off, int64_t stride, int lanes, uint64_t bits)
{
	bits &= vk_all(lanes);
	if (stride == 1)
		return vk_load(cg, base, cg_i64(cg, off), lanes, bits);
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, lanes);
	if (stride >= 2 && stride * lanes <= 64) {
		/* one wide load of the lanes' span, only the needed elements enabled, then a shuffle
		 * picking every stride-th element */
		int wide = (int)(stride * lanes);
		uint64_t wbits = 0;
		for (int i = 0; i < lanes; i++)
			if ((bits >> i) & 1)
				wbits |= UINT64_C(1) << (i * stride);
		LLVMValueRef w = vk_load(cg, base, cg_i64(cg, off), wide, wbits);
		LLVMValueRef idx[64];
		for (int i = 0; i < lanes; i++)
			idx[i] = cg_i32(cg, (int32_t)(i * stride));
		return LLVMBuildShuffleVector(cg->b, w, LLVMGetPoison(LLVMTypeOf(w)), LLVMConstVector(idx, (unsigned)lanes), "");
	}
	LLVMValueRef v = LLVMConstNull(vt);
	for (int i = 0; i < lanes; i++) {
		if (!((bits >> i) & 1))
			continue;
		LLVMValueRef x = cg_load(cg, cg->t_f32, base, cg_i64(cg, off + i * stride));
		v = LLVMBuildInsertElement(cg->b, v, x, cg_i32(cg, i), "");
	}
	return v;
}

uint64_t vk_row_bits(int lanes, int64_t pos, int64_t off, int64_t stride, int64_t iw, int64_t ow)
{
	uint64_t bits = 0;
	for (int i = 0; i < lanes; i++) {
		int64_t o = pos * lanes + i, c = o * stride + off;
		if (o < ow && c >= 0 && c < iw)
			bits |= UINT64_C(1) << i;
	}
	return bits;
}

bool vk_row_interior(int lanes, const Window *w, int64_t *lo, int64_t *hi)
{
	int64_t npos = (w->out[2] + lanes - 1) / lanes;
	*lo = *hi = -1;
	for (int64_t pos = 0; pos < npos; pos++) {
		bool all = true;
		for (int64_t kw = 0; kw < w->kernel[2] && all; kw++)
			all = vk_row_bits(lanes, pos, kw * w->dilation[2] - w->pad_lo[2], w->stride[2], w->in[2], w->out[2]) ==
			      vk_all(lanes);
		if (all && *lo < 0)
			*lo = pos;
		if (all)
			*hi = pos + 1;
		else if (*lo >= 0)
			break;
	}
	return *lo >= 0;
}

/* ---------------------------------------------------------------- activations */

static LLVMValueRef sel_lt(Cg *cg, LLVMValueRef x, LLVMValueRef c, LLVMValueRef then, LLVMValueRef other)
{
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, x, c, ""), then, other, "");
}

static LLVMValueRef sel_gt(Cg *cg, LLVMValueRef x, LLVMValueRef c, LLVMValueRef then, LLVMValueRef other)
{
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, c, ""), then, other, "");
}

/* t < 0 ? 0 : t > 1 ? 1 : t (NaN passes) */
static LLVMValueRef clamp01(Cg *cg, LLVMValueRef t)
{
	LLVMTypeRef ty = LLVMTypeOf(t);
	LLVMValueRef zero = cg_constf(cg, ty, 0.0), one = cg_constf(cg, ty, 1.0);
	return sel_lt(cg, t, zero, zero, sel_gt(cg, t, one, one, t));
}

/* 1/(1+e^-v) for v >= 0, e^v/(1+e^v) below: e^-|v| never overflows */
static LLVMValueRef sigmoid(Cg *cg, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef e = cg_exp(cg, LLVMBuildFNeg(cg->b, cg_intrinsic(cg, "llvm.fabs", t, &x, 1), ""));
	LLVMValueRef s = LLVMBuildFDiv(cg->b, cg_constf(cg, t, 1.0), LLVMBuildFAdd(cg->b, cg_constf(cg, t, 1.0), e, ""), "");
	LLVMValueRef neg = LLVMBuildFMul(cg->b, e, s, "");
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGE, x, cg_constf(cg, t, 0.0), ""), s, neg, "");
}

/* tanh as Cephes' tanhf: an odd polynomial below |x| = 0.625 (where 1 - 2/(e^2x + 1) would
 * cancel), 1 - 2/(e^2|x| + 1) with x's sign above. NaN comes out of the second branch. */
static LLVMValueRef tanh_v(Cg *cg, LLVMValueRef x)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef a = cg_intrinsic(cg, "llvm.fabs", t, &x, 1);
	LLVMValueRef z = LLVMBuildFMul(b, x, x, "");
	static const double p[] = {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2, 1.33314422036E-1,
				   -3.33332819422E-1};
	LLVMValueRef y = cg_constf(cg, t, p[0]);
	for (int i = 1; i < 5; i++)
		y = vk_fmuladd(cg, y, z, cg_constf(cg, t, p[i]));
	LLVMValueRef small = vk_fmuladd(cg, LLVMBuildFMul(b, y, z, ""), x, x);
	LLVMValueRef e1 = LLVMBuildFAdd(b, cg_exp(cg, LLVMBuildFAdd(b, a, a, "")), cg_constf(cg, t, 1.0), "");
	LLVMValueRef big = LLVMBuildFSub(b, cg_constf(cg, t, 1.0), LLVMBuildFDiv(b, cg_constf(cg, t, 2.0), e1, ""), "");
	big = cg_intrinsic(cg, "llvm.copysign", t, (LLVMValueRef[]){big, x}, 2);
	return sel_lt(cg, a, cg_constf(cg, t, 0.625), small, big);
}

LLVMValueRef vk_act(Cg *cg, const Activation *act, LLVMValueRef x)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef zero = cg_constf(cg, t, 0.0);
	switch ((ActKind)act->kind) {
	case ACT_NONE: return x;
	case ACT_RELU: return sel_lt(cg, x, zero, zero, x); /* NaN stays NaN */
	case ACT_LEAKY_RELU: return sel_lt(cg, x, zero, LLVMBuildFMul(b, x, cg_constf(cg, t, act->alpha), ""), x);
	case ACT_CLIP: {
		/* [alpha, beta] = [min, max], max applied last as Clip does when min > max */
		LLVMValueRef lo = cg_constf(cg, t, act->alpha), hi = cg_constf(cg, t, act->beta);
		LLVMValueRef v = sel_lt(cg, x, lo, lo, x);
		return sel_gt(cg, v, hi, hi, v);
	}
	case ACT_SIGMOID: return sigmoid(cg, x);
	case ACT_TANH: return tanh_v(cg, x);
	case ACT_HARD_SIGMOID:
		return clamp01(cg, LLVMBuildFAdd(b, LLVMBuildFMul(b, x, cg_constf(cg, t, act->alpha), ""),
						 cg_constf(cg, t, act->beta), ""));
	case ACT_HARD_SWISH:
		return LLVMBuildFMul(b, x, clamp01(cg, LLVMBuildFAdd(b, LLVMBuildFMul(b, x, cg_constf(cg, t, 1.0 / 6.0), ""),
								     cg_constf(cg, t, 0.5), "")), "");
	}
	return x;
}

/* ---------------------------------------------------------------- memory */

LLVMValueRef vk_scratch(Cg *cg, int64_t floats, const char *name)
{
	LLVMValueRef a = cg_var(cg, LLVMArrayType2(cg->t_f32, (uint64_t)(floats > 0 ? floats : 1)), NULL, name);
	LLVMSetAlignment(a, 64);
	return a;
}

/* ---------------------------------------------------------------- the micro-kernel */

/* How many k iterations ahead the micro-kernel prefetches a packed-weight stream: ~1000 cycles,
 * DRAM latency with room to spare. */
#define PREFETCH_AHEAD 96

static LLVMValueRef add_i64(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mul_c(Cg *cg, LLVMValueRef a, int64_t c) { return LLVMBuildMul(cg->b, a, cg_i64(cg, c), ""); }

/* Where a micro-tile's partial sums live between k-blocks: C itself, or for a transposed
 * product (whose C is stored the other way round) the task's stack array. */
static void partial_at(GemmCtx *x, LLVMValueRef c_at, LLVMValueRef part_at, LLVMValueRef *base, LLVMValueRef *at,
		       int64_t *ld)
{
	if (x->s->c_trans) {
		*base = x->accbuf;
		*at = part_at;
		*ld = x->p->acc_ld;
	} else {
		*base = x->c;
		*at = c_at;
		*ld = x->s->ldc;
	}
}

/* acc = first ? 0 : the partial sum of the previous k-blocks */
static void micro_init(GemmCtx *x, const Micro *mt, LLVMValueRef acc[MAX_MR][MAX_NV], LLVMValueRef c_at,
		       LLVMValueRef part_at)
{
	Cg *cg = x->cg;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, x->p->vlen);
	IfBlock ib;
	if (x->first)
		cg_if(cg, &ib, x->first, true);
	for (int r = 0; r < mt->mr; r++)
		for (int v = 0; v < mt->nv; v++)
			LLVMBuildStore(cg->b, LLVMConstNull(vt), acc[r][v]);
	if (!x->first)
		return;
	cg_else(cg, &ib);
	LLVMValueRef base, at;
	int64_t ld;
	partial_at(x, c_at, part_at, &base, &at, &ld);
	for (int r = 0; r < mt->mr; r++)
		for (int v = 0; v < mt->nv; v++) {
			LLVMValueRef off = add_i64(cg, at, cg_i64(cg, r * ld + v * x->p->vlen));
			uint64_t bits = v == mt->nv - 1 && !x->s->c_trans ? mt->last_bits : vk_all(x->p->vlen);
			LLVMBuildStore(cg->b, vk_load(cg, base, off, x->p->vlen, bits), acc[r][v]);
		}
	cg_if_end(cg, &ib);
}

/* alpha * val + the addends at C's row `row`, columns starting at `col`; then the activation and
 * the rounding to C's dtype */
static LLVMValueRef epilogue(GemmCtx *x, LLVMValueRef val, LLVMValueRef row, LLVMValueRef col, uint64_t bits)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	LLVMTypeRef vt = LLVMTypeOf(val);
	int lanes = (int)LLVMGetVectorSize(vt);
	if (s->alpha != 1.0f)
		val = LLVMBuildFMul(cg->b, val, cg_constf(cg, vt, s->alpha), "");
	for (int i = 0; i < s->n_add; i++) {
		const GemmAddend *ad = &s->add[i];
		LLVMValueRef off = add_i64(cg, x->add_off[i], mul_c(cg, row, ad->rs)), t;
		if (ad->cs == 0)
			t = cg_splat(cg, cg_load(cg, cg->t_f32, x->add[i], off), lanes);
		else
			t = vk_load(cg, x->add[i], add_i64(cg, off, col), lanes, bits);
		if (ad->scale == 1.0f)
			val = LLVMBuildFAdd(cg->b, val, t, "");
		else
			val = vk_fmuladd(cg, t, cg_constf(cg, vt, ad->scale), val);
	}
	return cg_round_dtype(cg, s->c->dtype, vk_act(cg, &s->act, val));
}

LLVMValueRef gemm_epilogue(GemmCtx *x, LLVMValueRef val, LLVMValueRef row, LLVMValueRef col, uint64_t bits)
{
	return epilogue(x, val, row, col, bits);
}

/* rows[0..n) (n vectors of n lanes, n a power of two) transposed in place: log2(n) rounds that
 * swap the off-diagonal blocks of every 2s x 2s block, each a pair of two-input shuffles */
static void transpose(Cg *cg, LLVMValueRef *rows, int n)
{
	for (int s = n / 2; s >= 1; s /= 2)
		for (int a = 0; a < n; a++) {
			if (a & s)
				continue;
			int b = a + s;
			LLVMValueRef ma[64], mb[64];
			for (int j = 0; j < n; j++) {
				ma[j] = cg_i32(cg, (j & s) ? n + j - s : j);
				mb[j] = cg_i32(cg, (j & s) ? n + j : j + s);
			}
			LLVMValueRef na = LLVMBuildShuffleVector(cg->b, rows[a], rows[b], LLVMConstVector(ma, (unsigned)n), "");
			LLVMValueRef nb = LLVMBuildShuffleVector(cg->b, rows[a], rows[b], LLVMConstVector(mb, (unsigned)n), "");
			rows[a] = na;
			rows[b] = nb;
		}
}

/* The final store of a transposed product's micro-tile: accumulator (r, v) holds row m0 + r of
 * the product, i.e. C's column m0 + r, for C rows n0 + v*vlen + lane. Transposed in registers,
 * each C row gets its mr columns with one masked store. */
static void store_transposed(GemmCtx *x, const Micro *mt, LLVMValueRef acc[MAX_MR][MAX_NV], LLVMValueRef m0,
			     LLVMValueRef n0)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	int vlen = x->p->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	uint64_t cols = vk_all(mt->mr);
	for (int v = 0; v < mt->nv; v++) {
		LLVMValueRef rows[64];
		for (int r = 0; r < vlen; r++)
			rows[r] = r < mt->mr ? LLVMBuildLoad2(cg->b, vt, acc[r][v], "") : LLVMGetPoison(vt);
		transpose(cg, rows, vlen);
		for (int c = 0; c < vlen; c++) {
			if (v == mt->nv - 1 && !((mt->last_bits >> c) & 1))
				continue;
			LLVMValueRef row = add_i64(cg, n0, cg_i64(cg, v * vlen + c));
			LLVMValueRef val = epilogue(x, rows[c], row, m0, cols);
			vk_store(cg, val, x->c, add_i64(cg, x->c_off, add_i64(cg, mul_c(cg, row, s->ldc), m0)), cols);
		}
	}
}

/* act(alpha * acc + addends) stored to C; or the raw partial sum when this is not the last
 * k-block */
static void micro_store(GemmCtx *x, const Micro *mt, LLVMValueRef acc[MAX_MR][MAX_NV], LLVMValueRef m0,
			LLVMValueRef n0, LLVMValueRef c_at, LLVMValueRef part_at)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	int vlen = x->p->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	IfBlock ib;
	if (x->last)
		cg_if(cg, &ib, x->last, true);
	if (s->c_trans) {
		store_transposed(x, mt, acc, m0, n0);
	} else {
		for (int r = 0; r < mt->mr; r++) {
			LLVMValueRef row = add_i64(cg, m0, cg_i64(cg, r));
			for (int v = 0; v < mt->nv; v++) {
				uint64_t bits = v == mt->nv - 1 ? mt->last_bits : vk_all(vlen);
				LLVMValueRef val = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
				val = epilogue(x, val, row, add_i64(cg, n0, cg_i64(cg, v * vlen)), bits);
				vk_store(cg, val, x->c, add_i64(cg, c_at, cg_i64(cg, r * s->ldc + v * vlen)), bits);
			}
		}
	}
	if (!x->last)
		return;
	cg_else(cg, &ib);
	LLVMValueRef base, at;
	int64_t ld;
	partial_at(x, c_at, part_at, &base, &at, &ld);
	for (int r = 0; r < mt->mr; r++)
		for (int v = 0; v < mt->nv; v++) {
			uint64_t bits = v == mt->nv - 1 && !s->c_trans ? mt->last_bits : vk_all(vlen);
			LLVMValueRef val = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
			vk_store(cg, val, base, add_i64(cg, at, cg_i64(cg, r * ld + v * vlen)), bits);
		}
	cg_if_end(cg, &ib);
}

/* One micro-tile: rows [m0, m0+mr) x columns [n0, n0 + nv*vlen) over k in [k0, k0+klen).
 * The accumulators are allocas the optimiser turns into registers: the k loop body is nv
 * vector loads of B, then per row one broadcast of A and nv multiply-adds. */
void gemm_micro(GemmCtx *x, const Micro *mt, LLVMValueRef m0, LLVMValueRef n0)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const GemmPlan *p = x->p;
	int vlen = p->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	/* A: element (m0 + r, k0 + kk) at a_at + r*ars + kk*aks */
	int64_t ars, aks;
	LLVMValueRef a_at;
	if (s->a_im2col) {
		/* the panel's columns are the product's rows (pixels) */
		ars = 1;
		aks = p->panel_ld;
		a_at = m0;
	} else if (x->a_packed) {
		ars = 1;
		aks = mt->mr;
		a_at = add_i64(cg, x->a_off, add_i64(cg, mul_c(cg, m0, s->k), mul_c(cg, x->k0, mt->mr)));
	} else {
		ars = s->a_rs;
		aks = s->a_ks;
		a_at = add_i64(cg, x->a_off, add_i64(cg, mul_c(cg, m0, s->a_rs), mul_c(cg, x->k0, s->a_ks)));
	}
	/* B: element (k0 + kk, n0 + j) at b_at + kk*bks + j */
	int64_t bks;
	LLVMValueRef b_at, b_base;
	switch (s->b_kind) {
	case GB_DIRECT:
		bks = s->b_ks;
		b_base = x->b;
		b_at = add_i64(cg, x->b_off, add_i64(cg, mul_c(cg, x->k0, s->b_ks), n0));
		break;
	case GB_PACKED:
		bks = p->nr;
		b_base = x->b;
		b_at = add_i64(cg, mul_c(cg, LLVMBuildSDiv(cg->b, n0, cg_i64(cg, p->nr), ""), s->k * p->nr),
			       mul_c(cg, x->k0, p->nr));
		break;
	default:
		bks = p->panel_ld;
		b_base = x->panel;
		b_at = LLVMBuildSub(cg->b, n0, x->n_lo, "");
		break;
	}
	LLVMValueRef c_at = add_i64(cg, x->c_off, add_i64(cg, mul_c(cg, m0, s->ldc), n0));
	LLVMValueRef part_at = p->acc_ld ? add_i64(cg, mul_c(cg, m0, p->acc_ld), LLVMBuildSub(cg->b, n0, x->n_lo, "")) : NULL;

	LLVMValueRef acc[MAX_MR][MAX_NV];
	for (int r = 0; r < mt->mr; r++)
		for (int v = 0; v < mt->nv; v++)
			acc[r][v] = cg_var(cg, vt, NULL, "acc");
	micro_init(x, mt, acc, c_at, part_at);

	Loop kl;
	LLVMValueRef kk = cg_for(cg, &kl, cg_i64(cg, 0), x->klen, 1, "kk");
	LLVMValueRef bv[MAX_NV];
	LLVMValueRef brow = add_i64(cg, b_at, mul_c(cg, kk, bks));
	for (int v = 0; v < mt->nv; v++) {
		uint64_t bits = mt->mask_b && v == mt->nv - 1 ? mt->last_bits : vk_all(vlen);
		bv[v] = vk_load(cg, b_base, add_i64(cg, brow, cg_i64(cg, v * vlen)), vlen, bits);
	}
	LLVMValueRef arow = add_i64(cg, a_at, mul_c(cg, kk, aks));
	/* Packed weights stream from DRAM on their first use in an inference (a model's weights
	 * rarely fit the caches): fetch well ahead of the sequential stream, which the hardware
	 * prefetchers alone leave mostly latency-bound. */
	if (x->a_packed)
		cg_prefetch(cg, x->a, add_i64(cg, arow, cg_i64(cg, PREFETCH_AHEAD * aks)));
	if (s->b_kind == GB_PACKED) /* nv vectors: as many cache lines per iteration on AVX-512 */
		for (int v = 0; v < mt->nv; v += vlen >= 16 ? 1 : 2)
			cg_prefetch(cg, x->b, add_i64(cg, brow, cg_i64(cg, PREFETCH_AHEAD * bks + v * vlen)));
	LLVMValueRef a_base = s->a_im2col ? x->panel : x->a;
	for (int r = 0; r < mt->mr; r++) {
		LLVMValueRef a = cg_load(cg, cg->t_f32, a_base, add_i64(cg, arow, cg_i64(cg, r * ars)));
		LLVMValueRef as = cg_splat(cg, a, vlen);
		for (int v = 0; v < mt->nv; v++) {
			LLVMValueRef cur = LLVMBuildLoad2(cg->b, vt, acc[r][v], "");
			LLVMBuildStore(cg->b, vk_fmuladd(cg, as, bv[v], cur), acc[r][v]);
		}
	}
	cg_for_end(cg, &kl);

	micro_store(x, mt, acc, m0, n0, c_at, part_at);
}
