/* The cost model that chooses a kernel per weight product (sparse.h): predicted seconds of a
 * product on one thread are a linear function of a few terms of its shape (CostTerm), with one
 * row of constants per kernel kind.
 *
 * Where the constants come from, first match wins:
 *   1. --cost-model FILE (CpuOptions.cost_model), or "defaults" for the built-in ones;
 *   2. the host's calibration file, cpu_cost_default_path(cpu name) — used only when it was
 *      calibrated on the same CPU name and feature string as the compilation targets;
 *   3. the defaults below.
 * A file is parsed once per process and version of it (the cache below: path, inode, size and
 * modification time), so a compilation asking for thousands of costs reads it once. Kinds a file does not calibrate keep their default row.
 * The choice changes the code, so the metadata and --report name the model used
 * (cpu_cost_model()->source): objects are byte-identical for the same model, flags and cost
 * model. File format and calibration: docs/performance.md, calibrate.c. */
#include "sparse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const cpu_kernel_kind_name[CK_COUNT] = {
	[CK_DENSE] = "dense",
	[CK_SPARSE_ROWS] = "sparse-rows",
	[CK_SPARSE_BLOCKS] = "sparse-blocks",
	[CK_SPARSE_LANES] = "sparse-lanes",
	[CK_SPARSE_PATTERNS] = "sparse-patterns",
};

const char *const cpu_cost_term_name[CT_COUNT] = {
	[CT_FIXED] = "fixed", [CT_MAC] = "mac", [CT_NNZ] = "nnz", [CT_OUT] = "out", [CT_IM2COL] = "im2col",
	[CT_ROW] = "row", [CT_WEIGHTS] = "weights", [CT_NONZEROS] = "nonzeros", [CT_ENTRIES] = "entries",
};

const char *const cpu_kernels_help = "auto | dense | sparse | sparse-rows | sparse-blocks | sparse-lanes | sparse-patterns";

/* The defaults: `nnzc calibrate --out FILE` (1 thread, ~60 s) on the AMD EPYC Zen 5 host (LLVM
 * cpu znver5, 16 float lanes) the project is measured on, 2026-11-24 05:45 UTC, with the sparse
 * kernels of a2b8140 (spmm.c with the pattern groups, folded tails, table prefetch, tables and
 * bounds laid out k-block by k-block in the order the kernel reads them; sparse_gemm.c) and the
 * calibration whose products read a Relu's fresh output (calibrate.c); the fit's RMS relative
 * errors were dense 8.0%, sparse-rows 18.5%, sparse-blocks 19.3%, sparse-lanes 15.4%,
 * sparse-patterns 18.0%. Against the constants before (fitted on 2026-11-23 to the kernels before
 * 5e78d7d), 2 threads, 3-4 interleaved pairs per model, by hand: ResNet-50 2:4 -4.2% (layer4's
 * products but its last 1x1 ones move from the dense kernel to the pattern groups), 50% -3.6%,
 * 90% -1.5%, 95% -0.8%, 70% and 1:4 within +-1.3%, the 2:4 + 1:4 series +1.8%; MobileNetV2 2:4
 * -4.4%, 50% -1.8%, 80% -0.7%, 90% +1.0%. Rerun it when a kernel changes and paste its rows here
 * (docs/performance.md). */
static const CpuCostModel defaults = {
	.source = "defaults",
	.cpu = "znver5",
	.vlen = 16,
	.threads = 1,
	.coef = {
		/* fixed, mac, nnz, out, im2col, row, weights, nonzeros, entries (CostTerm order) */
		[CK_DENSE] = {4.36404e-07, 6.68867e-12, 0, 9.61347e-11, 6.08272e-11, 0, 7.25826e-11, 0, 0},
		[CK_SPARSE_ROWS] = {9.08255e-07, 0, 1.65237e-11, 5.97676e-11, 2.67914e-11, 5.52675e-09, 0, 2.88134e-10, 0},
		[CK_SPARSE_BLOCKS] = {1.69191e-06, 0, 9.08913e-12, 5.58836e-11, 0, 1.1386e-09, 0, 1.44242e-10, 0},
		[CK_SPARSE_LANES] = {2.16635e-07, 0, 0, 0, 0, 9.58072e-09, 0, 1.65942e-10, 0},
		[CK_SPARSE_PATTERNS] = {3.42531e-06, 0, 0, 3.73778e-11, 3.92742e-11, 7.55256e-09, 0, 2.09112e-10, 2.2461e-11},
	},
};

bool cpu_cost_term_used(CpuKernelKind kind, CostTerm t)
{
	if (kind == CK_DENSE)
		return t == CT_FIXED || t == CT_MAC || t == CT_OUT || t == CT_IM2COL || t == CT_WEIGHTS;
	if (t == CT_ENTRIES)
		return kind == CK_SPARSE_PATTERNS;
	return t != CT_MAC && t != CT_WEIGHTS;
}

void cpu_cost_terms(const ProductShape *p, double t[CT_COUNT])
{
	double m = (double)p->m, n = (double)p->n, k = (double)p->k, batch = (double)p->batch;
	t[CT_FIXED] = 1.0;
	t[CT_MAC] = batch * m * n * k;
	t[CT_NNZ] = batch * (double)p->nnz * n;
	t[CT_OUT] = batch * m * n;
	t[CT_IM2COL] = p->im2col ? batch * k * n : 0.0;
	t[CT_ROW] = batch * m;
	t[CT_WEIGHTS] = batch * m * k;
	t[CT_NONZEROS] = batch * (double)p->nnz;
	t[CT_ENTRIES] = batch * (double)p->entries * n;
}

uint64_t cpu_cost_features_hash(const char *features)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (const unsigned char *p = (const unsigned char *)(features ? features : ""); *p; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	return h;
}

/* ---------------------------------------------------------------- the file */

#define MAX_COST_FILE 65536
#define MAX_LINE 1024

static int bad(Diag *d, const char *name, int line, const char *fmt, const char *arg)
{
	/* what the file said, at most 100 bytes of it */
	char a[101], msg[512];
	size_t n = arg ? strnlen(arg, sizeof a - 1) : 0;
	memcpy(a, arg ? arg : "", n);
	a[n] = '\0';
	snprintf(msg, sizeof msg, fmt, a);
	return diag_error(d, "%s:%d: %s", name, line, msg);
}

/* the next blank-separated word of *p (at most cap - 1 bytes), "" at the end of the line */
static const char *word(const char **p, char *buf, size_t cap)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (s[n] && s[n] != ' ' && s[n] != '\t')
		n++;
	if (n >= cap)
		n = cap - 1; /* a word this long is wrong anyway: the caller sees it does not match */
	memcpy(buf, s, n);
	buf[n] = '\0';
	s += n;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	*p = s;
	return buf;
}

static bool parse_int_word(const char *w, long lo, long hi, int *v)
{
	char *end;
	errno = 0;
	long x = strtol(w, &end, 10);
	if (end == w || *end || errno || x < lo || x > hi)
		return false;
	*v = (int)x;
	return true;
}

/* "fixed mac ..." */
static const char *term_list(void)
{
	static char buf[128];
	size_t n = 0;
	for (int t = 0; t < CT_COUNT; t++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", t ? " " : "", cpu_cost_term_name[t]);
	return buf;
}

int cpu_cost_parse(const char *name, const char *text, size_t len, CpuCostModel *m, Diag *d)
{
	*m = defaults;
	memset(m->have, 0, sizeof m->have);
	m->cpu[0] = '\0';
	if (len > MAX_COST_FILE)
		return bad(d, name, 0, "larger than 64 KiB: not a cost file", NULL);
	if (memchr(text, '\0', len))
		return bad(d, name, 0, "holds a NUL byte: not a cost file", NULL);
	bool seen_header = false, seen_cpu = false, seen_features = false, seen_vlen = false, seen_threads = false;
	bool seen_terms = false, seen_dense_vectors = false;
	int line = 0;
	size_t at = 0;
	while (at < len) {
		size_t end = at;
		while (end < len && text[end] != '\n')
			end++;
		line++;
		size_t n = end - at;
		if (n >= MAX_LINE)
			return bad(d, name, line, "line longer than %s bytes", "1023");
		char buf[MAX_LINE];
		memcpy(buf, text + at, n);
		buf[n] = '\0';
		if (n && buf[n - 1] == '\r')
			buf[--n] = '\0';
		at = end + 1;
		const char *p = buf;
		char key[64], w[MAX_LINE];
		word(&p, key, sizeof key);
		if (key[0] == '\0' || key[0] == '#')
			continue;
		if (!seen_header) {
			if (strcmp(key, "nnzc-cost") != 0 || strcmp(word(&p, w, sizeof w), "1") != 0 || *word(&p, w, sizeof w))
				return bad(d, name, line, "not an nnzc cost file (expected 'nnzc-cost 1' first)", NULL);
			seen_header = true;
			continue;
		}
		if (strcmp(key, "cpu") == 0) {
			word(&p, w, sizeof w);
			if (seen_cpu || !w[0] || strlen(w) >= sizeof m->cpu)
				return bad(d, name, line, "a bad or repeated cpu line", NULL);
			memcpy(m->cpu, w, strlen(w) + 1);
			seen_cpu = true;
		} else if (strcmp(key, "features") == 0) {
			word(&p, w, sizeof w);
			char *e;
			errno = 0;
			unsigned long long h = strtoull(w, &e, 16);
			if (seen_features || strlen(w) != 16 || *e || errno)
				return bad(d, name, line, "a bad or repeated features line (16 hex digits)", NULL);
			m->features = h;
			seen_features = true;
		} else if (strcmp(key, "vlen") == 0) {
			if (seen_vlen || !parse_int_word(word(&p, w, sizeof w), 1, 64, &m->vlen))
				return bad(d, name, line, "a bad or repeated vlen line (1..64)", NULL);
			seen_vlen = true;
		} else if (strcmp(key, "threads") == 0) {
			if (seen_threads || !parse_int_word(word(&p, w, sizeof w), 1, 1024, &m->threads))
				return bad(d, name, line, "a bad or repeated threads line (1..1024)", NULL);
			seen_threads = true;
		} else if (strcmp(key, "dense-vectors") == 0) {
			if (seen_dense_vectors || !parse_int_word(word(&p, w, sizeof w), 2, 3, &m->dense_vectors))
				return bad(d, name, line, "a bad or repeated dense-vectors line (2 or 3)", NULL);
			seen_dense_vectors = true;
		} else if (strcmp(key, "terms") == 0) {
			/* the terms of this nnzc, in order: a file of another version must be recalibrated */
			for (int t = 0; t < CT_COUNT; t++)
				if (strcmp(word(&p, w, sizeof w), cpu_cost_term_name[t]) != 0)
					return bad(d, name, line, "the terms are not those of this nnzc (%s): recalibrate "
							 "(nnzc calibrate)", term_list());
			if (seen_terms)
				return bad(d, name, line, "a repeated terms line", NULL);
			seen_terms = true;
		} else if (strcmp(key, "kind") == 0) {
			if (!seen_terms)
				return bad(d, name, line, "a kind line before the terms line", NULL);
			word(&p, w, sizeof w);
			int kind = -1;
			for (int k = 0; k < CK_COUNT; k++)
				if (strcmp(w, cpu_kernel_kind_name[k]) == 0)
					kind = k;
			if (kind < 0)
				return bad(d, name, line, "unknown kernel kind '%s'", w);
			if (m->have[kind])
				return bad(d, name, line, "kernel kind '%s' given twice", w);
			for (int t = 0; t < CT_COUNT; t++) {
				word(&p, w, sizeof w);
				char *e;
				errno = 0;
				double v = strtod(w, &e);
				if (!w[0] || *e || errno || !isfinite(v) || v < 0 || v >= 1.0)
					return bad(d, name, line, "expected one number of seconds in [0, 1) per term, got '%s'", w);
				m->coef[kind][t] = cpu_cost_term_used((CpuKernelKind)kind, (CostTerm)t) ? v : 0.0;
			}
			m->have[kind] = true;
		} else {
			return bad(d, name, line, "unknown line '%s'", key);
		}
		if (*word(&p, w, sizeof w))
			return bad(d, name, line, "unexpected '%s' at the end of the line", w);
	}
	if (!seen_header)
		return bad(d, name, line, "empty: not a cost file", NULL);
	if (!seen_cpu || !seen_features || !seen_vlen || !seen_threads || !seen_terms)
		return bad(d, name, line, "truncated: a cpu, features, vlen, threads or terms line is missing", NULL);
	bool any = false;
	for (int k = 0; k < CK_COUNT; k++)
		any |= m->have[k];
	if (!any)
		return bad(d, name, line, "truncated: no kind line", NULL);
	return 0;
}

int cpu_cost_write(const CpuCostModel *m, FILE *f)
{
	fprintf(f, "nnzc-cost 1\n# written by nnzc calibrate; format: docs/performance.md\n");
	fprintf(f, "cpu %s\nfeatures %016llx\nvlen %d\nthreads %d\nterms", m->cpu, (unsigned long long)m->features,
		m->vlen, m->threads);
	for (int t = 0; t < CT_COUNT; t++)
		fprintf(f, " %s", cpu_cost_term_name[t]);
	fprintf(f, "\n");
	if (m->dense_vectors)
		fprintf(f, "dense-vectors %d\n", m->dense_vectors);
	fprintf(f, "# kind: seconds per unit of each term\n");
	for (int k = 0; k < CK_COUNT; k++) {
		if (!m->have[k])
			continue;
		fprintf(f, "kind %s", cpu_kernel_kind_name[k]);
		for (int t = 0; t < CT_COUNT; t++)
			fprintf(f, " %.6g", m->coef[k][t]);
		fprintf(f, "\n");
	}
	return ferror(f) ? -1 : 0;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* Read and parse path; *missing (if given) tells a file that does not exist from a bad one. */
static int load_file(const char *path, CpuCostModel *m, bool *missing, Diag *d)
{
	if (missing)
		*missing = false;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (missing && errno == ENOENT) {
			*missing = true;
			return -1;
		}
		return diag_error(d, "%s: cannot open the cost model: %s", path, strerror(errno));
	}
	char *text = malloc(MAX_COST_FILE + 1);
	size_t len = text ? fread(text, 1, MAX_COST_FILE + 1, f) : 0;
	bool err = ferror(f);
	fclose(f);
	if (text == NULL)
		return diag_error(d, "out of memory");
	if (err) {
		free(text);
		return diag_error(d, "%s: cannot read the cost model", path);
	}
	int rc = cpu_cost_parse(path, text, len, m, d);
	if (rc == 0) {
		const char *base = strrchr(path, '/');
		snprintf(m->source, sizeof m->source, "%.500s fnv1a64:%016llx", base ? base + 1 : path,
			 (unsigned long long)hash_bytes(text, len));
	}
	free(text);
	return rc;
}

int cpu_cost_check_file(const char *path, Diag *d)
{
	CpuCostModel m;
	return load_file(path, &m, NULL, d);
}

/* ---------------------------------------------------------------- which model: the cache */

/* Models by path, parsed once per process and version of the file (a failed parse is kept too,
 * with its message). Never freed: a few kilobytes per distinct path, reachable until exit. */
typedef struct CacheEntry {
	char *path;
	struct stat st;  /* of the version parsed; st_ino 0: the file did not exist */
	bool ok, missing;
	CpuCostModel m;
	char msg[sizeof ((Diag *)0)->msg];
	struct CacheEntry *next;
} CacheEntry;
static CacheEntry *cache;

static bool same_version(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static const CacheEntry *cached(const char *path, bool default_path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		memset(&st, 0, sizeof st);
	CacheEntry *e = cache;
	while (e && strcmp(e->path, path) != 0)
		e = e->next;
	if (e && same_version(&e->st, &st))
		return e;
	if (e == NULL) {
		e = calloc(1, sizeof *e);
		if (e == NULL || (e->path = strdup(path)) == NULL) {
			free(e);
			return NULL;
		}
		e->next = cache;
		cache = e;
	}
	/* new, or the file changed since (nnzc calibrate, tests): parse this version */
	e->st = st;
	Diag d = {0};
	e->ok = load_file(path, &e->m, default_path ? &e->missing : NULL, &d) == 0;
	snprintf(e->msg, sizeof e->msg, "%s", d.msg);
	return e;
}

int cpu_cost_default_path(const char *cpu_name, char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/nnzc/cost-%s.txt", xdg, cpu_name);
	else if (home && home[0])
		n = snprintf(buf, cap, "%s/.cache/nnzc/cost-%s.txt", home, cpu_name);
	else
		return -1;
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The model and, through *err, the message of a bad explicit file (NULL when fine). */
static const CpuCostModel *resolve(const Cg *cg, const char **err)
{
	*err = NULL;
	const char *want = cg->opt->cost_model;
	if (want && strcmp(want, "defaults") == 0)
		return &defaults;
	if (want) {
		const CacheEntry *e = cached(want, false);
		if (e == NULL) {
			*err = "out of memory";
			return &defaults;
		}
		if (!e->ok)
			*err = e->msg;
		return e->ok ? &e->m : &defaults;
	}
	char path[4096];
	if (cg->cpu_name == NULL || cpu_cost_default_path(cg->cpu_name, path, sizeof path) < 0)
		return &defaults;
	const CacheEntry *e = cached(path, true);
	if (e == NULL || e->missing)
		return &defaults;
	if (!e->ok) {
		*err = e->msg; /* a damaged cache file is an error, not a silent fallback */
		return &defaults;
	}
	/* calibrated for another machine (or --cpu): not this compilation's */
	if (strcmp(e->m.cpu, cg->cpu_name) != 0 || e->m.features != cpu_cost_features_hash(cg->cpu_features))
		return &defaults;
	return &e->m;
}

const CpuCostModel *cpu_cost_model(const Cg *cg)
{
	const char *err;
	return resolve(cg, &err);
}

int cpu_cost_model_check(Cg *cg)
{
	const char *err;
	resolve(cg, &err);
	if (err)
		return diag_error(cg->d, "%s", err);
	return 0;
}

/* ---------------------------------------------------------------- predictions and the choice */

double cpu_cost_seconds(const Cg *cg, CpuKernelKind kind, const ProductShape *p)
{
	if ((int)kind < 0 || kind >= CK_COUNT)
		return -1.0;
	/* --kernels sparse-rows (and the like): the other sparse kinds cannot run */
	if (kind != CK_DENSE && cg->opt->sparse_kind > 0 && (int)kind != cg->opt->sparse_kind)
		return -1.0;
	if (p->m < 0 || p->n < 0 || p->k < 0 || p->batch < 0 || p->nnz < 0)
		return -1.0;
	/* the lanes kernel runs a few columns only, and its constants were fitted there */
	if (kind == CK_SPARSE_LANES && p->n > SPARSE_LANES_MAX_COLUMNS)
		return -1.0;
	if (kind == CK_SPARSE_PATTERNS && sparse_pattern_rows(p->m) == 0)
		return -1.0;
	const CpuCostModel *m = cpu_cost_model(cg);
	const double *coef = m->have[kind] ? m->coef[kind] : defaults.coef[kind];
	/* the arithmetic terms scale with the vector width the constants were measured at */
	int cal_vlen = m->have[kind] ? m->vlen : defaults.vlen;
	double width = cg->vlen > 0 ? (double)cal_vlen / (double)cg->vlen : 1.0;
	double t[CT_COUNT], s = 0.0;
	cpu_cost_terms(p, t);
	for (int i = 0; i < CT_COUNT; i++)
		s += coef[i] * t[i] * (i == CT_MAC || i == CT_NNZ || i == CT_ENTRIES ? width : 1.0);
	return s;
}

void cpu_note_choice(Cg *cg, const Node *n, CpuKernelKind kind, double predicted_s, double dense_s)
{
	int k = cg->node_index;
	(void)n;
	cg->choice[k] = (CpuChoice){.set = true, .kind = (int)kind, .predicted_s = predicted_s, .dense_s = dense_s};
}

CpuKernelKind cpu_choose_kernel(Cg *cg, const Node *n, const ProductShape *p, unsigned can_run)
{
	double dense = cpu_cost_seconds(cg, CK_DENSE, p);
	CpuKernelKind best = CK_DENSE;
	double best_s = dense;
	/* auto: a weight without zeros keeps the dense kernels (the pattern groups ran 4-6% slower
	 * there on two single layers, by hand: closer than the model can tell apart) */
	bool has_zeros = (double)p->nnz < (double)p->m * (double)p->k;
	if (cg->opt->kernels == CPU_KERNELS_SPARSE || (cg->opt->kernels == CPU_KERNELS_AUTO && has_zeros)) {
		bool forced = cg->opt->kernels == CPU_KERNELS_SPARSE, found = false;
		for (int k = CK_DENSE + 1; k < CK_COUNT; k++) {
			if (!(can_run & (1u << k)))
				continue;
			double s = cpu_cost_seconds(cg, (CpuKernelKind)k, p);
			if (s < 0)
				continue;
			/* forced: the cheapest sparse kind even when dense would be cheaper */
			if ((forced && (!found || s < best_s)) || (!forced && s < best_s)) {
				best = (CpuKernelKind)k;
				best_s = s;
				found = true;
			}
		}
	}
	cpu_note_choice(cg, n, best, best_s, dense);
	return best;
}

/* ---------------------------------------------------------------- products of nodes */

static int64_t count_nonzero(const float *w, int64_t n)
{
	int64_t c = 0;
	for (int64_t i = 0; i < n; i++)
		c += w[i] != 0.0f;
	return c;
}

bool cpu_node_product(const Node *n, ProductShape *p)
{
	*p = (ProductShape){.block_r = 1};
	if (n->n_in < 2 || n->in[0] == NULL || n->in[1] == NULL || n->in[1]->data == NULL || !dtype_is_float(n->in[1]->dtype))
		return false;
	const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
	if (!shape_is_static(&x->shape) || !shape_is_static(&w->shape) || !shape_is_static(&y->shape))
		return false;
	int64_t wn = shape_numel(&w->shape);
	if (wn < 0)
		return false;
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv: {
		const ConvAttrs *ca = n->op == OP_Conv ? &n->attr.conv : &n->attr.fused_conv.conv;
		int64_t group = ca->group > 0 ? ca->group : 1;
		if (w->shape.rank < 3 || y->shape.rank != w->shape.rank || x->shape.dim[1] % group)
			return false;
		int64_t cg_in = w->shape.dim[1], taps = 1, pixels = 1;
		for (int i = 2; i < w->shape.rank; i++) {
			taps *= w->shape.dim[i];
			pixels *= y->shape.dim[i];
		}
		if (cg_in == 1 && group > 1)
			return false; /* depthwise: a direct convolution, no product */
		p->m = w->shape.dim[0] / group;
		p->k = cg_in * taps;
		p->n = pixels;
		p->batch = y->shape.dim[0] * group;
		p->nnz = (count_nonzero(w->data, wn) + group - 1) / group;
		p->entries = sparse_pattern_entries(w->data, w->shape.dim[0], p->k, p->k, 1, sparse_pattern_rows(p->m)) / group;
		/* only an unpadded 1x1 (..x1) kernel of stride 1 reads its input rows as they are */
		bool direct = taps == 1;
		for (int i = 0; i < ca->strides.n; i++)
			direct &= ca->strides.v[i] == 1;
		for (int i = 0; i < ca->pads.n; i++)
			direct &= ca->pads.v[i] == 0;
		direct &= ca->auto_pad == AUTO_PAD_NOTSET || ca->auto_pad == AUTO_PAD_VALID;
		p->im2col = !direct;
		return true;
	}
	case OP_Gemm:
	case OP_FusedGemm: {
		const GemmAttrs *ga = n->op == OP_Gemm ? &n->attr.gemm : &n->attr.fused_gemm.gemm;
		if (x->shape.rank != 2 || w->shape.rank != 2)
			return false;
		p->m = w->shape.dim[ga->trans_b ? 0 : 1];
		p->k = w->shape.dim[ga->trans_b ? 1 : 0];
		p->n = x->shape.dim[ga->trans_a ? 1 : 0];
		p->batch = 1;
		p->nnz = count_nonzero(w->data, wn);
		p->entries = sparse_pattern_entries(w->data, p->m, p->k, ga->trans_b ? p->k : 1, ga->trans_b ? 1 : p->m,
						    sparse_pattern_rows(p->m));
		return true;
	}
	case OP_MatMul: {
		if (w->shape.rank != 2 || x->shape.rank < 1)
			return false;
		p->m = w->shape.dim[1];
		p->k = w->shape.dim[0];
		int64_t rows = 1;
		for (int i = 0; i + 1 < x->shape.rank; i++)
			rows *= x->shape.dim[i];
		p->n = rows;
		p->batch = 1;
		p->nnz = count_nonzero(w->data, wn);
		p->entries = sparse_pattern_entries(w->data, p->m, p->k, 1, p->m, sparse_pattern_rows(p->m));
		return true;
	}
	default:
		return false;
	}
}

/* ---------------------------------------------------------------- fitting */

/* Solve a x = b (n x n, row-major, destroyed) by Gaussian elimination with partial pivoting;
 * false when singular. */
static bool solve(double *a, double *b, double *x, int n)
{
	for (int c = 0; c < n; c++) {
		int piv = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[piv * n + c]))
				piv = r;
		if (fabs(a[piv * n + c]) < 1e-12)
			return false;
		if (piv != c) {
			for (int j = 0; j < n; j++) {
				double t = a[c * n + j];
				a[c * n + j] = a[piv * n + j];
				a[piv * n + j] = t;
			}
			double t = b[c];
			b[c] = b[piv];
			b[piv] = t;
		}
		for (int r = c + 1; r < n; r++) {
			double f = a[r * n + c] / a[c * n + c];
			for (int j = c; j < n; j++)
				a[r * n + j] -= f * a[c * n + j];
			b[r] -= f * b[c];
		}
	}
	for (int r = n - 1; r >= 0; r--) {
		double s = b[r];
		for (int j = r + 1; j < n; j++)
			s -= a[r * n + j] * x[j];
		x[r] = s / a[r * n + r];
	}
	return true;
}

double cpu_cost_fit(CpuKernelKind kind, const double (*terms)[CT_COUNT], const double *seconds, int n,
		    double coef[CT_COUNT])
{
	bool use[CT_COUNT];
	for (int t = 0; t < CT_COUNT; t++) {
		coef[t] = 0.0;
		/* a term that is zero in every sample cannot be fitted */
		bool nonzero = false;
		for (int i = 0; i < n; i++)
			nonzero |= terms[i][t] != 0.0;
		use[t] = cpu_cost_term_used(kind, (CostTerm)t) && nonzero;
	}
	/* Minimise sum ((pred - s) / s)^2: every sample counts by its relative error, so the small
	 * layers are not drowned by the large ones. Columns are scaled to unit norm for conditioning.
	 * A negative coefficient is not physical: drop that term and fit again (a crude NNLS that
	 * suffices for a handful of terms). */
	for (int round = 0; round < CT_COUNT; round++) {
		int idx[CT_COUNT], nu = 0;
		for (int t = 0; t < CT_COUNT; t++)
			if (use[t])
				idx[nu++] = t;
		if (nu == 0 || n < nu)
			return -1.0;
		double scale[CT_COUNT] = {0}, a[CT_COUNT * CT_COUNT] = {0}, b[CT_COUNT] = {0}, x[CT_COUNT];
		for (int j = 0; j < nu; j++) {
			for (int i = 0; i < n; i++)
				if (seconds[i] > 0) {
					double v = terms[i][idx[j]] / seconds[i];
					scale[j] += v * v;
				}
			scale[j] = scale[j] > 0 ? sqrt(scale[j]) : 1.0;
		}
		int usable = 0;
		for (int i = 0; i < n; i++) {
			if (!(seconds[i] > 0))
				continue;
			usable++;
			double row[CT_COUNT];
			for (int j = 0; j < nu; j++)
				row[j] = terms[i][idx[j]] / seconds[i] / scale[j];
			for (int j = 0; j < nu; j++) {
				for (int l = 0; l < nu; l++)
					a[j * nu + l] += row[j] * row[l];
				b[j] += row[j]; /* the target is pred / s = 1 */
			}
		}
		if (usable < nu || !solve(a, b, x, nu))
			return -1.0;
		int worst = -1;
		for (int j = 0; j < nu; j++)
			if (x[j] < 0 && (worst < 0 || x[j] < x[worst]))
				worst = j;
		if (worst >= 0) {
			use[idx[worst]] = false;
			continue;
		}
		for (int j = 0; j < nu; j++)
			coef[idx[j]] = x[j] / scale[j];
		double sq = 0;
		for (int i = 0; i < n; i++) {
			if (!(seconds[i] > 0))
				continue;
			double pred = 0;
			for (int t = 0; t < CT_COUNT; t++)
				pred += coef[t] * terms[i][t];
			sq += (pred / seconds[i] - 1) * (pred / seconds[i] - 1);
		}
		return sqrt(sq / usable);
	}
	return -1.0;
}

/* ---------------------------------------------------------------- options */

int cpu_kernels_parse(const char *s, CpuKernels *kernels, int *sparse_kind, Diag *d)
{
	*sparse_kind = 0;
	if (strcmp(s, "auto") == 0) {
		*kernels = CPU_KERNELS_AUTO;
		return 0;
	}
	if (strcmp(s, "dense") == 0) {
		*kernels = CPU_KERNELS_DENSE;
		return 0;
	}
	if (strcmp(s, "sparse") == 0) {
		*kernels = CPU_KERNELS_SPARSE;
		return 0;
	}
	for (int k = CK_DENSE + 1; k < CK_COUNT; k++)
		if (strcmp(s, cpu_kernel_kind_name[k]) == 0) {
			*kernels = CPU_KERNELS_SPARSE;
			*sparse_kind = k;
			return 0;
		}
	return diag_error(d, "--kernels: expected %s, got '%s'", cpu_kernels_help, s);
}

int cpu_host_target(const char *cpu, char **name, char **features, Diag *d)
{
	char *n, *f;
	if (cpu == NULL || strcmp(cpu, "native") == 0 || strcmp(cpu, "host") == 0) {
		n = LLVMGetHostCPUName();
		f = LLVMGetHostCPUFeatures();
	} else {
		n = LLVMCreateMessage(strcmp(cpu, "generic") == 0 ? "x86-64" : cpu);
		f = LLVMCreateMessage("");
	}
	*name = n ? strdup(n) : NULL;
	*features = f ? strdup(f) : NULL;
	LLVMDisposeMessage(n);
	LLVMDisposeMessage(f);
	if (*name == NULL || *features == NULL) {
		free(*name);
		free(*features);
		*name = *features = NULL;
		return diag_error(d, "out of memory");
	}
	return 0;
}
