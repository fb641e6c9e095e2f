/* The SPECs of prune(...) and convert-pattern(...) (see prune_spec.h; the rest of the argument
 * is layer_rules.c's), what both passes do first and last, and their remarks for layers left
 * alone. */
#include "prune_spec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PARAM_MAX 65536 /* as encoding_parse: block sizes, lanes and banks */

/* A decimal integer in [lo, hi], the whole token. */
static bool parse_int(const char *tok, long lo, long hi, int *out)
{
	if (*tok < '0' || *tok > '9')
		return false;
	long v = 0;
	for (const char *p = tok; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
		if (v > hi)
			return false;
	}
	if (v < lo)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_sparsity(const char *tok, double *out)
{
	if (*tok == '\0' || *tok == ' ' || *tok == '+' || *tok == '-')
		return false;
	char *end;
	errno = 0;
	double v = strtod(tok, &end);
	if (*end || errno || !(v >= 0.0 && v <= 1.0))
		return false;
	*out = v;
	return true;
}

/* "RxC" */
static bool parse_block(const char *tok, int *r, int *c)
{
	const char *x = strchr(tok, 'x');
	char a[16];
	if (x == NULL || (size_t)(x - tok) >= sizeof a)
		return false;
	memcpy(a, tok, (size_t)(x - tok));
	a[x - tok] = '\0';
	return parse_int(a, 1, PARAM_MAX, r) && parse_int(x + 1, 1, PARAM_MAX, c);
}

/* Split a pattern "kind:f1:f2..." into at most 5 fields in place. */
static int split_fields(char *s, char **f, int max)
{
	int n = 0;
	f[n++] = s;
	for (char *p = s; *p; p++)
		if (*p == ':') {
			if (n == max)
				return max + 1;
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static const char prune_kinds[] = "dense, unstructured:S, nm:N:M, block:RxC:S, channel:S or gs:V:B:S";
static const char convert_kinds[] = "dense, csr, nm:N:M, bsr:RxC, gs:V:B or an encoding such as nm(2,4)";

static int bad_field(Diag *d, const char *spec, const char *tok, const char *what)
{
	return diag_error(d, "bad pattern '%s': '%s' is not %s", spec, tok, what);
}

static int check_arity(Diag *d, const char *spec, int n, int want, const char *form)
{
	if (n == want)
		return 0;
	return diag_error(d, "bad pattern '%s': expected %s", spec, form);
}

/* A prune pattern: what is selected and which encoding results. */
static int parse_prune_pattern(const char *spec, Pattern *p, Diag *d)
{
	char buf[sizeof p->text], *f[6];
	snprintf(buf, sizeof buf, "%s", spec);
	int n = split_fields(buf, f, 5);
	memset(p, 0, sizeof *p);
	snprintf(p->text, sizeof p->text, "%s", spec);
	const char *kind = f[0];
	if (strcmp(kind, "dense") == 0) {
		p->sel = SEL_NONE;
		p->enc.kind = ENC_DENSE;
		return check_arity(d, spec, n, 1, "dense");
	}
	if (strcmp(kind, "unstructured") == 0) {
		if (check_arity(d, spec, n, 2, "unstructured:S with S in [0, 1]") < 0)
			return -1;
		p->sel = SEL_MAGNITUDE;
		p->enc.kind = ENC_CSR;
		if (!parse_sparsity(f[1], &p->sparsity))
			return bad_field(d, spec, f[1], "a sparsity in [0, 1]");
		return 0;
	}
	if (strcmp(kind, "channel") == 0) {
		if (check_arity(d, spec, n, 2, "channel:S with S in [0, 1]") < 0)
			return -1;
		/* A zeroed output channel is an empty csr row: kernels still add the bias. */
		p->sel = SEL_CHANNEL;
		p->enc.kind = ENC_CSR;
		if (!parse_sparsity(f[1], &p->sparsity))
			return bad_field(d, spec, f[1], "a sparsity in [0, 1]");
		return 0;
	}
	if (strcmp(kind, "nm") == 0) {
		if (check_arity(d, spec, n, 3, "nm:N:M with 1 <= N <= M <= 256") < 0)
			return -1;
		p->sel = SEL_NM;
		p->enc.kind = ENC_NM;
		if (!parse_int(f[2], 1, PRUNE_MAX_M, &p->enc.u.nm.m))
			return bad_field(d, spec, f[2], "a group size M in 1..256");
		if (!parse_int(f[1], 1, p->enc.u.nm.m, &p->enc.u.nm.n))
			return bad_field(d, spec, f[1], "a count N in 1..M");
		p->sparsity = 1.0 - (double)p->enc.u.nm.n / p->enc.u.nm.m;
		return 0;
	}
	if (strcmp(kind, "block") == 0) {
		if (check_arity(d, spec, n, 3, "block:RxC:S, e.g. block:4x1:0.8") < 0)
			return -1;
		p->sel = SEL_BLOCK;
		p->enc.kind = ENC_BSR;
		if (!parse_block(f[1], &p->enc.u.bsr.r, &p->enc.u.bsr.c))
			return bad_field(d, spec, f[1], "a block size RxC with R, C in 1..65536");
		if (!parse_sparsity(f[2], &p->sparsity))
			return bad_field(d, spec, f[2], "a sparsity in [0, 1]");
		return 0;
	}
	if (strcmp(kind, "gs") == 0) {
		if (check_arity(d, spec, n, 4, "gs:V:B:S, e.g. gs:16:16:0.9") < 0)
			return -1;
		p->sel = SEL_GS;
		p->enc.kind = ENC_GS;
		if (!parse_int(f[1], 1, PARAM_MAX, &p->enc.u.gs.v))
			return bad_field(d, spec, f[1], "a lane count V in 1..65536");
		if (!parse_int(f[2], 1, PARAM_MAX, &p->enc.u.gs.b))
			return bad_field(d, spec, f[2], "a bank count B in 1..65536");
		if (p->enc.u.gs.v > p->enc.u.gs.b)
			return diag_error(d, "bad pattern '%s': V=%d lanes cannot read %d distinct banks out of B=%d",
					  spec, p->enc.u.gs.v, p->enc.u.gs.v, p->enc.u.gs.b);
		if (!parse_sparsity(f[3], &p->sparsity))
			return bad_field(d, spec, f[3], "a sparsity in [0, 1]");
		return 0;
	}
	return diag_error(d, "bad pattern '%s': unknown kind '%s' (expected %s)", spec, kind, prune_kinds);
}

/* A convert-pattern target: always a projection onto an encoding. */
static int parse_convert_pattern(const char *spec, Pattern *p, Diag *d)
{
	memset(p, 0, sizeof *p);
	snprintf(p->text, sizeof p->text, "%s", spec);
	p->sel = SEL_PROJECT;
	if (strchr(spec, ':') == NULL) {
		/* dense, csr, or the dump spelling: nm(2,4), bsr(4,1), gs(16,16), tasd[(2,4),(1,4)] */
		const char *end = NULL;
		Diag tmp = {0};
		if (encoding_parse(spec, &p->enc, &end, &tmp) < 0 || end[strspn(end, " \t")] != '\0')
			return diag_error(d, "bad pattern '%s': %s (expected %s)", spec,
					  tmp.msg[0] ? tmp.msg : "trailing characters", convert_kinds);
	} else {
		char buf[sizeof p->text], *f[6];
		snprintf(buf, sizeof buf, "%s", spec);
		int n = split_fields(buf, f, 5);
		const char *kind = f[0];
		if (strcmp(kind, "nm") == 0) {
			if (check_arity(d, spec, n, 3, "nm:N:M with 1 <= N <= M <= 256") < 0)
				return -1;
			p->enc.kind = ENC_NM;
			if (!parse_int(f[2], 1, PRUNE_MAX_M, &p->enc.u.nm.m))
				return bad_field(d, spec, f[2], "a group size M in 1..256");
			if (!parse_int(f[1], 1, p->enc.u.nm.m, &p->enc.u.nm.n))
				return bad_field(d, spec, f[1], "a count N in 1..M");
		} else if (strcmp(kind, "bsr") == 0 || strcmp(kind, "block") == 0) {
			if (check_arity(d, spec, n, 2, "bsr:RxC, e.g. bsr:4x1") < 0)
				return -1;
			p->enc.kind = ENC_BSR;
			if (!parse_block(f[1], &p->enc.u.bsr.r, &p->enc.u.bsr.c))
				return bad_field(d, spec, f[1], "a block size RxC with R, C in 1..65536");
		} else if (strcmp(kind, "gs") == 0) {
			if (check_arity(d, spec, n, 3, "gs:V:B, e.g. gs:16:16") < 0)
				return -1;
			p->enc.kind = ENC_GS;
			if (!parse_int(f[1], 1, PARAM_MAX, &p->enc.u.gs.v))
				return bad_field(d, spec, f[1], "a lane count V in 1..65536");
			if (!parse_int(f[2], 1, PARAM_MAX, &p->enc.u.gs.b))
				return bad_field(d, spec, f[2], "a bank count B in 1..65536");
		} else {
			return diag_error(d, "bad pattern '%s': unknown kind '%s' (expected %s)", spec, kind,
					  convert_kinds);
		}
	}
	if (p->enc.kind == ENC_NM && p->enc.u.nm.m > PRUNE_MAX_M)
		return diag_error(d, "bad pattern '%s': M=%d is above 256", spec, p->enc.u.nm.m);
	if (p->enc.kind == ENC_TASD)
		for (int i = 0; i < p->enc.u.tasd.nterms; i++)
			if (p->enc.u.tasd.term[i].m > PRUNE_MAX_M)
				return diag_error(d, "bad pattern '%s': M=%d is above 256", spec, p->enc.u.tasd.term[i].m);
	if (p->enc.kind == ENC_GS && p->enc.u.gs.v > p->enc.u.gs.b)
		return diag_error(d, "bad pattern '%s': V=%d lanes cannot read %d distinct banks out of B=%d", spec,
				  p->enc.u.gs.v, p->enc.u.gs.v, p->enc.u.gs.b);
	return 0;
}

/* LayerGrammar.spec: only prune's dense leaves layers as they are (convert-pattern's dense is a
 * target like any other) */
static int prune_spec(void *args, int rule, const char *text, Diag *d)
{
	SparsityArgs *a = args;
	Pattern *p = rule < 0 ? &a->def : &a->pat[rule];
	return parse_prune_pattern(text, p, d) < 0 ? -1 : p->sel == SEL_NONE;
}

static int convert_spec(void *args, int rule, const char *text, Diag *d)
{
	SparsityArgs *a = args;
	return parse_convert_pattern(text, rule < 0 ? &a->def : &a->pat[rule], d);
}

static const LayerGrammar prune_grammar = {
	.noun = "pattern", .nouns = "patterns", .form = "GLOB=PATTERN", .layer = "prunable layer",
	.left = "", .by_rule = "rule", .spec_max = PATTERN_TEXT_CAP - 1, .global = true, .spec = prune_spec,
	.forms = prune_kinds, .first_item = "e.g. unstructured:0.9, or dense to prune only the layers named by rules",
};

static const LayerGrammar convert_grammar = {
	.noun = "pattern", .nouns = "patterns", .form = "GLOB=PATTERN", .layer = "prunable layer",
	.left = "", .by_rule = "rule", .spec_max = PATTERN_TEXT_CAP - 1, .global = false, .spec = convert_spec,
	.forms = convert_kinds, .first_item = "e.g. nm:2:4",
};

static int sparsity_args_parse(const char *arg, const char *pass, SparsityArgs *a, Diag *d)
{
	bool prune = strcmp(pass, "prune") == 0;
	memset(a, 0, sizeof *a);
	if (arg == NULL)
		return diag_error(d, "needs a pattern: %s(%s)", pass, prune ? "unstructured:0.9" : "nm:2:4");
	if (layer_rules_parse(&a->rules, arg, prune ? &prune_grammar : &convert_grammar, a, d) < 0)
		return -1;
	if (a->rules.global && a->def.sel != SEL_MAGNITUDE && a->def.sel != SEL_BLOCK && a->def.sel != SEL_CHANNEL)
		return diag_error(d, "global ranks unstructured, block and channel patterns, not '%s'", a->def.text);
	return 0;
}

SparsityRun *sparsity_begin(Graph *g, const PassOptions *opt, const char *pass, Diag *d)
{
	SparsityRun *r = calloc(1, sizeof *r);
	if (r == NULL) {
		diag_error(d, "out of memory");
		return NULL;
	}
	if (sparsity_args_parse(opt ? opt->arg : NULL, pass, &r->args, d) < 0 ||
	    layer_weights(g, &r->args.rules, &r->l, &r->n, d) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

int sparsity_end(Graph *g, SparsityRun *r, const char *pass, int rc)
{
	if (rc == 0)
		layer_rules_unused(g, &r->args.rules, pass);
	free(r->l);
	free(r);
	return rc;
}

/* ---------------------------------------------------------------- layers left alone */

const char *pattern_misfit(const Pattern *p, const WeightView *v, char *buf, size_t cap)
{
	const Encoding *e = &p->enc;
	if (p->sel == SEL_NONE)
		return NULL;
	if (e->kind == ENC_NM && v->cols < e->u.nm.m) {
		snprintf(buf, cap, "rows of %lld cannot take nm(%d,%d) (shorter than M=%d)", (long long)v->cols, e->u.nm.n,
			 e->u.nm.m, e->u.nm.m);
		return buf;
	}
	if (e->kind == ENC_NM && v->group < e->u.nm.m) {
		/* a Conv with fewer input channels per group than M (depthwise: 1): no group could run
		 * along the channels at a fixed tap, every one would mix taps (docs/sparsity.md) */
		snprintf(buf, cap, "%lld input channel%s per tap cannot take nm(%d,%d) (fewer than M=%d)", (long long)v->group,
			 v->group == 1 ? "" : "s", e->u.nm.n, e->u.nm.m, e->u.nm.m);
		return buf;
	}
	if (e->kind == ENC_GS && v->cols < (v->rows < e->u.gs.v ? v->rows : e->u.gs.v)) {
		/* a step puts min(V, rows) lanes in distinct banks, each bank needing a column */
		snprintf(buf, cap, "rows of %lld cannot feed %lld lanes from distinct banks (gs(%d,%d))", (long long)v->cols,
			 (long long)(v->rows < e->u.gs.v ? v->rows : e->u.gs.v), e->u.gs.v, e->u.gs.b);
		return buf;
	}
	if (e->kind == ENC_BSR && (v->rows < e->u.bsr.r || v->cols < e->u.bsr.c)) {
		snprintf(buf, cap, "a %lldx%lld matrix cannot take one %dx%d block", (long long)v->rows, (long long)v->cols,
			 e->u.bsr.r, e->u.bsr.c);
		return buf;
	}
	return NULL;
}

void encoding_str(const Encoding *e, char *buf, size_t cap)
{
	FILE *f = fmemopen(buf, cap, "w");
	if (f == NULL) {
		snprintf(buf, cap, "%s", encoding_kind_name(e->kind));
		return;
	}
	encoding_print(e, f);
	fclose(f);
	buf[cap - 1] = '\0';
}

void layer_remark_kept(Graph *g, const char *pass, const LayerWeight *x, const char *why)
{
	char enc[64];
	encoding_str(&x->w->enc, enc, sizeof enc);
	graph_remark(g, pass, x->node, NULL, 0, "kept %s%s: %s", x->w->enc.kind == ENC_DENSE ? "" : "as ", enc, why);
}
