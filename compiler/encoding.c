/* Sparse encodings as text: the spelling the dumps print and the parsers (text IR, --pattern
 * options) read back. One grammar, written once:
 *
 *   dense | csr | bsr(R,C) | nm(N,M) | gs(V,B) | tasd[(N1,M1),(N2,M2),...]
 *
 * Blanks are allowed between the tokens when parsing; printing never emits any. */
#include "nnzc/ir.h"

#include <string.h>

/* Parameters are counts of rows, lanes, banks or elements: far below this, and bounding them
 * keeps every later product of two of them inside an int. */
#define ENC_PARAM_MAX 65536

static const char *const kind_names[] = {
	[ENC_DENSE] = "dense", [ENC_CSR] = "csr", [ENC_BSR] = "bsr",
	[ENC_NM] = "nm",       [ENC_GS] = "gs",   [ENC_TASD] = "tasd",
};

const char *encoding_kind_name(EncodingKind k)
{
	if ((unsigned)k < sizeof kind_names / sizeof *kind_names)
		return kind_names[k];
	return "invalid";
}

void encoding_print(const Encoding *e, FILE *f)
{
	switch (e->kind) {
	case ENC_DENSE:
	case ENC_CSR: fputs(encoding_kind_name(e->kind), f); break;
	case ENC_BSR: fprintf(f, "bsr(%d,%d)", e->u.bsr.r, e->u.bsr.c); break;
	case ENC_NM: fprintf(f, "nm(%d,%d)", e->u.nm.n, e->u.nm.m); break;
	case ENC_GS: fprintf(f, "gs(%d,%d)", e->u.gs.v, e->u.gs.b); break;
	case ENC_TASD:
		fputs("tasd[", f);
		for (int i = 0; i < e->u.tasd.nterms && i < NNZC_MAX_TASD_TERMS; i++)
			fprintf(f, i ? ",(%d,%d)" : "(%d,%d)", e->u.tasd.term[i].n, e->u.tasd.term[i].m);
		fputc(']', f);
		break;
	default: fputs("invalid", f); break;
	}
}

static const char *blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* One parameter in [1, ENC_PARAM_MAX]. No strtol here: it would skip newlines. */
static int param(const char **s, int *out)
{
	const char *p = blanks(*s);
	long v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p++ - '0');
		if (v > ENC_PARAM_MAX)
			return -1;
	}
	if (v < 1)
		return -1;
	*out = (int)v;
	*s = p;
	return 0;
}

static int punct(const char **s, char c)
{
	const char *p = blanks(*s);
	if (*p != c)
		return -1;
	*s = p + 1;
	return 0;
}

/* "(A,B)" */
static int pair(const char **s, int *a, int *b)
{
	return punct(s, '(') < 0 || param(s, a) < 0 || punct(s, ',') < 0 || param(s, b) < 0 || punct(s, ')') < 0
		       ? -1
		       : 0;
}

int encoding_parse(const char *s, Encoding *e, const char **end, Diag *d)
{
	char word[8];
	size_t n = 0;
	s = blanks(s);
	while (((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) && n + 1 < sizeof word)
		word[n++] = *s++;
	word[n] = '\0';
	if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')
		n = 0; /* a longer word: not an encoding */
	Encoding r;
	memset(&r, 0, sizeof r);
	if (n == 0)
		return diag_error(d, "expected an encoding (dense, csr, bsr(R,C), nm(N,M), gs(V,B), tasd[(N,M),...])");
	if (strcmp(word, "dense") == 0) {
		r.kind = ENC_DENSE;
	} else if (strcmp(word, "csr") == 0) {
		r.kind = ENC_CSR;
	} else if (strcmp(word, "bsr") == 0) {
		r.kind = ENC_BSR;
		if (pair(&s, &r.u.bsr.r, &r.u.bsr.c) < 0)
			return diag_error(d, "bsr: expected bsr(R,C) with block sizes in 1..%d", ENC_PARAM_MAX);
	} else if (strcmp(word, "nm") == 0) {
		r.kind = ENC_NM;
		if (pair(&s, &r.u.nm.n, &r.u.nm.m) < 0)
			return diag_error(d, "nm: expected nm(N,M) with N, M in 1..%d", ENC_PARAM_MAX);
		if (r.u.nm.n > r.u.nm.m)
			return diag_error(d, "nm(%d,%d): N must not exceed M", r.u.nm.n, r.u.nm.m);
	} else if (strcmp(word, "gs") == 0) {
		r.kind = ENC_GS;
		if (pair(&s, &r.u.gs.v, &r.u.gs.b) < 0)
			return diag_error(d, "gs: expected gs(V,B) with V, B in 1..%d", ENC_PARAM_MAX);
	} else if (strcmp(word, "tasd") == 0) {
		r.kind = ENC_TASD;
		if (punct(&s, '[') < 0)
			return diag_error(d, "tasd: expected tasd[(N1,M1),(N2,M2),...]");
		for (;;) {
			if (r.u.tasd.nterms == NNZC_MAX_TASD_TERMS)
				return diag_error(d, "tasd: at most %d terms", NNZC_MAX_TASD_TERMS);
			int *tn = &r.u.tasd.term[r.u.tasd.nterms].n, *tm = &r.u.tasd.term[r.u.tasd.nterms].m;
			if (pair(&s, tn, tm) < 0)
				return diag_error(d, "tasd: expected a term (N,M) with N, M in 1..%d", ENC_PARAM_MAX);
			if (*tn > *tm)
				return diag_error(d, "tasd: term (%d,%d): N must not exceed M", *tn, *tm);
			r.u.tasd.nterms++;
			if (punct(&s, ',') == 0)
				continue;
			if (punct(&s, ']') < 0)
				return diag_error(d, "tasd: expected , or ] after a term");
			break;
		}
	} else {
		return diag_error(d, "unknown encoding '%s'", word);
	}
	*e = r;
	if (end)
		*end = s;
	return 0;
}
