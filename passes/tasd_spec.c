/* What the TASD passes share (see tasd.h): the SPEC of their argument (the rest is
 * layer_rules.c's), the candidate series of the layer-wise search, their cost, and the search
 * itself. */
#include "tasd.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char spec_forms[] = "N:M[+N:M...], search:BUDGET or dense";

/* A decimal integer in [1, TASD_MAX_M] at *s; advances *s. */
static bool parse_count(const char **s, int *out)
{
	const char *p = *s;
	long v = 0;
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v > TASD_MAX_M)
			return false;
	}
	if (v < 1)
		return false;
	*out = (int)v;
	*s = p;
	return true;
}

/* N:M{+N:M} */
static int parse_series(const char *spec, Encoding *e, Diag *d)
{
	memset(e, 0, sizeof *e);
	e->kind = ENC_TASD;
	const char *s = spec;
	for (;;) {
		int n, m;
		const char *term = s;
		if (!parse_count(&s, &n) || *s++ != ':' || !parse_count(&s, &m) || (*s != '+' && *s != '\0')) {
			const char *e2 = strchr(term, '+');
			int len = e2 ? (int)(e2 - term) : (int)strlen(term);
			return diag_error(d, "bad series '%s': '%.*s' is not a term N:M with 1 <= N <= M <= %d (expected %s)",
					  spec, len, term, TASD_MAX_M, spec_forms);
		}
		if (n > m)
			return diag_error(d, "bad series '%s': term %d:%d keeps more than its group (N > M)", spec, n, m);
		if (e->u.tasd.nterms == NNZC_MAX_TASD_TERMS)
			return diag_error(d, "bad series '%s': more than %d terms", spec, NNZC_MAX_TASD_TERMS);
		e->u.tasd.term[e->u.tasd.nterms].n = n;
		e->u.tasd.term[e->u.tasd.nterms].m = m;
		e->u.tasd.nterms++;
		if (*s == '\0')
			return 0;
		s++; /* '+' */
	}
}

/* SPEC: LayerGrammar.spec, for the default (rule < 0) or rule number `rule`; 1 for dense */
static int parse_spec(void *args, int rule, const char *spec, Diag *d)
{
	TasdArgs *a = args;
	TasdSpec *t = rule < 0 ? &a->def : &a->spec[rule];
	memset(t, 0, sizeof *t);
	snprintf(t->text, sizeof t->text, "%s", spec);
	if (strcmp(spec, "dense") == 0) {
		t->mode = TASD_DENSE;
		t->series.kind = ENC_DENSE;
		return 1;
	}
	if (strncmp(spec, "search:", 7) == 0) {
		const char *b = spec + 7;
		char *end = NULL;
		double v = -1;
		errno = 0;
		if ((*b >= '0' && *b <= '9') || *b == '.') /* strtod alone would take blanks, signs, inf, nan */
			v = strtod(b, &end);
		if (end == NULL || *end || errno || !(v >= 0) || !isfinite(v))
			return diag_error(d, "bad search '%s': the budget '%s' is not a number >= 0 (a relative L2 error, "
					  "e.g. search:0.05)", spec, b);
		t->mode = TASD_SEARCH;
		t->budget = v;
		return 0;
	}
	t->mode = TASD_FIXED;
	return parse_series(spec, &t->series, d);
}

static const LayerGrammar grammar = {
	.noun = "series", .nouns = "series", .form = "GLOB=SERIES", .layer = "layer",
	.left = "left as it is: ", .by_rule = "left as it is by rule", .spec_max = LAYER_SPEC_CAP - 1, .global = false,
	.spec = parse_spec, .forms = spec_forms,
	.first_item = "e.g. 2:4+1:4, search:0.05, or dense to change only the layers named by rules",
};

int tasd_args_parse(const char *arg, const char *pass, TasdArgs *a, Diag *d)
{
	memset(a, 0, sizeof *a);
	if (arg == NULL)
		return diag_error(d, "needs a series: %s(2:4+1:4) or %s(search:0.05)", pass, pass);
	return layer_rules_parse(&a->rules, arg, &grammar, a, d);
}

/* ---------------------------------------------------------------- series, candidates, cost */

void tasd_series_str(const Encoding *e, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	if (e->kind == ENC_NM) {
		snprintf(buf, cap, "%d:%d", e->u.nm.n, e->u.nm.m);
		return;
	}
	if (e->kind != ENC_TASD) {
		snprintf(buf, cap, "%s", encoding_kind_name(e->kind));
		return;
	}
	for (int i = 0; i < e->u.tasd.nterms && k < cap; i++) {
		int w = snprintf(buf + k, cap - k, i ? "+%d:%d" : "%d:%d", e->u.tasd.term[i].n, e->u.tasd.term[i].m);
		if (w < 0)
			break;
		k += (size_t)w;
	}
}

int tasd_max_m(const Encoding *e)
{
	if (e->kind == ENC_NM)
		return e->u.nm.m;
	int m = 0;
	if (e->kind == ENC_TASD)
		for (int i = 0; i < e->u.tasd.nterms; i++)
			m = e->u.tasd.term[i].m > m ? e->u.tasd.term[i].m : m;
	return m;
}

#define S1(a, b) {.kind = ENC_TASD, .u.tasd = {1, {{a, b}}}}
#define S2(a, b, c, d) {.kind = ENC_TASD, .u.tasd = {2, {{a, b}, {c, d}}}}
#define S3(a, b, c, d, e, f) {.kind = ENC_TASD, .u.tasd = {3, {{a, b}, {c, d}, {e, f}}}}

/* Density of a full group in the comments. The patterns are those of sparse tensor engines:
 * 2:4 (NVIDIA's), 1:4 and 2:4 (VEGETA), and their 8-wide relatives; every multi-term series
 * is made of distinct patterns (1:4+1:4 is exactly 2:4, so repeats add nothing), and none
 * reaches the cost of dense, which is always exact. */
const Encoding tasd_candidates[] = {
	S1(1, 8),             /* 0.125 */
	S1(1, 4),             /* 0.25 */
	S1(2, 8),             /* 0.25 */
	S2(2, 8, 1, 8),       /* 0.375 */
	S2(1, 4, 1, 8),       /* 0.375 */
	S1(2, 4),             /* 0.5 */
	S1(4, 8),             /* 0.5 */
	S2(1, 4, 2, 8),       /* 0.5 */
	S2(2, 4, 1, 8),       /* 0.625 */
	S3(1, 4, 2, 8, 1, 8), /* 0.625 */
	S2(2, 4, 1, 4),       /* 0.75 */
	S2(2, 4, 2, 8),       /* 0.75 */
	S3(2, 4, 1, 4, 1, 8), /* 0.875 */
	S3(2, 4, 2, 8, 1, 8), /* 0.875 */
	{.kind = ENC_DENSE},  /* 1 */
};
const int tasd_n_candidates = (int)(sizeof tasd_candidates / sizeof tasd_candidates[0]);

int tasd_min_m(void)
{
	int m = TASD_MAX_M;
	for (int i = 0; i < tasd_n_candidates; i++)
		if (tasd_candidates[i].kind != ENC_DENSE && tasd_max_m(&tasd_candidates[i]) < m)
			m = tasd_max_m(&tasd_candidates[i]);
	return m;
}

static int64_t sat_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }
static int64_t sat_mul(int64_t a, int64_t b)
{
	int64_t r;
	return mul_ok_i64(a, b, &r) ? r : INT64_MAX;
}

int64_t tasd_cost(const Encoding *e, int64_t rows, int64_t cols)
{
	if (e->kind != ENC_TASD && e->kind != ENC_NM)
		return sat_mul(rows, cols);
	int nt = e->kind == ENC_NM ? 1 : e->u.tasd.nterms;
	int64_t per_row = 0;
	for (int i = 0; i < nt; i++) {
		int64_t n = e->kind == ENC_NM ? e->u.nm.n : e->u.tasd.term[i].n;
		int64_t m = e->kind == ENC_NM ? e->u.nm.m : e->u.tasd.term[i].m;
		int64_t rest = cols % m;
		per_row = sat_add(per_row, sat_add(sat_mul(cols / m, n), rest < n ? rest : n));
	}
	return sat_mul(rows, per_row);
}

int tasd_search(int64_t rows, int64_t cols, double budget, TasdEvalFn evaluate, void *ctx, double *error, int *tried)
{
	int order[sizeof tasd_candidates / sizeof tasd_candidates[0]], n = 0;
	int64_t cost[sizeof tasd_candidates / sizeof tasd_candidates[0]];
	*tried = 0;
	*error = 0;
	for (int i = 0; i < tasd_n_candidates; i++) {
		if (tasd_max_m(&tasd_candidates[i]) > cols)
			continue;
		cost[i] = tasd_cost(&tasd_candidates[i], rows, cols);
		/* insertion keeps the table order among equal costs */
		int j = n++;
		while (j > 0 && cost[order[j - 1]] > cost[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	int best = -1;
	double best_err = 0;
	for (int k = 0; k < n; k++) {
		int i = order[k];
		if (best >= 0 && cost[i] > cost[best])
			break; /* everything from here on costs more than a candidate within the budget */
		double err = 0;
		if (tasd_candidates[i].kind != ENC_DENSE) {
			err = evaluate(ctx, &tasd_candidates[i]);
			(*tried)++;
			if (err < 0)
				return -1;
		}
		if (err <= budget && (best < 0 || err < best_err)) {
			best = i;
			best_err = err;
		}
	}
	*error = best_err;
	return best;
}
