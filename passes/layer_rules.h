/* What prune, convert-pattern, tasd and tasd-activations share, private to passes/ (and their
 * tests): the shape of their argument, and which layers it gives which SPEC.
 *
 *   ARG  := ITEM { ';' ITEM }              in any order, blanks around items ignored; exactly
 *                                          one item is a bare SPEC: the default
 *   ITEM := SPEC
 *         | 'global'                       only where the pass ranks weights across layers
 *         | 'keep=' WHICH { ',' WHICH }    WHICH := first | last: leave the first / last layer
 *                                          alone (an item starting with keep= is always this)
 *         | GLOB '=' SPEC                  a rule: fnmatch(GLOB, node name); the last '='
 *                                          separates; the last matching rule wins, over keep too
 *
 * SPEC is each pass's own: the pass parses it (LayerGrammar.spec) and keeps the result, by rule
 * number, next to its LayerRules. Errors are one line naming the item or the token at fault. */
#ifndef NNZC_PASSES_LAYER_RULES_H
#define NNZC_PASSES_LAYER_RULES_H

#include "nnzc/ir.h"

#define LAYER_MAX_RULES 64
#define LAYER_GLOB_CAP 200
#define LAYER_SPEC_CAP 64

/* What differs between the passes' grammars and their words. */
typedef struct LayerGrammar {
	const char *noun, *nouns; /* a SPEC in messages: "pattern", "patterns" */
	const char *form;         /* a rule in messages: "GLOB=PATTERN" */
	const char *forms;        /* the SPECs there are, for "empty pattern (expected FORMS)" */
	const char *first_item;   /* the hint of "no default pattern in '...' (the first item is ...)" */
	int spec_max;             /* the longest SPEC, in characters (< LAYER_SPEC_CAP) */
	bool global;              /* 'global' is an item */
	const char *layer;        /* what a layer is called: "prunable layer" */
	const char *left;         /* what layer_weights' reasons start with: "", "left as it is: " */
	const char *by_rule;      /* and its reason for a GLOB=dense rule, before 'GLOB=dense': "rule" */
	/* Parse SPEC (trimmed, non-empty, at most spec_max characters) and keep it with the pass's
	 * argument: the default's when rule < 0, else rule number `rule`'s. 1 when the SPEC leaves
	 * layers as they are (`dense` for prune and tasd), 0 when it changes them, -1 after
	 * diag_error. */
	int (*spec)(void *args, int rule, const char *text, Diag *d);
} LayerGrammar;

typedef struct LayerRule {
	char glob[LAYER_GLOB_CAP];
	char spec[LAYER_SPEC_CAP]; /* as written (trimmed), for remarks */
	bool dense;                /* the SPEC leaves layers as they are */
	bool used;                 /* matched a layer */
} LayerRule;

typedef struct LayerRules {
	const LayerGrammar *gr;
	char def[LAYER_SPEC_CAP]; /* the default SPEC as written */
	bool def_dense;           /* it leaves layers as they are */
	bool global, keep_first, keep_last;
	int n_rules;
	LayerRule rule[LAYER_MAX_RULES];
} LayerRules;

/* Parse a pass argument (not NULL: the pass says what it needs) into r, calling gr->spec for
 * every SPEC in order, so errors come in the order of the items. */
int layer_rules_parse(LayerRules *r, const char *arg, const LayerGrammar *gr, void *args, Diag *d);

/* The rule for the layer `name`: the last one whose GLOB matches (marked used), or -1 for the
 * default. When none matches and keep=first applies to a first layer (or keep=last to a last
 * one), *keep is why: "first prunable layer (keep=first)" (in g's arena); else NULL. */
int layer_rules_pick(LayerRules *r, Graph *g, const char *name, bool first, bool last, const char **keep);

/* Graph-level remarks for the rules that matched no layer. */
void layer_rules_unused(Graph *g, const LayerRules *r, const char *pass);

/* One weight input of one node (every (node, slot) weight_view accepts), and what becomes of
 * it. */
typedef struct LayerWeight {
	Node *node;
	int slot;
	Value *w;
	WeightView view;
	int rule;         /* the rule that applies, or -1: the default SPEC */
	const char *skip; /* left alone and why ("": nothing to tell), or NULL */
	int owner;        /* the layer that handles w: the first of those reading it */
} LayerWeight;

/* The weight layers of g in node order, each with its rule and, when it is left alone, why:
 * keep=first/last, a dense SPEC, unknown values (elided in a dump), or a weight that one change
 * cannot serve: also read as something else than a weight or a graph output, or shared by
 * layers that read it differently or get different SPECs (then every reader is left alone).
 * Readers that agree share the change: the owner makes it. The reasons start with gr->left.
 * *out is malloc'd (free it), *n may be 0. */
int layer_weights(Graph *g, LayerRules *r, LayerWeight **out, int *n, Diag *d);

#endif
