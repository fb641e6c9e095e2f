/* Reference kernels for reductions: Reduce* over a set of axes, ArgMax/ArgMin over one axis,
 * and Softmax/LogSoftmax over one axis.
 *
 * Reduce* walks the input once in row-major order with loop.c, the accumulator being the
 * keepdims-shaped output broadcast over the reduced axes: a reduction over the last axes is
 * a run per output element, one over leading axes a vector accumulation per input row.
 * Floating-point inputs accumulate in double (ONNX's reference sums in numpy with pairwise
 * summation; float accumulation would drift visibly on large reductions). Integer inputs
 * accumulate in int64 with wrap-around, exact for the shape arithmetic that uses them. */
#include "loop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline int64_t wabs(int64_t a) { return a < 0 ? (int64_t)(0 - (uint64_t)a) : a; }
static inline double dadd(double a, double b) { return a + b; }
static inline double dmul(double a, double b) { return a * b; }
static inline bool isnan_d(double v) { return v != v; }
static inline bool isnan_i(int64_t v) { (void)v; return false; }

/* one spelling per operation for both accumulator types */
#define ADD(a, b) _Generic((a), int64_t: wadd, default: dadd)((a), (b))
#define MUL(a, b) _Generic((a), int64_t: wmul, default: dmul)((a), (b))
#define ABS(a) _Generic((a), int64_t: wabs, default: fabs)(a)
#define ISNAN(a) _Generic((a), int64_t: isnan_i, default: isnan_d)(a)

/* ---------------------------------------------------------------- Reduce* */

typedef struct ReduceCtx {
	void *acc;          /* operand 0: keepdims-shaped accumulator */
	const void *x;      /* operand 1: the input */
	const double *max;  /* ReduceLogSumExp's second pass: the per-output maximum */
} ReduceCtx;

/* acc[...] = update(acc, v) over one run. A run with an accumulator step of 0 reduces into one
 * element, kept in a register. Max and Min propagate NaN like numpy. */
#define REDUCE_RUN(name, TA, TX, update)                                                     \
	static void name(void *ctx, const int64_t *off, const int64_t *step, int64_t n)      \
	{                                                                                    \
		const ReduceCtx *c = ctx;                                                    \
		TA *acc = (TA *)c->acc + off[0];                                             \
		const TX *x = (const TX *)c->x + off[1];                                     \
		const double *mx = c->max ? c->max + off[0] : NULL;                          \
		int64_t sa = step[0], sx = step[1];                                          \
		if (sa == 0) {                                                               \
			TA a = acc[0];                                                       \
			double m = mx ? mx[0] : 0;                                           \
			(void)m;                                                             \
			for (int64_t i = 0; i < n; i++) {                                    \
				TA v = (TA)x[i * sx];                                        \
				update;                                                      \
			}                                                                    \
			acc[0] = a;                                                          \
		} else {                                                                     \
			for (int64_t i = 0; i < n; i++) {                                    \
				TA a = acc[i * sa];                                          \
				TA v = (TA)x[i * sx];                                        \
				double m = mx ? mx[i * sa] : 0;                              \
				(void)m;                                                     \
				update;                                                      \
				acc[i * sa] = a;                                             \
			}                                                                    \
		}                                                                            \
	}

REDUCE_RUN(sum_d, double, float, a = ADD(a, v))
REDUCE_RUN(sumsq_d, double, float, a = ADD(a, MUL(v, v)))
REDUCE_RUN(l1_d, double, float, a = ADD(a, ABS(v)))
REDUCE_RUN(prod_d, double, float, a = MUL(a, v))
REDUCE_RUN(max_d, double, float, if (v > a || ISNAN(v)) a = ISNAN(a) ? a : v)
REDUCE_RUN(min_d, double, float, if (v < a || ISNAN(v)) a = ISNAN(a) ? a : v)
REDUCE_RUN(lse_d, double, float, a += exp(v - m))
REDUCE_RUN(sum_i, int64_t, int64_t, a = ADD(a, v))
REDUCE_RUN(sumsq_i, int64_t, int64_t, a = ADD(a, MUL(v, v)))
REDUCE_RUN(l1_i, int64_t, int64_t, a = ADD(a, ABS(v)))
REDUCE_RUN(prod_i, int64_t, int64_t, a = MUL(a, v))
REDUCE_RUN(max_i, int64_t, int64_t, if (v > a) a = v)
REDUCE_RUN(min_i, int64_t, int64_t, if (v < a) a = v)

/* Which axes of x the node reduces (mask), from the optional axes input; *noop when the axes are
 * empty and noop_with_empty_axes is set. Mirrors infer_reduce, which has checked the same. */
static int reduce_axes(const Node *n, const Tensor *x, const Tensor *axes, bool *mask, bool *noop, Diag *d)
{
	int r = x->shape.rank;
	int64_t k = axes ? tensor_numel(axes) : 0;
	*noop = false;
	if (k == 0) {
		*noop = n->attr.reduce.noop_with_empty_axes != 0;
		for (int i = 0; i < r; i++)
			mask[i] = true;
		return 0;
	}
	if (dtype_is_float(axes->dtype))
		return node_error(d, n, "axes must be int64, got %s", dtype_name(axes->dtype));
	for (int i = 0; i < r; i++)
		mask[i] = false;
	for (int64_t i = 0; i < k; i++) {
		int64_t a = ((const int64_t *)axes->data)[i];
		if (a < -r || a >= r)
			return node_error(d, n, "axis %lld is out of range for an input of rank %d", (long long)a, r);
		int ax = (int)(a < 0 ? a + r : a);
		if (mask[ax])
			return node_error(d, n, "axis %lld appears twice in axes", (long long)a);
		mask[ax] = true;
	}
	return 0;
}

/* Walk x once, folding every element into acc (shape keep) with fn. */
static void reduce_walk(const Tensor *x, const Shape *keep, LoopRun fn, void *acc, const double *max)
{
	Loop L;
	loop_init(&L, &x->shape, 2);
	bool ok = loop_set_broadcast(&L, 0, keep);
	(void)ok;
	loop_set_contiguous(&L, 1);
	loop_merge(&L);
	ReduceCtx c = {acc, x->data, max};
	loop_run(&L, fn, &c);
}

static void fill_d(double *p, int64_t n, double v)
{
	for (int64_t i = 0; i < n; i++)
		p[i] = v;
}

/* Floating-point reduction of x (float class, shape reduced per keep) into y (float, numel m). */
static int reduce_float(const Node *n, const Tensor *x, const Shape *keep, int64_t count, float *y, int64_t m, Diag *d)
{
	double *acc = malloc((size_t)(m ? m : 1) * sizeof *acc), *mx = NULL;
	if (acc == NULL)
		return diag_error(d, "out of memory");
	LoopRun fn = NULL;
	double init = 0;
	switch (n->op) {
	case OP_ReduceSum: case OP_ReduceMean: fn = sum_d; break;
	case OP_ReduceSumSquare: case OP_ReduceL2: fn = sumsq_d; break;
	case OP_ReduceL1: fn = l1_d; break;
	case OP_ReduceProd: fn = prod_d; init = 1; break;
	case OP_ReduceMax: fn = max_d; init = -INFINITY; break;
	case OP_ReduceMin: fn = min_d; init = INFINITY; break;
	case OP_ReduceLogSumExp: fn = lse_d; break;
	default: break;
	}
	if (n->op == OP_ReduceLogSumExp) {
		/* log(sum(exp(x))) = max + log(sum(exp(x - max))): no overflow for large x */
		mx = malloc((size_t)(m ? m : 1) * sizeof *mx);
		if (mx == NULL) {
			free(acc);
			return diag_error(d, "out of memory");
		}
		fill_d(mx, m, -INFINITY);
		reduce_walk(x, keep, max_d, mx, NULL);
	}
	fill_d(acc, m, init);
	reduce_walk(x, keep, fn, acc, mx);
	if (n->op == OP_ReduceMean) {
		for (int64_t i = 0; i < m; i++)
			y[i] = (float)(acc[i] / (double)count); /* 0/0 = NaN for an empty set */
	} else if (n->op == OP_ReduceL2) {
		for (int64_t i = 0; i < m; i++)
			y[i] = (float)sqrt(acc[i]);
	} else if (n->op == OP_ReduceLogSumExp) {
		/* an infinite or NaN max is the answer itself (and would make x - max NaN) */
		for (int64_t i = 0; i < m; i++)
			y[i] = (float)(isfinite(mx[i]) ? mx[i] + log(acc[i]) : mx[i]);
	} else {
		for (int64_t i = 0; i < m; i++)
			y[i] = (float)acc[i];
	}
	free(acc);
	free(mx);
	return 0;
}

int ref_reduce(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	bool mask[NNZC_MAX_RANK], noop;
	if (reduce_axes(n, x, n->n_in > 1 ? in[1] : NULL, mask, &noop, d) < 0)
		return -1;
	bool fl = dtype_is_float(x->dtype);
	if (dtype_is_float(y->dtype) != fl)
		return node_error(d, n, "output dtype %s does not match input dtype %s", dtype_name(y->dtype),
				  dtype_name(x->dtype));
	if (noop) {
		if (!shape_equal(&x->shape, &y->shape))
			return node_error(d, n, "output shape does not match the input (no-op reduction)");
		memcpy(y->data, x->data, tensor_nbytes(y));
		return 0;
	}
	Shape keep = x->shape;
	int64_t count = 1;
	for (int i = 0; i < keep.rank; i++)
		if (mask[i]) {
			count *= keep.dim[i]; /* <= numel(x), which fits */
			keep.dim[i] = 1;
		}
	int64_t m = tensor_numel(y);
	if (shape_numel(&keep) != m) {
		char sx[128], sy[128];
		return node_error(d, n, "output shape %s does not fit reducing input %s", shape_str(&y->shape, sy, sizeof sy),
				  shape_str(&x->shape, sx, sizeof sx));
	}

	if (fl || n->op == OP_ReduceL2 || n->op == OP_ReduceLogSumExp) {
		if (fl)
			return reduce_float(n, x, &keep, count, y->data, m, d);
		/* L2 and LogSumExp of integers are computed in floating point, then truncated */
		Tensor xf, yf;
		Shape ys = keep;
		if (tensor_alloc(&xf, DT_F32, &x->shape, d) < 0)
			return -1;
		if (tensor_alloc(&yf, DT_F32, &ys, d) < 0) {
			tensor_free(&xf);
			return -1;
		}
		int64_t nx = tensor_numel(x);
		for (int64_t i = 0; i < nx; i++)
			((float *)xf.data)[i] = (float)((const int64_t *)x->data)[i];
		int rc = reduce_float(n, &xf, &keep, count, yf.data, m, d);
		for (int64_t i = 0; rc == 0 && i < m; i++)
			((int64_t *)y->data)[i] = tensor_get_i(&yf, i);
		tensor_free(&xf);
		tensor_free(&yf);
		if (rc == 0)
			ref_round_result(y);
		return rc;
	}

	int64_t *acc = y->data, init = 0;
	LoopRun fn = NULL;
	switch (n->op) {
	case OP_ReduceSum: case OP_ReduceMean: fn = sum_i; break;
	case OP_ReduceSumSquare: fn = sumsq_i; break;
	case OP_ReduceL1: fn = l1_i; break;
	case OP_ReduceProd: fn = prod_i; init = 1; break;
	case OP_ReduceMax: fn = max_i; init = INT64_MIN; break;
	case OP_ReduceMin: fn = min_i; init = INT64_MAX; break;
	default: return node_error(d, n, "no integer kernel");
	}
	for (int64_t i = 0; i < m; i++)
		acc[i] = init;
	reduce_walk(x, &keep, fn, acc, NULL);
	if (n->op == OP_ReduceMean)
		for (int64_t i = 0; i < m; i++)
			acc[i] = count > 0 ? acc[i] / count : 0; /* truncates; an empty mean is defined as 0 */
	ref_round_result(y);
	return 0;
}

/* ---------------------------------------------------------------- one-axis helpers */

/* x viewed as [outer, len, inner] around axis */
static void split_axis(const Shape *s, int axis, int64_t *outer, int64_t *len, int64_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int i = 0; i < axis; i++)
		*outer *= s->dim[i];
	for (int i = axis + 1; i < s->rank; i++)
		*inner *= s->dim[i];
	*len = s->dim[axis];
}

/* ---------------------------------------------------------------- ArgMax, ArgMin */

/* For each (outer, inner) position, the index along the axis of the best element: the first
 * one, or the last with select_last_index. NaN counts as the largest and the smallest value
 * (numpy's argmax and argmin both return the first NaN). */
#define ARG_REDUCE(name, T, BETTER)                                                                   \
	static void name(const T *x, int64_t *y, T *best, int64_t outer, int64_t len, int64_t inner, bool last) \
	{                                                                                             \
		for (int64_t o = 0; o < outer; o++) {                                                 \
			const T *xo = x + o * len * inner;                                            \
			int64_t *yo = y + o * inner;                                                  \
			for (int64_t i = 0; i < inner; i++) {                                         \
				best[i] = xo[i];                                                      \
				yo[i] = 0;                                                            \
			}                                                                             \
			for (int64_t k = 1; k < len; k++) {                                           \
				const T *row = xo + k * inner;                                        \
				for (int64_t i = 0; i < inner; i++) {                                 \
					T v = row[i], b = best[i];                                    \
					if (BETTER) {                                                 \
						best[i] = v;                                          \
						yo[i] = k;                                            \
					}                                                             \
				}                                                                     \
			}                                                                             \
		}                                                                                     \
	}

ARG_REDUCE(argmax_f, float, v != v ? (b == b || last) : (v > b || (last && v == b)))
ARG_REDUCE(argmin_f, float, v != v ? (b == b || last) : (v < b || (last && v == b)))
ARG_REDUCE(argmax_i, int64_t, v > b || (last && v == b))
ARG_REDUCE(argmin_i, int64_t, v < b || (last && v == b))

int ref_arg_reduce(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.arg_reduce.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(d, n, "%s", tmp.msg);
	int64_t outer, len, inner;
	split_axis(&x->shape, axis, &outer, &len, &inner);
	if (y->dtype != DT_I64 || tensor_numel(y) != outer * inner)
		return node_error(d, n, "output does not fit the input");
	if (outer * inner == 0)
		return 0;
	if (len == 0)
		return node_error(d, n, "cannot take the %s over an empty axis", n->op == OP_ArgMax ? "maximum" : "minimum");
	bool last = n->attr.arg_reduce.select_last_index != 0, mx = n->op == OP_ArgMax;
	void *best = malloc((size_t)inner * 8);
	if (best == NULL)
		return diag_error(d, "out of memory");
	if (dtype_is_float(x->dtype))
		(mx ? argmax_f : argmin_f)(x->data, y->data, best, outer, len, inner, last);
	else
		(mx ? argmax_i : argmin_i)(x->data, y->data, best, outer, len, inner, last);
	free(best);
	return 0;
}

/* ---------------------------------------------------------------- Softmax, LogSoftmax */

/* Over [outer, len, inner]: for each outer slice, the max and the sum of exp(x - max) are
 * accumulated for all inner positions at once, so every pass reads memory contiguously
 * whichever axis is normalised. Subtracting the max keeps exp() from overflowing. */
int ref_softmax(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	if (!dtype_is_float(x->dtype) || !dtype_is_float(y->dtype) || !shape_equal(&x->shape, &y->shape))
		return node_error(d, n, "input and output must be floating-point tensors of the same shape");
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.axis.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(d, n, "%s", tmp.msg);
	int64_t outer, len, inner;
	split_axis(&x->shape, axis, &outer, &len, &inner);
	if (outer * len * inner == 0)
		return 0;
	bool log_out = n->op == OP_LogSoftmax;
	float *mx = malloc((size_t)inner * sizeof *mx);
	double *sum = malloc((size_t)inner * sizeof *sum);
	if (mx == NULL || sum == NULL) {
		free(mx);
		free(sum);
		return diag_error(d, "out of memory");
	}
	for (int64_t o = 0; o < outer; o++) {
		const float *xo = (const float *)x->data + o * len * inner;
		float *yo = (float *)y->data + o * len * inner;
		for (int64_t i = 0; i < inner; i++) {
			mx[i] = xo[i];
			sum[i] = 0;
		}
		for (int64_t k = 1; k < len; k++)
			for (int64_t i = 0; i < inner; i++) {
				float v = xo[k * inner + i];
				if (v > mx[i] || v != v)
					mx[i] = mx[i] != mx[i] ? mx[i] : v;
			}
		for (int64_t k = 0; k < len; k++)
			for (int64_t i = 0; i < inner; i++) {
				float e = expf(xo[k * inner + i] - mx[i]);
				sum[i] += e;
				yo[k * inner + i] = e; /* LogSoftmax overwrites it below */
			}
		if (log_out) {
			for (int64_t i = 0; i < inner; i++)
				sum[i] = log(sum[i]);
			for (int64_t k = 0; k < len; k++)
				for (int64_t i = 0; i < inner; i++)
					yo[k * inner + i] = (float)((double)(xo[k * inner + i] - mx[i]) - sum[i]);
		} else {
			for (int64_t i = 0; i < inner; i++)
				sum[i] = 1.0 / sum[i];
			for (int64_t k = 0; k < len; k++)
				for (int64_t i = 0; i < inner; i++)
					yo[k * inner + i] = (float)(yo[k * inner + i] * sum[i]);
		}
	}
	free(mx);
	free(sum);
	ref_round_result(y);
	return 0;
}
