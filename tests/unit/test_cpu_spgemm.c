/* The cpu target's nnzc.TasdActivation (targets/cpu/emit_tasd.c) and sparse-weight Gemm, FusedGemm
 * and MatMul (emit_gemm.c, sparse_gemm.c, spmm.c) against the reference interpreter.
 *
 * TasdActivation: every way the emitter lays out the work — lanes along the inner dims with a
 * partial last column, lanes along super-groups when the axis is innermost (the tensor as one
 * run of super-groups, or a fiber at a time with a short last super-group), the general path
 * for M > 16 or an lcm of the Ms > 16 — with values drawn from a handful of magnitudes so that
 * ties are everywhere, NaN and infinities, partial groups, N = M, one to four terms, and axes 0,
 * 1, 2 and last. The output selects input values, so it must match to the bit.
 *
 * Products: random shapes and weight densities (0, 0.05, 0.5, 1), transA/transB, alpha, beta and
 * every broadcast of C, FusedGemm's residual and activation, MatMul with 2-D and batched A,
 * compiled with each sparse kernel forced (CPU_KERNELS_SPARSE with sparse_kind) and with the cost
 * model's choice; more than 4 rows of X with the lanes kernel forced must fall back to dense. The report says which kernel ran: a forced kernel that silently fell back to
 * dense would test nothing. Operands are multiples of 1/8, so products and partial sums are
 * exact in float whatever the summation order.
 *
 * Every graph is compiled for the host (16 lanes here), haswell (8) and generic x86-64 (4), and
 * run with 1 and 2 threads. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

/* CK_* of targets/cpu/sparse.h (private to the target) */
enum { KIND_AUTO = -1, KIND_ROWS = 1, KIND_BLOCKS = 2, KIND_LANES = 3, KIND_PATTERNS = 4 };
static const char *const kind_name[] = {"dense", "sparse-rows", "sparse-blocks", "sparse-lanes", "sparse-patterns"};

static bool same(float a, float b, bool exact)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (exact)
		return a == b;
	return fabsf(a - b) <= 1e-5f + 1e-3f * fabsf(b);
}

/* ref_run against the cpu target at three vector widths and two thread counts; `kind`: the
 * sparse kernel forced (KIND_AUTO: the cost model), and `node` the product whose choice must be
 * that kernel (NULL: none checked) */
static void check_graph(Graph *g, Tensor *in, int kind, int expect, const char *node, bool exact)
{
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s: infer: %s", g->name, d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s: verify: %s", g->name, d.msg);
	Tensor want[2];
	ck_assert_msg(ref_run(g, in, want, &d) == 0, "%s: ref: %s", g->name, d.msg);
	static const char *const cpus[] = {NULL, "haswell", "generic"};
	for (int k = 0; k < 3; k++) {
		CpuReport rep;
		memset(&rep, 0, sizeof rep);
		CpuOptions opt = {.cpu = cpus[k], .opt_level = 2, .report = &rep};
		if (kind != KIND_AUTO) {
			opt.kernels = CPU_KERNELS_SPARSE;
			opt.sparse_kind = kind;
		}
		CpuModel *m = cpu_load(g, &opt, &d);
		const char *cpu = cpus[k] ? cpus[k] : "host";
		ck_assert_msg(m != NULL, "%s: cpu %s: %s", g->name, cpu, d.msg);
		if (node && kind != KIND_AUTO) {
			const Node *nd = graph_find_node(g, node);
			ck_assert(nd != NULL && nd->id < rep.n_layers);
			const char *got = rep.layers[nd->id].choice;
			ck_assert_msg(got && strcmp(got, kind_name[expect]) == 0, "%s (cpu %s): node %s ran %s, not %s", g->name,
				      cpu, node, got ? got : "-", kind_name[expect]);
		}
		cpu_report_free(&rep);
		for (int threads = 1; threads <= 2; threads++) {
			Tensor got[2];
			ck_assert_msg(cpu_model_run(m, in, got, threads, &d) == 0, "%s: run: %s", g->name, d.msg);
			for (int o = 0; o < g->n_outputs; o++) {
				int64_t n = tensor_numel(&want[o]);
				ck_assert(shape_equal(&got[o].shape, &want[o].shape));
				for (int64_t i = 0; i < n; i++) {
					float a = ((float *)got[o].data)[i], b = ((float *)want[o].data)[i];
					ck_assert_msg(same(a, b, exact), "%s (cpu %s, %d threads): element %lld is %.9g, expected %.9g",
						      g->name, cpu, threads, (long long)i, a, b);
				}
				tensor_free(&got[o]);
			}
		}
		cpu_model_free(m);
	}
	for (int o = 0; o < g->n_outputs; o++)
		tensor_free(&want[o]);
}

/* ---------------------------------------------------------------- TasdActivation */

typedef struct TasdCase {
	const char *name;
	Shape shape;
	int axis;
	int nt;
	int n[4], m[4];
	bool specials; /* NaN and infinities among the values */
} TasdCase;

#define SH(r, ...) ((Shape){(r), {__VA_ARGS__}})
#define T(nm, shp, ax, k, ...) {.name = nm, .shape = shp, .axis = ax, .nt = k, __VA_ARGS__}

static TasdCase tasd_cases[] = {
	/* lanes along the inner dims */
	T("nchw_2:4+1:4", SH(4, 1, 16, 7, 9), 1, 2, .n = {2, 1}, .m = {4, 4}),
	T("nchw_1:4_short_group", SH(4, 2, 10, 5, 5), 1, 1, .n = {1}, .m = {4}),
	T("nchw_2:8+1:8", SH(4, 1, 24, 4, 4), 1, 2, .n = {2, 1}, .m = {8, 8}),
	T("lcm12_1:4+1:6", SH(4, 1, 30, 3, 3), 1, 2, .n = {1, 1}, .m = {4, 6}),
	T("axis0", SH(3, 6, 5, 3), 0, 1, .n = {1}, .m = {4}),
	T("inner2_3:16", SH(3, 3, 40, 2), 1, 1, .n = {3}, .m = {16}),
	T("n_equals_m_2:2+1:4", SH(4, 1, 8, 3, 3), 1, 2, .n = {2, 1}, .m = {2, 4}),
	T("three_terms", SH(4, 1, 20, 6, 6), 1, 3, .n = {1, 1, 1}, .m = {4, 4, 4}),
	T("four_terms_lcm16", SH(3, 2, 33, 17), 1, 4, .n = {1, 1, 1, 1}, .m = {2, 4, 8, 16}),
	T("specials_nchw", SH(4, 1, 16, 4, 5), 1, 2, .n = {1, 1}, .m = {4, 4}, .specials = true),
	/* the axis innermost: lanes along super-groups */
	T("last_flat_2:4+1:4", SH(2, 5, 64), 1, 2, .n = {2, 1}, .m = {4, 4}),
	T("last_flat_partial_block", SH(2, 3, 20), -1, 1, .n = {2}, .m = {4}),
	T("last_fiberwise_1:4+1:4", SH(2, 4, 37), 1, 2, .n = {1, 1}, .m = {4, 4}),
	T("last_fiberwise_long_2:8", SH(2, 2, 300), 1, 1, .n = {2}, .m = {8}),
	T("last_3:16_short", SH(3, 2, 3, 13), 2, 1, .n = {3}, .m = {16}),
	T("last_lcm12", SH(2, 7, 50), 1, 2, .n = {2, 1}, .m = {6, 4}),
	T("last_single_fiber_2:4", SH(2, 1, 2048), 1, 1, .n = {2}, .m = {4}),
	T("specials_last", SH(2, 6, 48), 1, 2, .n = {2, 1}, .m = {8, 8}, .specials = true),
	/* the general path */
	T("general_2:32", SH(4, 1, 70, 3, 3), 1, 1, .n = {2}, .m = {32}),
	T("general_lcm20", SH(4, 1, 45, 2, 5), 1, 2, .n = {1, 1}, .m = {20, 4}),
	T("general_last_5:64+2:8", SH(2, 3, 100), 1, 2, .n = {5, 2}, .m = {64, 8}),
	T("general_2:256", SH(3, 1, 300, 2), 1, 1, .n = {2}, .m = {256}),
	T("general_last_3:20_short", SH(2, 5, 77), 1, 1, .n = {3}, .m = {20}, .specials = true),
	T("general_last_7:128+1:4", SH(2, 2, 300), -1, 2, .n = {7, 1}, .m = {128, 4}),
	T("general_specials", SH(3, 2, 40, 3), 1, 2, .n = {3, 1}, .m = {24, 4}, .specials = true),
};

/* few magnitudes, both signs, zeros: ties in almost every group */
static float tasd_value(bool specials)
{
	static const float pick[] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f, 1.5f, -0.0f, 3.0f};
	if (specials && test_irand(0, 15) == 0) {
		int s = (int)test_irand(0, 2);
		return s == 0 ? NAN : s == 1 ? INFINITY : -INFINITY;
	}
	return pick[test_irand(0, 9)];
}

START_TEST(test_tasd)
{
	const TasdCase *c = &tasd_cases[_i];
	test_seed(77, (uint64_t)_i);
	Graph *g = graph_new(c->name);
	Value *x = test_input(g, "x", c->shape);
	Node *n = graph_add_node(g, OP_TasdActivation, "tasd", 1, &x, 1);
	n->attr.tasd_act.axis = c->axis;
	n->attr.tasd_act.n.n = n->attr.tasd_act.m.n = c->nt;
	for (int j = 0; j < c->nt; j++) {
		n->attr.tasd_act.n.v[j] = c->n[j];
		n->attr.tasd_act.m.v[j] = c->m[j];
	}
	graph_add_output(g, n->out[0]);
	Diag d = {0};
	Tensor in;
	ck_assert_int_eq(tensor_alloc(&in, DT_F32, &c->shape, &d), 0);
	for (int64_t i = 0; i < tensor_numel(&in); i++)
		((float *)in.data)[i] = tasd_value(c->specials);
	check_graph(g, &in, KIND_AUTO, KIND_AUTO, NULL, true);
	tensor_free(&in);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- products */

typedef struct ProdCase {
	const char *name;
	int batch;           /* 0: Gemm; else MatMul with A [batch..., m, k] (1: 2-D A; -1: 1-D A [k]) */
	int64_t m, k, n;
	int ta, tb;
	float alpha, beta;
	int c_rank;          /* -1: no C; 0: scalar; 1: [c_cols]; 2: [c_rows, c_cols] */
	int64_t c_rows, c_cols;
	bool residual;
	int act;
} ProdCase;

static const ProdCase prod_cases[] = {
	{.name = "fc_batch1", .m = 1, .k = 300, .n = 1000, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_cols = 1000},
	{.name = "fc_batch1_tails", .m = 1, .k = 77, .n = 45, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_cols = 45},
	{.name = "batch3_transb0_c2d", .m = 3, .k = 70, .n = 33, .alpha = 0.5f, .beta = 2.0f, .c_rank = 2, .c_rows = 3, .c_cols = 33},
	{.name = "rows4_col_c", .m = 4, .k = 20, .n = 50, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 2, .c_rows = 4, .c_cols = 1},
	{.name = "trans_a", .m = 3, .k = 31, .n = 40, .ta = 1, .tb = 1, .alpha = 1.5f, .beta = 0.5f, .c_rank = 2, .c_rows = 1, .c_cols = 40},
	{.name = "trans_both_scalar_c", .m = 2, .k = 12, .n = 19, .ta = 1, .tb = 0, .alpha = 1, .beta = 3.0f, .c_rank = 0},
	{.name = "beta_zero_no_c", .m = 1, .k = 64, .n = 16, .tb = 0, .alpha = 2, .beta = 0.0f, .c_rank = -1},
	{.name = "fused_relu_residual", .m = 2, .k = 50, .n = 70, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_cols = 70, .residual = true, .act = ACT_RELU},
	{.name = "fused_sigmoid", .m = 1, .k = 40, .n = 24, .tb = 0, .alpha = 1, .beta = 1, .c_rank = 1, .c_cols = 1, .act = ACT_SIGMOID},
	{.name = "many_rows", .m = 37, .k = 48, .n = 29, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_cols = 29, .act = ACT_LEAKY_RELU},
	{.name = "matmul_2d", .batch = 1, .m = 1, .k = 128, .n = 100},
	{.name = "matmul_1d_a", .batch = -1, .m = 1, .k = 70, .n = 37},
	{.name = "matmul_2d_rows", .batch = 1, .m = 9, .k = 33, .n = 18},
	{.name = "matmul_batched_a", .batch = 3, .m = 5, .k = 24, .n = 40},
	{.name = "matmul_batched_small", .batch = 2, .m = 2, .k = 40, .n = 33},
};

static const double densities[] = {0.0, 0.05, 0.5, 1.0};

/* multiples of 1/8 in [-1/2, 1/2] */
static float eighth(void) { return (float)test_irand(-4, 4) / 8.0f; }

static void fill(Tensor *t)
{
	for (int64_t i = 0; i < tensor_numel(t); i++)
		((float *)t->data)[i] = eighth();
}

/* a weight of the given density: non-zero multiples of 1/8 */
static Value *sparse_weight(Graph *g, Shape s, double density)
{
	Value *v = test_constant(g, "w", s);
	float *p = v->data;
	for (int64_t i = 0; i < shape_numel(&s); i++) {
		float x = (float)test_irand(1, 4) / 8.0f * (test_irand(0, 1) ? 1.0f : -1.0f);
		p[i] = test_uniform(0, 1) < density ? x : 0.0f;
	}
	return v;
}

static void run_product(const ProdCase *c, double density, int kind)
{
	char name[128];
	snprintf(name, sizeof name, "%s_d%g_%s", c->name, density, kind == KIND_AUTO ? "auto" : kind_name[kind]);
	Graph *g = graph_new(name);
	Value *ins[8];
	int n_in = 0;
	Node *nd;
	if (c->batch != 0) {
		Shape as = c->batch < 0 ? SHAPE(c->k) : c->batch == 1 ? SHAPE(c->m, c->k) : SHAPE(c->batch, c->m, c->k);
		Value *a = ins[n_in++] = test_input(g, "a", as);
		Value *w = sparse_weight(g, SHAPE(c->k, c->n), density);
		nd = graph_add_node(g, OP_MatMul, "prod", 2, (Value *[]){a, w}, 1);
	} else {
		Value *a = ins[n_in++] = test_input(g, "a", c->ta ? SHAPE(c->k, c->m) : SHAPE(c->m, c->k));
		Value *w = sparse_weight(g, c->tb ? SHAPE(c->n, c->k) : SHAPE(c->k, c->n), density);
		Value *cv = NULL, *r = NULL;
		if (c->c_rank >= 0) {
			Shape cs = c->c_rank == 0 ? SHAPE(1) : c->c_rank == 1 ? SHAPE(c->c_cols) : SHAPE(c->c_rows, c->c_cols);
			if (c->c_rank == 0)
				cs.rank = 0;
			cv = ins[n_in++] = test_input(g, "c", cs);
		}
		bool fused = c->residual || c->act != ACT_NONE;
		if (c->residual)
			r = ins[n_in++] = test_input(g, "r", SHAPE(c->m, c->n));
		Value *args[4] = {a, w, cv, r};
		nd = graph_add_node(g, fused ? OP_FusedGemm : OP_Gemm, "prod", r ? 4 : cv ? 3 : 2, args, 1);
		GemmAttrs *ga = fused ? &nd->attr.fused_gemm.gemm : &nd->attr.gemm;
		*ga = (GemmAttrs){c->alpha, c->beta, c->ta, c->tb};
		if (fused)
			nd->attr.fused_gemm.act = (Activation){c->act, 0.125f, 0.0f};
	}
	graph_add_output(g, nd->out[0]);
	Diag d = {0};
	Tensor in[8];
	for (int i = 0; i < n_in; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], DT_F32, &g->inputs[i]->shape, &d), 0);
		fill(&in[i]);
	}
	bool exact = c->act == ACT_NONE || c->act == ACT_RELU || c->act == ACT_LEAKY_RELU;
	/* the lanes kernel serves at most 4 rows of X; with more the forced kind cannot run */
	int64_t rows = c->m * (c->batch > 1 ? c->batch : 1);
	int expect = kind == KIND_LANES && rows > 4 ? 0 : kind;
	if (kind == KIND_PATTERNS && c->n % 2) /* the pattern groups need an even count of output features */
		expect = 0;
	check_graph(g, in, kind, expect, kind == KIND_AUTO ? NULL : "prod", exact);
	for (int i = 0; i < n_in; i++)
		tensor_free(&in[i]);
	graph_free(g);
}

START_TEST(test_lanes)
{
	const ProdCase *c = &prod_cases[_i];
	for (int j = 0; j < 4; j++) {
		test_seed(91, (uint64_t)(_i * 8 + j));
		run_product(c, densities[j], KIND_LANES);
	}
}
END_TEST

/* spmm.c's kernels on the transposed product: rows and pattern groups for any weight, blocks
 * where groups of rows share their columns (here: the dense and the empty weight, with an even
 * number of rows) */
START_TEST(test_rows)
{
	const ProdCase *c = &prod_cases[_i];
	for (int j = 0; j < 4; j++) {
		test_seed(92, (uint64_t)(_i * 8 + j));
		run_product(c, densities[j], KIND_ROWS);
		run_product(c, densities[j], KIND_PATTERNS);
		if ((densities[j] == 0.0 || densities[j] == 1.0) && c->n % 2 == 0)
			run_product(c, densities[j], KIND_BLOCKS);
	}
}
END_TEST

START_TEST(test_auto)
{
	const ProdCase *c = &prod_cases[_i];
	for (int j = 0; j < 4; j++) {
		test_seed(93, (uint64_t)(_i * 8 + j));
		run_product(c, densities[j], KIND_AUTO);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu_spgemm");
	TCase *tc = tcase_create("tasd");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_tasd, 0, (int)(sizeof tasd_cases / sizeof *tasd_cases));
	suite_add_tcase(s, tc);
	TCase *tp = tcase_create("products");
	tcase_set_timeout(tp, 900);
	tcase_add_loop_test(tp, test_lanes, 0, (int)(sizeof prod_cases / sizeof *prod_cases));
	tcase_add_loop_test(tp, test_rows, 0, (int)(sizeof prod_cases / sizeof *prod_cases));
	tcase_add_loop_test(tp, test_auto, 0, (int)(sizeof prod_cases / sizeof *prod_cases));
	suite_add_tcase(s, tp);
	return run_suite(s);
}
