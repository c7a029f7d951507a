/* raise_soft_moe.c - the raise-soft-moe pass: recognizes a Soft MoE layer
 * (MODELS.md section 3) as PyTorch exports it and replaces it by one
 * mixc.soft_moe node (semantics in runtime/kernels/moe_soft.c):
 *
 *   xn   = x * 1/sqrt(ReduceSum(x*x, -1, keepdims) [+ eps])   (also Div(x, Sqrt),
 *          Reciprocal, Pow(x, 2), ReduceL2)
 *   L    = MatMul(xn [* s], phi') [* s]        phi' constant (d, n*p), or a
 *          subgraph of constants only (the normalization and learned scale of
 *          phi that the exporter left unfolded), evaluated here
 *   D    = Softmax(L, axis 1), C = Softmax(L, axis 2)
 *   X~   = Reshape(Einsum(bms,bmd->bsd, D, x), [B, n, p, d])
 *   Y~   = Reshape(Einsum(bnph,nhd->bnpd, act(Einsum(bnpd,ndh->bnph, X~, W1) + b1), W2) + b2,
 *                  [B, n*p, d])
 *   y    = Einsum(bms,bsd->bmd, C, Y~)
 *
 * Every op, attribute, constant and shape is checked; node names are never
 * looked at. Every matched intermediate must have no user outside the match.
 * A pair of Softmaxes over axes 1 and 2 of one logits tensor that stays
 * unraised is a near miss: a warning names the node that broke the pattern
 * and why, and the graph is left as it was.
 *
 * Requires: topological order, types inferred, constants folded. Runs dce
 * first. Establishes: each raised layer is one mixc.soft_moe node whose output
 * 0 is the old output value (output 1 its scratch); dce runs after raising. */
#include "raise_moe.h"

#include <math.h>
#include <string.h>

#define REQ(c, node, ...) \
  do { \
    if (!(c)) return moe_fail(m, (node), __VA_ARGS__); \
  } while (0)

typedef struct soft_fit {
  ir_value *x, *logits;
  ir_tensor *phi;        /* (d, S), scale folded in */
  double scale;
  double eps;
  ir_value *w1, *b1, *w2, *b2;
  int64_t B, mt, d, n, p, h;
  const char *act;
} soft_fit;

/* ---- evaluating the constant-only phi subgraph ----------------------------------- */
enum { SOFT_EVAL_MAX = 32 };

/* ReduceSum of a constant with constant axes, into a new tensor shaped as n's output. */
static ir_tensor *eval_reducesum(moe_match *m, const ir_node *n, const ir_tensor *a) {
  const ir_type *ot = &n->out[0]->type;
  if (!ir_type_static(ot) || a->rank > 8) return NULL;
  int64_t ax[8];
  int na = 0;
  if (n->nin > 1 && n->in[1]) {
    if (!ir_const_ints(n->in[1], ax, 8, &na)) return NULL;
  } else {
    const ir_attr *at = ir_attr_find(n, "axes");
    if (!at) return NULL;
    na = at->n;
    for (int i = 0; i < na && i < 8; i++) ax[i] = at->ints[i];
  }
  bool red[8] = {false};
  for (int i = 0; i < na; i++) {
    int a2 = ir_norm_axis(ax[i], a->rank);
    if (a2 < 0) return NULL;
    red[a2] = true;
  }
  if (!na) return NULL; /* noop_with_empty_axes subtleties: not needed here */
  int64_t odims[8];
  int orank = 0;
  bool keep = ir_attr_int(n, "keepdims", 1) != 0;
  for (int i = 0; i < a->rank; i++)
    if (!red[i]) odims[orank++] = a->dims[i];
    else if (keep) odims[orank++] = 1;
  ir_tensor *y = ir_tensor_new(m->cx->scratch, IR_F32, orank, odims);
  if (y->numel != ir_type_numel(ot)) return NULL;
  double *acc = ir_alloc(m->cx->scratch, sizeof(double) * (size_t)(y->numel ? y->numel : 1));
  memset(acc, 0, sizeof(double) * (size_t)y->numel);
  int64_t idx[8] = {0};
  for (int64_t e = 0; e < a->numel; e++) {
    int64_t o = 0;
    for (int i = 0; i < a->rank; i++)
      if (!red[i]) o = o * a->dims[i] + idx[i];
    acc[o] += ir_tensor_get_f(a, e);
    for (int i = a->rank - 1; i >= 0; i--) {
      if (++idx[i] < a->dims[i]) break;
      idx[i] = 0;
    }
  }
  for (int64_t i = 0; i < y->numel; i++) ir_tensor_set_f(y, i, (float)acc[i]);
  return y;
}

/* v's value when it depends on constants only (through elementwise ops that
 * ir_eval folds, and ReduceSum), else NULL; the nodes go into the match. */
static ir_tensor *const_value(moe_match *m, ir_value *v, int *budget) {
  if (v->konst) return v->konst;
  ir_node *n = v->def;
  if (!n || --*budget < 0 || n->nout != 1) return NULL;
  ir_tensor *ins[8];
  if (n->nin > 8) return NULL;
  for (int i = 0; i < n->nin; i++) {
    ins[i] = NULL;
    if (n->in[i] && !(ins[i] = const_value(m, n->in[i], budget))) return NULL;
  }
  ir_tensor *out = NULL;
  if (n->op == IR_OP_ReduceSum) {
    out = eval_reducesum(m, n, ins[0]);
  } else {
    /* ir_eval reads the inputs' konst: lend them for the call */
    bool lent[8] = {false};
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] && !n->in[i]->konst) n->in[i]->konst = ins[i], lent[i] = true;
    ir_tensor *o[1] = {NULL};
    bool ok = ir_eval(m->cx, n, o);
    for (int i = 0; i < n->nin; i++)
      if (lent[i]) n->in[i]->konst = NULL;
    out = ok ? o[0] : NULL;
  }
  if (out) moe_take(m, n);
  return out;
}

/* ---- the normalization of x ---------------------------------------------------------- */
/* ss = ReduceSum(x*x | Pow(x,2), -1, keepdims) of x (rank 3) */
static bool match_sumsq(moe_match *m, ir_value *ss, ir_value *x) {
  ir_node *rs = pass_def(ss, IR_OP_ReduceSum);
  REQ(rs && pass_axes_are(rs, 3, 2) && ir_attr_int(rs, "keepdims", 1) == 1, ss->def,
      "token norm is not a ReduceSum over d with keepdims");
  ir_node *sq = pass_def(rs->in[0], IR_OP_Mul), *pw = pass_def(rs->in[0], IR_OP_Pow);
  double two = 0;
  REQ((sq && sq->in[0] == x && sq->in[1] == x) || (pw && pw->in[0] == x && moe_const_f(pw->in[1], &two) && two == 2.0),
      rs, "token norm does not sum the squares of the layer input");
  moe_take(m, rs);
  moe_take(m, sq ? sq : pw);
  return true;
}

/* nrm = Sqrt(ss [+ eps]) | ReduceL2(x, -1, keepdims) */
static bool match_norm(moe_match *m, ir_value *nrm, ir_value *x, double *eps) {
  ir_node *l2 = pass_def(nrm, IR_OP_ReduceL2);
  if (l2) {
    REQ(l2->in[0] == x && pass_axes_are(l2, 3, 2) && ir_attr_int(l2, "keepdims", 1) == 1, l2,
        "ReduceL2 is not over d with keepdims");
    moe_take(m, l2);
    *eps = 0;
    return true;
  }
  ir_node *sq = pass_def(nrm, IR_OP_Sqrt);
  REQ(sq, nrm->def, "token norm is not Sqrt(sum of squares [+ eps])");
  moe_take(m, sq);
  ir_node *ad = pass_def(sq->in[0], IR_OP_Add);
  *eps = 0;
  if (ad) {
    int ei = moe_const_f(ad->in[1], eps) ? 1 : moe_const_f(ad->in[0], eps) ? 0 : -1;
    REQ(ei >= 0 && *eps >= 0, ad, "token norm epsilon is not a constant scalar");
    moe_take(m, ad);
    return match_sumsq(m, ad->in[1 - ei], x);
  }
  return match_sumsq(m, sq->in[0], x);
}

/* xn = Mul(x, inv) | Div(x, nrm); inv = Div(1, nrm) | Reciprocal(nrm) */
static bool match_xnorm(moe_match *m, ir_value *xn, ir_value *x, double *eps) {
  ir_node *dv = pass_def(xn, IR_OP_Div), *mu = pass_def(xn, IR_OP_Mul);
  if (dv && dv->in[0] == x) {
    moe_take(m, dv);
    return match_norm(m, dv->in[1], x, eps);
  }
  REQ(mu && (mu->in[0] == x || mu->in[1] == x), xn->def,
      "router input is not x normalized over d (x * rsqrt(sum(x^2) + eps))");
  moe_take(m, mu);
  ir_value *inv = mu->in[0] == x ? mu->in[1] : mu->in[0];
  ir_node *rc = pass_def(inv, IR_OP_Reciprocal), *d1 = pass_def(inv, IR_OP_Div);
  double one = 0;
  if (rc) {
    moe_take(m, rc);
    return match_norm(m, rc->in[0], x, eps);
  }
  REQ(d1 && moe_const_f(d1->in[0], &one) && one == 1.0, inv->def,
      "token scale is not 1 / norm");
  moe_take(m, d1);
  return match_norm(m, d1->in[1], x, eps);
}

/* Mul(v, scalar constant) in either order: returns v and multiplies *scale */
static ir_value *strip_scale(moe_match *m, ir_value *v, double *scale) {
  ir_node *mu = pass_def(v, IR_OP_Mul);
  double s;
  if (!mu) return v;
  for (int i = 0; i < 2; i++)
    if (moe_const_f(mu->in[i], &s)) {
      moe_take(m, mu);
      *scale *= s;
      return mu->in[1 - i];
    }
  return v;
}

/* Add(Einsum(eq), bias constant) in either order */
static bool match_ein_bias(moe_match *m, ir_value *v, const char *eq, ir_node **ein, ir_value **b) {
  ir_node *ad = pass_def(v, IR_OP_Add);
  REQ(ad, v->def, "expected Einsum(%s) + bias", eq);
  int ei = pass_def(ad->in[0], IR_OP_Einsum) ? 0 : 1;
  *ein = pass_def(ad->in[ei], IR_OP_Einsum);
  *b = ad->in[1 - ei];
  REQ(moe_einsum_is(*ein, eq) && (*b)->konst && (*b)->konst->dtype == IR_F32, ad,
      "expected Einsum(%s) + constant bias", eq);
  moe_take(m, ad);
  moe_take(m, *ein);
  return true;
}

static bool const_dims(const ir_value *v, int rank, const int64_t *dims) {
  if (!v || !v->konst || v->konst->dtype != IR_F32 || v->konst->rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (v->konst->dims[i] != dims[i]) return false;
  return true;
}

static bool match_soft(moe_match *m, ir_node *end, soft_fit *f) {
  REQ(moe_einsum_is(end, "bms,bsd->bmd"), end, "not a Soft MoE combine Einsum bms,bsd->bmd");
  moe_take(m, end);
  ir_node *cs = pass_def(end->in[0], IR_OP_Softmax);
  REQ(cs, end, "combine weights are not a Softmax");
  m->softmax = cs;
  ir_value *L = cs->in[0];
  f->logits = L;
  REQ(L->type.rank == 3 && ir_type_static(&L->type) && L->type.dtype == IR_F32, cs,
      "logits must be static f32 (B, m, slots)");
  REQ(ir_norm_axis(ir_attr_int(cs, "axis", -1), 3) == 2, cs, "combine Softmax is not over the slots (axis 2)");
  moe_take(m, cs);
  const int64_t B = L->type.dims[0].v, mt = L->type.dims[1].v, S = L->type.dims[2].v;
  /* slot outputs */
  ir_node *ry = pass_def(end->in[1], IR_OP_Reshape);
  REQ(ry, end, "slot outputs are not reshaped from (B, n, p, d)");
  moe_take(m, ry);
  ir_node *e2, *e1;
  ir_value *b2, *b1, *pre;
  if (!match_ein_bias(m, ry->in[0], "bnph,nhd->bnpd", &e2, &b2)) return false;
  if (!moe_match_act(m, e2->in[0], &pre, &f->act)) return false;
  if (!match_ein_bias(m, pre, "bnpd,ndh->bnph", &e1, &b1)) return false;
  ir_node *rx = pass_def(e1->in[0], IR_OP_Reshape);
  REQ(rx, e1, "expert inputs are not the slots reshaped to (B, n, p, d)");
  moe_take(m, rx);
  ir_node *e0 = pass_def(rx->in[0], IR_OP_Einsum);
  REQ(moe_einsum_is(e0, "bms,bmd->bsd"), rx, "slots are not the dispatch Einsum bms,bmd->bsd");
  moe_take(m, e0);
  ir_node *ds = pass_def(e0->in[0], IR_OP_Softmax);
  REQ(ds && ds->in[0] == L, e0, "dispatch weights are not a Softmax of the combine's logits");
  REQ(ir_norm_axis(ir_attr_int(ds, "axis", -1), 3) == 1, ds, "dispatch Softmax is not over the tokens (axis 1)");
  moe_take(m, ds);
  ir_value *x = e0->in[1];
  const ir_type *xt = &x->type;
  REQ(xt->rank == 3 && ir_type_static(xt) && xt->dtype == IR_F32 && xt->dims[0].v == B &&
          xt->dims[1].v == mt,
      e0, "layer input must be static f32 (%lld, %lld, d)", (long long)B, (long long)mt);
  const int64_t d = xt->dims[2].v;
  /* logits = [s *] MatMul([s *] xn, phi') */
  double scale = 1.0;
  ir_value *lv = strip_scale(m, L, &scale);
  ir_node *mm = pass_def(lv, IR_OP_MatMul);
  REQ(mm, L->def, "logits are not MatMul(normalized x, phi)");
  moe_take(m, mm);
  ir_value *xn = strip_scale(m, mm->in[0], &scale);
  if (!match_xnorm(m, xn, x, &f->eps)) return false;
  int budget = SOFT_EVAL_MAX;
  ir_tensor *phi = const_value(m, mm->in[1], &budget);
  REQ(phi && phi->rank == 2 && phi->dims[0] == d && phi->dims[1] == S && ir_dtype_is_float(phi->dtype),
      mm, "phi is not a constant (%lld, %lld) (or a subgraph of constants mixc can evaluate)",
      (long long)d, (long long)S);
  /* experts: W1 (n,d,h), b1 (n,1,h), W2 (n,h,d), b2 (n,1,d) */
  ir_value *w1 = e1->in[1], *w2 = e2->in[1];
  REQ(w1->konst && w1->konst->rank == 3 && w1->konst->dtype == IR_F32, e1, "fc1 weights are not a constant (n, d, h)");
  const int64_t n = w1->konst->dims[0], h = w1->konst->dims[2];
  REQ(n >= 1 && S % n == 0, e1, "%lld experts do not divide %lld slots", (long long)n, (long long)S);
  const int64_t p = S / n;
  int64_t dw1[3] = {n, d, h}, dw2[3] = {n, h, d}, db1[3] = {n, 1, h}, db2[3] = {n, 1, d};
  int64_t dx[4] = {B, n, p, d}, dy[3] = {B, S, d};
  REQ(const_dims(w1, 3, dw1), e1, "fc1 weights are not (%lld, %lld, %lld)", (long long)n, (long long)d, (long long)h);
  REQ(const_dims(w2, 3, dw2), e2, "fc2 weights are not (%lld, %lld, %lld)", (long long)n, (long long)h, (long long)d);
  REQ(const_dims(b1, 3, db1), b1->def ? b1->def : e1, "fc1 bias is not (%lld, 1, %lld)", (long long)n, (long long)h);
  REQ(const_dims(b2, 3, db2), b2->def ? b2->def : e2, "fc2 bias is not (%lld, 1, %lld)", (long long)n, (long long)d);
  REQ(moe_reshape_is(rx, 4, dx), rx, "slots are not reshaped to (%lld, %lld, %lld, %lld)", (long long)B,
      (long long)n, (long long)p, (long long)d);
  REQ(moe_reshape_is(ry, 3, dy), ry, "slot outputs are not reshaped to (%lld, %lld, %lld)", (long long)B,
      (long long)S, (long long)d);
  int64_t od[3] = {B, mt, d};
  REQ(moe_static_dims(end->out[0], 3, od), end, "output is not (B, m, d)");
  f->x = x, f->phi = phi, f->scale = scale;
  f->w1 = w1, f->b1 = b1, f->w2 = w2, f->b2 = b2;
  f->B = B, f->mt = mt, f->d = d, f->n = n, f->p = p, f->h = h;
  return true;
}

static ir_value *copy_const(ir_graph *g, const char *name, const ir_tensor *src, int rank,
                            const int64_t *dims, double scale) {
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, rank, dims);
  if (t->numel != src->numel) MIXC_BUG("soft MoE constant %s does not fit", name);
  for (int64_t i = 0; i < t->numel; i++) ir_tensor_set_f(t, i, (float)(ir_tensor_get_f(src, i) * scale));
  return ir_const_new(g, name, t);
}

static void build(moe_match *m, soft_fit *f) {
  ir_graph *g = m->cx->g;
  const char *base = m->softmax->name && *m->softmax->name ? m->softmax->name : "soft_moe";
  int64_t pd[2] = {f->d, f->n * f->p}, b1d[2] = {f->n, f->h}, b2d[2] = {f->n, f->d};
  ir_value *phi = copy_const(g, ir_sprintf(g->arena, "%s.phi", base), f->phi, 2, pd, f->scale);
  ir_value *b1 = copy_const(g, ir_sprintf(g->arena, "%s.fc1_bias", base), f->b1->konst, 2, b1d, 1.0);
  ir_value *b2 = copy_const(g, ir_sprintf(g->arena, "%s.fc2_bias", base), f->b2->konst, 2, b2d, 1.0);
  ir_node *n = ir_node_new(g, IR_OP_MixcSoftMoe, m->softmax->name, 6, 2);
  n->index = m->softmax->index;
  ir_value *ins[6] = {f->x, phi, f->w1, b1, f->w2, b2};
  memcpy(n->in, ins, sizeof ins);
  ir_attr_add(g, n, "slots_per_expert", IR_ATTR_INT)->i = f->p;
  ir_attr *a = ir_attr_add(g, n, "activation", IR_ATTR_STRING);
  a->s = ir_strdup(g->arena, f->act);
  a->slen = strlen(f->act);
  ir_attr_add(g, n, "epsilon", IR_ATTR_FLOAT)->f = (float)f->eps;
  moe_install(m, n);
}



/* Near misses are keyed by the logits value that has both Softmaxes. */
static bool raise_one(ir_ctx *cx, int *stamp, moe_near_miss *recs, int nrecs) {
  ir_graph *g = cx->g;
  moe_match *m = ir_alloc(cx->scratch, sizeof *m);
  soft_fit f;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    ir_node *end = g->nodes[i];
    if (end->op != IR_OP_Einsum) continue;
    memset(m, 0, sizeof *m);
    memset(&f, 0, sizeof f);
    m->cx = cx;
    m->stamp = ++*stamp;
    m->end = end;
    m->out = end->out[0];
    bool ok = match_soft(m, end, &f) && moe_check_closed(m);
    if (ok && !recs) {
      build(m, &f);
      return true;
    }
    if (!ok && recs) moe_note_miss(recs, nrecs, f.logits, m, end);
  }
  return false;
}

/* v has Softmax users over axes 1 and 2 (rank 3) */
static bool two_softmaxes(const ir_graph *g, const ir_value *v, ir_node **first) {
  bool a1 = false, a2 = false;
  if (v->type.rank != 3) return false;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->op != IR_OP_Softmax || n->in[0] != v) continue;
    int ax = ir_norm_axis(ir_attr_int(n, "axis", -1), 3);
    if (ax == 1 || ax == 2) {
      if (!a1 && !a2) *first = n;
      a1 |= ax == 1, a2 |= ax == 2;
    }
  }
  return a1 && a2;
}

bool pass_raise_soft_moe(ir_ctx *cx) {
  ir_graph *g = cx->g;
  pass_dce(cx);
  for (int i = 0; i < g->nnodes; i++) g->nodes[i]->id = 0;
  int stamp = 1 << 28; /* node ids are scratch: above any index another pass may leave */
  while (raise_one(cx, &stamp, NULL, 0)) pass_dce(cx);
  /* near misses: every logits tensor with both softmaxes still here */
  int nrecs = 0;
  ir_node *first;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nout; j++)
      if (g->nodes[i]->out[j] && two_softmaxes(g, g->nodes[i]->out[j], &first)) nrecs++;
  if (!nrecs) return true;
  moe_near_miss *recs = ir_alloc(cx->scratch, sizeof *recs * (size_t)nrecs);
  ir_node **firsts = ir_alloc(cx->scratch, sizeof *firsts * (size_t)nrecs);
  nrecs = 0;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nout; j++)
      if (g->nodes[i]->out[j] && two_softmaxes(g, g->nodes[i]->out[j], &first)) {
        firsts[nrecs] = first;
        recs[nrecs++] = (moe_near_miss){g->nodes[i]->out[j], NULL, NULL, 0};
      }
  raise_one(cx, &stamp, recs, nrecs);
  for (int r = 0; r < nrecs; r++) {
    const ir_value *logits = recs[r].key;
    if (recs[r].why)
      ir_warning(cx->d, recs[r].fail_node,
                 "Soft MoE with logits \"%s\" was not fused: %s; it runs unfused",
                 logits->name, recs[r].why);
    else
      ir_warning(cx->d, firsts[r],
                 "Softmaxes over tokens and slots of \"%s\" look like Soft MoE, but no "
                 "combine Einsum bms,bsd->bmd uses them; it runs unfused",
                 logits->name);
  }
  return true;
}
