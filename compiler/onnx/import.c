/* STUB: replaced by the real frontend. */
#include "nnzc/ir.h"
Graph *onnx_import(const char *path, const ImportOptions *opt, Diag *d) { (void)opt; diag_error(d, "%s: frontend not implemented", path); return NULL; }
Graph *onnx_import_buffer(const uint8_t *buf, size_t len, const char *path, const ImportOptions *opt, Diag *d) { (void)buf; (void)len; (void)opt; diag_error(d, "%s: frontend not implemented", path); return NULL; }
