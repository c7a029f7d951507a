/* kernel.h - the kernel ABI shared by the compiler and the kernels.
 *
 * Every kernel has the same signature:
 *
 *     void mixc_k_NAME(rt_ctx *ctx, const void *params, void *const *bufs);
 *
 * - params points at a kernel-specific struct (defined in this folder's
 *   headers) that the backend fills at compile time and emits as a constant
 *   global, so that after inlining LLVM sees every shape as a constant and
 *   specializes the loops.
 * - bufs holds the operand addresses: the node's inputs in ONNX order (NULL for
 *   an omitted optional input), then its outputs. Weights are constant
 *   addresses, intermediates are arena offsets, model inputs/outputs come
 *   from the caller.
 * - A kernel that finds bad data at run time (an index out of range) calls
 *   rt_fail() and returns without writing outside its buffers; the entry
 *   function checks ctx->status after such kernels.
 *
 * Requires: C11 with GCC/Clang vector extensions; only libm. The same sources
 * are compiled natively into libmixc (the reference interpreter) and by
 * clang-19 into bitcode that the backend links into every model. */
#ifndef MIXC_KERNEL_H
#define MIXC_KERNEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_ctx {
  int status;           /* 0 ok; otherwise the first failure */
  int fail_call;        /* index of the call that failed */
  char msg[240];        /* what went wrong, e.g. "Gather index 7 out of range [0, 4)" */
  int call;             /* index of the call being run (set by the entry function) */
  void *pool;           /* rt_pool (runtime/pool.c); NULL: single-threaded */
  void *prof;           /* per-call profile records; NULL: not profiling */
  void *stats;          /* MoE routing statistics; NULL: not collected */
} rt_ctx;

typedef void (*rt_kernel_fn)(rt_ctx *ctx, const void *params, void *const *bufs);

/* Records a run-time data error (first one wins). Defined in rt_fail.c. */
void rt_fail(rt_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs fn(arg, i) for every i in [0, n) on the context's thread pool, the
 * calling thread included, and returns when all are done; inline when
 * ctx->pool is NULL. Tasks must write disjoint memory and must not depend on
 * which thread runs them, so that results are identical for every thread
 * count. Native code (runtime/pool.c), not kernel bitcode: the JIT binds it as
 * an absolute symbol, executables link it from libmixc_rt.a. */
typedef void (*rt_task_fn)(void *arg, int64_t i);
void rt_parallel_for(rt_ctx *ctx, int64_t n, rt_task_fn fn, void *arg);
/* Threads of the context's pool (1 without one). */
int rt_threads(const rt_ctx *ctx);

#define RT_MAX_RANK 8   /* the backend rejects higher ranks with a diagnostic */

#endif
