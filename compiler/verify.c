/* STUB: replaced by the real verifier. */
#include "nnzc/ir.h"
int graph_verify(const Graph *g, Diag *d) { (void)g; (void)d; return 0; }
