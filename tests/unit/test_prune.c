/* The prune pass: every pattern kind on small graphs (achieved sparsity, the pattern holds, the
 * largest magnitudes are kept), global against layer-wise ranking, per-layer rules and
 * keep=first/last, layers that cannot take a pattern, shared weights, the argument grammar's
 * one-line errors, the pipeline text round trip with the full argument, and the outputs of a
 * pruned graph against the same graph with the pruned weights left dense. */
#include "testutil.h"
#include "nnzc/ir.h"
#include "../../passes/prune_spec.h" /* select_gs, white-box */

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- building graphs */

static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)test_uniform(0, (double)(hi - lo + 1)); }

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static Node *conv(Graph *g, const char *name, Value *x, int64_t o, int64_t c, int64_t k, int64_t group, bool bias)
{
	char wn[64], bn[64];
	snprintf(wn, sizeof wn, "%s.w", name);
	snprintf(bn, sizeof bn, "%s.b", name);
	Value *in[3] = {x, test_crand(g, wn, SHAPE(o, c / group, k, k), 1.0),
			bias ? test_crand(g, bn, SHAPE(o), 1.0) : NULL};
	Node *n = graph_add_node(g, OP_Conv, name, bias ? 3 : 2, in, 1);
	n->attr.conv.group = group;
	int64_t p = k / 2;
	n->attr.conv.pads = (Ints){4, {p, p, p, p}};
	return n;
}

static Node *gemm(Graph *g, const char *name, Value *x, int64_t k, int64_t n_out, bool trans_b)
{
	char wn[64];
	snprintf(wn, sizeof wn, "%s.w", name);
	Value *in[2] = {x, test_crand(g, wn, trans_b ? SHAPE(n_out, k) : SHAPE(k, n_out), 1.0)};
	Node *n = graph_add_node(g, OP_Gemm, name, 2, in, 1);
	n->attr.gemm.trans_b = trans_b;
	return n;
}

static Node *op1(Graph *g, Op op, const char *name, Value *x)
{
	return graph_add_node(g, op, name, 1, (Value *[]){x}, 1);
}

static void infer(Graph *g)
{
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
}

/* x[1,C,6,6] -> Conv stem -> Relu -> Conv layer1.conv -> GlobalAveragePool -> Flatten -> Gemm fc */
static Graph *small_cnn(int64_t c, int64_t w1, int64_t w2, int64_t classes)
{
	Graph *g = graph_new("cnn");
	Value *x = test_input(g, "x", SHAPE(1, c, 6, 6));
	Value *y = conv(g, "stem", x, w1, c, 3, 1, true)->out[0];
	y = op1(g, OP_Relu, "relu", y)->out[0];
	y = conv(g, "layer1.conv", y, w2, w1, 3, 1, true)->out[0];
	y = op1(g, OP_GlobalAveragePool, "gap", y)->out[0];
	y = op1(g, OP_Flatten, "flatten", y)->out[0];
	y = gemm(g, "fc", y, w2, classes, true)->out[0];
	graph_add_output(g, y);
	infer(g);
	return g;
}

/* One layer: x[4, K] -> Gemm (B [K,N] or [N,K]) */
static Graph *one_gemm(int64_t k, int64_t n, bool trans_b)
{
	Graph *g = graph_new("gemm");
	Value *x = test_input(g, "x", SHAPE(4, k));
	graph_add_output(g, gemm(g, "fc", x, k, n, trans_b)->out[0]);
	infer(g);
	return g;
}

static Graph *one_conv(int64_t o, int64_t c, int64_t k, int64_t group)
{
	Graph *g = graph_new("conv");
	Value *x = test_input(g, "x", SHAPE(1, c, 5, 5));
	graph_add_output(g, conv(g, "conv", x, o, c, k, group, true)->out[0]);
	infer(g);
	return g;
}

/* ---------------------------------------------------------------- running and checking */

static void prune_ok(Graph *g, const char *arg)
{
	Diag d;
	ck_assert_msg(test_run_pass(g, pass_prune, arg, &d) == 0, "prune(%s): %s", arg, d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "prune(%s) left an invalid graph: %s", arg, d.msg);
}

typedef struct W {
	Value *v;
	WeightView view;
	int64_t rows, cols;
} W;

static W weight_of(Graph *g, const char *node)
{
	Node *n = graph_find_node(g, node);
	ck_assert_ptr_nonnull(n);
	W w = {.v = n->in[1]};
	ck_assert(weight_view(n, 1, &w.view));
	w.rows = w.view.rows;
	w.cols = w.view.cols;
	return w;
}

static float at(const W *w, const float *data, int64_t r, int64_t c)
{
	return data[weight_view_offset(&w->view, r, c)];
}

static float *copy_data(const Value *v)
{
	int64_t n = shape_numel(&v->shape);
	float *p = malloc((size_t)n * sizeof *p);
	memcpy(p, v->data, (size_t)n * sizeof *p);
	return p;
}

static int64_t zeros_of(const Value *v)
{
	int64_t n = shape_numel(&v->shape), z = 0;
	for (int64_t i = 0; i < n; i++)
		z += ((const float *)v->data)[i] == 0.0f;
	return z;
}

static void assert_remark(const Graph *g, const char *node, const char *key, const char *text_part)
{
	const Remark *r = test_remark_on(g, node);
	ck_assert_msg(r != NULL, "no remark on '%s'", node);
	ck_assert_str_eq(r->pass, "prune");
	if (key)
		ck_assert_msg(r->key && strcmp(r->key, key) == 0, "remark on '%s' has key %s, not %s", node,
			      r->key ? r->key : "NULL", key);
	else
		ck_assert_msg(r->key == NULL, "remark on '%s' has key %s", node, r->key);
	ck_assert_msg(strstr(r->text, text_part) != NULL, "remark on '%s' is '%s', expected '%s' in it", node, r->text,
		      text_part);
}

/* The encoded weight is consistent: it fits its encoding and has a packed form. */
static void assert_encoded(const W *w, const char *spelling)
{
	ck_assert_msg(test_enc_is(&w->v->enc, spelling), "weight '%s' is not %s", w->v->name, spelling);
	ck_assert(sparse_fits(w->v->data, &w->view, &w->v->enc));
	ck_assert_ptr_nonnull(w->v->sparse);
	float *dec = malloc((size_t)(w->rows * w->cols) * sizeof *dec);
	sparse_decode(w->v->sparse, dec);
	ck_assert(memcmp(dec, w->v->data, (size_t)(w->rows * w->cols) * sizeof *dec) == 0);
	free(dec);
}

/* ---------------------------------------------------------------- unstructured */

START_TEST(unstructured_layerwise)
{
	static const double sparsities[] = {0.0, 0.1, 0.5, 0.75, 0.9, 1.0};
	for (size_t s = 0; s < sizeof sparsities / sizeof *sparsities; s++) {
		test_rng_state = 1000 + s;
		Graph *g = one_conv(8, 4, 3, 1);
		W w = weight_of(g, "conv");
		float *orig = copy_data(w.v);
		char arg[64];
		snprintf(arg, sizeof arg, "unstructured:%g", sparsities[s]);
		prune_ok(g, arg);
		int64_t numel = w.rows * w.cols;
		ck_assert_int_eq(zeros_of(w.v), llround(sparsities[s] * (double)numel));
		/* every kept |w| is at least every pruned |w|, and kept values are unchanged */
		float min_kept = INFINITY, max_pruned = 0;
		const float *p = w.v->data;
		for (int64_t i = 0; i < numel; i++) {
			if (p[i] != 0.0f) {
				ck_assert(p[i] == orig[i]);
				min_kept = fminf(min_kept, fabsf(orig[i]));
			} else {
				max_pruned = fmaxf(max_pruned, fabsf(orig[i]));
			}
		}
		ck_assert(max_pruned <= min_kept);
		assert_encoded(&w, "csr");
		assert_remark(g, "conv", "sparsity", "pruned to csr (unstructured:");
		ck_assert_double_eq_tol(test_remark_on(g, "conv")->value, (double)zeros_of(w.v) / numel, 1e-12);
		free(orig);
		graph_free(g);
	}
}
END_TEST

/* Equal magnitudes: the lower index is kept, as sparse_project does. */
START_TEST(unstructured_ties_keep_lower_index)
{
	Graph *g = one_gemm(4, 2, true);
	W w = weight_of(g, "fc");
	float *p = w.v->data;
	for (int i = 0; i < 8; i++)
		p[i] = (i % 2 ? -1.0f : 1.0f) * (i < 4 ? 1.0f : 2.0f); /* row 0: |1|, row 1: |2| */
	prune_ok(g, "unstructured:0.25");
	/* two of the four ones go: the last two */
	static const float want[8] = {1, -1, 0, 0, 2, -2, 2, -2};
	for (int i = 0; i < 8; i++)
		ck_assert_msg(p[i] == want[i], "element %d is %g, want %g", i, p[i], want[i]);
	graph_free(g);
}
END_TEST

/* Transposed views (Gemm transB=0, MatMul): rows of the matrix are B's columns. */
START_TEST(unstructured_matmul_view)
{
	test_rng_state = 77;
	Graph *g = graph_new("mm");
	Value *x = test_input(g, "x", SHAPE(3, 10));
	Value *b = test_crand(g, "B", SHAPE(10, 6), 1.0);
	graph_add_output(g, graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){x, b}, 1)->out[0]);
	infer(g);
	W w = weight_of(g, "mm");
	ck_assert_int_eq(w.rows, 6);
	ck_assert_int_eq(w.cols, 10);
	prune_ok(g, "unstructured:0.5");
	ck_assert_int_eq(zeros_of(b), 30);
	assert_encoded(&w, "csr");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- nm */

/* nm keeps the top-N of every group, exactly what sparse_project(nm) keeps (two independent
 * implementations, ties included: values drawn from a few levels). */
START_TEST(nm_property)
{
	static const int nms[][2] = {{2, 4}, {1, 4}, {1, 8}, {4, 8}, {4, 128}, {2, 16}, {3, 7}, {16, 256}};
	test_rng_state = 4242;
	for (int iter = 0; iter < 300; iter++) {
		int n = nms[iter % 8][0], m = nms[iter % 8][1];
		bool ties = iter % 3 == 0, trans = iter % 2;
		int64_t k = irand(m, 3 * m + 5), out = irand(1, 9);
		Graph *g = one_gemm(k, out, trans);
		W w = weight_of(g, "fc");
		float *p = w.v->data;
		if (ties)
			for (int64_t i = 0; i < k * out; i++)
				p[i] = (float)irand(-3, 3);
		float *want = copy_data(w.v);
		sparse_project(want, &w.view, &(Encoding){.kind = ENC_NM, .u.nm = {n, m}});
		char arg[32];
		snprintf(arg, sizeof arg, "nm:%d:%d", n, m);
		prune_ok(g, arg);
		ck_assert_msg(memcmp(want, p, (size_t)(k * out) * sizeof *p) == 0, "%s on %lldx%lld (ties %d) differs from sparse_project",
			      arg, (long long)w.rows, (long long)w.cols, ties);
		/* at most N per group, exactly min(N, group) when there were no zeros */
		for (int64_t r = 0; r < w.rows; r++)
			for (int64_t c0 = 0; c0 < w.cols; c0 += m) {
				int len = (int)(w.cols - c0 < m ? w.cols - c0 : m), nz = 0;
				for (int j = 0; j < len; j++)
					nz += at(&w, p, r, c0 + j) != 0.0f;
				ck_assert_int_le(nz, n);
				if (!ties)
					ck_assert_int_eq(nz, len < n ? len : n);
			}
		char spelling[32];
		snprintf(spelling, sizeof spelling, "nm(%d,%d)", n, m);
		assert_encoded(&w, spelling);
		free(want);
		graph_free(g);
	}
}
END_TEST

/* Grouped convs are layers like any other; depthwise convs (fewer input channels per group
 * than M) and 1x1 convs with too few input channels cannot take 2:4 and stay dense. */
START_TEST(nm_conv_grouped_depthwise_and_too_short)
{
	test_rng_state = 5;
	Graph *g = one_conv(8, 8, 3, 2); /* grouped: rows of 4*9 = 36 */
	W w = weight_of(g, "conv");
	prune_ok(g, "nm:2:4");
	ck_assert_int_eq(zeros_of(w.v), 8 * 36 / 2);
	assert_encoded(&w, "nm(2,4)");
	graph_free(g);

	g = one_conv(6, 6, 3, 6); /* depthwise: 1 input channel per tap < M, groups could only mix taps */
	w = weight_of(g, "conv");
	float *dw = copy_data(w.v);
	prune_ok(g, "nm:2:4");
	ck_assert(memcmp(dw, w.v->data, 6 * 9 * sizeof(float)) == 0);
	ck_assert(w.v->enc.kind == ENC_DENSE);
	assert_remark(g, "conv", NULL, "kept dense: 1 input channel per tap cannot take nm(2,4)");
	free(dw);
	graph_free(g);

	g = one_conv(4, 1, 1, 1); /* one input channel, 1x1: rows of 1 */
	w = weight_of(g, "conv");
	float *orig = copy_data(w.v);
	prune_ok(g, "nm:2:4");
	ck_assert(memcmp(orig, w.v->data, 4 * sizeof(float)) == 0);
	ck_assert(w.v->enc.kind == ENC_DENSE);
	assert_remark(g, "conv", NULL, "kept dense: rows of 1 cannot take nm(2,4)");
	free(orig);
	graph_free(g);

	g = one_gemm(100, 3, true); /* 100 columns < M = 128 */
	prune_ok(g, "nm:4:128");
	ck_assert(weight_of(g, "fc").v->enc.kind == ENC_DENSE);
	assert_remark(g, "fc", NULL, "rows of 100 cannot take nm(4,128) (shorter than M=128)");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- block */

static double block_norm(const W *w, const float *p, int64_t r0, int64_t c0, int br, int bc)
{
	double s = 0;
	for (int64_t r = r0; r < r0 + br && r < w->rows; r++)
		for (int64_t c = c0; c < c0 + bc && c < w->cols; c++)
			s += (double)at(w, p, r, c) * at(w, p, r, c);
	return sqrt(s);
}

START_TEST(block_property)
{
	static const int blocks[][2] = {{4, 1}, {1, 4}, {2, 2}, {4, 4}, {3, 5}};
	test_rng_state = 99;
	for (int iter = 0; iter < 100; iter++) {
		int br = blocks[iter % 5][0], bc = blocks[iter % 5][1];
		int64_t rows = irand(br, 4 * br + 3), cols = irand(bc, 4 * bc + 3);
		double s = test_uniform(0, 1);
		Graph *g = one_gemm(cols, rows, iter % 2);
		W w = weight_of(g, "fc");
		float *orig = copy_data(w.v);
		char arg[64];
		snprintf(arg, sizeof arg, "block:%dx%d:%.3f", br, bc, s);
		prune_ok(g, arg);
		const float *p = w.v->data;
		int64_t nbr = (rows + br - 1) / br, nbc = (cols + bc - 1) / bc, zero_blocks = 0;
		double min_kept = INFINITY, max_pruned = 0;
		for (int64_t i = 0; i < nbr; i++)
			for (int64_t j = 0; j < nbc; j++) {
				double now = block_norm(&w, p, i * br, j * bc, br, bc);
				double was = block_norm(&w, orig, i * br, j * bc, br, bc);
				if (now == 0) {
					zero_blocks++;
					max_pruned = fmax(max_pruned, was);
				} else {
					ck_assert(now == was); /* a block is kept whole or zeroed whole */
					min_kept = fmin(min_kept, was);
				}
			}
		char sparsity[16];
		snprintf(sparsity, sizeof sparsity, "%.3f", s);
		ck_assert_int_eq(zero_blocks, llround(atof(sparsity) * (double)(nbr * nbc)));
		ck_assert(max_pruned <= min_kept * (1 + 1e-6));
		char spelling[32];
		snprintf(spelling, sizeof spelling, "bsr(%d,%d)", br, bc);
		assert_encoded(&w, spelling);
		free(orig);
		graph_free(g);
	}
}
END_TEST

START_TEST(block_larger_than_matrix_stays_dense)
{
	Graph *g = one_gemm(8, 3, true); /* 3 rows */
	prune_ok(g, "block:4x1:0.5");
	ck_assert(weight_of(g, "fc").v->enc.kind == ENC_DENSE);
	assert_remark(g, "fc", NULL, "a 3x8 matrix cannot take one 4x1 block");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- channel */

/* The zeroed output channels are those with the smallest RMS, and with a bias they output
 * exactly the bias. */
START_TEST(channel_rows_and_bias)
{
	test_rng_state = 31;
	Graph *g = one_conv(10, 3, 3, 1);
	W w = weight_of(g, "conv");
	float *orig = copy_data(w.v);
	prune_ok(g, "channel:0.3");
	const float *p = w.v->data;
	int zero_rows = 0;
	double min_kept = INFINITY, max_pruned = 0;
	bool zeroed[10] = {0};
	for (int64_t r = 0; r < w.rows; r++) {
		double s = 0;
		int nz = 0;
		for (int64_t c = 0; c < w.cols; c++) {
			s += (double)at(&w, orig, r, c) * at(&w, orig, r, c);
			nz += at(&w, p, r, c) != 0.0f;
		}
		ck_assert(nz == 0 || nz == w.cols);
		if (nz == 0) {
			zero_rows++;
			zeroed[r] = true;
			max_pruned = fmax(max_pruned, s);
		} else {
			min_kept = fmin(min_kept, s);
		}
	}
	ck_assert_int_eq(zero_rows, 3);
	ck_assert(max_pruned <= min_kept);
	assert_encoded(&w, "csr");
	/* run: a zeroed channel is its bias everywhere */
	Diag d = {0};
	Tensor in, out;
	ck_assert(tensor_alloc(&in, DT_F32, &g->inputs[0]->shape, &d) == 0);
	for (int64_t i = 0; i < tensor_numel(&in); i++)
		((float *)in.data)[i] = (float)test_uniform(-1, 1);
	ck_assert_msg(ref_run(g, &in, &out, &d) == 0, "%s", d.msg);
	const float *bias = graph_find_node(g, "conv")->in[2]->data;
	int64_t plane = out.shape.dim[2] * out.shape.dim[3];
	for (int r = 0; r < 10; r++)
		if (zeroed[r])
			for (int64_t k = 0; k < plane; k++)
				ck_assert(((float *)out.data)[r * plane + k] == bias[r]);
	tensor_free(&in);
	tensor_free(&out);
	free(orig);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- gs */

/* Every row keeps k = round((1-S)*cols); in every group of V rows no bank holds more than k of
 * the kept elements; with V = 1 that is the plain top-k of each row. */
START_TEST(gs_property)
{
	test_rng_state = 2112;
	int kept_dense = 0, checked = 0;
	for (int iter = 0; iter < 200; iter++) {
		int V = (int)(1 << irand(0, 4)), B = (int)irand(V, 2 * V + 3);
		int64_t rows = irand(1, 3 * V + 2), cols = irand(1, 60);
		double s = iter % 7 == 0 ? 0.0 : test_uniform(0, 1);
		Graph *g = one_gemm(cols, rows, iter % 2);
		W w = weight_of(g, "fc");
		float *orig = copy_data(w.v);
		char arg[64], spelling[32];
		snprintf(arg, sizeof arg, "gs:%d:%d:%.4f", V, B, s);
		snprintf(spelling, sizeof spelling, "gs(%d,%d)", V, B);
		prune_ok(g, arg);
		if (w.v->enc.kind == ENC_DENSE) {
			/* only when the shape or the bank budget makes it impossible */
			assert_remark(g, "fc", NULL, "kept dense:");
			ck_assert(memcmp(orig, w.v->data, (size_t)(rows * cols) * sizeof *orig) == 0);
			kept_dense++;
			free(orig);
			graph_free(g);
			continue;
		}
		checked++;
		assert_encoded(&w, spelling);
		int64_t k = llround((1.0 - atof(strrchr(arg, ':') + 1)) * (double)cols);
		const float *p = w.v->data;
		int64_t *bank = calloc((size_t)B, sizeof *bank);
		for (int64_t r0 = 0; r0 < rows; r0 += V) {
			memset(bank, 0, (size_t)B * sizeof *bank);
			for (int64_t r = r0; r < r0 + V && r < rows; r++) {
				int64_t nz = 0;
				for (int64_t c = 0; c < cols; c++)
					if (at(&w, p, r, c) != 0.0f) {
						nz++;
						bank[c % B]++;
						ck_assert(at(&w, p, r, c) == at(&w, orig, r, c));
					}
				/* k exactly, unless the packer had to drop a few more */
				ck_assert_int_le(nz, k);
			}
			for (int b = 0; b < B; b++)
				ck_assert_int_le(bank[b], k);
		}
		if (V == 1) /* plain top-k per row */
			for (int64_t r = 0; r < rows; r++) {
				float min_kept = INFINITY, max_pruned = 0;
				for (int64_t c = 0; c < cols; c++) {
					float a = fabsf(at(&w, orig, r, c));
					if (at(&w, p, r, c) != 0.0f)
						min_kept = fminf(min_kept, a);
					else
						max_pruned = fmaxf(max_pruned, a);
				}
				ck_assert(max_pruned <= min_kept);
			}
		free(bank);
		free(orig);
		graph_free(g);
	}
	ck_assert_int_gt(checked, 150);
	(void)kept_dense;
}
END_TEST

START_TEST(gs_exact_counts)
{
	test_rng_state = 8;
	Graph *g = one_gemm(64, 32, true); /* 32 rows x 64 columns, gs(16,16) at 0.75 -> 16 per row */
	W w = weight_of(g, "fc");
	prune_ok(g, "gs:16:16:0.75");
	assert_encoded(&w, "gs(16,16)");
	const float *p = w.v->data;
	for (int64_t r = 0; r < 32; r++) {
		int nz = 0;
		for (int64_t c = 0; c < 64; c++)
			nz += p[r * 64 + c] != 0.0f;
		ck_assert_int_eq(nz, 16);
	}
	ck_assert_double_eq_tol(test_remark_on(g, "fc")->value, 0.75, 1e-12);
	graph_free(g);

	g = one_gemm(8, 32, true); /* 8 columns cannot feed 16 lanes from distinct banks */
	prune_ok(g, "gs:16:16:0.5");
	assert_remark(g, "fc", NULL, "rows of 8 cannot feed 16 lanes from distinct banks (gs(16,16))");
	graph_free(g);
}
END_TEST

/* select_gs on tiny groups against brute force: it finds a selection exactly when one exists
 * (every row k elements, no bank above k), and keeps the largest magnitude sum there is. */
static bool brute_gs(const float *w, int rows, int cols, int B, int k, int row, int *bank, double sum, double *best)
{
	if (row == rows) {
		*best = fmax(*best, sum);
		return true;
	}
	bool any = false;
	for (int mask = 0; mask < 1 << cols; mask++) {
		if (__builtin_popcount((unsigned)mask) != k)
			continue;
		bool ok = true;
		double s = 0;
		for (int c = 0; c < cols; c++)
			if (mask >> c & 1) {
				ok &= ++bank[c % B] <= k;
				s += fabs(w[row * cols + c]);
			}
		if (ok)
			any |= brute_gs(w, rows, cols, B, k, row + 1, bank, sum + s, best);
		for (int c = 0; c < cols; c++)
			if (mask >> c & 1)
				bank[c % B]--;
	}
	return any;
}

START_TEST(gs_selection_brute_force)
{
	test_rng_state = 600;
	int feasible = 0, infeasible = 0;
	double worst = 1;
	for (int iter = 0; iter < 1000; iter++) {
		int rows = (int)irand(1, 3), cols = (int)irand(1, 6), B = (int)irand(1, 4), k = (int)irand(0, cols);
		float w[18];
		for (int i = 0; i < rows * cols; i++)
			w[i] = (float)test_uniform(-1, 1);
		int bank[4] = {0};
		double best = -1;
		bool exists = brute_gs(w, rows, cols, B, k, 0, bank, 0, &best);
		float got[18];
		memcpy(got, w, sizeof got);
		WeightView v = {rows, cols, cols, 1, cols, 0};
		Diag d = {0};
		int rc = select_gs(got, &v, rows, B, k, &d);
		ck_assert_msg(rc == (exists ? 0 : 1), "rows %d cols %d B %d k %d: select_gs %d, brute force %d", rows, cols, B,
			      k, rc, exists);
		if (!exists) {
			infeasible++;
			ck_assert(memcmp(got, w, sizeof got) == 0);
			continue;
		}
		feasible++;
		double sum = 0;
		int cnt[4] = {0};
		for (int r = 0; r < rows; r++) {
			int nz = 0;
			for (int c = 0; c < cols; c++)
				if (got[r * cols + c] != 0.0f) {
					nz++;
					cnt[c % B]++;
					sum += fabs(got[r * cols + c]);
				}
			ck_assert_int_eq(nz, k);
		}
		for (int b = 0; b < B; b++)
			ck_assert_int_le(cnt[b], k);
		if (best > 0)
			worst = fmin(worst, sum / best);
	}
	ck_assert_int_gt(feasible, 100);
	ck_assert_int_gt(infeasible, 10);
	ck_assert_msg(worst > 1 - 1e-6, "kept magnitude down to %.9f of the best", worst);
}
END_TEST

/* ---------------------------------------------------------------- global, rules, keep */

START_TEST(global_against_layerwise)
{
	/* two layers of very different scales */
	test_rng_state = 3;
	Graph *g = small_cnn(3, 8, 8, 4);
	W a = weight_of(g, "stem"), b = weight_of(g, "layer1.conv"), f = weight_of(g, "fc");
	float *pb = b.v->data;
	for (int64_t i = 0; i < b.rows * b.cols; i++)
		pb[i] *= 0.01f; /* layer1 is small: a global threshold takes it first */
	int64_t total = a.rows * a.cols + b.rows * b.cols + f.rows * f.cols;
	float *oa = copy_data(a.v), *ob = copy_data(b.v), *of = copy_data(f.v);
	prune_ok(g, "unstructured:0.8;global");
	int64_t zeros = zeros_of(a.v) + zeros_of(b.v) + zeros_of(f.v);
	ck_assert_int_eq(zeros, llround(0.8 * (double)total));
	ck_assert_int_eq(zeros_of(b.v), b.rows * b.cols); /* all of the small layer */
	ck_assert_int_lt(zeros_of(a.v), a.rows * a.cols / 2);
	/* one threshold: every pruned |w| of any layer is at most every kept |w| of any layer */
	float min_kept = INFINITY, max_pruned = 0;
	const W *ws[3] = {&a, &b, &f};
	float *os[3] = {oa, ob, of};
	for (int l = 0; l < 3; l++)
		for (int64_t i = 0; i < ws[l]->rows * ws[l]->cols; i++) {
			float x = ((float *)ws[l]->v->data)[i], o = fabsf(os[l][i]);
			if (x == 0.0f)
				max_pruned = fmaxf(max_pruned, o);
			else
				min_kept = fminf(min_kept, o);
		}
	ck_assert(max_pruned <= min_kept);
	bool found = false;
	for (int i = 0; i < g->n_remarks; i++)
		found |= g->remarks[i].node == NULL && g->remarks[i].key && strcmp(g->remarks[i].key, "threshold") == 0;
	ck_assert(found);
	free(oa), free(ob), free(of);
	graph_free(g);

	/* layer-wise on the same weights: every layer at 0.5 */
	test_rng_state = 3;
	g = small_cnn(3, 8, 8, 4);
	b = weight_of(g, "layer1.conv");
	pb = b.v->data;
	for (int64_t i = 0; i < b.rows * b.cols; i++)
		pb[i] *= 0.01f;
	prune_ok(g, "unstructured:0.5");
	const char *names[3] = {"stem", "layer1.conv", "fc"};
	for (int l = 0; l < 3; l++) {
		W x = weight_of(g, names[l]);
		ck_assert_int_eq(zeros_of(x.v), llround(0.5 * (double)(x.rows * x.cols)));
	}
	graph_free(g);
}
END_TEST

START_TEST(global_block_and_channel)
{
	test_rng_state = 17;
	Graph *g = small_cnn(4, 8, 8, 8);
	prune_ok(g, "channel:0.25;global");
	int64_t zero_rows = 0, rows = 0;
	const char *names[3] = {"stem", "layer1.conv", "fc"};
	for (int l = 0; l < 3; l++) {
		W x = weight_of(g, names[l]);
		rows += x.rows;
		for (int64_t r = 0; r < x.rows; r++) {
			int64_t nz = 0;
			for (int64_t c = 0; c < x.cols; c++)
				nz += at(&x, x.v->data, r, c) != 0.0f;
			ck_assert(nz == 0 || nz == x.cols);
			zero_rows += nz == 0;
		}
		assert_encoded(&x, "csr");
	}
	ck_assert_int_eq(zero_rows, llround(0.25 * (double)rows));
	graph_free(g);

	g = small_cnn(4, 8, 8, 8);
	prune_ok(g, "block:2x2:0.5;global");
	int64_t zero_blocks = 0, blocks = 0;
	for (int l = 0; l < 3; l++) {
		W x = weight_of(g, names[l]);
		assert_encoded(&x, "bsr(2,2)");
		for (int64_t r = 0; r < x.rows; r += 2)
			for (int64_t c = 0; c < x.cols; c += 2) {
				blocks++;
				zero_blocks += block_norm(&x, x.v->data, r, c, 2, 2) == 0;
			}
	}
	ck_assert_int_eq(zero_blocks, llround(0.5 * (double)blocks));
	graph_free(g);
}
END_TEST

START_TEST(rules_and_keep)
{
	test_rng_state = 21;
	Graph *g = small_cnn(3, 8, 8, 4);
	prune_ok(g, "unstructured:0.5;keep=first,last");
	ck_assert(weight_of(g, "stem").v->enc.kind == ENC_DENSE);
	ck_assert_int_eq(zeros_of(weight_of(g, "stem").v), 0);
	ck_assert(weight_of(g, "fc").v->enc.kind == ENC_DENSE);
	ck_assert(weight_of(g, "layer1.conv").v->enc.kind == ENC_CSR);
	assert_remark(g, "stem", NULL, "kept dense: first prunable layer (keep=first)");
	assert_remark(g, "fc", NULL, "kept dense: last prunable layer (keep=last)");
	assert_remark(g, "layer1.conv", "sparsity", "pruned to csr (unstructured:0.5): sparsity 0.500");
	graph_free(g);

	/* rules: the last matching one wins, and beats keep; GLOB=dense keeps a layer */
	g = small_cnn(3, 8, 8, 4);
	prune_ok(g, "unstructured:0.5 ; keep=first ; *conv*=nm:2:4;layer1.*=nm:1:4;fc=dense;stem=block:2x1:0.5");
	ck_assert(test_enc_is(&weight_of(g, "layer1.conv").v->enc, "nm(1,4)"));
	ck_assert(test_enc_is(&weight_of(g, "stem").v->enc, "bsr(2,1)"));
	ck_assert(weight_of(g, "fc").v->enc.kind == ENC_DENSE);
	assert_remark(g, "fc", NULL, "kept dense: rule 'fc=dense'");
	assert_remark(g, "layer1.conv", "sparsity", "pruned to nm(1,4) (nm:1:4)");
	graph_free(g);

	/* a default of dense prunes only what the rules name; a rule that matches nothing is told */
	g = small_cnn(3, 8, 8, 4);
	prune_ok(g, "dense;fc=nm:2:4;nothing*=unstructured:0.5");
	ck_assert(weight_of(g, "stem").v->enc.kind == ENC_DENSE);
	ck_assert_ptr_null(test_remark_on(g, "stem"));
	ck_assert(test_enc_is(&weight_of(g, "fc").v->enc, "nm(2,4)"));
	bool told = false;
	for (int i = 0; i < g->n_remarks; i++)
		told |= g->remarks[i].node == NULL && strstr(g->remarks[i].text, "rule 'nothing*=unstructured:0.5' "
									     "matches no prunable layer") != NULL;
	ck_assert(told);
	graph_free(g);

	/* global with rules: ruled layers stay layer-wise */
	g = small_cnn(3, 8, 8, 4);
	prune_ok(g, "unstructured:0.9;global;fc=unstructured:0.25");
	W f = weight_of(g, "fc");
	ck_assert_int_eq(zeros_of(f.v), llround(0.25 * (double)(f.rows * f.cols)));
	W a = weight_of(g, "stem"), b = weight_of(g, "layer1.conv");
	ck_assert_int_eq(zeros_of(a.v) + zeros_of(b.v), llround(0.9 * (double)(a.rows * a.cols + b.rows * b.cols)));
	graph_free(g);
}
END_TEST

/* Two MatMuls reading one constant: pruned once when they agree, left alone when they do not. */
START_TEST(shared_weights)
{
	test_rng_state = 44;
	Graph *g = graph_new("shared");
	Value *x = test_input(g, "x", SHAPE(2, 8));
	Value *b = test_crand(g, "B", SHAPE(8, 8), 1.0);
	Value *y1 = graph_add_node(g, OP_MatMul, "mm1", 2, (Value *[]){x, b}, 1)->out[0];
	Value *y2 = graph_add_node(g, OP_MatMul, "mm2", 2, (Value *[]){y1, b}, 1)->out[0];
	graph_add_output(g, y2);
	infer(g);
	prune_ok(g, "nm:2:4");
	ck_assert_int_eq(zeros_of(b), 32);
	W w = weight_of(g, "mm1");
	assert_encoded(&w, "nm(2,4)");
	assert_remark(g, "mm1", "sparsity", "weight 'B' shared with node 'mm2'");
	ck_assert_ptr_null(test_remark_on(g, "mm2"));
	graph_free(g);

	/* the same rule must apply to both */
	g = graph_new("shared");
	x = test_input(g, "x", SHAPE(2, 8));
	b = test_crand(g, "B", SHAPE(8, 8), 1.0);
	y1 = graph_add_node(g, OP_MatMul, "mm1", 2, (Value *[]){x, b}, 1)->out[0];
	y2 = graph_add_node(g, OP_MatMul, "mm2", 2, (Value *[]){y1, b}, 1)->out[0];
	graph_add_output(g, y2);
	infer(g);
	prune_ok(g, "nm:2:4;mm2=nm:1:4");
	ck_assert_int_eq(zeros_of(b), 0);
	ck_assert(b->enc.kind == ENC_DENSE);
	assert_remark(g, "mm1", NULL, "is shared with node 'mm2'");
	assert_remark(g, "mm2", NULL, "is shared with node 'mm1'");
	graph_free(g);

	/* a weight that is also read by an Add is not a weight only */
	g = graph_new("shared");
	x = test_input(g, "x", SHAPE(8, 8));
	b = test_crand(g, "B", SHAPE(8, 8), 1.0);
	y1 = graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){x, b}, 1)->out[0];
	y2 = graph_add_node(g, OP_Add, "add", 2, (Value *[]){y1, b}, 1)->out[0];
	graph_add_output(g, y2);
	infer(g);
	prune_ok(g, "unstructured:0.5");
	ck_assert_int_eq(zeros_of(b), 0);
	assert_remark(g, "mm", NULL, "also read as something else than a weight");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- the argument */

START_TEST(argument_errors)
{
	static const struct { const char *arg, *msg; } cases[] = {
		{NULL, "needs a pattern: prune(unstructured:0.9)"},
		{"", "empty option in ''"},
		{"nm:2:x", "bad pattern 'nm:2:x': 'x' is not a group size M in 1..256"},
		{"nm:5:4", "bad pattern 'nm:5:4': '5' is not a count N in 1..M"},
		{"nm:0:4", "'0' is not a count N in 1..M"},
		{"nm:2:512", "'512' is not a group size M in 1..256"},
		{"nm:2", "bad pattern 'nm:2': expected nm:N:M"},
		{"unstructured:1.5", "bad pattern 'unstructured:1.5': '1.5' is not a sparsity in [0, 1]"},
		{"unstructured:-0.1", "'-0.1' is not a sparsity"},
		{"unstructured:nan", "'nan' is not a sparsity"},
		{"unstructured:0.5x", "'0.5x' is not a sparsity"},
		{"unstructured", "bad pattern 'unstructured': expected unstructured:S"},
		{"channel:2", "'2' is not a sparsity"},
		{"block:4y1:0.5", "bad pattern 'block:4y1:0.5': '4y1' is not a block size RxC"},
		{"block:0x1:0.5", "'0x1' is not a block size"},
		{"block:4x1", "expected block:RxC:S"},
		{"gs:16:16", "expected gs:V:B:S"},
		{"gs:32:16:0.5", "V=32 lanes cannot read 32 distinct banks out of B=16"},
		{"foo:3", "bad pattern 'foo:3': unknown kind 'foo'"},
		{"csr", "unknown kind 'csr'"},
		{"nm:2:4;", "empty option in 'nm:2:4;'"},
		{"nm:2:4;;global", "empty option"},
		{"nm:2:4;nm:1:4", "bad option 'nm:1:4': a second default pattern (already 'nm:2:4'"},
		{"nm:2:4;global", "global ranks unstructured, block and channel patterns, not 'nm:2:4'"},
		{"keep=first", "no default pattern in 'keep=first'"},
		{"nm:2:4;keep=middle", "bad option 'keep=middle': 'middle' is not first or last"},
		{"nm:2:4;keep=first,", "bad option 'keep=first,': '' is not first or last"},
		{"nm:2:4;conv*=bogus", "rule 'conv*': bad pattern 'bogus': unknown kind 'bogus'"},
		{"nm:2:4;=dense", "bad option '=dense': expected GLOB=PATTERN"},
		{"nm:2:4;fc=", "rule 'fc': empty pattern"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		test_rng_state = 1;
		Graph *g = one_gemm(8, 4, true);
		float *orig = copy_data(weight_of(g, "fc").v);
		Diag d;
		ck_assert_msg(test_run_pass(g, pass_prune, cases[i].arg, &d) < 0, "prune(%s) succeeded",
			      cases[i].arg ? cases[i].arg : "NULL");
		ck_assert_msg(strstr(d.msg, cases[i].msg) != NULL, "prune(%s): '%s' lacks '%s'",
			      cases[i].arg ? cases[i].arg : "NULL", d.msg, cases[i].msg);
		ck_assert_msg(strchr(d.msg, '\n') == NULL, "not one line: %s", d.msg);
		ck_assert(memcmp(orig, weight_of(g, "fc").v->data, 32 * sizeof(float)) == 0); /* nothing changed */
		ck_assert_int_eq(g->n_remarks, 0);
		free(orig);
		graph_free(g);
	}
}
END_TEST

/* The pipeline text carries the whole argument, prints it back, and the dump banner shows it. */
START_TEST(pipeline_round_trip)
{
	static const char text[] =
		"shape-infer,fold-bn,fuse,prune(unstructured:0.9;global;keep=first,last;layer4.*=nm:2:4;fc=dense),"
		"convert-pattern(nm(2,4);keep=last)";
	Pipeline p, q;
	Diag d = {0};
	ck_assert_msg(pipeline_parse(text, &p, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(p.n, 5);
	ck_assert_str_eq(p.step[3].arg, "unstructured:0.9;global;keep=first,last;layer4.*=nm:2:4;fc=dense");
	ck_assert_str_eq(p.step[4].arg, "nm(2,4);keep=last");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	pipeline_print(&p, f);
	fclose(f);
	ck_assert_str_eq(out, text);
	ck_assert_msg(pipeline_parse(out, &q, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(q.n, 5);
	ck_assert_str_eq(q.step[3].arg, p.step[3].arg);
	free(out);

	/* prune and convert-pattern need their argument */
	ck_assert(pipeline_parse("prune", &p, &d) < 0);
	ck_assert(strstr(d.msg, "pass 'prune' needs options") != NULL);

	/* the argument of a long rule list fits */
	char longtext[900] = "prune(unstructured:0.5";
	for (int i = 0; i < 20; i++)
		snprintf(longtext + strlen(longtext), sizeof longtext - strlen(longtext), ";/layer%d/conv%d/Conv=nm:2:4", i, i);
	strcat(longtext, ")");
	ck_assert_msg(pipeline_parse(longtext, &p, &d) == 0, "%s", d.msg);

	/* --print-after prune: the banner names the step with its argument */
	test_rng_state = 6;
	Graph *g = small_cnn(3, 8, 8, 4);
	ck_assert_msg(pipeline_parse("prune(nm:2:4;keep=first)", &p, &d) == 0, "%s", d.msg);
	f = open_memstream(&out, &len);
	Instruments ins = {.print_after = "prune", .print_to = f, .verify = true, .print_opt = {.elide_above = 16}};
	ck_assert_msg(pipeline_run(g, &p, &ins, &d) == 0, "%s", d.msg);
	fclose(f);
	ck_assert_msg(strstr(out, "// ----- IR after prune(nm:2:4;keep=first) ----- //\n") == out, "%s", out);
	ck_assert_msg(strstr(out, "nm(2,4)") != NULL, "%s", out);
	free(out);
	graph_free(g);

	/* a failing argument names the pass */
	diag_clear(&d);
	g = small_cnn(3, 8, 8, 4);
	ck_assert(pipeline_parse("prune(nm:2:y)", &p, &d) == 0);
	ck_assert(pipeline_run(g, &p, NULL, &d) < 0);
	ck_assert_str_eq(d.msg, "prune: bad pattern 'nm:2:y': 'y' is not a group size M in 1..256");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- numerics */

/* The interpreter on the pruned, encoded graph equals the interpreter on the same weights left
 * dense; prune at sparsity 0 changes no output. */
START_TEST(outputs_encoded_equal_dense)
{
	static const char *const args[] = {"unstructured:0.0", "unstructured:0.7", "nm:2:4", "nm:1:8", "block:4x1:0.8",
					   "channel:0.3", "gs:4:8:0.6", "unstructured:0.6;global;keep=first"};
	for (size_t a = 0; a < sizeof args / sizeof *args; a++) {
		test_rng_state = 50 + a;
		Graph *g = small_cnn(4, 8, 16, 5);
		test_rng_state = 50 + a;
		Graph *dense = small_cnn(4, 8, 16, 5);
		Tensor in = test_uniform_tensor(&g->inputs[0]->shape);
		prune_ok(g, args[a]);
		if (a == 0) /* sparsity 0: the outputs of before, up to the summation order of csr */
			test_outputs_agree(g, dense, &in, args[a]);
		/* the dense twin gets the pruned values, no encoding */
		test_copy_encoded(g, dense);
		test_outputs_agree(g, dense, &in, args[a]);
		tensor_free(&in);
		graph_free(g);
		graph_free(dense);
	}
}
END_TEST

/* A pruned graph dumps and parses back to the same text. */
START_TEST(pruned_dump_round_trips)
{
	test_rng_state = 9;
	Graph *g = small_cnn(4, 8, 8, 4);
	prune_ok(g, "nm:2:4;stem=unstructured:0.5;fc=block:2x2:0.5");
	PrintOptions po = {.elide_above = -1};
	char *t1 = NULL, *t2 = NULL;
	size_t n1 = 0, n2 = 0;
	FILE *f = open_memstream(&t1, &n1);
	graph_print(g, f, &po);
	fclose(f);
	Diag d = {0};
	Graph *h = graph_parse(t1, "dump", &d);
	ck_assert_msg(h != NULL, "%s\n%s", d.msg, t1);
	f = open_memstream(&t2, &n2);
	graph_print(h, f, &po);
	fclose(f);
	ck_assert_str_eq(t1, t2);
	ck_assert(test_enc_is(&graph_find_value(h, "layer1.conv.w")->enc, "nm(2,4)"));
	ck_assert(test_enc_is(&graph_find_value(h, "stem.w")->enc, "csr"));
	ck_assert(test_enc_is(&graph_find_value(h, "fc.w")->enc, "bsr(2,2)"));
	free(t1);
	free(t2);
	graph_free(h);
	graph_free(g);
}
END_TEST

/* Out of memory in the graph's arena while attaching: an error with a message, never a crash. */
START_TEST(arena_failures)
{
	static const char *const args[] = {"unstructured:0.5", "nm:2:4", "gs:4:8:0.5", "block:2x2:0.5"};
	int failed = 0;
	for (size_t a = 0; a < sizeof args / sizeof *args; a++)
		for (long n = 1; n < 40; n++) {
			test_rng_state = 7;
			Graph *g = small_cnn(4, 8, 8, 4);
			Diag d;
			arena_fail_after(n);
			int rc = test_run_pass(g, pass_prune, args[a], &d);
			arena_fail_after(0);
			ck_assert_msg(rc == 0 || (rc < 0 && d.msg[0] && !strchr(d.msg, '\n')), "%s, failure %ld: rc %d '%s'",
				      args[a], n, rc, d.msg);
			failed += rc < 0;
			graph_free(g);
		}
	ck_assert_int_gt(failed, 8);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("prune");
	TCase *t = tcase_create("prune");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, unstructured_layerwise);
	tcase_add_test(t, unstructured_ties_keep_lower_index);
	tcase_add_test(t, unstructured_matmul_view);
	tcase_add_test(t, nm_property);
	tcase_add_test(t, nm_conv_grouped_depthwise_and_too_short);
	tcase_add_test(t, block_property);
	tcase_add_test(t, block_larger_than_matrix_stays_dense);
	tcase_add_test(t, channel_rows_and_bias);
	tcase_add_test(t, gs_property);
	tcase_add_test(t, gs_exact_counts);
	tcase_add_test(t, gs_selection_brute_force);
	tcase_add_test(t, global_against_layerwise);
	tcase_add_test(t, global_block_and_channel);
	tcase_add_test(t, rules_and_keep);
	tcase_add_test(t, shared_weights);
	tcase_add_test(t, argument_errors);
	tcase_add_test(t, pipeline_round_trip);
	tcase_add_test(t, outputs_encoded_equal_dense);
	tcase_add_test(t, pruned_dump_round_trips);
	tcase_add_test(t, arena_failures);
	suite_add_tcase(s, t);
	return s;
}

int main(void) { return run_suite(suite()); }
