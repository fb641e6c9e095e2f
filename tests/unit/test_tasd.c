/* TASD: the greedy series on weights (sparse_project) and activations (nnzc.TasdActivation),
 * the tasd and tasd-activations passes, their argument grammar and the layer-wise search.
 * Property tests run a seeded PRNG over many random shapes and series. */
#include "nnzc/ir.h"
#include "passes/tasd.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static double frand(double lo, double hi)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static int irand(int lo, int hi) { return lo + (int)frand(0, hi - lo + 1 - 1e-9); }

/* Values with many exact ties half of the time (small integers), so the tie rule is exercised. */
static float value_rand(bool ties)
{
	if (ties)
		return (float)irand(-3, 3);
	return (float)frand(-2, 2);
}

static Encoding series_of(int nterms, const int *nm)
{
	Encoding e;
	memset(&e, 0, sizeof e);
	e.kind = ENC_TASD;
	e.u.tasd.nterms = nterms;
	for (int i = 0; i < nterms; i++) {
		e.u.tasd.term[i].n = nm[2 * i];
		e.u.tasd.term[i].m = nm[2 * i + 1];
	}
	return e;
}

static Encoding random_series(int nterms)
{
	static const int ms[] = {1, 2, 3, 4, 5, 8, 16, 32, 128, 256};
	Encoding e;
	memset(&e, 0, sizeof e);
	e.kind = ENC_TASD;
	e.u.tasd.nterms = nterms;
	for (int i = 0; i < nterms; i++) {
		int m = ms[irand(0, (int)(sizeof ms / sizeof ms[0]) - 1)];
		e.u.tasd.term[i].m = m;
		e.u.tasd.term[i].n = irand(1, m);
	}
	return e;
}

static double sumsq(const float *x, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += (double)x[i] * x[i];
	return s;
}

/* The obvious implementation, for comparison: per fiber, per term, per group, rank the residual
 * by (magnitude descending, index ascending) and keep the first N. */
typedef struct Rank { float mag; int idx; } Rank;

static int rank_cmp(const void *pa, const void *pb)
{
	const Rank *a = pa, *b = pb;
	if (a->mag != b->mag)
		return a->mag > b->mag ? -1 : 1;
	return a->idx - b->idx;
}

static void naive_tasd(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, const Encoding *e)
{
	float *r = malloc((size_t)len * sizeof *r);
	bool *kept = malloc((size_t)len);
	Rank *rk = malloc((size_t)len * sizeof *rk);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			for (int64_t k = 0; k < len; k++) {
				r[k] = x[(o * len + k) * inner + i];
				kept[k] = false;
			}
			for (int t = 0; t < e->u.tasd.nterms; t++) {
				int n = e->u.tasd.term[t].n, m = e->u.tasd.term[t].m;
				for (int64_t s = 0; s < len; s += m) {
					int g = (int)(len - s < m ? len - s : m);
					for (int j = 0; j < g; j++)
						rk[j] = (Rank){fabsf(r[s + j]), j};
					qsort(rk, (size_t)g, sizeof *rk, rank_cmp);
					for (int j = 0; j < n && j < g; j++) {
						kept[s + rk[j].idx] = true;
						r[s + rk[j].idx] = 0;
					}
				}
			}
			for (int64_t k = 0; k < len; k++)
				y[(o * len + k) * inner + i] = kept[k] ? x[(o * len + k) * inner + i] : 0.0f;
		}
	free(r);
	free(kept);
	free(rk);
}

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static Value *input(Graph *g, const char *name, Shape s)
{
	Value *v = graph_add_value(g, name, DT_F32, &s);
	graph_add_input(g, v);
	return v;
}

static Value *crand(Graph *g, const char *name, Shape s)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, name, DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	float *p = v->data;
	for (int64_t i = 0; i < shape_numel(&s); i++)
		p[i] = (float)frand(-1, 1);
	return v;
}

#define NODE(g, op, name, n_out, ...)                                                          \
	graph_add_node(g, op, name, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), \
		       (Value *[]){__VA_ARGS__}, n_out)

static void run_pass(Graph *g, PassFn pass, const char *arg)
{
	Diag d = {0};
	PassOptions opt = {.arg = arg};
	ck_assert_msg(pass(g, &opt, &d) == 0, "%s(%s): %s", pass == pass_tasd ? "tasd" : "tasd-activations", arg, d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
}

static const Remark *find_remark(const Graph *g, const char *node, const char *key)
{
	for (int i = 0; i < g->n_remarks; i++) {
		const Remark *r = &g->remarks[i];
		if (r->node && strcmp(r->node, node) == 0 && (key == NULL ? r->key == NULL : r->key && strcmp(r->key, key) == 0))
			return r;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the greedy series */

/* Data built to fit nm(N,M) exactly: at most N non-zeros in every group of M columns. */
static void make_fitting(float *x, int64_t rows, int64_t cols, int n, int m, bool ties)
{
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c0 = 0; c0 < cols; c0 += m) {
			int g = (int)(cols - c0 < m ? cols - c0 : m);
			for (int j = 0; j < g; j++)
				x[r * cols + c0 + j] = 0;
			int k = irand(0, n < g ? n : g);
			for (int j = 0; j < k; j++)
				x[r * cols + c0 + irand(0, g - 1)] = value_rand(ties);
		}
}

START_TEST(tasd_exact_when_first_term_fits)
{
	rng_state = 11;
	for (int iter = 0; iter < 300; iter++) {
		int64_t rows = irand(1, 9), cols = irand(1, 70);
		int nterms = irand(1, NNZC_MAX_TASD_TERMS);
		Encoding e = random_series(nterms);
		int n = e.u.tasd.term[0].n, m = e.u.tasd.term[0].m;
		float *x = malloc((size_t)(rows * cols) * sizeof *x), *y = malloc((size_t)(rows * cols) * sizeof *y);
		make_fitting(x, rows, cols, n, m, iter % 2);
		memcpy(y, x, (size_t)(rows * cols) * sizeof *y);
		WeightView v = {rows, cols, cols, 1, cols, 0};
		ck_assert(sparse_fits(x, &v, &e));
		double dropped = sparse_project(y, &v, &e);
		ck_assert_msg(dropped == 0 && memcmp(x, y, (size_t)(rows * cols) * sizeof *x) == 0,
			      "iteration %d: sparse_project changed a matrix that fits its first term", iter);
		/* the activation kernel, along the rows and (transposed) along the columns' stride */
		ck_assert_int_eq(tasd_approximate(x, y, rows, cols, 1, &e, &dropped), 0);
		ck_assert_msg(dropped == 0 && memcmp(x, y, (size_t)(rows * cols) * sizeof *x) == 0,
			      "iteration %d: tasd_approximate changed a tensor that fits its first term", iter);
		free(x);
		free(y);
	}
}
END_TEST

START_TEST(tasd_more_terms_never_worse)
{
	rng_state = 12;
	for (int iter = 0; iter < 300; iter++) {
		int64_t outer = irand(1, 5), len = irand(1, 80), inner = irand(1, 4), numel = outer * len * inner;
		Encoding full = random_series(NNZC_MAX_TASD_TERMS);
		float *x = malloc((size_t)numel * sizeof *x), *y = malloc((size_t)numel * sizeof *y);
		for (int64_t i = 0; i < numel; i++)
			x[i] = value_rand(iter % 3 == 0);
		double prev_act = INFINITY, prev_w = INFINITY;
		for (int k = 1; k <= NNZC_MAX_TASD_TERMS; k++) {
			Encoding e = full;
			e.u.tasd.nterms = k;
			double dropped;
			ck_assert_int_eq(tasd_approximate(x, y, outer, len, inner, &e, &dropped), 0);
			ck_assert_msg(dropped <= prev_act, "iteration %d: term %d raised the error %g -> %g", iter, k,
				      prev_act, dropped);
			ck_assert_msg(fabs(dropped - (sumsq(x, numel) - sumsq(y, numel))) <= 1e-6 * (1 + sumsq(x, numel)),
				      "iteration %d: reported dropped norm disagrees with the output", iter);
			prev_act = dropped;
			/* the weight projection, on the [outer*inner... ] rows: the same matrix when inner == 1 */
			memcpy(y, x, (size_t)numel * sizeof *y);
			WeightView v = {outer * inner, len, len, 1, len, 0};
			double dw = sparse_project(y, &v, &e);
			ck_assert_msg(dw <= prev_w, "iteration %d: sparse_project: term %d raised the error", iter, k);
			prev_w = dw;
		}
		free(x);
		free(y);
	}
}
END_TEST

/* The kernel against the obvious implementation, and against the weight projection (the same
 * rule, another implementation) where the layouts coincide. */
START_TEST(tasd_activation_matches_naive)
{
	rng_state = 13;
	for (int iter = 0; iter < 300; iter++) {
		int rank = irand(1, 4);
		int64_t dims[4];
		for (int i = 0; i < rank; i++)
			dims[i] = irand(1, i == 1 ? 40 : 6);
		Shape s = shape_make(rank, dims);
		int axis = irand(0, rank - 1);
		Encoding e = random_series(irand(1, NNZC_MAX_TASD_TERMS));

		Graph *g = graph_new("t");
		Value *x = input(g, "x", s);
		Node *n = NODE(g, OP_TasdActivation, "tasd", 1, x);
		n->attr.tasd_act.axis = iter % 2 ? axis : axis - rank; /* negative axes too */
		n->attr.tasd_act.n.n = n->attr.tasd_act.m.n = e.u.tasd.nterms;
		for (int i = 0; i < e.u.tasd.nterms; i++) {
			n->attr.tasd_act.n.v[i] = e.u.tasd.term[i].n;
			n->attr.tasd_act.m.v[i] = e.u.tasd.term[i].m;
		}
		graph_add_output(g, n->out[0]);
		Diag d = {0};
		ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
		ck_assert(shape_equal(&n->out[0]->shape, &s));

		Tensor in, out, want;
		ck_assert_int_eq(tensor_alloc(&in, DT_F32, &s, &d), 0);
		ck_assert_int_eq(tensor_alloc(&want, DT_F32, &s, &d), 0);
		int64_t numel = tensor_numel(&in);
		for (int64_t i = 0; i < numel; i++)
			((float *)in.data)[i] = value_rand(iter % 2 == 0);
		ck_assert_msg(ref_run(g, &in, &out, &d) == 0, "%s", d.msg);
		int64_t outer = 1, inner = 1;
		for (int i = 0; i < axis; i++)
			outer *= dims[i];
		for (int i = axis + 1; i < rank; i++)
			inner *= dims[i];
		naive_tasd(in.data, want.data, outer, dims[axis], inner, &e);
		ck_assert_msg(memcmp(out.data, want.data, (size_t)numel * sizeof(float)) == 0,
			      "iteration %d: the kernel differs from the naive series", iter);
		if (inner == 1) {
			WeightView v = {outer, dims[axis], dims[axis], 1, dims[axis], 0};
			float *p = malloc((size_t)numel * sizeof *p);
			memcpy(p, in.data, (size_t)numel * sizeof *p);
			sparse_project(p, &v, &e);
			for (int64_t i = 0; i < numel; i++)
				ck_assert_msg(p[i] == ((float *)out.data)[i], "iteration %d: the kernel and sparse_project "
					      "disagree at %lld", iter, (long long)i);
			free(p);
		}
		tensor_free(&in);
		tensor_free(&out);
		tensor_free(&want);
		graph_free(g);
	}
}
END_TEST

START_TEST(tasd_activation_nan_kept_and_bad_attrs)
{
	Graph *g = graph_new("t");
	Value *x = input(g, "x", SHAPE(1, 4));
	Node *n = NODE(g, OP_TasdActivation, "tasd", 1, x);
	n->attr.tasd_act.axis = 1;
	n->attr.tasd_act.n = (Ints){1, {1}};
	n->attr.tasd_act.m = (Ints){1, {4}};
	graph_add_output(g, n->out[0]);
	Diag d = {0};
	ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
	Tensor in, out;
	ck_assert_int_eq(tensor_alloc(&in, DT_F32, &x->shape, &d), 0);
	float *p = in.data;
	p[0] = 5, p[1] = NAN, p[2] = -7, p[3] = 1;
	ck_assert_msg(ref_run(g, &in, &out, &d) == 0, "%s", d.msg);
	const float *q = out.data;
	ck_assert(q[0] == 0 && isnan(q[1]) && q[2] == 0 && q[3] == 0);
	tensor_free(&out);

	static const struct { int nn, n0, n1, mn, m0, m1; const char *msg; } bad[] = {
		{1, 2, 0, 1, 1, 0, "terms must be N:M"},     /* N > M */
		{1, 1, 0, 1, 300, 0, "terms must be N:M"},   /* M > 256 */
		{1, 0, 0, 1, 4, 0, "terms must be N:M"},     /* N = 0 */
		{2, 1, 1, 1, 4, 0, "same length"},
		{0, 0, 0, 0, 0, 0, "1 to 4 terms"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n->attr.tasd_act.n = (Ints){bad[i].nn, {bad[i].n0, bad[i].n1}};
		n->attr.tasd_act.m = (Ints){bad[i].mn, {bad[i].m0, bad[i].m1}};
		diag_clear(&d);
		ck_assert_int_eq(infer_node(n, &d), -1);
		ck_assert_msg(strstr(d.msg, bad[i].msg) && strstr(d.msg, "'tasd'"), "case %zu: %s", i, d.msg);
		/* the kernel checks too, for nodes that reach it without inference */
		diag_clear(&d);
		Tensor o2;
		ck_assert_int_eq(tensor_alloc(&o2, DT_F32, &x->shape, &d), 0);
		Tensor *pin[1] = {&in}, *pout[1] = {&o2};
		ck_assert_int_eq(ref_tasd_activation(n, pin, pout, &d), -1);
		tensor_free(&o2);
	}
	n->attr.tasd_act.n = (Ints){1, {1}};
	n->attr.tasd_act.m = (Ints){1, {4}};
	n->attr.tasd_act.axis = 2;
	diag_clear(&d);
	ck_assert_int_eq(infer_node(n, &d), -1);
	ck_assert_msg(strstr(d.msg, "axis 2 is out of range"), "%s", d.msg);
	tensor_free(&in);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- arguments, pipelines */

START_TEST(tasd_args_grammar)
{
	static const char *const good[] = {
		"2:4+1:4", "1:8+1:8+1:8", "4:8+2:8", "search:0.05", "search:0", "search:.5", "dense;conv*=2:4",
		"2:4 ; keep=first,last ; fc=dense", "256:256", "1:1+1:2+1:3+1:4",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		TasdArgs a;
		Diag d = {0};
		ck_assert_msg(tasd_args_parse(good[i], "tasd", &a, &d) == 0, "'%s': %s", good[i], d.msg);
	}
	TasdArgs a;
	Diag d = {0};
	ck_assert_int_eq(tasd_args_parse("2:4+1:8;keep=last;l1*=search:0.1", "tasd", &a, &d), 0);
	ck_assert_int_eq(a.def.mode, TASD_FIXED);
	ck_assert_int_eq(a.def.series.u.tasd.nterms, 2);
	ck_assert_int_eq(a.def.series.u.tasd.term[1].m, 8);
	ck_assert(a.rules.keep_last && !a.rules.keep_first);
	ck_assert_int_eq(a.rules.n_rules, 1);
	ck_assert_int_eq(a.spec[0].mode, TASD_SEARCH);
	ck_assert(a.spec[0].budget == 0.1);

	static const struct { const char *arg, *msg; } bad[] = {
		{"5:4", "N > M"},
		{"2:4+", "'' is not a term"},
		{"2:4+1", "'1' is not a term"},
		{"0:4", "'0:4' is not a term"},
		{"1:300", "'1:300' is not a term"},
		{"1:4+1:4+1:4+1:4+1:4", "more than 4 terms"},
		{"search:-1", "not a number >= 0"},
		{"search:abc", "not a number >= 0"},
		{"search:", "not a number >= 0"},
		{"search:inf", "not a number >= 0"},
		{"2:4;1:4", "a second default series"},
		{"keep=first", "no default series"},
		{"2:4;keep=middle", "'middle' is not first or last"},
		{"2:4;;", "empty option"},
		{"2:4;x=7:4", "rule 'x': bad series"},
		{"nm:2:4", "is not a term"},
		{"2:4;global", "bad option 'global': only prune ranks weights across layers"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		diag_clear(&d);
		ck_assert_msg(tasd_args_parse(bad[i].arg, "tasd", &a, &d) < 0, "'%s' accepted", bad[i].arg);
		ck_assert_msg(strstr(d.msg, bad[i].msg), "'%s': %s", bad[i].arg, d.msg);
	}
	diag_clear(&d);
	ck_assert(tasd_args_parse(NULL, "tasd", &a, &d) < 0 && strstr(d.msg, "needs a series"));
}
END_TEST

START_TEST(tasd_pipeline_round_trip)
{
	static const char *const texts[] = {
		"shape-infer,tasd(2:4+1:4)",
		"tasd(search:0.05)",
		"fold-constants,tasd(1:8+1:8+1:8),tasd-activations(2:4;keep=first),dce",
		"tasd-activations(search:0.1)",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		Pipeline p, q;
		Diag d = {0};
		ck_assert_msg(pipeline_parse(texts[i], &p, &d) == 0, "%s", d.msg);
		char buf[512];
		FILE *f = fmemopen(buf, sizeof buf, "w");
		pipeline_print(&p, f);
		fclose(f);
		ck_assert_str_eq(buf, texts[i]);
		ck_assert_msg(pipeline_parse(buf, &q, &d) == 0, "%s", d.msg);
		ck_assert_int_eq(p.n, q.n);
	}
	Pipeline p;
	Diag d = {0};
	ck_assert(pipeline_parse("tasd", &p, &d) < 0 && strstr(d.msg, "needs options"));
}
END_TEST

/* ---------------------------------------------------------------- the weight pass */

/* x[1,16,6,6] -> conv(W[8,16,3,3]) -> relu -> conv(W2[8,8,1,1]) -> flatten -> gemm(B[288,10]) */
static Graph *small_cnn(void)
{
	Graph *g = graph_new("cnn");
	Value *x = input(g, "x", SHAPE(1, 16, 6, 6));
	Value *w1 = crand(g, "w1", SHAPE(8, 16, 3, 3));
	Node *c1 = NODE(g, OP_Conv, "conv1", 1, x, w1);
	c1->attr.conv.pads = (Ints){4, {1, 1, 1, 1}};
	Value *r = NODE(g, OP_Relu, "relu", 1, c1->out[0])->out[0];
	Value *w2 = crand(g, "w2", SHAPE(8, 8, 1, 1));
	Value *c2 = NODE(g, OP_Conv, "conv2", 1, r, w2)->out[0];
	Value *f = NODE(g, OP_Flatten, "flat", 1, c2)->out[0];
	Value *b = crand(g, "fc_w", SHAPE(288, 10));
	Value *y = NODE(g, OP_Gemm, "fc", 1, f, b)->out[0];
	graph_add_output(g, y);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	return g;
}

static void random_input(const Graph *g, Tensor *in)
{
	Diag d = {0};
	ck_assert_int_eq(tensor_alloc(in, DT_F32, &g->inputs[0]->shape, &d), 0);
	for (int64_t i = 0; i < tensor_numel(in); i++)
		((float *)in->data)[i] = (float)frand(-1, 1);
}

START_TEST(tasd_pass_fixed_series)
{
	rng_state = 21;
	Graph *g = small_cnn();
	Value *w1 = graph_find_value(g, "w1"), *fc = graph_find_value(g, "fc_w");
	int64_t n1 = shape_numel(&w1->shape);
	float *orig = malloc((size_t)n1 * sizeof *orig);
	memcpy(orig, w1->data, (size_t)n1 * sizeof *orig);
	run_pass(g, pass_tasd, "2:4+1:4");
	ck_assert_int_eq(w1->enc.kind, ENC_TASD);
	ck_assert_int_eq(w1->enc.u.tasd.nterms, 2);
	ck_assert(w1->sparse != NULL);
	/* the data is the greedy reconstruction: 3 of every 4 kept (dense random data) */
	WeightView v;
	ck_assert(weight_view(graph_find_node(g, "conv1"), 1, &v));
	float *want = malloc((size_t)n1 * sizeof *want);
	memcpy(want, orig, (size_t)n1 * sizeof *want);
	Encoding e = series_of(2, (int[]){2, 4, 1, 4});
	double dropped = sparse_project(want, &v, &e);
	ck_assert(memcmp(want, w1->data, (size_t)n1 * sizeof *want) == 0);
	ck_assert_int_eq(value_nnz(w1), n1 / 4 * 3);
	const Remark *r = find_remark(g, "conv1", "dropped_l2_fraction");
	ck_assert(r != NULL);
	ck_assert(fabs(r->value - sqrt(dropped / sumsq(orig, n1))) < 1e-9);
	r = find_remark(g, "conv1", "density");
	ck_assert(r != NULL && fabs(r->value - 0.75) < 1e-9);
	/* conv2 has 8 columns, fc 288 (its transposed view): both decomposed */
	ck_assert_int_eq(graph_find_value(g, "w2")->enc.kind, ENC_TASD);
	ck_assert_int_eq(fc->enc.kind, ENC_TASD);

	/* the interpreter computes from the packed terms; it must agree with the dense payload */
	Tensor in, out1, out2;
	random_input(g, &in);
	Diag d = {0};
	ck_assert_msg(ref_run(g, &in, &out1, &d) == 0, "%s", d.msg);
	Value *ws[] = {w1, graph_find_value(g, "w2"), fc};
	for (int i = 0; i < 3; i++) {
		ws[i]->sparse = NULL;
		ws[i]->enc.kind = ENC_DENSE;
	}
	ck_assert_msg(ref_run(g, &in, &out2, &d) == 0, "%s", d.msg);
	for (int64_t i = 0; i < tensor_numel(&out1); i++)
		ck_assert(fabsf(((float *)out1.data)[i] - ((float *)out2.data)[i]) <= 1e-4f);
	tensor_free(&in);
	tensor_free(&out1);
	tensor_free(&out2);
	free(orig);
	free(want);
	graph_free(g);
}
END_TEST

START_TEST(tasd_pass_keeps_what_cannot_take_it)
{
	rng_state = 22;
	Graph *g = small_cnn();
	/* conv2 has 8 columns: a 1:16 term cannot run on it; keep=first leaves conv1 alone; a rule
	 * sends fc to dense and another matches nothing */
	Value *w1 = graph_find_value(g, "w1");
	float first = ((float *)w1->data)[0];
	run_pass(g, pass_tasd, "2:4+1:16;keep=first;fc=dense;nothing*=2:4");
	ck_assert_int_eq(w1->enc.kind, ENC_DENSE);
	ck_assert(((float *)w1->data)[0] == first);
	ck_assert_int_eq(graph_find_value(g, "w2")->enc.kind, ENC_DENSE);
	ck_assert_int_eq(graph_find_value(g, "fc_w")->enc.kind, ENC_DENSE);
	const Remark *r = find_remark(g, "conv1", NULL);
	ck_assert(r && strstr(r->text, "keep=first"));
	r = find_remark(g, "conv2", NULL);
	ck_assert_msg(r && strstr(r->text, "8 columns cannot take 2:4+1:16"), "%s", r ? r->text : "none");
	r = find_remark(g, "fc", NULL);
	ck_assert(r && strstr(r->text, "rule 'fc=dense'"));
	bool unused = false;
	for (int i = 0; i < g->n_remarks; i++)
		unused |= g->remarks[i].node == NULL && strstr(g->remarks[i].text, "nothing*") != NULL;
	ck_assert(unused);
	graph_free(g);
}
END_TEST

/* A weight read both as a weight and as data is not the pass's to change; a weight shared by two
 * layers is decomposed once. */
START_TEST(tasd_pass_shared_weights)
{
	rng_state = 23;
	Graph *g = graph_new("shared");
	Value *x = input(g, "x", SHAPE(8, 8));
	Value *b = crand(g, "b", SHAPE(8, 8));
	Value *y1 = NODE(g, OP_MatMul, "mm1", 1, x, b)->out[0];
	Value *y2 = NODE(g, OP_MatMul, "mm2", 1, y1, b)->out[0];
	graph_add_output(g, y2);
	Value *c = crand(g, "c", SHAPE(8, 8));
	Value *y3 = NODE(g, OP_MatMul, "mm3", 1, x, c)->out[0];
	Value *y4 = NODE(g, OP_Add, "add", 1, y3, c)->out[0];
	graph_add_output(g, y4);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	run_pass(g, pass_tasd, "1:4");
	ck_assert_int_eq(b->enc.kind, ENC_TASD);
	ck_assert_int_eq(value_nnz(b), 16);
	ck_assert(find_remark(g, "mm1", "dropped_l2_fraction") != NULL);
	ck_assert(find_remark(g, "mm2", "dropped_l2_fraction") == NULL);
	ck_assert_int_eq(c->enc.kind, ENC_DENSE);
	const Remark *r = find_remark(g, "mm3", NULL);
	ck_assert(r && strstr(r->text, "also read as something else"));
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- the search */

static int search_choice(const Graph *g, const char *node, char *series, size_t cap)
{
	const Value *w = graph_find_node(g, node)->in[1];
	if (w->enc.kind == ENC_DENSE) {
		snprintf(series, cap, "dense");
		return 0;
	}
	tasd_series_str(&w->enc, series, cap);
	return 1;
}

/* One MatMul layer whose weight is given. */
static Graph *one_layer(int64_t k, int64_t n, Value **wout)
{
	Graph *g = graph_new("one");
	Value *x = input(g, "x", SHAPE(1, k));
	Value *w = crand(g, "w", SHAPE(k, n));
	graph_add_output(g, NODE(g, OP_MatMul, "mm", 1, x, w)->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	*wout = w;
	return g;
}

/* Weights whose answer is known: a 1:8 weight costs 1:8 exactly; a 2:4 one 2:4 (the first of
 * the three exact candidates of that cost); a dense one with budget 0 stays dense; with budget 1
 * anything goes and the cheapest, 1:8, wins. */
START_TEST(tasd_search_known_answers)
{
	rng_state = 31;
	static const struct { int n, m; double budget; const char *want; } cases[] = {
		{1, 8, 0.0, "1:8"}, {2, 4, 0.0, "2:4"}, {2, 8, 0.0, "2:8"}, {1, 4, 0.0, "1:4"},
		{8, 8, 0.0, "dense"}, {8, 8, 1.0, "1:8"}, {3, 8, 0.0, "2:8+1:8"}, {3, 4, 0.0, "2:4+1:4"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		Value *w;
		Graph *g = one_layer(64, 16, &w);
		/* the transposed view: build the [rows=16, cols=64] matrix, then store it as B[64, 16] */
		float m[16 * 64];
		for (int r = 0; r < 16; r++)
			for (int c0 = 0; c0 < 64; c0 += cases[i].m) {
				for (int j = 0; j < cases[i].m; j++)
					m[r * 64 + c0 + j] = 0;
				/* exactly n non-zeros at distinct random offsets, distinct magnitudes */
				for (int k = 0; k < cases[i].n;) {
					int j = irand(0, cases[i].m - 1);
					if (m[r * 64 + c0 + j] != 0)
						continue;
					m[r * 64 + c0 + j] = (float)((frand(0, 1) < 0.5 ? -1 : 1) * frand(0.5, 2));
					k++;
				}
			}
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 64; c++)
				((float *)w->data)[c * 16 + r] = m[r * 64 + c];
		char arg[32], got[64];
		snprintf(arg, sizeof arg, "search:%g", cases[i].budget);
		run_pass(g, pass_tasd, arg);
		search_choice(g, "mm", got, sizeof got);
		ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu (%d:%d, %s): chose %s, want %s", i, cases[i].n,
			      cases[i].m, arg, got, cases[i].want);
		ck_assert(find_remark(g, "mm", "density") != NULL);
		graph_free(g);
	}
	/* 3 columns: no candidate at all (the smallest M is 4) */
	Value *w;
	Graph *g = one_layer(3, 5, &w);
	run_pass(g, pass_tasd, "search:0.5");
	ck_assert_int_eq(w->enc.kind, ENC_DENSE);
	const Remark *r = find_remark(g, "mm", NULL);
	ck_assert_msg(r && strstr(r->text, "3 columns cannot take any candidate (fewer than M=4)"), "%s", r ? r->text : "-");
	graph_free(g);
}
END_TEST

/* On random layers: the choice is within the budget, and every cheaper candidate is not. */
START_TEST(tasd_search_budget_property)
{
	rng_state = 32;
	static const double budgets[] = {0.02, 0.1, 0.2, 0.35, 0.5, 0.7};
	for (int iter = 0; iter < 60; iter++) {
		int64_t k = irand(1, 40), n = irand(1, 12);
		Value *w;
		Graph *g = one_layer(k, n, &w);
		for (int64_t i = 0; i < k * n; i++) /* some zeros, so that the cheap candidates sometimes fit */
			((float *)w->data)[i] = frand(0, 1) < 0.4 ? 0.0f : value_rand(iter % 2);
		int64_t numel = k * n;
		float *orig = malloc((size_t)numel * sizeof *orig), *tmp = malloc((size_t)numel * sizeof *tmp);
		memcpy(orig, w->data, (size_t)numel * sizeof *orig);
		double total = sumsq(orig, numel);
		double budget = budgets[iter % 6];
		char arg[32];
		snprintf(arg, sizeof arg, "search:%g", budget);
		WeightView v;
		ck_assert(weight_view(graph_find_node(g, "mm"), 1, &v));
		run_pass(g, pass_tasd, arg);
		int64_t chosen_cost = tasd_cost(&w->enc, v.rows, v.cols);
		/* kept values are exact copies, so what is gone is the difference of the squared norms */
		double gone = total - sumsq(w->data, numel);
		double chosen_err = total > 0 ? sqrt(fmax(gone, 0) / total) : 0;
		ck_assert_msg(chosen_err <= budget + 1e-6, "iteration %d: error %g above budget %g", iter, chosen_err, budget);
		for (int c = 0; c < tasd_n_candidates; c++) {
			const Encoding *e = &tasd_candidates[c];
			if (e->kind == ENC_DENSE || tasd_max_m(e) > v.cols || tasd_cost(e, v.rows, v.cols) >= chosen_cost)
				continue;
			memcpy(tmp, orig, (size_t)numel * sizeof *tmp);
			double err = total > 0 ? sqrt(sparse_project(tmp, &v, e) / total) : 0;
			char s[64];
			tasd_series_str(e, s, sizeof s);
			ck_assert_msg(err > budget, "iteration %d: %s is cheaper and within budget (%g <= %g)", iter, s, err,
				      budget);
		}
		free(orig);
		free(tmp);
		graph_free(g);
	}
}
END_TEST

/* The search itself on made-up errors: cheapest within budget, equal costs by error, M too big
 * skipped, dense when nothing qualifies. */
static const double *fake_errors;

static double fake_eval(void *ctx, const Encoding *cand)
{
	(void)ctx;
	return fake_errors[cand - tasd_candidates];
}

START_TEST(tasd_search_order)
{
	double errs[32];
	for (int i = 0; i < tasd_n_candidates; i++)
		errs[i] = 0.9;
	fake_errors = errs;
	double err;
	int tried;
	/* 2:8 (index 2) and 1:4 (index 1) cost the same; 2:8 has the smaller error */
	errs[1] = 0.04, errs[2] = 0.03;
	int best = tasd_search(10, 64, 0.05, fake_eval, NULL, &err, &tried);
	ck_assert_int_eq(best, 2);
	ck_assert(err == 0.03);
	ck_assert_int_eq(tried, 3); /* 1:8, then both of cost 0.25; nothing dearer */
	/* with 4 columns, every M=8 candidate is skipped */
	best = tasd_search(10, 4, 0.05, fake_eval, NULL, &err, &tried);
	ck_assert_int_eq(best, 1);
	/* nothing within budget: dense */
	best = tasd_search(10, 64, 0.01, fake_eval, NULL, &err, &tried);
	ck_assert_int_eq(tasd_candidates[best].kind, ENC_DENSE);
	ck_assert_int_eq(tried, tasd_n_candidates - 1);
	/* the cost of partial groups */
	Encoding e = series_of(2, (int[]){2, 4, 1, 8});
	ck_assert_int_eq(tasd_cost(&e, 3, 10), 3 * ((2 * 2 + 2) + (1 + 1)));
	ck_assert_int_eq(tasd_cost(&tasd_candidates[tasd_n_candidates - 1], 3, 10), 30);
}
END_TEST

/* ---------------------------------------------------------------- the activation pass */

START_TEST(tasd_activations_fixed)
{
	rng_state = 41;
	Graph *g = small_cnn();
	Tensor in, want, got;
	random_input(g, &in);
	run_pass(g, pass_tasd_activations, "2:4+1:4");
	/* conv1 reads the graph input: left alone; conv2 and fc get a decomposition */
	Node *c1 = graph_find_node(g, "conv1"), *c2 = graph_find_node(g, "conv2"), *fc = graph_find_node(g, "fc");
	ck_assert(c1->in[0] == g->inputs[0]);
	ck_assert(c2->in[0]->producer && c2->in[0]->producer->op == OP_TasdActivation);
	ck_assert(fc->in[0]->producer && fc->in[0]->producer->op == OP_TasdActivation);
	ck_assert_int_eq(c2->in[0]->producer->attr.tasd_act.axis, 1);
	ck_assert_int_eq(fc->in[0]->producer->attr.tasd_act.axis, 1);
	const Remark *r = find_remark(g, "conv1", NULL);
	ck_assert(r && strstr(r->text, "graph input"));
	r = find_remark(g, "conv2", "density");
	ck_assert(r && fabs(r->value - 0.75) < 1e-9);

	/* the same result by hand: run the graph up to relu, decompose, continue */
	Diag d = {0};
	ck_assert_msg(ref_run(g, &in, &got, &d) == 0, "%s", d.msg);
	Value *relu = c2->in[0]->producer->in[0];
	graph_add_output(g, c2->in[0]);
	graph_add_output(g, relu);
	Tensor three[3];
	ck_assert_msg(ref_run(g, &in, three, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(tensor_alloc(&want, DT_F32, &relu->shape, &d), 0);
	Encoding e = series_of(2, (int[]){2, 4, 1, 4});
	naive_tasd(three[2].data, want.data, 1, 8, 36, &e);
	ck_assert(memcmp(want.data, three[1].data, (size_t)tensor_numel(&want) * sizeof(float)) == 0);
	ck_assert(memcmp(got.data, three[0].data, (size_t)tensor_numel(&got) * sizeof(float)) == 0);
	for (int i = 0; i < 3; i++)
		tensor_free(&three[i]);

	/* the dump round-trips with the new op and its attributes */
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);
	PrintOptions po = {.elide_above = -1};
	graph_print(g, f, &po);
	fclose(f);
	ck_assert_msg(strstr(text, "nnzc.TasdActivation") && strstr(text, "n=[2,1]") && strstr(text, "m=[4,4]"), "%s",
		      text);
	Graph *g2 = graph_parse(text, "dump", &d);
	ck_assert_msg(g2 != NULL, "%s", d.msg);
	f = open_memstream(&text2, &len2);
	graph_print(g2, f, &po);
	fclose(f);
	ck_assert_str_eq(text, text2);
	free(text);
	free(text2);
	graph_free(g2);

	/* running it twice changes nothing more */
	int nodes = g->n_nodes;
	run_pass(g, pass_tasd_activations, "2:4+1:4");
	ck_assert_int_eq(g->n_nodes, nodes);

	/* ONNX export refuses it in one line */
	char path[] = "/tmp/test_tasd_XXXXXX";
	int fd = mkstemp(path);
	ck_assert(fd >= 0);
	close(fd);
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	ck_assert_msg(strstr(d.msg, "TASD") && strstr(d.msg, "conv2_tasd") && !strchr(d.msg, '\n'), "%s", d.msg);
	unlink(path);
	tensor_free(&in);
	tensor_free(&want);
	tensor_free(&got);
	graph_free(g);
}
END_TEST

START_TEST(tasd_activations_shapes_that_cannot)
{
	rng_state = 42;
	/* grouped conv with 6 channels per group: 2:4 would straddle groups; 3:6... only M | 6 */
	Graph *g = graph_new("grp");
	Value *x = input(g, "x", SHAPE(1, 12, 4, 4));
	Value *r = NODE(g, OP_Relu, "relu", 1, x)->out[0];
	Node *c = NODE(g, OP_Conv, "gconv", 1, r, crand(g, "w", SHAPE(4, 6, 1, 1)));
	c->attr.conv.group = 2;
	Value *r2 = NODE(g, OP_Relu, "relu2", 1, c->out[0])->out[0];
	Node *c2 = NODE(g, OP_Conv, "thin", 1, r2, crand(g, "w2", SHAPE(2, 4, 1, 1)));
	Node *tr = NODE(g, OP_Transpose, "tr", 1, c2->out[0]);
	tr->attr.transpose.perm = (Ints){4, {0, 2, 3, 1}}; /* channels last: [1,4,4,2] */
	Value *t = tr->out[0];
	Node *mm = NODE(g, OP_MatMul, "mm", 1, t, crand(g, "w3", SHAPE(2, 3)));
	graph_add_output(g, mm->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	run_pass(g, pass_tasd_activations, "2:4");
	const Remark *rm = find_remark(g, "gconv", NULL);
	ck_assert_msg(rm && strstr(rm->text, "6 channels per group are not a multiple of M=4"), "%s", rm ? rm->text : "-");
	ck_assert(c2->in[0]->producer->op == OP_TasdActivation); /* 4 channels take 2:4 */
	rm = find_remark(g, "mm", NULL);
	ck_assert_msg(rm && strstr(rm->text, "2 reduction elements cannot take 2:4"), "%s", rm ? rm->text : "-");
	graph_free(g);

	g = graph_new("grp2");
	x = input(g, "x", SHAPE(1, 12, 4, 4));
	r = NODE(g, OP_Relu, "relu", 1, x)->out[0];
	c = NODE(g, OP_Conv, "gconv", 1, r, crand(g, "w", SHAPE(4, 6, 1, 1)));
	c->attr.conv.group = 2;
	graph_add_output(g, c->out[0]);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	run_pass(g, pass_tasd_activations, "1:2+1:3");
	ck_assert(c->in[0]->producer->op == OP_TasdActivation); /* 2 and 3 divide 6 */
	graph_free(g);
}
END_TEST

/* The axis is the next layer's reduction axis: K of a Gemm input ([M,K], or [K,M] with transA)
 * and of a batched MatMul input (its last axis). */
START_TEST(tasd_activations_axes)
{
	rng_state = 44;
	Graph *g = graph_new("axes");
	Value *x = input(g, "x", SHAPE(8, 6));
	Value *r = NODE(g, OP_Relu, "relu", 1, x)->out[0];
	Node *gt = NODE(g, OP_Gemm, "gemm_t", 1, r, crand(g, "b", SHAPE(8, 5)));
	gt->attr.gemm.trans_a = 1;
	Value *x3 = input(g, "x3", SHAPE(2, 3, 16));
	Value *r3 = NODE(g, OP_Relu, "relu3", 1, x3)->out[0];
	Node *mm = NODE(g, OP_MatMul, "mm", 1, r3, crand(g, "w", SHAPE(16, 4)));
	graph_add_output(g, gt->out[0]);
	graph_add_output(g, mm->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	run_pass(g, pass_tasd_activations, "1:8");
	ck_assert_int_eq(gt->in[0]->producer->attr.tasd_act.axis, 0);
	ck_assert_int_eq(mm->in[0]->producer->attr.tasd_act.axis, 2);
	Tensor in[2], out[2];
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], DT_F32, &g->inputs[i]->shape, &d), 0);
		for (int64_t k = 0; k < tensor_numel(&in[i]); k++)
			((float *)in[i].data)[k] = (float)frand(-1, 1);
	}
	ck_assert_msg(ref_run(g, in, out, &d) == 0, "%s", d.msg);
	/* by hand for the Gemm: relu(x) [K=8, M=6] keeps 1 of 8 along K per column m */
	float a[48], ad[48];
	for (int i = 0; i < 48; i++)
		a[i] = fmaxf(((float *)in[0].data)[i], 0.0f);
	naive_tasd(a, ad, 1, 8, 6, &(Encoding){.kind = ENC_TASD, .u.tasd = {1, {{1, 8}}}});
	const float *b = graph_find_value(g, "b")->data;
	for (int m = 0; m < 6; m++)
		for (int n = 0; n < 5; n++) {
			double acc = 0;
			for (int k = 0; k < 8; k++)
				acc += (double)ad[k * 6 + m] * b[k * 5 + n];
			ck_assert(fabs(acc - ((float *)out[0].data)[m * 5 + n]) < 1e-5);
		}
	for (int i = 0; i < 2; i++) {
		tensor_free(&in[i]);
		tensor_free(&out[i]);
	}
	graph_free(g);
}
END_TEST

/* The search on activations whose answer is known: a mask zeroes 7 of every 8 channels of the
 * input of "conv", so 1:8 fits it exactly and search:0 takes it; the other layer's input has no
 * zeros (|x|), so search:0 keeps it dense, and search:1 (dropping everything is an error of
 * exactly 1) takes the cheapest, 1:8. */
START_TEST(tasd_activations_search)
{
	rng_state = 43;
	for (int pass = 0; pass < 2; pass++) {
		Graph *g = graph_new("s");
		Value *x = input(g, "x", SHAPE(2, 16, 3, 3));
		Value *r = NODE(g, OP_Abs, "abs", 1, x)->out[0];
		Diag d = {0};
		Shape ms = SHAPE(1, 16, 1, 1);
		Value *mask = graph_add_constant(g, "mask", DT_F32, &ms, &d);
		for (int i = 0; i < 16; i++)
			((float *)mask->data)[i] = i % 8 == 3 ? 1.0f : 0.0f;
		Value *xm = NODE(g, OP_Mul, "mul", 1, x, mask)->out[0];
		Node *c = NODE(g, OP_Conv, "conv", 1, xm, crand(g, "w", SHAPE(4, 16, 1, 1)));
		Node *c2 = NODE(g, OP_Conv, "conv_abs", 1, r, crand(g, "w2", SHAPE(4, 16, 1, 1)));
		graph_add_output(g, c->out[0]);
		graph_add_output(g, c2->out[0]);
		ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
		run_pass(g, pass_tasd_activations, pass == 0 ? "search:0" : "search:1");
		ck_assert(c->in[0]->producer->op == OP_TasdActivation);
		ck_assert_int_eq(c->in[0]->producer->attr.tasd_act.n.n, 1);
		ck_assert_int_eq(c->in[0]->producer->attr.tasd_act.n.v[0], 1);
		ck_assert_int_eq(c->in[0]->producer->attr.tasd_act.m.v[0], 8);
		const Remark *rm = find_remark(g, "conv", "dropped_l2_fraction");
		ck_assert(rm && rm->value == 0);
		if (pass == 0) {
			ck_assert(c2->in[0] == r);
			rm = find_remark(g, "conv_abs", "density");
			ck_assert(rm && rm->value == 1.0 && strstr(rm->text, "kept dense"));
		} else {
			ck_assert(c2->in[0]->producer->op == OP_TasdActivation);
			ck_assert_int_eq(c2->in[0]->producer->attr.tasd_act.m.v[0], 8);
		}
		graph_free(g);
	}
	/* no static input shape: a clear error */
	Graph *g = graph_new("dyn");
	Value *x = input(g, "x", SHAPE(-1, 8));
	Value *r = NODE(g, OP_Relu, "relu", 1, x)->out[0];
	graph_add_output(g, NODE(g, OP_MatMul, "mm", 1, r, crand(g, "w", SHAPE(8, 2)))->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	PassOptions opt = {.arg = "search:0.1"};
	ck_assert_int_eq(pass_tasd_activations(g, &opt, &d), -1);
	ck_assert_msg(strstr(d.msg, "static input shapes"), "%s", d.msg);
	graph_free(g);
}
END_TEST

/* Progress goes to the callback, ending with done == total. */
static int64_t last_done = -1, last_total = -1, calls;

static void on_progress(void *ctx, const char *pass, int64_t done, int64_t total)
{
	(void)ctx;
	ck_assert(strcmp(pass, "tasd") == 0);
	ck_assert(done <= total && done >= last_done);
	last_done = done;
	last_total = total;
	calls++;
}

START_TEST(tasd_progress_callback)
{
	rng_state = 51;
	Graph *g = small_cnn();
	Diag d = {0};
	PassOptions opt = {.arg = "search:0.3", .progress = on_progress};
	ck_assert_msg(pass_tasd(g, &opt, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(last_total, 3);
	ck_assert_int_eq(last_done, 3);
	ck_assert_int_eq(calls, 4);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- end to end */

/* nnzc run on the example model with a TASD series: it runs (accuracy changes, of course). */
START_TEST(tasd_cli_tinycnn)
{
	const char *bin = NNZC_BINARY_DIR "/bin/nnzc";
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "skipped: %s not built\n", bin);
		return;
	}
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "%s run %s/examples/tinycnn/model.onnx --test-data %s/examples/tinycnn --tasd 4:8+2:8 --rtol 1 "
		 ">/dev/null 2>&1",
		 bin, NNZC_SOURCE_DIR, NNZC_SOURCE_DIR);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
	snprintf(cmd, sizeof cmd,
		 "%s run %s/examples/tinycnn/model.onnx --test-data %s/examples/tinycnn --tasd search:0.1 "
		 "--tasd-activations 2:4+1:4 --rtol 1 >/dev/null 2>&1",
		 bin, NNZC_SOURCE_DIR, NNZC_SOURCE_DIR);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tasd");
	TCase *tc = tcase_create("series");
	tcase_add_test(tc, tasd_exact_when_first_term_fits);
	tcase_add_test(tc, tasd_more_terms_never_worse);
	tcase_add_test(tc, tasd_activation_matches_naive);
	tcase_add_test(tc, tasd_activation_nan_kept_and_bad_attrs);
	suite_add_tcase(s, tc);
	tc = tcase_create("args");
	tcase_add_test(tc, tasd_args_grammar);
	tcase_add_test(tc, tasd_pipeline_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("weights");
	tcase_add_test(tc, tasd_pass_fixed_series);
	tcase_add_test(tc, tasd_pass_keeps_what_cannot_take_it);
	tcase_add_test(tc, tasd_pass_shared_weights);
	tcase_add_test(tc, tasd_search_known_answers);
	tcase_add_test(tc, tasd_search_budget_property);
	tcase_add_test(tc, tasd_search_order);
	tcase_add_test(tc, tasd_progress_callback);
	suite_add_tcase(s, tc);
	tc = tcase_create("activations");
	tcase_add_test(tc, tasd_activations_fixed);
	tcase_add_test(tc, tasd_activations_shapes_that_cannot);
	tcase_add_test(tc, tasd_activations_axes);
	tcase_add_test(tc, tasd_activations_search);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tasd_cli_tinycnn);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
