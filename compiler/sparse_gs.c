/* gs(V,B) scheduling: which non-zeros of a group of V rows go into which step.
 *
 * The pattern (DESIGN.md, after Sun et al. 2021, arXiv 2112.10898): rows are taken V at a time
 * (one per vector lane); a group is processed in K steps of one slot per row, so every row of
 * the group holds exactly K slots (load balance); the V columns of a step fall in V distinct
 * banks (column mod B), so a V-wide gather from a B-banked scratchpad never conflicts. A slot
 * holds a non-zero or is padding (value 0, at a column the row does not otherwise use).
 *
 * Building a schedule, per group, in one of two ways:
 *   - many banks (more than 64, and at least twice the group's rows): step by step. Each
 *     step is a maximum matching of rows to banks over the rows' remaining non-zeros — greedy
 *     first (rows with the most left first, each taking its lowest column in a free bank), then
 *     an augmenting path for every row left out; K is the number of steps this takes. Then in
 *     each step a row without a non-zero is padded with the lowest free bank that still has a
 *     column the row does not use, and that bank's lowest such column.
 *   - otherwise: the greedy steps could strand rows that cannot be padded, so the group is
 *     planned as a whole (regular() below): K = the largest row or bank load, padding counts
 *     from a flow problem, and the count matrix split into K perfect matchings (Koenig).
 * If no schedule is found (a bank has too few columns for the padding, K would exceed the
 * column count), the smallest-magnitude non-zero of the group is dropped (ties: the higher
 * index goes) and the group is planned again. A group with more rows than banks can hold no
 * non-zero at all.
 * The result depends only on the group's set of non-zeros, so planning a projected matrix again
 * drops nothing: sparse_fits and sparse_project agree. */
#include "sparse_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct Lane {
	int32_t *col;  /* alive non-zero columns, ascending */
	int n;         /* how many */
	int first;     /* col[0..first) are all scheduled */
	int left;      /* not yet scheduled */
	bool *taken;   /* per entry of col */
} Lane;

typedef struct Plan {
	int lanes, b, nbanks;   /* nbanks = min(B, cols): banks that hold a column */
	int64_t cols;
	Lane *lane;
	/* per step scratch */
	int *owner;             /* by bank: lane holding it this step, -1 */
	int *pick;              /* by lane: index into lane col, -1 */
	int *order;             /* lanes by work left */
	int *queue, *prev_lane, *prev_idx;
	bool *seen;             /* by bank, per augmenting search */
	int *touched;           /* banks to reset after a search */
	/* result */
	int32_t *slot; int64_t steps, cap;
} Plan;

static int bank_of(const Plan *p, int32_t c) { return (int)(c % p->b); }

/* One augmenting path from the unmatched lane l0, breadth first (no recursion: V is input). */
static bool augment(Plan *p, int l0)
{
	int head = 0, tail = 0, nseen = 0;
	p->queue[tail++] = l0;
	bool found = false;
	int fb = -1;
	while (head < tail && !found) {
		int u = p->queue[head++];
		Lane *ln = &p->lane[u];
		for (int i = ln->first; i < ln->n && !found; i++) {
			if (ln->taken[i])
				continue;
			int bk = bank_of(p, ln->col[i]);
			if (p->seen[bk])
				continue;
			p->seen[bk] = true;
			p->touched[nseen++] = bk;
			p->prev_lane[bk] = u;
			p->prev_idx[bk] = i;
			if (p->owner[bk] < 0) {
				found = true;
				fb = bk;
			} else {
				p->queue[tail++] = p->owner[bk];
			}
		}
	}
	for (int i = 0; i < nseen; i++)
		p->seen[p->touched[i]] = false;
	if (!found)
		return false;
	for (int bk = fb;;) {
		int u = p->prev_lane[bk], old = p->pick[u];
		p->owner[bk] = u;
		p->pick[u] = p->prev_idx[bk];
		if (u == l0)
			break;
		bk = bank_of(p, p->lane[u].col[old]);
	}
	return true;
}

static int order_cmp_left(const Plan *p, int a, int b)
{
	int la = p->lane[a].left, lb = p->lane[b].left;
	return la != lb ? lb - la : a - b;
}

/* Step 1: the steps, into p->slot (-1 where a lane has no non-zero). 0, or -1 out of memory,
 * or 1 when K would exceed the column count. */
static int schedule(Plan *p)
{
	p->steps = 0;
	for (;;) {
		int n = 0;
		for (int l = 0; l < p->lanes; l++)
			if (p->lane[l].left > 0)
				p->order[n++] = l;
		if (n == 0)
			return 0;
		if (p->steps >= p->cols)
			return 1;
		/* insertion sort: few lanes, and nearly sorted from one step to the next */
		for (int i = 1; i < n; i++) {
			int x = p->order[i], j = i;
			while (j > 0 && order_cmp_left(p, p->order[j - 1], x) > 0) {
				p->order[j] = p->order[j - 1];
				j--;
			}
			p->order[j] = x;
		}
		for (int l = 0; l < p->lanes; l++)
			p->pick[l] = -1;
		for (int k = 0; k < n; k++) {
			Lane *ln = &p->lane[p->order[k]];
			for (int i = ln->first; i < ln->n; i++) {
				int bk;
				if (ln->taken[i] || p->owner[bk = bank_of(p, ln->col[i])] >= 0)
					continue;
				p->owner[bk] = p->order[k];
				p->pick[p->order[k]] = i;
				break;
			}
		}
		for (int k = 0; k < n; k++)
			if (p->pick[p->order[k]] < 0)
				augment(p, p->order[k]);
		if (p->steps == p->cap) {
			int64_t cap = p->cap ? 2 * p->cap : 16;
			int32_t *s = realloc(p->slot, (size_t)(cap * p->lanes) * sizeof *s);
			if (s == NULL)
				return -1;
			p->slot = s;
			p->cap = cap;
		}
		int32_t *row = p->slot + p->steps * p->lanes;
		for (int l = 0; l < p->lanes; l++) {
			Lane *ln = &p->lane[l];
			row[l] = -1;
			if (p->pick[l] < 0)
				continue;
			row[l] = ln->col[p->pick[l]];
			p->owner[bank_of(p, row[l])] = -1;
			ln->taken[p->pick[l]] = true;
			ln->left--;
			while (ln->first < ln->n && ln->taken[ln->first])
				ln->first++;
		}
		p->steps++;
	}
}

/* Step 2: fill the -1 slots. used: lanes x cols, the columns each lane holds. 0, or 1 when a
 * slot cannot be filled, -1 out of memory. */
static int pad(Plan *p, bool *used)
{
	int64_t *cursor = malloc((size_t)p->lanes * (size_t)p->nbanks * sizeof *cursor);
	bool *busy = calloc((size_t)p->nbanks, 1);
	if (cursor == NULL || busy == NULL) {
		free(cursor);
		free(busy);
		return -1;
	}
	for (int l = 0; l < p->lanes; l++)
		for (int bk = 0; bk < p->nbanks; bk++)
			cursor[(int64_t)l * p->nbanks + bk] = bk;
	int rc = 0;
	for (int64_t s = 0; s < p->steps && rc == 0; s++) {
		int32_t *row = p->slot + s * p->lanes;
		memset(busy, 0, (size_t)p->nbanks);
		for (int l = 0; l < p->lanes; l++)
			if (row[l] >= 0)
				busy[bank_of(p, row[l])] = true;
		for (int l = 0; l < p->lanes && rc == 0; l++) {
			if (row[l] >= 0)
				continue;
			bool *u = used + (int64_t)l * p->cols;
			rc = 1;
			for (int bk = 0; bk < p->nbanks; bk++) {
				if (busy[bk])
					continue;
				int64_t *c = &cursor[(int64_t)l * p->nbanks + bk];
				while (*c < p->cols && u[*c])
					*c += p->b;
				if (*c >= p->cols)
					continue;
				row[l] = (int32_t)*c;
				u[*c] = true;
				busy[bk] = true;
				rc = 0;
				break;
			}
		}
	}
	free(cursor);
	free(busy);
	return rc;
}

/* ---------------------------------------------------------------- tight groups: regularise and split
 *
 * When the banks are few for the lanes (fewer than twice as many), the greedy steps above end
 * with rows that cannot be padded. Then the group is planned as a whole:
 *   1. K = the largest row or bank load (the fewest steps possible);
 *   2. padding counts pad[l][b] (slots lane l pads in bank b) such that every lane holds K slots
 *      and every bank at most K, within the columns each bank has free for the lane: a flow
 *      problem, solved greedily and completed by augmenting paths; if it has no solution, K+1
 *      (up to 3 more) is tried;
 *   3. dummy lanes take up what the banks have left, which makes the lane-bank count matrix
 *      K-regular, so it splits into K perfect matchings (Koenig): each found by augmenting paths
 *      from the previous one and used as many times as its smallest count allows;
 *   4. each step gives lane l the next column of its (l, bank) list: its non-zeros in the bank,
 *      then the padding columns (the lowest the lane does not use). */

typedef struct Reg {
	int L, n;          /* lanes, banks (n >= L); rows L..n-1 of m are dummy lanes */
	int *cnt, *pad;    /* L x n */
	int *m;            /* n x n, the regular count matrix */
	int *ml, *mr;      /* matching: lane -> bank, bank -> lane */
	int *seen, stamp;  /* by bank, for the augmenting searches */
	int *seen_l;       /* by lane, same stamp */
	int *prev_l, *prev_b, *queue; /* flow search scratch, n + L each */
} Reg;

static int free_cols(const Plan *p, const Reg *r, int l, int bk)
{
	int64_t in_bank = (p->cols - bk + p->b - 1) / p->b;
	return (int)(in_bank - r->cnt[l * r->n + bk]) - r->pad[l * r->n + bk];
}

/* Step 2 for a given K: 0 when the padding counts exist, 1 when not. */
static int pad_counts(const Plan *p, Reg *r, int k, const int *deg, int *bank_left)
{
	int L = r->L, n = r->n;
	memset(r->pad, 0, (size_t)(L * n) * sizeof *r->pad);
	for (int bk = 0; bk < n; bk++) {
		int load = 0;
		for (int l = 0; l < L; l++)
			load += r->cnt[l * n + bk];
		bank_left[bk] = k - load;
	}
	/* greedy: each lane into the banks with the most room */
	for (int l = 0; l < L; l++) {
		int need = k - deg[l];
		while (need > 0) {
			int best = -1;
			for (int bk = 0; bk < n; bk++)
				if (bank_left[bk] > 0 && free_cols(p, r, l, bk) > 0 && (best < 0 || bank_left[bk] > bank_left[best]))
					best = bk;
			if (best < 0)
				break;
			int x = need < bank_left[best] ? need : bank_left[best];
			x = x < free_cols(p, r, l, best) ? x : free_cols(p, r, l, best);
			r->pad[l * n + best] += x;
			bank_left[best] -= x;
			need -= x;
		}
		/* the rest by augmenting paths: lane -> bank with room for it -> a lane padding there
		 * that can move elsewhere -> ... -> a bank with slots left */
		while (need > 0) {
			int head = 0, tail = 0, found = -1;
			r->stamp++;
			r->queue[tail++] = l;
			r->seen_l[l] = r->stamp;
			while (head < tail && found < 0) {
				int u = r->queue[head++];
				for (int bk = 0; bk < n && found < 0; bk++) {
					if (r->seen[bk] == r->stamp || free_cols(p, r, u, bk) <= 0)
						continue;
					r->seen[bk] = r->stamp;
					r->prev_l[bk] = u;
					if (bank_left[bk] > 0) {
						found = bk;
						break;
					}
					for (int w = 0; w < L; w++)
						if (r->seen_l[w] != r->stamp && r->pad[w * n + bk] > 0) {
							r->seen_l[w] = r->stamp;
							r->prev_b[w] = bk; /* w gives up a slot in bk */
							r->queue[tail++] = w;
						}
				}
			}
			if (found < 0)
				return 1;
			bank_left[found]--;
			need--;
			for (int bk = found;;) {
				int u = r->prev_l[bk];
				r->pad[u * n + bk]++;
				if (u == l)
					break;
				bk = r->prev_b[u];
				r->pad[u * n + bk]--;
			}
		}
	}
	return 0;
}

/* A perfect matching of the support of m, kept from the previous one where it still holds. */
static bool match_from(Reg *r, int l0)
{
	/* iterative augmenting path search (depth-first through an explicit stack) */
	int n = r->n;
	int *stack_l = r->queue, *stack_b = r->prev_b; /* lane, next bank to try */
	int top = 0;
	stack_l[0] = l0;
	stack_b[0] = 0;
	r->stamp++;
	while (top >= 0) {
		int u = stack_l[top], bk = stack_b[top];
		for (; bk < n; bk++)
			if (r->m[u * n + bk] > 0 && r->seen[bk] != r->stamp)
				break;
		if (bk == n) {
			top--;
			continue;
		}
		stack_b[top] = bk + 1;
		r->seen[bk] = r->stamp;
		r->prev_l[bk] = u;
		if (r->mr[bk] < 0) {
			/* flip the path back to l0 */
			for (int x = bk;;) {
				int lu = r->prev_l[x], old = r->ml[lu];
				r->ml[lu] = x;
				r->mr[x] = lu;
				if (lu == l0)
					break;
				x = old;
			}
			return true;
		}
		top++;
		stack_l[top] = r->mr[bk];
		stack_b[top] = 0;
	}
	return false;
}

/* Steps 1-4 on the alive non-zeros; 0, 1 (no plan: drop something), -1 out of memory. */
static int regular(Plan *p, const bool *used)
{
	int L = p->lanes, n = p->nbanks;
	Reg r = {.L = L, .n = n};
	int *deg = calloc((size_t)L, sizeof *deg), *bank_left = calloc((size_t)n, sizeof *bank_left);
	int64_t *cursor = NULL;
	int32_t **list = NULL;
	r.cnt = calloc((size_t)(L * n), sizeof *r.cnt);
	r.pad = calloc((size_t)(L * n), sizeof *r.pad);
	r.m = calloc((size_t)n * (size_t)n, sizeof *r.m);
	r.ml = malloc((size_t)n * sizeof *r.ml);
	r.mr = malloc((size_t)n * sizeof *r.mr);
	r.seen = calloc((size_t)n, sizeof *r.seen);
	r.seen_l = calloc((size_t)L, sizeof *r.seen_l);
	r.prev_l = malloc((size_t)(n + L) * sizeof *r.prev_l);
	r.prev_b = malloc((size_t)(n + L) * sizeof *r.prev_b);
	r.queue = malloc((size_t)(n + L) * sizeof *r.queue);
	int rc = -1;
	if (!deg || !bank_left || !r.cnt || !r.pad || !r.m || !r.ml || !r.mr || !r.seen || !r.seen_l || !r.prev_l ||
	    !r.prev_b || !r.queue)
		goto out;
	int k0 = 0;
	for (int l = 0; l < L; l++) {
		const Lane *ln = &p->lane[l];
		deg[l] = ln->n;
		for (int i = 0; i < ln->n; i++)
			r.cnt[l * n + bank_of(p, ln->col[i])]++;
		k0 = deg[l] > k0 ? deg[l] : k0;
	}
	for (int bk = 0; bk < n; bk++) {
		int load = 0;
		for (int l = 0; l < L; l++)
			load += r.cnt[l * n + bk];
		k0 = load > k0 ? load : k0;
	}
	p->steps = 0;
	if (k0 == 0) {
		rc = 0;
		goto out;
	}
	int k = -1;
	for (int t = k0; t <= k0 + 3 && t <= p->cols && k < 0; t++)
		if (pad_counts(p, &r, t, deg, bank_left) == 0)
			k = t;
	if (k < 0) {
		rc = 1;
		goto out;
	}
	/* step 3: the regular matrix, dummy lanes filled bank by bank */
	for (int l = 0; l < L; l++)
		for (int bk = 0; bk < n; bk++)
			r.m[l * n + bk] = r.cnt[l * n + bk] + r.pad[l * n + bk];
	for (int dl = L, bk = 0; dl < n; dl++)
		for (int need = k; need > 0;) {
			while (bank_left[bk] == 0)
				bk++; /* the banks have exactly k * (n - L) slots left: bk stays below n */
			int x = need < bank_left[bk] ? need : bank_left[bk];
			r.m[dl * n + bk] += x;
			bank_left[bk] -= x;
			need -= x;
		}
	/* step 4: each lane's columns per bank, non-zeros first, then padding */
	list = calloc((size_t)(L * n), sizeof *list);
	cursor = calloc((size_t)(L * n), sizeof *cursor);
	if (!list || !cursor)
		goto out;
	for (int l = 0; l < L; l++) {
		const Lane *ln = &p->lane[l];
		const bool *u = used + (int64_t)l * p->cols;
		for (int bk = 0; bk < n; bk++) {
			int cnt = r.m[l * n + bk];
			if (cnt == 0)
				continue;
			int32_t *c = list[l * n + bk] = malloc((size_t)cnt * sizeof *c);
			if (c == NULL)
				goto out;
			int j = 0;
			for (int i = 0; i < ln->n; i++)
				if (bank_of(p, ln->col[i]) == bk)
					c[j++] = ln->col[i];
			for (int64_t col = bk; j < cnt; col += p->b) {
				assert(col < p->cols); /* pad_counts left room for exactly these */
				if (!u[col])
					c[j++] = (int32_t)col;
			}
		}
	}
	if ((int64_t)k > p->cap) {
		int32_t *sl = realloc(p->slot, (size_t)k * (size_t)L * sizeof *sl);
		if (sl == NULL)
			goto out;
		p->slot = sl;
		p->cap = k;
	}
	for (int i = 0; i < n; i++)
		r.ml[i] = r.mr[i] = -1;
	while (p->steps < k) {
		for (int l = 0; l < n; l++)
			if (r.ml[l] < 0 && !match_from(&r, l)) {
				assert(0 && "a regular bipartite multigraph has a perfect matching");
				rc = 1;
				goto out;
			}
		int t = k - (int)p->steps;
		for (int l = 0; l < n; l++)
			t = r.m[l * n + r.ml[l]] < t ? r.m[l * n + r.ml[l]] : t;
		for (int s = 0; s < t; s++, p->steps++)
			for (int l = 0; l < L; l++) {
				int bk = r.ml[l];
				p->slot[p->steps * L + l] = list[l * n + bk][cursor[l * n + bk]++];
			}
		for (int l = 0; l < n; l++) {
			int bk = r.ml[l];
			if ((r.m[l * n + bk] -= t) == 0) {
				r.ml[l] = -1;
				r.mr[bk] = -1;
			}
		}
	}
	rc = 0;
out:
	for (int i = 0; list && i < L * n; i++)
		free(list[i]);
	free(list);
	free(cursor);
	free(deg);
	free(bank_left);
	free(r.cnt);
	free(r.pad);
	free(r.m);
	free(r.ml);
	free(r.mr);
	free(r.seen);
	free(r.seen_l);
	free(r.prev_l);
	free(r.prev_b);
	free(r.queue);
	return rc;
}

/* ---------------------------------------------------------------- planning a group */

typedef struct Cand { float mag; int64_t idx; int lane; int64_t pos; } Cand;

/* drop order: smallest magnitude first; among equals the higher index first */
static int cand_cmp(const void *pa, const void *pb)
{
	const Cand *a = pa, *b = pb;
	if (a->mag != b->mag)
		return a->mag < b->mag ? -1 : 1;
	return (a->idx < b->idx) - (a->idx > b->idx);
}

int sp_gs_plan(float *data, const WeightView *v, int64_t r0, int lanes, int b, bool zero_dropped, int64_t *steps,
	       int32_t **col, double *dropped2, int64_t *ndropped)
{
	Plan p;
	memset(&p, 0, sizeof p);
	p.lanes = lanes;
	p.b = b;
	p.cols = v->cols;
	p.nbanks = (int)(v->cols < b ? v->cols : b);
	*steps = 0;
	*dropped2 = 0.0;
	*ndropped = 0;
	if (col)
		*col = NULL;

	int64_t nnz = 0, gsize = (int64_t)lanes * v->cols;
	for (int l = 0; l < lanes; l++)
		for (int64_t c = 0; c < v->cols; c++)
			nnz += data[weight_view_offset(v, r0 + l, c)] != 0.0f;
	int rc = -1;
	int64_t *lane_start = NULL;
	int32_t *cols_all = malloc((size_t)(nnz ? nnz : 1) * sizeof *cols_all);
	bool *alive = malloc((size_t)(nnz ? nnz : 1));
	bool *taken = malloc((size_t)(nnz ? nnz : 1));
	Cand *cand = malloc((size_t)(nnz ? nnz : 1) * sizeof *cand);
	bool *used = malloc((size_t)gsize);
	p.lane = calloc((size_t)lanes, sizeof *p.lane);
	p.owner = malloc((size_t)p.nbanks * sizeof(int));
	p.seen = calloc((size_t)p.nbanks, 1);
	p.touched = malloc((size_t)p.nbanks * sizeof(int));
	p.prev_lane = malloc((size_t)p.nbanks * sizeof(int));
	p.prev_idx = malloc((size_t)p.nbanks * sizeof(int));
	p.pick = malloc((size_t)lanes * sizeof(int));
	p.order = malloc((size_t)lanes * sizeof(int));
	p.queue = malloc((size_t)(lanes + 1) * sizeof(int));
	int32_t *lane_cols = malloc((size_t)(nnz ? nnz : 1) * sizeof *lane_cols);
	if (!cols_all || !alive || !taken || !cand || !used || !p.lane || !p.owner || !p.seen || !p.touched ||
	    !p.prev_lane || !p.prev_idx || !p.pick || !p.order || !p.queue || !lane_cols)
		goto out;
	/* every non-zero once, lane by lane, columns ascending */
	lane_start = malloc((size_t)(lanes + 1) * sizeof *lane_start);
	if (lane_start == NULL)
		goto out;
	int64_t k = 0;
	for (int l = 0; l < lanes; l++) {
		lane_start[l] = k;
		for (int64_t c = 0; c < v->cols; c++) {
			float x = data[weight_view_offset(v, r0 + l, c)];
			if (x == 0.0f)
				continue;
			cols_all[k] = (int32_t)c;
			alive[k] = true;
			cand[k] = (Cand){sp_mag(x), (r0 + l) * v->cols + c, l, k};
			k++;
		}
	}
	lane_start[lanes] = k;
	qsort(cand, (size_t)nnz, sizeof *cand, cand_cmp);
	/* few banks (for the lanes): the greedy steps could strand rows (see regular()); with many
	 * banks they do not, and regular()'s dummy lanes would cost more than they bring */
	bool tight = p.nbanks <= 64 || (2 * lanes > p.nbanks && p.nbanks <= 256);
	int64_t next_drop = 0;
	if (lanes > p.nbanks)
		next_drop = nnz; /* no step can put every lane in its own bank: the group stays empty */
	for (int64_t i = 0; i < next_drop; i++)
		alive[cand[i].pos] = false;
	for (;;) {
		/* lanes over the alive non-zeros */
		int64_t w = 0;
		memset(used, 0, (size_t)gsize);
		for (int l = 0; l < lanes; l++) {
			Lane *ln = &p.lane[l];
			ln->col = lane_cols + w;
			ln->taken = taken + w;
			ln->n = 0;
			for (int64_t j = lane_start[l]; j < lane_start[l + 1]; j++)
				if (alive[j]) {
					ln->col[ln->n] = cols_all[j];
					ln->taken[ln->n] = false;
					used[(int64_t)l * v->cols + cols_all[j]] = true;
					ln->n++;
				}
			ln->first = 0;
			ln->left = ln->n;
			w += ln->n;
		}
		for (int bk = 0; bk < p.nbanks; bk++)
			p.owner[bk] = -1;
		int r;
		if (tight) {
			r = regular(&p, used);
		} else {
			r = schedule(&p);
			if (r == 0)
				r = pad(&p, used);
		}
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		assert(next_drop < nnz); /* an empty group always schedules */
		alive[cand[next_drop++].pos] = false;
	}
	for (int64_t i = 0; i < next_drop; i++) {
		int64_t j = cand[i].pos;
		int l = cand[i].lane;
		int64_t at = weight_view_offset(v, r0 + l, cols_all[j]);
		*dropped2 += (double)data[at] * (double)data[at];
		if (zero_dropped)
			data[at] = 0.0f;
	}
	*ndropped = next_drop;
	*steps = p.steps;
	if (col) {
		*col = p.slot;
		p.slot = NULL;
	}
	rc = 0;
out:
	free(lane_start);
	free(cols_all);
	free(alive);
	free(taken);
	free(cand);
	free(used);
	free(p.lane);
	free(p.owner);
	free(p.seen);
	free(p.touched);
	free(p.prev_lane);
	free(p.prev_idx);
	free(p.pick);
	free(p.order);
	free(p.queue);
	free(p.slot);
	free(lane_cols);
	return rc;
}
