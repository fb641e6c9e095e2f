/* The .nnza assembler: the text that `nnzc disasm` prints, back into a container. The grammar
 * is in docs/accel-isa.md ("Text form"); in short, line by line:
 *
 *   .nnza 1.0                      optional; the only version written
 *   .config PRESET | .config NL <config lines> NL .end
 *   .arena WORDS
 *   .input "NAME" f32 [D0,D1,...] @OFFSET      .output ... (same)
 *   .layer "NAME" "OP" FIRST COUNT
 *   .const N   then N words (0xHEX, decimal, or fFLOAT for a float's bits) on the lines after it
 *   .code      then one instruction per line: OP field=value ...   (or .word W0 ... W7)
 *
 * `#` starts a comment outside quotes. Fields left out of an instruction are 0, except the
 * strides: ldb and stride default to cols and cstep to 1 (ld/st), ldn to n (mm/mma), lda to
 * cols and astep to 1 (vec, except fill). Errors are "WHERE:LINE: ...", instruction errors
 * included: each instruction is validated against the config as it would be on load. */
#include "targets/accel/accel.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Asm {
	const char *where;
	int line;
	Diag *d;
	NnzaBuilder *b;
	bool have_config, have_arena, have_const, have_version, in_code;
	uint64_t const_left; /* words .const still expects */
	int *insn_line;      /* source line of each instruction */
	size_t cap_lines;
} Asm;

static int aerr(Asm *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int aerr(Asm *a, const char *fmt, ...)
{
	char m[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return diag_error(a->d, "%s:%d: %s", a->where, a->line, m);
}

/* ---------------------------------------------------------------- tokens */

#define MAX_TOKENS 64

typedef struct Tok {
	char *s;     /* NUL-terminated; a quoted string without its quotes, escapes resolved */
	bool quoted;
} Tok;

/* Splits line (modified in place) into tokens; stops at '#' outside quotes. */
static int tokenize(Asm *a, char *line, Tok *t, int *n)
{
	*n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			return 0;
		if (*n == MAX_TOKENS)
			return aerr(a, "more than %d tokens on a line", MAX_TOKENS);
		Tok *k = &t[(*n)++];
		if (*p == '"') {
			char *w = ++p;
			k->s = w;
			k->quoted = true;
			for (;;) {
				if (*p == '\0')
					return aerr(a, "unterminated string");
				if (*p == '"')
					break;
				if (*p == '\\') {
					p++;
					if (*p == '"' || *p == '\\') {
						*w++ = *p++;
					} else if (*p == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
						char hex[3] = {p[1], p[2], 0};
						unsigned v = (unsigned)strtoul(hex, NULL, 16);
						if (v == 0)
							return aerr(a, "names cannot contain NUL (\\x00)");
						*w++ = (char)v;
						p += 3;
					} else {
						return aerr(a, "bad escape in string (\\\", \\\\ and \\xHH only)");
					}
					continue;
				}
				*w++ = *p++;
			}
			*w = '\0'; /* w is at or before the closing quote */
			p++;
			if (*p == '\0' || *p == '#')
				return 0;
			if (*p != ' ' && *p != '\t' && *p != '\r')
				return aerr(a, "expected a space after a string");
			continue;
		}
		k->s = p;
		k->quoted = false;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')
			p++;
		if (*p == '#') {
			*p = '\0';
			return 0;
		}
		if (*p)
			*p++ = '\0';
	}
}

static bool parse_u64(const char *s, uint64_t *v)
{
	*v = 0; /* defined on every error path (gcc -O3 cannot see through aerr) */
	if (*s == '\0' || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	*v = strtoull(s, &end, hex ? 16 : 10);
	return !errno && *end == '\0' && end != s + (hex ? 2 : 0);
}

static int parse_u64_tok(Asm *a, const Tok *t, uint64_t max, uint64_t *v, const char *what)
{
	if (t->quoted || !parse_u64(t->s, v) || *v > max)
		return aerr(a, "%s: expected an integer in [0, %llu], got '%s'", what, (unsigned long long)max, t->s);
	return 0;
}

/* a 32-bit word: 0xHEX, decimal, or fFLOAT (the float's bits) */
static int parse_word(Asm *a, const Tok *t, uint32_t *w)
{
	if (!t->quoted && t->s[0] == 'f') {
		char *end;
		errno = 0;
		float f = strtof(t->s + 1, &end);
		if (end == t->s + 1 || *end)
			return aerr(a, "expected a float after 'f', got '%s'", t->s);
		memcpy(w, &f, sizeof f);
		return 0;
	}
	uint64_t v = 0;
	if (parse_u64_tok(a, t, UINT32_MAX, &v, "word") < 0)
		return -1;
	*w = (uint32_t)v;
	return 0;
}

/* ---------------------------------------------------------------- directives */

static int dir_io(Asm *a, Tok *t, int n, int is_output)
{
	const char *dn = is_output ? ".output" : ".input";
	if (n != 5 || !t[1].quoted || t[4].s[0] != '@')
		return aerr(a, "%s: expected %s \"NAME\" f32 [D0,D1,...] @OFFSET", dn, dn);
	if (strcmp(t[2].s, "f32") != 0)
		return aerr(a, "%s \"%s\": dtype '%s' (the accelerator's I/O is f32)", dn, t[1].s, t[2].s);
	char *s = t[3].s;
	size_t len = strlen(s);
	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return aerr(a, "%s \"%s\": dims as [D0,D1,...]", dn, t[1].s);
	s[len - 1] = '\0';
	int64_t dims[NNZRT_MAX_RANK];
	int rank = 0;
	for (char *save = NULL, *p = strtok_r(s + 1, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		uint64_t v = 0;
		Tok dt = {p, false};
		if (rank == NNZRT_MAX_RANK)
			return aerr(a, "%s \"%s\": more than %d dims", dn, t[1].s, NNZRT_MAX_RANK);
		if (parse_u64_tok(a, &dt, INT64_MAX, &v, "dim") < 0)
			return -1;
		dims[rank++] = (int64_t)v;
	}
	uint64_t off;
	Tok ot = {t[4].s + 1, false};
	if (parse_u64_tok(a, &ot, UINT64_MAX, &off, "offset") < 0)
		return -1;
	return nnza_add_io(a->b, t[1].s, is_output, rank, dims, off, a->d);
}

static int dir_layer(Asm *a, Tok *t, int n)
{
	if (n != 5 || !t[1].quoted || !t[2].quoted)
		return aerr(a, ".layer: expected .layer \"NAME\" \"OP\" FIRST COUNT");
	uint64_t first, count;
	if (parse_u64_tok(a, &t[3], UINT32_MAX, &first, ".layer FIRST") < 0 ||
	    parse_u64_tok(a, &t[4], UINT32_MAX, &count, ".layer COUNT") < 0)
		return -1;
	return nnza_add_layer(a->b, t[1].s, t[2].s, (uint32_t)first, (uint32_t)count, a->d);
}

static int set_config(Asm *a, const char *text, size_t len, const char *where)
{
	if (a->have_config)
		return aerr(a, ".config given twice");
	if (nnzrt_accel_config_parse(text, len, where, &a->b->cfg) != 0)
		return diag_error(a->d, "%s", nnzrt_errmsg());
	a->have_config = true;
	return 0;
}

/* ---------------------------------------------------------------- instructions */

static int parse_field_value(Asm *a, const AccelField *f, const char *v, uint32_t *out)
{
	const char *const *names = accel_kind_names(f->kind);
	if (names) {
		for (uint32_t i = 0; names[i]; i++)
			if (strcmp(names[i], v) == 0) {
				*out = i;
				return 0;
			}
		char list[160] = "";
		for (int i = 0; names[i]; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
		return aerr(a, "%s=%s: expected one of %s", f->name, v, list);
	}
	if (f->kind == AK_F32) {
		char *end;
		errno = 0;
		float x = strtof(v, &end);
		if (end == v || *end)
			return aerr(a, "%s=%s: expected a number", f->name, v);
		memcpy(out, &x, sizeof x);
		return 0;
	}
	if (f->kind == AK_UNITS) {
		static const char *const units[] = {"ld", "st", "mx", "vx"};
		uint32_t m = 0;
		const char *p = v;
		while (*p) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);
			int u = 0;
			while (u < 4 && !(strlen(units[u]) == len && memcmp(units[u], p, len) == 0))
				u++;
			if (u == 4)
				return aerr(a, "%s=%s: expected units ld|st|mx|vx", f->name, v);
			m |= 1u << u;
			p += len + (bar != NULL);
		}
		*out = m;
		return 0;
	}
	uint64_t x;
	uint64_t max = f->bits == 32 ? UINT32_MAX : (1ull << f->bits) - 1;
	if (!parse_u64(v, &x) || x > max)
		return aerr(a, "%s=%s: expected an integer in [0, %llu]", f->name, v, (unsigned long long)max);
	*out = (uint32_t)x;
	return 0;
}

static int field_index(const AccelField *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return i;
	return -1;
}

/* strides left out default to the dense layout (see the file comment) */
static void apply_defaults(AccelOp op, const AccelField *f, int n, uint32_t w[ACCEL_INSN_WORDS], const bool *given)
{
#define DEF(field, value)                                \
	do {                                             \
		int i_ = field_index(f, n, field);       \
		if (i_ >= 0 && !given[i_])               \
			accel_field_set(w, &f[i_], value); \
	} while (0)
#define GET(field) accel_field_get(w, &f[field_index(f, n, field)])
	switch (op) {
	case AOP_LD:
	case AOP_ST:
		DEF("ldb", GET("cols"));
		DEF("stride", GET("cols"));
		DEF("cstep", 1);
		break;
	case AOP_MM:
	case AOP_MMA: DEF("ldn", GET("n")); break;
	case AOP_VEC:
		if (GET("func") != ACCEL_FUNC_FILL) {
			DEF("lda", GET("cols"));
			DEF("astep", 1);
		}
		break;
	default: break;
	}
#undef DEF
#undef GET
}

static int insn(Asm *a, Tok *t, int n)
{
	uint32_t w[ACCEL_INSN_WORDS] = {0};
	if (strcmp(t[0].s, ".word") == 0) {
		if (n != 1 + ACCEL_INSN_WORDS)
			return aerr(a, ".word: expected %d words", ACCEL_INSN_WORDS);
		for (int i = 0; i < ACCEL_INSN_WORDS; i++)
			if (parse_word(a, &t[1 + i], &w[i]) < 0)
				return -1;
	} else {
		AccelOp op = t[0].quoted ? AOP_INVALID : accel_op_from_name(t[0].s, strlen(t[0].s));
		if (op == AOP_INVALID)
			return aerr(a, "unknown instruction '%s'", t[0].s);
		w[0] = (uint32_t)op;
		int nf;
		const AccelField *f = accel_op_fields(op, &nf);
		bool given[32] = {false};
		for (int i = 1; i < n; i++) {
			char *eq = t[i].quoted ? NULL : strchr(t[i].s, '=');
			if (eq == NULL)
				return aerr(a, "%s: expected field=value, got '%s'", t[0].s, t[i].s);
			*eq = '\0';
			int k = field_index(f, nf, t[i].s);
			if (k < 0)
				return aerr(a, "%s has no field '%s'", t[0].s, t[i].s);
			if (given[k])
				return aerr(a, "%s: field '%s' given twice", t[0].s, t[i].s);
			given[k] = true;
			uint32_t v = 0;
			if (parse_field_value(a, &f[k], eq + 1, &v) < 0)
				return -1;
			accel_field_set(w, &f[k], v);
		}
		apply_defaults(op, f, nf, w, given);
	}
	size_t need = a->b->n_insns + 1;
	if (need > a->cap_lines) {
		size_t nc = a->cap_lines ? a->cap_lines * 2 : 64;
		int *p = realloc(a->insn_line, nc * sizeof *p);
		if (p == NULL)
			return aerr(a, "out of memory");
		a->insn_line = p;
		a->cap_lines = nc;
	}
	a->insn_line[a->b->n_insns] = a->line;
	return nnza_emit_words(a->b, w, a->d);
}

/* every instruction against the config and DRAM spaces, reported at its line */
static int check_insns(Asm *a)
{
	AccelLimits lim;
	accel_limits_init(&lim, &a->b->cfg, a->b->n_consts, a->b->arena_words);
	for (size_t i = 0; i < a->b->n_insns; i++) {
		AccelInsn ins;
		char msg[300];
		a->line = a->insn_line[i];
		const uint32_t *w = a->b->code + i * ACCEL_INSN_WORDS;
		if (accel_decode(w, &ins, msg, sizeof msg) < 0 || accel_validate(&ins, &lim, msg, sizeof msg) < 0)
			return aerr(a, "%s", msg);
	}
	return 0;
}

/* ---------------------------------------------------------------- lines */

static int line_directive(Asm *a, Tok *t, int n, const char *text, size_t len, const char **p)
{
	const char *dn = t[0].s;
	if (strcmp(dn, ".nnza") == 0) {
		char want[16];
		snprintf(want, sizeof want, "%d.%d", ACCEL_VERSION_MAJOR, ACCEL_VERSION_MINOR);
		if (a->have_version || n != 2 || strcmp(t[1].s, want) != 0)
			return aerr(a, ".nnza: this assembler writes version %s, once", want);
		a->have_version = true;
		return 0;
	}
	if (strcmp(dn, ".config") == 0) {
		if (n == 2)
			return nnzrt_accel_preset_text(t[1].s) ? set_config(a, nnzrt_accel_preset_text(t[1].s),
									     strlen(nnzrt_accel_preset_text(t[1].s)), t[1].s)
							       : aerr(a, ".config %s: not a preset", t[1].s);
		if (n != 1)
			return aerr(a, ".config: expected .config PRESET, or .config alone with the config on the next lines");
		/* the raw lines up to ".end" */
		const char *start = *p, *q = *p, *end = text + len;
		int first = a->line;
		for (;;) {
			if (q >= end)
				return aerr(a, ".config: no .end");
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			const char *le = nl ? nl : end;
			const char *s = q;
			while (s < le && isspace((unsigned char)*s))
				s++;
			const char *e = le;
			while (e > s && isspace((unsigned char)e[-1]))
				e--;
			a->line++;
			if (e - s == 4 && memcmp(s, ".end", 4) == 0) {
				char where[600];
				snprintf(where, sizeof where, "%s:%d (.config)", a->where, first);
				*p = nl ? nl + 1 : end;
				return set_config(a, start, (size_t)(q - start), where);
			}
			q = nl ? nl + 1 : end;
		}
	}
	if (strcmp(dn, ".arena") == 0) {
		uint64_t v = 0;
		if (a->have_arena || n != 2)
			return aerr(a, ".arena: expected .arena WORDS, once");
		if (parse_u64_tok(a, &t[1], 1ull << 32, &v, ".arena") < 0)
			return -1;
		a->b->arena_words = v;
		a->have_arena = true;
		return 0;
	}
	if (strcmp(dn, ".input") == 0 || strcmp(dn, ".output") == 0)
		return dir_io(a, t, n, dn[1] == 'o');
	if (strcmp(dn, ".layer") == 0)
		return dir_layer(a, t, n);
	if (strcmp(dn, ".const") == 0) {
		uint64_t v = 0;
		if (a->have_const || n != 2)
			return aerr(a, ".const: expected .const WORDS, once");
		if (parse_u64_tok(a, &t[1], 1ull << 32, &v, ".const") < 0)
			return -1;
		a->const_left = v;
		a->have_const = true;
		return 0;
	}
	if (strcmp(dn, ".code") == 0) {
		if (a->in_code || n != 1)
			return aerr(a, ".code: once, alone on its line");
		a->in_code = true;
		return 0;
	}
	return aerr(a, "unknown directive '%s'", dn);
}

int nnza_assemble(const char *text, size_t len, const char *where, NnzaBuilder *b, Diag *d)
{
	Asm a = {.where = where, .d = d, .b = b};
	memset(b, 0, sizeof *b);
	char *line = NULL;
	size_t line_cap = 0;
	int r = 0;
	const char *p = text, *end = text + len;
	if (len && memchr(text, '\0', len)) {
		a.line = 1;
		return aerr(&a, "contains a NUL byte");
	}
	while (p < end && r == 0) {
		a.line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n + 1 > line_cap) {
			char *q = realloc(line, n + 1);
			if (q == NULL) {
				r = aerr(&a, "out of memory");
				break;
			}
			line = q;
			line_cap = n + 1;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		Tok t[MAX_TOKENS];
		int nt;
		if ((r = tokenize(&a, line, t, &nt)) < 0 || nt == 0)
			continue;
		if (a.const_left) {
			if (t[0].s[0] == '.' && !t[0].quoted) {
				r = aerr(&a, ".const: %llu words missing before %s", (unsigned long long)a.const_left, t[0].s);
				break;
			}
			for (int i = 0; i < nt && r == 0; i++) {
				uint32_t w;
				if (a.const_left == 0)
					r = aerr(&a, ".const: more words than announced");
				else if ((r = parse_word(&a, &t[i], &w)) == 0 && (r = nnza_add_consts(b, &w, 1, NULL, d)) == 0)
					a.const_left--;
			}
			continue;
		}
		if (t[0].s[0] == '.' && !t[0].quoted && strcmp(t[0].s, ".word") != 0)
			r = line_directive(&a, t, nt, text, len, &p);
		else if (!a.in_code)
			r = aerr(&a, "instruction before .code");
		else
			r = insn(&a, t, nt);
	}
	free(line);
	if (r == 0 && a.const_left)
		r = aerr(&a, ".const: %llu words missing at the end", (unsigned long long)a.const_left);
	if (r == 0 && !a.have_config)
		r = aerr(&a, "no .config");
	if (r == 0 && b->n_insns == 0)
		r = aerr(&a, "no instructions (a program ends with 'end')");
	if (r == 0)
		r = check_insns(&a);
	free(a.insn_line);
	if (r)
		nnza_builder_free(b);
	return r;
}

int nnza_assemble_file(const char *in, const char *out, Diag *d)
{
	FILE *f = fopen(in, "rb");
	if (f == NULL)
		return diag_error(d, "%s: %s", in, strerror(errno));
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 1 << 16;
			char *q = nc > cap ? realloc(text, nc) : NULL;
			if (q == NULL) {
				fclose(f);
				free(text);
				return diag_error(d, "%s: out of memory", in);
			}
			text = q;
			cap = nc;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	bool err = ferror(f);
	fclose(f);
	if (err) {
		free(text);
		return diag_error(d, "%s: read error", in);
	}
	NnzaBuilder b;
	int r = nnza_assemble(text, len, in, &b, d);
	free(text);
	if (r == 0) {
		r = nnza_write_file(&b, out, d);
		if (r)
			diag_prefix(d, in);
		nnza_builder_free(&b);
	}
	return r;
}
