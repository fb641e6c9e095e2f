/* nnzc.TasdActivation: the activation half of TASD, decomposed on the fly (semantics and the
 * worked rules in targets/ref/tasd.c: groups of M along the axis, each term keeps the top-N
 * magnitudes of what the earlier terms left, ties to the lower index, NaN counts as the largest
 * magnitude, a group the axis cuts short keeps min(N, its length)). The output is the input with
 * every element that no term kept set to zero.
 *
 * The series is applied in one pass: the terms' groups nest inside a *super-group* of
 * L = lcm(M1, M2, ...) consecutive elements (every group boundary of every term is a multiple of
 * its M, so of L's divisors), so a super-group is loaded once, every term's selection runs on it
 * in registers, and the sum is stored once. Inside a group the rank of each element (how many
 * others beat it) comes from one compare per pair, branch-free: an element is kept when its rank
 * is below N. Vectors hold many fibers at once, so the compare network runs on whole vectors:
 *   - lanes along the inner dims (the pixels, when the axis is a conv's channels): element e of a
 *     super-group is one vector load at a stride of `inner` floats;
 *   - when the axis is the innermost one (a Gemm's K), lanes along consecutive super-groups: one
 *     wide load of W super-groups, deinterleaved by shuffles, reinterleaved for the store.
 * A super-group longer than 16 elements (M > 16, or Ms whose lcm is) would make that network too
 * large to unroll: the general path keeps the kept-so-far state in the output itself (y is
 * never x's buffer: see memplan.c) and ranks each group with run-time loops over a scratch copy
 * of its residual magnitudes, term after term.
 *
 * Why padding the axis's last, short super-group with zeros is exact: a zero magnitude at a
 * higher index than every real element loses every tie, so no real element is displaced. */
#include "gemm.h"

#include <string.h>

#define FAST_MAX 16 /* longest super-group whose compare network is unrolled */
#define WIDE_MAX 64 /* floats of one wide load when the lanes run along super-groups */

typedef struct Series {
	int nt;
	int n[NNZC_MAX_TASD_TERMS], m[NNZC_MAX_TASD_TERMS];
	int64_t lcm;
	int max_m;
} Series;

typedef struct Tasd {
	Cg *cg;
	Series s;
	int64_t outer, len, inner;
	LLVMValueRef px, py;
	LLVMValueRef scratch; /* general path: one group's residual magnitudes, max_m vectors */
} Tasd;

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static LLVMTypeRef vtype(Cg *cg, LLVMTypeRef elem, int w) { return w > 1 ? cg_vec(cg, elem, w) : elem; }

/* |x| with NaN as +inf: the order in which a group's elements are kept */
static LLVMValueRef magnitude(Cg *cg, LLVMValueRef x)
{
	LLVMTypeRef t = LLVMTypeOf(x);
	LLVMValueRef a = cg_intrinsic(cg, "llvm.fabs", t, &x, 1);
	LLVMValueRef nan = LLVMBuildFCmp(cg->b, LLVMRealUNO, x, x, "");
	return LLVMBuildSelect(cg->b, nan, cg_constf(cg, t, __builtin_inff()), a, "");
}

/* w lanes at base[off], only `bits` touched (w == 1: a scalar) */
static LLVMValueRef load_w(Cg *cg, LLVMValueRef base, LLVMValueRef off, int w, uint64_t bits)
{
	if (w == 1)
		return cg_load(cg, cg->t_f32, base, off);
	return vk_load(cg, base, off, w, bits);
}

static void store_w(Cg *cg, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off, int w, uint64_t bits)
{
	if (w == 1)
		cg_store(cg, v, base, off);
	else
		vk_store(cg, v, base, off, bits);
}

/* ---------------------------------------------------------------- the unrolled network */

/* The whole series on one super-group: x[0..t) are its real elements (vectors or scalars), y[0..t)
 * receives the kept values. */
static void select_fast(Cg *cg, const Series *s, LLVMValueRef *x, int t, LLVMValueRef *y)
{
	LLVMBuilderRef b = cg->b;
	LLVMTypeRef ft = LLVMTypeOf(x[0]);
	int w = LLVMGetTypeKind(ft) == LLVMVectorTypeKind ? (int)LLVMGetVectorSize(ft) : 1;
	LLVMTypeRef it = vtype(cg, cg->t_i32, w), bt = vtype(cg, cg->t_i1, w);
	LLVMValueRef r[FAST_MAX], kept[FAST_MAX], zero = LLVMConstNull(ft);
	for (int e = 0; e < t; e++) {
		r[e] = magnitude(cg, x[e]);
		kept[e] = LLVMConstNull(bt);
	}
	for (int j = 0; j < s->nt; j++) {
		int m = s->m[j];
		for (int s0 = 0; s0 < t; s0 += m) {
			int g = t - s0 < m ? t - s0 : m, k = s->n[j] < g ? s->n[j] : g;
			LLVMValueRef *rr = r + s0, *kk = kept + s0;
			if (k >= g) {
				for (int e = 0; e < g; e++) {
					kk[e] = LLVMConstAllOnes(bt);
					rr[e] = zero;
				}
				continue;
			}
			/* rank[a] = how many of the group beat a; a beats b (a < b) when |a| >= |b| */
			LLVMValueRef rank[FAST_MAX];
			for (int a = 0; a < g; a++)
				rank[a] = cg_consti(cg, it, g - 1 - a);
			for (int a = 0; a < g; a++)
				for (int c = a + 1; c < g; c++) {
					LLVMValueRef win = LLVMBuildZExt(b, LLVMBuildFCmp(b, LLVMRealOGE, rr[a], rr[c], ""), it, "");
					rank[c] = LLVMBuildAdd(b, rank[c], win, "");
					rank[a] = LLVMBuildSub(b, rank[a], win, "");
				}
			for (int a = 0; a < g; a++) {
				LLVMValueRef nk = LLVMBuildICmp(b, LLVMIntULT, rank[a], cg_consti(cg, it, k), "");
				kk[a] = LLVMBuildOr(b, kk[a], nk, "");
				rr[a] = LLVMBuildSelect(b, nk, zero, rr[a], "");
			}
		}
	}
	for (int e = 0; e < t; e++)
		y[e] = LLVMBuildSelect(b, kept[e], x[e], zero, "");
}

/* Lanes along the inner dims: the column of w fibers starting at element `base`, `bits` live. */
static void inner_fast(Tasd *q, LLVMValueRef base, int w, uint64_t bits)
{
	Cg *cg = q->cg;
	int64_t L = q->s.lcm, full = q->len / L, tail = q->len % L;
	LLVMValueRef x[FAST_MAX], y[FAST_MAX];
	for (int pass = 0; pass < 2; pass++) {
		int t = pass == 0 ? (int)L : (int)tail;
		if ((pass == 0 && full == 0) || t == 0)
			continue;
		Loop sl;
		LLVMValueRef off = base;
		if (pass == 0) {
			LLVMValueRef sg = cg_for(cg, &sl, cg_i64(cg, 0), cg_i64(cg, full), 1, "sg");
			off = LLVMBuildAdd(cg->b, base, LLVMBuildMul(cg->b, sg, cg_i64(cg, L * q->inner), ""), "");
		} else {
			off = LLVMBuildAdd(cg->b, base, cg_i64(cg, full * L * q->inner), "");
		}
		for (int e = 0; e < t; e++)
			x[e] = load_w(cg, q->px, LLVMBuildAdd(cg->b, off, cg_i64(cg, e * q->inner), ""), w, bits);
		select_fast(cg, &q->s, x, t, y);
		for (int e = 0; e < t; e++)
			store_w(cg, y[e], q->py, LLVMBuildAdd(cg->b, off, cg_i64(cg, e * q->inner), ""), w, bits);
		if (pass == 0)
			cg_for_end(cg, &sl);
	}
}

/* Lanes along super-groups: w consecutive super-groups (contiguous, inner == 1) at `off`, the
 * first `valid` floats of them real. */
static void groups_fast(Tasd *q, LLVMValueRef off, int w, int64_t valid)
{
	Cg *cg = q->cg;
	LLVMBuilderRef b = cg->b;
	int L = (int)q->s.lcm, wide = L * w;
	LLVMValueRef all = vk_load(cg, q->px, off, wide, vk_all(wide) & vk_all((int)valid));
	LLVMValueRef x[FAST_MAX], y[FAST_MAX], idx[WIDE_MAX];
	LLVMValueRef poison = LLVMGetPoison(LLVMTypeOf(all));
	for (int e = 0; e < L; e++) {
		for (int i = 0; i < w; i++)
			idx[i] = cg_i32(cg, i * L + e);
		x[e] = LLVMBuildShuffleVector(b, all, poison, LLVMConstVector(idx, (unsigned)w), "");
	}
	select_fast(cg, &q->s, x, L, y);
	/* reinterleave: position p of the wide vector is lane p / L of y[p % L] */
	LLVMValueRef acc = LLVMConstNull(LLVMTypeOf(all));
	for (int e = 0; e < L; e++) {
		for (int p = 0; p < wide; p++)
			idx[p] = cg_i32(cg, p < w ? p : 0);
		LLVMValueRef ext = LLVMBuildShuffleVector(b, y[e], LLVMGetPoison(LLVMTypeOf(y[e])),
							  LLVMConstVector(idx, (unsigned)wide), "");
		for (int p = 0; p < wide; p++)
			idx[p] = cg_i32(cg, p % L == e ? wide + p / L : p);
		acc = LLVMBuildShuffleVector(b, acc, ext, LLVMConstVector(idx, (unsigned)wide), "");
	}
	vk_store(cg, acc, q->py, off, vk_all(wide) & vk_all((int)valid));
}

/* ---------------------------------------------------------------- the general path */

/* One group of g elements at `off` (stride inner) under term j: rank each element against a
 * scratch copy of the group's residual magnitudes, then write y. */
static void general_group(Tasd *q, int j, LLVMValueRef off, int64_t g, int w, uint64_t bits)
{
	Cg *cg = q->cg;
	LLVMBuilderRef b = cg->b;
	int64_t k = q->s.n[j] < g ? q->s.n[j] : g;
	LLVMTypeRef ft = vtype(cg, cg->t_f32, w), it = vtype(cg, cg->t_i32, w);
	LLVMValueRef zero = LLVMConstNull(ft);
	Loop el;
	if (k >= g) { /* every element kept */
		LLVMValueRef e = cg_for(cg, &el, cg_i64(cg, 0), cg_i64(cg, g), 1, "e");
		LLVMValueRef at = LLVMBuildAdd(b, off, LLVMBuildMul(b, e, cg_i64(cg, q->inner), ""), "");
		store_w(cg, load_w(cg, q->px, at, w, bits), q->py, at, w, bits);
		cg_for_end(cg, &el);
		return;
	}
	LLVMValueRef e = cg_for(cg, &el, cg_i64(cg, 0), cg_i64(cg, g), 1, "e");
	LLVMValueRef at = LLVMBuildAdd(b, off, LLVMBuildMul(b, e, cg_i64(cg, q->inner), ""), "");
	LLVMValueRef rm = magnitude(cg, load_w(cg, q->px, at, w, bits));
	if (j > 0) { /* kept by an earlier term: y holds it (a kept zero has magnitude 0 anyway) */
		LLVMValueRef kept = LLVMBuildFCmp(b, LLVMRealUNE, load_w(cg, q->py, at, w, bits), zero, "");
		rm = LLVMBuildSelect(b, kept, zero, rm, "");
	}
	cg_store(cg, rm, q->scratch, LLVMBuildMul(b, e, cg_i64(cg, w), ""));
	cg_for_end(cg, &el);

	Loop al, bl;
	LLVMValueRef rank;
	if (w == 1) {
		/* one fiber: its group is contiguous in the scratch, so a's rank is counted a vector of
		 * the others at a time; the padding (-1) never beats anything */
		int V = cg->vlen;
		int64_t gp = (g + V - 1) / V * V;
		for (int64_t p = g; p < gp; p++)
			cg_store(cg, cg_f32(cg, -1.0f), q->scratch, cg_i64(cg, p));
		LLVMTypeRef fv = cg_vec(cg, cg->t_f32, V), iv = cg_vec(cg, cg->t_i32, V);
		LLVMValueRef iota[64];
		for (int i = 0; i < V; i++)
			iota[i] = cg_i32(cg, i);
		LLVMValueRef a = cg_for(cg, &al, cg_i64(cg, 0), cg_i64(cg, g), 1, "a");
		LLVMValueRef ra = cg_splat(cg, cg_load(cg, cg->t_f32, q->scratch, a), V);
		LLVMValueRef av = cg_splat(cg, LLVMBuildTrunc(b, a, cg->t_i32, ""), V);
		LLVMValueRef acc = cg_var(cg, iv, LLVMConstNull(iv), "rank");
		LLVMValueRef c = cg_for(cg, &bl, cg_i64(cg, 0), cg_i64(cg, gp), V, "b");
		LLVMValueRef rc = cg_load(cg, fv, q->scratch, c);
		LLVMValueRef ci = LLVMBuildAdd(b, cg_splat(cg, LLVMBuildTrunc(b, c, cg->t_i32, ""), V),
					       LLVMConstVector(iota, (unsigned)V), "");
		/* earlier elements beat a on a tie, later ones (and a itself: never) only when larger */
		LLVMValueRef win = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, ci, av, ""),
						   LLVMBuildFCmp(b, LLVMRealOGE, rc, ra, ""),
						   LLVMBuildFCmp(b, LLVMRealOGT, rc, ra, ""), "");
		LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, iv, acc, ""), LLVMBuildZExt(b, win, iv, ""), ""), acc);
		cg_for_end(cg, &bl);
		LLVMValueRef tot = LLVMBuildLoad2(b, iv, acc, "");
		rank = cg_var(cg, it, cg_intrinsic(cg, "llvm.vector.reduce.add", iv, &tot, 1), "ranks");
	} else {
		LLVMValueRef a = cg_for(cg, &al, cg_i64(cg, 0), cg_i64(cg, g), 1, "a");
		LLVMValueRef ra = cg_load(cg, ft, q->scratch, LLVMBuildMul(b, a, cg_i64(cg, w), ""));
		rank = cg_var(cg, it, LLVMConstNull(it), "rank");
		for (int side = 0; side < 2; side++) {
			/* earlier elements beat a on a tie, later ones only when strictly larger */
			LLVMValueRef lo = side ? LLVMBuildAdd(b, a, cg_i64(cg, 1), "") : cg_i64(cg, 0);
			LLVMValueRef hi = side ? cg_i64(cg, g) : a;
			LLVMValueRef c = cg_for(cg, &bl, lo, hi, 1, "b");
			LLVMValueRef rc = cg_load(cg, ft, q->scratch, LLVMBuildMul(b, c, cg_i64(cg, w), ""));
			LLVMValueRef win = LLVMBuildFCmp(b, side ? LLVMRealOGT : LLVMRealOGE, rc, ra, "");
			LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, it, rank, ""), LLVMBuildZExt(b, win, it, ""), ""), rank);
			cg_for_end(cg, &bl);
		}
	}
	LLVMValueRef a = al.iv;
	LLVMValueRef keep = LLVMBuildICmp(b, LLVMIntULT, LLVMBuildLoad2(b, it, rank, ""), cg_consti(cg, it, k), "");
	at = LLVMBuildAdd(b, off, LLVMBuildMul(b, a, cg_i64(cg, q->inner), ""), "");
	LLVMValueRef old = j > 0 ? load_w(cg, q->py, at, w, bits) : zero;
	store_w(cg, LLVMBuildSelect(b, keep, load_w(cg, q->px, at, w, bits), old, ""), q->py, at, w, bits);
	cg_for_end(cg, &al);
}

/* Every term over the fiber column at `base`, one group at a time. */
static void general_column(Tasd *q, LLVMValueRef base, int w, uint64_t bits)
{
	Cg *cg = q->cg;
	for (int j = 0; j < q->s.nt; j++) {
		int64_t m = q->s.m[j], full = q->len / m, tail = q->len % m;
		if (full > 0) {
			Loop gl;
			LLVMValueRef gi = cg_for(cg, &gl, cg_i64(cg, 0), cg_i64(cg, full), 1, "group");
			LLVMValueRef off = LLVMBuildAdd(cg->b, base, LLVMBuildMul(cg->b, gi, cg_i64(cg, m * q->inner), ""), "");
			general_group(q, j, off, m, w, bits);
			cg_for_end(cg, &gl);
		}
		if (tail > 0)
			general_group(q, j, LLVMBuildAdd(cg->b, base, cg_i64(cg, full * m * q->inner), ""), tail, w, bits);
	}
}

/* ---------------------------------------------------------------- the task */

static void column(Tasd *q, bool fast, LLVMValueRef base, int w, uint64_t bits)
{
	if (fast)
		inner_fast(q, base, w, bits);
	else
		general_column(q, base, w, bits);
}

int emit_tasd_activation(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (!dtype_is_float(x->dtype) || !dtype_is_float(y->dtype))
		return node_error(cg->d, n, "input and output must be floating-point tensors");
	Encoding series;
	if (tasd_act_series(n, &series, cg->d) < 0)
		return -1;
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.tasd_act.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(cg->d, n, "%s", tmp.msg);
	Tasd q = {.cg = cg, .outer = 1, .inner = 1, .len = x->shape.dim[axis]};
	for (int i = 0; i < axis; i++)
		q.outer *= x->shape.dim[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		q.inner *= x->shape.dim[i];
	q.s.nt = series.u.tasd.nterms;
	q.s.lcm = 1;
	for (int j = 0; j < q.s.nt; j++) {
		q.s.n[j] = series.u.tasd.term[j].n;
		q.s.m[j] = series.u.tasd.term[j].m;
		if (q.s.m[j] > q.s.max_m)
			q.s.max_m = q.s.m[j];
		if (q.s.lcm <= 256 * 256) /* beyond that it is not unrolled anyway */
			q.s.lcm = q.s.lcm / gcd64(q.s.lcm, q.s.m[j]) * q.s.m[j];
	}
	code->n_tasks = 0;
	if (q.outer * q.len * q.inner == 0)
		return 0;
	bool fast = q.s.lcm <= FAST_MAX;
	int vlen = cg->vlen;
	LLVMBuilderRef b = cg->b;
	LLVMValueRef fn;
	int64_t iterations;
	if (q.inner > 1 || !fast) {
		/* lanes along the inner dims (w == 1: a fiber at a time, the axis being innermost) */
		int w = 1;
		if (q.inner > 1)
			while (w < vlen && w < q.inner)
				w *= 2;
		int64_t ncols = (q.inner + w - 1) / w, last = q.inner - (ncols - 1) * w;
		uint64_t tail_bits = vk_all((int)last);
		fn = cg_task_begin(cg, fast ? "tasd" : "tasd.general");
		q.px = cg_ptr(cg, x);
		q.py = cg_ptr(cg, y);
		if (!fast)
			q.scratch = vk_scratch(cg, ((int64_t)q.s.max_m + vlen) * w, "resid");
		Loop il;
		LLVMValueRef it = cg_for(cg, &il, cg->begin, cg->end, 1, "it");
		LLVMValueRef o = LLVMBuildSDiv(b, it, cg_i64(cg, ncols), ""), c = LLVMBuildSRem(b, it, cg_i64(cg, ncols), "");
		LLVMValueRef base = LLVMBuildAdd(b, LLVMBuildMul(b, o, cg_i64(cg, q.len * q.inner), ""),
						 LLVMBuildMul(b, c, cg_i64(cg, w), ""), "");
		if (w > 1 && last != w) {
			IfBlock ib;
			cg_if(cg, &ib, LLVMBuildICmp(b, LLVMIntEQ, c, cg_i64(cg, ncols - 1), ""), true);
			column(&q, fast, base, w, tail_bits);
			cg_else(cg, &ib);
			column(&q, fast, base, w, vk_all(w));
			cg_if_end(cg, &ib);
		} else {
			column(&q, fast, base, w, vk_all(w));
		}
		cg_for_end(cg, &il);
		iterations = q.outer * ncols;
	} else {
		/* the axis is innermost: lanes along super-groups, w of them per wide load */
		int64_t L = q.s.lcm;
		int w = 1;
		while (w * 2 <= vlen && w * 2 * L <= WIDE_MAX)
			w *= 2;
		fn = cg_task_begin(cg, "tasd.groups");
		q.px = cg_ptr(cg, x);
		q.py = cg_ptr(cg, y);
		Loop il;
		LLVMValueRef it = cg_for(cg, &il, cg->begin, cg->end, 1, "it");
		if (q.len % L == 0) {
			/* fibers hold whole super-groups: the tensor is one run of them */
			int64_t total = q.outer * q.len / L, nblk = (total + w - 1) / w, rest = total - (nblk - 1) * w;
			LLVMValueRef off = LLVMBuildMul(b, it, cg_i64(cg, w * L), "");
			if (rest != w) {
				IfBlock ib;
				cg_if(cg, &ib, LLVMBuildICmp(b, LLVMIntEQ, it, cg_i64(cg, nblk - 1), ""), true);
				groups_fast(&q, off, w, rest * L);
				cg_else(cg, &ib);
				groups_fast(&q, off, w, w * L);
				cg_if_end(cg, &ib);
			} else {
				groups_fast(&q, off, w, w * L);
			}
			iterations = nblk;
		} else {
			/* a fiber per iteration, its last block holding the short super-group */
			int64_t nblk = q.len / (L * w), rest = q.len - nblk * L * w;
			LLVMValueRef base = LLVMBuildMul(b, it, cg_i64(cg, q.len), "");
			if (nblk > 0) {
				Loop bl;
				LLVMValueRef k = cg_for(cg, &bl, cg_i64(cg, 0), cg_i64(cg, nblk), 1, "blk");
				groups_fast(&q, LLVMBuildAdd(b, base, LLVMBuildMul(b, k, cg_i64(cg, L * w), ""), ""), w, L * w);
				cg_for_end(cg, &bl);
			}
			groups_fast(&q, LLVMBuildAdd(b, base, cg_i64(cg, nblk * L * w), ""), w, rest);
			iterations = q.outer;
		}
		cg_for_end(cg, &il);
	}
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = iterations;
	code->n_tasks = 1;
	return 0;
}
