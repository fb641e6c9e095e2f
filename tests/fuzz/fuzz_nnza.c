/* libFuzzer target for the accelerator runtime's untrusted inputs: the .nnza loader (every
 * check in runtime/accel_load.c and accel_isa.c) and, on the same bytes, the config parser
 * (runtime/accel_config.c). A program that loads is also printed, which walks every decoded
 * field, so the disassembler is fuzzed too. Seeds: tests/hostile/nnza (fuzz.cmake). */
#include "nnzrt_accel.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (devnull == NULL)
		devnull = fopen("/dev/null", "w");
	nnzrt_accel_program *p = NULL;
	if (nnzrt_accel_load(data, size, &p) == NNZRT_OK) {
		if (devnull)
			nnzrt_accel_print(p, NNZRT_ACCEL_PRINT_SUMMARY | NNZRT_ACCEL_PRINT_SOURCE, devnull);
		nnzrt_accel_free(p);
	}
	nnzrt_accel_config c;
	if (nnzrt_accel_config_parse((const char *)data, size, "fuzz", &c) == NNZRT_OK) {
		char buf[4096];
		nnzrt_accel_config_print(&c, buf, sizeof buf);
		(void)nnzrt_accel_config_fingerprint(&c);
	}
	return 0;
}
