/* Normalisation: BatchNormalization (inference), LayerNormalization (with its optional Mean and
 * InvStdDev outputs) and InstanceNormalization.
 *
 * BatchNormalization is y = x * a[c] + b[c]. With constant parameters (the usual case, when the
 * fold-bn pass had no Conv to fold it into) a and b are computed at compile time, in double as
 * the interpreter does, and become two small tables; otherwise each parallel iteration computes
 * its channel's a and b the same way. One iteration per (image, channel) plane, vectorised along
 * the plane; when the planes are single elements ([N, C] input) one iteration per image,
 * vectorised along C.
 *
 * LayerNormalization and InstanceNormalization: one iteration per normalised row (a contiguous
 * run: the trailing dims from `axis`, or one plane). Three passes over the row: the mean, the
 * centred sum of squares (two passes, like the interpreter, so that a large mean does not eat
 * the variance), and the output. Statistics accumulate in float vectors. LayerNorm's scale and
 * bias are expanded to the normalised shape at compile time when constant. */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Optional input i, or NULL when omitted or empty (the rule of infer_nn.c and the kernels). */
static const Value *opt_in(const Node *n, int i)
{
	if (i >= n->n_in || n->in[i] == NULL || shape_numel(&n->in[i]->shape) == 0)
		return NULL;
	return n->in[i];
}

/* mean and 1/sqrt(var + eps) of the run ptr[base .. base+len), len > 0 */
typedef struct SqMap { LLVMValueRef mu; } SqMap;

static LLVMValueRef centred_square(Cg *cg, LLVMValueRef v, void *ctx)
{
	SqMap *m = ctx;
	LLVMTypeRef t = LLVMTypeOf(v);
	LLVMValueRef mu = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? cg_splat(cg, m->mu, (int)LLVMGetVectorSize(t)) : m->mu;
	LLVMValueRef c = LLVMBuildFSub(cg->b, v, mu, "");
	return LLVMBuildFMul(cg->b, c, c, "");
}

static void moments(Cg *cg, LLVMValueRef ptr, LLVMValueRef base, int64_t len, float eps, LLVMValueRef *mean,
		    LLVMValueRef *inv_std)
{
	LLVMBuilderRef B = cg->b;
	CgRowAcc s = {.op = CG_ADD, .et = cg->t_f32, .at = cg->t_f32, .lanes = cg->vlen, .unroll = 4};
	cg_row_init(cg, &s, cg_f32(cg, 0.0f));
	cg_row_run(cg, &s, ptr, base, len);
	LLVMValueRef mu = LLVMBuildFDiv(B, cg_row_result(cg, &s), cg_f32(cg, (float)len), "");
	SqMap sm = {mu};
	CgRowAcc q = {.op = CG_ADD, .et = cg->t_f32, .at = cg->t_f32, .lanes = cg->vlen, .unroll = 4,
		      .map = centred_square, .map_ctx = &sm};
	cg_row_init(cg, &q, cg_f32(cg, 0.0f));
	cg_row_run(cg, &q, ptr, base, len);
	LLVMValueRef var = LLVMBuildFDiv(B, cg_row_result(cg, &q), cg_f32(cg, (float)len), "");
	LLVMValueRef sd = LLVMBuildFAdd(B, var, cg_f32(cg, eps), "");
	sd = cg_intrinsic(cg, "llvm.sqrt", cg->t_f32, &sd, 1);
	*mean = mu;
	*inv_std = LLVMBuildFDiv(B, cg_f32(cg, 1.0f), sd, "");
}

/* A per-element parameter of a row: a table (or a tensor) indexed like the row, one value for the
 * whole row, or absent. */
typedef struct Param {
	LLVMValueRef ptr;   /* NULL: absent (the value `none`) */
	bool uniform;       /* ptr[0] everywhere */
	float none;
} Param;

static LLVMValueRef param_at(Cg *cg, const Param *p, LLVMValueRef j, int lanes)
{
	LLVMTypeRef t = lanes > 1 ? cg_vec(cg, cg->t_f32, lanes) : cg->t_f32;
	if (p->ptr == NULL)
		return cg_constf(cg, t, p->none);
	if (p->uniform) {
		LLVMValueRef v = cg_load(cg, cg->t_f32, p->ptr, cg_i64(cg, 0));
		return lanes > 1 ? cg_splat(cg, v, lanes) : v;
	}
	return cg_load(cg, t, p->ptr, j);
}

/* Over [from, to) of a row at base: y = f(x, j) for vectors then scalars. */
typedef LLVMValueRef (*RowFn)(Cg *cg, LLVMValueRef x, LLVMValueRef j, int lanes, void *ctx);

static void map_row(Cg *cg, LLVMValueRef px, LLVMValueRef py, DType ydt, LLVMValueRef base, int64_t len, RowFn f,
		    void *ctx)
{
	LLVMBuilderRef B = cg->b;
	int lanes = cg->vlen;
	int64_t nvec = len / lanes * lanes;
	for (int pass = 0; pass < 2; pass++) {
		int ln = pass == 0 ? lanes : 1;
		int64_t from = pass == 0 ? 0 : nvec, to = pass == 0 ? nvec : len;
		if (from >= to)
			continue;
		LLVMTypeRef t = ln > 1 ? cg_vec(cg, cg->t_f32, ln) : cg->t_f32;
		Loop l;
		LLVMValueRef j = cg_for(cg, &l, cg_i64(cg, from), cg_i64(cg, to), ln, "j");
		LLVMValueRef at = LLVMBuildAdd(B, base, j, "");
		cg_store(cg, cg_round_dtype(cg, ydt, f(cg, cg_load(cg, t, px, at), j, ln, ctx)), py, at);
		cg_for_end(cg, &l);
	}
}

static LLVMValueRef splat_if(Cg *cg, LLVMValueRef v, int lanes) { return lanes > 1 ? cg_splat(cg, v, lanes) : v; }

/* ---------------------------------------------------------------- BatchNormalization */

typedef struct AffineCtx { LLVMValueRef a, b; Param pa, pb; bool per_elem; } AffineCtx;

static LLVMValueRef affine(Cg *cg, LLVMValueRef x, LLVMValueRef j, int lanes, void *ctx)
{
	AffineCtx *c = ctx;
	LLVMValueRef a = c->per_elem ? param_at(cg, &c->pa, j, lanes) : splat_if(cg, c->a, lanes);
	LLVMValueRef b = c->per_elem ? param_at(cg, &c->pb, j, lanes) : splat_if(cg, c->b, lanes);
	return LLVMBuildFAdd(cg->b, LLVMBuildFMul(cg->b, x, a, ""), b, "");
}

/* a = scale / sqrt(var + eps), b = bias - mean * a, in double, rounded to float */
static void bn_coeffs_ir(Cg *cg, const Node *n, LLVMValueRef c, LLVMValueRef *a, LLVMValueRef *b)
{
	LLVMBuilderRef B = cg->b;
	LLVMValueRef p[5];
	for (int i = 1; i < 5; i++)
		p[i] = LLVMBuildFPExt(B, cg_load(cg, cg->t_f32, cg_ptr(cg, n->in[i]), c), cg->t_f64, "");
	LLVMValueRef sd = LLVMBuildFAdd(B, p[4], LLVMConstReal(cg->t_f64, (double)n->attr.batch_norm.epsilon), "");
	sd = cg_intrinsic(cg, "llvm.sqrt", cg->t_f64, &sd, 1);
	LLVMValueRef ad = LLVMBuildFDiv(B, p[1], sd, "");
	*a = LLVMBuildFPTrunc(B, ad, cg->t_f32, "");
	*b = LLVMBuildFPTrunc(B, LLVMBuildFSub(B, p[2], LLVMBuildFMul(B, p[3], ad, ""), ""), cg->t_f32, "");
}

int emit_batch_norm(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (n->attr.batch_norm.training_mode != 0)
		return node_error(cg->d, n, "training_mode=1 is not supported");
	if (!dtype_is_float(x->dtype) || x->shape.rank < 2)
		return node_error(cg->d, n, "input must be a floating-point tensor of rank >= 2");
	int64_t nimg = x->shape.dim[0], c = x->shape.dim[1], numel = shape_numel(&x->shape);
	for (int i = 1; i < 5; i++)
		if (shape_numel(&n->in[i]->shape) != c || !dtype_is_float(n->in[i]->dtype))
			return node_error(cg->d, n, "input %d must hold %lld floats", i, (long long)c);
	code->n_tasks = 0;
	if (numel == 0)
		return 0;
	int64_t size = numel / (nimg * c);
	bool konst = true;
	for (int i = 1; i < 5; i++)
		konst &= n->in[i]->data != NULL;
	LLVMValueRef ta = NULL, tb = NULL;
	if (konst) {
		float *ab = malloc((size_t)c * 2 * sizeof *ab);
		if (ab == NULL)
			return diag_error(cg->d, "out of memory");
		const float *sc = n->in[1]->data, *bi = n->in[2]->data, *mu = n->in[3]->data, *var = n->in[4]->data;
		double eps = n->attr.batch_norm.epsilon;
		for (int64_t k = 0; k < c; k++) {
			double a = (double)sc[k] / sqrt((double)var[k] + eps);
			ab[k] = (float)a;
			ab[c + k] = (float)((double)bi[k] - (double)mu[k] * a);
		}
		ta = cg_table_f32(cg, ab, c, "bn_a");
		tb = cg_table_f32(cg, ab + c, c, "bn_b");
		free(ab);
	}
	LLVMBuilderRef B = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, "BatchNormalization");
	LLVMValueRef px = cg_ptr(cg, x), py = cg_ptr(cg, y);
	Loop l;
	LLVMValueRef it = cg_for(cg, &l, cg->begin, cg->end, 1, "it");
	AffineCtx ac = {0};
	int64_t iterations;
	if (size == 1 && konst) {
		/* [N, C]: a row of C per image, the tables read as vectors */
		ac.per_elem = true;
		ac.pa = (Param){ta, false, 0};
		ac.pb = (Param){tb, false, 0};
		map_row(cg, px, py, y->dtype, LLVMBuildMul(B, it, cg_i64(cg, c), ""), c, affine, &ac);
		iterations = nimg;
	} else {
		LLVMValueRef ch = LLVMBuildURem(B, it, cg_i64(cg, c), "");
		if (konst) {
			ac.a = cg_load(cg, cg->t_f32, ta, ch);
			ac.b = cg_load(cg, cg->t_f32, tb, ch);
		} else {
			bn_coeffs_ir(cg, n, ch, &ac.a, &ac.b);
		}
		map_row(cg, px, py, y->dtype, LLVMBuildMul(B, it, cg_i64(cg, size), ""), size, affine, &ac);
		iterations = nimg * c;
	}
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = iterations;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- InstanceNormalization */

typedef struct CentreCtx { LLVMValueRef mu, a, b; Param sc, bi; } CentreCtx;

/* (x - mu) * a + b: InstanceNorm's per-plane affine after centring */
static LLVMValueRef centre_affine(Cg *cg, LLVMValueRef x, LLVMValueRef j, int lanes, void *ctx)
{
	(void)j;
	CentreCtx *c = ctx;
	LLVMBuilderRef B = cg->b;
	LLVMValueRef v = LLVMBuildFSub(B, x, splat_if(cg, c->mu, lanes), "");
	return LLVMBuildFAdd(B, LLVMBuildFMul(B, v, splat_if(cg, c->a, lanes), ""), splat_if(cg, c->b, lanes), "");
}

int emit_instance_norm(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0];
	if (!dtype_is_float(x->dtype) || x->shape.rank < 3)
		return node_error(cg->d, n, "input must be a floating-point tensor of rank >= 3");
	int64_t c = x->shape.dim[1], planes = x->shape.dim[0] * c, numel = shape_numel(&x->shape);
	for (int i = 1; i < 3; i++)
		if (shape_numel(&n->in[i]->shape) != c || !dtype_is_float(n->in[i]->dtype))
			return node_error(cg->d, n, "input %d must hold %lld floats", i, (long long)c);
	code->n_tasks = 0;
	if (numel == 0)
		return 0;
	int64_t size = numel / planes;
	LLVMBuilderRef B = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, "InstanceNormalization");
	LLVMValueRef px = cg_ptr(cg, x), py = cg_ptr(cg, y);
	LLVMValueRef psc = cg_ptr(cg, n->in[1]), pbi = cg_ptr(cg, n->in[2]);
	Loop l;
	LLVMValueRef q = cg_for(cg, &l, cg->begin, cg->end, 1, "plane");
	LLVMValueRef base = LLVMBuildMul(B, q, cg_i64(cg, size), "");
	LLVMValueRef ch = LLVMBuildURem(B, q, cg_i64(cg, c), "");
	CentreCtx cc = {0};
	LLVMValueRef inv;
	moments(cg, px, base, size, n->attr.instance_norm.epsilon, &cc.mu, &inv);
	cc.a = LLVMBuildFMul(B, inv, cg_load(cg, cg->t_f32, psc, ch), "");
	cc.b = cg_load(cg, cg->t_f32, pbi, ch);
	map_row(cg, px, py, y->dtype, base, size, centre_affine, &cc);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = planes;
	code->n_tasks = 1;
	return 0;
}

/* ---------------------------------------------------------------- LayerNormalization */

/* The interpreter's expand_param: p, broadcast (right-aligned) to the normalised shape, as
 * `inner` values. */
static void expand_param(const Value *p, const Shape *norm, int64_t inner, float *dst)
{
	const float *src = p->data;
	int r = norm->rank, pr = p->shape.rank;
	if (shape_numel(&p->shape) == inner) {
		memcpy(dst, src, (size_t)inner * sizeof *dst);
		return;
	}
	for (int64_t j = 0; j < inner; j++) {
		int64_t rem = j, off = 0, stride = 1;
		for (int k = r - 1, pk = pr - 1; k >= 0; k--, pk--) {
			int64_t idx = rem % norm->dim[k];
			rem /= norm->dim[k];
			if (pk < 0)
				continue;
			if (p->shape.dim[pk] != 1)
				off += idx * stride;
			stride *= p->shape.dim[pk];
		}
		dst[j] = src[off];
	}
}

/* p as a Param over the normalised row; 1 when it needs a run-time broadcast this emitter does
 * not do (a non-constant parameter of another shape than the row or a scalar) */
static int layer_param(Cg *cg, const Value *p, const Shape *norm, int64_t inner, float none, const char *what,
		       Param *out, LLVMValueRef *table)
{
	*out = (Param){NULL, false, none};
	*table = NULL;
	if (p == NULL)
		return 0;
	int64_t pn = shape_numel(&p->shape);
	if (p->data) {
		float *v = malloc((size_t)inner * sizeof *v);
		if (v == NULL)
			return diag_error(cg->d, "out of memory");
		expand_param(p, norm, inner, v);
		*table = cg_table_f32(cg, v, inner, what);
		free(v);
		return 0;
	}
	if (pn == inner || pn == 1) {
		out->uniform = pn == 1 && inner != 1;
		return 0;
	}
	return 1;
}

typedef struct LayerCtx { LLVMValueRef mu, inv; Param sc, bi; } LayerCtx;

/* ((x - mu) * inv) * scale[j] + bias[j] */
static LLVMValueRef layer_out(Cg *cg, LLVMValueRef x, LLVMValueRef j, int lanes, void *ctx)
{
	LayerCtx *c = ctx;
	LLVMBuilderRef B = cg->b;
	LLVMValueRef v = LLVMBuildFMul(B, LLVMBuildFSub(B, x, splat_if(cg, c->mu, lanes), ""), splat_if(cg, c->inv, lanes), "");
	v = LLVMBuildFMul(B, v, param_at(cg, &c->sc, j, lanes), "");
	return LLVMBuildFAdd(B, v, param_at(cg, &c->bi, j, lanes), "");
}

int emit_layer_norm(Cg *cg, const Node *n, NodeCode *code)
{
	const Value *x = n->in[0], *y = n->out[0], *scale = n->in[1], *bias = opt_in(n, 2);
	const Value *mean_out = n->n_out > 1 ? n->out[1] : NULL, *inv_out = n->n_out > 2 ? n->out[2] : NULL;
	int rank = x->shape.rank, axis;
	Diag tmp = {0};
	if (shape_axis(n->attr.layer_norm.axis, rank, &axis, &tmp) < 0)
		return node_error(cg->d, n, "%s", tmp.msg);
	if (!dtype_is_float(x->dtype))
		return node_error(cg->d, n, "input must be floating-point, not %s", dtype_name(x->dtype));
	Shape norm = shape_make(rank - axis, x->shape.dim + axis);
	int64_t inner = shape_numel(&norm), numel = shape_numel(&x->shape);
	code->n_tasks = 0;
	if (inner == 0 || numel == 0)
		return 0; /* nothing to normalise; NOTE: with inner == 0 but outer > 0 the interpreter's Mean
			   * and InvStdDev are zero-filled, here they are left unwritten */
	int64_t outer = numel / inner;
	Param psc, pbi;
	LLVMValueRef tsc, tbi;
	int rs = layer_param(cg, scale, &norm, inner, 1.0f, "ln_scale", &psc, &tsc);
	int rb = rs < 0 ? -1 : layer_param(cg, bias, &norm, inner, 0.0f, "ln_bias", &pbi, &tbi);
	if (rs < 0 || rb < 0)
		return -1;
	if (rs > 0 || rb > 0)
		return node_error(cg->d, n, "the cpu target needs a constant scale and bias, or ones of the normalised "
				  "shape, not a run-time broadcast");
	LLVMBuilderRef B = cg->b;
	LLVMValueRef fn = cg_task_begin(cg, "LayerNormalization");
	LLVMValueRef px = cg_ptr(cg, x), py = cg_ptr(cg, y);
	psc.ptr = tsc ? tsc : cg_ptr(cg, scale);
	if (bias)
		pbi.ptr = tbi ? tbi : cg_ptr(cg, bias);
	Loop l;
	LLVMValueRef o = cg_for(cg, &l, cg->begin, cg->end, 1, "row");
	LLVMValueRef base = LLVMBuildMul(B, o, cg_i64(cg, inner), "");
	LayerCtx lc = {.sc = psc, .bi = pbi};
	moments(cg, px, base, inner, n->attr.layer_norm.epsilon, &lc.mu, &lc.inv);
	map_row(cg, px, py, y->dtype, base, inner, layer_out, &lc);
	if (mean_out)
		cg_store(cg, cg_round_dtype(cg, mean_out->dtype, lc.mu), cg_ptr(cg, mean_out), o);
	if (inv_out)
		cg_store(cg, cg_round_dtype(cg, inv_out->dtype, lc.inv), cg_ptr(cg, inv_out), o);
	cg_for_end(cg, &l);
	cg_task_end(cg);
	code->task[0] = fn;
	code->iterations[0] = outer;
	code->n_tasks = 1;
	return 0;
}
