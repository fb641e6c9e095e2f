/* The accelerator's functional executor (runtime/accel_exec.c): programs assembled from text,
 * run by nnzrt_accel_run, compared with plain C loops written here. GEMMs in every mode on
 * every preset that has it (dense, N:M, relaxed N:128, gs), K-tiled accumulation with mma,
 * every vec func and broadcast, strided loads and stores, adec; errors: an index out of range
 * read at run time, missing data, allocation failures; the hazard check. */
#define _GNU_SOURCE /* open_memstream */
#include "runtime/accel_internal.h"
#include "targets/accel/accel.h"
#include "accel_testutil.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */


static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static void put_floats(FILE *f, const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "0x%08x%c", bits(v[i]), i % 8 == 7 ? '\n' : ' ');
	fputc('\n', f);
}

static void put_words(FILE *f, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%u%c", v[i], i % 16 == 15 ? '\n' : ' ');
	fputc('\n', f);
}

/* A GEMM C[m][n] = S[m][k] D[k][n] with S packed per mode (srow slots per row: values sv,
 * indices sx), D the input at arena 0, C the output after it. */
typedef struct Gemm {
	const char *preset;
	int mode; /* NNZRT_ACCEL_MODE_* */
	uint32_t m, n, k, nz, grp;
} Gemm;

static uint32_t srow_of(const Gemm *g)
{
	return g->mode == NNZRT_ACCEL_MODE_DENSE ? g->k : g->mode == NNZRT_ACCEL_MODE_NM ? g->k / g->grp * g->nz : g->nz;
}

static char *gemm_text(const Gemm *g, const float *sv, const uint32_t *sx)
{
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	uint32_t srow = srow_of(g), sparse = g->mode != NNZRT_ACCEL_MODE_DENSE;
	uint64_t ns = (uint64_t)g->m * srow;
	fprintf(f, ".nnza 1.0\n.config %s\n.arena %u\n", g->preset, g->k * g->n + g->m * g->n);
	fprintf(f, ".input \"d\" f32 [%u,%u] @0\n.output \"c\" f32 [%u,%u] @%u\n", g->k, g->n, g->m, g->n, g->k * g->n);
	fprintf(f, ".layer \"gemm\" \"Gemm\" 0 7\n");
	fprintf(f, ".const %llu\n", (unsigned long long)(sparse ? 2 * ns : ns));
	put_floats(f, sv, ns);
	if (sparse)
		put_words(f, sx, ns);
	fprintf(f, ".code\n");
	const char *fmt = g->mode == NNZRT_ACCEL_MODE_DENSE ? "dense" : g->mode == NNZRT_ACCEL_MODE_NM ? "nm" : "gs";
	char nm[64] = "";
	if (g->mode == NNZRT_ACCEL_MODE_NM)
		snprintf(nm, sizeof nm, " n=%u m=%u", g->nz, g->grp);
	fprintf(f, "ld fmt=%s part=val buf=W rows=%u cols=%u space=const dram=0%s\n", fmt, g->m, srow, nm);
	if (sparse)
		fprintf(f, "ld fmt=%s part=idx buf=X rows=%u cols=%u space=const dram=%llu%s\n", fmt, g->m, srow,
			(unsigned long long)ns, nm);
	else
		fprintf(f, "sync units=ld\n"); /* keeps the instruction count (and the layer) the same */
	fprintf(f, "ld fmt=dense buf=I rows=%u cols=%u space=arena dram=0\nsync units=ld\n", g->k, g->n);
	const char *mode = fmt;
	fprintf(f, "mm mode=%s sbuf=W dbuf=I m=%u n=%u k=%u nz=%u grp=%u\nsync units=mx\n", mode, g->m, g->n, g->k,
		g->mode == NNZRT_ACCEL_MODE_DENSE ? 0 : g->nz, g->mode == NNZRT_ACCEL_MODE_NM ? g->grp : 0);
	fprintf(f, "st fmt=dense buf=O rows=%u cols=%u space=arena dram=%u\nend\n", g->m, g->n, g->k * g->n);
	fclose(f);
	return text;
}

/* Random pack: values in [-1, 1] (some zero), indices ascending within a group (nm) or a row (gs). */
static void random_pack(const Gemm *g, float *sv, uint32_t *sx)
{
	uint32_t srow = srow_of(g);
	for (uint32_t r = 0; r < g->m; r++) {
		for (uint32_t e = 0; e < srow; e++)
			sv[r * srow + e] = test_next() % 7 == 0 ? 0.0f : test_frand();
		if (g->mode == NNZRT_ACCEL_MODE_DENSE)
			continue;
		uint32_t span = g->mode == NNZRT_ACCEL_MODE_NM ? g->grp : g->k, per = g->mode == NNZRT_ACCEL_MODE_NM ? g->nz : g->nz;
		for (uint32_t base = 0; base < srow; base += per) {
			/* per distinct ascending indices out of span: a selection pass */
			uint32_t need = per, e = base;
			for (uint32_t i = 0; i < span && need; i++)
				if (test_next() % (span - i) < need) {
					sx[r * srow + e++] = i;
					need--;
				}
		}
	}
}

/* the reference: slot order, as the ISA defines it */
static void slot_gemm(const Gemm *g, const float *sv, const uint32_t *sx, const float *d, float *c)
{
	uint32_t srow = srow_of(g);
	for (uint32_t i = 0; i < g->m; i++)
		for (uint32_t j = 0; j < g->n; j++) {
			float acc = 0.0f;
			for (uint32_t e = 0; e < srow; e++) {
				uint32_t row = g->mode == NNZRT_ACCEL_MODE_DENSE ? e
					       : g->mode == NNZRT_ACCEL_MODE_NM  ? e / g->nz * g->grp + sx[i * srow + e]
										 : sx[i * srow + e];
				acc += sv[i * srow + e] * d[(size_t)row * g->n + j];
			}
			c[(size_t)i * g->n + j] = acc;
		}
}

/* ---------------------------------------------------------------- GEMMs */

static const Gemm gemms[] = {
	{"dense", NNZRT_ACCEL_MODE_DENSE, 5, 7, 3, 0, 0},
	{"dense", NNZRT_ACCEL_MODE_DENSE, 40, 33, 70, 0, 0},
	{"stc", NNZRT_ACCEL_MODE_DENSE, 8, 16, 12, 0, 0},
	{"stc", NNZRT_ACCEL_MODE_NM, 9, 13, 16, 2, 4},
	{"vegeta", NNZRT_ACCEL_MODE_NM, 6, 10, 20, 1, 4},
	{"vegeta", NNZRT_ACCEL_MODE_NM, 6, 10, 20, 2, 4},
	{"vegeta", NNZRT_ACCEL_MODE_NM, 6, 10, 20, 4, 4},
	{"demm", NNZRT_ACCEL_MODE_NM, 5, 9, 256, 11, 128},
	{"demm", NNZRT_ACCEL_MODE_NM, 3, 4, 256, 200, 256},
	{"demm", NNZRT_ACCEL_MODE_DENSE, 4, 6, 30, 0, 0},
	{"gs", NNZRT_ACCEL_MODE_GS, 20, 11, 40, 5, 0},
	{"gs", NNZRT_ACCEL_MODE_DENSE, 3, 5, 9, 0, 0},
};

START_TEST(gemm_matches_reference)
{
	const Gemm *g = &gemms[_i];
	test_seed(42, (uint64_t)_i);
	uint32_t srow = srow_of(g);
	size_t ns = (size_t)g->m * srow;
	float *sv = malloc(ns * sizeof *sv), *d = malloc((size_t)g->k * g->n * sizeof *d);
	uint32_t *sx = calloc(ns, sizeof *sx);
	float *c = malloc((size_t)g->m * g->n * sizeof *c), *want = malloc((size_t)g->m * g->n * sizeof *want);
	random_pack(g, sv, sx);
	for (size_t i = 0; i < (size_t)g->k * g->n; i++)
		d[i] = test_frand();
	char *text = gemm_text(g, sv, sx);
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {d};
	float *out[] = {c};
	nnzrt_accel_stats st;
	ck_assert_msg(nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, &st) == 0, "%s", nnzrt_errmsg());
	slot_gemm(g, sv, sx, d, want);
	/* the same order of the same operations: the same bits */
	for (size_t i = 0; i < (size_t)g->m * g->n; i++)
		ck_assert_msg(bits(c[i]) == bits(want[i]), "case %d element %zu: %.9g, want %.9g", _i, i, (double)c[i],
			      (double)want[i]);
	/* the stats exist and are sane: one layer, its useful MACs = non-zeros x n */
	uint64_t nz = 0;
	for (size_t i = 0; i < ns; i++)
		nz += sv[i] != 0.0f;
	ck_assert_int_eq(st.n_layers, 1);
	ck_assert_str_eq(st.layers[0].name, "gemm");
	ck_assert_str_eq(st.layers[0].op, "Gemm");
	ck_assert_uint_eq(st.total.macs, nz * g->n);
	ck_assert_uint_eq(st.layers[0].cost.macs, nz * g->n);
	ck_assert_uint_eq(st.total.insns, 8);
	ck_assert(st.total.cycles > 0 && st.total.energy_pj > 0 && st.total.utilisation <= 1.0);
	nnzrt_accel_stats_free(&st);
	nnzrt_accel_free(p);
	free(text);
	free(sv);
	free(sx);
	free(d);
	free(c);
	free(want);
}
END_TEST

/* The dense product equals the N:M one when the weight is the unpacked pack (exact: zeros add
 * +-0, which changes nothing). */
START_TEST(nm_equals_dense_unpacked)
{
	Gemm g = {"stc", NNZRT_ACCEL_MODE_NM, 8, 8, 16, 2, 4};
	test_seed(7, 0);
	float sv[8 * 8], d[16 * 8], dense[8 * 16] = {0}, c1[64], c2[64];
	uint32_t sx[8 * 8];
	random_pack(&g, sv, sx);
	for (int i = 0; i < 16 * 8; i++)
		d[i] = test_frand();
	for (int r = 0; r < 8; r++)
		for (int e = 0; e < 8; e++)
			dense[r * 16 + e / 2 * 4 + (int)sx[r * 8 + e]] = sv[r * 8 + e];
	char *t1 = gemm_text(&g, sv, sx);
	Gemm gd = {"stc", NNZRT_ACCEL_MODE_DENSE, 8, 8, 16, 0, 0};
	char *t2 = gemm_text(&gd, dense, NULL);
	nnzrt_accel_program *p1 = test_accel_build(t1), *p2 = test_accel_build(t2);
	const float *in[] = {d};
	float *o1[] = {c1}, *o2[] = {c2};
	ck_assert_int_eq(nnzrt_accel_run(p1, in, o1, 0, NULL), 0);
	ck_assert_int_eq(nnzrt_accel_run(p2, in, o2, 0, NULL), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_float_eq(c1[i], c2[i]);
	nnzrt_accel_free(p1);
	nnzrt_accel_free(p2);
	free(t1);
	free(t2);
}
END_TEST

/* K tiled into mm + mma over two halves, with ldn > n (a wider O tile): the same bits as the
 * single product, because accumulation continues in reduction order. */
START_TEST(mma_accumulates_k_tiles)
{
	enum { M = 6, N = 5, K = 10, LDN = 8 };
	test_seed(3, 0);
	float s[M * K], d[K * N], c[M * N], want[M * N];
	for (int i = 0; i < M * K; i++)
		s[i] = test_frand();
	for (int i = 0; i < K * N; i++)
		d[i] = test_frand();
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, ".nnza 1.0\n.config dense\n.arena %d\n.input \"d\" f32 [%d,%d] @0\n", K * N + M * N, K, N);
	fprintf(f, ".output \"c\" f32 [%d,%d] @%d\n.const %d\n", M, N, K * N, M * K);
	put_floats(f, s, M * K);
	fprintf(f, ".code\n");
	/* S halves: columns 0-4 to W[0..30), columns 5-9 to W[100..130), each 6 x 5 */
	fprintf(f, "ld fmt=dense buf=W rows=%d cols=5 space=const dram=0 stride=%d\n", M, K);
	fprintf(f, "ld fmt=dense buf=W addr=100 rows=%d cols=5 space=const dram=5 stride=%d\n", M, K);
	/* D into I with row stride LDN */
	fprintf(f, "ld fmt=dense buf=I rows=%d cols=%d ldb=%d space=arena dram=0\nsync units=ld\n", K, N, LDN);
	fprintf(f, "mm mode=dense sbuf=W dbuf=I m=%d n=%d k=5 ldn=%d\n", M, N, LDN);
	fprintf(f, "mma mode=dense sbuf=W dbuf=I m=%d n=%d k=5 ldn=%d saddr=100 daddr=%d\nsync units=mx\n", M, N, LDN,
		5 * LDN);
	fprintf(f, "st fmt=dense buf=O rows=%d cols=%d ldb=%d space=arena dram=%d\nend\n", M, N, LDN, K * N);
	fclose(f);
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {d};
	float *out[] = {c};
	ck_assert_msg(nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, NULL) == 0, "%s", nnzrt_errmsg());
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float acc = 0.0f;
			for (int k = 0; k < K; k++)
				acc += s[i * K + k] * d[k * N + j];
			want[i * N + j] = acc;
		}
	for (int i = 0; i < M * N; i++)
		ck_assert_msg(bits(c[i]) == bits(want[i]), "element %d: %.9g want %.9g", i, (double)c[i], (double)want[i]);
	nnzrt_accel_free(p);
	free(text);
}
END_TEST

/* ---------------------------------------------------------------- vec, dma, adec */

static const char *const func_names[] = {"mov", "fill", "add", "sub", "mul", "max", "min", "relu", "clip"};
static const char *const bcast_names[] = {"none", "full", "row", "col", "scalar"};

static float ref_vec(int func, float a, float b, float i0, float i1)
{
	switch (func) {
	case ACCEL_FUNC_MOV: return a;
	case ACCEL_FUNC_FILL: return i0;
	case ACCEL_FUNC_ADD: return a + b;
	case ACCEL_FUNC_SUB: return a - b;
	case ACCEL_FUNC_MUL: return a * b;
	case ACCEL_FUNC_MAX: return a > b ? a : b;
	case ACCEL_FUNC_MIN: return a < b ? a : b;
	case ACCEL_FUNC_RELU: return a < 0 ? 0.0f : a;
	default: return a < i0 ? i0 : a > i1 ? i1 : a;
	}
}

/* every func with every broadcast it takes, a read with lda and astep (a strided view: every
 * other column of every third row), into a different buffer */
START_TEST(vec_funcs)
{
	enum { R = 3, C = 4, LDA = 30, STEP = 2 };
	int func = _i / ACCEL_BCAST_COUNT, bcast = _i % ACCEL_BCAST_COUNT;
	bool binary = func >= ACCEL_FUNC_ADD && func <= ACCEL_FUNC_MIN;
	if (binary ? bcast == ACCEL_BCAST_NONE : bcast != ACCEL_BCAST_NONE)
		return; /* not a valid combination */
	test_seed(11, (uint64_t)_i);
	float a[R * LDA], b[R * C], out[R * C];
	for (int i = 0; i < R * LDA; i++)
		a[i] = test_frand();
	for (int i = 0; i < R * C; i++)
		b[i] = test_frand();
	float i0 = func == ACCEL_FUNC_CLIP ? -0.25f : (func == ACCEL_FUNC_FILL || bcast == ACCEL_BCAST_SCALAR) ? 0.5f : 0.0f;
	float i1 = func == ACCEL_FUNC_CLIP ? 0.25f : 0.0f;
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, ".nnza 1.0\n.config dense\n.arena %d\n.input \"a\" f32 [%d] @0\n.input \"b\" f32 [%d] @%d\n",
		R * LDA + 2 * R * C, R * LDA, R * C, R * LDA);
	fprintf(f, ".output \"y\" f32 [%d] @%d\n.code\n", R * C, R * LDA + R * C);
	fprintf(f, "ld fmt=dense buf=I rows=1 cols=%d space=arena dram=0\n", R * LDA);
	fprintf(f, "ld fmt=dense buf=W rows=1 cols=%d space=arena dram=%d addr=7\nsync units=ld\n", R * C, R * LDA);
	fprintf(f, "vec func=%s bcast=%s dbuf=O rows=%d cols=%d", func_names[func], bcast_names[bcast], R, C);
	if (func != ACCEL_FUNC_FILL)
		fprintf(f, " abuf=I lda=%d astep=%d", LDA, STEP);
	if (binary && bcast != ACCEL_BCAST_SCALAR)
		fprintf(f, " bbuf=W baddr=7");
	if (i0 != 0.0f)
		fprintf(f, " imm0=%g", (double)i0);
	if (i1 != 0.0f)
		fprintf(f, " imm1=%g", (double)i1);
	fprintf(f, "\nsync units=vx\nst fmt=dense buf=O rows=1 cols=%d space=arena dram=%d\nend\n", R * C, R * LDA + R * C);
	fclose(f);
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {a, b};
	float *outs[] = {out};
	ck_assert_msg(nnzrt_accel_run(p, in, outs, NNZRT_ACCEL_RUN_CHECK_HAZARDS, NULL) == 0, "%s", nnzrt_errmsg());
	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			float bv = bcast == ACCEL_BCAST_FULL ? b[r * C + c]
				   : bcast == ACCEL_BCAST_ROW ? b[r]
				   : bcast == ACCEL_BCAST_COL ? b[c]
							      : i0;
			float want = ref_vec(func, a[r * LDA + c * STEP], bv, i0, i1);
			ck_assert_msg(bits(out[r * C + c]) == bits(want), "%s/%s [%d,%d]: %g want %g", func_names[func],
				      bcast_names[bcast], r, c, (double)out[r * C + c], (double)want);
		}
	nnzrt_accel_free(p);
	free(text);
}
END_TEST

/* 2-D loads and stores: a row stride, a column step, a repeated row (stride 0), a row stride into
 * the buffer (ldb), and a strided store */
START_TEST(dma_strides)
{
	float x[64], y[64];
	for (int i = 0; i < 64; i++)
		x[i] = (float)i;
	const char *text = ".nnza 1.0\n.config dense\n.arena 128\n.input \"x\" f32 [64] @0\n.output \"y\" f32 [64] @64\n"
			   ".code\n"
			   "ld fmt=dense buf=I rows=3 cols=4 space=arena dram=1 stride=10 cstep=2 ldb=5\n" /* I[r*5+c] = x[1+10r+2c] */
			   "ld fmt=dense buf=I addr=20 rows=2 cols=3 space=arena dram=5 stride=0\n"      /* I[20+r*3+c] = x[5+c] */
			   "sync units=ld\n"
			   "st fmt=dense buf=I rows=1 cols=26 space=arena dram=64\n"
			   "st fmt=dense buf=I addr=20 rows=2 cols=2 space=arena dram=100 stride=5 cstep=3\n" /* y[36+5r+3c] = I[20+2r+c] */
			   "end\n";
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {x};
	float *out[] = {y};
	ck_assert_msg(nnzrt_accel_run(p, in, out, 0, NULL) == 0, "%s", nnzrt_errmsg());
	float want[64] = {0};
	for (int r = 0; r < 3; r++)
		for (int c = 0; c < 4; c++)
			want[r * 5 + c] = x[1 + 10 * r + 2 * c];
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < 3; c++)
			want[20 + r * 3 + c] = x[5 + c];
	float ibuf[26];
	memcpy(ibuf, want, sizeof ibuf);
	for (int r = 0; r < 2; r++)
		for (int c = 0; c < 2; c++)
			want[36 + 5 * r + 3 * c] = ibuf[20 + 2 * r + c];
	for (int i = 0; i < 64; i++)
		ck_assert_msg(y[i] == want[i], "y[%d] = %g, want %g", i, (double)y[i], (double)want[i]);
	nnzrt_accel_free(p);
}
END_TEST

/* adec 2:4 with ties (equal magnitudes: the lower index wins), then the residual (resid=1) is
 * decomposed again: the two terms sum back to the source; then an nm mm of the pack. */
START_TEST(adec_decomposes)
{
	float x[2 * 8] = {1, -3, 3, 0.5f, 0, 0, 0, 0, /* row 0: groups {1,-3,3,.5} {0,0,0,0} */
			  -2, 2, 2, -2, 4, -1, 0.25f, 5};
	float y[2 * 4 * 2 + 2 * 8 + 2 * 4];
	const char *text =
		".nnza 1.0\n.config stc\n.arena 64\n.input \"x\" f32 [2,8] @0\n.output \"y\" f32 [40] @16\n.code\n"
		"ld fmt=dense buf=I rows=2 cols=8 space=arena dram=0\nsync units=ld\n"
		"adec resid=1 sbuf=I dbuf=W rows=2 cols=8 n=2 m=4 daddr=0 xaddr=0\n"
		"adec resid=0 sbuf=I dbuf=W rows=2 cols=8 n=2 m=4 daddr=8 xaddr=8\n"
		"sync units=vx\n"
		"st fmt=dense buf=W rows=1 cols=16 space=arena dram=16\n"
		"st fmt=dense buf=I rows=1 cols=16 space=arena dram=32\n"
		"st fmt=nm part=idx buf=X rows=1 cols=8 space=arena dram=48 n=2 m=4\n"
		"end\n";
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {x};
	float *out[] = {y};
	ck_assert_msg(nnzrt_accel_run(p, in, out, 0, NULL) == 0, "%s", nnzrt_errmsg());
	/* term 1: row 0: {-3 @1, 3 @2} {0 @0, 0 @1}; row 1: {-2 @0, 2 @1} {4 @0, 5 @3} */
	const float t1[8] = {-3, 3, 0, 0, -2, 2, 4, 5};
	const uint32_t i1[8] = {1, 2, 0, 1, 0, 1, 0, 3};
	/* residual: row 0: {1, 0, 0, .5} {0...}; row 1: {0, 0, 2, -2} {0, -1, .25, 0} */
	const float t2[8] = {1, 0.5f, 0, 0, 2, -2, -1, 0.25f};
	const float resid[16] = {1, 0, 0, 0.5f, 0, 0, 0, 0, 0, 0, 2, -2, 0, -1, 0.25f, 0};
	for (int i = 0; i < 8; i++) {
		ck_assert_msg(y[i] == t1[i], "term 1 [%d] %g want %g", i, (double)y[i], (double)t1[i]);
		ck_assert_msg(y[8 + i] == t2[i], "term 2 [%d] %g want %g", i, (double)y[8 + i], (double)t2[i]);
		uint32_t idx;
		memcpy(&idx, &y[32 + i], sizeof idx);
		ck_assert_msg(idx == i1[i], "index [%d] %u want %u", i, idx, i1[i]);
	}
	for (int i = 0; i < 16; i++)
		ck_assert_msg(y[16 + i] == resid[i], "residual [%d] %g want %g", i, (double)y[16 + i], (double)resid[i]);
	nnzrt_accel_free(p);
}
END_TEST

/* ---------------------------------------------------------------- errors */

/* An index in X that the loader could not see: loaded from the arena (the input) into X. */
static const struct {
	const char *config, *mode, *fmt, *extra;
	uint32_t bad, k;
	const char *expect;
} bad_indices[] = {
	{"stc", "nm", "nm", " n=2 m=4", 4, 8, "index 4 at X[3] (row 0, slot 3) is not below the group size 4"},
	{"stc", "nm", "nm", " n=2 m=4", 0xffffffffu, 8, "index 4294967295 at X[3]"},
	{"gs", "gs", "gs", "", 8, 8, "index 8 at X[3] (row 0, slot 3) is not below k 8"},
};

START_TEST(bad_index_at_run_time)
{
	char text[2048];
	bool nm = strcmp(bad_indices[_i].mode, "nm") == 0;
	snprintf(text, sizeof text,
		 ".nnza 1.0\n.config %s\n.arena 64\n.input \"x\" f32 [4] @0\n.output \"y\" f32 [8] @8\n"
		 ".const 4\nf1 f1 f1 f1\n.code\n"
		 "ld fmt=%s part=val buf=W rows=1 cols=4 space=const dram=0%s\n"
		 "ld fmt=%s part=idx buf=X rows=1 cols=4 space=arena dram=0%s\n"
		 "sync units=ld\n"
		 "mm mode=%s sbuf=W dbuf=I m=1 n=8 k=%u nz=%u grp=%u\n"
		 "sync units=mx\nst fmt=dense buf=O rows=1 cols=8 space=arena dram=8\nend\n",
		 bad_indices[_i].config, bad_indices[_i].fmt, bad_indices[_i].extra, bad_indices[_i].fmt,
		 bad_indices[_i].extra, bad_indices[_i].mode, bad_indices[_i].k, nm ? 2u : 4u, nm ? 4u : 0u);
	nnzrt_accel_program *p = test_accel_build(text);
	uint32_t idx[4] = {0, 1, 2, bad_indices[_i].bad};
	float x[4], y[8];
	memcpy(x, idx, sizeof x);
	const float *in[] = {x};
	float *out[] = {y};
	nnzrt_accel_stats st;
	ck_assert_int_eq(nnzrt_accel_run(p, in, out, 0, &st), NNZRT_ERR_FORMAT);
	ck_assert_msg(strstr(nnzrt_errmsg(), bad_indices[_i].expect) != NULL, "got '%s'", nnzrt_errmsg());
	ck_assert_msg(strstr(nnzrt_errmsg(), "instruction 3") != NULL, "got '%s'", nnzrt_errmsg());
	nnzrt_accel_stats_free(&st); /* allowed after a failure */
	/* the same program with valid indices runs */
	idx[3] = 3;
	memcpy(x, idx, sizeof x);
	ck_assert_msg(nnzrt_accel_run(p, in, out, 0, NULL) == 0, "%s", nnzrt_errmsg());
	nnzrt_accel_free(p);
}
END_TEST

START_TEST(argument_errors)
{
	nnzrt_accel_program *p = test_accel_build(".nnza 1.0\n.config dense\n.arena 8\n.input \"x\" f32 [4] @0\n"
				       ".output \"y\" f32 [4] @4\n.code\nend\n");
	float x[4] = {1, 2, 3, 4}, y[4];
	const float *in[] = {x};
	float *out[] = {y};
	const float *in_null[] = {NULL};
	ck_assert_int_eq(nnzrt_accel_run(NULL, in, out, 0, NULL), NNZRT_ERR_ARG);
	ck_assert_int_eq(nnzrt_accel_run(p, NULL, out, 0, NULL), NNZRT_ERR_ARG);
	ck_assert_msg(strstr(nnzrt_errmsg(), "no data for input 'x'") != NULL, "%s", nnzrt_errmsg());
	ck_assert_int_eq(nnzrt_accel_run(p, in_null, out, 0, NULL), NNZRT_ERR_ARG);
	ck_assert_int_eq(nnzrt_accel_run(p, in, NULL, 0, NULL), NNZRT_ERR_ARG);
	ck_assert_msg(strstr(nnzrt_errmsg(), "no data for output 'y'") != NULL, "%s", nnzrt_errmsg());
	ck_assert_int_eq(nnzrt_accel_run(p, in, out, 0x80, NULL), NNZRT_ERR_ARG);
	/* nothing stored: the output is the zeroed arena */
	ck_assert_int_eq(nnzrt_accel_run(p, in, out, 0, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(y[i], 0.0f);
	nnzrt_accel_stats_free(NULL);
	nnzrt_accel_free(p);
}
END_TEST

START_TEST(alloc_failures)
{
	Gemm g = {"gs", NNZRT_ACCEL_MODE_GS, 4, 4, 8, 2, 0};
	test_seed(5, 0);
	float sv[8], d[32], c[16];
	uint32_t sx[8];
	random_pack(&g, sv, sx);
	for (int i = 0; i < 32; i++)
		d[i] = test_frand();
	char *text = gemm_text(&g, sv, sx);
	nnzrt_accel_program *p = test_accel_build(text);
	const float *in[] = {d};
	float *out[] = {c};
	int failures = 0;
	for (long n = 1;; n++) {
		nnzrt_accel_stats st;
		rt_test_fail_alloc_after(n);
		int r = nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, &st);
		rt_test_fail_alloc_after(0);
		nnzrt_accel_stats_free(&st);
		if (r == 0)
			break;
		ck_assert_int_eq(r, NNZRT_ERR_NOMEM);
		ck_assert_msg(strstr(nnzrt_errmsg(), "out of memory") != NULL, "%s", nnzrt_errmsg());
		failures++;
		ck_assert_int_lt(n, 100);
	}
	ck_assert_int_ge(failures, 6); /* W I O X arena timer + hazard list + layer stats */
	nnzrt_accel_free(p);
	free(text);
}
END_TEST

/* A load into the half of I that the running mm reads, without a sync: the hazard check names
 * both instructions; with the sync it passes; without the flag nothing is checked. */
START_TEST(hazards)
{
	const char *fmt = ".nnza 1.0\n.config dense\n.arena 64\n.input \"x\" f32 [16] @0\n.output \"y\" f32 [4] @16\n"
			  ".code\n"
			  "ld fmt=dense buf=W rows=1 cols=4 space=arena dram=0\n"
			  "ld fmt=dense buf=I rows=4 cols=4 space=arena dram=0\n"
			  "sync units=ld\n"
			  "mm mode=dense sbuf=W dbuf=I m=1 n=4 k=4\n"
			  "%s"
			  "ld fmt=dense buf=I addr=%d rows=4 cols=4 space=arena dram=0\n"
			  "sync units=ld|mx\n"
			  "st fmt=dense buf=O rows=1 cols=4 space=arena dram=16\nend\n";
	char text[1024];
	float x[16], y[4];
	for (int i = 0; i < 16; i++)
		x[i] = (float)i;
	const float *in[] = {x};
	float *out[] = {y};
	struct {
		const char *sync;
		int addr, want;
	} cases[] = {{"", 0, NNZRT_ERR_FORMAT}, {"sync units=mx\n", 0, 0}, {"", 16, 0}};
	for (int c = 0; c < 3; c++) {
		snprintf(text, sizeof text, fmt, cases[c].sync, cases[c].addr);
		nnzrt_accel_program *p = test_accel_build(text);
		ck_assert_int_eq(nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, NULL), cases[c].want);
		if (cases[c].want)
			ck_assert_msg(strstr(nnzrt_errmsg(), "hazard: instruction 4 (ld) overlaps instruction 3") != NULL,
				      "%s", nnzrt_errmsg());
		ck_assert_int_eq(nnzrt_accel_run(p, in, out, 0, NULL), 0);
		nnzrt_accel_free(p);
	}
}
END_TEST

/* Strided views are compared exactly: a load into columns 32-63 of the rows whose columns 0-31
 * the running mm reads does not conflict, one into columns 16-47 does; a vec writing the gap
 * between two rows of the mm's output tile (ldn > n) does not conflict, one writing into a row
 * does. */
START_TEST(hazards_strided)
{
	const char *fmt = ".nnza 1.0\n.config dense\n.arena 256\n.input \"x\" f32 [256] @0\n.code\n"
			  "ld fmt=dense buf=W rows=1 cols=8 space=arena dram=0\n"
			  "ld fmt=dense buf=I rows=4 cols=32 ldb=64 space=arena dram=0\n"
			  "sync units=ld\n"
			  "mm mode=dense sbuf=W dbuf=I m=2 n=32 k=4 ldn=64\n" /* reads I[k*64 + j], writes O[i*64 + j], j < 32 */
			  "%s\n"
			  "sync units=ld|mx|vx\nend\n";
	struct {
		const char *insn;
		int want;
	} cases[] = {
		{"ld fmt=dense buf=I addr=32 rows=4 cols=32 ldb=64 space=arena dram=0", 0},
		{"ld fmt=dense buf=I addr=16 rows=4 cols=32 ldb=64 space=arena dram=0", NNZRT_ERR_FORMAT},
		{"vec func=fill dbuf=O daddr=32 rows=1 cols=32 imm0=1", 0},
		{"vec func=fill dbuf=O daddr=60 rows=1 cols=8 imm0=1", NNZRT_ERR_FORMAT},
		{"vec func=mov dbuf=I daddr=1000 abuf=O aaddr=32 lda=64 astep=1 rows=2 cols=32", 0},
		{"vec func=mov dbuf=I daddr=1000 abuf=O aaddr=1 lda=64 astep=2 rows=2 cols=4", NNZRT_ERR_FORMAT},
	};
	float x[256] = {0};
	const float *in[] = {x};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		char text[1024];
		snprintf(text, sizeof text, fmt, cases[c].insn);
		nnzrt_accel_program *p = test_accel_build(text);
		int r = nnzrt_accel_run(p, in, NULL, NNZRT_ACCEL_RUN_CHECK_HAZARDS, NULL);
		ck_assert_msg(r == cases[c].want, "case %zu: %d (%s)", c, r, r ? nnzrt_errmsg() : "");
		if (r)
			ck_assert_msg(strstr(nnzrt_errmsg(), "overlaps instruction 3") != NULL, "%s", nnzrt_errmsg());
		nnzrt_accel_free(p);
	}
}
END_TEST

/* ---------------------------------------------------------------- random programs
 *
 * Valid random programs over a small window of each buffer, so that instructions read what
 * others wrote: loads of random words (into X too: indices out of range at run time), products
 * in every mode of the preset, vec, adec, syncs. Every run must end in success or a clean
 * NNZRT_ERR_FORMAT (a bad index, or a hazard when checked), never a crash or a sanitizer report;
 * the stats must be consistent. */
enum { WIN = 96 };

static uint32_t rnd(uint32_t n) { return (uint32_t)(test_next() % n); }

static bool pick_nm(const nnzrt_accel_config *c, uint32_t *n, uint32_t *m)
{
	for (int t = 0; t < 8; t++) {
		const nnzrt_accel_mode *md = &c->modes[rnd((uint32_t)c->n_modes)];
		if (md->kind != NNZRT_ACCEL_MODE_NM || md->m > 8)
			continue; /* small groups keep the products inside the window */
		*m = (uint32_t)md->m;
		*n = (uint32_t)md->n_lo + rnd((uint32_t)(md->n_hi - md->n_lo + 1));
		return true;
	}
	return false;
}

static bool random_insn(const AccelLimits *l, AccelInsn *ins)
{
	const nnzrt_accel_config *c = l->cfg;
	memset(ins, 0, sizeof *ins);
	switch (rnd(6)) {
	case 0:
	case 1: {
		ins->op = rnd(3) ? AOP_LD : AOP_ST;
		AccelDma *d = &ins->u.dma;
		d->rows = 1 + rnd(6);
		d->cols = 1 + rnd(8);
		d->ldb = d->cols + rnd(3);
		d->cstep = 1 + rnd(2);
		d->stride = rnd(12);
		d->space = ins->op == AOP_ST ? ACCEL_SPACE_ARENA : rnd(2);
		uint64_t size = d->space ? l->arena_words : l->const_words;
		uint64_t ext = (uint64_t)(d->rows - 1) * d->stride + (uint64_t)(d->cols - 1) * d->cstep + 1;
		if (ext > size)
			return false;
		d->dram = rnd((uint32_t)(size - ext + 1));
		d->buf = rnd(3);
		if (l->buf_elems[NNZRT_ACCEL_BUF_X] > 0 && rnd(3) == 0) {
			d->buf = NNZRT_ACCEL_BUF_X;
			d->part = ACCEL_PART_IDX;
			if (nnzrt_accel_mode_supported(c, NNZRT_ACCEL_MODE_GS, 0, 0))
				d->fmt = ACCEL_FMT_GS;
			else if (pick_nm(c, &d->n, &d->m))
				d->fmt = ACCEL_FMT_NM;
			else
				return false;
		}
		uint64_t ext_b = (uint64_t)(d->rows - 1) * d->ldb + d->cols;
		d->addr = rnd((uint32_t)(WIN - ext_b + 1));
		return true;
	}
	case 2: {
		ins->op = rnd(2) ? AOP_MM : AOP_MMA;
		AccelMm *x = &ins->u.mm;
		x->m = 1 + rnd(4);
		x->n = 1 + rnd(6);
		x->ldn = x->n + rnd(2);
		x->sbuf = rnd(2);
		x->dbuf = rnd(2);
		uint64_t srow;
		uint32_t mode = rnd(3);
		if (mode == NNZRT_ACCEL_MODE_NM && pick_nm(c, &x->nz, &x->grp)) {
			x->mode = mode;
			x->k = x->grp * (1 + rnd(2));
			srow = (uint64_t)x->k / x->grp * x->nz;
		} else if (mode == NNZRT_ACCEL_MODE_GS && nnzrt_accel_mode_supported(c, NNZRT_ACCEL_MODE_GS, 0, 0)) {
			x->mode = mode;
			x->k = 1 + rnd(8);
			x->nz = 1 + rnd(x->k);
			srow = x->nz;
		} else {
			x->k = 1 + rnd(8);
			srow = x->k;
		}
		x->saddr = rnd((uint32_t)(WIN - x->m * srow + 1));
		if (x->mode != NNZRT_ACCEL_MODE_DENSE)
			x->xaddr = rnd((uint32_t)(WIN - x->m * srow + 1));
		x->daddr = rnd((uint32_t)(WIN - ((x->k - 1) * x->ldn + x->n) + 1));
		x->caddr = rnd((uint32_t)(WIN - ((x->m - 1) * x->ldn + x->n) + 1));
		return true;
	}
	case 3: {
		ins->op = AOP_VEC;
		AccelVec *v = &ins->u.vec;
		v->func = rnd(ACCEL_FUNC_COUNT);
		v->rows = 1 + rnd(4);
		v->cols = 1 + rnd(6);
		v->dbuf = rnd(3);
		v->daddr = rnd(WIN - v->rows * v->cols + 1);
		if (v->func != ACCEL_FUNC_FILL) {
			v->abuf = rnd(3);
			v->lda = rnd(8);
			v->astep = 1 + rnd(2);
			v->aaddr = rnd(WIN - ((v->rows - 1) * v->lda + (v->cols - 1) * v->astep + 1) + 1);
		}
		if (v->func >= ACCEL_FUNC_ADD && v->func <= ACCEL_FUNC_MIN) {
			v->bcast = 1 + rnd(4);
			if (v->bcast == ACCEL_BCAST_SCALAR) {
				v->imm0 = bits((float)rnd(100) / 7.0f - 5.0f);
			} else {
				v->bbuf = rnd(3);
				uint32_t e = v->bcast == ACCEL_BCAST_FULL ? v->rows * v->cols
					     : v->bcast == ACCEL_BCAST_ROW ? v->rows
									   : v->cols;
				v->baddr = rnd(WIN - e + 1);
			}
		}
		if (v->func == ACCEL_FUNC_FILL)
			v->imm0 = bits(-1.5f);
		if (v->func == ACCEL_FUNC_CLIP) {
			v->imm0 = bits(-1.0f);
			v->imm1 = bits(2.0f);
		}
		return true;
	}
	case 4: {
		ins->op = AOP_ADEC;
		AccelAdec *a = &ins->u.adec;
		if (!pick_nm(c, &a->n, &a->m))
			return false;
		a->resid = rnd(2);
		a->sbuf = rnd(3);
		a->dbuf = rnd(2);
		a->rows = 1 + rnd(3);
		a->cols = a->m * (1 + rnd(2));
		uint32_t packed = a->cols / a->m * a->n;
		a->saddr = rnd(WIN - a->rows * a->cols + 1);
		a->daddr = rnd(WIN - a->rows * packed + 1);
		a->xaddr = rnd(WIN - a->rows * packed + 1);
		return true;
	}
	default:
		ins->op = AOP_SYNC;
		ins->u.sync.units = 1 + rnd(15);
		return true;
	}
}

START_TEST(random_programs)
{
	static const char *const presets[] = {"dense", "stc", "vegeta", "demm", "gs"};
	test_seed(1234, (uint64_t)_i);
	NnzaBuilder b;
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(nnzrt_accel_config_load(presets[_i % 5], &b.cfg), 0);
	b.arena_words = 64 + rnd(200);
	Diag d = {0};
	for (uint32_t i = 0, nc = 16 + rnd(100); i < nc; i++) {
		/* small integers (index-like: mostly in range) and floats */
		uint32_t w = rnd(2) ? rnd(12) : bits((float)rnd(1000) / 100.0f - 5.0f);
		ck_assert_int_eq(nnza_add_consts(&b, &w, 1, NULL, &d), 0);
	}
	AccelLimits lim;
	accel_limits_init(&lim, &b.cfg, b.n_consts, b.arena_words);
	uint32_t n = 1 + rnd(40);
	for (uint32_t i = 0; i < n;) {
		AccelInsn ins;
		char msg[300];
		if (!random_insn(&lim, &ins))
			continue;
		ck_assert_msg(accel_validate(&ins, &lim, msg, sizeof msg) == 0, "generator made an invalid insn: %s", msg);
		ck_assert_int_eq(nnza_emit(&b, &ins, NULL, &d), 0);
		i++;
	}
	AccelInsn end = {.op = AOP_END};
	ck_assert_int_eq(nnza_emit(&b, &end, NULL, &d), 0);
	int64_t dims[1] = {16};
	ck_assert_int_eq(nnza_add_io(&b, "x", 0, 1, dims, 0, &d), 0);
	ck_assert_int_eq(nnza_add_io(&b, "y", 1, 1, dims, 32, &d), 0);
	ck_assert_int_eq(nnza_add_layer(&b, "l0", "A", 0, n / 2 + 1, &d), 0);
	if (n / 2 + 1 < n)
		ck_assert_int_eq(nnza_add_layer(&b, "l1", "B", n / 2 + 1, n - (n / 2 + 1), &d), 0);
	nnzrt_accel_program *p = test_accel_load(&b);
	float x[16], y[16], y2[16];
	for (int i = 0; i < 16; i++)
		x[i] = (float)rnd(5);
	const float *in[] = {x};
	float *out[] = {y}, *out2[] = {y2};
	nnzrt_accel_stats st;
	int r = nnzrt_accel_run(p, in, out, 0, &st);
	ck_assert_msg(r == 0 || (r == NNZRT_ERR_FORMAT && strstr(nnzrt_errmsg(), "is not below")), "%d %s", r, nnzrt_errmsg());
	if (r == 0) {
		uint64_t busy = 0;
		for (int u = 0; u < NNZRT_ACCEL_NUM_UNITS; u++) {
			ck_assert_uint_le(st.total.busy[u], st.total.cycles);
			busy += st.total.busy[u];
		}
		ck_assert_uint_ge(busy, st.total.cycles); /* no idle time without work: ... */
		ck_assert(st.total.utilisation >= 0.0 && st.total.utilisation <= 1.0);
		ck_assert_uint_eq(st.total.insns, n + 1);
		/* the same program again: the same bits (deterministic) */
		ck_assert_int_eq(nnzrt_accel_run(p, in, out2, 0, NULL), 0);
		ck_assert_int_eq(memcmp(y, y2, sizeof y), 0);
	}
	nnzrt_accel_stats_free(&st);
	/* with the hazard check: the same, or a hazard */
	r = nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, NULL);
	ck_assert_msg(r == 0 || (r == NNZRT_ERR_FORMAT && (strstr(nnzrt_errmsg(), "is not below") ||
							    strstr(nnzrt_errmsg(), "hazard"))),
		      "%d %s", r, nnzrt_errmsg());
	nnzrt_accel_free(p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accel_exec");
	TCase *tc = tcase_create("exec");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, gemm_matches_reference, 0, (int)(sizeof gemms / sizeof gemms[0]));
	tcase_add_test(tc, nm_equals_dense_unpacked);
	tcase_add_test(tc, mma_accumulates_k_tiles);
	tcase_add_loop_test(tc, vec_funcs, 0, ACCEL_FUNC_COUNT * ACCEL_BCAST_COUNT);
	tcase_add_test(tc, dma_strides);
	tcase_add_test(tc, adec_decomposes);
	tcase_add_loop_test(tc, bad_index_at_run_time, 0, (int)(sizeof bad_indices / sizeof bad_indices[0]));
	tcase_add_test(tc, argument_errors);
	tcase_add_test(tc, alloc_failures);
	tcase_add_test(tc, hazards);
	tcase_add_test(tc, hazards_strided);
	tcase_add_loop_test(tc, random_programs, 0, 300);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
