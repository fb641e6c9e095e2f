/* The cpu target's private vocabulary: the code generation context, the IR-building helpers
 * every op emitter uses, and the emitter table.
 *
 * Shape of the generated code (docs/abi.md has the user's view):
 *   - every constant the code reads, and every copy an emitter packs from one at compile time,
 *     is a data item (CgData): a private 64-byte aligned global holding its compute-class bytes,
 *     or a block of the weights file (--weights-file); constants of at most CG_BAKED_BYTES stay
 *     globals named in the code, so that the optimiser sees scalars as constants;
 *   - every other tensor lives at a fixed offset of one workspace (compiler/memplan.c), or in
 *     the caller's input/output buffers;
 *   - each node becomes one or more *task functions* `void task(ptr args, i64 begin, i64 end)`
 *     that do iterations [begin, end) of the node's parallel loop; `args` is the task's own array
 *     of pointers — the tensors it reads and writes (workspace, caller's buffers) and the constant
 *     data it reads (weights, packed weights) — which the entry point fills before the call.
 *     Nothing node-specific is baked into a task but its shapes and attributes, so nodes of the
 *     same signature (ResNet repeats its blocks) produce identical functions, which are merged
 *     before optimisation, and the weights can live in a separate file (--weights-file);
 *   - the entry point calls every node's tasks in order through nnzrt_parallel_for, which splits
 *     the iteration space over the runtime's thread pool.
 * Emitters build IR with mutable locals in allocas (cg_var) and let the optimiser promote them to
 * registers; that keeps the emitters readable and costs nothing after -O2. */
#ifndef NNZC_CPU_H
#define NNZC_CPU_H

#include "nnzc/ir.h"
#include "artifact.h"

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

/* Constant data that tasks read through their argument blocks: a constant's payload (borrowed
 * from the graph) or an emitter's packed copy (owned). Embedded in the object as a private
 * global per item, or placed at `offset` in the weights file. */
typedef struct CgData {
	const void *bytes;
	size_t size;
	void *owned;            /* malloc'd bytes, freed with the context, or NULL */
	int node;               /* node that first used it (names, reports) */
	LLVMValueRef global;    /* embedded: made by the entry point */
	int64_t offset;         /* --weights-file: byte offset in the payload */
} CgData;

/* One pointer of a task's argument block: a tensor's slot (slot >= 0) or a CgData item. */
typedef struct CgArg { int slot, data; } CgArg;

typedef struct CgTask {
	LLVMValueRef fn;
	int node;               /* node index; g->n_nodes for the entry point's boundary conversions */
	const char *what;       /* kind given to cg_task_begin ("conv", "depthwise", ...) */
	int first_arg, n_args;  /* in Cg.args */
	LLVMValueRef call;      /* its nnzrt_parallel_for call in the entry point */
} CgTask;

/* The kernel the cost model chose for a node with a weight product (sparse.h), for reports. */
typedef struct CpuChoice {
	bool set;
	int kind;               /* CpuKernelKind */
	double predicted_s;     /* the chosen kernel's predicted seconds (one thread) */
	double dense_s;         /* the dense kernel's, for comparison */
} CpuChoice;

typedef struct Cg {
	const Graph *g;
	const CpuOptions *opt;
	Diag *d;
	LLVMContextRef ctx;
	LLVMModuleRef mod;
	LLVMBuilderRef b;
	LLVMTargetMachineRef tm;

	LLVMTypeRef t_void, t_i1, t_i8, t_i16, t_i32, t_i64, t_f16, t_f32, t_f64, t_ptr;
	LLVMTypeRef t_task;     /* void (ptr bufs, i64 begin, i64 end) */
	int vlen;               /* f32 lanes of the preferred vector: 16 (AVX-512), 8 (AVX2), 4 (SSE) */

	MemPlan plan;
	int *share;             /* by value id: the input whose buffer the value may take over (an
				 * emitter's request, honoured by the final memory plan), or -1 */
	int *slot;              /* by value id: the tensor's slot (a pointer the entry point knows), -1 for constants */
	int n_slots;
	int *io_slot;           /* by value id: slot of the caller's buffer of a graph input or
				 * output converted at the boundary (assign_storage), else -1 */
	LLVMValueRef *global;   /* by value id: a small constant's global baked into the code, or NULL */
	int *data_of;           /* by value id: the CgData item of a larger constant, or -1 */
	int node_index;         /* node being emitted, for function names */
	CpuChoice *choice;      /* by node index (g->n_nodes): what cpu_note_choice recorded */
	int task_counter;

	CgData *data;           /* constant data reached through argument blocks */
	int n_data, cap_data;
	CgTask *tasks;          /* every task function built, in order */
	int n_tasks, cap_tasks;
	CgArg *args;            /* the tasks' argument lists, back to back */
	int n_args, cap_args;

	/* the target and the artifact */
	char *cpu_name, *cpu_features;
	bool external;          /* --weights-file: data items live in the weights file */
	int64_t payload_bytes;  /* external: bytes of the payload (multiple of 64) */
	int64_t file_bytes;     /* external: bytes of the whole weights file */
	uint64_t fingerprint;   /* external: the payload's hash (artifact.h) */
	int64_t embedded_bytes; /* data embedded in the object */
	LLVMValueRef weights;   /* external: the global holding the caller's weights pointer */

	/* set while a task function is being built */
	LLVMValueRef fn, bufs, begin, end; /* bufs: the task's argument block */
	int first_arg;          /* its arguments are args[first_arg .. n_args) */
	bool no_unroll;         /* loops closed now carry llvm.loop.unroll.disable (cg_for_end) */
	LLVMValueRef *data_ptrs; /* the task's pointers to constant data (cg_task_end marks loads) */
	int n_data_ptrs, cap_data_ptrs;
	const char *task_what;  /* the `what` of cg_task_begin: the kernel's name in reports */
	LLVMBasicBlockRef entry_block;
} Cg;

/* What an emitter produced for one node: tasks called in order, each over [0, n). */
#define CG_MAX_TASKS 4
typedef struct NodeCode {
	int n_tasks;
	LLVMValueRef task[CG_MAX_TASKS];
	int64_t iterations[CG_MAX_TASKS];
	/* a product's tasks read each element of its addends (gemm.h) only just before writing
	 * the same element of C, and write C nowhere else (no partial sums between k-blocks): C may
	 * live in an addend's buffer */
	bool adds_in_place;
} NodeCode;

typedef int (*EmitFn)(Cg *cg, const Node *n, NodeCode *code);

/* ---------------------------------------------------------------- builder.c */

LLVMValueRef cg_i64(Cg *cg, int64_t v);
LLVMValueRef cg_i32(Cg *cg, int32_t v);
LLVMValueRef cg_f32(Cg *cg, float v);
LLVMTypeRef cg_vec(Cg *cg, LLVMTypeRef elem, int lanes);
LLVMTypeRef cg_elem_type(Cg *cg, DType t); /* compute-class element type: float or i64 */

/* Start a task function for the current node; the builder is left in its body. Returns it. */
LLVMValueRef cg_task_begin(Cg *cg, const char *what);
void cg_task_end(Cg *cg);
/* The data pointer of value v inside the current task: loaded from the task's argument block,
 * or for a small constant (at most CG_BAKED_BYTES) its global, so that the optimiser sees
 * scalar operands as constants. */
#define CG_BAKED_BYTES 64
LLVMValueRef cg_ptr(Cg *cg, const Value *v);
/* Constant data an emitter prepared at compile time (packed weights): cg_data_take takes
 * ownership of `bytes` (malloc'd) and returns its id; cg_data_ptr gives its pointer inside the
 * current task, through the argument block. Loads through such pointers are marked invariant
 * when the task ends. */
int cg_data_take(Cg *cg, void *bytes, size_t size);
LLVMValueRef cg_data_ptr(Cg *cg, int id);
/* The pointer of slot `slot` inside the current task (codegen.c's boundary conversions). */
LLVMValueRef cg_slot_ptr(Cg *cg, int slot);
/* The CgData id of constant v (registered on first use; the graph keeps the bytes). */
int cg_const_data(Cg *cg, const Value *v);
/* A mutable local (alloca in the entry block), optionally initialised. */
LLVMValueRef cg_var(Cg *cg, LLVMTypeRef t, LLVMValueRef init, const char *name);

/* Counted loop: for (iv = lo; iv < hi; iv += step). cg_for returns iv (an i64). */
typedef struct Loop {
	LLVMValueRef var, iv, step, hi;
	LLVMBasicBlockRef cond, body, exit;
} Loop;
LLVMValueRef cg_for(Cg *cg, Loop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, const char *name);
void cg_for_end(Cg *cg, Loop *l);
/* llvm.prefetch of p + off elements of 4 bytes (a float or int32 array), for reading, into all
 * cache levels */
void cg_prefetch(Cg *cg, LLVMValueRef p, LLVMValueRef off);

/* if (cond) { ... } [else { ... }] */
typedef struct IfBlock { LLVMBasicBlockRef then_bb, else_bb, merge; } IfBlock;
void cg_if(Cg *cg, IfBlock *ib, LLVMValueRef cond, bool with_else);
void cg_else(Cg *cg, IfBlock *ib);
void cg_if_end(Cg *cg, IfBlock *ib);

/* element-typed addressing, loads and stores (elem: t_f32, t_i64, or a vector type) */
LLVMValueRef cg_gep(Cg *cg, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef cg_load(Cg *cg, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef index);
void cg_store(Cg *cg, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index);
LLVMValueRef cg_splat(Cg *cg, LLVMValueRef scalar, int lanes);
/* call an overloaded intrinsic such as "llvm.fma" or "llvm.maxnum" on type t */
LLVMValueRef cg_intrinsic(Cg *cg, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n);
/* declare (once) and call an external function */
LLVMValueRef cg_call_extern(Cg *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n_params,
			    LLVMValueRef *args);
/* Dtype layouts: the element type of t in the caller's buffers (half, i16 for bf16, double, i8 for
 * bool, ...) and conversions between it and the compute class, on scalars and vectors alike.
 * cg_round_dtype rounds a compute-class value to what t holds, like dtype_round. Graph inputs and
 * outputs whose storage differs from the compute class (cg_boundary_converts: all but f32, i64,
 * u64) are converted by the entry point. */
LLVMTypeRef cg_storage_type(Cg *cg, DType t);
LLVMValueRef cg_to_storage(Cg *cg, DType t, LLVMValueRef v);
LLVMValueRef cg_from_storage(Cg *cg, DType t, LLVMValueRef v);
LLVMValueRef cg_round_dtype(Cg *cg, DType t, LLVMValueRef v);
bool cg_boundary_converts(DType t);

/* ---------------------------------------------------------------- vec.c: reductions and vector math */

/* v as type t (scalar or vector): floating-point or integer constants */
LLVMValueRef cg_constf(Cg *cg, LLVMTypeRef t, double v);
LLVMValueRef cg_consti(Cg *cg, LLVMTypeRef t, int64_t v);
/* How a reduction combines two values. MAX/MIN never take a NaN from b (MaxPool and the
 * pools' semantics); MAX_NAN/MIN_NAN propagate NaN (Reduce*, Softmax). Integers: smax/smin. */
typedef enum CgRed { CG_ADD, CG_MUL, CG_MAX, CG_MIN, CG_MAX_NAN, CG_MIN_NAN } CgRed;
LLVMValueRef cg_combine(Cg *cg, CgRed op, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cg_hreduce(Cg *cg, CgRed op, LLVMValueRef v); /* all lanes of v -> scalar (tree) */
LLVMValueRef cg_exp(Cg *cg, LLVMValueRef x);                /* expf on f32 lanes, ~1 ulp, no libm */
LLVMValueRef cg_libm(Cg *cg, const char *name, LLVMValueRef x); /* f(x) per lane, e.g. "logf" */
LLVMValueRef cg_fp_to_i64_sat(Cg *cg, LLVMValueRef f);     /* as tensor_get_i (NaN: INT64_MIN) */
/* int -> f32 (-> f64) the way the interpreter converts; f32 -> f64 */
LLVMValueRef cg_convert(Cg *cg, LLVMValueRef v, LLVMTypeRef to);
/* private constant tables (64-byte aligned) named after the current node */
LLVMValueRef cg_table_i64(Cg *cg, const int64_t *v, int64_t n, const char *what);
LLVMValueRef cg_table_f32(Cg *cg, const float *v, int64_t n, const char *what);

/* Reduction of contiguous runs ptr[base .. base+len) (elements of type et, converted to the
 * accumulator type at, then mapped) into one value: `unroll` vector accumulators of `lanes`
 * lanes (lanes 1: scalar only), a scalar tail, a tree across lanes at the end. Init once, run
 * any number of runs (e.g. inside loops over outer reduced axes), then take the result. */
#define CG_ROW_MAX_UNROLL 4
typedef LLVMValueRef (*CgMap)(Cg *cg, LLVMValueRef v, void *ctx);
typedef struct CgRowAcc {
	CgRed op;
	LLVMTypeRef et, at;
	int lanes, unroll;
	CgMap map;    /* NULL: identity */
	void *map_ctx;
	LLVMValueRef vacc[CG_ROW_MAX_UNROLL], sacc; /* allocas */
} CgRowAcc;
void cg_row_init(Cg *cg, CgRowAcc *ra, LLVMValueRef init);
void cg_row_run(Cg *cg, CgRowAcc *ra, LLVMValueRef ptr, LLVMValueRef base, int64_t len);
LLVMValueRef cg_row_result(Cg *cg, CgRowAcc *ra);

/* ---------------------------------------------------------------- emitters (emit_*.c) */

int emit_elementwise(Cg *cg, const Node *n, NodeCode *code);
int emit_copy(Cg *cg, const Node *n, NodeCode *code);
int emit_arg_reduce(Cg *cg, const Node *n, NodeCode *code);
int emit_batch_norm(Cg *cg, const Node *n, NodeCode *code);
int emit_cast(Cg *cg, const Node *n, NodeCode *code);
int emit_clip(Cg *cg, const Node *n, NodeCode *code);
int emit_concat(Cg *cg, const Node *n, NodeCode *code);
int emit_constant_of_shape(Cg *cg, const Node *n, NodeCode *code);
int emit_conv(Cg *cg, const Node *n, NodeCode *code);
int emit_conv_transpose(Cg *cg, const Node *n, NodeCode *code);
int emit_expand(Cg *cg, const Node *n, NodeCode *code);
int emit_gather(Cg *cg, const Node *n, NodeCode *code);
int emit_gemm(Cg *cg, const Node *n, NodeCode *code);
int emit_global_pool(Cg *cg, const Node *n, NodeCode *code);
int emit_instance_norm(Cg *cg, const Node *n, NodeCode *code);
int emit_layer_norm(Cg *cg, const Node *n, NodeCode *code);
int emit_matmul(Cg *cg, const Node *n, NodeCode *code);
int emit_pad(Cg *cg, const Node *n, NodeCode *code);
int emit_pool(Cg *cg, const Node *n, NodeCode *code);
int emit_range(Cg *cg, const Node *n, NodeCode *code);
int emit_reduce(Cg *cg, const Node *n, NodeCode *code);
int emit_resize(Cg *cg, const Node *n, NodeCode *code);
int emit_shape_op(Cg *cg, const Node *n, NodeCode *code);
int emit_slice(Cg *cg, const Node *n, NodeCode *code);
int emit_softmax(Cg *cg, const Node *n, NodeCode *code);
int emit_split(Cg *cg, const Node *n, NodeCode *code);
int emit_tasd_activation(Cg *cg, const Node *n, NodeCode *code);
int emit_tile(Cg *cg, const Node *n, NodeCode *code);
int emit_transpose(Cg *cg, const Node *n, NodeCode *code);
int emit_where(Cg *cg, const Node *n, NodeCode *code);

/* codegen.c: the table; NULL entries are ops this target cannot compile */
EmitFn cpu_emitter(Op op);

/* entry.c: the entry points that call the nodes' tasks (docs/abi.md), after laying out the data
 * (cpu_layout_data); records each task's nnzrt_parallel_for call in cg->tasks[].call */
int cpu_emit_entry_points(Cg *cg, const NodeCode *codes);
/* PREFIX_weights_size and, with --weights-file, PREFIX_set_weights (needs cg->file_bytes) */
void cpu_emit_weights_api(Cg *cg);
extern const char *const cpu_status_name[]; /* "OK", "ERR_NO_WEIGHTS", ... by CPU_STATUS_* */
extern const char *const cpu_status_text[]; /* what PREFIX_strerror says */

/* artifact.c: what goes beside the code (formats in artifact.h) */
/* Which data items the tasks use and their offsets in the weights payload and its fingerprint
 * (external), or the bytes embedded in the object. */
int cpu_layout_data(Cg *cg);
/* After mergefunc: which node's function each node's first task reuses (shared_with by node
 * index, -1 for none; the caller sizes it g->n_nodes + 1); returns the distinct task functions. */
int cpu_shared_functions(const Cg *cg, int *shared_with);
/* The metadata text (malloc'd, *len bytes; NULL when out of memory): model, target, layers. */
char *cpu_metadata_text(Cg *cg, const int *shared_with, int n_functions, size_t *len);
size_t cpu_metadata_blob_bytes(size_t len);
/* The metadata blob as a private global in section .nnzc.info, kept by llvm.used. */
int cpu_emit_metadata(Cg *cg, const char *text, size_t len);
/* Write the weights file (external only): header, payload, metadata blob. */
int cpu_write_weights(Cg *cg, const char *text, size_t len);
/* Fill a report from what was built; keeps r->seconds. */
int cpu_fill_report(Cg *cg, const int *shared_with, int n_functions, CpuReport *r);
/* the task kinds of node k joined with '+', in buf */
const char *cpu_node_kernel(const Cg *cg, int k, char *buf, size_t cap);
/* per-layer work: 2 per multiply-add of products and convolutions, else ~1 per element */
double cpu_node_flops(const Node *n);

/* header.c */
int cpu_write_header(const Cg *cg, Diag *d);
/* the entry-point prefix: --name, else derived from the output file name */
void cpu_prefix(const CpuOptions *opt, char *buf, size_t cap);

#endif
