/* infer_fused.c - shape and type inference of the fused ops that passes
 * create: mixc.elementwise (its program's parser is here too, shared with the
 * backend), and mixc.matmul, the GEMM with a fused epilogue that
 * passes/sink_transpose.c and passes/fuse_epilogue.c create (ops.def has its
 * one-line definition, docs/mir.md the full one):
 *
 *   A, B, bias|_, residual|_ -> Y = act(op(A) @ op(B) + bias) + residual
 *
 * op(X) is X with its last two dims swapped when trans_X = 1. With op(A) of
 * shape (..., m, k) and op(B) of shape (..., k, n), Y is (batch..., m, n), the
 * batch dims broadcast like numpy MatMul. Both operands have rank >= 2 (the
 * 1-D promotion of MatMul is not part of this op). bias is 1-D, of length n
 * (bias_axis 0) or m (bias_axis 1). residual has exactly Y's shape: no
 * broadcasting. Every operand has A's dtype, f32 or f64.
 *
 * Requires: ir_infer_node's checks (arity, present inputs typed). Dims that
 * are not static (symbols, unknown) are accepted wherever they cannot be
 * proven wrong. */
#include <stdio.h>
#include <string.h>

#include "infer.h"

static const char *const acts[] = {"none", "relu", "gelu_erf", "gelu_tanh", "silu", "sigmoid"};

int ir_fused_act_code(const char *act) {
  if (!act) return 0;
  for (int i = 0; i < (int)(sizeof acts / sizeof *acts); i++)
    if (!strcmp(act, acts[i])) return i;
  return -1;
}

static const ir_type *in_type(const ir_node *n, int i) {
  return i < n->nin && n->in[i] ? &n->in[i]->type : NULL;
}

/* a and b cannot be told apart: equal static dims, the same symbol, or not
 * both known. */
static bool dim_fits(ir_dim a, ir_dim b) {
  if (ir_dim_static(a) && ir_dim_static(b)) return a.v == b.v;
  return true;
}

static bool flag_attr(ir_ctx *cx, ir_node *n, const char *name, int64_t *v) {
  *v = ir_attr_int(n, name, 0);
  if (*v == 0 || *v == 1) return true;
  ir_error(cx->d, n, "mixc.matmul %s must be 0 or 1, got %lld", name, (long long)*v);
  return false;
}

bool infer_mixc_matmul(ir_ctx *cx, ir_node *n) {
  static const char *nm[] = {"A", "B", "bias", "residual"};
  const ir_type *a = in_type(n, 0), *b = in_type(n, 1), *bias = in_type(n, 2), *res = in_type(n, 3);
  if (a->dtype != IR_F32 && a->dtype != IR_F64) {
    ir_error_in(cx->d, n, 0, "mixc.matmul supports f32 and f64, got %s", ir_dtype_name(a->dtype));
    return false;
  }
  for (int i = 1; i < 4; i++) {
    const ir_type *t = in_type(n, i);
    if (t && t->dtype != a->dtype) {
      ir_error_in(cx->d, n, i, "mixc.matmul %s is %s but A is %s; they must have the same type",
                  nm[i], ir_dtype_name(t->dtype), ir_dtype_name(a->dtype));
      return false;
    }
  }
  int64_t ta, tb, axis;
  if (!flag_attr(cx, n, "trans_a", &ta) || !flag_attr(cx, n, "trans_b", &tb) ||
      !flag_attr(cx, n, "bias_axis", &axis))
    return false;
  const char *act = ir_attr_str(n, "act", "none");
  if (ir_fused_act_code(act) < 0) {
    ir_error(cx->d, n, "mixc.matmul act \"%s\" is not one of none, relu, gelu_erf, gelu_tanh, "
             "silu, sigmoid", act);
    return false;
  }
  for (int i = 0; i < 2; i++) {
    const ir_type *t = in_type(n, i);
    if (t->rank >= 0 && t->rank < 2) {
      ir_error_in(cx->d, n, i, "mixc.matmul %s must have rank >= 2, got rank %d", nm[i], t->rank);
      return false;
    }
  }
  if (bias && bias->rank >= 0 && bias->rank != 1) {
    ir_error_in(cx->d, n, 2, "mixc.matmul bias must be 1-D, got rank %d", bias->rank);
    return false;
  }
  if (a->rank < 0 || b->rank < 0) return ir_infer_set_out(cx, n, 0, a->dtype, -1, NULL);

  int ra = a->rank, rb = b->rank;
  ir_dim m = a->dims[ra - 2 + ta], ka = a->dims[ra - 1 - ta];
  ir_dim kb = b->dims[rb - 2 + tb], nn = b->dims[rb - 1 - tb];
  if (!dim_fits(ka, kb)) {
    ir_error(cx->d, n, "mixc.matmul inner dimensions differ: %lld vs %lld (A %s, B %s, "
             "trans_a=%lld, trans_b=%lld)", (long long)ka.v, (long long)kb.v,
             ir_dims_str(cx, ra, a->dims), ir_dims_str(cx, rb, b->dims), (long long)ta,
             (long long)tb);
    return false;
  }
  int r;
  ir_dim d[IR_MAX_RANK];
  if (!ir_broadcast(cx, n, ra - 2, a->dims, rb - 2, b->dims, &r, d)) return false;
  if (r + 2 > IR_MAX_RANK) {
    ir_error(cx->d, n, "output would have rank %d; at most %d is supported", r + 2, IR_MAX_RANK);
    return false;
  }
  d[r++] = m;
  d[r++] = nn;

  if (bias && bias->rank == 1 && !dim_fits(bias->dims[0], axis ? m : nn)) {
    ir_error_in(cx->d, n, 2, "mixc.matmul bias has %lld elements but the output's %s dim is %lld "
                "(bias_axis=%lld, output %s)", (long long)bias->dims[0].v, axis ? "m" : "n",
                (long long)(axis ? m : nn).v, (long long)axis, ir_dims_str(cx, r, d));
    return false;
  }
  if (res && res->rank >= 0) {
    bool same = res->rank == r;
    for (int i = 0; same && i < r; i++) same = dim_fits(res->dims[i], d[i]);
    if (!same) {
      ir_error_in(cx->d, n, 3, "mixc.matmul residual %s does not have the output's shape %s",
                  ir_dims_str(cx, res->rank, res->dims), ir_dims_str(cx, r, d));
      return false;
    }
  }
  return ir_infer_set_out(cx, n, 0, a->dtype, r, d);
}

/* ---- mixc.elementwise ------------------------------------------------------------ */

int ir_ew_op_arity(ir_op op) {
  switch (op) {
  case IR_OP_Abs: case IR_OP_Neg: case IR_OP_Exp: case IR_OP_Log: case IR_OP_Sqrt:
  case IR_OP_Reciprocal: case IR_OP_Relu: case IR_OP_Sigmoid: case IR_OP_Tanh: case IR_OP_Erf:
  case IR_OP_Floor: case IR_OP_Ceil: case IR_OP_Round: case IR_OP_Sign: case IR_OP_Sin:
  case IR_OP_Cos: case IR_OP_Tan: case IR_OP_Asin: case IR_OP_Acos: case IR_OP_Atan:
  case IR_OP_Sinh: case IR_OP_Cosh: case IR_OP_Asinh: case IR_OP_Acosh: case IR_OP_Atanh:
  case IR_OP_Softsign: case IR_OP_Softplus: case IR_OP_Mish:
    return 1;
  case IR_OP_Add: case IR_OP_Sub: case IR_OP_Mul: case IR_OP_Div: case IR_OP_Max: case IR_OP_Min:
    return 2;
  default:
    return 0;
  }
}

bool ir_ew_one_element(const ir_type *t) {
  if (t->rank < 0) return false;
  for (int d = 0; d < t->rank; d++)
    if (!ir_dim_static(t->dims[d]) || t->dims[d].v != 1) return false;
  return true;
}

/* One operand "xI" or "tJ" at *s; -1 if malformed or out of range. */
static int ew_operand(const char **s, int nin, int step) {
  while (**s == ' ') (*s)++;
  char c = **s;
  if (c != 'x' && c != 't') return -1;
  (*s)++;
  if (**s < '0' || **s > '9') return -1;
  long v = 0;
  while (**s >= '0' && **s <= '9' && v < 1000) v = v * 10 + (*(*s)++ - '0');
  if (c == 'x') return v < nin ? (int)v : -1;
  return v < step ? nin + (int)v : -1;
}

int ir_ew_parse(const char *prog, int nin, ir_ew_step *steps, char *err, size_t errlen) {
  const char *s = prog ? prog : "";
  int n = 0;
  for (;;) {
    while (*s == ' ') s++;
    if (n == IR_EW_MAX_STEPS) {
      snprintf(err, errlen, "more than %d steps", IR_EW_MAX_STEPS);
      return -1;
    }
    char name[32];
    int len = 0;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
      if (len < 31) name[len] = *s;
      len++, s++;
    }
    name[len < 31 ? len : 31] = 0;
    int op = len && len < 31 ? ir_op_lookup("", name) : -1;
    int arity = op >= 0 ? ir_ew_op_arity((ir_op)op) : 0;
    if (!arity) {
      snprintf(err, errlen, "step %d: '%s' is not an op a program may hold", n, name);
      return -1;
    }
    steps[n].op = (ir_op)op;
    steps[n].a = ew_operand(&s, nin, n);
    steps[n].b = arity == 2 ? ew_operand(&s, nin, n) : -1;
    if (steps[n].a < 0 || (arity == 2 && steps[n].b < 0)) {
      snprintf(err, errlen, "step %d (%s): operands must be x0..x%d or t0..t%d", n, name, nin - 1,
               n - 1);
      return -1;
    }
    n++;
    while (*s == ' ') s++;
    if (!*s) return n;
    if (*s++ != ';') {
      snprintf(err, errlen, "step %d: expected ';' or the end", n - 1);
      return -1;
    }
  }
}

bool infer_mixc_elementwise(ir_ctx *cx, ir_node *n) {
  const ir_type *y = NULL;
  for (int i = 0; i < n->nin; i++) {
    const ir_type *t = in_type(n, i);
    if (!t) {
      ir_error_in(cx->d, n, i, "mixc.elementwise inputs may not be omitted");
      return false;
    }
    if (t->dtype != IR_F32) {
      ir_error_in(cx->d, n, i, "mixc.elementwise supports f32, got %s", ir_dtype_name(t->dtype));
      return false;
    }
    if (ir_ew_one_element(t)) continue;
    if (!y) {
      y = t;
      continue;
    }
    bool same = t->rank == y->rank;
    for (int d = 0; same && d < t->rank; d++) same = dim_fits(t->dims[d], y->dims[d]);
    if (!same) {
      ir_error_in(cx->d, n, i, "mixc.elementwise input %s is neither the output's shape %s nor "
                  "one element", ir_dims_str(cx, t->rank, t->dims), ir_dims_str(cx, y->rank, y->dims));
      return false;
    }
  }
  ir_ew_step steps[IR_EW_MAX_STEPS];
  char err[160];
  if (ir_ew_parse(ir_attr_str(n, "program", ""), n->nin, steps, err, sizeof err) < 0) {
    ir_error(cx->d, n, "mixc.elementwise program: %s", err);
    return false;
  }
  if (!y) y = in_type(n, 0); /* every input has one element */
  return ir_infer_set_out(cx, n, 0, IR_F32, y->rank, y->dims);
}
