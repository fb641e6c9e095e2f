/* The nnzc command-line driver: option parsing shared by every command, and the commands. */
#ifndef NNZC_DRIVER_H
#define NNZC_DRIVER_H

#include "nnzc/ir.h"

#define MAX_CLI_INPUTS 64

typedef enum Command { CMD_COMPILE = 1, CMD_RUN = 2, CMD_BENCH = 4, CMD_DUMP = 8, CMD_INFO = 16, CMD_CALIBRATE = 32,
	CMD_ASM = 64, CMD_DISASM = 128, CMD_ACCEL_CONFIG = 256 } Command;

typedef struct NamedFile { const char *name, *path; } NamedFile;

typedef struct DriverOptions {
	Command cmd;
	const char *model;         /* positional */
	const char *output;        /* -o */
	const char *target;        /* --target ref|cpu|accel */
	const char *emit;          /* --emit obj|asm|llvm|shared|onnx|accel|ir */
	const char *header, *name, *cpu, *accel_config, *report;
	const char *weights_file;  /* compile --weights-file (cpu target) */
	int opt_level;             /* -O0..-O3; -1: default */
	InputShape input_shapes[MAX_CLI_INPUTS];
	char input_shape_names[MAX_CLI_INPUTS][256];
	int n_input_shapes;
	const char *passes;        /* --passes */
	const char *prune, *pattern, *tasd, *tasd_activations;
	bool prune_global;         /* --prune-global */
	bool detect;               /* --detect */
	const char *prune_keep;    /* --prune-keep first,last */
	const char *prune_layers[MAX_CLI_INPUTS]; /* --prune-layer GLOB=SPEC (repeatable) */
	int n_prune_layers;
	const char *print_after;   /* --print-after */
	bool time_passes, no_verify;
	const char *after;         /* dump --after */
	DumpFormat format;         /* dump --format */
	int64_t elide_above;       /* --elide N / --full */
	const char *test_data;     /* run --test-data */
	NamedFile inputs[MAX_CLI_INPUTS]; /* run -i NAME=FILE.pb */
	char input_names[MAX_CLI_INPUTS][256];
	int n_inputs;
	double rtol, atol;
	int threads, iters;
	const char *calib;         /* compile --calib DIR: calibration inputs for the accuracy report */
	int calib_generate;        /* compile --calib-generate N[:SEED]: N generated inputs (0: none) */
	uint64_t calib_seed;
	CpuKernels kernels;        /* --kernels (cpu target) */
	int sparse_kind;           /* --kernels KIND: the one sparse kernel kind allowed, 0: any */
	const char *cost_model;    /* --cost-model FILE|defaults (cpu target) */
	bool per_layer;            /* bench --per-layer */
	bool quick;                /* calibrate --quick */
} DriverOptions;

/* options.c */
int parse_options(Command cmd, int argc, char **argv, DriverOptions *o, Diag *d);
void print_command_help(Command cmd, FILE *f);
/* The cpu target's options the flags ask for (--cpu, -O, --kernels, --cost-model); the caller
 * sets the outputs. */
void driver_cpu_options(const DriverOptions *o, CpuOptions *co);
/* What `compile` writes: --emit, else accel for --target accel and obj otherwise. */
const char *driver_compile_emit(const DriverOptions *o);
/* The pipeline the flags ask for (-O level, --passes, --prune/--pattern/--tasd), and the cpu
 * target's subsample-1x1 when it compiles with the default pipeline. */
int build_pipeline(const DriverOptions *o, Pipeline *p, Diag *d);
/* Load MODEL (.onnx, or a text IR dump) and run the pipeline with the instruments the flags ask
 * for; `stop_after` truncates the pipeline after that pass ("import": none). */
Graph *load_and_optimize(const DriverOptions *o, const char *stop_after, double *pass_seconds, Pipeline *ran, Diag *d);

/* runner.c: run/bench execute through the target the flags name */
typedef struct Runner {
	const Graph *g;
	CpuModel *cpu; /* NULL: the reference interpreter */
	int threads;
	struct nnzrt_accel_program *accel; /* --target accel: the loaded program */
	struct nnzrt_accel_stats *stats;   /* its modeled cost in the last run (accel), or NULL */
	int host_first;                    /* accel: nodes from this index on run on targets/ref (the
					    * host), counted apart; g->n_nodes when none */
} Runner;
int runner_open(Runner *r, const Graph *g, const DriverOptions *o, Diag *d);
int runner_run(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d);
/* Again, into the outputs of the last run: the cpu target overwrites them (a benchmark loop then
 * times the model, not an allocation and zero fill of its outputs); the others allocate anew. */
int runner_rerun(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d);
void runner_close(Runner *r);
/* runner.c, the accel target: the config --accel-config names (default: the dense preset);
 * weights the config cannot run re-encoded (accel_fit_weights, remarks on stderr); g lowered and
 * serialised into a validated .nnza (*bytes malloc'd). */
struct nnzrt_accel_config;
int accel_load_config(const DriverOptions *o, struct nnzrt_accel_config *cfg, Diag *d);
int accel_prepare(Graph *g, const struct nnzrt_accel_config *cfg, Diag *d);
int accel_build(const Graph *g, const struct nnzrt_accel_config *cfg, unsigned char **bytes, size_t *len, Diag *d);
/* --report of run/bench with the accel target: per-layer cycles, utilisation, bytes, energy */
int accel_write_report(const DriverOptions *o, const Runner *r, Diag *d);

/* one file per command */
int cmd_compile(const DriverOptions *o, Diag *d);
int cmd_run(const DriverOptions *o, Diag *d);
int cmd_bench(const DriverOptions *o, Diag *d);
int cmd_dump(const DriverOptions *o, Diag *d);
int cmd_info(const DriverOptions *o, Diag *d);
int cmd_calibrate(const DriverOptions *o, Diag *d);
/* cmd_asm.c: the accelerator's .nnza text form and configs */
int cmd_asm(const DriverOptions *o, Diag *d);
int cmd_disasm(const DriverOptions *o, Diag *d);
int cmd_accel_config(const DriverOptions *o, Diag *d);
/* nnzc info on a .nnza (recognised by its magic): summary and disassembly without constants */
bool is_nnza_file(const char *path);
int nnza_info(const char *path, Diag *d);
/* cmd_compile.c: a cpu layer's cost-model fields of the JSON reports ("choice", "predicted_ms",
 * "dense_predicted_ms"), predictions scaled from the model's thread count to `threads` */
void json_layer_choice(const CpuLayer *l, int cost_threads, int threads, FILE *f);

/* test_data.c: the ONNX backend-test folder layout */
typedef struct TensorList { int n; Tensor *t; char (*names)[256]; } TensorList;
int read_tensor_files(const char *dir, const char *prefix, TensorList *out, Diag *d);
void tensor_list_free(TensorList *l);
int list_test_sets(const char *dir, char ***sets, int *n, Diag *d);
/* onnx 1.12 writes bfloat16 test tensors as UINT16 bit patterns (numpy has no bfloat16): read
 * such a tensor as the bf16 values the model declares. */
int adopt_bf16_bits(Tensor *t, DType declared, Diag *d);
/* The input data of a run or bench, read before the model is compiled: the first --test-data
 * set (by input position) or the -i files (by name: tl.names are the -i names). */
typedef struct RunData { TensorList tl; bool by_name; } RunData;
/* Best effort: files it cannot read are left out here and reported when the run reads them,
 * after the model itself has been checked. */
void read_run_data(const DriverOptions *o, RunData *rd);
/* The model's inputs as imported, and which of them load_for_run froze into constants. */
typedef struct ModelInputs {
	int n;
	char **name;
	DType *dtype;
	Tensor *frozen; /* by position: the value it was frozen to; data NULL: still a graph input */
} ModelInputs;
void model_inputs_free(ModelInputs *mi);
/* The -i files as g's inputs (graph order); names of frozen inputs are accepted and skipped. */
int read_named_inputs(const DriverOptions *o, const Graph *g, const ModelInputs *mi, Tensor *in, Diag *d);

/* load.c: load_and_optimize for run and bench. With a target that needs static shapes (all but
 * ref), the inputs whose values decide a shape are frozen from rd into constants before the
 * pipeline runs (one line on stderr each), specialising the compiled model to those values. */
Graph *load_for_run(const DriverOptions *o, const RunData *rd, ModelInputs *mi, Diag *d);
/* all: one tensor per model input (by position); out: g's inputs, shallow copies of the unfrozen
 * ones. Returns 1 if a frozen input's data differs from its frozen value (the model must be
 * specialised again), else 0. */
int select_graph_inputs(const ModelInputs *mi, const Graph *g, const Tensor *all, Tensor *out);

/* accuracy.c: the transformed model against its dense reference on calibration inputs, both run
 * by the reference interpreter. Needs only the compiler library, so the unit test links it
 * without the rest of the driver. Names are copies: a report outlives the graphs. */
typedef struct LayerAccuracy {
	char *node;              /* a node both graphs have (by name) */
	const char *op;          /* its op in the transformed graph */
	bool weight_layer;       /* Conv, FusedConv, ConvTranspose, Gemm, FusedGemm, MatMul: in the table */
	int samples;             /* inputs on which its outputs were compared */
	double rel_l2_sum, rel_l2_max; /* of ||y' - y|| / ||y|| over all its float outputs */
} LayerAccuracy;

typedef struct OutputAccuracy {
	char *name;
	int samples;
	double max_abs, rel_l2_sum, rel_l2_max, cos_sum, cos_min;
	int64_t top1_agree, top1_total; /* rows whose argmax agrees; top1_total 0: not class scores */
} OutputAccuracy;

typedef struct AccuracyReport {
	int samples;
	LayerAccuracy *layers; int n_layers;    /* topological order of the transformed graph */
	OutputAccuracy *outputs; int n_outputs; /* graph output order */
	/* what the caller says it compared, for the table and the JSON */
	char *calib_dir;         /* --calib DIR, or NULL for generated inputs */
	uint64_t seed;           /* generated inputs */
	char *reference;         /* the dense pipeline, "shape-infer,fuse,..." */
	char *removed;           /* the sparsity steps it leaves out, "prune(nm:2:4)"; "" if none */
	struct AccuracyState *state; /* accuracy.c's bookkeeping while samples are added */
} AccuracyReport;

/* One comparison of got against ref (same element count): ||got - ref|| / ||ref|| (0 when both
 * are zero, inf when only ref is), cosine similarity (1 when both are zero, 0 when one is), and
 * max |got - ref|. */
typedef struct TensorCompare { double rel_l2, cosine, max_abs; } TensorCompare;
TensorCompare tensor_compare(const Tensor *got, const Tensor *ref);
/* Class scores are float tensors of rank 1 [C] or 2 [N, C] with C > 1: count the rows whose
 * argmax (first maximum) agrees. false for anything else. */
bool top1_agreement(const Tensor *got, const Tensor *ref, int64_t *agree, int64_t *rows);

/* Pair the nodes of g with those of dense by name (the report starts empty). */
int accuracy_begin(AccuracyReport *r, const Graph *dense, const Graph *g, Diag *d);
/* Run both graphs on one input set (graph input order) and add its errors; the dense run keeps
 * a copy of the paired nodes' outputs of this input only, which the transformed run consumes. */
int accuracy_add_sample(AccuracyReport *r, const Graph *dense, const Graph *g, const Tensor *inputs, Diag *d);
void accuracy_print_table(const AccuracyReport *r, FILE *f);
void accuracy_print_json(const AccuracyReport *r, FILE *f);
void accuracy_free(AccuracyReport *r); /* also frees r itself; NULL is fine */

/* calib.c: calibration inputs, and the accuracy report of nnzc compile */
typedef struct CalibSet {
	const Graph *g;          /* whose inputs the samples are for */
	const char *dir;         /* --calib DIR, or NULL: generated */
	char **sets; int n_sets; /* sample folders (DIR/test_data_set_* or DIR itself) */
	int n;                   /* samples */
	uint64_t seed;
} CalibSet;
/* Find the samples the options ask for and check every one against g's inputs. */
int calib_open(CalibSet *c, const DriverOptions *o, const Graph *g, Diag *d);
/* Sample k as g->n_inputs tensors in graph input order; the caller frees them. */
int calib_get(const CalibSet *c, int k, Tensor *inputs, Diag *d);
void calib_close(CalibSet *c);
/* With --calib or --calib-generate: build the dense reference (the pipeline without its sparsity
 * passes), compare g against it, print the table on stderr and return the report in *out (NULL
 * without calibration options). Nothing is written to files here. */
int accuracy_evaluate(const DriverOptions *o, const Graph *g, AccuracyReport **out, Diag *d);

#endif
