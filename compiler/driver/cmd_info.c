/* nnzc info: what a model contains — inputs, outputs, op counts, and every layer's weights with
 * their encoding and size. On what `nnzc compile --target cpu` wrote (an object, a shared object,
 * a weights file) the same from the metadata the compiler embedded (elf_info.c); on an
 * accelerator program (.nnza) its header, config, sections, I/O and disassembly (cmd_asm.c). */
#include "driver.h"
#include "elf_info.h"

#include <string.h>

static void print_value_type(const Value *v)
{
	char s[256];
	printf("%s%s", dtype_name(v->dtype), shape_str(&v->shape, s, sizeof s));
}

int cmd_info(const DriverOptions *o, Diag *d)
{
	if (is_nnza_file(o->model))
		return nnza_info(o->model, d);
	if (artifact_kind(o->model) != ARTIFACT_NONE)
		return artifact_info(o->model, stdout, d);
	DriverOptions io = *o;
	io.passes = "shape-infer";
	io.prune = io.pattern = io.tasd = NULL;
	Graph *g = load_and_optimize(&io, NULL, NULL, NULL, d);
	if (g == NULL)
		return -1;
	printf("model: %s\ngraph: %s\nopset: %lld\n", o->model, g->name, (long long)g->opset);
	printf("inputs:\n");
	for (int i = 0; i < g->n_inputs; i++) {
		printf("  %s: ", g->inputs[i]->name);
		print_value_type(g->inputs[i]);
		printf("\n");
	}
	printf("outputs:\n");
	for (int i = 0; i < g->n_outputs; i++) {
		printf("  %s: ", g->outputs[i]->name);
		print_value_type(g->outputs[i]);
		printf("\n");
	}
	int counts[OP_COUNT] = {0};
	for (int i = 0; i < g->n_nodes; i++)
		counts[g->nodes[i]->op]++;
	printf("nodes: %d\n", g->n_nodes);
	for (int op = 0; op < OP_COUNT; op++)
		if (counts[op])
			printf("  %-24s %d\n", op_name(op), counts[op]);

	/* layers: nodes with a constant weight operand (input 1) */
	int64_t total = 0, total_nnz = 0;
	printf("layers with constant weights:\n");
	printf("  %-32s %-16s %-20s %-10s %12s %8s\n", "node", "op", "weight", "encoding", "elements", "density");
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		if (n->n_in < 2 || n->in[1] == NULL || !value_is_const(n->in[1]))
			continue;
		if (n->op != OP_Conv && n->op != OP_ConvTranspose && n->op != OP_Gemm && n->op != OP_MatMul &&
		    n->op != OP_FusedConv && n->op != OP_FusedGemm)
			continue;
		const Value *w = n->in[1];
		char s[128], enc[64] = "";
		FILE *ef = fmemopen(enc, sizeof enc, "w");
		if (ef) {
			encoding_print(&w->enc, ef);
			fclose(ef);
		}
		int64_t numel = shape_numel(&w->shape), nnz = value_nnz(w);
		total += numel;
		total_nnz += nnz;
		printf("  %-32s %-16s %-20s %-10s %12lld %7.1f%%\n", n->name, op_name(n->op), shape_str(&w->shape, s, sizeof s),
		       enc, (long long)numel, numel > 0 ? 100.0 * (double)nnz / (double)numel : 0.0);
	}
	printf("weights in layers: %lld elements, %lld non-zero (%.1f%%)\n", (long long)total, (long long)total_nnz,
	       total > 0 ? 100.0 * (double)total_nnz / (double)total : 0.0);
	MemPlan plan;
	Diag pd = {0};
	if (memplan_build(g, NULL, &plan, &pd) == 0) {
		/* info plans the graph as imported (shape inference only): a compiled model's workspace
		 * is smaller, after fusion and the cpu target's in-place residual adds */
		printf("activation memory: %d buffers in a %lld-byte workspace (%lld bytes without reuse; the graph "
		       "as imported: `nnzc compile --report` has a compiled model's)\n",
		       plan.n_buffers, (long long)plan.size, (long long)plan.naive_size);
		memplan_free(&plan);
	} else {
		printf("activation memory: not planned (%s)\n", pd.msg);
	}
	graph_free(g);
	return 0;
}
