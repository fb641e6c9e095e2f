/* STUB: replaced by the real implementation. */
#include "nnzc/ir.h"

int infer_broadcast(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_compare(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_where(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_unary(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_cast(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_dropout(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_reduce(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
int infer_arg_reduce(Node *n, Diag *d) { return node_error(d, n, "shape inference not implemented"); }
