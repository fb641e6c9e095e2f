/* nnzc.TasdActivation: the activation half of TASD (Jeong et al., arXiv 2403.07953). A tensor is
 * approximated by a series of structured-sparse terms (N1:M1) + (N2:M2) + ...: along the axis,
 * elements are taken in groups of M1 consecutive ones and term 1 keeps the N1 largest magnitudes
 * of every group; term 2 keeps the N2 largest of what term 1 left (the residual) in groups of M2,
 * and so on. The sum of the terms is the input with every element no term kept set to zero, so
 * that is what the kernel writes. A group that the axis cuts short (the last one when M does not
 * divide the length) is padded virtually with zeros: it keeps min(N, its length) elements.
 *
 * Ties go to the lower index, as in the weight encodings. A NaN counts as larger than any
 * number, so it is kept and propagates instead of vanishing from the output.
 *
 * The work is per fiber (one position of the other axes): the fiber is gathered into a
 * contiguous residual buffer, each group's top-N found without sorting (keep_top), and the
 * kept elements written back. */
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TASD_MAX_M 256

typedef struct Term { int n, m; } Term;

static int series_terms(const Encoding *e, Term *t)
{
	if (e->kind == ENC_NM) {
		t[0] = (Term){e->u.nm.n, e->u.nm.m};
		return 1;
	}
	int k = e->kind == ENC_TASD ? e->u.tasd.nterms : 0;
	for (int i = 0; i < k; i++)
		t[i] = (Term){e->u.tasd.term[i].n, e->u.tasd.term[i].m};
	return k;
}

static inline float magnitude(float v) { return v != v ? INFINITY : fabsf(v); }

/* Keep the k largest of the g residual elements r[0..g): mark them kept, take them out of the
 * residual. Element i goes before j when its magnitude is larger, or equal with i < j. Small
 * groups (the common 4 and 8) count each element's rank, a fixed, branch-free double loop;
 * larger ones select the k best one at a time. */
static void keep_top(float *r, unsigned char *kept, int g, int k)
{
	if (k >= g) {
		for (int j = 0; j < g; j++) {
			kept[j] = 1;
			r[j] = 0;
		}
		return;
	}
	float mag[TASD_MAX_M];
	for (int j = 0; j < g; j++)
		mag[j] = magnitude(r[j]);
	if (g <= 16) {
		int rank[16];
		for (int i = 0; i < g; i++) {
			int before = 0;
			for (int j = 0; j < g; j++)
				before += mag[j] > mag[i] || (mag[j] == mag[i] && j < i);
			rank[i] = before;
		}
		for (int i = 0; i < g; i++)
			if (rank[i] < k) {
				kept[i] = 1;
				r[i] = 0;
			}
		return;
	}
	for (int j = 0; j < k; j++) {
		int best = -1;
		for (int q = 0; q < g; q++)
			if (mag[q] >= 0 && (best < 0 || mag[q] > mag[best]))
				best = q; /* strict >: the lower index wins a tie */
		kept[best] = 1;
		r[best] = 0;
		mag[best] = -1; /* taken: below every magnitude */
	}
}

/* NN_HOT: the layer-wise searches call this on every weight and activation of a model, once per
 * candidate series. */
NN_HOT int tasd_approximate(const float *x, float *y, int64_t outer, int64_t len, int64_t inner,
			    const Encoding *series, double *dropped)
{
	Term t[NNZC_MAX_TASD_TERMS];
	int nt = series_terms(series, t);
	*dropped = 0;
	if (outer <= 0 || len <= 0 || inner <= 0)
		return 0;
	float *r = malloc((size_t)len * sizeof *r);
	unsigned char *kept = malloc((size_t)len);
	if (r == NULL || kept == NULL) {
		free(r);
		free(kept);
		return -1;
	}
	double lost = 0;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t i = 0; i < inner; i++) {
			int64_t base = o * len * inner + i;
			for (int64_t k = 0; k < len; k++)
				r[k] = x[base + k * inner];
			memset(kept, 0, (size_t)len);
			for (int j = 0; j < nt; j++) {
				int m = t[j].m;
				for (int64_t s = 0; s < len; s += m) {
					int g = len - s < m ? (int)(len - s) : m;
					keep_top(r + s, kept + s, g, t[j].n < g ? t[j].n : g);
				}
			}
			/* read x before writing y: they may be the same buffer */
			for (int64_t k = 0; k < len; k++) {
				float v = x[base + k * inner];
				if (!kept[k])
					lost += (double)v * v;
				if (y)
					y[base + k * inner] = kept[k] ? v : 0.0f;
			}
		}
	free(r);
	free(kept);
	*dropped = lost;
	return 0;
}

int ref_tasd_activation(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Tensor *x = in[0];
	Tensor *y = out[0];
	if (!dtype_is_float(x->dtype) || !dtype_is_float(y->dtype) || !shape_equal(&x->shape, &y->shape))
		return node_error(d, n, "input and output must be floating-point tensors of the same shape");
	Encoding series;
	if (tasd_act_series(n, &series, d) < 0)
		return -1;
	int axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.tasd_act.axis, x->shape.rank, &axis, &tmp) < 0)
		return node_error(d, n, "%s", tmp.msg);
	/* the product of all dims is the element count, which exists: no overflow */
	int64_t outer = 1, inner = 1, len = x->shape.dim[axis];
	for (int i = 0; i < axis; i++)
		outer *= x->shape.dim[i];
	for (int i = axis + 1; i < x->shape.rank; i++)
		inner *= x->shape.dim[i];
	double dropped;
	if (tasd_approximate(x->data, y->data, outer, len, inner, &series, &dropped) < 0)
		return node_error(d, n, "out of memory");
	return 0;
}
