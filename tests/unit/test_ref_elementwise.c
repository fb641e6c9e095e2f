/* Elementwise, reduction and softmax ops: shape inference (compiler/infer_elementwise.c) and the
 * reference kernels (targets/ref/elementwise.c, reduce.c, loop.c), on tiny hand-checked graphs. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define SCALAR shape_make(0, NULL)

static Value *cf(Graph *g, DType t, Shape s, const float *v)
{
	Diag d = {0};
	Value *x = graph_add_constant(g, NULL, t, &s, &d);
	ck_assert_ptr_nonnull(x);
	memcpy(x->data, v, (size_t)shape_numel(&s) * sizeof(float));
	return x;
}

static Value *ci(Graph *g, DType t, Shape s, const int64_t *v)
{
	Diag d = {0};
	Value *x = graph_add_constant(g, NULL, t, &s, &d);
	ck_assert_ptr_nonnull(x);
	if (v != NULL && shape_numel(&s) > 0)
		memcpy(x->data, v, (size_t)shape_numel(&s) * sizeof(int64_t));
	return x;
}

/* The node's output 0 after inference and evaluation; the caller frees it. */
static Tensor eval1(Node *n)
{
	Diag d = {0};
	ck_assert_msg(infer_node(n, &d) == 0, "infer: %s", d.msg);
	Tensor out[4];
	ck_assert_msg(ref_eval_node(n, out, &d) == 0, "eval: %s", d.msg);
	for (int i = 1; i < n->n_out; i++)
		tensor_free(&out[i]);
	return out[0];
}

static Node *node(Graph *g, Op op, int nin, Value **in) { return graph_add_node(g, op, NULL, nin, in, 1); }

static void expect_shape(const Shape *s, int rank, const int64_t *dims)
{
	char buf[128];
	ck_assert_msg(s->rank == rank, "rank %d, want %d (%s)", s->rank, rank, shape_str(s, buf, sizeof buf));
	for (int i = 0; i < rank; i++)
		ck_assert_msg(s->dim[i] == dims[i], "dim %d is %lld, want %lld (%s)", i, (long long)s->dim[i],
			      (long long)dims[i], shape_str(s, buf, sizeof buf));
}
#define EXPECT_SHAPE(s, ...) \
	expect_shape((s), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void expect_f(const Tensor *t, const float *want, int64_t n, float tol)
{
	ck_assert_int_eq(tensor_numel(t), n);
	ck_assert(dtype_is_float(t->dtype));
	for (int64_t i = 0; i < n; i++) {
		float got = ((float *)t->data)[i];
		if (isnan(want[i]))
			ck_assert_msg(isnan(got), "[%lld]: %g, want nan", (long long)i, got);
		else
			ck_assert_msg(fabsf(got - want[i]) <= tol * (1 + fabsf(want[i])) ||
					      (isinf(want[i]) && got == want[i]),
				      "[%lld]: %.9g, want %.9g", (long long)i, got, want[i]);
	}
}

static void expect_i(const Tensor *t, const int64_t *want, int64_t n)
{
	ck_assert_int_eq(tensor_numel(t), n);
	ck_assert(!dtype_is_float(t->dtype));
	for (int64_t i = 0; i < n; i++)
		ck_assert_msg(((int64_t *)t->data)[i] == want[i], "[%lld]: %lld, want %lld", (long long)i,
			      (long long)((int64_t *)t->data)[i], (long long)want[i]);
}

/* inference must fail with a message containing `needle` */
static void expect_infer_error(Node *n, const char *needle)
{
	Diag d = {0};
	ck_assert_int_eq(infer_node(n, &d), -1);
	ck_assert_msg(strstr(d.msg, needle) != NULL, "message '%s' lacks '%s'", d.msg, needle);
	ck_assert_msg(strstr(d.msg, n->name) != NULL, "message '%s' does not name the node", d.msg);
}

/* ---------------------------------------------------------------- broadcasting arithmetic */

START_TEST(add_broadcast_shapes)
{
	Graph *g = graph_new("t");
	/* [2,3] + [3] */
	Value *a = cf(g, DT_F32, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
	Value *b = cf(g, DT_F32, SHAPE(3), (float[]){10, 20, 30});
	Tensor t = eval1(node(g, OP_Add, 2, (Value *[]){a, b}));
	EXPECT_SHAPE(&t.shape, 2, 3);
	expect_f(&t, (float[]){11, 22, 33, 14, 25, 36}, 6, 0);
	tensor_free(&t);
	/* [2,1] - [1,3]: both sides broadcast */
	Value *c = cf(g, DT_F32, SHAPE(2, 1), (float[]){1, 2});
	Value *e = cf(g, DT_F32, SHAPE(1, 3), (float[]){10, 20, 30});
	t = eval1(node(g, OP_Sub, 2, (Value *[]){c, e}));
	EXPECT_SHAPE(&t.shape, 2, 3);
	expect_f(&t, (float[]){-9, -19, -29, -8, -18, -28}, 6, 0);
	tensor_free(&t);
	/* per-channel [1,2,2,2] * [2,1,1] */
	Value *x = cf(g, DT_F32, SHAPE(1, 2, 2, 2), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
	Value *s = cf(g, DT_F32, SHAPE(2, 1, 1), (float[]){10, -1});
	t = eval1(node(g, OP_Mul, 2, (Value *[]){x, s}));
	EXPECT_SHAPE(&t.shape, 1, 2, 2, 2);
	expect_f(&t, (float[]){10, 20, 30, 40, -5, -6, -7, -8}, 8, 0);
	tensor_free(&t);
	/* scalar on the left, middle-axis broadcast on the right */
	Value *k = cf(g, DT_F32, SCALAR, (float[]){12});
	Value *m = cf(g, DT_F32, SHAPE(2, 1, 2), (float[]){1, 2, 3, 4});
	t = eval1(node(g, OP_Div, 2, (Value *[]){k, m}));
	EXPECT_SHAPE(&t.shape, 2, 1, 2);
	expect_f(&t, (float[]){12, 6, 4, 3}, 4, 1e-7f);
	tensor_free(&t);
	/* [2,3,2] + [3,1]: inner broadcast with a strided outer walk */
	Value *p = cf(g, DT_F32, SHAPE(2, 3, 2), (float[]){0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
	Value *q = cf(g, DT_F32, SHAPE(3, 1), (float[]){1, 2, 3});
	t = eval1(node(g, OP_Add, 2, (Value *[]){p, q}));
	expect_f(&t, (float[]){1, 1, 2, 2, 3, 3, 2, 2, 3, 3, 4, 4}, 12, 0);
	tensor_free(&t);
	graph_free(g);
}
END_TEST

START_TEST(broadcast_errors_and_unknowns)
{
	Graph *g = graph_new("t");
	Shape s23 = SHAPE(2, 3), s4 = SHAPE(4), su = shape_unknown(), sq3 = SHAPE(-1, 3), s41 = SHAPE(4, 1);
	Value *a = graph_add_value(g, "a", DT_F32, &s23);
	Value *b = graph_add_value(g, "b", DT_F32, &s4);
	expect_infer_error(node(g, OP_Add, 2, (Value *[]){a, b}), "[2,3]");
	Value *i = graph_add_value(g, "i", DT_I64, &s23);
	expect_infer_error(node(g, OP_Add, 2, (Value *[]){a, i}), "i64");
	/* unknown rank gives unknown rank; unknown dims propagate or resolve */
	Value *u = graph_add_value(g, "u", DT_F32, &su);
	Diag d = {0};
	Node *n = node(g, OP_Mul, 2, (Value *[]){a, u});
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(n->out[0]->shape.rank, -1);
	Value *q = graph_add_value(g, "q", DT_F32, &sq3);
	Value *r = graph_add_value(g, "r", DT_F32, &s41);
	n = node(g, OP_Add, 2, (Value *[]){q, r});
	ck_assert_int_eq(infer_node(n, &d), 0);
	EXPECT_SHAPE(&n->out[0]->shape, 4, 3);
	n = node(g, OP_Add, 2, (Value *[]){q, a});
	ck_assert_int_eq(infer_node(n, &d), 0);
	EXPECT_SHAPE(&n->out[0]->shape, 2, 3);
	Shape s13 = SHAPE(1, 3);
	Value *o = graph_add_value(g, "o", DT_F32, &s13);
	n = node(g, OP_Add, 2, (Value *[]){q, o});
	ck_assert_int_eq(infer_node(n, &d), 0);
	EXPECT_SHAPE(&n->out[0]->shape, -1, 3);
	/* comparisons are bool */
	n = node(g, OP_Less, 2, (Value *[]){q, o});
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(n->out[0]->dtype, DT_BOOL);
	graph_free(g);
}
END_TEST

START_TEST(integer_arithmetic)
{
	Graph *g = graph_new("t");
	Value *a = ci(g, DT_I64, SHAPE(7), (int64_t[]){7, -7, 7, -7, 5, INT64_MIN, 0});
	Value *b = ci(g, DT_I64, SHAPE(7), (int64_t[]){2, 2, -2, -2, 0, -1, 0});
	Tensor t = eval1(node(g, OP_Div, 2, (Value *[]){a, b}));
	ck_assert_int_eq(t.dtype, DT_I64);
	expect_i(&t, (int64_t[]){3, -3, -3, 3, 0, INT64_MIN, 0}, 7); /* truncation; x/0 = 0 */
	tensor_free(&t);
	Value *big = ci(g, DT_I64, SHAPE(2), (int64_t[]){INT64_MAX, INT64_MIN});
	Value *one = ci(g, DT_I64, SCALAR, (int64_t[]){1});
	t = eval1(node(g, OP_Add, 2, (Value *[]){big, one}));
	expect_i(&t, (int64_t[]){INT64_MIN, INT64_MIN + 1}, 2); /* wraps, no UB */
	tensor_free(&t);
	/* int8 wraps to its own range */
	Value *c = ci(g, DT_I8, SHAPE(2), (int64_t[]){100, -100});
	Value *e = ci(g, DT_I8, SHAPE(2), (int64_t[]){100, -100});
	t = eval1(node(g, OP_Add, 2, (Value *[]){c, e}));
	ck_assert_int_eq(t.dtype, DT_I8);
	expect_i(&t, (int64_t[]){-56, 56}, 2);
	tensor_free(&t);
	/* u8 subtraction wraps */
	Value *u = ci(g, DT_U8, SHAPE(1), (int64_t[]){3});
	Value *v = ci(g, DT_U8, SHAPE(1), (int64_t[]){5});
	t = eval1(node(g, OP_Sub, 2, (Value *[]){u, v}));
	expect_i(&t, (int64_t[]){254}, 1);
	tensor_free(&t);
	/* shape arithmetic: [2,3,4] * 2 with min/max */
	Value *s = ci(g, DT_I64, SHAPE(3), (int64_t[]){2, 3, 4});
	Value *two = ci(g, DT_I64, SHAPE(1), (int64_t[]){3});
	t = eval1(node(g, OP_Max, 2, (Value *[]){s, two}));
	expect_i(&t, (int64_t[]){3, 3, 4}, 3);
	tensor_free(&t);
	t = eval1(node(g, OP_Equal, 2, (Value *[]){s, two}));
	ck_assert_int_eq(t.dtype, DT_BOOL);
	expect_i(&t, (int64_t[]){0, 1, 0}, 3);
	tensor_free(&t);
	graph_free(g);
}
END_TEST

START_TEST(pow_types)
{
	Graph *g = graph_new("t");
	Value *xf = cf(g, DT_F32, SHAPE(3), (float[]){1, 2, 3});
	Value *yi = ci(g, DT_I64, SHAPE(3), (int64_t[]){4, 5, 6});
	Value *xi = ci(g, DT_I64, SHAPE(4), (int64_t[]){1, 2, 3, -2});
	Value *yf = cf(g, DT_F32, SHAPE(4), (float[]){4, 5, 0.5f, 3});
	Value *yn = ci(g, DT_I64, SHAPE(4), (int64_t[]){-1, -1, 2, 63});
	Tensor t = eval1(node(g, OP_Pow, 2, (Value *[]){xf, yi}));
	ck_assert_int_eq(t.dtype, DT_F32);
	expect_f(&t, (float[]){1, 32, 729}, 3, 0);
	tensor_free(&t);
	t = eval1(node(g, OP_Pow, 2, (Value *[]){xi, yf}));
	ck_assert_int_eq(t.dtype, DT_I64);
	expect_i(&t, (int64_t[]){1, 32, 1, -8}, 4); /* 3^0.5 truncates to 1 */
	tensor_free(&t);
	t = eval1(node(g, OP_Pow, 2, (Value *[]){xi, yn}));
	expect_i(&t, (int64_t[]){1, 0, 9, INT64_MIN}, 4); /* (-2)^63 wraps exactly */
	tensor_free(&t);
	graph_free(g);
}
END_TEST

START_TEST(variadic_and_prelu)
{
	Graph *g = graph_new("t");
	Value *a = cf(g, DT_F32, SHAPE(2, 2), (float[]){1, 2, 3, 4});
	Value *b = cf(g, DT_F32, SHAPE(2), (float[]){10, 20});
	Value *c = cf(g, DT_F32, SCALAR, (float[]){100});
	Tensor t = eval1(node(g, OP_Sum, 3, (Value *[]){a, b, c}));
	EXPECT_SHAPE(&t.shape, 2, 2);
	expect_f(&t, (float[]){111, 122, 113, 124}, 4, 0);
	tensor_free(&t);
	t = eval1(node(g, OP_Mean, 3, (Value *[]){a, b, c}));
	expect_f(&t, (float[]){37, 122.0f / 3, 113.0f / 3, 124.0f / 3}, 4, 1e-6f);
	tensor_free(&t);
	t = eval1(node(g, OP_Min, 1, (Value *[]){a}));
	expect_f(&t, (float[]){1, 2, 3, 4}, 4, 0);
	tensor_free(&t);
	/* broadcasting the first input up to the later ones */
	t = eval1(node(g, OP_Max, 2, (Value *[]){c, a}));
	expect_f(&t, (float[]){100, 100, 100, 100}, 4, 0);
	tensor_free(&t);
	/* NaN propagates through Max, like numpy.maximum */
	Value *nan = cf(g, DT_F32, SHAPE(2), (float[]){NAN, 1});
	Value *z = cf(g, DT_F32, SHAPE(2), (float[]){0, NAN});
	t = eval1(node(g, OP_Max, 2, (Value *[]){nan, z}));
	expect_f(&t, (float[]){NAN, NAN}, 2, 0);
	tensor_free(&t);
	Value *ii = ci(g, DT_I32, SHAPE(3), (int64_t[]){5, -1, 7});
	Value *jj = ci(g, DT_I32, SHAPE(3), (int64_t[]){2, 3, 9});
	t = eval1(node(g, OP_Max, 2, (Value *[]){ii, jj}));
	ck_assert_int_eq(t.dtype, DT_I32);
	expect_i(&t, (int64_t[]){5, 3, 9}, 3);
	tensor_free(&t);
	/* PRelu: slope [2,1,1] broadcasts to X [1,2,1,2]; a slope larger than X is rejected */
	Value *x = cf(g, DT_F32, SHAPE(1, 2, 1, 2), (float[]){-1, 2, -3, 4});
	Value *s = cf(g, DT_F32, SHAPE(2, 1, 1), (float[]){0.5f, 0.25f});
	t = eval1(node(g, OP_PRelu, 2, (Value *[]){x, s}));
	EXPECT_SHAPE(&t.shape, 1, 2, 1, 2);
	expect_f(&t, (float[]){-0.5f, 2, -0.75f, 4}, 4, 0);
	tensor_free(&t);
	Value *wide = cf(g, DT_F32, SHAPE(2, 2), (float[]){1, 1, 1, 1});
	Value *thin = cf(g, DT_F32, SHAPE(2), (float[]){1, 1});
	expect_infer_error(node(g, OP_PRelu, 2, (Value *[]){thin, wide}), "does not broadcast");
	graph_free(g);
}
END_TEST

START_TEST(where_and_logic)
{
	Graph *g = graph_new("t");
	Value *c = ci(g, DT_BOOL, SHAPE(2, 1), (int64_t[]){1, 0});
	Value *x = cf(g, DT_F32, SHAPE(3), (float[]){1, 2, 3});
	Value *y = cf(g, DT_F32, SCALAR, (float[]){-1});
	Tensor t = eval1(node(g, OP_Where, 3, (Value *[]){c, x, y}));
	EXPECT_SHAPE(&t.shape, 2, 3);
	expect_f(&t, (float[]){1, 2, 3, -1, -1, -1}, 6, 0);
	tensor_free(&t);
	Value *xi = ci(g, DT_I64, SHAPE(2, 1), (int64_t[]){7, 8});
	Value *yi = ci(g, DT_I64, SHAPE(1, 2), (int64_t[]){-7, -8});
	Value *c2 = ci(g, DT_BOOL, SHAPE(2), (int64_t[]){0, 1});
	t = eval1(node(g, OP_Where, 3, (Value *[]){c2, xi, yi}));
	expect_i(&t, (int64_t[]){-7, 7, -7, 8}, 4);
	tensor_free(&t);
	Value *p = ci(g, DT_BOOL, SHAPE(4), (int64_t[]){0, 0, 1, 1});
	Value *q = ci(g, DT_BOOL, SHAPE(4), (int64_t[]){0, 1, 0, 1});
	t = eval1(node(g, OP_And, 2, (Value *[]){p, q}));
	ck_assert_int_eq(t.dtype, DT_BOOL);
	expect_i(&t, (int64_t[]){0, 0, 0, 1}, 4);
	tensor_free(&t);
	t = eval1(node(g, OP_Or, 2, (Value *[]){p, q}));
	expect_i(&t, (int64_t[]){0, 1, 1, 1}, 4);
	tensor_free(&t);
	t = eval1(node(g, OP_Not, 1, (Value *[]){p}));
	expect_i(&t, (int64_t[]){1, 1, 0, 0}, 4);
	tensor_free(&t);
	Value *f = cf(g, DT_F32, SHAPE(3), (float[]){1, 2, 3});
	Value *h = cf(g, DT_F32, SHAPE(3), (float[]){2, 2, 2});
	t = eval1(node(g, OP_GreaterOrEqual, 2, (Value *[]){f, h}));
	expect_i(&t, (int64_t[]){0, 1, 1}, 3);
	tensor_free(&t);
	expect_infer_error(node(g, OP_Where, 3, (Value *[]){f, x, y}), "condition");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- unary, Clip */

START_TEST(unary_ops)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, DT_F32, SHAPE(5), (float[]){0.5f, 1.5f, 2.5f, -0.5f, -2.5f});
	Tensor t = eval1(node(g, OP_Round, 1, (Value *[]){x}));
	expect_f(&t, (float[]){0, 2, 2, -0.0f, -2}, 5, 0); /* halves to even */
	tensor_free(&t);
	Value *e = cf(g, DT_F32, SHAPE(4), (float[]){-200, 0, 200, NAN});
	t = eval1(node(g, OP_Sigmoid, 1, (Value *[]){e}));
	expect_f(&t, (float[]){0, 0.5f, 1, NAN}, 4, 0);
	tensor_free(&t);
	t = eval1(node(g, OP_Softplus, 1, (Value *[]){e}));
	expect_f(&t, (float[]){0, logf(2), 200, NAN}, 4, 1e-6f);
	tensor_free(&t);
	t = eval1(node(g, OP_Relu, 1, (Value *[]){e}));
	expect_f(&t, (float[]){0, 0, 200, NAN}, 4, 0);
	tensor_free(&t);
	Node *lr = node(g, OP_LeakyRelu, 1, (Value *[]){e});
	lr->attr.unary.alpha = 0.1f;
	t = eval1(lr);
	expect_f(&t, (float[]){-20, 0, 200, NAN}, 4, 1e-6f);
	tensor_free(&t);
	Value *h = cf(g, DT_F32, SHAPE(4), (float[]){-4, -1, 1, 4});
	t = eval1(node(g, OP_HardSwish, 1, (Value *[]){h}));
	expect_f(&t, (float[]){0, -1.0f / 3, 2.0f / 3, 4}, 4, 1e-6f);
	tensor_free(&t);
	t = eval1(node(g, OP_Selu, 1, (Value *[]){h}));
	float al = 1.67326319217681884765625f, ga = 1.05070102214813232421875f;
	expect_f(&t, (float[]){ga * al * (expf(-4) - 1), ga * al * (expf(-1) - 1), ga, 4 * ga}, 4, 1e-6f);
	tensor_free(&t);
	t = eval1(node(g, OP_Elu, 1, (Value *[]){h}));
	expect_f(&t, (float[]){expf(-4) - 1, expf(-1) - 1, 1, 4}, 4, 1e-6f);
	tensor_free(&t);
	/* integer Abs/Neg/Sign, INT64_MIN wraps */
	Value *i = ci(g, DT_I64, SHAPE(4), (int64_t[]){-3, 0, 5, INT64_MIN});
	t = eval1(node(g, OP_Abs, 1, (Value *[]){i}));
	expect_i(&t, (int64_t[]){3, 0, 5, INT64_MIN}, 4);
	tensor_free(&t);
	t = eval1(node(g, OP_Neg, 1, (Value *[]){i}));
	expect_i(&t, (int64_t[]){3, 0, -5, INT64_MIN}, 4);
	tensor_free(&t);
	t = eval1(node(g, OP_Sign, 1, (Value *[]){i}));
	expect_i(&t, (int64_t[]){-1, 0, 1, -1}, 4);
	tensor_free(&t);
	expect_infer_error(node(g, OP_Sqrt, 1, (Value *[]){i}), "floating-point");
	/* f16 results are rounded to f16 */
	Value *hf = cf(g, DT_F16, SHAPE(1), (float[]){1.0f});
	Value *tiny = cf(g, DT_F16, SHAPE(1), (float[]){0.0001f});
	t = eval1(node(g, OP_Add, 2, (Value *[]){hf, tiny}));
	ck_assert_int_eq(t.dtype, DT_F16);
	expect_f(&t, (float[]){1.0f}, 1, 0);
	tensor_free(&t);
	graph_free(g);
}
END_TEST

START_TEST(clip)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, DT_F32, SHAPE(5), (float[]){-5, -1, 0, 1, 5});
	Value *lo = cf(g, DT_F32, SCALAR, (float[]){-2});
	Value *hi = cf(g, DT_F32, SCALAR, (float[]){2});
	Tensor t = eval1(node(g, OP_Clip, 3, (Value *[]){x, lo, hi}));
	expect_f(&t, (float[]){-2, -1, 0, 1, 2}, 5, 0);
	tensor_free(&t);
	/* max only (min omitted) */
	t = eval1(node(g, OP_Clip, 3, (Value *[]){x, NULL, hi}));
	expect_f(&t, (float[]){-5, -1, 0, 1, 2}, 5, 0);
	tensor_free(&t);
	/* min > max: everything becomes max */
	t = eval1(node(g, OP_Clip, 3, (Value *[]){x, hi, lo}));
	expect_f(&t, (float[]){-2, -2, -2, -2, -2}, 5, 0);
	tensor_free(&t);
	t = eval1(node(g, OP_Clip, 1, (Value *[]){x}));
	expect_f(&t, (float[]){-5, -1, 0, 1, 5}, 5, 0);
	tensor_free(&t);
	Value *xi = ci(g, DT_I8, SHAPE(3), (int64_t[]){-100, 0, 100});
	Value *li = ci(g, DT_I8, SCALAR, (int64_t[]){-10});
	t = eval1(node(g, OP_Clip, 2, (Value *[]){xi, li}));
	expect_i(&t, (int64_t[]){-10, 0, 100}, 3);
	tensor_free(&t);
	Value *v2 = cf(g, DT_F32, SHAPE(2), (float[]){0, 1});
	expect_infer_error(node(g, OP_Clip, 2, (Value *[]){x, v2}), "scalar");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- Cast, Identity, Dropout */

static Tensor cast(Graph *g, Value *x, DType to)
{
	Node *n = node(g, OP_Cast, 1, (Value *[]){x});
	n->attr.cast.to = to;
	Tensor t = eval1(n);
	ck_assert_int_eq(t.dtype, to);
	return t;
}

START_TEST(cast_edges)
{
	Graph *g = graph_new("t");
	Value *f = cf(g, DT_F32, SHAPE(7), (float[]){NAN, INFINITY, -INFINITY, 3.9f, -3.9f, 1e10f, -0.5f});
	Tensor t = cast(g, f, DT_I32);
	expect_i(&t, (int64_t[]){0, INT32_MAX, INT32_MIN, 3, -3, INT32_MAX, 0}, 7);
	tensor_free(&t);
	t = cast(g, f, DT_I64);
	expect_i(&t, (int64_t[]){0, INT64_MAX, INT64_MIN, 3, -3, 10000000000LL, 0}, 7);
	tensor_free(&t);
	t = cast(g, f, DT_U8);
	expect_i(&t, (int64_t[]){0, 255, 0, 3, 0, 255, 0}, 7);
	tensor_free(&t);
	t = cast(g, f, DT_BOOL);
	expect_i(&t, (int64_t[]){1, 1, 1, 1, 1, 1, 1}, 7);
	tensor_free(&t);
	t = cast(g, f, DT_U64);
	expect_i(&t, (int64_t[]){0, (int64_t)UINT64_MAX, 0, 3, 0, 10000000000LL, 0}, 7);
	tensor_free(&t);
	/* integer to narrower integer wraps (numpy astype) */
	Value *i = ci(g, DT_I64, SHAPE(3), (int64_t[]){300, -1, 2049});
	t = cast(g, i, DT_U8);
	expect_i(&t, (int64_t[]){44, 255, 1}, 3);
	tensor_free(&t);
	t = cast(g, i, DT_F16);
	expect_f(&t, (float[]){300, -1, 2048}, 3, 0); /* 2049 is not an f16 */
	tensor_free(&t);
	t = cast(g, i, DT_BOOL);
	expect_i(&t, (int64_t[]){1, 1, 1}, 3);
	tensor_free(&t);
	Value *u = ci(g, DT_U64, SHAPE(1), (int64_t[]){(int64_t)UINT64_MAX});
	t = cast(g, u, DT_F32);
	expect_f(&t, (float[]){18446744073709551616.0f}, 1, 0);
	tensor_free(&t);
	/* f32 -> bf16 -> f32 and f32 -> f16 with overflow */
	Value *r = cf(g, DT_F32, SHAPE(3), (float[]){1.00390625f, 70000.0f, 1.0f / 3});
	t = cast(g, r, DT_BF16);
	expect_f(&t, (float[]){1.0f, 70144.0f, 0.333984375f}, 3, 0);
	tensor_free(&t);
	t = cast(g, r, DT_F16);
	expect_f(&t, (float[]){1.00390625f, INFINITY, 0.333251953125f}, 3, 0);
	tensor_free(&t);
	Value *b = ci(g, DT_BOOL, SHAPE(2), (int64_t[]){1, 0});
	t = cast(g, b, DT_F32);
	expect_f(&t, (float[]){1, 0}, 2, 0);
	tensor_free(&t);
	graph_free(g);
}
END_TEST

START_TEST(identity_dropout)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, DT_F32, SHAPE(2, 2), (float[]){1, 2, 3, 4});
	Tensor t = eval1(node(g, OP_Identity, 1, (Value *[]){x}));
	expect_f(&t, (float[]){1, 2, 3, 4}, 4, 0);
	tensor_free(&t);
	Diag d = {0};
	Node *n = graph_add_node(g, OP_Dropout, NULL, 1, (Value *[]){x}, 2);
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(n->out[1]->dtype, DT_BOOL);
	Tensor out[2];
	ck_assert_int_eq(ref_eval_node(n, out, &d), 0);
	expect_f(&out[0], (float[]){1, 2, 3, 4}, 4, 0);
	expect_i(&out[1], (int64_t[]){1, 1, 1, 1}, 4);
	tensor_free(&out[0]);
	tensor_free(&out[1]);
	/* training mode with a non-zero ratio is refused; ratio 0 is the identity */
	Value *ratio = cf(g, DT_F32, SCALAR, (float[]){0.2f});
	Value *zero = cf(g, DT_F32, SCALAR, (float[]){0});
	Value *train = ci(g, DT_BOOL, SCALAR, (int64_t[]){1});
	n = graph_add_node(g, OP_Dropout, NULL, 3, (Value *[]){x, ratio, train}, 1);
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(ref_eval_node(n, out, &d), -1);
	ck_assert_ptr_nonnull(strstr(d.msg, "training"));
	diag_clear(&d);
	t = eval1(graph_add_node(g, OP_Dropout, NULL, 3, (Value *[]){x, zero, train}, 1));
	expect_f(&t, (float[]){1, 2, 3, 4}, 4, 0);
	tensor_free(&t);
	Value *bad = cf(g, DT_F32, SCALAR, (float[]){1.5f});
	expect_infer_error(graph_add_node(g, OP_Dropout, NULL, 2, (Value *[]){x, bad}, 1), "ratio");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- reductions */

static Node *reduce(Graph *g, Op op, Value *x, Value *axes, int keepdims)
{
	Node *n = node(g, op, axes ? 2 : 1, (Value *[]){x, axes});
	n->attr.reduce.keepdims = keepdims;
	return n;
}

START_TEST(reduce_axes_keepdims)
{
	Graph *g = graph_new("t");
	float v[24];
	for (int i = 0; i < 24; i++)
		v[i] = (float)i;
	Value *x = cf(g, DT_F32, SHAPE(2, 3, 4), v);
	Value *a1 = ci(g, DT_I64, SHAPE(1), (int64_t[]){1});
	Tensor t = eval1(reduce(g, OP_ReduceSum, x, a1, 0));
	EXPECT_SHAPE(&t.shape, 2, 4);
	expect_f(&t, (float[]){12, 15, 18, 21, 48, 51, 54, 57}, 8, 0);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceSum, x, a1, 1));
	EXPECT_SHAPE(&t.shape, 2, 1, 4);
	tensor_free(&t);
	/* no axes: everything; keepdims default 1 */
	t = eval1(reduce(g, OP_ReduceSum, x, NULL, 1));
	EXPECT_SHAPE(&t.shape, 1, 1, 1);
	expect_f(&t, (float[]){276}, 1, 0);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceMean, x, NULL, 0));
	expect_shape(&t.shape, 0, NULL);
	expect_f(&t, (float[]){11.5f}, 1, 0);
	tensor_free(&t);
	/* negative and several axes: the leading and the last */
	Value *a02 = ci(g, DT_I64, SHAPE(2), (int64_t[]){-1, 0});
	t = eval1(reduce(g, OP_ReduceMax, x, a02, 0));
	EXPECT_SHAPE(&t.shape, 3);
	expect_f(&t, (float[]){15, 19, 23}, 3, 0);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceMin, x, a02, 1));
	EXPECT_SHAPE(&t.shape, 1, 3, 1);
	expect_f(&t, (float[]){0, 4, 8}, 3, 0);
	tensor_free(&t);
	Value *a0 = ci(g, DT_I64, SHAPE(1), (int64_t[]){0});
	t = eval1(reduce(g, OP_ReduceProd, x, a0, 0));
	EXPECT_SHAPE(&t.shape, 3, 4);
	expect_f(&t, (float[]){0, 13, 28, 45, 64, 85, 108, 133, 160, 189, 220, 253}, 12, 0);
	tensor_free(&t);
	/* empty axes: all, or nothing with noop_with_empty_axes */
	Value *none = ci(g, DT_I64, SHAPE(0), NULL);
	t = eval1(reduce(g, OP_ReduceSum, x, none, 0));
	expect_f(&t, (float[]){276}, 1, 0);
	tensor_free(&t);
	Node *n = reduce(g, OP_ReduceSum, x, none, 0);
	n->attr.reduce.noop_with_empty_axes = 1;
	t = eval1(n);
	EXPECT_SHAPE(&t.shape, 2, 3, 4);
	expect_f(&t, v, 24, 0);
	tensor_free(&t);
	/* errors name the shape */
	Value *dup = ci(g, DT_I64, SHAPE(2), (int64_t[]){1, -2});
	expect_infer_error(reduce(g, OP_ReduceSum, x, dup, 0), "twice");
	Value *far = ci(g, DT_I64, SHAPE(1), (int64_t[]){3});
	expect_infer_error(reduce(g, OP_ReduceSum, x, far, 0), "[2,3,4]");
	graph_free(g);
}
END_TEST

START_TEST(reduce_kinds)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, DT_F32, SHAPE(2, 2), (float[]){3, -4, 1000, 1000});
	Value *a1 = ci(g, DT_I64, SHAPE(1), (int64_t[]){1});
	Tensor t = eval1(reduce(g, OP_ReduceL1, x, a1, 0));
	expect_f(&t, (float[]){7, 2000}, 2, 0);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceL2, x, a1, 0));
	expect_f(&t, (float[]){5, 1000 * sqrtf(2)}, 2, 1e-6f);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceSumSquare, x, a1, 0));
	expect_f(&t, (float[]){25, 2e6f}, 2, 0);
	tensor_free(&t);
	/* stable for large inputs */
	t = eval1(reduce(g, OP_ReduceLogSumExp, x, a1, 0));
	expect_f(&t, (float[]){3 + logf(1 + expf(-7)), 1000 + logf(2)}, 2, 1e-6f);
	tensor_free(&t);
	/* NaN propagates through ReduceMax */
	Value *nx = cf(g, DT_F32, SHAPE(3), (float[]){1, NAN, 2});
	t = eval1(reduce(g, OP_ReduceMax, nx, NULL, 0));
	expect_f(&t, (float[]){NAN}, 1, 0);
	tensor_free(&t);
	/* integer reductions are exact: the product of a shape */
	Value *s = ci(g, DT_I64, SHAPE(4), (int64_t[]){1, 3, 224, 224});
	t = eval1(reduce(g, OP_ReduceProd, s, NULL, 0));
	expect_i(&t, (int64_t[]){150528}, 1);
	tensor_free(&t);
	Value *m = ci(g, DT_I32, SHAPE(2, 2), (int64_t[]){7, -8, 1, 2});
	t = eval1(reduce(g, OP_ReduceMean, m, a1, 0));
	expect_i(&t, (int64_t[]){0, 1}, 2); /* -1/2 and 3/2 truncate */
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceMin, m, NULL, 1));
	expect_i(&t, (int64_t[]){-8}, 1);
	tensor_free(&t);
	t = eval1(reduce(g, OP_ReduceL2, m, a1, 0));
	expect_i(&t, (int64_t[]){10, 2}, 2); /* sqrt(113)=10.6, sqrt(5)=2.2 truncated */
	tensor_free(&t);
	graph_free(g);
}
END_TEST

/* axes known only at run time: static inference does what it can, the interpreter binds them */
START_TEST(reduce_runtime_axes)
{
	Graph *g = graph_new("t");
	Shape sx = SHAPE(2, 1, 3), sa = SHAPE(1), su = shape_unknown(), sany = SHAPE(-1);
	Value *x = graph_add_value(g, "x", DT_F32, &sx);
	Value *axes = graph_add_value(g, "axes", DT_I64, &sa);
	Diag d = {0};
	Node *k1 = reduce(g, OP_ReduceSum, x, axes, 1);
	ck_assert_int_eq(infer_node(k1, &d), 0);
	EXPECT_SHAPE(&k1->out[0]->shape, -1, 1, -1);
	Node *k0 = reduce(g, OP_ReduceSum, x, axes, 0);
	ck_assert_int_eq(infer_node(k0, &d), 0);
	EXPECT_SHAPE(&k0->out[0]->shape, -1, -1);
	Value *anyaxes = graph_add_value(g, "anyaxes", DT_I64, &sany);
	Node *ku = reduce(g, OP_ReduceSum, x, anyaxes, 0);
	ck_assert_int_eq(infer_node(ku, &d), 0);
	ck_assert_int_eq(ku->out[0]->shape.rank, -1);
	Value *xu = graph_add_value(g, "xu", DT_F32, &su);
	Node *kr = reduce(g, OP_ReduceMax, xu, NULL, 1);
	ck_assert_int_eq(infer_node(kr, &d), 0);
	ck_assert_int_eq(kr->out[0]->shape.rank, -1);
	graph_free(g);

	/* the interpreter binds the run-time axes and infers [2,1] */
	g = graph_new("run");
	x = graph_add_value(g, "x", DT_F32, &sx);
	axes = graph_add_value(g, "axes", DT_I64, &sa);
	graph_add_input(g, x);
	graph_add_input(g, axes);
	k0 = reduce(g, OP_ReduceSum, x, axes, 0);
	ck_assert_int_eq(infer_node(k0, &d), 0);
	graph_add_output(g, k0->out[0]);
	Tensor in[2], out[1];
	ck_assert_int_eq(tensor_alloc(&in[0], DT_F32, &sx, &d), 0);
	ck_assert_int_eq(tensor_alloc(&in[1], DT_I64, &sa, &d), 0);
	for (int i = 0; i < 6; i++)
		((float *)in[0].data)[i] = (float)(i + 1);
	((int64_t *)in[1].data)[0] = -1;
	ck_assert_msg(ref_run(g, in, out, &d) == 0, "%s", d.msg);
	EXPECT_SHAPE(&out[0].shape, 2, 1);
	expect_f(&out[0], (float[]){6, 15}, 2, 0);
	tensor_free(&out[0]);
	tensor_free(&in[0]);
	tensor_free(&in[1]);
	graph_free(g);
}
END_TEST

START_TEST(arg_reduce)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, DT_F32, SHAPE(2, 3), (float[]){1, 5, 5, 7, 2, 7});
	Node *n = node(g, OP_ArgMax, 1, (Value *[]){x});
	n->attr.arg_reduce.axis = 1;
	Tensor t = eval1(n);
	ck_assert_int_eq(t.dtype, DT_I64);
	EXPECT_SHAPE(&t.shape, 2, 1);
	expect_i(&t, (int64_t[]){1, 0}, 2);
	tensor_free(&t);
	n = node(g, OP_ArgMax, 1, (Value *[]){x});
	n->attr.arg_reduce.axis = -1;
	n->attr.arg_reduce.keepdims = 0;
	n->attr.arg_reduce.select_last_index = 1;
	t = eval1(n);
	EXPECT_SHAPE(&t.shape, 2);
	expect_i(&t, (int64_t[]){2, 2}, 2);
	tensor_free(&t);
	/* along axis 0 (inner > 1) */
	n = node(g, OP_ArgMin, 1, (Value *[]){x});
	t = eval1(n);
	EXPECT_SHAPE(&t.shape, 1, 3);
	expect_i(&t, (int64_t[]){0, 1, 0}, 3);
	tensor_free(&t);
	Value *xi = ci(g, DT_I64, SHAPE(4), (int64_t[]){3, INT64_MIN, 9, INT64_MIN});
	n = node(g, OP_ArgMin, 1, (Value *[]){xi});
	n->attr.arg_reduce.select_last_index = 1;
	t = eval1(n);
	expect_i(&t, (int64_t[]){3}, 1);
	tensor_free(&t);
	n = node(g, OP_ArgMax, 1, (Value *[]){x});
	n->attr.arg_reduce.axis = 2;
	expect_infer_error(n, "[2,3]");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- softmax */

START_TEST(softmax_rows)
{
	Graph *g = graph_new("t");
	float v[24];
	for (int i = 0; i < 24; i++)
		v[i] = (float)((i * 7) % 11) - 5.0f;
	Value *x = cf(g, DT_F32, SHAPE(2, 3, 4), v);
	for (int axis = -1; axis <= 2; axis++) {
		Node *n = node(g, OP_Softmax, 1, (Value *[]){x});
		n->attr.axis.axis = axis;
		Tensor t = eval1(n);
		int ax = axis < 0 ? 2 : axis;
		int64_t dims[3] = {2, 3, 4}, stride[3] = {12, 4, 1};
		/* every line along the axis sums to 1 */
		for (int i = 0; i < 24; i++) {
			int64_t idx = (i / stride[ax]) % dims[ax];
			if (idx != 0)
				continue;
			double s = 0;
			for (int k = 0; k < dims[ax]; k++)
				s += ((float *)t.data)[i + k * stride[ax]];
			ck_assert_msg(fabs(s - 1) < 1e-6, "axis %d: sum %g", axis, s);
		}
		/* and LogSoftmax is its log */
		Node *l = node(g, OP_LogSoftmax, 1, (Value *[]){x});
		l->attr.axis.axis = axis;
		Tensor lt = eval1(l);
		for (int i = 0; i < 24; i++)
			ck_assert(fabsf(expf(((float *)lt.data)[i]) - ((float *)t.data)[i]) < 1e-6f);
		tensor_free(&t);
		tensor_free(&lt);
	}
	/* hand-checked and large inputs: no overflow */
	Value *big = cf(g, DT_F32, SHAPE(1, 3), (float[]){1000, 1000, 1000 - logf(2)});
	Tensor t = eval1(node(g, OP_Softmax, 1, (Value *[]){big}));
	expect_f(&t, (float[]){0.4f, 0.4f, 0.2f}, 3, 1e-4f);
	tensor_free(&t);
	Node *l = node(g, OP_LogSoftmax, 1, (Value *[]){big});
	t = eval1(l);
	expect_f(&t, (float[]){logf(0.4f), logf(0.4f), logf(0.2f)}, 3, 1e-4f);
	tensor_free(&t);
	Node *bad = node(g, OP_Softmax, 1, (Value *[]){x});
	bad->attr.axis.axis = 3;
	expect_infer_error(bad, "out of range");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- speed */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A MobileNet-size activation through Add (per-channel), Relu and Softmax: milliseconds. */
START_TEST(activation_speed)
{
	Graph *g = graph_new("t");
	Diag d = {0};
	Shape sx = SHAPE(1, 64, 112, 112), sb = SHAPE(64, 1, 1);
	Value *x = graph_add_constant(g, "x", DT_F32, &sx, &d);
	Value *b = graph_add_constant(g, "b", DT_F32, &sb, &d);
	float *px = x->data;
	for (int64_t i = 0; i < shape_numel(&sx); i++)
		px[i] = (float)(i % 17) - 8;
	Node *add = node(g, OP_Add, 2, (Value *[]){x, b});
	Node *relu = node(g, OP_Relu, 1, (Value *[]){x});
	Node *sm = node(g, OP_Softmax, 1, (Value *[]){x});
	sm->attr.axis.axis = 1;
	Node *rs = reduce(g, OP_ReduceMean, x, ci(g, DT_I64, SHAPE(2), (int64_t[]){2, 3}), 1);
	Node *list[] = {add, relu, sm, rs};
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(infer_node(list[k], &d), 0);
		double t0 = now_ms();
		Tensor out;
		ck_assert_int_eq(ref_eval_node(list[k], &out, &d), 0);
		double ms = now_ms() - t0;
		tensor_free(&out);
		/* generous: a few ms optimised, tens under sanitizers; seconds would mean a bad loop */
		ck_assert_msg(ms < 1000, "%s took %.1f ms", op_name(list[k]->op), ms);
	}
	graph_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ref_elementwise");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, add_broadcast_shapes);
	tcase_add_test(tc, broadcast_errors_and_unknowns);
	tcase_add_test(tc, integer_arithmetic);
	tcase_add_test(tc, pow_types);
	tcase_add_test(tc, variadic_and_prelu);
	tcase_add_test(tc, where_and_logic);
	tcase_add_test(tc, unary_ops);
	tcase_add_test(tc, clip);
	tcase_add_test(tc, cast_edges);
	tcase_add_test(tc, identity_dropout);
	tcase_add_test(tc, reduce_axes_keepdims);
	tcase_add_test(tc, reduce_kinds);
	tcase_add_test(tc, reduce_runtime_axes);
	tcase_add_test(tc, arg_reduce);
	tcase_add_test(tc, softmax_rows);
	tcase_add_test(tc, activation_speed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
