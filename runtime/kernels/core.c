/* core.c - the kernels every program needs: byte copies (model outputs that
 * are inputs or constants), and rt_fail for run-time data errors.
 *
 * Requires: kernel.h's ABI. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

void rt_fail(rt_ctx *ctx, const char *fmt, ...) {
  int zero = 0; /* tasks on several threads may fail at once: the first wins */
  if (!__atomic_compare_exchange_n(&ctx->status, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return;
  ctx->fail_call = ctx->call;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
  va_end(ap);
}

/* params: uint64_t byte count; bufs: {src, dst} */
void mixc_k_copy(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  uint64_t n;
  memcpy(&n, params, sizeof n);
  if (bufs[0] != bufs[1]) memmove(bufs[1], bufs[0], (size_t)n);
}
