/* cpu_compile: the optimised, statically shaped graph -> one LLVM module -> object, assembly,
 * LLVM IR or shared library, plus the C header that declares its entry points.
 *
 * Order of work: refuse what cannot be compiled (all unsupported ops in one message), plan the
 * workspace, turn constants into globals, let each node's emitter build its task functions,
 * build the entry points that call them, optimise, emit. */
#include "cpu.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every op and the emitter that compiles it (emit_*.c). */
static const EmitFn emitters[OP_COUNT] = {
	[OP_Add] = emit_elementwise,
	[OP_Sub] = emit_elementwise,
	[OP_Mul] = emit_elementwise,
	[OP_Div] = emit_elementwise,
	[OP_Pow] = emit_elementwise,
	[OP_PRelu] = emit_elementwise,
	[OP_Min] = emit_elementwise,
	[OP_Max] = emit_elementwise,
	[OP_Sum] = emit_elementwise,
	[OP_Mean] = emit_elementwise,
	[OP_Equal] = emit_elementwise,
	[OP_Less] = emit_elementwise,
	[OP_Greater] = emit_elementwise,
	[OP_LessOrEqual] = emit_elementwise,
	[OP_GreaterOrEqual] = emit_elementwise,
	[OP_And] = emit_elementwise,
	[OP_Or] = emit_elementwise,
	[OP_Where] = emit_where,
	[OP_Sqrt] = emit_elementwise,
	[OP_Exp] = emit_elementwise,
	[OP_Log] = emit_elementwise,
	[OP_Neg] = emit_elementwise,
	[OP_Abs] = emit_elementwise,
	[OP_Reciprocal] = emit_elementwise,
	[OP_Erf] = emit_elementwise,
	[OP_Floor] = emit_elementwise,
	[OP_Ceil] = emit_elementwise,
	[OP_Round] = emit_elementwise,
	[OP_Sign] = emit_elementwise,
	[OP_Sin] = emit_elementwise,
	[OP_Cos] = emit_elementwise,
	[OP_Not] = emit_elementwise,
	[OP_Relu] = emit_elementwise,
	[OP_LeakyRelu] = emit_elementwise,
	[OP_Elu] = emit_elementwise,
	[OP_Selu] = emit_elementwise,
	[OP_Sigmoid] = emit_elementwise,
	[OP_Tanh] = emit_elementwise,
	[OP_HardSigmoid] = emit_elementwise,
	[OP_HardSwish] = emit_elementwise,
	[OP_Softplus] = emit_elementwise,
	[OP_Softsign] = emit_elementwise,
	[OP_Clip] = emit_clip,
	[OP_Cast] = emit_cast,
	[OP_Identity] = emit_copy,
	[OP_Dropout] = emit_copy,
	[OP_Softmax] = emit_softmax,
	[OP_LogSoftmax] = emit_softmax,
	[OP_BatchNormalization] = emit_batch_norm,
	[OP_LayerNormalization] = emit_layer_norm,
	[OP_InstanceNormalization] = emit_instance_norm,
	[OP_ReduceMean] = emit_reduce,
	[OP_ReduceSum] = emit_reduce,
	[OP_ReduceMax] = emit_reduce,
	[OP_ReduceMin] = emit_reduce,
	[OP_ReduceProd] = emit_reduce,
	[OP_ReduceSumSquare] = emit_reduce,
	[OP_ReduceL1] = emit_reduce,
	[OP_ReduceL2] = emit_reduce,
	[OP_ReduceLogSumExp] = emit_reduce,
	[OP_ArgMax] = emit_arg_reduce,
	[OP_ArgMin] = emit_arg_reduce,
	[OP_MatMul] = emit_matmul,
	[OP_Gemm] = emit_gemm,
	[OP_Conv] = emit_conv,
	[OP_ConvTranspose] = emit_conv_transpose,
	[OP_MaxPool] = emit_pool,
	[OP_AveragePool] = emit_pool,
	[OP_GlobalAveragePool] = emit_global_pool,
	[OP_GlobalMaxPool] = emit_global_pool,
	[OP_Flatten] = emit_copy,
	[OP_Reshape] = emit_copy,
	[OP_Squeeze] = emit_copy,
	[OP_Unsqueeze] = emit_copy,
	[OP_Transpose] = emit_transpose,
	[OP_Concat] = emit_concat,
	[OP_Split] = emit_split,
	[OP_Slice] = emit_slice,
	[OP_Gather] = emit_gather,
	[OP_Shape] = emit_shape_op,
	[OP_Size] = emit_shape_op,
	[OP_ConstantOfShape] = emit_constant_of_shape,
	[OP_Expand] = emit_expand,
	[OP_Tile] = emit_tile,
	[OP_Range] = emit_range,
	[OP_Pad] = emit_pad,
	[OP_Resize] = emit_resize,
	[OP_FusedConv] = emit_conv,
	[OP_FusedGemm] = emit_gemm,
};

EmitFn cpu_emitter(Op op) { return emitters[op]; }

/* ---------------------------------------------------------------- target machine */

static int vector_lanes_for(const char *cpu, const char *features)
{
	if (features && strstr(features, "+avx512f"))
		return 16;
	if (features && (strstr(features, "+avx2") || strstr(features, "+avx,")))
		return 8;
	if (features && *features)
		return 4;
	/* a named CPU without an explicit feature string: go by the family name */
	static const char *const avx512[] = {"avx512", "icelake", "sapphirerapids", "tigerlake", "cooperlake",
					     "cascadelake", "cannonlake", "znver4", "znver5", "x86-64-v4",
					     "graniterapids", "emeraldrapids", NULL};
	static const char *const avx2[] = {"haswell", "broadwell", "skylake", "znver1", "znver2", "znver3",
					   "x86-64-v3", "alderlake", "raptorlake", "meteorlake", NULL};
	for (int i = 0; avx512[i]; i++)
		if (strstr(cpu, avx512[i]))
			return 16;
	for (int i = 0; avx2[i]; i++)
		if (strstr(cpu, avx2[i]))
			return 8;
	return 4;
}

static int make_target_machine(Cg *cg)
{
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86Target();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86AsmPrinter();
	char *triple = LLVMGetDefaultTargetTriple();
	LLVMTargetRef target;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(triple, &target, &err)) {
		diag_error(cg->d, "LLVM has no target for %s: %s", triple, err ? err : "?");
		LLVMDisposeMessage(err);
		LLVMDisposeMessage(triple);
		return -1;
	}
	char *cpu, *features;
	const char *want = cg->opt->cpu;
	if (want == NULL || strcmp(want, "native") == 0 || strcmp(want, "host") == 0) {
		cpu = LLVMGetHostCPUName();
		features = LLVMGetHostCPUFeatures();
	} else {
		cpu = LLVMCreateMessage(strcmp(want, "generic") == 0 ? "x86-64" : want);
		features = LLVMCreateMessage("");
	}
	static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
						     LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
	cg->tm = LLVMCreateTargetMachine(target, triple, cpu, features, levels[cg->opt->opt_level], LLVMRelocPIC,
					 LLVMCodeModelDefault);
	cg->vlen = vector_lanes_for(cpu, features);
	int rc = 0;
	if (cg->tm == NULL)
		rc = diag_error(cg->d, "LLVM cannot make a target machine for cpu '%s'", cpu);
	LLVMSetTarget(cg->mod, triple);
	if (cg->tm) {
		LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(cg->tm);
		char *ls = LLVMCopyStringRepOfTargetData(layout);
		LLVMSetDataLayout(cg->mod, ls);
		LLVMDisposeMessage(ls);
		LLVMDisposeTargetData(layout);
	}
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(features);
	LLVMDisposeMessage(triple);
	return rc;
}

/* LLVM accepts any CPU name and silently falls back; reject names it does not know. */
static int check_cpu_name(Cg *cg)
{
	const char *want = cg->opt->cpu;
	if (want == NULL || !strcmp(want, "native") || !strcmp(want, "host") || !strcmp(want, "generic"))
		return 0;
	static const char *const known[] = {
		"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "nehalem", "westmere", "sandybridge", "ivybridge",
		"haswell", "broadwell", "skylake", "skylake-avx512", "cascadelake", "cooperlake", "cannonlake",
		"icelake-client", "icelake-server", "tigerlake", "sapphirerapids", "alderlake", "raptorlake",
		"meteorlake", "graniterapids", "emeraldrapids", "znver1", "znver2", "znver3", "znver4", "znver5",
		"btver2", "bdver4", "atom", "silvermont", "goldmont", "tremont", "core2", "penryn", NULL};
	for (int i = 0; known[i]; i++)
		if (strcmp(known[i], want) == 0)
			return 0;
	return diag_error(cg->d, "--cpu %s: not an x86-64 CPU name LLVM knows (try generic, native, haswell, "
			  "skylake-avx512, znver4, x86-64-v3)", want);
}

/* ---------------------------------------------------------------- module setup */

static void make_types(Cg *cg)
{
	cg->t_void = LLVMVoidTypeInContext(cg->ctx);
	cg->t_i1 = LLVMInt1TypeInContext(cg->ctx);
	cg->t_i8 = LLVMInt8TypeInContext(cg->ctx);
	cg->t_i16 = LLVMInt16TypeInContext(cg->ctx);
	cg->t_i32 = LLVMInt32TypeInContext(cg->ctx);
	cg->t_i64 = LLVMInt64TypeInContext(cg->ctx);
	cg->t_f16 = LLVMHalfTypeInContext(cg->ctx);
	cg->t_f32 = LLVMFloatTypeInContext(cg->ctx);
	cg->t_f64 = LLVMDoubleTypeInContext(cg->ctx);
	cg->t_ptr = LLVMPointerTypeInContext(cg->ctx, 0);
	LLVMTypeRef params[3] = {cg->t_ptr, cg->t_i64, cg->t_i64};
	cg->t_task = LLVMFunctionType(cg->t_void, params, 3, 0);
}

static int check_supported(const Graph *g, Diag *d)
{
	char list[1024] = "";
	size_t len = 0;
	int missing = 0;
	bool seen[OP_COUNT] = {false};
	for (int i = 0; i < g->n_nodes; i++) {
		Op op = g->nodes[i]->op;
		if (emitters[op] || seen[op])
			continue;
		seen[op] = true;
		missing++;
		if (len < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s (node '%s')", missing > 1 ? ", " : "",
						op_name(op), g->nodes[i]->name);
	}
	if (missing)
		return diag_unsupported(d, "%s: the cpu target cannot compile %s", g->source, list);
	/* every dtype crosses the boundary (see assign_storage); only an undefined one cannot. The
	 * memory plan checks the shapes of intermediate values; inputs and outputs are checked here */
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < (k ? g->n_outputs : g->n_inputs); i++) {
			const Value *v = k ? g->outputs[i] : g->inputs[i];
			char sb[128];
			if (v->dtype == DT_UNDEFINED)
				return diag_error(d, "%s '%s' has no dtype", k ? "output" : "input", v->name);
			if (!shape_is_static(&v->shape))
				return diag_error(d, "value '%s' has the non-static shape %s; the cpu target needs static shapes",
						  v->name, shape_str(&v->shape, sb, sizeof sb));
		}
	return 0;
}

/* Slots: graph inputs, then graph outputs produced by nodes, then planned tensors. */
static int assign_storage(Cg *cg)
{
	const Graph *g = cg->g;
	cg->slot = malloc(((size_t)g->n_values + 1) * sizeof *cg->slot);
	cg->global = calloc((size_t)g->n_values + 1, sizeof *cg->global);
	if (!cg->slot || !cg->global)
		return diag_error(cg->d, "out of memory");
	for (int i = 0; i < g->n_values; i++)
		cg->slot[i] = -1;
	for (int i = 0; i < g->n_inputs; i++)
		if (cg->slot[g->inputs[i]->id] < 0)
			cg->slot[g->inputs[i]->id] = cg->n_slots++;
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		if (v->producer && cg->slot[v->id] < 0)
			cg->slot[v->id] = cg->n_slots++;
	}
	for (int i = 0; i < g->n_values; i++)
		if (cg->plan.offset[i] >= 0 && cg->slot[i] < 0)
			cg->slot[i] = cg->n_slots++;
	/* The caller's buffers hold graph inputs and outputs in their declared dtype's layout (f16 as
	 * 2 bytes, bool as 1, ...); kernels work in the compute class. A graph input or output whose
	 * layout differs gets a compute-class buffer appended to the workspace: its slot points
	 * there, and the entry point converts into it before the first node (inputs) and out of it
	 * after the last (outputs), in parallel tasks that find the caller's buffer in one more slot
	 * (io_slot). The graph's arena holds io_slot, so cpu_compile has nothing more to free. */
	cg->io_slot = arena_alloc(g->arena, ((size_t)g->n_values + 1) * sizeof *cg->io_slot);
	for (int i = 0; i < g->n_values; i++)
		cg->io_slot[i] = -1;
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		bool io = graph_is_input(g, v) || (v->producer && graph_is_output(g, v));
		if (!io || !cg_boundary_converts(v->dtype) || cg->plan.offset[i] >= 0)
			continue;
		cg->io_slot[i] = cg->n_slots++;
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		int64_t at = (cg->plan.size + 63) / 64 * 64;
		if (!ok || bytes > (size_t)(INT64_MAX / 2) || at > INT64_MAX / 2 - (int64_t)bytes)
			return diag_error(cg->d, "'%s' is too large for the workspace", v->name);
		cg->plan.offset[i] = at;
		cg->plan.bytes[i] = (int64_t)bytes;
		cg->plan.size = at + (int64_t)bytes;
	}
	/* constants become globals holding their compute-class bytes */
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		if (v->producer || v->data == NULL)
			continue;
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		if (!ok || bytes > UINT32_MAX)
			return diag_error(cg->d, "constant '%s' is too large for one global", v->name);
		LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, v->data, bytes, 1);
		char name[64];
		snprintf(name, sizeof name, "nnzc.const%d", i);
		LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
		LLVMSetInitializer(gv, init);
		LLVMSetGlobalConstant(gv, 1);
		LLVMSetLinkage(gv, LLVMPrivateLinkage);
		LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
		LLVMSetAlignment(gv, 64);
		cg->global[i] = gv;
	}
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		if (!v->producer && v->elided)
			return diag_error(cg->d, "constant '%s' has no data (elided in the dump it came from)", v->name);
	}
	return 0;
}

/* ---------------------------------------------------------------- entry points */

static LLVMValueRef add_function(Cg *cg, const char *prefix, const char *suffix, LLVMTypeRef ret, LLVMTypeRef *params,
				 int n)
{
	char name[256];
	snprintf(name, sizeof name, "%s_%s", prefix, suffix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
	LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
	return fn;
}

static LLVMValueRef const_string(Cg *cg, const char *s, const char *name)
{
	LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, s, strlen(s), 0);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	return gv;
}

static LLVMValueRef const_table(Cg *cg, LLVMTypeRef elem, LLVMValueRef *vals, int n, const char *name)
{
	LLVMValueRef init = LLVMConstArray2(elem, vals, (uint64_t)n);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	return gv;
}

/* T PREFIX_SUFFIX(int i): table[i] for 0 <= i < n, else `none` */
static void emit_query(Cg *cg, const char *prefix, const char *suffix, LLVMTypeRef t, LLVMValueRef table, int n,
		       LLVMValueRef none)
{
	LLVMValueRef fn = add_function(cg, prefix, suffix, t, &cg->t_i32, 1);
	LLVMValueRef i = LLVMGetParam(fn, 0);
	LLVMBasicBlockRef in = LLVMAppendBasicBlockInContext(cg->ctx, fn, "in");
	LLVMBasicBlockRef out = LLVMAppendBasicBlockInContext(cg->ctx, fn, "out");
	LLVMValueRef ok = LLVMBuildICmp(cg->b, LLVMIntULT, i, cg_i32(cg, n), "");
	LLVMBuildCondBr(cg->b, ok, in, out);
	LLVMPositionBuilderAtEnd(cg->b, in);
	LLVMValueRef idx = LLVMBuildZExt(cg->b, i, cg->t_i64, "");
	LLVMBuildRet(cg->b, LLVMBuildLoad2(cg->b, t, LLVMBuildInBoundsGEP2(cg->b, t, table, &idx, 1, ""), ""));
	LLVMPositionBuilderAtEnd(cg->b, out);
	LLVMBuildRet(cg->b, none);
}

static void emit_io_queries(Cg *cg, const char *prefix, const char *kind, Value *const *vals, int n)
{
	LLVMValueRef *names = calloc((size_t)n + 1, sizeof *names), *ranks = calloc((size_t)n + 1, sizeof *ranks);
	LLVMValueRef *shapes = calloc((size_t)n + 1, sizeof *shapes), *dtypes = calloc((size_t)n + 1, sizeof *dtypes);
	char buf[128];
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "nnzc.%s.name%d", kind, i);
		names[i] = const_string(cg, vals[i]->name, buf);
		ranks[i] = cg_i32(cg, vals[i]->shape.rank);
		dtypes[i] = cg_i32(cg, dtype_to_onnx(vals[i]->dtype));
		LLVMValueRef dims[NNZC_MAX_RANK + 1];
		for (int k = 0; k < vals[i]->shape.rank; k++)
			dims[k] = cg_i64(cg, vals[i]->shape.dim[k]);
		snprintf(buf, sizeof buf, "nnzc.%s.shape%d", kind, i);
		shapes[i] = const_table(cg, cg->t_i64, dims, vals[i]->shape.rank, buf);
	}
	char what[64];
	snprintf(buf, sizeof buf, "nnzc.%s.names", kind);
	LLVMValueRef tn = const_table(cg, cg->t_ptr, names, n, buf);
	snprintf(buf, sizeof buf, "nnzc.%s.ranks", kind);
	LLVMValueRef tr = const_table(cg, cg->t_i32, ranks, n, buf);
	snprintf(buf, sizeof buf, "nnzc.%s.shapes", kind);
	LLVMValueRef ts = const_table(cg, cg->t_ptr, shapes, n, buf);
	snprintf(buf, sizeof buf, "nnzc.%s.dtypes", kind);
	LLVMValueRef td = const_table(cg, cg->t_i32, dtypes, n, buf);
	snprintf(what, sizeof what, "%s_name", kind);
	emit_query(cg, prefix, what, cg->t_ptr, tn, n, LLVMConstNull(cg->t_ptr));
	snprintf(what, sizeof what, "%s_rank", kind);
	emit_query(cg, prefix, what, cg->t_i32, tr, n, cg_i32(cg, -1));
	snprintf(what, sizeof what, "%s_shape", kind);
	emit_query(cg, prefix, what, cg->t_ptr, ts, n, LLVMConstNull(cg->t_ptr));
	snprintf(what, sizeof what, "%s_dtype", kind);
	emit_query(cg, prefix, what, cg->t_i32, td, n, cg_i32(cg, 0));
	snprintf(what, sizeof what, "num_%ss", kind);
	LLVMValueRef fn = add_function(cg, prefix, what, cg->t_i32, NULL, 0);
	(void)fn;
	LLVMBuildRet(cg->b, cg_i32(cg, n));
	free(names);
	free(ranks);
	free(shapes);
	free(dtypes);
}

/* dst[i] = src[i] for i in [lo, hi), converted from the compute class to t's storage layout
 * (to_storage) or back; a loop in the current function (cg->fn) */
static void convert_loop(Cg *cg, DType t, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef lo, LLVMValueRef hi,
			 bool to_storage)
{
	LLVMTypeRef ct = cg_elem_type(cg, t), st = cg_storage_type(cg, t);
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, lo, hi, 1, "conv");
	LLVMValueRef x = LLVMBuildLoad2(cg->b, to_storage ? ct : st, cg_gep(cg, to_storage ? ct : st, src, i), "");
	LLVMValueRef y = to_storage ? cg_to_storage(cg, t, x) : cg_from_storage(cg, t, x);
	LLVMBuildStore(cg->b, y, cg_gep(cg, to_storage ? st : ct, dst, i));
	cg_for_end(cg, &l);
}

/* A task converting value v between the caller's buffer (io_slot) and its compute-class buffer
 * (slot), CONVERT_CHUNK elements per iteration. */
#define CONVERT_CHUNK 16384
static LLVMValueRef convert_task(Cg *cg, const Value *v, bool to_storage, int64_t *iterations)
{
	int64_t n = shape_numel(&v->shape);
	LLVMValueRef fn = cg_task_begin(cg, to_storage ? "store_output" : "load_input");
	LLVMValueRef caller = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, cg->bufs, cg_i64(cg, cg->io_slot[v->id])), "");
	LLVMValueRef mine = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, cg->bufs, cg_i64(cg, cg->slot[v->id])), "");
	LLVMValueRef lo = LLVMBuildMul(cg->b, cg->begin, cg_i64(cg, CONVERT_CHUNK), "");
	LLVMValueRef hi = LLVMBuildMul(cg->b, cg->end, cg_i64(cg, CONVERT_CHUNK), "");
	hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, n), ""), cg_i64(cg, n), hi, "");
	convert_loop(cg, v->dtype, to_storage ? caller : mine, to_storage ? mine : caller, lo, hi, to_storage);
	cg_task_end(cg);
	*iterations = (n + CONVERT_CHUNK - 1) / CONVERT_CHUNK;
	return fn;
}

static void emit_entry_points(Cg *cg, const NodeCode *codes)
{
	const Graph *g = cg->g;
	char prefix[128];
	cpu_prefix(cg->opt, prefix, sizeof prefix);
	/* the boundary conversions' tasks: inputs in graph order, then outputs */
	size_t n_io = (size_t)(g->n_inputs + g->n_outputs) + 1;
	LLVMValueRef *conv = arena_alloc(g->arena, n_io * sizeof *conv);
	int64_t *conv_n = arena_alloc(g->arena, n_io * sizeof *conv_n);
	cg->node_index = g->n_nodes;
	for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
		const Value *v = i < g->n_inputs ? g->inputs[i] : g->outputs[i - g->n_inputs];
		bool first = true;
		for (int k = g->n_inputs; k < i; k++)
			first &= g->outputs[k - g->n_inputs] != v;
		if (cg->io_slot[v->id] >= 0 && first && (i < g->n_inputs || v->producer))
			conv[i] = convert_task(cg, v, i >= g->n_inputs, &conv_n[i]);
	}
	/* int PREFIX_run_with(const void *const *inputs, void *const *outputs, void *workspace, int threads) */
	LLVMTypeRef params[4] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i32};
	LLVMValueRef run_with = add_function(cg, prefix, "run_with", cg->t_i32, params, 4);
	LLVMValueRef inputs = LLVMGetParam(run_with, 0), outputs = LLVMGetParam(run_with, 1);
	LLVMValueRef ws = LLVMGetParam(run_with, 2), threads = LLVMGetParam(run_with, 3);
	LLVMTypeRef bufs_t = LLVMArrayType2(cg->t_ptr, (uint64_t)(cg->n_slots ? cg->n_slots : 1));
	LLVMValueRef bufs = LLVMBuildAlloca(cg->b, bufs_t, "bufs");
	for (int i = 0; i < g->n_inputs; i++) {
		LLVMValueRef p = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, inputs, cg_i64(cg, i)), "");
		LLVMBuildStore(cg->b, p, cg_gep(cg, cg->t_ptr, bufs, cg_i64(cg, cg->slot[g->inputs[i]->id])));
	}
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		bool first = true;
		for (int k = 0; k < i; k++)
			first &= g->outputs[k] != v;
		if (!v->producer || !first)
			continue; /* copied at the end */
		LLVMValueRef p = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, outputs, cg_i64(cg, i)), "");
		LLVMBuildStore(cg->b, p, cg_gep(cg, cg->t_ptr, bufs, cg_i64(cg, cg->slot[v->id])));
	}
	for (int i = 0; i < g->n_values; i++) {
		if (cg->plan.offset[i] < 0)
			continue;
		LLVMValueRef off = cg_i64(cg, cg->plan.offset[i]);
		LLVMValueRef p = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, ws, &off, 1, "");
		LLVMBuildStore(cg->b, p, cg_gep(cg, cg->t_ptr, bufs, cg_i64(cg, cg->slot[i])));
	}
	/* the caller's buffers of values converted at the boundary */
	for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
		if (conv[i] == NULL)
			continue;
		bool in = i < g->n_inputs;
		const Value *v = in ? g->inputs[i] : g->outputs[i - g->n_inputs];
		LLVMValueRef p = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, in ? inputs : outputs,
									 cg_i64(cg, in ? i : i - g->n_inputs)), "");
		LLVMBuildStore(cg->b, p, cg_gep(cg, cg->t_ptr, bufs, cg_i64(cg, cg->io_slot[v->id])));
	}
	cg->fn = run_with;
	cg->entry_block = LLVMGetEntryBasicBlock(run_with);
	LLVMTypeRef pool_param = cg->t_i32;
	LLVMValueRef pool = cg_call_extern(cg, "nnzrt_shared_pool", cg->t_ptr, &pool_param, 1, &threads);
	LLVMTypeRef pf_params[4] = {cg->t_ptr, cg->t_i64, cg->t_ptr, cg->t_ptr};
	/* inputs held in another layout than the compute class: into their workspace buffers */
	for (int i = 0; i < g->n_inputs; i++)
		if (conv[i]) {
			LLVMValueRef args[4] = {pool, cg_i64(cg, conv_n[i]), conv[i], bufs};
			cg_call_extern(cg, "nnzrt_parallel_for", cg->t_void, pf_params, 4, args);
		}
	for (int k = 0; k < g->n_nodes; k++)
		for (int t = 0; t < codes[k].n_tasks; t++) {
			LLVMValueRef args[4] = {pool, cg_i64(cg, codes[k].iterations[t]), codes[k].task[t], bufs};
			cg_call_extern(cg, "nnzrt_parallel_for", cg->t_void, pf_params, 4, args);
		}
	for (int i = g->n_inputs; i < g->n_inputs + g->n_outputs; i++)
		if (conv[i]) {
			LLVMValueRef args[4] = {pool, cg_i64(cg, conv_n[i]), conv[i], bufs};
			cg_call_extern(cg, "nnzrt_parallel_for", cg->t_void, pf_params, 4, args);
		}
	/* outputs that are graph inputs, constants, or listed twice: copy; outputs held in another
	 * layout than the compute class: convert */
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		bool first = true;
		for (int k = 0; k < i; k++)
			first &= g->outputs[k] != v;
		bool convert = cg_boundary_converts(v->dtype);
		if (v->producer && first && (!convert || conv[g->n_inputs + i]))
			continue;
		LLVMValueRef src = cg->global[v->id]
					   ? cg->global[v->id]
					   : LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, bufs, cg_i64(cg, cg->slot[v->id])), "");
		LLVMValueRef dst = LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, outputs, cg_i64(cg, i)), "");
		if (convert) { /* rare (an input or constant given as output, a repeated output): serial */
			convert_loop(cg, v->dtype, dst, src, cg_i64(cg, 0), cg_i64(cg, shape_numel(&v->shape)), true);
			continue;
		}
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		LLVMBuildMemCpy(cg->b, dst, 4, src, 4, cg_i64(cg, (int64_t)bytes));
	}
	LLVMBuildRet(cg->b, cg_i32(cg, 0));
	cg->fn = NULL;

	/* int PREFIX_run(inputs, outputs): a static workspace; not reentrant */
	char wsname[160];
	snprintf(wsname, sizeof wsname, "%s.workspace", prefix);
	LLVMTypeRef ws_t = LLVMArrayType2(cg->t_i8, (uint64_t)(cg->plan.size ? cg->plan.size : 64));
	LLVMValueRef wsg = LLVMAddGlobal(cg->mod, ws_t, wsname);
	LLVMSetInitializer(wsg, LLVMConstNull(ws_t));
	LLVMSetLinkage(wsg, LLVMInternalLinkage);
	LLVMSetAlignment(wsg, 64);
	LLVMValueRef run = add_function(cg, prefix, "run", cg->t_i32, params, 2);
	LLVMValueRef args[4] = {LLVMGetParam(run, 0), LLVMGetParam(run, 1), wsg, cg_i32(cg, 0)};
	LLVMBuildRet(cg->b, LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(run_with), run_with, args, 4, ""));

	add_function(cg, prefix, "workspace_size", cg->t_i64, NULL, 0);
	LLVMBuildRet(cg->b, cg_i64(cg, cg->plan.size));
	emit_io_queries(cg, prefix, "input", g->inputs, g->n_inputs);
	emit_io_queries(cg, prefix, "output", g->outputs, g->n_outputs);
}

/* ---------------------------------------------------------------- optimise and emit */

static int optimise(Cg *cg)
{
	static const char *const pipelines[] = {"default<O0>", "default<O1>", "default<O2>", "default<O3>"};
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	LLVMPassBuilderOptionsSetLoopVectorization(po, cg->opt->opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, cg->opt->opt_level >= 2);
	LLVMErrorRef err = LLVMRunPasses(cg->mod, pipelines[cg->opt->opt_level], cg->tm, po);
	LLVMDisposePassBuilderOptions(po);
	if (err) {
		char *msg = LLVMGetErrorMessage(err);
		diag_error(cg->d, "LLVM optimisation failed: %s", msg);
		LLVMDisposeErrorMessage(msg);
		return -1;
	}
	return 0;
}

static int emit_to_file(Cg *cg, LLVMCodeGenFileType type, const char *path)
{
	LLVMMemoryBufferRef buf;
	char *err = NULL;
	if (LLVMTargetMachineEmitToMemoryBuffer(cg->tm, cg->mod, type, &err, &buf)) {
		diag_error(cg->d, "LLVM code generation failed: %s", err ? err : "?");
		LLVMDisposeMessage(err);
		return -1;
	}
	int rc = outfile_write_all(path, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf), cg->d);
	LLVMDisposeMemoryBuffer(buf);
	return rc;
}

int cpu_link_shared(const char *object, const char *output, Diag *d);

static int emit_artifact(Cg *cg)
{
	const CpuOptions *o = cg->opt;
	switch (o->emit) {
	case CPU_EMIT_OBJ: return emit_to_file(cg, LLVMObjectFile, o->output);
	case CPU_EMIT_ASM: return emit_to_file(cg, LLVMAssemblyFile, o->output);
	case CPU_EMIT_LLVM: {
		char *text = LLVMPrintModuleToString(cg->mod);
		int rc = outfile_write_all(o->output, text, strlen(text), cg->d);
		LLVMDisposeMessage(text);
		return rc;
	}
	case CPU_EMIT_SHARED: {
		size_t n = strlen(o->output) + 16;
		char *obj = malloc(n);
		if (obj == NULL)
			return diag_error(cg->d, "out of memory");
		snprintf(obj, n, "%s.tmp.o", o->output);
		int rc = emit_to_file(cg, LLVMObjectFile, obj);
		if (rc == 0)
			rc = cpu_link_shared(obj, o->output, cg->d);
		unlink(obj);
		free(obj);
		return rc;
	}
	}
	return diag_error(cg->d, "unknown emit kind");
}

int cpu_compile(const Graph *g, const CpuOptions *opt, Diag *d)
{
	if (opt->opt_level < 0 || opt->opt_level > 3)
		return diag_error(d, "-O%d: expected 0..3", opt->opt_level);
	if (check_supported(g, d) < 0)
		return -1;
	Cg cg = {.g = g, .opt = opt, .d = d};
	if (memplan_build(g, &cg.plan, d) < 0)
		return -1;
	cg.ctx = LLVMContextCreate();
	cg.mod = LLVMModuleCreateWithNameInContext(g->name, cg.ctx);
	cg.b = LLVMCreateBuilderInContext(cg.ctx);
	make_types(&cg);
	NodeCode *codes = calloc((size_t)g->n_nodes + 1, sizeof *codes);
	int rc = -1;
	if (codes == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (check_cpu_name(&cg) < 0 || make_target_machine(&cg) < 0 || assign_storage(&cg) < 0)
		goto out;
	for (int k = 0; k < g->n_nodes; k++) {
		cg.node_index = k;
		cg.task_counter = 0;
		if (emitters[g->nodes[k]->op](&cg, g->nodes[k], &codes[k]) < 0)
			goto out;
	}
	emit_entry_points(&cg, codes);
	char *verr = NULL;
	if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &verr)) {
		diag_error(d, "internal error: generated LLVM IR is invalid: %.400s", verr ? verr : "?");
		LLVMDisposeMessage(verr);
		goto out;
	}
	LLVMDisposeMessage(verr);
	if (optimise(&cg) < 0 || emit_artifact(&cg) < 0)
		goto out;
	if (opt->header && cpu_write_header(g, opt, cg.plan.size, d) < 0) {
		unlink(opt->output);
		goto out;
	}
	rc = 0;
out:
	free(codes);
	free(cg.slot);
	free(cg.global);
	memplan_free(&cg.plan);
	if (cg.tm)
		LLVMDisposeTargetMachine(cg.tm);
	LLVMDisposeBuilder(cg.b);
	LLVMDisposeModule(cg.mod);
	LLVMContextDispose(cg.ctx);
	return rc;
}
