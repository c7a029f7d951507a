/* raise_layernorm.c - the raise-layernorm pass: LayerNorm written out in
 * elementary ops (how PyTorch exports nn.LayerNorm before opset 17, its
 * default opset 14 included) becomes one LayerNormalization node, one pass
 * over the rows instead of eight:
 *
 *   m = ReduceMean(X) {axes = [-1]}         d = Sub(X, m)
 *   v = ReduceMean(Pow(d, 2)) {axes = [-1]} (or Mul(d, d))
 *   y = Div(d, Sqrt(Add(v, eps)))
 *   y = Mul(y, gamma)                        optional, either order
 *   y = Add(y, beta)                         optional, either order
 *     -> LayerNormalization(X, gamma, beta) {axis = -1, epsilon = eps}
 *
 * The reductions are over the last axis only (as the axes attribute, or the
 * axes input from opset 18), with keepdims; eps is a scalar constant; gamma
 * and beta are constants with one element per entry of X's last dim (any
 * leading 1 dims; they become [C] views). Without a Mul, gamma is a new
 * constant of ones; without an Add, there is no bias. Only f32 X is raised.
 * The math is the same: LayerNormalization computes (x - mean) /
 * sqrt(var + eps) * gamma + beta with the population variance, in f32.
 *
 * Every intermediate value has exactly the users of the pattern (d: the
 * square and the Div; the others one) and is no graph output; X may have any
 * number of users. The LayerNormalization takes the place, ONNX name and
 * index of the Div and gives the last matched value (its name, its users).
 *
 * Requires: topological order, types inferred, constants folded. Establishes:
 * no decomposed LayerNorm of this form is left; dead nodes are gone. */
#include "match.h"

#include <string.h>

/* n is a ReduceMean over the last axis of its input only, keeping dims. */
static bool mean_last(const ir_node *n) {
  int r = n->in[0]->type.rank;
  return ir_attr_int(n, "keepdims", 1) == 1 && r >= 1 && pass_axes_are(n, r, r - 1);
}

/* The operand of binary node n that is not `x`, when the other one is x. */
static ir_value *other(const ir_node *n, const ir_value *x) {
  return n->in[0] == x ? n->in[1] : n->in[1] == x ? n->in[0] : NULL;
}

/* c is an f32 constant of C elements, all its dims but the last 1: its [C] view. */
static ir_value *per_channel(ir_graph *g, ir_value *c, int64_t C, const char *suffix) {
  if (!c || !c->konst || c->konst->dtype != IR_F32 || c->konst->numel != C || c->konst->rank < 1 ||
      c->konst->dims[c->konst->rank - 1] != C)
    return NULL;
  return c->konst->rank == 1 ? c : pass_const_view(g, c, suffix, 1, &C);
}

/* The match of one decomposed LayerNorm whose Div is `dv`, rewritten. */
static bool raise(ir_ctx *cx, ir_node *dv) {
  ir_graph *g = cx->g;
  ir_value *d = dv->in[0];
  ir_node *sq = pass_def(dv->in[1], IR_OP_Sqrt), *sub = pass_def(d, IR_OP_Sub);
  ir_node *add = sq ? pass_def(sq->in[0], IR_OP_Add) : NULL;
  if (!sub || !add || sub->in[0]->type.dtype != IR_F32) return false;
  ir_value *x = sub->in[0];
  ir_node *m = pass_def(sub->in[1], IR_OP_ReduceMean);
  if (!m || m->in[0] != x || !mean_last(m)) return false;
  double eps;
  ir_node *var = NULL;
  for (int i = 0; i < 2 && !var; i++)
    if (pass_const_scalar(add->in[1 - i], &eps)) var = pass_def(add->in[i], IR_OP_ReduceMean);
  if (!var || !mean_last(var)) return false;
  ir_node *p = pass_def(var->in[0], IR_OP_Pow);
  double two;
  if (p ? p->in[0] != d || !pass_const_scalar(p->in[1], &two) || two != 2.0
        : !(p = pass_def(var->in[0], IR_OP_Mul)) || p->in[0] != d || p->in[1] != d)
    return false;
  /* intermediates used only inside the pattern */
  if (ir_count_uses(g, d) != (p->op == IR_OP_Mul ? 3 : 2)) return false;
  const ir_node *once[] = {m, p, var, add, sq};
  for (int i = 0; i < 5; i++)
    if (ir_count_uses(g, once[i]->out[0]) != 1) return false;
  const ir_type *xt = &x->type;
  if (xt->rank < 1 || !ir_dim_static(xt->dims[xt->rank - 1])) return false;
  int64_t C = xt->dims[xt->rank - 1].v;

  ir_node *last = dv, *mul = NULL, *badd = NULL;
  ir_value *gamma = NULL, *beta = NULL;
  ir_node *u = pass_only_user(g, dv->out[0]);
  if (u && u->op == IR_OP_Mul && (gamma = per_channel(g, other(u, dv->out[0]), C, "scale"))) {
    mul = last = u;
    u = pass_only_user(g, u->out[0]);
  }
  if (u && u->op == IR_OP_Add && (beta = per_channel(g, other(u, last->out[0]), C, "bias")))
    badd = last = u;
  if (!pass_same_shape(&last->out[0]->type, xt)) return false; /* nothing broadcast x up */
  if (!gamma) {
    ir_tensor *t = ir_tensor_new(g->arena, IR_F32, 1, &C);
    for (int64_t i = 0; i < C; i++) ((float *)t->data)[i] = 1.0f;
    gamma = ir_const_new(g, ir_sprintf(g->arena, "%s.scale", dv->name), t);
    t->name = gamma->name;
  }

  ir_node *ln = ir_node_new(g, IR_OP_LayerNormalization, dv->name, beta ? 3 : 2, 1);
  ln->index = dv->index;
  ln->in[0] = x, ln->in[1] = gamma;
  if (beta) ln->in[2] = beta;
  ir_attr_add(g, ln, "axis", IR_ATTR_INT)->i = -1;
  ir_attr_add(g, ln, "epsilon", IR_ATTR_FLOAT)->f = (float)eps;
  ln->out[0] = last->out[0];
  ln->out[0]->def = ln;
  ln->out[0]->def_index = 0;
  m->dead = sub->dead = p->dead = var->dead = add->dead = sq->dead = dv->dead = true;
  if (mul) mul->dead = true;
  if (badd) badd->dead = true;
  g->nodes[pass_node_pos(g, last)] = ln; /* the last node's place: X, gamma, beta come before */
  pass_reinfer(cx, ln);
  return true;
}

bool pass_raise_layernorm(ir_ctx *cx) {
  ir_graph *g = cx->g;
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (!n->dead && n->op == IR_OP_Div) changed |= raise(cx, n);
  }
  if (changed) ir_graph_compact(g);
  return true;
}
