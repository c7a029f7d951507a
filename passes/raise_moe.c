/* raise_moe.c - the raise-moe pass: recognizes a routed MoE layer, as the
 * PyTorch exporter writes it in the loop, masked, one-hot (with capacity) or
 * per-image styles (MODELS.md "How these models arrive as ONNX"), and replaces the whole subgraph by one
 * mixc.moe node whose result is exactly the subgraph's (semantics in
 * runtime/kernels/moe.c). This is what lets the data-dependent shapes of the
 * loop style (NonZero) compile: they disappear inside the fused op. Each
 * com.microsoft.MoE node becomes mixc.moe with router "logits"
 * (raise_ms_moe.c).
 *
 * Matching is bottom-up from a candidate combine node (raise_moe_match.c)
 * back to the router, Softmax(MatMul(x, W_g) [+ b]) -> TopK, verifying every
 * op, attribute, constant and shape on the way, and never looking at node
 * names. Every node of the match goes into a set; the match holds only if no
 * value of the set except the MoE output is used outside it (or is a graph
 * output). The per-expert weights are stacked into new (E,d,h)/(E,h)/(E,h,d)/
 * (E,d) constants. A TopK over a Softmax that is left unraised is a near
 * miss: a warning names the node that broke the pattern and why, and the graph
 * stays as it was (correct, just not fused).
 *
 * Requires: topological order, types inferred, constants folded (the shape
 * subgraphs of the exports must be constants). Runs dce first so that dead
 * users do not block a match. Establishes: each raised layer is one mixc.moe
 * node (output 0 is the old output value, output 1 its unused scratch), with
 * the replaced nodes removed (dce runs again after raising). */
#include "raise_moe.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------ */
bool moe_fail(moe_match *m, const ir_node *n, const char *fmt, ...) {
  if (m->why) return false;
  va_list ap;
  va_start(ap, fmt);
  m->why = ir_vsprintf(m->cx->scratch, fmt, ap);
  va_end(ap);
  m->fail_node = (ir_node *)n;
  return false;
}

void moe_take(moe_match *m, ir_node *n) {
  if (n->id == m->stamp) return;
  if (m->nnodes == MOE_MAX_NODES) MIXC_BUG("MoE match larger than %d nodes", MOE_MAX_NODES);
  n->id = m->stamp;
  m->nodes[m->nnodes++] = n;
}

bool moe_const_f(const ir_value *v, double *f) {
  if (!v || !v->konst || v->konst->numel != 1 || !ir_dtype_is_float(v->konst->dtype)) return false;
  *f = ir_tensor_get_f(v->konst, 0);
  return true;
}

bool moe_const_i(const ir_value *v, int64_t *i) {
  if (!v || !v->konst || v->konst->numel != 1 || !ir_dtype_is_int(v->konst->dtype)) return false;
  *i = ir_tensor_get_i(v->konst, 0);
  return true;
}

bool moe_const_fill(const ir_value *v, double want) {
  if (!v || !v->konst || !ir_dtype_is_float(v->konst->dtype)) return false;
  for (int64_t i = 0; i < v->konst->numel; i++)
    if (ir_tensor_get_f(v->konst, i) != want) return false;
  return true;
}

bool moe_axes_list(const ir_node *n, int rank, const int64_t *want, int nw) {
  int64_t ax[8];
  int na = 0;
  if (n->nin > 1 && n->in[1]) {
    if (!ir_const_ints(n->in[1], ax, 8, &na)) return false;
  } else {
    const ir_attr *a = ir_attr_find(n, "axes");
    if (!a || a->kind != IR_ATTR_INTS || a->n > 8) return false;
    na = a->n;
    for (int i = 0; i < na; i++) ax[i] = a->ints[i];
  }
  if (na != nw) return false;
  for (int i = 0; i < na; i++)
    if (ir_norm_axis(ax[i], rank) != want[i]) return false;
  return true;
}

bool moe_einsum_is(const ir_node *n, const char *eq) {
  if (!n || n->op != IR_OP_Einsum) return false;
  const char *s = ir_attr_str(n, "equation", "");
  char map[128] = {0}, inv[128] = {0};
  for (;;) {
    while (*s == ' ') s++;
    while (*eq == ' ') eq++;
    if (!*s || !*eq) return !*s && !*eq;
    unsigned char a = (unsigned char)*s++, b = (unsigned char)*eq++;
    if (a >= 128 || b >= 128) return false;
    bool la = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z');
    bool lb = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    if (la != lb) return false;
    if (!la) {
      if (a != b) return false;
      continue;
    }
    if (!map[b] && !inv[a]) map[b] = (char)a, inv[a] = (char)b;
    if (map[b] != (char)a || inv[a] != (char)b) return false;
  }
}

bool moe_reshape_is(const ir_node *n, int rank, const int64_t *dims) {
  if (!n || n->op != IR_OP_Reshape || n->nin < 2) return false;
  int64_t sh[8], numel = 1;
  int ns = 0, neg = 0;
  if (rank > 8 || !ir_const_ints(n->in[1], sh, 8, &ns) || ns != rank) return false;
  const ir_type *it = &n->in[0]->type;
  for (int i = 0; i < rank; i++) numel *= dims[i];
  for (int i = 0; i < rank; i++) {
    if (sh[i] == dims[i]) continue;
    if (sh[i] == 0 && !ir_attr_int(n, "allowzero", 0) && i < it->rank && ir_dim_static(it->dims[i]) &&
        it->dims[i].v == dims[i])
      continue;
    if (sh[i] == -1 && !neg++) continue;
    return false;
  }
  if (!neg) return true;
  /* one -1: the input's element count must make it dims[i] */
  return ir_type_static(it) && ir_type_numel(it) == numel;
}

bool moe_perm_is(const ir_node *n, int rank, const int64_t *perm) {
  if (!n || n->op != IR_OP_Transpose) return false;
  const ir_attr *a = ir_attr_find(n, "perm");
  if (!a) { /* default: reversed */
    for (int i = 0; i < rank; i++)
      if (perm[i] != rank - 1 - i) return false;
    return n->in[0]->type.rank == rank;
  }
  if (a->kind != IR_ATTR_INTS || a->n != rank) return false;
  for (int i = 0; i < rank; i++)
    if (a->ints[i] != perm[i]) return false;
  return true;
}

bool moe_static_dims(const ir_value *v, int rank, const int64_t *dims) {
  if (!v || v->type.rank != rank) return false;
  for (int i = 0; i < rank; i++)
    if (dims[i] >= 0 && !(ir_dim_static(v->type.dims[i]) && v->type.dims[i].v == dims[i]))
      return false;
  return true;
}

static bool const_f32(const ir_value *v, int rank) {
  return v && v->konst && v->konst->dtype == IR_F32 && v->konst->rank == rank;
}

/* ---- the router: Softmax(MatMul(x, W_g) [+ b], axis -1) -> TopK(k, axis -1, largest) */
bool moe_match_router(moe_match *m, ir_node *t) {
  if (m->topk) {
    if (m->topk != t) return moe_fail(m, t, "this TopK is not the router the other experts use");
    return true;
  }
  if (!t || t->op != IR_OP_TopK) return moe_fail(m, t, "expected the routing TopK");
  ir_node *s = pass_def(t->in[0], IR_OP_Softmax);
  if (!s) return moe_fail(m, t, "TopK input is not a Softmax");
  const ir_type *pt = &s->out[0]->type;
  if (pt->rank != 2 || !ir_type_static(pt) || pt->dtype != IR_F32)
    return moe_fail(m, s, "router probabilities must be static f32 (rows, experts)");
  int64_t rows = pt->dims[0].v, E = pt->dims[1].v;
  int64_t sax = ir_attr_int(s, "axis", s->opset >= 13 ? -1 : 1);
  if (ir_norm_axis(sax, 2) != 1) return moe_fail(m, s, "Softmax is not over the experts axis");
  if (ir_norm_axis(ir_attr_int(t, "axis", -1), 2) != 1 || ir_attr_int(t, "largest", 1) != 1)
    return moe_fail(m, t, "TopK must take the largest along the experts axis");
  int64_t k = -1;
  if (t->nin > 1 && t->in[1]) {
    if (!moe_const_i(t->in[1], &k)) return moe_fail(m, t, "TopK k is not a constant");
  } else {
    k = ir_attr_int(t, "k", -1);
  }
  if (k < 1 || k > E) return moe_fail(m, t, "TopK k=%lld is not in 1..%lld", (long long)k, (long long)E);
  if (E > MOE_MAX_E) return moe_fail(m, t, "%lld experts; at most %d are raised", (long long)E, MOE_MAX_E);
  ir_value *lg = s->in[0];
  ir_node *add = pass_def(lg, IR_OP_Add), *mm = pass_def(lg, IR_OP_MatMul);
  ir_value *bg = NULL;
  ir_node *gemm = pass_def(lg, IR_OP_Gemm);
  if (gemm) { /* Linear with bias: Gemm(x, W (E,d), b (E), transB=1), or W (d,E) */
    bool tb = ir_attr_int(gemm, "transB", 0) != 0;
    if (ir_attr_float(gemm, "alpha", 1.0f) != 1.0f || ir_attr_float(gemm, "beta", 1.0f) != 1.0f ||
        ir_attr_int(gemm, "transA", 0) != 0)
      return moe_fail(m, gemm, "router Gemm has alpha, beta or transA");
    ir_value *w = gemm->in[1];
    if (!const_f32(w, 2) || w->konst->dims[tb ? 0 : 1] != E)
      return moe_fail(m, gemm, "router weight is not a constant with %lld experts", (long long)E);
    if (gemm->nin > 2 && gemm->in[2]) {
      if (!const_f32(gemm->in[2], 1) || gemm->in[2]->konst->numel != E)
        return moe_fail(m, gemm, "router bias is not a constant (E)");
      bg = gemm->in[2];
    }
    int64_t d = w->konst->dims[tb ? 1 : 0];
    ir_value *x = gemm->in[0];
    int64_t xd[2] = {rows, d};
    if (!moe_static_dims(x, 2, xd) || x->type.dtype != IR_F32)
      return moe_fail(m, gemm, "routed rows must be static f32 (%lld, %lld)", (long long)rows, (long long)d);
    m->topk = t, m->softmax = s, m->x = x, m->wg = w, m->bg = bg, m->wg_trans = tb;
    m->rows = rows, m->d = d, m->E = E, m->k = k;
    moe_take(m, t);
    moe_take(m, s);
    moe_take(m, gemm);
    return true;
  }
  if (add) {
    int bi = const_f32(add->in[0], 1) ? 0 : const_f32(add->in[1], 1) ? 1 : -1;
    if (bi < 0 || add->in[bi]->konst->numel != E) return moe_fail(m, add, "router bias is not a constant (E)");
    bg = add->in[bi];
    mm = pass_def(add->in[1 - bi], IR_OP_MatMul);
  }
  if (!mm) return moe_fail(m, s, "router logits are not MatMul(x, W_g)");
  ir_value *x = mm->in[0], *wg = mm->in[1];
  if (!const_f32(wg, 2) || wg->konst->dims[1] != E)
    return moe_fail(m, mm, "router weight is not a constant (d, %lld)", (long long)E);
  int64_t d = wg->konst->dims[0];
  int64_t xd[2] = {rows, d};
  if (!moe_static_dims(x, 2, xd) || x->type.dtype != IR_F32)
    return moe_fail(m, mm, "routed rows must be static f32 (%lld, %lld)", (long long)rows, (long long)d);
  m->topk = t, m->softmax = s, m->x = x, m->wg = wg, m->bg = bg;
  m->rows = rows, m->d = d, m->E = E, m->k = k;
  moe_take(m, t);
  moe_take(m, s);
  moe_take(m, mm);
  if (add) moe_take(m, add);
  return true;
}

/* ---- importance-score dropping ---------------------------------------------------
 * keep = ScatterElements(ones(rows), TopK(ReduceMax(p, -1), nd, axis 0, largest=0).indices,
 *                        zeros(nd), axis 0) */
bool moe_match_importance(moe_match *m, ir_value *keep) {
  if (m->keep) {
    if (m->keep != keep) return moe_fail(m, keep->def, "experts use different keep masks");
    return true;
  }
  ir_node *sc = pass_def(keep, IR_OP_ScatterElements);
  if (!sc) return moe_fail(m, keep->def, "keep mask is not a ScatterElements");
  if (strcmp(ir_attr_str(sc, "reduction", "none"), "none") || ir_norm_axis(ir_attr_int(sc, "axis", 0), 1) != 0)
    return moe_fail(m, sc, "keep mask scatter must be axis 0 without reduction");
  int64_t rd[1] = {m->rows};
  if (!moe_static_dims(sc->in[0], 1, rd) || !moe_const_fill(sc->in[0], 1.0))
    return moe_fail(m, sc, "keep mask must start from ones(%lld)", (long long)m->rows);
  ir_node *t2 = pass_def(sc->in[1], IR_OP_TopK);
  if (!t2 || sc->in[1] != t2->out[1]) return moe_fail(m, sc, "dropped rows are not TopK indices");
  int64_t nd = -1;
  if (!(t2->nin > 1 && moe_const_i(t2->in[1], &nd)) || nd < 1 || nd > m->rows)
    return moe_fail(m, t2, "the number of dropped rows is not a constant in 1..%lld", (long long)m->rows);
  if (ir_attr_int(t2, "largest", 1) != 0 || ir_norm_axis(ir_attr_int(t2, "axis", -1), 1) != 0)
    return moe_fail(m, t2, "importance TopK must take the smallest scores");
  int64_t nd1[1] = {nd};
  if (!moe_static_dims(sc->in[2], 1, nd1) || !moe_const_fill(sc->in[2], 0.0))
    return moe_fail(m, sc, "dropped rows must be set to zero");
  ir_node *rm = pass_def(t2->in[0], IR_OP_ReduceMax);
  if (!rm || rm->in[0] != m->softmax->out[0] || !pass_axes_are(rm, 2, 1) ||
      ir_attr_int(rm, "keepdims", 1) != 0)
    return moe_fail(m, t2, "importance scores are not the max routing probability of each row");
  m->keep = keep;
  m->ndrop = nd;
  moe_take(m, sc);
  moe_take(m, t2);
  moe_take(m, rm);
  return true;
}

/* ---- expert MLP: [Add(] MatMul(act([Add(] MatMul(xin, W1) [, b1)]), W2) [, b2)] ---- */
static bool match_linear(moe_match *m, ir_value *v, ir_value **in, ir_value **w, ir_value **b) {
  ir_node *add = pass_def(v, IR_OP_Add), *mm = pass_def(v, IR_OP_MatMul);
  *b = NULL;
  if (add) {
    int bi = const_f32(add->in[0], 1) ? 0 : const_f32(add->in[1], 1) ? 1 : -1;
    if (bi < 0) return moe_fail(m, add, "expert bias is not a constant vector");
    *b = add->in[bi];
    mm = pass_def(add->in[1 - bi], IR_OP_MatMul);
    moe_take(m, add);
  }
  if (!mm) return moe_fail(m, v->def, "expected an expert Linear (MatMul [+ bias])");
  if (!const_f32(mm->in[1], 2)) return moe_fail(m, mm, "expert weight is not a constant matrix");
  *in = mm->in[0];
  *w = mm->in[1];
  if (*b && (*b)->konst->numel != (*w)->konst->dims[1])
    return moe_fail(m, add, "expert bias does not fit its weight");
  moe_take(m, mm);
  return true;
}

static bool is_half(const ir_value *v) {
  double f;
  return moe_const_f(v, &f) && f == 0.5;
}

/* act(pre) ending at v; sets *pre and *act ("identity" when v is not an activation). */
bool moe_match_act(moe_match *m, ir_value *v, ir_value **pre, const char **act) {
  ir_node *n = v->def;
  if (!n || v->konst) return moe_fail(m, NULL, "expert hidden value is a constant");
  if (n->op == IR_OP_Relu) {
    *pre = n->in[0], *act = "relu";
    moe_take(m, n);
    return true;
  }
  if (n->op == IR_OP_Gelu) {
    const char *a = ir_attr_str(n, "approximate", "none");
    *pre = n->in[0], *act = !strcmp(a, "tanh") ? "gelu_tanh" : "gelu_erf";
    moe_take(m, n);
    return true;
  }
  if (n->op == IR_OP_Mul) {
    /* silu: Mul(p, Sigmoid(p)) */
    for (int i = 0; i < 2; i++) {
      ir_node *sg = pass_def(n->in[i], IR_OP_Sigmoid);
      if (sg && sg->in[0] == n->in[1 - i]) {
        *pre = sg->in[0], *act = "silu";
        moe_take(m, n);
        moe_take(m, sg);
        return true;
      }
    }
    /* exact GELU: Mul(Mul(p, Add(Erf(Div(p, sqrt2)), 1)), 0.5), operands in any order */
    int hi = is_half(n->in[1]) ? 1 : is_half(n->in[0]) ? 0 : -1;
    ir_node *inner = hi >= 0 ? pass_def(n->in[1 - hi], IR_OP_Mul) : NULL;
    if (inner) {
      for (int i = 0; i < 2; i++) {
        ir_node *ad = pass_def(inner->in[i], IR_OP_Add);
        if (!ad) continue;
        double one;
        int oi = moe_const_f(ad->in[1], &one) && one == 1.0 ? 1 : moe_const_f(ad->in[0], &one) && one == 1.0 ? 0 : -1;
        ir_node *erf = oi >= 0 ? pass_def(ad->in[1 - oi], IR_OP_Erf) : NULL;
        ir_node *dv = erf ? pass_def(erf->in[0], IR_OP_Div) : NULL;
        ir_node *ml = erf ? pass_def(erf->in[0], IR_OP_Mul) : NULL;
        ir_value *p = inner->in[1 - i];
        double c;
        bool ok = (dv && dv->in[0] == p && moe_const_f(dv->in[1], &c) && fabs(c - sqrt(2.0)) < 1e-6) ||
                  (ml && ((ml->in[0] == p && moe_const_f(ml->in[1], &c)) ||
                          (ml->in[1] == p && moe_const_f(ml->in[0], &c))) &&
                   fabs(c - sqrt(0.5)) < 1e-6);
        if (!ok) continue;
        *pre = p, *act = "gelu_erf";
        moe_take(m, n);
        moe_take(m, inner);
        moe_take(m, ad);
        moe_take(m, erf);
        moe_take(m, dv ? dv : ml);
        return true;
      }
      return moe_fail(m, n, "Mul by 0.5 in the expert is not the exact GELU x*(1+erf(x/sqrt2))*0.5");
    }
  }
  *pre = v, *act = "identity";
  return true;
}

bool moe_match_expert_mlp(moe_match *m, ir_value *out, ir_value *xin, int64_t e) {
  ir_value *hv = NULL, *w2 = NULL, *b2 = NULL, *pre = NULL, *in = NULL, *w1 = NULL, *b1 = NULL;
  const char *act;
  if (!match_linear(m, out, &hv, &w2, &b2)) return false;
  if (!moe_match_act(m, hv, &pre, &act)) return false;
  if (!match_linear(m, pre, &in, &w1, &b1)) return false;
  m->mlp_in = in;
  if (xin && in != xin) return moe_fail(m, pre->def, "expert %lld does not read the routed rows", (long long)e);
  int64_t d = m->d, h = w1->konst->dims[1];
  if (w1->konst->dims[0] != d || w2->konst->dims[0] != h || w2->konst->dims[1] != d)
    return moe_fail(m, out->def, "expert %lld weights (%lld,%lld), (%lld,%lld) do not fit d=%lld",
                    (long long)e, (long long)w1->konst->dims[0], (long long)h,
                    (long long)w2->konst->dims[0], (long long)w2->konst->dims[1], (long long)d);
  if (m->act && (strcmp(m->act, act) || m->h != h))
    return moe_fail(m, out->def, "expert %lld differs from the others (activation %s, hidden %lld)",
                    (long long)e, act, (long long)h);
  if (e < 0 || e >= m->E || m->ex[e].seen)
    return moe_fail(m, out->def, "expert index %lld is out of range or repeated", (long long)e);
  m->act = act, m->h = h;
  m->ex[e] = (moe_expert){w1, b1, w2, b2, true};
  return true;
}

/* ---- the whole set: nothing but the output escapes --------------------------- */
bool moe_check_closed(moe_match *m) {
  ir_graph *g = m->cx->g;
  for (int i = 0; i < g->noutputs; i++) {
    ir_value *v = g->outputs[i];
    if (v != m->out && v->def && v->def->id == m->stamp)
      return moe_fail(m, v->def, "intermediate %s is a graph output", v->name);
  }
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->id == m->stamp) continue;
    for (int j = 0; j < n->nin; j++) {
      ir_value *v = n->in[j];
      if (v && v != m->out && !v->konst && v->def && v->def->id == m->stamp)
        return moe_fail(m, n, "uses the routing intermediate %s, so the layer cannot be fused",
                        v->name);
    }
  }
  return true;
}

/* ---- building the fused node -------------------------------------------------- */
static ir_value *stack(moe_match *m, const char *what, int part, int rank2) {
  ir_graph *g = m->cx->g;
  int64_t dims[3] = {m->E, 0, 0};
  bool any = false;
  ir_value *first = NULL;
  for (int64_t e = 0; e < m->E; e++) {
    ir_value *v = part == 0 ? m->ex[e].w1 : part == 1 ? m->ex[e].b1 : part == 2 ? m->ex[e].w2 : m->ex[e].b2;
    if (v) any = true, first = first ? first : v;
  }
  if (!any) return NULL;
  int r = first->konst->rank;
  for (int i = 0; i < r; i++) dims[1 + i] = first->konst->dims[i];
  (void)rank2;
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, r + 1, dims);
  size_t per = (size_t)(t->numel / m->E) * sizeof(float);
  for (int64_t e = 0; e < m->E; e++) {
    ir_value *v = part == 0 ? m->ex[e].w1 : part == 1 ? m->ex[e].b1 : part == 2 ? m->ex[e].w2 : m->ex[e].b2;
    if (v) memcpy((char *)t->data + (size_t)e * per, v->konst->data, per); /* else zeros */
  }
  const char *base = m->topk->name && *m->topk->name ? m->topk->name : "moe";
  return ir_const_new(g, ir_sprintf(g->arena, "%s.%s", base, what), t);
}

/* v's data as a new f32 constant of the given shape (same element count);
 * transposed when `trans` (v is 2-D). */
static ir_value *reshaped(moe_match *m, ir_value *v, const char *what, int rank, const int64_t *dims,
                          bool trans) {
  ir_graph *g = m->cx->g;
  if (!v) return NULL;
  if (!trans && v->konst->rank == rank) {
    bool same = true;
    for (int i = 0; i < rank; i++) same &= v->konst->dims[i] == dims[i];
    if (same) return v;
  }
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, rank, dims);
  if (t->numel != v->konst->numel) MIXC_BUG("MoE constant %s does not fit", what);
  const float *src = v->konst->data;
  float *dst = t->data;
  if (trans) {
    int64_t r = v->konst->dims[0], c = v->konst->dims[1];
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) dst[j * r + i] = src[i * c + j];
  } else {
    memcpy(dst, src, sizeof(float) * (size_t)t->numel);
  }
  const char *base = m->topk->name && *m->topk->name ? m->topk->name : "moe";
  return ir_const_new(g, ir_sprintf(g->arena, "%s.%s", base, what), t);
}

static void build(moe_match *m) {
  ir_graph *g = m->cx->g;
  if (!m->w1s) {
    m->w1s = stack(m, "fc1", 0, 2);
    m->b1s = stack(m, "fc1_bias", 1, 1);
    m->w2s = stack(m, "fc2", 2, 2);
    m->b2s = stack(m, "fc2_bias", 3, 1);
  } else { /* stacked biases as (E,1,h) from the one-hot export: (E,h) */
    int64_t bd1[2] = {m->E, m->h}, bd2[2] = {m->E, m->d};
    m->b1s = reshaped(m, m->b1s, "fc1_bias", 2, bd1, false);
    m->b2s = reshaped(m, m->b2s, "fc2_bias", 2, bd2, false);
  }
  if (m->wg_trans) {
    int64_t wd[2] = {m->d, m->E};
    m->wg = reshaped(m, m->wg, "router", 2, wd, true);
  }
  ir_node *n = ir_node_new(g, IR_OP_MixcMoe, m->topk->name, 7, 2);
  n->index = m->topk->index;
  ir_value *ins[7] = {m->x, m->wg, m->bg, m->w1s, m->b1s, m->w2s, m->b2s};
  memcpy(n->in, ins, sizeof ins);
  ir_attr_add(g, n, "k", IR_ATTR_INT)->i = m->k;
  ir_attr *a = ir_attr_add(g, n, "activation", IR_ATTR_STRING);
  a->s = ir_strdup(g->arena, m->act);
  a->slen = strlen(m->act);
  ir_attr_add(g, n, "normalize", IR_ATTR_INT)->i = 0;
  ir_attr_add(g, n, "drop_fraction", IR_ATTR_FLOAT)->f = (float)((double)m->ndrop / (double)m->rows);
  ir_attr_add(g, n, "capacity", IR_ATTR_INT)->i = m->capacity;
  a = ir_attr_add(g, n, "granularity", IR_ATTR_STRING);
  a->s = m->group > 1 ? "image" : "row";
  a->slen = strlen(a->s);
  if (m->group > 1) ir_attr_add(g, n, "group", IR_ATTR_INT)->i = m->group;
  moe_install(m, n);
}

/* ---- the driver --------------------------------------------------------------- */
typedef bool (*combine_fn)(moe_match *m, ir_node *end);
static const combine_fn styles[] = {moe_match_combine_loop, moe_match_combine_masked,
                                    moe_match_combine_onehot, moe_match_combine_image};

static bool is_candidate(const ir_node *n) {
  return n->op == IR_OP_ScatterElements || n->op == IR_OP_Add || n->op == IR_OP_Sum ||
         n->op == IR_OP_Einsum;
}

void moe_install(moe_match *m, ir_node *n) {
  ir_graph *g = m->cx->g;
  /* output 0 is the old output value, so its uses need no rewriting */
  ir_value *y = m->out;
  y->def = n;
  y->def_index = 0;
  n->out[0] = y;
  n->out[1] = ir_value_new(g, ir_sprintf(g->arena, "%s.scratch", y->name), (ir_type){IR_U8, -1, NULL});
  n->out[1]->def = n;
  n->out[1]->def_index = 1;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i] == m->end) g->nodes[i] = n; /* the old end node is gone */
  if (!ir_infer_node(m->cx, n))
    MIXC_BUG("%s built from a verified match does not infer", ir_op_fullname(n->op));
}

void moe_note_miss(moe_near_miss *recs, int nrecs, const void *key, const moe_match *m,
                   ir_node *end) {
  for (int r = 0; key && r < nrecs; r++)
    if (recs[r].key == key && m->nnodes > recs[r].depth) {
      recs[r].depth = m->nnodes;
      recs[r].fail_node = m->fail_node ? m->fail_node : end;
      recs[r].why = m->why ? m->why : "the pattern did not match";
    }
}


/* Tries every candidate end, last first. Raises the first full match (returns
 * true) unless `recs` is given: then only records the failures per router. */
static bool raise_one(ir_ctx *cx, int *stamp, moe_near_miss *recs, int nrecs) {
  ir_graph *g = cx->g;
  moe_match *m = ir_alloc(cx->scratch, sizeof *m);
  for (int i = g->nnodes - 1; i >= 0; i--) {
    ir_node *end = g->nodes[i];
    if (!is_candidate(end)) continue;
    for (size_t s = 0; s < sizeof styles / sizeof *styles; s++) {
      memset(m, 0, sizeof *m);
      m->cx = cx;
      m->stamp = ++*stamp;
      m->end = end;
      m->out = end->out[0];
      bool ok = styles[s](m, end) && moe_check_closed(m);
      if (ok && !recs) {
        build(m);
        return true;
      }
      if (!ok && recs) moe_note_miss(recs, nrecs, m->topk, m, end);
    }
  }
  return false;
}

bool pass_raise_moe(ir_ctx *cx) {
  ir_graph *g = cx->g;
  pass_dce(cx);
  for (int i = 0; i < g->nnodes; i++) g->nodes[i]->id = 0;
  int stamp = 1 << 28; /* node ids are scratch: above any index another pass may leave */
  bool changed = false;
  while (raise_one(cx, &stamp, NULL, 0)) {
    changed = true;
    pass_dce(cx);
  }
  if (moe_raise_ms(cx)) {
    changed = true;
    pass_dce(cx); /* the weights it transposed */
  }
  /* the fused outputs have static shapes where the export's did not (the
   * one-hot capacity path): let them flow on to the consumers */
  if (changed && !ir_infer_graph(cx)) return false;
  /* near misses: every TopK over a Softmax still here */
  int nrecs = 0;
  for (int i = 0; i < g->nnodes; i++)
    nrecs += g->nodes[i]->op == IR_OP_TopK && pass_def(g->nodes[i]->in[0], IR_OP_Softmax);
  if (!nrecs) return true;
  moe_near_miss *recs = ir_alloc(cx->scratch, sizeof *recs * (size_t)nrecs);
  nrecs = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == IR_OP_TopK && pass_def(g->nodes[i]->in[0], IR_OP_Softmax))
      recs[nrecs++] = (moe_near_miss){g->nodes[i], NULL, NULL, 0};
  raise_one(cx, &stamp, recs, nrecs);
  for (int r = 0; r < nrecs; r++) {
    const ir_node *topk = recs[r].key;
    if (recs[r].why)
      ir_warning(cx->d, recs[r].fail_node,
                 "MoE routing at TopK \"%s\" was not fused: %s; it runs unfused", topk->name,
                 recs[r].why);
    else
      ir_warning(cx->d, topk,
                 "this TopK over a Softmax looks like MoE routing, but no supported combine "
                 "(ScatterElements-add loop, sum of gated experts, one-hot Einsum, per-image "
                 "gated sum) uses it; "
                 "it runs unfused");
  }
  return true;
}
