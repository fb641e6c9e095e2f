/* ONNX TensorProto files without protobuf: a reader and writer of the few fields a tensor file
 * uses, straight from the wire format.
 *
 * Wire format: a message is a sequence of fields, each a varint key (field number << 3 | wire
 * type) followed by a varint (type 0), 8 bytes (1), a varint length and that many bytes (2) or
 * 4 bytes (5). Repeated scalars come one per key (unpacked) or as one length-delimited run
 * (packed), and a reader must accept both, even mixed. The fields we read:
 *
 *    1 dims        int64, repeated     7 int64_data   int64, repeated    10 double_data double, rep.
 *    2 data_type   int32               8 name         string             11 uint64_data uint64, rep.
 *    4 float_data  float, repeated     9 raw_data     bytes              14 data_location enum
 *    5 int32_data  int32, repeated (int8/16/32, uint8/16, bool, and f16/bf16 as their 16 bits)
 *
 * Everything else is skipped. The input is untrusted: every varint and length is checked
 * against the end of the buffer, and nothing is allocated before the element count implied by
 * dims has been checked (with overflow checks) against the data actually present, so a file
 * cannot make us allocate more than a small multiple of its own size.
 *
 * Parsing walks the buffer twice with the same function: the first walk validates and counts,
 * the second, after the allocation, decodes the data field into storage layout.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- dtypes */

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {
	[NNZRT_FLOAT] = {"f32", 4},   [NNZRT_UINT8] = {"u8", 1},     [NNZRT_INT8] = {"i8", 1},
	[NNZRT_UINT16] = {"u16", 2},  [NNZRT_INT16] = {"i16", 2},    [NNZRT_INT32] = {"i32", 4},
	[NNZRT_INT64] = {"i64", 8},   [NNZRT_BOOL] = {"bool", 1},    [NNZRT_FLOAT16] = {"f16", 2},
	[NNZRT_DOUBLE] = {"f64", 8},  [NNZRT_UINT32] = {"u32", 4},   [NNZRT_UINT64] = {"u64", 8},
	[NNZRT_BFLOAT16] = {"bf16", 2},
};

#define N_DTYPES ((int)(sizeof dtypes / sizeof *dtypes))

size_t nnzrt_dtype_size(int dtype) { return dtype > 0 && dtype < N_DTYPES ? dtypes[dtype].size : 0; }

const char *nnzrt_dtype_name(int dtype)
{
	return nnzrt_dtype_size(dtype) ? dtypes[dtype].name : "invalid";
}

/* ---------------------------------------------------------------- shape arithmetic */

/* prod(dims) and the byte count, or a status if a dim is negative or a product overflows. */
static int count_bytes(int rank, const int64_t *dims, size_t elem, int64_t *numel, size_t *nbytes)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return rt_fail(NNZRT_ERR_SHAPE, "dims[%d] is %lld", i, (long long)dims[i]);
		if (dims[i] != 0 && n > INT64_MAX / dims[i])
			return rt_fail(NNZRT_ERR_SHAPE, "the element count overflows");
		n *= dims[i];
	}
	if ((uint64_t)n > SIZE_MAX / elem)
		return rt_fail(NNZRT_ERR_SHAPE, "the byte count overflows");
	*numel = n;
	*nbytes = (size_t)n * elem;
	return NNZRT_OK;
}

/* ---------------------------------------------------------------- wire format, reading */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

enum {
	F_DIMS = 1, F_DATA_TYPE = 2, F_SEGMENT = 3, F_FLOAT = 4, F_INT32 = 5, F_INT64 = 7, F_NAME = 8,
	F_RAW = 9, F_DOUBLE = 10, F_UINT64 = 11, F_DATA_LOCATION = 14, N_FIELDS = 15,
};

typedef struct Cursor {
	const uint8_t *base, *p, *end;
} Cursor;

static size_t offset(const Cursor *c) { return (size_t)(c->p - c->base); }

/* At most 10 bytes, as protobuf allows; bits beyond 64 are dropped, like protobuf does. */
static int get_varint(Cursor *c, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 10; i++) {
		if (c->p >= c->end)
			return rt_fail(NNZRT_ERR_FORMAT, "varint runs past the end at byte %zu", offset(c));
		uint8_t b = *c->p++;
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = x;
			return NNZRT_OK;
		}
	}
	return rt_fail(NNZRT_ERR_FORMAT, "varint longer than 10 bytes before byte %zu", offset(c));
}

/* A length-delimited payload: [*start, *start + *len) checked to lie inside the buffer. */
static int get_span(Cursor *c, const uint8_t **start, size_t *len)
{
	uint64_t n;
	int rc = get_varint(c, &n);
	if (rc)
		return rc;
	if (n > (uint64_t)(c->end - c->p))
		return rt_fail(NNZRT_ERR_FORMAT, "length %llu at byte %zu runs past the end (%zu bytes)",
			(unsigned long long)n, offset(c), (size_t)(c->end - c->base));
	*start = c->p;
	*len = (size_t)n;
	c->p += n;
	return NNZRT_OK;
}

static int skip(Cursor *c, size_t n)
{
	if (n > (size_t)(c->end - c->p))
		return rt_fail(NNZRT_ERR_FORMAT, "field at byte %zu runs past the end", offset(c));
	c->p += n;
	return NNZRT_OK;
}

static void put_le(uint8_t *dst, uint64_t v, size_t size)
{
	for (size_t i = 0; i < size; i++)
		dst[i] = (uint8_t)(v >> (8 * i));
}

/* What the two walks share. The first walk fills everything but out; the second walk decodes
 * the occurrences of data_field into out (which has room for count[data_field] elements). */
typedef struct Scan {
	int dtype, rank;
	int64_t dims[NNZRT_MAX_RANK];
	const uint8_t *raw;
	size_t raw_len;
	bool has_raw;
	uint64_t count[N_FIELDS]; /* elements seen per repeated data field */
	char name[128];

	int data_field; /* second walk only */
	uint8_t *out;
	size_t elem;
	uint64_t done;
} Scan;

/* One element of a varint data field: stored as its low `elem` bytes (so int32_data carries
 * int8..int32, uint8/16 and the bits of f16/bf16; uint64_data carries uint32), except bool,
 * which is normalized to 0/1 as ONNX's own reader does. */
static void store_varint(Scan *s, uint64_t v)
{
	uint8_t *dst = s->out + s->done++ * s->elem;
	if (s->dtype == NNZRT_BOOL)
		*dst = v != 0;
	else
		put_le(dst, v, s->elem);
}

static int add_dim(Scan *s, uint64_t v)
{
	if (s->rank == NNZRT_MAX_RANK)
		return rt_fail(NNZRT_ERR_UNSUPPORTED, "more than %d dims", NNZRT_MAX_RANK);
	s->dims[s->rank++] = (int64_t)v;
	return NNZRT_OK;
}

/* A repeated varint field (dims, int32_data, int64_data, uint64_data), one value or packed. */
static int varint_field(Cursor *c, int wt, int field, Scan *s, bool decode)
{
	uint64_t v;
	int rc;
	if (wt == WT_VARINT) {
		if ((rc = get_varint(c, &v)))
			return rc;
		if (field == F_DIMS) /* the second walk skips dims */
			return add_dim(s, v);
		if (decode)
			store_varint(s, v);
		else
			s->count[field]++;
		return NNZRT_OK;
	}
	const uint8_t *start;
	size_t len;
	if ((rc = get_span(c, &start, &len)))
		return rc;
	Cursor in = {c->base, start, start + len};
	while (in.p < in.end) {
		if ((rc = get_varint(&in, &v)))
			return rc;
		if (field == F_DIMS) {
			if ((rc = add_dim(s, v)))
				return rc;
		} else if (decode) {
			store_varint(s, v);
		} else {
			s->count[field]++;
		}
	}
	return NNZRT_OK;
}

/* A repeated fixed-width field (float_data 4 bytes, double_data 8), one value or packed. The
 * wire holds little-endian bytes, which is the storage layout: decoding is a copy. */
static int fixed_field(Cursor *c, int wt, int field, size_t width, Scan *s, bool decode)
{
	const uint8_t *start = c->p;
	size_t len = width;
	int rc;
	if (wt == WT_LEN) {
		if ((rc = get_span(c, &start, &len)))
			return rc;
		if (len % width)
			return rt_fail(NNZRT_ERR_FORMAT, "packed field %d of %zu bytes is not a multiple of %zu",
				field, len, width);
	} else if ((rc = skip(c, width))) {
		return rc;
	}
	if (decode) {
		memcpy(s->out + s->done * width, start, len);
		s->done += len / width;
	} else {
		s->count[field] += len / width;
	}
	return NNZRT_OK;
}

static int skip_field(Cursor *c, int wt, uint64_t field)
{
	uint64_t v;
	const uint8_t *start;
	size_t len;
	switch (wt) {
	case WT_VARINT: return get_varint(c, &v);
	case WT_I64: return skip(c, 8);
	case WT_LEN: return get_span(c, &start, &len);
	case WT_I32: return skip(c, 4);
	}
	/* groups (3, 4) are deprecated and never part of a TensorProto; 6 and 7 do not exist */
	return rt_fail(NNZRT_ERR_FORMAT, "field %llu has wire type %d at byte %zu",
		(unsigned long long)field, wt, offset(c));
}

/* The wire types a known field may come in: its scalar type, or 2 (packed) if repeated. */
static bool wire_type_ok(int field, int wt)
{
	switch (field) {
	case F_DIMS: case F_INT32: case F_INT64: case F_UINT64: return wt == WT_VARINT || wt == WT_LEN;
	case F_DATA_TYPE: case F_DATA_LOCATION: return wt == WT_VARINT;
	case F_FLOAT: return wt == WT_I32 || wt == WT_LEN;
	case F_DOUBLE: return wt == WT_I64 || wt == WT_LEN;
	case F_NAME: case F_RAW: case F_SEGMENT: return wt == WT_LEN;
	}
	return true;
}

static int walk(const uint8_t *buf, size_t len, Scan *s, bool decode)
{
	Cursor c = {buf, buf, buf + len};
	int rc;
	while (c.p < c.end) {
		size_t at = offset(&c);
		uint64_t key, v;
		if ((rc = get_varint(&c, &key)))
			return rc;
		uint64_t field = key >> 3;
		int wt = (int)(key & 7);
		if (field == 0)
			return rt_fail(NNZRT_ERR_FORMAT, "field number 0 at byte %zu", at);
		if (field < N_FIELDS && !wire_type_ok((int)field, wt))
			return rt_fail(NNZRT_ERR_FORMAT, "field %d has wire type %d at byte %zu", (int)field, wt, at);
		/* compared as uint64_t: a huge field number must not alias the data field */
		if (decode && field != (uint64_t)s->data_field) {
			if ((rc = skip_field(&c, wt, field)))
				return rc;
			continue;
		}
		const uint8_t *start;
		size_t n;
		switch (field) {
		case F_DIMS: case F_INT32: case F_INT64: case F_UINT64:
			rc = varint_field(&c, wt, (int)field, s, decode);
			break;
		case F_FLOAT:
			rc = fixed_field(&c, wt, F_FLOAT, 4, s, decode);
			break;
		case F_DOUBLE:
			rc = fixed_field(&c, wt, F_DOUBLE, 8, s, decode);
			break;
		case F_DATA_TYPE:
			if ((rc = get_varint(&c, &v)) == 0)
				s->dtype = (int)(int32_t)v; /* int32 on the wire, sign-extended */
			break;
		case F_DATA_LOCATION:
			if ((rc = get_varint(&c, &v)) == 0 && v != 0)
				rc = rt_fail(NNZRT_ERR_UNSUPPORTED, "the data is in an external file");
			break;
		case F_SEGMENT:
			rc = rt_fail(NNZRT_ERR_UNSUPPORTED, "segmented tensors are not supported");
			break;
		case F_NAME:
			if ((rc = get_span(&c, &start, &n)) == 0) {
				n = n < sizeof s->name - 1 ? n : sizeof s->name - 1;
				memcpy(s->name, start, n);
				s->name[n] = '\0';
			}
			break;
		case F_RAW:
			/* a singular field given twice: the last one counts, as in protobuf */
			if ((rc = get_span(&c, &s->raw, &s->raw_len)) == 0)
				s->has_raw = true;
			break;
		default:
			rc = skip_field(&c, wt, field);
		}
		if (rc)
			return rc;
	}
	return NNZRT_OK;
}

/* The typed field ONNX prescribes for each dtype when raw_data is absent. */
static int data_field_of(int dtype)
{
	switch (dtype) {
	case NNZRT_FLOAT: return F_FLOAT;
	case NNZRT_DOUBLE: return F_DOUBLE;
	case NNZRT_INT64: return F_INT64;
	case NNZRT_UINT32: case NNZRT_UINT64: return F_UINT64;
	}
	return F_INT32;
}

static const char *field_name(int field)
{
	switch (field) {
	case F_FLOAT: return "float_data";
	case F_INT32: return "int32_data";
	case F_INT64: return "int64_data";
	case F_DOUBLE: return "double_data";
	case F_UINT64: return "uint64_data";
	}
	return "?";
}

static const int data_fields[] = {F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64};

static int parse(const void *buf, size_t len, nnzrt_tensor *t)
{
	Scan *s = rt_calloc(1, sizeof *s);
	if (s == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	int rc = walk(buf, len, s, false);
	if (rc)
		goto out;

	size_t elem = nnzrt_dtype_size(s->dtype);
	if (elem == 0) {
		if (s->dtype == 0)
			rc = rt_fail(NNZRT_ERR_FORMAT, "no data_type");
		else if (s->dtype == 8 || s->dtype == 14 || s->dtype == 15)
			rc = rt_fail(NNZRT_ERR_UNSUPPORTED, "%s tensors are not supported",
				s->dtype == 8 ? "string" : "complex");
		else
			rc = rt_fail(NNZRT_ERR_UNSUPPORTED, "data_type %d is not supported", s->dtype);
		goto out;
	}
	int64_t numel;
	size_t nbytes;
	if ((rc = count_bytes(s->rank, s->dims, elem, &numel, &nbytes)))
		goto out;
	int want = data_field_of(s->dtype);
	for (size_t i = 0; i < sizeof data_fields / sizeof *data_fields; i++) {
		int f = data_fields[i];
		if (s->count[f] == 0)
			continue;
		if (s->has_raw || f != want) {
			rc = rt_fail(NNZRT_ERR_FORMAT, "%s given for a %s tensor%s", field_name(f),
				nnzrt_dtype_name(s->dtype), s->has_raw ? " that has raw_data" : "");
			goto out;
		}
	}
	if (s->has_raw ? s->raw_len != nbytes : s->count[want] != (uint64_t)numel) {
		char shape[8 * 21 + 3] = "[", *q = shape + 1;
		for (int i = 0; i < s->rank; i++)
			q += sprintf(q, i ? ",%lld" : "%lld", (long long)s->dims[i]);
		strcpy(q, "]");
		if (s->has_raw)
			rc = rt_fail(NNZRT_ERR_SHAPE, "raw_data has %zu bytes, a %s%s tensor needs %zu",
				s->raw_len, nnzrt_dtype_name(s->dtype), shape, nbytes);
		else
			rc = rt_fail(NNZRT_ERR_SHAPE, "%s has %llu elements, a %s%s tensor needs %lld",
				field_name(want), (unsigned long long)s->count[want], nnzrt_dtype_name(s->dtype),
				shape, (long long)numel);
		goto out;
	}

	uint8_t *data = rt_malloc(nbytes ? nbytes : 1);
	if (data == NULL) {
		rc = rt_fail(NNZRT_ERR_NOMEM, "out of memory for %zu bytes of data", nbytes);
		goto out;
	}
	if (s->has_raw) {
		if (nbytes)
			memcpy(data, s->raw, nbytes);
	} else {
		s->data_field = want;
		s->out = data;
		s->elem = elem;
		rc = walk(buf, len, s, true);
		/* the first walk accepted the same bytes, so the second cannot fail */
		if (rc || s->done != (uint64_t)numel) {
			free(data);
			if (rc == 0)
				rc = rt_fail(NNZRT_ERR_FORMAT, "internal error: decoded %llu of %lld elements",
					(unsigned long long)s->done, (long long)numel);
			goto out;
		}
	}
	t->dtype = s->dtype;
	t->rank = s->rank;
	memcpy(t->dims, s->dims, sizeof t->dims);
	t->data = data;
	t->nbytes = nbytes;
	memcpy(t->name, s->name, sizeof t->name);
out:
	free(s);
	return rc;
}

int nnzrt_tensor_parse(const void *buf, size_t len, nnzrt_tensor *t)
{
	if (t == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_tensor_parse: tensor is NULL");
	memset(t, 0, sizeof *t);
	if (buf == NULL && len > 0)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_tensor_parse: buffer is NULL");
	return parse(len ? buf : "", len, t);
}

/* The whole file in a malloc'd buffer. Works on pipes too, hence no reliance on the size. */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return rt_fail(NNZRT_ERR_IO, "%s: %s", path, strerror(errno));
	size_t cap = 0, n = 0;
	uint8_t *b = NULL;
	int rc = NNZRT_OK;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			uint8_t *nb = ncap > cap ? rt_realloc(b, ncap) : NULL;
			if (nb == NULL) {
				rc = rt_fail(NNZRT_ERR_NOMEM, "%s: out of memory after %zu bytes", path, n);
				break;
			}
			b = nb;
			cap = ncap;
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				rc = rt_fail(NNZRT_ERR_IO, "%s: read error after %zu bytes", path, n);
			break;
		}
	}
	fclose(f);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return NNZRT_OK;
}

int nnzrt_tensor_read(const char *path, nnzrt_tensor *t)
{
	if (t == NULL || path == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_tensor_read: %s is NULL", t ? "path" : "tensor");
	memset(t, 0, sizeof *t);
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = slurp(path, &buf, &len);
	if (rc)
		return rc;
	rc = parse(buf, len, t);
	free(buf);
	if (rc) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", nnzrt_errmsg());
		rt_set_errmsg("%s: %s", path, msg);
	}
	return rc;
}

void nnzrt_tensor_free(nnzrt_tensor *t)
{
	if (t == NULL)
		return;
	free(t->data);
	memset(t, 0, sizeof *t);
}

/* ---------------------------------------------------------------- writing */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Everything but the data: at most 8 dims of 11 bytes, data_type, name and the raw_data key
 * and length. */
enum { HEADER_MAX = NNZRT_MAX_RANK * 11 + 11 + 2 + 128 + 11 };

static int write_file(const char *path, const uint8_t *head, size_t head_len, const void *data,
	size_t nbytes)
{
	size_t n = strlen(path);
	char *tmp = rt_malloc(n + 16);
	if (tmp == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "%s: out of memory", path);
	/* next to the destination, so that rename() is atomic (same file system) */
	snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(tmp);
		return rt_fail(NNZRT_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
			strerror(e));
	}
	fchmod(fd, 0644); /* mkstemp makes it 0600; tensors are not secrets */
	FILE *f = fdopen(fd, "wb");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		free(tmp);
		return rt_fail(NNZRT_ERR_IO, "%s: cannot open for writing", path);
	}
	int rc = NNZRT_OK;
	if (fwrite(head, 1, head_len, f) != head_len || (nbytes && fwrite(data, 1, nbytes, f) != nbytes)
	    || fflush(f) != 0)
		rc = rt_fail(NNZRT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
	if (fclose(f) != 0 && rc == NNZRT_OK)
		rc = rt_fail(NNZRT_ERR_IO, "%s: write failed: %s", path, strerror(errno));
	if (rc == NNZRT_OK && rename(tmp, path) != 0)
		rc = rt_fail(NNZRT_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int nnzrt_tensor_write(const char *path, const nnzrt_tensor *t)
{
	if (t == NULL || path == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_tensor_write: %s is NULL", t ? "path" : "tensor");
	size_t elem = nnzrt_dtype_size(t->dtype);
	if (elem == 0)
		return rt_fail(NNZRT_ERR_ARG, "%s: data type %d is not supported", path, t->dtype);
	if (t->rank < 0 || t->rank > NNZRT_MAX_RANK)
		return rt_fail(NNZRT_ERR_ARG, "%s: rank %d is not in 0..%d", path, t->rank, NNZRT_MAX_RANK);
	int64_t numel;
	size_t nbytes;
	int rc = count_bytes(t->rank, t->dims, elem, &numel, &nbytes);
	if (rc) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", nnzrt_errmsg());
		return rt_fail(rc, "%s: %s", path, msg);
	}
	if (nbytes != t->nbytes)
		return rt_fail(NNZRT_ERR_SHAPE, "%s: nbytes is %zu, the dims of a %s tensor need %zu", path,
			t->nbytes, nnzrt_dtype_name(t->dtype), nbytes);
	if (t->data == NULL && nbytes > 0)
		return rt_fail(NNZRT_ERR_ARG, "%s: data is NULL", path);
	size_t name_len = strnlen(t->name, sizeof t->name);
	if (name_len == sizeof t->name)
		return rt_fail(NNZRT_ERR_ARG, "%s: name is not NUL-terminated", path);

	/* fields in number order, as protobuf itself writes them; dims unpacked, as proto2 does
	 * for onnx.proto's unannotated repeated int64 */
	uint8_t head[HEADER_MAX], *p = head;
	for (int i = 0; i < t->rank; i++) {
		*p++ = F_DIMS << 3 | WT_VARINT;
		p = put_varint(p, (uint64_t)t->dims[i]);
	}
	*p++ = F_DATA_TYPE << 3 | WT_VARINT;
	p = put_varint(p, (uint64_t)t->dtype);
	if (name_len) {
		*p++ = F_NAME << 3 | WT_LEN;
		p = put_varint(p, name_len);
		memcpy(p, t->name, name_len);
		p += name_len;
	}
	*p++ = F_RAW << 3 | WT_LEN;
	p = put_varint(p, nbytes);
	return write_file(path, head, (size_t)(p - head), t->data, nbytes);
}
