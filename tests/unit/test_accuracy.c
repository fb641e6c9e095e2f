/* The accuracy report (compiler/driver/accuracy.c, linked into this test by tests/accuracy.cmake):
 * the metrics on hand-made tensors with known answers, then whole comparisons of a small graph
 * against itself and against copies whose weights are perturbed in known ways. */
#include "testutil.h"
#include "../../compiler/driver/driver.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static Tensor tens(DType dt, int rank, const int64_t *dims, const double *vals)
{
	Diag d = {0};
	Tensor t;
	Shape s = shape_make(rank, dims);
	ck_assert_msg(tensor_alloc(&t, dt, &s, &d) == 0, "%s", d.msg);
	for (int64_t i = 0; i < tensor_numel(&t); i++) {
		if (dtype_is_float(dt))
			((float *)t.data)[i] = (float)vals[i];
		else
			((int64_t *)t.data)[i] = (int64_t)vals[i];
	}
	return t;
}

#define F32(...) \
	tens(DT_F32, 1, (int64_t[]){sizeof((double[]){__VA_ARGS__}) / sizeof(double)}, (double[]){__VA_ARGS__})

/* ---------------------------------------------------------------- metrics */

START_TEST(identical_tensors)
{
	Tensor a = F32(1, -2, 3.5, 0), b = F32(1, -2, 3.5, 0);
	TensorCompare c = tensor_compare(&a, &b);
	ck_assert(c.rel_l2 == 0);
	ck_assert(c.max_abs == 0);
	ck_assert_double_eq_tol(c.cosine, 1, 1e-12);
	tensor_free(&a);
	tensor_free(&b);
}
END_TEST

START_TEST(known_perturbation)
{
	/* ref (3, 4) has norm 5; got (3, 5) differs by (0, 1): rel 1/5, cos 29 / (5 sqrt 34) */
	Tensor ref = F32(3, 4), got = F32(3, 5);
	TensorCompare c = tensor_compare(&got, &ref);
	ck_assert_double_eq_tol(c.rel_l2, 0.2, 1e-12);
	ck_assert_double_eq_tol(c.cosine, 29 / (5 * sqrt(34)), 1e-12);
	ck_assert_double_eq_tol(c.max_abs, 1, 1e-12);
	tensor_free(&got);
	/* scaling: 2x is rel 1 and cos 1; negation is rel 2 and cos -1 */
	got = F32(6, 8);
	c = tensor_compare(&got, &ref);
	ck_assert_double_eq_tol(c.rel_l2, 1, 1e-12);
	ck_assert_double_eq_tol(c.cosine, 1, 1e-12);
	ck_assert_double_eq_tol(c.max_abs, 4, 1e-12);
	tensor_free(&got);
	got = F32(-3, -4);
	c = tensor_compare(&got, &ref);
	ck_assert_double_eq_tol(c.rel_l2, 2, 1e-12);
	ck_assert_double_eq_tol(c.cosine, -1, 1e-12);
	ck_assert_double_eq_tol(c.max_abs, 8, 1e-12);
	tensor_free(&got);
	tensor_free(&ref);
}
END_TEST

START_TEST(zero_and_nan)
{
	Tensor z1 = F32(0, 0, 0), z2 = F32(0, 0, 0), x = F32(0, 1, 0), n = F32(0, NAN, 1);
	TensorCompare c = tensor_compare(&z1, &z2);
	ck_assert(c.rel_l2 == 0 && c.cosine == 1 && c.max_abs == 0);
	c = tensor_compare(&x, &z1); /* the reference is zero, the result is not */
	ck_assert(isinf(c.rel_l2) && c.cosine == 0 && c.max_abs == 1);
	c = tensor_compare(&z1, &x); /* the result is zero, the reference is not: 100% error */
	ck_assert(c.rel_l2 == 1 && c.cosine == 0 && c.max_abs == 1);
	c = tensor_compare(&n, &x); /* NaN must not hide */
	ck_assert(isnan(c.rel_l2) && isnan(c.cosine) && isnan(c.max_abs));
	Tensor e1 = tens(DT_F32, 1, (int64_t[]){0}, NULL), e2 = tens(DT_F32, 1, (int64_t[]){0}, NULL);
	c = tensor_compare(&e1, &e2);
	ck_assert(c.rel_l2 == 0 && c.cosine == 1 && c.max_abs == 0);
	tensor_free(&z1);
	tensor_free(&z2);
	tensor_free(&x);
	tensor_free(&n);
	tensor_free(&e1);
	tensor_free(&e2);
}
END_TEST

START_TEST(integer_tensors)
{
	Tensor a = tens(DT_I64, 1, (int64_t[]){2}, (double[]){3, 4}), b = tens(DT_I64, 1, (int64_t[]){2}, (double[]){3, 5});
	TensorCompare c = tensor_compare(&b, &a);
	ck_assert_double_eq_tol(c.rel_l2, 0.2, 1e-12);
	ck_assert_double_eq_tol(c.max_abs, 1, 1e-12);
	int64_t agree, rows;
	ck_assert(!top1_agreement(&a, &b, &agree, &rows)); /* not class scores */
	tensor_free(&a);
	tensor_free(&b);
}
END_TEST

START_TEST(top1)
{
	/* 3 rows of 4 classes; rows 0 and 2 agree, row 1 does not; ties take the first maximum */
	double r[] = {0, 5, 1, 2, /**/ 9, 0, 0, 0, /**/ 1, 1, 0, 0};
	double g[] = {0, 4, 1, 3, /**/ 0, 9, 0, 0, /**/ 2, 2, 0, 0};
	Tensor ref = tens(DT_F32, 2, (int64_t[]){3, 4}, r), got = tens(DT_F32, 2, (int64_t[]){3, 4}, g);
	int64_t agree, rows;
	ck_assert(top1_agreement(&got, &ref, &agree, &rows));
	ck_assert_int_eq(rows, 3);
	ck_assert_int_eq(agree, 2);
	ck_assert(top1_agreement(&ref, &ref, &agree, &rows) && agree == 3 && rows == 3);
	Tensor v = F32(0.1, 0.7, 0.2), w = F32(0.1, 0.2, 0.7);
	ck_assert(top1_agreement(&v, &v, &agree, &rows) && agree == 1 && rows == 1);
	ck_assert(top1_agreement(&w, &v, &agree, &rows) && agree == 0 && rows == 1);
	/* one class, rank 3, rank 0: not class scores */
	Tensor one = tens(DT_F32, 2, (int64_t[]){3, 1}, r), r3 = tens(DT_F32, 3, (int64_t[]){1, 3, 4}, r);
	Tensor s = tens(DT_F32, 0, NULL, r);
	ck_assert(!top1_agreement(&one, &one, &agree, &rows) && rows == 0);
	ck_assert(!top1_agreement(&r3, &r3, &agree, &rows));
	ck_assert(!top1_agreement(&s, &s, &agree, &rows));
	Tensor *all[] = {&ref, &got, &v, &w, &one, &r3, &s};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		tensor_free(all[i]);
}
END_TEST

/* ---------------------------------------------------------------- whole comparisons */

/* x[2,4] -> mm = MatMul(x, w[4,3]) -> act = Relu, whose [2,3] output is the first graph output
 * (class scores); the second is `shape` = Shape(act), an integer node that is never compared.
 * w = w0 * scale, plus bump at w[1][2]: known perturbations of the weights. */
static const double w0[12] = {0.5, -1, 0.25, 1.5, 0.75, -0.5, -0.25, 2, 1, 1, -1.5, 0.5};

static Graph *build(double scale, double bump, bool extra_node)
{
	Diag d = {0};
	Graph *g = graph_new("acc");
	Shape xs = shape_make(2, (int64_t[]){2, 4}), ws = shape_make(2, (int64_t[]){4, 3});
	Value *x = graph_add_value(g, "x", DT_F32, &xs);
	graph_add_input(g, x);
	Value *w = graph_add_constant(g, "w", DT_F32, &ws, &d);
	ck_assert_msg(w != NULL, "%s", d.msg);
	for (int i = 0; i < 12; i++)
		((float *)w->data)[i] = (float)(w0[i] * scale + (i == 1 * 3 + 2 ? bump : 0));
	Value *y = graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){x, w}, 1)->out[0];
	if (extra_node) /* a node only the transformed graph has (like tasd-activations inserts) */
		y = graph_add_node(g, OP_Identity, "inserted", 1, (Value *[]){y}, 1)->out[0];
	Value *z = graph_add_node(g, OP_Relu, "act", 1, (Value *[]){y}, 1)->out[0];
	Value *sh = graph_add_node(g, OP_Shape, "shape", 1, (Value *[]){z}, 1)->out[0];
	graph_add_output(g, z);
	graph_add_output(g, sh);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	return g;
}

static Tensor input_of(int k)
{
	double v[8];
	for (int i = 0; i < 8; i++)
		v[i] = sin(1.7 * i + 3.1 * k) * 2;
	return tens(DT_F32, 2, (int64_t[]){2, 4}, v);
}

/* y = x w with w = w0*scale + bump at (1,2), in double */
static void matmul_ref(const Tensor *x, double scale, double bump, double *y)
{
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < 3; c++) {
			double s = 0;
			for (int k = 0; k < 4; k++)
				s += ((float *)x->data)[r * 4 + k] * (w0[k * 3 + c] * scale + (k == 1 && c == 2 ? bump : 0));
			y[r * 3 + c] = s;
		}
}

static AccuracyReport *compare(Graph *dense, Graph *g, int samples)
{
	Diag d = {0};
	AccuracyReport *r = calloc(1, sizeof *r);
	ck_assert(r != NULL);
	r->reference = strdup("shape-infer");
	r->removed = strdup("");
	ck_assert_msg(accuracy_begin(r, dense, g, &d) == 0, "%s", d.msg);
	for (int k = 0; k < samples; k++) {
		Tensor x = input_of(k);
		ck_assert_msg(accuracy_add_sample(r, dense, g, &x, &d) == 0, "%s", d.msg);
		tensor_free(&x);
	}
	return r;
}

static const LayerAccuracy *layer(const AccuracyReport *r, const char *name)
{
	for (int i = 0; i < r->n_layers; i++)
		if (strcmp(r->layers[i].node, name) == 0)
			return &r->layers[i];
	return NULL;
}

START_TEST(same_graph_is_exact)
{
	Graph *a = build(1, 0, false), *b = build(1, 0, false);
	AccuracyReport *r = compare(a, b, 3);
	ck_assert_int_eq(r->samples, 3);
	ck_assert_int_eq(r->n_layers, 2); /* mm and act; shape has an integer output */
	for (int i = 0; i < r->n_layers; i++) {
		ck_assert_int_eq(r->layers[i].samples, 3);
		ck_assert(r->layers[i].rel_l2_sum == 0 && r->layers[i].rel_l2_max == 0);
	}
	ck_assert(layer(r, "mm")->weight_layer && !layer(r, "act")->weight_layer);
	ck_assert_int_eq(r->n_outputs, 2);
	const OutputAccuracy *o = &r->outputs[0];
	ck_assert_str_eq(o->name, "act");
	ck_assert(o->max_abs == 0 && o->rel_l2_sum == 0 && o->rel_l2_max == 0);
	ck_assert_double_eq_tol(o->cos_sum / o->samples, 1, 1e-12);
	ck_assert_double_eq_tol(o->cos_min, 1, 1e-12);
	ck_assert_int_eq(o->top1_total, 6); /* 3 inputs x 2 rows */
	ck_assert_int_eq(o->top1_agree, 6);
	ck_assert_int_eq(r->outputs[1].top1_total, 0); /* the shape output is no class score */
	ck_assert(r->outputs[1].max_abs == 0);
	accuracy_free(r);
	graph_free(a);
	graph_free(b);
}
END_TEST

START_TEST(scaled_weights)
{
	/* w' = 2w: mm's output doubles (rel 1), so does Relu's, cosine stays 1, argmax stays */
	Graph *a = build(1, 0, false), *b = build(2, 0, false);
	AccuracyReport *r = compare(a, b, 4);
	ck_assert_double_eq_tol(layer(r, "mm")->rel_l2_sum / 4, 1, 1e-6);
	ck_assert_double_eq_tol(layer(r, "mm")->rel_l2_max, 1, 1e-6);
	ck_assert_double_eq_tol(layer(r, "act")->rel_l2_max, 1, 1e-6);
	const OutputAccuracy *o = &r->outputs[0];
	ck_assert_double_eq_tol(o->cos_min, 1, 1e-6);
	ck_assert_int_eq(o->top1_agree, o->top1_total);
	/* max abs error = max |relu(y)| over the inputs */
	double want = 0;
	for (int k = 0; k < 4; k++) {
		Tensor x = input_of(k);
		double y[6];
		matmul_ref(&x, 1, 0, y);
		for (int i = 0; i < 6; i++)
			want = fmax(want, fmax(y[i], 0));
		tensor_free(&x);
	}
	ck_assert_double_eq_tol(o->max_abs, want, 1e-5);
	accuracy_free(r);
	graph_free(a);
	graph_free(b);
}
END_TEST

START_TEST(bumped_weight)
{
	/* one weight changed: mm's rel L2 per input is |x[:,1]| * bump / ||y||, computed here in double */
	const double bump = 0.3;
	Graph *a = build(1, 0, false), *b = build(1, bump, false);
	AccuracyReport *r = compare(a, b, 5);
	double sum = 0, max = 0;
	for (int k = 0; k < 5; k++) {
		Tensor x = input_of(k);
		double y[6], y2[6], e2 = 0, n2 = 0;
		matmul_ref(&x, 1, 0, y);
		matmul_ref(&x, 1, bump, y2);
		for (int i = 0; i < 6; i++) {
			e2 += (y2[i] - y[i]) * (y2[i] - y[i]);
			n2 += y[i] * y[i];
		}
		sum += sqrt(e2 / n2);
		max = fmax(max, sqrt(e2 / n2));
		tensor_free(&x);
	}
	const LayerAccuracy *mm = layer(r, "mm");
	ck_assert_int_eq(mm->samples, 5);
	ck_assert_double_eq_tol(mm->rel_l2_sum / 5, sum / 5, 1e-5);
	ck_assert_double_eq_tol(mm->rel_l2_max, max, 1e-5);
	ck_assert(layer(r, "act")->rel_l2_max > 0);
	ck_assert(r->outputs[0].cos_min < 1 && r->outputs[0].cos_min > 0.9);
	accuracy_free(r);
	graph_free(a);
	graph_free(b);
}
END_TEST

START_TEST(unpaired_nodes_are_skipped)
{
	Graph *a = build(1, 0, false), *b = build(1, 0, true);
	AccuracyReport *r = compare(a, b, 1);
	ck_assert_int_eq(r->n_layers, 2);
	ck_assert(layer(r, "inserted") == NULL);
	ck_assert(layer(r, "act")->rel_l2_max == 0);
	accuracy_free(r);
	graph_free(a);
	graph_free(b);
}
END_TEST

START_TEST(prints)
{
	Graph *a = build(1, 0, false), *b = build(2, 0, false);
	AccuracyReport *r = compare(a, b, 2);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	accuracy_print_table(r, f);
	fclose(f);
	ck_assert_msg(strstr(buf, "on 2 calibration inputs (generated") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "  layer  op      rel L2 mean  rel L2 max\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "  mm     MatMul            1           1\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "(1 other node compared: see --report)") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "100.0% (4/4)") != NULL, "%s", buf);
	free(buf);
	f = open_memstream(&buf, &len);
	accuracy_print_json(r, f);
	fclose(f);
	ck_assert_msg(strstr(buf, "\"node\": \"mm\", \"op\": \"MatMul\", \"weight_layer\": true, \"samples\": 2, \"rel_l2_mean\": 1") != NULL,
		      "%s", buf);
	ck_assert_msg(strstr(buf, "\"top1_agreement\": 1, \"top1_rows\": 4") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "\"top1_agreement\": null") != NULL, "%s", buf);
	free(buf);
	accuracy_free(r);
	graph_free(a);
	graph_free(b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accuracy");
	TCase *m = tcase_create("metrics");
	tcase_add_test(m, identical_tensors);
	tcase_add_test(m, known_perturbation);
	tcase_add_test(m, zero_and_nan);
	tcase_add_test(m, integer_tensors);
	tcase_add_test(m, top1);
	suite_add_tcase(s, m);
	TCase *c = tcase_create("compare");
	tcase_add_test(c, same_graph_is_exact);
	tcase_add_test(c, scaled_weights);
	tcase_add_test(c, bumped_weight);
	tcase_add_test(c, unpaired_nodes_are_skipped);
	tcase_add_test(c, prints);
	suite_add_tcase(s, c);
	return s;
}

int main(void) { return run_suite(suite()); }
