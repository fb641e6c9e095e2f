/* Data movement: Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad, Resize, and the
 * shape ops that survive folding (Shape, Size, ConstantOfShape, Range).
 *
 * One mechanism serves them all but Range and interpolating Resize: a *copy nest*, a loop nest
 * over the destination in which every loop (axis) moves the source by a stride, by a constant
 * table of offsets (Gather with constant indices, Pad, Resize nearest) or by run-time indices
 * (Gather). A table entry of -1 stands for the fill value (Pad's constant, Resize's
 * extrapolation value). Shapes are static, so everything but run-time indices is decided here:
 *   - simplify: size-1 axes are dropped, affine tables become strides, and axes that stay
 *     contiguous on both sides merge, so a Slice of whole rows is one memcpy per row and an
 *     identity Transpose one memcpy;
 *   - plan: a long row that reads with a large stride (Transpose) is copied in tiles; the
 *     leading axes become the parallel iteration space (about 16 KiB per iteration, nothing
 *     split below 64 KiB); a long contiguous row with few rows above it is cut in pieces;
 *   - emit: iterations are decomposed once (divisions by constants), inner axes are loops, and
 *     the innermost axis is the row: a memcpy when contiguous on both sides; a load-once,
 *     store-r-times loop when its table repeats every element r times (nearest upsampling);
 *     fill, memcpy and gather segments when its table has a few long runs (Pad); else an
 *     element loop the vectoriser widens (broadcast, gather).
 * A node with several nests (Concat: one per input; Split: one per output) runs them in one task
 * over the concatenation of their iteration spaces, so all their rows spread over the threads.
 * Linear and cubic Resize interpolate separably (see emit_interp). Pad's and Resize's per-axis
 * arithmetic (pad_source, resize_taps in compiler/infer_movement.c) is the interpreter's.
 *
 * Elements are moved as float or i64 (the compute class): only bits move, never values.
 *
 * Gather with run-time indices: the interpreter rejects an index outside [-dim, dim); a compiled
 * model cannot report an error per element, so here such an index selects a slice of zeros
 * (never a read outside the data). */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

/* One loop of a copy nest. Source offsets are i * src, table[i] (an entry of -1: the fill
 * value) or index[i] * src with index read at run time (Gather); destination offsets i * dst. */
#define NEST_MAX (2 * NNZC_MAX_RANK + 1)
typedef struct Axis {
	int64_t dim, src, dst;   /* elements */
	const int64_t *table;    /* in the graph arena */
	LLVMValueRef global;     /* the table's global, made on first use */
	const Value *index;      /* run-time indices */
	int64_t index_dim;       /* the size of the axis they index */
	LLVMValueRef index_ptr;  /* inside the task */
} Axis;

typedef struct Nest {
	int rank;
	Axis ax[NEST_MAX];
	int64_t src_base, dst_base;
	const Value *from, *to;
	LLVMValueRef from_global;  /* the source when it is not a value (Shape's result) */
	bool empty;                /* an axis of size 0 */
	bool all_fill;             /* a dropped size-1 axis selected the fill value */
	int par;                   /* leading axes that form the parallel iteration space */
	int64_t iters;
} Nest;

/* What all nests of one node share. */
typedef struct Move {
	Cg *cg;
	const Node *n;
	LLVMTypeRef et;            /* element type moved: float or i64 */
	int64_t es;                /* its size in bytes */
	LLVMValueRef fill_imm;     /* the fill value, a constant (default 0) ... */
	const Value *fill_from;    /* ... or element 0 of this tensor at run time */
	LLVMValueRef fill;         /* inside the task */
} Move;

/* ---------------------------------------------------------------- nests */

static void nest_init(Nest *N, const Value *from, const Value *to)
{
	memset(N, 0, sizeof *N);
	N->from = from;
	N->to = to;
}

/* Row-major strides in elements. */
static void strides_of(const Shape *s, int64_t *stride)
{
	int64_t acc = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		stride[i] = acc;
		acc *= s->dim[i];
	}
}

static int64_t *move_table(Move *m, int64_t count)
{
	int64_t *t = arena_alloc_data(m->cg->g->arena, (size_t)(count ? count : 1), sizeof *t);
	if (t == NULL)
		node_error(m->cg->d, m->n, "out of memory for an index table of %lld entries", (long long)count);
	return t;
}

/* A private constant global holding n elements of `size` bytes at `data`. */
static LLVMValueRef move_global(Cg *cg, const void *data, int64_t n, size_t size)
{
	LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, data, (size_t)n * size, 1);
	char name[64];
	snprintf(name, sizeof name, "nnzc.node%d.table", cg->node_index);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(gv, 64);
	return gv;
}

static bool table_has_fill(const Axis *x)
{
	for (int64_t i = 0; i < x->dim; i++)
		if (x->table[i] < 0)
			return true;
	return false;
}

/* table[i] == table[0] + i * step for all i, with no fill entries */
static bool table_affine(const Axis *x, int64_t *step)
{
	*step = x->dim > 1 ? x->table[1] - x->table[0] : 0;
	for (int64_t i = 0; i < x->dim; i++)
		if (x->table[i] < 0 || x->table[i] != x->table[0] + i * *step)
			return false;
	return true;
}

static bool plain(const Axis *x) { return x->table == NULL && x->index == NULL; }

static void simplify(Nest *N)
{
	Axis out[NEST_MAX];
	int r = 0;
	for (int a = 0; a < N->rank; a++) {
		Axis x = N->ax[a];
		if (x.dim == 0) {
			N->empty = true;
			return;
		}
		int64_t step;
		if (x.table && (x.dim == 1 || table_affine(&x, &step))) {
			if (x.table[0] < 0) {
				N->all_fill = true; /* a size-1 axis that selects the fill value */
			} else {
				N->src_base += x.table[0];
				x.src = x.dim == 1 ? 0 : step;
			}
			x.table = NULL;
		}
		if (x.dim == 1 && x.index == NULL)
			continue;
		Axis *p = r ? &out[r - 1] : NULL;
		if (p && plain(p) && plain(&x) && p->src == x.src * x.dim && p->dst == x.dst * x.dim) {
			p->dim *= x.dim;
			p->src = x.src;
			p->dst = x.dst;
			continue;
		}
		out[r++] = x;
	}
	if (r == 0)
		out[r++] = (Axis){.dim = 1};
	memcpy(N->ax, out, (size_t)r * sizeof *out);
	N->rank = r;
}

/* A row that reads with a large stride (a transpose) touches one cache line per element; when
 * the row is long and another axis reads contiguously, copy T x T tiles instead, so the lines a
 * tile reads and writes stay in L1 while it is copied: that axis and the row are each split
 * into [dim / T, T] and the two tile axes go innermost. Only for dims that T divides. */
static void tile(Nest *N, int64_t es)
{
	Axis *L = &N->ax[N->rank - 1];
	/* below 256 elements a row's lines (16 KiB) stay in L1 until the next row reuses them */
	if (N->rank + 2 > NEST_MAX || !plain(L) || L->dst != 1 || L->src * es < 64 || L->dim < 256)
		return;
	for (int a = N->rank - 2; a >= 0; a--) {
		Axis *A = &N->ax[a];
		if (!plain(A) || A->src != 1)
			continue;
		for (int64_t T = 32; T >= 8; T /= 2) {
			if (A->dim % T || L->dim % T || A->dim < 2 * T || L->dim < 2 * T)
				continue;
			Axis ai = {.dim = T, .src = 1, .dst = A->dst}, li = {.dim = T, .src = L->src, .dst = 1};
			A->dim /= T;
			A->src *= T;
			A->dst *= T;
			L->dim /= T;
			L->src *= T;
			L->dst *= T;
			N->ax[N->rank++] = ai;
			N->ax[N->rank++] = li;
			return;
		}
		return;
	}
}

/* The parallel iteration space: leading axes worth about 16 KiB per iteration. */
static void plan(Nest *N, int64_t es)
{
	tile(N, es);
	double bytes = (double)es;
	for (int a = 0; a < N->rank; a++)
		bytes *= (double)N->ax[a].dim;
	double want_d = bytes / (16 * 1024);
	int64_t want = want_d < 2 || bytes < 64 * 1024 ? 1 : want_d > 256 ? 256 : (int64_t)want_d;
	int64_t outer = 1;
	for (int a = 0; a < N->rank - 1; a++)
		outer = outer < want ? outer * N->ax[a].dim : outer;
	Axis *L = &N->ax[N->rank - 1];
	if (outer < want && plain(L) && L->src == 1 && L->dst == 1 && N->rank < NEST_MAX) {
		/* too few rows for the threads: cut the (contiguous) row into q pieces */
		for (int64_t q = (want + outer - 1) / outer; q <= 4 * want && q < L->dim; q++) {
			if (L->dim % q || L->dim / q < 1024)
				continue;
			int64_t piece = L->dim / q;
			N->ax[N->rank] = (Axis){.dim = piece, .src = 1, .dst = 1};
			*L = (Axis){.dim = q, .src = piece, .dst = piece};
			N->rank++;
			break;
		}
	}
	int p = 0;
	int64_t it = 1;
	while (p < N->rank - 1 && it < want)
		it *= N->ax[p++].dim;
	N->par = p;
	N->iters = it;
}

static LLVMValueRef and_valid(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return a ? LLVMBuildAnd(cg->b, a, b, "") : b;
}

static LLVMValueRef axis_table(Move *m, Axis *x)
{
	if (x->global == NULL)
		x->global = move_global(m->cg, x->table, x->dim, sizeof *x->table);
	return x->global;
}

/* The source offset of coordinate i of axis x (an i64), ANDing into *valid whether it reads
 * data (false: the fill value). */
static LLVMValueRef axis_src(Move *m, Axis *x, LLVMValueRef i, LLVMValueRef *valid)
{
	Cg *cg = m->cg;
	LLVMBuilderRef b = cg->b;
	if (x->table) {
		LLVMValueRef t = cg_load(cg, cg->t_i64, axis_table(m, x), i);
		if (!table_has_fill(x))
			return t;
		LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntSGE, t, cg_i64(cg, 0), "");
		*valid = and_valid(cg, *valid, ok);
		return LLVMBuildSelect(b, ok, t, cg_i64(cg, 0), "");
	}
	if (x->index) {
		/* a negative index counts from the end; out of range reads index 0 and fills zeros */
		LLVMValueRef k = cg_load(cg, cg->t_i64, x->index_ptr, i);
		LLVMValueRef neg = LLVMBuildICmp(b, LLVMIntSLT, k, cg_i64(cg, 0), "");
		k = LLVMBuildSelect(b, neg, LLVMBuildAdd(b, k, cg_i64(cg, x->index_dim), ""), k, "");
		LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntULT, k, cg_i64(cg, x->index_dim), "");
		*valid = and_valid(cg, *valid, ok);
		k = LLVMBuildSelect(b, ok, k, cg_i64(cg, 0), "");
		return LLVMBuildMul(b, k, cg_i64(cg, x->src), "");
	}
	return LLVMBuildMul(b, i, cg_i64(cg, x->src), "");
}

static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }

static LLVMValueRef byte_ptr(Move *m, LLVMValueRef base, LLVMValueRef elem_off)
{
	return cg_gep(m->cg, m->et, base, elem_off);
}

/* dst[dof + i * x->dst] = fill for i in [lo, hi) */
static void fill_run(Move *m, const Axis *x, LLVMValueRef dst, LLVMValueRef dof, int64_t lo, int64_t hi)
{
	Cg *cg = m->cg;
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg_i64(cg, lo), cg_i64(cg, hi), 1, "f");
	cg_store(cg, m->fill, dst, add(cg, dof, LLVMBuildMul(cg->b, i, cg_i64(cg, x->dst), "")));
	cg_for_end(cg, &l);
}

/* dst[dof + i * x->dst] = src[sof + offset(i)] for i in [lo, hi), fill where invalid */
static void element_run(Move *m, Axis *x, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef sof, LLVMValueRef dof,
			int64_t lo, int64_t hi)
{
	Cg *cg = m->cg;
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg_i64(cg, lo), cg_i64(cg, hi), 1, "e");
	LLVMValueRef valid = NULL;
	LLVMValueRef v = cg_load(cg, m->et, src, add(cg, sof, axis_src(m, x, i, &valid)));
	if (valid)
		v = LLVMBuildSelect(cg->b, valid, v, m->fill, "");
	cg_store(cg, v, dst, add(cg, dof, LLVMBuildMul(cg->b, i, cg_i64(cg, x->dst), "")));
	cg_for_end(cg, &l);
}

static void memcpy_run(Move *m, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef sof, LLVMValueRef dof, int64_t n)
{
	unsigned align = (unsigned)m->es;
	LLVMBuildMemCpy(m->cg->b, byte_ptr(m, dst, dof), align, byte_ptr(m, src, sof), align, cg_i64(m->cg, n * m->es));
}

/* A table row as segments of fill entries, contiguous runs and scattered entries, or false if
 * it has more than `cap` of them (then one element loop is better). */
typedef struct Seg { int kind; int64_t lo, hi; } Seg;
enum { SEG_FILL, SEG_RUN, SEG_GATHER };

static bool segments(const Axis *x, Seg *seg, int cap, int *count)
{
	const int64_t *t = x->table;
	int k = 0;
	for (int64_t i = 0; i < x->dim;) {
		int64_t j = i + 1;
		int kind;
		if (t[i] < 0) {
			kind = SEG_FILL;
			while (j < x->dim && t[j] < 0)
				j++;
		} else if (j < x->dim && t[j] == t[i] + 1) {
			kind = SEG_RUN;
			while (j < x->dim && t[j] == t[j - 1] + 1)
				j++;
		} else {
			kind = SEG_GATHER;
			while (j < x->dim && t[j] >= 0 && !(j + 1 < x->dim && t[j + 1] == t[j] + 1))
				j++;
		}
		if (k == cap)
			return false;
		seg[k++] = (Seg){kind, i, j};
		i = j;
	}
	*count = k;
	return true;
}

/* table[k] == table[0] + (k / r) * step with r in 2..16 dividing dim (nearest upsampling by an
 * integer factor): *r, *step, or false */
static bool table_repeats(const Axis *x, int64_t *r, int64_t *step)
{
	const int64_t *t = x->table;
	int64_t k = 1;
	while (k < x->dim && t[k] == t[0])
		k++;
	if (k < 2 || k > 16 || x->dim % k || t[0] < 0)
		return false;
	*r = k;
	*step = x->dim > k ? t[k] - t[0] : 0;
	for (int64_t i = 0; i < x->dim; i++)
		if (t[i] != t[0] + (i / k) * *step)
			return false;
	return true;
}

/* dst[dof + (i*r + q) * x->dst] = src[sof + table[0] + i * step] for q < r: each source element
 * loaded once and stored r times (interleaved stores the vectoriser handles) */
static void repeat_run(Move *m, const Axis *x, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef sof, LLVMValueRef dof,
		       int64_t r, int64_t step)
{
	Cg *cg = m->cg;
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, x->dim / r), 1, "e");
	LLVMValueRef s = add(cg, add(cg, sof, cg_i64(cg, x->table[0])), LLVMBuildMul(cg->b, i, cg_i64(cg, step), ""));
	LLVMValueRef v = cg_load(cg, m->et, src, s);
	LLVMValueRef d = add(cg, dof, LLVMBuildMul(cg->b, i, cg_i64(cg, r * x->dst), ""));
	for (int64_t q = 0; q < r; q++)
		cg_store(cg, v, dst, add(cg, d, cg_i64(cg, q * x->dst)));
	cg_for_end(cg, &l);
}

/* The innermost axis for one position of the outer ones. */
static void emit_row(Move *m, Nest *N, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef sof, LLVMValueRef dof,
		     LLVMValueRef valid)
{
	Cg *cg = m->cg;
	Axis *x = &N->ax[N->rank - 1];
	if (N->all_fill) {
		fill_run(m, x, dst, dof, 0, x->dim);
		return;
	}
	IfBlock ib;
	if (valid)
		cg_if(cg, &ib, valid, true);
	Seg seg[8];
	int nseg;
	int64_t r, step;
	if (plain(x) && x->src == 1 && x->dst == 1) {
		memcpy_run(m, src, dst, sof, dof, x->dim);
	} else if (x->table && table_repeats(x, &r, &step)) {
		repeat_run(m, x, src, dst, sof, dof, r, step);
	} else if (x->table && x->dst == 1 && segments(x, seg, 8, &nseg)) {
		for (int s = 0; s < nseg; s++) {
			int64_t lo = seg[s].lo, hi = seg[s].hi;
			if (seg[s].kind == SEG_FILL)
				fill_run(m, x, dst, dof, lo, hi);
			else if (seg[s].kind == SEG_RUN)
				memcpy_run(m, src, dst, add(cg, sof, cg_i64(cg, x->table[lo])), add(cg, dof, cg_i64(cg, lo)), hi - lo);
			else
				element_run(m, x, src, dst, sof, dof, lo, hi);
		}
	} else {
		element_run(m, x, src, dst, sof, dof, 0, x->dim);
	}
	if (valid) {
		cg_else(cg, &ib);
		fill_run(m, x, dst, dof, 0, x->dim);
		cg_if_end(cg, &ib);
	}
}

/* Axes a .. rank-2 as loops, then the row. */
static void emit_inner(Move *m, Nest *N, int a, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef sof, LLVMValueRef dof,
		       LLVMValueRef valid)
{
	Cg *cg = m->cg;
	if (a >= N->rank - 1) {
		emit_row(m, N, src, dst, sof, dof, valid);
		return;
	}
	Axis *x = &N->ax[a];
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, x->dim), 1, "k");
	LLVMValueRef v = valid;
	LLVMValueRef s = add(cg, sof, axis_src(m, x, i, &v));
	LLVMValueRef d = add(cg, dof, LLVMBuildMul(cg->b, i, cg_i64(cg, x->dst), ""));
	emit_inner(m, N, a + 1, src, dst, s, d, v);
	cg_for_end(cg, &l);
}

/* Iteration `it` of nest N: decompose it over the parallel axes, then the inner loops. */
static void emit_iteration(Move *m, Nest *N, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef it)
{
	Cg *cg = m->cg;
	LLVMValueRef sof = cg_i64(cg, N->src_base), dof = cg_i64(cg, N->dst_base), valid = NULL;
	LLVMValueRef rem = it;
	for (int a = N->par - 1; a >= 0; a--) {
		Axis *x = &N->ax[a];
		LLVMValueRef i = rem;
		if (a > 0) {
			i = LLVMBuildURem(cg->b, rem, cg_i64(cg, x->dim), "");
			rem = LLVMBuildUDiv(cg->b, rem, cg_i64(cg, x->dim), "");
		}
		sof = add(cg, sof, axis_src(m, x, i, &valid));
		dof = add(cg, dof, LLVMBuildMul(cg->b, i, cg_i64(cg, x->dst), ""));
	}
	emit_inner(m, N, N->par, src, dst, sof, dof, valid);
}

static void move_init(Move *m, Cg *cg, const Node *n, DType t)
{
	memset(m, 0, sizeof *m);
	m->cg = cg;
	m->n = n;
	m->et = cg_elem_type(cg, t);
	m->es = (int64_t)dtype_compute_size(t);
	m->fill_imm = LLVMConstNull(m->et);
}

static int emit_nests(Move *m, Nest *nests, int count, NodeCode *code)
{
	Cg *cg = m->cg;
	int64_t total = 0;
	for (int k = 0; k < count; k++) {
		simplify(&nests[k]);
		if (!nests[k].empty)
			plan(&nests[k], m->es);
		total += nests[k].empty ? 0 : nests[k].iters;
	}
	code->n_tasks = 0;
	if (total == 0)
		return 0;
	LLVMValueRef fn = cg_task_begin(cg, op_name(m->n->op));
	if (m->fill_from) /* a run-time fill value: element 0 of that tensor */
		m->fill = cg_load(cg, m->et, cg_ptr(cg, m->fill_from), cg_i64(cg, 0));
	else
		m->fill = m->fill_imm;
	int64_t start = 0;
	for (int k = 0; k < count; k++) {
		Nest *N = &nests[k];
		if (N->empty)
			continue;
		LLVMValueRef src = N->from_global ? N->from_global : cg_ptr(cg, N->from), dst = cg_ptr(cg, N->to);
		for (int a = 0; a < N->rank; a++)
			if (N->ax[a].index)
				N->ax[a].index_ptr = cg_ptr(cg, N->ax[a].index);
		/* this nest's iterations [start, start + iters) clipped to the task's [begin, end) */
		LLVMValueRef lo = LLVMBuildSub(cg->b, cg->begin, cg_i64(cg, start), "");
		LLVMValueRef hi = LLVMBuildSub(cg->b, cg->end, cg_i64(cg, start), "");
		LLVMValueRef zero = cg_i64(cg, 0), iters = cg_i64(cg, N->iters);
		lo = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, lo, zero, ""), zero, lo, "");
		hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, iters, ""), iters, hi, "");
		Loop l;
		LLVMValueRef it = cg_for(cg, &l, lo, hi, 1, "it");
		emit_iteration(m, N, src, dst, it);
		cg_for_end(cg, &l);
		start += N->iters;
	}
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = total;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- the ops */

static int check_class(Cg *cg, const Node *n, const Value *a, const Value *b)
{
	if (dtype_is_float(a->dtype) != dtype_is_float(b->dtype))
		return node_error(cg->d, n, "'%s' is %s but '%s' is %s", b->name, dtype_name(b->dtype), a->name,
				  dtype_name(a->dtype));
	return 0;
}

/* The node's inputs as Tensor views (data NULL where not constant), for the parameter resolvers
 * shared with inference and the interpreter (slice_params, pad_params, resize_params). */
typedef struct Views {
	Tensor view[5];
	const Tensor *in[5];
} Views;

static const Tensor *const *views_of(const Node *n, Views *v)
{
	for (int i = 0; i < 5; i++) {
		v->in[i] = NULL;
		if (i < n->n_in && n->in[i]) {
			v->view[i] = value_tensor(n->in[i]);
			v->in[i] = &v->view[i];
		}
	}
	return v->in;
}

/* rc is what such a resolver returned: the parameters must be constant here (`need` names the
 * inputs that give them) and agree with the output; 0, or -1 with a message. */
static int params_ok(Cg *cg, const Node *n, int rc, const Shape *out, const char *need, const char *what)
{
	if (rc < 0)
		return -1;
	if (rc > 0)
		return node_error(cg->d, n, "the cpu target needs constant %s", need);
	if (!shape_equal(out, &n->out[0]->shape) || check_class(cg, n, n->in[0], n->out[0]) < 0)
		return diag_failed(cg->d) ? -1 : node_error(cg->d, n, "%s disagree with the output shape", what);
	return 0;
}

/* One copy nest from input 0 to output 0, with the strides of both: what the ops that move one
 * tensor into another start from. */
typedef struct Copy {
	Move m;
	Nest N;
	int64_t xs[NNZC_MAX_RANK], ys[NNZC_MAX_RANK];
} Copy;

static void copy_init(Copy *c, Cg *cg, const Node *n)
{
	strides_of(&n->in[0]->shape, c->xs);
	strides_of(&n->out[0]->shape, c->ys);
	move_init(&c->m, cg, n, n->out[0]->dtype);
	nest_init(&c->N, n->in[0], n->out[0]);
}

static int copy_emit(Copy *c, int rank, NodeCode *code)
{
	c->N.rank = rank;
	return emit_nests(&c->m, &c->N, 1, code);
}

int emit_transpose(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	int r = x->shape.rank;
	const Ints *perm = &n->attr.transpose.perm;
	if (check_class(cg, n, x, y) < 0)
		return -1;
	if (perm->n != 0 && perm->n != r)
		return node_error(cg->d, n, "perm has %d entries for an input of rank %d", perm->n, r);
	Copy c;
	copy_init(&c, cg, n);
	for (int i = 0; i < r; i++) {
		int64_t p = perm->n ? perm->v[i] : r - 1 - i;
		if (p < 0 || p >= r || x->shape.dim[p] != y->shape.dim[i])
			return node_error(cg->d, n, "perm disagrees with the input and output shapes");
		c.N.ax[i] = (Axis){.dim = y->shape.dim[i], .src = c.xs[p], .dst = c.ys[i]};
	}
	return copy_emit(&c, r, code);
}

/* Concat (to_many false: every input into its part of the output) and Split (true: every
 * output from its part of the input). */
static int emit_parts(Cg *cg, const Node *n, NodeCode *code, int64_t axis_attr, bool to_many)
{
	const Value *whole = to_many ? n->in[0] : n->out[0];
	Value *const *part = to_many ? n->out : n->in;
	int count = to_many ? n->n_out : n->n_in, r = whole->shape.rank, axis;
	if (shape_axis(axis_attr, r, &axis, cg->d) < 0)
		return node_error(cg->d, n, "axis %lld out of range for rank %d", (long long)axis_attr, r);
	int64_t ws[NNZC_MAX_RANK];
	strides_of(&whole->shape, ws);
	Nest *nests = calloc((size_t)count, sizeof *nests);
	if (nests == NULL)
		return node_error(cg->d, n, "out of memory");
	int64_t at = 0;
	for (int i = 0; i < count; i++) {
		const Value *p = part[i];
		if (p == NULL || p->shape.rank != r || check_class(cg, n, whole, p) < 0) {
			free(nests);
			return diag_failed(cg->d) ? -1 : node_error(cg->d, n, "part %d does not match the rank", i);
		}
		int64_t ps[NNZC_MAX_RANK];
		strides_of(&p->shape, ps);
		Nest *N = &nests[i];
		nest_init(N, to_many ? whole : p, to_many ? p : whole);
		for (int k = 0; k < r; k++) {
			if (k != axis && p->shape.dim[k] != whole->shape.dim[k]) {
				free(nests);
				return node_error(cg->d, n, "part %d does not match the shape off axis %d", i, axis);
			}
			N->ax[k] = (Axis){.dim = p->shape.dim[k], .src = to_many ? ws[k] : ps[k], .dst = to_many ? ps[k] : ws[k]};
		}
		N->rank = r;
		*(to_many ? &N->src_base : &N->dst_base) = at * ws[axis];
		at += p->shape.dim[axis];
	}
	int rc = -1;
	if (at != whole->shape.dim[axis]) {
		node_error(cg->d, n, "the parts sum to %lld along axis %d, not %lld", (long long)at, axis,
			   (long long)whole->shape.dim[axis]);
	} else {
		Move m;
		move_init(&m, cg, n, whole->dtype);
		rc = emit_nests(&m, nests, count, code);
	}
	free(nests);
	return rc;
}

int emit_concat(Cg *cg, const Node *n, NodeCode *code) { return emit_parts(cg, n, code, n->attr.axis.axis, false); }

int emit_split(Cg *cg, const Node *n, NodeCode *code) { return emit_parts(cg, n, code, n->attr.split.axis, true); }

int emit_slice(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	Views v;
	SliceParams p;
	if (params_ok(cg, n, slice_params(n, &x->shape, views_of(n, &v), &p, cg->d), &p.out,
		      "starts, ends, axes and steps", "slice parameters") < 0)
		return -1;
	Copy c;
	copy_init(&c, cg, n);
	for (int i = 0; i < x->shape.rank; i++) {
		/* a negative step walks backwards: offsets stay non-negative since start is in range */
		c.N.src_base += y->shape.dim[i] ? p.start[i] * c.xs[i] : 0;
		c.N.ax[i] = (Axis){.dim = y->shape.dim[i], .src = p.step[i] * c.xs[i], .dst = c.ys[i]};
	}
	return copy_emit(&c, x->shape.rank, code);
}

int emit_gather(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *idx = n->in[1], *y = n->out[0];
	int r = x->shape.rank, axis;
	if (shape_axis(n->attr.axis.axis, r, &axis, cg->d) < 0)
		return node_error(cg->d, n, "axis %lld out of range for rank %d", (long long)n->attr.axis.axis, r);
	if (dtype_is_float(idx->dtype))
		return node_error(cg->d, n, "indices must be an integer tensor");
	if (check_class(cg, n, x, y) < 0)
		return -1;
	int64_t xs[NNZC_MAX_RANK], dim = x->shape.dim[axis], count = shape_numel(&idx->shape);
	strides_of(&x->shape, xs);
	/* destination axes: the outer dims of x, the indices (flattened), the inner dims of x */
	Shape o = x->shape;
	o.dim[axis] = count;
	int64_t os[NNZC_MAX_RANK];
	strides_of(&o, os);
	if (shape_numel(&o) != shape_numel(&y->shape))
		return node_error(cg->d, n, "output shape disagrees with data and indices");
	Move m;
	move_init(&m, cg, n, y->dtype);
	Nest N;
	nest_init(&N, x, y);
	int k = 0;
	for (int i = 0; i < axis; i++)
		N.ax[k++] = (Axis){.dim = x->shape.dim[i], .src = xs[i], .dst = os[i]};
	Axis g = {.dim = count, .src = xs[axis], .dst = os[axis]};
	if (idx->data) {
		const int64_t *iv = idx->data;
		int64_t *t = move_table(&m, count);
		if (t == NULL)
			return -1;
		for (int64_t j = 0; j < count; j++) {
			if (iv[j] < -dim || iv[j] >= dim)
				return node_error(cg->d, n, "index %lld out of range for axis %d of size %lld", (long long)iv[j],
						  axis, (long long)dim);
			t[j] = (iv[j] < 0 ? iv[j] + dim : iv[j]) * xs[axis];
		}
		g.table = t;
	} else {
		g.index = idx;
		g.index_dim = dim;
	}
	N.ax[k++] = g;
	for (int i = axis + 1; i < r; i++)
		N.ax[k++] = (Axis){.dim = x->shape.dim[i], .src = xs[i], .dst = os[i]};
	N.rank = k;
	return emit_nests(&m, &N, 1, code);
}

int emit_expand(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	int lead = y->shape.rank - x->shape.rank;
	if (lead < 0 || check_class(cg, n, x, y) < 0)
		return diag_failed(cg->d) ? -1 : node_error(cg->d, n, "output rank is below the input rank");
	Copy c;
	copy_init(&c, cg, n);
	for (int i = 0; i < y->shape.rank; i++) {
		int k = i - lead;
		int64_t s = 0;
		if (k >= 0 && x->shape.dim[k] == y->shape.dim[i])
			s = c.xs[k];
		else if (k >= 0 && x->shape.dim[k] != 1)
			return node_error(cg->d, n, "input dim %d (%lld) does not broadcast to %lld", k,
					  (long long)x->shape.dim[k], (long long)y->shape.dim[i]);
		c.N.ax[i] = (Axis){.dim = y->shape.dim[i], .src = s, .dst = c.ys[i]};
	}
	return copy_emit(&c, y->shape.rank, code);
}

/* Output axis k of size r_k * d_k is read as two axes [r_k, d_k], the first with source stride
 * 0, as in the interpreter. */
int emit_tile(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	int r = x->shape.rank;
	if (y->shape.rank != r || check_class(cg, n, x, y) < 0)
		return diag_failed(cg->d) ? -1 : node_error(cg->d, n, "output rank differs from the input rank");
	Copy c;
	copy_init(&c, cg, n);
	for (int i = 0; i < r; i++) {
		int64_t d = x->shape.dim[i];
		if (d == 0) {
			if (y->shape.dim[i] != 0)
				return node_error(cg->d, n, "cannot tile the empty axis %d", i);
			code->n_tasks = 0;
			return 0;
		}
		if (y->shape.dim[i] % d)
			return node_error(cg->d, n, "output dim %d is not a multiple of the input's", i);
		c.N.ax[2 * i] = (Axis){.dim = y->shape.dim[i] / d, .src = 0, .dst = d * c.ys[i]};
		c.N.ax[2 * i + 1] = (Axis){.dim = d, .src = c.xs[i], .dst = c.ys[i]};
	}
	return copy_emit(&c, 2 * r, code);
}

int emit_pad(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	Views v;
	PadParams p;
	if (params_ok(cg, n, pad_params(n, &x->shape, views_of(n, &v), &p, cg->d), &p.out, "pads and axes", "pads") < 0)
		return -1;
	Copy c;
	copy_init(&c, cg, n);
	const Value *cv = n->n_in > 2 ? n->in[2] : NULL;
	if (cv && shape_numel(&cv->shape) > 0) {
		if (cv->data) {
			const float *f = cv->data;
			const int64_t *i = cv->data;
			bool cf = dtype_is_float(cv->dtype);
			c.m.fill_imm = dtype_is_float(y->dtype) ? cg_f32(cg, cf ? f[0] : (float)i[0])
								: cg_i64(cg, cf ? (int64_t)f[0] : i[0]);
		} else if (dtype_is_float(cv->dtype) == dtype_is_float(y->dtype))
			c.m.fill_from = cv;
		else
			return node_error(cg->d, n, "a run-time constant_value must have the data's class");
	}
	for (int a = 0; a < x->shape.rank; a++) {
		int64_t *t = move_table(&c.m, y->shape.dim[a]);
		if (t == NULL)
			return -1;
		for (int64_t k = 0; k < y->shape.dim[a]; k++) {
			int64_t from = pad_source(n, &x->shape, &p, a, k);
			t[k] = from < 0 ? -1 : from * c.xs[a];
		}
		c.N.ax[a] = (Axis){.dim = y->shape.dim[a], .dst = c.ys[a], .table = t};
	}
	return copy_emit(&c, x->shape.rank, code);
}

/* Shape and Size that survived folding: their values are known from the static shape. */
int emit_shape_op(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (!shape_is_static(&x->shape) || !shape_is_static(&y->shape))
		return node_error(cg->d, n, "the cpu target needs a static shape here");
	int64_t vals[NNZC_MAX_RANK + 1], len = 0;
	if (n->op == OP_Size) {
		vals[len++] = shape_numel(&x->shape);
	} else {
		int64_t r = x->shape.rank, s = n->attr.shape.start, e = n->attr.shape.end;
		s = s < 0 ? s + r : s;
		e = e < 0 ? e + r : e;
		s = s < 0 ? 0 : s > r ? r : s;
		e = e < 0 ? 0 : e > r ? r : e;
		for (int64_t i = s; i < e; i++)
			vals[len++] = x->shape.dim[i];
	}
	if (dtype_is_float(y->dtype) || shape_numel(&y->shape) != len)
		return node_error(cg->d, n, "output must be an i64 vector of %lld values", (long long)len);
	Move m;
	move_init(&m, cg, n, y->dtype);
	Nest N;
	nest_init(&N, NULL, y);
	N.from_global = move_global(cg, vals, len ? len : 1, sizeof *vals);
	N.ax[0] = (Axis){.dim = len, .src = 1, .dst = 1};
	N.rank = 1;
	return emit_nests(&m, &N, 1, code);
}

int emit_constant_of_shape(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *y = n->out[0];
	if (!shape_is_static(&y->shape))
		return node_error(cg->d, n, "the cpu target needs a static output shape");
	const ScalarAttr *v = &n->attr.constant_of_shape.value;
	union { float f; int64_t i; } val = {0};
	if (dtype_is_float(y->dtype))
		val.f = dtype_is_float(v->dtype) ? (float)v->f : (float)v->i;
	else
		val.i = dtype_is_float(v->dtype) ? (int64_t)v->f : v->i;
	Move m;
	move_init(&m, cg, n, y->dtype);
	Nest N;
	nest_init(&N, NULL, y);
	N.from_global = move_global(cg, &val, 1, (size_t)m.es);
	N.ax[0] = (Axis){.dim = shape_numel(&y->shape), .src = 0, .dst = 1};
	N.rank = 1;
	return emit_nests(&m, &N, 1, code);
}

/* Range with a static length: out[i] = start + i * delta (floats in double, as the interpreter;
 * integers wrap). Start and delta may be run-time scalars. */
int emit_range(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *y = n->out[0];
	if (!shape_is_static(&y->shape) || y->shape.rank != 1)
		return node_error(cg->d, n, "the cpu target needs a static output length");
	bool fl = dtype_is_float(y->dtype);
	if (dtype_is_float(n->in[0]->dtype) != fl || dtype_is_float(n->in[2]->dtype) != fl)
		return node_error(cg->d, n, "start, delta and output must have one class");
	int64_t len = y->shape.dim[0];
	const int64_t chunk = 4096;
	code->n_tasks = 0;
	if (len == 0)
		return 0;
	LLVMValueRef fn = cg_task_begin(cg, "Range");
	LLVMTypeRef et = cg_elem_type(cg, y->dtype);
	LLVMValueRef start = cg_load(cg, et, cg_ptr(cg, n->in[0]), cg_i64(cg, 0));
	LLVMValueRef delta = cg_load(cg, et, cg_ptr(cg, n->in[2]), cg_i64(cg, 0));
	LLVMValueRef dst = cg_ptr(cg, y);
	if (fl) {
		start = LLVMBuildFPExt(cg->b, start, cg->t_f64, "");
		delta = LLVMBuildFPExt(cg->b, delta, cg->t_f64, "");
	}
	LLVMValueRef lo = LLVMBuildMul(cg->b, cg->begin, cg_i64(cg, chunk), "");
	LLVMValueRef hi = LLVMBuildMul(cg->b, cg->end, cg_i64(cg, chunk), "");
	hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, len), ""), cg_i64(cg, len), hi, "");
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, lo, hi, 1, "i");
	LLVMValueRef v;
	if (fl) {
		v = LLVMBuildFAdd(cg->b, start, LLVMBuildFMul(cg->b, LLVMBuildSIToFP(cg->b, i, cg->t_f64, ""), delta, ""), "");
		v = LLVMBuildFPTrunc(cg->b, v, cg->t_f32, "");
	} else {
		v = LLVMBuildAdd(cg->b, start, LLVMBuildMul(cg->b, i, delta, ""), "");
	}
	cg_store(cg, cg_round_dtype(cg, y->dtype, v), dst, i);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = (len + chunk - 1) / chunk;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- Resize */

/* Linear and cubic: an output element is the sum, over the product of its axes' taps, of the
 * product of the tap weights times the input element. Interpolation is separable, so it is done
 * per output row (all axes but the last; rows are the parallel iterations): the row's outer taps
 * (combinations over the other axes) combine whole input rows into one row on the stack, a
 * contiguous loop the vectoriser widens; then each output element sums the last axis' taps
 * gathered from that row. Only an input row too long for the stack (over 128 KiB) takes the
 * direct sum over every combination per element. Float data is interpolated in float, integer
 * data in double and then rounded and saturated, as the interpreter does. The summation order
 * differs from the interpreter's (one axis at a time), within rounding. */
#define RESIZE_MAX_TAPS 256

typedef struct Interp {
	int r, T[NNZC_MAX_RANK];         /* taps per axis (the most any coordinate needs) */
	bool unit[NNZC_MAX_RANK];        /* one tap of weight 1 everywhere: no multiply */
	LLVMValueRef off[NNZC_MAX_RANK]; /* i64 [out_dim][T]: input offsets (index * stride) */
	LLVMValueRef w[NNZC_MAX_RANK];   /* ct [out_dim][T] */
	LLVMValueRef out[NNZC_MAX_RANK]; /* i64 [out_dim] 0/1, NULL if never outside */
} Interp;

static int emit_interp(Cg *cg, const Node *n, ResizeTaps *const *taps, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	const ResizeAttrs *at = &n->attr.resize;
	bool fl = dtype_is_float(y->dtype);
	LLVMTypeRef et = cg_elem_type(cg, y->dtype), ct = fl ? cg->t_f32 : cg->t_f64;
	Interp ip = {.r = x->shape.rank};
	int r = ip.r;
	int64_t xs[NNZC_MAX_RANK], combos = 1;
	strides_of(&x->shape, xs);
	for (int a = 0; a < r; a++) {
		int64_t od = y->shape.dim[a];
		ip.T[a] = 1;
		ip.unit[a] = true;
		bool any_out = false;
		for (int64_t k = 0; k < od; k++) {
			ip.T[a] = taps[a][k].count > ip.T[a] ? taps[a][k].count : ip.T[a];
			ip.unit[a] &= taps[a][k].count == 1 && taps[a][k].w[0] == 1;
			any_out |= taps[a][k].outside;
		}
		combos *= ip.T[a];
		int64_t *off = malloc((size_t)(od * ip.T[a] + 1) * sizeof *off), *flag = malloc((size_t)(od + 1) * sizeof *flag);
		float *wf = malloc((size_t)(od * ip.T[a] + 1) * sizeof *wf);
		double *wd = malloc((size_t)(od * ip.T[a] + 1) * sizeof *wd);
		if (!off || !flag || !wf || !wd) {
			free(off), free(flag), free(wf), free(wd);
			return node_error(cg->d, n, "out of memory");
		}
		for (int64_t k = 0; k < od; k++) {
			const ResizeTaps *t = &taps[a][k];
			flag[k] = t->outside;
			for (int j = 0; j < ip.T[a]; j++) {
				bool real = j < t->count; /* padding taps: weight 0 on a valid index */
				off[k * ip.T[a] + j] = (real ? t->idx[j] : t->idx[0]) * xs[a];
				wd[k * ip.T[a] + j] = real ? t->w[j] : 0;
				wf[k * ip.T[a] + j] = (float)wd[k * ip.T[a] + j];
			}
		}
		ip.off[a] = move_global(cg, off, od * ip.T[a], sizeof *off);
		ip.w[a] = fl ? move_global(cg, wf, od * ip.T[a], sizeof *wf) : move_global(cg, wd, od * ip.T[a], sizeof *wd);
		ip.out[a] = any_out ? move_global(cg, flag, od, sizeof *flag) : NULL;
		free(off), free(flag), free(wf), free(wd);
	}
	if (combos > RESIZE_MAX_TAPS)
		return node_error(cg->d, n, "%lld interpolation taps per element; the cpu target takes at most %d",
				  (long long)combos, RESIZE_MAX_TAPS);
	int64_t rows = 1, W = y->shape.dim[r - 1], W_in = x->shape.dim[r - 1];
	bool last_identity = W == W_in && ip.unit[r - 1]; /* the last axis is copied as it is */
	for (int64_t k = 0; k < W && last_identity; k++)
		last_identity = taps[r - 1][k].idx[0] == k;
	for (int a = 0; a < r - 1; a++)
		rows *= y->shape.dim[a];
	double lo_i, hi_i;
	resize_int_range(y->dtype, &lo_i, &hi_i);
	LLVMValueRef extrap = fl ? cg_f32(cg, at->extrapolation_value)
				 : cg_i64(cg, resize_to_int(y->dtype, at->extrapolation_value));

	LLVMBuilderRef b = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, "Resize");
	LLVMValueRef src = cg_ptr(cg, x), dst = cg_ptr(cg, y);
	Loop rl;
	LLVMValueRef row = cg_for(cg, &rl, cg->begin, cg->end, 1, "row");
	/* the outer axes' coordinates, taps and outside flags of this row */
	LLVMValueRef off[NNZC_MAX_RANK][4], w[NNZC_MAX_RANK][4], outside = NULL, rem = row;
	for (int a = r - 2; a >= 0; a--) {
		LLVMValueRef k = rem;
		if (a > 0) {
			k = LLVMBuildURem(b, rem, cg_i64(cg, y->shape.dim[a]), "");
			rem = LLVMBuildUDiv(b, rem, cg_i64(cg, y->shape.dim[a]), "");
		}
		LLVMValueRef base = LLVMBuildMul(b, k, cg_i64(cg, ip.T[a]), "");
		for (int j = 0; j < ip.T[a]; j++) {
			LLVMValueRef at_j = LLVMBuildAdd(b, base, cg_i64(cg, j), "");
			off[a][j] = cg_load(cg, cg->t_i64, ip.off[a], at_j);
			w[a][j] = ip.unit[a] ? NULL : cg_load(cg, ct, ip.w[a], at_j);
		}
		if (ip.out[a]) {
			LLVMValueRef f = LLVMBuildICmp(b, LLVMIntNE, cg_load(cg, cg->t_i64, ip.out[a], k), cg_i64(cg, 0), "");
			outside = outside ? LLVMBuildOr(b, outside, f, "") : f;
		}
	}
	/* every combination of the outer taps: its offset and weight (NULL: 1) */
	int64_t outer_combos = combos / ip.T[r - 1];
	LLVMValueRef *c_off = malloc((size_t)outer_combos * sizeof *c_off), *c_w = malloc((size_t)outer_combos * sizeof *c_w);
	if (!c_off || !c_w) {
		free(c_off), free(c_w);
		return node_error(cg->d, n, "out of memory");
	}
	for (int64_t c = 0; c < outer_combos; c++) {
		int64_t q = c;
		LLVMValueRef o = cg_i64(cg, 0), wt = NULL;
		int pick[NNZC_MAX_RANK];
		for (int a = r - 2; a >= 0; a--) {
			pick[a] = (int)(q % ip.T[a]);
			q /= ip.T[a];
		}
		for (int a = 0; a < r - 1; a++) {
			o = LLVMBuildAdd(b, o, off[a][pick[a]], "");
			if (w[a][pick[a]])
				wt = wt ? LLVMBuildFMul(b, wt, w[a][pick[a]], "") : w[a][pick[a]];
		}
		c_off[c] = o;
		c_w[c] = wt;
	}
	IfBlock ib;
	LLVMValueRef out_base = LLVMBuildMul(b, row, cg_i64(cg, W), "");
	if (outside) {
		cg_if(cg, &ib, outside, true);
		Loop fl_loop;
		LLVMValueRef j = cg_for(cg, &fl_loop, cg_i64(cg, 0), cg_i64(cg, W), 1, "j");
		cg_store(cg, extrap, dst, LLVMBuildAdd(b, out_base, j, ""));
		cg_for_end(cg, &fl_loop);
		cg_else(cg, &ib);
	}
	int L = r - 1;
	LLVMValueRef rowp = NULL; /* the outer taps' weighted sum of input rows, W_in elements */
	LLVMTypeRef rowt = ct;
	if (outer_combos == 1 && c_w[0] == NULL) {
		rowp = cg_gep(cg, et, src, c_off[0]); /* no outer interpolation: the input row itself */
		rowt = et;
	} else if (W_in * (int64_t)(fl ? 4 : 8) <= 128 * 1024) {
		/* separable: combine the outer taps' rows once (contiguous, vectorised), then the row
		 * loop only gathers along the last axis */
		rowp = cg_var(cg, LLVMArrayType2(ct, (uint64_t)W_in), NULL, "row");
		Loop wl;
		LLVMValueRef wi = cg_for(cg, &wl, cg_i64(cg, 0), cg_i64(cg, W_in), 1, "w");
		LLVMValueRef sum = NULL;
		for (int64_t c = 0; c < outer_combos; c++) {
			LLVMValueRef v = cg_load(cg, et, src, LLVMBuildAdd(b, c_off[c], wi, ""));
			if (!fl)
				v = LLVMBuildSIToFP(b, v, ct, "");
			v = c_w[c] ? LLVMBuildFMul(b, c_w[c], v, "") : v;
			sum = sum ? LLVMBuildFAdd(b, sum, v, "") : v;
		}
		cg_store(cg, sum, rowp, wi);
		cg_for_end(cg, &wl);
	}
	Loop jl;
	LLVMValueRef j = cg_for(cg, &jl, cg_i64(cg, 0), cg_i64(cg, W), 1, "j");
	LLVMValueRef acc = NULL;
	if (rowp && last_identity) {
		acc = cg_load(cg, rowt, rowp, j);
		if (rowt != ct)
			acc = LLVMBuildSIToFP(b, acc, ct, "");
	} else {
		LLVMValueRef jbase = LLVMBuildMul(b, j, cg_i64(cg, ip.T[L]), "");
		LLVMValueRef lo_off[4], lo_w[4];
		for (int t = 0; t < ip.T[L]; t++) {
			LLVMValueRef at_t = LLVMBuildAdd(b, jbase, cg_i64(cg, t), "");
			lo_off[t] = cg_load(cg, cg->t_i64, ip.off[L], at_t);
			lo_w[t] = ip.unit[L] ? NULL : cg_load(cg, ct, ip.w[L], at_t);
		}
		/* without a combined row (too long for the stack): every outer combination here */
		int64_t nc = rowp ? 1 : outer_combos;
		for (int64_t c = 0; c < nc; c++)
			for (int t = 0; t < ip.T[L]; t++) {
				LLVMValueRef v = rowp ? cg_load(cg, rowt, rowp, lo_off[t])
						      : cg_load(cg, et, src, LLVMBuildAdd(b, c_off[c], lo_off[t], ""));
				if (LLVMTypeOf(v) != ct)
					v = LLVMBuildSIToFP(b, v, ct, "");
				LLVMValueRef cw = rowp ? NULL : c_w[c];
				LLVMValueRef wt = cw && lo_w[t] ? LLVMBuildFMul(b, cw, lo_w[t], "") : cw ? cw : lo_w[t];
				v = wt ? LLVMBuildFMul(b, wt, v, "") : v;
				acc = acc ? LLVMBuildFAdd(b, acc, v, "") : v;
			}
	}
	if (!fl) {
		/* round half away from zero, saturate to the dtype, NaN -> 0 */
		LLVMValueRef v = cg_intrinsic(cg, "llvm.round", ct, &acc, 1);
		LLVMValueRef lo = LLVMConstReal(ct, lo_i), hi = LLVMConstReal(ct, hi_i);
		v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, v, lo, ""), lo, v, "");
		v = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, v, hi, ""), hi, v, "");
		unsigned id = LLVMLookupIntrinsicID("llvm.fptosi.sat", 15);
		LLVMTypeRef types[2] = {cg->t_i64, ct};
		acc = LLVMBuildCall2(b, LLVMIntrinsicGetType(cg->ctx, id, types, 2),
				     LLVMGetIntrinsicDeclaration(cg->mod, id, types, 2), &v, 1, "");
	}
	if (ip.out[L]) {
		LLVMValueRef f = LLVMBuildICmp(b, LLVMIntNE, cg_load(cg, cg->t_i64, ip.out[L], j), cg_i64(cg, 0), "");
		acc = LLVMBuildSelect(b, f, extrap, acc, "");
	}
	cg_store(cg, acc, dst, LLVMBuildAdd(b, out_base, j, ""));
	cg_for_end(cg, &jl);
	if (outside)
		cg_if_end(cg, &ib);
	cg_for_end(cg, &rl);
	cg_task_end(cg);
	free(c_off);
	free(c_w);
	code->task[0] = fn;
	code->iterations[0] = rows;
	code->n_tasks = 1;
	return 0;
}

int emit_resize(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	const ResizeAttrs *at = &n->attr.resize;
	Views v;
	ResizeParams p;
	if (params_ok(cg, n, resize_params(n, &x->shape, views_of(n, &v), &p, cg->d), &p.out,
		      "roi, scales and sizes", "scales or sizes") < 0)
		return -1;
	int r = x->shape.rank;
	code->n_tasks = 0;
	if (shape_numel(&y->shape) == 0)
		return 0;
	ResizeTaps *taps[NNZC_MAX_RANK];
	ResizeTaps *table = resize_taps(n, &x->shape, &p, taps);
	if (table == NULL)
		return node_error(cg->d, n, "out of memory");
	bool single = true; /* every coordinate reads one input element: a gather */
	for (int a = 0; a < r; a++)
		for (int64_t k = 0; k < y->shape.dim[a]; k++)
			single &= taps[a][k].count == 1 && taps[a][k].w[0] == 1;
	if (!single) {
		int rc = emit_interp(cg, n, taps, code);
		free(table);
		return rc;
	}
	/* nearest (or an interpolation that lands on input points): a copy nest through tables */
	Copy c;
	copy_init(&c, cg, n);
	c.m.fill_imm = dtype_is_float(y->dtype) ? cg_f32(cg, at->extrapolation_value)
						: cg_i64(cg, resize_to_int(y->dtype, at->extrapolation_value));
	int rc = 0;
	for (int a = 0; a < r && rc == 0; a++) {
		int64_t *t = move_table(&c.m, y->shape.dim[a]);
		if (t == NULL) {
			rc = -1;
			break;
		}
		for (int64_t k = 0; k < y->shape.dim[a]; k++)
			t[k] = taps[a][k].outside ? -1 : taps[a][k].idx[0] * c.xs[a];
		c.N.ax[a] = (Axis){.dim = y->shape.dim[a], .dst = c.ys[a], .table = t};
	}
	free(table);
	return rc < 0 ? -1 : copy_emit(&c, r, code);
}
