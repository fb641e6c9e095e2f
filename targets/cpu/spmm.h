/* The plan of one sparse product (spmm.c), shared by the two files that hold its parts:
 * spmm.c plans it and emits its task, spmm_table.c builds the compile-time table of its weights
 * that the task reads. The file comment of spmm.c describes both. */
#ifndef NNZC_TARGETS_CPU_SPMM_H
#define NNZC_TARGETS_CPU_SPMM_H

#include "gemm.h"
#include "sparse.h"

typedef struct SpPlan {
	int vlen, nv, sets, r;  /* r: rows per group */
	/* patterns (CK_SPARSE_PATTERNS): a group's r rows have any columns; its entries are sorted
	 * by pattern, the set of its rows with a non-zero in that column (npat = 2^r - 1 of them) */
	bool pat;
	int npat;
	int regs;               /* vector registers */
	int64_t nr;             /* columns of a micro-tile: nv * vlen */
	int64_t tw, ntiles;     /* columns per tile, tiles per product */
	int64_t tail;           /* columns of a tile's partial micro-tile (0: none) */
	/* direct B: a tail of at most one vector is the last vector of the micro-tile before it
	 * (nv + 1 vectors), the last tile tw + tail columns wide: otherwise it costs a whole pass
	 * over the entries for a few columns (196 = 3 x 64 + 4) */
	bool fold;
	/* patterns, a folded tail of one column: that column is not a vector of its own but, per
	 * group, an r-lane vector whose lanes are the group's rows (see entry) */
	bool lane_tail;
	int64_t rows;           /* im2col: output rows per tile */
	int64_t panel_ld;
	int64_t kc, nkb;         /* k-blocks of the entries (partial sums in C between them) */
	int64_t pkb, npb, prows; /* k-blocks per panel block, panel blocks, panel rows */
	int64_t ngroups, nblk, nchunks;
	bool chunk_major; /* iterations ordered chunk by chunk (else tile by tile) */
	bool split_tiles; /* direct B, few tiles: the threads split the tiles, not the row groups */
	int64_t batch, iterations;
	/* padded (im2col-free, see spmm_conv_padded): the panel holds, per channel and phase, the
	 * tile's rows + khe - 1 rows of the phase plane, wp columns each, cs floats apart */
	bool padded;
	int64_t wp, cs, kh, kw, ksz, ow;
	int64_t sh, sw;   /* strides */
	int64_t khe, kwe; /* distinct row / column offsets of the taps in a phase plane */
	int64_t phw, nph; /* phases per row, phases */
	/* aligned padded (wp a whole number of vectors, the weight dense enough: SP_ALIGN_MIN_USES):
	 * ncopy = kwe copies of the band, copy j shifted left by j columns, copy_stride floats
	 * apart, so that every tap's vectors are aligned; else ncopy = 1 */
	int64_t ncopy, copy_stride;
	/* direct B whose rows are not vector-aligned: copied per tile into an aligned panel (an
	 * unaligned vector load crosses two cache lines: measured ~1.7x slower per multiply-add) */
	bool packed;
	/* word offsets in the table */
	int64_t t_perm, t_bounds, t_ents;
} SpPlan;

/* The int32 table of a planned product's weights (chunks, groups, bounds, entries; see spmm.c),
 * *bytes its size; NULL when out of memory or too large for int32 offsets. */
int32_t *spmm_build_table(const SpPlan *p, const GemmSpec *s, const SpRows *a, size_t *bytes);

#endif
