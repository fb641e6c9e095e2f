/* The JSON dump (--format json), for tools and scripts: one object,
 *
 *   {"name", "opset",
 *    "inputs":    [{"name", "dtype", "shape"}],
 *    "constants": [{"name", "dtype", "shape", "encoding", "nnz", "density"}],
 *    "nodes":     [{"name", "op", "inputs": [name | null], "outputs": [{"name", "dtype", "shape",
 *                   "encoding"}], "attrs": {name: value}}],
 *    "outputs":   [name]}
 *
 * Shapes are arrays with null for unknown dims, or null for an unknown rank. density is
 * nnz/numel in [0,1]. attrs hold, as the text dump does, the attributes that differ from their
 * defaults: numbers, arrays of numbers, strings (enums, dtypes), {"dtype", "value"} for scalar
 * tensors; a non-finite float is the string "nan", "inf" or "-inf" (JSON has no such numbers).
 * Strings are escaped per RFC 8259, and bytes that are not UTF-8 become U+FFFD. */
#include "nnzc/ir.h"

#include <math.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *p)
{
	int n;
	unsigned min;
	unsigned cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0) {
		n = 2, min = 0x80, cp = p[0] & 0x1F;
	} else if ((p[0] & 0xF0) == 0xE0) {
		n = 3, min = 0x800, cp = p[0] & 0x0F;
	} else if ((p[0] & 0xF8) == 0xF0) {
		n = 4, min = 0x10000, cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

void json_print_string(const char *s, FILE *f)
{
	fputc('"', f);
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		int n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
		} else if (n > 1) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else {
			if (*p == '"' || *p == '\\')
				fprintf(f, "\\%c", *p);
			else if (*p == '\n')
				fputs("\\n", f);
			else if (*p == '\t')
				fputs("\\t", f);
			else if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
			p++;
		}
	}
	fputc('"', f);
}

void json_print_number(double v, FILE *f)
{
	if (isnan(v))
		fputs("\"nan\"", f);
	else if (isinf(v))
		fputs(v < 0 ? "\"-inf\"" : "\"inf\"", f);
	else
		fprintf(f, "%.9g", v);
}

static void json_shape(const Shape *s, FILE *f)
{
	if (s->rank < 0) {
		fputs("null", f);
		return;
	}
	fputc('[', f);
	for (int i = 0; i < s->rank; i++) {
		if (i)
			fputc(',', f);
		if (s->dim[i] < 0)
			fputs("null", f);
		else
			fprintf(f, "%lld", (long long)s->dim[i]);
	}
	fputc(']', f);
}

/* "name": ..., "dtype": ..., "shape": ... (the fields every value object starts with) */
static void json_value_fields(const Value *v, FILE *f)
{
	fputs("\"name\": ", f);
	json_print_string(v->name, f);
	fputs(", \"dtype\": ", f);
	json_print_string(dtype_name(v->dtype), f);
	fputs(", \"shape\": ", f);
	json_shape(&v->shape, f);
}

/* Encoding spellings hold only letters, digits and ()[], so they need no escaping. */
static void json_encoding(const Encoding *e, FILE *f)
{
	fputc('"', f);
	encoding_print(e, f);
	fputc('"', f);
}

static void json_attr(const AttrDesc *a, const OpAttrs *attrs, FILE *f)
{
	const char *p = (const char *)attrs + a->offset;
	json_print_string(a->name, f);
	fputs(": ", f);
	switch (a->type) {
	case AT_INT: {
		int64_t v;
		memcpy(&v, p, sizeof v);
		fprintf(f, "%lld", (long long)v);
		break;
	}
	case AT_FLOAT: {
		float v;
		memcpy(&v, p, sizeof v);
		json_print_number(v, f);
		break;
	}
	case AT_INTS: {
		Ints v;
		memcpy(&v, p, sizeof v);
		fputc('[', f);
		for (int i = 0; i < v.n && i < NNZC_MAX_INTS; i++)
			fprintf(f, i ? ",%lld" : "%lld", (long long)v.v[i]);
		fputc(']', f);
		break;
	}
	case AT_ENUM: {
		int v, count = 0;
		memcpy(&v, p, sizeof v);
		while (a->enum_names[count])
			count++;
		if (v >= 0 && v < count)
			json_print_string(a->enum_names[v], f);
		else
			fprintf(f, "%d", v); /* invalid; the verifier reports it */
		break;
	}
	case AT_DTYPE: {
		DType v;
		memcpy(&v, p, sizeof v);
		json_print_string(dtype_name(v), f);
		break;
	}
	case AT_SCALAR: {
		ScalarAttr v;
		memcpy(&v, p, sizeof v);
		fputs("{\"dtype\": ", f);
		json_print_string(dtype_name(v.dtype), f);
		fputs(", \"value\": ", f);
		if (dtype_is_float(v.dtype))
			json_print_number(v.f, f);
		else
			fprintf(f, "%lld", (long long)v.i);
		fputc('}', f);
		break;
	}
	}
}

static void json_node(const Node *n, FILE *f)
{
	fputs("    {\"name\": ", f);
	json_print_string(n->name, f);
	fputs(", \"op\": ", f);
	json_print_string(op_name(n->op), f);
	fputs(", \"inputs\": [", f);
	for (int i = 0; i < n->n_in; i++) {
		if (i)
			fputs(", ", f);
		if (n->in[i])
			json_print_string(n->in[i]->name, f);
		else
			fputs("null", f);
	}
	fputs("], \"outputs\": [", f);
	for (int i = 0; i < n->n_out; i++) {
		fputs(i ? ", {" : "{", f);
		json_value_fields(n->out[i], f);
		fputs(", \"encoding\": ", f);
		json_encoding(&n->out[i]->enc, f);
		fputc('}', f);
	}
	fputs("], \"attrs\": {", f);
	int k = 0;
	for (const AttrDesc *a = op_info[n->op].attrs; a->name; a++) {
		if (attr_is_default(a, &n->attr))
			continue;
		if (k++)
			fputs(", ", f);
		json_attr(a, &n->attr, f);
	}
	fputs("}}", f);
}

void graph_print_json(const Graph *g, FILE *f)
{
	fputs("{\n  \"name\": ", f);
	json_print_string(g->name, f);
	fprintf(f, ",\n  \"opset\": %lld,\n  \"inputs\": [", (long long)g->opset);
	for (int i = 0; i < g->n_inputs; i++) {
		fputs(i ? ",\n    {" : "\n    {", f);
		json_value_fields(g->inputs[i], f);
		fputc('}', f);
	}
	fputs(g->n_inputs ? "\n  ],\n  \"constants\": [" : "],\n  \"constants\": [", f);
	int k = 0;
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		if (!value_is_const(v) || v->producer || graph_is_input(g, v))
			continue;
		int64_t numel = shape_numel(&v->shape), nnz = value_nnz(v);
		fputs(k++ ? ",\n    {" : "\n    {", f);
		json_value_fields(v, f);
		fputs(", \"encoding\": ", f);
		json_encoding(&v->enc, f);
		fprintf(f, ", \"nnz\": %lld, \"density\": %.6g", (long long)nnz,
			numel > 0 ? (double)nnz / (double)numel : 0.0);
		if (v->sparse) /* what the packed form stores, padding included */
			fprintf(f, ", \"stored\": %lld", (long long)v->sparse->stored);
		fputc('}', f);
	}
	fputs(k ? "\n  ],\n  \"nodes\": [" : "],\n  \"nodes\": [", f);
	k = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		if (g->nodes[i]->dead)
			continue;
		fputs(k++ ? ",\n" : "\n", f);
		json_node(g->nodes[i], f);
	}
	fputs(k ? "\n  ],\n  \"outputs\": [" : "],\n  \"outputs\": [", f);
	for (int i = 0; i < g->n_outputs; i++) {
		if (i)
			fputs(", ", f);
		json_print_string(g->outputs[i]->name, f);
	}
	fputs("]\n}\n", f);
}
