/* Conv, ConvTranspose, pools, Gemm, MatMul, normalisation and the fused ops: shape inference
 * (compiler/infer_nn.c) and the reference kernels (targets/ref/conv.c, gemm.c, pool.c, norm.c,
 * sgemm.c, nn.c).
 *
 * Small cases are checked against numbers worked out by hand; the many-parameter ones (groups,
 * dilations, pads, 1-D/3-D, blocking edges of the SGEMM) against naive loops written straight
 * from the ONNX definitions below. Inputs are multiples of 1/8 in [-1/2, 1/2], so every product
 * and partial sum is exact in float and the kernels must match the naive loops bit for bit,
 * whatever their summation order. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define INTS(...) ((Ints){(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), {__VA_ARGS__}})

static Value *cf(Graph *g, Shape s, const float *v)
{
	Diag d = {0};
	Value *x = graph_add_constant(g, NULL, DT_F32, &s, &d);
	ck_assert_ptr_nonnull(x);
	if (v)
		memcpy(x->data, v, (size_t)shape_numel(&s) * sizeof(float));
	return x;
}

static Value *ci(Graph *g, DType t, Shape s, const int64_t *v)
{
	Diag d = {0};
	Value *x = graph_add_constant(g, NULL, t, &s, &d);
	ck_assert_ptr_nonnull(x);
	memcpy(x->data, v, (size_t)shape_numel(&s) * sizeof(int64_t));
	return x;
}

static uint32_t rng_state = 12345;

/* multiples of 1/8 in [-1/2, 1/2]: exact products and sums */
static float rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return (float)((int)((rng_state >> 16) % 9) - 4) / 8.0f;
}

static Value *crand(Graph *g, Shape s)
{
	Value *v = cf(g, s, NULL);
	float *p = v->data;
	for (int64_t i = 0; i < shape_numel(&s); i++)
		p[i] = rnd();
	return v;
}

static Node *node(Graph *g, Op op, int nin, Value **in) { return graph_add_node(g, op, NULL, nin, in, 1); }

/* all outputs of n after inference and evaluation; the caller frees them */
static void evaln(Node *n, Tensor *out)
{
	Diag d = {0};
	ck_assert_msg(infer_node(n, &d) == 0, "infer: %s", d.msg);
	ck_assert_msg(ref_eval_node(n, out, &d) == 0, "eval: %s", d.msg);
}

static Tensor eval1(Node *n)
{
	Tensor out[4];
	evaln(n, out);
	for (int i = 1; i < n->n_out; i++)
		tensor_free(&out[i]);
	return out[0];
}

static void expect_shape(const Shape *s, int rank, const int64_t *dims)
{
	char buf[128];
	ck_assert_msg(s->rank == rank, "rank %d, want %d (%s)", s->rank, rank, shape_str(s, buf, sizeof buf));
	for (int i = 0; i < rank; i++)
		ck_assert_msg(s->dim[i] == dims[i], "dim %d is %lld, want %lld (%s)", i, (long long)s->dim[i],
			      (long long)dims[i], shape_str(s, buf, sizeof buf));
}
#define EXPECT_SHAPE(s, ...) \
	expect_shape((s), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void expect_f(const char *what, const Tensor *t, const float *want, int64_t n, float tol)
{
	ck_assert_int_eq(tensor_numel(t), n);
	for (int64_t i = 0; i < n; i++) {
		float got = ((const float *)t->data)[i];
		ck_assert_msg(fabsf(got - want[i]) <= tol * (1 + fabsf(want[i])) || got == want[i],
			      "%s [%lld]: %.9g, want %.9g", what, (long long)i, got, want[i]);
	}
}

static void expect_i(const Tensor *t, const int64_t *want, int64_t n)
{
	ck_assert_int_eq(tensor_numel(t), n);
	for (int64_t i = 0; i < n; i++)
		ck_assert_msg(((int64_t *)t->data)[i] == want[i], "[%lld]: %lld, want %lld", (long long)i,
			      (long long)((int64_t *)t->data)[i], (long long)want[i]);
}

static void expect_infer_error(Node *n, const char *needle)
{
	Diag d = {0};
	ck_assert_int_eq(infer_node(n, &d), -1);
	ck_assert_msg(strstr(d.msg, needle) != NULL, "message '%s' lacks '%s'", d.msg, needle);
	ck_assert_msg(strstr(d.msg, n->name) != NULL, "message '%s' does not name the node", d.msg);
}

/* ---------------------------------------------------------------- naive references */

/* Geometry of one conv case, 3-D with leading dims of 1 for 1-D and 2-D. */
typedef struct Geo {
	int64_t n, c, m, group;
	int64_t in[3], k[3], s[3], dl[3], plo[3], out[3];
} Geo;

static int64_t vol(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* y[n,m,o] = b[m] + sum_{c in group, taps} x[n,c,o*s + t*dl - plo] * w[m,c,t] */
static void naive_conv(const Geo *g, const float *x, const float *w, const float *b, float *y)
{
	int64_t cg = g->c / g->group, mg = g->m / g->group;
	for (int64_t n = 0; n < g->n; n++)
		for (int64_t m = 0; m < g->m; m++)
			for (int64_t o0 = 0; o0 < g->out[0]; o0++)
				for (int64_t o1 = 0; o1 < g->out[1]; o1++)
					for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
						float sum = b ? b[m] : 0.0f;
						for (int64_t c = 0; c < cg; c++)
							for (int64_t t0 = 0; t0 < g->k[0]; t0++)
								for (int64_t t1 = 0; t1 < g->k[1]; t1++)
									for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
										int64_t i0 = o0 * g->s[0] + t0 * g->dl[0] - g->plo[0];
										int64_t i1 = o1 * g->s[1] + t1 * g->dl[1] - g->plo[1];
										int64_t i2 = o2 * g->s[2] + t2 * g->dl[2] - g->plo[2];
										if (i0 < 0 || i0 >= g->in[0] || i1 < 0 || i1 >= g->in[1] ||
										    i2 < 0 || i2 >= g->in[2])
											continue;
										int64_t ci = m / mg * cg + c;
										sum += x[((n * g->c + ci) * g->in[0] + i0) * g->in[1] * g->in[2] +
											 i1 * g->in[2] + i2] *
										       w[(((m * cg + c) * g->k[0] + t0) * g->k[1] + t1) * g->k[2] + t2];
									}
						y[(((n * g->m + m) * g->out[0] + o0) * g->out[1] + o1) * g->out[2] + o2] = sum;
					}
}

/* y[n, g*mg+m, i*s + t*dl - plo] += x[n,c,i] * w[c,m,t] */
static void naive_conv_transpose(const Geo *g, const float *x, const float *w, const float *b, float *y)
{
	int64_t cg = g->c / g->group, mg = g->m / g->group, osz = vol(g->out);
	for (int64_t q = 0; q < g->n * g->m; q++)
		for (int64_t i = 0; i < osz; i++)
			y[q * osz + i] = b ? b[q % g->m] : 0.0f;
	for (int64_t n = 0; n < g->n; n++)
		for (int64_t c = 0; c < g->c; c++)
			for (int64_t i0 = 0; i0 < g->in[0]; i0++)
				for (int64_t i1 = 0; i1 < g->in[1]; i1++)
					for (int64_t i2 = 0; i2 < g->in[2]; i2++)
						for (int64_t m = 0; m < mg; m++)
							for (int64_t t0 = 0; t0 < g->k[0]; t0++)
								for (int64_t t1 = 0; t1 < g->k[1]; t1++)
									for (int64_t t2 = 0; t2 < g->k[2]; t2++) {
										int64_t o0 = i0 * g->s[0] + t0 * g->dl[0] - g->plo[0];
										int64_t o1 = i1 * g->s[1] + t1 * g->dl[1] - g->plo[1];
										int64_t o2 = i2 * g->s[2] + t2 * g->dl[2] - g->plo[2];
										if (o0 < 0 || o0 >= g->out[0] || o1 < 0 || o1 >= g->out[1] ||
										    o2 < 0 || o2 >= g->out[2])
											continue;
										int64_t mo = c / cg * mg + m;
										y[((n * g->m + mo) * g->out[0] + o0) * g->out[1] * g->out[2] +
										  o1 * g->out[2] + o2] +=
											x[(((n * g->c + c) * g->in[0] + i0) * g->in[1] + i1) * g->in[2] + i2] *
											w[(((c * mg + m) * g->k[0] + t0) * g->k[1] + t1) * g->k[2] + t2];
									}
}

/* ---------------------------------------------------------------- Conv against the naive loops */

typedef struct ConvCase {
	const char *label;
	int nsp;
	int64_t n, c, m, group;
	int64_t in[3], k[3], stride[3], dil[3]; /* stride/dil 0: attribute absent (1) */
	int64_t pads[6];
	bool has_pads, bias, transpose;
	int auto_pad;
	int64_t out_pad[3], out_shape[3];
	bool has_out_pad, has_out_shape;
	int64_t want_out[3], want_plo[3]; /* the expected geometry */
} ConvCase;

static void run_conv_case(const ConvCase *cc)
{
	Graph *g = graph_new("t");
	int rank = cc->nsp + 2;
	Geo geo = {cc->n, cc->c, cc->m, cc->group, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}};
	Shape xs = shape_make(rank, NULL), ws = shape_make(rank, NULL), ys = shape_make(rank, NULL);
	xs.dim[0] = cc->n;
	xs.dim[1] = cc->c;
	ws.dim[0] = cc->transpose ? cc->c : cc->m;
	ws.dim[1] = cc->transpose ? cc->m / cc->group : cc->c / cc->group;
	ys.dim[0] = cc->n;
	ys.dim[1] = cc->m;
	int off = 3 - cc->nsp;
	for (int i = 0; i < cc->nsp; i++) {
		xs.dim[2 + i] = geo.in[off + i] = cc->in[i];
		ws.dim[2 + i] = geo.k[off + i] = cc->k[i];
		ys.dim[2 + i] = geo.out[off + i] = cc->want_out[i];
		geo.s[off + i] = cc->stride[i] ? cc->stride[i] : 1;
		geo.dl[off + i] = cc->dil[i] ? cc->dil[i] : 1;
		geo.plo[off + i] = cc->want_plo[i];
	}
	Value *x = crand(g, xs), *w = crand(g, ws), *b = cc->bias ? crand(g, SHAPE(cc->m)) : NULL;
	Node *n = node(g, cc->transpose ? OP_ConvTranspose : OP_Conv, b ? 3 : 2, (Value *[]){x, w, b});
	ConvAttrs *a = &n->attr.conv;
	a->group = cc->group;
	a->auto_pad = cc->auto_pad;
	if (cc->stride[0]) {
		a->strides.n = cc->nsp;
		memcpy(a->strides.v, cc->stride, (size_t)cc->nsp * sizeof(int64_t));
	}
	if (cc->dil[0]) {
		a->dilations.n = cc->nsp;
		memcpy(a->dilations.v, cc->dil, (size_t)cc->nsp * sizeof(int64_t));
	}
	if (cc->has_pads) {
		a->pads.n = 2 * cc->nsp;
		memcpy(a->pads.v, cc->pads, (size_t)(2 * cc->nsp) * sizeof(int64_t));
	}
	if (cc->has_out_pad) {
		a->output_padding.n = cc->nsp;
		memcpy(a->output_padding.v, cc->out_pad, (size_t)cc->nsp * sizeof(int64_t));
	}
	if (cc->has_out_shape) {
		a->output_shape.n = cc->nsp;
		memcpy(a->output_shape.v, cc->out_shape, (size_t)cc->nsp * sizeof(int64_t));
	}
	Tensor y = eval1(n);
	expect_shape(&y.shape, rank, ys.dim);
	int64_t numel = shape_numel(&ys);
	float *want = malloc((size_t)numel * sizeof *want);
	if (cc->transpose)
		naive_conv_transpose(&geo, x->data, w->data, b ? b->data : NULL, want);
	else
		naive_conv(&geo, x->data, w->data, b ? b->data : NULL, want);
	expect_f(cc->label, &y, want, numel, 0.0f);
	free(want);
	tensor_free(&y);
	graph_free(g);
}

START_TEST(conv_hand_checked)
{
	/* 5x5 ramp, 3x3 ones, pads 1: every output is the sum of its clipped 3x3 neighbourhood */
	Graph *g = graph_new("t");
	float xv[25], wv[9];
	for (int i = 0; i < 25; i++)
		xv[i] = (float)i;
	for (int i = 0; i < 9; i++)
		wv[i] = 1.0f;
	Value *x = cf(g, SHAPE(1, 1, 5, 5), xv), *w = cf(g, SHAPE(1, 1, 3, 3), wv);
	Node *n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.pads = INTS(1, 1, 1, 1);
	Tensor y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 5, 5);
	expect_f("pads", &y,
		 (float[]){12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81, 93, 144, 153, 162, 111, 72, 111,
			   117, 123, 84},
		 25, 0);
	tensor_free(&y);
	/* stride 2, asymmetric pads (1,0 top/bottom, 1,0 left/right) */
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.pads = INTS(1, 1, 0, 0);
	n->attr.conv.strides = INTS(2, 2);
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 2, 2);
	expect_f("asym", &y, (float[]){12, 27, 63, 108}, 4, 0);
	tensor_free(&y);
	/* grouped: 2 groups of 1 in / 1 out channel, weights 1 and -1, bias 10 and 20 */
	Value *x2 = cf(g, SHAPE(1, 2, 1, 3), (float[]){1, 2, 3, 4, 5, 6});
	Value *w2 = cf(g, SHAPE(2, 1, 1, 2), (float[]){1, 1, -1, 2});
	Value *b2 = cf(g, SHAPE(2), (float[]){10, 20});
	n = node(g, OP_Conv, 3, (Value *[]){x2, w2, b2});
	n->attr.conv.group = 2;
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 2, 1, 2);
	expect_f("group", &y, (float[]){13, 15, 26, 27}, 4, 0);
	tensor_free(&y);
	/* dilation 2 on a 1-D input: taps 0, 2 */
	Value *x3 = cf(g, SHAPE(1, 1, 5), (float[]){1, 2, 3, 4, 5});
	Value *w3 = cf(g, SHAPE(1, 1, 2), (float[]){1, 10});
	n = node(g, OP_Conv, 2, (Value *[]){x3, w3});
	n->attr.conv.dilations = INTS(2);
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 3);
	expect_f("dilated", &y, (float[]){31, 42, 53}, 3, 0);
	tensor_free(&y);
	graph_free(g);
}
END_TEST

START_TEST(conv_against_naive)
{
	static const ConvCase cases[] = {
		{.label = "plain 3x3", .nsp = 2, .n = 2, .c = 3, .m = 5, .group = 1, .in = {7, 6}, .k = {3, 3},
		 .bias = true, .want_out = {5, 4}},
		{.label = "pads+strides", .nsp = 2, .n = 1, .c = 4, .m = 8, .group = 1, .in = {9, 8}, .k = {3, 2},
		 .stride = {2, 3}, .pads = {1, 0, 2, 1}, .has_pads = true, .bias = true, .want_out = {5, 3},
		 .want_plo = {1, 0}},
		{.label = "grouped", .nsp = 2, .n = 2, .c = 6, .m = 9, .group = 3, .in = {6, 6}, .k = {3, 3},
		 .pads = {1, 1, 1, 1}, .has_pads = true, .bias = true, .want_out = {6, 6}, .want_plo = {1, 1}},
		{.label = "depthwise", .nsp = 2, .n = 1, .c = 5, .m = 5, .group = 5, .in = {8, 7}, .k = {3, 3},
		 .stride = {2, 1}, .pads = {1, 1, 1, 1}, .has_pads = true, .bias = true, .want_out = {4, 7},
		 .want_plo = {1, 1}},
		{.label = "depthwise x2 strided", .nsp = 2, .n = 2, .c = 3, .m = 6, .group = 3, .in = {9, 9}, .k = {3, 3},
		 .stride = {2, 2}, .dil = {2, 1}, .pads = {2, 0, 1, 1}, .has_pads = true, .want_out = {4, 4},
		 .want_plo = {2, 0}},
		{.label = "dilated", .nsp = 2, .n = 1, .c = 3, .m = 4, .group = 1, .in = {10, 9}, .k = {3, 2},
		 .dil = {2, 3}, .pads = {2, 1, 0, 2}, .has_pads = true, .want_out = {8, 9}, .want_plo = {2, 1}},
		{.label = "pointwise", .nsp = 2, .n = 2, .c = 7, .m = 13, .group = 1, .in = {5, 11}, .k = {1, 1},
		 .bias = true, .want_out = {5, 11}},
		{.label = "pointwise strided", .nsp = 2, .n = 1, .c = 7, .m = 4, .group = 1, .in = {5, 6}, .k = {1, 1},
		 .stride = {2, 2}, .want_out = {3, 3}},
		{.label = "same_upper", .nsp = 2, .n = 1, .c = 2, .m = 3, .group = 1, .in = {5, 6}, .k = {4, 3},
		 .stride = {2, 2}, .auto_pad = AUTO_PAD_SAME_UPPER, .want_out = {3, 3}, .want_plo = {1, 0}},
		{.label = "same_lower", .nsp = 2, .n = 1, .c = 2, .m = 3, .group = 1, .in = {5, 6}, .k = {4, 3},
		 .stride = {2, 2}, .auto_pad = AUTO_PAD_SAME_LOWER, .want_out = {3, 3}, .want_plo = {2, 1}},
		{.label = "valid", .nsp = 2, .n = 1, .c = 2, .m = 3, .group = 1, .in = {5, 6}, .k = {2, 3},
		 .stride = {2, 2}, .auto_pad = AUTO_PAD_VALID, .pads = {9, 9, 9, 9}, .has_pads = true,
		 .want_out = {2, 2}},
		{.label = "1-D", .nsp = 1, .n = 3, .c = 4, .m = 6, .group = 2, .in = {17}, .k = {5}, .stride = {3},
		 .pads = {2, 3}, .has_pads = true, .bias = true, .want_out = {6}, .want_plo = {2}},
		{.label = "3-D", .nsp = 3, .n = 1, .c = 3, .m = 4, .group = 1, .in = {5, 6, 7}, .k = {3, 2, 3},
		 .stride = {1, 2, 2}, .pads = {1, 0, 1, 1, 1, 0}, .has_pads = true, .bias = true,
		 .want_out = {5, 3, 3}, .want_plo = {1, 0, 1}},
		/* wide enough for several NR panels and k-blocks of the SGEMM, with edges */
		{.label = "blocked", .nsp = 2, .n = 1, .c = 33, .m = 70, .group = 1, .in = {13, 15}, .k = {3, 3},
		 .pads = {1, 1, 1, 1}, .has_pads = true, .bias = true, .want_out = {13, 15}, .want_plo = {1, 1}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_conv_case(&cases[i]);
}
END_TEST

START_TEST(conv_transpose)
{
	/* hand-checked 1-D: x=[1,2,3], w=[1,1,1], stride 2, output_padding 1:
	 * x0 covers 0..2, x1 2..4, x2 4..6; position 7 exists only through output_padding */
	Graph *g = graph_new("t");
	Value *x = cf(g, SHAPE(1, 1, 3), (float[]){1, 2, 3}), *w = cf(g, SHAPE(1, 1, 3), (float[]){1, 1, 1});
	Node *n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w});
	n->attr.conv.strides = INTS(2);
	n->attr.conv.output_padding = INTS(1);
	Tensor y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 8);
	expect_f("output_padding", &y, (float[]){1, 1, 3, 2, 5, 3, 3, 0}, 8, 0);
	tensor_free(&y);
	/* the same cropped by pads 1,2 */
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w});
	n->attr.conv.strides = INTS(2);
	n->attr.conv.output_padding = INTS(1);
	n->attr.conv.pads = INTS(1, 2);
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 5);
	expect_f("pads", &y, (float[]){1, 3, 2, 5, 3}, 5, 0);
	tensor_free(&y);
	/* output_shape larger than covered (total padding -1): the extra column is at the end */
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w});
	n->attr.conv.strides = INTS(2);
	n->attr.conv.output_shape = INTS(8);
	y = eval1(n);
	expect_f("output_shape", &y, (float[]){1, 1, 3, 2, 5, 3, 3, 0}, 8, 0);
	tensor_free(&y);
	graph_free(g);

	static const ConvCase cases[] = {
		{.label = "t plain", .transpose = true, .nsp = 2, .n = 2, .c = 3, .m = 4, .group = 1, .in = {4, 5},
		 .k = {3, 3}, .bias = true, .want_out = {6, 7}},
		{.label = "t strided padded", .transpose = true, .nsp = 2, .n = 1, .c = 4, .m = 6, .group = 2,
		 .in = {3, 4}, .k = {3, 2}, .stride = {2, 3}, .pads = {1, 0, 0, 1}, .has_pads = true,
		 .out_pad = {1, 2}, .has_out_pad = true, .bias = true, .want_out = {7, 12}, .want_plo = {1, 0}},
		{.label = "t dilated", .transpose = true, .nsp = 2, .n = 1, .c = 2, .m = 3, .group = 1, .in = {4, 3},
		 .k = {2, 3}, .dil = {3, 2}, .stride = {2, 1}, .want_out = {10, 7}},
		{.label = "t same_upper", .transpose = true, .nsp = 2, .n = 1, .c = 1, .m = 2, .group = 1, .in = {3, 3},
		 .k = {3, 3}, .stride = {2, 2}, .auto_pad = AUTO_PAD_SAME_UPPER, .want_out = {6, 6}, .want_plo = {0, 0}},
		{.label = "t same_lower", .transpose = true, .nsp = 2, .n = 1, .c = 1, .m = 2, .group = 1, .in = {3, 3},
		 .k = {3, 3}, .stride = {2, 2}, .auto_pad = AUTO_PAD_SAME_LOWER, .want_out = {6, 6}, .want_plo = {1, 1}},
		{.label = "t output_shape", .transpose = true, .nsp = 2, .n = 1, .c = 2, .m = 2, .group = 1,
		 .in = {3, 3}, .k = {3, 3}, .stride = {3, 2}, .out_shape = {10, 6}, .has_out_shape = true,
		 .want_out = {10, 6}, .want_plo = {0, 1}},
		{.label = "t 3-D grouped", .transpose = true, .nsp = 3, .n = 1, .c = 4, .m = 6, .group = 2,
		 .in = {2, 3, 4}, .k = {2, 2, 3}, .stride = {2, 1, 2}, .bias = true, .want_out = {4, 4, 9}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_conv_case(&cases[i]);
}
END_TEST

/* ---------------------------------------------------------------- inference errors */

START_TEST(conv_inference)
{
	Graph *g = graph_new("t");
	Shape xs = SHAPE(1, 6, 8, 8), ws = SHAPE(4, 3, 3, 3), su = shape_unknown();
	Value *x = graph_add_value(g, "x", DT_F32, &xs), *w = graph_add_value(g, "w", DT_F32, &ws);
	/* 6 channels vs 3 * group 1 */
	Node *n = node(g, OP_Conv, 2, (Value *[]){x, w});
	expect_infer_error(n, "6 channels");
	/* 3 * group 2 fits; 4 outputs split into 2 groups */
	Diag d = {0};
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
	EXPECT_SHAPE(&n->out[0]->shape, 1, 4, 6, 6);
	/* group 3 does not divide the 4 output channels */
	Shape ws2 = SHAPE(4, 2, 3, 3);
	Value *w2 = graph_add_value(g, "w2", DT_F32, &ws2);
	n = node(g, OP_Conv, 2, (Value *[]){x, w2});
	n->attr.conv.group = 3;
	expect_infer_error(n, "group 3");
	/* kernel larger than the padded input */
	Shape ws3 = SHAPE(2, 6, 11, 3);
	Value *w3 = graph_add_value(g, "w3", DT_F32, &ws3);
	n = node(g, OP_Conv, 2, (Value *[]){x, w3});
	n->attr.conv.pads = INTS(1, 0, 1, 0);
	expect_infer_error(n, "kernel extent 11");
	/* bad pads length, non-positive stride and dilation, kernel_shape disagreeing with W */
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.pads = INTS(1, 1);
	expect_infer_error(n, "pads has 2 values, expected 4");
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.strides = INTS(1, 0);
	expect_infer_error(n, "stride on spatial dim 1 is 0");
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.dilations = INTS(-1, 1);
	expect_infer_error(n, "dilation");
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.kernel_shape = INTS(3, 5);
	expect_infer_error(n, "kernel_shape[1] is 5");
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.pads = INTS(1, -1, 1, 1);
	expect_infer_error(n, "must be >= 0");
	/* overflowing kernel extent */
	n = node(g, OP_Conv, 2, (Value *[]){x, w});
	n->attr.conv.group = 2;
	n->attr.conv.dilations = INTS(INT64_MAX / 2 + 1, 1);
	expect_infer_error(n, "overflows");
	/* bias of the wrong length */
	Shape bs = SHAPE(5);
	Value *b = graph_add_value(g, "b", DT_F32, &bs);
	n = node(g, OP_Conv, 3, (Value *[]){x, w, b});
	n->attr.conv.group = 2;
	expect_infer_error(n, "bias has 5 values, expected 4");
	/* unknown input rank: unknown output; unknown spatial dims stay unknown */
	Value *u = graph_add_value(g, "u", DT_F32, &su);
	n = node(g, OP_Conv, 2, (Value *[]){u, w});
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(n->out[0]->shape.rank, -1);
	Shape xq = SHAPE(-1, 6, -1, 8);
	Value *q = graph_add_value(g, "q", DT_F32, &xq);
	n = node(g, OP_Conv, 2, (Value *[]){q, w});
	n->attr.conv.group = 2;
	ck_assert_int_eq(infer_node(n, &d), 0);
	EXPECT_SHAPE(&n->out[0]->shape, -1, 4, -1, 6);
	/* integer input */
	Value *xi = graph_add_value(g, "xi", DT_I32, &xs);
	n = node(g, OP_Conv, 2, (Value *[]){xi, w});
	expect_infer_error(n, "float");
	/* ConvTranspose: C must equal W.shape[0]; M = W.shape[1] * group */
	Shape wt = SHAPE(6, 2, 3, 3);
	Value *w4 = graph_add_value(g, "w4", DT_F32, &wt);
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w4});
	n->attr.conv.group = 3;
	n->attr.conv.strides = INTS(2, 2);
	ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
	EXPECT_SHAPE(&n->out[0]->shape, 1, 6, 17, 17);
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w});
	expect_infer_error(n, "weight has 4 input channels");
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w4});
	n->attr.conv.output_padding = INTS(-1, 0);
	expect_infer_error(n, "output_padding");
	n = node(g, OP_ConvTranspose, 2, (Value *[]){x, w4});
	n->attr.conv.pads = INTS(5, 5, 5, 5);
	expect_infer_error(n, "crop the whole output");
	/* 4 spatial dims are beyond the kernels */
	Shape x6 = SHAPE(1, 1, 2, 2, 2, 2), w6 = SHAPE(1, 1, 1, 1, 1, 1);
	Value *x6v = graph_add_value(g, "x6", DT_F32, &x6), *w6v = graph_add_value(g, "w6", DT_F32, &w6);
	n = node(g, OP_Conv, 2, (Value *[]){x6v, w6v});
	expect_infer_error(n, "spatial dims");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- pools */

START_TEST(pools)
{
	Graph *g = graph_new("t");
	float xv[16];
	for (int i = 0; i < 16; i++)
		xv[i] = (float)i;
	Value *x = cf(g, SHAPE(1, 1, 4, 4), xv);
	/* ceil_mode: 4 with kernel 3 stride 2 gives 2 windows, the second clipped to 2 rows/cols */
	Node *n = node(g, OP_MaxPool, 1, (Value *[]){x});
	n->attr.pool.kernel_shape = INTS(3, 3);
	n->attr.pool.strides = INTS(2, 2);
	n->attr.pool.ceil_mode = 1;
	Tensor y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 2, 2);
	expect_f("max ceil", &y, (float[]){10, 11, 14, 15}, 4, 0);
	tensor_free(&y);
	n = node(g, OP_AveragePool, 1, (Value *[]){x});
	n->attr.pool.kernel_shape = INTS(3, 3);
	n->attr.pool.strides = INTS(2, 2);
	n->attr.pool.ceil_mode = 1;
	y = eval1(n);
	expect_f("avg ceil", &y, (float[]){5, 6.5f, 11, 12.5f}, 4, 0);
	tensor_free(&y);
	/* floor mode drops the partial window */
	n = node(g, OP_MaxPool, 1, (Value *[]){x});
	n->attr.pool.kernel_shape = INTS(3, 3);
	n->attr.pool.strides = INTS(2, 2);
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 1, 1);
	expect_f("max floor", &y, (float[]){10}, 1, 0);
	tensor_free(&y);
	/* pads with and without count_include_pad: 3x3 of 1..9, kernel 3, pads 1 */
	Value *x3 = cf(g, SHAPE(1, 1, 3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
	n = node(g, OP_AveragePool, 1, (Value *[]){x3});
	n->attr.pool.kernel_shape = INTS(3, 3);
	n->attr.pool.pads = INTS(1, 1, 1, 1);
	y = eval1(n);
	expect_f("avg excl", &y, (float[]){3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7}, 9, 1e-7f);
	tensor_free(&y);
	n = node(g, OP_AveragePool, 1, (Value *[]){x3});
	n->attr.pool.kernel_shape = INTS(3, 3);
	n->attr.pool.pads = INTS(1, 1, 1, 1);
	n->attr.pool.count_include_pad = 1;
	y = eval1(n);
	expect_f("avg incl", &y, (float[]){12 / 9.f, 21 / 9.f, 16 / 9.f, 27 / 9.f, 5, 33 / 9.f, 24 / 9.f, 39 / 9.f, 28 / 9.f},
		 9, 1e-6f);
	tensor_free(&y);
	/* dilated max: taps 0 and 2 */
	n = node(g, OP_MaxPool, 1, (Value *[]){x});
	n->attr.pool.kernel_shape = INTS(2, 2);
	n->attr.pool.dilations = INTS(2, 2);
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 2, 2);
	expect_f("max dil", &y, (float[]){10, 11, 14, 15}, 4, 0);
	tensor_free(&y);
	/* SAME_LOWER puts the extra pad first: 1-D [1..5], kernel 2, stride 1 -> pad (1,0) */
	Value *x1 = cf(g, SHAPE(1, 1, 5), (float[]){1, 2, 3, 4, 5});
	n = node(g, OP_AveragePool, 1, (Value *[]){x1});
	n->attr.pool.kernel_shape = INTS(2);
	n->attr.pool.auto_pad = AUTO_PAD_SAME_LOWER;
	y = eval1(n);
	expect_f("same_lower", &y, (float[]){1, 1.5f, 2.5f, 3.5f, 4.5f}, 5, 0);
	tensor_free(&y);
	n = node(g, OP_AveragePool, 1, (Value *[]){x1});
	n->attr.pool.kernel_shape = INTS(2);
	n->attr.pool.auto_pad = AUTO_PAD_SAME_UPPER;
	y = eval1(n);
	expect_f("same_upper", &y, (float[]){1.5f, 2.5f, 3.5f, 4.5f, 5}, 5, 0);
	tensor_free(&y);
	/* ceil_mode never starts a window in the trailing padding: 5, pads 1,1, kernel 2, stride 2
	 * would give ceil(5/2)+1 = 4 windows; the 4th would start at padded index 6 = 5 + 1 */
	n = node(g, OP_MaxPool, 1, (Value *[]){x1});
	n->attr.pool.kernel_shape = INTS(2);
	n->attr.pool.strides = INTS(2);
	n->attr.pool.pads = INTS(1, 1);
	n->attr.pool.ceil_mode = 1;
	y = eval1(n);
	EXPECT_SHAPE(&y.shape, 1, 1, 3);
	expect_f("ceil drop", &y, (float[]){1, 3, 5}, 3, 0);
	tensor_free(&y);
	/* 3-D max over integer data keeps the dtype */
	int64_t iv[8] = {3, 1, 7, 2, 0, 9, 5, 4};
	Value *xi = ci(g, DT_U8, SHAPE(1, 1, 2, 2, 2), iv);
	n = node(g, OP_MaxPool, 1, (Value *[]){xi});
	n->attr.pool.kernel_shape = INTS(2, 2, 1);
	y = eval1(n);
	ck_assert_int_eq(y.dtype, DT_U8);
	EXPECT_SHAPE(&y.shape, 1, 1, 1, 1, 2);
	expect_i(&y, (int64_t[]){7, 9}, 2);
	tensor_free(&y);
	/* global pools */
	Value *xg = cf(g, SHAPE(1, 2, 2, 2), (float[]){1, 2, 3, 4, -1, -2, -3, -8});
	y = eval1(node(g, OP_GlobalAveragePool, 1, (Value *[]){xg}));
	EXPECT_SHAPE(&y.shape, 1, 2, 1, 1);
	expect_f("gap", &y, (float[]){2.5f, -3.5f}, 2, 0);
	tensor_free(&y);
	y = eval1(node(g, OP_GlobalMaxPool, 1, (Value *[]){xg}));
	expect_f("gmp", &y, (float[]){4, -1}, 2, 0);
	tensor_free(&y);
	/* errors: no kernel_shape, kernel larger than input */
	n = node(g, OP_MaxPool, 1, (Value *[]){x});
	expect_infer_error(n, "kernel_shape is required");
	n = node(g, OP_AveragePool, 1, (Value *[]){x});
	n->attr.pool.kernel_shape = INTS(5, 1);
	expect_infer_error(n, "larger than the padded input 4");
	n = node(g, OP_AveragePool, 1, (Value *[]){xi});
	n->attr.pool.kernel_shape = INTS(1, 1, 1);
	expect_infer_error(n, "float");
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- Gemm, MatMul */

START_TEST(gemm)
{
	Graph *g = graph_new("t");
	/* A = [[1,2,3],[4,5,6]] stored transposed, B = [[1,0],[0,1],[1,1]] stored transposed */
	Value *at = cf(g, SHAPE(3, 2), (float[]){1, 4, 2, 5, 3, 6});
	Value *bt = cf(g, SHAPE(2, 3), (float[]){1, 0, 1, 0, 1, 1});
	Value *cv = cf(g, SHAPE(2), (float[]){100, 200});
	Node *n = node(g, OP_Gemm, 3, (Value *[]){at, bt, cv});
	n->attr.gemm.trans_a = 1;
	n->attr.gemm.trans_b = 1;
	n->attr.gemm.alpha = 2.0f;
	n->attr.gemm.beta = 0.5f;
	/* A B = [[4,5],[10,11]]; *2 + 0.5*[100,200] */
	Tensor y = eval1(n);
	EXPECT_SHAPE(&y.shape, 2, 2);
	expect_f("trans", &y, (float[]){58, 110, 70, 122}, 4, 0);
	tensor_free(&y);
	/* C as a column [2,1] and as a scalar */
	Value *a = cf(g, SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
	Value *b = cf(g, SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, 1});
	Value *ccol = cf(g, SHAPE(2, 1), (float[]){1, 2});
	y = eval1(node(g, OP_Gemm, 3, (Value *[]){a, b, ccol}));
	expect_f("col C", &y, (float[]){5, 6, 12, 13}, 4, 0);
	tensor_free(&y);
	Value *cs = cf(g, shape_make(0, NULL), (float[]){-1});
	y = eval1(node(g, OP_Gemm, 3, (Value *[]){a, b, cs}));
	expect_f("scalar C", &y, (float[]){3, 4, 9, 10}, 4, 0);
	tensor_free(&y);
	y = eval1(node(g, OP_Gemm, 2, (Value *[]){a, b}));
	expect_f("no C", &y, (float[]){4, 5, 10, 11}, 4, 0);
	tensor_free(&y);
	/* integer Gemm wraps */
	Value *ia = ci(g, DT_I32, SHAPE(1, 2), (int64_t[]){INT32_MAX, 1});
	Value *ib = ci(g, DT_I32, SHAPE(2, 1), (int64_t[]){1, 1});
	y = eval1(node(g, OP_Gemm, 2, (Value *[]){ia, ib}));
	expect_i(&y, (int64_t[]){INT32_MIN}, 1);
	tensor_free(&y);
	/* errors */
	expect_infer_error(node(g, OP_Gemm, 2, (Value *[]){a, a}), "K=3");
	Value *c3 = cf(g, SHAPE(3), (float[]){1, 2, 3});
	expect_infer_error(node(g, OP_Gemm, 3, (Value *[]){a, b, c3}), "does not broadcast");
	Value *v3 = cf(g, SHAPE(3), (float[]){1, 2, 3});
	expect_infer_error(node(g, OP_Gemm, 2, (Value *[]){v3, b}), "A must be 2-D");
	graph_free(g);
}
END_TEST

/* y[i,j] = sum_p a(i,p) b(p,j), with element strides */
static void naive_mm(const float *a, int64_t ars, int64_t acs, const float *b, int64_t brs, int64_t bcs, int64_t m,
		     int64_t n, int64_t k, float *y)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			float s = 0;
			for (int64_t p = 0; p < k; p++)
				s += a[i * ars + p * acs] * b[p * brs + j * bcs];
			y[i * n + j] = s;
		}
}

START_TEST(matmul)
{
	Graph *g = graph_new("t");
	/* batched with broadcasting: [2,1,2,3] x [3,3,2] -> [2,3,2,2] */
	Value *a = crand(g, SHAPE(2, 1, 2, 3)), *b = crand(g, SHAPE(3, 3, 2));
	Tensor y = eval1(node(g, OP_MatMul, 2, (Value *[]){a, b}));
	EXPECT_SHAPE(&y.shape, 2, 3, 2, 2);
	float want[24];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			naive_mm((float *)a->data + i * 6, 3, 1, (float *)b->data + j * 6, 2, 1, 2, 2, 3, want + (i * 3 + j) * 4);
	expect_f("batched", &y, want, 24, 0);
	tensor_free(&y);
	/* a shared 2-D right operand: batches stacked into one product */
	Value *a2 = crand(g, SHAPE(3, 4, 5)), *b2 = crand(g, SHAPE(5, 2));
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){a2, b2}));
	EXPECT_SHAPE(&y.shape, 3, 4, 2);
	float want2[24];
	naive_mm(a2->data, 5, 1, b2->data, 2, 1, 12, 2, 5, want2);
	expect_f("stacked", &y, want2, 24, 0);
	tensor_free(&y);
	/* 1-D operands */
	Value *v = cf(g, SHAPE(3), (float[]){1, 2, 3}), *m = cf(g, SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, 1});
	Value *m2 = cf(g, SHAPE(2, 3), (float[]){1, 0, 0, 1, 1, 1});
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){v, m}));
	EXPECT_SHAPE(&y.shape, 2);
	expect_f("vec x mat", &y, (float[]){4, 5}, 2, 0);
	tensor_free(&y);
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){m2, v}));
	EXPECT_SHAPE(&y.shape, 2);
	expect_f("mat x vec", &y, (float[]){1, 6}, 2, 0);
	tensor_free(&y);
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){v, v}));
	ck_assert_int_eq(y.shape.rank, 0);
	expect_f("dot", &y, (float[]){14}, 1, 0);
	tensor_free(&y);
	/* 1-D left operand against a batch */
	Value *b3 = crand(g, SHAPE(2, 3, 4));
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){v, b3}));
	EXPECT_SHAPE(&y.shape, 2, 4);
	float want3[8];
	for (int i = 0; i < 2; i++)
		naive_mm(v->data, 3, 1, (float *)b3->data + i * 12, 4, 1, 1, 4, 3, want3 + i * 4);
	expect_f("vec x batch", &y, want3, 8, 0);
	tensor_free(&y);
	/* integers */
	Value *ia = ci(g, DT_I64, SHAPE(1, 2), (int64_t[]){3, -4}), *ib = ci(g, DT_I64, SHAPE(2, 2), (int64_t[]){1, 2, 3, 4});
	y = eval1(node(g, OP_MatMul, 2, (Value *[]){ia, ib}));
	expect_i(&y, (int64_t[]){-9, -10}, 2);
	tensor_free(&y);
	/* errors and unknowns */
	expect_infer_error(node(g, OP_MatMul, 2, (Value *[]){a, a}), "inner dims differ");
	Value *b4 = crand(g, SHAPE(3, 1, 3, 2));
	expect_infer_error(node(g, OP_MatMul, 2, (Value *[]){a, b4}), "do not broadcast");
	expect_infer_error(node(g, OP_MatMul, 2, (Value *[]){v, ia}), "is i64");
	Shape su = shape_unknown(), sq = SHAPE(-1, 7, 3);
	Value *u = graph_add_value(g, "u", DT_F32, &su), *q = graph_add_value(g, "q", DT_F32, &sq);
	Diag d = {0};
	Node *n = node(g, OP_MatMul, 2, (Value *[]){u, b});
	ck_assert_int_eq(infer_node(n, &d), 0);
	ck_assert_int_eq(n->out[0]->shape.rank, -1);
	n = node(g, OP_MatMul, 2, (Value *[]){q, b});
	ck_assert_int_eq(infer_node(n, &d), 0);
	EXPECT_SHAPE(&n->out[0]->shape, 3, 7, 2); /* b is [3,3,2]: the batch dim is 3 */
	graph_free(g);
}
END_TEST

/* Sizes that cross every blocking boundary of the SGEMM (MR=6, NR=32, KC=256, MC=144) and take
 * the matrix-vector paths (m or n = 1), with transposed views through Gemm's transA/transB. */
START_TEST(gemm_blocking)
{
	static const int64_t sizes[][3] = {{1, 1, 1},      {1, 40, 9},      {37, 1, 300}, {7, 33, 5},
					   {150, 70, 300}, {145, 31, 257}, {6, 32, 256}};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				int64_t m = sizes[s][0], nn = sizes[s][1], k = sizes[s][2];
				Graph *g = graph_new("t");
				Value *a = crand(g, ta ? SHAPE(k, m) : SHAPE(m, k));
				Value *b = crand(g, tb ? SHAPE(nn, k) : SHAPE(k, nn));
				Node *n = node(g, OP_Gemm, 2, (Value *[]){a, b});
				n->attr.gemm.trans_a = ta;
				n->attr.gemm.trans_b = tb;
				Tensor y = eval1(n);
				float *want = malloc((size_t)(m * nn) * sizeof *want);
				naive_mm(a->data, ta ? 1 : k, ta ? m : 1, b->data, tb ? 1 : nn, tb ? k : 1, m, nn, k, want);
				expect_f("blocking", &y, want, m * nn, 0);
				free(want);
				tensor_free(&y);
				graph_free(g);
			}
}
END_TEST

/* ---------------------------------------------------------------- fused ops vs composition */

static float act_ref(const Activation *a, float v)
{
	switch (a->kind) {
	case ACT_RELU: return v > 0 ? v : 0;
	case ACT_LEAKY_RELU: return v >= 0 ? v : a->alpha * v;
	case ACT_CLIP: return fminf(fmaxf(v, a->alpha), a->beta);
	case ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)v)));
	case ACT_TANH: return (float)tanh((double)v);
	case ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a->alpha * v + a->beta));
	case ACT_HARD_SWISH: return v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));
	default: return v;
	}
}

static const Activation all_acts[] = {
	{ACT_NONE, 0, 0},           {ACT_RELU, 0, 0}, {ACT_LEAKY_RELU, 0.1f, 0}, {ACT_CLIP, -0.25f, 0.5f},
	{ACT_SIGMOID, 0, 0},        {ACT_TANH, 0, 0}, {ACT_HARD_SIGMOID, 0.2f, 0.5f},
	{ACT_HARD_SWISH, 0, 0},
};

START_TEST(fused_conv)
{
	for (size_t ai = 0; ai < sizeof all_acts / sizeof all_acts[0]; ai++)
		for (int variant = 0; variant < 3; variant++) {
			/* 0: bias + residual, 1: residual only (B omitted), 2: depthwise, bias only */
			Graph *g = graph_new("t");
			bool dw = variant == 2;
			int64_t c = dw ? 4 : 3, m = 4, grp = dw ? 4 : 1;
			Value *x = crand(g, SHAPE(2, c, 5, 6)), *w = crand(g, SHAPE(m, c / grp, 3, 3));
			Value *b = variant == 1 ? NULL : crand(g, SHAPE(m));
			Value *r = variant == 2 ? NULL : crand(g, SHAPE(2, m, 2, 6));
			Node *plain = node(g, OP_Conv, b ? 3 : 2, (Value *[]){x, w, b});
			Node *fused = node(g, OP_FusedConv, r ? 4 : 3, (Value *[]){x, w, b, r});
			ConvAttrs ca = plain->attr.conv;
			ca.group = grp;
			ca.strides = INTS(2, 1);
			ca.pads = INTS(1, 1, 0, 1);
			plain->attr.conv = ca;
			fused->attr.fused_conv.conv = ca;
			fused->attr.fused_conv.act = all_acts[ai];
			Tensor yp = eval1(plain), yf = eval1(fused);
			EXPECT_SHAPE(&yf.shape, 2, 4, 2, 6);
			int64_t numel = tensor_numel(&yp);
			float *want = malloc((size_t)numel * sizeof *want);
			for (int64_t i = 0; i < numel; i++) {
				float v = ((float *)yp.data)[i];
				if (r)
					v += ((float *)r->data)[i];
				want[i] = act_ref(&all_acts[ai], v);
			}
			expect_f("fused conv", &yf, want, numel, 1e-6f);
			free(want);
			tensor_free(&yp);
			tensor_free(&yf);
			graph_free(g);
		}
	/* a residual of the wrong shape is an inference error */
	Graph *g = graph_new("t");
	Value *x = crand(g, SHAPE(1, 2, 4, 4)), *w = crand(g, SHAPE(3, 2, 3, 3)), *r = crand(g, SHAPE(1, 3, 4, 4));
	expect_infer_error(node(g, OP_FusedConv, 4, (Value *[]){x, w, NULL, r}), "residual");
	graph_free(g);
}
END_TEST

START_TEST(fused_gemm)
{
	for (size_t ai = 0; ai < sizeof all_acts / sizeof all_acts[0]; ai++) {
		Graph *g = graph_new("t");
		Value *a = crand(g, SHAPE(4, 3)), *b = crand(g, SHAPE(5, 3)), *c = crand(g, SHAPE(5));
		Value *r = crand(g, SHAPE(4, 5));
		Node *plain = node(g, OP_Gemm, 3, (Value *[]){a, b, c});
		GemmAttrs ga = {1.5f, 0.5f, 0, 1};
		plain->attr.gemm = ga;
		Node *fused = node(g, OP_FusedGemm, 4, (Value *[]){a, b, c, r});
		fused->attr.fused_gemm.gemm = ga;
		fused->attr.fused_gemm.act = all_acts[ai];
		Tensor yp = eval1(plain), yf = eval1(fused);
		float want[20];
		for (int i = 0; i < 20; i++)
			want[i] = act_ref(&all_acts[ai], ((float *)yp.data)[i] + ((float *)r->data)[i]);
		expect_f("fused gemm", &yf, want, 20, 1e-6f);
		tensor_free(&yp);
		tensor_free(&yf);
		graph_free(g);
	}
	Graph *g = graph_new("t");
	Value *a = crand(g, SHAPE(4, 3)), *b = crand(g, SHAPE(3, 5)), *r = crand(g, SHAPE(5, 4));
	expect_infer_error(node(g, OP_FusedGemm, 4, (Value *[]){a, b, NULL, r}), "residual");
	graph_free(g);
}
END_TEST

static Value *const_of(Graph *g, const Tensor *t)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, NULL, t->dtype, &t->shape, &d);
	ck_assert_ptr_nonnull(v);
	memcpy(v->data, t->data, tensor_nbytes(t));
	return v;
}

/* The fused node against the standalone ONNX nodes it replaces: Conv, Add, then the activation
 * op, each run by its own reference kernel. */
START_TEST(fused_vs_standalone_ops)
{
	for (size_t ai = 1; ai < sizeof all_acts / sizeof all_acts[0]; ai++) {
		const Activation *act = &all_acts[ai];
		Graph *g = graph_new("t");
		Value *x = crand(g, SHAPE(1, 3, 6, 5)), *w = crand(g, SHAPE(4, 3, 3, 3)), *b = crand(g, SHAPE(4));
		Value *r = crand(g, SHAPE(1, 4, 6, 5));
		Node *conv = node(g, OP_Conv, 3, (Value *[]){x, w, b});
		conv->attr.conv.pads = INTS(1, 1, 1, 1);
		Tensor t1 = eval1(conv);
		Tensor t2 = eval1(node(g, OP_Add, 2, (Value *[]){const_of(g, &t1), r}));
		Value *sum = const_of(g, &t2);
		static const Op act_op[] = {[ACT_RELU] = OP_Relu, [ACT_LEAKY_RELU] = OP_LeakyRelu, [ACT_CLIP] = OP_Clip,
					   [ACT_SIGMOID] = OP_Sigmoid, [ACT_TANH] = OP_Tanh,
					   [ACT_HARD_SIGMOID] = OP_HardSigmoid, [ACT_HARD_SWISH] = OP_HardSwish};
		Node *an;
		if (act->kind == ACT_CLIP) {
			Value *lo = cf(g, shape_make(0, NULL), &act->alpha), *hi = cf(g, shape_make(0, NULL), &act->beta);
			an = node(g, OP_Clip, 3, (Value *[]){sum, lo, hi});
		} else {
			an = node(g, act_op[act->kind], 1, (Value *[]){sum});
			an->attr.unary.alpha = act->alpha;
			an->attr.unary.beta = act->beta;
		}
		Tensor want = eval1(an);
		Node *fused = node(g, OP_FusedConv, 4, (Value *[]){x, w, b, r});
		fused->attr.fused_conv.conv.pads = INTS(1, 1, 1, 1);
		fused->attr.fused_conv.act = *act;
		Tensor got = eval1(fused);
		expect_f("fused vs ops", &got, want.data, tensor_numel(&want), 1e-6f);
		tensor_free(&t1);
		tensor_free(&t2);
		tensor_free(&want);
		tensor_free(&got);
		graph_free(g);
	}
}
END_TEST

/* Kernels called with run-time shapes that inference never saw must fail cleanly. */
START_TEST(kernel_runtime_guards)
{
	Graph *g = graph_new("t");
	Shape xs = SHAPE(1, 2, 4, 4), ws = SHAPE(3, 2, 3, 3), ys = SHAPE(1, 3, 2, 2), bs = SHAPE(5);
	Tensor x, w, b, y;
	Diag d = {0};
	ck_assert_int_eq(tensor_alloc(&x, DT_F32, &xs, &d), 0);
	ck_assert_int_eq(tensor_alloc(&w, DT_F32, &ws, &d), 0);
	ck_assert_int_eq(tensor_alloc(&b, DT_F32, &bs, &d), 0);
	ck_assert_int_eq(tensor_alloc(&y, DT_F32, &ys, &d), 0);
	Shape su = shape_unknown();
	Value *vx = graph_add_value(g, "x", DT_F32, &su), *vw = graph_add_value(g, "w", DT_F32, &su);
	Value *vb = graph_add_value(g, "b", DT_F32, &su);
	Node *n = node(g, OP_Conv, 3, (Value *[]){vx, vw, vb});
	Tensor *in[3] = {&x, &w, &b}, *out[1] = {&y};
	ck_assert_int_eq(ref_conv(n, in, out, &d), -1);
	ck_assert_msg(strstr(d.msg, "bias has 5 elements") != NULL, "%s", d.msg);
	diag_clear(&d);
	/* output allocated for another geometry */
	n->attr.conv.pads = INTS(1, 1, 1, 1);
	ck_assert_int_eq(ref_conv(n, in, out, &d), -1);
	ck_assert_msg(strstr(d.msg, "disagrees") != NULL, "%s", d.msg);
	diag_clear(&d);
	/* MatMul whose inner dims only disagree at run time */
	Node *mm = node(g, OP_MatMul, 2, (Value *[]){vx, vw});
	Tensor *min[2] = {&x, &w};
	ck_assert_int_eq(ref_matmul(mm, min, out, &d), -1);
	ck_assert_msg(strstr(d.msg, "inner dims differ") != NULL, "%s", d.msg);
	tensor_free(&x);
	tensor_free(&w);
	tensor_free(&b);
	tensor_free(&y);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- normalisation */

START_TEST(batch_norm)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, SHAPE(2, 2, 1, 2), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
	Value *s = cf(g, SHAPE(2), (float[]){2, 1}), *b = cf(g, SHAPE(2), (float[]){1, 0});
	Value *mean = cf(g, SHAPE(2), (float[]){1, 4}), *var = cf(g, SHAPE(2), (float[]){4, 1});
	Node *n = node(g, OP_BatchNormalization, 5, (Value *[]){x, s, b, mean, var});
	n->attr.batch_norm.epsilon = 0;
	/* ch0: (x-1)/2*2+1 = x; ch1: (x-4) */
	Tensor y = eval1(n);
	expect_f("bn", &y, (float[]){1, 2, -1, 0, 5, 6, 3, 4}, 8, 1e-7f);
	tensor_free(&y);
	n = node(g, OP_BatchNormalization, 5, (Value *[]){x, s, b, mean, var});
	n->attr.batch_norm.training_mode = 1;
	expect_infer_error(n, "training_mode=1");
	Value *s3 = cf(g, SHAPE(3), (float[]){1, 1, 1});
	expect_infer_error(node(g, OP_BatchNormalization, 5, (Value *[]){x, s3, b, mean, var}), "scale has 3 values");
	graph_free(g);
}
END_TEST

START_TEST(instance_norm)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, SHAPE(1, 2, 4), (float[]){1, 2, 3, 4, 2, 2, 2, 2});
	Value *s = cf(g, SHAPE(2), (float[]){2, 1}), *b = cf(g, SHAPE(2), (float[]){0, 3});
	Node *n = node(g, OP_InstanceNormalization, 3, (Value *[]){x, s, b});
	/* ch0: mean 2.5, var 1.25; ch1 is constant: x - mean is exactly 0, so the output is B */
	n->attr.instance_norm.epsilon = 1e-30f;
	Tensor y = eval1(n);
	float r = 1.0f / sqrtf(1.25f);
	expect_f("in", &y, (float[]){-3 * r, -r, r, 3 * r, 3, 3, 3, 3}, 8, 1e-6f);
	tensor_free(&y);
	graph_free(g);
}
END_TEST

START_TEST(layer_norm)
{
	Graph *g = graph_new("t");
	Value *x = cf(g, SHAPE(2, 2, 2), (float[]){1, 2, 3, 4, 0, 0, 4, 4});
	/* axis 1: normalise over the last two dims [2,2]; scale broadcast over [2] */
	Value *s = cf(g, SHAPE(2), (float[]){1, 2}), *b = cf(g, SHAPE(2, 2), (float[]){0, 0, 0, 1});
	Node *n = graph_add_node(g, OP_LayerNormalization, NULL, 3, (Value *[]){x, s, b}, 3);
	n->attr.layer_norm.axis = 1;
	n->attr.layer_norm.epsilon = 0.0f;
	Tensor out[3];
	evaln(n, out);
	EXPECT_SHAPE(&out[1].shape, 2, 1, 1);
	ck_assert_int_eq(out[1].dtype, DT_F32);
	/* row 0: mean 2.5, var 1.25; row 1: mean 2, var 4 */
	float r = 1.0f / sqrtf(1.25f);
	expect_f("ln y", &out[0], (float[]){-1.5f * r, -0.5f * 2 * r, 0.5f * r, 1.5f * 2 * r + 1, -1, -2, 1, 3}, 8, 1e-6f);
	expect_f("ln mean", &out[1], (float[]){2.5f, 2}, 2, 1e-7f);
	expect_f("ln inv", &out[2], (float[]){r, 0.5f}, 2, 1e-6f);
	for (int i = 0; i < 3; i++)
		tensor_free(&out[i]);
	/* default axis -1, no bias, single output */
	n = node(g, OP_LayerNormalization, 2, (Value *[]){x, s});
	n->attr.layer_norm.epsilon = 1e-30f; /* rows [0,0]: x - mean is exactly 0 */
	Tensor y = eval1(n);
	expect_f("ln last", &y, (float[]){-1, 2, -1, 2, 0, 0, 0, 0}, 8, 1e-6f);
	tensor_free(&y);
	n = node(g, OP_LayerNormalization, 2, (Value *[]){x, s});
	n->attr.layer_norm.axis = 3;
	expect_infer_error(n, "axis 3");
	Value *s3 = cf(g, SHAPE(3), (float[]){1, 1, 1});
	expect_infer_error(node(g, OP_LayerNormalization, 2, (Value *[]){x, s3}), "does not broadcast");
	graph_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ref_nn");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, conv_hand_checked);
	tcase_add_test(tc, conv_against_naive);
	tcase_add_test(tc, conv_transpose);
	tcase_add_test(tc, conv_inference);
	tcase_add_test(tc, pools);
	tcase_add_test(tc, gemm);
	tcase_add_test(tc, matmul);
	tcase_add_test(tc, gemm_blocking);
	tcase_add_test(tc, fused_conv);
	tcase_add_test(tc, fused_gemm);
	tcase_add_test(tc, fused_vs_standalone_ops);
	tcase_add_test(tc, kernel_runtime_guards);
	tcase_add_test(tc, batch_norm);
	tcase_add_test(tc, instance_norm);
	tcase_add_test(tc, layer_norm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
