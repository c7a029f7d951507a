/* be.h - the backend's interface: lowering the optimized IR to a program of
 * kernel calls (lower*.c), running it natively (interp.c, the reference path),
 * and turning it into an LLVM module that is JIT-compiled or emitted as
 * object code, a library, an executable, .ll or .s (llvm*.c).
 *
 * Requires: a verified graph after the pass pipeline, with every shape static
 * (symbolic input dims bound first with be_bind_shapes). Ops or dtypes the
 * backend cannot run are diagnostics naming the node. */
#ifndef MIXC_BE_H
#define MIXC_BE_H

#include "ir/ir.h"
#include "runtime/kernels/kernel.h"

/* Where a kernel operand lives. */
typedef enum {
  BE_NONE,     /* omitted optional operand: NULL */
  BE_INPUT,    /* model input `index` (caller's buffer) */
  BE_OUTPUT,   /* model output `index` (caller's buffer) */
  BE_CONST,    /* constant `index` in be_program.consts */
  BE_ARENA,    /* intermediate at `offset` in the arena */
} be_loc;

typedef struct be_operand {
  be_loc loc;
  int index;
  size_t offset;
  size_t nbytes;
} be_operand;

typedef struct be_call {
  const char *kernel;        /* kernel function name, e.g. "mixc_k_binary" */
  const void *params;        /* kernel parameter bytes (arena-owned) */
  size_t params_size;
  int nops;
  be_operand *ops;           /* node inputs then outputs, as the kernel expects */
  const ir_node *node;       /* for diagnostics and profiling; NULL for copies */
  bool can_fail;             /* the kernel may call rt_fail */
} be_call;

typedef struct be_tensor_desc {
  const char *name;
  ir_dtype dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  size_t nbytes;
} be_tensor_desc;

typedef struct be_program {
  ir_arena *arena;           /* owns everything below */
  int ninputs, noutputs, nconsts, ncalls;
  be_tensor_desc *inputs, *outputs;
  const ir_tensor **consts;  /* weights, referenced (not copied) from the graph */
  size_t arena_size;         /* bytes of intermediates (64-byte aligned offsets) */
  be_call *calls;
} be_program;

/* Binds symbolic dims (name -> value) and re-runs inference and folding so
 * that every shape becomes static. Unbound or inconsistent dims are
 * diagnostics. */
typedef struct be_binding {
  const char *sym;
  int64_t value;
} be_binding;
bool be_bind_shapes(ir_ctx *cx, int n, const be_binding *b);

/* Lowers every node to kernel calls and plans the arena. Adds a diagnostic for
 * each node the backend cannot run (op, dtype or dynamic shape). */
be_program *be_lower(ir_ctx *cx);
void be_program_free(be_program *p);

/* Runs the program with the natively compiled kernels (reference path). */
int be_interp_run(const be_program *p, rt_ctx *ctx, void *const *inputs, void *const *outputs,
                  void *arena);

/* Looks up a natively compiled kernel by name (kernels/table.def). */
rt_kernel_fn be_kernel_lookup(const char *name);

#include "runtime/rt.h"

/* What each call runs (interp.c): out[i] for each of the p->ncalls calls, for
 * descriptors (error messages, profiles, routing statistics). Strings point
 * into the graph the program was lowered from and into static tables. */
void be_call_infos(const be_program *p, rt_call_info *out);

/* ---- LLVM: JIT and ahead-of-time output (llvm*.c, jit.c, aot.c) --------------- */

typedef struct be_jit be_jit;
/* JIT-compiles the program (ORC LLJIT) for the host CPU. NULL with a
 * diagnostic on failure. The program may be freed afterwards; constants are
 * referenced, not copied, so the graph that owns them must outlive the JIT. */
be_jit *be_jit_compile(const be_program *p, ir_diags *d);
const rt_model_desc *be_jit_desc(const be_jit *j);   /* entry + descriptor, valid while j lives */
void be_jit_free(be_jit *j);

typedef enum { BE_EMIT_OBJ, BE_EMIT_ASM, BE_EMIT_LLVM, BE_EMIT_LIB, BE_EMIT_EXE } be_emit_kind;
/* Ahead-of-time output. OBJ also writes a C header next to it (OUT with .h), LIB writes a
 * shared library + header, EXE links the object with the runtime library (libmixc_rt.a) and
 * the harness main. `prefix` names the exported symbols (default "mixc_model"). */
bool be_emit(const be_program *p, const char *out_path, be_emit_kind kind, const char *prefix,
             ir_diags *d);
/* be_emit with options. weights_file: write every constant to OUT.weights
 * (format in runtime/rt.h) instead of embedding it; the object then exports
 * <prefix>_load_weights(path) and <prefix>_weights_error(), calls
 * rt_weights_map (libmixc_rt.a, linked into executables and shared
 * libraries), and its descriptor names the file so that the harness maps it
 * from next to the executable. */
typedef struct be_emit_opts {
  const char *prefix;        /* NULL: "mixc_model" */
  bool weights_file;
} be_emit_opts;
bool be_emit_ex(const be_program *p, const char *out_path, be_emit_kind kind,
                const be_emit_opts *o, ir_diags *d);

#endif
