/* What the prune and convert-pattern passes share, private to passes/prune*.c and
 * passes/convert_pattern.c: the SPECs of their arguments, and the magnitude-selection algorithms
 * on dense float matrices.
 *
 * The argument is layer_rules.h's (items separated by ';', `global` for prune only, `keep=`,
 * GLOB=SPEC rules; docs/sparsity.md "Passes and options" has examples), with
 *
 *   prune SPEC   := dense | unstructured:S | nm:N:M | block:RxC:S | channel:S | gs:V:B:S
 *   convert SPEC := dense | csr | nm:N:M | bsr:RxC | block:RxC | gs:V:B | an encoding as the
 *                   dumps spell it (nm(2,4), bsr(4,1), gs(16,16), tasd[(2,4),(1,4)])
 *
 * S is a sparsity in [0, 1]; N <= M <= 256; R, C, V, B in 1..65536 and V <= B. */
#ifndef NNZC_PRUNE_SPEC_H
#define NNZC_PRUNE_SPEC_H

#include "layer_rules.h"

#define PRUNE_MAX_M 256
#define PATTERN_TEXT_CAP 40

/* How a layer's kept elements are chosen. */
typedef enum Select {
	SEL_NONE,      /* dense: nothing changes (a prune override that keeps a layer dense) */
	SEL_MAGNITUDE, /* unstructured: the smallest |w| are zeroed */
	SEL_BLOCK,     /* R x C blocks with the smallest L2 norm are zeroed */
	SEL_CHANNEL,   /* rows (output channels) with the smallest RMS are zeroed */
	SEL_NM,        /* top-N |w| of every group of M columns */
	SEL_GS,        /* per row-group of V rows: k per row, bank-conflict-free steps */
	SEL_PROJECT,   /* convert-pattern: sparse_project onto enc */
} Select;

typedef struct Pattern {
	Select sel;
	Encoding enc;                /* the encoding attached afterwards */
	double sparsity;             /* SEL_MAGNITUDE, SEL_BLOCK, SEL_CHANNEL, SEL_GS */
	char text[PATTERN_TEXT_CAP]; /* as written (trimmed), for remarks */
} Pattern;

typedef struct SparsityArgs {
	LayerRules rules;
	Pattern def, pat[LAYER_MAX_RULES]; /* the default pattern, and rule k's in pat[k] */
} SparsityArgs;

/* The pattern a layer gets. */
static inline const Pattern *layer_pattern(const SparsityArgs *a, const LayerWeight *x)
{
	return x->rule < 0 ? &a->def : &a->pat[x->rule];
}

/* What both passes work on: the argument and the weight layers (layer_weights). sparsity_begin
 * parses the argument (`pass` is "prune" or "convert-pattern": which grammar, and the name in
 * messages) and lists the layers, or returns NULL after a one-line error quoting the offending
 * item or token; sparsity_end makes the remarks for unused rules (when rc is 0), frees it and
 * returns rc. */
typedef struct SparsityRun {
	SparsityArgs args;
	LayerWeight *l;
	int n;
} SparsityRun;
SparsityRun *sparsity_begin(Graph *g, const PassOptions *opt, const char *pass, Diag *d);
int sparsity_end(Graph *g, SparsityRun *r, const char *pass, int rc);

/* "nm(2,4)": encoding_print into a string */
void encoding_str(const Encoding *e, char *buf, size_t cap);
/* "kept dense: WHY", or "kept as nm(2,4): WHY" for a weight that already has an encoding. */
void layer_remark_kept(Graph *g, const char *pass, const LayerWeight *x, const char *why);

/* Why the matrix view cannot take p by its shape alone (written into buf), or NULL if it can:
 * rows shorter than M or a Conv with fewer input channels per group than M (nm), a matrix smaller than one block (bsr), rows shorter than min(V, rows)
 * (gs: a step needs that many columns in distinct banks). */
const char *pattern_misfit(const Pattern *p, const WeightView *v, char *buf, size_t cap);

/* ---------------------------------------------------------------- selection (prune_select.c) */

/* element (r, c) of a matrix view */
static inline float *view_at(float *data, const WeightView *v, int64_t r, int64_t c)
{
	return data + weight_view_offset(v, r, c);
}

/* One layer in a ranking: its units (elements, blocks or rows) compete on a score. */
typedef struct RankLayer {
	float *data;
	WeightView view;
	Select sel;      /* SEL_MAGNITUDE, SEL_BLOCK or SEL_CHANNEL */
	int br, bc;      /* block size (SEL_BLOCK) */
	int64_t n_units;
	float *score;    /* by unit, for blocks and rows (malloc'd by rank_layer_init); NULL for elements */
} RankLayer;

/* Fill n_units and score; -1 on out of memory. rank_layer_free releases score. */
int rank_layer_init(RankLayer *l, float *data, const WeightView *v, const Pattern *p, Diag *d);
void rank_layer_free(RankLayer *l);
/* Zero the k lowest-scored units over all layers together (k <= total units). Ties at the
 * threshold: units later in (layer, unit) order are zeroed first, so lower indices win as in
 * sparse_project. *threshold gets the score of the k-th lowest unit (0 when k == 0). */
int prune_lowest(RankLayer *l, int n, int64_t k, float *threshold, Diag *d);

/* Keep the N largest |w| in every group of M consecutive columns (the last group of a row may be
 * shorter); zero the rest. Ties: lower column wins. */
void select_nm(float *data, const WeightView *v, int n, int m);

/* gs(V,B): rows in groups of V (the last may be shorter); in every group, keep exactly k
 * elements per row such that no bank (column mod B) holds more than k of them — what lets them
 * form k steps of one element per row in distinct banks — with the largest total |w| there is.
 * Returns 0, or 1 when no such selection exists (data untouched), or -1 on out of memory. */
int select_gs(float *data, const WeightView *v, int V, int B, int64_t k, Diag *d);

#endif
