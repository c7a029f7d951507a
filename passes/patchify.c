/* patchify.c - the patchify pass: a Mixer's patch embedding as one GEMM in
 * the token-major layout. Every Mixer stem exports as
 *
 *   Conv(X, W, b) {kernel_shape = strides = [kh, kw], no padding}   [N,OC,OH,OW]
 *     -> Reshape [N, OC, OH*OW] -> Transpose {perm = [0, 2, 1]}      [N,OH*OW,OC]
 *
 * A convolution whose stride is its kernel reads disjoint patches, so the
 * chain is a GEMM of the patches with the flattened kernel:
 *
 *   P = Reshape(Transpose(Reshape(X, [N, C, OH, kh, OW, kw]), [0, 2, 4, 1, 3, 5]),
 *               [N, OH*OW, C*kh*kw])
 *   mixc.matmul(P, W as [OC, C*kh*kw], b) {trans_b = 1}              [N,OH*OW,OC]
 *
 * The patch copy is one pass over the image; the GEMM then has the long
 * output dim on N (OC), its weight packed at compile time, and writes the
 * token-major layout the blocks read, so the stem's Transpose is gone. The
 * sums are the same products in the same k order (c, u, v) as the
 * convolution's GEMM, so the results match it.
 *
 * Matches only exactly that: group 1, dilations 1, pads 0 (auto_pad NOTSET or
 * VALID), strides equal to the kernel, H and W multiples of the kernel, a
 * constant f32 W (and b), and the Conv output and the Reshape each used once,
 * by the next node of the chain. Anything else is left alone.
 *
 * Requires: types inferred, constants folded (the Reshape's shape is a
 * constant). Establishes: no Conv of such a stem is left; the new nodes are
 * sorted into place; the Transpose's value keeps its name and users. */
#include "match.h"

#include <string.h>

static ir_value *shape_const(ir_graph *g, const char *base, const char *suffix, int n,
                             const int64_t *v) {
  ir_tensor *t = ir_tensor_vec_i64(g->arena, n, v);
  ir_value *c = ir_const_new(g, ir_sprintf(g->arena, "%s.%s", base, suffix), t);
  t->name = c->name;
  return c;
}

/* a new node of one output, appended (the caller sorts the graph) */
static ir_node *add_node(ir_ctx *cx, ir_op op, const ir_node *like, const char *suffix, int nin,
                         ir_value *const *in) {
  ir_graph *g = cx->g;
  ir_node *n = ir_node_new(g, op, ir_sprintf(g->arena, "%s/%s", like->name, suffix), nin, 1);
  for (int i = 0; i < nin; i++) n->in[i] = in[i];
  n->out[0] = ir_value_new(g, n->name, (ir_type){IR_UNDEF, -1, NULL});
  n->out[0]->def = n;
  n->out[0]->def_index = 0;
  ir_node_append(g, n);
  return n;
}

static bool patchify(ir_ctx *cx, ir_node *conv) {
  ir_graph *g = cx->g;
  ir_value *x = conv->in[0], *w = conv->in[1], *b = conv->nin > 2 ? conv->in[2] : NULL;
  const ir_type *xt = &x->type;
  if (xt->dtype != IR_F32 || xt->rank != 4 || !w->konst || w->konst->dtype != IR_F32 ||
      w->konst->rank != 4 || (b && !b->konst))
    return false;
  for (int d = 1; d < 4; d++)
    if (!ir_dim_static(xt->dims[d])) return false;
  const int64_t *wd = w->konst->dims;
  int64_t C = xt->dims[1].v, H = xt->dims[2].v, W = xt->dims[3].v, OC = wd[0], kh = wd[2],
          kw = wd[3], k[2] = {kh, kw};
  const char *ap = ir_attr_str(conv, "auto_pad", "NOTSET");
  if (ir_attr_int(conv, "group", 1) != 1 || wd[1] != C || kh < 1 || kw < 1 || H % kh ||
      W % kw || (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) ||
      !pass_ints_are(conv, "kernel_shape", 2, k, 0) || !pass_ints_are(conv, "strides", 2, k, 0) ||
      !pass_ints_are(conv, "dilations", 2, NULL, 1) || !pass_ints_are(conv, "pads", 4, NULL, 0))
    return false;
  if (!ir_attr_find(conv, "strides") && (kh != 1 || kw != 1)) return false; /* stride 1 */
  int64_t OH = H / kh, OW = W / kw;
  ir_node *rs = pass_only_user(g, conv->out[0]);
  if (!rs || rs->op != IR_OP_Reshape || rs->in[0] != conv->out[0]) return false;
  const ir_type *rt = &rs->out[0]->type;
  if (rt->rank != 3 || !ir_dim_eq(rt->dims[0], xt->dims[0]) || !ir_dim_static(rt->dims[1]) ||
      rt->dims[1].v != OC || !ir_dim_static(rt->dims[2]) || rt->dims[2].v != OH * OW)
    return false;
  ir_node *tr = pass_only_user(g, rs->out[0]);
  if (!tr || tr->op != IR_OP_Transpose || !pass_is_swap_last2(tr)) return false;

  /* 0 in a Reshape shape keeps the dim: the batch may be symbolic */
  const int64_t s6[6] = {0, C, OH, kh, OW, kw}, s3[3] = {0, OH * OW, C * kh * kw};
  const int64_t perm[6] = {0, 2, 4, 1, 3, 5}, w2[2] = {OC, C * kh * kw};
  ir_value *in[3] = {x, shape_const(g, conv->name, "patch_shape", 6, s6)};
  ir_node *r6 = add_node(cx, IR_OP_Reshape, conv, "patch_grid", 2, in);
  pass_reinfer(cx, r6);
  in[0] = r6->out[0];
  ir_node *t6 = add_node(cx, IR_OP_Transpose, conv, "patch_order", 1, in);
  ir_attr *pa = ir_attr_add(g, t6, "perm", IR_ATTR_INTS);
  pa->n = 6;
  pa->ints = ir_alloc(g->arena, sizeof perm);
  memcpy(pa->ints, perm, sizeof perm);
  pass_reinfer(cx, t6);
  in[0] = t6->out[0], in[1] = shape_const(g, conv->name, "patches_shape", 3, s3);
  ir_node *r3 = add_node(cx, IR_OP_Reshape, conv, "patches", 2, in);
  pass_reinfer(cx, r3);
  in[0] = r3->out[0], in[1] = pass_const_view(g, w, "rows", 2, w2), in[2] = b;
  ir_node *mm = ir_node_new(g, IR_OP_MixcMatmul, conv->name, b ? 3 : 2, 1);
  mm->index = conv->index;
  for (int i = 0; i < mm->nin; i++) mm->in[i] = in[i];
  ir_attr_add(g, mm, "trans_b", IR_ATTR_INT)->i = 1;
  mm->out[0] = tr->out[0]; /* the Transpose's value, name and users */
  mm->out[0]->def = mm;
  mm->out[0]->def_index = 0;
  ir_node_append(g, mm);
  pass_reinfer(cx, mm);
  conv->dead = rs->dead = tr->dead = true;
  return true;
}

bool pass_patchify(ir_ctx *cx) {
  ir_graph *g = cx->g;
  bool changed = false;
  int n0 = g->nnodes; /* the nodes added are not Convs */
  for (int i = 0; i < n0; i++)
    if (!g->nodes[i]->dead && g->nodes[i]->op == IR_OP_Conv) changed |= patchify(cx, g->nodes[i]);
  if (!changed) return true;
  ir_graph_compact(g);
  return ir_graph_toposort(g, cx->d);
}
