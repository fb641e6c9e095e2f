/* classify: runs an image classifier compiled by nnzc on one input tensor and prints its top
 * classes.
 *
 *   classify INPUT.pb [--expect OUTPUT.pb] [--top K] [--threads N] [--labels FILE]
 *
 * The model is linked in, not loaded: the build runs
 *   nnzc compile MODEL.onnx -o model.o --header model.h --name NAME
 * and compiles this file with -DMODEL_NAME=NAME (default: model). Nothing here knows the model:
 * names, dtypes and shapes come from the generated header's query functions, so any model with
 * one input and a float output whose last dimension holds the classes works.
 *
 * Output 0 gives the scores, one row per leading index (a batch of N images gives N rows). If
 * every row already is a probability distribution (values in [0,1] summing to 1, as when the
 * model ends in Softmax) the scores are printed as they are; otherwise they are taken as logits
 * and their softmax is printed. The header line says which.
 *
 * --expect compares every element of output 0 with a reference tensor the way `nnzc run` does
 * (|got - want| <= atol + rtol * |want|, rtol 1e-3, atol 1e-5), prints the largest errors and
 * then PASS, or FAIL and exits 1. Errors are one line on stderr and a non-zero exit status
 * (2 for usage errors).
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include "model.h"

#include <nnzrt.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MODEL_NAME
#define MODEL_NAME model
#endif

/* MODEL(run_with) is NAME_run_with: the generated entry points carry the --name prefix. */
#define MODEL_CAT2(prefix, fn) prefix##_##fn
#define MODEL_CAT(prefix, fn) MODEL_CAT2(prefix, fn)
#define MODEL(fn) MODEL_CAT(MODEL_NAME, fn)
#define STR2(x) #x
#define STR(x) STR2(x)

#define RTOL 1e-3
#define ATOL 1e-5

static const char usage[] =
	"usage: classify INPUT.pb [--expect OUTPUT.pb] [--top K] [--threads N] [--labels FILE]\n"
	"  runs the model compiled into this program (" STR(MODEL_NAME) ") on INPUT.pb, an ONNX TensorProto\n"
	"  --expect OUTPUT.pb  compare output 0 with this tensor (rtol 1e-3, atol 1e-5): PASS or FAIL\n"
	"  --top K             print the K best classes (default 5)\n"
	"  --threads N         threads for the model (default 0: NNZRT_NUM_THREADS, else all CPUs)\n"
	"  --labels FILE       class names, one per line, as many as the model has classes\n";

typedef struct Args {
	const char *input, *expect, *labels;
	int top, threads;
} Args;

/* Everything main allocates, so that one function frees it on every path. */
typedef struct App {
	nnzrt_tensor in, want;
	void **outputs;  /* [n_outputs] */
	int n_outputs;
	void *workspace;
	char **labels;   /* [n_labels] */
	int n_labels;
	double *probs;   /* [classes] one row at a time */
	int *order;      /* [classes] */
} App;

static int fail(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("classify: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return status;
}

static int parse_int(const char *opt, const char *s, int lo, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > 1 << 20)
		return fail(2, "%s: expected an integer in [%d, %d], got '%s'", opt, lo, 1 << 20, s);
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, Args *a)
{
	*a = (Args){.top = 5, .threads = 0};
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(usage, stdout);
			return -1;
		}
		if (o[0] != '-') {
			if (a->input != NULL)
				return fail(2, "more than one input file ('%s' and '%s'); see --help", a->input, o);
			a->input = o;
			continue;
		}
		const char **str = strcmp(o, "--expect") == 0 ? &a->expect
				 : strcmp(o, "--labels") == 0 ? &a->labels : NULL;
		int *num = strcmp(o, "--top") == 0 ? &a->top : strcmp(o, "--threads") == 0 ? &a->threads : NULL;
		if (str == NULL && num == NULL)
			return fail(2, "unknown option '%s'; see --help", o);
		if (i + 1 == argc)
			return fail(2, "%s needs a value; see --help", o);
		const char *v = argv[++i];
		if (str != NULL)
			*str = v;
		else if (parse_int(o, v, num == &a->top ? 1 : 0, num))
			return 2;
	}
	if (a->input == NULL)
		return fail(2, "no input file; see --help");
	return 0;
}

/* prod(dims) or -1 if it overflows */
static int64_t numel(int rank, const int64_t *dims)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0 || (dims[i] > 0 && n > INT64_MAX / dims[i]))
			return -1;
		n *= dims[i];
	}
	return n;
}

static const char *shape_str(int rank, const int64_t *dims, char *buf, size_t cap)
{
	size_t k = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < rank && k < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)dims[i]);
	if (k < cap)
		snprintf(buf + k, cap - k, "]");
	return buf;
}

static int same_shape(int rank, const int64_t *dims, const nnzrt_tensor *t)
{
	if (rank != t->rank)
		return 0;
	for (int i = 0; i < rank; i++)
		if (dims[i] != t->dims[i])
			return 0;
	return 1;
}

/* Reads one label per line (a trailing newline and \r are not part of the label). */
static int read_labels(const char *path, int classes, App *app)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return fail(1, "%s: %s", path, strerror(errno));
	app->labels = calloc((size_t)classes, sizeof *app->labels);
	if (app->labels == NULL) {
		fclose(f);
		return fail(1, "out of memory");
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0, lines = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (lines < classes) {
			if ((app->labels[lines] = strdup(line)) == NULL) {
				rc = fail(1, "out of memory");
				break;
			}
			app->n_labels = lines + 1;
		}
		lines++;
	}
	if (rc == 0 && ferror(f))
		rc = fail(1, "%s: read error", path);
	else if (rc == 0 && lines != classes)
		rc = fail(1, "%s: %d labels for the model's %d classes", path, lines, classes);
	free(line);
	fclose(f);
	return rc;
}

static void app_free(App *app)
{
	nnzrt_tensor_free(&app->in);
	nnzrt_tensor_free(&app->want);
	for (int i = 0; i < app->n_outputs; i++)
		free(app->outputs[i]);
	free(app->outputs);
	free(app->workspace);
	for (int i = 0; i < app->n_labels; i++)
		free(app->labels[i]);
	free(app->labels);
	free(app->probs);
	free(app->order);
}

/* Is every row of scores a probability distribution? Then the model already applied softmax. */
static int are_probabilities(const float *s, int64_t rows, int64_t classes)
{
	for (int64_t r = 0; r < rows; r++) {
		double sum = 0;
		for (int64_t c = 0; c < classes; c++) {
			float v = s[r * classes + c];
			if (!(v >= 0.0f && v <= 1.0f + 1e-6f))
				return 0;
			sum += v;
		}
		if (fabs(sum - 1.0) > 1e-3)
			return 0;
	}
	return 1;
}

/* Does class a rank before class b? Higher score first, NaN last, ties by lower index. */
static int ranks_before(const double *p, int a, int b)
{
	if (isnan(p[a]) || isnan(p[b]))
		return isnan(p[a]) == isnan(p[b]) ? a < b : !isnan(p[a]);
	return p[a] != p[b] ? p[a] > p[b] : a < b;
}

/* Prints the top k of one row of scores. */
static void print_top(App *app, const float *s, int64_t classes, int is_prob, int k)
{
	double *p = app->probs;
	if (is_prob) {
		for (int64_t c = 0; c < classes; c++)
			p[c] = s[c];
	} else {
		/* softmax, shifted by the maximum so that exp cannot overflow */
		double max = -INFINITY, sum = 0;
		for (int64_t c = 0; c < classes; c++)
			max = s[c] > max ? s[c] : max;
		for (int64_t c = 0; c < classes; c++)
			sum += p[c] = exp((double)s[c] - max);
		for (int64_t c = 0; c < classes; c++)
			p[c] /= sum;
	}
	/* partial selection sort: k is small */
	int *ord = app->order;
	for (int64_t c = 0; c < classes; c++)
		ord[c] = (int)c;
	for (int i = 0; i < k; i++) {
		int best = i;
		for (int64_t j = i + 1; j < classes; j++)
			if (ranks_before(p, ord[j], ord[best]))
				best = (int)j;
		int t = ord[i];
		ord[i] = ord[best];
		ord[best] = t;
		char name[32];
		const char *label = name;
		if (app->labels != NULL)
			label = app->labels[ord[i]];
		else
			snprintf(name, sizeof name, "class %d", ord[i]);
		printf("  %2d. %-24s %.4f\n", i + 1, label, p[ord[i]]);
	}
}

/* Compares output 0 with the reference like `nnzc run` (NaN matches NaN, infinities must be
 * equal): 0 if every element matches, 1 if not. */
static int check(const char *path, const float *got, const float *want, int64_t n)
{
	double max_abs = 0, max_rel = 0;
	int64_t bad = 0, first = -1;
	for (int64_t i = 0; i < n; i++) {
		double a = got[i], b = want[i], diff;
		int ok;
		if (isnan(a) || isnan(b)) {
			ok = isnan(a) && isnan(b);
			diff = ok ? 0 : INFINITY;
		} else if (isinf(a) || isinf(b)) {
			ok = a == b;
			diff = ok ? 0 : INFINITY;
		} else {
			diff = fabs(a - b);
			ok = diff <= ATOL + RTOL * fabs(b);
		}
		if (diff > max_abs)
			max_abs = diff;
		if (b != 0 && isfinite(b) && diff / fabs(b) > max_rel)
			max_rel = diff / fabs(b);
		if (!ok && bad++ == 0)
			first = i;
	}
	printf("expect %s: max abs error %.3g, max rel error %.3g over %lld elements (rtol %g, atol %g)\n",
		path, max_abs, max_rel, (long long)n, RTOL, ATOL);
	if (bad == 0) {
		printf("PASS\n");
		return 0;
	}
	printf("FAIL\n");
	fflush(stdout);
	return fail(1, "output \"%s\" does not match %s: %lld of %lld elements differ, the first at %lld (got %.6g, want %.6g)",
		MODEL(output_name)(0), path, (long long)bad, (long long)n, (long long)first,
		(double)got[first], (double)want[first]);
}

static int run(App *app, const Args *a)
{
	char sh[256], sh2[256];
	int rc;

	/* the model, from its header */
	if (MODEL(num_inputs)() != 1)
		return fail(1, "model " STR(MODEL_NAME) " has %d inputs; classify feeds exactly one",
			MODEL(num_inputs)());
	int in_rank = MODEL(input_rank)(0), out_rank = MODEL(output_rank)(0);
	const int64_t *in_dims = MODEL(input_shape)(0), *out_dims = MODEL(output_shape)(0);
	int in_dtype = MODEL(input_dtype)(0), out_dtype = MODEL(output_dtype)(0);
	int64_t out_n = numel(out_rank, out_dims);
	if (out_dtype != NNZRT_FLOAT || out_rank < 1 || out_n <= 0)
		return fail(1, "model " STR(MODEL_NAME) ": output 0 is %s %s; classify needs float scores [..., classes]",
			nnzrt_dtype_name(out_dtype), shape_str(out_rank, out_dims, sh, sizeof sh));
	int64_t classes = out_dims[out_rank - 1], rows = out_n / classes;
	if (classes > INT32_MAX)
		return fail(1, "model " STR(MODEL_NAME) ": %lld classes are too many", (long long)classes);

	/* the input must be exactly what the model was compiled for */
	if ((rc = nnzrt_tensor_read(a->input, &app->in)) != NNZRT_OK)
		return fail(1, "%s", nnzrt_errmsg());
	if (app->in.dtype != in_dtype || !same_shape(in_rank, in_dims, &app->in))
		return fail(1, "%s is %s %s, but input \"%s\" of the model is %s %s", a->input,
			nnzrt_dtype_name(app->in.dtype), shape_str(app->in.rank, app->in.dims, sh, sizeof sh),
			MODEL(input_name)(0), nnzrt_dtype_name(in_dtype), shape_str(in_rank, in_dims, sh2, sizeof sh2));

	/* buffers for every output (only output 0 is looked at) and the workspace */
	app->n_outputs = MODEL(num_outputs)();
	app->outputs = calloc((size_t)app->n_outputs, sizeof *app->outputs);
	if (app->outputs == NULL)
		return fail(1, "out of memory");
	for (int i = 0; i < app->n_outputs; i++) {
		int64_t n = numel(MODEL(output_rank)(i), MODEL(output_shape)(i));
		size_t esize = nnzrt_dtype_size(MODEL(output_dtype)(i));
		if (n < 0 || esize == 0 || (uint64_t)n > SIZE_MAX / esize)
			return fail(1, "output %d of the model has an unusable shape or dtype", i);
		if ((app->outputs[i] = malloc(n * esize > 0 ? (size_t)n * esize : 1)) == NULL)
			return fail(1, "out of memory for output %d (%lld bytes)", i, (long long)(n * esize));
	}
	/* aligned_alloc wants a multiple of the alignment, and 64 bytes is what the ABI asks for */
	int64_t ws = MODEL(workspace_size)();
	size_t ws_bytes = ((size_t)(ws > 0 ? ws : 1) + 63) & ~(size_t)63;
	if ((app->workspace = aligned_alloc(64, ws_bytes)) == NULL)
		return fail(1, "out of memory for the %lld-byte workspace", (long long)ws);
	app->probs = calloc((size_t)classes, sizeof *app->probs);
	app->order = calloc((size_t)classes, sizeof *app->order);
	if (app->probs == NULL || app->order == NULL)
		return fail(1, "out of memory");
	if (a->labels != NULL && read_labels(a->labels, (int)classes, app))
		return 1;

	const void *inputs[1] = {app->in.data};
	if ((rc = MODEL(run_with)(inputs, app->outputs, app->workspace, a->threads)) != 0)
		return fail(1, "model " STR(MODEL_NAME) " failed with status %d", rc);

	const float *scores = app->outputs[0];
	int is_prob = are_probabilities(scores, rows, classes);
	int k = a->top < classes ? a->top : (int)classes;
	char threads[32];
	snprintf(threads, sizeof threads, "%d", a->threads);
	printf("model \"%s\": input \"%s\" %s %s, output \"%s\" %s %s, threads: %s\n", STR(MODEL_NAME),
		MODEL(input_name)(0), nnzrt_dtype_name(in_dtype), shape_str(in_rank, in_dims, sh, sizeof sh),
		MODEL(output_name)(0), nnzrt_dtype_name(out_dtype), shape_str(out_rank, out_dims, sh2, sizeof sh2),
		a->threads > 0 ? threads : "default");
	printf("top %d of %lld classes, %s:\n", k, (long long)classes,
		is_prob ? "probabilities as the model outputs them"
			: "softmax of the model's output (logits)");
	for (int64_t r = 0; r < rows; r++) {
		if (rows > 1)
			printf(" row %lld:\n", (long long)r);
		print_top(app, scores + r * classes, classes, is_prob, k);
	}

	if (a->expect == NULL)
		return 0;
	if ((rc = nnzrt_tensor_read(a->expect, &app->want)) != NNZRT_OK)
		return fail(1, "%s", nnzrt_errmsg());
	if (app->want.dtype != NNZRT_FLOAT || !same_shape(out_rank, out_dims, &app->want))
		return fail(1, "%s is %s %s, but output \"%s\" of the model is f32 %s", a->expect,
			nnzrt_dtype_name(app->want.dtype), shape_str(app->want.rank, app->want.dims, sh, sizeof sh),
			MODEL(output_name)(0), shape_str(out_rank, out_dims, sh2, sizeof sh2));
	return check(a->expect, scores, app->want.data, out_n);
}

int main(int argc, char **argv)
{
	Args a;
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc; /* -1: --help */
	App app = {0};
	rc = run(&app, &a);
	app_free(&app);
	return rc;
}
