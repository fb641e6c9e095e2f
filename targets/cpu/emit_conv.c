/* Conv and nnzc.FusedConv: out = act(conv(X, W) + B + R), NCHW, 1-D to 3-D (the 3-D view of
 * Window), any groups, strides, dilations and pads.
 *
 * Three code shapes:
 *   - implicit GEMM (gemm.c) per (image, group): out[co][p] = sum_k W[co][k] * X[tap k][p],
 *     the weights repacked at compile time; a 1x1, stride-1, unpadded kernel reads the input
 *     rows directly (B = X), every other kernel packs im2col panels per tile;
 *   - the same product transposed when the output has few pixels (a 7x7 map would leave a
 *     quarter of the pixel lanes idle): channels in the lanes, see emit_transposed;
 *   - depthwise (one input channel per group, so the product would have k = kernel size and
 *     nothing to reuse): a direct convolution vectorised along the output row (or along the
 *     whole plane for small "same" maps), every tap a broadcast weight times a (strided) row
 *     of the input, edge lanes masked at compile time; several output rows at once, so that
 *     each input vector loaded serves every one of them that reads it. */
#include "gemm.h"
#include "sparse.h"

#include <string.h>

static int64_t vol(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* ---------------------------------------------------------------- depthwise */

typedef struct Dw {
	Cg *cg;
	const Window *w;
	const Activation *act;
	DType dtype; /* of the output: results are rounded to it */
	int vlen;
	LLVMValueRef x, wt, y, bias, res; /* per-channel pointers (bias: the scalar's pointer) */
	LLVMValueRef id0, ih0;            /* the output row's input origin */
	LLVMValueRef yrow;                /* offset of the output row in y */
} Dw;

static LLVMValueRef i64c(Cg *cg, int64_t v) { return cg_i64(cg, v); }
static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mulc(Cg *cg, LLVMValueRef a, int64_t c) { return LLVMBuildMul(cg->b, a, cg_i64(cg, c), ""); }

/* live output lanes of position pos */
static uint64_t out_bits(int vlen, int64_t pos, int64_t ow)
{
	uint64_t bits = 0;
	for (int i = 0; i < vlen; i++)
		if (pos * vlen + i < ow)
			bits |= UINT64_C(1) << i;
	return bits;
}

/* Accumulators of a group: positions x output rows. */
#define DW_ACC 16
#define DW_GROUP 8 /* positions of a group, at most */
/* Output rows computed together (2-D maps): every input vector loaded serves each of them that
 * reads it, so a 3x3 stride-1 kernel loads 3 (rows + 2) / rows vectors per output vector
 * instead of 9. The loads, not the multiply-adds, bound this kernel: nearly all of them cross
 * a cache line. One thread, 3x3, by hand: 144 channels on 56x56 0.091 -> 0.055-0.060 ms, 96
 * channels 112x112 stride 2 0.126 -> 0.103-0.107 ms; 4 rows at stride 1 or 1 and 3 strided
 * measured no better. */
#define DW_ROWS 3
#define DW_ROWS_STRIDED 2

static int dw_group_size(int rows) { return DW_ACC / rows < DW_GROUP ? DW_ACC / rows : DW_GROUP; }

/* Stride 2 along the row with 2 or 3 taps, dilation 1: the 2 x vlen input columns a position
 * spans are loaded once and split into their even and odd elements (two shuffles), which are
 * taps 0 and 1; tap 2 is the even ones shifted by one. The general path loads a double-width
 * vector and shuffles per tap: 6 loads and 3 shuffles for 3 taps against 3 loads and 3 shuffles.
 * Loads touch only columns inside the row, so the taps' lanes outside it are zeros. One thread,
 * by hand: 96 channels 112x112 stride 2 0.103-0.107 -> 0.069 ms; MobileNetV2 80%'s four strided
 * layers 0.21 -> 0.11 ms. */
static bool dw_split_pays(const Window *w, int vlen)
{
	return w->stride[2] == 2 && w->dilation[2] == 1 && w->kernel[2] >= 2 && w->kernel[2] <= 3 &&
	       vlen <= 32; /* dw_split_taps's shuffle masks */
}

/* The input vector of tap kw of position j of a group, NULL where no lane is live: src is the
 * group's first output column in the input row. cpos >= 0: compile-time position of the group
 * (the row's edges masked), else inside the row's interior. */
static LLVMValueRef dw_tap(Dw *z, LLVMValueRef src, int64_t cpos, int j, int64_t kw)
{
	const Window *w = z->w;
	int vlen = z->vlen;
	int64_t sw = w->stride[2], off = kw * w->dilation[2] - w->pad_lo[2];
	uint64_t bits = cpos >= 0 ? vk_row_bits(vlen, cpos + j, off, sw, w->in[2], w->out[2]) : vk_all(vlen);
	return bits ? vk_load_strided(z->cg, src, (int64_t)j * vlen * sw + off, sw, vlen, bits) : NULL;
}

/* All taps of position j at once where dw_split_pays (same arguments): tapv[0 .. kernel[2]). */
static void dw_split_taps(Dw *z, LLVMValueRef src, int64_t cpos, int j, LLVMValueRef tapv[3])
{
	Cg *cg = z->cg;
	const Window *w = z->w;
	int vlen = z->vlen;
	/* window elements e = 0 .. 2 vlen: input column c0 + e */
	int64_t base = (int64_t)j * vlen * 2 - w->pad_lo[2], c0 = cpos >= 0 ? (cpos + j) * vlen * 2 - w->pad_lo[2] : 0;
	uint64_t bits[3] = {0, 0, 0};
	for (int e = 0; e <= 2 * vlen; e++)
		if (cpos < 0 || (c0 + e >= 0 && c0 + e < w->in[2]))
			bits[e / vlen] |= UINT64_C(1) << (e % vlen);
	LLVMValueRef lo = vk_load(cg, src, i64c(cg, base), vlen, bits[0]);
	LLVMValueRef hi = vk_load(cg, src, i64c(cg, base + vlen), vlen, bits[1]);
	LLVMValueRef even_idx[32], odd_idx[32], next_idx[32];
	for (int i = 0; i < vlen; i++) {
		even_idx[i] = cg_i32(cg, 2 * i);
		odd_idx[i] = cg_i32(cg, 2 * i + 1);
		next_idx[i] = cg_i32(cg, i + 1); /* lanes 1.. of the evens, then lane 0 of the next element */
	}
	LLVMValueRef even = LLVMBuildShuffleVector(cg->b, lo, hi, LLVMConstVector(even_idx, (unsigned)vlen), "");
	tapv[0] = even;
	tapv[1] = LLVMBuildShuffleVector(cg->b, lo, hi, LLVMConstVector(odd_idx, (unsigned)vlen), "");
	if (w->kernel[2] > 2) {
		LLVMValueRef last = vk_load(cg, src, i64c(cg, base + 2 * vlen), vlen, bits[2] & 1);
		tapv[2] = LLVMBuildShuffleVector(cg->b, even, last, LLVMConstVector(next_idx, (unsigned)vlen), "");
	}
}

/* `count` consecutive positions of `rows` consecutive output rows (the first at z->yrow, its
 * input origin z->id0/z->ih0), starting at compile-time position cpos (masks known) or, when
 * cpos < 0, at runtime position rpos inside the row's interior. Loops over the input rows the
 * group reads: each vector is loaded once and multiplied into every output row that needs it. */
static void dw_group(Dw *z, int64_t cpos, LLVMValueRef rpos, int count, int rows)
{
	Cg *cg = z->cg;
	const Window *w = z->w;
	int vlen = z->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	LLVMValueRef col = cpos >= 0 ? i64c(cg, cpos * vlen) : mulc(cg, rpos, vlen); /* first output column */
	LLVMValueRef acc[DW_ACC];
	LLVMValueRef b0 = z->bias ? cg_splat(cg, LLVMBuildLoad2(cg->b, cg->t_f32, z->bias, ""), vlen) : LLVMConstNull(vt);
	for (int i = 0; i < rows * count; i++)
		acc[i] = cg_var(cg, vt, b0, "acc");
	int64_t sw = w->stride[2], sh = w->stride[1], dh = w->dilation[1];
	bool split_pays = dw_split_pays(w, vlen);
	int64_t span = (rows - 1) * sh + (w->kernel[1] - 1) * dh + 1; /* input rows of the group */
	for (int64_t kd = 0; kd < w->kernel[0]; kd++)
		for (int64_t t = 0; t < span; t++) {
			bool used = false;
			for (int r = 0; r < rows; r++)
				for (int64_t kh = 0; kh < w->kernel[1]; kh++)
					used |= r * sh + kh * dh == t;
			if (!used)
				continue;
			LLVMValueRef id = add(cg, z->id0, i64c(cg, kd * w->dilation[0]));
			LLVMValueRef ih = add(cg, z->ih0, i64c(cg, t));
			LLVMValueRef ok = LLVMBuildAnd(cg->b, LLVMBuildICmp(cg->b, LLVMIntULT, id, i64c(cg, w->in[0]), ""),
						       LLVMBuildICmp(cg->b, LLVMIntULT, ih, i64c(cg, w->in[1]), ""), "");
			IfBlock ib;
			cg_if(cg, &ib, ok, false);
			LLVMValueRef rowoff = mulc(cg, add(cg, mulc(cg, id, w->in[1]), ih), w->in[2]);
			LLVMValueRef src = LLVMBuildGEP2(cg->b, cg->t_f32, z->x, (LLVMValueRef[]){add(cg, rowoff, mulc(cg, col, sw))}, 1, "");
			for (int j = 0; j < count; j++) {
				LLVMValueRef split[3] = {NULL, NULL, NULL};
				if (split_pays)
					dw_split_taps(z, src, cpos, j, split);
				for (int64_t kw = 0; kw < w->kernel[2]; kw++) {
					LLVMValueRef v = split_pays ? split[kw] : dw_tap(z, src, cpos, j, kw);
					if (v == NULL)
						continue;
					for (int r = 0; r < rows; r++)
						for (int64_t kh = 0; kh < w->kernel[1]; kh++) {
							if (r * sh + kh * dh != t)
								continue;
							int64_t tap = (kd * w->kernel[1] + kh) * w->kernel[2] + kw;
							LLVMValueRef wv = cg_splat(cg, cg_load(cg, cg->t_f32, z->wt, i64c(cg, tap)), vlen);
							LLVMValueRef a = acc[r * count + j];
							LLVMBuildStore(cg->b, vk_fmuladd(cg, wv, v, LLVMBuildLoad2(cg->b, vt, a, "")), a);
						}
				}
			}
			cg_if_end(cg, &ib);
		}
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < count; j++) {
			uint64_t bits = cpos >= 0 ? out_bits(vlen, cpos + j, w->out[2]) : vk_all(vlen);
			LLVMValueRef at = add(cg, z->yrow, add(cg, col, i64c(cg, r * w->out[2] + (int64_t)j * vlen)));
			LLVMValueRef v = LLVMBuildLoad2(cg->b, vt, acc[r * count + j], "");
			if (z->res)
				v = LLVMBuildFAdd(cg->b, v, vk_load(cg, z->res, at, vlen, bits), "");
			vk_store(cg, cg_round_dtype(cg, z->dtype, vk_act(cg, z->act, v)), z->y, at, bits);
		}
}

/* positions [lo, hi) of `rows` output rows with compile-time masks, in groups */
static void dw_fixed(Dw *z, int64_t lo, int64_t hi, int rows)
{
	int64_t gs = dw_group_size(rows), n = hi - lo, ng = (n + gs - 1) / gs;
	for (int64_t g = 0, p = lo; g < ng; g++) { /* groups of even sizes */
		int64_t size = n / ng + (g < n % ng);
		dw_group(z, p, NULL, (int)size, rows);
		p += size;
	}
}

/* Output rows [row, row + rows) (of one depth slice): the edge positions with compile-time
 * masks, the interior (every tap inside the row) looped in groups. */
static void dw_row_block(Dw *z, LLVMValueRef row, int rows)
{
	Cg *cg = z->cg;
	const Window *w = z->w;
	int vlen = z->vlen, gs = dw_group_size(rows);
	LLVMValueRef od = LLVMBuildSDiv(cg->b, row, i64c(cg, w->out[1]), "");
	LLVMValueRef oh = LLVMBuildSRem(cg->b, row, i64c(cg, w->out[1]), "");
	z->id0 = LLVMBuildSub(cg->b, mulc(cg, od, w->stride[0]), i64c(cg, w->pad_lo[0]), "");
	z->ih0 = LLVMBuildSub(cg->b, mulc(cg, oh, w->stride[1]), i64c(cg, w->pad_lo[1]), "");
	z->yrow = mulc(cg, row, w->out[2]);
	int64_t npos = (w->out[2] + vlen - 1) / vlen, in_lo, in_hi;
	if (npos <= gs || !vk_row_interior(vlen, w, &in_lo, &in_hi) || in_hi - in_lo < 2 * gs) {
		dw_fixed(z, 0, npos, rows);
		return;
	}
	dw_fixed(z, 0, in_lo, rows);
	int64_t groups = (in_hi - in_lo) / gs;
	Loop gl;
	LLVMValueRef gi = cg_for(cg, &gl, i64c(cg, 0), i64c(cg, groups), 1, "grp");
	dw_group(z, -1, add(cg, i64c(cg, in_lo), mulc(cg, gi, gs)), gs, rows);
	cg_for_end(cg, &gl);
	dw_fixed(z, in_lo + groups * gs, npos, rows);
}

/* Output rows [row_lo, row_hi): blocks of DW_ROWS rows (DW_ROWS_STRIDED with a row stride) where
 * the map is 2-D, then single rows. */
static void dw_rows(Dw *z, LLVMValueRef row_lo, LLVMValueRef row_hi)
{
	Cg *cg = z->cg;
	int rows = z->w->out[0] == 1 && z->w->out[1] > 1 ? (z->w->stride[1] == 1 ? DW_ROWS : DW_ROWS_STRIDED) : 1;
	LLVMValueRef mid = row_lo;
	if (rows > 1) {
		LLVMValueRef full = LLVMBuildSDiv(cg->b, LLVMBuildSub(cg->b, row_hi, row_lo, ""), i64c(cg, rows), "");
		Loop bl;
		LLVMValueRef bi = cg_for(cg, &bl, i64c(cg, 0), full, 1, "rblk");
		dw_row_block(z, add(cg, row_lo, mulc(cg, bi, rows)), rows);
		cg_for_end(cg, &bl);
		mid = add(cg, row_lo, mulc(cg, full, rows));
	}
	Loop rl;
	LLVMValueRef row = cg_for(cg, &rl, mid, row_hi, 1, "row");
	dw_row_block(z, row, 1);
	cg_for_end(cg, &rl);
}

/* A stride-1 depthwise convolution whose output plane has the input's shape ("same" padding)
 * reads tap t of output pixel p at input pixel p + off(t): the whole plane can be walked as one
 * flat row, which keeps the lanes busy on small maps (a 7x7 plane is 4 vectors instead of 7 rows
 * of one). Which lanes of which tap fall into the padding is known per position at compile
 * time, so every load is a masked load and nothing branches. */
#define FLAT_MAX_LOADS 512

static bool dw_flat_pays(const Window *w, int vlen)
{
	for (int j = 0; j < NNZC_MAX_SPATIAL; j++)
		if (w->stride[j] != 1 || w->in[j] != w->out[j])
			return false;
	int64_t osz = vol(w->out), npos = (osz + vlen - 1) / vlen, ow = w->out[2];
	double flat_use = (double)osz / (double)(npos * vlen);
	double row_use = (double)ow / (double)((ow + vlen - 1) / vlen * vlen);
	return npos * vol(w->kernel) <= FLAT_MAX_LOADS && flat_use > row_use * 1.05;
}

/* is flat output pixel p's tap (kd, kh, kw) inside the input? */
static bool flat_valid(const Window *w, int64_t p, const int64_t *k)
{
	int64_t o[3] = {p / (w->out[1] * w->out[2]), p / w->out[2] % w->out[1], p % w->out[2]};
	for (int j = 0; j < 3; j++) {
		int64_t i = o[j] + k[j] * w->dilation[j] - w->pad_lo[j];
		if (i < 0 || i >= w->in[j])
			return false;
	}
	return true;
}

static void dw_flat(Dw *z)
{
	Cg *cg = z->cg;
	const Window *w = z->w;
	int vlen = z->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	int64_t osz = vol(w->out), npos = (osz + vlen - 1) / vlen;
	for (int64_t p0 = 0; p0 < npos; p0 += DW_GROUP) {
		int count = (int)(npos - p0 < DW_GROUP ? npos - p0 : DW_GROUP);
		LLVMValueRef acc[DW_GROUP];
		LLVMValueRef b0 = z->bias ? cg_splat(cg, LLVMBuildLoad2(cg->b, cg->t_f32, z->bias, ""), vlen) : LLVMConstNull(vt);
		for (int j = 0; j < count; j++)
			acc[j] = b0;
		int64_t k[3];
		for (k[0] = 0; k[0] < w->kernel[0]; k[0]++)
			for (k[1] = 0; k[1] < w->kernel[1]; k[1]++)
				for (k[2] = 0; k[2] < w->kernel[2]; k[2]++) {
					int64_t tap = (k[0] * w->kernel[1] + k[1]) * w->kernel[2] + k[2];
					int64_t off = ((k[0] * w->dilation[0] - w->pad_lo[0]) * w->in[1] + k[1] * w->dilation[1] -
						       w->pad_lo[1]) * w->in[2] + k[2] * w->dilation[2] - w->pad_lo[2];
					LLVMValueRef wv = cg_splat(cg, cg_load(cg, cg->t_f32, z->wt, i64c(cg, tap)), vlen);
					for (int j = 0; j < count; j++) {
						uint64_t bits = 0;
						for (int l = 0; l < vlen; l++) {
							int64_t p = (p0 + j) * vlen + l;
							if (p < osz && flat_valid(w, p, k))
								bits |= UINT64_C(1) << l;
						}
						if (bits == 0)
							continue;
						LLVMValueRef v = vk_load(cg, z->x, i64c(cg, (p0 + j) * vlen + off), vlen, bits);
						acc[j] = vk_fmuladd(cg, wv, v, acc[j]);
					}
				}
		for (int j = 0; j < count; j++) {
			uint64_t bits = out_bits(vlen, p0 + j, osz);
			LLVMValueRef at = i64c(cg, (p0 + j) * vlen), v = acc[j];
			if (z->res)
				v = LLVMBuildFAdd(cg->b, v, vk_load(cg, z->res, at, vlen, bits), "");
			vk_store(cg, cg_round_dtype(cg, z->dtype, vk_act(cg, z->act, v)), z->y, at, bits);
		}
	}
}

static int emit_depthwise(Cg *cg, const Node *n, const Window *w, const Activation *act, NodeCode *code)
{
	const Value *x = n->in[0], *wt = n->in[1], *b = opt_input(n, 2), *r = n->op == OP_FusedConv ? opt_input(n, 3) : NULL;
	const Value *y = n->out[0];
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], m = y->shape.dim[1];
	int64_t mg = c > 0 ? m / c : 0; /* outputs per input channel */
	int64_t isz = vol(w->in), osz = vol(w->out), ksz = vol(w->kernel), rows = w->out[0] * w->out[1];
	int vlen = cg->vlen;
	code->n_tasks = 0;
	if (nimg == 0 || m == 0 || osz == 0)
		return 0;
	/* row blocks per channel when there are few channels to share out */
	bool flat = dw_flat_pays(w, vlen);
	int64_t planes = nimg * m, rb = 1;
	while (!flat && planes * rb < 16 && rb < rows && rows * w->out[2] / (rb * 2) >= 256)
		rb *= 2;
	int64_t rows_per = (rows + rb - 1) / rb;
	rb = (rows + rows_per - 1) / rows_per;

	LLVMValueRef fn = cg_task_begin(cg, "depthwise");
	LLVMValueRef px = cg_ptr(cg, x), pw = cg_ptr(cg, wt), py = cg_ptr(cg, y);
	LLVMValueRef pb = b ? cg_ptr(cg, b) : NULL, pr = r ? cg_ptr(cg, r) : NULL;
	Loop il;
	LLVMValueRef it = cg_for(cg, &il, cg->begin, cg->end, 1, "it");
	LLVMValueRef plane = LLVMBuildSDiv(cg->b, it, i64c(cg, rb), "");
	LLVMValueRef blk = LLVMBuildSRem(cg->b, it, i64c(cg, rb), "");
	LLVMValueRef img = LLVMBuildSDiv(cg->b, plane, i64c(cg, m), "");
	LLVMValueRef oc = LLVMBuildSRem(cg->b, plane, i64c(cg, m), "");
	LLVMValueRef ic = LLVMBuildSDiv(cg->b, oc, i64c(cg, mg), "");
	Dw z = {.cg = cg, .w = w, .act = act, .dtype = y->dtype, .vlen = vlen};
	z.x = cg_gep(cg, cg->t_f32, px, mulc(cg, add(cg, mulc(cg, img, c), ic), isz));
	z.wt = cg_gep(cg, cg->t_f32, pw, mulc(cg, oc, ksz));
	LLVMValueRef yoff = mulc(cg, plane, osz);
	z.y = cg_gep(cg, cg->t_f32, py, yoff);
	z.res = pr ? cg_gep(cg, cg->t_f32, pr, yoff) : NULL;
	z.bias = pb ? cg_gep(cg, cg->t_f32, pb, oc) : NULL;
	if (flat) {
		dw_flat(&z);
		cg_for_end(cg, &il);
		cg_task_end(cg);
		code->task[0] = fn;
		code->iterations[0] = planes;
		code->n_tasks = 1;
		return 0;
	}
	LLVMValueRef row_lo = mulc(cg, blk, rows_per);
	LLVMValueRef row_hi = add(cg, row_lo, i64c(cg, rows_per));
	row_hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, row_hi, i64c(cg, rows), ""), row_hi, i64c(cg, rows), "");
	dw_rows(&z, row_lo, row_hi);
	cg_for_end(cg, &il);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = planes * rb;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- transposed implicit GEMM */

/* With few output pixels (a 7x7 map: 49 = 3 vectors + 1 lane of 16) the pixel lanes go partly
 * unused. Then the product is set up transposed, Y^T = X^T W^T: the output channels are the
 * lanes (the weights repacked into channel panels), the pixels are broadcast (from the input
 * rows, or from an im2col panel of the whole image), and every micro-tile is transposed in
 * registers before the epilogue stores it (see gemm.h, c_trans). */
#define TRANSPOSED_MAX_PIXELS 64
#define TRANSPOSED_MAX_TAPS 256 /* so that one channel's panel rows fit gemm.c's budget */

static bool transposed_pays(const Cg *cg, int64_t group, const Value *wt, int64_t mg, int64_t osz, int64_t ksz)
{
	int64_t padded = (osz + cg->vlen - 1) / cg->vlen * cg->vlen;
	return group == 1 && wt->data != NULL && osz <= TRANSPOSED_MAX_PIXELS && ksz <= TRANSPOSED_MAX_TAPS &&
	       mg >= 2 * cg->vlen && (padded - osz) * 10 > padded;
}

static int emit_transposed(Cg *cg, const Node *n, const Window *w, const Activation *act, NodeCode *code)
{
	const Value *x = n->in[0], *wt = n->in[1], *b = opt_input(n, 2), *r = n->op == OP_FusedConv ? opt_input(n, 3) : NULL;
	const Value *y = n->out[0];
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], m = wt->shape.dim[0];
	int64_t isz = vol(w->in), osz = vol(w->out), ksz = vol(w->kernel);
	bool pointwise = ksz == 1;
	for (int j = 0; j < NNZC_MAX_SPATIAL; j++)
		pointwise = pointwise && w->stride[j] == 1 && w->pad_lo[j] == 0 && w->pad_hi[j] == 0;
	GemmSpec s;
	memset(&s, 0, sizeof s);
	s.node = n;
	s.m = osz;
	s.n = m;
	s.k = c * ksz;
	s.nbd = 1;
	s.bdim[0] = nimg;
	/* A = X^T: pixel i of tap row p */
	s.a = x;
	s.a_bs[0] = c * isz;
	if (pointwise) {
		s.a_rs = 1;
		s.a_ks = isz;
	} else {
		s.a_im2col = true;
		s.im2col.win = *w;
		s.im2col.cin = c;
	}
	/* B = W^T, repacked at compile time */
	s.b = wt;
	s.b_kind = GB_PACKED;
	s.b_ks = 1;
	s.b_ns = s.k;
	s.c = y;
	s.ldc = osz;
	s.c_trans = true;
	s.c_bs[0] = m * osz;
	s.alpha = 1.0f;
	if (b) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = b;
		ad->scale = 1.0f;
		ad->rs = 1;
	}
	if (r) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = r;
		ad->scale = 1.0f;
		ad->rs = osz;
		ad->cs = 1;
		ad->bs[0] = m * osz;
	}
	s.act = *act;
	return gemm_emit(cg, &s, code);
}

/* ---------------------------------------------------------------- sparse weights */

/* The kernel chosen for a constant float weight (rows = output channels, columns = the im2col
 * index c*K + t of its group): the dense one, or spmm.c's over the non-zeros that Value.data
 * actually holds (a pruned model arrives with any encoding, or none), by cpu_choose_kernel
 * (cost model and --kernels; it notes the choice). Builds `a` when the weight is a candidate
 * (the caller frees it). */
static CpuKernelKind choose(Cg *cg, const Node *n, int64_t g, int64_t mg, int64_t osz, int64_t k, bool im2col, SpRows *a,
			    int *block_r, double *dense_s)
{
	const Value *x = n->in[0], *wt = n->in[1];
	*a = (SpRows){0};
	*block_r = 1;
	ProductShape ps = {.m = mg, .n = osz, .k = k, .batch = x->shape.dim[0] * g, .nnz = mg * k, .block_r = 1, .im2col = im2col};
	*dense_s = cpu_cost_seconds(cg, CK_DENSE, &ps);
	if (cg->opt->kernels == CPU_KERNELS_DENSE || wt->data == NULL || !dtype_is_float(wt->dtype) || mg * g == 0 || k == 0 ||
	    sprows_build(wt->data, mg * g, k, k, 1, a) < 0) {
		if (wt->data != NULL)
			cpu_note_choice(cg, n, CK_DENSE, *dense_s, *dense_s);
		return CK_DENSE;
	}
	ps.nnz = a->nnz / g;
	*block_r = spmm_block_rows(a, mg);
	ps.block_r = *block_r;
	unsigned can = 1u << CK_SPARSE_ROWS;
	if (*block_r > 1)
		can |= 1u << CK_SPARSE_BLOCKS;
	int pr = sparse_pattern_rows(mg);
	if (pr > 0) {
		can |= 1u << CK_SPARSE_PATTERNS;
		ps.entries = sparse_pattern_entries(wt->data, mg * g, k, k, 1, pr) / g;
	}
	CpuKernelKind kind = cpu_choose_kernel(cg, n, &ps, can);
	if (kind == CK_SPARSE_PATTERNS)
		*block_r = pr;
	return kind;
}

/* Would the weight run on a sparse kernel? (The transposed dense product is skipped then.) */
static bool sparse_wanted(Cg *cg, const Node *n, int64_t g, int64_t mg, int64_t osz, int64_t k, bool im2col)
{
	SpRows a;
	int r;
	double dense_s;
	CpuKernelKind kind = choose(cg, n, g, mg, osz, k, im2col, &a, &r, &dense_s);
	sprows_free(&a);
	return kind != CK_DENSE;
}

/* 0: the sparse task is built; 1: use the dense kernel. */
static int emit_sparse(Cg *cg, const Node *n, const GemmSpec *s, bool pointwise, NodeCode *code)
{
	SpRows a;
	int r;
	double dense_s;
	/* the cost model's im2col term counts every input that is repacked (an im2col panel, or
	 * spmm.c's padded bands and phase planes), as the calibration does (cost.c) */
	bool im2col = !pointwise;
	CpuKernelKind kind = choose(cg, n, s->bdim[1], s->m, s->n, s->k, im2col, &a, &r, &dense_s);
	int rc = 1;
	if (kind != CK_DENSE)
		rc = spmm_emit(cg, s, &a, kind, r, code);
	sprows_free(&a);
	if (rc == 1 && kind != CK_DENSE) /* the sparse kernel cannot tile it */
		cpu_note_choice(cg, n, CK_DENSE, dense_s, dense_s);
	return rc;
}

/* ---------------------------------------------------------------- entry */

int emit_conv(Cg *cg, const Node *n, NodeCode *code)
{
	static const Activation none = {ACT_NONE, 0.0f, 0.0f};
	const ConvAttrs *ca = n->op == OP_FusedConv ? &n->attr.fused_conv.conv : &n->attr.conv;
	const Activation *act = n->op == OP_FusedConv ? &n->attr.fused_conv.act : &none;
	const Value *x = n->in[0], *wt = n->in[1], *b = opt_input(n, 2), *r = n->op == OP_FusedConv ? opt_input(n, 3) : NULL;
	const Value *y = n->out[0];
	if (!dtype_is_float(y->dtype))
		return node_error(cg->d, n, "the cpu target computes Conv on floats only, not %s", dtype_name(y->dtype));
	Window w;
	if (window_of_node(n, &x->shape, &wt->shape, &w, cg->d) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], m = wt->shape.dim[0], g = ca->group;
	int64_t cgp = c / g, mg = m / g, isz = vol(w.in), osz = vol(w.out), ksz = vol(w.kernel);
	if (wt->shape.dim[1] != cgp || m != y->shape.dim[1] || (b && shape_numel(&b->shape) != m))
		return node_error(cg->d, n, "weight, bias and output shapes disagree");
	if (cgp == 1)
		return emit_depthwise(cg, n, &w, act, code);

	bool pointwise = ksz == 1;
	for (int j = 0; j < NNZC_MAX_SPATIAL; j++)
		pointwise = pointwise && w.stride[j] == 1 && w.pad_lo[j] == 0 && w.pad_hi[j] == 0;
	GemmSpec s;
	memset(&s, 0, sizeof s);
	s.node = n;
	s.m = mg;
	s.n = osz;
	s.k = cgp * ksz;
	if (transposed_pays(cg, g, wt, mg, osz, ksz) &&
	    !sparse_wanted(cg, n, g, mg, osz, cgp * ksz, !pointwise))
		return emit_transposed(cg, n, &w, act, code);
	s.nbd = 2;
	s.bdim[0] = nimg;
	s.bdim[1] = g;
	s.a = wt;
	s.a_rs = s.k;
	s.a_ks = 1;
	s.a_bs[1] = mg * s.k;
	s.b = x;
	s.b_bs[0] = c * isz;
	s.b_bs[1] = cgp * isz;
	if (pointwise) {
		s.b_kind = GB_DIRECT;
		s.b_ks = isz;
	} else {
		s.b_kind = GB_IM2COL;
		s.im2col.win = w;
		s.im2col.cin = cgp;
	}
	s.c = y;
	s.ldc = osz;
	s.c_bs[0] = m * osz;
	s.c_bs[1] = mg * osz;
	s.alpha = 1.0f;
	if (b) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = b;
		ad->scale = 1.0f;
		ad->rs = 1;
		ad->bs[1] = mg;
	}
	if (r) {
		GemmAddend *ad = &s.add[s.n_add++];
		ad->v = r;
		ad->scale = 1.0f;
		ad->rs = osz;
		ad->cs = 1;
		ad->bs[0] = m * osz;
		ad->bs[1] = mg * osz;
	}
	s.act = *act;
	int rc = wt->data != NULL ? emit_sparse(cg, n, &s, pointwise, code) : 1;
	if (rc == 1)
		rc = gemm_emit(cg, &s, code);
	/* The residual added in place: the output takes over the residual's buffer where the
	 * residual dies here (memplan.c decides), so the kernel reads and writes one tensor instead
	 * of reading one and filling another (whose lines it would first have to fetch). ResNet's
	 * 56x56 stage writes 3.2 MB per block. Not when the residual is also the input (y = conv(x)
	 * + x): every output element reads all of x's channels. */
	if (rc == 0 && r && r != x && code->adds_in_place && r->dtype == y->dtype && shape_equal(&r->shape, &y->shape))
		cg->share[y->id] = r->id;
	return rc;
}
