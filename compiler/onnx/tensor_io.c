/* One TensorProto per .pb file, the layout of the ONNX backend tests' input_N.pb/output_N.pb.
 * Decoding is the initializers' (tensors.c): same dtypes, same checks, external data resolved
 * relative to the .pb file's folder. */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

int pb_read_tensor(const char *path, Tensor *t, char *name, size_t name_cap, Diag *d)
{
	uint8_t *buf;
	size_t len;
	t->data = NULL;
	if (name && name_cap)
		name[0] = '\0';
	if (onnx_read_file(path, &buf, &len, d) < 0)
		return -1;
	Onnx__TensorProto *tp = NULL;
	if (onnx_wire_ok(&onnx__tensor_proto__descriptor, buf, len))
		tp = onnx__tensor_proto__unpack(NULL, len, buf);
	free(buf);
	if (tp == NULL)
		return diag_error(d, "%s: not a valid TensorProto (protobuf parse failed)", path);
	char label[600];
	if (tp->name && tp->name[0])
		snprintf(label, sizeof label, "%s: tensor '%.256s'", path, tp->name);
	else
		snprintf(label, sizeof label, "%s: tensor", path);
	char *dir = onnx_dirname(path);
	OnnxTensorInfo info;
	int rc = dir ? onnx_tensor_info(tp, label, dir, &info, d) : diag_error(d, "%s: out of memory", path);
	if (rc == 0) {
		rc = tensor_alloc(t, info.dtype, &info.shape, d);
		if (rc == 0 && onnx_tensor_load(tp, label, &info, t->data, d) < 0) {
			tensor_free(t);
			rc = -1;
		}
	}
	if (dir)
		onnx_tensor_info_done(&info);
	if (rc == 0 && name && name_cap && tp->name) {
		size_t n = strlen(tp->name);
		if (n >= name_cap)
			n = name_cap - 1; /* the name is informational: a long one is cut, not an error */
		memcpy(name, tp->name, n);
		name[n] = '\0';
	}
	free(dir);
	onnx__tensor_proto__free_unpacked(tp, NULL);
	return rc;
}

int pb_write_tensor(const char *path, const char *name, const Tensor *t, Diag *d)
{
	Arena *a = arena_new();
	Onnx__TensorProto tp;
	onnx__tensor_proto__init(&tp);
	tp.name = (char *)(name ? name : "");
	int rc = -1;
	if (t->dtype == DT_UNDEFINED || t->dtype >= DT_COUNT) {
		diag_error(d, "%s: tensor '%s' has no dtype", path, tp.name);
	} else if (onnx_tensor_fill(&tp, a, t->dtype, &t->shape, t->data, d) == 0) {
		size_t len = onnx__tensor_proto__get_packed_size(&tp);
		uint8_t *buf = malloc(len ? len : 1);
		if (buf == NULL) {
			diag_error(d, "%s: out of memory", path);
		} else {
			onnx__tensor_proto__pack(&tp, buf);
			rc = outfile_write_all(path, buf, len, d);
			free(buf);
		}
	} else {
		char prefix[512];
		snprintf(prefix, sizeof prefix, "%s: ", path);
		diag_prefix(d, prefix);
	}
	arena_free(a);
	return rc;
}
