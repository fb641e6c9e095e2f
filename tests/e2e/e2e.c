/* End to end: `nnzc run MODEL_DIR/model.onnx --test-data MODEL_DIR [ARGS...]` on a torchvision
 * model exported by export_torchvision.py, checked against PyTorch's output. Passes when nnzc
 * exits 0 with PASS as its last stdout line. nnzc's output and its wall time go to the log
 * (the time is reported, not asserted).
 *
 * With --vs-ref the model is first run by the interpreter (`nnzc run --target ref -i ... -o`,
 * default pipeline) on the same inputs, and ARGS are checked against both references at once:
 * the test data is then a temporary folder whose test_data_set_0 is PyTorch's (a link to
 * MODEL_DIR/test_data_set_0) and test_data_set_1 the interpreter's. That is how a compiled
 * target (--target cpu) is held to the oracle of every other test, not only to PyTorch.
 *
 * usage: e2e MODEL_DIR [--vs-ref] [NNZC_ARGS...]    exit 77 (skipped) if MODEL_DIR has no model.onnx
 * Environment: NNZC (the nnzc binary), NNZC_E2E_TIMEOUT (seconds per nnzc run, default 1800). */
#define _XOPEN_SOURCE 700 /* realpath */

#include "spawn.h"

#include <nnzrt.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NNZC_PATH
#error "NNZC_PATH (the nnzc binary) must be defined by the build"
#endif

static const char *nnzc;
static const char *model_dir;
static char **extra;
static int n_extra;
static int vs_ref;
static double timeout = 1800.0;

/* Runs nnzc with argv (NULL-terminated, argv[0] ignored) in the scratch folder tmp and copies
 * what it printed to the log. 1 if it exited 0, else 0 and why in msg. If last is not NULL, it
 * receives the last line of stdout. */
static int run_nnzc(char **argv, const char *tmp, char *last, size_t last_cap, char *msg, size_t cap)
{
	char out_path[4200], err_path[4200];
	snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmp);
	argv[0] = (char *)nnzc;
	printf("e2e:");
	for (int i = 0; argv[i] != NULL; i++)
		printf(" %s", argv[i]);
	printf("\n");

	ChildResult r;
	if (child_run(argv, out_path, err_path, timeout, &r) != 0) {
		snprintf(msg, cap, "cannot start %s", nnzc);
		return 0;
	}
	char *out = slurp(out_path, NULL), *err = slurp(err_path, NULL);
	remove(out_path);
	remove(err_path);
	if (out != NULL)
		fputs(out, stdout);
	if (err != NULL)
		fputs(err, stdout);
	char how[64], lastline[512] = "", errline[512] = "";
	child_describe(&r, how, sizeof how);
	if (out != NULL)
		last_line(out, lastline, sizeof lastline);
	if (err != NULL)
		last_line(err, errline, sizeof errline);
	/* The time is the whole nnzc process: import, passes, compilation and the run. */
	printf("e2e: nnzc %s in %.2f s\n", how, r.seconds);
	fflush(stdout);
	free(out);
	free(err);
	if (last != NULL)
		snprintf(last, last_cap, "%s", lastline);
	if (!r.exited || r.timed_out || r.status != 0) {
		snprintf(msg, cap, "nnzc %s: %s", how, errline[0] ? errline : lastline);
		return 0;
	}
	return 1;
}

/* td/test_data_set_0 -> PyTorch's set; td/test_data_set_1: the same inputs (links) and the
 * interpreter's outputs. 1 on success, else 0 and why in msg. */
static int make_ref_set(const char *model, const char *td, const char *tmp, char *msg, size_t cap)
{
	enum { MAX_INPUTS = 16 };
	char dir[PATH_MAX], set0[4200], set1[4200], src[PATH_MAX + 64], dst[4300];
	char *argv[8 + 2 * MAX_INPUTS] = {0}, *specs[MAX_INPUTS] = {0};
	int ok = 0, n = 1, k;
	if (realpath(model_dir, dir) == NULL) {
		snprintf(msg, cap, "%s: %s", model_dir, strerror(errno));
		return 0;
	}
	snprintf(set0, sizeof set0, "%s/test_data_set_0", td);
	snprintf(set1, sizeof set1, "%s/test_data_set_1", td);
	snprintf(src, sizeof src, "%s/test_data_set_0", dir);
	if (mkdir(td, 0777) != 0 || mkdir(set1, 0777) != 0 || symlink(src, set0) != 0) {
		snprintf(msg, cap, "cannot create %s: %s", td, strerror(errno));
		return 0;
	}

	/* the interpreter, with every input named as in its file */
	argv[n++] = "run";
	argv[n++] = (char *)model;
	argv[n++] = "--target";
	argv[n++] = "ref";
	for (k = 0; k < MAX_INPUTS; k++) {
		snprintf(src, sizeof src, "%s/test_data_set_0/input_%d.pb", dir, k);
		if (access(src, R_OK) != 0)
			break;
		nnzrt_tensor t;
		if (nnzrt_tensor_read(src, &t) != NNZRT_OK) {
			snprintf(msg, cap, "%s", nnzrt_errmsg());
			goto out;
		}
		size_t len = strlen(t.name) + strlen(src) + 2;
		specs[k] = malloc(len);
		if (specs[k] != NULL)
			snprintf(specs[k], len, "%s=%s", t.name, src);
		nnzrt_tensor_free(&t);
		snprintf(dst, sizeof dst, "%s/input_%d.pb", set1, k);
		if (specs[k] == NULL || symlink(src, dst) != 0) {
			snprintf(msg, cap, "cannot link %.900s", dst);
			goto out;
		}
		argv[n++] = "-i";
		argv[n++] = specs[k];
	}
	if (k == 0 || k == MAX_INPUTS) {
		snprintf(msg, cap, "%.900s/test_data_set_0: no input_0.pb, or more than %d inputs", dir, MAX_INPUTS - 1);
		goto out;
	}
	argv[n++] = "-o";
	argv[n++] = set1;
	ok = run_nnzc(argv, tmp, NULL, 0, msg, cap);
out:
	for (int i = 0; i < MAX_INPUTS; i++)
		free(specs[i]);
	return ok;
}

START_TEST(e2e_run)
{
	char model[4096], tmp[] = "/tmp/nnzc-e2e-XXXXXX", td[64], last[512] = "", msg[1024] = "";
	snprintf(model, sizeof model, "%s/model.onnx", model_dir);
	ck_assert_msg(mkdtemp(tmp) != NULL, "mkdtemp failed");
	snprintf(td, sizeof td, "%s/data", tmp);
	char **argv = calloc((size_t)n_extra + 6, sizeof *argv);
	ck_assert(argv != NULL);
	int n = 1;
	argv[n++] = "run";
	argv[n++] = model;
	argv[n++] = "--test-data";
	argv[n++] = vs_ref ? td : (char *)model_dir;
	for (int i = 0; i < n_extra; i++)
		argv[n++] = extra[i];

	int ok = !vs_ref || make_ref_set(model, td, tmp, msg, sizeof msg);
	if (ok)
		ok = run_nnzc(argv, tmp, last, sizeof last, msg, sizeof msg);
	free(argv);
	remove_tree(tmp);
	ck_assert_msg(ok, "%s", msg);
	ck_assert_msg(strcmp(last, "PASS") == 0, "last line is '%s', not PASS", last);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: e2e MODEL_DIR [--vs-ref] [NNZC_ARGS...]\n");
		return 2;
	}
	nnzc = getenv("NNZC") != NULL ? getenv("NNZC") : NNZC_PATH;
	model_dir = argv[1];
	extra = argv + 2;
	n_extra = argc - 2;
	if (n_extra > 0 && strcmp(extra[0], "--vs-ref") == 0) {
		vs_ref = 1;
		extra++;
		n_extra--;
	}
	const char *t = getenv("NNZC_E2E_TIMEOUT");
	if (t != NULL && atof(t) > 0)
		timeout = atof(t);
	char model[4096];
	snprintf(model, sizeof model, "%s/model.onnx", model_dir);
	if (access(model, R_OK) != 0) {
		printf("e2e: SKIPPED: no %s (export_torchvision.py did not run)\n", model);
		return 77;
	}

	Suite *s = suite_create("e2e");
	TCase *tc = tcase_create("run");
	/* nnzc itself is killed after `timeout`; with --vs-ref it runs twice */
	tcase_set_timeout(tc, (vs_ref ? 2 : 1) * timeout + 60);
	tcase_add_test(tc, e2e_run);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	int run = srunner_ntests_run(sr);
	srunner_free(sr);
	printf("%d passed, %d failed\n", run - failed, failed);
	return failed == 0 ? 0 : 1;
}
