/* interp.c - runs a be_program with the natively compiled kernels: the
 * reference path that the JIT must agree with, and the way kernels are tested
 * without LLVM.
 *
 * Requires: a program from be_lower; an arena of p->arena_size bytes, 64-byte
 * aligned; input and output buffers of the sizes in p->inputs/p->outputs. */
#include <string.h>

#include "be.h"

#define K(name) void name(rt_ctx *ctx, const void *params, void *const *bufs);
#include "runtime/kernels/kernels.def"
#undef K

static const struct {
  const char *name;
  rt_kernel_fn fn;
} kernels[] = {
#define K(name) {#name, name},
#include "runtime/kernels/kernels.def"
#undef K
};

rt_kernel_fn be_kernel_lookup(const char *name) {
  for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
    if (!strcmp(kernels[i].name, name)) return kernels[i].fn;
  return NULL;
}

int be_interp_run(const be_program *p, rt_ctx *ctx, void *const *inputs, void *const *outputs,
                  void *arena) {
  void *bufs[64];
  for (int i = 0; i < p->ncalls; i++) {
    const be_call *c = &p->calls[i];
    rt_kernel_fn fn = be_kernel_lookup(c->kernel);
    if (!fn) MIXC_BUG("kernel %s is not in kernels.def", c->kernel);
    if (c->nops > (int)(sizeof bufs / sizeof *bufs)) MIXC_BUG("too many operands");
    for (int j = 0; j < c->nops; j++) {
      const be_operand *o = &c->ops[j];
      switch (o->loc) {
      case BE_NONE: bufs[j] = NULL; break;
      case BE_INPUT: bufs[j] = inputs[o->index]; break;
      case BE_OUTPUT: bufs[j] = outputs[o->index]; break;
      case BE_CONST: bufs[j] = p->consts[o->index]->data; break;
      case BE_ARENA: bufs[j] = (char *)arena + o->offset; break;
      }
    }
    ctx->call = i;
    fn(ctx, c->params, bufs);
    if (ctx->status) return ctx->status;
  }
  return 0;
}
