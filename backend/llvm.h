/* llvm.h - the LLVM side of the backend, internal to backend/: building one
 * LLVM module per program (llvm_module.c), linking the embedded kernel bitcode,
 * retargeting it to the host and optimizing it (llvm_target.c), and the two
 * consumers, the ORC JIT (jit.c) and ahead-of-time output (aot.c).
 *
 * The module a program becomes:
 *
 *   i32 @<prefix>_entry(ptr ctx, ptr inputs, ptr outputs, ptr arena)  -- rt_entry_fn
 *       for each call: stores the operand addresses in a bufs array (weights
 *       as constant addresses, arena + offset, the caller's buffers), sets
 *       ctx->call = i, calls the call's specialization - between two calls of
 *       the profile hook when ctx->prof is set (rt.h; loaded and tested once,
 *       a branch per call otherwise) - and returns early when a call that can
 *       fail left ctx->status nonzero;
 *   void @spec.N.<kernel>(ptr ctx, ptr bufs)                         -- noinline
 *       one per distinct (kernel, params bytes): calls the kernel with a
 *       pointer to a constant params global at an alwaysinline call site, so
 *       the kernel is specialized to its shapes; repeated blocks and experts
 *       of equal shape share one, which keeps compile time proportional to the
 *       number of distinct layers rather than calls;
 *   AOT only: @<prefix>_desc (rt_model_desc, with @calls, the rt_call_info
 *       table naming each call's node, op and kernel), i32 @<prefix>_run(inputs,
 *       outputs), and for executables i32 @main(argc, argv);
 *   AOT with a weights file: i32 @<prefix>_load_weights(ptr path) and
 *       ptr @<prefix>_weights_error(); the entry then loads the mapped base
 *       once, fails (rt_fail) when it is still NULL, and addresses each
 *       weight as base + offset.
 *
 * Requires: a program from be_lower. Every kernel it names is in kernels.def
 * and in the embedded bitcode (a missing one is MIXC_BUG). */
#ifndef MIXC_BE_LLVM_H
#define MIXC_BE_LLVM_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "be.h"

typedef struct be_llvm_opts {
  bool jit;              /* weights as the host's addresses (zero copy); else as globals */
  const char *prefix;    /* exported symbols: <prefix>_entry, _desc, _run */
  bool emit_desc;        /* define <prefix>_desc and <prefix>_run (AOT) */
  bool emit_main;        /* define main() calling rt_exe_main (executables) */
  /* AOT with --weights=file: no weight bytes in the object. Constant k lives
   * at <weights base> + weight_offsets[k] (be_llvm_weights_layout); the base is
   * set by <prefix>_load_weights(path), which calls rt_weights_map with
   * weights_bytes and weights_hash. weights_file (a base name) goes into the
   * descriptor. NULL weights_file: weights are embedded. */
  const char *weights_file;
  const uint64_t *weight_offsets;
  uint64_t weights_bytes, weights_hash;
} be_llvm_opts;

/* The weights-file layout of p: offsets[k] for every constant (64-byte
 * aligned; UINT64_MAX for empty or string constants, which are not stored);
 * returns the payload size (a multiple of 64). offsets has p->nconsts slots. */
uint64_t be_llvm_weights_layout(const be_program *p, uint64_t *offsets);

/* Wall-clock milliseconds of each step, for `--time` style reports and tests. */
typedef struct be_llvm_times {
  double build_ms;       /* our IR */
  double link_ms;        /* parse + link the kernel bitcode, internalize, retarget */
  double opt_ms;         /* LLVMRunPasses default<O2> */
  double codegen_ms;     /* machine code (JIT materialization or file emission) */
} be_llvm_times;

double be_llvm_now_ms(void);

/* Initializes the native target once (thread-safe). */
void be_llvm_init(void);

/* A target machine for the host CPU and its features (or $MIXC_TARGET_CPU and
 * $MIXC_TARGET_FEATURES when set), O2, position-independent code (what the JIT
 * linker, shared libraries and PIE executables all want). NULL with a
 * diagnostic when LLVM has no target for the host. */
LLVMTargetMachineRef be_llvm_host_tm(ir_diags *d);

/* Routes the context's LLVM diagnostics (errors) into d while the module is
 * built and optimized; warnings and remarks are dropped. */
void be_llvm_catch_diags(LLVMContextRef c, ir_diags *d);

/* Builds the module for p in c, links the kernels, internalizes everything but
 * the exported symbols, retargets every function to tm's CPU and runs the O2
 * pipeline. NULL with a diagnostic on failure. */
LLVMModuleRef be_llvm_compile(LLVMContextRef c, const be_program *p, const be_llvm_opts *o,
                              LLVMTargetMachineRef tm, be_llvm_times *t, ir_diags *d);

/* Pieces of be_llvm_compile, for tests. */
LLVMModuleRef be_llvm_build(LLVMContextRef c, const be_program *p, const be_llvm_opts *o,
                            LLVMTargetMachineRef tm, ir_diags *d);
bool be_llvm_link_kernels(LLVMModuleRef m, ir_diags *d);
void be_llvm_finalize(LLVMModuleRef m, const be_llvm_opts *o, LLVMTargetMachineRef tm);
bool be_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, ir_diags *d);

/* The exported symbol names for a prefix, e.g. "mixc_model_entry"; arena-owned. */
const char *be_llvm_sym(ir_arena *a, const char *prefix, const char *suffix);
/* True when prefix is a C identifier (diagnostic otherwise). */
bool be_llvm_check_prefix(const char *prefix, ir_diags *d);

/* The embedded kernel bitcode (gen/kernels_bc.c, from cmake/kernels.cmake). */
extern const unsigned char mixc_kernels_bc[];
extern const size_t mixc_kernels_bc_len;

/* Timing of the last be_jit_compile of j. */
const be_llvm_times *be_jit_times(const be_jit *j);

#endif
