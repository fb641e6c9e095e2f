/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int ref_copy(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_transpose(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_concat(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_split(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_slice(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_gather(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_shape_op(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_size_op(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_constant_of_shape(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_expand(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_tile(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_range(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_pad(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
int ref_resize(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d) { (void)in; (void)out; return node_error(d, n, "kernel not implemented"); }
