/* The text IR parser: reads what graph_print writes (see the grammar at the top of print.c)
 * back into a Graph, so that tests can start mid-pipeline and a dump is an input.
 *
 * Hand-written and line-oriented: every statement (input, const, node, output) is one line;
 * blank lines and comments ('#' or '//' to the end of the line) go anywhere. Values must be
 * defined before they are used, and are rebuilt with the names of the text (the text's names
 * are unique, so graph_add_value keeps them). Every error is "FILE:LINE:COL: message" and
 * leaves nothing allocated; arbitrary bytes never crash it (the fuzz test in
 * tests/unit/test_text_ir.c runs mutated dumps under ASan). The result passes graph_verify
 * or is rejected.
 *
 * An encoded constant with its values gets its packed form back (sparse_attach) for the matrix
 * view of the node(s) reading it as a weight: one with no such reader, two readers with
 * different views, or values that do not fit the encoding are errors at the constant's line. */
#include "nnzc/ir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct Parser {
	const char *src;  /* whole text, for locations */
	const char *p;    /* cursor */
	const char *file;
	Graph *g;
	Diag *d;
	/* encoded constants with a payload, packed once the nodes that read them are known */
	struct Encoded { Value *v; const char *at; } *encoded;
	int n_encoded, cap_encoded;
} Parser;

/* Report at `at`: the line and column are counted only when an error happens. */
static int perr_at(Parser *P, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr_at(Parser *P, const char *at, const char *fmt, ...)
{
	int line = 1, col = 1;
	for (const char *s = P->src; s < at && *s; s++) {
		if (*s == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(P->d, "%s:%d:%d: %s", P->file, line, col, msg);
}

/* ------------------------------------------------------------------ lexing */

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool bare_char(char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == ':' || c == '/' || c == '-'; }

/* Skip blanks and a comment, never the newline that ends a statement. */
static void blank(Parser *P)
{
	while (*P->p == ' ' || *P->p == '\t' || *P->p == '\r')
		P->p++;
	if (*P->p == '#' || (P->p[0] == '/' && P->p[1] == '/'))
		while (*P->p && *P->p != '\n')
			P->p++;
}

/* Skip empty and comment-only lines between statements. */
static void skip_lines(Parser *P)
{
	for (;;) {
		blank(P);
		if (*P->p != '\n')
			return;
		P->p++;
	}
}

static int end_of_line(Parser *P)
{
	blank(P);
	if (*P->p == '\n') {
		P->p++;
		return 0;
	}
	if (*P->p == '\0')
		return 0;
	return perr_at(P, P->p, "expected the end of the line");
}

static int expect(Parser *P, char c)
{
	blank(P);
	if (*P->p != c)
		return perr_at(P, P->p, "expected '%c'", c);
	P->p++;
	return 0;
}

static bool accept(Parser *P, char c)
{
	blank(P);
	if (*P->p != c)
		return false;
	P->p++;
	return true;
}

/* Length of the bare word at s. A ':' belongs to it only when more of the word follows, so that
 * "%y: f32" and "onnx::Mul_3" both lex as expected; "->" ends it. */
static size_t bare_len(const char *s)
{
	if (!is_alpha(*s))
		return 0;
	size_t n = 1;
	while (bare_char(s[n])) {
		if (s[n] == ':' && !bare_char(s[n + 1]))
			break;
		if (s[n] == '-' && s[n + 1] == '>')
			break;
		n++;
	}
	return n;
}

/* Is the next word exactly `w`? (does not consume) */
static bool peek_word(Parser *P, const char *w)
{
	blank(P);
	size_t n = bare_len(P->p);
	return n == strlen(w) && strncmp(P->p, w, n) == 0;
}

static int expect_word(Parser *P, const char *w)
{
	if (!peek_word(P, w))
		return perr_at(P, P->p, "expected '%s'", w);
	P->p += strlen(w);
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A name, bare or quoted, copied into the graph's arena. `what` is for messages; only the graph
 * name may be empty (ONNX allows it there). */
static int read_name_opt(Parser *P, const char **out, const char *what, bool allow_empty)
{
	const char *start = P->p;
	if (*P->p != '"') {
		size_t n = bare_len(P->p);
		if (n == 0)
			return perr_at(P, start, "expected %s", what);
		char *s = arena_alloc(P->g->arena, n + 1);
		memcpy(s, P->p, n);
		P->p += n;
		*out = s;
		return 0;
	}
	/* quoted: measure, then decode (the decoded form is never longer) */
	const char *q = P->p + 1;
	size_t raw = 0;
	while (q[raw] != '"') {
		if (q[raw] == '\0' || q[raw] == '\n')
			return perr_at(P, start, "unterminated string");
		if (q[raw] == '\\' && q[raw + 1] != '\0')
			raw++;
		raw++;
	}
	char *s = arena_alloc(P->g->arena, raw + 1);
	size_t k = 0;
	for (const char *c = q; c < q + raw; c++) {
		if (*c != '\\') {
			s[k++] = *c;
			continue;
		}
		c++;
		if (*c == '"' || *c == '\\') {
			s[k++] = *c;
		} else if (*c == 'x' && c + 2 < q + raw && hex_digit(c[1]) >= 0 && hex_digit(c[2]) >= 0) {
			int v = hex_digit(c[1]) * 16 + hex_digit(c[2]);
			if (v == 0)
				return perr_at(P, c - 1, "\\x00 is not allowed in a name");
			s[k++] = (char)v;
			c += 2;
		} else {
			return perr_at(P, c - 1, "unknown escape in a string (\\\", \\\\ and \\xHH are allowed)");
		}
	}
	s[k] = '\0';
	if (k == 0 && !allow_empty)
		return perr_at(P, start, "expected %s, not an empty string", what);
	P->p = q + raw + 1;
	*out = s;
	return 0;
}

static int read_name(Parser *P, const char **out, const char *what)
{
	return read_name_opt(P, out, what, false);
}

/* "%name" */
static int read_value_name(Parser *P, const char **out)
{
	blank(P);
	if (*P->p != '%')
		return perr_at(P, P->p, "expected a value (%%name)");
	P->p++;
	return read_name(P, out, "a value name after '%'");
}

/* A decimal integer. strtoll only once a digit is known to be here: it would skip newlines. */
static int read_int(Parser *P, int64_t *out, const char *what)
{
	blank(P);
	const char *s = P->p;
	if (!(is_digit(*s) || ((*s == '-' || *s == '+') && is_digit(s[1]))))
		return perr_at(P, s, "expected %s", what);
	char *e;
	errno = 0;
	long long v = strtoll(s, &e, 10);
	if (errno == ERANGE)
		return perr_at(P, s, "%s out of range", what);
	if (is_alpha(*e) || *e == '.')
		return perr_at(P, s, "expected %s", what);
	*out = v;
	P->p = e;
	return 0;
}

/* A float as %.9g prints it, or nan / inf / -inf. */
static int read_float(Parser *P, float *out)
{
	blank(P);
	const char *s = P->p;
	const char *t = (*s == '-' || *s == '+') ? s + 1 : s;
	if (!(is_digit(*t) || *t == '.' || *t == 'n' || *t == 'i'))
		return perr_at(P, s, "expected a number");
	char *e;
	*out = strtof(s, &e); /* ERANGE on subnormals is fine: the value is still the nearest float */
	if (e == s || is_alpha(*e))
		return perr_at(P, s, "expected a number");
	P->p = e;
	return 0;
}

/* ------------------------------------------------------------------ types */

static int read_dtype(Parser *P, DType *out)
{
	blank(P);
	const char *s = P->p;
	size_t n = 0;
	char word[16];
	while ((is_alpha(s[n]) || is_digit(s[n])) && n + 1 < sizeof word) {
		word[n] = s[n];
		n++;
	}
	word[n] = '\0';
	DType t = DT_UNDEFINED;
	if (strcmp(word, "undefined") != 0 && ((t = dtype_from_name(word)) == DT_UNDEFINED || is_alpha(s[n]) ||
					      is_digit(s[n])))
		return perr_at(P, s, "expected a dtype (f32, f16, bf16, f64, i8..i64, u8..u64, bool)");
	*out = t;
	P->p = s + n;
	return 0;
}

/* "[1,?,8]", "[]" or "[*]" */
static int read_shape(Parser *P, Shape *out)
{
	if (expect(P, '[') < 0)
		return -1;
	if (accept(P, '*')) {
		*out = shape_unknown();
		return expect(P, ']');
	}
	Shape s = shape_make(0, NULL);
	if (accept(P, ']')) {
		*out = s;
		return 0;
	}
	for (;;) {
		blank(P);
		if (s.rank == NNZC_MAX_RANK)
			return perr_at(P, P->p, "more than %d dimensions", NNZC_MAX_RANK);
		if (accept(P, '?')) {
			s.dim[s.rank++] = -1;
		} else {
			const char *at = P->p;
			int64_t v;
			if (read_int(P, &v, "a dimension (a count or ?)") < 0)
				return -1;
			if (v < 0)
				return perr_at(P, at, "negative dimension");
			s.dim[s.rank++] = v;
		}
		if (accept(P, ']'))
			break;
		if (!accept(P, ','))
			return perr_at(P, P->p, "expected ',' or ']' in a shape");
	}
	*out = s;
	return 0;
}

static int read_type(Parser *P, DType *t, Shape *s)
{
	if (read_dtype(P, t) < 0)
		return -1;
	return read_shape(P, s);
}

static int read_encoding(Parser *P, Encoding *e)
{
	blank(P);
	const char *at = P->p, *end;
	Diag tmp = {0};
	if (encoding_parse(P->p, e, &end, &tmp) < 0)
		return perr_at(P, at, "%s", tmp.msg);
	P->p = end;
	return 0;
}

/* An optional encoding after a type: present when a word follows on the same line. */
static int read_opt_encoding(Parser *P, Encoding *e)
{
	memset(e, 0, sizeof *e);
	e->kind = ENC_DENSE;
	blank(P);
	if (!is_alpha(*P->p))
		return 0;
	return read_encoding(P, e);
}

/* ------------------------------------------------------------------ statements */

/* A name that is not defined yet, with its location for the message. */
static int check_fresh_value(Parser *P, const char *name, const char *at)
{
	if (graph_find_value(P->g, name))
		return perr_at(P, at, "value '%%%s' is already defined", name);
	return 0;
}

static Value *lookup_value(Parser *P, const char *name, const char *at)
{
	Value *v = graph_find_value(P->g, name);
	if (v == NULL)
		perr_at(P, at, "value '%%%s' is not defined (values must be defined before they are used)", name);
	return v;
}

/* input %x: f32[1,3,224,224] */
static int parse_input(Parser *P)
{
	const char *at, *name;
	DType t;
	Shape s;
	Encoding e;
	blank(P);
	at = P->p;
	if (read_value_name(P, &name) < 0 || check_fresh_value(P, name, at) < 0 || expect(P, ':') < 0 ||
	    read_type(P, &t, &s) < 0 || read_opt_encoding(P, &e) < 0 || end_of_line(P) < 0)
		return -1;
	Value *v = graph_add_value(P->g, name, t, &s);
	v->enc = e;
	graph_add_input(P->g, v);
	return 0;
}

/* The bracketed list of a constant: exactly numel values of the dtype's class. */
static int parse_const_values(Parser *P, Value *v, int64_t numel, const char *at_list)
{
	bool is_float = dtype_is_float(v->dtype);
	size_t esize = dtype_compute_size(v->dtype), cap = 64, n = 0;
	unsigned char *buf = malloc(cap * esize);
	if (buf == NULL)
		return perr_at(P, at_list, "out of memory");
	int rc = -1;
	if (expect(P, '[') < 0)
		goto out;
	if (!accept(P, ']')) {
		for (;;) {
			if ((int64_t)n == numel) {
				blank(P);
				perr_at(P, P->p, "more values than the %lld elements of the shape", (long long)numel);
				goto out;
			}
			if (n == cap) {
				unsigned char *nb = cap <= SIZE_MAX / 2 / esize ? realloc(buf, 2 * cap * esize) : NULL;
				if (nb == NULL) {
					perr_at(P, at_list, "out of memory");
					goto out;
				}
				buf = nb;
				cap *= 2;
			}
			if (is_float) {
				if (read_float(P, (float *)buf + n) < 0)
					goto out;
			} else if (read_int(P, (int64_t *)buf + n, "an integer") < 0) {
				goto out;
			}
			n++;
			if (accept(P, ']'))
				break;
			if (!accept(P, ',')) {
				perr_at(P, P->p, "expected ',' or ']' in a list of values");
				goto out;
			}
		}
	}
	if ((int64_t)n != numel) {
		perr_at(P, at_list, "%zu values for a shape of %lld elements", n, (long long)numel);
		goto out;
	}
	Diag tmp = {0};
	void *p = value_alloc_payload(P->g, v, &tmp);
	if (p == NULL) {
		perr_at(P, at_list, "%s", tmp.msg);
		goto out;
	}
	if (n)
		memcpy(p, buf, n * esize);
	rc = 0;
out:
	free(buf);
	return rc;
}

/* const %w: f32[4,3] dense nnz=12 (100.0%) = [...] | elided(crc32=0x...) */
static int parse_const(Parser *P)
{
	const char *at, *name, *at_type, *at_nnz, *at_value;
	DType t;
	Shape s;
	Encoding e;
	int64_t nnz;
	float pct;
	blank(P);
	at = P->p;
	if (read_value_name(P, &name) < 0 || check_fresh_value(P, name, at) < 0 || expect(P, ':') < 0)
		return -1;
	blank(P);
	at_type = P->p;
	if (read_type(P, &t, &s) < 0)
		return -1;
	if (t == DT_UNDEFINED)
		return perr_at(P, at_type, "a constant needs a dtype");
	int64_t numel = shape_numel(&s);
	if (numel == -1)
		return perr_at(P, at_type, "a constant needs a static shape");
	if (numel < 0)
		return perr_at(P, at_type, "the element count of this shape overflows");
	memset(&e, 0, sizeof e);
	e.kind = ENC_DENSE;
	if (!peek_word(P, "nnz") && read_encoding(P, &e) < 0)
		return -1;
	blank(P);
	at_nnz = P->p;
	if (expect_word(P, "nnz") < 0 || expect(P, '=') < 0 || read_int(P, &nnz, "a non-zero count") < 0)
		return -1;
	if (nnz < 0 || nnz > numel)
		return perr_at(P, at_nnz, "nnz=%lld is not in 0..%lld", (long long)nnz, (long long)numel);
	if (expect(P, '(') < 0 || read_float(P, &pct) < 0 || expect(P, '%') < 0 || expect(P, ')') < 0 ||
	    expect(P, '=') < 0)
		return -1;
	blank(P);
	at_value = P->p;
	Value *v = graph_add_value(P->g, name, t, &s);
	if (peek_word(P, "elided")) {
		int64_t crc = 0;
		P->p += strlen("elided");
		if (expect(P, '(') < 0 || expect_word(P, "crc32") < 0 || expect(P, '=') < 0)
			return -1;
		blank(P);
		const char *h = P->p;
		if (h[0] != '0' || (h[1] != 'x' && h[1] != 'X') || hex_digit(h[2]) < 0)
			return perr_at(P, h, "expected a checksum 0xHHHHHHHH");
		int k = 2;
		for (; hex_digit(h[k]) >= 0; k++) {
			if (k == 10)
				return perr_at(P, h, "checksum longer than 32 bits");
			crc = crc * 16 + hex_digit(h[k]);
		}
		P->p = h + k;
		if (expect(P, ')') < 0)
			return -1;
		ElidedPayload *el = arena_alloc(P->g->arena, sizeof *el);
		el->crc32 = (uint32_t)crc;
		el->nnz = nnz;
		v->elided = el;
		v->enc = e;
	} else {
		if (parse_const_values(P, v, numel, at_value) < 0)
			return -1;
		v->enc = e; /* after the payload: allocating one resets the encoding */
		int64_t actual = value_nnz(v);
		if (actual != nnz)
			return perr_at(P, at_nnz, "nnz=%lld but the values hold %lld non-zeros", (long long)nnz,
				       (long long)actual);
		if (e.kind != ENC_DENSE) {
			if (P->n_encoded == P->cap_encoded) {
				int cap = P->cap_encoded ? 2 * P->cap_encoded : 16;
				struct Encoded *grown = realloc(P->encoded, (size_t)cap * sizeof *grown);
				if (grown == NULL)
					return perr_at(P, at, "out of memory");
				P->encoded = grown;
				P->cap_encoded = cap;
			}
			P->encoded[P->n_encoded++] = (struct Encoded){v, at};
		}
	}
	return end_of_line(P);
}

/* Rebuild the packed form of every encoded constant that came with its payload, for the matrix
 * view of the nodes reading it as their weight (the text does not spell the packs out: they are
 * a function of the values, the encoding and the view). */
static int pack_encoded(Parser *P)
{
	for (int i = 0; i < P->n_encoded; i++) {
		Value *v = P->encoded[i].v;
		const Node *first = NULL;
		WeightView view, other;
		for (int k = 0; k < P->g->n_nodes; k++) {
			const Node *n = P->g->nodes[k];
			if (n->n_in < 2 || n->in[1] != v || !weight_view(n, 1, &other))
				continue;
			if (first == NULL) {
				first = n;
				view = other;
			} else if (!weight_view_equal(&view, &other)) {
				return perr_at(P, P->encoded[i].at,
					       "encoded constant '%s' is the weight of '%s' and '%s', which read it as different matrices",
					       v->name, first->name, n->name);
			}
		}
		if (first == NULL)
			return perr_at(P, P->encoded[i].at,
				       "constant '%s' is encoded but no Conv, Gemm or MatMul reads it as its weight", v->name);
		Diag tmp = {0};
		if (sparse_attach(P->g, v, &view, &v->enc, &tmp) < 0)
			return perr_at(P, P->encoded[i].at, "%s", tmp.msg);
	}
	return 0;
}

/* output %y */
static int parse_output(Parser *P)
{
	const char *at, *name;
	blank(P);
	at = P->p;
	if (read_value_name(P, &name) < 0)
		return -1;
	Value *v = lookup_value(P, name, at);
	if (v == NULL)
		return -1;
	graph_add_output(P->g, v);
	return end_of_line(P);
}

/* {name=value, ...} into a (already at defaults) */
static int parse_attrs(Parser *P, int op, OpAttrs *a, bool *seen)
{
	if (accept(P, '}'))
		return 0;
	for (;;) {
		blank(P);
		const char *at = P->p;
		size_t n = 0;
		while (is_alpha(at[n]) || is_digit(at[n]))
			n++;
		if (n == 0)
			return perr_at(P, at, "expected an attribute name");
		char name[64];
		if (n >= sizeof name)
			return perr_at(P, at, "unknown attribute for %s", op_name(op));
		memcpy(name, at, n);
		name[n] = '\0';
		const AttrDesc *desc = attrs_find(op, name);
		if (desc == NULL)
			return perr_at(P, at, "unknown attribute '%s' for %s", name, op_name(op));
		size_t idx = (size_t)(desc - op_info[op].attrs);
		if (seen[idx])
			return perr_at(P, at, "attribute '%s' given twice", name);
		seen[idx] = true;
		P->p += n;
		if (expect(P, '=') < 0)
			return -1;
		blank(P);
		const char *at_val = P->p, *end = NULL;
		Diag tmp = {0};
		if (*at_val == '\n' || *at_val == '\0')
			return perr_at(P, at_val, "attribute %s: expected a value", name);
		if (attr_parse_value(desc, at_val, &end, a, &tmp) < 0)
			return perr_at(P, at_val, "%s", tmp.msg);
		P->p = end;
		if (accept(P, '}'))
			return 0;
		if (!accept(P, ','))
			return perr_at(P, P->p, "expected ',' or '}' after an attribute");
	}
}

typedef struct OutDecl {
	const char *name, *at;
	DType dtype;
	Shape shape;
	Encoding enc;
} OutDecl;

/* Grow a malloc'd array by one slot; false when memory runs out. */
static bool grow(void **arr, int n, int *cap, size_t elem)
{
	if (n < *cap)
		return true;
	int ncap = *cap ? 2 * *cap : 8;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (p == NULL)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* NAME = Op(%a, _, %b) {attrs} -> %y: f32[...] [enc], ... (the node name is already read) */
static int parse_node(Parser *P, const char *name, const char *at_name)
{
	Value **in = NULL;
	OutDecl *out = NULL;
	bool *seen = NULL;
	int n_in = 0, cap_in = 0, n_out = 0, cap_out = 0, rc = -1;
	const char *opname;
	if (graph_find_node(P->g, name)) {
		perr_at(P, at_name, "node '%s' is already defined", name);
		goto out;
	}
	if (expect(P, '=') < 0)
		goto out;
	blank(P);
	const char *at_op = P->p;
	if (read_name(P, &opname, "an op name") < 0)
		goto out;
	int op = op_from_name(opname);
	if (op < 0) {
		perr_at(P, at_op, "unknown op '%s'", opname);
		goto out;
	}
	const OpInfo *info = &op_info[op];
	if (expect(P, '(') < 0)
		goto out;
	if (!accept(P, ')')) {
		for (;;) {
			blank(P);
			const char *at = P->p, *vname;
			Value *v = NULL;
			if (*at == '_' && !bare_char(at[1])) {
				P->p++;
			} else if (read_value_name(P, &vname) < 0 || (v = lookup_value(P, vname, at)) == NULL) {
				goto out;
			}
			if (!grow((void **)&in, n_in, &cap_in, sizeof *in)) {
				perr_at(P, at, "out of memory");
				goto out;
			}
			in[n_in++] = v;
			if (accept(P, ')'))
				break;
			if (!accept(P, ',')) {
				perr_at(P, P->p, "expected ',' or ')' after an input");
				goto out;
			}
		}
	}
	if (n_in < info->min_in || (info->max_in >= 0 && n_in > info->max_in)) {
		perr_at(P, at_op, "%s takes %d..%d inputs, not %d", info->name, info->min_in, info->max_in, n_in);
		goto out;
	}
	for (int i = 0; i < info->min_in; i++)
		if (in[i] == NULL) {
			perr_at(P, at_op, "%s: required input %d is omitted", info->name, i);
			goto out;
		}

	OpAttrs attrs;
	attrs_init(op, &attrs);
	size_t n_desc = 0;
	while (info->attrs[n_desc].name)
		n_desc++;
	seen = calloc(n_desc + 1, sizeof *seen);
	if (seen == NULL) {
		perr_at(P, at_op, "out of memory");
		goto out;
	}
	if (accept(P, '{') && parse_attrs(P, op, &attrs, seen) < 0)
		goto out;
	for (size_t i = 0; i < n_desc; i++)
		if (info->attrs[i].required && !seen[i]) {
			perr_at(P, at_op, "%s needs attribute '%s'", info->name, info->attrs[i].name);
			goto out;
		}

	blank(P);
	if (P->p[0] != '-' || P->p[1] != '>') {
		perr_at(P, P->p, "expected '->' and the outputs");
		goto out;
	}
	P->p += 2;
	for (;;) {
		blank(P);
		OutDecl o;
		o.at = P->p;
		if (read_value_name(P, &o.name) < 0 || check_fresh_value(P, o.name, o.at) < 0)
			goto out;
		for (int i = 0; i < n_out; i++)
			if (strcmp(out[i].name, o.name) == 0) {
				perr_at(P, o.at, "value '%%%s' is already defined", o.name);
				goto out;
			}
		if (expect(P, ':') < 0 || read_type(P, &o.dtype, &o.shape) < 0 || read_opt_encoding(P, &o.enc) < 0)
			goto out;
		if (!grow((void **)&out, n_out, &cap_out, sizeof *out)) {
			perr_at(P, o.at, "out of memory");
			goto out;
		}
		out[n_out++] = o;
		if (!accept(P, ','))
			break;
	}
	if (n_out < info->min_out || (info->max_out >= 0 && n_out > info->max_out)) {
		perr_at(P, at_op, "%s takes %d..%d outputs, not %d", info->name, info->min_out, info->max_out, n_out);
		goto out;
	}
	if (end_of_line(P) < 0)
		goto out;

	/* All checked: build. The node gets no fresh outputs; the text's values are made here. */
	Node *n = graph_add_node(P->g, (Op)op, name, n_in, in, 0);
	n->attr = attrs;
	n->out = arena_alloc(P->g->arena, (size_t)n_out * sizeof *n->out);
	n->n_out = n_out;
	for (int i = 0; i < n_out; i++) {
		Value *v = graph_add_value(P->g, out[i].name, out[i].dtype, &out[i].shape);
		v->enc = out[i].enc;
		v->producer = n;
		n->out[i] = v;
	}
	rc = 0;
out:
	free(in);
	free(out);
	free(seen);
	return rc;
}

static int parse_statement(Parser *P)
{
	blank(P);
	const char *at = P->p, *name;
	bool bare = *P->p != '"';
	if (read_name(P, &name, "a statement (input, const, node or output)") < 0)
		return -1;
	/* keywords only when a value follows, so that nodes may be called "input" too */
	if (bare) {
		blank(P);
		if (*P->p == '%') {
			if (strcmp(name, "input") == 0)
				return parse_input(P);
			if (strcmp(name, "const") == 0)
				return parse_const(P);
			if (strcmp(name, "output") == 0)
				return parse_output(P);
			return perr_at(P, at, "unknown statement '%s'", name);
		}
	}
	return parse_node(P, name, at);
}

Graph *graph_parse(const char *text, const char *filename, Diag *d)
{
	Parser P = {.src = text, .p = text, .file = filename ? filename : "<input>", .d = d};
	/* the graph exists from the start so that names live in its arena; freed on error */
	P.g = graph_new("graph");
	const char *gname = NULL;
	int64_t opset = 0;
	skip_lines(&P);
	if (expect_word(&P, "graph") < 0)
		goto fail;
	blank(&P);
	if (read_name_opt(&P, &gname, "the graph name", true) < 0 || expect_word(&P, "opset") < 0 ||
	    read_int(&P, &opset, "an opset number") < 0 || expect(&P, '{') < 0 || end_of_line(&P) < 0)
		goto fail;
	P.g->name = gname;
	P.g->opset = opset;
	P.g->source = arena_strdup(P.g->arena, P.file);
	for (;;) {
		skip_lines(&P);
		if (*P.p == '\0') {
			perr_at(&P, P.p, "missing '}' at the end of the graph");
			goto fail;
		}
		if (*P.p == '}') {
			P.p++;
			break;
		}
		if (parse_statement(&P) < 0)
			goto fail;
	}
	if (end_of_line(&P) < 0)
		goto fail;
	skip_lines(&P);
	if (*P.p != '\0') {
		perr_at(&P, P.p, "unexpected text after the graph");
		goto fail;
	}
	if (pack_encoded(&P) < 0)
		goto fail;
	if (graph_verify(P.g, d) < 0) {
		char prefix[512];
		snprintf(prefix, sizeof prefix, "%s: ", P.file);
		diag_prefix(d, prefix);
		goto fail;
	}
	free(P.encoded);
	return P.g;
fail:
	free(P.encoded);
	graph_free(P.g);
	return NULL;
}
