/* Elementwise ops: unary, binary and variadic arithmetic with numpy broadcasting, comparisons and
 * logic, Where, Clip, Cast; and the reshape family (a copy).
 *
 * The output is walked as rows: dimensions that every operand walks contiguously are merged,
 * the innermost merged dimension is the row, and the rows are the parallel iterations. Each
 * operand's position in a row advances by 0 (broadcast), 1 (contiguous) or a stride; when no
 * operand has a stride other than 0 or 1 the row loop runs on vectors of cg->vlen lanes with a
 * scalar tail. A constant operand of one element (a Clip bound, an exponent, a scalar addend) is
 * an immediate in the code. Transcendental functions call libm per element, the same functions
 * the interpreter calls, so results agree to the bit (a vector math library is later work; CNNs
 * spend nothing here).
 *
 * Semantics are the interpreter's (targets/ref/elementwise.c): integer arithmetic wraps, x / 0
 * is 0, integer Pow is exact repeated squaring, float -> integer conversions truncate, saturate
 * and send NaN to 0, and every result is rounded to its declared dtype (int8 wraps, f16 rounds). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#define MAX_OPERANDS 8
#define ROW_PIECE 4096 /* elements of a row piece: 16 KiB of floats, a multiple of any vector */

/* One elementwise node's operands: its present inputs in order (Clip's absent bounds are
 * skipped, so lo and hi say where its bounds are, -1 for none). */
typedef struct Ew {
	const Node *n;
	int n_ops;
	const Value *in[MAX_OPERANDS];
	LLVMValueRef imm[MAX_OPERANDS]; /* a one-element constant operand's value, else NULL */
	LLVMTypeRef et[MAX_OPERANDS];   /* compute-class element type per operand */
	int lo, hi;                     /* Clip */
	bool square;                    /* Pow(float x, constant 2): x * x, as powf(x, 2) is exact */
} Ew;

typedef struct Walk {
	int rank;                                    /* merged output dims */
	int64_t dim[NNZC_MAX_RANK];
	int64_t stride[MAX_OPERANDS][NNZC_MAX_RANK]; /* element strides per operand, 0 = broadcast */
	int n;                                       /* operands */
} Walk;

/* Strides of input `in` read at the indices of `out` under numpy broadcasting. */
static void broadcast_strides(const Shape *in, const Shape *out, int64_t *stride)
{
	int64_t s = 1;
	bool scalar = shape_numel(in) == 1;
	for (int i = out->rank - 1; i >= 0; i--) {
		int k = i - (out->rank - in->rank);
		if (scalar || k < 0 || in->dim[k] == 1) {
			stride[i] = 0;
		} else {
			stride[i] = s;
		}
		if (k >= 0)
			s *= in->dim[k];
	}
}

static void make_walk(const Ew *e, const Shape *out, Walk *w)
{
	int64_t st[MAX_OPERANDS][NNZC_MAX_RANK];
	w->n = e->n_ops;
	for (int j = 0; j < e->n_ops; j++)
		broadcast_strides(&e->in[j]->shape, out, st[j]);
	/* merge dim i into the one after it when every operand is contiguous across them */
	int r = 0;
	for (int i = 0; i < out->rank; i++) {
		if (out->dim[i] == 1)
			continue; /* size-1 dims do not move anything */
		bool merge = r > 0;
		for (int j = 0; merge && j < w->n; j++)
			merge = w->stride[j][r - 1] == st[j][i] * out->dim[i];
		if (merge) {
			w->dim[r - 1] *= out->dim[i];
			for (int j = 0; j < w->n; j++)
				w->stride[j][r - 1] = st[j][i];
		} else {
			w->dim[r] = out->dim[i];
			for (int j = 0; j < w->n; j++)
				w->stride[j][r] = st[j][i];
			r++;
		}
	}
	if (r == 0) { /* a single element */
		w->dim[0] = 1;
		for (int j = 0; j < w->n; j++)
			w->stride[j][0] = 0;
		r = 1;
	}
	w->rank = r;
}

/* ---------------------------------------------------------------- building blocks */

static LLVMTypeRef vty(LLVMTypeRef elem, int lanes) { return lanes ? LLVMVectorType(elem, (unsigned)lanes) : elem; }

/* a constant of type t (scalar or vector) */
static LLVMValueRef splat_const(LLVMTypeRef t, LLVMValueRef c)
{
	if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
		return c;
	int lanes = (int)LLVMGetVectorSize(t);
	LLVMValueRef e[64];
	for (int i = 0; i < lanes && i < 64; i++)
		e[i] = c;
	return LLVMConstVector(e, (unsigned)lanes);
}

static LLVMValueRef fconst(Cg *cg, LLVMTypeRef t, float v) { return splat_const(t, cg_f32(cg, v)); }

static LLVMValueRef iconst(Cg *cg, LLVMTypeRef t, int64_t v) { return splat_const(t, cg_i64(cg, v)); }

/* the zero of v's type, scalar or vector, float or integer */
static LLVMValueRef zero_of(LLVMValueRef v) { return LLVMConstNull(LLVMTypeOf(v)); }

/* `t` shaped like v: the same vector width, or a scalar */
static LLVMTypeRef shaped(LLVMValueRef v, LLVMTypeRef t)
{
	LLVMTypeRef vt = LLVMTypeOf(v);
	return LLVMGetTypeKind(vt) == LLVMVectorTypeKind ? LLVMVectorType(t, LLVMGetVectorSize(vt)) : t;
}

/* i1 (vector) -> i64 0/1, the compute class of bool */
static LLVMValueRef to_bool(Cg *cg, LLVMValueRef c) { return LLVMBuildZExt(cg->b, c, shaped(c, cg->t_i64), ""); }

static LLVMValueRef libm1(Cg *cg, const char *name, LLVMValueRef x)
{
	return cg_call_extern(cg, name, cg->t_f32, &cg->t_f32, 1, &x);
}

static LLVMValueRef libm2(Cg *cg, const char *name, LLVMTypeRef t, LLVMValueRef x, LLVMValueRef y)
{
	LLVMTypeRef p[2] = {t, t};
	return cg_call_extern(cg, name, t, p, 2, (LLVMValueRef[]){x, y});
}

/* An intrinsic overloaded on its result and its operand type (llvm.fptosi.sat.i8.f32). */
static LLVMValueRef intrinsic2(Cg *cg, const char *name, LLVMTypeRef ret, LLVMValueRef x)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	LLVMTypeRef types[2] = {ret, LLVMTypeOf(x)};
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, types, 2);
	return LLVMBuildCall2(cg->b, LLVMIntrinsicGetType(cg->ctx, id, types, 2), fn, &x, 1, "");
}

/* min(max(x, lo), hi) with NaN passing through */
static LLVMValueRef clamp01(Cg *cg, LLVMTypeRef t, LLVMValueRef x)
{
	LLVMValueRef lo = fconst(cg, t, 0.0f), hi = fconst(cg, t, 1.0f);
	x = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, x, lo, ""), lo, x, "");
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, hi, ""), hi, x, "");
}

/* i64 nnzc.ipow(i64 x, i64 y): the interpreter's ipow (exact repeated squaring, wrapping; a
 * negative exponent gives 1 / x^|y| truncated), built once per module. */
static LLVMValueRef ipow_fn(Cg *cg)
{
	LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, "nnzc.ipow");
	LLVMTypeRef ft = LLVMFunctionType(cg->t_i64, (LLVMTypeRef[]){cg->t_i64, cg->t_i64}, 2, 0);
	if (fn)
		return fn;
	fn = LLVMAddFunction(cg->mod, "nnzc.ipow", ft);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	LLVMBuilderRef b = LLVMCreateBuilderInContext(cg->ctx);
	LLVMValueRef x = LLVMGetParam(fn, 0), y = LLVMGetParam(fn, 1);
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef neg = LLVMAppendBasicBlockInContext(cg->ctx, fn, "neg");
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(cg->ctx, fn, "loop");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "body");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(cg->ctx, fn, "done");
	LLVMValueRef zero = cg_i64(cg, 0), one = cg_i64(cg, 1), m1 = cg_i64(cg, -1);
	LLVMPositionBuilderAtEnd(b, entry);
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, y, zero, ""), neg, loop);
	LLVMPositionBuilderAtEnd(b, neg);
	LLVMValueRef odd = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, y, one, ""), zero, "");
	LLVMValueRef rm1 = LLVMBuildSelect(b, odd, m1, one, "");
	LLVMValueRef r = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, x, m1, ""), rm1, zero, "");
	LLVMBuildRet(b, LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, x, one, ""), one, r, ""));
	/* loop: (acc, base, e) */
	LLVMPositionBuilderAtEnd(b, loop);
	LLVMValueRef acc = LLVMBuildPhi(b, cg->t_i64, "acc"), base = LLVMBuildPhi(b, cg->t_i64, "base");
	LLVMValueRef e = LLVMBuildPhi(b, cg->t_i64, "e");
	LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntEQ, e, zero, ""), done, body);
	LLVMPositionBuilderAtEnd(b, body);
	LLVMValueRef bit = LLVMBuildICmp(b, LLVMIntNE, LLVMBuildAnd(b, e, one, ""), zero, "");
	LLVMValueRef acc2 = LLVMBuildSelect(b, bit, LLVMBuildMul(b, acc, base, ""), acc, "");
	LLVMValueRef base2 = LLVMBuildMul(b, base, base, "");
	LLVMValueRef e2 = LLVMBuildLShr(b, e, one, "");
	LLVMBuildBr(b, loop);
	LLVMAddIncoming(acc, (LLVMValueRef[]){one, acc2}, (LLVMBasicBlockRef[]){entry, body}, 2);
	LLVMAddIncoming(base, (LLVMValueRef[]){x, base2}, (LLVMBasicBlockRef[]){entry, body}, 2);
	LLVMAddIncoming(e, (LLVMValueRef[]){y, e2}, (LLVMBasicBlockRef[]){entry, body}, 2);
	LLVMPositionBuilderAtEnd(b, done);
	LLVMBuildRet(b, acc);
	LLVMDisposeBuilder(b);
	return fn;
}

/* Pow on scalars, in the four class combinations of the interpreter. */
static LLVMValueRef emit_pow(Cg *cg, const Ew *e, LLVMValueRef x, LLVMValueRef y)
{
	LLVMBuilderRef b = cg->b;
	bool fx = e->et[0] == cg->t_f32, fy = e->et[1] == cg->t_f32;
	if (fx && fy)
		return e->square ? LLVMBuildFMul(b, x, x, "") : libm2(cg, "powf", cg->t_f32, x, y);
	LLVMValueRef dx = fx ? LLVMBuildFPExt(b, x, cg->t_f64, "") : LLVMBuildSIToFP(b, x, cg->t_f64, "");
	LLVMValueRef dy = fy ? LLVMBuildFPExt(b, y, cg->t_f64, "") : LLVMBuildSIToFP(b, y, cg->t_f64, "");
	if (fx) /* (float)pow((double)x, (double)y) */
		return LLVMBuildFPTrunc(b, libm2(cg, "pow", cg->t_f64, dx, dy), cg->t_f32, "");
	if (fy) /* saturating, NaN -> 0, as sat_i64 */
		return intrinsic2(cg, "llvm.fptosi.sat", cg->t_i64, libm2(cg, "pow", cg->t_f64, dx, dy));
	LLVMValueRef fn = ipow_fn(cg);
	LLVMTypeRef ft = LLVMGlobalGetValueType(fn);
	return LLVMBuildCall2(b, ft, fn, (LLVMValueRef[]){x, y}, 2, "");
}

/* Cast from operand 0's class to dtype `to`, as ref_cast. */
static LLVMValueRef emit_cast_value(Cg *cg, const Ew *e, DType to, LLVMValueRef x)
{
	LLVMBuilderRef b = cg->b;
	bool ffrom = e->et[0] == cg->t_f32;
	if (ffrom == dtype_is_float(to))
		return cg_round_dtype(cg, to, x);
	if (!ffrom) {
		LLVMTypeRef ft = shaped(x, cg->t_f32);
		LLVMValueRef f = e->in[0]->dtype == DT_U64 ? LLVMBuildUIToFP(b, x, ft, "") : LLVMBuildSIToFP(b, x, ft, "");
		return cg_round_dtype(cg, to, f);
	}
	/* float -> integer: truncate toward zero, saturate to the dtype's range, NaN -> 0; to bool
	 * every non-zero value including NaN is true */
	switch (to) {
	case DT_BOOL: return to_bool(cg, LLVMBuildFCmp(b, LLVMRealUNE, x, zero_of(x), ""));
	case DT_I64: return intrinsic2(cg, "llvm.fptosi.sat", shaped(x, cg->t_i64), x);
	case DT_U64: return intrinsic2(cg, "llvm.fptoui.sat", shaped(x, cg->t_i64), x);
	case DT_I8: case DT_I16: case DT_I32: {
		LLVMValueRef s = intrinsic2(cg, "llvm.fptosi.sat", shaped(x, cg_storage_type(cg, to)), x);
		return LLVMBuildSExt(b, s, shaped(x, cg->t_i64), "");
	}
	default: { /* u8, u16, u32 */
		LLVMValueRef s = intrinsic2(cg, "llvm.fptoui.sat", shaped(x, cg_storage_type(cg, to)), x);
		return LLVMBuildZExt(b, s, shaped(x, cg->t_i64), "");
	}
	}
}

/* The op on operands a[] (scalars or vectors of one width, each in its operand's class); the
 * result is in the output's compute class, before rounding to its dtype. */
static LLVMValueRef apply(Cg *cg, const Ew *e, LLVMValueRef *a)
{
	LLVMBuilderRef b = cg->b;
	const Node *n = e->n;
	LLVMTypeRef t = LLVMTypeOf(a[0]);
	bool fp = e->et[0] == cg->t_f32; /* the class of the (first) data operand */
	const UnaryAttrs *ua = &n->attr.unary;
	switch (n->op) {
	case OP_Relu:
		return fp ? LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""), fconst(cg, t, 0), a[0], "")
			  : cg_intrinsic(cg, "llvm.smax", t, (LLVMValueRef[]){a[0], iconst(cg, t, 0)}, 2);
	case OP_LeakyRelu:
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""),
				       LLVMBuildFMul(b, a[0], fconst(cg, t, ua->alpha), ""), a[0], "");
	case OP_HardSigmoid:
		return clamp01(cg, t, LLVMBuildFAdd(b, LLVMBuildFMul(b, a[0], fconst(cg, t, ua->alpha), ""),
						 fconst(cg, t, ua->beta), ""));
	case OP_HardSwish:
		return LLVMBuildFMul(b, a[0],
				     clamp01(cg, t, LLVMBuildFAdd(b, LLVMBuildFMul(b, a[0], fconst(cg, t, 1.0f / 6.0f), ""),
								  fconst(cg, t, 0.5f), "")), "");
	case OP_Neg: return fp ? LLVMBuildFNeg(b, a[0], "") : LLVMBuildNeg(b, a[0], "");
	case OP_Abs:
		return fp ? cg_intrinsic(cg, "llvm.fabs", t, a, 1)
			  : cg_intrinsic(cg, "llvm.abs", t, (LLVMValueRef[]){a[0], LLVMConstInt(cg->t_i1, 0, 0)}, 2);
	case OP_Sqrt: return cg_intrinsic(cg, "llvm.sqrt", t, a, 1);
	case OP_Reciprocal: return LLVMBuildFDiv(b, fconst(cg, t, 1.0f), a[0], "");
	case OP_Exp: return libm1(cg, "expf", a[0]);
	case OP_Log: return libm1(cg, "logf", a[0]);
	case OP_Tanh: return libm1(cg, "tanhf", a[0]);
	case OP_Sigmoid:
		return LLVMBuildFDiv(b, fconst(cg, t, 1.0f),
				     LLVMBuildFAdd(b, fconst(cg, t, 1.0f), libm1(cg, "expf", LLVMBuildFNeg(b, a[0], "")), ""), "");
	case OP_Erf: return libm1(cg, "erff", a[0]);
	case OP_Sin: return libm1(cg, "sinf", a[0]);
	case OP_Cos: return libm1(cg, "cosf", a[0]);
	case OP_Floor: return cg_intrinsic(cg, "llvm.floor", t, a, 1);
	case OP_Ceil: return cg_intrinsic(cg, "llvm.ceil", t, a, 1);
	case OP_Round: return cg_intrinsic(cg, "llvm.roundeven", t, a, 1); /* halves to even */
	case OP_Sign:
		if (fp) /* keeps NaN and signed zero */
			return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a[0], fconst(cg, t, 0), ""), fconst(cg, t, 1),
					       LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""),
							       fconst(cg, t, -1), a[0], ""), "");
		return LLVMBuildSub(b, to_bool(cg, LLVMBuildICmp(b, LLVMIntSGT, a[0], zero_of(a[0]), "")),
				    to_bool(cg, LLVMBuildICmp(b, LLVMIntSLT, a[0], zero_of(a[0]), "")), "");
	case OP_Not: return to_bool(cg, LLVMBuildICmp(b, LLVMIntEQ, a[0], zero_of(a[0]), ""));
	case OP_Elu:
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""),
				       LLVMBuildFMul(b, fconst(cg, t, ua->alpha), libm1(cg, "expm1f", a[0]), ""), a[0], "");
	case OP_Selu: {
		/* gamma * (alpha * exp(x) - alpha) for x <= 0, else gamma * x; beta holds gamma */
		LLVMValueRef neg = LLVMBuildFSub(b, LLVMBuildFMul(b, fconst(cg, t, ua->alpha), libm1(cg, "expf", a[0]), ""),
						 fconst(cg, t, ua->alpha), "");
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLE, a[0], fconst(cg, t, 0), ""),
				       LLVMBuildFMul(b, fconst(cg, t, ua->beta), neg, ""),
				       LLVMBuildFMul(b, fconst(cg, t, ua->beta), a[0], ""), "");
	}
	case OP_Softplus: {
		/* x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)), with one libm pair: both branches are
		 * max(x, 0) + log1p(exp(-|x|)) (NaN: log1p(NaN) = NaN either way) */
		LLVMValueRef na = LLVMBuildFNeg(b, cg_intrinsic(cg, "llvm.fabs", t, a, 1), "");
		LLVMValueRef l = libm1(cg, "log1pf", libm1(cg, "expf", na));
		LLVMValueRef pos = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a[0], fconst(cg, t, 0), ""), a[0],
						   fconst(cg, t, 0), "");
		return LLVMBuildFAdd(b, pos, l, "");
	}
	case OP_Softsign:
		return LLVMBuildFDiv(b, a[0], LLVMBuildFAdd(b, fconst(cg, t, 1), cg_intrinsic(cg, "llvm.fabs", t, a, 1), ""), "");
	case OP_Add: return fp ? LLVMBuildFAdd(b, a[0], a[1], "") : LLVMBuildAdd(b, a[0], a[1], "");
	case OP_Sub: return fp ? LLVMBuildFSub(b, a[0], a[1], "") : LLVMBuildSub(b, a[0], a[1], "");
	case OP_Mul: return fp ? LLVMBuildFMul(b, a[0], a[1], "") : LLVMBuildMul(b, a[0], a[1], "");
	case OP_Div: {
		if (fp)
			return LLVMBuildFDiv(b, a[0], a[1], "");
		/* as the interpreter: x / 0 = 0, INT64_MIN / -1 = INT64_MIN (never trap) */
		LLVMValueRef zero = iconst(cg, t, 0), m1 = iconst(cg, t, -1);
		LLVMValueRef bad = LLVMBuildOr(b, LLVMBuildICmp(b, LLVMIntEQ, a[1], zero, ""),
					       LLVMBuildICmp(b, LLVMIntEQ, a[1], m1, ""), "");
		LLVMValueRef safe = LLVMBuildSelect(b, bad, iconst(cg, t, 1), a[1], "");
		LLVMValueRef q = LLVMBuildSDiv(b, a[0], safe, "");
		LLVMValueRef alt = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, a[1], zero, ""), zero,
						   LLVMBuildNeg(b, a[0], ""), "");
		return LLVMBuildSelect(b, bad, alt, q, "");
	}
	case OP_Pow: return emit_pow(cg, e, a[0], a[1]);
	case OP_PRelu:
		if (fp)
			return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], zero_of(a[0]), ""),
					       LLVMBuildFMul(b, a[0], a[1], ""), a[0], "");
		return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, a[0], zero_of(a[0]), ""), LLVMBuildMul(b, a[0], a[1], ""),
				       a[0], "");
	case OP_Max:
	case OP_Min: {
		const char *name = fp ? (n->op == OP_Max ? "llvm.maximum" : "llvm.minimum")
				      : (n->op == OP_Max ? "llvm.smax" : "llvm.smin");
		LLVMValueRef r = a[0];
		for (int j = 1; j < e->n_ops; j++)
			r = cg_intrinsic(cg, name, t, (LLVMValueRef[]){r, a[j]}, 2);
		return r;
	}
	case OP_Sum:
	case OP_Mean: {
		/* folded left to right, as the interpreter; Mean divides the sum by the count */
		LLVMValueRef r = a[0];
		for (int j = 1; j < e->n_ops; j++)
			r = fp ? LLVMBuildFAdd(b, r, a[j], "") : LLVMBuildAdd(b, r, a[j], "");
		if (n->op == OP_Mean && e->n_ops > 1)
			r = fp ? LLVMBuildFDiv(b, r, fconst(cg, t, (float)e->n_ops), "")
			       : LLVMBuildSDiv(b, r, iconst(cg, t, e->n_ops), "");
		return r;
	}
	case OP_Equal: case OP_Less: case OP_Greater: case OP_LessOrEqual: case OP_GreaterOrEqual: {
		/* ordered float comparisons: false with a NaN, as in C */
		static const LLVMRealPredicate fpred[] = {LLVMRealOEQ, LLVMRealOLT, LLVMRealOGT, LLVMRealOLE, LLVMRealOGE};
		static const LLVMIntPredicate ipred[] = {LLVMIntEQ, LLVMIntSLT, LLVMIntSGT, LLVMIntSLE, LLVMIntSGE};
		int k = n->op == OP_Equal ? 0 : n->op == OP_Less ? 1 : n->op == OP_Greater ? 2 : n->op == OP_LessOrEqual ? 3 : 4;
		return to_bool(cg, fp ? LLVMBuildFCmp(b, fpred[k], a[0], a[1], "") : LLVMBuildICmp(b, ipred[k], a[0], a[1], ""));
	}
	case OP_And:
	case OP_Or: {
		LLVMValueRef x = LLVMBuildICmp(b, LLVMIntNE, a[0], zero_of(a[0]), "");
		LLVMValueRef y = LLVMBuildICmp(b, LLVMIntNE, a[1], zero_of(a[1]), "");
		return to_bool(cg, n->op == OP_And ? LLVMBuildAnd(b, x, y, "") : LLVMBuildOr(b, x, y, ""));
	}
	case OP_Where: return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntNE, a[0], zero_of(a[0]), ""), a[1], a[2], "");
	case OP_Clip: {
		/* the max bound last, so min > max gives max; comparisons with NaN are false: NaN passes */
		LLVMValueRef v = a[0];
		if (e->lo >= 0)
			v = LLVMBuildSelect(b, fp ? LLVMBuildFCmp(b, LLVMRealOLT, v, a[e->lo], "")
						  : LLVMBuildICmp(b, LLVMIntSLT, v, a[e->lo], ""), a[e->lo], v, "");
		if (e->hi >= 0)
			v = LLVMBuildSelect(b, fp ? LLVMBuildFCmp(b, LLVMRealOGT, v, a[e->hi], "")
						  : LLVMBuildICmp(b, LLVMIntSGT, v, a[e->hi], ""), a[e->hi], v, "");
		return v;
	}
	case OP_Cast: return emit_cast_value(cg, e, n->out[0]->dtype, a[0]);
	default: return NULL;
	}
}

/* Ops computed one element at a time through libm (or the integer Pow helper). */
static bool scalar_only(const Ew *e)
{
	switch (e->n->op) {
	case OP_Sigmoid: case OP_Tanh: case OP_Exp: case OP_Log: case OP_Erf: case OP_Sin: case OP_Cos: case OP_Elu:
	case OP_Selu: case OP_Softplus:
		return true;
	case OP_Pow:
		return !e->square;
	default:
		return false;
	}
}

/* NULL if the op has a kernel for the operands' classes, else why not (the interpreter's
 * pick_unary / pick_binary, so both targets accept the same graphs). */
static const char *class_problem(Cg *cg, const Ew *e)
{
	const Node *n = e->n;
	bool f0 = e->et[0] == cg->t_f32, fo = dtype_is_float(n->out[0]->dtype);
	bool same = true;
	for (int j = 1; j < e->n_ops; j++)
		same &= (e->et[j] == cg->t_f32) == f0;
	switch (n->op) {
	case OP_Relu: case OP_Neg: case OP_Abs: case OP_Sign:
	case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_PRelu: case OP_Max: case OP_Min: case OP_Sum:
	case OP_Mean: case OP_Clip:
		return same && fo == f0 ? NULL : "operand and result classes differ";
	case OP_Equal: case OP_Less: case OP_Greater: case OP_LessOrEqual: case OP_GreaterOrEqual:
		return same && !fo ? NULL : "compares operands of one class into bool";
	case OP_And: case OP_Or: case OP_Not:
		return !f0 && same && !fo ? NULL : "takes and gives bool";
	case OP_Pow:
		return fo == f0 ? NULL : "gives the base's class";
	case OP_Where: {
		bool fx = e->et[1] == cg->t_f32, fy = e->et[2] == cg->t_f32;
		return !f0 && fx == fy && fo == fx ? NULL : "needs a bool condition and x, y of the result's class";
	}
	case OP_Cast:
		return NULL;
	case OP_LeakyRelu: case OP_HardSigmoid: case OP_HardSwish: case OP_Sqrt: case OP_Reciprocal: case OP_Exp:
	case OP_Log: case OP_Tanh: case OP_Sigmoid: case OP_Erf: case OP_Floor: case OP_Ceil: case OP_Round: case OP_Sin:
	case OP_Cos: case OP_Elu: case OP_Selu: case OP_Softplus: case OP_Softsign:
		return f0 && fo ? NULL : "computes on floats only";
	default:
		return "is not an elementwise op";
	}
}

/* ---------------------------------------------------------------- the row loop */

static int emit_ew(Cg *cg, const Node *n, NodeCode *code)
{
	Ew e = {.n = n, .lo = -1, .hi = -1};
	for (int i = 0; i < n->n_in; i++) {
		if (n->in[i] == NULL)
			continue;
		if (e.n_ops == MAX_OPERANDS)
			return node_error(cg->d, n, "more than %d operands", MAX_OPERANDS);
		if (n->op == OP_Clip && i > 0) {
			if (shape_numel(&n->in[i]->shape) != 1)
				return node_error(cg->d, n, "%s must be a scalar", i == 1 ? "min" : "max");
			*(i == 1 ? &e.lo : &e.hi) = e.n_ops;
		}
		const Value *v = n->in[i];
		e.et[e.n_ops] = cg_elem_type(cg, v->dtype);
		if (v->data && shape_numel(&v->shape) == 1)
			e.imm[e.n_ops] = dtype_is_float(v->dtype) ? cg_f32(cg, *(const float *)v->data)
								  : cg_i64(cg, *(const int64_t *)v->data);
		e.in[e.n_ops++] = v;
	}
	const char *why = class_problem(cg, &e);
	if (why)
		return node_error(cg->d, n, "%s (operands %s%s, result %s)", why, dtype_name(e.in[0]->dtype),
				  e.n_ops > 1 ? ", ..." : "", dtype_name(n->out[0]->dtype));
	e.square = n->op == OP_Pow && e.et[0] == cg->t_f32 && e.imm[1] && e.et[1] == cg->t_f32 &&
		   *(const float *)e.in[1]->data == 2.0f;
	const Value *y = n->out[0];
	int64_t total = shape_numel(&y->shape);
	code->n_tasks = 0;
	if (total == 0)
		return 0;
	Walk w = {0};
	make_walk(&e, &y->shape, &w);
	int64_t row = w.dim[w.rank - 1], rows = 1;
	for (int i = 0; i < w.rank - 1; i++)
		rows *= w.dim[i];
	LLVMTypeRef ot = cg_elem_type(cg, y->dtype);
	bool vector_ok = !scalar_only(&e), any_float = ot == cg->t_f32;
	for (int j = 0; j < w.n; j++) {
		vector_ok &= w.stride[j][w.rank - 1] <= 1;
		any_float |= e.et[j] == cg->t_f32;
	}
	int lanes = any_float ? cg->vlen : cg->vlen / 2;
	/* Iterations are rows, or pieces of rows when there are too few rows to share among threads
	 * (a tensor whose operands are all contiguous is one row). A piece is a multiple of every
	 * vector width, so only a row's last piece has a scalar tail. */
	int64_t piece = row, pieces = 1;
	if (rows < 64 && row >= 2 * ROW_PIECE && total * (int64_t)dtype_compute_size(y->dtype) >= 64 * 1024) {
		piece = ROW_PIECE;
		pieces = (row + piece - 1) / piece;
	}

	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	LLVMValueRef src[MAX_OPERANDS], dst = cg_ptr(cg, y);
	for (int j = 0; j < w.n; j++)
		src[j] = e.imm[j] ? NULL : cg_ptr(cg, e.in[j]);
	Loop rl;
	LLVMValueRef it = cg_for(cg, &rl, cg->begin, cg->end, 1, "it");
	LLVMValueRef r = it, lo = cg_i64(cg, 0), hi = cg_i64(cg, row);
	if (pieces > 1) {
		r = LLVMBuildUDiv(cg->b, it, cg_i64(cg, pieces), "");
		lo = LLVMBuildMul(cg->b, LLVMBuildURem(cg->b, it, cg_i64(cg, pieces), ""), cg_i64(cg, piece), "");
		hi = LLVMBuildAdd(cg->b, lo, cg_i64(cg, piece), "");
		hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, row), ""), cg_i64(cg, row), hi, "");
	}
	/* each operand's offset at the start of row r: decompose r over the outer merged dims */
	LLVMValueRef base[MAX_OPERANDS];
	for (int j = 0; j < w.n; j++)
		base[j] = cg_i64(cg, 0);
	LLVMValueRef rem = r;
	for (int i = w.rank - 2; i >= 0; i--) {
		LLVMValueRef idx = LLVMBuildSRem(cg->b, rem, cg_i64(cg, w.dim[i]), "");
		rem = LLVMBuildSDiv(cg->b, rem, cg_i64(cg, w.dim[i]), "");
		for (int j = 0; j < w.n; j++)
			if (w.stride[j][i])
				base[j] = LLVMBuildAdd(cg->b, base[j], LLVMBuildMul(cg->b, idx, cg_i64(cg, w.stride[j][i]), ""), "");
	}
	LLVMValueRef out_base = LLVMBuildMul(cg->b, r, cg_i64(cg, row), "");
	/* vectors over [lo, vec_end), scalars over [vec_end, hi) */
	LLVMValueRef vec_end = lo;
	if (vector_ok && row >= lanes) {
		LLVMValueRef len = LLVMBuildSub(cg->b, hi, lo, "");
		vec_end = LLVMBuildAdd(cg->b, lo, LLVMBuildAnd(cg->b, len, cg_i64(cg, -(int64_t)lanes), ""), "");
	}
	for (int pass = 0; pass < 2; pass++) {
		int vl = pass ? 0 : lanes;
		if (pass == 0 && vec_end == lo)
			continue;
		Loop l;
		LLVMValueRef i = cg_for(cg, &l, pass ? vec_end : lo, pass ? hi : vec_end, pass ? 1 : lanes, "i");
		LLVMValueRef a[MAX_OPERANDS];
		for (int j = 0; j < w.n; j++) {
			int64_t s = w.stride[j][w.rank - 1];
			if (e.imm[j]) {
				a[j] = splat_const(vty(e.et[j], vl), e.imm[j]);
			} else if (s == 0) {
				a[j] = cg_load(cg, e.et[j], src[j], base[j]);
				if (vl)
					a[j] = cg_splat(cg, a[j], vl);
			} else {
				LLVMValueRef off = LLVMBuildAdd(cg->b, base[j], s == 1 ? i : LLVMBuildMul(cg->b, i, cg_i64(cg, s), ""), "");
				a[j] = cg_load(cg, vty(e.et[j], vl), src[j], off);
			}
		}
		LLVMValueRef v = apply(cg, &e, a);
		if (n->op != OP_Cast)
			v = cg_round_dtype(cg, y->dtype, v);
		cg_store(cg, v, dst, LLVMBuildAdd(cg->b, out_base, i, ""));
		cg_for_end(cg, &l);
	}
	cg_for_end(cg, &rl);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = rows * pieces;
	code->n_tasks = 1;
	return 0;
}

int emit_elementwise(Cg *cg, const Node *n, NodeCode *code) { return emit_ew(cg, n, code); }
int emit_where(Cg *cg, const Node *n, NodeCode *code) { return emit_ew(cg, n, code); }
int emit_clip(Cg *cg, const Node *n, NodeCode *code) { return emit_ew(cg, n, code); }
int emit_cast(Cg *cg, const Node *n, NodeCode *code) { return emit_ew(cg, n, code); }

/* Dropout's mask output: all true at inference. Training mode with a non-zero ratio needs a
 * random mask that the interpreter refuses; so does the compiler when it can see both are
 * constants, and a run-time training_mode is taken as inference. */
static int dropout_mask(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *ratio = n->n_in > 1 ? n->in[1] : NULL, *train = n->n_in > 2 ? n->in[2] : NULL;
	bool zero_ratio = ratio && ratio->data && shape_numel(&ratio->shape) == 1 &&
			  (dtype_is_float(ratio->dtype) ? *(const float *)ratio->data == 0 : *(const int64_t *)ratio->data == 0);
	if (train && train->data && shape_numel(&train->shape) == 1 && *(const int64_t *)train->data != 0 && !zero_ratio)
		return node_error(cg->d, n, "training mode (random dropout) is not supported; only inference");
	const Value *m = n->n_out > 1 ? n->out[1] : NULL;
	int64_t count = m ? shape_numel(&m->shape) : 0;
	if (count <= 0)
		return 0;
	if (dtype_is_float(m->dtype))
		return node_error(cg->d, n, "mask must be bool, got %s", dtype_name(m->dtype));
	const int64_t chunk = 8192;
	LLVMValueRef fn = cg_task_begin(cg, "mask");
	LLVMValueRef dst = cg_ptr(cg, m);
	LLVMValueRef lo = LLVMBuildMul(cg->b, cg->begin, cg_i64(cg, chunk), "");
	LLVMValueRef hi = LLVMBuildMul(cg->b, cg->end, cg_i64(cg, chunk), "");
	hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, count), ""), cg_i64(cg, count), hi, "");
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, lo, hi, 1, "i");
	cg_store(cg, cg_i64(cg, 1), dst, i);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[code->n_tasks] = fn;
	code->iterations[code->n_tasks++] = (count + chunk - 1) / chunk;
	return 0;
}

/* Identity, Dropout (inference), Reshape, Flatten, Squeeze, Unsqueeze: the bytes do not change.
 * A copy for now; aliasing the input buffer in the memory plan is the better answer. */
int emit_copy(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	bool ok;
	size_t bytes = shape_bytes(&y->shape, dtype_compute_size(y->dtype), &ok);
	const int64_t chunk = 1 << 16;
	int64_t chunks = ((int64_t)bytes + chunk - 1) / chunk;
	cg_task_begin(cg, "copy");
	LLVMValueRef src = cg_ptr(cg, x), dst = cg_ptr(cg, y);
	Loop l;
	LLVMValueRef c = cg_for(cg, &l, cg->begin, cg->end, 1, "chunk");
	LLVMValueRef off = LLVMBuildMul(cg->b, c, cg_i64(cg, chunk), "");
	LLVMValueRef len = LLVMBuildSub(cg->b, cg_i64(cg, (int64_t)bytes), off, "");
	len = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, len, cg_i64(cg, chunk), ""), len, cg_i64(cg, chunk), "");
	LLVMBuildMemCpy(cg->b, cg_gep(cg, cg->t_i8, dst, off), 1, cg_gep(cg, cg->t_i8, src, off), 1, len);
	cg_for_end(cg, &l);
	LLVMValueRef fn = cg->fn;
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = chunks;
	code->n_tasks = 1;
	return n->op == OP_Dropout ? dropout_mask(cg, n, code) : 0;
}
