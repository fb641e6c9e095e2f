/* Accelerator configs (runtime/accel_config.c): every preset parses and prints back to itself,
 * `base =` overrides, and each parser error from a table of bad texts names file:line. */
#include "nnzrt_accel.h"
#include "testutil.h"

#include <stdio.h>
#include <string.h>

static const char *const preset_names[] = {"dense", "stc", "vegeta", "demm", "gs"};

START_TEST(presets_round_trip)
{
	const char *name = preset_names[_i];
	ck_assert_str_eq(nnzrt_accel_preset_name(_i), name);
	const char *text = nnzrt_accel_preset_text(name);
	ck_assert_ptr_nonnull(text);
	nnzrt_accel_config a, b, c;
	ck_assert_msg(nnzrt_accel_config_parse(text, strlen(text), name, &a) == 0, "%s", nnzrt_errmsg());
	ck_assert_str_eq(a.name, name);
	char t1[4096], t2[4096];
	size_t n1 = nnzrt_accel_config_print(&a, t1, sizeof t1);
	ck_assert_uint_lt(n1, sizeof t1);
	ck_assert_int_eq(nnzrt_accel_config_parse(t1, n1, "canonical", &b), 0);
	size_t n2 = nnzrt_accel_config_print(&b, t2, sizeof t2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_str_eq(t1, t2);
	ck_assert(memcmp(&a, &b, sizeof a) == 0);
	ck_assert_uint_eq(nnzrt_accel_config_fingerprint(&a), nnzrt_accel_config_fingerprint(&b));
	/* by name through the loader */
	ck_assert_int_eq(nnzrt_accel_config_load(name, &c), 0);
	ck_assert(memcmp(&a, &c, sizeof a) == 0);
	/* presets differ from each other */
	for (int j = 0; j < 5; j++) {
		if (j == _i)
			continue;
		nnzrt_accel_config o;
		ck_assert_int_eq(nnzrt_accel_config_load(preset_names[j], &o), 0);
		ck_assert_uint_ne(nnzrt_accel_config_fingerprint(&o), nnzrt_accel_config_fingerprint(&a));
	}
	/* the snprintf contract: a short buffer gets a prefix and the full length back */
	char small[8];
	ck_assert_uint_eq(nnzrt_accel_config_print(&a, small, sizeof small), n1);
	ck_assert_uint_eq(strlen(small), 7);
}
END_TEST

START_TEST(preset_semantics)
{
	nnzrt_accel_config c;
	ck_assert_int_eq(nnzrt_accel_config_load("dense", &c), 0);
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_DENSE, 0, 0));
	ck_assert(!nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 2, 4));
	ck_assert_int_eq(nnzrt_accel_buffer_elems(&c, NNZRT_ACCEL_BUF_W), 256 * 1024 / 2);
	ck_assert_int_eq(nnzrt_accel_buffer_elems(&c, NNZRT_ACCEL_BUF_O), 128 * 1024 / 4);
	ck_assert_int_eq(nnzrt_accel_buffer_elems(&c, NNZRT_ACCEL_BUF_X), 0);
	ck_assert_int_eq(nnzrt_accel_config_load("stc", &c), 0);
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 2, 4));
	ck_assert(!nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 1, 4));
	ck_assert_int_eq(nnzrt_accel_buffer_elems(&c, NNZRT_ACCEL_BUF_X), 64 * 1024 / 2);
	ck_assert_int_eq(nnzrt_accel_config_load("vegeta", &c), 0);
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 1, 4));
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 4, 4));
	ck_assert(!nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 3, 4));
	ck_assert_int_eq(nnzrt_accel_config_load("demm", &c), 0);
	ck_assert_int_eq(c.dataflow, NNZRT_ACCEL_DEMM);
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 8, 128));
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 16, 256));
	ck_assert(!nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_NM, 2, 4));
	ck_assert_int_eq(nnzrt_accel_config_load("gs", &c), 0);
	ck_assert(nnzrt_accel_mode_supported(&c, NNZRT_ACCEL_MODE_GS, 0, 0));
	ck_assert_int_eq(c.modes[1].v, 16);
	ck_assert_int_eq(c.modes[1].b, 16);
}
END_TEST

START_TEST(base_overrides)
{
	const char *t = "# a bigger stc\nbase = stc\narray_rows = 64   # twice the rows\nmodes = dense, nm:2:4 nm:1:4\n";
	nnzrt_accel_config c, s;
	ck_assert_msg(nnzrt_accel_config_parse(t, strlen(t), "big.cfg", &c) == 0, "%s", nnzrt_errmsg());
	ck_assert_int_eq(nnzrt_accel_config_load("stc", &s), 0);
	ck_assert_int_eq(c.array_rows, 64);
	ck_assert_int_eq(c.array_cols, s.array_cols);
	ck_assert_int_eq(c.n_modes, 3);
	ck_assert_uint_ne(nnzrt_accel_config_fingerprint(&c), nnzrt_accel_config_fingerprint(&s));
	/* printed canonical, it needs no base */
	char buf[4096];
	size_t n = nnzrt_accel_config_print(&c, buf, sizeof buf);
	ck_assert(strstr(buf, "base") == NULL);
	nnzrt_accel_config d;
	ck_assert_int_eq(nnzrt_accel_config_parse(buf, n, "x", &d), 0);
	ck_assert(memcmp(&c, &d, sizeof c) == 0);
}
END_TEST

START_TEST(config_file)
{
	char path[] = "/tmp/nnzc_accel_cfg_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("base = vegeta\nclock_mhz = 1500.5\n", f);
	fclose(f);
	nnzrt_accel_config c;
	ck_assert_msg(nnzrt_accel_config_load(path, &c) == 0, "%s", nnzrt_errmsg());
	ck_assert(c.clock_mhz == 1500.5);
	remove(path);
	ck_assert_int_eq(nnzrt_accel_config_load("/nonexistent/x.cfg", &c), NNZRT_ERR_IO);
	ck_assert(strstr(nnzrt_errmsg(), "not a preset") != NULL);
}
END_TEST

/* bad texts: each on top of `base = gs` unless it starts with '!' (then alone) */
static const struct {
	const char *text, *expect;
} bad[] = {
	{"colour = red\n", "cfg:2: unknown key 'colour'"},
	{"array_rows = 8\narray_rows = 9\n", "cfg:3: key 'array_rows' given twice (first on line 2)"},
	{"array_rows = 0\n", "cfg:2: array_rows = 0 is out of range [1, 4096]"},
	{"array_rows = 12x\n", "expected an integer"},
	{"array_rows\n", "cfg:2: expected 'key = value'"},
	{"clock_mhz = 0\n", "clock_mhz = 0 is out of range (0"},
	{"clock_mhz = nan\n", "expected a number"},
	{"clock_mhz = 1e999\n", "expected a number"},
	{"data_bits = 12\n", "data_bits = 12: expected 8, 16 or 32"},
	{"modes = dense nm:3:2\n", "cfg:2: mode 'nm:3:2'"},
	{"modes = nm:1:300\n", "<= 256"},
	{"modes = nm:02:4\n", "unknown sparsity mode 'nm:02:4'"},
	{"modes = csr\n", "unknown sparsity mode 'csr'"},
	{"modes = dense dense\n", "given twice"},
	{"modes = ,\n", "at least one sparsity mode"},
	{"modes = gs:16:32\n", "cfg:2: mode gs:16:32: B must equal sram_banks (16)"},
	{"modes = gs:32:16\n", "gs:V:B needs 1 <= V <= B"},
	{"x_buffer_kib = 0\n", "cfg:2: x_buffer_kib = 0, but sparse modes need an index buffer"},
	{"read_ports = 4\n", "read_ports = 4: the demm dataflow needs read ports"},
	{"dataflow = magic\n", "dataflow 'magic'"},
	{"name = a b\n", "name 'a b'"},
	{"name = \n", "name: 1 to 31 characters"},
	{"data_bits = 8\nw_buffer_kib = 65536\n", "above the 2^24"},
	{"array_cols = 4\nbase = stc\n", "cfg:3: 'base' must be the first key"},
	{"!base = tpu\n", "cfg:1: base 'tpu' is not a preset"},
	{"!name = x\n", "cfg: missing key 'dataflow'"},
	{"!", "cfg: missing key 'name'"},
};

START_TEST(parse_errors)
{
	char text[512];
	const char *t = bad[_i].text;
	if (t[0] == '!')
		snprintf(text, sizeof text, "%s", t + 1);
	else
		snprintf(text, sizeof text, "base = gs\n%s", t);
	nnzrt_accel_config c;
	memset(&c, 0x55, sizeof c);
	ck_assert_int_eq(nnzrt_accel_config_parse(text, strlen(text), "cfg", &c), NNZRT_ERR_FORMAT);
	ck_assert_msg(strstr(nnzrt_errmsg(), bad[_i].expect) != NULL, "case %d: got '%s', want '%s'", _i, nnzrt_errmsg(),
		      bad[_i].expect);
	ck_assert(strchr(nnzrt_errmsg(), '\n') == NULL);
	nnzrt_accel_config zero;
	memset(&zero, 0, sizeof zero);
	ck_assert(memcmp(&c, &zero, sizeof c) == 0); /* nothing half-parsed is left */
}
END_TEST

START_TEST(odd_input)
{
	nnzrt_accel_config c;
	ck_assert_int_eq(nnzrt_accel_config_parse("name\0 = x", 9, "nul", &c), NNZRT_ERR_FORMAT);
	ck_assert(strstr(nnzrt_errmsg(), "NUL") != NULL);
	ck_assert_int_eq(nnzrt_accel_config_parse(NULL, 0, "empty", &c), NNZRT_ERR_FORMAT);
	ck_assert_int_eq(nnzrt_accel_config_parse("x", 1, "x", NULL), NNZRT_ERR_ARG);
	ck_assert_ptr_null(nnzrt_accel_preset_text("nope"));
	ck_assert_ptr_null(nnzrt_accel_preset_name(5));
	ck_assert_ptr_null(nnzrt_accel_preset_name(-1));
	/* comments, blank lines, CRLF and no final newline */
	const char *t = "base = dense\r\n\r\n  # nothing\r\nclock_mhz=700   # TPU v1\r\nname = tpu";
	ck_assert_msg(nnzrt_accel_config_parse(t, strlen(t), "crlf", &c) == 0, "%s", nnzrt_errmsg());
	ck_assert_str_eq(c.name, "tpu");
	ck_assert(c.clock_mhz == 700);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accel_config");
	TCase *tc = tcase_create("config");
	tcase_add_loop_test(tc, presets_round_trip, 0, 5);
	tcase_add_test(tc, preset_semantics);
	tcase_add_test(tc, base_overrides);
	tcase_add_test(tc, config_file);
	tcase_add_loop_test(tc, parse_errors, 0, (int)(sizeof bad / sizeof bad[0]));
	tcase_add_test(tc, odd_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
