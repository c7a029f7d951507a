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

/* Runs fn(arg, lo, hi) over [0, n) cut into pieces of `grain` (the last one
 * shorter), on the pool. The pieces depend on n and grain only, never on the
 * thread count, so a kernel whose result depends on where a piece starts (a
 * vector loop with a scalar tail) still gives the same bytes for every count:
 * keep grain a multiple of the vector width there. */
typedef void (*rt_range_fn)(void *arg, int64_t lo, int64_t hi);
typedef struct rt_range_job {
  rt_range_fn fn;
  void *arg;
  int64_t n, grain;
} rt_range_job;
static inline void rt_range_task(void *arg, int64_t i) {
  const rt_range_job *j = arg;
  int64_t lo = i * j->grain, hi = lo + j->grain < j->n ? lo + j->grain : j->n;
  j->fn(j->arg, lo, hi);
}
static inline void rt_parallel_range(rt_ctx *ctx, int64_t n, int64_t grain, rt_range_fn fn,
                                     void *arg) {
  if (grain < 1) grain = 1;
  if (n <= grain) {
    if (n > 0) fn(arg, 0, n);
    return;
  }
  rt_range_job j = {fn, arg, n, grain};
  rt_parallel_for(ctx, (n + grain - 1) / grain, rt_range_task, &j);
}
/* Elements an elementwise task handles at least: big enough that a task costs
 * far more than handing it out. A multiple of every vector width. */
#define RT_GRAIN 16384

#define RT_MAX_RANK 8   /* the backend rejects higher ranks with a diagnostic */

#endif
