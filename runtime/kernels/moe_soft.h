/* moe_soft.h - parameters and scratch layout of the Soft MoE kernel
 * (moe_soft.c), the kernel behind mixc.soft_moe (MODELS.md section 3).
 *
 * Requires: kernel.h. The params struct is plain old data (copied verbatim
 * into the generated module). The scratch layout is shared with shape
 * inference (ir/infer_moe.c), which sizes the node's second output so that
 * the arena planner gives the kernel its working memory. */
#ifndef MIXC_KERNELS_MOE_SOFT_H
#define MIXC_KERNELS_MOE_SOFT_H

#include "kernel.h"
#include "moe.h"

/* bufs: x (B,m,d), phi (d,S) with S = n*p (already normalized over d and
 * scaled), fc1 (n,d,h), fc1 bias (n,h)|NULL, fc2 (n,h,d), fc2 bias (n,d)|NULL,
 * y (B,m,d), scratch. */
typedef struct mixc_moe_soft_params {
  int64_t B, m, d, n, p, h;
  float eps;          /* x_hat = x / sqrt(sum(x^2) + eps) */
  int32_t act;        /* MIXC_MOE_* activation code */
  int32_t phi_packed, w1_packed, w2_packed; /* pre-packed as gemm.h's B panels */
  int32_t pad_;
} mixc_moe_soft_params;

/* Scratch layout, in 4-byte words, each part rounded up to 16 words (S = n*p):
 *   disp   m*S   logits, then the dispatch weights (softmax over m)
 *   comb   m*S   the combine weights (softmax over S)
 *   cmax   S     column max of the logits, then the column sums
 *   slots  S*d   the slot inputs
 *   hid    S*h   hidden activations
 *   ys     S*d   the slot outputs */
static inline int64_t mixc_moe_soft_scratch_bytes(int64_t m, int64_t d, int64_t S, int64_t h) {
  int64_t w = 2 * mixc_moe_w16(m * S) + mixc_moe_w16(S) + 2 * mixc_moe_w16(S * d) + mixc_moe_w16(S * h);
  return 4 * w;
}

#endif
