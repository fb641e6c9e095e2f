/* Shape and dtype inference for the internal sparsity ops: nnzc.TasdActivation, whose output is
 * its input approximated in place (same dtype, same shape). Its attributes are checked here,
 * because inference is what the verifier and the interpreter run on every node: a bad series in
 * a hand-written dump is reported once, with the node's name, before any kernel sees it. */
#include "nnzc/ir.h"

#include <string.h>

/* The largest M of one term: the nm encodings' limit (docs/sparsity.md), and what keeps a
 * group's selection in the kernel a small fixed-size problem. */
#define TASD_MAX_M 256

int tasd_act_series(const Node *n, Encoding *series, Diag *d)
{
	const TasdActAttrs *a = &n->attr.tasd_act;
	if (a->n.n != a->m.n)
		return node_error(d, n, "attributes n and m must have the same length, have %d and %d", a->n.n, a->m.n);
	if (a->n.n < 1 || a->n.n > NNZC_MAX_TASD_TERMS)
		return node_error(d, n, "the series must have 1 to %d terms, has %d", NNZC_MAX_TASD_TERMS, a->n.n);
	memset(series, 0, sizeof *series);
	series->kind = ENC_TASD;
	series->u.tasd.nterms = a->n.n;
	for (int i = 0; i < a->n.n; i++) {
		int64_t tn = a->n.v[i], tm = a->m.v[i];
		if (tm < 1 || tm > TASD_MAX_M || tn < 1 || tn > tm)
			return node_error(d, n, "term %d is %lld:%lld; terms must be N:M with 1 <= N <= M <= %d", i + 1,
					  (long long)tn, (long long)tm, TASD_MAX_M);
		series->u.tasd.term[i].n = (int)tn;
		series->u.tasd.term[i].m = (int)tm;
	}
	return 0;
}

int infer_tasd_activation(Node *n, Diag *d)
{
	const Value *x = n->in[0];
	Encoding series;
	if (tasd_act_series(n, &series, d) < 0)
		return -1;
	if (!dtype_is_float(x->dtype))
		return node_error(d, n, "takes a floating-point tensor, got %s", dtype_name(x->dtype));
	if (x->shape.rank >= 0) {
		int64_t a = n->attr.tasd_act.axis;
		int r = x->shape.rank;
		if (a < -r || a >= r) {
			char s[128];
			return node_error(d, n, "axis %lld is out of range for input of shape %s", (long long)a,
					  shape_str(&x->shape, s, sizeof s));
		}
	}
	n->out[0]->dtype = x->dtype;
	n->out[0]->shape = x->shape;
	return 0;
}
