/* The activation memory planner: buffers alive at the same time never overlap, dead memory is
 * reused, graph inputs/outputs are not planned, and non-static shapes are refused. */
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

static void assert_no_live_overlap(const Graph *g, const MemPlan *p)
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
			ck_assert_msg(!(live_together && overlap), "values %d and %d share memory while both alive", a, b);
		}
	free(first);
	free(last);
}

START_TEST(test_chain_reuses_two_buffers)
{
	Graph *g = chain(10, 4);
	MemPlan p;
	Diag d = {0};
	ck_assert_int_eq(memplan_build(g, &p, &d), 0);
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
	ck_assert_int_eq(memplan_build(g, &p, &d), 0);
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
	ck_assert_int_eq(memplan_build(g, &p, &d), -1);
	ck_assert_str_eq(d.msg, "value 'r' has the non-static shape [3,?]; the cpu target needs static shapes");
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
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
