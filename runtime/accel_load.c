/* The .nnza loader: validates a container completely before anything uses it, then answers
 * queries and prints it as text (the disassembler).
 *
 * The input is untrusted. Every read is bounds-checked against the bytes present, every size
 * and count is checked before it is multiplied or allocated (allocations never exceed a small
 * multiple of the file's own size), and every instruction is decoded and validated against the
 * embedded config and the program's DRAM spaces, so that an executor can run a loaded program
 * without checks of its own beyond data-dependent ones (index values read from buffers). The
 * layout is drawn in accel_internal.h; the I/O and layer records are:
 *
 *   IO      u32 count, u32 0, then per tensor: u8 is_output, u8 dtype, u8 rank, u8 0,
 *           u32 name_len, u64 arena offset, u64 dims[rank], name, zero padding to 8 bytes
 *   LAYERS  u32 count, u32 0, then per layer: u32 first, u32 count, u32 name_len, u32 op_len,
 *           name, op, zero padding to 8 bytes
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "accel_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const sec_names[ACCEL_SEC_COUNT] = {"?", "config", "code", "const", "io", "layers"};

struct nnzrt_accel_program {
	uint16_t major, minor;
	uint64_t file_size, fingerprint, arena_words;
	uint32_t file_crc;
	struct {
		uint64_t offset, size;
		uint32_t crc;
	} sec[ACCEL_SEC_COUNT];
	nnzrt_accel_config cfg;
	char *config_text; /* canonical, NUL-terminated */
	uint32_t n_insns;
	uint32_t *code;    /* n_insns * 8 words */
	uint64_t n_consts;
	uint32_t *consts;
	int n_io, n_layers;
	nnzrt_accel_io *io;
	nnzrt_accel_layer *layers;
	char *strings;     /* the names, NUL-terminated, that io and layers point into */
};

#define BAD(...) rt_fail(NNZRT_ERR_FORMAT, __VA_ARGS__)

void nnzrt_accel_free(nnzrt_accel_program *p)
{
	if (p == NULL)
		return;
	free(p->config_text);
	free(p->code);
	free(p->consts);
	free(p->io);
	free(p->layers);
	free(p->strings);
	free(p);
}

/* ---------------------------------------------------------------- sections */

static int check_header(const unsigned char *b, size_t len, nnzrt_accel_program *p)
{
	if (len < ACCEL_HEADER_SIZE)
		return BAD("%zu bytes: too short for a .nnza header (%d bytes)", len, ACCEL_HEADER_SIZE);
	if (memcmp(b, ACCEL_MAGIC, 4) != 0)
		return BAD("not a .nnza file (bad magic)");
	p->major = (uint16_t)(b[4] | b[5] << 8);
	p->minor = (uint16_t)(b[6] | b[7] << 8);
	if (p->major != ACCEL_VERSION_MAJOR || p->minor > ACCEL_VERSION_MINOR)
		return BAD(".nnza version %u.%u: this runtime reads %d.0 to %d.%d", p->major, p->minor, ACCEL_VERSION_MAJOR,
			   ACCEL_VERSION_MAJOR, ACCEL_VERSION_MINOR);
	if (accel_rd32(b + 8) != 0)
		return BAD("header flags 0x%x: none are defined", accel_rd32(b + 8));
	if (accel_rd32(b + 12) != ACCEL_HEADER_SIZE)
		return BAD("header size %u, expected %d", accel_rd32(b + 12), ACCEL_HEADER_SIZE);
	p->file_size = accel_rd64(b + 16);
	if (p->file_size != len)
		return BAD("header says %llu bytes, the file has %zu (truncated or padded)", (unsigned long long)p->file_size,
			   len);
	p->fingerprint = accel_rd64(b + 24);
	p->arena_words = accel_rd64(b + 32);
	if (p->arena_words > (1ull << 32))
		return BAD("arena of %llu words: DRAM addresses are 32-bit words", (unsigned long long)p->arena_words);
	if (accel_rd32(b + 40) != ACCEL_SEC_COUNT - 1)
		return BAD("%u sections, expected %d", accel_rd32(b + 40), ACCEL_SEC_COUNT - 1);
	for (int i = 48; i < ACCEL_HEADER_SIZE; i++)
		if (b[i])
			return BAD("reserved header byte %d is not zero", i);
	p->file_crc = accel_rd32(b + 44);
	uint32_t crc = accel_crc32(0, b, 44);
	crc = accel_crc32(crc, "\0\0\0\0", 4);
	crc = accel_crc32(crc, b + 48, len - 48);
	if (crc != p->file_crc)
		return BAD("file checksum mismatch (header 0x%08x, contents 0x%08x): the file is corrupt", p->file_crc, crc);
	return 0;
}

static int check_sections(const unsigned char *b, size_t len, nnzrt_accel_program *p)
{
	uint64_t table_end = ACCEL_HEADER_SIZE + (uint64_t)(ACCEL_SEC_COUNT - 1) * ACCEL_SECTION_ENTRY;
	if (table_end > len)
		return BAD("%zu bytes: too short for the section table", len);
	uint64_t end = table_end;
	for (int k = 1; k < ACCEL_SEC_COUNT; k++) {
		const unsigned char *e = b + ACCEL_HEADER_SIZE + (size_t)(k - 1) * ACCEL_SECTION_ENTRY;
		if (accel_rd32(e) != (uint32_t)k)
			return BAD("section %d has kind %u, expected %d (%s)", k - 1, accel_rd32(e), k, sec_names[k]);
		if (accel_rd32(e + 4) != 0 || accel_rd32(e + 28) != 0)
			return BAD("section %s: flags or reserved field not zero", sec_names[k]);
		uint64_t off = accel_rd64(e + 8), size = accel_rd64(e + 16);
		uint64_t want = (end + ACCEL_ALIGN - 1) / ACCEL_ALIGN * ACCEL_ALIGN;
		if (off != want)
			return BAD("section %s at offset %llu, expected %llu (sections follow each other, 16-aligned)",
				   sec_names[k], (unsigned long long)off, (unsigned long long)want);
		if (off > len || size > len - off)
			return BAD("section %s (%llu bytes at %llu) runs past the end of the file (%zu bytes)", sec_names[k],
				   (unsigned long long)size, (unsigned long long)off, len);
		for (uint64_t i = end; i < off; i++)
			if (b[i])
				return BAD("padding byte %llu before section %s is not zero", (unsigned long long)i, sec_names[k]);
		uint32_t crc = accel_rd32(e + 24);
		if (accel_crc32(0, b + off, (size_t)size) != crc)
			return BAD("section %s: checksum mismatch: the file is corrupt", sec_names[k]);
		p->sec[k].offset = off;
		p->sec[k].size = size;
		p->sec[k].crc = crc;
		end = off + size;
	}
	if (end != len)
		return BAD("%llu bytes after the last section", (unsigned long long)(len - end));
	return 0;
}

static int load_config(const unsigned char *b, nnzrt_accel_program *p)
{
	const char *t = (const char *)b + p->sec[ACCEL_SEC_CONFIG].offset;
	size_t n = (size_t)p->sec[ACCEL_SEC_CONFIG].size;
	if (n > ACCEL_MAX_CONFIG_TEXT)
		return BAD("config section of %zu bytes: longer than %d", n, ACCEL_MAX_CONFIG_TEXT);
	if (accel_fnv1a64(t, n) != p->fingerprint)
		return BAD("config fingerprint mismatch: the header's 0x%016llx is not the hash of the embedded config",
			   (unsigned long long)p->fingerprint);
	if (nnzrt_accel_config_parse(t, n, "embedded config", &p->cfg) != 0)
		return NNZRT_ERR_FORMAT; /* message already set */
	size_t need = nnzrt_accel_config_print(&p->cfg, NULL, 0);
	p->config_text = rt_malloc(need + 1);
	if (p->config_text == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	nnzrt_accel_config_print(&p->cfg, p->config_text, need + 1);
	if (need != n || memcmp(p->config_text, t, n) != 0)
		return BAD("embedded config is not in canonical form");
	return 0;
}

static int load_words(const unsigned char *b, nnzrt_accel_program *p)
{
	uint64_t size = p->sec[ACCEL_SEC_CONST].size;
	if (size % 4)
		return BAD("const section of %llu bytes: not whole 32-bit words", (unsigned long long)size);
	p->n_consts = size / 4;
	if (p->n_consts > (1ull << 32))
		return BAD("const section of %llu words: DRAM addresses are 32-bit words", (unsigned long long)p->n_consts);
	p->consts = rt_malloc(p->n_consts ? (size_t)size : 4);
	if (p->consts == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory for %llu constant words", (unsigned long long)p->n_consts);
	const unsigned char *c = b + p->sec[ACCEL_SEC_CONST].offset;
	for (uint64_t i = 0; i < p->n_consts; i++)
		p->consts[i] = accel_rd32(c + 4 * i);

	size = p->sec[ACCEL_SEC_CODE].size;
	if (size % ACCEL_INSN_BYTES || size == 0)
		return BAD("code section of %llu bytes: not a non-empty sequence of %d-byte instructions",
			   (unsigned long long)size, ACCEL_INSN_BYTES);
	if (size / ACCEL_INSN_BYTES > UINT32_MAX)
		return BAD("more than 2^32 - 1 instructions");
	p->n_insns = (uint32_t)(size / ACCEL_INSN_BYTES);
	p->code = rt_malloc((size_t)size);
	if (p->code == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory for %u instructions", p->n_insns);
	c = b + p->sec[ACCEL_SEC_CODE].offset;
	for (uint64_t i = 0; i < size / 4; i++)
		p->code[i] = accel_rd32(c + 4 * i);
	return 0;
}

/* A cursor over a record section. */
typedef struct Cur {
	const unsigned char *p;
	uint64_t left;
	const char *sec;
} Cur;

static int take(Cur *c, uint64_t n, const unsigned char **out)
{
	if (n > c->left)
		return BAD("section %s: record runs past the end of the section", c->sec);
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

static int take_pad(Cur *c, uint64_t used)
{
	uint64_t pad = (8 - used % 8) % 8;
	const unsigned char *z;
	if (take(c, pad, &z))
		return NNZRT_ERR_FORMAT;
	for (uint64_t i = 0; i < pad; i++)
		if (z[i])
			return BAD("section %s: padding is not zero", c->sec);
	return 0;
}

/* names: non-empty, no NUL, at most ACCEL_MAX_NAME bytes; copied into the strings arena */
static int take_name(Cur *c, uint32_t len, char **arena, const char **out)
{
	const unsigned char *s;
	if (len == 0 || len > ACCEL_MAX_NAME)
		return BAD("section %s: name of %u bytes (1 to %d)", c->sec, len, ACCEL_MAX_NAME);
	if (take(c, len, &s))
		return NNZRT_ERR_FORMAT;
	if (memchr(s, '\0', len))
		return BAD("section %s: name contains a NUL byte", c->sec);
	memcpy(*arena, s, len);
	(*arena)[len] = '\0';
	*out = *arena;
	*arena += len + 1;
	return 0;
}

static int load_io(const unsigned char *b, nnzrt_accel_program *p, char **arena)
{
	Cur c = {b + p->sec[ACCEL_SEC_IO].offset, p->sec[ACCEL_SEC_IO].size, "io"};
	const unsigned char *h;
	if (take(&c, 8, &h))
		return NNZRT_ERR_FORMAT;
	uint32_t n = accel_rd32(h);
	if (accel_rd32(h + 4))
		return BAD("section io: reserved field not zero");
	/* a record takes at least 24 bytes: n is bounded by the section size before allocating */
	if (n > ACCEL_MAX_IO || (uint64_t)n * 24 > c.left)
		return BAD("section io: %u tensors do not fit in %llu bytes", n, (unsigned long long)c.left);
	p->io = rt_calloc(n ? n : 1, sizeof *p->io);
	if (p->io == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		nnzrt_accel_io *t = &p->io[i];
		if (take(&c, 16, &h))
			return NNZRT_ERR_FORMAT;
		if (h[0] > 1 || h[3])
			return BAD("section io: tensor %u: kind %u (0 input, 1 output) or reserved byte", i, h[0]);
		t->is_output = h[0];
		t->dtype = h[1];
		t->rank = h[2];
		if (t->dtype != NNZRT_FLOAT)
			return BAD("section io: tensor %u: dtype %d (the accelerator's I/O is f32)", i, t->dtype);
		if (t->rank > NNZRT_MAX_RANK)
			return BAD("section io: tensor %u: rank %d above %d", i, t->rank, NNZRT_MAX_RANK);
		uint32_t name_len = accel_rd32(h + 4);
		t->offset = accel_rd64(h + 8);
		uint64_t numel = 1;
		for (int d = 0; d < t->rank; d++) {
			const unsigned char *x;
			if (take(&c, 8, &x))
				return NNZRT_ERR_FORMAT;
			uint64_t v = accel_rd64(x);
			if (v > INT64_MAX)
				return BAD("section io: tensor %u: dim %d is negative", i, d);
			t->dims[d] = (int64_t)v;
			if (v && numel > UINT64_MAX / v)
				return BAD("section io: tensor %u: element count overflows", i);
			numel *= v;
		}
		if (take_name(&c, name_len, arena, &t->name) || take_pad(&c, 16 + 8 * (uint64_t)t->rank + name_len))
			return NNZRT_ERR_FORMAT;
		if (t->offset > p->arena_words || numel > p->arena_words - t->offset)
			return BAD("io '%s': %llu words at arena offset %llu exceed the arena (%llu words)", t->name,
				   (unsigned long long)numel, (unsigned long long)t->offset, (unsigned long long)p->arena_words);
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(p->io[j].name, t->name) == 0)
				return BAD("io '%s' is declared twice", t->name);
	}
	if (c.left)
		return BAD("section io: %llu bytes after the last tensor", (unsigned long long)c.left);
	p->n_io = (int)n;
	return 0;
}

static int load_layers(const unsigned char *b, nnzrt_accel_program *p, char **arena)
{
	Cur c = {b + p->sec[ACCEL_SEC_LAYERS].offset, p->sec[ACCEL_SEC_LAYERS].size, "layers"};
	const unsigned char *h;
	if (take(&c, 8, &h))
		return NNZRT_ERR_FORMAT;
	uint32_t n = accel_rd32(h);
	if (accel_rd32(h + 4))
		return BAD("section layers: reserved field not zero");
	if (n > ACCEL_MAX_LAYERS || (uint64_t)n * 24 > c.left)
		return BAD("section layers: %u layers do not fit in %llu bytes", n, (unsigned long long)c.left);
	p->layers = rt_calloc(n ? n : 1, sizeof *p->layers);
	if (p->layers == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	uint64_t next = 0; /* layers are in order and do not overlap */
	for (uint32_t i = 0; i < n; i++) {
		nnzrt_accel_layer *l = &p->layers[i];
		if (take(&c, 16, &h))
			return NNZRT_ERR_FORMAT;
		l->first = accel_rd32(h);
		l->count = accel_rd32(h + 4);
		uint32_t nl = accel_rd32(h + 8), ol = accel_rd32(h + 12);
		if (take_name(&c, nl, arena, &l->name) || take_name(&c, ol, arena, &l->op) ||
		    take_pad(&c, 16 + (uint64_t)nl + ol))
			return NNZRT_ERR_FORMAT;
		if (l->count == 0 || l->first < next || (uint64_t)l->first + l->count > p->n_insns)
			return BAD("layer '%s': instructions [%u, +%u) are empty, out of order or past the %u instructions",
				   l->name, l->first, l->count, p->n_insns);
		next = (uint64_t)l->first + l->count;
	}
	if (c.left)
		return BAD("section layers: %llu bytes after the last layer", (unsigned long long)c.left);
	p->n_layers = (int)n;
	return 0;
}

static int check_code(nnzrt_accel_program *p)
{
	AccelLimits lim;
	accel_limits_init(&lim, &p->cfg, p->n_consts, p->arena_words);
	for (uint32_t i = 0; i < p->n_insns; i++) {
		AccelInsn ins;
		char msg[300];
		const uint32_t *w = p->code + (size_t)i * ACCEL_INSN_WORDS;
		if (accel_decode(w, &ins, msg, sizeof msg) < 0 || accel_validate(&ins, &lim, msg, sizeof msg) < 0)
			return BAD("instruction %u: %s", i, msg);
		if ((ins.op == AOP_END) != (i == p->n_insns - 1))
			return BAD("instruction %u: %s", i,
				   ins.op == AOP_END ? "end before the last instruction" : "the last instruction is not end");
	}
	return 0;
}

int nnzrt_accel_load(const void *buf, size_t len, nnzrt_accel_program **out)
{
	if (out == NULL || (buf == NULL && len))
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_accel_load: NULL argument");
	*out = NULL;
	const unsigned char *b = buf ? buf : (const unsigned char *)"";
	nnzrt_accel_program *p = rt_calloc(1, sizeof *p);
	if (p == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	int r = check_header(b, len, p);
	if (!r)
		r = check_sections(b, len, p);
	if (!r)
		r = load_config(b, p);
	if (!r)
		r = load_words(b, p);
	if (!r) {
		/* every name's bytes + NUL fit in its record, which is at least 8 bytes longer */
		size_t n = (size_t)(p->sec[ACCEL_SEC_IO].size + p->sec[ACCEL_SEC_LAYERS].size) + 1;
		p->strings = rt_malloc(n);
		if (p->strings == NULL)
			r = rt_fail(NNZRT_ERR_NOMEM, "out of memory");
	}
	char *arena = p->strings;
	if (!r)
		r = load_io(b, p, &arena);
	if (!r)
		r = load_layers(b, p, &arena);
	if (!r)
		r = check_code(p);
	if (r) {
		nnzrt_accel_free(p);
		return r;
	}
	*out = p;
	return 0;
}

int nnzrt_accel_load_file(const char *path, nnzrt_accel_program **out)
{
	if (path == NULL || out == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_accel_load_file: NULL argument");
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return rt_fail(NNZRT_ERR_IO, "%s: %s", path, strerror(errno));
	/* read in growing chunks: the size of a pipe or a special file is not known in advance */
	size_t cap = 1 << 16, len = 0;
	unsigned char *buf = rt_malloc(cap);
	int r = buf ? 0 : rt_fail(NNZRT_ERR_NOMEM, "%s: out of memory", path);
	while (!r) {
		if (len == cap) {
			unsigned char *nb = cap <= SIZE_MAX / 2 ? rt_realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				r = rt_fail(NNZRT_ERR_NOMEM, "%s: out of memory", path);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f))
				r = rt_fail(NNZRT_ERR_IO, "%s: read error", path);
			break;
		}
	}
	fclose(f);
	if (!r) {
		r = nnzrt_accel_load(buf, len, out);
		if (r) {
			char m[512];
			snprintf(m, sizeof m, "%s", nnzrt_errmsg());
			rt_set_errmsg("%s: %s", path, m);
		}
	}
	free(buf);
	return r;
}

/* ---------------------------------------------------------------- queries */

const nnzrt_accel_config *nnzrt_accel_program_config(const nnzrt_accel_program *p) { return p ? &p->cfg : NULL; }
uint64_t nnzrt_accel_program_fingerprint(const nnzrt_accel_program *p) { return p ? p->fingerprint : 0; }
uint32_t nnzrt_accel_program_num_insns(const nnzrt_accel_program *p) { return p ? p->n_insns : 0; }
uint64_t nnzrt_accel_program_arena_words(const nnzrt_accel_program *p) { return p ? p->arena_words : 0; }
int nnzrt_accel_program_num_io(const nnzrt_accel_program *p) { return p ? p->n_io : 0; }
int nnzrt_accel_program_num_layers(const nnzrt_accel_program *p) { return p ? p->n_layers : 0; }

const uint32_t *nnzrt_accel_program_insn(const nnzrt_accel_program *p, uint32_t i)
{
	return p && i < p->n_insns ? p->code + (size_t)i * ACCEL_INSN_WORDS : NULL;
}

const uint32_t *nnzrt_accel_program_consts(const nnzrt_accel_program *p, uint64_t *n)
{
	if (n)
		*n = p ? p->n_consts : 0;
	return p ? p->consts : NULL;
}

const nnzrt_accel_io *nnzrt_accel_program_io(const nnzrt_accel_program *p, int i)
{
	return p && i >= 0 && i < p->n_io ? &p->io[i] : NULL;
}

const nnzrt_accel_layer *nnzrt_accel_program_layer(const nnzrt_accel_program *p, int i)
{
	return p && i >= 0 && i < p->n_layers ? &p->layers[i] : NULL;
}

/* ---------------------------------------------------------------- text */

/* Names in double quotes; '"', '\\' and bytes outside printable ASCII as escapes, so any name
 * round-trips through the assembler. */
static void print_name(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\x%02x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static void print_summary(const nnzrt_accel_program *p, FILE *f)
{
	const nnzrt_accel_config *c = &p->cfg;
	fprintf(f, "# .nnza %u.%u, %llu bytes, checksum 0x%08x\n", p->major, p->minor, (unsigned long long)p->file_size,
		p->file_crc);
	fprintf(f, "# config '%s' (fingerprint 0x%016llx): %s, %dx%d MACs at %g MHz, %d-bit data\n", c->name,
		(unsigned long long)p->fingerprint,
		c->dataflow == NNZRT_ACCEL_SYSTOLIC_WS ? "systolic-ws"
		: c->dataflow == NNZRT_ACCEL_SPARSE_TC ? "sparse-tc"
		: c->dataflow == NNZRT_ACCEL_DEMM      ? "demm"
						       : "gather-scatter",
		c->array_rows, c->array_cols, c->clock_mhz, c->data_bits);
	fprintf(f, "#   buffers W %lld, I %lld, O %lld, X %lld KiB; DRAM %g GB/s\n", (long long)c->buffer_kib[0],
		(long long)c->buffer_kib[1], (long long)c->buffer_kib[2], (long long)c->buffer_kib[3], c->dram_gb_per_s);
	fprintf(f, "# sections:\n");
	for (int k = 1; k < ACCEL_SEC_COUNT; k++)
		fprintf(f, "#   %-7s %10llu bytes at %-10llu crc32 0x%08x\n", sec_names[k], (unsigned long long)p->sec[k].size,
			(unsigned long long)p->sec[k].offset, p->sec[k].crc);
	unsigned counts[AOP_COUNT] = {0};
	for (uint32_t i = 0; i < p->n_insns; i++)
		counts[p->code[(size_t)i * ACCEL_INSN_WORDS] & 0xff]++; /* validated: in range */
	fprintf(f, "# %u instructions:", p->n_insns);
	for (int op = 1; op < AOP_COUNT; op++)
		if (counts[op])
			fprintf(f, " %s %u", accel_op_name((AccelOp)op), counts[op]);
	fprintf(f, "\n# %llu constant words, arena %llu words, %d inputs/outputs, %d layers\n",
		(unsigned long long)p->n_consts, (unsigned long long)p->arena_words, p->n_io, p->n_layers);
}

int nnzrt_accel_print(const nnzrt_accel_program *p, unsigned what, FILE *f)
{
	if (p == NULL || f == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_accel_print: NULL argument");
	if (what & NNZRT_ACCEL_PRINT_SUMMARY)
		print_summary(p, f);
	if (what & NNZRT_ACCEL_PRINT_SOURCE) {
		fprintf(f, ".nnza %u.%u\n.config\n%s.end\n.arena %llu\n", p->major, p->minor, p->config_text,
			(unsigned long long)p->arena_words);
		for (int i = 0; i < p->n_io; i++) {
			const nnzrt_accel_io *t = &p->io[i];
			fprintf(f, ".%s ", t->is_output ? "output" : "input");
			print_name(f, t->name);
			fprintf(f, " %s [", nnzrt_dtype_name(t->dtype));
			for (int d = 0; d < t->rank; d++)
				fprintf(f, "%s%lld", d ? "," : "", (long long)t->dims[d]);
			fprintf(f, "] @%llu\n", (unsigned long long)t->offset);
		}
		for (int i = 0; i < p->n_layers; i++) {
			fprintf(f, ".layer ");
			print_name(f, p->layers[i].name);
			fputc(' ', f);
			print_name(f, p->layers[i].op);
			fprintf(f, " %u %u\n", p->layers[i].first, p->layers[i].count);
		}
		if (what & NNZRT_ACCEL_PRINT_NO_CONSTS) {
			fprintf(f, "# .const: %llu words not shown\n", (unsigned long long)p->n_consts);
		} else {
			fprintf(f, ".const %llu\n", (unsigned long long)p->n_consts);
			for (uint64_t i = 0; i < p->n_consts; i++)
				fprintf(f, "0x%08x%c", p->consts[i], i % 8 == 7 || i + 1 == p->n_consts ? '\n' : ' ');
		}
		fprintf(f, ".code\n");
		int layer = 0;
		for (uint32_t i = 0; i < p->n_insns; i++) {
			if (layer < p->n_layers && p->layers[layer].first == i) {
				fprintf(f, "# layer %d: ", layer);
				print_name(f, p->layers[layer].name);
				fputc('\n', f);
				layer++;
			}
			char line[512];
			nnzrt_accel_disasm_insn(p->code + (size_t)i * ACCEL_INSN_WORDS, line, sizeof line);
			fprintf(f, "%s\n", line);
		}
	}
	return ferror(f) ? rt_fail(NNZRT_ERR_IO, "write error") : 0;
}
