/* Conv, FusedConv, Gemm, FusedGemm and MatMul on the matrix unit.
 *
 * Every product is C[M, N] = S[M, K] · D[K, N] with S the weight's matrix view (rows = output
 * channels / features, columns the reduction in view order), D the activations (im2col rows of a
 * Conv in the same view order, tap-major, channel-minor; A^T of a Gemm/MatMul) and C the output
 * (a Conv's [channels, pixels] of one image and group; a Gemm's Y^T). Tiles: mt x kt of S in W
 * (and its indices in X), kt x nt of D in I, mt x nt of C in O, each buffer in two halves so that
 * the loads of the next K step overlap the current mm (lower.h, "Scheduling discipline"). O's
 * half also holds the epilogue's operands: [C | residual | bias], each mt x nt. With a single K
 * step the S tile stays in its half while the pixel tiles go by (weight-stationary).
 * Epilogue on the vector unit, in this order: alpha, beta * bias, residual, activation. */
#include "targets/accel/lower.h"

#include <stdlib.h>
#include <string.h>

enum { D_MATRIX, D_IM2COL };
enum { BIAS_NONE, BIAS_ROW, BIAS_FULL };

typedef struct Prod {
	int64_t M, K, N;            /* C[M, N] = S[M, K] D[K, N]; K unpadded */
	const WPack *w;             /* constant weight, rows from w_row0; or NULL: */
	int64_t w_row0;
	Loc s_loc;                  /* S[i][k] at s_loc + i*s_rs + k*s_cs (dense) */
	int64_t s_rs, s_cs;
	int d_kind;
	Loc d_loc;                  /* D_MATRIX: D[k][j] at d_loc + k*d_rs + j*d_cs */
	int64_t d_rs, d_cs;
	const Window *win;          /* D_IM2COL: the image at d_loc, channels [c0, c0 + cg) */
	int64_t c0, cg;
	bool chan_major;            /* D_IM2COL rows in the weight tensor's order (c * taps + tap)
				     * instead of the view's: a Conv whose weight is not a constant */
	Loc c_loc;                  /* C[i][j] at c_loc + i*c_rs + j*c_cs; the residual likewise */
	int64_t c_rs, c_cs;
	float alpha, beta;
	int bias;                   /* BIAS_ROW: b[i] at bias_loc + i*b_rs; FULL: + i*b_rs + j*b_cs */
	Loc bias_loc;
	int64_t b_rs, b_cs;
	bool has_res;
	Loc res_loc;
	Activation act;
} Prod;

/* Tile sizes and buffer halves of one product. */
typedef struct Tiling {
	int64_t mt, nt, kt, kp, kalign;
	int64_t whalf, xhalf, ihalf, ohalf;
	int64_t nrow, ncol, nk; /* tile counts */
	int64_t *gs_l;          /* gs: by (row tile, K step): L, the ELL row length of its pack */
	uint64_t *gs_vals, *gs_idx; /* and the const offsets of its values and indices [mt, L] */
} Tiling;

/* S elements (or indices) per row for kt reduction columns: dense kt, nm sum over terms */
static int64_t s_per_row(const Prod *p, int64_t kt)
{
	if (p->w == NULL || p->w->mode != NNZRT_ACCEL_MODE_NM)
		return kt; /* dense; gs at worst (L = kt) */
	int64_t s = 0;
	for (int t = 0; t < p->w->nterms; t++)
		s += kt / p->w->term[t].m * p->w->term[t].n;
	return s;
}

static int plan(Lower *L, const Prod *p, Tiling *t)
{
	memset(t, 0, sizeof *t);
	t->kalign = p->w ? p->w->kalign : 1;
	t->kp = p->w ? p->w->kp : p->K;
	t->whalf = L->cap[NNZRT_ACCEL_BUF_W] / 2;
	t->xhalf = L->cap[NNZRT_ACCEL_BUF_X] / 2;
	t->ihalf = L->cap[NNZRT_ACCEL_BUF_I] / 2;
	t->ohalf = L->cap[NNZRT_ACCEL_BUF_O] / 2;
	int64_t mt = p->M < 64 ? p->M : 64;
	int64_t nt = p->N < 4096 ? p->N : 4096;
	while (mt * nt * 3 > t->ohalf && nt > 1)
		nt = (nt + 1) / 2;
	while (mt * nt * 3 > t->ohalf && mt > 1)
		mt = (mt + 1) / 2;
	bool sparse = p->w && p->w->mode != NNZRT_ACCEL_MODE_DENSE; /* indices in X too */
	for (;;) {
		int64_t kt = t->ihalf / nt;
		int64_t per = s_per_row(p, t->kalign); /* S elements per row per kalign columns */
		int64_t kw = t->whalf / mt / (per ? per : 1) * t->kalign;
		if (kw < kt)
			kt = kw;
		if (sparse) {
			int64_t kx = t->xhalf / mt / (per ? per : 1) * t->kalign;
			if (kx < kt)
				kt = kx;
		}
		if (kt > 0xffff)
			kt = 0xffff;
		kt = kt / t->kalign * t->kalign;
		if (kt > t->kp)
			kt = t->kp;
		if (kt >= t->kalign && kt > 0) {
			t->mt = mt;
			t->nt = nt;
			t->kt = kt;
			break;
		}
		if (nt > 1)
			nt = (nt + 1) / 2;
		else if (mt > 1)
			mt = (mt + 1) / 2;
		else
			return lw_unsupported(L, "an N:M group of %lld columns does not fit the buffers", (long long)t->kalign);
	}
	if (t->mt * t->nt * 3 > t->ohalf)
		return lw_unsupported(L, "the O buffer is too small for one tile");
	t->nrow = (p->M + t->mt - 1) / t->mt;
	t->ncol = (p->N + t->nt - 1) / t->nt;
	t->nk = (t->kp + t->kt - 1) / t->kt;
	return 0;
}

/* Positions q in [0, count) with 0 <= q*stride + off < limit, as [*lo, *hi). */
static void valid_range(int64_t count, int64_t stride, int64_t off, int64_t limit, int64_t *lo, int64_t *hi)
{
	int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
	int64_t b = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / stride + 1;
	*lo = a < count ? a : count;
	*hi = b < count ? b : count;
}

static bool window_padded(const Window *w)
{
	for (int i = 0; i < NNZC_MAX_SPATIAL; i++) {
		int64_t lo, hi;
		for (int64_t k = 0; k < w->kernel[i]; k++) {
			valid_range(w->out[i], w->stride[i], k * w->dilation[i] - w->pad_lo[i], w->in[i], &lo, &hi);
			if (lo != 0 || hi != w->out[i])
				return true;
		}
	}
	return false;
}

/* D rows [k0, k0 + kt) (kt_valid of them real, the rest zero padding), columns [p0, p0 + nt),
 * into I at base with row pitch nt. */
static int load_d(Lower *L, const Prod *p, uint32_t base, int64_t k0, int64_t kt, int64_t p0, int64_t nt)
{
	int64_t kv = p->K - k0 < kt ? p->K - k0 : kt;
	bool fill = kv < kt;
	const Window *w = p->win;
	bool pointwise = false;
	if (p->d_kind == D_IM2COL) {
		fill = fill || window_padded(w);
		pointwise = !window_padded(w);
		for (int i = 0; i < NNZC_MAX_SPATIAL; i++)
			pointwise = pointwise && w->kernel[i] == 1 && w->stride[i] == 1;
	}
	if (fill) {
		if (lw_fill(L, NNZRT_ACCEL_BUF_I, base, kt, nt, 0.0f) < 0 || lw_sync(L, ACCEL_UNIT_VX) < 0)
			return -1;
	}
	if (p->d_kind == D_MATRIX)
		return lw_load(L, NNZRT_ACCEL_BUF_I, base, nt, loc_add(p->d_loc, k0 * p->d_rs + p0 * p->d_cs), kv, nt, p->d_rs,
			       p->d_cs);
	int64_t plane = w->in[0] * w->in[1] * w->in[2];
	if (pointwise) /* a 1x1 stride-1 kernel: D is the input itself */
		return lw_load(L, NNZRT_ACCEL_BUF_I, base, nt, loc_add(p->d_loc, (p->c0 + k0) * plane + p0), kv, nt, plane, 1);
	for (int64_t j = k0; j < k0 + kv;) {
		int64_t taps = w->kernel[0] * w->kernel[1] * w->kernel[2];
		int64_t tap = j / p->cg, c = j % p->cg;
		int64_t len = p->cg - c < k0 + kv - j ? p->cg - c : k0 + kv - j;
		if (p->chan_major) {
			tap = j % taps;
			c = j / taps;
			len = 1;
		}
		int64_t kd = tap / (w->kernel[1] * w->kernel[2]), kh = tap / w->kernel[2] % w->kernel[1],
			kw = tap % w->kernel[2];
		int64_t wlo, whi;
		valid_range(w->out[2], w->stride[2], kw * w->dilation[2] - w->pad_lo[2], w->in[2], &wlo, &whi);
		for (int64_t prow = p0 / w->out[2]; prow * w->out[2] < p0 + nt; prow++) {
			int64_t od = prow / w->out[1], oh = prow % w->out[1];
			int64_t id = od * w->stride[0] + kd * w->dilation[0] - w->pad_lo[0];
			int64_t ih = oh * w->stride[1] + kh * w->dilation[1] - w->pad_lo[1];
			if (id < 0 || id >= w->in[0] || ih < 0 || ih >= w->in[1] || od >= w->out[0])
				continue;
			int64_t a = p0 - prow * w->out[2], bnd = p0 + nt - prow * w->out[2];
			int64_t lo = a > wlo ? a : wlo, hi = bnd < whi ? bnd : whi;
			if (lo < 0)
				lo = 0;
			if (lo >= hi)
				continue;
			int64_t iw = lo * w->stride[2] + kw * w->dilation[2] - w->pad_lo[2];
			Loc src = loc_add(p->d_loc, (p->c0 + c) * plane + (id * w->in[1] + ih) * w->in[2] + iw);
			uint32_t dst = base + (uint32_t)((j - k0) * nt + prow * w->out[2] + lo - p0);
			if (lw_load(L, NNZRT_ACCEL_BUF_I, dst, nt, src, len, hi - lo, plane, w->stride[2]) < 0)
				return -1;
		}
		j += len;
	}
	return 0;
}

/* The step's coordinates. */
typedef struct Step {
	int64_t u, ki;          /* output tile, K step */
	int64_t row0, col0, mt, nt, k0, kt;
} Step;

static Step step_of(const Prod *p, const Tiling *t, int64_t s)
{
	Step st;
	st.u = s / t->nk;
	st.ki = s % t->nk;
	st.row0 = st.u / t->ncol * t->mt;
	st.col0 = st.u % t->ncol * t->nt;
	st.mt = p->M - st.row0 < t->mt ? p->M - st.row0 : t->mt;
	st.nt = p->N - st.col0 < t->nt ? p->N - st.col0 : t->nt;
	st.k0 = st.ki * t->kt;
	st.kt = t->kp - st.k0 < t->kt ? t->kp - st.k0 : t->kt;
	return st;
}

static uint32_t o_base(const Tiling *t, int64_t u) { return (uint32_t)((u % 2) * t->ohalf); }

/* gs: one ELL pack per (row tile, K step): each row's non-zeros in [k0, k0 + kt), in slot order,
 * indices relative to k0, padded with zeros to the tile's longest row (at least 1). */
static int pack_gs_tiles(Lower *L, const Prod *p, Tiling *t)
{
	int64_t n = t->nrow * t->nk;
	t->gs_l = calloc((size_t)n, sizeof *t->gs_l);
	t->gs_vals = calloc((size_t)n, sizeof *t->gs_vals);
	t->gs_idx = calloc((size_t)n, sizeof *t->gs_idx);
	float *v = malloc((size_t)(t->mt * t->kt) * sizeof *v);
	uint32_t *x = malloc((size_t)(t->mt * t->kt) * sizeof *x);
	int rc = -1;
	if (t->gs_l == NULL || t->gs_vals == NULL || t->gs_idx == NULL || v == NULL || x == NULL) {
		diag_error(L->d, "accel: out of memory");
		goto out;
	}
	const WPack *w = p->w;
	for (int64_t rt = 0; rt < t->nrow; rt++)
		for (int64_t ki = 0; ki < t->nk; ki++) {
			int64_t row0 = rt * t->mt, mt = p->M - row0 < t->mt ? p->M - row0 : t->mt;
			int64_t k0 = ki * t->kt, k1 = k0 + t->kt;
			int64_t len = 1;
			for (int64_t i = 0; i < mt; i++) {
				int64_t r = p->w_row0 + row0 + i, c = 0;
				for (int64_t e = w->gs_ptr[r]; e < w->gs_ptr[r + 1]; e++)
					c += w->gs_col[e] >= k0 && w->gs_col[e] < k1;
				len = c > len ? c : len;
			}
			memset(v, 0, (size_t)(mt * len) * sizeof *v);
			memset(x, 0, (size_t)(mt * len) * sizeof *x);
			for (int64_t i = 0; i < mt; i++) {
				int64_t r = p->w_row0 + row0 + i, c = 0;
				for (int64_t e = w->gs_ptr[r]; e < w->gs_ptr[r + 1]; e++)
					if (w->gs_col[e] >= k0 && w->gs_col[e] < k1) {
						v[i * len + c] = w->gs_val[e];
						x[i * len + c++] = (uint32_t)(w->gs_col[e] - k0);
					}
			}
			int64_t at = rt * t->nk + ki;
			t->gs_l[at] = len;
			if (lw_const_floats(L, v, mt * len, &t->gs_vals[at]) < 0 ||
			    nnza_add_consts(L->b, x, (size_t)(mt * len), &t->gs_idx[at], L->d) < 0)
				goto out;
		}
	rc = 0;
out:
	free(v);
	free(x);
	return rc;
}

static void tiling_free(Tiling *t)
{
	free(t->gs_l);
	free(t->gs_vals);
	free(t->gs_idx);
	t->gs_l = NULL;
	t->gs_vals = t->gs_idx = NULL;
}

static int64_t gs_at(const Tiling *t, const Step *st) { return st->row0 / t->mt * t->nk + st->ki; }

static int emit_loads(Lower *L, const Prod *p, const Tiling *t, int64_t s)
{
	Step st = step_of(p, t, s);
	int h = (int)(s % 2);
	uint32_t ib = (uint32_t)(h * t->ihalf), wb = (uint32_t)(h * t->whalf), xb = (uint32_t)(h * t->xhalf);
	if (load_d(L, p, ib, st.k0, st.kt, st.col0, st.nt) < 0)
		return -1;
	/* weight-stationary: with a single K step, the S tile this half got two steps ago is the same
	 * when that step had the same row tile (only the pixel tile moved on): no reload */
	bool stationary = t->nk == 1 && s >= 2 && step_of(p, t, s - 2).row0 == st.row0;
	if (stationary) {
		/* nothing to load for S */
	} else if (p->w == NULL) {
		/* dense S from DRAM (a MatMul or Gemm whose B is not a constant weight) */
		if (lw_load(L, NNZRT_ACCEL_BUF_W, wb, st.kt, loc_add(p->s_loc, st.row0 * p->s_rs + st.k0 * p->s_cs), st.mt,
			    st.kt, p->s_rs, p->s_cs) < 0)
			return -1;
	} else if (p->w->mode == NNZRT_ACCEL_MODE_GS) {
		int64_t at = gs_at(t, &st), len = t->gs_l[at];
		if (lw_load_fmt(L, ACCEL_FMT_GS, ACCEL_PART_VAL, 0, 0, 0, NNZRT_ACCEL_BUF_W, wb, len,
				(Loc){ACCEL_SPACE_CONST, t->gs_vals[at]}, st.mt, len, len, 1) < 0 ||
		    lw_load_fmt(L, ACCEL_FMT_GS, ACCEL_PART_IDX, 0, 0, 0, NNZRT_ACCEL_BUF_X, xb, len,
				(Loc){ACCEL_SPACE_CONST, t->gs_idx[at]}, st.mt, len, len, 1) < 0)
			return -1;
	} else if (p->w->mode == NNZRT_ACCEL_MODE_DENSE) {
		Loc src = {ACCEL_SPACE_CONST, p->w->dense + (uint64_t)((p->w_row0 + st.row0) * t->kp + st.k0)};
		if (lw_load(L, NNZRT_ACCEL_BUF_W, wb, st.kt, src, st.mt, st.kt, t->kp, 1) < 0)
			return -1;
	} else {
		uint32_t off = 0;
		for (int k = 0; k < p->w->nterms; k++) {
			int n = p->w->term[k].n, m = p->w->term[k].m;
			int64_t per_row = t->kp / m * n, cols = st.kt / m * n;
			int64_t first = (p->w_row0 + st.row0) * per_row + st.k0 / m * n;
			int fmt = p->w->tasd ? ACCEL_FMT_TASD : ACCEL_FMT_NM, term = p->w->tasd ? k + 1 : 0;
			Loc v = {ACCEL_SPACE_CONST, p->w->term[k].vals + (uint64_t)first};
			Loc x = {ACCEL_SPACE_CONST, p->w->term[k].idx + (uint64_t)first};
			if (lw_load_fmt(L, fmt, ACCEL_PART_VAL, n, m, term, NNZRT_ACCEL_BUF_W, wb + off, cols, v, st.mt, cols,
					per_row, 1) < 0 ||
			    lw_load_fmt(L, fmt, ACCEL_PART_IDX, n, m, term, NNZRT_ACCEL_BUF_X, xb + off, cols, x, st.mt, cols,
					per_row, 1) < 0)
				return -1;
			off += (uint32_t)(st.mt * cols);
		}
	}
	if (st.ki != 0)
		return 0;
	/* the epilogue's operands, into this output tile's O half */
	uint32_t ob = o_base(t, st.u), tile = (uint32_t)(t->mt * t->nt);
	if (p->has_res &&
	    lw_load(L, NNZRT_ACCEL_BUF_O, ob + tile, st.nt, loc_add(p->res_loc, st.row0 * p->c_rs + st.col0 * p->c_cs), st.mt,
		    st.nt, p->c_rs, p->c_cs) < 0)
		return -1;
	if (p->bias == BIAS_ROW &&
	    lw_load(L, NNZRT_ACCEL_BUF_O, ob + 2 * tile, 1, loc_add(p->bias_loc, st.row0 * p->b_rs), st.mt, 1, p->b_rs, 1) < 0)
		return -1;
	if (p->bias == BIAS_FULL &&
	    lw_load(L, NNZRT_ACCEL_BUF_O, ob + 2 * tile, st.nt, loc_add(p->bias_loc, st.row0 * p->b_rs + st.col0 * p->b_cs),
		    st.mt, st.nt, p->b_rs, p->b_cs) < 0)
		return -1;
	return 0;
}

static int emit_mm(Lower *L, const Prod *p, const Tiling *t, int64_t s)
{
	Step st = step_of(p, t, s);
	int h = (int)(s % 2);
	AccelMm mm = {.mode = NNZRT_ACCEL_MODE_DENSE,
		      .sbuf = NNZRT_ACCEL_BUF_W,
		      .dbuf = NNZRT_ACCEL_BUF_I,
		      .m = (uint32_t)st.mt,
		      .n = (uint32_t)st.nt,
		      .k = (uint32_t)st.kt,
		      .ldn = (uint32_t)st.nt,
		      .saddr = (uint32_t)(h * t->whalf),
		      .daddr = (uint32_t)(h * t->ihalf),
		      .caddr = o_base(t, st.u)};
	if (p->w == NULL || p->w->mode == NNZRT_ACCEL_MODE_DENSE)
		return lw_mm(L, &mm, st.ki > 0);
	if (p->w->mode == NNZRT_ACCEL_MODE_GS) {
		mm.mode = NNZRT_ACCEL_MODE_GS;
		mm.nz = (uint32_t)t->gs_l[gs_at(t, &st)];
		mm.xaddr = (uint32_t)(h * t->xhalf);
		return lw_mm(L, &mm, st.ki > 0);
	}
	uint32_t off = 0;
	for (int k = 0; k < p->w->nterms; k++) {
		int n = p->w->term[k].n, m = p->w->term[k].m;
		mm.mode = NNZRT_ACCEL_MODE_NM;
		mm.nz = (uint32_t)n;
		mm.grp = (uint32_t)m;
		mm.saddr = (uint32_t)(h * t->whalf) + off;
		mm.xaddr = (uint32_t)(h * t->xhalf) + off;
		mm.term = p->w->tasd ? (uint32_t)(k + 1) : 0;
		if (lw_mm(L, &mm, st.ki > 0 || k > 0) < 0)
			return -1;
		off += (uint32_t)(st.mt * (st.kt / m * n));
	}
	return 0;
}

static int emit_act(Lower *L, const Activation *act, uint32_t cb, uint32_t tmp, int64_t rows, int64_t cols)
{
	VecArgs v = {.dbuf = NNZRT_ACCEL_BUF_O, .daddr = cb, .abuf = NNZRT_ACCEL_BUF_O, .aaddr = cb, .rows = rows, .cols = cols};
	switch (act->kind) {
	case ACT_NONE:
		return 0;
	case ACT_RELU:
		v.func = ACCEL_FUNC_RELU;
		return lw_vec(L, &v);
	case ACT_CLIP:
		v.func = ACCEL_FUNC_CLIP;
		v.imm0 = act->alpha;
		v.imm1 = act->beta;
		return lw_vec(L, &v);
	case ACT_LEAKY_RELU: {
		/* x >= 0 ? x : alpha*x is max(x, alpha*x) for alpha <= 1, min(x, alpha*x) above */
		VecArgs m = v;
		m.func = ACCEL_FUNC_MUL;
		m.bcast = ACCEL_BCAST_SCALAR;
		m.imm0 = act->alpha;
		m.daddr = tmp;
		if (lw_vec(L, &m) < 0)
			return -1;
		v.func = act->alpha <= 1.0f ? ACCEL_FUNC_MAX : ACCEL_FUNC_MIN;
		v.bcast = ACCEL_BCAST_FULL;
		v.bbuf = NNZRT_ACCEL_BUF_O;
		v.baddr = tmp;
		return lw_vec(L, &v);
	}
	default:
		return lw_unsupported(L, "activation kind %d has no vector-unit form", act->kind);
	}
}

static int emit_epilogue(Lower *L, const Prod *p, const Tiling *t, int64_t s)
{
	Step st = step_of(p, t, s);
	uint32_t cb = o_base(t, st.u), tile = (uint32_t)(t->mt * t->nt);
	VecArgs v = {.dbuf = NNZRT_ACCEL_BUF_O, .daddr = cb, .abuf = NNZRT_ACCEL_BUF_O, .aaddr = cb, .rows = st.mt, .cols = st.nt};
	if (p->alpha != 1.0f) {
		VecArgs m = v;
		m.func = ACCEL_FUNC_MUL;
		m.bcast = ACCEL_BCAST_SCALAR;
		m.imm0 = p->alpha;
		if (lw_vec(L, &m) < 0)
			return -1;
	}
	if (p->bias != BIAS_NONE) {
		int64_t bc = p->bias == BIAS_ROW ? 1 : st.nt;
		if (p->beta != 1.0f) {
			VecArgs m = {.func = ACCEL_FUNC_MUL, .bcast = ACCEL_BCAST_SCALAR, .dbuf = NNZRT_ACCEL_BUF_O, .daddr = cb + 2 * tile,
				     .abuf = NNZRT_ACCEL_BUF_O, .aaddr = cb + 2 * tile, .rows = st.mt, .cols = bc, .imm0 = p->beta};
			if (lw_vec(L, &m) < 0)
				return -1;
		}
		VecArgs a = v;
		a.func = ACCEL_FUNC_ADD;
		a.bcast = p->bias == BIAS_ROW ? ACCEL_BCAST_ROW : ACCEL_BCAST_FULL;
		a.bbuf = NNZRT_ACCEL_BUF_O;
		a.baddr = cb + 2 * tile;
		if (lw_vec(L, &a) < 0)
			return -1;
	}
	if (p->has_res) {
		VecArgs a = v;
		a.func = ACCEL_FUNC_ADD;
		a.bcast = ACCEL_BCAST_FULL;
		a.bbuf = NNZRT_ACCEL_BUF_O;
		a.baddr = cb + tile;
		if (lw_vec(L, &a) < 0)
			return -1;
	}
	return emit_act(L, &p->act, cb, cb + tile, st.mt, st.nt);
}

static int run_tiles(Lower *L, const Prod *p, const Tiling *t);

/* One product, tile by tile (lower.h: scheduling discipline). */
static int run_prod(Lower *L, const Prod *p)
{
	if (p->M <= 0 || p->N <= 0)
		return 0;
	Tiling t;
	if (plan(L, p, &t) < 0)
		return -1;
	if (p->w && p->w->mode == NNZRT_ACCEL_MODE_GS && pack_gs_tiles(L, p, &t) < 0) {
		tiling_free(&t);
		return -1;
	}
	int rc = run_tiles(L, p, &t);
	tiling_free(&t);
	return rc;
}

static int run_tiles(Lower *L, const Prod *p, const Tiling *t0)
{
	const Tiling t = *t0;
	int64_t steps = t.nrow * t.ncol * t.nk;
	if (lw_sync(L, SYNC_ALL) < 0 || emit_loads(L, p, &t, 0) < 0)
		return -1;
	for (int64_t s = 0; s < steps; s++) {
		if (lw_sync(L, SYNC_ALL) < 0 || emit_mm(L, p, &t, s) < 0)
			return -1;
		if (s + 1 < steps && emit_loads(L, p, &t, s + 1) < 0)
			return -1;
		Step st = step_of(p, &t, s);
		if (st.ki != t.nk - 1)
			continue;
		if (lw_sync(L, ACCEL_UNIT_MX) < 0 || emit_epilogue(L, p, &t, s) < 0 || lw_sync(L, ACCEL_UNIT_VX) < 0)
			return -1;
		if (lw_store(L, NNZRT_ACCEL_BUF_O, o_base(&t, st.u), st.nt,
			     loc_add(p->c_loc, st.row0 * p->c_rs + st.col0 * p->c_cs), st.mt, st.nt, p->c_rs, p->c_cs) < 0)
			return -1;
	}
	return 0;
}

static int check_act(Lower *L, const Activation *a)
{
	if (a->kind == ACT_NONE || a->kind == ACT_RELU || a->kind == ACT_CLIP || a->kind == ACT_LEAKY_RELU)
		return 0;
	return lw_unsupported(L, "fused activation kind %d (the vector unit has Relu, Clip and LeakyRelu)", a->kind);
}

static int lower_conv(Lower *L, const Node *n)
{
	const ConvAttrs *ca = n->op == OP_FusedConv ? &n->attr.fused_conv.conv : &n->attr.conv;
	Activation act = n->op == OP_FusedConv ? n->attr.fused_conv.act : (Activation){ACT_NONE, 0, 0};
	if (check_act(L, &act) < 0)
		return -1;
	const Value *x = n->in[0], *wv = n->in[1], *y = n->out[0];
	WeightView view;
	bool constw = weight_view(n, 1, &view) && wv->data != NULL;
	Window win;
	if (window_of_node(n, &x->shape, &wv->shape, &win, L->d) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], cin = x->shape.dim[1], cout = y->shape.dim[1], grp = ca->group;
	if (grp < 1 || cin % grp || cout % grp)
		return lw_unsupported(L, "group %lld does not divide the channels", (long long)grp);
	int64_t cg = cin / grp, mg = cout / grp, P = win.out[0] * win.out[1] * win.out[2];
	int64_t plane = win.in[0] * win.in[1] * win.in[2];
	WPack pack = {0};
	Loc xl, yl, bl = {0}, rl = {0}, wl = {0};
	int64_t taps = win.kernel[0] * win.kernel[1] * win.kernel[2];
	if (lw_value(L, x, &xl) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	const Value *bias = n->n_in > 2 ? n->in[2] : NULL, *res = n->op == OP_FusedConv && n->n_in > 3 ? n->in[3] : NULL;
	if ((bias && lw_value(L, bias, &bl) < 0) || (res && lw_value(L, res, &rl) < 0))
		return -1;
	if (res && shape_numel(&res->shape) != shape_numel(&y->shape))
		return lw_unsupported(L, "a residual of another shape than the output");
	if (constw ? lw_pack_weight(L, wv, &view, &pack) < 0 : lw_value(L, wv, &wl) < 0)
		return -1;
	int rc = 0;
	for (int64_t img = 0; img < nimg && rc == 0; img++)
		for (int64_t g = 0; g < grp; g++) {
			int64_t yoff = (img * cout + g * mg) * P;
			Prod p = {.M = mg, .K = cg * taps, .N = P, .w = constw ? &pack : NULL, .w_row0 = g * mg,
				  .s_loc = loc_add(wl, g * mg * cg * taps), .s_rs = cg * taps, .s_cs = 1, .chan_major = !constw,
				  .d_kind = D_IM2COL, .d_loc = loc_add(xl, img * cin * plane), .win = &win, .c0 = g * cg, .cg = cg,
				  .c_loc = loc_add(yl, yoff), .c_rs = P, .c_cs = 1, .alpha = 1.0f, .beta = 1.0f,
				  .bias = bias ? BIAS_ROW : BIAS_NONE, .bias_loc = loc_add(bl, g * mg), .b_rs = 1,
				  .has_res = res != NULL, .res_loc = loc_add(rl, yoff), .act = act};
			if (run_prod(L, &p) < 0) {
				rc = -1;
				break;
			}
		}
	lw_pack_free(&pack);
	return rc;
}

static int lower_gemm(Lower *L, const Node *n)
{
	const GemmAttrs *ga = n->op == OP_FusedGemm ? &n->attr.fused_gemm.gemm : &n->attr.gemm;
	Activation act = n->op == OP_FusedGemm ? n->attr.fused_gemm.act : (Activation){ACT_NONE, 0, 0};
	if (check_act(L, &act) < 0)
		return -1;
	const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
	const Value *c = n->n_in > 2 ? n->in[2] : NULL, *res = n->op == OP_FusedGemm && n->n_in > 3 ? n->in[3] : NULL;
	int64_t m = y->shape.dim[0], nn = y->shape.dim[1], k = a->shape.dim[ga->trans_a ? 0 : 1];
	Loc al, yl, sl = {0}, cl = {0}, rl = {0};
	if (lw_value(L, a, &al) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	Prod p = {.M = nn, .K = k, .N = m, .d_kind = D_MATRIX, .d_loc = al, .d_rs = ga->trans_a ? m : 1,
		  .d_cs = ga->trans_a ? 1 : k, .c_loc = yl, .c_rs = 1, .c_cs = nn, .alpha = ga->alpha, .beta = ga->beta, .act = act};
	if (c && ga->beta != 0.0f) {
		if (lw_value(L, c, &cl) < 0)
			return -1;
		int r = c->shape.rank;
		int64_t cm = r == 2 ? c->shape.dim[0] : 1, cn = r >= 1 ? c->shape.dim[r - 1] : 1;
		p.bias = BIAS_FULL;
		p.bias_loc = cl;
		p.b_rs = cn == 1 ? 0 : 1;  /* tile rows are Y's columns */
		p.b_cs = cm == 1 ? 0 : cn; /* tile columns are Y's rows */
	}
	if (res) {
		if (shape_numel(&res->shape) != m * nn)
			return lw_unsupported(L, "a residual of another shape than the output");
		if (lw_value(L, res, &rl) < 0)
			return -1;
		p.has_res = true;
		p.res_loc = rl;
	}
	WPack pack = {0};
	WeightView view;
	if (weight_view(n, 1, &view) && b->data) {
		if (lw_pack_weight(L, b, &view, &pack) < 0)
			return -1;
		p.w = &pack;
	} else {
		if (lw_value(L, b, &sl) < 0)
			return -1;
		p.s_loc = sl;
		p.s_rs = ga->trans_b ? k : 1;
		p.s_cs = ga->trans_b ? 1 : nn;
	}
	int rc = run_prod(L, &p);
	lw_pack_free(&pack);
	return rc;
}

static int lower_matmul(Lower *L, const Node *n)
{
	const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
	int ra = a->shape.rank, rb = b->shape.rank, ry = y->shape.rank;
	int64_t m = ra == 1 ? 1 : a->shape.dim[ra - 2], k = a->shape.dim[ra - 1];
	int64_t nn = rb == 1 ? 1 : b->shape.dim[rb - 1];
	Loc al, bl, yl;
	if (lw_value(L, a, &al) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	WPack pack = {0};
	WeightView view;
	bool weight = rb == 2 && weight_view(n, 1, &view) && b->data;
	if (weight) {
		if (lw_pack_weight(L, b, &view, &pack) < 0)
			return -1;
	} else if (lw_value(L, b, &bl) < 0) {
		return -1;
	}
	/* batch dims of the result and each operand's strides over them (0: broadcast) */
	int nb = ry - (ra > 1) - (rb > 1), na = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
	int64_t sa[NNZC_MAX_RANK] = {0}, sb[NNZC_MAX_RANK] = {0}, st_a = m * k, st_b = k * nn, batch = 1;
	for (int i = nb - 1; i >= 0; i--) {
		int ia = i - (nb - na), ib = i - (nb - nbb);
		int64_t da = ia >= 0 ? a->shape.dim[ia] : 1, db = ib >= 0 ? b->shape.dim[ib] : 1;
		sa[i] = da == 1 ? 0 : st_a;
		sb[i] = db == 1 ? 0 : st_b;
		st_a *= da;
		st_b *= db;
		batch *= y->shape.dim[i];
	}
	for (int64_t bi = 0; bi < batch; bi++) {
		int64_t oa = 0, ob = 0, rem = bi;
		for (int i = nb - 1; i >= 0; i--) {
			int64_t idx = rem % y->shape.dim[i];
			rem /= y->shape.dim[i];
			oa += idx * sa[i];
			ob += idx * sb[i];
		}
		Prod p = {.M = nn, .K = k, .N = m, .d_kind = D_MATRIX, .d_loc = loc_add(al, oa), .d_rs = 1, .d_cs = k,
			  .c_loc = loc_add(yl, bi * m * nn), .c_rs = 1, .c_cs = nn, .alpha = 1.0f, .beta = 1.0f};
		if (weight) {
			p.w = &pack;
		} else {
			p.s_loc = loc_add(bl, ob);
			p.s_rs = 1;
			p.s_cs = nn;
		}
		if (run_prod(L, &p) < 0) {
			lw_pack_free(&pack);
			return -1;
		}
	}
	lw_pack_free(&pack);
	return 0;
}

int lower_product(Lower *L, const Node *n)
{
	switch (n->op) {
	case OP_Conv:
	case OP_FusedConv:
		return lower_conv(L, n);
	case OP_Gemm:
	case OP_FusedGemm:
		return lower_gemm(L, n);
	default:
		return lower_matmul(L, n);
	}
}

/* GlobalAveragePool: per image, Y[C, 1] = X[C, HW] · ones[HW, 1] on the matrix unit, times
 * 1/HW; GlobalMaxPool is the vector unit's (lower_vec.c). */
int lower_global_pool(Lower *L, const Node *n)
{
	if (n->op == OP_GlobalMaxPool)
		return lower_global_max_pool(L, n);
	const Value *x = n->in[0], *y = n->out[0];
	Loc xl, yl;
	if (lw_value(L, x, &xl) < 0 || lw_value(L, y, &yl) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], ch = x->shape.dim[1];
	int64_t hw = nimg * ch > 0 ? shape_numel(&x->shape) / (nimg * ch) : 0;
	if (hw <= 0)
		return 0;
	float *ones = malloc((size_t)hw * sizeof *ones);
	if (ones == NULL)
		return diag_error(L->d, "accel: out of memory");
	for (int64_t i = 0; i < hw; i++)
		ones[i] = 1.0f;
	uint64_t off;
	int rc = lw_const_floats(L, ones, hw, &off);
	free(ones);
	if (rc < 0)
		return -1;
	for (int64_t img = 0; img < nimg; img++) {
		Prod p = {.M = ch, .K = hw, .N = 1, .s_loc = loc_add(xl, img * ch * hw), .s_rs = hw, .s_cs = 1,
			  .d_kind = D_MATRIX, .d_loc = {ACCEL_SPACE_CONST, off}, .d_rs = 1, .d_cs = 1,
			  .c_loc = loc_add(yl, img * ch), .c_rs = 1, .c_cs = 1, .alpha = 1.0f / (float)hw, .beta = 1.0f};
		if (run_prod(L, &p) < 0)
			return -1;
	}
	return 0;
}
