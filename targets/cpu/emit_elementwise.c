/* Elementwise ops (unary, binary and variadic with numpy broadcasting) and the reshape family.
 *
 * The output is walked as rows: dimensions that every operand walks contiguously are merged,
 * the innermost merged dimension is the row, and the rows are the parallel iterations. Each
 * operand's position in a row advances by 0 (broadcast), 1 (contiguous) or a stride; when no
 * operand has a stride other than 0 or 1 the row loop runs on vectors of cg->vlen lanes with a
 * scalar tail. Transcendental functions call libm per element (a vector math library is later
 * work; CNNs spend nothing here). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#define MAX_OPERANDS 8

typedef struct Walk {
	int rank;                                    /* merged output dims */
	int64_t dim[NNZC_MAX_RANK];
	int64_t stride[MAX_OPERANDS][NNZC_MAX_RANK]; /* element strides per operand, 0 = broadcast */
	int n;                                       /* operands (inputs) */
} Walk;

/* Strides of input `in` read at the indices of `out` under numpy broadcasting. */
static void broadcast_strides(const Shape *in, const Shape *out, int64_t *stride)
{
	int64_t s = 1;
	for (int i = out->rank - 1; i >= 0; i--) {
		int k = i - (out->rank - in->rank);
		if (k < 0 || in->dim[k] == 1) {
			stride[i] = 0;
		} else {
			stride[i] = s;
		}
		if (k >= 0)
			s *= in->dim[k];
	}
}

static void make_walk(const Node *n, Walk *w)
{
	const Shape *out = &n->out[0]->shape;
	int64_t st[MAX_OPERANDS][NNZC_MAX_RANK];
	w->n = n->n_in;
	for (int j = 0; j < n->n_in; j++)
		broadcast_strides(&n->in[j]->shape, out, st[j]);
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

static bool is_transcendental(Op op)
{
	return op == OP_Sigmoid || op == OP_Tanh || op == OP_Exp || op == OP_Log;
}

static LLVMValueRef libm1(Cg *cg, const char *name, LLVMValueRef x)
{
	return cg_call_extern(cg, name, cg->t_f32, &cg->t_f32, 1, &x);
}

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

/* min(max(x, lo), hi) with NaN passing through */
static LLVMValueRef clamp01(Cg *cg, LLVMTypeRef t, LLVMValueRef x)
{
	LLVMValueRef lo = fconst(cg, t, 0.0f), hi = fconst(cg, t, 1.0f);
	x = LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOLT, x, lo, ""), lo, x, "");
	return LLVMBuildSelect(cg->b, LLVMBuildFCmp(cg->b, LLVMRealOGT, x, hi, ""), hi, x, "");
}

/* The op on operands of type t (scalar or vector, float or i64). */
static LLVMValueRef apply(Cg *cg, const Node *n, LLVMTypeRef t, LLVMValueRef *a)
{
	LLVMBuilderRef b = cg->b;
	bool fp = dtype_is_float(n->out[0]->dtype);
	switch (n->op) {
	case OP_Relu:
		return fp ? LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""), fconst(cg, t, 0), a[0], "")
			  : cg_intrinsic(cg, "llvm.smax", t, (LLVMValueRef[]){a[0], iconst(cg, t, 0)}, 2);
	case OP_LeakyRelu:
		return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a[0], fconst(cg, t, 0), ""),
				       LLVMBuildFMul(b, a[0], fconst(cg, t, n->attr.unary.alpha), ""), a[0], "");
	case OP_HardSigmoid:
		return clamp01(cg, t, LLVMBuildFAdd(b, LLVMBuildFMul(b, a[0], fconst(cg, t, n->attr.unary.alpha), ""),
						 fconst(cg, t, n->attr.unary.beta), ""));
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
	case OP_Max:
	case OP_Min: {
		const char *name = fp ? (n->op == OP_Max ? "llvm.maximum" : "llvm.minimum")
				      : (n->op == OP_Max ? "llvm.smax" : "llvm.smin");
		LLVMValueRef r = a[0];
		for (int j = 1; j < n->n_in; j++)
			r = cg_intrinsic(cg, name, t, (LLVMValueRef[]){r, a[j]}, 2);
		return r;
	}
	default: return NULL;
	}
}

/* 1: compiled for this dtype, 0: not for this dtype, -1: not an op this file compiles yet */
static int op_supported(const Node *n)
{
	bool fp = dtype_is_float(n->out[0]->dtype);
	switch (n->op) {
	case OP_Relu: case OP_Neg: case OP_Abs: case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Max: case OP_Min:
		return 1;
	case OP_LeakyRelu: case OP_HardSigmoid: case OP_HardSwish: case OP_Sqrt: case OP_Reciprocal: case OP_Exp:
	case OP_Log: case OP_Tanh: case OP_Sigmoid:
		return fp;
	default:
		return -1;
	}
}

int emit_elementwise(Cg *cg, const Node *n, NodeCode *code)
{
	int ok = op_supported(n);
	if (ok < 0)
		return node_error(cg->d, n, "the cpu target cannot compile this op yet");
	if (ok == 0)
		return node_error(cg->d, n, "the cpu target computes this op on floats only, not %s",
				  dtype_name(n->out[0]->dtype));
	if (n->n_in > MAX_OPERANDS)
		return node_error(cg->d, n, "more than %d operands", MAX_OPERANDS);
	Walk w = {0};
	make_walk(n, &w);
	int64_t row = w.dim[w.rank - 1], rows = 1;
	for (int i = 0; i < w.rank - 1; i++)
		rows *= w.dim[i];
	LLVMTypeRef et = cg_elem_type(cg, n->out[0]->dtype);
	bool vector_ok = !is_transcendental(n->op);
	for (int j = 0; j < w.n; j++)
		vector_ok &= w.stride[j][w.rank - 1] <= 1;
	int lanes = et == cg->t_f32 ? cg->vlen : cg->vlen / 2;

	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	LLVMValueRef src[MAX_OPERANDS], dst = cg_ptr(cg, n->out[0]);
	for (int j = 0; j < w.n; j++)
		src[j] = cg_ptr(cg, n->in[j]);
	Loop rl;
	LLVMValueRef r = cg_for(cg, &rl, cg->begin, cg->end, 1, "row");
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
	int64_t vec_end = vector_ok ? row / lanes * lanes : 0;
	if (vec_end > 0) {
		LLVMTypeRef vt = cg_vec(cg, et, lanes);
		Loop vl;
		LLVMValueRef i = cg_for(cg, &vl, cg_i64(cg, 0), cg_i64(cg, vec_end), lanes, "i");
		LLVMValueRef a[MAX_OPERANDS];
		for (int j = 0; j < w.n; j++) {
			if (w.stride[j][w.rank - 1] == 0)
				a[j] = cg_splat(cg, cg_load(cg, et, src[j], base[j]), lanes);
			else
				a[j] = cg_load(cg, vt, src[j], LLVMBuildAdd(cg->b, base[j], i, ""));
		}
		cg_store(cg, apply(cg, n, vt, a), dst, LLVMBuildAdd(cg->b, out_base, i, ""));
		cg_for_end(cg, &vl);
	}
	if (vec_end < row) {
		Loop sl;
		LLVMValueRef i = cg_for(cg, &sl, cg_i64(cg, vec_end), cg_i64(cg, row), 1, "i");
		LLVMValueRef a[MAX_OPERANDS];
		for (int j = 0; j < w.n; j++) {
			LLVMValueRef off = base[j];
			if (w.stride[j][w.rank - 1])
				off = LLVMBuildAdd(cg->b, off, LLVMBuildMul(cg->b, i, cg_i64(cg, w.stride[j][w.rank - 1]), ""), "");
			a[j] = cg_load(cg, et, src[j], off);
		}
		cg_store(cg, apply(cg, n, et, a), dst, LLVMBuildAdd(cg->b, out_base, i, ""));
		cg_for_end(cg, &sl);
	}
	cg_for_end(cg, &rl);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = rows;
	code->n_tasks = 1;
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
	return 0;
}
