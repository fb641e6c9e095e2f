/* nnzc calibrate: measure this CPU's kernels on synthetic products and write the cpu target's
 * cost model (targets/cpu/calibrate.c; docs/performance.md). Takes a minute or two; run it on an
 * otherwise idle machine. */
#include "driver.h"

int cmd_calibrate(const DriverOptions *o, Diag *d)
{
	CpuCalibrateOptions co = {
		.cpu = o->cpu, .out = o->output, .threads = o->threads, .quick = o->quick, .log = stderr,
	};
	return cpu_calibrate(&co, d);
}
