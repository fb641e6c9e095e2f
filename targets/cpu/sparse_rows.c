/* A constant weight's non-zeros listed per row, in the order a kernel multiplies them. */
#include "sparse.h"

#include <stdlib.h>

int sprows_build(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, SpRows *out)
{
	*out = (SpRows){.rows = rows, .cols = cols};
	if (rows < 0 || cols < 0 || cols > INT32_MAX)
		return -1;
	out->row_ptr = malloc(((size_t)rows + 1) * sizeof *out->row_ptr);
	if (out->row_ptr == NULL)
		return -1;
	int64_t nnz = 0;
	for (int64_t r = 0; r < rows; r++) {
		out->row_ptr[r] = nnz;
		for (int64_t c = 0; c < cols; c++)
			nnz += w[r * rs + c * cs] != 0.0f;
	}
	out->row_ptr[rows] = nnz;
	out->nnz = nnz;
	/* one extra element so that an all-zero weight still gets non-NULL arrays */
	out->col = malloc(((size_t)nnz + 1) * sizeof *out->col);
	out->val = malloc(((size_t)nnz + 1) * sizeof *out->val);
	if (out->col == NULL || out->val == NULL) {
		sprows_free(out);
		return -1;
	}
	int64_t e = 0;
	for (int64_t r = 0; r < rows; r++)
		for (int64_t c = 0; c < cols; c++) {
			float x = w[r * rs + c * cs];
			if (x != 0.0f) {
				out->col[e] = (int32_t)c;
				out->val[e++] = x;
			}
		}
	return 0;
}

void sprows_free(SpRows *s)
{
	free(s->row_ptr);
	free(s->col);
	free(s->val);
	*s = (SpRows){0};
}

int sparse_pattern_rows(int64_t m)
{
	return m > 0 && m % 4 == 0 ? 4 : m > 0 && m % 2 == 0 ? 2 : 0;
}

int64_t sparse_pattern_entries(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int r)
{
	int64_t n = 0;
	if (r < 1)
		return 0;
	for (int64_t g = 0; g + r <= rows; g += r)
		for (int64_t c = 0; c < cols; c++) {
			bool any = false;
			for (int j = 0; j < r && !any; j++)
				any = w[(g + j) * rs + c * cs] != 0.0f;
			n += any;
		}
	return n;
}
