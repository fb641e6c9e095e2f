/* The accelerator's text tools: nnzc asm (text -> .nnza), nnzc disasm (.nnza -> text that
 * assembles back into the same bytes), nnzc accel-config (a preset or config file printed as a
 * config file), and nnzc info on a .nnza. The formats are the runtime's (docs/accel-isa.md). */
#include "driver.h"
#include "targets/accel/accel.h"

#include <stdlib.h>
#include <string.h>

int cmd_asm(const DriverOptions *o, Diag *d)
{
	if (o->output == NULL)
		return diag_error(d, "asm: no output file (-o OUT.nnza)");
	return nnza_assemble_file(o->model, o->output, d);
}

/* Prints p to -o FILE (outfile: written whole, then renamed) or stdout. */
static int print_program(const nnzrt_accel_program *p, unsigned what, const char *output, Diag *d)
{
	if (output == NULL) {
		if (nnzrt_accel_print(p, what, stdout) != 0)
			return diag_error(d, "%s", nnzrt_errmsg());
		return 0;
	}
	OutFile of = {0};
	if (outfile_open(&of, output, d) < 0)
		return -1;
	if (nnzrt_accel_print(p, what, of.f) != 0) {
		outfile_abort(&of);
		return diag_error(d, "%s: %s", output, nnzrt_errmsg());
	}
	return outfile_commit(&of, d);
}

int cmd_disasm(const DriverOptions *o, Diag *d)
{
	nnzrt_accel_program *p;
	if (nnzrt_accel_load_file(o->model, &p) != 0)
		return diag_error(d, "%s", nnzrt_errmsg());
	int r = print_program(p, NNZRT_ACCEL_PRINT_SOURCE, o->output, d);
	nnzrt_accel_free(p);
	return r;
}

/* by extension (so that a damaged .nnza gets the container's diagnosis), else by magic */
bool is_nnza_file(const char *path)
{
	size_t n = strlen(path);
	if (n >= 5 && strcmp(path + n - 5, ".nnza") == 0)
		return true;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	char m[4];
	bool yes = fread(m, 1, 4, f) == 4 && memcmp(m, ACCEL_MAGIC, 4) == 0;
	fclose(f);
	return yes;
}

int nnza_info(const char *path, Diag *d)
{
	nnzrt_accel_program *p;
	if (nnzrt_accel_load_file(path, &p) != 0)
		return diag_error(d, "%s", nnzrt_errmsg());
	printf("# %s\n", path);
	int r = print_program(p, NNZRT_ACCEL_PRINT_SUMMARY | NNZRT_ACCEL_PRINT_SOURCE | NNZRT_ACCEL_PRINT_NO_CONSTS, NULL, d);
	nnzrt_accel_free(p);
	return r;
}

int cmd_accel_config(const DriverOptions *o, Diag *d)
{
	/* a preset prints as its commented source text; a file as its canonical form. Both load
	 * back as the same config (tests/unit/test_accel_config.c). */
	const char *text = nnzrt_accel_preset_text(o->model);
	char *canon = NULL;
	nnzrt_accel_config c;
	if (nnzrt_accel_config_load(o->model, &c) != 0)
		return diag_error(d, "%s", nnzrt_errmsg());
	if (text == NULL) {
		size_t n = nnzrt_accel_config_print(&c, NULL, 0);
		canon = malloc(n + 1);
		if (canon == NULL)
			return diag_error(d, "out of memory");
		nnzrt_accel_config_print(&c, canon, n + 1);
		text = canon;
	}
	int r = 0;
	OutFile of = {0};
	FILE *f = stdout;
	if (o->output) {
		if (outfile_open(&of, o->output, d) < 0) {
			free(canon);
			return -1;
		}
		f = of.f;
	}
	fputs(text, f);
	fprintf(f, "# fingerprint 0x%016llx\n", (unsigned long long)nnzrt_accel_config_fingerprint(&c));
	if (o->output)
		r = outfile_commit(&of, d);
	else if (fflush(f) != 0)
		r = diag_error(d, "stdout: write error");
	free(canon);
	return r;
}
