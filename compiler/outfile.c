/* Output files appear whole or not at all: data goes to a temporary file in the destination's
 * folder (so rename is atomic) and is renamed over the destination only on success. */
#include "nnzc/ir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int outfile_open(OutFile *o, const char *path, Diag *d)
{
	memset(o, 0, sizeof *o);
	size_t n = strlen(path);
	o->final_path = malloc(n + 1);
	o->tmp_path = malloc(n + 16);
	if (!o->final_path || !o->tmp_path) {
		outfile_abort(o);
		return diag_error(d, "out of memory");
	}
	memcpy(o->final_path, path, n + 1);
	snprintf(o->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(o->tmp_path);
	if (fd < 0) {
		int e = errno;
		free(o->tmp_path);
		o->tmp_path = NULL;
		outfile_abort(o);
		return diag_error(d, "%s: cannot create a temporary file next to it: %s", path, strerror(e));
	}
	fchmod(fd, 0644); /* mkstemp makes it 0600; outputs are not secrets */
	o->f = fdopen(fd, "wb");
	if (o->f == NULL) {
		close(fd);
		outfile_abort(o);
		return diag_error(d, "%s: cannot open for writing", path);
	}
	return 0;
}

int outfile_commit(OutFile *o, Diag *d)
{
	int rc = 0;
	if (ferror(o->f) || fflush(o->f) != 0) {
		rc = diag_error(d, "%s: write failed: %s", o->final_path, strerror(errno));
	}
	if (fclose(o->f) != 0 && rc == 0)
		rc = diag_error(d, "%s: write failed: %s", o->final_path, strerror(errno));
	o->f = NULL;
	if (rc == 0 && rename(o->tmp_path, o->final_path) != 0)
		rc = diag_error(d, "%s: cannot rename into place: %s", o->final_path, strerror(errno));
	if (rc < 0)
		unlink(o->tmp_path);
	free(o->tmp_path);
	free(o->final_path);
	o->tmp_path = o->final_path = NULL;
	return rc;
}

void outfile_abort(OutFile *o)
{
	if (o->f)
		fclose(o->f);
	if (o->tmp_path)
		unlink(o->tmp_path);
	free(o->tmp_path);
	free(o->final_path);
	memset(o, 0, sizeof *o);
}

int outfile_write_all(const char *path, const void *buf, size_t len, Diag *d)
{
	OutFile o;
	if (outfile_open(&o, path, d) < 0)
		return -1;
	if (len && fwrite(buf, 1, len, o.f) != len) {
		outfile_abort(&o);
		return diag_error(d, "%s: write failed", path);
	}
	return outfile_commit(&o, d);
}
