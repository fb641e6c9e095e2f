/* Pass pipelines: parsed from text ("shape-infer,fold-bn,prune(nm:2:4)"), printed back, and run
 * with the instruments around every pass (print after, verify, time). Passes never print. */
#include "nnzc/ir.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

int pipeline_append(Pipeline *p, const char *name, const char *arg, Diag *d)
{
	const PassInfo *pass = pass_find(name);
	if (pass == NULL)
		return diag_error(d, "unknown pass '%s' (nnzc compile --help lists them)", name);
	if (arg && !pass->takes_arg)
		return diag_error(d, "pass '%s' takes no options", name);
	if (!arg && pass->takes_arg)
		return diag_error(d, "pass '%s' needs options: %s(...)", name, name);
	if (p->n == NNZC_MAX_PIPELINE)
		return diag_error(d, "pipeline longer than %d passes", NNZC_MAX_PIPELINE);
	PipelineStep *st = &p->step[p->n];
	if (arg && strlen(arg) >= sizeof st->arg)
		return diag_error(d, "options of pass '%s' too long", name);
	st->pass = pass;
	st->has_arg = arg != NULL;
	snprintf(st->arg, sizeof st->arg, "%s", arg ? arg : "");
	p->n++;
	return 0;
}

int pipeline_parse(const char *text, Pipeline *p, Diag *d)
{
	memset(p, 0, sizeof *p);
	const char *s = text;
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || strcmp(s, "none") == 0)
		return 0;
	for (;;) {
		char name[64], arg[sizeof p->step[0].arg];
		size_t n = 0;
		while (isspace((unsigned char)*s))
			s++;
		while (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (n + 1 >= sizeof name)
				return diag_error(d, "pipeline: pass name too long");
			name[n++] = *s++;
		}
		name[n] = '\0';
		if (n == 0)
			return diag_error(d, "pipeline: expected a pass name at '%s'", s);
		bool has_arg = false;
		if (*s == '(') {
			int depth = 1;
			size_t k = 0;
			s++;
			while (*s && depth > 0) {
				if (*s == '(')
					depth++;
				else if (*s == ')' && --depth == 0)
					break;
				if (k + 1 >= sizeof arg)
					return diag_error(d, "pipeline: options of '%s' too long", name);
				arg[k++] = *s++;
			}
			if (*s != ')')
				return diag_error(d, "pipeline: missing ) after options of '%s'", name);
			s++;
			arg[k] = '\0';
			has_arg = true;
		}
		if (pipeline_append(p, name, has_arg ? arg : NULL, d) < 0)
			return -1;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			return diag_error(d, "pipeline: expected , after '%s'", name);
		s++;
	}
}

void pipeline_print(const Pipeline *p, FILE *f)
{
	if (p->n == 0)
		fputs("none", f);
	for (int i = 0; i < p->n; i++)
		fprintf(f, p->step[i].has_arg ? "%s%s(%s)" : "%s%s", i ? "," : "", p->step[i].pass->name, p->step[i].arg);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The banner names the step as the pipeline text does, options included ("prune(nm:2:4;...)"),
 * so that a dump says exactly what produced it. */
static void dump_after(const Graph *g, const PipelineStep *st, const Instruments *ins)
{
	FILE *f = ins->print_to ? ins->print_to : stderr;
	if (ins->print_format == DUMP_TEXT) {
		if (st == NULL)
			fprintf(f, "// ----- IR after import ----- //\n");
		else
			fprintf(f, st->has_arg ? "// ----- IR after %s(%s) ----- //\n" : "// ----- IR after %s%s ----- //\n",
				st->pass->name, st->has_arg ? st->arg : "");
	}
	graph_dump(g, ins->print_format, f, &ins->print_opt);
	fflush(f);
}

int pipeline_run(Graph *g, const Pipeline *p, const Instruments *ins, Diag *d)
{
	static const Instruments none = {.verify = true};
	if (ins == NULL)
		ins = &none;
	double times[NNZC_MAX_PIPELINE] = {0};
	if (ins->print_after && strcmp(ins->print_after, "import") == 0)
		dump_after(g, NULL, ins);
	int rc = 0;
	for (int i = 0; i < p->n; i++) {
		const PipelineStep *st = &p->step[i];
		PassOptions opt = {
			.arg = st->has_arg ? st->arg : NULL,
			.progress = ins->progress,
			.progress_ctx = ins->progress_ctx,
		};
		double t0 = now_seconds();
		rc = st->pass->run(g, &opt, d);
		times[i] = now_seconds() - t0;
		if (ins->seconds)
			ins->seconds[i] = times[i];
		char prefix[128];
		if (rc < 0) {
			snprintf(prefix, sizeof prefix, "%s: ", st->pass->name);
			diag_prefix(d, prefix);
			break;
		}
		if (ins->verify && graph_verify(g, d) < 0) {
			snprintf(prefix, sizeof prefix, "internal error: IR invalid after pass %s: ", st->pass->name);
			diag_prefix(d, prefix);
			rc = -1;
			break;
		}
		if (ins->print_after &&
		    (strcmp(ins->print_after, "all") == 0 || strcmp(ins->print_after, st->pass->name) == 0))
			dump_after(g, st, ins);
	}
	if (ins->time_passes) {
		double total = 0;
		for (int i = 0; i < p->n; i++)
			total += times[i];
		fprintf(stderr, "===----------------------------------------===\n");
		fprintf(stderr, "          pass execution timing report\n");
		fprintf(stderr, "===----------------------------------------===\n");
		fprintf(stderr, "  total: %.4f s\n\n   wall (s)      %%   pass\n", total);
		for (int i = 0; i < p->n; i++)
			fprintf(stderr, "  %9.4f  %5.1f%%   %s\n", times[i], total > 0 ? 100.0 * times[i] / total : 0.0,
				p->step[i].pass->name);
	}
	return rc;
}
