/* IR-building helpers shared by the op emitters: constants, task functions, loops, branches,
 * addressing, intrinsics. */
#include "cpu.h"

#include <stdio.h>
#include <string.h>

LLVMValueRef cg_i64(Cg *cg, int64_t v) { return LLVMConstInt(cg->t_i64, (unsigned long long)v, 1); }
LLVMValueRef cg_i32(Cg *cg, int32_t v) { return LLVMConstInt(cg->t_i32, (unsigned long long)(int64_t)v, 1); }
LLVMValueRef cg_f32(Cg *cg, float v) { return LLVMConstReal(cg->t_f32, v); }
LLVMTypeRef cg_vec(Cg *cg, LLVMTypeRef elem, int lanes) { (void)cg; return LLVMVectorType(elem, (unsigned)lanes); }
LLVMTypeRef cg_elem_type(Cg *cg, DType t) { return dtype_is_float(t) ? cg->t_f32 : cg->t_i64; }

LLVMValueRef cg_task_begin(Cg *cg, const char *what)
{
	char name[96];
	snprintf(name, sizeof name, "nnzc.node%d.%s.%d", cg->node_index, what, cg->task_counter++);
	LLVMValueRef fn = LLVMAddFunction(cg->mod, name, cg->t_task);
	LLVMSetLinkage(fn, LLVMInternalLinkage);
	cg->fn = fn;
	cg->bufs = LLVMGetParam(fn, 0);
	cg->begin = LLVMGetParam(fn, 1);
	cg->end = LLVMGetParam(fn, 2);
	LLVMSetValueName2(cg->bufs, "bufs", 4);
	LLVMSetValueName2(cg->begin, "begin", 5);
	LLVMSetValueName2(cg->end, "end", 3);
	/* tensors never alias each other except where the planner reuses dead memory */
	cg->entry_block = LLVMAppendBasicBlockInContext(cg->ctx, fn, "entry");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(cg->ctx, fn, "body");
	LLVMPositionBuilderAtEnd(cg->b, body);
	return fn;
}

void cg_task_end(Cg *cg)
{
	LLVMBuildRetVoid(cg->b);
	/* the entry block holds the allocas; it falls through to the body */
	LLVMBasicBlockRef body = LLVMGetNextBasicBlock(cg->entry_block);
	LLVMBuilderRef eb = LLVMCreateBuilderInContext(cg->ctx);
	LLVMPositionBuilderAtEnd(eb, cg->entry_block);
	LLVMBuildBr(eb, body);
	LLVMDisposeBuilder(eb);
	cg->fn = NULL;
}

LLVMValueRef cg_ptr(Cg *cg, const Value *v)
{
	if (cg->global[v->id])
		return cg->global[v->id];
	LLVMValueRef p = cg_gep(cg, cg->t_ptr, cg->bufs, cg_i64(cg, cg->slot[v->id]));
	LLVMValueRef r = LLVMBuildLoad2(cg->b, cg->t_ptr, p, v->name);
	return r;
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

void cg_for_end(Cg *cg, Loop *l)
{
	LLVMValueRef iv = LLVMBuildLoad2(cg->b, cg->t_i64, l->var, "");
	LLVMBuildStore(cg->b, LLVMBuildNSWAdd(cg->b, iv, l->step, ""), l->var);
	LLVMBuildBr(cg->b, l->cond);
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
