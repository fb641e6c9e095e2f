/* The sparse core (compiler/sparse_*.c): weight views, project/fits/attach per encoding, and the
 * packed layouts checked index by index against the patterns' definitions, over hundreds of
 * random shapes from a seeded PRNG (partial groups, M up to 256, V and B not dividing the
 * shape), in the three layouts weight_view makes: row-major, transposed, and a Conv's
 * (columns tap-major, channel-minor over a W[O, Cg, K] payload). */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static Encoding enc_of(const char *s)
{
	Encoding e;
	Diag d = {0};
	ck_assert_msg(encoding_parse(s, &e, NULL, &d) == 0, "%s", d.msg);
	return e;
}

/* The layouts of a rows x cols matrix view: row-major; transposed (element (r, c) at c * rows +
 * r); a Conv's W[rows, Cg, K] with cols = K * Cg, view column j = channel j % Cg at tap j / Cg. */
enum { ROWMAJOR, TRANSPOSED, CONV };

static WeightView view_of(int64_t rows, int64_t cols, int layout, int64_t taps)
{
	switch (layout) {
	case TRANSPOSED: return (WeightView){rows, cols, 1, rows, cols, 0};
	case CONV: return (WeightView){rows, cols, cols, taps, cols / taps, 1};
	default: return (WeightView){rows, cols, cols, 1, cols, 0};
	}
}

/* A random layout for rows x cols; for CONV a tap count dividing cols (1 when none in 2..9 does,
 * which is a 1x1 conv). */
static int random_layout(int64_t cols, int64_t *taps)
{
	int layout = (int)test_irand(0, 2);
	*taps = 1;
	if (layout == CONV)
		for (int tries = 0; tries < 8 && *taps == 1; tries++) {
			int64_t k = test_irand(2, 9);
			if (cols % k == 0)
				*taps = k;
		}
	return layout;
}

/* Random values, each zero with probability `zero` (sometimes also a few -0.0f). */
static void fill(float *p, int64_t n, double zero)
{
	for (int64_t i = 0; i < n; i++) {
		double u = (double)(test_next() % 1000000) / 1000000.0;
		p[i] = u < zero ? ((test_next() & 7) == 0 ? -0.0f : 0.0f) : test_frand();
		if (p[i] == 0.0f && u >= zero)
			p[i] = 0.5f;
	}
}

static bool same(const float *a, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))))
			return false;
	return true;
}

/* A graph holding one constant matrix of the given layout, to attach packs to. */
typedef struct Fix {
	Graph *g;
	Value *w;
	WeightView view;
	int64_t n;
} Fix;

static Fix fix_layout(int64_t rows, int64_t cols, int layout, int64_t taps, double zero)
{
	Fix f;
	f.g = graph_new("t");
	Shape s = layout == TRANSPOSED ? SHAPE(cols, rows) : layout == CONV ? SHAPE(rows, cols / taps, taps)
									    : SHAPE(rows, cols);
	f.w = test_constant(f.g, "w", s);
	f.view = view_of(rows, cols, layout, taps);
	f.n = rows * cols;
	fill(f.w->data, f.n, zero);
	return f;
}

static Fix fix_new(int64_t rows, int64_t cols, bool transposed, double zero)
{
	return fix_layout(rows, cols, transposed ? TRANSPOSED : ROWMAJOR, 1, zero);
}

/* A random layout (random_layout) */
static Fix fix_random(int64_t rows, int64_t cols, double zero)
{
	int64_t taps;
	int layout = random_layout(cols, &taps);
	return fix_layout(rows, cols, layout, taps, zero);
}

static float *decoded(const Value *w, int64_t n)
{
	float *p = malloc((size_t)n * sizeof *p);
	ck_assert_ptr_nonnull(w->sparse);
	sparse_decode(w->sparse, p);
	return p;
}

/* ---------------------------------------------------------------- weight views */

START_TEST(test_views)
{
	Graph *g = graph_new("v");
	Value *x = test_input(g, "x", SHAPE(1, 8, 5, 5)), *a = test_input(g, "a", SHAPE(3, 7));
	Value *w = test_constant(g, "w", SHAPE(6, 4, 3, 3)), *b = test_constant(g, "b", SHAPE(7, 5));
	Value *bt = test_constant(g, "bt", SHAPE(5, 7));
	Node *conv = graph_add_node(g, OP_Conv, "conv", 2, (Value *[]){x, w}, 1);
	conv->attr.conv.group = 2;
	Node *gemm = graph_add_node(g, OP_Gemm, "gemm", 2, (Value *[]){a, b}, 1);
	Node *gemmt = graph_add_node(g, OP_Gemm, "gemmt", 2, (Value *[]){a, bt}, 1);
	gemmt->attr.gemm.trans_b = 1;
	Node *mm = graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){a, b}, 1);
	Node *add = graph_add_node(g, OP_Add, "add", 2, (Value *[]){a, a}, 1);
	WeightView v;
	/* W[6, 4, 3, 3]: 4 channels per tap, 9 taps; column j = channel j % 4 at tap j / 4 */
	ck_assert(weight_view(conv, 1, &v));
	ck_assert(v.rows == 6 && v.cols == 36 && v.row_stride == 36 && v.col_stride == 9 && v.group == 4 &&
		  v.tap_stride == 1);
	for (int64_t j = 0; j < 36; j++) {
		ck_assert_int_eq(weight_view_offset(&v, 2, j), 2 * 36 + (j % 4) * 9 + j / 4);
		ck_assert_int_eq(weight_view_reduction(&v, j), (j % 4) * 9 + j / 4); /* the im2col row */
	}
	ck_assert(!weight_view(conv, 0, &v));
	ck_assert(weight_view(gemm, 1, &v));
	ck_assert(v.rows == 5 && v.cols == 7 && v.row_stride == 1 && v.col_stride == 5 && v.group == 7);
	for (int64_t j = 0; j < 7; j++) {
		ck_assert_int_eq(weight_view_offset(&v, 3, j), 3 + 5 * j);
		ck_assert_int_eq(weight_view_reduction(&v, j), j);
	}
	ck_assert(weight_view(gemmt, 1, &v));
	ck_assert(v.rows == 5 && v.cols == 7 && v.row_stride == 7 && v.col_stride == 1 && v.group == 7);
	ck_assert(weight_view(mm, 1, &v));
	ck_assert(v.rows == 5 && v.cols == 7 && v.row_stride == 1 && v.col_stride == 5 && v.group == 7);
	WeightView vg;
	ck_assert(weight_view(gemm, 1, &vg));
	ck_assert(weight_view_equal(&v, &vg));
	ck_assert(weight_view(gemmt, 1, &vg));
	ck_assert(!weight_view_equal(&v, &vg));
	ck_assert(!weight_view(add, 1, &v));
	/* not a constant: not a weight */
	Node *mm2 = graph_add_node(g, OP_MatMul, "mm2", 2, (Value *[]){a, a}, 1);
	ck_assert(!weight_view(mm2, 1, &v));
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- Conv weights: groups along input channels */

/* W[o, c, t] of a Conv weight [O, Cg, 3, 3] (t = kh * 3 + kw), as ONNX lays it out */
static int64_t w_at(int64_t cg, int64_t o, int64_t c, int64_t t) { return (o * cg + c) * 9 + t; }

/* keep the top-2 |w| of each run of 4 entries idx[0..4) (all non-zero, distinct magnitudes) */
static void keep_top2(float *w, const int64_t *idx)
{
	for (int i = 0; i < 4; i++) {
		int bigger = 0;
		for (int j = 0; j < 4; j++)
			bigger += fabsf(w[idx[j]]) > fabsf(w[idx[i]]);
		if (bigger >= 2)
			w[idx[i]] = 0.0f;
	}
}

/* A conv node reading W[O, Cg, 3, 3] (group g), W filled with random non-zero values (their
 * magnitudes distinct for the seeds used). */
static Node *conv3x3(Graph *g, int64_t o, int64_t cg, int64_t groups)
{
	Value *x = test_input(g, "x", SHAPE(1, cg * groups, 6, 6));
	Value *w = test_constant(g, "w", SHAPE(o, cg, 3, 3));
	float *p = w->data;
	for (int64_t i = 0; i < o * cg * 9; i++)
		p[i] = (0.01f + (float)(test_next() % 1000000) / 1e6f) * ((test_next() & 1) ? 1.0f : -1.0f);
	Node *n = graph_add_node(g, OP_Conv, "conv", 2, (Value *[]){x, w}, 1);
	n->attr.conv.group = groups;
	return n;
}

/* A 3x3 conv pruned 2:4 along its input channels at every tap (PyTorch ASP's way: W permuted to
 * [O, kh, kw, Cg], groups of 4 along Cg) fits nm(2,4) on its view and packs with every group
 * inside one tap; pruned 2:4 along the flattened (c, kh, kw) order instead, it does not fit. */
START_TEST(test_conv_nm_along_channels)
{
	test_seed(31, 1);
	Encoding e = enc_of("nm(2,4)");
	for (int way = 0; way < 2; way++) {
		Graph *g = graph_new("c");
		const int64_t o = 6, cg = 8;
		Node *n = conv3x3(g, o, cg, 1);
		Value *w = n->in[1];
		float *p = w->data;
		for (int64_t r = 0; r < o; r++) {
			if (way == 0) {
				for (int64_t t = 0; t < 9; t++)
					for (int64_t c0 = 0; c0 < cg; c0 += 4) {
						int64_t idx[4];
						for (int i = 0; i < 4; i++)
							idx[i] = w_at(cg, r, c0 + i, t);
						keep_top2(p, idx);
					}
			} else {
				for (int64_t f0 = 0; f0 < cg * 9; f0 += 4) {
					int64_t idx[4];
					for (int i = 0; i < 4; i++)
						idx[i] = r * cg * 9 + f0 + i;
					keep_top2(p, idx);
				}
			}
		}
		WeightView v;
		ck_assert(weight_view(n, 1, &v));
		ck_assert(v.group == cg && v.cols == cg * 9);
		if (way == 1) {
			ck_assert_msg(!sparse_fits(w->data, &v, &e), "pruned along (c, kh, kw), yet fits nm(2,4) on the view");
			graph_free(g);
			continue;
		}
		ck_assert(sparse_fits(w->data, &v, &e));
		Diag d = {0};
		ck_assert_msg(sparse_attach(g, w, &v, &e, &d) == 0, "%s", d.msg);
		const SparseData *s = w->sparse;
		ck_assert_int_eq(s->u.nm.groups, cg * 9 / 4);
		/* group k of row r is channels 4*(k % 2).. at tap k / 2; its two values are W's */
		for (int64_t r = 0; r < o; r++)
			for (int64_t k = 0; k < s->u.nm.groups; k++)
				for (int j = 0; j < 2; j++) {
					int64_t col = k * 4 + s->u.nm.off[(r * s->u.nm.groups + k) * 2 + j];
					int64_t c = col % cg, t = col / cg;
					ck_assert(t == k / 2 && c / 4 == k % 2);
					ck_assert(s->u.nm.val[(r * s->u.nm.groups + k) * 2 + j] == p[w_at(cg, r, c, t)]);
					ck_assert(p[w_at(cg, r, c, t)] != 0.0f);
				}
		float *dec = decoded(w, o * cg * 9);
		ck_assert(same(dec, p, o * cg * 9));
		free(dec);
		graph_free(g);
	}
}
END_TEST

/* Projecting a Conv weight onto nm(N,M) through its view keeps the top-N of every M channels
 * at each tap (Cg a multiple of M), computed here straight on W's layout. */
START_TEST(test_conv_project_along_channels)
{
	test_seed(40 + (uint64_t)_i, 1);
	static const int nms[][2] = {{2, 4}, {1, 4}, {1, 8}, {3, 8}};
	int n = nms[_i % 4][0], m = nms[_i % 4][1];
	int64_t o = test_irand(1, 5), cg = m * test_irand(1, 3), groups = test_irand(1, 2);
	Graph *g = graph_new("c");
	Node *node = conv3x3(g, o * groups, cg, groups);
	Value *w = node->in[1];
	int64_t numel = o * groups * cg * 9;
	float *want = malloc((size_t)numel * sizeof *want);
	memcpy(want, w->data, (size_t)numel * sizeof *want);
	for (int64_t r = 0; r < o * groups; r++)
		for (int64_t t = 0; t < 9; t++)
			for (int64_t c0 = 0; c0 < cg; c0 += m)
				for (int64_t i = 0; i < m; i++) {
					int bigger = 0;
					float x = fabsf(want[w_at(cg, r, c0 + i, t)]);
					for (int64_t j = 0; j < m; j++)
						bigger += fabsf(want[w_at(cg, r, c0 + j, t)]) > x;
					if (bigger >= n)
						want[w_at(cg, r, c0 + i, t)] = -0.0f; /* zeroed at the end: magnitudes stay */
				}
	for (int64_t i = 0; i < numel; i++)
		if (want[i] == 0.0f)
			want[i] = 0.0f;
	WeightView v;
	ck_assert(weight_view(node, 1, &v));
	Encoding e = {.kind = ENC_NM};
	e.u.nm.n = n;
	e.u.nm.m = m;
	sparse_project(w->data, &v, &e);
	ck_assert(same(w->data, want, numel));
	free(want);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- worked examples (docs/sparsity.md) */

START_TEST(test_nm_example)
{
	Fix f = fix_new(2, 6, false, 0.0);
	const float x[12] = {0.1f, -3, 2, 0.5f, 1, -1, /**/ 0, 0, 4, 0, 0, 0};
	memcpy(f.w->data, x, sizeof x);
	Encoding e = enc_of("nm(2,4)");
	ck_assert(!sparse_fits(f.w->data, &f.view, &e));
	double dropped = sparse_project(f.w->data, &f.view, &e);
	ck_assert(fabs(dropped - (0.01 + 0.25)) < 1e-6);
	const float want[12] = {0, -3, 2, 0, 1, -1, 0, 0, 4, 0, 0, 0};
	ck_assert(same(f.w->data, want, 12));
	ck_assert(sparse_fits(f.w->data, &f.view, &e));
	Diag d = {0};
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	const SparseData *s = f.w->sparse;
	ck_assert_int_eq(s->u.nm.groups, 2);
	ck_assert_int_eq(s->stored, 8);
	/* row 0: group 0 keeps offsets 1, 2; group 1 (columns 4, 5; 6, 7 virtual) offsets 0, 1 */
	const uint8_t off[8] = {1, 2, 0, 1, /**/ 0, 2, 0, 1};
	const float val[8] = {-3, 2, 1, -1, /**/ 0, 4, 0, 0};
	ck_assert(memcmp(s->u.nm.off, off, 8) == 0);
	ck_assert(same(s->u.nm.val, val, 8));
	ck_assert_int_eq(sparse_nnz(s), 5);
	float *dec = decoded(f.w, 12);
	ck_assert(same(dec, want, 12));
	free(dec);
	graph_free(f.g);
}
END_TEST

START_TEST(test_tasd_example)
{
	Fix f = fix_new(1, 8, false, 0.0);
	const float x[8] = {5, 0, -1, 2, 0, 0, 3, 0.5f};
	memcpy(f.w->data, x, sizeof x);
	Encoding e1 = enc_of("tasd[(1,4)]"), e2 = enc_of("tasd[(1,4),(1,4)]"), e3 = enc_of("tasd[(1,4),(1,4),(1,4)]");
	ck_assert(!sparse_fits(f.w->data, &f.view, &e2));
	ck_assert(sparse_fits(f.w->data, &f.view, &e3));
	float a[8], b[8];
	memcpy(a, x, sizeof x);
	memcpy(b, x, sizeof x);
	double d1 = sparse_project(a, &f.view, &e1), d2 = sparse_project(b, &f.view, &e2);
	ck_assert(fabs(d1 - (1 + 4 + 0.25)) < 1e-6);
	ck_assert(fabs(d2 - 1) < 1e-6);
	Diag d = {0};
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e3, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(f.w->sparse->u.tasd.nterms, 3);
	ck_assert_int_eq(f.w->sparse->stored, 6);
	float *dec = decoded(f.w, 8);
	ck_assert(same(dec, x, 8));
	free(dec);
	/* the first term: 5 and 3 */
	const SparseData *t0 = f.w->sparse->u.tasd.term[0];
	ck_assert(t0->u.nm.off[0] == 0 && t0->u.nm.val[0] == 5 && t0->u.nm.off[1] == 2 && t0->u.nm.val[1] == 3);
	/* too few terms: an error naming the value */
	ck_assert(sparse_attach(f.g, f.w, &f.view, &e2, &d) < 0);
	ck_assert_msg(strstr(d.msg, "'w' does not fit tasd[(1,4),(1,4)]") != NULL, "%s", d.msg);
	graph_free(f.g);
}
END_TEST

START_TEST(test_bsr_csr_example)
{
	Fix f = fix_new(3, 5, false, 0.0);
	const float x[15] = {1, 2, 0, 0, 0, /**/ 0, 0, 0, 0, 3, /**/ 0, 0, 0, 0, 0};
	memcpy(f.w->data, x, sizeof x);
	Diag d = {0};
	Encoding e = enc_of("bsr(2,2)");
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	const SparseData *s = f.w->sparse;
	ck_assert(s->u.bsr.brows == 2 && s->u.bsr.bcols == 3);
	ck_assert(s->u.bsr.row_ptr[0] == 0 && s->u.bsr.row_ptr[1] == 2 && s->u.bsr.row_ptr[2] == 2);
	ck_assert(s->u.bsr.col[0] == 0 && s->u.bsr.col[1] == 2);
	const float val[8] = {1, 2, 0, 0, /**/ 0, 0, 3, 0};
	ck_assert(same(s->u.bsr.val, val, 8));
	float *dec = decoded(f.w, 15);
	ck_assert(same(dec, x, 15));
	free(dec);
	e = enc_of("csr");
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	s = f.w->sparse;
	ck_assert(s->stored == 3 && s->u.csr.row_ptr[1] == 2 && s->u.csr.row_ptr[3] == 3 && s->u.csr.col[2] == 4);
	e = enc_of("dense");
	ck_assert(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0);
	ck_assert_ptr_null(f.w->sparse);
	ck_assert_int_eq(f.w->enc.kind, ENC_DENSE);
	graph_free(f.g);
}
END_TEST

START_TEST(test_gs_example)
{
	/* 3 rows (a partial group of 2 after the first 2... with V = 2), 6 columns, 2 banks:
	 * row 0 {0, 2}, row 1 {1}, row 2 {4, 5} */
	Fix f = fix_new(3, 6, false, 0.0);
	const float x[18] = {1, 0, 2, 0, 0, 0, /**/ 0, 3, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 4, 5};
	memcpy(f.w->data, x, sizeof x);
	Diag d = {0};
	Encoding e = enc_of("gs(2,2)");
	ck_assert(sparse_fits(f.w->data, &f.view, &e));
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	const SparseData *s = f.w->sparse;
	ck_assert_int_eq(s->u.gs.ngroups, 2);
	/* group 0: two steps of two lanes; group 1: one lane, two steps */
	ck_assert(s->u.gs.ptr[0] == 0 && s->u.gs.ptr[1] == 4 && s->u.gs.ptr[2] == 6);
	float *dec = decoded(f.w, 18);
	ck_assert(same(dec, x, 18));
	free(dec);
	graph_free(f.g);
}
END_TEST

/* ---------------------------------------------------------------- pattern checks on packs */

/* nm: N strictly increasing offsets per group; no non-zero outside the pattern */
static void check_nm_pack(const SparseData *s, int64_t rows, int64_t cols)
{
	int n = s->enc.u.nm.n, m = s->enc.u.nm.m;
	ck_assert_int_eq(s->u.nm.groups, (cols + m - 1) / m);
	ck_assert_int_eq(s->stored, rows * s->u.nm.groups * n);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t g = 0; g < s->u.nm.groups; g++) {
			const uint8_t *off = s->u.nm.off + (r * s->u.nm.groups + g) * n;
			const float *val = s->u.nm.val + (r * s->u.nm.groups + g) * n;
			for (int j = 0; j < n; j++) {
				ck_assert_int_lt(off[j], m);
				if (j)
					ck_assert_int_lt(off[j - 1], off[j]);
				if (g * m + off[j] >= cols)
					ck_assert(val[j] == 0.0f);
			}
		}
}

/* gs: per group K steps of `lanes` slots, the slots of a step in distinct banks, each lane's
 * columns distinct */
static void check_gs_pack(const SparseData *s, int64_t rows, int64_t cols)
{
	int v = s->enc.u.gs.v, b = s->enc.u.gs.b;
	ck_assert_int_eq(s->u.gs.ngroups, (rows + v - 1) / v);
	bool *bank = calloc((size_t)b, 1), *usedc = calloc((size_t)(v * cols), 1);
	for (int64_t g = 0; g < s->u.gs.ngroups; g++) {
		int64_t lanes = rows - g * v < v ? rows - g * v : v, n = s->u.gs.ptr[g + 1] - s->u.gs.ptr[g];
		ck_assert_int_eq(n % lanes, 0); /* equal counts per row */
		memset(usedc, 0, (size_t)(v * cols));
		for (int64_t st = 0; st < n / lanes; st++) {
			memset(bank, 0, (size_t)b);
			for (int64_t l = 0; l < lanes; l++) {
				int32_t c = s->u.gs.col[s->u.gs.ptr[g] + st * lanes + l];
				ck_assert(c >= 0 && c < cols);
				ck_assert_msg(!bank[c % b], "bank conflict in group %lld step %lld", (long long)g, (long long)st);
				bank[c % b] = true;
				ck_assert(!usedc[l * cols + c]);
				usedc[l * cols + c] = true;
			}
		}
	}
	free(bank);
	free(usedc);
}

static void check_bsr_pack(const SparseData *s, int64_t rows, int64_t cols)
{
	int64_t br = s->enc.u.bsr.r, bc = s->enc.u.bsr.c;
	ck_assert_int_eq(s->u.bsr.brows, (rows + br - 1) / br);
	ck_assert_int_eq(s->u.bsr.bcols, (cols + bc - 1) / bc);
	for (int64_t i = 0; i < s->u.bsr.brows; i++)
		for (int64_t k = s->u.bsr.row_ptr[i]; k < s->u.bsr.row_ptr[i + 1]; k++) {
			ck_assert(s->u.bsr.col[k] >= 0 && s->u.bsr.col[k] < s->u.bsr.bcols);
			if (k > s->u.bsr.row_ptr[i])
				ck_assert_int_lt(s->u.bsr.col[k - 1], s->u.bsr.col[k]);
			/* a stored block holds a non-zero; its virtual padding is zero */
			bool nz = false;
			for (int64_t y = 0; y < br; y++)
				for (int64_t x = 0; x < bc; x++) {
					float val = s->u.bsr.val[(k * br + y) * bc + x];
					nz |= val != 0.0f;
					if (i * br + y >= rows || s->u.bsr.col[k] * bc + x >= cols)
						ck_assert(val == 0.0f);
				}
			ck_assert(nz);
		}
}

static void check_pack(const SparseData *s, int64_t rows, int64_t cols)
{
	ck_assert(s->view.rows == rows && s->view.cols == cols);
	switch (s->enc.kind) {
	case ENC_NM: check_nm_pack(s, rows, cols); break;
	case ENC_GS: check_gs_pack(s, rows, cols); break;
	case ENC_BSR: check_bsr_pack(s, rows, cols); break;
	case ENC_TASD:
		for (int t = 0; t < s->u.tasd.nterms; t++) {
			ck_assert_int_eq(s->u.tasd.term[t]->enc.kind, ENC_NM);
			ck_assert_int_eq(s->u.tasd.term[t]->enc.u.nm.n, s->enc.u.tasd.term[t].n);
			check_nm_pack(s->u.tasd.term[t], rows, cols);
		}
		break;
	case ENC_CSR:
		for (int64_t r = 0; r < rows; r++)
			for (int64_t k = s->u.csr.row_ptr[r]; k < s->u.csr.row_ptr[r + 1]; k++) {
				ck_assert(s->u.csr.val[k] != 0.0f);
				if (k > s->u.csr.row_ptr[r])
					ck_assert_int_lt(s->u.csr.col[k - 1], s->u.csr.col[k]);
			}
		break;
	case ENC_DENSE: break;
	}
}

/* ---------------------------------------------------------------- properties */

static Encoding random_encoding(int64_t rows, int64_t cols)
{
	static const int ms[] = {1, 2, 3, 4, 8, 16, 32, 64, 128, 256};
	Encoding e;
	memset(&e, 0, sizeof e);
	(void)rows;
	(void)cols;
	switch (test_irand(0, 4)) {
	case 0: e.kind = ENC_CSR; break;
	case 1:
		e.kind = ENC_BSR;
		e.u.bsr.r = (int)test_irand(1, 8);
		e.u.bsr.c = (int)test_irand(1, 8);
		break;
	case 2:
		e.kind = ENC_NM;
		e.u.nm.m = ms[test_irand(0, 9)];
		e.u.nm.n = (int)test_irand(1, e.u.nm.m);
		break;
	case 3:
		e.kind = ENC_GS;
		e.u.gs.v = (int)test_irand(1, 9);
		e.u.gs.b = (int)test_irand(1, 12);
		break;
	default:
		e.kind = ENC_TASD;
		e.u.tasd.nterms = (int)test_irand(1, NNZC_MAX_TASD_TERMS);
		for (int t = 0; t < e.u.tasd.nterms; t++) {
			e.u.tasd.term[t].m = ms[test_irand(1, 9)];
			int half = e.u.tasd.term[t].m / 2;
			e.u.tasd.term[t].n = (int)test_irand(1, half > 0 ? half : 1);
		}
		break;
	}
	return e;
}

/* project, then fits; attach; the pack satisfies its pattern; decode gives the data back;
 * projecting again drops nothing */
START_TEST(test_project_fits_attach)
{
	test_seed(1000 + (uint64_t)_i, 1);
	int64_t rows = test_irand(1, 40), cols = test_irand(1, 300);
	Fix f = fix_random(rows, cols, (double)test_irand(0, 95) / 100.0);
	Encoding e = random_encoding(rows, cols);
	Diag d = {0};
	if (e.kind == ENC_BSR && (e.u.bsr.r > rows || e.u.bsr.c > cols)) {
		/* blocks larger than the matrix: not an encoding of it */
		ck_assert(!sparse_fits(f.w->data, &f.view, &e));
		ck_assert(sparse_project(f.w->data, &f.view, &e) == 0.0);
		ck_assert(sparse_attach(f.g, f.w, &f.view, &e, &d) < 0);
		ck_assert_msg(strstr(d.msg, "blocks larger than the matrix") != NULL, "%s", d.msg);
		graph_free(f.g);
		return;
	}
	float *orig = malloc((size_t)f.n * sizeof *orig);
	memcpy(orig, f.w->data, (size_t)f.n * sizeof *orig);
	double dropped = sparse_project(f.w->data, &f.view, &e);
	ck_assert(dropped >= 0.0);
	/* dropped is exactly what changed, and only to zero */
	double diff = 0.0;
	for (int64_t i = 0; i < f.n; i++) {
		float now = ((float *)f.w->data)[i];
		ck_assert(now == orig[i] || now == 0.0f);
		diff += (double)(orig[i] - now) * (double)(orig[i] - now);
	}
	ck_assert_msg(fabs(diff - dropped) <= 1e-9 + 1e-9 * diff, "dropped %g, changed %g", dropped, diff);
	if (e.kind == ENC_CSR || e.kind == ENC_BSR)
		ck_assert(dropped == 0.0);
	ck_assert(sparse_fits(f.w->data, &f.view, &e));
	memcpy(orig, f.w->data, (size_t)f.n * sizeof *orig);
	ck_assert(sparse_project(f.w->data, &f.view, &e) == 0.0);
	ck_assert(same(orig, f.w->data, f.n));
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	check_pack(f.w->sparse, rows, cols);
	float *dec = decoded(f.w, f.n);
	ck_assert(same(dec, f.w->data, f.n));
	free(dec);
	free(orig);
	graph_free(f.g);
}
END_TEST

/* nm: after projection no group holds more than N non-zeros, and the kept ones are the largest */
START_TEST(test_nm_project_pattern)
{
	test_seed(5000 + (uint64_t)_i, 1);
	static const int ms[] = {2, 4, 8, 16, 32, 64, 128, 256};
	int64_t rows = test_irand(1, 12), cols = test_irand(1, 600);
	Fix f = fix_random(rows, cols, (double)test_irand(0, 60) / 100.0);
	Encoding e = {.kind = ENC_NM};
	e.u.nm.m = ms[test_irand(0, 7)];
	e.u.nm.n = (int)test_irand(1, e.u.nm.m);
	float *orig = malloc((size_t)f.n * sizeof *orig);
	memcpy(orig, f.w->data, (size_t)f.n * sizeof *orig);
	sparse_project(f.w->data, &f.view, &e);
	const float *w = f.w->data;
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c0 = 0; c0 < cols; c0 += e.u.nm.m) {
			int k = 0;
			float kept_min = INFINITY, dropped_max = 0.0f;
			for (int64_t c = c0; c < c0 + e.u.nm.m && c < cols; c++) {
				int64_t at = weight_view_offset(&f.view, r, c);
				if (w[at] != 0.0f) {
					k++;
					kept_min = fminf(kept_min, fabsf(w[at]));
				} else {
					dropped_max = fmaxf(dropped_max, fabsf(orig[at]));
				}
			}
			ck_assert_int_le(k, e.u.nm.n);
			if (k == e.u.nm.n)
				ck_assert(dropped_max <= kept_min);
		}
	free(orig);
	graph_free(f.g);
}
END_TEST

/* A tensor that already fits the first term of a series is exact under the whole series, and
 * the later terms are empty. */
START_TEST(test_tasd_exact_when_first_fits)
{
	test_seed(6000 + (uint64_t)_i, 1);
	static const int ms[] = {2, 4, 8, 16, 32, 64, 128, 256};
	int64_t rows = test_irand(1, 16), cols = test_irand(1, 400);
	Fix f = fix_random(rows, cols, (double)test_irand(0, 50) / 100.0);
	Encoding e = {.kind = ENC_TASD};
	e.u.tasd.nterms = (int)test_irand(1, NNZC_MAX_TASD_TERMS);
	for (int t = 0; t < e.u.tasd.nterms; t++) {
		e.u.tasd.term[t].m = ms[test_irand(0, 7)];
		e.u.tasd.term[t].n = (int)test_irand(1, e.u.tasd.term[t].m);
	}
	Encoding first = {.kind = ENC_NM};
	first.u.nm.n = e.u.tasd.term[0].n;
	first.u.nm.m = e.u.tasd.term[0].m;
	sparse_project(f.w->data, &f.view, &first);
	ck_assert(sparse_fits(f.w->data, &f.view, &e));
	float *before = malloc((size_t)f.n * sizeof *before);
	memcpy(before, f.w->data, (size_t)f.n * sizeof *before);
	ck_assert(sparse_project(f.w->data, &f.view, &e) == 0.0);
	ck_assert(same(before, f.w->data, f.n));
	Diag d = {0};
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	for (int t = 1; t < e.u.tasd.nterms; t++)
		ck_assert_int_eq(sparse_nnz(f.w->sparse->u.tasd.term[t]), 0);
	float *dec = decoded(f.w, f.n);
	ck_assert(same(dec, before, f.n));
	free(dec);
	free(before);
	graph_free(f.g);
}
END_TEST

/* Adding a term never increases the error, and the error is what the first k terms leave. */
START_TEST(test_tasd_more_terms_no_worse)
{
	test_seed(7000 + (uint64_t)_i, 1);
	static const int ms[] = {2, 4, 8, 16, 32, 64, 128, 256};
	int64_t rows = test_irand(1, 16), cols = test_irand(1, 400);
	Fix f = fix_random(rows, cols, (double)test_irand(0, 50) / 100.0);
	Encoding e = {.kind = ENC_TASD};
	e.u.tasd.nterms = NNZC_MAX_TASD_TERMS;
	for (int t = 0; t < NNZC_MAX_TASD_TERMS; t++) {
		e.u.tasd.term[t].m = ms[test_irand(0, 7)];
		e.u.tasd.term[t].n = (int)test_irand(1, e.u.tasd.term[t].m / 2 > 0 ? e.u.tasd.term[t].m / 2 : 1);
	}
	float *x = malloc((size_t)f.n * sizeof *x);
	double prev = INFINITY, total = 0.0;
	for (int64_t i = 0; i < f.n; i++)
		total += (double)((float *)f.w->data)[i] * ((float *)f.w->data)[i];
	for (int k = 1; k <= NNZC_MAX_TASD_TERMS; k++) {
		Encoding ek = e;
		ek.u.tasd.nterms = k;
		memcpy(x, f.w->data, (size_t)f.n * sizeof *x);
		double err = sparse_project(x, &f.view, &ek);
		ck_assert(err >= 0.0 && err <= total * (1 + 1e-12));
		ck_assert_msg(err <= prev, "%d terms: error %g after %g", k, err, prev);
		prev = err;
	}
	free(x);
	graph_free(f.g);
}
END_TEST

/* gs: every lane of a group holds the same number of slots (rows with fewer non-zeros are
 * padded), V and B not dividing rows and columns. A group whose non-zeros sit in distinct banks
 * never needs a drop, however unequal its rows. */
START_TEST(test_gs_balanced)
{
	test_seed(8000 + (uint64_t)_i, 1);
	int v = (int)test_irand(1, 8), b = (int)test_irand(v, 16);
	int64_t rows = test_irand(1, 30), cols = test_irand(2 * b, 200);
	Fix f = fix_new(rows, cols, false, 1.0);
	float *w = f.w->data;
	for (int64_t r0 = 0; r0 < rows; r0 += v)
		for (int bk = 0; bk < b; bk++) {
			int64_t nc = (cols - bk + b - 1) / b, lanes = rows - r0 < v ? rows - r0 : v;
			if (test_irand(0, 3) == 0) /* the bank stays empty */
				continue;
			int64_t r = r0 + test_irand(0, lanes - 1);
			w[r * cols + bk + b * test_irand(0, nc - 1)] = test_frand() + 2.0f;
		}
	Encoding e = {.kind = ENC_GS};
	e.u.gs.v = v;
	e.u.gs.b = b;
	ck_assert(sparse_fits(w, &f.view, &e));
	Diag d = {0};
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	check_pack(f.w->sparse, rows, cols);
	float *dec = decoded(f.w, f.n);
	ck_assert(same(dec, w, f.n));
	free(dec);
	graph_free(f.g);
}
END_TEST

/* Few banks for the lanes (B < 2V), at most half dense, at least two columns per bank: packs
 * with nothing dropped, in at least the largest row or bank load of each group (the fewest steps
 * possible) and at most 3 more (what the padding's columns may force). */
START_TEST(test_gs_tight_optimal)
{
	test_seed(9000 + (uint64_t)_i, 1);
	int v = (int)test_irand(1, 16), b = (int)test_irand(v, 2 * v - 1 > v ? 2 * v - 1 : v);
	int64_t rows = test_irand(1, 40), cols = test_irand(2 * b, 300);
	Fix f = fix_random(rows, cols, (double)test_irand(50, 100) / 100.0);
	Encoding e = {.kind = ENC_GS};
	e.u.gs.v = v;
	e.u.gs.b = b;
	ck_assert_msg(sparse_fits(f.w->data, &f.view, &e), "v=%d b=%d rows=%lld cols=%lld", v, b, (long long)rows,
		      (long long)cols);
	Diag d = {0};
	ck_assert_msg(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0, "%s", d.msg);
	const SparseData *s = f.w->sparse;
	check_pack(s, rows, cols);
	const float *w = f.w->data;
	int *load = calloc((size_t)b, sizeof *load);
	for (int64_t g = 0; g < s->u.gs.ngroups; g++) {
		int64_t lanes = rows - g * v < v ? rows - g * v : v, bound = 0;
		memset(load, 0, (size_t)b * sizeof *load);
		for (int64_t l = 0; l < lanes; l++) {
			int64_t k = 0;
			for (int64_t c = 0; c < cols; c++)
				if (w[weight_view_offset(&f.view, g * v + l, c)] != 0.0f) {
					k++;
					load[c % b]++;
				}
			bound = k > bound ? k : bound;
		}
		for (int bk = 0; bk < b; bk++)
			bound = load[bk] > bound ? load[bk] : bound;
		int64_t k = (s->u.gs.ptr[g + 1] - s->u.gs.ptr[g]) / lanes;
		ck_assert(k >= bound && k <= bound + 3);
	}
	free(load);
	float *dec = decoded(f.w, f.n);
	ck_assert(same(dec, w, f.n));
	free(dec);
	graph_free(f.g);
}
END_TEST

/* More lanes than banks: no step can be conflict-free, so the group holds nothing. */
START_TEST(test_gs_more_lanes_than_banks)
{
	Fix f = fix_new(4, 8, false, 0.0);
	Encoding e = {.kind = ENC_GS};
	e.u.gs.v = 4;
	e.u.gs.b = 2;
	ck_assert(!sparse_fits(f.w->data, &f.view, &e));
	double total = 0.0;
	for (int64_t i = 0; i < f.n; i++)
		total += (double)((float *)f.w->data)[i] * ((float *)f.w->data)[i];
	ck_assert(fabs(sparse_project(f.w->data, &f.view, &e) - total) < 1e-9 * total);
	ck_assert(sparse_fits(f.w->data, &f.view, &e));
	Diag d = {0};
	ck_assert(sparse_attach(f.g, f.w, &f.view, &e, &d) == 0);
	ck_assert_int_eq(f.w->sparse->stored, 0);
	graph_free(f.g);
}
END_TEST

/* Bad parameters fit nothing and project nothing; attach says why. */
START_TEST(test_bad_params)
{
	Fix f = fix_new(2, 8, false, 0.0);
	Encoding e = {.kind = ENC_NM};
	e.u.nm.n = 2;
	e.u.nm.m = 512; /* offsets are bytes */
	ck_assert(!sparse_fits(f.w->data, &f.view, &e));
	ck_assert(sparse_project(f.w->data, &f.view, &e) == 0.0);
	Diag d = {0};
	ck_assert(sparse_attach(f.g, f.w, &f.view, &e, &d) < 0);
	WeightView wrong = {3, 8, 8, 1, 8, 0};
	e = enc_of("csr");
	diag_clear(&d);
	ck_assert(sparse_attach(f.g, f.w, &wrong, &e, &d) < 0);
	ck_assert_msg(strstr(d.msg, "3 x 8 matrix view of 16 elements") != NULL, "%s", d.msg);
	graph_free(f.g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sparse");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_views);
	tcase_add_test(tc, test_conv_nm_along_channels);
	tcase_add_loop_test(tc, test_conv_project_along_channels, 0, 40);
	tcase_add_test(tc, test_nm_example);
	tcase_add_test(tc, test_tasd_example);
	tcase_add_test(tc, test_bsr_csr_example);
	tcase_add_test(tc, test_gs_example);
	tcase_add_loop_test(tc, test_project_fits_attach, 0, 400);
	tcase_add_loop_test(tc, test_nm_project_pattern, 0, 200);
	tcase_add_loop_test(tc, test_tasd_exact_when_first_fits, 0, 200);
	tcase_add_loop_test(tc, test_tasd_more_terms_no_worse, 0, 200);
	tcase_add_loop_test(tc, test_gs_balanced, 0, 200);
	tcase_add_loop_test(tc, test_gs_tight_optimal, 0, 300);
	tcase_add_test(tc, test_gs_more_lanes_than_banks);
	tcase_add_test(tc, test_bad_params);
	suite_add_tcase(s, tc);
	return s;
}

/* ~1,500 property-test iterations: a fork each costs minutes under the sanitizers, and these
 * tests share no state that a crash could corrupt for the next one */
int main(void) { return run_suite_fork(suite(), CK_NOFORK); }
