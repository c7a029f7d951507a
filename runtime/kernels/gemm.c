/* gemm.c - the f32 GEMM behind MatMul, Gemm, mixc.matmul, Einsum's matmul
 * patterns and convolutions without padding (through an im2col view of the
 * input), an f64 MatMul/Gemm, and com.microsoft.MoE computed for the chosen
 * experts only.
 *
 * The f32 GEMM (engine described in gemm.h): the output is cut into tasks of
 * MC rows by NC columns (and batches) that the thread pool shares out; a task
 * walks K in KC runs, packs its KC x NC block of B into NR-wide panels unless
 * B was packed at compile time (which also turns any stride or im2col view of
 * B into unit stride), and runs the 8 x 32 micro-kernel over every MR x NR
 * tile, reading A in place through row pointers or from compile-time panels.
 * When K takes several runs and B was packed at compile time, tasks are wider
 * than NC (see gemm_cols): the A block of a run, up to MC x KC floats (1 MB),
 * then serves many panels from L2 before the next run replaces it, instead of
 * two (measured on 196 x 2048 x 512, a channel fc2, alone on one thread:
 * +2-6%; inside the benchmark models the gain is within the machine's noise).
 * The epilogue (alpha, Gemm's C, bias, activation, residual) is applied as the
 * last run is stored, so a fused op writes its output once. Two software
 * prefetches hide memory latency (measured: +4-6% on GEMMs whose weights come
 * from DRAM, 15% on a token-mixing fc2 whose residual lives in L3): the row
 * tiles after a panel's first fetch the next compile-time panel, and each tile
 * asks for the output and residual lines it will store before it computes.
 *
 * Requires: kernel.h's ABI, data.h's params, gemm.h; only libm, memcpy and
 * memset; no heap. Stack: one packed B block (KC x NC floats, 256 KB) per task. */
#include <math.h>
#include <string.h>

#include "data.h"
#include "gemm.h"

typedef f32x16 vf;
enum { VW = 16, MR = MIXC_GEMM_MR, NR = MIXC_GEMM_NR, KC = MIXC_GEMM_KC, MC = 256, NC = 64 };
_Static_assert(NR == 2 * VW, "the micro-kernel holds two vectors per row");

/* ---- packing ----------------------------------------------------------------------- */

/* Offsets of `count` consecutive positions starting at `start` of a view made of
 * nsub sub-dims (last fastest). */
static void view_offsets(int nsub, const int64_t *dim, const int64_t *st, int64_t start,
                         int64_t count, int64_t *off) {
  int64_t idx[MIXC_GEMM_VIEW], rem = start, o = 0;
  for (int d = nsub - 1; d >= 0; d--) {
    idx[d] = rem % dim[d];
    rem /= dim[d];
    o += idx[d] * st[d];
  }
  for (int64_t i = 0; i < count; i++) {
    off[i] = o;
    for (int d = nsub - 1; d >= 0; d--) {
      idx[d]++;
      o += st[d];
      if (idx[d] < dim[d]) break;
      o -= idx[d] * st[d];
      idx[d] = 0;
    }
  }
}

/* Packs kc x nc of B (element (k, n) at B[k*ks + n*ns]) into panels of kc rows
 * of NR floats, zero-padded on the right; panel j starts at bp + j*pstride. */
static void pack_b_block(const float *B, int64_t ks, int64_t ns, int64_t kc, int64_t nc, float *bp,
                         int64_t pstride) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t w = nc - j0 < NR ? nc - j0 : NR;
    float *dst = bp + (j0 / NR) * pstride;
    const float *src = B + j0 * ns;
    if (ns == 1 && w == NR) {
      for (int64_t k = 0; k < kc; k++, dst += NR) memcpy(dst, src + k * ks, NR * sizeof(float));
    } else {
      for (int64_t k = 0; k < kc; k++, dst += NR) {
        const float *s = src + k * ks;
        for (int64_t j = 0; j < w; j++) dst[j] = s[j * ns];
        for (int64_t j = w; j < NR; j++) dst[j] = 0;
      }
    }
  }
}

void mixc_gemm_pack_b(int64_t K, int64_t N, const float *B, int64_t ks, int64_t ns, float *out) {
  pack_b_block(B, ks, ns, K, N, out, K * NR);
}

void mixc_gemm_pack_a(int64_t M, int64_t K, const float *A, int64_t ms, int64_t ks, float *out) {
  for (int64_t i0 = 0; i0 < M; i0 += MR) {
    int64_t h = M - i0 < MR ? M - i0 : MR;
    float *dst = out + (i0 / MR) * K * MR;
    for (int64_t k = 0; k < K; k++, dst += MR) {
      for (int64_t i = 0; i < h; i++) dst[i] = A[(i0 + i) * ms + k * ks];
      for (int64_t i = h; i < MR; i++) dst[i] = 0;
    }
  }
}

/* The kc x nc block at (k0, n0) of B given as a view (p->b_kdim/b_kst,
 * p->b_ndim/b_nst), packed like pack_b_block with pstride kc*NR. */
static void pack_b_view(const mixc_gemm_params *p, const float *B, int64_t k0, int64_t kc,
                        int64_t n0, int64_t nc, float *bp) {
  if (p->b_nk == 1 && p->b_nn == 1) {
    pack_b_block(B + k0 * p->b_kst[0] + n0 * p->b_nst[0], p->b_kst[0], p->b_nst[0], kc, nc, bp,
                 kc * NR);
    return;
  }
  int64_t koff[KC], noff[NC];
  view_offsets(p->b_nk, p->b_kdim, p->b_kst, k0, kc, koff);
  if (p->b_nn == 1 && p->b_nst[0] == 1) { /* each k's columns are contiguous */
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
      int64_t w = nc - j0 < NR ? nc - j0 : NR;
      float *dst = bp + (j0 / NR) * kc * NR;
      for (int64_t k = 0; k < kc; k++, dst += NR) {
        memcpy(dst, B + koff[k] + n0 + j0, sizeof(float) * (size_t)w);
        for (int64_t j = w; j < NR; j++) dst[j] = 0;
      }
    }
    return;
  }
  view_offsets(p->b_nn, p->b_ndim, p->b_nst, n0, nc, noff);
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t w = nc - j0 < NR ? nc - j0 : NR;
    float *dst = bp + (j0 / NR) * kc * NR;
    for (int64_t k = 0; k < kc; k++, dst += NR) {
      const float *s = B + koff[k];
      for (int64_t j = 0; j < w; j++) dst[j] = s[noff[j0 + j]];
      for (int64_t j = w; j < NR; j++) dst[j] = 0;
    }
  }
}

/* ---- the micro-kernel ----------------------------------------------------------------- */

/* One cache line of the next B panel is prefetched every PF_EVERY k-steps. */
enum { PF_EVERY = 8, LINE_FLOATS = 16 };

/* c[2i], c[2i+1] = sum over k < kc of a_i[k*as] * bp[k*NR .. k*NR+NR), for the
 * first R rows (R constant after inlining: 1, 2, 4 or 8). Rows are written out
 * one by one so that the 16 accumulators stay in registers. Meanwhile the npf
 * cache lines at pf (npf may be 0) are prefetched, one every PF_EVERY k-steps. */
static inline __attribute__((always_inline)) void micro_r(const int R, int64_t kc,
                                                          const float *const *a, int64_t as,
                                                          const float *bp, vf *c,
                                                          const float *pf, int64_t npf) {
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  const float *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
  vf z = v16_splat(0.0f);
  vf c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
  vf c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
#define ROW(i)                                                \
  do {                                                        \
    vf x_ = v16_splat(a##i[k * as]);                          \
    c##i##0 = v16_fma(x_, b0, c##i##0);                       \
    c##i##1 = v16_fma(x_, b1, c##i##1);                       \
  } while (0)
  for (int64_t k = 0; k < kc; k++) {
    if (k % PF_EVERY == 0 && k / PF_EVERY < npf) __builtin_prefetch(pf + k / PF_EVERY * LINE_FLOATS, 0, 3);
    vf b0 = v16_ld(bp + k * NR), b1 = v16_ld(bp + k * NR + VW);
    ROW(0);
    if (R > 1) ROW(1);
    if (R > 2) {
      ROW(2);
      ROW(3);
    }
    if (R > 4) {
      ROW(4);
      ROW(5);
      ROW(6);
      ROW(7);
    }
  }
#undef ROW
  c[0] = c00, c[1] = c01, c[2] = c10, c[3] = c11, c[4] = c20, c[5] = c21, c[6] = c30, c[7] = c31;
  c[8] = c40, c[9] = c41, c[10] = c50, c[11] = c51, c[12] = c60, c[13] = c61, c[14] = c70, c[15] = c71;
}

/* mr (1..MR) rows; rows past mr point at valid memory and are not stored. */
static inline void micro(int mr, int64_t kc, const float *const *a, int64_t as, const float *bp,
                         vf *c, const float *pf, int64_t npf) {
  if (mr > 4) micro_r(8, kc, a, as, bp, c, pf, npf);
  else if (mr > 2) micro_r(4, kc, a, as, bp, c, pf, npf);
  else if (mr == 2) micro_r(2, kc, a, as, bp, c, pf, npf);
  else micro_r(1, kc, a, as, bp, c, pf, npf);
}

/* ---- the epilogue ---------------------------------------------------------------------- */

/* `lanes` (1..VW) floats at stride s; the rest zero */
static inline vf ld_lanes(const float *p, int64_t s, int64_t lanes) {
  if (s == 1 && lanes == VW) return v16_ld(p);
  float t[VW] = {0};
  for (int64_t l = 0; l < lanes; l++) t[l] = p[l * s];
  return v16_ld(t);
}
static inline void st_lanes(float *p, int64_t s, int64_t lanes, vf v) {
  if (s == 1 && lanes == VW) {
    v16_st(p, v);
    return;
  }
  float t[VW];
  v16_st(t, v);
  for (int64_t l = 0; l < lanes; l++) p[l * s] = t[l];
}

static inline vf act(int32_t a, vf v) {
  switch (a) {
  case MIXC_ACT_RELU: return v16_relu(v);
  case MIXC_ACT_GELU_ERF: return v16_gelu_erf_fast(v);
  case MIXC_ACT_GELU_TANH: return v16_gelu_tanh(v);
  case MIXC_ACT_SILU: return v16_silu(v);
  case MIXC_ACT_SIGMOID: return v16_sigmoid(v);
  default: return v;
  }
}

typedef mixc_gemm_ops gemm_ops;

/* Stores rows m0..m0+mr, columns n0..n0+w of the tile c: the first run
 * replaces Y (adding Gemm's beta*C), later runs add to it, and the last one
 * applies the epilogue (and, scattering, adds into S instead of storing).
 * With `full` (a constant after inlining: the tile is NR wide, Y, R and S
 * have unit column strides and there is no C) every load and store is a whole
 * vector and the activation a is a constant too: the same operations in the
 * same order without the per-vector lane and stride checks, which cost up to
 * a tenth of a GEMM with short k-runs. */
static inline __attribute__((always_inline)) void store_tile(const mixc_gemm_params *p,
                                                             const gemm_ops *o, int64_t m0, int mr,
                                                             int64_t n0, int64_t w, const vf *c,
                                                             int first, int last, const int32_t a,
                                                             const int full) {
  const int64_t ys = full ? 1 : p->y_sn, rs = full ? 1 : p->r_sn;
  for (int i = 0; i < mr; i++) {
    int64_t m = m0 + i;
    for (int v = 0; v < 2; v++) {
      int64_t lanes = full ? VW : w - v * VW, n = n0 + v * VW;
      if (lanes <= 0) break;
      if (lanes > VW) lanes = VW;
      float *y = o->Y + m * p->y_sm + n * ys;
      vf t = c[2 * i + v] * v16_splat(p->alpha);
      if (!first) t = ld_lanes(y, ys, lanes) + t;
      else if (!full && o->C) t = v16_splat(p->beta) * ld_lanes(o->C + m * p->c_sm + n * p->c_sn, p->c_sn, lanes) + t;
      if (last) {
        if (o->bias) t = t + (p->bias_axis ? v16_splat(o->bias[m]) : ld_lanes(o->bias + n, 1, lanes));
        t = act(a, t);
        if (o->R) t = t + ld_lanes(o->R + m * p->r_sm + n * rs, rs, lanes);
        if (o->S) { /* scatter-add: S[s_rows[m]] += s_scale[m] * v */
          float *s = o->S + o->s_rows[m] * o->s_sm + n;
          st_lanes(s, 1, lanes, ld_lanes(s, 1, lanes) + t * v16_splat(o->s_scale[m]));
          continue;
        }
      }
      st_lanes(y, ys, lanes, t);
    }
  }
}

/* Asks for the lines the tile's store will touch (Y, and the residual on the
 * last run), so that they arrive while the micro-kernel runs: an output or a
 * residual that lives in L3 would otherwise stall the epilogue once per tile. */
static inline void prefetch_tile(const mixc_gemm_params *p, const gemm_ops *o, int64_t m0, int mr,
                                 int64_t n0, int64_t w, int last) {
  if (p->y_sn != 1 || o->S) return;
  int with_r = last && o->R && p->r_sn == 1;
  for (int i = 0; i < mr; i++) {
    const float *y = o->Y + (m0 + i) * p->y_sm + n0, *r = with_r ? o->R + (m0 + i) * p->r_sm + n0 : NULL;
    for (int64_t v = 0; v < w; v += VW) {
      __builtin_prefetch(y + v, 1, 3);
      if (r) __builtin_prefetch(r + v, 0, 3);
    }
  }
}

/* store_tile, its full form (specialized per activation) when it applies */
static inline void store(const mixc_gemm_params *p, const gemm_ops *o, int64_t m0, int mr,
                         int64_t n0, int64_t w, const vf *c, int first, int last) {
  if (w != NR || p->y_sn != 1 || o->C || (o->R && p->r_sn != 1)) {
    store_tile(p, o, m0, mr, n0, w, c, first, last, p->act, 0);
    return;
  }
  switch (p->act) {
#define FULL(A) store_tile(p, o, m0, mr, n0, w, c, first, last, A, 1); break
  case MIXC_ACT_RELU: FULL(MIXC_ACT_RELU);
  case MIXC_ACT_GELU_ERF: FULL(MIXC_ACT_GELU_ERF);
  case MIXC_ACT_GELU_TANH: FULL(MIXC_ACT_GELU_TANH);
  case MIXC_ACT_SILU: FULL(MIXC_ACT_SILU);
  case MIXC_ACT_SIGMOID: FULL(MIXC_ACT_SIGMOID);
  default: FULL(MIXC_ACT_NONE);
#undef FULL
  }
}

/* ---- f32 GEMM ------------------------------------------------------------------------- */

/* Rows [m0, m0+mc) by columns [n0, n0+nc) of one batch; nc is at most NC
 * unless B was packed at compile time. */
static void gemm_block(const mixc_gemm_params *p, const gemm_ops *o, int64_t m0, int64_t mc,
                       int64_t n0, int64_t nc) {
  const int64_t K = p->K;
  _Alignas(64) float bbuf[KC * NC];
  int64_t k0 = 0;
  do { /* once even for K == 0, to store the epilogue of zero sums */
    int64_t kc = K - k0 < KC ? K - k0 : KC;
    int first = k0 == 0, last = k0 + kc >= K;
    const float *bp;
    int64_t pstride;
    if (p->b_packed) {
      bp = o->B + (n0 / NR * K + k0) * NR, pstride = K * NR;
    } else {
      pack_b_view(p, o->B, k0, kc, n0, nc, bbuf);
      bp = bbuf, pstride = kc * NR;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
      int64_t w = nc - j0 < NR ? nc - j0 : NR;
      const float *bj = bp + (j0 / NR) * pstride;
      /* the panel and k-run that come next: this run's next panel, else the
       * block's first panel in the next run, else the next block's first */
      int64_t jn = (n0 + j0) / NR + 1, kn = k0, kn_len = kc;
      if (j0 + NR >= nc && !last) jn = n0 / NR, kn = k0 + kc, kn_len = K - kn < KC ? K - kn : KC;
      else if (j0 + NR >= nc) kn = 0, kn_len = K < KC ? K : KC;
      for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        int mr = mc - i0 < MR ? (int)(mc - i0) : MR;
        int64_t m = m0 + i0;
        const float *a[MR];
        int64_t as;
        if (p->a_packed) {
          const float *panel = o->A + (m / MR * K + k0) * MR;
          for (int i = 0; i < MR; i++) a[i] = panel + i;
          as = MR;
        } else {
          for (int i = 0; i < MR; i++) {
            int64_t r = m + (i < mr ? i : 0);
            a[i] = o->A + (o->a_rows ? o->a_rows[r] : r) * p->a_sm + k0 * p->a_sk;
          }
          as = p->a_sk;
        }
        /* Weights packed at compile time come from memory the first time a
         * panel is used. The tiles after the first share out the prefetch of
         * the next panel's k-run (in this block or the next block), so the
         * first tile on that panel does not wait for memory. */
        const float *pf = NULL;
        int64_t npf = 0;
        if (p->b_packed && i0 > 0 && jn * NR < p->N) {
          int64_t lines = kn_len * NR / LINE_FLOATS, tiles = (mc - 1) / MR;
          int64_t per = (lines + tiles - 1) / tiles, first_line = (i0 / MR - 1) * per;
          if (first_line < lines) {
            pf = o->B + (jn * K + kn) * NR + first_line * LINE_FLOATS;
            npf = lines - first_line < per ? lines - first_line : per;
          }
        }
        vf c[2 * MR];
        prefetch_tile(p, o, m, mr, n0 + j0, w, last);
        micro(mr, kc, a, as, bj, c, pf, npf);
        store(p, o, m, mr, n0 + j0, w, c, first, last);
      }
    }
    k0 += kc;
  } while (k0 < K);
}

typedef struct gemm_job {
  const mixc_gemm_params *p;
  gemm_ops base;                 /* batch 0 */
  int64_t nmb, nnb;              /* row and column blocks per batch */
  int64_t nc;                    /* columns per column block */
} gemm_job;

/* Task t: batch t / (nmb*nnb), then row block, then column block. */
static void gemm_task(void *arg, int64_t t) {
  const gemm_job *j = arg;
  const mixc_gemm_params *p = j->p;
  int64_t per = j->nmb * j->nnb, b = t / per, mb = t % per / j->nnb, nb = t % j->nnb;
  gemm_ops o = j->base;
  for (int d = p->nbatch - 1; d >= 0; d--) { /* batch offsets */
    int64_t i = b % p->bdim[d];
    b /= p->bdim[d];
    o.A += i * p->a_bs[d], o.B += i * p->b_bs[d], o.Y += i * p->y_bs[d];
    if (o.C) o.C += i * p->c_bs[d];
    if (o.R) o.R += i * p->r_bs[d];
    if (o.bias) o.bias += i * p->bias_bs[d];
  }
  int64_t m0 = mb * MC, n0 = nb * j->nc;
  gemm_block(p, &o, m0, p->M - m0 < MC ? p->M - m0 : MC, n0, p->N - n0 < j->nc ? p->N - n0 : j->nc);
}

/* Columns per task: NC; with several k-runs over compile-time panels, as many
 * as leave each thread 8 tasks to balance (all N on one thread). The blocking
 * never changes a sum, so results do not depend on it. */
static int64_t gemm_cols(rt_ctx *ctx, const mixc_gemm_params *p, int64_t tasks_per_nb) {
  if (!p->b_packed || p->K <= KC) return NC;
  int64_t want = rt_threads(ctx) > 1 ? 8 * (int64_t)rt_threads(ctx) : 1, panels = (p->N + NR - 1) / NR;
  int64_t nc = panels * NR;
  while (nc > NC && tasks_per_nb * ((p->N + nc - 1) / nc) < want) nc = (nc / NR + 1) / 2 * NR;
  return nc > NC ? nc : NC;
}

void mixc_gemm_f32_run(rt_ctx *ctx, const mixc_gemm_params *p, const mixc_gemm_ops *o) {
  int64_t nb = 1;
  for (int d = 0; d < p->nbatch; d++) nb *= p->bdim[d];
  if (p->M == 0 || p->N == 0 || nb == 0) return;
  int64_t nmb = (p->M + MC - 1) / MC, nc = gemm_cols(ctx, p, nb * nmb);
  gemm_job j = {p, *o, nmb, (p->N + nc - 1) / nc, nc};
  rt_parallel_for(ctx, nb * j.nmb * j.nnb, gemm_task, &j);
}

/* bufs: per params (a_buf, b_buf, c_buf, bias_buf, res_buf, y_buf) */
void mixc_k_gemm_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_gemm_params *p = params;
  mixc_gemm_ops o = {.A = bufs[p->a_buf], .B = bufs[p->b_buf], .Y = bufs[p->y_buf],
                     .C = p->c_buf >= 0 ? bufs[p->c_buf] : NULL,
                     .bias = p->bias_buf >= 0 ? bufs[p->bias_buf] : NULL,
                     .R = p->res_buf >= 0 ? bufs[p->res_buf] : NULL};
  mixc_gemm_f32_run(ctx, p, &o);
}

/* Walks the batch dims, calling body for each batch with the operands' offsets. */
#define FOR_EACH_BATCH(p, body)                                                     \
  do {                                                                              \
    int64_t idx_[RT_MAX_RANK] = {0}, ao = 0, bo = 0, co = 0, yo = 0, nb_ = 1;       \
    for (int d_ = 0; d_ < (p)->nbatch; d_++) nb_ *= (p)->bdim[d_];                  \
    for (int64_t b_ = 0; b_ < nb_; b_++) {                                          \
      body;                                                                         \
      for (int d_ = (p)->nbatch - 1; d_ >= 0; d_--) {                               \
        idx_[d_]++;                                                                 \
        ao += (p)->a_bs[d_], bo += (p)->b_bs[d_], co += (p)->c_bs[d_], yo += (p)->y_bs[d_]; \
        if (idx_[d_] < (p)->bdim[d_]) break;                                        \
        ao -= idx_[d_] * (p)->a_bs[d_], bo -= idx_[d_] * (p)->b_bs[d_];             \
        co -= idx_[d_] * (p)->c_bs[d_], yo -= idx_[d_] * (p)->y_bs[d_];             \
        idx_[d_] = 0;                                                               \
      }                                                                             \
    }                                                                               \
  } while (0)

/* ---- f64: plain loops, B addressed through its view --------------------------------- */

static void gemm_one_f64(const mixc_gemm_params *p, const double *A, const double *B,
                         const double *C, double *Y) {
  enum { NB = 64 };
  int64_t noff[NB];
  double acc[NB];
  for (int64_t n0 = 0; n0 < p->N; n0 += NB) {
    int64_t nc = p->N - n0 < NB ? p->N - n0 : NB;
    view_offsets(p->b_nn, p->b_ndim, p->b_nst, n0, nc, noff);
    for (int64_t m = 0; m < p->M; m++) {
      for (int64_t j = 0; j < nc; j++) acc[j] = 0;
      int64_t kidx[MIXC_GEMM_VIEW] = {0}, ko = 0;
      for (int64_t k = 0; k < p->K; k++) {
        double a = A[m * p->a_sm + k * p->a_sk];
        const double *b = B + ko;
        for (int64_t j = 0; j < nc; j++) acc[j] += a * b[noff[j]];
        for (int d = p->b_nk - 1; d >= 0; d--) {
          kidx[d]++;
          ko += p->b_kst[d];
          if (kidx[d] < p->b_kdim[d]) break;
          ko -= kidx[d] * p->b_kst[d];
          kidx[d] = 0;
        }
      }
      for (int64_t j = 0; j < nc; j++) {
        int64_t n = n0 + j;
        double v = (double)p->alpha * acc[j];
        if (C) v += (double)p->beta * C[m * p->c_sm + n * p->c_sn];
        Y[m * p->y_sm + n * p->y_sn] = v;
      }
    }
  }
}

void mixc_k_gemm_f64(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_gemm_params *p = params;
  const double *A = bufs[p->a_buf], *B = bufs[p->b_buf];
  const double *C = p->c_buf >= 0 ? bufs[p->c_buf] : NULL;
  double *Y = bufs[p->y_buf];
  FOR_EACH_BATCH(p, gemm_one_f64(p, A + ao, B + bo, C ? C + co : NULL, Y + yo));
}

/* ---- com.microsoft.MoE ------------------------------------------------------------ */
/* For each expert, the rows that chose it are gathered in batches of RB; the
 * expert MLP runs on a batch in IC-wide slices of the inner dim (the
 * activation is elementwise, so slicing is exact), through the same packing and
 * micro-kernels. Routing is recomputed per expert instead of stored: softmax
 * and a top-k over E values are cheap next to the expert GEMMs. */
enum { RB = 128, IC = 128, NC2 = 128, MKC = 256, MOE_MAX_E = 1024 };

/* Whether row `lg` (E logits) routes to expert e; its weight in *w. */
static int moe_route(const mixc_moe_params *p, const float *lg, int64_t e, float *w) {
  int64_t E = p->E;
  float pr[MOE_MAX_E];
  float mx = lg[0];
  for (int64_t j = 1; j < E; j++) mx = lg[j] > mx ? lg[j] : mx;
  float sum = 0;
  for (int64_t j = 0; j < E; j++) sum += pr[j] = expf(lg[j] - mx);
  for (int64_t j = 0; j < E; j++) pr[j] /= sum;
  /* rank of e: experts strictly better, ties to the lower index */
  int64_t rank = 0;
  for (int64_t j = 0; j < E; j++) rank += pr[j] > pr[e] || (pr[j] == pr[e] && j < e);
  if (rank >= p->k) return 0;
  float wt = pr[e];
  if (p->normalize) { /* sum of the k chosen: repeated selection of the best unchosen */
    float tot = 0;
    int64_t last = -1;
    float lastv = INFINITY;
    for (int64_t c = 0; c < p->k; c++) {
      int64_t best = -1;
      for (int64_t j = 0; j < E; j++) {
        int after = pr[j] < lastv || (pr[j] == lastv && j > last); /* not chosen yet */
        if (after && (best < 0 || pr[j] > pr[best])) best = j;
      }
      tot += pr[best];
      last = best;
      lastv = pr[best];
    }
    wt /= tot;
  }
  *w = wt;
  return 1;
}

/* y[0..w) = (acc ? y : 0) + alpha * v[0..w) */
static inline void store_row(float *y, const vf *v, float alpha, int64_t w, int acc) {
  for (int i = 0; i < 2 && i * VW < w; i++) {
    int64_t lanes = w - i * VW < VW ? w - i * VW : VW;
    vf t = v[i] * v16_splat(alpha);
    if (acc) t = ld_lanes(y + i * VW, 1, lanes) + t;
    st_lanes(y + i * VW, 1, lanes, t);
  }
}

static inline float moe_act(int act, float x) {
  switch (act) {
  case 0: return x > 0 ? x : 0;
  /* tanh GELU: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), one expf instead of tanhf */
  case 1: return x / (1.0f + expf(-1.5957691216057308f * (x + 0.044715f * x * x * x)));
  case 2: return x / (1.0f + expf(-x));
  default: return x;
  }
}

static void moe_batch(const mixc_moe_params *p, int64_t e, const float *X, const float *W1,
                      const float *B1, const float *W2, const float *B2, float *Y,
                      const int64_t *rid, const float *rw, int nr) {
  const int64_t H = p->H, I = p->I;
  _Alignas(64) float bp[MKC * IC > IC * NC2 ? MKC * IC : IC * NC2];
  _Alignas(64) float h[RB * IC];
  if (B2)
    for (int r = 0; r < nr; r++)
      for (int64_t j = 0; j < H; j++) Y[rid[r] * H + j] += rw[r] * B2[e * H + j];
  for (int64_t i0 = 0; i0 < I; i0 += IC) {
    int64_t ic = I - i0 < IC ? I - i0 : IC;
    /* h = X[rows] . W1[e][:, i0:i0+ic] */
    for (int64_t k0 = 0; k0 < H; k0 += MKC) {
      int64_t kc = H - k0 < MKC ? H - k0 : MKC;
      pack_b_block(W1 + e * p->w1_se + k0 * p->w1_sh + i0 * p->w1_si, p->w1_sh, p->w1_si, kc, ic, bp,
                   kc * NR);
      for (int m0 = 0; m0 < nr; m0 += MR) {
        int mr = nr - m0 < MR ? nr - m0 : MR;
        const float *a[MR];
        for (int i = 0; i < MR; i++) a[i] = X + rid[m0 + (i < mr ? i : 0)] * H + k0;
        for (int64_t j0 = 0; j0 < ic; j0 += NR) {
          vf c[2 * MR];
          micro(mr, kc, a, 1, bp + (j0 / NR) * kc * NR, c, NULL, 0);
          int64_t w = ic - j0 < NR ? ic - j0 : NR;
          for (int i = 0; i < mr; i++) store_row(h + (m0 + i) * IC + j0, &c[2 * i], 1.0f, w, k0 > 0);
        }
      }
    }
    if (H == 0) memset(h, 0, sizeof h);
    for (int r = 0; r < nr; r++)
      for (int64_t j = 0; j < ic; j++)
        h[r * IC + j] = moe_act(p->act, h[r * IC + j] + (B1 ? B1[e * I + i0 + j] : 0.0f));
    /* Y[rows] += rw * h . W2[e][i0:i0+ic, :] */
    for (int64_t n0 = 0; n0 < H; n0 += NC2) {
      int64_t nc = H - n0 < NC2 ? H - n0 : NC2;
      pack_b_block(W2 + e * p->w2_se + i0 * p->w2_si + n0 * p->w2_sh, p->w2_si, p->w2_sh, ic, nc, bp,
                   ic * NR);
      for (int m0 = 0; m0 < nr; m0 += MR) {
        int mr = nr - m0 < MR ? nr - m0 : MR;
        const float *a[MR];
        for (int i = 0; i < MR; i++) a[i] = h + (m0 + (i < mr ? i : 0)) * IC;
        for (int64_t j0 = 0; j0 < nc; j0 += NR) {
          vf c[2 * MR];
          micro(mr, ic, a, 1, bp + (j0 / NR) * ic * NR, c, NULL, 0);
          int64_t w = nc - j0 < NR ? nc - j0 : NR;
          for (int i = 0; i < mr; i++)
            store_row(Y + rid[m0 + i] * H + n0 + j0, &c[2 * i], rw[m0 + i], w, 1);
        }
      }
    }
  }
}

/* bufs: input, router_probs, fc1, fc1_bias|NULL, fc2, fc2_bias|NULL, ..., output (out_buf) */
void mixc_k_ms_moe_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_moe_params *p = params;
  const float *X = bufs[0], *R = bufs[1], *W1 = bufs[2], *W2 = bufs[4];
  const float *B1 = p->has_b1 ? bufs[3] : NULL, *B2 = p->has_b2 ? bufs[5] : NULL;
  float *Y = bufs[p->out_buf];
  memset(Y, 0, (size_t)(p->rows * p->H) * sizeof(float));
  int64_t rid[RB];
  float rw[RB];
  for (int64_t e = 0; e < p->E; e++) {
    int nr = 0;
    for (int64_t r = 0; r < p->rows; r++) {
      float w;
      if (!moe_route(p, R + r * p->E, e, &w)) continue;
      rid[nr] = r, rw[nr] = w, nr++;
      if (nr == RB) {
        moe_batch(p, e, X, W1, B1, W2, B2, Y, rid, rw, nr);
        nr = 0;
      }
    }
    if (nr) moe_batch(p, e, X, W1, B1, W2, B2, Y, rid, rw, nr);
  }
}
