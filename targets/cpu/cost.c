/* The cost model that chooses a kernel per weight product (sparse.h).
 *
 * Placeholder constants until host calibration lands: a dense multiply-add vector lane costs
 * 1/DENSE_MACS seconds, a sparse one (a non-zero times one column) 1/SPARSE_MACS; the sparse
 * kernels also pay per output element (epilogue, store) and, over an im2col input, per
 * expanded element. */
#include "sparse.h"

const char *const cpu_kernel_kind_name[CK_COUNT] = {
	[CK_DENSE] = "dense",
	[CK_SPARSE_ROWS] = "sparse-rows",
	[CK_SPARSE_BLOCKS] = "sparse-blocks",
	[CK_SPARSE_LANES] = "sparse-lanes",
};

#define DENSE_MACS 90e9
#define SPARSE_MACS 35e9
#define OUTPUT_ELEMS 4e9
#define IM2COL_ELEMS 4e9

double cpu_cost_seconds(const Cg *cg, CpuKernelKind kind, const ProductShape *p)
{
	(void)cg;
	double m = (double)p->m, n = (double)p->n, k = (double)p->k, batch = (double)p->batch;
	double im2col = p->im2col ? batch * k * n / IM2COL_ELEMS : 0.0;
	switch (kind) {
	case CK_DENSE:
		return batch * m * n * k / DENSE_MACS + im2col;
	case CK_SPARSE_ROWS:
		return batch * ((double)p->nnz * n / SPARSE_MACS + m * n / OUTPUT_ELEMS) + im2col;
	default:
		return -1.0;
	}
}

void cpu_note_choice(Cg *cg, const Node *n, CpuKernelKind kind, double predicted_s, double dense_s)
{
	int k = cg->node_index;
	(void)n;
	cg->choice[k] = (CpuChoice){.set = true, .kind = (int)kind, .predicted_s = predicted_s, .dense_s = dense_s};
}
