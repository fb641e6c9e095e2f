/* cpu_compile: the optimised, statically shaped graph -> one LLVM module -> object, assembly,
 * LLVM IR or shared library, plus the C header that declares its entry points.
 *
 * Order of work: refuse what cannot be compiled (all unsupported ops in one message), plan the
 * workspace, let each node's emitter build its task functions (constants and packed weights
 * become data items that reach the tasks through their argument blocks), lay the data out
 * (object or weights file) and build the entry points that call the tasks, merge identical task
 * functions, add the metadata blob, optimise, emit. The three phases are timed for
 * --time-passes and --report. */
#include "cpu.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
	[OP_TasdActivation] = emit_tasd_activation,
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
	cg->cpu_name = strdup(cpu);
	cg->cpu_features = strdup(features);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(features);
	LLVMDisposeMessage(triple);
	if (rc == 0 && (!cg->cpu_name || !cg->cpu_features))
		rc = diag_error(cg->d, "out of memory");
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

/* The compute-class buffers of graph inputs and outputs that have an io_slot, appended to the
 * planned workspace. */
static int place_boundary_buffers(Cg *cg)
{
	const Graph *g = cg->g;
	for (int i = 0; i < g->n_values; i++) {
		if (cg->io_slot[i] < 0)
			continue;
		bool ok;
		size_t bytes = shape_bytes(&g->values[i]->shape, dtype_compute_size(g->values[i]->dtype), &ok);
		int64_t at = (cg->plan.size + 63) / 64 * 64;
		if (!ok || bytes > (size_t)(INT64_MAX / 2) || at > INT64_MAX / 2 - (int64_t)bytes)
			return diag_error(cg->d, "'%s' is too large for the workspace", g->values[i]->name);
		cg->plan.offset[i] = at;
		cg->plan.bytes[i] = (int64_t)bytes;
		cg->plan.size = at + (int64_t)bytes;
	}
	return 0;
}

/* Slots: graph inputs, then graph outputs produced by nodes, then planned tensors. A slot is a
 * pointer the entry point computes (a caller's buffer or a workspace offset) and hands to the
 * tasks that use it through their argument blocks. */
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
		if (io && cg_boundary_converts(v->dtype) && cg->plan.offset[i] < 0)
			cg->io_slot[i] = cg->n_slots++;
	}
	if (place_boundary_buffers(cg) < 0)
		return -1;
	/* constants become private globals or weights-file data when a task first uses them
	 * (cg_ptr): a weight that a product repacks is never copied as it is */
	cg->data_of = malloc(((size_t)g->n_values + 1) * sizeof *cg->data_of);
	if (!cg->data_of)
		return diag_error(cg->d, "out of memory");
	for (int i = 0; i < g->n_values; i++)
		cg->data_of[i] = -1;
	for (int i = 0; i < g->n_values; i++) {
		const Value *v = g->values[i];
		if (!v->producer && v->elided)
			return diag_error(cg->d, "constant '%s' has no data (elided in the dump it came from)", v->name);
	}
	return 0;
}

/* ---------------------------------------------------------------- optimise and emit */

static int run_passes(Cg *cg, const char *pipeline)
{
	LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
	LLVMPassBuilderOptionsSetLoopVectorization(po, cg->opt->opt_level >= 2);
	LLVMPassBuilderOptionsSetSLPVectorization(po, cg->opt->opt_level >= 2);
	LLVMErrorRef err = LLVMRunPasses(cg->mod, pipeline, cg->tm, po);
	LLVMDisposePassBuilderOptions(po);
	if (err) {
		char *msg = LLVMGetErrorMessage(err);
		diag_error(cg->d, "LLVM optimisation failed: %s", msg);
		LLVMDisposeErrorMessage(msg);
		return -1;
	}
	return 0;
}

/* Identical task functions — nodes of one signature, since nothing node-specific is baked into
 * a task — are merged before anything optimises or compiles them twice. */
static int merge_functions(Cg *cg) { return run_passes(cg, "mergefunc"); }

static int optimise(Cg *cg)
{
	static const char *const pipelines[] = {"default<O0>", "default<O1>", "default<O2>", "default<O3>"};
	return run_passes(cg, pipelines[cg->opt->opt_level]);
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

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void free_cg(Cg *cg)
{
	free(cg->share);
	free(cg->slot);
	free(cg->global);
	free(cg->data_of);
	for (int i = 0; i < cg->n_data; i++)
		free(cg->data[i].owned);
	free(cg->data);
	free(cg->tasks);
	free(cg->args);
	free(cg->data_ptrs);
	free(cg->cpu_name);
	free(cg->cpu_features);
	free(cg->choice);
	memplan_free(&cg->plan);
	if (cg->tm)
		LLVMDisposeTargetMachine(cg->tm);
	LLVMDisposeBuilder(cg->b);
	LLVMDisposeModule(cg->mod);
	LLVMContextDispose(cg->ctx);
}

int cpu_compile(const Graph *g, const CpuOptions *opt, Diag *d)
{
	if (opt->opt_level < 0 || opt->opt_level > 3)
		return diag_error(d, "-O%d: expected 0..3", opt->opt_level);
	if (opt->weights_file && (strcmp(opt->weights_file, opt->output) == 0 ||
				  (opt->header && strcmp(opt->weights_file, opt->header) == 0)))
		return diag_error(d, "--weights-file %s: the same file as another output", opt->weights_file);
	if (check_supported(g, d) < 0)
		return -1;
	double t0 = now();
	Cg cg = {.g = g, .opt = opt, .d = d, .external = opt->weights_file != NULL};
	if (memplan_build(g, NULL, &cg.plan, d) < 0)
		return -1;
	cg.ctx = LLVMContextCreate();
	cg.mod = LLVMModuleCreateWithNameInContext(g->name, cg.ctx);
	cg.b = LLVMCreateBuilderInContext(cg.ctx);
	make_types(&cg);
	NodeCode *codes = calloc((size_t)g->n_nodes + 1, sizeof *codes);
	int *shared_with = calloc((size_t)g->n_nodes + 1, sizeof *shared_with);
	cg.choice = calloc((size_t)g->n_nodes + 1, sizeof *cg.choice);
	char *meta = NULL;
	size_t meta_len = 0;
	int rc = -1;
	if (codes == NULL || shared_with == NULL || cg.choice == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (check_cpu_name(&cg) < 0 || make_target_machine(&cg) < 0 || assign_storage(&cg) < 0)
		goto out;
	if ((cg.share = malloc(((size_t)g->n_values + 1) * sizeof *cg.share)) == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	for (int i = 0; i < g->n_values; i++)
		cg.share[i] = -1;
	for (int k = 0; k < g->n_nodes; k++) {
		cg.node_index = k;
		cg.task_counter = 0;
		if (emitters[g->nodes[k]->op](&cg, g->nodes[k], &codes[k]) < 0)
			goto out;
	}
	/* the emitters have said which outputs may take over an input's buffer (only the entry
	 * point reads offsets, so the plan can change until it is built) */
	bool shares = false;
	for (int i = 0; i < g->n_values; i++)
		shares = shares || cg.share[i] >= 0;
	if (shares) {
		memplan_free(&cg.plan);
		if (memplan_build(g, cg.share, &cg.plan, d) < 0 || place_boundary_buffers(&cg) < 0)
			goto out;
	}
	if (cpu_emit_entry_points(&cg, codes) < 0)
		goto out;
	char *verr = NULL;
	if (LLVMVerifyModule(cg.mod, LLVMReturnStatusAction, &verr)) {
		diag_error(d, "internal error: generated LLVM IR is invalid: %.400s", verr ? verr : "?");
		LLVMDisposeMessage(verr);
		goto out;
	}
	LLVMDisposeMessage(verr);
	double t1 = now();
	if (merge_functions(&cg) < 0)
		goto out;
	double t2 = now();
	int n_functions = cpu_shared_functions(&cg, shared_with);
	if ((meta = cpu_metadata_text(&cg, shared_with, n_functions, &meta_len)) == NULL) {
		diag_error(d, "out of memory");
		goto out;
	}
	if (cg.external)
		cg.file_bytes = CPU_WEIGHTS_HEADER + cg.payload_bytes + (int64_t)cpu_metadata_blob_bytes(meta_len);
	cpu_emit_weights_api(&cg);
	if (cpu_emit_metadata(&cg, meta, meta_len) < 0)
		goto out;
	double t3 = now();
	if (optimise(&cg) < 0)
		goto out;
	double t4 = now();
	if (emit_artifact(&cg) < 0)
		goto out;
	if (cg.external && cpu_write_weights(&cg, meta, meta_len) < 0) {
		unlink(opt->output);
		goto out;
	}
	if (opt->header && cpu_write_header(&cg, d) < 0) {
		unlink(opt->output);
		if (cg.external)
			unlink(opt->weights_file);
		goto out;
	}
	double t5 = now();
	if (opt->report) {
		opt->report->seconds[0] = (t1 - t0) + (t3 - t2);
		opt->report->seconds[1] = (t2 - t1) + (t4 - t3);
		opt->report->seconds[2] = t5 - t4;
		if (cpu_fill_report(&cg, shared_with, n_functions, opt->report) < 0)
			goto out;
	}
	rc = 0;
out:
	free(codes);
	free(shared_with);
	free(meta);
	free_cg(&cg);
	return rc;
}
