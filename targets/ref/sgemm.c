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
 * (MR x NR = 6 x 32: 12 AVX-512 accumulators, enough independent chains to keep the vector
 * pipes busy); target_clones builds AVX-512, AVX2 and baseline versions picked at load time.
 * Multiplies and adds are never fused (GCC in ISO C mode does not contract, and Clang only
 * contracts within one expression), so every version computes the same bits: the oracle's
 * results do not depend on the machine that ran it.
 * Matrix-vector products (m or n = 1: a fully connected layer at batch 1) skip the packing,
 * which would pad the vector to a whole panel, and run as dot products or axpy updates. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

#define MR 6
#define NR 32
#define KC 256
#define MC 144  /* multiple of MR: an A block of 144 KB */
#define NC 4096 /* multiple of NR: a B block of 4 MB */
#define DOT_LANES 32

/* NN_CLONES: versions of the micro-kernel for AVX-512, AVX2 and baseline x86-64, picked at
 * load time. NN_NO_SANITIZE: see micro_kernel. Clang (14) cannot combine the two attributes;
 * its sanitizer builds go without the clones. */
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define NN_CLANG_SANITIZED 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(NN_CLANG_SANITIZED)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#endif
#if defined(__has_attribute) && (!defined(__clang__) || defined(NN_CLANG_SANITIZED))
#if __has_attribute(no_sanitize)
#define NN_NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))
#endif
#endif
#ifndef NN_NO_SANITIZE
#define NN_NO_SANITIZE
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
 * Not instrumented by the sanitizers: their checks on every access (ASan) and array index
 * (UBSan bounds) keep the accumulators out of registers and make sanitizer runs of whole
 * models 40x slower. Its loops have constant trip counts over its own arrays; it reads only the
 * packed panels sized by sgemm() and writes one full tile that sgemm() has checked lies inside
 * C (edge tiles go through tmp). pack_a, pack_b and the edge copies stay instrumented. */
static NN_HOT NN_CLONES NN_NO_SANITIZE void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b,
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
			for (int j = 0; j < NR; j++) {
				float prod = ap[i] * bp[j]; /* a separate statement: never contracted to FMA */
				acc[i][j] += prod;
			}
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

/* y[i*incy] = alpha * sum_p a(i, p) x[p*incx] (+ y), for i < m: a matrix-vector product, which
 * packing would only slow down (the vector side would be padded to a full panel). Column-major
 * a with a contiguous y: axpy updates of y; otherwise dot products. Both vectorise in their
 * common case. */
static NN_HOT void gemv(int64_t m, int64_t k, float alpha, const float *restrict a, int64_t rs, int64_t cs,
			const float *restrict x, int64_t incx, bool accumulate, float *restrict y, int64_t incy)
{
	if (rs == 1 && cs != 1 && incy == 1) {
		if (!accumulate)
			for (int64_t i = 0; i < m; i++)
				y[i] = 0.0f;
		for (int64_t p = 0; p < k; p++) {
			const float *ap = a + p * cs;
			float xp = alpha * x[p * incx];
			for (int64_t i = 0; i < m; i++)
				y[i] += ap[i] * xp;
		}
		return;
	}
	for (int64_t i = 0; i < m; i++) {
		const float *ai = a + i * rs;
		float s = 0.0f;
		if (cs == 1 && incx == 1) {
			/* DOT_LANES partial sums: a vector of independent chains instead of one chain
			 * bound by the add latency (the compiler may not reorder a float sum itself) */
			float part[DOT_LANES] = {0};
			int64_t p = 0;
			for (; p + DOT_LANES <= k; p += DOT_LANES)
				for (int l = 0; l < DOT_LANES; l++) {
					float prod = ai[p + l] * x[p + l];
					part[l] += prod;
				}
			for (int l = 0; l < DOT_LANES; l++)
				s += part[l];
			for (; p < k; p++)
				s += ai[p] * x[p];
		} else {
			for (int64_t p = 0; p < k; p++)
				s += ai[p * cs] * x[p * incx];
		}
		y[i * incy] = alpha * s + (accumulate ? y[i * incy] : 0.0f);
	}
}

/* c[mc x nc] = or += packed A block (mc x kc) x packed B block (kc x nc), tile by tile. Edge
 * tiles are computed whole into a scratch tile (the panels are zero-padded) and their valid
 * part copied. */
static NN_HOT void macro_kernel(int64_t mc, int64_t nc, int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
			 int overwrite)
{
	float tmp[MR * NR];
	for (int64_t jr = 0; jr < nc; jr += NR) {
		int64_t nr = min64(NR, nc - jr);
		for (int64_t ir = 0; ir < mc; ir += MR) {
			int64_t mr = min64(MR, mc - ir);
			float *cc = c + ir * ldc + jr;
			if (mr == MR && nr == NR) {
				micro_kernel(kc, ap + ir * kc, bp + jr * kc, cc, ldc, overwrite);
				continue;
			}
			micro_kernel(kc, ap + ir * kc, bp + jr * kc, tmp, NR, 1);
			for (int64_t i = 0; i < mr; i++)
				for (int64_t j = 0; j < nr; j++)
					cc[i * ldc + j] = tmp[i * NR + j] + (overwrite ? 0.0f : cc[i * ldc + j]);
		}
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
	if (n == 1 || m == 1) {
		if (n == 1) /* c[:, 0] = a b[:, 0] */
			gemv(m, k, alpha, a.p, a.rs, a.cs, b.p, b.rs, accumulate, c, ldc);
		else /* c[0, :] = b^T a[0, :] */
			gemv(n, k, alpha, b.p, b.cs, b.rs, a.p, a.cs, accumulate, c, 1);
		return 0;
	}
	/* buffers sized for this product, not the worst case: small products stay small */
	int64_t kcap = min64(k, KC), ncap = min64((n + NR - 1) / NR * NR, NC);
	int64_t mcap = min64((m + MR - 1) / MR * MR, MC);
	float *bp = alloc_panel(kcap * ncap), *ap = alloc_panel(mcap * kcap);
	if (bp == NULL || ap == NULL) {
		free(bp);
		free(ap);
		return -1;
	}
	for (int64_t jc = 0; jc < n; jc += NC) {
		int64_t nc = min64(NC, n - jc);
		for (int64_t pc = 0; pc < k; pc += KC) {
			int64_t kc = min64(KC, k - pc);
			pack_b(kc, nc, b.p + pc * b.rs + jc * b.cs, b.rs, b.cs, bp);
			for (int64_t ic = 0; ic < m; ic += MC) {
				int64_t mc = min64(MC, m - ic);
				pack_a(mc, kc, alpha, a.p + ic * a.rs + pc * a.cs, a.rs, a.cs, ap);
				macro_kernel(mc, nc, kc, ap, bp, c + ic * ldc + jc, ldc, !accumulate && pc == 0);
			}
		}
	}
	free(bp);
	free(ap);
	return 0;
}
