/* Hostile inputs through the CLI: every file of tests/hostile/corpus/ listed in cases.txt is
 * given to `nnzc compile` and `nnzc run` (both with -i/-o and with --test-data), and each
 * command must fail cleanly:
 *   - a normal exit with the status cases.txt expects (a signal or a timeout is a failure); a
 *     case may allow success too (status 0|1), and then only the sanitizer check applies,
 *   - stderr is exactly one line, "nnzc: error: ...", containing every expected substring,
 *   - no sanitizer report (this suite also runs in -DNNZC_SANITIZE=ON builds),
 *   - nothing is left in the output's directory (no partial output, no temporary file).
 * One Check loop test per (case, command). The format of cases.txt is in its header. */
#include "spawn.h"

#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NNZC_PATH
#error "NNZC_PATH (the nnzc binary) must be defined by the build"
#endif
#ifndef NNZC_SOURCE_DIR
#error "NNZC_SOURCE_DIR must be defined by the build"
#endif

#define HOSTILE_DIR NNZC_SOURCE_DIR "/tests/hostile"
#define CORPUS HOSTILE_DIR "/corpus"
#define MAX_FIELDS 16
#define TIMEOUT_S 60.0

enum Command { CMD_COMPILE, CMD_RUN_IO, CMD_RUN_TESTDATA, CMD_COUNT };
static const char *const command_name[] = {"compile", "run -i/-o", "run --test-data"};

typedef struct Case {
	int line;
	char file[256];
	char status_text[16];
	unsigned status; /* bit k set: exit status k is right; bit 0 means success is acceptable */
	bool compile, run;
	char *args[MAX_FIELDS]; /* extra arguments, NULL-terminated */
	char *expect[MAX_FIELDS];
	int n_args, n_expect;
} Case;

static const char *nnzc;
static Case *cases;
static int n_cases;

/* Split s in place at `sep`; at most max fields. */
static int split(char *s, const char *sep, char **field, int max)
{
	int n = 0;
	for (char *tok = strtok(s, sep); tok != NULL && n < max; tok = strtok(NULL, sep))
		field[n++] = tok;
	return n;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "hostile: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void load_cases(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die("cannot open %s", path);
	char buf[2048];
	int lineno = 0, cap = 0;
	while (fgets(buf, sizeof buf, f) != NULL) {
		lineno++;
		buf[strcspn(buf, "\r\n")] = '\0';
		if (buf[0] == '\0' || buf[0] == '#')
			continue;
		/* strtok state is global: take the columns first, then split ARGS. */
		char *col[MAX_FIELDS];
		char *line = strdup(buf);
		if (line == NULL)
			die("out of memory");
		int n = split(line, "\t", col, MAX_FIELDS);
		if (n < 5)
			die("cases.txt:%d: want FILE STATUS MODES ARGS EXPECTED... (%s)", lineno, buf);
		if (n_cases == cap) {
			cap = cap ? 2 * cap : 32;
			cases = realloc(cases, (size_t)cap * sizeof *cases);
			if (cases == NULL)
				die("out of memory");
		}
		Case *c = &cases[n_cases++];
		memset(c, 0, sizeof *c);
		c->line = lineno;
		snprintf(c->file, sizeof c->file, "%s", col[0]);
		snprintf(c->status_text, sizeof c->status_text, "%s", col[1]);
		for (char *p = col[1]; *p; p++)
			if (*p >= '0' && *p <= '7')
				c->status |= 1u << (*p - '0');
		c->compile = strstr(col[2], "compile") != NULL;
		c->run = strstr(col[2], "run") != NULL;
		if (c->status == 0 || (!c->compile && !c->run))
			die("cases.txt:%d: bad STATUS or MODES (%s)", lineno, buf);
		for (int i = 4; i < n; i++)
			c->expect[c->n_expect++] = col[i];
		if (strcmp(col[3], "-") != 0)
			c->n_args = split(col[3], " ", c->args, MAX_FIELDS - 1);
	}
	fclose(f);
}

/* corpus/STEM.data if the generator wrote inputs for this model, else generic.data */
static void data_dir_for(const Case *c, char *buf, size_t cap)
{
	char stem[256];
	snprintf(stem, sizeof stem, "%s", c->file);
	char *dot = strrchr(stem, '.');
	if (dot != NULL)
		*dot = '\0';
	snprintf(buf, cap, "%s/%s.data", CORPUS, stem);
	if (access(buf, F_OK) != 0)
		snprintf(buf, cap, "%s/generic.data", CORPUS);
}

/* Names in the command's scratch directory other than its captured stdout and stderr: the
 * output itself, or a temporary file an atomic write forgot. */
static void leftovers(const char *dir, char *buf, size_t cap)
{
	buf[0] = '\0';
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, "stdout") == 0 || strcmp(n, "stderr") == 0)
			continue;
		size_t len = strlen(buf);
		snprintf(buf + len, cap - len, " %s", n);
	}
	closedir(d);
}

static bool has_sanitizer_report(const char *err)
{
	return strstr(err, "Sanitizer") != NULL || strstr(err, "runtime error:") != NULL;
}

/* A multi-line stderr on one line of Check output: trailing newlines dropped, others as '|'. */
static void flatten(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	for (; *s; s++)
		if (*s == '\n')
			*s = '|';
}

START_TEST(hostile_case)
{
	const Case *c = &cases[_i / CMD_COUNT];
	int cmd = _i % CMD_COUNT;
	if ((cmd == CMD_COMPILE && !c->compile) || (cmd != CMD_COMPILE && !c->run))
		return;

	char tmp[] = "/tmp/nnzc-hostile-XXXXXX";
	ck_assert_msg(mkdtemp(tmp) != NULL, "mkdtemp failed");
	char model[4096], data[4096], input[4200], out[512], out_path[512], err_path[512];
	snprintf(model, sizeof model, "%s/%s", CORPUS, c->file);
	data_dir_for(c, data, sizeof data);
	snprintf(input, sizeof input, "X=%s/test_data_set_0/input_0.pb", data);
	snprintf(out, sizeof out, "%s/%s", tmp, cmd == CMD_COMPILE ? "out.onnx" : "outdir");
	snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmp);

	char *argv[8 + MAX_FIELDS];
	int n = 0;
	argv[n++] = (char *)nnzc;
	argv[n++] = cmd == CMD_COMPILE ? "compile" : "run";
	argv[n++] = model;
	if (cmd == CMD_COMPILE) {
		argv[n++] = "-o";
		argv[n++] = out;
		argv[n++] = "--emit";
		argv[n++] = "onnx";
	} else if (cmd == CMD_RUN_IO) {
		argv[n++] = "-i";
		argv[n++] = input;
		argv[n++] = "-o";
		argv[n++] = out;
	} else {
		argv[n++] = "--test-data";
		argv[n++] = data;
	}
	for (int i = 0; i < c->n_args; i++)
		argv[n++] = c->args[i];
	argv[n] = NULL;

	ChildResult r;
	ck_assert_msg(child_run(argv, out_path, err_path, TIMEOUT_S, &r) == 0, "cannot start %s", nnzc);
	char *err = slurp(err_path, NULL);
	if (err == NULL)
		err = strdup("");
	char left[512];
	leftovers(tmp, left, sizeof left);
	remove_tree(tmp);

	char how[64], shown[1024];
	child_describe(&r, how, sizeof how);
	snprintf(shown, sizeof shown, "%s", err);
	flatten(shown);
	char who[512];
	snprintf(who, sizeof who, "cases.txt:%d %s (%s)", c->line, c->file, command_name[cmd]);
	ck_assert_msg(r.exited && !r.timed_out, "%s: %s; stderr: %s", who, how, shown);
	ck_assert_msg(!has_sanitizer_report(err), "%s: sanitizer report: %s", who, shown);
	ck_assert_msg(r.status < 8 && (c->status & (1u << r.status)), "%s: %s, want exit status %s; stderr: %s", who,
		how, c->status_text, shown);
	if (r.status == 0) {
		free(err);
		return; /* a case that may succeed (status 0|1): only a crash or a report is wrong */
	}
	ck_assert_msg(count_lines(err) == 1, "%s: want one stderr line, got %d: %s", who, count_lines(err), shown);
	ck_assert_msg(strncmp(err, "nnzc: error: ", 13) == 0, "%s: stderr does not start 'nnzc: error: ': %s", who,
		shown);
	for (int i = 0; i < c->n_expect; i++)
		ck_assert_msg(strstr(err, c->expect[i]) != NULL, "%s: error lacks '%s': %s", who, c->expect[i], shown);
	ck_assert_msg(left[0] == '\0', "%s: partial output left behind:%s", who, left);
	free(err);
}
END_TEST

int main(void)
{
	nnzc = getenv("NNZC") != NULL ? getenv("NNZC") : NNZC_PATH;
	if (access(nnzc, X_OK) != 0)
		die("%s is not executable", nnzc);
	load_cases(HOSTILE_DIR "/cases.txt");
	if (n_cases == 0)
		die("no cases in %s", HOSTILE_DIR "/cases.txt");

	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("corpus");
	tcase_set_timeout(tc, 2 * TIMEOUT_S);
	tcase_add_loop_test(tc, hostile_case, 0, n_cases * CMD_COUNT);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	int run = srunner_ntests_run(sr);
	srunner_free(sr);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? 0 : 1;
}
