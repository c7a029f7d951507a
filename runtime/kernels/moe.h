/* moe.h - parameters of the fused routed-MoE kernel (moe.c), the kernel behind
 * mixc.moe: router GEMV, fp32 softmax, top-k, importance-score dropping,
 * choice-major capacity, and the chosen experts' MLPs, in one call.
 *
 * Requires: kernel.h, gemm.h (blocks of rows are whole A panels). The params
 * struct is plain old data (copied verbatim into the generated module). The
 * scratch layout is shared with shape
 * inference (ir/infer_moe.c), which sizes the node's second output `scratch`
 * (u8[mixc_moe_scratch_bytes(...)]) so that the arena planner gives the kernel
 * its working memory: the kernel never allocates. */
#ifndef MIXC_KERNELS_MOE_H
#define MIXC_KERNELS_MOE_H

#include <math.h>

#include "data.h"
#include "gemm.h"
#include "kernel.h"

/* activation codes (attribute `activation` of mixc.moe and mixc.soft_moe) */
enum { MIXC_MOE_GELU_ERF = 0, MIXC_MOE_GELU_TANH = 1, MIXC_MOE_RELU = 2, MIXC_MOE_SILU = 3,
       MIXC_MOE_IDENTITY = 4 };

/* The GEMM epilogue's code (MIXC_ACT_*) for an expert activation. */
static inline int32_t mixc_moe_gemm_act(int32_t act) {
  static const int32_t acts[] = {MIXC_ACT_GELU_ERF, MIXC_ACT_GELU_TANH, MIXC_ACT_RELU,
                                 MIXC_ACT_SILU, MIXC_ACT_NONE};
  return acts[act];
}

/* bufs: x (rows,d), wg (d,E), bg (E)|NULL, w1 (E,d,h), b1 (E,h)|NULL, w2 (E,h,d),
 * b2 (E,d)|NULL, [residual (rows,d)|NULL,] y (rows,d), scratch. With `logits`
 * set, bufs[1] is the router logits (rows,E) instead of wg, bufs[2] is NULL
 * and group is 1. With tcols T > 0, x, the residual and y are (rows/T, d, T)
 * (see tcols). */
typedef struct mixc_moe_fused_params {
  int64_t rows, d, h, E, k;
  int64_t ndrop;      /* rows with the lowest max probability that get no expert */
  int64_t cap;        /* per-expert capacity in assignments; 0 = dropless */
  int64_t group;      /* rows per routed group: 1 routes every row; S routes each
                         image (S consecutive rows) once, on the mean of its rows */
  int64_t tcols;      /* 0: row r of x and y is [r*d, r*d + d). T > 0 (token-mixing
                         MoE, group 1): x and y are (rows/T, d, T) and row
                         r = b*T + c is x[b,:,c], its elements T apart */
  int32_t act, normalize;
  int32_t w1_packed, w2_packed; /* fc1 / fc2 pre-packed per expert (gemm.h's B panels) */
  int32_t logits;     /* 1: routing reads precomputed logits (router "logits") */
  int32_t residual;   /* 1: bufs[7] is a residual (rows,d) (or NULL), which y
                         starts from instead of zero; y and scratch follow it */
} mixc_moe_fused_params;

/* Rows of an expert's list computed at once: enough that streaming the
 * expert's weights is amortized over many rows (measured on the per-image
 * model, whose experts take 196 rows an image: 256 beats 128, which streams
 * every weight twice per image). A layer with fewer rows in all uses blocks
 * of its row count, rounded up to whole A panels. */
#define MIXC_MOE_RB 256
static inline int64_t mixc_moe_block_rows(int64_t rows) {
  int64_t r = (rows + MIXC_GEMM_MR - 1) / MIXC_GEMM_MR * MIXC_GEMM_MR;
  return r < MIXC_MOE_RB ? r : MIXC_MOE_RB;
}

/* Scratch layout, in 4-byte words, each part rounded up to 16 words. `rows`
 * here is the number of routed groups (rows / group), so every routing array
 * is per group; yrow doubles as the group mean while routing. RB is
 * mixc_moe_block_rows(rows * group).
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
 *   hid     RB*h     hidden activations of a block of rows; with tcols, the
 *                    router logits of up to min(64, RB*h/E) rows while routing
 *   yrow    RB*d     fc2's partial sums for a block of rows (when h > the GEMM's
 *                    k-run); its first d words hold the group mean while routing;
 *                    with tcols, first fc1's A (the block's rows gathered into
 *                    MR-tall panels, gemm.h; RB is a multiple of MR), then fc2's
 *                    output rows, added into y's strided rows afterwards */
static inline int64_t mixc_moe_w16(int64_t n) { return (n + 15) / 16 * 16; }
static inline int64_t mixc_moe_scratch_bytes(int64_t rows, int64_t group, int64_t d, int64_t h,
                                             int64_t E, int64_t k) {
  int64_t rk = mixc_moe_w16(rows * k), r = mixc_moe_w16(rows), rb = mixc_moe_block_rows(rows * group);
  int64_t w = mixc_moe_w16(E) + 2 * rk + 4 * r + mixc_moe_w16(E + 1) + 2 * rk +
              mixc_moe_w16(rb * h) + mixc_moe_w16(rb * d);
  return 4 * w;
}

/* Routing statistics (layout in runtime/rt.h, rt_stats): when ctx->stats is
 * set, entry ctx->call of that pointer table, if not NULL, gets E + 2
 * counters added, in rows: rows per expert, row-expert assignments over
 * capacity, rows dropped by importance. cnt[e] is the end of expert e's list
 * (step 3 of moe.c), keep[r] whether group r was routed; each list entry and
 * group is G rows. */
static inline void mixc_moe_count(rt_ctx *ctx, int64_t E, int64_t k, int64_t groups, int64_t G,
                                  const int32_t *cnt, const int32_t *keep) {
  int64_t *st = ((int64_t *const *)ctx->stats)[ctx->call];
  if (!st) return;
  int64_t kept = 0;
  for (int64_t r = 0; r < groups; r++) kept += keep[r] != 0;
  for (int64_t e = 0; e < E; e++) st[e] += (int64_t)(cnt[e] - (e ? cnt[e - 1] : 0)) * G;
  st[E] += (kept * k - (E ? cnt[E - 1] : 0)) * G;
  st[E + 1] += (groups - kept) * G;
}

#endif
