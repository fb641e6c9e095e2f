/* subsample-1x1: a strided 1x1 convolution reads its input through a Slice with those steps,
 * then runs at stride 1.
 *
 * Why: a 1x1 convolution at stride s reads one input pixel in s x s. The cpu target's kernels
 * gather such a B per tile (a phase plane or an im2col panel, every tile, every chunk of rows)
 * and lose the direct stride-1 path, whose columns are the input's own rows. Subsampling once,
 * into a tensor of the output's spatial size, costs one pass over a quarter of the input;
 * ResNet-50's downsample layers then run at stride 1 (one thread, by hand: 512 -> 1024 from
 * 28x28 at 2:4, 0.85 -> 0.02 + 0.59 ms; at density 0.13, 0.36 -> 0.02 + 0.28 ms; dense
 * 1024 -> 2048 from 14x14, 0.91 -> 0.02 + 0.83 ms).
 *
 * Rewrites: Conv and nnzc.FusedConv whose weight is a constant with every kernel dimension 1,
 * no padding (explicit zeros, or auto_pad VALID/SAME, which pad a 1x1 kernel by nothing), a
 * static-shaped data input, and some stride above 1. The Slice gets constant starts 0, ends the
 * input's extents, axes 2.., steps the strides; the node keeps its name, weight, bias, fused
 * activation and residual. Values are exactly those of the strided convolution: the same
 * products, the same pixels (ceil(H / s) of them per axis both ways).
 *
 * Requires: shape-infer (static input shape). Changes: inserts a Slice and four constants per
 * rewritten node, sets its strides to 1 and auto_pad to NOTSET. Remarks per node: the strides. */
#include "nnzc/ir.h"

#include <stdio.h>

static const char PASS[] = "subsample-1x1";

static ConvAttrs *conv_attrs(Node *n)
{
	if (n->op == OP_Conv)
		return &n->attr.conv;
	if (n->op == OP_FusedConv)
		return &n->attr.fused_conv.conv;
	return NULL;
}

/* The conv's window (window_of_node: auto_pad resolved into pads, the kernel from the weight)
 * when it is a strided 1x1 conv this pass rewrites; false otherwise. */
static bool strided_1x1(const Node *n, Window *w)
{
	if (n->n_in < 2 || n->in[0] == NULL || n->in[1] == NULL || n->in[1]->data == NULL ||
	    !shape_is_static(&n->in[0]->shape))
		return false;
	Diag quiet = {0};
	if (window_of_node(n, &n->in[0]->shape, &n->in[1]->shape, w, &quiet) < 0)
		return false;
	/* the window is 3-D: its leading dims beyond the op's are kernel 1, stride 1, no pads */
	bool strided = false;
	for (int i = 0; i < NNZC_MAX_SPATIAL; i++) {
		if (w->kernel[i] != 1 || w->pad_lo[i] != 0 || w->pad_hi[i] != 0)
			return false;
		strided = strided || w->stride[i] > 1;
	}
	return strided;
}

static Value *int64_vector(Graph *g, const char *name, int n, const int64_t *v, Diag *d)
{
	Shape s = {.rank = 1, .dim = {n}};
	Value *c = graph_add_constant(g, name, DT_I64, &s, d);
	if (c == NULL)
		return NULL;
	int64_t *p = c->data;
	for (int i = 0; i < n; i++)
		p[i] = v[i];
	return c;
}

static int rewrite(Graph *g, Node *n, const Window *w, Diag *d)
{
	ConvAttrs *a = conv_attrs(n);
	Value *x = n->in[0];
	int nsp = w->nsp;
	int64_t starts[NNZC_MAX_RANK] = {0}, ends[NNZC_MAX_RANK], axes[NNZC_MAX_RANK], steps[NNZC_MAX_RANK];
	Shape out = x->shape;
	for (int i = 0; i < nsp; i++) {
		ends[i] = x->shape.dim[2 + i];
		axes[i] = 2 + i;
		steps[i] = w->stride[NNZC_MAX_SPATIAL - nsp + i];
		out.dim[2 + i] = (ends[i] + steps[i] - 1) / steps[i];
	}
	char name[256];
	snprintf(name, sizeof name, "%s/subsample", n->name);
	Value *in[5] = {x, int64_vector(g, "subsample_starts", nsp, starts, d),
			int64_vector(g, "subsample_ends", nsp, ends, d), int64_vector(g, "subsample_axes", nsp, axes, d),
			int64_vector(g, "subsample_steps", nsp, steps, d)};
	for (int i = 1; i < 5; i++)
		if (in[i] == NULL)
			return -1;
	Node *slice = graph_insert_node(g, n, OP_Slice, name, 5, in, 1);
	if (slice == NULL)
		return diag_error(d, "%s: out of memory at node '%s'", PASS, n->name);
	slice->out[0]->dtype = x->dtype;
	slice->out[0]->shape = out;
	n->in[0] = slice->out[0];
	char strides[64];
	int len = 0;
	for (int i = 0; i < nsp && len < (int)sizeof strides - 24; i++)
		len += snprintf(strides + len, sizeof strides - (size_t)len, "%s%lld", i ? "x" : "", (long long)steps[i]);
	for (int i = 0; i < a->strides.n; i++)
		a->strides.v[i] = 1;
	a->auto_pad = AUTO_PAD_NOTSET;
	a->pads.n = 0;
	graph_remark(g, PASS, n, NULL, 0.0, "1x1 at stride %s: subsampled by a Slice, then stride 1", strides);
	return 0;
}

int pass_subsample_1x1(Graph *g, const PassOptions *opt, Diag *d)
{
	(void)opt;
	/* a rewritten node is met again one place on, behind its Slice, at stride 1 */
	for (int i = 0; i < g->n_nodes; i++) {
		Node *n = g->nodes[i];
		Window w;
		if (!n->dead && conv_attrs(n) != NULL && strided_1x1(n, &w) && rewrite(g, n, &w, d) < 0)
			return -1;
	}
	return 0;
}
