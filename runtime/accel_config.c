/* Accelerator configurations: the text format (docs/accelerator.md), the compiled-in presets,
 * the canonical printer and the fingerprint.
 *
 * A config is `key = value` lines; `#` starts a comment; blank lines are ignored. Every key of
 * the table below is required once, unless the first key is `base = PRESET`, which starts from
 * that preset. Errors name "WHERE:LINE". The canonical form prints every key in table order
 * with numbers in their shortest exact form, so that parse(print(c)) == c and two configs that
 * mean the same thing hash the same. */
#include "accel_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- keys */

typedef enum KeyType { KT_NAME, KT_DATAFLOW, KT_INT, KT_I64, KT_DOUBLE, KT_MODES } KeyType;

typedef struct Key {
	const char *name;
	KeyType type;
	size_t offset;
	double lo, hi; /* inclusive range of numbers; a double's lo is exclusive when lo_open */
	bool lo_open;
} Key;

#define OFF(m) offsetof(nnzrt_accel_config, m)
static const Key keys[] = {
	{"name", KT_NAME, OFF(name), 0, 0, false},
	{"dataflow", KT_DATAFLOW, OFF(dataflow), 0, 0, false},
	{"array_rows", KT_INT, OFF(array_rows), 1, 4096, false},
	{"array_cols", KT_INT, OFF(array_cols), 1, 4096, false},
	{"vector_lanes", KT_INT, OFF(vector_lanes), 1, 4096, false},
	{"read_ports", KT_INT, OFF(read_ports), 0, 256, false},
	{"sram_banks", KT_INT, OFF(sram_banks), 1, 1024, false},
	{"modes", KT_MODES, OFF(n_modes), 0, 0, false},
	{"clock_mhz", KT_DOUBLE, OFF(clock_mhz), 0, 100000, true},
	{"data_bits", KT_INT, OFF(data_bits), 8, 32, false},
	{"w_buffer_kib", KT_I64, OFF(buffer_kib[NNZRT_ACCEL_BUF_W]), 1, 65536, false},
	{"i_buffer_kib", KT_I64, OFF(buffer_kib[NNZRT_ACCEL_BUF_I]), 1, 65536, false},
	{"o_buffer_kib", KT_I64, OFF(buffer_kib[NNZRT_ACCEL_BUF_O]), 1, 65536, false},
	{"x_buffer_kib", KT_I64, OFF(buffer_kib[NNZRT_ACCEL_BUF_X]), 0, 65536, false},
	{"dram_gb_per_s", KT_DOUBLE, OFF(dram_gb_per_s), 0, 1e6, true},
	{"sram_bytes_per_cycle", KT_INT, OFF(sram_bytes_per_cycle), 1, 65536, false},
	{"energy_mac_pj", KT_DOUBLE, OFF(energy_mac_pj), 0, 1e6, false},
	{"energy_reg_pj_per_byte", KT_DOUBLE, OFF(energy_reg_pj_per_byte), 0, 1e6, false},
	{"energy_dram_pj_per_byte", KT_DOUBLE, OFF(energy_dram_pj_per_byte), 0, 1e6, false},
	{"energy_w_sram_pj_per_byte", KT_DOUBLE, OFF(energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_W]), 0, 1e6, false},
	{"energy_i_sram_pj_per_byte", KT_DOUBLE, OFF(energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_I]), 0, 1e6, false},
	{"energy_o_sram_pj_per_byte", KT_DOUBLE, OFF(energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_O]), 0, 1e6, false},
	{"energy_x_sram_pj_per_byte", KT_DOUBLE, OFF(energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_X]), 0, 1e6, false},
};
#undef OFF
#define N_KEYS ((int)(sizeof keys / sizeof keys[0]))

static const char *const dataflow_names[] = {"systolic-ws", "sparse-tc", "demm", "gather-scatter"};
#define N_DATAFLOWS 4

/* ---------------------------------------------------------------- presets
 *
 * Sources of the numbers (docs/accelerator.md has the long form):
 *   [H] M. Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 0.9 V: 16-bit FP multiply
 *       1.1 pJ, 32-bit FP add 0.9 pJ; SRAM 64-bit access 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ
 *       (1 MB); DRAM 1.3-2.6 nJ per 64-bit access.
 *   SRAM energy per byte follows accel_sram_pj_per_byte() (a log-log interpolation of [H]'s
 *   three points); the register file is the same law extrapolated to 0.5 KB (Eyeriss' per-PE
 *   register file, Chen et al. ISCA 2016). Nothing is scaled to another node: all presets are
 *   45 nm so that they compare with each other, not with silicon.
 *   Every preset has 1,024 MACs at 1 GHz, the same buffers and DRAM, so that differences come
 *   from the sparsity support alone. */
#define COMMON_TAIL                                                                                    \
	"clock_mhz = 1000                  # all presets: same clock\n"                                    \
	"data_bits = 16                    # fp16/bf16 values in W, I and DRAM; O accumulates in fp32\n" \
	"w_buffer_kib = 256\n"                                                                             \
	"i_buffer_kib = 256\n"                                                                             \
	"o_buffer_kib = 128\n"                                                                             \
	"dram_gb_per_s = 64                # a chosen round figure between LPDDR5 x64 and one HBM2 stack\n" \
	"sram_bytes_per_cycle = 64         # per buffer port\n"                                            \
	"energy_mac_pj = 2                 # [H] fp16 multiply 1.1 pJ + fp32 add 0.9 pJ\n"                 \
	"energy_reg_pj_per_byte = 0.3125   # [H] law at 0.5 KB (Eyeriss PE register file)\n"               \
	"energy_dram_pj_per_byte = 243.75  # [H] midpoint of 1.3-2.6 nJ per 64 bits\n"                     \
	"energy_w_sram_pj_per_byte = 6.566 # [H] law at 256 KiB\n"                                         \
	"energy_i_sram_pj_per_byte = 6.566 # [H] law at 256 KiB\n"                                         \
	"energy_o_sram_pj_per_byte = 4.759 # [H] law at 128 KiB\n"

static const struct {
	const char *name, *text;
} presets[] = {
	{"dense",
	 "# dense: a weight-stationary systolic array (TPU v1-like, Jouppi et al. ISCA 2017), scaled\n"
	 "# down from 256x256 to 32x32 MACs. Runs dense products only.\n"
	 "name = dense\n"
	 "dataflow = systolic-ws\n"
	 "array_rows = 32\n"
	 "array_cols = 32\n"
	 "vector_lanes = 32\n"
	 "read_ports = 0\n"
	 "sram_banks = 1\n"
	 "modes = dense\n"
	 "x_buffer_kib = 0                  # no index buffer\n"
	 "energy_x_sram_pj_per_byte = 0\n" COMMON_TAIL},
	{"stc",
	 "# stc: a 2:4 sparse tensor core (NVIDIA A100 whitepaper 2020): 2:4 weights at twice the\n"
	 "# math throughput of dense, 2-bit indices selecting the activations.\n"
	 "name = stc\n"
	 "dataflow = sparse-tc\n"
	 "array_rows = 32\n"
	 "array_cols = 32\n"
	 "vector_lanes = 32\n"
	 "read_ports = 0\n"
	 "sram_banks = 1\n"
	 "modes = dense nm:2:4\n"
	 "x_buffer_kib = 64\n"
	 "energy_x_sram_pj_per_byte = 3.449 # [H] law at 64 KiB\n" COMMON_TAIL},
	{"vegeta",
	 "# vegeta: flexible N:M (Jeong et al., HPCA 2023): 1:4, 2:4 and 4:4 (dense as N:M), chosen\n"
	 "# per instruction, so row-wise N:M is a sequence of products over row blocks.\n"
	 "name = vegeta\n"
	 "dataflow = sparse-tc\n"
	 "array_rows = 32\n"
	 "array_cols = 32\n"
	 "vector_lanes = 32\n"
	 "read_ports = 0\n"
	 "sram_banks = 1\n"
	 "modes = dense nm:1:4 nm:2:4 nm:4:4\n"
	 "x_buffer_kib = 64\n"
	 "energy_x_sram_pj_per_byte = 3.449 # [H] law at 64 KiB\n" COMMON_TAIL},
	{"demm",
	 "# demm: relaxed N:128 / N:256 (Peltekis et al., IEEE CAL 2024): the dense operand sits in\n"
	 "# a memory block with 1 write and 8 read ports; each port feeds a row of 128 multiply-add\n"
	 "# units, row-wise product-first. N above the port count takes ceil(N / 8) passes (the\n"
	 "# paper's reconfiguration to denser kN:M patterns).\n"
	 "name = demm\n"
	 "dataflow = demm\n"
	 "array_rows = 8                    # = read ports\n"
	 "array_cols = 128\n"
	 "vector_lanes = 32\n"
	 "read_ports = 8\n"
	 "sram_banks = 1\n"
	 "modes = dense nm:1-128:128 nm:1-256:256\n"
	 "x_buffer_kib = 64\n"
	 "energy_x_sram_pj_per_byte = 3.449 # [H] law at 64 KiB\n" COMMON_TAIL},
	{"gs",
	 "# gs: a gather/scatter engine over a 16-bank scratchpad (Sun et al., arXiv 2112.10898):\n"
	 "# 16 rows advance one non-zero per step; their 16 reduction indices fall in distinct banks\n"
	 "# (gs(16,16) weights), so the gather never conflicts.\n"
	 "name = gs\n"
	 "dataflow = gather-scatter\n"
	 "array_rows = 16                   # = V lanes\n"
	 "array_cols = 64\n"
	 "vector_lanes = 32\n"
	 "read_ports = 0\n"
	 "sram_banks = 16\n"
	 "modes = dense gs:16:16\n"
	 "x_buffer_kib = 64\n"
	 "energy_x_sram_pj_per_byte = 3.449 # [H] law at 64 KiB\n" COMMON_TAIL},
};
#define N_PRESETS ((int)(sizeof presets / sizeof presets[0]))

const char *nnzrt_accel_preset_name(int i) { return i >= 0 && i < N_PRESETS ? presets[i].name : NULL; }

const char *nnzrt_accel_preset_text(const char *name)
{
	for (int i = 0; name && i < N_PRESETS; i++)
		if (strcmp(presets[i].name, name) == 0)
			return presets[i].text;
	return NULL;
}

double accel_sram_pj_per_byte(double kib)
{
	/* [H]: 10 pJ / 64 bits at 8 KB, 20 pJ at 32 KB, 100 pJ at 1 MB; a power law between the
	 * points (square root below 32 KB, exponent log 5 / log 32 above) */
	if (kib <= 32)
		return 1.25 * sqrt(kib / 8);
	return 2.5 * pow(kib / 32, log(5.0) / log(32.0));
}

/* ---------------------------------------------------------------- parsing */

typedef struct Parse {
	const char *where;
	int line;
	int key_line[N_KEYS]; /* 0: not given */
} Parse;

#define PFAIL(ps, ...) perr(ps, __VA_ARGS__)
static int perr(const Parse *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(const Parse *ps, const char *fmt, ...)
{
	char m[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (ps->line > 0)
		rt_set_errmsg("%s:%d: %s", ps->where, ps->line, m);
	else
		rt_set_errmsg("%s: %s", ps->where, m);
	return NNZRT_ERR_FORMAT;
}

static bool parse_long(const char *s, long *v)
{
	char *end;
	errno = 0;
	*v = strtol(s, &end, 10);
	return end != s && *end == '\0' && !errno;
}

/* one token of `modes` */
static int parse_mode(Parse *ps, const char *t, nnzrt_accel_mode *m)
{
	memset(m, 0, sizeof *m);
	long a, b, c;
	char x[64], y[64], z[64];
	if (strcmp(t, "dense") == 0) {
		m->kind = NNZRT_ACCEL_MODE_DENSE;
		return 0;
	}
	if (strlen(t) < sizeof x && sscanf(t, "nm:%63[0-9-]:%63[0-9]", x, z) == 2) {
		char *dash = strchr(x, '-');
		if (dash) {
			*dash = '\0';
			if (!parse_long(x, &a) || !parse_long(dash + 1, &b))
				goto bad;
		} else {
			if (!parse_long(x, &a))
				goto bad;
			b = a;
		}
		if (!parse_long(z, &c))
			goto bad;
		if (a == b)
			snprintf(y, sizeof y, "nm:%ld:%ld", a, c);
		else
			snprintf(y, sizeof y, "nm:%ld-%ld:%ld", a, b, c);
		if (c < 1 || c > 256 || a < 1 || a > b || b > c)
			return PFAIL(ps, "mode '%s': nm:N:M or nm:N1-N2:M needs 1 <= N1 <= N2 <= M <= 256", t);
		m->kind = NNZRT_ACCEL_MODE_NM;
		m->n_lo = (int)a;
		m->n_hi = (int)b;
		m->m = (int)c;
		if (strcmp(y, t) != 0)
			goto bad; /* trailing junk, leading zeros, signs */
		return 0;
	}
	if (strlen(t) < sizeof x && sscanf(t, "gs:%63[0-9]:%63[0-9]", x, z) == 2) {
		if (!parse_long(x, &a) || !parse_long(z, &b))
			goto bad;
		snprintf(y, sizeof y, "gs:%ld:%ld", a, b);
		if (strcmp(y, t) != 0)
			goto bad;
		if (a < 1 || a > b || b > 1024)
			return PFAIL(ps, "mode '%s': gs:V:B needs 1 <= V <= B <= 1024", t);
		m->kind = NNZRT_ACCEL_MODE_GS;
		m->v = (int)a;
		m->b = (int)b;
		return 0;
	}
bad:
	return PFAIL(ps, "unknown sparsity mode '%s' (dense, nm:N:M, nm:N1-N2:M, gs:V:B)", t);
}

static int parse_modes(Parse *ps, char *v, nnzrt_accel_config *c)
{
	c->n_modes = 0;
	for (char *save = NULL, *t = strtok_r(v, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
		if (c->n_modes == NNZRT_ACCEL_MAX_MODES)
			return PFAIL(ps, "more than %d sparsity modes", NNZRT_ACCEL_MAX_MODES);
		nnzrt_accel_mode m;
		if (parse_mode(ps, t, &m))
			return NNZRT_ERR_FORMAT;
		for (int i = 0; i < c->n_modes; i++)
			if (memcmp(&c->modes[i], &m, sizeof m) == 0)
				return PFAIL(ps, "sparsity mode '%s' given twice", t);
		c->modes[c->n_modes++] = m;
	}
	if (c->n_modes == 0)
		return PFAIL(ps, "modes: at least one sparsity mode");
	return 0;
}

static int set_key(Parse *ps, const Key *k, char *v, nnzrt_accel_config *c)
{
	char *base = (char *)c + k->offset;
	switch (k->type) {
	case KT_NAME: {
		size_t n = strlen(v);
		if (n == 0 || n >= sizeof c->name)
			return PFAIL(ps, "name: 1 to %d characters", (int)sizeof c->name - 1);
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '-' && v[i] != '.')
				return PFAIL(ps, "name '%s': letters, digits, '_', '-' and '.' only", v);
		memcpy(c->name, v, n + 1);
		return 0;
	}
	case KT_DATAFLOW:
		for (int i = 0; i < N_DATAFLOWS; i++)
			if (strcmp(v, dataflow_names[i]) == 0) {
				c->dataflow = i;
				return 0;
			}
		return PFAIL(ps, "dataflow '%s': expected systolic-ws, sparse-tc, demm or gather-scatter", v);
	case KT_INT:
	case KT_I64: {
		long x;
		if (!parse_long(v, &x))
			return PFAIL(ps, "%s: expected an integer, got '%s'", k->name, v);
		if (x < k->lo || x > k->hi)
			return PFAIL(ps, "%s = %ld is out of range [%.0f, %.0f]", k->name, x, k->lo, k->hi);
		if (k->type == KT_INT)
			memcpy(base, &(int){(int)x}, sizeof(int));
		else
			memcpy(base, &(int64_t){x}, sizeof(int64_t));
		return 0;
	}
	case KT_DOUBLE: {
		char *end;
		errno = 0;
		double x = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(x))
			return PFAIL(ps, "%s: expected a number, got '%s'", k->name, v);
		if ((k->lo_open ? x <= k->lo : x < k->lo) || x > k->hi)
			return PFAIL(ps, "%s = %s is out of range %s%g, %g]", k->name, v, k->lo_open ? "(" : "[", k->lo, k->hi);
		memcpy(base, &x, sizeof x);
		return 0;
	}
	case KT_MODES: return parse_modes(ps, v, c);
	}
	return 0;
}

/* what no single key can check */
static int cross_check(Parse *ps, nnzrt_accel_config *c)
{
	int modes_line = 0, x_line = 0;
	for (int i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].name, "modes") == 0)
			modes_line = ps->key_line[i];
		if (strcmp(keys[i].name, "x_buffer_kib") == 0)
			x_line = ps->key_line[i];
	}
	if (c->data_bits != 8 && c->data_bits != 16 && c->data_bits != 32)
		return PFAIL(ps, "data_bits = %d: expected 8, 16 or 32", c->data_bits);
	if ((c->dataflow == NNZRT_ACCEL_DEMM) != (c->read_ports > 0))
		return PFAIL(ps, "read_ports = %d: the demm dataflow needs read ports, the others have none", c->read_ports);
	for (int b = 0; b < NNZRT_ACCEL_NUM_BUFS; b++)
		if (nnzrt_accel_buffer_elems(c, b) > (1 << 24))
			return PFAIL(ps, "buffer %c holds %lld elements, above the 2^24 that 24-bit addresses reach", "WIOX"[b],
				     (long long)nnzrt_accel_buffer_elems(c, b));
	for (int i = 0; i < c->n_modes; i++) {
		const nnzrt_accel_mode *m = &c->modes[i];
		ps->line = modes_line;
		if (m->kind == NNZRT_ACCEL_MODE_GS && m->b != c->sram_banks)
			return PFAIL(ps, "mode gs:%d:%d: B must equal sram_banks (%d)", m->v, m->b, c->sram_banks);
		if (m->kind != NNZRT_ACCEL_MODE_DENSE && c->buffer_kib[NNZRT_ACCEL_BUF_X] == 0) {
			ps->line = x_line;
			return PFAIL(ps, "x_buffer_kib = 0, but sparse modes need an index buffer");
		}
	}
	return 0;
}

static void strip(char **s, char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static int parse_text(const char *text, size_t len, const char *where, nnzrt_accel_config *c, int depth)
{
	Parse ps = {.where = where ? where : "config"};
	memset(c, 0, sizeof *c);
	if (len > ACCEL_MAX_CONFIG_TEXT)
		return PFAIL(&ps, "longer than %d bytes", ACCEL_MAX_CONFIG_TEXT);
	if (memchr(text, '\0', len))
		return PFAIL(&ps, "contains a NUL byte");
	bool any = false, based = false;
	const char *p = text, *end = text + len;
	while (p < end) {
		ps.line++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *hash = memchr(p, '#', (size_t)(le - p));
		char line[1024];
		size_t n = (size_t)((hash ? hash : le) - p);
		if (n >= sizeof line)
			return PFAIL(&ps, "line longer than %d characters", (int)sizeof line - 1);
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		char *s = line, *e = line + n;
		strip(&s, &e);
		if (s == e)
			continue;
		*e = '\0';
		char *eq = strchr(s, '=');
		if (eq == NULL)
			return PFAIL(&ps, "expected 'key = value', got '%s'", s);
		char *ke = eq, *v = eq + 1, *ve = e;
		strip(&s, &ke);
		strip(&v, &ve);
		*ke = '\0';
		*ve = '\0';
		if (strcmp(s, "base") == 0) {
			if (any)
				return PFAIL(&ps, "'base' must be the first key");
			const char *t = nnzrt_accel_preset_text(v);
			if (t == NULL || depth > 0)
				return PFAIL(&ps, "base '%s' is not a preset", v);
			int r = parse_text(t, strlen(t), v, c, depth + 1);
			if (r)
				return r; /* presets parse; a broken one is caught by the unit tests */
			based = true;
			any = true;
			continue;
		}
		int k = 0;
		while (k < N_KEYS && strcmp(keys[k].name, s) != 0)
			k++;
		if (k == N_KEYS)
			return PFAIL(&ps, "unknown key '%s'", s);
		if (ps.key_line[k])
			return PFAIL(&ps, "key '%s' given twice (first on line %d)", s, ps.key_line[k]);
		ps.key_line[k] = ps.line;
		any = true;
		int r = set_key(&ps, &keys[k], v, c);
		if (r)
			return r;
	}
	ps.line = 0;
	if (!based)
		for (int k = 0; k < N_KEYS; k++)
			if (!ps.key_line[k])
				return PFAIL(&ps, "missing key '%s'", keys[k].name);
	return cross_check(&ps, c);
}

int nnzrt_accel_config_parse(const char *text, size_t len, const char *where, nnzrt_accel_config *c)
{
	if (c == NULL || (text == NULL && len))
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_accel_config_parse: NULL argument");
	int r = parse_text(text ? text : "", len, where, c, 0);
	if (r)
		memset(c, 0, sizeof *c);
	return r;
}

int nnzrt_accel_config_load(const char *preset_or_path, nnzrt_accel_config *c)
{
	if (preset_or_path == NULL || c == NULL)
		return rt_fail(NNZRT_ERR_ARG, "nnzrt_accel_config_load: NULL argument");
	const char *t = nnzrt_accel_preset_text(preset_or_path);
	if (t)
		return nnzrt_accel_config_parse(t, strlen(t), preset_or_path, c);
	FILE *f = fopen(preset_or_path, "rb");
	if (f == NULL) {
		char names[128] = "";
		for (int i = 0; i < N_PRESETS; i++)
			snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", presets[i].name);
		return rt_fail(NNZRT_ERR_IO, "%s: not a preset (%s) and cannot open it: %s", preset_or_path, names,
			       strerror(errno));
	}
	char *buf = rt_malloc(ACCEL_MAX_CONFIG_TEXT + 1);
	if (buf == NULL) {
		fclose(f);
		return rt_fail(NNZRT_ERR_NOMEM, "%s: out of memory", preset_or_path);
	}
	size_t n = fread(buf, 1, ACCEL_MAX_CONFIG_TEXT + 1, f);
	int err = ferror(f);
	fclose(f);
	int r;
	if (err)
		r = rt_fail(NNZRT_ERR_IO, "%s: read error", preset_or_path);
	else
		r = nnzrt_accel_config_parse(buf, n, preset_or_path, c);
	free(buf);
	return r;
}

/* ---------------------------------------------------------------- printing */

typedef struct Out {
	char *buf;
	size_t cap, len;
} Out;

static void out(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(Out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = o->len < o->cap ? o->buf + o->len : NULL;
	int n = vsnprintf(p, o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* the shortest %g that strtod reads back exactly */
static void out_double(Out *o, double x)
{
	char s[64];
	if (x == floor(x) && fabs(x) < 1e15) {
		out(o, "%.0f", x);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, x);
		if (strtod(s, NULL) == x)
			break;
	}
	out(o, "%s", s);
}

size_t nnzrt_accel_config_print(const nnzrt_accel_config *c, char *buf, size_t cap)
{
	Out o = {buf, cap, 0};
	if (cap)
		buf[0] = '\0';
	if (c == NULL)
		return 0;
	for (int k = 0; k < N_KEYS; k++) {
		const Key *key = &keys[k];
		const char *base = (const char *)c + key->offset;
		out(&o, "%s = ", key->name);
		switch (key->type) {
		case KT_NAME: out(&o, "%s", c->name); break;
		case KT_DATAFLOW:
			out(&o, "%s", c->dataflow >= 0 && c->dataflow < N_DATAFLOWS ? dataflow_names[c->dataflow] : "?");
			break;
		case KT_INT: {
			int x;
			memcpy(&x, base, sizeof x);
			out(&o, "%d", x);
			break;
		}
		case KT_I64: {
			int64_t x;
			memcpy(&x, base, sizeof x);
			out(&o, "%lld", (long long)x);
			break;
		}
		case KT_DOUBLE: {
			double x;
			memcpy(&x, base, sizeof x);
			out_double(&o, x);
			break;
		}
		case KT_MODES:
			for (int i = 0; i < c->n_modes && i < NNZRT_ACCEL_MAX_MODES; i++) {
				const nnzrt_accel_mode *m = &c->modes[i];
				const char *sep = i ? " " : "";
				if (m->kind == NNZRT_ACCEL_MODE_DENSE)
					out(&o, "%sdense", sep);
				else if (m->kind == NNZRT_ACCEL_MODE_GS)
					out(&o, "%sgs:%d:%d", sep, m->v, m->b);
				else if (m->n_lo == m->n_hi)
					out(&o, "%snm:%d:%d", sep, m->n_lo, m->m);
				else
					out(&o, "%snm:%d-%d:%d", sep, m->n_lo, m->n_hi, m->m);
			}
			break;
		}
		out(&o, "\n");
	}
	return o.len;
}

uint64_t nnzrt_accel_config_fingerprint(const nnzrt_accel_config *c)
{
	char buf[4096];
	size_t n = nnzrt_accel_config_print(c, buf, sizeof buf);
	assert(n < sizeof buf); /* the keys are fixed; their longest values fit easily */
	return accel_fnv1a64(buf, n);
}

int64_t nnzrt_accel_buffer_elems(const nnzrt_accel_config *c, int buf)
{
	if (c == NULL || buf < 0 || buf >= NNZRT_ACCEL_NUM_BUFS)
		return 0;
	int bits = buf == NNZRT_ACCEL_BUF_O ? 32 : buf == NNZRT_ACCEL_BUF_X ? 16 : c->data_bits;
	if (bits <= 0 || c->buffer_kib[buf] < 0 || c->buffer_kib[buf] > 65536)
		return 0;
	return c->buffer_kib[buf] * 8192 / bits;
}

int nnzrt_accel_mode_supported(const nnzrt_accel_config *c, int kind, int n, int m)
{
	for (int i = 0; c && i < c->n_modes && i < NNZRT_ACCEL_MAX_MODES; i++) {
		const nnzrt_accel_mode *x = &c->modes[i];
		if (x->kind != kind)
			continue;
		if (kind != NNZRT_ACCEL_MODE_NM || (x->m == m && n >= x->n_lo && n <= x->n_hi))
			return 1;
	}
	return 0;
}
