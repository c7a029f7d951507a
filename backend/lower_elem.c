/* lower_elem.c - lowering of the elementwise ops (unary math and activations,
 * Not, broadcasting arithmetic/compare/logic, Pow, Mod, PRelu, variadic
 * Sum/Mean/Max/Min, Where, Cast/CastLike, Clip, IsNaN/IsInf) and of the ops
 * that work along axes (Softmax/LogSoftmax/Hardmax, Reduce*, ArgMax/ArgMin,
 * LayerNormalization, inference BatchNormalization, InstanceNormalization,
 * CumSum) to the kernels of runtime/kernels/elem.c and elem_reduce.c.
 *
 * Each function reads the node's attributes at its opset, checks the dtype
 * (anything the kernels lack is a diagnostic naming dtype and op), and
 * precomputes everything shape-dependent: merged broadcast strides, the
 * [outer, len, inner] view of an axis, the kept/reduced dims of a reduction.
 *
 * Requires: static shapes on every input and output (be_lower checks), shape
 * inference run, so output types are set and the node is well formed.
 * Constant axes come from n->in[i]->konst; a non-constant one is a diagnostic,
 * except for CumSum, whose kernel can read its axis at run time. */
#include <string.h>

#include "ir/infer.h"
#include "lower.h"
#include "runtime/kernels/elem.h"

#define SAME_CODE(e, i) ((int)(e) == (int)(i))
_Static_assert(SAME_CODE(EDT_F32, IR_F32) && SAME_CODE(EDT_U8, IR_U8) && SAME_CODE(EDT_I8, IR_I8) &&
                   SAME_CODE(EDT_U16, IR_U16) && SAME_CODE(EDT_I16, IR_I16) &&
                   SAME_CODE(EDT_I32, IR_I32) && SAME_CODE(EDT_I64, IR_I64) &&
                   SAME_CODE(EDT_BOOL, IR_BOOL) && SAME_CODE(EDT_F64, IR_F64) &&
                   SAME_CODE(EDT_U32, IR_U32) && SAME_CODE(EDT_U64, IR_U64),
               "elem.h dtype codes must be the ONNX codes");
_Static_assert(RT_MAX_RANK <= IR_MAX_RANK, "kernel ranks fit IR ranks");
_Static_assert((int)EW_MAX_STEPS == (int)IR_EW_MAX_STEPS, "elementwise programs fit the kernel");

/* ---- helpers ----------------------------------------------------------------------------- */
static const char *opname(const ir_node *n) { return ir_ops[n->op].name; }

static int node_opset(const lower_ctx *lc, const ir_node *n) {
  if (n->opset > 0) return n->opset;
  int64_t v = ir_graph_opset(lc->cx->g, ir_domain_name(ir_ops[n->op].domain));
  return v > 0 && v < 100000 ? (int)v : 100000; /* unknown: the newest rules */
}

static bool is_float(ir_dtype t) { return t == IR_F32 || t == IR_F64; }
static bool is_int(ir_dtype t) {
  switch (t) {
  case IR_I8: case IR_I16: case IR_I32: case IR_I64:
  case IR_U8: case IR_U16: case IR_U32: case IR_U64:
    return true;
  default:
    return false;
  }
}
static bool is_num(ir_dtype t) { return is_float(t) || is_int(t); }

static bool bad_dtype(lower_ctx *lc, const ir_node *n, ir_dtype t) {
  ir_error(lc->cx->d, n, "unsupported dtype %s for %s", ir_dtype_name(t), opname(n));
  return false;
}

/* "mixc_k_<family>_<dtype>", owned by the program (the call keeps the pointer). */
static const char *kname(lower_ctx *lc, const char *family, ir_dtype t) {
  return ir_sprintf(lc->p->arena, "mixc_k_%s_%s", family, ir_dtype_name(t));
}

static ir_dtype dt_in(const ir_node *n, int i) { return n->in[i]->type.dtype; }
/* product of dims [from, to) */
static int64_t dprod(const ir_value *v, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= dim_of(v, i);
  return p;
}

/* ---- broadcasting ------------------------------------------------------------------------ */
/* Numpy broadcasting of ins[0..nops) to out's shape: each input's element
 * strides over the output dims (0 where it is broadcast), then size-1 dims
 * dropped and neighbours merged wherever every operand steps through them as
 * one dim. The result has rank >= 1, and its innermost strides are 0 or 1. */
static void bcast_plan(const ir_value *out, int nops, const ir_value *const *ins, int64_t *rank,
                       int64_t *dims, int64_t (*str)[RT_MAX_RANK]) {
  int r = rank_of(out);
  int64_t d[RT_MAX_RANK], s[ELEM_MAX_VARIADIC][RT_MAX_RANK];
  MIXC_ASSERT(r <= RT_MAX_RANK && nops <= ELEM_MAX_VARIADIC);
  bool empty = false;
  for (int i = 0; i < r; i++) {
    d[i] = dim_of(out, i);
    empty |= d[i] == 0;
  }
  for (int k = 0; k < nops; k++) {
    const ir_value *v = ins[k];
    int64_t st = 1;
    MIXC_ASSERT(rank_of(v) <= r);
    for (int i = r - 1; i >= 0; i--) {
      int j = i - (r - rank_of(v));
      s[k][i] = j < 0 || dim_of(v, j) == 1 ? 0 : st;
      if (j >= 0) st *= dim_of(v, j);
    }
  }
  int m = 0;
  int64_t md[RT_MAX_RANK], ms[ELEM_MAX_VARIADIC][RT_MAX_RANK];
  for (int i = 0; i < r && !empty; i++) {
    if (d[i] == 1) continue;
    bool merge = m > 0;
    for (int k = 0; k < nops && merge; k++) merge = ms[k][m - 1] == s[k][i] * d[i];
    if (merge) {
      md[m - 1] *= d[i];
      for (int k = 0; k < nops; k++) ms[k][m - 1] = s[k][i];
    } else {
      md[m] = d[i];
      for (int k = 0; k < nops; k++) ms[k][m] = s[k][i];
      m++;
    }
  }
  if (m == 0) { /* a scalar (or empty) output: one row of 1 (or 0) elements */
    md[0] = empty ? 0 : 1;
    for (int k = 0; k < nops; k++) ms[k][0] = 0;
    m = 1;
  }
  *rank = m;
  for (int i = 0; i < m; i++) {
    dims[i] = md[i];
    for (int k = 0; k < nops; k++) str[k][i] = ms[k][i];
  }
  for (int k = 0; k < nops; k++) MIXC_ASSERT(str[k][m - 1] == 0 || str[k][m - 1] == 1);
}

/* ---- unary ----------------------------------------------------------------------------------- */
/* The EU_* code of a unary op without attributes; -1 for the others. */
static int unary_code(ir_op op) {
  switch (op) {
  case IR_OP_Abs: return EU_ABS;
  case IR_OP_Neg: return EU_NEG;
  case IR_OP_Sign: return EU_SIGN;
  case IR_OP_Relu: return EU_RELU;
  case IR_OP_Exp: return EU_EXP;
  case IR_OP_Log: return EU_LOG;
  case IR_OP_Sqrt: return EU_SQRT;
  case IR_OP_Reciprocal: return EU_RECIPROCAL;
  case IR_OP_Sigmoid: return EU_SIGMOID;
  case IR_OP_Tanh: return EU_TANH;
  case IR_OP_Erf: return EU_ERF;
  case IR_OP_Floor: return EU_FLOOR;
  case IR_OP_Ceil: return EU_CEIL;
  case IR_OP_Round: return EU_ROUND;
  case IR_OP_Sin: return EU_SIN;
  case IR_OP_Cos: return EU_COS;
  case IR_OP_Tan: return EU_TAN;
  case IR_OP_Asin: return EU_ASIN;
  case IR_OP_Acos: return EU_ACOS;
  case IR_OP_Atan: return EU_ATAN;
  case IR_OP_Sinh: return EU_SINH;
  case IR_OP_Cosh: return EU_COSH;
  case IR_OP_Asinh: return EU_ASINH;
  case IR_OP_Acosh: return EU_ACOSH;
  case IR_OP_Atanh: return EU_ATANH;
  case IR_OP_Softsign: return EU_SOFTSIGN;
  case IR_OP_Softplus: return EU_SOFTPLUS;
  case IR_OP_Mish: return EU_MISH;
  default: return -1;
  }
}

bool lower_unary(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (n->op == IR_OP_Not) {
    if (t != IR_BOOL) return bad_dtype(lc, n, t);
    elem_count_params p = {ir_type_numel(&n->out[0]->type)};
    lower_set_params(lc, call, "mixc_k_not", &p, sizeof p);
    return true;
  }
  elem_unary_params p;
  memset(&p, 0, sizeof p);
  p.n = ir_type_numel(&n->out[0]->type);
  bool int_ok = false; /* defined on integers too */
  switch (n->op) {
  case IR_OP_Abs: case IR_OP_Neg: case IR_OP_Sign: case IR_OP_Relu:
    p.op = unary_code(n->op), int_ok = true;
    break;
  case IR_OP_Shrink:
    p.op = EU_SHRINK, int_ok = true;
    p.alpha = ir_attr_float(n, "lambd", 0.5f);
    p.beta = ir_attr_float(n, "bias", 0.0f);
    break;
  case IR_OP_HardSwish: p.op = EU_HARDSWISH, p.alpha = 1.0f / 6.0f, p.beta = 0.5f; break;
  case IR_OP_LeakyRelu: p.op = EU_LEAKYRELU, p.alpha = ir_attr_float(n, "alpha", 0.01f); break;
  case IR_OP_Elu: p.op = EU_ELU, p.alpha = ir_attr_float(n, "alpha", 1.0f); break;
  case IR_OP_Selu:
    p.op = EU_SELU;
    p.alpha = ir_attr_float(n, "alpha", 1.67326319217681884765625f);
    p.gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875f);
    break;
  case IR_OP_Celu: p.op = EU_CELU, p.alpha = ir_attr_float(n, "alpha", 1.0f); break;
  case IR_OP_HardSigmoid:
    p.op = EU_HARDSIGMOID;
    p.alpha = ir_attr_float(n, "alpha", 0.2f);
    p.beta = ir_attr_float(n, "beta", 0.5f);
    break;
  case IR_OP_ThresholdedRelu: p.op = EU_THRESHOLDEDRELU, p.alpha = ir_attr_float(n, "alpha", 1.0f); break;
  case IR_OP_Gelu: {
    const char *a = ir_attr_str(n, "approximate", "none");
    if (!a) a = "none";
    if (!strcmp(a, "none")) p.op = EU_GELU;
    else if (!strcmp(a, "tanh")) p.op = EU_GELU_TANH;
    else {
      ir_error(lc->cx->d, n, "Gelu approximate=\"%s\" is not one of \"none\", \"tanh\"", a);
      return false;
    }
    break;
  }
  default:
    p.op = unary_code(n->op);
    if (p.op < 0) MIXC_BUG("lower_unary: op %s", opname(n));
  }
  if (!(is_float(t) || (int_ok && is_int(t)))) return bad_dtype(lc, n, t);
  lower_set_params(lc, call, kname(lc, "unary", t), &p, sizeof p);
  return true;
}

/* ---- binary, Pow, variadic ----------------------------------------------------------------------- */
static bool lower_pow(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0), e = dt_in(n, 1);
  if (t != IR_F32 && t != IR_F64 && t != IR_I32 && t != IR_I64) return bad_dtype(lc, n, t);
  if (!is_num(e)) return bad_dtype(lc, n, e);
  elem_pow_params p;
  memset(&p, 0, sizeof p);
  p.exp_dtype = e;
  const ir_tensor *k = n->in[1]->konst;
  if (is_float(t) && k && k->numel == 1 && k->data) {
    double v = ir_tensor_get_f(k, 0);
    p.special = v == 1 ? EP_ONE : v == 2 ? EP_SQUARE : v == 3 ? EP_CUBE : EP_GENERAL;
  }
  const ir_value *ins[2] = {n->in[0], n->in[1]};
  bcast_plan(n->out[0], 2, ins, &p.b.rank, p.b.dims, p.b.str);
  lower_set_params(lc, call, kname(lc, "pow", t), &p, sizeof p);
  return true;
}

static bool lower_variadic(lower_ctx *lc, const ir_node *n, be_call *call, int op) {
  ir_dtype t = dt_in(n, 0);
  if (!is_num(t)) return bad_dtype(lc, n, t);
  if (n->nin > ELEM_MAX_VARIADIC) {
    ir_error(lc->cx->d, n, "%s with %d inputs: at most %d are supported", opname(n), n->nin,
             ELEM_MAX_VARIADIC);
    return false;
  }
  for (int i = 0; i < n->nin; i++)
    if (!n->in[i]) {
      ir_error_in(lc->cx->d, n, i, "%s input %d is missing", opname(n), i);
      return false;
    }
  elem_variadic_params p;
  memset(&p, 0, sizeof p);
  p.op = op;
  p.nin = n->nin;
  bcast_plan(n->out[0], n->nin, (const ir_value *const *)n->in, &p.rank, p.dims, p.str);
  lower_set_params(lc, call, kname(lc, "variadic", t), &p, sizeof p);
  return true;
}

/* The EB_* code of Add (and 2-input Sum), Sub, Mul, Div, PRelu, Max, Min; -1 for others. */
static int binary_code(ir_op op) {
  switch (op) {
  case IR_OP_Add: case IR_OP_Sum: return EB_ADD;
  case IR_OP_Sub: return EB_SUB;
  case IR_OP_Mul: return EB_MUL;
  case IR_OP_Div: return EB_DIV;
  case IR_OP_PRelu: return EB_PRELU;
  case IR_OP_Max: return EB_MAX;
  case IR_OP_Min: return EB_MIN;
  default: return -1;
  }
}

bool lower_binary(lower_ctx *lc, const ir_node *n, be_call *call) {
  if (n->op == IR_OP_Pow) return lower_pow(lc, n, call);
  int vop = n->op == IR_OP_Sum ? EV_SUM : n->op == IR_OP_Mean ? EV_MEAN
          : n->op == IR_OP_Max ? EV_MAX : n->op == IR_OP_Min ? EV_MIN : -1;
  if (vop >= 0 && (n->nin != 2 || vop == EV_MEAN)) return lower_variadic(lc, n, call, vop);

  ir_dtype t = dt_in(n, 0);
  elem_binary_params p;
  memset(&p, 0, sizeof p);
  bool ok; /* dtype fits the op */
  switch (n->op) {
  case IR_OP_Add: case IR_OP_Sum: case IR_OP_Sub: case IR_OP_Mul: case IR_OP_Div:
  case IR_OP_PRelu: case IR_OP_Max: case IR_OP_Min:
    p.op = binary_code(n->op), ok = is_num(t);
    break;
  case IR_OP_Mod: {
    int64_t fm = ir_attr_int(n, "fmod", 0);
    if (fm != 0 && fm != 1) {
      ir_error(lc->cx->d, n, "Mod fmod=%lld must be 0 or 1", (long long)fm);
      return false;
    }
    if (fm == 0 && is_float(t)) {
      ir_error(lc->cx->d, n, "Mod of floating-point inputs requires fmod=1");
      return false;
    }
    p.op = fm ? EB_FMOD : EB_MOD, ok = is_num(t);
    break;
  }
  case IR_OP_Equal: p.op = EB_EQ, ok = is_num(t) || t == IR_BOOL; break;
  case IR_OP_Less: p.op = EB_LT, ok = is_num(t) || t == IR_BOOL; break;
  case IR_OP_Greater: p.op = EB_GT, ok = is_num(t) || t == IR_BOOL; break;
  case IR_OP_LessOrEqual: p.op = EB_LE, ok = is_num(t) || t == IR_BOOL; break;
  case IR_OP_GreaterOrEqual: p.op = EB_GE, ok = is_num(t) || t == IR_BOOL; break;
  case IR_OP_And: p.op = EB_AND, ok = t == IR_BOOL; break;
  case IR_OP_Or: p.op = EB_OR, ok = t == IR_BOOL; break;
  case IR_OP_Xor: p.op = EB_XOR, ok = t == IR_BOOL; break;
  default: MIXC_BUG("lower_binary: op %s", opname(n));
  }
  if (!ok) return bad_dtype(lc, n, t);
  const ir_value *ins[2] = {n->in[0], n->in[1]};
  bcast_plan(n->out[0], 2, ins, &p.b.rank, p.b.dims, p.b.str);
  lower_set_params(lc, call, kname(lc, "binary", t), &p, sizeof p);
  call->can_fail = is_int(t) && (p.op == EB_DIV || p.op == EB_MOD || p.op == EB_FMOD);
  return true;
}

/* ---- Where, Cast, Clip, IsNaN/IsInf ------------------------------------------------------------------- */
bool lower_where(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 1);
  size_t es = ir_dtype_size(t);
  if (dt_in(n, 0) != IR_BOOL) return bad_dtype(lc, n, dt_in(n, 0));
  if (t == IR_STRING || (es != 1 && es != 2 && es != 4 && es != 8)) return bad_dtype(lc, n, t);
  elem_where_params p;
  memset(&p, 0, sizeof p);
  p.esize = (int64_t)es;
  const ir_value *ins[3] = {n->in[0], n->in[1], n->in[2]};
  bcast_plan(n->out[0], 3, ins, &p.b.rank, p.b.dims, p.b.str);
  lower_set_params(lc, call, "mixc_k_where", &p, sizeof p);
  return true;
}

bool lower_cast(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype from = dt_in(n, 0), to = n->out[0]->type.dtype;
  /* f16 and bf16 only here: Cast is how models enter and leave them */
#define CASTABLE(t) (is_num(t) || (t) == IR_BOOL || (t) == IR_F16 || (t) == IR_BF16)
  if (!CASTABLE(from)) return bad_dtype(lc, n, from);
  if (!CASTABLE(to)) return bad_dtype(lc, n, to);
#undef CASTABLE
  elem_cast_params p;
  memset(&p, 0, sizeof p);
  p.n = ir_type_numel(&n->out[0]->type);
  p.from = from;
  p.to = to;
  p.yi = n->nin;
  lower_set_params(lc, call, "mixc_k_cast", &p, sizeof p);
  return true;
}

bool lower_clip(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  elem_clip_params p;
  memset(&p, 0, sizeof p);
  p.n = ir_type_numel(&n->out[0]->type);
  p.yi = n->nin;
  if (node_opset(lc, n) < 11) {
    if (!is_float(t)) return bad_dtype(lc, n, t);
    const ir_attr *lo = ir_attr_find(n, "min"), *hi = ir_attr_find(n, "max");
    if (lo && lo->kind == IR_ATTR_FLOAT) p.lo_src = EC_PARAM, p.lo = lo->f;
    if (hi && hi->kind == IR_ATTR_FLOAT) p.hi_src = EC_PARAM, p.hi = hi->f;
  } else {
    if (!is_num(t)) return bad_dtype(lc, n, t);
    if (ir_attr_find(n, "min") || ir_attr_find(n, "max")) {
      ir_error(lc->cx->d, n, "Clip takes min/max as inputs since opset 11, not as attributes");
      return false;
    }
    for (int i = 1; i < n->nin && i <= 2; i++) {
      if (!n->in[i]) continue;
      if (ir_type_numel(&n->in[i]->type) != 1) {
        ir_error_in(lc->cx->d, n, i, "Clip %s must be a scalar", i == 1 ? "min" : "max");
        return false;
      }
      if (i == 1) p.lo_src = EC_INPUT;
      else p.hi_src = EC_INPUT;
    }
  }
  lower_set_params(lc, call, kname(lc, "clip", t), &p, sizeof p);
  return true;
}

bool lower_isx(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_float(t)) return bad_dtype(lc, n, t);
  elem_isx_params p;
  memset(&p, 0, sizeof p);
  p.n = ir_type_numel(&n->out[0]->type);
  p.dtype = t;
  p.isinf = n->op == IR_OP_IsInf;
  p.neg = ir_attr_int(n, "detect_negative", 1) != 0;
  p.pos = ir_attr_int(n, "detect_positive", 1) != 0;
  lower_set_params(lc, call, "mixc_k_isx", &p, sizeof p);
  return true;
}

/* ---- Softmax family --------------------------------------------------------------------------- */
bool lower_softmax(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_float(t)) return bad_dtype(lc, n, t);
  const ir_value *x = n->in[0];
  int r = rank_of(x), os = node_opset(lc, n);
  int64_t axis = ir_attr_int(n, "axis", os < 13 ? 1 : -1);
  /* before opset 13 the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])] */
  int hi = os < 13 ? r : r - 1;
  if (axis < -(int64_t)r || axis > hi) {
    ir_error(lc->cx->d, n, "axis %lld is out of range for rank %d", (long long)axis, r);
    return false;
  }
  int a = (int)(axis < 0 ? axis + r : axis);
  elem_softmax_params p;
  memset(&p, 0, sizeof p);
  p.op = n->op == IR_OP_Softmax ? ES_SOFTMAX : n->op == IR_OP_LogSoftmax ? ES_LOGSOFTMAX : ES_HARDMAX;
  p.outer = dprod(x, 0, a);
  if (os < 13) {
    p.len = dprod(x, a, r);
    p.inner = 1;
  } else {
    p.len = dim_of(x, a);
    p.inner = dprod(x, a + 1, r);
  }
  lower_set_params(lc, call, kname(lc, "softmax", t), &p, sizeof p);
  return true;
}

/* ---- Reduce* ---------------------------------------------------------------------------------- */
bool lower_reduce(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_num(t)) return bad_dtype(lc, n, t);
  const ir_value *x = n->in[0];
  int r = rank_of(x), os = node_opset(lc, n);
  int since = n->op == IR_OP_ReduceSum ? 13 : 18; /* axes became an input */
  int64_t axes[IR_MAX_RANK];
  int na = -1; /* -1: not given */
  if (os >= since) {
    if (n->nin > 1 && n->in[1] && !ir_const_ints(n->in[1], axes, IR_MAX_RANK, &na)) {
      ir_error_in(lc->cx->d, n, 1, "%s axes must be a constant", opname(n));
      return false;
    }
  } else {
    const ir_attr *a = ir_attr_find(n, "axes");
    if (a && a->kind == IR_ATTR_INTS) {
      if (a->n > IR_MAX_RANK) {
        ir_error(lc->cx->d, n, "%s has %d axes for rank %d", opname(n), a->n, r);
        return false;
      }
      na = a->n;
      for (int i = 0; i < na; i++) axes[i] = a->ints[i];
    }
  }
  bool noop = os >= since && ir_attr_int(n, "noop_with_empty_axes", 0) != 0;
  elem_reduce_params p;
  memset(&p, 0, sizeof p);
  p.yi = n->nin;
  p.op = n->op == IR_OP_ReduceSum ? ER_SUM : n->op == IR_OP_ReduceMean ? ER_MEAN
       : n->op == IR_OP_ReduceMax ? ER_MAX : n->op == IR_OP_ReduceMin ? ER_MIN
       : n->op == IR_OP_ReduceProd ? ER_PROD : n->op == IR_OP_ReduceL1 ? ER_L1
       : n->op == IR_OP_ReduceL2 ? ER_L2 : n->op == IR_OP_ReduceSumSquare ? ER_SUMSQ
       : n->op == IR_OP_ReduceLogSum ? ER_LOGSUM : ER_LOGSUMEXP;
  bool red[RT_MAX_RANK] = {false};
  if (na <= 0) {
    if (noop) { /* the output is the input: Max over single elements is exact */
      p.op = ER_MAX;
    } else {
      for (int i = 0; i < r; i++) red[i] = true;
    }
  } else {
    for (int i = 0; i < na; i++) {
      int a = ir_norm_axis(axes[i], r);
      if (a < 0) {
        ir_error(lc->cx->d, n, "%s axis %lld is out of range for rank %d", opname(n),
                 (long long)axes[i], r);
        return false;
      }
      red[a] = true;
    }
  }
  /* drop size-1 dims, merge neighbours of the same kind */
  int m = 0;
  int64_t gd[RT_MAX_RANK];
  bool gr[RT_MAX_RANK];
  for (int i = 0; i < r; i++) {
    int64_t d = dim_of(x, i);
    if (d == 1) continue;
    if (m > 0 && gr[m - 1] == red[i]) gd[m - 1] *= d;
    else gd[m] = d, gr[m] = red[i], m++;
  }
  int ngroups = 0;
  p.count = 1;
  for (int i = 0; i < m; i++) {
    ngroups += gr[i];
    if (gr[i]) p.count *= gd[i];
  }
  if (ngroups <= 1) {
    p.single = 1;
    p.outer = 1, p.len = 1, p.inner = 1;
    int i = 0;
    for (; i < m && !gr[i]; i++) p.outer *= gd[i];
    if (i < m) p.len = gd[i++];
    for (; i < m; i++) p.inner *= gd[i];
    if (!ngroups) p.outer *= p.inner, p.inner = 1;
  }
  int64_t st = 1;
  for (int i = m - 1; i >= 0; i--) { /* kept/reduced lists, outer first, with strides */
    if (gr[i]) p.rd[p.nr] = gd[i], p.rs[p.nr++] = st;
    else p.kd[p.nk] = gd[i], p.ks[p.nk++] = st;
    st *= gd[i];
  }
  for (int i = 0; i < p.nr / 2; i++) { /* built innermost first; flip */
    int64_t a = p.rd[i], b = p.rs[i];
    p.rd[i] = p.rd[p.nr - 1 - i], p.rs[i] = p.rs[p.nr - 1 - i];
    p.rd[p.nr - 1 - i] = a, p.rs[p.nr - 1 - i] = b;
  }
  for (int i = 0; i < p.nk / 2; i++) {
    int64_t a = p.kd[i], b = p.ks[i];
    p.kd[i] = p.kd[p.nk - 1 - i], p.ks[i] = p.ks[p.nk - 1 - i];
    p.kd[p.nk - 1 - i] = a, p.ks[p.nk - 1 - i] = b;
  }
  lower_set_params(lc, call, kname(lc, "reduce", t), &p, sizeof p);
  return true;
}

bool lower_argminmax(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_num(t)) return bad_dtype(lc, n, t);
  const ir_value *x = n->in[0];
  int r = rank_of(x);
  int a = ir_norm_axis(ir_attr_int(n, "axis", 0), r);
  if (a < 0) {
    ir_error(lc->cx->d, n, "axis %lld is out of range for rank %d",
             (long long)ir_attr_int(n, "axis", 0), r);
    return false;
  }
  elem_arg_params p;
  memset(&p, 0, sizeof p);
  p.is_min = n->op == IR_OP_ArgMin;
  p.select_last = ir_attr_int(n, "select_last_index", 0) != 0;
  p.outer = dprod(x, 0, a);
  p.len = dim_of(x, a);
  p.inner = dprod(x, a + 1, r);
  if (p.len == 0 && p.outer * p.inner > 0) {
    ir_error(lc->cx->d, n, "%s along axis %d of size 0 has no answer", opname(n), a);
    return false;
  }
  lower_set_params(lc, call, kname(lc, "argminmax", t), &p, sizeof p);
  return true;
}

/* ---- normalizations -------------------------------------------------------------------------------- */
/* Strides of a LayerNorm scale/bias over the normalized dims x[a:] (aligned right). */
static int ln_mode(const ir_value *v, const ir_value *x, int a, int64_t len, int64_t *str) {
  int64_t k = ir_type_numel(&v->type);
  int nd = rank_of(x) - a, vr = rank_of(v);
  int64_t st = 1;
  for (int i = nd - 1; i >= 0; i--) {
    int j = i - (nd - vr);
    str[i] = j < 0 || dim_of(v, j) == 1 ? 0 : st;
    if (j >= 0) st *= dim_of(v, j);
  }
  return k == len ? 0 : k == 1 ? 1 : 2;
}

static bool lower_layernorm(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_float(t)) return bad_dtype(lc, n, t);
  for (int i = 1; i < n->nin; i++)
    if (n->in[i] && dt_in(n, i) != t) return bad_dtype(lc, n, dt_in(n, i));
  const ir_value *x = n->in[0];
  int r = rank_of(x);
  int a = ir_norm_axis(ir_attr_int(n, "axis", -1), r);
  if (a < 0) {
    ir_error(lc->cx->d, n, "axis %lld is out of range for rank %d",
             (long long)ir_attr_int(n, "axis", -1), r);
    return false;
  }
  elem_layernorm_params p;
  memset(&p, 0, sizeof p);
  p.outer = dprod(x, 0, a);
  p.len = dprod(x, a, r);
  p.epsilon = ir_attr_float(n, "epsilon", 1e-5f);
  p.nd = r - a;
  for (int i = 0; i < p.nd; i++) p.dims[i] = dim_of(x, a + i);
  p.smode = ln_mode(n->in[1], x, a, p.len, p.sstr);
  p.bmode = n->nin > 2 && n->in[2] ? ln_mode(n->in[2], x, a, p.len, p.bstr) : 0;
  p.yi = n->nin;
  p.mi = n->nout > 1 && n->out[1] ? n->nin + 1 : -1;
  p.ii = n->nout > 2 && n->out[2] ? n->nin + 2 : -1;
  p.stash_dtype = EDT_F32;
  for (int i = 1; i < n->nout && i < 3; i++) {
    if (!n->out[i]) continue;
    ir_dtype s = n->out[i]->type.dtype;
    if (!is_float(s)) return bad_dtype(lc, n, s);
    p.stash_dtype = s;
  }
  lower_set_params(lc, call, kname(lc, "layernorm", t), &p, sizeof p);
  return true;
}

bool lower_norm(lower_ctx *lc, const ir_node *n, be_call *call) {
  if (n->op == IR_OP_LayerNormalization) return lower_layernorm(lc, n, call);
  ir_dtype t = dt_in(n, 0);
  if (!is_float(t)) return bad_dtype(lc, n, t);
  for (int i = 1; i < n->nin; i++) {
    if (!n->in[i]) {
      ir_error_in(lc->cx->d, n, i, "%s input %d is missing", opname(n), i);
      return false;
    }
    if (dt_in(n, i) != t) {
      ir_error_in(lc->cx->d, n, i, "%s input %d is %s but X is %s; mixed dtypes are not supported",
                  opname(n), i, ir_dtype_name(dt_in(n, i)), ir_dtype_name(t));
      return false;
    }
  }
  const ir_value *x = n->in[0];
  int r = rank_of(x);
  if (r < 2) {
    ir_error(lc->cx->d, n, "%s needs an input of rank 2 or more, got %d", opname(n), r);
    return false;
  }
  elem_chnorm_params p;
  memset(&p, 0, sizeof p);
  p.N = dim_of(x, 0);
  p.C = dim_of(x, 1);
  p.S = dprod(x, 2, r);
  p.epsilon = ir_attr_float(n, "epsilon", 1e-5f);
  if (n->op == IR_OP_InstanceNormalization) {
    lower_set_params(lc, call, kname(lc, "instnorm", t), &p, sizeof p);
    return true;
  }
  if (ir_attr_int(n, "training_mode", 0) != 0) {
    ir_error(lc->cx->d, n, "BatchNormalization training_mode=1 is not supported (inference only)");
    return false;
  }
  if (ir_attr_int(n, "spatial", 1) == 0) {
    ir_error(lc->cx->d, n, "BatchNormalization spatial=0 is not supported");
    return false;
  }
  for (int i = 3; i < n->nout; i++)
    if (n->out[i]) {
      ir_error(lc->cx->d, n, "BatchNormalization output %d (saved mean/variance) exists only in "
                             "training, which is not supported", i);
      return false;
    }
  for (int i = 1; i < 3 && i < n->nout; i++)
    if (n->out[i] && n->out[i]->type.dtype != t) return bad_dtype(lc, n, n->out[i]->type.dtype);
  p.nout = n->nout < 3 ? n->nout : 3;
  lower_set_params(lc, call, kname(lc, "batchnorm", t), &p, sizeof p);
  return true;
}

/* ---- CumSum ---------------------------------------------------------------------------------------- */
bool lower_cumsum(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_dtype t = dt_in(n, 0);
  if (!is_num(t)) return bad_dtype(lc, n, t);
  const ir_value *x = n->in[0];
  int r = rank_of(x), c;
  int64_t ax;
  elem_cumsum_params p;
  memset(&p, 0, sizeof p);
  if (ir_const_ints(n->in[1], &ax, 1, &c) && c == 1) {
    int a = ir_norm_axis(ax, r);
    if (a < 0) {
      ir_error_in(lc->cx->d, n, 1, "CumSum axis %lld is out of range for rank %d", (long long)ax, r);
      return false;
    }
    p.outer = dprod(x, 0, a);
    p.len = dim_of(x, a);
    p.inner = dprod(x, a + 1, r);
  } else {
    /* the output shape does not depend on the axis: read it at run time */
    ir_dtype at = dt_in(n, 1);
    if ((at != IR_I32 && at != IR_I64) || ir_type_numel(&n->in[1]->type) != 1) {
      ir_error_in(lc->cx->d, n, 1, "CumSum axis must be an int32 or int64 scalar");
      return false;
    }
    p.axis_dtype = at;
    p.rank = r;
    for (int i = 0; i < r; i++) p.dims[i] = dim_of(x, i);
    call->can_fail = true;
  }
  p.exclusive = ir_attr_int(n, "exclusive", 0) != 0;
  p.reverse = ir_attr_int(n, "reverse", 0) != 0;
  lower_set_params(lc, call, kname(lc, "cumsum", t), &p, sizeof p);
  return true;
}

/* ---- mixc.elementwise ------------------------------------------------------------------ */
bool lower_elementwise(lower_ctx *lc, const ir_node *n, be_call *call) {
  ir_ew_step st[IR_EW_MAX_STEPS];
  char err[160];
  int ns = ir_ew_parse(ir_attr_str(n, "program", ""), n->nin, st, err, sizeof err);
  if (ns < 0 || n->nin > EW_MAX_IN) MIXC_BUG("mixc.elementwise passed inference: %s", err);
  elem_ew_params p;
  memset(&p, 0, sizeof p);
  p.n = ir_type_numel(&n->out[0]->type);
  p.nin = n->nin, p.nsteps = ns;
  for (int i = 0; i < n->nin; i++) p.scalar[i] = ir_type_numel(&n->in[i]->type) == 1 && p.n != 1;
  for (int j = 0; j < ns; j++) {
    bool unary = ir_ew_op_arity(st[j].op) == 1;
    p.kind[j] = unary ? EW_UNARY : EW_BINARY;
    p.op[j] = unary ? unary_code(st[j].op) : binary_code(st[j].op);
    p.a[j] = st[j].a, p.b[j] = st[j].b;
    MIXC_ASSERT(p.op[j] >= 0);
  }
  lower_set_params(lc, call, "mixc_k_elementwise_f32", &p, sizeof p);
  return true;
}
