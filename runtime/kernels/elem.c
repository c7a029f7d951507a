/* elem.c - elementwise kernels: unary math and activations, Not, broadcasting
 * binary arithmetic/compare/logic, Pow, variadic Sum/Mean/Max/Min, Where, Cast,
 * Clip, IsNaN/IsInf. Semantics are the ONNX spec's (as ONNX Runtime and the
 * numpy reference compute them); the per-dtype kernels are stamped out by
 * macros, one kernel per (op family, dtype) with the op switch outside the
 * loops, so that constant params reduce each call to one loop nest. The hot
 * f32 ops (arithmetic rows, Relu-like activations, Exp, Sigmoid, Tanh, Erf,
 * Gelu) run 16 lanes at a time with elem_util.h's vector math; f64 and the
 * rarer activations use libm.
 *
 * Requires: kernel.h's ABI, elem.h's params, libm. Integer arithmetic wraps
 * (done in uint64_t, no signed overflow); integer Div/Mod by zero calls rt_fail.
 * Outputs never alias inputs (the arena planner guarantees it). */
#include <math.h>
#include <string.h>

#include "elem.h"
#include "elem_util.h"

#define KERNEL(name) void name(rt_ctx *ctx, const void *params, void *const *bufs)

/* ---- unary ---------------------------------------------------------------------------- */
/* Float unary: the simple ops run 16 lanes at a time on f32, the rest are scalar
 * loops over libm (F(exp) is expf for f32, exp for f64). */
#define UN_LOOP(EXPR)                                        \
  for (int64_t i = 0; i < n; i++) {                          \
    T_ x = xs[i];                                            \
    ys[i] = (EXPR);                                          \
  }                                                          \
  break

#define DEF_UNARY_FLOAT(SFX, T, S)                                                          \
  static void unary_scalar_##SFX(const elem_unary_params *p, const T *xs, T *ys, int64_t n) { \
    typedef T T_;                                                                           \
    const T al = (T)p->alpha, be = (T)p->beta, ga = (T)p->gamma;                            \
    switch (p->op) {                                                                        \
    case EU_ABS: UN_LOOP(fabs##S(x));                                                       \
    case EU_NEG: UN_LOOP(-x);                                                               \
    case EU_EXP: UN_LOOP(exp##S(x));                                                        \
    case EU_LOG: UN_LOOP(log##S(x));                                                        \
    case EU_SQRT: UN_LOOP(sqrt##S(x));                                                      \
    case EU_RECIPROCAL: UN_LOOP((T)1 / x);                                                  \
    case EU_RELU: UN_LOOP(x < 0 ? (T)0 : x);                                                \
    case EU_SIGMOID: UN_LOOP((T)1 / ((T)1 + exp##S(-x)));                                   \
    case EU_TANH: UN_LOOP(tanh##S(x));                                                      \
    case EU_ERF: UN_LOOP(erf##S(x));                                                        \
    case EU_FLOOR: UN_LOOP(floor##S(x));                                                    \
    case EU_CEIL: UN_LOOP(ceil##S(x));                                                      \
    case EU_ROUND: UN_LOOP(rint##S(x)); /* half to even in the default rounding mode */     \
    case EU_SIGN: UN_LOOP(x > 0 ? (T)1 : x < 0 ? (T)-1 : x);                                \
    case EU_SIN: UN_LOOP(sin##S(x));                                                        \
    case EU_COS: UN_LOOP(cos##S(x));                                                        \
    case EU_TAN: UN_LOOP(tan##S(x));                                                        \
    case EU_ASIN: UN_LOOP(asin##S(x));                                                      \
    case EU_ACOS: UN_LOOP(acos##S(x));                                                      \
    case EU_ATAN: UN_LOOP(atan##S(x));                                                      \
    case EU_SINH: UN_LOOP(sinh##S(x));                                                      \
    case EU_COSH: UN_LOOP(cosh##S(x));                                                      \
    case EU_ASINH: UN_LOOP(asinh##S(x));                                                    \
    case EU_ACOSH: UN_LOOP(acosh##S(x));                                                    \
    case EU_ATANH: UN_LOOP(atanh##S(x));                                                    \
    case EU_SOFTSIGN: UN_LOOP(x / ((T)1 + fabs##S(x)));                                     \
    case EU_SOFTPLUS: UN_LOOP(x > 0 ? x + log1p##S(exp##S(-x)) : log1p##S(exp##S(x)));      \
    case EU_HARDSWISH: UN_LOOP(x * hsig_##SFX(x * ((T)1 / 6) + (T)0.5)); /* alpha 1/6 in T */ \
    case EU_MISH:                                                                           \
      UN_LOOP(x * tanh##S(x > 0 ? x + log1p##S(exp##S(-x)) : log1p##S(exp##S(x))));         \
    case EU_LEAKYRELU: UN_LOOP(x < 0 ? al * x : x);                                         \
    case EU_ELU: UN_LOOP(x < 0 ? al * expm1##S(x) : x);                                     \
    case EU_SELU: UN_LOOP(x > 0 ? ga * x : ga * (al * exp##S(x) - al));                     \
    case EU_CELU: UN_LOOP((x > 0 ? x : (T)0) + (x < 0 ? al * expm1##S(x / al) : (T)0));     \
    case EU_HARDSIGMOID: UN_LOOP(hsig_##SFX(al * x + be));                                  \
    case EU_THRESHOLDEDRELU: UN_LOOP(x > al ? x : (T)0);                                    \
    case EU_SHRINK: UN_LOOP(x < -al ? x + be : x > al ? x - be : (T)0);                     \
    case EU_GELU: /* 0.5 x erfc(-x/sqrt2): keeps the negative tail */                      \
      UN_LOOP((T)0.5 * x * erfc##S(-x * (T)0.70710678118654752440));                        \
    case EU_GELU_TANH: /* 0.5 x (1 + tanh u) = x / (1 + e^-2u) */                        \
      UN_LOOP(x / ((T)1 + exp##S((T)(-2 * 0.79788456080286535588) * (x + (T)0.044715 * x * x * x)))); \
    default: break;                                                                         \
    }                                                                                       \
  }

/* max(0, min(1, v)) with NaN passing through */
static inline float hsig_f32(float v) { return v > 1 ? 1.0f : v < 0 ? 0.0f : v; }
static inline double hsig_f64(double v) { return v > 1 ? 1.0 : v < 0 ? 0.0 : v; }

DEF_UNARY_FLOAT(f32, float, f)
DEF_UNARY_FLOAT(f64, double, )

/* The vectorized f32 ops; returns 0 when op has no vector form. The tail (fewer
 * than 16 elements) runs through the same vector code from a padded buffer, so
 * that no element's result depends on its position. Exp, Sigmoid, Tanh, Erf
 * and Gelu use elem_util.h's vector math (a few ulp) instead of libm. */
static int unary_vec_f32(const elem_unary_params *p, const float *xs, float *ys, int64_t n) {
  const f32x16 zero = v16_splat(0), one = v16_splat(1), half = v16_splat(0.5f),
               al = v16_splat(p->alpha), be = v16_splat(p->beta);
  int64_t i = 0;
#define UN_VEC(VEXPR)                                        \
  for (; i + 16 <= n; i += 16) {                             \
    f32x16 v = v16_ld(xs + i);                               \
    v16_st(ys + i, (VEXPR));                                 \
  }                                                          \
  if (i < n) {                                               \
    float b_[16] = {0};                                      \
    memcpy(b_, xs + i, sizeof(float) * (size_t)(n - i));     \
    f32x16 v = v16_ld(b_);                                   \
    v16_st(b_, (VEXPR));                                     \
    memcpy(ys + i, b_, sizeof(float) * (size_t)(n - i));     \
  }                                                          \
  return 1
#define HSIG_V(t) v16_sel((t) < zero, zero, v16_sel((t) > one, one, (t)))
  switch (p->op) {
  case EU_ABS: UN_VEC(V16_ABS(v));
  case EU_NEG: UN_VEC(-v);
  case EU_RECIPROCAL: UN_VEC(one / v);
  case EU_RELU: UN_VEC(v16_relu(v));
  case EU_LEAKYRELU: UN_VEC(v16_sel(v < zero, al * v, v));
  case EU_THRESHOLDEDRELU: UN_VEC(v16_sel(v > al, v, zero));
  case EU_SOFTSIGN: UN_VEC(v / (one + V16_ABS(v)));
  case EU_HARDSIGMOID: UN_VEC(HSIG_V(al * v + be));
  case EU_HARDSWISH: UN_VEC(v * HSIG_V(v * v16_splat(1.0f / 6.0f) + half));
  case EU_EXP: UN_VEC(v16_exp(v));
  case EU_SIGMOID: UN_VEC(v16_sigmoid(v));
  case EU_TANH: UN_VEC(v16_tanh(v));
  case EU_ERF: UN_VEC(v16_erf(v));
  case EU_GELU_TANH: UN_VEC(v16_gelu_tanh(v));
  case EU_GELU: UN_VEC(v16_gelu_erf(v));
  default: return 0;
  }
#undef HSIG_V
#undef UN_VEC
}

/* elements [lo, hi) of a unary op are a task */
typedef struct unary_job {
  const elem_unary_params *p;
  void *const *bufs;
} unary_job;
static void unary_range_f32(void *arg, int64_t lo, int64_t hi) {
  const unary_job *j = arg;
  const float *x = (const float *)j->bufs[0] + lo;
  float *y = (float *)j->bufs[1] + lo;
  if (!unary_vec_f32(j->p, x, y, hi - lo)) unary_scalar_f32(j->p, x, y, hi - lo);
}

KERNEL(mixc_k_unary_f32) {
  const elem_unary_params *p = params;
  unary_job j = {p, bufs};
  rt_parallel_range(ctx, p->n, RT_GRAIN, unary_range_f32, &j);
}

KERNEL(mixc_k_unary_f64) {
  (void)ctx;
  const elem_unary_params *p = params;
  unary_scalar_f64(p, bufs[0], bufs[1], p->n);
}

/* Integer unary: Abs, Neg, Sign, Relu, Shrink (through double, saturated). */
#define DEF_UNARY_INT(SFX, T, NEGV)                                                   \
  KERNEL(mixc_k_unary_##SFX) {                                                        \
    (void)ctx;                                                                        \
    const elem_unary_params *p = params;                                              \
    typedef T T_;                                                                     \
    const T *xs = bufs[0];                                                            \
    T *ys = bufs[1];                                                                  \
    int64_t n = p->n;                                                                 \
    const double la = p->alpha, bi = p->beta;                                         \
    switch (p->op) {                                                                  \
    case EU_ABS: UN_LOOP(NEGV(x) ? (T)(0 - (uint64_t)x) : x);                         \
    case EU_NEG: UN_LOOP((T)(0 - (uint64_t)x));                                       \
    case EU_SIGN: UN_LOOP((T)(NEGV(x) ? -1 : x > 0 ? 1 : 0));                         \
    case EU_RELU: UN_LOOP(NEGV(x) ? (T)0 : x);                                        \
    case EU_SHRINK:                                                                   \
      UN_LOOP((double)x < -la ? sat_##SFX((double)x + bi)                             \
                              : (double)x > la ? sat_##SFX((double)x - bi) : (T)0);   \
    default: rt_fail(ctx, "unary op %d is not defined on " #SFX, p->op); break;       \
    }                                                                                 \
  }
DEF_UNARY_INT(i8, int8_t, IS_NEG)
DEF_UNARY_INT(i16, int16_t, IS_NEG)
DEF_UNARY_INT(i32, int32_t, IS_NEG)
DEF_UNARY_INT(i64, int64_t, IS_NEG)
DEF_UNARY_INT(u8, uint8_t, NEVER_NEG)
DEF_UNARY_INT(u16, uint16_t, NEVER_NEG)
DEF_UNARY_INT(u32, uint32_t, NEVER_NEG)
DEF_UNARY_INT(u64, uint64_t, NEVER_NEG)

KERNEL(mixc_k_not) {
  (void)ctx;
  const elem_count_params *p = params;
  const uint8_t *x = bufs[0];
  uint8_t *y = bufs[1];
  for (int64_t i = 0; i < p->n; i++) y[i] = !x[i];
}

/* ---- broadcast iteration ------------------------------------------------------------------ */
/* Rows of a merged broadcast: the output row r is out[r*n .. r*n+n); off[k] is
 * operand k's element offset for it, advanced by bc_next. */
static inline int64_t bc_rows(int64_t rank, const int64_t *dims) {
  int64_t r = 1;
  for (int64_t d = 0; d < rank - 1; d++) r *= dims[d];
  return r;
}
static inline void bc_next(int64_t rank, const int64_t *dims, const int64_t (*str)[RT_MAX_RANK],
                           int nops, int64_t *idx, int64_t *off) {
  for (int64_t d = rank - 2; d >= 0; d--) {
    for (int k = 0; k < nops; k++) off[k] += str[k][d];
    if (++idx[d] < dims[d]) return;
    for (int k = 0; k < nops; k++) off[k] -= str[k][d] * dims[d];
    idx[d] = 0;
  }
}

/* idx/off of row r, as r calls of bc_next from row 0 would leave them */
static inline void bc_seek(int64_t rank, const int64_t *dims, const int64_t (*str)[RT_MAX_RANK],
                           int nops, int64_t r, int64_t *idx, int64_t *off) {
  for (int64_t d = rank - 2; d >= 0; d--) {
    idx[d] = r % dims[d];
    r /= dims[d];
    for (int k = 0; k < nops; k++) off[k] += idx[d] * str[k][d];
  }
}

/* ---- binary ---------------------------------------------------------------------------------- */
/* the output elements [lo, hi) of a binary op are a task */
typedef struct binary_job {
  rt_ctx *ctx;
  const elem_binary_params *p;
  void *const *bufs;
} binary_job;

/* One output row of n elements from a (stride sa, 0 or 1) and b (sb); STMT
 * computes `r` from `x` and `y` and may `return 1` (integer division by zero). */
#define ROW(OUT, OT, STMT)                            \
  do {                                                \
    if (sa && sb) {                                   \
      for (int64_t i = 0; i < n; i++) {               \
        T_ x = a[i], y = b[i];                         \
        OT r;                                         \
        STMT;                                         \
        OUT[i] = r;                                   \
      }                                               \
    } else if (sa) {                                  \
      const T_ y = b[0];                               \
      for (int64_t i = 0; i < n; i++) {               \
        T_ x = a[i];                                   \
        OT r;                                         \
        STMT;                                         \
        OUT[i] = r;                                   \
      }                                               \
    } else if (sb) {                                  \
      const T_ x = a[0];                               \
      for (int64_t i = 0; i < n; i++) {               \
        T_ y = b[i];                                   \
        OT r;                                         \
        STMT;                                         \
        OUT[i] = r;                                   \
      }                                               \
    } else {                                          \
      const T_ x = a[0], y = b[0];                     \
      OT r;                                           \
      STMT;                                           \
      for (int64_t i = 0; i < n; i++) OUT[i] = r;     \
    }                                                 \
  } while (0)

#define CASES_CMP                                                \
  case EB_EQ: ROW(ob, uint8_t, r = x == y); break;               \
  case EB_LT: ROW(ob, uint8_t, r = x < y); break;                \
  case EB_GT: ROW(ob, uint8_t, r = x > y); break;                \
  case EB_LE: ROW(ob, uint8_t, r = x <= y); break;               \
  case EB_GE: ROW(ob, uint8_t, r = x >= y); break;

#define CASES_FLOAT(S)                                           \
  case EB_ADD: ROW(o, T_, r = x + y); break;                      \
  case EB_SUB: ROW(o, T_, r = x - y); break;                      \
  case EB_MUL: ROW(o, T_, r = x * y); break;                      \
  case EB_DIV: ROW(o, T_, r = x / y); break;                      \
  case EB_FMOD: ROW(o, T_, r = fmod##S(x, y)); break;             \
  case EB_PRELU: ROW(o, T_, r = x < 0 ? x * y : x); break;        \
  case EB_MAX: ROW(o, T_, r = MAX_NAN(x, y)); break;              \
  case EB_MIN: ROW(o, T_, r = MIN_NAN(x, y)); break;              \
  CASES_CMP

/* wrapping +, -, * through uint64_t; shared by signed and unsigned */
#define CASES_INT_COMMON                                         \
  case EB_ADD: ROW(o, T_, r = (T_)((uint64_t)x + (uint64_t)y)); break; \
  case EB_SUB: ROW(o, T_, r = (T_)((uint64_t)x - (uint64_t)y)); break; \
  case EB_MUL: ROW(o, T_, r = (T_)((uint64_t)x * (uint64_t)y)); break; \
  case EB_MAX: ROW(o, T_, r = x > y ? x : y); break;              \
  case EB_MIN: ROW(o, T_, r = x < y ? x : y); break;              \
  CASES_CMP

/* Div truncates; INT_MIN / -1 wraps to INT_MIN. Mod takes the divisor's sign,
 * FMod the dividend's (C %). */
#define CASES_SINT                                                                  \
  CASES_INT_COMMON                                                                  \
  case EB_DIV:                                                                      \
    ROW(o, T_, if (y == 0) return 1; r = y == -1 ? (T_)(0 - (uint64_t)x) : (T_)(x / y)); \
    break;                                                                          \
  case EB_MOD:                                                                      \
    ROW(o, T_, if (y == 0) return 1; r = y == -1 ? 0 : (T_)(x % y);                   \
        if (r != 0 && (r < 0) != (y < 0)) r = (T_)(r + y));                          \
    break;                                                                          \
  case EB_FMOD: ROW(o, T_, if (y == 0) return 1; r = y == -1 ? 0 : (T_)(x % y)); break; \
  case EB_PRELU: ROW(o, T_, r = x < 0 ? (T_)((uint64_t)x * (uint64_t)y) : x); break;

#define CASES_UINT                                                              \
  CASES_INT_COMMON                                                              \
  case EB_DIV: ROW(o, T_, if (y == 0) return 1; r = (T_)(x / y)); break;          \
  case EB_MOD:                                                                  \
  case EB_FMOD: ROW(o, T_, if (y == 0) return 1; r = (T_)(x % y)); break;         \
  case EB_PRELU: ROW(o, T_, r = x; (void)y); break;

#define CASES_BOOL                                                              \
  case EB_EQ: ROW(ob, uint8_t, r = (x != 0) == (y != 0)); break;                \
  case EB_LT: ROW(ob, uint8_t, r = (x != 0) < (y != 0)); break;                 \
  case EB_GT: ROW(ob, uint8_t, r = (x != 0) > (y != 0)); break;                 \
  case EB_LE: ROW(ob, uint8_t, r = (x != 0) <= (y != 0)); break;                \
  case EB_GE: ROW(ob, uint8_t, r = (x != 0) >= (y != 0)); break;                \
  case EB_AND: ROW(ob, uint8_t, r = (x != 0) & (y != 0)); break;                \
  case EB_OR: ROW(ob, uint8_t, r = (x != 0) | (y != 0)); break;                 \
  case EB_XOR: ROW(ob, uint8_t, r = (x != 0) ^ (y != 0)); break;

/* 16-lane f32 Add/Sub/Mul/Div rows; returns 0 for other ops. */
static int binrow_vec_f32(int op, float *o, const float *a, const float *b, int64_t n, int64_t sa,
                          int64_t sb) {
#define BV(OPER)                                                                             \
  do {                                                                                       \
    int64_t i = 0;                                                                           \
    if (sa && sb) {                                                                          \
      for (; i + 16 <= n; i += 16) v16_st(o + i, v16_ld(a + i) OPER v16_ld(b + i));          \
      for (; i < n; i++) o[i] = a[i] OPER b[i];                                              \
    } else if (sa) {                                                                         \
      const float y = b[0];                                                                  \
      const f32x16 yv = v16_splat(y);                                                        \
      for (; i + 16 <= n; i += 16) v16_st(o + i, v16_ld(a + i) OPER yv);                     \
      for (; i < n; i++) o[i] = a[i] OPER y;                                                 \
    } else if (sb) {                                                                         \
      const float x = a[0];                                                                  \
      const f32x16 xv = v16_splat(x);                                                        \
      for (; i + 16 <= n; i += 16) v16_st(o + i, xv OPER v16_ld(b + i));                     \
      for (; i < n; i++) o[i] = x OPER b[i];                                                 \
    } else {                                                                                 \
      const float r = a[0] OPER b[0];                                                        \
      for (; i < n; i++) o[i] = r;                                                           \
    }                                                                                        \
  } while (0)
  switch (op) {
  case EB_ADD: BV(+); return 1;
  case EB_SUB: BV(-); return 1;
  case EB_MUL: BV(*); return 1;
  case EB_DIV: BV(/); return 1;
  default: return 0;
  }
#undef BV
}

/* binrow_<dt>: one row; 0 ok, 1 integer division by zero, -1 op not defined. */
#define DEF_BINARY(SFX, T, CASES)                                                           \
  static int binrow_##SFX(int op, void *out, const T *a, const T *b, int64_t n, int64_t sa, \
                          int64_t sb) {                                                     \
    typedef T T_;                                                                           \
    T *o = out;                                                                             \
    uint8_t *ob = out;                                                                      \
    (void)o;                                                                                \
    (void)ob;                                                                               \
    switch (op) {                                                                           \
      CASES                                                                                 \
    default: return -1;                                                                     \
    }                                                                                       \
    return 0;                                                                               \
  }                                                                                         \
  /* Output elements [lo, hi), row by row (the piece may start and end      \
   * inside a row). */                                                                      \
  static void binary_range_##SFX(void *arg, int64_t lo, int64_t hi) {                       \
    const binary_job *j = arg;                                                              \
    const elem_binary_params *p = j->p;                                                     \
    const elem_bcast *bc = &p->b;                                                           \
    const T *a = j->bufs[0], *b = j->bufs[1];                                               \
    size_t osz = p->op >= EB_EQ ? 1 : sizeof(T);                                            \
    int64_t n = bc->dims[bc->rank - 1], c = lo % n;                                         \
    int64_t sa = bc->str[0][bc->rank - 1], sb = bc->str[1][bc->rank - 1];                   \
    int64_t idx[RT_MAX_RANK] = {0}, off[2] = {0, 0};                                        \
    bc_seek(bc->rank, bc->dims, bc->str, 2, lo / n, idx, off);                              \
    for (int64_t i = lo; i < hi; c = 0) { /* a row, or the piece's part of it */           \
      int64_t len = n - c < hi - i ? n - c : hi - i;                                        \
      void *orow = (char *)j->bufs[2] + (size_t)i * osz;                                    \
      const T *ar = a + off[0] + c * sa, *br = b + off[1] + c * sb;                         \
      int e = VEC_##SFX(p->op, orow, ar, br, len, sa, sb) ? 0                               \
                                                          : binrow_##SFX(p->op, orow, ar, br, len, sa, sb); \
      if (e) {                                                                              \
        if (e > 0) rt_fail(j->ctx, "integer %s by zero", p->op == EB_DIV ? "division" : "modulo"); \
        else rt_fail(j->ctx, "binary op %d is not defined on " #SFX, p->op);               \
        return;                                                                             \
      }                                                                                     \
      i += len;                                                                             \
      if (i < hi) bc_next(bc->rank, bc->dims, bc->str, 2, idx, off);                        \
    }                                                                                       \
  }                                                                                         \
  KERNEL(mixc_k_binary_##SFX) {                                                             \
    const elem_binary_params *p = params;                                                   \
    const elem_bcast *bc = &p->b;                                                           \
    int64_t n = bc->dims[bc->rank - 1];                                                     \
    binary_job j = {ctx, p, bufs};                                                          \
    if (n == 0) return;                                                                     \
    /* whole rows per task, or pieces of one long row */                                     \
    int64_t grain = n >= RT_GRAIN ? RT_GRAIN : RT_GRAIN / n * n;                             \
    rt_parallel_range(ctx, bc_rows(bc->rank, bc->dims) * n, grain, binary_range_##SFX, &j);  \
  }

#define VEC_f32(op, o, a, b, n, sa, sb) binrow_vec_f32(op, o, a, b, n, sa, sb)
#define VEC_NONE(op, o, a, b, n, sa, sb) 0
#define VEC_f64 VEC_NONE
#define VEC_i8 VEC_NONE
#define VEC_i16 VEC_NONE
#define VEC_i32 VEC_NONE
#define VEC_i64 VEC_NONE
#define VEC_u8 VEC_NONE
#define VEC_u16 VEC_NONE
#define VEC_u32 VEC_NONE
#define VEC_u64 VEC_NONE
#define VEC_bool VEC_NONE

DEF_BINARY(f32, float, CASES_FLOAT(f))
DEF_BINARY(f64, double, CASES_FLOAT())
DEF_BINARY(i8, int8_t, CASES_SINT)
DEF_BINARY(i16, int16_t, CASES_SINT)
DEF_BINARY(i32, int32_t, CASES_SINT)
DEF_BINARY(i64, int64_t, CASES_SINT)
DEF_BINARY(u8, uint8_t, CASES_UINT)
DEF_BINARY(u16, uint16_t, CASES_UINT)
DEF_BINARY(u32, uint32_t, CASES_UINT)
DEF_BINARY(u64, uint64_t, CASES_UINT)
DEF_BINARY(bool, uint8_t, CASES_BOOL)

/* ---- mixc.elementwise: a chain of f32 ops in one loop ------------------------------------- */
/* The chain runs over EW_CHUNK elements at a time, each step through the row
 * function its separate op uses (unary_vec_f32 / unary_scalar_f32,
 * binrow_vec_f32 / binrow_f32), so every element gets the same bits as from the
 * separate ops; the steps' values stay in a stack buffer in L1. */
enum { EW_CHUNK = 256 };
typedef struct ew_job {
  const elem_ew_params *p;
  void *const *bufs;
} ew_job;

static void ew_range(void *arg, int64_t lo, int64_t hi) {
  const ew_job *j = arg;
  const elem_ew_params *p = j->p;
  _Alignas(64) float tmp[EW_MAX_STEPS][EW_CHUNK];
  float *y = j->bufs[p->nin];
  for (int64_t c0 = lo; c0 < hi; c0 += EW_CHUNK) {
    int64_t len = hi - c0 < EW_CHUNK ? hi - c0 : EW_CHUNK;
    for (int s = 0; s < p->nsteps; s++) {
      float *dst = s == p->nsteps - 1 ? y + c0 : tmp[s];
      const float *src[2] = {NULL, NULL};
      int64_t str[2] = {1, 1};
      for (int k = 0; k < 2; k++) {
        int r = k ? p->b[s] : p->a[s];
        if (r < 0) continue;
        int in = r < p->nin, sc = in && p->scalar[r];
        src[k] = in ? (const float *)j->bufs[r] + (sc ? 0 : c0) : tmp[r - p->nin];
        str[k] = !sc;
      }
      if (p->kind[s] == EW_UNARY) {
        elem_unary_params up = {.op = p->op[s], .n = str[0] ? len : 1};
        if (!unary_vec_f32(&up, src[0], dst, up.n)) unary_scalar_f32(&up, src[0], dst, up.n);
        for (int64_t i = 1; !str[0] && i < len; i++) dst[i] = dst[0]; /* of a scalar input */
      } else if (!binrow_vec_f32(p->op[s], dst, src[0], src[1], len, str[0], str[1])) {
        binrow_f32(p->op[s], dst, src[0], src[1], len, str[0], str[1]);
      }
    }
  }
}

KERNEL(mixc_k_elementwise_f32) {
  const elem_ew_params *p = params;
  ew_job j = {p, bufs};
  rt_parallel_range(ctx, p->n, RT_GRAIN, ew_range, &j);
}

/* ---- Pow ------------------------------------------------------------------------------------ */
/* The exponent, of any numeric dtype, as double. */
static inline double load_num(const void *p, int dt, int64_t i) {
  switch (dt) {
  case EDT_F32: return ((const float *)p)[i];
  case EDT_F64: return ((const double *)p)[i];
  case EDT_I8: return ((const int8_t *)p)[i];
  case EDT_I16: return ((const int16_t *)p)[i];
  case EDT_I32: return ((const int32_t *)p)[i];
  case EDT_I64: return (double)((const int64_t *)p)[i];
  case EDT_U8: return ((const uint8_t *)p)[i];
  case EDT_U16: return ((const uint16_t *)p)[i];
  case EDT_U32: return ((const uint32_t *)p)[i];
  case EDT_U64: return (double)((const uint64_t *)p)[i];
  default: return 0;
  }
}
static inline int exp_is_int(int dt) { return dt != EDT_F32 && dt != EDT_F64; }
static inline int64_t load_int(const void *p, int dt, int64_t i) {
  switch (dt) {
  case EDT_I8: return ((const int8_t *)p)[i];
  case EDT_I16: return ((const int16_t *)p)[i];
  case EDT_I32: return ((const int32_t *)p)[i];
  case EDT_I64: return ((const int64_t *)p)[i];
  case EDT_U8: return ((const uint8_t *)p)[i];
  case EDT_U16: return ((const uint16_t *)p)[i];
  case EDT_U32: return ((const uint32_t *)p)[i];
  case EDT_U64: return (int64_t)(((const uint64_t *)p)[i] > INT64_MAX ? INT64_MAX : ((const uint64_t *)p)[i]);
  default: return 0;
  }
}

/* Integer power by squaring, wrapping; negative exponents give 1/x^-e truncated. */
static inline uint64_t ipow(int64_t x, int64_t e) {
  if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? (uint64_t)-1 : 1) : 0;
  uint64_t r = 1, b = (uint64_t)x;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return r;
}

/* Float base: powf(x, (float)e) (pow for f64); x*x and x*x*x for constant 2 and 3,
 * as ONNX Runtime does. Integer base: exact power for integer exponents, else
 * pow in double, saturated. */
#define POW_FLOAT(x, e, S) (special == EP_SQUARE ? (x) * (x) : special == EP_CUBE ? (x) * (x) * (x) \
                            : special == EP_ONE ? (x) : pow##S((x), (e)))
#define DEF_POW(SFX, T, EXPR)                                                               \
  KERNEL(mixc_k_pow_##SFX) {                                                                \
    (void)ctx;                                                                              \
    const elem_pow_params *p = params;                                                      \
    const elem_bcast *bc = &p->b;                                                           \
    const T *a = bufs[0];                                                                   \
    const void *b = bufs[1];                                                                \
    T *o = bufs[2];                                                                         \
    const int edt = p->exp_dtype, special = p->special;                                     \
    int64_t n = bc->dims[bc->rank - 1], rows = bc_rows(bc->rank, bc->dims);                 \
    int64_t sa = bc->str[0][bc->rank - 1], sb = bc->str[1][bc->rank - 1];                   \
    int64_t idx[RT_MAX_RANK] = {0}, off[2] = {0, 0};                                        \
    (void)special;                                                                          \
    if (n == 0) return;                                                                     \
    for (int64_t r = 0; r < rows; r++, o += n) {                                            \
      for (int64_t i = 0; i < n; i++) {                                                     \
        T x = a[off[0] + i * sa];                                                           \
        int64_t j = off[1] + i * sb;                                                        \
        o[i] = (EXPR);                                                                      \
      }                                                                                     \
      bc_next(bc->rank, bc->dims, bc->str, 2, idx, off);                                    \
    }                                                                                       \
  }
DEF_POW(f32, float,
        edt == EDT_F32 ? POW_FLOAT(x, ((const float *)b)[j], f) : POW_FLOAT(x, (float)load_num(b, edt, j), f))
DEF_POW(f64, double, POW_FLOAT(x, load_num(b, edt, j), ))
DEF_POW(i32, int32_t,
        exp_is_int(edt) ? (int32_t)ipow(x, load_int(b, edt, j)) : sat_i32(pow((double)x, load_num(b, edt, j))))
DEF_POW(i64, int64_t,
        exp_is_int(edt) ? (int64_t)ipow(x, load_int(b, edt, j)) : sat_i64(pow((double)x, load_num(b, edt, j))))

/* ---- variadic Sum / Mean / Max / Min ----------------------------------------------------------- */
/* The output accumulates input by input, in order (as ONNX Runtime sums). */
#define DEF_VARIADIC(SFX, T, MAXF, MINF, MEANF)                                             \
  KERNEL(mixc_k_variadic_##SFX) {                                                           \
    (void)ctx;                                                                              \
    const elem_variadic_params *p = params;                                                 \
    T *o = bufs[p->nin];                                                                    \
    int64_t n = p->dims[p->rank - 1], rows = bc_rows(p->rank, p->dims);                     \
    if (n == 0) return;                                                                     \
    for (int k = 0; k < p->nin; k++) {                                                      \
      const T *x = bufs[k];                                                                 \
      const int64_t(*str)[RT_MAX_RANK] = &p->str[k];                                        \
      int64_t s = p->str[k][p->rank - 1];                                                   \
      int64_t idx[RT_MAX_RANK] = {0}, off[1] = {0};                                         \
      for (int64_t r = 0; r < rows; r++) {                                                  \
        T *y = o + r * n;                                                                   \
        const T *xr = x + off[0];                                                           \
        if (k == 0) {                                                                       \
          for (int64_t i = 0; i < n; i++) y[i] = xr[i * s];                                 \
        } else {                                                                            \
          switch (p->op) {                                                                  \
          case EV_SUM: case EV_MEAN:                                                        \
            for (int64_t i = 0; i < n; i++) y[i] = (T)(y[i] + xr[i * s]);                   \
            break;                                                                          \
          case EV_MAX:                                                                      \
            for (int64_t i = 0; i < n; i++) { T a = y[i], b = xr[i * s]; y[i] = MAXF(a, b); } \
            break;                                                                          \
          case EV_MIN:                                                                      \
            for (int64_t i = 0; i < n; i++) { T a = y[i], b = xr[i * s]; y[i] = MINF(a, b); } \
            break;                                                                          \
          }                                                                                 \
        }                                                                                   \
        bc_next(p->rank, p->dims, str, 1, idx, off);                                        \
      }                                                                                     \
    }                                                                                       \
    if (p->op == EV_MEAN)                                                                   \
      for (int64_t i = 0; i < rows * n; i++) o[i] = MEANF(o[i], p->nin);                    \
  }
#define IMAX(a, b) ((a) > (b) ? (a) : (b))
#define IMIN(a, b) ((a) < (b) ? (a) : (b))
#define FMEAN(s, c) ((s) / (c))
#define SMEAN(s, c) (s) / (c)
DEF_VARIADIC(f32, float, MAX_NAN, MIN_NAN, FMEAN)
DEF_VARIADIC(f64, double, MAX_NAN, MIN_NAN, FMEAN)
DEF_VARIADIC(i8, int8_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(i16, int16_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(i32, int32_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(i64, int64_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(u8, uint8_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(u16, uint16_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(u32, uint32_t, IMAX, IMIN, SMEAN)
DEF_VARIADIC(u64, uint64_t, IMAX, IMIN, SMEAN)

/* ---- Where ------------------------------------------------------------------------------------ */
#define WHERE_ROWS(T)                                                                        \
  do {                                                                                       \
    const uint8_t *c = bufs[0];                                                              \
    const T *x = bufs[1], *y = bufs[2];                                                      \
    T *o = bufs[3];                                                                          \
    int64_t sc = bc->str[0][bc->rank - 1], sx = bc->str[1][bc->rank - 1],                   \
            sy = bc->str[2][bc->rank - 1];                                                   \
    for (int64_t r = 0; r < rows; r++, o += n) {                                             \
      const uint8_t *cr = c + off[0];                                                        \
      const T *xr = x + off[1], *yr = y + off[2];                                            \
      for (int64_t i = 0; i < n; i++) o[i] = cr[i * sc] ? xr[i * sx] : yr[i * sy];           \
      bc_next(bc->rank, bc->dims, bc->str, 3, idx, off);                                     \
    }                                                                                        \
  } while (0)

KERNEL(mixc_k_where) {
  const elem_where_params *p = params;
  const elem_bcast *bc = &p->b;
  int64_t n = bc->dims[bc->rank - 1], rows = bc_rows(bc->rank, bc->dims);
  int64_t idx[RT_MAX_RANK] = {0}, off[3] = {0, 0, 0};
  if (n == 0) return;
  switch (p->esize) {
  case 1: WHERE_ROWS(uint8_t); break;
  case 2: WHERE_ROWS(uint16_t); break;
  case 4: WHERE_ROWS(uint32_t); break;
  case 8: WHERE_ROWS(uint64_t); break;
  default: rt_fail(ctx, "Where on %d-byte elements", (int)p->esize); break;
  }
}

/* ---- Cast -------------------------------------------------------------------------------------- */
/* CV_<kind>(SFX, TT, x): x of the source kind converted to target TT (suffix SFX). */
#define CV_INT(SFX, TT, x) ((TT)(x))          /* int/bool source: C conversion (wraps) */
#define CV_FLT(SFX, TT, x) (sat_##SFX((double)(x))) /* float source: saturating */
#define CAST_LOOP(TF, TT, EXPR)                          \
  do {                                                   \
    const TF *s = bufs[0];                               \
    TT *d = bufs[p->yi];                                 \
    for (int64_t i = 0; i < p->n; i++) {                 \
      TF x = s[i];                                       \
      d[i] = (EXPR);                                     \
    }                                                    \
  } while (0)
/* The switch over targets for one source type TF of kind K (INT or FLT). */
#define CAST_FROM(TF, K, XV)                                                     \
  switch (p->to) {                                                               \
  case EDT_F32: CAST_LOOP(TF, float, (float)(XV)); return;                       \
  case EDT_F64: CAST_LOOP(TF, double, (double)(XV)); return;                     \
  case EDT_I8: CAST_LOOP(TF, int8_t, CV_##K(i8, int8_t, XV)); return;            \
  case EDT_I16: CAST_LOOP(TF, int16_t, CV_##K(i16, int16_t, XV)); return;        \
  case EDT_I32: CAST_LOOP(TF, int32_t, CV_##K(i32, int32_t, XV)); return;        \
  case EDT_I64: CAST_LOOP(TF, int64_t, CV_##K(i64, int64_t, XV)); return;        \
  case EDT_U8: CAST_LOOP(TF, uint8_t, CV_##K(u8, uint8_t, XV)); return;          \
  case EDT_U16: CAST_LOOP(TF, uint16_t, CV_##K(u16, uint16_t, XV)); return;      \
  case EDT_U32: CAST_LOOP(TF, uint32_t, CV_##K(u32, uint32_t, XV)); return;      \
  case EDT_U64: CAST_LOOP(TF, uint64_t, CV_##K(u64, uint64_t, XV)); return;      \
  case EDT_BOOL: CAST_LOOP(TF, uint8_t, (uint8_t)((XV) != 0)); return;           \
  case EDT_F16: CAST_LOOP(TF, uint16_t, f32_to_f16((float)(XV))); return;        \
  case EDT_BF16: CAST_LOOP(TF, uint16_t, f32_to_bf16((float)(XV))); return;      \
  default: break;                                                                \
  }                                                                              \
  break

KERNEL(mixc_k_cast) {
  const elem_cast_params *p = params;
  switch (p->from) {
  case EDT_F32: CAST_FROM(float, FLT, x);
  case EDT_F64: CAST_FROM(double, FLT, x);
  case EDT_I8: CAST_FROM(int8_t, INT, x);
  case EDT_I16: CAST_FROM(int16_t, INT, x);
  case EDT_I32: CAST_FROM(int32_t, INT, x);
  case EDT_I64: CAST_FROM(int64_t, INT, x);
  case EDT_U8: CAST_FROM(uint8_t, INT, x);
  case EDT_U16: CAST_FROM(uint16_t, INT, x);
  case EDT_U32: CAST_FROM(uint32_t, INT, x);
  case EDT_U64: CAST_FROM(uint64_t, INT, x);
  case EDT_BOOL: CAST_FROM(uint8_t, INT, x != 0);
  case EDT_F16: CAST_FROM(uint16_t, FLT, f16_to_f32(x));
  case EDT_BF16: CAST_FROM(uint16_t, FLT, bf16_to_f32(x));
  default: break;
  }
  rt_fail(ctx, "Cast from dtype %d to %d is not implemented", p->from, p->to);
}

/* ---- Clip ---------------------------------------------------------------------------------------- */
/* y = min(max(x, lo), hi): when lo > hi every element becomes hi (the spec's
 * rule); NaN inputs stay NaN. */
#define DEF_CLIP(SFX, T)                                                          \
  KERNEL(mixc_k_clip_##SFX) {                                                     \
    (void)ctx;                                                                    \
    const elem_clip_params *p = params;                                           \
    const T *x = bufs[0];                                                         \
    T *y = bufs[p->yi];                                                           \
    int hl = p->lo_src != EC_NONE, hh = p->hi_src != EC_NONE;                     \
    T lo = p->lo_src == EC_INPUT ? *(const T *)bufs[1] : hl ? (T)p->lo : 0;       \
    T hi = p->hi_src == EC_INPUT ? *(const T *)bufs[2] : hh ? (T)p->hi : 0;       \
    if (hl && hh) CLIP_BOTH_##SFX(x, y, p->n, lo, hi);                            \
    else if (hl) for (int64_t i = 0; i < p->n; i++) y[i] = x[i] < lo ? lo : x[i]; \
    else if (hh) for (int64_t i = 0; i < p->n; i++) y[i] = x[i] > hi ? hi : x[i]; \
    else memcpy(y, x, (size_t)p->n * sizeof(T));                                  \
  }
#define CLIP_BOTH_SCALAR(x, y, n, lo, hi)             \
  do {                                                \
    for (int64_t i = 0; i < (n); i++) {               \
      __typeof__(lo) v = x[i] < lo ? lo : x[i];       \
      y[i] = v > hi ? hi : v;                         \
    }                                                 \
  } while (0)
static void clip_both_f32(const float *x, float *y, int64_t n, float lo, float hi) {
  const f32x16 l = v16_splat(lo), h = v16_splat(hi);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    f32x16 v = v16_ld(x + i);
    v = v16_sel(v < l, l, v);
    v16_st(y + i, v16_sel(v > h, h, v));
  }
  for (; i < n; i++) {
    float v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
  }
}
#define CLIP_BOTH_f32(x, y, n, lo, hi) clip_both_f32(x, y, n, lo, hi)
#define CLIP_BOTH_f64 CLIP_BOTH_SCALAR
#define CLIP_BOTH_i8 CLIP_BOTH_SCALAR
#define CLIP_BOTH_i16 CLIP_BOTH_SCALAR
#define CLIP_BOTH_i32 CLIP_BOTH_SCALAR
#define CLIP_BOTH_i64 CLIP_BOTH_SCALAR
#define CLIP_BOTH_u8 CLIP_BOTH_SCALAR
#define CLIP_BOTH_u16 CLIP_BOTH_SCALAR
#define CLIP_BOTH_u32 CLIP_BOTH_SCALAR
#define CLIP_BOTH_u64 CLIP_BOTH_SCALAR
DEF_CLIP(f32, float)
DEF_CLIP(f64, double)
DEF_CLIP(i8, int8_t)
DEF_CLIP(i16, int16_t)
DEF_CLIP(i32, int32_t)
DEF_CLIP(i64, int64_t)
DEF_CLIP(u8, uint8_t)
DEF_CLIP(u16, uint16_t)
DEF_CLIP(u32, uint32_t)
DEF_CLIP(u64, uint64_t)

/* ---- IsNaN / IsInf -------------------------------------------------------------------------------- */
#define ISX_LOOP(T)                                                                       \
  do {                                                                                    \
    const T *x = bufs[0];                                                                 \
    for (int64_t i = 0; i < p->n; i++) {                                                  \
      T v = x[i];                                                                         \
      y[i] = !p->isinf ? v != v                                                           \
                       : (p->pos && v == (T)INFINITY) || (p->neg && v == -(T)INFINITY);   \
    }                                                                                     \
  } while (0)

KERNEL(mixc_k_isx) {
  const elem_isx_params *p = params;
  uint8_t *y = bufs[1];
  if (p->dtype == EDT_F32) ISX_LOOP(float);
  else if (p->dtype == EDT_F64) ISX_LOOP(double);
  else rt_fail(ctx, "IsNaN/IsInf on dtype %d", p->dtype);
}
