/* The argument shape that prune, convert-pattern, tasd and tasd-activations share, and the
 * weight layers it selects (see layer_rules.h). */
#include "layer_rules.h"

#include <assert.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Copy [s, e) without surrounding blanks into buf; false if it does not fit. */
static bool copy_trimmed(const char *s, const char *e, char *buf, size_t cap)
{
	s = skip_blanks(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if ((size_t)(e - s) >= cap)
		return false;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = '\0';
	return true;
}

/* ---------------------------------------------------------------- the argument */

/* Where the item that starts at s ends: at the next sep, or at the end of the text. */
static const char *item_end(const char *s, int sep)
{
	const char *e = strchr(s, sep);
	return e ? e : s + strlen(s);
}

/* "first", "last", "first,last" */
static int parse_keep(LayerRules *r, const char *item, const char *list, Diag *d)
{
	const char *s = list;
	for (;;) {
		const char *e = item_end(s, ',');
		char word[16];
		if (!copy_trimmed(s, e, word, sizeof word) || (strcmp(word, "first") && strcmp(word, "last"))) {
			char tok[64];
			copy_trimmed(s, e - s < 60 ? e : s + 60, tok, sizeof tok);
			return diag_error(d, "bad option '%s': '%s' is not first or last", item, tok);
		}
		if (word[0] == 'f')
			r->keep_first = true;
		else
			r->keep_last = true;
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

/* The default SPEC (rule < 0) or rule number `rule`'s, trimmed. */
static int parse_spec(LayerRules *r, int rule, const char *text, void *args, Diag *d)
{
	const LayerGrammar *gr = r->gr;
	if (*text == '\0')
		return diag_error(d, "empty %s (expected %s)", gr->noun, gr->forms);
	if (strlen(text) > (size_t)gr->spec_max)
		return diag_error(d, "%s '%.40s...' too long", gr->noun, text);
	int dense = gr->spec(args, rule, text, d);
	if (dense < 0)
		return -1;
	if (rule >= 0) {
		r->rule[rule].dense = dense;
	} else {
		snprintf(r->def, sizeof r->def, "%s", text);
		r->def_dense = dense;
	}
	return 0;
}

/* One ';'-separated item, trimmed, non-empty. */
static int parse_item(LayerRules *r, const char *item, bool *have_def, void *args, Diag *d)
{
	const LayerGrammar *gr = r->gr;
	if (strcmp(item, "global") == 0) {
		if (!gr->global)
			return diag_error(d, "bad option 'global': only prune ranks weights across layers");
		r->global = true;
		return 0;
	}
	if (strncmp(item, "keep=", 5) == 0)
		return parse_keep(r, item, item + 5, d);
	const char *eq = strrchr(item, '=');
	if (eq == NULL) {
		if (*have_def)
			return diag_error(d, "bad option '%s': a second default %s (already '%s'; per-layer %s are %s)", item,
					  gr->noun, r->def, gr->nouns, gr->form);
		*have_def = true;
		return parse_spec(r, -1, item, args, d);
	}
	if (r->n_rules == LAYER_MAX_RULES)
		return diag_error(d, "more than %d per-layer rules", LAYER_MAX_RULES);
	LayerRule *rule = &r->rule[r->n_rules];
	if (!copy_trimmed(item, eq, rule->glob, sizeof rule->glob) || rule->glob[0] == '\0')
		return diag_error(d, "bad option '%s': expected %s with a non-empty GLOB of at most %d characters", item,
				  gr->form, (int)sizeof rule->glob - 1);
	if (!copy_trimmed(eq + 1, eq + 1 + strlen(eq + 1), rule->spec, (size_t)gr->spec_max + 1))
		return diag_error(d, "bad option '%s': %s too long", item, gr->noun);
	if (parse_spec(r, r->n_rules, rule->spec, args, d) < 0) {
		char prefix[LAYER_GLOB_CAP + 16];
		snprintf(prefix, sizeof prefix, "rule '%s': ", rule->glob);
		diag_prefix(d, prefix);
		return -1;
	}
	r->n_rules++;
	return 0;
}

int layer_rules_parse(LayerRules *r, const char *arg, const LayerGrammar *gr, void *args, Diag *d)
{
	assert(arg != NULL && gr->spec_max < LAYER_SPEC_CAP);
	memset(r, 0, sizeof *r);
	r->gr = gr;
	bool have_def = false;
	const char *s = arg;
	for (;;) {
		const char *e = item_end(s, ';');
		char item[512];
		if (!copy_trimmed(s, e, item, sizeof item))
			return diag_error(d, "option '%.40s...' too long", skip_blanks(s));
		if (item[0] == '\0')
			return diag_error(d, "empty option in '%s' (options are separated by ';')", arg);
		if (parse_item(r, item, &have_def, args, d) < 0)
			return -1;
		if (*e == '\0')
			break;
		s = e + 1;
	}
	if (!have_def)
		return diag_error(d, "no default %s in '%s' (the first item is %s)", gr->noun, arg, gr->first_item);
	return 0;
}

int layer_rules_pick(LayerRules *r, Graph *g, const char *name, bool first, bool last, const char **keep)
{
	*keep = NULL;
	for (int k = r->n_rules - 1; k >= 0; k--)
		if (fnmatch(r->rule[k].glob, name, 0) == 0) {
			r->rule[k].used = true;
			return k;
		}
	if (r->keep_first && first)
		*keep = arena_printf(g->arena, "first %s (keep=first)", r->gr->layer);
	else if (r->keep_last && last)
		*keep = arena_printf(g->arena, "last %s (keep=last)", r->gr->layer);
	return -1;
}

void layer_rules_unused(Graph *g, const LayerRules *r, const char *pass)
{
	for (int k = 0; k < r->n_rules; k++)
		if (!r->rule[k].used)
			graph_remark(g, pass, NULL, NULL, 0, "rule '%s=%s' matches no %s", r->rule[k].glob, r->rule[k].spec,
				     r->gr->layer);
}

/* ---------------------------------------------------------------- the weight layers */

static int add_layer(LayerWeight **l, int *n, int *cap, const LayerWeight *x)
{
	if (*n == *cap) {
		int nc = *cap ? 2 * *cap : 16;
		LayerWeight *g = realloc(*l, (size_t)nc * sizeof *g);
		if (g == NULL)
			return -1;
		*l = g;
		*cap = nc;
	}
	(*l)[(*n)++] = *x;
	return 0;
}

/* Why readers of one weight cannot share one change, for each reader; and a disagreement found
 * on one reader leaves every reader of that weight alone. */
static int mark_shared(Graph *g, const LayerRules *r, LayerWeight *l, int n, Diag *d)
{
	int *uses = graph_use_counts(g);
	int *first = malloc(((size_t)g->n_values + 1) * sizeof *first);
	int *count = calloc((size_t)g->n_values + 1, sizeof *count);
	if (uses == NULL || first == NULL || count == NULL) {
		free(uses), free(first), free(count);
		return diag_error(d, "out of memory");
	}
	const char *left = r->gr->left;
	for (int i = 0; i < n; i++) {
		int id = l[i].w->id;
		if (count[id]++ == 0)
			first[id] = i;
		l[i].owner = first[id];
	}
	for (int i = 0; i < n; i++) {
		LayerWeight *x = &l[i];
		int id = x->w->id;
		const char *why = NULL;
		if (uses[id] > count[id]) {
			why = arena_printf(g->arena, "%sweight '%s' is also read as something else than a weight "
					   "or is a graph output", left, x->w->name);
		} else if (count[id] > 1) {
			for (int k = 0; k < n && why == NULL; k++) {
				const LayerWeight *y = &l[k];
				if (y->w != x->w || y == x)
					continue;
				bool x_skip = x->skip != NULL, y_skip = y->skip != NULL;
				if (!weight_view_equal(&x->view, &y->view) || x_skip != y_skip ||
				    (!x_skip && x->rule != y->rule))
					why = arena_printf(g->arena, "%sweight '%s' is shared with node '%s', which reads it "
							   "differently or gets another %s", left, x->w->name, y->node->name,
							   r->gr->noun);
			}
		}
		if (why)
			x->skip = why;
	}
	for (int i = 0; i < n; i++)
		if (l[i].skip && l[i].skip[0] && count[l[i].w->id] > 1)
			for (int k = 0; k < n; k++)
				if (l[k].w == l[i].w && l[k].skip == NULL)
					l[k].skip = l[i].skip;
	free(uses);
	free(first);
	free(count);
	return 0;
}

int layer_weights(Graph *g, LayerRules *r, LayerWeight **out, int *n_out, Diag *d)
{
	LayerWeight *l = NULL;
	int n = 0, cap = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		Node *node = g->nodes[i];
		if (node->dead)
			continue;
		for (int s = 0; s < node->n_in; s++) {
			WeightView v;
			if (node->in[s] == NULL || !weight_view(node, s, &v))
				continue;
			LayerWeight x = {.node = node, .slot = s, .w = node->in[s], .view = v};
			if (add_layer(&l, &n, &cap, &x) < 0) {
				free(l);
				return diag_error(d, "out of memory");
			}
		}
	}
	/* the rule, else keep=first/last, else the default */
	const char *left = r->gr->left;
	for (int i = 0; i < n; i++) {
		LayerWeight *x = &l[i];
		const char *keep;
		x->rule = layer_rules_pick(r, g, x->node->name, x->node == l[0].node, x->node == l[n - 1].node, &keep);
		if (keep)
			x->skip = arena_printf(g->arena, "%s%s", left, keep);
		else if (x->rule < 0 && r->def_dense)
			x->skip = ""; /* nothing to tell: only the rules change layers */
		else if (x->rule >= 0 && r->rule[x->rule].dense)
			x->skip = arena_printf(g->arena, "%s '%s=dense'", r->gr->by_rule, r->rule[x->rule].glob);
		else if (x->w->data == NULL)
			x->skip = arena_printf(g->arena, "%sthe weight's values are not known (elided in the dump)",
					       left);
	}
	if (mark_shared(g, r, l, n, d) < 0) {
		free(l);
		return -1;
	}
	*out = l;
	*n_out = n;
	return 0;
}
