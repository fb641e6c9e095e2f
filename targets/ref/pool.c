/* Pooling: MaxPool (float and integer), AveragePool, GlobalAveragePool, GlobalMaxPool.
 *
 * The window geometry (pads from auto_pad, ceil_mode's extra window) comes from
 * window_of_node(), seen as 3-D. A window's taps are clipped to the input; AveragePool divides
 * by the clipped count, or with count_include_pad by the count of taps inside the padded input
 * (taps past the padding, which only ceil_mode creates, never count, as in PyTorch and ONNX
 * Runtime). A window with no tap inside the input gives -inf (max) or 0 (average). */
#include "nn.h"
#include "loop.h"

#include <math.h>

#define S NNZC_MAX_SPATIAL

/* The taps [*lo, *hi) of window o along one dim that fall inside the input, and how many fall
 * inside the padded input. */
static inline void taps(const Window *w, int j, int64_t o, int64_t *lo, int64_t *hi, int64_t *padded)
{
	int64_t start = o * w->stride[j] - w->pad_lo[j], dl = w->dilation[j], k = w->kernel[j];
	int64_t a = 0, b = k, pa = 0, pb = k;
	/* first tap with start + t*dl >= bound: ceil((bound - start) / dl) when positive */
	if (start < 0)
		a = (-start + dl - 1) / dl;
	if (start + (k - 1) * dl >= w->in[j])
		b = start >= w->in[j] ? 0 : (w->in[j] - 1 - start) / dl + 1;
	if (start < -w->pad_lo[j])
		pa = (-w->pad_lo[j] - start + dl - 1) / dl;
	int64_t end = w->in[j] + w->pad_hi[j];
	if (start + (k - 1) * dl >= end)
		pb = start >= end ? 0 : (end - 1 - start) / dl + 1;
	*lo = a < k ? a : k;
	*hi = b > *lo ? b : *lo;
	*padded = pb > pa ? pb - pa : 0;
}

typedef struct PoolCtx {
	const Window *w;
	bool avg, include_pad;
} PoolCtx;

/* One (image, channel) plane. */
static NN_HOT void pool_plane_f(const PoolCtx *p, const float *x, float *y)
{
	const Window *w = p->w;
	int64_t lo[S], hi[S], np[S];
	for (int64_t od = 0; od < w->out[0]; od++) {
		taps(w, 0, od, &lo[0], &hi[0], &np[0]);
		for (int64_t oh = 0; oh < w->out[1]; oh++) {
			taps(w, 1, oh, &lo[1], &hi[1], &np[1]);
			for (int64_t ow = 0; ow < w->out[2]; ow++, y++) {
				taps(w, 2, ow, &lo[2], &hi[2], &np[2]);
				int64_t id0 = od * w->stride[0] - w->pad_lo[0], ih0 = oh * w->stride[1] - w->pad_lo[1];
				int64_t iw0 = ow * w->stride[2] - w->pad_lo[2];
				float mx = -INFINITY;
				double sum = 0.0;
				for (int64_t a = lo[0]; a < hi[0]; a++)
					for (int64_t b = lo[1]; b < hi[1]; b++) {
						const float *row = x + ((id0 + a * w->dilation[0]) * w->in[1] + ih0 + b * w->dilation[1]) *
									       w->in[2];
						for (int64_t c = lo[2]; c < hi[2]; c++) {
							float v = row[iw0 + c * w->dilation[2]];
							mx = v > mx ? v : mx;
							sum += v;
						}
					}
				if (!p->avg) {
					*y = mx;
					continue;
				}
				int64_t cnt = p->include_pad ? np[0] * np[1] * np[2]
							     : (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
				*y = cnt > 0 ? (float)(sum / (double)cnt) : 0.0f;
			}
		}
	}
}

static NN_HOT void maxpool_plane_i(const Window *w, const int64_t *x, int64_t *y)
{
	int64_t lo[S], hi[S], np[S];
	for (int64_t od = 0; od < w->out[0]; od++) {
		taps(w, 0, od, &lo[0], &hi[0], &np[0]);
		for (int64_t oh = 0; oh < w->out[1]; oh++) {
			taps(w, 1, oh, &lo[1], &hi[1], &np[1]);
			for (int64_t ow = 0; ow < w->out[2]; ow++, y++) {
				taps(w, 2, ow, &lo[2], &hi[2], &np[2]);
				int64_t id0 = od * w->stride[0] - w->pad_lo[0], ih0 = oh * w->stride[1] - w->pad_lo[1];
				int64_t iw0 = ow * w->stride[2] - w->pad_lo[2];
				int64_t mx = INT64_MIN;
				for (int64_t a = lo[0]; a < hi[0]; a++)
					for (int64_t b = lo[1]; b < hi[1]; b++)
						for (int64_t c = lo[2]; c < hi[2]; c++) {
							int64_t v = x[((id0 + a * w->dilation[0]) * w->in[1] + ih0 + b * w->dilation[1]) *
									      w->in[2] +
								      iw0 + c * w->dilation[2]];
							mx = v > mx ? v : mx;
						}
				*y = mx;
			}
		}
	}
}

int ref_pool(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	Window w;
	Shape none = shape_unknown();
	if (window_of_node(n, &x->shape, &none, &w, d) < 0)
		return -1;
	if (nn_check_window_out(n, &w, x->shape.dim[0], x->shape.dim[1], y, d) < 0)
		return -1;
	int64_t planes = x->shape.dim[0] * x->shape.dim[1];
	int64_t isz = w.in[0] * w.in[1] * w.in[2], osz = w.out[0] * w.out[1] * w.out[2];
	PoolCtx p = {&w, n->op == OP_AveragePool, n->attr.pool.count_include_pad != 0};
	if (dtype_is_float(x->dtype)) {
		for (int64_t q = 0; q < planes; q++)
			pool_plane_f(&p, (const float *)x->data + q * isz, (float *)y->data + q * osz);
	} else {
		if (p.avg)
			return node_error(d, n, "AveragePool of integer type %s", dtype_name(x->dtype));
		for (int64_t q = 0; q < planes; q++)
			maxpool_plane_i(&w, (const int64_t *)x->data + q * isz, (int64_t *)y->data + q * osz);
	}
	ref_round_result(y);
	return 0;
}

int ref_global_pool(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	int64_t planes = x->shape.dim[0] * x->shape.dim[1], numel = tensor_numel(x);
	if (nn_check_numel(n, y, planes, "output", d) < 0)
		return -1;
	int64_t size = planes > 0 ? numel / planes : 0;
	const float *px = x->data;
	float *py = y->data;
	bool avg = n->op == OP_GlobalAveragePool;
	for (int64_t q = 0; q < planes; q++, px += size) {
		double sum = 0.0;
		float mx = -INFINITY;
		for (int64_t i = 0; i < size; i++) {
			sum += px[i];
			mx = px[i] > mx ? px[i] : mx;
		}
		py[q] = avg ? (size > 0 ? (float)(sum / (double)size) : 0.0f) : mx;
	}
	ref_round_result(y);
	return 0;
}
