/* Magnitude selection on dense float matrices (a weight's matrix view), for the prune pass:
 * the k lowest-scored units across one or several layers (unstructured, block, channel), the
 * top-N of every M-group (nm), and load-balanced, bank-conflict-free selection (gs).
 *
 * Magnitudes are compared as the bit patterns of |w| (IEEE order for non-negative floats, NaN
 * above infinity), which gives one total order that the radix select, the sorts and the tie rule
 * all agree on. Ties: the lower index is kept, as in sparse_project. */
#include "prune_spec.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t mag_bits(float x)
{
	float a = fabsf(x);
	uint32_t b;
	memcpy(&b, &a, sizeof b);
	return b;
}

static inline uint32_t score_bits(float s)
{
	uint32_t b;
	memcpy(&b, &s, sizeof b);
	return b;
}

/* ---------------------------------------------------------------- ranking units */

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int rank_layer_init(RankLayer *l, float *data, const WeightView *v, const Pattern *p, Diag *d)
{
	memset(l, 0, sizeof *l);
	l->data = data;
	l->view = *v;
	l->sel = p->sel;
	if (p->sel == SEL_MAGNITUDE) {
		l->n_units = v->rows * v->cols;
		return 0;
	}
	if (p->sel == SEL_BLOCK) {
		l->br = p->enc.u.bsr.r;
		l->bc = p->enc.u.bsr.c;
		int64_t nbr = ceil_div(v->rows, l->br), nbc = ceil_div(v->cols, l->bc);
		l->n_units = nbr * nbc;
		l->score = malloc((size_t)(l->n_units ? l->n_units : 1) * sizeof *l->score);
		if (l->score == NULL)
			return diag_error(d, "out of memory");
		for (int64_t b = 0; b < l->n_units; b++) {
			int64_t r0 = b / nbc * l->br, c0 = b % nbc * l->bc;
			double s = 0;
			for (int64_t r = r0; r < r0 + l->br && r < v->rows; r++)
				for (int64_t c = c0; c < c0 + l->bc && c < v->cols; c++) {
					double x = *view_at(data, v, r, c);
					s += x * x;
				}
			l->score[b] = (float)sqrt(s); /* L2 norm; a partial edge block is padded with zeros */
		}
		return 0;
	}
	assert(p->sel == SEL_CHANNEL);
	l->n_units = v->rows;
	l->score = malloc((size_t)(v->rows ? v->rows : 1) * sizeof *l->score);
	if (l->score == NULL)
		return diag_error(d, "out of memory");
	for (int64_t r = 0; r < v->rows; r++) {
		double s = 0;
		for (int64_t c = 0; c < v->cols; c++) {
			double x = *view_at(data, v, r, c);
			s += x * x;
		}
		/* RMS, not L2: inside a layer it ranks rows the same, and across layers (global) it does
		 * not favour the layers with the longest rows */
		l->score[r] = v->cols ? (float)sqrt(s / (double)v->cols) : 0.0f;
	}
	return 0;
}

void rank_layer_free(RankLayer *l)
{
	free(l->score);
	l->score = NULL;
}

static inline uint32_t unit_bits(const RankLayer *l, int64_t u)
{
	if (l->score)
		return score_bits(l->score[u]);
	return mag_bits(*view_at(l->data, &l->view, u / l->view.cols, u % l->view.cols));
}

static void zero_unit(RankLayer *l, int64_t u)
{
	const WeightView *v = &l->view;
	switch (l->sel) {
	case SEL_MAGNITUDE: *view_at(l->data, v, u / v->cols, u % v->cols) = 0.0f; break;
	case SEL_CHANNEL:
		for (int64_t c = 0; c < v->cols; c++)
			*view_at(l->data, v, u, c) = 0.0f;
		break;
	case SEL_BLOCK: {
		int64_t nbc = ceil_div(v->cols, l->bc), r0 = u / nbc * l->br, c0 = u % nbc * l->bc;
		for (int64_t r = r0; r < r0 + l->br && r < v->rows; r++)
			for (int64_t c = c0; c < c0 + l->bc && c < v->cols; c++)
				*view_at(l->data, v, r, c) = 0.0f;
		break;
	}
	default: assert(!"not a ranked selection");
	}
}

/* Radix select on the 32-bit scores: the high 16 bits, then the low 16 bits inside the bin that
 * holds the k-th lowest. Three passes over the units and no copy of them, which matters for a
 * global ranking over every weight of a large model. */
int prune_lowest(RankLayer *l, int n, int64_t k, float *threshold, Diag *d)
{
	*threshold = 0.0f;
	if (k <= 0)
		return 0;
	int64_t *hist = calloc(65536, sizeof *hist);
	int64_t *ties = calloc((size_t)n + 1, sizeof *ties);
	if (hist == NULL || ties == NULL) {
		free(hist), free(ties);
		return diag_error(d, "out of memory");
	}
	for (int i = 0; i < n; i++)
		for (int64_t u = 0; u < l[i].n_units; u++)
			hist[unit_bits(&l[i], u) >> 16]++;
	int64_t below = 0;
	uint32_t hi = 0;
	for (; hi < 65535 && below + hist[hi] < k; hi++)
		below += hist[hi];
	memset(hist, 0, 65536 * sizeof *hist);
	for (int i = 0; i < n; i++)
		for (int64_t u = 0; u < l[i].n_units; u++) {
			uint32_t b = unit_bits(&l[i], u);
			if (b >> 16 == hi)
				hist[b & 0xffff]++;
		}
	uint32_t lo = 0;
	for (; lo < 65535 && below + hist[lo] < k; lo++)
		below += hist[lo];
	uint32_t t = hi << 16 | lo;
	memcpy(threshold, &t, sizeof t);
	/* the units at the threshold: zero the k - below of them that come last */
	int64_t need = k - below;
	for (int i = 0; i < n; i++)
		for (int64_t u = 0; u < l[i].n_units; u++)
			ties[i] += unit_bits(&l[i], u) == t;
	for (int i = n - 1; i >= 0; i--) {
		int64_t take = ties[i] < need ? ties[i] : need;
		need -= take;
		ties[i] -= take; /* now: how many ties of layer i to keep (the first ones) */
	}
	assert(need == 0);
	for (int i = 0; i < n; i++) {
		int64_t seen = 0;
		for (int64_t u = 0; u < l[i].n_units; u++) {
			uint32_t b = unit_bits(&l[i], u);
			if (b < t || (b == t && seen++ >= ties[i]))
				zero_unit(&l[i], u);
		}
	}
	free(hist);
	free(ties);
	return 0;
}

/* ---------------------------------------------------------------- nm */

typedef struct Cand { uint32_t bits; int64_t c; } Cand;

/* larger magnitude first; ties: lower column first */
static int cand_cmp(const void *pa, const void *pb)
{
	const Cand *a = pa, *b = pb;
	if (a->bits != b->bits)
		return a->bits > b->bits ? -1 : 1;
	return (a->c > b->c) - (a->c < b->c);
}

void select_nm(float *data, const WeightView *v, int n, int m)
{
	Cand g[PRUNE_MAX_M];
	assert(m >= 1 && m <= PRUNE_MAX_M && n >= 1 && n <= m);
	for (int64_t r = 0; r < v->rows; r++)
		for (int64_t c0 = 0; c0 < v->cols; c0 += m) {
			int len = (int)(v->cols - c0 < m ? v->cols - c0 : m);
			if (len <= n)
				continue;
			for (int j = 0; j < len; j++)
				g[j] = (Cand){mag_bits(*view_at(data, v, r, c0 + j)), c0 + j};
			qsort(g, (size_t)len, sizeof *g, cand_cmp);
			for (int j = n; j < len; j++)
				*view_at(data, v, r, g[j].c) = 0.0f;
		}
}

/* ---------------------------------------------------------------- gs */

/* One row-group as a transportation problem: rows (k each) ship to banks (at most k each); the
 * elements of row r in bank b, sorted by magnitude, are the units of the (r, b) route, and a
 * route always carries a prefix of its list (the largest). x[r][b] is that prefix's length.
 * 1. greedy: all elements by decreasing magnitude, each taken while its row and bank have room
 *    (a skipped element's successors on the same route are skipped too, so routes stay
 *    prefixes);
 * 2. rows left short get augmenting paths (row -> bank with room on the route, bank -> a row
 *    that holds one of its elements, ... -> a bank below k): none for some row means no
 *    selection exists (max-flow);
 * 3. negative cycles of the residual graph are cancelled (Bellman-Ford) until none is left:
 *    each moves elements between banks for a larger kept magnitude, and none left means the
 *    kept magnitude is the largest any selection has (min-cost circulation optimality). */
typedef struct GsGroup {
	int gv, nb;        /* rows; banks that hold a column: min(B, cols) */
	int64_t cols, k;
	int B;
	int32_t *order;    /* [gv * cols]: row r's columns by bank, then magnitude (desc), column */
	double *mag;       /* [gv * cols]: the magnitude of order[...] (NaN and inf as FLT_MAX) */
	int64_t *start;    /* [gv * (nb + 1)]: route (r, b) is order[r * cols + start[r * (nb+1) + b] ...) */
	int64_t *x;        /* [gv * nb] */
	int64_t *rowcnt;   /* [gv] */
	int64_t *load;     /* [nb] */
	/* searches: nodes are rows 0..gv-1, banks gv..gv+nb-1, the sink gv+nb */
	int *pred;         /* [nodes]: edge index (Bellman-Ford) or previous node (BFS) */
	double *dist;      /* [nodes] */
	int *queue;        /* [nodes] */
	struct GsEdge { int u, v; double cost; } *edge; /* [2 * gv * nb + 2 * nb] */
} GsGroup;

static inline int64_t route_len(const GsGroup *s, int r, int b)
{
	const int64_t *st = s->start + (int64_t)r * (s->nb + 1);
	return st[b + 1] - st[b];
}

/* magnitude of the i-th element of route (r, b) */
static inline double route_mag(const GsGroup *s, int r, int b, int64_t i)
{
	return s->mag[(int64_t)r * s->cols + s->start[(int64_t)r * (s->nb + 1) + b] + i];
}

/* Stable LSD radix sort of (key, val) by key, ascending: four passes of 8 bits. The groups of
 * a large layer hold tens of thousands of elements each, where qsort's comparisons dominated. */
static void radix_sort(uint32_t *key, int64_t *val, uint32_t *ktmp, int64_t *vtmp, int64_t n)
{
	uint32_t *k0 = key, *k1 = ktmp;
	int64_t *v0 = val, *v1 = vtmp;
	for (int shift = 0; shift < 32; shift += 8) {
		int64_t count[257] = {0};
		for (int64_t i = 0; i < n; i++)
			count[((k0[i] >> shift) & 255) + 1]++;
		if (count[((k0[0] >> shift) & 255) + 1] == n)
			continue; /* one digit value: this pass would not move anything */
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (int64_t i = 0; i < n; i++) {
			int64_t at = count[(k0[i] >> shift) & 255]++;
			k1[at] = k0[i];
			v1[at] = v0[i];
		}
		uint32_t *kt = k0;
		k0 = k1;
		k1 = kt;
		int64_t *vt = v0;
		v0 = v1;
		v1 = vt;
	}
	if (k0 != key) {
		memcpy(key, k0, (size_t)n * sizeof *key);
		memcpy(val, v0, (size_t)n * sizeof *val);
	}
}

static double cost_mag(float w)
{
	float a = fabsf(w);
	return isnan(a) || isinf(a) ? (double)FLT_MAX : (double)a;
}

/* Augmenting path from deficient row r0 (breadth first over rows and banks); false if none. */
static bool gs_augment(GsGroup *s, int r0)
{
	int nodes = s->gv + s->nb;
	for (int i = 0; i < nodes; i++)
		s->pred[i] = -2;
	int qh = 0, qt = 0;
	s->queue[qt++] = r0;
	s->pred[r0] = -1;
	while (qh < qt) {
		int u = s->queue[qh++];
		if (u < s->gv) {
			for (int b = 0; b < s->nb; b++) {
				int node = s->gv + b;
				if (s->pred[node] != -2 || s->x[(int64_t)u * s->nb + b] >= route_len(s, u, b))
					continue;
				s->pred[node] = u;
				if (s->load[b] < s->k) {
					/* flip: forward routes gain one, backward routes lose one */
					s->load[b]++;
					s->rowcnt[r0]++;
					for (int cur = node; s->pred[cur] != -1;) {
						int prev = s->pred[cur];
						if (prev < s->gv)
							s->x[(int64_t)prev * s->nb + (cur - s->gv)]++;
						else
							s->x[(int64_t)cur * s->nb + (prev - s->gv)]--;
						cur = prev;
					}
					return true;
				}
				s->queue[qt++] = node;
			}
		} else {
			int b = u - s->gv;
			for (int r = 0; r < s->gv; r++)
				if (s->pred[r] == -2 && s->x[(int64_t)r * s->nb + b] > 0) {
					s->pred[r] = u;
					s->queue[qt++] = r;
				}
		}
	}
	return false;
}

/* One negative cycle of the residual graph cancelled; false when there is none. */
static bool gs_cancel_cycle(GsGroup *s, double eps)
{
	int gv = s->gv, nb = s->nb, sink = gv + nb, nodes = sink + 1, ne = 0;
	for (int r = 0; r < gv; r++)
		for (int b = 0; b < nb; b++) {
			int64_t x = s->x[(int64_t)r * nb + b];
			if (x < route_len(s, r, b)) /* take the next element of the route */
				s->edge[ne++] = (struct GsEdge){r, gv + b, -route_mag(s, r, b, x)};
			if (x > 0) /* give back the last one taken */
				s->edge[ne++] = (struct GsEdge){gv + b, r, route_mag(s, r, b, x - 1)};
		}
	for (int b = 0; b < nb; b++) {
		if (s->load[b] < s->k)
			s->edge[ne++] = (struct GsEdge){gv + b, sink, 0.0};
		if (s->load[b] > 0)
			s->edge[ne++] = (struct GsEdge){sink, gv + b, 0.0};
	}
	for (int i = 0; i < nodes; i++) {
		s->dist[i] = 0.0;
		s->pred[i] = -1;
	}
	/* Bellman-Ford from a virtual source at distance 0 to all nodes; a cycle in the predecessor
	 * graph is a negative cycle, and looking for one after every round finds it long before the
	 * `nodes` rounds the textbook test waits for */
	int v = -1;
	for (int it = 0; it < nodes && v < 0; it++) {
		bool relaxed = false;
		for (int e = 0; e < ne; e++) {
			const struct GsEdge *E = &s->edge[e];
			if (s->dist[E->u] + E->cost < s->dist[E->v] - eps) {
				s->dist[E->v] = s->dist[E->u] + E->cost;
				s->pred[E->v] = e;
				relaxed = true;
			}
		}
		if (!relaxed)
			return false;
		for (int i = 0; i < nodes; i++)
			s->queue[i] = -1; /* walk stamps */
		for (int i = 0; i < nodes && v < 0; i++) {
			int u = i;
			while (u >= 0 && s->queue[u] < 0) {
				s->queue[u] = i;
				u = s->pred[u] >= 0 ? s->edge[s->pred[u]].u : -1;
			}
			if (u >= 0 && s->queue[u] == i)
				v = u; /* came back to a node of this walk: on a cycle */
		}
	}
	if (v < 0)
		return false;
	double cost = 0.0;
	int u = v;
	do {
		cost += s->edge[s->pred[u]].cost;
		u = s->edge[s->pred[u]].u;
	} while (u != v);
	if (!(cost < -eps))
		return false;
	u = v;
	do {
		const struct GsEdge *E = &s->edge[s->pred[u]];
		if (E->u < gv)
			s->x[(int64_t)E->u * nb + (E->v - gv)]++;
		else if (E->v < gv)
			s->x[(int64_t)E->v * nb + (E->u - gv)]--;
		else if (E->v == sink)
			s->load[E->u - gv]++;
		else
			s->load[E->v - gv]--;
		u = E->u;
	} while (u != v);
	return true;
}

/* Scratch for one group: the elements in decreasing magnitude order. */
typedef struct GsSort { uint32_t *key, *ktmp; int64_t *val, *vtmp; } GsSort;

/* Select rows [r0, r0 + gv) of data into keep; 1 if no selection exists. */
static int gs_group(GsGroup *s, float *data, const WeightView *v, int64_t r0, uint8_t *keep, GsSort *so)
{
	int gv = s->gv, nb = s->nb;
	int64_t cols = s->cols, n = (int64_t)gv * cols;
	/* every element by decreasing magnitude, ties by (row, column): the greedy's order, and
	 * filled into the routes it gives each route's order too */
	for (int r = 0; r < gv; r++)
		for (int64_t c = 0; c < cols; c++) {
			so->key[r * cols + c] = ~mag_bits(*view_at(data, v, r0 + r, c));
			so->val[r * cols + c] = r * cols + c;
		}
	radix_sort(so->key, so->val, so->ktmp, so->vtmp, n);
	memset(s->x, 0, (size_t)gv * (size_t)nb * sizeof *s->x);
	for (int64_t i = 0; i < n; i++) /* route sizes, in x for now */
		s->x[so->val[i] / cols * nb + so->val[i] % cols % s->B]++;
	for (int r = 0; r < gv; r++) {
		int64_t *st = s->start + (int64_t)r * (nb + 1), at = 0;
		for (int b = 0; b < nb; b++) {
			st[b] = at;
			at += s->x[(int64_t)r * nb + b];
			s->x[(int64_t)r * nb + b] = st[b]; /* now: the next free place of the route */
		}
		st[nb] = at;
	}
	double maxmag = 0.0;
	for (int64_t i = 0; i < n; i++) {
		int64_t r = so->val[i] / cols, c = so->val[i] % cols;
		int64_t at = r * cols + s->x[r * nb + c % s->B]++;
		s->order[at] = (int32_t)c;
		s->mag[at] = cost_mag(*view_at(data, v, r0 + r, c));
		maxmag = fmax(maxmag, s->mag[at]);
	}
	memset(s->x, 0, (size_t)gv * (size_t)nb * sizeof *s->x);
	memset(s->rowcnt, 0, (size_t)gv * sizeof *s->rowcnt);
	memset(s->load, 0, (size_t)nb * sizeof *s->load);
	if (s->k > 0) {
		for (int64_t i = 0; i < n; i++) {
			int r = (int)(so->val[i] / cols), b = (int)(so->val[i] % cols % s->B);
			if (s->rowcnt[r] < s->k && s->load[b] < s->k) {
				s->x[(int64_t)r * nb + b]++;
				s->rowcnt[r]++;
				s->load[b]++;
			}
		}
		for (int r = 0; r < gv; r++)
			while (s->rowcnt[r] < s->k)
				if (!gs_augment(s, r))
					return 1;
		/* each cancellation gains more than eps, so this ends; the cap only bounds the time a
		 * pathological group may take (the selection is valid at every step) */
		double eps = 1e-7 * maxmag;
		for (int64_t it = 0; it < 100000 && gs_cancel_cycle(s, eps); it++)
			;
	}
	for (int r = 0; r < gv; r++)
		for (int b = 0; b < nb; b++) {
			const int32_t *ord = s->order + r * cols + s->start[(int64_t)r * (nb + 1) + b];
			for (int64_t i = 0; i < s->x[(int64_t)r * nb + b]; i++)
				keep[(r0 + r) * cols + ord[i]] = 1;
		}
	return 0;
}

int select_gs(float *data, const WeightView *v, int V, int B, int64_t k, Diag *d)
{
	if (v->rows == 0 || v->cols == 0)
		return 0;
	if (k > v->cols)
		k = v->cols;
	int gmax = (int)(v->rows < V ? v->rows : V);
	int nb = (int)(v->cols < B ? v->cols : B);
	int64_t cols = v->cols, n = (int64_t)gmax * cols;
	GsGroup s = {.nb = nb, .cols = cols, .k = k, .B = B};
	int nodes = gmax + nb + 1;
	GsSort so = {malloc((size_t)n * sizeof *so.key), malloc((size_t)n * sizeof *so.ktmp),
		     malloc((size_t)n * sizeof *so.val), malloc((size_t)n * sizeof *so.vtmp)};
	uint8_t *keep = calloc((size_t)(v->rows * cols), 1);
	s.order = malloc((size_t)n * sizeof *s.order);
	s.mag = malloc((size_t)n * sizeof *s.mag);
	s.start = malloc((size_t)gmax * (size_t)(nb + 1) * sizeof *s.start);
	s.x = malloc((size_t)gmax * (size_t)nb * sizeof *s.x);
	s.rowcnt = malloc((size_t)gmax * sizeof *s.rowcnt);
	s.load = malloc((size_t)nb * sizeof *s.load);
	s.pred = malloc((size_t)nodes * sizeof *s.pred);
	s.dist = malloc((size_t)nodes * sizeof *s.dist);
	s.queue = malloc((size_t)nodes * sizeof *s.queue);
	s.edge = malloc(((size_t)2 * (size_t)gmax * (size_t)nb + 2 * (size_t)nb) * sizeof *s.edge);
	int rc = 0;
	if (!so.key || !so.ktmp || !so.val || !so.vtmp || !keep || !s.order || !s.mag || !s.start || !s.x || !s.rowcnt || !s.load || !s.pred ||
	    !s.dist || !s.queue || !s.edge) {
		rc = diag_error(d, "out of memory");
		goto out;
	}
	for (int64_t r0 = 0; r0 < v->rows && rc == 0; r0 += V) {
		s.gv = (int)(v->rows - r0 < V ? v->rows - r0 : V);
		rc = gs_group(&s, data, v, r0, keep, &so);
	}
	if (rc == 0) /* every group has a selection: only now change the data */
		for (int64_t r = 0; r < v->rows; r++)
			for (int64_t c = 0; c < cols; c++)
				if (!keep[r * cols + c])
					*view_at(data, v, r, c) = 0.0f;
out:
	free(so.key), free(so.ktmp), free(so.val), free(so.vtmp), free(keep), free(s.order), free(s.mag), free(s.start), free(s.x), free(s.rowcnt);
	free(s.load), free(s.pred), free(s.dist), free(s.queue), free(s.edge);
	return rc;
}
