/* What the cpu target's sparse kernels share: a constant weight's non-zeros as rows, and the
 * cost model that decides, per layer, whether a product runs on the dense kernels (gemm.c) or
 * on a sparse one. Private to targets/cpu.
 *
 * The kernels read the weight's effective values (Value.data) rather than its packed form
 * (Value.sparse): every encoding — and a dense-encoded weight that was pruned elsewhere — has
 * its zeros there, and the rows below are laid out in the order the kernel multiplies in (the
 * op's own reduction index, e.g. a Conv's im2col row c * K + t), not the encoding's view order. */
#ifndef NNZC_CPU_SPARSE_H
#define NNZC_CPU_SPARSE_H

#include "cpu.h"

/* ---------------------------------------------------------------- sparse_rows.c */

/* A weight seen as rows x cols with its non-zeros listed per row (CSR). */
typedef struct SpRows {
	int64_t rows, cols, nnz;
	int64_t *row_ptr;   /* rows + 1: row r's entries are [row_ptr[r], row_ptr[r + 1]) */
	int32_t *col;       /* nnz, ascending within a row */
	float *val;         /* nnz, none is +0.0 or -0.0 */
} SpRows;

/* Element (r, c) is w[r * rs + c * cs]. Returns -1 when out of memory (or cols >= 2^31). */
int sprows_build(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, SpRows *out);
void sprows_free(SpRows *s);

/* Rows per group of CK_SPARSE_PATTERNS for products of m rows: 4 when m is a multiple of 4, else
 * 2 when even, else 0 (the kind cannot run). */
int sparse_pattern_rows(int64_t m);
/* (group, column) pairs of w (rows x cols as for sprows_build) holding a non-zero, the groups r
 * consecutive rows: the entries CK_SPARSE_PATTERNS streams, one B load each per vector. */
int64_t sparse_pattern_entries(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int r);

/* ---------------------------------------------------------------- cost.c */

typedef enum CpuKernelKind {
	CK_DENSE,         /* gemm.c: packed, register-blocked dense product */
	CK_SPARSE_ROWS,   /* one output row at a time over its non-zeros, vectorised along the columns */
	CK_SPARSE_BLOCKS, /* R rows at a time over shared non-zero columns (bsr-like register blocks) */
	CK_SPARSE_LANES,  /* rows across the vector lanes, inputs gathered (gs-like; few columns) */
	CK_SPARSE_PATTERNS, /* groups of 4 rows of any sparsity, columns sorted by which rows they feed */
	CK_COUNT
} CpuKernelKind;
extern const char *const cpu_kernel_kind_name[CK_COUNT]; /* "dense", "sparse-rows", ... */

/* The product a kernel would compute: `batch` products C[m][n] = A[m][k] x B[k][n] (images x
 * groups for a Conv), A the constant weight. `im2col`: B is a convolution's input expanded
 * per tile. */
typedef struct ProductShape {
	int64_t m, n, k, batch;
	int64_t nnz;         /* non-zeros of one product's A (for grouped convs: of one group's rows) */
	int64_t block_r;     /* CK_SPARSE_BLOCKS: rows per block (1 otherwise) */
	int64_t entries;     /* CK_SPARSE_PATTERNS: its (row group, column) pairs of one product's A
			      * (sparse_pattern_entries); 0 when it cannot run */
	bool im2col;
} ProductShape;

/* Predicted seconds of the product with one kernel on one thread (host-calibrated constants
 * when available, else defaults); < 0 when that kernel cannot run it. */
double cpu_cost_seconds(const Cg *cg, CpuKernelKind kind, const ProductShape *p);

/* The choice an emitter made for the current node (reports and `nnzc info`). */
void cpu_note_choice(Cg *cg, const Node *n, CpuKernelKind kind, double predicted_s, double dense_s);

/* The rule every emitter with a constant float weight product follows, in one place: `can_run`
 * holds bit (1u << kind) for every sparse kind the emitter has for this product (the dense
 * kernel is always possible). --kernels dense: CK_DENSE; sparse: the cheapest sparse kind that
 * can run (CpuOptions.sparse_kind restricts it to one), dense if none; auto: the cheapest of
 * all, dense for a weight without zeros. Notes the choice (cpu_note_choice) and returns it. */
CpuKernelKind cpu_choose_kernel(Cg *cg, const Node *n, const ProductShape *p, unsigned can_run);

/* The product a weight-product node computes in the sense of ProductShape (Conv and FusedConv
 * but depthwise, Gemm and FusedGemm, MatMul with a 2-D constant B), nnz counted from the weight's
 * values; false for any other node. For reports of layers no emitter noted, and calibration. */
bool cpu_node_product(const Node *n, ProductShape *p);

/* ---------------------------------------------------------------- cost.c: the model's constants
 *
 * A kernel kind's predicted seconds are sum_t coef[kind][t] * term_t(product), the terms below;
 * each kind uses the terms of cost_term_used. Constants come from a calibration file
 * (docs/performance.md has the format) or from the defaults in cost.c. */
typedef enum CostTerm {
	CT_FIXED,   /* 1 per product node: calls, thread hand-off */
	CT_MAC,     /* batch * m * n * k: dense multiply-adds */
	CT_NNZ,     /* batch * nnz * n: sparse multiply-adds (a non-zero times a column) */
	CT_OUT,     /* batch * m * n: output elements (epilogue, stores) */
	CT_IM2COL,  /* batch * k * n when the input is expanded (im2col), else 0 */
	CT_ROW,     /* batch * m: per-row overhead of the sparse kernels */
	CT_WEIGHTS, /* batch * m * k: weight elements a dense kernel streams (a layer at batch 1 whose
		     * weights come from memory: Gemm with one row, the last convolutions) */
	CT_NONZEROS, /* batch * nnz: non-zeros (values, indices or code) a sparse kernel streams */
	CT_ENTRIES,  /* batch * entries * n: CK_SPARSE_PATTERNS's B loads (a column's vectors serve
		      * every row of its group) */
	CT_COUNT
} CostTerm;
extern const char *const cpu_cost_term_name[CT_COUNT];
bool cpu_cost_term_used(CpuKernelKind kind, CostTerm t);
void cpu_cost_terms(const ProductShape *p, double terms[CT_COUNT]);

typedef struct CpuCostModel {
	char source[600];       /* "defaults", or the file's base name and hash: "cost-znver5.txt fnv1a64:..." */
	char cpu[64];           /* LLVM CPU name it was calibrated on */
	uint64_t features;      /* hash of the LLVM feature string (cpu_cost_features_hash) */
	int vlen, threads;      /* float lanes and threads of the calibration */
	bool have[CK_COUNT];    /* kinds the file calibrates; the others take the defaults */
	double coef[CK_COUNT][CT_COUNT]; /* seconds per unit of each term */
	int dense_vectors;      /* the dense micro-tile's width in vectors where gemm.c may widen it
				 * (measured by nnzc calibrate); 0: not measured, the default */
} CpuCostModel;

uint64_t cpu_cost_features_hash(const char *features);
/* Parse a cost file's text; -1 with "NAME:LINE: ..." on any defect. */
int cpu_cost_parse(const char *name, const char *text, size_t len, CpuCostModel *m, Diag *d);
/* Write m in the format cpu_cost_parse reads (the kinds of m->have). */
int cpu_cost_write(const CpuCostModel *m, FILE *f);
/* Least squares on relative errors for one kind: coef (its unused terms 0, none negative) from n
 * samples of terms and measured seconds. Returns the RMS relative error, < 0 with fewer usable
 * samples than terms. */
double cpu_cost_fit(CpuKernelKind kind, const double (*terms)[CT_COUNT], const double *seconds, int n,
		    double coef[CT_COUNT]);
/* The model this compilation uses (the cached file, or the defaults; never NULL). */
const CpuCostModel *cpu_cost_model(const Cg *cg);
/* Load the model the options name and report a bad file (-1): the entry point calls it, so that a
 * bad --cost-model fails the compilation even when no emitter asked for a cost. */
int cpu_cost_model_check(Cg *cg);

/* ---------------------------------------------------------------- spmm.c */

struct GemmSpec;
/* Rows per register block of CK_SPARSE_BLOCKS for A (rows = blocks of m rows each): the largest
 * of 8, 4, 2 that divides m and whose groups of consecutive rows (within each block) share one
 * column set, else 1. */
int spmm_block_rows(const SpRows *a, int64_t m);
/* The product of gemm.h's spec `s` with A's non-zeros `a` instead of s->a, by kind
 * CK_SPARSE_ROWS, CK_SPARSE_BLOCKS (block_r rows at a time, from spmm_block_rows) or
 * CK_SPARSE_PATTERNS (block_r = sparse_pattern_rows(s->m)). `a` holds
 * every batch block of A stacked (rows = blocks x s->m): the block of a product is
 * sum(digit_d * a_bs[d]) / (m * k), so each a_bs[d] must be a multiple of m * k. B: GB_DIRECT,
 * GB_GATHER or GB_IM2COL; C normal or c_trans; the epilogue as gemm.c's. Returns 0 when the task
 * is built, 1 when this kernel cannot run the product (nothing emitted: use gemm_emit), -1 on
 * error (reported). */
int spmm_emit(Cg *cg, const struct GemmSpec *s, const SpRows *a, CpuKernelKind kind, int block_r, NodeCode *code);

/* ---------------------------------------------------------------- sparse_gemm.c */

/* The most rows of X (columns of the transposed product) CK_SPARSE_LANES runs: one table load
 * serves them all; beyond, spmm.c's regime. cost.c predicts nothing for it past this. */
#define SPARSE_LANES_MAX_COLUMNS 4

/* CK_SPARSE_LANES for gemm.h's spec `s` whose B is a constant weight, `w` = B^T (rows = the n
 * output features, cols = k): output features across the vector lanes, X's elements gathered.
 * Returns 0 when the task is built, 1 when this kernel cannot run the product (nothing emitted),
 * -1 on error (reported). */
bool spgemm_lanes_can_run(const struct GemmSpec *s);
int spgemm_lanes_emit(Cg *cg, const struct GemmSpec *s, const SpRows *w, NodeCode *code);

#endif
