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

/* ---------------------------------------------------------------- cost.c */

typedef enum CpuKernelKind {
	CK_DENSE,         /* gemm.c: packed, register-blocked dense product */
	CK_SPARSE_ROWS,   /* one output row at a time over its non-zeros, vectorised along the columns */
	CK_SPARSE_BLOCKS, /* R rows at a time over shared non-zero columns (bsr-like register blocks) */
	CK_SPARSE_LANES,  /* rows across the vector lanes, inputs gathered (gs-like; few columns) */
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
	bool im2col;
} ProductShape;

/* Predicted seconds of the product with one kernel on one thread (host-calibrated constants
 * when available, else defaults); < 0 when that kernel cannot run it. */
double cpu_cost_seconds(const Cg *cg, CpuKernelKind kind, const ProductShape *p);

/* The choice an emitter made for the current node (reports and `nnzc info`). */
void cpu_note_choice(Cg *cg, const Node *n, CpuKernelKind kind, double predicted_s, double dense_s);

#endif
