/* Sparse weight rows times a dense matrix, straight from the packed form (struct SparseData in
 * nnzc/ir.h): the one primitive Conv (over im2col columns) and Gemm/MatMul use when their weight
 * is encoded, one loop per encoding. Written to be obviously right rather than fast — every
 * index the kernels read is an index the pack stores, so a packing bug shows up as a wrong
 * output of the interpreter, which is the point (issue 5 makes them fast).
 *
 * Every stored slot is multiplied, padding included (its value is 0), exactly as hardware
 * running the pattern would; positions past the matrix edge (a partial nm group, a bsr block
 * over the border) are never read. Packed columns are view columns (for a Conv tap-major,
 * channel-minor): weight_view_reduction maps each to the row of x it multiplies, so x stays
 * in the op's own reduction order (Conv's im2col rows, channel-major). */
#include "nn.h"

/* y[j*ycs] += w * x[j*xcs] for j in [0, n) */
static NN_HOT void axpy(int64_t n, float w, const float *restrict x, int64_t xcs, float *restrict y, int64_t ycs)
{
	if (xcs == 1 && ycs == 1) {
		for (int64_t j = 0; j < n; j++)
			y[j] += w * x[j];
		return;
	}
	for (int64_t j = 0; j < n; j++)
		y[j * ycs] += w * x[j * xcs];
}

typedef struct Rows {
	const WeightView *view; /* the pack's: maps its columns to rows of x */
	int64_t r0, r1;   /* weight rows [r0, r1) */
	int64_t n;        /* columns of x and y */
	float alpha;
	MatRef x;         /* x(k, j) = x.p[k*x.rs + j*x.cs], k in the op's reduction order */
	float *y;         /* y(r - r0, j) = y[(r - r0)*yrs + j*ycs] */
	int64_t yrs, ycs;
} Rows;

/* the weight element at (r, c) of the view times the row of x that view column c multiplies
 * (for a Conv the im2col row of its channel and tap), into row r of y */
static inline void madd(const Rows *k, int64_t r, int64_t c, float w)
{
	const float *xr = k->x.p + weight_view_reduction(k->view, c) * k->x.rs;
	axpy(k->n, k->alpha * w, xr, k->x.cs, k->y + (r - k->r0) * k->yrs, k->ycs);
}

static void csr_rows(const SparseData *s, const Rows *k)
{
	for (int64_t r = k->r0; r < k->r1; r++)
		for (int64_t i = s->u.csr.row_ptr[r]; i < s->u.csr.row_ptr[r + 1]; i++)
			madd(k, r, s->u.csr.col[i], s->u.csr.val[i]);
}

static void bsr_rows(const SparseData *s, const Rows *k)
{
	int64_t br = s->enc.u.bsr.r, bc = s->enc.u.bsr.c;
	for (int64_t bi = k->r0 / br; bi * br < k->r1; bi++)
		for (int64_t i = s->u.bsr.row_ptr[bi]; i < s->u.bsr.row_ptr[bi + 1]; i++) {
			const float *blk = s->u.bsr.val + i * br * bc;
			int64_t c0 = (int64_t)s->u.bsr.col[i] * bc;
			for (int64_t y = 0; y < br; y++) {
				int64_t r = bi * br + y;
				if (r < k->r0 || r >= k->r1)
					continue;
				for (int64_t x = 0; x < bc && c0 + x < s->view.cols; x++)
					madd(k, r, c0 + x, blk[y * bc + x]);
			}
		}
}

static void nm_rows(const SparseData *s, const Rows *k)
{
	int64_t n = s->enc.u.nm.n, m = s->enc.u.nm.m, groups = s->u.nm.groups;
	for (int64_t r = k->r0; r < k->r1; r++)
		for (int64_t g = 0; g < groups; g++) {
			const uint8_t *off = s->u.nm.off + (r * groups + g) * n;
			const float *val = s->u.nm.val + (r * groups + g) * n;
			for (int64_t j = 0; j < n; j++)
				if (g * m + off[j] < s->view.cols)
					madd(k, r, g * m + off[j], val[j]);
		}
}

static void gs_rows(const SparseData *s, const Rows *k)
{
	int64_t v = s->enc.u.gs.v;
	for (int64_t g = k->r0 / v; g < s->u.gs.ngroups && g * v < k->r1; g++) {
		int64_t lanes = s->view.rows - g * v < v ? s->view.rows - g * v : v;
		/* step by step, all lanes of a step together: the order the gather engine runs */
		for (int64_t i = s->u.gs.ptr[g]; i < s->u.gs.ptr[g + 1]; i++) {
			int64_t r = g * v + (i - s->u.gs.ptr[g]) % lanes;
			if (r >= k->r0 && r < k->r1)
				madd(k, r, s->u.gs.col[i], s->u.gs.val[i]);
		}
	}
}

static void rows_of(const SparseData *s, const Rows *k)
{
	switch (s->enc.kind) {
	case ENC_CSR: csr_rows(s, k); break;
	case ENC_BSR: bsr_rows(s, k); break;
	case ENC_NM: nm_rows(s, k); break;
	case ENC_GS: gs_rows(s, k); break;
	case ENC_TASD:
		/* the series: each term's product added in turn (distributivity) */
		for (int t = 0; t < s->u.tasd.nterms; t++)
			rows_of(s->u.tasd.term[t], k);
		break;
	case ENC_DENSE: break;
	}
}

void sparse_rows(const SparseData *s, int64_t r0, int64_t nrows, int64_t n, float alpha, MatRef x, float *y,
		 int64_t yrs, int64_t ycs)
{
	Rows k = {&s->view, r0, r0 + nrows, n, alpha, x, y, yrs, ycs};
	rows_of(s, &k);
}

int sparse_check_view(const Node *n, const SparseData *s, int64_t rows, int64_t cols, Diag *d)
{
	WeightView v;
	if (!weight_view(n, 1, &v) || !weight_view_equal(&v, &s->view))
		return node_error(d, n, "the packed weight was encoded for another matrix view than this node's");
	if (v.rows != rows || v.cols != cols)
		return node_error(d, n, "the packed weight is %lld x %lld, the operands need %lld x %lld",
				  (long long)v.rows, (long long)v.cols, (long long)rows, (long long)cols);
	return 0;
}
