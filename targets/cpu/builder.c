/* IR-building helpers shared by the op emitters: constants, task functions, loops, branches,
 * addressing, intrinsics. */
#include "cpu.h"

#include <llvm-c/DebugInfo.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LLVMValueRef cg_i64(Cg *cg, int64_t v) { return LLVMConstInt(cg->t_i64, (unsigned long long)v, 1); }
LLVMValueRef cg_i32(Cg *cg, int32_t v) { return LLVMConstInt(cg->t_i32, (unsigned long long)(int64_t)v, 1); }
LLVMValueRef cg_f32(Cg *cg, float v) { return LLVMConstReal(cg->t_f32, v); }
LLVMTypeRef cg_vec(Cg *cg, LLVMTypeRef elem, int lanes) { (void)cg; return LLVMVectorType(elem, (unsigned)lanes); }
LLVMTypeRef cg_elem_type(Cg *cg, DType t) { return dtype_is_float(t) ? cg->t_f32 : cg->t_i64; }

/* Grow an array of structural records (a few per node); dies on exhaustion like arena_alloc. */
static void *grow(void *p, int *cap, int need, size_t elem)
{
	if (need <= *cap)
		return p;
	int n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(p, (size_t)n * elem);
	if (q == NULL) {
		fprintf(stderr, "nnzc: out of memory\n");
		abort();
	}
	*cap = n;
	return q;
}

LLVMValueRef cg_task_begin(Cg *cg, const char *what)
{
	char name[96];
	snprintf(name, sizeof name, "nnzc.node%d.%s.%d", cg->node_index, what, cg->task_counter++);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, cg->t_task);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	/* only called through the entry point: mergefunc may replace it by an identical one */
	LLVMSetUnnamedAddress(fn, LLVMGlobalUnnamedAddr);
	cg->fn = fn;
	cg->bufs = LLVMGetParam(fn, 0);
	cg->begin = LLVMGetParam(fn, 1);
	cg->end = LLVMGetParam(fn, 2);
	cg->first_arg = cg->n_args;
	cg->task_what = what;
	cg->n_data_ptrs = 0;
	LLVMSetValueName2(cg->bufs, "args", 4);
	LLVMSetValueName2(cg->begin, "begin", 5);
	LLVMSetValueName2(cg->end, "end", 3);
	/* tensors never alias each other except where the planner reuses dead memory */
	cg->entry_block = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "body");
	LLVMPositionBuilderAtEnd(cg->b, body);
	return fn;
}

/* Whether p is one of the task's constant-data pointers, or a GEP chain from one. */
static bool from_data(const Cg *cg, LLVMValueRef p)
{
	while (LLVMIsAGetElementPtrInst(p))
		p = LLVMGetOperand(p, 0);
	for (int i = 0; i < cg->n_data_ptrs; i++)
		if (cg->data_ptrs[i] == p)
			return true;
	return false;
}

/* Loads of constant data (weights) get !invariant.load: the optimiser then knows the task's
 * stores cannot change them and hoists them out of loops, as it did when the weights were
 * constant globals named in the code. Weights never change while a model runs (docs/abi.md). */
static void mark_invariant_loads(Cg *cg)
{
	if (cg->n_data_ptrs == 0)
		return;
	unsigned kind = LLVMGetMDKindIDInContext(cg->ctx, "invariant.load", 14);
	LLVMValueRef empty = LLVMMetadataAsValue(cg->ctx, LLVMMDNodeInContext2(cg->ctx, NULL, 0));
	for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(cg->fn); bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in; in = LLVMGetNextInstruction(in))
			if (LLVMGetInstructionOpcode(in) == LLVMLoad && from_data(cg, LLVMGetOperand(in, 0)))
				LLVMSetMetadata(in, kind, empty);
}

void cg_task_end(Cg *cg)
{
	LLVMBuildRetVoid(cg->b);
	mark_invariant_loads(cg);
	/* the entry block holds the allocas; it falls through to the body */
	LLVMBasicBlockRef body = LLVMGetNextBasicBlock(cg->entry_block);
	LLVMBuilderRef eb = LLVMCreateBuilderInContext(cg->ctx);
	LLVMPositionBuilderAtEnd(eb, cg->entry_block);
	LLVMBuildBr(eb, body);
	LLVMDisposeBuilder(eb);
	cg->tasks = grow(cg->tasks, &cg->cap_tasks, cg->n_tasks + 1, sizeof *cg->tasks);
	cg->tasks[cg->n_tasks++] = (CgTask){.fn = cg->fn, .node = cg->node_index, .what = cg->task_what,
					    .first_arg = cg->first_arg, .n_args = cg->n_args - cg->first_arg};
	cg->fn = NULL;
}

/* Index of (slot, data) in the current task's argument block, added on first use. */
static int task_arg(Cg *cg, int slot, int data)
{
	assert(cg->fn != NULL);
	for (int i = cg->first_arg; i < cg->n_args; i++)
		if (cg->args[i].slot == slot && cg->args[i].data == data)
			return i - cg->first_arg;
	cg->args = grow(cg->args, &cg->cap_args, cg->n_args + 1, sizeof *cg->args);
	cg->args[cg->n_args++] = (CgArg){slot, data};
	return cg->n_args - 1 - cg->first_arg;
}

static LLVMValueRef arg_load(Cg *cg, int index, const char *name)
{
	LLVMValueRef p = cg_gep(cg, cg->t_ptr, cg->bufs, cg_i64(cg, index));
	LLVMValueRef r = LLVMBuildLoad2(cg->b, cg->t_ptr, p, name);
	LLVMSetAlignment(r, 8);
	return r;
}

static int add_data(Cg *cg, const void *bytes, size_t size, void *owned)
{
	cg->data = grow(cg->data, &cg->cap_data, cg->n_data + 1, sizeof *cg->data);
	cg->data[cg->n_data] = (CgData){.bytes = bytes, .size = size, .owned = owned, .node = cg->node_index};
	return cg->n_data++;
}

int cg_data_take(Cg *cg, void *bytes, size_t size)
{
	return add_data(cg, bytes, size, bytes);
}

static LLVMValueRef data_load(Cg *cg, int id, const char *name)
{
	LLVMValueRef p = arg_load(cg, task_arg(cg, -1, id), name);
	cg->data_ptrs = grow(cg->data_ptrs, &cg->cap_data_ptrs, cg->n_data_ptrs + 1, sizeof *cg->data_ptrs);
	cg->data_ptrs[cg->n_data_ptrs++] = p;
	return p;
}

LLVMValueRef cg_data_ptr(Cg *cg, int id)
{
	return data_load(cg, id, "");
}

LLVMValueRef cg_slot_ptr(Cg *cg, int slot)
{
	return arg_load(cg, task_arg(cg, slot, -1), "");
}

int cg_const_data(Cg *cg, const Value *v)
{
	if (cg->data_of[v->id] < 0) {
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		cg->data_of[v->id] = add_data(cg, v->data, ok ? bytes : 0, NULL);
	}
	return cg->data_of[v->id];
}

/* A small constant as a private global, shared by every constant of the same bytes so that
 * identical nodes stay identical. */
static LLVMValueRef baked_global(Cg *cg, const Value *v, size_t bytes)
{
	for (int i = 0; i < cg->g->n_values; i++) {
		const Value *u = cg->g->values[i];
		if (cg->global[i] && u->dtype == v->dtype && shape_numel(&u->shape) == shape_numel(&v->shape) &&
		    memcmp(u->data, v->data, bytes) == 0)
			return cg->global[v->id] = cg->global[i];
	}
	LLVMValueRef init = LLVMConstStringInContext2(cg->ctx, v->data, bytes, 1);
	char name[64];
	snprintf(name, sizeof name, "nnzc.const%d", v->id);
	LLVMValueRef gv = LLVMAddGlobal(cg->mod, LLVMTypeOf(init), name);
	LLVMSetInitializer(gv, init);
	LLVMSetGlobalConstant(gv, 1);
	LLVMSetLinkage(gv, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(gv, 64);
	return cg->global[v->id] = gv;
}

LLVMValueRef cg_ptr(Cg *cg, const Value *v)
{
	if (cg->global[v->id])
		return cg->global[v->id];
	if (v->data && !v->producer) {
		bool ok;
		size_t bytes = shape_bytes(&v->shape, dtype_compute_size(v->dtype), &ok);
		if (ok && bytes > 0 && bytes <= CG_BAKED_BYTES)
			return baked_global(cg, v, bytes);
		return data_load(cg, cg_const_data(cg, v), v->name);
	}
	assert(cg->slot[v->id] >= 0);
	return arg_load(cg, task_arg(cg, cg->slot[v->id], -1), v->name);
}

LLVMValueRef cg_var(Cg *cg, LLVMTypeRef t, LLVMValueRef init, const char *name)
{
	LLVMBuilderRef eb = LLVMCreateBuilderInContext(cg->ctx);
	LLVMValueRef first = LLVMGetFirstInstruction(cg->entry_block);
	if (first)
		LLVMPositionBuilderBefore(eb, first);
	else
		LLVMPositionBuilderAtEnd(eb, cg->entry_block);
	LLVMValueRef a = LLVMBuildAlloca(eb, t, name);
	LLVMDisposeBuilder(eb);
	if (init)
		LLVMBuildStore(cg->b, init, a);
	return a;
}

LLVMValueRef cg_for(Cg *cg, Loop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, const char *name)
{
	l->var = cg_var(cg, cg->t_i64, lo, name);
	l->step = cg_i64(cg, step);
	l->hi = hi;
	l->cond = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "for.cond");
	l->body = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "for.body");
	l->exit = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "for.exit");
	LLVMBuildBr(cg->b, l->cond);
	LLVMPositionBuilderAtEnd(cg->b, l->cond);
	LLVMValueRef iv = LLVMBuildLoad2(cg->b, cg->t_i64, l->var, name);
	LLVMBuildCondBr(cg->b, LLVMBuildICmp(cg->b, LLVMIntSLT, iv, hi, ""), l->body, l->exit);
	LLVMPositionBuilderAtEnd(cg->b, l->body);
	l->iv = iv;
	return iv;
}

/* Loop metadata !{self, !{"llvm.loop.unroll.disable"}} on a loop's back edge: the loop ID must
 * refer to itself, which the C API builds through a temporary node. */
static void no_unroll(Cg *cg, LLVMValueRef backedge)
{
	static const char key[] = "llvm.loop.unroll.disable";
	LLVMMetadataRef what = LLVMMDStringInContext2(cg->ctx, key, sizeof key - 1);
	LLVMMetadataRef tmp = LLVMTemporaryMDNode(cg->ctx, NULL, 0);
	LLVMMetadataRef ops[2] = {tmp, LLVMMDNodeInContext2(cg->ctx, &what, 1)};
	LLVMMetadataRef id = LLVMMDNodeInContext2(cg->ctx, ops, 2);
	LLVMMetadataReplaceAllUsesWith(tmp, id);
	LLVMSetMetadata(backedge, LLVMGetMDKindIDInContext(cg->ctx, "llvm.loop", 9), LLVMMetadataAsValue(cg->ctx, id));
}

void cg_for_end(Cg *cg, Loop *l)
{
	LLVMValueRef iv = LLVMBuildLoad2(cg->b, cg->t_i64, l->var, "");
	LLVMBuildStore(cg->b, LLVMBuildNSWAdd(cg->b, iv, l->step, ""), l->var);
	LLVMValueRef br = LLVMBuildBr(cg->b, l->cond);
	if (cg->no_unroll)
		no_unroll(cg, br);
	LLVMPositionBuilderAtEnd(cg->b, l->exit);
}

void cg_if(Cg *cg, IfBlock *ib, LLVMValueRef cond, bool with_else)
{
	ib->then_bb = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "if.then");
	ib->else_bb = with_else ? LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "if.else") : NULL;
	ib->merge = LLVMAppendBasicBlockInContext(cg->ctx, cg->fn, "if.end");
	LLVMBuildCondBr(cg->b, cond, ib->then_bb, with_else ? ib->else_bb : ib->merge);
	LLVMPositionBuilderAtEnd(cg->b, ib->then_bb);
}

void cg_else(Cg *cg, IfBlock *ib)
{
	LLVMBuildBr(cg->b, ib->merge);
	LLVMPositionBuilderAtEnd(cg->b, ib->else_bb);
}

void cg_if_end(Cg *cg, IfBlock *ib)
{
	LLVMBuildBr(cg->b, ib->merge);
	LLVMPositionBuilderAtEnd(cg->b, ib->merge);
}

LLVMValueRef cg_gep(Cg *cg, LLVMTypeRef elem, LLVMValueRef base, LLVMValueRef index)
{
	return LLVMBuildInBoundsGEP2(cg->b, elem, base, &index, 1, "");
}

LLVMValueRef cg_load(Cg *cg, LLVMTypeRef t, LLVMValueRef base, LLVMValueRef index)
{
	/* vectors are addressed in units of their element type */
	LLVMTypeRef unit = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
	LLVMValueRef v = LLVMBuildLoad2(cg->b, t, cg_gep(cg, unit, base, index), "");
	LLVMSetAlignment(v, unit == cg->t_f32 ? 4 : 8); /* element alignment: vectors may be unaligned */
	return v;
}

void cg_store(Cg *cg, LLVMValueRef v, LLVMValueRef base, LLVMValueRef index)
{
	LLVMTypeRef t = LLVMTypeOf(v);
	LLVMTypeRef unit = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
	LLVMValueRef s = LLVMBuildStore(cg->b, v, cg_gep(cg, unit, base, index));
	LLVMSetAlignment(s, unit == cg->t_f32 ? 4 : 8);
}

LLVMValueRef cg_splat(Cg *cg, LLVMValueRef scalar, int lanes)
{
	LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)lanes);
	LLVMValueRef undef = LLVMGetPoison(vt);
	LLVMValueRef one = LLVMBuildInsertElement(cg->b, undef, scalar, cg_i32(cg, 0), "");
	LLVMValueRef mask = LLVMConstNull(LLVMVectorType(cg->t_i32, (unsigned)lanes));
	return LLVMBuildShuffleVector(cg->b, one, undef, mask, "");
}

LLVMValueRef cg_intrinsic(Cg *cg, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	LLVMValueRef fn = LLVMGetIntrinsicDeclaration(cg->mod, id, &t, 1);
	LLVMTypeRef ft = LLVMIntrinsicGetType(cg->ctx, id, &t, 1);
	return LLVMBuildCall2(cg->b, ft, fn, args, (unsigned)n, "");
}

LLVMValueRef cg_call_extern(Cg *cg, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int n_params,
			    LLVMValueRef *args)
{
	LLVMTypeRef ft = LLVMFunctionType(ret, params, (unsigned)n_params, 0);
	LLVMValueRef fn = LLVMGetNamedFunction(cg->mod, name);
	if (fn == NULL)
		fn = LLVMAddFunction(cg->mod, name, ft);
	return LLVMBuildCall2(cg->b, ft, fn, args, (unsigned)n_params, "");
}

/* ---------------------------------------------------------------- dtype layouts */

LLVMTypeRef cg_storage_type(Cg *cg, DType t)
{
	switch (t) {
	case DT_F16: return cg->t_f16;
	case DT_BF16: case DT_I16: case DT_U16: return cg->t_i16;
	case DT_F64: return cg->t_f64;
	case DT_I8: case DT_U8: case DT_BOOL: return cg->t_i8;
	case DT_I32: case DT_U32: return cg->t_i32;
	case DT_F32: return cg->t_f32;
	default: return cg->t_i64;
	}
}

/* t (scalar type) in the shape of v: the same vector width, or scalar */
static LLVMTypeRef like(LLVMValueRef v, LLVMTypeRef t)
{
	LLVMTypeRef vt = LLVMTypeOf(v);
	return LLVMGetTypeKind(vt) == LLVMVectorTypeKind ? LLVMVectorType(t, LLVMGetVectorSize(vt)) : t;
}

static LLVMValueRef splat_int(LLVMTypeRef t, unsigned long long c)
{
	if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
		return LLVMConstInt(t, c, 0);
	LLVMValueRef e[64];
	unsigned lanes = LLVMGetVectorSize(t);
	for (unsigned i = 0; i < lanes && i < 64; i++)
		e[i] = LLVMConstInt(LLVMGetElementType(t), c, 0);
	return LLVMConstVector(e, lanes);
}

LLVMValueRef cg_to_storage(Cg *cg, DType t, LLVMValueRef v)
{
	LLVMBuilderRef b = cg->b;
	switch (t) {
	case DT_F16: return LLVMBuildFPTrunc(b, v, like(v, cg->t_f16), "");
	case DT_F64: return LLVMBuildFPExt(b, v, like(v, cg->t_f64), "");
	case DT_BF16: {
		/* as f32_to_bf16 in compiler/dtype.c: round to nearest even, NaN stays a quiet NaN */
		LLVMTypeRef it = like(v, cg->t_i32);
		LLVMValueRef x = LLVMBuildBitCast(b, v, it, "");
		LLVMValueRef nan = LLVMBuildICmp(b, LLVMIntUGT, LLVMBuildAnd(b, x, splat_int(it, 0x7fffffffu), ""),
						 splat_int(it, 0x7f800000u), "");
		LLVMValueRef hi = LLVMBuildLShr(b, x, splat_int(it, 16), "");
		LLVMValueRef odd = LLVMBuildAnd(b, hi, splat_int(it, 1), "");
		LLVMValueRef rounded = LLVMBuildLShr(b, LLVMBuildAdd(b, x, LLVMBuildAdd(b, odd, splat_int(it, 0x7fff), ""), ""),
						     splat_int(it, 16), "");
		LLVMValueRef r = LLVMBuildSelect(b, nan, LLVMBuildOr(b, hi, splat_int(it, 0x40), ""), rounded, "");
		return LLVMBuildTrunc(b, r, like(v, cg->t_i16), "");
	}
	case DT_BOOL:
		return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), ""), like(v, cg->t_i8), "");
	case DT_I8: case DT_U8: case DT_I16: case DT_U16: case DT_I32: case DT_U32:
		return LLVMBuildTrunc(b, v, like(v, cg_storage_type(cg, t)), "");
	default: return v;
	}
}

LLVMValueRef cg_from_storage(Cg *cg, DType t, LLVMValueRef v)
{
	LLVMBuilderRef b = cg->b;
	switch (t) {
	case DT_F16: return LLVMBuildFPExt(b, v, like(v, cg->t_f32), "");
	case DT_F64: return LLVMBuildFPTrunc(b, v, like(v, cg->t_f32), "");
	case DT_BF16: {
		LLVMTypeRef it = like(v, cg->t_i32);
		LLVMValueRef x = LLVMBuildShl(b, LLVMBuildZExt(b, v, it, ""), splat_int(it, 16), "");
		return LLVMBuildBitCast(b, x, like(v, cg->t_f32), "");
	}
	case DT_BOOL:
		return LLVMBuildZExt(b, LLVMBuildICmp(b, LLVMIntNE, v, LLVMConstNull(LLVMTypeOf(v)), ""), like(v, cg->t_i64), "");
	case DT_I8: case DT_I16: case DT_I32: return LLVMBuildSExt(b, v, like(v, cg->t_i64), "");
	case DT_U8: case DT_U16: case DT_U32: return LLVMBuildZExt(b, v, like(v, cg->t_i64), "");
	default: return v;
	}
}

LLVMValueRef cg_round_dtype(Cg *cg, DType t, LLVMValueRef v)
{
	if (t == DT_F32 || t == DT_F64 || t == DT_I64 || t == DT_U64)
		return v;
	return cg_from_storage(cg, t, cg_to_storage(cg, t, v));
}

bool cg_boundary_converts(DType t) { return dtype_storage_size(t) != dtype_compute_size(t); }

void cg_prefetch(Cg *cg, LLVMValueRef p, LLVMValueRef off)
{
	LLVMValueRef pp = LLVMBuildGEP2(cg->b, cg->t_f32, p, &off, 1, "");
	LLVMValueRef args[4] = {pp, cg_i32(cg, 0), cg_i32(cg, 3), cg_i32(cg, 1)};
	LLVMTypeRef pt = cg->t_ptr;
	unsigned id = LLVMLookupIntrinsicID("llvm.prefetch", 13);
	LLVMBuildCall2(cg->b, LLVMIntrinsicGetType(cg->ctx, id, &pt, 1), LLVMGetIntrinsicDeclaration(cg->mod, id, &pt, 1), args,
		       4, "");
}
