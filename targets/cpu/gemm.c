/* The blocked matrix product (see gemm.h for the picture): planning, packing of constant
 * operands, packing of B panels (im2col, strided gather) and the loops of the task around the
 * micro-kernel (microkernel.c).
 *
 * Everything about the loop structure is decided here at compile time from the static shapes:
 * the micro-tile (MR rows x NV vectors), how the columns split into tiles and the rows into
 * chunks (the parallel iterations), the loop order inside an iteration, the k-blocks of packed
 * panels, and which lanes of the last vector of a tile are live. The generated task only
 * computes offsets and runs loops. */
#include "gemm.h"
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a B panel on the task's stack: a k-block of it should stay in L2 and the part one
 * micro-tile reads (kc x NR) mostly in L1. */
#define PANEL_BYTES (128 * 1024)
/* Multiply-adds below which a product is not worth splitting across threads (~2 us). */
#define GRAIN_MACS (INT64_C(1) << 17)
#define MAX_ITERATIONS 64
/* Bytes of L2 an operand may take and still be re-read from there. */
#define L2_BYTES (768.0 * 1024)
/* Bytes of the stack array holding the partial sums of a transposed product's tile. */
#define ACC_BYTES (64 * 1024)
/* Output rows of an im2col tile, at most (they are unrolled in the packing code). */
#define MAX_TILE_ROWS 32
/* Columns of a panel packed element by element (strided gather, im2col of very long rows). */
#define MAX_PANEL_COLS 512

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/* ---------------------------------------------------------------- planning */

static int64_t ksize(const Window *w) { return w->kernel[0] * w->kernel[1] * w->kernel[2]; }

/* The panel row of an im2col tile of `rows` output rows: every row's last vector may write past
 * its row end (into the next row, rewritten after it, or past the tile). */
static int64_t im2col_ld(const GemmPlan *p, const Window *w, int64_t rows)
{
	int64_t ow = w->out[2];
	int64_t need = (rows - 1) * ow + round_up(ow, p->vlen);
	int64_t ld = round_up(rows * ow, p->nr);
	return round_up(need > ld ? need : ld, p->vlen);
}

/* Fraction of the computed lanes that are real columns for a tile of tw columns. */
static double lane_use(const GemmPlan *p, int64_t tw)
{
	int64_t full = tw / p->nr, tail = tw % p->nr;
	return (double)tw / (double)(full * p->nr + round_up(tail, p->vlen));
}

/* The products whose micro-tile may be widened from 2 vectors to `wide_nv` (the cost model's
 * dense-vectors, measured per CPU by nnzc calibrate): B the activations, read in place or as
 * im2col panels, with at least GEMM_WIDE_MIN_K terms and GEMM_WIDE_MIN_M rows (gemm.h). A 9 x 3
 * tile loads 12 vectors per 27 multiply-adds where 12 x 2 loads 14 per 24, and its columns split
 * into other tiles and chunks. On an Intel Xeon guest (where loads limit the multiply-adds,
 * bench/fma_load.c) ResNet-50's 1x1 and 3x3 layers on 56x56 to 14x14 ran 5-15% faster each in
 * the network (bench/ab_builds.py, 6 ABBA pairs, 2 threads, the cost file with and without
 * dense-vectors 3). Not elsewhere, there (the same runs with every product widened, by a
 * temporary change): with 64 terms (1x1 64 -> 256 on 56x56) 7-23% slower; with 32 rows
 * (MobileNetV2's 144 -> 32 on 28x28) 1.6x slower, as 4 blocks of 8 rows split evenly over two
 * threads and the planner then takes one column tile that both threads read whole; and the
 * transposed products of 7x7 maps (A = the pixels, B = packed weights), 3-27% slower with the
 * weights read once more per extra block. */
static void plan_rows(GemmPlan *p, const GemmSpec *s, int wide_nv)
{
	int regs = p->vlen >= 16 ? 32 : 16;
	p->nv = s->m <= 3 ? 4 : 2;
	if (wide_nv > 0 && s->m >= GEMM_WIDE_MIN_M && s->k >= GEMM_WIDE_MIN_K && !s->a_im2col &&
	    s->b_kind != GB_PACKED)
		p->nv = wide_nv;
	if (p->nv * p->vlen > round_up(s->n, p->vlen))
		p->nv = (int)ceil_div(s->n, p->vlen); /* no wider than the product */
	if (p->nv < 1)
		p->nv = 1;
	/* accumulators + one row of B + the broadcast must fit the register file */
	int mr_max = (regs - p->nv - 2) / p->nv;
	if (mr_max > (regs == 32 ? 12 : 6))
		mr_max = regs == 32 ? 12 : 6;
	if (mr_max > MAX_MR)
		mr_max = MAX_MR;
	p->nr = (int64_t)p->nv * p->vlen;
	p->nblocks = ceil_div(s->m, mr_max);
	p->mr_hi = (int)ceil_div(s->m, p->nblocks);
	p->nhi = s->m - p->nblocks * (p->mr_hi - 1);
	p->mr_lo = p->nhi < p->nblocks ? p->mr_hi - 1 : 0;
}

/* How well the iterations share out over two threads (the configuration that matters most;
 * more threads prefer more iterations anyway): the runtime gives each thread a contiguous half
 * of the iteration space. Work of an iteration = columns of its tile x rows of its chunk; tiles
 * are `per` units wide but the last one `last_t`, chunks likewise. One iteration is fine for
 * small work. */
static double balance(int64_t batch, int64_t tiles, int64_t per, int64_t last_t, int64_t chunks, int64_t bpc,
		      int64_t last_c, bool m_major, double macs)
{
	int64_t t = batch * tiles * chunks;
	if (t == 1)
		return macs < 4.0 * GRAIN_MACS ? 1.0 : 0.5;
	if (t > 4096)
		return 1.0; /* so many that they share out evenly whatever their sizes */
	double half[2] = {0, 0}, total = 0;
	int64_t first = ceil_div(t, 2); /* iterations of thread 0 (nnzrt gives the remainder to the first) */
	for (int64_t i = 0; i < t; i++) {
		int64_t rest = i % (tiles * chunks);
		int64_t tile = m_major ? rest % tiles : rest / chunks, chunk = m_major ? rest / tiles : rest % chunks;
		double w = (double)(tile == tiles - 1 ? last_t : per) * (double)(chunk == chunks - 1 ? last_c : bpc);
		half[i >= first] += w;
		total += w;
	}
	double worst = half[0] > half[1] ? half[0] : half[1];
	return worst > 0 ? total / (2.0 * worst) : 1.0;
}

/* Output rows per im2col tile and chunks of rows, chosen together: the tile must be a divisor of
 * the row count (every tile alike, so the partial micro-tile is known at compile time) whose
 * panel rows for one channel fit the budget; the score multiplies the lanes the tiles use, the
 * cost of re-packing the panel per chunk (copying an element costs about two rows of
 * multiply-adds on it), how evenly the iterations split over two threads, and a penalty for
 * tiles so small that loop overhead shows. */
static int plan_im2col_rows(GemmPlan *p, const GemmSpec *s, int64_t batch, double macs)
{
	const Window *w = &s->im2col.win;
	int64_t rows_total = w->out[0] * w->out[1], ow = w->out[2], ks = ksize(w);
	int64_t best = 0, best_chunks = 1;
	double best_score = -1e9;
	for (int64_t r = 1; r <= rows_total && r <= MAX_TILE_ROWS; r++) {
		if (rows_total % r)
			continue;
		int64_t tw = r * ow, tiles = rows_total / r;
		if (im2col_ld(p, w, r) * ks * 4 > PANEL_BYTES)
			break;
		/* tiles of ~256 columns measured best (fewer panel rows per k-block below, more
		 * k-blocks above) */
		double base = lane_use(p, tw) * (1.0 - 0.01 * fabs(log2((double)tw / 256.0)));
		if (tw < 64)
			base *= 1.0 - 0.002 * (double)(64 - tw);
		/* every k-block after the first reloads and restores the partial sums: ~4 k
		 * iterations' worth */
		int64_t cpb = PANEL_BYTES / (im2col_ld(p, w, r) * ks * 4), nkb = ceil_div(s->im2col.cin, cpb);
		base /= 1.0 + 4.0 * (double)(nkb - 1) / (double)s->k;
		for (int64_t c = 1; c <= p->nblocks && c <= 16; c++) {
			int64_t bpc = ceil_div(p->nblocks, c);
			if (ceil_div(p->nblocks, bpc) != c)
				continue;
			double rows = (double)s->m / (double)c;
			int64_t last_c = p->nblocks - (c - 1) * bpc;
			double score = base * rows / (rows + 2.0) *
				       balance(batch, tiles, 1, 1, c, bpc, last_c, s->m >= s->n, macs);
			if (score > best_score + 1e-9) {
				best_score = score;
				best = r;
				best_chunks = c;
			}
		}
	}
	if (best == 0)
		return -1;
	p->rows = best;
	p->tw = best * ow;
	p->ntiles = rows_total / best;
	p->tail = p->tw % p->nr;
	p->panel_ld = im2col_ld(p, w, best);
	p->nchunks = best_chunks;
	int64_t cpb = PANEL_BYTES / (p->panel_ld * ks * 4);
	if (cpb < 1)
		cpb = 1;
	p->nkb = ceil_div(s->im2col.cin, cpb);
	cpb = ceil_div(s->im2col.cin, p->nkb);
	p->kc = cpb * ks;
	return 0;
}

/* Tiles of whole micro-tile columns and chunks of m-blocks for the products that read B in
 * place or from compile-time panels (or gather small panels, or pack an im2col panel of A per
 * tile): the pair with the best score, where the score is how evenly the iterations split over
 * two threads, a small cost per iteration, the operand bytes read from beyond L2, and the cost
 * of packing per tile. At most max_chunks chunks and max_tw columns per tile. */
static void plan_columns(GemmPlan *p, const GemmSpec *s, int64_t ns, double macs, int64_t max_chunks, int64_t max_tw)
{
	int64_t min_tiles = ceil_div(ns * p->nr, max_tw);
	if (min_tiles < 1)
		min_tiles = 1;
	double best_score = -1e9;
	int64_t best_t = 1, best_c = 1;
	double a_total = (double)s->m * (double)s->k * 4.0, b_total = (double)s->k * (double)s->n * 4.0;
	for (int64_t c = 1; c <= p->nblocks && c <= MAX_ITERATIONS && c <= max_chunks; c++) {
		int64_t bpc = ceil_div(p->nblocks, c);
		if (ceil_div(p->nblocks, bpc) != c)
			continue;
		double a_bytes = (double)bpc * p->mr_hi * (double)(s->k > 0 ? s->k : 1) * 4.0;
		for (int64_t t = min_tiles; t <= ns; t++) {
			int64_t per = ceil_div(ns, t);
			if (ceil_div(ns, per) != t)
				continue;
			int64_t it = p->batch * t * c;
			if (it > MAX_ITERATIONS && !(t == min_tiles && c == 1))
				break;
			double score = balance(p->batch, t, per, ns - (t - 1) * per, c, bpc, p->nblocks - (c - 1) * bpc,
					       s->m >= s->n, macs) *
				       (1.0 - 0.0005 * (double)it);
			/* every tile reads all of A, every chunk all of B: from L2 if the operand fits
			 * there, from farther away otherwise; at ~32 multiply-adds and ~16 bytes per
			 * cycle, far bytes cost like two multiply-adds each (half hidden by prefetch) */
			double far = (a_total <= L2_BYTES ? a_total : a_total * (double)t) +
				     (b_total <= L2_BYTES ? b_total : b_total * (double)c);
			score /= 1.0 + far * (double)p->batch / macs;
			if (a_bytes > L2_BYTES / 2 && per > 1 && per * p->nr > bpc * p->mr_hi)
				score *= 0.9; /* A's chunk re-read per column from beyond L2 (see m_outer) */
			if (it < 8 && macs > 64.0 * GRAIN_MACS)
				score *= 0.97; /* enough iterations for more threads, where the work allows */
			if (s->a_im2col) /* each tile packs the panel again: ~4 rows' work per element */
				score *= (double)(per * p->nr) / (double)(per * p->nr + 4);
			if (score > best_score + 1e-9) {
				best_score = score;
				best_t = t;
				best_c = c;
			}
		}
	}
	p->nchunks = best_c;
	p->bpc = ceil_div(p->nblocks, best_c);
	int64_t per = ceil_div(ns, best_t);
	p->tw = per * p->nr;
	p->ntiles = ceil_div(ns, per);
}

static int plan(GemmPlan *p, const GemmSpec *s, int vlen, int wide_nv)
{
	memset(p, 0, sizeof *p);
	p->vlen = vlen;
	p->batch = 1;
	for (int i = 0; i < s->nbd; i++)
		p->batch *= s->bdim[i];
	plan_rows(p, s, wide_nv);
	int64_t ns = ceil_div(s->n, p->nr);
	p->kc = s->k;
	p->nkb = 1;
	double macs = (double)p->batch * (double)s->m * (double)s->n * (double)(s->k > 0 ? s->k : 1);
	if (s->a_im2col) {
		/* transposed convolution: A is an im2col panel of the whole image (its pixels are
		 * the rows), packed per iteration; the iterations split the output channels */
		const Window *w = &s->im2col.win;
		int64_t ks = ksize(w), rows = w->out[0] * w->out[1];
		p->rows = rows;
		p->panel_ld = round_up((rows - 1) * w->out[2] + round_up(w->out[2], vlen), vlen);
		if (p->panel_ld * ks * 4 > PANEL_BYTES)
			return -1;
		int64_t cpb = PANEL_BYTES / (p->panel_ld * ks * 4);
		p->nkb = ceil_div(s->im2col.cin, cpb);
		p->kc = ceil_div(s->im2col.cin, p->nkb) * ks;
		p->m_major = false;
		p->tail = s->n % p->nr;
		plan_columns(p, s, ns, macs, 1, p->nkb > 1 ? ACC_BYTES / (4 * s->m) : INT64_MAX / 4);
		p->acc_ld = p->nkb > 1 ? p->tw : 0;
		p->m_outer = p->tw < p->bpc * p->mr_hi;
		p->iterations = p->batch * p->ntiles * p->nchunks;
		return 0;
	}
	/* rows too wide for a panel even one at a time: column tiles, packed element by element */
	bool by_rows = s->b_kind == GB_IM2COL && plan_im2col_rows(p, s, p->batch, macs) == 0;
	if (!by_rows) {
		p->tw = ns * p->nr;
		p->ntiles = 1;
		p->tail = s->n % p->nr;
	}
	p->m_major = s->m >= s->n;
	if (by_rows) {
		p->bpc = ceil_div(p->nblocks, p->nchunks);
	} else {
		bool panel = s->b_kind != GB_DIRECT && s->b_kind != GB_PACKED;
		plan_columns(p, s, ns, macs, MAX_ITERATIONS, panel ? MAX_PANEL_COLS : INT64_MAX / 4);
		if (s->b_kind != GB_DIRECT && s->b_kind != GB_PACKED) {
			p->panel_ld = p->tw;
			int64_t kc = PANEL_BYTES / (p->panel_ld * 4);
			if (kc < 1)
				kc = 1;
			p->nkb = s->k > 0 ? ceil_div(s->k, kc) : 1;
			p->kc = s->k > 0 ? ceil_div(s->k, p->nkb) : 0;
		}
	}
	p->m_outer = p->tw < p->bpc * p->mr_hi;
	p->iterations = p->batch * p->ntiles * p->nchunks;
	return 0;
}

/* ---------------------------------------------------------------- compile-time packing */

/* A repacked in place per batch block: each m-block becomes [k][mr]. The CgData id, -1 when out
 * of memory. */
static int pack_a(Cg *cg, const GemmSpec *s, const GemmPlan *p)
{
	const float *src = s->a->data;
	int64_t numel = shape_numel(&s->a->shape), mk = s->m * s->k;
	float *dst = calloc((size_t)(numel > 0 ? numel : 1), sizeof *dst);
	if (dst == NULL)
		return -1;
	for (int64_t q = 0; mk > 0 && q < numel / mk; q++)
		for (int64_t b = 0, m0 = 0; b < p->nblocks; b++) {
			int mr = b < p->nhi ? p->mr_hi : p->mr_lo;
			float *out = dst + q * mk + m0 * s->k;
			for (int64_t kk = 0; kk < s->k; kk++)
				for (int r = 0; r < mr; r++)
					out[kk * mr + r] = src[q * mk + (m0 + r) * s->a_rs + kk * s->a_ks];
			m0 += mr;
		}
	return cg_data_take(cg, dst, (size_t)(numel > 0 ? numel : 1) * sizeof *dst);
}

/* B repacked into column panels [n/NR][k][NR], zero past column n. The CgData id, -1 when out of
 * memory. */
static int pack_b(Cg *cg, const GemmSpec *s, const GemmPlan *p)
{
	const float *src = s->b->data;
	int64_t ns = ceil_div(s->n, p->nr), total;
	if (!mul_ok_i64(ns * p->nr, s->k > 0 ? s->k : 1, &total))
		return -1;
	float *dst = calloc((size_t)(total > 0 ? total : 1), sizeof *dst);
	if (dst == NULL)
		return -1;
	for (int64_t j0 = 0; j0 < ns; j0++)
		for (int64_t kk = 0; kk < s->k; kk++)
			for (int64_t j = 0; j < p->nr && j0 * p->nr + j < s->n; j++)
				dst[(j0 * s->k + kk) * p->nr + j] = src[kk * s->b_ks + (j0 * p->nr + j) * s->b_ns];
	return cg_data_take(cg, dst, (size_t)(total > 0 ? total : 1) * sizeof *dst);
}

/* ---------------------------------------------------------------- the task */

static LLVMValueRef add_i64(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mul_c(Cg *cg, LLVMValueRef a, int64_t c) { return LLVMBuildMul(cg->b, a, cg_i64(cg, c), ""); }
static LLVMValueRef smin(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, b, ""), a, b, "");
}
static LLVMValueRef smax(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, a, b, ""), a, b, "");
}

/* The two loops of an iteration, over the chunk's m-blocks (mr_hi ones, then mr_lo ones) and
 * over the tile's micro-tile columns (full ones, then the partial one if the tile has it), in
 * either order: columns outside when A's chunk is the smaller operand (it stays in cache while
 * each column's B panel is read once per block from L1), blocks outside otherwise. The four
 * micro-tile kinds (two heights x full/partial) are each emitted once. */
typedef struct Walk2 {
	GemmCtx *x;
	LLVMValueRef nfull; /* full columns in this tile */
} Walk2;

static Micro micro_kind(GemmCtx *x, int mr, bool tail)
{
	const GemmPlan *p = x->p;
	int vlen = p->vlen;
	if (!tail)
		return (Micro){.mr = mr, .nv = p->nv, .last_bits = vk_all(vlen), .mask_b = false};
	int64_t lanes = p->tail % vlen;
	return (Micro){.mr = mr, .nv = (int)ceil_div(p->tail, vlen), .last_bits = lanes ? vk_all((int)lanes) : vk_all(vlen),
		       .mask_b = x->s->b_kind == GB_DIRECT};
}

/* one m-block height over the chunk's blocks of that height; body(m0) inside */
static void block_loop(Walk2 *w, bool high, void (*body)(Walk2 *, int mr, LLVMValueRef m0, void *), void *arg)
{
	GemmCtx *x = w->x;
	Cg *cg = x->cg;
	const GemmPlan *p = x->p;
	Loop l;
	if (high) {
		LLVMValueRef b = cg_for(cg, &l, x->mb_lo, smin(cg, x->mb_hi, cg_i64(cg, p->nhi)), 1, "mb");
		body(w, p->mr_hi, mul_c(cg, b, p->mr_hi), arg);
	} else {
		LLVMValueRef b = cg_for(cg, &l, smax(cg, x->mb_lo, cg_i64(cg, p->nhi)), x->mb_hi, 1, "mb");
		LLVMValueRef m0 = add_i64(cg, cg_i64(cg, p->nhi * p->mr_hi),
					  mul_c(cg, LLVMBuildSub(cg->b, b, cg_i64(cg, p->nhi), ""), p->mr_lo));
		body(w, p->mr_lo, m0, arg);
	}
	cg_for_end(cg, &l);
}

/* the tile's columns for one block (blocks outside) */
static void columns_of_block(Walk2 *w, int mr, LLVMValueRef m0, void *arg)
{
	(void)arg;
	GemmCtx *x = w->x;
	Cg *cg = x->cg;
	const GemmPlan *p = x->p;
	Loop l;
	LLVMValueRef js = cg_for(cg, &l, cg_i64(cg, 0), w->nfull, 1, "js");
	Micro mt = micro_kind(x, mr, false);
	gemm_micro(x, &mt, m0, add_i64(cg, x->n_lo, mul_c(cg, js, p->nr)));
	cg_for_end(cg, &l);
	if (p->tail == 0)
		return;
	LLVMValueRef done = mul_c(cg, w->nfull, p->nr);
	IfBlock ib;
	cg_if(cg, &ib, LLVMBuildICmp(cg->b, LLVMIntSLT, done, x->width, ""), false);
	mt = micro_kind(x, mr, true);
	gemm_micro(x, &mt, m0, add_i64(cg, x->n_lo, done));
	cg_if_end(cg, &ib);
}

/* one column's micro-tile for a block (columns outside); arg: the Micro kind's tail flag and n0 */
typedef struct ColArg {
	bool tail;
	LLVMValueRef n0;
} ColArg;

static void block_of_column(Walk2 *w, int mr, LLVMValueRef m0, void *arg)
{
	const ColArg *ca = arg;
	Micro mt = micro_kind(w->x, mr, ca->tail);
	gemm_micro(w->x, &mt, m0, ca->n0);
}

static void blocks_of_column(Walk2 *w, bool tail, LLVMValueRef n0)
{
	ColArg ca = {tail, n0};
	block_loop(w, true, block_of_column, &ca);
	if (w->x->p->mr_lo)
		block_loop(w, false, block_of_column, &ca);
}

static void tile_products(GemmCtx *x)
{
	Cg *cg = x->cg;
	const GemmPlan *p = x->p;
	Walk2 w = {x, LLVMBuildSDiv(cg->b, x->width, cg_i64(cg, p->nr), "")};
	if (p->m_outer) {
		block_loop(&w, true, columns_of_block, NULL);
		if (p->mr_lo)
			block_loop(&w, false, columns_of_block, NULL);
		return;
	}
	Loop l;
	LLVMValueRef js = cg_for(cg, &l, cg_i64(cg, 0), w.nfull, 1, "js");
	blocks_of_column(&w, false, add_i64(cg, x->n_lo, mul_c(cg, js, p->nr)));
	cg_for_end(cg, &l);
	if (p->tail == 0)
		return;
	LLVMValueRef done = mul_c(cg, w.nfull, p->nr);
	IfBlock ib;
	cg_if(cg, &ib, LLVMBuildICmp(cg->b, LLVMIntSLT, done, x->width, ""), false);
	blocks_of_column(&w, true, add_i64(cg, x->n_lo, done));
	cg_if_end(cg, &ib);
}

/* ---------------------------------------------------------------- panel packing */

/* Positions (vectors of vlen output columns) of one output row, classified at compile time. */
typedef struct RowWalk {
	int vlen;
	int64_t npos;         /* vectors per row */
	int64_t in_lo, in_hi; /* positions where every tap reads inside the row */
} RowWalk;

static void row_walk(RowWalk *rw, int vlen, const Window *w)
{
	rw->vlen = vlen;
	rw->npos = ceil_div(w->out[2], vlen);
	if (!vk_row_interior(vlen, w, &rw->in_lo, &rw->in_hi))
		rw->in_lo = rw->in_hi = rw->npos;
}

/* Copy one output row's worth of taps: for every kw, the input row `src` (already offset to
 * the channel and input row) to dst + kw*dst_ks + pos*vlen, or zeros when !valid. Interior
 * positions run as a loop when there are many. */
static void copy_row(Cg *cg, const RowWalk *rw, const Window *w, LLVMValueRef src, LLVMValueRef dst, LLVMValueRef dst_at,
		     int64_t dst_ks, bool zero)
{
	int vlen = rw->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	int64_t kwn = w->kernel[2], sw = w->stride[2];
	bool looped = rw->in_hi - rw->in_lo > 4;
	for (int64_t pos = 0; pos < rw->npos; pos++) {
		if (looped && pos == rw->in_lo) {
			Loop l;
			LLVMValueRef ip = cg_for(cg, &l, cg_i64(cg, rw->in_lo), cg_i64(cg, rw->in_hi), 1, "pos");
			LLVMValueRef col = mul_c(cg, ip, vlen);
			LLVMValueRef s = zero ? NULL : cg_gep(cg, cg->t_f32, src, mul_c(cg, col, sw));
			for (int64_t kw = 0; kw < kwn; kw++) {
				int64_t off = kw * w->dilation[2] - w->pad_lo[2];
				LLVMValueRef v = zero ? LLVMConstNull(vt) : vk_load_strided(cg, s, off, sw, vlen, vk_all(vlen));
				cg_store(cg, v, dst, add_i64(cg, dst_at, add_i64(cg, col, cg_i64(cg, kw * dst_ks))));
			}
			cg_for_end(cg, &l);
			pos = rw->in_hi - 1;
			continue;
		}
		for (int64_t kw = 0; kw < kwn; kw++) {
			int64_t off = kw * w->dilation[2] - w->pad_lo[2];
			uint64_t bits = vk_row_bits(vlen, pos, off, sw, w->in[2], w->out[2]);
			LLVMValueRef v = zero ? LLVMConstNull(vt)
					      : vk_load_strided(cg, src, pos * vlen * sw + off, sw, vlen, bits);
			cg_store(cg, v, dst, add_i64(cg, dst_at, cg_i64(cg, pos * vlen + kw * dst_ks)));
		}
	}
}

/* The im2col panel of the current tile and k-block: rows (channel, kd, kh, kw) of the block's
 * channels, columns the tile's output pixels. */
static void pack_im2col(GemmCtx *x)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const GemmPlan *p = x->p;
	const Window *w = &s->im2col.win;
	int64_t ks = ksize(w), kd_n = w->kernel[0], kh_n = w->kernel[1], kw_n = w->kernel[2];
	int64_t isz = w->in[0] * w->in[1] * w->in[2];
	RowWalk rw;
	row_walk(&rw, p->vlen, w);
	/* the tile's output rows: (od, oh) and their input row origins */
	LLVMValueRef row0 = mul_c(cg, x->ptile, p->rows);
	LLVMValueRef id0[MAX_TILE_ROWS], ih0[MAX_TILE_ROWS];
	for (int64_t r = 0; r < p->rows; r++) {
		LLVMValueRef row = add_i64(cg, row0, cg_i64(cg, r));
		LLVMValueRef od = LLVMBuildSDiv(cg->b, row, cg_i64(cg, w->out[1]), "");
		LLVMValueRef oh = LLVMBuildSRem(cg->b, row, cg_i64(cg, w->out[1]), "");
		id0[r] = LLVMBuildSub(cg->b, mul_c(cg, od, w->stride[0]), cg_i64(cg, w->pad_lo[0]), "");
		ih0[r] = LLVMBuildSub(cg->b, mul_c(cg, oh, w->stride[1]), cg_i64(cg, w->pad_lo[1]), "");
	}
	LLVMValueRef c0 = LLVMBuildSDiv(cg->b, x->k0, cg_i64(cg, ks), "");
	LLVMValueRef nch = LLVMBuildSDiv(cg->b, x->klen, cg_i64(cg, ks), "");
	LLVMValueRef xb = cg_gep(cg, cg->t_f32, x->img, add_i64(cg, x->img_off, mul_c(cg, c0, isz)));
	Loop lc, ld, lh;
	LLVMValueRef c = cg_for(cg, &lc, cg_i64(cg, 0), nch, 1, "c");
	LLVMValueRef xc = LLVMBuildGEP2(cg->b, cg->t_f32, xb, (LLVMValueRef[]){mul_c(cg, c, isz)}, 1, "");
	LLVMValueRef kd = cg_for(cg, &ld, cg_i64(cg, 0), cg_i64(cg, kd_n), 1, "kd");
	LLVMValueRef kh = cg_for(cg, &lh, cg_i64(cg, 0), cg_i64(cg, kh_n), 1, "kh");
	LLVMValueRef krow = mul_c(cg, add_i64(cg, mul_c(cg, add_i64(cg, mul_c(cg, c, kd_n), kd), kh_n), kh), kw_n);
	LLVMValueRef prow = mul_c(cg, krow, p->panel_ld);
	for (int64_t r = 0; r < p->rows; r++) {
		LLVMValueRef id = add_i64(cg, id0[r], mul_c(cg, kd, w->dilation[0]));
		LLVMValueRef ih = add_i64(cg, ih0[r], mul_c(cg, kh, w->dilation[1]));
		LLVMValueRef ok = LLVMBuildAnd(cg->b, LLVMBuildICmp(cg->b, LLVMIntULT, id, cg_i64(cg, w->in[0]), ""),
					       LLVMBuildICmp(cg->b, LLVMIntULT, ih, cg_i64(cg, w->in[1]), ""), "");
		LLVMValueRef dst_at = add_i64(cg, prow, cg_i64(cg, r * w->out[2]));
		IfBlock ib;
		cg_if(cg, &ib, ok, true);
		LLVMValueRef rowoff = mul_c(cg, add_i64(cg, mul_c(cg, id, w->in[1]), ih), w->in[2]);
		LLVMValueRef src = LLVMBuildGEP2(cg->b, cg->t_f32, xc, &rowoff, 1, "");
		copy_row(cg, &rw, w, src, x->panel, dst_at, p->panel_ld, false);
		cg_else(cg, &ib);
		copy_row(cg, &rw, w, NULL, x->panel, dst_at, p->panel_ld, true);
		cg_if_end(cg, &ib);
	}
	cg_for_end(cg, &lh);
	cg_for_end(cg, &ld);
	cg_for_end(cg, &lc);
}

/* Columns of the im2col panel that the tail micro-tile reads but no row copy writes: zero
 * them once per task so that no stale stack bytes (NaNs, denormals) enter the arithmetic. The
 * panel holds `panel_rows` rows of `panel_ld` floats; a row copy writes `rows` output rows of
 * the window's width, each rounded up to vectors of vlen; the micro-tiles read `tw` columns. */
void gemm_zero_panel_tail(Cg *cg, LLVMValueRef panel, const Window *w, int vlen, int64_t rows, int64_t tw,
			  int64_t panel_rows, int64_t panel_ld)
{
	int64_t written = (rows - 1) * w->out[2] + round_up(w->out[2], vlen);
	int64_t read = round_up(tw, vlen);
	if (read <= written)
		return;
	Loop l;
	LLVMValueRef kk = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, panel_rows), 1, "kz");
	LLVMValueRef at = mul_c(cg, kk, panel_ld);
	for (int64_t j = written; j < read; j++)
		cg_store(cg, cg_f32(cg, 0.0f), panel, add_i64(cg, at, cg_i64(cg, j)));
	cg_for_end(cg, &l);
}

/* B(k0 + kk, n_lo + j) for any strides into the panel; zeros past the product's last column. */
static void pack_gather(GemmCtx *x)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const GemmPlan *p = x->p;
	Loop lk, lj;
	LLVMValueRef kk = cg_for(cg, &lk, cg_i64(cg, 0), x->klen, 1, "kk");
	LLVMValueRef src = add_i64(cg, mul_c(cg, add_i64(cg, x->k0, kk), s->b_ks), mul_c(cg, x->n_lo, s->b_ns));
	src = add_i64(cg, x->b_off, src);
	LLVMValueRef dst = mul_c(cg, kk, p->panel_ld);
	LLVMValueRef j = cg_for(cg, &lj, cg_i64(cg, 0), x->width, 1, "j");
	cg_store(cg, cg_load(cg, cg->t_f32, x->b, add_i64(cg, src, mul_c(cg, j, s->b_ns))), x->panel, add_i64(cg, dst, j));
	cg_for_end(cg, &lj);
	LLVMValueRef padded = cg_i64(cg, round_up(p->tw, p->vlen));
	j = cg_for(cg, &lj, x->width, padded, 1, "j");
	cg_store(cg, cg_f32(cg, 0.0f), x->panel, add_i64(cg, dst, j));
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lk);
}

/* The im2col panel of a column tile [n_lo, n_lo + width) for rows [k0, k0 + klen), element by
 * element: the fallback for output rows too long for whole-row tiles. Columns past width up to
 * the padded tile width are zeros. */
static void pack_im2col_columns(GemmCtx *x)
{
	Cg *cg = x->cg;
	LLVMBuilderRef b = cg->b;
	const GemmPlan *p = x->p;
	const Window *w = &x->s->im2col.win;
	int64_t isz = w->in[0] * w->in[1] * w->in[2];
	Loop lk, lj;
	LLVMValueRef kk = cg_for(cg, &lk, cg_i64(cg, 0), x->klen, 1, "kk");
	/* row k = ((c*KD + kd)*KH + kh)*KW + kw */
	LLVMValueRef k = add_i64(cg, x->k0, kk);
	LLVMValueRef kw = LLVMBuildSRem(b, k, cg_i64(cg, w->kernel[2]), "");
	LLVMValueRef t = LLVMBuildSDiv(b, k, cg_i64(cg, w->kernel[2]), "");
	LLVMValueRef kh = LLVMBuildSRem(b, t, cg_i64(cg, w->kernel[1]), "");
	t = LLVMBuildSDiv(b, t, cg_i64(cg, w->kernel[1]), "");
	LLVMValueRef kd = LLVMBuildSRem(b, t, cg_i64(cg, w->kernel[0]), "");
	LLVMValueRef c = LLVMBuildSDiv(b, t, cg_i64(cg, w->kernel[0]), "");
	LLVMValueRef dst = mul_c(cg, kk, p->panel_ld);
	LLVMValueRef xc = add_i64(cg, x->b_off, mul_c(cg, c, isz));
	LLVMValueRef j = cg_for(cg, &lj, cg_i64(cg, 0), cg_i64(cg, round_up(p->tw, p->vlen)), 1, "j");
	LLVMValueRef pix = add_i64(cg, x->n_lo, j);
	LLVMValueRef ow = LLVMBuildSRem(b, pix, cg_i64(cg, w->out[2]), "");
	t = LLVMBuildSDiv(b, pix, cg_i64(cg, w->out[2]), "");
	LLVMValueRef oh = LLVMBuildSRem(b, t, cg_i64(cg, w->out[1]), "");
	LLVMValueRef od = LLVMBuildSDiv(b, t, cg_i64(cg, w->out[1]), "");
	LLVMValueRef in[3], ok = LLVMBuildICmp(b, LLVMIntSLT, j, x->width, "");
	LLVMValueRef o3[3] = {od, oh, ow}, k3[3] = {kd, kh, kw};
	for (int d = 0; d < 3; d++) {
		in[d] = LLVMBuildSub(b, add_i64(cg, mul_c(cg, o3[d], w->stride[d]), mul_c(cg, k3[d], w->dilation[d])),
				     cg_i64(cg, w->pad_lo[d]), "");
		ok = LLVMBuildAnd(b, ok, LLVMBuildICmp(b, LLVMIntULT, in[d], cg_i64(cg, w->in[d]), ""), "");
	}
	LLVMValueRef at = mul_c(cg, add_i64(cg, mul_c(cg, in[0], w->in[1]), in[1]), w->in[2]);
	at = add_i64(cg, xc, add_i64(cg, at, in[2]));
	IfBlock ib;
	cg_if(cg, &ib, ok, true);
	cg_store(cg, cg_load(cg, cg->t_f32, x->b, at), x->panel, add_i64(cg, dst, j));
	cg_else(cg, &ib);
	cg_store(cg, cg_f32(cg, 0.0f), x->panel, add_i64(cg, dst, j));
	cg_if_end(cg, &ib);
	cg_for_end(cg, &lj);
	cg_for_end(cg, &lk);
}

void gemm_pack_im2col(GemmCtx *x) { pack_im2col(x); }
void gemm_pack_gather(GemmCtx *x) { pack_gather(x); }

/* One k-block of the current iteration: pack if needed, then every micro-tile. */
static void k_block(GemmCtx *x)
{
	if (x->s->a_im2col || (x->s->b_kind == GB_IM2COL && x->p->rows > 0))
		pack_im2col(x);
	else if (x->s->b_kind == GB_IM2COL)
		pack_im2col_columns(x);
	else if (x->s->b_kind == GB_GATHER)
		pack_gather(x);
	tile_products(x);
}

void gemm_decode_iteration(GemmCtx *x, LLVMValueRef it, int64_t ntiles, int64_t nchunks, bool chunk_major,
			   LLVMValueRef *tile, LLVMValueRef *chunk)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	int64_t per = ntiles * nchunks;
	LLVMValueRef bi = LLVMBuildSDiv(cg->b, it, cg_i64(cg, per), "");
	LLVMValueRef rest = LLVMBuildSRem(cg->b, it, cg_i64(cg, per), "");
	if (chunk_major) {
		*chunk = LLVMBuildSDiv(cg->b, rest, cg_i64(cg, ntiles), "");
		*tile = LLVMBuildSRem(cg->b, rest, cg_i64(cg, ntiles), "");
	} else {
		*tile = LLVMBuildSDiv(cg->b, rest, cg_i64(cg, nchunks), "");
		*chunk = LLVMBuildSRem(cg->b, rest, cg_i64(cg, nchunks), "");
	}
	/* the batch index's digits, each moving every operand by its stride */
	LLVMValueRef zero = cg_i64(cg, 0);
	x->a_off = x->b_off = x->c_off = zero;
	for (int i = 0; i < s->n_add; i++)
		x->add_off[i] = zero;
	LLVMValueRef rem = bi;
	for (int d = s->nbd - 1; d >= 0; d--) {
		LLVMValueRef digit = LLVMBuildSRem(cg->b, rem, cg_i64(cg, s->bdim[d]), "");
		rem = LLVMBuildSDiv(cg->b, rem, cg_i64(cg, s->bdim[d]), "");
		if (s->a_bs[d])
			x->a_off = add_i64(cg, x->a_off, mul_c(cg, digit, s->a_bs[d]));
		if (s->b_bs[d])
			x->b_off = add_i64(cg, x->b_off, mul_c(cg, digit, s->b_bs[d]));
		if (s->c_bs[d])
			x->c_off = add_i64(cg, x->c_off, mul_c(cg, digit, s->c_bs[d]));
		for (int i = 0; i < s->n_add; i++)
			if (s->add[i].bs[d])
				x->add_off[i] = add_i64(cg, x->add_off[i], mul_c(cg, digit, s->add[i].bs[d]));
	}
}

static void emit_body(GemmCtx *x)
{
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const GemmPlan *p = x->p;
	Loop it_l;
	LLVMValueRef it = cg_for(cg, &it_l, cg->begin, cg->end, 1, "it");
	LLVMValueRef tile, chunk, zero = cg_i64(cg, 0);
	gemm_decode_iteration(x, it, p->ntiles, p->nchunks, p->m_major, &tile, &chunk);
	x->tile = tile;
	x->img = s->a_im2col ? x->a : x->b;
	x->img_off = s->a_im2col ? x->a_off : x->b_off;
	x->ptile = s->a_im2col ? zero : tile;
	x->n_lo = mul_c(cg, tile, p->tw);
	x->width = smin(cg, cg_i64(cg, p->tw), LLVMBuildSub(cg->b, cg_i64(cg, s->n), x->n_lo, ""));
	x->mb_lo = mul_c(cg, chunk, p->bpc);
	x->mb_hi = smin(cg, add_i64(cg, x->mb_lo, cg_i64(cg, p->bpc)), cg_i64(cg, p->nblocks));
	if (p->nkb == 1) {
		x->k0 = zero;
		x->klen = cg_i64(cg, s->k);
		x->first = x->last = NULL;
		k_block(x);
	} else {
		Loop kl;
		LLVMValueRef kb = cg_for(cg, &kl, zero, cg_i64(cg, p->nkb), 1, "kb");
		x->k0 = mul_c(cg, kb, p->kc);
		x->klen = smin(cg, cg_i64(cg, p->kc), LLVMBuildSub(cg->b, cg_i64(cg, s->k), x->k0, ""));
		x->first = LLVMBuildICmp(cg->b, LLVMIntEQ, kb, zero, "");
		x->last = LLVMBuildICmp(cg->b, LLVMIntEQ, kb, cg_i64(cg, p->nkb - 1), "");
		k_block(x);
		cg_for_end(cg, &kl);
	}
	cg_for_end(cg, &it_l);
}

static bool a_packable(const GemmSpec *s)
{
	if (s->a->data == NULL || s->m * s->k == 0)
		return false;
	for (int i = 0; i < s->nbd; i++)
		if (s->a_bs[i] % (s->m * s->k) != 0)
			return false;
	return shape_numel(&s->a->shape) % (s->m * s->k) == 0;
}

/* The kernel's name: in function names (--emit asm), nnzc info and --report. */
static const char *kernel_name(const GemmSpec *s)
{
	if (s->a_im2col)
		return "conv_t_im2col"; /* transposed: channels in the lanes, pixels from an im2col panel */
	if (s->c_trans)
		return "conv_t";
	switch (s->b_kind) {
	case GB_DIRECT: return "gemm";
	case GB_PACKED: return "gemm_packed";
	case GB_GATHER: return "gemm_gather";
	case GB_IM2COL: return "conv_im2col";
	}
	return "gemm";
}

int gemm_emit(Cg *cg, const GemmSpec *s, NodeCode *code)
{
	GemmPlan p;
	code->n_tasks = 0;
	for (int i = 0; i < s->nbd; i++)
		if (s->bdim[i] == 0)
			return 0;
	if (s->m == 0 || s->n == 0)
		return 0;
	int wide_nv = cg->opt->dense_vectors ? cg->opt->dense_vectors : cpu_cost_model(cg)->dense_vectors;
	if (plan(&p, s, cg->vlen, wide_nv) < 0)
		return node_error(cg->d, s->node, "the cpu target cannot tile this product (im2col panel too large)");
	GemmCtx x = {.cg = cg, .s = s, .p = &p};
	int a_data = -1, b_data = -1;
	if (!s->a_im2col && a_packable(s)) {
		if ((a_data = pack_a(cg, s, &p)) < 0)
			return node_error(cg->d, s->node, "out of memory packing the weights");
		x.a_packed = true;
	}
	if (s->b_kind == GB_PACKED && (b_data = pack_b(cg, s, &p)) < 0)
		return node_error(cg->d, s->node, "out of memory packing the weights");
	LLVMValueRef fn = cg_task_begin(cg, kernel_name(s));
	/* packed weights reach the task through its argument block like every operand, so that
	 * nodes of one signature share their code */
	x.a = a_data >= 0 ? cg_data_ptr(cg, a_data) : cg_ptr(cg, s->a);
	x.b = b_data >= 0 ? cg_data_ptr(cg, b_data) : cg_ptr(cg, s->b);
	x.c = cg_ptr(cg, s->c);
	for (int i = 0; i < s->n_add; i++)
		x.add[i] = cg_ptr(cg, s->add[i].v);
	if (s->a_im2col || s->b_kind == GB_IM2COL || s->b_kind == GB_GATHER) {
		x.panel = vk_scratch(cg, p.panel_ld * p.kc + p.vlen, "panel");
		if (s->b_kind == GB_IM2COL && p.rows > 0)
			gemm_zero_panel_tail(cg, x.panel, &s->im2col.win, p.vlen, p.rows, p.tw, p.kc, p.panel_ld);
	}
	if (p.acc_ld)
		x.accbuf = vk_scratch(cg, s->m * p.acc_ld, "partial");
	/* The loops are register-blocked and their copies unrolled here already: LLVM's unroller
	 * would only multiply the code (a fifth of the compile time of ResNet-50) for no measurable
	 * speed. */
	cg->no_unroll = true;
	emit_body(&x);
	cg->no_unroll = false;
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = p.iterations;
	code->n_tasks = 1;
	code->adds_in_place = p.nkb == 1 && s->b_kind == GB_DIRECT && !s->a_im2col && !s->c_trans;
	return 0;
}
