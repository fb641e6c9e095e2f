/* The cpu target's pooling, reduction, softmax and normalisation emitters (targets/cpu/
 * emit_pool.c, emit_reduce.c, emit_norm.c, vec.c) against the reference interpreter.
 *
 * The ONNX node tests cover a few shapes per op; these cover the geometry the emitters branch on:
 * vector interiors and scalar edges of pooling rows (strides 1 to 5, dilations, pads, ceil_mode,
 * auto_pad, 1-D to 3-D, kernels wider than the unrolled limit), reductions over every subset of
 * axes (innermost reduced or kept, strips of whole vectors, partial vectors and scalars), ties
 * and NaN in ArgMax/ArgMin, Softmax over inner axes, special values (NaN, infinities, huge
 * numbers), and the normalisations with constant and run-time parameters. Each batch is one
 * graph of many independent nodes, compiled for the host, for haswell (8 lanes) and for generic
 * x86-64 (4 lanes), run with 1 and 3 threads, and compared element by element with the
 * interpreter. cg_exp, the vectorised expf, is also checked directly over its whole range. */
#include "testutil.h"
#include "nnzc/ir.h"
#include "../../targets/cpu/cpu.h"

#include <check.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- random data */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd32() % (uint32_t)(hi - lo + 1)); }
static float rnd_f(float lo, float hi) { return lo + (hi - lo) * (float)(rnd32() & 0xFFFFFF) / (float)0xFFFFFF; }

typedef enum DataMode {
	DATA_UNIFORM,  /* floats in [-4, 4], integers in [-50, 50] */
	DATA_TIES,     /* values in {-2, ..., 2}: many equal values */
	DATA_SPECIAL,  /* uniform, with some NaN, infinities and huge values */
	DATA_NEAR_ONE, /* magnitudes in [0.8, 1.25]: long products stay finite */
	DATA_WIDE,     /* integers anywhere in [-2^40, 2^40]: narrow integer dtypes wrap */
} DataMode;

static void fill(Tensor *t, DataMode mode)
{
	int64_t n = tensor_numel(t);
	for (int64_t i = 0; i < n; i++) {
		if (!dtype_is_float(t->dtype)) {
			((int64_t *)t->data)[i] = mode == DATA_TIES   ? rnd_in(-2, 2)
						  : mode == DATA_WIDE ? (int64_t)(((uint64_t)rnd32() << 32 | rnd32()) >> 23) - ((int64_t)1 << 40)
								      : rnd_in(-50, 50);
			continue;
		}
		float v = mode == DATA_TIES ? (float)rnd_in(-2, 2) : rnd_f(-4.0f, 4.0f);
		if (mode == DATA_NEAR_ONE)
			v = rnd_f(0.8f, 1.25f) * (rnd32() & 1 ? 1.0f : -1.0f);
		if (mode == DATA_SPECIAL) {
			uint32_t r = rnd32() % 100;
			/* no huge finite values: sums of +-1e30 would depend on the order of the terms */
			static const float sp[] = {NAN, INFINITY, -INFINITY, 80.0f, -80.0f};
			if (r < 5)
				v = sp[r];
		}
		((float *)t->data)[i] = v;
	}
	dtype_round(t->dtype, t->data, (size_t)n); /* what an input of that dtype can hold */
}

/* ---------------------------------------------------------------- batches of nodes */

#define MAX_IO 60

typedef struct Batch {
	Graph *g;
	int n_nodes;
	DataMode mode;
	const float *data; /* if set: the values of input 0 (exp sweeps) */
} Batch;

static void batch_init(Batch *b, DataMode mode)
{
	b->g = graph_new("cr");
	b->g->source = "test_cpu_cr";
	b->g->opset = 17;
	b->n_nodes = 0;
	b->mode = mode;
	b->data = NULL;
}

static bool batch_full(const Batch *b) { return b->g->n_outputs + 3 > MAX_IO || b->g->n_inputs + 6 > MAX_IO; }

static Value *input(Batch *b, DType t, Shape s)
{
	Value *v = graph_add_value(b->g, NULL, t, &s);
	graph_add_input(b->g, v);
	return v;
}

static Value *const_i64(Batch *b, int n, const int64_t *v)
{
	Diag d = {0};
	Shape s = shape_make(1, (int64_t[]){n});
	Value *c = graph_add_constant(b->g, NULL, DT_I64, &s, &d);
	ck_assert_msg(c != NULL, "%s", d.msg);
	memcpy(c->data, v, (size_t)n * sizeof *v);
	return c;
}

static Value *const_f32(Batch *b, Shape s, DataMode mode, float lo, float hi)
{
	Diag d = {0};
	Value *c = graph_add_constant(b->g, NULL, DT_F32, &s, &d);
	ck_assert_msg(c != NULL, "%s", d.msg);
	for (int64_t i = 0; i < shape_numel(&s); i++)
		((float *)c->data)[i] = mode == DATA_UNIFORM ? rnd_f(lo, hi) : 1.0f;
	return c;
}

/* Infer n; keep it (outputs become graph outputs) or, when the configuration is invalid, drop it
 * and the `new_inputs` graph inputs made for it. */
static bool keep(Batch *b, Node *n, int new_inputs)
{
	Diag d = {0};
	if (infer_node(n, &d) < 0) {
		n->dead = true;
		b->g->n_inputs -= new_inputs;
		return false;
	}
	for (int i = 0; i < n->n_out; i++)
		graph_add_output(b->g, n->out[i]);
	b->n_nodes++;
	return true;
}

/* rtol: 1e-4 for f32 results, 2e-3 for f16 and bf16 ones (one rounding of either side's
 * float result may land on the neighbouring half) */
static bool close_enough(float got, float want, float scale, float rtol)
{
	if (isnan(want))
		return isnan(got);
	if (isinf(want))
		return got == want;
	return fabsf(got - want) <= rtol * fabsf(want) + 0.1f * rtol * scale + 1e-6f;
}

/* Which node produced output i, for messages */
static const char *producer_of(const Graph *g, int i)
{
	const Value *v = g->outputs[i];
	static char buf[160];
	snprintf(buf, sizeof buf, "%s (%s)", v->producer ? v->producer->name : "?",
		 v->producer ? op_name(v->producer->op) : "?");
	return buf;
}

static void compare(const Graph *g, const Tensor *want, const Tensor *got, const char *variant)
{
	for (int i = 0; i < g->n_outputs; i++) {
		int64_t n = tensor_numel(&want[i]);
		ck_assert_int_eq(n, tensor_numel(&got[i]));
		if (!dtype_is_float(want[i].dtype)) {
			const int64_t *w = want[i].data, *r = got[i].data;
			for (int64_t k = 0; k < n; k++)
				ck_assert_msg(w[k] == r[k], "%s: output %d of %s, element %lld: got %lld, want %lld", variant, i,
					      producer_of(g, i), (long long)k, (long long)r[k], (long long)w[k]);
			continue;
		}
		const float *w = want[i].data, *r = got[i].data;
		DType t = g->outputs[i]->dtype;
		float rtol = t == DT_F16 ? 2e-3f : t == DT_BF16 ? 1.6e-2f : 1e-4f, scale = 0;
		for (int64_t k = 0; k < n; k++)
			if (isfinite(w[k]) && fabsf(w[k]) > scale)
				scale = fabsf(w[k]);
		for (int64_t k = 0; k < n; k++)
			ck_assert_msg(close_enough(r[k], w[k], scale, rtol), "%s: output %d of %s, element %lld: got %.9g, want %.9g",
				      variant, i, producer_of(g, i), (long long)k, (double)r[k], (double)w[k]);
	}
}

static void batch_run(Batch *b);

/* A graph holding a copy of node n alone (its non-constant inputs become graph inputs): with
 * CR_ISOLATE set in the environment, every node of a batch is run on its own, which names the
 * node behind a failure or a hang. */
static void run_isolated(const Batch *b, const Node *n)
{
	Batch one;
	batch_init(&one, b->mode);
	Value *in[8] = {NULL};
	int added = 0;
	for (int i = 0; i < n->n_in; i++) {
		const Value *v = n->in[i];
		if (v == NULL)
			continue;
		if (v->data) {
			Diag d = {0};
			in[i] = graph_add_constant(one.g, NULL, v->dtype, &v->shape, &d);
			memcpy(in[i]->data, v->data, (size_t)shape_numel(&v->shape) * dtype_compute_size(v->dtype));
		} else {
			in[i] = input(&one, v->dtype, v->shape);
			added++;
		}
	}
	Node *c = graph_add_node(one.g, n->op, n->name, n->n_in, in, n->n_out);
	c->attr = n->attr;
	keep(&one, c, added);
	PrintOptions po = {.elide_above = 16};
	graph_print(one.g, stderr, &po);
	batch_run(&one);
}

/* Run the batch on the interpreter and on the cpu target (three CPUs, 1 and 3 threads). */
static void batch_run(Batch *b)
{
	Graph *g = b->g;
	graph_compact(g);
	if (getenv("CR_ISOLATE") && b->n_nodes > 1) {
		for (int i = 0; i < g->n_nodes; i++)
			run_isolated(b, g->nodes[i]);
		graph_free(g);
		return;
	}
	if (b->n_nodes == 0) {
		graph_free(g);
		return;
	}
	Diag d = {0};
	Tensor in[MAX_IO], want[MAX_IO], got[MAX_IO];
	for (int i = 0; i < g->n_inputs; i++) {
		ck_assert(tensor_alloc(&in[i], g->inputs[i]->dtype, &g->inputs[i]->shape, &d) == 0);
		fill(&in[i], b->mode);
		if (i == 0 && b->data)
			memcpy(in[i].data, b->data, tensor_nbytes(&in[i]));
	}
	ck_assert_msg(ref_run(g, in, want, &d) == 0, "ref: %s", d.msg);
	static const char *const cpus[] = {NULL, "haswell", "generic"};
	for (int c = 0; c < 3; c++) {
		CpuOptions opt = {.cpu = cpus[c], .opt_level = 3};
		CpuModel *m = cpu_load(g, &opt, &d);
		ck_assert_msg(m != NULL, "cpu (%s): %s", cpus[c] ? cpus[c] : "host", d.msg);
		for (int threads = 1; threads <= 3; threads += 2) {
			ck_assert_msg(cpu_model_run(m, in, got, threads, &d) == 0, "%s", d.msg);
			char variant[64];
			snprintf(variant, sizeof variant, "cpu %s, %d thread%s", cpus[c] ? cpus[c] : "host", threads,
				 threads > 1 ? "s" : "");
			compare(g, want, got, variant);
			for (int i = 0; i < g->n_outputs; i++)
				tensor_free(&got[i]);
		}
		cpu_model_free(m);
	}
	for (int i = 0; i < g->n_outputs; i++)
		tensor_free(&want[i]);
	for (int i = 0; i < g->n_inputs; i++)
		tensor_free(&in[i]);
	graph_free(g);
}

static Shape rnd_shape(int rank, int64_t lo, int64_t hi)
{
	Shape s = shape_make(rank, NULL);
	for (int i = 0; i < rank; i++)
		s.dim[i] = rnd_in(lo, hi);
	return s;
}

/* ---------------------------------------------------------------- pooling */

static void add_pool(Batch *b, Op op, DType t)
{
	int nsp = (int)rnd_in(1, 3);
	Shape s = shape_make(nsp + 2, NULL);
	s.dim[0] = rnd_in(1, 2);
	s.dim[1] = rnd_in(1, 3);
	for (int i = 0; i < nsp; i++)
		s.dim[2 + i] = i == nsp - 1 ? rnd_in(1, 70) : rnd_in(1, nsp == 3 ? 9 : 20);
	Value *x = input(b, t, s);
	Node *n = graph_add_node(b->g, op, NULL, 1, &x, 1);
	PoolAttrs *a = &n->attr.pool;
	a->kernel_shape.n = a->strides.n = a->dilations.n = nsp;
	a->pads.n = 2 * nsp;
	for (int i = 0; i < nsp; i++) {
		a->kernel_shape.v[i] = rnd_in(1, 4);
		if (i == nsp - 1 && rnd32() % 8 == 0)
			a->kernel_shape.v[i] = rnd_in(15, 22); /* beyond the unrolled tap limit */
		a->strides.v[i] = rnd32() % 3 ? rnd_in(1, 2) : rnd_in(3, 5);
		a->dilations.v[i] = rnd32() % 4 ? 1 : 2;
		a->pads.v[i] = rnd_in(0, a->kernel_shape.v[i] - 1);
		a->pads.v[i + nsp] = rnd_in(0, a->kernel_shape.v[i] - 1);
	}
	a->ceil_mode = rnd32() % 3 == 0;
	a->count_include_pad = rnd32() % 2;
	uint32_t ap = rnd32() % 10;
	a->auto_pad = ap < 7 ? AUTO_PAD_NOTSET : ap == 7 ? AUTO_PAD_SAME_UPPER : ap == 8 ? AUTO_PAD_SAME_LOWER : AUTO_PAD_VALID;
	if (a->auto_pad != AUTO_PAD_NOTSET)
		a->pads.n = 0;
	keep(b, n, 1);
}

START_TEST(pools)
{
	for (int round = 0; round < 6; round++) {
		Batch b;
		batch_init(&b, round == 5 ? DATA_SPECIAL : DATA_UNIFORM);
		while (!batch_full(&b)) {
			uint32_t k = rnd32() % 5; /* MaxPool f32, AveragePool, MaxPool i64 */
			add_pool(&b, k < 2 || k == 4 ? OP_MaxPool : OP_AveragePool, k == 4 ? DT_I64 : DT_F32);
		}
		batch_run(&b);
	}
}
END_TEST

START_TEST(pool_vector_paths)
{
	/* rows long enough for every vector width and stride, with and without edge padding */
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	for (int s = 1; s <= 5; s++)
		for (int k = 1; k <= 3; k += 2)
			for (int op = 0; op < 2; op++) {
				Value *x = input(&b, DT_F32, shape_make(4, (int64_t[]){1, 2, 3, 61 + s}));
				Node *n = graph_add_node(b.g, op ? OP_AveragePool : OP_MaxPool, NULL, 1, &x, 1);
				PoolAttrs *a = &n->attr.pool;
				a->kernel_shape = (Ints){2, {2, k}};
				a->strides = (Ints){2, {1, s}};
				a->pads = (Ints){4, {0, k / 2, 1, k / 2}};
				a->count_include_pad = op && s % 2;
				keep(&b, n, 1);
			}
	/* a ResNet stem pool: 3x3, stride 2, pads 1 */
	Value *x = input(&b, DT_F32, shape_make(4, (int64_t[]){1, 4, 20, 112}));
	Node *n = graph_add_node(b.g, OP_MaxPool, NULL, 1, &x, 1);
	n->attr.pool.kernel_shape = (Ints){2, {3, 3}};
	n->attr.pool.strides = (Ints){2, {2, 2}};
	n->attr.pool.pads = (Ints){4, {1, 1, 1, 1}};
	keep(&b, n, 1);
	batch_run(&b);
}
END_TEST

START_TEST(global_pools)
{
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	static const int64_t sizes[][3] = {{1, 1, 1}, {1, 7, 7}, {1, 1, 49}, {2, 5, 10}, {1, 1, 100}, {3, 4, 5}, {1, 33, 1}};
	for (int i = 0; i < 7; i++)
		for (int op = 0; op < 2; op++) {
			Value *x = input(&b, DT_F32, shape_make(5, (int64_t[]){2, 3, sizes[i][0], sizes[i][1], sizes[i][2]}));
			keep(&b, graph_add_node(b.g, op ? OP_GlobalMaxPool : OP_GlobalAveragePool, NULL, 1, &x, 1), 1);
		}
	Value *x = input(&b, DT_F32, shape_make(3, (int64_t[]){2, 3, 17}));
	keep(&b, graph_add_node(b.g, OP_GlobalMaxPool, NULL, 1, &x, 1), 1);
	batch_run(&b);
}
END_TEST

/* ---------------------------------------------------------------- reductions */

static const Op reduce_ops[] = {OP_ReduceMean, OP_ReduceSum, OP_ReduceMax, OP_ReduceMin, OP_ReduceProd,
				OP_ReduceSumSquare, OP_ReduceL1, OP_ReduceL2, OP_ReduceLogSumExp};

/* axes: a random subset, given as a constant (sometimes negative, sometimes absent = all) */
static void add_reduce(Batch *b, Op op, DType t, Shape s)
{
	Value *x = input(b, t, s);
	int64_t axes[NNZC_MAX_RANK];
	int k = 0;
	for (int i = 0; i < s.rank; i++)
		if (rnd32() % 2)
			axes[k++] = rnd32() % 2 ? i : i - s.rank;
	bool none = rnd32() % 8 == 0;
	Value *in[2] = {x, none ? NULL : const_i64(b, k, axes)};
	Node *n = graph_add_node(b->g, op, NULL, none ? 1 : 2, in, 1);
	n->attr.reduce.keepdims = rnd32() % 2;
	n->attr.reduce.noop_with_empty_axes = k == 0 && rnd32() % 2;
	keep(b, n, 1);
}

START_TEST(reductions_float)
{
	for (int m = 0; m < 2; m++)
		for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
			Batch b;
			Op op = reduce_ops[o];
			batch_init(&b, op == OP_ReduceProd ? DATA_NEAR_ONE : m ? DATA_SPECIAL : DATA_UNIFORM);
			for (int i = 0; i < 24; i++) {
				int rank = (int)rnd_in(1, 4);
				add_reduce(&b, op, DT_F32, rnd_shape(rank, 1, rank <= 2 ? 70 : 13));
			}
			batch_run(&b);
		}
}
END_TEST

START_TEST(reductions_int)
{
	for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
		Batch b;
		Op op = reduce_ops[o];
		batch_init(&b, op == OP_ReduceProd || op == OP_ReduceLogSumExp ? DATA_TIES : DATA_UNIFORM);
		for (int i = 0; i < 20; i++) {
			int rank = (int)rnd_in(1, 4);
			add_reduce(&b, op, DT_I64, rnd_shape(rank, 1, rank <= 2 ? 40 : 9));
		}
		batch_run(&b);
	}
}
END_TEST

START_TEST(reductions_edges)
{
	/* shapes the merging of dims cares about: size-1 dims between reduced ones, a single element,
	 * an empty reduced axis, wide kept rows (full, partial and scalar strips) */
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
		Op op = reduce_ops[o];
		Value *x = input(&b, DT_F32, shape_make(4, (int64_t[]){3, 1, 5, 1}));
		keep(&b, graph_add_node(b.g, op, NULL, 2, (Value *[]){x, const_i64(&b, 2, (int64_t[]){1, 2})}, 1), 1);
		x = input(&b, DT_F32, shape_make(3, (int64_t[]){1, 1, 1}));
		keep(&b, graph_add_node(b.g, op, NULL, 2, (Value *[]){x, const_i64(&b, 1, (int64_t[]){1})}, 1), 1);
		x = input(&b, DT_F32, shape_make(2, (int64_t[]){4, 0}));
		keep(&b, graph_add_node(b.g, op, NULL, 2, (Value *[]){x, const_i64(&b, 1, (int64_t[]){1})}, 1), 1);
		x = input(&b, DT_I64, shape_make(2, (int64_t[]){3, 0}));
		keep(&b, graph_add_node(b.g, op, NULL, 2, (Value *[]){x, const_i64(&b, 1, (int64_t[]){1})}, 1), 1);
		x = input(&b, DT_F32, shape_make(3, (int64_t[]){5, 3, 157}));
		keep(&b, graph_add_node(b.g, op, NULL, 2, (Value *[]){x, const_i64(&b, 2, (int64_t[]){0, 1})}, 1), 1);
		if (batch_full(&b)) {
			batch_run(&b);
			batch_init(&b, DATA_UNIFORM);
		}
	}
	batch_run(&b);
}
END_TEST

/* ---------------------------------------------------------------- ArgMax, ArgMin */

START_TEST(arg_reduce)
{
	for (int m = 0; m < 3; m++) {
		Batch b;
		batch_init(&b, m == 0 ? DATA_UNIFORM : m == 1 ? DATA_TIES : DATA_SPECIAL);
		while (!batch_full(&b)) {
			int rank = (int)rnd_in(1, 4);
			Shape s = rnd_shape(rank, 1, rank <= 2 ? 80 : 12);
			Value *x = input(&b, m == 1 && rnd32() % 2 ? DT_I64 : DT_F32, s);
			Node *n = graph_add_node(b.g, rnd32() % 2 ? OP_ArgMax : OP_ArgMin, NULL, 1, &x, 1);
			n->attr.arg_reduce.axis = rnd_in(-rank, rank - 1);
			n->attr.arg_reduce.keepdims = rnd32() % 2;
			n->attr.arg_reduce.select_last_index = rnd32() % 2;
			keep(&b, n, 1);
		}
		batch_run(&b);
	}
}
END_TEST

/* ---------------------------------------------------------------- Softmax, LogSoftmax */

START_TEST(softmax)
{
	for (int m = 0; m < 2; m++) {
		Batch b;
		batch_init(&b, m ? DATA_SPECIAL : DATA_UNIFORM);
		while (!batch_full(&b)) {
			int rank = (int)rnd_in(1, 4);
			Shape s = rnd_shape(rank, 1, rank <= 2 ? 90 : 12);
			Value *x = input(&b, DT_F32, s);
			Node *n = graph_add_node(b.g, rnd32() % 2 ? OP_Softmax : OP_LogSoftmax, NULL, 1, &x, 1);
			n->attr.axis.axis = rnd_in(-rank, rank - 1);
			keep(&b, n, 1);
		}
		batch_run(&b);
	}
}
END_TEST

/* Softmax over pairs (0, v): the second output is e^v / (1 + e^v), which is e^v itself once
 * v < -17, so this sweeps cg_exp over (-110, 0] including the subnormal results; LogSoftmax
 * over the same pairs checks the log-sum-exp side. Tolerance 1e-6 relative. */
START_TEST(softmax_exp_range)
{
	enum { N = 4096 };
	static float data[2 * N];
	for (int i = 0; i < N; i++) {
		data[2 * i] = 0.0f;
		data[2 * i + 1] = -110.0f * (float)i / (float)(N - 1);
	}
	data[1] = NAN;
	data[3] = -INFINITY;
	for (int op = 0; op < 2; op++) {
		Batch b;
		batch_init(&b, DATA_UNIFORM);
		b.data = data;
		Value *x = input(&b, DT_F32, shape_make(2, (int64_t[]){N, 2}));
		Node *n = graph_add_node(b.g, op ? OP_LogSoftmax : OP_Softmax, NULL, 1, &x, 1);
		n->attr.axis.axis = 1;
		keep(&b, n, 1);
		graph_compact(b.g);
		Diag d = {0};
		Tensor in, want, got;
		ck_assert(tensor_alloc(&in, DT_F32, &x->shape, &d) == 0);
		memcpy(in.data, data, sizeof data);
		ck_assert_msg(ref_run(b.g, &in, &want, &d) == 0, "%s", d.msg);
		static const char *const cpus[] = {NULL, "haswell", "generic"};
		for (int c = 0; c < 3; c++) {
			CpuOptions opt = {.cpu = cpus[c], .opt_level = 3};
			CpuModel *m = cpu_load(b.g, &opt, &d);
			ck_assert_msg(m != NULL, "%s", d.msg);
			ck_assert(cpu_model_run(m, &in, &got, 1, &d) == 0);
			const float *w = want.data, *r = got.data;
			for (int i = 0; i < 2 * N; i++) {
				/* LogSoftmax of the larger element is -log(1 + e^v): 0 in float arithmetic once
				 * e^v < 2^-24, about -e^v in the interpreter's double sum; Softmax results below
				 * 2^-126 are subnormal, where one ulp is 2^-149 whatever the value */
				float atol = op ? 1e-7f : 1.5e-45f; /* subnormal results: one unit of 2^-149 */
				bool ok = isnan(w[i]) ? isnan(r[i]) : r[i] == w[i] || fabsf(r[i] - w[i]) <= 1e-6f * fabsf(w[i]) + atol;
				ck_assert_msg(ok, "%s on %s: element %d (v = %g): got %.9g, want %.9g", op ? "LogSoftmax" : "Softmax",
					      cpus[c] ? cpus[c] : "host", i, (double)data[i | 1], (double)r[i], (double)w[i]);
			}
			tensor_free(&got);
			cpu_model_free(m);
		}
		tensor_free(&in);
		tensor_free(&want);
		graph_free(b.g);
	}
}
END_TEST

/* ---------------------------------------------------------------- normalisation */

START_TEST(batch_norm)
{
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	static const int64_t shapes[][4] = {{2, 3, 0, 0}, {3, 37, 0, 0}, {2, 4, 5, 0}, {1, 3, 17, 9}, {2, 2, 1, 1}};
	static const int ranks[] = {2, 2, 3, 4, 4};
	for (int i = 0; i < 5; i++)
		for (int konst = 0; konst < 2; konst++) {
			Shape s = shape_make(ranks[i], shapes[i]);
			Shape cs = shape_make(1, (int64_t[]){s.dim[1]});
			Value *in[5];
			in[0] = input(&b, DT_F32, s);
			int added = 1;
			for (int k = 1; k < 5; k++) {
				if (konst || k == 4) { /* a run-time variance would be negative half the time */
					in[k] = const_f32(&b, cs, DATA_UNIFORM, k == 4 ? 0.1f : -2.0f, 2.0f);
				} else {
					in[k] = input(&b, DT_F32, cs);
					added++;
				}
			}
			Node *n = graph_add_node(b.g, OP_BatchNormalization, NULL, 5, in, 1);
			n->attr.batch_norm.epsilon = 1e-3f;
			keep(&b, n, added);
		}
	batch_run(&b);
}
END_TEST

START_TEST(instance_norm)
{
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	static const int64_t shapes[][5] = {{2, 3, 1}, {1, 4, 7, 5}, {2, 2, 100}, {1, 3, 2, 3, 17}, {3, 1, 33}};
	static const int ranks[] = {3, 4, 3, 5, 3};
	for (int i = 0; i < 5; i++) {
		Shape s = shape_make(ranks[i], shapes[i]);
		Shape cs = shape_make(1, (int64_t[]){s.dim[1]});
		Value *in[3] = {input(&b, DT_F32, s), const_f32(&b, cs, DATA_UNIFORM, -2, 2), NULL};
		in[2] = rnd32() % 2 ? const_f32(&b, cs, DATA_UNIFORM, -2, 2) : input(&b, DT_F32, cs);
		Node *n = graph_add_node(b.g, OP_InstanceNormalization, NULL, 3, in, 1);
		n->attr.instance_norm.epsilon = 1e-5f;
		keep(&b, n, in[2]->data ? 1 : 2);
	}
	batch_run(&b);
}
END_TEST

START_TEST(layer_norm)
{
	Batch b;
	batch_init(&b, DATA_UNIFORM);
	for (int i = 0; i < 16; i++) {
		int rank = (int)rnd_in(1, 4);
		Shape s = rnd_shape(rank, 1, rank <= 2 ? 60 : 9);
		int axis = (int)rnd_in(0, rank - 1);
		Shape norm = shape_make(rank - axis, s.dim + axis);
		/* scale: the normalised shape, a broadcast suffix of it, or a run-time input */
		Shape ss = norm;
		int kind = (int)(rnd32() % 3);
		if (kind == 1 && ss.rank > 1) {
			ss = shape_make(ss.rank - 1, ss.dim + 1);
			ss.dim[0] = 1;
		}
		Value *x = input(&b, DT_F32, s);
		int added = 1;
		Value *sc, *bias = NULL;
		if (kind == 2) {
			sc = input(&b, DT_F32, norm);
			added++;
		} else {
			sc = const_f32(&b, ss, DATA_UNIFORM, -2, 2);
		}
		if (rnd32() % 3)
			bias = const_f32(&b, norm, DATA_UNIFORM, -1, 1);
		int n_out = (int)rnd_in(1, 3);
		Node *n = graph_add_node(b.g, OP_LayerNormalization, NULL, bias ? 3 : 2, (Value *[]){x, sc, bias}, n_out);
		n->attr.layer_norm.axis = rnd32() % 2 ? axis : axis - rank;
		n->attr.layer_norm.epsilon = 1e-5f;
		keep(&b, n, added);
	}
	batch_run(&b);
}
END_TEST

/* ---------------------------------------------------------------- dtypes other than f32 and i64 */

/* Results are rounded to the output dtype (f16 rounding, int32 and uint8 wrap-around) like the
 * interpreter's ref_round_result. */
START_TEST(narrow_dtypes)
{
	for (int fp = 0; fp < 2; fp++) {
		Batch b;
		batch_init(&b, fp ? DATA_UNIFORM : DATA_WIDE);
		static const DType fts[] = {DT_F16, DT_BF16}, its[] = {DT_I32, DT_U8, DT_I16};
		for (int k = 0; k < (fp ? 2 : 3); k++) {
			DType t = fp ? fts[k] : its[k];
			Op ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceSumSquare, OP_ReduceMax, OP_ReduceL2};
			for (int o = 0; o < 5; o++)
				for (int64_t ax = 1; ax <= 2; ax++) { /* strips, then rows */
					/* the result feeds a ReduceMax (a graph output would be rounded anyway, by
					 * the conversion to the caller's dtype): the max of unrounded values differs */
					Value *x = input(&b, t, shape_make(3, (int64_t[]){3, 21, 19}));
					Node *r = graph_add_node(b.g, ops[o], NULL, 2, (Value *[]){x, const_i64(&b, 1, &ax)}, 1);
					Diag d = {0};
					ck_assert_msg(infer_node(r, &d) == 0, "%s", d.msg);
					int64_t last = 1;
					keep(&b, graph_add_node(b.g, OP_ReduceMax, NULL, 2, (Value *[]){r->out[0], const_i64(&b, 1, &last)}, 1), 1);
				}
			Value *x = input(&b, t, shape_make(4, (int64_t[]){1, 2, 9, 37}));
			Node *n = graph_add_node(b.g, fp ? OP_AveragePool : OP_MaxPool, NULL, 1, &x, 1);
			n->attr.pool.kernel_shape = (Ints){2, {2, 3}};
			n->attr.pool.pads = (Ints){4, {1, 1, 0, 1}};
			keep(&b, n, 1);
			if (!fp)
				continue;
			x = input(&b, t, shape_make(2, (int64_t[]){7, 45}));
			n = graph_add_node(b.g, k ? OP_LogSoftmax : OP_Softmax, NULL, 1, &x, 1);
			n->attr.axis.axis = k ? 0 : 1;
			keep(&b, n, 1);
			x = input(&b, t, shape_make(3, (int64_t[]){2, 3, 40}));
			keep(&b, graph_add_node(b.g, OP_GlobalAveragePool, NULL, 1, &x, 1), 1);
			x = input(&b, t, shape_make(3, (int64_t[]){4, 5, 33}));
			Shape ns = shape_make(1, (int64_t[]){33});
			n = graph_add_node(b.g, OP_LayerNormalization, NULL, 2, (Value *[]){x, const_f32(&b, ns, DATA_UNIFORM, -2, 2)}, 3);
			n->attr.layer_norm.axis = -1;
			n->attr.layer_norm.epsilon = 1e-5f;
			n->attr.layer_norm.stash_type = 0; /* statistics in the input's dtype */
			keep(&b, n, 1);
		}
		batch_run(&b);
	}
}
END_TEST

/* ---------------------------------------------------------------- cg_exp itself */

/* A task that maps exp over vectors of `lanes` floats: bufs[0] input, bufs[1] output, one
 * iteration per vector; built with the emitter helpers and run by LLJIT on the host. */
typedef void (*TaskFn)(void *bufs, int64_t begin, int64_t end);

static void check_exp_lanes(int lanes)
{
	LLVMInitializeNativeTarget();
	LLVMInitializeNativeAsmPrinter();
	LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
	Cg cg = {0};
	Diag d = {0};
	cg.d = &d;
	cg.ctx = LLVMOrcThreadSafeContextGetContext(tsc);
	cg.mod = LLVMModuleCreateWithNameInContext("exp", cg.ctx);
	cg.b = LLVMCreateBuilderInContext(cg.ctx);
	cg.t_void = LLVMVoidTypeInContext(cg.ctx);
	cg.t_i1 = LLVMInt1TypeInContext(cg.ctx);
	cg.t_i8 = LLVMInt8TypeInContext(cg.ctx);
	cg.t_i32 = LLVMInt32TypeInContext(cg.ctx);
	cg.t_i64 = LLVMInt64TypeInContext(cg.ctx);
	cg.t_f32 = LLVMFloatTypeInContext(cg.ctx);
	cg.t_f64 = LLVMDoubleTypeInContext(cg.ctx);
	cg.t_ptr = LLVMPointerTypeInContext(cg.ctx, 0);
	cg.t_task = LLVMFunctionType(cg.t_void, (LLVMTypeRef[]){cg.t_ptr, cg.t_i64, cg.t_i64}, 3, 0);
	cg.vlen = lanes;
	LLVMValueRef fn = cg_task_begin(&cg, "exp");
	LLVMTypeRef t = lanes > 1 ? cg_vec(&cg, cg.t_f32, lanes) : cg.t_f32;
	LLVMValueRef src = LLVMBuildLoad2(cg.b, cg.t_ptr, cg_gep(&cg, cg.t_ptr, cg.bufs, cg_i64(&cg, 0)), "");
	LLVMValueRef dst = LLVMBuildLoad2(cg.b, cg.t_ptr, cg_gep(&cg, cg.t_ptr, cg.bufs, cg_i64(&cg, 1)), "");
	Loop l;
	LLVMValueRef i = cg_for(&cg, &l, cg.begin, cg.end, 1, "i");
	LLVMValueRef at = LLVMBuildMul(cg.b, i, cg_i64(&cg, lanes), "");
	cg_store(&cg, cg_exp(&cg, cg_load(&cg, t, src, at)), dst, at);
	cg_for_end(&cg, &l);
	cg_task_end(&cg);
	LLVMSetLinkage(fn, LLVMExternalLinkage);
	size_t len;
	const char *name = LLVMGetValueName2(fn, &len);
	char sym[96];
	snprintf(sym, sizeof sym, "%s", name);
	LLVMDisposeBuilder(cg.b);
	/* the structural records cg_task_begin/end keep (codegen.c's free_cg does this for models) */
	free(cg.tasks);
	free(cg.args);
	free(cg.data_ptrs);

	LLVMOrcLLJITRef jit;
	ck_assert(LLVMOrcCreateLLJIT(&jit, NULL) == NULL);
	LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(cg.mod, tsc);
	ck_assert(LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm) == NULL);
	LLVMOrcExecutorAddress addr = 0;
	ck_assert(LLVMOrcLLJITLookup(jit, &addr, sym) == NULL);
	TaskFn task = (TaskFn)(uintptr_t)addr;

	/* every float in [-110, 100] at a fine step, the thresholds, and the special values */
	enum { N = 1 << 20 };
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	ck_assert(x && y);
	static const float special[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 88.72283f, 88.7228394f, 88.72284f,
					-87.33654f, -87.33655f, -103.27893f, -103.972084f, -103.97209f, -104.0f,
					-150.0f, 89.0f, 1e-8f, -1e-8f, 1e30f, -1e30f, 0.34657359f, -0.34657359f};
	int ns = (int)(sizeof special / sizeof special[0]);
	for (int k = 0; k < N; k++)
		x[k] = k < ns ? special[k] : -110.0f + 210.0f * (float)(k - ns) / (float)(N - ns);
	void *bufs[2] = {x, y};
	task(bufs, 0, N / lanes);
	for (int k = 0; k < N; k++) {
		float want = (float)exp((double)x[k]);
		if (isnan(x[k])) {
			ck_assert_msg(isnan(y[k]), "exp(NaN) = %g", (double)y[k]);
			continue;
		}
		if (isinf(want) || want == 0.0f) {
			/* within one step of the threshold a correctly rounded neighbour is fine */
			bool ok = y[k] == want || fabsf(y[k] - want) <= 1.5e-45f ||
				  (isinf(want) && y[k] >= 3.4028230e38f) || (isinf(y[k]) && x[k] > 88.7228f);
			ck_assert_msg(ok, "exp(%.9g) = %.9g, want %.9g (%d lanes)", (double)x[k], (double)y[k], (double)want, lanes);
			continue;
		}
		/* error in units of the last place of the correctly rounded result; subnormals have a
		 * fixed ulp of 2^-149 */
		double ulp = want < 1.17549435e-38f ? 1.4012984643e-45 : (double)nextafterf(want, INFINITY) - (double)want;
		double err = fabs((double)y[k] - (double)want) / ulp;
		ck_assert_msg(err <= 2.0, "exp(%.9g) = %.9g, want %.9g: %.2f ulp (%d lanes)", (double)x[k], (double)y[k],
			      (double)want, err, lanes);
	}
	free(x);
	free(y);
	LLVMOrcDisposeLLJIT(jit);
	LLVMOrcDisposeThreadSafeContext(tsc);
}

START_TEST(exp_accuracy)
{
	check_exp_lanes(1);
	check_exp_lanes(4);
	check_exp_lanes(16);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cpu_cr");
	TCase *tc = tcase_create("emitters");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, pools);
	tcase_add_test(tc, pool_vector_paths);
	tcase_add_test(tc, global_pools);
	tcase_add_test(tc, reductions_float);
	tcase_add_test(tc, reductions_int);
	tcase_add_test(tc, reductions_edges);
	tcase_add_test(tc, arg_reduce);
	tcase_add_test(tc, softmax);
	tcase_add_test(tc, softmax_exp_range);
	tcase_add_test(tc, batch_norm);
	tcase_add_test(tc, instance_norm);
	tcase_add_test(tc, layer_norm);
	tcase_add_test(tc, narrow_dtypes);
	tcase_add_test(tc, exp_accuracy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
