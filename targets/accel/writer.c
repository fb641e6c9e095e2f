/* The .nnza writer: a program builder and its serialization in the layout of
 * runtime/accel_internal.h. Deterministic: the same builder gives the same bytes, which is what
 * makes `disasm | asm` reproduce a file exactly. */
#include "targets/accel/accel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nnza_builder_free(NnzaBuilder *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < b->n_io; i++)
		free(b->io[i].name);
	for (int i = 0; i < b->n_layers; i++) {
		free(b->layers[i].name);
		free(b->layers[i].op);
	}
	free(b->code);
	free(b->consts);
	free(b->io);
	free(b->layers);
	memset(b, 0, sizeof *b);
}

/* grows *p (elements of size sz) to hold need; false when out of memory or overflowing */
static bool grow(void **p, size_t *cap, size_t need, size_t sz)
{
	if (need <= *cap)
		return true;
	size_t nc = *cap ? *cap : 16;
	while (nc < need) {
		if (nc > SIZE_MAX / 2)
			return false;
		nc *= 2;
	}
	if (nc > SIZE_MAX / sz)
		return false;
	void *q = realloc(*p, nc * sz);
	if (q == NULL)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

int nnza_emit_words(NnzaBuilder *b, const uint32_t w[ACCEL_INSN_WORDS], Diag *d)
{
	if (b->n_insns >= UINT32_MAX)
		return diag_error(d, "accel: more than 2^32 - 1 instructions");
	size_t cap = b->cap_insns * ACCEL_INSN_WORDS;
	if (!grow((void **)&b->code, &cap, (b->n_insns + 1) * ACCEL_INSN_WORDS, sizeof(uint32_t)))
		return diag_error(d, "accel: out of memory for instructions");
	b->cap_insns = cap / ACCEL_INSN_WORDS;
	memcpy(b->code + b->n_insns * ACCEL_INSN_WORDS, w, ACCEL_INSN_BYTES);
	b->n_insns++;
	return 0;
}

int nnza_emit(NnzaBuilder *b, const AccelInsn *ins, uint32_t *index, Diag *d)
{
	uint32_t w[ACCEL_INSN_WORDS];
	accel_encode(ins, w);
	if (index)
		*index = (uint32_t)b->n_insns;
	return nnza_emit_words(b, w, d);
}

int nnza_add_consts(NnzaBuilder *b, const uint32_t *w, size_t n, uint64_t *offset, Diag *d)
{
	if (n > (1ull << 32) - b->n_consts)
		return diag_error(d, "accel: more than 2^32 constant words");
	if (!grow((void **)&b->consts, &b->cap_consts, b->n_consts + n, sizeof(uint32_t)))
		return diag_error(d, "accel: out of memory for constants");
	if (n)
		memcpy(b->consts + b->n_consts, w, n * sizeof(uint32_t));
	if (offset)
		*offset = b->n_consts;
	b->n_consts += n;
	return 0;
}

int nnza_add_io(NnzaBuilder *b, const char *name, int is_output, int rank, const int64_t *dims, uint64_t offset, Diag *d)
{
	if (rank < 0 || rank > NNZRT_MAX_RANK)
		return diag_error(d, "accel: io '%s': rank %d", name, rank);
	size_t cap = (size_t)b->cap_io;
	if (!grow((void **)&b->io, &cap, (size_t)b->n_io + 1, sizeof *b->io))
		return diag_error(d, "accel: out of memory");
	b->cap_io = (int)cap;
	NnzaIo *t = &b->io[b->n_io];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (t->name == NULL)
		return diag_error(d, "accel: out of memory");
	t->is_output = is_output;
	t->rank = rank;
	for (int i = 0; i < rank; i++)
		t->dims[i] = dims[i];
	t->offset = offset;
	b->n_io++;
	return 0;
}

int nnza_add_layer(NnzaBuilder *b, const char *name, const char *op, uint32_t first, uint32_t count, Diag *d)
{
	size_t cap = (size_t)b->cap_layers;
	if (!grow((void **)&b->layers, &cap, (size_t)b->n_layers + 1, sizeof *b->layers))
		return diag_error(d, "accel: out of memory");
	b->cap_layers = (int)cap;
	NnzaLayer *l = &b->layers[b->n_layers];
	l->name = strdup(name);
	l->op = strdup(op);
	l->first = first;
	l->count = count;
	b->n_layers++; /* counted before the check, so that free releases both strings */
	if (l->name == NULL || l->op == NULL)
		return diag_error(d, "accel: out of memory");
	return 0;
}

/* ---------------------------------------------------------------- serialization */

typedef struct Bytes {
	unsigned char *p;
	size_t len, cap;
	bool oom;
} Bytes;

static void put(Bytes *b, const void *src, size_t n)
{
	if (b->oom || !grow((void **)&b->p, &b->cap, b->len + n, 1)) {
		b->oom = true;
		return;
	}
	if (src)
		memcpy(b->p + b->len, src, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static void put32(Bytes *b, uint32_t v)
{
	unsigned char x[4];
	accel_wr32(x, v);
	put(b, x, 4);
}

static void put64(Bytes *b, uint64_t v)
{
	unsigned char x[8];
	accel_wr64(x, v);
	put(b, x, 8);
}

static void pad_to(Bytes *b, size_t align)
{
	put(b, NULL, (align - b->len % align) % align);
}

static void io_section(const NnzaBuilder *nb, Bytes *s)
{
	put32(s, (uint32_t)nb->n_io);
	put32(s, 0);
	for (int i = 0; i < nb->n_io; i++) {
		const NnzaIo *t = &nb->io[i];
		size_t start = s->len;
		unsigned char h[4] = {(unsigned char)(t->is_output != 0), NNZRT_FLOAT, (unsigned char)t->rank, 0};
		put(s, h, 4);
		put32(s, (uint32_t)strlen(t->name));
		put64(s, t->offset);
		for (int k = 0; k < t->rank; k++)
			put64(s, (uint64_t)t->dims[k]);
		put(s, t->name, strlen(t->name));
		put(s, NULL, (8 - (s->len - start) % 8) % 8);
	}
}

static void layer_section(const NnzaBuilder *nb, Bytes *s)
{
	put32(s, (uint32_t)nb->n_layers);
	put32(s, 0);
	for (int i = 0; i < nb->n_layers; i++) {
		const NnzaLayer *l = &nb->layers[i];
		size_t start = s->len;
		put32(s, l->first);
		put32(s, l->count);
		put32(s, (uint32_t)strlen(l->name));
		put32(s, (uint32_t)strlen(l->op));
		put(s, l->name, strlen(l->name));
		put(s, l->op, strlen(l->op));
		put(s, NULL, (8 - (s->len - start) % 8) % 8);
	}
}

void nnza_fix_checksums(unsigned char *buf, size_t len)
{
	if (len < ACCEL_HEADER_SIZE)
		return;
	for (int k = 1; k < ACCEL_SEC_COUNT; k++) {
		size_t e = ACCEL_HEADER_SIZE + (size_t)(k - 1) * ACCEL_SECTION_ENTRY;
		if (e + ACCEL_SECTION_ENTRY > len)
			break;
		uint64_t off = accel_rd64(buf + e + 8), size = accel_rd64(buf + e + 16);
		if (off <= len && size <= len - off)
			accel_wr32(buf + e + 24, accel_crc32(0, buf + off, (size_t)size));
	}
	accel_wr32(buf + 44, 0);
	accel_wr32(buf + 44, accel_crc32(0, buf, len));
}

int nnza_serialize(const NnzaBuilder *nb, bool validate, unsigned char **out, size_t *len, Diag *d)
{
	*out = NULL;
	*len = 0;
	Bytes sec[ACCEL_SEC_COUNT] = {{0}};
	size_t n = nnzrt_accel_config_print(&nb->cfg, NULL, 0);
	put(&sec[ACCEL_SEC_CONFIG], NULL, n + 1);
	if (!sec[ACCEL_SEC_CONFIG].oom) {
		nnzrt_accel_config_print(&nb->cfg, (char *)sec[ACCEL_SEC_CONFIG].p, n + 1);
		sec[ACCEL_SEC_CONFIG].len = n; /* without the NUL */
	}
	for (size_t i = 0; i < nb->n_insns * ACCEL_INSN_WORDS; i++)
		put32(&sec[ACCEL_SEC_CODE], nb->code[i]);
	for (size_t i = 0; i < nb->n_consts; i++)
		put32(&sec[ACCEL_SEC_CONST], nb->consts[i]);
	io_section(nb, &sec[ACCEL_SEC_IO]);
	layer_section(nb, &sec[ACCEL_SEC_LAYERS]);

	Bytes f = {0};
	put(&f, NULL, ACCEL_HEADER_SIZE + (ACCEL_SEC_COUNT - 1) * ACCEL_SECTION_ENTRY);
	uint64_t off[ACCEL_SEC_COUNT] = {0};
	for (int k = 1; k < ACCEL_SEC_COUNT; k++) {
		pad_to(&f, ACCEL_ALIGN);
		off[k] = f.len;
		put(&f, sec[k].p, sec[k].len);
	}
	bool oom = f.oom;
	for (int k = 1; k < ACCEL_SEC_COUNT; k++)
		oom |= sec[k].oom;
	if (oom) {
		for (int k = 1; k < ACCEL_SEC_COUNT; k++)
			free(sec[k].p);
		free(f.p);
		return diag_error(d, "accel: out of memory writing the container");
	}
	unsigned char *h = f.p;
	memcpy(h, ACCEL_MAGIC, 4);
	h[4] = ACCEL_VERSION_MAJOR;
	h[6] = ACCEL_VERSION_MINOR;
	accel_wr32(h + 12, ACCEL_HEADER_SIZE);
	accel_wr64(h + 16, f.len);
	accel_wr64(h + 24, accel_fnv1a64(sec[ACCEL_SEC_CONFIG].p, sec[ACCEL_SEC_CONFIG].len));
	accel_wr64(h + 32, nb->arena_words);
	accel_wr32(h + 40, ACCEL_SEC_COUNT - 1);
	for (int k = 1; k < ACCEL_SEC_COUNT; k++) {
		unsigned char *e = h + ACCEL_HEADER_SIZE + (k - 1) * ACCEL_SECTION_ENTRY;
		accel_wr32(e, (uint32_t)k);
		accel_wr64(e + 8, off[k]);
		accel_wr64(e + 16, sec[k].len);
		free(sec[k].p);
	}
	nnza_fix_checksums(f.p, f.len);
	if (validate) {
		nnzrt_accel_program *p = NULL;
		if (nnzrt_accel_load(f.p, f.len, &p) != 0) {
			free(f.p);
			return diag_error(d, "%s", nnzrt_errmsg());
		}
		nnzrt_accel_free(p);
	}
	*out = f.p;
	*len = f.len;
	return 0;
}

int nnza_write_file(const NnzaBuilder *b, const char *path, Diag *d)
{
	unsigned char *buf;
	size_t len;
	if (nnza_serialize(b, true, &buf, &len, d) < 0)
		return -1;
	int r = outfile_write_all(path, buf, len, d);
	free(buf);
	return r;
}
