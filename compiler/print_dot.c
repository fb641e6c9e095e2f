/* The Graphviz dump (--format dot): one box per node, labelled with its name, op, output types
 * and the constants it reads (weights are not vertices of their own: a 50-layer network would
 * drown in them); graph inputs and outputs are ellipses; every edge carries the type of the
 * value it stands for. Everything is quoted, so any name is valid DOT. */
#include "nnzc/ir.h"


/* Text inside a quoted DOT string: escape quotes and backslashes; control bytes (which a name
 * may hold) become spaces so that they cannot break the line or a label. */
static void dot_text(const char *s, FILE *f)
{
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fputc(' ', f);
		else
			fputc(*p, f);
	}
}

static void dot_type(const Value *v, FILE *f)
{
	fputs(dtype_name(v->dtype), f);
	shape_print(&v->shape, f);
}

static int input_index(const Graph *g, const Value *v)
{
	for (int i = 0; i < g->n_inputs; i++)
		if (g->inputs[i] == v)
			return i;
	return -1;
}

/* The DOT id of the vertex a value comes from, or false for constants (no vertex). */
static bool source_id(const Graph *g, const Value *v, char *buf, size_t cap)
{
	int k;
	if (v->producer)
		snprintf(buf, cap, "n%d", v->producer->id);
	else if ((k = input_index(g, v)) >= 0)
		snprintf(buf, cap, "in%d", k);
	else
		return false;
	return true;
}

static void dot_node(const Node *n, FILE *f)
{
	fprintf(f, "  n%d [shape=box, label=\"", n->id);
	dot_text(n->name, f);
	fputs("\\n", f);
	dot_text(op_name(n->op), f);
	for (int i = 0; i < n->n_out; i++) {
		fputs("\\n-> ", f);
		dot_type(n->out[i], f);
		if (n->out[i]->enc.kind != ENC_DENSE) {
			fputc(' ', f);
			encoding_print(&n->out[i]->enc, f);
		}
	}
	for (int i = 0; i < n->n_in; i++) {
		const Value *v = n->in[i];
		if (v == NULL || !value_is_const(v) || v->producer)
			continue;
		int64_t numel = shape_numel(&v->shape), nnz = value_nnz(v);
		fputs("\\n", f);
		dot_text(v->name, f);
		fputs(": ", f);
		dot_type(v, f);
		fputc(' ', f);
		encoding_print(&v->enc, f);
		fprintf(f, " nnz=%lld (%.1f%%)", (long long)nnz, numel > 0 ? 100.0 * (double)nnz / (double)numel : 0.0);
	}
	fputs("\"];\n", f);
}

void graph_print_dot(const Graph *g, FILE *f)
{
	char src[32];
	fputs("digraph \"", f);
	dot_text(g->name, f);
	fputs("\" {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n"
	      "  edge [fontname=\"monospace\", fontsize=9];\n", f);
	for (int i = 0; i < g->n_inputs; i++) {
		fprintf(f, "  in%d [shape=ellipse, label=\"", i);
		dot_text(g->inputs[i]->name, f);
		fputs("\\n", f);
		dot_type(g->inputs[i], f);
		fputs("\"];\n", f);
	}
	for (int i = 0; i < g->n_nodes; i++)
		if (!g->nodes[i]->dead)
			dot_node(g->nodes[i], f);
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		fprintf(f, "  out%d [shape=ellipse, label=\"", i);
		dot_text(v->name, f);
		fputs(value_is_const(v) && !v->producer ? "\\n(constant)\"];\n" : "\"];\n", f);
	}
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		if (n->dead)
			continue;
		for (int k = 0; k < n->n_in; k++) {
			const Value *v = n->in[k];
			if (v == NULL || !source_id(g, v, src, sizeof src))
				continue;
			fprintf(f, "  %s -> n%d [label=\"", src, n->id);
			dot_type(v, f);
			fputs("\"];\n", f);
		}
	}
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		if (!source_id(g, v, src, sizeof src))
			continue;
		fprintf(f, "  %s -> out%d [label=\"", src, i);
		dot_type(v, f);
		fputs("\"];\n", f);
	}
	fputs("}\n", f);
}
