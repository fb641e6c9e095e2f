/* The reference interpreter: executes a graph node by node in float32/int64, the oracle that
 * tests, the accuracy reports and constant folding rely on. Plain rather than fast, except
 * where whole-model runs need it (the conv/gemm kernels).
 *
 * Shapes: a node whose output shapes are static in the IR runs with them. Otherwise its
 * inputs' run-time values are bound to a scratch copy of the node and its inference runs again,
 * so data-dependent shapes (Range, Reshape of a computed shape, ...) work here even when the
 * static compilers must reject them. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

/* Fill outs[i] (dtype, shape) for node n given its run-time inputs. */
static int bind_and_infer(const Node *n, Tensor *const *in, Tensor *outs, Diag *d)
{
	bool all_static = true;
	for (int i = 0; i < n->n_out; i++)
		if (!shape_is_static(&n->out[i]->shape) || n->out[i]->dtype == DT_UNDEFINED)
			all_static = false;
	if (all_static) {
		for (int i = 0; i < n->n_out; i++) {
			outs[i].dtype = n->out[i]->dtype;
			outs[i].shape = n->out[i]->shape;
		}
		return 0;
	}
	Value *vin = calloc((size_t)n->n_in + 1, sizeof *vin);
	Value *vout = calloc((size_t)n->n_out + 1, sizeof *vout);
	Value **pin = calloc((size_t)n->n_in + 1, sizeof *pin);
	Value **pout = calloc((size_t)n->n_out + 1, sizeof *pout);
	int rc = -1;
	if (!vin || !vout || !pin || !pout) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < n->n_in; i++) {
		if (n->in[i] == NULL)
			continue;
		vin[i] = *n->in[i];
		vin[i].dtype = in[i]->dtype;
		vin[i].shape = in[i]->shape;
		vin[i].data = in[i]->data;
		vin[i].elided = NULL;
		pin[i] = &vin[i];
	}
	for (int i = 0; i < n->n_out; i++) {
		vout[i] = *n->out[i];
		vout[i].data = NULL;
		vout[i].shape = shape_unknown();
		pout[i] = &vout[i];
	}
	Node scratch = *n;
	scratch.in = pin;
	scratch.out = pout;
	if (infer_node(&scratch, d) < 0)
		goto out;
	for (int i = 0; i < n->n_out; i++) {
		if (!shape_is_static(&vout[i].shape) || vout[i].dtype == DT_UNDEFINED) {
			node_error(d, n, "cannot determine the shape of output '%s' at run time", n->out[i]->name);
			goto out;
		}
		outs[i].dtype = vout[i].dtype;
		outs[i].shape = vout[i].shape;
	}
	rc = 0;
out:
	free(vin);
	free(vout);
	free(pin);
	free(pout);
	return rc;
}

/* Run one node: infer output shapes, allocate, call the kernel. On failure nothing is left
 * allocated in outs. */
static int exec_node(const Node *n, Tensor *const *in, Tensor *outs, Diag *d)
{
	for (int i = 0; i < n->n_out; i++)
		outs[i].data = NULL;
	if (bind_and_infer(n, in, outs, d) < 0)
		return -1;
	Tensor **pout = calloc((size_t)n->n_out + 1, sizeof *pout);
	if (pout == NULL)
		return diag_error(d, "out of memory");
	int rc = 0;
	for (int i = 0; i < n->n_out && rc == 0; i++) {
		Shape s = outs[i].shape;
		rc = tensor_alloc(&outs[i], outs[i].dtype, &s, d);
		pout[i] = &outs[i];
	}
	/* Outputs with no elements need no work. Skipping the kernel also keeps it away from
	 * empty tensors whose other dims are huge (legal ONNX), where stride and buffer-size
	 * arithmetic that is safe for any tensor in memory would overflow. */
	bool all_empty = true;
	for (int i = 0; i < n->n_out && rc == 0; i++)
		all_empty &= tensor_numel(&outs[i]) == 0;
	if (rc == 0 && !all_empty)
		rc = op_info[n->op].ref(n, in, pout, d);
	if (rc < 0)
		for (int i = 0; i < n->n_out; i++)
			tensor_free(&outs[i]);
	free(pout);
	return rc;
}

int ref_eval_node(const Node *n, Tensor *outputs, Diag *d)
{
	Tensor *tin = calloc((size_t)n->n_in + 1, sizeof *tin);
	Tensor **pin = calloc((size_t)n->n_in + 1, sizeof *pin);
	int rc = -1;
	if (!tin || !pin) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < n->n_in; i++) {
		if (n->in[i] == NULL)
			continue;
		if (n->in[i]->data == NULL) {
			node_error(d, n, "input '%s' is not a constant", n->in[i]->name);
			goto out;
		}
		tin[i] = value_tensor(n->in[i]);
		pin[i] = &tin[i];
	}
	rc = exec_node(n, pin, outputs, d);
out:
	free(tin);
	free(pin);
	return rc;
}

static int check_input(const Value *v, const Tensor *t, Diag *d)
{
	if (dtype_compute_size(v->dtype) != dtype_compute_size(t->dtype) ||
	    dtype_is_float(v->dtype) != dtype_is_float(t->dtype))
		return diag_error(d, "input '%s': expected %s, got %s", v->name, dtype_name(v->dtype), dtype_name(t->dtype));
	if (v->shape.rank >= 0) {
		bool ok = v->shape.rank == t->shape.rank;
		for (int i = 0; ok && i < v->shape.rank; i++)
			ok = v->shape.dim[i] < 0 || v->shape.dim[i] == t->shape.dim[i];
		if (!ok) {
			char want[128], got[128];
			shape_str(&v->shape, want, sizeof want);
			shape_str(&t->shape, got, sizeof got);
			return diag_error(d, "input '%s': expected shape %s, got %s", v->name, want, got);
		}
	}
	return 0;
}

int ref_run(const Graph *g, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	return ref_run_observed(g, inputs, outputs, NULL, NULL, d);
}

int ref_run_observed(const Graph *g, const Tensor *inputs, Tensor *outputs, RefObserver observe, void *ctx, Diag *d)
{
	int nv = g->n_values;
	Tensor *rt = calloc((size_t)nv + 1, sizeof *rt);    /* run-time value of each Value */
	bool *owned = calloc((size_t)nv + 1, 1);             /* rt[i].data is ours to free */
	int *last_use = calloc((size_t)nv + 1, sizeof *last_use);
	int rc = -1;
	if (!rt || !owned || !last_use) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < nv; i++) {
		const Value *v = g->values[i];
		last_use[i] = -1;
		if (v->data)
			rt[i] = value_tensor(v);
		else if (v->elided && v->producer == NULL) {
			diag_error(d, "constant '%s' has no data (elided in the dump it came from)", v->name);
			goto out;
		}
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i]->n_in; j++)
			if (g->nodes[i]->in[j])
				last_use[g->nodes[i]->in[j]->id] = i;
	for (int i = 0; i < g->n_outputs; i++)
		last_use[g->outputs[i]->id] = g->n_nodes; /* never freed inside the loop */
	for (int i = 0; i < g->n_inputs; i++) {
		if (check_input(g->inputs[i], &inputs[i], d) < 0)
			goto out;
		rt[g->inputs[i]->id] = inputs[i];
		rt[g->inputs[i]->id].sparse = NULL; /* callers' tensors may leave it unset; only constants pack */
	}

	for (int k = 0; k < g->n_nodes; k++) {
		const Node *n = g->nodes[k];
		Tensor *pin[64], **pinp = pin;
		Tensor outs_buf[8], *outs = outs_buf;
		if (n->n_in > 64) {
			pinp = calloc((size_t)n->n_in, sizeof *pinp);
			if (pinp == NULL) {
				diag_error(d, "out of memory");
				goto out;
			}
		}
		if (n->n_out > 8) {
			outs = calloc((size_t)n->n_out, sizeof *outs);
			if (outs == NULL) {
				diag_error(d, "out of memory");
				goto out;
			}
		}
		bool missing = false;
		for (int j = 0; j < n->n_in; j++) {
			pinp[j] = n->in[j] ? &rt[n->in[j]->id] : NULL;
			if (pinp[j] && pinp[j]->data == NULL) {
				node_error(d, n, "input '%s' has no value", n->in[j]->name);
				missing = true;
			}
		}
		int r = missing ? -1 : exec_node(n, pinp, outs, d);
		if (r == 0)
			for (int j = 0; j < n->n_out; j++) {
				rt[n->out[j]->id] = outs[j];
				owned[n->out[j]->id] = true;
			}
		if (r == 0 && observe && observe(n, outs, ctx, d) < 0)
			r = -1; /* the observer's message is in d; outs are in rt[] and freed below */
		if (pinp != pin)
			free(pinp);
		if (outs != outs_buf)
			free(outs);
		if (r < 0)
			goto out;
		/* free what this node was the last reader of, and outputs nobody reads */
		for (int j = 0; j < n->n_in; j++) {
			const Value *v = n->in[j];
			if (v && last_use[v->id] == k && owned[v->id]) {
				tensor_free(&rt[v->id]);
				owned[v->id] = false;
			}
		}
		for (int j = 0; j < n->n_out; j++) {
			const Value *v = n->out[j];
			if (last_use[v->id] < 0 && owned[v->id]) {
				tensor_free(&rt[v->id]);
				owned[v->id] = false;
			}
		}
	}

	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		Tensor *t = &rt[v->id];
		if (owned[v->id] && t->data) {
			outputs[i] = *t;
			owned[v->id] = false;
			/* the same value may be listed twice as an output: copy for the second */
			t->data = NULL;
			for (int j = 0; j < i; j++)
				if (g->outputs[j] == v) {
					outputs[i].data = NULL;
					break;
				}
		} else {
			outputs[i].data = NULL;
		}
		if (outputs[i].data == NULL) {
			const Tensor *src = NULL;
			for (int j = 0; j < i; j++)
				if (g->outputs[j] == v)
					src = &outputs[j];
			if (src == NULL)
				src = t;
			if (src->data == NULL) {
				for (int j = 0; j < i; j++)
					tensor_free(&outputs[j]);
				diag_error(d, "output '%s' has no value", v->name);
				goto out;
			}
			if (tensor_alloc(&outputs[i], src->dtype, &src->shape, d) < 0) {
				for (int j = 0; j < i; j++)
					tensor_free(&outputs[j]);
				goto out;
			}
			memcpy(outputs[i].data, src->data, tensor_nbytes(src));
		}
	}
	rc = 0;
out:
	if (rt && owned)
		for (int i = 0; i < nv; i++)
			if (owned[i])
				tensor_free(&rt[i]);
	free(rt);
	free(owned);
	free(last_use);
	return rc;
}
