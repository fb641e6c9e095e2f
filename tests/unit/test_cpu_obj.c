/* What the cpu target writes besides code, and the reader behind `nnzc info` on it
 * (targets/cpu/artifact.c, entry.c; compiler/driver/elf_info.c, compiled into this test):
 *   - the report: phases, layers, kernels, shared functions, memory plan, weight bytes;
 *   - objects, shared objects and weights files read back by artifact_info, and the same model
 *     and options giving byte-identical files;
 *   - every defect a file can have — truncation at any length, any byte of the ELF header, of the
 *     section table, of the section name table, of the metadata or of the weights header changed,
 *     handcrafted hostile headers (extended numbering, huge counts and offsets) — giving a clean
 *     one-line error and no crash (the sanitizer build checks the "no crash" part).
 * The end-to-end use of such objects (linked with cc, weights loaded and rejected) is
 * tests/cpu_obj/check.sh. */
#include "nnzc/ir.h"
#include "elf_info.h"
#include "targets/cpu/artifact.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TINYCNN NNZC_SOURCE_DIR "/examples/tinycnn/model.onnx"

static char dir[] = "/tmp/nnzc_test_cpu_obj.XXXXXX";

static void path_in(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", dir, name); }

static Graph *load_tinycnn(void)
{
	Diag d = {0};
	ImportOptions io = {0};
	Graph *g = onnx_import(TINYCNN, &io, &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	Pipeline p;
	ck_assert_int_eq(pipeline_parse(default_pipeline, &p, &d), 0);
	Instruments ins = {.verify = true};
	ck_assert_msg(pipeline_run(g, &p, &ins, &d) == 0, "%s", d.msg);
	return g;
}

/* compile g into dir/NAME (emit), with the weights in dir/WEIGHTS if given */
static void compile(Graph *g, const char *name, CpuEmit emit, const char *weights, CpuReport *rep)
{
	char out[512], wf[512];
	path_in(out, sizeof out, name);
	if (weights)
		path_in(wf, sizeof wf, weights);
	CpuOptions o = {.opt_level = 2, .prefix = "m", .emit = emit, .output = out, .weights_file = weights ? wf : NULL,
			.report = rep};
	Diag d = {0};
	ck_assert_msg(cpu_compile(g, &o, &d) == 0, "%s", d.msg);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* artifact_info on the file: 0 with `want` in the output, or (want NULL) -1 with one line */
static int info(const char *path, const char *want)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	Diag d = {0};
	int rc = artifact_info(path, out, &d);
	fclose(out);
	if (rc == 0) {
		ck_assert_msg(want == NULL || strstr(text, want), "'%s' not in:\n%s", want, text);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(d.msg[0] && strchr(d.msg, '\n') == NULL, "not one line: %s", d.msg);
		ck_assert_msg(strstr(d.msg, path) != NULL, "the message does not name the file: %s", d.msg);
		ck_assert_uint_eq(len, 0); /* nothing printed before the error */
	}
	free(text);
	return rc;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

/* ---------------------------------------------------------------- report and round trip */

START_TEST(report_and_info)
{
	Graph *g = load_tinycnn();
	CpuReport r = {0};
	compile(g, "m.o", CPU_EMIT_OBJ, NULL, &r);
	ck_assert_int_eq(r.n_layers, g->n_nodes);
	ck_assert_int_gt(r.n_functions, 0);
	ck_assert_int_le(r.n_functions, r.n_tasks);
	ck_assert_int_gt(r.workspace, 0);
	ck_assert_int_ge(r.naive_workspace, r.workspace - 64 * g->n_inputs);
	ck_assert_int_gt(r.weight_bytes, 0);
	ck_assert_int_eq(r.weights_in_file, 0);
	int64_t layer_bytes = 0;
	for (int k = 0; k < r.n_layers; k++) {
		ck_assert_ptr_nonnull(r.layers[k].kernel);
		ck_assert(r.layers[k].flops > 0);
		ck_assert_int_lt(r.layers[k].shared_with, k);
		layer_bytes += r.layers[k].weight_bytes;
	}
	ck_assert_int_ge(layer_bytes, r.weight_bytes); /* a constant read by two layers counts twice */
	for (int i = 0; i < CPU_PHASES; i++)
		ck_assert(r.seconds[i] >= 0 && r.seconds[i] < 600);
	cpu_report_free(&r);
	ck_assert_ptr_null(r.layers);

	char p[512];
	path_in(p, sizeof p, "m.o");
	ck_assert_int_eq(info(p, "relocatable object"), 0);
	ck_assert_int_eq(info(p, "image: f32[1,3,32,32]"), 0);
	ck_assert_int_eq(info(p, "bytes in the object"), 0);
	ck_assert_int_eq(info(p, "prefix m"), 0);

	compile(g, "w.o", CPU_EMIT_OBJ, "w.bin", &r);
	ck_assert_int_gt(r.weights_in_file, 0);
	cpu_report_free(&r);
	path_in(p, sizeof p, "w.o");
	ck_assert_int_eq(info(p, "in the weights file w.bin"), 0);
	path_in(p, sizeof p, "w.bin");
	ck_assert_int_eq(info(p, "checksum ok"), 0);
	ck_assert_int_eq(info(p, "probabilities: f32[1,10]"), 0);

	compile(g, "m.so", CPU_EMIT_SHARED, NULL, NULL);
	path_in(p, sizeof p, "m.so");
	ck_assert_int_eq(info(p, "shared object"), 0);
	graph_free(g);
}
END_TEST

START_TEST(deterministic)
{
	Graph *g = load_tinycnn();
	unsigned char *b[2][2];
	size_t n[2][2];
	for (int i = 0; i < 2; i++) {
		char o[64], w[64], p[512];
		snprintf(o, sizeof o, "d%d/m.o", i);
		snprintf(w, sizeof w, "d%d/m.bin", i);
		snprintf(p, sizeof p, "%s/d%d", dir, i);
		if (access(p, F_OK) != 0)
			ck_assert_int_eq(mkdir(p, 0700), 0);
		compile(g, o, CPU_EMIT_OBJ, w, NULL);
		path_in(p, sizeof p, o);
		b[i][0] = slurp(p, &n[i][0]);
		path_in(p, sizeof p, w);
		b[i][1] = slurp(p, &n[i][1]);
	}
	for (int k = 0; k < 2; k++) {
		ck_assert_uint_eq(n[0][k], n[1][k]);
		ck_assert(memcmp(b[0][k], b[1][k], n[0][k]) == 0);
		free(b[0][k]);
		free(b[1][k]);
	}
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- defects */

/* every prefix of the file, at a stride that visits each region */
static void truncations(const char *name)
{
	char p[512], q[512];
	path_in(p, sizeof p, name);
	path_in(q, sizeof q, "cut");
	size_t n;
	unsigned char *b = slurp(p, &n);
	size_t step = n / 700 + 1;
	for (size_t len = 0; len < n; len += len < 256 ? 1 : step) {
		spit(q, b, len);
		ck_assert_msg(info(q, NULL) == -1, "%s cut to %zu bytes was accepted", name, len);
	}
	free(b);
}

START_TEST(truncated_files)
{
	Graph *g = load_tinycnn();
	compile(g, "t.o", CPU_EMIT_OBJ, "t.bin", NULL);
	compile(g, "t.so", CPU_EMIT_SHARED, NULL, NULL);
	graph_free(g);
	truncations("t.o");
	truncations("t.so");
	truncations("t.bin");
}
END_TEST

/* one byte changed at each offset in [lo, hi) (all 8 bits flipped, then set to 0xff): the
 * reader either still reads the file or rejects it cleanly */
static void mutate_range(const unsigned char *b, size_t n, size_t lo, size_t hi, const char *q)
{
	unsigned char *c = malloc(n);
	for (size_t at = lo; at < hi && at < n; at++)
		for (int k = 0; k < 2; k++) {
			memcpy(c, b, n);
			c[at] = k ? 0xff : (unsigned char)~c[at];
			spit(q, c, n);
			info(q, NULL);
		}
	free(c);
}

static uint64_t u64(const unsigned char *p) { return cpu_get_u64(p); }

START_TEST(corrupt_elf)
{
	Graph *g = load_tinycnn();
	compile(g, "c.o", CPU_EMIT_OBJ, NULL, NULL);
	graph_free(g);
	char p[512], q[512];
	path_in(p, sizeof p, "c.o");
	path_in(q, sizeof q, "mut");
	size_t n;
	unsigned char *b = slurp(p, &n);
	mutate_range(b, n, 0, 64, q); /* the ELF header */
	uint64_t shoff = u64(b + 0x28);
	int shnum = b[0x3c] | b[0x3d] << 8, strndx = b[0x3e] | b[0x3f] << 8;
	mutate_range(b, n, shoff, shoff + 64 * (uint64_t)shnum, q); /* the section table */
	const unsigned char *sh = b + shoff + 64 * (uint64_t)strndx;
	mutate_range(b, n, u64(sh + 24), u64(sh + 24) + u64(sh + 32), q); /* the section names */
	/* the metadata: find it as the reader does */
	for (int i = 0; i < shnum; i++) {
		const unsigned char *s = b + shoff + 64 * (uint64_t)i;
		const char *nm = (const char *)b + u64(sh + 24) + cpu_get_u32(s);
		if (strcmp(nm, CPU_INFO_SECTION) == 0) {
			uint64_t off = u64(s + 24), size = u64(s + 32);
			mutate_range(b, n, off, off + 64, q); /* the blob header and the first lines */
			unsigned char *c = malloc(n);
			for (int t = 0; t < 3000; t++) { /* random bytes of the text */
				memcpy(c, b, n);
				for (int j = 0; j < 4; j++)
					c[off + rnd() % size] = (unsigned char)(t % 3 == 0 ? '\t' : t % 3 == 1 ? '\n' : rnd());
				spit(q, c, n);
				info(q, NULL);
			}
			free(c);
		}
	}
	free(b);
}
END_TEST

START_TEST(corrupt_weights)
{
	Graph *g = load_tinycnn();
	compile(g, "cw.o", CPU_EMIT_OBJ, "cw.bin", NULL);
	graph_free(g);
	char p[512], q[512];
	path_in(p, sizeof p, "cw.bin");
	path_in(q, sizeof q, "mutw");
	size_t n;
	unsigned char *b = slurp(p, &n);
	/* every header byte matters: each change is an error */
	unsigned char *c = malloc(n + 64);
	for (size_t at = 0; at < CPU_WEIGHTS_HEADER; at++) {
		memcpy(c, b, n);
		c[at] ^= 0x41;
		spit(q, c, n);
		ck_assert_msg(info(q, NULL) == -1 || at >= 48, "header byte %zu changed was accepted", at);
	}
	/* a payload byte: the checksum; a metadata byte: rejected or still consistent */
	memcpy(c, b, n);
	c[CPU_WEIGHTS_HEADER + 5] ^= 1;
	spit(q, c, n);
	ck_assert_int_eq(info(q, NULL), -1);
	uint64_t meta = u64(b + 32);
	mutate_range(b, n, meta, n, q);
	/* grown by garbage */
	memcpy(c, b, n);
	memset(c + n, 0x5a, 64);
	spit(q, c, n + 64);
	ck_assert_int_eq(info(q, NULL), -1);
	free(c);
	free(b);
}
END_TEST

/* handcrafted ELF headers whose counts and offsets point anywhere */
START_TEST(hostile_elf)
{
	char q[512];
	path_in(q, sizeof q, "hostile");
	unsigned char b[4096];
	static const struct {
		uint64_t shoff;
		uint16_t entsize, shnum, strndx;
		uint64_t sec0_size;
		uint32_t sec0_link;
	} cases[] = {
		{0, 64, 1, 0, 0, 0},                      /* no section table */
		{64, 0, 1, 0, 0, 0},                      /* zero-sized entries */
		{64, 64, 0, 0, UINT64_MAX, 0},            /* extended count: huge */
		{64, 64, 0, 0, UINT64_MAX / 64 + 1, 0},   /* extended count: overflows a multiplication */
		{64, 64, 2, 0xffff, 0, UINT32_MAX},       /* extended name table index: huge */
		{UINT64_MAX - 10, 64, 1, 0, 0, 0},        /* table past the end */
		{4032, 64, 2, 0, 0, 0},                   /* table crossing the end */
		{64, 0xffff, 1, 0, 0, 0},                 /* entries bigger than the file */
		{64, 64, 3, 2, 0, 0},                     /* name table index out of range */
		{64, 64, 1, 0, 0, 0},                     /* name table of section 0 (empty) */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(b, 0, sizeof b);
		memcpy(b, "\177ELF\2\1\1", 7);
		b[0x10] = 1;
		cpu_put_u64(b + 0x28, cases[i].shoff);
		b[0x3a] = (unsigned char)cases[i].entsize;
		b[0x3b] = (unsigned char)(cases[i].entsize >> 8);
		b[0x3c] = (unsigned char)cases[i].shnum;
		b[0x3d] = (unsigned char)(cases[i].shnum >> 8);
		b[0x3e] = (unsigned char)cases[i].strndx;
		b[0x3f] = (unsigned char)(cases[i].strndx >> 8);
		cpu_put_u64(b + 64 + 32, cases[i].sec0_size);
		cpu_put_u32(b + 64 + 40, cases[i].sec0_link);
		/* section 1: a name table with huge offsets and sizes */
		cpu_put_u64(b + 128 + 24, UINT64_MAX - 100);
		cpu_put_u64(b + 128 + 32, 200);
		spit(q, b, sizeof b);
		ck_assert_msg(info(q, NULL) == -1, "hostile case %zu was accepted", i);
	}
	/* not ELF64, not little-endian, empty, a directory */
	memcpy(b, "\177ELF\1\1", 6);
	spit(q, b, 64);
	ck_assert_int_eq(info(q, NULL), -1);
	memcpy(b, "\177ELF\2\2", 6);
	spit(q, b, 64);
	ck_assert_int_eq(info(q, NULL), -1);
	spit(q, b, 0);
	ck_assert_int_eq(info(q, NULL), -1);
	ck_assert_int_eq(info(dir, NULL), -1);
	/* weights header whose sizes overflow */
	memset(b, 0, sizeof b);
	memcpy(b, CPU_WEIGHTS_MAGIC, 8);
	cpu_put_u32(b + 8, CPU_WEIGHTS_VERSION);
	cpu_put_u32(b + 12, CPU_WEIGHTS_HEADER);
	cpu_put_u64(b + 16, UINT64_MAX - 63);
	cpu_put_u64(b + 32, 0);
	cpu_put_u64(b + 40, 64);
	spit(q, b, 128);
	ck_assert_int_eq(info(q, NULL), -1);
	cpu_put_u64(b + 16, 0);
	cpu_put_u64(b + 32, 64);
	cpu_put_u64(b + 40, UINT64_MAX - 32);
	spit(q, b, 128);
	ck_assert_int_eq(info(q, NULL), -1);
}
END_TEST

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(dir)); }

static void teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
}

int main(void)
{
	Suite *s = suite_create("cpu_obj");
	TCase *tc = tcase_create("artifacts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, report_and_info);
	tcase_add_test(tc, deterministic);
	tcase_add_test(tc, truncated_files);
	tcase_add_test(tc, corrupt_elf);
	tcase_add_test(tc, corrupt_weights);
	tcase_add_test(tc, hostile_elf);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
