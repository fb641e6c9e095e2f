/* The cpu target's cost model (targets/cpu/cost.c) and what goes with it: the cost file's
 * parser on good, truncated and hostile files (a clear error naming the file, never a crash),
 * the fit, the kernel choice under every --kernels setting (the rule itself on a bare context,
 * and end to end through cpu_compile's report), per-layer timing present only in profiled builds,
 * and byte-identical objects for the same model, flags and cost model. No timing is asserted. */
#include "targets/cpu/sparse.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHAPE(...) shape_make((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static const char good[] = "nnzc-cost 1\n"
			   "# a comment\n"
			   "cpu znver5\n"
			   "features 00112233aabbccdd\n"
			   "vlen 16\n"
			   "threads 1\n"
			   "terms fixed mac nnz out im2col row weights nonzeros entries\n"
			   "kind dense 2e-06 8e-12 0 3e-10 1e-10 0 1e-12 0 0\n"
			   "kind sparse-rows 1e-06 0 4e-11 4e-11 1e-10 2e-09 0 3e-11 0\n";

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/nnzc_cost_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
}

START_TEST(test_parse_good)
{
	CpuCostModel m;
	Diag d = {0};
	ck_assert_msg(cpu_cost_parse("good.txt", good, strlen(good), &m, &d) == 0, "%s", d.msg);
	ck_assert_str_eq(m.cpu, "znver5");
	ck_assert(m.features == UINT64_C(0x00112233aabbccdd));
	ck_assert_int_eq(m.vlen, 16);
	ck_assert_int_eq(m.threads, 1);
	ck_assert(m.have[CK_DENSE] && m.have[CK_SPARSE_ROWS] && !m.have[CK_SPARSE_BLOCKS] && !m.have[CK_SPARSE_LANES]);
	ck_assert(m.coef[CK_DENSE][CT_MAC] == 8e-12);
	ck_assert(m.coef[CK_SPARSE_ROWS][CT_ROW] == 2e-9);
	/* a term a kind does not use is ignored, even when the file gives it */
	ck_assert(m.coef[CK_DENSE][CT_NNZ] == 0);

	/* what cpu_cost_write writes reads back the same */
	char buf[4096];
	FILE *f = fmemopen(buf, sizeof buf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cpu_cost_write(&m, f), 0);
	long len = ftell(f);
	fclose(f);
	CpuCostModel m2;
	ck_assert_msg(cpu_cost_parse("again", buf, (size_t)len, &m2, &d) == 0, "%s", d.msg);
	ck_assert_str_eq(m2.cpu, m.cpu);
	ck_assert(m2.features == m.features && m2.vlen == m.vlen && m2.threads == m.threads);
	for (int k = 0; k < CK_COUNT; k++) {
		ck_assert(m2.have[k] == m.have[k]);
		for (int t = 0; t < CT_COUNT && m.have[k]; t++)
			ck_assert_msg(fabs(m2.coef[k][t] - m.coef[k][t]) <= 1e-5 * m.coef[k][t], "kind %d term %d", k, t);
	}
	ck_assert_int_eq(m.dense_vectors, 0); /* not measured: gemm.c's default */
	/* the dense micro-tile's width, when calibrate measured it, reads and writes back */
	char with_nv[sizeof good + 32];
	snprintf(with_nv, sizeof with_nv, "%sdense-vectors 3\n", good);
	ck_assert_msg(cpu_cost_parse("nv", with_nv, strlen(with_nv), &m, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(m.dense_vectors, 3);
	f = fmemopen(buf, sizeof buf, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cpu_cost_write(&m, f), 0);
	len = ftell(f);
	fclose(f);
	ck_assert_msg(cpu_cost_parse("nv again", buf, (size_t)len, &m2, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(m2.dense_vectors, 3);
	/* CRLF line ends are fine */
	const char crlf[] = "nnzc-cost 1\r\ncpu x\r\nfeatures 0000000000000000\r\nvlen 4\r\nthreads 2\r\n"
			    "terms fixed mac nnz out im2col row weights nonzeros entries\r\nkind dense 0 1e-11 0 0 0 0 0 0 0\r\n";
	ck_assert_msg(cpu_cost_parse("crlf", crlf, strlen(crlf), &m, &d) == 0, "%s", d.msg);
}
END_TEST

/* Every hostile or damaged file: an error that starts with the file's name, never a crash. */
static const struct {
	const char *what, *text;
} bad_files[] = {
	{"empty", ""},
	{"only comments", "# nothing\n\n"},
	{"another format", "hello world\n"},
	{"another version", "nnzc-cost 2\ncpu x\n"},
	{"header with more", "nnzc-cost 1 extra\n"},
	{"no kind", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\nterms fixed mac nnz out im2col row weights nonzeros entries\n"},
	{"no cpu", "nnzc-cost 1\nfeatures 0000000000000000\nvlen 4\nthreads 1\nterms fixed mac nnz out im2col row weights nonzeros entries\n"
		   "kind dense 0 0 0 0 0 0 0 0 0\n"},
	{"short kind", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		       "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 1e-11\n"},
	{"kind before terms", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\nkind dense 0 0 0 0 0 0 0 0 0\n"},
	{"other terms", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\nterms fixed mac\n"},
	{"unknown kind", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
			 "terms fixed mac nnz out im2col row weights nonzeros entries\nkind magic 0 0 0 0 0 0 0 0 0\n"},
	{"kind twice", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		       "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 0 0 0 0 0 0 0 0\nkind dense 0 0 0 0 0 0 0 0 0\n"},
	{"negative", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		     "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 -1e-11 0 0 0 0 0 0 0\n"},
	{"nan", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		"terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 nan 0 0 0 0 0 0 0\n"},
	{"inf", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		"terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 inf 0 0 0 0 0 0 0\n"},
	{"huge", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
		 "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 1e300 0 0 0 0 0 0 0\n"},
	{"not a number", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
			 "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 1e-11x 0 0 0 0 0 0 0\n"},
	{"trailing field", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 4\nthreads 1\n"
			   "terms fixed mac nnz out im2col row weights nonzeros entries\nkind dense 0 0 0 0 0 0 0 0 0 7\n"},
	{"bad vlen", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 0\n"},
	{"vlen overflow", "nnzc-cost 1\ncpu x\nfeatures 0000000000000000\nvlen 99999999999999999999\n"},
	{"bad features", "nnzc-cost 1\ncpu x\nfeatures xyz\n"},
	{"cpu twice", "nnzc-cost 1\ncpu x\ncpu y\n"},
	{"unknown key", "nnzc-cost 1\nspeed fast\n"},
	{"empty cpu", "nnzc-cost 1\ncpu\n"},
	{"dense-vectors 4", "nnzc-cost 1\ndense-vectors 4\n"},
	{"dense-vectors 1", "nnzc-cost 1\ndense-vectors 1\n"},
	{"dense-vectors word", "nnzc-cost 1\ndense-vectors three\n"},
	{"dense-vectors empty", "nnzc-cost 1\ndense-vectors\n"},
	{"dense-vectors twice", "nnzc-cost 1\ndense-vectors 3\ndense-vectors 3\n"},
	{"dense-vectors trailing", "nnzc-cost 1\ndense-vectors 3 3\n"},
};

START_TEST(test_parse_bad)
{
	CpuCostModel m;
	Diag d = {0};
	const char *text = bad_files[_i].text;
	ck_assert_msg(cpu_cost_parse("bad.txt", text, strlen(text), &m, &d) < 0, "%s: accepted", bad_files[_i].what);
	ck_assert_msg(strncmp(d.msg, "bad.txt:", 8) == 0, "%s: '%s' does not name the file", bad_files[_i].what, d.msg);
}
END_TEST

START_TEST(test_parse_truncated_and_binary)
{
	CpuCostModel m;
	/* every prefix of a good file parses or fails cleanly; the ones cut before the last kind line
	 * fail (the file must not silently lose its constants) */
	size_t len = strlen(good), last_kind = (size_t)(strstr(good, "kind dense") - good);
	for (size_t n = 0; n < len; n++) {
		Diag d = {0};
		int rc = cpu_cost_parse("cut.txt", good, n, &m, &d);
		if (n <= last_kind)
			ck_assert_msg(rc < 0, "prefix of %zu bytes accepted", n);
		if (rc < 0)
			ck_assert_msg(strncmp(d.msg, "cut.txt:", 8) == 0, "%zu: '%s'", n, d.msg);
	}
	/* a NUL byte, a line too long, a file too large, random bytes */
	Diag d = {0};
	char nul[] = "nnzc-cost 1\ncpu x\0y\n";
	ck_assert_int_lt(cpu_cost_parse("nul.txt", nul, sizeof nul - 1, &m, &d), 0);
	char *big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', 200000);
	memcpy(big, "nnzc-cost 1\ncpu ", 16);
	diag_clear(&d);
	ck_assert_int_lt(cpu_cost_parse("long.txt", big, 5000, &m, &d), 0);
	ck_assert(strstr(d.msg, "long.txt:2") != NULL);
	diag_clear(&d);
	ck_assert_int_lt(cpu_cost_parse("big.txt", big, 200000, &m, &d), 0);
	uint32_t s = 7;
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(round * 37 % 3000);
		for (size_t i = 0; i < n; i++) {
			s = s * 1664525u + 1013904223u;
			big[i] = (char)(s >> 24);
		}
		if (round % 2 && n > 12)
			memcpy(big, "nnzc-cost 1\n", 12);
		diag_clear(&d);
		if (cpu_cost_parse("rnd.txt", big, n, &m, &d) < 0)
			ck_assert(strncmp(d.msg, "rnd.txt:", 8) == 0);
	}
	free(big);
}
END_TEST

START_TEST(test_check_file)
{
	make_tmpdir();
	char path[128];
	Diag d = {0};
	snprintf(path, sizeof path, "%s/missing.txt", tmpdir);
	ck_assert_int_lt(cpu_cost_check_file(path, &d), 0);
	ck_assert_msg(strstr(d.msg, path) != NULL, "%s", d.msg);
	snprintf(path, sizeof path, "%s/good.txt", tmpdir);
	write_file(path, good, strlen(good));
	diag_clear(&d);
	ck_assert_msg(cpu_cost_check_file(path, &d) == 0, "%s", d.msg);
	snprintf(path, sizeof path, "%s/bad.txt", tmpdir);
	write_file(path, good, 40);
	diag_clear(&d);
	ck_assert_int_lt(cpu_cost_check_file(path, &d), 0);
	ck_assert_msg(strncmp(d.msg, path, strlen(path)) == 0, "%s", d.msg);
	remove_tmpdir();
}
END_TEST

START_TEST(test_kernels_option)
{
	CpuKernels k;
	int kind;
	Diag d = {0};
	ck_assert(cpu_kernels_parse("auto", &k, &kind, &d) == 0 && k == CPU_KERNELS_AUTO && kind == 0);
	ck_assert(cpu_kernels_parse("dense", &k, &kind, &d) == 0 && k == CPU_KERNELS_DENSE && kind == 0);
	ck_assert(cpu_kernels_parse("sparse", &k, &kind, &d) == 0 && k == CPU_KERNELS_SPARSE && kind == 0);
	ck_assert(cpu_kernels_parse("sparse-rows", &k, &kind, &d) == 0 && k == CPU_KERNELS_SPARSE &&
		  kind == CK_SPARSE_ROWS);
	ck_assert(cpu_kernels_parse("sparse-lanes", &k, &kind, &d) == 0 && kind == CK_SPARSE_LANES);
	ck_assert_int_lt(cpu_kernels_parse("fast", &k, &kind, &d), 0);
	ck_assert(strstr(d.msg, "--kernels") && strstr(d.msg, "'fast'"));
	diag_clear(&d);
	ck_assert_int_lt(cpu_kernels_parse("dense ", &k, &kind, &d), 0);
}
END_TEST

/* The fit recovers the constants of exact synthetic data, and never goes negative. */
START_TEST(test_fit)
{
	enum { N = 12 };
	double terms[N][CT_COUNT], secs[N], coef[CT_COUNT];
	const double truth[CT_COUNT] = {[CT_FIXED] = 3e-6, [CT_MAC] = 1e-11, [CT_OUT] = 2e-10, [CT_IM2COL] = 5e-10,
					[CT_WEIGHTS] = 1e-10};
	for (int i = 0; i < N; i++) {
		ProductShape p = {.m = 64 << (i % 4), .n = 49 << (i % 3), .k = 64 + 96 * i, .batch = 1, .nnz = 0,
				  .block_r = 1, .im2col = i % 2};
		cpu_cost_terms(&p, terms[i]);
		secs[i] = 0;
		for (int t = 0; t < CT_COUNT; t++)
			secs[i] += truth[t] * terms[i][t];
	}
	double err = cpu_cost_fit(CK_DENSE, (const double (*)[CT_COUNT])terms, secs, N, coef);
	ck_assert_msg(err >= 0 && err < 1e-6, "err %g", err);
	for (int t = 0; t < CT_COUNT; t++)
		ck_assert_msg(fabs(coef[t] - truth[t]) <= 1e-4 * truth[t] + 1e-20, "term %d: %g vs %g", t, coef[t], truth[t]);
	/* data that a negative per-output constant would fit best: the term is dropped instead */
	for (int i = 0; i < N; i++)
		secs[i] = 1e-11 * terms[i][CT_MAC] - 1e-12 * terms[i][CT_OUT] + 1e-6;
	err = cpu_cost_fit(CK_DENSE, (const double (*)[CT_COUNT])terms, secs, N, coef);
	ck_assert(err >= 0);
	for (int t = 0; t < CT_COUNT; t++)
		ck_assert(coef[t] >= 0);
	/* too few samples */
	ck_assert(cpu_cost_fit(CK_DENSE, (const double (*)[CT_COUNT])terms, secs, 2, coef) < 0);
}
END_TEST

/* ---------------------------------------------------------------- the choice, on a bare context */

static CpuChoice choices[2];

static CpuKernelKind choose_with(CpuKernels kernels, int sparse_kind, const ProductShape *p, unsigned can)
{
	CpuOptions opt = {.kernels = kernels, .sparse_kind = sparse_kind, .cost_model = "defaults"};
	Cg cg = {.opt = &opt, .vlen = 16, .choice = choices, .node_index = 0};
	memset(choices, 0, sizeof choices);
	CpuKernelKind k = cpu_choose_kernel(&cg, NULL, p, can);
	ck_assert(choices[0].set && choices[0].kind == (int)k);
	ck_assert(choices[0].dense_s > 0 && choices[0].predicted_s > 0);
	return k;
}

/* the pattern groups' row count and entries: (group, column) pairs holding a non-zero */
START_TEST(test_pattern_entries)
{
	ck_assert_int_eq(sparse_pattern_rows(8), 4);
	ck_assert_int_eq(sparse_pattern_rows(6), 2);
	ck_assert_int_eq(sparse_pattern_rows(7), 0);
	ck_assert_int_eq(sparse_pattern_rows(0), 0);
	/* 4 x 3, rows 0-1 and 2-3 the groups of 2: group 0 has columns 0 and 2, group 1 column 2 */
	static const float w[4][3] = {{1, 0, 0}, {0, 0, 2}, {0, 0, 0}, {0, 0, 3}};
	ck_assert_int_eq(sparse_pattern_entries(&w[0][0], 4, 3, 3, 1, 2), 3);
	ck_assert_int_eq(sparse_pattern_entries(&w[0][0], 4, 3, 3, 1, 4), 2);
	ck_assert_int_eq(sparse_pattern_entries(&w[0][0], 4, 3, 3, 1, 1), 3); /* every non-zero */
	/* the same weight stored transposed (column-major strides) */
	static const float wt[3][4] = {{1, 0, 0, 0}, {0, 0, 0, 0}, {0, 2, 0, 3}};
	ck_assert_int_eq(sparse_pattern_entries(&wt[0][0], 4, 3, 1, 4, 2), 3);
}
END_TEST

START_TEST(test_choice_rule)
{
	unsigned all = 1u << CK_SPARSE_ROWS | 1u << CK_SPARSE_BLOCKS | 1u << CK_SPARSE_LANES;
	/* 5% dense: sparse is cheaper; fully dense: the dense kernel is */
	ProductShape sparse = {.m = 256, .n = 3136, .k = 64, .batch = 1, .nnz = 64 * 256 / 20, .block_r = 1};
	ProductShape dense = sparse;
	dense.nnz = 256 * 64;
	ck_assert_int_eq(choose_with(CPU_KERNELS_DENSE, 0, &sparse, all), CK_DENSE);
	ck_assert_int_ne(choose_with(CPU_KERNELS_AUTO, 0, &sparse, all), CK_DENSE);
	ck_assert_int_eq(choose_with(CPU_KERNELS_AUTO, 0, &dense, all), CK_DENSE);
	ck_assert_int_ne(choose_with(CPU_KERNELS_SPARSE, 0, &dense, all), CK_DENSE);
	/* the lanes kernel runs a few columns only: forced to it, a wide product stays dense */
	ProductShape narrow_cols = dense;
	narrow_cols.n = SPARSE_LANES_MAX_COLUMNS;
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_LANES, &narrow_cols, all), CK_SPARSE_LANES);
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_LANES, &dense, all), CK_DENSE);
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_ROWS, &sparse, all), CK_SPARSE_ROWS);
	/* the pattern groups need an even row count */
	ProductShape odd_rows = sparse;
	odd_rows.m = 255;
	sparse.entries = sparse.nnz; /* at most one per non-zero */
	odd_rows.entries = odd_rows.nnz;
	unsigned with_patterns = all | 1u << CK_SPARSE_PATTERNS;
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_PATTERNS, &sparse, with_patterns), CK_SPARSE_PATTERNS);
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_PATTERNS, &odd_rows, with_patterns), CK_DENSE);
	/* forced to a kind the emitter does not have: dense */
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_LANES, &sparse, 1u << CK_SPARSE_ROWS), CK_DENSE);
	ck_assert_int_eq(choose_with(CPU_KERNELS_SPARSE, 0, &sparse, 0), CK_DENSE);
	/* the choice is noted with its prediction and the dense one */
	choose_with(CPU_KERNELS_SPARSE, CK_SPARSE_ROWS, &dense, all);
	ck_assert(choices[0].predicted_s != choices[0].dense_s);
	/* cost_seconds: -1 for what --kernels KIND excludes and for nonsense */
	CpuOptions opt = {.kernels = CPU_KERNELS_SPARSE, .sparse_kind = CK_SPARSE_ROWS, .cost_model = "defaults"};
	Cg cg = {.opt = &opt, .vlen = 16};
	ck_assert(cpu_cost_seconds(&cg, CK_SPARSE_BLOCKS, &sparse) < 0);
	ck_assert(cpu_cost_seconds(&cg, CK_SPARSE_ROWS, &sparse) > 0);
	ck_assert(cpu_cost_seconds(&cg, CK_DENSE, &sparse) > 0);
	ck_assert(cpu_cost_seconds(&cg, (CpuKernelKind)CK_COUNT, &sparse) < 0);
	ProductShape neg = sparse;
	neg.m = -1;
	ck_assert(cpu_cost_seconds(&cg, CK_DENSE, &neg) < 0);
	/* narrower vectors: arithmetic costs more */
	Cg narrow = {.opt = &opt, .vlen = 4};
	ck_assert(cpu_cost_seconds(&narrow, CK_DENSE, &dense) > cpu_cost_seconds(&cg, CK_DENSE, &dense));
}
END_TEST

/* A file for another CPU in the cache folder is not used; --cost-model FILE is. */
START_TEST(test_model_resolution)
{
	make_tmpdir();
	ck_assert_int_eq(setenv("XDG_CACHE_HOME", tmpdir, 1), 0);
	char dir[128], path[192];
	snprintf(dir, sizeof dir, "%s/nnzc", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/cost-test-cpu.txt", dir);
	char other[sizeof good + 32];
	snprintf(other, sizeof other, "%s", good); /* cpu znver5, not test-cpu */
	write_file(path, other, strlen(other));
	CpuOptions opt = {0};
	Diag d = {0};
	Cg cg = {.opt = &opt, .vlen = 16, .cpu_name = "test-cpu", .cpu_features = "", .d = &d};
	ck_assert_str_eq(cpu_cost_model(&cg)->source, "defaults");
	ck_assert_int_eq(cpu_cost_model_check(&cg), 0);
	/* the same file named explicitly is used, named by base name and hash */
	opt.cost_model = path;
	ck_assert(strncmp(cpu_cost_model(&cg)->source, "cost-test-cpu.txt fnv1a64:", 26) == 0);
	ck_assert_int_eq(cpu_cost_model_check(&cg), 0);
	/* a damaged explicit file fails the check, naming it */
	char bad_path[192];
	snprintf(bad_path, sizeof bad_path, "%s/damaged.txt", dir);
	write_file(bad_path, good, 30);
	opt.cost_model = bad_path;
	ck_assert_int_lt(cpu_cost_model_check(&cg), 0);
	ck_assert_msg(strstr(d.msg, bad_path) != NULL, "%s", d.msg);
	ck_assert_str_eq(cpu_cost_model(&cg)->source, "defaults");
	opt.cost_model = "defaults";
	ck_assert_str_eq(cpu_cost_model(&cg)->source, "defaults");
	char def[256];
	ck_assert_int_eq(cpu_cost_default_path("znver5", def, sizeof def), 0);
	snprintf(path, sizeof path, "%s/nnzc/cost-znver5.txt", tmpdir);
	ck_assert_str_eq(def, path);
	remove_tmpdir();
}
END_TEST

/* ---------------------------------------------------------------- end to end through cpu_compile */

static float uniform(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)(*s >> 8) / 16777216.0f;
}

/* x [8, 256] -> Gemm (w [128, 256], 90% zeros, transB) -> Relu -> Conv 1x1 (16 -> 32) on a
 * reshaped input: two weight products, and an op without one. */
static Graph *small_graph(void)
{
	Graph *g = graph_new("costtest");
	Diag d = {0};
	Shape xs = SHAPE(8, 256), ws = SHAPE(128, 256), cs = SHAPE(1, 16, 8, 8), cws = SHAPE(32, 16, 1, 1);
	Value *x = graph_add_value(g, "x", DT_F32, &xs);
	graph_add_input(g, x);
	Value *w = graph_add_constant(g, "w", DT_F32, &ws, &d);
	uint32_t s = 1;
	float *wd = w->data;
	for (int i = 0; i < 128 * 256; i++)
		wd[i] = uniform(&s) < 0.1f ? uniform(&s) - 0.5f : 0.0f;
	Node *gm = graph_add_node(g, OP_Gemm, "gemm", 2, (Value *[]){x, w}, 1);
	gm->attr.gemm.trans_b = 1;
	Node *r = graph_add_node(g, OP_Relu, "relu", 1, (Value *[]){gm->out[0]}, 1);
	graph_add_output(g, r->out[0]);
	Value *c = graph_add_value(g, "c", DT_F32, &cs);
	graph_add_input(g, c);
	Value *cw = graph_add_constant(g, "cw", DT_F32, &cws, &d);
	float *cwd = cw->data;
	for (int i = 0; i < 32 * 16; i++)
		cwd[i] = uniform(&s) < 0.2f ? uniform(&s) - 0.5f : 0.0f;
	Node *cv = graph_add_node(g, OP_Conv, "conv", 2, (Value *[]){c, cw}, 1);
	cv->attr.conv.kernel_shape = (Ints){2, {1, 1}};
	graph_add_output(g, cv->out[0]);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	return g;
}

static int node_index(const Graph *g, const char *name)
{
	for (int k = 0; k < g->n_nodes; k++)
		if (strcmp(g->nodes[k]->name, name) == 0)
			return k;
	ck_abort_msg("no node %s", name);
	return -1;
}

static int compile_to(const Graph *g, CpuOptions *o, const char *out, CpuEmit emit, CpuReport *rep, Diag *d)
{
	o->output = out;
	o->emit = emit;
	o->opt_level = o->opt_level ? o->opt_level : 1;
	o->report = rep;
	o->prefix = "m"; /* else derived from the output's name */
	if (o->cost_model == NULL)
		o->cost_model = "defaults";
	return cpu_compile(g, o, d);
}

START_TEST(test_choice_end_to_end)
{
	make_tmpdir();
	Graph *g = small_graph();
	int gemm = node_index(g, "gemm"), relu = node_index(g, "relu"), conv = node_index(g, "conv");
	char out[128];
	snprintf(out, sizeof out, "%s/m.o", tmpdir);
	static const struct {
		CpuKernels k;
		int kind;
	} modes[] = {{CPU_KERNELS_DENSE, 0}, {CPU_KERNELS_SPARSE, 0}, {CPU_KERNELS_AUTO, 0},
		     {CPU_KERNELS_SPARSE, CK_SPARSE_ROWS}, {CPU_KERNELS_SPARSE, CK_SPARSE_LANES}};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		CpuOptions o = {.kernels = modes[i].k, .sparse_kind = modes[i].kind};
		CpuReport rep = {0};
		Diag d = {0};
		ck_assert_msg(compile_to(g, &o, out, CPU_EMIT_OBJ, &rep, &d) == 0, "%s", d.msg);
		ck_assert_str_eq(rep.cost_model, "defaults");
		ck_assert_ptr_null(rep.layers[relu].choice);
		ck_assert(rep.layers[relu].predicted_s < 0);
		for (int k = 0; k < 2; k++) {
			const CpuLayer *l = &rep.layers[k ? conv : gemm];
			ck_assert_msg(l->choice != NULL, "mode %zu: no choice for %s", i, g->nodes[k ? conv : gemm]->name);
			ck_assert(l->dense_s > 0 && l->predicted_s > 0);
			if (modes[i].k == CPU_KERNELS_DENSE)
				ck_assert_str_eq(l->choice, "dense");
			if (modes[i].k == CPU_KERNELS_SPARSE && modes[i].kind == 0)
				ck_assert_msg(strncmp(l->choice, "sparse", 6) == 0, "mode %zu: %s", i, l->choice);
			if (modes[i].kind == CK_SPARSE_ROWS)
				ck_assert_str_eq(l->choice, "sparse-rows");
			/* a conv has no lanes kernel: forced to it, it stays dense */
			if (modes[i].kind == CK_SPARSE_LANES && k == 1)
				ck_assert_str_eq(l->choice, "dense");
			if (strcmp(l->choice, "dense") == 0)
				ck_assert(l->predicted_s == l->dense_s);
		}
		cpu_report_free(&rep);
	}
	graph_free(g);
	remove_tmpdir();
}
END_TEST

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* Timing code only in profiled builds; the same model, flags and cost model give the same bytes;
 * a bad cost model fails the compilation naming the file. */
START_TEST(test_profile_and_determinism)
{
	make_tmpdir();
	Graph *g = small_graph();
	char a[128], b[128], cost[128];
	snprintf(a, sizeof a, "%s/a.ll", tmpdir);
	snprintf(b, sizeof b, "%s/b.ll", tmpdir);
	snprintf(cost, sizeof cost, "%s/cost.txt", tmpdir);
	Diag d = {0};
	CpuOptions o = {0};
	ck_assert_msg(compile_to(g, &o, a, CPU_EMIT_LLVM, NULL, &d) == 0, "%s", d.msg);
	size_t na, nb;
	char *ta = read_all(a, &na);
	ck_assert_ptr_null(strstr(ta, "nnzrt_clock_ns"));
	ck_assert_ptr_null(strstr(ta, "layer_ns"));
	CpuOptions p = {.profile = true};
	ck_assert_msg(compile_to(g, &p, b, CPU_EMIT_LLVM, NULL, &d) == 0, "%s", d.msg);
	char *tb = read_all(b, &nb);
	ck_assert_ptr_nonnull(strstr(tb, "nnzrt_clock_ns"));
	ck_assert_ptr_nonnull(strstr(tb, "@m_layer_ns"));
	free(tb);
	/* identical objects for the same cost model file */
	write_file(cost, good, strlen(good));
	snprintf(a, sizeof a, "%s/a.o", tmpdir);
	snprintf(b, sizeof b, "%s/b.o", tmpdir);
	CpuOptions c1 = {.cost_model = cost}, c2 = {.cost_model = cost};
	ck_assert_msg(compile_to(g, &c1, a, CPU_EMIT_OBJ, NULL, &d) == 0, "%s", d.msg);
	ck_assert_msg(compile_to(g, &c2, b, CPU_EMIT_OBJ, NULL, &d) == 0, "%s", d.msg);
	free(ta);
	ta = read_all(a, &na);
	tb = read_all(b, &nb);
	ck_assert(na == nb && memcmp(ta, tb, na) == 0);
	free(ta);
	free(tb);
	/* a bad one fails and leaves no output */
	write_file(cost, "nnzc-cost 1\ncpu\n", 16);
	char c[128];
	snprintf(c, sizeof c, "%s/c.o", tmpdir);
	CpuOptions c3 = {.cost_model = cost};
	ck_assert_int_lt(compile_to(g, &c3, c, CPU_EMIT_OBJ, NULL, &d), 0);
	ck_assert_msg(strstr(d.msg, cost) != NULL, "%s", d.msg);
	ck_assert_int_ne(access(c, F_OK), 0);
	graph_free(g);
	remove_tmpdir();
}
END_TEST

/* x [1, c, hw, hw] -> Conv 1x1 (c -> m), dense weights */
static Graph *conv_graph(int64_t c, int64_t m, int64_t hw)
{
	Graph *g = graph_new("convtest");
	Diag d = {0};
	Shape xs = SHAPE(1, c, hw, hw), ws = SHAPE(m, c, 1, 1);
	Value *x = graph_add_value(g, "x", DT_F32, &xs);
	graph_add_input(g, x);
	Value *w = graph_add_constant(g, "w", DT_F32, &ws, &d);
	uint32_t s = 7;
	float *wd = w->data;
	for (int64_t i = 0; i < m * c; i++)
		wd[i] = uniform(&s) - 0.5f;
	Node *cv = graph_add_node(g, OP_Conv, "conv", 2, (Value *[]){x, w}, 1);
	cv->attr.conv.kernel_shape = (Ints){2, {1, 1}};
	graph_add_output(g, cv->out[0]);
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	return g;
}

/* The module's text without its metadata blob (@nnzc.info), which names the cost model: the
 * code alone. */
static char *compile_ll(const Graph *g, CpuOptions o, const char *path)
{
	Diag d = {0};
	o.kernels = CPU_KERNELS_DENSE;
	ck_assert_msg(compile_to(g, &o, path, CPU_EMIT_LLVM, NULL, &d) == 0, "%s", d.msg);
	size_t n;
	char *text = read_all(path, &n);
	char *info = strstr(text, "\n@nnzc.info ");
	ck_assert_ptr_nonnull(info);
	char *end = strchr(info + 1, '\n');
	ck_assert_ptr_nonnull(end);
	memmove(info, end, strlen(end) + 1);
	return text;
}

/* The dense micro-tile's width (CpuOptions.dense_vectors, or the cost file's dense-vectors):
 * 3 changes the code of a product gemm.c may widen (160 terms, 96 rows) and nothing else (48
 * rows); 2 is the default; the cost file's line and the option give the same code. Correctness
 * of the widened code: test_cpu_cg. */
START_TEST(test_dense_vectors)
{
	make_tmpdir();
	char ll[128], cost[128];
	snprintf(ll, sizeof ll, "%s/m.ll", tmpdir);
	snprintf(cost, sizeof cost, "%s/cost.txt", tmpdir);
	char text[sizeof good + 32];
	snprintf(text, sizeof text, "%sdense-vectors 3\n", good);
	write_file(cost, text, strlen(text));
	for (int wide = 0; wide < 2; wide++) {
		Graph *g = wide ? conv_graph(160, 96, 14) : conv_graph(160, 48, 14);
		char *base = compile_ll(g, (CpuOptions){0}, ll);
		char *two = compile_ll(g, (CpuOptions){.dense_vectors = 2}, ll);
		char *three = compile_ll(g, (CpuOptions){.dense_vectors = 3}, ll);
		char *file = compile_ll(g, (CpuOptions){.cost_model = cost}, ll);
		ck_assert(strcmp(base, two) == 0);
		ck_assert_msg((strcmp(base, three) != 0) == (wide == 1), "%s rows: widened %d", wide ? "96" : "48",
			      strcmp(base, three) != 0);
		ck_assert(strcmp(three, file) == 0);
		free(base);
		free(two);
		free(three);
		free(file);
		graph_free(g);
	}
	remove_tmpdir();
}
END_TEST

/* A profiled model reports a time for every node after a run (values not checked). */
START_TEST(test_layer_ns)
{
	Graph *g = small_graph();
	CpuOptions o = {.opt_level = 1, .profile = true, .cost_model = "defaults"};
	Diag d = {0};
	CpuModel *m = cpu_load(g, &o, &d);
	ck_assert_msg(m != NULL, "%s", d.msg);
	const int64_t *ns = cpu_model_layer_ns(m);
	ck_assert_ptr_nonnull(ns);
	Tensor in[2] = {0}, out[2] = {0};
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(tensor_alloc(&in[i], DT_F32, &g->inputs[i]->shape, &d), 0);
	for (int run = 0; run < 2; run++) {
		ck_assert_msg(cpu_model_run(m, in, out, 2, &d) == 0, "%s", d.msg);
		for (int k = 0; k <= g->n_nodes; k++)
			ck_assert(ns[k] >= 0);
		int64_t sum = 0;
		for (int k = 0; k < g->n_nodes; k++)
			sum += ns[k];
		ck_assert(sum > 0);
		for (int i = 0; i < 2; i++)
			tensor_free(&out[i]);
	}
	for (int i = 0; i < 2; i++)
		tensor_free(&in[i]);
	cpu_model_free(m);
	/* without profiling: no times */
	CpuOptions q = {.opt_level = 1, .cost_model = "defaults"};
	m = cpu_load(g, &q, &d);
	ck_assert_msg(m != NULL, "%s", d.msg);
	ck_assert_ptr_null(cpu_model_layer_ns(m));
	cpu_model_free(m);
	graph_free(g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cpu_cost");
	TCase *tc = tcase_create("cost");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_parse_good);
	tcase_add_loop_test(tc, test_parse_bad, 0, (int)(sizeof bad_files / sizeof bad_files[0]));
	tcase_add_test(tc, test_parse_truncated_and_binary);
	tcase_add_test(tc, test_check_file);
	tcase_add_test(tc, test_kernels_option);
	tcase_add_test(tc, test_fit);
	tcase_add_test(tc, test_pattern_entries);
	tcase_add_test(tc, test_choice_rule);
	tcase_add_test(tc, test_model_resolution);
	tcase_add_test(tc, test_choice_end_to_end);
	tcase_add_test(tc, test_profile_and_determinism);
	tcase_add_test(tc, test_dense_vectors);
	tcase_add_test(tc, test_layer_ns);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
