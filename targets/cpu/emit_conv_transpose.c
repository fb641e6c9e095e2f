/* ConvTranspose, 1-D to 3-D, any groups, strides, dilations, pads and output padding (the
 * geometry comes resolved from window_of_node: input position i and tap k land on output
 * o = i*stride + k*dilation - pad_lo).
 *
 * Direct scatter, one parallel iteration per output plane (image, output channel), so no two
 * iterations write the same element: the plane starts as the bias, then every input channel of
 * the group and every tap adds weight * input row into the output row it lands on. Stride 1
 * output rows are contiguous (vector loop); other strides scatter element by element. This is
 * the correct-first form: no model nnzc targets for speed uses ConvTranspose. */
#include "gemm.h"

static int64_t vol(const int64_t *v) { return v[0] * v[1] * v[2]; }

/* Positions t in [0, count) with 0 <= t*stride + off < limit, as [*lo, *hi) (targets/ref/conv.c) */
static void valid_range(int64_t count, int64_t stride, int64_t off, int64_t limit, int64_t *lo, int64_t *hi)
{
	int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
	int64_t b = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / stride + 1;
	a = a < count ? a : count;
	b = b < count ? b : count;
	*lo = a;
	*hi = b > a ? b : a;
}

static LLVMValueRef add(Cg *cg, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildAdd(cg->b, a, b, ""); }
static LLVMValueRef mulc(Cg *cg, LLVMValueRef a, int64_t c) { return LLVMBuildMul(cg->b, a, cg_i64(cg, c), ""); }

/* 0 <= v < limit */
static LLVMValueRef in_range(Cg *cg, LLVMValueRef v, int64_t limit)
{
	return LLVMBuildICmp(cg->b, LLVMIntULT, v, cg_i64(cg, limit), "");
}

int emit_conv_transpose(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *wt = n->in[1], *b = opt_input(n, 2), *y = n->out[0];
	if (!dtype_is_float(y->dtype))
		return node_error(cg->d, n, "the cpu target computes ConvTranspose on floats only, not %s", dtype_name(y->dtype));
	Window w;
	if (window_of_node(n, &x->shape, &wt->shape, &w, cg->d) < 0)
		return -1;
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], g = n->attr.conv.group;
	int64_t cgp = c / g, mg = wt->shape.dim[1], m = mg * g;
	int64_t isz = vol(w.in), osz = vol(w.out), ksz = vol(w.kernel);
	if (wt->shape.dim[0] != c || y->shape.dim[1] != m || (b && shape_numel(&b->shape) != m))
		return node_error(cg->d, n, "weight, bias and output shapes disagree");
	code->n_tasks = 0;
	if (nimg * m == 0 || osz == 0)
		return 0;
	int vlen = cg->vlen;
	LLVMTypeRef vt = cg_vec(cg, cg->t_f32, vlen);
	LLVMValueRef fn = cg_task_begin(cg, "conv_transpose");
	LLVMValueRef px = cg_ptr(cg, x), pw = cg_ptr(cg, wt), py = cg_ptr(cg, y), pb = b ? cg_ptr(cg, b) : NULL;
	Loop il;
	LLVMValueRef it = cg_for(cg, &il, cg->begin, cg->end, 1, "plane");
	LLVMValueRef img = LLVMBuildSDiv(cg->b, it, cg_i64(cg, m), "");
	LLVMValueRef oc = LLVMBuildSRem(cg->b, it, cg_i64(cg, m), "");
	LLVMValueRef grp = LLVMBuildSDiv(cg->b, oc, cg_i64(cg, mg), "");
	LLVMValueRef mm = LLVMBuildSRem(cg->b, oc, cg_i64(cg, mg), "");
	LLVMValueRef yp = cg_gep(cg, cg->t_f32, py, mulc(cg, it, osz));

	/* the plane starts as the bias */
	LLVMValueRef bv = pb ? cg_load(cg, cg->t_f32, pb, oc) : cg_f32(cg, 0.0f);
	LLVMValueRef bvv = cg_splat(cg, bv, vlen);
	Loop fl;
	int64_t vend = osz / vlen * vlen;
	LLVMValueRef o = cg_for(cg, &fl, cg_i64(cg, 0), cg_i64(cg, vend), vlen, "o");
	cg_store(cg, bvv, yp, o);
	cg_for_end(cg, &fl);
	o = cg_for(cg, &fl, cg_i64(cg, vend), cg_i64(cg, osz), 1, "o");
	cg_store(cg, bv, yp, o);
	cg_for_end(cg, &fl);

	Loop cl, dl, hl, idl, ihl;
	LLVMValueRef ci = cg_for(cg, &cl, cg_i64(cg, 0), cg_i64(cg, cgp), 1, "ci");
	LLVMValueRef chan = add(cg, mulc(cg, grp, cgp), ci);
	LLVMValueRef xc = cg_gep(cg, cg->t_f32, px, mulc(cg, add(cg, mulc(cg, img, c), chan), isz));
	LLVMValueRef wc = cg_gep(cg, cg->t_f32, pw, mulc(cg, add(cg, mulc(cg, chan, mg), mm), ksz));
	LLVMValueRef kd = cg_for(cg, &dl, cg_i64(cg, 0), cg_i64(cg, w.kernel[0]), 1, "kd");
	LLVMValueRef kh = cg_for(cg, &hl, cg_i64(cg, 0), cg_i64(cg, w.kernel[1]), 1, "kh");
	LLVMValueRef id = cg_for(cg, &idl, cg_i64(cg, 0), cg_i64(cg, w.in[0]), 1, "id");
	LLVMValueRef od = LLVMBuildSub(cg->b, add(cg, mulc(cg, id, w.stride[0]), mulc(cg, kd, w.dilation[0])),
				       cg_i64(cg, w.pad_lo[0]), "");
	LLVMValueRef ih = cg_for(cg, &ihl, cg_i64(cg, 0), cg_i64(cg, w.in[1]), 1, "ih");
	LLVMValueRef oh = LLVMBuildSub(cg->b, add(cg, mulc(cg, ih, w.stride[1]), mulc(cg, kh, w.dilation[1])),
				       cg_i64(cg, w.pad_lo[1]), "");
	IfBlock ib;
	cg_if(cg, &ib, LLVMBuildAnd(cg->b, in_range(cg, od, w.out[0]), in_range(cg, oh, w.out[1]), ""), false);
	LLVMValueRef xr = cg_gep(cg, cg->t_f32, xc, mulc(cg, add(cg, mulc(cg, id, w.in[1]), ih), w.in[2]));
	LLVMValueRef yrow = mulc(cg, add(cg, mulc(cg, od, w.out[1]), oh), w.out[2]);
	LLVMValueRef tap0 = mulc(cg, add(cg, mulc(cg, kd, w.kernel[1]), kh), w.kernel[2]);
	for (int64_t kw = 0; kw < w.kernel[2]; kw++) {
		int64_t off = kw * w.dilation[2] - w.pad_lo[2], lo, hi, sw = w.stride[2];
		valid_range(w.in[2], sw, off, w.out[2], &lo, &hi);
		if (hi <= lo)
			continue;
		LLVMValueRef wv = cg_load(cg, cg->t_f32, wc, add(cg, tap0, cg_i64(cg, kw)));
		/* y[yrow + t*sw + off] += wv * x[t] for t in [lo, hi) */
		LLVMValueRef yb = cg_gep(cg, cg->t_f32, yp, add(cg, yrow, cg_i64(cg, lo * sw + off)));
		LLVMValueRef xb = cg_gep(cg, cg->t_f32, xr, cg_i64(cg, lo));
		int64_t len = hi - lo, vl = sw == 1 ? len / vlen * vlen : 0;
		Loop tl;
		if (vl > 0) {
			LLVMValueRef wvv = cg_splat(cg, wv, vlen);
			LLVMValueRef t = cg_for(cg, &tl, cg_i64(cg, 0), cg_i64(cg, vl), vlen, "t");
			LLVMValueRef cur = cg_load(cg, vt, yb, t);
			cg_store(cg, vk_fmuladd(cg, wvv, cg_load(cg, vt, xb, t), cur), yb, t);
			cg_for_end(cg, &tl);
		}
		if (vl < len) {
			LLVMValueRef t = cg_for(cg, &tl, cg_i64(cg, vl), cg_i64(cg, len), 1, "t");
			LLVMValueRef yo = mulc(cg, t, sw);
			LLVMValueRef cur = cg_load(cg, cg->t_f32, yb, yo);
			cg_store(cg, vk_fmuladd(cg, wv, cg_load(cg, cg->t_f32, xb, t), cur), yb, yo);
			cg_for_end(cg, &tl);
		}
	}
	cg_if_end(cg, &ib);
	cg_for_end(cg, &ihl);
	cg_for_end(cg, &idl);
	cg_for_end(cg, &hl);
	cg_for_end(cg, &dl);
	cg_for_end(cg, &cl);
	if (y->dtype != DT_F32 && y->dtype != DT_F64) {
		/* the sums are complete: round them to the output's dtype (f16, bf16) */
		o = cg_for(cg, &fl, cg_i64(cg, 0), cg_i64(cg, osz), 1, "o");
		cg_store(cg, cg_round_dtype(cg, y->dtype, cg_load(cg, cg->t_f32, yp, o)), yp, o);
		cg_for_end(cg, &fl);
	}
	cg_for_end(cg, &il);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = nimg * m;
	code->n_tasks = 1;
	return 0;
}
