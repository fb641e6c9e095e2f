/* CK_SPARSE_LANES: a product with a constant sparse right operand and few rows of activations
 * (a fully connected layer at batch 1: Y[m][n] = epilogue(X[m][k] x B[k][n]), m small).
 *
 * At batch 1 the product is a sparse matrix-vector product: there is nothing to vectorise along
 * X's rows, so the vector lanes run along the output features. The weight W = B^T (rows = output
 * features) is cut into groups of V = vlen consecutive rows; a group's rows are padded with
 * zero entries to the same number of steps (ELL, the gs(V,B) pattern's load balancing: a
 * gs(vlen,B) weight needs no padding), and step s of a group is one vector of V (column, value)
 * pairs, one per row, times X's elements at those columns, one multiply-add per row of X. The
 * epilogue (alpha, Gemm's C with its broadcast, the fused residual and activation) runs on the
 * group's accumulator and stores V outputs at once. X's elements are fetched in one of two ways:
 *   - gather: the steps hold element offsets into X's row and each step gathers V elements
 *     (llvm.masked.gather: vgatherdps on AVX2/AVX-512). Consecutive steps alternate between two
 *     accumulators. A padding entry repeats the row's last column with value 0, so its gather
 *     reads a line the row reads anyway.
 *   - permute (AVX-512, X's rows contiguous): X is read in chunks of 32 columns, two registers,
 *     and a group's steps are per chunk (padded to the group's most non-zeros in that chunk);
 *     a step's columns are byte indices into the chunk and one vpermi2ps picks the 16 elements
 *     from the registers. More padding, but a permute costs a cycle where a gather costs ~16
 *     (one element loaded per cycle). Chosen when its estimated cost is lower (use_permutes).
 *
 * The tables are compile-time data items (so nodes of one shape share their code): the ranges
 * of the steps (int64, per group or per group and chunk), the steps' offsets (int32) or chunk
 * indices (uint8), and their values (f32).
 *
 * One parallel iteration is one group for every row of X (at most SG_ROWS), so a thread's share
 * of the weights is contiguous.
 *
 * Measured (Zen 5, one thread, W 1000 x 2048, interleaved runs, medians; dense GEMV 0.080 ms
 * for 1 and 4 rows of X):
 *   density             0.05    0.1     0.3
 *   1 row,  gather      0.031   0.060   0.167 ms  (~3.4e9 non-zeros per second)
 *   1 row,  permute     0.013   0.021   0.049
 *   4 rows, gather      0.100   0.192   0.540
 *   4 rows, permute     0.022   0.036   0.065
 * A per-row scalar loop with four accumulators measured like the gather at 1 row (0.029 / 0.061 /
 * 0.170) and a third slower at 4. Beyond a few rows of X the dense kernel's register blocking
 * (and spmm.c) take over, hence SG_ROWS. */
#include "gemm.h"
#include "sparse.h"

#include <stdlib.h>
#include <string.h>

#define SG_ROWS SPARSE_LANES_MAX_COLUMNS /* most rows of X (sparse.h) */
#define SG_UNROLL 2 /* steps per loop trip, each into its own accumulator */

#define SG_CHUNK 32 /* permute variant: columns of X in two registers */

typedef struct Lanes {
	int vlen;
	bool perm;          /* the permute variant: steps per chunk of SG_CHUNK columns */
	int64_t groups, slots, nchunks;
	int64_t *ptr;       /* gather: groups + 1; permute: groups * nchunks + 1; in slots */
	int32_t *off;       /* gather: slots, element offsets into X's row */
	uint8_t *idx;       /* permute: slots, the column inside the chunk */
	float *val;         /* slots */
} Lanes;

static void lanes_free(Lanes *l)
{
	free(l->ptr);
	free(l->off);
	free(l->idx);
	free(l->val);
}

/* Steps of the permute variant: per group and chunk, the most non-zeros a row has in it. */
static int64_t perm_steps(const SpRows *w, int vlen, int64_t *ptr)
{
	int64_t groups = (w->rows + vlen - 1) / vlen, nch = (w->cols + SG_CHUNK - 1) / SG_CHUNK, slots = 0;
	/* a window of chunks at a time: per chunk the group's most, per row its count */
	enum { WIN = 64 };
	for (int64_t g = 0; g < groups; g++)
		for (int64_t c0 = 0; c0 < nch; c0 += WIN) {
			int64_t cn = nch - c0 < WIN ? nch - c0 : WIN, most[WIN] = {0};
			for (int64_t r = g * vlen; r < (g + 1) * vlen && r < w->rows; r++) {
				int64_t here[WIN] = {0};
				for (int64_t e = w->row_ptr[r]; e < w->row_ptr[r + 1]; e++) {
					int64_t c = w->col[e] / SG_CHUNK - c0;
					if (c >= 0 && c < cn)
						here[c]++;
				}
				for (int64_t c = 0; c < cn; c++)
					most[c] = here[c] > most[c] ? here[c] : most[c];
			}
			for (int64_t c = 0; c < cn; c++) {
				if (ptr)
					ptr[g * nch + c0 + c] = slots;
				slots += most[c] * vlen;
			}
		}
	if (ptr)
		ptr[groups * nch] = slots;
	return slots;
}

static int perm_build(const SpRows *w, Lanes *l)
{
	int V = l->vlen;
	l->nchunks = (w->cols + SG_CHUNK - 1) / SG_CHUNK;
	l->ptr = calloc((size_t)(l->groups * l->nchunks) + 1, sizeof *l->ptr);
	if (l->ptr == NULL)
		return -1;
	l->slots = perm_steps(w, V, l->ptr);
	l->idx = calloc((size_t)l->slots + 1, 1);
	l->val = calloc((size_t)l->slots + 1, sizeof *l->val);
	if (l->idx == NULL || l->val == NULL)
		return -1;
	for (int64_t r = 0; r < w->rows; r++) {
		int64_t g = r / V, lane = r % V, c = -1, s = 0;
		for (int64_t e = w->row_ptr[r]; e < w->row_ptr[r + 1]; e++) {
			int64_t ce = w->col[e] / SG_CHUNK;
			s = ce == c ? s + 1 : 0;
			c = ce;
			int64_t at = l->ptr[g * l->nchunks + c] + s * V + lane;
			l->idx[at] = (uint8_t)(w->col[e] % SG_CHUNK);
			l->val[at] = w->val[e];
		}
	}
	return 0;
}

/* ELL tables of w's rows in groups of vlen; -1 when out of memory, 1 when an offset does not fit
 * int32. */
static int lanes_build(const SpRows *w, int64_t a_ks, int vlen, bool perm, Lanes *l)
{
	memset(l, 0, sizeof *l);
	l->vlen = vlen;
	l->perm = perm;
	l->groups = (w->rows + vlen - 1) / vlen;
	if (perm) {
		int rc = perm_build(w, l);
		if (rc < 0)
			lanes_free(l);
		return rc;
	}
	if (w->cols > 0 && (w->cols - 1) > INT32_MAX / (a_ks > 0 ? a_ks : 1))
		return 1;
	l->ptr = calloc((size_t)l->groups + 1, sizeof *l->ptr);
	if (l->ptr == NULL)
		return -1;
	int64_t slots = 0;
	for (int64_t g = 0; g < l->groups; g++) {
		int64_t steps = 0;
		for (int64_t r = g * vlen; r < (g + 1) * vlen && r < w->rows; r++) {
			int64_t c = w->row_ptr[r + 1] - w->row_ptr[r];
			steps = c > steps ? c : steps;
		}
		steps = (steps + SG_UNROLL - 1) / SG_UNROLL * SG_UNROLL;
		l->ptr[g] = slots;
		slots += steps * vlen;
	}
	l->ptr[l->groups] = slots;
	l->slots = slots;
	l->off = calloc((size_t)slots + 1, sizeof *l->off);
	l->val = calloc((size_t)slots + 1, sizeof *l->val);
	if (l->off == NULL || l->val == NULL) {
		lanes_free(l);
		return -1;
	}
	for (int64_t g = 0; g < l->groups; g++) {
		int64_t steps = (l->ptr[g + 1] - l->ptr[g]) / vlen;
		for (int lane = 0; lane < vlen; lane++) {
			int64_t r = g * vlen + lane;
			int64_t lo = r < w->rows ? w->row_ptr[r] : 0, cnt = r < w->rows ? w->row_ptr[r + 1] - lo : 0;
			int32_t last = 0;
			for (int64_t s = 0; s < steps; s++) {
				int64_t at = l->ptr[g] + s * vlen + lane;
				if (s < cnt) {
					last = (int32_t)(w->col[lo + s] * a_ks);
					l->off[at] = last;
					l->val[at] = w->val[lo + s];
				} else {
					l->off[at] = last;
					l->val[at] = 0.0f;
				}
			}
		}
	}
	return 0;
}

bool spgemm_lanes_can_run(const GemmSpec *s)
{
	return s->nbd == 0 && s->b_kind != GB_IM2COL && !s->a_im2col && !s->c_trans && s->m > 0 && s->m <= SG_ROWS &&
	       s->n > 0 && s->k > 0 && s->k - 1 <= INT32_MAX / (s->a_ks > 0 ? s->a_ks : 1);
}

static LLVMValueRef gather(Cg *cg, LLVMValueRef base, LLVMValueRef idx, int lanes)
{
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, lanes), pt = cg_vec(cg, cg->t_ptr, lanes);
	LLVMValueRef ptrs = LLVMBuildGEP2(cg->b, cg->t_f32, base, &idx, 1, "");
	LLVMTypeRef tys[2] = {vt, pt};
	static const char name[] = "llvm.masked.gather";
	unsigned id = LLVMLookupIntrinsicID(name, sizeof name - 1);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, tys, 2);
	LLVMValueRef args[4] = {ptrs, cg_i32(cg, 4), vk_mask(cg, lanes, vk_all(lanes)), LLVMGetPoison(vt)};
	return LLVMBuildCall2(cg->b, LLVMIntrinsicGetType(cg->ctx, id, tys, 2), fn, args, 4, "");
}

typedef struct LanesTask {
	Cg *cg;
	const GemmSpec *s;
	const Lanes *l;
	LLVMValueRef a, c, add[GEMM_MAX_ADDENDS], ptr, off, idx, val;
} LanesTask;

/* One chunk c (an i64 value) of the permute variant into accumulators acc[r][u]: X's SG_CHUNK
 * columns from c * SG_CHUNK in two registers per row (`bits`: the live ones of a partial last
 * chunk), then per step one permute and one multiply-add per row. */
static void perm_chunk(LanesTask *t, LLVMValueRef g, LLVMValueRef c, LLVMValueRef *arow, int rows,
		       LLVMValueRef acc[][SG_UNROLL], int u, uint64_t bits)
{
	Cg *cg = t->cg;
	LLVMBuilderRef b = cg->b;
	int V = t->l->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, V), it = cg_vec(cg, cg->t_i32, V), bt = cg_vec(cg, cg->t_i8, V);
	LLVMValueRef xlo[SG_ROWS], xhi[SG_ROWS], c0 = LLVMBuildMul(b, c, cg_i64(cg, SG_CHUNK), "");
	for (int r = 0; r < rows; r++) {
		xlo[r] = vk_load(cg, arow[r], c0, V, bits);
		xhi[r] = vk_load(cg, arow[r], LLVMBuildAdd(b, c0, cg_i64(cg, V), ""), V, bits >> V);
	}
	LLVMValueRef at = LLVMBuildAdd(b, LLVMBuildMul(b, g, cg_i64(cg, t->l->nchunks), ""), c, "");
	LLVMValueRef lo = cg_load(cg, cg->t_i64, t->ptr, at);
	LLVMValueRef hi = cg_load(cg, cg->t_i64, t->ptr, LLVMBuildAdd(b, at, cg_i64(cg, 1), ""));
	static const char name[] = "llvm.x86.avx512.vpermi2var.ps.512";
	unsigned id = LLVMLookupIntrinsicID(name, sizeof name - 1);
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, NULL, 0);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, NULL, 0);
	Loop sl;
	LLVMValueRef s = cg_for(cg, &sl, lo, hi, V, "step");
	LLVMValueRef idx = LLVMBuildZExt(b, LLVMBuildLoad2(b, bt, cg_gep(cg, cg->t_i8, t->idx, s), ""), it, "");
	LLVMSetAlignment(LLVMGetOperand(idx, 0), 1);
	LLVMValueRef w = cg_load(cg, vt, t->val, s);
	for (int r = 0; r < rows; r++) {
		LLVMValueRef x = LLVMBuildCall2(b, ft, fn, (LLVMValueRef[]){xlo[r], idx, xhi[r]}, 3, "");
		LLVMBuildStore(b, vk_fmuladd(cg, w, x, LLVMBuildLoad2(b, vt, acc[r][u], "")), acc[r][u]);
	}
	cg_for_end(cg, &sl);
}

/* The permute variant over every chunk of group g: chunks in pairs, one accumulator each, so
 * that two multiply-add chains are in flight. */
static void perm_group(LanesTask *t, LLVMValueRef g, LLVMValueRef *arow, int rows, LLVMValueRef acc[][SG_UNROLL])
{
	Cg *cg = t->cg;
	int64_t k = t->s->k, full = k / SG_CHUNK, rest = k % SG_CHUNK;
	uint64_t all = vk_all(SG_CHUNK);
	if (full >= 2) {
		Loop cl;
		LLVMValueRef cp = cg_for(cg, &cl, cg_i64(cg, 0), cg_i64(cg, full / 2), 1, "chunks");
		LLVMValueRef c = LLVMBuildMul(cg->b, cp, cg_i64(cg, 2), "");
		perm_chunk(t, g, c, arow, rows, acc, 0, all);
		perm_chunk(t, g, LLVMBuildAdd(cg->b, c, cg_i64(cg, 1), ""), arow, rows, acc, 1, all);
		cg_for_end(cg, &cl);
	}
	if (full % 2)
		perm_chunk(t, g, cg_i64(cg, full - 1), arow, rows, acc, 0, all);
	if (rest)
		perm_chunk(t, g, cg_i64(cg, full), arow, rows, acc, 1, vk_all((int)rest));
}

/* The group `g` for rows [i0, i0 + rows) of X; `bits`: the group's live lanes. */
static void group_rows(LanesTask *t, LLVMValueRef g, LLVMValueRef i0, int rows, uint64_t bits)
{
	Cg *cg = t->cg;
	LLVMBuilderRef b = cg->b;
	const GemmSpec *s = t->s;
	int V = t->l->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, V), it = cg_vec(cg, cg->t_i32, V);
	LLVMValueRef acc[SG_ROWS][SG_UNROLL], arow[SG_ROWS];
	for (int r = 0; r < rows; r++) {
		LLVMValueRef i = LLVMBuildAdd(b, i0, cg_i64(cg, r), "");
		arow[r] = cg_gep(cg, cg->t_f32, t->a, LLVMBuildMul(b, i, cg_i64(cg, s->a_rs), ""));
		for (int u = 0; u < SG_UNROLL; u++)
			acc[r][u] = cg_var(cg, vt, LLVMConstNull(vt), "acc");
	}
	if (t->l->perm) {
		perm_group(t, g, arow, rows, acc);
		goto epilogue;
	}
	LLVMValueRef lo = cg_load(cg, cg->t_i64, t->ptr, g);
	LLVMValueRef hi = cg_load(cg, cg->t_i64, t->ptr, LLVMBuildAdd(b, g, cg_i64(cg, 1), ""));
	Loop sl;
	LLVMValueRef at = cg_for(cg, &sl, lo, hi, SG_UNROLL * V, "step");
	for (int u = 0; u < SG_UNROLL; u++) {
		LLVMValueRef su = LLVMBuildAdd(b, at, cg_i64(cg, u * V), "");
		LLVMValueRef idx = cg_load(cg, it, t->off, su), w = cg_load(cg, vt, t->val, su);
		for (int r = 0; r < rows; r++) {
			LLVMValueRef x = gather(cg, arow[r], idx, V);
			LLVMValueRef a = LLVMBuildLoad2(b, vt, acc[r][u], "");
			LLVMBuildStore(b, vk_fmuladd(cg, w, x, a), acc[r][u]);
		}
	}
	cg_for_end(cg, &sl);
epilogue:;
	LLVMValueRef n0 = LLVMBuildMul(b, g, cg_i64(cg, V), "");
	for (int r = 0; r < rows; r++) {
		LLVMValueRef v = LLVMBuildLoad2(b, vt, acc[r][0], "");
		for (int u = 1; u < SG_UNROLL; u++)
			v = LLVMBuildFAdd(b, v, LLVMBuildLoad2(b, vt, acc[r][u], ""), "");
		LLVMValueRef i = LLVMBuildAdd(b, i0, cg_i64(cg, r), "");
		if (s->alpha != 1.0f)
			v = LLVMBuildFMul(b, v, cg_constf(cg, vt, s->alpha), "");
		for (int d = 0; d < s->n_add; d++) {
			const GemmAddend *ad = &s->add[d];
			LLVMValueRef o = LLVMBuildMul(b, i, cg_i64(cg, ad->rs), ""), e;
			if (ad->cs == 0)
				e = cg_splat(cg, cg_load(cg, cg->t_f32, t->add[d], o), V);
			else
				e = vk_load(cg, t->add[d], LLVMBuildAdd(b, o, n0, ""), V, bits);
			v = ad->scale == 1.0f ? LLVMBuildFAdd(b, v, e, "") : vk_fmuladd(cg, e, cg_constf(cg, vt, ad->scale), v);
		}
		v = cg_round_dtype(cg, s->c->dtype, vk_act(cg, &s->act, v));
		LLVMValueRef co = LLVMBuildAdd(b, LLVMBuildMul(b, i, cg_i64(cg, s->ldc), ""), n0, "");
		vk_store(cg, v, t->c, co, bits);
	}
}

/* Group g for every row of X, the group's lanes chosen at run time (the last group may be
 * partial). */
static void group(LanesTask *t, LLVMValueRef g)
{
	Cg *cg = t->cg;
	int V = t->l->vlen, rows = (int)t->s->m;
	int64_t last = t->s->n - (t->l->groups - 1) * V;
	if (last == V) {
		group_rows(t, g, cg_i64(cg, 0), rows, vk_all(V));
		return;
	}
	IfBlock ib;
	cg_if(cg, &ib, LLVMBuildICmp(cg->b, LLVMIntEQ, g, cg_i64(cg, t->l->groups - 1), ""), true);
	group_rows(t, g, cg_i64(cg, 0), rows, vk_all((int)last));
	cg_else(cg, &ib);
	group_rows(t, g, cg_i64(cg, 0), rows, vk_all(V));
	cg_if_end(cg, &ib);
}

/* The permute variant needs AVX-512 (16 lanes: two registers hold a chunk) and X's rows
 * contiguous; it pays when its padded steps, at about a tenth of a gather's cost each, plus a
 * chunk's overhead come below the gather variant's steps. */
static bool use_permutes(const Cg *cg, const GemmSpec *s, const SpRows *w)
{
	if (cg->vlen != 16 || s->a_ks != 1)
		return false;
	int V = cg->vlen;
	int64_t groups = (w->rows + V - 1) / V, gather = 0;
	for (int64_t g = 0; g < groups; g++) {
		int64_t most = 0;
		for (int64_t r = g * V; r < (g + 1) * V && r < w->rows; r++)
			most = w->row_ptr[r + 1] - w->row_ptr[r] > most ? w->row_ptr[r + 1] - w->row_ptr[r] : most;
		gather += most;
	}
	double perm = (double)perm_steps(w, V, NULL) / V;
	double chunks = (double)groups * (double)((w->cols + SG_CHUNK - 1) / SG_CHUNK);
	return perm * 1.5 + chunks * 6.0 < (double)gather * 16.0;
}

int spgemm_lanes_emit(Cg *cg, const GemmSpec *s, const SpRows *w, NodeCode *code)
{
	if (!spgemm_lanes_can_run(s) || w->rows != s->n || w->cols != s->k)
		return 1;
	Lanes l;
	bool perm = use_permutes(cg, s, w);
	int rc = lanes_build(w, s->a_ks, cg->vlen, perm, &l);
	if (rc != 0)
		return rc < 0 ? node_error(cg->d, s->node, "out of memory") : 1;
	int id_ptr = cg_data_take(cg, l.ptr, ((size_t)(perm ? l.groups * l.nchunks : l.groups) + 1) * sizeof *l.ptr);
	int id_off = perm ? cg_data_take(cg, l.idx, (size_t)l.slots + 1)
			  : cg_data_take(cg, l.off, ((size_t)l.slots + 1) * sizeof *l.off);
	int id_val = cg_data_take(cg, l.val, ((size_t)l.slots + 1) * sizeof *l.val);
	LLVMValueRef fn = cg_task_begin(cg, "spgemm.lanes");
	LanesTask t = {.cg = cg, .s = s, .l = &l};
	t.a = cg_ptr(cg, s->a);
	t.c = cg_ptr(cg, s->c);
	for (int d = 0; d < s->n_add; d++)
		t.add[d] = cg_ptr(cg, s->add[d].v);
	t.ptr = cg_data_ptr(cg, id_ptr);
	if (perm)
		t.idx = cg_data_ptr(cg, id_off);
	else
		t.off = cg_data_ptr(cg, id_off);
	t.val = cg_data_ptr(cg, id_val);
	Loop il;
	group(&t, cg_for(cg, &il, cg->begin, cg->end, 1, "group"));
	cg_for_end(cg, &il);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = l.groups;
	code->n_tasks = 1;
	/* the tables now belong to the data items */
	return 0;
}
