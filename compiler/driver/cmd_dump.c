/* nnzc dump: the IR after the pipeline (or after --after PASS), as text, dot or json. */
#include "driver.h"

int cmd_dump(const DriverOptions *o, Diag *d)
{
	Graph *g = load_and_optimize(o, o->after, NULL, NULL, d);
	if (g == NULL)
		return -1;
	PrintOptions po = {.elide_above = o->elide_above};
	int rc = 0;
	if (o->output) {
		OutFile out;
		rc = outfile_open(&out, o->output, d);
		if (rc == 0) {
			graph_dump(g, o->format, out.f, &po);
			rc = outfile_commit(&out, d);
		}
	} else {
		graph_dump(g, o->format, stdout, &po);
	}
	graph_free(g);
	return rc;
}
