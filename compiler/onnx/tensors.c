/* TensorProto <-> compute-class payload. The one decoder behind initializers, Constant nodes,
 * tensor attributes and .pb files, so that they all accept and reject the same things.
 *
 * Decoding is two steps so that nothing is allocated from a size the file merely claims:
 * onnx_tensor_info checks dtype, dims, element count and that the data present (inline or in
 * the external file) has exactly the length the dims need; only then does the caller allocate
 * and onnx_tensor_load convert. */
#include "onnx_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Which typed field holds each dtype when raw_data is not used (see TensorProto in onnx.proto). */
typedef enum TypedField { TF_FLOAT, TF_INT32, TF_INT64, TF_DOUBLE, TF_UINT64, TF_COUNT } TypedField;

static const char *const field_names[TF_COUNT] = {"float_data", "int32_data", "int64_data", "double_data", "uint64_data"};

static TypedField typed_field(DType t)
{
	switch (t) {
	case DT_F32: return TF_FLOAT;
	case DT_F64: return TF_DOUBLE;
	case DT_I64: return TF_INT64;
	case DT_U32: case DT_U64: return TF_UINT64;
	default: return TF_INT32; /* i32, i16, i8, u8, u16, bool; f16/bf16 as bit patterns */
	}
}

static size_t field_count(const Onnx__TensorProto *tp, TypedField f)
{
	switch (f) {
	case TF_FLOAT: return tp->n_float_data;
	case TF_INT32: return tp->n_int32_data;
	case TF_INT64: return tp->n_int64_data;
	case TF_DOUBLE: return tp->n_double_data;
	case TF_UINT64: return tp->n_uint64_data;
	case TF_COUNT: break;
	}
	return 0;
}

/* Parse a decimal external_data value ("offset", "length") strictly. */
static bool parse_size(const char *s, int64_t *out)
{
	if (s == NULL || *s == '\0')
		return false;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return true;
}

static int external_info(const Onnx__TensorProto *tp, const char *label, const char *base_dir, OnnxTensorInfo *info,
			 Diag *d)
{
	if (base_dir == NULL)
		return diag_error(d, "%s: external data cannot be resolved (the model was not loaded from a file)", label);
	const char *location = NULL;
	const char *offset_s = NULL, *length_s = NULL;
	for (size_t i = 0; i < tp->n_external_data; i++) {
		const Onnx__StringStringEntryProto *e = tp->external_data[i];
		if (e->key == NULL)
			continue;
		if (strcmp(e->key, "location") == 0)
			location = e->value;
		else if (strcmp(e->key, "offset") == 0)
			offset_s = e->value;
		else if (strcmp(e->key, "length") == 0)
			length_s = e->value;
		/* "checksum" and writer-specific keys do not change what is read */
	}
	int64_t offset = 0, length = -1, size = 0;
	if (offset_s && !parse_size(offset_s, &offset))
		return diag_error(d, "%s: external data offset '%s' is not a non-negative integer", label, offset_s);
	if (length_s && !parse_size(length_s, &length))
		return diag_error(d, "%s: external data length '%s' is not a non-negative integer", label, length_s);
	int fd = onnx_open_external(base_dir, location, label, &size, d);
	if (fd < 0)
		return -1;
	if (offset > size) {
		close(fd);
		return diag_error(d, "%s: external data offset %lld is past the end of '%s' (%lld bytes)", label,
				  (long long)offset, location, (long long)size);
	}
	if (length < 0)
		length = size - offset;
	else if (length > size - offset) {
		close(fd);
		return diag_error(d, "%s: external data offset %lld + length %lld exceeds the size of '%s' (%lld bytes)",
				  label, (long long)offset, (long long)length, location, (long long)size);
	}
	if ((uint64_t)length != (uint64_t)info->storage_bytes) {
		char sb[128];
		close(fd);
		return diag_error(d, "%s: external data in '%s' has %lld bytes, dims %s of %s need %zu", label, location,
				  (long long)length, shape_str(&info->shape, sb, sizeof sb), dtype_name(info->dtype),
				  info->storage_bytes);
	}
	info->ext_fd = fd;
	info->ext_offset = offset;
	return 0;
}

int onnx_tensor_info(const Onnx__TensorProto *tp, const char *label, const char *base_dir, OnnxTensorInfo *info, Diag *d)
{
	char sb[128];
	memset(info, 0, sizeof *info);
	info->ext_fd = -1;
	int onnx_type = tp->has_data_type ? tp->data_type : 0;
	info->dtype = dtype_from_onnx(onnx_type);
	if (info->dtype == DT_UNDEFINED)
		return diag_error(d, "%s: data type %s (%d) is not supported", label, dtype_onnx_name(onnx_type), onnx_type);
	if (tp->n_dims > NNZC_MAX_RANK)
		return diag_error(d, "%s: rank %zu exceeds the maximum of %d", label, tp->n_dims, NNZC_MAX_RANK);
	info->shape = shape_make((int)tp->n_dims, tp->dims);
	for (size_t i = 0; i < tp->n_dims; i++)
		if (tp->dims[i] < 0)
			return diag_error(d, "%s: dimension %zu is negative (%lld)", label, i, (long long)tp->dims[i]);
	info->numel = shape_numel(&info->shape);
	bool ok;
	info->storage_bytes = shape_bytes(&info->shape, dtype_storage_size(info->dtype), &ok);
	if (info->numel < 0 || !ok)
		return diag_error(d, "%s: dims %s: the element count overflows", label, shape_str(&info->shape, sb, sizeof sb));
	if (tp->segment != NULL)
		return diag_error(d, "%s: segmented tensors are not supported", label);
	if (tp->n_string_data)
		return diag_error(d, "%s: has string_data, which nnzc does not read", label);

	size_t typed_total = 0;
	for (int f = 0; f < TF_COUNT; f++)
		typed_total += field_count(tp, (TypedField)f);
	bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	if (external) {
		if (tp->has_raw_data || typed_total)
			return diag_error(d, "%s: has both external and inline data", label);
		return external_info(tp, label, base_dir, info, d);
	}
	if (tp->has_raw_data) {
		if (typed_total)
			return diag_error(d, "%s: has both raw_data and typed data fields", label);
		if (tp->raw_data.len != info->storage_bytes)
			return diag_error(d, "%s: raw_data has %zu bytes, dims %s of %s need %zu", label, tp->raw_data.len,
					  shape_str(&info->shape, sb, sizeof sb), dtype_name(info->dtype), info->storage_bytes);
		return 0;
	}
	TypedField want = typed_field(info->dtype);
	size_t have = field_count(tp, want);
	if (have != typed_total) {
		for (int f = 0; f < TF_COUNT; f++)
			if (f != (int)want && field_count(tp, (TypedField)f))
				return diag_error(d, "%s: has values in %s, which cannot hold %s", label, field_names[f],
						  dtype_onnx_name(onnx_type));
	}
	if ((uint64_t)have != (uint64_t)info->numel)
		return diag_error(d, "%s: %s has %zu values, dims %s need %lld", label, field_names[want], have,
				  shape_str(&info->shape, sb, sizeof sb), (long long)info->numel);
	return 0;
}

void onnx_tensor_info_done(OnnxTensorInfo *info)
{
	if (info->ext_fd >= 0)
		close(info->ext_fd);
	info->ext_fd = -1;
}

static int load_external(const char *label, const OnnxTensorInfo *info, void *compute, Diag *d)
{
	uint8_t *buf = malloc(info->storage_bytes ? info->storage_bytes : 1);
	if (buf == NULL)
		return diag_error(d, "%s: cannot allocate %zu bytes for its external data", label, info->storage_bytes);
	size_t got = 0;
	while (got < info->storage_bytes) {
		ssize_t r = pread(info->ext_fd, buf + got, info->storage_bytes - got, (off_t)(info->ext_offset + (int64_t)got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return diag_error(d, "%s: reading its external data failed: %s", label,
					  r < 0 ? strerror(errno) : "file shrank while reading");
		}
		got += (size_t)r;
	}
	dtype_load(info->dtype, buf, compute, (size_t)info->numel);
	free(buf);
	return 0;
}

int onnx_tensor_load(const Onnx__TensorProto *tp, const char *label, const OnnxTensorInfo *info, void *compute, Diag *d)
{
	size_t n = (size_t)info->numel;
	DType t = info->dtype;
	if (info->ext_fd >= 0)
		return load_external(label, info, compute, d);
	if (tp->has_raw_data) {
		dtype_load(t, tp->raw_data.data, compute, n);
		return 0;
	}
	float *f = compute;
	int64_t *q = compute;
	for (size_t i = 0; i < n; i++) {
		switch (typed_field(t)) {
		case TF_FLOAT: f[i] = tp->float_data[i]; break;
		case TF_DOUBLE: f[i] = (float)tp->double_data[i]; break;
		case TF_INT64: q[i] = tp->int64_data[i]; break;
		case TF_UINT64:
			q[i] = t == DT_U32 ? (int64_t)(uint32_t)tp->uint64_data[i] : (int64_t)tp->uint64_data[i];
			break;
		case TF_INT32: {
			int32_t v = tp->int32_data[i];
			if (t == DT_F16 || t == DT_BF16) {
				uint16_t h = (uint16_t)(uint32_t)v; /* the bit pattern sits in the low 16 bits */
				dtype_load(t, &h, &f[i], 1);
			} else {
				q[i] = v;
				dtype_round(t, &q[i], 1); /* i8/u8/i16/u16 wrap, bool to 0/1 */
			}
			break;
		}
		case TF_COUNT: break;
		}
	}
	return 0;
}

int onnx_tensor_fill(Onnx__TensorProto *tp, Arena *a, DType dtype, const Shape *shape, const void *compute, Diag *d)
{
	bool ok;
	size_t bytes = shape_bytes(shape, dtype_storage_size(dtype), &ok);
	if (!ok)
		return diag_error(d, "tensor '%s': shape is not static or too large", tp->name ? tp->name : "");
	tp->has_data_type = 1;
	tp->data_type = dtype_to_onnx(dtype);
	tp->n_dims = (size_t)shape->rank;
	tp->dims = arena_alloc(a, (size_t)(shape->rank + 1) * sizeof *tp->dims);
	for (int i = 0; i < shape->rank; i++)
		tp->dims[i] = shape->dim[i];
	uint8_t *raw = arena_alloc_data(a, bytes ? bytes : 1, 1);
	if (raw == NULL)
		return diag_error(d, "tensor '%s': cannot allocate %zu bytes", tp->name ? tp->name : "", bytes);
	dtype_store(dtype, compute, raw, (size_t)shape_numel(shape));
	tp->has_raw_data = 1;
	tp->raw_data.len = bytes;
	tp->raw_data.data = raw;
	return 0;
}
