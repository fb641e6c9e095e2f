/* End to end: `nnzc run MODEL_DIR/model.onnx --test-data MODEL_DIR [ARGS...]` on a torchvision
 * model exported by export_torchvision.py, checked against PyTorch's output. Passes when nnzc
 * exits 0 with PASS as its last stdout line. nnzc's output and its wall time go to the log
 * (the time is reported, not asserted).
 *
 * usage: e2e MODEL_DIR [NNZC_ARGS...]        exit 77 (skipped) if MODEL_DIR has no model.onnx
 * Environment: NNZC (the nnzc binary), NNZC_E2E_TIMEOUT (seconds, default 1800). */
#include "spawn.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NNZC_PATH
#error "NNZC_PATH (the nnzc binary) must be defined by the build"
#endif

static const char *nnzc;
static const char *model_dir;
static char **extra;
static int n_extra;
static double timeout = 1800.0;

START_TEST(e2e_run)
{
	char model[4096], tmp[] = "/tmp/nnzc-e2e-XXXXXX", out_path[512], err_path[512];
	snprintf(model, sizeof model, "%s/model.onnx", model_dir);
	ck_assert_msg(mkdtemp(tmp) != NULL, "mkdtemp failed");
	snprintf(out_path, sizeof out_path, "%s/stdout", tmp);
	snprintf(err_path, sizeof err_path, "%s/stderr", tmp);

	char **argv = calloc((size_t)n_extra + 6, sizeof *argv);
	ck_assert(argv != NULL);
	int n = 0;
	argv[n++] = (char *)nnzc;
	argv[n++] = "run";
	argv[n++] = model;
	argv[n++] = "--test-data";
	argv[n++] = (char *)model_dir;
	for (int i = 0; i < n_extra; i++)
		argv[n++] = extra[i];
	printf("e2e:");
	for (int i = 0; i < n; i++)
		printf(" %s", argv[i]);
	printf("\n");

	ChildResult r;
	int rc = child_run(argv, out_path, err_path, timeout, &r);
	free(argv);
	ck_assert_msg(rc == 0, "cannot start %s", nnzc);
	char *out = slurp(out_path, NULL), *err = slurp(err_path, NULL);
	remove_tree(tmp);
	if (out != NULL)
		fputs(out, stdout);
	if (err != NULL)
		fputs(err, stdout);
	char how[64], last[512] = "", errline[512] = "";
	child_describe(&r, how, sizeof how);
	if (out != NULL)
		last_line(out, last, sizeof last);
	if (err != NULL)
		last_line(err, errline, sizeof errline);
	/* The time is the whole nnzc process: import, passes, and the reference run. */
	printf("e2e: nnzc %s in %.2f s\n", how, r.seconds);
	fflush(stdout);
	free(out);
	free(err);
	ck_assert_msg(r.exited && !r.timed_out, "nnzc %s: %s", how, errline);
	ck_assert_msg(r.status == 0, "nnzc %s: %s", how, errline[0] ? errline : last);
	ck_assert_msg(strcmp(last, "PASS") == 0, "last line is '%s', not PASS", last);
}
END_TEST

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: e2e MODEL_DIR [NNZC_ARGS...]\n");
		return 2;
	}
	nnzc = getenv("NNZC") != NULL ? getenv("NNZC") : NNZC_PATH;
	model_dir = argv[1];
	extra = argv + 2;
	n_extra = argc - 2;
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
	tcase_set_timeout(tc, timeout + 60); /* nnzc itself is killed after `timeout` */
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
