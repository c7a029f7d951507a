/* infer_moe.c - shape and type inference of mixc.moe, the fused routed MoE
 * layer that passes/raise_moe.c creates (its semantics: runtime/kernels/moe.c).
 *
 * Inputs: x (rows,d) f32, W_g (d,E), router bias (E) or omitted, fc1 (E,d,h),
 * fc1 bias (E,h) or omitted, fc2 (E,h,d), fc2 bias (E,d) or omitted, and
 * optionally a residual of x's type, added to y (fuse-epilogue). Outputs:
 * y (rows,d) with x's dtype, and scratch u8[B], the kernel's working memory,
 * consumed by no node: giving it a value lets the backend's arena planner
 * allot it like any intermediate. B = mixc_moe_scratch_bytes(rows/group,group,d,h,E,k)
 * (runtime/kernels/moe.h, shared with the kernel); unknown while rows is not
 * static (it becomes static when the backend binds the symbolic dims).
 *
 * With granularity "image", x may be (B,S,d) (y then has that shape) and the
 * routing arrays of the scratch are per group of `group` rows.
 *
 * With rows_transposed = 1 (passes/strided_moe.c), x is (B, d, T) and the
 * routed rows are its B*T columns x[b,:,c], row r = b*T + c (the rows of
 * Reshape(Transpose(x, [0,2,1]), [B*T, d])); y has x's shape and layout. It
 * needs router "gate" and granularity "row".
 *
 * With router "logits" (raised from com.microsoft.MoE), input 1 is the router
 * logits (rows, E), rows = all leading dims of x flattened, in place of W_g;
 * the router bias must be omitted and granularity must be "row".
 *
 * mixc.soft_moe (passes/raise_soft_moe.c, runtime/kernels/moe_soft.c): x
 * (B,m,d) f32, phi (d,S), fc1 (n,d,h), fc1 bias (n,h)|_, fc2 (n,h,d), fc2 bias
 * (n,d)|_ with S = n * slots_per_expert; y (B,m,d) and scratch u8[B'] with
 * B' = mixc_moe_soft_scratch_bytes(B,m,d,n,p,h).
 *
 * Requires: ir_infer_node's checks (arity, present inputs typed). */
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "runtime/kernels/moe.h"
#include "runtime/kernels/moe_soft.h"

static bool dim_is(ir_dim a, ir_dim b) {
  if (!ir_dim_static(a) || !ir_dim_static(b)) return true; /* cannot tell: accept */
  return a.v == b.v;
}

static bool set_type(ir_ctx *cx, ir_node *n, int i, ir_dtype dt, int rank, const ir_dim *dims) {
  ir_value *v = n->out[i];
  if (!v) return true;
  ir_type *t = &v->type;
  if (t->dtype != IR_UNDEF && t->dtype != dt) {
    ir_error(cx->d, n, "output %d has dtype %s, but mixc.moe gives %s", i,
             ir_dtype_name(t->dtype), ir_dtype_name(dt));
    return false;
  }
  if (t->rank >= 0 && t->rank != rank) {
    ir_error(cx->d, n, "output %d has rank %d, but mixc.moe gives rank %d", i, t->rank, rank);
    return false;
  }
  ir_dim *nd = ir_alloc(cx->g->arena, sizeof(ir_dim) * (size_t)(rank ? rank : 1));
  for (int k = 0; k < rank; k++) {
    ir_dim old = t->rank >= 0 ? t->dims[k] : (ir_dim){-1, NULL};
    if (ir_dim_static(old) && ir_dim_static(dims[k]) && old.v != dims[k].v) {
      ir_error(cx->d, n, "output %d dim %d is %lld, but mixc.moe gives %lld", i, k,
               (long long)old.v, (long long)dims[k].v);
      return false;
    }
    nd[k] = ir_dim_static(dims[k]) || dims[k].sym ? dims[k] : old;
  }
  t->dtype = dt;
  t->rank = rank;
  t->dims = nd;
  return true;
}

static const ir_type *in_type(const ir_node *n, int i) {
  return i < n->nin && n->in[i] ? &n->in[i]->type : NULL;
}

bool infer_mixc_moe(ir_ctx *cx, ir_node *n) {
  const char *router = ir_attr_str(n, "router", "gate");
  bool logits = !strcmp(router, "logits");
  if (!logits && strcmp(router, "gate")) {
    ir_error(cx->d, n, "mixc.moe router \"%s\" is not \"gate\" or \"logits\"", router);
    return false;
  }
  const char *nm[] = {"x", logits ? "logits" : "W_g", "router bias", "fc1", "fc1 bias", "fc2",
                      "fc2 bias"};
  static const int rank[] = {2, 2, 1, 3, 2, 3, 2};
  if (!in_type(n, 1)) {
    ir_error_in(cx->d, n, 1, "mixc.moe needs input 1 (%s)", nm[1]);
    return false;
  }
  if (logits && in_type(n, 2)) {
    ir_error_in(cx->d, n, 2, "mixc.moe with router \"logits\" takes no router bias: add it to "
                "the logits");
    return false;
  }
  for (int i = 3; i <= 5; i += 2)
    if (!in_type(n, i)) {
      ir_error_in(cx->d, n, i, "mixc.moe needs input %d (%s)", i, nm[i]);
      return false;
    }
  const ir_type *x = in_type(n, 0);
  if (x->rank != 2 && x->rank != 3) {
    ir_error_in(cx->d, n, 0, "mixc.moe x must be (rows, d) or (B, S, d)");
    return false;
  }
  if (x->dtype != IR_F32) {
    ir_error_in(cx->d, n, 0, "mixc.moe supports f32 only, got %s", ir_dtype_name(x->dtype));
    return false;
  }
  for (int i = 0; i < n->nin && i < 7; i++) {
    const ir_type *t = in_type(n, i);
    if (!t) continue;
    if (t->dtype != x->dtype) {
      ir_error_in(cx->d, n, i, "mixc.moe %s must be %s like x", nm[i], ir_dtype_name(x->dtype));
      return false;
    }
    if (i > 0 && t->rank != rank[i]) {
      ir_error_in(cx->d, n, i, "mixc.moe %s must have rank %d", nm[i], rank[i]);
      return false;
    }
  }
  int64_t trans = ir_attr_int(n, "rows_transposed", 0);
  int64_t group = ir_attr_int(n, "group", 1);
  bool image = !strcmp(ir_attr_str(n, "granularity", "row"), "image");
  if (trans != 0 && (trans != 1 || x->rank != 3 || logits || image || group != 1)) {
    ir_error(cx->d, n, "mixc.moe rows_transposed = %lld: transposed rows need the value 1, x of "
             "rank 3, router \"gate\" and granularity \"row\"", (long long)trans);
    return false;
  }
  /* rows: all dims of x but the last (but the middle one when transposed) */
  int rd = trans ? 1 : x->rank - 1; /* the dim along a row */
  ir_dim rows = x->dims[0], d = x->dims[rd], E = in_type(n, 1)->dims[1];
  if (x->rank == 3) {
    ir_dim o = x->dims[trans ? 2 : 1];
    rows = ir_dim_static(x->dims[0]) && ir_dim_static(o) ? (ir_dim){x->dims[0].v * o.v, NULL}
                                                          : (ir_dim){-1, NULL};
  }
  if (logits && (image || group != 1)) {
    ir_error(cx->d, n, "mixc.moe with router \"logits\" routes every row: granularity must be "
             "\"row\"");
    return false;
  }
  if (group < 1 || (!image && group != 1) ||
      (ir_dim_static(rows) && rows.v % group) ||
      (image && x->rank == 3 && ir_dim_static(x->dims[1]) && x->dims[1].v != group)) {
    ir_error(cx->d, n, "mixc.moe group %lld does not fit granularity \"%s\" and x", (long long)group,
             image ? "image" : "row");
    return false;
  }
  ir_dim h = in_type(n, 3)->dims[2];
  /* every operand's dims against (rows, d, h, E) */
  ir_dim want[7][3] = {{rows, d}, {logits ? rows : d, E}, {E}, {E, d, h}, {E, h}, {E, h, d}, {E, d}};
  for (int i = 1; i < n->nin && i < 7; i++) {
    const ir_type *t = in_type(n, i);
    if (!t) continue;
    for (int k = 0; k < rank[i]; k++)
      if (!dim_is(t->dims[k], want[i][k])) {
        ir_error_in(cx->d, n, i, "mixc.moe %s dim %d is %lld, expected %lld", nm[i], k,
                    (long long)t->dims[k].v, (long long)want[i][k].v);
        return false;
      }
  }
  int64_t k = ir_attr_int(n, "k", 1);
  if (ir_dim_static(E) && (k < 1 || k > E.v)) {
    ir_error(cx->d, n, "mixc.moe k=%lld must be in 1..%lld", (long long)k, (long long)E.v);
    return false;
  }
  const ir_type *res = in_type(n, 7);
  if (res && (res->dtype != x->dtype || res->rank != x->rank)) {
    ir_error_in(cx->d, n, 7, "mixc.moe residual must have x's type");
    return false;
  }
  for (int i = 0; res && i < x->rank; i++)
    if (!dim_is(res->dims[i], x->dims[i])) {
      ir_error_in(cx->d, n, 7, "mixc.moe residual dim %d is %lld, expected %lld as in x", i,
                  (long long)res->dims[i].v, (long long)x->dims[i].v);
      return false;
    }
  if (!set_type(cx, n, 0, x->dtype, x->rank, x->dims)) return false;
  ir_dim sb = {-1, NULL};
  if (ir_dim_static(rows) && ir_dim_static(d) && ir_dim_static(h) && ir_dim_static(E))
    sb.v = mixc_moe_scratch_bytes(rows.v / group, group, d.v, h.v, E.v, k);
  return set_type(cx, n, 1, IR_U8, 1, &sb);
}

bool infer_mixc_soft_moe(ir_ctx *cx, ir_node *n) {
  static const char *nm[] = {"x", "phi", "fc1", "fc1 bias", "fc2", "fc2 bias"};
  static const int rank[] = {3, 2, 3, 2, 3, 2};
  for (int i = 0; i <= 4; i += 2)
    if (!in_type(n, i)) {
      ir_error_in(cx->d, n, i, "mixc.soft_moe needs input %d (%s)", i, nm[i]);
      return false;
    }
  for (int i = 0; i < n->nin && i < 6; i++) {
    const ir_type *t = in_type(n, i);
    if (!t) continue;
    if (t->dtype != IR_F32 || t->rank != rank[i]) {
      ir_error_in(cx->d, n, i, "mixc.soft_moe %s must be f32 of rank %d", nm[i], rank[i]);
      return false;
    }
  }
  const ir_type *x = in_type(n, 0);
  ir_dim m = x->dims[1], d = x->dims[2], S = in_type(n, 1)->dims[1];
  ir_dim E = in_type(n, 2)->dims[0], h = in_type(n, 2)->dims[2];
  int64_t P = ir_attr_int(n, "slots_per_expert", 0);
  if (P < 1 || (ir_dim_static(E) && ir_dim_static(S) && E.v * P != S.v)) {
    ir_error(cx->d, n, "mixc.soft_moe: %lld slots per expert do not fit the slots of phi",
             (long long)P);
    return false;
  }
  ir_dim want[6][3] = {{x->dims[0], m, d}, {d, S}, {E, d, h}, {E, h}, {E, h, d}, {E, d}};
  for (int i = 1; i < n->nin && i < 6; i++) {
    const ir_type *t = in_type(n, i);
    if (!t) continue;
    for (int k = 0; k < rank[i]; k++)
      if (!dim_is(t->dims[k], want[i][k])) {
        ir_error_in(cx->d, n, i, "mixc.soft_moe %s dim %d is %lld, expected %lld", nm[i], k,
                    (long long)t->dims[k].v, (long long)want[i][k].v);
        return false;
      }
  }
  if (!set_type(cx, n, 0, x->dtype, 3, x->dims)) return false;
  ir_dim sb = {-1, NULL};
  if (ir_dim_static(x->dims[0]) && ir_dim_static(m) && ir_dim_static(d) && ir_dim_static(h) &&
      ir_dim_static(E))
    sb.v = mixc_moe_soft_scratch_bytes(x->dims[0].v, m.v, d.v, E.v, P, h.v);
  return set_type(cx, n, 1, IR_U8, 1, &sb);
}
