/* gemm.c - the f32 GEMM behind MatMul, Gemm, Einsum's matmul patterns and
 * convolutions without padding (through an im2col view of the input), an f64
 * MatMul/Gemm, and com.microsoft.MoE computed for the chosen experts only.
 *
 * The f32 GEMM is cache-blocked: B is packed, KC x NC at a time, into a stack
 * buffer of NR-wide panels (which also turns any stride or view of B into unit
 * stride, so a transposed operand is never copied as a whole), and an MR x NR
 * micro-kernel with GCC/Clang vector extensions accumulates over the packed
 * panel while A is read in place through its strides. It is correct and
 * reasonably fast, not the final word: packed AVX-512 micro-kernels come later.
 *
 * Requires: kernel.h's ABI and data.h's params; only libm, memcpy and memset;
 * no heap. Stack use is bounded: about 140 KB for the GEMM (its B block), 140 KB
 * for the MoE kernel. */
#include <math.h>
#include <string.h>

#include "data.h"

/* The vector is the widest the target has; a micro-tile is MR rows by two
 * vectors, so that its 12 accumulators and two B vectors fit the register file
 * (32 zmm, 16 ymm or 16 xmm). The kernel bitcode is compiled without -march
 * and retargeted to the host by the backend, so it asks for 16 lanes when built
 * with -DMIXC_KERNEL_BITCODE. The width never changes results: each output
 * element sums over k in the same order in every variant. */
#if defined(__AVX512F__) || defined(MIXC_KERNEL_BITCODE)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4))); /* unaligned access */

enum { MR = 6, NR = 2 * VW, KC = 128, NC = 256 };

/* ---- packing B ------------------------------------------------------------------ */

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

/* Packs the kc x nc block of a plain matrix B (element (k, n) at k*ks + n*ns) into
 * ceil(nc/NR) panels of kc rows of NR floats, zero-padded on the right. */
static void pack_plain(const float *B, int64_t ks, int64_t ns, int64_t kc, int64_t nc, float *bp) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    int64_t w = nc - j0 < NR ? nc - j0 : NR;
    float *dst = bp + (j0 / NR) * kc * NR;
    const float *src = B + j0 * ns;
    if (ns == 1 && w == NR) {
      for (int64_t k = 0; k < kc; k++, dst += NR) memcpy(dst, src + k * ks, NR * sizeof(float));
    } else if (ns == 1) {
      for (int64_t k = 0; k < kc; k++, dst += NR) {
        memcpy(dst, src + k * ks, (size_t)w * sizeof(float));
        memset(dst + w, 0, (size_t)(NR - w) * sizeof(float));
      }
    } else {
      for (int64_t k = 0; k < kc; k++, dst += NR) {
        const float *s = src + k * ks;
        for (int64_t j = 0; j < w; j++) dst[j] = s[j * ns];
        for (int64_t j = w; j < NR; j++) dst[j] = 0;
      }
    }
  }
}

/* The same for B given as a view (p->b_kdim/b_kst, p->b_ndim/b_nst). */
static void pack_view(const mixc_gemm_params *p, const float *B, int64_t k0, int64_t kc,
                      int64_t n0, int64_t nc, float *bp) {
  if (p->b_nk == 1 && p->b_nn == 1) {
    pack_plain(B + k0 * p->b_kst[0] + n0 * p->b_nst[0], p->b_kst[0], p->b_nst[0], kc, nc, bp);
    return;
  }
  int64_t koff[KC], noff[NC];
  view_offsets(p->b_nk, p->b_kdim, p->b_kst, k0, kc, koff);
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

/* ---- micro-kernels: c[2i], c[2i+1] = sum_k a_i[k*ask] * bp[k][0..NR) ---------------- */

static inline void micro6(int64_t kc, const float *const *a, int64_t ask, const float *bp, vf *c) {
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  vf c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
  vf c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
  for (int64_t k = 0; k < kc; k++) {
    vf b0 = *(const vf *)(bp + k * NR), b1 = *(const vf *)(bp + k * NR + VW);
    float x;
    x = a0[k * ask], c00 += x * b0, c01 += x * b1;
    x = a1[k * ask], c10 += x * b0, c11 += x * b1;
    x = a2[k * ask], c20 += x * b0, c21 += x * b1;
    x = a3[k * ask], c30 += x * b0, c31 += x * b1;
    x = a4[k * ask], c40 += x * b0, c41 += x * b1;
    x = a5[k * ask], c50 += x * b0, c51 += x * b1;
  }
  c[0] = c00, c[1] = c01, c[2] = c10, c[3] = c11, c[4] = c20, c[5] = c21;
  c[6] = c30, c[7] = c31, c[8] = c40, c[9] = c41, c[10] = c50, c[11] = c51;
}

static inline void micro1(int64_t kc, const float *a0, int64_t ask, const float *bp, vf *c) {
  vf c0 = {0}, c1 = {0}, d0 = {0}, d1 = {0};
  int64_t k = 0;
  for (; k + 1 < kc; k += 2) { /* two chains per vector hide the add latency */
    float x = a0[k * ask], y = a0[(k + 1) * ask];
    c0 += x * *(const vf *)(bp + k * NR), c1 += x * *(const vf *)(bp + k * NR + VW);
    d0 += y * *(const vf *)(bp + (k + 1) * NR), d1 += y * *(const vf *)(bp + (k + 1) * NR + VW);
  }
  if (k < kc) {
    float x = a0[k * ask];
    c0 += x * *(const vf *)(bp + k * NR), c1 += x * *(const vf *)(bp + k * NR + VW);
  }
  c[0] = c0 + d0, c[1] = c1 + d1;
}

/* Computes mr (1..MR) rows of the tile from row pointers a[0..MR) (rows past
 * mr point at valid memory; their results are ignored). */
static inline void micro(int mr, int64_t kc, const float *const *a, int64_t ask, const float *bp,
                         vf *c) {
  if (mr == 1) micro1(kc, a[0], ask, bp, c);
  else micro6(kc, a, ask, bp, c);
}

/* y[0..w) (stride ysn) = (acc ? y : 0) + alpha * v[0..w) */
static inline void store_row(float *y, int64_t ysn, const vf *v, float alpha, int64_t w, int acc) {
  vf v0 = v[0] * alpha, v1 = v[1] * alpha;
  if (ysn == 1 && w == NR) {
    if (acc) v0 += *(vfu *)y, v1 += *(vfu *)(y + VW);
    *(vfu *)y = v0, *(vfu *)(y + VW) = v1;
    return;
  }
  for (int64_t j = 0; j < w; j++) {
    float t = j < VW ? v0[j] : v1[j - VW];
    y[j * ysn] = acc ? y[j * ysn] + t : t;
  }
}

/* ---- f32 GEMM ----------------------------------------------------------------------- */

static void gemm_one(const mixc_gemm_params *p, const float *A, const float *B, const float *C,
                     float *Y) {
  const int64_t M = p->M, N = p->N, K = p->K;
  if (C) {
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++)
        Y[m * p->y_sm + n * p->y_sn] = p->beta * C[m * p->c_sm + n * p->c_sn];
  } else if (K == 0) {
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) Y[m * p->y_sm + n * p->y_sn] = 0;
  }
  _Alignas(64) float bp[KC * NC];
  for (int64_t n0 = 0; n0 < N; n0 += NC) {
    int64_t nc = N - n0 < NC ? N - n0 : NC;
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      int64_t kc = K - k0 < KC ? K - k0 : KC;
      int acc = C != NULL || k0 > 0;
      pack_view(p, B, k0, kc, n0, nc, bp);
      for (int64_t m0 = 0; m0 < M; m0 += MR) {
        int mr = M - m0 < MR ? (int)(M - m0) : MR;
        const float *a[MR];
        for (int i = 0; i < MR; i++) a[i] = A + (m0 + (i < mr ? i : 0)) * p->a_sm + k0 * p->a_sk;
        for (int64_t j0 = 0; j0 < nc; j0 += NR) {
          vf c[2 * MR];
          micro(mr, kc, a, p->a_sk, bp + (j0 / NR) * kc * NR, c);
          int64_t w = nc - j0 < NR ? nc - j0 : NR;
          for (int i = 0; i < mr; i++)
            store_row(Y + (m0 + i) * p->y_sm + (n0 + j0) * p->y_sn, p->y_sn, &c[2 * i], p->alpha, w, acc);
        }
      }
    }
  }
}

/* Walks the batch dims, calling fn for each batch with the operands' offsets. */
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

/* bufs: per params (a_buf, b_buf, c_buf, y_buf) */
void mixc_k_gemm_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_gemm_params *p = params;
  const float *A = bufs[p->a_buf], *B = bufs[p->b_buf];
  const float *C = p->c_buf >= 0 ? bufs[p->c_buf] : NULL;
  float *Y = bufs[p->y_buf];
  FOR_EACH_BATCH(p, gemm_one(p, A + ao, B + bo, C ? C + co : NULL, Y + yo));
}

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
enum { RB = 128, IC = 128, NC2 = 128, MOE_MAX_E = 1024 };

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
  _Alignas(64) float bp[KC * IC > IC * NC2 ? KC * IC : IC * NC2];
  _Alignas(64) float h[RB * IC];
  if (B2)
    for (int r = 0; r < nr; r++)
      for (int64_t j = 0; j < H; j++) Y[rid[r] * H + j] += rw[r] * B2[e * H + j];
  for (int64_t i0 = 0; i0 < I; i0 += IC) {
    int64_t ic = I - i0 < IC ? I - i0 : IC;
    /* h = X[rows] . W1[e][:, i0:i0+ic] */
    for (int64_t k0 = 0; k0 < H; k0 += KC) {
      int64_t kc = H - k0 < KC ? H - k0 : KC;
      pack_plain(W1 + e * p->w1_se + k0 * p->w1_sh + i0 * p->w1_si, p->w1_sh, p->w1_si, kc, ic, bp);
      for (int m0 = 0; m0 < nr; m0 += MR) {
        int mr = nr - m0 < MR ? nr - m0 : MR;
        const float *a[MR];
        for (int i = 0; i < MR; i++) a[i] = X + rid[m0 + (i < mr ? i : 0)] * H + k0;
        for (int64_t j0 = 0; j0 < ic; j0 += NR) {
          vf c[2 * MR];
          micro(mr, kc, a, 1, bp + (j0 / NR) * kc * NR, c);
          int64_t w = ic - j0 < NR ? ic - j0 : NR;
          for (int i = 0; i < mr; i++) store_row(h + (m0 + i) * IC + j0, 1, &c[2 * i], 1.0f, w, k0 > 0);
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
      pack_plain(W2 + e * p->w2_se + i0 * p->w2_si + n0 * p->w2_sh, p->w2_si, p->w2_sh, ic, nc, bp);
      for (int m0 = 0; m0 < nr; m0 += MR) {
        int mr = nr - m0 < MR ? nr - m0 : MR;
        const float *a[MR];
        for (int i = 0; i < MR; i++) a[i] = h + (m0 + (i < mr ? i : 0)) * IC;
        for (int64_t j0 = 0; j0 < nc; j0 += NR) {
          vf c[2 * MR];
          micro(mr, ic, a, 1, bp + (j0 / NR) * ic * NR, c);
          int64_t w = nc - j0 < NR ? nc - j0 : NR;
          for (int i = 0; i < mr; i++)
            store_row(Y + rid[m0 + i] * H + n0 + j0, 1, &c[2 * i], rw[m0 + i], w, 1);
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
