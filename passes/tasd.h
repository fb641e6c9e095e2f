/* What the two TASD passes share, private to passes/tasd.c (weights), passes/tasd_activations.c
 * (activations) and their tests: the SPEC of their argument, the candidate series of the search
 * and their cost.
 *
 * The argument is layer_rules.h's (items separated by ';', `keep=`, GLOB=SPEC rules; no
 * `global`; docs/sparsity.md "TASD"), with
 *
 *   SPEC   := SERIES                        the same series for every layer
 *           | 'search:' BUDGET              per layer, the cheapest candidate series whose
 *                                           relative L2 error is at most BUDGET (>= 0)
 *           | 'dense'                       leave the layer alone
 *   SERIES := N ':' M { '+' N ':' M }       1 <= N <= M <= 256, at most NNZC_MAX_TASD_TERMS terms */
#ifndef NNZC_PASSES_TASD_H
#define NNZC_PASSES_TASD_H

#include "layer_rules.h"

#define TASD_MAX_M 256

typedef enum TasdMode { TASD_DENSE, TASD_FIXED, TASD_SEARCH } TasdMode;

typedef struct TasdSpec {
	TasdMode mode;
	Encoding series;           /* TASD_FIXED: kind ENC_TASD */
	double budget;             /* TASD_SEARCH */
	char text[LAYER_SPEC_CAP]; /* as written, for remarks */
} TasdSpec;

typedef struct TasdArgs {
	LayerRules rules;
	TasdSpec def, spec[LAYER_MAX_RULES]; /* the default SPEC, and rule k's in spec[k] */
} TasdArgs;

/* Parse a pass argument; `pass` names the pass in messages. One-line errors quote the item. */
int tasd_args_parse(const char *arg, const char *pass, TasdArgs *a, Diag *d);
/* The SPEC of `rule` (-1: the default), as layer_rules_pick and layer_weights give it. */
static inline const TasdSpec *tasd_spec_of(const TasdArgs *a, int rule)
{
	return rule < 0 ? &a->def : &a->spec[rule];
}

/* "2:4+1:4" (also for ENC_NM: "2:4"; ENC_DENSE: "dense") */
void tasd_series_str(const Encoding *e, char *buf, size_t cap);
/* The largest M of a series (0 for dense). */
int tasd_max_m(const Encoding *e);

/* The search's candidates, cheapest first for a full group (docs/sparsity.md lists them): single
 * terms, then two- and three-term series of the patterns structured-sparse engines run (1:4,
 * 2:4, 1:8, 2:8), and last ENC_DENSE, which always qualifies. */
extern const Encoding tasd_candidates[];
extern const int tasd_n_candidates;
/* The smallest M of any candidate but dense: a layer with fewer columns has nothing to search. */
int tasd_min_m(void);

/* The cost of running a series over `rows` fibers of `cols` elements in the reduction
 * direction: the multiply-accumulate slots its terms occupy, i.e. for each term N per full group
 * and min(N, rest) for a partial last group, whatever the values (a structured engine does not
 * skip a zero it was given). Dense costs rows * cols. Saturates at INT64_MAX. */
int64_t tasd_cost(const Encoding *e, int64_t rows, int64_t cols);

/* The search over one matrix or activation sample: evaluate(ctx, candidate) returns the
 * relative L2 error of candidate i, or a negative number on failure (out of memory). The
 * chosen candidate is the cheapest (tasd_cost) with error <= budget, ties to the smaller error,
 * then to the earlier candidate; candidates whose M exceeds cols are skipped. *tried counts the
 * evaluations. Returns the index in tasd_candidates, or -1 when evaluate failed. */
typedef double (*TasdEvalFn)(void *ctx, const Encoding *cand);
int tasd_search(int64_t rows, int64_t cols, double budget, TasdEvalFn evaluate, void *ctx, double *error, int *tried);

#endif
