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
 *   disp   m*S     one item's logits, then its dispatch weights (softmax over m)
 *   comb   B*m*S   every item's combine weights (softmax over S)
 *   cmax   S       column max of the logits, then the column sums
 *   slots  B*S*d   every item's slot inputs, (B, S, d)
 *   rows   2*B*p   int64 row numbers in slots of one expert's B*p slots
 *   hid    B*p*h   one expert's hidden activations, all items
 *   ys     B*S*d   the slot outputs, expert-major: (n, B, p, d) */
static inline int64_t mixc_moe_soft_scratch_bytes(int64_t B, int64_t m, int64_t d, int64_t n,
                                                  int64_t p, int64_t h) {
  int64_t S = n * p;
  int64_t w = mixc_moe_w16(m * S) + mixc_moe_w16(B * m * S) + mixc_moe_w16(S) +
              2 * mixc_moe_w16(B * S * d) + mixc_moe_w16(2 * B * p) + mixc_moe_w16(B * p * h);
  return 4 * w;
}

#endif
