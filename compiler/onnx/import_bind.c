/* Specialising a graph to known values of some of its inputs: the last step of loading a model
 * for `nnzc run/bench` on a target that needs static shapes.
 *
 * Many models (and about fifty ONNX node tests) feed shape operands — Reshape's shape, Pad's
 * pads, Resize's scales, Slice's starts — as graph inputs, so their output shapes are known only
 * at run time. The reference interpreter binds them as it goes; a compiled model cannot. When the
 * values are at hand (the test data, the -i files), the driver binds those inputs to constants
 * here, and the ordinary pipeline (shape inference, constant folding) does the rest: the compiled
 * model is then specialised to those values. Inputs whose values only flow into data stay inputs.
 *
 * Works on any Graph, from ONNX or from a text IR dump; lives with the frontend because it is
 * part of what "loading a model" means for the driver. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

/* Whether the value of operand `slot` of n decides the shape of one of n's outputs. An op whose
 * inference reads an input's payload to size its output belongs here. */
static bool operand_decides_shape(const Node *n, int slot)
{
	switch (n->op) {
	case OP_Reshape:   /* shape */
	case OP_Expand:    /* shape */
	case OP_Tile:      /* repeats */
	case OP_Squeeze:   /* axes */
	case OP_Unsqueeze: /* axes */
	case OP_Split:     /* split */
	case OP_ReduceMean: case OP_ReduceSum: case OP_ReduceMax: case OP_ReduceMin: case OP_ReduceProd:
	case OP_ReduceSumSquare: case OP_ReduceL1: case OP_ReduceL2: case OP_ReduceLogSumExp: /* axes */
		return slot == 1;
	case OP_ConstantOfShape: /* shape */
		return slot == 0;
	case OP_Range: /* start, limit, delta: the length is ceil((limit - start) / delta) */
		return true;
	case OP_Slice: /* starts, ends, axes, steps */
		return slot >= 1;
	case OP_Pad: /* pads, axes; not constant_value */
		return slot == 1 || slot == 3;
	case OP_Resize: /* scales, sizes; roi only where it scales the output (tf_crop_and_resize) */
		return slot == 2 || slot == 3 ||
		       (slot == 1 && n->attr.resize.coordinate_transformation_mode == COORD_TF_CROP_AND_RESIZE);
	default:
		return false;
	}
}

/* Whether n's output values depend on its input values: all ops but those that read only shapes. */
static bool values_flow_through(const Node *n)
{
	return n->op != OP_Shape && n->op != OP_Size && n->op != OP_ConstantOfShape;
}

int graph_shape_inputs(const Graph *g, bool *decides)
{
	bool *mark = calloc((size_t)g->n_values + 1, sizeof *mark);
	if (mark == NULL) {
		/* cannot analyse: call every input shape-deciding, which only costs specialisation */
		for (int i = 0; i < g->n_inputs; i++)
			decides[i] = true;
		return g->n_inputs;
	}
	/* Backwards in topological order: when a node is visited, every consumer of its outputs has
	 * been, so mark[] of its outputs is final. */
	for (int i = g->n_nodes - 1; i >= 0; i--) {
		const Node *n = g->nodes[i];
		if (n->dead)
			continue;
		bool out_marked = false;
		for (int k = 0; k < n->n_out; k++)
			out_marked |= n->out[k] != NULL && mark[n->out[k]->id];
		bool flows = out_marked && values_flow_through(n);
		for (int s = 0; s < n->n_in; s++)
			if (n->in[s] != NULL && (flows || operand_decides_shape(n, s)))
				mark[n->in[s]->id] = true;
	}
	int count = 0;
	for (int i = 0; i < g->n_inputs; i++) {
		decides[i] = mark[g->inputs[i]->id];
		count += decides[i];
	}
	free(mark);
	return count;
}

int graph_bind_input(Graph *g, Value *v, const Tensor *t, Diag *d)
{
	int pos = -1;
	for (int i = 0; i < g->n_inputs; i++)
		if (g->inputs[i] == v)
			pos = i;
	if (pos < 0)
		return diag_error(d, "cannot bind '%s': it is not a graph input", v->name);
	char s1[128], s2[128];
	if (dtype_is_float(t->dtype) != dtype_is_float(v->dtype) || !shape_equal(&t->shape, &v->shape))
		return diag_error(d, "input '%s': the data is %s%s, the model declares %s%s", v->name, dtype_name(t->dtype),
				  shape_str(&t->shape, s1, sizeof s1), dtype_name(v->dtype), shape_str(&v->shape, s2, sizeof s2));
	void *p = value_alloc_payload(g, v, d);
	if (p == NULL)
		return -1;
	size_t n = (size_t)shape_numel(&v->shape);
	if (n > 0) {
		memcpy(p, t->data, n * dtype_compute_size(v->dtype));
		dtype_round(v->dtype, p, n);
	}
	memmove(&g->inputs[pos], &g->inputs[pos + 1], (size_t)(g->n_inputs - pos - 1) * sizeof *g->inputs);
	g->n_inputs--;
	return 0;
}
