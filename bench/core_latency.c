/* How far apart the CPUs this process may run on are: the round trip of one cache line between
 * two threads pinned to two CPUs, for every pair.
 *
 *   bench_core_latency [ROUND_TRIPS]     (default 100000 per pair)
 *
 * Why: on a virtual machine the host decides where the virtual CPUs run, and it moves them. On
 * the project's 2-CPU Zen 5 guest the two CPUs share an L3 most of the time (a round trip of
 * 70-115 ns) but now and then sit on different core complexes (about 370 ns). There every layer's
 * output written by one thread and read by the other crosses between the complexes, and
 * ResNet-50 at 90% sparsity on 2 threads took 10.5 instead of 7.8 ms (ONNX Runtime 19.5-20
 * instead of 18.2), while nothing in /proc (load, steal time) shows it. bench/sparse_sweep.py
 * runs this before and after each point's runs so that all sides are measured with the same
 * placement. A benchmark, not a test: it never fails but for bad arguments or a missing CPU.
 *
 * The host also slows a virtual CPU down now and then, for seconds, with no steal time shown: a
 * simple loop run on both CPUs at once took 2.3x as long on one as on the other, and in such a
 * spell nnzc and ONNX Runtime on 2 threads ran about as slowly as on 1 (MobileNetV2 at 80%
 * sparsity: nnzc 1.9 instead of 0.96 ms, ORT 2.5 instead of 1.6, with a normal round trip; by
 * hand, 2026-11-24). So the tool also runs a fixed loop on every CPU at once (threads pinned,
 * started together) and gives each CPU's time per iteration; a CPU much slower than the best
 * seen before is not running at full speed.
 *
 * Output: one line per pair and one for the loop, and as the last line one JSON object:
 *   {"cpus": [0, 1], "pairs": [{"a": 0, "b": 1, "round_trip_ns": 95.1}], "max_round_trip_ns": 95.1,
 *    "cpu_loop_ns": [0.91, 0.92], "max_cpu_loop_ns": 0.92}
 * Each figure is the fastest of 5 batches (preemption only makes a batch slower). */
#define _GNU_SOURCE /* sched_getaffinity, pthread_setaffinity_np */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CPUS 16 /* the first 16 allowed CPUs: 120 pairs */
#define BATCHES 5

typedef struct Pong {
	_Alignas(64) _Atomic int turn; /* 1: the responder's move, 0: the initiator's */
	int cpu;
	long trips;
	int err;
} Pong;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *responder(void *arg)
{
	Pong *p = arg;
	p->err = pin(p->cpu);
	for (long i = 0; i < p->trips * BATCHES; i++) {
		while (atomic_load_explicit(&p->turn, memory_order_acquire) != 1)
			;
		atomic_store_explicit(&p->turn, 0, memory_order_release);
	}
	return NULL;
}

/* Nanoseconds per round trip between CPUs a and b; < 0 when a thread cannot run there. */
static double round_trip(int a, int b, long trips)
{
	static Pong p;
	atomic_store(&p.turn, 0);
	p.cpu = b;
	p.trips = trips;
	p.err = 0;
	pthread_t t;
	if (pin(a) != 0 || pthread_create(&t, NULL, responder, &p) != 0)
		return -1.0;
	double best = -1.0;
	for (int k = 0; k < BATCHES; k++) {
		double t0 = now_ns();
		for (long i = 0; i < trips; i++) {
			atomic_store_explicit(&p.turn, 1, memory_order_release);
			while (atomic_load_explicit(&p.turn, memory_order_acquire) != 0)
				;
		}
		double dt = (now_ns() - t0) / (double)trips;
		if (best < 0 || dt < best)
			best = dt;
	}
	pthread_join(t, NULL);
	return p.err != 0 ? -1.0 : best;
}

/* ---------------------------------------------------------------- every CPU's speed */

#define LOOP_ITERS 2000000L /* about 2 ms a batch */

typedef struct Runner {
	pthread_t thread;
	int cpu, err;
	double best_ns; /* per iteration, fastest batch */
} Runner;

static pthread_barrier_t start_line;
static _Atomic unsigned long sink;

static void *run_loop(void *arg)
{
	Runner *r = arg;
	r->err = pin(r->cpu);
	r->best_ns = -1.0;
	for (int k = 0; k < BATCHES; k++) {
		pthread_barrier_wait(&start_line); /* every CPU's batch runs at the same time */
		double t0 = now_ns();
		/* four independent multiply-add chains: the multiplier's throughput sets the pace, so
		 * that a core shared with another thread shows too, not only a CPU taken away */
		unsigned long x0 = (unsigned long)r->cpu + 1, x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3;
		for (long i = 0; i < LOOP_ITERS; i++) {
			x0 = x0 * 6364136223846793005UL + 1442695040888963407UL;
			x1 = x1 * 6364136223846793005UL + 1442695040888963407UL;
			x2 = x2 * 6364136223846793005UL + 1442695040888963407UL;
			x3 = x3 * 6364136223846793005UL + 1442695040888963407UL;
		}
		atomic_fetch_add_explicit(&sink, x0 ^ x1 ^ x2 ^ x3, memory_order_relaxed);
		double dt = (now_ns() - t0) / (double)LOOP_ITERS;
		if (r->best_ns < 0 || dt < r->best_ns)
			r->best_ns = dt;
	}
	return NULL;
}

/* Each CPU's ns per loop iteration, all running at once; -1 when a thread cannot run there. */
static int loop_speeds(const int *cpus, int n, double *ns)
{
	Runner r[MAX_CPUS];
	if (pthread_barrier_init(&start_line, NULL, (unsigned)n) != 0)
		return -1;
	int started = 0;
	for (int i = 0; i < n; i++) {
		r[i].cpu = cpus[i];
		if (pthread_create(&r[i].thread, NULL, run_loop, &r[i]) != 0)
			break;
		started++;
	}
	if (started < n) { /* the started threads wait at the barrier for ever: give up */
		fprintf(stderr, "bench_core_latency: error: cannot start %d threads\n", n);
		exit(1);
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(r[i].thread, NULL);
		ns[i] = r[i].best_ns;
		if (r[i].err != 0)
			rc = -1;
	}
	pthread_barrier_destroy(&start_line);
	return rc;
}

int main(int argc, char **argv)
{
	long trips = 100000;
	char *end = NULL;
	if (argc == 2)
		trips = strtol(argv[1], &end, 10);
	if (argc > 2 || (argc == 2 && (*end != '\0' || trips < 1 || trips > 100000000))) {
		fprintf(stderr, "usage: bench_core_latency [ROUND_TRIPS (1..1e8)]\n");
		return 2;
	}
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
		fprintf(stderr, "bench_core_latency: error: sched_getaffinity: %s\n", strerror(errno));
		return 1;
	}
	int cpus[MAX_CPUS], n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < MAX_CPUS; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[n++] = c;
	char json[16384];
	size_t at = 0;
	at += (size_t)snprintf(json + at, sizeof json - at, "{\"cpus\": [");
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(json + at, sizeof json - at, "%s%d", i ? ", " : "", cpus[i]);
	at += (size_t)snprintf(json + at, sizeof json - at, "], \"pairs\": [");
	double worst = 0.0;
	bool first = true;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++) {
			double ns = round_trip(cpus[i], cpus[j], trips);
			if (ns < 0) {
				fprintf(stderr, "bench_core_latency: error: cannot run threads on CPUs %d and %d\n", cpus[i],
					cpus[j]);
				return 1;
			}
			printf("cpus %d <-> %d: %.1f ns per round trip\n", cpus[i], cpus[j], ns);
			if (ns > worst)
				worst = ns;
			at += (size_t)snprintf(json + at, sizeof json - at, "%s{\"a\": %d, \"b\": %d, \"round_trip_ns\": %.1f}",
					       first ? "" : ", ", cpus[i], cpus[j], ns);
			first = false;
		}
	at += (size_t)snprintf(json + at, sizeof json - at, "], \"max_round_trip_ns\": %.1f, \"cpu_loop_ns\": [", worst);
	double loop_ns[MAX_CPUS], slowest = 0.0;
	if (loop_speeds(cpus, n, loop_ns) < 0) {
		fprintf(stderr, "bench_core_latency: error: cannot run the loop on every CPU\n");
		return 1;
	}
	printf("loop, every CPU at once, ns per iteration:");
	for (int i = 0; i < n; i++) {
		printf(" cpu %d %.3f", cpus[i], loop_ns[i]);
		at += (size_t)snprintf(json + at, sizeof json - at, "%s%.3f", i ? ", " : "", loop_ns[i]);
		if (loop_ns[i] > slowest)
			slowest = loop_ns[i];
	}
	printf("\n%s], \"max_cpu_loop_ns\": %.3f}\n", json, slowest);
	return 0;
}
