/* STUB: replaced by the real ONNX writer. */
#include "nnzc/ir.h"
int onnx_export(const Graph *g, const char *path, Diag *d) { (void)g; return diag_error(d, "%s: export not implemented", path); }
