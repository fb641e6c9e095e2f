/* Reductions: Reduce* over a set of constant axes, ArgMax/ArgMin over one axis, Softmax and
 * LogSoftmax over one axis.
 *
 * The input is seen with size-1 dims dropped and neighbouring dims of the same kind (reduced or
 * kept) merged, so the layout is an alternation of kept and reduced blocks. Two shapes of loop
 * come out of that:
 *   - the innermost block is reduced (a "row" reduction, also Softmax over the last axis): one
 *     parallel iteration per output element; the contiguous run is reduced with vector
 *     accumulators (CgRowAcc), outer reduced blocks are loops around it, and the lanes are
 *     combined by a tree at the end;
 *   - the innermost block is kept (a reduction "across rows", Softmax over an inner axis): the
 *     output row is cut into strips of up to 4 vectors, plus a strip of leftover whole vectors
 *     and a strip of scalars; a parallel iteration is one strip of one output row, whose
 *     accumulators live in registers while every reduced row is read (contiguous 64-256 byte
 *     pieces).
 * Float reductions accumulate in float (the interpreter's in double: the order differs, not the
 * precision that matters at rtol 1e-3); integer ones in int64 with wrap-around, exactly. L2 and
 * LogSumExp of integers go through double like the interpreter, then saturate back to int64.
 * NaN: ReduceMax/Min and Softmax's max propagate it, as the interpreter does. exp is cg_exp
 * (vectorised), log is libm once per output. */
#include "cpu.h"

#include <math.h>
#include <string.h>

#define STRIP_UNROLL 4

static LLVMTypeRef vt_of(Cg *cg, LLVMTypeRef t, int lanes) { return lanes > 1 ? cg_vec(cg, t, lanes) : t; }
static LLVMValueRef splat_n(Cg *cg, LLVMValueRef v, int lanes) { return lanes > 1 ? cg_splat(cg, v, lanes) : v; }

/* <base, base+1, ..., base+lanes-1> as i64 lanes, or base */
static LLVMValueRef iota(Cg *cg, LLVMValueRef base, int lanes)
{
	if (lanes <= 1)
		return base;
	LLVMValueRef c[64];
	for (int i = 0; i < lanes; i++)
		c[i] = cg_i64(cg, i);
	return LLVMBuildAdd(cg->b, cg_splat(cg, base, lanes), LLVMConstVector(c, (unsigned)lanes), "");
}

/* ---------------------------------------------------------------- strips */

/* A row of `width` elements cut into units: `full` strips of STRIP_UNROLL vectors, then one
 * strip of `part` vectors, then one strip of `scal` scalars. */
typedef struct Strips {
	int lanes;
	int64_t full, part, scal, units;
} Strips;

static Strips strips_of(int64_t width, int lanes)
{
	Strips s = {.lanes = lanes};
	if (lanes <= 1) {
		s.lanes = 1;
		s.full = width / STRIP_UNROLL;
		s.scal = width % STRIP_UNROLL;
	} else {
		int64_t sw = (int64_t)STRIP_UNROLL * lanes;
		s.full = width / sw;
		s.part = width % sw / lanes;
		s.scal = width % lanes;
	}
	s.units = s.full + (s.part > 0) + (s.scal > 0);
	return s;
}

/* Emit one strip: `nv` groups of `lanes` lanes (lanes 1: scalars) starting at column col. */
typedef void (*StripFn)(Cg *cg, void *ctx, LLVMValueRef col, int nv, int lanes);

typedef struct StripKind {
	int64_t first; /* first unit of this kind */
	int nv, lanes;
	int64_t col0;  /* its column, unless full: u * STRIP_UNROLL * lanes */
	bool full;
} StripKind;

/* Dispatch unit u (a run-time value) of the strips to fn. */
static void emit_strips(Cg *cg, const Strips *s, LLVMValueRef u, StripFn fn, void *ctx)
{
	LLVMBuilderRef B = cg->b;
	int64_t sw = (int64_t)STRIP_UNROLL * s->lanes;
	/* the kinds present, in unit order */
	int kinds = 0;
	StripKind k[3];
	if (s->full)
		k[kinds++] = (StripKind){0, STRIP_UNROLL, s->lanes, 0, true};
	if (s->part)
		k[kinds++] = (StripKind){s->full, (int)s->part, s->lanes, s->full * sw, false};
	if (s->scal)
		k[kinds++] = (StripKind){s->full + (s->part > 0), (int)s->scal, 1, s->full * sw + s->part * s->lanes, false};
	IfBlock ib[3];
	for (int i = 0; i < kinds; i++) {
		bool last = i == kinds - 1;
		if (!last) {
			LLVMValueRef c = k[i].full ? LLVMBuildICmp(B, LLVMIntULT, u, cg_i64(cg, k[i + 1].first), "")
						   : LLVMBuildICmp(B, LLVMIntEQ, u, cg_i64(cg, k[i].first), "");
			cg_if(cg, &ib[i], c, true);
		}
		LLVMValueRef col = cg_i64(cg, k[i].col0);
		if (k[i].full)
			col = LLVMBuildMul(B, u, cg_i64(cg, sw), "");
		fn(cg, ctx, col, k[i].nv, k[i].lanes);
		if (!last)
			cg_else(cg, &ib[i]);
	}
	for (int i = kinds - 2; i >= 0; i--)
		cg_if_end(cg, &ib[i]);
}

/* ---------------------------------------------------------------- merged dims */

typedef struct Dims {
	int nd;
	int64_t dim[NNZC_MAX_RANK], xs[NNZC_MAX_RANK]; /* size, input stride */
	bool red[NNZC_MAX_RANK];
} Dims;

static void merge_dims(const Shape *s, const bool *mask, Dims *d)
{
	d->nd = 0;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] == 1)
			continue;
		if (d->nd > 0 && d->red[d->nd - 1] == mask[i]) {
			d->dim[d->nd - 1] *= s->dim[i];
		} else {
			d->dim[d->nd] = s->dim[i];
			d->red[d->nd] = mask[i];
			d->nd++;
		}
	}
	if (d->nd == 0) { /* one element: a kept dim of 1 */
		d->dim[0] = 1;
		d->red[0] = false;
		d->nd = 1;
	}
	int64_t st = 1;
	for (int i = d->nd - 1; i >= 0; i--) {
		d->xs[i] = st;
		st *= d->dim[i];
	}
}

/* The input offset of kept-block index `idx` (blocks [0, upto) that are kept, last fastest). */
static LLVMValueRef kept_offset(Cg *cg, const Dims *d, int upto, LLVMValueRef idx)
{
	LLVMBuilderRef B = cg->b;
	LLVMValueRef off = cg_i64(cg, 0);
	for (int i = upto - 1; i >= 0; i--) {
		if (d->red[i])
			continue;
		LLVMValueRef q = LLVMBuildURem(B, idx, cg_i64(cg, d->dim[i]), "");
		idx = LLVMBuildUDiv(B, idx, cg_i64(cg, d->dim[i]), "");
		off = LLVMBuildAdd(B, off, LLVMBuildMul(B, q, cg_i64(cg, d->xs[i]), ""), "");
	}
	return off;
}

/* Loops over the reduced blocks [0, upto); returns base plus their offset. */
typedef struct Nest { int n; Loop l[NNZC_MAX_RANK]; } Nest;

static LLVMValueRef nest_open(Cg *cg, Nest *ns, const Dims *d, int upto, LLVMValueRef base)
{
	ns->n = 0;
	for (int i = 0; i < upto; i++) {
		if (!d->red[i])
			continue;
		LLVMValueRef iv = cg_for(cg, &ns->l[ns->n++], cg_i64(cg, 0), cg_i64(cg, d->dim[i]), 1, "rd");
		base = LLVMBuildAdd(cg->b, base, LLVMBuildMul(cg->b, iv, cg_i64(cg, d->xs[i]), ""), "");
	}
	return base;
}

static void nest_close(Cg *cg, Nest *ns)
{
	for (int i = ns->n - 1; i >= 0; i--)
		cg_for_end(cg, &ns->l[i]);
}

/* ---------------------------------------------------------------- Reduce* */

enum { PRE_NONE, PRE_SQUARE, PRE_ABS, PRE_EXP };

typedef struct Red {
	Op op;
	CgRed comb;
	int pre;
	LLVMTypeRef et, at;  /* element in memory, accumulator */
	DType ydt;           /* output dtype, for rounding */
	int64_t count;       /* elements per output */
	int lanes;
	Dims d;
	LLVMValueRef x, y;   /* inside the task */
} Red;

static LLVMValueRef red_init(Cg *cg, const Red *r, LLVMTypeRef t)
{
	bool fp = r->at != cg->t_i64;
	switch (r->comb) {
	case CG_MUL: return fp ? cg_constf(cg, t, 1.0) : cg_consti(cg, t, 1);
	case CG_MAX_NAN: return fp ? cg_constf(cg, t, -INFINITY) : cg_consti(cg, t, INT64_MIN);
	case CG_MIN_NAN: return fp ? cg_constf(cg, t, INFINITY) : cg_consti(cg, t, INT64_MAX);
	default: return fp ? cg_constf(cg, t, 0.0) : cg_consti(cg, t, 0);
	}
}

/* v (already of the accumulator type) as it enters the accumulation; mx: LogSumExp's max */
static LLVMValueRef red_pre(Cg *cg, const Red *r, LLVMValueRef v, LLVMValueRef mx)
{
	LLVMBuilderRef B = cg->b;
	bool fp = r->at != cg->t_i64;
	switch (r->pre) {
	case PRE_SQUARE: return fp ? LLVMBuildFMul(B, v, v, "") : LLVMBuildMul(B, v, v, "");
	case PRE_ABS:
		return fp ? cg_intrinsic(cg, "llvm.fabs", LLVMTypeOf(v), &v, 1)
			  : cg_intrinsic(cg, "llvm.abs", LLVMTypeOf(v), (LLVMValueRef[]){v, LLVMConstInt(cg->t_i1, 0, 0)}, 2);
	case PRE_EXP: {
		LLVMValueRef d = LLVMBuildFSub(B, v, mx, "");
		return r->at == cg->t_f32 ? cg_exp(cg, d) : cg_libm(cg, "exp", d);
	}
	default: return v;
	}
}

/* The accumulated value as the output stores it. */
static LLVMValueRef red_final(Cg *cg, const Red *r, LLVMValueRef acc, LLVMValueRef mx)
{
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef t = LLVMTypeOf(acc);
	switch (r->op) {
	case OP_ReduceMean:
		acc = r->at == cg->t_i64 ? LLVMBuildSDiv(B, acc, cg_consti(cg, t, r->count), "")
					 : LLVMBuildFDiv(B, acc, cg_constf(cg, t, (double)r->count), "");
		break;
	case OP_ReduceL2:
		acc = cg_intrinsic(cg, "llvm.sqrt", t, &acc, 1);
		break;
	case OP_ReduceLogSumExp: {
		/* an infinite or NaN max is the answer itself (x - max would be NaN) */
		LLVMValueRef fin = LLVMBuildFCmp(B, LLVMRealOLT, cg_intrinsic(cg, "llvm.fabs", t, &mx, 1),
						 cg_constf(cg, t, INFINITY), "");
		LLVMValueRef lg = cg_libm(cg, r->at == cg->t_f32 ? "logf" : "log", acc);
		acc = LLVMBuildSelect(B, fin, LLVMBuildFAdd(B, mx, lg, ""), mx, "");
		break;
	}
	default: break;
	}
	if (r->at == cg->t_f64) { /* integer L2 / LogSumExp: the interpreter's float result, to int64 */
		LLVMTypeRef ft = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? cg_vec(cg, cg->t_f32, (int)LLVMGetVectorSize(t)) : cg->t_f32;
		acc = cg_fp_to_i64_sat(cg, LLVMBuildFPTrunc(B, acc, ft, ""));
	}
	return acc;
}

typedef struct MapCtx { const Red *r; LLVMValueRef mx; } MapCtx;

static LLVMValueRef red_map(Cg *cg, LLVMValueRef v, void *ctx)
{
	MapCtx *m = ctx;
	LLVMValueRef mx = m->mx;
	if (mx && LLVMGetTypeKind(LLVMTypeOf(v)) == LLVMVectorTypeKind)
		mx = cg_splat(cg, mx, (int)LLVMGetVectorSize(LLVMTypeOf(v)));
	return red_pre(cg, m->r, v, mx);
}

/* Innermost block reduced: output o = one run per combination of the outer reduced blocks. */
static void reduce_rows(Cg *cg, Red *r)
{
	const Dims *d = &r->d;
	int last = d->nd - 1;
	Loop l;
	LLVMValueRef o = cg_for(cg, &l, cg->begin, cg->end, 1, "o");
	LLVMValueRef xoff = kept_offset(cg, d, last, o);
	LLVMValueRef mx = NULL;
	Nest ns;
	if (r->pre == PRE_EXP) {
		CgRowAcc m = {.op = CG_MAX_NAN, .et = r->et, .at = r->at, .lanes = r->lanes, .unroll = 4};
		cg_row_init(cg, &m, cg_constf(cg, r->at, -INFINITY));
		LLVMValueRef base = nest_open(cg, &ns, d, last, xoff);
		cg_row_run(cg, &m, r->x, base, d->dim[last]);
		nest_close(cg, &ns);
		mx = cg_row_result(cg, &m);
	}
	MapCtx mc = {r, mx};
	CgRowAcc ra = {.op = r->comb, .et = r->et, .at = r->at, .lanes = r->lanes, .unroll = 4,
		       .map = r->pre != PRE_NONE ? red_map : NULL, .map_ctx = &mc};
	cg_row_init(cg, &ra, red_init(cg, r, r->at));
	LLVMValueRef base = nest_open(cg, &ns, d, last, xoff);
	cg_row_run(cg, &ra, r->x, base, d->dim[last]);
	nest_close(cg, &ns);
	cg_store(cg, cg_round_dtype(cg, r->ydt, red_final(cg, r, cg_row_result(cg, &ra), mx)), r->y, o);
	cg_for_end(cg, &l);
}

/* Innermost block kept: per strip, every reduced row is folded into registers. */
typedef struct ColCtx { Red *r; LLVMValueRef xoff, yoff; } ColCtx;

static void reduce_strip(Cg *cg, void *ctx, LLVMValueRef col, int nv, int lanes)
{
	ColCtx *c = ctx;
	Red *r = c->r;
	const Dims *d = &r->d;
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef lt = vt_of(cg, r->et, lanes), at = vt_of(cg, r->at, lanes);
	LLVMValueRef acc[16], mx[16] = {NULL};
	Nest ns;
	LLVMValueRef xcol = LLVMBuildAdd(B, c->xoff, col, "");
	if (r->pre == PRE_EXP) {
		for (int j = 0; j < nv; j++)
			mx[j] = cg_var(cg, at, cg_constf(cg, at, -INFINITY), "mx");
		LLVMValueRef base = nest_open(cg, &ns, d, d->nd - 1, xcol);
		for (int j = 0; j < nv; j++) {
			LLVMValueRef v = cg_convert(cg, cg_load(cg, lt, r->x, LLVMBuildAdd(B, base, cg_i64(cg, (int64_t)j * lanes), "")), at);
			LLVMBuildStore(B, cg_combine(cg, CG_MAX_NAN, LLVMBuildLoad2(B, at, mx[j], ""), v), mx[j]);
		}
		nest_close(cg, &ns);
		for (int j = 0; j < nv; j++)
			mx[j] = LLVMBuildLoad2(B, at, mx[j], "");
	}
	for (int j = 0; j < nv; j++)
		acc[j] = cg_var(cg, at, red_init(cg, r, at), "acc");
	LLVMValueRef base = nest_open(cg, &ns, d, d->nd - 1, xcol);
	for (int j = 0; j < nv; j++) {
		LLVMValueRef v = cg_convert(cg, cg_load(cg, lt, r->x, LLVMBuildAdd(B, base, cg_i64(cg, (int64_t)j * lanes), "")), at);
		v = red_pre(cg, r, v, mx[j]);
		LLVMBuildStore(B, cg_combine(cg, r->comb, LLVMBuildLoad2(B, at, acc[j], ""), v), acc[j]);
	}
	nest_close(cg, &ns);
	LLVMValueRef ycol = LLVMBuildAdd(B, c->yoff, col, "");
	for (int j = 0; j < nv; j++) {
		LLVMValueRef v = cg_round_dtype(cg, r->ydt, red_final(cg, r, LLVMBuildLoad2(B, at, acc[j], ""), mx[j]));
		cg_store(cg, v, r->y, LLVMBuildAdd(B, ycol, cg_i64(cg, (int64_t)j * lanes), ""));
	}
}

/* y[i] = v for every output: the reduction of an empty set */
static void fill_task(Cg *cg, const Value *y, bool fp, double fv, int64_t iv, NodeCode *code)
{
	LLVMValueRef fn = cg_task_begin(cg, "fill");
	LLVMValueRef py = cg_ptr(cg, y);
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg->begin, cg->end, 1, "i");
	cg_store(cg, cg_round_dtype(cg, y->dtype, fp ? cg_f32(cg, (float)fv) : cg_i64(cg, iv)), py, i);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = shape_numel(&y->shape);
	code->n_tasks = 1;
}

static void empty_value(Op op, double *f, int64_t *i)
{
	*f = 0;
	*i = 0;
	switch (op) {
	case OP_ReduceMean: *f = NAN; break; /* 0/0; the integer mean of nothing is 0 */
	case OP_ReduceProd: *f = 1; *i = 1; break;
	case OP_ReduceMax: *f = -INFINITY; *i = INT64_MIN; break;
	case OP_ReduceMin: *f = INFINITY; *i = INT64_MAX; break;
	case OP_ReduceLogSumExp: *f = -INFINITY; *i = INT64_MIN; break;
	default: break;
	}
}

int emit_reduce(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0], *axes = n->n_in > 1 ? n->in[1] : NULL;
	int rank = x->shape.rank;
	int64_t k = axes ? shape_numel(&axes->shape) : 0;
	if (k > 0 && axes->data == NULL)
		return node_error(cg->d, n, "the cpu target needs constant axes");
	if (k > 0 && dtype_is_float(axes->dtype))
		return node_error(cg->d, n, "axes must be int64, got %s", dtype_name(axes->dtype));
	if (k == 0 && n->attr.reduce.noop_with_empty_axes)
		return emit_copy(cg, n, code);
	bool mask[NNZC_MAX_RANK];
	for (int i = 0; i < rank; i++)
		mask[i] = k == 0;
	for (int64_t i = 0; i < k; i++) {
		int64_t a = ((const int64_t *)axes->data)[i];
		if (a < -rank || a >= rank)
			return node_error(cg->d, n, "axis %lld is out of range for rank %d", (long long)a, rank);
		mask[a < 0 ? a + rank : a] = true;
	}
	Red r = {.op = n->op};
	r.count = 1;
	for (int i = 0; i < rank; i++)
		if (mask[i])
			r.count *= x->shape.dim[i];
	int64_t m = shape_numel(&y->shape);
	if (m * r.count != shape_numel(&x->shape) && r.count != 0)
		return node_error(cg->d, n, "output shape does not fit the reduction");
	bool fp = dtype_is_float(x->dtype);
	r.ydt = y->dtype;
	if (dtype_is_float(y->dtype) != fp)
		return node_error(cg->d, n, "output dtype %s does not match input dtype %s", dtype_name(y->dtype),
				  dtype_name(x->dtype));
	code->n_tasks = 0;
	if (m == 0)
		return 0;
	if (r.count == 0) {
		double fv;
		int64_t iv;
		empty_value(n->op, &fv, &iv);
		fill_task(cg, y, fp, fv, iv, code);
		return 0;
	}
	switch (n->op) {
	case OP_ReduceSum: case OP_ReduceMean: r.comb = CG_ADD; break;
	case OP_ReduceSumSquare: case OP_ReduceL2: r.comb = CG_ADD; r.pre = PRE_SQUARE; break;
	case OP_ReduceL1: r.comb = CG_ADD; r.pre = PRE_ABS; break;
	case OP_ReduceProd: r.comb = CG_MUL; break;
	case OP_ReduceMax: r.comb = CG_MAX_NAN; break;
	case OP_ReduceMin: r.comb = CG_MIN_NAN; break;
	case OP_ReduceLogSumExp: r.comb = CG_ADD; r.pre = PRE_EXP; break;
	default: return node_error(cg->d, n, "not a reduction");
	}
	r.et = cg_elem_type(cg, x->dtype);
	if (fp)
		r.at = cg->t_f32;
	else if (n->op == OP_ReduceL2 || n->op == OP_ReduceLogSumExp)
		r.at = cg->t_f64;
	else
		r.at = cg->t_i64;
	r.lanes = r.at == cg->t_f32 ? cg->vlen : cg->vlen / 2;
	if (r.at == cg->t_f64 && r.pre == PRE_EXP)
		r.lanes = 1; /* libm exp per element */
	merge_dims(&x->shape, mask, &r.d);

	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	r.x = cg_ptr(cg, x);
	r.y = cg_ptr(cg, y);
	int64_t iterations;
	const Dims *d = &r.d;
	if (d->red[d->nd - 1]) {
		reduce_rows(cg, &r);
		iterations = m;
	} else {
		int64_t width = d->dim[d->nd - 1];
		Strips s = strips_of(width, r.lanes);
		LLVMBuilderRef B = cg->b;
		Loop l;
		LLVMValueRef it = cg_for(cg, &l, cg->begin, cg->end, 1, "it");
		LLVMValueRef row = LLVMBuildUDiv(B, it, cg_i64(cg, s.units), "");
		LLVMValueRef u = LLVMBuildURem(B, it, cg_i64(cg, s.units), "");
		ColCtx c = {&r, kept_offset(cg, d, d->nd - 1, row), LLVMBuildMul(B, row, cg_i64(cg, width), "")};
		emit_strips(cg, &s, u, reduce_strip, &c);
		cg_for_end(cg, &l);
		iterations = m / width * s.units;
	}
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = iterations;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- one-axis ops */

/* x viewed as [outer, len, inner] around axis */
static void split_axis(const Shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= s->dim[i];
	for (int i = axis + 1; i < s->rank; i++)
		*inner *= s->dim[i];
	*len = s->dim[axis];
}

/* ---------------------------------------------------------------- ArgMax, ArgMin */

/* The interpreter's sequential rule: is v (at a later index) better than the best b so far?
 * NaN counts as the best value of all, the first one winning (the last with select_last_index);
 * among equal values the first (last) index wins. */
typedef struct Arg {
	bool max, last, fp;
	LLVMTypeRef et;
	int64_t len, inner;
	LLVMValueRef x, y;
} Arg;

static LLVMValueRef arg_better(Cg *cg, const Arg *a, LLVMValueRef v, LLVMValueRef b)
{
	LLVMBuilderRef B = cg->b;
	LLVMValueRef gt, eq;
	if (a->fp) {
		gt = LLVMBuildFCmp(B, a->max ? LLVMRealOGT : LLVMRealOLT, v, b, "");
		eq = LLVMBuildFCmp(B, LLVMRealOEQ, v, b, "");
	} else {
		gt = LLVMBuildICmp(B, a->max ? LLVMIntSGT : LLVMIntSLT, v, b, "");
		eq = LLVMBuildICmp(B, LLVMIntEQ, v, b, "");
	}
	LLVMValueRef ord = a->last ? LLVMBuildOr(B, gt, eq, "") : gt;
	if (!a->fp)
		return ord;
	LLVMValueRef vnan = LLVMBuildFCmp(B, LLVMRealUNO, v, v, "");
	LLVMValueRef bnum = LLVMBuildFCmp(B, LLVMRealORD, b, b, "");
	LLVMValueRef nan_wins = a->last ? LLVMConstAllOnes(LLVMTypeOf(bnum)) : bnum;
	return LLVMBuildSelect(B, vnan, nan_wins, ord, "");
}

/* Of two candidates at indices i1 < i2 or i1 > i2 (lanes of one row), the one the sequential
 * scan would keep: put the earlier first and ask arg_better. */
static void arg_pick(Cg *cg, const Arg *a, LLVMValueRef *bv, LLVMValueRef *bi, LLVMValueRef v, LLVMValueRef i)
{
	LLVMBuilderRef B = cg->b;
	LLVMValueRef later = LLVMBuildICmp(B, LLVMIntSGT, i, *bi, "");
	LLVMValueRef ev = LLVMBuildSelect(B, later, *bv, v, ""), ei = LLVMBuildSelect(B, later, *bi, i, "");
	LLVMValueRef lv = LLVMBuildSelect(B, later, v, *bv, ""), li = LLVMBuildSelect(B, later, i, *bi, "");
	LLVMValueRef take = arg_better(cg, a, lv, ev);
	*bv = LLVMBuildSelect(B, take, lv, ev, "");
	*bi = LLVMBuildSelect(B, take, li, ei, "");
}

/* inner == 1: one row per iteration; lanes scan interleaved indices, then are merged, then the
 * tail continues the scan */
static void arg_rows(Cg *cg, const Arg *a, int lanes)
{
	LLVMBuilderRef B = cg->b;
	Loop l;
	LLVMValueRef o = cg_for(cg, &l, cg->begin, cg->end, 1, "o");
	LLVMValueRef base = LLVMBuildMul(B, o, cg_i64(cg, a->len), "");
	int64_t nvec = lanes > 1 && a->len >= 2 * lanes ? a->len / lanes * lanes : 0;
	LLVMValueRef bvv = cg_var(cg, a->et, cg_load(cg, a->et, a->x, base), "best");
	LLVMValueRef biv = cg_var(cg, cg->t_i64, cg_i64(cg, 0), "besti");
	int64_t start = 1;
	if (nvec > 0) {
		LLVMTypeRef vt = cg_vec(cg, a->et, lanes), it = cg_vec(cg, cg->t_i64, lanes);
		LLVMValueRef vb = cg_var(cg, vt, cg_load(cg, vt, a->x, base), "vbest");
		LLVMValueRef vi = cg_var(cg, it, iota(cg, cg_i64(cg, 0), lanes), "vbesti");
		Loop vl;
		LLVMValueRef k = cg_for(cg, &vl, cg_i64(cg, lanes), cg_i64(cg, nvec), lanes, "k");
		LLVMValueRef v = cg_load(cg, vt, a->x, LLVMBuildAdd(B, base, k, ""));
		LLVMValueRef b = LLVMBuildLoad2(B, vt, vb, "");
		LLVMValueRef take = arg_better(cg, a, v, b);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, v, b, ""), vb);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, iota(cg, k, lanes), LLVMBuildLoad2(B, it, vi, ""), ""), vi);
		cg_for_end(cg, &vl);
		LLVMValueRef fv = LLVMBuildLoad2(B, vt, vb, ""), fi = LLVMBuildLoad2(B, it, vi, "");
		LLVMValueRef bv = LLVMBuildExtractElement(B, fv, cg_i32(cg, 0), "");
		LLVMValueRef bi = LLVMBuildExtractElement(B, fi, cg_i32(cg, 0), "");
		for (int j = 1; j < lanes; j++)
			arg_pick(cg, a, &bv, &bi, LLVMBuildExtractElement(B, fv, cg_i32(cg, j), ""),
				 LLVMBuildExtractElement(B, fi, cg_i32(cg, j), ""));
		LLVMBuildStore(B, bv, bvv);
		LLVMBuildStore(B, bi, biv);
		start = nvec;
	}
	if (start < a->len) {
		Loop sl;
		LLVMValueRef k = cg_for(cg, &sl, cg_i64(cg, start), cg_i64(cg, a->len), 1, "k");
		LLVMValueRef v = cg_load(cg, a->et, a->x, LLVMBuildAdd(B, base, k, ""));
		LLVMValueRef b = LLVMBuildLoad2(B, a->et, bvv, "");
		LLVMValueRef take = arg_better(cg, a, v, b);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, v, b, ""), bvv);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, k, LLVMBuildLoad2(B, cg->t_i64, biv, ""), ""), biv);
		cg_for_end(cg, &sl);
	}
	cg_store(cg, LLVMBuildLoad2(B, cg->t_i64, biv, ""), a->y, o);
	cg_for_end(cg, &l);
}

typedef struct ArgStripCtx { const Arg *a; LLVMValueRef xoff, yoff; } ArgStripCtx;

/* inner > 1: every lane is its own sequential scan down the axis */
static void arg_strip(Cg *cg, void *ctx, LLVMValueRef col, int nv, int lanes)
{
	ArgStripCtx *c = ctx;
	const Arg *a = c->a;
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef vt = vt_of(cg, a->et, lanes), it = vt_of(cg, cg->t_i64, lanes);
	LLVMValueRef xcol = LLVMBuildAdd(B, c->xoff, col, "");
	LLVMValueRef bv[16], bi[16];
	for (int j = 0; j < nv; j++) {
		bv[j] = cg_var(cg, vt, cg_load(cg, vt, a->x, LLVMBuildAdd(B, xcol, cg_i64(cg, (int64_t)j * lanes), "")), "best");
		bi[j] = cg_var(cg, it, cg_consti(cg, it, 0), "besti");
	}
	Loop l;
	LLVMValueRef k = cg_for(cg, &l, cg_i64(cg, 1), cg_i64(cg, a->len), 1, "k");
	LLVMValueRef row = LLVMBuildAdd(B, xcol, LLVMBuildMul(B, k, cg_i64(cg, a->inner), ""), "");
	LLVMValueRef ks = splat_n(cg, k, lanes);
	for (int j = 0; j < nv; j++) {
		LLVMValueRef v = cg_load(cg, vt, a->x, LLVMBuildAdd(B, row, cg_i64(cg, (int64_t)j * lanes), ""));
		LLVMValueRef b = LLVMBuildLoad2(B, vt, bv[j], "");
		LLVMValueRef take = arg_better(cg, a, v, b);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, v, b, ""), bv[j]);
		LLVMBuildStore(B, LLVMBuildSelect(B, take, ks, LLVMBuildLoad2(B, it, bi[j], ""), ""), bi[j]);
	}
	cg_for_end(cg, &l);
	LLVMValueRef ycol = LLVMBuildAdd(B, c->yoff, col, "");
	for (int j = 0; j < nv; j++)
		cg_store(cg, LLVMBuildLoad2(B, it, bi[j], ""), a->y, LLVMBuildAdd(B, ycol, cg_i64(cg, (int64_t)j * lanes), ""));
}

int emit_arg_reduce(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.arg_reduce.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(cg->d, n, "%s", tmp.msg);
	Arg a = {.max = n->op == OP_ArgMax, .last = n->attr.arg_reduce.select_last_index != 0,
		 .fp = dtype_is_float(x->dtype), .et = cg_elem_type(cg, x->dtype)};
	int64_t outer;
	split_axis(&x->shape, axis, &outer, &a.len, &a.inner);
	if (y->dtype != DT_I64 || shape_numel(&y->shape) != outer * a.inner)
		return node_error(cg->d, n, "output does not fit the input");
	code->n_tasks = 0;
	if (outer * a.inner == 0)
		return 0;
	if (a.len == 0)
		return node_error(cg->d, n, "cannot take the %s over an empty axis", a.max ? "maximum" : "minimum");
	int lanes = a.fp ? cg->vlen : cg->vlen / 2;
	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	a.x = cg_ptr(cg, x);
	a.y = cg_ptr(cg, y);
	int64_t iterations;
	if (a.inner == 1) {
		arg_rows(cg, &a, lanes);
		iterations = outer;
	} else {
		LLVMBuilderRef B = cg->b;
		Strips s = strips_of(a.inner, lanes);
		Loop l;
		LLVMValueRef it = cg_for(cg, &l, cg->begin, cg->end, 1, "it");
		LLVMValueRef o = LLVMBuildUDiv(B, it, cg_i64(cg, s.units), "");
		LLVMValueRef u = LLVMBuildURem(B, it, cg_i64(cg, s.units), "");
		ArgStripCtx c = {&a, LLVMBuildMul(B, o, cg_i64(cg, a.len * a.inner), ""),
				 LLVMBuildMul(B, o, cg_i64(cg, a.inner), "")};
		emit_strips(cg, &s, u, arg_strip, &c);
		cg_for_end(cg, &l);
		iterations = outer * s.units;
	}
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = iterations;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- Softmax, LogSoftmax */

/* Three passes over the normalised axis: the max (NaN propagates), the sum of exp(x - max)
 * (Softmax stores the exponentials into y on the way), and y = e / sum or x - max - log(sum). */
typedef struct Soft {
	bool log_out;
	DType ydt;
	int64_t len, inner;
	LLVMValueRef x, y;
} Soft;

typedef struct ExpMap { LLVMValueRef mx; } ExpMap;

static LLVMValueRef exp_map(Cg *cg, LLVMValueRef v, void *ctx)
{
	ExpMap *m = ctx;
	LLVMTypeRef t = LLVMTypeOf(v);
	LLVMValueRef mx = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? cg_splat(cg, m->mx, (int)LLVMGetVectorSize(t)) : m->mx;
	return cg_exp(cg, LLVMBuildFSub(cg->b, v, mx, ""));
}

/* inner == 1: one contiguous row per iteration */
static void soft_rows(Cg *cg, const Soft *s)
{
	LLVMBuilderRef B = cg->b;
	int lanes = cg->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, lanes);
	Loop l;
	LLVMValueRef o = cg_for(cg, &l, cg->begin, cg->end, 1, "o");
	LLVMValueRef base = LLVMBuildMul(B, o, cg_i64(cg, s->len), "");
	CgRowAcc m = {.op = CG_MAX_NAN, .et = cg->t_f32, .at = cg->t_f32, .lanes = lanes, .unroll = 4};
	cg_row_init(cg, &m, cg_f32(cg, -INFINITY));
	cg_row_run(cg, &m, s->x, base, s->len);
	LLVMValueRef mx = cg_row_result(cg, &m);
	int64_t nvec = s->len / lanes * lanes;
	LLVMValueRef sum;
	if (s->log_out) {
		ExpMap em = {mx};
		CgRowAcc e = {.op = CG_ADD, .et = cg->t_f32, .at = cg->t_f32, .lanes = lanes, .unroll = 2, .map = exp_map,
			      .map_ctx = &em};
		cg_row_init(cg, &e, cg_f32(cg, 0.0f));
		cg_row_run(cg, &e, s->x, base, s->len);
		sum = cg_row_result(cg, &e);
	} else {
		/* exp stored into y while summing */
		LLVMValueRef vs = cg_var(cg, vt, cg_constf(cg, vt, 0.0), "vsum");
		LLVMValueRef ss = cg_var(cg, cg->t_f32, cg_f32(cg, 0.0f), "ssum");
		LLVMValueRef vmx = cg_splat(cg, mx, lanes);
		if (nvec > 0) {
			Loop vl;
			LLVMValueRef k = cg_for(cg, &vl, cg_i64(cg, 0), cg_i64(cg, nvec), lanes, "k");
			LLVMValueRef at = LLVMBuildAdd(B, base, k, "");
			LLVMValueRef e = cg_exp(cg, LLVMBuildFSub(B, cg_load(cg, vt, s->x, at), vmx, ""));
			cg_store(cg, e, s->y, at);
			LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildLoad2(B, vt, vs, ""), e, ""), vs);
			cg_for_end(cg, &vl);
		}
		if (nvec < s->len) {
			Loop sl;
			LLVMValueRef k = cg_for(cg, &sl, cg_i64(cg, nvec), cg_i64(cg, s->len), 1, "k");
			LLVMValueRef at = LLVMBuildAdd(B, base, k, "");
			LLVMValueRef e = cg_exp(cg, LLVMBuildFSub(B, cg_load(cg, cg->t_f32, s->x, at), mx, ""));
			cg_store(cg, e, s->y, at);
			LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildLoad2(B, cg->t_f32, ss, ""), e, ""), ss);
			cg_for_end(cg, &sl);
		}
		sum = LLVMBuildFAdd(B, cg_hreduce(cg, CG_ADD, LLVMBuildLoad2(B, vt, vs, "")),
				    LLVMBuildLoad2(B, cg->t_f32, ss, ""), "");
	}
	/* last pass: y = e * (1/sum), or y = x - (max + log(sum)) */
	LLVMValueRef f = s->log_out ? LLVMBuildFAdd(B, mx, cg_libm(cg, "logf", sum), "")
				    : LLVMBuildFDiv(B, cg_f32(cg, 1.0f), sum, "");
	for (int pass = 0; pass < 2; pass++) {
		int ln = pass == 0 ? lanes : 1;
		int64_t from = pass == 0 ? 0 : nvec, to = pass == 0 ? nvec : s->len;
		if (from >= to)
			continue;
		LLVMTypeRef t = vt_of(cg, cg->t_f32, ln);
		LLVMValueRef fv = splat_n(cg, f, ln);
		Loop fl;
		LLVMValueRef k = cg_for(cg, &fl, cg_i64(cg, from), cg_i64(cg, to), ln, "k");
		LLVMValueRef at = LLVMBuildAdd(B, base, k, "");
		LLVMValueRef r = s->log_out ? LLVMBuildFSub(B, cg_load(cg, t, s->x, at), fv, "")
					    : LLVMBuildFMul(B, cg_load(cg, t, s->y, at), fv, "");
		cg_store(cg, cg_round_dtype(cg, s->ydt, r), s->y, at);
		cg_for_end(cg, &fl);
	}
	cg_for_end(cg, &l);
}

typedef struct SoftStripCtx { const Soft *s; LLVMValueRef off; } SoftStripCtx;

/* inner > 1: the three passes run down the axis for a strip of columns at once */
static void soft_strip(Cg *cg, void *ctx, LLVMValueRef col, int nv, int lanes)
{
	SoftStripCtx *c = ctx;
	const Soft *s = c->s;
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef t = vt_of(cg, cg->t_f32, lanes);
	LLVMValueRef start = LLVMBuildAdd(B, c->off, col, "");
	LLVMValueRef mx[16], sum[16], f[16];
	for (int j = 0; j < nv; j++) {
		mx[j] = cg_var(cg, t, cg_constf(cg, t, -INFINITY), "mx");
		sum[j] = cg_var(cg, t, cg_constf(cg, t, 0.0), "sum");
	}
	for (int pass = 0; pass < 3; pass++) {
		Loop l;
		LLVMValueRef k = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, s->len), 1, "k");
		LLVMValueRef row = LLVMBuildAdd(B, start, LLVMBuildMul(B, k, cg_i64(cg, s->inner), ""), "");
		for (int j = 0; j < nv; j++) {
			LLVMValueRef at = LLVMBuildAdd(B, row, cg_i64(cg, (int64_t)j * lanes), "");
			LLVMValueRef v = cg_load(cg, t, s->x, at);
			if (pass == 0) {
				LLVMBuildStore(B, cg_combine(cg, CG_MAX_NAN, LLVMBuildLoad2(B, t, mx[j], ""), v), mx[j]);
			} else if (pass == 1) {
				LLVMValueRef e = cg_exp(cg, LLVMBuildFSub(B, v, LLVMBuildLoad2(B, t, mx[j], ""), ""));
				if (!s->log_out)
					cg_store(cg, e, s->y, at);
				LLVMBuildStore(B, LLVMBuildFAdd(B, LLVMBuildLoad2(B, t, sum[j], ""), e, ""), sum[j]);
			} else {
				LLVMValueRef r = s->log_out ? LLVMBuildFSub(B, v, f[j], "")
							    : LLVMBuildFMul(B, cg_load(cg, t, s->y, at), f[j], "");
				cg_store(cg, cg_round_dtype(cg, s->ydt, r), s->y, at);
			}
		}
		cg_for_end(cg, &l);
		if (pass == 1)
			for (int j = 0; j < nv; j++) {
				LLVMValueRef sm = LLVMBuildLoad2(B, t, sum[j], "");
				f[j] = s->log_out ? LLVMBuildFAdd(B, LLVMBuildLoad2(B, t, mx[j], ""), cg_libm(cg, "logf", sm), "")
						  : LLVMBuildFDiv(B, cg_constf(cg, t, 1.0), sm, "");
			}
	}
}

int emit_softmax(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (!dtype_is_float(x->dtype) || !dtype_is_float(y->dtype) || !shape_equal(&x->shape, &y->shape))
		return node_error(cg->d, n, "input and output must be floating-point tensors of the same shape");
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.axis.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(cg->d, n, "%s", tmp.msg);
	Soft s = {.log_out = n->op == OP_LogSoftmax, .ydt = y->dtype};
	int64_t outer;
	split_axis(&x->shape, axis, &outer, &s.len, &s.inner);
	code->n_tasks = 0;
	if (outer * s.len * s.inner == 0)
		return 0;
	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	s.x = cg_ptr(cg, x);
	s.y = cg_ptr(cg, y);
	int64_t iterations;
	if (s.inner == 1) {
		soft_rows(cg, &s);
		iterations = outer;
	} else {
		LLVMBuilderRef B = cg->b;
		Strips st = strips_of(s.inner, cg->vlen);
		Loop l;
		LLVMValueRef it = cg_for(cg, &l, cg->begin, cg->end, 1, "it");
		LLVMValueRef o = LLVMBuildUDiv(B, it, cg_i64(cg, st.units), "");
		LLVMValueRef u = LLVMBuildURem(B, it, cg_i64(cg, st.units), "");
		SoftStripCtx c = {&s, LLVMBuildMul(B, o, cg_i64(cg, s.len * s.inner), "")};
		emit_strips(cg, &st, u, soft_strip, &c);
		cg_for_end(cg, &l);
		iterations = outer * st.units;
	}
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = iterations;
	code->n_tasks = 1;
	return 0;
}
