/* The activation memory planner: buffers alive at the same time never overlap (but for an output
 * that takes over a dying input's buffer where the target asks), dead memory is reused, graph
 * inputs/outputs are not planned, and non-static shapes are refused. */
#include <check.h>
#include <stdlib.h>

#include "nnzc/ir.h"

/* x -> Relu -> Relu -> ... (n times) -> y, each [1,c,h,w] */
static Graph *chain(int n, int64_t c)
{
	Graph *g = graph_new("chain");
	Shape s = shape_make(4, (int64_t[]){1, c, 8, 8});
	Value *x = graph_add_value(g, "x", DT_F32, &s);
	graph_add_input(g, x);
	Value *cur = x;
	for (int i = 0; i < n; i++) {
		Node *nd = graph_add_node(g, OP_Relu, NULL, 1, &cur, 1);
		cur = nd->out[0];
	}
	graph_add_output(g, cur);
	Diag d = {0};
	ck_assert_int_eq(pass_shape_infer(g, NULL, &d), 0);
	return g;
}

/* share: the planner's request (NULL: none); a value and the input it took over meet at one node */
static void assert_no_live_overlap_but(const Graph *g, const MemPlan *p, const int *share)
{
	int nv = g->n_values;
	int *first = malloc(sizeof(int) * (size_t)nv), *last = malloc(sizeof(int) * (size_t)nv);
	for (int i = 0; i < nv; i++)
		first[i] = last[i] = -1;
	for (int k = 0; k < g->n_nodes; k++) {
		for (int j = 0; j < g->nodes[k]->n_out; j++)
			first[g->nodes[k]->out[j]->id] = k;
		for (int j = 0; j < g->nodes[k]->n_in; j++)
			if (g->nodes[k]->in[j])
				last[g->nodes[k]->in[j]->id] = k;
	}
	for (int a = 0; a < nv; a++)
		for (int b = a + 1; b < nv; b++) {
			if (p->offset[a] < 0 || p->offset[b] < 0)
				continue;
			int la = last[a] < first[a] ? first[a] : last[a], lb = last[b] < first[b] ? first[b] : last[b];
			bool live_together = first[a] <= lb && first[b] <= la;
			bool overlap = p->offset[a] < p->offset[b] + p->bytes[b] && p->offset[b] < p->offset[a] + p->bytes[a];
			bool taken_over = share && (share[a] == b || share[b] == a) && p->offset[a] == p->offset[b];
			ck_assert_msg(!(live_together && overlap) || taken_over, "values %d and %d share memory while both alive",
				      a, b);
		}
	free(first);
	free(last);
}

static void assert_no_live_overlap(const Graph *g, const MemPlan *p) { assert_no_live_overlap_but(g, p, NULL); }

START_TEST(test_chain_reuses_two_buffers)
{
	Graph *g = chain(10, 4);
	MemPlan p;
	Diag d = {0};
	ck_assert_int_eq(memplan_build(g, NULL, &p, &d), 0);
	ck_assert_int_eq(p.n_buffers, 9); /* ten Relus, the last writes the graph output */
	ck_assert_int_eq(p.size, 2 * 4 * 64 * 4); /* ping-pong between two [1,4,8,8] f32 buffers */
	ck_assert_int_eq(p.naive_size, 9 * 4 * 64 * 4);
	ck_assert_int_eq(p.offset[g->inputs[0]->id], -1);
	ck_assert_int_eq(p.offset[g->outputs[0]->id], -1);
	assert_no_live_overlap(g, &p);
	memplan_free(&p);
	graph_free(g);
}
END_TEST

START_TEST(test_branches_stay_apart)
{
	/* x -> a=Relu(x) -> b=Sigmoid(a) -> c=Tanh(a) -> y=Add(b,c): a lives until Tanh, b until Add */
	Graph *g = graph_new("branches");
	Shape s = shape_make(2, (int64_t[]){3, 5});
	Value *x = graph_add_value(g, "x", DT_F32, &s);
	graph_add_input(g, x);
	Value *a = graph_add_node(g, OP_Relu, "a", 1, &x, 1)->out[0];
	Value *b = graph_add_node(g, OP_Sigmoid, "b", 1, &a, 1)->out[0];
	Value *c = graph_add_node(g, OP_Tanh, "c", 1, &a, 1)->out[0];
	Value *bc[2] = {b, c};
	Value *y = graph_add_node(g, OP_Add, "y", 2, bc, 1)->out[0];
	graph_add_output(g, y);
	Diag d = {0};
	ck_assert_int_eq(pass_shape_infer(g, NULL, &d), 0);
	MemPlan p;
	ck_assert_int_eq(memplan_build(g, NULL, &p, &d), 0);
	ck_assert_int_eq(p.n_buffers, 3);
	assert_no_live_overlap(g, &p);
	ck_assert_int_eq(p.size, 3 * 64); /* 60 bytes each, 64-aligned, all three alive at Tanh */
	memplan_free(&p);
	graph_free(g);
}
END_TEST

START_TEST(test_unknown_shape_is_an_error)
{
	Graph *g = graph_new("dyn");
	Shape s = shape_make(2, (int64_t[]){3, -1});
	Value *x = graph_add_value(g, "x", DT_F32, &s);
	graph_add_input(g, x);
	Node *n = graph_add_node(g, OP_Relu, "r", 1, &x, 1);
	Node *m = graph_add_node(g, OP_Relu, "r2", 1, &n->out[0], 1);
	graph_add_output(g, m->out[0]);
	Diag d = {0};
	ck_assert_int_eq(pass_shape_infer(g, NULL, &d), 0);
	MemPlan p;
	ck_assert_int_eq(memplan_build(g, NULL, &p, &d), -1);
	ck_assert_str_eq(d.msg, "value 'r' has the non-static shape [3,?]; the cpu target needs static shapes");
	graph_free(g);
}
END_TEST

/* x -> r0 = Relu(x); t1 = Tanh(r0); v1 = Add(t1, r0); t2 = Tanh(v1); v2 = Add(t2, v1); y = Relu(v2):
 * a residual chain, each Add asked to write where its second input (dying there) was */
static Graph *residual_chain(Value **vals)
{
	Graph *g = graph_new("residual");
	Shape s = shape_make(4, (int64_t[]){1, 4, 8, 8});
	Value *x = graph_add_value(g, "x", DT_F32, &s);
	graph_add_input(g, x);
	vals[0] = graph_add_node(g, OP_Relu, "r0", 1, &x, 1)->out[0];
	for (int i = 1; i <= 2; i++) {
		Value *t = graph_add_node(g, OP_Tanh, NULL, 1, &vals[i - 1], 1)->out[0];
		Value *in[2] = {t, vals[i - 1]};
		vals[i] = graph_add_node(g, OP_Add, NULL, 2, in, 1)->out[0];
	}
	graph_add_output(g, graph_add_node(g, OP_Relu, "y", 1, &vals[2], 1)->out[0]);
	Diag d = {0};
	ck_assert_int_eq(pass_shape_infer(g, NULL, &d), 0);
	return g;
}

START_TEST(test_residual_takes_over_the_dying_input)
{
	Value *v[3];
	Graph *g = residual_chain(v);
	int *share = malloc(sizeof(int) * (size_t)g->n_values);
	for (int i = 0; i < g->n_values; i++)
		share[i] = -1;
	MemPlan plain, p;
	Diag d = {0};
	ck_assert_int_eq(memplan_build(g, NULL, &plain, &d), 0);
	share[v[1]->id] = v[0]->id;
	share[v[2]->id] = v[1]->id;
	ck_assert_int_eq(memplan_build(g, share, &p, &d), 0);
	/* the chain is one buffer: r0, v1 and v2 at one offset, the Tanh outputs elsewhere */
	ck_assert_int_eq(p.offset[v[1]->id], p.offset[v[0]->id]);
	ck_assert_int_eq(p.offset[v[2]->id], p.offset[v[0]->id]);
	ck_assert_int_eq(p.n_buffers, plain.n_buffers - 2);
	ck_assert_int_le(p.size, plain.size);
	ck_assert_int_eq(p.naive_size, plain.naive_size);
	assert_no_live_overlap_but(g, &p, share);
	memplan_free(&plain);
	memplan_free(&p);
	free(share);
	graph_free(g);
}
END_TEST

START_TEST(test_share_refused_where_the_input_lives_on)
{
	/* a = Relu(x); b = Tanh(a); c = Add(b, a); e = Add(c, a); t = Tanh(x2); f = Add(e, t); ...:
	 * c may not take a's buffer (e reads a after c is made), b not the graph input's, f not t's
	 * (of another size), e may take c's */
	Graph *g = graph_new("refused");
	Shape s = shape_make(2, (int64_t[]){3, 16}), s2 = shape_make(2, (int64_t[]){1, 16});
	Value *x = graph_add_value(g, "x", DT_F32, &s), *x2 = graph_add_value(g, "x2", DT_F32, &s2);
	graph_add_input(g, x);
	graph_add_input(g, x2);
	Value *a = graph_add_node(g, OP_Relu, "a", 1, &x, 1)->out[0];
	Value *b = graph_add_node(g, OP_Tanh, "b", 1, &a, 1)->out[0];
	Value *ba[2] = {b, a};
	Value *c = graph_add_node(g, OP_Add, "c", 2, ba, 1)->out[0];
	Value *ca[2] = {c, a};
	Value *e = graph_add_node(g, OP_Add, "e", 2, ca, 1)->out[0];
	Value *t = graph_add_node(g, OP_Tanh, "t", 1, &x2, 1)->out[0];
	Value *et[2] = {e, t};
	Value *f = graph_add_node(g, OP_Add, "f", 2, et, 1)->out[0]; /* broadcast: [3,16] + [1,16] */
	graph_add_output(g, graph_add_node(g, OP_Relu, "y", 1, &f, 1)->out[0]);
	Diag d = {0};
	ck_assert_int_eq(pass_shape_infer(g, NULL, &d), 0);
	int *share = malloc(sizeof(int) * (size_t)g->n_values);
	for (int i = 0; i < g->n_values; i++)
		share[i] = -1;
	share[c->id] = a->id;  /* a is read later */
	share[b->id] = x->id;  /* a graph input */
	share[f->id] = t->id;  /* t dies at f, but is smaller */
	share[e->id] = c->id;  /* honoured: c dies at e */
	MemPlan p;
	ck_assert_int_eq(memplan_build(g, share, &p, &d), 0);
	ck_assert_int_ne(p.offset[c->id], p.offset[a->id]);
	ck_assert_int_eq(p.offset[x->id], -1);
	ck_assert_int_ge(p.offset[b->id], 0);
	ck_assert_int_ne(p.offset[f->id], p.offset[t->id]);
	ck_assert_int_eq(p.offset[e->id], p.offset[c->id]);
	assert_no_live_overlap_but(g, &p, share);
	memplan_free(&p);
	free(share);
	graph_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("memplan");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_chain_reuses_two_buffers);
	tcase_add_test(tc, test_branches_stay_apart);
	tcase_add_test(tc, test_unknown_shape_is_an_error);
	tcase_add_test(tc, test_residual_takes_over_the_dying_input);
	tcase_add_test(tc, test_share_refused_where_the_input_lives_on);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
