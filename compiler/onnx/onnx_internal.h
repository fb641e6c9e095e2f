/* Private interface of the ONNX frontend, writer and .pb tensor I/O (compiler/onnx/).
 *
 * files.c        whole-file reads, depth-checked unpacking, external-data files
 * tensors.c      TensorProto <-> compute-class payload (shared by initializers, Constant nodes,
 *                tensor attributes, .pb files and the writer)
 * attributes.c   AttributeProto <-> OpAttrs through the op's AttrDesc table
 * canonicalize.c opset-dependent rewrites into the one form of ops.def
 * import.c       model -> Graph
 * export.c       Graph -> model
 * tensor_io.c    one TensorProto per .pb file
 *
 * Everything here reads untrusted bytes: every count and length is checked before use. */
#ifndef NNZC_ONNX_INTERNAL_H
#define NNZC_ONNX_INTERNAL_H

#include "nnzc/ir.h"
#include "onnx.pb-c.h"

/* Deepest message nesting accepted before protobuf-c's recursive unpacker runs. A real model
 * nests a few levels (model > graph > node > attribute > tensor > segment; subgraphs add four
 * per level); hostile input can nest millions, which would overflow the stack. */
#define ONNX_MAX_DEPTH 64

/* ---------------------------------------------------------------- files.c */

/* Read a whole file into a malloc'd buffer; an empty file is an error. */
int onnx_read_file(const char *path, uint8_t **buf, size_t *len, Diag *d);
/* true if buf is well-formed protobuf wire data for desc nested at most ONNX_MAX_DEPTH deep */
bool onnx_wire_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len);
/* The folder of path ("." if none), malloc'd. */
char *onnx_dirname(const char *path);
/* Open the external-data file `location` of tensor `tensor`, which must stay inside `dir`
 * (no absolute path, no "..", no symlink leading out). Returns an fd and its size, or -1. */
int onnx_open_external(const char *dir, const char *location, const char *tensor, int64_t *size, Diag *d);

/* ---------------------------------------------------------------- tensors.c */

/* What a TensorProto holds, validated before any payload is allocated. */
typedef struct OnnxTensorInfo {
	DType dtype;
	Shape shape;
	int64_t numel;
	size_t storage_bytes; /* numel * storage size of dtype */
	int ext_fd;           /* external data: open file, else -1 */
	int64_t ext_offset;
} OnnxTensorInfo;

/* Check dtype, rank, dims, element count and the length of the data (inline or external,
 * resolved relative to base_dir; base_dir NULL forbids external data). `label` names the
 * tensor in messages ("tensor 'W'"). Release with onnx_tensor_info_done. */
int onnx_tensor_info(const Onnx__TensorProto *tp, const char *label, const char *base_dir, OnnxTensorInfo *info, Diag *d);
/* Decode the data into `compute` (numel elements of the compute class of info->dtype). */
int onnx_tensor_load(const Onnx__TensorProto *tp, const char *label, const OnnxTensorInfo *info, void *compute, Diag *d);
void onnx_tensor_info_done(OnnxTensorInfo *info);
/* Fill tp (already initialised) with dims, data_type and raw_data in dtype's storage layout;
 * storage comes from arena `a`. */
int onnx_tensor_fill(Onnx__TensorProto *tp, Arena *a, DType dtype, const Shape *shape, const void *compute, Diag *d);

/* ---------------------------------------------------------------- import state (import.c) */

typedef struct Importer {
	Graph *g;
	const char *path;      /* for messages */
	const char *dir;       /* folder for external data; NULL if the model has no path */
	int64_t opset;         /* default-domain opset */
	int n_declared;        /* values with id < n_declared carry names from the file */
	Diag *d;
} Importer;

/* One ONNX node on its way into the IR. */
typedef struct NodeBuild {
	const Onnx__NodeProto *np;
	int index;             /* position in graph.node */
	const char *name;      /* IR node name (given, or <OpType>_<index>) */
	Op op;
	Value **in;            /* NULL: omitted optional input */
	int n_in, cap_in;
	Value **out;
	int n_out;
	OpAttrs attr;
	bool emitted;          /* canonicalisation already added the node(s) */
} NodeBuild;

/* "node 'NAME' (OpType): ..." for nodes not yet in the graph */
int build_error(Importer *im, const NodeBuild *b, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A 1-D constant (n elements) or, with rank0, a scalar; named after the node. */
Value *import_const_i64(Importer *im, const char *name, const int64_t *v, int n);
Value *import_const_f(Importer *im, const char *name, DType dtype, const float *v, int n, bool rank0);
/* Append node b as built (its outputs are b->out). */
Node *import_emit(Importer *im, NodeBuild *b);
/* Append a helper node with fresh outputs. */
Node *import_helper(Importer *im, Op op, const char *name, int n_in, Value *const *in, int n_out);
/* Make room for and append one input (NULL allowed). */
void build_push_input(Importer *im, NodeBuild *b, Value *v);

/* ---------------------------------------------------------------- attributes.c */

/* The ONNX attribute named `name` of np, or NULL. */
const Onnx__AttributeProto *onnx_attr_find(const Onnx__NodeProto *np, const char *name);
/* ONNX attribute type, inferred from the populated field when an old writer left it unset. */
int onnx_attr_type(const Onnx__AttributeProto *a);
const char *onnx_attr_type_name(int type);
/* Set the AttrDesc field `desc` of b->attr from ONNX attribute a (type-checked). */
int attr_from_onnx(Importer *im, NodeBuild *b, const AttrDesc *desc, const Onnx__AttributeProto *a);
/* Legacy attributes read by canonicalisation: ints/floats with a capacity, type-checked. */
int attr_get_ints(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, int64_t *v, int cap, int *n);
int attr_get_floats(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, float *v, int cap, int *n);
int attr_get_float(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, float *v);
int attr_get_string(Importer *im, NodeBuild *b, const Onnx__AttributeProto *a, char *buf, size_t cap);
/* Export: one AttributeProto per non-default field of `attrs` for op (arena-allocated), except
 * the fields named in the NULL-terminated `skip` list; returns the count written into out. */
int attrs_to_onnx(Arena *a, int op, const OpAttrs *attrs, const char *const *skip, Onnx__AttributeProto **out,
		  int cap, Diag *d);
Onnx__AttributeProto *onnx_attr_new_int(Arena *a, const char *name, int64_t v);
Onnx__AttributeProto *onnx_attr_new_float(Arena *a, const char *name, float v);
Onnx__AttributeProto *onnx_attr_new_ints(Arena *a, const char *name, const int64_t *v, int n);
Onnx__AttributeProto *onnx_attr_new_string(Arena *a, const char *name, const char *s);

/* ---------------------------------------------------------------- canonicalize.c */

typedef enum AttrRole {
	ATTR_TABLE,   /* goes through the op's AttrDesc table */
	ATTR_LEGACY,  /* read by canon_node (an old opset's form of something newer opsets say otherwise) */
	ATTR_IGNORED, /* defined by this opset, meaningless for inference: dropped */
} AttrRole;

AttrRole canon_attr_role(const NodeBuild *b, int64_t opset, const char *name);
/* Rewrite b into the canonical form of ops.def; may emit helper nodes and constants, or the
 * whole replacement (then b->emitted is set). */
int canon_node(Importer *im, NodeBuild *b);

#endif
