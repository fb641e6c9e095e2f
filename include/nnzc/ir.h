/* nnzc IR: the whole vocabulary of the compiler in one header.
 *
 * A Graph owns Nodes and Values. Nodes are kept in topological order; a Value is produced by
 * at most one Node (graph inputs and constants have none). Every Value carries a dtype, a
 * static shape (dims of -1 are unknown until shape inference; a rank of -1 means unknown rank),
 * an optional constant payload and a sparse encoding.
 *
 * Constant payloads and interpreter tensors are stored in the *compute class* of their dtype:
 * float32 for every floating dtype (f16, bf16, f32, f64) and int64 for every integer dtype and
 * bool. The declared dtype is kept for graph I/O, Cast and the ONNX writer, which convert at the
 * boundary. So every pass and kernel deals with exactly two element types.
 *
 * Memory policy (one paragraph, see compiler/arena.c): everything that belongs to a graph —
 * nodes, values, names, attribute payloads, constant payloads — lives in the graph's arena and
 * is freed at once by graph_free(). Passes that replace a payload leave the old one in the
 * arena until then; peak memory is at most a few copies of the weights, which is what a
 * compiler may spend. Interpreter activations are not graph data: they are malloc'd per tensor
 * and freed after their last use.
 *
 * Errors: functions that can fail on user input return 0 on success and -1 on error after
 * writing a one-line message into a Diag. Internal invariants are assert()s.
 */
#ifndef NNZC_IR_H
#define NNZC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NNZC_MAX_RANK 8
#define NNZC_MAX_INTS 16 /* longest ints attribute: pads of a rank-8 tensor */
#define NNZC_MAX_TASD_TERMS 4

typedef struct Arena Arena;
typedef struct Graph Graph;
typedef struct Node Node;
typedef struct Value Value;

/* ---------------------------------------------------------------- diagnostics (diag.c) */

typedef enum DiagCode {
	DIAG_OK = 0,
	DIAG_ERROR = 1,       /* bad input or failed check: exit status 1 */
	DIAG_UNSUPPORTED = 3, /* the model uses op types nnzc does not implement: exit status 3 */
} DiagCode;

typedef struct Diag {
	DiagCode code;
	char msg[2048]; /* one line, no trailing newline; the first error wins */
} Diag;

int diag_error(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int diag_errorv(Diag *d, const char *fmt, va_list ap);
int diag_unsupported(Diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "node 'NAME' (Op): ..." — the standard prefix for errors about one node */
int node_error(Diag *d, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool diag_failed(const Diag *d);
/* Prepend context ("fuse: ") to the message already in d. */
void diag_prefix(Diag *d, const char *prefix);
void diag_clear(Diag *d);

/* ---------------------------------------------------------------- arena (arena.c) */

Arena *arena_new(void);
void arena_free(Arena *a);
/* Zeroed memory for small structural objects; dies on exhaustion (that is not bad input). */
void *arena_alloc(Arena *a, size_t size);
/* Zeroed memory for n*size bytes sized by input data: NULL on overflow or exhaustion, so the
 * caller can report which tensor was too large. Subject to fault injection in tests. */
void *arena_alloc_data(Arena *a, size_t n, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t arena_bytes_used(const Arena *a);
/* Fault injection: the n-th following call to arena_alloc_data (1-based) fails; 0 disables. */
void arena_fail_after(long n);

/* ---------------------------------------------------------------- dtypes (dtype.c) */

typedef enum DType {
	DT_UNDEFINED = 0,
	DT_F32, DT_F16, DT_BF16, DT_F64,
	DT_I8, DT_I16, DT_I32, DT_I64,
	DT_U8, DT_U16, DT_U32, DT_U64,
	DT_BOOL,
	DT_COUNT
} DType;

const char *dtype_name(DType t);            /* "f32", "i64", "bool", ... */
DType dtype_from_name(const char *name);    /* DT_UNDEFINED if unknown */
DType dtype_from_onnx(int onnx_type);       /* DT_UNDEFINED for strings, complex, ... */
int dtype_to_onnx(DType t);
const char *dtype_onnx_name(int onnx_type); /* "FLOAT", "STRING", ... for messages */
bool dtype_is_float(DType t);
size_t dtype_storage_size(DType t);         /* bytes per element in a file */
size_t dtype_compute_size(DType t);         /* 4 (float class) or 8 (integer class) */
/* Convert n elements between the file layout (little-endian storage) and the compute class. */
void dtype_load(DType t, const void *storage, void *compute, size_t n);
void dtype_store(DType t, const void *compute, void *storage, size_t n);
/* Round compute-class values to what the dtype can hold (f16 rounding, int8 wrap, bool 0/1). */
void dtype_round(DType t, void *compute, size_t n);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

/* ---------------------------------------------------------------- shapes (shape.c) */

typedef struct Shape {
	int rank;                    /* -1: unknown */
	int64_t dim[NNZC_MAX_RANK];  /* -1: unknown */
} Shape;

Shape shape_make(int rank, const int64_t *dims);
Shape shape_unknown(void);
bool shape_is_static(const Shape *s);
bool shape_equal(const Shape *a, const Shape *b);
/* Element count with overflow checks: -1 if unknown, -2 if it overflows int64 (or a dim < 0). */
int64_t shape_numel(const Shape *s);
/* numel * elem_size, checked; 0 and sets *ok=false on overflow. */
size_t shape_bytes(const Shape *s, size_t elem_size, bool *ok);
/* numpy broadcasting of two shapes; -1 with a message on mismatch */
int shape_broadcast(const Shape *a, const Shape *b, Shape *out, Diag *d);
/* Normalise a possibly negative axis into [0, rank); -1 with a message if out of range */
int shape_axis(int64_t axis, int rank, int *out, Diag *d);
void shape_print(const Shape *s, FILE *f); /* [1,3,?,224] */
char *shape_str(const Shape *s, char *buf, size_t cap);
bool mul_ok_i64(int64_t a, int64_t b, int64_t *out);

/* ---------------------------------------------------------------- tensors (tensor.c) */

typedef struct SparseData SparseData;

/* A dense tensor in the compute class of dtype: data is float* or int64_t*. `sparse` is the
 * packed form of an encoded constant weight (value_tensor sets it; every tensor the interpreter
 * allocates has NULL): the reference kernels compute from it when it is set. */
typedef struct Tensor {
	DType dtype;
	Shape shape;
	void *data;
	const SparseData *sparse;
} Tensor;

int tensor_alloc(Tensor *t, DType dtype, const Shape *shape, Diag *d); /* malloc, zeroed */
void tensor_free(Tensor *t);
size_t tensor_nbytes(const Tensor *t);
int64_t tensor_numel(const Tensor *t);
/* Read element i as double / int64 regardless of class (for shape arithmetic and printing). */
double tensor_get_f(const Tensor *t, int64_t i);
int64_t tensor_get_i(const Tensor *t, int64_t i);
/* A Tensor view of a constant Value's payload (no copy). */
Tensor value_tensor(const Value *v);

/* ---------------------------------------------------------------- sparse encodings */

typedef enum EncodingKind { ENC_DENSE, ENC_CSR, ENC_BSR, ENC_NM, ENC_GS, ENC_TASD } EncodingKind;

/* How a (weight) tensor's non-zeros are laid out, on its matrix view (WeightView below): rows
 * are output channels, columns the reduction index (see docs/sparsity.md). */
typedef struct Encoding {
	EncodingKind kind;
	union {
		struct { int r, c; } bsr;        /* dense R x C blocks */
		struct { int n, m; } nm;         /* <= N non-zeros in every M consecutive elements */
		struct { int v, b; } gs;         /* gather-scatter: V lanes, B banks */
		struct { int nterms; struct { int n, m; } term[NNZC_MAX_TASD_TERMS]; } tasd;
	} u;
} Encoding;

const char *encoding_kind_name(EncodingKind k);
void encoding_print(const Encoding *e, FILE *f);                  /* "nm(2,4)" */
int encoding_parse(const char *s, Encoding *e, const char **end, Diag *d);

/* ---------------------------------------------------------------- sparse weights (compiler/sparse_*.c)
 *
 * An encoded weight keeps two consistent forms: Value.data, the dense effective tensor that
 * folding, export and dense kernels read, and Value.sparse, the packed form (values + indices)
 * that sparse kernels — starting with the reference interpreter's — compute from. The verifier
 * checks that decoding the packed form gives Value.data exactly. Layouts: docs/sparsity.md. */

/* The matrix an encoding describes: rows are output channels, columns ("view columns") the
 * reduction index in the order the encodings group it. Conv W[O, Cg, k...] (Cg = C/group input
 * channels per group, K = prod(k) taps) is [O, K * Cg] ordered tap-major, channel-minor: view
 * column j is channel j % Cg at tap j / Cg, so nm groups of M consecutive columns run along the
 * input channels at a fixed tap (DESIGN.md; PyTorch ASP and sparse tensor cores do the same).
 * Gemm B with transB=1 [N, K] is itself; Gemm B with transB=0 and MatMul's 2-D B [K, N] are the
 * transposed view [N, K]. `group` is the view columns per tap (Cg; cols for Gemm/MatMul, which
 * have one "tap"), dividing cols. Element (r, j) is data[weight_view_offset(v, r, j)]: nothing
 * may assume it at j * col_stride. Layouts with a worked 3x3 example: docs/sparsity.md. */
typedef struct WeightView { int64_t rows, cols, row_stride, col_stride, group, tap_stride; } WeightView;

static inline int64_t weight_view_offset(const WeightView *v, int64_t r, int64_t j)
{
	return r * v->row_stride + (j % v->group) * v->col_stride + (j / v->group) * v->tap_stride;
}
/* The op's own reduction index of view column j, what a kernel multiplies element (r, j) with:
 * for Conv c * K + t, the row of its im2col matrix; for Gemm/MatMul j itself. */
static inline int64_t weight_view_reduction(const WeightView *v, int64_t j)
{
	return (j % v->group) * (v->cols / v->group) + j / v->group;
}
static inline bool weight_view_equal(const WeightView *a, const WeightView *b)
{
	return a->rows == b->rows && a->cols == b->cols && a->row_stride == b->row_stride &&
	       a->col_stride == b->col_stride && a->group == b->group && a->tap_stride == b->tap_stride;
}

/* Whether input `slot` of n is a constant float weight the sparsity passes may encode (Conv and
 * FusedConv W, Gemm and FusedGemm B, MatMul 2-D B), and its matrix view. */
bool weight_view(const Node *n, int slot, WeightView *view);

/* The packed form of an encoded weight (compiler/sparse_pack.c), in the graph's arena. All
 * indices are positions in the matrix view (view columns: for a Conv, channel-minor within a
 * tap, so bsr blocks and gs banks are over those too); values are the effective weights.
 * Layouts with worked examples: docs/sparsity.md. */
struct SparseData {
	Encoding enc;      /* what is packed; tasd: the series, each term an nm pack below */
	WeightView view;   /* rows x cols, and where element (r, j) sits in Value.data */
	int64_t stored;    /* values stored, padding slots included: the storage cost */
	union {
		struct {
			int64_t *row_ptr; /* (rows + 1): row r's entries are [row_ptr[r], row_ptr[r+1]) */
			int32_t *col;     /* (nnz) ascending within a row */
			float *val;       /* (nnz) non-zero */
		} csr;
		struct {
			int64_t brows, bcols; /* ceil(rows / R), ceil(cols / C) */
			int64_t *row_ptr;     /* (brows + 1): block row i's blocks are [row_ptr[i], row_ptr[i+1]) */
			int32_t *col;         /* (nblocks) block column, ascending within a block row */
			float *val;           /* (nblocks, R, C) row-major blocks; past the matrix edge: 0 */
		} bsr;
		struct {
			int64_t groups;   /* per row: ceil(cols / M) */
			uint8_t *off;     /* (rows, groups, N) offset in the group, strictly increasing */
			float *val;       /* (rows, groups, N) unused slots hold 0 */
		} nm;
		struct {
			int64_t ngroups;  /* ceil(rows / V); the last group has rows - (ngroups-1)*V lanes */
			int64_t *ptr;     /* (ngroups + 1): group g's slots are [ptr[g], ptr[g+1]), steps x lanes */
			int32_t *col;     /* (slots) step s, lane l of group g at ptr[g] + s*lanes + l */
			float *val;       /* (slots) padding slots hold 0 */
		} gs;
		struct {
			int nterms;
			const SparseData *term[NNZC_MAX_TASD_TERMS]; /* nm(Ni,Mi) packs whose sum is the matrix */
		} tasd;
	} u;
};

/* Write the matrix s packs into dense, laid out as its Value.data (view.rows * view.cols
 * elements, every one written). */
void sparse_decode(const SparseData *s, float *dense);
/* Stored values that are non-zero (tasd: summed over the terms). */
int64_t sparse_nnz(const SparseData *s);

/* Whether the matrix satisfies enc exactly, i.e. encoding it changes no value. */
bool sparse_fits(const float *data, const WeightView *view, const Encoding *enc);
/* Project in place onto what enc can hold: keep the largest magnitudes the pattern allows (ties:
 * lower index wins), zero the rest; tasd keeps the sum of its greedy terms. Returns the squared
 * L2 norm it dropped (-1 when out of memory; the data may then be partly projected). csr and
 * bsr hold anything and drop nothing (bsr blocks no larger than the matrix; bad parameters fit
 * nothing and project nothing). */
double sparse_project(float *data, const WeightView *view, const Encoding *enc);
/* Pack v->data, which must fit enc (-1 and a message naming v otherwise), into v->sparse and set
 * v->enc; ENC_DENSE drops the packed form. Allocates in g's arena. */
int sparse_attach(Graph *g, Value *v, const WeightView *view, const Encoding *enc, Diag *d);

/* ---------------------------------------------------------------- values and nodes */

/* What the text dump kept of a constant whose payload it elided. */
typedef struct ElidedPayload {
	uint32_t crc32; /* of the compute-class bytes */
	int64_t nnz;
} ElidedPayload;

struct Value {
	int id;                 /* index in graph->values */
	const char *name;       /* unique in the graph */
	DType dtype;
	Shape shape;
	void *data;             /* constant payload (compute class) or NULL */
	const ElidedPayload *elided; /* constant known only by checksum (from a dump) */
	Encoding enc;
	const SparseData *sparse; /* packed form of an encoded constant weight; NULL when dense */
	Node *producer;         /* NULL for graph inputs and constants */
};

static inline bool value_is_const(const Value *v) { return v->data != NULL || v->elided != NULL; }
int64_t value_nnz(const Value *v); /* non-zero count of a constant; -1 if not constant */

/* ---------------------------------------------------------------- attributes (attrs.c) */

typedef struct Ints {
	int n; /* 0: absent */
	int64_t v[NNZC_MAX_INTS];
} Ints;

typedef enum AutoPad { AUTO_PAD_NOTSET, AUTO_PAD_SAME_UPPER, AUTO_PAD_SAME_LOWER, AUTO_PAD_VALID } AutoPad;
typedef enum PadMode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } PadMode;
typedef enum ResizeMode { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC } ResizeMode;
typedef enum ResizeCoord {
	COORD_HALF_PIXEL, COORD_HALF_PIXEL_SYMMETRIC, COORD_PYTORCH_HALF_PIXEL, COORD_ALIGN_CORNERS,
	COORD_ASYMMETRIC, COORD_TF_CROP_AND_RESIZE
} ResizeCoord;
typedef enum NearestMode {
	NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL
} NearestMode;
typedef enum ActKind {
	ACT_NONE, ACT_RELU, ACT_LEAKY_RELU, ACT_CLIP, ACT_SIGMOID, ACT_TANH, ACT_HARD_SIGMOID,
	ACT_HARD_SWISH
} ActKind;

typedef struct ConvAttrs {      /* Conv, ConvTranspose */
	int auto_pad;               /* AutoPad */
	Ints dilations, kernel_shape, output_padding, output_shape, pads, strides;
	int64_t group;
} ConvAttrs;
typedef struct PoolAttrs {      /* MaxPool, AveragePool */
	int auto_pad;
	int64_t ceil_mode, count_include_pad, storage_order;
	Ints dilations, kernel_shape, pads, strides;
} PoolAttrs;
typedef struct GemmAttrs { float alpha, beta; int64_t trans_a, trans_b; } GemmAttrs;
typedef struct UnaryAttrs { float alpha, beta; } UnaryAttrs; /* LeakyRelu, Elu, Selu (beta=gamma), HardSigmoid */
typedef struct CastAttrs { DType to; int64_t saturate; } CastAttrs;
typedef struct DropoutAttrs { int64_t seed; } DropoutAttrs;
typedef struct AxisAttrs { int64_t axis; } AxisAttrs; /* Softmax, LogSoftmax, Flatten, Concat, Gather */
typedef struct BatchNormAttrs { float epsilon, momentum; int64_t training_mode, spatial; } BatchNormAttrs;
typedef struct LayerNormAttrs { int64_t axis; float epsilon; int64_t stash_type; } LayerNormAttrs;
typedef struct InstanceNormAttrs { float epsilon; } InstanceNormAttrs;
typedef struct ReduceAttrs { int64_t keepdims, noop_with_empty_axes; } ReduceAttrs;
typedef struct ArgReduceAttrs { int64_t axis, keepdims, select_last_index; } ArgReduceAttrs;
typedef struct ReshapeAttrs { int64_t allowzero; } ReshapeAttrs;
typedef struct TransposeAttrs { Ints perm; } TransposeAttrs;
typedef struct SplitAttrs { int64_t axis, num_outputs; } SplitAttrs;
typedef struct ShapeAttrs { int64_t start, end; } ShapeAttrs; /* end default INT64_MAX */
typedef struct ScalarAttr { DType dtype; double f; int64_t i; } ScalarAttr;
typedef struct ConstantOfShapeAttrs { ScalarAttr value; } ConstantOfShapeAttrs;
typedef struct PadAttrs { int mode; } PadAttrs; /* PadMode */
typedef struct ResizeAttrs {
	int mode, coordinate_transformation_mode, nearest_mode; /* ResizeMode, ResizeCoord, NearestMode */
	float cubic_coeff_a, extrapolation_value;
	int64_t exclude_outside, antialias;
} ResizeAttrs;
typedef struct Activation { int kind; float alpha, beta; } Activation; /* ActKind; Clip: [alpha,beta] */
typedef struct FusedConvAttrs { ConvAttrs conv; Activation act; } FusedConvAttrs;
typedef struct FusedGemmAttrs { GemmAttrs gemm; Activation act; } FusedGemmAttrs;
/* nnzc.TasdActivation: the sum of greedy terms n[i]:m[i] taken along axis (targets/ref/tasd.c) */
typedef struct TasdActAttrs { int64_t axis; Ints n, m; } TasdActAttrs;

/* One member per attribute struct; the op table says which member an op uses. */
typedef union OpAttrs {
	ConvAttrs conv;
	PoolAttrs pool;
	GemmAttrs gemm;
	UnaryAttrs unary;
	CastAttrs cast;
	DropoutAttrs dropout;
	AxisAttrs axis;
	BatchNormAttrs batch_norm;
	LayerNormAttrs layer_norm;
	InstanceNormAttrs instance_norm;
	ReduceAttrs reduce;
	ArgReduceAttrs arg_reduce;
	ReshapeAttrs reshape;
	TransposeAttrs transpose;
	SplitAttrs split;
	ShapeAttrs shape;
	ConstantOfShapeAttrs constant_of_shape;
	PadAttrs pad;
	ResizeAttrs resize;
	FusedConvAttrs fused_conv;
	FusedGemmAttrs fused_gemm;
	TasdActAttrs tasd_act;
} OpAttrs;

typedef enum AttrType {
	AT_INT,    /* int64_t */
	AT_FLOAT,  /* float */
	AT_INTS,   /* Ints */
	AT_ENUM,   /* int, spelled as one of enum_names (ONNX STRING attribute) */
	AT_DTYPE,  /* DType, an ONNX TensorProto.DataType number in files */
	AT_SCALAR, /* ScalarAttr, a one-element ONNX TENSOR attribute */
} AttrType;

/* Describes one field of an attribute struct, so that ONNX import and export, the text dump
 * and its parser handle every op's attributes with one piece of code each. */
typedef struct AttrDesc {
	const char *name;   /* ONNX spelling; NULL ends a table */
	AttrType type;
	size_t offset;      /* into OpAttrs */
	int64_t dint;       /* default for AT_INT, AT_ENUM, AT_DTYPE */
	float dfloat;       /* default for AT_FLOAT */
	const char *const *enum_names; /* AT_ENUM: NULL-terminated spellings, index = value */
	bool required;
} AttrDesc;

void attrs_init(int op, OpAttrs *a); /* every field to its default */
const AttrDesc *attrs_find(int op, const char *name);
bool attr_is_default(const AttrDesc *desc, const OpAttrs *a);
/* "name=value" in the text-dump syntax, parsed back by attr_parse_value */
void attr_print(const AttrDesc *desc, const OpAttrs *a, FILE *f);
int attr_parse_value(const AttrDesc *desc, const char *s, const char **end, OpAttrs *a, Diag *d);
int attr_enum_lookup(const AttrDesc *desc, const char *spelling); /* -1 if not a spelling */

/* ---------------------------------------------------------------- ops (ops.c) */

typedef enum Op {
#define OP(id, onnx, min_in, max_in, min_out, max_out, attrs, infer, ref) OP_##id,
#include "nnzc/ops.def"
#undef OP
	OP_COUNT
} Op;

/* Reference kernel: inputs (NULL for an omitted optional input) and outputs already allocated
 * with the inferred shapes. */
typedef int (*RefKernel)(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d);
/* Shape and dtype inference: reads n->in[i] (shape, dtype, constant payload), writes n->out[i]. */
typedef int (*InferFn)(Node *n, Diag *d);

typedef struct OpInfo {
	const char *name;
	int min_in, max_in, min_out, max_out;
	const AttrDesc *attrs;
	InferFn infer;
	RefKernel ref;
} OpInfo;

extern const OpInfo op_info[OP_COUNT];
#define OP(id, onnx, min_in, max_in, min_out, max_out, attrs, infer, ref) extern const AttrDesc attrs[];
#include "nnzc/ops.def"
#undef OP
int op_from_name(const char *onnx_name); /* -1 if not in the table */
static inline const char *op_name(int op) { return op_info[op].name; }

/* ---------------------------------------------------------------- nodes and graphs (graph.c) */

struct Node {
	int id;            /* position in graph->nodes after the last graph_compact() */
	Op op;
	const char *name;  /* unique in the graph, never empty */
	int n_in, n_out;
	Value **in;        /* in[i] == NULL: optional input omitted */
	Value **out;
	OpAttrs attr;
	bool dead;         /* removed by a pass; dropped by graph_compact() */
};

struct Graph {
	Arena *arena;
	const char *name;
	const char *source;     /* file it came from, for messages */
	int64_t opset;          /* default-domain opset of the source model */
	Node **nodes; int n_nodes, cap_nodes;      /* topological order */
	Value **values; int n_values, cap_values;
	Value **inputs; int n_inputs;              /* graph inputs (not constants) */
	Value **outputs; int n_outputs;
	struct NameMap *names;  /* value name -> Value (graph.c) */
	struct NameMap *node_names;
	struct Remark *remarks; int n_remarks, cap_remarks; /* what passes told the user (remarks.c) */
};

Graph *graph_new(const char *name);
void graph_free(Graph *g);
/* A new value named `name`, or name_1, name_2... if taken (NULL: "t<N>"). */
Value *graph_add_value(Graph *g, const char *name, DType dtype, const Shape *shape);
/* A constant whose payload (compute class, zeroed) is allocated in the arena; NULL with a
 * message when the size overflows or memory runs out. */
Value *graph_add_constant(Graph *g, const char *name, DType dtype, const Shape *shape, Diag *d);
/* Allocate (or replace) v's payload (zeroed) for its current dtype and shape; NULL on failure.
 * v becomes dense (enc dense, sparse NULL): a pack describes the payload it replaces. */
void *value_alloc_payload(Graph *g, Value *v, Diag *d);
/* Make v (a node output) a constant holding a copy of t, cut from its producer; its name and
 * uses stay, so folding never renames a graph output. */
int value_set_constant(Graph *g, Value *v, const Tensor *t, Diag *d);
/* Append a node with fresh output values (shapes unknown), attributes at their defaults. */
Node *graph_add_node(Graph *g, Op op, const char *name, int n_in, Value *const *in, int n_out);
/* Same, inserted right before node `before` (keeps topological order when its inputs exist). */
Node *graph_insert_node(Graph *g, Node *before, Op op, const char *name, int n_in, Value *const *in, int n_out);
void graph_add_input(Graph *g, Value *v);
void graph_add_output(Graph *g, Value *v);
Value *graph_find_value(const Graph *g, const char *name);
Node *graph_find_node(const Graph *g, const char *name);
/* Every use of old (node inputs, graph outputs) becomes new. */
void graph_replace_uses(Graph *g, Value *old, Value *new_value);
/* uses[v->id] = number of node inputs and graph outputs referring to v; caller frees. */
int *graph_use_counts(const Graph *g);
/* Drop dead nodes and values no longer referenced; renumber ids. */
void graph_compact(Graph *g);
/* Sort nodes topologically; -1 naming a value on the cycle if there is one. */
int graph_toposort(Graph *g, Diag *d);
bool graph_is_input(const Graph *g, const Value *v);
bool graph_is_output(const Graph *g, const Value *v);

/* ---------------------------------------------------------------- verification (verify.c) */

/* Structure (ids, producers, topological order, arity, unique names) always; shapes and dtypes
 * where known must agree with a fresh inference. */
int graph_verify(const Graph *g, Diag *d);

/* ---------------------------------------------------------------- text IR (print.c, parse.c) */

typedef enum DumpFormat { DUMP_TEXT, DUMP_DOT, DUMP_JSON } DumpFormat;

typedef struct PrintOptions {
	/* Constants with more elements than this are printed as elided(crc32, nnz); -1: never. */
	int64_t elide_above;
} PrintOptions;

void graph_print(const Graph *g, FILE *f, const PrintOptions *opt);
void graph_print_dot(const Graph *g, FILE *f);
void graph_print_json(const Graph *g, FILE *f);
/* JSON scalars as every JSON writer in nnzc spells them: strings escaped (invalid UTF-8 as
 * U+FFFD, NULL as ""), numbers with 9 significant digits, NaN/Inf as the strings "nan"/"inf". */
void json_print_string(const char *s, FILE *f);
void json_print_number(double v, FILE *f);
int graph_dump(const Graph *g, DumpFormat fmt, FILE *f, const PrintOptions *opt);
/* Parse what graph_print wrote; NULL with "file:line:col: message" on error. */
Graph *graph_parse(const char *text, const char *filename, Diag *d);
uint32_t crc32_bytes(const void *data, size_t n);

/* ---------------------------------------------------------------- output files (outfile.c) */

/* Written to a temporary file beside the destination and renamed into place by commit, so a
 * failed compilation never leaves a partial output behind. */
typedef struct OutFile {
	char *final_path, *tmp_path;
	FILE *f;
} OutFile;

int outfile_open(OutFile *o, const char *path, Diag *d);
int outfile_commit(OutFile *o, Diag *d); /* close + rename; on failure the temp file is removed */
void outfile_abort(OutFile *o);          /* close + remove; safe on a zeroed OutFile */
int outfile_write_all(const char *path, const void *buf, size_t len, Diag *d);

/* ---------------------------------------------------------------- ONNX frontend (compiler/onnx) */

typedef struct InputShape { const char *name; Shape shape; } InputShape;

typedef struct ImportOptions {
	const InputShape *input_shapes; /* --input-shape NAME=D0,D1,... */
	int n_input_shapes;
	/* Shapes of actual input data by input position (nnzc run/bench --test-data): they fix the
	 * dims that the model and --input-shape leave unknown, where they agree with the known ones. */
	const Shape *data_shapes;
	int n_data_shapes;
	/* The same by input name (nnzc run/bench -i NAME=FILE.pb); names the model lacks are skipped. */
	const InputShape *named_data_shapes;
	int n_named_data_shapes;
} ImportOptions;

/* import.c: model file -> Graph in canonical form (see ops.def). All unsupported op types are
 * reported in one message with DIAG_UNSUPPORTED. */
Graph *onnx_import(const char *path, const ImportOptions *opt, Diag *d);
Graph *onnx_import_buffer(const uint8_t *buf, size_t len, const char *path, const ImportOptions *opt, Diag *d);
/* import_bind.c: specialising a graph (ONNX or text IR) to known values of some inputs, for
 * targets that need static shapes. graph_shape_inputs sets decides[i] (by graph input position)
 * when the values of input i reach an operand that decides a shape (Reshape's shape, Pad's pads,
 * Resize's scales, ...) through any chain of nodes but Shape and Size; returns how many do.
 * graph_bind_input makes graph input v a constant holding t, which must have v's shape and dtype
 * class (rounded to v's dtype); the pipeline then folds what depended on it. */
int graph_shape_inputs(const Graph *g, bool *decides);
int graph_bind_input(Graph *g, Value *v, const Tensor *t, Diag *d);
/* export.c: Graph -> ONNX opset 17 file (internal ops expanded into standard ones). */
int onnx_export(const Graph *g, const char *path, Diag *d);
/* tensor_io.c: one TensorProto in a .pb file <-> Tensor (compute class). */
int pb_read_tensor(const char *path, Tensor *t, char *name, size_t name_cap, Diag *d);
int pb_write_tensor(const char *path, const char *name, const Tensor *t, Diag *d);

/* ---------------------------------------------------------------- remarks (remarks.c) */

/* What a pass wants the user to know about one node: a layer kept dense because its shape cannot
 * take a pattern, the magnitude a conversion dropped, the series a search chose. Passes never
 * print; they record remarks on the graph and the driver prints them (stderr) and writes them to
 * --report. `key`/`value` are the machine-readable part ("dropped_l2_fraction", 0.031); key NULL
 * when there is none. */
typedef struct Remark {
	const char *pass, *node, *op; /* node and op NULL for a graph-level remark */
	const char *key;
	double value;
	const char *text;
} Remark;

void graph_remark(Graph *g, const char *pass, const Node *n, const char *key, double value, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* "remark: PASS: node 'NAME' (OP): TEXT", one line each */
void remarks_print(const Graph *g, FILE *f);
/* a JSON array of {"pass", "node", "op", "key", "value", "text"} */
void remarks_print_json(const Graph *g, FILE *f);

/* ---------------------------------------------------------------- passes and pipeline */

/* How far a long pass is (done of total units, e.g. layers searched). Passes never print: the
 * driver's function shows it on stderr when that is a terminal. */
typedef void (*ProgressFn)(void *ctx, const char *pass, int64_t done, int64_t total);

typedef struct PassOptions {
	const char *arg; /* text inside "name(...)" in the pipeline, or NULL */
	ProgressFn progress; /* NULL: nobody is listening */
	void *progress_ctx;
} PassOptions;

typedef int (*PassFn)(Graph *g, const PassOptions *opt, Diag *d);

typedef struct PassInfo {
	const char *name;
	PassFn run;
	bool takes_arg;
	const char *summary;
} PassInfo;

/* passes/pass_table.c: the one list of passes, and the default pipeline */
extern const PassInfo pass_table[];
extern const int pass_table_size;
extern const char *const default_pipeline;
const PassInfo *pass_find(const char *name);

int pass_shape_infer(Graph *g, const PassOptions *opt, Diag *d);
int pass_fold_constants(Graph *g, const PassOptions *opt, Diag *d);
int pass_elim_identity(Graph *g, const PassOptions *opt, Diag *d);
int pass_fold_bn(Graph *g, const PassOptions *opt, Diag *d);
int pass_fuse(Graph *g, const PassOptions *opt, Diag *d);
int pass_dce(Graph *g, const PassOptions *opt, Diag *d);
int pass_detect_sparsity(Graph *g, const PassOptions *opt, Diag *d);
int pass_prune(Graph *g, const PassOptions *opt, Diag *d);           /* passes/prune*.c */
int pass_convert_pattern(Graph *g, const PassOptions *opt, Diag *d); /* passes/convert_pattern.c */
int pass_tasd(Graph *g, const PassOptions *opt, Diag *d);
int pass_tasd_activations(Graph *g, const PassOptions *opt, Diag *d);
int pass_subsample_1x1(Graph *g, const PassOptions *opt, Diag *d);

/* compiler/pipeline.c */
#define NNZC_MAX_PIPELINE 64
typedef struct PipelineStep { const PassInfo *pass; bool has_arg; char arg[1024]; } PipelineStep;
typedef struct Pipeline { int n; PipelineStep step[NNZC_MAX_PIPELINE]; } Pipeline;

/* "shape-infer,fold-constants,prune(nm:2:4),dce"; "none" or "" is the empty pipeline */
int pipeline_parse(const char *text, Pipeline *p, Diag *d);
void pipeline_print(const Pipeline *p, FILE *f);
int pipeline_append(Pipeline *p, const char *name, const char *arg, Diag *d);

/* What the driver does around every pass. */
typedef struct Instruments {
	const char *print_after;  /* pass name, "all", or NULL */
	DumpFormat print_format;
	PrintOptions print_opt;
	FILE *print_to;           /* default stderr */
	bool time_passes;         /* table on stderr at the end */
	bool verify;              /* graph_verify after every pass (default on) */
	double *seconds;          /* if set: wall time of step i in seconds[i] */
	ProgressFn progress;      /* handed to every pass (PassOptions.progress) */
	void *progress_ctx;
} Instruments;

int pipeline_run(Graph *g, const Pipeline *p, const Instruments *ins, Diag *d);

/* ---------------------------------------------------------------- shape inference (compiler/infer_NAME.c) */

/* Run op_info[n->op].infer after arity checks; used by pass_shape_infer, the verifier and the
 * interpreter (which binds run-time values to get data-dependent shapes). */
int infer_node(Node *n, Diag *d);

#define OP(id, onnx, min_in, max_in, min_out, max_out, attrs, infer, ref) int infer(Node *n, Diag *d);
#include "nnzc/ops.def"
#undef OP

/* infer_sparse.c: the series of an nnzc.TasdActivation node as an ENC_TASD encoding; -1 with a
 * message if its n/m attributes are not 1..NNZC_MAX_TASD_TERMS pairs with 1 <= N <= M <= 256. */
int tasd_act_series(const Node *n, Encoding *series, Diag *d);

/* infer_movement.c: what Slice, Pad and Resize read from their inputs, resolved per axis, shared
 * by inference and the reference kernels so that both agree by construction. x is the data
 * shape; in[i] is NULL for an omitted input and has data == NULL while its value is unknown.
 * They fill the best known output shape and return 0 when fully resolved, 1 when something
 * needed is still unknown, -1 with a message on bad input. */
typedef struct SliceParams { int64_t start[NNZC_MAX_RANK], step[NNZC_MAX_RANK]; Shape out; } SliceParams;
typedef struct PadParams { int64_t begin[NNZC_MAX_RANK]; Shape out; } PadParams;
typedef struct ResizeParams {
	double scale[NNZC_MAX_RANK];     /* of the coordinate transformation (not out/in when scales are given) */
	double roi_start[NNZC_MAX_RANK], roi_end[NNZC_MAX_RANK]; /* tf_crop_and_resize; else 0 and 1 */
	Shape out;
} ResizeParams;
int slice_params(const Node *n, const Shape *x, const Tensor *const *in, SliceParams *p, Diag *d);
int pad_params(const Node *n, const Shape *x, const Tensor *const *in, PadParams *p, Diag *d);
int resize_params(const Node *n, const Shape *x, const Tensor *const *in, ResizeParams *p, Diag *d);
/* The per-axis arithmetic both targets share, for parameters resolved above (return 0).
 * pad_source: the input coordinate that output coordinate k along axis a reads, -1 for the
 * constant. resize_taps: for output coordinate k along axis a, axis[a][k] holds the input
 * indices (inside the axis) and weights it reads, in one malloc'd block that the caller frees;
 * NULL when out of memory. resize_to_int: an interpolated integer output, rounded half away from
 * zero and saturated to [lo, hi] (resize_int_range) of dtype t, NaN -> 0. */
typedef struct ResizeTaps {
	int count;      /* 1 (nearest, or an interpolation that lands on an input point) to 4 */
	bool outside;   /* tf_crop_and_resize sampled outside the input: the extrapolation value */
	int64_t idx[4];
	double w[4];
} ResizeTaps;
int64_t pad_source(const Node *n, const Shape *x, const PadParams *p, int a, int64_t k);
ResizeTaps *resize_taps(const Node *n, const Shape *x, const ResizeParams *p, ResizeTaps **axis);
void resize_int_range(DType t, double *lo, double *hi);
int64_t resize_to_int(DType t, double v);

/* infer_nn.c: the sliding window of Conv, FusedConv, ConvTranspose, MaxPool and AveragePool
 * with auto_pad, output_shape and ceil_mode resolved into explicit pads, shared by inference and
 * the kernels. Always 3-D: an op with k < 3 spatial dims gets 3-k leading dims of size 1
 * (kernel 1, stride 1, no pads), so one loop nest serves 1-D, 2-D and 3-D. in, out and pads
 * are -1 where the input's spatial size is unknown. x: data shape (N, C, spatial...) of known
 * rank; w: weight shape (ignored by the pools). For ConvTranspose, input position i and tap k
 * land on output o = i*stride + k*dilation - pad_lo. */
#define NNZC_MAX_SPATIAL 3
typedef struct Window {
	int nsp; /* spatial dims of the op, 1..NNZC_MAX_SPATIAL */
	int64_t in[NNZC_MAX_SPATIAL], out[NNZC_MAX_SPATIAL], kernel[NNZC_MAX_SPATIAL];
	int64_t stride[NNZC_MAX_SPATIAL], dilation[NNZC_MAX_SPATIAL];
	int64_t pad_lo[NNZC_MAX_SPATIAL], pad_hi[NNZC_MAX_SPATIAL];
} Window;
int window_of_node(const Node *n, const Shape *x, const Shape *w, Window *win, Diag *d);

/* ---------------------------------------------------------------- reference target (targets/ref) */

/* interp.c: run the graph on inputs (graph input order, compute class); outputs are allocated
 * here and owned by the caller (tensor_free). */
int ref_run(const Graph *g, const Tensor *inputs, Tensor *outputs, Diag *d);
/* ref_run that calls observe(n, outs, ctx, d) after every node n has run, outs being its n_out
 * outputs (the interpreter's: copy what you keep), so that per-layer measurements such as the
 * accuracy report need not keep every activation. observe returns 0, or -1 to stop the run
 * with its message in d. */
typedef int (*RefObserver)(const Node *n, const Tensor *outs, void *ctx, Diag *d);
int ref_run_observed(const Graph *g, const Tensor *inputs, Tensor *outputs, RefObserver observe, void *ctx, Diag *d);
/* Evaluate one node whose inputs all have payloads; outputs allocated as in ref_run. */
int ref_eval_node(const Node *n, Tensor *outputs, Diag *d);

#define OP(id, onnx, min_in, max_in, min_out, max_out, attrs, infer, ref) \
	int ref(const Node *n, Tensor *const *in, Tensor *const *out, Diag *d);
#include "nnzc/ops.def"
#undef OP

/* tasd.c: the greedy TASD series (ENC_TASD, or ENC_NM as a one-term series) over x viewed as
 * [outer, len, inner], groups running along len; y (which may be x, or NULL) gets the
 * approximation and *dropped the squared L2 norm it lost. nnzc.TasdActivation's kernel, also
 * the TASD searches' error estimate. -1 only when scratch memory cannot be allocated. */
int tasd_approximate(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, const Encoding *series,
		     double *dropped);

/* ---------------------------------------------------------------- memory planning (memplan.c) */

/* Where every intermediate tensor lives in one workspace. Needs static shapes.
 * share (NULL: none): by value id, the id of a value whose buffer this one may take over, or -1.
 * The planner honours share[v] = u only when u's last reader is v's producer and both are planned
 * with the same size: the producer then writes v where it reads u, which a target asks for only
 * where its kernel reads each element of u before writing the same element of v (a residual
 * added in place, see targets/cpu/emit_conv.c). */
typedef struct MemPlan {
	int64_t *offset;     /* by value id: byte offset in the workspace, -1 if not planned */
	int64_t *bytes;      /* by value id: bytes of the tensor (0 if not planned) */
	int64_t size;        /* workspace bytes (the peak) */
	int64_t naive_size;  /* bytes without reuse, for reports */
	int n_buffers;
} MemPlan;

int memplan_build(const Graph *g, const int *share, MemPlan *p, Diag *d);
void memplan_free(MemPlan *p);

/* ---------------------------------------------------------------- cpu target (targets/cpu, library nnzc_cpu) */

typedef enum CpuEmit { CPU_EMIT_OBJ, CPU_EMIT_ASM, CPU_EMIT_LLVM, CPU_EMIT_SHARED } CpuEmit;
/* --kernels: how weight products choose their kernel: by the cost model, or forced (every
 * product that has a sparse kernel uses it / none does), for measurements and tests. */
typedef enum CpuKernels { CPU_KERNELS_AUTO, CPU_KERNELS_DENSE, CPU_KERNELS_SPARSE } CpuKernels;

typedef struct CpuOptions {
	const char *cpu;          /* NULL: the host CPU; "generic": portable x86-64; else an LLVM CPU name */
	int opt_level;            /* 0..3 */
	const char *prefix;       /* entry-point prefix (--name) */
	CpuEmit emit;
	const char *output;       /* the .o / .s / .ll / .so */
	const char *header;       /* generated C header, or NULL */
	const char *weights_file; /* the weights go into this file instead of the object (docs/abi.md), or NULL */
	CpuKernels kernels;       /* --kernels (default auto) */
	int sparse_kind;          /* --kernels KIND (targets/cpu/sparse.h CpuKernelKind, with kernels SPARSE): the one
				   * sparse kernel allowed; 0: any */
	const char *cost_model;   /* --cost-model FILE, or "defaults"; NULL: the host's calibration file if any
				   * (cpu_cost_default_path), else the defaults */
	bool sparse_panels_only;  /* the sparse rows kernel reads im2col panels even where its padded bands
				   * would (targets/cpu/spmm.c): tests and comparisons of the two; no flag */
	int dense_vectors;        /* vectors per row of the dense micro-tile on the products gemm.c may widen
				   * (plan_rows); 0: the cost model's choice (dense-vectors). nnzc calibrate
				   * and tests; no flag */
	bool profile;             /* time every node in the entry point (PREFIX_layer_ns, nnzc bench --per-layer);
				   * off (the default), the code holds no timing at all */
	struct CpuReport *report; /* if set, cpu_compile fills it (the caller frees it with cpu_report_free) */
} CpuOptions;

/* What cpu_compile tells the driver about the code it generated (--time-passes, --report). */
#define CPU_PHASES 3
extern const char *const cpu_phase_names[CPU_PHASES]; /* "codegen: emit IR", "LLVM optimise", "LLVM emit object" */
typedef struct CpuLayer {
	const char *kernel;      /* the node's task kinds, e.g. "conv" or "pack+gemm" */
	int64_t weight_bytes;    /* constant bytes its code reads (packed weights, tables, constant operands) */
	double flops;            /* 2 per multiply-add of products and convolutions, else ~1 per output element */
	int shared_with;         /* index of an earlier node whose identical code it reuses, or -1 */
	const char *choice;      /* the product kernel the cost model chose ("dense", "sparse-rows", ...), or NULL */
	double predicted_s;      /* its predicted seconds on one thread (< 0: no prediction) */
	double dense_s;          /* the dense kernel's predicted seconds (< 0: none) */
} CpuLayer;
typedef struct CpuReport {
	double seconds[CPU_PHASES];
	int n_layers;
	CpuLayer *layers;        /* by node index */
	int64_t workspace, naive_workspace, weight_bytes, weights_in_file;
	int n_buffers, n_tasks, n_functions; /* task functions after identical ones were merged */
	char cost_model[600];    /* the cost model used: "defaults" or "FILE fnv1a64:HASH" */
	int cost_threads;        /* the thread count its predictions are for */
	int vlen;                /* float lanes of the code's vectors */
} CpuReport;
void cpu_report_free(CpuReport *r);

/* codegen.c: the optimised, statically shaped graph -> native code (and its header). */
int cpu_compile(const Graph *g, const CpuOptions *opt, Diag *d);

/* jit.c: compile to a shared object in a temporary folder and load it (nnzc run/bench). */
typedef struct CpuModel CpuModel;
CpuModel *cpu_load(const Graph *g, const CpuOptions *opt, Diag *d);
/* inputs/outputs in graph order and compute class, like ref_run; outputs allocated here */
int cpu_model_run(CpuModel *m, const Tensor *inputs, Tensor *outputs, int threads, Diag *d);
/* The same into the outputs of an earlier run of m, overwritten: what a benchmark loop calls, so
 * that it times the model, not an allocation and zero fill of its outputs per run */
int cpu_model_rerun(CpuModel *m, const Tensor *inputs, Tensor *outputs, int threads, Diag *d);
void cpu_model_free(CpuModel *m);
/* A model compiled with CpuOptions.profile: the nanoseconds every node took in the last run
 * (by node index; element n_nodes: the boundary conversions). NULL without profiling. */
const int64_t *cpu_model_layer_ns(const CpuModel *m);

/* cost.c: --kernels auto|dense|sparse|KIND (KIND: a sparse kernel name, e.g. sparse-rows) */
int cpu_kernels_parse(const char *s, CpuKernels *kernels, int *sparse_kind, Diag *d);
extern const char *const cpu_kernels_help; /* "auto | dense | sparse | sparse-rows | ..." */
/* The calibration file nnzc calibrate writes for an LLVM CPU name: $XDG_CACHE_HOME/nnzc/cost-CPU.txt,
 * else $HOME/.cache/nnzc/cost-CPU.txt; -1 when neither variable is set or it does not fit. */
int cpu_cost_default_path(const char *cpu_name, char *buf, size_t cap);
/* Parse a cost file as cpu_compile would (-1 with "FILE:LINE: ..." on any defect). */
int cpu_cost_check_file(const char *path, Diag *d);
/* The host's LLVM CPU name and feature string (malloc'd; the caller frees both). */
int cpu_host_target(const char *cpu, char **name, char **features, Diag *d);

/* calibrate.c: nnzc calibrate — time synthetic products with every kernel kind and fit the cost
 * model's constants (docs/performance.md); writes the file and a summary to `log`. */
typedef struct CpuCalibrateOptions {
	const char *cpu;          /* as CpuOptions.cpu */
	const char *out;          /* NULL: cpu_cost_default_path */
	int threads;              /* default 1 */
	double budget_s;          /* measuring time per model (0: default) */
	bool quick;               /* fewer shapes and densities (tests) */
	FILE *log;
} CpuCalibrateOptions;
int cpu_calibrate(const CpuCalibrateOptions *o, Diag *d);

#endif
