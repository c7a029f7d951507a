/* fuse_epilogue.c - the fuse-epilogue pass: the elementwise ops that follow a
 * matrix product go into the GEMM's epilogue, so that the product's result is
 * written once, finished:
 *
 *   Y = MatMul(A, B) | Gemm(A, B, c|_) | mixc.matmul(...)
 *   Y = Add(Y, bias) (either order)       bias: a constant [n] (or [1,..,1,n])
 *                                         -> bias, bias_axis=0; or [m,1] (or
 *                                         [1,..,m,1]) -> bias, bias_axis=1
 *   Y = act(Y)                            Gelu (none -> gelu_erf, tanh ->
 *                                         gelu_tanh), Relu, Sigmoid, and
 *                                         Mul(Y, Sigmoid(Y)) -> silu
 *   Y = Add(Y, R) (either order)          R of exactly Y's shape -> residual
 *   or W = Add(Reshape(Y), R)             R of W's shape, Y's static: R is
 *                                         viewed with Y's shape (a new
 *                                         Reshape) and the Reshape of Y gives W
 *
 * giving mixc.matmul(A, B, bias|_, R) {act, bias_axis}, each stage optional
 * but in this order (the epilogue computes act(v + bias) + residual). And
 *
 *   Y = mixc.moe(...) {k = 1}; Y = Add(Y, R) (either order), R of Y's shape
 *
 * gives mixc.moe(..., R): the kernel starts each row's sum at R instead of
 * zero, so a row is R + g * expert(x) in one addition, the Add's bits (with
 * k > 1 the sum would round in another order, so those stay unfused). A
 * MatMul or Gemm becomes a mixc.matmul only when something fuses into it; a
 * Gemm only with alpha=1 and no C or a 1-D C of length n with beta=1 (its
 * bias; transA/transB become trans_a/trans_b); a MatMul with a 1-D operand
 * (numpy promotion) is left alone, and so are dtypes other than f32 and f64.
 * A bias must not grow the output's shape (no broadcasting to more dims) and
 * a residual must have its exact shape.
 *
 * Every fused intermediate must have exactly one user (for silu: the Sigmoid
 * and the Mul) and be no graph output. The fused node keeps the MatMul's
 * ONNX name and index and gives the last fused node's output value (its name,
 * its users); it moves to that node's place in the order, after the residual
 * is defined.
 *
 * Requires: topological order, types inferred, constants folded; after
 * raise-gelu (a decomposed GELU is not an activation here) and
 * sink-transpose (which makes the token-mixing mixc.matmul nodes), and after
 * raise-moe and strided-moe (which make and place mixc.moe). Establishes: no
 * Add/activation that could fuse follows a matrix product or a top-1
 * mixc.moe; dead nodes are gone. */
#include "match.h"

#include <string.h>

static bool is_float(ir_dtype t) { return t == IR_F32 || t == IR_F64; }

/* Gemm n is alpha=1 times A and B plus (beta=1 times) an absent C or a
 * 1-D C of length n: a mixc.matmul with that bias. */
static bool gemm_bias(const ir_node *n) {
  if (ir_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
  const ir_value *c = n->nin > 2 ? n->in[2] : NULL;
  if (!c) return true;
  const ir_type *y = &n->out[0]->type;
  return ir_attr_float(n, "beta", 1.0f) == 1.0f && c->type.rank == 1 && y->rank == 2 &&
         ir_dim_static(y->dims[1]) && ir_dim_static(c->type.dims[0]) &&
         c->type.dims[0].v == y->dims[1].v;
}

/* n is a GEMM this pass can extend: sets its current epilogue. */
static bool gemm_state(const ir_node *n, bool *has_bias, bool *has_act, bool *has_res) {
  if (n->op == IR_OP_MatMul) {
    if (n->in[0]->type.rank < 2 || n->in[1]->type.rank < 2 || !n->out[0] ||
        n->out[0]->type.rank < 2 || !is_float(n->out[0]->type.dtype))
      return false;
    *has_bias = *has_act = *has_res = false;
    return true;
  }
  if (n->op == IR_OP_Gemm) {
    if (!gemm_bias(n) || !n->out[0] || n->out[0]->type.rank != 2 ||
        !is_float(n->out[0]->type.dtype))
      return false;
    *has_bias = n->nin > 2 && n->in[2];
    *has_act = *has_res = false;
    return true;
  }
  if (n->op != IR_OP_MixcMatmul || !n->out[0] || n->out[0]->type.rank < 2) return false;
  const char *act = ir_attr_str(n, "act", "none");
  *has_bias = n->nin > 2 && n->in[2];
  *has_act = act && strcmp(act, "none");
  *has_res = n->nin > 3 && n->in[3];
  return true;
}

/* y + c, c a constant broadcast along y's last dim (axis 0) or its
 * second-to-last (axis 1) without growing y: the 1-D length, else 0. */
static int64_t bias_len(const ir_value *c, const ir_value *y, int *axis) {
  if (!c->konst || c->type.dtype != y->type.dtype) return 0;
  const ir_tensor *t = c->konst;
  int r = y->type.rank;
  if (t->rank < 1 || t->rank > r) return 0;
  ir_dim m = y->type.dims[r - 2], n = y->type.dims[r - 1];
  bool ones_before = true;
  for (int i = 0; i < t->rank - 1; i++) ones_before &= t->dims[i] == 1;
  if (ones_before && ir_dim_static(n) && t->dims[t->rank - 1] == n.v) {
    *axis = 0;
    return n.v;
  }
  if (t->rank < 2 || t->dims[t->rank - 1] != 1) return 0;
  for (int i = 0; i < t->rank - 2; i++)
    if (t->dims[i] != 1) return 0;
  if (ir_dim_static(m) && t->dims[t->rank - 2] == m.v) {
    *axis = 1;
    return m.v;
  }
  return 0;
}

/* The one fusion step after y, or false: fills the new input or act. */
typedef struct fuse_step {
  ir_node *last;         /* the last node fused; its output is the new y */
  ir_node *extra;        /* silu: the Sigmoid */
  ir_node *view;         /* residual: the Reshape between y and the Add, or NULL */
  ir_value *bias, *res;
  int bias_axis;
  const char *act;
} fuse_step;

static bool next_bias(ir_ctx *cx, ir_value *y, fuse_step *s) {
  ir_node *u = pass_only_user(cx->g, y);
  if (!u || u->op != IR_OP_Add || u->in[0] == u->in[1]) return false;
  ir_value *c = u->in[0] == y ? u->in[1] : u->in[0];
  int axis = 0;
  int64_t len = bias_len(c, y, &axis);
  if (!len || !pass_same_shape(&u->out[0]->type, &y->type)) return false;
  s->last = u;
  s->bias_axis = axis;
  s->bias = c;
  if (c->konst->rank != 1) s->bias = pass_const_view(cx->g, c, "vec", 1, &len);
  return true;
}

static bool next_act(ir_ctx *cx, ir_value *y, fuse_step *s) {
  ir_graph *g = cx->g;
  ir_node *u = pass_only_user(g, y);
  if (u) {
    if (u->op == IR_OP_Relu) s->act = "relu";
    else if (u->op == IR_OP_Sigmoid) s->act = "sigmoid";
    else if (u->op == IR_OP_Gelu) {
      const char *a = ir_attr_str(u, "approximate", "none");
      s->act = !a || !strcmp(a, "none") ? "gelu_erf" : !strcmp(a, "tanh") ? "gelu_tanh" : NULL;
    } else {
      return false;
    }
    if (!s->act || !pass_same_shape(&u->out[0]->type, &y->type)) return false;
    s->last = u;
    return true;
  }
  /* silu: y's users are exactly Sigmoid(y) and Mul(y, that) */
  ir_node *sg = NULL, *mul = NULL;
  int uses = 0;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == y) return false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->dead) continue;
    for (int j = 0; j < n->nin; j++) {
      if (n->in[j] != y) continue;
      uses++;
      if (n->op == IR_OP_Sigmoid) sg = n;
      else if (n->op == IR_OP_Mul) mul = n;
    }
  }
  if (uses != 2 || !sg || !mul || pass_only_user(g, sg->out[0]) != mul) return false;
  ir_value *sv = sg->out[0];
  if (!((mul->in[0] == y && mul->in[1] == sv) || (mul->in[1] == y && mul->in[0] == sv))) return false;
  if (!pass_same_shape(&mul->out[0]->type, &y->type)) return false;
  s->act = "silu";
  s->extra = sg;
  s->last = mul;
  return true;
}

static bool next_res(ir_ctx *cx, ir_value *y, fuse_step *s) {
  ir_node *u = pass_only_user(cx->g, y);
  if (u && u->op == IR_OP_Reshape && u->in[0] == y && !s->view) { /* Add(Reshape(y), R) */
    const ir_type *t = &y->type;
    for (int i = 0; i < t->rank; i++)
      if (!ir_dim_static(t->dims[i]) || t->dims[i].v < 1) return false;
    s->view = u;
    if (next_res(cx, u->out[0], s)) return true;
    s->view = NULL;
    return false;
  }
  if (!u || u->op != IR_OP_Add || u->in[0] == u->in[1]) return false;
  ir_value *r = u->in[0] == y ? u->in[1] : u->in[0];
  if (r->type.dtype != y->type.dtype || !pass_same_shape(&r->type, &y->type) ||
      !pass_same_shape(&u->out[0]->type, &y->type))
    return false;
  s->last = u;
  s->res = r;
  return true;
}

static void set_str(ir_graph *g, ir_node *n, const char *name, const char *v) {
  ir_attr *a = (ir_attr *)ir_attr_find(n, name);
  if (!a) a = ir_attr_add(g, n, name, IR_ATTR_STRING);
  a->kind = IR_ATTR_STRING;
  a->s = v;
  a->slen = strlen(v);
}

static void set_int(ir_graph *g, ir_node *n, const char *name, int64_t v) {
  ir_attr *a = (ir_attr *)ir_attr_find(n, name);
  if (!a) a = ir_attr_add(g, n, name, IR_ATTR_INT);
  a->kind = IR_ATTR_INT;
  a->i = v;
}

/* R (of the Add's shape) viewed with y's static shape: a new Reshape placed
 * just before the Add. */
static ir_value *residual_view(ir_ctx *cx, ir_value *r, const ir_value *y, const ir_node *add) {
  ir_graph *g = cx->g;
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < y->type.rank; i++) dims[i] = y->type.dims[i].v;
  ir_tensor *t = ir_tensor_vec_i64(g->arena, y->type.rank, dims);
  ir_value *shape = ir_const_new(g, ir_sprintf(g->arena, "%s.residual_shape", add->name), t);
  t->name = shape->name;
  ir_node *rs = ir_node_new(g, IR_OP_Reshape, ir_sprintf(g->arena, "%s/residual", add->name), 2, 1);
  rs->in[0] = r, rs->in[1] = shape;
  rs->out[0] = ir_value_new(g, rs->name, (ir_type){IR_UNDEF, -1, NULL});
  rs->out[0]->def = rs;
  ir_node_append(g, rs);
  pass_move_before(g, rs, add);
  pass_reinfer(cx, rs);
  return rs->out[0];
}

/* n gives the value of `last` (the last node fused into it, now dead) and
 * takes its place in the order, after every input n gained is defined. */
static void take_place(ir_ctx *cx, ir_node *n, ir_node *last) {
  ir_value *y = last->out[0];
  pass_move_before(cx->g, n, last); /* last is dropped by ir_graph_compact */
  last->dead = true;
  n->out[0] = y;
  y->def = n;
  y->def_index = 0;
  pass_reinfer(cx, n);
}

/* Fuses what follows n; true if anything did. */
static bool fuse(ir_ctx *cx, ir_node *n) {
  ir_graph *g = cx->g;
  bool has_bias, has_act, has_res;
  if (!gemm_state(n, &has_bias, &has_act, &has_res)) return false;
  ir_value *in[4] = {n->in[0], n->in[1], n->nin > 2 ? n->in[2] : NULL,
                     n->nin > 3 ? n->in[3] : NULL};
  ir_value *y = n->out[0];
  ir_node *last = NULL;
  const char *act = NULL;
  int bias_axis = -1;
  fuse_step s;
  memset(&s, 0, sizeof s);
  if (!has_bias && !has_act && !has_res && next_bias(cx, y, &s)) {
    in[2] = s.bias, bias_axis = s.bias_axis, has_bias = true;
    last = s.last, last->dead = true, y = last->out[0];
  }
  memset(&s, 0, sizeof s);
  if (!has_act && !has_res && next_act(cx, y, &s)) {
    act = s.act, has_act = true;
    if (s.extra) s.extra->dead = true;
    last = s.last, last->dead = true, y = last->out[0];
  }
  memset(&s, 0, sizeof s);
  ir_node *view = NULL, *res_add = NULL;
  if (!has_res && next_res(cx, y, &s)) {
    in[3] = s.res, has_res = true;
    if (s.view) /* R is viewed with y's shape; the Reshape moves after n */
      view = s.view, res_add = s.last, in[3] = residual_view(cx, s.res, y, res_add);
    else
      last = s.last, last->dead = true, y = last->out[0];
  }
  if (!last && !view) return false;

  if (n->op == IR_OP_MatMul || n->op == IR_OP_Gemm) {
    int64_t ta = n->op == IR_OP_Gemm ? ir_attr_int(n, "transA", 0) != 0 : 0;
    int64_t tb = n->op == IR_OP_Gemm ? ir_attr_int(n, "transB", 0) != 0 : 0;
    pass_make_mixc_matmul(g, n);
    if (ta) set_int(g, n, "trans_a", 1);
    if (tb) set_int(g, n, "trans_b", 1);
  }
  pass_set_inputs(g, n, in[3] ? 4 : in[2] ? 3 : 2, in);
  if (act) set_str(g, n, "act", act);
  if (bias_axis > 0) set_int(g, n, "bias_axis", bias_axis);
  if (last) take_place(cx, n, last);
  if (view) { /* ... y = n(..., R'); w = Reshape(y): the Reshape gives the Add's value */
    ir_value *w = res_add->out[0];
    pass_move_before(g, n, res_add);
    pass_move_before(g, view, res_add);
    res_add->dead = true;
    view->out[0] = w;
    w->def = view;
    w->def_index = 0;
    pass_reinfer(cx, n);
  }
  return true;
}

/* A mixc.moe with k = 1, then Add(y, R): R becomes its residual. */
static bool fuse_moe(ir_ctx *cx, ir_node *n) {
  if (n->op != IR_OP_MixcMoe || n->nin > 7 || ir_attr_int(n, "k", 0) != 1) return false;
  fuse_step s;
  memset(&s, 0, sizeof s);
  if (!next_res(cx, n->out[0], &s)) return false;
  ir_value *in[8];
  for (int i = 0; i < 7; i++) in[i] = i < n->nin ? n->in[i] : NULL;
  in[7] = s.res;
  pass_set_inputs(cx->g, n, 8, in);
  take_place(cx, n, s.last);
  return true;
}

bool pass_fuse_epilogue(ir_ctx *cx) {
  ir_graph *g = cx->g;
  bool changed = false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (!n->dead && (fuse(cx, n) || fuse_moe(cx, n))) changed = true;
  }
  if (changed) ir_graph_compact(g);
  return true;
}
