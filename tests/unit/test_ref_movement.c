/* Data movement and shape ops: inference (static shapes from constant inputs, partial shapes
 * otherwise, errors on bad data) and the reference kernels, on tiny hand-checked cases. */
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- building nodes */

static Graph *g;

static void setup(void) { g = graph_new("t"); }
static void teardown(void) { graph_free(g); }

#define NV(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))), ((int64_t[]){__VA_ARGS__})
#define NF(...) ((int)(sizeof((float[]){__VA_ARGS__}) / sizeof(float))), ((float[]){__VA_ARGS__})

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp(NV(__VA_ARGS__))

/* float constant of shape s holding 0, 1, 2, ... */
static Value *iota_f(Shape s)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, "x", DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	for (int64_t i = 0; i < shape_numel(&s); i++)
		((float *)v->data)[i] = (float)i;
	return v;
}

static Value *consts_f(Shape s, int n, const float *vals)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, "xf", DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	ck_assert_int_eq(n, shape_numel(&s));
	if (n > 0)
		memcpy(v->data, vals, (size_t)n * sizeof *vals);
	return v;
}

static Value *ints_t(DType t, int n, const int64_t *vals)
{
	Diag d = {0};
	Shape s = shape_make(1, (int64_t[]){n});
	Value *v = graph_add_constant(g, "c", t, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	if (n > 0)
		memcpy(v->data, vals, (size_t)n * sizeof *vals);
	return v;
}
#define INTS(...) ints_t(DT_I64, NV(__VA_ARGS__))

static Value *scalar_i(int64_t x)
{
	Diag d = {0};
	Shape s = shape_make(0, NULL);
	Value *v = graph_add_constant(g, "s", DT_I64, &s, &d);
	((int64_t *)v->data)[0] = x;
	return v;
}

static Value *scalar_f(float x)
{
	Diag d = {0};
	Shape s = shape_make(0, NULL);
	Value *v = graph_add_constant(g, "s", DT_F32, &s, &d);
	((float *)v->data)[0] = x;
	return v;
}

/* a non-constant value (a graph input) */
static Value *input(DType t, Shape s)
{
	Value *v = graph_add_value(g, "in", t, &s);
	graph_add_input(g, v);
	return v;
}

#define NODE(op, n_out, ...)                                                                   \
	graph_add_node(g, op, NULL, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), \
		       (Value *[]){__VA_ARGS__}, n_out)

/* ---------------------------------------------------------------- checking */

static void infer_ok(Node *n)
{
	Diag d = {0};
	ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
}

/* inference must fail with a message containing every given fragment */
static void infer_fails(Node *n, const char *frag1, const char *frag2)
{
	Diag d = {0};
	ck_assert_msg(infer_node(n, &d) < 0, "inference of %s succeeded", op_name(n->op));
	ck_assert_msg(strstr(d.msg, n->name) != NULL, "message does not name the node: %s", d.msg);
	ck_assert_msg(frag1 == NULL || strstr(d.msg, frag1) != NULL, "'%s' not in: %s", frag1, d.msg);
	ck_assert_msg(frag2 == NULL || strstr(d.msg, frag2) != NULL, "'%s' not in: %s", frag2, d.msg);
}

static void shape_is(const Value *v, Shape want)
{
	char a[128], b[128];
	ck_assert_msg(shape_equal(&v->shape, &want), "shape %s, want %s", shape_str(&v->shape, a, sizeof a),
		      shape_str(&want, b, sizeof b));
}

/* infer, then run; output k in *out (caller frees) */
static void run(Node *n, Tensor *outs)
{
	Diag d = {0};
	infer_ok(n);
	ck_assert_msg(ref_eval_node(n, outs, &d) == 0, "%s", d.msg);
}

static void floats_are(const Tensor *t, int n, const float *want)
{
	ck_assert(dtype_is_float(t->dtype));
	ck_assert_int_eq(tensor_numel(t), n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(fabsf(((float *)t->data)[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])),
			      "element %d: %g, want %g", i, ((float *)t->data)[i], want[i]);
}

static void ints_are(const Tensor *t, int n, const int64_t *want)
{
	ck_assert(!dtype_is_float(t->dtype));
	ck_assert_int_eq(tensor_numel(t), n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(((int64_t *)t->data)[i] == want[i], "element %d: %lld, want %lld", i,
			      (long long)((int64_t *)t->data)[i], (long long)want[i]);
}

static void run_floats(Node *n, int cnt, const float *want)
{
	Tensor t;
	run(n, &t);
	floats_are(&t, cnt, want);
	tensor_free(&t);
}

static void run_ints(Node *n, int cnt, const int64_t *want)
{
	Tensor t;
	run(n, &t);
	ints_are(&t, cnt, want);
	tensor_free(&t);
}

/* ---------------------------------------------------------------- reshape family */

START_TEST(reshape_zero_and_minus_one)
{
	Node *n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3, 4)), INTS(0, -1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(2, 12));
	run_floats(n, 24, (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3, 4)), INTS(-1, 0, 2));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(4, 3, 2));
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), INTS());
	infer_fails(n, "[2,3]", "[]");
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(1)), INTS());
	infer_ok(n);
	shape_is(n->out[0], SHAPE());
}
END_TEST

START_TEST(reshape_allowzero)
{
	Node *n = NODE(OP_Reshape, 1, iota_f(SHAPE(0, 3)), INTS(3, 0));
	n->attr.reshape.allowzero = 1;
	infer_ok(n);
	shape_is(n->out[0], SHAPE(3, 0));
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(0, 3)), INTS(0, -1));
	n->attr.reshape.allowzero = 1;
	infer_fails(n, "both 0 and -1", NULL);
}
END_TEST

START_TEST(reshape_impossible)
{
	Node *n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), INTS(4, -1));
	infer_fails(n, "[2,3]", "[4,-1]");
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), INTS(5));
	infer_fails(n, "[2,3]", "[5]");
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), INTS(-1, -1));
	infer_fails(n, "more than one -1", NULL);
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), INTS(2, -3));
	infer_fails(n, "negative", NULL);
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(6)), INTS(3, 0));
	infer_fails(n, "copies dim 1", NULL);
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(6)), INTS(INT64_MAX, INT64_MAX, -1));
	infer_fails(n, "too many", NULL);
}
END_TEST

START_TEST(reshape_partial)
{
	/* a shape computed at run time: rank from its length, dims unknown */
	Node *n = NODE(OP_Reshape, 1, iota_f(SHAPE(2, 3)), input(DT_I64, SHAPE(3)));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(-1, -1, -1));
	/* an input with an unknown dim: copy and -1 stay unknown, the rest is known */
	n = NODE(OP_Reshape, 1, input(DT_F32, SHAPE(-1, 4)), INTS(0, 2, -1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(-1, 2, -1));
	n = NODE(OP_Reshape, 1, iota_f(SHAPE(2)), iota_f(SHAPE(1)));
	infer_fails(n, "integer", NULL);
}
END_TEST

START_TEST(flatten_squeeze_unsqueeze)
{
	Node *n = NODE(OP_Flatten, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.axis.axis = 0;
	infer_ok(n);
	shape_is(n->out[0], SHAPE(1, 24));
	n = NODE(OP_Flatten, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.axis.axis = -1;
	infer_ok(n);
	shape_is(n->out[0], SHAPE(6, 4));
	n = NODE(OP_Flatten, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.axis.axis = 3;
	infer_ok(n);
	shape_is(n->out[0], SHAPE(24, 1));
	n = NODE(OP_Flatten, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.axis.axis = 4;
	infer_fails(n, "axis 4", NULL);

	n = NODE(OP_Squeeze, 1, iota_f(SHAPE(1, 3, 1, 2)));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(3, 2));
	n = NODE(OP_Squeeze, 1, iota_f(SHAPE(1, 3, 1, 2)), INTS(-2));
	run_floats(n, 6, (float[]){0, 1, 2, 3, 4, 5});
	shape_is(n->out[0], SHAPE(1, 3, 2));
	n = NODE(OP_Squeeze, 1, iota_f(SHAPE(1, 3, 1, 2)), INTS(1));
	infer_fails(n, "size 3", NULL);
	n = NODE(OP_Squeeze, 1, input(DT_F32, SHAPE(1, -1)));
	infer_ok(n);
	ck_assert_int_eq(n->out[0]->shape.rank, -1);

	n = NODE(OP_Unsqueeze, 1, iota_f(SHAPE(3, 4)), INTS(0, -1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(1, 3, 4, 1));
	n = NODE(OP_Unsqueeze, 1, iota_f(SHAPE(3, 4)), INTS(3, 1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(3, 1, 4, 1));
	n = NODE(OP_Unsqueeze, 1, iota_f(SHAPE(3, 4)), INTS(1, 1));
	infer_fails(n, "twice", NULL);
	n = NODE(OP_Unsqueeze, 1, iota_f(SHAPE(3, 4)), INTS(4));
	infer_fails(n, "out of range", NULL);
	n = NODE(OP_Unsqueeze, 1, iota_f(SHAPE(1, 1, 1, 1, 1, 1)), INTS(0, 1, 2));
	infer_fails(n, "exceeds", NULL);
}
END_TEST

/* ---------------------------------------------------------------- transpose, concat, split */

START_TEST(transpose)
{
	Node *n = NODE(OP_Transpose, 1, iota_f(SHAPE(2, 3)));
	run_floats(n, 6, (float[]){0, 3, 1, 4, 2, 5});
	shape_is(n->out[0], SHAPE(3, 2));
	n = NODE(OP_Transpose, 1, iota_f(SHAPE(2, 1, 3)));
	n->attr.transpose.perm = (Ints){3, {2, 0, 1}};
	run_floats(n, 6, (float[]){0, 3, 1, 4, 2, 5});
	shape_is(n->out[0], SHAPE(3, 2, 1));
	n = NODE(OP_Transpose, 1, iota_f(SHAPE(2, 1, 3)));
	n->attr.transpose.perm = (Ints){3, {2, 0, 0}};
	infer_fails(n, "[2,0,0]", "permutation");
}
END_TEST

START_TEST(concat)
{
	Node *n = NODE(OP_Concat, 1, iota_f(SHAPE(2, 2)), iota_f(SHAPE(2, 1)));
	n->attr.axis.axis = -1;
	run_floats(n, 6, (float[]){0, 1, 0, 2, 3, 1});
	shape_is(n->out[0], SHAPE(2, 3));
	n = NODE(OP_Concat, 1, INTS(1, 2), INTS(), INTS(3));
	n->attr.axis.axis = 0;
	run_ints(n, 3, (int64_t[]){1, 2, 3});
	n = NODE(OP_Concat, 1, iota_f(SHAPE(2, 2)), iota_f(SHAPE(3, 1)));
	n->attr.axis.axis = 1;
	infer_fails(n, "[3,1]", NULL);
	n = NODE(OP_Concat, 1, iota_f(SHAPE(2, 2)), INTS(1, 2));
	n->attr.axis.axis = 0;
	infer_fails(n, "i64", NULL);
}
END_TEST

START_TEST(split_uneven_and_sizes)
{
	Tensor o[3];
	Diag d = {0};
	Node *n = NODE(OP_Split, 3, iota_f(SHAPE(7)));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(3));
	shape_is(n->out[1], SHAPE(3));
	shape_is(n->out[2], SHAPE(1));
	ck_assert_msg(ref_eval_node(n, o, &d) == 0, "%s", d.msg);
	floats_are(&o[0], 3, (float[]){0, 1, 2});
	floats_are(&o[1], 3, (float[]){3, 4, 5});
	floats_are(&o[2], 1, (float[]){6});
	for (int i = 0; i < 3; i++)
		tensor_free(&o[i]);

	n = NODE(OP_Split, 2, iota_f(SHAPE(2, 3)), INTS(1, 2));
	n->attr.split.axis = 1;
	infer_ok(n);
	ck_assert_msg(ref_eval_node(n, o, &d) == 0, "%s", d.msg);
	floats_are(&o[0], 2, (float[]){0, 3});
	floats_are(&o[1], 4, (float[]){1, 2, 4, 5});
	tensor_free(&o[0]);
	tensor_free(&o[1]);

	n = NODE(OP_Split, 2, iota_f(SHAPE(2, 3)), INTS(1, 1));
	n->attr.split.axis = 1;
	infer_fails(n, "sum to 2", NULL);
	n = NODE(OP_Split, 4, iota_f(SHAPE(5)));
	infer_fails(n, "size 5", "4 parts");
	n = NODE(OP_Split, 2, iota_f(SHAPE(5)));
	n->attr.split.num_outputs = 3;
	infer_fails(n, "num_outputs", NULL);
	n = NODE(OP_Split, 2, iota_f(SHAPE(5)), INTS(2, 3));
	n->attr.split.num_outputs = 2;
	infer_fails(n, "both", NULL);
}
END_TEST

/* ---------------------------------------------------------------- slice */

START_TEST(slice_steps_and_clamping)
{
	/* negative step from the last element down past the start */
	Node *n = NODE(OP_Slice, 1, iota_f(SHAPE(10)), INTS(-1), INTS(INT64_MIN), INTS(0), INTS(-2));
	run_floats(n, 5, (float[]){9, 7, 5, 3, 1});
	/* huge and very negative bounds clamp */
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4)), INTS(-100), INTS(1000));
	run_floats(n, 4, (float[]){0, 1, 2, 3});
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4)), INTS(1000), INTS(-1000), INTS(0), INTS(-1));
	run_floats(n, 4, (float[]){3, 2, 1, 0});
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4)), INTS(2), INTS(1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(0));
	/* the spec's example 1: axes [0,1], starts [1,0], ends [2,3], steps [1,2] */
	n = NODE(OP_Slice, 1, consts_f(SHAPE(2, 4), NF(1, 2, 3, 4, 5, 6, 7, 8)), INTS(1, 0), INTS(2, 3), INTS(0, 1),
		 INTS(1, 2));
	run_floats(n, 2, (float[]){5, 7});
	shape_is(n->out[0], SHAPE(1, 2));
	/* example 2: default axes, end 1000 */
	n = NODE(OP_Slice, 1, consts_f(SHAPE(2, 4), NF(1, 2, 3, 4, 5, 6, 7, 8)), INTS(0, 1), INTS(-1, 1000));
	run_floats(n, 3, (float[]){2, 3, 4});
	/* negative axis, step larger than the dim, int data */
	n = NODE(OP_Slice, 1, INTS(10, 20, 30), INTS(1), INTS(3), INTS(-1), INTS(INT64_MAX));
	run_ints(n, 1, (int64_t[]){20});
	n = NODE(OP_Slice, 1, INTS(10, 20, 30), INTS(2), INTS(-4), INTS(-1), INTS(INT64_MIN));
	run_ints(n, 1, (int64_t[]){30});
	/* a dim of 0 with a negative step is empty */
	n = NODE(OP_Slice, 1, iota_f(SHAPE(0)), INTS(-1), INTS(INT64_MIN), INTS(0), INTS(-1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(0));
}
END_TEST

START_TEST(slice_errors_and_partial)
{
	Node *n = NODE(OP_Slice, 1, iota_f(SHAPE(4)), INTS(0), INTS(2), INTS(0), INTS(0));
	infer_fails(n, "step", "0");
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4, 4)), INTS(0, 0), INTS(2));
	infer_fails(n, "ends has 1", NULL);
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4, 4)), INTS(0, 0), INTS(2, 2), INTS(1, -1));
	infer_fails(n, "twice", NULL);
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4, 4)), INTS(0), INTS(2), INTS(2));
	infer_fails(n, "out of range", NULL);
	/* run-time starts: only the listed axis becomes unknown */
	n = NODE(OP_Slice, 1, iota_f(SHAPE(4, 5)), input(DT_I64, SHAPE(1)), INTS(3), INTS(1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(4, -1));
}
END_TEST

/* ---------------------------------------------------------------- gather */

START_TEST(gather)
{
	Node *n = NODE(OP_Gather, 1, iota_f(SHAPE(5, 2)), INTS(-1, 0, 4));
	run_floats(n, 6, (float[]){8, 9, 0, 1, 8, 9});
	shape_is(n->out[0], SHAPE(3, 2));
	n = NODE(OP_Gather, 1, iota_f(SHAPE(2, 3)), scalar_i(-1));
	n->attr.axis.axis = 1;
	run_floats(n, 2, (float[]){2, 5});
	shape_is(n->out[0], SHAPE(2));
	n = NODE(OP_Gather, 1, iota_f(SHAPE(5, 2)), INTS(5));
	infer_fails(n, "index 5", "size 5");
	n = NODE(OP_Gather, 1, iota_f(SHAPE(5, 2)), INTS(-6));
	infer_fails(n, "index -6", NULL);

	/* indices known only at run time: the kernel reports, never reads out of bounds */
	Value *idx = input(DT_I64, SHAPE(1));
	n = NODE(OP_Gather, 1, iota_f(SHAPE(5, 2)), idx);
	infer_ok(n);
	shape_is(n->out[0], SHAPE(1, 2));
	int64_t bad = 7;
	Tensor tin[2] = {value_tensor(n->in[0]), {DT_I64, SHAPE(1), &bad, NULL}}, tout;
	Tensor *pin[2] = {&tin[0], &tin[1]}, *pout[1] = {&tout};
	Diag d = {0};
	ck_assert_int_eq(tensor_alloc(&tout, DT_F32, &n->out[0]->shape, &d), 0);
	ck_assert_int_lt(ref_gather(n, pin, pout, &d), 0);
	ck_assert_msg(strstr(d.msg, "index 7") != NULL, "%s", d.msg);
	tensor_free(&tout);
}
END_TEST

/* ---------------------------------------------------------------- shape ops */

START_TEST(shape_size_constant_of_shape)
{
	Node *n = NODE(OP_Shape, 1, iota_f(SHAPE(2, 3, 4)));
	run_ints(n, 3, (int64_t[]){2, 3, 4});
	n = NODE(OP_Shape, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.shape.start = -2;
	n->attr.shape.end = 100;
	run_ints(n, 2, (int64_t[]){3, 4});
	n = NODE(OP_Shape, 1, iota_f(SHAPE(2, 3, 4)));
	n->attr.shape.start = 2;
	n->attr.shape.end = 1;
	infer_ok(n);
	shape_is(n->out[0], SHAPE(0));
	n = NODE(OP_Size, 1, iota_f(SHAPE(2, 3, 4)));
	run_ints(n, 1, (int64_t[]){24});
	shape_is(n->out[0], SHAPE());

	n = NODE(OP_ConstantOfShape, 1, INTS(2, 3));
	n->attr.constant_of_shape.value = (ScalarAttr){DT_I32, 0, 7};
	run_ints(n, 6, (int64_t[]){7, 7, 7, 7, 7, 7});
	ck_assert_int_eq(n->out[0]->dtype, DT_I32);
	n = NODE(OP_ConstantOfShape, 1, INTS(2));
	run_floats(n, 2, (float[]){0, 0});
	ck_assert_int_eq(n->out[0]->dtype, DT_F32);
	n = NODE(OP_ConstantOfShape, 1, INTS());
	infer_ok(n);
	shape_is(n->out[0], SHAPE());
	n = NODE(OP_ConstantOfShape, 1, INTS(2, -1));
	infer_fails(n, "negative", "[2,-1]");
	n = NODE(OP_ConstantOfShape, 1, INTS(INT64_MAX, 4));
	infer_fails(n, "too many", NULL);
	n = NODE(OP_ConstantOfShape, 1, INTS(1 << 20, 1 << 20, 1 << 10));
	infer_fails(n, "[1048576,1048576,1024]", "more than");
}
END_TEST

/* ---------------------------------------------------------------- expand, tile, range */

START_TEST(expand_tile)
{
	Node *n = NODE(OP_Expand, 1, iota_f(SHAPE(3, 1)), INTS(2, 1, 2));
	run_floats(n, 12, (float[]){0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2});
	shape_is(n->out[0], SHAPE(2, 3, 2));
	n = NODE(OP_Expand, 1, iota_f(SHAPE(3, 1)), INTS(1));
	run_floats(n, 3, (float[]){0, 1, 2});
	shape_is(n->out[0], SHAPE(3, 1));
	n = NODE(OP_Expand, 1, iota_f(SHAPE(3, 2)), INTS(4, 3, 3));
	infer_fails(n, "[3,2]", "[4,3,3]");
	n = NODE(OP_Expand, 1, iota_f(SHAPE(1, 1)), INTS(INT64_MAX, 4));
	infer_fails(n, "too many", NULL);

	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(2, 1));
	run_floats(n, 8, (float[]){0, 1, 2, 3, 0, 1, 2, 3});
	n = NODE(OP_Tile, 1, INTS(1, 2), INTS(3));
	run_ints(n, 6, (int64_t[]){1, 2, 1, 2, 1, 2});
	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(1, 2));
	run_floats(n, 8, (float[]){0, 1, 0, 1, 2, 3, 2, 3});
	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(1));
	infer_fails(n, "rank 2", NULL);
	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(1, -1));
	infer_fails(n, "negative", NULL);
	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(INT64_MAX / 2 + 1, 1));
	infer_fails(n, "overflow", NULL);
	n = NODE(OP_Tile, 1, iota_f(SHAPE(2, 2)), INTS(1 << 30, 1 << 30));
	infer_fails(n, "more than", NULL);
}
END_TEST

START_TEST(range)
{
	Node *n = NODE(OP_Range, 1, scalar_i(10), scalar_i(1), scalar_i(-3));
	run_ints(n, 3, (int64_t[]){10, 7, 4});
	n = NODE(OP_Range, 1, scalar_f(1), scalar_f(5), scalar_f(2));
	run_floats(n, 2, (float[]){1, 3});
	n = NODE(OP_Range, 1, scalar_f(0), scalar_f(1), scalar_f(0.3f));
	run_floats(n, 4, (float[]){0, 0.3f, 0.6f, 0.9f});
	n = NODE(OP_Range, 1, scalar_i(5), scalar_i(1), scalar_i(1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(0));
	n = NODE(OP_Range, 1, scalar_i(INT64_MIN), scalar_i(INT64_MAX), scalar_i(INT64_MAX));
	run_ints(n, 3, (int64_t[]){INT64_MIN, -1, INT64_MAX - 1});
	n = NODE(OP_Range, 1, scalar_i(0), scalar_i(5), scalar_i(0));
	infer_fails(n, "delta is 0", NULL);
	n = NODE(OP_Range, 1, scalar_i(0), scalar_i(INT64_MAX), scalar_i(1));
	infer_fails(n, "more than", NULL);
	n = NODE(OP_Range, 1, scalar_f(0), scalar_f(1e30f), scalar_f(1));
	infer_fails(n, "more than", NULL);
	n = NODE(OP_Range, 1, scalar_f(0), scalar_i(3), scalar_i(1));
	infer_fails(n, "limit", NULL);
	n = NODE(OP_Range, 1, scalar_i(0), input(DT_I64, SHAPE()), scalar_i(1));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(-1));
}
END_TEST

/* ---------------------------------------------------------------- pad */

START_TEST(pad_modes)
{
	Value *x = consts_f(SHAPE(3), NF(1, 2, 3));
	Node *n = NODE(OP_Pad, 1, x, INTS(2, 2));
	n->attr.pad.mode = PAD_REFLECT;
	run_floats(n, 7, (float[]){3, 2, 1, 2, 3, 2, 1});
	n = NODE(OP_Pad, 1, x, INTS(2, 2));
	n->attr.pad.mode = PAD_EDGE;
	run_floats(n, 7, (float[]){1, 1, 1, 2, 3, 3, 3});
	n = NODE(OP_Pad, 1, x, INTS(2, 2));
	n->attr.pad.mode = PAD_WRAP;
	run_floats(n, 7, (float[]){2, 3, 1, 2, 3, 1, 2});
	n = NODE(OP_Pad, 1, x, INTS(1, 2), scalar_f(9));
	run_floats(n, 6, (float[]){9, 1, 2, 3, 9, 9});
	/* reflect beyond one period, as numpy.pad */
	n = NODE(OP_Pad, 1, x, INTS(5, 0));
	n->attr.pad.mode = PAD_REFLECT;
	run_floats(n, 8, (float[]){2, 1, 2, 3, 2, 1, 2, 3});
	/* negative pads crop */
	n = NODE(OP_Pad, 1, x, INTS(-1, 1));
	n->attr.pad.mode = PAD_EDGE;
	run_floats(n, 3, (float[]){2, 3, 3});
	/* the spec's 2-D reflect example: pads [0,2,0,0] */
	Value *x2 = consts_f(SHAPE(3, 2), NF(1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f));
	n = NODE(OP_Pad, 1, x2, INTS(0, 2, 0, 0));
	n->attr.pad.mode = PAD_REFLECT;
	run_floats(n, 12, (float[]){1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
	n = NODE(OP_Pad, 1, x2, INTS(0, 2, 0, 0));
	n->attr.pad.mode = PAD_EDGE;
	run_floats(n, 12, (float[]){1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
	/* 2-D with both axes padded, constant mode, int data */
	Value *xi = INTS(1, 2);
	n = NODE(OP_Pad, 1, xi, INTS(1, 0), scalar_i(-5));
	run_ints(n, 3, (int64_t[]){-5, 1, 2});
	/* axes input (opset 18) */
	n = NODE(OP_Pad, 1, x2, INTS(1, 1), NULL, INTS(-1));
	run_floats(n, 12, (float[]){0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f, 0});
	shape_is(n->out[0], SHAPE(3, 4));
}
END_TEST

START_TEST(pad_errors)
{
	Value *x = consts_f(SHAPE(3), NF(1, 2, 3));
	Node *n = NODE(OP_Pad, 1, x, INTS(1));
	infer_fails(n, "expected 2", NULL);
	n = NODE(OP_Pad, 1, x, INTS(-4, 4));
	infer_fails(n, "crop", NULL);
	n = NODE(OP_Pad, 1, x, INTS(-2, -2));
	infer_fails(n, "negative", NULL);
	n = NODE(OP_Pad, 1, x, INTS(INT64_MAX, 1));
	infer_fails(n, "overflowing", NULL);
	n = NODE(OP_Pad, 1, iota_f(SHAPE(0)), INTS(1, 1));
	n->attr.pad.mode = PAD_REFLECT;
	infer_fails(n, "empty", "reflect");
	n = NODE(OP_Pad, 1, x, input(DT_I64, SHAPE(2)));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(-1));
}
END_TEST

/* ---------------------------------------------------------------- resize */

START_TEST(resize_nearest)
{
	Value *x = consts_f(SHAPE(1, 1, 2, 2), NF(1, 2, 3, 4));
	/* half_pixel + round_prefer_floor (the defaults): sources -0.25, 0.25, 0.75, 1.25 */
	Node *n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(4), NF(1, 1, 2, 2)));
	run_floats(n, 16, (float[]){1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
	shape_is(n->out[0], SHAPE(1, 1, 4, 4));
	/* asymmetric + floor, scale 3 along one axis: plain repetition (Upsample) */
	Value *x1 = consts_f(SHAPE(2), NF(5, 6));
	n = NODE(OP_Resize, 1, x1, NULL, consts_f(SHAPE(1), NF(3)));
	n->attr.resize.coordinate_transformation_mode = COORD_ASYMMETRIC;
	n->attr.resize.nearest_mode = NEAREST_FLOOR;
	run_floats(n, 6, (float[]){5, 5, 5, 6, 6, 6});
	/* asymmetric + round_prefer_floor: sources 0, 1/3, 2/3, 1, 4/3, 5/3 */
	n = NODE(OP_Resize, 1, x1, NULL, consts_f(SHAPE(1), NF(3)));
	n->attr.resize.coordinate_transformation_mode = COORD_ASYMMETRIC;
	run_floats(n, 6, (float[]){5, 5, 6, 6, 6, 6});
	/* ties: asymmetric scale 2 gives sources 0, 0.5, 1, 1.5 */
	n = NODE(OP_Resize, 1, x1, NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.coordinate_transformation_mode = COORD_ASYMMETRIC;
	run_floats(n, 4, (float[]){5, 5, 6, 6});
	n = NODE(OP_Resize, 1, x1, NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.coordinate_transformation_mode = COORD_ASYMMETRIC;
	n->attr.resize.nearest_mode = NEAREST_ROUND_PREFER_CEIL;
	run_floats(n, 4, (float[]){5, 6, 6, 6});
	/* downsample by sizes on int data: 4 -> 2 with half_pixel: sources 0.5, 2.5 -> 0, 2 */
	n = NODE(OP_Resize, 1, INTS(10, 20, 30, 40), NULL, NULL, INTS(2));
	run_ints(n, 2, (int64_t[]){10, 30});
}
END_TEST

START_TEST(resize_linear)
{
	Value *x1 = consts_f(SHAPE(2), NF(1, 2));
	Node *n = NODE(OP_Resize, 1, x1, NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.mode = RESIZE_LINEAR;
	run_floats(n, 4, (float[]){1, 1.25f, 1.75f, 2});
	n = NODE(OP_Resize, 1, x1, NULL, NULL, INTS(3));
	n->attr.resize.mode = RESIZE_LINEAR;
	n->attr.resize.coordinate_transformation_mode = COORD_ALIGN_CORNERS;
	run_floats(n, 3, (float[]){1, 1.5f, 2});
	/* bilinear 2x2 -> 4x4, half_pixel: rows/cols weights (1, .75/.25, .25/.75, 1) */
	Value *x = consts_f(SHAPE(2, 2), NF(1, 2, 3, 4));
	n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(2), NF(2, 2)));
	n->attr.resize.mode = RESIZE_LINEAR;
	run_floats(n, 16, (float[]){1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f,
				    3.75f, 4});
	/* the ONNX doc's downsample_scales_linear_align_corners: fractional output width 2.4 */
	Value *x24 = consts_f(SHAPE(2, 4), NF(1, 2, 3, 4, 5, 6, 7, 8));
	n = NODE(OP_Resize, 1, x24, NULL, consts_f(SHAPE(2), NF(0.6f, 0.6f)));
	n->attr.resize.mode = RESIZE_LINEAR;
	n->attr.resize.coordinate_transformation_mode = COORD_ALIGN_CORNERS;
	run_floats(n, 2, (float[]){1, 3.142857f});
	/* tf_crop_and_resize: roi [0.5, 1] of [0,10,20,30] at 3 points: sources 1.5, 2.25, 3 */
	n = NODE(OP_Resize, 1, consts_f(SHAPE(4), NF(0, 10, 20, 30)), consts_f(SHAPE(2), NF(0.5f, 1.0f)), NULL,
		 INTS(3));
	n->attr.resize.mode = RESIZE_LINEAR;
	n->attr.resize.coordinate_transformation_mode = COORD_TF_CROP_AND_RESIZE;
	run_floats(n, 3, (float[]){15, 22.5f, 30});
	/* ... and roi [0.5, 1.5]: the last two sources fall outside */
	n = NODE(OP_Resize, 1, consts_f(SHAPE(4), NF(0, 10, 20, 30)), consts_f(SHAPE(2), NF(0.5f, 1.5f)), NULL,
		 INTS(3));
	n->attr.resize.mode = RESIZE_LINEAR;
	n->attr.resize.coordinate_transformation_mode = COORD_TF_CROP_AND_RESIZE;
	n->attr.resize.extrapolation_value = -1;
	run_floats(n, 3, (float[]){15, 30, -1});
	/* half_pixel_symmetric (opset 18), 4 -> floor(2.4) = 2: the 2.4-wide canvas is centred, so
	 * sources are 2/3 and 7/3, symmetric about 1.5 (half_pixel would give 0.33 and 2) */
	n = NODE(OP_Resize, 1, consts_f(SHAPE(4), NF(0, 10, 20, 30)), NULL, consts_f(SHAPE(1), NF(0.6f)));
	n->attr.resize.mode = RESIZE_LINEAR;
	n->attr.resize.coordinate_transformation_mode = COORD_HALF_PIXEL_SYMMETRIC;
	run_floats(n, 2, (float[]){6.6666665f, 23.333334f});
}
END_TEST

START_TEST(resize_cubic)
{
	/* values from the ONNX reference implementation (resize.py interpolate_nd, cubic, A=-0.75,
	 * half_pixel) on [0,1,4,9] upsampled x2 */
	Node *n = NODE(OP_Resize, 1, consts_f(SHAPE(4), NF(0, 1, 4, 9)), NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.mode = RESIZE_CUBIC;
	run_floats(n, 8, (float[]){-0.10546875f, 0.12109375f, 0.45703125f, 1.609375f, 2.828125f, 5.44921875f,
				   7.97265625f, 9.52734375f});
	/* exclude_outside, A=-0.5 */
	n = NODE(OP_Resize, 1, consts_f(SHAPE(4), NF(0, 1, 4, 9)), NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.mode = RESIZE_CUBIC;
	n->attr.resize.cubic_coeff_a = -0.5f;
	n->attr.resize.exclude_outside = 1;
	run_floats(n, 8, (float[]){-0.0882353f, 0.1240876f, 0.5725191f, 1.5625f, 3.0625f, 5.3129773f, 8.1167879f,
				   9.4411764f});
}
END_TEST

START_TEST(resize_errors_and_partial)
{
	Value *x = consts_f(SHAPE(2), NF(1, 2));
	Node *n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(1), NF(2)), INTS(4));
	infer_fails(n, "both", NULL);
	n = NODE(OP_Resize, 1, x);
	infer_fails(n, "neither", NULL);
	n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(1), NF(-2)));
	infer_fails(n, "scale -2", NULL);
	n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(2), NF(2, 2)));
	infer_fails(n, "rank 1", NULL);
	n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(1), NF(2)));
	n->attr.resize.antialias = 1;
	infer_fails(n, "antialias", NULL);
	n = NODE(OP_Resize, 1, x, NULL, NULL, INTS(3));
	n->attr.resize.coordinate_transformation_mode = COORD_TF_CROP_AND_RESIZE;
	infer_fails(n, "roi", NULL);
	/* empty scales next to sizes counts as omitted */
	n = NODE(OP_Resize, 1, x, NULL, consts_f(SHAPE(0), 0, NULL), INTS(5));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(5));
	n = NODE(OP_Resize, 1, input(DT_F32, SHAPE(1, 3, 8, 8)), NULL, input(DT_F32, SHAPE(4)));
	infer_ok(n);
	shape_is(n->out[0], SHAPE(-1, -1, -1, -1));
}
END_TEST

/* ---------------------------------------------------------------- run-time shapes */

/* Shapes computed at run time: inference leaves them partial, the interpreter binds the values
 * and infers again. */
START_TEST(runtime_shapes)
{
	Value *x = iota_f(SHAPE(2, 3));
	Value *shape = input(DT_I64, SHAPE(2));
	Value *limit = graph_add_value(g, "limit", DT_I64, &(Shape){0, {0}});
	graph_add_input(g, limit);
	Node *r = NODE(OP_Reshape, 1, x, shape);
	Node *rg = NODE(OP_Range, 1, scalar_i(0), limit, scalar_i(2));
	graph_add_output(g, r->out[0]);
	graph_add_output(g, rg->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	shape_is(r->out[0], SHAPE(-1, -1));
	shape_is(rg->out[0], SHAPE(-1));
	int64_t sv[2] = {3, -1}, lv = 5;
	Tensor ins[2] = {{DT_I64, SHAPE(2), sv, NULL}, {DT_I64, SHAPE(), &lv, NULL}}, outs[2];
	ck_assert_msg(ref_run(g, ins, outs, &d) == 0, "%s", d.msg);
	ck_assert(shape_equal(&outs[0].shape, &(Shape){2, {3, 2}}));
	floats_are(&outs[0], 6, (float[]){0, 1, 2, 3, 4, 5});
	ints_are(&outs[1], 3, (int64_t[]){0, 2, 4});
	tensor_free(&outs[0]);
	tensor_free(&outs[1]);
	/* an impossible shape only known at run time is an error, not a crash */
	sv[0] = 4;
	ck_assert_int_lt(ref_run(g, ins, outs, &d), 0);
	ck_assert_msg(strstr(d.msg, "[2,3]") && strstr(d.msg, "[4,-1]"), "%s", d.msg);
}
END_TEST

static Suite *movement_suite(void)
{
	Suite *s = suite_create("ref_movement");
	TCase *tc = tcase_create("reshape");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reshape_zero_and_minus_one);
	tcase_add_test(tc, reshape_allowzero);
	tcase_add_test(tc, reshape_impossible);
	tcase_add_test(tc, reshape_partial);
	tcase_add_test(tc, flatten_squeeze_unsqueeze);
	suite_add_tcase(s, tc);
	tc = tcase_create("layout");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, transpose);
	tcase_add_test(tc, concat);
	tcase_add_test(tc, split_uneven_and_sizes);
	tcase_add_test(tc, slice_steps_and_clamping);
	tcase_add_test(tc, slice_errors_and_partial);
	tcase_add_test(tc, gather);
	suite_add_tcase(s, tc);
	tc = tcase_create("shape_ops");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, shape_size_constant_of_shape);
	tcase_add_test(tc, expand_tile);
	tcase_add_test(tc, range);
	suite_add_tcase(s, tc);
	tc = tcase_create("pad_resize");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, pad_modes);
	tcase_add_test(tc, pad_errors);
	tcase_add_test(tc, resize_nearest);
	tcase_add_test(tc, resize_linear);
	tcase_add_test(tc, resize_cubic);
	tcase_add_test(tc, resize_errors_and_partial);
	suite_add_tcase(s, tc);
	tc = tcase_create("runtime");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, runtime_shapes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(movement_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
