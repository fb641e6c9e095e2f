/* Sparse constant weights times dense activations (CK_SPARSE_ROWS, CK_SPARSE_BLOCKS,
 * CK_SPARSE_PATTERNS): the product C = epilogue(A x B) of gemm.h's GemmSpec with A known at
 * compile time and only its non-zeros multiplied.
 *
 * Layout: nothing changes. A convolution stays NCHW: rows of the product are output channels,
 * columns output pixels, and the vectors run along the pixels, so no activation is converted
 * before or after a sparse layer (the same B panels as the dense kernel: the input read in
 * place for a 1x1 stride-1 convolution, a zero-padded copy of the input rows for other stride-1
 * convolutions up to density SP_PADDED_MAX_DENSITY (plan_padded: every tap is then one offset
 * into it, so no k x n panel is built), gemm.c's im2col panel otherwise, a gathered panel for
 * strided B).
 *
 * Alignment: every B vector load is aligned where that is cheap, as a load crossing two cache
 * lines costs about twice as much (measured: 32 vs 52-64 GMAC/s in a 1x1 product). Direct B
 * whose rows are not whole vectors (14x14, 7x7 maps) is copied per tile and k-block into an
 * aligned panel; the padded band of a map whose padded width is whole vectors (14x14 + 2), or
 * nearly so (28x28 + 2 -> 32, a stride-2 phase plane of 56x56 29 -> 32), is packed, when the
 * weight is dense enough to pay for it (SP_ALIGN_MIN_USES), as kw copies (of each phase plane,
 * strided: kwe of them), copy j shifted left by j columns, so that every tap reads its copy
 * aligned. Panels are an odd number of cache lines per row or channel, so that they spread over
 * L1's sets.
 *
 * The kernel. One parallel iteration is (batch product, column tile, chunk of row groups). A
 * row group is r consecutive rows sharing one column set (r = 1: any sparsity; r > 1: bsr
 * blocks, dense rows), so that each B vector loaded serves r rows. For each group and each
 * micro-tile of nv vectors of the tile's columns, the accumulators live in registers while the
 * group's non-zeros stream: per non-zero one element offset into B or the panel, r values
 * broadcast, nv vector loads (folded into the multiply-adds) and r x nv multiply-adds. With
 * r = 1 the non-zeros alternate between `sets` independent accumulator sets (summed at the
 * end) so that enough multiply-add chains are in flight to hide their latency.
 *
 * Patterns (CK_SPARSE_PATTERNS): a group is r = 4 (or 2) consecutive rows of any sparsity. Its
 * entries in a k-block are sorted by pattern — the set of its rows with a non-zero in that
 * column — and each of the 15 patterns is a loop of its own whose body knows which accumulators
 * it adds to: per entry one offset, popcount(pattern) values broadcast, nv vector loads and
 * popcount x nv multiply-adds. A B vector thus serves every row of the group that needs it, as
 * in a dense register block, and no zero is multiplied: at density 0.5 (2:4) an entry feeds
 * about two rows, the loads per multiply-add halve against r = 1, and the kernel runs at
 * 85-95 GMAC/s of useful work on one Zen 5 thread where r = 1 runs at 55 and the dense kernel
 * at 58 (1x1 256 -> 1024 on 14x14, 3x3 128 channels on 28x28; by hand).
 *
 * Everything about the weights is compile-time data in one int32 table (a CgData item, so nodes
 * of one shape share their code; spmm_table.c builds it from the plan in spmm.h): the chunks,
 * the groups in chunk order (chunks balanced by non-zero count: a group's outputs are
 * independent, so any group may go to any chunk; runs of consecutive groups where that balances
 * nearly as well, see contiguous_chunks), per k-block and group the range of its entries, and
 * the entries (offset, r values), chunk by chunk and within a chunk k-block by k-block: both in
 * the order the kernel reads them. A k-block is the part of the reduction whose panel rows fit
 * the stack budget; partial sums wait in C between k-blocks, as in gemm.c.
 *
 * Cost structure (for cost.c): per non-zero and micro-tile, 1 + r scalar loads and nv vector
 * loads, r*nv multiply-adds (patterns: per entry 1 + popcount scalar loads and nv vector loads,
 * per non-zero nv multiply-adds; per group, k-block and micro-tile 15 loops); per group and
 * micro-tile, the accumulators' initialisation, epilogue and store (plus a reload per extra
 * k-block); per tile and chunk, the panel packing (k x tile columns copied, with zeros for the
 * padding), as the dense kernel does. */
#include "gemm.h"
#include "sparse.h"
#include "spmm.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of a B panel on the task's stack (a k-block of it). */
#define SP_PANEL_BYTES (160 * 1024)
/* Bytes of B one tile reads straight from memory: kept in L2 while all of the chunk's rows
 * reuse it. */
#define SP_DIRECT_BYTES (192 * 1024)
/* Bytes of B rows a micro-tile column of a k-block may read (L1 is 48 KB on Zen 5: room for
 * the entries and the outputs). */
#define SP_L1_BYTES (32 * 1024)
/* Non-zeros per group and k-block below which k-blocks grow past SP_L1_BYTES: a k-block's
 * partial sums (a store and a reload per micro-tile) cost more than B's reads from L2 (1x1
 * 14x14 at density 0.1: 24 -> 64 took 37 -> 44 GMAC/s). */
#define SP_MIN_NNZ_PER_BLOCK 64.0
/* The same for the entries of a pattern group when the product is one tile (7x7 maps): its 15
 * pattern loops per group and k-block then run a few entries each (6 at 2048 -> 512, density
 * 0.29), and their exits cost more than B's reads from L2. 1 thread, by hand: 2048 -> 512 at
 * density 0.29 0.338 -> 0.286 ms, 512 -> 2048 0.338 -> 0.275, unchanged at density 0.45;
 * ResNet-50 1:4 about -3.5%, 90% -1%. Products of several tiles (14x14 and up) got slower
 * (1024 -> 256 on 14x14: 0.211 -> 0.240 ms) and keep SP_MIN_NNZ_PER_BLOCK. */
#define SP_PAT_MIN_ENTRIES_ONE_TILE 256.0
#define SP_MAX_NV 4
#define SP_MICRO_NV (SP_MAX_NV + 1) /* with a folded tail vector (SpPlan.fold) */
#define SP_MAX_SETS 4
#define SP_MAX_R 8
#define SP_PAT_MAX_R 4 /* 15 patterns, each its own loop */
#define SP_MAX_TILE_ROWS 32
#define SP_MAX_GATHER_COLS 512
/* Above this density the im2col panels run faster (aligned loads, no segment stores; measured
 * 0.85-0.95x for the padded path at 2:4 on ResNet-50's 3x3 layers, >= 1x up to 0.3), and the
 * dense kernel beats both anyway. */
#define SP_PADDED_MAX_DENSITY 0.4
/* Patterns on small maps take the padded path further, up to this density: at density 0.5 (2:4
 * and random), 3x3 256 channels on 14x14 0.90 -> 0.67 ms, 512 on 7x7 0.89 -> 0.81 ms (1 thread,
 * by hand), 128 on 28x28 -10% with aligned loads (SP_ALIGN_MIN_USES; 0.64 -> 0.70 ms without),
 * but 64 on 56x56 +6 to +9% even aligned (2 threads, in ResNet-50 2:4). Not for a kernel
 * smaller than its stride, whose band packs phase planes it never reads: ResNet-50 2:4's 1x1
 * stride-2 512 -> 1024 on 28x28, 0.68 -> 0.54 ms with im2col panels (2 threads, in the network). */
#define SP_PAT_PADDED_MAX_DENSITY 0.6
#define SP_PAT_PADDED_MAX_PIXELS 256
#define SP_PAT_PADDED_ALIGNED_MAX_PIXELS 1024 /* where the band's loads are aligned */
/* Output pixels up to which patterns on a strided band take im2col panels instead: ResNet-50's
 * 3x3 stride-2 512 channels 14x14 -> 7x7, in the network, 1 thread, by hand: 2:4 0.975 -> 0.886
 * ms, 1:4 0.692 -> 0.639 (2 threads, bench/ab_builds.py: 0.492 -> 0.463, 0.349 -> 0.341). The
 * sparse rows at density 0.01 (90%, 95%) keep the band (0.088 -> 0.119 with panels), and so do
 * larger maps (28x28 -> 14x14 at 2:4: 0.78 -> 0.97 with panels). */
#define SP_PAT_STRIDED_MAX_PIXELS 64
/* Non-zeros per input channel (each one reads every element of the channel's band once) from
 * which a padded width of 28x28 or 56x56 maps is rounded up to whole vectors, the band packed
 * as kw shifted copies so that every tap's loads are aligned. 2 threads, in ResNet-50, by hand:
 * 3x3 on 28x28 at 2:4 (576 per channel) -10 to -12%, 1:4 -9%; at 90% 26% on 56x56 (150) -5%,
 * 11% on 28x28 (127) -2%; at 95% 12% on 56x56 (72) -5%, but 3% on 28x28 (34) +21%: there the
 * copies' packing outweighs the aligned loads. With it the padded path beats im2col panels for
 * patterns on 28x28 at 2:4 (SP_PAT_PADDED_ALIGNED_MAX_PIXELS), not on 56x56 (+6 to +9%).
 * Strided bands too, whose phase planes are a full copy of the input anyway (3x3 stride 2:
 * 56x56 -> planes 29 wide -> 32, 28x28 -> 15 -> 16, two copies): ResNet-50, 2 threads, in the
 * network, bench/ab_builds.py, 6 ABBA pairs, on the Intel Xeon guest (docs/sweep-intel; not
 * measured on Zen 5): 2:4's 128 channels 56x56 -> 28x28 (576 per channel; the alignment lets
 * it take the band instead of im2col panels) 0.683 -> 0.561 ms, 256 channels 28x28 -> 14x14
 * (1152) 0.577 -> 0.544, 90%'s 128 channels (127) 0.325 -> 0.280. Below the threshold it did
 * not pay in the network: 90%'s 256 channels (55 per channel) 0.139 -> 0.162 ms (4 pairs, the
 * threshold lowered by a temporary change). A 14x14 band (16 wide, whole vectors) is copied
 * only from here on too: there, at 95% (23 per channel), one copy instead of three took
 * ResNet-50's five 256-channel 3x3 layers from 0.051-0.052 to 0.043-0.044 ms each (Intel guest,
 * 6 pairs); at 90% (55) no layer moved by 3%. The figures are docs/sweep-intel's. */
#define SP_ALIGN_MIN_USES 64.0
/* Table words ahead of the entry in use that the loops prefetch: the table of a layer is read
 * from memory or L3 in a network (the tables of all layers exceed L3), and the hardware
 * prefetchers fall behind its many short loops (patterns at 2:4, 512 -> 512 1x1 on 14x14, 40
 * layers: 0.40 -> 0.35 ms, 0.27 with the table in L2; by hand) */
#define SP_PREFETCH_WORDS 512
#define SP_MAX_FLAT_MT 8 /* micro-tiles per padded band (each is its own code) */
/* Score lost per extra panel block of a padded band (its k-blocks' partial sums): bands short
 * enough for the whole reduction to fit one panel win (1x1 stride 2, 56x56 -> 28x28, density
 * 0.1: 0.33 -> 0.23 ms; 3x3 on 14x14: 0.29 -> 0.26 ms) */
#define SP_PANEL_BLOCK_COST 0.15
/* Direct B in an even number (<= 4) of tiles whose widths differ by at most this fraction of the
 * product's micro-tiles: two threads take half the tiles each (all row groups) instead of half
 * the row groups of every tile. A thread then reads half of B, which the layer before wrote
 * with half of it in the other core's cache, where splitting the row groups makes each thread
 * read all of it. Only where no reader of the output works channel by channel
 * (readers_take_pixels): a product read by a depthwise convolution (MobileNetV2's expansions)
 * keeps writing ranges of channels (made pixel halves, its 28x28 expansions ran 6-8% slower, the
 * whole network about 5%). The rule used to be "products that reduce (k >= m)", a stand-in for
 * that; the readers decide as it did on ResNet-50 and MobileNetV2 (seven sparsities, the same
 * objects) but for ResNet's 1x1 layers that end a block, read by the next block's 1x1 layers.
 * Not for 196 columns either (128 + 68: one thread would do twice the other's work). MobileNetV2
 * 80%, 2 threads, by hand: its 28x28 projections (144/192 -> 32 channels, 3 tiles made 4) 0.015 ->
 * 0.012 and 0.020 -> 0.015 ms. ResNet-50's such products are its 28x28 expansions (128 -> 512, two
 * tiles); bench/ab_builds.py, 2 threads, in the network: those -7 to -25%, the next block's first
 * layer -5 to -9%, the whole network 0.97 at 90% and 95%, 0.99 at 2:4 (docs/sweep-intel). */
#define SP_TILE_SPREAD 0.1
#define SP_MAX_PAD_STRIDE 4 /* strided padded: at most 16 phase planes, each its own packing code */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
/* floats rounded up to an odd number of vectors (cache lines at 16 lanes): panel rows or planes
 * that far apart spread over L1's sets instead of piling into a few */
static int64_t odd_lines(int64_t floats, int vlen)
{
	int64_t n = round_up(floats, vlen);
	return n / vlen % 2 == 0 ? n + vlen : n;
}

/* Where a micro-tile's vector v goes in C: lanes `bits[i]` at C columns col[i] + lane. One
 * segment normally; a padded micro-tile's vector crosses output rows, one segment per row. */
#define SP_MAX_SEG 6
typedef struct SpSeg {
	int n;
	LLVMValueRef col[SP_MAX_SEG];
	uint64_t bits[SP_MAX_SEG];
} SpSeg;

/* ---------------------------------------------------------------- weights */

static bool same_columns(const SpRows *a, int64_t r0, int64_t r1)
{
	int64_t n0 = a->row_ptr[r0 + 1] - a->row_ptr[r0], n1 = a->row_ptr[r1 + 1] - a->row_ptr[r1];
	return n0 == n1 && memcmp(a->col + a->row_ptr[r0], a->col + a->row_ptr[r1], (size_t)n0 * sizeof *a->col) == 0;
}

int spmm_block_rows(const SpRows *a, int64_t m)
{
	if (m <= 0 || a->rows % m != 0)
		return 1;
	for (int r = SP_MAX_R; r >= 2; r /= 2) {
		if (m % r != 0)
			continue;
		bool ok = true;
		for (int64_t g = 0; g < a->rows && ok; g += r)
			for (int i = 1; i < r && ok; i++)
				ok = same_columns(a, g, g + i);
		if (ok)
			return r;
	}
	return 1;
}

/* ---------------------------------------------------------------- planning */

/* Useful lanes over the lanes computed, counting per micro-tile of a tile its two scalar loads
 * per non-zero (offset, value) as two more vectors. */
static double lane_use(const SpPlan *p, int64_t tw)
{
	int64_t micro = ceil_div(tw, p->nr);
	return (double)tw / (double)(tw / p->nr * p->nr + round_up(tw % p->nr, p->vlen) + 2 * micro * p->vlen);
}

/* Output rows per im2col tile: a divisor of the row count (every tile alike), lanes well used,
 * tiles wide enough to amortise the per-group work, at most ~512 columns. 0 when even one row's
 * panel of one channel is too big. */
static int plan_im2col(SpPlan *p, const GemmSpec *s)
{
	const Window *w = &s->im2col.win;
	int64_t rows_total = w->out[0] * w->out[1], ow = w->out[2];
	int64_t ks = w->kernel[0] * w->kernel[1] * w->kernel[2];
	double best_score = -1.0;
	for (int64_t r = 1; r <= rows_total && r <= SP_MAX_TILE_ROWS; r++) {
		if (rows_total % r)
			continue;
		int64_t tw = r * ow;
		if (r > 1 && tw > 512)
			break;
		int64_t need = (r - 1) * ow + round_up(ow, p->vlen);
		int64_t ld = round_up(need > round_up(tw, p->nr) ? need : round_up(tw, p->nr), p->vlen);
		if (ld * ks * 4 > SP_PANEL_BYTES)
			break;
		double score = lane_use(p, tw) * (double)tw / (double)(tw + 48);
		if (score > best_score + 1e-9) {
			best_score = score;
			p->rows = r;
			p->tw = tw;
			p->panel_ld = ld;
		}
	}
	if (best_score < 0)
		return -1;
	p->ntiles = rows_total / p->rows;
	p->tail = p->tw % p->nr;
	return 0;
}

/* The band's micro-tiles: its vectors of padded columns shared out evenly (at most nv each).
 * Returns their count; micro-tile i (when j0/nv are not NULL) starts at column *j0 with *nv
 * vectors. */
static int64_t flat_tiles(const SpPlan *p, int64_t i, int64_t *j0, int *nv)
{
	int64_t nvec = ceil_div((p->rows - 1) * p->wp + p->ow, p->vlen), nmt = ceil_div(nvec, p->nv);
	if (j0 != NULL) {
		int64_t base = nvec / nmt, extra = nvec % nmt;
		*nv = (int)(base + (i < extra));
		*j0 = (i * base + (i < extra ? i : extra)) * p->vlen;
	}
	return nmt;
}

/* Padded: a micro-tile runs over the padded columns y*wp + x of the band's rows (at compile-time
 * positions, so that which lanes are outputs, and of which output row, is known): lane x of
 * padded row y goes to C column y*ow + x, the lanes x >= ow (the right pad) are dropped. The
 * store segments of micro-tile (j0, nv), C columns relative to the tile in cols[v*SP_MAX_SEG+q];
 * -1 when a vector would cross more than SP_MAX_SEG output rows. */
static int flat_segments(const SpPlan *p, int64_t j0, int nv, SpSeg *seg, int64_t *cols)
{
	int vlen = p->vlen;
	int64_t ncols = (p->rows - 1) * p->wp + p->ow;
	for (int v = 0; v < nv; v++) {
		seg[v].n = 0;
		for (int64_t l = 0; l < vlen; l++) {
			int64_t pc = j0 + (int64_t)v * vlen + l;
			if (pc >= ncols || pc % p->wp >= p->ow)
				continue;
			int64_t y = pc / p->wp, c0 = j0 + (int64_t)v * vlen - y * (p->wp - p->ow);
			int q = seg[v].n;
			if (q == 0 || cols[v * SP_MAX_SEG + q - 1] != c0) {
				if (q == SP_MAX_SEG)
					return -1;
				cols[v * SP_MAX_SEG + q] = c0;
				seg[v].bits[q] = 0;
				seg[v].n = ++q;
			}
			seg[v].bits[q - 1] |= UINT64_C(1) << l;
		}
	}
	return 0;
}

/* Convolutions without im2col: output pixel (y, x) of tap (kh, kw) reads the zero-padded input
 * at [c][y + kh][x + kw], so over a padded copy of the tile's input rows (rows + kh - 1 of them
 * per channel, packed per iteration: about 1 + (kh - 1)/rows copies of the input instead of
 * kh*kw) every non-zero is one offset c*cs + kh*wp + kw and the band's columns are contiguous,
 * as in the 1x1 case. Strided (sh, sw), the padded input is split into phase planes,
 * P(ph, pw)[i][j] = padded[i*sh + ph][j*sw + pw]: tap (kh, kw) reads plane (kh % sh, kw % sw)
 * at [y + kh/sh][x + kw/sw], stride 1 again, and the planes together hold the input once
 * (im2col would copy it kh*kw / (sh*sw) times, 2.25 for 3x3 stride 2). The kernel computes
 * the band on the plane's width (the wp - ow columns of the right are computed and dropped at
 * the store, flat_segments), so a 7x7 map still fills whole vectors. Tiles are bands of output
 * rows (a divisor of the rows); bands and micro-tiles are chosen by useful lanes and by the
 * panel blocks the band's height costs (plan_padded). */
static bool spmm_conv_padded(const Cg *cg, const Window *w)
{
	if (cg->opt->sparse_panels_only || w->in[0] != 1 || w->kernel[0] != 1 || w->pad_lo[0] != 0 || w->pad_hi[0] != 0 ||
	    w->stride[0] != 1)
		return false;
	for (int j = 0; j < NNZC_MAX_SPATIAL; j++)
		if (w->dilation[j] != 1 || w->stride[j] < 1 || w->stride[j] > SP_MAX_PAD_STRIDE)
			return false;
	return w->out[1] > 0 && w->out[2] > 0;
}

static bool padded_ok(const Cg *cg, const GemmSpec *s)
{
	return s->b_kind == GB_IM2COL && spmm_conv_padded(cg, &s->im2col.win);
}

/* Floats per channel and phase of a padded band of r output rows: its rows + khe - 1 plane rows,
 * rounded up to an odd number of cache lines: every plane starts aligned (all loads of a 1x1
 * strided product are then aligned) and planes spread over L1's sets. */
static int64_t band_stride(const SpPlan *p, int64_t r)
{
	return odd_lines((r + p->khe - 1) * p->wp, p->vlen);
}

/* density: the weight's non-zeros over its m x k elements. -1 when the padded path should not
 * run the product. */
static int plan_padded(SpPlan *p, const GemmSpec *s, double density)
{
	const Window *w = &s->im2col.win;
	int64_t oh = w->out[1], ow = w->out[2];
	int vlen = p->vlen;
	p->padded = true;
	p->ow = ow;
	p->kh = w->kernel[1];
	p->kw = w->kernel[2];
	p->ksz = p->kh * p->kw;
	p->sh = w->stride[1];
	p->sw = w->stride[2];
	p->khe = (p->kh - 1) / p->sh + 1;
	p->kwe = (p->kw - 1) / p->sw + 1;
	p->phw = p->sw < p->kw ? p->sw : p->kw;
	p->nph = (p->sh < p->kh ? p->sh : p->kh) * p->phw;
	/* up to SP_PADDED_MAX_DENSITY; patterns on maps up to SP_PAT_PADDED_ALIGNED_MAX_PIXELS up to
	 * SP_PAT_PADDED_MAX_DENSITY (past SP_PAT_PADDED_MAX_PIXELS only aligned, below), unless the
	 * kernel is smaller than its stride (1x1 stride 2): it reads one of the phase planes the band
	 * packs */
	bool all_phases = p->kh >= p->sh && p->kw >= p->sw;
	double max_density = p->pat && all_phases && s->n <= SP_PAT_PADDED_ALIGNED_MAX_PIXELS ? SP_PAT_PADDED_MAX_DENSITY
											      : SP_PADDED_MAX_DENSITY;
	if (density > max_density)
		return -1;
	/* patterns on a strided band of a small map: im2col panels (SP_PAT_STRIDED_MAX_PIXELS) */
	if (p->pat && p->nph > 1 && s->n <= SP_PAT_STRIDED_MAX_PIXELS)
		return -1;
	p->wp = ow + p->kwe - 1; /* the padded width; strided, a phase plane's */
	p->ncopy = 1;
	/* rows of whole vectors when rounding the padded width up computes at most 4% more columns
	 * (14x14 + 2 = 16), or 12.5% (28x28 + 2 -> 32, 56x56 + 2 -> 64; strided, planes of 15 -> 16
	 * and 29 -> 32) where each padded input element feeds enough multiply-adds to pay for its
	 * kwe copies (not a 7x7 map: 9 -> 16); strided only for a kernel wider than its stride,
	 * whose taps read a plane at more than one column offset. The copies, which make every
	 * tap's loads aligned, only there too (SP_ALIGN_MIN_USES): below, a 14x14 band is one copy
	 * whose first tap column reads aligned */
	int64_t wa = round_up(p->wp, vlen);
	double uses_per_input = density * (double)s->m * (double)p->ksz; /* non-zeros per channel */
	bool copies_pay = uses_per_input >= SP_ALIGN_MIN_USES;
	if (wa * 25 <= p->wp * 26 || (copies_pay && (p->sw == 1 || p->kwe > 1) && wa * 8 <= p->wp * 9)) {
		p->wp = wa;
		p->ncopy = copies_pay ? p->kwe : 1;
	}
	/* above SP_PADDED_MAX_DENSITY (patterns) on maps past SP_PAT_PADDED_MAX_PIXELS: only with
	 * every tap's loads aligned */
	bool aligned = p->wp % vlen == 0 && p->ncopy == p->kwe;
	if (density > SP_PADDED_MAX_DENSITY && s->n > SP_PAT_PADDED_MAX_PIXELS && !aligned)
		return -1;
	double best_score = -1.0;
	int64_t best_r = 0;
	for (int64_t r = 1; r <= oh && r <= SP_MAX_TILE_ROWS; r++) {
		if (oh % r)
			continue;
		int64_t ncols = (r - 1) * p->wp + ow, cs = band_stride(p, r), nmt = ceil_div(ncols, p->nr);
		if (r > 1 && nmt > SP_MAX_FLAT_MT)
			break;
		if ((cs * p->nph * p->ncopy + 2 * vlen) * 4 > SP_PANEL_BYTES)
			break;
		p->rows = r;
		bool ok = true;
		for (int64_t i = 0; i < nmt && ok; i++) {
			SpSeg seg[SP_MAX_NV];
			int64_t cols[SP_MAX_NV * SP_MAX_SEG], j0;
			int nv;
			flat_tiles(p, i, &j0, &nv);
			ok = flat_segments(p, j0, nv, seg, cols) == 0;
		}
		if (!ok)
			continue;
		/* output lanes over lanes computed, counting the two scalar loads per non-zero and
		 * micro-tile as two vectors; wide tiles amortise the per-group work; the halo rows
		 * are copied once per tile: a mild preference for taller bands */
		int64_t tw = r * ow;
		double use = (double)tw / (double)(round_up(ncols, vlen) + 2 * nmt * vlen);
		double score = use * (double)tw / (double)(tw + 48) * (double)r / ((double)r + 0.25 * (double)(p->khe - 1));
		int64_t per_panel = (SP_PANEL_BYTES / 4 - 2 * vlen) / (cs * p->nph * p->ncopy);
		int64_t nblocks = ceil_div(s->k / p->ksz, per_panel > 0 ? per_panel : 1);
		score /= 1.0 + SP_PANEL_BLOCK_COST * (double)(nblocks - 1);
		if (score > best_score + 1e-9) {
			best_score = score;
			best_r = r;
		}
	}
	if (best_score < 0)
		return -1;
	p->rows = best_r;
	p->tw = best_r * ow;
	p->cs = band_stride(p, best_r);
	p->panel_ld = p->cs;
	p->ntiles = oh / p->rows;
	p->tail = 0;
	return 0;
}

/* k-blocks: the B rows one micro-tile column of all groups reads over a k-block should stay in
 * L1 (SP_L1_BYTES), unless the weight is so sparse that a k-block would hold only a few
 * non-zeros per group, whose partial sums would then cost more than the loads saved. A panel
 * block (packed at once, on the stack) holds whole k-blocks, for im2col whole channels. */
static void plan_kblocks(SpPlan *p, const GemmSpec *s, double density)
{
	int64_t k = s->k > 0 ? s->k : 1;
	/* per k row: the column's B row. The entries are left out: they stream once per
	 * micro-tile, 8 bytes per nv multiply-adds, which L2 sustains, while counting them made the
	 * k-blocks (and the partial sums stored between them) several times more (measured at
	 * 28x28, density 0.3, padded: 0.76x -> 0.98x; 1x1 14x14, 2:4: 42 -> 55 GMAC/s) */
	double row_bytes = (double)p->nr * 4.0;
	if (p->padded) {
		/* a tap reads (a third of, for 3x3) the kh padded rows of its channel that the
		 * micro-tile spans */
		int64_t span = p->khe * (p->nr + p->kwe - 1 + p->vlen);
		row_bytes = (double)(span < p->cs ? span : p->cs) * 4.0 / (double)p->ksz;
	}
	int64_t kc = (int64_t)(SP_L1_BYTES / row_bytes);
	if (kc < 1)
		kc = 1;
	double min_per_block = SP_MIN_NNZ_PER_BLOCK;
	if (p->pat) { /* per column of a group: an entry */
		density = 1.0 - pow(1.0 - density, p->r);
		if (p->batch * p->ntiles == 1)
			min_per_block = SP_PAT_MIN_ENTRIES_ONE_TILE;
	}
	if (density > 0 && (double)kc * density < min_per_block)
		kc = (int64_t)(min_per_block / density);
	if (kc > k)
		kc = k;
	int64_t unit = 1, max_rows = k;
	if (p->padded) {
		unit = p->ksz;
		max_rows = (SP_PANEL_BYTES / 4 - 2 * p->vlen) / (p->cs * p->nph * p->ncopy) * unit;
	} else if (s->b_kind == GB_IM2COL) {
		unit = s->im2col.win.kernel[0] * s->im2col.win.kernel[1] * s->im2col.win.kernel[2];
		max_rows = SP_PANEL_BYTES / (p->panel_ld * unit * 4) * unit;
	} else if (s->b_kind == GB_GATHER || p->packed) {
		max_rows = SP_PANEL_BYTES / (p->panel_ld * 4);
	}
	if (max_rows < unit)
		max_rows = unit;
	kc = round_up(kc, unit);
	if (kc > max_rows)
		kc = max_rows;
	p->nkb = ceil_div(k, kc);
	p->kc = round_up(ceil_div(k, p->nkb), unit); /* even blocks */
	p->nkb = ceil_div(k, p->kc);
	if (s->b_kind == GB_DIRECT) {
		/* read in place (no panel), or packed one k-block at a time: packed a whole panel
		 * budget ahead (512 rows of a 14x14 map), the first k-block's rows had left L1 for L2
		 * by the time its groups read them. ResNet-50 on the Intel Xeon guest, 2 threads,
		 * bench/ab_builds.py, 4 ABBA pairs: at 90% the 1024 -> 256 pattern layers on 14x14
		 * -7.5%, 1024 -> 512 -7%, 2048 -> 512 on 7x7 -3%, the 256 -> 1024 sparse rows -3 to
		 * -5%, the network 0.95 (0.92-1.03); at 2:4 the 1024 -> 256 layers -3 to -6%, the
		 * network within noise. Im2col and gathered panels one k-block at a time measured
		 * nothing (2:4 1.01, MobileNetV2 80% 1.00); a padded band serves all the taps of its
		 * channels at once. */
		p->pkb = 1;
	} else {
		p->pkb = max_rows / p->kc;
		if (p->pkb > p->nkb)
			p->pkb = p->nkb;
		if (p->pkb < 1)
			p->pkb = 1;
	}
	p->npb = ceil_div(p->nkb, p->pkb);
	p->prows = p->pkb * p->kc;
	if (p->padded)
		p->copy_stride = p->cs * p->nph * (p->prows / p->ksz);
}

/* Accumulator sets for r rows of nv vectors: with r = 1, enough independent chains (8) to hide
 * the multiply-add latency. */
static int sets_for(int r, int nv, int regs)
{
	int sets = 1;
	if (r == 1)
		while (sets < SP_MAX_SETS && sets * 2 * nv <= 8 && (sets * 2 + 1) * nv + 2 <= regs)
			sets *= 2;
	return sets;
}

/* Do nt tiles of ns micro-tiles keep within SP_TILE_SPREAD of one width? */
static bool tiles_balanced(int64_t ns, int64_t nt)
{
	return nt <= ns && (double)(ceil_div(ns, nt) * nt - ns) <= SP_TILE_SPREAD * (double)ns;
}

/* May the product writing v split its pixels between the threads (SP_TILE_SPREAD)? Yes unless a
 * reader of v works channel by channel: convolutions of one group read every channel of the
 * pixels they work on (a 1x1 one splits pixels itself, its tiles), and a residual added in their
 * epilogue is read where the output is written; a depthwise convolution works channel by
 * channel, and so does any other reader as far as this knows. A graph output alone has no
 * preference. */
static bool readers_take_pixels(const Graph *g, const Value *v)
{
	if (v == NULL) /* an omitted optional input is NULL too */
		return false;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		bool reads = false;
		for (int j = 0; j < n->n_in; j++)
			reads = reads || n->in[j] == v;
		if (n->dead || !reads)
			continue;
		int64_t group = n->op == OP_FusedConv ? n->attr.fused_conv.conv.group
				: n->op == OP_Conv	? n->attr.conv.group
							: 0;
		if (group != 1)
			return false;
	}
	return true;
}

static int plan(SpPlan *p, const GemmSpec *s, const SpRows *a, int r, bool pat, int vlen, bool padded,
		bool readers_by_pixels)
{
	memset(p, 0, sizeof *p);
	p->vlen = vlen;
	p->r = r;
	p->pat = pat;
	p->npat = pat ? (1 << r) - 1 : 1;
	p->batch = 1;
	for (int i = 0; i < s->nbd; i++)
		p->batch *= s->bdim[i];
	int regs = vlen >= 16 ? 32 : 16;
	const Window *win = &s->im2col.win;
	int64_t flat = (win->out[1] - 1) * (win->in[2] + win->pad_lo[2] + win->pad_hi[2]) + win->out[2];
	int64_t nvec = ceil_div(padded ? flat : s->n, vlen);
	double density = (double)a->nnz / ((double)a->rows * (double)(s->k > 0 ? s->k : 1));
	/* patterns on whole vectors and one column (a 7x7 map: 3 x 16 + 1): the column as a lane
	 * tail, not a fourth vector */
	if (pat && !padded && s->b_kind == GB_DIRECT && s->n % vlen == 1 && s->n > vlen && (s->n - 1) / vlen <= SP_MAX_NV)
		nvec = (s->n - 1) / vlen;
	p->nv = (int)(nvec < SP_MAX_NV ? nvec : SP_MAX_NV);
	/* accumulators r*nv (times sets), the nv loaded vectors, r broadcasts */
	while (p->nv > 1 && r * p->nv + p->nv + r > regs - 2)
		p->nv--;
	p->regs = regs;
	p->sets = pat ? 1 : sets_for(r, p->nv, regs);
	p->nr = (int64_t)p->nv * vlen;
	int64_t ns = ceil_div(s->n, p->nr);
	switch (s->b_kind) {
	case GB_IM2COL:
		if (padded) {
			if (plan_padded(p, s, density) < 0)
				return -1;
			break;
		}
		if (plan_im2col(p, s) < 0)
			return -1;
		break;
	case GB_DIRECT: {
		p->tail = s->n % p->nr;
		p->fold = p->tail > 0 && p->tail <= vlen && s->n > p->nr &&
			  p->sets * r * (p->nv + 1) + p->nv + 1 + r <= regs - 2;
		if (p->fold)
			ns = s->n / p->nr;
		p->lane_tail = p->fold && pat && p->tail == 1;
		int64_t per = SP_DIRECT_BYTES / ((s->k > 0 ? s->k : 1) * 4 * p->nr);
		if (per < 1)
			per = 1;
		p->ntiles = ceil_div(ns, per);
		/* few tiles whose readers take pixels: an even number of them where they stay
		 * balanced (split_tiles below) */
		bool splittable = readers_by_pixels && p->batch == 1;
		if (splittable && p->ntiles > 1 && p->ntiles < 4 && p->ntiles % 2 == 1 && tiles_balanced(ns, p->ntiles + 1))
			p->ntiles++;
		p->tw = ceil_div(ns, p->ntiles) * p->nr;
		p->ntiles = ceil_div(ns * p->nr, p->tw);
		p->split_tiles = splittable && p->ntiles <= 4 && p->ntiles % 2 == 0 && tiles_balanced(ns, p->ntiles);
		p->packed = s->b_ks % vlen != 0;
		for (int i = 0; i < s->nbd; i++)
			p->packed = p->packed || s->b_bs[i] % vlen != 0;
		if (p->packed) /* rows spread over L1's sets */
			p->panel_ld = odd_lines(p->tw + (p->fold ? vlen : 0), vlen);
		break;
	}
	case GB_GATHER: {
		int64_t per = SP_MAX_GATHER_COLS / p->nr;
		if (per < 1)
			per = 1;
		p->ntiles = ceil_div(ns, per);
		p->tw = ceil_div(ns, p->ntiles) * p->nr;
		p->ntiles = ceil_div(s->n, p->tw);
		p->tail = s->n % p->nr;
		p->panel_ld = p->tw;
		break;
	}
	default:
		return -1;
	}
	plan_kblocks(p, s, density);
	p->ngroups = s->m / r;
	p->nblk = a->rows / s->m;
	/* chunks: enough iterations for two threads (the chunks are balanced by work); more cost
	 * a repacked panel each */
	p->nchunks = 1;
	p->chunk_major = p->batch * p->ntiles <= 4 && p->ngroups >= 2 && !p->split_tiles;
	if (p->chunk_major) {
		/* few tiles, often of unequal widths (196 columns: 128 + 68): each thread's share
		 * of the iterations is whole chunks of every tile, balanced by non-zeros */
		p->nchunks = 2;
		while (p->batch * p->ntiles * p->nchunks < 4 && p->nchunks * 2 <= p->ngroups)
			p->nchunks *= 2;
	} else if ((p->batch * p->ntiles) % 2 == 1 && p->batch * p->ntiles < 16 && p->ngroups >= 2) {
		p->nchunks = 2;
	}
	p->iterations = p->batch * p->ntiles * p->nchunks;
	p->t_perm = p->nchunks + 1;
	/* a pattern group's npat + 1 = 16 bounds are one cache line */
	p->t_bounds = round_up(p->t_perm + p->ngroups, 16);
	p->t_ents = p->t_bounds + p->nblk * p->ngroups * p->nkb * (p->npat + 1);
	return 0;
}

/* ---------------------------------------------------------------- the task */

typedef struct SpCtx {
	GemmCtx x;              /* what the packers and the epilogue read */
	const SpPlan *p;
	LLVMValueRef tab;       /* the int32 table */
	LLVMValueRef blk;       /* A block of the product */
	LLVMValueRef kb;        /* k-block */
	LLVMValueRef ch0;       /* padded: the panel block's first channel */
	bool lane_tail;         /* the micro-tile's last vector is the plan's lane tail */
} SpCtx;

static LLVMValueRef add_i64(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mul_c(Cg *cg, LLVMValueRef a, int64_t c) { return LLVMBuildMul(cg->b, a, cg_i64(cg, c), ""); }
static LLVMValueRef smin(Cg *cg, LLVMValueRef a, LLVMValueRef b)
{
	return LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, a, b, ""), a, b, "");
}

/* table word at index (i64), sign-extended */
static LLVMValueRef word(SpCtx *z, LLVMValueRef index)
{
	Cg *cg = z->x.cg;
	return LLVMBuildSExt(cg->b, cg_load(cg, cg->t_i32, z->tab, index), cg->t_i64, "");
}

/* C's element (row, col..col+lanes) as a vector: the accumulators' partial sums (raw) */
static LLVMValueRef load_c(SpCtx *z, LLVMValueRef row, LLVMValueRef col, uint64_t bits)
{
	Cg *cg = z->x.cg;
	const GemmSpec *s = z->x.s;
	int vlen = z->p->vlen;
	if (!s->c_trans)
		return vk_load(cg, z->x.c, add_i64(cg, z->x.c_off, add_i64(cg, mul_c(cg, row, s->ldc), col)), vlen, bits);
	LLVMValueRef base = cg_gep(cg, cg->t_f32, z->x.c, add_i64(cg, z->x.c_off, add_i64(cg, mul_c(cg, col, s->ldc), row)));
	return vk_load_strided(cg, base, 0, s->ldc, vlen, bits);
}

static void store_c(SpCtx *z, LLVMValueRef v, LLVMValueRef row, LLVMValueRef col, uint64_t bits)
{
	Cg *cg = z->x.cg;
	const GemmSpec *s = z->x.s;
	int vlen = z->p->vlen;
	if (!s->c_trans) {
		vk_store(cg, v, z->x.c, add_i64(cg, z->x.c_off, add_i64(cg, mul_c(cg, row, s->ldc), col)), bits);
		return;
	}
	/* transposed C: the lanes are C's rows, ldc apart (such products have few columns) */
	LLVMValueRef base = cg_gep(cg, cg->t_f32, z->x.c, add_i64(cg, z->x.c_off, add_i64(cg, mul_c(cg, col, s->ldc), row)));
	for (int l = 0; l < vlen; l++)
		if ((bits >> l) & 1)
			cg_store(cg, LLVMBuildExtractElement(cg->b, v, cg_i32(cg, l), ""), base, cg_i64(cg, (int64_t)l * s->ldc));
}

/* The epilogue of a transposed C: addend t(j, i) at add_off + j*rs + i*cs, the lanes along j. */
static LLVMValueRef epilogue_trans(SpCtx *z, LLVMValueRef val, LLVMValueRef row, LLVMValueRef col, uint64_t bits)
{
	Cg *cg = z->x.cg;
	const GemmSpec *s = z->x.s;
	LLVMTypeRef vt = LLVMTypeOf(val);
	int lanes = z->p->vlen;
	if (s->alpha != 1.0f)
		val = LLVMBuildFMul(cg->b, val, cg_constf(cg, vt, s->alpha), "");
	for (int i = 0; i < s->n_add; i++) {
		const GemmAddend *ad = &s->add[i];
		LLVMValueRef off = add_i64(cg, z->x.add_off[i], mul_c(cg, row, ad->cs)), t;
		if (ad->rs == 0) {
			t = cg_splat(cg, cg_load(cg, cg->t_f32, z->x.add[i], off), lanes);
		} else {
			LLVMValueRef base = cg_gep(cg, cg->t_f32, z->x.add[i], add_i64(cg, off, mul_c(cg, col, ad->rs)));
			t = vk_load_strided(cg, base, 0, ad->rs, lanes, bits);
		}
		if (ad->scale == 1.0f)
			val = LLVMBuildFAdd(cg->b, val, t, "");
		else
			val = vk_fmuladd(cg, t, cg_constf(cg, vt, ad->scale), val);
	}
	return cg_round_dtype(cg, s->c->dtype, vk_act(cg, &s->act, val));
}

/* One entry at table word `at` (its B offset, then n values): the nv vectors of B it names times
 * value j into accumulators dst[j]. With a lane tail (tail: its accumulator, rows: the group
 * rows of the values) the last vector is one column: its B element times the values placed in
 * their rows' lanes, one multiply-add where a vector costs n (7x7 maps: 49 columns, 3 vectors
 * and this in place of 4 vectors). 2 threads, by hand: 2048 -> 512 1x1 on 7x7 at 2:4 0.178 ->
 * 0.159 ms (on 6x8, 48 columns: 0.118); in ResNet-50 2:4 its layer4 1x1 products 7-10% faster;
 * MobileNetV2 80%'s 7x7 projections within noise. */
static void entry(SpCtx *z, LLVMValueRef at, int n, int nv, uint64_t last_bits, bool mask_b, LLVMValueRef bbase,
		  LLVMValueRef (*dst)[SP_MICRO_NV], const int *rows, LLVMValueRef tail)
{
	Cg *cg = z->x.cg;
	int vlen = z->p->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	LLVMValueRef off = word(z, at);
	LLVMValueRef wv[SP_MAX_R], sv[SP_MAX_R];
	for (int j = 0; j < n; j++) {
		sv[j] = cg_load(cg, cg->t_f32, z->tab, add_i64(cg, at, cg_i64(cg, 1 + j)));
		wv[j] = cg_splat(cg, sv[j], vlen);
	}
	if (tail) {
		nv--;
		int r = z->p->r;
		LLVMTypeRef tt = cg_vec(cg, cg->t_f32, r);
		LLVMValueRef vals = LLVMConstNull(tt);
		for (int j = 0; j < n; j++)
			vals = LLVMBuildInsertElement(cg->b, vals, sv[j], cg_i32(cg, rows[j]), "");
		LLVMValueRef b = cg_load(cg, cg->t_f32, bbase, add_i64(cg, off, cg_i64(cg, (int64_t)nv * vlen)));
		LLVMBuildStore(cg->b, vk_fmuladd(cg, vals, cg_splat(cg, b, r), LLVMBuildLoad2(cg->b, tt, tail, "")), tail);
	}
	for (int v = 0; v < nv; v++) {
		uint64_t bits = mask_b && v == nv - 1 ? last_bits : vk_all(vlen);
		LLVMValueRef bv = vk_load(cg, bbase, add_i64(cg, off, cg_i64(cg, (int64_t)v * vlen)), vlen, bits);
		for (int j = 0; j < n; j++) {
			LLVMValueRef cur = LLVMBuildLoad2(cg->b, vt, dst[j][v], "");
			LLVMBuildStore(cg->b, vk_fmuladd(cg, wv[j], bv, cur), dst[j][v]);
		}
	}
}

/* Multiply-add chains a loop needs in flight to keep both FMA pipes busy (latency 4 x 2 pipes). */
#define SP_CHAINS 8

/* Patterns: the multiply-adds of one micro-tile over the k-block's entries, one loop per
 * pattern, each adding into its rows' accumulators only (bd: the k-block's first bound). A
 * pattern of few rows has few chains (popcount x nv accumulators, each entry's multiply-adds
 * waiting on the last entry's): where registers allow, its loop takes entries two at a time,
 * the second into a set of its own, summed into the first after the loop. At density 0.5 a
 * quarter of the entries have one row; at 0.3 half of them. */
static void pattern_loops(SpCtx *z, int nv, uint64_t last_bits, bool mask_b, LLVMValueRef bbase, LLVMValueRef bd,
			  LLVMValueRef (*acc)[SP_MICRO_NV], LLVMValueRef tacc)
{
	Cg *cg = z->x.cg;
	const SpPlan *p = z->p;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, p->vlen);
	LLVMValueRef ents = cg_i64(cg, p->t_ents);
	for (int pt = 1; pt <= p->npat; pt++) {
		int rows[SP_MAX_R], n = 0;
		for (int i = 0; i < p->r; i++)
			if ((pt >> i) & 1)
				rows[n++] = i;
		LLVMValueRef dst[SP_MAX_R][SP_MICRO_NV];
		for (int j = 0; j < n; j++)
			memcpy(dst[j], acc[rows[j]], sizeof dst[j]);
		LLVMValueRef w0 = word(z, add_i64(cg, bd, cg_i64(cg, pt - 1))), w1 = word(z, add_i64(cg, bd, cg_i64(cg, pt)));
		/* the r x nv accumulators, the second set, nv loaded vectors and n broadcasts */
		bool split = n * nv < SP_CHAINS && (p->r + n) * nv + nv + n <= p->regs - 2;
		/* a lane tail's chain per loop (each entry's multiply-add waits on the last one's),
		 * summed into the group's after it */
		LLVMTypeRef tt = cg_vec(cg, cg->t_f32, p->r);
		LLVMValueRef tl = tacc ? cg_var(cg, tt, LLVMConstNull(tt), "tail") : NULL;
		if (!split) {
			Loop l;
			LLVMValueRef at = add_i64(cg, cg_for(cg, &l, w0, w1, 1 + n, "pe"), ents);
			cg_prefetch(cg, z->tab, add_i64(cg, at, cg_i64(cg, SP_PREFETCH_WORDS)));
			entry(z, at, n, nv, last_bits, mask_b, bbase, dst, rows, tl);
			cg_for_end(cg, &l);
			if (tacc)
				LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, tt, tacc, ""),
								    LLVMBuildLoad2(cg->b, tt, tl, ""), ""), tacc);
			continue;
		}
		LLVMValueRef tl2 = tacc ? cg_var(cg, tt, LLVMConstNull(tt), "tail2") : NULL;
		LLVMValueRef alt[SP_MAX_R][SP_MICRO_NV];
		for (int j = 0; j < n; j++)
			for (int v = 0; v < nv; v++)
				alt[j][v] = cg_var(cg, vt, LLVMConstNull(vt), "acc2");
		/* words of the pairs: the entries are 1 + n words each */
		LLVMValueRef len = LLVMBuildSub(cg->b, w1, w0, "");
		LLVMValueRef pairs_end = LLVMBuildSub(cg->b, w1, LLVMBuildSRem(cg->b, len, cg_i64(cg, 2 * (1 + n)), ""), "");
		Loop l;
		LLVMValueRef at = add_i64(cg, cg_for(cg, &l, w0, pairs_end, 2 * (1 + n), "pe2"), ents);
		cg_prefetch(cg, z->tab, add_i64(cg, at, cg_i64(cg, SP_PREFETCH_WORDS)));
		entry(z, at, n, nv, last_bits, mask_b, bbase, dst, rows, tl);
		entry(z, add_i64(cg, at, cg_i64(cg, 1 + n)), n, nv, last_bits, mask_b, bbase, alt, rows, tl2);
		cg_for_end(cg, &l);
		Loop ol; /* the odd entry left */
		at = add_i64(cg, cg_for(cg, &ol, pairs_end, w1, 1 + n, "pe1"), ents);
		entry(z, at, n, nv, last_bits, mask_b, bbase, dst, rows, tl);
		cg_for_end(cg, &ol);
		if (tacc)
			LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, tt, tacc, ""),
							    LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, tt, tl, ""),
									  LLVMBuildLoad2(cg->b, tt, tl2, ""), ""), ""),
				       tacc);
		for (int j = 0; j < n; j++)
			for (int v = 0; v < nv; v++)
				LLVMBuildStore(cg->b, LLVMBuildFAdd(cg->b, LLVMBuildLoad2(cg->b, vt, dst[j][v], ""),
								    LLVMBuildLoad2(cg->b, vt, alt[j][v], ""), ""), dst[j][v]);
	}
}

/* Rows and blocks: the multiply-adds of one micro-tile over the k-block's entries, entry e into
 * accumulator set e % sets (bd: the k-block's bound). */
static void entry_loops(SpCtx *z, int nv, int sets, uint64_t last_bits, bool mask_b, LLVMValueRef bbase, LLVMValueRef bd,
			LLVMValueRef (*acc)[SP_MAX_R][SP_MICRO_NV])
{
	Cg *cg = z->x.cg;
	const SpPlan *p = z->p;
	int r = p->r;
	LLVMValueRef e0 = word(z, bd), e1 = word(z, add_i64(cg, bd, cg_i64(cg, 1)));
	LLVMValueRef cnt = LLVMBuildSub(cg->b, e1, e0, "");
	LLVMValueRef nmain = sets > 1 ? LLVMBuildSub(cg->b, cnt, LLVMBuildSRem(cg->b, cnt, cg_i64(cg, sets), ""), "") : cnt;
	for (int pass = 0; pass < (sets > 1 ? 2 : 1); pass++) {
		int step = pass == 0 ? sets : 1;
		Loop l;
		LLVMValueRef e = pass == 0 ? cg_for(cg, &l, cg_i64(cg, 0), nmain, step, "e")
					   : cg_for(cg, &l, nmain, cnt, 1, "et");
		for (int st = 0; st < step; st++) {
			LLVMValueRef at = mul_c(cg, add_i64(cg, add_i64(cg, e0, e), cg_i64(cg, st)), 1 + r);
			at = add_i64(cg, at, cg_i64(cg, p->t_ents));
			if (st == 0)
				cg_prefetch(cg, z->tab, add_i64(cg, at, cg_i64(cg, SP_PREFETCH_WORDS)));
			entry(z, at, r, nv, last_bits, mask_b, bbase, acc[st], NULL, NULL);
		}
		cg_for_end(cg, &l);
	}
}

/* One micro-tile: the group's r rows (from m0) x nv vectors from B column bj0 (of the tile,
 * or of the panel), over the group's entries of the current k-block (bounds from table word
 * bd), stored as `seg` says. mask_b: B is read from memory, its last vector masked with last_bits. */
static void micro(SpCtx *z, int nv, uint64_t last_bits, bool mask_b, LLVMValueRef m0, const SpSeg *seg, LLVMValueRef bj0,
		  LLVMValueRef bd)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const SpPlan *p = z->p;
	/* a padded band's narrower micro-tiles get more sets (their own chains) */
	int vlen = p->vlen, r = p->r, sets = p->padded ? sets_for(r, nv, p->regs) : p->sets;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	/* B: entry offset + v*vlen from bbase */
	LLVMValueRef bbase;
	if (s->b_kind == GB_DIRECT && !p->packed)
		bbase = cg_gep(cg, cg->t_f32, x->b, add_i64(cg, x->b_off, add_i64(cg, x->n_lo, bj0)));
	else if (p->padded) /* entries count channels from the product's first */
		bbase = LLVMBuildGEP2(cg->b, cg->t_f32, x->panel,
				      (LLVMValueRef[]){LLVMBuildSub(cg->b, bj0, mul_c(cg, z->ch0, p->cs * p->nph), "")}, 1, "");
	else /* panel rows are numbered from the k-block's first */
		bbase = LLVMBuildGEP2(cg->b, cg->t_f32, x->panel,
				      (LLVMValueRef[]){LLVMBuildSub(cg->b, bj0, mul_c(cg, x->k0, p->panel_ld), "")}, 1, "");
	LLVMValueRef acc[SP_MAX_SETS][SP_MAX_R][SP_MICRO_NV];
	for (int st = 0; st < sets; st++)
		for (int i = 0; i < r; i++)
			for (int v = 0; v < nv; v++)
				acc[st][i][v] = cg_var(cg, vt, LLVMConstNull(vt), "acc");
	LLVMTypeRef tt = cg_vec(cg, cg->t_f32, r);
	LLVMValueRef tacc = z->lane_tail ? cg_var(cg, tt, LLVMConstNull(tt), "tacc") : NULL;
	if (p->pat)
		pattern_loops(z, nv, last_bits, mask_b, bbase, bd, acc[0], tacc);
	else
		entry_loops(z, nv, sets, last_bits, mask_b, bbase, bd, acc);
	/* sum the sets; add the earlier k-blocks' partial sums; epilogue on the last */
	IfBlock fb, lb;
	LLVMValueRef first = p->nkb > 1 ? LLVMBuildICmp(cg->b, LLVMIntEQ, z->kb, cg_i64(cg, 0), "") : NULL;
	LLVMValueRef last = p->nkb > 1 ? LLVMBuildICmp(cg->b, LLVMIntEQ, z->kb, cg_i64(cg, p->nkb - 1), "") : NULL;
	LLVMValueRef sum[SP_MAX_R][SP_MICRO_NV];
	for (int i = 0; i < r; i++)
		for (int v = 0; v < nv; v++) {
			sum[i][v] = cg_var(cg, vt, NULL, "sum");
			LLVMValueRef t = LLVMBuildLoad2(cg->b, vt, acc[0][i][v], "");
			for (int st = 1; st < sets; st++)
				t = LLVMBuildFAdd(cg->b, t, LLVMBuildLoad2(cg->b, vt, acc[st][i][v], ""), "");
			if (tacc && v == nv - 1) /* the lane tail: row i's lane into lane 0 (the column) */
				t = LLVMBuildInsertElement(cg->b, LLVMConstNull(vt),
							   LLVMBuildExtractElement(cg->b, LLVMBuildLoad2(cg->b, tt, tacc, ""),
										   cg_i32(cg, i), ""),
							   cg_i32(cg, 0), "");
			LLVMBuildStore(cg->b, t, sum[i][v]);
		}
	if (first) {
		cg_if(cg, &fb, LLVMBuildNot(cg->b, first, ""), false);
		for (int i = 0; i < r; i++)
			for (int v = 0; v < nv; v++) {
				LLVMValueRef row = add_i64(cg, m0, cg_i64(cg, i));
				/* masked-off lanes load as 0: the segments add up */
				LLVMValueRef t = LLVMBuildLoad2(cg->b, vt, sum[i][v], "");
				for (int q = 0; q < seg[v].n; q++)
					t = LLVMBuildFAdd(cg->b, t, load_c(z, row, seg[v].col[q], seg[v].bits[q]), "");
				LLVMBuildStore(cg->b, t, sum[i][v]);
			}
		cg_if_end(cg, &fb);
	}
	if (last)
		cg_if(cg, &lb, last, true);
	for (int pass = 0; pass < (last ? 2 : 1); pass++) {
		bool final = pass == 0;
		if (pass == 1)
			cg_else(cg, &lb);
		for (int i = 0; i < r; i++)
			for (int v = 0; v < nv; v++)
				for (int q = 0; q < seg[v].n; q++) {
					uint64_t bits = seg[v].bits[q];
					LLVMValueRef row = add_i64(cg, m0, cg_i64(cg, i)), col = seg[v].col[q];
					LLVMValueRef val = LLVMBuildLoad2(cg->b, vt, sum[i][v], "");
					if (final)
						val = s->c_trans ? epilogue_trans(z, val, row, col, bits)
								 : gemm_epilogue(x, val, row, col, bits);
					store_c(z, val, row, col, bits);
				}
	}
	if (last)
		cg_if_end(cg, &lb);
}

/* One micro-tile column (tile column j0) of every group of the chunk over the current k-block:
 * the column's B rows are reused from L1 by all the groups. */
static void groups_of_column(SpCtx *z, LLVMValueRef g_lo, LLVMValueRef g_hi, int nv, uint64_t last_bits, bool mask_b,
			     const SpSeg *seg, LLVMValueRef bj0)
{
	Cg *cg = z->x.cg;
	const SpPlan *p = z->p;
	Loop gl;
	LLVMValueRef gi = cg_for(cg, &gl, g_lo, g_hi, 1, "g");
	LLVMValueRef g = word(z, add_i64(cg, gi, cg_i64(cg, p->t_perm)));
	/* the bounds of the k-block's groups are one run in chunk order, as the entries */
	LLVMValueRef bd = mul_c(cg, add_i64(cg, mul_c(cg, add_i64(cg, mul_c(cg, z->blk, p->nkb), z->kb), p->ngroups), gi),
				p->npat + 1);
	bd = add_i64(cg, bd, cg_i64(cg, p->t_bounds));
	micro(z, nv, last_bits, mask_b, mul_c(cg, g, p->r), seg, bj0, bd);
	cg_for_end(cg, &gl);
}

/* The micro-tile column at tile column j0 (nv vectors, the last one's lanes last_bits) of every
 * group of the chunk, stored in C's own layout. */
static void plain_column(SpCtx *z, LLVMValueRef g_lo, LLVMValueRef g_hi, int nv, uint64_t last_bits, bool mask_b,
			 LLVMValueRef j0)
{
	Cg *cg = z->x.cg;
	int vlen = z->p->vlen;
	SpSeg seg[SP_MICRO_NV];
	for (int v = 0; v < nv; v++) {
		seg[v].n = 1;
		seg[v].col[0] = add_i64(cg, z->x.n_lo, add_i64(cg, j0, cg_i64(cg, (int64_t)v * vlen)));
		seg[v].bits[0] = v == nv - 1 ? last_bits : vk_all(vlen);
	}
	groups_of_column(z, g_lo, g_hi, nv, last_bits, mask_b, seg, j0);
}

/* The tile's micro-tile columns (full ones, then the partial one) over the current k-block. */
static void columns(SpCtx *z, LLVMValueRef g_lo, LLVMValueRef g_hi)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	const SpPlan *p = z->p;
	int vlen = p->vlen;
	LLVMValueRef nfull = LLVMBuildSDiv(cg->b, x->width, cg_i64(cg, p->nr), "");
	LLVMValueRef done = mul_c(cg, nfull, p->nr);
	LLVMValueRef has_tail = LLVMBuildICmp(cg->b, LLVMIntSLT, done, x->width, "");
	LLVMValueRef nloop = p->fold ? LLVMBuildSub(cg->b, nfull, LLVMBuildZExt(cg->b, has_tail, cg->t_i64, ""), "") : nfull;
	Loop jl;
	LLVMValueRef js = cg_for(cg, &jl, cg_i64(cg, 0), nloop, 1, "js");
	plain_column(z, g_lo, g_hi, p->nv, vk_all(vlen), false, mul_c(cg, js, p->nr));
	cg_for_end(cg, &jl);
	if (p->fold) {
		IfBlock ib;
		cg_if(cg, &ib, has_tail, false);
		z->lane_tail = p->lane_tail;
		plain_column(z, g_lo, g_hi, p->nv + 1, vk_all((int)p->tail), !p->packed,
			     mul_c(cg, nloop, p->nr));
		z->lane_tail = false;
		cg_if_end(cg, &ib);
	} else if (p->tail) {
		IfBlock ib;
		cg_if(cg, &ib, has_tail, false);
		int64_t lanes = p->tail % vlen;
		plain_column(z, g_lo, g_hi, (int)ceil_div(p->tail, vlen), lanes ? vk_all((int)lanes) : vk_all(vlen),
			     x->s->b_kind == GB_DIRECT && !p->packed, done);
		cg_if_end(cg, &ib);
	}
}

/* Padded: the band's micro-tiles (see flat_segments), each of every group of the chunk. */
static void columns_padded(SpCtx *z, LLVMValueRef g_lo, LLVMValueRef g_hi)
{
	Cg *cg = z->x.cg;
	const SpPlan *p = z->p;
	int64_t nmt = flat_tiles(p, 0, NULL, NULL);
	for (int64_t i = 0; i < nmt; i++) {
		int64_t j0;
		int nv;
		flat_tiles(p, i, &j0, &nv);
		SpSeg seg[SP_MAX_NV];
		int64_t cols[SP_MAX_NV * SP_MAX_SEG];
		int rc = flat_segments(p, j0, nv, seg, cols);
		assert(rc == 0); /* plan_padded checked it */
		(void)rc;
		for (int v = 0; v < nv; v++)
			for (int q = 0; q < seg[v].n; q++)
				seg[v].col[q] = add_i64(cg, z->x.n_lo, cg_i64(cg, cols[v * SP_MAX_SEG + q]));
		groups_of_column(z, g_lo, g_hi, nv, vk_all(p->vlen), false, seg, cg_i64(cg, j0));
	}
}

/* Copies source elements s0, s0 + sw, ... (len of them) of the row at `src` to [d0, d0 + len) of
 * a panel row of wp floats at `dst`, and zeroes the rest of it (the pads). */
static void pad_row(SpCtx *z, LLVMValueRef src, LLVMValueRef dst, int64_t s0, int64_t d0, int64_t len)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	int vlen = z->p->vlen;
	int64_t sw = z->p->sw;
	Loop vl;
	LLVMValueRef from = add_i64(cg, src, cg_i64(cg, s0)), to = add_i64(cg, dst, cg_i64(cg, d0));
	if (len / vlen > 0) {
		LLVMValueRef v = cg_for(cg, &vl, cg_i64(cg, 0), cg_i64(cg, len / vlen * vlen), vlen, "pv");
		LLVMValueRef at = cg_gep(cg, cg->t_f32, x->img, add_i64(cg, from, mul_c(cg, v, sw)));
		vk_store(cg, vk_load_strided(cg, at, 0, sw, vlen, vk_all(vlen)), x->panel, add_i64(cg, to, v), vk_all(vlen));
		cg_for_end(cg, &vl);
	}
	if (len % vlen) {
		int64_t o = len / vlen * vlen;
		LLVMValueRef at = cg_gep(cg, cg->t_f32, x->img, add_i64(cg, from, cg_i64(cg, o * sw)));
		uint64_t bits = vk_all((int)(len % vlen));
		vk_store(cg, vk_load_strided(cg, at, 0, sw, vlen, bits), x->panel, add_i64(cg, to, cg_i64(cg, o)), bits);
	}
	LLVMValueRef zero_s = cg_f32(cg, 0.0f);
	for (int64_t j = 0; j < d0; j++)
		cg_store(cg, zero_s, x->panel, add_i64(cg, dst, cg_i64(cg, j)));
	for (int64_t j = d0 + len; j < z->p->wp; j++)
		cg_store(cg, zero_s, x->panel, add_i64(cg, dst, cg_i64(cg, j)));
}

/* Padded: the panel block's channels [ch0, ch0 + klen/ksz) of the tile's band: per channel and
 * phase plane (ph, pw), rows + khe - 1 plane rows (zero rows outside the image), every row with
 * its pads zeroed; with ncopy copies, copy j holds each row shifted left by j columns. */
static void pack_padded(SpCtx *z)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	const SpPlan *p = z->p;
	const Window *w = &x->s->im2col.win;
	int vlen = p->vlen;
	int64_t ih = w->in[1], iw = w->in[2], pl = w->pad_lo[2];
	LLVMValueRef zero_v = LLVMConstNull(cg_vec(cg, cg->t_f32, vlen));
	LLVMValueRef nch = LLVMBuildSDiv(cg->b, x->klen, cg_i64(cg, p->ksz), "");
	LLVMValueRef band = mul_c(cg, x->tile, p->rows);
	Loop cl, rl, vl;
	LLVMValueRef cc = cg_for(cg, &cl, cg_i64(cg, 0), nch, 1, "pc");
	LLVMValueRef src = add_i64(cg, x->img_off, mul_c(cg, add_i64(cg, z->ch0, cc), ih * iw));
	LLVMValueRef pr = cg_for(cg, &rl, cg_i64(cg, 0), cg_i64(cg, p->rows + p->khe - 1), 1, "pr");
	for (int64_t phase = 0; phase < p->nph; phase++) {
		int64_t ph = phase / p->phw, pw = phase % p->phw;
		/* plane row band + pr is padded row (band + pr)*sh + ph */
		LLVMValueRef iy = LLVMBuildSub(cg->b, add_i64(cg, mul_c(cg, add_i64(cg, band, pr), p->sh), cg_i64(cg, ph)),
					       cg_i64(cg, w->pad_lo[1]), "");
		LLVMValueRef row = add_i64(cg, mul_c(cg, add_i64(cg, mul_c(cg, cc, p->nph), cg_i64(cg, phase)), p->cs),
					   mul_c(cg, pr, p->wp));
		IfBlock ib;
		cg_if(cg, &ib, LLVMBuildICmp(cg->b, LLVMIntULT, iy, cg_i64(cg, ih), ""), true);
		for (int64_t j = 0; j < p->ncopy; j++) {
			/* copy j's column d is plane column d + j: input column (d + j)*sw + pw - pl */
			int64_t t0 = j * p->sw + pw - pl, d0 = t0 >= 0 ? 0 : ceil_div(-t0, p->sw), s0 = t0 + d0 * p->sw;
			int64_t len = s0 < iw ? ceil_div(iw - s0, p->sw) : 0;
			if (len > p->wp - d0)
				len = p->wp - d0 > 0 ? p->wp - d0 : 0;
			pad_row(z, add_i64(cg, src, mul_c(cg, iy, iw)), add_i64(cg, row, cg_i64(cg, j * p->copy_stride)), s0, d0,
				len);
		}
		cg_else(cg, &ib);
		for (int64_t j = 0; j < p->ncopy; j++) {
			LLVMValueRef dst = add_i64(cg, row, cg_i64(cg, j * p->copy_stride));
			if (p->wp / vlen > 0) {
				LLVMValueRef v = cg_for(cg, &vl, cg_i64(cg, 0), cg_i64(cg, p->wp / vlen * vlen), vlen, "pz");
				vk_store(cg, zero_v, x->panel, add_i64(cg, dst, v), vk_all(vlen));
				cg_for_end(cg, &vl);
			}
			if (p->wp % vlen)
				vk_store(cg, zero_v, x->panel, add_i64(cg, dst, cg_i64(cg, p->wp / vlen * vlen)),
					 vk_all((int)(p->wp % vlen)));
		}
		cg_if_end(cg, &ib);
	}
	cg_for_end(cg, &rl);
	cg_for_end(cg, &cl);
}

/* Packed direct B: rows [k0, k0 + klen) of the tile [n_lo, n_lo + width) into the aligned panel,
 * the last vector of a row masked (its lanes past the width zero). Only the last tile can end
 * inside a vector. */
static void pack_direct(SpCtx *z)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const SpPlan *p = z->p;
	int vlen = p->vlen;
	int64_t rem = (s->n - (p->ntiles - 1) * p->tw) % vlen;
	LLVMValueRef nvec = LLVMBuildSDiv(cg->b, x->width, cg_i64(cg, vlen), "");
	Loop lk, lv;
	LLVMValueRef kk = cg_for(cg, &lk, cg_i64(cg, 0), x->klen, 1, "kk");
	LLVMValueRef src = add_i64(cg, x->b_off, add_i64(cg, mul_c(cg, add_i64(cg, x->k0, kk), s->b_ks), x->n_lo));
	LLVMValueRef dst = mul_c(cg, kk, p->panel_ld);
	LLVMValueRef v = mul_c(cg, cg_for(cg, &lv, cg_i64(cg, 0), nvec, 1, "pv"), vlen);
	vk_store(cg, vk_load(cg, x->b, add_i64(cg, src, v), vlen, vk_all(vlen)), x->panel, add_i64(cg, dst, v), vk_all(vlen));
	cg_for_end(cg, &lv);
	if (rem) {
		IfBlock ib;
		LLVMValueRef o = mul_c(cg, nvec, vlen);
		cg_if(cg, &ib, LLVMBuildICmp(cg->b, LLVMIntSLT, o, x->width, ""), false);
		vk_store(cg, vk_load(cg, x->b, add_i64(cg, src, o), vlen, vk_all((int)rem)), x->panel, add_i64(cg, dst, o),
			 vk_all(vlen));
		cg_if_end(cg, &ib);
	}
	cg_for_end(cg, &lk);
}

static void emit_body(SpCtx *z)
{
	GemmCtx *x = &z->x;
	Cg *cg = x->cg;
	const GemmSpec *s = x->s;
	const SpPlan *p = z->p;
	Loop it_l;
	LLVMValueRef it = cg_for(cg, &it_l, cg->begin, cg->end, 1, "it");
	LLVMValueRef tile, chunk, zero = cg_i64(cg, 0);
	gemm_decode_iteration(x, it, p->ntiles, p->nchunks, p->chunk_major, &tile, &chunk);
	/* A's block of this product (spmm_emit checked that A's batch strides are whole blocks) */
	int64_t mk = s->m * s->k;
	z->blk = mk > 0 ? LLVMBuildSDiv(cg->b, x->a_off, cg_i64(cg, mk), "") : zero;
	x->tile = x->ptile = tile;
	x->img = x->b;
	x->img_off = x->b_off;
	x->n_lo = mul_c(cg, tile, p->tw);
	/* every tile tw wide but the last, which takes the rest (with a folded tail, more than tw) */
	x->width = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntEQ, tile, cg_i64(cg, p->ntiles - 1), ""),
				   LLVMBuildSub(cg->b, cg_i64(cg, s->n), x->n_lo, ""), cg_i64(cg, p->tw), "");
	LLVMValueRef g_lo = word(z, chunk), g_hi = word(z, add_i64(cg, chunk, cg_i64(cg, 1)));
	/* panel blocks (packed once), each of pkb k-blocks */
	Loop pl, kl;
	LLVMValueRef pb = p->npb > 1 ? cg_for(cg, &pl, zero, cg_i64(cg, p->npb), 1, "pb") : zero;
	x->k0 = mul_c(cg, pb, p->prows);
	x->klen = smin(cg, cg_i64(cg, p->prows), LLVMBuildSub(cg->b, cg_i64(cg, s->k), x->k0, ""));
	z->ch0 = p->padded ? mul_c(cg, pb, p->prows / p->ksz) : NULL;
	if (p->padded)
		pack_padded(z);
	else if (s->b_kind == GB_IM2COL)
		gemm_pack_im2col(x);
	else if (s->b_kind == GB_GATHER)
		gemm_pack_gather(x);
	else if (p->packed)
		pack_direct(z);
	LLVMValueRef kb_lo = mul_c(cg, pb, p->pkb);
	if (p->pkb > 1) {
		LLVMValueRef kb_hi = smin(cg, add_i64(cg, kb_lo, cg_i64(cg, p->pkb)), cg_i64(cg, p->nkb));
		z->kb = cg_for(cg, &kl, kb_lo, kb_hi, 1, "kb");
	} else {
		z->kb = kb_lo;
	}
	if (p->padded)
		columns_padded(z, g_lo, g_hi);
	else
		columns(z, g_lo, g_hi);
	if (p->pkb > 1)
		cg_for_end(cg, &kl);
	if (p->npb > 1)
		cg_for_end(cg, &pl);
	cg_for_end(cg, &it_l);
}

int spmm_emit(Cg *cg, const GemmSpec *s, const SpRows *a, CpuKernelKind kind, int block_r, NodeCode *code)
{
	code->n_tasks = 0;
	bool pat = kind == CK_SPARSE_PATTERNS;
	int r = kind == CK_SPARSE_ROWS ? 1 : block_r;
	if ((kind != CK_SPARSE_ROWS && kind != CK_SPARSE_BLOCKS && !pat) || r < 1 || r > (pat ? SP_PAT_MAX_R : SP_MAX_R) ||
	    s->a_im2col ||
	    (s->b_kind != GB_DIRECT && s->b_kind != GB_GATHER && s->b_kind != GB_IM2COL))
		return 1;
	if (s->m <= 0 || s->m % r != 0 || a->rows % s->m != 0 || a->cols != s->k)
		return 1;
	for (int i = 0; i < s->nbd; i++)
		if (s->a_bs[i] % (s->m * (s->k > 0 ? s->k : 1)) != 0)
			return 1;
	for (int i = 0; i < s->nbd; i++)
		if (s->bdim[i] == 0)
			return 0;
	if (s->n == 0)
		return 0;
	SpPlan p;
	/* plan_padded says when the padded path should not run (too dense, a band's vectors would
	 * cross too many output rows, not aligned where it must be) */
	bool by_pixels = readers_take_pixels(cg->g, s->c);
	bool padded = padded_ok(cg, s) && plan(&p, s, a, r, pat, cg->vlen, true, by_pixels) == 0;
	if (!padded && plan(&p, s, a, r, pat, cg->vlen, false, by_pixels) < 0)
		return 1;
	size_t bytes;
	int32_t *tab = spmm_build_table(&p, s, a, &bytes);
	if (tab == NULL)
		return 1;
	int tab_id = cg_data_take(cg, tab, bytes);
	if (tab_id < 0)
		return node_error(cg->d, s->node, "out of memory building the sparse weights");
	SpCtx z = {.x = {.cg = cg, .s = s}, .p = &p};
	/* the packers read a GemmPlan: the fields they use */
	GemmPlan gp;
	memset(&gp, 0, sizeof gp);
	gp.vlen = p.vlen;
	gp.rows = p.rows;
	gp.panel_ld = p.panel_ld;
	gp.tw = p.tw;
	gp.kc = p.prows;
	gp.nr = p.nr;
	z.x.p = &gp;
	/* the task's name outlives this call (reports): a literal */
	static const char *const names[3][2] = {{"spmm_rows", "spmm_rows_padded"},
						{"spmm_blocks", "spmm_blocks_padded"},
						{"spmm_patterns", "spmm_patterns_padded"}};
	LLVMValueRef fn = cg_task_begin(cg, names[pat ? 2 : r > 1][p.padded]);
	z.tab = cg_data_ptr(cg, tab_id);
	z.x.b = cg_ptr(cg, s->b);
	z.x.c = cg_ptr(cg, s->c);
	for (int i = 0; i < s->n_add; i++)
		z.x.add[i] = cg_ptr(cg, s->add[i].v);
	if (p.padded) {
		/* a band's last vectors read up to vlen floats past its channel's rows: past the last
		 * channel of a full panel block that is here (zeros); after a partial block it is an
		 * earlier block's data. Either way only lanes no segment stores. */
		int64_t used = p.copy_stride * p.ncopy;
		z.x.panel = vk_scratch(cg, used + 2 * p.vlen, "panel");
		LLVMValueRef zero_v = LLVMConstNull(cg_vec(cg, cg->t_f32, p.vlen));
		vk_store(cg, zero_v, z.x.panel, cg_i64(cg, used), vk_all(p.vlen));
		vk_store(cg, zero_v, z.x.panel, cg_i64(cg, used + p.vlen), vk_all(p.vlen));
	} else if (s->b_kind != GB_DIRECT || p.packed) {
		z.x.panel = vk_scratch(cg, p.panel_ld * p.prows + p.vlen, "panel");
		if (s->b_kind == GB_IM2COL)
			gemm_zero_panel_tail(cg, z.x.panel, &s->im2col.win, p.vlen, p.rows, p.tw, p.prows, p.panel_ld);
	}
	cg->no_unroll = true;
	emit_body(&z);
	cg->no_unroll = false;
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = p.iterations;
	code->n_tasks = 1;
	code->adds_in_place = p.nkb == 1 && s->b_kind == GB_DIRECT && !s->c_trans;
	return 0;
}
