/* Reference kernel for Pad: modes constant, reflect, edge and wrap; negative pads crop.
 *
 * Every output coordinate along an axis maps to one input coordinate (or to "the constant"),
 * whatever the mode (pad_source in compiler/infer_movement.c, shared with the cpu target), so
 * the kernel builds one small table per axis and then walks the output row by row. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

int ref_pad(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d)
{
	const Shape *x = &in[0]->shape, *o = &out[0]->shape;
	PadParams p;
	int rc = pad_params(n, x, (const Tensor *const *)in, &p, d);
	if (rc < 0)
		return -1;
	if (rc > 0 || !shape_equal(&p.out, o))
		return node_error(d, n, "pads disagree with the output shape");
	if (dtype_is_float(in[0]->dtype) != dtype_is_float(out[0]->dtype))
		return node_error(d, n, "output class differs from the input's");
	int r = x->rank;
	size_t es = dtype_compute_size(in[0]->dtype);
	int64_t total = shape_numel(o);
	if (total == 0)
		return 0;

	/* the fill value in the output's compute class (default 0) */
	union { float f; int64_t i; } fill = {0};
	const Tensor *cv = n->n_in > 2 ? in[2] : NULL;
	if (dtype_is_float(out[0]->dtype))
		fill.f = cv && tensor_numel(cv) > 0 ? (float)tensor_get_f(cv, 0) : 0.0f;
	else
		fill.i = cv && tensor_numel(cv) > 0 ? tensor_get_i(cv, 0) : 0;

	if (r == 0) {
		memcpy(out[0]->data, in[0]->data, es);
		return 0;
	}
	/* map[a][k]: input coordinate of output coordinate k along axis a, or -1 */
	int64_t sum = 0, xs[NNZC_MAX_RANK];
	for (int a = 0; a < r; a++)
		sum += o->dim[a];
	int64_t *table = malloc((size_t)sum * sizeof *table);
	if (table == NULL)
		return node_error(d, n, "out of memory");
	int64_t *map[NNZC_MAX_RANK];
	int64_t at = 0;
	for (int a = 0; a < r; a++) {
		map[a] = table + at;
		at += o->dim[a];
		for (int64_t k = 0; k < o->dim[a]; k++)
			map[a][k] = pad_source(n, x, &p, a, k);
	}
	int64_t acc = 1;
	for (int a = r - 1; a >= 0; a--) {
		xs[a] = acc;
		acc *= x->dim[a];
	}

	int last = r - 1;
	int64_t inner = o->dim[last], idx[NNZC_MAX_RANK] = {0};
	const char *src = in[0]->data;
	char *dst = out[0]->data;
	for (int64_t row = 0; row < total; row += inner) {
		int64_t base = 0;
		bool constant = false;
		for (int a = 0; a < last; a++) {
			int64_t c = map[a][idx[a]];
			if (c < 0)
				constant = true;
			else
				base += c * xs[a];
		}
		for (int64_t j = 0; j < inner; j++) {
			int64_t c = constant ? -1 : map[last][j];
			char *to = dst + (row + j) * (int64_t)es;
			if (c < 0)
				memcpy(to, &fill, es);
			else
				memcpy(to, src + (base + c) * (int64_t)es, es);
		}
		for (int a = last - 1; a >= 0; a--) {
			if (++idx[a] < o->dim[a])
				break;
			idx[a] = 0;
		}
	}
	free(table);
	return 0;
}
