/* The text IR: golden dumps of hand-built graphs, print(parse(print(g))) == print(g) with and
 * without elision (hand-written dumps, mutated dumps, and every ONNX backend node-test model
 * that imports), exact parse errors with their line:col, and well-formed DOT and JSON. */
#include "testutil.h"
#include "nnzc/ir.h"

#include <check.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_TESTS "/usr/share/libonnx-testdata/data/node"
#define PY "/usr/bin/python3"

/* ------------------------------------------------------------------ helpers */

static char *dump_fmt(const Graph *g, DumpFormat fmt, int64_t elide_above)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	PrintOptions po = {.elide_above = elide_above};
	ck_assert_int_eq(graph_dump(g, fmt, f, &po), 0);
	fclose(f);
	return text;
}

static char *dump(const Graph *g, int64_t elide_above) { return dump_fmt(g, DUMP_TEXT, elide_above); }

static char *fmt_alloc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fmt_alloc(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* print(parse(print(g))) == print(g); NULL if so, else a message (malloc'd). */
static char *roundtrip_error(const Graph *g, int64_t elide_above)
{
	char *p1 = dump(g, elide_above), *err = NULL;
	Diag d = {0};
	Graph *g2 = graph_parse(p1, "roundtrip", &d);
	if (g2 == NULL) {
		err = fmt_alloc("reparse failed: %s\n--- text:\n%s", d.msg, p1);
	} else {
		char *p2 = dump(g2, elide_above);
		if (strcmp(p1, p2) != 0)
			err = fmt_alloc("round trip differs:\n--- first:\n%s--- second:\n%s", p1, p2);
		free(p2);
		graph_free(g2);
	}
	free(p1);
	return err;
}

static void assert_roundtrip(const Graph *g)
{
	static const int64_t elisions[] = {-1, 0, 4, 16};
	for (size_t i = 0; i < sizeof elisions / sizeof *elisions; i++) {
		char *err = roundtrip_error(g, elisions[i]);
		ck_assert_msg(err == NULL, "elide_above=%lld: %s", (long long)elisions[i], err);
	}
}

/* parse(text) must succeed and print back exactly as text (text is canonical) */
static Graph *assert_canonical(const char *text, int64_t elide_above)
{
	Diag d = {0};
	Graph *g = graph_parse(text, "canonical", &d);
	ck_assert_msg(g != NULL, "parse failed: %s", d.msg);
	char *out = dump(g, elide_above);
	ck_assert_msg(strcmp(out, text) == 0, "expected:\n%s--- got:\n%s", text, out);
	free(out);
	return g;
}

static Shape shp(int rank, const int64_t *dims) { return shape_make(rank, dims); }
#define SHAPE(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void set_type(Value *v, DType t, Shape s)
{
	v->dtype = t;
	v->shape = s;
}

/* The graph of the format's documentation, built through the graph API. */
static Graph *build_tiny(void)
{
	Diag d = {0};
	Graph *g = graph_new("tiny_cnn");
	g->opset = 17;
	Shape sx = SHAPE(1, 3, 8, 8);
	Value *x = graph_add_value(g, "x", DT_F32, &sx);
	graph_add_input(g, x);
	Shape sw = SHAPE(4, 3, 3, 3), sb = SHAPE(4), ss = SHAPE(2);
	Value *w = graph_add_constant(g, "w", DT_F32, &sw, &d);
	Value *b = graph_add_constant(g, "b", DT_F32, &sb, &d);
	Value *shape = graph_add_constant(g, "shape", DT_I64, &ss, &d);
	ck_assert_msg(w && b && shape, "%s", d.msg);
	for (int i = 0; i < 108; i++)
		((float *)w->data)[i] = (float)(i % 7) * 0.25f - 0.5f;
	memcpy(b->data, (float[]){0.5f, 0.0f, -1.25f, 3.0f}, 4 * sizeof(float));
	memcpy(shape->data, (int64_t[]){1, -1}, 2 * sizeof(int64_t));

	Node *conv = graph_add_node(g, OP_Conv, "conv1", 3, (Value *[]){x, w, b}, 1);
	conv->attr.conv.pads = (Ints){4, {1, 1, 1, 1}};
	conv->attr.conv.strides = (Ints){2, {1, 1}};
	set_type(conv->out[0], DT_F32, SHAPE(1, 4, 8, 8));
	Node *split = graph_add_node(g, OP_Split, "split0", 2, (Value *[]){conv->out[0], NULL}, 2);
	split->attr.split.axis = 1;
	split->attr.split.num_outputs = 2;
	set_type(split->out[0], DT_F32, SHAPE(1, 2, 8, 8));
	set_type(split->out[1], DT_F32, SHAPE(1, 2, 8, 8));
	Node *relu = graph_add_node(g, OP_Relu, "weird name", 1, &split->out[0], 1);
	set_type(relu->out[0], DT_F32, SHAPE(-1, 2, 8, 8));
	Node *flat = graph_add_node(g, OP_Reshape, "flat", 2, (Value *[]){split->out[1], shape}, 1);
	set_type(flat->out[0], DT_F32, SHAPE(1, 128));
	graph_add_output(g, relu->out[0]);
	graph_add_output(g, flat->out[0]);
	return g;
}

static const char tiny_golden[] =
	"graph \"tiny_cnn\" opset 17 {\n"
	"  input %x: f32[1,3,8,8]\n"
	"  const %w: f32[4,3,3,3] dense nnz=92 (85.2%) = elided(crc32=0x503ea9fb)\n"
	"  const %b: f32[4] dense nnz=3 (75.0%) = [0.5, 0, -1.25, 3]\n"
	"  const %shape: i64[2] dense nnz=2 (100.0%) = [1, -1]\n"
	"  conv1 = Conv(%x, %w, %b) {pads=[1,1,1,1], strides=[1,1]} -> %conv1: f32[1,4,8,8]\n"
	"  split0 = Split(%conv1, _) {axis=1, num_outputs=2} -> %split0:0: f32[1,2,8,8], %split0:1: f32[1,2,8,8]\n"
	"  \"weird name\" = Relu(%split0:0) -> %\"weird name\": f32[?,2,8,8]\n"
	"  flat = Reshape(%split0:1, %shape) -> %flat: f32[1,128]\n"
	"  output %\"weird name\"\n"
	"  output %flat\n"
	"}\n";

/* Every corner of the syntax, in the printer's canonical form. An encoded constant with its
 * values must be some node's weight (Gemm, MatMul here), so that it can be packed again. */
static const char corners_golden[] =
	"graph \"enc \\\"quoted\\\"\" opset 13 {\n"
	"  input %\"x y\": f32[*]\n"
	"  input %s: i64[]\n"
	"  input %u: undefined[?,4]\n"
	"  const %k1: f32[2,4] csr nnz=3 (37.5%) = [1, 0, 0, 2, 0, 0, 3, 0]\n"
	"  const %k2: f32[2,4] bsr(2,2) nnz=4 (50.0%) = [1, 2, 0, 0, 3, 4, 0, 0]\n"
	"  const %k3: f32[2,4] nm(2,4) nnz=4 (50.0%) = [0, 1.5, -2.25, 0, 1.00000001e-07, 0, 0, 3.40282347e+38]\n"
	"  const %k4: f16[2,4] gs(2,4) nnz=8 (100.0%) = elided(crc32=0xdeadbeef)\n"
	"  const %k5: f32[2,4] tasd[(2,4),(1,4)] nnz=5 (62.5%) = [nan, inf, -inf, -0, 0, 1, 0, 0.100000001]\n"
	"  const %\"a\\\"b\\\\c\": bool[2] dense nnz=1 (50.0%) = [1, 0]\n"
	"  const %\"\\x01ctl\\x0a\": i8[0] dense nnz=0 (0.0%) = []\n"
	"  const %\"9lives\": f32[] dense nnz=1 (100.0%) = [6]\n"
	"  const %big: i64[2] dense nnz=2 (100.0%) = [-9223372036854775808, 9223372036854775807]\n"
	"  input = Identity(%\"x y\") -> %\"ends:\": f32[*] nm(2,4)\n"
	"  output = Add(%k1, %k2) -> %onnx::Add_3: f32[2,4]\n"
	"  const = Clip(%onnx::Add_3, _, %\"9lives\") -> %_: f32[2,4] tasd[(2,4),(1,4)]\n"
	"  \"node with space\" = Split(%_, _) {axis=-1} -> %a.b/c-d: f32[2,2], %\"->\": f32[2,2]\n"
	"  n2 = Cast(%s) {to=f32} -> %cast: f32[]\n"
	"  nnzc.fused = nnzc.FusedConv(%\"x y\", %k3) {activation=leaky_relu, act_alpha=0.100000001} -> %fc: f32[*]\n"
	"  gemm1 = Gemm(%k2, %k1) {transB=1} -> %y1: f32[2,2]\n"
	"  gemm3 = Gemm(%k1, %k3) {transB=1} -> %y3: f32[2,2]\n"
	"  gemm5 = Gemm(%k1, %k5) {transB=1} -> %y5: f32[2,2]\n"
	"  mm = MatMul(%a.b/c-d, %k2) -> %y2: f32[2,4]\n"
	"  output %\"->\"\n"
	"  output %_\n"
	"  output %k3\n"
	"}\n";

/* ------------------------------------------------------------------ golden and round trip */

START_TEST(test_crc32)
{
	ck_assert_uint_eq(crc32_bytes("123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(crc32_bytes("", 0), 0u);
}
END_TEST

START_TEST(test_golden_tiny)
{
	Graph *g = build_tiny();
	Diag d = {0};
	ck_assert_msg(graph_verify(g, &d) == 0, "%s", d.msg);
	char *text = dump(g, 16);
	ck_assert_msg(strcmp(text, tiny_golden) == 0, "expected:\n%s--- got:\n%s", tiny_golden, text);
	free(text);
	assert_roundtrip(g);
	graph_free(g);
	/* the golden text itself is an input, and reads back to the same dump */
	graph_free(assert_canonical(tiny_golden, 16));
}
END_TEST

START_TEST(test_golden_corners)
{
	Graph *g = assert_canonical(corners_golden, -1);
	/* what the parser rebuilt */
	Value *v = graph_find_value(g, "a\"b\\c");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->dtype, DT_BOOL);
	v = graph_find_value(g, "\x01" "ctl\n");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->shape.rank, 1);
	ck_assert_int_eq(v->shape.dim[0], 0);
	v = graph_find_value(g, "k4");
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(v->data);
	ck_assert_ptr_nonnull(v->elided);
	ck_assert_uint_eq(v->elided->crc32, 0xdeadbeefu);
	ck_assert_int_eq(v->elided->nnz, 8);
	ck_assert_int_eq(v->enc.kind, ENC_GS);
	v = graph_find_value(g, "_");
	ck_assert_int_eq(v->enc.kind, ENC_TASD);
	ck_assert_int_eq(v->enc.u.tasd.nterms, 2);
	ck_assert_int_eq(v->enc.u.tasd.term[1].n, 1);
	Node *n = graph_find_node(g, "const");
	ck_assert_int_eq(n->op, OP_Clip);
	ck_assert_int_eq(n->n_in, 3);
	ck_assert_ptr_null(n->in[1]);
	n = graph_find_node(g, "node with space");
	ck_assert_int_eq(n->n_out, 2);
	ck_assert_int_eq(n->attr.split.axis, -1);
	ck_assert_str_eq(n->out[1]->name, "->");
	ck_assert_ptr_eq(n->out[1]->producer, n);
	ck_assert_str_eq(g->name, "enc \"quoted\"");
	ck_assert_int_eq(g->opset, 13);
	ck_assert_int_eq(g->n_inputs, 3);
	ck_assert_int_eq(g->n_outputs, 3);
	const int64_t *big = graph_find_value(g, "big")->data;
	ck_assert(big[0] == INT64_MIN && big[1] == INT64_MAX);
	assert_roundtrip(g);
	/* elided: every constant of more than 4 elements becomes a checksum, which parses back */
	char *e = dump(g, 4);
	ck_assert_ptr_nonnull(strstr(e, "const %k1: f32[2,4] csr nnz=3 (37.5%) = elided(crc32=0x"));
	free(e);
	graph_free(g);
}
END_TEST

/* Comments, blank lines, extra blanks and quoted spellings of bare names all parse; the dump
 * comes out canonical. */
START_TEST(test_lenient_input)
{
	static const char text[] =
		"// ----- IR after shape-infer ----- //\n"
		"\n"
		"graph g opset 17 {   # the graph name may be bare\n"
		"\n"
		"  input   %\"x\" :  f32 [ 2 , ? ]   // quoted although bare is enough\n"
		"# a comment line\n"
		"\t\"r\" = Relu( %x ) -> %y : f32[2,?]\n"
		"  output %y\n"
		"}\n"
		"// trailing comment\n";
	static const char canon[] =
		"graph \"g\" opset 17 {\n"
		"  input %x: f32[2,?]\n"
		"  r = Relu(%x) -> %y: f32[2,?]\n"
		"  output %y\n"
		"}\n";
	Diag d = {0};
	Graph *g = graph_parse(text, "lenient", &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	char *out = dump(g, -1);
	ck_assert_str_eq(out, canon);
	free(out);
	graph_free(g);
}
END_TEST

/* A constant known only by its checksum prints the stored checksum whatever the elision. */
START_TEST(test_elided_const_kept)
{
	static const char text[] =
		"graph \"e\" opset 17 {\n"
		"  const %w: f32[3] dense nnz=2 (66.7%) = elided(crc32=0x00000001)\n"
		"  output %w\n"
		"}\n";
	Graph *g = assert_canonical(text, -1);
	char *out = dump(g, 100);
	ck_assert_str_eq(out, text);
	free(out);
	graph_free(g);
}
END_TEST

/* The checksum is that of the compute-class bytes: the elided dump of a constant matches the
 * crc32 of its payload. */
START_TEST(test_elided_crc_matches_payload)
{
	Graph *g = build_tiny();
	Value *w = graph_find_value(g, "w");
	char want[64];
	snprintf(want, sizeof want, "elided(crc32=0x%08x)", (unsigned)crc32_bytes(w->data, 108 * sizeof(float)));
	char *out = dump(g, 0);
	ck_assert_ptr_nonnull(strstr(out, want));
	free(out);
	graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ parse errors */

#define HDR "graph \"g\" opset 17 {\n"

static const struct {
	const char *text, *msg;
} parse_errors[] = {
	{"", "t.ir:1:1: expected 'graph'"},
	{"graph \"g\" opset x {\n}\n", "t.ir:1:17: expected an opset number"},
	{"graph \"g\" opset 17 {\n  input %x: f32[1]\n", "t.ir:3:1: missing '}' at the end of the graph"},
	{HDR "}\ngraph", "t.ir:3:1: unexpected text after the graph"},
	{HDR "} x\n", "t.ir:2:3: expected the end of the line"},
	{HDR "  input %x: f99[1]\n}\n", "t.ir:2:13: expected a dtype (f32, f16, bf16, f64, i8..i64, u8..u64, bool)"},
	{HDR "  input %x f32[1]\n}\n", "t.ir:2:12: expected ':'"},
	{HDR "  input %x: f32[1\n}\n", "t.ir:2:18: expected ',' or ']' in a shape"},
	{HDR "  input %x: f32[-1]\n}\n", "t.ir:2:17: negative dimension"},
	{HDR "  input %x: f32[1,1,1,1,1,1,1,1,1]\n}\n", "t.ir:2:33: more than 8 dimensions"},
	{HDR "  input %x: f32[1] nm(4,2)\n}\n", "t.ir:2:20: nm(4,2): N must not exceed M"},
	{HDR "  input %x: f32[1] sparse\n}\n", "t.ir:2:20: unknown encoding 'sparse'"},
	{HDR "  input %\"x: f32[1]\n}\n", "t.ir:2:10: unterminated string"},
	{HDR "  input %\"a\\qb\": f32[1]\n}\n", "t.ir:2:12: unknown escape in a string (\\\", \\\\ and \\xHH are allowed)"},
	{HDR "  input %\"\": f32[1]\n}\n", "t.ir:2:10: expected a value name after '%', not an empty string"},
	{HDR "  input %x: f32[1]\n  input %x: f32[2]\n}\n", "t.ir:3:9: value '%x' is already defined"},
	{HDR "  inptu %x: f32[1]\n}\n", "t.ir:2:3: unknown statement 'inptu'"},
	{HDR "  y = Relu(%x) -> %y: f32[1]\n}\n",
	 "t.ir:2:12: value '%x' is not defined (values must be defined before they are used)"},
	{HDR "  input %x: f32[1]\n  y = Frob(%x) -> %y: f32[1]\n}\n", "t.ir:3:7: unknown op 'Frob'"},
	{HDR "  input %x: f32[1]\n  y = Relu(%x) {alpha=1} -> %y: f32[1]\n}\n",
	 "t.ir:3:17: unknown attribute 'alpha' for Relu"},
	{HDR "  input %x: f32[1]\n  y = LeakyRelu(%x) {alpha=1, alpha=2} -> %y: f32[1]\n}\n",
	 "t.ir:3:31: attribute 'alpha' given twice"},
	{HDR "  input %x: f32[1]\n  y = Concat(%x) {axis=x} -> %y: f32[1]\n}\n",
	 "t.ir:3:24: attribute axis: expected an integer"},
	{HDR "  input %x: f32[1]\n  y = Concat(%x) -> %y: f32[1]\n}\n", "t.ir:3:7: Concat needs attribute 'axis'"},
	{HDR "  input %x: f32[1]\n  y = Relu(%x, %x) -> %y: f32[1]\n}\n", "t.ir:3:7: Relu takes 1..1 inputs, not 2"},
	{HDR "  input %x: f32[1]\n  y = Add(%x, _) -> %y: f32[1]\n}\n", "t.ir:3:7: Add: required input 1 is omitted"},
	{HDR "  input %x: f32[1]\n  y = Relu(%x) %y: f32[1]\n}\n", "t.ir:3:16: expected '->' and the outputs"},
	{HDR "  input %x: f32[1]\n  y = Relu(%x) -> %x: f32[1]\n}\n", "t.ir:3:19: value '%x' is already defined"},
	{HDR "  input %x: f32[1]\n  y = Relu(%x) -> %y: f32[1]\n  y = Relu(%y) -> %z: f32[1]\n}\n",
	 "t.ir:4:3: node 'y' is already defined"},
	{HDR "  output %nope\n}\n",
	 "t.ir:2:10: value '%nope' is not defined (values must be defined before they are used)"},
	{HDR "  const %c: f32[2] dense nnz=2 (100.0%) = [1, 0]\n}\n",
	 "t.ir:2:26: nnz=2 but the values hold 1 non-zeros"},
	{HDR "  const %c: f32[3] dense nnz=2 (66.7%) = [1, 2]\n}\n",
	 "t.ir:2:42: 2 values for a shape of 3 elements"},
	{HDR "  const %c: f32[1] dense nnz=1 (100.0%) = [1, 2]\n}\n",
	 "t.ir:2:47: more values than the 1 elements of the shape"},
	{HDR "  const %c: i64[1] dense nnz=1 (100.0%) = [1.5]\n}\n", "t.ir:2:44: expected an integer"},
	{HDR "  const %c: i64[1] dense nnz=1 (100.0%) = [99999999999999999999]\n}\n",
	 "t.ir:2:44: an integer out of range"},
	{HDR "  const %c: f32[1] dense nnz=1 (100.0%) = [x]\n}\n", "t.ir:2:44: expected a number"},
	{HDR "  const %c: f32[?] dense nnz=1 (100.0%) = [1]\n}\n", "t.ir:2:13: a constant needs a static shape"},
	{HDR "  const %c: f32[2] dense nnz=3 (150.0%) = elided(crc32=0x1)\n}\n", "t.ir:2:26: nnz=3 is not in 0..2"},
	{HDR "  const %c: f32[2] dense nnz=1 (50.0%) = elided(crc32=1)\n}\n",
	 "t.ir:2:55: expected a checksum 0xHHHHHHHH"},
	{HDR "  const %c: f32[2] dense nnz=1 (50.0%) = elided(crc32=0x123456789)\n}\n",
	 "t.ir:2:55: checksum longer than 32 bits"},
	{HDR "  const %c: f32[2] dense nnz=1 50.0% = [1, 0]\n}\n", "t.ir:2:32: expected '('"},
};

START_TEST(test_parse_errors)
{
	Diag d = {0};
	Graph *g = graph_parse(parse_errors[_i].text, "t.ir", &d);
	ck_assert_msg(g == NULL, "case %d parsed", _i);
	ck_assert_msg(strcmp(d.msg, parse_errors[_i].msg) == 0, "case %d:\n expected: %s\n      got: %s", _i,
		      parse_errors[_i].msg, d.msg);
}
END_TEST

/* Once shape inference of Relu exists, a dump whose stored type contradicts it is rejected by
 * the verifier that the parser runs. */
START_TEST(test_parse_runs_verifier)
{
	static const char text[] = HDR "  input %x: f32[2]\n  r = Relu(%x) -> %y: f32[3]\n  output %y\n}\n";
	Diag d = {0};
	Graph *g = graph_parse(text, "t.ir", &d);
	if (g != NULL) {
		/* only acceptable while infer_unary is a stub */
		Graph *h = graph_new("probe");
		Shape s = SHAPE(2);
		Value *x = graph_add_value(h, "x", DT_F32, &s);
		graph_add_input(h, x);
		Node *n = graph_add_node(h, OP_Relu, "r", 1, &x, 1);
		Diag t = {0};
		ck_assert_int_lt(infer_node(n, &t), 0);
		ck_assert_ptr_nonnull(strstr(t.msg, "shape inference not implemented"));
		graph_free(h);
		graph_free(g);
		return;
	}
	ck_assert_str_eq(d.msg, "t.ir: node 'r' (Relu): output 'y' is stored as f32[3] but its inputs give f32[2]");
}
END_TEST

/* ------------------------------------------------------------------ DOT and JSON */

/* A small DOT reader, enough for what graph_print_dot writes: statements are
 * ID [attrs]; | ID -> ID [attrs]; | ID = ID; with quoted or bare IDs. Returns NULL or why not. */
static const char *dot_token(const char **s, char *tok, size_t cap)
{
	const char *p = *s;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	size_t n = 0;
	if (*p == '\0') {
		tok[0] = '\0';
	} else if (*p == '"') {
		tok[n++] = *p++;
		while (*p != '"') {
			if (*p == '\0' || *p == '\n')
				return "unterminated string";
			if (*p == '\\' && p[1])
				p++;
			if (n + 2 < cap)
				tok[n++] = 'x';
			p++;
		}
		tok[n++] = *p++;
		tok[n] = '\0';
	} else if (p[0] == '-' && p[1] == '>') {
		strcpy(tok, "->");
		p += 2;
	} else if (strchr("{}[];=,", *p)) {
		tok[0] = *p++;
		tok[1] = '\0';
	} else {
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		       *p == '.')
			if (n + 1 < cap)
				tok[n++] = *p++;
			else
				p++;
		if (n == 0)
			return "unexpected character";
		tok[n] = '\0';
	}
	*s = p;
	return NULL;
}

static bool dot_id(const char *t) { return t[0] == '"' || (t[0] && strchr("{}[];=,-", t[0]) == NULL); }

static const char *dot_check(const char *s)
{
	char t[256];
	const char *e;
	if ((e = dot_token(&s, t, sizeof t)) || strcmp(t, "digraph"))
		return e ? e : "no digraph";
	if ((e = dot_token(&s, t, sizeof t)) || !dot_id(t))
		return e ? e : "no graph id";
	if ((e = dot_token(&s, t, sizeof t)) || strcmp(t, "{"))
		return e ? e : "no {";
	for (;;) {
		if ((e = dot_token(&s, t, sizeof t)))
			return e;
		if (strcmp(t, "}") == 0)
			break;
		if (!dot_id(t))
			return "statement does not start with an id";
		if ((e = dot_token(&s, t, sizeof t)))
			return e;
		if (strcmp(t, "=") == 0) {
			if ((e = dot_token(&s, t, sizeof t)) || !dot_id(t))
				return e ? e : "bad value";
			if ((e = dot_token(&s, t, sizeof t)))
				return e;
		} else {
			if (strcmp(t, "->") == 0) {
				if ((e = dot_token(&s, t, sizeof t)) || !dot_id(t))
					return e ? e : "bad edge target";
				if ((e = dot_token(&s, t, sizeof t)))
					return e;
			}
			if (strcmp(t, "[") == 0) {
				for (;;) {
					if ((e = dot_token(&s, t, sizeof t)) || !dot_id(t))
						return e ? e : "bad attribute name";
					if ((e = dot_token(&s, t, sizeof t)) || strcmp(t, "="))
						return e ? e : "attribute without =";
					if ((e = dot_token(&s, t, sizeof t)) || !dot_id(t))
						return e ? e : "bad attribute value";
					if ((e = dot_token(&s, t, sizeof t)))
						return e;
					if (strcmp(t, "]") == 0)
						break;
					if (strcmp(t, ","))
						return "expected , or ]";
				}
				if ((e = dot_token(&s, t, sizeof t)))
					return e;
			}
		}
		if (strcmp(t, ";"))
			return "statement does not end with ;";
	}
	if ((e = dot_token(&s, t, sizeof t)) || t[0])
		return e ? e : "text after the graph";
	return NULL;
}

static void check_dot(const Graph *g)
{
	char *dot = dump_fmt(g, DUMP_DOT, 16);
	const char *why = dot_check(dot);
	ck_assert_msg(why == NULL, "invalid DOT (%s):\n%s", why, dot);
	free(dot);
}

/* json.tool must accept the dump, and its structure must be the documented one. */
static void check_json(const Graph *g)
{
	char path[] = "/tmp/nnzc_json_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	graph_print_json(g, f);
	fclose(f);
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 PY " -c \"import json,sys\n"
		    "d=json.load(open(sys.argv[1], encoding='utf-8'))\n"
		    "assert set(d)=={'name','opset','inputs','constants','nodes','outputs'}, d.keys()\n"
		    "for v in d['inputs']: assert set(v)=={'name','dtype','shape'}\n"
		    "for v in d['constants']: assert set(v)-{'stored'}=={'name','dtype','shape','encoding','nnz','density'}\n"
		    "for n in d['nodes']:\n"
		    "  assert set(n)=={'name','op','inputs','outputs','attrs'}\n"
		    "  for o in n['outputs']: assert set(o)=={'name','dtype','shape','encoding'}\n"
		    "assert all(isinstance(o,str) for o in d['outputs'])\n"
		    "\" %s && " PY " -m json.tool %s >/dev/null",
		 path, path);
	int rc = system(cmd);
	if (rc != 0) {
		char *json = dump_fmt(g, DUMP_JSON, 16);
		ck_abort_msg("invalid JSON (%d):\n%s", rc, json);
	}
	unlink(path);
}

START_TEST(test_dot_json)
{
	Graph *g = build_tiny();
	check_dot(g);
	check_json(g);
	char *dot = dump_fmt(g, DUMP_DOT, 16);
	ck_assert_ptr_nonnull(strstr(dot, "n0 [shape=box, label=\"conv1\\nConv\\n-> f32[1,4,8,8]\\nw: f32[4,3,3,3] dense "
					  "nnz=92 (85.2%)\\nb: f32[4] dense nnz=3 (75.0%)\"];"));
	ck_assert_ptr_nonnull(strstr(dot, "in0 -> n0 [label=\"f32[1,3,8,8]\"];"));
	ck_assert_ptr_nonnull(strstr(dot, "n1 -> n2 [label=\"f32[1,2,8,8]\"];"));
	ck_assert_ptr_nonnull(strstr(dot, "n3 -> out1 [label=\"f32[1,128]\"];"));
	free(dot);
	char *json = dump_fmt(g, DUMP_JSON, 16);
	ck_assert_ptr_nonnull(strstr(json, "{\"name\": \"x\", \"dtype\": \"f32\", \"shape\": [1,3,8,8]}"));
	ck_assert_ptr_nonnull(strstr(json, "{\"name\": \"b\", \"dtype\": \"f32\", \"shape\": [4], \"encoding\": \"dense\", "
					   "\"nnz\": 3, \"density\": 0.75}"));
	ck_assert_ptr_nonnull(strstr(json, "\"inputs\": [\"conv1\", null]"));
	ck_assert_ptr_nonnull(strstr(json, "\"attrs\": {\"pads\": [1,1,1,1], \"strides\": [1,1]}"));
	ck_assert_ptr_nonnull(strstr(json, "\"shape\": [null,2,8,8]"));
	free(json);
	graph_free(g);

	Diag d = {0};
	g = graph_parse(corners_golden, "corners", &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	/* names with quotes, backslashes and control bytes; non-finite floats; unknown rank */
	check_dot(g);
	check_json(g);
	json = dump_fmt(g, DUMP_JSON, 16);
	ck_assert_ptr_nonnull(strstr(json, "\"name\": \"\\u0001ctl\\n\""));
	ck_assert_ptr_nonnull(strstr(json, "\"name\": \"a\\\"b\\\\c\""));
	ck_assert_ptr_nonnull(strstr(json, "\"shape\": null"));
	ck_assert_ptr_nonnull(strstr(json, "\"attrs\": {\"activation\": \"leaky_relu\", \"act_alpha\": 0.100000001}"));
	free(json);
	graph_free(g);

	/* bytes that are not UTF-8 still make valid JSON */
	g = graph_new("bad \xff utf8 \xc3\xa9");
	check_json(g);
	graph_free(g);
}
END_TEST

/* ------------------------------------------------------------------ fuzzing */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Mutate text: flips, deletions, insertions of grammar characters, duplicated or dropped lines. */
static char *mutate(const char *src)
{
	size_t n = strlen(src), cap = 2 * n + 64;
	char *s = malloc(cap);
	memcpy(s, src, n + 1);
	int rounds = 1 + (int)(rnd() % 4);
	static const char alphabet[] = "%\"\\:,=()[]{}_-> \n#/?*0123456789abcxyz.";
	for (int r = 0; r < rounds && n > 0; r++) {
		size_t at = rnd() % n;
		switch (rnd() % 6) {
		case 0: s[at] = (char)(rnd() % 255 + 1); break;
		case 1: memmove(s + at, s + at + 1, n - at); n--; break;
		case 2:
			if (n + 2 < cap) {
				memmove(s + at + 1, s + at, n - at + 1);
				s[at] = alphabet[rnd() % (sizeof alphabet - 1)];
				n++;
			}
			break;
		case 3: s[at] = alphabet[rnd() % (sizeof alphabet - 1)]; break;
		case 4: { /* drop from here to the end of the line */
			size_t e = at;
			while (e < n && s[e] != '\n')
				e++;
			memmove(s + at, s + e, n - e + 1);
			n -= e - at;
			break;
		}
		case 5: { /* duplicate a stretch */
			size_t len = rnd() % 40;
			if (at + len > n)
				len = n - at;
			if (n + len + 1 < cap) {
				memmove(s + at + len, s + at, n - at + 1);
				n += len;
			}
			break;
		}
		}
	}
	return s;
}

START_TEST(test_fuzz_mutations)
{
	const char *seeds[] = {tiny_golden, corners_golden};
	long iters = 20000;
	const char *env = getenv("NNZC_FUZZ_ITERS");
	if (env)
		iters = atol(env);
	long parsed = 0;
	for (long i = 0; i < iters; i++) {
		char *text = mutate(seeds[i % 2]);
		Diag d = {0};
		Graph *g = graph_parse(text, "fuzz", &d);
		if (g == NULL) {
			ck_assert_msg(d.msg[0] != '\0', "rejected without a message:\n%s", text);
		} else {
			/* whatever parses must round-trip too */
			parsed++;
			char *err = roundtrip_error(g, -1);
			ck_assert_msg(err == NULL, "mutated input:\n%s\n%s", text, err);
			err = roundtrip_error(g, 2);
			ck_assert_msg(err == NULL, "mutated input:\n%s\n%s", text, err);
			graph_free(g);
		}
		free(text);
	}
	fprintf(stderr, "text IR fuzz: %ld mutated dumps, %ld parsed and round-tripped, the rest rejected\n", iters, parsed);
	ck_assert_int_gt(parsed, 0);
}
END_TEST

/* ------------------------------------------------------------------ real models */

/* Every ONNX backend node test that imports and survives shape inference round-trips, before
 * and after the default pipeline. Models the frontend or the passes reject are counted, not
 * failed: that is other suites' business. */
START_TEST(test_node_models_roundtrip)
{
	DIR *dir = opendir(NODE_TESTS);
	if (dir == NULL)
		return; /* the test data is not installed */
	Pipeline pipe;
	Diag pd = {0};
	ck_assert_msg(pipeline_parse(default_pipeline, &pipe, &pd) == 0, "%s", pd.msg);
	int models = 0, imported = 0, inferred = 0, optimised = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (strncmp(e->d_name, "test_", 5) != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, NODE_TESTS "/%s/model.onnx", e->d_name);
		Diag d = {0};
		Graph *g = onnx_import(path, NULL, &d);
		models++;
		if (g == NULL)
			continue;
		imported++;
		char *err = roundtrip_error(g, 16);
		ck_assert_msg(err == NULL, "%s after import: %s", e->d_name, err);
		if (pass_shape_infer(g, NULL, &d) == 0 && graph_verify(g, &d) == 0) {
			inferred++;
			assert_roundtrip(g);
			char *dot = dump_fmt(g, DUMP_DOT, 16);
			const char *why = dot_check(dot);
			ck_assert_msg(why == NULL, "%s: invalid DOT (%s)", e->d_name, why);
			free(dot);
		}
		graph_free(g);
		diag_clear(&d);
		g = onnx_import(path, NULL, &d);
		Instruments ins = {.verify = true};
		if (g && pipeline_run(g, &pipe, &ins, &d) == 0) {
			optimised++;
			assert_roundtrip(g);
		}
		graph_free(g);
	}
	closedir(dir);
	fprintf(stderr, "text IR round trip: %d node-test models, %d imported, %d after shape-infer, %d after the "
			"default pipeline\n",
		models, imported, inferred, optimised);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("text_ir");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_golden_tiny);
	tcase_add_test(tc, test_golden_corners);
	tcase_add_test(tc, test_lenient_input);
	tcase_add_test(tc, test_elided_const_kept);
	tcase_add_test(tc, test_elided_crc_matches_payload);
	tcase_add_loop_test(tc, test_parse_errors, 0, (int)(sizeof parse_errors / sizeof *parse_errors));
	tcase_add_test(tc, test_parse_runs_verifier);
	tcase_add_test(tc, test_dot_json);
	tcase_add_test(tc, test_fuzz_mutations);
	tcase_add_test(tc, test_node_models_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
