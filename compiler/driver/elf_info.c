/* nnzc info on compiled artifacts (elf_info.h): find the metadata blobs of targets/cpu/artifact.h
 * in an ELF file's section ".nnzc.info" or after a weights file's payload, check them, print them
 * the way cmd_info.c prints a model.
 *
 * Every read goes through read_at, which checks the range against the file's size first; every
 * count and offset taken from the file is checked before it is used to size or index anything,
 * and the sizes of what is read into memory are capped. So a truncated, corrupt or hostile file
 * gives one error line. */
#include "elf_info.h"

#include "targets/cpu/artifact.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INFO_BYTES (UINT64_C(64) << 20)  /* a model's metadata is kilobytes */
#define MAX_SHSTRTAB (UINT64_C(16) << 20)
#define MAX_FIELDS 16

typedef struct File {
	FILE *f;
	const char *path;
	uint64_t size;
	Diag *d;
} File;

static int ferr(File *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ferr(File *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return diag_error(f->d, "%s: %s", f->path, msg);
}

static int read_at(File *f, uint64_t off, void *buf, uint64_t n, const char *what)
{
	if (off > f->size || n > f->size - off)
		return ferr(f, "truncated or corrupt: %s lies past the end of the file", what);
	if (n == 0)
		return 0;
	if (off > (uint64_t)INT64_MAX || fseeko(f->f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, f->f) != n)
		return ferr(f, "cannot read %s", what);
	return 0;
}

static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static int open_file(File *f, const char *path, Diag *d)
{
	f->path = path;
	f->d = d;
	f->f = fopen(path, "rb");
	if (f->f == NULL)
		return diag_error(d, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f->f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f->f);
		return diag_error(d, "%s: not a regular file", path);
	}
	f->size = (uint64_t)st.st_size;
	return 0;
}

ArtifactKind artifact_kind(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return ARTIFACT_NONE;
	unsigned char m[8] = {0};
	size_t n = fread(m, 1, sizeof m, f);
	fclose(f);
	if (n >= 4 && memcmp(m, "\177ELF", 4) == 0)
		return ARTIFACT_ELF;
	if (n >= 7 && memcmp(m, CPU_WEIGHTS_MAGIC, 7) == 0) /* any version: artifact_info says which */
		return ARTIFACT_WEIGHTS;
	return ARTIFACT_NONE;
}

/* ---------------------------------------------------------------- metadata text */

typedef struct Line {
	int n;
	char *f[MAX_FIELDS];
} Line;

typedef struct Meta {
	char *text; /* owns every field */
	Line *lines;
	int n_lines;
} Meta;

static void meta_free(Meta *m)
{
	free(m->text);
	free(m->lines);
	memset(m, 0, sizeof *m);
}

/* undo the writer's escapes in place */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '\\' && r[1]) {
			r++;
			*w++ = *r == 't' ? '\t' : *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int meta_parse(File *f, const unsigned char *text, uint64_t len, Meta *m)
{
	memset(m, 0, sizeof *m);
	if (memchr(text, '\0', len))
		return ferr(f, "corrupt metadata: it holds a NUL byte");
	m->text = malloc(len + 1);
	int cap = 1;
	for (uint64_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	m->lines = calloc((size_t)cap, sizeof *m->lines);
	if (!m->text || !m->lines) {
		meta_free(m);
		return ferr(f, "out of memory");
	}
	memcpy(m->text, text, len);
	m->text[len] = '\0';
	for (char *p = m->text; *p;) {
		char *end = strchr(p, '\n');
		if (end)
			*end = '\0';
		Line *l = &m->lines[m->n_lines];
		for (char *q = p;;) {
			if (l->n == MAX_FIELDS) {
				meta_free(m);
				return ferr(f, "corrupt metadata: a line has more than %d fields", MAX_FIELDS);
			}
			l->f[l->n++] = q;
			char *tab = strchr(q, '\t');
			if (tab == NULL)
				break;
			*tab = '\0';
			q = tab + 1;
		}
		for (int i = 0; i < l->n; i++)
			unescape(l->f[i]);
		if (l->n > 1 || l->f[0][0])
			m->n_lines++;
		else
			l->n = 0;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

/* the first line of that kind with at least `fields` fields, or NULL */
static const Line *find(const Meta *m, const char *kind, int fields)
{
	for (int i = 0; i < m->n_lines; i++)
		if (strcmp(m->lines[i].f[0], kind) == 0 && m->lines[i].n >= fields)
			return &m->lines[i];
	return NULL;
}

static bool num(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return false;
	*v = x;
	return true;
}

/* ---------------------------------------------------------------- printing */

static void print_features(const char *features, FILE *out)
{
	/* the vector extensions decide the kernels; the full list is in the metadata */
	static const char *const shown[] = {"+sse4.2", "+avx", "+avx2", "+fma", "+avx512f", "+avx512bw", "+avx512vl",
					    "+avx512vnni", "+avx512bf16", "+avx512fp16", "+amx-tile", NULL};
	int k = 0;
	for (int i = 0; shown[i]; i++) {
		const char *p = features;
		size_t n = strlen(shown[i]);
		while ((p = strstr(p, shown[i])) != NULL) {
			if (p[n] == ',' || p[n] == '\0') {
				fprintf(out, "%s%s", k++ ? " " : "", shown[i] + 1);
				break;
			}
			p += n;
		}
	}
	if (k == 0)
		fprintf(out, "baseline x86-64");
}

static int print_meta(File *f, const Meta *m, FILE *out)
{
	const Line *ver = find(m, "nnzc", 2), *model = find(m, "model", 2), *prefix = find(m, "prefix", 2);
	if (!ver || !model || !prefix)
		return ferr(f, "corrupt metadata: its nnzc, model or prefix line is missing");
	const Line *src = find(m, "source", 2), *target = find(m, "target", 4), *opt = find(m, "opt", 2);
	const Line *emit = find(m, "emit", 2), *ws = find(m, "workspace", 4), *code = find(m, "code", 3);
	const Line *weights = find(m, "weights", 3);
	fprintf(out, "model: %s", model->f[1]);
	if (src && src->f[1][0])
		fprintf(out, " (from %s)", src->f[1]);
	fprintf(out, "\ncompiled by: nnzc %s%s%s%s\n", ver->f[1], opt ? ", -O" : "", opt ? opt->f[1] : "",
		emit ? (strcmp(emit->f[1], "shared") == 0 ? ", --emit shared" : "") : "");
	fprintf(out, "entry points: %s_run, %s_run_with, ... (prefix %s)\n", prefix->f[1], prefix->f[1], prefix->f[1]);
	if (target) {
		fprintf(out, "target: %s, %s float lanes (", target->f[1], target->f[3]);
		print_features(target->f[2], out);
		fprintf(out, ")\n");
	}
	for (int k = 0; k < 2; k++) {
		fprintf(out, "%s:\n", k ? "outputs" : "inputs");
		for (int i = 0; i < m->n_lines; i++) {
			const Line *l = &m->lines[i];
			if (strcmp(l->f[0], k ? "output" : "input") != 0)
				continue;
			if (l->n < 4)
				return ferr(f, "corrupt metadata: a malformed %s line", l->f[0]);
			fprintf(out, "  %s: %s%s\n", l->f[1], l->f[2], l->f[3]);
		}
	}
	/* nodes by op, then the layers with weights, as for a model */
	int n_nodes = 0;
	for (int i = 0; i < m->n_lines; i++)
		if (strcmp(m->lines[i].f[0], "layer") == 0) {
			if (m->lines[i].n < 11)
				return ferr(f, "corrupt metadata: a malformed layer line");
			n_nodes++;
		}
	fprintf(out, "nodes: %d\n", n_nodes);
	for (int i = 0; i < m->n_lines; i++) {
		const Line *l = &m->lines[i];
		if (strcmp(l->f[0], "layer") != 0)
			continue;
		bool first = true;
		int count = 0;
		for (int j = 0; j < m->n_lines; j++) {
			const Line *o = &m->lines[j];
			if (strcmp(o->f[0], "layer") != 0 || strcmp(o->f[2], l->f[2]) != 0)
				continue;
			first &= j >= i;
			count++;
		}
		if (first)
			fprintf(out, "  %-24s %d\n", l->f[2], count);
	}
	fprintf(out, "layers with constant weights:\n");
	fprintf(out, "  %-32s %-16s %-18s %-10s %10s %8s %10s %-14s %s\n", "node", "op", "weight", "encoding", "elements",
		"density", "bytes", "kernel", "code shared with");
	int64_t total = 0, total_nnz = 0;
	for (int i = 0; i < m->n_lines; i++) {
		const Line *l = &m->lines[i];
		if (strcmp(l->f[0], "layer") != 0 || strcmp(l->f[4], "-") == 0)
			continue;
		int64_t elems, nnz, bytes;
		if (!num(l->f[6], &elems) || !num(l->f[7], &nnz) || !num(l->f[8], &bytes) || elems < 0 || nnz < 0)
			return ferr(f, "corrupt metadata: a layer line has a bad number");
		total += elems;
		total_nnz += nnz;
		/* the cost model's choice (field 11, since issue 5) beside the task kinds */
		char kernel[160];
		if (l->n >= 12 && strcmp(l->f[11], "-") != 0)
			snprintf(kernel, sizeof kernel, "%s [%s]", l->f[9], l->f[11]);
		else
			snprintf(kernel, sizeof kernel, "%s", l->f[9]);
		fprintf(out, "  %-32s %-16s %-18s %-10s %10" PRId64 " %7.1f%% %10" PRId64 " %-14s %s\n", l->f[1], l->f[2], l->f[4],
			l->f[5], elems, elems > 0 ? 100.0 * (double)nnz / (double)elems : 0.0, bytes, kernel,
			strcmp(l->f[10], "-") ? l->f[10] : "");
	}
	fprintf(out, "weights in layers: %" PRId64 " elements, %" PRId64 " non-zero (%.1f%%)\n", total, total_nnz,
		total > 0 ? 100.0 * (double)total_nnz / (double)total : 0.0);
	if (weights && strcmp(weights->f[1], "file") == 0 && weights->n >= 5)
		fprintf(out, "weights: %s bytes in the weights file %s (fingerprint %s)\n", weights->f[3], weights->f[2],
			weights->f[4]);
	else if (weights)
		fprintf(out, "weights: %s bytes in the object\n", weights->f[2]);
	if (code)
		fprintf(out, "code: %s tasks in %s distinct functions\n", code->f[1], code->f[2]);
	const Line *cost = find(m, "cost", 4);
	if (cost)
		fprintf(out, "kernels: %s, cost model %s (%s thread%s)\n", cost->f[3], cost->f[1], cost->f[2],
			strcmp(cost->f[2], "1") ? "s" : "");
	if (ws)
		fprintf(out, "activation memory: %s buffers in a %s-byte workspace (%s bytes without reuse)\n", ws->f[3],
			ws->f[1], ws->f[2]);
	return 0;
}

/* Every blob in p[0..n): header, text, zeros to a multiple of 8; zero padding between blobs
 * (where a linker aligned them) is skipped. Returns the number printed, or -1. */
static int print_blobs(File *f, const unsigned char *p, uint64_t n, FILE *out, Meta *last)
{
	int count = 0;
	uint64_t at = 0;
	while (at < n) {
		if (n - at >= 8 && memcmp(p + at, "\0\0\0\0\0\0\0\0", 8) == 0) {
			at += 8;
			continue;
		}
		if (n - at < CPU_INFO_HEADER || memcmp(p + at, CPU_INFO_MAGIC, 8) != 0)
			return ferr(f, "corrupt metadata: no blob header at byte %" PRIu64 " of %s", at, CPU_INFO_SECTION);
		uint32_t version = cpu_get_u32(p + at + 8), len = cpu_get_u32(p + at + 12);
		if (version != CPU_INFO_VERSION)
			return ferr(f, "metadata version %u (this nnzc reads version %d)", version, CPU_INFO_VERSION);
		if (len > n - at - CPU_INFO_HEADER)
			return ferr(f, "corrupt metadata: a blob of %u bytes overruns its section", len);
		Meta m;
		if (meta_parse(f, p + at + CPU_INFO_HEADER, len, &m) < 0)
			return -1;
		if (count)
			fprintf(out, "\n");
		int rc = print_meta(f, &m, out);
		if (rc < 0) {
			meta_free(&m);
			return -1;
		}
		if (last) {
			meta_free(last);
			*last = m;
		} else {
			meta_free(&m);
		}
		count++;
		uint64_t step = ((uint64_t)CPU_INFO_HEADER + len + 7) / 8 * 8;
		at = step > n - at ? n : at + step;
	}
	return count;
}

/* ---------------------------------------------------------------- ELF */

/* The section header i (64 bytes) of a table at shoff with entries of entsize bytes. */
static int section_header(File *f, uint64_t shoff, uint64_t entsize, uint64_t i, unsigned char sh[64])
{
	char what[64];
	snprintf(what, sizeof what, "section header %" PRIu64, i);
	return read_at(f, shoff + i * entsize, sh, 64, what);
}

static int elf_info(File *f, FILE *out)
{
	unsigned char eh[64];
	if (f->size < sizeof eh)
		return ferr(f, "truncated ELF file (%" PRIu64 " bytes)", f->size);
	if (read_at(f, 0, eh, sizeof eh, "the ELF header") < 0)
		return -1;
	if (eh[4] != 2)
		return ferr(f, "not a 64-bit ELF file (nnzc writes x86-64 objects)");
	if (eh[5] != 1)
		return ferr(f, "not a little-endian ELF file");
	uint16_t type = get_u16(eh + 0x10);
	uint64_t shoff = cpu_get_u64(eh + 0x28), entsize = get_u16(eh + 0x3a);
	uint64_t nsec = get_u16(eh + 0x3c), strndx = get_u16(eh + 0x3e);
	if (shoff == 0)
		return ferr(f, "an ELF file without a section table: no nnzc metadata");
	if (entsize < 64)
		return ferr(f, "corrupt ELF file: section headers of %" PRIu64 " bytes", entsize);
	if (shoff > f->size)
		return ferr(f, "truncated or corrupt: the section table lies past the end of the file");
	unsigned char sh[64];
	if (nsec == 0 || strndx == 0xffff) { /* extended numbering: the real values are in section 0 */
		if (section_header(f, shoff, entsize, 0, sh) < 0)
			return -1;
		if (nsec == 0)
			nsec = cpu_get_u64(sh + 32);
		if (strndx == 0xffff)
			strndx = cpu_get_u32(sh + 40);
	}
	if (nsec == 0)
		return ferr(f, "an ELF file without sections: no nnzc metadata");
	if (nsec > (f->size - shoff) / entsize)
		return ferr(f, "truncated or corrupt: %" PRIu64 " section headers do not fit in the file", nsec);
	if (strndx >= nsec)
		return ferr(f, "corrupt ELF file: section name table index %" PRIu64 " of %" PRIu64 " sections", strndx, nsec);
	if (section_header(f, shoff, entsize, strndx, sh) < 0)
		return -1;
	uint64_t str_off = cpu_get_u64(sh + 24), str_size = cpu_get_u64(sh + 32);
	if (cpu_get_u32(sh + 4) == 8 /* SHT_NOBITS */ || str_size > MAX_SHSTRTAB)
		return ferr(f, "corrupt ELF file: a section name table of %" PRIu64 " bytes", str_size);
	char *names = malloc(str_size + 1);
	if (names == NULL)
		return ferr(f, "out of memory");
	if (read_at(f, str_off, names, str_size, "the section name table") < 0) {
		free(names);
		return -1;
	}
	names[str_size] = '\0';
	static const char *const kinds[] = {"ELF file", "relocatable object", "executable", "shared object"};
	fprintf(out, "artifact: %s (%s)\n", f->path, type <= 3 ? kinds[type] : kinds[0]);
	int found = 0, rc = 0;
	for (uint64_t i = 0; i < nsec && rc == 0; i++) {
		if ((rc = section_header(f, shoff, entsize, i, sh)) < 0)
			break;
		uint32_t name = cpu_get_u32(sh + 0);
		if (name >= str_size) {
			rc = ferr(f, "corrupt ELF file: section %" PRIu64 " has a name outside the name table", i);
			break;
		}
		if (strcmp(names + name, CPU_INFO_SECTION) != 0)
			continue;
		uint64_t off = cpu_get_u64(sh + 24), size = cpu_get_u64(sh + 32);
		if (cpu_get_u32(sh + 4) == 8 || size > MAX_INFO_BYTES) {
			rc = ferr(f, "corrupt metadata: section %s of %" PRIu64 " bytes", CPU_INFO_SECTION, size);
			break;
		}
		unsigned char *p = malloc(size ? size : 1);
		if (p == NULL) {
			rc = ferr(f, "out of memory");
			break;
		}
		if ((rc = read_at(f, off, p, size, "section " CPU_INFO_SECTION)) == 0) {
			if (found)
				fprintf(out, "\n");
			int n = print_blobs(f, p, size, out, NULL);
			if (n < 0)
				rc = -1;
			found += n > 0 ? n : 0;
		}
		free(p);
	}
	free(names);
	if (rc == 0 && found == 0)
		rc = ferr(f, "no nnzc metadata (section %s): not compiled by nnzc --target cpu, or stripped of it",
			  CPU_INFO_SECTION);
	return rc;
}

/* ---------------------------------------------------------------- weights file */

static int weights_info(File *f, FILE *out)
{
	unsigned char h[CPU_WEIGHTS_HEADER];
	if (f->size < sizeof h)
		return ferr(f, "truncated weights file (%" PRIu64 " bytes)", f->size);
	if (read_at(f, 0, h, sizeof h, "the weights header") < 0)
		return -1;
	if (memcmp(h, CPU_WEIGHTS_MAGIC, 8) != 0 || cpu_get_u32(h + 8) != CPU_WEIGHTS_VERSION)
		return ferr(f, "a weights file of another format version (this nnzc reads %s version %d)", CPU_WEIGHTS_MAGIC,
			    CPU_WEIGHTS_VERSION);
	uint64_t head = cpu_get_u32(h + 12), payload = cpu_get_u64(h + 16), fp = cpu_get_u64(h + 24);
	uint64_t meta_off = cpu_get_u64(h + 32), meta_n = cpu_get_u64(h + 40);
	if (head != CPU_WEIGHTS_HEADER || payload % CPU_WEIGHTS_ALIGN != 0 || payload > f->size - head ||
	    meta_off != head + payload || meta_n > f->size - meta_off || meta_off + meta_n != f->size)
		return ferr(f, "truncated or corrupt: the header's sizes do not add up to the file's %" PRIu64 " bytes", f->size);
	if (meta_n > MAX_INFO_BYTES)
		return ferr(f, "corrupt metadata: %" PRIu64 " bytes", meta_n);
	/* the checksum first: what follows describes weights worth trusting */
	unsigned char *buf = malloc(1 << 20);
	if (buf == NULL)
		return ferr(f, "out of memory");
	CpuHash ch;
	cpu_hash_init(&ch);
	for (uint64_t at = 0; at < payload;) { /* chunks of whole blocks: the payload is too */
		uint64_t n = payload - at < (1 << 20) ? payload - at : (1 << 20);
		if (read_at(f, head + at, buf, n, "the payload") < 0) {
			free(buf);
			return -1;
		}
		cpu_hash_blocks(&ch, buf, n);
		at += n;
	}
	free(buf);
	uint64_t hash = cpu_hash_final(&ch);
	if (hash != fp)
		return ferr(f, "corrupt: the weights' checksum %016" PRIx64 " differs from the header's %016" PRIx64, hash, fp);
	unsigned char *p = malloc(meta_n ? meta_n : 1);
	if (p == NULL)
		return ferr(f, "out of memory");
	if (read_at(f, meta_off, p, meta_n, "the metadata") < 0) {
		free(p);
		return -1;
	}
	fprintf(out, "artifact: %s (nnzc weights file: %" PRIu64 " bytes of weights, fingerprint %016" PRIx64
		     ", checksum ok)\n", f->path, payload, fp);
	Meta m = {0};
	int n = print_blobs(f, p, meta_n, out, &m);
	free(p);
	int rc = 0;
	const Line *w = n == 1 ? find(&m, "weights", 5) : NULL;
	char want[32];
	snprintf(want, sizeof want, "%016" PRIx64, fp);
	if (n >= 0 && n != 1)
		rc = ferr(f, "corrupt metadata: %d descriptions of the model instead of one", n);
	else if (n == 1 && (w == NULL || strcmp(w->f[1], "file") != 0 || strcmp(w->f[4], want) != 0))
		rc = ferr(f, "corrupt metadata: it does not describe these weights");
	meta_free(&m);
	return n < 0 ? -1 : rc;
}

int artifact_info(const char *path, FILE *out, Diag *d)
{
	File f;
	if (open_file(&f, path, d) < 0)
		return -1;
	/* printed to memory first: a file found corrupt halfway gives its error line only */
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (mem == NULL) {
		fclose(f.f);
		return diag_error(d, "out of memory");
	}
	unsigned char m[8] = {0};
	int rc = read_at(&f, 0, m, f.size < 8 ? f.size : 8, "the first bytes");
	if (rc == 0)
		rc = f.size >= 4 && memcmp(m, "\177ELF", 4) == 0 ? elf_info(&f, mem) : weights_info(&f, mem);
	fclose(f.f);
	if (fclose(mem) != 0 && rc == 0)
		rc = diag_error(d, "out of memory");
	if (rc == 0)
		fwrite(text, 1, len, out);
	free(text);
	return rc;
}
