/* The nnzc command-line driver: option parsing shared by every command, and the commands. */
#ifndef NNZC_DRIVER_H
#define NNZC_DRIVER_H

#include "nnzc/ir.h"

#define MAX_CLI_INPUTS 64

typedef enum Command { CMD_COMPILE = 1, CMD_RUN = 2, CMD_BENCH = 4, CMD_DUMP = 8, CMD_INFO = 16 } Command;

typedef struct NamedFile { const char *name, *path; } NamedFile;

typedef struct DriverOptions {
	Command cmd;
	const char *model;         /* positional */
	const char *output;        /* -o */
	const char *target;        /* --target ref|cpu|accel */
	const char *emit;          /* --emit obj|asm|llvm|shared|onnx|accel|ir */
	const char *header, *name, *cpu, *accel_config, *report;
	int opt_level;             /* -O0..-O3; -1: default */
	InputShape input_shapes[MAX_CLI_INPUTS];
	char input_shape_names[MAX_CLI_INPUTS][256];
	int n_input_shapes;
	const char *passes;        /* --passes */
	const char *prune, *pattern, *tasd;
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
	Shape data_shapes[MAX_CLI_INPUTS]; /* shapes of the --test-data inputs, by position */
	int n_data_shapes;
} DriverOptions;

/* options.c */
int parse_options(Command cmd, int argc, char **argv, DriverOptions *o, Diag *d);
void print_command_help(Command cmd, FILE *f);
/* The pipeline the flags ask for (-O level, --passes, --prune/--pattern/--tasd). */
int build_pipeline(const DriverOptions *o, Pipeline *p, Diag *d);
/* Load MODEL (.onnx, or a text IR dump) and run the pipeline with the instruments the flags ask
 * for; `stop_after` truncates the pipeline after that pass ("import": none). */
Graph *load_and_optimize(const DriverOptions *o, const char *stop_after, double *pass_seconds, Pipeline *ran, Diag *d);

/* runner.c: run/bench execute through the target the flags name */
typedef struct Runner {
	const Graph *g;
	CpuModel *cpu; /* NULL: the reference interpreter */
	int threads;
} Runner;
int runner_open(Runner *r, const Graph *g, const DriverOptions *o, Diag *d);
int runner_run(Runner *r, const Tensor *inputs, Tensor *outputs, Diag *d);
void runner_close(Runner *r);

/* one file per command */
int cmd_compile(const DriverOptions *o, Diag *d);
int cmd_run(const DriverOptions *o, Diag *d);
int cmd_bench(const DriverOptions *o, Diag *d);
int cmd_dump(const DriverOptions *o, Diag *d);
int cmd_info(const DriverOptions *o, Diag *d);

/* test_data.c: the ONNX backend-test folder layout */
typedef struct TensorList { int n; Tensor *t; char (*names)[256]; } TensorList;
int read_tensor_files(const char *dir, const char *prefix, TensorList *out, Diag *d);
void tensor_list_free(TensorList *l);
int list_test_sets(const char *dir, char ***sets, int *n, Diag *d);
/* onnx 1.12 writes bfloat16 test tensors as UINT16 bit patterns (numpy has no bfloat16): read
 * such a tensor as the bf16 values the model declares. */
int adopt_bf16_bits(Tensor *t, DType declared, Diag *d);
/* Record the shapes of the first test set's inputs in o->data_shapes. Best effort: files it
 * cannot read are reported later, after the model itself has been checked. */
void note_test_data_shapes(DriverOptions *o);

#endif
