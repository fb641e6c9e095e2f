/* What the Check suites in tests/unit share: running a suite, seeded random data, and the tiny
 * graph builders and checks that several suites wrote alike. Every suite is its own executable,
 * so everything here is static (one copy, and one generator state, per suite). */
#ifndef NNZC_TESTUTIL_H
#define NNZC_TESTUTIL_H

#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* fork: CK_FORK_GETENV (Check's default: fork per test unless CK_FORK=no) or CK_NOFORK, for
 * suites of many cheap iterations whose tests share no state a crash could corrupt. */
static inline int run_suite_fork(Suite *s, enum fork_status fork)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline int run_suite(Suite *s) { return run_suite_fork(s, CK_FORK_GETENV); }

/* ---------------------------------------------------------------- seeded random data
 *
 * One state, set by the test (test_seed, or test_rng_state directly) so that every run draws
 * the same numbers, and the ways the suites draw from it: a 64-bit LCG (Knuth's MMIX constants)
 * read through test_next/test_irand/test_frand or test_uniform, or xorshift64 (test_xorshift,
 * the state must not be 0). */
static uint64_t test_rng_state;

static inline uint64_t test_lcg(void)
{
	test_rng_state = test_rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return test_rng_state;
}

static inline void test_seed(uint64_t s, uint64_t salt) { test_rng_state = s * 0x9E3779B97F4A7C15ull + salt; }
static inline uint64_t test_next(void) { return test_lcg() >> 17; }
/* in [lo, hi] */
static inline int64_t test_irand(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(test_next() % (uint64_t)(hi - lo + 1));
}
/* in [-1, 1] in steps of 1e-6 */
static inline float test_frand(void) { return (float)((double)(test_next() % 2000001) / 1000000.0 - 1.0); }
/* in [lo, hi), from the top 53 bits */
static inline double test_uniform(double lo, double hi)
{
	return lo + (hi - lo) * (double)(test_lcg() >> 11) / 9007199254740992.0;
}

static inline uint64_t test_xorshift(void)
{
	test_rng_state ^= test_rng_state << 13;
	test_rng_state ^= test_rng_state >> 7;
	test_rng_state ^= test_rng_state << 17;
	return test_rng_state;
}

/* ---------------------------------------------------------------- building and checking graphs */

/* An f32 graph input. */
static inline Value *test_input(Graph *g, const char *name, Shape s)
{
	Value *v = graph_add_value(g, name, DT_F32, &s);
	graph_add_input(g, v);
	return v;
}

/* An f32 constant, zeros until the caller fills it. */
static inline Value *test_constant(Graph *g, const char *name, Shape s)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, name, DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	return v;
}

/* An f32 constant uniform in +-[scale/10, scale) with a random sign: no zeros, no ties. */
static inline Value *test_crand(Graph *g, const char *name, Shape s, double scale)
{
	Value *v = test_constant(g, name, s);
	float *p = v->data;
	for (int64_t i = 0; i < shape_numel(&s); i++)
		p[i] = (float)(test_uniform(scale / 10, scale) * (test_uniform(0, 1) < 0.5 ? -1 : 1));
	return v;
}

/* Run pass fn with argument arg (NULL: none), d cleared first. */
static inline int test_run_pass(Graph *g, PassFn fn, const char *arg, Diag *d)
{
	PassOptions opt = {.arg = arg};
	memset(d, 0, sizeof *d);
	return fn(g, &opt, d);
}

/* The last remark a pass left on the node, or NULL. */
static inline const Remark *test_remark_on(const Graph *g, const char *node)
{
	const Remark *r = NULL;
	for (int i = 0; i < g->n_remarks; i++)
		if (g->remarks[i].node && strcmp(g->remarks[i].node, node) == 0)
			r = &g->remarks[i];
	return r;
}

/* Whether a is the encoding spelled (parameters and tasd terms included). */
static inline bool test_enc_is(const Encoding *a, const char *spelling)
{
	Encoding e;
	Diag d = {0};
	ck_assert_msg(encoding_parse(spelling, &e, NULL, &d) == 0, "%s", d.msg);
	if (a->kind != e.kind)
		return false;
	switch (e.kind) {
	case ENC_NM: return a->u.nm.n == e.u.nm.n && a->u.nm.m == e.u.nm.m;
	case ENC_BSR: return a->u.bsr.r == e.u.bsr.r && a->u.bsr.c == e.u.bsr.c;
	case ENC_GS: return a->u.gs.v == e.u.gs.v && a->u.gs.b == e.u.gs.b;
	case ENC_TASD:
		if (a->u.tasd.nterms != e.u.tasd.nterms)
			return false;
		for (int i = 0; i < e.u.tasd.nterms; i++)
			if (a->u.tasd.term[i].n != e.u.tasd.term[i].n || a->u.tasd.term[i].m != e.u.tasd.term[i].m)
				return false;
		return true;
	default: return true;
	}
}

/* ---------------------------------------------------------------- encoded against dense */

/* An f32 tensor of shape s uniform in [-1, 1) (test_uniform); the caller frees it. */
static inline Tensor test_uniform_tensor(const Shape *s)
{
	Diag d = {0};
	Tensor t;
	ck_assert_msg(tensor_alloc(&t, DT_F32, s, &d) == 0, "%s", d.msg);
	for (int64_t i = 0; i < tensor_numel(&t); i++)
		((float *)t.data)[i] = (float)test_uniform(-1, 1);
	return t;
}

/* Give dense, the unencoded twin of g (built alike), the values of g's encoded weights. */
static inline void test_copy_encoded(const Graph *g, Graph *dense)
{
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		if (v->data && v->enc.kind != ENC_DENSE)
			memcpy(graph_find_value(dense, v->name)->data, v->data,
			       (size_t)shape_numel(&v->shape) * sizeof(float));
	}
}

/* The interpreter gives g and dense (one input, one f32 output) the same output on in, to 1e-5
 * relative; `what` names the case in messages. */
static inline void test_outputs_agree(const Graph *g, const Graph *dense, const Tensor *in, const char *what)
{
	Diag d = {0};
	Tensor want, got;
	ck_assert_msg(ref_run(dense, in, &want, &d) == 0, "%s: dense: %s", what, d.msg);
	ck_assert_msg(ref_run(g, in, &got, &d) == 0, "%s: %s", what, d.msg);
	ck_assert_int_eq(tensor_numel(&got), tensor_numel(&want));
	for (int64_t i = 0; i < tensor_numel(&want); i++) {
		float x = ((float *)got.data)[i], y = ((float *)want.data)[i];
		ck_assert_msg(fabsf(x - y) <= 1e-5f * fmaxf(1.0f, fabsf(y)), "%s: output %lld is %g, dense %g", what,
			      (long long)i, x, y);
	}
	tensor_free(&want);
	tensor_free(&got);
}

#endif
