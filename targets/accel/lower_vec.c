/* Element-wise ops, pooling and copies on the vector unit and the DMA engines.
 *
 * Element-wise: the output is walked in 2-D chunks (its last two dims after merging the dims
 * every operand walks contiguously), each operand loaded with its broadcast strides (a stride of
 * 0 repeats: DMA handles numpy broadcasting), one `vec` per chunk, one store. Chunks run one
 * after the other (sync on every unit at each chunk): the vector unit's work is small next to the
 * matrix unit's, so its overlap is not modelled beyond the units' own pipelining.
 * Pooling: per (image, channel) plane, a block of output rows at a time: the input rows it needs
 * are loaded into a padded region of I pre-filled with the pad value (-inf for max, 0 for
 * average), then one `vec max|add` per kernel tap over a strided view; average pooling multiplies
 * by a constant table of 1/count per output position (the clipped or padded count, as
 * targets/ref/pool.c counts it), so every count_include_pad/ceil_mode case is exact.
 * GlobalMaxPool: one `vec max` per input column; GlobalAveragePool is a matrix product with a
 * ones vector (lower_conv.c). */
#include "targets/accel/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- element-wise */

#define MAX_OPS 3

/* Output dims merged where every operand's strides allow; strides per operand, 0 = broadcast. */
typedef struct EwPlan {
	int rank;
	int64_t dim[NNZC_MAX_RANK];
	int nops;
	int64_t st[MAX_OPS][NNZC_MAX_RANK];
	int64_t ost[NNZC_MAX_RANK];
} EwPlan;

static void ew_plan(const Shape *y, const Value *const *ops, int nops, EwPlan *p)
{
	memset(p, 0, sizeof *p);
	int r = y->rank;
	int64_t d[NNZC_MAX_RANK], st[MAX_OPS + 1][NNZC_MAX_RANK];
	for (int i = 0; i < r; i++)
		d[i] = y->dim[i];
	for (int k = 0; k <= nops; k++) {
		const Shape *s = k < nops ? &ops[k]->shape : y;
		int64_t acc = 1;
		for (int i = r - 1; i >= 0; i--) {
			int j = i - (r - s->rank);
			int64_t dd = j >= 0 ? s->dim[j] : 1;
			st[k][i] = dd == 1 ? 0 : acc;
			acc *= dd;
		}
	}
	/* drop size-1 dims, then merge neighbours */
	int q = 0;
	int64_t md[NNZC_MAX_RANK], ms[MAX_OPS + 1][NNZC_MAX_RANK];
	for (int i = 0; i < r; i++) {
		if (d[i] == 1)
			continue;
		bool merge = q > 0;
		for (int k = 0; k <= nops && merge; k++)
			merge = ms[k][q - 1] == st[k][i] * d[i];
		if (merge) {
			md[q - 1] *= d[i];
			for (int k = 0; k <= nops; k++)
				ms[k][q - 1] = st[k][i];
		} else {
			md[q] = d[i];
			for (int k = 0; k <= nops; k++)
				ms[k][q] = st[k][i];
			q++;
		}
	}
	if (q == 0) {
		md[0] = 1;
		for (int k = 0; k <= nops; k++)
			ms[k][0] = 0;
		q = 1;
	}
	/* at least 2 dims: a leading 1 */
	if (q == 1) {
		md[1] = md[0];
		md[0] = 1;
		for (int k = 0; k <= nops; k++) {
			ms[k][1] = ms[k][0];
			ms[k][0] = 0;
		}
		q = 2;
	}
	p->rank = q;
	p->nops = nops;
	for (int i = 0; i < q; i++) {
		p->dim[i] = md[i];
		for (int k = 0; k < nops; k++)
			p->st[k][i] = ms[k][i];
		p->ost[i] = ms[nops][i];
	}
}

/* The vecs of one chunk: d (O at 0) = f(operands, in I at k * reg). */
static int ew_vec(Lower *L, const Node *n, int nops, const int *role, uint32_t reg, uint32_t tmp, int64_t rows,
		  int64_t cols, float lo, float hi)
{
	VecArgs v = {.dbuf = NNZRT_ACCEL_BUF_O, .daddr = 0, .abuf = NNZRT_ACCEL_BUF_I, .aaddr = 0, .rows = rows, .cols = cols,
		     .bbuf = NNZRT_ACCEL_BUF_I, .baddr = reg, .bcast = ACCEL_BCAST_FULL};
	switch (n->op) {
	case OP_Add: v.func = ACCEL_FUNC_ADD; break;
	case OP_Sub: v.func = ACCEL_FUNC_SUB; break;
	case OP_Mul: v.func = ACCEL_FUNC_MUL; break;
	case OP_Max:
	case OP_Min: {
		int f = n->op == OP_Max ? ACCEL_FUNC_MAX : ACCEL_FUNC_MIN;
		if (nops == 1) {
			VecArgs m = {.func = ACCEL_FUNC_MOV, .dbuf = NNZRT_ACCEL_BUF_O, .abuf = NNZRT_ACCEL_BUF_I, .rows = rows,
				     .cols = cols};
			return lw_vec(L, &m);
		}
		v.func = f;
		for (int k = 1; k < nops; k++) {
			if (k > 1) {
				v.abuf = NNZRT_ACCEL_BUF_O;
				v.aaddr = 0;
				v.baddr = (uint32_t)k * reg;
			}
			if (lw_vec(L, &v) < 0)
				return -1;
		}
		return 0;
	}
	case OP_Relu: v.func = ACCEL_FUNC_RELU; v.bcast = ACCEL_BCAST_NONE; break;
	case OP_Clip:
		if (nops > 1) { /* bounds that are tensors: max with the lower, min with the upper */
			for (int k = 1; k < nops; k++) {
				VecArgs m = v;
				m.func = role[k] == 1 ? ACCEL_FUNC_MAX : ACCEL_FUNC_MIN;
				if (k > 1)
					m.abuf = NNZRT_ACCEL_BUF_O;
				m.baddr = (uint32_t)k * reg;
				if (lw_vec(L, &m) < 0)
					return -1;
			}
			return 0;
		}
		v.func = ACCEL_FUNC_CLIP;
		v.bcast = ACCEL_BCAST_NONE;
		v.imm0 = lo;
		v.imm1 = hi;
		break;
	case OP_Neg:
		v.func = ACCEL_FUNC_MUL;
		v.bcast = ACCEL_BCAST_SCALAR;
		v.imm0 = -1.0f;
		break;
	case OP_LeakyRelu: {
		float alpha = n->attr.unary.alpha;
		VecArgs m = v;
		m.func = ACCEL_FUNC_MUL;
		m.bcast = ACCEL_BCAST_SCALAR;
		m.imm0 = alpha;
		m.dbuf = NNZRT_ACCEL_BUF_O;
		m.daddr = tmp;
		if (lw_vec(L, &m) < 0)
			return -1;
		v.func = alpha <= 1.0f ? ACCEL_FUNC_MAX : ACCEL_FUNC_MIN;
		v.bbuf = NNZRT_ACCEL_BUF_O;
		v.baddr = tmp;
		break;
	}
	default:
		return lw_unsupported(L, "no vector-unit form");
	}
	return lw_vec(L, &v);
}

/* A Clip bound: an omitted input, or a constant scalar. */
static int clip_bound(Lower *L, const Node *n, int slot, float dflt, float *out)
{
	*out = dflt;
	if (slot >= n->n_in || n->in[slot] == NULL)
		return 0;
	const Value *v = n->in[slot];
	if (v->data == NULL || shape_numel(&v->shape) != 1 || !dtype_is_float(v->dtype))
		return lw_unsupported(L, "Clip bounds must be constant float scalars");
	*out = ((const float *)v->data)[0];
	if (isnan(*out))
		return lw_unsupported(L, "a NaN Clip bound");
	return 0;
}

int lower_elementwise(Lower *L, const Node *n)
{
	/* the operands to load, and for Clip which bound each is (1 lower, 2 upper) */
	const Value *opv[MAX_OPS];
	int role[MAX_OPS] = {0}, nops = 0;
	float lo = -INFINITY, hi = INFINITY;
	if (n->op == OP_Max || n->op == OP_Min) {
		if (n->n_in > MAX_OPS)
			return lw_unsupported(L, "%d inputs (at most %d)", n->n_in, MAX_OPS);
		for (int k = 0; k < n->n_in; k++)
			opv[nops++] = n->in[k];
	} else if (n->op == OP_Clip) {
		opv[nops++] = n->in[0];
		bool consts = true;
		for (int k = 1; k < n->n_in && k < 3; k++)
			consts = consts && (n->in[k] == NULL || (n->in[k]->data && shape_numel(&n->in[k]->shape) == 1));
		if (consts) {
			if (clip_bound(L, n, 1, -INFINITY, &lo) < 0 || clip_bound(L, n, 2, INFINITY, &hi) < 0)
				return -1;
			if (!(lo <= hi)) /* ONNX: min above max gives max everywhere */
				lo = hi;
		} else {
			for (int k = 1; k < n->n_in && k < 3; k++)
				if (n->in[k]) {
					role[nops] = k;
					opv[nops++] = n->in[k];
				}
		}
	} else {
		int want = n->op == OP_Relu || n->op == OP_Neg || n->op == OP_LeakyRelu ? 1 : 2;
		if (n->n_in != want)
			return lw_unsupported(L, "%d inputs", n->n_in);
		for (int k = 0; k < want; k++)
			opv[nops++] = n->in[k];
	}
	const Value *y = n->out[0];
	Loc in[MAX_OPS], out;
	for (int k = 0; k < nops; k++)
		if (lw_value(L, opv[k], &in[k]) < 0)
			return -1;
	if (lw_value(L, y, &out) < 0)
		return -1;
	EwPlan p;
	ew_plan(&y->shape, opv, nops, &p);
	int q = p.rank;
	int64_t R = p.dim[q - 2], C = p.dim[q - 1], outer = 1;
	for (int i = 0; i < q - 2; i++)
		outer *= p.dim[i];
	/* I: one region per operand; O: result and a temporary */
	int64_t reg = L->cap[NNZRT_ACCEL_BUF_I] / MAX_OPS, oreg = L->cap[NNZRT_ACCEL_BUF_O] / 2;
	if (oreg < reg)
		reg = oreg;
	int64_t cc = C < reg ? C : reg;
	if (cc > 0xffff)
		cc = 0xffff;
	int64_t rc = reg / cc;
	if (rc > R)
		rc = R;
	for (int64_t o = 0; o < outer; o++) {
		int64_t off[MAX_OPS] = {0}, ooff = 0, rem = o;
		for (int i = q - 3; i >= 0; i--) {
			int64_t idx = rem % p.dim[i];
			rem /= p.dim[i];
			for (int k = 0; k < nops; k++)
				off[k] += idx * p.st[k][i];
			ooff += idx * p.ost[i];
		}
		for (int64_t r0 = 0; r0 < R; r0 += rc)
			for (int64_t c0 = 0; c0 < C; c0 += cc) {
				int64_t nr = R - r0 < rc ? R - r0 : rc, nc = C - c0 < cc ? C - c0 : cc;
				if (lw_sync(L, SYNC_ALL) < 0)
					return -1;
				for (int k = 0; k < nops; k++) {
					Loc src = loc_add(in[k], off[k] + r0 * p.st[k][q - 2] + c0 * p.st[k][q - 1]);
					if (lw_load(L, NNZRT_ACCEL_BUF_I, (uint32_t)(k * reg), nc, src, nr, nc, p.st[k][q - 2],
						    p.st[k][q - 1]) < 0)
						return -1;
				}
				if (lw_sync(L, ACCEL_UNIT_LD) < 0 ||
				    ew_vec(L, n, nops, role, (uint32_t)reg, (uint32_t)reg, nr, nc, lo, hi) < 0 ||
				    lw_sync(L, ACCEL_UNIT_VX) < 0)
					return -1;
				Loc dst = loc_add(out, ooff + r0 * p.ost[q - 2] + c0 * p.ost[q - 1]);
				if (lw_store(L, NNZRT_ACCEL_BUF_O, 0, nc, dst, nr, nc, p.ost[q - 2], p.ost[q - 1] ? p.ost[q - 1] : 1) < 0)
					return -1;
			}
	}
	return 0;
}

/* ---------------------------------------------------------------- copies */

int lower_copy(Lower *L, const Node *n)
{
	if (n->op == OP_Dropout && n->n_out > 1 && n->out[1])
		return lw_unsupported(L, "Dropout's mask output");
	const Value *x = n->in[0], *y = n->out[0];
	Loc xl, yl;
	if (lw_value(L, x, &xl) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	int64_t total = shape_numel(&y->shape), width = 1024;
	int64_t rows_per = L->cap[NNZRT_ACCEL_BUF_I] / width;
	if (rows_per > 0xffff)
		rows_per = 0xffff;
	for (int64_t e0 = 0; e0 < total;) {
		int64_t left = total - e0;
		int64_t nr = left / width, nc = width;
		if (nr == 0) {
			nr = 1;
			nc = left;
		} else if (nr > rows_per) {
			nr = rows_per;
		}
		if (lw_sync(L, SYNC_ALL) < 0 || lw_load(L, NNZRT_ACCEL_BUF_I, 0, nc, loc_add(xl, e0), nr, nc, nc, 1) < 0 ||
		    lw_sync(L, ACCEL_UNIT_LD) < 0 || lw_store(L, NNZRT_ACCEL_BUF_I, 0, nc, loc_add(yl, e0), nr, nc, nc, 1) < 0)
			return -1;
		e0 += nr * nc;
	}
	return 0;
}

/* ---------------------------------------------------------------- pooling */

/* Along dim j: taps of window o inside the input and inside the padded input (ref's count). */
static void pool_taps(const Window *w, int j, int64_t o, int64_t *in_count, int64_t *pad_count)
{
	int64_t start = o * w->stride[j] - w->pad_lo[j];
	*in_count = *pad_count = 0;
	for (int64_t k = 0; k < w->kernel[j]; k++) {
		int64_t i = start + k * w->dilation[j];
		*in_count += i >= 0 && i < w->in[j];
		*pad_count += i >= -w->pad_lo[j] && i < w->in[j] + w->pad_hi[j];
	}
}

/* The padded extent along dim j that every tap of every window reaches, and its origin. */
static int64_t extent(const Window *w, int j)
{
	int64_t need = (w->out[j] - 1) * w->stride[j] + (w->kernel[j] - 1) * w->dilation[j] + 1;
	int64_t have = w->pad_lo[j] + w->in[j];
	return need > have ? need : have;
}

int lower_pool(Lower *L, const Node *n)
{
	if (n->n_out > 1 && n->out[1])
		return lw_unsupported(L, "MaxPool's indices output");
	const Value *x = n->in[0], *y = n->out[0];
	Window w;
	Shape none = shape_unknown();
	if (window_of_node(n, &x->shape, &none, &w, L->d) < 0)
		return -1;
	bool avg = n->op == OP_AveragePool;
	bool incl = n->attr.pool.count_include_pad != 0;
	Loc xl, yl;
	if (lw_value(L, x, &xl) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	int64_t planes = x->shape.dim[0] * x->shape.dim[1];
	int64_t isz = w.in[0] * w.in[1] * w.in[2], osz = w.out[0] * w.out[1] * w.out[2];
	int64_t wp = extent(&w, 2);
	int64_t e0 = (w.kernel[0] - 1) * w.dilation[0] + 1;
	/* average: 1/count per output position, a constant plane */
	Loc recip = {0};
	if (avg) {
		float *t = malloc((size_t)osz * sizeof *t);
		if (t == NULL)
			return diag_error(L->d, "accel: out of memory");
		for (int64_t od = 0, k = 0; od < w.out[0]; od++)
			for (int64_t oh = 0; oh < w.out[1]; oh++)
				for (int64_t ow = 0; ow < w.out[2]; ow++, k++) {
					int64_t c = 1;
					int64_t o3[3] = {od, oh, ow};
					for (int j = 0; j < 3; j++) {
						int64_t ic, pc;
						pool_taps(&w, j, o3[j], &ic, &pc);
						c *= incl ? pc : ic;
					}
					t[k] = c > 0 ? 1.0f / (float)c : 0.0f;
				}
		uint64_t off;
		int rc = lw_const_floats(L, t, osz, &off);
		free(t);
		if (rc < 0)
			return -1;
		recip = (Loc){ACCEL_SPACE_CONST, off};
	}
	/* output rows per block: the input rows they need must fit half of I, the block O */
	int64_t ihalf = L->cap[NNZRT_ACCEL_BUF_I] / 2, ohalf = L->cap[NNZRT_ACCEL_BUF_O] / 2;
	int64_t nrows = w.out[1];
	for (;;) {
		int64_t e1 = (nrows - 1) * w.stride[1] + (w.kernel[1] - 1) * w.dilation[1] + 1;
		if (e0 * e1 * wp <= ihalf && 2 * nrows * w.out[2] <= ohalf && e1 * wp <= 0xffff * 64)
			break;
		if (nrows == 1)
			return lw_unsupported(L, "a pooling window row does not fit the buffers");
		nrows = (nrows + 1) / 2;
	}
	if (w.stride[1] * wp > 0xffff || w.out[2] > 0xffff)
		return lw_unsupported(L, "pooling rows too wide for the vector unit");
	float pad = avg ? 0.0f : -INFINITY;
	for (int64_t pl = 0; pl < planes; pl++)
		for (int64_t od = 0; od < w.out[0]; od++)
			for (int64_t oh0 = 0; oh0 < w.out[1]; oh0 += nrows) {
				int64_t nr = w.out[1] - oh0 < nrows ? w.out[1] - oh0 : nrows;
				int64_t e1 = (nr - 1) * w.stride[1] + (w.kernel[1] - 1) * w.dilation[1] + 1;
				int64_t ih0 = oh0 * w.stride[1] - w.pad_lo[1], id0 = od * w.stride[0] - w.pad_lo[0];
				if (lw_sync(L, SYNC_ALL) < 0 || lw_fill(L, NNZRT_ACCEL_BUF_I, 0, e0 * e1, wp, pad) < 0 ||
				    lw_sync(L, ACCEL_UNIT_VX) < 0)
					return -1;
				/* region row (e, r) holds input (id0 + e, ih0 + r), columns from -pad_lo */
				for (int64_t e = 0; e < e0; e++) {
					int64_t id = id0 + e;
					if (id < 0 || id >= w.in[0])
						continue;
					int64_t r_lo = ih0 < 0 ? -ih0 : 0, r_hi = w.in[1] - ih0 < e1 ? w.in[1] - ih0 : e1;
					if (r_lo >= r_hi)
						continue;
					Loc src = loc_add(xl, pl * isz + (id * w.in[1] + ih0 + r_lo) * w.in[2]);
					uint32_t dst = (uint32_t)((e * e1 + r_lo) * wp + w.pad_lo[2]);
					if (lw_load(L, NNZRT_ACCEL_BUF_I, dst, wp, src, r_hi - r_lo, w.in[2], w.in[2], 1) < 0)
						return -1;
				}
				if (lw_sync(L, ACCEL_UNIT_LD) < 0 || lw_fill(L, NNZRT_ACCEL_BUF_O, 0, nr, w.out[2], pad) < 0)
					return -1;
				for (int64_t kd = 0; kd < w.kernel[0]; kd++)
					for (int64_t kh = 0; kh < w.kernel[1]; kh++)
						for (int64_t kw = 0; kw < w.kernel[2]; kw++) {
							int64_t a = (kd * w.dilation[0] * e1 + kh * w.dilation[1]) * wp + kw * w.dilation[2];
							VecArgs v = {.func = avg ? ACCEL_FUNC_ADD : ACCEL_FUNC_MAX, .bcast = ACCEL_BCAST_FULL,
								     .dbuf = NNZRT_ACCEL_BUF_O, .daddr = 0, .abuf = NNZRT_ACCEL_BUF_I,
								     .aaddr = (uint32_t)a, .lda = w.stride[1] * wp, .astep = w.stride[2],
								     .bbuf = NNZRT_ACCEL_BUF_O, .baddr = 0, .rows = nr, .cols = w.out[2]};
							if (lw_vec(L, &v) < 0)
								return -1;
						}
				int64_t orow = (od * w.out[1] + oh0) * w.out[2];
				if (avg) {
					uint32_t tb = (uint32_t)(nr * w.out[2]);
					if (lw_load(L, NNZRT_ACCEL_BUF_O, tb, w.out[2], loc_add(recip, orow), nr, w.out[2], w.out[2], 1) < 0 ||
					    lw_sync(L, ACCEL_UNIT_LD) < 0)
						return -1;
					VecArgs v = {.func = ACCEL_FUNC_MUL, .bcast = ACCEL_BCAST_FULL, .dbuf = NNZRT_ACCEL_BUF_O,
						     .abuf = NNZRT_ACCEL_BUF_O, .bbuf = NNZRT_ACCEL_BUF_O, .baddr = tb, .rows = nr,
						     .cols = w.out[2]};
					if (lw_vec(L, &v) < 0)
						return -1;
				}
				if (lw_sync(L, ACCEL_UNIT_VX) < 0 ||
				    lw_store(L, NNZRT_ACCEL_BUF_O, 0, w.out[2], loc_add(yl, pl * osz + orow), nr, w.out[2], w.out[2], 1) < 0)
					return -1;
			}
	return 0;
}

int lower_global_max_pool(Lower *L, const Node *n)
{
	const Value *x = n->in[0], *y = n->out[0];
	Loc xl, yl;
	if (lw_value(L, x, &xl) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], ch = x->shape.dim[1], hw = shape_numel(&x->shape) / (nimg * ch > 0 ? nimg * ch : 1);
	int64_t ihalf = L->cap[NNZRT_ACCEL_BUF_I] / 2;
	int64_t cw = hw < ihalf ? hw : ihalf;
	if (cw > 0xffff)
		cw = 0xffff;
	int64_t ct = ihalf / cw;
	if (ct > ch)
		ct = ch;
	if (ct > L->cap[NNZRT_ACCEL_BUF_O])
		ct = L->cap[NNZRT_ACCEL_BUF_O];
	for (int64_t img = 0; img < nimg; img++)
		for (int64_t c0 = 0; c0 < ch; c0 += ct) {
			int64_t nc = ch - c0 < ct ? ch - c0 : ct;
			if (lw_sync(L, SYNC_ALL) < 0 || lw_fill(L, NNZRT_ACCEL_BUF_O, 0, nc, 1, -INFINITY) < 0)
				return -1;
			for (int64_t k0 = 0; k0 < hw; k0 += cw) {
				int64_t nk = hw - k0 < cw ? hw - k0 : cw;
				if (lw_sync(L, ACCEL_UNIT_VX) < 0 ||
				    lw_load(L, NNZRT_ACCEL_BUF_I, 0, nk, loc_add(xl, (img * ch + c0) * hw + k0), nc, nk, hw, 1) < 0 ||
				    lw_sync(L, ACCEL_UNIT_LD) < 0)
					return -1;
				for (int64_t k = 0; k < nk; k++) {
					VecArgs v = {.func = ACCEL_FUNC_MAX, .bcast = ACCEL_BCAST_FULL, .dbuf = NNZRT_ACCEL_BUF_O,
						     .abuf = NNZRT_ACCEL_BUF_I, .aaddr = (uint32_t)k, .lda = nk, .astep = 1,
						     .bbuf = NNZRT_ACCEL_BUF_O, .rows = nc, .cols = 1};
					if (lw_vec(L, &v) < 0)
						return -1;
				}
			}
			if (lw_sync(L, ACCEL_UNIT_VX) < 0 ||
			    lw_store(L, NNZRT_ACCEL_BUF_O, 0, 1, loc_add(yl, img * ch + c0), nc, 1, 1, 1) < 0)
				return -1;
		}
	return 0;
}
