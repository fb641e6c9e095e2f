/* One way for run and bench to execute a compiled graph, whatever the target. */
#include "driver.h"

#include <string.h>

int runner_open(Runner *r, const Graph *g, const DriverOptions *o, Diag *d)
{
	memset(r, 0, sizeof *r);
	r->g = g;
	r->threads = o->threads;
	if (strcmp(o->target, "ref") == 0)
		return 0;
	if (strcmp(o->target, "cpu") == 0) {
		CpuOptions co = {.cpu = o->cpu, .opt_level = o->opt_level < 0 ? 3 : o->opt_level};
		r->cpu = cpu_load(g, &co, d);
		return r->cpu ? 0 : -1;
	}
	return diag_error(d, "--target %s: not available in this build (ref, cpu)", o->target);
}

int runner_run(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d)
{
	if (r->cpu)
		return cpu_model_run(r->cpu, inputs, outputs, r->threads, d);
	return ref_run(r->g, inputs, outputs, d);
}

void runner_close(Runner *r)
{
	cpu_model_free(r->cpu);
	r->cpu = NULL;
}
