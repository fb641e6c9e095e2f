/* Private to the lowering (targets/accel/lower*.c): the state shared by its files and the
 * instruction helpers they emit through. The entry point is accel_lower() in accel.h.
 *
 * Memory layout (DRAM, 32-bit words): every non-constant value the program touches gets its own
 * region of the arena, in node order, without reuse (simple and hazard-free; the arena is the
 * modeled DRAM, so its size only costs host memory in the simulator). Constants (packed weights,
 * biases, operands of element-wise ops) go to the const space, each once.
 *
 * Scheduling discipline, the same in every lowering: a node starts with `sync` on every unit
 * (its inputs were stored by earlier nodes), each tile step starts with `sync` on every unit
 * (everything issued before it is complete), and the loads of step s+1 are issued right after
 * the matrix instruction of step s into the other half of each buffer: that is the double
 * buffering, and the only overlap there is besides stores overlapping the next step's loads. */
#ifndef NNZC_ACCEL_LOWER_H
#define NNZC_ACCEL_LOWER_H

#include "targets/accel/accel.h"

#define SYNC_ALL (ACCEL_UNIT_LD | ACCEL_UNIT_ST | ACCEL_UNIT_MX | ACCEL_UNIT_VX)

/* A place in DRAM: space ACCEL_SPACE_CONST or ACCEL_SPACE_ARENA, offset in words. */
typedef struct Loc {
	int space;
	uint64_t off;
} Loc;

static inline Loc loc_add(Loc l, int64_t words) { return (Loc){l.space, l.off + (uint64_t)words}; }

/* A weight packed for the matrix unit (lower_pack.c). mode: NNZRT_ACCEL_MODE_DENSE, or _NM
 * for nm and tasd (nterms 1 for nm). Dense: vals[rows, kp] row-major. N:M term t: vals and idx
 * [rows, kp / m * n] (idx: the position in the group of M, one u32 word each). kp, the padded
 * reduction, is a multiple of every term's M; columns past the view's are zero. */
typedef struct WPack {
	int mode;
	int nterms;
	bool tasd;
	int64_t rows, kp;
	struct { int n, m; uint64_t vals, idx; } term[NNZC_MAX_TASD_TERMS]; /* const offsets */
	uint64_t dense;  /* dense: const offset of vals */
	int kalign;      /* lcm of the terms' M (1 for dense) */
	/* gs (mode NNZRT_ACCEL_MODE_GS): the non-zeros of every row in the pack's slot order, as CSR
	 * (malloc'd: lw_pack_free); they are packed per tile, ELL with L = the tile's longest row,
	 * indices relative to the tile's first column (lower_conv.c) */
	int64_t *gs_ptr;
	int32_t *gs_col;
	float *gs_val;
} WPack;

typedef struct Lower {
	const Graph *g;
	const nnzrt_accel_config *cfg;
	NnzaBuilder *b;
	Diag *d;
	int64_t cap[NNZRT_ACCEL_NUM_BUFS]; /* elements of each buffer */
	Loc *loc;       /* by value id: where the value lives */
	bool *placed;   /* by value id: loc is valid */
	uint64_t arena; /* words of arena handed out so far */
	const Node *node; /* being lowered, for messages */
} Lower;

/* lower.c: instruction helpers. Each returns 0 or -1 with a message in L->d. */
int lw_sync(Lower *L, unsigned units);
/* buf[addr + r*ldb + c] = src[r*rstride + c*cstep] for r < rows, c < cols; splits what the
 * 16-bit fields cannot hold (and cstep 0, a column broadcast) into several instructions. */
int lw_load(Lower *L, int buf, uint32_t addr, int64_t ldb, Loc src, int64_t rows, int64_t cols, int64_t rstride,
	    int64_t cstep);
/* The same for packed operands: fmt ACCEL_FMT_*, part ACCEL_PART_*, n/m/term as the ISA says. */
int lw_load_fmt(Lower *L, int fmt, int part, int n, int m, int term, int buf, uint32_t addr, int64_t ldb, Loc src,
		int64_t rows, int64_t cols, int64_t rstride, int64_t cstep);
/* dst[r*rstride + c*cstep] = buf[addr + r*ldb + c] (dst in the arena) */
int lw_store(Lower *L, int buf, uint32_t addr, int64_t ldb, Loc dst, int64_t rows, int64_t cols, int64_t rstride,
	     int64_t cstep);
/* d[r*cols + c] = f(a[r*lda + c*astep], b) — bcast ACCEL_BCAST_*; b at (bbuf, baddr) */
typedef struct VecArgs {
	int func, bcast;
	int dbuf; uint32_t daddr;
	int abuf; uint32_t aaddr; int64_t lda, astep;
	int bbuf; uint32_t baddr;
	float imm0, imm1;
	int64_t rows, cols;
} VecArgs;
int lw_vec(Lower *L, const VecArgs *v);
/* dbuf region of rows x cols (row stride cols) filled with x */
int lw_fill(Lower *L, int buf, uint32_t addr, int64_t rows, int64_t cols, float x);
int lw_mm(Lower *L, const AccelMm *mm, bool accumulate);
/* The DRAM place of value v (an arena region for activations; constants are copied to the const
 * space on first use). -1 for values of a dtype the engine cannot hold. */
int lw_value(Lower *L, const Value *v, Loc *out);
/* Constant float words appended to the const space. */
int lw_const_floats(Lower *L, const float *x, int64_t n, uint64_t *off);
int lw_unsupported(Lower *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* lower_pack.c */
int lw_pack_weight(Lower *L, const Value *w, const WeightView *view, WPack *p);
void lw_pack_free(WPack *p);

/* lower_conv.c: Conv, FusedConv, Gemm, FusedGemm, MatMul; GlobalAveragePool (a product with
 * a ones vector) and GlobalMaxPool (lower_vec.c) */
int lower_product(Lower *L, const Node *n);
int lower_global_pool(Lower *L, const Node *n);
/* lower_vec.c: element-wise ops, pools, copies */
int lower_elementwise(Lower *L, const Node *n);
int lower_pool(Lower *L, const Node *n);
int lower_copy(Lower *L, const Node *n);
int lower_global_max_pool(Lower *L, const Node *n);

#endif
