/* nnzrt_accel: the runtime's API for the modeled sparse accelerator (docs/accel-isa.md,
 * docs/accelerator.md).
 *
 * Two things live here:
 *   - accelerator configurations: a text file of `key = value` lines, or one of the compiled-in
 *     presets (dense, stc, vegeta, demm, gs); parsed into nnzrt_accel_config, printed back in a
 *     canonical form whose 64-bit FNV-1a hash is the configuration's fingerprint;
 *   - programs: a .nnza container (instruction stream, packed constants, I/O descriptors, layer
 *     table, the canonical config it was compiled for) loaded from memory or a file and
 *     validated completely: every offset, size, checksum and instruction field, every buffer
 *     and DRAM range against the embedded config. A program that loads is safe to execute.
 *
 * Conventions are those of nnzrt.h: functions return NNZRT_OK or an NNZRT_ERR_* status with a
 * one-line message in nnzrt_errmsg(); handles come in create/destroy pairs; no input can crash
 * the library. nnzrt_accel_run executes a program and reports its modeled cost.
 */
#ifndef NNZRT_ACCEL_H
#define NNZRT_ACCEL_H

#include "nnzrt.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- configuration */

/* On-chip buffers. Addresses inside a buffer count elements: W and I hold values of data_bits
 * each, O holds 32-bit accumulators, X holds 16-bit indices (docs/accel-isa.md). */
enum { NNZRT_ACCEL_BUF_W, NNZRT_ACCEL_BUF_I, NNZRT_ACCEL_BUF_O, NNZRT_ACCEL_BUF_X, NNZRT_ACCEL_NUM_BUFS };

/* How the matrix unit moves data; what the timing model keys its latency formulas on. */
enum {
	NNZRT_ACCEL_SYSTOLIC_WS,    /* weight-stationary systolic array (TPU-like) */
	NNZRT_ACCEL_SPARSE_TC,      /* N:M-aware PE rows (NVIDIA sparse tensor core, VEGETA) */
	NNZRT_ACCEL_DEMM,           /* dense operand in a 1-write/N-read-port memory, row-wise product-first */
	NNZRT_ACCEL_GATHER_SCATTER, /* V-wide gather from a B-banked scratchpad */
};

/* Sparsity modes of the matrix unit (also the mode field of MM/MMA). */
enum { NNZRT_ACCEL_MODE_DENSE, NNZRT_ACCEL_MODE_NM, NNZRT_ACCEL_MODE_GS };

typedef struct nnzrt_accel_mode {
	int kind;       /* NNZRT_ACCEL_MODE_* */
	int n_lo, n_hi; /* nm: any N in [n_lo, n_hi] per group of m (n_lo == n_hi: exactly N) */
	int m;          /* nm: group size, 1..256 */
	int v, b;       /* gs: V lanes, B banks (b == sram_banks) */
} nnzrt_accel_mode;

#define NNZRT_ACCEL_MAX_MODES 16

typedef struct nnzrt_accel_config {
	char name[32];
	int dataflow;                  /* NNZRT_ACCEL_SYSTOLIC_WS, ... */
	int array_rows, array_cols;    /* matrix unit geometry (MACs = rows * cols) */
	int vector_lanes;              /* vector unit width, elements per cycle */
	int read_ports;                /* demm: read ports of the memory block; 0 otherwise */
	int sram_banks;                /* banks of the I buffer (gs gathers); 1 = not banked */
	int n_modes;
	nnzrt_accel_mode modes[NNZRT_ACCEL_MAX_MODES];
	double clock_mhz;
	int data_bits;                 /* width of a value in W, I and DRAM: 8, 16 or 32 */
	int64_t buffer_kib[NNZRT_ACCEL_NUM_BUFS];
	double dram_gb_per_s;          /* DRAM bandwidth, 1e9 bytes per second */
	int sram_bytes_per_cycle;      /* per buffer port */
	double energy_mac_pj;          /* one multiply-accumulate */
	double energy_reg_pj_per_byte; /* PE register file */
	double energy_dram_pj_per_byte;
	double energy_sram_pj_per_byte[NNZRT_ACCEL_NUM_BUFS];
} nnzrt_accel_config;

/* Parses a config text of len bytes. `where` names it in messages ("FILE:LINE: ..."). The text
 * may start with `base = PRESET`, and then the keys it gives override the preset's; otherwise
 * every key is required. */
NNZRT_API int nnzrt_accel_config_parse(const char *text, size_t len, const char *where, nnzrt_accel_config *c);
/* A preset by name, or else a config file by path. */
NNZRT_API int nnzrt_accel_config_load(const char *preset_or_path, nnzrt_accel_config *c);
/* The compiled-in text of preset `name` (commented, a valid config file); NULL if unknown. */
NNZRT_API const char *nnzrt_accel_preset_text(const char *name);
/* The i-th preset's name, NULL past the last. */
NNZRT_API const char *nnzrt_accel_preset_name(int i);
/* The canonical text of c (every key, fixed order, no comments) into buf, snprintf-style: the
 * return value is the full length; buf gets at most cap - 1 bytes and a NUL. parse(print(c))
 * gives c back. */
NNZRT_API size_t nnzrt_accel_config_print(const nnzrt_accel_config *c, char *buf, size_t cap);
/* 64-bit FNV-1a of the canonical text. */
NNZRT_API uint64_t nnzrt_accel_config_fingerprint(const nnzrt_accel_config *c);
/* Elements a buffer holds (NNZRT_ACCEL_BUF_*): KiB * 8192 / element bits. */
NNZRT_API int64_t nnzrt_accel_buffer_elems(const nnzrt_accel_config *c, int buf);
/* 1 if the matrix unit runs mode kind with parameters (n, m) (nm) — gs and dense ignore them. */
NNZRT_API int nnzrt_accel_mode_supported(const nnzrt_accel_config *c, int kind, int n, int m);

/* ---------------------------------------------------------------- programs (.nnza) */

typedef struct nnzrt_accel_program nnzrt_accel_program;

typedef struct nnzrt_accel_io {
	const char *name;            /* owned by the program */
	int is_output;
	int dtype;                   /* NNZRT_FLOAT: the accelerator computes in float */
	int rank;
	int64_t dims[NNZRT_MAX_RANK];
	uint64_t offset;             /* first word in the DRAM arena; prod(dims) words follow */
} nnzrt_accel_io;

typedef struct nnzrt_accel_layer {
	const char *name, *op;       /* owned by the program */
	uint32_t first, count;       /* instructions [first, first + count) */
} nnzrt_accel_layer;

/* Validates len bytes and builds a program from a copy of them (buf may be freed afterwards). */
NNZRT_API int nnzrt_accel_load(const void *buf, size_t len, nnzrt_accel_program **out);
NNZRT_API int nnzrt_accel_load_file(const char *path, nnzrt_accel_program **out);
NNZRT_API void nnzrt_accel_free(nnzrt_accel_program *p);

NNZRT_API const nnzrt_accel_config *nnzrt_accel_program_config(const nnzrt_accel_program *p);
NNZRT_API uint64_t nnzrt_accel_program_fingerprint(const nnzrt_accel_program *p);
NNZRT_API uint32_t nnzrt_accel_program_num_insns(const nnzrt_accel_program *p);
/* Instruction i as its 8 little-endian 32-bit words (docs/accel-isa.md). */
NNZRT_API const uint32_t *nnzrt_accel_program_insn(const nnzrt_accel_program *p, uint32_t i);
NNZRT_API uint64_t nnzrt_accel_program_arena_words(const nnzrt_accel_program *p);
/* The constants (weights, biases, indices): n 32-bit words. */
NNZRT_API const uint32_t *nnzrt_accel_program_consts(const nnzrt_accel_program *p, uint64_t *n);
NNZRT_API int nnzrt_accel_program_num_io(const nnzrt_accel_program *p);
NNZRT_API const nnzrt_accel_io *nnzrt_accel_program_io(const nnzrt_accel_program *p, int i);
NNZRT_API int nnzrt_accel_program_num_layers(const nnzrt_accel_program *p);
NNZRT_API const nnzrt_accel_layer *nnzrt_accel_program_layer(const nnzrt_accel_program *p, int i);

/* What nnzrt_accel_print writes. */
enum {
	NNZRT_ACCEL_PRINT_SUMMARY = 1, /* header, sections and config summary, as comments */
	NNZRT_ACCEL_PRINT_SOURCE = 2,  /* the assembler text: directives, constants, code */
	NNZRT_ACCEL_PRINT_NO_CONSTS = 4, /* with SOURCE: leave the constant words out (not assemblable) */
};
/* The program as text: with NNZRT_ACCEL_PRINT_SOURCE, `nnzc asm` assembles it back into the
 * same bytes. */
NNZRT_API int nnzrt_accel_print(const nnzrt_accel_program *p, unsigned what, FILE *f);
/* One instruction (8 words) as its assembler line, without newline, snprintf-style. The words
 * need not be valid: unknown opcodes print as `.word` lines. */
NNZRT_API size_t nnzrt_accel_disasm_insn(const uint32_t words[8], char *buf, size_t cap);

/* ---------------------------------------------------------------- execution and statistics
 *
 * nnzrt_accel_run executes a loaded program: functionally in program order (the results, f32,
 * match targets/ref for the same math), and through the timing and energy model (units ld, st,
 * mx, vx overlap until a `sync`; docs/accel-isa.md, docs/accelerator.md "Timing model"). */

/* Units of the timing model, the index of the per-unit arrays below. */
enum { NNZRT_ACCEL_UNIT_LD, NNZRT_ACCEL_UNIT_ST, NNZRT_ACCEL_UNIT_MX, NNZRT_ACCEL_UNIT_VX, NNZRT_ACCEL_NUM_UNITS };

/* Cost of a range of instructions (a layer of the layer table, or the whole program). Cycles
 * are at the config's clock; bytes are modeled bytes (data_bits per value, packed index widths). */
typedef struct nnzrt_accel_cost {
	uint64_t cycles;              /* layer: from its first instruction's start to its last one's end */
	uint64_t busy[NNZRT_ACCEL_NUM_UNITS]; /* cycles each unit spent working */
	uint64_t macs;                /* useful multiply-accumulates (stored non-zeros x columns) */
	uint64_t mx_slots;            /* MAC slots the matrix unit occupied: array MACs x mx cycles */
	uint64_t dram_bytes;          /* ld + st traffic */
	uint64_t sram_bytes;          /* on-chip buffer reads and writes, all buffers */
	uint64_t bank_conflicts;      /* gather-scatter: extra cycles lost to bank conflicts of the gather */
	uint64_t port_passes;         /* demm: extra row passes because a row exceeded the read ports */
	uint64_t insns;               /* instructions executed */
	double energy_pj;             /* = mac + reg + sram + dram */
	double energy_mac_pj, energy_reg_pj, energy_sram_pj, energy_dram_pj;
	double utilisation;           /* macs / (array MACs x cycles), 0..1 */
	double seconds;               /* cycles / clock */
	double edp;                   /* energy x delay, joule-seconds */
} nnzrt_accel_cost;

typedef struct nnzrt_accel_layer_stats {
	char *name, *op;              /* copies of the layer table's, owned by the stats */
	nnzrt_accel_cost cost;
} nnzrt_accel_layer_stats;

typedef struct nnzrt_accel_stats {
	nnzrt_accel_cost total;
	int n_layers;                 /* the program's layer table, in order */
	nnzrt_accel_layer_stats *layers;
} nnzrt_accel_stats;

/* Flags of nnzrt_accel_run. */
enum {
	/* Checks that no two instructions the timing model lets overlap touch the same buffer
	 * elements with a write (a missing `sync` in the lowering); the first such pair is an
	 * NNZRT_ERR_FORMAT error naming both. Slower. */
	NNZRT_ACCEL_RUN_CHECK_HAZARDS = 1,
};

/* Runs p. inputs[i] is the i-th input descriptor's data (descriptors with is_output == 0, in
 * the order nnzrt_accel_program_io lists them), prod(dims) floats; outputs[i] likewise for the
 * outputs. stats may be NULL (a functional run only, faster); otherwise it is filled (free it
 * with nnzrt_accel_stats_free, also after a failed run). An index read from X that is out of
 * range is an NNZRT_ERR_FORMAT error naming the instruction; the outputs are then unspecified.
 * Thread-safe for distinct stats. */
NNZRT_API int nnzrt_accel_run(const nnzrt_accel_program *p, const float *const *inputs, float *const *outputs,
	unsigned flags, nnzrt_accel_stats *stats);
NNZRT_API void nnzrt_accel_stats_free(nnzrt_accel_stats *s);
/* The stats as a text report: one line of totals, then (if any) a table with one row per layer
 * (name, op, cycles, utilisation, MACs, DRAM bytes, energy). NNZRT_ERR_IO if writing fails. */
NNZRT_API int nnzrt_accel_stats_print(const nnzrt_accel_stats *s, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* NNZRT_ACCEL_H */
