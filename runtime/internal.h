/* Shared by the runtime's sources and nothing else: never installed. Everything declared here
 * has hidden visibility (the library is compiled with -fvisibility=hidden), so the shared
 * library exports the nnzrt_* API only. */
#ifndef NNZRT_INTERNAL_H
#define NNZRT_INTERNAL_H

#include "nnzrt.h"

#include <stddef.h>

/* Records a one-line message for nnzrt_errmsg() in this thread. */
void rt_set_errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* rt_fail(status, fmt, ...): records the message and evaluates to status. A macro, so that the
 * compiler sees the constant status at each `return rt_fail(...)` and knows the error path
 * returns non-zero (otherwise -O2 warns about outputs "maybe uninitialized" after a check). */
#define rt_fail(status, ...) (rt_set_errmsg(__VA_ARGS__), (status))

/* Every allocation of the runtime goes through these (status.c), so that tests can make one
 * fail and check each out-of-memory path: after rt_test_fail_alloc_after(n) the n-th following
 * allocation (1-based) fails; 0 disables. Hidden, so reachable from tests that link the static
 * library and from nothing else. */
void *rt_malloc(size_t size);
void *rt_calloc(size_t n, size_t size);
void *rt_realloc(void *p, size_t size);
void *rt_aligned_alloc(size_t align, size_t size);
void rt_test_fail_alloc_after(long n);

#endif
