/* The compile-time table of a sparse product's weights (spmm.h): which row groups each chunk
 * runs, and per block, k-block and group the entries the task streams — offsets into B or the
 * padded panel, with the values. Its layout and why are in spmm.c's file comment. */
#include "spmm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A run of consecutive groups per chunk is kept when its heaviest chunk is within this fraction
 * of the balanced assignment's (contiguous_chunks). */
#define SP_RUN_SLACK 0.03

/* Padded: the panel offset of weight column col = (channel, tap (th, tw)): its phase plane, the
 * tap's row in it, and its column (or, aligned, the copy shifted by it). */
static int64_t padded_offset(const SpPlan *p, int64_t col)
{
	int64_t ch = col / p->ksz, th = col % p->ksz / p->kw, tw = col % p->kw;
	int64_t plane = ch * p->nph + th % p->sh * p->phw + tw % p->sw;
	int64_t at = plane * p->cs + th / p->sh * p->wp;
	return p->ncopy > 1 ? at + tw / p->sw * p->copy_stride : at + tw / p->sw;
}

/* The B (or panel) offset an entry of weight column col holds. */
static int32_t entry_offset(const SpPlan *p, int64_t col, int64_t k_stride)
{
	return (int32_t)(p->padded ? padded_offset(p, col) : col * k_stride);
}

/* Rows and blocks: per block, chunk and k-block, the entries of the chunk's groups in chunk order
 * (offset, then the values of the group's r rows, which share their columns); bounds in entries,
 * a start and an end per (block, k-block, group in chunk order). A chunk's entries of one k-block
 * are thus one run of memory, which every micro-tile column of the k-block reads from start to
 * end: the prefetches ahead of the entry in use and the hardware's stream prefetchers fetch what
 * the next groups read next, where group-major runs (a group's k-blocks one after the other) put
 * the group's later k-blocks there, and each group's run of the k-block began with misses. The
 * bounds of a chunk's k-block are one run too: ordered by group and then k-block (as they once
 * were), the groups of one pass lay nkb bound records apart, each a cache line of its own that
 * the first pass missed
 * (2 threads, 4 interleaved pairs each, by hand: ResNet-50 90% -3 to -6%, 2:4 -2%, MobileNetV2
 * 80% unchanged; a chain of 48 2:4 1x1 layers on 14x14, whose tables exceed L3, -2.5 to -3%).
 * Returns the words of the table used, -1 when out of memory. */
static int64_t row_entries(const SpPlan *p, const GemmSpec *s, const SpRows *a, int32_t *t, int64_t k_stride)
{
	int r = p->r;
	int64_t *cur = calloc((size_t)p->ngroups + 1, sizeof *cur); /* each group's next non-zero */
	if (cur == NULL)
		return -1;
	int64_t e = 0;
	for (int64_t q = 0; q < p->nblk; q++) {
		for (int64_t g = 0; g < p->ngroups; g++)
			cur[g] = a->row_ptr[q * s->m + g * r];
		for (int64_t c = 0; c < p->nchunks; c++)
			for (int64_t kb = 0; kb < p->nkb; kb++) {
				int64_t c1 = (kb + 1) * p->kc;
				for (int64_t gi = t[c]; gi < t[c + 1]; gi++) {
					int64_t g = t[p->t_perm + gi];
					int64_t row = q * s->m + g * r;
					int32_t *bd = t + p->t_bounds + ((q * p->nkb + kb) * p->ngroups + gi) * 2;
					bd[0] = (int32_t)e;
					for (; cur[g] < a->row_ptr[row + 1] && (kb + 1 == p->nkb || a->col[cur[g]] < c1); cur[g]++) {
						int64_t i = cur[g];
						int32_t *w = t + p->t_ents + e * (1 + r);
						w[0] = entry_offset(p, a->col[i], k_stride);
						for (int j = 0; j < r; j++) {
							/* row + j has the same columns: its i-th entry is this column's */
							float v = a->val[a->row_ptr[row + j] + (i - a->row_ptr[row])];
							memcpy(&w[1 + j], &v, sizeof v);
						}
						e++;
					}
					bd[1] = (int32_t)e;
				}
			}
	}
	free(cur);
	return p->t_ents + e * (1 + r);
}

/* Patterns: per block, chunk and k-block, the entries of the chunk's groups in chunk order (as
 * row_entries, and why), each group's pattern by pattern (pattern P: the columns where exactly
 * the rows of bit set P have non-zeros, ascending), each entry the B offset then the values of
 * P's rows in row order; the bounds are word offsets from t_ents, npat + 1 per (block, k-block,
 * group in chunk order): where each pattern starts, and where the last ends. Returns the words
 * of the table used, -1 when out of memory. */
static int64_t pattern_entries(const SpPlan *p, const GemmSpec *s, const SpRows *a, int32_t *t, int64_t k_stride)
{
	int r = p->r;
	int64_t cols = a->cols > 0 ? a->cols : 1;
	unsigned char *mask = calloc((size_t)cols, 1);
	float *vals = calloc((size_t)cols * (size_t)r, sizeof *vals);
	int64_t *cur = calloc((size_t)p->ngroups * (size_t)r + 1, sizeof *cur); /* each row's next non-zero */
	if (mask == NULL || vals == NULL || cur == NULL) {
		free(mask);
		free(vals);
		free(cur);
		return -1;
	}
	int64_t w = 0;
	for (int64_t q = 0; q < p->nblk; q++) {
		for (int64_t g = 0; g < p->ngroups; g++)
			for (int j = 0; j < r; j++)
				cur[g * r + j] = a->row_ptr[q * s->m + g * r + j];
		for (int64_t c = 0; c < p->nchunks; c++)
			for (int64_t kb = 0; kb < p->nkb; kb++) {
				int64_t c0 = kb * p->kc, c1 = (kb + 1) * p->kc < s->k ? (kb + 1) * p->kc : s->k;
				for (int64_t gi = t[c]; gi < t[c + 1]; gi++) {
					int64_t g = t[p->t_perm + gi];
					int64_t row = q * s->m + g * r;
					for (int j = 0; j < r; j++)
						for (int64_t *i = &cur[g * r + j]; *i < a->row_ptr[row + j + 1] && a->col[*i] < c1; (*i)++) {
							mask[a->col[*i]] |= (unsigned char)(1u << j);
							vals[(int64_t)a->col[*i] * r + j] = a->val[*i];
						}
					int32_t *bd = t + p->t_bounds + ((q * p->nkb + kb) * p->ngroups + gi) * (p->npat + 1);
					for (int pt = 1; pt <= p->npat; pt++) {
						bd[pt - 1] = (int32_t)w;
						for (int64_t col = c0; col < c1; col++) {
							if (mask[col] != pt)
								continue;
							int32_t *e = t + p->t_ents + w;
							e[0] = entry_offset(p, col, k_stride);
							int n = 1;
							for (int j = 0; j < r; j++)
								if ((pt >> j) & 1)
									memcpy(&e[n++], &vals[col * r + j], sizeof(float));
							w += n;
						}
					}
					bd[p->npat] = (int32_t)w;
					memset(mask + c0, 0, (size_t)(c1 - c0));
				}
			}
	}
	free(mask);
	free(vals);
	free(cur);
	return p->t_ents + w;
}

/* Chunks as runs of consecutive groups, cut where the running work crosses c / nchunks of the
 * total, replace the balanced assignment in owner[] (load[]: its chunks' work) unless their
 * heaviest chunk is SP_RUN_SLACK heavier than its. A thread (chunk-major iterations are split
 * between the threads chunk by chunk) then writes one range of output channels, the range the next layer's thread
 * reads where that layer works channel by channel: a depthwise convolution, a residual added in
 * an epilogue. With the balanced assignment's scattered groups half of that read was the other
 * core's. MobileNetV2 80%, 2 threads, by hand: its strided depthwise layers after the
 * expansions 7-12% faster (with split_tiles, the sum of the layers 1.4-1.8% lower in two
 * rounds, whole-network pairs 0.985, 1.004, 0.985); ResNet-50 2:4 no layer over 5% either way. */
static void contiguous_chunks(const SpPlan *p, const int64_t *work, const int64_t *load, int64_t *owner)
{
	int64_t total = 0, most = 0;
	for (int64_t g = 0; g < p->ngroups; g++)
		total += work[g];
	for (int64_t c = 0; c < p->nchunks; c++)
		most = load[c] > most ? load[c] : most;
	int64_t *run = calloc((size_t)p->ngroups, sizeof *run);
	if (run == NULL)
		return; /* the balanced chunks stay */
	int64_t c = 0, sum = 0, cur = 0, heaviest = 0;
	for (int64_t g = 0; g < p->ngroups; g++) {
		/* close chunk c before g when that leaves the cut nearer to its share */
		double cut = (double)total * (double)(c + 1) / (double)p->nchunks;
		if (c + 1 < p->nchunks && cur > 0 && fabs((double)sum - cut) <= fabs((double)(sum + work[g]) - cut)) {
			heaviest = cur > heaviest ? cur : heaviest;
			c++;
			cur = 0;
		}
		run[g] = c;
		sum += work[g];
		cur += work[g];
	}
	heaviest = cur > heaviest ? cur : heaviest;
	if ((double)heaviest <= (1.0 + SP_RUN_SLACK) * (double)most)
		memcpy(owner, run, (size_t)p->ngroups * sizeof *owner);
	free(run);
}

/* The int32 table (see the file comment), or NULL when out of memory or too large. */
int32_t *spmm_build_table(const SpPlan *p, const GemmSpec *s, const SpRows *a, size_t *bytes)
{
	int r = p->r;
	int64_t k_stride = s->b_kind == GB_DIRECT && !p->packed ? s->b_ks : p->panel_ld;
	if (s->k > 0 &&
	    (p->padded ? (s->k / p->ksz + 1) * p->cs * p->nph + p->ncopy * p->copy_stride : (s->k - 1) * k_stride) > INT32_MAX)
		return NULL;
	/* patterns: at most one offset per non-zero, plus the values */
	int64_t ents = p->pat ? a->nnz : a->nnz / r, words = p->t_ents + (p->pat ? 2 * ents : ents * (1 + r));
	if (words > INT32_MAX)
		return NULL;
	int32_t *t = calloc((size_t)words + 1, sizeof *t);
	int64_t *work = calloc((size_t)p->ngroups + 1, sizeof *work);
	int64_t *load = calloc((size_t)p->nchunks, sizeof *load);
	int64_t *owner = calloc((size_t)p->ngroups + 1, sizeof *owner);
	if (t == NULL || work == NULL || load == NULL || owner == NULL) {
		free(t);
		free(work);
		free(load);
		free(owner);
		return NULL;
	}
	/* groups to chunks: heaviest first to the lightest chunk (work: non-zeros of every block
	 * plus a little per group), then each chunk's groups in ascending order */
	for (int64_t g = 0; g < p->ngroups; g++) {
		work[g] = 4;
		for (int64_t q = 0; q < p->nblk; q++) {
			int64_t row = q * s->m + g * r;
			if (p->pat) /* a multiply-add per non-zero, about one load per entry */
				work[g] += 2 * (a->row_ptr[row + r] - a->row_ptr[row]);
			else
				work[g] += (a->row_ptr[row + 1] - a->row_ptr[row]) * r;
		}
		owner[g] = -1;
	}
	for (int64_t n = 0; n < p->ngroups; n++) {
		int64_t best = -1;
		for (int64_t g = 0; g < p->ngroups; g++)
			if (owner[g] < 0 && (best < 0 || work[g] > work[best]))
				best = g;
		int64_t c = 0;
		for (int64_t j = 1; j < p->nchunks; j++)
			if (load[j] < load[c])
				c = j;
		owner[best] = c;
		load[c] += work[best];
	}
	contiguous_chunks(p, work, load, owner);
	int64_t at = 0;
	for (int64_t c = 0; c < p->nchunks; c++) {
		t[c] = (int32_t)at;
		for (int64_t g = 0; g < p->ngroups; g++)
			if (owner[g] == c)
				t[p->t_perm + at++] = (int32_t)g;
	}
	t[p->nchunks] = (int32_t)at;
	/* entries, chunk by chunk (a chunk's entries are one stream: a thread reads no cache line of
	 * another's); bounds per (block, k-block, group in chunk order) */
	int64_t used = p->pat ? pattern_entries(p, s, a, t, k_stride) : row_entries(p, s, a, t, k_stride);
	free(work);
	free(load);
	free(owner);
	if (used < 0) {
		free(t);
		return NULL;
	}
	/* pattern entries hold a non-zero each at most: the table was sized for that, and 2:4 fills
	 * three quarters of it. The rest would be constant data that nothing reads. */
	*bytes = ((size_t)used + 1) * sizeof *t;
	int32_t *fit = realloc(t, *bytes);
	return fit ? fit : t;
}
