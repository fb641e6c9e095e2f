/* Dense tensors in a compute class (float32 or int64), owned by whoever allocated them. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

int tensor_alloc(Tensor *t, DType dtype, const Shape *shape, Diag *d)
{
	bool ok;
	size_t bytes = shape_bytes(shape, dtype_compute_size(dtype), &ok);
	t->data = NULL;
	t->sparse = NULL;
	if (!ok)
		return diag_error(d, "tensor of shape %s is too large or not static",
				  shape->rank < 0 ? "[*]" : "given");
	t->dtype = dtype;
	t->shape = *shape;
	t->data = calloc(1, bytes ? bytes : 1);
	if (t->data == NULL)
		return diag_error(d, "out of memory allocating a tensor of %zu bytes", bytes);
	return 0;
}

void tensor_free(Tensor *t)
{
	free(t->data);
	t->data = NULL;
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(&t->shape); }

size_t tensor_nbytes(const Tensor *t)
{
	bool ok;
	size_t n = shape_bytes(&t->shape, dtype_compute_size(t->dtype), &ok);
	return ok ? n : 0;
}

double tensor_get_f(const Tensor *t, int64_t i)
{
	return dtype_is_float(t->dtype) ? (double)((const float *)t->data)[i] : (double)((const int64_t *)t->data)[i];
}

int64_t tensor_get_i(const Tensor *t, int64_t i)
{
	if (!dtype_is_float(t->dtype))
		return ((const int64_t *)t->data)[i];
	float f = ((const float *)t->data)[i];
	if (!(f > -9.2e18f && f < 9.2e18f)) /* NaN or out of int64 range: saturate, never UB */
		return f > 0 ? INT64_MAX : INT64_MIN;
	return (int64_t)f;
}

Tensor value_tensor(const Value *v)
{
	Tensor t = {v->dtype, v->shape, v->data, v->sparse};
	return t;
}

int64_t value_nnz(const Value *v)
{
	if (v->data == NULL)
		return v->elided ? v->elided->nnz : -1;
	int64_t n = shape_numel(&v->shape), nnz = 0;
	if (dtype_is_float(v->dtype)) {
		const float *p = v->data;
		for (int64_t i = 0; i < n; i++)
			nnz += p[i] != 0.0f;
	} else {
		const int64_t *p = v->data;
		for (int64_t i = 0; i < n; i++)
			nnz += p[i] != 0;
	}
	return nnz;
}
