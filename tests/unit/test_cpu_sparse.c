/* The cpu target's sparse convolution kernels (targets/cpu/spmm.c, chosen in emit_conv.c) against
 * the reference interpreter, forced with CpuOptions.kernels = CPU_KERNELS_SPARSE, and the
 * default choice (auto) on dense and pruned weights.
 *
 * What the kernels branch on: B read in place (1x1 stride 1), stride-1 kernels over a padded copy
 * of the input (padded_cases: asymmetric pads, odd and narrow widths, padded 1x1, 1-D, vectors
 * crossing output rows; the same cases and the main ones again on im2col panels with the padded
 * path switched off), im2col panels (3x3, 5x5, strides,
 * dilations, asymmetric pads, 1-D, 3-D), panels split into k-blocks (partial sums in C), tails
 * of pixel tiles (masks), groups (one A block per group), row groups of one (unstructured, 2:4)
 * and of 2 to 8 (bsr blocks, dense weights), weights with no non-zero at all, all-zero rows,
 * chunks of rows over threads, every epilogue (bias, residual, activations), batches.
 *
 * Operands are multiples of 1/8 in [-1/2, 1/2] so that every partial sum is exact in float:
 * any summation order must match the interpreter (rtol 1e-3 only for the transcendental
 * activations). Each graph is compiled for the host (16 lanes), haswell (8) and generic x86-64
 * (4, no FMA), and run with 1 and 2 threads. */
#include "nnzc/ir.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng = 777;

static int rnd_int(int lo, int hi)
{
	rng = rng * 1664525u + 1013904223u;
	return lo + (int)((rng >> 16) % (uint32_t)(hi - lo + 1));
}

/* a non-zero multiple of 1/8 in [-1/2, 1/2] */
static float rnd_nz(void)
{
	int v = rnd_int(1, 4);
	return (float)(rnd_int(0, 1) ? v : -v) / 8.0f;
}

static float rnd(void) { return (float)rnd_int(-4, 4) / 8.0f; }

static void fill(Tensor *t)
{
	int64_t n = tensor_numel(t);
	for (int64_t i = 0; i < n; i++)
		((float *)t->data)[i] = rnd();
}

static Value *input(Graph *g, const char *name, Shape s)
{
	Value *v = graph_add_value(g, name, DT_F32, &s);
	graph_add_input(g, v);
	return v;
}

static bool same(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabsf(a - b) <= 1e-5f + 1e-3f * fabsf(b);
}

/* the interpreter against the cpu target (kernels as given) at three vector widths, 1 and 2
 * threads; `kernel`: a substring the conv node's kernel name must contain, or NULL */
static bool panels_only; /* CpuOptions.sparse_panels_only of check_graph's compilations */
static const char *absent_kernel; /* a kernel no layer of check_graph's compilations may run */
static int sparse_kind;  /* CpuOptions.sparse_kind of them (0: the cheapest sparse kind) */
static int want_buffers; /* > 0: the workspace buffers their plans must have */

static void check_graph(Graph *g, CpuKernels kernels, const char *kernel)
{
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s: infer: %s", g->name, d.msg);
	ck_assert_msg(graph_verify(g, &d) == 0, "%s: verify: %s", g->name, d.msg);
	Tensor in[4], want[2];
	for (int i = 0; i < g->n_inputs; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], g->inputs[i]->dtype, &g->inputs[i]->shape, &d), 0);
		fill(&in[i]);
	}
	ck_assert_msg(ref_run(g, in, want, &d) == 0, "%s: ref: %s", g->name, d.msg);
	static const char *const cpus[] = {NULL, "haswell", "generic"};
	for (int k = 0; k < 3; k++) {
		CpuReport rep;
		memset(&rep, 0, sizeof rep);
		CpuOptions opt = {.cpu = cpus[k], .opt_level = 2, .kernels = kernels, .sparse_kind = sparse_kind,
				  .sparse_panels_only = panels_only, .report = &rep};
		CpuModel *m = cpu_load(g, &opt, &d);
		ck_assert_msg(m != NULL, "%s: cpu %s: %s", g->name, cpus[k] ? cpus[k] : "host", d.msg);
		if (kernel) {
			bool found = false;
			for (int l = 0; l < rep.n_layers; l++)
				found = found || (rep.layers[l].kernel && strstr(rep.layers[l].kernel, kernel));
			ck_assert_msg(found, "%s: no layer runs a %s kernel", g->name, kernel);
		}
		if (want_buffers > 0)
			ck_assert_msg(rep.n_buffers == want_buffers, "%s: %d workspace buffers, expected %d", g->name,
				      rep.n_buffers, want_buffers);
		for (int l = 0; absent_kernel && l < rep.n_layers; l++)
			ck_assert_msg(!rep.layers[l].kernel || !strstr(rep.layers[l].kernel, absent_kernel),
				      "%s: layer %d runs a %s kernel", g->name, l, absent_kernel);
		cpu_report_free(&rep);
		for (int threads = 1; threads <= 2; threads++) {
			Tensor got[2];
			ck_assert_msg(cpu_model_run(m, in, got, threads, &d) == 0, "%s: run: %s", g->name, d.msg);
			for (int o = 0; o < g->n_outputs; o++) {
				int64_t n = tensor_numel(&want[o]);
				ck_assert(shape_equal(&got[o].shape, &want[o].shape));
				for (int64_t i = 0; i < n; i++) {
					float a = ((float *)got[o].data)[i], b = ((float *)want[o].data)[i];
					ck_assert_msg(same(a, b), "%s (cpu %s, %d threads): element %lld is %.9g, expected %.9g",
						      g->name, cpus[k] ? cpus[k] : "host", threads, (long long)i, a, b);
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

/* ---------------------------------------------------------------- weights */

typedef enum Pattern { P_RANDOM, P_NM24, P_BSR4, P_BSR2, P_ZERO_ROWS } Pattern;

/* W[m][cg][taps]: non-zero with probability `density` (P_RANDOM), 2 of every 4 input channels
 * at each tap (P_NM24), blocks of 4 or 2 output channels x 1 sharing their zeros (P_BSR*), or
 * every other row empty and the rest random (P_ZERO_ROWS) */
static void make_weights(float *w, int64_t m, int64_t cg, int64_t taps, Pattern pat, double density)
{
	int64_t k = cg * taps;
	for (int64_t r = 0; r < m; r++)
		for (int64_t i = 0; i < k; i++) {
			bool keep;
			switch (pat) {
			case P_NM24: {
				int64_t c = i / taps, t = i % taps;
				/* positions 0 and 2 or 1 and 3 of each group, varying by row and tap */
				keep = (c % 4) % 2 == (r + t) % 2 && c % 4 < 4;
				break;
			}
			case P_BSR4:
			case P_BSR2: {
				int64_t br = pat == P_BSR4 ? 4 : 2;
				uint32_t h = (uint32_t)((r / br) * 2654435761u) ^ (uint32_t)(i * 40503u);
				keep = (h >> 7) % 1000 < (uint32_t)(density * 1000);
				break;
			}
			case P_ZERO_ROWS: keep = r % 2 == 1 && rnd_int(0, 999) < (int)(density * 1000); break;
			default: keep = rnd_int(0, 999) < (int)(density * 1000); break;
			}
			w[r * k + i] = keep ? rnd_nz() : 0.0f;
		}
}

/* ---------------------------------------------------------------- cases */

typedef struct Case {
	const char *name;
	int nsp;
	int64_t n, c, m, group;
	int64_t in[3], k[3], stride[3], dil[3], pads[6];
	bool bias, residual;
	int act;
	float alpha, beta;
	Pattern pat;
	double density;
} Case;

#define K1 .k = {1, 1}, .stride = {1, 1}, .dil = {1, 1}
#define S1 .stride = {1, 1}, .dil = {1, 1}
#define K3 .k = {3, 3}, .stride = {1, 1}, .dil = {1, 1}, .pads = {1, 1, 1, 1}

static const Case cases[] = {
	/* 1x1 stride 1: B read in place */
	{.name = "pw_d05", .nsp = 2, .n = 1, .c = 64, .m = 40, .group = 1, .in = {14, 14}, K1, .bias = true, .density = 0.05},
	{.name = "pw_d0", .nsp = 2, .n = 1, .c = 32, .m = 24, .group = 1, .in = {9, 11}, K1, .bias = true, .density = 0.0},
	{.name = "pw_d0_nobias_relu", .nsp = 2, .n = 1, .c = 16, .m = 8, .group = 1, .in = {5, 5}, K1, .act = ACT_RELU, .density = 0.0},
	{.name = "pw_d05_odd", .nsp = 2, .n = 2, .c = 37, .m = 29, .group = 1, .in = {13, 11}, K1, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.5},
	{.name = "pw_d1", .nsp = 2, .n = 1, .c = 24, .m = 33, .group = 1, .in = {7, 7}, K1, .bias = true, .density = 1.0},
	{.name = "pw_big_tiles", .nsp = 2, .n = 1, .c = 256, .m = 64, .group = 1, .in = {28, 28}, K1, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.1},
	{.name = "pw_nm24", .nsp = 2, .n = 1, .c = 64, .m = 48, .group = 1, .in = {14, 14}, K1, .bias = true, .pat = P_NM24},
	{.name = "pw_bsr4", .nsp = 2, .n = 1, .c = 64, .m = 32, .group = 1, .in = {10, 10}, K1, .bias = true, .act = ACT_RELU, .pat = P_BSR4, .density = 0.2},
	{.name = "pw_bsr2_grouped", .nsp = 2, .n = 2, .c = 32, .m = 24, .group = 2, .in = {6, 9}, K1, .bias = true, .pat = P_BSR2, .density = 0.3},
	{.name = "pw_zero_rows", .nsp = 2, .n = 1, .c = 48, .m = 30, .group = 1, .in = {8, 8}, K1, .bias = true, .residual = true, .pat = P_ZERO_ROWS, .density = 0.3},
	/* a tail of one vector folded into the micro-tile before it: 8x10 = 64 + 16 columns read in
	 * place at 16 lanes, 28x28 = 12 x 64 + 16 */
	{.name = "pw_fold_direct", .nsp = 2, .n = 2, .c = 24, .m = 16, .group = 1, .in = {8, 10}, K1, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pw_fold_28", .nsp = 2, .n = 1, .c = 40, .m = 20, .group = 1, .in = {28, 28}, K1, .bias = true, .density = 0.5},
	{.name = "pw_few_cols", .nsp = 2, .n = 1, .c = 40, .m = 20, .group = 1, .in = {1, 3}, K1, .bias = true, .density = 0.4},
	/* whole vectors and one column (patterns: the column as a lane tail): 7x7 = 3 x 16 + 1, with
	 * k-blocks and a residual; 17 = 16 + 1 with groups of 2 rows; 5x13 = 4 x 16 + 1, 2 images */
	{.name = "pw_lane_tail_7x7", .nsp = 2, .n = 1, .c = 96, .m = 40, .group = 1, .in = {7, 7}, K1, .bias = true, .act = ACT_RELU, .density = 0.4},
	{.name = "pw_lane_tail_kblocks", .nsp = 2, .n = 1, .c = 700, .m = 24, .group = 1, .in = {7, 7}, K1, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pw_lane_tail_r2", .nsp = 2, .n = 1, .c = 64, .m = 18, .group = 1, .in = {1, 17}, K1, .bias = true, .density = 0.5},
	{.name = "pw_lane_tail_batch", .nsp = 2, .n = 2, .c = 32, .m = 12, .group = 1, .in = {5, 13}, K1, .residual = true, .pat = P_NM24},
	/* 14x14 rows (196 floats) packed into an aligned panel, one k-block at a time (several) */
	{.name = "pw_packed_kblocks", .nsp = 2, .n = 1, .c = 600, .m = 32, .group = 1, .in = {14, 14}, K1, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.45},
	/* im2col panels */
	{.name = "3x3_d05", .nsp = 2, .n = 1, .c = 16, .m = 24, .group = 1, .in = {17, 23}, K3, .bias = true, .density = 0.05},
	{.name = "3x3_d05_7x7", .nsp = 2, .n = 1, .c = 64, .m = 64, .group = 1, .in = {7, 7}, K3, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.05},
	{.name = "3x3_d1_7x7", .nsp = 2, .n = 1, .c = 20, .m = 40, .group = 1, .in = {7, 7}, K3, .bias = true, .density = 1.0},
	{.name = "3x3_d0", .nsp = 2, .n = 1, .c = 8, .m = 8, .group = 1, .in = {9, 9}, K3, .bias = true, .act = ACT_SIGMOID, .density = 0.0},
	{.name = "3x3_kblocks", .nsp = 2, .n = 1, .c = 512, .m = 32, .group = 1, .in = {7, 7}, K3, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.1},
	{.name = "3x3_kblocks_14", .nsp = 2, .n = 1, .c = 300, .m = 20, .group = 1, .in = {14, 14}, K3, .bias = true, .density = 0.2},
	{.name = "3x3_kblocks_bsr4", .nsp = 2, .n = 1, .c = 400, .m = 16, .group = 1, .in = {7, 7}, K3, .bias = true, .pat = P_BSR4, .density = 0.1},
	{.name = "3x3_nm24", .nsp = 2, .n = 1, .c = 32, .m = 32, .group = 1, .in = {14, 14}, K3, .bias = true, .act = ACT_RELU, .pat = P_NM24},
	{.name = "3x3_s2_asym", .nsp = 2, .n = 2, .c = 8, .m = 16, .group = 1, .in = {15, 31}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {0, 1, 1, 0}, .bias = true, .density = 0.5},
	{.name = "1x1_s2", .nsp = 2, .n = 1, .c = 64, .m = 32, .group = 1, .in = {14, 14}, .k = {1, 1}, .stride = {2, 2}, .dil = {1, 1}, .bias = true, .residual = true, .density = 0.1},
	{.name = "5x5_dil2", .nsp = 2, .n = 1, .c = 6, .m = 7, .group = 1, .in = {20, 9}, .k = {5, 5}, .stride = {1, 1}, .dil = {2, 2}, .pads = {4, 4, 4, 4}, .density = 0.5},
	{.name = "5x5_s2_d005", .nsp = 2, .n = 1, .c = 12, .m = 20, .group = 1, .in = {21, 21}, .k = {5, 5}, .stride = {2, 2}, .dil = {1, 1}, .pads = {2, 2, 2, 2}, .bias = true, .act = ACT_HARD_SWISH, .density = 0.05},
	{.name = "7x7_s2_wide", .nsp = 2, .n = 1, .c = 3, .m = 12, .group = 1, .in = {30, 130}, .k = {7, 7}, .stride = {2, 2}, .dil = {1, 1}, .pads = {3, 3, 3, 3}, .bias = true, .act = ACT_RELU, .density = 0.3},
	{.name = "grouped_3x3", .nsp = 2, .n = 1, .c = 16, .m = 32, .group = 4, .in = {9, 10}, K3, .bias = true, .density = 0.3},
	{.name = "grouped_3x3_d1", .nsp = 2, .n = 2, .c = 12, .m = 24, .group = 3, .in = {6, 7}, K3, .bias = true, .residual = true, .act = ACT_TANH, .density = 1.0},
	{.name = "1d", .nsp = 1, .n = 2, .c = 6, .m = 10, .group = 1, .in = {100}, .k = {5}, .stride = {2}, .dil = {1}, .pads = {2, 2}, .bias = true, .density = 0.3},
	{.name = "1d_pointwise", .nsp = 1, .n = 1, .c = 9, .m = 11, .group = 1, .in = {70}, .k = {1}, .stride = {1}, .dil = {1}, .bias = true, .density = 0.3},
	{.name = "3d", .nsp = 3, .n = 1, .c = 4, .m = 6, .group = 1, .in = {5, 6, 7}, .k = {3, 2, 3}, .stride = {1, 2, 1}, .dil = {1, 1, 1}, .pads = {1, 0, 1, 1, 1, 0}, .bias = true, .density = 0.3},
	{.name = "fused_leaky", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, K3, .bias = true, .residual = true, .act = ACT_LEAKY_RELU, .alpha = 0.1f, .density = 0.2},
	{.name = "fused_clip", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {6, 17}, K1, .bias = true, .residual = true, .act = ACT_CLIP, .alpha = -0.25f, .beta = 0.5f, .density = 0.2},
	{.name = "fused_hard_sigmoid", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, K3, .bias = true, .act = ACT_HARD_SIGMOID, .alpha = 0.2f, .beta = 0.5f, .density = 0.2},
};

/* Stride-1 kernels over a zero-padded copy of the input (spmm.c, plan_padded): bands of
 * output rows, micro-tiles across rows (one store per output row a vector touches), the right
 * pad's lanes dropped. `kernel` of the Case name: what the report must show. */
static const Case padded_cases[] = {
	{.name = "pad_3x3_asym", .nsp = 2, .n = 1, .c = 8, .m = 16, .group = 1, .in = {15, 31}, S1, .k = {3, 3}, .pads = {0, 1, 2, 0}, .bias = true, .density = 0.35},
	{.name = "pad_1x1_padded", .nsp = 2, .n = 2, .c = 24, .m = 16, .group = 1, .in = {9, 13}, K1, .pads = {1, 0, 0, 2}, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pad_5x5_odd", .nsp = 2, .n = 1, .c = 6, .m = 10, .group = 1, .in = {11, 19}, S1, .k = {5, 5}, .pads = {2, 1, 2, 3}, .bias = true, .density = 0.3},
	{.name = "pad_3x5_nopad", .nsp = 2, .n = 1, .c = 7, .m = 9, .group = 1, .in = {10, 23}, S1, .k = {3, 5}, .bias = true, .residual = true, .density = 0.35},
	{.name = "pad_wide_rows", .nsp = 2, .n = 1, .c = 8, .m = 12, .group = 1, .in = {5, 150}, K3, .bias = true, .residual = true, .density = 0.3},
	{.name = "pad_narrow_w2", .nsp = 2, .n = 1, .c = 10, .m = 8, .group = 1, .in = {20, 2}, K3, .bias = true, .residual = true, .density = 0.35},
	{.name = "pad_narrow_w1", .nsp = 2, .n = 1, .c = 10, .m = 8, .group = 1, .in = {23, 1}, K3, .bias = true, .residual = true, .density = 0.35},
	{.name = "pad_column_3x1", .nsp = 2, .n = 1, .c = 5, .m = 6, .group = 1, .in = {33, 1}, S1, .k = {3, 1}, .pads = {1, 0, 1, 0}, .bias = true, .density = 0.35},
	{.name = "pad_7x7_kblocks", .nsp = 2, .n = 1, .c = 600, .m = 24, .group = 1, .in = {7, 7}, K3, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.1},
	{.name = "pad_14x14_big_panel", .nsp = 2, .n = 1, .c = 200, .m = 20, .group = 1, .in = {14, 14}, K3, .bias = true, .density = 0.2},
	{.name = "pad_56", .nsp = 2, .n = 1, .c = 16, .m = 16, .group = 1, .in = {56, 56}, K3, .bias = true, .act = ACT_RELU, .density = 0.1},
	{.name = "pad_28_d0", .nsp = 2, .n = 1, .c = 16, .m = 8, .group = 1, .in = {28, 28}, K3, .bias = true, .density = 0.0},
	{.name = "pad_grouped_bsr4", .nsp = 2, .n = 2, .c = 16, .m = 16, .group = 2, .in = {9, 11}, K3, .bias = true, .residual = true, .pat = P_BSR4, .density = 0.3},
	{.name = "pad_bsr2", .nsp = 2, .n = 1, .c = 8, .m = 16, .group = 1, .in = {10, 10}, K3, .bias = true, .pat = P_BSR2, .density = 0.3},
	{.name = "pad_zero_rows", .nsp = 2, .n = 1, .c = 16, .m = 10, .group = 1, .in = {13, 17}, K3, .bias = true, .pat = P_ZERO_ROWS, .density = 0.3},
	{.name = "pad_1d", .nsp = 1, .n = 2, .c = 6, .m = 10, .group = 1, .in = {100}, .k = {5}, .stride = {1}, .dil = {1}, .pads = {3, 1}, .bias = true, .density = 0.3},
	/* padded widths of whole vectors (16) where each input element feeds SP_ALIGN_MIN_USES
	 * non-zeros (0.3 x 24 x 9 = 65, 0.2 x 16 x 25 = 80): kw copies of the band, shifted, all
	 * loads aligned; below (0.3 x 8 x 9 = 22), one copy */
	{.name = "pad_aligned_asym", .nsp = 2, .n = 2, .c = 9, .m = 24, .group = 1, .in = {10, 15}, S1, .k = {3, 3}, .pads = {0, 1, 2, 0}, .bias = true, .residual = true, .density = 0.3},
	{.name = "pad_aligned_one_copy", .nsp = 2, .n = 1, .c = 12, .m = 8, .group = 1, .in = {14, 14}, K3, .bias = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pad_aligned_5x5", .nsp = 2, .n = 1, .c = 20, .m = 16, .group = 1, .in = {12, 12}, S1, .k = {5, 5}, .pads = {2, 2, 2, 2}, .bias = true, .act = ACT_RELU, .density = 0.2},
	/* padded widths rounded up to whole vectors (30 -> 32, 29 -> 32) where each input element
	 * feeds enough non-zeros (SP_ALIGN_MIN_USES): the right lanes beyond the map dropped */
	{.name = "pad_aligned_28", .nsp = 2, .n = 1, .c = 12, .m = 32, .group = 1, .in = {28, 28}, K3, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pad_aligned_wide_27", .nsp = 2, .n = 2, .c = 8, .m = 40, .group = 1, .in = {9, 27}, K3, .bias = true, .density = 0.35},
	/* strided: phase planes (one per (kh % sh, kw % sw)), each read at stride 1 */
	{.name = "pad_s2_3x3", .nsp = 2, .n = 1, .c = 12, .m = 16, .group = 1, .in = {18, 18}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .act = ACT_RELU, .density = 0.3},
	{.name = "pad_s2_aligned", .nsp = 2, .n = 2, .c = 10, .m = 30, .group = 1, .in = {29, 30}, .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true, .residual = true, .density = 0.25},
	{.name = "pad_s3_5x5_asym", .nsp = 2, .n = 1, .c = 7, .m = 9, .group = 1, .in = {17, 19}, .k = {5, 5}, .stride = {3, 3}, .dil = {1, 1}, .pads = {2, 1, 0, 2}, .bias = true, .density = 0.25},
	{.name = "pad_s2_1x1_odd", .nsp = 2, .n = 1, .c = 20, .m = 24, .group = 1, .in = {13, 15}, .k = {1, 1}, .stride = {2, 2}, .dil = {1, 1}, .bias = true, .residual = true, .act = ACT_RELU, .density = 0.1},
	{.name = "pad_s4x2_7x3", .nsp = 2, .n = 1, .c = 6, .m = 8, .group = 1, .in = {30, 21}, .k = {7, 3}, .stride = {4, 2}, .dil = {1, 1}, .pads = {3, 1, 2, 1}, .bias = true, .density = 0.3},
	{.name = "pad_hard_swish", .nsp = 2, .n = 1, .c = 8, .m = 20, .group = 1, .in = {9, 9}, K3, .bias = true, .act = ACT_HARD_SWISH, .density = 0.2},
};

static Ints spatial(int nsp, const int64_t *v)
{
	Ints r = {nsp, {0}};
	for (int i = 0; i < nsp; i++)
		r.v[i] = v[i];
	return r;
}

/* the case's graph: one Conv / FusedConv with constant weights */
static Graph *conv_graph(const Case *c, double density_override)
{
	Graph *g = graph_new(c->name);
	int64_t xd[5] = {c->n, c->c}, wd[5] = {c->m, c->c / c->group}, taps = 1;
	for (int i = 0; i < c->nsp; i++) {
		xd[2 + i] = c->in[i];
		wd[2 + i] = c->k[i];
		taps *= c->k[i];
	}
	Value *x = input(g, "x", shape_make(c->nsp + 2, xd));
	Diag d = {0};
	Shape ws = shape_make(c->nsp + 2, wd);
	Value *w = graph_add_constant(g, NULL, DT_F32, &ws, &d);
	ck_assert_msg(w != NULL, "%s", d.msg);
	make_weights(w->data, c->m, c->c / c->group, taps, c->pat, density_override >= 0 ? density_override : c->density);
	Value *b = NULL;
	if (c->bias) {
		Shape bs = shape_make(1, (int64_t[]){c->m});
		b = graph_add_constant(g, NULL, DT_F32, &bs, &d);
		Tensor bt = value_tensor(b);
		fill(&bt);
	}
	Value *in[3] = {x, w, b};
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
			ck_assert_msg(infer_node(n, &d) == 0, "%s", d.msg);
			Value *r = input(g, "r", n->out[0]->shape);
			Value **nin = arena_alloc(g->arena, 4 * sizeof *nin);
			memcpy(nin, n->in, 3 * sizeof *nin);
			nin[3] = r;
			n->in = nin;
			n->n_in = 4;
		}
	}
	graph_add_output(g, n->out[0]);
	return g;
}

/* Check runs each test in its own process: the statics set here do not leak. The bsr cases run
 * the blocks kind, the others the rows kind. */
static int kind_named(const char *name)
{
	CpuKernels k;
	int kind;
	Diag d = {0};
	ck_assert_msg(cpu_kernels_parse(name, &k, &kind, &d) == 0 && k == CPU_KERNELS_SPARSE, "%s", d.msg);
	return kind;
}

static int rows_kind(const Case *c) { return kind_named(c->pat == P_BSR4 || c->pat == P_BSR2 ? "sparse-blocks" : "sparse-rows"); }

START_TEST(test_sparse_forced)
{
	const Case *c = &cases[_i];
	sparse_kind = rows_kind(c);
	check_graph(conv_graph(c, -1.0), CPU_KERNELS_SPARSE, "spmm");
}
END_TEST

START_TEST(test_padded)
{
	const Case *c = &padded_cases[_i];
	sparse_kind = rows_kind(c);
	check_graph(conv_graph(c, -1.0), CPU_KERNELS_SPARSE, "padded");
}
END_TEST

/* The pattern groups (CK_SPARSE_PATTERNS) on every case: groups of 4 rows, or 2 when the rows
 * per group are 2 mod 4; none for an odd count (dense then). */
static void check_patterns(const Case *c, bool padded)
{
	sparse_kind = kind_named("sparse-patterns");
	int64_t mg = c->m / c->group;
	const char *kernel = mg % 2 ? NULL : padded ? "spmm_patterns_padded" : "spmm_patterns";
	check_graph(conv_graph(c, -1.0), CPU_KERNELS_SPARSE, kernel);
}

START_TEST(test_patterns)
{
	check_patterns(&cases[_i], false);
}
END_TEST

START_TEST(test_patterns_padded)
{
	check_patterns(&padded_cases[_i], true);
}
END_TEST

/* the im2col panels on the padded path's kernels too (CpuOptions.sparse_panels_only), for the
 * rows or blocks kind (even _i) and the patterns (odd) */
START_TEST(test_im2col_stride1)
{
	panels_only = true;
	int i = _i / 2, n_main = (int)(sizeof cases / sizeof cases[0]);
	const Case *c = i < n_main ? &cases[i] : &padded_cases[i - n_main];
	if (_i % 2) {
		check_patterns(c, false);
		return;
	}
	sparse_kind = rows_kind(c);
	check_graph(conv_graph(c, -1.0), CPU_KERNELS_SPARSE, "spmm");
}
END_TEST

/* vectors that would cross more output rows than a micro-tile stores (one output column per
 * padded row of two): bands of fewer rows at 16 lanes */
START_TEST(test_padded_fallback)
{
	static const Case c = {.name = "pad_fallback", .nsp = 2, .n = 1, .c = 6, .m = 8, .group = 1, .in = {40, 1}, S1, .k = {1, 2},
			       .pads = {0, 1, 0, 0}, .bias = true, .density = 0.5};
	check_graph(conv_graph(&c, -1.0), CPU_KERNELS_SPARSE, "spmm");
}
END_TEST

/* a dense enough weight stays on the im2col panels (SP_PADDED_MAX_DENSITY) */
START_TEST(test_padded_dense_weight)
{
	static const Case c = {.name = "pad_too_dense", .nsp = 2, .n = 1, .c = 8, .m = 16, .group = 1, .in = {10, 10}, K3, .bias = true,
			       .density = 0.8};
	sparse_kind = kind_named("sparse-rows");
	check_graph(conv_graph(&c, -1.0), CPU_KERNELS_SPARSE, "spmm_rows");
	Graph *g = conv_graph(&c, -1.0);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	CpuReport rep;
	memset(&rep, 0, sizeof rep);
	CpuOptions opt = {.opt_level = 2, .kernels = CPU_KERNELS_SPARSE, .sparse_kind = sparse_kind, .report = &rep};
	CpuModel *m = cpu_load(g, &opt, &d);
	ck_assert_msg(m != NULL, "%s", d.msg);
	for (int l = 0; l < rep.n_layers; l++)
		ck_assert_msg(rep.layers[l].kernel == NULL || strstr(rep.layers[l].kernel, "padded") == NULL, "layer %d runs %s",
			      l, rep.layers[l].kernel);
	cpu_report_free(&rep);
	cpu_model_free(m);
	graph_free(g);
}
END_TEST

/* Pattern groups on a 28x28 map at density 0.5 (2:4's) take the padded path only because its
 * padded width rounds up to whole vectors (30 -> 32 at 16, 8 and 4 lanes): above
 * SP_PADDED_MAX_DENSITY and SP_PAT_PADDED_MAX_PIXELS, within SP_PAT_PADDED_ALIGNED_MAX_PIXELS. */
START_TEST(test_patterns_padded_aligned_28)
{
	static const Case half = {.name = "pat_28_half", .nsp = 2, .n = 1, .c = 16, .m = 16, .group = 1, .in = {28, 28}, K3,
				  .bias = true, .residual = true, .act = ACT_RELU, .density = 0.5};
	sparse_kind = kind_named("sparse-patterns");
	check_graph(conv_graph(&half, -1.0), CPU_KERNELS_SPARSE, "spmm_patterns_padded");
}
END_TEST

/* A strided band whose phase planes round up to whole vectors (3x3 stride 2, 56x56 -> 28x28:
 * planes 29 -> 32 wide at 16, 8 and 4 lanes) where each input element feeds at least
 * SP_ALIGN_MIN_USES non-zeros (0.5 x 16 x 9 = 72): pattern groups at density 0.5 then take the
 * padded path (above SP_PADDED_MAX_DENSITY on a map past SP_PAT_PADDED_MAX_PIXELS only an
 * aligned band may), and the sparse rows read its two shifted copies of every plane. */
START_TEST(test_padded_aligned_strided)
{
	static const Case half = {.name = "pat_s2_56_half", .nsp = 2, .n = 1, .c = 16, .m = 16, .group = 1, .in = {56, 56},
				  .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true,
				  .residual = true, .act = ACT_RELU, .density = 0.5};
	static const Case rows = {.name = "rows_s2_56", .nsp = 2, .n = 1, .c = 16, .m = 32, .group = 1, .in = {56, 56},
				  .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true,
				  .act = ACT_RELU, .density = 0.3};
	sparse_kind = kind_named("sparse-patterns");
	check_graph(conv_graph(&half, -1.0), CPU_KERNELS_SPARSE, "spmm_patterns_padded");
	sparse_kind = rows_kind(&rows);
	check_graph(conv_graph(&rows, -1.0), CPU_KERNELS_SPARSE, "spmm_rows_padded");
}
END_TEST

/* patterns on a strided band of at most SP_PAT_STRIDED_MAX_PIXELS (64) output pixels take the
 * im2col panels; the sparse rows keep the band */
START_TEST(test_patterns_strided_small_map)
{
	static const Case small = {.name = "pat_s2_7x7", .nsp = 2, .n = 1, .c = 12, .m = 16, .group = 1, .in = {14, 14},
				   .k = {3, 3}, .stride = {2, 2}, .dil = {1, 1}, .pads = {1, 1, 1, 1}, .bias = true,
				   .act = ACT_RELU, .density = 0.3};
	sparse_kind = kind_named("sparse-patterns");
	absent_kernel = "padded";
	check_graph(conv_graph(&small, -1.0), CPU_KERNELS_SPARSE, "spmm_patterns");
	absent_kernel = NULL;
	sparse_kind = rows_kind(&small);
	check_graph(conv_graph(&small, -1.0), CPU_KERNELS_SPARSE, "spmm_rows_padded");
}
END_TEST

/* The case's 1x1 convolution made y = conv(x) + r with r = Relu(r0) (a value the workspace holds,
 * dying at the convolution; r is also the convolution's input when residual_is_input) and Relu(y)
 * the graph's output, so that y is planned too. */
static Graph *residual_graph(const Case *c, bool residual_is_input)
{
	Graph *g = conv_graph(c, -1);
	Node *conv = g->nodes[0];
	Diag d = {0};
	ck_assert_msg(infer_node(conv, &d) == 0, "%s", d.msg);
	Value *r0 = residual_is_input ? g->inputs[0] : input(g, "r0", conv->out[0]->shape);
	Value *r = graph_add_node(g, OP_Relu, "r", 1, &r0, 1)->out[0];
	Value **nin = arena_alloc(g->arena, 4 * sizeof *nin);
	memcpy(nin, conv->in, 3 * sizeof *nin);
	if (residual_is_input)
		nin[0] = r;
	nin[3] = r;
	conv->in = nin;
	conv->n_in = 4;
	conv->op = OP_FusedConv;
	Value *y = conv->out[0];
	g->n_outputs = 0;
	graph_add_output(g, graph_add_node(g, OP_Relu, "out", 1, &y, 1)->out[0]);
	/* the Relu making r first: nodes in a valid order */
	Node *first = g->nodes[0];
	g->nodes[0] = g->nodes[1];
	g->nodes[1] = first;
	return g;
}

/* The residual added in place (emit_conv.c, memplan.c): y takes over r's buffer (one workspace
 * buffer for both) for the dense kernel and the sparse ones, B read in place (28x28) and packed
 * (14x14, 7x7 with a lane tail), on tiles and threads that each read the residual where they
 * write y. */
START_TEST(test_residual_in_place)
{
	static const char *const kinds[] = {"dense", "sparse-rows", "sparse-patterns"};
	static const int64_t maps[][2] = {{28, 28}, {14, 14}, {7, 7}};
	int i = _i / 3, j = _i % 3;
	Case c = {.name = "residual_in_place", .nsp = 2, .n = 1, .c = 64, .m = 96, .group = 1, .in = {maps[j][0], maps[j][1]},
		  K1, .bias = true, .act = ACT_RELU, .density = 0.4};
	Graph *g = residual_graph(&c, false);
	if (i > 0)
		sparse_kind = kind_named(kinds[i]);
	/* the dense 7x7 product may run transposed (channels in the lanes, by vector width), which
	 * does not add in place: only its result is checked */
	bool dense_small = i == 0 && j == 2;
	want_buffers = dense_small ? 0 : 1;
	check_graph(g, i > 0 ? CPU_KERNELS_SPARSE : CPU_KERNELS_DENSE, i > 0 ? "spmm" : dense_small ? NULL : "gemm");
}
END_TEST

/* y = conv(r) + r: y must not take over r's buffer, which the product still reads as its input
 * (two workspace buffers) */
START_TEST(test_residual_is_the_input)
{
	Case c = {.name = "residual_is_input", .nsp = 2, .n = 1, .c = 64, .m = 64, .group = 1, .in = {28, 28}, K1,
		  .bias = true, .act = ACT_RELU, .density = 0.4};
	Graph *g = residual_graph(&c, true);
	sparse_kind = _i ? kind_named("sparse-patterns") : 0;
	want_buffers = 2;
	check_graph(g, _i ? CPU_KERNELS_SPARSE : CPU_KERNELS_DENSE, _i ? "spmm" : "gemm");
}
END_TEST

/* An expansion (1x1, 128 -> 192 on 28x28: two tiles of B) followed by its reader: a 1x1
 * convolution, whose threads split pixels, so the expansion's threads take a tile each
 * (spmm.c, readers_take_pixels), or a depthwise one, whose threads split channels, so they take
 * ranges of rows as before. Both kernel kinds, both readers. */
START_TEST(test_expansion_then_reader)
{
	bool depthwise = _i / 2;
	Case c = {.name = depthwise ? "expand_then_depthwise" : "expand_then_1x1", .nsp = 2, .n = 1, .c = 128, .m = 192,
		  .group = 1, .in = {28, 28}, K1, .bias = true, .act = ACT_RELU, .density = 0.3};
	Graph *g = conv_graph(&c, -1);
	Node *expand = g->nodes[0];
	Diag d = {0};
	ck_assert_msg(infer_node(expand, &d) == 0, "%s", d.msg);
	int64_t wd[4] = {depthwise ? 192 : 48, depthwise ? 1 : 192, depthwise ? 3 : 1, depthwise ? 3 : 1};
	Shape ws = shape_make(4, wd);
	Value *w = graph_add_constant(g, NULL, DT_F32, &ws, &d);
	ck_assert_msg(w != NULL, "%s", d.msg);
	make_weights(w->data, wd[0], wd[1], wd[2] * wd[3], P_RANDOM, 0.3);
	Value *in[2] = {expand->out[0], w};
	Node *reader = graph_add_node(g, OP_Conv, "reader", 2, in, 1);
	int64_t k[2] = {wd[2], wd[3]}, one[2] = {1, 1};
	reader->attr.conv.group = depthwise ? 192 : 1;
	reader->attr.conv.kernel_shape = spatial(2, k);
	reader->attr.conv.strides = spatial(2, one);
	reader->attr.conv.dilations = spatial(2, one);
	reader->attr.conv.pads.n = 4;
	for (int i = 0; i < 4; i++)
		reader->attr.conv.pads.v[i] = depthwise ? 1 : 0;
	g->n_outputs = 0;
	graph_add_output(g, reader->out[0]);
	sparse_kind = kind_named(_i % 2 ? "sparse-patterns" : "sparse-rows");
	check_graph(g, CPU_KERNELS_SPARSE, "spmm");
}
END_TEST

/* auto: a dense weight stays on the dense kernel, a 95% pruned one goes sparse (with any cost
 * constants a 20x reduction of the multiply-adds must pay on a large layer) */
START_TEST(test_auto_choice)
{
	static const Case big = {.name = "auto", .nsp = 2, .n = 1, .c = 128, .m = 128, .group = 1, .in = {28, 28}, K3,
				 .bias = true, .act = ACT_RELU};
	check_graph(conv_graph(&big, 1.0), CPU_KERNELS_AUTO, "conv_im2col");
	check_graph(conv_graph(&big, 0.05), CPU_KERNELS_AUTO, "spmm");
	check_graph(conv_graph(&big, 0.05), CPU_KERNELS_DENSE, "conv_im2col");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cpu_sparse");
	TCase *tc = tcase_create("conv");
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_sparse_forced, 0, (int)(sizeof cases / sizeof cases[0]));
	tcase_add_test(tc, test_auto_choice);
	tcase_add_loop_test(tc, test_expansion_then_reader, 0, 4);
	tcase_add_loop_test(tc, test_residual_in_place, 0, 9);
	tcase_add_loop_test(tc, test_residual_is_the_input, 0, 2);
	tcase_add_loop_test(tc, test_patterns, 0, (int)(sizeof cases / sizeof cases[0]));
	tcase_add_loop_test(tc, test_patterns_padded, 0, (int)(sizeof padded_cases / sizeof padded_cases[0]));
	tcase_add_loop_test(tc, test_padded, 0, (int)(sizeof padded_cases / sizeof padded_cases[0]));
	tcase_add_loop_test(tc, test_im2col_stride1, 0,
			    2 * (int)(sizeof cases / sizeof cases[0] + sizeof padded_cases / sizeof padded_cases[0]));
	tcase_add_test(tc, test_padded_fallback);
	tcase_add_test(tc, test_padded_dense_weight);
	tcase_add_test(tc, test_patterns_padded_aligned_28);
	tcase_add_test(tc, test_patterns_strided_small_map);
	tcase_add_test(tc, test_padded_aligned_strided);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
