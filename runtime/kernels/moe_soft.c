/* moe_soft.c - the Soft MoE kernel behind mixc.soft_moe (MODELS.md section 3),
 * per batch item b:
 *
 *   L = (x / sqrt(sum_d x^2 + eps)) . phi            (m, S), S = n*p slots
 *   D = softmax(L) over m (dispatch), C = softmax(L) over S (combine)
 *   slots = D^T . x                                    (S, d), un-normalized x
 *   ys[i*p..i*p+p) = act(slots_i . W1[i] + b1[i]) . W2[i] + b2[i]
 *   y = C . ys                                         (m, d)
 *
 * L is computed once, with its row and column maxima on the way; one sweep
 * over L then produces both softmaxes (the dispatch exponentials in place, the
 * combine ones, already row-normalized, beside them). The n expert MLPs are
 * equal-sized GEMMs looped per expert, contiguous dim innermost, so that LLVM
 * specializes and vectorizes them once the shapes are constants.
 *
 * Requires: kernel.h's ABI, moe_soft.h's params and scratch layout; libm only;
 * no heap (the scratch buffer is the node's second output). */
#include <math.h>
#include <string.h>

#include "moe_soft.h"

void mixc_k_moe_soft_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  (void)ctx;
  const mixc_moe_soft_params *p = params;
  const int64_t m = p->m, d = p->d, n = p->n, P = p->p, h = p->h, S = n * P;
  const float *X = bufs[0], *Phi = bufs[1], *W1 = bufs[2], *B1 = bufs[3], *W2 = bufs[4];
  const float *B2 = bufs[5];
  float *Y = bufs[6];
  float *s = bufs[7];
  float *disp = s;
  s += mixc_moe_w16(m * S);
  float *comb = s;
  s += mixc_moe_w16(m * S);
  float *cmax = s;
  s += mixc_moe_w16(S);
  float *inv = s;
  s += mixc_moe_w16(m);
  float *slots = s;
  s += mixc_moe_w16(S * d);
  float *hid = s;
  s += mixc_moe_w16(S * h);
  float *ys = s;

  for (int64_t b = 0; b < p->B; b++) {
    const float *x = X + b * m * d;
    float *y = Y + b * m * d;
    /* 1. logits with row and column maxima */
    for (int64_t j = 0; j < S; j++) cmax[j] = -INFINITY;
    for (int64_t t = 0; t < m; t++) {
      const float *xt = x + t * d;
      float ss = 0.0f;
      for (int64_t i = 0; i < d; i++) ss += xt[i] * xt[i];
      inv[t] = 1.0f / sqrtf(ss + p->eps);
      float *lt = disp + t * S;
      for (int64_t j = 0; j < S; j++) lt[j] = 0.0f;
      for (int64_t i = 0; i < d; i++) {
        float xi = xt[i] * inv[t];
        const float *w = Phi + i * S;
        for (int64_t j = 0; j < S; j++) lt[j] += xi * w[j];
      }
      for (int64_t j = 0; j < S; j++) cmax[j] = lt[j] > cmax[j] ? lt[j] : cmax[j];
    }
    /* 2. one sweep over L: both exponentials; the combine rows normalized at
     * once, the dispatch column sums accumulated (cmax becomes them after) */
    for (int64_t j = 0; j < S; j++) slots[j] = 0.0f; /* column sums, borrowed */
    for (int64_t t = 0; t < m; t++) {
      float *lt = disp + t * S, *ct = comb + t * S;
      float rmax = lt[0];
      for (int64_t j = 1; j < S; j++) rmax = lt[j] > rmax ? lt[j] : rmax;
      float rsum = 0.0f;
      for (int64_t j = 0; j < S; j++) {
        float l = lt[j];
        float ec = expf(l - rmax), ed = expf(l - cmax[j]);
        ct[j] = ec;
        rsum += ec;
        lt[j] = ed;
        slots[j] += ed;
      }
      float r = 1.0f / rsum;
      for (int64_t j = 0; j < S; j++) ct[j] *= r;
    }
    for (int64_t j = 0; j < S; j++) cmax[j] = 1.0f / slots[j];
    /* 3. slots = D^T . x, scaled by the column sums */
    memset(slots, 0, sizeof(float) * (size_t)(S * d));
    for (int64_t t = 0; t < m; t++) {
      const float *xt = x + t * d, *dt = disp + t * S;
      for (int64_t j = 0; j < S; j++) {
        float w = dt[j] * cmax[j];
        float *sl = slots + j * d;
        for (int64_t i = 0; i < d; i++) sl[i] += w * xt[i];
      }
    }
    /* 4. experts: expert e on its p slots */
    for (int64_t e = 0; e < n; e++) {
      const float *w1 = W1 + e * d * h, *w2 = W2 + e * h * d;
      const float *b1 = B1 ? B1 + e * h : NULL, *b2 = B2 ? B2 + e * d : NULL;
      for (int64_t q = e * P; q < (e + 1) * P; q++) {
        const float *sq = slots + q * d;
        float *hq = hid + q * h;
        mixc_moe_rowmul(hq, sq, w1, d, h);
        for (int64_t j = 0; j < h; j++) hq[j] = mixc_moe_act(p->act, hq[j] + (b1 ? b1[j] : 0.0f));
        float *yq = ys + q * d;
        mixc_moe_rowmul(yq, hq, w2, h, d);
        if (b2)
          for (int64_t j = 0; j < d; j++) yq[j] += b2[j];
      }
    }
    /* 5. combine */
    for (int64_t t = 0; t < m; t++) {
      const float *ct = comb + t * S;
      mixc_moe_rowmul(y + t * d, ct, ys, S, d);
    }
  }
}
