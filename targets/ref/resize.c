/* Reference kernel for Resize (and Upsample, which the frontend turns into Resize): modes
 * nearest, linear and cubic over any number of axes; the six coordinate transformations; the
 * four nearest roundings; cubic_coeff_a, exclude_outside and the extrapolation value of
 * tf_crop_and_resize.
 *
 * The per-axis arithmetic, which follows the ONNX reference implementation, is resize_taps in
 * compiler/infer_movement.c, shared with the cpu target: for every output coordinate of an axis
 * a few taps (input index, weight). Interpolation is separable, so an output element is the sum
 * over the product of its axes' taps. */
#include "nnzc/ir.h"

#include <stdlib.h>

int ref_resize(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const ResizeAttrs *at = &n->attr.resize;
	const Shape *x = &in[0]->shape, *o = &out[0]->shape;
	ResizeParams p;
	int rc = resize_params(n, x, (const Tensor *const *)in, &p, d);
	if (rc < 0)
		return -1;
	if (rc > 0 || !shape_equal(&p.out, o))
		return node_error(d, n, "scales or sizes disagree with the output shape");
	if (dtype_is_float(in[0]->dtype) != dtype_is_float(out[0]->dtype))
		return node_error(d, n, "output class differs from the input's");
	int r = x->rank;
	int64_t total = shape_numel(o);
	if (total == 0)
		return 0;

	int64_t xs[NNZC_MAX_RANK], acc = 1;
	for (int a = r - 1; a >= 0; a--) {
		xs[a] = acc;
		acc *= x->dim[a];
	}
	ResizeTaps *taps[NNZC_MAX_RANK];
	ResizeTaps *table = resize_taps(n, x, &p, taps);
	if (table == NULL)
		return node_error(d, n, "out of memory");

	bool is_float = dtype_is_float(in[0]->dtype);
	const float *xf = in[0]->data;
	const int64_t *xi = in[0]->data;
	float *of = out[0]->data;
	int64_t *oi = out[0]->data;
	int64_t idx[NNZC_MAX_RANK] = {0};
	for (int64_t e = 0; e < total; e++) {
		bool outside = false;
		for (int a = 0; a < r; a++)
			outside |= taps[a][idx[a]].outside;
		if (outside) {
			if (is_float)
				of[e] = at->extrapolation_value;
			else
				oi[e] = resize_to_int(out[0]->dtype, at->extrapolation_value);
		} else if (at->mode == RESIZE_NEAREST) {
			int64_t off = 0;
			for (int a = 0; a < r; a++)
				off += taps[a][idx[a]].idx[0] * xs[a];
			if (is_float)
				of[e] = xf[off];
			else
				oi[e] = xi[off];
		} else {
			/* sum over the product of every axis' taps, odometer style */
			int c[NNZC_MAX_RANK] = {0};
			double sum = 0;
			for (;;) {
				double w = 1;
				int64_t off = 0;
				for (int a = 0; a < r; a++) {
					const ResizeTaps *t = &taps[a][idx[a]];
					w *= t->w[c[a]];
					off += t->idx[c[a]] * xs[a];
				}
				sum += w * (is_float ? (double)xf[off] : (double)xi[off]);
				int a = r - 1;
				for (; a >= 0; a--) {
					if (++c[a] < taps[a][idx[a]].count)
						break;
					c[a] = 0;
				}
				if (a < 0)
					break;
			}
			if (is_float)
				of[e] = (float)sum;
			else
				oi[e] = resize_to_int(out[0]->dtype, sum);
		}
		for (int a = r - 1; a >= 0; a--) {
			if (++idx[a] < o->dim[a])
				break;
			idx[a] = 0;
		}
	}
	free(table);
	return 0;
}
