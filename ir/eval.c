/* eval.c - a small reference evaluator for the ops that shape subgraphs are
 * made of (Shape, Gather, Concat, Slice, Unsqueeze, Reshape, Cast, integer
 * arithmetic, Where, Range, ...). Constant folding uses it; it is not the
 * backend, and it only runs on small constant tensors.
 *
 * Requires: shape inference has run on the node, so every output type is
 * known; ir_eval declines (returns false, no diagnostic) for an op it does not
 * know or an output whose type is not static. Bad constant data (an index out of
 * range, a division by zero) is a diagnostic and returns false. */
#include "ir.h"

#include <math.h>
#include <string.h>

/* Output tensor shaped like the node's inferred output type. */
static ir_tensor *out_like(ir_ctx *cx, const ir_value *v) {
  if (!v || !ir_type_static(&v->type) || v->type.dtype == IR_STRING) return NULL;
  int64_t d[IR_MAX_RANK];
  for (int i = 0; i < v->type.rank; i++) d[i] = v->type.dims[i].v;
  return ir_tensor_new(cx->g->arena, v->type.dtype, v->type.rank, d);
}

static int64_t norm_axis(int64_t a, int rank) { return a < 0 ? a + rank : a; }

/* Flat index into `t` for output position `idx` under numpy broadcasting. */
static int64_t bcast_index(const ir_tensor *t, int orank, const int64_t *idx) {
  int64_t off = 0, stride = 1;
  for (int i = t->rank - 1, j = orank - 1; i >= 0; i--, j--) {
    int64_t c = t->dims[i] == 1 ? 0 : idx[j];
    off += c * stride;
    stride *= t->dims[i];
  }
  return off;
}

static void unravel(int64_t flat, int rank, const int64_t *dims, int64_t *idx) {
  for (int i = rank - 1; i >= 0; i--) {
    idx[i] = dims[i] ? flat % dims[i] : 0;
    flat = dims[i] ? flat / dims[i] : 0;
  }
}

static bool eval_binary(ir_ctx *cx, const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst, *b = n->in[1]->konst;
  bool fl = ir_dtype_is_float(a->dtype);
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(i, y->rank, y->dims, idx);
    int64_t ia = bcast_index(a, y->rank, idx), ib = bcast_index(b, y->rank, idx);
    if (fl) {
      double x = ir_tensor_get_f(a, ia), z = ir_tensor_get_f(b, ib), r;
      switch (n->op) {
      case IR_OP_Add: r = x + z; break;
      case IR_OP_Sub: r = x - z; break;
      case IR_OP_Mul: r = x * z; break;
      case IR_OP_Div: r = x / z; break;
      case IR_OP_Max: r = x > z || isnan(x) ? x : z; break;
      case IR_OP_Min: r = x < z || isnan(x) ? x : z; break;
      case IR_OP_Equal: r = x == z; break;
      case IR_OP_Less: r = x < z; break;
      case IR_OP_Greater: r = x > z; break;
      case IR_OP_LessOrEqual: r = x <= z; break;
      case IR_OP_GreaterOrEqual: r = x >= z; break;
      default: return false;
      }
      if (y->dtype == IR_BOOL) ir_tensor_set_i(y, i, r != 0);
      else ir_tensor_set_f(y, i, r);
    } else {
      int64_t x = ir_tensor_get_i(a, ia), z = ir_tensor_get_i(b, ib), r;
      switch (n->op) {
      case IR_OP_Add: r = (int64_t)((uint64_t)x + (uint64_t)z); break;
      case IR_OP_Sub: r = (int64_t)((uint64_t)x - (uint64_t)z); break;
      case IR_OP_Mul: r = (int64_t)((uint64_t)x * (uint64_t)z); break;
      case IR_OP_Div:
        if (z == 0 || (z == -1 && x == INT64_MIN)) {
          ir_error(cx->d, n, "integer division by zero in constant data");
          return false;
        }
        r = x / z;
        break;
      case IR_OP_Max: r = x > z ? x : z; break;
      case IR_OP_Min: r = x < z ? x : z; break;
      case IR_OP_Equal: r = x == z; break;
      case IR_OP_Less: r = x < z; break;
      case IR_OP_Greater: r = x > z; break;
      case IR_OP_LessOrEqual: r = x <= z; break;
      case IR_OP_GreaterOrEqual: r = x >= z; break;
      case IR_OP_And: r = x && z; break;
      case IR_OP_Or: r = x || z; break;
      case IR_OP_Xor: r = !x != !z; break;
      default: return false;
      }
      ir_tensor_set_i(y, i, r);
    }
  }
  return true;
}

static bool eval_unary(const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst;
  bool fl = ir_dtype_is_float(a->dtype);
  for (int64_t i = 0; i < y->numel; i++) {
    if (fl) {
      double x = ir_tensor_get_f(a, i), r;
      switch (n->op) {
      case IR_OP_Neg: r = -x; break;
      case IR_OP_Abs: r = fabs(x); break;
      case IR_OP_Sqrt: r = sqrt(x); break;
      case IR_OP_Floor: r = floor(x); break;
      case IR_OP_Ceil: r = ceil(x); break;
      case IR_OP_Reciprocal: r = 1.0 / x; break;
      default: return false;
      }
      ir_tensor_set_f(y, i, r);
    } else {
      int64_t x = ir_tensor_get_i(a, i), r;
      switch (n->op) {
      case IR_OP_Neg: r = (int64_t)(0 - (uint64_t)x); break;
      case IR_OP_Abs: r = x < 0 ? (int64_t)(0 - (uint64_t)x) : x; break;
      case IR_OP_Not: r = !x; break;
      case IR_OP_Floor: case IR_OP_Ceil: r = x; break;
      default: return false;
      }
      ir_tensor_set_i(y, i, r);
    }
  }
  return true;
}

static bool eval_cast(const ir_tensor *a, ir_tensor *y) {
  if (y->dtype == IR_F16 || a->dtype == IR_STRING) return false;
  bool from_float = ir_dtype_is_float(a->dtype);
  for (int64_t i = 0; i < y->numel; i++) {
    if (y->dtype == IR_BOOL)
      ir_tensor_set_i(y, i, from_float ? ir_tensor_get_f(a, i) != 0 : ir_tensor_get_i(a, i) != 0);
    else if (from_float || ir_dtype_is_float(y->dtype))
      ir_tensor_set_f(y, i, ir_tensor_get_f(a, i));
    else
      ir_tensor_set_i(y, i, ir_tensor_get_i(a, i));
  }
  return true;
}

static bool eval_concat(const ir_node *n, ir_tensor *y) {
  int64_t axis = norm_axis(ir_attr_int(n, "axis", 0), y->rank);
  size_t es = ir_dtype_size(y->dtype);
  int64_t outer = 1, ystride = 1;
  for (int i = 0; i < axis; i++) outer *= y->dims[i];
  for (int i = (int)axis; i < y->rank; i++) ystride *= y->dims[i];
  int64_t off = 0;
  for (int k = 0; k < n->nin; k++) {
    const ir_tensor *a = n->in[k]->konst;
    int64_t inner = 1;
    for (int i = (int)axis; i < a->rank; i++) inner *= a->dims[i];
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)y->data + (size_t)(o * ystride + off) * es,
             (const char *)a->data + (size_t)(o * inner) * es, (size_t)inner * es);
    off += inner;
  }
  return true;
}

static bool eval_gather(ir_ctx *cx, const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst, *ix = n->in[1]->konst;
  int64_t axis = norm_axis(ir_attr_int(n, "axis", 0), a->rank);
  size_t es = ir_dtype_size(y->dtype);
  int64_t outer = 1, inner = 1, ad = a->dims[axis];
  for (int i = 0; i < axis; i++) outer *= a->dims[i];
  for (int i = (int)axis + 1; i < a->rank; i++) inner *= a->dims[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ix->numel; j++) {
      int64_t k = ir_tensor_get_i(ix, j);
      if (k < 0) k += ad;
      if (k < 0 || k >= ad) {
        ir_error_in(cx->d, n, 1, "index %lld is out of range for axis %lld of size %lld",
                    (long long)ir_tensor_get_i(ix, j), (long long)axis, (long long)ad);
        return false;
      }
      memcpy((char *)y->data + (size_t)((o * ix->numel + j) * inner) * es,
             (const char *)a->data + (size_t)((o * ad + k) * inner) * es, (size_t)inner * es);
    }
  return true;
}

/* Slice: starts/ends/axes/steps from inputs (opset >= 10) or attributes. */
static bool eval_slice(const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst;
  int r = a->rank;
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK];
  for (int i = 0; i < r; i++) start[i] = 0, step[i] = 1;
  int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], ax[IR_MAX_RANK], sp[IR_MAX_RANK];
  int k = 0;
  if (n->opset < 10) {
    const ir_attr *s = ir_attr_find(n, "starts"), *e = ir_attr_find(n, "ends"),
                  *x = ir_attr_find(n, "axes");
    if (!s || !e || s->n != e->n || s->n > r) return false;
    k = s->n;
    for (int i = 0; i < k; i++)
      st[i] = s->ints[i], en[i] = e->ints[i], ax[i] = x ? x->ints[i] : i, sp[i] = 1;
  } else {
    for (int j = 1; j < n->nin; j++)
      if (n->in[j] && !n->in[j]->konst) return false;
    if (!n->in[1] || !n->in[2]) return false;
    k = (int)n->in[1]->konst->numel;
    if (k > r || n->in[2]->konst->numel != k) return false;
    for (int i = 0; i < k; i++) {
      st[i] = ir_tensor_get_i(n->in[1]->konst, i);
      en[i] = ir_tensor_get_i(n->in[2]->konst, i);
      ax[i] = n->nin > 3 && n->in[3] ? ir_tensor_get_i(n->in[3]->konst, i) : i;
      sp[i] = n->nin > 4 && n->in[4] ? ir_tensor_get_i(n->in[4]->konst, i) : 1;
    }
  }
  for (int i = 0; i < k; i++) {
    int64_t x = norm_axis(ax[i], r), d = a->dims[x], s = st[i], e = en[i];
    if (x < 0 || x >= r || sp[i] == 0) return false;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (sp[i] > 0) s = s < 0 ? 0 : s > d ? d : s;
    else s = s < 0 ? -1 : s > d - 1 ? d - 1 : s;
    start[x] = s;
    step[x] = sp[i];
  }
  size_t es = ir_dtype_size(y->dtype);
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(i, y->rank, y->dims, idx);
    int64_t off = 0;
    for (int j = 0; j < r; j++) off = off * a->dims[j] + start[j] + idx[j] * step[j];
    memcpy((char *)y->data + (size_t)i * es, (const char *)a->data + (size_t)off * es, es);
  }
  return true;
}

static bool eval_transpose(const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst;
  int r = a->rank;
  int64_t perm[IR_MAX_RANK], idx[IR_MAX_RANK], st[IR_MAX_RANK];
  const ir_attr *p = ir_attr_find(n, "perm");
  for (int i = 0; i < r; i++) perm[i] = p ? p->ints[i] : r - 1 - i;
  for (int i = r - 1, s = 1; i >= 0; i--) st[i] = s, s *= (int)a->dims[i];
  size_t es = ir_dtype_size(y->dtype);
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(i, r, y->dims, idx);
    int64_t off = 0;
    for (int j = 0; j < r; j++) off += idx[j] * st[perm[j]];
    memcpy((char *)y->data + (size_t)i * es, (const char *)a->data + (size_t)off * es, es);
  }
  return true;
}

static bool eval_where(const ir_node *n, ir_tensor *y) {
  const ir_tensor *c = n->in[0]->konst, *a = n->in[1]->konst, *b = n->in[2]->konst;
  size_t es = ir_dtype_size(y->dtype);
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(i, y->rank, y->dims, idx);
    const ir_tensor *s = ir_tensor_get_i(c, bcast_index(c, y->rank, idx)) ? a : b;
    memcpy((char *)y->data + (size_t)i * es,
           (const char *)s->data + (size_t)bcast_index(s, y->rank, idx) * es, es);
  }
  return true;
}

static bool eval_expand(const ir_node *n, ir_tensor *y) {
  const ir_tensor *a = n->in[0]->konst;
  size_t es = ir_dtype_size(y->dtype);
  int64_t idx[IR_MAX_RANK];
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(i, y->rank, y->dims, idx);
    memcpy((char *)y->data + (size_t)i * es,
           (const char *)a->data + (size_t)bcast_index(a, y->rank, idx) * es, es);
  }
  return true;
}

bool ir_eval(ir_ctx *cx, const ir_node *n, ir_tensor **outs) {
  if (n->nout < 1 || !n->out[0]) return false;
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && !n->in[i]->konst && !(n->op == IR_OP_Shape || n->op == IR_OP_Size))
      return false;
  for (int i = 1; i < n->nout; i++)
    if (n->out[i]) return false; /* multi-output ops are not folded */
  ir_tensor *y = out_like(cx, n->out[0]);
  if (!y) return false;
  outs[0] = y;
  const ir_tensor *a = n->in[0] ? n->in[0]->konst : NULL;
  switch (n->op) {
  case IR_OP_Shape: {
    const ir_type *t = &n->in[0]->type;
    int64_t r = t->rank, s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    for (int64_t i = 0; i < y->numel; i++) {
      if (!ir_dim_static(t->dims[s + i])) return false;
      ir_tensor_set_i(y, i, t->dims[s + i].v);
    }
    return true;
  }
  case IR_OP_Size: {
    int64_t k = ir_type_numel(&n->in[0]->type);
    if (k < 0) return false;
    ir_tensor_set_i(y, 0, k);
    return true;
  }
  case IR_OP_Identity: case IR_OP_Reshape: case IR_OP_Flatten: case IR_OP_Squeeze:
  case IR_OP_Unsqueeze:
    if (a->nbytes != y->nbytes) return false;
    memcpy(y->data, a->data, y->nbytes);
    return true;
  case IR_OP_Cast: return eval_cast(a, y);
  case IR_OP_Concat: return eval_concat(n, y);
  case IR_OP_Gather: return eval_gather(cx, n, y);
  case IR_OP_Slice: return eval_slice(n, y);
  case IR_OP_Transpose: return eval_transpose(n, y);
  case IR_OP_Where: return eval_where(n, y);
  case IR_OP_Expand: return eval_expand(n, y);
  case IR_OP_Add: case IR_OP_Sub: case IR_OP_Mul: case IR_OP_Div: case IR_OP_Equal:
  case IR_OP_Less: case IR_OP_Greater: case IR_OP_LessOrEqual: case IR_OP_GreaterOrEqual:
  case IR_OP_And: case IR_OP_Or: case IR_OP_Xor:
    return eval_binary(cx, n, y);
  case IR_OP_Max: case IR_OP_Min:
    return n->nin == 2 && eval_binary(cx, n, y);
  case IR_OP_Neg: case IR_OP_Abs: case IR_OP_Sqrt: case IR_OP_Floor: case IR_OP_Ceil:
  case IR_OP_Reciprocal: case IR_OP_Not:
    return eval_unary(n, y);
  case IR_OP_ConstantOfShape: {
    const ir_attr *v = ir_attr_find(n, "value");
    for (int64_t i = 0; i < y->numel; i++) {
      if (!v) ir_tensor_set_f(y, i, 0);
      else if (ir_dtype_is_float(v->t->dtype)) ir_tensor_set_f(y, i, ir_tensor_get_f(v->t, 0));
      else ir_tensor_set_i(y, i, ir_tensor_get_i(v->t, 0));
    }
    return true;
  }
  case IR_OP_Range: {
    bool fl = ir_dtype_is_float(y->dtype);
    for (int64_t i = 0; i < y->numel; i++) {
      if (fl)
        ir_tensor_set_f(y, i, ir_tensor_get_f(a, 0) + (double)i * ir_tensor_get_f(n->in[2]->konst, 0));
      else
        ir_tensor_set_i(y, i, ir_tensor_get_i(a, 0) + i * ir_tensor_get_i(n->in[2]->konst, 0));
    }
    return true;
  }
  default: return false;
  }
}
