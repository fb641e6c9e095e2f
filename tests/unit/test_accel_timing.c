/* The accelerator's timing and energy model (runtime/accel_timing.c): cycle counts computed by
 * hand for each dataflow (the arithmetic is in the comments), data-dependent costs (DeMM rows
 * over the read-port limit, gather bank conflicts), DMA byte and cycle counts, and the
 * scheduler: units overlapping until a sync, per-layer spans, energy and EDP totals. */
#define _GNU_SOURCE /* open_memstream */
#include "runtime/accel_internal.h"
#include "targets/accel/accel.h"
#include "accel_testutil.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nnzrt_accel_config preset(const char *name)
{
	nnzrt_accel_config c;
	ck_assert_msg(nnzrt_accel_config_load(name, &c) == 0, "%s", nnzrt_errmsg());
	return c;
}

/* Machine buffers for accel_insn_cost: W, I, O all ones unless a test writes them. */
typedef struct Bufs {
	float *b[3];
	uint32_t *x;
} Bufs;

static Bufs bufs_new(const nnzrt_accel_config *c)
{
	Bufs m;
	for (int b = 0; b < 3; b++) {
		size_t n = (size_t)nnzrt_accel_buffer_elems(c, b);
		m.b[b] = malloc(n * sizeof(float));
		for (size_t i = 0; i < n; i++)
			m.b[b][i] = 1.0f;
	}
	m.x = calloc((size_t)nnzrt_accel_buffer_elems(c, NNZRT_ACCEL_BUF_X) + 1, sizeof(uint32_t));
	return m;
}

static void bufs_free(Bufs *m)
{
	for (int b = 0; b < 3; b++)
		free(m->b[b]);
	free(m->x);
}

static AccelInsn mm(int mode, uint32_t m, uint32_t n, uint32_t k, uint32_t nz, uint32_t grp)
{
	AccelInsn ins = {.op = AOP_MM};
	ins.u.mm = (AccelMm){.mode = (uint32_t)mode, .sbuf = NNZRT_ACCEL_BUF_W, .dbuf = NNZRT_ACCEL_BUF_I, .m = m, .n = n,
			     .k = k, .ldn = n, .nz = nz, .grp = grp};
	return ins;
}

static AccelInsnCost cost_of(const nnzrt_accel_config *c, const AccelInsn *ins, Bufs *m)
{
	AccelInsnCost k;
	accel_insn_cost(c, ins, m->b, m->x, &k);
	return k;
}

/* ---------------------------------------------------------------- matrix unit */

/* Weight-stationary 32 x 32 (dense preset). A tile is 32 reduction rows x 32 outputs: its load
 * takes its rows in cycles, hidden under the previous tile's streaming; streaming takes n
 * cycles; fill and drain R + C - 2 = 62 once per instruction. */
START_TEST(systolic_dense)
{
	nnzrt_accel_config c = preset("dense");
	Bufs b = bufs_new(&c);
	struct {
		uint32_t m, k, n;
		uint64_t cycles;
	} cases[] = {
		{32, 32, 1024, 32 + 1024 + 62},           /* load 32, stream 1024, drain 62 = 1118 */
		{32, 64, 1024, 32 + 2 * 1024 + 62},       /* 2 k-tiles: 2142 */
		{32, 64, 8, 32 + 32 + 8 + 62},            /* stream 8 < next load 32: max(8, 32), then 8 */
		{64, 32, 100, 32 + 100 + 100 + 62},       /* 2 m-tiles of 100 each */
		{32, 40, 100, 32 + 100 + 100 + 62},       /* k-tiles of 32 and 8 rows */
		{5, 7, 3, 7 + 3 + 62},                    /* one small tile: load 7 rows, stream 3 */
		{32, 512, 256, 32 + 16 * 256 + 62},       /* 16 k-tiles: 4190 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		AccelInsn ins = mm(NNZRT_ACCEL_MODE_DENSE, cases[i].m, cases[i].n, cases[i].k, 0, 0);
		AccelInsnCost k = cost_of(&c, &ins, &b);
		ck_assert_int_eq(k.unit, NNZRT_ACCEL_UNIT_MX);
		ck_assert_msg(k.cycles == cases[i].cycles, "case %zu: %llu cycles, want %llu", i,
			      (unsigned long long)k.cycles, (unsigned long long)cases[i].cycles);
		ck_assert_uint_eq(k.macs, (uint64_t)cases[i].m * cases[i].k * cases[i].n); /* S all ones */
		ck_assert_uint_eq(k.mx_slots, 1024 * k.cycles);
	}
	/* utilisation of the big one: 32*512*256 MACs / (1024 MACs x 4190 cycles) = 0.97757 */
	AccelInsn ins = mm(NNZRT_ACCEL_MODE_DENSE, 32, 256, 512, 0, 0);
	AccelInsnCost k = cost_of(&c, &ins, &b);
	ck_assert_double_eq_tol((double)k.macs / (double)k.mx_slots, 4194304.0 / (1024.0 * 4190.0), 1e-12);
	ck_assert_double_ge((double)k.macs / (double)k.mx_slots, 0.97);
	/* zeros in S are not useful MACs, but still occupy the array */
	b.b[0][0] = 0.0f;
	b.b[0][5] = 0.0f;
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.macs, (32ull * 512 - 2) * 256);
	ck_assert_uint_eq(k.performed_macs, 32ull * 512 * 256);
	ck_assert_uint_eq(k.cycles, 4190);
	bufs_free(&b);
}
END_TEST

/* Sparse tensor core (stc, vegeta): an N:M pack shrinks the reduction the array sees to k*N/M,
 * so a 2:4 layer takes the tiles of half its k. */
START_TEST(sparse_tc)
{
	nnzrt_accel_config stc = preset("stc"), veg = preset("vegeta"), den = preset("dense");
	Bufs b = bufs_new(&stc), bd = bufs_new(&den);
	/* m 32, k 64, n 1024: dense 2 k-tiles 32 + 2*1024 + 62 = 2142; 2:4 keff 32: 32 + 1024 + 62 */
	AccelInsn d = mm(NNZRT_ACCEL_MODE_DENSE, 32, 1024, 64, 0, 0), s = mm(NNZRT_ACCEL_MODE_NM, 32, 1024, 64, 2, 4);
	AccelInsnCost kd = cost_of(&stc, &d, &b), ks = cost_of(&stc, &s, &b), kdd = cost_of(&den, &d, &bd);
	ck_assert_uint_eq(kd.cycles, 2142);
	ck_assert_uint_eq(kdd.cycles, 2142); /* the same array runs dense the same on both */
	ck_assert_uint_eq(ks.cycles, 1118);
	double ratio = (double)ks.cycles / (double)kd.cycles;
	ck_assert_msg(ratio > 0.5 && ratio < 0.53, "2:4 / dense = %g", ratio);
	ck_assert_uint_eq(ks.macs, 32ull * 32 * 1024);        /* half the products */
	ck_assert_uint_eq(ks.performed_macs, 32ull * 32 * 1024);
	/* vegeta, k 128: 1:4 keff 32 -> 1118; 2:4 keff 64 -> 2142; 4:4 keff 128, 4 tiles -> 32 + 4096 + 62 */
	uint32_t nz[] = {1, 2, 4};
	uint64_t want[] = {1118, 2142, 4190};
	for (int i = 0; i < 3; i++) {
		AccelInsn v = mm(NNZRT_ACCEL_MODE_NM, 32, 1024, 128, nz[i], 4);
		ck_assert_uint_eq(cost_of(&veg, &v, &b).cycles, want[i]);
	}
	bufs_free(&b);
	bufs_free(&bd);
}
END_TEST

/* DeMM (8 read ports, 128 columns): a group's M rows of D are written in M cycles (one write
 * port), hidden under the previous block's rows; each sparse row takes ceil(nz/8) cycles, at
 * least 1, where nz counts the row's non-zero values in the group. */
START_TEST(demm_ports)
{
	nnzrt_accel_config c = preset("demm");
	Bufs b = bufs_new(&c);
	/* m 4, 16:128, k 128: rows with 16, 8, 3, 0 non-zeros: 2 + 1 + 1 + 1 = 5 cycles after the
	 * block write of 128: 133; one extra pass (row 0) */
	float *S = b.b[0];
	for (int r = 0; r < 4; r++)
		for (int e = 0; e < 16; e++)
			S[r * 16 + e] = (r == 0 || (r == 1 && e < 8) || (r == 2 && e < 3)) ? 1.0f : 0.0f;
	AccelInsn ins = mm(NNZRT_ACCEL_MODE_NM, 4, 128, 128, 16, 128);
	AccelInsnCost k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 128 + 5);
	ck_assert_uint_eq(k.port_passes, 1);
	ck_assert_uint_eq(k.macs, 27 * 128);
	ck_assert_uint_eq(k.performed_macs, 4 * 16 * 128);
	/* n 256: two column chunks, the second block's write hides under the first's 5 cycles?
	 * no: max(5, 128) = 128, then 5: 128 + 128 + 5 = 261, two extra passes */
	ins = mm(NNZRT_ACCEL_MODE_NM, 4, 256, 128, 16, 128);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 261);
	ck_assert_uint_eq(k.port_passes, 2);
	/* 17 non-zeros: ceil(17/8) = 3 cycles; m 1, 17:128: 128 + 3 */
	for (int e = 0; e < 17; e++)
		S[e] = 1.0f;
	ins = mm(NNZRT_ACCEL_MODE_NM, 1, 128, 128, 17, 128);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 131);
	ck_assert_uint_eq(k.port_passes, 2);
	/* k 256 as two groups of 128, 10 slots each, all non-zero: 2 cycles per group:
	 * 128 + max(2, 128) + 2 = 258 */
	for (int e = 0; e < 20; e++)
		S[e] = 1.0f;
	ins = mm(NNZRT_ACCEL_MODE_NM, 1, 128, 256, 10, 128);
	ck_assert_uint_eq(cost_of(&c, &ins, &b).cycles, 258);
	/* m 512 rows of 8:128 (one pass each): the block write is amortised: 128 + 512 = 640 cycles,
	 * utilisation 512*8*128 / (1024 * 640) = 0.8 */
	for (int e = 0; e < 512 * 8; e++)
		S[e] = 1.0f;
	ins = mm(NNZRT_ACCEL_MODE_NM, 512, 128, 128, 8, 128);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 640);
	ck_assert_double_eq_tol((double)k.macs / (double)k.mx_slots, 0.8, 1e-12);
	bufs_free(&b);
}
END_TEST

/* Gather-scatter (16 rows x 64 columns, 16 banks): each step the 16 rows of a group gather the
 * D row their slot names; a step takes the largest number of distinct rows in one bank
 * (idx mod 16); rows naming the same D row share a read. */
START_TEST(gs_bank_conflicts)
{
	nnzrt_accel_config c = preset("gs");
	Bufs b = bufs_new(&c);
	/* m 16, 2 slots, k 64: slot 0 idx r (16 banks, no conflict: 1 cycle); slot 1 idx 16r mod 64
	 * = {0, 16, 32, 48} four times: all bank 0, 4 distinct rows: 4 cycles, 3 conflicts */
	for (uint32_t r = 0; r < 16; r++) {
		b.x[r * 2] = r;
		b.x[r * 2 + 1] = r * 16 % 64;
	}
	AccelInsn ins = mm(NNZRT_ACCEL_MODE_GS, 16, 64, 64, 2, 0);
	AccelInsnCost k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 5);
	ck_assert_uint_eq(k.bank_conflicts, 3);
	/* gathered D rows 16 + 4 = 20, 64 columns of 2 bytes */
	ck_assert_uint_eq(k.sram_bytes[NNZRT_ACCEL_BUF_I], 20 * 64 * 2);
	/* n 128: two column chunks, everything twice */
	ins = mm(NNZRT_ACCEL_MODE_GS, 16, 128, 64, 2, 0);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 10);
	ck_assert_uint_eq(k.bank_conflicts, 6);
	/* gs(16,16) layout: slot s of row r at idx 16s + r: always 16 banks, no conflict */
	for (uint32_t r = 0; r < 16; r++)
		for (uint32_t s = 0; s < 4; s++)
			b.x[r * 4 + s] = 16 * s + r;
	ins = mm(NNZRT_ACCEL_MODE_GS, 16, 64, 64, 4, 0);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 4);
	ck_assert_uint_eq(k.bank_conflicts, 0);
	/* 20 rows: a second group of 4 rows; X rows 16-19: idx 0, 16, 0, 5 in slot 0 (bank 0 twice
	 * distinct: 2 cycles), 1 in slots 1-3 (1 cycle each) */
	for (uint32_t r = 16; r < 20; r++)
		for (uint32_t s = 0; s < 4; s++)
			b.x[r * 4 + s] = s ? 1 : (uint32_t[]){0, 16, 0, 5}[r - 16];
	ins = mm(NNZRT_ACCEL_MODE_GS, 20, 64, 64, 4, 0);
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.cycles, 4 + 2 + 3);
	ck_assert_uint_eq(k.bank_conflicts, 1);
	/* dense on the gs engine: every row of a step reads the same D row (broadcast): k steps per
	 * group of 16 rows: m 16 -> 8, m 17 -> 16 */
	ins = mm(NNZRT_ACCEL_MODE_DENSE, 16, 64, 8, 0, 0);
	ck_assert_uint_eq(cost_of(&c, &ins, &b).cycles, 8);
	ins = mm(NNZRT_ACCEL_MODE_DENSE, 17, 64, 8, 0, 0);
	ck_assert_uint_eq(cost_of(&c, &ins, &b).cycles, 16);
	bufs_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- dma, vec */

START_TEST(dma_and_vec)
{
	nnzrt_accel_config c = preset("stc"); /* 16-bit data, 64 GB/s at 1 GHz = 64 B/cycle, 64 B/cycle ports */
	Bufs b = bufs_new(&c);
	AccelInsn ins = {.op = AOP_LD};
	/* 32 x 32 values: 2048 bytes: 32 DRAM cycles, 32 port cycles */
	ins.u.dma = (AccelDma){
		.fmt = ACCEL_FMT_DENSE, .buf = NNZRT_ACCEL_BUF_W, .rows = 32, .cols = 32, .ldb = 32, .cstep = 1};
	AccelInsnCost k = cost_of(&c, &ins, &b);
	ck_assert_int_eq(k.unit, NNZRT_ACCEL_UNIT_LD);
	ck_assert_uint_eq(k.cycles, 32);
	ck_assert_uint_eq(k.dram_bytes, 2048);
	ck_assert_uint_eq(k.sram_bytes[NNZRT_ACCEL_BUF_W], 2048);
	/* 2:4 indices, 32 x 16: 2 bits each in DRAM = 128 bytes (2 cycles), 16 bits in X = 1024 bytes
	 * (16 port cycles): 16 */
	ins.u.dma = (AccelDma){.fmt = ACCEL_FMT_NM, .part = ACCEL_PART_IDX, .buf = NNZRT_ACCEL_BUF_X, .rows = 32,
			       .cols = 16, .ldb = 16, .n = 2, .m = 4, .cstep = 1};
	k = cost_of(&c, &ins, &b);
	ck_assert_uint_eq(k.dram_bytes, 128);
	ck_assert_uint_eq(k.sram_bytes[NNZRT_ACCEL_BUF_X], 1024);
	ck_assert_uint_eq(k.cycles, 16);
	/* st of 32 x 32 accumulators: DRAM 2048 bytes (32 cycles), O port 4096 bytes (64 cycles) */
	ins.op = AOP_ST;
	ins.u.dma = (AccelDma){.fmt = ACCEL_FMT_DENSE, .buf = NNZRT_ACCEL_BUF_O, .space = ACCEL_SPACE_ARENA, .rows = 32,
			       .cols = 32, .ldb = 32, .cstep = 1};
	k = cost_of(&c, &ins, &b);
	ck_assert_int_eq(k.unit, NNZRT_ACCEL_UNIT_ST);
	ck_assert_uint_eq(k.cycles, 64);
	/* one element still takes a cycle */
	ins.u.dma.rows = ins.u.dma.cols = 1;
	ck_assert_uint_eq(cost_of(&c, &ins, &b).cycles, 1);
	/* vec add bcast=row on 4 x 100 in O: 400 elements / 32 lanes = 13 cycles; O read + write 4
	 * bytes each, the bias from W: 4 values of 2 bytes */
	ins = (AccelInsn){.op = AOP_VEC};
	ins.u.vec = (AccelVec){.func = ACCEL_FUNC_ADD, .bcast = ACCEL_BCAST_ROW, .dbuf = NNZRT_ACCEL_BUF_O, .rows = 4,
			       .cols = 100, .abuf = NNZRT_ACCEL_BUF_O, .bbuf = NNZRT_ACCEL_BUF_W, .lda = 100, .astep = 1};
	k = cost_of(&c, &ins, &b);
	ck_assert_int_eq(k.unit, NNZRT_ACCEL_UNIT_VX);
	ck_assert_uint_eq(k.cycles, 13);
	ck_assert_uint_eq(k.sram_bytes[NNZRT_ACCEL_BUF_O], 400 * 8);
	ck_assert_uint_eq(k.sram_bytes[NNZRT_ACCEL_BUF_W], 8);
	/* sync and end cost nothing and go to no unit */
	ins = (AccelInsn){.op = AOP_SYNC, .u.sync.units = 15};
	ck_assert_int_eq(cost_of(&c, &ins, &b).unit, -1);
	bufs_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- the scheduler */


/* dense preset:
 *   0 ld W 32 x 32 (32 cycles)                 [0, 32)
 *   1 sync ld                                  fence 32
 *   2 mm 32 x 32 x 64: 32 + 64 + 62 = 158      [32, 190)
 *   3 (sync mx: the variant without overlap)
 *   3 ld I 32 x 64 elsewhere: 4096 B, 64 cycles  overlapped: [32, 96); after the sync: [190, 254)
 *     sync ld|mx, end
 * Layers "a" = 0-2 and "b" = 3-end: a spans 190, b 64 cycles. */
START_TEST(overlap_and_sync)
{
	const char *fmt = ".nnza 1.0\n.config dense\n.arena 4096\n.input \"x\" f32 [4096] @0\n"
			  ".layer \"a\" \"Conv\" 0 3\n.layer \"b\" \"Relu\" 3 %d\n.code\n"
			  "ld fmt=dense buf=W rows=32 cols=32 space=arena dram=0\n"
			  "sync units=ld\n"
			  "mm mode=dense sbuf=W dbuf=I m=32 n=64 k=32\n"
			  "%s"
			  "ld fmt=dense buf=I addr=4096 rows=32 cols=64 space=arena dram=0\n"
			  "sync units=ld|mx\nend\n";
	float *x = malloc(4096 * sizeof *x);
	for (int i = 0; i < 4096; i++)
		x[i] = 1.0f; /* non-zero weights: every MAC useful */
	const float *in[] = {x};
	for (int v = 0; v < 2; v++) {
		char text[1024];
		snprintf(text, sizeof text, fmt, v ? 4 : 3, v ? "sync units=mx\n" : "");
		nnzrt_accel_program *p = test_accel_build(text);
		nnzrt_accel_stats st;
		ck_assert_msg(nnzrt_accel_run(p, in, NULL, NNZRT_ACCEL_RUN_CHECK_HAZARDS, &st) == 0, "%s", nnzrt_errmsg());
		ck_assert_uint_eq(st.total.cycles, v ? 254 : 190);
		ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_LD], 96);
		ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_MX], 158);
		ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_VX], 0);
		ck_assert_int_eq(st.n_layers, 2);
		ck_assert_str_eq(st.layers[0].name, "a");
		ck_assert_str_eq(st.layers[1].op, "Relu");
		ck_assert_uint_eq(st.layers[0].cost.cycles, 190);
		ck_assert_uint_eq(st.layers[1].cost.cycles, 64);
		ck_assert_uint_eq(st.layers[0].cost.macs, 32 * 32 * 64);
		ck_assert_uint_eq(st.layers[1].cost.macs, 0);
		ck_assert_uint_eq(st.total.insns, v ? 7 : 6);
		/* the layers' costs add up to the total (every instruction is in a layer) */
		ck_assert_uint_eq(st.layers[0].cost.dram_bytes + st.layers[1].cost.dram_bytes, st.total.dram_bytes);
		ck_assert_uint_eq(st.total.dram_bytes, 2048 + 4096);
		ck_assert_double_eq_tol(st.layers[0].cost.energy_pj + st.layers[1].cost.energy_pj, st.total.energy_pj,
					1e-6 * st.total.energy_pj);
		/* utilisation 65536 MACs / (1024 x 190); EDP = energy (J) x time (s) at 1 GHz */
		ck_assert_double_eq_tol(st.total.utilisation, 65536.0 / (1024.0 * (v ? 254 : 190)), 1e-12);
		ck_assert_double_eq_tol(st.total.seconds, (v ? 254 : 190) * 1e-9, 1e-18);
		ck_assert_double_eq_tol(st.total.edp, st.total.energy_pj * 1e-12 * st.total.seconds, 1e-30);
		nnzrt_accel_stats_free(&st);
		nnzrt_accel_free(p);
	}
	free(x);
}
END_TEST

/* Energy of one load and one product, from the config's figures:
 *   ld W 32 x 32: 2048 DRAM bytes x e_dram + 2048 W bytes x e_W
 *   mm 32 x 32 x 64 (dense): 65536 MACs x e_mac; W read 2048 bytes, I 32*64*2 = 4096 bytes, O
 *   written once 32*64*4 = 8192 bytes; PE registers 65536 x (2*2 + 4) bytes */
START_TEST(energy)
{
	nnzrt_accel_config c = preset("dense");
	nnzrt_accel_program *p = test_accel_build(".nnza 1.0\n.config dense\n.arena 1024\n.input \"x\" f32 [1024] @0\n.code\n"
				       "ld fmt=dense buf=W rows=32 cols=32 space=arena dram=0\nsync units=ld\n"
				       "mm mode=dense sbuf=W dbuf=I m=32 n=64 k=32\nend\n");
	float *x = malloc(1024 * sizeof *x);
	for (int i = 0; i < 1024; i++)
		x[i] = 1.0f;
	const float *in[] = {x};
	nnzrt_accel_stats st;
	ck_assert_int_eq(nnzrt_accel_run(p, in, NULL, 0, &st), 0);
	double dram = 2048 * c.energy_dram_pj_per_byte;
	double sram = (2048 + 2048) * c.energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_W] +
		      4096 * c.energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_I] + 8192 * c.energy_sram_pj_per_byte[NNZRT_ACCEL_BUF_O];
	double mac = 65536 * c.energy_mac_pj, reg = 65536.0 * 8 * c.energy_reg_pj_per_byte;
	ck_assert_double_eq_tol(st.total.energy_dram_pj, dram, 1e-6);
	ck_assert_double_eq_tol(st.total.energy_sram_pj, sram, 1e-6);
	ck_assert_double_eq_tol(st.total.energy_mac_pj, mac, 1e-6);
	ck_assert_double_eq_tol(st.total.energy_reg_pj, reg, 1e-6);
	ck_assert_double_eq_tol(st.total.energy_pj, dram + sram + mac + reg, 1e-6);
	ck_assert_uint_eq(st.total.sram_bytes, 2048 + 2048 + 4096 + 8192);
	ck_assert_uint_eq(st.total.cycles, 32 + 158);
	ck_assert_int_eq(st.n_layers, 0);
	ck_assert_ptr_null(st.layers);
	nnzrt_accel_stats_free(&st);
	nnzrt_accel_free(p);
	free(x);
}
END_TEST

/* tests/accel/NAME, found next to this file (CMake compiles it by absolute path) */
static nnzrt_accel_program *build_file(const char *name)
{
	char path[4096];
	const char *slash = strrchr(__FILE__, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(path, sizeof path, "%.*s/../accel/%s", (int)(slash - __FILE__), __FILE__, name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	static char text[1 << 16];
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	return test_accel_build(text);
}

/* tests/accel/double_buffer.s: its comment has the schedule; the result is the plain GEMM */
START_TEST(double_buffered_program)
{
	nnzrt_accel_program *p = build_file("double_buffer.s");
	static float w[32 * 64], x[64 * 64], y[32 * 64];
	test_seed(9, 0);
	for (int i = 0; i < 32 * 64; i++)
		w[i] = test_frand();
	for (int i = 0; i < 64 * 64; i++)
		x[i] = test_frand();
	const float *in[] = {w, x};
	float *out[] = {y};
	nnzrt_accel_stats st;
	ck_assert_msg(nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, &st) == 0, "%s", nnzrt_errmsg());
	for (int i = 0; i < 32; i++)
		for (int j = 0; j < 64; j++) {
			float acc = 0.0f;
			for (int k = 0; k < 64; k++)
				acc += w[i * 64 + k] * x[k * 64 + j];
			ck_assert_msg(acc == y[i * 64 + j], "y[%d][%d] = %.9g, want %.9g", i, j, (double)y[i * 64 + j], (double)acc);
		}
	ck_assert_uint_eq(st.total.cycles, 540);
	ck_assert_uint_eq(st.layers[0].cost.cycles, 540);
	ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_LD], 32 + 64 + 32 + 64);
	ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_MX], 2 * 158);
	ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_ST], 128);
	char *rep;
	size_t rlen;
	FILE *f = open_memstream(&rep, &rlen);
	ck_assert_int_eq(nnzrt_accel_stats_print(&st, f), 0);
	fclose(f);
	ck_assert_msg(strstr(rep, "total: 540 cycles (5.4e-07 s), 131072 MACs") != NULL, "%s", rep);
	ck_assert_msg(strstr(rep, "\ngemm ") != NULL && strstr(rep, " MatMul ") != NULL, "%s", rep);
	free(rep);
	ck_assert_int_eq(nnzrt_accel_stats_print(NULL, stdout), NNZRT_ERR_ARG);
	nnzrt_accel_stats_free(&st);
	nnzrt_accel_free(p);
}
END_TEST

/* tests/accel/gs_conflict.s: 3 bank conflicts, 5 mx cycles, y[r] = x[r] + x[16r mod 64] */
START_TEST(gs_conflict_program)
{
	nnzrt_accel_program *p = build_file("gs_conflict.s");
	static float x[64 * 64], y[16 * 64];
	for (int i = 0; i < 64 * 64; i++)
		x[i] = (float)(i % 251) * 0.5f;
	const float *in[] = {x};
	float *out[] = {y};
	nnzrt_accel_stats st;
	ck_assert_msg(nnzrt_accel_run(p, in, out, NNZRT_ACCEL_RUN_CHECK_HAZARDS, &st) == 0, "%s", nnzrt_errmsg());
	for (int r = 0; r < 16; r++)
		for (int j = 0; j < 64; j++)
			ck_assert_float_eq(y[r * 64 + j], 0.0f + x[r * 64 + j] + x[(r * 16 % 64) * 64 + j]);
	ck_assert_uint_eq(st.total.bank_conflicts, 3);
	ck_assert_uint_eq(st.total.busy[NNZRT_ACCEL_UNIT_MX], 5);
	ck_assert_uint_eq(st.total.macs, 16 * 2 * 64);
	nnzrt_accel_stats_free(&st);
	nnzrt_accel_free(p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accel_timing");
	TCase *tc = tcase_create("timing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, systolic_dense);
	tcase_add_test(tc, sparse_tc);
	tcase_add_test(tc, demm_ports);
	tcase_add_test(tc, gs_bank_conflicts);
	tcase_add_test(tc, dma_and_vec);
	tcase_add_test(tc, overlap_and_sync);
	tcase_add_test(tc, energy);
	tcase_add_test(tc, double_buffered_program);
	tcase_add_test(tc, gs_conflict_program);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
