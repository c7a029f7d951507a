/* raise_ms_moe.c - the com.microsoft.MoE part of the raise-moe pass: each
 * com.microsoft.MoE node (ONNX Runtime's contrib MoE, MODELS.md "How these
 * models arrive as ONNX" 4) becomes one mixc.moe node with router "logits",
 * so that it runs on the fused MoE kernel (runtime/kernels/moe.c) like every
 * other routed MoE layer, with routing statistics.
 *
 * The contrib op takes the router logits (rows, E) itself, so nothing above
 * it is matched: the node maps one to one. Attributes: k -> k,
 * normalize_routing_weights -> normalize, activation_type relu / gelu (ONNX
 * Runtime's gelu is the tanh form) / silu / identity -> activation relu /
 * gelu_tanh / silu / identity. Weights: mixc.moe wants fc1 (E,d,h) and fc2
 * (E,h,d), the layout of older ONNX Runtime ("EHI": fc1 (E,H,I), fc2 (E,I,H)),
 * which is used as is. The newer layout ("EIH": fc1 (E,I,H), fc2 (E,H,I)) is
 * transposed per expert into new constants. The layout is told apart by the
 * shapes against the hidden size H; when H == I both readings fit and, as in
 * the fallback lowering (backend/lower_data.c lower_ms_moe), EHI is taken.
 *
 * Left unraised, with a near-miss warning naming the reason (the node then
 * runs on its own unfused kernel, mixc_k_ms_moe_f32, or fails to lower with
 * that fallback's diagnostic): use_sparse_mixer=1, gated experts (fc3), swiglu or
 * another activation, a dtype other than f32, shapes not static or not
 * fitting either layout, and EIH weights that are not constants.
 *
 * Requires: types inferred (com.microsoft.MoE's shape function has checked
 * the expert counts and the rows of router_probs). Establishes: no
 * com.microsoft.MoE node the fused kernel can run is left; output 0 of each
 * raised node is the old output value. */
#include "raise_moe.h"

#include <string.h>

static ir_value *in_or_null(const ir_node *n, int i) { return i < n->nin ? n->in[i] : NULL; }

/* v is f32 of the given rank with static dims */
static bool static_f32(const ir_value *v, int rank) {
  return v && v->type.dtype == IR_F32 && v->type.rank == rank && ir_type_static(&v->type);
}

static int64_t dim(const ir_value *v, int i) { return v->type.dims[i].v; }

/* w (E,a,b) as a new constant (E,b,a), named after w. */
static ir_value *transposed(ir_graph *g, const ir_value *w) {
  int64_t E = w->konst->dims[0], a = w->konst->dims[1], b = w->konst->dims[2];
  int64_t dims[3] = {E, b, a};
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, 3, dims);
  const float *src = w->konst->data;
  float *dst = t->data;
  for (int64_t e = 0; e < E; e++)
    for (int64_t i = 0; i < a; i++)
      for (int64_t j = 0; j < b; j++) dst[(e * b + j) * a + i] = src[(e * a + i) * b + j];
  return ir_const_new(g, ir_sprintf(g->arena, "%s.T", w->name), t);
}

/* Raises the com.microsoft.MoE node n, or fails (moe_fail) with the reason. */
static bool raise_ms(moe_match *m, ir_node *n) {
  ir_graph *g = m->cx->g;
  ir_value *x = n->in[0], *lg = n->in[1], *w1 = in_or_null(n, 2), *b1 = in_or_null(n, 3);
  ir_value *w2 = in_or_null(n, 4), *b2 = in_or_null(n, 5);
  if (in_or_null(n, 6) || in_or_null(n, 7))
    return moe_fail(m, n, "gated experts (fc3_experts_weights) have no mixc.moe form");
  if (ir_attr_int(n, "use_sparse_mixer", 0) != 0)
    return moe_fail(m, n, "use_sparse_mixer=1 (SparseMixer routing) has no mixc.moe form");
  const char *at = ir_attr_str(n, "activation_type", "relu");
  const char *act = !strcmp(at, "relu")       ? "relu"
                    : !strcmp(at, "gelu")     ? "gelu_tanh"
                    : !strcmp(at, "silu")     ? "silu"
                    : !strcmp(at, "identity") ? "identity"
                                              : NULL;
  if (!act)
    return moe_fail(m, n, "activation_type \"%s\" is not relu, gelu, silu or identity", at);
  if (!n->out[0]) return moe_fail(m, n, "the output is omitted");
  if (!x || x->type.dtype != IR_F32 || (x->type.rank != 2 && x->type.rank != 3) ||
      !ir_dim_static(x->type.dims[x->type.rank - 1]))
    return moe_fail(m, n, "input must be f32 (rows, hidden) or (batch, seq, hidden) with a "
                    "static hidden size");
  int64_t H = dim(x, x->type.rank - 1);
  if (!lg || lg->type.dtype != IR_F32 || lg->type.rank != 2 || !ir_dim_static(lg->type.dims[1]))
    return moe_fail(m, n, "router_probs must be f32 (rows, experts) with a static expert count");
  int64_t E = dim(lg, 1);
  if (!static_f32(w1, 3) || !static_f32(w2, 3) || dim(w1, 0) != E || dim(w2, 0) != E)
    return moe_fail(m, n, "expert weights must be static f32 (%lld, ., .)", (long long)E);
  int64_t a1 = dim(w1, 1), c1 = dim(w1, 2), a2 = dim(w2, 1), c2 = dim(w2, 2);
  bool ehi = a1 == H && c2 == H && c1 == a2, eih = c1 == H && a2 == H && a1 == c2;
  if (!ehi && !eih)
    return moe_fail(m, n, "expert weights (E,%lld,%lld) and (E,%lld,%lld) fit neither layout for "
                    "hidden size %lld", (long long)a1, (long long)c1, (long long)a2, (long long)c2,
                    (long long)H);
  int64_t I = ehi ? c1 : a1;
  if (!ehi && (!w1->konst || !w2->konst || w1->konst->dtype != IR_F32 ||
               w2->konst->dtype != IR_F32))
    return moe_fail(m, n, "expert weights in the (E,inter,hidden) layout are not constants, so "
                    "they cannot be transposed to mixc.moe's (E,hidden,inter)");
  if ((b1 && !(static_f32(b1, 2) && dim(b1, 0) == E && dim(b1, 1) == I)) ||
      (b2 && !(static_f32(b2, 2) && dim(b2, 0) == E && dim(b2, 1) == H)))
    return moe_fail(m, n, "expert biases must be static f32 (%lld, %lld) and (%lld, %lld)",
                    (long long)E, (long long)I, (long long)E, (long long)H);
  int64_t k = ir_attr_int(n, "k", 1);
  if (k < 1 || k > E) return moe_fail(m, n, "k=%lld is not in 1..%lld", (long long)k, (long long)E);

  if (!ehi) w1 = transposed(g, w1), w2 = transposed(g, w2);
  ir_node *f = ir_node_new(g, IR_OP_MixcMoe, n->name, 7, 2);
  f->index = n->index;
  ir_value *ins[7] = {x, lg, NULL, w1, b1, w2, b2};
  memcpy(f->in, ins, sizeof ins);
  ir_attr_add(g, f, "k", IR_ATTR_INT)->i = k;
  ir_attr *a = ir_attr_add(g, f, "activation", IR_ATTR_STRING);
  a->s = act;
  a->slen = strlen(act);
  ir_attr_add(g, f, "normalize", IR_ATTR_INT)->i = ir_attr_int(n, "normalize_routing_weights", 0) != 0;
  a = ir_attr_add(g, f, "router", IR_ATTR_STRING);
  a->s = "logits";
  a->slen = strlen(a->s);
  m->end = n;
  m->out = n->out[0];
  moe_install(m, f);
  return true;
}

bool moe_raise_ms(ir_ctx *cx) {
  ir_graph *g = cx->g;
  moe_match *m = ir_alloc(cx->scratch, sizeof *m);
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->op != IR_OP_MsMoE) continue;
    memset(m, 0, sizeof *m);
    m->cx = cx;
    if (raise_ms(m, n)) {
      changed = true;
      continue;
    }
    ir_warning(cx->d, m->fail_node, "not raised to mixc.moe: %s; it stays com.microsoft.MoE "
               "(unfused)", m->why);
  }
  return changed;
}
