/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int ref_batch_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_layer_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_instance_norm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_matmul(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_gemm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_conv(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_conv_transpose(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_pool(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_global_pool(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_fused_conv(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_fused_gemm(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
