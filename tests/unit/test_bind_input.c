/* Specialising a graph to known input values (compiler/onnx/import_bind.c): which inputs decide
 * shapes, and binding them to constants so that inference and folding make every shape static. */
#include "nnzc/ir.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define NODE(g, op, name, n_out, ...)                                                          \
	graph_add_node(g, op, name, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), \
		       (Value *[]){__VA_ARGS__}, n_out)

static Value *input(Graph *g, const char *name, DType dt, Shape s)
{
	Value *v = graph_add_value(g, name, dt, &s);
	graph_add_input(g, v);
	return v;
}

static Value *cints(Graph *g, const char *name, int n, const int64_t *vals)
{
	Diag d = {0};
	Shape s = shape_make(1, (int64_t[]){n});
	Value *v = graph_add_constant(g, name, DT_I64, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	memcpy(v->data, vals, (size_t)n * sizeof *vals);
	return v;
}

static int input_pos(const Graph *g, const char *name)
{
	for (int i = 0; i < g->n_inputs; i++)
		if (strcmp(g->inputs[i]->name, name) == 0)
			return i;
	return -1;
}

/* x f32[2,6], k i64[1], a i64[1], p i64[4], cv f32[], s f32[2], r f32[4], x2 f32[3]:
 *   y  = Reshape(x, Concat(k, [-1]))           k decides, x does not
 *   y2 = Reshape(x, Cast(Add(a, 1)) ++ [-1])   a decides through Add and Cast
 *   z  = Expand(x2, Shape(x))                  x reaches a shape only through Shape
 *   w  = Pad(x, p, cv)                         pads decide, the constant value does not
 *   u  = Resize(x, r, s)                        scales decide; roi only with tf_crop_and_resize */
static Graph *make_graph(int coord)
{
	Graph *g = graph_new("bind");
	Value *x = input(g, "x", DT_F32, SHAPE(2, 6));
	Value *k = input(g, "k", DT_I64, SHAPE(1));
	Value *a = input(g, "a", DT_I64, SHAPE(1));
	Value *p = input(g, "p", DT_I64, SHAPE(4));
	Value *cv = input(g, "cv", DT_F32, shape_make(0, NULL));
	Value *s = input(g, "s", DT_F32, SHAPE(2));
	Value *r = input(g, "r", DT_F32, SHAPE(4));
	Value *x2 = input(g, "x2", DT_F32, SHAPE(1));
	Value *m1 = cints(g, "m1", 1, (int64_t[]){-1});
	Value *one = cints(g, "one", 1, (int64_t[]){1});

	Node *cat = NODE(g, OP_Concat, "cat", 1, k, m1);
	cat->attr.axis.axis = 0;
	graph_add_output(g, NODE(g, OP_Reshape, "reshape", 1, x, cat->out[0])->out[0]);

	Node *add = NODE(g, OP_Add, "add", 1, a, one);
	Node *cast = NODE(g, OP_Cast, "cast", 1, add->out[0]);
	cast->attr.cast.to = DT_I64;
	Node *cat2 = NODE(g, OP_Concat, "cat2", 1, cast->out[0], m1);
	cat2->attr.axis.axis = 0;
	graph_add_output(g, NODE(g, OP_Reshape, "reshape2", 1, x, cat2->out[0])->out[0]);

	Node *shp = NODE(g, OP_Shape, "shape", 1, x);
	graph_add_output(g, NODE(g, OP_Expand, "expand", 1, x2, shp->out[0])->out[0]);

	graph_add_output(g, NODE(g, OP_Pad, "pad", 1, x, p, cv)->out[0]);

	Node *rs = NODE(g, OP_Resize, "resize", 1, x, r, s);
	rs->attr.resize.coordinate_transformation_mode = coord;
	graph_add_output(g, rs->out[0]);
	return g;
}

static bool decides(const Graph *g, const bool *dec, const char *name)
{
	int i = input_pos(g, name);
	ck_assert_int_ge(i, 0);
	return dec[i];
}

START_TEST(which_inputs_decide_shapes)
{
	Graph *g = make_graph(COORD_HALF_PIXEL);
	bool dec[16];
	ck_assert_int_eq(graph_shape_inputs(g, dec), 4);
	ck_assert(decides(g, dec, "k"));
	ck_assert(decides(g, dec, "a"));
	ck_assert(decides(g, dec, "p"));
	ck_assert(decides(g, dec, "s"));
	ck_assert(!decides(g, dec, "x"));
	ck_assert(!decides(g, dec, "x2"));
	ck_assert(!decides(g, dec, "cv"));
	ck_assert(!decides(g, dec, "r"));
	graph_free(g);

	g = make_graph(COORD_TF_CROP_AND_RESIZE);
	ck_assert_int_eq(graph_shape_inputs(g, dec), 5);
	ck_assert(decides(g, dec, "r"));
	graph_free(g);
}
END_TEST

/* Bind value `v` (n int64 elements) to input `name`. */
static int bind_ints(Graph *g, const char *name, DType dt, Shape s, const int64_t *v, Diag *d)
{
	Tensor t;
	ck_assert_int_eq(tensor_alloc(&t, dt, &s, d), 0);
	memcpy(t.data, v, (size_t)shape_numel(&s) * sizeof *v);
	int rc = graph_bind_input(g, graph_find_value(g, name), &t, d);
	tensor_free(&t);
	return rc;
}

START_TEST(binding_makes_shapes_static)
{
	Graph *g = make_graph(COORD_HALF_PIXEL);
	Diag d = {0};
	int n = g->n_inputs;
	ck_assert_int_eq(bind_ints(g, "k", DT_I64, SHAPE(1), (int64_t[]){3}, &d), 0);
	ck_assert_int_eq(bind_ints(g, "a", DT_I64, SHAPE(1), (int64_t[]){5}, &d), 0);
	ck_assert_int_eq(bind_ints(g, "p", DT_I64, SHAPE(4), (int64_t[]){0, 1, 0, 2}, &d), 0);
	Tensor sc;
	Shape s2 = SHAPE(2);
	ck_assert_int_eq(tensor_alloc(&sc, DT_F32, &s2, &d), 0);
	((float *)sc.data)[0] = 2;
	((float *)sc.data)[1] = 0.5f;
	ck_assert_int_eq(graph_bind_input(g, graph_find_value(g, "s"), &sc, &d), 0);
	tensor_free(&sc);

	/* the bound ones left the inputs, the others kept their order */
	ck_assert_int_eq(g->n_inputs, n - 4);
	const char *left[] = {"x", "cv", "r", "x2"};
	for (int i = 0; i < 4; i++)
		ck_assert_str_eq(g->inputs[i]->name, left[i]);
	Value *k = graph_find_value(g, "k");
	ck_assert(value_is_const(k));
	ck_assert_int_eq(((int64_t *)k->data)[0], 3);
	ck_assert_int_eq(graph_verify(g, &d), 0);

	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0 && pass_fold_constants(g, NULL, &d) == 0, "%s", d.msg);
	for (int i = 0; i < g->n_outputs; i++)
		ck_assert_msg(shape_is_static(&g->outputs[i]->shape), "output %d", i);
	Shape want[] = {SHAPE(3, 4), SHAPE(6, 2), SHAPE(2, 6), SHAPE(2, 9), SHAPE(4, 3)};
	for (int i = 0; i < 5; i++)
		ck_assert_msg(shape_equal(&g->outputs[i]->shape, &want[i]), "output %d", i);
	graph_free(g);
}
END_TEST

START_TEST(binding_rounds_to_the_declared_dtype)
{
	Graph *g = graph_new("round");
	input(g, "b", DT_I8, SHAPE(2));
	Diag d = {0};
	ck_assert_int_eq(bind_ints(g, "b", DT_I64, SHAPE(2), (int64_t[]){300, -1}, &d), 0);
	Value *b = graph_find_value(g, "b");
	ck_assert_int_eq(((int64_t *)b->data)[0], 44);
	ck_assert_int_eq(((int64_t *)b->data)[1], -1);
	ck_assert_int_eq(g->n_inputs, 0);
	graph_free(g);
}
END_TEST

START_TEST(binding_errors)
{
	Graph *g = make_graph(COORD_HALF_PIXEL);
	Diag d = {0};
	ck_assert_int_eq(bind_ints(g, "k", DT_I64, SHAPE(2), (int64_t[]){3, 4}, &d), -1);
	ck_assert_msg(strstr(d.msg, "'k'") && strstr(d.msg, "i64[2]") && strstr(d.msg, "i64[1]"), "%s", d.msg);
	diag_clear(&d);
	ck_assert_int_eq(bind_ints(g, "x", DT_I64, SHAPE(2, 6), (int64_t[12]){0}, &d), -1);
	ck_assert_msg(strstr(d.msg, "'x'"), "%s", d.msg);
	diag_clear(&d);
	ck_assert_int_eq(bind_ints(g, "m1", DT_I64, SHAPE(1), (int64_t[]){1}, &d), -1);
	ck_assert_msg(strstr(d.msg, "not a graph input"), "%s", d.msg);
	ck_assert_int_eq(g->n_inputs, 8);
	graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bind_input");
	TCase *tc = tcase_create("bind");
	tcase_add_test(tc, which_inputs_decide_shapes);
	tcase_add_test(tc, binding_makes_shapes_static);
	tcase_add_test(tc, binding_rounds_to_the_declared_dtype);
	tcase_add_test(tc, binding_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
