/* Pieces shared by compiler/sparse_*.c and nothing else: the pattern rules that fits, project
 * and attach must apply identically (a pattern decided one way by sparse_fits and another by
 * sparse_attach would make "fits" a lie). Matrix-view access is weight_view_offset (nnzc/ir.h). */
#ifndef NNZC_SPARSE_PRIVATE_H
#define NNZC_SPARSE_PRIVATE_H

#include "nnzc/ir.h"

#include <math.h>

/* What "largest magnitude" means everywhere: |x|, with NaN larger than anything, so that a NaN
 * weight is kept (and shows up in the outputs) rather than silently dropped. */
static inline float sp_mag(float x) { return isnan(x) ? INFINITY : fabsf(x); }

/* Why enc cannot describe a matrix of this view at all (NULL: it can): parameters out of range,
 * or a bsr block larger than the matrix. Such an encoding fits nothing and projects nothing. */
const char *sp_unsupported(const Encoding *e, const WeightView *v);

/* The N slots an nm(N,M) group keeps: the top-n magnitudes of vals[0..w), the group padded
 * virtually with zeros to m (so offsets >= w are chosen only when w < n); ties go to the lower
 * offset. Writes n offsets in ascending order. scratch holds at least w pairs. */
typedef struct SpRank { float mag; int idx; } SpRank;
void sp_nm_select(const float *vals, int w, int n, SpRank *scratch, uint8_t *off);

/* The gs(V,B) schedule of one group of `lanes` rows starting at row r0 (sparse_gs.c).
 * Non-zeros that cannot be scheduled are dropped (smallest magnitude first, ties: the higher
 * index goes) until the rest can; the kept set is a function of the group's non-zero set only,
 * so planning the projected data again drops nothing. On return: *steps = K, and if col is not
 * NULL, col[s * lanes + l] (K * lanes entries, allocated with malloc, caller frees) is the
 * column of step s, lane l; *dropped2 = squared L2 of the dropped values; if `zero_dropped`,
 * they are set to 0 in data. -1 only when out of memory. */
int sp_gs_plan(float *data, const WeightView *v, int64_t r0, int lanes, int b, bool zero_dropped, int64_t *steps,
	       int32_t **col, double *dropped2, int64_t *ndropped);

/* Greedy TASD of one matrix (sparse_pattern.c): term k keeps the top-Nk of every Mk group of
 * what the earlier terms left. Returns in resid (rows * cols, row-major matrix order, malloc'd
 * by the caller) what no term kept, and if `terms` is not NULL, the matrix each term keeps
 * (terms[k], rows * cols each, row-major). -1 only when out of memory. */
int sp_tasd_split(const float *data, const WeightView *v, const Encoding *enc, float *resid, float **terms);

#endif
