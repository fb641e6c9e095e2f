/* The thread pool behind nnzrt_parallel_for.
 *
 * Generated code calls nnzrt_parallel_for once per layer, about a hundred times per inference,
 * with loops that last from 10 µs to 10 ms, so the cost that matters is the latency of one
 * call, not throughput. The protocol:
 *
 * The caller writes the job (fn, ctx, and per chunk its range) into the pool, sets `pending`
 * (chunks not finished) and `unclaimed` (chunks nobody has started) and publishes the job by
 * storing one 64-bit word, `job` = generation << 16 | active, where active is the number of
 * chunks, at most one per thread. Chunk i is meant for thread i: chunk 0 is the caller's, chunk
 * i belongs to worker i. Workers watch `job`: spinning for DEFAULT_SPIN_US after their last job,
 * then blocked on work_cv. A worker whose index is below active claims its chunk, runs it
 * and decrements `pending`; the others just note the new generation. The caller runs chunk 0,
 * then claims and runs itself every chunk whose worker has not claimed it yet (a worker still
 * asleep, or descheduled on a busy machine, would otherwise cost a wake-up of tens of
 * microseconds), then waits for `pending` to reach 0, spinning first and then blocked on
 * done_cv.
 *
 * Running a chunk is taking grains of it, about an eighth each, from its cursor, and calling fn
 * on each. A thread done with its chunk then takes what is left of the others' chunks, grain by
 * grain, before it counts its chunk done: when one thread runs slower than the other — its CPU
 * shared with another process, on this machine or on the host of a virtual machine — the faster
 * one finishes the layer instead of waiting for it (MobileNetV2 with a busy loop on one of two
 * CPUs: 2.6-2.9 -> 2.4-2.5 ms, by hand; unchanged without it). The owner works through its
 * chunk front to back as before, so its data stays where the previous layer left it; only the
 * stragglers' grains move.
 *
 * Claims: claims[i] holds the last generation in which chunk i was claimed; claiming is a
 * compare-and-swap from a smaller value to the current generation, so exactly one thread claims
 * each chunk, and only a thread that has claimed one takes grains (of any chunk). A job ends
 * only when all its chunks are claimed and done, so a worker that wakes late, with the word of a
 * job that has ended, finds its chunk taken, and never reads the job fields or the cursors of a
 * later job by mistake. The job fields are plain memory: written before the job word is stored
 * (release), read after it is loaded (acquire) and a claim succeeded, and not written again
 * until `pending` is 0, so there is no race; the cursors are atomic, and reset only then too.
 *
 * Blocking without lost wake-ups is the classic store/load pairing (all seq_cst): a worker
 * about to block increments `sleepers` and then rereads `job` under the mutex; the caller stores
 * `job` and then reads `sleepers`, and broadcasts under the same mutex if anyone sleeps. One of
 * the two always sees the other's store. The same pairing, with `pending` and `caller_waiting`,
 * wakes a blocked caller. The hot path therefore costs a few atomic operations per grain when
 * the workers are spinning, plus one futex wake-up when they have gone to sleep; it never
 * allocates and never reads the clock.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACTIVE_BITS 16 /* NNZRT_MAX_THREADS fits */
#define ACTIVE_MASK ((UINT64_C(1) << ACTIVE_BITS) - 1)
/* Long enough to bridge the gaps between parallel loops within an inference (a Slice, a
 * pooling layer, the bench's own bookkeeping: 10-30 µs measured), which at 10 µs put a worker to
 * sleep 7 times per ResNet-50 inference and left each next layer to the caller until the
 * wake-up (ResNet-50 90% sparse, 2 threads: 8.49 -> 8.11 ms, dense 18.9 -> 18.5; median of 5
 * interleaved runs, by hand). The price: after an inference's last loop, each worker polls for
 * this long before it blocks. */
#define DEFAULT_SPIN_US 100
#define CACHE_LINE 64
#define GRAINS_PER_CHUNK 8

_Static_assert(NNZRT_MAX_THREADS <= ACTIVE_MASK, "thread count must fit the job word");

typedef struct Worker {
	nnzrt_pool *pool;
	int index; /* 1 .. nthreads-1; chunk 0 belongs to the caller */
	pthread_t tid;
} Worker;

/* One per chunk, each on its own cache line: a worker claiming its chunk does not disturb the
 * others. */
typedef struct Claim {
	_Alignas(CACHE_LINE) _Atomic uint64_t generation;
} Claim;

/* The unclaimed part [next, end) of chunk i's range, on its own cache line: its owner takes
 * grains from the front, and threads done with their own chunk take grains from here too. */
typedef struct Cursor {
	_Alignas(CACHE_LINE) _Atomic int64_t next;
	int64_t end;
} Cursor;

/* Fields touched by different parties sit on separate cache lines, so that a worker polling
 * `job` does not slow down the caller's writes to `pending` and back. */
struct nnzrt_pool {
	int nthreads;
	int nworkers; /* started, = nthreads - 1 once creation succeeded */
	unsigned long spin_iters; /* polls before blocking: NNZRT_SPIN_US, see calibrate_spin */
	uint64_t generation; /* written only by the caller holding `busy` (or by destroy) */
	Worker *workers;
	Claim *claims; /* [nthreads]; claims[0] unused */
	Cursor *cursors; /* [nthreads] */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;

	/* the current job: see the top comment for why plain fields are safe */
	_Alignas(CACHE_LINE) nnzrt_task_fn fn;
	void *ctx;
	int64_t grain; /* iterations per call of fn */
	int active;    /* chunks */

	_Alignas(CACHE_LINE) _Atomic uint64_t job;
	_Atomic int stop; /* set before the job word that tells the workers to look at it */
	_Alignas(CACHE_LINE) _Atomic int pending;
	_Atomic int unclaimed;
	_Alignas(CACHE_LINE) _Atomic int busy;  /* a caller is inside nnzrt_parallel_for */
	_Atomic int sleepers;                   /* workers blocked, or about to block, on work_cv */
	_Atomic int caller_waiting;             /* the caller is blocked, or about to, on done_cv */
};

/* Set in worker threads for their whole life and in the caller while it runs chunks: a
 * parallel_for issued from inside a task then runs inline instead of fanning out again, which
 * would oversubscribe the CPUs and, on the same pool, deadlock. */
static _Thread_local int in_task;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* only when a pool is created */
static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Chunk i of `active` near-equal contiguous chunks of [0, n); none is empty since active <= n.
 * Written without n * i so that no n can overflow. */
static void chunk_bounds(int64_t n, int active, int i, int64_t *begin, int64_t *end)
{
	int64_t base = n / active, rem = n % active;
	*begin = i * base + (i < rem ? i : rem);
	*end = *begin + base + (i < rem ? 1 : 0);
}

/* Takes the next grain of chunk i; false when the chunk is used up. Compare-and-swap rather than
 * fetch-and-add: the cursor never passes the chunk's end, so it cannot overflow. */
static bool take_grain(nnzrt_pool *p, int i, int64_t *begin, int64_t *end)
{
	Cursor *c = &p->cursors[i];
	int64_t b = atomic_load_explicit(&c->next, memory_order_relaxed), e;
	do {
		if (b >= c->end)
			return false;
		e = c->end - b > p->grain ? b + p->grain : c->end;
	} while (!atomic_compare_exchange_weak_explicit(&c->next, &b, e, memory_order_relaxed, memory_order_relaxed));
	*begin = b;
	*end = e;
	return true;
}

static void run_chunk(nnzrt_pool *p, int i)
{
	int64_t b, e;
	while (take_grain(p, i, &b, &e))
		p->fn(p->ctx, b, e);
}

/* What is left of the other chunks, for a thread done with its own. */
static void help_others(nnzrt_pool *p, int self)
{
	for (int k = 1; k < p->active; k++)
		run_chunk(p, (self + k) % p->active);
}

/* Spinning is bounded by a number of polls, calibrated once per pool, rather than by reading
 * the clock: where the clock source is not the TSC (some VMs), clock_gettime is a real system
 * call, which the hot path must not make. The probe is the poll loop itself; the fastest of a
 * few probes is taken (preemption only makes one slower), and at most one poll per nanosecond
 * is assumed, so the spin stays bounded even if the probe was optimized into nothing. */
static unsigned long calibrate_spin(nnzrt_pool *p, long long spin_ns)
{
	enum { PROBE = 1024 };
	if (spin_ns <= 0)
		return 0;
	long long best = -1;
	for (int k = 0; k < 3; k++) {
		long long t0 = now_ns();
		for (int i = 0; i < PROBE; i++) {
			if (atomic_load_explicit(&p->job, memory_order_acquire) != 0)
				break;
			cpu_relax();
		}
		long long dt = now_ns() - t0;
		if (best < 0 || dt < best)
			best = dt;
	}
	if (best < PROBE)
		best = PROBE;
	long long iters = spin_ns * PROBE / best;
	return iters < 1 ? 1 : (unsigned long)iters;
}

static uint64_t wait_for_job(nnzrt_pool *p, uint64_t seen)
{
	uint64_t j;
	for (unsigned long i = 0; i < p->spin_iters; i++) {
		j = atomic_load_explicit(&p->job, memory_order_acquire);
		if (j != seen)
			return j;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add(&p->sleepers, 1);
	while ((j = atomic_load(&p->job)) == seen)
		pthread_cond_wait(&p->work_cv, &p->mu);
	atomic_fetch_sub(&p->sleepers, 1);
	pthread_mutex_unlock(&p->mu);
	return j;
}

static void publish(nnzrt_pool *p, uint64_t job)
{
	atomic_store(&p->job, job);
	if (atomic_load(&p->sleepers) > 0) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->work_cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static void wait_done(nnzrt_pool *p)
{
	for (unsigned long i = 0; i < p->spin_iters; i++) {
		if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->caller_waiting, 1);
	while (atomic_load(&p->pending) != 0)
		pthread_cond_wait(&p->done_cv, &p->mu);
	atomic_store(&p->caller_waiting, 0);
	pthread_mutex_unlock(&p->mu);
}

/* Chunk i for generation g, if nobody has claimed it in g yet. */
static bool try_claim(nnzrt_pool *p, int i, uint64_t g)
{
	uint64_t v = atomic_load_explicit(&p->claims[i].generation, memory_order_relaxed);
	if (v >= g || !atomic_compare_exchange_strong(&p->claims[i].generation, &v, g))
		return false;
	atomic_fetch_sub(&p->unclaimed, 1);
	return true;
}

static void *worker_main(void *arg)
{
	Worker *w = arg;
	nnzrt_pool *p = w->pool;
	uint64_t seen = 0;
	in_task = 1;
	for (;;) {
		uint64_t j = wait_for_job(p, seen);
		seen = j;
		if (atomic_load_explicit(&p->stop, memory_order_relaxed))
			break;
		int active = (int)(j & ACTIVE_MASK);
		if (w->index >= active || !try_claim(p, w->index, j >> ACTIVE_BITS))
			continue;
		run_chunk(p, w->index);
		help_others(p, w->index);
		if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_waiting)) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done_cv);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

void nnzrt_parallel_for(nnzrt_pool *p, int64_t n, nnzrt_task_fn fn, void *ctx)
{
	if (n <= 0)
		return;
	/* busy is taken last: the other conditions must not leave it set */
	if (p == NULL || p->nthreads == 1 || n == 1 || in_task ||
	    atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) {
		fn(ctx, 0, n);
		return;
	}
	int active = n < p->nthreads ? (int)n : p->nthreads;
	p->fn = fn;
	p->ctx = ctx;
	p->active = active;
	p->grain = n / active / GRAINS_PER_CHUNK;
	if (p->grain < 1)
		p->grain = 1;
	for (int i = 0; i < active; i++) {
		int64_t b, e;
		chunk_bounds(n, active, i, &b, &e);
		atomic_store_explicit(&p->cursors[i].next, b, memory_order_relaxed);
		p->cursors[i].end = e;
	}
	atomic_store_explicit(&p->pending, active - 1, memory_order_relaxed);
	atomic_store_explicit(&p->unclaimed, active - 1, memory_order_relaxed);
	uint64_t g = ++p->generation;
	publish(p, g << ACTIVE_BITS | (uint64_t)active);
	in_task = 1;
	run_chunk(p, 0);
	/* the chunks of workers that have not started yet: cheaper to run than to wait for */
	if (atomic_load(&p->unclaimed) > 0) {
		for (int i = 1; i < active; i++) {
			if (try_claim(p, i, g)) {
				run_chunk(p, i);
				atomic_fetch_sub(&p->pending, 1);
			}
		}
	}
	help_others(p, 0);
	in_task = 0;
	wait_done(p);
	atomic_store_explicit(&p->busy, 0, memory_order_release);
}

/* Stops and joins the workers that were started, then frees everything. */
static void pool_free(nnzrt_pool *p)
{
	if (p->nworkers > 0) {
		atomic_store(&p->stop, 1);
		p->generation++;
		publish(p, p->generation << ACTIVE_BITS); /* active 0: nobody runs a chunk */
		for (int i = 0; i < p->nworkers; i++)
			pthread_join(p->workers[i].tid, NULL);
	}
	pthread_cond_destroy(&p->done_cv);
	pthread_cond_destroy(&p->work_cv);
	pthread_mutex_destroy(&p->mu);
	free(p->cursors);
	free(p->claims);
	free(p->workers);
	free(p);
}

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > NNZRT_MAX_THREADS ? NNZRT_MAX_THREADS : (int)n;
}

/* A non-negative integer from the environment no larger than max; -1 if unset or malformed. */
static long env_long(const char *name, long max)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

nnzrt_pool *nnzrt_pool_create(int num_threads)
{
	if (num_threads < 0) {
		rt_set_errmsg("nnzrt_pool_create: num_threads is %d, must be >= 0", num_threads);
		return NULL;
	}
	if (num_threads == 0)
		num_threads = online_cpus();
	if (num_threads > NNZRT_MAX_THREADS)
		num_threads = NNZRT_MAX_THREADS;

	/* over-aligned struct: calloc only promises max_align_t */
	nnzrt_pool *p = rt_aligned_alloc(CACHE_LINE, sizeof *p);
	if (p == NULL) {
		rt_set_errmsg("nnzrt_pool_create: out of memory");
		return NULL;
	}
	memset(p, 0, sizeof *p);
	p->nthreads = num_threads;
	atomic_init(&p->job, 0);
	atomic_init(&p->stop, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->unclaimed, 0);
	atomic_init(&p->busy, 0);
	atomic_init(&p->sleepers, 0);
	atomic_init(&p->caller_waiting, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	if (num_threads == 1)
		return p;
	p->workers = rt_calloc((size_t)num_threads - 1, sizeof *p->workers);
	p->claims = rt_aligned_alloc(CACHE_LINE, (size_t)num_threads * sizeof *p->claims);
	p->cursors = rt_aligned_alloc(CACHE_LINE, (size_t)num_threads * sizeof *p->cursors);
	if (p->workers == NULL || p->claims == NULL || p->cursors == NULL) {
		pool_free(p);
		rt_set_errmsg("nnzrt_pool_create: out of memory");
		return NULL;
	}
	for (int i = 0; i < num_threads; i++)
		atomic_init(&p->claims[i].generation, 0);
	long spin_us = env_long("NNZRT_SPIN_US", 1000000);
	p->spin_iters = calibrate_spin(p, (spin_us < 0 ? DEFAULT_SPIN_US : spin_us) * 1000LL);

	/* Workers start with every signal blocked, so that asynchronous signals (SIGINT, SIGALRM,
	 * ...) are delivered to the application's own threads and never run its handlers in the
	 * middle of a kernel. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = 0;
	for (int i = 0; i < num_threads - 1; i++) {
		p->workers[i].pool = p;
		p->workers[i].index = i + 1;
		err = pthread_create(&p->workers[i].tid, NULL, worker_main, &p->workers[i]);
		if (err != 0)
			break;
		p->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		int started = p->nworkers;
		pool_free(p);
		rt_set_errmsg("nnzrt_pool_create: started %d of %d threads: %s", started,
			num_threads - 1, strerror(err));
		return NULL;
	}
	return p;
}

void nnzrt_pool_destroy(nnzrt_pool *p)
{
	if (p)
		pool_free(p);
}

int nnzrt_pool_threads(const nnzrt_pool *p) { return p ? p->nthreads : 1; }

/* ---------------------------------------------------------------- the default pool */

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static nnzrt_pool *default_pool;

static void destroy_default_pool(void)
{
	nnzrt_pool_destroy(default_pool);
	default_pool = NULL;
}

static void create_default_pool(void)
{
	long n = env_long("NNZRT_NUM_THREADS", NNZRT_MAX_THREADS);
	default_pool = nnzrt_pool_create(n < 0 ? 0 : (int)n);
	/* glibc registers atexit handlers per shared object, so a dlclose'd libnnzrt.so runs this
	 * at dlclose. If registration fails the pool lives until the process ends, which is
	 * harmless. */
	if (default_pool)
		(void)atexit(destroy_default_pool);
}

nnzrt_pool *nnzrt_default_pool(void)
{
	pthread_once(&default_once, create_default_pool);
	return default_pool;
}
