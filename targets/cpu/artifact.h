/* The formats of what `nnzc compile --target cpu` writes besides code, shared by the writer
 * (targets/cpu/artifact.c) and the reader behind `nnzc info` (compiler/driver/elf_info.c), which
 * must work without LLVM: so this header includes nothing of it. docs/abi.md describes both
 * formats for users.
 *
 * Metadata blob — in the object's section ".nnzc.info" (it survives linking into a shared object
 * or an executable, where the blobs of several models end up back to back), and after the
 * payload of a weights file:
 *     u8  magic[8]   "NNZCINFO"
 *     u32 version    1
 *     u32 length     bytes of text that follow
 *     u8  text[length], then zeros up to a multiple of 8
 * The text is lines of tab-separated fields, the first field naming the line (see
 * cpu_metadata_text in artifact.c); names are escaped (\t, \n, \\), so a line never holds a raw
 * tab or newline of a name. Little-endian, like everything here.
 *
 * Weights file (--weights-file) — the constant data the code reads, for models too big to embed:
 *     u8  magic[8]        "NNZCWGT1"
 *     u32 version         1
 *     u32 header_bytes    64: the payload starts here (64-byte aligned in a 64-byte aligned file)
 *     u64 payload_bytes   a multiple of 64
 *     u64 fingerprint     the payload's hash (cpu_hash_*); compiled into the object as well
 *     u64 meta_offset     where the metadata blob starts (after the payload)
 *     u64 meta_bytes
 *     u8  reserved[16]    zeros
 *     payload, metadata blob; nothing after it
 */
#ifndef NNZC_CPU_ARTIFACT_H
#define NNZC_CPU_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef NNZC_VERSION_STRING
#error "NNZC_VERSION_STRING (project() version) must be defined by the build"
#endif

#define CPU_INFO_SECTION ".nnzc.info"
#define CPU_INFO_MAGIC "NNZCINFO"
#define CPU_INFO_VERSION 1
#define CPU_INFO_HEADER 16

#define CPU_WEIGHTS_MAGIC "NNZCWGT1"
#define CPU_WEIGHTS_VERSION 1
#define CPU_WEIGHTS_HEADER 64
#define CPU_WEIGHTS_ALIGN 64

/* Status codes of the generated entry points (PREFIX_OK, PREFIX_ERR_... in the header). */
enum {
	CPU_STATUS_OK = 0,
	CPU_STATUS_NO_WEIGHTS = 1,     /* run before a successful PREFIX_set_weights */
	CPU_STATUS_WEIGHTS_SIZE = 2,   /* NULL, or size differs from PREFIX_weights_size() */
	CPU_STATUS_WEIGHTS_ALIGN = 3,  /* the weights are not 64-byte aligned */
	CPU_STATUS_WEIGHTS_FORMAT = 4, /* not a weights file (magic, version, header fields) */
	CPU_STATUS_WEIGHTS_MODEL = 5,  /* the weights file of another model or compilation */
	CPU_STATUS_WEIGHTS_CORRUPT = 6, /* the payload does not match its checksum */
	CPU_STATUS_COUNT
};

/* The fingerprint of a payload: FNV-1a over its little-endian 64-bit words in four interleaved
 * lanes (word i goes to lane i mod 4, so the generated check runs four independent multiply
 * chains), the four lane values then hashed in order. Cheap enough for the generated code to
 * check a file of gigabytes at load time, and enough to tell a truncated, corrupted or foreign
 * file from the right one; not a defence against forgery. Payloads are multiples of 64 bytes. */
#define CPU_FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define CPU_FNV_PRIME UINT64_C(0x100000001b3)
#define CPU_HASH_LANES 4
#define CPU_HASH_BLOCK (8 * CPU_HASH_LANES)

typedef struct CpuHash { uint64_t lane[CPU_HASH_LANES]; } CpuHash;

static inline void cpu_hash_init(CpuHash *h)
{
	for (int j = 0; j < CPU_HASH_LANES; j++)
		h->lane[j] = CPU_FNV_OFFSET + (uint64_t)j;
}

/* n: a multiple of CPU_HASH_BLOCK */
static inline void cpu_hash_blocks(CpuHash *h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i + CPU_HASH_BLOCK <= n; i += CPU_HASH_BLOCK)
		for (int j = 0; j < CPU_HASH_LANES; j++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * j, 8); /* x86-64: little-endian */
			h->lane[j] = (h->lane[j] ^ w) * CPU_FNV_PRIME;
		}
}

static inline uint64_t cpu_hash_final(const CpuHash *h)
{
	uint64_t r = CPU_FNV_OFFSET;
	for (int j = 0; j < CPU_HASH_LANES; j++)
		r = (r ^ h->lane[j]) * CPU_FNV_PRIME;
	return r;
}

static inline uint32_t cpu_get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t cpu_get_u64(const unsigned char *p)
{
	return (uint64_t)cpu_get_u32(p) | (uint64_t)cpu_get_u32(p + 4) << 32;
}

static inline void cpu_put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void cpu_put_u64(unsigned char *p, uint64_t v)
{
	cpu_put_u32(p, (uint32_t)v);
	cpu_put_u32(p + 4, (uint32_t)(v >> 32));
}

#endif
