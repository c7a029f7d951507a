/* llvm_module.c - builds the LLVM module of a be_program with the LLVM-C API:
 * one noinline specialization per distinct (kernel, params) pair, which calls
 * the kernel (alwaysinline) with its constant params; the entry function that
 * fills each call's bufs array and runs the calls in order, stopping at the
 * first run-time failure, with a profile hook around each call when
 * ctx->prof is set; and, for ahead-of-time output, the model descriptor (with
 * the per-call name table), the run wrapper and main.
 * llvm.h shows the module's shape.
 *
 * Requires: a program from be_lower. The layouts of rt_ctx, rt_tensor_desc and
 * rt_model_desc are taken from the C headers (offsetof) and checked against
 * LLVM's data layout; a mismatch is MIXC_BUG. */
#include <stddef.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>

#include "llvm.h"

/* The state of one module build. */
typedef struct mb {
  LLVMContextRef c;
  LLVMModuleRef m;
  LLVMBuilderRef b;
  LLVMTargetDataRef td;
  const be_program *p;
  const be_llvm_opts *o;
  ir_arena *a;           /* names; freed at the end of the build */
  ir_diags *d;
  LLVMTypeRef i8, i32, i64, ptr, vd;
  LLVMTypeRef kernel_ty; /* void (ptr ctx, ptr params, ptr bufs) */
  LLVMTypeRef spec_ty;   /* void (ptr ctx, ptr bufs) */
  LLVMTypeRef entry_ty;  /* i32 (ptr ctx, ptr inputs, ptr outputs, ptr arena) */
  LLVMValueRef *consts;  /* address of each constant, built on first use */
  LLVMValueRef wbase_g;  /* weights file: the global holding the mapped payload */
  LLVMValueRef wbase;    /* weights file: its value, loaded at the top of entry */
} mb;

uint64_t be_llvm_weights_layout(const be_program *p, uint64_t *offsets) {
  uint64_t off = 0;
  /* only constants that some call reads (a weight that was packed for its
   * GEMM is replaced by its packed copy) */
  for (int k = 0; k < p->nconsts; k++) offsets[k] = UINT64_MAX;
  for (int c = 0; c < p->ncalls; c++)
    for (int i = 0; i < p->calls[c].nops; i++)
      if (p->calls[c].ops[i].loc == BE_CONST) offsets[p->calls[c].ops[i].index] = 0;
  for (int k = 0; k < p->nconsts; k++) {
    const ir_tensor *t = p->consts[k];
    if (offsets[k] == UINT64_MAX || !t->nbytes || t->dtype == IR_STRING || !t->data) {
      offsets[k] = UINT64_MAX;
      continue;
    }
    offsets[k] = off;
    off = (off + t->nbytes + 63) & ~(uint64_t)63;
  }
  return off;
}

const char *be_llvm_sym(ir_arena *a, const char *prefix, const char *suffix) {
  return ir_sprintf(a, "%s_%s", prefix, suffix);
}

bool be_llvm_check_prefix(const char *prefix, ir_diags *d) {
  bool ok = prefix[0] && !(prefix[0] >= '0' && prefix[0] <= '9');
  for (const char *s = prefix; *s; s++)
    ok = ok && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                (*s >= '0' && *s <= '9') || *s == '_');
  if (!ok)
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                "symbol prefix \"%s\" is not a C identifier ([A-Za-z_][A-Za-z0-9_]*)", prefix);
  return ok;
}

static void fn_attr(mb *b, LLVMValueRef fn, LLVMAttributeIndex idx, const char *name,
                    uint64_t val) {
  unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
  if (!kind) MIXC_BUG("LLVM has no attribute %s", name);
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(b->c, kind, val));
}

/* A private constant global holding n bytes (no terminator), or a pointer to a
 * C string (with its terminator) when str is set. */
static LLVMValueRef bytes_global(mb *b, const char *name, const void *data, size_t n,
                                 unsigned align, bool str) {
  LLVMValueRef init = LLVMConstStringInContext2(b->c, data, n, !str);
  LLVMValueRef g = LLVMAddGlobal(b->m, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
  LLVMSetAlignment(g, align);
  return g;
}

static LLVMValueRef byte_gep(mb *b, LLVMValueRef base, uint64_t off, const char *name);

static LLVMValueRef const_addr(mb *b, int k) {
  if (k < 0 || k >= b->p->nconsts) MIXC_BUG("constant %d out of range", k);
  if (b->consts[k]) return b->consts[k];
  const ir_tensor *t = b->p->consts[k];
  LLVMValueRef v;
  if (b->o->jit) {
    /* Zero copy: the weights stay where the graph keeps them. */
    v = t->data ? LLVMConstIntToPtr(LLVMConstInt(b->i64, (uint64_t)(uintptr_t)t->data, 0), b->ptr)
                : LLVMConstPointerNull(b->ptr);
  } else if (t->dtype == IR_STRING) {
    ir_diag_add(b->d, IR_ERROR, NULL, NULL, -1, -1,
                "constant %s is a string tensor; compiled output cannot embed strings",
                t->name ? t->name : "?");
    v = LLVMConstPointerNull(b->ptr);
  } else if (!t->nbytes) {
    v = LLVMConstPointerNull(b->ptr);
  } else if (b->o->weights_file) {
    /* An instruction, so not cached: each use is in the block being built. */
    uint64_t off = b->o->weight_offsets[k];
    if (off == UINT64_MAX) MIXC_BUG("constant %d has no place in the weights file", k);
    return byte_gep(b, b->wbase, off, "");
  } else {
    v = bytes_global(b, ir_sprintf(b->a, "w.%d", k), t->data, t->nbytes, 64, false);
  }
  return b->consts[k] = v;
}

static LLVMValueRef load_ptr_at(mb *b, LLVMValueRef array, int index) {
  LLVMValueRef idx = LLVMConstInt(b->i64, (uint64_t)index, 0);
  LLVMValueRef slot = LLVMBuildGEP2(b->b, b->ptr, array, &idx, 1, "");
  return LLVMBuildLoad2(b->b, b->ptr, slot, "");
}

static LLVMValueRef byte_gep(mb *b, LLVMValueRef base, uint64_t off, const char *name) {
  if (!off) return base;
  LLVMValueRef idx = LLVMConstInt(b->i64, off, 0);
  return LLVMBuildInBoundsGEP2(b->b, b->i8, base, &idx, 1, name);
}

/* A specialization: one kernel with one params blob. Calls that share both
 * (repeated blocks of a Mixer, experts of equal shape) share the function. */
typedef struct spec {
  const char *kernel;
  const void *params;
  size_t size;
  uint64_t hash;
  LLVMValueRef fn;
} spec;

static uint64_t hash_call(const be_call *c) {
  uint64_t h = 1469598103934665603ull;
  for (const char *s = c->kernel; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  for (size_t i = 0; i < c->params_size; i++)
    h = (h ^ ((const unsigned char *)c->params)[i]) * 1099511628211ull;
  return h;
}

/* spec.N.<kernel>(ctx, bufs): the kernel inlined with its params as constants. */
static LLVMValueRef spec_fn(mb *b, spec *specs, int *nspecs, const be_call *call) {
  uint64_t h = hash_call(call);
  for (int i = 0; i < *nspecs; i++)
    if (specs[i].hash == h && specs[i].size == call->params_size &&
        !strcmp(specs[i].kernel, call->kernel) &&
        !memcmp(specs[i].params, call->params, call->params_size))
      return specs[i].fn;
  const char *kname = call->kernel;
  if (!be_kernel_lookup(kname)) MIXC_BUG("kernel %s is not in kernels.def", kname);
  int n = (*nspecs)++;
  const char *shortname = strncmp(kname, "mixc_k_", 7) ? kname : kname + 7;
  LLVMValueRef fn = LLVMAddFunction(b->m, ir_sprintf(b->a, "spec.%d.%s", n, shortname), b->spec_ty);
  LLVMSetLinkage(fn, LLVMInternalLinkage);
  fn_attr(b, fn, LLVMAttributeFunctionIndex, "noinline", 0);
  fn_attr(b, fn, LLVMAttributeFunctionIndex, "nounwind", 0);
  LLVMPositionBuilderAtEnd(b->b, LLVMAppendBasicBlockInContext(b->c, fn, "entry"));
  LLVMValueRef params = call->params_size
      ? bytes_global(b, ir_sprintf(b->a, "params.%d", n), call->params, call->params_size, 64, false)
      : LLVMConstPointerNull(b->ptr);
  LLVMValueRef kfn = LLVMGetNamedFunction(b->m, kname);
  if (!kfn) {
    kfn = LLVMAddFunction(b->m, kname, b->kernel_ty);
    fn_attr(b, kfn, LLVMAttributeFunctionIndex, "nounwind", 0);
  }
  LLVMValueRef args[3] = {LLVMGetParam(fn, 0), params, LLVMGetParam(fn, 1)};
  LLVMValueRef cl = LLVMBuildCall2(b->b, b->kernel_ty, kfn, args, 3, "");
  /* Inline the kernel here so that LLVM sees the params as constants. */
  LLVMAddCallSiteAttribute(cl, LLVMAttributeFunctionIndex,
                           LLVMCreateEnumAttribute(b->c, LLVMGetEnumAttributeKindForName("alwaysinline", 12), 0));
  LLVMBuildRetVoid(b->b);
  specs[n] = (spec){kname, call->params, call->params_size, h, fn};
  return fn;
}

/* The address of operand op inside the entry function. */
static LLVMValueRef operand(mb *b, const be_operand *op, LLVMValueRef in, LLVMValueRef out,
                            LLVMValueRef arena) {
  switch (op->loc) {
  case BE_NONE: return LLVMConstPointerNull(b->ptr);
  case BE_INPUT:
    if (op->index < 0 || op->index >= b->p->ninputs) MIXC_BUG("input %d out of range", op->index);
    return load_ptr_at(b, in, op->index);
  case BE_OUTPUT:
    if (op->index < 0 || op->index >= b->p->noutputs) MIXC_BUG("output %d out of range", op->index);
    return load_ptr_at(b, out, op->index);
  case BE_CONST: return const_addr(b, op->index);
  case BE_ARENA:
    if (op->offset + op->nbytes > b->p->arena_size) MIXC_BUG("arena operand past arena_size");
    return byte_gep(b, arena, op->offset, "");
  }
  MIXC_BUG("bad operand location %d", (int)op->loc);
}

static LLVMValueRef ctx_field(mb *b, LLVMValueRef ctx, size_t off) {
  return byte_gep(b, ctx, off, "");
}

/* `if (profiling) (*(rt_prof_fn *)prof)(prof, call, after);` in new blocks
 * placed before `before`; leaves the builder in the block after the test. */
static void prof_hook(mb *b, LLVMValueRef fn, LLVMBasicBlockRef before, LLVMValueRef profiling,
                      LLVMValueRef prof, int call, int after) {
  LLVMBasicBlockRef hook = LLVMAppendBasicBlockInContext(b->c, fn, after ? "prof.leave" : "prof.enter");
  LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(b->c, fn, "");
  LLVMMoveBasicBlockBefore(hook, before);
  LLVMMoveBasicBlockBefore(next, before);
  LLVMBuildCondBr(b->b, profiling, hook, next);
  LLVMPositionBuilderAtEnd(b->b, hook);
  LLVMTypeRef hook_ty = LLVMFunctionType(b->vd, (LLVMTypeRef[]){b->ptr, b->i32, b->i32}, 3, 0);
  LLVMValueRef f = LLVMBuildLoad2(b->b, b->ptr, prof, "hook");
  LLVMValueRef args[3] = {prof, LLVMConstInt(b->i32, (uint64_t)call, 0),
                          LLVMConstInt(b->i32, (uint64_t)after, 0)};
  LLVMBuildCall2(b->b, hook_ty, f, args, 3, "");
  LLVMBuildBr(b->b, next);
  LLVMPositionBuilderAtEnd(b->b, next);
}

/* <prefix>_entry: for each call, fill bufs, set ctx->call, call the
 * specialization (between two profile hooks when ctx->prof is set); stop
 * after a call that can fail and did. Returns ctx->status. */
static LLVMValueRef build_entry(mb *b) {
  const be_program *p = b->p;
  spec *specs = ir_alloc(b->a, sizeof *specs * (size_t)(p->ncalls + 1));
  int nspecs = 0, maxops = 1;
  for (int i = 0; i < p->ncalls; i++) {
    if (!p->calls[i].kernel) MIXC_BUG("call %d has no kernel", i);
    if (p->calls[i].nops > maxops) maxops = p->calls[i].nops;
  }

  LLVMValueRef fn = LLVMAddFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "entry"), b->entry_ty);
  fn_attr(b, fn, LLVMAttributeFunctionIndex, "nounwind", 0);
  fn_attr(b, fn, 4, "align", 64);
  LLVMValueRef ctx = LLVMGetParam(fn, 0), in = LLVMGetParam(fn, 1), out = LLVMGetParam(fn, 2),
               arena = LLVMGetParam(fn, 3);
  LLVMSetValueName2(ctx, "ctx", 3);
  LLVMSetValueName2(in, "inputs", 6);
  LLVMSetValueName2(out, "outputs", 7);
  LLVMSetValueName2(arena, "arena", 5);
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(b->c, fn, "entry");
  LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(b->c, fn, "done");
  LLVMPositionBuilderAtEnd(b->b, bb);
  LLVMValueRef bufs = LLVMBuildAlloca(b->b, LLVMArrayType2(b->ptr, (uint64_t)maxops), "bufs");
  LLVMSetAlignment(bufs, 16);
  LLVMValueRef callp = ctx_field(b, ctx, offsetof(rt_ctx, call));
  LLVMValueRef statusp = ctx_field(b, ctx, offsetof(rt_ctx, status));
  /* ctx->prof is fixed for the run: test it once, branch on it per call. */
  LLVMValueRef prof = LLVMBuildLoad2(b->b, b->ptr, ctx_field(b, ctx, offsetof(rt_ctx, prof)), "prof");
  LLVMValueRef profiling = LLVMBuildIsNotNull(b->b, prof, "profiling");
  if (b->o->weights_file && !b->o->jit) {
    /* No weights mapped yet: fail with a message instead of crashing. */
    b->wbase = LLVMBuildLoad2(b->b, b->ptr, b->wbase_g, "weights");
    LLVMBasicBlockRef nowts = LLVMAppendBasicBlockInContext(b->c, fn, "no_weights");
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(b->c, fn, "");
    LLVMMoveBasicBlockBefore(nowts, done);
    LLVMMoveBasicBlockBefore(next, nowts);
    LLVMBuildCondBr(b->b, LLVMBuildIsNull(b->b, b->wbase, ""), nowts, next);
    LLVMPositionBuilderAtEnd(b->b, nowts);
    LLVMTypeRef fail_ty = LLVMFunctionType(b->vd, (LLVMTypeRef[]){b->ptr, b->ptr}, 2, 1);
    LLVMValueRef fail = LLVMGetNamedFunction(b->m, "rt_fail");
    if (!fail) fail = LLVMAddFunction(b->m, "rt_fail", fail_ty);
    const char *msg = ir_sprintf(b->a, "weights not loaded: call %s_load_weights(\"%s\") first",
                                 b->o->prefix, b->o->weights_file);
    LLVMBuildStore(b->b, LLVMConstInt(b->i32, (uint64_t)-1, 1), callp); /* no call failed */
    LLVMValueRef fargs[2] = {ctx, bytes_global(b, "weights.msg", msg, strlen(msg), 1, true)};
    LLVMBuildCall2(b->b, fail_ty, fail, fargs, 2, "");
    LLVMBuildBr(b->b, done);
    bb = next;
    LLVMPositionBuilderAtEnd(b->b, bb);
  }
  for (int i = 0; i < p->ncalls; i++) {
    const be_call *call = &p->calls[i];
    LLVMValueRef sfn = spec_fn(b, specs, &nspecs, call);
    LLVMPositionBuilderAtEnd(b->b, bb);
    for (int j = 0; j < call->nops; j++) {
      LLVMValueRef addr = operand(b, &call->ops[j], in, out, arena);
      LLVMValueRef idx = LLVMConstInt(b->i64, (uint64_t)j, 0);
      LLVMBuildStore(b->b, addr, LLVMBuildInBoundsGEP2(b->b, b->ptr, bufs, &idx, 1, ""));
    }
    LLVMBuildStore(b->b, LLVMConstInt(b->i32, (uint64_t)i, 0), callp);
    prof_hook(b, fn, done, profiling, prof, i, 0);
    LLVMValueRef args[2] = {ctx, bufs};
    LLVMBuildCall2(b->b, b->spec_ty, sfn, args, 2, "");
    prof_hook(b, fn, done, profiling, prof, i, 1);
    bb = LLVMGetInsertBlock(b->b);
    if (call->can_fail) {
      LLVMValueRef st = LLVMBuildLoad2(b->b, b->i32, statusp, "status");
      LLVMValueRef failed = LLVMBuildICmp(b->b, LLVMIntNE, st, LLVMConstInt(b->i32, 0, 0), "failed");
      LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(b->c, fn, "");
      LLVMMoveBasicBlockBefore(next, done);
      LLVMBuildCondBr(b->b, failed, done, next);
      bb = next;
      LLVMPositionBuilderAtEnd(b->b, bb);
    }
  }
  LLVMBuildBr(b->b, done);
  LLVMPositionBuilderAtEnd(b->b, done);
  LLVMBuildRet(b->b, LLVMBuildLoad2(b->b, b->i32, statusp, "status"));
  return fn;
}

/* ---- ahead-of-time extras: descriptor, run wrapper, main ----------------------- */
static LLVMValueRef tensor_descs(mb *b, LLVMTypeRef tdesc_ty, const be_tensor_desc *t, int n,
                                 const char *what) {
  if (!n) return LLVMConstPointerNull(b->ptr);
  LLVMValueRef *elems = ir_alloc(b->a, sizeof *elems * (size_t)n);
  for (int i = 0; i < n; i++) {
    if (t[i].rank < 0 || t[i].rank > RT_DESC_MAX_RANK) MIXC_BUG("rank %d in descriptor", t[i].rank);
    LLVMValueRef dims[RT_DESC_MAX_RANK];
    for (int k = 0; k < RT_DESC_MAX_RANK; k++)
      dims[k] = LLVMConstInt(b->i64, k < t[i].rank ? (uint64_t)t[i].dims[k] : 0, 0);
    const char *name = t[i].name ? t[i].name : "";
    LLVMValueRef f[5] = {
        bytes_global(b, ir_sprintf(b->a, "%s.name.%d", what, i), name, strlen(name), 1, true),
        LLVMConstInt(b->i32, (uint64_t)t[i].dtype, 0),
        LLVMConstInt(b->i32, (uint64_t)t[i].rank, 0),
        LLVMConstArray2(b->i64, dims, RT_DESC_MAX_RANK),
        LLVMConstInt(b->i64, t[i].nbytes, 0),
    };
    elems[i] = LLVMConstNamedStruct(tdesc_ty, f, 5);
  }
  LLVMValueRef init = LLVMConstArray2(tdesc_ty, elems, (uint64_t)n);
  LLVMValueRef g = LLVMAddGlobal(b->m, LLVMTypeOf(init), what);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetAlignment(g, 8);
  return g;
}

static void check_offset(mb *b, LLVMTypeRef st, unsigned field, size_t c_off, const char *what) {
  if (LLVMOffsetOfElement(b->td, st, field) != c_off)
    MIXC_BUG("LLVM and C disagree on the layout of %s", what);
}

/* The rt_call_info table (rt.h): node names, ops and kernels as constant
 * strings, so that executables name the failing node and label profiles. */
static LLVMValueRef call_infos(mb *b) {
  const be_program *p = b->p;
  if (!p->ncalls) return LLVMConstPointerNull(b->ptr);
  LLVMTypeRef cf[8] = {b->ptr, b->ptr, b->ptr, b->i64, b->i32, b->i32, b->i32, b->i32};
  LLVMTypeRef ty = LLVMStructCreateNamed(b->c, "rt_call_info");
  LLVMStructSetBody(ty, cf, 8, 0);
  check_offset(b, ty, 3, offsetof(rt_call_info, moe_rows), "rt_call_info");
  check_offset(b, ty, 4, offsetof(rt_call_info, node_index), "rt_call_info");
  check_offset(b, ty, 7, offsetof(rt_call_info, reserved), "rt_call_info");
  if (LLVMABISizeOfType(b->td, ty) != sizeof(rt_call_info)) MIXC_BUG("rt_call_info size");
  rt_call_info *ci = ir_alloc(b->a, sizeof *ci * (size_t)p->ncalls);
  be_call_infos(p, ci);
  LLVMValueRef *elems = ir_alloc(b->a, sizeof *elems * (size_t)p->ncalls);
  for (int i = 0; i < p->ncalls; i++) {
    const char *s[3] = {ci[i].name, ci[i].op, ci[i].kernel};
    static const char *const what[3] = {"name", "op", "kernel"};
    LLVMValueRef f[8];
    for (int k = 0; k < 3; k++)
      f[k] = bytes_global(b, ir_sprintf(b->a, "call.%s.%d", what[k], i), s[k], strlen(s[k]), 1, true);
    f[3] = LLVMConstInt(b->i64, (uint64_t)ci[i].moe_rows, 0);
    f[4] = LLVMConstInt(b->i32, (uint64_t)(int64_t)ci[i].node_index, 1);
    f[5] = LLVMConstInt(b->i32, (uint64_t)ci[i].moe_experts, 0);
    f[6] = LLVMConstInt(b->i32, (uint64_t)ci[i].moe_k, 0);
    f[7] = LLVMConstInt(b->i32, 0, 0);
    elems[i] = LLVMConstNamedStruct(ty, f, 8);
  }
  LLVMValueRef init = LLVMConstArray2(ty, elems, (uint64_t)p->ncalls);
  LLVMValueRef g = LLVMAddGlobal(b->m, LLVMTypeOf(init), "calls");
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetAlignment(g, 8);
  return g;
}

static LLVMValueRef build_desc(mb *b, LLVMValueRef entry) {
  LLVMTypeRef tf[5] = {b->ptr, b->i32, b->i32, LLVMArrayType2(b->i64, RT_DESC_MAX_RANK), b->i64};
  LLVMTypeRef tdesc_ty = LLVMStructCreateNamed(b->c, "rt_tensor_desc");
  LLVMStructSetBody(tdesc_ty, tf, 5, 0);
  check_offset(b, tdesc_ty, 1, offsetof(rt_tensor_desc, dtype), "rt_tensor_desc");
  check_offset(b, tdesc_ty, 3, offsetof(rt_tensor_desc, dims), "rt_tensor_desc");
  check_offset(b, tdesc_ty, 4, offsetof(rt_tensor_desc, nbytes), "rt_tensor_desc");
  if (LLVMABISizeOfType(b->td, tdesc_ty) != sizeof(rt_tensor_desc)) MIXC_BUG("rt_tensor_desc size");
  LLVMTypeRef mf[12] = {b->i32, b->i32, b->i32, b->ptr, b->ptr, b->i64, b->ptr,
                        b->ptr, b->ptr, b->ptr, b->i32, b->ptr};
  LLVMTypeRef mdesc_ty = LLVMStructCreateNamed(b->c, "rt_model_desc");
  LLVMStructSetBody(mdesc_ty, mf, 12, 0);
  check_offset(b, mdesc_ty, 3, offsetof(rt_model_desc, inputs), "rt_model_desc");
  check_offset(b, mdesc_ty, 5, offsetof(rt_model_desc, arena_size), "rt_model_desc");
  check_offset(b, mdesc_ty, 6, offsetof(rt_model_desc, entry), "rt_model_desc");
  check_offset(b, mdesc_ty, 7, offsetof(rt_model_desc, weights_file), "rt_model_desc");
  check_offset(b, mdesc_ty, 9, offsetof(rt_model_desc, weights_error), "rt_model_desc");
  check_offset(b, mdesc_ty, 10, offsetof(rt_model_desc, ncalls), "rt_model_desc");
  check_offset(b, mdesc_ty, 11, offsetof(rt_model_desc, calls), "rt_model_desc");
  if (LLVMABISizeOfType(b->td, mdesc_ty) != sizeof(rt_model_desc)) MIXC_BUG("rt_model_desc size");

  const be_program *p = b->p;
  const char *wf = b->o->weights_file;
  LLVMValueRef null = LLVMConstPointerNull(b->ptr);
  LLVMValueRef f[12] = {
      LLVMConstInt(b->i32, RT_ABI_VERSION, 0),
      LLVMConstInt(b->i32, (uint64_t)p->ninputs, 0),
      LLVMConstInt(b->i32, (uint64_t)p->noutputs, 0),
      tensor_descs(b, tdesc_ty, p->inputs, p->ninputs, "inputs"),
      tensor_descs(b, tdesc_ty, p->outputs, p->noutputs, "outputs"),
      LLVMConstInt(b->i64, p->arena_size, 0),
      entry,
      wf ? bytes_global(b, "weights.file", wf, strlen(wf), 1, true) : null,
      wf ? LLVMGetNamedFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "load_weights")) : null,
      wf ? LLVMGetNamedFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "weights_error")) : null,
      LLVMConstInt(b->i32, (uint64_t)p->ncalls, 0),
      call_infos(b),
  };
  LLVMValueRef g = LLVMAddGlobal(b->m, mdesc_ty, be_llvm_sym(b->a, b->o->prefix, "desc"));
  LLVMSetInitializer(g, LLVMConstNamedStruct(mdesc_ty, f, 12));
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 8);
  return g;
}

static LLVMValueRef declare(mb *b, const char *name, LLVMTypeRef ty) {
  LLVMValueRef f = LLVMGetNamedFunction(b->m, name);
  return f ? f : LLVMAddFunction(b->m, name, ty);
}

/* int <prefix>_run(void *const *inputs, void *const *outputs): a zeroed rt_ctx
 * on the stack, a malloc'd arena; returns ctx.status, or -1 when the arena
 * cannot be allocated. Single-threaded (ctx.pool NULL) and unprofiled, so
 * that an object with embedded weights needs only libc and libm; hosts that
 * want threads, a profile or routing statistics call <prefix>_desc.entry with
 * their own rt_ctx (rt_pool_create etc. from libmixc_rt.a). */
static void build_run(mb *b, LLVMValueRef entry) {
  LLVMTypeRef pp[2] = {b->ptr, b->ptr};
  LLVMTypeRef run_ty = LLVMFunctionType(b->i32, pp, 2, 0);
  LLVMValueRef fn = LLVMAddFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "run"), run_ty);
  LLVMTypeRef alloc_ty = LLVMFunctionType(b->ptr, (LLVMTypeRef[]){b->i64, b->i64}, 2, 0);
  LLVMTypeRef free_ty = LLVMFunctionType(b->vd, (LLVMTypeRef[]){b->ptr}, 1, 0);
  LLVMPositionBuilderAtEnd(b->b, LLVMAppendBasicBlockInContext(b->c, fn, "entry"));
  LLVMValueRef ctx = LLVMBuildAlloca(b->b, LLVMArrayType2(b->i8, sizeof(rt_ctx)), "ctx");
  LLVMSetAlignment(ctx, 16);
  LLVMBuildMemSet(b->b, ctx, LLVMConstInt(b->i8, 0, 0), LLVMConstInt(b->i64, sizeof(rt_ctx), 0), 16);
  LLVMValueRef arena = LLVMConstPointerNull(b->ptr);
  uint64_t size = (b->p->arena_size + 63) & ~(uint64_t)63;
  if (size) {
    LLVMValueRef aa[2] = {LLVMConstInt(b->i64, 64, 0), LLVMConstInt(b->i64, size, 0)};
    arena = LLVMBuildCall2(b->b, alloc_ty, declare(b, "aligned_alloc", alloc_ty), aa, 2, "arena");
    LLVMBasicBlockRef oom = LLVMAppendBasicBlockInContext(b->c, fn, "oom");
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(b->c, fn, "ok");
    LLVMBuildCondBr(b->b, LLVMBuildIsNull(b->b, arena, ""), oom, ok);
    LLVMPositionBuilderAtEnd(b->b, oom);
    LLVMBuildRet(b->b, LLVMConstInt(b->i32, (uint64_t)-1, 1));
    LLVMPositionBuilderAtEnd(b->b, ok);
  }
  LLVMValueRef args[4] = {ctx, LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), arena};
  LLVMValueRef st = LLVMBuildCall2(b->b, b->entry_ty, entry, args, 4, "status");
  if (size) LLVMBuildCall2(b->b, free_ty, declare(b, "free", free_ty), &arena, 1, "");
  LLVMBuildRet(b->b, st);
}

/* The weights file's globals and functions:
 *   int <prefix>_load_weights(const char *path): rt_weights_map with this
 *       model's count, size and hash; on success the entry's base is set;
 *   const char *<prefix>_weights_error(void): the last failure's reason. */
static void build_weights(mb *b) {
  b->wbase_g = LLVMAddGlobal(b->m, b->ptr, "weights.base");
  LLVMSetInitializer(b->wbase_g, LLVMConstPointerNull(b->ptr));
  LLVMSetLinkage(b->wbase_g, LLVMInternalLinkage);
  LLVMSetAlignment(b->wbase_g, 8);
  if (!b->o->emit_desc) return;
  enum { ERRLEN = 512 };
  LLVMTypeRef err_ty = LLVMArrayType2(b->i8, ERRLEN);
  LLVMValueRef err = LLVMAddGlobal(b->m, err_ty, "weights.err");
  LLVMSetInitializer(err, LLVMConstNull(err_ty));
  LLVMSetLinkage(err, LLVMInternalLinkage);

  uint64_t count = 0;
  for (int k = 0; k < b->p->nconsts; k++) count += b->o->weight_offsets[k] != UINT64_MAX;
  LLVMTypeRef map_ty = LLVMFunctionType(
      b->i32, (LLVMTypeRef[]){b->ptr, b->i64, b->i64, b->i64, b->ptr, b->ptr, b->i64}, 7, 0);
  LLVMTypeRef load_ty = LLVMFunctionType(b->i32, (LLVMTypeRef[]){b->ptr}, 1, 0);
  LLVMValueRef fn = LLVMAddFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "load_weights"), load_ty);
  LLVMPositionBuilderAtEnd(b->b, LLVMAppendBasicBlockInContext(b->c, fn, "entry"));
  LLVMValueRef slot = LLVMBuildAlloca(b->b, b->ptr, "payload");
  LLVMValueRef args[7] = {LLVMGetParam(fn, 0), LLVMConstInt(b->i64, count, 0),
                          LLVMConstInt(b->i64, b->o->weights_bytes, 0),
                          LLVMConstInt(b->i64, b->o->weights_hash, 0), slot, err,
                          LLVMConstInt(b->i64, ERRLEN, 0)};
  LLVMValueRef rc = LLVMBuildCall2(b->b, map_ty, declare(b, "rt_weights_map", map_ty), args, 7, "rc");
  LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(b->c, fn, "ok");
  LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(b->c, fn, "bad");
  LLVMBuildCondBr(b->b, LLVMBuildICmp(b->b, LLVMIntEQ, rc, LLVMConstInt(b->i32, 0, 0), ""), ok, bad);
  LLVMPositionBuilderAtEnd(b->b, ok);
  LLVMBuildStore(b->b, LLVMBuildLoad2(b->b, b->ptr, slot, ""), b->wbase_g);
  LLVMBuildRet(b->b, rc);
  LLVMPositionBuilderAtEnd(b->b, bad);
  LLVMBuildRet(b->b, LLVMConstInt(b->i32, (uint64_t)-1, 1));

  LLVMTypeRef errf_ty = LLVMFunctionType(b->ptr, NULL, 0, 0);
  LLVMValueRef ef = LLVMAddFunction(b->m, be_llvm_sym(b->a, b->o->prefix, "weights_error"), errf_ty);
  LLVMPositionBuilderAtEnd(b->b, LLVMAppendBasicBlockInContext(b->c, ef, "entry"));
  LLVMBuildRet(b->b, err);
}

/* int main(int argc, char **argv) { return rt_exe_main(argc, argv, &<prefix>_desc); } */
static void build_main(mb *b, LLVMValueRef desc) {
  LLVMTypeRef main_ty = LLVMFunctionType(b->i32, (LLVMTypeRef[]){b->i32, b->ptr}, 2, 0);
  LLVMTypeRef h_ty = LLVMFunctionType(b->i32, (LLVMTypeRef[]){b->i32, b->ptr, b->ptr}, 3, 0);
  LLVMValueRef fn = LLVMAddFunction(b->m, "main", main_ty);
  LLVMPositionBuilderAtEnd(b->b, LLVMAppendBasicBlockInContext(b->c, fn, "entry"));
  LLVMValueRef args[3] = {LLVMGetParam(fn, 0), LLVMGetParam(fn, 1), desc};
  LLVMBuildRet(b->b, LLVMBuildCall2(b->b, h_ty, declare(b, "rt_exe_main", h_ty), args, 3, ""));
}

LLVMModuleRef be_llvm_build(LLVMContextRef c, const be_program *p, const be_llvm_opts *o,
                            LLVMTargetMachineRef tm, ir_diags *d) {
  int errors = d->nerrors;
  mb b = {0};
  b.c = c;
  b.p = p;
  b.o = o;
  b.d = d;
  b.a = ir_arena_new();
  b.m = LLVMModuleCreateWithNameInContext(o->prefix, c);
  char *triple = LLVMGetTargetMachineTriple(tm);
  LLVMSetTarget(b.m, triple);
  LLVMDisposeMessage(triple);
  b.td = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(b.m, b.td);
  b.b = LLVMCreateBuilderInContext(c);
  b.i8 = LLVMInt8TypeInContext(c);
  b.i32 = LLVMInt32TypeInContext(c);
  b.i64 = LLVMInt64TypeInContext(c);
  b.ptr = LLVMPointerTypeInContext(c, 0);
  b.vd = LLVMVoidTypeInContext(c);
  LLVMTypeRef kp[3] = {b.ptr, b.ptr, b.ptr}, cp[4] = {b.ptr, b.ptr, b.ptr, b.ptr};
  b.kernel_ty = LLVMFunctionType(b.vd, kp, 3, 0);
  b.spec_ty = LLVMFunctionType(b.vd, kp, 2, 0);
  b.entry_ty = LLVMFunctionType(b.i32, cp, 4, 0);
  b.consts = ir_alloc(b.a, sizeof *b.consts * (size_t)(p->nconsts + 1));

  if (o->weights_file && !o->jit) build_weights(&b);
  LLVMValueRef entry = build_entry(&b);
  if (o->emit_desc) {
    LLVMValueRef desc = build_desc(&b, entry);
    build_run(&b, entry);
    if (o->emit_main) build_main(&b, desc);
  }
  LLVMDisposeBuilder(b.b);
  LLVMDisposeTargetData(b.td);
  ir_arena_free(b.a);

  char *msg = NULL;
  if (d->nerrors == errors && LLVMVerifyModule(b.m, LLVMReturnStatusAction, &msg)) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "LLVM rejected the generated module: %s", msg);
  }
  LLVMDisposeMessage(msg);
  if (d->nerrors > errors) {
    LLVMDisposeModule(b.m);
    return NULL;
  }
  return b.m;
}
