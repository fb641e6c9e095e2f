/* Convolution: Conv, nnzc.FusedConv and ConvTranspose, 1-D to 3-D (everything is seen as 3-D
 * through Window, see ir.h), with groups, dilations, strides and pads.
 *
 * Conv, per image and group: Y_g[Mg, out] += W_g[Mg, Cg*k] x col[Cg*k, out], where col is the
 * im2col expansion of the group's input (skipped for a 1x1, stride 1, unpadded kernel: col is
 * then the input itself). With one input channel per group (depthwise) the product would have
 * K = kernel size and usually M = 1, so it is computed directly instead, one kernel tap at a
 * time over whole output rows.
 * Y starts as bias + residual, the products accumulate into it, the activation is applied last:
 * Conv is the fused kernel with none of the three, not a separate code path.
 * An encoded weight (Tensor.sparse) takes the im2col route for every group size, depthwise
 * included, with sparse_rows() in place of sgemm: the product comes from the packed form.
 *
 * ConvTranspose, per image and group: col[Mg*k, in] = W_g^T x X_g, then col2im scatters col
 * into Y (which starts as the bias). */
#include "nn.h"
#include "loop.h"

#include <stdlib.h>
#include <string.h>

#define S NNZC_MAX_SPATIAL

/* Positions t in [0, count) with 0 <= t*stride + off < limit, as [*lo, *hi). */
static inline void valid_range(int64_t count, int64_t stride, int64_t off, int64_t limit, int64_t *lo, int64_t *hi)
{
	int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
	int64_t b = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / stride + 1;
	a = a < count ? a : count;
	b = b < count ? b : count;
	*lo = a;
	*hi = b > a ? b : a;
}

/* Product of the three spatial sizes. A tensor with data bounds it, except an empty one whose
 * other dims may be huge: a zero anywhere gives 0 before anything can overflow. */
static int64_t spatial_size(const int64_t *v)
{
	if (v[0] == 0 || v[1] == 0 || v[2] == 0)
		return 0;
	int64_t p;
	if (!mul_ok_i64(v[0], v[1], &p) || !mul_ok_i64(p, v[2], &p))
		return INT64_MAX; /* only for shapes no tensor in memory can have; callers bail out */
	return p;
}

/* ---------------------------------------------------------------- Conv */

/* One group's input (cg channels of w->in) to col[cg*kernel, out]. */
static NN_HOT void im2col(const float *restrict x, int64_t cg, const Window *w, float *restrict col)
{
	const int64_t *in = w->in, *out = w->out, *k = w->kernel, *s = w->stride, *dl = w->dilation, *p = w->pad_lo;
	for (int64_t c = 0; c < cg; c++)
		for (int64_t kd = 0; kd < k[0]; kd++)
			for (int64_t kh = 0; kh < k[1]; kh++)
				for (int64_t kw = 0; kw < k[2]; kw++) {
					int64_t lo, hi, offw = kw * dl[2] - p[2];
					valid_range(out[2], s[2], offw, in[2], &lo, &hi);
					for (int64_t od = 0; od < out[0]; od++) {
						int64_t id = od * s[0] + kd * dl[0] - p[0];
						for (int64_t oh = 0; oh < out[1]; oh++, col += out[2]) {
							int64_t ih = oh * s[1] + kh * dl[1] - p[1];
							if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1]) {
								memset(col, 0, (size_t)out[2] * sizeof *col);
								continue;
							}
							/* src: the input element under output column lo */
							const float *src = x + ((c * in[0] + id) * in[1] + ih) * in[2];
							for (int64_t ow = 0; ow < lo; ow++)
								col[ow] = 0.0f;
							if (hi > lo) {
								src += lo * s[2] + offw;
								if (s[2] == 1)
									memcpy(col + lo, src, (size_t)(hi - lo) * sizeof *col);
								else
									for (int64_t t = 0; t < hi - lo; t++)
										col[lo + t] = src[t * s[2]];
							}
							for (int64_t ow = hi; ow < out[2]; ow++)
								col[ow] = 0.0f;
						}
					}
				}
}

/* y[mg, out] += w[mg, kernel] (*) x for one input channel: one tap at a time over output rows. */
static NN_HOT void conv_direct(const float *restrict x, const float *restrict wt, int64_t mg, const Window *w,
			       float *restrict y)
{
	const int64_t *in = w->in, *out = w->out, *k = w->kernel, *s = w->stride, *dl = w->dilation, *p = w->pad_lo;
	int64_t osz = spatial_size(out);
	for (int64_t m = 0; m < mg; m++, y += osz)
		for (int64_t kd = 0; kd < k[0]; kd++)
			for (int64_t kh = 0; kh < k[1]; kh++)
				for (int64_t kw = 0; kw < k[2]; kw++) {
					float wv = *wt++;
					int64_t lo, hi, offw = kw * dl[2] - p[2];
					valid_range(out[2], s[2], offw, in[2], &lo, &hi);
					if (hi == lo)
						continue;
					for (int64_t od = 0; od < out[0]; od++) {
						int64_t id = od * s[0] + kd * dl[0] - p[0];
						if (id < 0 || id >= in[0])
							continue;
						for (int64_t oh = 0; oh < out[1]; oh++) {
							int64_t ih = oh * s[1] + kh * dl[1] - p[1];
							if (ih < 0 || ih >= in[1])
								continue;
							const float *src = x + (id * in[1] + ih) * in[2] + lo * s[2] + offw;
							float *yr = y + (od * out[1] + oh) * out[2] + lo;
							if (s[2] == 1)
								for (int64_t t = 0; t < hi - lo; t++)
									yr[t] += wv * src[t];
							else
								for (int64_t t = 0; t < hi - lo; t++)
									yr[t] += wv * src[t * s[2]];
						}
					}
				}
}

/* y[n, m, :] = b[m] (or 0) + r[n, m, :] (if any) */
static NN_HOT void fill_bias(float *y, const Tensor *b, const Tensor *r, int64_t planes, int64_t channels, int64_t size)
{
	const float *pb = b ? b->data : NULL, *pr = r ? r->data : NULL;
	for (int64_t q = 0; q < planes; q++) {
		float bv = pb ? pb[q % channels] : 0.0f;
		float *yp = y + q * size;
		if (pr != NULL) {
			const float *rp = pr + q * size;
			for (int64_t i = 0; i < size; i++)
				yp[i] = rp[i] + bv;
		} else {
			for (int64_t i = 0; i < size; i++)
				yp[i] = bv;
		}
	}
}

static int conv_run(const Node *n, const ConvAttrs *ca, const Activation *act, Tensor *const *in, Tensor *y, Diag *d)
{
	const Tensor *x = in[0], *wt = in[1], *b = nn_opt_in(n, in, 2);
	const Tensor *r = n->op == OP_FusedConv ? nn_opt_in(n, in, 3) : NULL;
	Window w;
	if (window_of_node(n, &x->shape, &wt->shape, &w, d) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], m = wt->shape.dim[0], g = ca->group;
	int64_t cg = c / g, mg = m / g, isz = spatial_size(w.in), osz = spatial_size(w.out), ksz = spatial_size(w.kernel);
	int64_t kk; /* reduction length: a row of W */
	if (tensor_numel(y) == 0)
		return 0; /* nothing to compute, and im2col of an empty-weights conv could be huge */
	if (!mul_ok_i64(cg, ksz, &kk) || isz == INT64_MAX || osz == INT64_MAX)
		return node_error(d, n, "sizes overflow");
	if (wt->shape.dim[1] != cg)
		return node_error(d, n, "weight expects %lld channels per group, input has %lld at run time",
				  (long long)wt->shape.dim[1], (long long)cg);
	if (nn_check_window_out(n, &w, nimg, m, y, d) < 0 || nn_check_numel(n, b, m, "bias", d) < 0 ||
	    nn_check_numel(n, r, tensor_numel(y), "residual", d) < 0)
		return -1;
	/* an encoded weight: every group's rows times the im2col columns, from the packed form */
	const SparseData *sp = wt->sparse;
	if (sp && sparse_check_view(n, sp, m, kk, d) < 0)
		return -1;
	const float *px = x->data, *pw = wt->data;
	float *py = y->data;
	fill_bias(py, b, r, nimg * m, m, osz);

	if (cg == 1 && sp == NULL) {
		for (int64_t i = 0; i < nimg; i++)
			for (int64_t q = 0; q < g; q++)
				conv_direct(px + (i * c + q) * isz, pw + q * mg * ksz, mg, &w, py + (i * m + q * mg) * osz);
		act_apply(act, py, nimg * m * osz);
		ref_round_result(y);
		return 0;
	}

	bool pointwise = ksz == 1;
	for (int j = 0; j < S; j++)
		pointwise = pointwise && w.stride[j] == 1 && w.pad_lo[j] == 0 && w.pad_hi[j] == 0;
	float *col = NULL;
	if (!pointwise) {
		int64_t cn;
		size_t bytes;
		if (!mul_ok_i64(kk, osz, &cn) || __builtin_mul_overflow((size_t)cn, sizeof(float), &bytes) ||
		    (col = malloc(bytes ? bytes : 1)) == NULL)
			return node_error(d, n, "cannot allocate the im2col buffer (%lld x %lld floats)", (long long)kk,
					  (long long)osz);
	}
	int rc = 0;
	for (int64_t i = 0; i < nimg && rc == 0; i++)
		for (int64_t q = 0; q < g && rc == 0; q++) {
			const float *xg = px + (i * c + q * cg) * isz;
			MatRef bm = {xg, isz, 1}; /* pointwise: the input rows are the columns' source */
			if (!pointwise) {
				im2col(xg, cg, &w, col);
				bm = (MatRef){col, osz, 1};
			}
			float *yq = py + (i * m + q * mg) * osz;
			if (sp) {
				sparse_rows(sp, q * mg, mg, osz, 1.0f, bm, yq, osz, 1);
				continue;
			}
			MatRef am = {pw + q * mg * kk, kk, 1};
			if (sgemm(mg, osz, kk, 1.0f, am, bm, true, yq, osz) < 0)
				rc = node_error(d, n, "out of memory for packing buffers");
		}
	free(col);
	if (rc < 0)
		return -1;
	act_apply(act, py, nimg * m * osz);
	ref_round_result(y);
	return 0;
}

int ref_conv(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	static const Activation none = {ACT_NONE, 0.0f, 0.0f};
	return conv_run(n, &n->attr.conv, &none, in, out[0], d);
}

int ref_fused_conv(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	return conv_run(n, &n->attr.fused_conv.conv, &n->attr.fused_conv.act, in, out[0], d);
}

/* ---------------------------------------------------------------- ConvTranspose */

/* col[mg*kernel, in] scattered into y[mg, out]: input position i and tap k land on
 * o = i*stride + k*dilation - pad_lo. */
static NN_HOT void col2im(const float *restrict col, int64_t mg, const Window *w, float *restrict y)
{
	const int64_t *in = w->in, *out = w->out, *k = w->kernel, *s = w->stride, *dl = w->dilation, *p = w->pad_lo;
	int64_t osz = spatial_size(out);
	for (int64_t m = 0; m < mg; m++, y += osz)
		for (int64_t kd = 0; kd < k[0]; kd++)
			for (int64_t kh = 0; kh < k[1]; kh++)
				for (int64_t kw = 0; kw < k[2]; kw++) {
					int64_t lo, hi, offw = kw * dl[2] - p[2];
					valid_range(in[2], s[2], offw, out[2], &lo, &hi);
					if (hi == lo) {
						col += in[0] * in[1] * in[2];
						continue;
					}
					for (int64_t id = 0; id < in[0]; id++) {
						int64_t od = id * s[0] + kd * dl[0] - p[0];
						for (int64_t ih = 0; ih < in[1]; ih++, col += in[2]) {
							int64_t oh = ih * s[1] + kh * dl[1] - p[1];
							if (od < 0 || od >= out[0] || oh < 0 || oh >= out[1])
								continue;
							float *yr = y + (od * out[1] + oh) * out[2] + lo * s[2] + offw;
							for (int64_t t = 0; t < hi - lo; t++)
								yr[t * s[2]] += col[lo + t];
						}
					}
				}
}

int ref_conv_transpose(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0], *wt = in[1], *b = nn_opt_in(n, in, 2);
	Tensor *y = out[0];
	Window w;
	if (window_of_node(n, &x->shape, &wt->shape, &w, d) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], g = n->attr.conv.group;
	int64_t cg = c / g, mg = wt->shape.dim[1], m = mg * g;
	int64_t isz = spatial_size(w.in), osz = spatial_size(w.out), ksz = spatial_size(w.kernel), rows = mg * ksz;
	if (wt->shape.dim[0] != c)
		return node_error(d, n, "weight has %lld input channels, input has %lld at run time",
				  (long long)wt->shape.dim[0], (long long)c);
	if (nn_check_window_out(n, &w, nimg, m, y, d) < 0 || nn_check_numel(n, b, m, "bias", d) < 0)
		return -1;
	const float *px = x->data, *pw = wt->data;
	float *py = y->data;
	fill_bias(py, b, NULL, nimg * m, m, osz);
	int64_t cn;
	size_t bytes;
	float *col = NULL;
	if (!mul_ok_i64(rows, isz, &cn) || __builtin_mul_overflow((size_t)cn, sizeof(float), &bytes) ||
	    (col = malloc(bytes ? bytes : 1)) == NULL)
		return node_error(d, n, "cannot allocate the col2im buffer (%lld x %lld floats)", (long long)rows,
				  (long long)isz);
	int rc = 0;
	for (int64_t i = 0; i < nimg && rc == 0; i++)
		for (int64_t q = 0; q < g && rc == 0; q++) {
			/* W is C x Mg x k: the group's slab read as [cg, rows], used transposed */
			MatRef am = {pw + q * cg * rows, 1, rows};
			MatRef bm = {px + (i * c + q * cg) * isz, isz, 1};
			if (sgemm(rows, isz, cg, 1.0f, am, bm, false, col, isz) < 0)
				rc = node_error(d, n, "out of memory for packing buffers");
			else
				col2im(col, mg, &w, py + (i * m + q * mg) * osz);
		}
	free(col);
	if (rc < 0)
		return -1;
	ref_round_result(y);
	return 0;
}
