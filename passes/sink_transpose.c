/* sink_transpose.c - the sink-transpose pass: token mixing as a left
 * multiplication. An MLP-Mixer exports token mixing as
 *
 *   Transpose(X) -> MatMul(., W1) -> Add(b1) -> GELU -> MatMul(., W2) -> Add(b2) -> Transpose
 *
 * where each Transpose swaps the last two dims (S and C). With T that swap,
 * MatMul(T(X), W) = T(W^T X), so the pass rewrites the chain in X's layout:
 *
 *   mixc.matmul(W1, X, b1) {trans_a=1, bias_axis=1} -> GELU
 *     -> mixc.matmul(W2, ., b2) {trans_a=1, bias_axis=1}
 *
 * and both Transposes are gone: the left multiplication reads W^T through
 * strides, and nothing is materialized. The residual Add that follows then
 * adds two (B,S,C) values directly.
 *
 * Starting at a Transpose T1 that swaps the last two dims, the pass follows
 * the only user of each value ("pending" values: the real one is T of what
 * the rewritten graph computes) through:
 *   - MatMul(pending, W), W a constant 2-D f32/f64 matrix: becomes
 *     mixc.matmul(W, P) {trans_a=1};
 *   - Add(pending, b) (either order) right after such a MatMul, b a 1-D
 *     constant as long as the last dim: becomes that mixc.matmul's bias with
 *     bias_axis=1;
 *   - elementwise unary ops (Gelu, Relu, Sigmoid, Erf, Cast, Clip with
 *     scalar bounds, ...): unchanged;
 *   - elementwise binary ops (Add, Sub, Mul, Div, Pow, Max, Min) with a
 *     scalar or 1-D constant other operand that does not grow the shape: the
 *     1-D constant is given as a [N,1] view (same data), a scalar unchanged;
 * and rewrites only when the walk ends at a Transpose T2 that swaps the last
 * two dims again: T(T(Y)) = Y, so T2's users read the chain's last value.
 * Every value on the way (T1's output included) must have exactly one user
 * and be no graph output; otherwise nothing changes. The math is the same,
 * only the layout of the intermediates changes (their types are re-inferred).
 *
 * Requires: topological order, types inferred, constants folded; best after
 * raise-gelu (a decomposed GELU is several nodes, each of which it follows,
 * but a Gelu node is one). Establishes: no Transpose pair of such a chain is
 * left; nodes keep their ONNX names and indices; dead nodes are gone. */
#include "match.h"

#include <string.h>

enum { CHAIN_MAX = 64 };

typedef enum { STEP_MATMUL, STEP_BIAS, STEP_UNARY, STEP_BINARY } step_kind;

typedef struct step {
  step_kind kind;
  ir_node *n;
  int arg;        /* STEP_BIAS, STEP_BINARY: the input index of the constant */
} step;

static bool is_float(ir_dtype t) { return t == IR_F32 || t == IR_F64; }

static bool elementwise_unary(ir_op op) {
  switch (op) {
  IR_CASES_UNARY_MATH:
  case IR_OP_Identity: case IR_OP_Cast: case IR_OP_IsNaN: case IR_OP_IsInf: case IR_OP_Clip:
    return true;
  default:
    return false;
  }
}

static bool elementwise_binary(ir_op op) {
  switch (op) {
  case IR_OP_Add: case IR_OP_Sub: case IR_OP_Mul: case IR_OP_Div: case IR_OP_Pow:
  case IR_OP_Max: case IR_OP_Min:
    return true;
  default:
    return false;
  }
}

static bool scalar_const(const ir_value *v) { return v && v->konst && v->konst->numel == 1; }

/* the one output of u, rank and dims those of cur */
static bool keeps_shape(const ir_node *u, const ir_value *cur) {
  return u->nout == 1 && u->out[0] && pass_same_shape(&u->out[0]->type, &cur->type);
}

/* One step from the pending value cur into its only user u; false: stop. */
static bool classify(const ir_node *u, const ir_value *cur, const step *prev, step *s) {
  s->n = (ir_node *)u;
  if (u->op == IR_OP_MatMul && u->in[0] == cur && u->in[1] != cur) {
    const ir_value *w = u->in[1];
    if (!w->konst || w->type.rank != 2 || !is_float(cur->type.dtype)) return false;
    s->kind = STEP_MATMUL;
    return true;
  }
  if (elementwise_unary(u->op) && u->in[0] == cur && keeps_shape(u, cur)) {
    for (int i = 1; i < u->nin; i++) /* Clip's bounds */
      if (u->in[i] && !scalar_const(u->in[i])) return false;
    s->kind = STEP_UNARY;
    return true;
  }
  if (elementwise_binary(u->op) && u->nin == 2 && keeps_shape(u, cur)) {
    int ci = u->in[0] == cur ? 1 : u->in[1] == cur ? 0 : -1;
    if (ci < 0) return false;
    const ir_value *c = u->in[ci];
    if (!c->konst) return false;
    s->arg = ci;
    if (scalar_const(c)) {
      s->kind = STEP_BINARY;
      return true;
    }
    int r = cur->type.rank;
    ir_dim last = cur->type.dims[r - 1];
    if (c->konst->rank != 1 || !ir_dim_static(last) || c->konst->dims[0] != last.v) return false;
    /* a bias right after the MatMul goes into it */
    bool bias = u->op == IR_OP_Add && prev && prev->kind == STEP_MATMUL &&
                c->type.dtype == cur->type.dtype;
    s->kind = bias ? STEP_BIAS : STEP_BINARY;
    return true;
  }
  return false;
}

/* The chain from T1 to a cancelling Transpose; false if there is none. */
static bool walk(const ir_graph *g, ir_node *t1, step *chain, int *nsteps, ir_node **t2) {
  ir_value *cur = t1->out[0];
  int k = 0;
  for (;;) {
    ir_node *u = pass_only_user(g, cur);
    if (!u) return false;
    if (pass_is_swap_last2(u)) {
      *t2 = u;
      *nsteps = k;
      return true;
    }
    if (k == CHAIN_MAX || !classify(u, cur, k ? &chain[k - 1] : NULL, &chain[k])) return false;
    cur = u->out[0];
    k++;
  }
}

static void rewrite(ir_ctx *cx, ir_node *t1, step *chain, int nsteps, ir_node *t2) {
  ir_graph *g = cx->g;
  ir_value *x = t1->in[0];
  ir_value *p = x;   /* the chain value so far, in X's layout */
  ir_node *mm = NULL; /* the last mixc.matmul made */
  for (int k = 0; k < nsteps; k++) {
    ir_node *u = chain[k].n;
    ir_value *pending = k ? chain[k - 1].n->out[0] : t1->out[0];
    switch (chain[k].kind) {
    case STEP_MATMUL: {
      ir_value *in[2] = {u->in[1], p};
      pass_set_inputs(g, u, 2, in);
      pass_make_mixc_matmul(g, u);
      ir_attr_add(g, u, "trans_a", IR_ATTR_INT)->i = 1;
      pass_reinfer(cx, u);
      mm = u;
      p = u->out[0];
      break;
    }
    case STEP_BIAS: {
      ir_value *in[3] = {mm->in[0], mm->in[1], u->in[chain[k].arg]};
      pass_set_inputs(g, mm, 3, in);
      ir_attr_add(g, mm, "bias_axis", IR_ATTR_INT)->i = 1;
      mm->out[0] = u->out[0]; /* the Add's value, name and users */
      mm->out[0]->def = mm;
      mm->out[0]->def_index = 0;
      u->dead = true;
      pass_reinfer(cx, mm);
      p = mm->out[0];
      break;
    }
    case STEP_UNARY:
    case STEP_BINARY:
      for (int i = 0; i < u->nin; i++)
        if (u->in[i] == pending) u->in[i] = p;
      if (chain[k].kind == STEP_BINARY) {
        ir_value *c = u->in[chain[k].arg];
        if (c->konst->rank == 1) {
          int64_t col[2] = {c->konst->dims[0], 1};
          u->in[chain[k].arg] = pass_const_view(g, c, "col", 2, col);
        }
      }
      pass_reinfer(cx, u);
      p = u->out[0];
      break;
    }
  }
  /* T2(pending) = p: T2's users read p; T2's output name stays the user's */
  ir_value *y = t2->out[0];
  if (pass_is_graph_output(g, y)) {
    const char *name = y->name;
    y->name = p->name;
    p->name = name;
  }
  ir_replace_uses(g, y, p);
  t1->dead = true;
  t2->dead = true;
}

bool pass_sink_transpose(ir_ctx *cx) {
  ir_graph *g = cx->g;
  step *chain = ir_alloc(cx->scratch, sizeof(step) * CHAIN_MAX);
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *t1 = g->nodes[i];
    if (t1->dead || !pass_is_swap_last2(t1)) continue;
    int nsteps;
    ir_node *t2;
    if (!walk(g, t1, chain, &nsteps, &t2)) continue;
    ir_value *x = t1->in[0];
    /* T(T(x)) as a graph output, x an input or constant: a copy must stay */
    if (!nsteps && pass_is_graph_output(g, t2->out[0]) &&
        (x->is_input || x->konst || pass_is_graph_output(g, x)))
      continue;
    rewrite(cx, t1, chain, nsteps, t2);
    changed = true;
  }
  if (changed) ir_graph_compact(g);
  return true;
}
