/* infer_node: arity checks shared by every op, then the op's own inference from the table. */
#include "nnzc/ir.h"

int infer_node(Node *n, Diag *d)
{
	const OpInfo *info = &op_info[n->op];
	if (n->n_in < info->min_in || (info->max_in >= 0 && n->n_in > info->max_in))
		return node_error(d, n, "takes %d..%d inputs, has %d", info->min_in, info->max_in, n->n_in);
	if (n->n_out < info->min_out || (info->max_out >= 0 && n->n_out > info->max_out))
		return node_error(d, n, "takes %d..%d outputs, has %d", info->min_out, info->max_out, n->n_out);
	for (int i = 0; i < info->min_in; i++)
		if (n->in[i] == NULL)
			return node_error(d, n, "required input %d is missing", i);
	for (int i = 0; i < n->n_in; i++)
		if (n->in[i] && n->in[i]->dtype == DT_UNDEFINED)
			return node_error(d, n, "input %d ('%s') has no known dtype", i, n->in[i]->name);
	return info->infer(n, d);
}
