/* infer_moe.c - shape and type inference of mixc.moe, the fused routed MoE
 * layer that passes/raise_moe.c creates (its semantics: runtime/kernels/moe.c).
 *
 * Inputs: x (rows,d) f32, W_g (d,E), router bias (E) or omitted, fc1 (E,d,h),
 * fc1 bias (E,h) or omitted, fc2 (E,h,d), fc2 bias (E,d) or omitted. Outputs:
 * y (rows,d) with x's dtype, and scratch u8[B], the kernel's working memory,
 * consumed by no node: giving it a value lets the backend's arena planner
 * allot it like any intermediate. B = mixc_moe_scratch_bytes(rows,d,h,E,k)
 * (runtime/kernels/moe.h, shared with the kernel); unknown while rows is not
 * static (it becomes static when the backend binds the symbolic dims).
 *
 * Requires: ir_infer_node's checks (arity, present inputs typed). */
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "runtime/kernels/moe.h"

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
  static const char *nm[] = {"x", "W_g", "router bias", "fc1", "fc1 bias", "fc2", "fc2 bias"};
  static const int rank[] = {2, 2, 1, 3, 2, 3, 2};
  for (int i = 3; i <= 5; i += 2)
    if (!in_type(n, i)) {
      ir_error_in(cx->d, n, i, "mixc.moe needs input %d (%s)", i, nm[i]);
      return false;
    }
  const ir_type *x = in_type(n, 0);
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
    if (t->rank != rank[i]) {
      ir_error_in(cx->d, n, i, "mixc.moe %s must have rank %d", nm[i], rank[i]);
      return false;
    }
  }
  ir_dim rows = x->dims[0], d = x->dims[1], E = in_type(n, 1)->dims[1];
  ir_dim h = in_type(n, 3)->dims[2];
  /* every operand's dims against (rows, d, h, E) */
  ir_dim want[7][3] = {{rows, d}, {d, E}, {E}, {E, d, h}, {E, h}, {E, h, d}, {E, d}};
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
  ir_dim ydims[2] = {rows, d};
  if (!set_type(cx, n, 0, x->dtype, 2, ydims)) return false;
  ir_dim sb = {-1, NULL};
  if (ir_dim_static(rows) && ir_dim_static(d) && ir_dim_static(h) && ir_dim_static(E))
    sb.v = mixc_moe_scratch_bytes(rows.v, d.v, h.v, E.v, k);
  return set_type(cx, n, 1, IR_U8, 1, &sb);
}
