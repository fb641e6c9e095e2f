/* Arena: one per compilation (per Graph). Memory is carved from chunks by bumping a pointer and
 * released all at once by arena_free; nothing is freed individually. Requests larger than a
 * quarter of a chunk (weight payloads) get a chunk of their own so that they waste nothing.
 * Small structural allocations die on exhaustion: running out of memory for a 100-byte node is
 * not something a caller can report usefully. Data allocations whose size comes from the input
 * return NULL instead, and can be made to fail on purpose (arena_fail_after) to test the error
 * paths that handle them. */
#include "nnzc/ir.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE ((size_t)1 << 20)
#define ALIGN 64 /* payloads are read by vector code */

typedef struct Chunk {
	struct Chunk *next;
	size_t used, cap;
	_Alignas(ALIGN) unsigned char mem[];
} Chunk;

struct Arena {
	Chunk *head;    /* chunk being bumped */
	Chunk *big;     /* dedicated chunks of large requests */
	size_t total;
};

static long fail_countdown;

void arena_fail_after(long n) { fail_countdown = n; }

static bool injected_failure(void)
{
	if (fail_countdown <= 0)
		return false;
	return --fail_countdown == 0;
}

Arena *arena_new(void)
{
	Arena *a = calloc(1, sizeof *a);
	if (a == NULL) {
		fputs("nnzc: fatal: out of memory\n", stderr);
		abort();
	}
	return a;
}

static void free_chunks(Chunk *c)
{
	while (c) {
		Chunk *next = c->next;
		free(c);
		c = next;
	}
}

void arena_free(Arena *a)
{
	if (a == NULL)
		return;
	free_chunks(a->head);
	free_chunks(a->big);
	free(a);
}

static void *alloc_raw(Arena *a, size_t size)
{
	size_t rounded = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (rounded < size)
		return NULL;
	if (rounded > CHUNK_SIZE / 4) {
		if (rounded > SIZE_MAX - sizeof(Chunk))
			return NULL;
		Chunk *c = aligned_alloc(ALIGN, (sizeof(Chunk) + rounded + ALIGN - 1) & ~(size_t)(ALIGN - 1));
		if (c == NULL)
			return NULL;
		c->next = a->big;
		c->used = c->cap = rounded;
		a->big = c;
		a->total += rounded;
		memset(c->mem, 0, rounded);
		return c->mem;
	}
	if (a->head == NULL || a->head->cap - a->head->used < rounded) {
		Chunk *c = aligned_alloc(ALIGN, sizeof(Chunk) + CHUNK_SIZE);
		if (c == NULL)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->cap = CHUNK_SIZE;
		a->head = c;
	}
	void *p = a->head->mem + a->head->used;
	a->head->used += rounded;
	a->total += rounded;
	memset(p, 0, rounded);
	return p;
}

void *arena_alloc(Arena *a, size_t size)
{
	void *p = alloc_raw(a, size ? size : 1);
	if (p == NULL) {
		fputs("nnzc: fatal: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *arena_alloc_data(Arena *a, size_t n, size_t size)
{
	size_t bytes;
	if (injected_failure() || __builtin_mul_overflow(n, size, &bytes))
		return NULL;
	return alloc_raw(a, bytes ? bytes : 1);
}

char *arena_strdup(Arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t arena_bytes_used(const Arena *a) { return a->total; }
