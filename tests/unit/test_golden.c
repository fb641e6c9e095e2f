/* Golden dumps of the default pipeline: each model of tests/golden/models is imported, the
 * default pipeline runs one pass at a time (verified after each), and the text dump after
 * every pass must equal tests/golden/expected/<model>.<pass>.txt. The optimised graph must
 * also compute what the imported one does (ref_run on the same random inputs).
 *
 * NNZC_UPDATE_GOLDEN=1 in the environment rewrites the expected files instead of comparing;
 * review every rewritten file by eye before committing it. The models come from
 * tests/golden/gen_models.py. */
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_DIR NNZC_SOURCE_DIR "/tests/golden"

static const char *const models[] = {
	"conv_bn_relu", "residual_block", "gemm_bias_relu", "identity_dropout", "shape_arith",
};
#define N_MODELS ((int)(sizeof models / sizeof models[0]))

static bool updating(void)
{
	const char *e = getenv("NNZC_UPDATE_GOLDEN");
	return e != NULL && strcmp(e, "1") == 0;
}

/* The whole file, NUL-terminated, or NULL if it cannot be read. */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (nb == NULL)
				free(buf);
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static char *dump(const Graph *g)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	PrintOptions po = {.elide_above = 16};
	graph_print(g, f, &po);
	fclose(f);
	return text;
}

/* Line number (1-based) of the first difference, and the two lines, for the failure message. */
static int first_diff(const char *a, const char *b, char *la, char *lb, size_t cap)
{
	int line = 1;
	const char *sa = a, *sb = b;
	while (*a && *a == *b) {
		if (*a == '\n') {
			line++;
			sa = a + 1;
			sb = b + 1;
		}
		a++;
		b++;
	}
	snprintf(la, cap, "%.*s", (int)strcspn(sa, "\n"), sa);
	snprintf(lb, cap, "%.*s", (int)strcspn(sb, "\n"), sb);
	return line;
}

static void compare_or_update(const char *model, const char *pass, const char *got)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/expected/%s.%s.txt", GOLDEN_DIR, model, pass);
	if (updating()) {
		FILE *f = fopen(path, "wb");
		ck_assert_msg(f != NULL, "cannot write %s", path);
		fputs(got, f);
		fclose(f);
		return;
	}
	char *want = read_file(path);
	ck_assert_msg(want != NULL, "missing %s (run with NNZC_UPDATE_GOLDEN=1 and review it)", path);
	if (strcmp(want, got) != 0) {
		char lw[256], lg[256];
		int line = first_diff(want, got, lw, lg, sizeof lw);
		free(want);
		ck_abort_msg("%s:%d differs\n  expected: %s\n  got:      %s", path, line, lw, lg);
	}
	free(want);
}

static uint64_t rng_state;

static float frand(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 4.0 - 2.0);
}

static void random_inputs(const Graph *g, Tensor *in)
{
	Diag d = {0};
	rng_state = 7;
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		ck_assert_msg(tensor_alloc(&in[i], v->dtype, &v->shape, &d) == 0, "%s", d.msg);
		for (int64_t k = 0; k < tensor_numel(&in[i]); k++) {
			if (dtype_is_float(v->dtype))
				((float *)in[i].data)[k] = frand();
			else
				((int64_t *)in[i].data)[k] = 1;
		}
	}
}

START_TEST(golden_default_pipeline)
{
	const char *model = models[_i];
	char path[1024];
	snprintf(path, sizeof path, "%s/models/%s.onnx", GOLDEN_DIR, model);
	Diag d = {0};
	ImportOptions io = {0};
	Graph *g = onnx_import(path, &io, &d);
	ck_assert_msg(g != NULL, "%s: %s", path, d.msg);
	ck_assert(g->n_inputs <= 8 && g->n_outputs <= 8);

	/* the imported graph's outputs on random inputs: what the passes must preserve */
	Tensor in[8], ref[8], got[8];
	random_inputs(g, in);
	ck_assert_msg(ref_run(g, in, ref, &d) == 0, "%s before the passes: %s", model, d.msg);

	Pipeline p;
	ck_assert_msg(pipeline_parse(default_pipeline, &p, &d) == 0, "%s", d.msg);
	for (int i = 0; i < p.n; i++) {
		Pipeline one = {.n = 1};
		one.step[0] = p.step[i];
		ck_assert_msg(pipeline_run(g, &one, NULL, &d) == 0, "%s: %s", model, d.msg);
		char *text = dump(g);
		compare_or_update(model, p.step[i].pass->name, text);
		free(text);
	}

	ck_assert_msg(ref_run(g, in, got, &d) == 0, "%s after the passes: %s", model, d.msg);
	for (int i = 0; i < g->n_outputs; i++) {
		ck_assert(shape_equal(&got[i].shape, &ref[i].shape));
		int64_t n = tensor_numel(&got[i]);
		double scale = 1, err = 0;
		for (int64_t k = 0; k < n; k++) {
			scale = fmax(scale, fabs(tensor_get_f(&ref[i], k)));
			err = fmax(err, fabs(tensor_get_f(&got[i], k) - tensor_get_f(&ref[i], k)));
		}
		ck_assert_msg(err <= 1e-5 * scale, "%s output %d: max error %g", model, i, err);
		tensor_free(&got[i]);
		tensor_free(&ref[i]);
	}
	for (int i = 0; i < g->n_inputs; i++)
		tensor_free(&in[i]);
	graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("golden");
	TCase *tc = tcase_create("default-pipeline");
	tcase_add_loop_test(tc, golden_default_pipeline, 0, N_MODELS);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
