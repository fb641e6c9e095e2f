/* nnzc calibrate: measure the host and fit the cost model's constants (cost.c).
 *
 * The calibration table has one row per kernel kind: the product shapes it is measured on and
 * the weight densities. For every (row, density) one synthetic graph holds all the shapes side by
 * side — independent Conv/Gemm nodes with their own inputs — and is compiled with the kind
 * forced (--kernels dense, or sparse restricted to that kind) and with per-layer timing; one
 * compilation thus measures every shape. A node counts as a sample of the kind only if the
 * emitter actually chose that kind for it (the report's choice; a shape the kind's kernel does
 * not take is skipped), so a sparse kind whose kernels do not exist yet gets no samples and
 * keeps its default constants — rerun calibrate when kernels land. Each kind's constants are
 * then a least-squares fit on relative errors (cpu_cost_fit). Before them, the dense kernel's
 * micro-tile width (choose_dense_vectors), which every later measurement then uses.
 *
 * Shapes are the convolutions and products of ResNet-50, MobileNetV2 and a BERT-base layer at
 * batch 1. Timing: medians of each node's time over repeated runs, after two warm-up runs. */
#include "gemm.h"
#include "sparse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct CalShape {
	const char *name;
	bool gemm;
	int64_t cin, cout, hw, kernel, stride; /* conv: input channels, output channels, input size */
	int64_t rows;                          /* gemm: rows of X (n); cin = k, cout = m */
} CalShape;

#define CONV(nm, ci, co, hw, k, s) {nm, false, ci, co, hw, k, s, 0}
#define GEMM(nm, k, m, rows) {nm, true, k, m, 0, 1, 1, rows}

static const CalShape shapes[] = {
	/* ResNet-50 */
	CONV("r50.1x1.64-256@56", 64, 256, 56, 1, 1),
	CONV("r50.1x1.256-64@56", 256, 64, 56, 1, 1),
	CONV("r50.3x3.64@56", 64, 64, 56, 3, 1),
	CONV("r50.3x3s2.128@56", 128, 128, 56, 3, 2),
	CONV("r50.1x1.512-128@28", 512, 128, 28, 1, 1),
	CONV("r50.3x3.128@28", 128, 128, 28, 3, 1),
	CONV("r50.1x1.1024-256@14", 1024, 256, 14, 1, 1),
	CONV("r50.3x3.256@14", 256, 256, 14, 3, 1),
	CONV("r50.1x1.2048-512@7", 2048, 512, 7, 1, 1),
	CONV("r50.3x3.512@7", 512, 512, 7, 3, 1),
	/* MobileNetV2 (pointwise: expand and project) */
	CONV("mnv2.1x1.24-144@56", 24, 144, 56, 1, 1),
	CONV("mnv2.1x1.144-24@56", 144, 24, 56, 1, 1),
	CONV("mnv2.1x1.96-576@14", 96, 576, 14, 1, 1),
	CONV("mnv2.1x1.576-96@14", 576, 96, 14, 1, 1),
	CONV("mnv2.1x1.320-1280@7", 320, 1280, 7, 1, 1),
	CONV("mnv2.1x1.960-160@7", 960, 160, 7, 1, 1),
	/* classifier and a BERT-base layer on 64 tokens */
	GEMM("r50.fc.2048-1000", 2048, 1000, 1),
	GEMM("bert.768-768x64", 768, 768, 64),
	GEMM("bert.768-3072x64", 768, 3072, 64),
	GEMM("bert.3072-768x64", 3072, 768, 64),
	/* small layers (tinycnn-like heads and stems), which pin the fixed cost per node */
	CONV("small.3x3.16@16", 16, 16, 16, 3, 1),
	CONV("small.1x1.32-64@14", 32, 64, 14, 1, 1),
	GEMM("small.fc.256-10", 256, 10, 1),
	GEMM("small.fc.512-128x4", 512, 128, 4),
	/* ResNet-50's strided 1x1 (downsample) */
	CONV("r50.1x1s2.512-1024@28", 512, 1024, 28, 1, 2),
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))
/* --quick: a few small shapes (tests), at two densities per kind */
static const int quick_shapes[] = {11, 14, 17, 20, 22};
static const double quick_density[2] = {0.5, 0.1};

/* The calibration table: one row per kernel kind. */
typedef struct CalRow {
	CpuKernelKind kind;
	int block;           /* zeros in units of this many consecutive rows (the kind's structure) */
	/* samples of convolutions only: --kernels auto never runs the kind on Gemm or MatMul
	 * (emit_gemm.c), whose transposed products are far slower and would skew the fit */
	bool convs_only;
	double density[5];
	int n_density;
} CalRow;

/* The dense kernels do not look at the values: two densities show that. The sparse ones are
 * measured where a choice between them and dense is made; at density 1 (and for 3x3 at 0.5)
 * the kernels whose code holds the weights fall off a cliff (5-10x slower than linear, code
 * size) that no linear model follows, and that only decides cases dense wins anyway. */
static const CalRow table[] = {
	{CK_DENSE, 1, false, {1.0, 0.1}, 2},
	{CK_SPARSE_ROWS, 1, true, {0.5, 0.3, 0.2, 0.1, 0.05}, 5},
	{CK_SPARSE_BLOCKS, 8, true, {0.5, 0.3, 0.2, 0.1, 0.05}, 5},
	{CK_SPARSE_LANES, 1, false, {0.5, 0.3, 0.2, 0.1, 0.05}, 5},
	{CK_SPARSE_PATTERNS, 1, true, {0.5, 0.3, 0.2, 0.1, 0.05}, 5},
};

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next_u32(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng >> 33);
}
static float uniform(void) { return (float)next_u32() / 4294967296.0f; }

/* rows x cols values in [0.1, 1) with random signs; of the units — `block` consecutive rows at
 * one column (1: single elements) — exactly round((1 - density) * units) are zeroed, so that
 * block > 1 gives the shared column sets of CK_SPARSE_BLOCKS */
static void fill_weight(float *w, int64_t rows, int64_t cols, double density, int block)
{
	int64_t n = rows * cols;
	for (int64_t i = 0; i < n; i++)
		w[i] = (0.1f + 0.9f * uniform()) * (next_u32() & 1 ? 1.0f : -1.0f);
	if (block < 1 || rows % block)
		block = 1;
	int64_t units = rows / block * cols;
	int64_t zeros = (int64_t)llround((1.0 - density) * (double)units);
	/* a partial Fisher-Yates shuffle picks which */
	int64_t *idx = malloc((size_t)(units ? units : 1) * sizeof *idx);
	if (idx == NULL)
		return; /* dense then: the samples are still valid ones */
	for (int64_t i = 0; i < units; i++)
		idx[i] = i;
	for (int64_t i = 0; i < zeros; i++) {
		int64_t j = i + (int64_t)(((uint64_t)next_u32() << 32 | next_u32()) % (uint64_t)(units - i));
		int64_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		int64_t rb = idx[i] / cols, c = idx[i] % cols;
		for (int r = 0; r < block; r++)
			w[(rb * block + r) * cols + c] = 0.0f;
	}
	free(idx);
}

/* a weight [rows, ...] whose matrix view is rows x (numel / rows), row-major */
static Value *constant(Graph *g, const char *name, Shape s, double density, int block, Diag *d)
{
	Value *v = graph_add_constant(g, name, DT_F32, &s, d);
	if (v)
		fill_weight(v->data, s.dim[0], shape_numel(&s) / s.dim[0], density, block);
	return v;
}

/* All the shapes side by side, weights at `density` in units of `block` rows. Each product reads
 * what a Relu of the graph input just wrote, as a layer in a network reads its predecessor's
 * output from cache: read from the caller's buffers instead (cold, the inputs together exceed
 * the caches), the sparse kernels measured up to 1.7x slower than in ResNet-50, the dense one
 * 1.3x (by hand, per-layer times of the same shapes), and the model chose dense where the
 * pattern groups were faster. */
static Graph *build_graph(const int *which, int n, double density, int block, Diag *d)
{
	Graph *g = graph_new("calibrate");
	for (int i = 0; i < n; i++) {
		const CalShape *c = &shapes[which[i]];
		char name[96];
		Shape xs = c->gemm ? shape_make(2, (int64_t[]){c->rows, c->cin})
				   : shape_make(4, (int64_t[]){1, c->cin, c->hw, c->hw});
		Shape ws = c->gemm ? shape_make(2, (int64_t[]){c->cout, c->cin})
				   : shape_make(4, (int64_t[]){c->cout, c->cin, c->kernel, c->kernel});
		snprintf(name, sizeof name, "x.%s", c->name);
		Value *x0 = graph_add_value(g, name, DT_F32, &xs);
		graph_add_input(g, x0);
		snprintf(name, sizeof name, "pre.%s", c->name);
		Node *pre = graph_add_node(g, OP_Relu, name, 1, (Value *[]){x0}, 1);
		Value *x = pre->out[0];
		snprintf(name, sizeof name, "w.%s", c->name);
		Value *w = constant(g, name, ws, density, block, d);
		snprintf(name, sizeof name, "b.%s", c->name);
		Value *b = constant(g, name, shape_make(1, (int64_t[]){c->cout}), 1.0, 1, d);
		if (w == NULL || b == NULL) {
			graph_free(g);
			return NULL;
		}
		Node *nd = graph_add_node(g, c->gemm ? OP_Gemm : OP_Conv, c->name, 3, (Value *[]){x, w, b}, 1);
		if (c->gemm) {
			nd->attr.gemm.trans_b = 1;
		} else {
			ConvAttrs *a = &nd->attr.conv;
			a->kernel_shape = (Ints){2, {c->kernel, c->kernel}};
			a->strides = (Ints){2, {c->stride, c->stride}};
			int64_t p = c->kernel / 2;
			a->pads = (Ints){4, {p, p, p, p}};
		}
		graph_add_output(g, nd->out[0]);
	}
	if (pass_shape_infer(g, NULL, d) < 0) {
		graph_free(g);
		return NULL;
	}
	return g;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the median of v[0..n), n > 0 (sorts v) */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define MAX_ITERS 200

/* One (kind, density) measurement: for every node the emitter ran with `kind`, a sample of its
 * product terms and median seconds; dense products with `dense_vectors` (CpuOptions). Returns
 * the samples added, -1 on error. */
static int measure(const CpuCalibrateOptions *o, const int *which, int n_which, const CalRow *row, double density,
		   int dense_vectors, double (*terms)[CT_COUNT], double *secs, int cap, int *vlen, Diag *d)
{
	CpuKernelKind kind = row->kind;
	Graph *g = build_graph(which, n_which, density, row->block, d);
	if (g == NULL)
		return -1;
	CpuReport rep = {0};
	CpuOptions co = {.cpu = o->cpu, .opt_level = 3, .profile = true, .report = &rep, .cost_model = "defaults",
			 .kernels = kind == CK_DENSE ? CPU_KERNELS_DENSE : CPU_KERNELS_SPARSE,
			 .sparse_kind = kind == CK_DENSE ? 0 : (int)kind, .dense_vectors = dense_vectors};
	CpuModel *m = cpu_load(g, &co, d);
	Tensor *in = calloc((size_t)g->n_inputs + 1, sizeof *in), *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
	double *ns = calloc((size_t)MAX_ITERS * (size_t)(g->n_nodes + 1), sizeof *ns);
	int added = -1;
	if (m == NULL)
		goto out;
	*vlen = rep.vlen; /* the vector width the kernels were built for */
	if (!in || !out || !ns) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < g->n_inputs; i++) {
		if (tensor_alloc(&in[i], DT_F32, &g->inputs[i]->shape, d) < 0)
			goto out;
		float *x = in[i].data;
		for (int64_t k = 0; k < tensor_numel(&in[i]); k++)
			x[k] = uniform() * 2.0f - 1.0f;
	}
	double budget = o->budget_s > 0 ? o->budget_s : o->quick ? 0.05 : 1.0;
	double t0 = now_s();
	int iters = 0;
	for (int it = -2; it < MAX_ITERS; it++) { /* two warm-up runs */
		if (cpu_model_run(m, in, out, o->threads > 0 ? o->threads : 1, d) < 0)
			goto out;
		for (int i = 0; i < g->n_outputs; i++)
			tensor_free(&out[i]);
		if (it < 0) {
			t0 = now_s();
			continue;
		}
		const int64_t *layer = cpu_model_layer_ns(m);
		for (int k = 0; k < g->n_nodes; k++)
			ns[(size_t)k * MAX_ITERS + (size_t)it] = 1e-9 * (double)layer[k];
		iters = it + 1;
		if (iters >= 5 && now_s() - t0 >= budget)
			break;
	}
	added = 0;
	for (int k = 0; k < g->n_nodes && added < cap; k++) {
		const CpuLayer *l = k < rep.n_layers ? &rep.layers[k] : NULL;
		ProductShape p;
		/* a sample of this kind only if the emitter chose it (dense: noted or not) */
		bool chosen = l && (l->choice ? strcmp(l->choice, cpu_kernel_kind_name[kind]) == 0 : kind == CK_DENSE);
		Op op = g->nodes[k]->op;
		if (!chosen || (row->convs_only && op != OP_Conv && op != OP_FusedConv) || !cpu_node_product(g->nodes[k], &p))
			continue;
		double *v = ns + (size_t)k * MAX_ITERS;
		secs[added] = median(v, iters);
		cpu_cost_terms(&p, terms[added]);
		if (o->log)
			fprintf(o->log, "  %-14s density %-5.2f %-22s %9.4f ms\n", cpu_kernel_kind_name[kind], density,
				g->nodes[k]->name, 1e3 * secs[added]);
		added++;
	}
out:
	if (in)
		for (int i = 0; i < g->n_inputs; i++)
			tensor_free(&in[i]);
	free(in);
	free(out);
	free(ns);
	cpu_model_free(m);
	cpu_report_free(&rep);
	graph_free(g);
	return added;
}

/* The dense micro-tile's width where gemm.c may widen it (plan_rows, the cost file's
 * dense-vectors): the table's convolutions that it widens, compiled dense with 2 and with 3
 * vectors and run on two threads, the case gemm.c's planner splits the work for (the difference
 * shows there: on the Intel guest of plan_rows' figures, by hand, all shapes of the table with
 * 3 vectors took 1.4% less in total on one thread and 1-8% less on two, so that the choice
 * flipped between calibrations; the 9 widened ones alone, as here, 2-8% less on two).
 * DENSE_WIDE_ROUNDS pairs of runs (one with --quick); 3 when the median of the pairs' total
 * ratios (3 / 2) is at most 1 - DENSE_WIDE_GAIN. Returns 2 or 3, -1 on error. */
#define DENSE_WIDE_ROUNDS 5
#define DENSE_WIDE_GAIN 0.02
static int choose_dense_vectors(const CpuCalibrateOptions *o, const int *which, int n_which, int *vlen, Diag *d)
{
	static double terms[N_SHAPES][CT_COUNT], secs[N_SHAPES];
	const CalRow *dense = &table[0]; /* the table's first row */
	/* only the convolutions gemm.c widens, so that the others' noise does not hide the
	 * difference: maps from 14x14 up (the products of smaller ones are transposed, emit_conv.c) */
	int wide[N_SHAPES], n_wide = 0;
	for (int i = 0; i < n_which; i++) {
		const CalShape *c = &shapes[which[i]];
		if (!c->gemm && c->hw / c->stride >= 14 && c->cout >= GEMM_WIDE_MIN_M &&
		    c->cin * c->kernel * c->kernel >= GEMM_WIDE_MIN_K)
			wide[n_wide++] = which[i];
	}
	if (n_wide == 0)
		return 2;
	CpuCalibrateOptions two = *o;
	two.threads = 2;
	int rounds = o->quick ? 1 : DENSE_WIDE_ROUNDS;
	double ratio[DENSE_WIDE_ROUNDS];
	for (int round = 0; round < rounds; round++) {
		double total[2] = {0, 0};
		for (int i = 0; i < 2; i++) {
			/* alternate which goes first, so that a drift of the machine favours neither */
			int nv = (round + i) % 2 ? 3 : 2;
			int got = measure(&two, wide, n_wide, dense, 1.0, nv, terms, secs, N_SHAPES, vlen, d);
			if (got < 0)
				return -1;
			for (int j = 0; j < got; j++)
				total[nv - 2] += secs[j];
		}
		ratio[round] = total[0] > 0 ? total[1] / total[0] : 1.0;
	}
	double mid = median(ratio, rounds); /* sorts them: ratio[0] and ratio[rounds - 1] the extremes */
	int nv = mid <= 1.0 - DENSE_WIDE_GAIN ? 3 : 2;
	if (o->log)
		fprintf(o->log, "dense micro-tile: 3 vectors / 2 vectors, %d shapes on two threads: median %.3f of %d "
				"(%.3f-%.3f): %d vectors\n", n_wide, mid, rounds, ratio[0], ratio[rounds - 1], nv);
	return nv;
}

/* mkdir -p of the folder holding path */
static int make_parent(const char *path, Diag *d)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return diag_error(d, "%s: path too long", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return diag_error(d, "%s: cannot create the folder: %s", buf, strerror(errno));
		*p = '/';
	}
	return 0;
}

int cpu_calibrate(const CpuCalibrateOptions *o, Diag *d)
{
	char *cpu = NULL, *features = NULL, path[4096];
	if (cpu_host_target(o->cpu, &cpu, &features, d) < 0)
		return -1;
	int rc = -1;
	if (o->out)
		snprintf(path, sizeof path, "%s", o->out);
	else if (cpu_cost_default_path(cpu, path, sizeof path) < 0) {
		diag_error(d, "calibrate: neither XDG_CACHE_HOME nor HOME is set: give --out FILE");
		goto done;
	}
	int which[N_SHAPES], n_which = 0;
	if (o->quick)
		for (size_t i = 0; i < sizeof quick_shapes / sizeof quick_shapes[0]; i++)
			which[n_which++] = quick_shapes[i];
	else
		for (int i = 0; i < N_SHAPES; i++)
			which[n_which++] = i;
	CpuCostModel model = {.vlen = 0, .threads = o->threads > 0 ? o->threads : 1};
	snprintf(model.cpu, sizeof model.cpu, "%s", cpu);
	model.features = cpu_cost_features_hash(features);
	enum { CAP = 5 * N_SHAPES };
	static double terms[CAP][CT_COUNT], secs[CAP];
	double t_start = now_s();
	if ((model.dense_vectors = choose_dense_vectors(o, which, n_which, &model.vlen, d)) < 0)
		goto done;
	for (size_t r = 0; r < sizeof table / sizeof table[0]; r++) {
		const CalRow *row = &table[r];
		int n = 0;
		int n_density = o->quick ? 2 : row->n_density;
		for (int di = 0; di < n_density; di++) {
			double density = o->quick ? quick_density[di] : row->density[di];
			int got = measure(o, which, n_which, row, density, model.dense_vectors, terms + n, secs + n, CAP - n,
					  &model.vlen, d);
			if (got < 0)
				goto done;
			n += got;
			/* no shape took this kind at the first density: its kernels do not exist (yet) */
			if (n == 0)
				break;
		}
		double coef[CT_COUNT];
		double err = n ? cpu_cost_fit(row->kind, (const double (*)[CT_COUNT])terms, secs, n, coef) : -1.0;
		/* samples off by more than half (cliffs, a disturbed measurement) are set aside once if
		 * they are few, and the rest fitted again */
		int outliers = 0;
		for (int i = 0; err >= 0 && i < n; i++) {
			double pred = 0;
			for (int t = 0; t < CT_COUNT; t++)
				pred += coef[t] * terms[i][t];
			if (fabs(pred / secs[i] - 1) > 0.5) {
				secs[i] = -secs[i]; /* cpu_cost_fit skips samples <= 0 */
				outliers++;
			}
		}
		if (outliers > 0 && outliers <= n / 4)
			err = cpu_cost_fit(row->kind, (const double (*)[CT_COUNT])terms, secs, n, coef);
		else if (outliers > 0) {
			for (int i = 0; i < n; i++)
				secs[i] = fabs(secs[i]);
			outliers = 0;
		}
		if (err < 0) {
			if (o->log)
				fprintf(o->log, "%s: %d samples, not calibrated (keeps the defaults)\n",
					cpu_kernel_kind_name[row->kind], n);
			continue;
		}
		model.have[row->kind] = true;
		memcpy(model.coef[row->kind], coef, sizeof coef);
		if (o->log) {
			fprintf(o->log, "%s: %d samples (%d set aside), rms relative error %.1f%%:",
				cpu_kernel_kind_name[row->kind], n, outliers, 100.0 * err);
			for (int t = 0; t < CT_COUNT; t++)
				if (cpu_cost_term_used(row->kind, (CostTerm)t))
					fprintf(o->log, " %s %.4g", cpu_cost_term_name[t], coef[t]);
			fprintf(o->log, "\n");
		}
	}
	bool any = false;
	for (int k = 0; k < CK_COUNT; k++)
		any |= model.have[k];
	if (!any) {
		diag_error(d, "calibrate: no kernel kind could be measured");
		goto done;
	}
	if (make_parent(path, d) < 0)
		goto done;
	OutFile of;
	if (outfile_open(&of, path, d) < 0)
		goto done;
	if (cpu_cost_write(&model, of.f) < 0) {
		outfile_abort(&of);
		diag_error(d, "%s: cannot write the cost model", path);
		goto done;
	}
	if (outfile_commit(&of, d) < 0)
		goto done;
	if (o->log)
		fprintf(o->log, "wrote %s (cpu %s, %d lanes, %d thread%s) in %.1f s\n", path, cpu, model.vlen, model.threads,
			model.threads == 1 ? "" : "s", now_s() - t_start);
	rc = 0;
done:
	free(cpu);
	free(features);
	return rc;
}
