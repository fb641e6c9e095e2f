/* Static shapes: construction, checked element counts, broadcasting, axis normalisation. */
#include "nnzc/ir.h"

#include <string.h>

bool mul_ok_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

Shape shape_make(int rank, const int64_t *dims)
{
	Shape s;
	memset(&s, 0, sizeof s);
	s.rank = rank;
	for (int i = 0; i < rank && i < NNZC_MAX_RANK; i++)
		s.dim[i] = dims ? dims[i] : -1;
	return s;
}

Shape shape_unknown(void)
{
	Shape s;
	memset(&s, 0, sizeof s);
	s.rank = -1;
	return s;
}

bool shape_is_static(const Shape *s)
{
	if (s->rank < 0)
		return false;
	for (int i = 0; i < s->rank; i++)
		if (s->dim[i] < 0)
			return false;
	return true;
}

bool shape_equal(const Shape *a, const Shape *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return false;
	return true;
}

int64_t shape_numel(const Shape *s)
{
	if (!shape_is_static(s))
		return -1;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		if (!mul_ok_i64(n, s->dim[i], &n))
			return -2;
	return n;
}

size_t shape_bytes(const Shape *s, size_t elem_size, bool *ok)
{
	int64_t n = shape_numel(s);
	size_t bytes;
	if (n < 0 || (uint64_t)n > SIZE_MAX || __builtin_mul_overflow((size_t)n, elem_size, &bytes)) {
		*ok = false;
		return 0;
	}
	*ok = true;
	return bytes;
}

int shape_broadcast(const Shape *a, const Shape *b, Shape *out, Diag *d)
{
	if (a->rank < 0 || b->rank < 0) {
		*out = shape_unknown();
		return 0;
	}
	int rank = a->rank > b->rank ? a->rank : b->rank;
	Shape r = shape_make(rank, NULL);
	for (int i = 0; i < rank; i++) {
		int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
		int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
		if (da == 1)
			r.dim[i] = db;
		else if (db == 1)
			r.dim[i] = da;
		else if (da == db)
			r.dim[i] = da;
		else if (da < 0 || db < 0)
			r.dim[i] = da < 0 ? db : da; /* unknown vs n: n if compatible at all */
		else
			return diag_error(d, "shapes cannot broadcast: dim %d is %lld vs %lld", i, (long long)da, (long long)db);
	}
	*out = r;
	return 0;
}

int shape_axis(int64_t axis, int rank, int *out, Diag *d)
{
	*out = 0; /* defined on every path, so callers' error branches never read garbage */
	if (axis < -rank || axis >= rank)
		return diag_error(d, "axis %lld out of range for rank %d", (long long)axis, rank);
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

void shape_print(const Shape *s, FILE *f)
{
	if (s->rank < 0) {
		fputs("[*]", f);
		return;
	}
	fputc('[', f);
	for (int i = 0; i < s->rank; i++) {
		if (i)
			fputc(',', f);
		if (s->dim[i] < 0)
			fputc('?', f);
		else
			fprintf(f, "%lld", (long long)s->dim[i]);
	}
	fputc(']', f);
}

char *shape_str(const Shape *s, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	if (s->rank < 0) {
		snprintf(buf, cap, "[*]");
		return buf;
	}
	k += (size_t)snprintf(buf + k, cap - k, "[");
	for (int i = 0; i < s->rank && k < cap; i++) {
		if (s->dim[i] < 0)
			k += (size_t)snprintf(buf + k, cap - k, i ? ",?" : "?");
		else
			k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", (long long)s->dim[i]);
	}
	if (k < cap)
		snprintf(buf + k, cap - k, "]");
	return buf;
}
