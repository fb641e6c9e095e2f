/* Shape and dtype inference for data movement and shape arithmetic: Flatten, Reshape, Squeeze,
 * Unsqueeze, Transpose, Concat, Split, Slice, Gather, Shape, Size, ConstantOfShape, Expand, Tile,
 * Range, Pad, Resize.
 *
 * Most of these ops take their shape from *constant* inputs (target shape, axes, starts, pads,
 * scales...), read in the integer compute class (int64) or, for Resize scales and roi, the
 * float class. When such an input is not constant yet the output gets the best partial answer
 * (known rank with unknown dims, or unknown rank) and inference succeeds: the interpreter binds
 * run-time values and asks again, and shape-infer folds the shape arithmetic that feeds them.
 * Everything read from data is validated here, because the kernels trust these shapes. Pad and
 * Resize also keep here the per-axis arithmetic that follows from their parameters (pad_source,
 * resize_taps), so that the interpreter and the cpu target agree by construction. */
#include "nnzc/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Ops that make a tensor from a shape (ConstantOfShape, Expand, Tile, Range, Pad, Resize) can be
 * told by a few bytes of a hostile file to create petabytes. Real models stay far below this
 * bound (16 GiB of floats); beyond it the answer is an error naming the node, not an attempt. */
#define MAX_CREATED_ELEMENTS ((int64_t)1 << 32)

/* ---------------------------------------------------------------- helpers */

static void set_out(Node *n, int i, DType t, const Shape *s)
{
	if (n->out[i] == NULL)
		return;
	n->out[i]->dtype = t;
	n->out[i]->shape = *s;
}

/* Tensor views of the inputs: ptr[i] NULL for an omitted input, data NULL while unknown. */
static void input_views(const Node *n, Tensor *view, const Tensor **ptr, int cap)
{
	for (int i = 0; i < cap; i++) {
		ptr[i] = NULL;
		if (i < n->n_in && n->in[i]) {
			view[i] = value_tensor(n->in[i]);
			ptr[i] = &view[i];
		}
	}
}

static bool known(const Tensor *t) { return t != NULL && t->data != NULL; }

/* Number of elements of a 1-D (or scalar) tensor whose shape is known; -1 otherwise. */
static int64_t vec_len(const Tensor *t)
{
	if (t->shape.rank == 0)
		return 1;
	if (t->shape.rank == 1)
		return t->shape.dim[0];
	return -1;
}

/* "an empty tensor given for an optional input" counts as omitted (exporters do that). */
static bool is_empty(const Tensor *t) { return t != NULL && shape_numel(&t->shape) == 0; }

static char *ints_str(const int64_t *v, int n, char *buf, size_t cap)
{
	size_t k = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < n && k < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", (long long)v[i]);
	if (k < cap)
		snprintf(buf + k, cap - k, "]");
	return buf;
}

/* Copy a known 1-D (or scalar) integer tensor of at most max values into v. */
static int read_ints(const Node *n, const Tensor *t, const char *what, int max, int64_t *v, int *count, Diag *d)
{
	if (dtype_is_float(t->dtype))
		return node_error(d, n, "%s must be an integer tensor, not %s", what, dtype_name(t->dtype));
	if (t->shape.rank > 1)
		return node_error(d, n, "%s must be 1-D, has rank %d", what, t->shape.rank);
	int64_t k = shape_numel(&t->shape);
	if (k < 0 || k > max)
		return node_error(d, n, "%s has %lld values, at most %d are allowed", what, (long long)k, max);
	if (k > 0)
		memcpy(v, t->data, (size_t)k * sizeof *v);
	*count = (int)k;
	return 0;
}

static int check_int_input(const Node *n, int i, const char *what, Diag *d)
{
	const Value *v = n->in[i];
	if (v && dtype_is_float(v->dtype))
		return node_error(d, n, "%s must be an integer tensor, not %s", what, dtype_name(v->dtype));
	if (v && v->shape.rank > 1)
		return node_error(d, n, "%s must be 1-D, has rank %d", what, v->shape.rank);
	return 0;
}

/* created: the op makes the tensor from a shape rather than from data of that size */
static int check_numel(const Node *n, const Shape *s, bool created, Diag *d)
{
	int64_t m = shape_numel(s);
	char buf[256];
	if (m == -2)
		return node_error(d, n, "output shape %s has too many elements", shape_str(s, buf, sizeof buf));
	if (created && m > MAX_CREATED_ELEMENTS)
		return node_error(d, n, "output shape %s has %lld elements, more than the %lld allowed for a created tensor",
				  shape_str(s, buf, sizeof buf), (long long)m, (long long)MAX_CREATED_ELEMENTS);
	return 0;
}

/* Normalise axis against rank with a node-named message. */
static int norm_axis(const Node *n, int64_t axis, int rank, int *out, Diag *d)
{
	*out = 0; /* set on every path: gcc -O2 cannot see that callers only read it on success */
	if (axis < -rank || axis >= rank)
		return node_error(d, n, "axis %lld out of range for rank %d", (long long)axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

/* Product of dims [lo, hi): -1 if one is unknown, -2 on overflow. */
static int64_t dims_product(const Shape *s, int lo, int hi)
{
	int64_t p = 1;
	bool unknown = false;
	for (int i = lo; i < hi; i++) {
		if (s->dim[i] < 0)
			unknown = true;
		else if (!mul_ok_i64(p, s->dim[i], &p))
			return -2;
	}
	return unknown ? -1 : p;
}

static bool add_ok_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* ---------------------------------------------------------------- Flatten, Reshape, Squeeze, Unsqueeze */

int infer_flatten(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Shape out = shape_make(2, NULL);
	if (x->shape.rank >= 0) {
		int r = x->shape.rank;
		int64_t axis = n->attr.axis.axis;
		if (axis < -r || axis > r)
			return node_error(d, n, "axis %lld out of range for rank %d", (long long)axis, r);
		int a = (int)(axis < 0 ? axis + r : axis);
		out.dim[0] = dims_product(&x->shape, 0, a);
		out.dim[1] = dims_product(&x->shape, a, r);
		if (out.dim[0] == -2 || out.dim[1] == -2)
			return node_error(d, n, "input shape has too many elements");
	}
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_reshape(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	if (check_int_input(n, 1, "shape", d) < 0)
		return -1;
	if (!known(in[1])) {
		int64_t k = vec_len(in[1]);
		if (k > NNZC_MAX_RANK)
			return node_error(d, n, "target shape has %lld dims, at most %d are supported", (long long)k,
					  NNZC_MAX_RANK);
		Shape out = k >= 0 ? shape_make((int)k, NULL) : shape_unknown();
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int64_t req[NNZC_MAX_RANK];
	int k;
	if (read_ints(n, in[1], "shape", NNZC_MAX_RANK, req, &k, d) < 0)
		return -1;
	bool allowzero = n->attr.reshape.allowzero != 0;
	char sbuf[256], xbuf[256];
	Shape out = shape_make(k, NULL);
	int infer_at = -1;
	bool has_zero = false;
	for (int i = 0; i < k; i++) {
		if (req[i] == -1) {
			if (infer_at >= 0)
				return node_error(d, n, "target shape %s has more than one -1", ints_str(req, k, sbuf, sizeof sbuf));
			infer_at = i;
		} else if (req[i] < -1) {
			return node_error(d, n, "target shape %s has a negative dim", ints_str(req, k, sbuf, sizeof sbuf));
		} else if (req[i] == 0 && !allowzero) {
			if (x->shape.rank >= 0 && i >= x->shape.rank)
				return node_error(d, n, "target shape %s copies dim %d (0) but the input %s has rank %d",
						  ints_str(req, k, sbuf, sizeof sbuf), i, shape_str(&x->shape, xbuf, sizeof xbuf),
						  x->shape.rank);
			out.dim[i] = x->shape.rank >= 0 ? x->shape.dim[i] : -1;
		} else {
			has_zero |= req[i] == 0;
			out.dim[i] = req[i];
		}
	}
	if (allowzero && has_zero && infer_at >= 0)
		return node_error(d, n, "target shape %s has both 0 and -1, which allowzero=1 forbids",
				  ints_str(req, k, sbuf, sizeof sbuf));
	int64_t total = shape_numel(&x->shape); /* -1 unknown, -2 overflow */
	if (total == -2)
		return node_error(d, n, "input shape %s has too many elements", shape_str(&x->shape, xbuf, sizeof xbuf));
	int64_t rest = 1;
	bool rest_known = true;
	for (int i = 0; i < k; i++) {
		if (i == infer_at)
			continue;
		if (out.dim[i] < 0)
			rest_known = false;
		else if (!mul_ok_i64(rest, out.dim[i], &rest))
			return node_error(d, n, "target shape %s has too many elements", ints_str(req, k, sbuf, sizeof sbuf));
	}
	if (infer_at >= 0) {
		if (total >= 0 && rest_known) {
			if (rest == 0 || total % rest != 0)
				return node_error(d, n, "cannot reshape input %s to %s: no value for -1 fits",
						  shape_str(&x->shape, xbuf, sizeof xbuf), ints_str(req, k, sbuf, sizeof sbuf));
			out.dim[infer_at] = total / rest;
		}
	} else if (total >= 0 && rest_known && rest != total) {
		return node_error(d, n, "cannot reshape input %s (%lld elements) to %s (%lld elements)",
				  shape_str(&x->shape, xbuf, sizeof xbuf), (long long)total, ints_str(req, k, sbuf, sizeof sbuf),
				  (long long)rest);
	}
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_squeeze(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	int r = x->shape.rank;
	Shape out = shape_unknown();
	if (in[1] && !is_empty(in[1])) {
		if (check_int_input(n, 1, "axes", d) < 0)
			return -1;
		if (!known(in[1])) {
			int64_t k = vec_len(in[1]);
			if (r >= 0 && k >= 0 && k <= r)
				out = shape_make(r - (int)k, NULL);
			set_out(n, 0, x->dtype, &out);
			return 0;
		}
		int64_t axes[NNZC_MAX_RANK];
		int k;
		if (read_ints(n, in[1], "axes", NNZC_MAX_RANK, axes, &k, d) < 0)
			return -1;
		if (r < 0) {
			set_out(n, 0, x->dtype, &out);
			return 0;
		}
		bool drop[NNZC_MAX_RANK] = {false};
		for (int i = 0; i < k; i++) {
			int a;
			if (norm_axis(n, axes[i], r, &a, d) < 0)
				return -1;
			if (drop[a])
				return node_error(d, n, "axis %d is listed twice", a);
			if (x->shape.dim[a] >= 0 && x->shape.dim[a] != 1)
				return node_error(d, n, "cannot squeeze axis %d of size %lld", a, (long long)x->shape.dim[a]);
			drop[a] = true;
		}
		out = shape_make(0, NULL);
		for (int i = 0; i < r; i++)
			if (!drop[i])
				out.dim[out.rank++] = x->shape.dim[i];
	} else if (shape_is_static(&x->shape)) {
		/* no axes: every dim of size 1 goes, which needs every dim known */
		out = shape_make(0, NULL);
		for (int i = 0; i < r; i++)
			if (x->shape.dim[i] != 1)
				out.dim[out.rank++] = x->shape.dim[i];
	}
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_unsqueeze(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	int r = x->shape.rank;
	Shape out = shape_unknown();
	if (check_int_input(n, 1, "axes", d) < 0)
		return -1;
	if (!known(in[1])) {
		int64_t k = vec_len(in[1]);
		if (r >= 0 && k >= 0) {
			if (k > NNZC_MAX_RANK - r) /* k comes from a declared shape: never add it first */
				return node_error(d, n, "%lld axes on a rank-%d input exceed rank %d", (long long)k, r,
						  NNZC_MAX_RANK);
			out = shape_make(r + (int)k, NULL);
		}
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int64_t axes[NNZC_MAX_RANK];
	int k;
	if (read_ints(n, in[1], "axes", NNZC_MAX_RANK, axes, &k, d) < 0)
		return -1;
	if (r < 0) {
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int orank = r + k;
	if (orank > NNZC_MAX_RANK)
		return node_error(d, n, "output rank %d exceeds %d", orank, NNZC_MAX_RANK);
	bool ins[NNZC_MAX_RANK] = {false};
	for (int i = 0; i < k; i++) {
		int a;
		if (norm_axis(n, axes[i], orank, &a, d) < 0)
			return -1;
		if (ins[a])
			return node_error(d, n, "axis %d is listed twice", a);
		ins[a] = true;
	}
	out = shape_make(orank, NULL);
	for (int i = 0, j = 0; i < orank; i++)
		out.dim[i] = ins[i] ? 1 : x->shape.dim[j++];
	set_out(n, 0, x->dtype, &out);
	return 0;
}

/* ---------------------------------------------------------------- Transpose, Concat, Split */

int infer_transpose(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	const Ints *perm = &n->attr.transpose.perm;
	int r = x->shape.rank;
	if (r < 0) {
		Shape out = perm->n > 0 ? shape_make(perm->n, NULL) : shape_unknown();
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	Shape out = shape_make(r, NULL);
	if (perm->n == 0) {
		for (int i = 0; i < r; i++)
			out.dim[i] = x->shape.dim[r - 1 - i];
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	char buf[256];
	if (perm->n != r)
		return node_error(d, n, "perm %s has %d entries for an input of rank %d",
				  ints_str(perm->v, perm->n, buf, sizeof buf), perm->n, r);
	bool seen[NNZC_MAX_RANK] = {false};
	for (int i = 0; i < r; i++) {
		int64_t p = perm->v[i];
		if (p < 0 || p >= r || seen[p])
			return node_error(d, n, "perm %s is not a permutation of 0..%d",
					  ints_str(perm->v, perm->n, buf, sizeof buf), r - 1);
		seen[p] = true;
		out.dim[i] = x->shape.dim[p];
	}
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_concat(Node *n, Diag *d)
{
	const Value *x0 = n->in[0];
	int r = -1;
	for (int i = 0; i < n->n_in; i++) {
		const Value *v = n->in[i];
		if (v == NULL)
			return node_error(d, n, "input %d is missing", i);
		if (dtype_is_float(v->dtype) != dtype_is_float(x0->dtype))
			return node_error(d, n, "input %d is %s but input 0 is %s", i, dtype_name(v->dtype),
					  dtype_name(x0->dtype));
		if (v->shape.rank < 0)
			continue;
		if (r >= 0 && v->shape.rank != r)
			return node_error(d, n, "input %d has rank %d, input ranks differ (%d)", i, v->shape.rank, r);
		r = v->shape.rank;
	}
	if (r < 0) {
		Shape out = shape_unknown();
		set_out(n, 0, x0->dtype, &out);
		return 0;
	}
	int axis;
	if (norm_axis(n, n->attr.axis.axis, r, &axis, d) < 0)
		return -1;
	Shape out = shape_make(r, NULL);
	int64_t sum = 0;
	bool sum_known = true;
	for (int i = 0; i < n->n_in; i++) {
		const Shape *s = &n->in[i]->shape;
		if (s->rank < 0) {
			sum_known = false;
			continue;
		}
		for (int k = 0; k < r; k++) {
			if (k == axis)
				continue;
			if (s->dim[k] >= 0 && out.dim[k] >= 0 && s->dim[k] != out.dim[k]) {
				char a[256], b[256];
				return node_error(d, n, "input %d has shape %s, incompatible with %s off axis %d", i,
						  shape_str(s, a, sizeof a), shape_str(&n->in[0]->shape, b, sizeof b), axis);
			}
			if (s->dim[k] >= 0)
				out.dim[k] = s->dim[k];
		}
		if (s->dim[axis] < 0)
			sum_known = false;
		else if (!add_ok_i64(sum, s->dim[axis], &sum))
			return node_error(d, n, "concatenated axis overflows");
	}
	out.dim[axis] = sum_known ? sum : -1;
	if (check_numel(n, &out, false, d) < 0)
		return -1;
	set_out(n, 0, x0->dtype, &out);
	return 0;
}

int infer_split(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	int r = x->shape.rank;
	int nout = n->n_out;
	int64_t num_outputs = n->attr.split.num_outputs;
	bool have_split = in[1] && !is_empty(in[1]);
	if (have_split && check_int_input(n, 1, "split", d) < 0)
		return -1;
	if (have_split && num_outputs != 0)
		return node_error(d, n, "split and num_outputs are both given");
	if (!have_split && num_outputs != 0 && num_outputs != nout)
		return node_error(d, n, "num_outputs is %lld but the node has %d outputs", (long long)num_outputs, nout);
	if (r < 0) {
		Shape out = shape_unknown();
		for (int i = 0; i < nout; i++)
			set_out(n, i, x->dtype, &out);
		return 0;
	}
	int axis;
	if (norm_axis(n, n->attr.split.axis, r, &axis, d) < 0)
		return -1;
	int64_t dim = x->shape.dim[axis];
	Shape out = x->shape;
	if (have_split && !known(in[1])) {
		int64_t k = vec_len(in[1]);
		if (k >= 0 && k != nout)
			return node_error(d, n, "split has %lld values for %d outputs", (long long)k, nout);
		out.dim[axis] = -1;
		for (int i = 0; i < nout; i++)
			set_out(n, i, x->dtype, &out);
		return 0;
	}
	if (have_split) {
		if (dtype_is_float(in[1]->dtype) || in[1]->shape.rank > 1)
			return node_error(d, n, "split must be a 1-D integer tensor");
		int64_t k = shape_numel(&in[1]->shape);
		if (k != nout)
			return node_error(d, n, "split has %lld values for %d outputs", (long long)k, nout);
		const int64_t *sp = in[1]->data;
		int64_t sum = 0;
		for (int i = 0; i < nout; i++) {
			if (sp[i] < 0 || !add_ok_i64(sum, sp[i], &sum))
				return node_error(d, n, "split value %d is %lld", i, (long long)sp[i]);
		}
		if (dim >= 0 && sum != dim)
			return node_error(d, n, "split sizes sum to %lld but axis %d has size %lld", (long long)sum, axis,
					  (long long)dim);
		for (int i = 0; i < nout; i++) {
			out.dim[axis] = sp[i];
			set_out(n, i, x->dtype, &out);
		}
		return 0;
	}
	/* equal parts; an uneven last part is smaller (opset 18 num_outputs rule) */
	int64_t chunk = dim >= 0 ? dim / nout + (dim % nout != 0) : -1, before_last = 0;
	if (dim >= 0 && (!mul_ok_i64(chunk, nout - 1, &before_last) || before_last > dim))
		return node_error(d, n, "cannot split axis %d of size %lld into %d parts", axis, (long long)dim, nout);
	for (int i = 0; i < nout; i++) {
		out.dim[axis] = dim < 0 ? -1 : i < nout - 1 ? chunk : dim - before_last;
		set_out(n, i, x->dtype, &out);
	}
	return 0;
}

/* ---------------------------------------------------------------- Slice */

int slice_params(const Node *n, const Shape *x, const Tensor *const *in, SliceParams *p, Diag *d)
{
	int r = x->rank;
	if (r < 0) {
		p->out = shape_unknown();
		return 1;
	}
	p->out = *x;
	for (int i = 0; i < r; i++) {
		p->start[i] = 0;
		p->step[i] = 1;
	}
	const Tensor *starts = in[1], *ends = in[2];
	const Tensor *axes_t = n->n_in > 3 ? in[3] : NULL, *steps_t = n->n_in > 4 ? in[4] : NULL;
	if (axes_t && is_empty(axes_t) && !is_empty(starts))
		return node_error(d, n, "axes is empty but starts is not");
	int64_t axes[NNZC_MAX_RANK];
	int k = -1;
	if (known(axes_t)) {
		if (read_ints(n, axes_t, "axes", r, axes, &k, d) < 0)
			return -1;
	}
	if (!known(starts) || !known(ends) || (axes_t && !known(axes_t)) || (steps_t && !known(steps_t))) {
		/* mark what may change unknown: the listed axes, else the leading len(starts) */
		if (k < 0 && axes_t) {
			for (int i = 0; i < r; i++)
				p->out.dim[i] = -1;
			return 1;
		}
		if (k < 0) {
			int64_t len = vec_len(starts);
			k = len >= 0 && len <= r ? (int)len : r;
			for (int i = 0; i < k; i++)
				axes[i] = i;
		}
		for (int i = 0; i < k; i++) {
			int a;
			if (norm_axis(n, axes[i], r, &a, d) < 0)
				return -1;
			p->out.dim[a] = -1;
		}
		return 1;
	}
	int64_t st[NNZC_MAX_RANK], en[NNZC_MAX_RANK], sp[NNZC_MAX_RANK];
	int ks, ke, kp;
	if (read_ints(n, starts, "starts", r, st, &ks, d) < 0 || read_ints(n, ends, "ends", r, en, &ke, d) < 0)
		return -1;
	if (ke != ks)
		return node_error(d, n, "starts has %d values but ends has %d", ks, ke);
	if (k >= 0 && k != ks)
		return node_error(d, n, "starts has %d values but axes has %d", ks, k);
	if (k < 0) {
		k = ks;
		for (int i = 0; i < k; i++)
			axes[i] = i;
	}
	if (steps_t && !is_empty(steps_t)) {
		if (read_ints(n, steps_t, "steps", r, sp, &kp, d) < 0)
			return -1;
		if (kp != ks)
			return node_error(d, n, "starts has %d values but steps has %d", ks, kp);
	} else {
		for (int i = 0; i < k; i++)
			sp[i] = 1;
	}
	bool seen[NNZC_MAX_RANK] = {false}, resolved = true;
	for (int i = 0; i < k; i++) {
		int a;
		if (norm_axis(n, axes[i], r, &a, d) < 0)
			return -1;
		if (seen[a])
			return node_error(d, n, "axis %d is listed twice", a);
		seen[a] = true;
		int64_t step = sp[i], dim = x->dim[a];
		if (step == 0)
			return node_error(d, n, "step for axis %d is 0", a);
		if (dim < 0) {
			p->out.dim[a] = -1;
			resolved = false;
			continue;
		}
		/* the spec's clamping: negative values count from the end, then into the range that
		 * copying 0..dim elements in the step's direction needs */
		int64_t s = st[i] < 0 ? st[i] + dim : st[i];
		int64_t e = en[i] < 0 ? en[i] + dim : en[i];
		int64_t len;
		if (step > 0) {
			s = s < 0 ? 0 : s > dim ? dim : s;
			e = e < 0 ? 0 : e > dim ? dim : e;
			len = e > s ? (e - s - 1) / step + 1 : 0;
		} else {
			s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
			e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
			int64_t mag = step == INT64_MIN ? INT64_MAX : -step;
			len = dim > 0 && s > e ? (s - e - 1) / mag + 1 : 0;
		}
		p->out.dim[a] = len;
		p->start[a] = len > 0 ? s : 0;
		/* a step only matters between two elements; keeping huge ones out spares the kernel
		 * from overflowing stride arithmetic */
		p->step[a] = len > 1 ? step : 1;
	}
	return resolved ? 0 : 1;
}

int infer_slice(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[5];
	const Tensor *in[5];
	input_views(n, view, in, 5);
	for (int i = 1; i < n->n_in; i++) {
		static const char *const names[] = {"", "starts", "ends", "axes", "steps"};
		if (check_int_input(n, i, names[i], d) < 0)
			return -1;
	}
	SliceParams p;
	if (slice_params(n, &x->shape, in, &p, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &p.out);
	return 0;
}

/* ---------------------------------------------------------------- Gather */

int infer_gather(Node *n, Diag *d)
{
	const Value *x = n->in[0], *idx = n->in[1];
	if (dtype_is_float(idx->dtype))
		return node_error(d, n, "indices must be an integer tensor, not %s", dtype_name(idx->dtype));
	int r = x->shape.rank, q = idx->shape.rank;
	if (r == 0)
		return node_error(d, n, "data must have rank >= 1");
	Shape out = shape_unknown();
	if (r < 0 || q < 0) {
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int axis;
	if (norm_axis(n, n->attr.axis.axis, r, &axis, d) < 0)
		return -1;
	if (r + q - 1 > NNZC_MAX_RANK)
		return node_error(d, n, "output rank %d exceeds %d", r + q - 1, NNZC_MAX_RANK);
	out = shape_make(r + q - 1, NULL);
	int k = 0;
	for (int i = 0; i < axis; i++)
		out.dim[k++] = x->shape.dim[i];
	for (int i = 0; i < q; i++)
		out.dim[k++] = idx->shape.dim[i];
	for (int i = axis + 1; i < r; i++)
		out.dim[k++] = x->shape.dim[i];
	int64_t dim = x->shape.dim[axis];
	if (idx->data && dim >= 0) { /* constant indices: reject bad ones now rather than at run time */
		int64_t m = shape_numel(&idx->shape);
		const int64_t *iv = idx->data;
		for (int64_t i = 0; i < m; i++)
			if (iv[i] < -dim || iv[i] >= dim)
				return node_error(d, n, "index %lld out of range for axis %d of size %lld", (long long)iv[i],
						  axis, (long long)dim);
	}
	if (check_numel(n, &out, false, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

/* ---------------------------------------------------------------- Shape, Size, ConstantOfShape */

int infer_shape_op(Node *n, Diag *d)
{
	(void)d;
	int r = n->in[0]->shape.rank;
	Shape out = shape_make(1, NULL);
	if (r >= 0) {
		int64_t s = n->attr.shape.start, e = n->attr.shape.end;
		if (s < 0)
			s += r;
		if (e < 0)
			e += r;
		s = s < 0 ? 0 : s > r ? r : s;
		e = e < 0 ? 0 : e > r ? r : e;
		out.dim[0] = e > s ? e - s : 0;
	}
	set_out(n, 0, DT_I64, &out);
	return 0;
}

int infer_size_op(Node *n, Diag *d)
{
	(void)d;
	Shape out = shape_make(0, NULL);
	set_out(n, 0, DT_I64, &out);
	return 0;
}

int infer_constant_of_shape(Node *n, Diag *d)
{
	Tensor view[1];
	const Tensor *in[1];
	input_views(n, view, in, 1);
	DType t = n->attr.constant_of_shape.value.dtype;
	if (t == DT_UNDEFINED)
		t = DT_F32;
	if (check_int_input(n, 0, "shape", d) < 0)
		return -1;
	if (!known(in[0])) {
		int64_t k = vec_len(in[0]);
		if (k > NNZC_MAX_RANK)
			return node_error(d, n, "shape has %lld dims, at most %d are supported", (long long)k, NNZC_MAX_RANK);
		Shape out = k >= 0 ? shape_make((int)k, NULL) : shape_unknown();
		set_out(n, 0, t, &out);
		return 0;
	}
	int64_t dims[NNZC_MAX_RANK];
	int k;
	if (read_ints(n, in[0], "shape", NNZC_MAX_RANK, dims, &k, d) < 0)
		return -1;
	char buf[256];
	for (int i = 0; i < k; i++)
		if (dims[i] < 0)
			return node_error(d, n, "shape %s has a negative dim", ints_str(dims, k, buf, sizeof buf));
	Shape out = shape_make(k, dims);
	if (check_numel(n, &out, true, d) < 0)
		return -1;
	set_out(n, 0, t, &out);
	return 0;
}

/* ---------------------------------------------------------------- Expand, Tile */

int infer_expand(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	if (check_int_input(n, 1, "shape", d) < 0)
		return -1;
	if (!known(in[1])) {
		int64_t k = vec_len(in[1]);
		Shape out = shape_unknown();
		if (k > NNZC_MAX_RANK)
			return node_error(d, n, "shape has %lld dims, at most %d are supported", (long long)k, NNZC_MAX_RANK);
		if (k >= 0 && x->shape.rank >= 0)
			out = shape_make(k > x->shape.rank ? (int)k : x->shape.rank, NULL);
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int64_t dims[NNZC_MAX_RANK];
	int k;
	if (read_ints(n, in[1], "shape", NNZC_MAX_RANK, dims, &k, d) < 0)
		return -1;
	char buf[256], xbuf[256];
	for (int i = 0; i < k; i++)
		if (dims[i] < 0)
			return node_error(d, n, "shape %s has a negative dim", ints_str(dims, k, buf, sizeof buf));
	Shape want = shape_make(k, dims), out;
	Diag tmp = {0};
	if (shape_broadcast(&x->shape, &want, &out, &tmp) < 0)
		return node_error(d, n, "cannot expand %s to %s: %s", shape_str(&x->shape, xbuf, sizeof xbuf),
				  ints_str(dims, k, buf, sizeof buf), tmp.msg);
	if (check_numel(n, &out, true, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_tile(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[2];
	const Tensor *in[2];
	input_views(n, view, in, 2);
	int r = x->shape.rank;
	if (check_int_input(n, 1, "repeats", d) < 0)
		return -1;
	if (!known(in[1]) || r < 0) {
		Shape out = r >= 0 ? shape_make(r, NULL) : shape_unknown();
		set_out(n, 0, x->dtype, &out);
		return 0;
	}
	int64_t rep[NNZC_MAX_RANK];
	int k;
	if (read_ints(n, in[1], "repeats", NNZC_MAX_RANK, rep, &k, d) < 0)
		return -1;
	char buf[256];
	if (k != r)
		return node_error(d, n, "repeats %s has %d values for an input of rank %d", ints_str(rep, k, buf, sizeof buf),
				  k, r);
	Shape out = shape_make(r, NULL);
	for (int i = 0; i < r; i++) {
		if (rep[i] < 0)
			return node_error(d, n, "repeats %s has a negative value", ints_str(rep, k, buf, sizeof buf));
		if (x->shape.dim[i] >= 0 && !mul_ok_i64(x->shape.dim[i], rep[i], &out.dim[i]))
			return node_error(d, n, "tiling axis %d (%lld) by %lld overflows", i, (long long)x->shape.dim[i],
					  (long long)rep[i]);
	}
	if (check_numel(n, &out, true, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

/* ---------------------------------------------------------------- Range */

int infer_range(Node *n, Diag *d)
{
	const Value *v[3] = {n->in[0], n->in[1], n->in[2]};
	static const char *const names[] = {"start", "limit", "delta"};
	for (int i = 0; i < 3; i++) {
		if (dtype_is_float(v[i]->dtype) != dtype_is_float(v[0]->dtype))
			return node_error(d, n, "%s is %s but start is %s", names[i], dtype_name(v[i]->dtype),
					  dtype_name(v[0]->dtype));
		if (v[i]->shape.rank > 1 || (v[i]->shape.rank == 1 && v[i]->shape.dim[0] >= 0 && v[i]->shape.dim[0] != 1))
			return node_error(d, n, "%s must be a scalar", names[i]);
	}
	Shape out = shape_make(1, NULL);
	if (!v[0]->data || !v[1]->data || !v[2]->data) {
		set_out(n, 0, v[0]->dtype, &out);
		return 0;
	}
	int64_t len;
	if (dtype_is_float(v[0]->dtype)) {
		double start = *(const float *)v[0]->data, limit = *(const float *)v[1]->data;
		double delta = *(const float *)v[2]->data;
		if (delta == 0 || !isfinite(start) || !isfinite(limit) || !isfinite(delta))
			return node_error(d, n, "start %g, limit %g, delta %g do not make a range", start, limit, delta);
		double c = ceil((limit - start) / delta);
		if (c > (double)MAX_CREATED_ELEMENTS)
			return node_error(d, n, "range %g..%g step %g has %g elements, more than %lld", start, limit, delta, c,
					  (long long)MAX_CREATED_ELEMENTS);
		len = c > 0 ? (int64_t)c : 0;
	} else {
		int64_t start = *(const int64_t *)v[0]->data, limit = *(const int64_t *)v[1]->data;
		int64_t delta = *(const int64_t *)v[2]->data;
		if (delta == 0)
			return node_error(d, n, "delta is 0");
		/* ceil((limit - start) / delta) in unsigned arithmetic: the difference may not fit int64 */
		uint64_t diff = 0, mag;
		if (delta > 0 && limit > start)
			diff = (uint64_t)limit - (uint64_t)start;
		else if (delta < 0 && limit < start)
			diff = (uint64_t)start - (uint64_t)limit;
		mag = delta > 0 ? (uint64_t)delta : (uint64_t)0 - (uint64_t)delta;
		uint64_t c = diff ? (diff - 1) / mag + 1 : 0;
		if (c > (uint64_t)MAX_CREATED_ELEMENTS)
			return node_error(d, n, "range %lld..%lld step %lld has %llu elements, more than %lld", (long long)start,
					  (long long)limit, (long long)delta, (unsigned long long)c, (long long)MAX_CREATED_ELEMENTS);
		len = (int64_t)c;
	}
	out.dim[0] = len;
	set_out(n, 0, v[0]->dtype, &out);
	return 0;
}

/* ---------------------------------------------------------------- Pad */

int pad_params(const Node *n, const Shape *x, const Tensor *const *in, PadParams *p, Diag *d)
{
	int r = x->rank;
	if (r < 0) {
		p->out = shape_unknown();
		return 1;
	}
	p->out = *x;
	for (int i = 0; i < r; i++)
		p->begin[i] = 0;
	const Tensor *pads_t = in[1], *axes_t = n->n_in > 3 ? in[3] : NULL;
	if (is_empty(axes_t))
		axes_t = NULL;
	int64_t axes[NNZC_MAX_RANK];
	int k = -1;
	if (axes_t && known(axes_t)) {
		if (read_ints(n, axes_t, "axes", r, axes, &k, d) < 0)
			return -1;
	} else if (axes_t == NULL) {
		k = r;
		for (int i = 0; i < r; i++)
			axes[i] = i;
	}
	if (!known(pads_t) || k < 0) {
		for (int i = 0; i < r; i++)
			p->out.dim[i] = -1;
		if (k >= 0) { /* only the listed axes change */
			p->out = *x;
			for (int i = 0; i < k; i++) {
				int a;
				if (norm_axis(n, axes[i], r, &a, d) < 0)
					return -1;
				p->out.dim[a] = -1;
			}
		}
		return 1;
	}
	int64_t pads[2 * NNZC_MAX_RANK];
	int kp;
	if (read_ints(n, pads_t, "pads", 2 * NNZC_MAX_RANK, pads, &kp, d) < 0)
		return -1;
	char buf[256];
	if (kp != 2 * k)
		return node_error(d, n, "pads %s has %d values, expected %d", ints_str(pads, kp, buf, sizeof buf), kp, 2 * k);
	bool seen[NNZC_MAX_RANK] = {false}, resolved = true;
	int mode = n->attr.pad.mode;
	for (int i = 0; i < k; i++) {
		int a;
		if (norm_axis(n, axes[i], r, &a, d) < 0)
			return -1;
		if (seen[a])
			return node_error(d, n, "axis %d is listed twice", a);
		seen[a] = true;
		int64_t b = pads[i], e = pads[k + i], dim = x->dim[a], o;
		p->begin[a] = b;
		if (dim < 0) {
			p->out.dim[a] = -1;
			resolved = false;
			continue;
		}
		if (b < -dim || e < -dim)
			return node_error(d, n, "pads %s crop more than axis %d (size %lld) holds",
					  ints_str(pads, kp, buf, sizeof buf), a, (long long)dim);
		if (!add_ok_i64(dim, b, &o) || !add_ok_i64(o, e, &o) || o < 0)
			return node_error(d, n, "pads %s give axis %d (size %lld) a negative or overflowing size",
					  ints_str(pads, kp, buf, sizeof buf), a, (long long)dim);
		if (dim == 0 && o > 0 && mode != PAD_CONSTANT)
			return node_error(d, n, "cannot pad the empty axis %d in %s mode", a,
					  attrs_find(n->op, "mode")->enum_names[mode]);
		p->out.dim[a] = o;
	}
	if (check_numel(n, &p->out, true, d) < 0)
		return -1;
	return resolved ? 0 : 1;
}

/* Every mode maps an output coordinate to one input coordinate (or to the constant). The mapping
 * extends the *original* input periodically (reflect, wrap) or by clamping (edge); a negative pad
 * then just starts or ends the output inside that extension, which is how ONNX Runtime treats
 * negative pads too. */
int64_t pad_source(const Node *n, const Shape *x, const PadParams *p, int a, int64_t k)
{
	int64_t v = k - p->begin[a], dim = x->dim[a];
	if (v >= 0 && v < dim)
		return v;
	switch (n->attr.pad.mode) {
	case PAD_EDGE:
		return v < 0 ? 0 : dim - 1;
	case PAD_WRAP: {
		int64_t m = v % dim;
		return m < 0 ? m + dim : m;
	}
	case PAD_REFLECT: {
		/* mirror without repeating the edge: period 2*(dim-1), as numpy.pad(mode='reflect') */
		if (dim == 1)
			return 0;
		int64_t period = 2 * (dim - 1);
		int64_t m = v % period;
		if (m < 0)
			m += period;
		return m < dim ? m : period - m;
	}
	default:
		return -1;
	}
}

int infer_pad(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[4];
	const Tensor *in[4];
	input_views(n, view, in, 4);
	if (check_int_input(n, 1, "pads", d) < 0 || (n->n_in > 3 && check_int_input(n, 3, "axes", d) < 0))
		return -1;
	if (n->n_in > 2 && n->in[2]) {
		const Value *c = n->in[2];
		if (dtype_is_float(c->dtype) != dtype_is_float(x->dtype))
			return node_error(d, n, "constant_value is %s but data is %s", dtype_name(c->dtype), dtype_name(x->dtype));
		int64_t m = shape_numel(&c->shape);
		if (m > 1)
			return node_error(d, n, "constant_value must be a scalar, has %lld elements", (long long)m);
	}
	PadParams p;
	if (pad_params(n, &x->shape, in, &p, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &p.out);
	return 0;
}

/* ---------------------------------------------------------------- Resize */

int resize_params(const Node *n, const Shape *x, const Tensor *const *in, ResizeParams *p, Diag *d)
{
	const ResizeAttrs *at = &n->attr.resize;
	if (at->antialias != 0)
		return node_error(d, n, "antialias=%lld is not supported", (long long)at->antialias);
	int r = x->rank;
	const Tensor *roi = n->n_in > 1 ? in[1] : NULL, *scales = n->n_in > 2 ? in[2] : NULL;
	const Tensor *sizes = n->n_in > 3 ? in[3] : NULL;
	if (scales && is_empty(scales))
		scales = NULL;
	if (sizes && is_empty(sizes))
		sizes = NULL;
	if (scales && sizes)
		return node_error(d, n, "both scales and sizes are given");
	if (!scales && !sizes)
		return node_error(d, n, "neither scales nor sizes is given");
	if (scales && !dtype_is_float(scales->dtype))
		return node_error(d, n, "scales must be a float tensor, not %s", dtype_name(scales->dtype));
	if (sizes && dtype_is_float(sizes->dtype))
		return node_error(d, n, "sizes must be an integer tensor, not %s", dtype_name(sizes->dtype));
	bool crop = at->coordinate_transformation_mode == COORD_TF_CROP_AND_RESIZE;
	if (r < 0) {
		p->out = shape_unknown();
		return 1;
	}
	p->out = shape_make(r, NULL);
	for (int i = 0; i < r; i++) {
		p->scale[i] = 1;
		p->roi_start[i] = 0;
		p->roi_end[i] = 1;
	}
	const Tensor *given = scales ? scales : sizes;
	int64_t k = vec_len(given);
	if (given->shape.rank > 1 || (k >= 0 && k != r))
		return node_error(d, n, "%s has %lld values for an input of rank %d", scales ? "scales" : "sizes",
				  (long long)k, r);
	bool resolved = true;
	if (crop) {
		if (roi == NULL || is_empty(roi))
			return node_error(d, n, "tf_crop_and_resize needs roi");
		if (!dtype_is_float(roi->dtype))
			return node_error(d, n, "roi must be a float tensor, not %s", dtype_name(roi->dtype));
		int64_t kr = vec_len(roi);
		if (roi->shape.rank > 1 || (kr >= 0 && kr != 2 * r))
			return node_error(d, n, "roi has %lld values for an input of rank %d", (long long)kr, r);
		if (known(roi)) {
			const float *rv = roi->data;
			for (int i = 0; i < r; i++) {
				p->roi_start[i] = rv[i];
				p->roi_end[i] = rv[r + i];
			}
		} else {
			resolved = false;
		}
	}
	if (!known(given))
		return 1;
	for (int i = 0; i < r; i++) {
		int64_t dim = x->dim[i];
		if (scales) {
			double s = ((const float *)scales->data)[i];
			if (!(s > 0) || !isfinite(s))
				return node_error(d, n, "scale %g for axis %d is not a positive number", s, i);
			p->scale[i] = s;
			if (dim < 0) {
				resolved = false;
				continue;
			}
			/* floor(dim * scale) computed in double, as the ONNX reference does */
			double o = floor((double)dim * s);
			if (o > (double)((int64_t)1 << 53))
				return node_error(d, n, "scale %g makes axis %d (size %lld) too large", s, i, (long long)dim);
			p->out.dim[i] = (int64_t)o;
		} else {
			int64_t o = ((const int64_t *)sizes->data)[i];
			if (o < 0)
				return node_error(d, n, "size %lld for axis %d is negative", (long long)o, i);
			p->out.dim[i] = o;
			if (dim < 0) {
				resolved = false;
				continue;
			}
			p->scale[i] = dim > 0 ? (double)o / (double)dim : 1;
		}
		if (dim == 0 && p->out.dim[i] > 0)
			return node_error(d, n, "cannot resize the empty axis %d to %lld", i, (long long)p->out.dim[i]);
	}
	if (check_numel(n, &p->out, true, d) < 0)
		return -1;
	return resolved ? 0 : 1;
}

/* The taps follow the ONNX reference implementation (onnx/backend/test/case/node/resize.py),
 * which generated the conformance data: coordinates in double precision with the float32 scale
 * (or out/in when sizes are given), "output width" = scale * input width as a real number,
 * neighbours taken around floor(x) (x - 1 when x is an integer, with ratio 1) and read with edge
 * padding. N-D interpolation is separable, so each axis gets a small table of taps per output
 * coordinate and an output element is the sum over the product of its axes' taps. */

/* Input coordinate of output coordinate x along one axis. */
static double source_coord(const ResizeAttrs *at, double x, double scale, int64_t in, int64_t out_int, double roi0,
			   double roi1, bool *outside)
{
	double in_w = (double)in, out_w = scale * in_w;
	*outside = false;
	switch (at->coordinate_transformation_mode) {
	case COORD_HALF_PIXEL_SYMMETRIC: {
		/* centre the (possibly fractional) output canvas on the input: differs from
		 * half_pixel only when scale * in is not an integer */
		double adjustment = (double)out_int / out_w, center = in_w / 2;
		return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
	}
	case COORD_PYTORCH_HALF_PIXEL:
		return out_w == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
	case COORD_ALIGN_CORNERS:
		return out_w == 1 ? 0 : x * (in_w - 1) / (out_w - 1);
	case COORD_ASYMMETRIC:
		return x / scale;
	case COORD_TF_CROP_AND_RESIZE: {
		double xo = out_w == 1 ? (roi1 - roi0) * (in_w - 1) / 2 : x * (roi1 - roi0) * (in_w - 1) / (out_w - 1);
		xo += roi0 * (in_w - 1);
		*outside = xo < 0 || xo > in_w - 1;
		return xo;
	}
	case COORD_HALF_PIXEL:
	default:
		return (x + 0.5) / scale - 0.5;
	}
}

static void cubic_coeffs(double r, double a, double *c)
{
	double s = 1 - r;
	c[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
	c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
	c[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
	c[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
}

/* The taps around input coordinate xo of an axis of size in. */
static void make_taps(const ResizeAttrs *at, double xo, int64_t in, ResizeTaps *t)
{
	/* far outside, every neighbour clamps to the same edge: keep floor() in int64 range */
	if (isnan(xo))
		xo = 0;
	if (xo < -4)
		xo = -4;
	if (xo > (double)in + 4)
		xo = (double)in + 4;
	double fl = floor(xo);
	if (at->mode == RESIZE_NEAREST) {
		int64_t k = (int64_t)fl;
		double ratio = xo - fl;
		if (ratio != 0) {
			switch (at->nearest_mode) {
			case NEAREST_ROUND_PREFER_CEIL: k += ratio >= 0.5; break;
			case NEAREST_FLOOR: break;
			case NEAREST_CEIL: k += 1; break;
			case NEAREST_ROUND_PREFER_FLOOR:
			default: k += ratio > 0.5; break;
			}
		}
		t->count = 1;
		t->idx[0] = k < 0 ? 0 : k >= in ? in - 1 : k;
		t->w[0] = 1;
		return;
	}
	int64_t x0;
	double ratio;
	if (xo == fl) { /* the reference prefers the left neighbour: x - 1 with ratio 1 */
		x0 = (int64_t)fl - 1;
		ratio = 1;
	} else {
		x0 = (int64_t)fl;
		ratio = xo - fl;
	}
	if (at->mode == RESIZE_LINEAR) {
		t->count = 2;
		t->idx[0] = x0;
		t->idx[1] = x0 + 1;
		t->w[0] = 1 - ratio;
		t->w[1] = ratio;
	} else {
		t->count = 4;
		for (int i = 0; i < 4; i++)
			t->idx[i] = x0 - 1 + i;
		cubic_coeffs(ratio, at->cubic_coeff_a, t->w);
	}
	if (at->exclude_outside) {
		double sum = 0;
		for (int i = 0; i < t->count; i++) {
			if (t->idx[i] < 0 || t->idx[i] >= in)
				t->w[i] = 0;
			sum += t->w[i];
		}
		if (sum != 0)
			for (int i = 0; i < t->count; i++)
				t->w[i] /= sum;
	}
	/* edge padding, and drop the zero taps (an axis with scale 1 becomes a single tap) */
	int k = 0;
	for (int i = 0; i < t->count; i++) {
		if (t->w[i] == 0 && !(k == 0 && i == t->count - 1))
			continue;
		t->idx[k] = t->idx[i] < 0 ? 0 : t->idx[i] >= in ? in - 1 : t->idx[i];
		t->w[k] = t->w[i];
		k++;
	}
	t->count = k;
}

ResizeTaps *resize_taps(const Node *n, const Shape *x, const ResizeParams *p, ResizeTaps **axis)
{
	const ResizeAttrs *at = &n->attr.resize;
	const Shape *o = &p->out;
	int64_t ntaps = 0;
	for (int a = 0; a < x->rank; a++)
		ntaps += o->dim[a];
	ResizeTaps *table = malloc((size_t)(ntaps ? ntaps : 1) * sizeof *table);
	if (table == NULL)
		return NULL;
	int64_t at_tap = 0;
	for (int a = 0; a < x->rank; a++) {
		axis[a] = table + at_tap;
		at_tap += o->dim[a];
		for (int64_t k = 0; k < o->dim[a]; k++) {
			bool outside;
			double xo = source_coord(at, (double)k, p->scale[a], x->dim[a], o->dim[a], p->roi_start[a],
						 p->roi_end[a], &outside);
			make_taps(at, xo, x->dim[a], &axis[a][k]);
			axis[a][k].outside = outside;
		}
	}
	return table;
}

void resize_int_range(DType t, double *lo, double *hi)
{
	*lo = -9.2e18;
	*hi = 9.2e18;
	switch (t) {
	case DT_I8: *lo = -128; *hi = 127; break;
	case DT_U8: *lo = 0; *hi = 255; break;
	case DT_I16: *lo = -32768; *hi = 32767; break;
	case DT_U16: *lo = 0; *hi = 65535; break;
	case DT_I32: *lo = -2147483648.0; *hi = 2147483647.0; break;
	case DT_U32: *lo = 0; *hi = 4294967295.0; break;
	case DT_U64: *lo = 0; break;
	case DT_BOOL: *lo = 0; *hi = 1; break;
	default: break;
	}
}

int64_t resize_to_int(DType t, double v)
{
	double lo, hi;
	resize_int_range(t, &lo, &hi);
	if (isnan(v))
		return 0;
	v = round(v);
	return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

int infer_resize(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Tensor view[4];
	const Tensor *in[4];
	input_views(n, view, in, 4);
	ResizeParams p;
	if (resize_params(n, &x->shape, in, &p, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &p.out);
	return 0;
}
