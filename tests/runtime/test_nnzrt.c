/* libnnzrt: the thread pool (coverage of every index exactly once, nesting, repetition, both the
 * spinning and the blocking hand-over, concurrent pools) and the TensorProto reader/writer
 * (against bytes written by ONNX's own protobuf code, see gen_expected.py, and against hostile
 * input: every truncation, random garbage, mutations, and each malformation by name).
 * Linked with nnzrt only: the runtime must not need the compiler. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "nnzrt.h"

#include "expected_tensors.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof *(a))

/* fault injection, runtime/internal.h: hidden in libnnzrt.so, linkable from libnnzrt.a */
void rt_test_fail_alloc_after(long n);

/* ---------------------------------------------------------------- thread pool */

#define MAX_N 1000
#define MAX_CHUNKS 64

typedef struct Coverage {
	_Atomic int hits[MAX_N];
	_Atomic int calls;
	_Atomic int bad_range;  /* a range that was empty or out of [0, n) */
	_Atomic int by_others;  /* iterations run on another thread than the caller */
	pthread_t caller;
	int64_t n;
} Coverage;

static void cover_task(void *ctx, int64_t begin, int64_t end)
{
	Coverage *c = ctx;
	if (begin >= end || begin < 0 || end > c->n)
		atomic_fetch_add(&c->bad_range, 1);
	for (int64_t i = begin; i < end && i < MAX_N && i >= 0; i++)
		atomic_fetch_add(&c->hits[i], 1);
	if (!pthread_equal(pthread_self(), c->caller))
		atomic_fetch_add(&c->by_others, (int)(end - begin));
	atomic_fetch_add(&c->calls, 1);
}

static void check_coverage(nnzrt_pool *pool, int threads, int64_t n)
{
	static Coverage c; /* zeroed below: too big for every stack a sanitizer gives a thread */
	memset(&c, 0, sizeof c);
	c.caller = pthread_self();
	c.n = n;
	nnzrt_parallel_for(pool, n, cover_task, &c);
	for (int64_t i = 0; i < n; i++)
		ck_assert_msg(atomic_load(&c.hits[i]) == 1, "threads %d n %lld: index %lld ran %d times",
			threads, (long long)n, (long long)i, atomic_load(&c.hits[i]));
	ck_assert_int_eq(atomic_load(&c.bad_range), 0);
	/* one call per chunk of min(n, threads), or per grain: at most 8 and a remainder each */
	int64_t chunks = n <= 0 ? 0 : n < threads ? n : threads;
	int calls = atomic_load(&c.calls);
	ck_assert_msg(calls >= chunks && calls <= chunks * 9, "threads %d n %lld: %d calls for %lld chunks", threads,
		(long long)n, calls, (long long)chunks);
	if (pool == NULL || threads == 1 || n == 1) /* inline: one call on the caller */
		ck_assert_msg(calls == (n > 0) && atomic_load(&c.by_others) == 0, "n %lld did not run inline", (long long)n);
}

static const int thread_counts[] = {1, 2, 3, 8};
static const int64_t sizes[] = {0, 1, 2, 7, 1000};

START_TEST(pool_covers_every_index_once)
{
	for (size_t t = 0; t < ARRAY_LEN(thread_counts); t++) {
		nnzrt_pool *pool = nnzrt_pool_create(thread_counts[t]);
		ck_assert_msg(pool != NULL, "%s", nnzrt_errmsg());
		ck_assert_int_eq(nnzrt_pool_threads(pool), thread_counts[t]);
		for (size_t s = 0; s < ARRAY_LEN(sizes); s++)
			for (int rep = 0; rep < 3; rep++)
				check_coverage(pool, thread_counts[t], sizes[s]);
		nnzrt_pool_destroy(pool);
	}
}
END_TEST

START_TEST(pool_null_and_negative)
{
	ck_assert_int_eq(nnzrt_pool_threads(NULL), 1);
	check_coverage(NULL, 1, 7);
	check_coverage(NULL, 1, 0);
	nnzrt_pool *pool = nnzrt_pool_create(3);
	ck_assert_ptr_nonnull(pool);
	check_coverage(pool, 3, -5); /* nothing, no call */
	nnzrt_pool_destroy(pool);
	nnzrt_pool_destroy(NULL);

	ck_assert_ptr_null(nnzrt_pool_create(-1));
	ck_assert_msg(strstr(nnzrt_errmsg(), "num_threads") != NULL, "%s", nnzrt_errmsg());
	pool = nnzrt_pool_create(0);
	ck_assert_ptr_nonnull(pool);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ck_assert_int_eq(nnzrt_pool_threads(pool), cpus < 1 ? 1 : cpus);
	check_coverage(pool, nnzrt_pool_threads(pool), 1000);
	nnzrt_pool_destroy(pool);
}
END_TEST

/* Large n: chunk and grain bounds computed without overflow, covering [0, n). */
typedef struct Bounds {
	_Atomic int64_t total;
	_Atomic int chunks;
} Bounds;

static void bounds_task(void *ctx, int64_t begin, int64_t end)
{
	Bounds *b = ctx;
	atomic_fetch_add(&b->total, end - begin);
	atomic_fetch_add(&b->chunks, 1);
}

START_TEST(pool_huge_n)
{
	nnzrt_pool *pool = nnzrt_pool_create(3);
	ck_assert_ptr_nonnull(pool);
	Bounds b = {0};
	nnzrt_parallel_for(pool, INT64_MAX, bounds_task, &b);
	ck_assert(atomic_load(&b.total) == INT64_MAX);
	ck_assert(atomic_load(&b.chunks) >= 3 && atomic_load(&b.chunks) <= 27);
	nnzrt_pool_destroy(pool);
}
END_TEST

/* Nested loops run inline on the thread that runs the outer task, whatever the inner pool. */
typedef struct Nest {
	nnzrt_pool *inner_pool;
	_Atomic int inner_chunks;
	_Atomic int inner_wrong_thread;
	_Atomic int64_t inner_total;
	_Atomic int outer_hits[64];
} Nest;

typedef struct Inner {
	Nest *nest;
	pthread_t outer;
} Inner;

static void inner_task(void *ctx, int64_t begin, int64_t end)
{
	Inner *in = ctx;
	if (!pthread_equal(pthread_self(), in->outer))
		atomic_fetch_add(&in->nest->inner_wrong_thread, 1);
	atomic_fetch_add(&in->nest->inner_chunks, 1);
	atomic_fetch_add(&in->nest->inner_total, end - begin);
}

static void outer_task(void *ctx, int64_t begin, int64_t end)
{
	Nest *nest = ctx;
	for (int64_t i = begin; i < end; i++) {
		atomic_fetch_add(&nest->outer_hits[i], 1);
		Inner in = {nest, pthread_self()};
		nnzrt_parallel_for(nest->inner_pool, 100, inner_task, &in);
	}
}

START_TEST(pool_nested_calls_run_inline)
{
	nnzrt_pool *pool = nnzrt_pool_create(3), *other = nnzrt_pool_create(2);
	ck_assert_ptr_nonnull(pool);
	ck_assert_ptr_nonnull(other);
	nnzrt_pool *inner[] = {pool, other};
	for (int k = 0; k < 2; k++) {
		Nest nest = {.inner_pool = inner[k]};
		nnzrt_parallel_for(pool, 64, outer_task, &nest);
		for (int i = 0; i < 64; i++)
			ck_assert_int_eq(atomic_load(&nest.outer_hits[i]), 1);
		ck_assert_int_eq(atomic_load(&nest.inner_chunks), 64);
		ck_assert_int_eq(atomic_load(&nest.inner_wrong_thread), 0);
		ck_assert(atomic_load(&nest.inner_total) == 64 * 100);
	}
	/* and the pools still work after nesting */
	check_coverage(pool, 3, 1000);
	check_coverage(other, 2, 1000);
	nnzrt_pool_destroy(other);
	nnzrt_pool_destroy(pool);
}
END_TEST

static void sum_task(void *ctx, int64_t begin, int64_t end)
{
	int64_t s = 0;
	for (int64_t i = begin; i < end; i++)
		s += i;
	atomic_fetch_add((_Atomic int64_t *)ctx, s);
}

/* Many back-to-back calls of varying size, as an inference issues them. */
static void repeat(nnzrt_pool *pool, int calls)
{
	_Atomic int64_t sum = 0;
	int64_t want = 0;
	for (int k = 0; k < calls; k++) {
		int64_t n = k % 13;
		nnzrt_parallel_for(pool, n, sum_task, &sum);
		want += n * (n - 1) / 2;
	}
	ck_assert(atomic_load(&sum) == want);
}

START_TEST(pool_many_calls_spinning)
{
	for (size_t t = 0; t < ARRAY_LEN(thread_counts); t++) {
		nnzrt_pool *pool = nnzrt_pool_create(thread_counts[t]);
		ck_assert_ptr_nonnull(pool);
		repeat(pool, 20000);
		nnzrt_pool_destroy(pool);
	}
}
END_TEST

/* NNZRT_SPIN_US=0: every hand-over goes through the condition variables, the path that loses
 * wake-ups if the protocol is wrong (the test would then hang and time out). */
START_TEST(pool_many_calls_blocking)
{
	setenv("NNZRT_SPIN_US", "0", 1);
	for (size_t t = 0; t < ARRAY_LEN(thread_counts); t++) {
		nnzrt_pool *pool = nnzrt_pool_create(thread_counts[t]);
		ck_assert_ptr_nonnull(pool);
		repeat(pool, 5000);
		nnzrt_pool_destroy(pool);
	}
	unsetenv("NNZRT_SPIN_US");
}
END_TEST

/* Chunks really run at the same time, one per thread: each waits until all have started (a
 * pool that ran them one after another would hang here and time out). */
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
	while (atomic_load(&r->arrived) < r->chunks)
		sched_yield(); /* the machine may have fewer CPUs than the pool has threads */
}

START_TEST(pool_chunks_run_concurrently)
{
	nnzrt_pool *pool = nnzrt_pool_create(3);
	ck_assert_ptr_nonnull(pool);
	for (int k = 0; k < 200; k++) {
		Rendezvous r = {0, 3};
		nnzrt_parallel_for(pool, 3 + k % 5, rendezvous_task, &r);
		ck_assert_int_ge(atomic_load(&r.arrived), 3);
	}
	nnzrt_pool_destroy(pool);
}
END_TEST

/* A worker that has not started its chunk when the caller is done with its own loses the chunk
 * to the caller. With the workers blocked (no spinning), that is the usual case for tiny tasks,
 * since a wake-up takes microseconds. */
typedef struct Steal {
	pthread_t caller;
	_Atomic int by_caller, total;
} Steal;

static void steal_task(void *ctx, int64_t begin, int64_t end)
{
	Steal *s = ctx;
	(void)end;
	if (begin != 0 && pthread_equal(pthread_self(), s->caller))
		atomic_fetch_add(&s->by_caller, 1);
	atomic_fetch_add(&s->total, 1);
}

START_TEST(pool_caller_takes_unstarted_chunks)
{
	setenv("NNZRT_SPIN_US", "0", 1);
	nnzrt_pool *pool = nnzrt_pool_create(2);
	unsetenv("NNZRT_SPIN_US");
	ck_assert_ptr_nonnull(pool);
	Steal s = {pthread_self(), 0, 0};
	for (int k = 0; k < 500; k++)
		nnzrt_parallel_for(pool, 2, steal_task, &s);
	ck_assert_int_eq(atomic_load(&s.total), 1000);
	ck_assert_msg(atomic_load(&s.by_caller) > 0, "the caller never ran a worker's chunk");
	check_coverage(pool, 2, 1000);
	nnzrt_pool_destroy(pool);
}
END_TEST

/* A thread slower than the others: the first range a worker gets stalls for 20 ms, as a CPU
 * shared with another process would. The caller, done with its chunk, takes the grains the
 * worker has not started (or the whole chunk, if the worker was not awake yet), so it runs more
 * than its half; and every index still runs once. */
typedef struct Straggler {
	pthread_t caller;
	_Atomic int by_caller, stalled;
	_Atomic int hits[64];
} Straggler;

static void straggler_task(void *ctx, int64_t begin, int64_t end)
{
	Straggler *s = ctx;
	bool on_caller = pthread_equal(pthread_self(), s->caller);
	if (!on_caller && atomic_exchange(&s->stalled, 1) == 0)
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
	for (int64_t i = begin; i < end; i++)
		atomic_fetch_add(&s->hits[i], 1);
	if (on_caller)
		atomic_fetch_add(&s->by_caller, (int)(end - begin));
}

START_TEST(pool_idle_thread_takes_a_stragglers_grains)
{
	nnzrt_pool *pool = nnzrt_pool_create(2);
	ck_assert_ptr_nonnull(pool);
	for (int rep = 0; rep < 5; rep++) {
		static Straggler s;
		memset(&s, 0, sizeof s);
		s.caller = pthread_self();
		nnzrt_parallel_for(pool, 64, straggler_task, &s);
		for (int i = 0; i < 64; i++)
			ck_assert_int_eq(atomic_load(&s.hits[i]), 1);
		/* its own 32, and at least the grain of 4 after the worker's first */
		ck_assert_msg(atomic_load(&s.by_caller) >= 36, "the caller ran only %d of 64", atomic_load(&s.by_caller));
	}
	nnzrt_pool_destroy(pool);
}
END_TEST

/* Several application threads: each with its own pool, and all sharing one pool (the late
 * comers then run inline; every loop must still be complete). */
typedef struct AppThread {
	nnzrt_pool *pool; /* NULL: make one */
	int ok;
} AppThread;

static void *app_thread(void *arg)
{
	AppThread *a = arg;
	nnzrt_pool *pool = a->pool ? a->pool : nnzrt_pool_create(2);
	if (pool == NULL)
		return NULL;
	_Atomic int64_t sum = 0;
	int64_t want = 0;
	for (int k = 0; k < 3000; k++) {
		int64_t n = 1 + k % 50;
		nnzrt_parallel_for(pool, n, sum_task, &sum);
		want += n * (n - 1) / 2;
	}
	a->ok = atomic_load(&sum) == want;
	if (a->pool == NULL)
		nnzrt_pool_destroy(pool);
	return NULL;
}

START_TEST(pool_concurrent_callers)
{
	nnzrt_pool *shared = nnzrt_pool_create(3);
	ck_assert_ptr_nonnull(shared);
	for (int mode = 0; mode < 2; mode++) {
		pthread_t tid[4];
		AppThread a[4];
		for (int i = 0; i < 4; i++) {
			a[i] = (AppThread){mode ? shared : NULL, 0};
			ck_assert_int_eq(pthread_create(&tid[i], NULL, app_thread, &a[i]), 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(tid[i], NULL);
			ck_assert_msg(a[i].ok, "%s pool: thread %d got a wrong sum", mode ? "shared" : "own", i);
		}
	}
	nnzrt_pool_destroy(shared);
}
END_TEST

START_TEST(pool_default)
{
	/* The default pool is created once per process; the test runs in its own process when
	 * Check forks (ctest sets CK_FORK=yes), which is what makes the variable take effect. */
	setenv("NNZRT_NUM_THREADS", "3", 1);
	nnzrt_pool *p = nnzrt_default_pool();
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, nnzrt_default_pool());
	const char *fork = getenv("CK_FORK");
	if (fork == NULL || strcmp(fork, "no") != 0)
		ck_assert_int_eq(nnzrt_pool_threads(p), 3);
	check_coverage(p, nnzrt_pool_threads(p), 1000);
	repeat(p, 1000);
	/* not destroyed: the runtime does it at exit (ASan would report it otherwise) */
}
END_TEST

START_TEST(pool_shared_by_thread_count)
{
	ck_assert_ptr_null(nnzrt_shared_pool(1));
	ck_assert_ptr_eq(nnzrt_shared_pool(0), nnzrt_default_pool());
	ck_assert_ptr_eq(nnzrt_shared_pool(-3), nnzrt_default_pool());
	nnzrt_pool *p2 = nnzrt_shared_pool(2), *p3 = nnzrt_shared_pool(3);
	ck_assert_ptr_nonnull(p2);
	ck_assert_ptr_nonnull(p3);
	ck_assert_ptr_ne(p2, p3);
	ck_assert_ptr_eq(p2, nnzrt_shared_pool(2));
	ck_assert_int_eq(nnzrt_pool_threads(p2), 2);
	ck_assert_int_eq(nnzrt_pool_threads(p3), 3);
	check_coverage(p3, 3, 1000);
	/* destroyed at exit (ASan reports it otherwise) */
}
END_TEST

/* ---------------------------------------------------------------- status, version, dtypes */

START_TEST(status_strings)
{
	const int codes[] = {NNZRT_OK, NNZRT_ERR_IO, NNZRT_ERR_FORMAT, NNZRT_ERR_NOMEM, NNZRT_ERR_ARG,
		NNZRT_ERR_SHAPE, NNZRT_ERR_UNSUPPORTED, NNZRT_ERR_THREAD};
	for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
		const char *s = nnzrt_strerror(codes[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_msg(*s && strcmp(s, "unknown status") != 0, "code %d: '%s'", codes[i], s);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(s, nnzrt_strerror(codes[j]));
	}
	ck_assert_str_eq(nnzrt_strerror(NNZRT_OK), "ok");
	ck_assert_str_eq(nnzrt_strerror(-1), "unknown status");
	ck_assert_str_eq(nnzrt_strerror(NNZRT_ERR_THREAD + 1), "unknown status");
	ck_assert_str_eq(nnzrt_version(), NNZRT_TEST_VERSION);
}
END_TEST

START_TEST(errmsg_is_per_thread)
{
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_read("/nonexistent/x.pb", &t), NNZRT_ERR_IO);
	ck_assert_msg(strstr(nnzrt_errmsg(), "/nonexistent/x.pb") != NULL, "%s", nnzrt_errmsg());
}
END_TEST

START_TEST(dtype_table)
{
	static const struct {
		int dtype;
		size_t size;
		const char *name;
	} want[] = {
		{NNZRT_FLOAT, 4, "f32"}, {NNZRT_UINT8, 1, "u8"}, {NNZRT_INT8, 1, "i8"},
		{NNZRT_UINT16, 2, "u16"}, {NNZRT_INT16, 2, "i16"}, {NNZRT_INT32, 4, "i32"},
		{NNZRT_INT64, 8, "i64"}, {NNZRT_BOOL, 1, "bool"}, {NNZRT_FLOAT16, 2, "f16"},
		{NNZRT_DOUBLE, 8, "f64"}, {NNZRT_UINT32, 4, "u32"}, {NNZRT_UINT64, 8, "u64"},
		{NNZRT_BFLOAT16, 2, "bf16"},
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		ck_assert_uint_eq(nnzrt_dtype_size(want[i].dtype), want[i].size);
		ck_assert_str_eq(nnzrt_dtype_name(want[i].dtype), want[i].name);
	}
	const int unsupported[] = {-1, 0, 8, 14, 15, 17, 1000};
	for (size_t i = 0; i < ARRAY_LEN(unsupported); i++) {
		ck_assert_uint_eq(nnzrt_dtype_size(unsupported[i]), 0);
		ck_assert_str_eq(nnzrt_dtype_name(unsupported[i]), "invalid");
	}
}
END_TEST

/* ---------------------------------------------------------------- tensor files */

static char tmpdir[4096];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/nnzrt-test-XXXXXX", NNZRT_TEST_TMPDIR);
	mkdir(NNZRT_TEST_TMPDIR, 0755);
	ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp %s: %s", tmpdir, strerror(errno));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	if (d == NULL)
		return;
	struct dirent *e;
	char path[8192];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	}
	closedir(d);
	rmdir(tmpdir);
}

static int count_tmpdir_entries(const char *containing)
{
	DIR *d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, containing))
			n++;
	closedir(d);
	return n;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	static unsigned char buf[1 << 16];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return buf;
}

static void check_tensor(const nnzrt_tensor *t, const ExpectedTensor *e)
{
	ck_assert_str_eq(t->name, e->name);
	ck_assert_int_eq(t->dtype, e->dtype);
	ck_assert_int_eq(t->rank, e->rank);
	for (int i = 0; i < e->rank; i++)
		ck_assert_int_eq(t->dims[i], e->dims[i]);
	ck_assert_uint_eq(t->nbytes, e->nbytes);
	ck_assert_ptr_nonnull(t->data);
	ck_assert_msg(memcmp(t->data, e->data, e->nbytes) == 0, "%s: data differs", e->name);
}

START_TEST(parse_typed_fields_from_protobuf)
{
	for (size_t i = 0; i < ARRAY_LEN(expected_typed); i++) {
		const ExpectedTensor *e = &expected_typed[i];
		nnzrt_tensor t;
		int rc = nnzrt_tensor_parse(e->pb, e->pb_len, &t);
		ck_assert_msg(rc == NNZRT_OK, "%s (%s): %s", e->name, nnzrt_dtype_name(e->dtype), nnzrt_errmsg());
		check_tensor(&t, e);
		nnzrt_tensor_free(&t);
		ck_assert_ptr_null(t.data);
	}
}
END_TEST

/* raw_data files: read what protobuf wrote, write it back byte for byte, read that again */
START_TEST(raw_round_trip_every_dtype)
{
	make_tmpdir();
	char path[8192];
	for (size_t i = 0; i < ARRAY_LEN(expected_raw); i++) {
		const ExpectedTensor *e = &expected_raw[i];
		nnzrt_tensor t, u;
		ck_assert_msg(nnzrt_tensor_parse(e->pb, e->pb_len, &t) == NNZRT_OK, "%s: %s", e->name,
			nnzrt_errmsg());
		check_tensor(&t, e);
		snprintf(path, sizeof path, "%s/%s.pb", tmpdir, e->name);
		ck_assert_msg(nnzrt_tensor_write(path, &t) == NNZRT_OK, "%s", nnzrt_errmsg());
		size_t len;
		unsigned char *bytes = read_all(path, &len);
		ck_assert_msg(len == e->pb_len && memcmp(bytes, e->pb, len) == 0,
			"%s: written bytes differ from protobuf's", e->name);
		ck_assert_int_eq(nnzrt_tensor_read(path, &u), NNZRT_OK);
		check_tensor(&u, e);
		nnzrt_tensor_free(&u);
		nnzrt_tensor_free(&t);
	}
	/* the typed tensors too, through raw_data this time */
	for (size_t i = 0; i < ARRAY_LEN(expected_typed); i++) {
		const ExpectedTensor *e = &expected_typed[i];
		nnzrt_tensor t, u;
		ck_assert_int_eq(nnzrt_tensor_parse(e->pb, e->pb_len, &t), NNZRT_OK);
		snprintf(path, sizeof path, "%s/%s.pb", tmpdir, e->name);
		ck_assert_int_eq(nnzrt_tensor_write(path, &t), NNZRT_OK);
		ck_assert_int_eq(nnzrt_tensor_read(path, &u), NNZRT_OK);
		check_tensor(&u, e);
		nnzrt_tensor_free(&u);
		nnzrt_tensor_free(&t);
	}
	ck_assert_int_eq(count_tmpdir_entries(".tmp."), 0);
	remove_tmpdir();
}
END_TEST

START_TEST(read_onnx_node_test_file)
{
	nnzrt_tensor t;
	int rc = nnzrt_tensor_read(CONV_INPUT_PATH, &t);
	ck_assert_msg(rc == NNZRT_OK, "%s", nnzrt_errmsg());
	ck_assert_str_eq(t.name, CONV_INPUT_NAME);
	ck_assert_int_eq(t.dtype, CONV_INPUT_DTYPE);
	ck_assert_int_eq(t.rank, (int)ARRAY_LEN(conv_input_dims));
	for (int i = 0; i < t.rank; i++)
		ck_assert_int_eq(t.dims[i], conv_input_dims[i]);
	ck_assert_uint_eq(t.nbytes, sizeof conv_input_values);
	const float *v = t.data;
	for (size_t i = 0; i < ARRAY_LEN(conv_input_values); i++)
		ck_assert_msg(v[i] == conv_input_values[i], "element %zu: %g, want %g", i, v[i],
			conv_input_values[i]);
	nnzrt_tensor_free(&t);
}
END_TEST

/* Unpacked repeated fields (one key per element), and packed and unpacked runs mixed; unknown
 * fields of every wire type skipped. Hand-assembled, since protobuf writes these packed. */
START_TEST(parse_unpacked_and_mixed)
{
	static const unsigned char floats[] = {
		0x08, 0x03,                         /* dims: 3 */
		0x10, 0x01,                         /* data_type FLOAT */
		0x25, 0x00, 0x00, 0x80, 0x3f,       /* float_data 1.0, unpacked */
		0x22, 0x04, 0x00, 0x00, 0x00, 0x40, /* float_data [2.0], packed */
		0x25, 0x00, 0x00, 0x40, 0x40,       /* float_data 3.0, unpacked */
		0x30, 0x05,                         /* field 6 varint: unknown, skipped */
		0x39, 1, 2, 3, 4, 5, 6, 7, 8,       /* field 7 as fixed64: wrong wire type for int64_data */
	};
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_parse(floats, sizeof floats, &t), NNZRT_ERR_FORMAT);
	ck_assert_int_eq(nnzrt_tensor_parse(floats, sizeof floats - 9, &t), NNZRT_OK);
	const float want[] = {1.0f, 2.0f, 3.0f};
	ck_assert_uint_eq(t.nbytes, sizeof want);
	ck_assert(memcmp(t.data, want, sizeof want) == 0);
	nnzrt_tensor_free(&t);

	static const unsigned char ints[] = {
		0x0a, 0x02, 0x02, 0x02,             /* dims [2, 2], packed */
		0x10, 0x07,                         /* data_type INT64 */
		0x38, 0x7f,                         /* int64_data 127 */
		0x3a, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* [-1, */
		0x02,                               /*  2] packed */
		0x61, 1, 2, 3, 4, 5, 6, 7, 8,       /* field 12, fixed64: skipped */
		0x6d, 1, 2, 3, 4,                   /* field 13, fixed32: skipped */
		0x38, 0x80, 0x01,                   /* int64_data 128 */
		0x72, 0x02, 0x08, 0x01,             /* field 14 as bytes: wrong type for data_location */
	};
	ck_assert_int_eq(nnzrt_tensor_parse(ints, sizeof ints, &t), NNZRT_ERR_FORMAT);
	ck_assert_int_eq(nnzrt_tensor_parse(ints, sizeof ints - 7, &t), NNZRT_ERR_SHAPE); /* 3 of 4 */
	ck_assert_int_eq(nnzrt_tensor_parse(ints, sizeof ints - 4, &t), NNZRT_OK);
	const int64_t want64[] = {127, -1, 2, 128};
	ck_assert_int_eq(t.rank, 2);
	ck_assert_uint_eq(t.nbytes, sizeof want64);
	ck_assert(memcmp(t.data, want64, sizeof want64) == 0);
	ck_assert_str_eq(t.name, "");
	nnzrt_tensor_free(&t);

	/* a field number that is float_data's modulo 2^32 (2^33 + 4), before the real float_data:
	 * skipped, so the data is 1.0, not 2.0 (and nothing is written past the buffer) */
	static const unsigned char alias[] = {
		0x08, 0x01, 0x10, 0x01,
		0xa5, 0x80, 0x80, 0x80, 0x80, 0x02, 0x00, 0x00, 0x00, 0x40, /* field 2^33+4: 2.0 */
		0x25, 0x00, 0x00, 0x80, 0x3f,                               /* float_data 1.0 */
	};
	ck_assert_int_eq(nnzrt_tensor_parse(alias, sizeof alias, &t), NNZRT_OK);
	ck_assert(*(float *)t.data == 1.0f);
	nnzrt_tensor_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- hostile input */

typedef struct Bad {
	const char *what;
	int status;
	unsigned char bytes[48];
	size_t len;
} Bad;

#define BAD(what, status, ...) {what, status, {__VA_ARGS__}, sizeof((unsigned char[]){__VA_ARGS__})}

static const Bad bad_cases[] = {
	BAD("no data_type", NNZRT_ERR_FORMAT, 0x08, 0x01, 0x4a, 0x01, 0x00),
	BAD("huge dims, little data", NNZRT_ERR_SHAPE, 0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x10, 0x01,
		0x4a, 0x04, 0, 0, 0, 0),
	BAD("negative dim", NNZRT_ERR_SHAPE, 0x08, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x01, 0x10, 0x01, 0x4a, 0x00),
	/* 2^31 * 2^35 */
	BAD("element count overflows int64", NNZRT_ERR_SHAPE, 0x08, 0x80, 0x80, 0x80, 0x80, 0x08, 0x08,
		0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x10, 0x02, 0x4a, 0x00),
	BAD("byte count overflows", NNZRT_ERR_SHAPE, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0x3f, 0x10, 0x0b, 0x4a, 0x00),
	BAD("nine dims", NNZRT_ERR_UNSUPPORTED, 0x0a, 0x09, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0x10, 0x01),
	BAD("varint of 11 bytes", NNZRT_ERR_FORMAT, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x01),
	BAD("varint cut by the end", NNZRT_ERR_FORMAT, 0x08, 0xff),
	BAD("length past the end", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x4a, 0x05, 0, 0, 0, 0),
	BAD("huge length", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x4a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0x01),
	BAD("packed varints cut inside", NNZRT_ERR_FORMAT, 0x10, 0x07, 0x3a, 0x01, 0xff),
	BAD("group wire type", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x63, 0x64),
	BAD("wire type 7", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x67),
	BAD("field number 0", NNZRT_ERR_FORMAT, 0x00, 0x01),
	BAD("fixed32 cut", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x25, 0x00, 0x00),
	BAD("fixed64 cut", NNZRT_ERR_FORMAT, 0x10, 0x0b, 0x51, 0x00, 0x00, 0x00),
	BAD("packed floats of 5 bytes", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x22, 0x05, 0, 0, 0, 0, 0),
	BAD("data_type as bytes", NNZRT_ERR_FORMAT, 0x12, 0x01, 0x01),
	BAD("raw_data as varint", NNZRT_ERR_FORMAT, 0x10, 0x01, 0x48, 0x01),
	BAD("string tensor", NNZRT_ERR_UNSUPPORTED, 0x10, 0x08, 0x32, 0x01, 0x61),
	BAD("complex tensor", NNZRT_ERR_UNSUPPORTED, 0x10, 0x0e, 0x4a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0),
	BAD("unknown data_type", NNZRT_ERR_UNSUPPORTED, 0x10, 0x11, 0x4a, 0x01, 0x00),
	BAD("negative data_type", NNZRT_ERR_UNSUPPORTED, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x01),
	BAD("external data", NNZRT_ERR_UNSUPPORTED, 0x10, 0x01, 0x70, 0x01),
	BAD("segment", NNZRT_ERR_UNSUPPORTED, 0x10, 0x01, 0x1a, 0x00, 0x4a, 0x04, 0, 0, 0, 0),
	BAD("float_data for an int64 tensor", NNZRT_ERR_FORMAT, 0x10, 0x07, 0x25, 0, 0, 0, 0),
	BAD("raw_data and int64_data", NNZRT_ERR_FORMAT, 0x10, 0x07, 0x38, 0x01, 0x4a, 0x08, 0, 0, 0, 0,
		0, 0, 0, 0),
	BAD("raw_data one byte short", NNZRT_ERR_SHAPE, 0x08, 0x02, 0x10, 0x01, 0x4a, 0x07, 0, 0, 0, 0,
		0, 0, 0),
	BAD("typed data one element long", NNZRT_ERR_SHAPE, 0x08, 0x01, 0x10, 0x06, 0x2a, 0x02, 0x01,
		0x02),
	BAD("no data at all", NNZRT_ERR_SHAPE, 0x08, 0x02, 0x10, 0x01),
	/* field 2^33 + 4 with wire type 5: must be skipped, not taken for float_data (4) */
	BAD("huge field number", NNZRT_ERR_SHAPE, 0x08, 0x01, 0x10, 0x01, 0xa5, 0x80, 0x80, 0x80, 0x80,
		0x02, 0, 0, 0x80, 0x3f),
};

START_TEST(parse_rejects_each_malformation)
{
	for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
		const Bad *b = &bad_cases[i];
		nnzrt_tensor t;
		memset(&t, 0x55, sizeof t);
		int rc = nnzrt_tensor_parse(b->bytes, b->len, &t);
		ck_assert_msg(rc == b->status, "%s: status %d (%s: %s), want %d", b->what, rc,
			nnzrt_strerror(rc), nnzrt_errmsg(), b->status);
		ck_assert_msg(*nnzrt_errmsg() != '\0', "%s: no message", b->what);
		ck_assert_ptr_null(t.data);
		ck_assert_int_eq(t.rank, 0);
	}
	/* a valid scalar for contrast: data_type FLOAT, raw 4 bytes */
	static const unsigned char ok[] = {0x10, 0x01, 0x4a, 0x04, 0, 0, 0x80, 0x3f};
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_parse(ok, sizeof ok, &t), NNZRT_OK);
	ck_assert_int_eq(t.rank, 0);
	ck_assert(*(float *)t.data == 1.0f);
	nnzrt_tensor_free(&t);
	ck_assert_int_eq(nnzrt_tensor_parse(NULL, 0, &t), NNZRT_ERR_FORMAT);
	ck_assert_int_eq(nnzrt_tensor_parse(NULL, 4, &t), NNZRT_ERR_ARG);
	ck_assert_int_eq(nnzrt_tensor_parse(ok, sizeof ok, NULL), NNZRT_ERR_ARG);
}
END_TEST

/* A successful parse of arbitrary bytes must still describe a consistent tensor. */
static void parse_any(const unsigned char *buf, size_t len)
{
	nnzrt_tensor t;
	int rc = nnzrt_tensor_parse(buf, len, &t);
	if (rc != NNZRT_OK) {
		ck_assert_ptr_null(t.data);
		return;
	}
	ck_assert_ptr_nonnull(t.data);
	ck_assert(t.rank >= 0 && t.rank <= NNZRT_MAX_RANK);
	size_t n = nnzrt_dtype_size(t.dtype);
	ck_assert_uint_ne(n, 0);
	for (int i = 0; i < t.rank; i++) {
		ck_assert(t.dims[i] >= 0);
		n *= (size_t)t.dims[i];
	}
	ck_assert_uint_eq(n, t.nbytes);
	ck_assert(memchr(t.name, 0, sizeof t.name) != NULL);
	volatile unsigned char sink = 0;
	for (size_t i = 0; i < t.nbytes; i++) /* ASan checks every byte is inside the allocation */
		sink ^= ((unsigned char *)t.data)[i];
	(void)sink;
	nnzrt_tensor_free(&t);
}

START_TEST(truncations_fail_cleanly)
{
	const ExpectedTensor *all[ARRAY_LEN(expected_typed) + ARRAY_LEN(expected_raw)];
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_LEN(expected_typed); i++)
		all[n++] = &expected_typed[i];
	for (size_t i = 0; i < ARRAY_LEN(expected_raw); i++)
		all[n++] = &expected_raw[i];
	for (size_t k = 0; k < n; k++) {
		/* every strict prefix: each case ends in its data or name field, so none is valid */
		for (size_t len = 0; len < all[k]->pb_len; len++) {
			unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
			memcpy(copy, all[k]->pb, len);
			nnzrt_tensor t;
			int rc = nnzrt_tensor_parse(copy, len, &t);
			if (rc == NNZRT_OK) {
				/* only a prefix that drops the trailing name (typed cases) can parse, or one
				 * that drops the empty raw_data of a tensor without elements */
				ck_assert_msg(strcmp(t.name, all[k]->name) != 0 || t.nbytes == 0,
					"%s: prefix of %zu bytes parsed", all[k]->name, len);
				nnzrt_tensor_free(&t);
			}
			free(copy);
		}
	}
	/* and the same through files: the read path must not add its own problems */
	make_tmpdir();
	char path[8192];
	snprintf(path, sizeof path, "%s/cut.pb", tmpdir);
	for (size_t len = 0; len < expected_raw[0].pb_len; len += 7) {
		FILE *f = fopen(path, "wb");
		ck_assert_ptr_nonnull(f);
		fwrite(expected_raw[0].pb, 1, len, f);
		fclose(f);
		nnzrt_tensor t;
		int rc = nnzrt_tensor_read(path, &t);
		ck_assert_msg(rc == NNZRT_ERR_FORMAT || rc == NNZRT_ERR_SHAPE, "%zu bytes: %d", len, rc);
		ck_assert_msg(strstr(nnzrt_errmsg(), "cut.pb") != NULL, "%s", nnzrt_errmsg());
	}
	remove_tmpdir();
}
END_TEST

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

START_TEST(garbage_and_mutations_never_crash)
{
	unsigned char buf[256];
	/* pure garbage, biased towards small tags so that known fields come up often */
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rng() % sizeof buf;
		for (size_t i = 0; i < len; i++) {
			uint64_t r = rng();
			buf[i] = (r & 3) == 0 ? (unsigned char)(((r >> 8) % 15) << 3 | ((r >> 16) % 6)) : (unsigned char)(r >> 24);
		}
		unsigned char *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		parse_any(copy, len);
		free(copy);
	}
	/* mutations of valid files: flip, replace, insert, delete */
	for (int iter = 0; iter < 20000; iter++) {
		const ExpectedTensor *e = (iter & 1) ? &expected_typed[rng() % ARRAY_LEN(expected_typed)]
						     : &expected_raw[rng() % ARRAY_LEN(expected_raw)];
		if (e->pb_len + 8 > sizeof buf)
			continue;
		size_t len = e->pb_len;
		memcpy(buf, e->pb, len);
		int edits = 1 + (int)(rng() % 4);
		for (int k = 0; k < edits; k++) {
			size_t at = len ? rng() % len : 0;
			switch (rng() % 4) {
			case 0: buf[at] ^= (unsigned char)(1u << (rng() % 8)); break;
			case 1: buf[at] = (unsigned char)rng(); break;
			case 2:
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (unsigned char)rng();
					len++;
				}
				break;
			case 3:
				if (len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			}
		}
		unsigned char *copy = malloc(len ? len : 1);
		memcpy(copy, buf, len);
		parse_any(copy, len);
		free(copy);
	}
}
END_TEST

START_TEST(read_errors)
{
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_read("/nonexistent/dir/x.pb", &t), NNZRT_ERR_IO);
	ck_assert_ptr_null(t.data);
	ck_assert_int_eq(nnzrt_tensor_read("/", &t), NNZRT_ERR_IO); /* a directory */
	ck_assert_int_eq(nnzrt_tensor_read(NULL, &t), NNZRT_ERR_ARG);
	ck_assert_int_eq(nnzrt_tensor_read(CONV_INPUT_PATH, NULL), NNZRT_ERR_ARG);
	nnzrt_tensor_free(NULL);
	memset(&t, 0, sizeof t);
	nnzrt_tensor_free(&t);
}
END_TEST

START_TEST(write_errors_leave_nothing)
{
	make_tmpdir();
	char path[8192];
	snprintf(path, sizeof path, "%s/out.pb", tmpdir);
	float v[6] = {1, 2, 3, 4, 5, 6};
	nnzrt_tensor good = {.dtype = NNZRT_FLOAT, .rank = 2, .dims = {2, 3}, .data = v,
		.nbytes = sizeof v, .name = "good"};
	ck_assert_int_eq(nnzrt_tensor_write(path, &good), NNZRT_OK);

	struct {
		const char *what;
		nnzrt_tensor t;
		int status;
	} cases[] = {
		{"string dtype", good, NNZRT_ERR_ARG},
		{"rank 9", good, NNZRT_ERR_ARG},
		{"negative rank", good, NNZRT_ERR_ARG},
		{"nbytes mismatch", good, NNZRT_ERR_SHAPE},
		{"negative dim", good, NNZRT_ERR_SHAPE},
		{"overflowing dims", good, NNZRT_ERR_SHAPE},
		{"NULL data", good, NNZRT_ERR_ARG},
		{"unterminated name", good, NNZRT_ERR_ARG},
	};
	cases[0].t.dtype = 8;
	cases[1].t.rank = 9;
	cases[2].t.rank = -1;
	cases[3].t.nbytes = 20;
	cases[4].t.dims[0] = -2;
	cases[5].t.rank = 3;
	cases[5].t.dims[0] = cases[5].t.dims[1] = cases[5].t.dims[2] = INT64_C(1) << 40;
	cases[6].t.data = NULL;
	memset(cases[7].t.name, 'a', sizeof cases[7].t.name);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int rc = nnzrt_tensor_write(path, &cases[i].t);
		ck_assert_msg(rc == cases[i].status, "%s: %d (%s), want %d", cases[i].what, rc, nnzrt_errmsg(),
			cases[i].status);
	}
	/* the earlier file is untouched */
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_read(path, &t), NNZRT_OK);
	ck_assert_str_eq(t.name, "good");
	ck_assert(memcmp(t.data, v, sizeof v) == 0);
	nnzrt_tensor_free(&t);

	/* an unwritable destination fails without leaving a temporary file */
	char bad[8192];
	snprintf(bad, sizeof bad, "%s/missing/out.pb", tmpdir);
	ck_assert_int_eq(nnzrt_tensor_write(bad, &good), NNZRT_ERR_IO);
	ck_assert_int_eq(nnzrt_tensor_write(tmpdir, &good), NNZRT_ERR_IO); /* rename over a directory */
	ck_assert_int_eq(count_tmpdir_entries(".tmp."), 0);
	ck_assert_int_eq(nnzrt_tensor_write(NULL, &good), NNZRT_ERR_ARG);
	ck_assert_int_eq(nnzrt_tensor_write(path, NULL), NNZRT_ERR_ARG);

	/* zero elements: data may be NULL */
	nnzrt_tensor empty = {.dtype = NNZRT_INT8, .rank = 1, .dims = {0}};
	ck_assert_int_eq(nnzrt_tensor_write(path, &empty), NNZRT_OK);
	ck_assert_int_eq(nnzrt_tensor_read(path, &t), NNZRT_OK);
	ck_assert_ptr_nonnull(t.data);
	ck_assert_uint_eq(t.nbytes, 0);
	ck_assert_str_eq(t.name, "");
	nnzrt_tensor_free(&t);
	remove_tmpdir();
}
END_TEST

START_TEST(long_names_are_cut)
{
	unsigned char buf[300], *p = buf;
	*p++ = 0x10;
	*p++ = 0x02; /* UINT8 */
	*p++ = 0x42;
	*p++ = 0xc8;
	*p++ = 0x01; /* name of 200 bytes */
	memset(p, 'n', 200);
	p += 200;
	*p++ = 0x4a;
	*p++ = 0x01;
	*p++ = 0x07;
	nnzrt_tensor t;
	ck_assert_int_eq(nnzrt_tensor_parse(buf, (size_t)(p - buf), &t), NNZRT_OK);
	ck_assert_uint_eq(strlen(t.name), sizeof t.name - 1);
	ck_assert_int_eq(*(unsigned char *)t.data, 7);
	nnzrt_tensor_free(&t);
}
END_TEST

/* Make each allocation of an operation fail in turn: the operation reports NNZRT_ERR_NOMEM and
 * leaks nothing (ASan's leak check in the sanitizer build), until it has enough and succeeds. */
typedef int (*Operation)(void);

static int op_read(void)
{
	nnzrt_tensor t;
	int rc = nnzrt_tensor_read(CONV_INPUT_PATH, &t);
	nnzrt_tensor_free(&t);
	return rc;
}

static int op_parse_typed(void)
{
	nnzrt_tensor t;
	int rc = nnzrt_tensor_parse(expected_typed[0].pb, expected_typed[0].pb_len, &t);
	nnzrt_tensor_free(&t);
	return rc;
}

static int op_write(void)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/oom.pb", tmpdir);
	float v = 1;
	nnzrt_tensor t = {.dtype = NNZRT_FLOAT, .rank = 0, .data = &v, .nbytes = sizeof v};
	return nnzrt_tensor_write(path, &t);
}

static int op_pool(void)
{
	nnzrt_pool *p = nnzrt_pool_create(3);
	if (p == NULL)
		return strstr(nnzrt_errmsg(), "out of memory") ? NNZRT_ERR_NOMEM : NNZRT_ERR_THREAD;
	check_coverage(p, 3, 100);
	nnzrt_pool_destroy(p);
	return NNZRT_OK;
}

START_TEST(out_of_memory_paths)
{
	make_tmpdir();
	const struct {
		const char *name;
		Operation op;
		int allocs; /* how many allocations it makes when all succeed */
	} ops[] = {{"read", op_read, 3}, {"parse", op_parse_typed, 2}, {"write", op_write, 1},
		{"pool_create", op_pool, 4}};
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		for (int k = 1; k <= ops[i].allocs + 1; k++) {
			rt_test_fail_alloc_after(k);
			int rc = ops[i].op();
			rt_test_fail_alloc_after(0);
			if (k <= ops[i].allocs)
				ck_assert_msg(rc == NNZRT_ERR_NOMEM, "%s, allocation %d failing: %d (%s)", ops[i].name,
					k, rc, nnzrt_errmsg());
			else
				ck_assert_msg(rc == NNZRT_OK, "%s: %s", ops[i].name, nnzrt_errmsg());
		}
	}
	ck_assert_int_eq(count_tmpdir_entries(".tmp."), 0);
	remove_tmpdir();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nnzrt");
	TCase *pool = tcase_create("pool");
	tcase_set_timeout(pool, 120); /* a lost wake-up shows as a hang */
	tcase_add_test(pool, pool_covers_every_index_once);
	tcase_add_test(pool, pool_null_and_negative);
	tcase_add_test(pool, pool_huge_n);
	tcase_add_test(pool, pool_nested_calls_run_inline);
	tcase_add_test(pool, pool_many_calls_spinning);
	tcase_add_test(pool, pool_many_calls_blocking);
	tcase_add_test(pool, pool_concurrent_callers);
	tcase_add_test(pool, pool_chunks_run_concurrently);
	tcase_add_test(pool, pool_caller_takes_unstarted_chunks);
	tcase_add_test(pool, pool_idle_thread_takes_a_stragglers_grains);
	tcase_add_test(pool, pool_default);
	tcase_add_test(pool, pool_shared_by_thread_count);
	suite_add_tcase(s, pool);

	TCase *misc = tcase_create("misc");
	tcase_add_test(misc, status_strings);
	tcase_add_test(misc, errmsg_is_per_thread);
	tcase_add_test(misc, dtype_table);
	suite_add_tcase(s, misc);

	TCase *files = tcase_create("tensor files");
	tcase_set_timeout(files, 120);
	tcase_add_test(files, parse_typed_fields_from_protobuf);
	tcase_add_test(files, raw_round_trip_every_dtype);
	tcase_add_test(files, read_onnx_node_test_file);
	tcase_add_test(files, parse_unpacked_and_mixed);
	tcase_add_test(files, parse_rejects_each_malformation);
	tcase_add_test(files, truncations_fail_cleanly);
	tcase_add_test(files, garbage_and_mutations_never_crash);
	tcase_add_test(files, read_errors);
	tcase_add_test(files, write_errors_leave_nothing);
	tcase_add_test(files, long_names_are_cut);
	tcase_add_test(files, out_of_memory_paths);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
