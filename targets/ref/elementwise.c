/* Reference kernels for elementwise ops: binary and variadic arithmetic with numpy broadcasting,
 * comparisons and logic, Where, unary math and activations, Clip, Cast, Identity, Dropout.
 *
 * Each kernel picks one loop function per call (the switch over the op is outside every loop)
 * and runs it over the runs that loop.c lays out, so equal shapes, scalars and per-channel
 * operands all become long inner loops without dispatch.
 *
 * Integer class (int64) semantics, chosen so that no input can reach undefined behaviour:
 * arithmetic wraps modulo 2^64 (computed in uint64_t); division truncates toward zero as in C,
 * x / 0 is defined as 0 and INT64_MIN / -1 wraps to INT64_MIN; integer Pow is exact repeated
 * squaring (wrapping), with x^(negative) = 1/x^|y| truncated. Results are then rounded to the
 * declared dtype (int8 wraps, u8 wraps, f16 rounds), see ref_round_result. Values of u64 tensors
 * of 2^63 or more are held as negative int64 and so compare and divide as signed. */
#include "loop.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- integer helpers */

static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static inline int64_t wneg(int64_t a) { return (int64_t)(0 - (uint64_t)a); }

static inline int64_t idiv(int64_t a, int64_t b)
{
	if (b == 0)
		return 0;
	if (b == -1)
		return wneg(a);
	return a / b;
}

static int64_t ipow(int64_t x, int64_t y)
{
	if (y < 0) /* 1 / x^|y|, truncated toward zero */
		return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
	int64_t r = 1;
	uint64_t e = (uint64_t)y;
	while (e) {
		if (e & 1)
			r = wmul(r, x);
		x = wmul(x, x);
		e >>= 1;
	}
	return r;
}

/* double -> int64 for integer results computed in floating point: truncate toward zero,
 * saturate out-of-range values and map NaN to 0, so the conversion is never undefined. */
static inline int64_t sat_i64(double v)
{
	if (v != v)
		return 0;
	if (v >= 9223372036854775808.0)
		return INT64_MAX;
	if (v < -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)v;
}

/* ---------------------------------------------------------------- binary loops */

/* o[i] = a[i*sa] op b[i*sb]; the output run is contiguous. The common stride patterns get
 * their own loop so that the compiler can vectorise them. */
typedef void (*BinFn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o, int64_t n);

#define BINARY(name, TA, TB, TO, expr)                                                            \
	static void name(const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, int64_t n) \
	{                                                                                         \
		const TA *a = pa;                                                                 \
		const TB *b = pb;                                                                 \
		TO *o = po;                                                                       \
		if (sa == 1 && sb == 1) {                                                         \
			for (int64_t i = 0; i < n; i++) {                                         \
				TA x = a[i];                                                      \
				TB y = b[i];                                                      \
				o[i] = (expr);                                                    \
			}                                                                         \
		} else if (sa == 1 && sb == 0) {                                                  \
			TB y = b[0];                                                              \
			for (int64_t i = 0; i < n; i++) {                                         \
				TA x = a[i];                                                      \
				o[i] = (expr);                                                    \
			}                                                                         \
		} else if (sa == 0 && sb == 1) {                                                  \
			TA x = a[0];                                                              \
			for (int64_t i = 0; i < n; i++) {                                         \
				TB y = b[i];                                                      \
				o[i] = (expr);                                                    \
			}                                                                         \
		} else {                                                                          \
			for (int64_t i = 0; i < n; i++) {                                         \
				TA x = a[i * sa];                                                 \
				TB y = b[i * sb];                                                 \
				o[i] = (expr);                                                    \
			}                                                                         \
		}                                                                                 \
	}

/* float class; Min/Max propagate NaN like numpy's minimum/maximum */
BINARY(add_f, float, float, float, x + y)
BINARY(sub_f, float, float, float, x - y)
BINARY(mul_f, float, float, float, x * y)
BINARY(div_f, float, float, float, x / y)
BINARY(pow_ff, float, float, float, powf(x, y))
BINARY(pow_fi, float, int64_t, float, (float)pow((double)x, (double)y))
BINARY(prelu_f, float, float, float, x < 0 ? x * y : x)
BINARY(min_f, float, float, float, (x < y || x != x) ? x : y)
BINARY(max_f, float, float, float, (x > y || x != x) ? x : y)
BINARY(eq_f, float, float, int64_t, x == y)
BINARY(lt_f, float, float, int64_t, x < y)
BINARY(gt_f, float, float, int64_t, x > y)
BINARY(le_f, float, float, int64_t, x <= y)
BINARY(ge_f, float, float, int64_t, x >= y)

/* integer class */
BINARY(add_i, int64_t, int64_t, int64_t, wadd(x, y))
BINARY(sub_i, int64_t, int64_t, int64_t, wsub(x, y))
BINARY(mul_i, int64_t, int64_t, int64_t, wmul(x, y))
BINARY(div_i, int64_t, int64_t, int64_t, idiv(x, y))
BINARY(pow_ii, int64_t, int64_t, int64_t, ipow(x, y))
BINARY(pow_if, int64_t, float, int64_t, sat_i64(pow((double)x, (double)y)))
BINARY(prelu_i, int64_t, int64_t, int64_t, x < 0 ? wmul(x, y) : x)
BINARY(min_i, int64_t, int64_t, int64_t, x < y ? x : y)
BINARY(max_i, int64_t, int64_t, int64_t, x > y ? x : y)
BINARY(eq_i, int64_t, int64_t, int64_t, x == y)
BINARY(lt_i, int64_t, int64_t, int64_t, x < y)
BINARY(gt_i, int64_t, int64_t, int64_t, x > y)
BINARY(le_i, int64_t, int64_t, int64_t, x <= y)
BINARY(ge_i, int64_t, int64_t, int64_t, x >= y)
BINARY(and_i, int64_t, int64_t, int64_t, (x != 0) & (y != 0))
BINARY(or_i, int64_t, int64_t, int64_t, (x != 0) | (y != 0))

/* The loop for op on inputs of the given classes; NULL if the op has none for them. */
static BinFn pick_binary(Op op, bool fa, bool fb)
{
	if (op == OP_Pow)
		return fa ? (fb ? pow_ff : pow_fi) : (fb ? pow_if : pow_ii);
	if (fa != fb)
		return NULL;
	switch (op) {
	case OP_Add: case OP_Sum: case OP_Mean: return fa ? add_f : add_i;
	case OP_Sub: return fa ? sub_f : sub_i;
	case OP_Mul: return fa ? mul_f : mul_i;
	case OP_Div: return fa ? div_f : div_i;
	case OP_PRelu: return fa ? prelu_f : prelu_i;
	case OP_Min: return fa ? min_f : min_i;
	case OP_Max: return fa ? max_f : max_i;
	case OP_Equal: return fa ? eq_f : eq_i;
	case OP_Less: return fa ? lt_f : lt_i;
	case OP_Greater: return fa ? gt_f : gt_i;
	case OP_LessOrEqual: return fa ? le_f : le_i;
	case OP_GreaterOrEqual: return fa ? ge_f : ge_i;
	case OP_And: return fa ? NULL : and_i;
	case OP_Or: return fa ? NULL : or_i;
	default: return NULL;
	}
}

/* comparisons and And/Or produce bool (int64 0/1) whatever their inputs */
static bool gives_bool(Op op)
{
	switch (op) {
	case OP_Equal: case OP_Less: case OP_Greater: case OP_LessOrEqual: case OP_GreaterOrEqual:
	case OP_And: case OP_Or:
		return true;
	default:
		return false;
	}
}

typedef struct BinCtx {
	BinFn fn;
	const char *a, *b;
	char *o;
	size_t ea, eb, eo; /* element sizes */
} BinCtx;

static void bin_run(void *ctx, const int64_t *off, const int64_t *step, int64_t n)
{
	const BinCtx *c = ctx;
	c->fn(c->a + (size_t)off[1] * c->ea, step[1], c->b + (size_t)off[2] * c->eb, step[2],
	      c->o + (size_t)off[0] * c->eo, n);
}

static int bcast_error(const Node *n, const Tensor *a, const Tensor *b, const Tensor *o, Diag *d)
{
	char sa[128], sb[128], so[128];
	return node_error(d, n, "inputs of shapes %s and %s do not broadcast to the output shape %s",
			  shape_str(&a->shape, sa, sizeof sa), shape_str(&b->shape, sb, sizeof sb),
			  shape_str(&o->shape, so, sizeof so));
}

/* o = fn(a, b) with a and b broadcast to o's shape. o may be a itself (same shape). */
static int run_binary(const Node *n, BinFn fn, const Tensor *a, const Tensor *b, Tensor *o, Diag *d)
{
	Loop L;
	loop_init(&L, &o->shape, 3);
	loop_set_contiguous(&L, 0);
	if (!loop_set_broadcast(&L, 1, &a->shape) || !loop_set_broadcast(&L, 2, &b->shape))
		return bcast_error(n, a, b, o, d);
	loop_merge(&L);
	BinCtx c = {fn, a->data, b->data, o->data, dtype_compute_size(a->dtype), dtype_compute_size(b->dtype),
		    dtype_compute_size(o->dtype)};
	loop_run(&L, bin_run, &c);
	return 0;
}

static int class_error(const Node *n, const Tensor *a, const Tensor *b, Diag *d)
{
	return node_error(d, n, "no kernel for inputs of dtypes %s and %s", dtype_name(a->dtype), dtype_name(b->dtype));
}

int ref_binary(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *a = in[0], *b = in[1];
	BinFn fn = pick_binary(n->op, dtype_is_float(a->dtype), dtype_is_float(b->dtype));
	if (fn == NULL)
		return class_error(n, a, b, d);
	if (dtype_is_float(out[0]->dtype) != (dtype_is_float(a->dtype) && !gives_bool(n->op)))
		return node_error(d, n, "output dtype %s does not fit input dtype %s", dtype_name(out[0]->dtype),
				  dtype_name(a->dtype));
	if (run_binary(n, fn, a, b, out[0], d) < 0)
		return -1;
	ref_round_result(out[0]);
	return 0;
}

/* Sum, Mean, Min, Max: fold the inputs pairwise into the output, which has the broadcast shape
 * of all of them; Mean divides at the end. */
int ref_variadic(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	Tensor *o = out[0];
	bool fl = dtype_is_float(in[0]->dtype);
	BinFn fn = pick_binary(n->op, fl, fl);
	if (fn == NULL || dtype_is_float(o->dtype) != fl)
		return class_error(n, in[0], o, d);
	for (int i = 1; i < n->n_in; i++)
		if (dtype_is_float(in[i]->dtype) != fl)
			return class_error(n, in[0], in[i], d);
	if (n->n_in == 1) {
		if (!shape_equal(&in[0]->shape, &o->shape))
			return bcast_error(n, in[0], in[0], o, d);
		memcpy(o->data, in[0]->data, tensor_nbytes(o));
	} else {
		if (run_binary(n, fn, in[0], in[1], o, d) < 0)
			return -1;
		for (int i = 2; i < n->n_in; i++)
			if (run_binary(n, fn, o, in[i], o, d) < 0)
				return -1;
	}
	if (n->op == OP_Mean) {
		int64_t cnt = n->n_in, numel = tensor_numel(o);
		if (fl) {
			float *p = o->data;
			for (int64_t i = 0; i < numel; i++)
				p[i] /= (float)cnt;
		} else {
			int64_t *p = o->data;
			for (int64_t i = 0; i < numel; i++)
				p[i] /= cnt;
		}
	}
	ref_round_result(o);
	return 0;
}

/* ---------------------------------------------------------------- Where */

typedef struct WhereCtx {
	const int64_t *c;
	const char *x, *y;
	char *o;
	size_t e;
} WhereCtx;

static void where_run_f(void *ctx, const int64_t *off, const int64_t *step, int64_t n)
{
	const WhereCtx *w = ctx;
	const int64_t *c = w->c + off[1];
	const float *x = (const float *)w->x + off[2], *y = (const float *)w->y + off[3];
	float *o = (float *)w->o + off[0];
	for (int64_t i = 0; i < n; i++)
		o[i] = c[i * step[1]] ? x[i * step[2]] : y[i * step[3]];
}

static void where_run_i(void *ctx, const int64_t *off, const int64_t *step, int64_t n)
{
	const WhereCtx *w = ctx;
	const int64_t *c = w->c + off[1];
	const int64_t *x = (const int64_t *)w->x + off[2], *y = (const int64_t *)w->y + off[3];
	int64_t *o = (int64_t *)w->o + off[0];
	for (int64_t i = 0; i < n; i++)
		o[i] = c[i * step[1]] ? x[i * step[2]] : y[i * step[3]];
}

int ref_where(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *c = in[0], *x = in[1], *y = in[2];
	Tensor *o = out[0];
	bool fl = dtype_is_float(x->dtype);
	if (dtype_is_float(c->dtype))
		return node_error(d, n, "condition must be bool, got %s", dtype_name(c->dtype));
	if (dtype_is_float(y->dtype) != fl || dtype_is_float(o->dtype) != fl)
		return class_error(n, x, y, d);
	Loop L;
	loop_init(&L, &o->shape, 4);
	loop_set_contiguous(&L, 0);
	if (!loop_set_broadcast(&L, 1, &c->shape) || !loop_set_broadcast(&L, 2, &x->shape) ||
	    !loop_set_broadcast(&L, 3, &y->shape)) {
		char sc[128], sx[128], sy[128], so[128];
		return node_error(d, n, "inputs of shapes %s, %s and %s do not broadcast to the output shape %s",
				  shape_str(&c->shape, sc, sizeof sc), shape_str(&x->shape, sx, sizeof sx),
				  shape_str(&y->shape, sy, sizeof sy), shape_str(&o->shape, so, sizeof so));
	}
	loop_merge(&L);
	WhereCtx w = {c->data, x->data, y->data, o->data, dtype_compute_size(o->dtype)};
	loop_run(&L, fl ? where_run_f : where_run_i, &w);
	ref_round_result(o);
	return 0;
}

/* ---------------------------------------------------------------- unary */

/* y[i] = f(x[i]); p holds the op's alpha/beta (LeakyRelu, Elu, Selu, HardSigmoid). */
typedef void (*UnFn)(const void *x, void *y, int64_t n, const UnaryAttrs *p);

#define UNARY(name, T, expr)                                                      \
	static void name(const void *px, void *py, int64_t n, const UnaryAttrs *p) \
	{                                                                         \
		const T *x = px;                                                  \
		T *y = py;                                                        \
		(void)p;                                                          \
		for (int64_t i = 0; i < n; i++) {                                 \
			T v = x[i];                                               \
			y[i] = (expr);                                            \
		}                                                                 \
	}

static inline float sigmoidf(float v)
{
	/* exp of a non-positive argument only, so neither branch overflows */
	if (v >= 0)
		return 1.0f / (1.0f + expf(-v));
	float e = expf(v);
	return e / (1.0f + e);
}

static inline float hard_sigmoidf(float v, float alpha, float beta)
{
	float t = alpha * v + beta;
	return t < 0 ? 0 : t > 1 ? 1 : t;
}

UNARY(sqrt_f, float, sqrtf(v))
UNARY(exp_f, float, expf(v))
UNARY(log_f, float, logf(v))
UNARY(neg_f, float, -v)
UNARY(abs_f, float, fabsf(v))
UNARY(reciprocal_f, float, 1.0f / v)
UNARY(erf_f, float, erff(v))
UNARY(floor_f, float, floorf(v))
UNARY(ceil_f, float, ceilf(v))
UNARY(round_f, float, nearbyintf(v)) /* default rounding mode: halves to even, as ONNX says */
UNARY(sign_f, float, v > 0 ? 1.0f : v < 0 ? -1.0f : v) /* keeps NaN and signed zero */
UNARY(sin_f, float, sinf(v))
UNARY(cos_f, float, cosf(v))
UNARY(relu_f, float, v < 0 ? 0.0f : v) /* NaN stays NaN */
UNARY(leaky_relu_f, float, v < 0 ? p->alpha * v : v)
UNARY(elu_f, float, v < 0 ? p->alpha * expm1f(v) : v)
UNARY(selu_f, float, v <= 0 ? p->beta * (p->alpha * expf(v) - p->alpha) : p->beta * v)
UNARY(sigmoid_f, float, sigmoidf(v))
UNARY(tanh_f, float, tanhf(v))
UNARY(hard_sigmoid_f, float, hard_sigmoidf(v, p->alpha, p->beta))
UNARY(hard_swish_f, float, v * hard_sigmoidf(v, 1.0f / 6.0f, 0.5f))
UNARY(softplus_f, float, v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v)))
UNARY(softsign_f, float, v / (1.0f + fabsf(v)))

UNARY(neg_i, int64_t, wneg(v))
UNARY(abs_i, int64_t, v < 0 ? wneg(v) : v)
UNARY(sign_i, int64_t, (v > 0) - (v < 0))
UNARY(relu_i, int64_t, v < 0 ? 0 : v)
UNARY(not_i, int64_t, v == 0)

static UnFn pick_unary(Op op, bool fl)
{
	switch (op) {
	case OP_Sqrt: return fl ? sqrt_f : NULL;
	case OP_Exp: return fl ? exp_f : NULL;
	case OP_Log: return fl ? log_f : NULL;
	case OP_Neg: return fl ? neg_f : neg_i;
	case OP_Abs: return fl ? abs_f : abs_i;
	case OP_Reciprocal: return fl ? reciprocal_f : NULL;
	case OP_Erf: return fl ? erf_f : NULL;
	case OP_Floor: return fl ? floor_f : NULL;
	case OP_Ceil: return fl ? ceil_f : NULL;
	case OP_Round: return fl ? round_f : NULL;
	case OP_Sign: return fl ? sign_f : sign_i;
	case OP_Sin: return fl ? sin_f : NULL;
	case OP_Cos: return fl ? cos_f : NULL;
	case OP_Not: return fl ? NULL : not_i;
	case OP_Relu: return fl ? relu_f : relu_i;
	case OP_LeakyRelu: return fl ? leaky_relu_f : NULL;
	case OP_Elu: return fl ? elu_f : NULL;
	case OP_Selu: return fl ? selu_f : NULL;
	case OP_Sigmoid: return fl ? sigmoid_f : NULL;
	case OP_Tanh: return fl ? tanh_f : NULL;
	case OP_HardSigmoid: return fl ? hard_sigmoid_f : NULL;
	case OP_HardSwish: return fl ? hard_swish_f : NULL;
	case OP_Softplus: return fl ? softplus_f : NULL;
	case OP_Softsign: return fl ? softsign_f : NULL;
	default: return NULL;
	}
}

static int same_shape_check(const Node *n, const Tensor *x, const Tensor *y, Diag *d)
{
	if (shape_equal(&x->shape, &y->shape) && dtype_is_float(x->dtype) == dtype_is_float(y->dtype))
		return 0;
	char sx[128], sy[128];
	return node_error(d, n, "input %s %s does not match output %s %s", dtype_name(x->dtype),
			  shape_str(&x->shape, sx, sizeof sx), dtype_name(y->dtype), shape_str(&y->shape, sy, sizeof sy));
}

int ref_unary(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	UnFn fn = pick_unary(n->op, dtype_is_float(x->dtype));
	if (fn == NULL)
		return node_error(d, n, "no kernel for input dtype %s", dtype_name(x->dtype));
	if (same_shape_check(n, x, y, d) < 0)
		return -1;
	fn(x->data, y->data, tensor_numel(y), &n->attr.unary);
	ref_round_result(y);
	return 0;
}

/* ---------------------------------------------------------------- Clip */

/* The bound from optional input i: absent means unbounded; it must hold one element. */
static int clip_bound(const Node *n, Tensor *const *in, int i, Tensor *bound, Diag *d)
{
	if (n->n_in <= i || in[i] == NULL) {
		bound->data = NULL;
		return 0;
	}
	if (tensor_numel(in[i]) != 1) {
		char s[128];
		return node_error(d, n, "%s must be a scalar, got shape %s", i == 1 ? "min" : "max",
				  shape_str(&in[i]->shape, s, sizeof s));
	}
	if (dtype_is_float(in[i]->dtype) != dtype_is_float(in[0]->dtype))
		return class_error(n, in[0], in[i], d);
	*bound = *in[i];
	return 0;
}

int ref_clip(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0], lo, hi;
	if (same_shape_check(n, x, y, d) < 0 || clip_bound(n, in, 1, &lo, d) < 0 || clip_bound(n, in, 2, &hi, d) < 0)
		return -1;
	int64_t numel = tensor_numel(y);
	/* min > max gives max everywhere, as the spec says: the max bound is applied last */
	if (dtype_is_float(x->dtype)) {
		float l = lo.data ? *(const float *)lo.data : -INFINITY;
		float h = hi.data ? *(const float *)hi.data : INFINITY;
		const float *px = x->data;
		float *py = y->data;
		for (int64_t i = 0; i < numel; i++) {
			float v = px[i] < l ? l : px[i]; /* comparisons with NaN are false: NaN passes */
			py[i] = v > h ? h : v;
		}
	} else {
		int64_t l = lo.data ? *(const int64_t *)lo.data : INT64_MIN;
		int64_t h = hi.data ? *(const int64_t *)hi.data : INT64_MAX;
		const int64_t *px = x->data;
		int64_t *py = y->data;
		for (int64_t i = 0; i < numel; i++) {
			int64_t v = px[i] < l ? l : px[i];
			py[i] = v > h ? h : v;
		}
	}
	ref_round_result(y);
	return 0;
}

/* ---------------------------------------------------------------- Cast */

/* float -> integer dtype t. C leaves out-of-range conversions undefined, and ONNX leaves the
 * result unspecified; nnzc defines it: truncate toward zero, saturate to t's range (so 300.0 to
 * u8 is 255, -1e30 to i32 is INT32_MIN, +inf to i64 is INT64_MAX) and map NaN to 0. To bool,
 * every non-zero value including NaN is true (as numpy's astype(bool)). */
static void float_to_int(const float *x, int64_t *y, int64_t n, DType t)
{
	double lo = 0, hi = 0;
	switch (t) {
	case DT_BOOL:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] != 0;
		return;
	case DT_I64:
		for (int64_t i = 0; i < n; i++)
			y[i] = sat_i64(x[i]);
		return;
	case DT_U64:
		/* 2^64 - 1 is not a double: compare against 2^64 and build the value in uint64 */
		for (int64_t i = 0; i < n; i++) {
			double v = x[i];
			y[i] = v >= 18446744073709551616.0 ? (int64_t)UINT64_MAX : v > 0 ? (int64_t)(uint64_t)v : 0;
		}
		return;
	case DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
	case DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
	case DT_I32: lo = INT32_MIN; hi = INT32_MAX; break;
	case DT_U8: hi = UINT8_MAX; break;
	case DT_U16: hi = UINT16_MAX; break;
	case DT_U32: hi = UINT32_MAX; break;
	default: assert(!"float_to_int: not an integer dtype"); return;
	}
	for (int64_t i = 0; i < n; i++) {
		double v = x[i];
		y[i] = v != v ? 0 : (int64_t)(v < lo ? lo : v > hi ? hi : trunc(v));
	}
}

int ref_cast(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	DType to = y->dtype;
	if (!shape_equal(&x->shape, &y->shape)) {
		char sx[128], sy[128];
		return node_error(d, n, "input shape %s does not match output shape %s", shape_str(&x->shape, sx, sizeof sx),
				  shape_str(&y->shape, sy, sizeof sy));
	}
	int64_t numel = tensor_numel(y);
	bool ffrom = dtype_is_float(x->dtype), fto = dtype_is_float(to);
	if (ffrom == fto) {
		/* same class: copy, then narrow (f16/bf16 rounding, integer wrap-around as numpy does) */
		memcpy(y->data, x->data, tensor_nbytes(y));
		if (numel > 0)
			dtype_round(to, y->data, (size_t)numel);
	} else if (ffrom) {
		float_to_int(x->data, y->data, numel, to);
	} else {
		const int64_t *px = x->data;
		float *py = y->data;
		if (x->dtype == DT_U64) /* held as int64 bits */
			for (int64_t i = 0; i < numel; i++)
				py[i] = (float)(uint64_t)px[i];
		else
			for (int64_t i = 0; i < numel; i++)
				py[i] = (float)px[i];
		if (numel > 0)
			dtype_round(to, y->data, (size_t)numel);
	}
	return 0;
}

/* ---------------------------------------------------------------- Identity, Dropout */

int ref_identity(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	if (same_shape_check(n, in[0], out[0], d) < 0)
		return -1;
	memcpy(out[0]->data, in[0]->data, tensor_nbytes(out[0]));
	return 0;
}

/* Inference only: the output is the input and the mask all true. Training mode with a non-zero
 * ratio would need a random mask that no test can reproduce, so it is reported, not faked. */
int ref_dropout(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	double ratio = 0.5;
	if (n->n_in > 1 && in[1]) {
		if (tensor_numel(in[1]) != 1)
			return node_error(d, n, "ratio must be a scalar");
		ratio = tensor_get_f(in[1], 0);
		if (!(ratio >= 0 && ratio < 1))
			return node_error(d, n, "ratio %g is not in [0, 1)", ratio);
	}
	if (n->n_in > 2 && in[2]) {
		if (tensor_numel(in[2]) != 1)
			return node_error(d, n, "training_mode must be a scalar");
		if (tensor_get_i(in[2], 0) != 0 && ratio != 0)
			return node_error(d, n, "training mode (random dropout) is not supported; only inference");
	}
	if (same_shape_check(n, in[0], out[0], d) < 0)
		return -1;
	memcpy(out[0]->data, in[0]->data, tensor_nbytes(out[0]));
	if (n->n_out > 1 && out[1] && out[1]->data) {
		int64_t numel = tensor_numel(out[1]);
		int64_t *m = out[1]->data;
		if (dtype_is_float(out[1]->dtype))
			return node_error(d, n, "mask must be bool, got %s", dtype_name(out[1]->dtype));
		for (int64_t i = 0; i < numel; i++)
			m[i] = 1;
	}
	return 0;
}
