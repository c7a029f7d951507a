/* moe.c - the fused routed-MoE kernel behind mixc.moe (MODELS.md section 2):
 *
 *   p = softmax(x.W_g + b_g) in fp32 (with `logits`: softmax of the given
 *   logits row, com.microsoft.MoE's router_probs); top-k on p, ties to the
 *   lower expert;
 *   optionally renormalized over the k chosen; the `ndrop` rows with the
 *   lowest max probability get no expert (ties: the lower row is dropped);
 *   with a capacity, each expert takes at most `cap` assignments, choice-major
 *   (all first choices in row order, then all second choices...);
 *   y[r] = sum over the kept assignments (r, e, w) of w * expert_e(x[r]),
 *   accumulated in expert index order; zero for rows with none. With a
 *   residual R the sum starts from R[r] instead of zero (with k = 1 that is
 *   R[r] + w * expert_e(x[r]) in one addition, Add(y, R)'s bits).
 *
 * With group G > 1 (granularity "image", Mobile V-MoE, MODELS.md section 4)
 * the unit of routing is a group of G consecutive rows (one image's tokens):
 * the router reads the group's mean row, and every row of the group takes the
 * group's experts and gates. The lists then hold groups, and each expert runs
 * one blocked GEMM over all rows of the groups that chose it.
 *
 * With tcols T > 0 (token-mixing MoE, MODELS.md section 2 step 2) x and y
 * are (B, d, T) and the routed rows are the B*T columns x[b,:,c], row
 * r = b*T + c: exactly the rows of the materialized Reshape(Transpose(x)), so
 * routing, ties, dropping and capacity see the same rows in the same order
 * and every sum is taken in the same order (results are bit-identical to
 * transposing, running row-major and transposing back). The router runs on
 * up to 64 rows at once (adjacent in memory at each element), fc1 reads a
 * block's rows gathered into packed A panels, and fc2 stores the block's
 * output rows (bias added) into the scratch, then adds them times the gate
 * into y along y's contiguous dim: the operations of the scatter epilogue.
 * (Measured on Sparse-S, one thread: packing beats reading A through a_sk = T
 * by about 15%, and this scatter beats a strided scatter in the GEMM's
 * epilogue by about 10%, which would also have needed a slow store path.)
 *
 * Only the chosen experts run: the rows of each expert are listed first, then
 * its MLP runs on blocks of RB rows (moe.h) as two grouped GEMMs on gemm.h's
 * engine: fc1 gathers the block's rows of x while reading A and applies bias
 * and activation in its epilogue (into the scratch), fc2's epilogue adds the
 * bias, scales by the gate and adds into the rows of y. The experts' weights
 * are pre-packed at compile time (w1_packed, w2_packed). A row that goes to
 * no expert costs nothing.
 *
 * Requires: kernel.h's ABI and moe.h's params and scratch layout; libm only;
 * no heap (the scratch buffer is the node's second output, planned by the
 * backend's arena). */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "moe.h"

_Static_assert(MIXC_MOE_RB % MIXC_GEMM_MR == 0, "a block of rows packs into whole A panels");

/* Offset in x (and y) of routed row r's first element; its elements are then
 * T apart with tcols T > 0, else adjacent. */
static inline int64_t moe_row_off(int64_t r, int64_t d, int64_t T) {
  return T > 0 ? r / T * d * T + r % T : r * d;
}

/* Gathers the nr rows at X + off[q] (d elements, xs apart) into MR-tall
 * panels, mixc_gemm_pack_a's layout: panel i holds d columns of MR floats,
 * rows past nr zero. */
static void moe_pack_rows(const float *X, const int64_t *off, int64_t nr, int64_t d, int64_t xs,
                          float *out) {
  enum { MR = MIXC_GEMM_MR };
  for (int64_t i0 = 0; i0 < nr; i0 += MR) {
    int64_t hh = nr - i0 < MR ? nr - i0 : MR;
    const float *src[MR];
    for (int64_t i = 0; i < MR; i++) src[i] = X + off[i0 + (i < hh ? i : 0)];
    float *dst = out + i0 * d;
    for (int64_t k = 0; k < d; k++, dst += MR) {
      for (int64_t i = 0; i < hh; i++) dst[i] = src[i][k * xs];
      for (int64_t i = hh; i < MR; i++) dst[i] = 0.0f;
    }
  }
}

/* The router logits of nq consecutive rows r0.. of a transposed x (tcols T
 * > 0; the rows share b, so row r0+q starts at x0 + q), into acc[j*nq + q]:
 * per row, the bias then + x_i * W_g[i] for i = 0..d-1, the per-row GEMV's
 * operations in its order, 16 rows a vector (x's rows are contiguous across
 * q at each i). */
static void moe_logits_cols(const float *X, const float *Wg, const float *Bg, int64_t d,
                            int64_t E, int64_t T, int64_t r0, int64_t nq, float *acc) {
  const float *x0 = X + moe_row_off(r0, d, T);
  for (int64_t j = 0; j < E; j++)
    for (int64_t q = 0; q < nq; q++) acc[j * nq + q] = Bg ? Bg[j] : 0.0f;
  for (int64_t i = 0; i < d; i++) {
    const float *xi = x0 + i * T, *w = Wg + i * E;
    for (int64_t j = 0; j < E; j++) {
      float *a = acc + j * nq;
      f32x16 wv = v16_splat(w[j]);
      int64_t q = 0;
      for (; q + 16 <= nq; q += 16) v16_st(a + q, v16_ld(a + q) + v16_ld(xi + q) * wv);
      for (; q < nq; q++) a[q] += xi[q] * w[j];
    }
  }
}

/* y's transposed rows at Y + off[q] (d elements, T apart) += gate[q] * the
 * block's output row q (yrow, rows d apart): the scatter-add of gemm.c's
 * epilogue, the same operations, done along y's contiguous dim. */
static void moe_scatter_cols(float *Y, const int64_t *off, const float *gate, int64_t nr,
                             int64_t d, int64_t T, const float *yrow) {
  for (int64_t i = 0; i < d; i++)
    for (int64_t q = 0; q < nr; q++) Y[off[q] + i * T] += yrow[q * d + i] * gate[q];
}

/* Sorts the row indices `a` (n of them) by (score, index) ascending. */
static void moe_sort_rows(const float *score, int32_t *a, int32_t *tmp, int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) {
        int32_t x = a[i], y = a[j];
        int yfirst = score[y] < score[x] || (score[y] == score[x] && y < x);
        tmp[o++] = yfirst ? a[j++] : a[i++];
      }
      while (i < mid) tmp[o++] = a[i++];
      while (j < hi) tmp[o++] = a[j++];
    }
    memcpy(a, tmp, sizeof(int32_t) * (size_t)n);
  }
}

void mixc_k_moe_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_moe_fused_params *p = params;
  const int64_t G = p->group > 0 ? p->group : 1;
  const int64_t rows = p->rows / G, d = p->d, h = p->h, E = p->E, k = p->k; /* rows: groups */
  const int64_t T = p->tcols > 0 && G == 1 ? p->tcols : 0, xs = T > 0 ? T : 1;
  const int64_t RB = mixc_moe_block_rows(p->rows);
  const float *X = bufs[0], *Wg = bufs[1], *Bg = bufs[2], *W1 = bufs[3], *B1 = bufs[4];
  const float *W2 = bufs[5], *B2 = bufs[6];
  const float *R = p->residual ? bufs[7] : NULL;
  float *Y = bufs[p->residual ? 8 : 7];
  float *s = bufs[p->residual ? 9 : 8];
  const int64_t rk = mixc_moe_w16(rows * k), r16 = mixc_moe_w16(rows);
  float *probs = s;
  s += mixc_moe_w16(E);
  int32_t *ch_e = (int32_t *)s;
  s += rk;
  float *ch_w = s;
  s += rk;
  float *score = s;
  s += r16;
  int32_t *order = (int32_t *)s;
  s += r16;
  int32_t *tmp = (int32_t *)s;
  s += r16;
  int32_t *keep = (int32_t *)s;
  s += r16;
  int32_t *cnt = (int32_t *)s;
  s += mixc_moe_w16(E + 1);
  int32_t *l_row = (int32_t *)s;
  s += rk;
  float *l_w = s;
  s += rk;
  float *hid = s;
  s += mixc_moe_w16(RB * h);
  float *yrow = s;

  /* 1. routing: logits (the gate GEMV, or given), softmax, top-k. With tcols,
   * the GEMV runs on up to cb rows at once, into hid (free until step 4). */
  const int64_t cb = T > 0 && E > 0 ? (RB * h / E < 64 ? RB * h / E : 64) : 0;
  int64_t c_lo = 0, c_hi = 0; /* rows whose logits are in hid */
  for (int64_t r = 0; r < rows; r++) {
    if (p->logits) { /* precomputed logits: row r of bufs[1], (rows, E) */
      const float *lg = Wg + r * E;
      for (int64_t j = 0; j < E; j++) probs[j] = lg[j];
    } else if (cb > 0) { /* transposed rows, cb at a time, never across b */
      if (r >= c_hi) {
        int64_t nq = T - r % T < cb ? T - r % T : cb;
        moe_logits_cols(X, Wg, Bg, d, E, T, r, nq, hid);
        c_lo = r, c_hi = r + nq;
      }
      for (int64_t j = 0; j < E; j++) probs[j] = hid[j * (c_hi - c_lo) + (r - c_lo)];
    } else {
      const float *x = X + moe_row_off(r, d, T); /* elements xs apart */
      if (G > 1) { /* the group's mean row, into yrow (free until step 4); T is 0 */
        for (int64_t i = 0; i < d; i++) yrow[i] = 0.0f;
        for (int64_t t = 0; t < G; t++) {
          const float *xt = X + (r * G + t) * d;
          for (int64_t i = 0; i < d; i++) yrow[i] += xt[i];
        }
        for (int64_t i = 0; i < d; i++) yrow[i] /= (float)G;
        x = yrow;
      }
      for (int64_t j = 0; j < E; j++) probs[j] = Bg ? Bg[j] : 0.0f;
      for (int64_t i = 0; i < d; i++) {
        float xi = x[i * xs];
        const float *w = Wg + i * E;
        for (int64_t j = 0; j < E; j++) probs[j] += xi * w[j];
      }
    }
    float mx = probs[0];
    for (int64_t j = 1; j < E; j++) mx = probs[j] > mx ? probs[j] : mx;
    float sum = 0;
    for (int64_t j = 0; j < E; j++) sum += probs[j] = expf(probs[j] - mx);
    for (int64_t j = 0; j < E; j++) probs[j] /= sum;
    float tot = 0;
    for (int64_t c = 0; c < k; c++) { /* best not yet chosen; ties to the lower index */
      int64_t best = -1;
      for (int64_t j = 0; j < E; j++) {
        int taken = 0;
        for (int64_t q = 0; q < c; q++) taken |= ch_e[r * k + q] == j;
        if (!taken && (best < 0 || probs[j] > probs[best])) best = j;
      }
      ch_e[r * k + c] = (int32_t)best;
      ch_w[r * k + c] = probs[best];
      tot += probs[best];
    }
    score[r] = ch_w[r * k]; /* the max probability (before renormalization) */
    if (p->normalize)
      for (int64_t c = 0; c < k; c++) ch_w[r * k + c] /= tot;
    keep[r] = 1;
  }

  /* 2. importance-score dropping: the ndrop lowest (score, row) are dropped */
  if (p->ndrop > 0) {
    for (int64_t r = 0; r < rows; r++) order[r] = (int32_t)r;
    moe_sort_rows(score, order, tmp, rows);
    for (int64_t i = 0; i < p->ndrop && i < rows; i++) keep[order[i]] = 0;
  }

  /* 3. per-expert lists, choice-major, with capacity */
  for (int64_t e = 0; e <= E; e++) cnt[e] = 0;
  for (int64_t c = 0; c < k; c++)
    for (int64_t r = 0; r < rows; r++) {
      if (!keep[r]) continue;
      int32_t e = ch_e[r * k + c];
      if (p->cap > 0 && cnt[e] >= p->cap) ch_e[r * k + c] = -1; /* over capacity */
      else cnt[e]++;
    }
  /* offsets: cnt[e] becomes the start of expert e's list */
  int32_t acc = 0;
  for (int64_t e = 0; e < E; e++) {
    int32_t c = cnt[e];
    cnt[e] = acc;
    acc += c;
  }
  cnt[E] = acc;
  for (int64_t c = 0; c < k; c++)
    for (int64_t r = 0; r < rows; r++) {
      int32_t e = ch_e[r * k + c];
      if (!keep[r] || e < 0) continue;
      l_row[cnt[e]] = (int32_t)r;
      l_w[cnt[e]] = ch_w[r * k + c];
      cnt[e]++;
    }
  /* cnt[e] is now the end of e's list and the start of e+1's */
  if (ctx->stats) mixc_moe_count(ctx, E, k, rows, G, cnt, keep);

  /* 4. experts, in index order: for each block of up to RB rows of e's list,
   * hid = act(x[rows] . W1_e + b1_e), then y[rows] += g * (hid . W2_e + b2_e):
   * two GEMMs, the first gathering its rows of x, the second scatter-adding
   * into y (a list holds each row once, so no two of its rows collide). With
   * tcols, rowid holds element offsets, fc1 reads the block's rows packed
   * into yrow (free until fc2), and fc2 stores into yrow, added into y after. */
  if (R) memcpy(Y, R, sizeof(float) * (size_t)(rows * G * d));
  else memset(Y, 0, sizeof(float) * (size_t)(rows * G * d));
  int64_t rowid[MIXC_MOE_RB];
  float gate[MIXC_MOE_RB];
  mixc_gemm_params g1, g2;
  mixc_gemm_plain(&g1, 0, d, h, d, 1, h, p->w1_packed); /* M: the block's rows */
  mixc_gemm_plain(&g2, 0, h, d, h, 1, d, p->w2_packed);
  g1.act = mixc_moe_gemm_act(p->act);
  g1.a_packed = T > 0;
  const int64_t s1 = p->w1_packed ? mixc_gemm_packed_floats(h, d, MIXC_GEMM_NR) : d * h;
  const int64_t s2 = p->w2_packed ? mixc_gemm_packed_floats(d, h, MIXC_GEMM_NR) : h * d;
  for (int64_t e = 0; e < E; e++) {
    /* list entries beg..end, each G rows: virtual rows beg*G..end*G */
    int64_t beg = (e ? cnt[e - 1] : 0) * G, end = cnt[e] * G;
    for (int64_t r0 = beg; r0 < end; r0 += RB) {
      int64_t nr = end - r0 < RB ? end - r0 : RB;
      for (int64_t q = 0; q < nr; q++) {
        int64_t v = r0 + q;
        rowid[q] = (int64_t)l_row[v / G] * G + v % G;
        if (T > 0) rowid[q] = moe_row_off(rowid[q], d, T);
        gate[q] = l_w[v / G];
      }
      g1.M = g2.M = nr;
      mixc_gemm_ops o1 = {.A = X, .a_rows = rowid, .B = W1 + e * s1, .bias = B1 ? B1 + e * h : NULL,
                          .Y = hid};
      if (T > 0) {
        moe_pack_rows(X, rowid, nr, d, T, yrow);
        o1.A = yrow, o1.a_rows = NULL;
      }
      mixc_gemm_f32_run(ctx, &g1, &o1);
      mixc_gemm_ops o2 = {.A = hid, .B = W2 + e * s2, .bias = B2 ? B2 + e * d : NULL, .Y = yrow,
                          .S = Y, .s_rows = rowid, .s_scale = gate, .s_sm = d};
      if (T > 0) o2.S = NULL;
      mixc_gemm_f32_run(ctx, &g2, &o2);
      if (T > 0) moe_scatter_cols(Y, rowid, gate, nr, d, T, yrow);
    }
  }
}
