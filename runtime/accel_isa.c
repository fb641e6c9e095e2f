/* The accelerator's instructions: field tables, encoding and decoding, validation against a
 * config, the one-line text of an instruction, and the checksums of the container. The layout
 * is defined by the X-macros of accel_internal.h; docs/accel-isa.md explains each field. */
#include "accel_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tables */

static const struct {
	const char *name;
	int unit;
} ops[AOP_COUNT] = {
	[AOP_INVALID] = {NULL, 0},
#define X(e, s, u) [AOP_##e] = {s, u},
	ACCEL_OPS(X)
#undef X
};

#define FIELD(name, w, sh, bits, kind) {#name, w, sh, bits, kind},
static const AccelField dma_fields[] = {ACCEL_DMA_FIELDS(FIELD)};
static const AccelField mm_fields[] = {ACCEL_MM_FIELDS(FIELD)};
static const AccelField vec_fields[] = {ACCEL_VEC_FIELDS(FIELD)};
static const AccelField adec_fields[] = {ACCEL_ADEC_FIELDS(FIELD)};
static const AccelField sync_fields[] = {ACCEL_SYNC_FIELDS(FIELD)};
#undef FIELD
#define NFIELDS(a) ((int)(sizeof a / sizeof a[0]))

static const char *const buf_names[] = {"W", "I", "O", "X", NULL};
static const char *const fmt_names[] = {"dense", "nm", "gs", "tasd", NULL};
static const char *const part_names[] = {"val", "idx", NULL};
static const char *const space_names[] = {"const", "arena", NULL};
static const char *const mode_names[] = {"dense", "nm", "gs", NULL};
static const char *const func_names[] = {"mov", "fill", "add", "sub", "mul", "max", "min", "relu", "clip", NULL};
static const char *const bcast_names[] = {"none", "full", "row", "col", "scalar", NULL};

const char *const *accel_kind_names(AccelKind k)
{
	switch (k) {
	case AK_BUF: return buf_names;
	case AK_FMT: return fmt_names;
	case AK_PART: return part_names;
	case AK_SPACE: return space_names;
	case AK_MODE: return mode_names;
	case AK_FUNC: return func_names;
	case AK_BCAST: return bcast_names;
	case AK_UINT:
	case AK_UNITS:
	case AK_F32: return NULL;
	}
	return NULL;
}

const char *accel_op_name(AccelOp op) { return op > AOP_INVALID && op < AOP_COUNT ? ops[op].name : NULL; }

AccelOp accel_op_from_name(const char *s, size_t len)
{
	for (int i = 1; i < AOP_COUNT; i++)
		if (strlen(ops[i].name) == len && memcmp(ops[i].name, s, len) == 0)
			return (AccelOp)i;
	return AOP_INVALID;
}

int accel_op_unit(AccelOp op) { return op > AOP_INVALID && op < AOP_COUNT ? ops[op].unit : 0; }

const AccelField *accel_op_fields(AccelOp op, int *n)
{
	switch (op) {
	case AOP_LD:
	case AOP_ST: *n = NFIELDS(dma_fields); return dma_fields;
	case AOP_MM:
	case AOP_MMA: *n = NFIELDS(mm_fields); return mm_fields;
	case AOP_VEC: *n = NFIELDS(vec_fields); return vec_fields;
	case AOP_ADEC: *n = NFIELDS(adec_fields); return adec_fields;
	case AOP_SYNC: *n = NFIELDS(sync_fields); return sync_fields;
	case AOP_END:
	case AOP_INVALID:
	case AOP_COUNT: break;
	}
	*n = 0;
	return NULL;
}

static uint32_t field_mask(const AccelField *f) { return f->bits == 32 ? 0xffffffffu : ((1u << f->bits) - 1) << f->shift; }

uint32_t accel_field_get(const uint32_t w[ACCEL_INSN_WORDS], const AccelField *f)
{
	return (w[f->word] & field_mask(f)) >> f->shift;
}

void accel_field_set(uint32_t w[ACCEL_INSN_WORDS], const AccelField *f, uint32_t v)
{
	uint32_t m = field_mask(f);
	w[f->word] = (w[f->word] & ~m) | ((v << f->shift) & m);
}

/* The struct of each shape has one uint32_t per field in table order, so field i is member i:
 * the union viewed as an array. Checked once here rather than trusted. */
_Static_assert(sizeof(AccelDma) == sizeof(uint32_t) * 14, "AccelDma is its fields");
_Static_assert(sizeof(AccelMm) == sizeof(uint32_t) * 14, "AccelMm is its fields");
_Static_assert(sizeof(AccelVec) == sizeof(uint32_t) * 14, "AccelVec is its fields");
_Static_assert(sizeof(AccelAdec) == sizeof(uint32_t) * 11, "AccelAdec is its fields");

static uint32_t *members(AccelInsn *ins) { return (uint32_t *)(void *)&ins->u; }
static const uint32_t *cmembers(const AccelInsn *ins) { return (const uint32_t *)(const void *)&ins->u; }

int accel_decode(const uint32_t w[ACCEL_INSN_WORDS], AccelInsn *ins, char *msg, size_t cap)
{
	memset(ins, 0, sizeof *ins);
	uint32_t op = w[0] & 0xff;
	if (op == AOP_INVALID || op >= AOP_COUNT) {
		snprintf(msg, cap, "unknown opcode %u", op);
		return -1;
	}
	ins->op = (AccelOp)op;
	int n;
	const AccelField *f = accel_op_fields(ins->op, &n);
	uint32_t used[ACCEL_INSN_WORDS] = {0xff};
	for (int i = 0; i < n; i++) {
		members(ins)[i] = accel_field_get(w, &f[i]);
		used[f[i].word] |= field_mask(&f[i]);
	}
	for (int i = 0; i < ACCEL_INSN_WORDS; i++)
		if (w[i] & ~used[i]) {
			snprintf(msg, cap, "%s: reserved bits 0x%08x of word %d are set", ops[op].name, w[i] & ~used[i], i);
			return -1;
		}
	return 0;
}

void accel_encode(const AccelInsn *ins, uint32_t w[ACCEL_INSN_WORDS])
{
	memset(w, 0, ACCEL_INSN_BYTES);
	w[0] = (uint32_t)ins->op;
	int n;
	const AccelField *f = accel_op_fields(ins->op, &n);
	for (int i = 0; i < n; i++)
		accel_field_set(w, &f[i], cmembers(ins)[i]);
}

/* ---------------------------------------------------------------- validation */

void accel_limits_init(AccelLimits *l, const nnzrt_accel_config *cfg, uint64_t const_words, uint64_t arena_words)
{
	l->cfg = cfg;
	for (int b = 0; b < NNZRT_ACCEL_NUM_BUFS; b++)
		l->buf_elems[b] = nnzrt_accel_buffer_elems(cfg, b);
	l->const_words = const_words;
	l->arena_words = arena_words;
}

#define FAIL(...) (snprintf(msg, cap, __VA_ARGS__), -1)

/* A 2-D region [addr, addr + (rows - 1) * ld + (cols - 1) * step + 1) inside [0, size): all
 * operands are below 2^32, so the sums fit in 64 bits without overflow. */
static int region_ok(uint64_t addr, uint64_t rows, uint64_t cols, uint64_t ld, uint64_t step, uint64_t size)
{
	if (rows == 0 || cols == 0)
		return 1;
	uint64_t last = addr + (rows - 1) * ld + (cols - 1) * step;
	return last < size;
}

static int buf_region(const AccelLimits *l, const char *what, uint32_t buf, uint64_t addr, uint64_t rows,
		      uint64_t cols, uint64_t ld, char *msg, size_t cap)
{
	if (!region_ok(addr, rows, cols, ld, 1, (uint64_t)l->buf_elems[buf]))
		return FAIL("%s: %s[%llu..] with %llu rows of %llu (stride %llu) exceeds the %lld elements of buffer %s",
			    what, buf_names[buf], (unsigned long long)addr, (unsigned long long)rows,
			    (unsigned long long)cols, (unsigned long long)ld, (long long)l->buf_elems[buf], buf_names[buf]);
	return 0;
}

static int check_dma(AccelOp op, const AccelDma *d, const AccelLimits *l, char *msg, size_t cap)
{
	const char *on = ops[op].name;
	if (d->fmt >= ACCEL_FMT_COUNT)
		return FAIL("%s: unknown format %u", on, d->fmt);
	if (d->part >= ACCEL_PART_COUNT)
		return FAIL("%s: unknown part %u", on, d->part);
	if (d->buf >= NNZRT_ACCEL_NUM_BUFS)
		return FAIL("%s: unknown buffer %u", on, d->buf);
	if (d->space >= ACCEL_SPACE_COUNT)
		return FAIL("%s: unknown DRAM space %u", on, d->space);
	if (d->rows == 0 || d->cols == 0)
		return FAIL("%s: empty transfer (rows %u, cols %u)", on, d->rows, d->cols);
	if (d->ldb < d->cols)
		return FAIL("%s: buffer row stride ldb %u is below cols %u", on, d->ldb, d->cols);
	if (d->cstep == 0)
		return FAIL("%s: cstep is 0 (1 for contiguous rows)", on);
	if (d->fmt == ACCEL_FMT_DENSE && d->part != ACCEL_PART_VAL)
		return FAIL("%s: format dense has no part %s", on, part_names[d->part]);
	if ((d->part == ACCEL_PART_IDX) != (d->buf == NNZRT_ACCEL_BUF_X))
		return FAIL("%s: part %s cannot go to buffer %s (indices live in X, values elsewhere)", on,
			    part_names[d->part], buf_names[d->buf]);
	switch (d->fmt) {
	case ACCEL_FMT_DENSE:
	case ACCEL_FMT_GS:
		if (d->n || d->m || d->term)
			return FAIL("%s: format %s takes no n, m or term", on, fmt_names[d->fmt]);
		if (d->fmt == ACCEL_FMT_GS && !nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_GS, 0, 0))
			return FAIL("%s: format gs: config '%s' has no gs mode", on, l->cfg->name);
		break;
	case ACCEL_FMT_NM:
	case ACCEL_FMT_TASD:
		if ((d->fmt == ACCEL_FMT_TASD) != (d->term != 0))
			return FAIL("%s: term %u: tasd terms are numbered from 1, nm data has term 0", on, d->term);
		if (!nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_NM, (int)d->n, (int)d->m))
			return FAIL("%s: format %s %u:%u is not a sparsity mode of config '%s'", on, fmt_names[d->fmt], d->n,
				    d->m, l->cfg->name);
		break;
	}
	if (op == AOP_ST && d->space != ACCEL_SPACE_ARENA)
		return FAIL("st: stores go to the arena, not to const");
	if (buf_region(l, on, d->buf, d->addr, d->rows, d->cols, d->ldb, msg, cap) < 0)
		return -1;
	uint64_t size = d->space == ACCEL_SPACE_CONST ? l->const_words : l->arena_words;
	if (!region_ok(d->dram, d->rows, d->cols, d->stride, d->cstep, size))
		return FAIL("%s: DRAM %s[%u..] with %u rows of %u (stride %u, step %u) exceeds its %llu words", on,
			    space_names[d->space], d->dram, d->rows, d->cols, d->stride, d->cstep, (unsigned long long)size);
	return 0;
}

static int check_mm(AccelOp op, const AccelMm *x, const AccelLimits *l, char *msg, size_t cap)
{
	const char *on = ops[op].name;
	if (x->mode > NNZRT_ACCEL_MODE_GS)
		return FAIL("%s: unknown mode %u", on, x->mode);
	if (x->sbuf >= NNZRT_ACCEL_NUM_BUFS || x->dbuf >= NNZRT_ACCEL_NUM_BUFS)
		return FAIL("%s: unknown buffer", on);
	if ((x->sbuf != NNZRT_ACCEL_BUF_W && x->sbuf != NNZRT_ACCEL_BUF_I) ||
	    (x->dbuf != NNZRT_ACCEL_BUF_W && x->dbuf != NNZRT_ACCEL_BUF_I))
		return FAIL("%s: operands come from W or I (sbuf %s, dbuf %s)", on, buf_names[x->sbuf], buf_names[x->dbuf]);
	if (x->m == 0 || x->n == 0 || x->k == 0)
		return FAIL("%s: empty product (m %u, n %u, k %u)", on, x->m, x->n, x->k);
	if (x->ldn < x->n)
		return FAIL("%s: row stride ldn %u is below n %u", on, x->ldn, x->n);
	if (op == AOP_MM && x->term > 1)
		return FAIL("mm: term %u: later tasd terms accumulate (mma)", x->term);
	uint64_t srow; /* S elements (and X indices) per row */
	switch (x->mode) {
	case NNZRT_ACCEL_MODE_DENSE:
		if (x->nz || x->grp || x->xaddr)
			return FAIL("%s: mode dense takes no nz, grp or xaddr", on);
		if (!nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_DENSE, 0, 0))
			return FAIL("%s: mode dense is not a sparsity mode of config '%s'", on, l->cfg->name);
		srow = x->k;
		break;
	case NNZRT_ACCEL_MODE_NM:
		if (!nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_NM, (int)x->nz, (int)x->grp))
			return FAIL("%s: mode nm %u:%u is not a sparsity mode of config '%s'", on, x->nz, x->grp, l->cfg->name);
		if (x->k % x->grp)
			return FAIL("%s: k %u is not a multiple of the group size %u", on, x->k, x->grp);
		srow = (uint64_t)x->k / x->grp * x->nz;
		break;
	default: /* gs */
		if (!nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_GS, 0, 0))
			return FAIL("%s: mode gs is not a sparsity mode of config '%s'", on, l->cfg->name);
		if (x->nz == 0 || x->nz > x->k || x->grp)
			return FAIL("%s: mode gs needs 1 <= nz <= k (got nz %u, k %u) and grp 0", on, x->nz, x->k);
		srow = x->nz;
		break;
	}
	if (buf_region(l, on, x->sbuf, x->saddr, x->m, srow, srow, msg, cap) < 0)
		return -1;
	if (x->mode != NNZRT_ACCEL_MODE_DENSE &&
	    buf_region(l, on, NNZRT_ACCEL_BUF_X, x->xaddr, x->m, srow, srow, msg, cap) < 0)
		return -1;
	if (buf_region(l, on, x->dbuf, x->daddr, x->k, x->n, x->ldn, msg, cap) < 0)
		return -1;
	return buf_region(l, on, NNZRT_ACCEL_BUF_O, x->caddr, x->m, x->n, x->ldn, msg, cap);
}

static bool is_binary(uint32_t func) { return func >= ACCEL_FUNC_ADD && func <= ACCEL_FUNC_MIN; }

static int check_vec(const AccelVec *v, const AccelLimits *l, char *msg, size_t cap)
{
	if (v->func >= ACCEL_FUNC_COUNT)
		return FAIL("vec: unknown func %u", v->func);
	if (v->bcast >= ACCEL_BCAST_COUNT)
		return FAIL("vec: unknown bcast %u", v->bcast);
	if (v->dbuf >= NNZRT_ACCEL_NUM_BUFS || v->abuf >= NNZRT_ACCEL_NUM_BUFS || v->bbuf >= NNZRT_ACCEL_NUM_BUFS)
		return FAIL("vec: unknown buffer");
	if (v->dbuf == NNZRT_ACCEL_BUF_X || v->abuf == NNZRT_ACCEL_BUF_X || v->bbuf == NNZRT_ACCEL_BUF_X)
		return FAIL("vec: the vector unit does not read or write the index buffer X");
	if (v->rows == 0 || v->cols == 0)
		return FAIL("vec: empty tile (rows %u, cols %u)", v->rows, v->cols);
	float imm[2];
	memcpy(&imm[0], &v->imm0, sizeof(float));
	memcpy(&imm[1], &v->imm1, sizeof(float));
	if (isnan(imm[0]) || isnan(imm[1]))
		return FAIL("vec: immediate is NaN");
	const char *fn = func_names[v->func];
	bool uses_a = v->func != ACCEL_FUNC_FILL;
	bool uses_b = is_binary(v->func) && v->bcast != ACCEL_BCAST_SCALAR;
	bool uses_imm0 = v->func == ACCEL_FUNC_FILL || v->func == ACCEL_FUNC_CLIP ||
			 (is_binary(v->func) && v->bcast == ACCEL_BCAST_SCALAR);
	if (is_binary(v->func) ? v->bcast == ACCEL_BCAST_NONE : v->bcast != ACCEL_BCAST_NONE)
		return FAIL("vec %s: bcast %s (binary funcs take full, row, col or scalar; others none)", fn,
			    bcast_names[v->bcast]);
	if (!uses_a && (v->abuf || v->aaddr || v->lda || v->astep))
		return FAIL("vec %s: takes no a operand (abuf, aaddr, lda, astep must be 0)", fn);
	if (!uses_b && (v->bbuf || v->baddr))
		return FAIL("vec %s: takes no b operand (bbuf, baddr must be 0)", fn);
	if ((!uses_imm0 && v->imm0) || (v->func != ACCEL_FUNC_CLIP && v->imm1))
		return FAIL("vec %s: immediates it does not use must be 0", fn);
	if (v->func == ACCEL_FUNC_CLIP && !(imm[0] <= imm[1]))
		return FAIL("vec clip: lower bound %g above upper bound %g", (double)imm[0], (double)imm[1]);
	if (buf_region(l, "vec", v->dbuf, v->daddr, v->rows, v->cols, v->cols, msg, cap) < 0)
		return -1;
	if (uses_a) {
		if (v->astep == 0)
			return FAIL("vec %s: astep is 0 (1 for contiguous rows)", fn);
		if (!region_ok(v->aaddr, v->rows, v->cols, v->lda, v->astep, (uint64_t)l->buf_elems[v->abuf]))
			return FAIL("vec %s: operand a %s[%u..] (%u x %u, lda %u, astep %u) exceeds buffer %s", fn,
				    buf_names[v->abuf], v->aaddr, v->rows, v->cols, v->lda, v->astep, buf_names[v->abuf]);
	}
	if (uses_b) {
		uint64_t rows = v->bcast == ACCEL_BCAST_COL ? 1 : v->rows;
		uint64_t cols = v->bcast == ACCEL_BCAST_ROW ? 1 : v->cols;
		if (buf_region(l, "vec", v->bbuf, v->baddr, rows, cols, cols, msg, cap) < 0)
			return -1;
	}
	return 0;
}

static int check_adec(const AccelAdec *a, const AccelLimits *l, char *msg, size_t cap)
{
	if (a->resid > 1)
		return FAIL("adec: resid is 0 or 1, got %u", a->resid);
	if (a->sbuf >= NNZRT_ACCEL_NUM_BUFS || a->dbuf >= NNZRT_ACCEL_NUM_BUFS)
		return FAIL("adec: unknown buffer");
	if (a->sbuf == NNZRT_ACCEL_BUF_X || (a->dbuf != NNZRT_ACCEL_BUF_W && a->dbuf != NNZRT_ACCEL_BUF_I))
		return FAIL("adec: reads W, I or O and writes values to W or I (sbuf %s, dbuf %s)", buf_names[a->sbuf],
			    buf_names[a->dbuf]);
	if (a->rows == 0 || a->cols == 0)
		return FAIL("adec: empty tile (rows %u, cols %u)", a->rows, a->cols);
	if (!nnzrt_accel_mode_supported(l->cfg, NNZRT_ACCEL_MODE_NM, (int)a->n, (int)a->m))
		return FAIL("adec: %u:%u is not a sparsity mode of config '%s'", a->n, a->m, l->cfg->name);
	if (a->cols % a->m)
		return FAIL("adec: cols %u is not a multiple of the group size %u", a->cols, a->m);
	uint64_t packed = (uint64_t)a->cols / a->m * a->n;
	if (buf_region(l, "adec", a->sbuf, a->saddr, a->rows, a->cols, a->cols, msg, cap) < 0 ||
	    buf_region(l, "adec", a->dbuf, a->daddr, a->rows, packed, packed, msg, cap) < 0 ||
	    buf_region(l, "adec", NNZRT_ACCEL_BUF_X, a->xaddr, a->rows, packed, packed, msg, cap) < 0)
		return -1;
	return 0;
}

int accel_validate(const AccelInsn *ins, const AccelLimits *l, char *msg, size_t cap)
{
	switch (ins->op) {
	case AOP_END: return 0;
	case AOP_SYNC:
		if (ins->u.sync.units == 0 || ins->u.sync.units > 15)
			return FAIL("sync: units must name some of ld|st|mx|vx (mask %u)", ins->u.sync.units);
		return 0;
	case AOP_LD:
	case AOP_ST: return check_dma(ins->op, &ins->u.dma, l, msg, cap);
	case AOP_MM:
	case AOP_MMA: return check_mm(ins->op, &ins->u.mm, l, msg, cap);
	case AOP_VEC: return check_vec(&ins->u.vec, l, msg, cap);
	case AOP_ADEC: return check_adec(&ins->u.adec, l, msg, cap);
	case AOP_INVALID:
	case AOP_COUNT: break;
	}
	return FAIL("unknown opcode %d", (int)ins->op);
}

/* ---------------------------------------------------------------- text of one instruction */

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
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* The shortest %g form that reads back as the same float. */
static void out_f32(Out *o, uint32_t bits)
{
	float f;
	memcpy(&f, &bits, sizeof f);
	char s[64];
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, (double)f);
		float back = strtof(s, NULL);
		uint32_t bb;
		memcpy(&bb, &back, sizeof bb);
		if (bb == bits)
			break;
	}
	out(o, "%s", s);
}

size_t accel_print_field(const AccelField *f, uint32_t v, char *buf, size_t cap)
{
	Out o = {buf, cap, 0};
	if (cap)
		buf[0] = '\0';
	const char *const *names = accel_kind_names(f->kind);
	if (names) {
		uint32_t n = 0;
		while (names[n])
			n++;
		if (v < n)
			out(&o, "%s", names[v]);
		else
			out(&o, "%u", v); /* invalid, but printable so that a hostile file can be shown */
	} else if (f->kind == AK_F32) {
		out_f32(&o, v);
	} else if (f->kind == AK_UNITS) {
		static const char *const unit_names[] = {"ld", "st", "mx", "vx"};
		if (v == 0 || v > 15) {
			out(&o, "%u", v);
		} else {
			const char *sep = "";
			for (int b = 0; b < 4; b++)
				if (v & (1u << b)) {
					out(&o, "%s%s", sep, unit_names[b]);
					sep = "|";
				}
		}
	} else {
		out(&o, "%u", v);
	}
	return o.len;
}

size_t nnzrt_accel_disasm_insn(const uint32_t words[8], char *buf, size_t cap)
{
	Out o = {buf, cap, 0};
	if (cap)
		buf[0] = '\0';
	AccelInsn ins;
	char msg[160];
	if (accel_decode(words, &ins, msg, sizeof msg) < 0) {
		out(&o, ".word");
		for (int i = 0; i < ACCEL_INSN_WORDS; i++)
			out(&o, " 0x%08x", words[i]);
		return o.len;
	}
	out(&o, "%s", ops[ins.op].name);
	int n;
	const AccelField *f = accel_op_fields(ins.op, &n);
	for (int i = 0; i < n; i++) {
		char v[64];
		accel_print_field(&f[i], accel_field_get(words, &f[i]), v, sizeof v);
		out(&o, " %s=%s", f[i].name, v);
	}
	return o.len;
}

/* ---------------------------------------------------------------- checksums */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t accel_crc32(uint32_t crc, const void *p, size_t n)
{
	/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) with a table built once */
	pthread_once(&crc_once, crc_init);
	const unsigned char *b = p;
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint64_t accel_fnv1a64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
