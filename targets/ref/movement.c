/* Reference kernels for data movement and shape arithmetic: the reshape family (one copy),
 * Transpose, Concat, Split, Slice, Gather, Shape, Size, ConstantOfShape, Expand, Tile, Range.
 * Pad and Resize live in pad.c and resize.c.
 *
 * Movement never looks at values, so every kernel works on both compute classes by moving
 * dtype_compute_size() bytes per element. Output tensors arrive allocated with the inferred
 * shapes; parameters that shapes alone do not carry (Slice starts and steps) come from the same
 * resolver inference used, so kernel and inference cannot disagree. */
#include "nnzc/ir.h"

#include <string.h>

static size_t esize(const Tensor *t) { return dtype_compute_size(t->dtype); }

/* Row-major strides in elements. */
static void strides_of(const Shape *s, int64_t *stride)
{
	int64_t acc = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		stride[i] = acc;
		acc *= s->dim[i];
	}
}

static int64_t product(const int64_t *dims, int lo, int hi)
{
	int64_t p = 1;
	for (int i = lo; i < hi; i++)
		p *= dims[i];
	return p;
}

/* dst (contiguous, shape dims[rank]) gets src[base + sum(i_k * stride[k])]: the one loop behind
 * Transpose, Slice, Expand and Tile. Strides may be 0 (broadcast) or negative (reverse slices).
 * rank may reach 2 * NNZC_MAX_RANK (Tile splits every axis in two). */
static void strided_copy(char *dst, const char *src, size_t es, int rank, const int64_t *dims, const int64_t *stride,
			 int64_t base)
{
	int64_t total = product(dims, 0, rank);
	if (total == 0)
		return;
	if (rank == 0) {
		memcpy(dst, src + base * (int64_t)es, es);
		return;
	}
	int64_t idx[2 * NNZC_MAX_RANK] = {0};
	int64_t off = base;
	int last = rank - 1;
	int64_t inner = dims[last], is = stride[last];
	for (int64_t o = 0; o < total; o += inner) {
		char *row = dst + o * (int64_t)es;
		if (is == 1) {
			memcpy(row, src + off * (int64_t)es, (size_t)inner * es);
		} else {
			for (int64_t j = 0; j < inner; j++)
				memcpy(row + j * (int64_t)es, src + (off + j * is) * (int64_t)es, es);
		}
		for (int k = last - 1; k >= 0; k--) {
			off += stride[k];
			if (++idx[k] < dims[k])
				break;
			off -= stride[k] * dims[k];
			idx[k] = 0;
		}
	}
}

static int check_same_class(const Node *n, const Tensor *a, const Tensor *b, Diag *d)
{
	if (esize(a) != esize(b) || dtype_is_float(a->dtype) != dtype_is_float(b->dtype))
		return node_error(d, n, "output is %s but input is %s", dtype_name(b->dtype), dtype_name(a->dtype));
	return 0;
}

/* Flatten, Reshape, Squeeze, Unsqueeze: the same bytes under a new shape. */
int ref_copy(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	if (check_same_class(n, in[0], out[0], d) < 0)
		return -1;
	if (tensor_numel(in[0]) != tensor_numel(out[0]))
		return node_error(d, n, "output has %lld elements but input has %lld", (long long)tensor_numel(out[0]),
				  (long long)tensor_numel(in[0]));
	memcpy(out[0]->data, in[0]->data, tensor_nbytes(in[0]));
	return 0;
}

int ref_transpose(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape;
	int r = x->rank;
	const Ints *perm = &n->attr.transpose.perm;
	int64_t p[NNZC_MAX_RANK], xs[NNZC_MAX_RANK], stride[NNZC_MAX_RANK];
	if (check_same_class(n, in[0], out[0], d) < 0)
		return -1;
	if (perm->n != 0 && perm->n != r)
		return node_error(d, n, "perm has %d entries for an input of rank %d", perm->n, r);
	for (int i = 0; i < r; i++) {
		p[i] = perm->n ? perm->v[i] : r - 1 - i;
		if (p[i] < 0 || p[i] >= r)
			return node_error(d, n, "perm entry %lld out of range", (long long)p[i]);
	}
	strides_of(x, xs);
	Shape want = shape_make(r, NULL);
	for (int i = 0; i < r; i++) {
		want.dim[i] = x->dim[p[i]];
		stride[i] = xs[p[i]];
	}
	if (!shape_equal(&want, &out[0]->shape))
		return node_error(d, n, "output shape disagrees with the permuted input shape");
	strided_copy(out[0]->data, in[0]->data, esize(in[0]), r, want.dim, stride, 0);
	return 0;
}

int ref_concat(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *o = &out[0]->shape;
	int axis;
	if (shape_axis(n->attr.axis.axis, o->rank, &axis, d) < 0)
		return -1;
	size_t es = esize(out[0]);
	int64_t outer = product(o->dim, 0, axis), inner = product(o->dim, axis + 1, o->rank), sum = 0;
	for (int i = 0; i < n->n_in; i++) {
		if (in[i] == NULL || in[i]->shape.rank != o->rank)
			return node_error(d, n, "input %d does not match the output rank", i);
		if (check_same_class(n, in[i], out[0], d) < 0)
			return -1;
		for (int k = 0; k < o->rank; k++)
			if (k != axis && in[i]->shape.dim[k] != o->dim[k])
				return node_error(d, n, "input %d does not match the output shape off axis %d", i, axis);
		sum += in[i]->shape.dim[axis];
	}
	if (sum != o->dim[axis])
		return node_error(d, n, "inputs sum to %lld along axis %d, output has %lld", (long long)sum, axis,
				  (long long)o->dim[axis]);
	char *dst = out[0]->data;
	for (int64_t j = 0; j < outer; j++)
		for (int i = 0; i < n->n_in; i++) {
			size_t chunk = (size_t)(in[i]->shape.dim[axis] * inner) * es;
			memcpy(dst, (const char *)in[i]->data + (size_t)j * chunk, chunk);
			dst += chunk;
		}
	return 0;
}

int ref_split(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape;
	int axis;
	if (shape_axis(n->attr.split.axis, x->rank, &axis, d) < 0)
		return -1;
	size_t es = esize(in[0]);
	int64_t outer = product(x->dim, 0, axis), inner = product(x->dim, axis + 1, x->rank), sum = 0;
	for (int i = 0; i < n->n_out; i++) {
		if (out[i]->shape.rank != x->rank)
			return node_error(d, n, "output %d does not match the input rank", i);
		if (check_same_class(n, in[0], out[i], d) < 0)
			return -1;
		for (int k = 0; k < x->rank; k++)
			if (k != axis && out[i]->shape.dim[k] != x->dim[k])
				return node_error(d, n, "output %d does not match the input shape off axis %d", i, axis);
		sum += out[i]->shape.dim[axis];
	}
	if (sum != x->dim[axis])
		return node_error(d, n, "outputs sum to %lld along axis %d, input has %lld", (long long)sum, axis,
				  (long long)x->dim[axis]);
	const char *src = in[0]->data;
	for (int64_t j = 0; j < outer; j++)
		for (int i = 0; i < n->n_out; i++) {
			size_t chunk = (size_t)(out[i]->shape.dim[axis] * inner) * es;
			memcpy((char *)out[i]->data + (size_t)j * chunk, src, chunk);
			src += chunk;
		}
	return 0;
}

int ref_slice(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape;
	SliceParams p;
	int rc = slice_params(n, x, (const Tensor *const *)in, &p, d);
	if (rc < 0)
		return -1;
	if (rc > 0 || !shape_equal(&p.out, &out[0]->shape) || check_same_class(n, in[0], out[0], d) < 0)
		return node_error(d, n, "slice parameters disagree with the output shape");
	int64_t xs[NNZC_MAX_RANK], stride[NNZC_MAX_RANK], base = 0;
	strides_of(x, xs);
	for (int i = 0; i < x->rank; i++) {
		base += p.start[i] * xs[i];
		stride[i] = p.step[i] * xs[i];
	}
	strided_copy(out[0]->data, in[0]->data, esize(in[0]), x->rank, p.out.dim, stride, base);
	return 0;
}

int ref_gather(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape;
	int axis;
	if (shape_axis(n->attr.axis.axis, x->rank, &axis, d) < 0)
		return -1;
	if (dtype_is_float(in[1]->dtype))
		return node_error(d, n, "indices must be an integer tensor");
	if (check_same_class(n, in[0], out[0], d) < 0)
		return -1;
	size_t es = esize(in[0]);
	int64_t outer = product(x->dim, 0, axis), inner = product(x->dim, axis + 1, x->rank);
	int64_t dim = x->dim[axis], m = tensor_numel(in[1]);
	int64_t want;
	if (!mul_ok_i64(outer, m, &want) || !mul_ok_i64(want, inner, &want) || want != tensor_numel(out[0]))
		return node_error(d, n, "output shape disagrees with data and indices");
	const int64_t *iv = in[1]->data;
	size_t block = (size_t)inner * es;
	char *dst = out[0]->data;
	const char *src = in[0]->data;
	for (int64_t j = 0; j < m; j++)
		if (iv[j] < -dim || iv[j] >= dim)
			return node_error(d, n, "index %lld out of range for axis %d of size %lld", (long long)iv[j], axis,
					  (long long)dim);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t j = 0; j < m; j++) {
			int64_t k = iv[j] < 0 ? iv[j] + dim : iv[j];
			memcpy(dst, src + (size_t)(o * dim + k) * block, block);
			dst += block;
		}
	return 0;
}

int ref_shape_op(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	int r = in[0]->shape.rank;
	int64_t s = n->attr.shape.start, e = n->attr.shape.end;
	if (s < 0)
		s += r;
	if (e < 0)
		e += r;
	s = s < 0 ? 0 : s > r ? r : s;
	e = e < 0 ? 0 : e > r ? r : e;
	int64_t len = e > s ? e - s : 0;
	if (dtype_is_float(out[0]->dtype) || tensor_numel(out[0]) != len)
		return node_error(d, n, "output must be an i64 vector of %lld values", (long long)len);
	for (int64_t i = 0; i < len; i++)
		((int64_t *)out[0]->data)[i] = in[0]->shape.dim[s + i];
	return 0;
}

int ref_size_op(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	if (dtype_is_float(out[0]->dtype) || tensor_numel(out[0]) != 1)
		return node_error(d, n, "output must be an i64 scalar");
	((int64_t *)out[0]->data)[0] = tensor_numel(in[0]);
	return 0;
}

int ref_constant_of_shape(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	(void)in;
	(void)d;
	const ScalarAttr *v = &n->attr.constant_of_shape.value;
	int64_t m = tensor_numel(out[0]);
	if (dtype_is_float(out[0]->dtype)) {
		float *o = out[0]->data;
		float f = dtype_is_float(v->dtype) ? (float)v->f : (float)v->i;
		for (int64_t i = 0; i < m; i++)
			o[i] = f;
	} else {
		int64_t *o = out[0]->data;
		int64_t q = dtype_is_float(v->dtype) ? (int64_t)v->f : v->i;
		for (int64_t i = 0; i < m; i++)
			o[i] = q;
	}
	return 0;
}

int ref_expand(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape, *o = &out[0]->shape;
	if (check_same_class(n, in[0], out[0], d) < 0)
		return -1;
	if (o->rank < x->rank)
		return node_error(d, n, "output rank %d is below the input rank %d", o->rank, x->rank);
	int64_t xs[NNZC_MAX_RANK], stride[NNZC_MAX_RANK];
	strides_of(x, xs);
	int lead = o->rank - x->rank;
	for (int i = 0; i < o->rank; i++) {
		int k = i - lead;
		if (k < 0) {
			stride[i] = 0;
		} else if (x->dim[k] == o->dim[i]) {
			stride[i] = xs[k];
		} else if (x->dim[k] == 1) {
			stride[i] = 0;
		} else {
			return node_error(d, n, "input dim %d (%lld) does not broadcast to %lld", k, (long long)x->dim[k],
					  (long long)o->dim[i]);
		}
	}
	strided_copy(out[0]->data, in[0]->data, esize(in[0]), o->rank, o->dim, stride, 0);
	return 0;
}

/* Output axis k of size r_k * d_k is read as two axes [r_k, d_k], the first with stride 0: the
 * row-major layouts coincide, so Tile is one strided copy of rank 2r. */
int ref_tile(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape, *o = &out[0]->shape;
	if (check_same_class(n, in[0], out[0], d) < 0)
		return -1;
	if (o->rank != x->rank)
		return node_error(d, n, "output rank %d differs from the input rank %d", o->rank, x->rank);
	int64_t xs[NNZC_MAX_RANK], dims[2 * NNZC_MAX_RANK], stride[2 * NNZC_MAX_RANK];
	strides_of(x, xs);
	for (int i = 0; i < x->rank; i++) {
		if (x->dim[i] == 0) { /* nothing to repeat: the output is empty as well */
			if (o->dim[i] != 0)
				return node_error(d, n, "cannot tile the empty axis %d to %lld", i, (long long)o->dim[i]);
			return 0;
		}
		if (o->dim[i] % x->dim[i] != 0)
			return node_error(d, n, "output dim %d (%lld) is not a multiple of the input's (%lld)", i,
					  (long long)o->dim[i], (long long)x->dim[i]);
		dims[2 * i] = o->dim[i] / x->dim[i];
		dims[2 * i + 1] = x->dim[i];
		stride[2 * i] = 0;
		stride[2 * i + 1] = xs[i];
	}
	strided_copy(out[0]->data, in[0]->data, esize(in[0]), 2 * x->rank, dims, stride, 0);
	return 0;
}

int ref_range(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	int64_t m = tensor_numel(out[0]);
	if (dtype_is_float(out[0]->dtype) != dtype_is_float(in[0]->dtype))
		return node_error(d, n, "output class differs from start's");
	if (dtype_is_float(out[0]->dtype)) {
		double start = tensor_get_f(in[0], 0), delta = tensor_get_f(in[2], 0);
		float *o = out[0]->data;
		for (int64_t i = 0; i < m; i++)
			o[i] = (float)(start + (double)i * delta);
	} else {
		/* unsigned arithmetic: every value lies between start and limit, but i * delta alone
		 * may not fit int64 */
		uint64_t start = (uint64_t)tensor_get_i(in[0], 0), delta = (uint64_t)tensor_get_i(in[2], 0);
		int64_t *o = out[0]->data;
		for (int64_t i = 0; i < m; i++)
			o[i] = (int64_t)(start + (uint64_t)i * delta);
	}
	return 0;
}
