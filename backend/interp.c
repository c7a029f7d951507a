/* interp.c - runs a be_program with the natively compiled kernels: the
 * reference path that the JIT must agree with, and the way kernels are tested
 * without LLVM. Like the compiled entry function, it sets ctx->call before
 * each call and calls the profile hook (ctx->prof, runtime/rt.h) around it.
 * Also here: be_call_infos, what each call runs, for every descriptor.
 *
 * Requires: a program from be_lower; an arena of p->arena_size bytes, 64-byte
 * aligned; input and output buffers of the sizes in p->inputs/p->outputs. */
#include <string.h>

#include "be.h"
#include "runtime/kernels/moe.h"

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
    rt_prof_fn *prof = ctx->prof;
    if (prof) (*prof)(prof, i, 0);
    fn(ctx, c->params, bufs);
    if (prof) (*prof)(prof, i, 1);
    if (ctx->status) return ctx->status;
  }
  return 0;
}

void be_call_infos(const be_program *p, rt_call_info *out) {
  for (int i = 0; i < p->ncalls; i++) {
    const be_call *c = &p->calls[i];
    const ir_node *n = c->node;
    rt_call_info *r = &out[i];
    memset(r, 0, sizeof *r);
    r->name = n && n->name ? n->name : "";
    r->op = n ? ir_op_fullname(n->op) : "";
    r->kernel = c->kernel;
    r->node_index = n ? n->index : -1;
    if (!strcmp(c->kernel, "mixc_k_moe_f32")) {
      if (c->params_size != sizeof(mixc_moe_fused_params)) MIXC_BUG("mixc_k_moe_f32 params size");
      mixc_moe_fused_params mp;
      memcpy(&mp, c->params, sizeof mp);
      r->moe_rows = mp.rows;
      r->moe_experts = (int32_t)mp.E;
      r->moe_k = (int32_t)mp.k;
    }
  }
}
