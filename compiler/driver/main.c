/* nnzc: the command-line driver. Every failure is one line on stderr, "nnzc: error: ...", and
 * a non-zero exit: 1 for errors and failed checks, 2 for usage errors, 3 when the model uses
 * op types nnzc does not implement. */
#include "driver.h"

#include <string.h>

static const struct {
	const char *name;
	Command cmd;
	int (*run)(const DriverOptions *, Diag *);
	const char *summary;
} commands[] = {
	{"compile", CMD_COMPILE, cmd_compile, "compile a model (optimised ONNX or IR for now)"},
	{"run", CMD_RUN, cmd_run, "run a model on inputs; check it against expected outputs"},
	{"bench", CMD_BENCH, cmd_bench, "time a model; the last line is JSON"},
	{"dump", CMD_DUMP, cmd_dump, "print the IR after the pipeline or a given pass"},
	{"info", CMD_INFO, cmd_info, "inputs, outputs, ops and weights of a model"},
	{"asm", CMD_ASM, cmd_asm, "assemble accelerator text into a .nnza program"},
	{"disasm", CMD_DISASM, cmd_disasm, "print a .nnza program as text that assembles back"},
	{"accel-config", CMD_ACCEL_CONFIG, cmd_accel_config, "print an accelerator preset or config file"},
	{"calibrate", CMD_CALIBRATE, cmd_calibrate, "measure this CPU and write the cpu target's cost model"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: nnzc COMMAND [options]   (nnzc COMMAND --help for its options)\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nnzc 0.1.0\n");
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		Diag d = {0};
		DriverOptions o;
		int r = parse_options(commands[i].cmd, argc - 2, argv + 2, &o, &d);
		if (r > 0)
			return 0; /* --help */
		if (r < 0) {
			fprintf(stderr, "nnzc: error: %s\n", d.msg);
			return 2;
		}
		r = commands[i].run(&o, &d);
		fflush(stdout);
		if (r < 0) {
			fprintf(stderr, "nnzc: error: %s\n", d.msg);
			return d.code == DIAG_UNSUPPORTED ? 3 : 1;
		}
		return r > 0 ? 1 : 0;
	}
	fprintf(stderr, "nnzc: error: unknown command '%s' (nnzc --help lists them)\n", argv[1]);
	return 2;
}
