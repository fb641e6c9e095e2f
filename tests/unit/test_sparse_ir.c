/* Encoded weights in the IR: the verifier's checks of packed forms, the text IR round trip
 * (a dump with payloads packs again on parsing; the errors when it cannot), the
 * detect-sparsity pass on hand-made weights, Conv weights pruned along their input channels
 * (detected, and pruned), and value_alloc_payload dropping a stale pack. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static void seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 3; }

static uint64_t next(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return rng_state >> 17;
}

static float frand(void) { return (float)((double)(next() % 2000001) / 1000000.0 - 1.0) + 0.001f; }

static char *dump(const Graph *g, int64_t elide_above)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	PrintOptions o = {elide_above};
	graph_print(g, f, &o);
	fclose(f);
	return buf;
}

/* Two weights: conv(x[1,8,6,6], w[8,8,3,3], pads 1) and gemm(a[2,24], b[16,24], transB=1). */
typedef struct Net {
	Graph *g;
	Value *x, *a, *w, *b;
	Node *conv, *gemm;
} Net;

static Net net_new(void)
{
	Net t;
	Diag d = {0};
	t.g = graph_new("net");
	t.g->opset = 17;
	Shape sx = shape_make(4, (int64_t[]){1, 8, 6, 6}), sw = shape_make(4, (int64_t[]){8, 8, 3, 3});
	Shape sa = shape_make(2, (int64_t[]){2, 24}), sb = shape_make(2, (int64_t[]){16, 24});
	t.x = graph_add_value(t.g, "x", DT_F32, &sx);
	t.a = graph_add_value(t.g, "a", DT_F32, &sa);
	graph_add_input(t.g, t.x);
	graph_add_input(t.g, t.a);
	t.w = graph_add_constant(t.g, "w", DT_F32, &sw, &d);
	t.b = graph_add_constant(t.g, "b", DT_F32, &sb, &d);
	float *pw = t.w->data, *pb = t.b->data;
	for (int i = 0; i < 8 * 8 * 9; i++)
		pw[i] = frand();
	for (int i = 0; i < 16 * 24; i++)
		pb[i] = frand();
	t.conv = graph_add_node(t.g, OP_Conv, "conv", 2, (Value *[]){t.x, t.w}, 1);
	t.conv->attr.conv.pads = (Ints){4, {1, 1, 1, 1}};
	t.gemm = graph_add_node(t.g, OP_Gemm, "gemm", 2, (Value *[]){t.a, t.b}, 1);
	t.gemm->attr.gemm.trans_b = 1;
	graph_add_output(t.g, t.conv->out[0]);
	graph_add_output(t.g, t.gemm->out[0]);
	ck_assert_msg(pass_shape_infer(t.g, NULL, &d) == 0, "%s", d.msg);
	return t;
}

static void encode(Net *t, Value *v, const Node *n, const char *spec)
{
	Diag d = {0};
	Encoding e;
	WeightView view;
	ck_assert(encoding_parse(spec, &e, NULL, &d) == 0);
	ck_assert(weight_view(n, 1, &view));
	ck_assert(sparse_project(v->data, &view, &e) >= 0.0);
	ck_assert_msg(sparse_attach(t->g, v, &view, &e, &d) == 0, "%s", d.msg);
}

/* ---------------------------------------------------------------- verifier */

START_TEST(test_verify_packed)
{
	Diag d = {0};
	seed(1);
	Net t = net_new();
	encode(&t, t.w, t.conv, "nm(2,4)");
	encode(&t, t.b, t.gemm, "gs(4,8)");
	ck_assert_msg(graph_verify(t.g, &d) == 0, "%s", d.msg);
	/* a payload changed behind the pack's back */
	float *pw = t.w->data, old = pw[0] == 0.0f ? pw[1] : pw[0];
	int at = pw[0] == 0.0f ? 1 : 0;
	pw[at] = old + 1.0f;
	ck_assert(graph_verify(t.g, &d) < 0);
	ck_assert_msg(strstr(d.msg, "value 'w': its packed form decodes to") != NULL, "%s", d.msg);
	pw[at] = old;
	diag_clear(&d);
	ck_assert(graph_verify(t.g, &d) == 0);
	/* an encoding without a pack */
	const SparseData *keep = t.w->sparse;
	t.w->sparse = NULL;
	ck_assert(graph_verify(t.g, &d) < 0);
	ck_assert_msg(strstr(d.msg, "constant 'w' is encoded but has no packed form") != NULL, "%s", d.msg);
	t.w->sparse = keep;
	/* the encoding changed, the pack did not */
	diag_clear(&d);
	t.w->enc.u.nm.m = 8;
	ck_assert(graph_verify(t.g, &d) < 0);
	ck_assert_msg(strstr(d.msg, "another encoding") != NULL, "%s", d.msg);
	t.w->enc.u.nm.m = 4;
	/* the node reads the weight as another matrix than it was packed for */
	diag_clear(&d);
	t.gemm->attr.gemm.trans_b = 0;
	ck_assert(graph_verify(t.g, &d) < 0);
	ck_assert_msg(strstr(d.msg, "node 'gemm' (Gemm): weight 'b' was packed for another matrix view") != NULL, "%s",
		      d.msg);
	t.gemm->attr.gemm.trans_b = 1;
	/* without a payload (elided) an encoding is fine */
	diag_clear(&d);
	static const ElidedPayload el = {.crc32 = 5, .nnz = 3};
	t.w->sparse = NULL;
	t.w->data = NULL;
	t.w->elided = &el;
	ck_assert_msg(graph_verify(t.g, &d) == 0, "%s", d.msg);
	graph_free(t.g);
}
END_TEST

/* ---------------------------------------------------------------- text IR */

START_TEST(test_text_roundtrip)
{
	static const char *const specs[][2] = {
		{"csr", "bsr(2,3)"}, {"nm(1,4)", "nm(3,8)"}, {"gs(2,4)", "gs(4,4)"},
		{"tasd[(2,4),(1,4)]", "tasd[(1,8)]"}, {"bsr(4,1)", "csr"}, {"nm(4,128)", "tasd[(2,8),(1,8),(1,8)]"},
	};
	for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
		Diag d = {0};
		seed(10 + k);
		Net t = net_new();
		encode(&t, t.w, t.conv, specs[k][0]);
		encode(&t, t.b, t.gemm, specs[k][1]);
		char *text = dump(t.g, -1);
		Graph *g2 = graph_parse(text, "rt", &d);
		ck_assert_msg(g2 != NULL, "%s: %s", specs[k][0], d.msg);
		char *again = dump(g2, -1);
		ck_assert_str_eq(text, again);
		/* the packs are rebuilt identically: same stored size, same decode, same results */
		for (int i = 0; i < 2; i++) {
			const Value *v1 = i ? t.b : t.w, *v2 = graph_find_value(g2, v1->name);
			ck_assert_ptr_nonnull(v2->sparse);
			ck_assert_int_eq(v1->sparse->stored, v2->sparse->stored);
		}
		Tensor in[2], o1[2], o2[2];
		for (int i = 0; i < 2; i++) {
			ck_assert(tensor_alloc(&in[i], DT_F32, &t.g->inputs[i]->shape, &d) == 0);
			float *p = in[i].data;
			for (int64_t j = 0; j < tensor_numel(&in[i]); j++)
				p[j] = frand();
		}
		ck_assert_msg(ref_run(t.g, in, o1, &d) == 0, "%s", d.msg);
		ck_assert_msg(ref_run(g2, in, o2, &d) == 0, "%s", d.msg);
		for (int i = 0; i < 2; i++) {
			ck_assert(memcmp(o1[i].data, o2[i].data, tensor_nbytes(&o1[i])) == 0);
			tensor_free(&o1[i]);
			tensor_free(&o2[i]);
			tensor_free(&in[i]);
		}
		free(text);
		free(again);
		graph_free(g2);
		graph_free(t.g);
	}
}
END_TEST

#define HDR "graph \"t\" opset 17 {\n  input %a: f32[2,4]\n"

static const struct {
	const char *text, *error;
} parse_errors[] = {
	/* no node reads it as a weight */
	{HDR "  const %k: f32[2,4] csr nnz=2 (25.0%) = [1, 0, 0, 0, 0, 0, 2, 0]\n"
	     "  add = Add(%a, %k) -> %y: f32[2,4]\n  output %y\n}\n",
	 "t.ir:3:9: constant 'k' is encoded but no Conv, Gemm or MatMul reads it as its weight"},
	/* two weights reading it as different matrices */
	{HDR "  const %k: f32[4,4] csr nnz=2 (12.5%) = [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
	     "  g1 = Gemm(%a, %k) -> %y: f32[2,4]\n  g2 = Gemm(%a, %k) {transB=1} -> %z: f32[2,4]\n"
	     "  output %y\n  output %z\n}\n",
	 "t.ir:3:9: encoded constant 'k' is the weight of 'g1' and 'g2', which read it as different matrices"},
	/* values that do not fit the encoding */
	{HDR "  const %k: f32[4,4] nm(1,4) nnz=3 (18.8%) = [1, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0]\n"
	     "  g1 = Gemm(%a, %k) -> %y: f32[2,4]\n  output %y\n}\n",
	 "t.ir:3:9: 'k' does not fit nm(1,4): encoding it would change values"},
	/* an integer constant cannot be a weight */
	{HDR "  const %k: i64[2] csr nnz=1 (50.0%) = [1, 0]\n  output %a\n}\n",
	 "t.ir:3:9: constant 'k' is encoded but no Conv, Gemm or MatMul reads it as its weight"},
};

START_TEST(test_parse_errors)
{
	Diag d = {0};
	Graph *g = graph_parse(parse_errors[_i].text, "t.ir", &d);
	ck_assert_ptr_null(g);
	ck_assert_str_eq(d.msg, parse_errors[_i].error);
}
END_TEST

/* The same weight read the same way by two nodes packs once and is fine. */
START_TEST(test_parse_shared_weight)
{
	static const char text[] =
		HDR "  const %k: f32[4,4] csr nnz=2 (12.5%) = [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
		"  g1 = Gemm(%a, %k) -> %y: f32[2,4]\n  m1 = MatMul(%a, %k) -> %z: f32[2,4]\n"
		"  output %y\n  output %z\n}\n";
	Diag d = {0};
	Graph *g = graph_parse(text, "t.ir", &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	ck_assert_ptr_nonnull(graph_find_value(g, "k")->sparse);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- detect-sparsity */

static const char *enc_name(const Value *v, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	encoding_print(&v->enc, f);
	fclose(f);
	return buf;
}

/* Run the pass on a Gemm weight b[16, cols] (transB=1) prepared by `make`. */
static void detect_case(void (*make)(float *w, int64_t rows, int64_t cols), int64_t cols, const char *want)
{
	Diag d = {0};
	Graph *g = graph_new("d");
	Shape sa = shape_make(2, (int64_t[]){1, cols}), sb = shape_make(2, (int64_t[]){16, cols});
	Value *a = graph_add_value(g, "a", DT_F32, &sa);
	graph_add_input(g, a);
	Value *b = graph_add_constant(g, "b", DT_F32, &sb, &d);
	make(b->data, 16, cols);
	float *orig = malloc((size_t)(16 * cols) * sizeof *orig);
	memcpy(orig, b->data, (size_t)(16 * cols) * sizeof *orig);
	Node *n = graph_add_node(g, OP_Gemm, "fc", 2, (Value *[]){a, b}, 1);
	n->attr.gemm.trans_b = 1;
	graph_add_output(g, n->out[0]);
	ck_assert(pass_shape_infer(g, NULL, &d) == 0);
	ck_assert_msg(pass_detect_sparsity(g, NULL, &d) == 0, "%s", d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
	char buf[64];
	ck_assert_msg(strcmp(enc_name(b, buf, sizeof buf), want) == 0, "found %s, want %s", buf, want);
	ck_assert(memcmp(orig, b->data, (size_t)(16 * cols) * sizeof *orig) == 0); /* no value changed */
	ck_assert_int_eq(g->n_remarks, 1);
	ck_assert_str_eq(g->remarks[0].pass, "detect-sparsity");
	ck_assert_str_eq(g->remarks[0].node, "fc");
	free(orig);
	graph_free(g);
}

static void make_dense(float *w, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows * cols; i++)
		w[i] = frand();
}

/* n of every m along rows, at random positions */
static void make_nm(float *w, int64_t rows, int64_t cols, int n, int m)
{
	memset(w, 0, (size_t)(rows * cols) * sizeof *w);
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c0 = 0; c0 < cols; c0 += m)
			for (int k = 0; k < n;) {
				int64_t c = c0 + (int64_t)(next() % (uint64_t)m);
				if (c < cols && w[r * cols + c] == 0.0f) {
					w[r * cols + c] = frand();
					k++;
				} else if (c >= cols) {
					break;
				}
			}
}

static void make_24(float *w, int64_t rows, int64_t cols) { make_nm(w, rows, cols, 2, 4); }
static void make_18(float *w, int64_t rows, int64_t cols) { make_nm(w, rows, cols, 1, 8); }
static void make_4_128(float *w, int64_t rows, int64_t cols) { make_nm(w, rows, cols, 4, 128); }

static void make_unstructured90(float *w, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows * cols; i++)
		w[i] = next() % 10 == 0 ? frand() : 0.0f;
}

static void make_unstructured30(float *w, int64_t rows, int64_t cols)
{
	for (int64_t i = 0; i < rows * cols; i++)
		w[i] = next() % 10 < 7 ? frand() : 0.0f;
}

/* 4x1 blocks (4 output channels, 1 column), a quarter of them kept */
static void make_block41(float *w, int64_t rows, int64_t cols)
{
	memset(w, 0, (size_t)(rows * cols) * sizeof *w);
	for (int64_t r0 = 0; r0 < rows; r0 += 4)
		for (int64_t c = 0; c < cols; c++)
			if (next() % 4 == 0)
				for (int64_t r = r0; r < r0 + 4; r++)
					w[r * cols + c] = frand();
}

static void make_zero(float *w, int64_t rows, int64_t cols) { memset(w, 0, (size_t)(rows * cols) * sizeof *w); }

START_TEST(test_detect)
{
	seed(77);
	detect_case(make_dense, 64, "dense");
	detect_case(make_24, 64, "nm(2,4)");
	detect_case(make_24, 66, "nm(2,4)"); /* a partial last group */
	detect_case(make_18, 64, "nm(1,8)");
	detect_case(make_4_128, 512, "nm(4,128)");
	detect_case(make_unstructured90, 512, "csr");
	detect_case(make_unstructured30, 512, "dense");
	detect_case(make_block41, 256, "bsr(4,1)");
	detect_case(make_zero, 64, "dense");
}
END_TEST

/* Read as two different matrices: stays dense, with a remark saying why. */
START_TEST(test_detect_two_views)
{
	static const char text[] =
		HDR "  const %k: f32[4,4] dense nnz=2 (12.5%) = [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"
		"  g1 = Gemm(%a, %k) -> %y: f32[2,4]\n  g2 = Gemm(%a, %k) {transB=1} -> %z: f32[2,4]\n"
		"  output %y\n  output %z\n}\n";
	Diag d = {0};
	Graph *g = graph_parse(text, "t.ir", &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	ck_assert(pass_detect_sparsity(g, NULL, &d) == 0);
	ck_assert_int_eq(graph_find_value(g, "k")->enc.kind, ENC_DENSE);
	ck_assert_int_eq(g->n_remarks, 1);
	ck_assert_msg(strstr(g->remarks[0].text, "also read by 'g2' as another matrix") != NULL, "%s", g->remarks[0].text);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- Conv weights: groups along input channels */

/* conv(x[1, Cg*groups, 6, 6], w[o, Cg, 3, 3]) with random non-zero magnitudes in w */
static Node *conv_node(Graph *g, const char *name, Value *x, int64_t o, int64_t cg, int64_t groups)
{
	Diag d = {0};
	Shape sw = shape_make(4, (int64_t[]){o, cg, 3, 3});
	char wn[32];
	snprintf(wn, sizeof wn, "%s_w", name);
	Value *w = graph_add_constant(g, wn, DT_F32, &sw, &d);
	ck_assert_msg(w != NULL, "%s", d.msg);
	float *p = w->data;
	for (int64_t i = 0; i < o * cg * 9; i++)
		p[i] = (0.01f + (float)(next() % 1000000) / 1e6f) * (next() & 1 ? 1.0f : -1.0f);
	Node *n = graph_add_node(g, OP_Conv, name, 2, (Value *[]){x, w}, 1);
	n->attr.conv.group = groups;
	return n;
}

static Value *image(Graph *g, int64_t c)
{
	Shape sx = shape_make(4, (int64_t[]){1, c, 6, 6});
	Value *x = graph_add_value(g, "x", DT_F32, &sx);
	graph_add_input(g, x);
	return x;
}

/* 2:4 by magnitude over the 4 entries at idx (distinct magnitudes) */
static void prune_24(float *w, const int64_t *idx)
{
	for (int i = 0; i < 4; i++) {
		int bigger = 0;
		for (int j = 0; j < 4; j++)
			bigger += fabsf(w[idx[j]]) > fabsf(w[idx[i]]);
		if (bigger >= 2)
			w[idx[i]] = 0.0f;
	}
}

/* A model pruned 2:4 the ASP way (groups of 4 input channels at each tap) is found as nm(2,4);
 * pruned along the flattened (c, kh, kw) order it is not (csr: half the weights, unstructured
 * on the view). */
START_TEST(test_detect_conv_asp)
{
	for (int way = 0; way < 2; way++) {
		Diag d = {0};
		seed(50 + (uint64_t)way);
		Graph *g = graph_new("asp");
		Node *n = conv_node(g, "conv", image(g, 16), 8, 16, 1);
		graph_add_output(g, n->out[0]);
		float *w = n->in[1]->data;
		for (int64_t o = 0; o < 8; o++)
			for (int64_t a = 0; a < 9 * 16 / 4; a++) {
				int64_t idx[4];
				for (int i = 0; i < 4; i++)
					idx[i] = way == 0 ? (o * 16 + (a % 4) * 4 + i) * 9 + a / 4 /* channels at tap a/4 */
							  : o * 144 + a * 4 + i;                 /* W's memory order */
				prune_24(w, idx);
			}
		ck_assert(pass_shape_infer(g, NULL, &d) == 0);
		ck_assert_msg(pass_detect_sparsity(g, NULL, &d) == 0, "%s", d.msg);
		ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
		char buf[64];
		enc_name(n->in[1], buf, sizeof buf);
		ck_assert_msg(strcmp(buf, way == 0 ? "nm(2,4)" : "csr") == 0, "way %d: found %s", way, buf);
		graph_free(g);
	}
}
END_TEST

static const Remark *remark_of(const Graph *g, const char *pass, const char *node)
{
	for (int i = 0; i < g->n_remarks; i++)
		if (strcmp(g->remarks[i].pass, pass) == 0 && g->remarks[i].node && strcmp(g->remarks[i].node, node) == 0)
			return &g->remarks[i];
	return NULL;
}

/* prune nm:2:4: a 3x3 conv keeps 2 of every 4 input channels at each tap; a grouped conv with
 * 6 channels per group has groups straddling taps (consistent with the view); a depthwise conv
 * (1 channel per tap, fewer than M) stays dense with a remark saying why. */
START_TEST(test_prune_conv_kinds)
{
	Diag d = {0};
	seed(60);
	Graph *g = graph_new("p");
	Value *x = image(g, 12);
	Node *full = conv_node(g, "full", x, 4, 12, 1);
	Node *grouped = conv_node(g, "grouped", x, 4, 6, 2);
	Node *dw = conv_node(g, "dw", x, 12, 1, 12);
	graph_add_output(g, full->out[0]);
	graph_add_output(g, grouped->out[0]);
	graph_add_output(g, dw->out[0]);
	ck_assert(pass_shape_infer(g, NULL, &d) == 0);
	float dense_dw[12 * 9];
	memcpy(dense_dw, dw->in[1]->data, sizeof dense_dw);
	PassOptions opt = {.arg = "nm:2:4"};
	ck_assert_msg(pass_prune(g, &opt, &d) == 0, "%s", d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
	const float *w = full->in[1]->data;
	ck_assert_int_eq(full->in[1]->enc.kind, ENC_NM);
	for (int64_t o = 0; o < 4; o++)
		for (int64_t t = 0; t < 9; t++)
			for (int64_t c0 = 0; c0 < 12; c0 += 4) {
				int nz = 0;
				for (int64_t c = c0; c < c0 + 4; c++)
					nz += w[(o * 12 + c) * 9 + t] != 0.0f;
				ck_assert_int_eq(nz, 2);
			}
	WeightView v;
	ck_assert(weight_view(grouped, 1, &v));
	ck_assert_int_eq(grouped->in[1]->enc.kind, ENC_NM);
	ck_assert(sparse_fits(grouped->in[1]->data, &v, &grouped->in[1]->enc));
	ck_assert_int_eq(value_nnz(grouped->in[1]), 4 * (13 * 2 + 2)); /* 54 columns: 13 groups and 2 */
	ck_assert_int_eq(dw->in[1]->enc.kind, ENC_DENSE);
	ck_assert(memcmp(dense_dw, dw->in[1]->data, sizeof dense_dw) == 0);
	const Remark *r = remark_of(g, "prune", "dw");
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(r->text, "kept dense: 1 input channel per tap cannot take nm(2,4)") != NULL, "%s", r->text);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- payload replacement */

/* A new payload makes the value dense: the old pack described the old values. */
START_TEST(test_alloc_payload_drops_pack)
{
	Diag d = {0};
	seed(70);
	Net t = net_new();
	encode(&t, t.w, t.conv, "nm(2,4)");
	ck_assert_ptr_nonnull(t.w->sparse);
	float *p = value_alloc_payload(t.g, t.w, &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(t.w->sparse);
	ck_assert_int_eq(t.w->enc.kind, ENC_DENSE);
	for (int i = 0; i < 8 * 8 * 9; i++)
		p[i] = frand(); /* dense values the stale pack would contradict */
	ck_assert_msg(graph_verify(t.g, &d) == 0, "%s", d.msg);
	graph_free(t.g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("sparse_ir");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_verify_packed);
	tcase_add_test(tc, test_text_roundtrip);
	tcase_add_loop_test(tc, test_parse_errors, 0, (int)(sizeof parse_errors / sizeof *parse_errors));
	tcase_add_test(tc, test_parse_shared_weight);
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_detect_two_views);
	tcase_add_test(tc, test_detect_conv_asp);
	tcase_add_test(tc, test_prune_conv_kinds);
	tcase_add_test(tc, test_alloc_payload_drops_pack);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
