/* llvm_target.c - everything between our IR and machine code that the JIT and
 * ahead-of-time output share: the host target machine, linking the embedded
 * kernel bitcode, internalizing, retargeting every function to the host CPU,
 * and the O2 pipeline of the new pass manager.
 *
 * The kernels were compiled for a generic x86-64 with vectorization off
 * (cmake/kernels.cmake); here each function gets the host's target-cpu and
 * target-features, so that after inlining with constant params the loop
 * vectorizer works with the host's widest vectors (AVX-512 where present).
 *
 * Requires: be_llvm_init() before any target lookup (be_llvm_host_tm calls it). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "llvm.h"

double be_llvm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void init_once(void) {
  if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() ||
      LLVMInitializeNativeAsmParser())
    MIXC_BUG("LLVM has no native target for this host");
}

void be_llvm_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init_once);
}

LLVMTargetMachineRef be_llvm_host_tm(ir_diags *d) {
  be_llvm_init();
  char *triple = LLVMGetDefaultTargetTriple();
  LLVMTargetRef target;
  char *err = NULL;
  if (LLVMGetTargetFromTriple(triple, &target, &err)) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "LLVM has no target for %s: %s", triple, err);
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(triple);
    return NULL;
  }
  const char *env_cpu = getenv("MIXC_TARGET_CPU");
  char *cpu = NULL, *features = NULL;
  if (env_cpu && *env_cpu) {
    const char *f = getenv("MIXC_TARGET_FEATURES");
    cpu = strdup(env_cpu);
    features = strdup(f ? f : "");
  } else {
    char *c = LLVMGetHostCPUName(), *f = LLVMGetHostCPUFeatures();
    cpu = strdup(c);
    features = strdup(f);
    LLVMDisposeMessage(c);
    LLVMDisposeMessage(f);
  }
  if (!cpu || !features) MIXC_BUG("out of memory");
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, triple, cpu, features,
                                                    LLVMCodeGenLevelDefault, LLVMRelocPIC,
                                                    LLVMCodeModelDefault);
  if (!tm)
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "LLVM cannot make a target machine for %s (cpu %s)",
                triple, cpu);
  free(cpu);
  free(features);
  LLVMDisposeMessage(triple);
  return tm;
}

/* ---- LLVM diagnostics -> ir_diags --------------------------------------------- */
static void on_llvm_diag(LLVMDiagnosticInfoRef di, void *ctx) {
  ir_diags *d = ctx;
  if (!d || LLVMGetDiagInfoSeverity(di) != LLVMDSError) return;
  char *msg = LLVMGetDiagInfoDescription(di);
  ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "LLVM: %s", msg);
  LLVMDisposeMessage(msg);
}

void be_llvm_catch_diags(LLVMContextRef c, ir_diags *d) {
  LLVMContextSetDiagnosticHandler(c, on_llvm_diag, d);
}

/* ---- kernels ------------------------------------------------------------------- */
/* Links only what the program uses: the bitcode is read lazily, every function
 * and global of it that our module does not reference is made internal, so
 * the linker brings in (and materializes) just the kernels the program calls
 * and what they reach. */
bool be_llvm_link_kernels(LLVMModuleRef m, ir_diags *d) {
  LLVMContextRef c = LLVMGetModuleContext(m);
  LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(
      (const char *)mixc_kernels_bc, mixc_kernels_bc_len, "kernels.bc", 0);
  LLVMModuleRef k = NULL;
  if (LLVMGetBitcodeModuleInContext2(c, buf, &k)) { /* takes buf */
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                "the kernel bitcode embedded in mixc cannot be read by this LLVM");
    return false;
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(k); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *name = LLVMGetValueName2(f, &len);
    LLVMValueRef ours = LLVMGetNamedFunction(m, name);
    if (!LLVMIsDeclaration(f) && !(ours && LLVMIsDeclaration(ours)))
      LLVMSetLinkage(f, LLVMInternalLinkage);
  }
  for (LLVMValueRef g = LLVMGetFirstGlobal(k); g; g = LLVMGetNextGlobal(g))
    if (!LLVMIsDeclaration(g)) LLVMSetLinkage(g, LLVMInternalLinkage);
  /* Same triple and layout as ours, so the linker does not warn. */
  LLVMSetTarget(k, LLVMGetTarget(m));
  LLVMSetDataLayout(k, LLVMGetDataLayoutStr(m));
  if (LLVMLinkModules2(m, k)) { /* consumes k */
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "linking the kernel bitcode failed");
    return false;
  }
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
    size_t len;
    const char *name = LLVMGetValueName2(f, &len);
    if (LLVMIsDeclaration(f) && !strncmp(name, "mixc_k_", 7) && LLVMGetFirstUse(f))
      MIXC_BUG("kernel %s is in kernels.def but not in the kernel bitcode", name);
  }
  return true;
}

static bool exported(const char *name, const be_llvm_opts *o) {
  size_t n = strlen(o->prefix);
  if (!strncmp(name, o->prefix, n) && name[n] == '_' &&
      (!strcmp(name + n + 1, "entry") || !strcmp(name + n + 1, "desc") ||
       !strcmp(name + n + 1, "run") || !strcmp(name + n + 1, "load_weights") ||
       !strcmp(name + n + 1, "weights_error")))
    return true;
  return o->emit_main && !strcmp(name, "main");
}

static void set_fn_string_attr(LLVMContextRef c, LLVMValueRef f, const char *k, const char *v) {
  LLVMRemoveStringAttributeAtIndex(f, LLVMAttributeFunctionIndex, k, (unsigned)strlen(k));
  if (v)
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                            LLVMCreateStringAttribute(c, k, (unsigned)strlen(k), v, (unsigned)strlen(v)));
}

void be_llvm_finalize(LLVMModuleRef m, const be_llvm_opts *o, LLVMTargetMachineRef tm) {
  LLVMContextRef c = LLVMGetModuleContext(m);
  char *cpu = LLVMGetTargetMachineCPU(tm), *features = LLVMGetTargetMachineFeatureString(tm);
  for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
    if (LLVMIsDeclaration(f)) continue;
    size_t len;
    if (!exported(LLVMGetValueName2(f, &len), o)) {
      LLVMSetLinkage(f, LLVMInternalLinkage);
      LLVMSetVisibility(f, LLVMDefaultVisibility);
    }
    set_fn_string_attr(c, f, "target-cpu", cpu);
    set_fn_string_attr(c, f, "target-features", features);
    set_fn_string_attr(c, f, "tune-cpu", NULL);
  }
  for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g)) {
    size_t len;
    if (LLVMIsDeclaration(g) || exported(LLVMGetValueName2(g, &len), o)) continue;
    LLVMLinkage l = LLVMGetLinkage(g);
    if (l != LLVMPrivateLinkage && l != LLVMInternalLinkage) {
      LLVMSetLinkage(g, LLVMInternalLinkage);
      LLVMSetVisibility(g, LLVMDefaultVisibility);
    }
  }
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
}

bool be_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, ir_diags *d) {
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMPassBuilderOptionsSetLoopVectorization(po, 1);
  LLVMPassBuilderOptionsSetSLPVectorization(po, 1);
  LLVMPassBuilderOptionsSetLoopInterleaving(po, 1);
  LLVMPassBuilderOptionsSetLoopUnrolling(po, 1);
  /* globaldce first: kernels the program does not call are gone before O2 looks at them. */
  LLVMErrorRef e = LLVMRunPasses(m, "globaldce,default<O2>", tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) {
    char *msg = LLVMGetErrorMessage(e);
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "LLVM optimization failed: %s", msg);
    LLVMDisposeErrorMessage(msg);
    return false;
  }
  return true;
}

LLVMModuleRef be_llvm_compile(LLVMContextRef c, const be_program *p, const be_llvm_opts *o,
                              LLVMTargetMachineRef tm, be_llvm_times *t, ir_diags *d) {
  be_llvm_times dummy;
  if (!t) t = &dummy;
  double t0 = be_llvm_now_ms();
  int errors = d->nerrors;
  be_llvm_catch_diags(c, d);
  LLVMModuleRef m = be_llvm_build(c, p, o, tm, d);
  double t1 = be_llvm_now_ms();
  t->build_ms = t1 - t0;
  if (!m) goto fail;
  if (!be_llvm_link_kernels(m, d)) goto fail;
  be_llvm_finalize(m, o, tm);
  double t2 = be_llvm_now_ms();
  t->link_ms = t2 - t1;
  if (d->nerrors > errors || !be_llvm_optimize(m, tm, d) || d->nerrors > errors) goto fail;
  t->opt_ms = be_llvm_now_ms() - t2;
  /* Debugging aid: MIXC_DUMP_IR=FILE writes the optimized module as text. */
  const char *dump = getenv("MIXC_DUMP_IR");
  if (dump && *dump) {
    char *err = NULL;
    if (LLVMPrintModuleToFile(m, dump, &err))
      ir_diag_add(d, IR_WARNING, NULL, NULL, -1, -1, "MIXC_DUMP_IR: cannot write %s: %s", dump, err);
    LLVMDisposeMessage(err);
  }
  be_llvm_catch_diags(c, NULL);
  return m;
fail:
  if (m) LLVMDisposeModule(m);
  be_llvm_catch_diags(c, NULL);
  return NULL;
}
