/* ONNX backend node tests through the CLI: `nnzc run DIR/model.onnx --test-data DIR` for every
 * directory of the node-test data, as a black box.
 *
 * Classification of one test directory:
 *   exit 0                      pass
 *   exit 3                      not applicable: the model uses an op nnzc does not implement
 *                               (listed in conformance_unsupported.txt, not a failure)
 *   other normal exit, listed   excluded: a documented limit (tests/conformance/exclusions.txt)
 *   exit 0 but listed           failure: "unexpected pass", so the list stays honest
 *   anything else               failure (a signal, a timeout or a sanitizer report in stderr is a
 *                               failure even if listed)
 *
 * All runs happen first (in NNZC_CONFORMANCE_JOBS parallel workers, default 2); then one Check
 * loop test per directory asserts its outcome, so Check's counts and failure lines are per test.
 * Writes conformance.json and conformance_unsupported.txt into the build directory.
 *
 * `conformance --target cpu [--cpu NAME]` (ctest conformance.cpu) checks the compiled target
 * against the interpreter instead: it runs every test with the reference target first (its
 * outcome as above, some 15 s), then with `--target cpu`, and asserts that every test that passes
 * with ref passes with cpu, unless tests/conformance/exclusions_cpu.txt lists it with a reason
 * (a listed test that passes on cpu, or that does not pass with ref, is a failure too). A crash,
 * timeout or sanitizer report on cpu is a failure whatever ref did. Prints both pass counts and
 * writes conformance_cpu.json (both outcomes per test); conformance.json is left to the ref test.
 *
 * Environment: NNZC_NODE_TESTS (data dir), NNZC_CONFORMANCE_JOBS, NNZC_CONFORMANCE_TIMEOUT
 * (seconds per test, default 60), NNZC_CONFORMANCE_FILTER (substring of test names to run),
 * NNZC (the nnzc binary), NNZC_CONFORMANCE_EXCLUSIONS and NNZC_CONFORMANCE_EXCLUSIONS_CPU (other
 * exclusion lists), NNZC_CONFORMANCE_OUT (where the reports go). Exit status 77 (skipped) when
 * the data directory is missing. */
#include "spawn.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NNZC_PATH
#error "NNZC_PATH (the nnzc binary) must be defined by the build"
#endif
#ifndef NNZC_SOURCE_DIR
#error "NNZC_SOURCE_DIR must be defined by the build"
#endif
#ifndef NNZC_BINARY_DIR
#error "NNZC_BINARY_DIR must be defined by the build"
#endif
#define DEFAULT_NODE_TESTS "/usr/share/libonnx-testdata/data/node"

enum Outcome { R_PASS, R_EXCLUDED, R_UNSUPPORTED, R_FAIL };
static const char *const outcome_name[] = {"pass", "excluded", "unsupported", "fail"};

typedef struct Exclusion {
	char name[256];
	char reason[256];
	bool seen; /* the test exists in the data directory */
} Exclusion;

/* One exclusion file: "test_name <whitespace> reason", '#' comments, blank lines. */
typedef struct ExclusionList {
	const char *file;   /* base name, for messages */
	Exclusion *e;
	int n, cap;
	char errors[4096];  /* problems with the file itself */
} ExclusionList;

/* One run of one test directory with one target. */
typedef struct Run {
	int outcome;     /* enum Outcome */
	ChildResult res;
	char how[64];    /* "exit 1", "signal 11 (...)" */
	char line[1024]; /* the last stderr line, or the last stdout lines if stderr was empty */
	bool sanitizer;  /* stderr holds an ASan/UBSan/LSan report: a failure whatever the status */
	bool said_pass;  /* the last stdout line is PASS */
} Run;

typedef struct TestRun {
	char name[256];
	Run ref;
	Run cpu; /* cpu mode only */
} TestRun;

static const char *nnzc;
static const char *data_dir;
static TestRun *tests;
static int n_tests;
static ExclusionList excl = {.file = "exclusions.txt"};
static ExclusionList excl_cpu = {.file = "exclusions_cpu.txt"};
static bool cpu_mode;        /* --target cpu or accel: the compiled target against ref */
static const char *target = "cpu"; /* which one */
static const char *accel_config = "dense"; /* --accel-config P (accel) */
static const char *cpu_name; /* --cpu NAME, or NULL */

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : dflt;
}

static void excl_problem(ExclusionList *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void excl_problem(ExclusionList *l, const char *fmt, ...)
{
	size_t n = strlen(l->errors);
	if (n + 2 >= sizeof l->errors)
		return;
	if (n > 0) {
		l->errors[n++] = ';';
		l->errors[n++] = ' ';
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->errors + n, sizeof l->errors - n, fmt, ap);
	va_end(ap);
}

static void load_exclusions(ExclusionList *l, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		excl_problem(l, "cannot open %s: %s", path, strerror(errno));
		return;
	}
	char line[1024];
	int lineno = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		char *name = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0') {
			excl_problem(l, "%s:%d: '%s' has no reason", l->file, lineno, name);
			continue;
		}
		for (int i = 0; i < l->n; i++)
			if (strcmp(l->e[i].name, name) == 0)
				excl_problem(l, "%s:%d: '%s' listed twice", l->file, lineno, name);
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 64;
			l->e = realloc(l->e, (size_t)l->cap * sizeof *l->e);
			if (l->e == NULL) {
				perror("conformance");
				exit(1);
			}
		}
		Exclusion *e = &l->e[l->n];
		memset(e, 0, sizeof *e);
		if (snprintf(e->name, sizeof e->name, "%s", name) >= (int)sizeof e->name) {
			excl_problem(l, "%s:%d: name too long", l->file, lineno);
			continue;
		}
		/* a long reason is merely shortened */
		if (snprintf(e->reason, sizeof e->reason, "%s", p) >= (int)sizeof e->reason)
			memcpy(e->reason + sizeof e->reason - 4, "...", 4);
		l->n++;
	}
	fclose(f);
}

static Exclusion *find_exclusion(const ExclusionList *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->e[i].name, name) == 0)
			return &l->e[i];
	return NULL;
}

static int cmp_runs(const void *a, const void *b)
{
	return strcmp(((const TestRun *)a)->name, ((const TestRun *)b)->name);
}

/* Every test_* directory that holds a model.onnx, sorted, filtered by NNZC_CONFORMANCE_FILTER. */
static int list_tests(void)
{
	DIR *dir = opendir(data_dir);
	if (dir == NULL)
		return -1;
	const char *filter = getenv("NNZC_CONFORMANCE_FILTER");
	int cap = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "test_", 5) != 0)
			continue;
		char model[4096];
		snprintf(model, sizeof model, "%s/%s/model.onnx", data_dir, e->d_name);
		if (access(model, R_OK) != 0)
			continue;
		Exclusion *x = find_exclusion(&excl, e->d_name);
		if (x != NULL)
			x->seen = true;
		if ((x = find_exclusion(&excl_cpu, e->d_name)) != NULL)
			x->seen = true;
		if (filter != NULL && strstr(e->d_name, filter) == NULL)
			continue;
		if (n_tests == cap) {
			cap = cap ? 2 * cap : 1024;
			tests = realloc(tests, (size_t)cap * sizeof *tests);
			if (tests == NULL) {
				perror("conformance");
				exit(1);
			}
		}
		TestRun *t = &tests[n_tests++];
		memset(t, 0, sizeof *t);
		snprintf(t->name, sizeof t->name, "%s", e->d_name);
	}
	closedir(dir);
	if (n_tests > 0)
		qsort(tests, (size_t)n_tests, sizeof *tests, cmp_runs);
	return 0;
}

/* What the run said about itself: the last stderr line (the error), or if stderr is empty the
 * last two stdout lines (an error summary before "FAIL"). */
static void read_message(Run *t, const char *out_path, const char *err_path)
{
	char *err = slurp(err_path, NULL);
	char *out = slurp(out_path, NULL);
	t->line[0] = '\0';
	if (err != NULL)
		last_line(err, t->line, sizeof t->line);
	const char *rep = NULL;
	if (err != NULL && ((rep = strstr(err, "runtime error:")) != NULL || (rep = strstr(err, "Sanitizer")) != NULL)) {
		/* quote the report's first line, not its last (a stack frame or SUMMARY) */
		while (rep > err && rep[-1] != '\n')
			rep--;
		size_t n = strcspn(rep, "\n");
		if (n >= sizeof t->line)
			n = sizeof t->line - 1;
		memcpy(t->line, rep, n);
		t->line[n] = '\0';
		t->sanitizer = true;
	}
	if (out != NULL) {
		char last[16];
		last_line(out, last, sizeof last);
		t->said_pass = strcmp(last, "PASS") == 0;
	}
	if (t->line[0] == '\0' && out != NULL) {
		char last[500], prev[500];
		last_line(out, last, sizeof last);
		size_t n = strlen(out);
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
			n--;
		while (n > 0 && out[n - 1] != '\n')
			n--;
		out[n] = '\0';
		last_line(out, prev, sizeof prev);
		snprintf(t->line, sizeof t->line, "%s%s%s", prev, prev[0] ? " / " : "", last);
	}
	free(err);
	free(out);
}

static void classify_ref(const TestRun *tr, Run *t)
{
	const Exclusion *x = find_exclusion(&excl, tr->name);
	const ChildResult *r = &t->res;
	child_describe(r, t->how, sizeof t->how);
	if (!r->exited || r->timed_out || t->sanitizer)
		t->outcome = R_FAIL; /* a crash, a hang or a sanitizer report is never a documented limit */
	else if (r->status == 0 && x != NULL) {
		t->outcome = R_FAIL;
		snprintf(t->line, sizeof t->line, "unexpected pass: remove it from exclusions.txt (%s)", x->reason);
	} else if (r->status == 0 && !t->said_pass) {
		t->outcome = R_FAIL;
		snprintf(t->line, sizeof t->line, "exit 0 but the last stdout line is not PASS");
	} else if (r->status == 0)
		t->outcome = R_PASS;
	else if (r->status == 3)
		t->outcome = R_UNSUPPORTED;
	else if (x != NULL)
		t->outcome = R_EXCLUDED;
	else
		t->outcome = R_FAIL;
}

/* After the ref run: a cpu failure is a test that passes with ref and not with cpu. A test that
 * ref does not pass either is excluded (or unsupported) on cpu for the same reason. */
static void classify_cpu(const TestRun *tr, Run *t)
{
	const Exclusion *x = find_exclusion(&excl_cpu, tr->name);
	const ChildResult *r = &t->res;
	bool ref_pass = tr->ref.outcome == R_PASS;
	child_describe(r, t->how, sizeof t->how);
	if (!r->exited || r->timed_out || t->sanitizer)
		t->outcome = R_FAIL;
	else if (r->status == 0 && !t->said_pass) {
		t->outcome = R_FAIL;
		snprintf(t->line, sizeof t->line, "exit 0 but the last stdout line is not PASS");
	} else if (r->status == 0 && x != NULL) {
		t->outcome = R_FAIL;
		snprintf(t->line, sizeof t->line, "unexpected pass: remove it from exclusions_cpu.txt (%s)", x->reason);
	} else if (r->status == 0)
		t->outcome = R_PASS;
	else if (strcmp(target, "accel") == 0 && r->status == 3 && x == NULL)
		t->outcome = R_UNSUPPORTED; /* an op the lowering refuses, naming it: not a failure */
	else if (x != NULL && !ref_pass) {
		t->outcome = R_FAIL;
		snprintf(t->line, sizeof t->line, "listed in exclusions_cpu.txt but does not pass with ref either (%s)",
			 outcome_name[tr->ref.outcome]);
	} else if (x != NULL)
		t->outcome = R_EXCLUDED;
	else if (ref_pass) {
		t->outcome = R_FAIL;
		char msg[sizeof t->line];
		snprintf(msg, sizeof msg, "passes with --target ref, not with cpu: %.960s", t->line);
		memcpy(t->line, msg, sizeof msg);
	} else
		t->outcome = r->status == 3 ? R_UNSUPPORTED : R_EXCLUDED;
}

typedef struct Slot {
	int test; /* index into tests, -1 if free */
	Child child;
	char out[4096], err[4096];
} Slot;

/* Run every test with the given target (NULL: nnzc's default, ref) into tests[i].ref or .cpu. */
static int run_all(bool cpu, int jobs, double timeout, const char *tmpdir)
{
	Slot *slots = calloc((size_t)jobs, sizeof *slots);
	if (slots == NULL)
		return -1;
	for (int j = 0; j < jobs; j++) {
		slots[j].test = -1;
		snprintf(slots[j].out, sizeof slots[j].out, "%s/stdout.%d", tmpdir, j);
		snprintf(slots[j].err, sizeof slots[j].err, "%s/stderr.%d", tmpdir, j);
	}
	int next = 0, done = 0;
	while (done < n_tests) {
		for (int j = 0; j < jobs && next < n_tests; j++) {
			if (slots[j].test >= 0)
				continue;
			TestRun *t = &tests[next];
			char model[4096 + 16], dir[4096];
			snprintf(dir, sizeof dir, "%s/%s", data_dir, t->name);
			snprintf(model, sizeof model, "%s/model.onnx", dir);
			char *argv[10] = {(char *)nnzc, "run", model, "--test-data", dir, NULL};
			if (cpu) {
				argv[5] = "--target";
				argv[6] = (char *)target;
				if (strcmp(target, "accel") == 0) {
					argv[7] = "--accel-config";
					argv[8] = (char *)accel_config;
				} else if (cpu_name != NULL) {
					argv[7] = "--cpu";
					argv[8] = (char *)cpu_name;
				}
			}
			if (child_start(&slots[j].child, argv, slots[j].out, slots[j].err, timeout) < 0) {
				perror("conformance: fork");
				free(slots);
				return -1;
			}
			slots[j].test = next++;
		}
		bool any = false;
		for (int j = 0; j < jobs; j++) {
			if (slots[j].test < 0)
				continue;
			TestRun *t = &tests[slots[j].test];
			Run *r = cpu ? &t->cpu : &t->ref;
			int rc = child_poll(&slots[j].child, &r->res);
			if (rc == 0)
				continue;
			if (rc < 0) {
				perror("conformance: waitpid");
				free(slots);
				return -1;
			}
			read_message(r, slots[j].out, slots[j].err);
			if (cpu)
				classify_cpu(t, r);
			else
				classify_ref(t, r);
			slots[j].test = -1;
			done++;
			any = true;
		}
		if (!any) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	free(slots);
	return 0;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_run(FILE *f, const Run *r)
{
	fprintf(f, "\"result\": \"%s\", \"how\": ", outcome_name[r->outcome]);
	json_string(f, r->how);
	fprintf(f, ", \"seconds\": %.3f, \"message\": ", r->res.seconds);
	json_string(f, r->outcome == R_PASS ? "" : r->line);
}

static void write_reports(const char *outdir, const int *count, double seconds)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/conformance.json", outdir);
	FILE *f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "{\"data_dir\": ");
		json_string(f, data_dir);
		fprintf(f, ", \"passed\": %d, \"excluded\": %d, \"unsupported\": %d, \"failed\": %d, \"seconds\": %.1f,\n",
			count[R_PASS], count[R_EXCLUDED], count[R_UNSUPPORTED], count[R_FAIL], seconds);
		fprintf(f, " \"tests\": [\n");
		for (int i = 0; i < n_tests; i++) {
			const TestRun *t = &tests[i];
			fprintf(f, "  {\"name\": ");
			json_string(f, t->name);
			fprintf(f, ", ");
			json_run(f, &t->ref);
			fprintf(f, "}%s\n", i + 1 < n_tests ? "," : "");
		}
		fprintf(f, " ]}\n");
		fclose(f);
	} else {
		fprintf(stderr, "conformance: cannot write %s: %s\n", path, strerror(errno));
	}
	snprintf(path, sizeof path, "%s/conformance_unsupported.txt", outdir);
	f = fopen(path, "w");
	if (f != NULL) {
		fprintf(f, "# node tests that use an op type nnzc does not implement (nnzc exit status 3)\n");
		for (int i = 0; i < n_tests; i++)
			if (tests[i].ref.outcome == R_UNSUPPORTED)
				fprintf(f, "%s\t%s\n", tests[i].name, tests[i].ref.line);
		fclose(f);
	} else {
		fprintf(stderr, "conformance: cannot write %s: %s\n", path, strerror(errno));
	}
}

static void write_cpu_report(const char *outdir, const int *ref_count, const int *count, double seconds)
{
	char path[4096];
	if (strcmp(target, "accel") == 0)
		snprintf(path, sizeof path, "%s/conformance_accel_%s.json", outdir, accel_config);
	else
		snprintf(path, sizeof path, "%s/conformance_cpu.json", outdir);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "conformance: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	fprintf(f, "{\"data_dir\": ");
	json_string(f, data_dir);
	fprintf(f, ", \"cpu\": ");
	json_string(f, cpu_name ? cpu_name : "host");
	fprintf(f, ", \"ref_passed\": %d, \"passed\": %d, \"excluded\": %d, \"unsupported\": %d, \"failed\": %d, "
		   "\"seconds\": %.1f,\n",
		ref_count[R_PASS], count[R_PASS], count[R_EXCLUDED], count[R_UNSUPPORTED], count[R_FAIL], seconds);
	fprintf(f, " \"tests\": [\n");
	for (int i = 0; i < n_tests; i++) {
		const TestRun *t = &tests[i];
		fprintf(f, "  {\"name\": ");
		json_string(f, t->name);
		fprintf(f, ", \"ref\": \"%s\", ", outcome_name[t->ref.outcome]);
		json_run(f, &t->cpu);
		fprintf(f, "}%s\n", i + 1 < n_tests ? "," : "");
	}
	fprintf(f, " ]}\n");
	fclose(f);
}

START_TEST(exclusions_are_valid)
{
	ExclusionList *lists[] = {&excl, &excl_cpu};
	for (int k = 0; k < (cpu_mode ? 2 : 1); k++) {
		ExclusionList *l = lists[k];
		for (int i = 0; i < l->n; i++)
			if (!l->e[i].seen)
				excl_problem(l, "%s: '%s' is not a test in the data directory", l->file, l->e[i].name);
		ck_assert_msg(l->errors[0] == '\0', "%s", l->errors);
	}
}
END_TEST

START_TEST(node_test)
{
	const TestRun *t = &tests[_i];
	const Run *r = cpu_mode ? &t->cpu : &t->ref;
	ck_assert_msg(r->outcome != R_FAIL, "%s: %s%s: %s", t->name, cpu_mode ? "cpu: " : "", r->how, r->line);
}
END_TEST

static int usage(void)
{
	fprintf(stderr, "usage: conformance [--target ref|cpu|accel] [--cpu NAME] [--accel-config PRESET]\n");
	return 2;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
			const char *t = argv[++i];
			if (strcmp(t, "cpu") == 0 || strcmp(t, "accel") == 0) {
				cpu_mode = true;
				target = t;
			} else if (strcmp(t, "ref") != 0) {
				return usage();
			}
		} else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
			cpu_name = argv[++i];
		} else if (strcmp(argv[i], "--accel-config") == 0 && i + 1 < argc) {
			accel_config = argv[++i];
		} else {
			return usage();
		}
	}
	if (cpu_name != NULL && !cpu_mode)
		return usage();
	nnzc = env_or("NNZC", NNZC_PATH);
	data_dir = env_or("NNZC_NODE_TESTS", DEFAULT_NODE_TESTS);
	const char *outdir = env_or("NNZC_CONFORMANCE_OUT", NNZC_BINARY_DIR);
	int jobs = atoi(env_or("NNZC_CONFORMANCE_JOBS", "2"));
	double timeout = atof(env_or("NNZC_CONFORMANCE_TIMEOUT", "60"));
	if (jobs < 1)
		jobs = 1;
	if (jobs > 64)
		jobs = 64;

	struct stat st;
	if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("conformance: SKIPPED: no node-test data at %s (apt-get install libonnx-testdata)\n", data_dir);
		return 77;
	}
	if (access(nnzc, X_OK) != 0) {
		fprintf(stderr, "conformance: %s is not executable\n", nnzc);
		return 1;
	}
	load_exclusions(&excl, env_or("NNZC_CONFORMANCE_EXCLUSIONS", NNZC_SOURCE_DIR "/tests/conformance/exclusions.txt"));
	if (cpu_mode && strcmp(target, "accel") == 0) {
		excl_cpu.file = "exclusions_accel.txt";
		load_exclusions(&excl_cpu, env_or("NNZC_CONFORMANCE_EXCLUSIONS_ACCEL",
						  NNZC_SOURCE_DIR "/tests/conformance/exclusions_accel.txt"));
	} else if (cpu_mode) {
		load_exclusions(&excl_cpu, env_or("NNZC_CONFORMANCE_EXCLUSIONS_CPU",
						  NNZC_SOURCE_DIR "/tests/conformance/exclusions_cpu.txt"));
	}
	if (list_tests() < 0) {
		fprintf(stderr, "conformance: cannot read %s: %s\n", data_dir, strerror(errno));
		return 1;
	}

	char tmpdir[] = "/tmp/nnzc-conformance-XXXXXX";
	if (mkdtemp(tmpdir) == NULL) {
		perror("conformance: mkdtemp");
		return 1;
	}
	printf("conformance: %d tests from %s, %d jobs, %.0f s timeout each\n", n_tests, data_dir, jobs, timeout);
	double t0 = now_seconds();
	int rc = run_all(false, jobs, timeout, tmpdir);
	double seconds = now_seconds() - t0, cpu_seconds = 0;
	if (rc == 0 && cpu_mode) {
		printf("conformance: ref done in %.1f s; now --target %s%s%s\n", seconds, target,
		       cpu_name ? " --cpu " : strcmp(target, "accel") == 0 ? " --accel-config " : "",
		       cpu_name ? cpu_name : strcmp(target, "accel") == 0 ? accel_config : "");
		fflush(stdout);
		t0 = now_seconds();
		rc = run_all(true, jobs, timeout, tmpdir);
		cpu_seconds = now_seconds() - t0;
	}
	remove_tree(tmpdir);
	if (rc < 0)
		return 1;

	int count[4] = {0}, cpu_count[4] = {0};
	for (int i = 0; i < n_tests; i++) {
		const TestRun *t = &tests[i];
		count[t->ref.outcome]++;
		if (cpu_mode)
			cpu_count[t->cpu.outcome]++;
		const Run *r = cpu_mode ? &t->cpu : &t->ref;
		if (r->outcome == R_FAIL)
			printf("FAIL %s (%s%s): %s\n", t->name, cpu_mode ? "cpu, " : "", r->how, r->line);
	}
	if (cpu_mode) {
		write_cpu_report(outdir, count, cpu_count, cpu_seconds);
		if (strcmp(target, "accel") == 0)
			printf("conformance: ref %.1f s, accel %.1f s; details in %s/conformance_accel_%s.json\n", seconds,
			       cpu_seconds, outdir, accel_config);
		else
			printf("conformance: ref %.1f s, cpu %.1f s; details in %s/conformance_cpu.json\n", seconds, cpu_seconds,
			       outdir);
		printf("conformance: ref: %d passed, %d excluded, %d unsupported op, %d failed\n", count[R_PASS],
		       count[R_EXCLUDED], count[R_UNSUPPORTED], count[R_FAIL]);
		int ref_pass_cpu_pass = 0;
		for (int i = 0; i < n_tests; i++)
			ref_pass_cpu_pass += tests[i].ref.outcome == R_PASS && tests[i].cpu.outcome == R_PASS;
		printf("conformance: %s%s%s: %d passed (%d of the %d ref passes), %d excluded, %d unsupported or failing "
		       "with ref too, %d failed\n", target,
		       cpu_name ? " " : strcmp(target, "accel") == 0 ? " " : "",
		       cpu_name ? cpu_name : strcmp(target, "accel") == 0 ? accel_config : "", cpu_count[R_PASS], ref_pass_cpu_pass, count[R_PASS],
		       cpu_count[R_EXCLUDED], cpu_count[R_UNSUPPORTED], cpu_count[R_FAIL]);
	} else {
		write_reports(outdir, count, seconds);
		printf("conformance: %.1f s; details in %s/conformance.json\n", seconds, outdir);
		printf("conformance: %d passed, %d excluded, %d unsupported op, %d failed\n",
			count[R_PASS], count[R_EXCLUDED], count[R_UNSUPPORTED], count[R_FAIL]);
	}
	fflush(stdout);

	Suite *s = suite_create(!cpu_mode ? "conformance" : strcmp(target, "accel") == 0 ? "conformance.accel" : "conformance.cpu");
	TCase *tc = tcase_create("node");
	tcase_add_test(tc, exclusions_are_valid);
	if (n_tests > 0)
		tcase_add_loop_test(tc, node_test, 0, n_tests);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	/* One line per failure only: the passes are in the JSON report. */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	int run = srunner_ntests_run(sr);
	srunner_free(sr);
	printf("%d passed, %d failed\n", run - failed, failed);
	free(tests);
	free(excl.e);
	free(excl_cpu.e);
	return failed == 0 ? 0 : 1;
}
