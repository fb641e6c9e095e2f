/* Shape and dtype inference for elementwise ops (broadcasting arithmetic, comparisons, Where,
 * unary ops, Clip, Cast, Identity, Dropout), Softmax/LogSoftmax, and reductions.
 *
 * Unknown stays unknown rather than failing: an input of unknown rank gives an output of
 * unknown rank, unknown dims (-1) propagate through broadcasting, and a Reduce whose axes are
 * not constant gets whatever its keepdims allows (the interpreter re-runs inference with the
 * run-time axes bound). Inputs must agree on their compute class (float or integer), which is
 * what the kernels need; the finer dtype of the output is that of the first data input. */
#include "nnzc/ir.h"

#define SHAPE_BUF 128

/* input i of n, which must be present */
static int need_input(Node *n, int i, Diag *d)
{
	if (i >= n->n_in || n->in[i] == NULL)
		return node_error(d, n, "input %d is missing", i);
	return 0;
}

static int class_mismatch(Node *n, int i, int j, Diag *d)
{
	return node_error(d, n, "input %d is %s but input %d is %s", i, dtype_name(n->in[i]->dtype), j,
			  dtype_name(n->in[j]->dtype));
}

/* acc = broadcast(acc, shape of input i), with both shapes in the message on failure */
static int broadcast_input(Node *n, Shape *acc, int i, Diag *d)
{
	Diag tmp = {0};
	Shape r;
	if (shape_broadcast(acc, &n->in[i]->shape, &r, &tmp) < 0) {
		char a[SHAPE_BUF], b[SHAPE_BUF];
		return node_error(d, n, "input %d of shape %s does not broadcast with shape %s", i,
				  shape_str(&n->in[i]->shape, b, sizeof b), shape_str(acc, a, sizeof a));
	}
	*acc = r;
	return 0;
}

/* Multidirectional broadcast of all inputs; out[0] gets dtype `dt`. */
static int infer_multi(Node *n, DType dt, Diag *d)
{
	for (int i = 0; i < n->n_in; i++)
		if (need_input(n, i, d) < 0)
			return -1;
	Shape s = n->in[0]->shape;
	for (int i = 1; i < n->n_in; i++)
		if (broadcast_input(n, &s, i, d) < 0)
			return -1;
	n->out[0]->dtype = dt;
	n->out[0]->shape = s;
	return 0;
}

/* PRelu: slope broadcasts to X (unidirectionally); the output has X's shape. */
static int infer_prelu(Node *n, Diag *d)
{
	const Shape *x = &n->in[0]->shape, *s = &n->in[1]->shape;
	Shape out = *x;
	if (x->rank >= 0 && s->rank >= 0) {
		bool ok = s->rank <= x->rank;
		for (int i = 0; ok && i < s->rank; i++) {
			int j = i + x->rank - s->rank;
			int64_t ds = s->dim[i], dx = x->dim[j];
			if (ds == 1 || ds < 0)
				continue;
			if (dx < 0)
				out.dim[j] = ds; /* X must have this size for the model to be valid */
			else
				ok = dx == ds;
		}
		if (!ok) {
			char a[SHAPE_BUF], b[SHAPE_BUF];
			return node_error(d, n, "slope of shape %s does not broadcast to X of shape %s",
					  shape_str(s, b, sizeof b), shape_str(x, a, sizeof a));
		}
	}
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = out;
	return 0;
}

/* Add, Sub, Mul, Div, Pow, PRelu, Min, Max, Sum, Mean */
int infer_broadcast(Node *n, Diag *d)
{
	for (int i = 0; i < n->n_in; i++) {
		if (need_input(n, i, d) < 0)
			return -1;
		/* Pow's exponent may be of any numeric type; every other op takes one type */
		if (n->op != OP_Pow && dtype_is_float(n->in[i]->dtype) != dtype_is_float(n->in[0]->dtype))
			return class_mismatch(n, i, 0, d);
	}
	if (n->op == OP_PRelu)
		return infer_prelu(n, d);
	return infer_multi(n, n->in[0]->dtype, d);
}

/* Equal, Less, Greater, LessOrEqual, GreaterOrEqual, And, Or: bool out */
int infer_compare(Node *n, Diag *d)
{
	for (int i = 0; i < n->n_in; i++) {
		if (need_input(n, i, d) < 0)
			return -1;
		if (dtype_is_float(n->in[i]->dtype) != dtype_is_float(n->in[0]->dtype))
			return class_mismatch(n, i, 0, d);
		if ((n->op == OP_And || n->op == OP_Or) && dtype_is_float(n->in[i]->dtype))
			return node_error(d, n, "input %d must be bool, got %s", i, dtype_name(n->in[i]->dtype));
	}
	return infer_multi(n, DT_BOOL, d);
}

int infer_where(Node *n, Diag *d)
{
	for (int i = 0; i < 3; i++)
		if (need_input(n, i, d) < 0)
			return -1;
	if (dtype_is_float(n->in[0]->dtype))
		return node_error(d, n, "condition must be bool, got %s", dtype_name(n->in[0]->dtype));
	if (dtype_is_float(n->in[1]->dtype) != dtype_is_float(n->in[2]->dtype))
		return class_mismatch(n, 1, 2, d);
	return infer_multi(n, n->in[1]->dtype, d);
}

/* Ops defined only on floating-point tensors (ONNX type constraints); the others here also
 * take integers, and Not takes bool only. */
static bool float_only(Op op)
{
	switch (op) {
	case OP_Sqrt: case OP_Exp: case OP_Log: case OP_Reciprocal: case OP_Erf: case OP_Floor:
	case OP_Ceil: case OP_Round: case OP_Sin: case OP_Cos: case OP_LeakyRelu: case OP_Elu:
	case OP_Selu: case OP_Sigmoid: case OP_Tanh: case OP_HardSigmoid: case OP_HardSwish:
	case OP_Softplus: case OP_Softsign: case OP_Softmax: case OP_LogSoftmax:
		return true;
	default:
		return false;
	}
}

/* Clip's optional bound i: same class as X, one element */
static int check_clip_bound(Node *n, int i, Diag *d)
{
	if (i >= n->n_in || n->in[i] == NULL)
		return 0;
	const Value *b = n->in[i];
	if (dtype_is_float(b->dtype) != dtype_is_float(n->in[0]->dtype))
		return class_mismatch(n, i, 0, d);
	int64_t numel = shape_numel(&b->shape);
	if (numel >= 0 && numel != 1) {
		char s[SHAPE_BUF];
		return node_error(d, n, "%s must be a scalar, got shape %s", i == 1 ? "min" : "max",
				  shape_str(&b->shape, s, sizeof s));
	}
	return 0;
}

/* Same dtype and shape as the input: unary math and activations, Clip, Identity, Softmax. */
int infer_unary(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	bool fl = dtype_is_float(x->dtype);
	if (float_only(n->op) && !fl)
		return node_error(d, n, "takes a floating-point tensor, got %s", dtype_name(x->dtype));
	if (n->op == OP_Not && fl)
		return node_error(d, n, "takes a bool tensor, got %s", dtype_name(x->dtype));
	if (n->op == OP_Clip && (check_clip_bound(n, 1, d) < 0 || check_clip_bound(n, 2, d) < 0))
		return -1;
	if ((n->op == OP_Softmax || n->op == OP_LogSoftmax) && x->shape.rank >= 0) {
		int64_t a = n->attr.axis.axis;
		int r = x->shape.rank;
		if (a < -r || a >= r) {
			char s[SHAPE_BUF];
			return node_error(d, n, "axis %lld is out of range for input of shape %s", (long long)a,
					  shape_str(&x->shape, s, sizeof s));
		}
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = x->shape;
	return 0;
}

int infer_cast(Node *n, Diag *d)
{
	DType to = n->attr.cast.to;
	if (to <= DT_UNDEFINED || to >= DT_COUNT)
		return node_error(d, n, "cannot cast to dtype %d", (int)to);
	n->out[0]->dtype = to;
	n->out[0]->shape = n->in[0]->shape;
	return 0;
}

/* Output = input; the optional mask has the input's shape and is bool. */
int infer_dropout(Node *n, Diag *d)
{
	const Value *ratio = n->n_in > 1 ? n->in[1] : NULL;
	if (ratio && ratio->data && shape_numel(&ratio->shape) == 1) {
		Tensor t = value_tensor(ratio);
		double r = tensor_get_f(&t, 0);
		if (!(r >= 0 && r < 1))
			return node_error(d, n, "ratio %g is not in [0, 1)", r);
	}
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = n->in[0]->shape;
	if (n->n_out > 1 && n->out[1]) {
		n->out[1]->dtype = DT_BOOL;
		n->out[1]->shape = n->in[0]->shape;
	}
	return 0;
}

/* Reduce*: axes is the optional input 1 (int64; empty or absent: every axis, or none with
 * noop_with_empty_axes). */
int infer_reduce(Node *n, Diag *d)
{
	const Value *x = n->in[0], *axes = n->n_in > 1 ? n->in[1] : NULL;
	const ReduceAttrs *a = &n->attr.reduce;
	int r = x->shape.rank;
	Value *y = n->out[0];
	y->dtype = x->dtype;
	int64_t k = axes ? shape_numel(&axes->shape) : 0; /* -1: unknown count */
	if (axes && dtype_is_float(axes->dtype))
		return node_error(d, n, "axes must be int64, got %s", dtype_name(axes->dtype));
	if (k == 0 && a->noop_with_empty_axes) {
		y->shape = x->shape;
		return 0;
	}
	if (r < 0) {
		y->shape = shape_unknown();
		return 0;
	}
	bool mask[NNZC_MAX_RANK] = {false};
	if (k == 0) {
		for (int i = 0; i < r; i++)
			mask[i] = true;
	} else if (axes->data) {
		Tensor t = value_tensor(axes);
		for (int64_t i = 0; i < k; i++) {
			int64_t v = tensor_get_i(&t, i);
			if (v < -r || v >= r) {
				char s[SHAPE_BUF];
				return node_error(d, n, "axis %lld is out of range for input of shape %s", (long long)v,
						  shape_str(&x->shape, s, sizeof s));
			}
			int ax = (int)(v < 0 ? v + r : v);
			if (mask[ax])
				return node_error(d, n, "axis %lld appears twice in axes", (long long)v);
			mask[ax] = true;
		}
	} else {
		/* axes known only at run time: each dim either stays or becomes 1 */
		if (a->keepdims) {
			Shape s = shape_make(r, NULL);
			for (int i = 0; i < r; i++)
				s.dim[i] = x->shape.dim[i] == 1 ? 1 : -1;
			y->shape = s;
		} else if (k > 0 && k <= r) {
			y->shape = shape_make(r - (int)k, NULL); /* k distinct axes go */
		} else if (k > r) {
			return node_error(d, n, "%lld axes for an input of rank %d", (long long)k, r);
		} else {
			y->shape = shape_unknown();
		}
		return 0;
	}
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < r; i++) {
		if (!mask[i])
			s.dim[s.rank++] = x->shape.dim[i];
		else if (a->keepdims)
			s.dim[s.rank++] = 1;
	}
	y->shape = s;
	return 0;
}

/* ArgMax, ArgMin: int64 indices, the axis removed or kept as 1 */
int infer_arg_reduce(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	const ArgReduceAttrs *a = &n->attr.arg_reduce;
	Value *y = n->out[0];
	y->dtype = DT_I64;
	int r = x->shape.rank;
	if (r < 0) {
		y->shape = shape_unknown();
		return 0;
	}
	if (a->axis < -r || a->axis >= r) {
		char s[SHAPE_BUF];
		return node_error(d, n, "axis %lld is out of range for input of shape %s", (long long)a->axis,
				  shape_str(&x->shape, s, sizeof s));
	}
	int ax = (int)(a->axis < 0 ? a->axis + r : a->axis);
	Shape s = shape_make(0, NULL);
	for (int i = 0; i < r; i++) {
		if (i != ax)
			s.dim[s.rank++] = x->shape.dim[i];
		else if (a->keepdims)
			s.dim[s.rank++] = 1;
	}
	y->shape = s;
	return 0;
}
