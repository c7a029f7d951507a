/* infer.c - shape and type inference: one infer_* function per op family (named
 * by ops.def), ir_infer_node / ir_infer_graph, and the broadcasting, axis and
 * constant-reading helpers declared in infer.h.
 *
 * Requires: ir_infer_node has checked arity, that required inputs are non-NULL
 * and that every present input has a known dtype and a rank <= IR_MAX_RANK (or
 * unknown rank, -1). Semantics follow the ONNX spec at the node's opset
 * (n->opset; a node without one gets the graph's opset, else the newest rules).
 * Shape-like inputs (Reshape shape, axes, k, pads, ...) are read when constant;
 * otherwise the output keeps what can be known (rank, untouched dims) and the
 * rest is unknown, which is not an error. Bad input is reported with ir_error_in
 * against the node and returns false; it never aborts. Output dims are allocated
 * from cx->g->arena; diagnostic text from the diagnostics' arena. */
#include "infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXR IR_MAX_RANK
#define LL(x) ((long long)(x))
#define OPN(n) ir_op_fullname((n)->op)

static const ir_dim DUNK = {-1, NULL};
static ir_dim dstat(int64_t v) { return (ir_dim){v, NULL}; }
static bool dsym(ir_dim d) { return d.sym != NULL; }
static bool dst(ir_dim d) { return ir_dim_static(d); }

/* Result of reading a shape-like input or attribute. */
enum { SRC_ERR = -2, SRC_DYN = -1, SRC_ABSENT = 0, SRC_CONST = 1 };

/* ---- small utilities ---------------------------------------------------------- */

static int opset_of(const ir_ctx *cx, const ir_node *n) {
  if (n->opset > 0) return n->opset;
  int64_t v = ir_graph_opset(cx->g, ir_domain_name(ir_ops[n->op].domain));
  return v > 0 && v < 100000 ? (int)v : 100000; /* unknown: the newest rules */
}

static ir_arena *msg_arena(ir_ctx *cx) { return cx->d ? cx->d->arena : cx->g->arena; }

static const ir_type *ity(const ir_node *n, int i) {
  return i < n->nin && n->in[i] ? &n->in[i]->type : NULL;
}

/* "[2,batch,?]"; "[*]" for an unknown rank. */
static const char *dims_str(ir_ctx *cx, int rank, const ir_dim *d) {
  if (rank < 0) return "[*]";
  char buf[512];
  size_t k = 0;
  buf[k++] = '[';
  for (int i = 0; i < rank && k < sizeof buf - 24; i++) {
    if (i) buf[k++] = ',';
    int w;
    if (d[i].sym) w = snprintf(buf + k, sizeof buf - k, "%s", d[i].sym);
    else if (d[i].v >= 0) w = snprintf(buf + k, sizeof buf - k, "%lld", LL(d[i].v));
    else w = snprintf(buf + k, sizeof buf - k, "?");
    if (w > 0) k += (size_t)w;
    if (k >= sizeof buf - 24) k = sizeof buf - 24;
  }
  buf[k++] = ']';
  buf[k] = 0;
  return ir_strdup(msg_arena(cx), buf);
}

static const char *type_str(ir_ctx *cx, ir_dtype dt, int rank, const ir_dim *d) {
  return ir_sprintf(msg_arena(cx), "%s%s", ir_dtype_name(dt), dims_str(cx, rank, d));
}

static const char *ints_str(ir_ctx *cx, int n, const int64_t *v) {
  char buf[512];
  size_t k = 0;
  buf[k++] = '[';
  for (int i = 0; i < n && k < sizeof buf - 24; i++) {
    int w = snprintf(buf + k, sizeof buf - k, "%s%lld", i ? "," : "", LL(v[i]));
    if (w > 0) k += (size_t)w;
    if (k >= sizeof buf - 24) k = sizeof buf - 24;
  }
  buf[k++] = ']';
  buf[k] = 0;
  return ir_strdup(msg_arena(cx), buf);
}

int ir_norm_axis(int64_t axis, int rank) {
  if (rank < 0 || axis < -(int64_t)rank || axis >= rank) return -1;
  return (int)(axis < 0 ? axis + rank : axis);
}

/* Normalizes an axis for rank `rank`, or reports it. */
static int axis_or_err(ir_ctx *cx, ir_node *n, int input, int64_t axis, int rank) {
  int a = ir_norm_axis(axis, rank);
  if (a < 0) ir_error_in(cx->d, n, input, "axis %lld is out of range for rank %d", LL(axis), rank);
  return a;
}

bool ir_const_ints(const ir_value *v, int64_t *out, int max, int *n) {
  if (!v || !v->konst) return false;
  const ir_tensor *t = v->konst;
  if (!ir_dtype_is_int(t->dtype) || t->rank > 1 || t->numel < 0 || t->numel > max) return false;
  if (t->numel > 0 && (!t->data || t->nbytes < (size_t)t->numel * ir_dtype_size(t->dtype)))
    return false;
  for (int64_t i = 0; i < t->numel; i++) out[i] = ir_tensor_get_i(t, i);
  *n = (int)t->numel;
  return true;
}

/* Reads input i, a shape-like integer tensor of rank 0 or 1 with at most `max`
 * elements. SRC_CONST: vals[0..*cnt). SRC_DYN: not constant, *cnt is its length
 * when known, else -1. SRC_ABSENT: no input i. SRC_ERR: reported. */
static int in_ints(ir_ctx *cx, ir_node *n, int i, int64_t *vals, int max, int *cnt) {
  *cnt = -1;
  if (i >= n->nin || !n->in[i]) return SRC_ABSENT;
  const ir_value *v = n->in[i];
  const ir_type *t = &v->type;
  if (t->dtype != IR_UNDEF && !ir_dtype_is_int(t->dtype)) {
    ir_error_in(cx->d, n, i, "%s needs an integer tensor here, got %s", OPN(n),
                ir_dtype_name(t->dtype));
    return SRC_ERR;
  }
  if (t->rank > 1) {
    ir_error_in(cx->d, n, i, "%s needs a 1-D tensor here, got rank %d", OPN(n), t->rank);
    return SRC_ERR;
  }
  int64_t len = t->rank == 0 ? 1 : t->rank == 1 && dst(t->dims[0]) ? t->dims[0].v : -1;
  if (v->konst) len = v->konst->numel;
  if (len > max) {
    ir_error_in(cx->d, n, i, "%s: input has %lld elements, at most %d make sense here", OPN(n),
                LL(len), max);
    return SRC_ERR;
  }
  if (v->konst) {
    if (!ir_const_ints(v, vals, max, cnt)) {
      ir_error_in(cx->d, n, i, "%s: constant input is not a small integer vector", OPN(n));
      return SRC_ERR;
    }
    return SRC_CONST;
  }
  *cnt = (int)len;
  return SRC_DYN;
}

/* Reads an ints attribute. SRC_CONST, SRC_ABSENT or SRC_ERR. */
static int attr_ints(ir_ctx *cx, ir_node *n, const char *name, int64_t *vals, int max, int *cnt) {
  *cnt = -1;
  const ir_attr *a = ir_attr_find(n, name);
  if (!a) return SRC_ABSENT;
  if (a->kind != IR_ATTR_INTS) {
    ir_error(cx->d, n, "attribute '%s' must be a list of ints", name);
    return SRC_ERR;
  }
  if (a->n > max || a->n < 0 || (a->n > 0 && !a->ints)) {
    ir_error(cx->d, n, "attribute '%s' has %d entries, at most %d make sense here", name, a->n, max);
    return SRC_ERR;
  }
  for (int i = 0; i < a->n; i++) vals[i] = a->ints[i];
  *cnt = a->n;
  return SRC_CONST;
}

/* A list that moved from attribute to input at opset `since_input`. */
static int attr_or_input(ir_ctx *cx, ir_node *n, const char *name, int input, int since_input,
                         int64_t *vals, int max, int *cnt) {
  if (opset_of(cx, n) >= since_input) {
    if (ir_attr_find(n, name)) {
      ir_error(cx->d, n, "attribute '%s' is not allowed at opset %d; it is input %d since opset %d",
               name, opset_of(cx, n), input, since_input);
      return SRC_ERR;
    }
    return in_ints(cx, n, input, vals, max, cnt);
  }
  if (input < n->nin && n->in[input]) {
    ir_error_in(cx->d, n, input, "%s takes '%s' as an attribute before opset %d, not as input %d",
                OPN(n), name, since_input, input);
    return SRC_ERR;
  }
  return attr_ints(cx, n, name, vals, max, cnt);
}

static int64_t attr_int(ir_ctx *cx, ir_node *n, const char *name, int64_t dflt) {
  (void)cx;
  return ir_attr_int(n, name, dflt);
}

/* ir_attr_str, but never NULL for a string attribute without data. */
static const char *attr_str(const ir_node *n, const char *name, const char *dflt) {
  const char *s = ir_attr_str(n, name, dflt);
  return s ? s : dflt;
}

static bool dtypes_agree(ir_ctx *cx, ir_node *n, int i, int j) {
  const ir_type *a = ity(n, i), *b = ity(n, j);
  if (!a || !b || a->dtype == b->dtype) return true;
  ir_error_in(cx->d, n, j, "%s input %d is %s but input %d is %s; they must have the same type",
              OPN(n), j, ir_dtype_name(b->dtype), i, ir_dtype_name(a->dtype));
  return false;
}

static bool need_int_in(ir_ctx *cx, ir_node *n, int i, const char *what) {
  const ir_type *t = ity(n, i);
  if (!t || t->dtype == IR_I64 || t->dtype == IR_I32) return true;
  ir_error_in(cx->d, n, i, "%s %s must be int32 or int64, got %s", OPN(n), what,
              ir_dtype_name(t->dtype));
  return false;
}

static bool need_rank_min(ir_ctx *cx, ir_node *n, int i, int min, const char *what) {
  const ir_type *t = ity(n, i);
  if (!t || t->rank < 0 || t->rank >= min) return true;
  ir_error_in(cx->d, n, i, "%s %s must have rank >= %d, got rank %d", OPN(n), what, min, t->rank);
  return false;
}

static bool need_rank(ir_ctx *cx, ir_node *n, int i, int rank, const char *what) {
  const ir_type *t = ity(n, i);
  if (!t || t->rank < 0 || t->rank == rank) return true;
  ir_error_in(cx->d, n, i, "%s %s must have rank %d, got rank %d", OPN(n), what, rank, t->rank);
  return false;
}

/* Checks that dim `d` of input i equals `want` when both are static. */
static bool need_dim(ir_ctx *cx, ir_node *n, int i, int d, ir_dim want, const char *what) {
  const ir_type *t = ity(n, i);
  if (!t || t->rank <= d || !dst(t->dims[d]) || !dst(want) || t->dims[d].v == want.v) return true;
  ir_error_in(cx->d, n, i, "%s %s has size %lld but %lld is expected", OPN(n), what,
              LL(t->dims[d].v), LL(want.v));
  return false;
}

/* Product of dims: static if all static, the symbol if it is the only
 * non-static dim and the rest multiply to 1, else unknown. */
static ir_dim dims_prod(int n, const ir_dim *d) {
  int64_t p = 1;
  int nonstatic = 0;
  const char *sym = NULL;
  bool zero = false;
  for (int i = 0; i < n; i++) {
    if (dst(d[i])) {
      if (d[i].v == 0) zero = true;
      else if (p > IR_MAX_ELEMS / d[i].v) p = IR_MAX_ELEMS + 1;
      else p *= d[i].v;
    } else {
      nonstatic++;
      sym = d[i].sym;
    }
  }
  if (zero) return dstat(0);
  if (!nonstatic) return dstat(p);
  if (nonstatic == 1 && sym && p == 1) return (ir_dim){-1, sym};
  return DUNK;
}

/* ---- output types ----------------------------------------------------------------- */

static bool dim_same(ir_dim a, ir_dim b) {
  if (a.sym || b.sym) return a.sym && b.sym && (a.sym == b.sym || !strcmp(a.sym, b.sym));
  return a.v == b.v;
}

/* Sets (or refines) the type of output i. A type already there (value_info, or an
 * earlier inference) must agree: same dtype, rank and static dims. The merged
 * type keeps the most specific dim of the two. */
static bool set_out(ir_ctx *cx, ir_node *n, int i, ir_dtype dt, int rank, const ir_dim *dims) {
  if (i >= n->nout || !n->out[i]) return true;
  if (rank > MAXR) {
    ir_error(cx->d, n, "output %d would have rank %d; at most %d is supported", i, rank, MAXR);
    return false;
  }
  ir_type *t = &n->out[i]->type;
  if (t->rank > 0 && !t->dims) *t = (ir_type){t->dtype, -1, NULL}; /* malformed: forget it */
  if (t->rank > MAXR) {
    ir_error(cx->d, n, "output %d has rank %d; at most %d is supported", i, t->rank, MAXR);
    return false;
  }
  bool conflict = (t->dtype != IR_UNDEF && dt != IR_UNDEF && t->dtype != dt) ||
                  (t->rank >= 0 && rank >= 0 && t->rank != rank);
  for (int k = 0; !conflict && t->rank >= 0 && rank >= 0 && k < rank; k++)
    if (dst(t->dims[k]) && dst(dims[k]) && t->dims[k].v != dims[k].v) conflict = true;
  if (conflict) {
    ir_error(cx->d, n, "output %d type %s from the model conflicts with inferred %s", i,
             type_str(cx, t->dtype, t->rank, t->dims), type_str(cx, dt, rank, dims));
    return false;
  }
  ir_dtype ndt = dt != IR_UNDEF ? dt : t->dtype;
  int nr = rank >= 0 ? rank : t->rank;
  ir_dim md[MAXR];
  for (int k = 0; k < nr; k++) {
    ir_dim a = rank >= 0 ? dims[k] : DUNK, b = t->rank >= 0 ? t->dims[k] : DUNK;
    if (a.sym) a.v = -1;
    if (b.sym) b.v = -1;
    md[k] = dst(a) ? a : dst(b) ? b : dsym(a) ? a : dsym(b) ? b : DUNK;
    if (md[k].v < 0 && !md[k].sym) md[k].v = -1;
  }
  /* absurd sizes */
  int64_t p = 1;
  bool zero = false, over = false;
  for (int k = 0; k < nr; k++) {
    if (!dst(md[k])) continue;
    if (md[k].v == 0) zero = true;
    else if (md[k].v > IR_MAX_ELEMS || p > IR_MAX_ELEMS / md[k].v) over = true;
    else p *= md[k].v;
  }
  if (over && !zero) {
    ir_error(cx->d, n, "output %d would be %s, more than 2^40 elements", i,
             type_str(cx, ndt, nr, md));
    return false;
  }
  bool same = ndt == t->dtype && nr == t->rank;
  for (int k = 0; same && k < nr; k++) same = dim_same(md[k], t->dims[k]);
  if (same) return true;
  ir_dim *nd = NULL;
  if (nr > 0) {
    nd = ir_alloc(cx->g->arena, sizeof(ir_dim) * (size_t)nr);
    memcpy(nd, md, sizeof(ir_dim) * (size_t)nr);
  }
  t->dtype = ndt;
  t->rank = nr;
  t->dims = nd;
  return true;
}

static bool set_out_t(ir_ctx *cx, ir_node *n, int i, ir_dtype dt, const ir_type *like) {
  return set_out(cx, n, i, dt, like->rank, like->dims);
}

static bool set_out_unknown(ir_ctx *cx, ir_node *n, int i, ir_dtype dt) {
  return set_out(cx, n, i, dt, -1, NULL);
}

bool ir_infer_set_out(ir_ctx *cx, ir_node *n, int i, ir_dtype dt, int rank, const ir_dim *dims) {
  return set_out(cx, n, i, dt, rank, dims);
}

const char *ir_dims_str(ir_ctx *cx, int rank, const ir_dim *d) { return dims_str(cx, rank, d); }

/* ---- broadcasting ------------------------------------------------------------------ */

bool ir_broadcast(ir_ctx *cx, ir_node *n, int ra, const ir_dim *a, int rb, const ir_dim *b,
                  int *rank_out, ir_dim *out) {
  MIXC_ASSERT(ra >= 0 && rb >= 0);
  int r = ra > rb ? ra : rb;
  if (r > MAXR) {
    ir_error(cx->d, n, "broadcast result would have rank %d; at most %d is supported", r, MAXR);
    return false;
  }
  ir_dim res[MAXR];
  for (int i = 0; i < r; i++) {
    ir_dim x = i < ra ? a[ra - 1 - i] : dstat(1), y = i < rb ? b[rb - 1 - i] : dstat(1), z;
    if (x.sym) x.v = -1;
    if (y.sym) y.v = -1;
    if (dst(x) && dst(y)) {
      if (x.v == y.v || y.v == 1) z = x;
      else if (x.v == 1) z = y;
      else {
        ir_error(cx->d, n, "input shapes %s and %s cannot be broadcast", dims_str(cx, ra, a),
                 dims_str(cx, rb, b));
        return false;
      }
    } else if (dst(x) && x.v == 1) z = y;
    else if (dst(y) && y.v == 1) z = x;
    else if (dst(x)) z = x; /* N > 1 (or 0) against a symbol/unknown: N */
    else if (dst(y)) z = y;
    else if (dsym(x) && dsym(y) && !strcmp(x.sym, y.sym)) z = x;
    else z = DUNK;
    res[r - 1 - i] = z;
  }
  memcpy(out, res, sizeof(ir_dim) * (size_t)r);
  *rank_out = r;
  return true;
}

/* Broadcasts inputs [first, first+count) that are present; *rank = -1 if any
 * has an unknown rank. */
static bool bcast_inputs(ir_ctx *cx, ir_node *n, int first, int count, int *rank, ir_dim *out) {
  int r = 0;
  bool unknown = false;
  for (int i = first; i < first + count; i++) {
    const ir_type *t = ity(n, i);
    if (!t) continue;
    if (t->rank < 0) {
      unknown = true;
      continue;
    }
    if (!ir_broadcast(cx, n, r, out, t->rank, t->dims, &r, out)) return false;
  }
  *rank = unknown ? -1 : r;
  return true;
}

/* ---- elementwise ---------------------------------------------------------------------- */

static bool float_only(ir_op op) {
  switch (op) {
  case IR_OP_Exp: case IR_OP_Log: case IR_OP_Sqrt: case IR_OP_Reciprocal: case IR_OP_Sigmoid:
  case IR_OP_Tanh: case IR_OP_Floor: case IR_OP_Ceil: case IR_OP_Round: case IR_OP_Sin:
  case IR_OP_Cos: case IR_OP_Tan: case IR_OP_Asin: case IR_OP_Acos: case IR_OP_Atan:
  case IR_OP_Sinh: case IR_OP_Cosh: case IR_OP_Asinh: case IR_OP_Acosh: case IR_OP_Atanh:
  case IR_OP_Softsign: case IR_OP_Softplus: case IR_OP_HardSwish: case IR_OP_Mish:
  case IR_OP_LeakyRelu: case IR_OP_Elu: case IR_OP_Selu: case IR_OP_Celu: case IR_OP_HardSigmoid:
  case IR_OP_ThresholdedRelu: case IR_OP_Gelu: case IR_OP_Softmax: case IR_OP_LogSoftmax:
  case IR_OP_Hardmax: case IR_OP_InstanceNormalization: case IR_OP_IsNaN: case IR_OP_IsInf:
    return true;
  default:
    return false;
  }
}

static bool need_float(ir_ctx *cx, ir_node *n, int i) {
  const ir_type *t = ity(n, i);
  if (!t || ir_dtype_is_float(t->dtype)) return true;
  ir_error_in(cx->d, n, i, "%s requires a floating-point input, got %s", OPN(n),
              ir_dtype_name(t->dtype));
  return false;
}

/* A scalar-like input (rank 0, or 1-D of one element where ONNX tolerates it). */
static bool need_scalar(ir_ctx *cx, ir_node *n, int i, bool allow_1elem, const char *what) {
  const ir_type *t = ity(n, i);
  if (!t || t->rank < 0 || t->rank == 0) return true;
  if (allow_1elem && t->rank == 1 && (!dst(t->dims[0]) || t->dims[0].v == 1)) return true;
  ir_error_in(cx->d, n, i, "%s %s must be a scalar, got shape %s", OPN(n), what,
              dims_str(cx, t->rank, t->dims));
  return false;
}

bool infer_unary(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int os = opset_of(cx, n);
  if (float_only(n->op) && !need_float(cx, n, 0)) return false;
  switch (n->op) {
  case IR_OP_Not:
    if (x->dtype != IR_BOOL) {
      ir_error_in(cx->d, n, 0, "Not requires a bool input, got %s", ir_dtype_name(x->dtype));
      return false;
    }
    break;
  case IR_OP_Clip:
    if (os >= 11) {
      for (int i = 1; i <= 2; i++)
        if (ity(n, i) && (!dtypes_agree(cx, n, 0, i) ||
                          !need_scalar(cx, n, i, true, i == 1 ? "min" : "max")))
          return false;
    } else if (n->nin > 1) {
      ir_error(cx->d, n, "Clip takes min/max as attributes before opset 11, not as inputs");
      return false;
    }
    break;
  case IR_OP_Softmax: case IR_OP_LogSoftmax: case IR_OP_Hardmax: {
    int64_t axis = attr_int(cx, n, "axis", os < 13 ? 1 : -1);
    if (x->rank >= 0) {
      /* before opset 13 the input is coerced to 2-D at `axis`, so axis == rank is fine */
      int r = os < 13 ? x->rank + 1 : x->rank;
      if (axis < -(int64_t)x->rank || axis >= r) {
        ir_error(cx->d, n, "axis %lld is out of range for rank %d", LL(axis), x->rank);
        return false;
      }
    }
    break;
  }
  case IR_OP_CumSum: {
    if (!need_int_in(cx, n, 1, "axis") || !need_scalar(cx, n, 1, true, "axis")) return false;
    int64_t v[1];
    int c;
    if (x->rank >= 0 && ir_const_ints(n->in[1], v, 1, &c) && c == 1 &&
        axis_or_err(cx, n, 1, v[0], x->rank) < 0)
      return false;
    break;
  }
  case IR_OP_InstanceNormalization:
    if (!need_rank_min(cx, n, 0, 3, "input") || !dtypes_agree(cx, n, 0, 1) ||
        !dtypes_agree(cx, n, 0, 2) || !need_rank(cx, n, 1, 1, "scale") ||
        !need_rank(cx, n, 2, 1, "B"))
      return false;
    if (x->rank >= 2 && (!need_dim(cx, n, 1, 0, x->dims[1], "scale") ||
                         !need_dim(cx, n, 2, 0, x->dims[1], "B")))
      return false;
    break;
  default:
    break;
  }
  return set_out_t(cx, n, 0, x->dtype, x);
}

bool infer_to_bool(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  if (!need_float(cx, n, 0)) return false;
  return set_out_t(cx, n, 0, IR_BOOL, x);
}

bool infer_dropout(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  const ir_type *r = ity(n, 1), *tm = ity(n, 2);
  if (r && (!need_float(cx, n, 1) || !need_scalar(cx, n, 1, true, "ratio"))) return false;
  if (tm && tm->dtype != IR_BOOL) {
    ir_error_in(cx->d, n, 2, "Dropout training_mode must be bool, got %s", ir_dtype_name(tm->dtype));
    return false;
  }
  bool ok = set_out_t(cx, n, 0, x->dtype, x);
  /* the mask is bool since opset 10 (it had the input's type before) */
  return set_out_t(cx, n, 1, opset_of(cx, n) >= 10 ? IR_BOOL : x->dtype, x) && ok;
}

bool infer_cast(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  const ir_attr *a = ir_attr_find(n, "to");
  if (!a || a->kind != IR_ATTR_INT) {
    ir_error(cx->d, n, "Cast needs the int attribute 'to'");
    return false;
  }
  if (a->i > INT32_MAX || a->i < 0 || !ir_dtype_valid((int)a->i)) {
    ir_error(cx->d, n, "Cast to %lld: not a valid ONNX data type", LL(a->i));
    return false;
  }
  return set_out_t(cx, n, 0, (ir_dtype)a->i, x);
}

bool infer_castlike(ir_ctx *cx, ir_node *n) {
  return set_out_t(cx, n, 0, ity(n, 1)->dtype, ity(n, 0));
}

bool infer_binary(ir_ctx *cx, ir_node *n) {
  const ir_type *a = ity(n, 0);
  if (n->op != IR_OP_Pow && !dtypes_agree(cx, n, 0, 1)) return false;
  if (n->op == IR_OP_Mod && ir_dtype_is_float(a->dtype) && attr_int(cx, n, "fmod", 0) != 1) {
    ir_error(cx->d, n, "Mod of floating-point inputs requires fmod=1");
    return false;
  }
  int r;
  ir_dim d[MAXR];
  if (n->op == IR_OP_PRelu) {
    /* slope broadcasts to X; the output is X's shape */
    const ir_type *s = ity(n, 1);
    if (a->rank >= 0 && s->rank >= 0) {
      if (s->rank > a->rank) {
        ir_error_in(cx->d, n, 1, "PRelu slope of shape %s cannot be broadcast to %s",
                    dims_str(cx, s->rank, s->dims), dims_str(cx, a->rank, a->dims));
        return false;
      }
      if (!ir_broadcast(cx, n, a->rank, a->dims, s->rank, s->dims, &r, d)) return false;
    }
    return set_out_t(cx, n, 0, a->dtype, a);
  }
  if (!bcast_inputs(cx, n, 0, 2, &r, d)) return false;
  return set_out(cx, n, 0, a->dtype, r, d);
}

bool infer_variadic(ir_ctx *cx, ir_node *n) {
  for (int i = 1; i < n->nin; i++)
    if (!dtypes_agree(cx, n, 0, i)) return false;
  int r;
  ir_dim d[MAXR];
  if (!bcast_inputs(cx, n, 0, n->nin, &r, d)) return false;
  return set_out(cx, n, 0, ity(n, 0)->dtype, r, d);
}

bool infer_compare(ir_ctx *cx, ir_node *n) {
  if (!dtypes_agree(cx, n, 0, 1)) return false;
  if ((n->op == IR_OP_And || n->op == IR_OP_Or || n->op == IR_OP_Xor) &&
      ity(n, 0)->dtype != IR_BOOL) {
    ir_error_in(cx->d, n, 0, "%s requires bool inputs, got %s", OPN(n),
                ir_dtype_name(ity(n, 0)->dtype));
    return false;
  }
  int r;
  ir_dim d[MAXR];
  if (!bcast_inputs(cx, n, 0, 2, &r, d)) return false;
  return set_out(cx, n, 0, IR_BOOL, r, d);
}

bool infer_where(ir_ctx *cx, ir_node *n) {
  if (ity(n, 0)->dtype != IR_BOOL) {
    ir_error_in(cx->d, n, 0, "Where condition must be bool, got %s", ir_dtype_name(ity(n, 0)->dtype));
    return false;
  }
  if (!dtypes_agree(cx, n, 1, 2)) return false;
  int r;
  ir_dim d[MAXR];
  if (!bcast_inputs(cx, n, 0, 3, &r, d)) return false;
  return set_out(cx, n, 0, ity(n, 1)->dtype, r, d);
}

/* ---- linear algebra -------------------------------------------------------------------- */

bool infer_matmul(ir_ctx *cx, ir_node *n) {
  const ir_type *a = ity(n, 0), *b = ity(n, 1);
  if (!dtypes_agree(cx, n, 0, 1)) return false;
  for (int i = 0; i < 2; i++)
    if (ity(n, i)->rank == 0) {
      ir_error_in(cx->d, n, i, "MatMul input %d is a scalar; it needs rank >= 1", i);
      return false;
    }
  if (a->rank < 0 || b->rank < 0) return set_out_unknown(cx, n, 0, a->dtype);
  int ra = a->rank, rb = b->rank;
  ir_dim k1 = a->dims[ra - 1], k2 = rb == 1 ? b->dims[0] : b->dims[rb - 2];
  if (dst(k1) && dst(k2) && k1.v != k2.v) {
    ir_error(cx->d, n, "MatMul inner dimensions differ: %lld vs %lld (shapes %s and %s)", LL(k1.v),
             LL(k2.v), dims_str(cx, ra, a->dims), dims_str(cx, rb, b->dims));
    return false;
  }
  int r;
  ir_dim d[MAXR];
  int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
  if (!ir_broadcast(cx, n, ba, a->dims, bb, b->dims, &r, d)) return false;
  if (r + 2 > MAXR) {
    ir_error(cx->d, n, "output would have rank %d; at most %d is supported", r + 2, MAXR);
    return false;
  }
  if (ra > 1) d[r++] = a->dims[ra - 2];
  if (rb > 1) d[r++] = b->dims[rb - 1];
  return set_out(cx, n, 0, a->dtype, r, d);
}

bool infer_gemm(ir_ctx *cx, ir_node *n) {
  const ir_type *a = ity(n, 0), *b = ity(n, 1), *c = ity(n, 2);
  if (!dtypes_agree(cx, n, 0, 1) || (c && !dtypes_agree(cx, n, 0, 2))) return false;
  if (!need_rank(cx, n, 0, 2, "input A") || !need_rank(cx, n, 1, 2, "input B")) return false;
  if (c && c->rank > 2) {
    ir_error_in(cx->d, n, 2, "Gemm input C must have rank <= 2, got rank %d", c->rank);
    return false;
  }
  int ta = attr_int(cx, n, "transA", 0) != 0, tb = attr_int(cx, n, "transB", 0) != 0;
  ir_dim m = a->rank == 2 ? a->dims[ta ? 1 : 0] : DUNK, ka = a->rank == 2 ? a->dims[ta ? 0 : 1] : DUNK;
  ir_dim kb = b->rank == 2 ? b->dims[tb ? 1 : 0] : DUNK, nn = b->rank == 2 ? b->dims[tb ? 0 : 1] : DUNK;
  if (dst(ka) && dst(kb) && ka.v != kb.v) {
    ir_error(cx->d, n, "Gemm inner dimensions differ: %lld vs %lld (transA=%d, transB=%d)", LL(ka.v),
             LL(kb.v), ta, tb);
    return false;
  }
  ir_dim d[2] = {m, nn};
  if (c && c->rank >= 0) {
    for (int i = 0; i < c->rank; i++) {
      ir_dim cd = c->dims[c->rank - 1 - i], td = d[1 - i];
      if (dst(cd) && cd.v != 1 && dst(td) && cd.v != td.v) {
        ir_error_in(cx->d, n, 2, "Gemm input C of shape %s cannot be broadcast to %s",
                    dims_str(cx, c->rank, c->dims), dims_str(cx, 2, d));
        return false;
      }
    }
  }
  return set_out(cx, n, 0, a->dtype, 2, d);
}

/* Einsum: parses "ij,jk->ik", implicit outputs and "..." ellipses. */
typedef struct {
  int nlab;        /* labels, ellipsis excluded */
  char lab[MAXR + 1];
  int ell;         /* index in lab where the ellipsis sits, -1 if none */
  const char *txt; /* for messages */
  int len;
} eterm;

static bool einsum_term(ir_ctx *cx, ir_node *n, const char *s, int len, eterm *t) {
  t->nlab = 0;
  t->ell = -1;
  t->txt = s;
  t->len = len;
  for (int i = 0; i < len; i++) {
    char c = s[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' || t->ell >= 0) {
        ir_error(cx->d, n, "Einsum term '%.*s': bad ellipsis", len, s);
        return false;
      }
      t->ell = t->nlab;
      i += 2;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
      ir_error(cx->d, n, "Einsum term '%.*s': unexpected character '%c'", len, s, c);
      return false;
    }
    if (t->nlab >= MAXR) {
      ir_error(cx->d, n, "Einsum term '%.*s' has more than %d labels", len, s, MAXR);
      return false;
    }
    t->lab[t->nlab++] = c;
  }
  return true;
}

static int lab_index(char c) { return c >= 'a' && c <= 'z' ? c - 'a' : 26 + (c - 'A'); }

bool infer_einsum(ir_ctx *cx, ir_node *n) {
  const char *eq = attr_str(n, "equation", NULL);
  if (!eq) {
    ir_error(cx->d, n, "Einsum needs the string attribute 'equation'");
    return false;
  }
  for (int i = 1; i < n->nin; i++)
    if (!dtypes_agree(cx, n, 0, i)) return false;
  const char *arrow = strstr(eq, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
  eterm terms[64];
  int nt = 0;
  for (size_t p = 0;;) {
    size_t q = p;
    while (q < lhs_len && eq[q] != ',') q++;
    if (nt == 64) {
      ir_error(cx->d, n, "Einsum equation '%s' has too many operands", eq);
      return false;
    }
    if (!einsum_term(cx, n, eq + p, (int)(q - p), &terms[nt++])) return false;
    if (q >= lhs_len) break;
    p = q + 1;
  }
  if (nt != n->nin) {
    ir_error(cx->d, n, "Einsum equation '%s' has %d operands but the node has %d inputs", eq, nt,
             n->nin);
    return false;
  }
  ir_dim lab[52];
  int count[52] = {0};
  for (int i = 0; i < 52; i++) lab[i] = DUNK;
  ir_dim ell[MAXR];
  int nell = 0;
  bool any_ell = false, ell_unknown = false;
  for (int i = 0; i < nt; i++) {
    const eterm *t = &terms[i];
    const ir_type *ty = ity(n, i);
    for (int j = 0; j < t->nlab; j++) count[lab_index(t->lab[j])]++;
    if (t->ell >= 0) any_ell = true;
    if (ty->rank < 0) {
      if (t->ell >= 0) ell_unknown = true;
      continue;
    }
    int ne = ty->rank - t->nlab;
    if (t->ell < 0 ? ne != 0 : ne < 0) {
      ir_error_in(cx->d, n, i, "Einsum operand %d has rank %d but its term '%.*s' has %d labels%s",
                  i, ty->rank, t->len, t->txt, t->nlab, t->ell >= 0 ? " and an ellipsis" : "");
      return false;
    }
    for (int j = 0, dpos = 0; j < t->nlab; j++, dpos++) {
      if (j == t->ell) dpos += ne;
      ir_dim d = ty->dims[dpos], *L = &lab[lab_index(t->lab[j])];
      if (dst(d) && dst(*L) && d.v != L->v) {
        if (L->v == 1) *L = d;
        else if (d.v != 1) {
          ir_error_in(cx->d, n, i, "Einsum label '%c' has sizes %lld and %lld", t->lab[j], LL(L->v),
                      LL(d.v));
          return false;
        }
      } else if (dst(d) || (!dst(*L) && !dsym(*L)))
        *L = d;
    }
    if (t->ell >= 0 && !ir_broadcast(cx, n, nell, ell, ne, ty->dims + t->ell, &nell, ell))
      return false;
  }
  ir_dim out[MAXR];
  int r = 0;
  if (arrow) {
    eterm o;
    const char *rhs = arrow + 2;
    if (strchr(rhs, ',') || strstr(rhs, "->")) {
      ir_error(cx->d, n, "Einsum equation '%s' has more than one output term", eq);
      return false;
    }
    if (!einsum_term(cx, n, rhs, (int)strlen(rhs), &o)) return false;
    int seen[52] = {0};
    if (o.ell >= 0 && ell_unknown) return set_out_unknown(cx, n, 0, ity(n, 0)->dtype);
    for (int j = 0; j <= o.nlab; j++) {
      if (j == o.ell) {
        if (r + nell > MAXR) break;
        for (int e = 0; e < nell; e++) out[r++] = ell[e];
      }
      if (j == o.nlab) break;
      int li = lab_index(o.lab[j]);
      if (!count[li]) {
        ir_error(cx->d, n, "Einsum output label '%c' does not appear in the inputs", o.lab[j]);
        return false;
      }
      if (seen[li]++) {
        ir_error(cx->d, n, "Einsum output label '%c' appears twice", o.lab[j]);
        return false;
      }
      if (r >= MAXR) break;
      out[r++] = lab[li];
    }
    if (o.nlab + (o.ell >= 0 ? nell : 0) > MAXR) {
      ir_error(cx->d, n, "Einsum output would have rank > %d", MAXR);
      return false;
    }
  } else {
    if (any_ell && ell_unknown) return set_out_unknown(cx, n, 0, ity(n, 0)->dtype);
    for (int e = 0; e < nell; e++) out[r++] = ell[e];
    static const char order[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int j = 0; order[j]; j++) {
      int li = lab_index(order[j]);
      if (count[li] != 1) continue;
      if (r >= MAXR) {
        ir_error(cx->d, n, "Einsum output would have rank > %d", MAXR);
        return false;
      }
      out[r++] = lab[li];
    }
  }
  return set_out(cx, n, 0, ity(n, 0)->dtype, r, out);
}

/* ---- convolution and pooling -------------------------------------------------------------- */

/* Spatial output dims of Conv / pools from the attributes and the kernel. */
static bool window_shape(ir_ctx *cx, ir_node *n, int nsp, const ir_dim *in, const ir_dim *kernel,
                         bool pool, ir_dim *out) {
  int64_t strides[MAXR], dil[MAXR], pads[2 * MAXR];
  int c;
  for (int i = 0; i < nsp; i++) strides[i] = dil[i] = 1, pads[i] = pads[nsp + i] = 0;
  static const char *names[] = {"strides", "dilations"};
  int64_t *arrs[] = {strides, dil};
  for (int k = 0; k < 2; k++) {
    int s = attr_ints(cx, n, names[k], arrs[k], MAXR, &c);
    if (s == SRC_ERR) return false;
    if (s == SRC_CONST && c != nsp) {
      ir_error(cx->d, n, "%s has %d entries but the input has %d spatial dims", names[k], c, nsp);
      return false;
    }
    for (int i = 0; s == SRC_CONST && i < nsp; i++)
      if (arrs[k][i] < 1) {
        ir_error(cx->d, n, "%s %s has a value %lld < 1", names[k], ints_str(cx, c, arrs[k]),
                 LL(arrs[k][i]));
        return false;
      }
  }
  int s = attr_ints(cx, n, "pads", pads, 2 * MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_CONST && c != 2 * nsp) {
    ir_error(cx->d, n, "pads has %d entries but %d (begin and end for %d spatial dims) are needed", c,
             2 * nsp, nsp);
    return false;
  }
  for (int i = 0; s == SRC_CONST && i < 2 * nsp; i++)
    if (pads[i] < 0) {
      ir_error(cx->d, n, "pads %s has a negative value", ints_str(cx, c, pads));
      return false;
    }
  const char *ap = attr_str(n, "auto_pad", "NOTSET");
  int mode = !strcmp(ap, "NOTSET") ? 0 : !strcmp(ap, "VALID") ? 1
           : !strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER") ? 2 : -1;
  if (mode < 0) {
    ir_error(cx->d, n, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
    return false;
  }
  bool ceil_mode = pool && attr_int(cx, n, "ceil_mode", 0) != 0;
  for (int i = 0; i < nsp; i++) {
    ir_dim d = in[i], k = kernel[i];
    int64_t st = strides[i];
    if (mode == 2) { /* SAME: ceil(in / stride) */
      out[i] = dst(d) ? dstat(d.v ? (d.v - 1) / st + 1 : 0) : st == 1 ? d : DUNK;
      continue;
    }
    if (!dst(k)) {
      out[i] = DUNK;
      continue;
    }
    if (k.v > IR_MAX_ELEMS || dil[i] > IR_MAX_ELEMS ||
        (k.v > 1 && dil[i] > IR_MAX_ELEMS / (k.v - 1))) {
      ir_error(cx->d, n, "kernel %lld with dilation %lld is absurd", LL(k.v), LL(dil[i]));
      return false;
    }
    int64_t ek = (k.v - 1) * dil[i] + 1;
    int64_t pb = mode == 0 ? pads[i] : 0, pe = mode == 0 ? pads[nsp + i] : 0;
    if (!dst(d)) {
      out[i] = st == 1 && pb + pe == ek - 1 ? d : DUNK;
      continue;
    }
    if (pb > IR_MAX_ELEMS || pe > IR_MAX_ELEMS) {
      ir_error(cx->d, n, "pads %lld/%lld are absurd", LL(pb), LL(pe));
      return false;
    }
    int64_t L = d.v + pb + pe - ek;
    if (L < 0) {
      ir_error(cx->d, n, "window %lld (kernel %lld, dilation %lld) is larger than the padded input %lld on spatial axis %d",
               LL(ek), LL(k.v), LL(dil[i]), LL(d.v + pb + pe), i);
      return false;
    }
    int64_t o = L / st + 1;
    if (ceil_mode && L % st) {
      o = L / st + 2;
      /* the last window must start inside the input or the begin padding */
      if ((o - 1) * st >= d.v + pb) o--;
    }
    out[i] = dstat(o);
  }
  return true;
}

bool infer_conv(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *w = ity(n, 1), *b = ity(n, 2);
  if (!dtypes_agree(cx, n, 0, 1) || (b && !dtypes_agree(cx, n, 0, 2))) return false;
  if (!need_rank_min(cx, n, 0, 3, "input X") || !need_rank_min(cx, n, 1, 3, "weight W"))
    return false;
  if (x->rank >= 0 && w->rank >= 0 && x->rank != w->rank) {
    ir_error_in(cx->d, n, 1, "Conv weight has rank %d but the input has rank %d", w->rank, x->rank);
    return false;
  }
  int64_t group = attr_int(cx, n, "group", 1);
  if (group < 1 || group > IR_MAX_ELEMS) {
    ir_error(cx->d, n, "Conv group %lld must be >= 1 and sane", LL(group));
    return false;
  }
  int r = x->rank >= 0 ? x->rank : w->rank;
  if (r < 0) return set_out_unknown(cx, n, 0, x->dtype);
  int nsp = r - 2;
  ir_dim M = w->rank >= 0 ? w->dims[0] : DUNK;
  if (x->rank >= 0 && w->rank >= 0 && dst(x->dims[1]) && dst(w->dims[1]) &&
      x->dims[1].v != w->dims[1].v * group) {
    ir_error(cx->d, n, "Conv input channels %lld do not match weight channels %lld x group %lld",
             LL(x->dims[1].v), LL(w->dims[1].v), LL(group));
    return false;
  }
  if (dst(M) && M.v % group) {
    ir_error_in(cx->d, n, 1, "Conv output channels %lld are not divisible by group %lld", LL(M.v),
                LL(group));
    return false;
  }
  if (b && (!need_rank(cx, n, 2, 1, "bias") || !need_dim(cx, n, 2, 0, M, "bias")))
    return false;
  ir_dim kernel[MAXR];
  for (int i = 0; i < nsp; i++) kernel[i] = w->rank >= 0 ? w->dims[2 + i] : DUNK;
  int64_t ks[MAXR];
  int c;
  int s = attr_ints(cx, n, "kernel_shape", ks, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_CONST) {
    if (c != nsp) {
      ir_error(cx->d, n, "kernel_shape %s has %d entries but the input has %d spatial dims",
               ints_str(cx, c, ks), c, nsp);
      return false;
    }
    for (int i = 0; i < nsp; i++) {
      if (dst(kernel[i]) && kernel[i].v != ks[i]) {
        ir_error(cx->d, n, "kernel_shape %s does not match the weight's shape %s",
                 ints_str(cx, c, ks), dims_str(cx, w->rank, w->dims));
        return false;
      }
      if (ks[i] < 1) {
        ir_error(cx->d, n, "kernel_shape %s has a value < 1", ints_str(cx, c, ks));
        return false;
      }
      kernel[i] = dstat(ks[i]);
    }
  }
  ir_dim out[MAXR];
  out[0] = x->rank >= 0 ? x->dims[0] : DUNK;
  out[1] = M;
  ir_dim insp[MAXR];
  for (int i = 0; i < nsp; i++) insp[i] = x->rank >= 0 ? x->dims[2 + i] : DUNK;
  if (!window_shape(cx, n, nsp, insp, kernel, false, out + 2)) return false;
  return set_out(cx, n, 0, x->dtype, r, out);
}

bool infer_pool(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  if (!need_rank_min(cx, n, 0, 3, "input X")) return false;
  int64_t ks[MAXR];
  int c;
  int s = attr_ints(cx, n, "kernel_shape", ks, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_ABSENT) {
    ir_error(cx->d, n, "%s needs the attribute 'kernel_shape'", OPN(n));
    return false;
  }
  if (x->rank < 0) {
    if (c + 2 > MAXR) return set_out_unknown(cx, n, 0, x->dtype);
    ir_dim d[MAXR];
    for (int i = 0; i < c + 2; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, c + 2, d) && set_out(cx, n, 1, IR_I64, c + 2, d);
  }
  int nsp = x->rank - 2;
  if (c != nsp) {
    ir_error(cx->d, n, "kernel_shape %s has %d entries but the input has %d spatial dims",
             ints_str(cx, c, ks), c, nsp);
    return false;
  }
  ir_dim kernel[MAXR], out[MAXR];
  for (int i = 0; i < nsp; i++) {
    if (ks[i] < 1) {
      ir_error(cx->d, n, "kernel_shape %s has a value < 1", ints_str(cx, c, ks));
      return false;
    }
    kernel[i] = dstat(ks[i]);
  }
  out[0] = x->dims[0];
  out[1] = x->dims[1];
  if (!window_shape(cx, n, nsp, x->dims + 2, kernel, true, out + 2)) return false;
  bool ok = set_out(cx, n, 0, x->dtype, x->rank, out);
  return set_out(cx, n, 1, IR_I64, x->rank, out) && ok;
}

bool infer_global_pool(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  if (!need_rank_min(cx, n, 0, 2, "input X")) return false;
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  ir_dim d[MAXR];
  for (int i = 0; i < x->rank; i++) d[i] = i < 2 ? x->dims[i] : dstat(1);
  return set_out(cx, n, 0, x->dtype, x->rank, d);
}

bool infer_batchnorm(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  if (!need_rank_min(cx, n, 0, 2, "input X")) return false;
  ir_dim C = x->rank >= 2 ? x->dims[1] : DUNK;
  static const char *what[] = {"", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; i++) {
    if (!need_float(cx, n, i)) return false;
    if (attr_int(cx, n, "spatial", 1) != 0 || opset_of(cx, n) >= 9) {
      if (!need_rank(cx, n, i, 1, what[i]) || !need_dim(cx, n, i, 0, C, what[i])) return false;
    }
  }
  if (!dtypes_agree(cx, n, 1, 2) || !dtypes_agree(cx, n, 3, 4)) return false;
  bool ok = set_out_t(cx, n, 0, x->dtype, x);
  for (int i = 1; i < n->nout && i < 3; i++) {
    const ir_type *m = ity(n, 2 + i);
    ok = set_out_t(cx, n, i, m->dtype, m) && ok;
  }
  return ok;
}

bool infer_layernorm(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *sc = ity(n, 1), *b = ity(n, 2);
  if (!need_float(cx, n, 0) || !dtypes_agree(cx, n, 0, 1) || (b && !dtypes_agree(cx, n, 0, 2)))
    return false;
  int64_t ax = attr_int(cx, n, "axis", -1);
  int64_t st = attr_int(cx, n, "stash_type", 1);
  ir_dtype sdt = st > 0 && st < IR_DTYPE_COUNT && ir_dtype_is_float((ir_dtype)st) ? (ir_dtype)st
                                                                                 : IR_UNDEF;
  if (sdt == IR_UNDEF) {
    ir_error(cx->d, n, "LayerNormalization stash_type %lld is not a floating-point type", LL(st));
    return false;
  }
  if (x->rank < 0) {
    bool ok = set_out_unknown(cx, n, 0, x->dtype);
    ok = set_out_unknown(cx, n, 1, sdt) && ok;
    return set_out_unknown(cx, n, 2, sdt) && ok;
  }
  int a = axis_or_err(cx, n, -1, ax, x->rank);
  if (a < 0) return false;
  /* scale and bias broadcast to X[axis:] */
  for (int i = 1; i <= 2; i++) {
    const ir_type *t = i == 1 ? sc : b;
    if (!t || t->rank < 0) continue;
    if (t->rank > x->rank - a) {
      ir_error_in(cx->d, n, i, "LayerNormalization %s of shape %s does not fit the normalized dims %s",
                  i == 1 ? "scale" : "bias", dims_str(cx, t->rank, t->dims),
                  dims_str(cx, x->rank - a, x->dims + a));
      return false;
    }
    for (int k = 0; k < t->rank; k++) {
      ir_dim sd = t->dims[t->rank - 1 - k], xd = x->dims[x->rank - 1 - k];
      if (dst(sd) && dst(xd) && sd.v != xd.v && sd.v != 1) {
        ir_error_in(cx->d, n, i,
                    "LayerNormalization %s of shape %s does not fit the normalized dims %s",
                    i == 1 ? "scale" : "bias", dims_str(cx, t->rank, t->dims),
                    dims_str(cx, x->rank - a, x->dims + a));
        return false;
      }
    }
  }
  bool ok = set_out_t(cx, n, 0, x->dtype, x);
  ir_dim d[MAXR];
  for (int i = 0; i < x->rank; i++) d[i] = i < a ? x->dims[i] : dstat(1);
  ok = set_out(cx, n, 1, sdt, x->rank, d) && ok;
  return set_out(cx, n, 2, sdt, x->rank, d) && ok;
}

/* ---- reductions -------------------------------------------------------------------------- */

bool infer_reduce(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int since = n->op == IR_OP_ReduceSum ? 13 : 18;
  int64_t axes[MAXR];
  int c;
  int s = attr_or_input(cx, n, "axes", 1, since, axes, MAXR, &c);
  if (s == SRC_ERR) return false;
  bool keep = attr_int(cx, n, "keepdims", 1) != 0;
  bool noop = opset_of(cx, n) >= since && attr_int(cx, n, "noop_with_empty_axes", 0) != 0;
  if ((s == SRC_ABSENT || (s == SRC_CONST && c == 0)) && noop) return set_out_t(cx, n, 0, x->dtype, x);
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  ir_dim d[MAXR];
  if (s == SRC_DYN) { /* which axes is unknown: at best the rank is known */
    int r = keep ? x->rank : c > 0 && c <= x->rank ? x->rank - c : -1;
    if (r < 0) return set_out_unknown(cx, n, 0, x->dtype);
    for (int i = 0; i < r; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, r, d);
  }
  bool red[MAXR] = {false};
  if (s == SRC_ABSENT || c == 0)
    for (int i = 0; i < x->rank; i++) red[i] = true;
  for (int i = 0; s == SRC_CONST && i < c; i++) {
    int a = axis_or_err(cx, n, s == SRC_CONST && opset_of(cx, n) >= since ? 1 : -1, axes[i], x->rank);
    if (a < 0) return false;
    if (red[a]) {
      ir_error(cx->d, n, "%s axes %s name axis %d twice", ir_op_fullname(n->op),
               ints_str(cx, c, axes), a);
      return false;
    }
    red[a] = true;
  }
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (!red[i]) d[r++] = x->dims[i];
    else if (keep) d[r++] = dstat(1);
  }
  return set_out(cx, n, 0, x->dtype, r, d);
}

bool infer_argminmax(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  bool keep = attr_int(cx, n, "keepdims", 1) != 0;
  if (x->rank < 0) return set_out_unknown(cx, n, 0, IR_I64);
  int a = axis_or_err(cx, n, -1, attr_int(cx, n, "axis", 0), x->rank);
  if (a < 0) return false;
  ir_dim d[MAXR];
  int r = 0;
  for (int i = 0; i < x->rank; i++) {
    if (i != a) d[r++] = x->dims[i];
    else if (keep) d[r++] = dstat(1);
  }
  return set_out(cx, n, 0, IR_I64, r, d);
}

/* ---- shape and data movement ---------------------------------------------------------------- */

bool infer_shape(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  if (x->rank < 0) return set_out(cx, n, 0, IR_I64, 1, &DUNK);
  int64_t r = x->rank, st = attr_int(cx, n, "start", 0), en = attr_int(cx, n, "end", r);
  if (st < 0) st += r;
  if (en < 0) en += r;
  st = st < 0 ? 0 : st > r ? r : st;
  en = en < 0 ? 0 : en > r ? r : en;
  ir_dim d = dstat(en > st ? en - st : 0);
  return set_out(cx, n, 0, IR_I64, 1, &d);
}

bool infer_size(ir_ctx *cx, ir_node *n) { return set_out(cx, n, 0, IR_I64, 0, NULL); }

/* Symbolic bookkeeping for Reshape's -1: static product and symbol list. */
typedef struct {
  int64_t p;
  const char *sym[MAXR];
  int nsym, unknown;
  bool zero;
} dprod;

static void dprod_add(dprod *q, ir_dim d) {
  if (dst(d)) {
    if (d.v == 0) q->zero = true;
    else if (q->p > IR_MAX_ELEMS / d.v) q->p = IR_MAX_ELEMS + 1;
    else q->p *= d.v;
  } else if (d.sym && q->nsym < MAXR) q->sym[q->nsym++] = d.sym;
  else q->unknown++;
}


/* ---- symbolic shape values ------------------------------------------------------
 * A non-constant integer vector whose elements are known symbolically (see
 * ir_value.symval). elems() reads an input's elements from its constant or its
 * symval; symval_update() derives the output's symval for the ops PyTorch uses
 * to build shapes. Elements: sym != NULL is a symbolic dim, else the integer v. */
enum { SYMVAL_MAX = MAXR };

static int elems(const ir_value *v, ir_dim *out) {
  if (!v) return -1;
  if (v->konst) {
    if (v->konst->numel > SYMVAL_MAX || v->konst->rank > 1 || !ir_dtype_is_int(v->konst->dtype))
      return -1;
    for (int64_t i = 0; i < v->konst->numel; i++)
      out[i] = (ir_dim){ir_tensor_get_i(v->konst, i), NULL};
    return (int)v->konst->numel;
  }
  if (!v->symval) return -1;
  memcpy(out, v->symval, sizeof(ir_dim) * (size_t)v->nsymval);
  return v->nsymval;
}

static void symval_set(ir_ctx *cx, ir_value *v, int n, const ir_dim *e) {
  v->nsymval = 0;
  v->symval = NULL;
  if (n < 0 || n > SYMVAL_MAX || v->konst) return;
  bool any_sym = false;
  for (int i = 0; i < n; i++) any_sym |= e[i].sym != NULL;
  if (!any_sym) return; /* all integers: fold makes it a constant instead */
  v->symval = ir_alloc(cx->g->arena, sizeof(ir_dim) * (size_t)(n ? n : 1));
  memcpy(v->symval, e, sizeof(ir_dim) * (size_t)n);
  v->nsymval = n;
}

static void symval_update(ir_ctx *cx, ir_node *n) {
  ir_value *y = n->nout > 0 ? n->out[0] : NULL;
  if (!y || !ir_dtype_is_int(y->type.dtype) || y->type.rank > 1) return;
  ir_dim e[SYMVAL_MAX], a[SYMVAL_MAX];
  int k = -1;
  switch (n->op) {
  case IR_OP_Shape: {
    const ir_type *t = &n->in[0]->type;
    if (t->rank < 0) break;
    int64_t r = t->rank, st = attr_int(cx, n, "start", 0), en = attr_int(cx, n, "end", r);
    if (st < 0) st += r;
    if (en < 0) en += r;
    st = st < 0 ? 0 : st > r ? r : st;
    en = en < st ? st : en > r ? r : en;
    k = 0;
    for (int64_t i = st; i < en && k >= 0; i++) {
      if (t->dims[i].sym) e[k++] = (ir_dim){-1, t->dims[i].sym};
      else if (t->dims[i].v >= 0) e[k++] = (ir_dim){t->dims[i].v, NULL};
      else k = -1; /* an unknown dim: nothing to say */
    }
    break;
  }
  case IR_OP_Identity: case IR_OP_Squeeze: case IR_OP_Unsqueeze: case IR_OP_Reshape:
  case IR_OP_Flatten: case IR_OP_Cast:
    k = elems(n->in[0], e);
    break;
  case IR_OP_Concat:
    k = 0;
    for (int i = 0; i < n->nin && k >= 0; i++) {
      int m = elems(n->in[i], a);
      if (m < 0 || k + m > SYMVAL_MAX) k = -1;
      else memcpy(e + k, a, sizeof(ir_dim) * (size_t)m), k += m;
    }
    break;
  case IR_OP_Gather: {
    int m = elems(n->in[0], a);
    const ir_tensor *ix = n->in[1] ? n->in[1]->konst : NULL;
    if (m < 0 || !ix || ix->numel > SYMVAL_MAX || n->in[0]->type.rank != 1) break;
    k = 0;
    for (int64_t i = 0; i < ix->numel && k >= 0; i++) {
      int64_t j = ir_tensor_get_i(ix, i);
      if (j < 0) j += m;
      if (j < 0 || j >= m) k = -1;
      else e[k++] = a[j];
    }
    break;
  }
  case IR_OP_Slice: {
    int m = elems(n->in[0], a);
    int64_t st[1], en[1], ax[1] = {0}, sp[1] = {1};
    int c1, c2, c3 = 1, c4 = 1;
    if (m < 0 || n->opset < 10 || n->nin < 3) break;
    if (in_ints(cx, n, 1, st, 1, &c1) != SRC_CONST || in_ints(cx, n, 2, en, 1, &c2) != SRC_CONST ||
        c1 != 1 || c2 != 1)
      break;
    if (n->nin > 3 && n->in[3] && (in_ints(cx, n, 3, ax, 1, &c3) != SRC_CONST || c3 != 1)) break;
    if (n->nin > 4 && n->in[4] && (in_ints(cx, n, 4, sp, 1, &c4) != SRC_CONST || c4 != 1)) break;
    if (sp[0] != 1 || (ax[0] != 0 && ax[0] != -1)) break;
    int64_t b = st[0] < 0 ? st[0] + m : st[0], z = en[0] < 0 ? en[0] + m : en[0];
    b = b < 0 ? 0 : b > m ? m : b;
    z = z < b ? b : z > m ? m : z;
    k = 0;
    for (int64_t i = b; i < z; i++) e[k++] = a[i];
    break;
  }
  default: break;
  }
  symval_set(cx, y, k, e);
}

/* A shape-like input as dims: static values from a constant, or symbolic
 * ones from a symval (an element -1 or 0 stays an integer for the caller). */
static bool in_symdims(const ir_node *n, int i, int64_t *vals, bool *is_sym, ir_dim *syms, int *cnt) {
  if (i >= n->nin || !n->in[i] || n->in[i]->konst || !n->in[i]->symval) return false;
  const ir_value *v = n->in[i];
  for (int j = 0; j < v->nsymval; j++) {
    is_sym[j] = v->symval[j].sym != NULL;
    syms[j] = v->symval[j];
    vals[j] = is_sym[j] ? 1 : v->symval[j].v;
  }
  *cnt = v->nsymval;
  return true;
}

bool infer_reshape(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t sh[MAXR];
  int c;
  int s = in_ints(cx, n, 1, sh, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (ity(n, 1)->rank == 0) {
    ir_error_in(cx->d, n, 1, "Reshape shape must be a 1-D tensor, got a scalar");
    return false;
  }
  ir_dim d[MAXR], syms[MAXR];
  bool is_sym[MAXR] = {false};
  if (s == SRC_DYN && !in_symdims(n, 1, sh, is_sym, syms, &c)) {
    if (c < 0) return set_out_unknown(cx, n, 0, x->dtype);
    for (int i = 0; i < c; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, c, d);
  }
  bool allowzero = opset_of(cx, n) >= 14 && attr_int(cx, n, "allowzero", 0) != 0;
  int neg = -1;
  bool has_zero = false;
  for (int i = 0; i < c; i++) {
    if (is_sym[i]) {
      d[i] = syms[i];
    } else if (sh[i] == -1) {
      if (neg >= 0) {
        ir_error_in(cx->d, n, 1, "Reshape shape %s has more than one -1", ints_str(cx, c, sh));
        return false;
      }
      neg = i;
      d[i] = DUNK;
    } else if (sh[i] < -1) {
      ir_error_in(cx->d, n, 1, "Reshape shape %s has the invalid value %lld", ints_str(cx, c, sh),
                  LL(sh[i]));
      return false;
    } else if (sh[i] == 0 && !allowzero) {
      if (x->rank >= 0 && i >= x->rank) {
        ir_error_in(cx->d, n, 1, "Reshape shape %s copies dim %d (0) but the input has rank %d",
                    ints_str(cx, c, sh), i, x->rank);
        return false;
      }
      d[i] = x->rank >= 0 ? x->dims[i] : DUNK;
    } else {
      if (sh[i] == 0) has_zero = true;
      d[i] = dstat(sh[i]);
    }
  }
  if (allowzero && has_zero && neg >= 0) {
    ir_error_in(cx->d, n, 1, "Reshape shape %s has both 0 and -1 with allowzero=1",
                ints_str(cx, c, sh));
    return false;
  }
  if (x->rank >= 0) {
    dprod pin = {1, {0}, 0, 0, false}, pout = {1, {0}, 0, 0, false};
    for (int i = 0; i < x->rank; i++) dprod_add(&pin, x->dims[i]);
    for (int i = 0; i < c; i++)
      if (i != neg) dprod_add(&pout, d[i]);
    /* cancel symbols that appear on both sides */
    for (int i = 0; i < pout.nsym; i++)
      for (int j = 0; j < pin.nsym; j++)
        if (pin.sym[j] && !strcmp(pin.sym[j], pout.sym[i])) {
          pin.sym[j] = pout.sym[i] = NULL;
          break;
        }
    int lin = 0, lout = 0;
    const char *rest = NULL;
    for (int j = 0; j < pin.nsym; j++)
      if (pin.sym[j]) lin++, rest = pin.sym[j];
    for (int j = 0; j < pout.nsym; j++) lout += pout.sym[j] != NULL;
    bool exact = !pin.unknown && !pout.unknown && !lout && pin.p <= IR_MAX_ELEMS &&
                 pout.p <= IR_MAX_ELEMS;
    if (neg >= 0) {
      if (exact && !pout.zero && !pin.zero && lin == 0) {
        if (pin.p % pout.p) {
          ir_error(cx->d, n, "cannot reshape %s (%lld elements) into %s", dims_str(cx, x->rank, x->dims),
                   LL(pin.p), ints_str(cx, c, sh));
          return false;
        }
        d[neg] = dstat(pin.p / pout.p);
      } else if (exact && !pout.zero && !pin.zero && lin == 1 && pin.p == pout.p)
        d[neg] = (ir_dim){-1, rest};
      else if (pin.zero && !pout.zero && !pout.unknown && !lout)
        d[neg] = dstat(0);
    } else if (exact && lin == 0 && !pin.zero && !pout.zero && pin.p != pout.p) {
      ir_error(cx->d, n, "cannot reshape %s (%lld elements) into %s (%lld elements)",
               dims_str(cx, x->rank, x->dims), LL(pin.p), ints_str(cx, c, sh), LL(pout.p));
      return false;
    } else if (exact && lin == 0 && pin.zero != pout.zero && !pin.nsym) {
      ir_error(cx->d, n, "cannot reshape %s into %s: element counts differ",
               dims_str(cx, x->rank, x->dims), ints_str(cx, c, sh));
      return false;
    }
  }
  return set_out(cx, n, 0, x->dtype, c, d);
}

bool infer_flatten(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t ax = attr_int(cx, n, "axis", 1);
  if (x->rank < 0) {
    ir_dim d[2] = {DUNK, DUNK};
    return set_out(cx, n, 0, x->dtype, 2, d);
  }
  if (ax < -(int64_t)x->rank || ax > x->rank) {
    ir_error(cx->d, n, "axis %lld is out of range for rank %d", LL(ax), x->rank);
    return false;
  }
  int a = (int)(ax < 0 ? ax + x->rank : ax);
  ir_dim d[2] = {dims_prod(a, x->dims), dims_prod(x->rank - a, x->dims + a)};
  return set_out(cx, n, 0, x->dtype, 2, d);
}

bool infer_transpose(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t perm[MAXR];
  int c;
  int s = attr_ints(cx, n, "perm", perm, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (x->rank < 0) {
    if (s != SRC_CONST) return set_out_unknown(cx, n, 0, x->dtype);
    ir_dim d[MAXR];
    for (int i = 0; i < c; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, c, d);
  }
  if (s == SRC_ABSENT) {
    c = x->rank;
    for (int i = 0; i < c; i++) perm[i] = c - 1 - i;
  }
  bool seen[MAXR] = {false}, ok = c == x->rank;
  for (int i = 0; ok && i < c; i++) {
    if (perm[i] < 0 || perm[i] >= c || seen[perm[i]]) ok = false;
    else seen[perm[i]] = true;
  }
  if (!ok) {
    ir_error(cx->d, n, "perm %s is not a permutation of 0..%d", ints_str(cx, c, perm),
             x->rank - 1);
    return false;
  }
  ir_dim d[MAXR];
  for (int i = 0; i < c; i++) d[i] = x->dims[perm[i]];
  return set_out(cx, n, 0, x->dtype, c, d);
}

bool infer_squeeze(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t axes[MAXR];
  int c;
  int s = attr_or_input(cx, n, "axes", 1, 13, axes, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  ir_dim d[MAXR];
  int r = 0;
  if (s == SRC_DYN) {
    if (c < 0 || c > x->rank) return set_out_unknown(cx, n, 0, x->dtype);
    for (int i = 0; i < x->rank - c; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, x->rank - c, d);
  }
  if (s == SRC_ABSENT || (s == SRC_CONST && c == 0)) {
    for (int i = 0; i < x->rank; i++) {
      if (!dst(x->dims[i])) return set_out_unknown(cx, n, 0, x->dtype);
      if (x->dims[i].v != 1) d[r++] = x->dims[i];
    }
    return set_out(cx, n, 0, x->dtype, r, d);
  }
  bool sq[MAXR] = {false};
  for (int i = 0; i < c; i++) {
    int a = axis_or_err(cx, n, opset_of(cx, n) >= 13 ? 1 : -1, axes[i], x->rank);
    if (a < 0) return false;
    if (dst(x->dims[a]) && x->dims[a].v != 1) {
      ir_error(cx->d, n, "Squeeze axis %lld has size %lld, not 1", LL(axes[i]), LL(x->dims[a].v));
      return false;
    }
    sq[a] = true;
  }
  for (int i = 0; i < x->rank; i++)
    if (!sq[i]) d[r++] = x->dims[i];
  return set_out(cx, n, 0, x->dtype, r, d);
}

bool infer_unsqueeze(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t axes[MAXR];
  int c;
  int s = attr_or_input(cx, n, "axes", 1, 13, axes, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_ABSENT) {
    ir_error(cx->d, n, "Unsqueeze needs axes (%s)",
             opset_of(cx, n) >= 13 ? "input 1 since opset 13" : "attribute before opset 13");
    return false;
  }
  if (x->rank < 0 || c < 0) return set_out_unknown(cx, n, 0, x->dtype);
  int r = x->rank + c;
  if (r > MAXR) {
    ir_error(cx->d, n, "output would have rank %d; at most %d is supported", r, MAXR);
    return false;
  }
  ir_dim d[MAXR];
  if (s == SRC_DYN) {
    for (int i = 0; i < r; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, r, d);
  }
  bool ins[MAXR] = {false};
  for (int i = 0; i < c; i++) {
    int a = axis_or_err(cx, n, opset_of(cx, n) >= 13 ? 1 : -1, axes[i], r);
    if (a < 0) return false;
    if (ins[a]) {
      ir_error(cx->d, n, "Unsqueeze axes %s name axis %d twice", ints_str(cx, c, axes), a);
      return false;
    }
    ins[a] = true;
  }
  for (int i = 0, j = 0; i < r; i++) d[i] = ins[i] ? dstat(1) : x->dims[j++];
  return set_out(cx, n, 0, x->dtype, r, d);
}

bool infer_concat(ir_ctx *cx, ir_node *n) {
  const ir_attr *aa = ir_attr_find(n, "axis");
  if (!aa || aa->kind != IR_ATTR_INT) {
    ir_error(cx->d, n, "Concat needs the int attribute 'axis'");
    return false;
  }
  int first = -1;
  for (int i = 0; i < n->nin; i++) {
    if (!dtypes_agree(cx, n, 0, i)) return false;
    const ir_type *t = ity(n, i);
    if (t->rank < 0) continue;
    if (first < 0) first = i;
    else if (t->rank != ity(n, first)->rank) {
      ir_error_in(cx->d, n, i, "Concat input %d has rank %d but input %d has rank %d", i, t->rank,
                  first, ity(n, first)->rank);
      return false;
    }
  }
  if (first < 0) return set_out_unknown(cx, n, 0, ity(n, 0)->dtype);
  int r = ity(n, first)->rank;
  if (r == 0) {
    ir_error_in(cx->d, n, first, "Concat inputs must have rank >= 1, got a scalar");
    return false;
  }
  int a = axis_or_err(cx, n, -1, aa->i, r);
  if (a < 0) return false;
  ir_dim d[MAXR];
  for (int k = 0; k < r; k++) d[k] = ity(n, first)->dims[k];
  int64_t sum = 0;
  bool sum_known = true;
  for (int i = 0; i < n->nin; i++) {
    const ir_type *t = ity(n, i);
    if (t->rank < 0) {
      sum_known = false;
      continue;
    }
    for (int k = 0; k < r; k++) {
      ir_dim x = t->dims[k];
      if (k == a) {
        if (dst(x) && sum_known && sum <= IR_MAX_ELEMS) sum += x.v;
        else sum_known = false;
        continue;
      }
      if (dst(x) && dst(d[k]) && x.v != d[k].v) {
        ir_error_in(cx->d, n, i, "Concat input %d has size %lld on axis %d but input %d has %lld",
                    i, LL(x.v), k, first, LL(d[k].v));
        return false;
      }
      if (dst(x) || (!dst(d[k]) && !dsym(d[k]))) d[k] = x;
    }
  }
  if (n->nin == 1) d[a] = ity(n, 0)->rank >= 0 ? ity(n, 0)->dims[a] : DUNK;
  else d[a] = sum_known ? dstat(sum) : DUNK;
  return set_out(cx, n, 0, ity(n, 0)->dtype, r, d);
}

bool infer_split(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int os = opset_of(cx, n);
  int64_t sz[64];
  int c;
  int nout = n->nout;
  int s = attr_or_input(cx, n, "split", 1, 13, sz, 64, &c);
  if (s == SRC_ERR) return false;
  const ir_attr *no = ir_attr_find(n, "num_outputs");
  if (no && os < 18) {
    ir_error(cx->d, n, "attribute 'num_outputs' is only allowed since opset 18");
    return false;
  }
  if (no && (no->kind != IR_ATTR_INT || no->i != nout)) {
    ir_error(cx->d, n, "num_outputs %lld does not match the node's %d outputs", LL(no->i), nout);
    return false;
  }
  if (no && s != SRC_ABSENT) {
    ir_error(cx->d, n, "Split takes either the split input or num_outputs, not both");
    return false;
  }
  if (os >= 18 && s == SRC_ABSENT && !no) {
    ir_error(cx->d, n, "Split needs the split input or the num_outputs attribute at opset %d", os);
    return false;
  }
  if (s != SRC_ABSENT && c >= 0 && c != nout) {
    ir_error(cx->d, n, "split has %d sizes but the node has %d outputs", c, nout);
    return false;
  }
  if (x->rank < 0) {
    bool ok = true;
    for (int i = 0; i < nout; i++) ok = set_out_unknown(cx, n, i, x->dtype) && ok;
    return ok;
  }
  int a = axis_or_err(cx, n, -1, attr_int(cx, n, "axis", 0), x->rank);
  if (a < 0) return false;
  ir_dim D = x->dims[a];
  ir_dim outd[64];
  if (nout > 64) {
    for (int i = 0; i < 64; i++) outd[i] = DUNK;
  }
  if (s == SRC_CONST) {
    int64_t sum = 0;
    for (int i = 0; i < c; i++) {
      if (sz[i] < 0) {
        ir_error(cx->d, n, "split sizes %s have a negative entry", ints_str(cx, c, sz));
        return false;
      }
      if (sz[i] > IR_MAX_ELEMS) sz[i] = IR_MAX_ELEMS + 1;
      sum += sz[i];
      outd[i] = dstat(sz[i]);
    }
    if (dst(D) && sum != D.v) {
      ir_error(cx->d, n, "split sizes %s add up to %lld but axis %d has size %lld",
               ints_str(cx, c, sz), LL(sum), a, LL(D.v));
      return false;
    }
  } else if (s == SRC_DYN || !dst(D) || nout > 64) {
    for (int i = 0; i < nout && i < 64; i++) outd[i] = DUNK;
  } else {
    int64_t chunk;
    if (os >= 18) { /* ceil; the last chunk may be smaller */
      chunk = (D.v + nout - 1) / nout;
      if (chunk * (nout - 1) > D.v) {
        ir_error(cx->d, n, "cannot split size %lld of axis %d into %d outputs", LL(D.v), a, nout);
        return false;
      }
    } else {
      if (D.v % nout) {
        ir_error(cx->d, n, "cannot split size %lld of axis %d evenly into %d outputs", LL(D.v), a,
                 nout);
        return false;
      }
      chunk = D.v / nout;
    }
    for (int i = 0; i < nout; i++) outd[i] = dstat(i < nout - 1 ? chunk : D.v - chunk * (nout - 1));
  }
  bool ok = true;
  ir_dim d[MAXR];
  memcpy(d, x->dims, sizeof(ir_dim) * (size_t)x->rank);
  for (int i = 0; i < nout; i++) {
    d[a] = i < 64 ? outd[i] : DUNK;
    ok = set_out(cx, n, i, x->dtype, x->rank, d) && ok;
  }
  return ok;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Elements of a static dim d taken by start:end:step, ONNX Slice rules. */
static int64_t slice_len(int64_t d, int64_t s, int64_t e, int64_t step) {
  if (s < 0) s += d;
  if (e < 0) e += d;
  if (step > 0) {
    s = clamp64(s, 0, d);
    e = clamp64(e, 0, d);
    return e > s ? (e - s - 1) / step + 1 : 0;
  }
  int64_t ms = step == INT64_MIN ? INT64_MAX : -step;
  s = clamp64(s, 0, d - 1);
  e = clamp64(e, -1, d - 1);
  return s > e ? (s - e - 1) / ms + 1 : 0;
}

bool infer_slice(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int os = opset_of(cx, n);
  int64_t st[MAXR], en[MAXR], ax[MAXR], sp[MAXR];
  int cs, ce, ca, cp;
  int ks, ke, ka, kp;
  if (os >= 10) {
    static const char *nm[] = {"starts", "ends", "axes"};
    for (int i = 0; i < 3; i++)
      if (ir_attr_find(n, nm[i])) {
        ir_error(cx->d, n, "attribute '%s' is not allowed at opset %d; Slice takes inputs since opset 10",
                 nm[i], os);
        return false;
      }
    if (!ity(n, 1) || !ity(n, 2)) {
      ir_error(cx->d, n, "Slice needs inputs starts and ends (1 and 2) at opset %d", os);
      return false;
    }
    ks = in_ints(cx, n, 1, st, MAXR, &cs);
    ke = in_ints(cx, n, 2, en, MAXR, &ce);
    ka = in_ints(cx, n, 3, ax, MAXR, &ca);
    kp = in_ints(cx, n, 4, sp, MAXR, &cp);
  } else {
    if (n->nin > 1) {
      ir_error(cx->d, n, "Slice takes starts/ends/axes as attributes before opset 10, not inputs");
      return false;
    }
    ks = attr_ints(cx, n, "starts", st, MAXR, &cs);
    ke = attr_ints(cx, n, "ends", en, MAXR, &ce);
    ka = attr_ints(cx, n, "axes", ax, MAXR, &ca);
    kp = SRC_ABSENT;
    cp = -1;
    if (ks == SRC_ABSENT || ke == SRC_ABSENT) {
      ir_error(cx->d, n, "Slice needs the attributes starts and ends before opset 10");
      return false;
    }
  }
  if (ks == SRC_ERR || ke == SRC_ERR || ka == SRC_ERR || kp == SRC_ERR) return false;
  int len = cs >= 0 ? cs : ce;
  int lens[] = {cs, ce, ka == SRC_ABSENT ? -1 : ca, kp == SRC_ABSENT ? -1 : cp};
  for (int i = 0; i < 4; i++)
    if (lens[i] >= 0 && len >= 0 && lens[i] != len) {
      ir_error(cx->d, n, "Slice starts, ends, axes and steps must have the same length (%d vs %d)",
               len, lens[i]);
      return false;
    }
  for (int i = 0; i < 4 && len < 0; i++) len = lens[i];
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  ir_dim d[MAXR];
  memcpy(d, x->dims, sizeof(ir_dim) * (size_t)x->rank);
  if (ka == SRC_DYN || (ka == SRC_ABSENT && len < 0)) { /* which axes: unknown */
    for (int i = 0; i < x->rank; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, x->rank, d);
  }
  if (ka == SRC_ABSENT)
    for (int i = 0; i < len; i++) ax[i] = i;
  if (len > x->rank) {
    ir_error(cx->d, n, "Slice has %d axes but the input has rank %d", len, x->rank);
    return false;
  }
  bool seen[MAXR] = {false};
  for (int i = 0; i < len; i++) {
    int a = axis_or_err(cx, n, os >= 10 ? 3 : -1, ax[i], x->rank);
    if (a < 0) return false;
    if (seen[a]) {
      ir_error(cx->d, n, "Slice axes %s name axis %d twice", ints_str(cx, len, ax), a);
      return false;
    }
    seen[a] = true;
    int64_t step = kp == SRC_CONST ? sp[i] : 1;
    if (kp == SRC_CONST && step == 0) {
      ir_error_in(cx->d, n, 4, "Slice step cannot be 0");
      return false;
    }
    if (ks != SRC_CONST || ke != SRC_CONST || kp == SRC_DYN) {
      d[a] = DUNK;
      continue;
    }
    if (dst(x->dims[a])) d[a] = dstat(slice_len(x->dims[a].v, st[i], en[i], step));
    else if (!(st[i] == 0 && step == 1 && en[i] >= INT32_MAX)) d[a] = DUNK;
  }
  return set_out(cx, n, 0, x->dtype, x->rank, d);
}

bool infer_gather(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *ix = ity(n, 1);
  if (!need_int_in(cx, n, 1, "indices")) return false;
  if (x->rank == 0) {
    ir_error_in(cx->d, n, 0, "Gather data must have rank >= 1, got a scalar");
    return false;
  }
  if (x->rank < 0 || ix->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  int a = axis_or_err(cx, n, -1, attr_int(cx, n, "axis", 0), x->rank);
  if (a < 0) return false;
  int r = x->rank - 1 + ix->rank;
  if (r > MAXR) {
    ir_error(cx->d, n, "output would have rank %d; at most %d is supported", r, MAXR);
    return false;
  }
  const ir_tensor *kt = n->in[1]->konst;
  if (kt && dst(x->dims[a]) && kt->data) {
    int64_t D = x->dims[a].v;
    for (int64_t i = 0; i < kt->numel; i++) {
      int64_t v = ir_tensor_get_i(kt, i);
      if (v < -D || v >= D) {
        ir_error_in(cx->d, n, 1, "Gather index %lld is out of range for axis %d of size %lld", LL(v),
                    a, LL(D));
        return false;
      }
    }
  }
  ir_dim d[MAXR];
  int k = 0;
  for (int i = 0; i < a; i++) d[k++] = x->dims[i];
  for (int i = 0; i < ix->rank; i++) d[k++] = ix->dims[i];
  for (int i = a + 1; i < x->rank; i++) d[k++] = x->dims[i];
  return set_out(cx, n, 0, x->dtype, r, d);
}

bool infer_gather_elements(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *ix = ity(n, 1);
  if (!need_int_in(cx, n, 1, "indices")) return false;
  if (x->rank >= 0) {
    if (x->rank == 0) {
      ir_error_in(cx->d, n, 0, "GatherElements data must have rank >= 1, got a scalar");
      return false;
    }
    if (axis_or_err(cx, n, -1, attr_int(cx, n, "axis", 0), x->rank) < 0) return false;
    if (ix->rank >= 0 && ix->rank != x->rank) {
      ir_error_in(cx->d, n, 1, "GatherElements indices have rank %d but data has rank %d", ix->rank,
                  x->rank);
      return false;
    }
  }
  return set_out_t(cx, n, 0, x->dtype, ix);
}

bool infer_gather_nd(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *ix = ity(n, 1);
  if (!need_int_in(cx, n, 1, "indices")) return false;
  int64_t b = attr_int(cx, n, "batch_dims", 0);
  if (b < 0) {
    ir_error(cx->d, n, "GatherND batch_dims %lld is negative", LL(b));
    return false;
  }
  if (!need_rank_min(cx, n, 0, 1, "data") || !need_rank_min(cx, n, 1, 1, "indices")) return false;
  if (x->rank < 0 || ix->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  int r = x->rank, q = ix->rank;
  if (b >= q || b >= r) {
    ir_error(cx->d, n, "GatherND batch_dims %lld must be less than the ranks of data (%d) and indices (%d)",
             LL(b), r, q);
    return false;
  }
  for (int i = 0; i < b; i++)
    if (dst(x->dims[i]) && dst(ix->dims[i]) && x->dims[i].v != ix->dims[i].v) {
      ir_error(cx->d, n, "GatherND batch dim %d differs: data %lld vs indices %lld", i,
               LL(x->dims[i].v), LL(ix->dims[i].v));
      return false;
    }
  ir_dim m = ix->dims[q - 1];
  if (!dst(m)) return set_out_unknown(cx, n, 0, x->dtype);
  if (m.v < 1 || m.v > r - b) {
    ir_error_in(cx->d, n, 1, "GatherND indices' last dim %lld must be in 1..%lld (data rank %d, batch_dims %lld)",
                LL(m.v), LL(r - b), r, LL(b));
    return false;
  }
  ir_dim d[MAXR];
  int k = 0;
  for (int i = 0; i < q - 1; i++) d[k++] = ix->dims[i];
  for (int i = (int)(b + m.v); i < r; i++) {
    if (k >= MAXR) {
      ir_error(cx->d, n, "output would have rank > %d", MAXR);
      return false;
    }
    d[k++] = x->dims[i];
  }
  return set_out(cx, n, 0, x->dtype, k, d);
}

bool infer_scatter(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *ix = ity(n, 1), *u = ity(n, 2);
  if (!need_int_in(cx, n, 1, "indices") || !dtypes_agree(cx, n, 0, 2)) return false;
  const char *red = attr_str(n, "reduction", "none");
  if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
      strcmp(red, "min")) {
    ir_error(cx->d, n, "reduction '%s' is not one of none, add, mul, max, min", red);
    return false;
  }
  if (n->op == IR_OP_ScatterElements) {
    if (x->rank >= 0 && axis_or_err(cx, n, -1, attr_int(cx, n, "axis", 0), x->rank) < 0)
      return false;
    if (ix->rank >= 0 && u->rank >= 0) {
      bool same = ix->rank == u->rank;
      for (int i = 0; same && i < ix->rank; i++)
        if (dst(ix->dims[i]) && dst(u->dims[i]) && ix->dims[i].v != u->dims[i].v) same = false;
      if (!same) {
        ir_error_in(cx->d, n, 2, "ScatterElements updates of shape %s differ from indices %s",
                    dims_str(cx, u->rank, u->dims), dims_str(cx, ix->rank, ix->dims));
        return false;
      }
    }
    if (x->rank >= 0 && ix->rank >= 0 && x->rank != ix->rank) {
      ir_error_in(cx->d, n, 1, "ScatterElements indices have rank %d but data has rank %d",
                  ix->rank, x->rank);
      return false;
    }
  } else if (x->rank >= 0 && ix->rank >= 1 && u->rank >= 0 && dst(ix->dims[ix->rank - 1])) {
    int64_t m = ix->dims[ix->rank - 1].v;
    if (m < 1 || m > x->rank) {
      ir_error_in(cx->d, n, 1, "ScatterND indices' last dim %lld must be in 1..%d", LL(m), x->rank);
      return false;
    }
    int want = ix->rank - 1 + x->rank - (int)m;
    bool ok = u->rank == want;
    for (int i = 0; ok && i < want; i++) {
      ir_dim e = i < ix->rank - 1 ? ix->dims[i] : x->dims[m + i - (ix->rank - 1)];
      if (dst(e) && dst(u->dims[i]) && e.v != u->dims[i].v) ok = false;
    }
    if (!ok) {
      ir_error_in(cx->d, n, 2, "ScatterND updates of shape %s do not fit indices %s and data %s",
                  dims_str(cx, u->rank, u->dims), dims_str(cx, ix->rank, ix->dims),
                  dims_str(cx, x->rank, x->dims));
      return false;
    }
  }
  return set_out_t(cx, n, 0, x->dtype, x);
}

bool infer_expand(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t sh[MAXR];
  int c;
  int s = in_ints(cx, n, 1, sh, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (x->rank < 0 || c < 0) return set_out_unknown(cx, n, 0, x->dtype);
  ir_dim sd[MAXR], d[MAXR];
  bool is_sym[MAXR] = {false};
  int r;
  if (s == SRC_CONST || (s == SRC_DYN && in_symdims(n, 1, sh, is_sym, sd, &c))) {
    for (int i = 0; i < c; i++) {
      if (is_sym[i]) continue;
      if (sh[i] < 0) {
        ir_error_in(cx->d, n, 1, "Expand shape %s has a negative value", ints_str(cx, c, sh));
        return false;
      }
      sd[i] = dstat(sh[i]);
    }
    if (!ir_broadcast(cx, n, x->rank, x->dims, c, sd, &r, d)) return false;
    return set_out(cx, n, 0, x->dtype, r, d);
  }
  /* shape unknown: a static non-1 input dim survives, the rest is unknown */
  r = x->rank > c ? x->rank : c;
  for (int i = 0; i < r; i++) {
    int xi = x->rank - r + i;
    d[i] = xi >= 0 && dst(x->dims[xi]) && x->dims[xi].v != 1 ? x->dims[xi] : DUNK;
  }
  return set_out(cx, n, 0, x->dtype, r, d);
}

bool infer_tile(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int64_t rep[MAXR];
  int c;
  int s = in_ints(cx, n, 1, rep, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  if (c >= 0 && c != x->rank) {
    ir_error_in(cx->d, n, 1, "Tile repeats have %d entries but the input has rank %d", c, x->rank);
    return false;
  }
  ir_dim d[MAXR];
  for (int i = 0; i < x->rank; i++) {
    if (s != SRC_CONST) {
      d[i] = DUNK;
      continue;
    }
    if (rep[i] < 0) {
      ir_error_in(cx->d, n, 1, "Tile repeats %s have a negative value", ints_str(cx, c, rep));
      return false;
    }
    ir_dim xd = x->dims[i];
    if (rep[i] == 1) d[i] = xd;
    else if (rep[i] == 0) d[i] = dstat(0);
    else if (dst(xd))
      d[i] = xd.v && rep[i] > IR_MAX_ELEMS / xd.v ? dstat(IR_MAX_ELEMS + 1) : dstat(xd.v * rep[i]);
    else d[i] = DUNK;
  }
  return set_out(cx, n, 0, x->dtype, x->rank, d);
}

bool infer_pad(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int os = opset_of(cx, n);
  const char *mode = attr_str(n, "mode", "constant");
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
      strcmp(mode, "wrap")) {
    ir_error(cx->d, n, "Pad mode '%s' is not one of constant, reflect, edge, wrap", mode);
    return false;
  }
  int64_t pads[2 * MAXR], axes[MAXR];
  int c, ca = -1;
  int s = attr_or_input(cx, n, "pads", 1, 11, pads, 2 * MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_ABSENT) {
    ir_error(cx->d, n, "Pad needs pads (%s)", os >= 11 ? "input 1" : "attribute");
    return false;
  }
  if (os >= 11 && ity(n, 2)) {
    if (!dtypes_agree(cx, n, 0, 2) || !need_scalar(cx, n, 2, true, "constant_value")) return false;
  }
  int ka = SRC_ABSENT;
  if (os >= 18) ka = in_ints(cx, n, 3, axes, MAXR, &ca);
  if (ka == SRC_ERR) return false;
  if (x->rank < 0) return set_out_unknown(cx, n, 0, x->dtype);
  int na = ka == SRC_ABSENT ? x->rank : ca;
  if (ka == SRC_ABSENT)
    for (int i = 0; i < x->rank; i++) axes[i] = i;
  if (c >= 0 && na >= 0 && c != 2 * na) {
    ir_error(cx->d, n, "Pad has %d pads but needs %d (begin and end for %d axes)", c, 2 * na, na);
    return false;
  }
  ir_dim d[MAXR];
  memcpy(d, x->dims, sizeof(ir_dim) * (size_t)x->rank);
  if (ka == SRC_DYN || na < 0) {
    for (int i = 0; i < x->rank; i++) d[i] = DUNK;
    return set_out(cx, n, 0, x->dtype, x->rank, d);
  }
  for (int i = 0; i < na; i++) {
    int a = axis_or_err(cx, n, ka == SRC_CONST ? 3 : -1, axes[i], x->rank);
    if (a < 0) return false;
    if (s != SRC_CONST) {
      d[a] = DUNK;
      continue;
    }
    int64_t pb = pads[i], pe = pads[na + i];
    if (pb > IR_MAX_ELEMS || pe > IR_MAX_ELEMS || pb < -IR_MAX_ELEMS || pe < -IR_MAX_ELEMS) {
      ir_error(cx->d, n, "pads %s are absurd", ints_str(cx, c, pads));
      return false;
    }
    if (pb == 0 && pe == 0) continue;
    if (!dst(x->dims[a])) {
      d[a] = DUNK;
      continue;
    }
    int64_t v = x->dims[a].v + pb + pe;
    if (v < 0) {
      ir_error(cx->d, n, "pads %s make axis %d of size %lld negative", ints_str(cx, c, pads), a,
               LL(x->dims[a].v));
      return false;
    }
    d[a] = dstat(v);
  }
  return set_out(cx, n, 0, x->dtype, x->rank, d);
}

static bool type_of_tensor(ir_ctx *cx, ir_node *n, const ir_tensor *t) {
  if (!t) {
    ir_error(cx->d, n, "Constant tensor attribute is empty");
    return false;
  }
  if (t->rank > MAXR || t->rank < 0) {
    ir_error(cx->d, n, "Constant tensor has rank %d; at most %d is supported", t->rank, MAXR);
    return false;
  }
  ir_dim d[MAXR];
  for (int i = 0; i < t->rank; i++) d[i] = dstat(t->dims[i]);
  return set_out(cx, n, 0, t->dtype, t->rank, d);
}

bool infer_constant(ir_ctx *cx, ir_node *n) {
  if (n->nattr != 1) {
    ir_error(cx->d, n, "Constant needs exactly one value attribute, got %d attributes", n->nattr);
    return false;
  }
  const ir_attr *a = &n->attrs[0];
  const char *nm = a->name;
  ir_dim len = dstat(a->n);
  if (!strcmp(nm, "value") || !strcmp(nm, "sparse_value")) {
    if (a->kind != IR_ATTR_TENSOR) {
      ir_error(cx->d, n, "Constant attribute '%s' must be a tensor", nm);
      return false;
    }
    return type_of_tensor(cx, n, a->t);
  }
  if (!strcmp(nm, "value_float") && a->kind == IR_ATTR_FLOAT) return set_out(cx, n, 0, IR_F32, 0, NULL);
  if (!strcmp(nm, "value_int") && a->kind == IR_ATTR_INT) return set_out(cx, n, 0, IR_I64, 0, NULL);
  if (!strcmp(nm, "value_string") && a->kind == IR_ATTR_STRING)
    return set_out(cx, n, 0, IR_STRING, 0, NULL);
  if (!strcmp(nm, "value_floats") && a->kind == IR_ATTR_FLOATS) return set_out(cx, n, 0, IR_F32, 1, &len);
  if (!strcmp(nm, "value_ints") && a->kind == IR_ATTR_INTS) return set_out(cx, n, 0, IR_I64, 1, &len);
  if (!strcmp(nm, "value_strings") && a->kind == IR_ATTR_STRINGS)
    return set_out(cx, n, 0, IR_STRING, 1, &len);
  ir_error(cx->d, n, "Constant attribute '%s' is not a value attribute of the right kind", nm);
  return false;
}

bool infer_constant_of_shape(ir_ctx *cx, ir_node *n) {
  ir_dtype dt = IR_F32;
  const ir_attr *va = ir_attr_find(n, "value");
  if (va) {
    if (va->kind != IR_ATTR_TENSOR || !va->t || va->t->numel != 1) {
      ir_error(cx->d, n, "ConstantOfShape value must be a one-element tensor");
      return false;
    }
    dt = va->t->dtype;
  }
  int64_t sh[MAXR];
  int c;
  int s = in_ints(cx, n, 0, sh, MAXR, &c);
  if (s == SRC_ERR) return false;
  if (s == SRC_DYN && c < 0) return set_out_unknown(cx, n, 0, dt);
  ir_dim d[MAXR], syms[MAXR];
  bool is_sym[MAXR] = {false}, known = s == SRC_CONST || in_symdims(n, 0, sh, is_sym, syms, &c);
  for (int i = 0; i < c; i++) {
    if (known && !is_sym[i] && sh[i] < 0) {
      ir_error_in(cx->d, n, 0, "ConstantOfShape shape %s has a negative value", ints_str(cx, c, sh));
      return false;
    }
    d[i] = !known ? DUNK : is_sym[i] ? syms[i] : dstat(sh[i]);
  }
  return set_out(cx, n, 0, dt, c, d);
}

bool infer_range(ir_ctx *cx, ir_node *n) {
  ir_dtype dt = ity(n, 0)->dtype;
  static const char *nm[] = {"start", "limit", "delta"};
  for (int i = 0; i < 3; i++)
    if (!dtypes_agree(cx, n, 0, i) || !need_scalar(cx, n, i, true, nm[i])) return false;
  if (!ir_dtype_is_float(dt) && !ir_dtype_is_int(dt)) {
    ir_error_in(cx->d, n, 0, "Range needs numeric inputs, got %s", ir_dtype_name(dt));
    return false;
  }
  const ir_tensor *t[3];
  for (int i = 0; i < 3; i++) {
    t[i] = n->in[i]->konst;
    if (!t[i] || t[i]->numel != 1 || !t[i]->data) return set_out(cx, n, 0, dt, 1, &DUNK);
  }
  int64_t len;
  if (ir_dtype_is_float(dt)) {
    double s = ir_tensor_get_f(t[0], 0), l = ir_tensor_get_f(t[1], 0), dl = ir_tensor_get_f(t[2], 0);
    if (dl == 0) {
      ir_error_in(cx->d, n, 2, "Range delta is 0");
      return false;
    }
    double v = ceil((l - s) / dl);
    if (!(v == v) || v > (double)IR_MAX_ELEMS) {
      ir_error(cx->d, n, "Range(%g, %g, %g) has an absurd length", s, l, dl);
      return false;
    }
    len = v > 0 ? (int64_t)v : 0;
  } else {
    int64_t s = ir_tensor_get_i(t[0], 0), l = ir_tensor_get_i(t[1], 0), dl = ir_tensor_get_i(t[2], 0);
    uint64_t diff, step;
    if (dl == 0) {
      ir_error_in(cx->d, n, 2, "Range delta is 0");
      return false;
    }
    if (dl > 0) diff = l > s ? (uint64_t)l - (uint64_t)s : 0, step = (uint64_t)dl;
    else diff = s > l ? (uint64_t)s - (uint64_t)l : 0, step = (uint64_t)0 - (uint64_t)dl;
    uint64_t u = diff ? (diff - 1) / step + 1 : 0;
    if (u > (uint64_t)IR_MAX_ELEMS) {
      ir_error(cx->d, n, "Range(%lld, %lld, %lld) has an absurd length", LL(s), LL(l), LL(dl));
      return false;
    }
    len = (int64_t)u;
  }
  ir_dim d = dstat(len);
  return set_out(cx, n, 0, dt, 1, &d);
}

/* ---- routing ------------------------------------------------------------------------------- */

bool infer_topk(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  int os = opset_of(cx, n);
  int64_t k = -1;
  bool kknown = false;
  if (os >= 10) {
    if (!ity(n, 1)) {
      ir_error(cx->d, n, "TopK needs input K (1) at opset %d", os);
      return false;
    }
    if (ir_attr_find(n, "k")) {
      ir_error(cx->d, n, "attribute 'k' is not allowed at opset %d; it is input 1 since opset 10", os);
      return false;
    }
    int64_t v[1];
    int c;
    int s = in_ints(cx, n, 1, v, 1, &c);
    if (s == SRC_ERR) return false;
    if (c >= 0 && c != 1) {
      ir_error_in(cx->d, n, 1, "TopK K must have exactly one element, got %d", c);
      return false;
    }
    if (s == SRC_CONST) k = v[0], kknown = true;
  } else {
    const ir_attr *a = ir_attr_find(n, "k");
    if (!a || a->kind != IR_ATTR_INT || n->nin > 1) {
      ir_error(cx->d, n, "TopK needs the int attribute 'k' (and no K input) before opset 10");
      return false;
    }
    k = a->i, kknown = true;
  }
  if (kknown && k < 0) {
    ir_error(cx->d, n, "TopK k=%lld is negative", LL(k));
    return false;
  }
  if (x->rank < 0) {
    bool ok = set_out_unknown(cx, n, 0, x->dtype);
    return set_out_unknown(cx, n, 1, IR_I64) && ok;
  }
  int a = axis_or_err(cx, n, -1, attr_int(cx, n, "axis", -1), x->rank);
  if (a < 0) return false;
  if (kknown && dst(x->dims[a]) && k > x->dims[a].v) {
    ir_error(cx->d, n, "TopK k=%lld exceeds dim %lld of axis %d", LL(k), LL(x->dims[a].v), a);
    return false;
  }
  ir_dim d[MAXR];
  memcpy(d, x->dims, sizeof(ir_dim) * (size_t)x->rank);
  d[a] = kknown ? dstat(k) : DUNK;
  bool ok = set_out(cx, n, 0, x->dtype, x->rank, d);
  return set_out(cx, n, 1, IR_I64, x->rank, d) && ok;
}

bool infer_onehot(ir_ctx *cx, ir_node *n) {
  const ir_type *ix = ity(n, 0), *dp = ity(n, 1), *vals = ity(n, 2);
  if (!need_scalar(cx, n, 1, true, "depth")) return false;
  if (!ir_dtype_is_int(dp->dtype) && !ir_dtype_is_float(dp->dtype)) {
    ir_error_in(cx->d, n, 1, "OneHot depth must be numeric, got %s", ir_dtype_name(dp->dtype));
    return false;
  }
  if (!ir_dtype_is_int(ix->dtype) && !ir_dtype_is_float(ix->dtype)) {
    ir_error_in(cx->d, n, 0, "OneHot indices must be numeric, got %s", ir_dtype_name(ix->dtype));
    return false;
  }
  if (vals->rank >= 0 && (vals->rank != 1 || (dst(vals->dims[0]) && vals->dims[0].v != 2))) {
    ir_error_in(cx->d, n, 2, "OneHot values must be a 2-element vector, got shape %s",
                dims_str(cx, vals->rank, vals->dims));
    return false;
  }
  ir_dim depth = DUNK;
  const ir_tensor *kt = n->in[1]->konst;
  if (kt && kt->numel == 1 && kt->data) {
    double v = ir_tensor_get_f(kt, 0);
    if (!(v >= 0) || v > (double)IR_MAX_ELEMS) {
      ir_error_in(cx->d, n, 1, "OneHot depth %g is not a valid size", v);
      return false;
    }
    depth = dstat((int64_t)v);
  }
  if (ix->rank < 0) return set_out_unknown(cx, n, 0, vals->dtype);
  int r = ix->rank + 1;
  if (r > MAXR) {
    ir_error(cx->d, n, "output would have rank %d; at most %d is supported", r, MAXR);
    return false;
  }
  int a = axis_or_err(cx, n, -1, attr_int(cx, n, "axis", -1), r);
  if (a < 0) return false;
  ir_dim d[MAXR];
  for (int i = 0, j = 0; i < r; i++) d[i] = i == a ? depth : ix->dims[j++];
  return set_out(cx, n, 0, vals->dtype, r, d);
}

bool infer_nonzero(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0);
  ir_dim d[2] = {x->rank >= 0 ? dstat(x->rank) : DUNK, DUNK};
  return set_out(cx, n, 0, IR_I64, 2, d);
}

/* com.microsoft.MoE: input (rows, H) or (B, S, H); router_probs (rows, E);
 * fc1 (E, H, I) [old ORT] or (E, I, H) [new ORT, also (E, 2I, H) for swiglu];
 * fc2 the transposed layout of fc1; optional biases (E, I) and (E, H); optional
 * fc3 like fc1. The output has the input's type. */
bool infer_ms_moe(ir_ctx *cx, ir_node *n) {
  const ir_type *x = ity(n, 0), *rp = ity(n, 1);
  static const char *nm[] = {"input", "router_probs", "fc1_experts_weights", "fc1_experts_bias",
                             "fc2_experts_weights", "fc2_experts_bias", "fc3_experts_weights",
                             "fc3_experts_bias"};
  for (int i = 2; i <= 4; i += 2)
    if (!ity(n, i)) {
      ir_error_in(cx->d, n, i, "MoE needs input %d (%s)", i, nm[i]);
      return false;
    }
  for (int i = 1; i < n->nin; i++)
    if (ity(n, i) && !dtypes_agree(cx, n, 0, i)) return false;
  if (!need_float(cx, n, 0)) return false;
  if (x->rank >= 0 && x->rank != 2 && x->rank != 3) {
    ir_error_in(cx->d, n, 0, "MoE input must be (rows, hidden) or (batch, seq, hidden), got shape %s",
                dims_str(cx, x->rank, x->dims));
    return false;
  }
  if (!need_rank(cx, n, 1, 2, "router_probs")) return false;
  for (int i = 2; i < n->nin; i++)
    if (ity(n, i) && !need_rank(cx, n, i, (i % 2) ? 2 : 3, nm[i])) return false;
  ir_dim H = x->rank >= 0 ? x->dims[x->rank - 1] : DUNK;
  ir_dim rows = x->rank >= 0 ? dims_prod(x->rank - 1, x->dims) : DUNK;
  ir_dim E = rp->rank == 2 ? rp->dims[1] : DUNK;
  if (rp->rank == 2 && dst(rows) && dst(rp->dims[0]) && rows.v != rp->dims[0].v) {
    ir_error_in(cx->d, n, 1, "MoE router_probs has %lld rows but the input has %lld",
                LL(rp->dims[0].v), LL(rows.v));
    return false;
  }
  const ir_type *f1 = ity(n, 2), *f2 = ity(n, 4);
  /* expert counts */
  for (int i = 2; i < n->nin; i++) {
    const ir_type *t = ity(n, i);
    if (!t || t->rank < 1) continue;
    if (dst(E) && dst(t->dims[0]) && t->dims[0].v != E.v) {
      ir_error_in(cx->d, n, i, "MoE %s has %lld experts but router_probs has %lld", nm[i],
                  LL(t->dims[0].v), LL(E.v));
      return false;
    }
    if (!dst(E) && dst(t->dims[0])) E = t->dims[0];
  }
  int64_t k = attr_int(cx, n, "k", 1);
  if (k < 1 || (dst(E) && k > E.v)) {
    ir_error(cx->d, n, "MoE k=%lld must be in 1..%lld (the number of experts)", LL(k),
             LL(dst(E) ? E.v : k));
    return false;
  }
  /* layouts: fc1 (E,H,I) with fc2 (E,I,H), or fc1 (E,I,H) with fc2 (E,H,I) */
  if (f1->rank == 3 && f2->rank == 3) {
    const char *act = attr_str(n, "activation_type", "relu");
    bool glu = !strcmp(act, "swiglu");
    ir_dim a1 = f1->dims[1], b1 = f1->dims[2], a2 = f2->dims[1], b2 = f2->dims[2];
    /* which is hidden: H_dim of fc1 at 2 (new) or 1 (old) */
    bool fits_new = (!dst(H) || !dst(b1) || b1.v == H.v) && (!dst(H) || !dst(a2) || a2.v == H.v);
    bool fits_old = (!dst(H) || !dst(a1) || a1.v == H.v) && (!dst(H) || !dst(b2) || b2.v == H.v);
    ir_dim I1 = fits_new ? a1 : b1, I2 = fits_new ? b2 : a2;
    bool inter_ok = !dst(I1) || !dst(I2) || I1.v == I2.v || (glu && I1.v == 2 * I2.v);
    if (!fits_new && !fits_old) {
      ir_error(cx->d, n, "MoE expert weights fc1 %s and fc2 %s do not fit hidden size %lld "
                         "(expected fc1 (E,I,H) with fc2 (E,H,I), or fc1 (E,H,I) with fc2 (E,I,H))",
               dims_str(cx, f1->rank, f1->dims), dims_str(cx, f2->rank, f2->dims), LL(H.v));
      return false;
    }
    if (!inter_ok && fits_new && fits_old) { /* square: try the other reading */
      I1 = b1, I2 = a2;
      inter_ok = !dst(I1) || !dst(I2) || I1.v == I2.v || (glu && I1.v == 2 * I2.v);
    }
    if (!inter_ok) {
      ir_error(cx->d, n, "MoE expert weights fc1 %s and fc2 %s disagree on the inner size (%lld vs %lld)",
               dims_str(cx, f1->rank, f1->dims), dims_str(cx, f2->rank, f2->dims), LL(I1.v),
               LL(I2.v));
      return false;
    }
    /* biases: fc1 (E, I1), fc2 (E, H), fc3 like fc1 */
    const ir_type *b1t = ity(n, 3), *b2t = ity(n, 5), *f3 = ity(n, 6), *b3t = ity(n, 7);
    if ((b1t && b1t->rank == 2 && !need_dim(cx, n, 3, 1, I1, nm[3])) ||
        (b2t && b2t->rank == 2 && !need_dim(cx, n, 5, 1, H, nm[5])) ||
        (b3t && b3t->rank == 2 && !need_dim(cx, n, 7, 1, I2, nm[7])))
      return false;
    if (f3 && f3->rank == 3) {
      bool same = true;
      for (int i = 0; i < 3; i++)
        if (dst(f3->dims[i]) && dst(f1->dims[i]) && f3->dims[i].v != f1->dims[i].v && !glu)
          same = false;
      if (!same) {
        ir_error_in(cx->d, n, 6, "MoE fc3_experts_weights %s does not match fc1 %s",
                    dims_str(cx, f3->rank, f3->dims), dims_str(cx, f1->rank, f1->dims));
        return false;
      }
    }
  }
  return set_out_t(cx, n, 0, x->dtype, x);
}

/* ---- drivers ------------------------------------------------------------------------------ */

/* `failed`: when an input's type is unknown because its producer is in
 * this list (already reported), fail without another diagnostic. */
static bool infer_node(ir_ctx *cx, ir_node *n, ir_node *const *failed, int nfailed) {
  if ((unsigned)n->op >= IR_OP_COUNT) MIXC_BUG("node with op code %d", (int)n->op);
  const ir_opinfo *oi = &ir_ops[n->op];
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in)) {
    if (oi->max_in < 0)
      ir_error(cx->d, n, "%s takes at least %d inputs, got %d", OPN(n), oi->min_in, n->nin);
    else if (oi->min_in == oi->max_in)
      ir_error(cx->d, n, "%s takes %d inputs, got %d", OPN(n), oi->min_in, n->nin);
    else
      ir_error(cx->d, n, "%s takes %d to %d inputs, got %d", OPN(n), oi->min_in, oi->max_in, n->nin);
    return false;
  }
  if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out)) {
    if (oi->max_out < 0)
      ir_error(cx->d, n, "%s has at least %d outputs, got %d", OPN(n), oi->min_out, n->nout);
    else if (oi->min_out == oi->max_out)
      ir_error(cx->d, n, "%s has %d outputs, got %d", OPN(n), oi->min_out, n->nout);
    else
      ir_error(cx->d, n, "%s has %d to %d outputs, got %d", OPN(n), oi->min_out, oi->max_out,
               n->nout);
    return false;
  }
  bool ok = true;
  for (int i = 0; i < n->nin; i++) {
    ir_value *v = n->in[i];
    if (!v) {
      if (i < oi->min_in || oi->max_in < 0) {
        ir_error_in(cx->d, n, i, "required input %d is missing", i);
        ok = false;
      }
      continue;
    }
    if (v->type.dtype == IR_UNDEF || !ir_dtype_valid(v->type.dtype)) {
      bool known_failure = false;
      for (int k = 0; v->def && k < nfailed; k++) known_failure |= failed[k] == v->def;
      if (!known_failure) /* else already reported at the producer */
        ir_error_in(cx->d, n, i, "input %s has no known type%s", v->name,
                    v->def ? " (its producer's type was not inferred)" : "");
      ok = false;
    } else if (v->type.rank > MAXR) {
      ir_error_in(cx->d, n, i, "input %s has rank %d; at most %d is supported", v->name,
                  v->type.rank, MAXR);
      ok = false;
    } else if (v->type.rank > 0 && !v->type.dims) {
      MIXC_BUG("value %s has rank %d but no dims", v->name, v->type.rank);
    } else {
      for (int k = 0; k < v->type.rank; k++)
        if (!v->type.dims[k].sym && v->type.dims[k].v > IR_MAX_ELEMS) {
          ir_error_in(cx->d, n, i, "input %s has the absurd dim %lld", v->name,
                      LL(v->type.dims[k].v));
          ok = false;
          break;
        }
    }
  }
  if (!ok) return false;
  if (!oi->infer) MIXC_BUG("op %s has no shape function", OPN(n));
  if (!oi->infer(cx, n)) return false;
  symval_update(cx, n);
  return true;
}

bool ir_infer_node(ir_ctx *cx, ir_node *n) { return infer_node(cx, n, NULL, 0); }

bool ir_infer_graph(ir_ctx *cx) {
  ir_graph *g = cx->g;
  ir_node **failed = NULL;
  int nfailed = 0, cap = 0;
  bool ok = true;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (!n || n->dead) continue;
    if (!infer_node(cx, n, failed, nfailed)) {
      ok = false;
      if (nfailed == cap) {
        cap = cap ? 2 * cap : 16;
        ir_node **p = realloc(failed, sizeof *p * (size_t)cap);
        if (!p) MIXC_BUG("out of memory");
        failed = p;
      }
      failed[nfailed++] = n;
    }
  }
  free(failed);
  return ok;
}
