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
 *
 * Requires: see raise_moe.c. Each function fills the match or fails with the
 * node and the reason. */
#include "raise_moe.h"

#include <string.h>

/* ---- loop style ------------------------------------------------------------------- */

/* sel = Equal(topi, e) [And keepb]; returns e */
static bool match_loop_sel(moe_match *m, ir_value *sel, int64_t *e) {
  ir_node *eq = moe_def(sel, IR_OP_Equal), *an = moe_def(sel, IR_OP_And);
  if (an) {
    for (int i = 0; i < 2 && !eq; i++) {
      ir_node *e2 = moe_def(an->in[i], IR_OP_Equal);
      ir_node *us = moe_def(an->in[1 - i], IR_OP_Unsqueeze);
      ir_node *gt = us ? moe_def(us->in[0], IR_OP_Greater) : NULL;
      double half;
      if (!e2 || !gt || !moe_axes_are(us, 2, 1) || !moe_const_f(gt->in[1], &half) || half <= 0 ||
          half >= 1)
        continue;
      eq = e2;
      moe_take(m, an);
      moe_take(m, us);
      moe_take(m, gt);
      if (!moe_def(eq->in[0], IR_OP_TopK)) return moe_fail(m, eq, "expert selection does not compare TopK indices");
      if (!moe_match_router(m, moe_def(eq->in[0], IR_OP_TopK))) return false;
      if (!moe_match_importance(m, gt->in[0])) return false;
    }
    if (!eq) return moe_fail(m, an, "expert selection is not Equal(topi, e) And keep-mask");
  }
  if (!eq) return moe_fail(m, sel->def, "expert selection is not Equal(topi, e)");
  ir_node *t = moe_def(eq->in[0], IR_OP_TopK);
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
  ir_node *ex = moe_def(idx, IR_OP_Expand);
  ir_node *us = ex ? moe_def(ex->in[0], IR_OP_Unsqueeze) : NULL;
  if (!ex || !us || !moe_axes_are(us, 2, 1)) return moe_fail(m, idx->def, "scatter indices are not Expand(Unsqueeze(rows, 1))");
  moe_take(m, ex);
  moe_take(m, us);
  ir_value *rows = us->in[0];
  /* rows = Gather(Transpose(NonZero(sel), [1,0]), 0, axis 1) */
  ir_node *ga = moe_def(rows, IR_OP_Gather);
  ir_node *tr = ga ? moe_def(ga->in[0], IR_OP_Transpose) : NULL;
  ir_node *nz = tr ? moe_def(tr->in[0], IR_OP_NonZero) : NULL;
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
  ir_node *shp = moe_def(ex->in[1], IR_OP_Shape);
  if (shp) {
    if (shp->in[0] != shape_of_upd || ir_attr_find(shp, "start") || ir_attr_find(shp, "end"))
      return moe_fail(m, shp, "scatter index shape is not the shape of the updates");
    moe_take(m, shp);
  } else if (!ir_const_ints(ex->in[1], sh, 2, &ns) || ns != 2 || sh[0] != 1 || sh[1] != m->d) {
    return moe_fail(m, ex, "scatter indices are not expanded to (rows, %lld)", (long long)m->d);
  }
  /* upd = Mul(eo, Unsqueeze(Gather(gvec, rows), [1])) */
  ir_node *mu = moe_def(upd, IR_OP_Mul);
  if (!mu) return moe_fail(m, upd->def, "expert %lld output is not multiplied by its gate", (long long)e);
  int gi = moe_def(mu->in[1], IR_OP_Unsqueeze) ? 1 : 0;
  ir_node *gu = moe_def(mu->in[gi], IR_OP_Unsqueeze);
  ir_node *gg = gu ? moe_def(gu->in[0], IR_OP_Gather) : NULL;
  if (!gg || !moe_axes_are(gu, 2, 1) || gg->in[1] != rows || ir_attr_int(gg, "axis", 0) != 0)
    return moe_fail(m, mu, "expert %lld gate is not gate_vector[rows][:, None]", (long long)e);
  /* gvec = ReduceSum(Mul(topv, Cast(sel)), -1, keepdims 0) */
  ir_node *rs = moe_def(gg->in[0], IR_OP_ReduceSum);
  ir_node *gm = rs ? moe_def(rs->in[0], IR_OP_Mul) : NULL;
  if (!gm || !moe_axes_are(rs, 2, 1) || ir_attr_int(rs, "keepdims", 1) != 0)
    return moe_fail(m, gg, "expert %lld gate vector is not sum(topv * selection, -1)", (long long)e);
  int ci = moe_def(gm->in[1], IR_OP_Cast) ? 1 : 0;
  ir_node *ca = moe_def(gm->in[ci], IR_OP_Cast);
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
  ir_node *xg = moe_def(m->mlp_in, IR_OP_Gather);
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
      int si = moe_def(n->in[1], IR_OP_ScatterElements) ? 1 : 0;
      sc = moe_def(n->in[si], IR_OP_ScatterElements);
      if (!sc) return moe_fail(m, n, "combine Add does not add a scatter");
      if (strcmp(ir_attr_str(sc, "reduction", "none"), "none") || ir_attr_int(sc, "axis", 0) != 0)
        return moe_fail(m, sc, "index_add scatter must be axis 0 without reduction");
      if (!moe_const_fill(sc->in[0], 0.0)) return moe_fail(m, sc, "index_add scatter must start from zeros");
      moe_take(m, n);
      next = n->in[1 - si], idx = sc->in[1], upd = sc->in[2], shape_of = upd;
      ir_node *ex = moe_def(upd, IR_OP_Expand);
      if (ex) { /* Expand(y, [1, d]) is y itself; checked once d is known */
        moe_take(m, ex);
        upd = ex->in[0];
      }
    } else {
      break;
    }
    moe_take(m, sc);
    if (!match_loop_expert(m, idx, upd, shape_of)) return false;
    ir_node *ex = moe_def(shape_of, IR_OP_Expand);
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
  ir_node *sl = moe_def(gs, IR_OP_Slice);
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
  ir_node *mu = moe_def(g, IR_OP_Mul), *sc = moe_def(g, IR_OP_ScatterElements);
  ir_value *keep = NULL;
  if (mu) {
    int ki = moe_def(mu->in[1], IR_OP_Unsqueeze) ? 1 : 0;
    ir_node *us = moe_def(mu->in[ki], IR_OP_Unsqueeze);
    sc = moe_def(mu->in[1 - ki], IR_OP_ScatterElements);
    if (!us || !sc || !moe_axes_are(us, 2, 1)) return moe_fail(m, mu, "gate is not scatter(topv) * keep[:, None]");
    keep = us->in[0];
    moe_take(m, mu);
    moe_take(m, us);
  }
  if (!sc) return moe_fail(m, g->def, "gate is not a ScatterElements of the TopK values");
  ir_node *t = moe_def(sc->in[1], IR_OP_TopK);
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
  ir_node *mu = moe_def(v, IR_OP_Mul);
  return mu && (moe_def(mu->in[0], IR_OP_Slice) || moe_def(mu->in[1], IR_OP_Slice));
}

static bool match_masked_term(moe_match *m, ir_value *t) {
  ir_node *mu = moe_def(t, IR_OP_Mul);
  int si = moe_def(mu->in[0], IR_OP_Slice) ? 0 : 1;
  ir_node *sl = moe_def(mu->in[si], IR_OP_Slice);
  if (!m->topk && !match_gate_matrix(m, sl->in[0])) return false;
  int64_t e;
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
  for (int i = 0; i < end->nin; i++) any |= is_gated_term(end->in[i]) || moe_def(end->in[i], IR_OP_Add);
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

/* ---- one-hot / einsum style (not yet) --------------------------------------------- */
bool moe_match_combine_onehot(moe_match *m, ir_node *end) {
  return moe_fail(m, end, "one-hot/einsum combine is not matched yet");
}
