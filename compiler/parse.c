/* STUB: replaced by the real parser. */
#include "nnzc/ir.h"
Graph *graph_parse(const char *text, const char *filename, Diag *d) { (void)text; diag_error(d, "%s: parser not implemented", filename); return NULL; }
int encoding_parse(const char *s, Encoding *e, const char **end, Diag *d) { (void)s; (void)e; (void)end; return diag_error(d, "not implemented"); }
void encoding_print(const Encoding *e, FILE *f) { (void)e; fputs("dense", f); }
const char *encoding_kind_name(EncodingKind k) { (void)k; return "dense"; }
