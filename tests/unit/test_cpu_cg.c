/* The cpu target's matrix-product and convolution emitters (targets/cpu/gemm.c, emit_gemm.c,
 * emit_conv.c, emit_conv_transpose.c) against the reference interpreter.
 *
 * The ONNX node tests have a handful of tiny shapes; these cover what the emitters branch on:
 * partial micro-tiles in rows and columns, the two micro-tile heights, tiles and chunks split
 * over threads, k-blocked im2col panels, strides 1 to 5 (wide load + shuffle, lane by lane),
 * dilations, asymmetric pads, 1-D and 3-D, groups, depthwise with a channel multiplier and rows
 * long enough for the interior loop, batches of images, weights given at run time, every fused
 * activation with bias and residual, Gemm's transposes, alpha, beta and every broadcast of C,
 * batched and broadcast MatMul with 1-D operands, integer products, and ConvTranspose with groups,
 * strides, dilations and output padding.
 *
 * Operands are multiples of 1/8 in [-1/2, 1/2], so every product and partial sum is exact in
 * float: the generated code must match the interpreter whatever its summation order (to rtol
 * 1e-3 only because of the transcendental activations). Each graph is compiled for the host,
 * for haswell (8 lanes) and for generic x86-64 (4 lanes, no FMA), and for the host with the dense
 * micro-tile 3 vectors wide, and run with 1 and 3 threads. */
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define INTS(...) ((Ints){(int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), {__VA_ARGS__}})

static uint32_t rng_state = 12345;

static int rnd_int(int lo, int hi)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return lo + (int)((rng_state >> 16) % (uint32_t)(hi - lo + 1));
}

/* multiples of 1/8 in [-1/2, 1/2] */
static float rnd(void) { return (float)rnd_int(-4, 4) / 8.0f; }

static void fill(Tensor *t)
{
	int64_t n = tensor_numel(t);
	for (int64_t i = 0; i < n; i++) {
		if (dtype_is_float(t->dtype))
			((float *)t->data)[i] = rnd();
		else
			((int64_t *)t->data)[i] = rnd_int(-9, 9);
	}
	if (n > 0)
		dtype_round(t->dtype, t->data, (size_t)n);
}

static Value *input(Graph *g, const char *name, DType t, Shape s)
{
	Value *v = graph_add_value(g, name, t, &s);
	graph_add_input(g, v);
	return v;
}

static Value *constant(Graph *g, DType t, Shape s)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, NULL, t, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	Tensor tv = value_tensor(v);
	fill(&tv);
	return v;
}

/* an operand that is a constant or a graph input */
static Value *operand(Graph *g, const char *name, bool as_input, Shape s)
{
	return as_input ? input(g, name, DT_F32, s) : constant(g, DT_F32, s);
}

static bool same(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabsf(a - b) <= 1e-5f + 1e-3f * fabsf(b);
}

/* ref_run against the cpu target at three vector widths and two thread counts */
static void check_graph(Graph *g)
{
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s: infer: %s", g->name, d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s: verify: %s", g->name, d.msg);
	Tensor in[8], want[4];
	for (int i = 0; i < g->n_inputs; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], g->inputs[i]->dtype, &g->inputs[i]->shape, &d), 0);
		fill(&in[i]);
	}
	ck_assert_msg(ref_run(g, in, want, &d) == 0, "%s: ref: %s", g->name, d.msg);
	/* the host once more with the dense micro-tile widened to 3 vectors where gemm.c may
	 * (CpuOptions.dense_vectors, what a calibrated cost model can choose) */
	static const char *const cpus[] = {NULL, "haswell", "generic", NULL};
	static const int dense_vectors[] = {0, 0, 0, 3};
	for (int k = 0; k < 4; k++) {
		CpuOptions opt = {.cpu = cpus[k], .opt_level = 2, .dense_vectors = dense_vectors[k]};
		const char *label = cpus[k] ? cpus[k] : dense_vectors[k] ? "host, dense micro-tile 3 vectors" : "host";
		CpuModel *m = cpu_load(g, &opt, &d);
		ck_assert_msg(m != NULL, "%s: cpu %s: %s", g->name, label, d.msg);
		for (int threads = 1; threads <= 3; threads += 2) {
			Tensor got[4];
			ck_assert_msg(cpu_model_run(m, in, got, threads, &d) == 0, "%s: run: %s", g->name, d.msg);
			for (int o = 0; o < g->n_outputs; o++) {
				int64_t n = tensor_numel(&want[o]);
				ck_assert(shape_equal(&got[o].shape, &want[o].shape));
				for (int64_t i = 0; i < n; i++) {
					if (dtype_is_float(want[o].dtype)) {
						float a = ((float *)got[o].data)[i], b = ((float *)want[o].data)[i];
						ck_assert_msg(same(a, b), "%s (cpu %s, %d threads): element %lld is %.9g, expected %.9g",
							      g->name, label, threads, (long long)i, a, b);
					} else {
						int64_t a = ((int64_t *)got[o].data)[i], b = ((int64_t *)want[o].data)[i];
						ck_assert_msg(a == b, "%s (cpu %s, %d threads): element %lld is %lld, expected %lld",
							      g->name, label, threads, (long long)i, (long long)a,
							      (long long)b);
					}
				}
				tensor_free(&got[o]);
			}
		}
		cpu_model_free(m);
	}
	for (int i = 0; i < g->n_inputs; i++)
		tensor_free(&in[i]);
	for (int o = 0; o < g->n_outputs; o++)
		tensor_free(&want[o]);
	graph_free(g);
}

/* ---------------------------------------------------------------- convolution cases */

typedef struct ConvCase {
	const char *name;
	int nsp;                /* spatial dims */
	int64_t n, c, m, group;
	int64_t in[3], k[3], stride[3], dil[3], pads[6];
	bool bias, residual, runtime_w;
	int act;                /* ActKind; FusedConv when act or residual */
	float alpha, beta;
} ConvCase;

static const ConvCase conv_cases[] = {
	{.name = "pointwise_tails", .nsp = 2, .n = 1, .c = 37, .m = 50, .group = 1, .in = {13, 11}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true},
	{.name = "pointwise_batch3", .nsp = 2, .n = 3, .c = 16, .m = 29, .group = 1, .in = {7, 9}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true},
	{.name = "pointwise_small_m", .nsp = 2, .n = 1, .c = 24, .m = 3, .group = 1, .in = {10, 10}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true},
	{.name = "pointwise_big", .nsp = 2, .n = 1, .c = 96, .m = 160, .group = 1, .in = {28, 28}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = false, .runtime_w = false, .act = ACT_RELU},
	/* at least GEMM_WIDE_MIN_K terms and GEMM_WIDE_MIN_M rows: the micro-tile that may be 3
	 * vectors wide, with rows in blocks of 9 and 8, partial column tiles, im2col and gathered B */
	{.name = "pointwise_wide", .nsp = 2, .n = 1, .c = 130, .m = 70, .group = 1, .in = {13, 17}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .act = ACT_RELU},
	{.name = "3x3_wide", .nsp = 2, .n = 1, .c = 16, .m = 66, .group = 1, .in = {15, 21}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "3x3_stride2_wide", .nsp = 2, .n = 2, .c = 15, .m = 64, .group = 1, .in = {19, 19}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .act = ACT_RELU},
	{.name = "3x3_pad1", .nsp = 2, .n = 1, .c = 20, .m = 29, .group = 1, .in = {17, 23}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "3x3_stride2_asym", .nsp = 2, .n = 2, .c = 8, .m = 16, .group = 1, .in = {15, 31}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0, 1, 1, 0}, .bias = true},
	{.name = "5x5_dil2", .nsp = 2, .n = 1, .c = 5, .m = 7, .group = 1, .in = {20, 9}, .k = {5, 5}, .stride = {1, 1}, .dil = {2, 2}, .pads = {4, 4, 4, 4}},
	{.name = "1x1_stride2", .nsp = 2, .n = 1, .c = 16, .m = 24, .group = 1, .in = {14, 14}, .k = {1, 1}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0}, .bias = true},
	{.name = "2x4_stride3", .nsp = 2, .n = 1, .c = 6, .m = 9, .group = 1, .in = {20, 40}, .k = {2, 4}, .stride = {3, 3}, .dil = {1, 1}, .pads = {1, 0, 2, 3}, .bias = true},
	{.name = "3x3_stride5", .nsp = 2, .n = 1, .c = 4, .m = 5, .group = 1, .in = {23, 41}, .k = {3, 3}, .stride = {5, 5}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "7x7_stride2_wide", .nsp = 2, .n = 1, .c = 3, .m = 12, .group = 1, .in = {30, 130}, .k = {7, 7}, .stride = {2, 2}, .dil = {1, 1}, .pads = {3, 3, 3, 3}, .bias = true, .residual = false, .runtime_w = false, .act = ACT_RELU},
	{.name = "grouped", .nsp = 2, .n = 1, .c = 16, .m = 32, .group = 4, .in = {9, 10}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "grouped_pointwise", .nsp = 2, .n = 2, .c = 12, .m = 18, .group = 3, .in = {5, 6}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true},
	{.name = "kblocked_3x3", .nsp = 2, .n = 1, .c = 200, .m = 40, .group = 1, .in = {16, 16}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_RELU},
	{.name = "kblocked_7x7", .nsp = 2, .n = 1, .c = 150, .m = 30, .group = 1, .in = {7, 7}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	/* few pixels, many channels: the transposed product (channels in the lanes) */
	{.name = "trans_3x3_7x7", .nsp = 2, .n = 1, .c = 20, .m = 40, .group = 1, .in = {7, 7}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "trans_pointwise_batch2", .nsp = 2, .n = 2, .c = 24, .m = 70, .group = 1, .in = {5, 7}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .act = ACT_HARD_SWISH},
	{.name = "trans_strided_pointwise", .nsp = 2, .n = 1, .c = 16, .m = 64, .group = 1, .in = {13, 13}, .k = {1, 1}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .act = ACT_RELU},
	{.name = "trans_kblocked", .nsp = 2, .n = 1, .c = 300, .m = 48, .group = 1, .in = {6, 6}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .act = ACT_SIGMOID},
	{.name = "trans_1d", .nsp = 1, .n = 1, .c = 9, .m = 50, .group = 1, .in = {22}, .k = {3}, .stride = {1}, .dil = {1}, .pads = {0, 0}, .bias = true},
	{.name = "1d", .nsp = 1, .n = 2, .c = 6, .m = 10, .group = 1, .in = {100}, .k = {5}, .stride = {2}, .dil = {1}, .pads = {2, 2}, .bias = true},
	{.name = "1d_long_rows", .nsp = 1, .n = 1, .c = 4, .m = 6, .group = 1, .in = {20000}, .k = {3}, .stride = {1}, .dil = {1}, .pads = {1, 0}, .bias = true},
	{.name = "1d_pointwise", .nsp = 1, .n = 1, .c = 9, .m = 11, .group = 1, .in = {70}, .k = {1}, .stride = {1}, .dil = {1}, .pads = {0}, .bias = true},
	{.name = "3d", .nsp = 3, .n = 1, .c = 4, .m = 6, .group = 1, .in = {5, 6, 7}, .k = {3, 2, 3}, .stride = {1, 2, 1}, .dil = {1, 1, 1}, .pads = {1, 0, 1, 1, 1, 0}, .bias = true},
	{.name = "3d_depthwise", .nsp = 3, .n = 1, .c = 5, .m = 5, .group = 5, .in = {4, 6, 9}, .k = {2, 3, 3}, .stride = {1, 1, 2}, .dil = {1, 1, 1}, .pads = {0, 1, 1, 1, 1, 1}, .bias = true},
	/* small "same" maps: the plane walked as one flat row */
	{.name = "depthwise_flat_7x7", .nsp = 2, .n = 2, .c = 20, .m = 20, .group = 20, .in = {7, 7}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .act = ACT_CLIP, .alpha = 0.0f, .beta = 0.5f},
	{.name = "depthwise_flat_dil2_5x5", .nsp = 2, .n = 1, .c = 8, .m = 16, .group = 8, .in = {11, 13}, .k = {5, 3}, .stride = {1, 1}, .dil = {2, 2}, .pads = {4, 2, 4, 2}, .bias = true},
	{.name = "depthwise_flat_3d", .nsp = 3, .n = 1, .c = 3, .m = 3, .group = 3, .in = {3, 5, 6}, .k = {3, 3, 3}, .stride = {1, 1, 1}, .dil = {1, 1, 1}, .pads = {1, 1, 1, 1, 1, 1}},
	{.name = "depthwise", .nsp = 2, .n = 1, .c = 24, .m = 24, .group = 24, .in = {30, 45}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "depthwise_long_rows", .nsp = 2, .n = 1, .c = 3, .m = 3, .group = 3, .in = {3, 400}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	{.name = "depthwise_s2_mult2_dil", .nsp = 2, .n = 2, .c = 6, .m = 12, .group = 6, .in = {19, 37}, .k = {3, 3}, .stride = {2, 2}, .dil = {2, 2}, .pads = {2, 1, 2, 2}, .bias = true},
	/* rows computed in blocks (3 at stride 1, 2 strided): block remainders, row splits of a
	 * plane over iterations, the looped interior, taller kernels */
	{.name = "depthwise_row_blocks_wide", .nsp = 2, .n = 1, .c = 3, .m = 3, .group = 3, .in = {31, 300}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_RELU},
	{.name = "depthwise_row_blocks_s2", .nsp = 2, .n = 1, .c = 4, .m = 4, .group = 4, .in = {29, 333}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true},
	/* stride 2 with 2 or 3 taps: each position's input loaded once, split into even and odd
	 * columns; edges where the split's last element lies past the row */
	{.name = "depthwise_s2_split_k2", .nsp = 2, .n = 1, .c = 5, .m = 5, .group = 5, .in = {9, 40}, .k = {2, 2}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0, 0, 0, 0}, .bias = true},
	{.name = "depthwise_s2_split_odd", .nsp = 2, .n = 1, .c = 3, .m = 3, .group = 3, .in = {11, 35}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0, 1, 1, 0}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_RELU},
	{.name = "depthwise_s2_split_wide", .nsp = 2, .n = 1, .c = 2, .m = 2, .group = 2, .in = {6, 131}, .k = {3, 3}, .stride = {1, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}},
	{.name = "depthwise_row_blocks_5x5", .nsp = 2, .n = 1, .c = 6, .m = 6, .group = 6, .in = {13, 50}, .k = {5, 5}, .stride = {1, 1}, .dil = {1, 1}, .pads = {2, 2, 2, 2}, .bias = true},
	{.name = "depthwise_stride3_wide", .nsp = 2, .n = 1, .c = 2, .m = 2, .group = 2, .in = {5, 200}, .k = {3, 5}, .stride = {1, 3}, .dil = {1, 1}, .pads = {1, 2, 1, 2}},
	{.name = "runtime_weights", .nsp = 2, .n = 1, .c = 10, .m = 14, .group = 1, .in = {9, 13}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = false, .runtime_w = true},
	{.name = "runtime_weights_pointwise", .nsp = 2, .n = 1, .c = 10, .m = 14, .group = 1, .in = {9, 13}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .runtime_w = true},
	{.name = "runtime_weights_depthwise", .nsp = 2, .n = 1, .c = 7, .m = 7, .group = 7, .in = {9, 40}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = true},
	{.name = "fused_leaky", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_LEAKY_RELU, .alpha = 0.1f},
	{.name = "fused_clip", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {6, 17}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_CLIP, .alpha = -0.25f, .beta = 0.5f},
	{.name = "fused_sigmoid", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_SIGMOID},
	{.name = "fused_tanh", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_TANH},
	{.name = "fused_hard_sigmoid", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}, .pads = {0}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_HARD_SIGMOID, .alpha = 0.2f, .beta = 0.5f},
	{.name = "fused_hard_swish", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_HARD_SWISH},
	{.name = "fused_depthwise_clip", .nsp = 2, .n = 1, .c = 16, .m = 16, .group = 16, .in = {12, 21}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .runtime_w = false, .act = ACT_CLIP, .alpha = 0.0f, .beta = 0.25f},
	{.name = "fused_depthwise_tanh", .nsp = 2, .n = 1, .c = 4, .m = 4, .group = 4, .in = {12, 21}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = false, .runtime_w = false, .act = ACT_TANH},
};

static Ints spatial(int nsp, const int64_t *v)
{
	Ints r = {nsp, {0}};
	for (int i = 0; i < nsp; i++)
		r.v[i] = v[i];
	return r;
}

START_TEST(test_conv)
{
	const ConvCase *c = &conv_cases[_i];
	Graph *g = graph_new(c->name);
	int64_t xd[5] = {c->n, c->c}, wd[5] = {c->m, c->c / c->group};
	for (int i = 0; i < c->nsp; i++) {
		xd[2 + i] = c->in[i];
		wd[2 + i] = c->k[i];
	}
	Value *x = input(g, "x", DT_F32, shape_make(c->nsp + 2, xd));
	Value *w = operand(g, "w", c->runtime_w, shape_make(c->nsp + 2, wd));
	Value *in[4] = {x, w, c->bias ? operand(g, "b", c->runtime_w, SHAPE(c->m)) : NULL, NULL};
	bool fused = c->residual || c->act != ACT_NONE;
	Node *n = graph_add_node(g, fused ? OP_FusedConv : OP_Conv, "conv", 3, in, 1);
	ConvAttrs *a = fused ? &n->attr.fused_conv.conv : &n->attr.conv;
	a->group = c->group;
	a->kernel_shape = spatial(c->nsp, c->k);
	a->strides = spatial(c->nsp, c->stride);
	a->dilations = spatial(c->nsp, c->dil);
	a->pads.n = 2 * c->nsp;
	for (int i = 0; i < 2 * c->nsp; i++)
		a->pads.v[i] = c->pads[i];
	if (fused) {
		n->attr.fused_conv.act = (Activation){c->act, c->alpha, c->beta};
		if (c->residual) {
			/* R has the output's shape: infer it first */
			Diag d = {0};
			ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
			Value *r = input(g, "r", DT_F32, n->out[0]->shape);
			Value **nin = arena_alloc(g->arena, 4 * sizeof *nin);
			memcpy(nin, n->in, 3 * sizeof *nin);
			nin[3] = r;
			n->in = nin;
			n->n_in = 4;
		}
	}
	graph_add_output(g, n->out[0]);
	check_graph(g);
}
END_TEST

/* ---------------------------------------------------------------- Gemm */

typedef struct GemmCase {
	const char *name;
	int64_t m, k, n;
	int ta, tb;
	float alpha, beta;
	int c_rank;          /* -1: no C; 0: scalar; 1: [n] or [1]; 2: see c_rows/c_cols */
	int64_t c_rows, c_cols;
	bool b_runtime, a_const, residual;
	int act;
	DType dt;
} GemmCase;

static const GemmCase gemm_cases[] = {
	{.name = "fc_batch1", .m = 1, .k = 300, .n = 1000, .ta = 0, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 1000},
	{.name = "fc_batch2_vector_c", .m = 2, .k = 77, .n = 45, .ta = 0, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 45},
	{.name = "const_b_tails", .m = 13, .k = 70, .n = 33, .ta = 0, .tb = 0, .alpha = 0.5f, .beta = 2.0f, .c_rank = 2, .c_rows = 13, .c_cols = 33},
	{.name = "trans_a_runtime_b", .m = 9, .k = 20, .n = 50, .ta = 1, .tb = 0, .alpha = 1, .beta = 1, .c_rank = 2, .c_rows = 9, .c_cols = 1, .b_runtime = true},
	{.name = "trans_b_runtime_gather", .m = 17, .k = 31, .n = 40, .ta = 0, .tb = 1, .alpha = 1.5f, .beta = 0.5f, .c_rank = 2, .c_rows = 1, .c_cols = 40, .b_runtime = true},
	{.name = "trans_both_scalar_c", .m = 6, .k = 12, .n = 19, .ta = 1, .tb = 1, .alpha = 1, .beta = 3.0f, .c_rank = 0, .c_rows = 0, .c_cols = 0, .b_runtime = true},
	{.name = "one_elem_c", .m = 5, .k = 8, .n = 21, .ta = 0, .tb = 0, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 1, .b_runtime = true},
	{.name = "beta_zero", .m = 4, .k = 8, .n = 21, .ta = 0, .tb = 0, .alpha = 1, .beta = 0.0f, .c_rank = 2, .c_rows = 4, .c_cols = 21, .b_runtime = true},
	{.name = "no_c", .m = 30, .k = 40, .n = 70, .ta = 0, .tb = 0, .alpha = 1, .beta = 1, .c_rank = -1, .c_rows = 0, .c_cols = 0, .b_runtime = false, .a_const = true},
	{.name = "big", .m = 130, .k = 200, .n = 180, .ta = 0, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 180},
	{.name = "fused_sigmoid_residual", .m = 8, .k = 50, .n = 70, .ta = 0, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 70, .b_runtime = false, .a_const = false, .residual = true, .act = ACT_SIGMOID},
	{.name = "fused_relu_runtime_b", .m = 3, .k = 50, .n = 70, .ta = 0, .tb = 0, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 70, .b_runtime = true, .a_const = false, .residual = false, .act = ACT_RELU},
	{.name = "empty_k", .m = 4, .k = 0, .n = 6, .ta = 0, .tb = 0, .alpha = 1, .beta = 1, .c_rank = 1, .c_rows = 0, .c_cols = 6, .b_runtime = true},
	{.name = "int_unit", .m = 5, .k = 7, .n = 9, .ta = 0, .tb = 1, .alpha = 1, .beta = 1, .c_rank = 2, .c_rows = 5, .c_cols = 9, .b_runtime = false, .a_const = false, .residual = false, .act = ACT_NONE, .dt = DT_I64},
	{.name = "int_scaled", .m = 5, .k = 7, .n = 9, .ta = 1, .tb = 0, .alpha = 0.5f, .beta = 2.0f, .c_rank = 1, .c_rows = 0, .c_cols = 9, .b_runtime = true, .a_const = false, .residual = false, .act = ACT_NONE, .dt = DT_I64},
	{.name = "int32_wrap", .m = 4, .k = 6, .n = 5, .ta = 0, .tb = 0, .alpha = 1, .beta = 1, .c_rank = -1, .c_rows = 0, .c_cols = 0, .b_runtime = true, .a_const = false, .residual = false, .act = ACT_NONE, .dt = DT_I32},
};

START_TEST(test_gemm)
{
	const GemmCase *c = &gemm_cases[_i];
	DType dt = c->dt ? c->dt : DT_F32;
	Graph *g = graph_new(c->name);
	Shape sa = c->ta ? SHAPE(c->k, c->m) : SHAPE(c->m, c->k), sb = c->tb ? SHAPE(c->n, c->k) : SHAPE(c->k, c->n);
	Value *a = c->a_const ? constant(g, dt, sa) : input(g, "a", dt, sa);
	Value *b = c->b_runtime ? input(g, "b", dt, sb) : constant(g, dt, sb);
	Value *cv = NULL;
	if (c->c_rank == 0)
		cv = constant(g, dt, shape_make(0, NULL));
	else if (c->c_rank == 1)
		cv = constant(g, dt, SHAPE(c->c_cols));
	else if (c->c_rank == 2)
		cv = input(g, "c", dt, SHAPE(c->c_rows, c->c_cols));
	bool fused = c->residual || c->act != ACT_NONE;
	Value *in[4] = {a, b, cv, NULL};
	if (c->residual)
		in[3] = input(g, "r", dt, SHAPE(c->m, c->n));
	Node *n = graph_add_node(g, fused ? OP_FusedGemm : OP_Gemm, "gemm", c->residual ? 4 : cv ? 3 : 2, in, 1);
	GemmAttrs *ga = fused ? &n->attr.fused_gemm.gemm : &n->attr.gemm;
	*ga = (GemmAttrs){c->alpha, c->beta, c->ta, c->tb};
	if (fused)
		n->attr.fused_gemm.act = (Activation){c->act, 0, 0};
	graph_add_output(g, n->out[0]);
	check_graph(g);
}
END_TEST

/* ---------------------------------------------------------------- MatMul */

typedef struct MatMulCase {
	const char *name;
	Shape a, b;
	bool b_const;
	DType dt;
} MatMulCase;

START_TEST(test_matmul)
{
	const MatMulCase cases[] = {
		{.name = "2d_const_b", .a = SHAPE(19, 40), .b = SHAPE(40, 70), .b_const = true},
		{.name = "3d_stacked_const_b", .a = SHAPE(3, 7, 20), .b = SHAPE(20, 9), .b_const = true},
		{.name = "batched_broadcast", .a = SHAPE(2, 3, 5, 6), .b = SHAPE(3, 6, 40), .b_const = false},
		{.name = "batched_broadcast_a", .a = SHAPE(1, 5, 6), .b = SHAPE(4, 6, 33), .b_const = false},
		{.name = "vec_mat", .a = SHAPE(30), .b = SHAPE(30, 50), .b_const = false},
		{.name = "mat_vec", .a = SHAPE(12, 30), .b = SHAPE(30), .b_const = false},
		{.name = "vec_vec", .a = SHAPE(30), .b = SHAPE(30), .b_const = false},
		{.name = "batched_mat_vec", .a = SHAPE(4, 3, 8), .b = SHAPE(8), .b_const = true},
		{.name = "int", .a = SHAPE(2, 4, 5), .b = SHAPE(5, 3), .b_const = false, .dt = DT_I64},
		{.name = "int_batched", .a = SHAPE(3, 4, 5), .b = SHAPE(3, 5, 6), .b_const = true, .dt = DT_I64},
	};
	const MatMulCase *c = &cases[_i];
	DType dt = c->dt ? c->dt : DT_F32;
	Graph *g = graph_new(c->name);
	Value *a = input(g, "a", dt, c->a);
	Value *b = c->b_const ? constant(g, dt, c->b) : input(g, "b", dt, c->b);
	Node *n = graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){a, b}, 1);
	graph_add_output(g, n->out[0]);
	check_graph(g);
}
END_TEST

/* ---------------------------------------------------------------- ConvTranspose */

typedef struct CtCase {
	const char *name;
	int nsp;
	int64_t n, c, mg, group, in[3], k[3], stride[3], dil[3], pads[6], outpad[3];
	bool bias;
} CtCase;

START_TEST(test_conv_transpose)
{
	const CtCase cases[] = {
		{.name = "2d_s2_outpad", .nsp = 2, .n = 1, .c = 6, .mg = 4, .group = 1, .in = {7, 9}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .outpad = {1, 1}, .bias = true},
		{.name = "2d_grouped_dil", .nsp = 2, .n = 2, .c = 8, .mg = 3, .group = 2, .in = {5, 6}, .k = {3, 2}, .stride = {1, 2}, .dil = {2, 1}, .pads = {0, 1, 2, 0}, .outpad = {0, 0}, .bias = true},
		{.name = "2d_s1_wide", .nsp = 2, .n = 1, .c = 3, .mg = 5, .group = 1, .in = {4, 70}, .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .outpad = {0, 0}, .bias = false},
		{.name = "1d_s3", .nsp = 1, .n = 1, .c = 4, .mg = 2, .group = 1, .in = {11}, .k = {4}, .stride = {3}, .dil = {1}, .pads = {1, 2}, .outpad = {2}, .bias = true},
		{.name = "3d", .nsp = 3, .n = 1, .c = 2, .mg = 3, .group = 1, .in = {3, 4, 5}, .k = {2, 3, 2}, .stride = {2, 1, 2}, .dil = {1, 1, 1}, .pads = {0, 1, 0, 1, 0, 1}, .outpad = {1, 0, 0}, .bias = true},
	};
	const CtCase *c = &cases[_i];
	Graph *g = graph_new(c->name);
	int64_t xd[5] = {c->n, c->c}, wd[5] = {c->c, c->mg};
	for (int i = 0; i < c->nsp; i++) {
		xd[2 + i] = c->in[i];
		wd[2 + i] = c->k[i];
	}
	Value *x = input(g, "x", DT_F32, shape_make(c->nsp + 2, xd));
	Value *w = constant(g, DT_F32, shape_make(c->nsp + 2, wd));
	Value *b = c->bias ? constant(g, DT_F32, SHAPE(c->mg * c->group)) : NULL;
	Node *n = graph_add_node(g, OP_ConvTranspose, "ct", b ? 3 : 2, (Value *[]){x, w, b}, 1);
	ConvAttrs *a = &n->attr.conv;
	a->group = c->group;
	a->kernel_shape = spatial(c->nsp, c->k);
	a->strides = spatial(c->nsp, c->stride);
	a->dilations = spatial(c->nsp, c->dil);
	a->output_padding = spatial(c->nsp, c->outpad);
	a->pads.n = 2 * c->nsp;
	for (int i = 0; i < 2 * c->nsp; i++)
		a->pads.v[i] = c->pads[i];
	graph_add_output(g, n->out[0]);
	check_graph(g);
}
END_TEST

/* f16 tensors: every result rounded to f16 as the interpreter rounds it (a k-blocked product
 * rounds once, at the end) */
START_TEST(test_f16)
{
	Graph *g = graph_new("f16");
	Diag d = {0};
	Value *x = input(g, "x", DT_F16, SHAPE(1, 40, 9, 9));
	Value *wc = constant(g, DT_F16, SHAPE(24, 40, 3, 3)), *bc = constant(g, DT_F16, SHAPE(24));
	Node *conv = graph_add_node(g, OP_Conv, "conv", 3, (Value *[]){x, wc, bc}, 1);
	conv->attr.conv.pads = INTS(1, 1, 1, 1);
	Value *wd = constant(g, DT_F16, SHAPE(40, 1, 3, 3));
	Node *dw = graph_add_node(g, OP_Conv, "dw", 2, (Value *[]){x, wd}, 1);
	dw->attr.conv.group = 40;
	dw->attr.conv.strides = INTS(2, 2);
	Value *wt = constant(g, DT_F16, SHAPE(40, 3, 2, 2));
	Node *ct = graph_add_node(g, OP_ConvTranspose, "ct", 2, (Value *[]){x, wt}, 1);
	ct->attr.conv.strides = INTS(2, 2);
	Value *a = input(g, "a", DT_F16, SHAPE(5, 300)), *b = constant(g, DT_F16, SHAPE(300, 70));
	Node *mm = graph_add_node(g, OP_MatMul, "mm", 2, (Value *[]){a, b}, 1);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	graph_add_output(g, conv->out[0]);
	graph_add_output(g, dw->out[0]);
	graph_add_output(g, ct->out[0]);
	graph_add_output(g, mm->out[0]);
	check_graph(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpu_cg");
	TCase *tc = tcase_create("products");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_conv, 0, (int)(sizeof conv_cases / sizeof *conv_cases));
	tcase_add_loop_test(tc, test_gemm, 0, (int)(sizeof gemm_cases / sizeof *gemm_cases));
	tcase_add_loop_test(tc, test_matmul, 0, 10);
	tcase_add_loop_test(tc, test_conv_transpose, 0, 5);
	tcase_add_test(tc, test_f16);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
