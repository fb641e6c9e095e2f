/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int infer_batch_norm(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_layer_norm(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_instance_norm(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_matmul(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_gemm(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_conv(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_conv_transpose(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_pool(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_global_pool(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_fused_conv(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_fused_gemm(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
