/* The clock behind per-layer timing (nnzrt.h): generated code compiled with profiling calls it
 * once per layer, so that the timing uses the same clock as `nnzc bench` without the generated
 * code calling libc itself. */
#include "nnzrt.h"

#include <time.h>

int64_t nnzrt_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}
