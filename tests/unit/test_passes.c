/* The cleanup passes on hand-built graphs: the structure after each pass, and numerical
 * equivalence with the graph before it (ref_run on the same random inputs). */
#include "nnzc/ir.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- building graphs */

static uint64_t rng_state;

static double frand(double lo, double hi)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static Value *input(Graph *g, const char *name, DType dt, Shape s)
{
	Value *v = graph_add_value(g, name, dt, &s);
	graph_add_input(g, v);
	return v;
}

/* A float constant with values uniform in [lo, hi). */
static Value *crand(Graph *g, const char *name, Shape s, double lo, double hi)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, name, DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	float *p = v->data;
	for (int64_t i = 0; i < shape_numel(&s); i++)
		p[i] = (float)frand(lo, hi);
	return v;
}

static Value *cints(Graph *g, const char *name, int n, const int64_t *vals)
{
	Diag d = {0};
	Shape s = shape_make(1, (int64_t[]){n});
	Value *v = graph_add_constant(g, name, DT_I64, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	if (n > 0)
		memcpy(v->data, vals, (size_t)n * sizeof *vals);
	return v;
}

static Value *cscalar(Graph *g, const char *name, float x)
{
	Diag d = {0};
	Shape s = shape_make(0, NULL);
	Value *v = graph_add_constant(g, name, DT_F32, &s, &d);
	ck_assert_msg(v != NULL, "%s", d.msg);
	((float *)v->data)[0] = x;
	return v;
}

#define NODE(g, op, name, n_out, ...)                                                          \
	graph_add_node(g, op, name, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), \
		       (Value *[]){__VA_ARGS__}, n_out)

static Value *out1(Graph *g, Op op, const char *name, Value *a)
{
	return NODE(g, op, name, 1, a)->out[0];
}

static void set_ints(Ints *v, int n, const int64_t *vals)
{
	v->n = n;
	memcpy(v->v, vals, (size_t)n * sizeof *vals);
}

/* ---------------------------------------------------------------- checking */

/* Structure every pass must leave: producers consistent, topological order, no dead node. */
static void check_structure(const Graph *g)
{
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		ck_assert_msg(!n->dead, "dead node '%s' left after compaction", n->name);
		ck_assert_int_eq(n->id, i);
		for (int j = 0; j < n->n_in; j++) {
			const Value *v = n->in[j];
			if (v == NULL)
				continue;
			ck_assert_msg(v->producer == NULL || v->producer->id < i,
				      "node '%s' reads '%s' before it is computed", n->name, v->name);
			ck_assert_msg(v->producer != NULL || value_is_const(v) || graph_is_input(g, v),
				      "node '%s' reads '%s' which nothing defines", n->name, v->name);
		}
		for (int j = 0; j < n->n_out; j++)
			ck_assert_msg(n->out[j]->producer == n, "output '%s' of '%s' has another producer",
				      n->out[j]->name, n->name);
	}
	for (int i = 0; i < g->n_values; i++)
		ck_assert_int_eq(g->values[i]->id, i);
	Diag d = {0};
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
}

static int count_op(const Graph *g, Op op)
{
	int k = 0;
	for (int i = 0; i < g->n_nodes; i++)
		k += g->nodes[i]->op == op;
	return k;
}

typedef struct Run {
	int n_in, n_out;
	Tensor in[8], ref[8];
	char out_names[8][64];
} Run;

/* shape-infer, then random inputs (unknown dims become 3), then the reference outputs. */
static void prepare(Graph *g, Run *r)
{
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	check_structure(g);
	memset(r, 0, sizeof *r);
	r->n_in = g->n_inputs;
	r->n_out = g->n_outputs;
	ck_assert(r->n_in <= 8 && r->n_out <= 8);
	for (int i = 0; i < g->n_inputs; i++) {
		const Value *v = g->inputs[i];
		Shape s = v->shape;
		for (int k = 0; k < s.rank; k++)
			if (s.dim[k] < 0)
				s.dim[k] = 3;
		ck_assert_msg(tensor_alloc(&r->in[i], v->dtype, &s, &d) == 0, "%s", d.msg);
		for (int64_t k = 0; k < tensor_numel(&r->in[i]); k++) {
			if (dtype_is_float(v->dtype))
				((float *)r->in[i].data)[k] = (float)frand(-2, 2);
			else
				((int64_t *)r->in[i].data)[k] = (int64_t)frand(0, 3);
		}
	}
	for (int i = 0; i < g->n_outputs; i++)
		snprintf(r->out_names[i], sizeof r->out_names[i], "%s", g->outputs[i]->name);
	ck_assert_msg(ref_run(g, r->in, r->ref, &d) == 0, "reference run: %s", d.msg);
}

static void run_pass(Graph *g, PassFn pass)
{
	Diag d = {0};
	ck_assert_msg(pass(g, NULL, &d) == 0, "%s", d.msg);
	check_structure(g);
}

/* Same output names, and outputs within 1e-5 of the reference relative to its magnitude. */
static void check_same(Graph *g, Run *r)
{
	Diag d = {0};
	Tensor got[8];
	ck_assert_int_eq(g->n_outputs, r->n_out);
	for (int i = 0; i < r->n_out; i++)
		ck_assert_str_eq(g->outputs[i]->name, r->out_names[i]);
	ck_assert_msg(ref_run(g, r->in, got, &d) == 0, "run after the pass: %s", d.msg);
	for (int i = 0; i < r->n_out; i++) {
		ck_assert(shape_equal(&got[i].shape, &r->ref[i].shape));
		ck_assert_int_eq(dtype_is_float(got[i].dtype), dtype_is_float(r->ref[i].dtype));
		int64_t n = tensor_numel(&got[i]);
		double scale = 1, err = 0;
		for (int64_t k = 0; k < n; k++)
			scale = fmax(scale, fabs(tensor_get_f(&r->ref[i], k)));
		for (int64_t k = 0; k < n; k++)
			err = fmax(err, fabs(tensor_get_f(&got[i], k) - tensor_get_f(&r->ref[i], k)));
		ck_assert_msg(err <= 1e-5 * scale, "output '%s': max error %g (scale %g)", r->out_names[i], err, scale);
		tensor_free(&got[i]);
		tensor_free(&r->ref[i]);
	}
	for (int i = 0; i < r->n_in; i++)
		tensor_free(&r->in[i]);
}

static Graph *new_graph(void)
{
	rng_state = 12345;
	return graph_new("test");
}

/* ---------------------------------------------------------------- dce */

START_TEST(dce_removes_dead_chains)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 3));
	Value *c = crand(g, "c", SHAPE(2, 3), -1, 1);
	Value *a = NODE(g, OP_Add, "dead_add", 1, x, c)->out[0];
	out1(g, OP_Relu, "dead_relu", a);
	Value *y = out1(g, OP_Sigmoid, "sig", x);
	graph_add_output(g, y);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_dce);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_str_eq(g->nodes[0]->name, "sig");
	ck_assert_ptr_null(graph_find_value(g, "c")); /* the constant only the dead chain read */
	ck_assert_ptr_nonnull(graph_find_value(g, "x"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(dce_keeps_partly_used_and_outputs)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(4, 6));
	Node *sp = NODE(g, OP_Split, "split", 2, x);
	sp->attr.split.axis = 1;
	sp->attr.split.num_outputs = 2;
	Value *y = out1(g, OP_Relu, "relu", sp->out[0]); /* second half unused */
	graph_add_output(g, y);
	graph_add_output(g, x); /* an input listed as an output */
	Run r;
	prepare(g, &r);
	run_pass(g, pass_dce);
	ck_assert_int_eq(g->n_nodes, 2);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- fold-constants */

START_TEST(fold_constants_chain)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(8, 16));
	/* 128 float elements: more than shape-infer folds on its own */
	Value *c1 = crand(g, "c1", SHAPE(8, 16), -1, 1), *c2 = crand(g, "c2", SHAPE(8, 16), -1, 1);
	Value *s = NODE(g, OP_Add, "sum", 1, c1, c2)->out[0];
	Value *e = out1(g, OP_Exp, "exp", s);
	Value *y = NODE(g, OP_Mul, "mul", 1, x, e)->out[0];
	Value *k = out1(g, OP_Neg, "konst", c1); /* a graph output computed from constants only */
	graph_add_output(g, y);
	graph_add_output(g, k);
	Run r;
	prepare(g, &r);
	ck_assert_int_eq(g->n_nodes, 4);
	run_pass(g, pass_fold_constants);
	run_pass(g, pass_dce);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_int_eq(g->nodes[0]->op, OP_Mul);
	Value *ev = graph_find_value(g, "exp");
	ck_assert_ptr_nonnull(ev); /* the folded value keeps its name */
	ck_assert_ptr_nonnull(ev->data);
	ck_assert_ptr_eq(g->nodes[0]->in[1], ev);
	ck_assert_str_eq(g->outputs[1]->name, "konst");
	ck_assert_ptr_nonnull(g->outputs[1]->data);
	ck_assert_ptr_null(g->outputs[1]->producer);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_constants_refuses_bloat)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(200, 200));
	Value *big = out1(g, OP_ConstantOfShape, "big", cints(g, "big_shape", 2, (int64_t[]){200, 200}));
	Value *y = NODE(g, OP_Add, "add_big", 1, x, big)->out[0];
	Value *x2 = input(g, "x2", DT_F32, SHAPE(10, 10));
	Value *small = out1(g, OP_ConstantOfShape, "small", cints(g, "small_shape", 2, (int64_t[]){10, 10}));
	Value *y2 = NODE(g, OP_Add, "add_small", 1, x2, small)->out[0];
	graph_add_output(g, y);
	graph_add_output(g, y2);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fold_constants);
	/* 160 000 bytes from 16: refused; 400 bytes: under the 64 KiB floor, folded */
	ck_assert_ptr_nonnull(graph_find_node(g, "big"));
	ck_assert_ptr_null(graph_find_node(g, "small"));
	ck_assert_ptr_nonnull(graph_find_value(g, "small")->data);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_constants_skips_elided)
{
	static const ElidedPayload ep = {0x12345678u, 128};
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(8, 16));
	Shape s = SHAPE(8, 16);
	Value *e = graph_add_value(g, "elided", DT_F32, &s);
	e->elided = &ep;
	Value *c = crand(g, "c", SHAPE(8, 16), -1, 1);
	Value *a = NODE(g, OP_Add, "add_elided", 1, e, c)->out[0];
	graph_add_output(g, NODE(g, OP_Mul, "mul", 1, x, a)->out[0]);
	Diag d = {0};
	ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
	run_pass(g, pass_fold_constants);
	ck_assert_int_eq(g->n_nodes, 2);
	ck_assert_ptr_nonnull(graph_find_node(g, "add_elided"));
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- elim-identity */

START_TEST(elim_identity_keeps_output_name)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 5));
	Value *a = out1(g, OP_Relu, "relu", x);
	Value *b = out1(g, OP_Identity, "id1", a);
	Value *y = out1(g, OP_Identity, "y", b);
	graph_add_output(g, y);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_str_eq(g->nodes[0]->name, "relu");
	ck_assert_ptr_eq(g->nodes[0]->out[0], g->outputs[0]);
	ck_assert_str_eq(g->outputs[0]->name, "y");
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_input_to_output_stays)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(3));
	Value *r1 = out1(g, OP_Relu, "relu", x);
	graph_add_output(g, out1(g, OP_Identity, "y", x));    /* input -> output: must stay */
	graph_add_output(g, r1);
	graph_add_output(g, out1(g, OP_Identity, "z", r1));   /* output -> output: must stay */
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	ck_assert_int_eq(count_op(g, OP_Identity), 2);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_dropout_mask_used)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 3));
	Node *dr = NODE(g, OP_Dropout, "drop", 2, x);
	Value *y = dr->out[0], *m = dr->out[1];
	Node *cast = NODE(g, OP_Cast, "mask_f", 1, m);
	cast->attr.cast.to = DT_F32;
	graph_add_output(g, NODE(g, OP_Add, "sum", 1, y, cast->out[0])->out[0]);
	graph_add_output(g, m);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	ck_assert_int_eq(count_op(g, OP_Dropout), 0);
	Value *mask = g->outputs[1];
	ck_assert_str_eq(mask->name, "drop:1");
	ck_assert_ptr_nonnull(mask->data);
	ck_assert_int_eq(mask->dtype, DT_BOOL);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(((int64_t *)mask->data)[i], 1);
	ck_assert_ptr_eq(graph_find_node(g, "sum")->in[0], x);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_dropout_dynamic_mask_stays)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(-1, 4));
	Node *dr = NODE(g, OP_Dropout, "drop", 2, x);
	Node *dr2 = NODE(g, OP_Dropout, "drop2", 1, dr->out[0]); /* no mask: goes */
	graph_add_output(g, out1(g, OP_Relu, "relu", dr2->out[0]));
	graph_add_output(g, dr->out[1]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	ck_assert_ptr_nonnull(graph_find_node(g, "drop"));
	ck_assert_ptr_null(graph_find_node(g, "drop2"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_shape_ops)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 3));
	Value *v = out1(g, OP_Relu, "relu", x);
	Node *c1 = NODE(g, OP_Cast, "cast_same", 1, v);
	c1->attr.cast.to = DT_F32;
	v = c1->out[0];
	v = NODE(g, OP_Reshape, "reshape_same", 1, v, cints(g, "s23", 2, (int64_t[]){2, -1}))->out[0];
	v = out1(g, OP_Flatten, "flatten_same", v); /* axis 1 of [2,3] is [2,3] */
	Node *t = NODE(g, OP_Transpose, "transpose_id", 1, v);
	set_ints(&t->attr.transpose.perm, 2, (int64_t[]){0, 1});
	v = t->out[0];
	Node *t2 = NODE(g, OP_Transpose, "transpose_swap", 1, v);
	set_ints(&t2->attr.transpose.perm, 2, (int64_t[]){1, 0});
	v = t2->out[0];
	v = NODE(g, OP_Reshape, "reshape_diff", 1, v, cints(g, "s6", 1, (int64_t[]){6}))->out[0];
	Node *c2 = NODE(g, OP_Cast, "cast_diff", 1, v);
	c2->attr.cast.to = DT_I32;
	graph_add_output(g, c2->out[0]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	const char *gone[] = {"cast_same", "reshape_same", "flatten_same", "transpose_id"};
	const char *kept[] = {"relu", "transpose_swap", "reshape_diff", "cast_diff"};
	for (int i = 0; i < 4; i++) {
		ck_assert_msg(graph_find_node(g, gone[i]) == NULL, "%s should be gone", gone[i]);
		ck_assert_msg(graph_find_node(g, kept[i]) != NULL, "%s should stay", kept[i]);
	}
	ck_assert_ptr_null(graph_find_value(g, "s23"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_squeeze_unsqueeze)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 3));
	Value *v = out1(g, OP_Tanh, "tanh", x);
	v = NODE(g, OP_Squeeze, "squeeze_none", 1, v)->out[0]; /* no axes: every 1-dim, none here */
	v = NODE(g, OP_Unsqueeze, "unsqueeze", 1, v, cints(g, "ax0", 1, (int64_t[]){0}))->out[0];
	graph_add_output(g, v);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	/* Squeeze of a tensor without 1-dims keeps its shape; Unsqueeze changes it */
	ck_assert_ptr_null(graph_find_node(g, "squeeze_none"));
	ck_assert_ptr_nonnull(graph_find_node(g, "unsqueeze"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- fold-bn */

static Value *batch_norm(Graph *g, const char *name, Value *x, int64_t c)
{
	Value *gamma = crand(g, "gamma", SHAPE(c), 0.5, 1.5), *beta = crand(g, "beta", SHAPE(c), -1, 1);
	Value *mean = crand(g, "mean", SHAPE(c), -1, 1), *var = crand(g, "var", SHAPE(c), 0.2, 2);
	Node *bn = NODE(g, OP_BatchNormalization, name, 1, x, gamma, beta, mean, var);
	bn->attr.batch_norm.epsilon = 1e-3f;
	return bn->out[0];
}

static void check_folded(Graph *g, Op op, const char *node, const char *out)
{
	ck_assert_int_eq(count_op(g, OP_BatchNormalization), 0);
	ck_assert_int_eq(g->n_nodes, 1);
	Node *n = g->nodes[0];
	ck_assert_int_eq(n->op, op);
	ck_assert_str_eq(n->name, node);
	ck_assert_int_eq(n->n_in, 3);
	ck_assert_ptr_nonnull(n->in[2]);
	ck_assert_str_eq(n->out[0]->name, out);
	ck_assert_ptr_eq(n->out[0], g->outputs[0]);
}

/* subsample-1x1: strided 1x1 convolutions (plain, fused with a residual, odd extents, stride
 * on one axis) read a Slice and run at stride 1 with the same values; a padded one, a 3x3 one
 * and a stride-1 one stay as they are. */
START_TEST(subsample_1x1_strided_convs)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 4, 7, 6));
	Node *a = NODE(g, OP_Conv, "a", 1, x, crand(g, "wa", SHAPE(5, 4, 1, 1), -1, 1), crand(g, "ba", SHAPE(5), -1, 1));
	set_ints(&a->attr.conv.strides, 2, (int64_t[]){2, 2});
	Node *b = NODE(g, OP_Conv, "b", 1, x, crand(g, "wb", SHAPE(5, 4, 1, 1), -1, 1));
	set_ints(&b->attr.conv.strides, 2, (int64_t[]){3, 1});
	Node *c = NODE(g, OP_Conv, "padded", 1, x, crand(g, "wc", SHAPE(5, 4, 1, 1), -1, 1));
	set_ints(&c->attr.conv.strides, 2, (int64_t[]){2, 2});
	set_ints(&c->attr.conv.pads, 4, (int64_t[]){1, 1, 1, 1});
	Node *k3 = NODE(g, OP_Conv, "k3", 1, x, crand(g, "w3", SHAPE(5, 4, 3, 3), -1, 1));
	set_ints(&k3->attr.conv.strides, 2, (int64_t[]){2, 2});
	Node *s1 = NODE(g, OP_Conv, "s1", 1, x, crand(g, "w1", SHAPE(5, 4, 1, 1), -1, 1));
	set_ints(&s1->attr.conv.strides, 2, (int64_t[]){1, 1});
	/* a with a residual and a Relu, which fuse makes one nnzc.FusedConv */
	Value *res = input(g, "res", DT_F32, SHAPE(1, 5, 4, 3));
	graph_add_output(g, out1(g, OP_Relu, "relu", NODE(g, OP_Add, "add", 1, a->out[0], res)->out[0]));
	for (Node **n = (Node *[]){b, c, k3, s1, NULL}; *n; n++)
		graph_add_output(g, (*n)->out[0]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(count_op(g, OP_FusedConv), 1);
	run_pass(g, pass_subsample_1x1);
	ck_assert_int_eq(count_op(g, OP_Slice), 2);
	int convs = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		const Node *n = g->nodes[i];
		if (n->op != OP_Conv && n->op != OP_FusedConv)
			continue;
		const ConvAttrs *ca = n->op == OP_Conv ? &n->attr.conv : &n->attr.fused_conv.conv;
		bool rewritten = strcmp(n->name, "a") == 0 || strcmp(n->name, "b") == 0;
		ck_assert_msg((n->in[0]->producer != NULL && n->in[0]->producer->op == OP_Slice) == rewritten, "%s", n->name);
		ck_assert_int_eq(ca->strides.v[0] == 1 && ca->strides.v[1] == 1, rewritten || strcmp(n->name, "s1") == 0);
		convs++;
	}
	ck_assert_int_eq(convs, 5);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_bn_conv)
{
	for (int grp = 1; grp <= 2; grp++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(2, 4, 5, 5));
		Value *w = crand(g, "w", SHAPE(6, 4 / grp, 3, 3), -1, 1);
		Node *conv = grp == 1 ? NODE(g, OP_Conv, "conv", 1, x, w)
				      : NODE(g, OP_Conv, "conv", 1, x, w, crand(g, "b", SHAPE(6), -1, 1));
		conv->attr.conv.group = grp;
		set_ints(&conv->attr.conv.pads, 4, (int64_t[]){1, 1, 1, 1});
		graph_add_output(g, batch_norm(g, "bn", conv->out[0], 6));
		Run r;
		prepare(g, &r);
		run_pass(g, pass_fold_bn);
		check_folded(g, OP_Conv, "conv", "bn");
		ck_assert_int_eq(g->nodes[0]->attr.conv.group, grp);
		check_same(g, &r);
		graph_free(g);
	}
}
END_TEST

START_TEST(fold_bn_conv_transpose_grouped)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 4, 3, 3));
	/* group 2: W is [C_in=4, C_out/group=3, 3, 3], C_out = 6 */
	Node *ct = NODE(g, OP_ConvTranspose, "deconv", 1, x, crand(g, "w", SHAPE(4, 3, 3, 3), -1, 1),
			crand(g, "b", SHAPE(6), -1, 1));
	ct->attr.conv.group = 2;
	set_ints(&ct->attr.conv.strides, 2, (int64_t[]){2, 2});
	set_ints(&ct->attr.conv.pads, 4, (int64_t[]){1, 1, 1, 1});
	graph_add_output(g, batch_norm(g, "bn", ct->out[0], 6));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fold_bn);
	check_folded(g, OP_ConvTranspose, "deconv", "bn");
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_bn_gemm)
{
	for (int tb = 0; tb <= 1; tb++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(3, 5));
		Value *w = crand(g, "w", tb ? SHAPE(4, 5) : SHAPE(5, 4), -1, 1);
		Node *gm = NODE(g, OP_Gemm, "gemm", 1, x, w, crand(g, "c", SHAPE(1, 4), -1, 1));
		gm->attr.gemm.trans_b = tb;
		gm->attr.gemm.alpha = 0.7f;
		gm->attr.gemm.beta = 0.5f;
		graph_add_output(g, batch_norm(g, "bn", gm->out[0], 4));
		Run r;
		prepare(g, &r);
		run_pass(g, pass_fold_bn);
		check_folded(g, OP_Gemm, "gemm", "bn");
		ck_assert(g->nodes[0]->attr.gemm.beta == 1.0f);
		check_same(g, &r);
		graph_free(g);
	}
}
END_TEST

START_TEST(fold_bn_not_when_shared)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Value *w = crand(g, "w", SHAPE(3, 2, 1, 1), -1, 1);
	Value *y1 = NODE(g, OP_Conv, "conv1", 1, x, w)->out[0];
	Value *y2 = NODE(g, OP_Conv, "conv2", 1, x, w)->out[0]; /* shares w with conv1 */
	graph_add_output(g, batch_norm(g, "bn1", y1, 3));
	graph_add_output(g, y1);                               /* conv1's output has a second use */
	graph_add_output(g, batch_norm(g, "bn2", y2, 3));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fold_bn);
	ck_assert_ptr_nonnull(graph_find_node(g, "bn1"));
	ck_assert_ptr_null(graph_find_node(g, "bn2"));
	/* conv2 got new weights; conv1 still reads the original, unmodified */
	ck_assert_ptr_eq(graph_find_node(g, "conv1")->in[1], w);
	ck_assert_ptr_ne(graph_find_node(g, "conv2")->in[1], w);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- fuse */

static Node *conv3x3(Graph *g, Value *x, int64_t cin, int64_t cout, bool bias)
{
	Value *w = crand(g, "w", SHAPE(cout, cin, 3, 3), -0.5, 0.5);
	Node *n = bias ? NODE(g, OP_Conv, "conv", 1, x, w, crand(g, "b", SHAPE(cout), -1, 1))
		       : NODE(g, OP_Conv, "conv", 1, x, w);
	set_ints(&n->attr.conv.pads, 4, (int64_t[]){1, 1, 1, 1});
	return n;
}

START_TEST(fuse_conv_bias_residual_relu)
{
	for (int order = 0; order < 2; order++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(1, 4, 5, 5));
		Node *conv = conv3x3(g, x, 4, 4, order == 1);
		Value *v = NODE(g, OP_Add, "bias_add", 1, conv->out[0], crand(g, "bias", SHAPE(1, 4, 1, 1), -1, 1))->out[0];
		v = order == 0 ? NODE(g, OP_Add, "res_add", 1, v, x)->out[0] : NODE(g, OP_Add, "res_add", 1, x, v)->out[0];
		Value *y = out1(g, OP_Relu, "y", v);
		graph_add_output(g, y);
		Run r;
		prepare(g, &r);
		run_pass(g, pass_fuse);
		ck_assert_int_eq(g->n_nodes, 1);
		Node *f = g->nodes[0];
		ck_assert_int_eq(f->op, OP_FusedConv);
		ck_assert_str_eq(f->name, "conv");
		ck_assert_int_eq(f->n_in, 4);
		ck_assert_ptr_eq(f->in[0], x);
		ck_assert_ptr_nonnull(f->in[2]);
		ck_assert_ptr_nonnull(f->in[2]->data);
		ck_assert_int_eq(f->in[2]->shape.rank, 1);
		ck_assert_ptr_eq(f->in[3], x);
		ck_assert_int_eq(f->attr.fused_conv.act.kind, ACT_RELU);
		ck_assert_int_eq(f->attr.fused_conv.conv.pads.n, 4);
		ck_assert_ptr_eq(f->out[0], y);
		ck_assert_str_eq(g->outputs[0]->name, "y");
		check_same(g, &r);
		graph_free(g);
	}
}
END_TEST

START_TEST(fuse_multi_use_not_fused)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Node *conv = conv3x3(g, x, 2, 3, true);
	Value *a = NODE(g, OP_Add, "bias_add", 1, conv->out[0], crand(g, "bias", SHAPE(3, 1, 1), -1, 1))->out[0];
	graph_add_output(g, out1(g, OP_Relu, "relu", a));
	graph_add_output(g, out1(g, OP_Sigmoid, "sig", a)); /* a has two readers */
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	/* the bias Add is absorbed (conv's output had one reader); Relu and Sigmoid are not */
	ck_assert_int_eq(g->n_nodes, 3);
	ck_assert_int_eq(count_op(g, OP_FusedConv), 1);
	ck_assert_int_eq(graph_find_node(g, "conv")->attr.fused_conv.act.kind, ACT_NONE);
	ck_assert_ptr_eq(graph_find_node(g, "conv")->out[0], graph_find_node(g, "relu")->in[0]);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_intermediate_graph_output_not_fused)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Node *conv = conv3x3(g, x, 2, 2, true);
	graph_add_output(g, conv->out[0]);
	graph_add_output(g, out1(g, OP_Relu, "relu", conv->out[0]));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(count_op(g, OP_Conv), 1);
	ck_assert_int_eq(count_op(g, OP_Relu), 1);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_rank1_add_is_not_a_channel_bias)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 3, 3, 3));
	Node *conv = conv3x3(g, x, 3, 3, false);
	/* [3] broadcasts along W, not along channels */
	graph_add_output(g, NODE(g, OP_Add, "add_w", 1, conv->out[0], crand(g, "c", SHAPE(3), -1, 1))->out[0]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(count_op(g, OP_Conv), 1);
	ck_assert_int_eq(count_op(g, OP_Add), 1);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_activations)
{
	static const struct {
		Op op;
		int kind;
		int clip; /* 0: no bounds, 1: max only, 2: min only, 3: both */
	} cases[] = {
		{OP_Relu, ACT_RELU, 0},          {OP_LeakyRelu, ACT_LEAKY_RELU, 0},
		{OP_Sigmoid, ACT_SIGMOID, 0},    {OP_Tanh, ACT_TANH, 0},
		{OP_HardSigmoid, ACT_HARD_SIGMOID, 0}, {OP_HardSwish, ACT_HARD_SWISH, 0},
		{OP_Clip, ACT_CLIP, 0},          {OP_Clip, ACT_CLIP, 1},
		{OP_Clip, ACT_CLIP, 2},          {OP_Clip, ACT_CLIP, 3},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
		Node *conv = conv3x3(g, x, 2, 3, true);
		Node *act;
		switch (cases[k].clip) {
		case 1: act = NODE(g, OP_Clip, "act", 1, conv->out[0], NULL, cscalar(g, "hi", 0.5f)); break;
		case 2: act = NODE(g, OP_Clip, "act", 1, conv->out[0], cscalar(g, "lo", -0.25f)); break;
		case 3:
			act = NODE(g, OP_Clip, "act", 1, conv->out[0], cscalar(g, "lo", -0.25f), cscalar(g, "hi", 0.5f));
			break;
		default: act = NODE(g, cases[k].op, "act", 1, conv->out[0]); break;
		}
		if (cases[k].op == OP_LeakyRelu)
			act->attr.unary.alpha = 0.3f;
		if (cases[k].op == OP_HardSigmoid) {
			act->attr.unary.alpha = 0.25f;
			act->attr.unary.beta = 0.4f;
		}
		graph_add_output(g, act->out[0]);
		Run r;
		prepare(g, &r);
		run_pass(g, pass_fuse);
		ck_assert_int_eq(g->n_nodes, 1);
		const Activation *a = &g->nodes[0]->attr.fused_conv.act;
		ck_assert_int_eq(g->nodes[0]->op, OP_FusedConv);
		ck_assert_int_eq(a->kind, cases[k].kind);
		if (cases[k].op == OP_Clip) {
			ck_assert(cases[k].clip & 2 ? a->alpha == -0.25f : isinf(a->alpha) && a->alpha < 0);
			ck_assert(cases[k].clip & 1 ? a->beta == 0.5f : isinf(a->beta) && a->beta > 0);
		}
		check_same(g, &r);
		graph_free(g);
	}
}
END_TEST

START_TEST(fuse_stops_at_add_after_activation)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Node *conv = conv3x3(g, x, 2, 2, false);
	Value *a = out1(g, OP_Relu, "relu", conv->out[0]);
	graph_add_output(g, NODE(g, OP_Add, "add", 1, a, x)->out[0]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(g->n_nodes, 2);
	ck_assert_int_eq(graph_find_node(g, "conv")->op, OP_FusedConv);
	ck_assert_int_eq(graph_find_node(g, "conv")->n_in, 2);
	ck_assert_ptr_nonnull(graph_find_node(g, "add"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_residual_computed_after_conv)
{
	/* R is computed after the Conv in node order: the fused node must move down to it */
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Node *conv = conv3x3(g, x, 2, 2, true);
	Value *s = out1(g, OP_Sigmoid, "sig", x);
	Value *y = NODE(g, OP_Add, "res", 1, s, conv->out[0])->out[0];
	graph_add_output(g, out1(g, OP_Neg, "neg", y));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(g->n_nodes, 3);
	ck_assert_str_eq(g->nodes[0]->name, "sig");
	ck_assert_str_eq(g->nodes[1]->name, "conv");
	ck_assert_ptr_eq(g->nodes[1]->in[3], s);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_gemm_and_matmul)
{
	for (int kind = 0; kind < 3; kind++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(3, 5));
		Node *root;
		if (kind == 2) {
			root = NODE(g, OP_MatMul, "mm", 1, x, crand(g, "w", SHAPE(5, 4), -1, 1));
		} else {
			root = kind == 0 ? NODE(g, OP_Gemm, "mm", 1, x, crand(g, "w", SHAPE(4, 5), -1, 1))
					 : NODE(g, OP_Gemm, "mm", 1, x, crand(g, "w", SHAPE(4, 5), -1, 1),
						crand(g, "c", SHAPE(4), -1, 1));
			root->attr.gemm.trans_b = 1;
			root->attr.gemm.alpha = 1.5f;
			root->attr.gemm.beta = 0.25f;
		}
		Value *v = NODE(g, OP_Add, "bias", 1, crand(g, "b", SHAPE(1, 4), -1, 1), root->out[0])->out[0];
		Value *r0 = input(g, "r", DT_F32, SHAPE(3, 4));
		v = NODE(g, OP_Add, "res", 1, v, r0)->out[0];
		graph_add_output(g, out1(g, OP_Tanh, "y", v));
		Run r;
		prepare(g, &r);
		run_pass(g, pass_fuse);
		ck_assert_int_eq(g->n_nodes, 1);
		Node *f = g->nodes[0];
		ck_assert_int_eq(f->op, OP_FusedGemm);
		ck_assert_str_eq(f->name, "mm");
		ck_assert_int_eq(f->n_in, 4);
		ck_assert_int_eq(f->attr.fused_gemm.act.kind, ACT_TANH);
		ck_assert(f->attr.fused_gemm.gemm.beta == 1.0f);
		ck_assert(f->attr.fused_gemm.gemm.alpha == (kind == 2 ? 1.0f : 1.5f));
		ck_assert_str_eq(f->out[0]->name, "y");
		check_same(g, &r);
		graph_free(g);
	}
}
END_TEST

START_TEST(fuse_matmul_needs_constant_2d)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(3, 5));
	Value *w = input(g, "w", DT_F32, SHAPE(5, 4));
	graph_add_output(g, out1(g, OP_Relu, "relu", NODE(g, OP_MatMul, "mm", 1, x, w)->out[0]));
	Value *x3 = input(g, "x3", DT_F32, SHAPE(2, 3, 5));
	Value *m3 = NODE(g, OP_MatMul, "mm3", 1, x3, crand(g, "w3", SHAPE(5, 4), -1, 1))->out[0];
	graph_add_output(g, out1(g, OP_Relu, "relu3", m3));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	ck_assert_int_eq(count_op(g, OP_MatMul), 2);
	ck_assert_int_eq(count_op(g, OP_FusedGemm), 0);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fuse_bias_after_residual_and_gemm_full_c)
{
	/* Conv -> Add(R) -> Add(per-channel constant) -> Relu: the bias still goes into B */
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 3, 4, 4));
	Node *conv = conv3x3(g, x, 3, 3, true);
	Value *v = NODE(g, OP_Add, "res", 1, conv->out[0], x)->out[0];
	v = NODE(g, OP_Add, "bias_add", 1, v, crand(g, "bias", SHAPE(1, 3, 1, 1), -1, 1))->out[0];
	graph_add_output(g, out1(g, OP_Relu, "y", v));
	/* Gemm whose C has rows: it keeps C and beta, and takes the activation only */
	Value *a = input(g, "a", DT_F32, SHAPE(3, 5));
	Node *gm = NODE(g, OP_Gemm, "gemm", 1, a, crand(g, "w", SHAPE(5, 4), -1, 1), crand(g, "c", SHAPE(3, 4), -1, 1));
	gm->attr.gemm.beta = 0.5f;
	Value *b = NODE(g, OP_Add, "gemm_bias", 1, gm->out[0], crand(g, "cb", SHAPE(4), -1, 1))->out[0];
	graph_add_output(g, b);
	Value *a2 = input(g, "a2", DT_F32, SHAPE(3, 5));
	Node *gm2 = NODE(g, OP_Gemm, "gemm2", 1, a2, crand(g, "w2", SHAPE(5, 4), -1, 1), crand(g, "c2", SHAPE(3, 4), -1, 1));
	gm2->attr.gemm.beta = 0.5f;
	graph_add_output(g, out1(g, OP_Sigmoid, "sig2", gm2->out[0]));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fuse);
	Node *f = graph_find_node(g, "conv");
	ck_assert_int_eq(f->op, OP_FusedConv);
	ck_assert_ptr_eq(f->in[3], x);
	ck_assert_int_eq(f->attr.fused_conv.act.kind, ACT_RELU);
	ck_assert_int_eq(graph_find_node(g, "gemm")->op, OP_Gemm); /* [4] cannot join a [3,4] C */
	ck_assert_ptr_nonnull(graph_find_node(g, "gemm_bias"));
	Node *f2 = graph_find_node(g, "gemm2");
	ck_assert_int_eq(f2->op, OP_FusedGemm);
	ck_assert(f2->attr.fused_gemm.gemm.beta == 0.5f);
	ck_assert_int_eq(f2->in[2]->shape.rank, 2);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_bn_needs_constants)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 2, 4, 4));
	Value *gamma = input(g, "gamma", DT_F32, SHAPE(2));
	Value *bias = input(g, "bias", DT_F32, SHAPE(2));
	Value *y1 = NODE(g, OP_Conv, "conv1", 1, x, crand(g, "w1", SHAPE(2, 2, 1, 1), -1, 1))->out[0];
	Node *bn1 = NODE(g, OP_BatchNormalization, "bn1", 1, y1, gamma, crand(g, "b", SHAPE(2), -1, 1),
			 crand(g, "m", SHAPE(2), -1, 1), crand(g, "v", SHAPE(2), 0.5, 1));
	graph_add_output(g, bn1->out[0]);
	Value *y2 = NODE(g, OP_Conv, "conv2", 1, x, crand(g, "w2", SHAPE(2, 2, 1, 1), -1, 1), bias)->out[0];
	graph_add_output(g, batch_norm(g, "bn2", y2, 2));
	Value *y3 = NODE(g, OP_Conv, "conv3", 1, x, input(g, "w3", DT_F32, SHAPE(2, 2, 1, 1)))->out[0];
	graph_add_output(g, batch_norm(g, "bn3", y3, 2));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fold_bn);
	ck_assert_int_eq(count_op(g, OP_BatchNormalization), 3); /* gamma, bias, weights not constant */
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(fold_constants_multi_output)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(10, 16));
	Node *sp = NODE(g, OP_Split, "split", 2, crand(g, "c", SHAPE(20, 16), -1, 1));
	Value *a = NODE(g, OP_Mul, "mul", 1, x, sp->out[0])->out[0];
	graph_add_output(g, NODE(g, OP_Sub, "sub", 1, a, sp->out[1])->out[0]);
	Run r;
	prepare(g, &r);
	run_pass(g, pass_fold_constants);
	ck_assert_int_eq(g->n_nodes, 2);
	ck_assert_ptr_nonnull(graph_find_value(g, "split:0")->data);
	ck_assert_ptr_nonnull(graph_find_value(g, "split:1")->data);
	check_same(g, &r);
	graph_free(g);
}
END_TEST

START_TEST(elim_identity_dropout_training_stays)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(2, 3));
	Diag d = {0};
	Shape s0 = shape_make(0, NULL);
	Value *t = graph_add_constant(g, "train", DT_BOOL, &s0, &d);
	((int64_t *)t->data)[0] = 1;
	Value *zero = cscalar(g, "ratio0", 0.0f); /* ratio 0: deterministic even when training */
	Value *y = NODE(g, OP_Dropout, "drop", 1, x, zero, t)->out[0];
	graph_add_output(g, out1(g, OP_Relu, "relu", y));
	Run r;
	prepare(g, &r);
	run_pass(g, pass_elim_identity);
	ck_assert_ptr_nonnull(graph_find_node(g, "drop"));
	check_same(g, &r);
	graph_free(g);
}
END_TEST

/* Allocation failures inside a pass are reported, never fatal. */
START_TEST(passes_report_allocation_failure)
{
	static const PassFn passes[] = {pass_fold_bn, pass_fuse, pass_fold_constants, pass_elim_identity};
	for (int k = 0; k < 4; k++) {
		Graph *g = new_graph();
		Value *x = input(g, "x", DT_F32, SHAPE(1, 3, 5, 5));
		Node *conv = conv3x3(g, x, 3, 3, true);
		Value *v = batch_norm(g, "bn", conv->out[0], 3);
		v = NODE(g, OP_Add, "bias_add", 1, v, crand(g, "bias", SHAPE(1, 3, 1, 1), -1, 1))->out[0];
		v = NODE(g, OP_Mul, "scale", 1, v, out1(g, OP_Neg, "neg", crand(g, "k", SHAPE(1, 3, 5, 5), -1, 1)))->out[0];
		Node *dr = NODE(g, OP_Dropout, "drop", 2, v);
		graph_add_output(g, dr->out[0]);
		graph_add_output(g, dr->out[1]);
		Diag d = {0};
		ck_assert_msg(pass_shape_infer(g, NULL, &d) == 0, "%s", d.msg);
		if (passes[k] == pass_fuse) {
			/* fuse's bias constant is the allocation: take BN out of the way first */
			ck_assert_msg(pass_fold_bn(g, NULL, &d) == 0, "%s", d.msg);
		}
		arena_fail_after(1);
		int rc = passes[k](g, NULL, &d);
		arena_fail_after(0);
		ck_assert_int_eq(rc, -1);
		ck_assert(diag_failed(&d));
		ck_assert_msg(strstr(d.msg, "cannot allocate") != NULL, "%s", d.msg);
		graph_free(g);
	}
}
END_TEST

/* ---------------------------------------------------------------- the default pipeline */

START_TEST(default_pipeline_conv_bn_relu)
{
	Graph *g = new_graph();
	Value *x = input(g, "x", DT_F32, SHAPE(1, 3, 6, 6));
	Node *conv = conv3x3(g, x, 3, 4, false);
	Value *v = batch_norm(g, "bn", conv->out[0], 4);
	v = out1(g, OP_Identity, "id", v);
	v = out1(g, OP_Relu, "relu", v);
	graph_add_output(g, out1(g, OP_Identity, "y", v));
	Run r;
	prepare(g, &r);
	Pipeline p;
	Diag d = {0};
	ck_assert_msg(pipeline_parse(default_pipeline, &p, &d) == 0, "%s", d.msg);
	ck_assert_msg(pipeline_run(g, &p, NULL, &d) == 0, "%s", d.msg);
	check_structure(g);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_int_eq(g->nodes[0]->op, OP_FusedConv);
	ck_assert_int_eq(g->nodes[0]->attr.fused_conv.act.kind, ACT_RELU);
	ck_assert_str_eq(g->nodes[0]->out[0]->name, "y");
	check_same(g, &r);
	graph_free(g);
}
END_TEST

static Suite *passes_suite(void)
{
	Suite *s = suite_create("passes");
	TCase *tc = tcase_create("dce");
	tcase_add_test(tc, dce_removes_dead_chains);
	tcase_add_test(tc, dce_keeps_partly_used_and_outputs);
	suite_add_tcase(s, tc);
	tc = tcase_create("fold-constants");
	tcase_add_test(tc, fold_constants_chain);
	tcase_add_test(tc, fold_constants_refuses_bloat);
	tcase_add_test(tc, fold_constants_skips_elided);
	tcase_add_test(tc, fold_constants_multi_output);
	suite_add_tcase(s, tc);
	tc = tcase_create("elim-identity");
	tcase_add_test(tc, elim_identity_keeps_output_name);
	tcase_add_test(tc, elim_identity_input_to_output_stays);
	tcase_add_test(tc, elim_identity_dropout_mask_used);
	tcase_add_test(tc, elim_identity_dropout_dynamic_mask_stays);
	tcase_add_test(tc, elim_identity_shape_ops);
	tcase_add_test(tc, elim_identity_squeeze_unsqueeze);
	tcase_add_test(tc, elim_identity_dropout_training_stays);
	suite_add_tcase(s, tc);
	tc = tcase_create("fold-bn");
	tcase_add_test(tc, fold_bn_conv);
	tcase_add_test(tc, fold_bn_conv_transpose_grouped);
	tcase_add_test(tc, fold_bn_gemm);
	tcase_add_test(tc, fold_bn_not_when_shared);
	tcase_add_test(tc, fold_bn_needs_constants);
	suite_add_tcase(s, tc);
	tc = tcase_create("fuse");
	tcase_add_test(tc, fuse_conv_bias_residual_relu);
	tcase_add_test(tc, fuse_multi_use_not_fused);
	tcase_add_test(tc, fuse_intermediate_graph_output_not_fused);
	tcase_add_test(tc, fuse_rank1_add_is_not_a_channel_bias);
	tcase_add_test(tc, fuse_activations);
	tcase_add_test(tc, fuse_stops_at_add_after_activation);
	tcase_add_test(tc, fuse_residual_computed_after_conv);
	tcase_add_test(tc, fuse_gemm_and_matmul);
	tcase_add_test(tc, fuse_matmul_needs_constant_2d);
	tcase_add_test(tc, fuse_bias_after_residual_and_gemm_full_c);
	tcase_add_test(tc, subsample_1x1_strided_convs);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, passes_report_allocation_failure);
	suite_add_tcase(s, tc);
	tc = tcase_create("pipeline");
	tcase_add_test(tc, default_pipeline_conv_bn_relu);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(passes_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
