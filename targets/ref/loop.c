/* Strided loop nests shared by the elementwise and reduction kernels; see loop.h. */
#include "loop.h"

#include <assert.h>
#include <string.h>

void loop_init(Loop *L, const Shape *shape, int nops)
{
	assert(shape->rank >= 0 && shape->rank <= NNZC_MAX_RANK && nops <= LOOP_MAX_OPS);
	memset(L, 0, sizeof *L);
	L->rank = shape->rank;
	L->nops = nops;
	for (int i = 0; i < shape->rank; i++)
		L->dim[i] = shape->dim[i];
}

void loop_set_contiguous(Loop *L, int k)
{
	int64_t s = 1;
	for (int i = L->rank - 1; i >= 0; i--) {
		L->stride[k][i] = s;
		/* an allocated tensor's strides fit in int64 unless it has no elements at all (a 0 dim
		 * beside huge ones); then no stride is ever used, so stop growing them */
		if (__builtin_mul_overflow(s, L->dim[i], &s))
			s = 0;
	}
}

bool loop_set_broadcast(Loop *L, int k, const Shape *s)
{
	if (s->rank < 0 || s->rank > L->rank)
		return false;
	int64_t st = 1;
	for (int i = L->rank - 1; i >= 0; i--) {
		int j = i - (L->rank - s->rank);
		int64_t dim = j >= 0 ? s->dim[j] : 1;
		if (dim == L->dim[i]) {
			L->stride[k][i] = dim == 1 ? 0 : st;
		} else if (dim == 1) {
			L->stride[k][i] = 0;
		} else {
			return false;
		}
		if (__builtin_mul_overflow(st, dim, &st)) /* only for empty tensors, see above */
			st = 0;
	}
	return true;
}

void loop_merge(Loop *L)
{
	int r = 0;
	for (int i = 0; i < L->rank; i++) {
		if (L->dim[i] == 0) /* nothing to walk; keep the shape as is, loop_run returns at once */
			return;
	}
	for (int i = 0; i < L->rank; i++) {
		if (L->dim[i] == 1)
			continue;
		L->dim[r] = L->dim[i];
		for (int k = 0; k < L->nops; k++)
			L->stride[k][r] = L->stride[k][i];
		r++;
	}
	L->rank = r;
	if (r == 0)
		return;
	/* axis `cur` (outer) absorbs axis i (inner) when every operand steps over the whole inner
	 * axis exactly by its outer stride */
	int cur = 0;
	for (int i = 1; i < L->rank; i++) {
		bool ok = true;
		for (int k = 0; k < L->nops && ok; k++)
			ok = L->stride[k][cur] == L->stride[k][i] * L->dim[i];
		if (ok) {
			L->dim[cur] *= L->dim[i];
			for (int k = 0; k < L->nops; k++)
				L->stride[k][cur] = L->stride[k][i];
		} else {
			cur++;
			L->dim[cur] = L->dim[i];
			for (int k = 0; k < L->nops; k++)
				L->stride[k][cur] = L->stride[k][i];
		}
	}
	L->rank = cur + 1;
}

void loop_run(const Loop *L, LoopRun fn, void *ctx)
{
	int64_t off[LOOP_MAX_OPS] = {0}, step[LOOP_MAX_OPS] = {0}, idx[NNZC_MAX_RANK] = {0};
	for (int i = 0; i < L->rank; i++)
		if (L->dim[i] == 0)
			return;
	if (L->rank == 0) {
		fn(ctx, off, step, 1);
		return;
	}
	int last = L->rank - 1;
	for (int k = 0; k < L->nops; k++)
		step[k] = L->stride[k][last];
	for (;;) {
		fn(ctx, off, step, L->dim[last]);
		int i = last - 1;
		for (; i >= 0; i--) {
			for (int k = 0; k < L->nops; k++)
				off[k] += L->stride[k][i];
			if (++idx[i] < L->dim[i])
				break;
			for (int k = 0; k < L->nops; k++)
				off[k] -= L->stride[k][i] * L->dim[i];
			idx[i] = 0;
		}
		if (i < 0)
			return;
	}
}
