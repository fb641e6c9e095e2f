/* What every Check suite in tests/unit shares: run one suite, exit status from its failures. */
#ifndef NNZC_TESTUTIL_H
#define NNZC_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
