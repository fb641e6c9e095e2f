/* Single-precision matrix product for the reference kernels: the classic Goto/BLIS blocking in
 * portable C.
 *
 *   for jc in n by NC:            B block (KC x NC) packed once per (jc, pc), lives in L2/L3
 *     for pc in k by KC:
 *       for ic in m by MC:        A block (MC x KC) packed, scaled by alpha, lives in L2
 *         for jr in NC by NR:     one B micro-panel (KC x NR) stays in L1 ...
 *           for ir in MC by MR:   ... while the A micro-panels (MR x KC) stream past it
 *             micro-kernel: an MR x NR block of C in registers, KC rank-1 updates
 *
 * Packing makes every operand contiguous in the order the micro-kernel reads it and pads
 * partial panels with zeros, so the kernel has no edge cases and no strides: transposed and
 * strided views (Gemm's transA/transB, ConvTranspose's W^T, im2col rows) cost nothing extra.
 * The kernel is plain loops over fixed-size arrays that GCC and Clang vectorise completely
 * (MR x NR = 6 x 32 keeps 12 AVX-512 accumulators, enough to hide FMA latency on two pipes);
 * target_clones builds AVX-512, AVX2 and baseline versions picked at load time. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 32
#define KC 256
#define MC 144  /* multiple of MR: an A block of 144 KB */
#define NC 4096 /* multiple of NR: a B block of 4 MB */

#if defined(__x86_64__) && defined(__GNUC__)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#endif

#if defined(__has_attribute)
#if __has_attribute(no_sanitize_address)
#define NN_NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#ifndef NN_NO_ASAN
#define NN_NO_ASAN
#endif

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* a(i, p) for i in [0, mc), p in [0, kc) into MR-row panels: ap[panel][p][i], times alpha, rows
 * past mc zero. */
static NN_HOT void pack_a(int64_t mc, int64_t kc, float alpha, const float *a, int64_t rs, int64_t cs,
			  float *restrict ap)
{
	for (int64_t i0 = 0; i0 < mc; i0 += MR) {
		int64_t mr = min64(MR, mc - i0);
		const float *a0 = a + i0 * rs;
		if (mr == MR && cs == 1) {
			/* row-major A (Conv and Gemm weights): read each row sequentially */
			for (int64_t i = 0; i < MR; i++)
				for (int64_t p = 0; p < kc; p++)
					ap[p * MR + i] = alpha * a0[i * rs + p];
			ap += MR * kc;
			continue;
		}
		for (int64_t p = 0; p < kc; p++) {
			for (int64_t i = 0; i < mr; i++)
				ap[i] = alpha * a0[i * rs + p * cs];
			for (int64_t i = mr; i < MR; i++)
				ap[i] = 0.0f;
			ap += MR;
		}
	}
}

/* b(p, j) for p in [0, kc), j in [0, nc) into NR-column panels: bp[panel][p][j], columns past
 * nc zero. */
static NN_HOT void pack_b(int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs, float *restrict bp)
{
	for (int64_t j0 = 0; j0 < nc; j0 += NR) {
		int64_t nr = min64(NR, nc - j0);
		const float *b0 = b + j0 * cs;
		if (nr == NR && cs == 1) {
			for (int64_t p = 0; p < kc; p++, bp += NR)
				memcpy(bp, b0 + p * rs, NR * sizeof *bp);
			continue;
		}
		for (int64_t p = 0; p < kc; p++, bp += NR) {
			for (int64_t j = 0; j < nr; j++)
				bp[j] = b0[p * rs + j * cs];
			for (int64_t j = nr; j < NR; j++)
				bp[j] = 0.0f;
		}
	}
}

/* c[MR x NR] (row stride ldc) = or += a_panel * b_panel over kc.
 * Not instrumented by ASan: its checks on every access keep the accumulators out of registers
 * and make sanitizer runs of whole models 40x slower. It reads only the packed panels sized
 * above and writes one full tile that sgemm() has checked lies inside C (edge tiles go
 * through tmp); pack_a, pack_b and the edge copies stay instrumented. */
static NN_HOT NN_CLONES NN_NO_ASAN void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b,
					  float *restrict c, int64_t ldc, int overwrite)
{
	float acc[MR][NR];
	for (int i = 0; i < MR; i++)
		for (int j = 0; j < NR; j++)
			acc[i][j] = 0.0f;
	for (int64_t p = 0; p < kc; p++) {
		const float *restrict ap = a + p * MR;
		const float *restrict bp = b + p * NR;
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < NR; j++)
				acc[i][j] += ap[i] * bp[j];
	}
	if (overwrite) {
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < NR; j++)
				c[i * ldc + j] = acc[i][j];
	} else {
		for (int i = 0; i < MR; i++)
			for (int j = 0; j < NR; j++)
				c[i * ldc + j] += acc[i][j];
	}
}

/* aligned_alloc wants a size that is a multiple of the alignment */
static float *alloc_panel(int64_t floats)
{
	size_t bytes = ((size_t)floats * sizeof(float) + 63) & ~(size_t)63;
	return aligned_alloc(64, bytes ? bytes : 64);
}

int sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatRef a, MatRef b, bool accumulate, float *c,
	  int64_t ldc)
{
	if (m <= 0 || n <= 0)
		return 0;
	if (k <= 0) {
		if (!accumulate)
			for (int64_t i = 0; i < m; i++)
				memset(c + i * ldc, 0, (size_t)n * sizeof *c);
		return 0;
	}
	/* buffers sized for this product, not the worst case: small products stay small */
	int64_t kcap = min64(k, KC), ncap = min64((n + NR - 1) / NR * NR, NC), mcap = min64((m + MR - 1) / MR * MR, MC);
	float *bp = alloc_panel(kcap * ncap), *ap = alloc_panel(mcap * kcap);
	if (bp == NULL || ap == NULL) {
		free(bp);
		free(ap);
		return -1;
	}
	float tmp[MR * NR];
	for (int64_t jc = 0; jc < n; jc += NC) {
		int64_t nc = min64(NC, n - jc);
		for (int64_t pc = 0; pc < k; pc += KC) {
			int64_t kc = min64(KC, k - pc);
			int overwrite = !accumulate && pc == 0;
			pack_b(kc, nc, b.p + pc * b.rs + jc * b.cs, b.rs, b.cs, bp);
			for (int64_t ic = 0; ic < m; ic += MC) {
				int64_t mc = min64(MC, m - ic);
				pack_a(mc, kc, alpha, a.p + ic * a.rs + pc * a.cs, a.rs, a.cs, ap);
				for (int64_t jr = 0; jr < nc; jr += NR) {
					int64_t nr = min64(NR, nc - jr);
					for (int64_t ir = 0; ir < mc; ir += MR) {
						int64_t mr = min64(MR, mc - ir);
						float *cc = c + (ic + ir) * ldc + jc + jr;
						const float *pa = ap + ir * kc, *pb = bp + jr * kc;
						if (mr == MR && nr == NR) {
							micro_kernel(kc, pa, pb, cc, ldc, overwrite);
							continue;
						}
						/* edge tile: full tile into tmp, then the valid part */
						micro_kernel(kc, pa, pb, tmp, NR, 1);
						for (int64_t i = 0; i < mr; i++)
							for (int64_t j = 0; j < nr; j++)
								cc[i * ldc + j] = overwrite ? tmp[i * NR + j]
											    : cc[i * ldc + j] + tmp[i * NR + j];
					}
				}
			}
		}
	}
	free(bp);
	free(ap);
	return 0;
}
