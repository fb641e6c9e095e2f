/* Reads a tensor file, sums it with nnzrt_parallel_for on an explicit and on the default pool,
 * writes the tensor back and reads it again.
 *     consumer IN.pb OUT.pb      exit 0 and "consumer: ok" on success */
#include <nnzrt.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

typedef struct Sum {
	const float *x;
	_Atomic long long milli; /* fixed point, so that the order of chunks does not matter */
} Sum;

static void sum_task(void *ctx, int64_t begin, int64_t end)
{
	Sum *s = ctx;
	long long acc = 0;
	for (int64_t i = begin; i < end; i++)
		acc += (long long)(s->x[i] * 1000.0f);
	atomic_fetch_add(&s->milli, acc);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "consumer: %s: %s: %s\n", what, nnzrt_strerror(rc), nnzrt_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fputs("usage: consumer IN.pb OUT.pb\n", stderr);
		return 2;
	}
	nnzrt_tensor t, u;
	int rc = nnzrt_tensor_read(argv[1], &t);
	if (rc)
		return fail(argv[1], rc);
	if (t.dtype != NNZRT_FLOAT)
		return fail("want a float tensor", NNZRT_ERR_ARG);
	int64_t n = (int64_t)(t.nbytes / sizeof(float));

	nnzrt_pool *pool = nnzrt_pool_create(3);
	if (pool == NULL)
		return fail("pool", NNZRT_ERR_THREAD);
	Sum a = {t.data, 0}, b = {t.data, 0};
	nnzrt_parallel_for(pool, n, sum_task, &a);
	nnzrt_parallel_for(nnzrt_default_pool(), n, sum_task, &b);
	nnzrt_pool_destroy(pool);
	long long serial = 0;
	for (int64_t i = 0; i < n; i++)
		serial += (long long)(((const float *)t.data)[i] * 1000.0f);
	if (atomic_load(&a.milli) != serial || atomic_load(&b.milli) != serial) {
		fprintf(stderr, "consumer: parallel sums %lld and %lld, serial %lld\n", atomic_load(&a.milli),
			atomic_load(&b.milli), serial);
		return 1;
	}

	if ((rc = nnzrt_tensor_write(argv[2], &t)))
		return fail(argv[2], rc);
	if ((rc = nnzrt_tensor_read(argv[2], &u)))
		return fail(argv[2], rc);
	int same = u.nbytes == t.nbytes && memcmp(u.data, t.data, t.nbytes) == 0 &&
		strcmp(u.name, t.name) == 0;
	nnzrt_tensor_free(&u);
	nnzrt_tensor_free(&t);
	if (!same)
		return fail("the written tensor differs", NNZRT_ERR_FORMAT);
	printf("consumer: ok (nnzrt %s, %lld elements, sum %.3f, default pool %d threads)\n",
		nnzrt_version(), (long long)n, serial / 1000.0, nnzrt_pool_threads(nnzrt_default_pool()));
	return 0;
}
