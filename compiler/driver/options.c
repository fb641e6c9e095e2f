/* Command-line options. LLVM style: -flag and --flag are the same, values as `--flag V` or
 * `--flag=V`; -O0..-O3 and -o/-i as usual. Each option says which commands accept it, so a
 * flag that means nothing to a command is an error rather than silently ignored. */
#include "driver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	ALL_COMPILING = CMD_COMPILE | CMD_RUN | CMD_BENCH | CMD_DUMP, /* commands that run the compiler */
};

typedef enum OptId {
	OPT_OUTPUT, OPT_TARGET, OPT_EMIT, OPT_HEADER, OPT_NAME, OPT_CPU, OPT_INPUT_SHAPE, OPT_PASSES,
	OPT_DETECT, OPT_PRUNE, OPT_PRUNE_GLOBAL, OPT_PRUNE_KEEP, OPT_PRUNE_LAYER, OPT_PATTERN, OPT_TASD, OPT_TASD_ACT, OPT_ACCEL_CONFIG, OPT_PRINT_AFTER, OPT_TIME_PASSES, OPT_REPORT,
	OPT_NO_VERIFY, OPT_TEST_DATA, OPT_INPUT, OPT_RTOL, OPT_ATOL, OPT_THREADS, OPT_ITERS, OPT_AFTER,
	OPT_FORMAT, OPT_ELIDE, OPT_FULL, OPT_HELP, OPT_CALIB, OPT_CALIB_GENERATE,
	OPT_WEIGHTS_FILE, OPT_KERNELS, OPT_COST_MODEL, OPT_PER_LAYER, OPT_OUT, OPT_QUICK,
} OptId;

typedef struct OptSpec {
	const char *name; /* without dashes */
	OptId id;
	bool has_arg;
	unsigned cmds;    /* Command bits that accept it */
	const char *help;
} OptSpec;

static const OptSpec specs[] = {
	{"o", OPT_OUTPUT, true, CMD_COMPILE | CMD_RUN | CMD_DUMP | CMD_ASM | CMD_DISASM | CMD_ACCEL_CONFIG, "output file (run: output folder)"},
	{"target", OPT_TARGET, true, ALL_COMPILING, "ref | cpu | accel"},
	{"emit", OPT_EMIT, true, CMD_COMPILE, "obj | asm | llvm | shared (cpu target) | onnx | ir | accel (.nnza; default of --target accel)"},
	{"header", OPT_HEADER, true, CMD_COMPILE, "generated C header (cpu target)"},
	{"name", OPT_NAME, true, CMD_COMPILE, "prefix of generated entry points (cpu target)"},
	{"weights-file", OPT_WEIGHTS_FILE, true, CMD_COMPILE, "weights into FILE, not the object (cpu target; docs/abi.md)"},
	{"cpu", OPT_CPU, true, ALL_COMPILING | CMD_CALIBRATE, "LLVM CPU name or generic (cpu target)"},
	{"kernels", OPT_KERNELS, true, ALL_COMPILING, "auto | dense | sparse | sparse-rows|sparse-blocks|sparse-lanes|sparse-patterns: "
							"weight products by the cost model, or forced (cpu target)"},
	{"cost-model", OPT_COST_MODEL, true, ALL_COMPILING, "FILE | defaults: the cost model's constants (cpu target; "
							      "default: the host's nnzc calibrate file)"},
	{"per-layer", OPT_PER_LAYER, false, CMD_BENCH, "time every layer (cpu target): a \"layers\" array, a table on stderr"},
	{"out", OPT_OUT, true, CMD_CALIBRATE, "FILE: where to write the cost model (default: the host's cache file)"},
	{"quick", OPT_QUICK, false, CMD_CALIBRATE, "fewer shapes and densities, short measurements (for tests)"},
	{"input-shape", OPT_INPUT_SHAPE, true, ALL_COMPILING, "NAME=D0,D1,... fixes an input's dims (repeatable)"},
	{"passes", OPT_PASSES, true, ALL_COMPILING, "pipeline, e.g. shape-infer,fold-bn,dce ('none': no passes)"},
	{"prune", OPT_PRUNE, true, ALL_COMPILING, "append prune(SPEC) to the pipeline (docs/sparsity.md)"},
	{"detect", OPT_DETECT, false, ALL_COMPILING, "append detect-sparsity: encode weights pruned elsewhere, no value changes"},
	{"prune-global", OPT_PRUNE_GLOBAL, false, ALL_COMPILING, "--prune ranks all layers against one threshold"},
	{"prune-keep", OPT_PRUNE_KEEP, true, ALL_COMPILING, "first|last|first,last: keep those prunable layers dense"},
	{"prune-layer", OPT_PRUNE_LAYER, true, ALL_COMPILING, "GLOB=SPEC: another pattern (or dense) for matching nodes"},
	{"pattern", OPT_PATTERN, true, ALL_COMPILING, "append convert-pattern(SPEC) to the pipeline"},
	{"tasd", OPT_TASD, true, ALL_COMPILING, "append tasd(SPEC) to the pipeline"},
	{"tasd-activations", OPT_TASD_ACT, true, ALL_COMPILING, "append tasd-activations(SPEC) to the pipeline"},
	{"accel-config", OPT_ACCEL_CONFIG, true, ALL_COMPILING, "accelerator config file or preset: dense stc vegeta demm gs (--target accel; default dense)"},
	{"print-after", OPT_PRINT_AFTER, true, ALL_COMPILING, "PASS|all|import: dump the IR to stderr after it"},
	{"time-passes", OPT_TIME_PASSES, false, ALL_COMPILING, "print wall time per pass (and code generation phase) to stderr"},
	{"calib", OPT_CALIB, true, CMD_COMPILE, "DIR: calibration inputs; report accuracy against the dense model"},
	{"calib-generate", OPT_CALIB_GENERATE, true, CMD_COMPILE, "N[:SEED]: same, on N normal(0,1) inputs"},
	{"report", OPT_REPORT, true, CMD_COMPILE | CMD_RUN | CMD_BENCH, "write a JSON report to FILE (bench: with --per-layer, or --target accel: modeled cost per layer)"},
	{"no-verify", OPT_NO_VERIFY, false, ALL_COMPILING, "do not verify the IR between passes"},
	{"test-data", OPT_TEST_DATA, true, CMD_RUN | CMD_BENCH, "folder with test_data_set_*/input_*.pb, output_*.pb"},
	{"i", OPT_INPUT, true, CMD_RUN | CMD_BENCH, "NAME=FILE.pb: one input tensor (repeatable)"},
	{"rtol", OPT_RTOL, true, CMD_RUN, "relative tolerance (default 1e-3)"},
	{"atol", OPT_ATOL, true, CMD_RUN, "absolute tolerance (default 1e-5)"},
	{"threads", OPT_THREADS, true, CMD_RUN | CMD_BENCH | CMD_CALIBRATE, "worker threads (cpu target; 0: all CPUs)"},
	{"iters", OPT_ITERS, true, CMD_BENCH, "timed iterations (default 20)"},
	{"after", OPT_AFTER, true, CMD_DUMP, "PASS|import: stop the pipeline after PASS"},
	{"format", OPT_FORMAT, true, CMD_DUMP | CMD_COMPILE | CMD_RUN, "text | dot | json (dumps)"},
	{"elide", OPT_ELIDE, true, ALL_COMPILING, "print constants above N elements as a checksum (default 16)"},
	{"full", OPT_FULL, false, ALL_COMPILING, "print every constant in full"},
	{"help", OPT_HELP, false, ALL_COMPILING | CMD_INFO | CMD_CALIBRATE | CMD_ASM | CMD_DISASM | CMD_ACCEL_CONFIG, "this help"},
};

static const char *const command_names[] = {
	[CMD_COMPILE] = "compile", [CMD_RUN] = "run", [CMD_BENCH] = "bench", [CMD_DUMP] = "dump", [CMD_INFO] = "info",
	[CMD_CALIBRATE] = "calibrate", [CMD_ASM] = "asm", [CMD_DISASM] = "disasm", [CMD_ACCEL_CONFIG] = "accel-config",
};

static const char *const command_usage[] = {
	[CMD_COMPILE] = "nnzc compile MODEL.onnx -o OUT [--target cpu|accel] [--emit obj|asm|llvm|shared|onnx|ir|accel] [--header H] [--weights-file W] [compile flags]",
	[CMD_RUN] = "nnzc run MODEL.onnx [--target ref|cpu|accel] (--test-data DIR | -i NAME=FILE.pb... -o OUTDIR) [--rtol R] [--atol A] [compile flags]",
	[CMD_BENCH] = "nnzc bench MODEL.onnx [--target ref|cpu|accel] [--threads N] [--iters N] [--test-data DIR] [--per-layer [--report FILE]] [compile flags]",
	[CMD_DUMP] = "nnzc dump MODEL.onnx|MODEL.nnzir [--after PASS] [--format text|dot|json] [-o FILE] [compile flags]",
	[CMD_INFO] = "nnzc info MODEL.onnx|MODEL.nnzir|MODEL.o|MODEL.so|WEIGHTS (what nnzc compile wrote)",
	[CMD_ASM] = "nnzc asm IN.s -o OUT.nnza   (accelerator assembler; docs/accel-isa.md)",
	[CMD_DISASM] = "nnzc disasm IN.nnza [-o OUT.s]   (text that nnzc asm assembles back into the same bytes)",
	[CMD_ACCEL_CONFIG] = "nnzc accel-config PRESET|FILE [-o OUT]   (print an accelerator config; presets: dense stc vegeta demm gs)",
	[CMD_CALIBRATE] = "nnzc calibrate [--out FILE] [--threads N] [--cpu NAME] [--quick]   (cost model of the cpu target)",
};

void print_command_help(Command cmd, FILE *f)
{
	fprintf(f, "usage: %s\n\noptions:\n", command_usage[cmd]);
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		if (!(specs[i].cmds & cmd))
			continue;
		char left[64];
		snprintf(left, sizeof left, "%s%s%s", strlen(specs[i].name) == 1 ? "-" : "--", specs[i].name,
			 specs[i].has_arg ? " V" : "");
		fprintf(f, "  %-20s %s\n", left, specs[i].help);
	}
	if (cmd & ALL_COMPILING) {
		fprintf(f, "  %-20s %s\n", "-O0..-O3", "optimisation level (-O0: shape-infer only)");
		if (cmd == CMD_COMPILE) /* what each level means for the code (docs/abi.md) */
			fprintf(f, "  %-20s %s\n  %-20s %s\n  %-20s %s\n  %-20s %s\n", "  -O0",
				"graph: shape inference only; LLVM: no optimisation (fast to build, slow code)", "  -O1",
				"graph: default pipeline; LLVM O1, no vectorisers", "  -O2",
				"graph: default pipeline; LLVM O2 with loop and SLP vectorisers", "  -O3 (default)",
				"graph: default pipeline; LLVM O3 with vectorisers, aggressive code generation");
		fprintf(f, "\npasses (--passes, --print-after):\n");
		for (int i = 0; i < pass_table_size; i++)
			fprintf(f, "  %-20s %s\n", pass_table[i].name, pass_table[i].summary);
		fprintf(f, "default pipeline: %s (the cpu target appends subsample-1x1)\n", default_pipeline);
	}
}

static int parse_double(const char *s, double *v, const char *opt, Diag *d)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || *end || errno || !(*v >= 0))
		return diag_error(d, "--%s: expected a non-negative number, got '%s'", opt, s);
	return 0;
}

static int parse_int(const char *s, int lo, int hi, int *v, const char *opt, Diag *d)
{
	char *end;
	*v = lo; /* defined on the error path too */
	errno = 0;
	long x = strtol(s, &end, 10);
	if (end == s || *end || errno || x < lo || x > hi)
		return diag_error(d, "--%s: expected an integer in [%d, %d], got '%s'", opt, lo, hi, s);
	*v = (int)x;
	return 0;
}

/* NAME=D0,D1,... */
static int parse_input_shape(const char *s, InputShape *is, char *name, size_t cap, Diag *d)
{
	const char *eq = strrchr(s, '=');
	if (eq == NULL || eq == s)
		return diag_error(d, "--input-shape: expected NAME=D0,D1,..., got '%s'", s);
	size_t n = (size_t)(eq - s);
	if (n >= cap)
		return diag_error(d, "--input-shape: name too long");
	memcpy(name, s, n);
	name[n] = '\0';
	is->name = name;
	is->shape = shape_make(0, NULL);
	const char *p = eq + 1;
	if (*p == '\0')
		return 0; /* scalar */
	for (;;) {
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		if (end == p || errno || v < 0)
			return diag_error(d, "--input-shape %s: dims must be non-negative integers", name);
		if (is->shape.rank == NNZC_MAX_RANK)
			return diag_error(d, "--input-shape %s: more than %d dims", name, NNZC_MAX_RANK);
		is->shape.dim[is->shape.rank++] = v;
		if (*end == '\0')
			return 0;
		if (*end != ',' && *end != 'x')
			return diag_error(d, "--input-shape %s: expected , between dims", name);
		p = end + 1;
	}
}

/* --calib DIR | --calib-generate N[:SEED] (seed 1 by default); one or the other */
static int parse_calib(bool dir, const char *v, DriverOptions *o, Diag *d)
{
	if (o->calib || o->calib_generate)
		return diag_error(d, "--calib and --calib-generate: give one of them, once");
	if (dir) {
		o->calib = v;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	unsigned long long seed = 1;
	bool ok = end != v && !errno && n >= 1 && n <= 1000000;
	if (ok && *end == ':') {
		const char *p = end + 1;
		ok = *p >= '0' && *p <= '9';
		seed = strtoull(p, &end, 10);
		ok = ok && !errno;
	}
	if (!ok || *end)
		return diag_error(d, "--calib-generate: expected N[:SEED] with N in [1, 1000000], got '%s'", v);
	o->calib_generate = (int)n;
	o->calib_seed = seed;
	return 0;
}

static int apply(const OptSpec *sp, const char *v, DriverOptions *o, Diag *d)
{
	switch (sp->id) {
	case OPT_OUTPUT: o->output = v; return 0;
	case OPT_TARGET:
		if (strcmp(v, "ref") && strcmp(v, "cpu") && strcmp(v, "accel"))
			return diag_error(d, "--target: expected ref, cpu or accel, got '%s'", v);
		o->target = v;
		return 0;
	case OPT_EMIT: o->emit = v; return 0;
	case OPT_HEADER: o->header = v; return 0;
	case OPT_WEIGHTS_FILE: o->weights_file = v; return 0;
	case OPT_NAME: o->name = v; return 0;
	case OPT_CPU: o->cpu = v; return 0;
	case OPT_INPUT_SHAPE:
		if (o->n_input_shapes == MAX_CLI_INPUTS)
			return diag_error(d, "too many --input-shape options");
		o->n_input_shapes++;
		return parse_input_shape(v, &o->input_shapes[o->n_input_shapes - 1], o->input_shape_names[o->n_input_shapes - 1],
					 sizeof o->input_shape_names[0], d);
	case OPT_PASSES: o->passes = v; return 0;
	case OPT_PRUNE: o->prune = v; return 0;
	case OPT_DETECT: o->detect = true; return 0;
	case OPT_PRUNE_GLOBAL: o->prune_global = true; return 0;
	case OPT_PRUNE_KEEP: o->prune_keep = v; return 0;
	case OPT_PRUNE_LAYER:
		if (o->n_prune_layers == MAX_CLI_INPUTS)
			return diag_error(d, "too many --prune-layer options");
		if (strchr(v, '=') == NULL || strchr(v, ';'))
			return diag_error(d, "--prune-layer: expected GLOB=SPEC, got '%s'", v);
		o->prune_layers[o->n_prune_layers++] = v;
		return 0;
	case OPT_PATTERN: o->pattern = v; return 0;
	case OPT_TASD: o->tasd = v; return 0;
	case OPT_TASD_ACT: o->tasd_activations = v; return 0;
	case OPT_ACCEL_CONFIG: o->accel_config = v; return 0;
	case OPT_PRINT_AFTER: o->print_after = v; return 0;
	case OPT_TIME_PASSES: o->time_passes = true; return 0;
	case OPT_REPORT: o->report = v; return 0;
	case OPT_NO_VERIFY: o->no_verify = true; return 0;
	case OPT_TEST_DATA: o->test_data = v; return 0;
	case OPT_INPUT: {
		const char *eq = strchr(v, '=');
		if (o->n_inputs == MAX_CLI_INPUTS)
			return diag_error(d, "too many -i options");
		if (eq == NULL || eq == v || eq[1] == '\0')
			return diag_error(d, "-i: expected NAME=FILE.pb, got '%s'", v);
		char *name = o->input_names[o->n_inputs];
		if ((size_t)(eq - v) >= sizeof o->input_names[0])
			return diag_error(d, "-i: name too long");
		memcpy(name, v, (size_t)(eq - v));
		name[eq - v] = '\0';
		o->inputs[o->n_inputs].name = name;
		o->inputs[o->n_inputs++].path = eq + 1;
		return 0;
	}
	case OPT_RTOL: return parse_double(v, &o->rtol, "rtol", d);
	case OPT_ATOL: return parse_double(v, &o->atol, "atol", d);
	case OPT_THREADS: return parse_int(v, 0, 1024, &o->threads, "threads", d);
	case OPT_ITERS: return parse_int(v, 1, 1000000, &o->iters, "iters", d);
	case OPT_AFTER: o->after = v; return 0;
	case OPT_FORMAT:
		if (strcmp(v, "text") == 0)
			o->format = DUMP_TEXT;
		else if (strcmp(v, "dot") == 0)
			o->format = DUMP_DOT;
		else if (strcmp(v, "json") == 0)
			o->format = DUMP_JSON;
		else
			return diag_error(d, "--format: expected text, dot or json, got '%s'", v);
		return 0;
	case OPT_ELIDE: {
		int n = 0;
		if (parse_int(v, 0, 1 << 30, &n, "elide", d) < 0)
			return -1;
		o->elide_above = n;
		return 0;
	}
	case OPT_FULL: o->elide_above = -1; return 0;
	case OPT_HELP: return 0;
	case OPT_CALIB:
	case OPT_CALIB_GENERATE: return parse_calib(sp->id == OPT_CALIB, v, o, d);
	case OPT_KERNELS: return cpu_kernels_parse(v, &o->kernels, &o->sparse_kind, d);
	case OPT_COST_MODEL: o->cost_model = v; return 0;
	case OPT_PER_LAYER: o->per_layer = true; return 0;
	case OPT_OUT: o->output = v; return 0;
	case OPT_QUICK: o->quick = true; return 0;
	}
	return 0;
}

int parse_options(Command cmd, int argc, char **argv, DriverOptions *o, Diag *d)
{
	memset(o, 0, sizeof *o);
	o->cmd = cmd;
	o->target = "ref";
	o->opt_level = -1;
	o->rtol = 1e-3;
	o->atol = 1e-5;
	o->threads = 1;
	o->iters = 20;
	o->elide_above = 16;
	o->format = DUMP_TEXT;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0') {
			if (o->model)
				return diag_error(d, "unexpected argument '%s' (the model is '%s')", a, o->model);
			o->model = a;
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		if ((cmd & ALL_COMPILING) && name[0] == 'O' && name[1] >= '0' && name[1] <= '3' && name[2] == '\0') {
			o->opt_level = name[1] - '0';
			continue;
		}
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const OptSpec *sp = NULL;
		for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
			if (strlen(specs[k].name) == len && strncmp(specs[k].name, name, len) == 0)
				sp = &specs[k];
		if (sp == NULL)
			return diag_error(d, "unknown option '%s' (see nnzc %s --help)", a, command_names[cmd]);
		if (!(sp->cmds & cmd))
			return diag_error(d, "option '%s' does not apply to 'nnzc %s'", a, command_names[cmd]);
		if (sp->id == OPT_HELP) {
			print_command_help(cmd, stdout);
			return 1;
		}
		const char *val = NULL;
		if (sp->has_arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return diag_error(d, "option '%s' needs a value", a);
		} else if (eq) {
			return diag_error(d, "option '--%s' takes no value", sp->name);
		}
		if (apply(sp, val, o, d) < 0)
			return -1;
	}
	if (cmd == CMD_CALIBRATE) {
		if (o->model)
			return diag_error(d, "nnzc calibrate takes no model ('%s')", o->model);
		return 0;
	}
	if (o->model == NULL)
		return diag_error(d, "no model given (usage: %s)", command_usage[cmd]);
	return 0;
}

void driver_cpu_options(const DriverOptions *o, CpuOptions *co)
{
	*co = (CpuOptions){.cpu = o->cpu, .opt_level = o->opt_level < 0 ? 3 : o->opt_level, .prefix = o->name,
			   .kernels = o->kernels, .sparse_kind = o->sparse_kind, .cost_model = o->cost_model};
}

const char *driver_compile_emit(const DriverOptions *o)
{
	return o->emit ? o->emit : strcmp(o->target, "accel") == 0 ? "accel" : "obj";
}

/* Does the command hand the graph to the cpu target's code generator? */
static bool runs_cpu_target(const DriverOptions *o)
{
	if (o->cmd == CMD_COMPILE) {
		const char *emit = driver_compile_emit(o);
		return strcmp(emit, "obj") == 0 || strcmp(emit, "asm") == 0 || strcmp(emit, "llvm") == 0 ||
		       strcmp(emit, "shared") == 0;
	}
	return (o->cmd == CMD_RUN || o->cmd == CMD_BENCH) && strcmp(o->target, "cpu") == 0;
}

int build_pipeline(const DriverOptions *o, Pipeline *p, Diag *d)
{
	const char *base = o->passes ? o->passes : o->opt_level == 0 ? "shape-infer" : default_pipeline;
	if (pipeline_parse(base, p, d) < 0)
		return -1;
	/* detection first: the passes after it see the encodings a model was pruned to elsewhere */
	if (o->detect && pipeline_append(p, "detect-sparsity", NULL, d) < 0)
		return -1;
	if (o->prune || o->prune_keep || o->n_prune_layers || o->prune_global) {
		/* --prune SPEC --prune-global --prune-keep K --prune-layer G=S... is the pass argument
		 * SPEC;global;keep=K;G=S... (without --prune the default pattern is dense) */
		if (o->prune_global && o->prune == NULL)
			return diag_error(d, "--prune-global: no --prune pattern to rank globally");
		char arg[sizeof p->step[0].arg];
		size_t n = (size_t)snprintf(arg, sizeof arg, "%s", o->prune ? o->prune : "dense");
		if (o->prune_global && n < sizeof arg)
			n += (size_t)snprintf(arg + n, sizeof arg - n, ";global");
		if (o->prune_keep && n < sizeof arg)
			n += (size_t)snprintf(arg + n, sizeof arg - n, ";keep=%s", o->prune_keep);
		for (int i = 0; i < o->n_prune_layers && n < sizeof arg; i++)
			n += (size_t)snprintf(arg + n, sizeof arg - n, ";%s", o->prune_layers[i]);
		if (n >= sizeof arg)
			return diag_error(d, "--prune options longer than %d characters together", (int)sizeof arg - 1);
		if (pipeline_append(p, "prune", arg, d) < 0)
			return -1;
	}
	if (o->pattern && pipeline_append(p, "convert-pattern", o->pattern, d) < 0)
		return -1;
	if (o->tasd && pipeline_append(p, "tasd", o->tasd, d) < 0)
		return -1;
	if (o->tasd_activations && pipeline_append(p, "tasd-activations", o->tasd_activations, d) < 0)
		return -1;
	/* the cpu target's own rewrite, last: the passes before it see the model's convolutions */
	if (o->passes == NULL && o->opt_level != 0 && runs_cpu_target(o) && pipeline_append(p, "subsample-1x1", NULL, d) < 0)
		return -1;
	return 0;
}
