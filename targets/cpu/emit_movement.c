/* STUB: data movement and the remaining elementwise ops; replaced by the real emitters. */
#include "cpu.h"

int emit_cast(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_clip(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_concat(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_constant_of_shape(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_expand(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_gather(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_pad(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_range(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_resize(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_shape_op(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_slice(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_split(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_tile(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_transpose(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_where(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}
