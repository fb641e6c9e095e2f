/* STUB: matmul, gemm, conv; replaced by the real emitters. */
#include "cpu.h"

int emit_conv(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_conv_transpose(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_gemm(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}

int emit_matmul(Cg *cg, const Node *n, NodeCode *code)
{
	(void)code;
	return node_error(cg->d, n, "the cpu target cannot compile this op yet");
}
