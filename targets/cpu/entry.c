/* The entry points of a compiled model (the user's view is docs/abi.md): PREFIX_run and
 * PREFIX_run_with, which fill every task's argument block and call the tasks in node order
 * through nnzrt_parallel_for; the boundary conversions of inputs and outputs whose dtype is not
 * held in its compute class; the workspace, weights and input/output queries; and, with
 * --weights-file, PREFIX_set_weights, which checks the caller's weights before any run uses them.
 * PREFIX_strerror names the status codes. */
#include "sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

const char *const cpu_status_name[CPU_STATUS_COUNT] = {
	"OK", "ERR_NO_WEIGHTS", "ERR_WEIGHTS_SIZE", "ERR_WEIGHTS_ALIGN", "ERR_WEIGHTS_FORMAT", "ERR_WEIGHTS_MODEL",
	"ERR_WEIGHTS_CORRUPT",
};

const char *const cpu_status_text[CPU_STATUS_COUNT] = {
	"ok",
	"no weights: call set_weights with the model's weights file first",
	"the weights are NULL or have the wrong size for this model",
	"the weights are not 64-byte aligned",
	"not an nnzc weights file (or one of another nnzc version)",
	"the weights file belongs to another model or compilation",
	"the weights file is corrupt (its checksum does not match)",
};

static LLVMValueRef add_function(Cg *cg, const char *prefix, const char *suffix, LLVMTypeRef ret, LLVMTypeRef *params,
				 int n)
{
	char name[256];
	snprintf(name, sizeof name, "%s_%s", prefix, suffix);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, LLVMFunctionType(ret, params, (unsigned)n, 0));
	LLVMPositionBuilderAtEnd(cg->b, LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry"));
	return fn;
}

static LLVMValueRef private_const(Cg *cg, LLVMValueRef init, const char *name)
{
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	return gv;
}

static LLVMValueRef const_string(Cg *cg, const char *s, const char *name)
{
	LLVMValueRef gv = private_const(cg, LLVMConstStringInContext2(cg->ctx, s, strlen(s), 0), name);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	return gv;
}

static LLVMValueRef const_table(Cg *cg, LLVMTypeRef elem, LLVMValueRef *vals, int n, const char *name)
{
	return private_const(cg, LLVMConstArray2(elem, vals, (uint64_t)n), name);
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
	if (!names || !ranks || !shapes || !dtypes) {
		fprintf(stderr, "nnzc: out of memory\n");
		abort(); /* a few pointers per input: like arena_alloc, not worth a status */
	}
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
	add_function(cg, prefix, what, cg->t_i32, NULL, 0);
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
	LLVMValueRef caller = cg_slot_ptr(cg, cg->io_slot[v->id]);
	LLVMValueRef mine = cg_slot_ptr(cg, cg->slot[v->id]);
	LLVMValueRef lo = LLVMBuildMul(cg->b, cg->begin, cg_i64(cg, CONVERT_CHUNK), "");
	LLVMValueRef hi = LLVMBuildMul(cg->b, cg->end, cg_i64(cg, CONVERT_CHUNK), "");
	hi = LLVMBuildSelect(cg->b, LLVMBuildICmp(cg->b, LLVMIntSGT, hi, cg_i64(cg, n), ""), cg_i64(cg, n), hi, "");
	convert_loop(cg, v->dtype, to_storage ? caller : mine, to_storage ? mine : caller, lo, hi, to_storage);
	cg_task_end(cg);
	*iterations = (n + CONVERT_CHUNK - 1) / CONVERT_CHUNK;
	return fn;
}

/* The address of data item id inside the entry point: its private global (made here on first
 * use), or its place in the caller's weights. */
static LLVMValueRef data_pointer(Cg *cg, int id, LLVMValueRef weights)
{
	CgData *dt = &cg->data[id];
	if (cg->external) {
		LLVMValueRef off = cg_i64(cg, CPU_WEIGHTS_HEADER + dt->offset);
		return LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, weights, &off, 1, "");
	}
	if (dt->global == NULL) {
		static const char zeros[CPU_WEIGHTS_ALIGN];
		char name[64];
		snprintf(name, sizeof name, "nnzc.node%d.data%d", dt->node, id);
		/* an empty tensor still gets a valid address */
		LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, dt->size ? dt->bytes : zeros,
							      dt->size ? dt->size : sizeof zeros, 1);
		dt->global = private_const(cg, init, name);
		LLVMSetUnnamedAddress(dt->global, LLVMGlobalUnnamedAddr);
		LLVMSetAlignment(dt->global, CPU_WEIGHTS_ALIGN);
		/* LLVM holds a copy now: a packed copy of the weights need not stay for the rest */
		free(dt->owned);
		dt->owned = NULL;
		dt->bytes = NULL;
	}
	return dt->global;
}

static LLVMValueRef load_ptr(Cg *cg, LLVMValueRef array, int i)
{
	return LLVMBuildLoad2(cg->b, cg->t_ptr, cg_gep(cg, cg->t_ptr, array, cg_i64(cg, i)), "");
}

static const CgTask *find_task(const Cg *cg, LLVMValueRef fn)
{
	for (int i = 0; i < cg->n_tasks; i++)
		if (cg->tasks[i].fn == fn)
			return &cg->tasks[i];
	return NULL;
}

/* return `status` from the current function unless cond holds; continue after it otherwise */
static void check_or_return(Cg *cg, LLVMValueRef fn, LLVMValueRef cond, int status)
{
	LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(cg->ctx, fn, "ok");
	LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(cg->ctx, fn, "bad");
	LLVMBuildCondBr(cg->b, cond, ok, bad);
	LLVMPositionBuilderAtEnd(cg->b, bad);
	LLVMBuildRet(cg->b, cg_i32(cg, status));
	LLVMPositionBuilderAtEnd(cg->b, ok);
}

/* ---------------------------------------------------------------- per-layer timing (CpuOptions.profile) */

static LLVMValueRef clock_ns(Cg *cg) { return cg_call_extern(cg, "nnzrt_clock_ns", cg->t_i64, NULL, 0, NULL); }

/* The array of a profiled run's per-node nanoseconds, and `const int64_t *PREFIX_layer_ns(void)`
 * that hands it out (not reentrant: profiled code is for measurements). */
static LLVMValueRef profile_global(Cg *cg, const char *prefix)
{
	char name[160];
	snprintf(name, sizeof name, "%s.layer_ns", prefix);
	LLVMTypeRef t = LLVMArrayType2(cg->t_i64, (uint64_t)cg->g->n_nodes + 1);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, t, name);
	LLVMSetInitializer(gv, LLVMConstNull(t));
	LLVMSetLinkage(gv, LLVMInternalLinkage);
	LLVMSetAlignment(gv, 64);
	LLVMBasicBlockRef here = LLVMGetInsertBlock(cg->b);
	add_function(cg, prefix, "layer_ns", cg->t_ptr, NULL, 0);
	LLVMBuildRet(cg->b, gv);
	LLVMPositionBuilderAtEnd(cg->b, here);
	return gv;
}

/* layer_ns[k] += now - *last; *last = now */
static void profile_add(Cg *cg, LLVMValueRef layer_ns, LLVMValueRef last, int k)
{
	LLVMValueRef now = clock_ns(cg);
	LLVMValueRef dt = LLVMBuildSub(cg->b, now, LLVMBuildLoad2(cg->b, cg->t_i64, last, ""), "");
	LLVMValueRef at = cg_gep(cg, cg->t_i64, layer_ns, cg_i64(cg, k));
	LLVMBuildStore(cg->b, LLVMBuildAdd(cg->b, LLVMBuildLoad2(cg->b, cg->t_i64, at, ""), dt, ""), at);
	LLVMBuildStore(cg->b, now, last);
}

/* int PREFIX_run_with(const void *const *inputs, void *const *outputs, void *workspace, int threads) */
static LLVMValueRef emit_run_with(Cg *cg, const char *prefix, LLVMValueRef *conv, const int64_t *conv_n,
				  const NodeCode *codes)
{
	const Graph *g = cg->g;
	LLVMTypeRef params[4] = {cg->t_ptr, cg->t_ptr, cg->t_ptr, cg->t_i32};
	LLVMValueRef run_with = add_function(cg, prefix, "run_with", cg->t_i32, params, 4);
	LLVMValueRef inputs = LLVMGetParam(run_with, 0), outputs = LLVMGetParam(run_with, 1);
	LLVMValueRef ws = LLVMGetParam(run_with, 2), threads = LLVMGetParam(run_with, 3);
	cg->fn = run_with;
	cg->entry_block = LLVMGetEntryBasicBlock(run_with);
	/* one argument block, filled anew before each task: nnzrt_parallel_for returns when the task
	 * is done, and the stack holds a few pointers whatever the model's size */
	int max_args = 1;
	for (int i = 0; i < cg->n_tasks; i++)
		max_args = cg->tasks[i].n_args > max_args ? cg->tasks[i].n_args : max_args;
	LLVMValueRef args = LLVMBuildAlloca(cg->b, LLVMArrayType2(cg->t_ptr, (uint64_t)max_args), "args");
	LLVMValueRef weights = NULL;
	if (cg->external) {
		weights = LLVMBuildLoad2(cg->b, cg->t_ptr, cg->weights, "weights");
		check_or_return(cg, run_with, LLVMBuildIsNotNull(cg->b, weights, ""), CPU_STATUS_NO_WEIGHTS);
	}
	/* the slots: the caller's buffers and workspace offsets */
	LLVMValueRef *slotp = calloc((size_t)cg->n_slots + 1, sizeof *slotp);
	if (slotp == NULL) {
		fprintf(stderr, "nnzc: out of memory\n");
		abort();
	}
	for (int i = 0; i < g->n_inputs; i++)
		slotp[cg->slot[g->inputs[i]->id]] = load_ptr(cg, inputs, i);
	for (int i = 0; i < g->n_outputs; i++) {
		const Value *v = g->outputs[i];
		bool first = true;
		for (int k = 0; k < i; k++)
			first &= g->outputs[k] != v;
		if (v->producer && first)
			slotp[cg->slot[v->id]] = load_ptr(cg, outputs, i);
	}
	for (int i = 0; i < g->n_values; i++) {
		if (cg->plan.offset[i] < 0)
			continue;
		LLVMValueRef off = cg_i64(cg, cg->plan.offset[i]);
		slotp[cg->slot[i]] = LLVMBuildInBoundsGEP2(cg->b, cg->t_i8, ws, &off, 1, "");
	}
	for (int i = 0; i < g->n_inputs + g->n_outputs; i++) {
		if (conv[i] == NULL)
			continue;
		bool in = i < g->n_inputs;
		const Value *v = in ? g->inputs[i] : g->outputs[i - g->n_inputs];
		slotp[cg->io_slot[v->id]] = load_ptr(cg, in ? inputs : outputs, in ? i : i - g->n_inputs);
	}
	LLVMTypeRef pool_param = cg->t_i32;
	LLVMValueRef pool = cg_call_extern(cg, "nnzrt_shared_pool", cg->t_ptr, &pool_param, 1, &threads);
	/* --per-layer builds: the nanoseconds of every node's calls (conversions in the last slot),
	 * zeroed at the start of a run; the default build has none of this */
	LLVMValueRef layer_ns = NULL, last = NULL;
	if (cg->opt->profile) {
		layer_ns = profile_global(cg, prefix);
		LLVMBuildMemSet(cg->b, layer_ns, LLVMConstInt(cg->t_i8, 0, 0), cg_i64(cg, 8 * ((int64_t)g->n_nodes + 1)), 8);
		last = cg_var(cg, cg->t_i64, NULL, "t");
		LLVMBuildStore(cg->b, clock_ns(cg), last);
	}
	LLVMTypeRef pf_params[4] = {cg->t_ptr, cg->t_i64, cg->t_ptr, cg->t_ptr};
	/* calls: inputs held in another layout than the compute class, the nodes, the outputs */
	int n_calls = 0, cap = g->n_inputs + g->n_outputs + 1;
	for (int k = 0; k < g->n_nodes; k++)
		cap += codes[k].n_tasks;
	LLVMValueRef *fns = calloc((size_t)cap, sizeof *fns);
	int64_t *iters = calloc((size_t)cap, sizeof *iters);
	if (!fns || !iters) {
		fprintf(stderr, "nnzc: out of memory\n");
		abort();
	}
	for (int i = 0; i < g->n_inputs; i++)
		if (conv[i]) {
			fns[n_calls] = conv[i];
			iters[n_calls++] = conv_n[i];
		}
	for (int k = 0; k < g->n_nodes; k++)
		for (int t = 0; t < codes[k].n_tasks; t++) {
			fns[n_calls] = codes[k].task[t];
			iters[n_calls++] = codes[k].iterations[t];
		}
	for (int i = g->n_inputs; i < g->n_inputs + g->n_outputs; i++)
		if (conv[i]) {
			fns[n_calls] = conv[i];
			iters[n_calls++] = conv_n[i];
		}
	for (int c = 0; c < n_calls; c++) {
		CgTask *task = (CgTask *)find_task(cg, fns[c]);
		assert(task != NULL);
		LLVMValueRef base = cg_gep(cg, cg->t_ptr, args, cg_i64(cg, 0));
		for (int j = 0; j < task->n_args; j++) {
			const CgArg *a = &cg->args[task->first_arg + j];
			LLVMValueRef p = a->slot >= 0 ? slotp[a->slot] : data_pointer(cg, a->data, weights);
			assert(p != NULL);
			LLVMBuildStore(cg->b, p, cg_gep(cg, cg->t_ptr, base, cg_i64(cg, j)));
		}
		LLVMValueRef call_args[4] = {pool, cg_i64(cg, iters[c]), fns[c], base};
		task->call = cg_call_extern(cg, "nnzrt_parallel_for", cg->t_void, pf_params, 4, call_args);
		/* one clock reading after a node's last call: it ends this node and starts the next */
		if (layer_ns && (c + 1 == n_calls || find_task(cg, fns[c + 1])->node != task->node))
			profile_add(cg, layer_ns, last, task->node < g->n_nodes ? task->node : g->n_nodes);
	}
	free(fns);
	free(iters);
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
		LLVMValueRef src = cg->slot[v->id] >= 0 ? slotp[cg->slot[v->id]] : data_pointer(cg, cg->data_of[v->id], weights);
		LLVMValueRef dst = load_ptr(cg, outputs, i);
		if (convert) { /* rare (an input or constant given as output, a repeated output): serial */
			convert_loop(cg, v->dtype, dst, src, cg_i64(cg, 0), cg_i64(cg, shape_numel(&v->shape)), true);
			continue;
		}
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		LLVMBuildMemCpy(cg->b, dst, 4, src, 4, cg_i64(cg, (int64_t)bytes));
	}
	LLVMBuildRet(cg->b, cg_i32(cg, CPU_STATUS_OK));
	cg->fn = NULL;
	free(slotp);
	return run_with;
}

/* int PREFIX_set_weights(const void *weights, int64_t size): every check a file can fail, then
 * the pointer is kept for the runs */
static void emit_set_weights(Cg *cg, const char *prefix)
{
	LLVMTypeRef params[2] = {cg->t_ptr, cg->t_i64};
	LLVMValueRef fn = add_function(cg, prefix, "set_weights", cg->t_i32, params, 2);
	LLVMValueRef w = LLVMGetParam(fn, 0), size = LLVMGetParam(fn, 1);
	LLVMBuilderRef b = cg->b;
	cg->fn = fn;
	cg->entry_block = LLVMGetEntryBasicBlock(fn);
	check_or_return(cg, fn, LLVMBuildIsNotNull(b, w, ""), CPU_STATUS_WEIGHTS_SIZE);
	check_or_return(cg, fn, LLVMBuildICmp(b, LLVMIntEQ, size, cg_i64(cg, cg->file_bytes), ""), CPU_STATUS_WEIGHTS_SIZE);
	LLVMValueRef addr = LLVMBuildPtrToInt(b, w, cg->t_i64, "");
	LLVMValueRef mis = LLVMBuildAnd(b, addr, cg_i64(cg, CPU_WEIGHTS_ALIGN - 1), "");
	check_or_return(cg, fn, LLVMBuildICmp(b, LLVMIntEQ, mis, cg_i64(cg, 0), ""), CPU_STATUS_WEIGHTS_ALIGN);
	/* the header: magic, version, header size, payload size; then whose weights they are */
	unsigned char want[CPU_WEIGHTS_HEADER];
	memcpy(want, CPU_WEIGHTS_MAGIC, 8);
	cpu_put_u32(want + 8, CPU_WEIGHTS_VERSION);
	cpu_put_u32(want + 12, CPU_WEIGHTS_HEADER);
	cpu_put_u64(want + 16, (uint64_t)cg->payload_bytes);
	for (int at = 0; at < 24; at += 8) {
		LLVMValueRef word = LLVMBuildLoad2(b, cg->t_i64, cg_gep(cg, cg->t_i64, w, cg_i64(cg, at / 8)), "");
		LLVMSetAlignment(word, 8);
		LLVMValueRef eq = LLVMBuildICmp(b, LLVMIntEQ, word, cg_i64(cg, (int64_t)cpu_get_u64(want + at)), "");
		check_or_return(cg, fn, eq, CPU_STATUS_WEIGHTS_FORMAT);
	}
	LLVMValueRef fp = LLVMBuildLoad2(b, cg->t_i64, cg_gep(cg, cg->t_i64, w, cg_i64(cg, 3)), "");
	LLVMSetAlignment(fp, 8);
	check_or_return(cg, fn, LLVMBuildICmp(b, LLVMIntEQ, fp, cg_i64(cg, (int64_t)cg->fingerprint), ""),
			CPU_STATUS_WEIGHTS_MODEL);
	/* the payload against the fingerprint: a file cut short or damaged after its header; four
	 * independent multiply chains (artifact.h) */
	LLVMValueRef lane[CPU_HASH_LANES];
	for (int j = 0; j < CPU_HASH_LANES; j++)
		lane[j] = cg_var(cg, cg->t_i64, cg_i64(cg, (int64_t)(CPU_FNV_OFFSET + (uint64_t)j)), "h");
	LLVMValueRef payload = LLVMBuildInBoundsGEP2(b, cg->t_i8, w, (LLVMValueRef[]){cg_i64(cg, CPU_WEIGHTS_HEADER)}, 1, "");
	Loop l;
	LLVMValueRef i = cg_for(cg, &l, cg_i64(cg, 0), cg_i64(cg, cg->payload_bytes / 8), CPU_HASH_LANES, "word");
	for (int j = 0; j < CPU_HASH_LANES; j++) {
		LLVMValueRef at = LLVMBuildAdd(b, i, cg_i64(cg, j), "");
		LLVMValueRef word = LLVMBuildLoad2(b, cg->t_i64, cg_gep(cg, cg->t_i64, payload, at), "");
		LLVMSetAlignment(word, 8);
		LLVMValueRef mixed = LLVMBuildXor(b, LLVMBuildLoad2(b, cg->t_i64, lane[j], ""), word, "");
		LLVMBuildStore(b, LLVMBuildMul(b, mixed, cg_i64(cg, (int64_t)CPU_FNV_PRIME), ""), lane[j]);
	}
	cg_for_end(cg, &l);
	LLVMValueRef sum = cg_i64(cg, (int64_t)CPU_FNV_OFFSET);
	for (int j = 0; j < CPU_HASH_LANES; j++)
		sum = LLVMBuildMul(b, LLVMBuildXor(b, sum, LLVMBuildLoad2(b, cg->t_i64, lane[j], ""), ""),
				   cg_i64(cg, (int64_t)CPU_FNV_PRIME), "");
	check_or_return(cg, fn, LLVMBuildICmp(b, LLVMIntEQ, sum, cg_i64(cg, (int64_t)cg->fingerprint), ""),
			CPU_STATUS_WEIGHTS_CORRUPT);
	LLVMBuildStore(b, w, cg->weights);
	LLVMBuildRet(b, cg_i32(cg, CPU_STATUS_OK));
	cg->fn = NULL;
}

int cpu_emit_entry_points(Cg *cg, const NodeCode *codes)
{
	const Graph *g = cg->g;
	char prefix[128];
	cpu_prefix(cg->opt, prefix, sizeof prefix);
	/* a bad --cost-model fails the compilation even if no emitter asked for a cost */
	if (cpu_cost_model_check(cg) < 0)
		return -1;
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
	/* constants given as outputs are copied from their data */
	for (int i = 0; i < g->n_outputs; i++)
		if (g->outputs[i]->data && !g->outputs[i]->producer)
			cg_const_data(cg, g->outputs[i]);
	if (cpu_layout_data(cg) < 0)
		return -1;

	if (cg->external) {
		char name[160];
		snprintf(name, sizeof name, "%s.weights", prefix);
		cg->weights = LLVMAddGlobal(cg->mod, cg->t_ptr, name);
		LLVMSetInitializer(cg->weights, LLVMConstNull(cg->t_ptr));
		LLVMSetLinkage(cg->weights, LLVMInternalLinkage);
	}
	LLVMValueRef run_with = emit_run_with(cg, prefix, conv, conv_n, codes);

	/* int PREFIX_run(inputs, outputs): a static workspace; not reentrant */
	char wsname[160];
	snprintf(wsname, sizeof wsname, "%s.workspace", prefix);
	LLVMTypeRef ws_t = LLVMArrayType2(cg->t_i8, (uint64_t)(cg->plan.size ? cg->plan.size : 64));
	LLVMValueRef wsg = LLVMAddGlobal(cg->mod, ws_t, wsname);
	LLVMSetInitializer(wsg, LLVMConstNull(ws_t));
	LLVMSetLinkage(wsg, LLVMInternalLinkage);
	LLVMSetAlignment(wsg, 64);
	LLVMTypeRef params[2] = {cg->t_ptr, cg->t_ptr};
	LLVMValueRef run = add_function(cg, prefix, "run", cg->t_i32, params, 2);
	LLVMValueRef args[4] = {LLVMGetParam(run, 0), LLVMGetParam(run, 1), wsg, cg_i32(cg, 0)};
	LLVMBuildRet(cg->b, LLVMBuildCall2(cg->b, LLVMGlobalGetValueType(run_with), run_with, args, 4, ""));

	add_function(cg, prefix, "workspace_size", cg->t_i64, NULL, 0);
	LLVMBuildRet(cg->b, cg_i64(cg, cg->plan.size));

	/* const char *PREFIX_strerror(int status) */
	LLVMValueRef texts[CPU_STATUS_COUNT];
	for (int i = 0; i < CPU_STATUS_COUNT; i++) {
		char name[64];
		snprintf(name, sizeof name, "nnzc.status%d", i);
		texts[i] = const_string(cg, cpu_status_text[i], name);
	}
	LLVMValueRef table = const_table(cg, cg->t_ptr, texts, CPU_STATUS_COUNT, "nnzc.status");
	emit_query(cg, prefix, "strerror", cg->t_ptr, table, CPU_STATUS_COUNT,
		   const_string(cg, "unknown status", "nnzc.status.unknown"));

	emit_io_queries(cg, prefix, "input", g->inputs, g->n_inputs);
	emit_io_queries(cg, prefix, "output", g->outputs, g->n_outputs);
	return 0;
}

void cpu_emit_weights_api(Cg *cg)
{
	char prefix[128];
	cpu_prefix(cg->opt, prefix, sizeof prefix);
	add_function(cg, prefix, "weights_size", cg->t_i64, NULL, 0);
	LLVMBuildRet(cg->b, cg_i64(cg, cg->external ? cg->file_bytes : 0));
	if (cg->external)
		emit_set_weights(cg, prefix);
}
