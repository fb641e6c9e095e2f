/* How many multiply-adds one CPU does per second when each one also loads a vector, against
 * when none does: the ceiling of nnzc's sparse kernels on a machine.
 *
 *   bench_fma_load [MILLIONS]     (default 100: million vector multiply-adds per batch)
 *
 * Why: a dense register block (gemm.c) loads one B vector for up to 12 rows, so it runs at the
 * CPU's multiply-add rate. The sparse kernels (spmm.c) cannot: a row's non-zero needs its own B
 * vectors, so each multiply-add of the sparse-rows kernel loads one, plus an offset and a
 * broadcast value per non-zero, and the pattern groups share a vector among a few rows only.
 * Their speed on a CPU is therefore set by the vector loads it sustains beside its multiply-adds,
 * and that differs between machines more than the multiply-add rate does: it is why ResNet-50's
 * sparse points run at different ratios against ONNX Runtime (whose dense kernels reuse every
 * load) on two kinds of machine of this project (docs/sweep-intel/README.md).
 *
 * Figures, one thread, the widest vectors the CPU has (16 floats with AVX-512, else 8 with
 * AVX2), each the fastest of 5 batches:
 *   fma          multiply-adds on registers, 12 independent chains (G vector FMAs/s)
 *   fma_load     each multiply-add with an aligned vector from L1, 8 chains (G/s)
 *   rows_l1      the sparse-rows inner loop: per non-zero an int32 offset, a broadcast value and
 *   rows_l2      4 vectors at the offset, into 8 accumulators, over B of 32 KB (L1) and 256 KB
 *                (L2); GMAC/s (a vector multiply-add is `lanes` of them)
 *   pattern4_l1  the pattern groups' loop for an entry that all four rows of its group need
 *                (spmm.c's pattern 15, the most multiply-adds per load any entry has): per entry
 *                an offset, four broadcast values and 4 vectors (2 with AVX2, as spmm.c plans on
 *                16 registers) at the offset, into 16 (8) accumulators; B of 32 KB; GMAC/s
 *   dense_tile   the dense kernel's register tile (gemm.c): per step of the reduction 12 values
 *                of A broadcast (6 with AVX2) and 2 vectors of B, from packed panels in L1; GMAC/s
 * pattern4_l1 over dense_tile bounds what a pattern group can gain over the dense kernel per
 * multiply-add on this CPU, before the loops' exits and the entries that feed fewer rows.
 * Output: one line per figure and, last, one JSON object:
 *   {"lanes": 16, "fma_g": 7.5, "fma_load_g": 5.2, "rows_l1_gmacs": 67.0, "rows_l2_gmacs": 48.0,
 *    "pattern4_l1_gmacs": 70.0, "dense_tile_gmacs": 80.0}
 * A benchmark, not a test: it fails only on bad arguments or a CPU without AVX2 and FMA. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCHES 5
#define CHAINS_REG 12
#define ROW_NNZ 64  /* non-zeros per row: a group's loop as the kernel runs it */
#define ROW_VECS 4  /* vectors per non-zero: the kernel's micro-tile (SP_MAX_NV) */
#define ROWS 64     /* rows per pass, each with its own non-zeros */
#define PAT_ROWS 4  /* rows of a pattern group (SP_PAT_MAX_R) */
#define DENSE_K 128 /* reduction steps of the dense tile's panels: A 6 KB, B 16 KB at 16 lanes */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Written at the end of every run so that no loop is optimised away. */
static volatile float sink;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* Stores v where the compiler must assume it is read, so that no loop is optimised away. */
#define KEEP(STORE, LANES, v)                                                                                       \
	do {                                                                                                         \
		float kept_[LANES];                                                                                  \
		STORE(kept_, v);                                                                                     \
		sink = kept_[0];                                                                                     \
	} while (0)

/* The kernels of one vector width; V the vector type, the rest its intrinsics. Every
 * function takes the number of loop iterations and returns seconds. */
#define WIDTH_KERNELS(SUF, TARGET, V, LANES, PV, DR, SET1, ZERO, LOAD, FMA, ADD, STORE)                             \
	__attribute__((target(TARGET))) static double fma_regs_##SUF(int64_t iters, float seed)                      \
	{                                                                                                            \
		V b = SET1(0.999f), c = SET1(1e-4f);                                                                  \
		V a0 = SET1(seed), a1 = SET1(seed + 1), a2 = SET1(seed + 2), a3 = SET1(seed + 3);                     \
		V a4 = SET1(seed + 4), a5 = SET1(seed + 5), a6 = SET1(seed + 6), a7 = SET1(seed + 7);                 \
		V a8 = SET1(seed + 8), a9 = SET1(seed + 9), a10 = SET1(seed + 10), a11 = SET1(seed + 11);             \
		double t = now_s();                                                                                  \
		for (int64_t i = 0; i < iters; i++) {                                                                \
			a0 = FMA(a0, b, c), a1 = FMA(a1, b, c), a2 = FMA(a2, b, c), a3 = FMA(a3, b, c);              \
			a4 = FMA(a4, b, c), a5 = FMA(a5, b, c), a6 = FMA(a6, b, c), a7 = FMA(a7, b, c);              \
			a8 = FMA(a8, b, c), a9 = FMA(a9, b, c), a10 = FMA(a10, b, c), a11 = FMA(a11, b, c);          \
		}                                                                                                    \
		t = now_s() - t;                                                                                     \
		V s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                              \
		s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                                         \
		KEEP(STORE, LANES, s);                                                                               \
		return t;                                                                                            \
	}                                                                                                            \
	/* 8 chains, each multiply-add's second operand loaded from a 16 KB buffer */                              \
	__attribute__((target(TARGET))) static double fma_load_##SUF(int64_t iters, const float *buf)                \
	{                                                                                                            \
		V w = SET1(0.5f), a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;         \
		double t = now_s();                                                                                  \
		for (int64_t i = 0; i < iters; i++) {                                                                \
			const float *p = buf + (i & 31) * 8 * LANES;                                                 \
			a0 = FMA(w, LOAD(p), a0), a1 = FMA(w, LOAD(p + LANES), a1);                                  \
			a2 = FMA(w, LOAD(p + 2 * LANES), a2), a3 = FMA(w, LOAD(p + 3 * LANES), a3);                  \
			a4 = FMA(w, LOAD(p + 4 * LANES), a4), a5 = FMA(w, LOAD(p + 5 * LANES), a5);                  \
			a6 = FMA(w, LOAD(p + 6 * LANES), a6), a7 = FMA(w, LOAD(p + 7 * LANES), a7);                  \
		}                                                                                                    \
		t = now_s() - t;                                                                                     \
		V s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                              \
		KEEP(STORE, LANES, s);                                                                               \
		return t;                                                                                            \
	}                                                                                                            \
	/* passes over ROWS rows of ROW_NNZ entries (offset, value); two accumulator sets of ROW_VECS, as         \
	 * spmm.c's sets */                                                                                        \
	__attribute__((target(TARGET))) static double rows_##SUF(int64_t passes, const float *b, const int32_t *ent)  \
	{                                                                                                            \
		V total = ZERO();                                                                                    \
		double t = now_s();                                                                                  \
		for (int64_t r = 0; r < passes; r++) {                                                               \
			for (int row = 0; row < ROWS; row++) {                                                       \
				const int32_t *e = ent + 2 * ROW_NNZ * row;                                          \
				V a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;         \
				for (int i = 0; i < 2 * ROW_NNZ; i += 4) {                                           \
					const float *p = b + e[i];                                                   \
					float v;                                                                     \
					memcpy(&v, &e[i + 1], sizeof v);                                             \
					V w = SET1(v);                                                               \
					a0 = FMA(w, LOAD(p), a0), a1 = FMA(w, LOAD(p + LANES), a1);                  \
					a2 = FMA(w, LOAD(p + 2 * LANES), a2), a3 = FMA(w, LOAD(p + 3 * LANES), a3);  \
					p = b + e[i + 2];                                                            \
					memcpy(&v, &e[i + 3], sizeof v);                                             \
					w = SET1(v);                                                                 \
					c0 = FMA(w, LOAD(p), c0), c1 = FMA(w, LOAD(p + LANES), c1);                  \
					c2 = FMA(w, LOAD(p + 2 * LANES), c2), c3 = FMA(w, LOAD(p + 3 * LANES), c3);  \
				}                                                                                    \
				total = ADD(total, ADD(ADD(ADD(a0, c0), ADD(a1, c1)), ADD(ADD(a2, c2), ADD(a3, c3)))); \
			}                                                                                            \
		}                                                                                                    \
		t = now_s() - t;                                                                                     \
		KEEP(STORE, LANES, total);                                                                           \
		return t;                                                                                            \
	}                                                                                                            \
	/* passes over ROWS groups of ROW_NNZ entries (offset, PAT_ROWS values), each feeding every row */          \
	__attribute__((target(TARGET))) static double pattern4_##SUF(int64_t passes, const float *b,                 \
								     const int32_t *ent)                             \
	{                                                                                                            \
		V total = ZERO();                                                                                    \
		double t = now_s();                                                                                  \
		for (int64_t r = 0; r < passes; r++) {                                                               \
			for (int group = 0; group < ROWS; group++) {                                                 \
				const int32_t *e = ent + (1 + PAT_ROWS) * ROW_NNZ * group;                           \
				V acc[PAT_ROWS][PV];                                                                 \
				for (int i = 0; i < PAT_ROWS; i++)                                                   \
					for (int j = 0; j < PV; j++)                                                 \
						acc[i][j] = ZERO();                                                  \
				for (int n = 0; n < ROW_NNZ; n++, e += 1 + PAT_ROWS) {                               \
					const float *p = b + e[0];                                                   \
					V x[PV];                                                                     \
					for (int j = 0; j < PV; j++)                                                 \
						x[j] = LOAD(p + j * LANES);                                          \
					for (int i = 0; i < PAT_ROWS; i++) {                                         \
						float v;                                                             \
						memcpy(&v, &e[1 + i], sizeof v);                                     \
						V w = SET1(v);                                                       \
						for (int j = 0; j < PV; j++)                                         \
							acc[i][j] = FMA(w, x[j], acc[i][j]);                         \
					}                                                                            \
				}                                                                                    \
				for (int i = 0; i < PAT_ROWS; i++)                                                   \
					for (int j = 0; j < PV; j++)                                                 \
						total = ADD(total, acc[i][j]);                                       \
			}                                                                                            \
		}                                                                                                    \
		t = now_s() - t;                                                                                     \
		KEEP(STORE, LANES, total);                                                                           \
		return t;                                                                                            \
	}                                                                                                            \
	/* passes over DENSE_K steps: DR broadcast values of A and 2 vectors of B each, DR x 2 accumulators */     \
	__attribute__((target(TARGET))) static double dense_##SUF(int64_t passes, const float *a, const float *b)    \
	{                                                                                                            \
		V total = ZERO();                                                                                    \
		double t = now_s();                                                                                  \
		for (int64_t r = 0; r < passes; r++) {                                                               \
			V acc[DR][2];                                                                                \
			for (int i = 0; i < DR; i++)                                                                 \
				acc[i][0] = acc[i][1] = ZERO();                                                      \
			for (int k = 0; k < DENSE_K; k++) {                                                          \
				V b0 = LOAD(b + 2 * LANES * k), b1 = LOAD(b + 2 * LANES * k + LANES);                \
				for (int i = 0; i < DR; i++) {                                                       \
					V w = SET1(a[DR * k + i]);                                                   \
					acc[i][0] = FMA(w, b0, acc[i][0]), acc[i][1] = FMA(w, b1, acc[i][1]);        \
				}                                                                                    \
			}                                                                                            \
			for (int i = 0; i < DR; i++)                                                                 \
				total = ADD(total, ADD(acc[i][0], acc[i][1]));                                       \
		}                                                                                                    \
		t = now_s() - t;                                                                                     \
		KEEP(STORE, LANES, total);                                                                           \
		return t;                                                                                            \
	}

/* the pattern loop's vectors and the dense tile's rows as spmm.c and gemm.c plan them on 32 (16)
 * vector registers */
WIDTH_KERNELS(avx512, "avx512f,fma", __m512, 16, 4, 12, _mm512_set1_ps, _mm512_setzero_ps, _mm512_load_ps,
	      _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
WIDTH_KERNELS(avx2, "avx2,fma", __m256, 8, 2, 6, _mm256_set1_ps, _mm256_setzero_ps, _mm256_load_ps, _mm256_fmadd_ps,
	      _mm256_add_ps, _mm256_storeu_ps)

static int host_lanes(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return 16;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return 8;
	return 0;
}
#else
static int host_lanes(void) { return 0; }
#endif

/* B of `bytes` (rows of ROW_VECS vectors) and the entries, each an offset to a random row of B
 * and `values` values. */
static int make_rows(size_t bytes, int lanes, int values, float **b, int32_t **ent)
{
	size_t row_floats = (size_t)ROW_VECS * (size_t)lanes, nrows = bytes / (row_floats * sizeof(float));
	int stride = 1 + values;
	*b = aligned_alloc(64, nrows * row_floats * sizeof(float));
	*ent = malloc(sizeof(int32_t) * (size_t)stride * ROW_NNZ * ROWS);
	if (!*b || !*ent)
		return -1;
	for (size_t i = 0; i < nrows * row_floats; i++)
		(*b)[i] = (float)(i % 7) * 1e-3f;
	uint64_t state = 42;
	for (int i = 0; i < ROW_NNZ * ROWS; i++) {
		state = state * 6364136223846793005ULL + 1442695040888963407ULL;
		(*ent)[stride * i] = (int32_t)((state >> 33) % nrows * row_floats);
		float v = 0.5f;
		for (int j = 1; j <= values; j++)
			memcpy(&(*ent)[stride * i + j], &v, sizeof v);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long millions = 100;
	char *end = NULL;
	if (argc == 2)
		millions = strtol(argv[1], &end, 10);
	if (argc > 2 || (argc == 2 && (end == argv[1] || *end != '\0' || millions < 1 || millions > 100000))) {
		fprintf(stderr, "bench_fma_load: error: usage: bench_fma_load [MILLIONS] (1..100000, default 100)\n");
		return 2;
	}
	int lanes = host_lanes();
	if (lanes == 0) {
		fprintf(stderr, "bench_fma_load: error: this CPU has neither AVX-512 nor AVX2 with FMA\n");
		return 1;
	}
	int64_t fmas = (int64_t)millions * 1000000;
	int pv = lanes == 16 ? 4 : 2, dr = lanes == 16 ? 12 : 6; /* as WIDTH_KERNELS is instantiated */
	float *buf = aligned_alloc(64, 32 * 8 * 16 * sizeof(float)), *b_l1 = NULL, *b_l2 = NULL, *b_pat = NULL;
	float *pa = aligned_alloc(64, (size_t)DENSE_K * 12 * sizeof(float));
	float *pb = aligned_alloc(64, (size_t)DENSE_K * 2 * 16 * sizeof(float));
	int32_t *e_l1 = NULL, *e_l2 = NULL, *e_pat = NULL;
	if (!buf || !pa || !pb || make_rows(32 * 1024, lanes, 1, &b_l1, &e_l1) ||
	    make_rows(256 * 1024, lanes, 1, &b_l2, &e_l2) || make_rows(32 * 1024, lanes, PAT_ROWS, &b_pat, &e_pat)) {
		fprintf(stderr, "bench_fma_load: error: out of memory\n");
		return 1;
	}
	for (int i = 0; i < 32 * 8 * 16; i++)
		buf[i] = (float)(i % 5) * 1e-3f;
	for (int i = 0; i < DENSE_K * 12; i++)
		pa[i] = (float)(i % 3) * 1e-3f;
	for (int i = 0; i < DENSE_K * 2 * 16; i++)
		pb[i] = (float)(i % 7) * 1e-3f;
	/* vector multiply-adds per pass of each loop */
	int64_t per_pass = (int64_t)ROWS * ROW_NNZ * ROW_VECS, passes = fmas / per_pass > 0 ? fmas / per_pass : 1;
	int64_t pat_per_pass = (int64_t)ROWS * ROW_NNZ * PAT_ROWS * pv;
	int64_t pat_passes = fmas / pat_per_pass > 0 ? fmas / pat_per_pass : 1;
	int64_t dense_per_pass = (int64_t)DENSE_K * dr * 2, dense_passes = fmas / dense_per_pass > 0 ? fmas / dense_per_pass : 1;
	double best[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
	for (int k = 0; k < BATCHES; k++) {
		double t[6] = {0};
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
		if (lanes == 16) {
			t[0] = fma_regs_avx512(fmas / CHAINS_REG, (float)argc);
			t[1] = fma_load_avx512(fmas / 8, buf);
			t[2] = rows_avx512(passes, b_l1, e_l1);
			t[3] = rows_avx512(passes, b_l2, e_l2);
			t[4] = pattern4_avx512(pat_passes, b_pat, e_pat);
			t[5] = dense_avx512(dense_passes, pa, pb);
		} else {
			t[0] = fma_regs_avx2(fmas / CHAINS_REG, (float)argc);
			t[1] = fma_load_avx2(fmas / 8, buf);
			t[2] = rows_avx2(passes, b_l1, e_l1);
			t[3] = rows_avx2(passes, b_l2, e_l2);
			t[4] = pattern4_avx2(pat_passes, b_pat, e_pat);
			t[5] = dense_avx2(dense_passes, pa, pb);
		}
#endif
		for (int i = 0; i < 6; i++)
			if (t[i] < best[i])
				best[i] = t[i];
	}
	double fma_g = (double)(fmas / CHAINS_REG * CHAINS_REG) / best[0] * 1e-9;
	double load_g = (double)(fmas / 8 * 8) / best[1] * 1e-9;
	double rows_l1 = (double)(passes * per_pass) * lanes / best[2] * 1e-9;
	double rows_l2 = (double)(passes * per_pass) * lanes / best[3] * 1e-9;
	double pat_l1 = (double)(pat_passes * pat_per_pass) * lanes / best[4] * 1e-9;
	double dense = (double)(dense_passes * dense_per_pass) * lanes / best[5] * 1e-9;
	printf("vector multiply-adds on registers:            %6.2f G/s (%d lanes)\n", fma_g, lanes);
	printf("vector multiply-adds each loading a vector:   %6.2f G/s (%.2f of the above)\n", load_g, load_g / fma_g);
	printf("sparse-rows loop, B in L1 (32 KB):            %6.1f GMAC/s\n", rows_l1);
	printf("sparse-rows loop, B in L2 (256 KB):           %6.1f GMAC/s\n", rows_l2);
	printf("four-row pattern loop, B in L1 (32 KB):       %6.1f GMAC/s (%d vectors)\n", pat_l1, pv);
	printf("dense register tile, panels in L1:            %6.1f GMAC/s (%d x 2 vectors; pattern / dense %.2f)\n", dense,
	       dr, pat_l1 / dense);
	printf("{\"lanes\": %d, \"fma_g\": %.3f, \"fma_load_g\": %.3f, \"rows_l1_gmacs\": %.2f, \"rows_l2_gmacs\": %.2f, "
	       "\"pattern4_l1_gmacs\": %.2f, \"dense_tile_gmacs\": %.2f}\n",
	       lanes, fma_g, load_g, rows_l1, rows_l2, pat_l1, dense);
	free(buf);
	free(pa);
	free(pb);
	free(b_l1);
	free(b_l2);
	free(b_pat);
	free(e_l1);
	free(e_l2);
	free(e_pat);
	return 0;
}
