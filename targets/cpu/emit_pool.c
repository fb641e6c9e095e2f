/* Pooling: MaxPool and AveragePool (1-D to 3-D, float; MaxPool also integer), GlobalAveragePool
 * and GlobalMaxPool.
 *
 * MaxPool/AveragePool: the geometry is window_of_node()'s, seen as 3-D (D, H, W). A parallel
 * iteration is one output row (plane, od, oh): OW outputs. Which taps of a window fall inside the
 * input depends on the output position only, so it is worked out at compile time into small
 * tables per spatial dim (first tap, end tap, taps inside the padded input), read at run time
 * for D and H; a table that is the same everywhere becomes a constant. Along W the row splits
 * into an interior, where every tap of every window is inside the input, and the edges. The
 * interior runs on vectors of output positions: for stride 1 a tap is one unaligned load; for
 * strides 2 to 4 a load of stride*lanes consecutive elements and a shuffle picking every
 * stride-th; the last interior vector is placed to end exactly at the interior's end (it may
 * overlap the one before, which recomputes the same values), so only the true edges are left
 * to the scalar code, which clips each window by the tables.
 *
 * Semantics are the interpreter's (targets/ref/pool.c): max ignores NaN (v > max ? v : max), a
 * window with no tap inside the input gives -inf (or INT64_MIN), the average divides by the
 * clipped tap count, or with count_include_pad by the taps inside the padded input, and is 0
 * for a window with no tap at all. Sums are float (the interpreter's are double: within 1e-6
 * relative for any window that fits in memory). */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>

#define S NNZC_MAX_SPATIAL

/* The interpreter's taps(): window o along dim j has taps [lo, hi) inside the input and np taps
 * inside the padded input. */
static void taps(const Window *w, int j, int64_t o, int64_t *lo, int64_t *hi, int64_t *np)
{
	int64_t start = o * w->stride[j] - w->pad_lo[j], dl = w->dilation[j], k = w->kernel[j];
	int64_t a = 0, b = k, pa = 0, pb = k;
	if (start < 0)
		a = (-start + dl - 1) / dl;
	if (start + (k - 1) * dl >= w->in[j])
		b = start >= w->in[j] ? 0 : (w->in[j] - 1 - start) / dl + 1;
	if (start < -w->pad_lo[j])
		pa = (-w->pad_lo[j] - start + dl - 1) / dl;
	int64_t end = w->in[j] + w->pad_hi[j];
	if (start + (k - 1) * dl >= end)
		pb = start >= end ? 0 : (end - 1 - start) / dl + 1;
	*lo = a < k ? a : k;
	*hi = b > *lo ? b : *lo;
	*np = pb > pa ? pb - pa : 0;
}

/* One column of the tap tables of dim j: a table, or a constant when it never changes. */
typedef struct TapCol {
	LLVMValueRef table; /* NULL: uniform */
	int64_t value;
} TapCol;

typedef struct PoolGen {
	const Node *n;
	Window w;
	bool fp, avg, include_pad;
	LLVMTypeRef et;
	TapCol lo[S], hi[S], np[S];
	/* W split: interior [ilo, ihi); vectors of `lanes` at ilo + k*lanes for k < nvec, plus one
	 * ending at ihi when tail_vec */
	int64_t ilo, ihi, nvec;
	int lanes;
	bool tail_vec;
} PoolGen;

static int make_col(Cg *cg, const Window *w, int j, int which, TapCol *col, const char *what)
{
	int64_t n = w->out[j];
	int64_t *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	if (v == NULL)
		return diag_error(cg->d, "out of memory");
	bool uniform = true;
	for (int64_t o = 0; o < n; o++) {
		int64_t t[3];
		taps(w, j, o, &t[0], &t[1], &t[2]);
		v[o] = t[which];
		uniform &= v[o] == v[0];
	}
	col->table = NULL;
	col->value = n > 0 ? v[0] : 0;
	if (!uniform)
		col->table = cg_table_i64(cg, v, n, what);
	free(v);
	return uniform || col->table ? 0 : diag_error(cg->d, "out of memory");
}

static LLVMValueRef col_at(Cg *cg, const TapCol *c, LLVMValueRef o)
{
	if (c->table == NULL)
		return cg_i64(cg, c->value);
	return cg_load(cg, cg->t_i64, c->table, o);
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Choose the vector width and the interior along W. */
static void plan_w(Cg *cg, PoolGen *p)
{
	const Window *w = &p->w;
	int64_t s = w->stride[2], pad = w->pad_lo[2], dl = w->dilation[2], k = w->kernel[2];
	int64_t in = w->in[2], out = w->out[2];
	/* ow is interior when ow*s - pad >= 0 and ow*s - pad + (k-1)*dl <= in - 1 */
	p->ilo = (pad + s - 1) / s;
	if (p->ilo > out)
		p->ilo = out;
	p->ihi = floor_div(in - 1 + pad - (k - 1) * dl, s) + 1;
	if (p->ihi > out)
		p->ihi = out;
	if (p->ihi < p->ilo)
		p->ihi = p->ilo;
	p->nvec = 0;
	p->lanes = 1;
	p->tail_vec = false;
	if (s > 4)
		return; /* a wide load would fetch mostly unused elements */
	int maxl = p->fp ? cg->vlen : cg->vlen / 2;
	for (int v = maxl; v >= 2; v /= 2) {
		if (p->ihi - p->ilo < v)
			continue;
		/* a vector at ow0 loads [ow0*s - pad + c*dl, + v*s) for every tap c */
		int64_t maxstart = floor_div(in - (int64_t)v * s + pad - (k - 1) * dl, s);
		if (maxstart > p->ihi - v)
			maxstart = p->ihi - v;
		int64_t nvec = maxstart >= p->ilo ? (maxstart - p->ilo) / v + 1 : 0;
		/* the last vector ends at ihi; with s > 1 its wide load is shifted back by s - 1 so that
		 * it ends on the last element it uses */
		int64_t last = p->ihi - v;
		bool tail = p->ilo + nvec * v < p->ihi && last * s - pad - (s - 1) >= 0;
		if (nvec > 0 || tail) {
			p->lanes = v;
			p->nvec = nvec;
			p->tail_vec = tail;
			return;
		}
	}
}

/* lanes output positions' tap: elements base + i*s for i < lanes; shift = elements loaded before
 * base (0, or s - 1 for a vector whose wide load must end on its last used element) */
static LLVMValueRef strided_load(Cg *cg, const PoolGen *p, LLVMValueRef ptr, LLVMValueRef base, int64_t shift)
{
	int64_t s = p->w.stride[2];
	if (s == 1)
		return cg_load(cg, cg_vec(cg, p->et, p->lanes), ptr, base);
	LLVMValueRef start = LLVMBuildSub(cg->b, base, cg_i64(cg, shift), "");
	LLVMValueRef wide = cg_load(cg, cg_vec(cg, p->et, (int)(p->lanes * s)), ptr, start);
	LLVMValueRef idx[64];
	for (int i = 0; i < p->lanes; i++)
		idx[i] = cg_i32(cg, (int32_t)(shift + i * s));
	return LLVMBuildShuffleVector(cg->b, wide, LLVMGetPoison(LLVMTypeOf(wide)), LLVMConstVector(idx, (unsigned)p->lanes), "");
}

static LLVMValueRef init_value(Cg *cg, const PoolGen *p, LLVMTypeRef t)
{
	if (p->avg)
		return cg_constf(cg, t, 0.0);
	return p->fp ? cg_constf(cg, t, -INFINITY) : cg_consti(cg, t, INT64_MIN);
}

static LLVMValueRef combine(Cg *cg, const PoolGen *p, LLVMValueRef acc, LLVMValueRef v)
{
	return cg_combine(cg, p->avg ? CG_ADD : CG_MAX, acc, v);
}

/* Per row (set by the caller): the D and H taps and the row offsets. */
typedef struct RowCtx {
	LLVMValueRef x, y, xplane, yrow;     /* pointers, and offsets of the plane and the output row */
	LLVMValueRef lo[2], hi[2], np[2];    /* D and H taps */
	LLVMValueRef id0, ih0;               /* first input position of the D and H windows */
} RowCtx;

/* Loops over the D and H taps; returns the offset of input row (a, b) within x. */
typedef struct TapLoops { Loop la, lb; } TapLoops;

static LLVMValueRef tap_rows_begin(Cg *cg, const PoolGen *p, const RowCtx *rc, TapLoops *tl)
{
	const Window *w = &p->w;
	LLVMBuilderRef B = cg->b;
	LLVMValueRef a = cg_for(cg, &tl->la, rc->lo[0], rc->hi[0], 1, "a");
	LLVMValueRef b = cg_for(cg, &tl->lb, rc->lo[1], rc->hi[1], 1, "b");
	LLVMValueRef id = LLVMBuildAdd(B, rc->id0, LLVMBuildMul(B, a, cg_i64(cg, w->dilation[0]), ""), "");
	LLVMValueRef ih = LLVMBuildAdd(B, rc->ih0, LLVMBuildMul(B, b, cg_i64(cg, w->dilation[1]), ""), "");
	LLVMValueRef row = LLVMBuildAdd(B, LLVMBuildMul(B, id, cg_i64(cg, w->in[1]), ""), ih, "");
	return LLVMBuildAdd(B, rc->xplane, LLVMBuildMul(B, row, cg_i64(cg, w->in[2]), ""), "");
}

static void tap_rows_end(Cg *cg, TapLoops *tl)
{
	cg_for_end(cg, &tl->lb);
	cg_for_end(cg, &tl->la);
}

/* 1 / count for the interior of W: taps are kernel[2] there with or without padding */
static LLVMValueRef avg_scale(Cg *cg, const PoolGen *p, const RowCtx *rc, LLVMValueRef w_count)
{
	LLVMBuilderRef B = cg->b;
	LLVMValueRef cnt;
	if (p->include_pad)
		cnt = LLVMBuildMul(B, rc->np[0], rc->np[1], "");
	else
		cnt = LLVMBuildMul(B, LLVMBuildSub(B, rc->hi[0], rc->lo[0], ""), LLVMBuildSub(B, rc->hi[1], rc->lo[1], ""), "");
	cnt = LLVMBuildMul(B, cnt, w_count, "");
	/* no tap at all: the sum is 0 and so is the average */
	LLVMValueRef inv = LLVMBuildFDiv(B, cg_f32(cg, 1.0f), LLVMBuildSIToFP(B, cnt, cg->t_f32, ""), "");
	return LLVMBuildSelect(B, LLVMBuildICmp(B, LLVMIntSGT, cnt, cg_i64(cg, 0), ""), inv, cg_f32(cg, 0.0f), "");
}

/* One vector of outputs starting at ow0 (interior). */
static void emit_vector(Cg *cg, const PoolGen *p, const RowCtx *rc, LLVMValueRef ow0, int64_t shift, LLVMValueRef scale)
{
	const Window *w = &p->w;
	LLVMBuilderRef B = cg->b;
	LLVMTypeRef vt = cg_vec(cg, p->et, p->lanes);
	LLVMValueRef acc = cg_var(cg, vt, init_value(cg, p, vt), "acc");
	TapLoops tl;
	LLVMValueRef row = tap_rows_begin(cg, p, rc, &tl);
	LLVMValueRef base = LLVMBuildAdd(B, row, LLVMBuildSub(B, LLVMBuildMul(B, ow0, cg_i64(cg, w->stride[2]), ""),
							   cg_i64(cg, w->pad_lo[2]), ""), "");
	LLVMValueRef a = LLVMBuildLoad2(B, vt, acc, "");
	if (w->kernel[2] <= 16) {
		for (int64_t c = 0; c < w->kernel[2]; c++) {
			LLVMValueRef at = LLVMBuildAdd(B, base, cg_i64(cg, c * w->dilation[2]), "");
			a = combine(cg, p, a, strided_load(cg, p, rc->x, at, shift));
		}
		LLVMBuildStore(B, a, acc);
	} else {
		Loop lc;
		LLVMValueRef c = cg_for(cg, &lc, cg_i64(cg, 0), cg_i64(cg, w->kernel[2]), 1, "c");
		LLVMValueRef at = LLVMBuildAdd(B, base, LLVMBuildMul(B, c, cg_i64(cg, w->dilation[2]), ""), "");
		a = LLVMBuildLoad2(B, vt, acc, "");
		LLVMBuildStore(B, combine(cg, p, a, strided_load(cg, p, rc->x, at, shift)), acc);
		cg_for_end(cg, &lc);
	}
	tap_rows_end(cg, &tl);
	LLVMValueRef r = LLVMBuildLoad2(B, vt, acc, "");
	if (p->avg)
		r = LLVMBuildFMul(B, r, cg_splat(cg, scale, p->lanes), "");
	cg_store(cg, cg_round_dtype(cg, p->n->out[0]->dtype, r), rc->y, LLVMBuildAdd(B, rc->yrow, ow0, ""));
}

/* Outputs [from, to) of the row one at a time, each window clipped by the W tables. */
static void emit_scalar(Cg *cg, const PoolGen *p, const RowCtx *rc, int64_t from, int64_t to)
{
	if (from >= to)
		return;
	const Window *w = &p->w;
	LLVMBuilderRef B = cg->b;
	Loop lo;
	LLVMValueRef ow = cg_for(cg, &lo, cg_i64(cg, from), cg_i64(cg, to), 1, "ow");
	LLVMValueRef lo2 = col_at(cg, &p->lo[2], ow), hi2 = col_at(cg, &p->hi[2], ow);
	LLVMValueRef acc = cg_var(cg, p->et, init_value(cg, p, p->et), "acc");
	TapLoops tl;
	LLVMValueRef row = tap_rows_begin(cg, p, rc, &tl);
	LLVMValueRef base = LLVMBuildAdd(B, row, LLVMBuildSub(B, LLVMBuildMul(B, ow, cg_i64(cg, w->stride[2]), ""),
							   cg_i64(cg, w->pad_lo[2]), ""), "");
	Loop lc;
	LLVMValueRef c = cg_for(cg, &lc, lo2, hi2, 1, "c");
	LLVMValueRef v = cg_load(cg, p->et, rc->x, LLVMBuildAdd(B, base, LLVMBuildMul(B, c, cg_i64(cg, w->dilation[2]), ""), ""));
	LLVMBuildStore(B, combine(cg, p, LLVMBuildLoad2(B, p->et, acc, ""), v), acc);
	cg_for_end(cg, &lc);
	tap_rows_end(cg, &tl);
	LLVMValueRef r = LLVMBuildLoad2(B, p->et, acc, "");
	if (p->avg) {
		LLVMValueRef wc = p->include_pad ? col_at(cg, &p->np[2], ow) : LLVMBuildSub(B, hi2, lo2, "");
		r = LLVMBuildFMul(B, r, avg_scale(cg, p, rc, wc), "");
	}
	cg_store(cg, cg_round_dtype(cg, p->n->out[0]->dtype, r), rc->y, LLVMBuildAdd(B, rc->yrow, ow, ""));
	cg_for_end(cg, &lo);
}

int emit_pool(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	PoolGen p = {.n = n};
	Shape none = shape_unknown();
	if (window_of_node(n, &x->shape, &none, &p.w, cg->d) < 0)
		return -1;
	const Window *w = &p.w;
	p.fp = dtype_is_float(x->dtype);
	p.avg = n->op == OP_AveragePool;
	p.include_pad = n->attr.pool.count_include_pad != 0;
	p.et = cg_elem_type(cg, x->dtype);
	if (p.avg && !p.fp)
		return node_error(cg->d, n, "AveragePool of integer type %s", dtype_name(x->dtype));
	if (n->n_out > 1 && n->out[1])
		return node_error(cg->d, n, "the Indices output is not supported");
	int64_t planes = x->shape.dim[0] * x->shape.dim[1];
	int64_t rows = planes * w->out[0] * w->out[1];
	if (rows * w->out[2] != shape_numel(&y->shape))
		return node_error(cg->d, n, "output shape does not match the window");
	code->n_tasks = 0;
	if (rows == 0 || w->out[2] == 0)
		return 0;
	static const char *const names[3][3] = {{"lo0", "hi0", "np0"}, {"lo1", "hi1", "np1"}, {"lo2", "hi2", "np2"}};
	for (int j = 0; j < S; j++)
		if (make_col(cg, w, j, 0, &p.lo[j], names[j][0]) < 0 || make_col(cg, w, j, 1, &p.hi[j], names[j][1]) < 0 ||
		    make_col(cg, w, j, 2, &p.np[j], names[j][2]) < 0)
			return -1;
	plan_w(cg, &p);

	LLVMBuilderRef B = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	RowCtx rc;
	rc.x = cg_ptr(cg, x);
	rc.y = cg_ptr(cg, y);
	Loop rl;
	LLVMValueRef r = cg_for(cg, &rl, cg->begin, cg->end, 1, "row");
	LLVMValueRef oh = LLVMBuildURem(B, r, cg_i64(cg, w->out[1]), "");
	LLVMValueRef t = LLVMBuildUDiv(B, r, cg_i64(cg, w->out[1]), "");
	LLVMValueRef od = LLVMBuildURem(B, t, cg_i64(cg, w->out[0]), "");
	LLVMValueRef plane = LLVMBuildUDiv(B, t, cg_i64(cg, w->out[0]), "");
	rc.xplane = LLVMBuildMul(B, plane, cg_i64(cg, w->in[0] * w->in[1] * w->in[2]), "");
	rc.yrow = LLVMBuildMul(B, r, cg_i64(cg, w->out[2]), "");
	LLVMValueRef o[2] = {od, oh};
	for (int j = 0; j < 2; j++) {
		rc.lo[j] = col_at(cg, &p.lo[j], o[j]);
		rc.hi[j] = col_at(cg, &p.hi[j], o[j]);
		rc.np[j] = col_at(cg, &p.np[j], o[j]);
	}
	rc.id0 = LLVMBuildSub(B, LLVMBuildMul(B, od, cg_i64(cg, w->stride[0]), ""), cg_i64(cg, w->pad_lo[0]), "");
	rc.ih0 = LLVMBuildSub(B, LLVMBuildMul(B, oh, cg_i64(cg, w->stride[1]), ""), cg_i64(cg, w->pad_lo[1]), "");

	int64_t vend = p.ilo + p.nvec * p.lanes;
	LLVMValueRef scale = p.avg ? avg_scale(cg, &p, &rc, cg_i64(cg, w->kernel[2])) : NULL;
	if (p.nvec > 0) {
		Loop vl;
		LLVMValueRef ow0 = cg_for(cg, &vl, cg_i64(cg, p.ilo), cg_i64(cg, vend), p.lanes, "ow");
		emit_vector(cg, &p, &rc, ow0, 0, scale);
		cg_for_end(cg, &vl);
	}
	if (p.tail_vec) {
		emit_vector(cg, &p, &rc, cg_i64(cg, p.ihi - p.lanes), w->stride[2] - 1, scale);
		vend = p.ihi;
	}
	emit_scalar(cg, &p, &rc, 0, p.ilo);
	emit_scalar(cg, &p, &rc, vend > p.ilo ? vend : p.ilo, w->out[2]);
	cg_for_end(cg, &rl);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = rows;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- global pools */

/* One iteration per (image, channel) plane: a vector reduction of its contiguous elements. */
int emit_global_pool(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (!dtype_is_float(x->dtype))
		return node_error(cg->d, n, "input must be floating-point, not %s", dtype_name(x->dtype));
	int64_t planes = x->shape.dim[0] * x->shape.dim[1], numel = shape_numel(&x->shape);
	if (shape_numel(&y->shape) != planes)
		return node_error(cg->d, n, "output shape does not match the input");
	code->n_tasks = 0;
	if (planes == 0)
		return 0;
	int64_t size = numel / planes;
	bool avg = n->op == OP_GlobalAveragePool;
	LLVMBuilderRef B = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, op_name(n->op));
	LLVMValueRef px = cg_ptr(cg, x), py = cg_ptr(cg, y);
	Loop l;
	LLVMValueRef q = cg_for(cg, &l, cg->begin, cg->end, 1, "plane");
	CgRowAcc ra = {.op = avg ? CG_ADD : CG_MAX, .et = cg->t_f32, .at = cg->t_f32, .lanes = cg->vlen, .unroll = 4};
	cg_row_init(cg, &ra, cg_f32(cg, avg ? 0.0f : -INFINITY));
	cg_row_run(cg, &ra, px, LLVMBuildMul(B, q, cg_i64(cg, size), ""), size);
	LLVMValueRef r = cg_row_result(cg, &ra);
	if (avg)
		r = size > 0 ? LLVMBuildFDiv(B, r, cg_f32(cg, (float)size), "") : cg_f32(cg, 0.0f);
	cg_store(cg, cg_round_dtype(cg, y->dtype, r), py, q);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = planes;
	code->n_tasks = 1;
	return 0;
}
