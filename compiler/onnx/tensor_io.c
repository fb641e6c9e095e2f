/* STUB: replaced by the real .pb reader/writer. */
#include "nnzc/ir.h"
int pb_read_tensor(const char *path, Tensor *t, char *name, size_t name_cap, Diag *d) { (void)t; (void)name; (void)name_cap; return diag_error(d, "%s: not implemented", path); }
int pb_write_tensor(const char *path, const char *name, const Tensor *t, Diag *d) { (void)name; (void)t; return diag_error(d, "%s: not implemented", path); }
