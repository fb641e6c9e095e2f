/* The convert-pattern pass: dense and encoded weights re-encoded for a target (the pattern
 * holds, the largest magnitudes stay, the remark's dropped L2 fraction is ||dropped|| / ||w||),
 * both spellings of a target, targets that drop nothing, shapes that cannot take the target,
 * keep and rules, and one-line argument errors. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* x[2,K] -> Gemm a (B[N1,K], transB) -> Gemm b (B[N1,N2]) -> MatMul c (B[N2,N3]) */
static Graph *chain(int64_t k, int64_t n1, int64_t n2, int64_t n3)
{
	Graph *g = graph_new("chain");
	Value *x = test_input(g, "x", SHAPE(2, k));
	Value *aw = test_crand(g, "a.w", SHAPE(n1, k), 1.0);
	Node *a = graph_add_node(g, OP_Gemm, "a", 2, (Value *[]){x, aw}, 1);
	a->attr.gemm.trans_b = 1;
	Value *bw = test_crand(g, "b.w", SHAPE(n1, n2), 1.0);
	Node *b = graph_add_node(g, OP_Gemm, "b", 2, (Value *[]){a->out[0], bw}, 1);
	Value *cw = test_crand(g, "c.w", SHAPE(n2, n3), 1.0);
	Node *c = graph_add_node(g, OP_MatMul, "c", 2, (Value *[]){b->out[0], cw}, 1);
	graph_add_output(g, c->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	return g;
}

static int run_pass(Graph *g, PassFn fn, const char *arg, Diag *d)
{
	int rc = test_run_pass(g, fn, arg, d);
	Diag v = {0};
	if (rc == 0)
		ck_assert_msg(graph_verify(g, &v) == 0, "%s", v.msg);
	return rc;
}

static void convert_ok(Graph *g, const char *arg)
{
	Diag d;
	ck_assert_msg(run_pass(g, pass_convert_pattern, arg, &d) == 0, "convert-pattern(%s): %s", arg, d.msg);
}

static Value *weight(Graph *g, const char *node, WeightView *v)
{
	Node *n = graph_find_node(g, node);
	ck_assert(weight_view(n, 1, v));
	return n->in[1];
}

static const Remark *last_remark(const Graph *g, const char *node)
{
	const Remark *r = test_remark_on(g, node);
	ck_assert_msg(r != NULL, "no remark on '%s'", node);
	return r;
}

static double sumsq(const float *p, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)p[i] * p[i];
	return s;
}

/* Every target on a dense chain: the weight fits afterwards, equals sparse_project of the
 * original, and the remark's value is sqrt(dropped / total). */
START_TEST(targets_on_dense_weights)
{
	static const struct { const char *arg, *enc; bool drops; } cases[] = {
		{"nm:2:4", "nm(2,4)", true},      {"nm(2,4)", "nm(2,4)", true},   {"nm:1:8", "nm(1,8)", true},
		{"nm:4:16", "nm(4,16)", true},    {"gs:4:8", "gs(4,8)", false},   {"gs(4,4)", "gs(4,4)", false},
		{"bsr:4x1", "bsr(4,1)", false},   {"block:2x2", "bsr(2,2)", false}, {"csr", "csr", false},
		{"dense", "dense", false},        {"tasd[(2,4),(1,4)]", "tasd[(2,4),(1,4)]", true},
	};
	static const char *const nodes[] = {"a", "b", "c"};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		test_rng_state = 10 + i;
		Graph *g = chain(32, 16, 24, 8);
		float *orig[3];
		for (int l = 0; l < 3; l++) {
			WeightView v;
			Value *w = weight(g, nodes[l], &v);
			orig[l] = malloc((size_t)(v.rows * v.cols) * sizeof(float));
			memcpy(orig[l], w->data, (size_t)(v.rows * v.cols) * sizeof(float));
		}
		convert_ok(g, cases[i].arg);
		for (int l = 0; l < 3; l++) {
			WeightView v;
			Value *w = weight(g, nodes[l], &v);
			int64_t n = v.rows * v.cols;
			ck_assert_msg(test_enc_is(&w->enc, cases[i].enc), "%s: node %s", cases[i].arg, nodes[l]);
			ck_assert(sparse_fits(w->data, &v, &w->enc));
			ck_assert(w->enc.kind == ENC_DENSE ? w->sparse == NULL : w->sparse != NULL);
			float *want = malloc((size_t)n * sizeof *want);
			memcpy(want, orig[l], (size_t)n * sizeof *want);
			double dropped = sparse_project(want, &v, &w->enc);
			ck_assert(memcmp(want, w->data, (size_t)n * sizeof *want) == 0);
			const Remark *r = last_remark(g, nodes[l]);
			ck_assert_str_eq(r->pass, "convert-pattern");
			ck_assert_str_eq(r->key, "dropped_l2_fraction");
			double frac = sqrt(dropped / sumsq(orig[l], n));
			ck_assert_double_eq_tol(r->value, frac, 1e-12);
			/* ||orig - now|| / ||orig|| measured directly */
			double diff = 0;
			for (int64_t k = 0; k < n; k++)
				diff += ((double)orig[l][k] - ((float *)w->data)[k]) * ((double)orig[l][k] - ((float *)w->data)[k]);
			ck_assert_double_eq_tol(r->value, sqrt(diff / sumsq(orig[l], n)), 1e-9);
			ck_assert(cases[i].drops ? r->value > 0 : r->value == 0);
			ck_assert_msg(strstr(r->text, "dense -> ") == r->text, "%s", r->text);
			free(want);
			free(orig[l]);
		}
		graph_free(g);
	}
}
END_TEST

/* Encoded weights (from prune) converted to another pattern, and back to what they already fit. */
START_TEST(encoded_weights)
{
	test_rng_state = 3;
	Graph *g = chain(32, 16, 24, 8);
	Diag d;
	ck_assert_msg(run_pass(g, pass_prune, "nm:2:4", &d) == 0, "%s", d.msg);
	convert_ok(g, "nm:2:4"); /* already fits: nothing dropped */
	for (int i = 0; i < g->n_remarks; i++)
		if (strcmp(g->remarks[i].pass, "convert-pattern") == 0) {
			ck_assert_double_eq(g->remarks[i].value, 0.0);
			ck_assert(strstr(g->remarks[i].text, "nm(2,4) -> nm(2,4): dropped L2 fraction 0.0000") != NULL);
		}
	convert_ok(g, "nm:1:4"); /* 2:4 -> 1:4 halves again */
	WeightView v;
	Value *w = weight(g, "a", &v);
	ck_assert(test_enc_is(&w->enc, "nm(1,4)"));
	int64_t nz = 0;
	for (int64_t i = 0; i < v.rows * v.cols; i++)
		nz += ((float *)w->data)[i] != 0.0f;
	ck_assert_int_eq(nz, v.rows * v.cols / 4);
	ck_assert(strstr(last_remark(g, "a")->text, "nm(2,4) -> nm(1,4)") != NULL);
	graph_free(g);

	/* unstructured 90% -> 2:4 drops what 2:4 cannot hold */
	test_rng_state = 4;
	g = chain(32, 16, 24, 8);
	ck_assert_msg(run_pass(g, pass_prune, "unstructured:0.5", &d) == 0, "%s", d.msg);
	convert_ok(g, "nm:2:4");
	const Remark *r = last_remark(g, "b");
	ck_assert(strstr(r->text, "csr -> nm(2,4)") == r->text);
	ck_assert(r->value > 0 && r->value < 1);
	w = weight(g, "b", &v);
	ck_assert(sparse_fits(w->data, &v, &w->enc));
	graph_free(g);
}
END_TEST

/* Shapes that cannot take the target keep their encoding; keep and rules as in prune. */
START_TEST(kept_layers)
{
	test_rng_state = 5;
	Graph *g = chain(32, 3, 24, 8); /* b's rows have 3 columns: no nm(2,4) */
	Diag d;
	ck_assert_msg(run_pass(g, pass_prune, "unstructured:0.5", &d) == 0, "%s", d.msg);
	convert_ok(g, "nm:2:4");
	WeightView v;
	ck_assert(weight(g, "b", &v)->enc.kind == ENC_CSR);
	ck_assert_str_eq(last_remark(g, "b")->text, "kept as csr: rows of 3 cannot take nm(2,4) (shorter than M=4)");
	ck_assert(test_enc_is(&weight(g, "a", &v)->enc, "nm(2,4)"));
	graph_free(g);

	g = chain(32, 16, 24, 8);
	convert_ok(g, "nm:2:4;keep=first,last;b=csr");
	ck_assert(weight(g, "a", &v)->enc.kind == ENC_DENSE);
	ck_assert(weight(g, "b", &v)->enc.kind == ENC_CSR);
	ck_assert(weight(g, "c", &v)->enc.kind == ENC_DENSE);
	ck_assert_str_eq(last_remark(g, "a")->text, "kept dense: first prunable layer (keep=first)");
	ck_assert_str_eq(last_remark(g, "c")->text, "kept dense: last prunable layer (keep=last)");
	graph_free(g);

	g = chain(32, 16, 24, 8);
	convert_ok(g, "gs:8:8"); /* 8 rows of c's view... and a's 16 rows of 32: all fine */
	ck_assert(test_enc_is(&weight(g, "c", &v)->enc, "gs(8,8)"));
	graph_free(g);

	g = chain(4, 16, 24, 8); /* a's rows have 4 columns: cannot feed 8 lanes */
	convert_ok(g, "gs:8:8");
	ck_assert(weight(g, "a", &v)->enc.kind == ENC_DENSE);
	ck_assert(strstr(last_remark(g, "a")->text, "kept dense: rows of 4 cannot feed 8 lanes") != NULL);
	graph_free(g);
}
END_TEST

START_TEST(argument_errors)
{
	static const struct { const char *arg, *msg; } cases[] = {
		{NULL, "needs a pattern: convert-pattern(nm:2:4)"},
		{"nm:2", "bad pattern 'nm:2': expected nm:N:M"},
		{"nm:9:8", "'9' is not a count N in 1..M"},
		{"nm(2,4", "bad pattern 'nm(2,4'"},
		{"nm(2,4)x", "bad pattern 'nm(2,4)x'"},
		{"bsr:4", "'4' is not a block size RxC"},
		{"bsr:4x1:0.5", "expected bsr:RxC"},
		{"bsr:4x", "'4x' is not a block size"},
		{"gs:16:8", "V=16 lanes cannot read 16 distinct banks out of B=8"},
		{"gs(16,8)", "V=16 lanes cannot read"},
		{"unstructured:0.5", "unknown kind 'unstructured'"},
		{"nm(2,512)", "M=512 is above 256"},
		{"nm:2:4;global", "bad option 'global': only prune ranks weights across layers"},
		{"foo", "bad pattern 'foo'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		test_rng_state = 1;
		Graph *g = chain(8, 4, 4, 4);
		Diag d;
		ck_assert_msg(run_pass(g, pass_convert_pattern, cases[i].arg, &d) < 0, "accepted %s", cases[i].arg);
		ck_assert_msg(strstr(d.msg, cases[i].msg) != NULL, "convert-pattern(%s): '%s' lacks '%s'",
			      cases[i].arg ? cases[i].arg : "NULL", d.msg, cases[i].msg);
		ck_assert(strchr(d.msg, '\n') == NULL);
		ck_assert_int_eq(g->n_remarks, 0);
		graph_free(g);
	}
}
END_TEST

/* The interpreter on the converted graph equals the interpreter on its values left dense. */
START_TEST(outputs_encoded_equal_dense)
{
	static const char *const args[] = {"nm:2:4", "gs:4:8", "bsr:4x1", "tasd[(1,4),(1,4)]", "nm:1:8;b=csr"};
	for (size_t a = 0; a < sizeof args / sizeof *args; a++) {
		test_rng_state = 70 + a;
		Graph *g = chain(32, 16, 24, 8);
		test_rng_state = 70 + a;
		Graph *dense = chain(32, 16, 24, 8);
		convert_ok(g, args[a]);
		test_copy_encoded(g, dense);
		Tensor in = test_uniform_tensor(&g->inputs[0]->shape);
		test_outputs_agree(g, dense, &in, args[a]);
		tensor_free(&in);
		graph_free(g);
		graph_free(dense);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("convert_pattern");
	TCase *t = tcase_create("convert_pattern");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, targets_on_dense_weights);
	tcase_add_test(t, encoded_weights);
	tcase_add_test(t, kept_layers);
	tcase_add_test(t, argument_errors);
	tcase_add_test(t, outputs_encoded_equal_dense);
	suite_add_tcase(s, t);
	return s;
}

int main(void) { return run_suite(suite()); }
