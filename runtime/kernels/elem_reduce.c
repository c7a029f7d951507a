/* elem_reduce.c - kernels that work along axes: Softmax/LogSoftmax/Hardmax,
 * Reduce*, ArgMax/ArgMin, LayerNormalization, inference BatchNormalization,
 * InstanceNormalization and CumSum. The lowering views each input as
 * [outer, len, inner] (or, for reductions over several separate axes, as kept
 * and reduced dim lists); the hot f32 cases (softmax and reductions along the
 * last axis, layernorm rows) run 16 lanes at a time.
 *
 * Requires: kernel.h's ABI, elem.h's params, libm. Softmax subtracts the row
 * maximum and ReduceLogSumExp the maximum of its set, so neither overflows.
 * NaN propagates through Max/Min reductions; ArgMax/ArgMin treat NaN as the
 * extreme value (numpy's choice); ties go to the first index unless
 * select_last_index. */
#include <math.h>
#include <string.h>

#include "elem.h"
#include "elem_util.h"

#define KERNEL(name) void name(rt_ctx *ctx, const void *params, void *const *bufs)

/* argmax order: NaN beats any number, equal NaNs tie */
#define ARG_GT(v, b, NANP) (NANP(v) ? !NANP(b) : (v) > (b))
#define ARG_LT(v, b, NANP) (NANP(v) ? !NANP(b) : (v) < (b))
#define ARG_EQ(v, b, NANP) ((v) == (b) || (NANP(v) && NANP(b)))

/* ---- Softmax ----------------------------------------------------------------------------------- */
static float rowmax_f32(const float *x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= 16) {
    f32x16 mv = v16_ld(x);
    for (i = 16; i + 16 <= n; i += 16) {
      f32x16 v = v16_ld(x + i);
      mv = v16_sel(v > mv, v, mv);
    }
    for (int l = 0; l < 16; l++) m = mv[l] > m ? mv[l] : m;
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  /* a NaN anywhere makes the whole row NaN below; no need to find it here */
  return m;
}
static double rowmax_f64(const double *x, int64_t n) {
  double m = x[0];
  for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}
static void rowdiv_f32(float *y, int64_t n, float s) {
  int64_t i = 0;
  const f32x16 sv = v16_splat(s);
  for (; i + 16 <= n; i += 16) v16_st(y + i, v16_ld(y + i) / sv);
  for (; i < n; i++) y[i] /= s;
}
static void rowdiv_f64(double *y, int64_t n, double s) {
  for (int64_t i = 0; i < n; i++) y[i] /= s;
}

/* w (<= 16) floats from p into a vector, the other lanes `fill` */
static inline f32x16 ld_w(const float *p, int w, float fill) {
  if (w == 16) return v16_ld(p);
  float b[16];
  for (int c = 0; c < 16; c++) b[c] = c < w ? p[c] : fill;
  return v16_ld(b);
}
static inline void st_w(float *p, f32x16 v, int w) {
  if (w == 16) v16_st(p, v);
  else
    for (int c = 0; c < w; c++) p[c] = v[c];
}

/* Hardmax of one row or of w columns (stride inner): 1 at the first maximum
 * (NaN counts as the largest, as in ArgMax), 0 elsewhere. */
#define DEF_HARDMAX(SFX, T)                                                              \
  static void hardmax_##SFX(const T *x, T *y, int64_t len, int64_t inner, int w) {       \
    int64_t b[16] = {0};                                                                 \
    for (int64_t k = 1; k < len; k++)                                                    \
      for (int c = 0; c < w; c++)                                                        \
        if (ARG_GT(x[k * inner + c], x[b[c] * inner + c], NANP_F)) b[c] = k;             \
    for (int64_t k = 0; k < len; k++)                                                    \
      for (int c = 0; c < w; c++) y[k * inner + c] = k == b[c];                          \
  }
DEF_HARDMAX(f32, float)
DEF_HARDMAX(f64, double)

/* f32 Softmax/LogSoftmax of w <= 16 columns (stride inner; a row is inner == 1
 * handled by smrow_f32), one lane per column, exp from elem_util.h. The max
 * skips NaN; a NaN then reaches every output of its column through the sum. */
static void smcols_f32(int op, const float *x, float *y, int64_t len, int64_t inner, int w) {
  f32x16 m = ld_w(x, w, -INFINITY), s = v16_splat(0);
  for (int64_t k = 1; k < len; k++) {
    f32x16 v = ld_w(x + k * inner, w, -INFINITY);
    m = v16_sel(v > m, v, m);
  }
  for (int64_t k = 0; k < len; k++) {
    f32x16 e = v16_exp(ld_w(x + k * inner, w, -INFINITY) - m);
    if (op == ES_SOFTMAX) st_w(y + k * inner, e, w);
    s += e;
  }
  if (op == ES_SOFTMAX) {
    for (int64_t k = 0; k < len; k++) st_w(y + k * inner, ld_w(y + k * inner, w, 1) / s, w);
    return;
  }
  f32x16 l;
  for (int c = 0; c < 16; c++) l[c] = logf(s[c]);
  for (int64_t k = 0; k < len; k++) st_w(y + k * inner, (ld_w(x + k * inner, w, 0) - m) - l, w);
}

/* One f32 row: 16 lanes, the tail through a padded vector. */
static void smrow_f32(int op, const float *x, float *y, int64_t n) {
  if (n <= 0) return;
  if (op == ES_HARDMAX) {
    hardmax_f32(x, y, n, 1, 1);
    return;
  }
  const float m = rowmax_f32(x, n);
  const f32x16 mv = v16_splat(m);
  f32x16 acc = v16_splat(0);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    f32x16 e = v16_exp(v16_ld(x + i) - mv);
    if (op == ES_SOFTMAX) v16_st(y + i, e);
    acc += e;
  }
  if (i < n) {
    f32x16 e = v16_exp(ld_w(x + i, (int)(n - i), -INFINITY) - mv);
    if (op == ES_SOFTMAX) st_w(y + i, e, (int)(n - i));
    for (int c = (int)(n - i); c < 16; c++) e[c] = 0; /* padding lanes */
    acc += e;
  }
  const float s = v16_hsum(acc);
  if (op == ES_SOFTMAX) {
    rowdiv_f32(y, n, s);
    return;
  }
  const float l = logf(s); /* (x - m) - l: exact for the maximum, unlike x - (m + l) */
  for (i = 0; i + 16 <= n; i += 16) v16_st(y + i, (v16_ld(x + i) - mv) - l);
  for (; i < n; i++) y[i] = (x[i] - m) - l;
}

/* f64: scalar libm */
static void smrow_f64(int op, const double *x, double *y, int64_t n) {
  if (n <= 0) return;
  if (op == ES_HARDMAX) {
    hardmax_f64(x, y, n, 1, 1);
    return;
  }
  double m = rowmax_f64(x, n), s = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = exp(x[i] - m);
    if (op == ES_SOFTMAX) y[i] = e;
    s += e;
  }
  if (op == ES_SOFTMAX) {
    rowdiv_f64(y, n, s);
    return;
  }
  double l = log(s);
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) - l;
}
static void smcols_f64(int op, const double *x, double *y, int64_t len, int64_t inner, int w) {
  for (int c = 0; c < w; c++) {
    double m = x[c], s = 0;
    for (int64_t k = 1; k < len; k++) m = x[k * inner + c] > m ? x[k * inner + c] : m;
    for (int64_t k = 0; k < len; k++) {
      double e = exp(x[k * inner + c] - m);
      if (op == ES_SOFTMAX) y[k * inner + c] = e;
      s += e;
    }
    double l = log(s);
    for (int64_t k = 0; k < len; k++)
      y[k * inner + c] = op == ES_SOFTMAX ? y[k * inner + c] / s : (x[k * inner + c] - m) - l;
  }
}

/* [outer, len, inner]: rows when inner == 1, else 16 columns at a time */
#define DEF_SOFTMAX(SFX, T)                                                             \
  KERNEL(mixc_k_softmax_##SFX) {                                                        \
    (void)ctx;                                                                          \
    const elem_softmax_params *p = params;                                              \
    const T *x = bufs[0];                                                               \
    T *y = bufs[1];                                                                     \
    int64_t len = p->len, inner = p->inner, blk = len * inner;                          \
    for (int64_t o = 0; o < p->outer; o++) {                                            \
      if (inner == 1) {                                                                 \
        smrow_##SFX(p->op, x + o * blk, y + o * blk, len);                              \
        continue;                                                                       \
      }                                                                                 \
      if (len == 0) continue;                                                           \
      for (int64_t j0 = 0; j0 < inner; j0 += 16) {                                      \
        int w = inner - j0 < 16 ? (int)(inner - j0) : 16;                               \
        const T *xs = x + o * blk + j0;                                                 \
        T *ys = y + o * blk + j0;                                                       \
        if (p->op == ES_HARDMAX) hardmax_##SFX(xs, ys, len, inner, w);                  \
        else smcols_##SFX(p->op, xs, ys, len, inner, w);                                \
      }                                                                                 \
    }                                                                                   \
  }
DEF_SOFTMAX(f32, float)
DEF_SOFTMAX(f64, double)

/* ---- Reduce* ------------------------------------------------------------------------------------ */
/* RLOOP visits the `count` elements of one output's reduced set: x[off] over the
 * odometer of rd/rs (nr dims), binding each to `v`. */
#define RLOOP(BODY)                                                      \
  do {                                                                   \
    int64_t ix_[RT_MAX_RANK] = {0}, off_ = 0;                            \
    for (int64_t c_ = 0; c_ < count; c_++) {                             \
      T_ v = x[off_];                                                    \
      BODY;                                                              \
      for (int d_ = nr - 1; d_ >= 0; d_--) {                             \
        off_ += rs[d_];                                                  \
        if (++ix_[d_] < rd[d_]) break;                                   \
        off_ -= rs[d_] * rd[d_];                                         \
        ix_[d_] = 0;                                                     \
      }                                                                  \
    }                                                                    \
  } while (0)

/* Float reductions accumulate in T (as ONNX Runtime does). */
#define DEF_RED1_FLOAT(SFX, T, S)                                                            \
  static T red1_##SFX(int op, const T *x, int nr, const int64_t *rd, const int64_t *rs,      \
                      int64_t count) {                                                       \
    typedef T T_;                                                                            \
    T a = 0;                                                                                 \
    switch (op) {                                                                            \
    case ER_SUM: RLOOP(a += v); return a;                                                    \
    case ER_MEAN: RLOOP(a += v); return a / (T)count;                                        \
    case ER_MAX: a = -(T)INFINITY; RLOOP(a = MAX_NAN(a, v)); return a;                       \
    case ER_MIN: a = (T)INFINITY; RLOOP(a = MIN_NAN(a, v)); return a;                        \
    case ER_PROD: a = 1; RLOOP(a *= v); return a;                                            \
    case ER_L1: RLOOP(a += fabs##S(v)); return a;                                            \
    case ER_L2: RLOOP(a += v * v); return sqrt##S(a);                                        \
    case ER_SUMSQ: RLOOP(a += v * v); return a;                                              \
    case ER_LOGSUM: RLOOP(a += v); return log##S(a);                                         \
    case ER_LOGSUMEXP: {                                                                     \
      T m = -(T)INFINITY;                                                                    \
      RLOOP(m = v > m ? v : m);                                                              \
      if (isinf(m)) m = 0; /* all -inf (or some +inf): shift by 0, log gives +-inf */        \
      RLOOP(a += exp##S(v - m));                                                             \
      return m + log##S(a);                                                                  \
    }                                                                                        \
    default: return 0;                                                                       \
    }                                                                                        \
  }
DEF_RED1_FLOAT(f32, float, f)
DEF_RED1_FLOAT(f64, double, )

/* Integer reductions: sums and products wrap in uint64_t; L2, LogSum and
 * LogSumExp go through double and saturate back. */
#define DEF_RED1_INT(SFX, T, NEGV, TMIN, TMAX, SIGNED)                                        \
  static T red1_##SFX(int op, const T *x, int nr, const int64_t *rd, const int64_t *rs,       \
                      int64_t count) {                                                        \
    typedef T T_;                                                                             \
    uint64_t a = 0;                                                                           \
    double d = 0;                                                                             \
    T t;                                                                                      \
    switch (op) {                                                                             \
    case ER_SUM: RLOOP(a += (uint64_t)v); return (T)a;                                        \
    case ER_MEAN:                                                                             \
      RLOOP(a += (uint64_t)v);                                                                \
      if (!count) return 0;                                                                   \
      return SIGNED ? (T)((int64_t)a / count) : (T)(a / (uint64_t)count);                     \
    case ER_MAX: t = TMIN; RLOOP(t = v > t ? v : t); return t;                                \
    case ER_MIN: t = TMAX; RLOOP(t = v < t ? v : t); return t;                                \
    case ER_PROD: a = 1; RLOOP(a *= (uint64_t)v); return (T)a;                                \
    case ER_L1: RLOOP(a += NEGV(v) ? 0 - (uint64_t)v : (uint64_t)v); return (T)a;             \
    case ER_SUMSQ: RLOOP(a += (uint64_t)v * (uint64_t)v); return (T)a;                        \
    case ER_L2: RLOOP(d += (double)v * (double)v); return sat_##SFX(sqrt(d));                 \
    case ER_LOGSUM: RLOOP(d += (double)v); return sat_##SFX(log(d));                          \
    case ER_LOGSUMEXP: {                                                                      \
      double m = -INFINITY;                                                                   \
      RLOOP(m = (double)v > m ? (double)v : m);                                               \
      if (isinf(m)) m = 0;                                                                    \
      RLOOP(d += exp((double)v - m));                                                         \
      return sat_##SFX(m + log(d));                                                           \
    }                                                                                         \
    default: return 0;                                                                        \
    }                                                                                         \
  }
DEF_RED1_INT(i8, int8_t, IS_NEG, INT8_MIN, INT8_MAX, 1)
DEF_RED1_INT(i16, int16_t, IS_NEG, INT16_MIN, INT16_MAX, 1)
DEF_RED1_INT(i32, int32_t, IS_NEG, INT32_MIN, INT32_MAX, 1)
DEF_RED1_INT(i64, int64_t, IS_NEG, INT64_MIN, INT64_MAX, 1)
DEF_RED1_INT(u8, uint8_t, NEVER_NEG, 0, UINT8_MAX, 0)
DEF_RED1_INT(u16, uint16_t, NEVER_NEG, 0, UINT16_MAX, 0)
DEF_RED1_INT(u32, uint32_t, NEVER_NEG, 0, UINT32_MAX, 0)
DEF_RED1_INT(u64, uint64_t, NEVER_NEG, 0, UINT64_MAX, 0)

/* f32 reduction of one contiguous row, 16 lanes; returns 0 if op has no vector form. */
static int rowred_f32(int op, const float *x, int64_t n, float *out) {
  f32x16 acc = v16_splat(op == ER_MAX ? -INFINITY : op == ER_MIN ? INFINITY : 0.0f);
  int64_t i = 0;
  switch (op) {
  case ER_SUM: case ER_MEAN:
    for (; i + 16 <= n; i += 16) acc += v16_ld(x + i);
    break;
  case ER_SUMSQ: case ER_L2:
    for (; i + 16 <= n; i += 16) {
      f32x16 v = v16_ld(x + i);
      acc += v * v;
    }
    break;
  case ER_L1:
    for (; i + 16 <= n; i += 16) acc += (f32x16)((i32x16)v16_ld(x + i) & 0x7fffffff);
    break;
  case ER_MAX:
    for (; i + 16 <= n; i += 16) acc = v16_max_nan(acc, v16_ld(x + i));
    break;
  case ER_MIN:
    for (; i + 16 <= n; i += 16) acc = v16_min_nan(acc, v16_ld(x + i));
    break;
  default: return 0;
  }
  float a;
  if (op == ER_MAX || op == ER_MIN) {
    a = acc[0];
    for (int l = 1; l < 16; l++) a = op == ER_MAX ? MAX_NAN(a, acc[l]) : MIN_NAN(a, acc[l]);
    for (; i < n; i++) a = op == ER_MAX ? MAX_NAN(a, x[i]) : MIN_NAN(a, x[i]);
  } else {
    a = v16_hsum(acc);
    for (; i < n; i++) a += op == ER_L1 ? fabsf(x[i]) : op == ER_SUMSQ || op == ER_L2 ? x[i] * x[i] : x[i];
  }
  *out = op == ER_MEAN ? a / (float)n : op == ER_L2 ? sqrtf(a) : a;
  return 1;
}

/* Float reduction of the middle axis of [outer, len, inner]: the output rows
 * accumulate whole input rows (contiguous). LogSumExp takes the generic path. */
#define DEF_COLS(SFX, T, S)                                                                    \
  static int cols_##SFX(const elem_reduce_params *p, const T *x, T *y) {                      \
    int op = p->op;                                                                            \
    int64_t len = p->len, inner = p->inner;                                                    \
    if (op == ER_LOGSUMEXP) return 0;                                                          \
    for (int64_t o = 0; o < p->outer; o++, x += len * inner, y += inner) {                     \
      T init = op == ER_MAX ? -(T)INFINITY : op == ER_MIN ? (T)INFINITY : op == ER_PROD ? 1 : 0; \
      for (int64_t j = 0; j < inner; j++) y[j] = init;                                         \
      for (int64_t k = 0; k < len; k++) {                                                      \
        const T *xk = x + k * inner;                                                           \
        switch (op) {                                                                          \
        case ER_SUM: case ER_MEAN: case ER_LOGSUM:                                             \
          for (int64_t j = 0; j < inner; j++) y[j] += xk[j];                                   \
          break;                                                                               \
        case ER_MAX:                                                                           \
          for (int64_t j = 0; j < inner; j++) { T a = y[j], v = xk[j]; y[j] = MAX_NAN(a, v); } \
          break;                                                                               \
        case ER_MIN:                                                                           \
          for (int64_t j = 0; j < inner; j++) { T a = y[j], v = xk[j]; y[j] = MIN_NAN(a, v); } \
          break;                                                                               \
        case ER_PROD: for (int64_t j = 0; j < inner; j++) y[j] *= xk[j]; break;                \
        case ER_L1: for (int64_t j = 0; j < inner; j++) y[j] += fabs##S(xk[j]); break;         \
        case ER_L2: case ER_SUMSQ:                                                             \
          for (int64_t j = 0; j < inner; j++) y[j] += xk[j] * xk[j];                           \
          break;                                                                               \
        }                                                                                      \
      }                                                                                        \
      for (int64_t j = 0; j < inner; j++)                                                      \
        y[j] = op == ER_MEAN ? y[j] / (T)len : op == ER_L2 ? sqrt##S(y[j])                     \
             : op == ER_LOGSUM ? log##S(y[j]) : y[j];                                          \
    }                                                                                          \
    return 1;                                                                                  \
  }
DEF_COLS(f32, float, f)
DEF_COLS(f64, double, )

#define ROWS_f32(p, x, y) rows_f32(p, x, y)
#define ROWS_NONE(p, x, y) 0
#define COLS_f32(p, x, y) cols_f32(p, x, y)
#define COLS_f64(p, x, y) cols_f64(p, x, y)
#define COLS_NONE(p, x, y) 0

static int rows_f32(const elem_reduce_params *p, const float *x, float *y) {
  if (p->inner != 1 || p->len == 0) return 0;
  for (int64_t o = 0; o < p->outer; o++)
    if (!rowred_f32(p->op, x + o * p->len, p->len, y + o)) return 0; /* op decides at o == 0 */
  return 1;
}

#define DEF_REDUCE(SFX, T, ROWS, COLS)                                                       \
  KERNEL(mixc_k_reduce_##SFX) {                                                              \
    (void)ctx;                                                                               \
    const elem_reduce_params *p = params;                                                    \
    const T *x = bufs[0];                                                                    \
    T *y = bufs[p->yi];                                                                      \
    if (p->single) {                                                                         \
      if (ROWS(p, x, y)) return;                                                             \
      if (p->inner > 1 && COLS(p, x, y)) return;                                             \
      for (int64_t o = 0; o < p->outer; o++)                                                 \
        for (int64_t j = 0; j < p->inner; j++)                                               \
          y[o * p->inner + j] =                                                              \
              red1_##SFX(p->op, x + o * p->len * p->inner + j, 1, &p->len, &p->inner, p->len); \
      return;                                                                                \
    }                                                                                        \
    /* several reduced groups: odometer over the kept dims */                                \
    int64_t total = 1, ix[RT_MAX_RANK] = {0}, base = 0;                                      \
    for (int d = 0; d < p->nk; d++) total *= p->kd[d];                                       \
    for (int64_t q = 0; q < total; q++) {                                                    \
      y[q] = red1_##SFX(p->op, x + base, p->nr, p->rd, p->rs, p->count);                     \
      for (int d = p->nk - 1; d >= 0; d--) {                                                 \
        base += p->ks[d];                                                                    \
        if (++ix[d] < p->kd[d]) break;                                                       \
        base -= p->ks[d] * p->kd[d];                                                         \
        ix[d] = 0;                                                                           \
      }                                                                                      \
    }                                                                                        \
  }
DEF_REDUCE(f32, float, ROWS_f32, COLS_f32)
DEF_REDUCE(f64, double, ROWS_NONE, COLS_f64)
DEF_REDUCE(i8, int8_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(i16, int16_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(i32, int32_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(i64, int64_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(u8, uint8_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(u16, uint16_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(u32, uint32_t, ROWS_NONE, COLS_NONE)
DEF_REDUCE(u64, uint64_t, ROWS_NONE, COLS_NONE)

/* ---- ArgMax / ArgMin ---------------------------------------------------------------------------- */
#define DEF_ARG(SFX, T, NANP)                                                                \
  KERNEL(mixc_k_argminmax_##SFX) {                                                           \
    (void)ctx;                                                                               \
    const elem_arg_params *p = params;                                                       \
    const T *x = bufs[0];                                                                    \
    int64_t *y = bufs[1];                                                                    \
    int64_t len = p->len, inner = p->inner;                                                  \
    if (len == 0) return;                                                                    \
    for (int64_t o = 0; o < p->outer; o++)                                                   \
      for (int64_t j = 0; j < inner; j++) {                                                  \
        const T *xs = x + o * len * inner + j;                                               \
        int64_t b = 0;                                                                       \
        T bv = xs[0];                                                                        \
        for (int64_t k = 1; k < len; k++) {                                                  \
          T v = xs[k * inner];                                                               \
          int better = p->is_min ? ARG_LT(v, bv, NANP) : ARG_GT(v, bv, NANP);                \
          if (better || (p->select_last && ARG_EQ(v, bv, NANP))) b = k, bv = v;              \
        }                                                                                    \
        y[o * inner + j] = b;                                                                \
      }                                                                                      \
  }
DEF_ARG(f32, float, NANP_F)
DEF_ARG(f64, double, NANP_F)
DEF_ARG(i8, int8_t, NANP_I)
DEF_ARG(i16, int16_t, NANP_I)
DEF_ARG(i32, int32_t, NANP_I)
DEF_ARG(i64, int64_t, NANP_I)
DEF_ARG(u8, uint8_t, NANP_I)
DEF_ARG(u16, uint16_t, NANP_I)
DEF_ARG(u32, uint32_t, NANP_I)
DEF_ARG(u64, uint64_t, NANP_I)

/* ---- LayerNormalization ---------------------------------------------------------------------------- */
static float rowsum_f32(const float *x, int64_t n) {
  f32x16 acc = v16_splat(0);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += v16_ld(x + i);
  float s = v16_hsum(acc);
  for (; i < n; i++) s += x[i];
  return s;
}
static float rowvar_f32(const float *x, int64_t n, float mean) {
  f32x16 acc = v16_splat(0), m = v16_splat(mean);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    f32x16 d = v16_ld(x + i) - m;
    acc += d * d;
  }
  float s = v16_hsum(acc);
  for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
  return s;
}
static double rowsum_f64(const double *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}
static double rowvar_f64(const double *x, int64_t n, double mean) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

/* the rows [lo, hi) of one LayerNormalization are a task */
typedef struct ln_job {
  const elem_layernorm_params *p;
  void *const *bufs;
} ln_job;

/* y[j] = (x[j] - mean) * inv * sc[j*ss] (+ bi[j*bs]) for j in [j0, len): a
 * row's plain loop, ss and bs 1 for a scale and bias per element, 0 for one
 * for all. */
#define DEF_LN_TAIL(SFX, T)                                                                  \
  static inline void ln_tail_##SFX(T *y, const T *x, int64_t j0, int64_t len, T mean, T inv, \
                                   const T *sc, int64_t ss, const T *bi, int64_t bs) {       \
    for (int64_t j = j0; j < len; j++) {                                                     \
      T t = (x[j] - mean) * inv * sc[j * ss];                                                \
      y[j] = bi ? t + bi[j * bs] : t;                                                        \
    }                                                                                        \
  }
DEF_LN_TAIL(f32, float)
DEF_LN_TAIL(f64, double)

/* The f32 row 16 lanes at a time, then the tail: the same operations per
 * element. Explicit, because a row task is reached through the thread pool,
 * where LLVM does not see the constant shapes it would otherwise vectorize
 * with. */
static inline void ln_row_f32(float *y, const float *x, int64_t len, float mean, float inv,
                              const float *sc, int64_t ss, const float *bi, int64_t bs) {
  f32x16 m = v16_splat(mean), iv = v16_splat(inv), s1 = v16_splat(sc[0]);
  f32x16 b1 = v16_splat(bi ? bi[0] : 0.0f);
  int64_t j = 0;
  for (; j + 16 <= len; j += 16) {
    f32x16 t = (v16_ld(x + j) - m) * iv * (ss ? v16_ld(sc + j) : s1);
    if (bi) t = t + (bs ? v16_ld(bi + j) : b1);
    v16_st(y + j, t);
  }
  ln_tail_f32(y, x, j, len, mean, inv, sc, ss, bi, bs);
}
static inline void ln_row_f64(double *y, const double *x, int64_t len, double mean, double inv,
                              const double *sc, int64_t ss, const double *bi, int64_t bs) {
  ln_tail_f64(y, x, 0, len, mean, inv, sc, ss, bi, bs);
}

/* y = (x - mean) * invstd * scale + bias, per row of len elements; the
 * variance is the mean of squared deviations (two passes, no cancellation). */
#define DEF_LAYERNORM(SFX, T, S)                                                             \
  static void layernorm_rows_##SFX(void *arg, int64_t lo, int64_t hi) {                      \
    const ln_job *j = arg;                                                                   \
    const elem_layernorm_params *p = j->p;                                                   \
    void *const *bufs = j->bufs;                                                             \
    const T *x = bufs[0], *sc = bufs[1], *bi = p->yi == 3 ? bufs[2] : NULL;                  \
    T *y = bufs[p->yi];                                                                      \
    void *mo = p->mi >= 0 ? bufs[p->mi] : NULL, *io = p->ii >= 0 ? bufs[p->ii] : NULL;       \
    int64_t len = p->len;                                                                    \
    for (int64_t o = lo; o < hi; o++) {                                                      \
      const T *xr = x + o * len;                                                             \
      T *yr = y + o * len;                                                                   \
      T mean = rowsum_##SFX(xr, len) / (T)len;                                               \
      T inv = (T)1 / sqrt##S(rowvar_##SFX(xr, len, mean) / (T)len + (T)p->epsilon);          \
      if (p->smode != 2 && p->bmode != 2) {                                                  \
        int64_t ss = p->smode == 0, bs = p->bmode == 0;                                      \
        ln_row_##SFX(yr, xr, len, mean, inv, sc, ss, bi, bs);                                \
      } else {                                                                               \
        int64_t ix[RT_MAX_RANK] = {0}, so = 0, bo = 0;                                       \
        for (int64_t j = 0; j < len; j++) {                                                  \
          yr[j] = (xr[j] - mean) * inv * sc[so] + (bi ? bi[bo] : (T)0);                      \
          for (int d = p->nd - 1; d >= 0; d--) {                                             \
            so += p->sstr[d], bo += p->bstr[d];                                              \
            if (++ix[d] < p->dims[d]) break;                                                 \
            so -= p->sstr[d] * p->dims[d], bo -= p->bstr[d] * p->dims[d];                    \
            ix[d] = 0;                                                                       \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
      if (p->stash_dtype == EDT_F64) {                                                       \
        if (mo) ((double *)mo)[o] = mean;                                                    \
        if (io) ((double *)io)[o] = inv;                                                     \
      } else {                                                                               \
        if (mo) ((float *)mo)[o] = (float)mean;                                              \
        if (io) ((float *)io)[o] = (float)inv;                                               \
      }                                                                                      \
    }                                                                                        \
  }                                                                                          \
  KERNEL(mixc_k_layernorm_##SFX) {                                                           \
    const elem_layernorm_params *p = params;                                                 \
    ln_job j = {p, bufs};                                                                    \
    rt_parallel_range(ctx, p->outer, RT_GRAIN / (p->len > 0 ? p->len : 1), layernorm_rows_##SFX, &j); \
  }
DEF_LAYERNORM(f32, float, f)
DEF_LAYERNORM(f64, double, )

/* ---- BatchNormalization (inference) and InstanceNormalization ----------------------------------- */
/* BatchNorm: y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a,
 * per channel (ONNX Runtime's order of operations). */
#define DEF_CHNORM(SFX, T, SF)                                                                \
  KERNEL(mixc_k_batchnorm_##SFX) {                                                           \
    (void)ctx;                                                                               \
    const elem_chnorm_params *p = params;                                                    \
    const T *x = bufs[0], *sc = bufs[1], *B = bufs[2], *mean = bufs[3], *var = bufs[4];      \
    T *y = bufs[5];                                                                          \
    for (int64_t c = 0; c < p->C; c++) {                                                     \
      T a = sc[c] * ((T)1 / sqrt##SF(var[c] + (T)p->epsilon)), b = B[c] - mean[c] * a;        \
      for (int64_t n = 0; n < p->N; n++) {                                                   \
        const T *xs = x + (n * p->C + c) * p->S;                                             \
        T *ys = y + (n * p->C + c) * p->S;                                                   \
        for (int64_t s = 0; s < p->S; s++) ys[s] = xs[s] * a + b;                            \
      }                                                                                      \
    }                                                                                        \
    if (p->nout > 1 && bufs[6]) memcpy(bufs[6], mean, (size_t)p->C * sizeof(T));             \
    if (p->nout > 2 && bufs[7]) memcpy(bufs[7], var, (size_t)p->C * sizeof(T));              \
  }                                                                                          \
  /* InstanceNorm: per (n, c) over the spatial dims */                                       \
  KERNEL(mixc_k_instnorm_##SFX) {                                                            \
    (void)ctx;                                                                               \
    const elem_chnorm_params *p = params;                                                    \
    const T *x = bufs[0], *sc = bufs[1], *B = bufs[2];                                       \
    T *y = bufs[3];                                                                          \
    for (int64_t n = 0; n < p->N; n++)                                                       \
      for (int64_t c = 0; c < p->C; c++) {                                                   \
        const T *xs = x + (n * p->C + c) * p->S;                                             \
        T *ys = y + (n * p->C + c) * p->S;                                                   \
        T mean = rowsum_##SFX(xs, p->S) / (T)p->S;                                           \
        T var = rowvar_##SFX(xs, p->S, mean) / (T)p->S;                                      \
        T a = sc[c] / sqrt##SF(var + (T)p->epsilon);                                          \
        for (int64_t s = 0; s < p->S; s++) ys[s] = (xs[s] - mean) * a + B[c];                \
      }                                                                                      \
  }
DEF_CHNORM(f32, float, f)
DEF_CHNORM(f64, double, )

/* ---- CumSum ------------------------------------------------------------------------------------- */
/* Row k of the output is row k-1 (k+1 when reversed) plus input row k (or, when
 * exclusive, the previous input row); rows are contiguous runs of `inner`. */
/* A run-time axis gives [outer, len, inner] here; false (after rt_fail) if out of range. */
static int cumsum_view(rt_ctx *ctx, const elem_cumsum_params *p, const void *axis, int64_t *outer,
                       int64_t *len, int64_t *inner) {
  *outer = p->outer, *len = p->len, *inner = p->inner;
  if (!p->axis_dtype) return 1;
  int64_t a = p->axis_dtype == EDT_I32 ? *(const int32_t *)axis : *(const int64_t *)axis;
  if (a < -(int64_t)p->rank || a >= p->rank) {
    rt_fail(ctx, "CumSum axis %lld is out of range for rank %d", (long long)a, (int)p->rank);
    return 0;
  }
  if (a < 0) a += p->rank;
  *outer = 1, *len = p->dims[a], *inner = 1;
  for (int64_t d = 0; d < a; d++) *outer *= p->dims[d];
  for (int64_t d = a + 1; d < p->rank; d++) *inner *= p->dims[d];
  return 1;
}

#define DEF_CUMSUM(SFX, T, ADD)                                                              \
  KERNEL(mixc_k_cumsum_##SFX) {                                                              \
    const elem_cumsum_params *p = params;                                                    \
    const T *x = bufs[0];                                                                    \
    T *y = bufs[2];                                                                          \
    int64_t outer, len, inner;                                                               \
    if (!cumsum_view(ctx, p, bufs[1], &outer, &len, &inner) || len == 0) return;             \
    for (int64_t o = 0; o < outer; o++) {                                                    \
      const T *xo = x + o * len * inner;                                                     \
      T *yo = y + o * len * inner;                                                           \
      int64_t k0 = p->reverse ? len - 1 : 0, step = p->reverse ? -1 : 1;                     \
      for (int64_t j = 0; j < inner; j++) yo[k0 * inner + j] = p->exclusive ? (T)0 : xo[k0 * inner + j]; \
      for (int64_t t = 1; t < len; t++) {                                                    \
        int64_t k = k0 + t * step, kp = k - step;                                            \
        const T *xr = xo + (p->exclusive ? kp : k) * inner;                                  \
        const T *yp = yo + kp * inner;                                                       \
        T *yr = yo + k * inner;                                                              \
        for (int64_t j = 0; j < inner; j++) yr[j] = ADD(yp[j], xr[j]);                       \
      }                                                                                      \
    }                                                                                        \
  }
#define FADD(a, b) ((a) + (b))
DEF_CUMSUM(f32, float, FADD)
DEF_CUMSUM(f64, double, FADD)
#define WRAPADD(a, b) ((__typeof__(a))((uint64_t)(a) + (uint64_t)(b)))
DEF_CUMSUM(i8, int8_t, WRAPADD)
DEF_CUMSUM(i16, int16_t, WRAPADD)
DEF_CUMSUM(i32, int32_t, WRAPADD)
DEF_CUMSUM(i64, int64_t, WRAPADD)
DEF_CUMSUM(u8, uint8_t, WRAPADD)
DEF_CUMSUM(u16, uint16_t, WRAPADD)
DEF_CUMSUM(u32, uint32_t, WRAPADD)
DEF_CUMSUM(u64, uint64_t, WRAPADD)
