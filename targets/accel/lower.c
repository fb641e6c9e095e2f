/* The lowering's driver: DRAM layout of the values, the I/O descriptors, one layer table entry
 * per node, dispatch by op, and the instruction helpers every lowering file emits through
 * (they split what the ISA's 16-bit fields cannot hold, so callers think in whole tiles).
 *
 * Ops lowered (anything else is refused with DIAG_UNSUPPORTED naming node and op):
 *   Conv, FusedConv, Gemm, FusedGemm, MatMul      matrix unit (lower_conv.c), epilogues on vx
 *   Add Sub Mul Max Min (2 inputs), Relu, Clip (constant bounds), LeakyRelu, Neg
 *                                                 vector unit, numpy broadcasting (lower_vec.c)
 *   MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool
 *   Identity, Dropout (inference), Flatten, Reshape, Squeeze, Unsqueeze   DMA copies
 * Every value must be a float tensor of static shape (the engine computes in f32). */
#include "targets/accel/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int lw_unsupported(Lower *L, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (L->node)
		node_error(L->d, L->node, "not supported by the accelerator target: %s", msg);
	else
		diag_error(L->d, "accel: not supported: %s", msg);
	L->d->code = DIAG_UNSUPPORTED;
	return -1;
}

static int emit(Lower *L, const AccelInsn *in) { return nnza_emit(L->b, in, NULL, L->d); }

int lw_sync(Lower *L, unsigned units)
{
	AccelInsn in = {.op = AOP_SYNC, .u.sync = {.units = units}};
	return emit(L, &in);
}

static int check_addr(Lower *L, int64_t v, const char *what)
{
	if (v < 0 || v >= (INT64_C(1) << 24))
		return diag_error(L->d, "accel: %s %lld out of the 24-bit buffer address range (lowering bug)", what,
				  (long long)v);
	return 0;
}

static int check_dram(Lower *L, Loc l, int64_t rows, int64_t rstride, int64_t cols, int64_t cstep)
{
	uint64_t last = l.off + (uint64_t)((rows - 1) * rstride + (cols - 1) * cstep);
	if (l.off > UINT32_MAX || last > UINT32_MAX || rstride > UINT32_MAX)
		return diag_error(L->d, "accel: the model needs more than 2^32 words of DRAM");
	return 0;
}

/* One DMA with fields in range, or several. */
static int dma(Lower *L, int op, int fmt, int part, int n, int m, int term, int buf, uint32_t addr, int64_t ldb,
	       Loc mem, int64_t rows, int64_t cols, int64_t rstride, int64_t cstep)
{
	if (rows <= 0 || cols <= 0)
		return 0;
	if (cstep < 1 || cstep > 0xffff || ldb > 0xffff || cols > 0xffff) {
		if (cols > 1) { /* column by column: each a rows x 1 transfer */
			for (int64_t c = 0; c < cols; c++)
				if (dma(L, op, fmt, part, n, m, term, buf, addr + (uint32_t)c, ldb, loc_add(mem, c * cstep),
					rows, 1, rstride, 1) < 0)
					return -1;
			return 0;
		}
		if (ldb > 0xffff) { /* a single column with a long row pitch: element by element */
			for (int64_t r = 0; r < rows; r++)
				if (dma(L, op, fmt, part, n, m, term, buf, addr + (uint32_t)(r * ldb), 1, loc_add(mem, r * rstride),
					1, 1, 0, 1) < 0)
					return -1;
			return 0;
		}
		cstep = 1; /* one column: cstep is unused */
	}
	if (ldb < cols)
		ldb = cols;
	for (int64_t r0 = 0; r0 < rows; r0 += 0xffff) {
		int64_t nr = rows - r0 < 0xffff ? rows - r0 : 0xffff;
		Loc at = loc_add(mem, r0 * rstride);
		if (check_addr(L, addr + r0 * ldb + (nr - 1) * ldb + cols - 1, "DMA end") < 0 ||
		    check_dram(L, at, nr, rstride, cols, cstep) < 0)
			return -1;
		AccelInsn in = {.op = op,
				.u.dma = {.fmt = (uint32_t)fmt,
					  .part = (uint32_t)part,
					  .buf = (uint32_t)buf,
					  .rows = (uint32_t)nr,
					  .cols = (uint32_t)cols,
					  .addr = addr + (uint32_t)(r0 * ldb),
					  .space = (uint32_t)at.space,
					  .dram = (uint32_t)at.off,
					  .stride = (uint32_t)rstride,
					  .ldb = (uint32_t)ldb,
					  .n = (uint32_t)n,
					  .m = (uint32_t)m,
					  .term = (uint32_t)term,
					  .cstep = (uint32_t)cstep}};
		if (emit(L, &in) < 0)
			return -1;
	}
	return 0;
}

int lw_load_fmt(Lower *L, int fmt, int part, int n, int m, int term, int buf, uint32_t addr, int64_t ldb, Loc src,
		int64_t rows, int64_t cols, int64_t rstride, int64_t cstep)
{
	return dma(L, AOP_LD, fmt, part, n, m, term, buf, addr, ldb, src, rows, cols, rstride, cstep);
}

int lw_load(Lower *L, int buf, uint32_t addr, int64_t ldb, Loc src, int64_t rows, int64_t cols, int64_t rstride,
	    int64_t cstep)
{
	return dma(L, AOP_LD, ACCEL_FMT_DENSE, ACCEL_PART_VAL, 0, 0, 0, buf, addr, ldb, src, rows, cols, rstride, cstep);
}

int lw_store(Lower *L, int buf, uint32_t addr, int64_t ldb, Loc dst, int64_t rows, int64_t cols, int64_t rstride,
	     int64_t cstep)
{
	return dma(L, AOP_ST, ACCEL_FMT_DENSE, ACCEL_PART_VAL, 0, 0, 0, buf, addr, ldb, dst, rows, cols, rstride, cstep);
}

static uint32_t f32_bits(float x)
{
	uint32_t u;
	memcpy(&u, &x, sizeof u);
	return u;
}

int lw_vec(Lower *L, const VecArgs *v)
{
	if (v->rows <= 0 || v->cols <= 0)
		return 0;
	if (isnan(v->imm0) || isnan(v->imm1))
		return lw_unsupported(L, "a NaN immediate");
	bool has_a = v->func != ACCEL_FUNC_FILL;
	int64_t lda = has_a ? (v->lda ? v->lda : v->cols) : 0, astep = has_a ? (v->astep ? v->astep : 1) : 0;
	/* split rows so that the 16-bit fields hold; cols never exceed them (callers tile) */
	if (v->cols > 0xffff || lda > 0xffff || astep > 0xffff)
		return diag_error(L->d, "accel: vector tile too wide (lowering bug)");
	for (int64_t r0 = 0; r0 < v->rows; r0 += 0xffff) {
		int64_t nr = v->rows - r0 < 0xffff ? v->rows - r0 : 0xffff;
		uint32_t dadd = v->daddr + (uint32_t)(r0 * v->cols);
		uint32_t aadd = has_a ? v->aaddr + (uint32_t)(r0 * lda) : 0;
		uint32_t badd = v->bcast == ACCEL_BCAST_FULL ? v->baddr + (uint32_t)(r0 * v->cols)
				: v->bcast == ACCEL_BCAST_ROW ? v->baddr + (uint32_t)r0
				: v->bcast == ACCEL_BCAST_COL ? v->baddr : 0;
		bool has_b = v->bcast == ACCEL_BCAST_FULL || v->bcast == ACCEL_BCAST_ROW || v->bcast == ACCEL_BCAST_COL;
		if (check_addr(L, dadd + nr * v->cols - 1, "vec d") < 0 ||
		    (has_a && check_addr(L, aadd + (nr - 1) * lda + (v->cols - 1) * astep, "vec a") < 0))
			return -1;
		bool imm0 = v->func == ACCEL_FUNC_FILL || v->func == ACCEL_FUNC_CLIP || v->bcast == ACCEL_BCAST_SCALAR;
		AccelInsn in = {.op = AOP_VEC,
				.u.vec = {.func = (uint32_t)v->func,
					  .bcast = (uint32_t)v->bcast,
					  .dbuf = (uint32_t)v->dbuf,
					  .rows = (uint32_t)nr,
					  .cols = (uint32_t)v->cols,
					  .daddr = dadd,
					  .abuf = has_a ? (uint32_t)v->abuf : 0,
					  .aaddr = aadd,
					  .bbuf = has_b ? (uint32_t)v->bbuf : 0,
					  .baddr = has_b ? badd : 0,
					  .lda = (uint32_t)lda,
					  .astep = (uint32_t)astep,
					  .imm0 = imm0 ? f32_bits(v->imm0) : 0,
					  .imm1 = v->func == ACCEL_FUNC_CLIP ? f32_bits(v->imm1) : 0}};
		if (emit(L, &in) < 0)
			return -1;
	}
	return 0;
}

int lw_fill(Lower *L, int buf, uint32_t addr, int64_t rows, int64_t cols, float x)
{
	VecArgs v = {.func = ACCEL_FUNC_FILL, .dbuf = buf, .daddr = addr, .rows = rows, .cols = cols, .imm0 = x};
	return lw_vec(L, &v);
}

int lw_mm(Lower *L, const AccelMm *mm, bool accumulate)
{
	AccelInsn in = {.op = accumulate ? AOP_MMA : AOP_MM, .u.mm = *mm};
	return emit(L, &in);
}

int lw_const_floats(Lower *L, const float *x, int64_t n, uint64_t *off)
{
	uint32_t *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
	if (w == NULL)
		return diag_error(L->d, "accel: out of memory");
	for (int64_t i = 0; i < n; i++)
		w[i] = f32_bits(x[i]);
	int rc = nnza_add_consts(L->b, w, (size_t)n, off, L->d);
	free(w);
	return rc;
}

static int check_value(Lower *L, const Value *v)
{
	if (!dtype_is_float(v->dtype))
		return lw_unsupported(L, "value '%s' is %s: the engine computes in f32 only", v->name, dtype_name(v->dtype));
	if (!shape_is_static(&v->shape) || shape_numel(&v->shape) < 0)
		return lw_unsupported(L, "value '%s' has no static shape", v->name);
	return 0;
}

int lw_value(Lower *L, const Value *v, Loc *out)
{
	if (L->placed[v->id]) {
		*out = L->loc[v->id];
		return 0;
	}
	if (check_value(L, v) < 0)
		return -1;
	int64_t n = shape_numel(&v->shape);
	if (value_is_const(v)) {
		if (v->data == NULL)
			return lw_unsupported(L, "constant '%s' has no payload", v->name);
		uint64_t off;
		if (lw_const_floats(L, v->data, n, &off) < 0)
			return -1;
		L->loc[v->id] = (Loc){ACCEL_SPACE_CONST, off};
	} else {
		L->loc[v->id] = (Loc){ACCEL_SPACE_ARENA, L->arena};
		L->arena += (uint64_t)(n > 0 ? n : 1);
		if (L->arena > UINT32_MAX)
			return diag_error(L->d, "accel: the model's activations need more than 2^32 words of DRAM");
	}
	L->placed[v->id] = true;
	*out = L->loc[v->id];
	return 0;
}

static int lower_node(Lower *L, const Node *n)
{
	for (int i = 0; i < n->n_out; i++)
		if (n->out[i] && check_value(L, n->out[i]) < 0)
			return -1;
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv:
	case OP_Gemm:
	case OP_FusedGemm:
	case OP_MatMul:
		return lower_product(L, n);
	case OP_Add:
	case OP_Sub:
	case OP_Mul:
	case OP_Max:
	case OP_Min:
	case OP_Relu:
	case OP_Clip:
	case OP_LeakyRelu:
	case OP_Neg:
		return lower_elementwise(L, n);
	case OP_MaxPool:
	case OP_AveragePool:
		return lower_pool(L, n);
	case OP_GlobalAveragePool:
	case OP_GlobalMaxPool:
		return lower_global_pool(L, n);
	case OP_Identity:
	case OP_Dropout:
	case OP_Flatten:
	case OP_Reshape:
	case OP_Squeeze:
	case OP_Unsqueeze:
		return lower_copy(L, n);
	default:
		return lw_unsupported(L, "no lowering for this op (supported: Conv Gemm MatMul, their fused forms, "
				      "Add Sub Mul Max Min Relu Clip LeakyRelu Neg, MaxPool AveragePool, global pools, copies)");
	}
}

/* The values nodes [0, n) produce that nodes [n, ...) or the graph outputs read: outputs of a
 * prefix program. Marks them in out (by value id). */
static void prefix_outputs(const Graph *g, int n, bool *out)
{
	bool *early = calloc((size_t)g->n_values + 1, sizeof *early); /* produced by nodes [0, n) */
	if (early == NULL)
		return; /* no outputs: the caller's lowering then fails to place them and says so */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < g->nodes[i]->n_out; k++)
			if (g->nodes[i]->out[k])
				early[g->nodes[i]->out[k]->id] = true;
	for (int i = n; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i]->n_in; k++) {
			const Value *v = g->nodes[i]->in[k];
			if (v && early[v->id] && !value_is_const(v))
				out[v->id] = true;
		}
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		if (early[v->id] && !value_is_const(v))
			out[v->id] = true;
	}
	free(early);
}

int accel_lower(const Graph *g, const nnzrt_accel_config *cfg, NnzaBuilder *b, Diag *d)
{
	return accel_lower_prefix(g, cfg, g->n_nodes, b, NULL, d);
}

int accel_lower_prefix(const Graph *g, const nnzrt_accel_config *cfg, int n_nodes, NnzaBuilder *b, int *failed, Diag *d)
{
	Lower L = {.g = g, .cfg = cfg, .b = b, .d = d};
	bool prefix = n_nodes < g->n_nodes;
	bool *pout = NULL;
	if (failed)
		*failed = -1;
	b->cfg = *cfg;
	for (int i = 0; i < NNZRT_ACCEL_NUM_BUFS; i++)
		L.cap[i] = nnzrt_accel_buffer_elems(cfg, i);
	L.loc = calloc((size_t)g->n_values + 1, sizeof *L.loc);
	L.placed = calloc((size_t)g->n_values + 1, sizeof *L.placed);
	pout = calloc((size_t)g->n_values + 1, sizeof *pout);
	int rc = -1;
	if (L.loc == NULL || L.placed == NULL || pout == NULL) {
		diag_error(d, "accel: out of memory");
		goto out;
	}
	if (prefix)
		prefix_outputs(g, n_nodes, pout);
	/* inputs first, then outputs, so the I/O regions sit at the arena's start in graph order */
	for (int i = 0; i < g->n_inputs; i++) {
		Loc l;
		/* a message about an input names the first node that reads it */
		for (int k = 0; k < g->n_nodes && L.node == NULL; k++)
			for (int j = 0; j < g->nodes[k]->n_in; j++)
				if (g->nodes[k]->in[j] == g->inputs[i])
					L.node = g->nodes[k];
		if (lw_value(&L, g->inputs[i], &l) < 0)
			goto out;
		L.node = NULL;
	}
	for (int i = 0; i < g->n_values && prefix; i++) {
		Loc l;
		if (pout[i] && lw_value(&L, g->values[i], &l) < 0)
			goto out;
	}
	for (int i = 0; i < g->n_outputs && !prefix; i++) {
		const Value *v = g->outputs[i];
		if (value_is_const(v) || graph_is_input(g, v)) {
			lw_unsupported(&L, "graph output '%s' is a constant or a graph input", v->name);
			goto out;
		}
		for (int k = 0; k < i; k++)
			if (g->outputs[k] == v) {
				lw_unsupported(&L, "graph output '%s' listed twice", v->name);
				goto out;
			}
		Loc l;
		if (lw_value(&L, v, &l) < 0)
			goto out;
	}
	for (int i = 0; i < n_nodes; i++) {
		const Node *n = g->nodes[i];
		if (n->dead)
			continue;
		L.node = n;
		uint32_t first = (uint32_t)b->n_insns;
		/* the node's inputs were stored by earlier nodes: wait for them */
		if (lw_sync(&L, SYNC_ALL) < 0 || lower_node(&L, n) < 0) {
			if (failed && d->code == DIAG_UNSUPPORTED)
				*failed = i;
			goto out;
		}
		if (nnza_add_layer(b, n->name, op_name(n->op), first, (uint32_t)(b->n_insns - first), d) < 0)
			goto out;
	}
	L.node = NULL;
	if (lw_sync(&L, SYNC_ALL) < 0)
		goto out;
	AccelInsn end = {.op = AOP_END};
	if (emit(&L, &end) < 0)
		goto out;
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		if (nnza_add_io(b, v->name, 0, v->shape.rank, v->shape.dim, L.loc[v->id].off, d) < 0)
			goto out;
	}
	for (int i = 0; i < g->n_outputs && !prefix; i++) {
		const Value *v = g->outputs[i];
		if (nnza_add_io(b, v->name, 1, v->shape.rank, v->shape.dim, L.loc[v->id].off, d) < 0)
			goto out;
	}
	for (int i = 0; i < g->n_values && prefix; i++) {
		const Value *v = g->values[i];
		if (pout[i] && nnza_add_io(b, v->name, 1, v->shape.rank, v->shape.dim, L.loc[v->id].off, d) < 0)
			goto out;
	}
	b->arena_words = L.arena ? L.arena : 1;
	rc = 0;
out:
	free(L.loc);
	free(L.placed);
	free(pout);
	return rc;
}
