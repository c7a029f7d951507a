/* match.c - the helpers of match.h, shared by the peephole passes.
 *
 * Requires: pass.h's invariants. */
#include "match.h"

#include "ir/infer.h"

#include <math.h>
#include <string.h>

bool pass_is_graph_output(const ir_graph *g, const ir_value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  return false;
}

ir_node *pass_def(const ir_value *v, ir_op op) {
  return v && !v->konst && v->def && !v->def->dead && v->def->op == op ? v->def : NULL;
}

ir_node *pass_only_user(const ir_graph *g, const ir_value *v) {
  ir_node *user = NULL;
  int uses = 0;
  if (pass_is_graph_output(g, v)) return NULL;
  for (int i = 0; i < g->nnodes && uses < 2; i++) {
    ir_node *n = g->nodes[i];
    if (n->dead) continue;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == v) uses++, user = n;
  }
  return uses == 1 ? user : NULL;
}

void pass_make_mixc_matmul(ir_graph *g, ir_node *n) {
  n->op = IR_OP_MixcMatmul;
  n->opset = (int)ir_graph_opset(g, ir_domain_name(IR_DOM_MIXC));
  n->nattr = 0;
  n->attrs = NULL;
}

bool pass_ints_are(const ir_node *n, const char *name, int cnt, const int64_t *v, int64_t dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  if (!a) return true;
  if (a->kind != IR_ATTR_INTS || a->n != cnt) return false;
  for (int i = 0; i < cnt; i++)
    if (a->ints[i] != (v ? v[i] : dflt)) return false;
  return true;
}

bool pass_axes_are(const ir_node *n, int rank, int64_t want) {
  int64_t ax[4];
  int na = 0;
  if (n->nin > 1 && n->in[1]) {
    if (!ir_const_ints(n->in[1], ax, 4, &na)) return false;
  } else {
    const ir_attr *a = ir_attr_find(n, "axes");
    if (!a || a->kind != IR_ATTR_INTS || a->n > 4) return false;
    na = a->n;
    for (int i = 0; i < na; i++) ax[i] = a->ints[i];
  }
  return na == 1 && ir_norm_axis(ax[0], rank) == want;
}

bool pass_const_scalar(const ir_value *v, double *f) {
  if (!v || !v->konst || v->konst->numel != 1 || !ir_dtype_is_float(v->konst->dtype) ||
      !v->konst->data)
    return false;
  *f = ir_tensor_get_f(v->konst, 0);
  return true;
}

bool pass_near(double v, double want) { return fabs(v - want) <= 1e-6 * fabs(want); }

bool pass_is_swap_last2(const ir_node *n) {
  if (!n || n->op != IR_OP_Transpose || !n->in[0]) return false;
  int r = n->in[0]->type.rank;
  if (r < 2) return false;
  const ir_attr *a = ir_attr_find(n, "perm");
  if (!a) return r == 2; /* default: reversed */
  if (a->kind != IR_ATTR_INTS || a->n != r) return false;
  for (int i = 0; i < r - 2; i++)
    if (a->ints[i] != i) return false;
  return a->ints[r - 2] == r - 1 && a->ints[r - 1] == r - 2;
}

bool pass_same_shape(const ir_type *a, const ir_type *b) {
  if (a->rank < 0 || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++) {
    ir_dim x = a->dims[i], y = b->dims[i];
    if (x.sym || y.sym) {
      if (!x.sym || !y.sym || strcmp(x.sym, y.sym)) return false;
    } else if (x.v < 0 || x.v != y.v) {
      return false;
    }
  }
  return true;
}

ir_value *pass_const_view(ir_graph *g, const ir_value *c, const char *suffix, int rank,
                          const int64_t *dims) {
  const ir_tensor *src = c->konst;
  MIXC_ASSERT(src && rank >= 0 && rank <= IR_MAX_RANK);
  ir_tensor *t = ir_alloc(g->arena, sizeof *t);
  *t = *src;
  t->rank = rank;
  t->dims = ir_alloc(g->arena, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  if (rank) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  if (ir_numel(rank, dims) != src->numel) MIXC_BUG("view of %s changes its size", c->name);
  ir_value *v = ir_const_new(g, ir_sprintf(g->arena, "%s.%s", c->name, suffix), t);
  t->name = v->name;
  return v;
}

void pass_set_inputs(ir_graph *g, ir_node *n, int nin, ir_value *const *in) {
  ir_value **a = ir_alloc(g->arena, sizeof(ir_value *) * (size_t)(nin ? nin : 1));
  for (int i = 0; i < nin; i++) a[i] = in[i];
  n->in = a;
  n->nin = nin;
}

void pass_reinfer(ir_ctx *cx, ir_node *n) {
  for (int i = 0; i < n->nout; i++)
    if (n->out[i]) n->out[i]->type = (ir_type){IR_UNDEF, -1, NULL};
  if (!ir_infer_node(cx, n))
    MIXC_BUG("%s rewritten by a pass does not infer", ir_op_fullname(n->op));
}

int pass_node_pos(const ir_graph *g, const ir_node *n) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i] == n) return i;
  return -1;
}

void pass_move_before(ir_graph *g, ir_node *n, const ir_node *anchor) {
  int from = pass_node_pos(g, n), to = pass_node_pos(g, anchor);
  MIXC_ASSERT(from >= 0 && to >= 0 && from != to);
  if (from < to) {
    memmove(&g->nodes[from], &g->nodes[from + 1], sizeof(ir_node *) * (size_t)(to - 1 - from));
    g->nodes[to - 1] = n;
  } else {
    memmove(&g->nodes[to + 1], &g->nodes[to], sizeof(ir_node *) * (size_t)(from - to));
    g->nodes[to] = n;
  }
}
