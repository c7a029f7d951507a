/* lower_moe.c - lowering of mixc.moe (the fused routed MoE layer raised by
 * passes/raise_moe.c) to mixc_k_moe_f32 (runtime/kernels/moe.c). The node's
 * operands map one to one onto the kernel's bufs: x, W_g, router bias|NULL,
 * fc1, fc1 bias|NULL, fc2, fc2 bias|NULL, [residual|NULL,] y, scratch (the
 * kernel's `residual` flag says whether the node has the eighth input).
 *
 * With granularity "image", x may be (B,S,d): the kernel sees rows = B*S and
 * group = S. With rows_transposed, x is (B,d,T): the kernel sees rows = B*T
 * and tcols = T. With router "logits", operand 1 is the logits (rows,E) and
 * the kernel's `logits` flag is set. mixc.soft_moe lowers to
 * mixc_k_moe_soft_f32 (moe_soft.c) the same way: x, phi, fc1, fc1 bias|NULL,
 * fc2, fc2 bias|NULL, y, scratch.
 *
 * Requires: static shapes (be_lower); the scratch output sized by
 * ir/infer_moe.c with the formula the kernel uses. */
#include <math.h>
#include <string.h>

#include "lower.h"
#include "runtime/kernels/moe.h"
#include "runtime/kernels/moe_soft.h"

static int act_code(const char *s) {
  static const char *names[] = {"gelu_erf", "gelu_tanh", "relu", "silu", "identity"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

bool lower_mixc_moe(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *wg = n->in[1], *w1 = n->in[3];
  if (x->type.dtype != IR_F32) {
    ir_error(lc->cx->d, n, "mixc.moe supports f32 only");
    return false;
  }
  mixc_moe_fused_params p;
  memset(&p, 0, sizeof p);
  int64_t trans = ir_attr_int(n, "rows_transposed", 0);
  if (trans && (trans != 1 || x->type.rank != 3)) MIXC_BUG("mixc.moe rows_transposed not inferred");
  p.d = x->type.dims[trans ? 1 : x->type.rank - 1].v;
  p.tcols = trans ? x->type.dims[2].v : 0;
  p.rows = ir_type_numel(&x->type) / (p.d ? p.d : 1);
  p.E = wg->type.dims[1].v;
  p.h = w1->type.dims[2].v;
  p.k = ir_attr_int(n, "k", 1);
  const char *act = ir_attr_str(n, "activation", "gelu_erf");
  p.act = act_code(act);
  if (p.act < 0) {
    ir_error(lc->cx->d, n, "mixc.moe activation '%s' is not one of gelu_erf, gelu_tanh, relu, "
             "silu, identity", act);
    return false;
  }
  p.normalize = (int32_t)ir_attr_int(n, "normalize", 0);
  const char *gran = ir_attr_str(n, "granularity", "row");
  p.group = ir_attr_int(n, "group", 1);
  bool image = !strcmp(gran, "image");
  if ((strcmp(gran, "row") && !image) || p.group < 1 || (!image && p.group != 1) ||
      p.rows % p.group) {
    ir_error(lc->cx->d, n, "mixc.moe granularity '%s' with group %lld is not supported (\"row\", "
             "or \"image\" with a group dividing the rows)", gran, (long long)p.group);
    return false;
  }
  const char *router = ir_attr_str(n, "router", "gate");
  p.logits = !strcmp(router, "logits");
  if ((!p.logits && strcmp(router, "gate")) || (p.logits && (p.group != 1 || n->in[2]))) {
    ir_error(lc->cx->d, n, "mixc.moe router '%s' is not supported (\"gate\", or \"logits\" "
             "with granularity \"row\" and no router bias)", router);
    return false;
  }
  double frac = ir_attr_float(n, "drop_fraction", 0.0f);
  if (frac < 0 || frac >= 1) {
    ir_error(lc->cx->d, n, "mixc.moe drop_fraction %g must be in [0, 1)", frac);
    return false;
  }
  /* frac is a float: the small tolerance keeps floor(frac * rows) exact for
   * fractions such as 2/20 that round slightly below the true value. */
  p.ndrop = (int64_t)floor(frac * (double)p.rows + 1e-3);
  p.cap = ir_attr_int(n, "capacity", 0);
  if (p.cap < 0 || p.k < 1 || p.k > p.E || p.rows > INT32_MAX / (p.k > 0 ? p.k : 1)) {
    ir_error(lc->cx->d, n, "mixc.moe capacity %lld, k %lld or rows %lld out of range",
             (long long)p.cap, (long long)p.k, (long long)p.rows);
    return false;
  }
  int64_t need = mixc_moe_scratch_bytes(p.rows / p.group, p.group, p.d, p.h, p.E, p.k);
  if (!n->out[1] || ir_type_numel(&n->out[1]->type) != need)
    MIXC_BUG("mixc.moe scratch is not %lld bytes", (long long)need);
  p.residual = n->nin > 7;
  p.w1_packed = lower_gemm_pack_experts(lc, call, 3, p.E, p.d, p.h);
  p.w2_packed = lower_gemm_pack_experts(lc, call, 5, p.E, p.h, p.d);
  lower_set_params(lc, call, "mixc_k_moe_f32", &p, sizeof p);
  return true;
}

bool lower_mixc_soft_moe(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *phi = n->in[1], *w1 = n->in[2];
  if (x->type.dtype != IR_F32) {
    ir_error(lc->cx->d, n, "mixc.soft_moe supports f32 only");
    return false;
  }
  mixc_moe_soft_params p;
  memset(&p, 0, sizeof p);
  p.B = x->type.dims[0].v;
  p.m = x->type.dims[1].v;
  p.d = x->type.dims[2].v;
  p.n = w1->type.dims[0].v;
  p.h = w1->type.dims[2].v;
  p.p = ir_attr_int(n, "slots_per_expert", 1);
  p.eps = ir_attr_float(n, "epsilon", 0.0f);
  const char *act = ir_attr_str(n, "activation", "gelu_erf");
  p.act = act_code(act);
  if (p.act < 0) {
    ir_error(lc->cx->d, n, "mixc.soft_moe activation '%s' is not one of gelu_erf, gelu_tanh, "
             "relu, silu, identity", act);
    return false;
  }
  if (p.n * p.p != phi->type.dims[1].v) MIXC_BUG("mixc.soft_moe slots do not fit phi");
  int64_t need = mixc_moe_soft_scratch_bytes(p.B, p.m, p.d, p.n, p.p, p.h);
  if (!n->out[1] || ir_type_numel(&n->out[1]->type) != need)
    MIXC_BUG("mixc.soft_moe scratch is not %lld bytes", (long long)need);
  p.phi_packed = lower_gemm_pack_experts(lc, call, 1, 1, p.d, p.n * p.p);
  p.w1_packed = lower_gemm_pack_experts(lc, call, 2, p.n, p.d, p.h);
  p.w2_packed = lower_gemm_pack_experts(lc, call, 4, p.n, p.h, p.d);
  lower_set_params(lc, call, "mixc_k_moe_soft_f32", &p, sizeof p);
  return true;
}
