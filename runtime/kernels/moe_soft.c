/* moe_soft.c - the Soft MoE kernel behind mixc.soft_moe (MODELS.md section 3),
 * per batch item b:
 *
 *   L = (x / sqrt(sum_d x^2 + eps)) . phi            (m, S), S = n*p slots
 *   D = softmax(L) over m (dispatch), C = softmax(L) over S (combine)
 *   slots = D^T . x                                    (S, d), un-normalized x
 *   ys[i*p..i*p+p) = act(slots_i . W1[i] + b1[i]) . W2[i] + b2[i]
 *   y = C . ys                                         (m, d)
 *
 * L is one GEMM (x . phi, then each row scaled by 1/|x_t|), with its column
 * maxima on the way; one sweep over L then produces both softmaxes (the
 * dispatch exponentials in place, then scaled by their column sums, and the
 * combine ones, already row-normalized, beside them). slots, the n expert MLPs
 * (bias and activation in fc1's epilogue) and y are GEMMs on gemm.h's engine;
 * phi and the experts' weights are pre-packed at compile time. Each expert
 * runs once for all B items (its B*p slots gathered while fc1 reads them), so
 * its weights stream from memory once per call, not once per item: at batch 8
 * that was most of the layer's time. Every slot's sums are the same as one
 * item at a time (a GEMM row does not depend on the rows beside it).
 *
 * Requires: kernel.h's ABI, moe_soft.h's params and scratch layout; libm only;
 * no heap (the scratch buffer is the node's second output). */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "moe_soft.h"

void mixc_k_moe_soft_f32(rt_ctx *ctx, const void *params, void *const *bufs) {
  const mixc_moe_soft_params *p = params;
  const int64_t B = p->B, m = p->m, d = p->d, n = p->n, P = p->p, h = p->h, S = n * P;
  const float *X = bufs[0], *Phi = bufs[1], *W1 = bufs[2], *B1 = bufs[3], *W2 = bufs[4];
  const float *B2 = bufs[5];
  float *Y = bufs[6];
  float *s = bufs[7];
  float *disp = s;
  s += mixc_moe_w16(m * S);
  float *comb_all = s;
  s += mixc_moe_w16(B * m * S);
  float *cmax = s;
  s += mixc_moe_w16(S);
  float *slots_all = s;
  s += mixc_moe_w16(B * S * d);
  int64_t *rows = (int64_t *)s;
  s += mixc_moe_w16(2 * B * P);
  float *hid = s;
  s += mixc_moe_w16(B * P * h);
  float *ys = s;

  const int64_t s1 = p->w1_packed ? mixc_gemm_packed_floats(h, d, MIXC_GEMM_NR) : d * h;
  const int64_t s2 = p->w2_packed ? mixc_gemm_packed_floats(d, h, MIXC_GEMM_NR) : h * d;
  /* the GEMMs: per item, logits = x . phi and slots = D^T . x; per expert, over
   * the B*p slots of all items at once, hid = act(slots_e . W1_e + b1_e) and
   * ys_e = hid . W2_e + b2_e; per item, y = C . ys (ys read as its (S, d) view) */
  mixc_gemm_params gl, gs, g1, g2, gy;
  mixc_gemm_plain(&gl, m, d, S, d, 1, S, p->phi_packed);
  mixc_gemm_plain(&gs, S, m, d, 1, S, d, 0);
  mixc_gemm_plain(&g1, B * P, d, h, d, 1, h, p->w1_packed);
  mixc_gemm_plain(&g2, B * P, h, d, h, 1, d, p->w2_packed);
  mixc_gemm_plain(&gy, m, S, d, S, 1, d, 0);
  g1.act = mixc_moe_gemm_act(p->act);
  gy.b_nk = 2; /* slot e*p + i of an item is row (e*B + b)*p + i of ys */
  gy.b_kdim[0] = n, gy.b_kst[0] = B * P * d;
  gy.b_kdim[1] = P, gy.b_kst[1] = d;

  for (int64_t b = 0; b < B; b++) {
    const float *x = X + b * m * d;
    float *comb = comb_all + b * m * S, *slots = slots_all + b * S * d;
    /* 1. logits = (x / |x|) . phi, with row and column maxima */
    mixc_gemm_ops ol = {.A = x, .B = Phi, .Y = disp};
    mixc_gemm_f32_run(ctx, &gl, &ol);
    for (int64_t j = 0; j < S; j++) cmax[j] = -INFINITY;
    for (int64_t t = 0; t < m; t++) {
      const float *xt = x + t * d;
      float ss = 0.0f;
      for (int64_t i = 0; i < d; i++) ss += xt[i] * xt[i];
      float it = 1.0f / sqrtf(ss + p->eps);
      float *lt = disp + t * S;
      for (int64_t j = 0; j < S; j++) {
        lt[j] *= it;
        cmax[j] = lt[j] > cmax[j] ? lt[j] : cmax[j];
      }
    }
    /* 2. one sweep over L: both exponentials; the combine rows normalized at
     * once, the dispatch column sums accumulated, then the columns normalized */
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
    for (int64_t t = 0; t < m; t++)
      for (int64_t j = 0; j < S; j++) disp[t * S + j] *= cmax[j];
    /* 3. slots = D^T . x */
    mixc_gemm_ops os = {.A = disp, .B = x, .Y = slots};
    mixc_gemm_f32_run(ctx, &gs, &os);
  }
  /* 4. experts: expert e on its p slots of every item, gathered while its
   * GEMM reads them, so that its weights are read once for all items */
  for (int64_t e = 0; e < n; e++) {
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = 0; i < P; i++) rows[b * P + i] = b * S + e * P + i;
    mixc_gemm_ops o1 = {.A = slots_all, .a_rows = rows, .B = W1 + e * s1,
                        .bias = B1 ? B1 + e * h : NULL, .Y = hid};
    mixc_gemm_f32_run(ctx, &g1, &o1);
    mixc_gemm_ops o2 = {.A = hid, .B = W2 + e * s2, .bias = B2 ? B2 + e * d : NULL,
                        .Y = ys + e * B * P * d};
    mixc_gemm_f32_run(ctx, &g2, &o2);
  }
  /* 5. combine: y = C . ys, per item */
  for (int64_t b = 0; b < B; b++) {
    mixc_gemm_ops oy = {.A = comb_all + b * m * S, .B = ys + b * P * d, .Y = Y + b * m * d};
    mixc_gemm_f32_run(ctx, &gy, &oy);
  }
}
