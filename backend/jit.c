/* jit.c - compiles a be_program in memory with ORC's LLJIT and hands back an
 * rt_model_desc that the harness and the public API run like an AOT model.
 *
 * Weights are not copied: the module refers to the graph's constant buffers by
 * address, so the graph must outlive the JIT. Symbols the compiled code needs
 * from the host (libm's expf/erff/tanhf, memcpy, vsnprintf, ...) resolve
 * against the running process; an unresolvable one is a diagnostic.
 *
 * Requires: a program from be_lower, with every kernel in the embedded bitcode. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include "llvm.h"

struct be_jit {
  LLVMOrcLLJITRef jit;
  rt_model_desc desc;
  rt_tensor_desc *tensors;   /* inputs then outputs */
  ir_arena *names;
  be_llvm_times times;
};

static void orc_error(ir_diags *d, const char *what, LLVMErrorRef e) {
  char *msg = LLVMGetErrorMessage(e);
  ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "JIT %s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
}

static void describe(be_jit *j, rt_tensor_desc *out, const be_tensor_desc *in) {
  if (in->rank < 0 || in->rank > RT_DESC_MAX_RANK) MIXC_BUG("rank %d in descriptor", in->rank);
  memset(out, 0, sizeof *out);
  out->name = ir_strdup(j->names, in->name ? in->name : "");
  out->dtype = (int32_t)in->dtype;
  out->rank = in->rank;
  for (int k = 0; k < in->rank; k++) out->dims[k] = in->dims[k];
  out->nbytes = in->nbytes;
}

/* The runtime's native functions that kernels call: bound by address, since
 * a statically linked libmixc does not export them to the process search. */
static const struct {
  const char *name;
  void *addr;
} natives[] = {
    {"rt_parallel_for", (void *)rt_parallel_for},
    {"rt_threads", (void *)rt_threads},
};
enum { NNATIVE = sizeof natives / sizeof natives[0] };

static bool is_native(const char *name) {
  for (int i = 0; i < NNATIVE; i++)
    if (!strcmp(natives[i].name, name)) return true;
  return false;
}

/* Every function the optimized module still calls but does not define must be
 * found in the process or be a native; saying which one is missing beats a
 * failed lookup. */
static bool check_undefined(LLVMModuleRef m, ir_diags *d) {
  bool ok = true;
  void *self = dlopen(NULL, RTLD_NOW);
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *name = LLVMGetValueName2(f, &len);
    if (!LLVMIsDeclaration(f) || LLVMGetIntrinsicID(f) || !LLVMGetFirstUse(f)) continue;
    if (!is_native(name) && !dlsym(self ? self : RTLD_DEFAULT, name)) {
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                  "JIT: the compiled model calls %s, which this process does not provide", name);
      ok = false;
    }
  }
  if (self) dlclose(self);
  return ok;
}

be_jit *be_jit_compile(const be_program *p, ir_diags *d) {
  int errors = d->nerrors;
  be_jit *j = calloc(1, sizeof *j);
  if (!j) MIXC_BUG("out of memory");
  j->names = ir_arena_new();

  LLVMTargetMachineRef tm = be_llvm_host_tm(d);
  if (!tm) goto fail;
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  LLVMContextRef c = LLVMOrcThreadSafeContextGetContext(tsc);
  be_llvm_opts o = {.jit = true, .prefix = "mixc_model"};
  LLVMModuleRef m = be_llvm_compile(c, p, &o, tm, &j->times, d);
  LLVMDisposeTargetMachine(tm);
  if (!m || !check_undefined(m, d)) {
    if (m) LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    goto fail;
  }
  double t0 = be_llvm_now_ms();
  /* The JIT's own target machine: same host CPU and features, PIC, O2. */
  LLVMTargetMachineRef jtm = be_llvm_host_tm(d);
  if (!jtm) {
    LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    goto fail;
  }
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
      builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jtm)); /* takes jtm */
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);                 /* takes builder */
  if (e) {
    orc_error(d, "creation failed", e);
    j->jit = NULL;
    LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    goto fail;
  }
  LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(j->jit);
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->jit),
                                                           NULL, NULL);
  if (e) {
    orc_error(d, "cannot search the process for symbols", e);
    LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    goto fail;
  }
  LLVMOrcJITDylibAddGenerator(jd, gen);
  /* The runtime's native functions, bound by address. */
  LLVMOrcCSymbolMapPair syms[NNATIVE];
  for (int i = 0; i < NNATIVE; i++) {
    syms[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, natives[i].name);
    syms[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)natives[i].addr;
    syms[i].Sym.Flags.GenericFlags = LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
    syms[i].Sym.Flags.TargetFlags = 0;
  }
  e = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(syms, NNATIVE));
  if (e) {
    orc_error(d, "cannot define the runtime's symbols", e);
    LLVMDisposeModule(m);
    LLVMOrcDisposeThreadSafeContext(tsc);
    goto fail;
  }
  /* Our reference to tsc keeps the context alive until the lookup has compiled
   * the module (the JIT drops the module, and with it its reference, then). */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc); /* takes m */
  be_llvm_catch_diags(c, d);
  e = LLVMOrcLLJITAddLLVMIRModule(j->jit, jd, tsm); /* takes tsm, even on error */
  LLVMOrcExecutorAddress addr = 0;
  if (!e) e = LLVMOrcLLJITLookup(j->jit, &addr, "mixc_model_entry"); /* compiles */
  be_llvm_catch_diags(c, NULL);
  LLVMOrcDisposeThreadSafeContext(tsc);
  if (e) {
    orc_error(d, "compilation failed", e);
    goto fail;
  }
  if (!addr) MIXC_BUG("the JIT found mixc_model_entry at address 0");
  j->times.codegen_ms = be_llvm_now_ms() - t0;

  j->tensors = calloc((size_t)(p->ninputs + p->noutputs + 1), sizeof *j->tensors);
  if (!j->tensors) MIXC_BUG("out of memory");
  for (int i = 0; i < p->ninputs; i++) describe(j, &j->tensors[i], &p->inputs[i]);
  for (int i = 0; i < p->noutputs; i++) describe(j, &j->tensors[p->ninputs + i], &p->outputs[i]);
  j->desc.abi_version = RT_ABI_VERSION;
  j->desc.ninputs = p->ninputs;
  j->desc.noutputs = p->noutputs;
  j->desc.inputs = j->tensors;
  j->desc.outputs = j->tensors + p->ninputs;
  j->desc.arena_size = p->arena_size;
  j->desc.entry = (rt_entry_fn)(uintptr_t)addr;
  if (d->nerrors > errors) goto fail;
  return j;
fail:
  if (d->nerrors == errors) MIXC_BUG("JIT failed without a diagnostic");
  be_jit_free(j);
  return NULL;
}

const rt_model_desc *be_jit_desc(const be_jit *j) { return &j->desc; }

const be_llvm_times *be_jit_times(const be_jit *j) { return &j->times; }

void be_jit_free(be_jit *j) {
  if (!j) return;
  if (j->jit) {
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
    if (e) LLVMConsumeError(e);
  }
  free(j->tensors);
  ir_arena_free(j->names);
  free(j);
}
