/* Files for the ONNX frontend and writer: whole-file reads, a wire-format check
 * run before protobuf-c, and external-data files confined to the model's folder. */
#define _XOPEN_SOURCE 700 /* realpath() is XSI, not in the POSIX base the build asks for */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int onnx_read_file(const char *path, uint8_t **buf, size_t *len, Diag *d)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return diag_error(d, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return diag_error(d, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return diag_error(d, "%s: file is empty", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX / 2) {
		close(fd);
		return diag_error(d, "%s: file too large", path);
	}
	size_t n = (size_t)st.st_size;
	uint8_t *p = malloc(n);
	if (p == NULL) {
		close(fd);
		return diag_error(d, "%s: cannot allocate %zu bytes to read it", path, n);
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			free(p);
			close(fd);
			return diag_error(d, "%s: read failed: %s", path, e ? strerror(e) : "file shrank while reading");
		}
		got += (size_t)r;
	}
	close(fd);
	*buf = p;
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- wire-format check */

static bool read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*i >= len)
			return false;
		uint8_t b = p[(*i)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*out = v;
			return true;
		}
	}
	return false;
}

static bool wire_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth)
{
	if (depth > ONNX_MAX_DEPTH)
		return false;
	size_t i = 0;
	while (i < len) {
		uint64_t key, v;
		if (!read_varint(p, len, &i, &key))
			return false;
		uint64_t tag = key >> 3;
		if (tag == 0 || tag > 0x1fffffff)
			return false;
		switch (key & 7) {
		case 0:
			if (!read_varint(p, len, &i, &v))
				return false;
			break;
		case 1:
			if (len - i < 8)
				return false;
			i += 8;
			break;
		case 5:
			if (len - i < 4)
				return false;
			i += 4;
			break;
		case 2: {
			if (!read_varint(p, len, &i, &v) || v > len - i)
				return false;
			const ProtobufCFieldDescriptor *f =
				desc ? protobuf_c_message_descriptor_get_field(desc, (unsigned)tag) : NULL;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    !wire_ok(f->descriptor, p + i, (size_t)v, depth + 1))
				return false;
			i += (size_t)v;
			break;
		}
		default: /* groups (3, 4) do not occur in onnx.proto; 6, 7 are invalid */
			return false;
		}
	}
	return true;
}

bool onnx_wire_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
	return wire_ok(desc, buf, len, 0);
}

/* ---------------------------------------------------------------- paths */

char *onnx_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *r;
	if (slash == NULL) {
		r = malloc(2);
		if (r)
			memcpy(r, ".", 2);
		return r;
	}
	size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/m.onnx" -> "/" */
	r = malloc(n + 1);
	if (r) {
		memcpy(r, path, n);
		r[n] = '\0';
	}
	return r;
}

/* true if some '/'-separated component of s is ".." */
static bool has_dotdot(const char *s)
{
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

int onnx_open_external(const char *dir, const char *location, const char *tensor, int64_t *size, Diag *d)
{
	if (location == NULL || location[0] == '\0')
		return diag_error(d, "%s: external data without a location", tensor);
	if (location[0] == '/')
		return diag_error(d, "%s: external data file '%s' is an absolute path; only files inside the model's folder are read",
				  tensor, location);
	if (has_dotdot(location))
		return diag_error(d, "%s: external data file '%s' contains '..'; only files inside the model's folder are read",
				  tensor, location);
	size_t dl = strlen(dir), ll = strlen(location);
	char *joined = malloc(dl + ll + 2);
	char *real_dir = realpath(dir, NULL);
	char *real_file = NULL;
	int fd = -1;
	if (joined == NULL || real_dir == NULL) {
		diag_error(d, "%s: cannot resolve the model folder '%s': %s", tensor, dir,
			   joined ? strerror(errno) : "out of memory");
		goto out;
	}
	memcpy(joined, dir, dl);
	joined[dl] = '/';
	memcpy(joined + dl + 1, location, ll + 1);
	real_file = realpath(joined, NULL);
	if (real_file == NULL) {
		diag_error(d, "%s: cannot open external data file '%s': %s", tensor, location, strerror(errno));
		goto out;
	}
	/* symlinks may point anywhere: what counts is where the file really is */
	size_t rl = strlen(real_dir);
	bool inside = strcmp(real_dir, "/") == 0 ? real_file[0] == '/'
						   : strncmp(real_file, real_dir, rl) == 0 && real_file[rl] == '/';
	if (!inside) {
		diag_error(d, "%s: external data file '%s' resolves to '%s', outside the model's folder", tensor, location,
			   real_file);
		goto out;
	}
	fd = open(real_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0) {
		diag_error(d, "%s: cannot open external data file '%s': %s", tensor, location, strerror(errno));
	} else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diag_error(d, "%s: external data file '%s' is not a regular file", tensor, location);
		close(fd);
		fd = -1;
	} else {
		*size = (int64_t)st.st_size;
	}
out:
	free(joined);
	free(real_dir);
	free(real_file);
	return fd;
}
