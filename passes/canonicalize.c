/* canonicalize.c - removes ops that do nothing at inference: Identity, and
 * Dropout in inference mode (no training_mode input, or a constant false one)
 * whose mask output is unused.
 *
 * Requires: types inferred. Establishes: no Identity; no removable Dropout.
 * When the removed node's output is a graph output, the output keeps its name
 * by renaming nothing: the graph output list points at the node's input
 * instead, except when that input is itself a graph input or output (then the
 * node stays, since ONNX outputs must be distinct values with their names). */
#include "match.h"

static bool dropout_is_noop(const ir_graph *g, const ir_node *n) {
  if (n->nout > 1 && n->out[1] && ir_count_uses(g, n->out[1])) return false;
  if (n->nin > 2 && n->in[2]) { /* training_mode */
    const ir_tensor *t = n->in[2]->konst;
    if (!t || t->numel != 1 || ir_tensor_get_i(t, 0)) return false;
  }
  if (n->opset < 7 && !ir_attr_int(n, "is_test", 0)) return false;
  return true;
}

bool pass_canonicalize(ir_ctx *cx) {
  ir_graph *g = cx->g;
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    bool noop = n->op == IR_OP_Identity || (n->op == IR_OP_Dropout && dropout_is_noop(g, n));
    if (!noop || !n->in[0]) continue;
    ir_value *src = n->in[0], *dst = n->out[0];
    if (pass_is_graph_output(g, dst) && (src->is_input || src->konst || pass_is_graph_output(g, src)))
      continue;
    if (pass_is_graph_output(g, dst)) { /* keep the user's output name on the value */
      const char *name = dst->name;
      dst->name = src->name;
      src->name = name;
    }
    ir_replace_uses(g, dst, src);
    n->dead = true;
    changed = true;
  }
  if (changed) ir_graph_compact(g);
  return true;
}
