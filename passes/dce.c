/* dce.c - dead-code elimination: drops nodes none of whose outputs reach a
 * graph output, then constants and values nobody uses.
 *
 * Requires: nodes in topological order. Establishes: every node has at least
 * one output that is used. No node of the op table has side effects. */
#include "pass.h"

bool pass_dce(ir_ctx *cx) {
  ir_graph *g = cx->g;
  for (int i = 0; i < g->nvalues; i++) g->values[i]->id = 0; /* id = live */
  for (int i = 0; i < g->noutputs; i++) g->outputs[i]->id = 1;
  for (int i = g->nnodes - 1; i >= 0; i--) { /* reverse topological order */
    ir_node *n = g->nodes[i];
    bool live = false;
    for (int j = 0; j < n->nout; j++) live |= n->out[j] && n->out[j]->id;
    n->dead = !live;
    if (live)
      for (int j = 0; j < n->nin; j++)
        if (n->in[j]) n->in[j]->id = 1;
  }
  ir_graph_compact(g);
  return true;
}
