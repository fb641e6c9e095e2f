/* STUB: pooling, reductions, softmax, normalisation; replaced by the real emitters. */
#include "cpu.h"

int emit_arg_reduce(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_batch_norm(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_global_pool(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_instance_norm(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_layer_norm(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_pool(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_reduce(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_softmax(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}
