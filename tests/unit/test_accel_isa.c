/* The accelerator's ISA and .nnza container: assembler/disassembler round trips (a seed program
 * and random valid programs from a seeded generator, on every preset), a table of mutated
 * instruction fields and container fields with the message each must give, truncations, byte
 * flips and allocation failures in the loader. */
#define _GNU_SOURCE /* open_memstream */
#include "runtime/accel_internal.h"
#include "targets/accel/accel.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char seed_text[] =
	".nnza 1.0\n.config stc\n.arena 128\n"
	".input \"x\" f32 [8,8] @0\n.output \"y \\\"out\\\"\\xc3\\xa9\" f32 [4,8] @64\n"
	".layer \"fc\" \"Gemm\" 0 11\n"
	".const 36\n"
	"f1 f2 f-1 f0.5 f3 f1 f2 f2 f-2 f1 f1 f1 f0.25 f4 f1 f-3\n"
	"0 2 1 3 0 1 2 3 1 2 0 3 0 3 1 2\n"
	"f0.5 f-0.5 f1 0x80000000\n"
	".code\n"
	"ld fmt=nm part=val buf=W rows=4 cols=4 space=const dram=0 n=2 m=4\n"         /* 0 */
	"ld fmt=nm part=idx buf=X rows=4 cols=4 space=const dram=16 n=2 m=4\n"        /* 1 */
	"ld fmt=dense buf=W addr=64 rows=1 cols=4 space=const dram=32\n"              /* 2 */
	"ld fmt=dense buf=I rows=8 cols=8 space=arena dram=0   # the input\n"         /* 3 */
	"sync units=ld\n"                                                             /* 4 */
	"mm mode=nm sbuf=W dbuf=I m=4 n=8 k=8 nz=2 grp=4\n"                            /* 5 */
	"sync units=mx\n"                                                             /* 6 */
	"vec func=add bcast=row dbuf=O abuf=O bbuf=W baddr=64 rows=4 cols=8\n"        /* 7 */
	"vec func=clip dbuf=O abuf=O rows=4 cols=8 imm0=-0.5 imm1=6\n"                /* 8 */
	"sync units=vx|mx\n"                                                          /* 9 */
	"st fmt=dense buf=O rows=4 cols=8 space=arena dram=64\n"                      /* 10 */
	"end\n";                                                                      /* 11 */

static void assemble(const char *text, NnzaBuilder *b)
{
	Diag d = {0};
	ck_assert_msg(nnza_assemble(text, strlen(text), "t.s", b, &d) == 0, "%s", d.msg);
}

static void serialize(const NnzaBuilder *b, bool validate, unsigned char **buf, size_t *len)
{
	Diag d = {0};
	ck_assert_msg(nnza_serialize(b, validate, buf, len, &d) == 0, "%s", d.msg);
}

/* bytes -> text (SOURCE) -> bytes: must be identical */
static void check_round_trip(const unsigned char *buf, size_t len)
{
	nnzrt_accel_program *p;
	ck_assert_msg(nnzrt_accel_load(buf, len, &p) == 0, "%s", nnzrt_errmsg());
	char *text;
	size_t tlen;
	FILE *f = open_memstream(&text, &tlen);
	ck_assert_int_eq(nnzrt_accel_print(p, NNZRT_ACCEL_PRINT_SOURCE, f), 0);
	fclose(f);
	nnzrt_accel_free(p);
	NnzaBuilder b;
	Diag d = {0};
	ck_assert_msg(nnza_assemble(text, tlen, "disasm", &b, &d) == 0, "%s\n%s", d.msg, text);
	unsigned char *again;
	size_t alen;
	serialize(&b, true, &again, &alen);
	ck_assert_uint_eq(alen, len);
	ck_assert_msg(memcmp(again, buf, len) == 0, "round trip changed bytes:\n%s", text);
	free(again);
	free(text);
	nnza_builder_free(&b);
}

START_TEST(seed_round_trip)
{
	NnzaBuilder b;
	assemble(seed_text, &b);
	unsigned char *buf;
	size_t len;
	serialize(&b, true, &buf, &len);
	check_round_trip(buf, len);
	nnzrt_accel_program *p;
	ck_assert_int_eq(nnzrt_accel_load(buf, len, &p), 0);
	ck_assert_uint_eq(nnzrt_accel_program_num_insns(p), 12);
	ck_assert_int_eq(nnzrt_accel_program_num_io(p), 2);
	ck_assert_str_eq(nnzrt_accel_program_io(p, 1)->name, "y \"out\"\xc3\xa9");
	ck_assert_int_eq(nnzrt_accel_program_io(p, 1)->dims[1], 8);
	ck_assert_int_eq(nnzrt_accel_program_num_layers(p), 1);
	ck_assert_str_eq(nnzrt_accel_program_layer(p, 0)->op, "Gemm");
	ck_assert_str_eq(nnzrt_accel_program_config(p)->name, "stc");
	uint64_t n;
	const uint32_t *c = nnzrt_accel_program_consts(p, &n);
	ck_assert_uint_eq(n, 36);
	ck_assert_uint_eq(c[35], 0x80000000u);
	ck_assert_uint_eq(nnzrt_accel_program_insn(p, 11)[0], AOP_END);
	ck_assert_ptr_null(nnzrt_accel_program_insn(p, 12));
	nnzrt_accel_config stc;
	nnzrt_accel_config_load("stc", &stc);
	ck_assert_uint_eq(nnzrt_accel_program_fingerprint(p), nnzrt_accel_config_fingerprint(&stc));
	/* the decoded struct is what the text said */
	AccelInsn ins;
	char msg[200];
	ck_assert_int_eq(accel_decode(nnzrt_accel_program_insn(p, 5), &ins, msg, sizeof msg), 0);
	ck_assert_int_eq(ins.op, AOP_MM);
	ck_assert_uint_eq(ins.u.mm.mode, NNZRT_ACCEL_MODE_NM);
	ck_assert_uint_eq(ins.u.mm.k, 8);
	ck_assert_uint_eq(ins.u.mm.ldn, 8); /* defaulted to n */
	ck_assert_uint_eq(ins.u.mm.grp, 4);
	nnzrt_accel_free(p);
	free(buf);
	nnza_builder_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- random programs */

static uint64_t rng;
static uint32_t rnd(uint32_t n) /* [0, n) */
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return n ? (uint32_t)((rng >> 33) % n) : 0;
}

/* an address where `extent` elements fit in a buffer of cap elements */
static uint32_t place(int64_t cap, uint64_t extent)
{
	ck_assert_int_ge(cap, (int64_t)extent);
	return rnd((uint32_t)(cap - (int64_t)extent + 1));
}

static bool pick_nm(const nnzrt_accel_config *c, uint32_t *n, uint32_t *m)
{
	int idx[NNZRT_ACCEL_MAX_MODES], k = 0;
	for (int i = 0; i < c->n_modes; i++)
		if (c->modes[i].kind == NNZRT_ACCEL_MODE_NM)
			idx[k++] = i;
	if (k == 0)
		return false;
	const nnzrt_accel_mode *md = &c->modes[idx[rnd((uint32_t)k)]];
	*m = (uint32_t)md->m;
	*n = (uint32_t)md->n_lo + rnd((uint32_t)(md->n_hi - md->n_lo + 1));
	return true;
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static void random_insn(const AccelLimits *l, AccelInsn *ins)
{
	const nnzrt_accel_config *c = l->cfg;
	bool sparse = nnzrt_accel_buffer_elems(c, NNZRT_ACCEL_BUF_X) > 0;
	bool gs = nnzrt_accel_mode_supported(c, NNZRT_ACCEL_MODE_GS, 0, 0);
	for (;;) {
		memset(ins, 0, sizeof *ins); /* a rejected attempt leaves nothing behind */
		switch (rnd(7)) {
		case 0: {
			ins->op = rnd(2) ? AOP_LD : AOP_ST;
			AccelDma *d = &ins->u.dma;
			d->rows = 1 + rnd(6);
			d->cols = 1 + rnd(6);
			d->ldb = d->cols + rnd(3);
			d->cstep = 1 + rnd(2);
			d->stride = rnd(12);
			d->space = ins->op == AOP_ST ? ACCEL_SPACE_ARENA : rnd(2);
			uint64_t size = d->space ? l->arena_words : l->const_words;
			uint64_t ext = (uint64_t)(d->rows - 1) * d->stride + (uint64_t)(d->cols - 1) * d->cstep + 1;
			if (ext > size)
				continue;
			d->dram = (uint32_t)rnd((uint32_t)(size - ext + 1));
			d->fmt = ACCEL_FMT_DENSE;
			d->buf = rnd(3);
			uint32_t f = rnd(4);
			if (f == ACCEL_FMT_NM || f == ACCEL_FMT_TASD) {
				if (!pick_nm(c, &d->n, &d->m))
					continue;
				d->fmt = f;
				d->term = f == ACCEL_FMT_TASD ? 1 + rnd(3) : 0;
			} else if (f == ACCEL_FMT_GS) {
				if (!gs)
					continue;
				d->fmt = f;
			}
			if (d->fmt != ACCEL_FMT_DENSE && rnd(2)) {
				d->part = ACCEL_PART_IDX;
				d->buf = NNZRT_ACCEL_BUF_X;
			}
			d->addr = place(l->buf_elems[d->buf], (uint64_t)(d->rows - 1) * d->ldb + d->cols);
			return;
		}
		case 1: {
			ins->op = rnd(2) ? AOP_MM : AOP_MMA;
			AccelMm *x = &ins->u.mm;
			x->m = 1 + rnd(8);
			x->n = 1 + rnd(8);
			x->ldn = x->n + rnd(3);
			x->sbuf = rnd(2);
			x->dbuf = rnd(2);
			x->term = ins->op == AOP_MM ? rnd(2) : rnd(4);
			uint64_t srow;
			uint32_t mode = rnd(3);
			if (mode == NNZRT_ACCEL_MODE_NM && sparse && pick_nm(c, &x->nz, &x->grp)) {
				x->mode = mode;
				x->k = x->grp * (1 + rnd(2));
				srow = (uint64_t)x->k / x->grp * x->nz;
			} else if (mode == NNZRT_ACCEL_MODE_GS && gs) {
				x->mode = mode;
				x->k = 1 + rnd(40);
				x->nz = 1 + rnd(x->k);
				srow = x->nz;
			} else {
				if (!nnzrt_accel_mode_supported(c, NNZRT_ACCEL_MODE_DENSE, 0, 0))
					continue;
				x->k = 1 + rnd(16);
				srow = x->k;
			}
			x->saddr = place(l->buf_elems[x->sbuf], x->m * srow);
			if (x->mode != NNZRT_ACCEL_MODE_DENSE)
				x->xaddr = place(l->buf_elems[NNZRT_ACCEL_BUF_X], x->m * srow);
			x->daddr = place(l->buf_elems[x->dbuf], (uint64_t)(x->k - 1) * x->ldn + x->n);
			x->caddr = place(l->buf_elems[NNZRT_ACCEL_BUF_O], (uint64_t)(x->m - 1) * x->ldn + x->n);
			return;
		}
		case 2: {
			ins->op = AOP_VEC;
			AccelVec *v = &ins->u.vec;
			v->func = rnd(ACCEL_FUNC_COUNT);
			v->rows = 1 + rnd(6);
			v->cols = 1 + rnd(6);
			v->dbuf = rnd(3);
			v->daddr = place(l->buf_elems[v->dbuf], (uint64_t)v->rows * v->cols);
			bool binary = v->func >= ACCEL_FUNC_ADD && v->func <= ACCEL_FUNC_MIN;
			if (v->func != ACCEL_FUNC_FILL) {
				v->abuf = rnd(3);
				v->lda = rnd(10);
				v->astep = 1 + rnd(3);
				v->aaddr = place(l->buf_elems[v->abuf],
						 (uint64_t)(v->rows - 1) * v->lda + (uint64_t)(v->cols - 1) * v->astep + 1);
			}
			if (binary) {
				v->bcast = 1 + rnd(4);
				if (v->bcast == ACCEL_BCAST_SCALAR) {
					v->imm0 = fbits((float)rnd(1000) / 7.0f - 50.0f);
				} else {
					v->bbuf = rnd(3);
					uint64_t e = v->bcast == ACCEL_BCAST_FULL ? (uint64_t)v->rows * v->cols
						     : v->bcast == ACCEL_BCAST_ROW ? v->rows
										   : v->cols;
					v->baddr = place(l->buf_elems[v->bbuf], e);
				}
			}
			if (v->func == ACCEL_FUNC_FILL)
				v->imm0 = fbits(rnd(2) ? -0.0f : 1e-30f * (float)rnd(100));
			if (v->func == ACCEL_FUNC_CLIP) {
				v->imm0 = fbits(-(float)rnd(100) / 3.0f);
				v->imm1 = fbits(rnd(4) ? (float)rnd(100) / 9.0f : __builtin_inff());
			}
			return;
		}
		case 3: {
			ins->op = AOP_ADEC;
			AccelAdec *a = &ins->u.adec;
			if (!sparse || !pick_nm(c, &a->n, &a->m))
				continue;
			a->resid = rnd(2);
			a->sbuf = rnd(3);
			a->dbuf = rnd(2);
			a->term = rnd(3);
			a->rows = 1 + rnd(4);
			a->cols = a->m * (1 + rnd(2));
			uint64_t packed = (uint64_t)a->cols / a->m * a->n;
			a->saddr = place(l->buf_elems[a->sbuf], (uint64_t)a->rows * a->cols);
			a->daddr = place(l->buf_elems[a->dbuf], a->rows * packed);
			a->xaddr = place(l->buf_elems[NNZRT_ACCEL_BUF_X], a->rows * packed);
			return;
		}
		default:
			ins->op = AOP_SYNC;
			ins->u.sync.units = 1 + rnd(15);
			return;
		}
	}
}

static void random_name(char *s, size_t cap)
{
	static const char alphabet[] = "abcXYZ_/.:0189 \"\\#\t\x01\xc3\xa9\xff";
	size_t n = 1 + rnd((uint32_t)cap - 2);
	for (size_t i = 0; i < n; i++)
		s[i] = alphabet[rnd(sizeof alphabet - 1)];
	s[n] = '\0';
}

START_TEST(random_programs)
{
	static const char *const presets[] = {"dense", "stc", "vegeta", "demm", "gs"};
	rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)_i;
	NnzaBuilder b;
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(nnzrt_accel_config_load(presets[_i % 5], &b.cfg), 0);
	b.arena_words = 64 + rnd(1000);
	Diag d = {0};
	uint32_t nc = rnd(300);
	for (uint32_t i = 0; i < nc; i++) {
		uint32_t w = rnd(2) ? (uint32_t)rng : fbits((float)rnd(1000) - 500.0f);
		ck_assert_int_eq(nnza_add_consts(&b, &w, 1, NULL, &d), 0);
	}
	AccelLimits lim;
	accel_limits_init(&lim, &b.cfg, b.n_consts, b.arena_words);
	uint32_t n = 1 + rnd(60);
	for (uint32_t i = 0; i < n; i++) {
		AccelInsn ins;
		char msg[300];
		random_insn(&lim, &ins);
		ck_assert_msg(accel_validate(&ins, &lim, msg, sizeof msg) == 0, "generator made an invalid insn: %s", msg);
		ck_assert_int_eq(nnza_emit(&b, &ins, NULL, &d), 0);
	}
	AccelInsn end = {.op = AOP_END};
	ck_assert_int_eq(nnza_emit(&b, &end, NULL, &d), 0);
	for (int i = 0, k = (int)rnd(4); i < k; i++) {
		char name[48];
		random_name(name, 32);
		size_t nl = strlen(name);
		name[nl] = (char)('0' + i); /* unique */
		name[nl + 1] = '\0';
		int64_t dims[3] = {1 + rnd(3), rnd(4), 2};
		int rank = (int)rnd(4);
		int64_t numel = 1;
		for (int k2 = 0; k2 < rank; k2++)
			numel *= dims[k2];
		ck_assert_int_eq(nnza_add_io(&b, name, (int)rnd(2), rank, dims, rnd((uint32_t)(b.arena_words - (uint64_t)numel + 1)), &d), 0);
	}
	for (uint32_t first = 0; first < n;) {
		uint32_t count = 1 + rnd(n - first);
		char name[40], op[40];
		random_name(name, sizeof name);
		random_name(op, sizeof op);
		ck_assert_int_eq(nnza_add_layer(&b, name, op, first, count, &d), 0);
		first += count + rnd(2);
	}
	unsigned char *buf;
	size_t len;
	serialize(&b, true, &buf, &len);
	check_round_trip(buf, len);
	free(buf);
	nnza_builder_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- the validator's messages */

/* Field `field` of instruction `insn` of the seed program set to `value`; loading must fail
 * with a message containing `expect`. */
static const struct {
	int insn;
	const char *field;
	uint32_t value;
	const char *expect;
} mutations[] = {
	{0, "fmt", 9, "instruction 0: ld: unknown format 9"},
	{0, "part", 2, "unknown part 2"},
	{0, "buf", 4, "unknown buffer 4"},
	{0, "space", 2, "unknown DRAM space 2"},
	{0, "rows", 0, "empty transfer"},
	{0, "ldb", 3, "buffer row stride ldb 3 is below cols 4"},
	{0, "cstep", 0, "cstep is 0"},
	{0, "n", 3, "format nm 3:4 is not a sparsity mode of config 'stc'"},
	{0, "m", 8, "format nm 2:8 is not a sparsity mode"},
	{0, "term", 1, "tasd terms are numbered from 1"},
	{0, "buf", NNZRT_ACCEL_BUF_X, "part val cannot go to buffer X"},
	{1, "buf", NNZRT_ACCEL_BUF_I, "part idx cannot go to buffer I"},
	{0, "addr", 131070, "exceeds the 131072 elements of buffer W"},
	{1, "addr", 32765, "exceeds the 32768 elements of buffer X"},
	{0, "dram", 30, "DRAM const[30..] with 4 rows of 4 (stride 4, step 1) exceeds its 36 words"},
	{0, "stride", 100000, "exceeds its 36 words"},
	{0, "cstep", 9, "exceeds its 36 words"},
	{3, "dram", 65, "DRAM arena[65..]"},
	{2, "fmt", ACCEL_FMT_GS, "format gs: config 'stc' has no gs mode"},
	{2, "n", 1, "format dense takes no n, m or term"},
	{2, "part", ACCEL_PART_IDX, "format dense has no part idx"},
	{10, "space", ACCEL_SPACE_CONST, "st: stores go to the arena, not to const"},
	{5, "mode", 3, "mm: unknown mode 3"},
	{5, "mode", NNZRT_ACCEL_MODE_GS, "mode gs is not a sparsity mode of config 'stc'"},
	{5, "nz", 1, "mode nm 1:4 is not a sparsity mode of config 'stc'"},
	{5, "k", 6, "k 6 is not a multiple of the group size 4"},
	{5, "k", 0, "empty product"},
	{5, "ldn", 7, "row stride ldn 7 is below n 8"},
	{5, "sbuf", NNZRT_ACCEL_BUF_O, "operands come from W or I"},
	{5, "dbuf", NNZRT_ACCEL_BUF_X, "operands come from W or I"},
	{5, "sbuf", 7, "unknown buffer"},
	{5, "term", 2, "later tasd terms accumulate (mma)"},
	{5, "caddr", 32760, "exceeds the 32768 elements of buffer O"},
	{5, "daddr", 131071, "exceeds the 131072 elements of buffer I"},
	{5, "xaddr", 32767, "buffer X"},
	{7, "func", 20, "vec: unknown func 20"},
	{7, "bcast", 9, "unknown bcast 9"},
	{7, "bcast", ACCEL_BCAST_NONE, "vec add: bcast none"},
	{8, "bcast", ACCEL_BCAST_ROW, "vec clip: bcast row"},
	{7, "dbuf", NNZRT_ACCEL_BUF_X, "does not read or write the index buffer X"},
	{7, "rows", 0, "empty tile"},
	{7, "imm1", 0x3f800000, "vec add: immediates it does not use must be 0"},
	{7, "imm0", 0x7fc00000, "immediate is NaN"},
	{8, "imm0", 0x41000000, "vec clip: lower bound 8 above upper bound 6"},
	{8, "bbuf", 1, "vec clip: takes no b operand"},
	{8, "astep", 0, "astep is 0"},
	{8, "lda", 40000, "operand a O[0..]"},
	{7, "baddr", 131070, "exceeds the 131072 elements of buffer W"},
	{4, "units", 0, "sync: units must name some of ld|st|mx|vx"},
	{4, "units", 16, "mask 16"},
	{11, "", 0, "instruction 11: the last instruction is not end"},
};

static void seed_builder(NnzaBuilder *b) { assemble(seed_text, b); }

static void expect_load_error(const unsigned char *buf, size_t len, const char *expect, int case_no)
{
	nnzrt_accel_program *p = (nnzrt_accel_program *)1;
	int r = nnzrt_accel_load(buf, len, &p);
	ck_assert_msg(r == NNZRT_ERR_FORMAT, "case %d: loaded (status %d), expected '%s'", case_no, r, expect);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(nnzrt_errmsg(), expect) != NULL, "case %d: got '%s', want '%s'", case_no, nnzrt_errmsg(),
		      expect);
	ck_assert(strchr(nnzrt_errmsg(), '\n') == NULL);
}

START_TEST(insn_mutations)
{
	NnzaBuilder b;
	seed_builder(&b);
	uint32_t *w = b.code + (size_t)mutations[_i].insn * ACCEL_INSN_WORDS;
	if (mutations[_i].field[0] == '\0') {
		w[0] = AOP_SYNC | 1u << 8; /* end replaced */
	} else {
		int n;
		const AccelField *f = accel_op_fields((AccelOp)(w[0] & 0xff), &n);
		int k = 0;
		while (k < n && strcmp(f[k].name, mutations[_i].field) != 0)
			k++;
		ck_assert_int_lt(k, n);
		accel_field_set(w, &f[k], mutations[_i].value);
	}
	unsigned char *buf;
	size_t len;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, mutations[_i].expect, _i);
	free(buf);
	/* the validating writer refuses it with the same message */
	Diag d = {0};
	ck_assert_int_ne(nnza_serialize(&b, true, &buf, &len, &d), 0);
	ck_assert_ptr_null(buf);
	ck_assert(strstr(d.msg, mutations[_i].expect) != NULL);
	nnza_builder_free(&b);
}
END_TEST

/* raw words the decoder must refuse */
START_TEST(decode_errors)
{
	NnzaBuilder b;
	seed_builder(&b);
	uint32_t *w = b.code + 4 * ACCEL_INSN_WORDS; /* the first sync */
	unsigned char *buf;
	size_t len;
	w[0] = 0;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, "instruction 4: unknown opcode 0", 0);
	free(buf);
	w[0] = 200;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, "unknown opcode 200", 1);
	free(buf);
	w[0] = AOP_SYNC | 1u << 8 | 1u << 20;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, "sync: reserved bits 0x00100000 of word 0 are set", 2);
	free(buf);
	w[0] = AOP_SYNC | 1u << 8;
	w[7] = 1;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, "reserved bits 0x00000001 of word 7", 3);
	free(buf);
	w[7] = 0;
	b.code[11 * ACCEL_INSN_WORDS] = AOP_END; /* already */
	w[0] = AOP_END;
	serialize(&b, false, &buf, &len);
	expect_load_error(buf, len, "instruction 4: end before the last instruction", 4);
	free(buf);
	nnza_builder_free(&b);
}
END_TEST

/* container fields: byte offset, bytes to write (little-endian value), fix checksums? */
static const struct {
	size_t off;
	int size;
	uint64_t value;
	bool fix;
	const char *expect;
} container[] = {
	{0, 1, 'X', true, "not a .nnza file (bad magic)"},
	{4, 2, 2, true, ".nnza version 2.0: this runtime reads 1.0 to 1.0"},
	{6, 2, 1, true, ".nnza version 1.1"},
	{8, 4, 1, true, "header flags 0x1"},
	{12, 4, 32, true, "header size 32"},
	{16, 8, 99, true, "header says 99 bytes"},
	{24, 8, 1234, true, "config fingerprint mismatch"},
	{32, 8, 1ull << 40, true, "arena of 1099511627776 words"},
	{32, 8, 90, true, "io 'y \"out\""}, /* the output at 64 + 32 words no longer fits */
	{40, 4, 4, true, "4 sections, expected 5"},
	{44, 4, 0, false, "file checksum mismatch"},
	{50, 1, 1, true, "reserved header byte 50"},
	{64, 4, 2, true, "section 0 has kind 2, expected 1 (config)"},
	{68, 4, 1, true, "section config: flags or reserved"},
	{72, 8, 240, true, "section config at offset 240, expected 224"},
	{80, 8, 1ull << 62, true, "section config (4611686018427387904 bytes at 224) runs past the end"},
	{88, 4, 0, false, "section config: checksum mismatch"}, /* only the file checksum fixed */
	{96 + 16, 8, 33, true, "section const at offset"},
	{0, 0, 0, true, NULL}, /* end marker for the loop bound */
};

static size_t sec_off(const unsigned char *buf, int kind) { return (size_t)accel_rd64(buf + 64 + (kind - 1) * 32 + 8); }

START_TEST(container_mutations)
{
	NnzaBuilder b;
	seed_builder(&b);
	unsigned char *buf;
	size_t len;
	serialize(&b, true, &buf, &len);
	for (int i = 0; i < container[_i].size; i++)
		buf[container[_i].off + (size_t)i] = (unsigned char)(container[_i].value >> (8 * i));
	if (container[_i].fix) {
		nnza_fix_checksums(buf, len);
	} else if (container[_i].off != 44) {
		accel_wr32(buf + 44, 0);
		accel_wr32(buf + 44, accel_crc32(0, buf, len));
	}
	expect_load_error(buf, len, container[_i].expect, _i);
	free(buf);
	nnza_builder_free(&b);
}
END_TEST

/* section contents (checksums fixed after the edit) */
START_TEST(section_mutations)
{
	NnzaBuilder b;
	seed_builder(&b);
	unsigned char *orig;
	size_t len;
	serialize(&b, true, &orig, &len);
	unsigned char *buf = malloc(len);
	size_t cfg = sec_off(orig, ACCEL_SEC_CONFIG), io = sec_off(orig, ACCEL_SEC_IO), ly = sec_off(orig, ACCEL_SEC_LAYERS);
	struct {
		size_t off;
		const char *bytes;
		int n;
		const char *expect;
	} cases[] = {
		{cfg, "nime", 4, "embedded config:1: unknown key 'nime'"},
		{cfg + 4, "=  ", 3, "embedded config is not in canonical form"}, /* "name=  stc" */
		{io, "\xff\xff\xff\x7f", 4, "section io: 2147483647 tensors do not fit"},
		{io + 8, "\x02", 1, "kind 2 (0 input, 1 output)"},
		{io + 9, "\x07", 1, "dtype 7 (the accelerator's I/O is f32)"},
		{io + 10, "\x09", 1, "rank 9 above 8"},
		{io + 12, "\x00", 1, "name of 0 bytes"},
		{io + 12, "\xff\xff", 2, "name of 65535 bytes"},
		{io + 24, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, "dim 0 is negative"},
		{io + 24, "\x00\x00\x00\x00\x00\x00\x00\x40", 8, "tensor 0: element count overflows"},
		{io + 16, "\x79", 1, "at arena offset 121 exceed the arena (128 words)"},
		{io + 40, "\x00", 1, "name contains a NUL byte"},
		{io + 41, "\x01", 1, "padding is not zero"},
		{ly, "\x02", 1, "section layers: 2 layers do not fit"},
		{ly + 8, "\x05", 1, "layer 'fc': instructions [5, +11)"},
		{ly + 12, "\x00", 1, "are empty"},
		{ly + 12, "\x0d", 1, "past the 12 instructions"},
		{ly + 20, "\x09", 1, "record runs past the end of the section"},
		{io + 24, "\x00\x01", 2, "io 'x': 2048 words at arena offset 0 exceed the arena"},
	};
	int nc = (int)(sizeof cases / sizeof cases[0]);
	for (int i = 0; i < nc; i++) {
		memcpy(buf, orig, len);
		memcpy(buf + cases[i].off, cases[i].bytes, (size_t)cases[i].n);
		/* the header's fingerprint follows the config text, to reach the parser behind it */
		accel_wr64(buf + 24, accel_fnv1a64(buf + cfg, (size_t)accel_rd64(buf + 64 + 16)));
		nnza_fix_checksums(buf, len);
		expect_load_error(buf, len, cases[i].expect, i);
	}
	free(buf);
	free(orig);
	/* a name declared twice */
	Diag d = {0};
	int64_t dims[1] = {4};
	ck_assert_int_eq(nnza_add_io(&b, "x", 1, 1, dims, 100, &d), 0);
	serialize(&b, false, &orig, &len);
	expect_load_error(orig, len, "io 'x' is declared twice", 99);
	free(orig);
	nnza_builder_free(&b);
}
END_TEST

START_TEST(truncations_and_flips)
{
	NnzaBuilder b;
	seed_builder(&b);
	unsigned char *orig;
	size_t len;
	serialize(&b, true, &orig, &len);
	nnzrt_accel_program *p;
	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(nnzrt_accel_load(orig, n, &p), NNZRT_ERR_FORMAT);
		ck_assert_ptr_null(p);
	}
	/* every single-bit flip: caught by a checksum; with checksums fixed, never a crash */
	unsigned char *buf = malloc(len);
	rng = 42;
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, orig, len);
		buf[i] ^= (unsigned char)(1u << rnd(8));
		ck_assert_int_eq(nnzrt_accel_load(buf, len, &p), NNZRT_ERR_FORMAT);
		nnza_fix_checksums(buf, len);
		if (nnzrt_accel_load(buf, len, &p) == 0)
			nnzrt_accel_free(p); /* some flips make another valid program */
	}
	free(buf);
	free(orig);
	nnza_builder_free(&b);
}
END_TEST

START_TEST(alloc_failures)
{
	NnzaBuilder b;
	seed_builder(&b);
	unsigned char *buf;
	size_t len;
	serialize(&b, true, &buf, &len);
	int failures = 0;
	for (long n = 1; n < 64; n++) {
		rt_test_fail_alloc_after(n);
		nnzrt_accel_program *p;
		int r = nnzrt_accel_load(buf, len, &p);
		rt_test_fail_alloc_after(0);
		if (r == 0) {
			nnzrt_accel_free(p);
			break;
		}
		ck_assert_int_eq(r, NNZRT_ERR_NOMEM);
		failures++;
	}
	ck_assert_int_ge(failures, 5);
	free(buf);
	nnza_builder_free(&b);
}
END_TEST

/* the assembler's own errors, at their lines */
static const struct {
	const char *text, *expect;
} asm_errors[] = {
	{".config stc\n.code\nfoo\n", "t.s:3: unknown instruction 'foo'"},
	{".config stc\n.code\nsync units=ld|xx\n", "t.s:3: units=ld|xx"},
	{".config stc\n.code\nsync units=ld units=st\n", "field 'units' given twice"},
	{".config stc\n.code\nsync colour=1\n", "sync has no field 'colour'"},
	{".config stc\n.code\nmm m=70000\n", "m=70000: expected an integer in [0, 65535]"},
	{".config stc\n.code\nmm mode=csr\n", "mode=csr: expected one of dense, nm, gs"},
	{".config stc\n.code\nld fmt=dense buf=W rows=1 cols=1 dram=0\nend\n", "t.s:3: ld: DRAM const[0..]"},
	{".config stc\nsync units=ld\n", "t.s:2: instruction before .code"},
	{".code\nend\n", "no .config"},
	{".config tpu\n", "t.s:1: .config tpu: not a preset"},
	{".config\nname = x\n", ".config: no .end"},
	{".config\nbase = dense\ncolour = 1\n.end\n", "t.s:1 (.config):2: unknown key 'colour'"},
	{".config stc\n.const 3\n1 2\n.code\n", "t.s:4: .const: 1 words missing before .code"},
	{".config stc\n.const 1\n1 2\n", "more words than announced"},
	{".config stc\n.const 2\n1 f1.x\n", "expected a float after 'f'"},
	{".config stc\n.input \"x f32 [1] @0\n", "unterminated string"},
	{".config stc\n.input \"x\\q\" f32 [1] @0\n", "bad escape"},
	{".config stc\n.input \"x\\x00\" f32 [1] @0\n", "cannot contain NUL"},
	{".config stc\n.input \"x\" i64 [1] @0\n", "dtype 'i64'"},
	{".config stc\n.input \"x\" f32 [1,-2] @0\n", "dim: expected an integer"},
	{".config stc\n.nnza 2.0\n", ".nnza: this assembler writes version 1.0"},
	{".config stc\n.bogus\n", "unknown directive '.bogus'"},
	{".config stc\n.code\n.word 1 2\n", ".word: expected 8 words"},
	{".config stc\n.code\n", "no instructions"},
	{".config stc\n.code\nsync units=ld\n", "the last instruction is not end"},
	{".config stc\n.arena 10\n.output \"y\" f32 [11] @0\n.code\nend\n", "io 'y': 11 words at arena offset 0 exceed"},
};

START_TEST(assembler_errors)
{
	NnzaBuilder b;
	Diag d = {0};
	int r = nnza_assemble(asm_errors[_i].text, strlen(asm_errors[_i].text), "t.s", &b, &d);
	if (r == 0) { /* container-level problems surface when serialized */
		unsigned char *buf;
		size_t len;
		r = nnza_serialize(&b, true, &buf, &len, &d);
		nnza_builder_free(&b);
	}
	ck_assert_int_ne(r, 0);
	ck_assert_msg(strstr(d.msg, asm_errors[_i].expect) != NULL, "case %d: got '%s', want '%s'", _i, d.msg,
		      asm_errors[_i].expect);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("accel_isa");
	TCase *tc = tcase_create("isa");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seed_round_trip);
	tcase_add_loop_test(tc, random_programs, 0, 200);
	tcase_add_loop_test(tc, insn_mutations, 0, (int)(sizeof mutations / sizeof mutations[0]));
	tcase_add_test(tc, decode_errors);
	tcase_add_loop_test(tc, container_mutations, 0, (int)(sizeof container / sizeof container[0]) - 1);
	tcase_add_test(tc, section_mutations);
	tcase_add_test(tc, truncations_and_flips);
	tcase_add_test(tc, alloc_failures);
	tcase_add_loop_test(tc, assembler_errors, 0, (int)(sizeof asm_errors / sizeof asm_errors[0]));
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
