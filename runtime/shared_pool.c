/* Pools by thread count, created on first use and kept for the life of the process: generated
 * code asks for one on every PREFIX_run_with(..., num_threads) call and must not pay for thread
 * creation there. */
#include "nnzrt.h"

#include <pthread.h>
#include <stdlib.h>

#define MAX_SHARED_THREADS 256

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static nnzrt_pool *pools[MAX_SHARED_THREADS + 1];
static int registered;

static void destroy_all(void)
{
	for (int i = 0; i <= MAX_SHARED_THREADS; i++) {
		nnzrt_pool_destroy(pools[i]);
		pools[i] = NULL;
	}
}

nnzrt_pool *nnzrt_shared_pool(int num_threads)
{
	if (num_threads <= 0)
		return nnzrt_default_pool();
	if (num_threads == 1)
		return NULL; /* the calling thread alone: nnzrt_parallel_for runs inline */
	if (num_threads > MAX_SHARED_THREADS)
		num_threads = MAX_SHARED_THREADS;
	pthread_mutex_lock(&lock);
	if (pools[num_threads] == NULL) {
		pools[num_threads] = nnzrt_pool_create(num_threads);
		if (!registered && atexit(destroy_all) == 0)
			registered = 1;
	}
	nnzrt_pool *p = pools[num_threads];
	pthread_mutex_unlock(&lock);
	return p;
}
