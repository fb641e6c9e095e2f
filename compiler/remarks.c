/* Remarks: what passes tell the user about nodes, kept on the graph (in its arena) so that the
 * driver decides where they go — stderr as text, --report as JSON — and passes never print. */
#include "nnzc/ir.h"

#include <stdarg.h>
#include <string.h>

void graph_remark(Graph *g, const char *pass, const Node *n, const char *key, double value, const char *fmt, ...)
{
	if (g->n_remarks == g->cap_remarks) {
		int cap = g->cap_remarks ? 2 * g->cap_remarks : 16;
		Remark *grown = arena_alloc_data(g->arena, (size_t)cap, sizeof *grown);
		if (grown == NULL)
			return; /* out of memory: a remark is advice, losing it is not an error */
		if (g->n_remarks)
			memcpy(grown, g->remarks, (size_t)g->n_remarks * sizeof *grown);
		g->remarks = grown;
		g->cap_remarks = cap;
	}
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	Remark *r = &g->remarks[g->n_remarks++];
	*r = (Remark){
		.pass = pass,
		.node = n ? arena_strdup(g->arena, n->name) : NULL,
		.op = n ? op_name(n->op) : NULL,
		.key = key,
		.value = value,
		.text = arena_strdup(g->arena, text),
	};
}

void remarks_print(const Graph *g, FILE *f)
{
	for (int i = 0; i < g->n_remarks; i++) {
		const Remark *r = &g->remarks[i];
		if (r->node)
			fprintf(f, "remark: %s: node '%s' (%s): %s\n", r->pass, r->node, r->op, r->text);
		else
			fprintf(f, "remark: %s: %s\n", r->pass, r->text);
	}
}

void remarks_print_json(const Graph *g, FILE *f)
{
	fputc('[', f);
	for (int i = 0; i < g->n_remarks; i++) {
		const Remark *r = &g->remarks[i];
		fputs(i ? ",\n  {\"pass\": " : "\n  {\"pass\": ", f);
		json_print_string(r->pass, f);
		fputs(", \"node\": ", f);
		if (r->node)
			json_print_string(r->node, f);
		else
			fputs("null", f);
		fputs(", \"op\": ", f);
		if (r->op)
			json_print_string(r->op, f);
		else
			fputs("null", f);
		fputs(", \"key\": ", f);
		if (r->key) {
			json_print_string(r->key, f);
			fputs(", \"value\": ", f);
			json_print_number(r->value, f);
		} else {
			fputs("null, \"value\": null", f);
		}
		fputs(", \"text\": ", f);
		json_print_string(r->text, f);
		fputc('}', f);
	}
	fputs(g->n_remarks ? "\n]" : "]", f);
}
