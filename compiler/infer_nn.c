/* Shape and dtype inference for convolution, pooling, matrix products and normalisation: Conv,
 * ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, MatMul, Gemm,
 * BatchNormalization, LayerNormalization, InstanceNormalization and the fused nnzc.FusedConv
 * and nnzc.FusedGemm. Also window_of_node(), the one place where strides, dilations, pads,
 * auto_pad, ceil_mode and output_shape become explicit numbers, so that inference and every
 * kernel agree on the geometry by construction.
 *
 * Shapes are checked as far as they are known: a dim of -1 matches anything, an input of
 * unknown rank gives an output of unknown rank (Gemm: rank 2 with unknown dims). Every size
 * computed from attributes is checked for overflow, because the kernels trust these shapes. */
#include "nnzc/ir.h"

#include <assert.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static void set_out(Node *n, int i, DType t, const Shape *s)
{
	if (i >= n->n_out || n->out[i] == NULL)
		return;
	n->out[i]->dtype = t;
	n->out[i]->shape = *s;
}

static bool add_ok_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* Optional input i, or NULL when omitted or given as an empty tensor (exporters write an empty
 * initializer for "no bias"). The kernels apply the same rule. */
static const Value *opt_in(const Node *n, int i)
{
	if (i >= n->n_in || n->in[i] == NULL || shape_numel(&n->in[i]->shape) == 0)
		return NULL;
	return n->in[i];
}

static int need_float(const Node *n, int i, Diag *d)
{
	const Value *v = n->in[i];
	if (v != NULL && !dtype_is_float(v->dtype))
		return node_error(d, n, "input %d ('%s') must be a float tensor, is %s", i, v->name, dtype_name(v->dtype));
	return 0;
}

/* Input i must be in the same compute class as input 0 (ONNX ties them to one type T). */
static int same_class(const Node *n, int i, Diag *d)
{
	const Value *x = n->in[0], *v = n->in[i];
	if (v != NULL && dtype_is_float(v->dtype) != dtype_is_float(x->dtype))
		return node_error(d, n, "input %d ('%s') is %s but input 0 is %s", i, v->name, dtype_name(v->dtype),
				  dtype_name(x->dtype));
	return 0;
}

static int check_numel(const Node *n, const Shape *s, Diag *d)
{
	if (shape_numel(s) == -2) {
		char buf[256];
		return node_error(d, n, "output shape %s has too many elements", shape_str(s, buf, sizeof buf));
	}
	return 0;
}

/* A per-channel parameter (BatchNormalization, InstanceNormalization, Conv bias): 1-D of c. */
static int check_vector(const Node *n, int i, const char *what, int64_t c, Diag *d)
{
	const Value *v = n->in[i];
	if (v == NULL || v->shape.rank < 0)
		return 0;
	if (v->shape.rank != 1)
		return node_error(d, n, "%s must be 1-D, has rank %d", what, v->shape.rank);
	if (c >= 0 && v->shape.dim[0] >= 0 && v->shape.dim[0] != c)
		return node_error(d, n, "%s has %lld values, expected %lld (the channel count)", what,
				  (long long)v->shape.dim[0], (long long)c);
	return 0;
}

/* r must be exactly `want` where both are known (the residual of the fused ops). */
static int check_same_shape(const Node *n, const Value *r, const Shape *want, Diag *d)
{
	if (r == NULL || r->shape.rank < 0 || want->rank < 0)
		return 0;
	bool ok = r->shape.rank == want->rank;
	for (int i = 0; ok && i < want->rank; i++)
		ok = r->shape.dim[i] < 0 || want->dim[i] < 0 || r->shape.dim[i] == want->dim[i];
	if (!ok) {
		char a[256], b[256];
		return node_error(d, n, "residual '%s' has shape %s, the output has %s", r->name,
				  shape_str(&r->shape, a, sizeof a), shape_str(want, b, sizeof b));
	}
	return 0;
}

/* c broadcasts unidirectionally to `to` (numpy rules, c's dims right-aligned, each 1 or equal). */
static int check_unidirectional(const Node *n, const Value *c, const Shape *to, const char *what, Diag *d)
{
	if (c == NULL || c->shape.rank < 0 || to->rank < 0)
		return 0;
	char a[256], b[256];
	bool ok = c->shape.rank <= to->rank;
	for (int i = 0; ok && i < c->shape.rank; i++) {
		int64_t cd = c->shape.dim[c->shape.rank - 1 - i], td = to->dim[to->rank - 1 - i];
		ok = cd < 0 || td < 0 || cd == 1 || cd == td;
	}
	if (!ok)
		return node_error(d, n, "%s '%s' of shape %s does not broadcast to %s", what, c->name,
				  shape_str(&c->shape, a, sizeof a), shape_str(to, b, sizeof b));
	return 0;
}

/* ---------------------------------------------------------------- the window */

typedef struct WinAttrs {
	int auto_pad;
	const Ints *kernel_shape, *strides, *dilations, *pads;
	const Ints *output_padding, *output_shape; /* ConvTranspose only */
	bool ceil_mode, transpose, pool;
} WinAttrs;

static int check_len(const Node *n, const Ints *v, int want, const char *what, Diag *d)
{
	if (v->n != 0 && v->n != want)
		return node_error(d, n, "%s has %d values, expected %d", what, v->n, want);
	return 0;
}

/* One spatial dim of a forward window (Conv, pools): out and pads from in. */
static int forward_dim(const Node *n, const WinAttrs *a, int i, int nsp, int64_t in, int64_t eff, Window *w,
		       int j, Diag *d)
{
	int64_t s = w->stride[j];
	if (a->auto_pad == AUTO_PAD_SAME_UPPER || a->auto_pad == AUTO_PAD_SAME_LOWER) {
		if (in < 0) {
			w->out[j] = w->pad_lo[j] = w->pad_hi[j] = -1;
			return 0;
		}
		int64_t out = in / s + (in % s != 0), total, need;
		/* total = max(0, (out-1)*s + eff - in): cannot overflow past eff since (out-1)*s < in */
		total = (out > 0 ? (out - 1) * s : 0);
		if (!add_ok_i64(total, eff, &need))
			return node_error(d, n, "kernel extent %lld overflows on spatial dim %d", (long long)eff, i);
		total = need - in > 0 ? need - in : 0;
		w->out[j] = out;
		w->pad_lo[j] = a->auto_pad == AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
		w->pad_hi[j] = total - w->pad_lo[j];
		return 0;
	}
	int64_t lo = 0, hi = 0;
	if (a->auto_pad == AUTO_PAD_NOTSET && a->pads->n) {
		lo = a->pads->v[i];
		hi = a->pads->v[i + nsp];
		if (lo < 0 || hi < 0)
			return node_error(d, n, "pads on spatial dim %d are %lld,%lld; they must be >= 0", i, (long long)lo,
					  (long long)hi);
	}
	w->pad_lo[j] = lo;
	w->pad_hi[j] = hi;
	if (in < 0) {
		w->out[j] = -1;
		return 0;
	}
	int64_t padded;
	if (!add_ok_i64(in, lo, &padded) || !add_ok_i64(padded, hi, &padded))
		return node_error(d, n, "padded input size overflows on spatial dim %d", i);
	if (padded < eff)
		return node_error(d, n, "kernel extent %lld (kernel %lld, dilation %lld) is larger than the padded input %lld "
				  "(%lld + pads %lld,%lld) on spatial dim %d", (long long)eff, (long long)w->kernel[j],
				  (long long)w->dilation[j], (long long)padded, (long long)in, (long long)lo, (long long)hi, i);
	int64_t num = padded - eff, out = num / s + 1;
	if (a->ceil_mode && a->auto_pad == AUTO_PAD_NOTSET && num % s != 0) {
		out++;
		/* as PyTorch and ONNX Runtime do: the last window must start inside the input or the
		 * leading padding, never entirely in the trailing padding */
		int64_t start;
		if (!mul_ok_i64(out - 1, s, &start) || start >= in + lo)
			out--;
	}
	w->out[j] = out;
	return 0;
}

/* One spatial dim of ConvTranspose: out and pads from in, output_padding and output_shape. */
static int transpose_dim(const Node *n, const WinAttrs *a, int i, int nsp, int64_t in, int64_t eff, Window *w,
			 int j, Diag *d)
{
	int64_t s = w->stride[j], opad = a->output_padding->n ? a->output_padding->v[i] : 0;
	if (opad < 0)
		return node_error(d, n, "output_padding on spatial dim %d is %lld; it must be >= 0", i, (long long)opad);
	/* full = s*(in-1) + opad + eff: the extent the input covers before cropping by the pads */
	int64_t full = -1;
	if (in >= 0) {
		if (in == 0)
			return node_error(d, n, "input has size 0 on spatial dim %d", i);
		if (!mul_ok_i64(s, in - 1, &full) || !add_ok_i64(full, opad, &full) || !add_ok_i64(full, eff, &full))
			return node_error(d, n, "output size overflows on spatial dim %d", i);
	}
	int64_t out = -1;
	bool derive_pads = false;
	if (a->output_shape->n) {
		out = a->output_shape->v[a->output_shape->n == nsp ? i : i + 2];
		if (out < 1)
			return node_error(d, n, "output_shape on spatial dim %d is %lld; it must be >= 1", i, (long long)out);
		derive_pads = true;
	} else if (a->auto_pad == AUTO_PAD_SAME_UPPER || a->auto_pad == AUTO_PAD_SAME_LOWER) {
		if (in >= 0 && !mul_ok_i64(in, s, &out))
			return node_error(d, n, "output size overflows on spatial dim %d", i);
		derive_pads = true;
	}
	if (derive_pads) {
		w->out[j] = out;
		if (full < 0) {
			w->pad_lo[j] = w->pad_hi[j] = -1;
			return 0;
		}
		/* total is negative when output_shape exceeds the covered extent; the halves are then
		 * floored as in the ONNX reference (Python's //), which puts the uncovered part at the
		 * end, where the kernels' bounds checks leave it zero */
		int64_t total = full - out, half = total >= 0 ? total / 2 : -((-total + 1) / 2);
		if (a->auto_pad == AUTO_PAD_SAME_UPPER) {
			w->pad_lo[j] = half;
			w->pad_hi[j] = total - half;
		} else {
			w->pad_lo[j] = total - half;
			w->pad_hi[j] = half;
		}
		return 0;
	}
	int64_t lo = 0, hi = 0;
	if (a->auto_pad == AUTO_PAD_NOTSET && a->pads->n) {
		lo = a->pads->v[i];
		hi = a->pads->v[i + nsp];
		if (lo < 0 || hi < 0)
			return node_error(d, n, "pads on spatial dim %d are %lld,%lld; they must be >= 0", i, (long long)lo,
					  (long long)hi);
	}
	w->pad_lo[j] = lo;
	w->pad_hi[j] = hi;
	if (full < 0) {
		w->out[j] = -1;
		return 0;
	}
	if (lo >= full || hi >= full - lo) /* full - lo - hi < 1, without overflowing on huge pads */
		return node_error(d, n, "pads %lld,%lld crop the whole output (%lld) on spatial dim %d", (long long)lo,
				  (long long)hi, (long long)full, i);
	w->out[j] = full - lo - hi;
	return 0;
}

int window_of_node(const Node *n, const Shape *x, const Shape *wshape, Window *w, Diag *d)
{
	WinAttrs a;
	memset(&a, 0, sizeof a);
	switch (n->op) {
	case OP_Conv:
	case OP_ConvTranspose:
	case OP_FusedConv: {
		const ConvAttrs *c = n->op == OP_FusedConv ? &n->attr.fused_conv.conv : &n->attr.conv;
		a.auto_pad = c->auto_pad;
		a.kernel_shape = &c->kernel_shape;
		a.strides = &c->strides;
		a.dilations = &c->dilations;
		a.pads = &c->pads;
		a.output_padding = &c->output_padding;
		a.output_shape = &c->output_shape;
		a.transpose = n->op == OP_ConvTranspose;
		break;
	}
	case OP_MaxPool:
	case OP_AveragePool:
		a.auto_pad = n->attr.pool.auto_pad;
		a.kernel_shape = &n->attr.pool.kernel_shape;
		a.strides = &n->attr.pool.strides;
		a.dilations = &n->attr.pool.dilations;
		a.pads = &n->attr.pool.pads;
		a.ceil_mode = n->attr.pool.ceil_mode != 0;
		a.pool = true;
		break;
	default:
		assert(!"window_of_node: not a windowed op");
		return node_error(d, n, "has no sliding window");
	}
	assert(x->rank >= 0);
	int nsp = x->rank - 2;
	if (nsp < 1 || nsp > NNZC_MAX_SPATIAL)
		return node_error(d, n, "input has rank %d; 1 to %d spatial dims (rank 3 to %d) are supported", x->rank,
				  NNZC_MAX_SPATIAL, NNZC_MAX_SPATIAL + 2);
	if (!a.pool && wshape->rank >= 0 && wshape->rank != x->rank)
		return node_error(d, n, "weight has rank %d, input has rank %d", wshape->rank, x->rank);
	if (check_len(n, a.kernel_shape, nsp, "kernel_shape", d) < 0 || check_len(n, a.strides, nsp, "strides", d) < 0 ||
	    check_len(n, a.dilations, nsp, "dilations", d) < 0 || check_len(n, a.pads, 2 * nsp, "pads", d) < 0)
		return -1;
	if (a.transpose && check_len(n, a.output_padding, nsp, "output_padding", d) < 0)
		return -1;
	if (a.transpose && a.output_shape->n != 0 && a.output_shape->n != nsp && a.output_shape->n != nsp + 2)
		return node_error(d, n, "output_shape has %d values, expected %d (or %d with N and C)", a.output_shape->n,
				  nsp, nsp + 2);
	if (a.pool && a.kernel_shape->n == 0)
		return node_error(d, n, "kernel_shape is required");
	if (a.auto_pad < AUTO_PAD_NOTSET || a.auto_pad > AUTO_PAD_VALID)
		return node_error(d, n, "bad auto_pad %d", a.auto_pad);

	memset(w, 0, sizeof *w);
	w->nsp = nsp;
	for (int j = 0; j < NNZC_MAX_SPATIAL; j++)
		w->in[j] = w->out[j] = w->kernel[j] = w->stride[j] = w->dilation[j] = 1;
	int off = NNZC_MAX_SPATIAL - nsp;
	for (int i = 0; i < nsp; i++) {
		int j = off + i;
		int64_t wk = !a.pool && wshape->rank >= 0 ? wshape->dim[2 + i] : -1;
		int64_t k = a.kernel_shape->n ? a.kernel_shape->v[i] : wk;
		if (a.kernel_shape->n && wk >= 0 && k != wk)
			return node_error(d, n, "kernel_shape[%d] is %lld but the weight has %lld there", i, (long long)k,
					  (long long)wk);
		if (a.kernel_shape->n ? k < 1 : k == 0)
			return node_error(d, n, "kernel size on spatial dim %d is %lld; it must be >= 1", i, (long long)k);
		int64_t s = a.strides->n ? a.strides->v[i] : 1, dil = a.dilations->n ? a.dilations->v[i] : 1;
		if (s < 1)
			return node_error(d, n, "stride on spatial dim %d is %lld; it must be >= 1", i, (long long)s);
		if (dil < 1)
			return node_error(d, n, "dilation on spatial dim %d is %lld; it must be >= 1", i, (long long)dil);
		w->in[j] = x->dim[2 + i];
		w->kernel[j] = k;
		w->stride[j] = s;
		w->dilation[j] = dil;
		if (k < 0) {
			/* kernel unknown until the weight's shape is: so is the output */
			w->out[j] = w->pad_lo[j] = w->pad_hi[j] = -1;
			continue;
		}
		int64_t eff;
		if (!mul_ok_i64(k - 1, dil, &eff) || !add_ok_i64(eff, 1, &eff))
			return node_error(d, n, "kernel extent overflows on spatial dim %d", i);
		int rc = a.transpose ? transpose_dim(n, &a, i, nsp, w->in[j], eff, w, j, d)
				     : forward_dim(n, &a, i, nsp, w->in[j], eff, w, j, d);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- Conv, ConvTranspose, FusedConv */

static int infer_conv_like(Node *n, const ConvAttrs *a, bool transpose, bool fused, Diag *d)
{
	const Value *x = n->in[0], *w = n->in[1], *b = opt_in(n, 2), *r = fused ? opt_in(n, 3) : NULL;
	if (need_float(n, 0, d) < 0 || need_float(n, 1, d) < 0 || (b && need_float(n, 2, d) < 0) ||
	    (r && need_float(n, 3, d) < 0))
		return -1;
	if (a->group < 1)
		return node_error(d, n, "group is %lld; it must be >= 1", (long long)a->group);
	if (x->shape.rank < 0) {
		Shape u = shape_unknown();
		set_out(n, 0, x->dtype, &u);
		return 0;
	}
	int rank = x->shape.rank;
	if (rank < 3)
		return node_error(d, n, "input has rank %d; it needs N, C and at least one spatial dim", rank);
	if (w->shape.rank >= 0 && w->shape.rank != rank)
		return node_error(d, n, "weight has rank %d, input has rank %d", w->shape.rank, rank);
	int64_t c = x->shape.dim[1], g = a->group, m = -1;
	int64_t w0 = w->shape.rank >= 0 ? w->shape.dim[0] : -1, w1 = w->shape.rank >= 0 ? w->shape.dim[1] : -1;
	if (!transpose) {
		/* W: M x C/group x k... */
		m = w0;
		if (m >= 0 && m % g != 0)
			return node_error(d, n, "weight has %lld output channels, not a multiple of group %lld", (long long)m,
					  (long long)g);
		int64_t want;
		if (c >= 0 && w1 >= 0 && (!mul_ok_i64(w1, g, &want) || want != c))
			return node_error(d, n, "input has %lld channels but weight expects %lld * group %lld", (long long)c,
					  (long long)w1, (long long)g);
	} else {
		/* W: C x M/group x k... */
		if (c >= 0 && w0 >= 0 && c != w0)
			return node_error(d, n, "input has %lld channels but weight has %lld input channels", (long long)c,
					  (long long)w0);
		if (c >= 0 && c % g != 0)
			return node_error(d, n, "input has %lld channels, not a multiple of group %lld", (long long)c,
					  (long long)g);
		if (w1 >= 0 && !mul_ok_i64(w1, g, &m))
			return node_error(d, n, "output channel count overflows");
	}
	if (b && check_vector(n, 2, "bias", m, d) < 0)
		return -1;
	Window win;
	if (window_of_node(n, &x->shape, &w->shape, &win, d) < 0)
		return -1;
	Shape out = shape_make(rank, NULL);
	out.dim[0] = x->shape.dim[0];
	out.dim[1] = m;
	for (int i = 0; i < win.nsp; i++)
		out.dim[2 + i] = win.out[NNZC_MAX_SPATIAL - win.nsp + i];
	if (check_numel(n, &out, d) < 0 || check_same_shape(n, r, &out, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_conv(Node *n, Diag *d) { return infer_conv_like(n, &n->attr.conv, false, false, d); }
int infer_conv_transpose(Node *n, Diag *d) { return infer_conv_like(n, &n->attr.conv, true, false, d); }
int infer_fused_conv(Node *n, Diag *d) { return infer_conv_like(n, &n->attr.fused_conv.conv, false, true, d); }

/* ---------------------------------------------------------------- pools */

int infer_pool(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	if (n->op == OP_AveragePool && need_float(n, 0, d) < 0)
		return -1;
	if (x->shape.rank < 0) {
		Shape u = shape_unknown();
		set_out(n, 0, x->dtype, &u);
		return 0;
	}
	if (x->shape.rank < 3)
		return node_error(d, n, "input has rank %d; it needs N, C and at least one spatial dim", x->shape.rank);
	Window win;
	Shape none = shape_unknown();
	if (window_of_node(n, &x->shape, &none, &win, d) < 0)
		return -1;
	Shape out = x->shape;
	for (int i = 0; i < win.nsp; i++)
		out.dim[2 + i] = win.out[NNZC_MAX_SPATIAL - win.nsp + i];
	if (check_numel(n, &out, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

int infer_global_pool(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	if (need_float(n, 0, d) < 0)
		return -1;
	Shape out = x->shape;
	if (out.rank >= 0 && out.rank < 3)
		return node_error(d, n, "input has rank %d; it needs N, C and at least one spatial dim", out.rank);
	for (int i = 2; i < out.rank; i++)
		out.dim[i] = 1;
	set_out(n, 0, x->dtype, &out);
	return 0;
}

/* ---------------------------------------------------------------- MatMul, Gemm, FusedGemm */

int infer_matmul(Node *n, Diag *d)
{
	const Value *a = n->in[0], *b = n->in[1];
	if (same_class(n, 1, d) < 0)
		return -1;
	if (a->shape.rank < 0 || b->shape.rank < 0) {
		Shape u = shape_unknown();
		set_out(n, 0, a->dtype, &u);
		return 0;
	}
	int ra = a->shape.rank, rb = b->shape.rank;
	if (ra < 1 || rb < 1)
		return node_error(d, n, "operands must have rank >= 1, have %d and %d", ra, rb);
	/* numpy: a 1-D left operand is a row [1,K], a 1-D right operand a column [K,1]; the
	 * added dim is dropped from the result */
	Shape sa = ra == 1 ? shape_make(2, (int64_t[]){1, a->shape.dim[0]}) : a->shape;
	Shape sb = rb == 1 ? shape_make(2, (int64_t[]){b->shape.dim[0], 1}) : b->shape;
	int64_t ka = sa.dim[sa.rank - 1], kb = sb.dim[sb.rank - 2];
	char bufa[256], bufb[256];
	if (ka >= 0 && kb >= 0 && ka != kb)
		return node_error(d, n, "inner dims differ: %s x %s (%lld vs %lld)", shape_str(&a->shape, bufa, sizeof bufa),
				  shape_str(&b->shape, bufb, sizeof bufb), (long long)ka, (long long)kb);
	Shape ba = shape_make(sa.rank - 2, sa.dim), bb = shape_make(sb.rank - 2, sb.dim), batch;
	Diag scratch = {0};
	if (shape_broadcast(&ba, &bb, &batch, &scratch) < 0)
		return node_error(d, n, "batch dims of %s and %s do not broadcast", shape_str(&a->shape, bufa, sizeof bufa),
				  shape_str(&b->shape, bufb, sizeof bufb));
	Shape out = batch;
	if (ra > 1)
		out.dim[out.rank++] = sa.dim[sa.rank - 2];
	if (rb > 1)
		out.dim[out.rank++] = sb.dim[sb.rank - 1];
	if (check_numel(n, &out, d) < 0)
		return -1;
	set_out(n, 0, a->dtype, &out);
	return 0;
}

static int infer_gemm_like(Node *n, const GemmAttrs *g, bool fused, Diag *d)
{
	const Value *a = n->in[0], *b = n->in[1], *c = opt_in(n, 2), *r = fused ? opt_in(n, 3) : NULL;
	if (same_class(n, 1, d) < 0 || (c && same_class(n, 2, d) < 0) || (r && same_class(n, 3, d) < 0))
		return -1;
	if (fused && need_float(n, 0, d) < 0)
		return -1;
	if (a->shape.rank >= 0 && a->shape.rank != 2)
		return node_error(d, n, "A must be 2-D, has rank %d", a->shape.rank);
	if (b->shape.rank >= 0 && b->shape.rank != 2)
		return node_error(d, n, "B must be 2-D, has rank %d", b->shape.rank);
	int64_t m = -1, ka = -1, kb = -1, nn = -1;
	if (a->shape.rank == 2) {
		m = a->shape.dim[g->trans_a ? 1 : 0];
		ka = a->shape.dim[g->trans_a ? 0 : 1];
	}
	if (b->shape.rank == 2) {
		kb = b->shape.dim[g->trans_b ? 1 : 0];
		nn = b->shape.dim[g->trans_b ? 0 : 1];
	}
	if (ka >= 0 && kb >= 0 && ka != kb)
		return node_error(d, n, "inner dims differ: A gives K=%lld (transA=%lld), B gives K=%lld (transB=%lld)",
				  (long long)ka, (long long)g->trans_a, (long long)kb, (long long)g->trans_b);
	Shape out = shape_make(2, (int64_t[]){m, nn});
	if (check_unidirectional(n, c, &out, "C", d) < 0 || check_numel(n, &out, d) < 0 ||
	    check_same_shape(n, r, &out, d) < 0)
		return -1;
	set_out(n, 0, a->dtype, &out);
	return 0;
}

int infer_gemm(Node *n, Diag *d) { return infer_gemm_like(n, &n->attr.gemm, false, d); }
int infer_fused_gemm(Node *n, Diag *d) { return infer_gemm_like(n, &n->attr.fused_gemm.gemm, true, d); }

/* ---------------------------------------------------------------- normalisation */

int infer_batch_norm(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	for (int i = 0; i < 5; i++)
		if (need_float(n, i, d) < 0)
			return -1;
	if (n->attr.batch_norm.training_mode != 0)
		return node_error(d, n, "training_mode=%lld is not supported: nnzc runs inference only",
				  (long long)n->attr.batch_norm.training_mode);
	if (n->attr.batch_norm.spatial == 0)
		return node_error(d, n, "spatial=0 (per-activation statistics, opset < 9) is not supported");
	int64_t c = -1;
	if (x->shape.rank >= 0) {
		if (x->shape.rank < 2)
			return node_error(d, n, "input has rank %d; it needs at least N and C", x->shape.rank);
		c = x->shape.dim[1];
	}
	static const char *const what[] = {NULL, "scale", "B", "mean", "var"};
	for (int i = 1; i < 5; i++)
		if (check_vector(n, i, what[i], c, d) < 0)
			return -1;
	set_out(n, 0, x->dtype, &x->shape);
	return 0;
}

int infer_instance_norm(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	for (int i = 0; i < 3; i++)
		if (need_float(n, i, d) < 0)
			return -1;
	int64_t c = -1;
	if (x->shape.rank >= 0) {
		if (x->shape.rank < 3)
			return node_error(d, n, "input has rank %d; it needs N, C and at least one spatial dim", x->shape.rank);
		c = x->shape.dim[1];
	}
	if (check_vector(n, 1, "scale", c, d) < 0 || check_vector(n, 2, "B", c, d) < 0)
		return -1;
	set_out(n, 0, x->dtype, &x->shape);
	return 0;
}

int infer_layer_norm(Node *n, Diag *d)
{
	const Value *x = n->in[0], *b = opt_in(n, 2);
	const LayerNormAttrs *a = &n->attr.layer_norm;
	if (need_float(n, 0, d) < 0 || need_float(n, 1, d) < 0 || (b && need_float(n, 2, d) < 0))
		return -1;
	/* Mean and InvStdDev are kept in float32 when stash_type is 1 (the default) */
	DType stats = a->stash_type == 1 ? DT_F32 : x->dtype;
	if (x->shape.rank < 0) {
		Shape u = shape_unknown();
		for (int i = 0; i < n->n_out; i++)
			set_out(n, i, i ? stats : x->dtype, &u);
		return 0;
	}
	int rank = x->shape.rank, axis;
	if (rank < 1)
		return node_error(d, n, "input must have rank >= 1");
	if (a->axis < -rank || a->axis >= rank)
		return node_error(d, n, "axis %lld out of range for rank %d", (long long)a->axis, rank);
	axis = (int)(a->axis < 0 ? a->axis + rank : a->axis);
	Shape norm = shape_make(rank - axis, x->shape.dim + axis);
	if (check_unidirectional(n, n->in[1], &norm, "scale", d) < 0 || check_unidirectional(n, b, &norm, "B", d) < 0)
		return -1;
	Shape st = x->shape;
	for (int i = axis; i < rank; i++)
		st.dim[i] = 1;
	set_out(n, 0, x->dtype, &x->shape);
	set_out(n, 1, stats, &st);
	set_out(n, 2, stats, &st);
	return 0;
}
