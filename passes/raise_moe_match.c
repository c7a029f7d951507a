/* raise_moe_match.c - the combine patterns of the raise-moe pass, one function
 * per export style, each matching bottom-up from the node that produces the
 * MoE output back to the router (helpers in raise_moe.c):
 *
 *   loop:   per expert e, rows = Gather(Transpose(NonZero(sel)), 0, axis 1) with
 *           sel = Equal(topi, e) [And Unsqueeze(Greater(keep, 0.5))]; the expert
 *           MLP on Gather(x, rows), times Unsqueeze(Gather(ReduceSum(topv *
 *           Cast(sel)), rows)), scatter-added into zeros(rows, d): either a
 *           ScatterElements(reduction=add) chain, or (torch's index_add export)
 *           Add(acc, ScatterElements(zeros, Expand(rows), Expand(y))).
 *   masked: sum over e of Slice(gate, column e) * expert_e(x), with gate =
 *           ScatterElements(zeros(rows,E), topi, topv, axis 1) [* keep].
 *   onehot: GShard/V-MoE dispatch and combine Einsums with a capacity.
 *   image:  per-image routing on the token mean, a gate broadcast over tokens.
 *
 * Requires: see raise_moe.c. Each function fills the match or fails with the
 * node and the reason. */
#include "raise_moe.h"

#include <string.h>

/* ---- loop style ------------------------------------------------------------------- */

/* sel = Equal(topi, e) [And keepb]; returns e */
static bool match_loop_sel(moe_match *m, ir_value *sel, int64_t *e) {
  ir_node *eq = pass_def(sel, IR_OP_Equal), *an = pass_def(sel, IR_OP_And);
  if (an) {
    for (int i = 0; i < 2 && !eq; i++) {
      ir_node *e2 = pass_def(an->in[i], IR_OP_Equal);
      ir_node *us = pass_def(an->in[1 - i], IR_OP_Unsqueeze);
      ir_node *gt = us ? pass_def(us->in[0], IR_OP_Greater) : NULL;
      double half;
      if (!e2 || !gt || !pass_axes_are(us, 2, 1) || !moe_const_f(gt->in[1], &half) || half <= 0 ||
          half >= 1)
        continue;
      eq = e2;
      moe_take(m, an);
      moe_take(m, us);
      moe_take(m, gt);
      if (!pass_def(eq->in[0], IR_OP_TopK)) return moe_fail(m, eq, "expert selection does not compare TopK indices");
      if (!moe_match_router(m, pass_def(eq->in[0], IR_OP_TopK))) return false;
      if (!moe_match_importance(m, gt->in[0])) return false;
    }
    if (!eq) return moe_fail(m, an, "expert selection is not Equal(topi, e) And keep-mask");
  }
  if (!eq) return moe_fail(m, sel->def, "expert selection is not Equal(topi, e)");
  ir_node *t = pass_def(eq->in[0], IR_OP_TopK);
  if (!t || eq->in[0] != t->out[1]) return moe_fail(m, eq, "expert selection does not compare TopK indices");
  if (!moe_match_router(m, t)) return false;
  if (!moe_const_i(eq->in[1], e)) return moe_fail(m, eq, "expert index is not a constant");
  int64_t sd[2] = {m->rows, m->k};
  if (!moe_static_dims(sel, 2, sd)) return moe_fail(m, sel->def, "expert selection is not (rows, k)");
  moe_take(m, eq);
  return true;
}

/* one expert's scatter source: returns its rows value */
static bool match_loop_expert(moe_match *m, ir_value *idx, ir_value *upd, ir_value *shape_of_upd) {
  /* idx = Expand(Unsqueeze(rows, [1]), [1, d] | Shape(upd)) */
  ir_node *ex = pass_def(idx, IR_OP_Expand);
  ir_node *us = ex ? pass_def(ex->in[0], IR_OP_Unsqueeze) : NULL;
  if (!ex || !us || !pass_axes_are(us, 2, 1)) return moe_fail(m, idx->def, "scatter indices are not Expand(Unsqueeze(rows, 1))");
  moe_take(m, ex);
  moe_take(m, us);
  ir_value *rows = us->in[0];
  /* rows = Gather(Transpose(NonZero(sel), [1,0]), 0, axis 1) */
  ir_node *ga = pass_def(rows, IR_OP_Gather);
  ir_node *tr = ga ? pass_def(ga->in[0], IR_OP_Transpose) : NULL;
  ir_node *nz = tr ? pass_def(tr->in[0], IR_OP_NonZero) : NULL;
  int64_t zero = -1;
  const ir_attr *perm = tr ? ir_attr_find(tr, "perm") : NULL;
  if (!nz || !moe_const_i(ga->in[1], &zero) || zero != 0 || ga->in[1]->konst->rank != 0 ||
      ir_attr_int(ga, "axis", 0) != 1 || (perm && (perm->n != 2 || perm->ints[0] != 1)))
    return moe_fail(m, rows->def, "expert rows are not nonzero(selection)[:, 0]");
  moe_take(m, ga);
  moe_take(m, tr);
  moe_take(m, nz);
  int64_t e;
  ir_value *sel = nz->in[0];
  if (!match_loop_sel(m, sel, &e)) return false;
  /* now that d is known: the index expansion */
  int64_t sh[2];
  int ns = 0;
  ir_node *shp = pass_def(ex->in[1], IR_OP_Shape);
  if (shp) {
    if (shp->in[0] != shape_of_upd || ir_attr_find(shp, "start") || ir_attr_find(shp, "end"))
      return moe_fail(m, shp, "scatter index shape is not the shape of the updates");
    moe_take(m, shp);
  } else if (!ir_const_ints(ex->in[1], sh, 2, &ns) || ns != 2 || sh[0] != 1 || sh[1] != m->d) {
    return moe_fail(m, ex, "scatter indices are not expanded to (rows, %lld)", (long long)m->d);
  }
  /* upd = Mul(eo, Unsqueeze(Gather(gvec, rows), [1])) */
  ir_node *mu = pass_def(upd, IR_OP_Mul);
  if (!mu) return moe_fail(m, upd->def, "expert %lld output is not multiplied by its gate", (long long)e);
  int gi = pass_def(mu->in[1], IR_OP_Unsqueeze) ? 1 : 0;
  ir_node *gu = pass_def(mu->in[gi], IR_OP_Unsqueeze);
  ir_node *gg = gu ? pass_def(gu->in[0], IR_OP_Gather) : NULL;
  if (!gg || !pass_axes_are(gu, 2, 1) || gg->in[1] != rows || ir_attr_int(gg, "axis", 0) != 0)
    return moe_fail(m, mu, "expert %lld gate is not gate_vector[rows][:, None]", (long long)e);
  /* gvec = ReduceSum(Mul(topv, Cast(sel)), -1, keepdims 0) */
  ir_node *rs = pass_def(gg->in[0], IR_OP_ReduceSum);
  ir_node *gm = rs ? pass_def(rs->in[0], IR_OP_Mul) : NULL;
  if (!gm || !pass_axes_are(rs, 2, 1) || ir_attr_int(rs, "keepdims", 1) != 0)
    return moe_fail(m, gg, "expert %lld gate vector is not sum(topv * selection, -1)", (long long)e);
  int ci = pass_def(gm->in[1], IR_OP_Cast) ? 1 : 0;
  ir_node *ca = pass_def(gm->in[ci], IR_OP_Cast);
  if (!ca || ca->in[0] != sel || gm->in[1 - ci] != m->topk->out[0] || ir_attr_int(ca, "to", 0) != IR_F32)
    return moe_fail(m, gm, "expert %lld gate is not topv * float(selection)", (long long)e);
  moe_take(m, mu);
  moe_take(m, gu);
  moe_take(m, gg);
  moe_take(m, rs);
  moe_take(m, gm);
  moe_take(m, ca);
  /* eo = expert(Gather(x, rows, axis 0)) */
  ir_value *eo = mu->in[1 - gi];
  if (!moe_match_expert_mlp(m, eo, NULL, e)) return false;
  ir_node *xg = pass_def(m->mlp_in, IR_OP_Gather);
  if (!xg || xg->in[0] != m->x || xg->in[1] != rows || ir_attr_int(xg, "axis", 0) != 0)
    return moe_fail(m, m->mlp_in->def, "expert %lld does not run on x[rows]", (long long)e);
  moe_take(m, xg);
  return true;
}

bool moe_match_combine_loop(moe_match *m, ir_node *end) {
  ir_value *acc = end->out[0];
  int steps = 0;
  for (;;) {
    ir_node *n = acc->def;
    if (!n || acc->konst) break;
    ir_node *sc;
    ir_value *next, *idx, *upd, *shape_of;
    if (n->op == IR_OP_ScatterElements) {
      if (strcmp(ir_attr_str(n, "reduction", "none"), "add") || ir_attr_int(n, "axis", 0) != 0)
        return moe_fail(m, n, "combine scatter must be axis 0 with reduction=add");
      sc = n, next = n->in[0], idx = n->in[1], upd = n->in[2], shape_of = upd;
    } else if (n->op == IR_OP_Add) {
      int si = pass_def(n->in[1], IR_OP_ScatterElements) ? 1 : 0;
      sc = pass_def(n->in[si], IR_OP_ScatterElements);
      if (!sc) return moe_fail(m, n, "combine Add does not add a scatter");
      if (strcmp(ir_attr_str(sc, "reduction", "none"), "none") || ir_attr_int(sc, "axis", 0) != 0)
        return moe_fail(m, sc, "index_add scatter must be axis 0 without reduction");
      if (!moe_const_fill(sc->in[0], 0.0)) return moe_fail(m, sc, "index_add scatter must start from zeros");
      moe_take(m, n);
      next = n->in[1 - si], idx = sc->in[1], upd = sc->in[2], shape_of = upd;
      ir_node *ex = pass_def(upd, IR_OP_Expand);
      if (ex) { /* Expand(y, [1, d]) is y itself; checked once d is known */
        moe_take(m, ex);
        upd = ex->in[0];
      }
    } else {
      break;
    }
    moe_take(m, sc);
    if (!match_loop_expert(m, idx, upd, shape_of)) return false;
    ir_node *ex = pass_def(shape_of, IR_OP_Expand);
    if (ex) {
      int64_t sh[2];
      int ns = 0;
      if (!ir_const_ints(ex->in[1], sh, 2, &ns) || ns != 2 || sh[0] != 1 || sh[1] != m->d)
        return moe_fail(m, ex, "scatter updates are not expanded to (rows, %lld)", (long long)m->d);
    }
    int64_t od[2] = {m->rows, m->d};
    if (!moe_static_dims(sc->out[0], 2, od))
      return moe_fail(m, sc, "combine is not (rows, d)");
    steps++;
    acc = next;
    if (steps == m->E) break;
  }
  if (!steps) return moe_fail(m, end, "not a scatter-add combine");
  if (steps != m->E) return moe_fail(m, end, "combine has %d experts, the router %lld", steps, (long long)m->E);
  int64_t od[2] = {m->rows, m->d};
  if (!moe_static_dims(acc, 2, od) || !moe_const_fill(acc, 0.0))
    return moe_fail(m, end, "combine does not start from zeros(%lld, %lld)", (long long)m->rows, (long long)m->d);
  return true;
}

/* ---- masked style ----------------------------------------------------------------- */

/* g is gate[:, e:e+1]; returns e */
static bool match_gate_column(moe_match *m, ir_value *gs, int64_t *e) {
  ir_node *sl = pass_def(gs, IR_OP_Slice);
  if (!sl || sl->nin < 3) return moe_fail(m, gs->def, "expert gate is not a Slice of the gate matrix");
  int64_t st[2], en[2], ax[2] = {0, 1}, sp[2] = {1, 1};
  int nst, nen, nax = 2, nsp = 2;
  if (!ir_const_ints(sl->in[1], st, 2, &nst) || !ir_const_ints(sl->in[2], en, 2, &nen) || nst != nen ||
      (sl->nin > 3 && sl->in[3] && !ir_const_ints(sl->in[3], ax, 2, &nax)) ||
      (sl->nin > 4 && sl->in[4] && !ir_const_ints(sl->in[4], sp, 2, &nsp)) || nax != nst || nsp != nst)
    return moe_fail(m, sl, "gate Slice bounds are not constants");
  *e = -1;
  for (int i = 0; i < nst; i++) {
    int a = ir_norm_axis(ax[i], 2);
    if (sp[i] != 1) return moe_fail(m, sl, "gate Slice has a step");
    if (a == 0 && !(st[i] == 0 && en[i] >= m->rows)) return moe_fail(m, sl, "gate Slice drops rows");
    if (a == 1) {
      int64_t s = st[i] < 0 ? st[i] + m->E : st[i];
      if (en[i] != s + 1) return moe_fail(m, sl, "gate Slice is not one expert column");
      *e = s;
    }
  }
  if (*e < 0 || *e >= m->E) return moe_fail(m, sl, "gate Slice is not one expert column");
  moe_take(m, sl);
  return true;
}

/* gate = ScatterElements(zeros(rows,E), topi, topv, axis 1) [* Unsqueeze(keep, 1)] */
static bool match_gate_matrix(moe_match *m, ir_value *g) {
  ir_node *mu = pass_def(g, IR_OP_Mul), *sc = pass_def(g, IR_OP_ScatterElements);
  ir_value *keep = NULL;
  if (mu) {
    int ki = pass_def(mu->in[1], IR_OP_Unsqueeze) ? 1 : 0;
    ir_node *us = pass_def(mu->in[ki], IR_OP_Unsqueeze);
    sc = pass_def(mu->in[1 - ki], IR_OP_ScatterElements);
    if (!us || !sc || !pass_axes_are(us, 2, 1)) return moe_fail(m, mu, "gate is not scatter(topv) * keep[:, None]");
    keep = us->in[0];
    moe_take(m, mu);
    moe_take(m, us);
  }
  if (!sc) return moe_fail(m, g->def, "gate is not a ScatterElements of the TopK values");
  ir_node *t = pass_def(sc->in[1], IR_OP_TopK);
  if (!t || sc->in[1] != t->out[1] || sc->in[2] != t->out[0] ||
      strcmp(ir_attr_str(sc, "reduction", "none"), "none"))
    return moe_fail(m, sc, "gate is not scatter(topi, topv)");
  if (!moe_match_router(m, t)) return false;
  int64_t gd[2] = {m->rows, m->E};
  if (ir_norm_axis(ir_attr_int(sc, "axis", 0), 2) != 1 || !moe_static_dims(sc->in[0], 2, gd) ||
      !moe_const_fill(sc->in[0], 0.0))
    return moe_fail(m, sc, "gate must scatter into zeros(rows, E) along axis 1");
  moe_take(m, sc);
  if (keep && !moe_match_importance(m, keep)) return false;
  return true;
}

static bool is_gated_term(const ir_value *v) {
  ir_node *mu = pass_def(v, IR_OP_Mul);
  return mu && (pass_def(mu->in[0], IR_OP_Slice) || pass_def(mu->in[1], IR_OP_Slice));
}

static bool match_masked_term(moe_match *m, ir_value *t) {
  ir_node *mu = pass_def(t, IR_OP_Mul);
  int si = pass_def(mu->in[0], IR_OP_Slice) ? 0 : 1;
  ir_node *sl = pass_def(mu->in[si], IR_OP_Slice);
  if (!m->topk && !match_gate_matrix(m, sl->in[0])) return false;
  int64_t e = -1;
  if (!match_gate_column(m, mu->in[si], &e)) return false;
  moe_take(m, mu);
  return moe_match_expert_mlp(m, mu->in[1 - si], m->x, e);
}

static bool collect_terms(moe_match *m, ir_value *v, int depth) {
  if (is_gated_term(v)) return match_masked_term(m, v);
  ir_node *n = v->def;
  if (!n || v->konst || depth > MOE_MAX_E || (n->op != IR_OP_Add && n->op != IR_OP_Sum))
    return moe_fail(m, n, "expected a sum of gated expert outputs");
  moe_take(m, n);
  for (int i = 0; i < n->nin; i++)
    if (!collect_terms(m, n->in[i], depth + 1)) return false;
  return true;
}

bool moe_match_combine_masked(moe_match *m, ir_node *end) {
  if (end->op != IR_OP_Add && end->op != IR_OP_Sum) return moe_fail(m, end, "not a sum");
  /* quick reject: some operand must be a gated term or a sum */
  bool any = false;
  for (int i = 0; i < end->nin; i++) any |= is_gated_term(end->in[i]) || pass_def(end->in[i], IR_OP_Add);
  if (!any) return moe_fail(m, end, "not a sum of gated experts");
  if (!collect_terms(m, end->out[0], 0)) return false;
  /* all gate slices must read the one gate matrix */
  ir_value *gm = NULL;
  for (int i = 0; i < m->nnodes; i++) {
    ir_node *n = m->nodes[i];
    if (n->op != IR_OP_Slice) continue;
    if (gm && n->in[0] != gm) return moe_fail(m, n, "experts use different gate matrices");
    gm = n->in[0];
  }
  for (int64_t e = 0; e < m->E; e++)
    if (!m->ex[e].seen) return moe_fail(m, end, "expert %lld is missing from the sum", (long long)e);
  int64_t od[2] = {m->rows, m->d};
  if (!moe_static_dims(end->out[0], 2, od)) return moe_fail(m, end, "combine is not (rows, d)");
  return true;
}

/* ---- one-hot / einsum style (GShard, V-MoE) ------------------------------------------
 *   M0   = Cast(OneHot(topi, E, [0,1]), f32) [* Unsqueeze(Unsqueeze(keep, 1), 1|2)]  (N,k,E)
 *   MR   = Reshape(Transpose(M0, [1,0,2]), [kN, E])                   choice-major
 *   pos  = Sub(CumSum(MR, 0), 1)
 *   M1   = MR * Cast(Less(pos, cap), f32)                             capacity drop
 *   M3   = Unsqueeze(Cast(OneHot(Cast(ReduceSum(pos * M1, -1), i64), cap, [0,1]), f32), 1)
 *          * Unsqueeze(M1, 2)                                         (kN,E,cap)
 *   M4   = M3 * Unsqueeze(Unsqueeze(Reshape(Transpose(topv, [1,0]), [kN]), 1), 2)
 *   disp = ReduceSum(Reshape(M3, [k,N,E,cap]), 0), comb likewise from M4
 *   ye   = Einsum(ech,ehd->ecd, act(Einsum(ecd,edh->ech, Einsum(nec,nd->ecd, disp, x), W1) + b1), W2) + b2
 *   y    = Einsum(nec,ecd->nd, comb, ye)
 * which is mixc.moe with capacity = cap: an assignment's slot is its rank among
 * the kept assignments of its expert in choice-major order, and slots >= cap
 * are dropped (MODELS.md section 2, "Capacity"). */
#define REQ(c, node, ...) \
  do { \
    if (!(c)) return moe_fail(m, (node), __VA_ARGS__); \
  } while (0)

static bool is_onehot01(const ir_node *oh, int64_t *depth) {
  if (!oh || oh->op != IR_OP_OneHot || oh->nin < 3) return false;
  if (ir_norm_axis(ir_attr_int(oh, "axis", -1), oh->in[0]->type.rank + 1) != oh->in[0]->type.rank)
    return false;
  const ir_value *vals = oh->in[2];
  if (!vals->konst || vals->konst->numel != 2 || ir_tensor_get_f(vals->konst, 0) != 0 ||
      ir_tensor_get_f(vals->konst, 1) != 1)
    return false;
  const ir_value *dv = oh->in[1];
  if (!dv->konst || dv->konst->numel != 1) return false;
  double dd = ir_tensor_get_f(dv->konst, 0);
  *depth = (int64_t)dd;
  return (double)*depth == dd && *depth > 0;
}

static ir_node *cast_to(const ir_value *v, int to) {
  ir_node *c = pass_def(v, IR_OP_Cast);
  return c && ir_attr_int(c, "to", 0) == to ? c : NULL;
}

/* Mul n with operands {a, b} in either order, a satisfying `is_a`: a goes to *pa */
static bool mul_split(ir_node *n, ir_op aop, ir_value **pa, ir_value **pb) {
  if (!n || n->op != IR_OP_Mul) return false;
  for (int i = 0; i < 2; i++)
    if (pass_def(n->in[i], aop)) {
      *pa = n->in[i], *pb = n->in[1 - i];
      return true;
    }
  return false;
}

/* Unsqueeze(Unsqueeze(v, a0), a1) or Unsqueeze(v, [a0, a1]) of a rank-r value; returns v */
static ir_value *unsq2(moe_match *m, ir_value *u, int r, int64_t a0, int64_t a1) {
  ir_node *u1 = pass_def(u, IR_OP_Unsqueeze);
  if (!u1) return NULL;
  int64_t both[2] = {a0, a1};
  if (moe_axes_list(u1, r + 2, both, 2)) {
    moe_take(m, u1);
    return u1->in[0];
  }
  ir_node *u0 = pass_def(u1->in[0], IR_OP_Unsqueeze);
  if (!u0 || !pass_axes_are(u1, r + 2, a1) || !pass_axes_are(u0, r + 1, a0)) return NULL;
  moe_take(m, u1);
  moe_take(m, u0);
  return u0->in[0];
}

/* ReduceSum(Reshape(v, [k,N,E,cap]), axis 0, keepdims 0): returns v, the Reshape in *re */
static ir_value *sum_choices(moe_match *m, ir_value *s, ir_node **pre) {
  ir_node *rs = pass_def(s, IR_OP_ReduceSum);
  ir_node *re = rs ? pass_def(rs->in[0], IR_OP_Reshape) : NULL;
  if (!re || ir_attr_int(rs, "keepdims", 1) != 0 || !pass_axes_are(rs, 4, 0)) return NULL;
  moe_take(m, rs);
  moe_take(m, re);
  *pre = re;
  return re->in[0];
}

bool moe_match_combine_onehot(moe_match *m, ir_node *end) {
  REQ(moe_einsum_is(end, "nec,ecd->nd"), end, "not a one-hot combine Einsum nec,ecd->nd");
  moe_take(m, end);
  ir_value *comb = end->in[0], *ye = end->in[1];
  /* the gate-weighted and the plain dispatch masks */
  ir_node *re4 = NULL, *re3 = NULL;
  ir_value *m4 = sum_choices(m, comb, &re4);
  REQ(m4, comb->def, "combine mask is not the (k,N,E,cap) mask summed over the choices");
  ir_node *m4n = pass_def(m4, IR_OP_Mul);
  REQ(m4n, m4->def, "combine mask is not the dispatch mask times the gates");
  moe_take(m, m4n);
  /* find the dispatch Einsum through the experts */
  ir_node *a2 = pass_def(ye, IR_OP_Add);
  REQ(a2, ye->def, "expert outputs are not Einsum(ech,ehd->ecd) + bias");
  int e2i = pass_def(a2->in[0], IR_OP_Einsum) ? 0 : 1;
  ir_node *ein2 = pass_def(a2->in[e2i], IR_OP_Einsum);
  ir_value *b2 = a2->in[1 - e2i];
  REQ(moe_einsum_is(ein2, "ech,ehd->ecd") && b2->konst, a2, "expert outputs are not Einsum(ech,ehd->ecd) + constant bias");
  moe_take(m, a2);
  moe_take(m, ein2);
  ir_value *pre;
  const char *act;
  if (!moe_match_act(m, ein2->in[0], &pre, &act)) return false;
  ir_node *a1 = pass_def(pre, IR_OP_Add);
  REQ(a1, pre->def, "expert hidden layer is not Einsum(ecd,edh->ech) + bias");
  int e1i = pass_def(a1->in[0], IR_OP_Einsum) ? 0 : 1;
  ir_node *ein1 = pass_def(a1->in[e1i], IR_OP_Einsum);
  ir_value *b1 = a1->in[1 - e1i];
  REQ(moe_einsum_is(ein1, "ecd,edh->ech") && b1->konst, a1, "expert hidden layer is not Einsum(ecd,edh->ech) + constant bias");
  moe_take(m, a1);
  moe_take(m, ein1);
  ir_node *ein0 = pass_def(ein1->in[0], IR_OP_Einsum);
  REQ(moe_einsum_is(ein0, "nec,nd->ecd"), ein1, "expert inputs are not the dispatch Einsum nec,nd->ecd");
  moe_take(m, ein0);
  ir_value *m3 = sum_choices(m, ein0->in[0], &re3);
  REQ(m3, ein0, "dispatch mask is not the (k,N,E,cap) mask summed over the choices");
  /* M4 = M3 * gates */
  ir_value *g4 = m4n->in[0] == m3 ? m4n->in[1] : m4n->in[1] == m3 ? m4n->in[0] : NULL;
  REQ(g4, m4n, "combine mask is not the dispatch mask times the gates");
  /* M3 = Unsqueeze(Cast(OneHot(pos_row, cap)), 1) * Unsqueeze(M1, 2) */
  ir_node *m3n = pass_def(m3, IR_OP_Mul);
  REQ(m3n, m3->def, "dispatch mask is not one_hot(slot) * mask");
  moe_take(m, m3n);
  ir_value *u_oh = NULL, *u_m1 = NULL;
  for (int i = 0; i < 2; i++) {
    ir_node *u = pass_def(m3n->in[i], IR_OP_Unsqueeze);
    if (u && cast_to(u->in[0], IR_F32) && pass_def(cast_to(u->in[0], IR_F32)->in[0], IR_OP_OneHot))
      u_oh = m3n->in[i], u_m1 = m3n->in[1 - i];
  }
  REQ(u_oh, m3n, "dispatch mask is not Unsqueeze(one_hot(slot), 1) * Unsqueeze(mask, 2)");
  ir_node *uoh = u_oh->def, *um1 = pass_def(u_m1, IR_OP_Unsqueeze);
  REQ(um1 && pass_axes_are(uoh, 3, 1) && pass_axes_are(um1, 3, 2), m3n,
      "dispatch mask is not Unsqueeze(one_hot(slot), 1) * Unsqueeze(mask, 2)");
  moe_take(m, uoh);
  moe_take(m, um1);
  ir_node *c3 = cast_to(uoh->in[0], IR_F32), *oh2 = pass_def(c3->in[0], IR_OP_OneHot);
  int64_t cap = 0;
  REQ(is_onehot01(oh2, &cap), oh2, "slot one-hot must have values [0, 1], a constant depth, axis -1");
  moe_take(m, c3);
  moe_take(m, oh2);
  ir_value *m1 = um1->in[0];
  /* pos_row = Cast(ReduceSum(pos * M1, -1, keepdims 0), i64) */
  ir_node *c2 = cast_to(oh2->in[0], IR_I64), *rsp = c2 ? pass_def(c2->in[0], IR_OP_ReduceSum) : NULL;
  ir_node *mp = rsp ? pass_def(rsp->in[0], IR_OP_Mul) : NULL;
  REQ(mp && pass_axes_are(rsp, 2, 1) && ir_attr_int(rsp, "keepdims", 1) == 0, oh2,
      "slot index is not int64(sum(pos * mask, -1))");
  moe_take(m, c2);
  moe_take(m, rsp);
  moe_take(m, mp);
  /* M1 = MR * Cast(Less(pos, cap)) */
  ir_node *m1n = pass_def(m1, IR_OP_Mul);
  ir_value *mr = NULL, *keepc = NULL;
  REQ(m1n, m1->def, "capacity mask is not mask * (pos < cap)");
  for (int i = 0; i < 2; i++)
    if (cast_to(m1n->in[i], IR_F32) && pass_def(cast_to(m1n->in[i], IR_F32)->in[0], IR_OP_Less))
      keepc = m1n->in[i], mr = m1n->in[1 - i];
  REQ(keepc, m1n, "capacity mask is not mask * float(pos < cap)");
  moe_take(m, m1n);
  /* the router first, so that a later failure is reported against it:
   * MR = Reshape(Transpose(M0, [1,0,2]), [kN, E]); M0 = Cast(OneHot(topi)) [* keep] */
  ir_node *rr = pass_def(mr, IR_OP_Reshape), *tr = rr ? pass_def(rr->in[0], IR_OP_Transpose) : NULL;
  static const int64_t p102[3] = {1, 0, 2};
  REQ(tr && moe_perm_is(tr, 3, p102), mr->def, "mask is not made choice-major by Transpose [1,0,2] and Reshape");
  moe_take(m, rr);
  moe_take(m, tr);
  ir_value *m0 = tr->in[0], *keep = NULL;
  ir_node *kmul = pass_def(m0, IR_OP_Mul);
  if (kmul) {
    ir_value *cv = NULL, *kv = NULL;
    REQ(mul_split(kmul, IR_OP_Cast, &cv, &kv), kmul, "mask is not one_hot(topi) * keep");
    ir_value *kk = unsq2(m, kv, 1, 1, 1);
    if (!kk) kk = unsq2(m, kv, 1, 1, 2);
    REQ(kk, kmul, "keep mask is not broadcast as keep[:, None, None]");
    keep = kk;
    moe_take(m, kmul);
    m0 = cv;
  }
  ir_node *c0 = cast_to(m0, IR_F32), *oh1 = c0 ? pass_def(c0->in[0], IR_OP_OneHot) : NULL;
  int64_t E1 = 0;
  REQ(oh1 && is_onehot01(oh1, &E1), m0->def, "expert mask is not float(one_hot(topi, E))");
  moe_take(m, c0);
  moe_take(m, oh1);
  ir_node *t = pass_def(oh1->in[0], IR_OP_TopK);
  REQ(t && oh1->in[0] == t->out[1], oh1, "expert one-hot does not read the TopK indices");
  if (!moe_match_router(m, t)) return false;
  if (keep && !moe_match_importance(m, keep)) return false;
  ir_node *c1 = keepc->def, *ls = pass_def(c1->in[0], IR_OP_Less);
  moe_take(m, c1);
  moe_take(m, ls);
  ir_value *pos = ls->in[0];
  double capf = -1;
  REQ(moe_const_f(ls->in[1], &capf) || (ls->in[1]->konst && ls->in[1]->konst->numel == 1 &&
                                        (capf = ir_tensor_get_f(ls->in[1]->konst, 0), true)),
      ls, "capacity is not a constant");
  REQ(capf == (double)cap, ls, "capacity %g differs from the slot one-hot depth %lld", capf, (long long)cap);
  REQ((mp->in[0] == pos && mp->in[1] == m1) || (mp->in[1] == pos && mp->in[0] == m1), mp,
      "slot index is not sum(pos * capacity mask)");
  /* pos = CumSum(MR, 0) - 1 */
  ir_node *sb = pass_def(pos, IR_OP_Sub), *cs = sb ? pass_def(sb->in[0], IR_OP_CumSum) : NULL;
  double one = 0;
  int64_t csax = -1;
  REQ(cs && moe_const_f(sb->in[1], &one) && one == 1.0 && cs->in[0] == mr, pos->def,
      "slot positions are not cumsum(mask) - 1");
  REQ(moe_const_i(cs->in[1], &csax) && csax == 0 && !ir_attr_int(cs, "exclusive", 0) &&
          !ir_attr_int(cs, "reverse", 0),
      cs, "CumSum must run forward over axis 0, inclusive");
  moe_take(m, sb);
  moe_take(m, cs);
  const int64_t N = m->rows, E = m->E, k = m->k, d = m->d;
  REQ(E1 == E, oh1, "one-hot depth %lld is not the %lld experts", (long long)E1, (long long)E);
  REQ(cap >= 1, oh2, "capacity must be at least 1");
  /* shapes now that N, E, k and cap are known */
  int64_t rdims[2] = {k * N, E}, cdims[4] = {k, N, E, cap};
  REQ(moe_reshape_is(rr, 2, rdims), rr, "choice-major mask is not reshaped to (%lld, %lld)", (long long)(k * N), (long long)E);
  REQ(moe_reshape_is(re3, 4, cdims) && moe_reshape_is(re4, 4, cdims), re3,
      "masks are not reshaped to (k, N, E, cap) = (%lld, %lld, %lld, %lld)", (long long)k,
      (long long)N, (long long)E, (long long)cap);
  /* gates = Unsqueeze(Unsqueeze(Reshape(Transpose(topv, [1,0]), [kN]), 1), 2) */
  ir_value *gv = unsq2(m, g4, 1, 1, 2);
  ir_node *gr = gv ? pass_def(gv, IR_OP_Reshape) : NULL;
  ir_node *gt = gr ? pass_def(gr->in[0], IR_OP_Transpose) : NULL;
  static const int64_t p10[2] = {1, 0};
  int64_t gd[1] = {k * N};
  REQ(gt && moe_perm_is(gt, 2, p10) && gt->in[0] == t->out[0] && moe_reshape_is(gr, 1, gd), m4n,
      "gates are not topv made choice-major, broadcast as [:, None, None]");
  moe_take(m, gr);
  moe_take(m, gt);
  /* experts */
  ir_value *x = ein0->in[1], *w1 = ein1->in[1], *w2 = ein2->in[1];
  REQ(x == m->x, ein0, "the dispatch does not read the routed rows");
  REQ(w1->konst && w1->konst->dtype == IR_F32 && w1->konst->rank == 3 && w1->konst->dims[0] == E &&
          w1->konst->dims[1] == d,
      ein1, "fc1 weights are not a constant (%lld, %lld, h)", (long long)E, (long long)d);
  int64_t h = w1->konst->dims[2];
  REQ(w2->konst && w2->konst->dtype == IR_F32 && w2->konst->rank == 3 && w2->konst->dims[0] == E &&
          w2->konst->dims[1] == h && w2->konst->dims[2] == d,
      ein2, "fc2 weights are not a constant (%lld, %lld, %lld)", (long long)E, (long long)h, (long long)d);
  int64_t bd1[3] = {E, 1, h}, bd2[3] = {E, 1, d};
  REQ(b1->konst->dtype == IR_F32 && ((b1->konst->rank == 3 && !memcmp(b1->konst->dims, bd1, sizeof bd1))),
      a1, "fc1 bias is not a constant (%lld, 1, %lld)", (long long)E, (long long)h);
  REQ(b2->konst->dtype == IR_F32 && ((b2->konst->rank == 3 && !memcmp(b2->konst->dims, bd2, sizeof bd2))),
      a2, "fc2 bias is not a constant (%lld, 1, %lld)", (long long)E, (long long)d);
  m->w1s = w1, m->w2s = w2, m->b1s = b1, m->b2s = b2, m->h = h, m->act = act;
  m->capacity = cap;
  REQ(end->out[0]->type.rank == 2 && (!ir_dim_static(end->out[0]->type.dims[0]) || end->out[0]->type.dims[0].v == N) &&
          (!ir_dim_static(end->out[0]->type.dims[1]) || end->out[0]->type.dims[1].v == d),
      end, "combine is not (rows, d)");
  return true;
}

/* ---- per-image style (Mobile V-MoE) ---------------------------------------------------
 *   p = Softmax(Gemm|MatMul(ReduceMean(x, [1], keepdims 0), W_r) [+ b]); TopK;
 *   gate = ScatterElements(zeros(B,E), topi, topv, axis 1)
 *   y = sum over e of Unsqueeze(Unsqueeze(Gather(gate, e, axis 1), 1), 2) * expert_e(x)
 * with x (B,S,d): mixc.moe with granularity "image" and group S. */
static bool is_image_term(const ir_value *v) {
  ir_node *mu = pass_def(v, IR_OP_Mul);
  if (!mu) return false;
  for (int i = 0; i < 2; i++) {
    ir_node *u = pass_def(mu->in[i], IR_OP_Unsqueeze);
    if (u && (pass_def(u->in[0], IR_OP_Gather) ||
              (pass_def(u->in[0], IR_OP_Unsqueeze) && pass_def(pass_def(u->in[0], IR_OP_Unsqueeze)->in[0], IR_OP_Gather))))
      return true;
  }
  return false;
}

/* after the router: x3 = the (B,S,d) input of the ReduceMean the router reads */
static bool image_input(moe_match *m) {
  if (m->group) return true;
  ir_node *rm = pass_def(m->x, IR_OP_ReduceMean);
  REQ(rm, m->x->def, "per-image router does not read a mean over tokens");
  ir_value *x3 = rm->in[0];
  const ir_type *t = &x3->type;
  REQ(t->rank == 3 && ir_type_static(t) && t->dtype == IR_F32 && t->dims[0].v == m->rows &&
          t->dims[2].v == m->d,
      rm, "per-image router input must be static f32 (%lld, S, %lld)", (long long)m->rows, (long long)m->d);
  REQ(pass_axes_are(rm, 3, 1) && ir_attr_int(rm, "keepdims", 1) == 0, rm,
      "per-image router must average over the token axis 1 without keepdims");
  moe_take(m, rm);
  m->group = t->dims[1].v;
  m->x = x3;
  return true;
}

static bool match_image_term(moe_match *m, ir_value *tv) {
  ir_node *mu = pass_def(tv, IR_OP_Mul);
  int gi = -1;
  ir_value *gcol = NULL;
  for (int i = 0; i < 2 && !gcol; i++) {
    gcol = unsq2(m, mu->in[i], 1, 1, 2);
    gi = i;
  }
  REQ(gcol, mu, "expert gate is not gate[:, e, None, None]");
  ir_node *ga = pass_def(gcol, IR_OP_Gather);
  int64_t e = -1;
  REQ(ga && ir_norm_axis(ir_attr_int(ga, "axis", 0), 2) == 1 && moe_const_i(ga->in[1], &e) &&
          ga->in[1]->konst->rank == 0,
      gcol->def, "expert gate is not a Gather of one expert column of the gate");
  moe_take(m, ga);
  if (!m->topk) {
    ir_node *sc = pass_def(ga->in[0], IR_OP_ScatterElements);
    REQ(sc, ga, "per-image gate is not a ScatterElements of the TopK values");
    ir_node *t = pass_def(sc->in[1], IR_OP_TopK);
    REQ(t && sc->in[1] == t->out[1] && sc->in[2] == t->out[0] &&
            !strcmp(ir_attr_str(sc, "reduction", "none"), "none"),
        sc, "gate is not scatter(topi, topv)");
    if (!moe_match_router(m, t)) return false;
    int64_t gd[2] = {m->rows, m->E};
    REQ(ir_norm_axis(ir_attr_int(sc, "axis", 0), 2) == 1 && moe_static_dims(sc->in[0], 2, gd) &&
            moe_const_fill(sc->in[0], 0.0),
        sc, "gate must scatter into zeros(images, E) along axis 1");
    moe_take(m, sc);
    if (!image_input(m)) return false;
  }
  REQ(e >= 0 && e < m->E, ga, "expert index %lld out of range", (long long)e);
  moe_take(m, mu);
  return moe_match_expert_mlp(m, mu->in[1 - gi], m->x, e);
}

static bool collect_image_terms(moe_match *m, ir_value *v, int depth) {
  if (is_image_term(v)) return match_image_term(m, v);
  ir_node *n = v->def;
  if (!n || v->konst || depth > MOE_MAX_E || (n->op != IR_OP_Add && n->op != IR_OP_Sum))
    return moe_fail(m, n, "expected a sum of per-image gated expert outputs");
  moe_take(m, n);
  for (int i = 0; i < n->nin; i++)
    if (!collect_image_terms(m, n->in[i], depth + 1)) return false;
  return true;
}

bool moe_match_combine_image(moe_match *m, ir_node *end) {
  if (end->op != IR_OP_Add && end->op != IR_OP_Sum) return moe_fail(m, end, "not a sum");
  bool any = false;
  for (int i = 0; i < end->nin; i++) any |= is_image_term(end->in[i]);
  if (!any) return moe_fail(m, end, "not a sum of per-image gated experts");
  if (!collect_image_terms(m, end->out[0], 0)) return false;
  ir_value *gm = NULL;
  for (int i = 0; i < m->nnodes; i++) {
    ir_node *n = m->nodes[i];
    if (n->op != IR_OP_Gather) continue;
    if (gm && n->in[0] != gm) return moe_fail(m, n, "experts use different gate matrices");
    gm = n->in[0];
  }
  REQ(gm && gm->def && gm->def->op == IR_OP_ScatterElements && gm->def->id == m->stamp, end,
      "experts do not read the routing gate");
  for (int64_t e = 0; e < m->E; e++)
    if (!m->ex[e].seen) return moe_fail(m, end, "expert %lld is missing from the sum", (long long)e);
  int64_t od[3] = {m->rows, m->group, m->d};
  REQ(moe_static_dims(end->out[0], 3, od), end, "combine is not (images, S, d)");
  m->rows *= m->group;
  return true;
}
