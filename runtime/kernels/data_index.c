/* data_index.c - kernels driven by index tensors: Gather, GatherElements,
 * GatherND, ScatterElements and ScatterND (reduction none/add/mul/max/min),
 * TopK (sorted, ties to the lower index) and OneHot.
 *
 * Requires: kernel.h's ABI and data.h's params; only memcpy/memset and rt_fail.
 * Negative indices wrap once; an index still out of range stops the kernel
 * with rt_fail naming the index and the bound, before anything is written
 * through it. Data moves by element size, so any fixed-size dtype works;
 * scatter reductions and TopK compare in the dtype (f32, f64, i32, i64). */
#include <math.h>
#include <string.h>

#include "data.h"

/* Wraps a negative index; -1 with rt_fail when out of [-dim, dim). */
static inline int64_t wrap_idx(rt_ctx *ctx, const char *op, int64_t v, int64_t dim, int axis) {
  if (v < -dim || v >= dim) {
    rt_fail(ctx, "%s index %lld is out of range [%lld, %lld) on axis %d", op, (long long)v,
            (long long)-dim, (long long)dim, axis);
    return -1;
  }
  return v < 0 ? v + dim : v;
}

/* ---- Gather ----------------------------------------------------------------------------- */

/* bufs: data, indices, output */
void mixc_k_gather(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gather_params *p = params;
  const char *data = bufs[0];
  const void *ix = bufs[1];
  char *out = bufs[2];
  for (int64_t j = 0; j < p->nidx; j++)
    if (wrap_idx(ctx, "Gather", data_read_int(ix, j, p->idx_esize), p->dim, p->axis) < 0) return;
  const int64_t ib = p->inner_bytes;
  for (int64_t o = 0; o < p->outer; o++) {
    const char *base = data + o * p->dim * ib;
    for (int64_t j = 0; j < p->nidx; j++, out += ib) {
      int64_t v = data_read_int(ix, j, p->idx_esize);
      if (v < 0) v += p->dim;
      memcpy(out, base + v * ib, (size_t)ib);
    }
  }
}

/* ---- GatherElements / ScatterElements ------------------------------------------------- */

/* Calls body with (i = flat position in indices, off = data element offset) for
 * every index; returns from the kernel on a bad index. */
#define FOR_EACH_ELEMENT(p, ix, op, body)                                              \
  do {                                                                                 \
    int64_t total_ = 1, idx_[RT_MAX_RANK] = {0}, base_ = 0;                            \
    for (int d_ = 0; d_ < (p)->rank; d_++) total_ *= (p)->idims[d_];                   \
    for (int64_t i = 0; i < total_; i++) {                                             \
      int64_t v_ = wrap_idx(ctx, op, data_read_int(ix, i, (p)->idx_esize), (p)->dim, (p)->axis); \
      if (v_ < 0) return;                                                              \
      int64_t off = base_ + v_ * (p)->dst[(p)->axis];                                  \
      body;                                                                            \
      for (int d_ = (p)->rank - 1; d_ >= 0; d_--) {                                    \
        idx_[d_]++;                                                                    \
        if (d_ != (p)->axis) base_ += (p)->dst[d_];                                    \
        if (idx_[d_] < (p)->idims[d_]) break;                                          \
        if (d_ != (p)->axis) base_ -= idx_[d_] * (p)->dst[d_];                         \
        idx_[d_] = 0;                                                                  \
      }                                                                                \
    }                                                                                  \
  } while (0)

/* bufs: data, indices, output */
void mixc_k_gather_elements(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gather_el_params *p = params;
  const char *data = bufs[0];
  const void *ix = bufs[1];
  char *out = bufs[2];
  const int es = p->esize;
  FOR_EACH_ELEMENT(p, ix, "GatherElements", memcpy(out + i * es, data + off * es, (size_t)es));
}

/* dst (op)= src for one element of dtype dt; red 0 none, 1 add, 2 mul, 3 max, 4 min */
static inline void reduce_into(char *dst, const char *src, int dt, int red, int es) {
  if (red == 0) {
    memcpy(dst, src, (size_t)es);
    return;
  }
#define RED(T)                                            \
  {                                                       \
    T a, b;                                               \
    memcpy(&a, dst, sizeof a);                            \
    memcpy(&b, src, sizeof b);                            \
    switch (red) {                                        \
    case 1: a = (T)(a + b); break;                        \
    case 2: a = (T)(a * b); break;                        \
    case 3: a = b > a ? b : a; break;                     \
    default: a = b < a ? b : a; break;                    \
    }                                                     \
    memcpy(dst, &a, sizeof a);                            \
    return;                                               \
  }
  switch (dt) {
  case MIXC_DT_F32: RED(float)
  case MIXC_DT_F64: RED(double)
  case MIXC_DT_I32: RED(int32_t)
  case MIXC_DT_I64: RED(int64_t)
  case MIXC_DT_I8: RED(int8_t)
  case MIXC_DT_U8: RED(uint8_t)
  case MIXC_DT_I16: RED(int16_t)
  case MIXC_DT_U16: RED(uint16_t)
  case MIXC_DT_U32: RED(uint32_t)
  case MIXC_DT_U64: RED(uint64_t)
  }
#undef RED
}

/* bufs: data, indices, updates, output */
void mixc_k_scatter_elements(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gather_el_params *p = params;
  const void *ix = bufs[1];
  const char *upd = bufs[2];
  char *out = bufs[3];
  const int es = p->esize;
  /* check every index first: a failing run leaves the output untouched */
  FOR_EACH_ELEMENT(p, ix, "ScatterElements", (void)off);
  memmove(out, bufs[0], (size_t)p->data_bytes);
  FOR_EACH_ELEMENT(p, ix, "ScatterElements",
                   reduce_into(out + off * es, upd + i * es, p->dtype, p->red, es));
}

/* ---- GatherND / ScatterND ------------------------------------------------------------- */

/* Data element offset of index tuple t (m entries), or -1 after rt_fail. */
static inline int64_t nd_offset(rt_ctx *ctx, const mixc_gather_nd_params *p, const void *ix,
                                int64_t t, const char *op) {
  int64_t off = 0;
  for (int64_t j = 0; j < p->m; j++) {
    int64_t v = wrap_idx(ctx, op, data_read_int(ix, t * p->m + j, p->idx_esize), p->dims[j], p->axis0 + (int)j);
    if (v < 0) return -1;
    off += v * p->dstr[j];
  }
  return off;
}

/* bufs: data, indices, output */
void mixc_k_gather_nd(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gather_nd_params *p = params;
  const char *data = bufs[0];
  const void *ix = bufs[1];
  char *out = bufs[2];
  const int64_t sb = p->slice * p->esize;
  for (int64_t t = 0; t < p->nbatch * p->nidx; t++)
    if (nd_offset(ctx, p, ix, t, "GatherND") < 0) return;
  for (int64_t b = 0; b < p->nbatch; b++)
    for (int64_t j = 0; j < p->nidx; j++, out += sb) {
      int64_t off = nd_offset(ctx, p, ix, b * p->nidx + j, "GatherND");
      memcpy(out, data + (b * p->data_bstride + off) * p->esize, (size_t)sb);
    }
}

/* bufs: data, indices, updates, output; duplicate indices apply in order */
void mixc_k_scatter_nd(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gather_nd_params *p = params;
  const void *ix = bufs[1];
  const char *upd = bufs[2];
  char *out = bufs[3];
  const int es = p->esize;
  for (int64_t t = 0; t < p->nidx; t++)
    if (nd_offset(ctx, p, ix, t, "ScatterND") < 0) return;
  memmove(out, bufs[0], (size_t)p->data_bytes);
  for (int64_t t = 0; t < p->nidx; t++) {
    int64_t off = nd_offset(ctx, p, ix, t, "ScatterND");
    char *dst = out + off * es;
    const char *src = upd + t * p->slice * es;
    if (p->red == 0) memcpy(dst, src, (size_t)(p->slice * es));
    else
      for (int64_t s = 0; s < p->slice; s++) reduce_into(dst + s * es, src + s * es, p->dtype, p->red, es);
  }
}

/* ---- TopK --------------------------------------------------------------------------------- */
/* The k best of each slice are kept in a heap whose root is the worst of them,
 * stored in the indices output itself (no scratch); the heap is then sorted
 * best first. Order: value (NaN above everything), then the lower index. */

#define TOPK_IMPL(NAME, T)                                                                 \
  static inline int NAME##_better(const T *x, int64_t st, int largest, int64_t a, int64_t b) { \
    T u = x[a * st], v = x[b * st];                                                        \
    int un = u != u, vn = v != v;                                                          \
    if (un || vn) {                                                                        \
      if (un && vn) return a < b;                                                          \
      return largest ? un : vn;                                                            \
    }                                                                                      \
    if (u != v) return largest ? u > v : u < v;                                            \
    return a < b;                                                                          \
  }                                                                                        \
  static void NAME##_sift(const T *x, int64_t st, int largest, int64_t *h, int64_t hs,      \
                          int64_t n, int64_t i) {                                          \
    for (;;) {                                                                             \
      int64_t l = 2 * i + 1, r = l + 1, w = i;                                             \
      if (l < n && NAME##_better(x, st, largest, h[w * hs], h[l * hs])) w = l;             \
      if (r < n && NAME##_better(x, st, largest, h[w * hs], h[r * hs])) w = r;             \
      if (w == i) return;                                                                  \
      int64_t t = h[i * hs];                                                               \
      h[i * hs] = h[w * hs], h[w * hs] = t, i = w;                                         \
    }                                                                                      \
  }                                                                                        \
  static void NAME(const mixc_topk_params *p, const T *X, T *V, int64_t *I) {              \
    const int64_t D = p->dim, in = p->inner, k = p->k;                                     \
    const int lg = p->largest;                                                             \
    for (int64_t o = 0; o < p->outer; o++)                                                 \
      for (int64_t c = 0; c < in; c++) {                                                   \
        const T *x = X + o * D * in + c;                                                   \
        T *v = V + o * k * in + c;                                                         \
        int64_t *h = I + o * k * in + c;                                                   \
        if (k == 1) {                                                                      \
          int64_t b = 0;                                                                   \
          for (int64_t j = 1; j < D; j++)                                                  \
            if (NAME##_better(x, in, lg, j, b)) b = j;                                     \
          h[0] = b, v[0] = x[b * in];                                                      \
          continue;                                                                        \
        }                                                                                  \
        for (int64_t j = 0; j < k; j++) h[j * in] = j;                                     \
        for (int64_t j = k / 2; j-- > 0;) NAME##_sift(x, in, lg, h, in, k, j);             \
        for (int64_t j = k; j < D; j++)                                                    \
          if (NAME##_better(x, in, lg, j, h[0])) {                                         \
            h[0] = j;                                                                      \
            NAME##_sift(x, in, lg, h, in, k, 0);                                           \
          }                                                                                \
        for (int64_t n = k; n > 1; n--) { /* worst to the back: best first */              \
          int64_t t = h[0];                                                                \
          h[0] = h[(n - 1) * in], h[(n - 1) * in] = t;                                     \
          NAME##_sift(x, in, lg, h, in, n - 1, 0);                                         \
        }                                                                                  \
        for (int64_t j = 0; j < k; j++) v[j * in] = x[h[j * in] * in];                     \
      }                                                                                    \
  }

TOPK_IMPL(topk_f32, float)
TOPK_IMPL(topk_f64, double)
TOPK_IMPL(topk_i32, int32_t)
TOPK_IMPL(topk_i64, int64_t)

/* bufs: X, [K], values (out_buf), indices (out_buf + 1) */
void mixc_k_topk(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_topk_params *p = params;
  int64_t *I = bufs[p->out_buf + 1];
  void *V = bufs[p->out_buf];
  if (p->k == 0 || p->dim == 0) return;
  switch (p->dtype) {
  case MIXC_DT_F32: topk_f32(p, bufs[0], V, I); break;
  case MIXC_DT_F64: topk_f64(p, bufs[0], V, I); break;
  case MIXC_DT_I32: topk_i32(p, bufs[0], V, I); break;
  case MIXC_DT_I64: topk_i64(p, bufs[0], V, I); break;
  }
}

/* ---- OneHot ---------------------------------------------------------------------------- */

static inline int64_t rd_any(const void *b, int64_t i, int dt, int *ok) {
  const char *s = b;
  *ok = 1;
#define RD(T)                           \
  {                                     \
    T v;                                \
    memcpy(&v, s + i * sizeof v, sizeof v); \
    return (int64_t)v;                  \
  }
  switch (dt) {
  case MIXC_DT_I8: RD(int8_t)
  case MIXC_DT_U8: RD(uint8_t)
  case MIXC_DT_I16: RD(int16_t)
  case MIXC_DT_U16: RD(uint16_t)
  case MIXC_DT_I32: RD(int32_t)
  case MIXC_DT_U32: RD(uint32_t)
  case MIXC_DT_I64: RD(int64_t)
  case MIXC_DT_U64: {
    uint64_t v;
    memcpy(&v, s + i * 8, 8);
    if (v > (uint64_t)INT64_MAX) *ok = 0;
    return (int64_t)v;
  }
  case MIXC_DT_F32:
  case MIXC_DT_F64: {
    double v;
    if (dt == MIXC_DT_F32) {
      float f;
      memcpy(&f, s + i * 4, 4);
      v = f;
    } else memcpy(&v, s + i * 8, 8);
    if (!(v > -9.2e18 && v < 9.2e18)) { /* NaN, inf, huge: out of any range */
      *ok = 0;
      return 0;
    }
    return (int64_t)v; /* toward zero, as a cast to int64 */
  }
  }
#undef RD
  *ok = 0;
  return 0;
}

/* bufs: indices, depth, values [off, on], output */
void mixc_k_onehot(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_onehot_params *p = params;
  const int es = p->esize;
  const char *vals = bufs[2];
  char *out = bufs[3];
  int64_t total = p->outer * p->depth * p->inner;
  for (int64_t j = 0; j < total; j++) memcpy(out + j * es, vals, (size_t)es);
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      int ok;
      int64_t v = rd_any(bufs[0], o * p->inner + i, p->idx_dtype, &ok);
      if (!ok) continue;
      if (v < 0) v += p->depth;
      if (v < 0 || v >= p->depth) continue;
      memcpy(out + ((o * p->depth + v) * p->inner + i) * es, vals + es, (size_t)es);
    }
}
