/* Normalisation: BatchNormalization (inference form, running statistics), LayerNormalization
 * (with the optional Mean and InvStdDev outputs) and InstanceNormalization. Statistics are
 * accumulated in double (two passes: mean, then the centred sum of squares), so they do not
 * depend on the summation order the way a float running sum would. */
#include "nn.h"
#include "loop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* mean and 1/sqrt(var + eps) of x[0..n) */
static NN_HOT void moments(const float *x, int64_t n, float eps, double *mean, double *inv_std)
{
	double s = 0.0, ss = 0.0;
	for (int64_t i = 0; i < n; i++)
		s += x[i];
	double mu = n > 0 ? s / (double)n : 0.0;
	for (int64_t i = 0; i < n; i++) {
		double c = x[i] - mu;
		ss += c * c;
	}
	*mean = mu;
	*inv_std = 1.0 / sqrt((n > 0 ? ss / (double)n : 0.0) + (double)eps);
}

int ref_batch_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	if (n->attr.batch_norm.training_mode != 0)
		return node_error(d, n, "training_mode=1 is not supported");
	const float *scale = in[1]->data, *bias = in[2]->data, *mean = in[3]->data, *var = in[4]->data;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], numel = tensor_numel(x);
	if (nn_check_numel(n, in[1], c, "scale", d) < 0 || nn_check_numel(n, in[2], c, "B", d) < 0 ||
	    nn_check_numel(n, in[3], c, "mean", d) < 0 || nn_check_numel(n, in[4], c, "var", d) < 0)
		return -1;
	int64_t size = nimg * c > 0 ? numel / (nimg * c) : 0;
	float eps = n->attr.batch_norm.epsilon;
	const float *px = x->data;
	float *py = y->data;
	for (int64_t ch = 0; ch < c; ch++) {
		/* y = (x - mean) / sqrt(var + eps) * scale + bias = x * a + b */
		double a = (double)scale[ch] / sqrt((double)var[ch] + (double)eps);
		float fa = (float)a, fb = (float)((double)bias[ch] - (double)mean[ch] * a);
		for (int64_t i = 0; i < nimg; i++) {
			const float *xp = px + (i * c + ch) * size;
			float *yp = py + (i * c + ch) * size;
			for (int64_t k = 0; k < size; k++)
				yp[k] = xp[k] * fa + fb;
		}
	}
	ref_round_result(y);
	return 0;
}

int ref_instance_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	const float *scale = in[1]->data, *bias = in[2]->data;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], numel = tensor_numel(x);
	if (nn_check_numel(n, in[1], c, "scale", d) < 0 || nn_check_numel(n, in[2], c, "B", d) < 0)
		return -1;
	int64_t size = nimg * c > 0 ? numel / (nimg * c) : 0;
	const float *px = x->data;
	float *py = y->data;
	for (int64_t q = 0; q < nimg * c; q++) {
		double mu, inv;
		moments(px + q * size, size, n->attr.instance_norm.epsilon, &mu, &inv);
		int64_t ch = q % c;
		double a = inv * scale[ch];
		for (int64_t k = 0; k < size; k++)
			py[q * size + k] = (float)((px[q * size + k] - mu) * a + bias[ch]);
	}
	ref_round_result(y);
	return 0;
}

/* p, unidirectionally broadcastable to the normalised shape norm, expanded to inner values. */
static int expand_param(const Node *n, const Tensor *p, const Shape *norm, int64_t inner, float *dst, Diag *d)
{
	const float *src = p->data;
	int r = norm->rank, pr = p->shape.rank;
	bool ok = pr <= r;
	for (int k = 0; ok && k < pr; k++)
		ok = p->shape.dim[pr - 1 - k] == 1 || p->shape.dim[pr - 1 - k] == norm->dim[r - 1 - k];
	if (!ok)
		return node_error(d, n, "scale or B does not broadcast to the normalised shape at run time");
	if (tensor_numel(p) == inner) {
		memcpy(dst, src, (size_t)inner * sizeof *dst);
		return 0;
	}
	for (int64_t j = 0; j < inner; j++) {
		int64_t rem = j, off = 0, stride = 1;
		for (int k = r - 1, pk = pr - 1; k >= 0; k--, pk--) {
			int64_t idx = rem % norm->dim[k];
			rem /= norm->dim[k];
			if (pk < 0)
				continue;
			if (p->shape.dim[pk] != 1)
				off += idx * stride;
			stride *= p->shape.dim[pk];
		}
		dst[j] = src[off];
	}
	return 0;
}

int ref_layer_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0], *scale = in[1], *bias = nn_opt_in(n, in, 2);
	Tensor *y = out[0];
	Tensor *mean_out = n->n_out > 1 ? out[1] : NULL, *inv_out = n->n_out > 2 ? out[2] : NULL;
	int rank = x->shape.rank;
	int64_t ax = n->attr.layer_norm.axis;
	int axis = (int)(ax < 0 ? ax + rank : ax);
	Shape norm = shape_make(rank - axis, x->shape.dim + axis);
	int64_t inner = shape_numel(&norm), numel = tensor_numel(x);
	int64_t outer = inner > 0 ? numel / inner : 0;
	float *sc = malloc((size_t)(inner > 0 ? inner : 1) * sizeof *sc);
	float *bi = malloc((size_t)(inner > 0 ? inner : 1) * sizeof *bi);
	if (sc == NULL || bi == NULL) {
		free(sc);
		free(bi);
		return node_error(d, n, "out of memory");
	}
	int rc = expand_param(n, scale, &norm, inner, sc, d);
	if (rc == 0 && bias)
		rc = expand_param(n, bias, &norm, inner, bi, d);
	else if (rc == 0)
		for (int64_t j = 0; j < inner; j++)
			bi[j] = 0.0f;
	if (rc < 0) {
		free(sc);
		free(bi);
		return -1;
	}
	const float *px = x->data;
	float *py = y->data;
	for (int64_t i = 0; i < outer; i++) {
		double mu, inv;
		moments(px + i * inner, inner, n->attr.layer_norm.epsilon, &mu, &inv);
		for (int64_t j = 0; j < inner; j++)
			py[i * inner + j] = (float)((px[i * inner + j] - mu) * inv) * sc[j] + bi[j];
		if (mean_out && mean_out->data)
			((float *)mean_out->data)[i] = (float)mu;
		if (inv_out && inv_out->data)
			((float *)inv_out->data)[i] = (float)inv;
	}
	free(sc);
	free(bi);
	ref_round_result(y);
	if (mean_out)
		ref_round_result(mean_out);
	if (inv_out)
		ref_round_result(inv_out);
	return 0;
}
