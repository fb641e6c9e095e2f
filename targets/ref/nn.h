/* Shared pieces of the reference kernels for conv, gemm, matmul, pooling and normalisation
 * (private to targets/ref): the blocked SGEMM every matrix product goes through, and the
 * fused epilogue (bias, residual, activation).
 *
 * Not in include/nnzc/ir.h because nothing outside these kernels calls them. */
#ifndef NNZC_REF_NN_H
#define NNZC_REF_NN_H

#include "nnzc/ir.h"

/* Hot loops get -O3 under GCC even in Debug builds, which is what the whole team runs tests
 * and conformance under: at -O0 (or GCC's -O2 "very cheap" vectorizer) the SGEMM micro-kernel
 * runs 3-100x slower and a ResNet-50 run takes minutes instead of a fraction of a second.
 * Clang has no such attribute; there the build type decides. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_HOT __attribute__((optimize("O3")))
#else
#define NN_HOT
#endif

/* A read-only strided matrix: element (i, j) is p[i*rs + j*cs]. Transposes are views. */
typedef struct MatRef {
	const float *p;
	int64_t rs, cs;
} MatRef;

/* c[i*ldc + j] = alpha * sum_p a(i,p) b(p,j) + (accumulate ? c[i*ldc + j] : 0), for an m x k a
 * and a k x n b. Single-threaded, cache-blocked over packed panels. -1 only when the packing
 * buffers cannot be allocated (the caller reports it). */
int sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatRef a, MatRef b, bool accumulate, float *c,
	  int64_t ldc);

/* sparse_rows.c: y(i, j) += alpha * sum_c W(r0 + i, c) x(weight_view_reduction(c), j) for i in
 * [0, nrows), j in [0, n), from the packed weight s (rows r0.. of its matrix view, c its view
 * columns; x is in the op's reduction order, e.g. im2col rows); y(i, j) is y[i*yrs + j*ycs]. */
void sparse_rows(const SparseData *s, int64_t r0, int64_t nrows, int64_t n, float alpha, MatRef x, float *y,
		 int64_t yrs, int64_t ycs);
/* The packed weight of node n (input 1) was made for n's own matrix view, rows x cols. */
int sparse_check_view(const Node *n, const SparseData *s, int64_t rows, int64_t cols, Diag *d);

/* The fused activation, in place over n floats. ACT_NONE does nothing. */
void act_apply(const Activation *act, float *x, int64_t n);

/* An optional input the way inference sees it: NULL when omitted or empty. */
static inline const Tensor *nn_opt_in(const Node *n, Tensor *const *in, int i)
{
	if (i >= n->n_in || in[i] == NULL || tensor_numel(in[i]) == 0)
		return NULL;
	return in[i];
}

/* Kernels re-check the sizes they index by: a shape known only at run time (a parameter whose
 * producer's shape was unknown when the static output shape was inferred) must not become an
 * out-of-bounds access. */
static inline int nn_check_numel(const Node *n, const Tensor *t, int64_t want, const char *what, Diag *d)
{
	if (t != NULL && tensor_numel(t) != want)
		return node_error(d, n, "%s has %lld elements at run time, expected %lld", what,
				  (long long)tensor_numel(t), (long long)want);
	return 0;
}

/* y must be [N, channels, window outputs...] */
static inline int nn_check_window_out(const Node *n, const Window *w, int64_t nimg, int64_t channels, const Tensor *y,
				      Diag *d)
{
	bool ok = y->shape.rank == w->nsp + 2 && y->shape.dim[0] == nimg && y->shape.dim[1] == channels;
	for (int i = 0; ok && i < w->nsp; i++)
		ok = y->shape.dim[2 + i] == w->out[NNZC_MAX_SPATIAL - w->nsp + i];
	if (!ok)
		return node_error(d, n, "the output's shape disagrees with the input's at run time");
	return 0;
}

#endif
