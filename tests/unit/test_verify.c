/* The verifier: a valid graph passes, and each way of breaking one is caught with a message
 * that names what is wrong. Every case starts from the same small graph
 *
 *   input x: f32[2,3]; const c: f32[2,3]; a = Add(x, c); r = Relu(a); p = Pad(r, pads); output r
 *
 * and breaks exactly one thing. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef struct Base {
	Graph *g;
	Value *x, *c, *pads, *a, *r, *p;
	Node *add, *relu, *pad;
} Base;

static Base build(void)
{
	Base b;
	Diag d = {0};
	Shape s = shape_make(2, (int64_t[]){2, 3}), s4 = shape_make(1, (int64_t[]){4});
	b.g = graph_new("base");
	b.g->opset = 17;
	b.x = graph_add_value(b.g, "x", DT_F32, &s);
	graph_add_input(b.g, b.x);
	b.c = graph_add_constant(b.g, "c", DT_F32, &s, &d);
	b.pads = graph_add_constant(b.g, "pads", DT_I64, &s4, &d);
	ck_assert_msg(b.c && b.pads, "%s", d.msg);
	((float *)b.c->data)[0] = 1.0f;
	b.add = graph_add_node(b.g, OP_Add, "a", 2, (Value *[]){b.x, b.c}, 1);
	b.a = b.add->out[0];
	b.a->dtype = DT_F32;
	b.a->shape = s;
	b.relu = graph_add_node(b.g, OP_Relu, "r", 1, &b.a, 1);
	b.r = b.relu->out[0];
	b.r->dtype = DT_F32;
	b.r->shape = s;
	b.pad = graph_add_node(b.g, OP_Pad, "p", 2, (Value *[]){b.r, b.pads}, 1);
	b.p = b.pad->out[0];
	b.p->dtype = DT_F32;
	b.p->shape = s; /* pads are all zero */
	graph_add_output(b.g, b.r);
	graph_add_output(b.g, b.p);
	return b;
}

static Value stray = {.id = 99, .name = "stray", .dtype = DT_F32};

static void break_value_id(Base *b) { b->c->id = 5; }
static void break_node_id(Base *b) { b->relu->id = 0; }
static void break_dead(Base *b) { b->relu->dead = true; }
static void break_foreign_producer(Base *b) { b->a->producer = b->relu; }
static void break_orphan_producer(Base *b) { graph_add_value(b->g, "orphan", DT_F32, NULL)->producer = b->relu; }
static void break_two_producers(Base *b) { b->relu->out[0] = b->a; }
static void break_order(Base *b)
{
	Node *t = b->g->nodes[0];
	b->g->nodes[0] = b->g->nodes[1];
	b->g->nodes[1] = t;
	b->g->nodes[0]->id = 0;
	b->g->nodes[1]->id = 1;
}
static void break_undefined_input(Base *b) { b->relu->in[0] = graph_add_value(b->g, "ghost", DT_F32, NULL); }
static void break_foreign_input(Base *b) { b->relu->in[0] = &stray; }
static void break_arity(Base *b)
{
	Value **in = arena_alloc(b->g->arena, 2 * sizeof *in);
	in[0] = in[1] = b->a;
	b->relu->in = in;
	b->relu->n_in = 2;
}
static void break_required_input(Base *b) { b->add->in[1] = NULL; }
static void break_dup_value_name(Base *b) { b->c->name = "x"; }
static void break_unmapped_value(Base *b) { b->c->name = "zzz"; }
static void break_dup_node_name(Base *b) { b->relu->name = "a"; }
static void break_empty_node_name(Base *b) { b->relu->name = ""; }
static void break_undefined_output(Base *b) { graph_add_output(b->g, graph_add_value(b->g, "ghost", DT_F32, NULL)); }
static void break_foreign_output(Base *b) { graph_add_output(b->g, &stray); }
static void break_const_shape(Base *b) { b->c->shape.dim[0] = -1; }
static void break_input_payload(Base *b) { b->x->data = b->c->data; }
static void break_produced_payload(Base *b) { b->a->data = b->c->data; }
static void break_input_twice(Base *b) { graph_add_input(b->g, b->x); }
static void break_encoding(Base *b)
{
	b->c->enc.kind = ENC_NM;
	b->c->enc.u.nm.n = 4;
	b->c->enc.u.nm.m = 2;
}
static void break_enum_attr(Base *b) { b->pad->attr.pad.mode = 9; }
static void break_dtype(Base *b) { b->x->dtype = (DType)77; }
static void break_rank(Base *b) { b->x->shape.rank = 12; }
static void break_overflow(Base *b) { b->x->shape.dim[0] = INT64_MAX / 2; }
static void break_elided_nnz(Base *b)
{
	static const ElidedPayload el = {.crc32 = 1, .nnz = 7};
	b->c->data = NULL;
	b->c->elided = &el;
}

static const struct {
	void (*breaker)(Base *);
	const char *msg;
} cases[] = {
	{break_value_id, "value 'c' has id 5 but is at position 1"},
	{break_node_id, "node 'r' (Relu): has id 0 but is at position 1"},
	{break_dead, "node 'r' (Relu): is dead but still in the graph (graph_compact was not run)"},
	{break_foreign_producer, "node 'a' (Add): output 'a' names another producer"},
	{break_orphan_producer, "value 'orphan' names node 'r' as its producer, but is not one of its outputs"},
	{break_two_producers, "node 'r' (Relu): output 'a' names another producer"},
	{break_order, "node 'r' (Relu): input 'a' is produced by node 'a', which comes later (not in topological order)"},
	{break_undefined_input,
	 "node 'r' (Relu): input 'ghost' is not a graph input, a constant or the output of an earlier node"},
	{break_foreign_input, "node 'r' (Relu): input 0 ('stray') is not a value of the graph"},
	{break_arity, "node 'r' (Relu): takes 1..1 inputs, has 2"},
	{break_required_input, "node 'a' (Add): required input 1 is missing"},
	{break_dup_value_name, "two values are named 'x'"},
	{break_unmapped_value, "value 'zzz' is missing from the name map"},
	{break_dup_node_name, "node 'a' (Relu): another node has the same name"},
	{break_empty_node_name, "node #1 (Relu) has no name"},
	{break_undefined_output, "graph output 'ghost' is not defined by an input, a constant or a node"},
	{break_foreign_output, "graph output #2 is not a value of the graph"},
	{break_const_shape, "constant 'c' has no static shape or its size overflows"},
	{break_input_payload, "graph input 'x' has a constant payload"},
	{break_produced_payload, "value 'a' is produced by node 'a' but also has a constant payload"},
	{break_input_twice, "graph input 'x' is listed twice"},
	{break_encoding, "value 'c' has an invalid encoding"},
	{break_enum_attr, "node 'p' (Pad): attribute mode has an invalid value 9"},
	{break_dtype, "value 'x' has an invalid dtype 77"},
	{break_rank, "value 'x' has an invalid rank 12"},
	{break_overflow, "value 'x' has a shape whose element count overflows"},
	{break_elided_nnz, "constant 'c' claims 7 non-zeros in 6 elements"},
};

START_TEST(test_valid)
{
	Base b = build();
	Diag d = {0};
	ck_assert_msg(graph_verify(b.g, &d) == 0, "%s", d.msg);
	/* unknown stored dims and dtypes agree with anything */
	b.r->shape.dim[0] = -1;
	b.p->shape = shape_unknown();
	b.p->dtype = DT_UNDEFINED;
	ck_assert_msg(graph_verify(b.g, &d) == 0, "%s", d.msg);
	/* an elided constant counts as a constant */
	static const ElidedPayload el = {.crc32 = 1, .nnz = 1};
	b.c->data = NULL;
	b.c->elided = &el;
	ck_assert_msg(graph_verify(b.g, &d) == 0, "%s", d.msg);
	graph_free(b.g);
}
END_TEST

START_TEST(test_broken)
{
	Base b = build();
	cases[_i].breaker(&b);
	Diag d = {0};
	ck_assert_msg(graph_verify(b.g, &d) < 0, "case %d passed the verifier", _i);
	ck_assert_msg(strcmp(d.msg, cases[_i].msg) == 0, "case %d:\n expected: %s\n      got: %s", _i, cases[_i].msg,
		      d.msg);
	graph_free(b.g);
}
END_TEST

/* Stored types that contradict inference; skipped while the op's inference is a stub. */
static bool relu_inference_is_stub(void)
{
	Base b = build();
	Value out = *b.r;
	Value *pout = &out;
	Node scratch = *b.relu;
	scratch.out = &pout;
	out.shape = shape_unknown();
	Diag d = {0};
	bool stub = infer_node(&scratch, &d) < 0 && strstr(d.msg, "shape inference not implemented") != NULL;
	graph_free(b.g);
	return stub;
}

START_TEST(test_types)
{
	if (relu_inference_is_stub())
		return;
	Base b = build();
	Diag d = {0};
	b.r->shape.dim[1] = 4;
	ck_assert_int_lt(graph_verify(b.g, &d), 0);
	ck_assert_str_eq(d.msg, "node 'r' (Relu): output 'r' is stored as f32[2,4] but its inputs give f32[2,3]");
	b.r->shape.dim[1] = 3;
	b.r->dtype = DT_I64;
	diag_clear(&d);
	ck_assert_int_lt(graph_verify(b.g, &d), 0);
	ck_assert_str_eq(d.msg, "node 'r' (Relu): output 'r' is stored as i64[2,3] but its inputs give f32[2,3]");
	b.r->dtype = DT_F32;
	b.r->shape = shape_make(1, (int64_t[]){6});
	diag_clear(&d);
	ck_assert_int_lt(graph_verify(b.g, &d), 0);
	ck_assert_str_eq(d.msg, "node 'r' (Relu): output 'r' is stored as f32[6] but its inputs give f32[2,3]");
	graph_free(b.g);
}
END_TEST

/* Inference that fails on the stored inputs is an error too (here: shapes that cannot broadcast). */
START_TEST(test_inference_failure)
{
	Base b = build();
	b.x->shape = shape_make(2, (int64_t[]){2, 5});
	Diag d = {0};
	int rc = graph_verify(b.g, &d);
	if (rc == 0) {
		/* only while Add's inference is a stub */
		Diag t = {0};
		Node scratch = *b.add;
		Value out = *b.a, *pout = &out;
		scratch.out = &pout;
		ck_assert_int_lt(infer_node(&scratch, &t), 0);
		ck_assert_ptr_nonnull(strstr(t.msg, "shape inference not implemented"));
	} else {
		ck_assert_msg(strncmp(d.msg, "node 'a' (Add): ", 16) == 0, "%s", d.msg);
		ck_assert_msg(strstr(d.msg, "(inferring it again from its stored inputs)") != NULL, "%s", d.msg);
	}
	graph_free(b.g);
}
END_TEST

/* Verification never changes the graph. */
START_TEST(test_no_side_effects)
{
	Base b = build();
	b.r->shape.dim[0] = -1;
	Diag d = {0};
	ck_assert_int_eq(graph_verify(b.g, &d), 0);
	ck_assert_int_eq(b.r->shape.dim[0], -1);
	ck_assert_int_eq(b.p->dtype, DT_F32);
	graph_free(b.g);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_valid);
	tcase_add_loop_test(tc, test_broken, 0, (int)(sizeof cases / sizeof *cases));
	tcase_add_test(tc, test_types);
	tcase_add_test(tc, test_inference_failure);
	tcase_add_test(tc, test_no_side_effects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
