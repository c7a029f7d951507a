/* data_nn.c - the windowed and general contraction kernels that do not go
 * through the GEMM: direct convolution (any padding, dilation and group; the
 * lowering sends unpadded convolutions, patch embeddings among them, to the
 * GEMM instead), Max/AveragePool, GlobalMax/AveragePool, and the general
 * strided Einsum for equations that are not a (batched) matmul.
 *
 * Requires: kernel.h's ABI and data.h's params; only libm, memcpy/memset.
 * Spatial dims are always three: the lowering pads 1-D and 2-D ones with
 * leading dims of size 1. f32 only, except Einsum (f32, f64). */
#include <math.h>
#include <string.h>

#include "data.h"

static inline int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
static inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- Conv ----------------------------------------------------------------------------- */

void mixc_k_conv_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_conv_params *p = params;
  const float *X = bufs[0], *W = bufs[1], *B = p->has_bias ? bufs[2] : NULL;
  float *Y = bufs[p->out_buf];
  const int64_t Cg = p->C / p->group, Mg = p->M / p->group;
  const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
  const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
  const int64_t KD = p->k[0], KH = p->k[1], KW = p->k[2];
  const int64_t isz = ID * IH * IW, osz = OD * OH * OW, ksz = KD * KH * KW;
  for (int64_t n = 0; n < p->N; n++)
    for (int64_t m = 0; m < p->M; m++) {
      int64_t g = m / Mg;
      float *y = Y + (n * p->M + m) * osz;
      float b0 = B ? B[m] : 0.0f;
      for (int64_t i = 0; i < osz; i++) y[i] = b0;
      for (int64_t c = 0; c < Cg; c++) {
        const float *x = X + (n * p->C + g * Cg + c) * isz;
        const float *w = W + (m * Cg + c) * ksz;
        for (int64_t kd = 0; kd < KD; kd++)
          for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++) {
              float wv = w[(kd * KH + kh) * KW + kw];
              int64_t shift = kw * p->d[2] - p->pb[2];
              int64_t lo = max64(0, ceil_div(-shift, p->s[2]));
              int64_t hi = min64(OW, floor_div(IW - 1 - shift, p->s[2]) + 1);
              if (lo >= hi) continue;
              for (int64_t od = 0; od < OD; od++) {
                int64_t id = od * p->s[0] + kd * p->d[0] - p->pb[0];
                if (id < 0 || id >= ID) continue;
                for (int64_t oh = 0; oh < OH; oh++) {
                  int64_t ih = oh * p->s[1] + kh * p->d[1] - p->pb[1];
                  if (ih < 0 || ih >= IH) continue;
                  float *yr = y + (od * OH + oh) * OW;
                  const float *xr = x + (id * IH + ih) * IW + shift;
                  const int64_t s2 = p->s[2];
                  for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow * s2];
                }
              }
            }
      }
    }
}

/* ---- pools ------------------------------------------------------------------------------ */

void mixc_k_pool_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_pool_params *p = params;
  const float *X = bufs[0];
  float *Y = bufs[1];
  int64_t *Ix = p->has_idx ? bufs[2] : NULL;
  const int64_t ID = p->in[0], IH = p->in[1], IW = p->in[2];
  const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
  const int64_t isz = ID * IH * IW;
  for (int64_t c = 0; c < p->nc; c++) {
    const float *x = X + c * isz;
    for (int64_t od = 0; od < OD; od++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t s0 = od * p->s[0] - p->pb[0], s1 = oh * p->s[1] - p->pb[1],
                  s2 = ow * p->s[2] - p->pb[2];
          float best = -INFINITY, sum = 0;
          int64_t bi = -1, cnt = 0, cntpad = 0;
          for (int64_t kd = 0; kd < p->k[0]; kd++) {
            int64_t id = s0 + kd * p->d[0];
            if (id < -p->pb[0] || id >= ID + p->pe[0]) continue;
            for (int64_t kh = 0; kh < p->k[1]; kh++) {
              int64_t ih = s1 + kh * p->d[1];
              if (ih < -p->pb[1] || ih >= IH + p->pe[1]) continue;
              for (int64_t kw = 0; kw < p->k[2]; kw++) {
                int64_t iw = s2 + kw * p->d[2];
                if (iw < -p->pb[2] || iw >= IW + p->pe[2]) continue;
                cntpad++;
                if (id < 0 || id >= ID || ih < 0 || ih >= IH || iw < 0 || iw >= IW) continue;
                int64_t at = (id * IH + ih) * IW + iw;
                float v = x[at];
                cnt++;
                sum += v;
                if (bi < 0 || v > best) best = v, bi = at;
              }
            }
          }
          int64_t o = ((c * OD + od) * OH + oh) * OW + ow;
          if (p->kind == 0) {
            Y[o] = best;
            if (Ix) Ix[o] = bi < 0 ? -1 : c * isz + bi;
          } else {
            int64_t div = p->count_include_pad ? cntpad : cnt;
            Y[o] = div ? sum / (float)div : 0.0f;
          }
        }
  }
}

/* bufs: X, Y */
void mixc_k_gpool_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_gpool_params *p = params;
  const float *X = bufs[0];
  float *Y = bufs[1];
  for (int64_t c = 0; c < p->nc; c++) {
    const float *x = X + c * p->sp;
    if (p->kind == 0) {
      float m = p->sp ? x[0] : -INFINITY;
      for (int64_t i = 1; i < p->sp; i++) m = x[i] > m ? x[i] : m;
      Y[c] = m;
    } else {
      double s = 0;
      for (int64_t i = 0; i < p->sp; i++) s += x[i];
      Y[c] = p->sp ? (float)(s / (double)p->sp) : 0.0f;
    }
  }
}

/* ---- Einsum, general ----------------------------------------------------------------- */

#define EINSUM_IMPL(NAME, T)                                                           \
  static void NAME(const mixc_einsum_params *p, void *const *bufs) {                   \
    const T *op[3] = {bufs[0], p->nops > 1 ? bufs[1] : bufs[0], p->nops > 2 ? bufs[2] : bufs[0]}; \
    T *out = bufs[p->nops];                                                            \
    const int no = p->nout, ns = p->nsum, nops = p->nops;                              \
    int64_t total = 1, inner = 1;                                                      \
    for (int d = 0; d < no; d++) total *= p->dims[d];                                  \
    for (int d = 0; d < ns; d++) inner *= p->dims[no + d];                             \
    int64_t oi[MIXC_EIN_MAX] = {0}, off[3] = {0, 0, 0};                                \
    for (int64_t e = 0; e < total; e++) {                                              \
      double acc = 0;                                                                  \
      int64_t si[MIXC_EIN_MAX] = {0}, so[3] = {off[0], off[1], off[2]};                \
      for (int64_t s = 0; s < inner; s++) {                                            \
        double v = op[0][so[0]];                                                       \
        if (nops > 1) v *= op[1][so[1]];                                               \
        if (nops > 2) v *= op[2][so[2]];                                               \
        acc += v;                                                                      \
        for (int d = ns - 1; d >= 0; d--) {                                            \
          int dd = no + d;                                                             \
          si[d]++;                                                                     \
          for (int q = 0; q < nops; q++) so[q] += p->st[q][dd];                        \
          if (si[d] < p->dims[dd]) break;                                              \
          for (int q = 0; q < nops; q++) so[q] -= si[d] * p->st[q][dd];                \
          si[d] = 0;                                                                   \
        }                                                                              \
      }                                                                                \
      out[e] = (T)acc;                                                                 \
      for (int d = no - 1; d >= 0; d--) {                                              \
        oi[d]++;                                                                       \
        for (int q = 0; q < nops; q++) off[q] += p->st[q][d];                          \
        if (oi[d] < p->dims[d]) break;                                                 \
        for (int q = 0; q < nops; q++) off[q] -= oi[d] * p->st[q][d];                  \
        oi[d] = 0;                                                                     \
      }                                                                                \
    }                                                                                  \
  }

EINSUM_IMPL(einsum_f32, float)
EINSUM_IMPL(einsum_f64, double)

/* bufs: operands (nops), output */
void mixc_k_einsum(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_einsum_params *p = params;
  if (p->dtype == MIXC_DT_F64) einsum_f64(p, bufs);
  else einsum_f32(p, bufs);
}
