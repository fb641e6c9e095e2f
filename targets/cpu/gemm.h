/* The blocked matrix product behind MatMul, Gemm, FusedGemm, Conv and FusedConv, and the vector
 * pieces the convolution emitters share with it. Private to targets/cpu.
 *
 * One product is C[m][n] = epilogue(A[m][k] x B[k][n]), possibly batched. B's columns are the
 * vector lanes; A's elements are broadcast. For a convolution A is the weight (rows = output
 * channels) and B the input seen as im2col columns (one per output pixel), so the result is
 * NCHW without any transposition; for Gemm/MatMul B is the right operand (columns = output
 * features). A convolution with few output pixels is set up the other way round (c_trans: the
 * channels in the lanes, the pixels broadcast) and transposes each micro-tile in registers
 * before storing it.
 *
 * Blocking (gemm.c): the columns are split into tiles, the rows into chunks of m-blocks; one
 * (batch, tile, chunk) triple is one parallel iteration. Inside an iteration every micro-tile
 * of MR rows x NV vectors keeps its accumulators in registers over the whole reduction (or
 * over one k-block when an operand is a packed panel), then the epilogue adds alpha, the
 * addends (bias, Gemm's C, residual) and the activation in registers and stores once. Rows come
 * in two sizes mr_hi and mr_lo = mr_hi - 1 so that any m is covered without padding rows.
 *
 * Constant A is repacked at compile time into m-blocks [k][mr] (one broadcast stream per
 * block); constant B (Gemm weights, transposed convolution weights) into column panels
 * [k][NR]. The micro-kernel prefetches these streams: on first use in an inference they come
 * from DRAM. */
#ifndef NNZC_CPU_GEMM_H
#define NNZC_CPU_GEMM_H

#include "cpu.h"

/* How the micro-kernel reads B. */
typedef enum GemmBKind {
	GB_DIRECT, /* from memory, unit stride along n: b(k, j) at k*b_ks + j */
	GB_PACKED, /* a constant, repacked at compile time into panels [n/NR][k][NR] */
	GB_GATHER, /* from memory with any strides b(k, j) at k*b_ks + j*b_ns: copied into a panel per tile */
	GB_IM2COL, /* a convolution's input, expanded into a panel per tile (implicit GEMM) */
} GemmBKind;

/* One term of the epilogue: scale * t(i, j), t(i, j) at base + i*rs + j*cs; cs is 0 or 1. */
typedef struct GemmAddend {
	const Value *v;
	float scale;
	int64_t rs, cs;
	int64_t bs[NNZC_MAX_RANK]; /* element stride per batch dim */
} GemmAddend;

/* The geometry GB_IM2COL expands: the input of one (image, group) is [cin][in...] (3-D view of
 * Window); column j of B is output pixel j, row k is (channel, kd, kh, kw). */
typedef struct Im2col {
	Window win;
	int64_t cin; /* input channels per group */
} Im2col;

#define GEMM_MAX_ADDENDS 2

typedef struct GemmSpec {
	const Node *node;
	int64_t m, n, k;
	/* batch: products indexed by nbd dims; element strides of each operand per dim (0 = shared) */
	int nbd;
	int64_t bdim[NNZC_MAX_RANK];
	int64_t a_bs[NNZC_MAX_RANK], b_bs[NNZC_MAX_RANK], c_bs[NNZC_MAX_RANK];
	/* A: element (i, p) at i*a_rs + p*a_ks of its batch's block; packed when constant and every
	 * batch stride is a multiple of m*k (each block is then repacked in place) */
	const Value *a;
	int64_t a_rs, a_ks;
	/* B */
	GemmBKind b_kind;
	const Value *b;
	int64_t b_ks, b_ns;
	Im2col im2col; /* GB_IM2COL */
	/* A from an im2col panel of `a` instead (with c_trans): A(i, p) = output pixel i of tap row p */
	bool a_im2col;
	/* C: element (i, j) at i*ldc + j; with c_trans at j*ldc + i, the product having been set up
	 * transposed so that the lanes run along the output channels of a convolution whose few
	 * pixels would leave lanes idle. The micro-tile is then transposed in registers before the
	 * epilogue, and the addends are indexed as C is stored: t(j, i). */
	const Value *c;
	int64_t ldc;
	bool c_trans;
	/* epilogue: act(alpha * AB + sum of addends) */
	float alpha;
	GemmAddend add[GEMM_MAX_ADDENDS];
	int n_add;
	Activation act;
} GemmSpec;

/* gemm.c: plan, pack the constants and build the node's task. */
int gemm_emit(Cg *cg, const GemmSpec *s, NodeCode *code);

/* ---------------------------------------------------------------- microkernel.c: vector pieces */

/* a*b + c, fused where the target has FMA (llvm.fmuladd: the backend decides, so --cpu generic
 * gets mul+add and AVX2/AVX-512 targets get vfmadd) */
LLVMValueRef vk_fmuladd(Cg *cg, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
/* <lanes x i1> with the lanes set in bits (lane i: bit i), a compile-time constant */
LLVMValueRef vk_mask(Cg *cg, int lanes, uint64_t bits);
/* Vector load/store of `lanes` floats at base + off (elements), only the lanes in `bits`
 * touched (all: a plain access). Masked-off lanes load as 0 and may lie outside the tensor:
 * the address is formed without an inbounds promise. */
LLVMValueRef vk_load(Cg *cg, LLVMValueRef base, LLVMValueRef off, int lanes, uint64_t bits);
void vk_store(Cg *cg, LLVMValueRef v, LLVMValueRef base, LLVMValueRef off, uint64_t bits);
/* Lanes i of base[off + i*stride], lane i valid when bit i of bits is set (others 0): one load
 * and a shuffle for small strides, lane by lane otherwise. */
LLVMValueRef vk_load_strided(Cg *cg, LLVMValueRef base, int64_t off, int64_t stride, int lanes, uint64_t bits);
/* The fused activation on a float vector or scalar, the formulas of targets/ref/nn.c. */
LLVMValueRef vk_act(Cg *cg, const Activation *act, LLVMValueRef x);
static inline uint64_t vk_all(int lanes) { return lanes >= 64 ? ~UINT64_C(0) : (UINT64_C(1) << lanes) - 1; }
/* Lanes i of the vector of output columns pos*lanes + i whose output column is below ow and
 * whose input column (column*stride + off) lies in [0, iw): the compile-time mask of one tap. */
uint64_t vk_row_bits(int lanes, int64_t pos, int64_t off, int64_t stride, int64_t iw, int64_t ow);
/* The positions [*lo, *hi) of an output row of w (vectors of `lanes` columns) where every lane of
 * every tap along the row reads inside it (the row's interior, looped without masks); false when
 * there is none. */
bool vk_row_interior(int lanes, const Window *w, int64_t *lo, int64_t *hi);

/* An optional input as the kernels see it: NULL when omitted or empty (targets/ref's rule). */
static inline const Value *opt_input(const Node *n, int i)
{
	if (i >= n->n_in || n->in[i] == NULL || shape_numel(&n->in[i]->shape) == 0)
		return NULL;
	return n->in[i];
}

/* A 64-byte aligned float scratch array on the current task's stack. */
LLVMValueRef vk_scratch(Cg *cg, int64_t floats, const char *name);

/* ---------------------------------------------------------------- internals of gemm.c and microkernel.c */

#define MAX_MR 16
/* The products whose dense micro-tile may be widened (gemm.c plan_rows) have at least this many
 * terms and rows; nnzc calibrate measures the widening on such shapes. */
#define GEMM_WIDE_MIN_K 128
#define GEMM_WIDE_MIN_M 64
#define MAX_NV 4

/* Everything gemm.c decides at compile time about one product. */
typedef struct GemmPlan {
	int vlen;
	int mr_hi, mr_lo;       /* rows of a micro-tile: m-blocks [0, nhi) have mr_hi, the rest mr_lo */
	int64_t nhi, nblocks;
	int64_t bpc, nchunks;   /* m-blocks per chunk, chunks */
	int nv;                 /* vectors per micro-tile row */
	int64_t nr;             /* nv * vlen columns */
	int64_t tw, ntiles;     /* columns per tile, tiles per product */
	int64_t tail;           /* columns of a tile's last, partial micro-tile (0: none) */
	int64_t kc, nkb;        /* k-block (panels), number of k-blocks */
	int64_t rows;           /* im2col: output rows per tile (a_im2col: the whole image) */
	int64_t panel_ld;       /* floats per panel row */
	int64_t acc_ld;         /* c_trans over several k-blocks: partial sums in a stack array [m][acc_ld] */
	bool m_major;           /* iterations walk chunks outside tiles */
	bool m_outer;           /* inside an iteration, m-blocks outside micro-tile columns */
	int64_t batch, iterations;
} GemmPlan;

/* The task being built: base pointers, then the current iteration's offsets and k-block. */
typedef struct GemmCtx {
	Cg *cg;
	const GemmSpec *s;
	const GemmPlan *p;
	LLVMValueRef a, b, c, add[GEMM_MAX_ADDENDS]; /* base pointers */
	bool a_packed;
	LLVMValueRef panel, accbuf;
	/* per iteration */
	LLVMValueRef a_off, b_off, c_off, add_off[GEMM_MAX_ADDENDS];
	LLVMValueRef n_lo, width, mb_lo, mb_hi, tile;
	LLVMValueRef img, img_off, ptile; /* what the im2col panel expands: base, batch offset, pixel tile */
	LLVMValueRef k0, klen, first, last; /* first/last: NULL when constant true */
} GemmCtx;

/* One micro-tile kind: mr rows x nv vectors, the last vector's live lanes. */
typedef struct Micro {
	int mr, nv;
	uint64_t last_bits; /* live lanes of the last vector */
	bool mask_b;        /* B read straight from memory at a partial tile: mask its loads too */
} Micro;

/* gemm.c: parallel iteration `it` of a product with ntiles column tiles and nchunks row chunks
 * per batch product (ordered chunk by chunk, or tile by tile): its tile and chunk, and the batch
 * product's operand offsets in x (a_off, b_off, c_off, add_off). spmm.c tiles the same way. */
void gemm_decode_iteration(GemmCtx *x, LLVMValueRef it, int64_t ntiles, int64_t nchunks, bool chunk_major,
			   LLVMValueRef *tile, LLVMValueRef *chunk);

/* microkernel.c: the micro-tile at rows [m0, m0 + mr), columns [n0, n0 + nv*vlen) over the
 * current k-block, accumulators in registers, epilogue applied and stored. */
void gemm_micro(GemmCtx *x, const Micro *mt, LLVMValueRef m0, LLVMValueRef n0);

/* For the sparse kernels (spmm.c), which tile like gemm.c and share its panels and epilogue.
 * gemm_pack_im2col: the im2col panel of x->ptile's p->rows output rows (p->vlen, p->panel_ld)
 * for rows [k0, k0 + klen) (whole channels) of x->img + x->img_off, into x->panel;
 * gemm_pack_gather: B rows [k0, k0 + klen) of the tile [n_lo, n_lo + width) into x->panel
 * (p->panel_ld, zeros up to p->tw rounded to vectors); gemm_epilogue: alpha, the addends at C's
 * element (row, col...) and the activation on an accumulator vector (x->add, x->add_off). */
void gemm_pack_im2col(GemmCtx *x);
void gemm_pack_gather(GemmCtx *x);
/* Zero the im2col panel's columns that micro-tiles read past what the row copies write. */
void gemm_zero_panel_tail(Cg *cg, LLVMValueRef panel, const Window *w, int vlen, int64_t rows, int64_t tw,
			  int64_t panel_rows, int64_t panel_ld);
LLVMValueRef gemm_epilogue(GemmCtx *x, LLVMValueRef val, LLVMValueRef row, LLVMValueRef col, uint64_t bits);

#endif
