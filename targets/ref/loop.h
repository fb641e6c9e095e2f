/* Strided loop nests for the reference kernels (private to targets/ref).
 *
 * Numpy broadcasting and reductions are the same walk: an iteration shape is visited in
 * row-major order while each operand advances by its own strides, which are 0 along the axes
 * where it is broadcast (or, for a reduction's accumulator, reduced). Before walking, axes of
 * size 1 are dropped and adjacent axes that every operand walks contiguously are merged, so
 * equal shapes become one flat run, a scalar operand is a run with step 0, and a per-channel
 * operand ([N,C,H,W] with [C,1,1]) is an outer loop over N*C around runs of H*W. The kernel's
 * run function therefore sees few, long runs and carries no dispatch of its own.
 *
 * This header is not part of the IR vocabulary (include/nnzc/ir.h) because nothing outside the
 * reference kernels needs it. */
#ifndef NNZC_REF_LOOP_H
#define NNZC_REF_LOOP_H

#include "nnzc/ir.h"

#define LOOP_MAX_OPS 4

typedef struct Loop {
	int rank;                                    /* after loop_merge; 0: a single element */
	int nops;
	int64_t dim[NNZC_MAX_RANK];
	int64_t stride[LOOP_MAX_OPS][NNZC_MAX_RANK]; /* per operand, in elements */
} Loop;

/* One innermost run: operand k's elements are at off[k] + i*step[k] for i in [0, n). */
typedef void (*LoopRun)(void *ctx, const int64_t *off, const int64_t *step, int64_t n);

/* Iterate over `shape` (static) with nops operands, all strides 0. */
void loop_init(Loop *L, const Shape *shape, int nops);
/* Operand k is a contiguous tensor of the iteration shape. */
void loop_set_contiguous(Loop *L, int k);
/* Operand k is a contiguous tensor of shape s, broadcast (numpy, right-aligned) to the
 * iteration shape; false if s does not broadcast to it. */
bool loop_set_broadcast(Loop *L, int k, const Shape *s);
/* Drop size-1 axes and merge axes that every operand walks contiguously. */
void loop_merge(Loop *L);
/* Call fn once per innermost run; nothing if the iteration shape has no elements. */
void loop_run(const Loop *L, LoopRun fn, void *ctx);

/* Round a kernel's compute-class result to what its declared dtype holds (int8 wraps, u8 wraps,
 * f16 rounds). A no-op for f32, f64 and i64, the common case. */
static inline void ref_round_result(Tensor *t)
{
	if (t->dtype != DT_F32 && t->dtype != DT_I64 && t->dtype != DT_F64) {
		int64_t n = tensor_numel(t);
		if (n > 0)
			dtype_round(t->dtype, t->data, (size_t)n);
	}
}

#endif
