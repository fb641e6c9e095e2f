/* The accelerator's ISA and .nnza container, shared by the runtime's loader (accel_load.c), its
 * future executor, and the compiler side (targets/accel: assembler, writer, lowering), which
 * links libnnzrt.a for them. docs/accel-isa.md is the prose of this file; the tables here are
 * the single source of truth for bit positions, so encoder, decoder, validator, assembler and
 * disassembler cannot disagree.
 *
 * Not installed; hidden in the shared library like everything in internal.h. */
#ifndef NNZRT_ACCEL_INTERNAL_H
#define NNZRT_ACCEL_INTERNAL_H

#include "internal.h"
#include "nnzrt_accel.h"

#include <stdbool.h>
#include <stdint.h>

/* ---------------------------------------------------------------- instructions
 *
 * 256 bits = 8 little-endian 32-bit words w0..w7. w0 bits 0-7 are the opcode (0 is invalid, so
 * zeroed memory never decodes); every other field is listed below as (word, shift, bits). Bits
 * that no field of an opcode covers are reserved and must be zero. */
#define ACCEL_INSN_WORDS 8
#define ACCEL_INSN_BYTES 32

/* X(ENUM, text, unit) — unit: the engine queue the instruction goes to (timing model) */
#define ACCEL_OPS(X)                 \
	X(END, "end", ACCEL_UNIT_NONE)   \
	X(SYNC, "sync", ACCEL_UNIT_NONE) \
	X(LD, "ld", ACCEL_UNIT_LD)       \
	X(ST, "st", ACCEL_UNIT_ST)       \
	X(MM, "mm", ACCEL_UNIT_MX)       \
	X(MMA, "mma", ACCEL_UNIT_MX)     \
	X(VEC, "vec", ACCEL_UNIT_VX)     \
	X(ADEC, "adec", ACCEL_UNIT_VX)

typedef enum AccelOp {
	AOP_INVALID = 0,
#define X(e, s, u) AOP_##e,
	ACCEL_OPS(X)
#undef X
	AOP_COUNT
} AccelOp;

/* units, also the bits of SYNC's mask */
enum { ACCEL_UNIT_NONE = 0, ACCEL_UNIT_LD = 1, ACCEL_UNIT_ST = 2, ACCEL_UNIT_MX = 4, ACCEL_UNIT_VX = 8 };

/* How a field is spelled in the text form. */
typedef enum AccelKind {
	AK_UINT,  /* decimal */
	AK_BUF,   /* W I O X */
	AK_FMT,   /* dense nm gs tasd */
	AK_PART,  /* val idx */
	AK_SPACE, /* const arena */
	AK_MODE,  /* dense nm gs */
	AK_FUNC,  /* mov fill add sub mul max min relu clip */
	AK_BCAST, /* none full row col scalar */
	AK_UNITS, /* ld|st|mx|vx */
	AK_F32,   /* a float, its IEEE bits in the word */
} AccelKind;

/* F(name, word, shift, bits, kind) per instruction shape; the shape's struct has one uint32_t
 * member per field, in this order. */
#define ACCEL_DMA_FIELDS(F)         \
	F(fmt, 0, 8, 8, AK_FMT)         \
	F(part, 0, 16, 8, AK_PART)      \
	F(buf, 0, 24, 8, AK_BUF)        \
	F(rows, 1, 0, 16, AK_UINT)      \
	F(cols, 1, 16, 16, AK_UINT)     \
	F(addr, 2, 0, 24, AK_UINT)      \
	F(space, 2, 24, 8, AK_SPACE)    \
	F(dram, 3, 0, 32, AK_UINT)      \
	F(stride, 4, 0, 32, AK_UINT)    \
	F(ldb, 5, 0, 16, AK_UINT)       \
	F(n, 5, 16, 16, AK_UINT)        \
	F(m, 6, 0, 16, AK_UINT)         \
	F(term, 6, 16, 16, AK_UINT)     \
	F(cstep, 7, 0, 16, AK_UINT)

#define ACCEL_MM_FIELDS(F)          \
	F(mode, 0, 8, 8, AK_MODE)       \
	F(sbuf, 0, 16, 8, AK_BUF)       \
	F(dbuf, 0, 24, 8, AK_BUF)       \
	F(m, 1, 0, 16, AK_UINT)         \
	F(n, 1, 16, 16, AK_UINT)        \
	F(k, 2, 0, 16, AK_UINT)         \
	F(ldn, 2, 16, 16, AK_UINT)      \
	F(nz, 3, 0, 16, AK_UINT)        \
	F(grp, 3, 16, 16, AK_UINT)      \
	F(saddr, 4, 0, 24, AK_UINT)     \
	F(term, 4, 24, 8, AK_UINT)      \
	F(xaddr, 5, 0, 24, AK_UINT)     \
	F(daddr, 6, 0, 24, AK_UINT)     \
	F(caddr, 7, 0, 24, AK_UINT)

#define ACCEL_VEC_FIELDS(F)         \
	F(func, 0, 8, 8, AK_FUNC)       \
	F(bcast, 0, 16, 8, AK_BCAST)    \
	F(dbuf, 0, 24, 8, AK_BUF)       \
	F(rows, 1, 0, 16, AK_UINT)      \
	F(cols, 1, 16, 16, AK_UINT)     \
	F(daddr, 2, 0, 24, AK_UINT)     \
	F(abuf, 2, 24, 8, AK_BUF)       \
	F(aaddr, 3, 0, 24, AK_UINT)     \
	F(bbuf, 3, 24, 8, AK_BUF)       \
	F(baddr, 4, 0, 24, AK_UINT)     \
	F(lda, 5, 0, 16, AK_UINT)       \
	F(astep, 5, 16, 16, AK_UINT)    \
	F(imm0, 6, 0, 32, AK_F32)       \
	F(imm1, 7, 0, 32, AK_F32)

#define ACCEL_ADEC_FIELDS(F)        \
	F(resid, 0, 8, 8, AK_UINT)      \
	F(sbuf, 0, 16, 8, AK_BUF)       \
	F(dbuf, 0, 24, 8, AK_BUF)       \
	F(rows, 1, 0, 16, AK_UINT)      \
	F(cols, 1, 16, 16, AK_UINT)     \
	F(n, 2, 0, 16, AK_UINT)         \
	F(m, 2, 16, 16, AK_UINT)        \
	F(saddr, 3, 0, 24, AK_UINT)     \
	F(term, 3, 24, 8, AK_UINT)      \
	F(daddr, 4, 0, 24, AK_UINT)     \
	F(xaddr, 5, 0, 24, AK_UINT)

#define ACCEL_SYNC_FIELDS(F) F(units, 0, 8, 8, AK_UNITS)
#define ACCEL_END_FIELDS(F)

#define ACCEL_MEMBER(name, w, sh, bits, kind) uint32_t name;
typedef struct AccelDma { ACCEL_DMA_FIELDS(ACCEL_MEMBER) } AccelDma;    /* LD, ST */
typedef struct AccelMm { ACCEL_MM_FIELDS(ACCEL_MEMBER) } AccelMm;       /* MM, MMA */
typedef struct AccelVec { ACCEL_VEC_FIELDS(ACCEL_MEMBER) } AccelVec;
typedef struct AccelAdec { ACCEL_ADEC_FIELDS(ACCEL_MEMBER) } AccelAdec;
typedef struct AccelSync { ACCEL_SYNC_FIELDS(ACCEL_MEMBER) } AccelSync;
#undef ACCEL_MEMBER

typedef struct AccelInsn {
	AccelOp op;
	union {
		AccelDma dma;
		AccelMm mm;
		AccelVec vec;
		AccelAdec adec;
		AccelSync sync;
	} u;
} AccelInsn;

/* enumerations of the fields above */
enum { ACCEL_FMT_DENSE, ACCEL_FMT_NM, ACCEL_FMT_GS, ACCEL_FMT_TASD, ACCEL_FMT_COUNT };
enum { ACCEL_PART_VAL, ACCEL_PART_IDX, ACCEL_PART_COUNT };
enum { ACCEL_SPACE_CONST, ACCEL_SPACE_ARENA, ACCEL_SPACE_COUNT };
enum {
	ACCEL_FUNC_MOV, ACCEL_FUNC_FILL, ACCEL_FUNC_ADD, ACCEL_FUNC_SUB, ACCEL_FUNC_MUL, ACCEL_FUNC_MAX,
	ACCEL_FUNC_MIN, ACCEL_FUNC_RELU, ACCEL_FUNC_CLIP, ACCEL_FUNC_COUNT
};
enum { ACCEL_BCAST_NONE, ACCEL_BCAST_FULL, ACCEL_BCAST_ROW, ACCEL_BCAST_COL, ACCEL_BCAST_SCALAR, ACCEL_BCAST_COUNT };

/* One field of one opcode, for the table-driven text form. */
typedef struct AccelField {
	const char *name;
	uint8_t word, shift, bits;
	AccelKind kind;
} AccelField;

/* accel_isa.c */
const char *accel_op_name(AccelOp op);           /* "mm"; NULL for invalid */
AccelOp accel_op_from_name(const char *s, size_t len);
int accel_op_unit(AccelOp op);
/* The fields of op in encoding order; *n set to their number. */
const AccelField *accel_op_fields(AccelOp op, int *n);
/* The spellings of an enumerated kind (NULL-terminated), NULL for AK_UINT/AK_F32/AK_UNITS. */
const char *const *accel_kind_names(AccelKind k);
uint32_t accel_field_get(const uint32_t w[ACCEL_INSN_WORDS], const AccelField *f);
void accel_field_set(uint32_t w[ACCEL_INSN_WORDS], const AccelField *f, uint32_t v);
/* One field's value as the text form spells it, snprintf-style. */
size_t accel_print_field(const AccelField *f, uint32_t v, char *buf, size_t cap);
/* Words -> struct; fails (one-line message in msg) on an unknown opcode or a reserved bit set. */
int accel_decode(const uint32_t w[ACCEL_INSN_WORDS], AccelInsn *ins, char *msg, size_t cap);
void accel_encode(const AccelInsn *ins, uint32_t w[ACCEL_INSN_WORDS]);

/* What an instruction's operands are checked against. */
typedef struct AccelLimits {
	const nnzrt_accel_config *cfg;
	int64_t buf_elems[NNZRT_ACCEL_NUM_BUFS];
	uint64_t const_words, arena_words;
} AccelLimits;
void accel_limits_init(AccelLimits *l, const nnzrt_accel_config *cfg, uint64_t const_words, uint64_t arena_words);
/* Every field in range, every buffer and DRAM range inside its bounds, the sparsity mode
 * supported by the config. msg gets a one-line reason without the instruction index. */
int accel_validate(const AccelInsn *ins, const AccelLimits *l, char *msg, size_t cap);

/* ---------------------------------------------------------------- container
 *
 *   offset  size  header (little-endian)
 *        0     4  magic "NNZA"
 *        4     2  version major (ACCEL_VERSION_MAJOR)   6  2  version minor
 *        8     4  flags (none defined: 0)
 *       12     4  header size (64)
 *       16     8  file size
 *       24     8  config fingerprint (FNV-1a 64 of the CONFIG section)
 *       32     8  arena words (the read-write DRAM region)
 *       40     4  number of sections (ACCEL_SEC_COUNT - 1)
 *       44     4  CRC-32 of the whole file, these 4 bytes read as zero
 *       48    16  reserved, zero
 *       64        section table: one 32-byte entry per section
 *                 {u32 kind, u32 flags = 0, u64 offset, u64 size, u32 CRC-32 of the bytes, u32 0}
 *  then the sections in kind order, each at a 16-aligned offset right after the previous one's
 *  end (zero padding), the file ending with the last section. */
#define ACCEL_MAGIC "NNZA"
#define ACCEL_VERSION_MAJOR 1
#define ACCEL_VERSION_MINOR 0
#define ACCEL_HEADER_SIZE 64
#define ACCEL_SECTION_ENTRY 32
#define ACCEL_ALIGN 16

enum {
	ACCEL_SEC_CONFIG = 1, /* the canonical config text */
	ACCEL_SEC_CODE = 2,   /* instructions, 32 bytes each */
	ACCEL_SEC_CONST = 3,  /* constant words (u32 LE), DRAM space `const` */
	ACCEL_SEC_IO = 4,     /* I/O descriptors */
	ACCEL_SEC_LAYERS = 5, /* layer table */
	ACCEL_SEC_COUNT
};

/* limits the loader enforces (each far above what a real network needs) */
#define ACCEL_MAX_NAME 4096
#define ACCEL_MAX_IO 4096
#define ACCEL_MAX_LAYERS (1 << 20)
#define ACCEL_MAX_CONFIG_TEXT 65536

uint32_t accel_crc32(uint32_t crc, const void *p, size_t n); /* start with crc = 0 */
uint64_t accel_fnv1a64(const void *p, size_t n);

static inline uint32_t accel_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t accel_rd64(const unsigned char *p) { return accel_rd32(p) | (uint64_t)accel_rd32(p + 4) << 32; }
static inline void accel_wr32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}
static inline void accel_wr64(unsigned char *p, uint64_t v)
{
	accel_wr32(p, (uint32_t)v);
	accel_wr32(p + 4, (uint32_t)(v >> 32));
}

/* accel_config.c: the SRAM energy law the presets use (docs/accelerator.md) */
double accel_sram_pj_per_byte(double kib);

/* ---------------------------------------------------------------- timing model (accel_timing.c)
 *
 * The executor (accel_exec.c) runs the program in order and hands each instruction, after it
 * executed, to the timer together with the machine's buffers, so that data-dependent costs (the
 * non-zeros of a row, bank conflicts among gathered indices) read the operands the instruction
 * used. W, I and O are float arrays, X holds the index words; an mm instruction changes neither
 * its S operand nor X, so they are still its inputs afterwards. */
typedef struct AccelTimer AccelTimer;

/* flags: NNZRT_ACCEL_RUN_*; NULL when out of memory (message set). */
AccelTimer *accel_timer_new(const nnzrt_accel_program *p, unsigned flags);
void accel_timer_free(AccelTimer *t);
/* Instruction i, already executed. NNZRT_OK, or (message set) NNZRT_ERR_FORMAT for a hazard
 * under NNZRT_ACCEL_RUN_CHECK_HAZARDS, NNZRT_ERR_NOMEM. */
int accel_timer_insn(AccelTimer *t, uint32_t i, const AccelInsn *ins, float *const bufs[3], const uint32_t *x);
/* The totals and per-layer costs into st (allocates the layer array and names). */
int accel_timer_finish(AccelTimer *t, nnzrt_accel_stats *st);

/* The cost of one instruction alone, what the timer schedules (exposed for unit tests). */
typedef struct AccelInsnCost {
	int unit;                /* NNZRT_ACCEL_UNIT_*, -1 for end and sync */
	uint64_t cycles;         /* latency on its unit */
	uint64_t macs, mx_slots; /* useful MACs; array MACs x cycles (mx only) */
	uint64_t dram_bytes, reg_bytes, performed_macs;
	uint64_t sram_bytes[NNZRT_ACCEL_NUM_BUFS]; /* reads and writes per buffer */
	uint64_t bank_conflicts, port_passes;
} AccelInsnCost;
void accel_insn_cost(const nnzrt_accel_config *cfg, const AccelInsn *ins, float *const bufs[3], const uint32_t *x,
		     AccelInsnCost *c);

#endif
