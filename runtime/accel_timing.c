/* The accelerator's timing and energy model (docs/accelerator.md, "Timing model").
 *
 * Each instruction gets a cost on its own (accel_insn_cost: latency on its unit, MACs, bytes
 * moved per level of the memory hierarchy) from closed formulas per dataflow; nothing loops per
 * MAC, only per tile, per row or per gathered index, so a network of billions of MACs is timed
 * in a small fraction of its functional run. The timer then schedules the instructions on the
 * four units: each unit is in order and has a busy-until time; an instruction starts when its
 * unit is free and not before the last `sync` released issue (the fence); `sync units=M` moves
 * the fence to the completion of everything issued on M. Costs add up per layer (the program's
 * layer table) and in total; a layer's cycles are the span from its first start to its last end,
 * so layers that overlap in time do not add up to the total.
 *
 * With NNZRT_ACCEL_RUN_CHECK_HAZARDS the timer also keeps the instructions that may still be in
 * flight (everything that ends after the fence) with the buffer and arena ranges they read and
 * write, and reports the first pair on different units that overlaps in time and touches a
 * common element with a write: a `sync` the lowering forgot. Regions are the exact strided
 * 2-D views (so that interleaved double buffering, say columns 0-31 and 32-63 of the same rows,
 * does not conflict). */
#include "accel_internal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Bits of one element in a buffer (accumulators 32, indices 16, values data_bits). */
static uint64_t buf_bits(const nnzrt_accel_config *cfg, uint32_t buf)
{
	return buf == NNZRT_ACCEL_BUF_O ? 32 : buf == NNZRT_ACCEL_BUF_X ? 16 : (uint64_t)cfg->data_bits;
}

static int unit_index(int unit_bit)
{
	switch (unit_bit) {
	case ACCEL_UNIT_LD: return NNZRT_ACCEL_UNIT_LD;
	case ACCEL_UNIT_ST: return NNZRT_ACCEL_UNIT_ST;
	case ACCEL_UNIT_MX: return NNZRT_ACCEL_UNIT_MX;
	case ACCEL_UNIT_VX: return NNZRT_ACCEL_UNIT_VX;
	default: return -1;
	}
}

/* ---------------------------------------------------------------- one instruction */

static void dma_cost(const nnzrt_accel_config *cfg, const AccelDma *d, AccelInsnCost *c)
{
	uint64_t elems = (uint64_t)d->rows * d->cols;
	/* DRAM holds values at data_bits; indices packed: within-group position of an N:M pack in
	 * ceil(log2 M) bits, absolute gs indices (and anything else) in 16 */
	uint64_t dram_bits = (uint64_t)cfg->data_bits;
	if (d->buf == NNZRT_ACCEL_BUF_X) {
		dram_bits = 16;
		if (d->fmt == ACCEL_FMT_NM || d->fmt == ACCEL_FMT_TASD) {
			dram_bits = 1;
			while ((1u << dram_bits) < d->m)
				dram_bits++;
		}
	}
	c->dram_bytes = ceil_div(elems * dram_bits, 8);
	c->sram_bytes[d->buf] = elems * buf_bits(cfg, d->buf) / 8;
	double dram_per_cycle = cfg->dram_gb_per_s * 1e3 / cfg->clock_mhz; /* 1e9 B/s over 1e6 cycles/s */
	uint64_t dram_cycles = (uint64_t)ceil((double)c->dram_bytes / dram_per_cycle);
	uint64_t sram_cycles = ceil_div(c->sram_bytes[d->buf], (uint64_t)cfg->sram_bytes_per_cycle);
	c->cycles = max_u64(1, max_u64(dram_cycles, sram_cycles));
}

static uint64_t mm_srow(const AccelMm *x)
{
	switch (x->mode) {
	case NNZRT_ACCEL_MODE_DENSE: return x->k;
	case NNZRT_ACCEL_MODE_NM: return (uint64_t)x->k / x->grp * x->nz;
	default: return x->nz;
	}
}

/* Weight-stationary array of R x C PEs (systolic-ws, sparse-tc): a tile is up to R reduction
 * rows of S^T by C output rows, loaded in r cycles (one PE row per cycle) while the previous
 * tile streams (double-buffered weights, as TPU v1), then the n columns of D stream through in n
 * cycles; the pipeline fills and drains once per instruction, R + C - 2 cycles. keff is the
 * reduction the array sees: k, or k*N/M for an N:M pack on a sparse-tc array, whose PE rows
 * select their operand among M inputs (2:4 halves the tiles). */
static uint64_t ws_cycles(uint64_t R, uint64_t C, uint64_t m, uint64_t keff, uint64_t n)
{
	/* the tiles in order: per m-tile, kt tiles of R rows, the last of rem; tile j streams while
	 * tile j+1 loads, max(n, L[j+1]) cycles (n for the last), after the first load L[0] */
	uint64_t mt = ceil_div(m, C), kt = ceil_div(keff, R), rem = keff - (kt - 1) * R;
	uint64_t l0 = kt == 1 ? rem : R;
	uint64_t all = mt * ((kt - 1) * max_u64(n, R) + max_u64(n, rem)); /* sum of max(n, L[j]) */
	return l0 + all - max_u64(n, l0) + n + R + C - 2;
}

/* Nonzero values among cnt floats. */
static uint64_t count_nz(const float *s, uint64_t cnt)
{
	uint64_t z = 0;
	for (uint64_t e = 0; e < cnt; e++)
		z += s[e] != 0.0f;
	return z;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* gather-scatter: V rows (array_rows) each take one slot per step and gather the D row their
 * index names from the B-banked buffer; rows naming the same D row share one read (broadcast),
 * and a step takes as many cycles as the most distinct rows any one bank must deliver. Returns
 * the compute cycles for one column chunk; adds distinct gathered rows to *reads and the extra
 * cycles to *conflicts. */
static uint64_t gs_steps(const nnzrt_accel_config *cfg, const AccelMm *x, const uint32_t *X, uint64_t srow,
			 uint64_t *reads, uint64_t *conflicts)
{
	uint64_t V = (uint64_t)cfg->array_rows, B = (uint64_t)cfg->sram_banks, cycles = 0;
	if (x->mode == NNZRT_ACCEL_MODE_DENSE) {
		/* every row of a step wants D row s: one broadcast read per step */
		uint64_t groups = ceil_div(x->m, V);
		*reads += groups * srow;
		return groups * srow;
	}
	uint64_t key[4096]; /* V <= 4096 (config range of array_rows) */
	for (uint64_t r0 = 0; r0 < x->m; r0 += V) {
		uint64_t rows = x->m - r0 < V ? x->m - r0 : V;
		for (uint64_t s = 0; s < srow; s++) {
			for (uint64_t r = 0; r < rows; r++) {
				uint64_t e = (r0 + r) * srow + s;
				uint64_t idx = X[e];
				if (x->mode == NNZRT_ACCEL_MODE_NM)
					idx += s / x->nz * x->grp;
				key[r] = (idx % B) << 32 | idx; /* idx < 2^16 * 2^8: fits */
			}
			if (rows <= 32) { /* the usual V: insertion sort beats qsort's calls */
				for (uint64_t a = 1; a < rows; a++) {
					uint64_t v = key[a], j = a;
					for (; j > 0 && key[j - 1] > v; j--)
						key[j] = key[j - 1];
					key[j] = v;
				}
			} else {
				qsort(key, rows, sizeof key[0], cmp_u64);
			}
			uint64_t worst = 0, run = 0, distinct = 0;
			for (uint64_t r = 0; r < rows; r++) {
				if (r > 0 && key[r] == key[r - 1])
					continue; /* the same D row: broadcast */
				distinct++;
				run = r > 0 && key[r] >> 32 == key[r - 1] >> 32 ? run + 1 : 1;
				if (run > worst)
					worst = run;
			}
			*reads += distinct;
			*conflicts += worst - 1;
			cycles += worst;
		}
	}
	return cycles;
}

static void mm_cost(const nnzrt_accel_config *cfg, AccelOp op, const AccelMm *x, float *const bufs[3],
		    const uint32_t *X, AccelInsnCost *c)
{
	uint64_t db = (uint64_t)cfg->data_bits / 8, R = (uint64_t)cfg->array_rows, C = (uint64_t)cfg->array_cols;
	uint64_t m = x->m, n = x->n, k = x->k, srow = mm_srow(x);
	bool sparse = x->mode != NNZRT_ACCEL_MODE_DENSE;
	const float *S = bufs[x->sbuf] + x->saddr;
	const uint32_t *xs = X + x->xaddr;
	c->macs = count_nz(S, m * srow) * n;
	uint64_t s_bytes = m * srow * db, x_bytes = sparse ? m * srow * 2 : 0, acc = m * n * 4;
	uint64_t passes; /* times the accumulators are written (partial sums) */
	switch (cfg->dataflow) {
	case NNZRT_ACCEL_SYSTOLIC_WS:
	case NNZRT_ACCEL_SPARSE_TC:
	default: {
		uint64_t keff = cfg->dataflow == NNZRT_ACCEL_SPARSE_TC && x->mode == NNZRT_ACCEL_MODE_NM ? srow : k;
		c->cycles = ws_cycles(R, C, m, keff, n);
		c->performed_macs = m * keff * n;
		passes = ceil_div(keff, R);
		c->sram_bytes[x->sbuf] += s_bytes;
		c->sram_bytes[x->dbuf] += ceil_div(m, C) * k * n * db; /* D streams once per m-tile */
		c->sram_bytes[NNZRT_ACCEL_BUF_X] += x_bytes;
		c->reg_bytes = c->performed_macs * (2 * db + 4); /* weight read, activation and psum forwarded */
		break;
	}
	case NNZRT_ACCEL_DEMM: {
		/* D's rows of one group (M rows x C columns) are written into a memory with one write
		 * port (M cycles) and P read ports; a sparse row then takes ceil(nz/P) cycles, at least
		 * one, to read its nz rows and reduce them into C partial outputs. The memory holds two
		 * blocks, so the next block's write hides under the current block's rows. */
		uint64_t P = cfg->read_ports > 0 ? (uint64_t)cfg->read_ports : R;
		uint64_t G = x->mode == NNZRT_ACCEL_MODE_NM ? x->grp : k;     /* D rows per block */
		uint64_t ng = k / G, per_g = x->mode == NNZRT_ACCEL_MODE_NM ? x->nz : srow; /* slots per row and block */
		uint64_t chunks = ceil_div(n, C), extra = 0, sum = 0, comp = 0;
		for (uint64_t g = 0; g < ng; g++) {
			comp = 0; /* the rows' cycles in block g */
			for (uint64_t r = 0; r < m; r++) {
				uint64_t nz = count_nz(S + r * srow + g * per_g, per_g);
				uint64_t cyc = nz > P ? ceil_div(nz, P) : 1;
				extra += cyc - 1;
				comp += cyc;
			}
			sum += max_u64(comp, G);
		}
		/* blocks chunk-major, group-minor: the first block's write, then each block's rows
		 * under the next block's write; the last block (group ng-1) has no next */
		uint64_t t = G + chunks * sum - max_u64(comp, G) + comp;
		c->cycles = t;
		c->port_passes = extra * chunks;
		c->performed_macs = m * srow * n;
		passes = ng;
		c->sram_bytes[x->dbuf] += k * n * db;
		c->sram_bytes[x->sbuf] += s_bytes * chunks;
		c->sram_bytes[NNZRT_ACCEL_BUF_X] += x_bytes * chunks;
		c->reg_bytes = c->performed_macs * db + k * n * db; /* port reads, block writes */
		break;
	}
	case NNZRT_ACCEL_GATHER_SCATTER: {
		uint64_t reads = 0, conflicts = 0, chunks = ceil_div(n, C);
		uint64_t steps = gs_steps(cfg, x, xs, srow, &reads, &conflicts);
		c->cycles = steps * chunks;
		c->bank_conflicts = conflicts * chunks;
		c->performed_macs = m * srow * n;
		passes = 1;
		c->sram_bytes[x->dbuf] += reads * n * db;
		c->sram_bytes[x->sbuf] += s_bytes * chunks;
		c->sram_bytes[NNZRT_ACCEL_BUF_X] += x_bytes * chunks;
		c->reg_bytes = c->performed_macs * (db + 4);
		break;
	}
	}
	if (c->cycles == 0)
		c->cycles = 1;
	c->sram_bytes[NNZRT_ACCEL_BUF_O] += passes * acc + (passes - 1 + (op == AOP_MMA)) * acc;
	c->mx_slots = R * C * c->cycles;
}

static bool vec_uses_a(uint32_t func) { return func != ACCEL_FUNC_FILL; }
static bool vec_uses_b(const AccelVec *v)
{
	return v->func >= ACCEL_FUNC_ADD && v->func <= ACCEL_FUNC_MIN && v->bcast != ACCEL_BCAST_SCALAR;
}

static void vec_cost(const nnzrt_accel_config *cfg, const AccelVec *v, AccelInsnCost *c)
{
	uint64_t elems = (uint64_t)v->rows * v->cols;
	c->cycles = max_u64(1, ceil_div(elems, (uint64_t)cfg->vector_lanes));
	c->sram_bytes[v->dbuf] += elems * buf_bits(cfg, v->dbuf) / 8;
	if (vec_uses_a(v->func))
		c->sram_bytes[v->abuf] += elems * buf_bits(cfg, v->abuf) / 8;
	if (vec_uses_b(v)) {
		uint64_t nb = v->bcast == ACCEL_BCAST_ROW ? v->rows : v->bcast == ACCEL_BCAST_COL ? v->cols : elems;
		c->sram_bytes[v->bbuf] += nb * buf_bits(cfg, v->bbuf) / 8;
	}
}

static void adec_cost(const nnzrt_accel_config *cfg, const AccelAdec *a, AccelInsnCost *c)
{
	uint64_t elems = (uint64_t)a->rows * a->cols, packed = (uint64_t)a->rows * (a->cols / a->m * a->n);
	c->cycles = max_u64(1, ceil_div(elems, (uint64_t)cfg->vector_lanes));
	c->sram_bytes[a->sbuf] += (elems + (a->resid ? packed : 0)) * buf_bits(cfg, a->sbuf) / 8;
	c->sram_bytes[a->dbuf] += packed * buf_bits(cfg, a->dbuf) / 8;
	c->sram_bytes[NNZRT_ACCEL_BUF_X] += packed * 2;
}

void accel_insn_cost(const nnzrt_accel_config *cfg, const AccelInsn *ins, float *const bufs[3], const uint32_t *x,
		     AccelInsnCost *c)
{
	memset(c, 0, sizeof *c);
	c->unit = unit_index(accel_op_unit(ins->op));
	switch (ins->op) {
	case AOP_LD:
	case AOP_ST: dma_cost(cfg, &ins->u.dma, c); break;
	case AOP_MM:
	case AOP_MMA: mm_cost(cfg, ins->op, &ins->u.mm, bufs, x, c); break;
	case AOP_VEC: vec_cost(cfg, &ins->u.vec, c); break;
	case AOP_ADEC: adec_cost(cfg, &ins->u.adec, c); break;
	default: break;
	}
}

/* ---------------------------------------------------------------- hazards */

enum { SPACE_ARENA = NNZRT_ACCEL_NUM_BUFS, MAX_RANGES = 5 };

/* The elements base + r*ld + c*step (r < rows, c < cols) of a buffer or of the arena. */
typedef struct Range {
	int space; /* a buffer, or SPACE_ARENA */
	uint64_t base, rows, cols, ld, step;
	uint64_t lo, hi; /* bounding interval */
	bool write;
} Range;

typedef struct Flight {
	uint32_t insn;
	int unit;
	uint64_t start, end;
	int n;
	Range r[MAX_RANGES];
} Flight;

static void add_region(Flight *f, int space, uint64_t base, uint64_t rows, uint64_t cols, uint64_t ld, uint64_t step,
		       bool write)
{
	assert(f->n < MAX_RANGES && rows > 0 && cols > 0);
	uint64_t hi = base + (rows - 1) * ld + (cols - 1) * step + 1;
	f->r[f->n++] = (Range){space, base, rows, cols, ld, step, base, hi, write};
}

static void add_range(Flight *f, int space, uint64_t lo, uint64_t hi, bool write)
{
	add_region(f, space, lo, 1, hi - lo, 0, 1, write);
}

/* Every element between lo and hi belongs to r (contiguous rows that touch or overlap). */
static bool range_full(const Range *r) { return r->step == 1 && (r->rows == 1 || r->ld <= r->cols); }

/* Columns [*c0, *c1) of row `row` of r that fall in [lo, hi); false if none. */
static bool row_cols_in(const Range *r, uint64_t row, uint64_t lo, uint64_t hi, uint64_t *c0, uint64_t *c1)
{
	uint64_t rb = r->base + row * r->ld;
	if (rb >= hi)
		return false;
	uint64_t first = lo > rb ? ceil_div(lo - rb, r->step) : 0;
	uint64_t last = (hi - 1 - rb) / r->step + 1; /* columns below last land below hi */
	if (last > r->cols)
		last = r->cols;
	*c0 = first;
	*c1 = last;
	return first < last;
}

static bool has_elem_in(const Range *r, uint64_t lo, uint64_t hi)
{
	uint64_t c0, c1;
	for (uint64_t row = 0; row < r->rows; row++)
		if (row_cols_in(r, row, lo, hi, &c0, &c1))
			return true;
	return false;
}

/* Whether two regions share an element: exact, by a bitmap of the common window when neither
 * is contiguous (bounded in size; beyond it, or out of memory, the answer is "yes"). */
static bool regions_overlap(const Range *a, const Range *b)
{
	uint64_t lo = a->lo > b->lo ? a->lo : b->lo, hi = a->hi < b->hi ? a->hi : b->hi;
	if (lo >= hi)
		return false;
	if (range_full(a))
		return has_elem_in(b, lo, hi);
	if (range_full(b))
		return has_elem_in(a, lo, hi);
	if (hi - lo > (1u << 24))
		return true;
	unsigned char *mark = rt_calloc((size_t)(hi - lo), 1);
	if (mark == NULL)
		return true;
	uint64_t c0, c1;
	for (uint64_t row = 0; row < a->rows; row++)
		if (row_cols_in(a, row, lo, hi, &c0, &c1))
			for (uint64_t c = c0; c < c1; c++)
				mark[a->base + row * a->ld + c * a->step - lo] = 1;
	bool hit = false;
	for (uint64_t row = 0; row < b->rows && !hit; row++)
		if (row_cols_in(b, row, lo, hi, &c0, &c1))
			for (uint64_t c = c0; c < c1 && !hit; c++)
				hit = mark[b->base + row * b->ld + c * b->step - lo];
	free(mark);
	return hit;
}

static void footprint(const AccelInsn *ins, Flight *f)
{
	f->n = 0;
	switch (ins->op) {
	case AOP_LD:
	case AOP_ST: {
		const AccelDma *d = &ins->u.dma;
		add_region(f, (int)d->buf, d->addr, d->rows, d->cols, d->ldb, 1, ins->op == AOP_LD);
		if (d->space == ACCEL_SPACE_ARENA)
			add_region(f, SPACE_ARENA, d->dram, d->rows, d->cols, d->stride, d->cstep, ins->op == AOP_ST);
		break;
	}
	case AOP_MM:
	case AOP_MMA: {
		const AccelMm *x = &ins->u.mm;
		uint64_t srow = mm_srow(x);
		add_range(f, (int)x->sbuf, x->saddr, x->saddr + x->m * srow, false);
		if (x->mode != NNZRT_ACCEL_MODE_DENSE)
			add_range(f, NNZRT_ACCEL_BUF_X, x->xaddr, x->xaddr + x->m * srow, false);
		add_region(f, (int)x->dbuf, x->daddr, x->k, x->n, x->ldn, 1, false);
		add_region(f, NNZRT_ACCEL_BUF_O, x->caddr, x->m, x->n, x->ldn, 1, true);
		break;
	}
	case AOP_VEC: {
		const AccelVec *v = &ins->u.vec;
		add_range(f, (int)v->dbuf, v->daddr, v->daddr + (uint64_t)v->rows * v->cols, true);
		if (vec_uses_a(v->func))
			add_region(f, (int)v->abuf, v->aaddr, v->rows, v->cols, v->lda, v->astep, false);
		if (vec_uses_b(v)) {
			uint64_t nb = v->bcast == ACCEL_BCAST_ROW ? v->rows
				      : v->bcast == ACCEL_BCAST_COL ? v->cols
								    : (uint64_t)v->rows * v->cols;
			add_range(f, (int)v->bbuf, v->baddr, v->baddr + nb, false);
		}
		break;
	}
	case AOP_ADEC: {
		const AccelAdec *a = &ins->u.adec;
		uint64_t packed = (uint64_t)a->rows * (a->cols / a->m * a->n);
		add_range(f, (int)a->sbuf, a->saddr, a->saddr + (uint64_t)a->rows * a->cols, a->resid != 0);
		add_range(f, (int)a->dbuf, a->daddr, a->daddr + packed, true);
		add_range(f, NNZRT_ACCEL_BUF_X, a->xaddr, a->xaddr + packed, true);
		break;
	}
	default: break;
	}
}

static bool conflict(const Flight *a, const Flight *b)
{
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++) {
			const Range *x = &a->r[i], *y = &b->r[j];
			if (x->space == y->space && (x->write || y->write) && regions_overlap(x, y))
				return true;
		}
	return false;
}

/* ---------------------------------------------------------------- the timer */

typedef struct Acc {
	nnzrt_accel_cost c;
	uint64_t start, end;
	bool any;
} Acc;

struct AccelTimer {
	const nnzrt_accel_program *p;
	const nnzrt_accel_config *cfg;
	unsigned flags;
	uint64_t busy_until[NNZRT_ACCEL_NUM_UNITS], fence;
	Acc total;
	int n_layers, cur; /* the layer table, and the first layer that may hold the next instruction */
	Acc *layers;
	Flight *flight; /* hazard check: instructions that may still be in flight */
	size_t n_flight, cap_flight;
};

AccelTimer *accel_timer_new(const nnzrt_accel_program *p, unsigned flags)
{
	AccelTimer *t = rt_calloc(1, sizeof *t);
	if (t == NULL) {
		rt_set_errmsg("accel run: out of memory");
		return NULL;
	}
	t->p = p;
	t->cfg = nnzrt_accel_program_config(p);
	t->flags = flags;
	t->n_layers = nnzrt_accel_program_num_layers(p);
	if (t->n_layers > 0 && (t->layers = rt_calloc((size_t)t->n_layers, sizeof *t->layers)) == NULL) {
		free(t);
		rt_set_errmsg("accel run: out of memory");
		return NULL;
	}
	return t;
}

void accel_timer_free(AccelTimer *t)
{
	if (t == NULL)
		return;
	free(t->layers);
	free(t->flight);
	free(t);
}

static void account(const nnzrt_accel_config *cfg, Acc *a, const AccelInsnCost *c, uint64_t start, uint64_t end)
{
	a->c.insns++;
	if (c->unit < 0)
		return;
	if (!a->any || start < a->start)
		a->start = start;
	if (!a->any || end > a->end)
		a->end = end;
	a->any = true;
	a->c.busy[c->unit] += c->cycles;
	a->c.macs += c->macs;
	a->c.mx_slots += c->mx_slots;
	a->c.dram_bytes += c->dram_bytes;
	a->c.bank_conflicts += c->bank_conflicts;
	a->c.port_passes += c->port_passes;
	a->c.energy_mac_pj += (double)c->performed_macs * cfg->energy_mac_pj;
	a->c.energy_reg_pj += (double)c->reg_bytes * cfg->energy_reg_pj_per_byte;
	a->c.energy_dram_pj += (double)c->dram_bytes * cfg->energy_dram_pj_per_byte;
	for (int b = 0; b < NNZRT_ACCEL_NUM_BUFS; b++) {
		a->c.sram_bytes += c->sram_bytes[b];
		a->c.energy_sram_pj += (double)c->sram_bytes[b] * cfg->energy_sram_pj_per_byte[b];
	}
}

static int check_hazards(AccelTimer *t, uint32_t i, const AccelInsn *ins, int unit, uint64_t start, uint64_t end)
{
	/* everything later starts at or after the fence: what ended by then cannot conflict */
	size_t keep = 0;
	for (size_t j = 0; j < t->n_flight; j++)
		if (t->flight[j].end > t->fence)
			t->flight[keep++] = t->flight[j];
	t->n_flight = keep;
	Flight f = {.insn = i, .unit = unit, .start = start, .end = end};
	footprint(ins, &f);
	for (size_t j = 0; j < t->n_flight; j++) {
		const Flight *o = &t->flight[j];
		if (o->unit != unit && o->start < end && start < o->end && conflict(o, &f))
			return rt_fail(NNZRT_ERR_FORMAT,
				       "accel run: hazard: instruction %u (%s) overlaps instruction %u in time and touches "
				       "the same elements, one of them writing (a missing sync)",
				       i, accel_op_name(ins->op), o->insn);
	}
	if (t->n_flight == t->cap_flight) {
		size_t cap = t->cap_flight ? 2 * t->cap_flight : 64;
		Flight *nf = rt_realloc(t->flight, cap * sizeof *nf);
		if (nf == NULL)
			return rt_fail(NNZRT_ERR_NOMEM, "accel run: out of memory");
		t->flight = nf;
		t->cap_flight = cap;
	}
	t->flight[t->n_flight++] = f;
	return NNZRT_OK;
}

int accel_timer_insn(AccelTimer *t, uint32_t i, const AccelInsn *ins, float *const bufs[3], const uint32_t *x)
{
	AccelInsnCost c;
	accel_insn_cost(t->cfg, ins, bufs, x, &c);
	uint64_t start = t->fence, end = t->fence;
	if (ins->op == AOP_SYNC) {
		for (int u = 0; u < NNZRT_ACCEL_NUM_UNITS; u++)
			if (ins->u.sync.units & (1u << u) && t->busy_until[u] > t->fence)
				t->fence = t->busy_until[u];
	} else if (c.unit >= 0) {
		start = max_u64(t->busy_until[c.unit], t->fence);
		end = start + c.cycles;
		t->busy_until[c.unit] = end;
		int st;
		if ((t->flags & NNZRT_ACCEL_RUN_CHECK_HAZARDS) && (st = check_hazards(t, i, ins, c.unit, start, end)) != NNZRT_OK)
			return st;
	}
	account(t->cfg, &t->total, &c, start, end);
	while (t->cur < t->n_layers) {
		const nnzrt_accel_layer *l = nnzrt_accel_program_layer(t->p, t->cur);
		if (i >= l->first + l->count) {
			t->cur++;
			continue;
		}
		if (i >= l->first)
			account(t->cfg, &t->layers[t->cur], &c, start, end);
		break;
	}
	return NNZRT_OK;
}

static void finish_cost(const nnzrt_accel_config *cfg, Acc *a, uint64_t cycles)
{
	nnzrt_accel_cost *c = &a->c;
	c->cycles = cycles;
	c->energy_pj = c->energy_mac_pj + c->energy_reg_pj + c->energy_sram_pj + c->energy_dram_pj;
	double macs_per_cycle = (double)cfg->array_rows * cfg->array_cols;
	c->utilisation = cycles ? (double)c->macs / (macs_per_cycle * (double)cycles) : 0.0;
	c->seconds = (double)cycles / (cfg->clock_mhz * 1e6);
	c->edp = c->energy_pj * 1e-12 * c->seconds;
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = rt_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

int accel_timer_finish(AccelTimer *t, nnzrt_accel_stats *st)
{
	memset(st, 0, sizeof *st);
	uint64_t total = t->fence;
	for (int u = 0; u < NNZRT_ACCEL_NUM_UNITS; u++)
		total = max_u64(total, t->busy_until[u]);
	finish_cost(t->cfg, &t->total, total);
	st->total = t->total.c;
	if (t->n_layers == 0)
		return NNZRT_OK;
	if ((st->layers = rt_calloc((size_t)t->n_layers, sizeof *st->layers)) == NULL)
		return rt_fail(NNZRT_ERR_NOMEM, "accel run: out of memory");
	st->n_layers = t->n_layers;
	for (int i = 0; i < t->n_layers; i++) {
		const nnzrt_accel_layer *l = nnzrt_accel_program_layer(t->p, i);
		Acc *a = &t->layers[i];
		finish_cost(t->cfg, a, a->any ? a->end - a->start : 0);
		st->layers[i].cost = a->c;
		if ((st->layers[i].name = dup_str(l->name)) == NULL || (st->layers[i].op = dup_str(l->op)) == NULL)
			return rt_fail(NNZRT_ERR_NOMEM, "accel run: out of memory");
	}
	return NNZRT_OK;
}

/* ---------------------------------------------------------------- report */

static void print_cost(FILE *f, const nnzrt_accel_cost *c)
{
	fprintf(f, "%12llu %6.1f%% %14llu %12llu %12.3f", (unsigned long long)c->cycles, 100.0 * c->utilisation,
		(unsigned long long)c->macs, (unsigned long long)c->dram_bytes, c->energy_pj * 1e-6);
}

int nnzrt_accel_stats_print(const nnzrt_accel_stats *s, FILE *f)
{
	if (s == NULL || f == NULL)
		return rt_fail(NNZRT_ERR_ARG, "accel stats print: no stats or no file");
	const nnzrt_accel_cost *t = &s->total;
	fprintf(f,
		"total: %llu cycles (%.6g s), %llu MACs, utilisation %.1f%%, DRAM %llu B, SRAM %llu B, "
		"energy %.6g uJ (MAC %.3g, reg %.3g, SRAM %.3g, DRAM %.3g), EDP %.6g J*s\n",
		(unsigned long long)t->cycles, t->seconds, (unsigned long long)t->macs, 100.0 * t->utilisation,
		(unsigned long long)t->dram_bytes, (unsigned long long)t->sram_bytes, t->energy_pj * 1e-6,
		t->energy_mac_pj * 1e-6, t->energy_reg_pj * 1e-6, t->energy_sram_pj * 1e-6, t->energy_dram_pj * 1e-6,
		t->edp);
	if (s->n_layers > 0) {
		fprintf(f, "%-32s %-16s %12s %7s %14s %12s %12s\n", "layer", "op", "cycles", "util", "MACs", "DRAM B",
			"energy uJ");
		for (int i = 0; i < s->n_layers; i++) {
			fprintf(f, "%-32s %-16s ", s->layers[i].name, s->layers[i].op);
			print_cost(f, &s->layers[i].cost);
			fputc('\n', f);
		}
	}
	if (ferror(f))
		return rt_fail(NNZRT_ERR_IO, "accel stats print: write error");
	return NNZRT_OK;
}
