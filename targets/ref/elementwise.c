/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int ref_binary(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_variadic(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_where(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_unary(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_clip(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_cast(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_identity(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_dropout(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_softmax(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_reduce(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_arg_reduce(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
