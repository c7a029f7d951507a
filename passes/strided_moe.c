/* strided_moe.c - the strided-moe pass: token-mixing MoE routes the rows of
 * the transposed activation (MODELS.md section 2, `X + T(MoE_S(T(LN(X))))`),
 * and exports write it, after raise-moe, as
 *
 *   x (B,L,T) -> Transpose{0,2,1} -> (B,T,L) [-> Reshape (B*T,L)] -> mixc.moe
 *     -> (B*T,L) [-> Reshape (B,T,L)] -> Transpose{0,2,1} -> (B,L,T)
 *
 * Both Transposes are copies. The pass gives the mixc.moe x itself and the
 * last Transpose's output value, with rows_transposed = 1: the kernel then
 * routes the B*T rows x[b,:,c] (row b*T + c, exactly the rows of the
 * transposed copy, in the same order) through their stride T and writes
 * y[b,:,c] the same way (runtime/kernels/moe.c). The Reshapes are optional
 * (a rank-3 x routes all its leading dims as rows).
 *
 * Every shape is checked: x static (B,L,T), the Transposes swap the last two
 * dims of rank-3 values, a Reshape only merges (B,T) into B*T (or splits it
 * back), the MoE's rows are (B*T, L) on both sides. Every value in between
 * (the transposed x, the reshaped x, the MoE's own output, the reshaped
 * output) must have the one user of the chain and be no graph output: then
 * nothing else sees the intermediate layouts, and the last Transpose's value
 * (with its name, users and graph-output status) becomes the MoE's output.
 * Node names play no part. A mixc.moe (router "gate", granularity "row") that
 * reads a Transpose (through a Reshape or not), or whose output goes to a
 * Reshape or Transpose, and does not match, is a near miss: a warning says
 * which node broke the pattern and why, and the graph stays as it was.
 *
 * Requires: topological order, types inferred; after raise-moe (which makes
 * the mixc.moe nodes). Establishes: each absorbed layer is one mixc.moe with
 * rows_transposed = 1 in the node's old place (the order stays topological:
 * x is defined before the first Transpose, the output's users come after the
 * last); the absorbed Transposes and Reshapes are gone. */
#include "match.h"

#include <string.h>

typedef struct chain {
  ir_node *moe;
  ir_node *t1, *r1;   /* Transpose before, Reshape before (or NULL) */
  ir_node *r2, *t2;   /* Reshape after (or NULL), Transpose after */
  ir_node *fail_node;
  const char *why;
} chain;

static bool fail(chain *c, const ir_node *n, const char *why) {
  c->fail_node = (ir_node *)n;
  c->why = why;
  return false;
}

static bool static_dims(const ir_value *v, int rank, const int64_t *want) {
  const ir_type *t = &v->type;
  if (t->dtype != IR_F32 || t->rank != rank || !ir_type_static(t)) return false;
  for (int i = 0; i < rank; i++)
    if (t->dims[i].v != want[i]) return false;
  return true;
}

/* The mixc.moe forms whose rows could be transposed ones. */
static bool routes_rows(const ir_node *n) {
  return n->op == IR_OP_MixcMoe && !ir_attr_int(n, "rows_transposed", 0) &&
         !strcmp(ir_attr_str(n, "router", "gate"), "gate") &&
         !strcmp(ir_attr_str(n, "granularity", "row"), "row") && ir_attr_int(n, "group", 1) == 1;
}

/* Does n look like a token-mixing MoE: a Transpose feeds it, or its output
 * goes to one, directly or through a Reshape? */
static bool looks_like(const ir_graph *g, const ir_node *n) {
  const ir_value *x = n->in[0];
  ir_node *r = pass_def(x, IR_OP_Reshape);
  if (pass_def(x, IR_OP_Transpose) || (r && pass_def(r->in[0], IR_OP_Transpose))) return true;
  ir_node *u = pass_only_user(g, n->out[0]);
  if (u && u->op == IR_OP_Reshape) u = pass_only_user(g, u->out[0]);
  return u && u->op == IR_OP_Transpose;
}

/* v's only user, which must be an op of `op` reading v as input 0 */
static ir_node *user_of(const ir_graph *g, const ir_value *v, ir_op op) {
  ir_node *u = pass_only_user(g, v);
  return u && u->op == op && u->in[0] == v ? u : NULL;
}

static bool match(const ir_graph *g, chain *c) {
  ir_node *n = c->moe;
  ir_value *xin = n->in[0];
  /* input side: [Reshape (B*T,L) of] Transpose{0,2,1} (B,T,L) of x (B,L,T) */
  ir_value *tv = xin;
  if ((c->r1 = pass_def(xin, IR_OP_Reshape))) {
    tv = c->r1->in[0];
    if (!pass_only_user(g, tv))
      return fail(c, tv->def ? tv->def : c->r1, "the transposed x has other users");
  }
  c->t1 = pass_def(tv, IR_OP_Transpose);
  if (!c->t1) return fail(c, c->r1 ? c->r1 : n, "x is not a Transpose of the activation");
  if (!pass_is_swap_last2(c->t1) || c->t1->in[0]->type.rank != 3)
    return fail(c, c->t1, "the Transpose does not swap the last two dims of a rank-3 value");
  const ir_type *xt = &c->t1->in[0]->type;
  if (xt->dtype != IR_F32 || !ir_type_static(xt))
    return fail(c, c->t1, "the activation is not f32 of static shape");
  int64_t B = xt->dims[0].v, L = xt->dims[1].v, T = xt->dims[2].v;
  int64_t tdims[3] = {B, T, L}, rdims[2] = {B * T, L};
  if (!static_dims(tv, 3, tdims)) return fail(c, c->t1, "the transposed x is not (B,T,L)");
  if (c->r1 && !static_dims(xin, 2, rdims))
    return fail(c, c->r1, "the Reshape does not merge (B,T,L) into (B*T,L)");
  if (!pass_only_user(g, xin)) return fail(c, n, "the MoE's x has other users");
  /* output side: the same layout back */
  ir_value *y = n->out[0], *yt = y;
  if (!static_dims(y, xin->type.rank, c->r1 ? rdims : tdims))
    return fail(c, n, "the MoE's output does not have x's shape");
  if ((c->r2 = user_of(g, y, IR_OP_Reshape))) {
    yt = c->r2->out[0];
    if (!static_dims(yt, 3, tdims))
      return fail(c, c->r2, "the Reshape does not split (B*T,L) back into (B,T,L)");
  } else if (xin->type.rank == 2) {
    return fail(c, n, "the MoE's output does not go (only) to a Reshape back to (B,T,L)");
  }
  c->t2 = user_of(g, yt, IR_OP_Transpose);
  if (!c->t2)
    return fail(c, c->r2 ? c->r2 : n, "the MoE's output does not go (only) to a Transpose back");
  int64_t odims[3] = {B, L, T};
  if (!pass_is_swap_last2(c->t2) || !static_dims(c->t2->out[0], 3, odims))
    return fail(c, c->t2, "the Transpose after the MoE does not swap (B,T,L) back to (B,L,T)");
  return true;
}

static void rewrite(ir_ctx *cx, chain *c) {
  ir_graph *g = cx->g;
  ir_node *n = c->moe;
  n->in[0] = c->t1->in[0];
  ir_value *y = c->t2->out[0]; /* its name, users and graph-output status stay */
  y->def = n;
  y->def_index = 0;
  n->out[0] = y;
  ir_attr_add(g, n, "rows_transposed", IR_ATTR_INT)->i = 1;
  c->t1->dead = c->t2->dead = true;
  if (c->r1) c->r1->dead = true;
  if (c->r2) c->r2->dead = true;
  pass_reinfer(cx, n);
}

bool pass_strided_moe(ir_ctx *cx) {
  ir_graph *g = cx->g;
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->dead || !routes_rows(n) || !looks_like(g, n)) continue;
    chain c = {.moe = n};
    if (match(g, &c)) {
      rewrite(cx, &c);
      changed = true;
    } else {
      ir_warning(cx->d, c.fail_node,
                 "mixc.moe \"%s\" looks like token-mixing MoE but keeps its Transposes: %s",
                 n->name ? n->name : "", c.why);
    }
  }
  if (changed) ir_graph_compact(g);
  return true;
}
