/* fuse_elementwise.c - the fuse-elementwise pass: a chain of f32 elementwise
 * ops, each feeding only the next, becomes one mixc.elementwise node, whose
 * kernel runs the whole chain over cache-sized pieces of the tensor: the data
 * crosses memory once instead of once per op, and every element gets the same
 * bits as from the separate ops (the kernel reuses their row functions).
 *
 * A node joins the group of its only user when both are ops a program may hold
 * (ir_ew_op_arity: attribute-free unary math, Add/Sub/Mul/Div/Max/Min) with f32
 * outputs, its output has the user's output shape and is no graph output.
 * Every input a member reads from outside the group must have the output's
 * shape or one element (a broadcast scalar); a member that breaks this is not
 * fused. A group is a tree whose root is its last node; groups of one node,
 * and groups that would need more inputs than mixc.elementwise takes (8, in
 * ops.def) or more than 16 steps, stay as they are.
 *
 * Requires: topological order, types inferred; after fuse-epilogue (an
 * activation or residual that can go into a GEMM goes there first).
 * Establishes: no two fusable ops in a row remain; topological order. */
#include "match.h"

#include <string.h>

#include "ir/infer.h"

/* n may be a member of a group whose output has n's output type. */
static bool member_ok(const ir_node *n) {
  if (n->dead || !ir_ew_op_arity(n->op) || n->nout != 1 || !n->out[0] ||
      n->out[0]->type.dtype != IR_F32 || n->out[0]->type.rank < 0)
    return false;
  for (int i = 0; i < n->nin; i++) {
    const ir_type *t = n->in[i] ? &n->in[i]->type : NULL;
    if (!t || t->dtype != IR_F32) return false;
    if (!ir_ew_one_element(t) && !pass_same_shape(t, &n->out[0]->type)) return false;
  }
  return true;
}

/* Replaces the group of members pos[0..n) (topological order, the root last)
 * by one mixc.elementwise; false (nothing changed) if it needs too much. */
static bool fuse_group(ir_ctx *cx, const int *pos, int n) {
  ir_graph *g = cx->g;
  ir_node *root = g->nodes[pos[n - 1]];
  const int max_in = ir_ops[IR_OP_MixcElementwise].max_in; /* ops.def */
  ir_value *in[2 * IR_EW_MAX_STEPS];                         /* every operand of every step */
  int nin = 0;
  char prog[IR_EW_MAX_STEPS * 40], *w = prog;
  if (n > IR_EW_MAX_STEPS) return false;
  /* operands as text: xI for inputs, tJ for the value of member J */
  for (int j = 0; j < n; j++) {
    const ir_node *m = g->nodes[pos[j]];
    w += sprintf(w, "%s%s", j ? "; " : "", ir_ops[m->op].name);
    for (int i = 0; i < m->nin; i++) {
      const ir_value *v = m->in[i];
      int step = -1;
      for (int q = 0; q < j; q++)
        if (g->nodes[pos[q]]->out[0] == v) step = q;
      if (step >= 0) {
        w += sprintf(w, " t%d", step);
        continue;
      }
      int k = 0;
      while (k < nin && in[k] != v) k++;
      if (k == nin) {
        if (nin == max_in) return false;
        in[nin++] = (ir_value *)v;
      }
      w += sprintf(w, " x%d", k);
    }
  }
  ir_node *f = ir_node_new(g, IR_OP_MixcElementwise, root->name, nin, 1);
  f->index = root->index;
  for (int i = 0; i < nin; i++) f->in[i] = in[i];
  ir_attr *a = ir_attr_add(g, f, "program", IR_ATTR_STRING);
  a->s = ir_strdup(g->arena, prog);
  a->slen = strlen(prog);
  f->out[0] = root->out[0]; /* the root's value, name and users */
  f->out[0]->def = f;
  f->out[0]->def_index = 0;
  for (int j = 0; j < n; j++) g->nodes[pos[j]]->dead = true;
  ir_node_append(g, f);
  pass_reinfer(cx, f);
  return true;
}

bool pass_fuse_elementwise(ir_ctx *cx) {
  ir_graph *g = cx->g;
  int nn = g->nnodes;
  if (!nn) return true;
  /* root[i]: the position of the last node of i's group; from the end, so a
   * node's only user already knows its group */
  int *root = ir_alloc(cx->scratch, sizeof(int) * (size_t)nn);
  int *size = ir_alloc(cx->scratch, sizeof(int) * (size_t)nn);
  for (int i = nn - 1; i >= 0; i--) {
    ir_node *n = g->nodes[i];
    root[i] = i, size[i] = 0;
    if (!member_ok(n)) continue;
    size[i] = 1;
    ir_node *u = pass_only_user(g, n->out[0]); /* NULL for a graph output */
    int up = u ? pass_node_pos(g, u) : -1;
    if (up > i && size[up] && pass_same_shape(&n->out[0]->type, &u->out[0]->type)) {
      root[i] = root[up];
      size[root[i]]++;
    }
  }
  bool changed = false;
  int *pos = ir_alloc(cx->scratch, sizeof(int) * (size_t)nn);
  for (int r = 0; r < nn; r++) {
    if (root[r] != r || size[r] < 2) continue;
    int n = 0;
    for (int i = 0; i <= r; i++)
      if (root[i] == r && size[i]) pos[n++] = i;
    changed |= fuse_group(cx, pos, n);
  }
  if (!changed) return true;
  ir_graph_compact(g);
  return ir_graph_toposort(g, cx->d);
}
