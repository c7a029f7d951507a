/* data.c - data-movement kernels that work on any fixed-size dtype by element
 * size: strided copies (Transpose, Slice, Expand, Tile), Slice with run-time
 * starts/ends, Concat, Split, Pad, fills (ConstantOfShape, Shape, Size), Range,
 * and the inference Dropout that must also write its mask.
 *
 * Requires: kernel.h's ABI and data.h's params; only memcpy/memset/memmove and
 * rt_fail; no heap, no state. Element sizes 1, 2, 4 and 8 get typed loops,
 * others (16-byte complex) go through memcpy. */
#include <string.h>

#include "data.h"

/* ---- element copies by size ------------------------------------------------------- */

/* dst[j] = src[j * sst] for j < n, elements of es bytes (sst in elements) */
static inline void copy_strided(char *dst, const char *src, int64_t n, int64_t sst, int es) {
  if (sst == 1) {
    memcpy(dst, src, (size_t)(n * es));
    return;
  }
#define CS(T)                                                              \
  {                                                                        \
    T *d = (T *)(void *)dst;                                               \
    const T *s = (const T *)(const void *)src;                             \
    for (int64_t j = 0; j < n; j++) memcpy(d + j, s + j * sst, sizeof(T)); \
    return;                                                                \
  }
  switch (es) {
  case 1: CS(uint8_t)
  case 2: CS(uint16_t)
  case 4: CS(uint32_t)
  case 8: CS(uint64_t)
  default:
    for (int64_t j = 0; j < n; j++) memcpy(dst + j * es, src + j * sst * es, (size_t)es);
  }
#undef CS
}

/* 2-D block: dst (rows x cols, dense) from src[i + j * cst] (rows are unit stride
 * in src): a transpose, done in 32 x 32 tiles to stay in cache. */
static void copy_transposed(char *dst, const char *src, int64_t rows, int64_t cols, int64_t cst,
                            int es) {
  enum { T = 32 };
  for (int64_t i0 = 0; i0 < rows; i0 += T)
    for (int64_t j0 = 0; j0 < cols; j0 += T) {
      int64_t i1 = i0 + T < rows ? i0 + T : rows, j1 = j0 + T < cols ? j0 + T : cols;
#define TT(TY)                                                                     \
  {                                                                                \
    TY *d = (TY *)(void *)dst;                                                     \
    const TY *s = (const TY *)(const void *)src;                                   \
    for (int64_t i = i0; i < i1; i++)                                              \
      for (int64_t j = j0; j < j1; j++) memcpy(d + i * cols + j, s + i + j * cst, sizeof(TY)); \
    break;                                                                         \
  }
      switch (es) {
      case 1: TT(uint8_t)
      case 2: TT(uint16_t)
      case 4: TT(uint32_t)
      case 8: TT(uint64_t)
      default:
        for (int64_t i = i0; i < i1; i++)
          for (int64_t j = j0; j < j1; j++)
            memcpy(dst + (i * cols + j) * es, src + (i + j * cst) * es, (size_t)es);
      }
#undef TT
    }
}

/* The copy is a sequence of steps: rows of the innermost dim, or 2-D tiles
 * when the last two dims are transposed; the steps [lo, hi) are a task. */
typedef struct strided_job {
  const mixc_strided_params *p;
  const char *src;
  char *dst;
  int tiled, nouter;
  int64_t step;
} strided_job;

static void strided_range(void *arg, int64_t lo, int64_t hi) {
  const strided_job *j = arg;
  const mixc_strided_params *p = j->p;
  const int r = p->rank, es = p->esize;
  const int64_t inner = p->dims[r - 1], ist = p->sst[r - 1];
  int64_t idx[MIXC_SC_MAX] = {0}, off = 0, rem = lo;
  for (int d = j->nouter - 1; d >= 0; d--) { /* the position of step lo */
    idx[d] = rem % p->dims[d];
    rem /= p->dims[d];
    off += idx[d] * p->sst[d];
  }
  char *dst = j->dst + lo * j->step * es;
  for (int64_t s = lo; s < hi; s++) {
    if (j->tiled) copy_transposed(dst, j->src + off * es, p->dims[r - 2], inner, ist, es);
    else copy_strided(dst, j->src + off * es, inner, ist, es);
    dst += j->step * es;
    for (int d = j->nouter - 1; d >= 0; d--) {
      idx[d]++;
      off += p->sst[d];
      if (idx[d] < p->dims[d]) break;
      off -= idx[d] * p->sst[d];
      idx[d] = 0;
    }
  }
}

static void strided_copy(rt_ctx *ctx, const mixc_strided_params *p, const char *src, char *dst) {
  const int r = p->rank;
  int64_t total = 1;
  for (int d = 0; d < r; d++) total *= p->dims[d];
  if (total == 0) return;
  const int64_t inner = p->dims[r - 1], ist = p->sst[r - 1];
  /* transpose of the last two dims: tile them */
  int tiled = r >= 2 && ist != 1 && p->sst[r - 2] == 1 && inner > 1 && p->dims[r - 2] > 1;
  strided_job j = {p, src + p->src_off * p->esize, dst, tiled, tiled ? r - 2 : r - 1,
                   tiled ? inner * p->dims[r - 2] : inner};
  int64_t grain = j.step >= RT_GRAIN ? 1 : RT_GRAIN / j.step;
  rt_parallel_range(ctx, total / j.step, grain, strided_range, &j);
}

/* bufs: per params (src_buf, dst_buf) */
void mixc_k_strided_copy(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_strided_params *p = params;
  strided_copy(ctx, p, bufs[p->src_buf], bufs[p->dst_buf]);
}

/* ---- Slice with starts/ends/axes/steps read at run time ------------------------------ */

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* bufs: data, starts, ends, axes|NULL, steps|NULL, output (out_buf) */
void mixc_k_slice_dyn(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_slice_dyn_params *p = params;
  int64_t v[4][RT_MAX_RANK];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < p->n; j++)
      v[i][j] = p->in_esize[i] ? data_read_int(bufs[1 + i], j, p->in_esize[i]) : p->cst[i][j];
  int64_t start[RT_MAX_RANK], step[RT_MAX_RANK], len[RT_MAX_RANK];
  int seen[RT_MAX_RANK] = {0};
  for (int d = 0; d < p->rank; d++) start[d] = 0, step[d] = 1, len[d] = p->dims[d];
  for (int j = 0; j < p->n; j++) {
    int64_t a = p->present[2] ? v[2][j] : j;
    if (a < 0) a += p->rank;
    if (a < 0 || a >= p->rank || seen[a]) {
      rt_fail(ctx, "Slice axis %lld is out of range for rank %d or repeated",
              (long long)v[2][j], p->rank);
      return;
    }
    seen[a] = 1;
    int64_t st = p->present[3] ? v[3][j] : 1, D = p->dims[a], s = v[0][j], e = v[1][j];
    if (st == 0) {
      rt_fail(ctx, "Slice step is 0 on axis %lld", (long long)a);
      return;
    }
    if (s < 0) s += D;
    if (e < 0) e += D;
    int64_t n;
    if (st > 0) {
      s = clamp(s, 0, D), e = clamp(e, 0, D);
      n = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = clamp(s, 0, D - 1), e = clamp(e, -1, D - 1);
      n = s > e ? (s - e - 1) / -st + 1 : 0;
    }
    start[a] = n ? s : 0, step[a] = st, len[a] = n;
  }
  mixc_strided_params sp;
  memset(&sp, 0, sizeof sp);
  sp.rank = p->rank ? p->rank : 1;
  sp.esize = p->esize;
  sp.dims[0] = 1;
  int64_t stride = 1;
  for (int d = p->rank - 1; d >= 0; d--) {
    if (len[d] != p->odims[d]) {
      rt_fail(ctx, "Slice produces %lld elements on axis %d but the compiled shape has %lld",
              (long long)len[d], d, (long long)p->odims[d]);
      return;
    }
    sp.dims[d] = len[d];
    sp.sst[d] = step[d] * stride;
    sp.src_off += start[d] * stride;
    stride *= p->dims[d];
  }
  strided_copy(ctx, &sp, bufs[0], bufs[p->out_buf]);
}

/* ---- Concat, Split ------------------------------------------------------------------ */

/* bufs: parts (first .. first+n), whole */
void mixc_k_concat(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_concat_params *p = params;
  char *out = bufs[p->whole];
  for (int64_t o = 0; o < p->outer; o++)
    for (int i = 0; i < p->n; i++) {
      memcpy(out, (const char *)bufs[p->first + i] + o * p->bytes[i], (size_t)p->bytes[i]);
      out += p->bytes[i];
    }
}

/* bufs: whole, [split sizes], parts (first .. first+n) */
void mixc_k_split(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_concat_params *p = params;
  const char *in = bufs[p->whole];
  for (int64_t o = 0; o < p->outer; o++)
    for (int i = 0; i < p->n; i++) {
      if (bufs[p->first + i]) memcpy((char *)bufs[p->first + i] + o * p->bytes[i], in, (size_t)p->bytes[i]);
      in += p->bytes[i];
    }
}

/* ---- Pad ------------------------------------------------------------------------------- */

/* Source index for position i of an axis of size n, or -1 for the constant. */
static inline int64_t pad_map(int64_t i, int64_t n, int mode) {
  if (i >= 0 && i < n) return i;
  if (n == 0 || mode == 0) return -1;
  if (mode == 1) { /* reflect, without repeating the edge; periodic beyond */
    if (n == 1) return 0;
    int64_t per = 2 * (n - 1);
    i %= per;
    if (i < 0) i += per;
    return i < n ? i : per - i;
  }
  if (mode == 2) return i < 0 ? 0 : n - 1; /* edge */
  i %= n;                                  /* wrap */
  return i < 0 ? i + n : i;
}

static inline void fill_elems(char *dst, const unsigned char *val, int64_t n, int es) {
  for (int64_t j = 0; j < n; j++) memcpy(dst + j * es, val, (size_t)es);
}

/* bufs: data, [pads, constant_value, axes], output (out_buf) */
void mixc_k_pad(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_pad_params *p = params;
  const int r = p->rank, es = p->esize;
  unsigned char val[16];
  memcpy(val, p->value, sizeof val);
  if (p->value_buf >= 0 && bufs[p->value_buf]) memcpy(val, bufs[p->value_buf], (size_t)es);
  const char *in = bufs[0];
  char *out = bufs[p->out_buf];
  int64_t total = 1, istr[RT_MAX_RANK];
  for (int d = 0; d < r; d++) total *= p->odims[d];
  if (total == 0) return;
  for (int64_t d = r - 1, s = 1; d >= 0; d--) istr[d] = s, s *= p->idims[d];
  const int64_t W = p->odims[r - 1], IW = p->idims[r - 1], pb = p->pb[r - 1];
  /* the columns that map straight to the input row: [lo, hi) */
  int64_t lo = clamp(pb, 0, W), hi = clamp(pb + IW, lo, W);
  int64_t idx[RT_MAX_RANK] = {0};
  for (int64_t done = 0; done < total; done += W, out += W * es) {
    int64_t off = 0;
    int inside = 1;
    for (int d = 0; d < r - 1; d++) {
      int64_t s = pad_map(idx[d] - p->pb[d], p->idims[d], p->mode);
      if (s < 0) inside = 0;
      off += s * istr[d];
    }
    if (!inside) fill_elems(out, val, W, es);
    else {
      const char *row = in + off * es;
      for (int64_t j = 0; j < lo; j++) {
        int64_t s = pad_map(j - pb, IW, p->mode);
        if (s < 0) memcpy(out + j * es, val, (size_t)es);
        else memcpy(out + j * es, row + s * es, (size_t)es);
      }
      if (hi > lo) memcpy(out + lo * es, row + (lo - pb) * es, (size_t)((hi - lo) * es));
      for (int64_t j = hi; j < W; j++) {
        int64_t s = pad_map(j - pb, IW, p->mode);
        if (s < 0) memcpy(out + j * es, val, (size_t)es);
        else memcpy(out + j * es, row + s * es, (size_t)es);
      }
    }
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < p->odims[d]) break;
      idx[d] = 0;
    }
  }
}

/* ---- fills, Range, Dropout ----------------------------------------------------------- */

/* bufs: (input), output = bufs[1]: count elements cycling through the pattern */
void mixc_k_fill(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_fill_params *p = params;
  char *out = bufs[1];
  int64_t total = p->count * p->esize, blk = (int64_t)p->npat * p->esize;
  if (total == 0) return;
  if (blk > total) blk = total;
  memcpy(out, p->pat, (size_t)blk);
  for (int64_t done = blk; done < total;) { /* doubling copies of whole patterns */
    int64_t n = done <= total - done ? done : total - done;
    memcpy(out + done, out, (size_t)n);
    done += n;
  }
}

/* bufs: start, limit, delta, output */
void mixc_k_range(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_range_params *p = params;
#define RANGE(T)                                                    \
  {                                                                 \
    T s, dl, *o = bufs[3];                                          \
    memcpy(&s, bufs[0], sizeof s);                                  \
    memcpy(&dl, bufs[2], sizeof dl);                                \
    for (int64_t i = 0; i < p->n; i++) o[i] = (T)(s + (T)i * dl);  \
    return;                                                         \
  }
  switch (p->dtype) {
  case MIXC_DT_F32: RANGE(float)
  case MIXC_DT_F64: RANGE(double)
  case MIXC_DT_I16: RANGE(int16_t)
  case MIXC_DT_I32: RANGE(int32_t)
  case MIXC_DT_I64: RANGE(int64_t)
  }
#undef RANGE
}

/* bufs: data, [ratio, training_mode], output (out_buf), mask */
void mixc_k_copy_mask(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_copy_mask_params *p = params;
  memmove(bufs[p->out_buf], bufs[0], (size_t)p->bytes);
  if (bufs[p->out_buf + 1]) memset(bufs[p->out_buf + 1], 1, (size_t)p->mask_bytes);
}
