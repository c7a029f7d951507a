/* fold.c - constant folding, aimed at the shape subgraphs PyTorch exports
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape and the like): a node
 * whose inputs are all constants becomes a constant, and so do Shape/Size of a
 * statically shaped value and Gather/Slice of the static dims of a Shape.
 * Types are re-inferred as constants appear, so a Reshape whose shape folded
 * gets its exact output type.
 *
 * Requires: topological order, types inferred. Establishes: every type
 * re-inferred in order (so refinements propagate in one pass); no foldable node
 * whose result is at most FOLD_MAX_BYTES; folded values keep their names and
 * become constants (listed in g->inits). Dead producers are left for dce. */
#include "pass.h"

enum { FOLD_MAX_BYTES = 4 << 20 };

/* A Shape value as a constant, with -1 for dims that are not static. */
static ir_tensor *partial_shape(ir_ctx *cx, const ir_node *shape) {
  const ir_type *t = &shape->in[0]->type;
  if (t->rank < 0) return NULL;
  int64_t r = t->rank, s = ir_attr_int(shape, "start", 0), e = ir_attr_int(shape, "end", r);
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < s ? s : e > r ? r : e;
  int64_t d[IR_MAX_RANK];
  for (int64_t i = s; i < e; i++) d[i - s] = ir_dim_static(t->dims[i]) ? t->dims[i].v : -1;
  return ir_tensor_vec_i64(cx->scratch, (int)(e - s), d);
}

static bool try_fold(ir_ctx *cx, ir_node *n) {
  if (!n->out[0] || !ir_type_static(&n->out[0]->type)) return false;
  int64_t bytes = ir_type_numel(&n->out[0]->type) * (int64_t)ir_dtype_size(n->out[0]->type.dtype);
  if (bytes > FOLD_MAX_BYTES) return false;
  ir_tensor *out[1] = {NULL};
  /* Gather/Slice over a Shape whose input has symbolic dims: fold when the
   * selected dims are all static. */
  ir_value *src = n->in[0];
  if ((n->op == IR_OP_Gather || n->op == IR_OP_Slice) && src && !src->konst && src->def &&
      src->def->op == IR_OP_Shape) {
    ir_tensor *ps = partial_shape(cx, src->def);
    if (!ps) return false;
    src->konst = ps;
    bool ok = ir_eval(cx, n, out);
    src->konst = NULL;
    if (!ok) return false;
    for (int64_t i = 0; i < out[0]->numel; i++)
      if (ir_tensor_get_i(out[0], i) < 0) return false;
  } else if (!ir_eval(cx, n, out)) {
    return false;
  }
  ir_value_make_const(cx->g, n->out[0], out[0]);
  n->dead = true;
  return true;
}

bool pass_fold(ir_ctx *cx) {
  ir_graph *g = cx->g;
  int errors = cx->d->nerrors;
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    /* Constants folded upstream refine this node's type (a Reshape whose shape
     * just folded), and refined types flow on to every consumer: re-infer all. */
    if (!ir_infer_node(cx, n)) continue;
    changed |= try_fold(cx, n);
  }
  if (changed) ir_graph_compact(g);
  return cx->d->nerrors == errors;
}
