/* Reference kernel for Resize (and Upsample, which the frontend turns into Resize): modes
 * nearest, linear and cubic over any number of axes; the six coordinate transformations; the
 * four nearest roundings; cubic_coeff_a, exclude_outside and the extrapolation value of
 * tf_crop_and_resize.
 *
 * The arithmetic follows the ONNX reference implementation (onnx/backend/test/case/node/
 * resize.py), which generated the conformance data: coordinates in double precision with the
 * float32 scale (or out/in when sizes are given), "output width" = scale * input width as a real
 * number, neighbours taken around floor(x) (x - 1 when x is an integer, with ratio 1) and read
 * with edge padding. N-D interpolation is separable, so each axis gets a small table of taps
 * (input index, weight) per output coordinate and an output element is the sum over the
 * product of its axes' taps. */
#include "nnzc/ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Taps {
	int count;
	bool outside; /* tf_crop_and_resize sampled outside the input: extrapolation value */
	int64_t idx[4];
	double w[4];
} Taps;

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

static void make_taps(const ResizeAttrs *at, double xo, int64_t in, Taps *t)
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

/* Integer outputs of linear/cubic: round to nearest and saturate to the dtype's range. */
static int64_t to_int(DType t, double v)
{
	double lo = -9.2e18, hi = 9.2e18;
	switch (t) {
	case DT_I8: lo = -128; hi = 127; break;
	case DT_U8: lo = 0; hi = 255; break;
	case DT_I16: lo = -32768; hi = 32767; break;
	case DT_U16: lo = 0; hi = 65535; break;
	case DT_I32: lo = -2147483648.0; hi = 2147483647.0; break;
	case DT_U32: lo = 0; hi = 4294967295.0; break;
	case DT_U64: lo = 0; break;
	case DT_BOOL: lo = 0; hi = 1; break;
	default: break;
	}
	if (isnan(v))
		return 0;
	v = round(v);
	return (int64_t)(v < lo ? lo : v > hi ? hi : v);
}

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

	int64_t ntaps = 0, xs[NNZC_MAX_RANK], acc = 1;
	for (int a = r - 1; a >= 0; a--) {
		xs[a] = acc;
		acc *= x->dim[a];
		ntaps += o->dim[a];
	}
	Taps *table = malloc((size_t)(ntaps ? ntaps : 1) * sizeof *table);
	if (table == NULL)
		return node_error(d, n, "out of memory");
	Taps *taps[NNZC_MAX_RANK];
	int64_t at_tap = 0;
	for (int a = 0; a < r; a++) {
		taps[a] = table + at_tap;
		at_tap += o->dim[a];
		for (int64_t k = 0; k < o->dim[a]; k++) {
			bool outside;
			double xo = source_coord(at, (double)k, p.scale[a], x->dim[a], o->dim[a], p.roi_start[a],
						 p.roi_end[a], &outside);
			make_taps(at, xo, x->dim[a], &taps[a][k]);
			taps[a][k].outside = outside;
		}
	}

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
				oi[e] = to_int(out[0]->dtype, at->extrapolation_value);
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
					const Taps *t = &taps[a][idx[a]];
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
				oi[e] = to_int(out[0]->dtype, sum);
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
