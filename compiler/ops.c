/* The op table, expanded from nnzc/ops.def. */
#include "nnzc/ir.h"

#include <string.h>

const OpInfo op_info[OP_COUNT] = {
#define OP(id, onnx, min_in, max_in, min_out, max_out, attrs, infer, ref) \
	[OP_##id] = {onnx, min_in, max_in, min_out, max_out, attrs, infer, ref},
#include "nnzc/ops.def"
#undef OP
};

int op_from_name(const char *onnx_name)
{
	for (int i = 0; i < OP_COUNT; i++)
		if (strcmp(op_info[i].name, onnx_name) == 0)
			return i;
	return -1;
}
