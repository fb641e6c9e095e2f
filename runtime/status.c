/* Status codes, the per-thread error message, the version string, and allocation with fault
 * injection. */
#include "internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Thread-local so that concurrent inferences in different threads do not overwrite each
 * other's messages, and so that no lock is needed. */
static _Thread_local char errmsg[512];

void rt_set_errmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof errmsg, fmt, ap);
	va_end(ap);
}

const char *nnzrt_errmsg(void) { return errmsg; }

const char *nnzrt_strerror(int status)
{
	switch (status) {
	case NNZRT_OK: return "ok";
	case NNZRT_ERR_IO: return "i/o error";
	case NNZRT_ERR_FORMAT: return "malformed file";
	case NNZRT_ERR_NOMEM: return "out of memory";
	case NNZRT_ERR_ARG: return "invalid argument";
	case NNZRT_ERR_SHAPE: return "shape mismatch";
	case NNZRT_ERR_UNSUPPORTED: return "not supported";
	case NNZRT_ERR_THREAD: return "cannot start threads";
	}
	return "unknown status";
}

/* NNZRT_VERSION_STRING comes from the build (PROJECT_VERSION), so it cannot drift. */
const char *nnzrt_version(void) { return NNZRT_VERSION_STRING; }

/* ---------------------------------------------------------------- allocation */

static _Atomic long fail_countdown;

void rt_test_fail_alloc_after(long n) { atomic_store(&fail_countdown, n); }

static bool injected_failure(void)
{
	long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	if (n <= 0)
		return false;
	return atomic_fetch_sub(&fail_countdown, 1) == 1;
}

void *rt_malloc(size_t size) { return injected_failure() ? NULL : malloc(size); }

void *rt_calloc(size_t n, size_t size) { return injected_failure() ? NULL : calloc(n, size); }

void *rt_realloc(void *p, size_t size) { return injected_failure() ? NULL : realloc(p, size); }

/* C11 wants size to be a multiple of align */
void *rt_aligned_alloc(size_t align, size_t size)
{
	size = (size + align - 1) / align * align;
	return injected_failure() ? NULL : aligned_alloc(align, size);
}
