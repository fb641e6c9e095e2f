/* The accelerator's functional executor: nnzrt_accel_run. Runs a loaded (hence fully
 * validated) program instruction after instruction, in program order, which is its meaning
 * (docs/accel-isa.md); each executed instruction then goes to the timing model
 * (accel_timing.c), which schedules it on its unit.
 *
 * Machine state: W, I and O as float arrays and X as 32-bit index words, each of its buffer's
 * capacity in elements; DRAM as the program's const words (read-only) and a zeroed arena of
 * arena_words words. Loads and stores copy 32-bit words unchanged, so values travel as their
 * float bits and indices as integers. The only thing the loader could not check is the value of
 * an index read from X: every mm checks them all before it computes anything.
 *
 * Arithmetic matches targets/ref: products are accumulated in f32, one reduction index after
 * the other (mma starts from the accumulator's value), multiplies and adds never fused (ISO C
 * mode does not contract), so a GEMM small enough for the interpreter's single K block gives the
 * same bits. The inner loops run over the n columns of a row: contiguous, and vectorised. */
#include "accel_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Machine {
	const nnzrt_accel_program *p;
	float *buf[3];  /* W, I, O */
	uint32_t *x;    /* X */
	uint32_t *arena;
	const uint32_t *consts;
	uint64_t n_consts, arena_words;
} Machine;

/* A buffer as raw bytes: loads and stores move 32-bit words unchanged, never convert (memcpy,
 * so that float and index words may share the arena without aliasing trouble). */
static inline unsigned char *buf_bytes(Machine *m, uint32_t buf)
{
	return buf == NNZRT_ACCEL_BUF_X ? (unsigned char *)m->x : (unsigned char *)m->buf[buf];
}

static void exec_dma(Machine *m, AccelOp op, const AccelDma *d)
{
	/* validated: every element of both ranges is inside its space, and st goes to the arena */
	unsigned char *b = buf_bytes(m, d->buf);
	const unsigned char *src_dram = d->space == ACCEL_SPACE_CONST ? (const unsigned char *)m->consts
								       : (const unsigned char *)m->arena;
	unsigned char *arena = (unsigned char *)m->arena;
	for (uint64_t r = 0; r < d->rows; r++) {
		unsigned char *brow = b + (d->addr + r * d->ldb) * 4;
		uint64_t base = d->dram + r * d->stride;
		if (d->cstep == 1) {
			if (op == AOP_LD)
				memmove(brow, src_dram + base * 4, (size_t)d->cols * 4);
			else
				memmove(arena + base * 4, brow, (size_t)d->cols * 4);
			continue;
		}
		for (uint64_t c = 0; c < d->cols; c++) {
			if (op == AOP_LD)
				memcpy(brow + c * 4, src_dram + (base + c * d->cstep) * 4, 4);
			else
				memcpy(arena + (base + c * d->cstep) * 4, brow + c * 4, 4);
		}
	}
}

/* S elements (and X indices) per row of an mm operand, as the validator computed them. */
static uint64_t mm_srow(const AccelMm *x)
{
	switch (x->mode) {
	case NNZRT_ACCEL_MODE_DENSE: return x->k;
	case NNZRT_ACCEL_MODE_NM: return (uint64_t)x->k / x->grp * x->nz;
	default: return x->nz;
	}
}

/* Every index the instruction will read, before anything is computed: an out-of-range index is
 * data, so an error, and the machine must not read outside D. */
/* NNZRT_OK or NNZRT_ERR_FORMAT (message set). */
static int check_indices(const Machine *m, uint32_t i, const AccelMm *x)
{
	if (x->mode == NNZRT_ACCEL_MODE_DENSE)
		return 0;
	uint64_t srow = mm_srow(x);
	uint32_t lim = x->mode == NNZRT_ACCEL_MODE_NM ? x->grp : x->k;
	const uint32_t *xs = m->x + x->xaddr;
	uint64_t total = (uint64_t)x->m * srow;
	for (uint64_t e = 0; e < total; e++)
		if (xs[e] >= lim)
			return rt_fail(NNZRT_ERR_FORMAT,
				       "accel run: instruction %u (%s): index %u at X[%llu] (row %llu, slot %llu) is not below %s %u",
				       i, x->mode == NNZRT_ACCEL_MODE_NM ? "mm nm" : "mm gs", xs[e],
				       (unsigned long long)(x->xaddr + e), (unsigned long long)(e / srow),
				       (unsigned long long)(e % srow), x->mode == NNZRT_ACCEL_MODE_NM ? "the group size" : "k",
				       lim);
	return NNZRT_OK;
}

/* c[j] += s * d[j]: the one loop every mode reduces to. */
static inline void axpy(float *restrict c, float s, const float *restrict d, uint32_t n)
{
	for (uint32_t j = 0; j < n; j++)
		c[j] += s * d[j];
}

static int exec_mm(Machine *m, uint32_t i, AccelOp op, const AccelMm *x)
{
	int st = check_indices(m, i, x);
	if (st != NNZRT_OK)
		return st;
	const float *S = m->buf[x->sbuf] + x->saddr;
	const float *D = m->buf[x->dbuf] + x->daddr;
	float *C = m->buf[NNZRT_ACCEL_BUF_O] + x->caddr;
	const uint32_t *X = m->x + x->xaddr;
	uint64_t srow = mm_srow(x);
	for (uint64_t r = 0; r < x->m; r++) {
		float *c = C + r * x->ldn;
		if (op == AOP_MM)
			memset(c, 0, (size_t)x->n * sizeof(float));
		const float *s = S + r * srow;
		const uint32_t *xi = X + r * srow;
		switch (x->mode) {
		case NNZRT_ACCEL_MODE_DENSE:
			for (uint64_t k = 0; k < x->k; k++)
				axpy(c, s[k], D + k * x->ldn, x->n);
			break;
		case NNZRT_ACCEL_MODE_NM:
			/* slot g*N + t: value times D row g*M + idx; slot order is reduction order when
			 * the indices of a group ascend, as packs store them */
			for (uint64_t g = 0, e = 0; g < x->k / x->grp; g++)
				for (uint32_t t = 0; t < x->nz; t++, e++)
					axpy(c, s[e], D + (g * x->grp + xi[e]) * x->ldn, x->n);
			break;
		default:
			for (uint64_t e = 0; e < x->nz; e++)
				axpy(c, s[e], D + (uint64_t)xi[e] * x->ldn, x->n);
			break;
		}
	}
	return NNZRT_OK;
}

static inline float f_of_bits(uint32_t b)
{
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

/* The same comparisons as targets/ref (elementwise.c): NaN propagates through max/min/relu. */
static inline float vmax(float a, float b) { return (a > b || a != a) ? a : b; }
static inline float vmin(float a, float b) { return (a < b || a != a) ? a : b; }

static void exec_vec(Machine *m, const AccelVec *v)
{
	float imm0 = f_of_bits(v->imm0), imm1 = f_of_bits(v->imm1);
	float *d = m->buf[v->dbuf] + v->daddr;
	const float *a = m->buf[v->abuf] + v->aaddr;
	const float *b = m->buf[v->bbuf] + v->baddr;
	/* Element by element in row-major order, reading a and b before writing d: in-place
	 * operations (d == a, the usual epilogue) are well defined; so is any other overlap. */
	for (uint64_t r = 0; r < v->rows; r++) {
		float *dr = d + r * v->cols;
		const float *ar = a + r * v->lda;
		for (uint64_t c = 0; c < v->cols; c++) {
			float av = v->func == ACCEL_FUNC_FILL ? 0.0f : ar[c * v->astep], bv = 0.0f;
			switch (v->bcast) {
			case ACCEL_BCAST_FULL: bv = b[r * v->cols + c]; break;
			case ACCEL_BCAST_ROW: bv = b[r]; break;
			case ACCEL_BCAST_COL: bv = b[c]; break;
			case ACCEL_BCAST_SCALAR: bv = imm0; break;
			default: break;
			}
			float y;
			switch (v->func) {
			case ACCEL_FUNC_MOV: y = av; break;
			case ACCEL_FUNC_FILL: y = imm0; break;
			case ACCEL_FUNC_ADD: y = av + bv; break;
			case ACCEL_FUNC_SUB: y = av - bv; break;
			case ACCEL_FUNC_MUL: y = av * bv; break;
			case ACCEL_FUNC_MAX: y = vmax(av, bv); break;
			case ACCEL_FUNC_MIN: y = vmin(av, bv); break;
			case ACCEL_FUNC_RELU: y = av < 0 ? 0.0f : av; break; /* NaN stays NaN */
			default: y = vmin(vmax(av, imm0), imm1); break;    /* clip */
			}
			dr[c] = y;
		}
	}
}

/* Activation decomposition: per row and group of m columns keep the n largest magnitudes (ties:
 * the lower index), written in ascending index order. */
static void exec_adec(Machine *m, const AccelAdec *a)
{
	float *src = m->buf[a->sbuf] + a->saddr;
	float *dst = m->buf[a->dbuf] + a->daddr;
	uint32_t *xs = m->x + a->xaddr;
	uint64_t packed = (uint64_t)a->cols / a->m * a->n;
	float grp[256];
	unsigned char keep[256];
	for (uint64_t r = 0; r < a->rows; r++)
		for (uint64_t g = 0; g < a->cols / a->m; g++) {
			float *s = src + r * a->cols + g * a->m;
			/* a copy: dst may overlap the source when both are in the same buffer */
			memcpy(grp, s, a->m * sizeof(float));
			memset(keep, 0, a->m);
			for (uint32_t t = 0; t < a->n; t++) {
				/* the largest magnitude not yet kept, first index on ties; NaN ranks
				 * highest so that it is never silently dropped */
				int best = -1;
				for (uint32_t e = 0; e < a->m; e++) {
					if (keep[e])
						continue;
					if (best < 0) {
						best = (int)e;
						continue;
					}
					float mb = fabsf(grp[best]), me = fabsf(grp[e]);
					if ((me > mb && mb == mb) || (me != me && mb == mb))
						best = (int)e;
				}
				if (best < 0)
					break; /* n <= m (validated): cannot happen */
				keep[best] = 1;
			}
			uint64_t o = r * packed + g * a->n;
			for (uint32_t e = 0; e < a->m; e++)
				if (keep[e]) {
					dst[o] = grp[e];
					xs[o] = e;
					o++;
					if (a->resid)
						s[e] = 0.0f;
				}
		}
}

static int run_insns(Machine *m, AccelTimer *t)
{
	const nnzrt_accel_program *p = m->p;
	uint32_t n = nnzrt_accel_program_num_insns(p);
	int st;
	for (uint32_t i = 0; i < n; i++) {
		AccelInsn ins;
		char msg[300];
		if (accel_decode(nnzrt_accel_program_insn(p, i), &ins, msg, sizeof msg) < 0)
			return rt_fail(NNZRT_ERR_FORMAT, "accel run: instruction %u: %s", i, msg); /* loaded: cannot happen */
		switch (ins.op) {
		case AOP_LD:
		case AOP_ST: exec_dma(m, ins.op, &ins.u.dma); break;
		case AOP_MM:
		case AOP_MMA:
			if ((st = exec_mm(m, i, ins.op, &ins.u.mm)) != NNZRT_OK)
				return st;
			break;
		case AOP_VEC: exec_vec(m, &ins.u.vec); break;
		case AOP_ADEC: exec_adec(m, &ins.u.adec); break;
		default: break; /* end, sync: timing only */
		}
		if (t && (st = accel_timer_insn(t, i, &ins, m->buf, m->x)) != NNZRT_OK)
			return st;
		if (ins.op == AOP_END)
			break;
	}
	return NNZRT_OK;
}

void nnzrt_accel_stats_free(nnzrt_accel_stats *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n_layers; i++) {
		free(s->layers[i].name);
		free(s->layers[i].op);
	}
	free(s->layers);
	memset(s, 0, sizeof *s);
}

int nnzrt_accel_run(const nnzrt_accel_program *p, const float *const *inputs, float *const *outputs, unsigned flags,
		    nnzrt_accel_stats *stats)
{
	if (stats)
		memset(stats, 0, sizeof *stats);
	if (p == NULL)
		return rt_fail(NNZRT_ERR_ARG, "accel run: no program");
	if (flags & ~(unsigned)NNZRT_ACCEL_RUN_CHECK_HAZARDS)
		return rt_fail(NNZRT_ERR_ARG, "accel run: unknown flags 0x%x", flags);
	int n_io = nnzrt_accel_program_num_io(p);
	int n_in = 0, n_out = 0;
	for (int i = 0; i < n_io; i++) {
		const nnzrt_accel_io *io = nnzrt_accel_program_io(p, i);
		bool have = io->is_output ? outputs && outputs[n_out++] : inputs && inputs[n_in++];
		if (!have)
			return rt_fail(NNZRT_ERR_ARG, "accel run: no data for %s '%s'", io->is_output ? "output" : "input",
				       io->name);
	}
	const nnzrt_accel_config *cfg = nnzrt_accel_program_config(p);
	Machine m = {.p = p, .arena_words = nnzrt_accel_program_arena_words(p)};
	m.consts = nnzrt_accel_program_consts(p, &m.n_consts);
	int st;
	AccelTimer *t = NULL;
	/* calloc: buffers start as zeros (+0.0f), so a program reading what it never wrote is
	 * deterministic. Sizes were checked when the config was parsed (at most 2^24 elements). */
	for (int b = 0; b < 3; b++)
		if ((m.buf[b] = rt_calloc((size_t)nnzrt_accel_buffer_elems(cfg, b) + 1, sizeof(float))) == NULL)
			goto nomem;
	if ((m.x = rt_calloc((size_t)nnzrt_accel_buffer_elems(cfg, NNZRT_ACCEL_BUF_X) + 1, sizeof(uint32_t))) == NULL ||
	    (m.arena = rt_calloc((size_t)m.arena_words + 1, sizeof(uint32_t))) == NULL)
		goto nomem;
	/* without stats or checks, a functional run only: no timer */
	if ((stats || flags) && (t = accel_timer_new(p, flags)) == NULL) {
		st = NNZRT_ERR_NOMEM; /* message set */
		goto out;
	}
	n_in = n_out = 0;
	for (int i = 0; i < n_io; i++) {
		/* the loader checked offset + prod(dims) <= arena_words */
		const nnzrt_accel_io *io = nnzrt_accel_program_io(p, i);
		if (io->is_output) {
			n_out++;
			continue;
		}
		uint64_t n = 1;
		for (int d = 0; d < io->rank; d++)
			n *= (uint64_t)io->dims[d];
		memcpy(m.arena + io->offset, inputs[n_in++], (size_t)n * sizeof(float));
	}
	if ((st = run_insns(&m, t)) != NNZRT_OK)
		goto out;
	n_in = n_out = 0;
	for (int i = 0; i < n_io; i++) {
		const nnzrt_accel_io *io = nnzrt_accel_program_io(p, i);
		if (!io->is_output)
			continue;
		uint64_t n = 1;
		for (int d = 0; d < io->rank; d++)
			n *= (uint64_t)io->dims[d];
		memcpy(outputs[n_out++], m.arena + io->offset, (size_t)n * sizeof(float));
	}
	st = stats ? accel_timer_finish(t, stats) : NNZRT_OK;
	goto out;
nomem:
	st = rt_fail(NNZRT_ERR_NOMEM, "accel run: out of memory");
out:
	accel_timer_free(t);
	for (int b = 0; b < 3; b++)
		free(m.buf[b]);
	free(m.x);
	free(m.arena);
	return st;
}
