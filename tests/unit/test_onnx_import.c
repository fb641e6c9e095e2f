/* The ONNX frontend, writer and .pb tensor I/O: a real node-test model, every typed field,
 * external data inside and outside the model's folder, hostile bytes, structural errors, the
 * opset canonicalisation rules, --input-shape, allocation failures, and the writer checked by
 * onnx.checker and by importing its output again.
 *
 * Models come from gen_onnx_cases.py, run at start-up into the build folder. Every error case
 * asserts the exact one-line message. */
#include "nnzc/ir.h"

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"

#define PY "/usr/bin/python3"
#define NODE_TESTS "/usr/share/libonnx-testdata/data/node"
#define CONV_TEST NODE_TESTS "/test_conv_with_strides_padding"

static char cases[1024];       /* generated models */
static char scratch[1024];     /* files this test writes */
static bool have_onnx_python;  /* /usr/bin/python3 can import onnx */

/* ---------------------------------------------------------------- helpers */

static const char *case_path(const char *name)
{
	static char buf[4][1200];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", cases, name);
	return buf[k];
}

static Graph *load(const char *name, const ImportOptions *opt)
{
	Diag d = {0};
	Graph *g = onnx_import(case_path(name), opt, &d);
	ck_assert_msg(g != NULL, "%s: %s", name, d.msg);
	ck_assert_int_eq(d.code, DIAG_OK);
	return g;
}

/* The import must fail with exactly "CASES/name: <expected>" where '@' in expected stands
 * for the cases folder. */
static void expect_error_code(const char *name, const ImportOptions *opt, const char *expected, DiagCode code)
{
	char want[2048];
	size_t k = 0;
	k += (size_t)snprintf(want, sizeof want, "%s: ", case_path(name));
	for (const char *p = expected; *p && k + 1 < sizeof want; p++) {
		if (*p == '@')
			k += (size_t)snprintf(want + k, sizeof want - k, "%s", cases);
		else
			want[k++] = *p;
	}
	want[k] = '\0';
	Diag d = {0};
	Graph *g = onnx_import(case_path(name), opt, &d);
	ck_assert_msg(g == NULL, "%s: imported, expected an error", name);
	ck_assert_str_eq(d.msg, want);
	ck_assert_int_eq(d.code, code);
}

static void expect_error(const char *name, const ImportOptions *opt, const char *expected)
{
	expect_error_code(name, opt, expected, DIAG_ERROR);
}

static Value *val(const Graph *g, const char *name)
{
	Value *v = graph_find_value(g, name);
	ck_assert_msg(v != NULL, "no value '%s'", name);
	return v;
}

static Node *node(const Graph *g, const char *name)
{
	Node *n = graph_find_node(g, name);
	ck_assert_msg(n != NULL, "no node '%s'", name);
	return n;
}

static void check_shape(const Shape *s, int rank, const int64_t *dims)
{
	ck_assert_int_eq(s->rank, rank);
	for (int i = 0; i < rank; i++)
		ck_assert_int_eq(s->dim[i], dims[i]);
}
#define SHAPE_IS(s, ...) \
	check_shape((s), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static void check_floats(const Value *v, DType dt, int n, const float *want)
{
	ck_assert_msg(v->data != NULL, "'%s' is not constant", v->name);
	ck_assert_int_eq(v->dtype, dt);
	ck_assert_int_eq(shape_numel(&v->shape), n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(((const float *)v->data)[i] == want[i], "%s[%d] = %g, want %g", v->name, i,
			      (double)((const float *)v->data)[i], (double)want[i]);
}
#define FLOATS_ARE(v, dt, ...) \
	check_floats((v), (dt), (int)(sizeof((float[]){__VA_ARGS__}) / sizeof(float)), (float[]){__VA_ARGS__})

static void check_ints(const Value *v, DType dt, int n, const int64_t *want)
{
	ck_assert_msg(v->data != NULL, "'%s' is not constant", v->name);
	ck_assert_int_eq(v->dtype, dt);
	ck_assert_int_eq(shape_numel(&v->shape), n);
	for (int i = 0; i < n; i++)
		ck_assert_msg(((const int64_t *)v->data)[i] == want[i], "%s[%d] = %lld, want %lld", v->name, i,
			      (long long)((const int64_t *)v->data)[i], (long long)want[i]);
}
#define INTS_ARE(v, dt, ...) \
	check_ints((v), (dt), (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Files in dir whose name starts with prefix (temporary files left behind by a writer). */
static int count_prefixed(const char *dir, const char *prefix)
{
	DIR *dp = opendir(dir);
	ck_assert_ptr_nonnull(dp);
	int n = 0;
	for (struct dirent *e; (e = readdir(dp));)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(dp);
	return n;
}

/* ---------------------------------------------------------------- a real node-test model */

START_TEST(test_conv_node_model)
{
	Diag d = {0};
	Graph *g = onnx_import(CONV_TEST "/model.onnx", NULL, &d);
	ck_assert_msg(g != NULL, "%s", d.msg);
	ck_assert_int_eq(g->opset, 11);
	ck_assert_str_eq(g->source, CONV_TEST "/model.onnx");
	ck_assert_int_eq(g->n_inputs, 2);
	ck_assert_str_eq(g->inputs[0]->name, "x");
	ck_assert_int_eq(g->inputs[0]->dtype, DT_F32);
	SHAPE_IS(&g->inputs[0]->shape, 1, 1, 7, 5);
	SHAPE_IS(&g->inputs[1]->shape, 1, 1, 3, 3);
	ck_assert_int_eq(g->n_nodes, 1);
	Node *n = g->nodes[0];
	ck_assert_str_eq(n->name, "Conv_0"); /* unnamed in the file */
	ck_assert_int_eq(n->op, OP_Conv);
	ck_assert_int_eq(n->n_in, 2);
	ck_assert_ptr_eq(n->in[0], g->inputs[0]);
	const ConvAttrs *c = &n->attr.conv;
	ck_assert_int_eq(c->strides.n, 2);
	ck_assert_int_eq(c->strides.v[0], 2);
	ck_assert_int_eq(c->pads.n, 4);
	ck_assert_int_eq(c->pads.v[3], 1);
	ck_assert_int_eq(c->kernel_shape.v[1], 3);
	ck_assert_int_eq(c->group, 1);
	ck_assert_int_eq(g->n_outputs, 1);
	ck_assert_ptr_eq(g->outputs[0], n->out[0]);
	ck_assert_str_eq(n->out[0]->name, "y");
	graph_free(g);

	/* its test data: x = 0..34, W = ones, y known */
	Tensor t;
	char name[64];
	ck_assert_int_eq(pb_read_tensor(CONV_TEST "/test_data_set_0/input_0.pb", &t, name, sizeof name, &d), 0);
	ck_assert_str_eq(name, "x");
	ck_assert_int_eq(t.dtype, DT_F32);
	SHAPE_IS(&t.shape, 1, 1, 7, 5);
	for (int i = 0; i < 35; i++)
		ck_assert_float_eq(((float *)t.data)[i], (float)i);
	tensor_free(&t);
	ck_assert_int_eq(pb_read_tensor(CONV_TEST "/test_data_set_0/output_0.pb", &t, NULL, 0, &d), 0);
	SHAPE_IS(&t.shape, 1, 1, 4, 3);
	static const float y[] = {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124};
	for (int i = 0; i < 12; i++)
		ck_assert_float_eq(((float *)t.data)[i], y[i]);
	tensor_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- tensor decoding */

START_TEST(test_typed_fields)
{
	Graph *g = load("typed.onnx", NULL);
	FLOATS_ARE(val(g, "t_f32"), DT_F32, 1.5f, -2.0f, 3.25f);
	FLOATS_ARE(val(g, "t_f16"), DT_F16, 1.5f, -2.0f, 65504.0f);
	FLOATS_ARE(val(g, "t_bf16"), DT_BF16, 1.5f, -2.0f, 3.140625f);
	FLOATS_ARE(val(g, "t_f64"), DT_F64, 0.5f, -1000.0f, 2.0f);
	INTS_ARE(val(g, "t_i64"), DT_I64, -(1ll << 40), 0, 7);
	INTS_ARE(val(g, "t_i32"), DT_I32, INT32_MIN, 5, INT32_MAX);
	INTS_ARE(val(g, "t_i16"), DT_I16, -32768, 1, 32767);
	INTS_ARE(val(g, "t_i8"), DT_I8, -128, 0, 127);
	INTS_ARE(val(g, "t_u8"), DT_U8, 0, 200, 255);
	INTS_ARE(val(g, "t_u16"), DT_U16, 0, 40000, 65535);
	INTS_ARE(val(g, "t_bool"), DT_BOOL, 1, 0, 1);
	INTS_ARE(val(g, "t_u32"), DT_U32, 0, 3000000000ll, 4294967295ll);
	INTS_ARE(val(g, "t_u64"), DT_U64, 1, 1ll << 62);
	Value *s = val(g, "t_scalar");
	ck_assert_int_eq(s->shape.rank, 0);
	FLOATS_ARE(s, DT_F32, 42.0f);
	Value *e = val(g, "t_empty");
	SHAPE_IS(&e->shape, 0, 3);
	ck_assert_ptr_nonnull(e->data);
	FLOATS_ARE(val(g, "r_f32"), DT_F32, 1, 2, 3, 4);
	SHAPE_IS(&val(g, "r_f32")->shape, 2, 2);
	FLOATS_ARE(val(g, "r_f16"), DT_F16, 0.5f, -4.0f);
	INTS_ARE(val(g, "r_i8"), DT_I8, -1, 127);
	INTS_ARE(val(g, "r_u64"), DT_U64, 5);
	INTS_ARE(val(g, "r_bool"), DT_BOOL, 0, 1);
	graph_free(g);
}
END_TEST

typedef struct ErrCase {
	const char *file;
	const char *msg;
} ErrCase;

static const ErrCase tensor_errors[] = {
	{"short_data.onnx", "initializer 'W': raw_data has 20 bytes, dims [2,3] of f32 need 24"},
	{"short_typed.onnx", "initializer 'W': float_data has 5 values, dims [2,3] need 6"},
	{"long_data.onnx", "initializer 'W': raw_data has 12 bytes, dims [2] of f32 need 8"},
	{"negative_dims.onnx", "initializer 'W': dimension 1 is negative (-3)"},
	{"overflow_dims.onnx", "initializer 'W': dims [2147483648,2147483648,2147483648]: the element count overflows"},
	{"overflow_bytes.onnx", "initializer 'W': dims [2147483648,2147483648]: the element count overflows"},
	{"huge_claim.onnx", "initializer 'W': raw_data has 8 bytes, dims [2147483648,1048576] of f32 need 9007199254740992"},
	{"rank9.onnx", "initializer 'W': rank 9 exceeds the maximum of 8"},
	{"string_init.onnx", "initializer 'S': data type STRING (8) is not supported"},
	{"complex_init.onnx", "initializer 'C': data type COMPLEX64 (14) is not supported"},
	{"wrong_field.onnx", "initializer 'W': has values in float_data, which cannot hold INT64"},
	{"ext/absolute.onnx", "initializer 'W': external data file '@/secret.bin' is an absolute path; only files inside the model's folder are read"},
	{"ext/dotdot.onnx", "initializer 'W': external data file '../secret.bin' contains '..'; only files inside the model's folder are read"},
	{"ext/dotdot_inner.onnx", "initializer 'W': external data file 'sub/../../secret.bin' contains '..'; only files inside the model's folder are read"},
	{"ext/symlink.onnx", "initializer 'W': external data file 'escape_link.bin' resolves to '@/secret.bin', outside the model's folder"},
	{"ext/past_end.onnx", "initializer 'W': external data offset 8 + length 64 exceeds the size of 'sub/weights.bin' (32 bytes)"},
	{"ext/wrong_length.onnx", "initializer 'W': external data in 'sub/weights.bin' has 32 bytes, dims [2,3] of f32 need 24"},
	{"ext/bad_offset.onnx", "initializer 'W': external data offset '-8' is not a non-negative integer"},
	{"ext/missing.onnx", "initializer 'W': cannot open external data file 'sub/nothere.bin': No such file or directory"},
};

START_TEST(test_tensor_errors)
{
	expect_error(tensor_errors[_i].file, NULL, tensor_errors[_i].msg);
}
END_TEST

START_TEST(test_external_ok)
{
	static const char *const files[] = {"ext/ok.onnx", "ext/ok_nolength.onnx", "ext/ok_inner_link.onnx"};
	for (int i = 0; i < 3; i++) {
		Graph *g = load(files[i], NULL);
		Value *w = val(g, "W");
		SHAPE_IS(&w->shape, 2, 3);
		FLOATS_ARE(w, DT_F32, 1, 2, 3, 4, 5, 6);
		graph_free(g);
	}
	/* from a buffer without a path there is no folder to read from */
	size_t len;
	uint8_t *buf = slurp(case_path("ext/ok.onnx"), &len);
	Diag d = {0};
	ck_assert_ptr_null(onnx_import_buffer(buf, len, NULL, NULL, &d));
	ck_assert_str_eq(d.msg, "<buffer>: initializer 'W': external data cannot be resolved (the model was not loaded from a file)");
	free(buf);
}
END_TEST

/* ---------------------------------------------------------------- hostile bytes */

START_TEST(test_bad_files)
{
	Diag d = {0};
	char path[1200];
	snprintf(path, sizeof path, "%s/empty.onnx", scratch);
	FILE *f = fopen(path, "wb");
	fclose(f);
	ck_assert_ptr_null(onnx_import(path, NULL, &d));
	char want[1300];
	snprintf(want, sizeof want, "%s: file is empty", path);
	ck_assert_str_eq(d.msg, want);

	diag_clear(&d);
	snprintf(path, sizeof path, "%s/does_not_exist.onnx", scratch);
	ck_assert_ptr_null(onnx_import(path, NULL, &d));
	snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(d.msg, want);

	diag_clear(&d);
	ck_assert_ptr_null(onnx_import(scratch, NULL, &d)); /* a folder */
	snprintf(want, sizeof want, "%s: not a regular file", scratch);
	ck_assert_str_eq(d.msg, want);

	diag_clear(&d);
	static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	ck_assert_ptr_null(onnx_import_buffer(garbage, sizeof garbage, "model.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "model.onnx: not a valid ONNX model (protobuf parse failed)");

	diag_clear(&d);
	ck_assert_ptr_null(onnx_import_buffer(garbage, 0, "model.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "model.onnx: file is empty");

	/* a valid message without a graph */
	diag_clear(&d);
	static const uint8_t no_graph[] = {0x08, 0x08}; /* ir_version = 8 */
	ck_assert_ptr_null(onnx_import_buffer(no_graph, sizeof no_graph, "model.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "model.onnx: not a valid ONNX model (no graph)");
}
END_TEST

START_TEST(test_truncated)
{
	size_t len;
	uint8_t *buf = slurp(CONV_TEST "/model.onnx", &len);
	Diag d = {0};
	/* cut inside the graph: the model is invalid */
	ck_assert_ptr_null(onnx_import_buffer(buf, len - 1, "model.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "model.onnx: not a valid ONNX model (protobuf parse failed)");
	/* every prefix: an error or a model, never a crash (ASan/UBSan watch) */
	for (size_t n = 1; n < len; n++) {
		diag_clear(&d);
		uint8_t *cut = malloc(n); /* exact size so that ASan sees any over-read */
		memcpy(cut, buf, n);
		Graph *g = onnx_import_buffer(cut, n, "model.onnx", NULL, &d);
		ck_assert(g != NULL || d.msg[0] != '\0');
		graph_free(g);
		free(cut);
	}
	free(buf);
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

START_TEST(test_random_and_mutated)
{
	size_t len;
	uint8_t *model = slurp(CONV_TEST "/model.onnx", &len);
	for (int iter = 0; iter < 3000; iter++) {
		size_t n;
		uint8_t *buf;
		if (iter < 500) { /* random bytes */
			n = 1 + rnd() % 512;
			buf = malloc(n);
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)rnd();
		} else { /* a valid model with a few bytes changed */
			n = len;
			buf = malloc(n);
			memcpy(buf, model, n);
			int flips = 1 + (int)(rnd() % 4);
			for (int k = 0; k < flips; k++) {
				size_t at = rnd() % n;
				buf[at] = rnd() % 3 == 0 ? (uint8_t)rnd() : (uint8_t)(buf[at] ^ (1u << (rnd() % 8)));
			}
		}
		Diag d = {0};
		Graph *g = onnx_import_buffer(buf, n, "m.onnx", NULL, &d);
		ck_assert(g != NULL || strncmp(d.msg, "m.onnx: ", 8) == 0);
		graph_free(g);
		free(buf);
	}
	free(model);
}
END_TEST

/* Prepend the key and length of a length-delimited field `tag` to the len bytes at pos. */
static size_t wrap_back(uint8_t *buf, size_t pos, unsigned tag, size_t len)
{
	uint8_t v[10];
	int k = 0;
	do {
		v[k++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
		len >>= 7;
	} while (len);
	pos -= (size_t)k;
	memcpy(buf + pos, v, (size_t)k);
	buf[--pos] = (uint8_t)(tag << 3 | 2);
	return pos;
}

/* model.graph.node.attribute.g.node.attribute.g... with `cycles` node/attribute/graph
 * levels, built from the inside out, backwards from the end of buf; returns where it starts. */
static size_t nested_model(uint8_t *buf, size_t cap, long cycles)
{
	static const unsigned cycle[] = {6, 5, 1}; /* attribute.g, node.attribute, graph.node */
	size_t pos = cap;
	for (long level = 0; level < 3 * cycles; level++)
		pos = wrap_back(buf, pos, cycle[level % 3], cap - pos);
	return wrap_back(buf, pos, 7, cap - pos);
}

START_TEST(test_deep_nesting)
{
	/* 900,000 levels would overflow the stack of protobuf-c's recursive unpacker; the wire
	 * check refuses them first */
	size_t cap = 8u << 20;
	uint8_t *buf = malloc(cap);
	size_t pos = nested_model(buf, cap, 300000); /* 900k levels, < 5 bytes each */
	Diag d = {0};
	ck_assert_ptr_null(onnx_import_buffer(buf + pos, cap - pos, "deep.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "deep.onnx: not a valid ONNX model (protobuf parse failed)");
	/* control: the same shape, shallow, parses (and then fails for what it lacks) */
	pos = nested_model(buf, cap, 10);
	diag_clear(&d);
	ck_assert_ptr_null(onnx_import_buffer(buf + pos, cap - pos, "deep.onnx", NULL, &d));
	ck_assert_str_eq(d.msg, "deep.onnx: unsupported ops: <empty op_type> (node '_0', no opset import)");
	free(buf);
}
END_TEST

/* ---------------------------------------------------------------- structure */

static const ErrCase structure_errors[] = {
	{"dangling.onnx", "node 'r0' (Relu): input 'nowhere' is not defined (no graph input, initializer or node output has that name)"},
	{"dup_def.onnx", "value 'y' is defined twice: by node 'r0' and by node 'r1'"},
	{"dup_init_node.onnx", "value 'W' is defined twice: by an initializer and by node 'r0'"},
	{"cyclic.onnx", "node 'ra' (Relu): graph has a cycle through this node"},
	{"bad_output.onnx", "graph output 'nothing' is not a graph input, initializer or node output"},
	{"opset6.onnx", "opset 6 of the default domain is not supported (nnzc reads opsets 7 to 21)"},
	{"opset22.onnx", "opset 22 of the default domain is not supported (nnzc reads opsets 7 to 21)"},
	{"unknown_attr.onnx", "node 'r0' (Relu): unknown attribute 'bogus' (opset 13)"},
	{"attr_type.onnx", "node 'lr' (LeakyRelu): attribute 'alpha' has type INT, expected FLOAT"},
	{"attr_enum.onnx", "node 'pad' (Pad): attribute 'mode' has value 'mirror', expected one of: constant, reflect, edge, wrap"},
	{"attr_missing.onnx", "node 'cat' (Concat): missing required attribute 'axis'"},
	{"cast_string.onnx", "node 'c' (Cast): attribute 'to': data type STRING (8) is not supported"},
	{"too_many_ints.onnx", "node 'tr' (Transpose): attribute 'perm' has 17 values, at most 16 are supported"},
	{"constant_sparse.onnx", "node 'ks' (Constant): a Constant with attribute 'sparse_value' is not supported"},
	{"unsqueeze11_noaxes.onnx", "node 'us' (Unsqueeze): missing required attribute 'axes'"},
	{"reducesum13_attr.onnx", "node 'rs' (ReduceSum): unknown attribute 'axes' (opset 13)"},
	{"dropout13_ratio.onnx", "node 'dr' (Dropout): unknown attribute 'ratio' (opset 13)"},
	{"resize18_axes.onnx", "node 'rz' (Resize): attribute 'axes' is not supported (give scales or sizes for every axis)"},
	{"bn7_spatial0.onnx", "node 'bn' (BatchNormalization): spatial=0 is not supported (only spatial=1)"},
	{"maxpool_indices.onnx", "node 'mp' (MaxPool): the Indices output is not supported"},
	{"dynamic.onnx", "graph input 'x': dim 0 ('batch') is not fixed; give the shape with --input-shape x=D0,3,4"},
	{"noshape.onnx", "graph input 'x' has no shape in the model; give it with --input-shape x=D0,D1,..."},
};

START_TEST(test_structure_errors)
{
	expect_error(structure_errors[_i].file, NULL, structure_errors[_i].msg);
}
END_TEST

START_TEST(test_unsupported_all_at_once)
{
	expect_error_code("unsupported.onnx", NULL,
			  "unsupported ops: NonMaxSuppression (node 'nms0', opset 13), TopK (nodes 'topk1', 'topk2', 'TopK_5', opset 13), "
			  "FusedMatMul (domain 'com.microsoft', node 'fm', opset 1)",
			  DIAG_UNSUPPORTED);
}
END_TEST

START_TEST(test_structure_ok)
{
	Graph *g = load("unsorted.onnx", NULL);
	ck_assert_str_eq(g->nodes[0]->name, "first");
	ck_assert_str_eq(g->nodes[1]->name, "second");
	graph_free(g);

	g = load("unnamed.onnx", NULL);
	ck_assert_str_eq(g->nodes[0]->name, "Relu_0");
	ck_assert_str_eq(g->nodes[1]->name, "Relu_1");
	graph_free(g);

	g = load("init_in_inputs.onnx", NULL); /* IR 3: the initializer is listed as an input too */
	ck_assert_int_eq(g->n_inputs, 1);
	ck_assert_str_eq(g->inputs[0]->name, "x");
	ck_assert(value_is_const(val(g, "B")));
	graph_free(g);

	g = load("constants.onnx", NULL);
	INTS_ARE(val(g, "c_t"), DT_I32, 4, 5);
	FLOATS_ARE(val(g, "c_f"), DT_F32, 2.5f);
	ck_assert_int_eq(val(g, "c_f")->shape.rank, 0);
	FLOATS_ARE(val(g, "c_fs"), DT_F32, 1, 2);
	INTS_ARE(val(g, "c_i"), DT_I64, -3);
	ck_assert_int_eq(val(g, "c_i")->shape.rank, 0);
	INTS_ARE(val(g, "c_is"), DT_I64, 7, 8, 9);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_ptr_eq(g->nodes[0]->in[1], val(g, "c_f"));
	graph_free(g);

	g = load("attrs_ok.onnx", NULL);
	Node *n = node(g, "conv");
	ck_assert_int_eq(n->attr.conv.strides.n, 2);
	ck_assert_int_eq(n->attr.conv.auto_pad, AUTO_PAD_NOTSET);
	ck_assert_int_eq(node(g, "cast")->attr.cast.to, DT_F16);
	const ScalarAttr *s = &node(g, "cos")->attr.constant_of_shape.value;
	ck_assert_int_eq(s->dtype, DT_I32);
	ck_assert_int_eq(s->i, 7);
	n = node(g, "rs");
	ck_assert_int_eq(n->attr.resize.mode, RESIZE_LINEAR);
	ck_assert_int_eq(n->attr.resize.coordinate_transformation_mode, COORD_ALIGN_CORNERS);
	ck_assert_int_eq(n->n_in, 3);
	ck_assert_ptr_null(n->in[1]);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- canonicalisation */

START_TEST(test_canon_inputs)
{
	Graph *g = load("clip6.onnx", NULL);
	Node *n = node(g, "clip");
	ck_assert_int_eq(n->n_in, 3);
	FLOATS_ARE(n->in[1], DT_F32, -1.0f);
	FLOATS_ARE(n->in[2], DT_F32, 6.0f);
	ck_assert_int_eq(n->in[1]->shape.rank, 0);
	graph_free(g);

	g = load("clip6_max.onnx", NULL);
	n = node(g, "clip");
	ck_assert_int_eq(n->n_in, 3);
	ck_assert_ptr_null(n->in[1]);
	FLOATS_ARE(n->in[2], DT_F32, 6.0f);
	graph_free(g);

	g = load("pad2.onnx", NULL);
	n = node(g, "pad");
	ck_assert_int_eq(n->n_in, 3);
	INTS_ARE(n->in[1], DT_I64, 0, 1, 0, 2);
	FLOATS_ARE(n->in[2], DT_F32, 1.5f);
	ck_assert_int_eq(n->attr.pad.mode, PAD_CONSTANT);
	graph_free(g);

	g = load("slice9.onnx", NULL);
	n = node(g, "sl");
	ck_assert_int_eq(n->n_in, 4);
	INTS_ARE(n->in[1], DT_I64, 0, 1);
	INTS_ARE(n->in[2], DT_I64, 1, 3);
	INTS_ARE(n->in[3], DT_I64, 0, 1);
	graph_free(g);

	g = load("unsqueeze11.onnx", NULL);
	n = node(g, "us");
	ck_assert_int_eq(n->n_in, 2);
	INTS_ARE(n->in[1], DT_I64, 0, 3);
	graph_free(g);

	g = load("squeeze11_noaxes.onnx", NULL);
	ck_assert_int_eq(node(g, "sq")->n_in, 1);
	graph_free(g);

	g = load("split11.onnx", NULL);
	n = node(g, "sp");
	ck_assert_int_eq(n->n_in, 2);
	ck_assert_int_eq(n->n_out, 2);
	INTS_ARE(n->in[1], DT_I64, 1, 2);
	ck_assert_int_eq(n->attr.split.axis, 1);
	graph_free(g);

	g = load("reducemean13.onnx", NULL);
	n = node(g, "rm");
	ck_assert_int_eq(n->n_in, 2);
	INTS_ARE(n->in[1], DT_I64, 1);
	ck_assert_int_eq(n->attr.reduce.keepdims, 0);
	graph_free(g);

	g = load("reducesum13_input.onnx", NULL);
	n = node(g, "rs");
	ck_assert_int_eq(n->n_in, 2);
	ck_assert_ptr_eq(n->in[1], val(g, "ax"));
	graph_free(g);

	g = load("reducemean18_input.onnx", NULL);
	ck_assert_ptr_eq(node(g, "rm")->in[1], val(g, "ax"));
	graph_free(g);

	g = load("dropout7.onnx", NULL);
	ck_assert_int_eq(node(g, "dr")->n_in, 1);
	graph_free(g);

	g = load("split18.onnx", NULL);
	n = node(g, "sp");
	ck_assert_int_eq(n->n_in, 1);
	ck_assert_int_eq(n->attr.split.num_outputs, 2);
	graph_free(g);
}
END_TEST

START_TEST(test_canon_softmax)
{
	/* axis 1 of a rank-4 input before opset 13: softmax over the flattened 2..4 dims */
	Graph *g = load("softmax11_rank4.onnx", NULL);
	ck_assert_int_eq(g->n_nodes, 4);
	Node *flat = node(g, "sm_flatten"), *sm = node(g, "sm"), *shp = node(g, "sm_shape"), *rs = node(g, "sm_reshape");
	ck_assert_int_eq(flat->op, OP_Flatten);
	ck_assert_int_eq(flat->attr.axis.axis, 1);
	ck_assert_ptr_eq(flat->in[0], g->inputs[0]);
	ck_assert_int_eq(sm->op, OP_Softmax);
	ck_assert_int_eq(sm->attr.axis.axis, -1);
	ck_assert_ptr_eq(sm->in[0], flat->out[0]);
	ck_assert_int_eq(shp->op, OP_Shape);
	ck_assert_int_eq(rs->op, OP_Reshape);
	ck_assert_ptr_eq(rs->in[0], sm->out[0]);
	ck_assert_ptr_eq(rs->in[1], shp->out[0]);
	ck_assert_ptr_eq(g->outputs[0], rs->out[0]);
	ck_assert_str_eq(rs->out[0]->name, "y");
	graph_free(g);

	g = load("softmax11_rank2.onnx", NULL); /* axis 1 of rank 2 is the last axis */
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_int_eq(node(g, "lsm")->op, OP_LogSoftmax);
	ck_assert_int_eq(node(g, "lsm")->attr.axis.axis, -1);
	graph_free(g);

	g = load("softmax11_last.onnx", NULL);
	ck_assert_int_eq(g->n_nodes, 1);
	ck_assert_int_eq(node(g, "sm")->attr.axis.axis, -1);
	graph_free(g);
}
END_TEST

START_TEST(test_canon_resize)
{
	static const char *const files[] = {"upsample7.onnx", "upsample9.onnx", "resize10.onnx"};
	static const char *const names[] = {"up", "up", "rz"};
	static const int modes[] = {RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_NEAREST};
	for (int i = 0; i < 3; i++) {
		Graph *g = load(files[i], NULL);
		Node *n = node(g, names[i]);
		ck_assert_int_eq(n->op, OP_Resize);
		ck_assert_int_eq(n->n_in, 3);
		ck_assert_ptr_null(n->in[1]);
		FLOATS_ARE(n->in[2], DT_F32, 1, 1, 2, 2);
		ck_assert_int_eq(n->attr.resize.mode, modes[i]);
		ck_assert_int_eq(n->attr.resize.coordinate_transformation_mode, COORD_ASYMMETRIC);
		ck_assert_int_eq(n->attr.resize.nearest_mode, NEAREST_FLOOR);
		graph_free(g);
	}
	/* tf_half_pixel_for_nn: half_pixel with the rounding shifted by half a pixel */
	Graph *g = load("resize11_tfnn.onnx", NULL);
	Node *n = node(g, "rz");
	ck_assert_int_eq(n->attr.resize.coordinate_transformation_mode, COORD_HALF_PIXEL);
	ck_assert_int_eq(n->attr.resize.nearest_mode, NEAREST_CEIL);
	graph_free(g);
	g = load("resize11_tfnn_floor.onnx", NULL);
	ck_assert_int_eq(node(g, "rz")->attr.resize.nearest_mode, NEAREST_ROUND_PREFER_CEIL);
	graph_free(g);
	expect_error("resize11_tfnn_linear.onnx", NULL,
		     "node 'rz' (Resize): coordinate_transformation_mode tf_half_pixel_for_nn is only supported with mode nearest and nearest_mode round_prefer_floor or floor");
}
END_TEST

/* ---------------------------------------------------------------- --input-shape */

START_TEST(test_input_shapes)
{
	InputShape is = {"x", shape_make(3, (int64_t[]){2, 3, 4})};
	ImportOptions opt = {.input_shapes = &is, .n_input_shapes = 1};
	Graph *g = load("dynamic.onnx", &opt);
	SHAPE_IS(&g->inputs[0]->shape, 2, 3, 4);
	graph_free(g);
	g = load("noshape.onnx", &opt);
	SHAPE_IS(&g->inputs[0]->shape, 2, 3, 4);
	graph_free(g);

	is.name = "nope";
	expect_error("dynamic.onnx", &opt, "--input-shape for 'nope': the model has no input named 'nope' (its inputs: 'x')");
	is.name = "x";
	is.shape = shape_make(2, (int64_t[]){2, 3});
	expect_error("dynamic.onnx", &opt, "--input-shape for 'x': rank 2 given, the model says [?,3,4] (rank 3)");
	is.shape = shape_make(3, (int64_t[]){2, 5, 4});
	expect_error("dynamic.onnx", &opt, "--input-shape for 'x': [2,5,4] conflicts with the model's [?,3,4] at dim 1");
	is.shape = shape_make(3, (int64_t[]){-1, 3, 4});
	expect_error("dynamic.onnx", &opt, "--input-shape for 'x': dim 0 is negative");
	is.shape = shape_make(3, (int64_t[]){INT64_C(1) << 62, 3, 4});
	expect_error("dynamic.onnx", &opt, "--input-shape for 'x': the element count of [4611686018427387904,3,4] overflows");
	InputShape two[2] = {{"x", shape_make(3, (int64_t[]){1, 3, 4})}, {"x", shape_make(3, (int64_t[]){1, 3, 4})}};
	ImportOptions opt2 = {.input_shapes = two, .n_input_shapes = 2};
	expect_error("dynamic.onnx", &opt2, "--input-shape for 'x': given twice");
	InputShape init = {"B", shape_make(2, (int64_t[]){2, 3})};
	ImportOptions opt3 = {.input_shapes = &init, .n_input_shapes = 1};
	expect_error("init_in_inputs.onnx", &opt3, "--input-shape for 'B': 'B' is an initializer, not a graph input");
}
END_TEST

/* ---------------------------------------------------------------- allocation failures */

START_TEST(test_alloc_failures)
{
	/* every payload allocation of the import failing in turn: an error naming the tensor,
	 * nothing leaked (ASan), never a crash */
	int failures = 0;
	for (long k = 1; k < 200; k++) {
		Diag d = {0};
		arena_fail_after(k);
		Graph *g = onnx_import(case_path("typed.onnx"), NULL, &d);
		arena_fail_after(0);
		if (g) {
			graph_free(g);
			break; /* k is past the last allocation */
		}
		ck_assert_msg(strstr(d.msg, "cannot allocate") != NULL, "k=%ld: %s", k, d.msg);
		failures++;
	}
	ck_assert_int_ge(failures, 20); /* one per initializer at least */
}
END_TEST

/* ---------------------------------------------------------------- .pb I/O */

START_TEST(test_pb_roundtrip)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/t.pb", scratch);
	for (int dt = 1; dt < DT_COUNT; dt++) {
		Shape s = shape_make(2, (int64_t[]){2, 3});
		Tensor t;
		Diag d = {0};
		ck_assert_int_eq(tensor_alloc(&t, (DType)dt, &s, &d), 0);
		for (int i = 0; i < 6; i++) {
			if (dtype_is_float((DType)dt))
				((float *)t.data)[i] = (float)i * 0.5f - 1.0f;
			else
				((int64_t *)t.data)[i] = dt == DT_BOOL ? i % 2 : i * 7 - (dtype_name((DType)dt)[0] == 'i' ? 10 : 0);
		}
		ck_assert_msg(pb_write_tensor(path, "some_name", &t, &d) == 0, "%s", d.msg);
		Tensor r;
		char name[5];
		ck_assert_msg(pb_read_tensor(path, &r, name, sizeof name, &d) == 0, "%s", d.msg);
		ck_assert_str_eq(name, "some"); /* cut to the buffer */
		ck_assert_int_eq(r.dtype, dt);
		ck_assert(shape_equal(&r.shape, &s));
		ck_assert_mem_eq(r.data, t.data, tensor_nbytes(&t));
		tensor_free(&t);
		tensor_free(&r);
	}
	ck_assert_int_eq(count_prefixed(scratch, "t.pb.tmp"), 0);

	Diag d = {0};
	Tensor t;
	snprintf(path, sizeof path, "%s/garbage.pb", scratch);
	FILE *f = fopen(path, "wb");
	fputs("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", f);
	fclose(f);
	ck_assert_int_eq(pb_read_tensor(path, &t, NULL, 0, &d), -1);
	char want[1400];
	snprintf(want, sizeof want, "%s: not a valid TensorProto (protobuf parse failed)", path);
	ck_assert_str_eq(d.msg, want);
	ck_assert_ptr_null(t.data);

	/* a .pb tensor is validated like an initializer */
	Onnx__TensorProto tp;
	onnx__tensor_proto__init(&tp);
	int64_t dims[2] = {2, 3};
	uint8_t raw[20] = {0};
	tp.name = "short";
	tp.n_dims = 2;
	tp.dims = dims;
	tp.has_data_type = 1;
	tp.data_type = 1;
	tp.has_raw_data = 1;
	tp.raw_data.len = sizeof raw;
	tp.raw_data.data = raw;
	uint8_t buf[128];
	size_t n = onnx__tensor_proto__pack(&tp, buf);
	f = fopen(path, "wb");
	fwrite(buf, 1, n, f);
	fclose(f);
	diag_clear(&d);
	ck_assert_int_eq(pb_read_tensor(path, &t, NULL, 0, &d), -1);
	snprintf(want, sizeof want, "%s: tensor 'short': raw_data has 20 bytes, dims [2,3] of f32 need 24", path);
	ck_assert_str_eq(d.msg, want);

	/* writing where it cannot: an error, and no file at all */
	diag_clear(&d);
	snprintf(path, sizeof path, "%s/no_such_dir/t.pb", scratch);
	Shape s = shape_make(1, (int64_t[]){1});
	ck_assert_int_eq(tensor_alloc(&t, DT_F32, &s, &d), 0);
	ck_assert_int_eq(pb_write_tensor(path, "x", &t, &d), -1);
	ck_assert(strstr(d.msg, "cannot create a temporary file next to it") != NULL);
	ck_assert_int_ne(access(path, F_OK), 0);
	tensor_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- export */

static int python_check(const char *path)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 PY " -c 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)' '%s'", path);
	return system(cmd);
}

static Value *add_input(Graph *g, const char *name, Shape s)
{
	Value *v = graph_add_value(g, name, DT_F32, &s);
	graph_add_input(g, v);
	return v;
}

static Value *add_const(Graph *g, const char *name, Shape s, float base)
{
	Diag d = {0};
	Value *v = graph_add_constant(g, name, DT_F32, &s, &d);
	ck_assert_ptr_nonnull(v);
	for (int64_t i = 0; i < shape_numel(&s); i++)
		((float *)v->data)[i] = base + (float)i * 0.25f;
	return v;
}

static void set_out(Node *n, int i, DType dt, Shape s)
{
	n->out[i]->dtype = dt;
	n->out[i]->shape = s;
}

/* x[1,2,5,5] -> FusedConv(+B, +R, clip 0..6) -> y[1,3,5,5] -> ReduceMean(axes [2,3]) -> z
 * x -> Split(num_outputs 2, axis 1) -> s0, s1;  f[2,4] -> FusedGemm(leaky relu) -> h[2,3] */
static Graph *export_graph(void)
{
	Graph *g = graph_new("exported");
	Diag d = {0};
	Value *x = add_input(g, "x", shape_make(4, (int64_t[]){1, 2, 5, 5}));
	Value *r = add_input(g, "r", shape_make(4, (int64_t[]){1, 3, 5, 5}));
	Value *f = add_input(g, "f", shape_make(2, (int64_t[]){2, 4}));
	Value *w = add_const(g, "w", shape_make(4, (int64_t[]){3, 2, 3, 3}), -2);
	Value *b = add_const(g, "b", shape_make(1, (int64_t[]){3}), 0.5f);
	Node *c = graph_add_node(g, OP_FusedConv, "conv", 4, (Value *[]){x, w, b, r}, 1);
	c->attr.fused_conv.conv.pads = (Ints){4, {1, 1, 1, 1}};
	c->attr.fused_conv.conv.kernel_shape = (Ints){2, {3, 3}};
	c->attr.fused_conv.act = (Activation){ACT_CLIP, 0.0f, 6.0f};
	set_out(c, 0, DT_F32, shape_make(4, (int64_t[]){1, 3, 5, 5}));
	Shape s1 = shape_make(1, (int64_t[]){2});
	Value *axes = graph_add_constant(g, "axes", DT_I64, &s1, &d);
	((int64_t *)axes->data)[0] = 2;
	((int64_t *)axes->data)[1] = 3;
	Node *rm = graph_add_node(g, OP_ReduceMean, "mean", 2, (Value *[]){c->out[0], axes}, 1);
	set_out(rm, 0, DT_F32, shape_make(4, (int64_t[]){1, 3, 1, 1}));
	Node *sp = graph_add_node(g, OP_Split, "split", 1, &x, 2);
	sp->attr.split.axis = 1;
	sp->attr.split.num_outputs = 2;
	set_out(sp, 0, DT_F32, shape_make(4, (int64_t[]){1, 1, 5, 5}));
	set_out(sp, 1, DT_F32, shape_make(4, (int64_t[]){1, 1, 5, 5}));
	Value *gw = add_const(g, "gw", shape_make(2, (int64_t[]){3, 4}), 1);
	Node *gm = graph_add_node(g, OP_FusedGemm, "gemm", 2, (Value *[]){f, gw}, 1);
	gm->attr.fused_gemm.gemm.trans_b = 1;
	gm->attr.fused_gemm.act = (Activation){ACT_LEAKY_RELU, 0.125f, 0};
	set_out(gm, 0, DT_F32, shape_make(2, (int64_t[]){2, 3}));
	graph_add_output(g, c->out[0]);
	graph_add_output(g, rm->out[0]);
	graph_add_output(g, sp->out[0]);
	graph_add_output(g, sp->out[1]);
	graph_add_output(g, gm->out[0]);
	return g;
}

START_TEST(test_export)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/exported.onnx", scratch);
	Graph *g = export_graph();
	Diag d = {0};
	ck_assert_msg(onnx_export(g, path, &d) == 0, "%s", d.msg);
	ck_assert_int_eq(count_prefixed(scratch, "exported.onnx.tmp"), 0);
	if (have_onnx_python)
		ck_assert_msg(python_check(path) == 0, "onnx.checker rejected %s", path);

	Graph *h = onnx_import(path, NULL, &d);
	ck_assert_msg(h != NULL, "%s", d.msg);
	ck_assert_int_eq(h->opset, 17);
	ck_assert_int_eq(h->n_inputs, 3);
	ck_assert_int_eq(h->n_outputs, 5);
	Node *conv = node(h, "conv");
	ck_assert_int_eq(conv->op, OP_Conv);
	ck_assert_int_eq(conv->n_in, 3);
	ck_assert_int_eq(conv->attr.conv.pads.n, 4);
	Node *add = node(h, "conv_add"), *act = node(h, "conv_act");
	ck_assert_int_eq(add->op, OP_Add);
	ck_assert_ptr_eq(add->in[0], conv->out[0]);
	ck_assert_ptr_eq(add->in[1], val(h, "r"));
	ck_assert_int_eq(act->op, OP_Clip);
	FLOATS_ARE(act->in[1], DT_F32, 0.0f);
	FLOATS_ARE(act->in[2], DT_F32, 6.0f);
	ck_assert_str_eq(act->out[0]->name, "conv"); /* the fused node's output keeps its name */
	Node *mean = node(h, "mean");
	INTS_ARE(mean->in[1], DT_I64, 2, 3); /* attribute in opset 17, input again after import */
	Node *split = node(h, "split");
	INTS_ARE(split->in[1], DT_I64, 1, 1);
	ck_assert_int_eq(split->attr.split.num_outputs, 0);
	Node *gemm = node(h, "gemm"), *lr = node(h, "gemm_act");
	ck_assert_int_eq(gemm->op, OP_Gemm);
	ck_assert_int_eq(gemm->attr.gemm.trans_b, 1);
	ck_assert_int_eq(lr->op, OP_LeakyRelu);
	ck_assert_float_eq(lr->attr.unary.alpha, 0.125f);
	Value *w = val(h, "w");
	ck_assert_mem_eq(w->data, val(g, "w")->data, 54 * sizeof(float));
	ck_assert_ptr_null(graph_find_value(h, "axes")); /* now an attribute: not written */

	/* the expansion computes what the fused ops compute (reference interpreter) */
	ck_assert_msg(pass_shape_infer(h, NULL, &d) == 0, "%s", d.msg);
	Tensor in[3], out_g[5], out_h[5];
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(tensor_alloc(&in[i], DT_F32, &g->inputs[i]->shape, &d), 0);
		for (int64_t k = 0; k < tensor_numel(&in[i]); k++)
			((float *)in[i].data)[k] = (float)((k * 37 + i * 11) % 23) * 0.25f - 2.5f;
	}
	ck_assert_msg(ref_run(g, in, out_g, &d) == 0, "%s", d.msg);
	ck_assert_msg(ref_run(h, in, out_h, &d) == 0, "%s", d.msg);
	for (int i = 0; i < 5; i++) {
		ck_assert(shape_equal(&out_g[i].shape, &out_h[i].shape));
		for (int64_t k = 0; k < tensor_numel(&out_g[i]); k++)
			ck_assert_float_eq_tol(((float *)out_g[i].data)[k], ((float *)out_h[i].data)[k], 1e-5);
		tensor_free(&out_g[i]);
		tensor_free(&out_h[i]);
	}
	for (int i = 0; i < 3; i++)
		tensor_free(&in[i]);
	graph_free(h);

	/* failures leave nothing behind: no model, no temporary */
	unlink(path);
	Node *gm = graph_find_node(g, "gemm");
	gm->out[0]->dtype = DT_UNDEFINED;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	char want[1400];
	snprintf(want, sizeof want, "%s: graph output 'gemm' has no known dtype and shape (run shape inference before writing ONNX)", path);
	ck_assert_str_eq(d.msg, want);
	gm->out[0]->dtype = DT_F32;
	static const ElidedPayload el = {0, 1};
	Value *b = val(g, "b");
	void *keep = b->data;
	b->data = NULL;
	b->elided = &el;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want, "%s: constant 'b' has no data (elided in a dump); it cannot be written", path);
	ck_assert_str_eq(d.msg, want);
	b->data = keep;
	b->elided = NULL;
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(count_prefixed(scratch, "exported.onnx"), 0);
	snprintf(path, sizeof path, "%s/no_such_dir/m.onnx", scratch);
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	graph_free(g);
}
END_TEST

/* opset 18+ forms and IR-only values that opset 17 writes differently, or cannot write */
START_TEST(test_export_mapping)
{
	Graph *g = graph_new("m");
	Diag d = {0};
	Value *x = add_input(g, "x", shape_make(2, (int64_t[]){2, 3}));
	Shape s1 = shape_make(1, (int64_t[]){1}), s2 = shape_make(1, (int64_t[]){2}), s0 = shape_make(1, (int64_t[]){0});
	Value *pads = graph_add_constant(g, "pads", DT_I64, &s2, &d), *axes = graph_add_constant(g, "axes", DT_I64, &s1, &d);
	Value *none = graph_add_constant(g, "none", DT_I64, &s0, &d);
	((int64_t *)pads->data)[0] = 1;
	((int64_t *)pads->data)[1] = 2;
	((int64_t *)axes->data)[0] = -1;
	Node *pad = graph_add_node(g, OP_Pad, "pad", 4, (Value *[]){x, pads, NULL, axes}, 1);
	set_out(pad, 0, DT_F32, shape_make(2, (int64_t[]){2, 6}));
	Node *rm = graph_add_node(g, OP_ReduceMax, "max", 2, (Value *[]){pad->out[0], none}, 1);
	rm->attr.reduce.noop_with_empty_axes = 1;
	set_out(rm, 0, DT_F32, shape_make(2, (int64_t[]){2, 6}));
	graph_add_output(g, rm->out[0]);
	char path[1200];
	snprintf(path, sizeof path, "%s/mapping.onnx", scratch);
	ck_assert_msg(onnx_export(g, path, &d) == 0, "%s", d.msg);
	if (have_onnx_python)
		ck_assert_msg(python_check(path) == 0, "onnx.checker rejected %s", path);
	Graph *h = onnx_import(path, NULL, &d);
	ck_assert_msg(h != NULL, "%s", d.msg);
	Node *p = node(h, "pad");
	ck_assert_int_eq(p->n_in, 2);
	INTS_ARE(p->in[1], DT_I64, 0, 1, 0, 2); /* axes [-1] of rank 2 spelled out */
	ck_assert_int_eq(node(h, "max")->op, OP_Identity); /* empty axes + noop */
	graph_free(h);

	/* what opset 17 cannot say */
	char want[1400];
	pad->attr.pad.mode = PAD_WRAP;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want, "%s: node 'pad' (Pad): mode wrap cannot be written for opset 17", path);
	ck_assert_str_eq(d.msg, want);
	pad->attr.pad.mode = PAD_CONSTANT;
	Node *rs = graph_add_node(g, OP_Resize, "rs", 1, &x, 1);
	rs->attr.resize.antialias = 1;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want, "%s: node 'rs' (Resize): antialias=1 cannot be written for opset 17", path);
	ck_assert_str_eq(d.msg, want);
	rs->attr.resize.antialias = 0;
	rs->attr.resize.coordinate_transformation_mode = COORD_HALF_PIXEL_SYMMETRIC;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want,
		 "%s: node 'rs' (Resize): coordinate_transformation_mode half_pixel_symmetric cannot be written for opset 17", path);
	ck_assert_str_eq(d.msg, want);
	rs->dead = true;
	Node *mean = graph_add_node(g, OP_ReduceMean, "mean", 2, (Value *[]){x, x}, 1);
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want, "%s: node 'mean' (ReduceMean): axes must be a constant to be written for opset 17", path);
	ck_assert_str_eq(d.msg, want);
	mean->dead = true;
	Node *sp = graph_add_node(g, OP_Split, "split", 1, (Value *[]){pad->in[0]}, 4);
	sp->attr.split.num_outputs = 4;
	sp->attr.split.axis = 0;
	diag_clear(&d);
	ck_assert_int_eq(onnx_export(g, path, &d), -1);
	snprintf(want, sizeof want, "%s: node 'split' (Split): cannot split 2 into 4 outputs", path);
	ck_assert_str_eq(d.msg, want);
	graph_free(g);
}
END_TEST

START_TEST(test_export_node_model)
{
	/* a real model through import -> export -> checker -> import */
	Diag d = {0};
	Graph *g = onnx_import(CONV_TEST "/model.onnx", NULL, &d);
	ck_assert_ptr_nonnull(g);
	g->outputs[0]->dtype = DT_F32;
	g->outputs[0]->shape = shape_make(4, (int64_t[]){1, 1, 4, 3});
	char path[1200];
	snprintf(path, sizeof path, "%s/conv.onnx", scratch);
	ck_assert_msg(onnx_export(g, path, &d) == 0, "%s", d.msg);
	if (have_onnx_python)
		ck_assert_msg(python_check(path) == 0, "onnx.checker rejected %s", path);
	Graph *h = onnx_import(path, NULL, &d);
	ck_assert_msg(h != NULL, "%s", d.msg);
	ck_assert_int_eq(h->n_nodes, 1);
	ck_assert_str_eq(h->nodes[0]->name, "Conv_0");
	ck_assert_mem_eq(&h->nodes[0]->attr.conv, &g->nodes[0]->attr.conv, sizeof(ConvAttrs));
	graph_free(h);
	graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *suite(bool with_cases)
{
	Suite *s = suite_create("onnx_import");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_conv_node_model);
	tcase_add_test(tc, test_bad_files);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_random_and_mutated);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_pb_roundtrip);
	tcase_add_test(tc, test_export);
	tcase_add_test(tc, test_export_mapping);
	tcase_add_test(tc, test_export_node_model);
	if (with_cases) {
		tcase_add_test(tc, test_typed_fields);
		tcase_add_loop_test(tc, test_tensor_errors, 0, (int)(sizeof tensor_errors / sizeof *tensor_errors));
		tcase_add_test(tc, test_external_ok);
		tcase_add_loop_test(tc, test_structure_errors, 0, (int)(sizeof structure_errors / sizeof *structure_errors));
		tcase_add_test(tc, test_unsupported_all_at_once);
		tcase_add_test(tc, test_structure_ok);
		tcase_add_test(tc, test_canon_inputs);
		tcase_add_test(tc, test_canon_softmax);
		tcase_add_test(tc, test_canon_resize);
		tcase_add_test(tc, test_input_shapes);
		tcase_add_test(tc, test_alloc_failures);
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	snprintf(cases, sizeof cases, "%s/tests/onnx_cases", NNZC_BINARY_DIR);
	snprintf(scratch, sizeof scratch, "%s/tests/onnx_scratch", NNZC_BINARY_DIR);
	mkdir(NNZC_BINARY_DIR "/tests", 0777);
	mkdir(scratch, 0777);
	have_onnx_python = system(PY " -c 'import onnx' 2>/dev/null") == 0;
	bool with_cases = false;
	if (have_onnx_python) {
		char cmd[2048];
		snprintf(cmd, sizeof cmd, PY " %s/tests/unit/gen_onnx_cases.py '%s'", NNZC_SOURCE_DIR, cases);
		if (system(cmd) != 0) {
			fprintf(stderr, "gen_onnx_cases.py failed\n");
			return EXIT_FAILURE;
		}
		with_cases = true;
	} else {
		fprintf(stderr, "note: " PY " cannot import onnx: generated-model tests and onnx.checker skipped\n");
	}
	SRunner *sr = srunner_create(suite(with_cases));
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
