/* What the accelerator unit tests share (they link nnzc_accel): a program from assembly text. */
#ifndef NNZC_ACCEL_TESTUTIL_H
#define NNZC_ACCEL_TESTUTIL_H

#include "runtime/accel_internal.h"
#include "targets/accel/accel.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Serialise a builder (freed) and load the bytes through the runtime's validator. */
static inline nnzrt_accel_program *test_accel_load(NnzaBuilder *b)
{
	Diag d = {0};
	unsigned char *buf;
	size_t len;
	ck_assert_msg(nnza_serialize(b, true, &buf, &len, &d) == 0, "%s", d.msg);
	nnza_builder_free(b);
	nnzrt_accel_program *p;
	ck_assert_msg(nnzrt_accel_load(buf, len, &p) == 0, "%s", nnzrt_errmsg());
	free(buf);
	return p;
}

/* Assemble `text`, serialise it and load it through the runtime's validator. */
static inline nnzrt_accel_program *test_accel_build(const char *text)
{
	NnzaBuilder b;
	Diag d = {0};
	ck_assert_msg(nnza_assemble(text, strlen(text), "t.s", &b, &d) == 0, "%s", d.msg);
	return test_accel_load(&b);
}

#endif
