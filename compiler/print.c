/* The text IR printer: one line per input, constant, node and output, so that dumps diff well
 * and parse back (compiler/parse.c) into the same graph. The grammar, by example:
 *
 *   graph "tiny_cnn" opset 17 {
 *     input %x: f32[1,3,8,8]
 *     const %w: f32[4,3,3,3] dense nnz=108 (100.0%) = elided(crc32=0x1a2b3c4d)
 *     const %b: f32[4] dense nnz=3 (75.0%) = [0.5, 0, -1.25, 3]
 *     conv1 = Conv(%x, %w, %b) {pads=[1,1,1,1], strides=[1,1]} -> %y: f32[1,4,8,8]
 *     split0 = Split(%y, _) {axis=1, num_outputs=2} -> %a: f32[1,2,8,8], %c: f32[1,2,8,8] nm(2,4)
 *     output %a
 *   }
 *
 * Order: graph inputs (input order), constants (value order), live nodes (graph order, which
 * is topological), graph outputs. Names are bare when they match [A-Za-z_][A-Za-z0-9_.:/-]*
 * and do not end in ':' (which would run into the ": type" that follows), otherwise quoted
 * with \" \\ and \xHH escapes (the last for control bytes, so that a name never breaks a
 * line). Attributes: only those that differ from their default, in AttrDesc order.
 * Floats print with %.9g, which round-trips every float32. */
#include "nnzc/ir.h"

#include <math.h>
#include <string.h>

static bool bare_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == ':' || c == '/' || c == '-';
}

static bool name_is_bare(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	size_t n = strlen(s);
	for (size_t i = 1; i < n; i++)
		if (!bare_char(s[i]))
			return false;
	return s[n - 1] != ':';
}

static void print_quoted(const char *s, FILE *f)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void print_name(const char *s, FILE *f)
{
	if (s == NULL)
		s = ""; /* a broken graph still prints; the verifier reports it */
	if (name_is_bare(s))
		fputs(s, f);
	else
		print_quoted(s, f);
}

static void print_value_ref(const Value *v, FILE *f)
{
	fputc('%', f);
	print_name(v->name, f);
}

static void print_float(double v, FILE *f)
{
	if (isnan(v))
		fputs("nan", f);
	else if (isinf(v))
		fputs(v < 0 ? "-inf" : "inf", f);
	else
		fprintf(f, "%.9g", v);
}

/* "%v: f32[1,?,8]" and the encoding when it is not dense */
static void print_decl(const Value *v, FILE *f)
{
	print_value_ref(v, f);
	fprintf(f, ": %s", dtype_name(v->dtype));
	shape_print(&v->shape, f);
	if (v->enc.kind != ENC_DENSE) {
		fputc(' ', f);
		encoding_print(&v->enc, f);
	}
}

/* Constants are the payload-carrying values that no node produces and that are not graph
 * inputs (a graph input with a payload is invalid and the verifier says so). */
static bool listed_as_const(const Graph *g, const Value *v)
{
	return value_is_const(v) && v->producer == NULL && !graph_is_input(g, v);
}

static void print_const(const Value *v, FILE *f, int64_t elide_above)
{
	int64_t numel = shape_numel(&v->shape);
	int64_t nnz = value_nnz(v);
	fputs("  const ", f);
	print_value_ref(v, f);
	fprintf(f, ": %s", dtype_name(v->dtype));
	shape_print(&v->shape, f);
	fputc(' ', f);
	encoding_print(&v->enc, f);
	fprintf(f, " nnz=%lld (%.1f%%) = ", (long long)nnz, numel > 0 ? 100.0 * (double)nnz / (double)numel : 0.0);
	if (v->data == NULL) {
		fprintf(f, "elided(crc32=0x%08x)\n", (unsigned)v->elided->crc32);
		return;
	}
	if (numel >= 0 && (elide_above < 0 || numel <= elide_above)) {
		fputc('[', f);
		for (int64_t i = 0; i < numel; i++) {
			if (i)
				fputs(", ", f);
			if (dtype_is_float(v->dtype))
				print_float(((const float *)v->data)[i], f);
			else
				fprintf(f, "%lld", (long long)((const int64_t *)v->data)[i]);
		}
		fputs("]\n", f);
		return;
	}
	bool ok;
	size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
	fprintf(f, "elided(crc32=0x%08x)\n", (unsigned)crc32_bytes(v->data, ok ? bytes : 0));
}

static void print_node(const Node *n, FILE *f)
{
	fputs("  ", f);
	print_name(n->name, f);
	fprintf(f, " = %s(", op_name(n->op));
	for (int i = 0; i < n->n_in; i++) {
		if (i)
			fputs(", ", f);
		if (n->in[i])
			print_value_ref(n->in[i], f);
		else
			fputc('_', f);
	}
	fputc(')', f);
	int k = 0;
	for (const AttrDesc *a = op_info[n->op].attrs; a->name; a++) {
		if (attr_is_default(a, &n->attr))
			continue;
		fputs(k++ ? ", " : " {", f);
		attr_print(a, &n->attr, f);
	}
	if (k)
		fputc('}', f);
	fputs(" ->", f);
	for (int i = 0; i < n->n_out; i++) {
		fputs(i ? ", " : " ", f);
		print_decl(n->out[i], f);
	}
	fputc('\n', f);
}

void graph_print(const Graph *g, FILE *f, const PrintOptions *opt)
{
	int64_t elide_above = opt ? opt->elide_above : -1;
	fputs("graph ", f);
	print_quoted(g->name ? g->name : "", f);
	fprintf(f, " opset %lld {\n", (long long)g->opset);
	for (int i = 0; i < g->n_inputs; i++) {
		fputs("  input ", f);
		print_decl(g->inputs[i], f);
		fputc('\n', f);
	}
	for (int i = 0; i < g->n_values; i++)
		if (listed_as_const(g, g->values[i]))
			print_const(g->values[i], f, elide_above);
	for (int i = 0; i < g->n_nodes; i++)
		if (!g->nodes[i]->dead) /* dead nodes are already gone as far as the graph means */
			print_node(g->nodes[i], f);
	for (int i = 0; i < g->n_outputs; i++) {
		fputs("  output ", f);
		print_value_ref(g->outputs[i], f);
		fputc('\n', f);
	}
	fputs("}\n", f);
}

int graph_dump(const Graph *g, DumpFormat fmt, FILE *f, const PrintOptions *opt)
{
	switch (fmt) {
	case DUMP_TEXT: graph_print(g, f, opt); break;
	case DUMP_DOT: graph_print_dot(g, f); break;
	case DUMP_JSON: graph_print_json(g, f); break;
	default: return -1;
	}
	return ferror(f) ? -1 : 0;
}
