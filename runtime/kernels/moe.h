/* moe.h - parameters of the fused routed-MoE kernel (moe.c), the kernel behind
 * mixc.moe: router GEMV, fp32 softmax, top-k, importance-score dropping,
 * choice-major capacity, and the chosen experts' MLPs, in one call.
 *
 * Requires: kernel.h. The params struct is plain old data (copied verbatim
 * into the generated module). The scratch layout is shared with shape
 * inference (ir/infer_moe.c), which sizes the node's second output `scratch`
 * (u8[mixc_moe_scratch_bytes(...)]) so that the arena planner gives the kernel
 * its working memory: the kernel never allocates. */
#ifndef MIXC_KERNELS_MOE_H
#define MIXC_KERNELS_MOE_H

#include <math.h>

#include "kernel.h"

/* activation codes (attribute `activation` of mixc.moe) */
enum { MIXC_MOE_GELU_ERF = 0, MIXC_MOE_GELU_TANH = 1, MIXC_MOE_RELU = 2, MIXC_MOE_SILU = 3,
       MIXC_MOE_IDENTITY = 4 };

/* bufs: x (rows,d), wg (d,E), bg (E)|NULL, w1 (E,d,h), b1 (E,h)|NULL, w2 (E,h,d),
 * b2 (E,d)|NULL, y (rows,d), scratch. */
typedef struct mixc_moe_fused_params {
  int64_t rows, d, h, E, k;
  int64_t ndrop;      /* rows with the lowest max probability that get no expert */
  int64_t cap;        /* per-expert capacity in assignments; 0 = dropless */
  int64_t group;      /* rows per routed group: 1 routes every row; S routes each
                         image (S consecutive rows) once, on the mean of its rows */
  int32_t act, normalize;
} mixc_moe_fused_params;

/* Rows of hidden activations computed at once. */
#define MIXC_MOE_RB 32

/* Scratch layout, in 4-byte words, each part rounded up to 16 words. `rows`
 * here is the number of routed groups (rows / group), so every routing array
 * is per group; yrow doubles as the group mean while routing.
 *   probs   E        one row's probabilities
 *   ch_e    rows*k   chosen experts (int32), choice c of row r at r*k+c
 *   ch_w    rows*k   their gate weights
 *   score   rows     max probability of each row
 *   order   rows     int32, merge-sort permutation of the rows by score
 *   tmp     rows     int32, merge-sort buffer
 *   keep    rows     int32, 1 = routed, 0 = dropped by importance
 *   cnt     E+1      int32, assignments per expert, then list offsets
 *   l_row   rows*k   int32, per expert list of rows (choice-major order)
 *   l_w     rows*k   their gate weights
 *   hid     RB*h     hidden activations of a block of rows
 *   yrow    d        one expert output row */
static inline int64_t mixc_moe_w16(int64_t n) { return (n + 15) / 16 * 16; }
static inline int64_t mixc_moe_scratch_bytes(int64_t rows, int64_t d, int64_t h, int64_t E,
                                             int64_t k) {
  int64_t rk = mixc_moe_w16(rows * k), r = mixc_moe_w16(rows);
  int64_t w = mixc_moe_w16(E) + 2 * rk + 4 * r + mixc_moe_w16(E + 1) + 2 * rk +
              mixc_moe_w16(MIXC_MOE_RB * h) + mixc_moe_w16(d);
  return 4 * w;
}

/* An expert's activation, shared by mixc.moe and mixc.soft_moe kernels. */
static inline float mixc_moe_act(int act, float x) {
  switch (act) {
  case MIXC_MOE_GELU_ERF: return x * (1.0f + erff(x / 1.41421354f)) * 0.5f;
  case MIXC_MOE_GELU_TANH:
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  case MIXC_MOE_RELU: return x > 0 ? x : 0;
  case MIXC_MOE_SILU: return x / (1.0f + expf(-x));
  default: return x;
  }
}

/* y[0..n) = x[0..k) . w, with w a k x n row-major matrix: the expert MLPs'
 * row-times-matrix step, in one fixed summation order (JIT and interpreter
 * agree bit for bit). */
static inline void mixc_moe_rowmul(float *y, const float *x, const float *w, int64_t k,
                                   int64_t n) {
  for (int64_t j = 0; j < n; j++) y[j] = 0.0f;
  for (int64_t i = 0; i < k; i++) {
    float xi = x[i];
    const float *wi = w + i * n;
    for (int64_t j = 0; j < n; j++) y[j] += xi * wi[j];
  }
}

#endif
