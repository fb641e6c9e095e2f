/* The reference interpreter on encoded weights: Conv (grouped, depthwise, strided, dilated,
 * padded, 1-D and 2-D; a Conv's view columns are tap-major, channel-minor), FusedConv (bias,
 * residual, activation), Gemm and FusedGemm (transA and transB both ways) and MatMul (1-D to
 * 3-D A) computed from the packed form must equal the same graph computed from the dense
 * weights, for every encoding, over random shapes from a seeded PRNG. The weights are first
 * projected onto the encoding so that both runs see one matrix. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *p, int64_t n, double zero)
{
	for (int64_t i = 0; i < n; i++)
		p[i] = (double)(test_next() % 1000) / 1000.0 < zero ? 0.0f : test_frand();
}

static Value *constant(Graph *g, const char *name, int rank, const int64_t *dims, double zero)
{
	Value *v = test_constant(g, name, shape_make(rank, dims));
	fill(v->data, shape_numel(&v->shape), zero);
	return v;
}

static Encoding random_encoding(void)
{
	static const int ms[] = {2, 4, 8, 16, 32, 64, 128, 256};
	Encoding e;
	memset(&e, 0, sizeof e);
	switch (test_irand(0, 4)) {
	case 0: e.kind = ENC_CSR; break;
	case 1:
		e.kind = ENC_BSR;
		e.u.bsr.r = (int)test_irand(1, 5);
		e.u.bsr.c = (int)test_irand(1, 5);
		break;
	case 2:
		e.kind = ENC_NM;
		e.u.nm.m = ms[test_irand(0, 7)];
		e.u.nm.n = (int)test_irand(1, e.u.nm.m / 2);
		break;
	case 3:
		e.kind = ENC_GS;
		e.u.gs.v = (int)test_irand(1, 6);
		e.u.gs.b = (int)test_irand(e.u.gs.v, 10);
		break;
	default:
		e.kind = ENC_TASD;
		e.u.tasd.nterms = (int)test_irand(1, 3);
		for (int t = 0; t < e.u.tasd.nterms; t++) {
			e.u.tasd.term[t].m = ms[test_irand(0, 3)];
			e.u.tasd.term[t].n = (int)test_irand(1, e.u.tasd.term[t].m / 2);
		}
		break;
	}
	return e;
}

/* ---------------------------------------------------------------- random graphs */

/* One Conv or FusedConv; returns the node. */
static Node *build_conv(Graph *g, bool fused)
{
	int nsp = (int)test_irand(1, 2);
	int64_t nimg = test_irand(1, 2), groups, cg, mg;
	switch (test_irand(0, 2)) {
	case 0: groups = 1; cg = test_irand(1, 6); mg = test_irand(1, 7); break;
	case 1: groups = test_irand(2, 3); cg = test_irand(1, 3); mg = test_irand(1, 4); break;
	default: groups = test_irand(2, 6); cg = 1; mg = test_irand(1, 2); break; /* depthwise (x multiplier) */
	}
	int64_t c = groups * cg, m = groups * mg;
	int64_t xd[5] = {nimg, c}, wd[5] = {m, cg}, od[5] = {nimg, m};
	Ints pads = {2 * nsp, {0}}, strides = {nsp, {0}}, dil = {nsp, {0}};
	for (int i = 0; i < nsp; i++) {
		int64_t k = test_irand(1, 3), s = test_irand(1, 2), dl = test_irand(1, 2);
		int64_t pl = test_irand(0, 1), ph = test_irand(0, 1);
		int64_t in = test_irand(dl * (k - 1) + 1, 9);
		xd[2 + i] = in;
		wd[2 + i] = k;
		pads.v[i] = pl;
		pads.v[nsp + i] = ph;
		strides.v[i] = s;
		dil.v[i] = dl;
		od[2 + i] = (in + pl + ph - dl * (k - 1) - 1) / s + 1;
	}
	Value *x = test_input(g, "x", shape_make(2 + nsp, xd));
	Value *w = constant(g, "w", 2 + nsp, wd, (double)test_irand(0, 90) / 100.0);
	Value *in[4] = {x, w, NULL, NULL};
	int nin = 2;
	if (fused || test_irand(0, 1)) {
		in[2] = constant(g, "b", 1, (int64_t[]){m}, 0.0);
		nin = 3;
	}
	if (fused && test_irand(0, 1)) {
		in[3] = test_input(g, "r", shape_make(2 + nsp, od));
		nin = 4;
		if (in[2] == NULL)
			in[2] = constant(g, "b", 1, (int64_t[]){m}, 0.0);
	}
	Node *n = graph_add_node(g, fused ? OP_FusedConv : OP_Conv, "conv", nin, in, 1);
	ConvAttrs *ca = fused ? &n->attr.fused_conv.conv : &n->attr.conv;
	ca->group = groups;
	ca->pads = pads;
	ca->strides = strides;
	ca->dilations = dil;
	if (fused)
		n->attr.fused_conv.act.kind = test_irand(0, 1) ? ACT_RELU : ACT_NONE;
	return n;
}

static Node *build_gemm(Graph *g, bool fused)
{
	int64_t m = test_irand(1, 5), k = test_irand(1, 70), nn = test_irand(1, 40);
	int64_t ta = test_irand(0, 1), tb = test_irand(0, 1);
	Value *a = test_input(g, "a", shape_make(2, ta ? (int64_t[]){k, m} : (int64_t[]){m, k}));
	Value *b = constant(g, "b", 2, tb ? (int64_t[]){nn, k} : (int64_t[]){k, nn}, (double)test_irand(0, 90) / 100.0);
	Value *in[4] = {a, b, NULL, NULL};
	int nin = 2;
	if (fused || test_irand(0, 1)) {
		in[2] = constant(g, "c", 1, (int64_t[]){nn}, 0.0);
		nin = 3;
	}
	if (fused && test_irand(0, 1)) {
		in[3] = test_input(g, "r", shape_make(2, (int64_t[]){m, nn}));
		nin = 4;
	}
	Node *n = graph_add_node(g, fused ? OP_FusedGemm : OP_Gemm, "gemm", nin, in, 1);
	GemmAttrs *ga = fused ? &n->attr.fused_gemm.gemm : &n->attr.gemm;
	ga->trans_a = ta;
	ga->trans_b = tb;
	ga->alpha = test_irand(0, 1) ? 1.0f : 0.5f;
	ga->beta = test_irand(0, 1) ? 1.0f : 2.0f;
	if (fused)
		n->attr.fused_gemm.act.kind = ACT_RELU;
	return n;
}

static Node *build_matmul(Graph *g)
{
	int ra = (int)test_irand(1, 3);
	int64_t k = test_irand(1, 70), nn = test_irand(1, 40), ad[3];
	for (int i = 0; i < ra - 1; i++)
		ad[i] = test_irand(1, 4);
	ad[ra - 1] = k;
	Value *a = test_input(g, "a", shape_make(ra, ad));
	Value *b = constant(g, "b", 2, (int64_t[]){k, nn}, (double)test_irand(0, 90) / 100.0);
	return graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){a, b}, 1);
}

/* Run g on its (random) inputs; outputs into out (caller frees). */
static void run(const Graph *g, const Tensor *ins, Tensor *out)
{
	Diag d = {0};
	ck_assert_msg(ref_run(g, ins, out, &d) == 0, "%s", d.msg);
}

static void check_one(int op, uint64_t s)
{
	test_seed(s, 7);
	Diag d = {0};
	Graph *g = graph_new("t");
	Node *n = op == 0 ? build_conv(g, false) : op == 1 ? build_conv(g, true) : op == 2 ? build_gemm(g, false)
		: op == 3 ? build_gemm(g, true) : build_matmul(g);
	graph_add_output(g, n->out[0]);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	Value *w = n->in[1];
	WeightView view;
	ck_assert(weight_view(n, 1, &view));
	Encoding e = random_encoding();
	if (e.kind == ENC_BSR) { /* blocks no larger than the matrix */
		e.u.bsr.r = (int)(e.u.bsr.r < view.rows ? e.u.bsr.r : view.rows);
		e.u.bsr.c = (int)(e.u.bsr.c < view.cols ? e.u.bsr.c : view.cols);
	}
	ck_assert(sparse_project(w->data, &view, &e) >= 0.0);

	Tensor ins[4];
	for (int i = 0; i < g->n_inputs; i++) {
		ck_assert(tensor_alloc(&ins[i], DT_F32, &g->inputs[i]->shape, &d) == 0);
		fill(ins[i].data, tensor_numel(&ins[i]), 0.1);
	}
	Tensor dense, packed;
	run(g, ins, &dense);
	ck_assert_msg(sparse_attach(g, w, &view, &e, &d) == 0, "%s", d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
	run(g, ins, &packed);
	int64_t cnt = tensor_numel(&dense);
	ck_assert_int_eq(cnt, tensor_numel(&packed));
	const float *a = dense.data, *b = packed.data;
	for (int64_t i = 0; i < cnt; i++)
		ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])), "%s seed %llu: output %lld: %g vs %g",
			      op_name(n->op), (unsigned long long)s, (long long)i, a[i], b[i]);
	tensor_free(&dense);
	tensor_free(&packed);
	for (int i = 0; i < g->n_inputs; i++)
		tensor_free(&ins[i]);
	graph_free(g);
}

START_TEST(test_conv) { check_one(0, 100 + (uint64_t)_i); }
END_TEST
START_TEST(test_fused_conv) { check_one(1, 200 + (uint64_t)_i); }
END_TEST
START_TEST(test_gemm) { check_one(2, 300 + (uint64_t)_i); }
END_TEST
START_TEST(test_fused_gemm) { check_one(3, 400 + (uint64_t)_i); }
END_TEST
START_TEST(test_matmul) { check_one(4, 500 + (uint64_t)_i); }
END_TEST

/* 3x3 convs of every kind the view distinguishes, every encoding: Cg a multiple of M (groups
 * inside a tap), grouped with Cg = 6 (2:4 groups straddling taps), depthwise (Cg = 1: groups of
 * view columns run across the taps), padded and strided; encoded == dense. The dense run of a
 * depthwise conv takes the direct kernel, not im2col: an independent check of the column map. */
START_TEST(test_conv3x3_kinds)
{
	static const int64_t kinds[][3] = {{1, 8, 6}, {2, 6, 3}, {4, 1, 1}, {3, 1, 2}}; /* groups, Cg, Mg */
	static const char *const encs[] = {"nm(2,4)", "nm(1,8)", "csr", "bsr(2,3)", "gs(4,8)", "tasd[(2,4),(1,4)]"};
	const int64_t *k = kinds[_i % 4];
	const char *spec = encs[_i / 4];
	Diag d = {0};
	test_seed(900 + (uint64_t)_i, 7);
	Graph *g = graph_new("t");
	int64_t c = k[0] * k[1], m = k[0] * k[2];
	Value *x = test_input(g, "x", shape_make(4, (int64_t[]){2, c, 7, 6}));
	Value *w = constant(g, "w", 4, (int64_t[]){m, k[1], 3, 3}, 0.0);
	Node *n = graph_add_node(g, OP_Conv, "conv", 2, (Value *[]){x, w}, 1);
	n->attr.conv.group = k[0];
	n->attr.conv.pads = (Ints){4, {1, 0, 1, 2}};
	n->attr.conv.strides = (Ints){2, {1, 2}};
	graph_add_output(g, n->out[0]);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	WeightView view;
	ck_assert(weight_view(n, 1, &view));
	ck_assert(view.group == k[1] && view.cols == 9 * k[1]);
	Encoding e;
	ck_assert(encoding_parse(spec, &e, NULL, &d) == 0);
	ck_assert(sparse_project(w->data, &view, &e) >= 0.0);
	Tensor in, dense, packed;
	ck_assert(tensor_alloc(&in, DT_F32, &x->shape, &d) == 0);
	fill(in.data, tensor_numel(&in), 0.0);
	run(g, &in, &dense);
	ck_assert_msg(sparse_attach(g, w, &view, &e, &d) == 0, "%s", d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
	run(g, &in, &packed);
	const float *a = dense.data, *b = packed.data;
	for (int64_t i = 0; i < tensor_numel(&dense); i++)
		ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-4f * (1.0f + fabsf(a[i])), "groups %lld Cg %lld %s: output %lld: %g vs %g",
			      (long long)k[0], (long long)k[1], spec, (long long)i, a[i], b[i]);
	tensor_free(&in);
	tensor_free(&dense);
	tensor_free(&packed);
	graph_free(g);
}
END_TEST

/* A packed form made for another view is refused, not misread. */
START_TEST(test_view_mismatch)
{
	Diag d = {0};
	test_seed(9, 7);
	Graph *g = graph_new("t");
	Value *a = test_input(g, "a", shape_make(2, (int64_t[]){2, 6}));
	Value *b = constant(g, "b", 2, (int64_t[]){6, 6}, 0.5);
	Node *n = graph_add_node(g, OP_Gemm, "gemm", 2, (Value *[]){a, b}, 1);
	graph_add_output(g, n->out[0]);
	ck_assert(pass_shape_infer(g, NULL, &d) == 0);
	WeightView view;
	ck_assert(weight_view(n, 1, &view));
	WeightView other = {view.rows, view.cols, view.col_stride, view.row_stride, view.cols, 0};
	Encoding e = {.kind = ENC_CSR};
	ck_assert(sparse_attach(g, b, &other, &e, &d) == 0);
	Tensor in, out;
	ck_assert(tensor_alloc(&in, DT_F32, &a->shape, &d) == 0);
	ck_assert(ref_run(g, &in, &out, &d) < 0);
	ck_assert_msg(strstr(d.msg, "another matrix view") != NULL, "%s", d.msg);
	tensor_free(&in);
	graph_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sparse_interp");
	TCase *tc = tcase_create("encoded_equals_dense");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_conv, 0, 150);
	tcase_add_loop_test(tc, test_fused_conv, 0, 100);
	tcase_add_loop_test(tc, test_gemm, 0, 100);
	tcase_add_loop_test(tc, test_fused_gemm, 0, 60);
	tcase_add_loop_test(tc, test_matmul, 0, 100);
	tcase_add_loop_test(tc, test_conv3x3_kinds, 0, 24);
	tcase_add_test(tc, test_view_mismatch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
