/* The accel target, compiler side: building a .nnza program (writer.c) and assembling its text
 * form (asm.c). The ISA, the container layout and the validator are the runtime's
 * (runtime/accel_internal.h, docs/accel-isa.md): this side links libnnzrt.a and every file it
 * writes has been loaded back by the runtime's validator first, so the compiler cannot emit a
 * program the runtime would refuse.
 *
 * The lowering (lower*.c, private header lower.h) turns the IR into this builder. */
#ifndef NNZC_ACCEL_H
#define NNZC_ACCEL_H

#include "nnzc/ir.h"
#include "runtime/accel_internal.h"

/* A program being built. Zero-initialise, set cfg (and arena_words), add to it, serialize,
 * then nnza_builder_free. Owns copies of everything added. */
typedef struct NnzaIo {
	char *name;
	int is_output, rank;
	int64_t dims[NNZRT_MAX_RANK];
	uint64_t offset;
} NnzaIo;

typedef struct NnzaLayer {
	char *name, *op;
	uint32_t first, count;
} NnzaLayer;

typedef struct NnzaBuilder {
	nnzrt_accel_config cfg;
	uint64_t arena_words;
	uint32_t *code;            /* n_insns * ACCEL_INSN_WORDS */
	size_t n_insns, cap_insns;
	uint32_t *consts;
	size_t n_consts, cap_consts;
	NnzaIo *io;
	int n_io, cap_io;
	NnzaLayer *layers;
	int n_layers, cap_layers;
} NnzaBuilder;

void nnza_builder_free(NnzaBuilder *b);
/* Appends one instruction (encoded from ins, or raw words); its index in *index if not NULL. */
int nnza_emit(NnzaBuilder *b, const AccelInsn *ins, uint32_t *index, Diag *d);
int nnza_emit_words(NnzaBuilder *b, const uint32_t w[ACCEL_INSN_WORDS], Diag *d);
/* Appends n words to the const space; their first word's DRAM offset in *offset. */
int nnza_add_consts(NnzaBuilder *b, const uint32_t *w, size_t n, uint64_t *offset, Diag *d);
int nnza_add_io(NnzaBuilder *b, const char *name, int is_output, int rank, const int64_t *dims, uint64_t offset, Diag *d);
int nnza_add_layer(NnzaBuilder *b, const char *name, const char *op, uint32_t first, uint32_t count, Diag *d);
/* The container's bytes (malloc'd, the caller frees). With validate, they are loaded back by
 * the runtime's validator and its complaint, if any, is the error. */
int nnza_serialize(const NnzaBuilder *b, bool validate, unsigned char **out, size_t *len, Diag *d);
/* Validated bytes to path (written to a temporary file, renamed over path when complete). */
int nnza_write_file(const NnzaBuilder *b, const char *path, Diag *d);
/* Recomputes every section checksum whose table entry lies inside the file, and then the file
 * checksum: tests corrupt a field and fix the checksums to reach the validator behind them. */
void nnza_fix_checksums(unsigned char *buf, size_t len);

/* asm.c: the text form (docs/accel-isa.md, "Text form") into a builder; `where` names the text
 * in messages (FILE:LINE: ...). */
int nnza_assemble(const char *text, size_t len, const char *where, NnzaBuilder *b, Diag *d);
/* Reads and assembles FILE, writes the validated container to OUT. */
int nnza_assemble_file(const char *in, const char *out, Diag *d);

/* lower*.c: the optimised, statically shaped float graph -> a program for cfg, into b (zeroed;
 * the caller frees it). One layer table entry per node. A node the engine cannot run is an error
 * with DIAG_UNSUPPORTED naming node and op (docs/accel-isa.md lists what is lowered). */
int accel_lower(const Graph *g, const nnzrt_accel_config *cfg, NnzaBuilder *b, Diag *d);
/* The same for nodes [0, n_nodes) only, the rest being left to a host (nnzc run/bench execute
 * them with targets/ref): the program's outputs are then the values those nodes produce that a
 * later node or the graph's outputs read, named as in g. *failed (if not NULL) gets the index of
 * the node that could not be lowered, or -1. */
int accel_lower_prefix(const Graph *g, const nnzrt_accel_config *cfg, int n_nodes, NnzaBuilder *b, int *failed, Diag *d);
/* Weights whose encoding cfg's matrix unit cannot run (csr, bsr, an N:M or gs it lacks, a TASD
 * term it lacks) re-encoded, where the shape allows, in the cfg's nm mode closest above their
 * density, as convert-pattern does (sparse_project + sparse_attach), with a remark
 * "dropped_l2_fraction" per converted weight. Weights left as they are run dense. */
int accel_fit_weights(Graph *g, const nnzrt_accel_config *cfg, Diag *d);

#endif
