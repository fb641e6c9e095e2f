/* Overhead of nnzrt_parallel_for: the time of a call whose tasks do nothing, i.e. the latency
 * the runtime adds to every parallel layer.
 *
 *   bench_nnzrt_pool [THREADS [CALLS]]     (defaults: 2 threads, 200000 calls)
 *
 * Cases:
 *   warm          back-to-back calls, as between consecutive layers: workers are still spinning.
 *                 With empty tasks the caller often runs a worker's chunk itself before the
 *                 worker has claimed it, so this is the cost of the call as generated code sees
 *                 it, not of a hand-over;
 *   warm_handoff  the same with a rendezvous in the task (every chunk waits until all chunks
 *                 have started), which forces each chunk onto its own thread: the round trip
 *                 of handing work to spinning workers and collecting it;
 *   cold          calls 1 ms apart, longer than the spin, so the workers are blocked;
 *   cold_handoff  the same with the rendezvous: the full wake-up latency of blocked workers;
 *   inline        the calls on a NULL pool (the floor: an indirect call).
 * Each case is timed in batches; the median and minimum batch, per call, are reported, and the
 * last line is one JSON object. This is a benchmark, not a test: it never fails.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "nnzrt.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Touch one atomic per chunk so that the compiler cannot drop the task, and so that the
 * count can be checked. */
static void empty_task(void *ctx, int64_t begin, int64_t end)
{
	atomic_fetch_add_explicit((_Atomic int64_t *)ctx, end - begin, memory_order_relaxed);
}

typedef struct Rendezvous {
	_Atomic int arrived;
	int chunks;
} Rendezvous;

static void rendezvous_task(void *ctx, int64_t begin, int64_t end)
{
	(void)begin;
	(void)end;
	Rendezvous *r = ctx;
	atomic_fetch_add(&r->arrived, 1);
	/* yield after a while, so that a busy machine measures the wake-up, not the time slice */
	for (unsigned i = 0; atomic_load(&r->arrived) < r->chunks; i++)
		if (i > 1000)
			sched_yield();
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef struct Result {
	double median_ns, min_ns;
} Result;

/* calls in batches of `batch`, sleeping gap_ns between calls (0: back to back); with
 * rendezvous, chunks wait for each other */
static Result measure(nnzrt_pool *pool, int64_t n, long calls, long batch, long gap_ns, int rendezvous)
{
	_Atomic int64_t sum = 0;
	long nb = calls / batch;
	double *t = malloc((size_t)nb * sizeof *t);
	if (t == NULL) {
		fputs("out of memory\n", stderr);
		exit(1);
	}
	for (long i = 0; i < 1000; i++) /* warm-up */
		nnzrt_parallel_for(pool, n, empty_task, &sum);
	struct timespec gap = {0, gap_ns};
	for (long b = 0; b < nb; b++) {
		double total = 0;
		for (long i = 0; i < batch; i++) {
			if (gap_ns)
				nanosleep(&gap, NULL);
			Rendezvous r = {0, nnzrt_pool_threads(pool)};
			double t0 = now_ns();
			if (rendezvous)
				nnzrt_parallel_for(pool, n, rendezvous_task, &r);
			else
				nnzrt_parallel_for(pool, n, empty_task, &sum);
			total += now_ns() - t0;
			if (rendezvous)
				atomic_fetch_add(&sum, n);
		}
		t[b] = total / batch;
	}
	if (atomic_load(&sum) != (int64_t)(1000 + nb * batch) * n) {
		fputs("bench_nnzrt_pool: wrong element count: the pool is broken\n", stderr);
		exit(1);
	}
	qsort(t, (size_t)nb, sizeof *t, cmp_double);
	Result r = {t[nb / 2], t[0]};
	free(t);
	return r;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 2;
	long calls = argc > 2 ? atol(argv[2]) : 200000;
	if (threads < 1 || calls < 1000) {
		fputs("usage: bench_nnzrt_pool [THREADS>=1 [CALLS>=1000]]\n", stderr);
		return 2;
	}
	nnzrt_pool *pool = nnzrt_pool_create(threads);
	if (pool == NULL) {
		fprintf(stderr, "bench_nnzrt_pool: %s\n", nnzrt_errmsg());
		return 1;
	}
	int64_t n = threads; /* one element per thread: everyone takes part */
	Result r[5];
	const char *names[5] = {"warm", "warm_handoff", "cold", "cold_handoff", "inline"};
	r[0] = measure(pool, n, calls, 1000, 0, 0);
	r[1] = threads > 1 ? measure(pool, n, calls, 1000, 0, 1) : r[0];
	r[2] = measure(pool, n, 2000, 100, 1000000, 0);
	r[3] = threads > 1 ? measure(pool, n, 2000, 100, 1000000, 1) : r[2];
	r[4] = measure(NULL, n, calls, 1000, 0, 0);
	printf("threads %d, ns per call, median (min):", threads);
	for (int i = 0; i < 5; i++)
		printf(" %s %.0f (%.0f)%s", names[i], r[i].median_ns, r[i].min_ns, i < 4 ? "," : "\n");
	printf("{\"bench\":\"nnzrt_parallel_for\",\"threads\":%d", threads);
	for (int i = 0; i < 5; i++)
		printf(",\"%s_median_ns\":%.0f,\"%s_min_ns\":%.0f", names[i], r[i].median_ns, names[i],
			r[i].min_ns);
	printf("}\n");
	nnzrt_pool_destroy(pool);
	return 0;
}
