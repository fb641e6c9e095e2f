/* An application of the kind docs/abi.md describes, built by tests/cpu_obj/check.sh with plain cc
 * against an object nnzc compiled with --name m (and maybe --weights-file), the generated m.h and
 * libnnzrt: it runs the model on input.pb and compares the result with expected.pb. With a
 * weights file it first checks that every defect PREFIX_set_weights must catch is caught.
 *
 *   app INPUT.pb EXPECTED.pb [WEIGHTS]      exit 0 when the output matches (rtol 1e-3) */
#include "m.h"
#include "nnzrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
	fprintf(stderr, "app: %s\n", what);
	return 1;
}

#if m_WEIGHTS_EXTERNAL
/* every defect of a weights file gives its status, and nothing is kept */
static int check_rejections(unsigned char *w, int64_t size)
{
	if (m_weights_size() != size || size != m_WEIGHTS_SIZE)
		return fail("m_weights_size() differs from the file's size");
	unsigned char *odd = aligned_alloc(64, ((size_t)size + 127) / 64 * 64);
	if (odd == NULL)
		return fail("out of memory");
	memcpy(odd + 8, w, (size_t)size);
	struct { const void *p; int64_t n; int want; } cases[] = {
		{NULL, size, m_ERR_WEIGHTS_SIZE},
		{w, size - 64, m_ERR_WEIGHTS_SIZE},
		{w, size + 1, m_ERR_WEIGHTS_SIZE},
		{odd + 8, size, m_ERR_WEIGHTS_ALIGN},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (m_set_weights(cases[i].p, cases[i].n) != cases[i].want) {
			fprintf(stderr, "app: set_weights case %zu: want %s\n", i, m_strerror(cases[i].want));
			return 1;
		}
	/* one byte changed in the magic, the version, the fingerprint and the payload */
	struct { int64_t at; int want; } flips[] = {
		{0, m_ERR_WEIGHTS_FORMAT}, {8, m_ERR_WEIGHTS_FORMAT}, {16, m_ERR_WEIGHTS_FORMAT},
		{24, m_ERR_WEIGHTS_MODEL}, {64, m_ERR_WEIGHTS_CORRUPT}, {size / 2, m_ERR_WEIGHTS_CORRUPT},
	};
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		memcpy(odd, w, (size_t)size);
		odd[flips[i].at] ^= 0x10;
		int st = m_set_weights(odd, size);
		if (st != flips[i].want) {
			fprintf(stderr, "app: byte %lld changed: got '%s', want '%s'\n", (long long)flips[i].at, m_strerror(st),
				m_strerror(flips[i].want));
			return 1;
		}
	}
	free(odd);
	if (strcmp(m_strerror(m_OK), "ok") != 0 || m_strerror(-1) == NULL || m_strerror(99) == NULL)
		return fail("m_strerror");
	return 0;
}
#endif

int main(int argc, char **argv)
{
	if (argc < 3)
		return fail("usage: app INPUT.pb EXPECTED.pb [WEIGHTS]");
	nnzrt_tensor in, want;
	if (nnzrt_tensor_read(argv[1], &in) != NNZRT_OK || nnzrt_tensor_read(argv[2], &want) != NNZRT_OK)
		return fail(nnzrt_errmsg());
	if (m_num_inputs() != 1 || m_num_outputs() != 1 || m_input_rank(0) != in.rank)
		return fail("the model's inputs differ from the test data");
	float *out = malloc(want.nbytes);
	void *ws = aligned_alloc(64, (size_t)(m_workspace_size() + 63) / 64 * 64 + 64);
	if (out == NULL || ws == NULL)
		return fail("out of memory");
	const void *ins[1] = {in.data};
	void *outs[1] = {out};
#if m_WEIGHTS_EXTERNAL
	if (argc < 4)
		return fail("this object needs its weights file");
	if (m_run(ins, outs) != m_ERR_NO_WEIGHTS)
		return fail("a run before set_weights must fail with ERR_NO_WEIGHTS");
	FILE *f = fopen(argv[3], "rb");
	if (f == NULL)
		return fail("cannot open the weights");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *w = aligned_alloc(64, ((size_t)size + 63) / 64 * 64);
	if (w == NULL || fread(w, 1, (size_t)size, f) != (size_t)size)
		return fail("cannot read the weights");
	fclose(f);
	if (check_rejections(w, size))
		return 1;
	if (m_run(ins, outs) != m_ERR_NO_WEIGHTS)
		return fail("a rejected file must not be kept");
	int st = m_set_weights(w, size);
	if (st != m_OK) {
		fprintf(stderr, "app: set_weights: %s\n", m_strerror(st));
		return 1;
	}
#else
	if (m_weights_size() != 0)
		return fail("embedded weights: m_weights_size() must be 0");
#endif
	/* both entry points, the second on the calling thread only */
	for (int k = 0; k < 2; k++) {
		memset(out, 0, want.nbytes);
		int st = k ? m_run_with(ins, outs, ws, 1) : m_run(ins, outs);
		if (st != m_OK) {
			fprintf(stderr, "app: run: %s\n", m_strerror(st));
			return 1;
		}
		const float *e = want.data;
		for (size_t i = 0; i < want.nbytes / sizeof(float); i++)
			if (!(fabsf(out[i] - e[i]) <= 1e-5f + 1e-3f * fabsf(e[i]))) {
				fprintf(stderr, "app: output %zu: %g, want %g\n", i, out[i], e[i]);
				return 1;
			}
	}
	printf("app: PASS\n");
	nnzrt_tensor_free(&in);
	nnzrt_tensor_free(&want);
	free(out);
	free(ws);
	return 0;
}
