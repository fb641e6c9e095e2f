/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int infer_flatten(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_reshape(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_squeeze(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_unsqueeze(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_transpose(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_concat(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_split(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_slice(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_gather(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_shape_op(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_size_op(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_constant_of_shape(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_expand(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_tile(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_range(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_pad(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_resize(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
