/* gemm.h - the f32 GEMM engine shared by gemm.c (MatMul, Gemm, mixc.matmul,
 * Einsum and convolution GEMMs), the MoE kernels, and the compile-time packer
 * of constant operands (backend/lower_gemm.c).
 *
 * The engine computes a block of Y = E(A . B): an MR x NR register tile of
 * fused multiply-adds over packed NR-wide panels of B, with A read through
 * row pointers (so rows can be gathered through an index list without a copy)
 * or from MR-tall packed panels. Every output element is summed over k in the
 * same order - KC-long runs of fma from zero, added to the output one run
 * after the other - whatever the tile, thread or target, so results never
 * depend on the thread count, and the natively compiled interpreter matches
 * the JIT bit for bit (fma is exactly rounded everywhere).
 *
 * Requires: kernel.h, elem_util.h (vectors and the epilogue's math). */
#ifndef MIXC_KERNELS_GEMM_H
#define MIXC_KERNELS_GEMM_H

#include "data.h"
#include "elem_util.h"
#include "kernel.h"

/* Tile sizes: 8 x 32 uses 16 of the 32 AVX-512 registers for accumulators.
 * The vectors are 16 lanes on every target (LLVM splits them where the host is
 * narrower). KC is the k-run length, which fixes the summation order. */
enum { MIXC_GEMM_MR = 8, MIXC_GEMM_NR = 32, MIXC_GEMM_KC = 1024 };

/* Floats of a packed operand: `len` (M for A, N for B) rounded up to whole
 * panels (MR or NR), times K. */
static inline int64_t mixc_gemm_packed_floats(int64_t len, int64_t K, int64_t tile) {
  return (len + tile - 1) / tile * tile * K;
}

/* Packs B (element (k, n) at B[k*ks + n*ns]) into NR-wide panels: panel j
 * holds K rows of NR floats, columns past N zero. */
void mixc_gemm_pack_b(int64_t K, int64_t N, const float *B, int64_t ks, int64_t ns, float *out);
/* Packs A (element (m, k) at A[m*ms + k*ks]) into MR-tall panels: panel i
 * holds K columns of MR floats, rows past M zero. */
void mixc_gemm_pack_a(int64_t M, int64_t K, const float *A, int64_t ms, int64_t ks, float *out);

/* The operands of one GEMM (batch 0; the params' batch strides step them). */
typedef struct mixc_gemm_ops {
  const float *A, *B, *C, *bias, *R;
  float *Y;
  const int64_t *a_rows;   /* row m of A is A + a_rows[m]*a_sm (NULL: m): gathered rows */
  /* Scatter-add (S non-NULL): the last k-run adds s_scale[m] * E(...) to the
   * row S + s_rows[m]*s_sm instead of storing into Y; Y then only holds the
   * partial sums between runs (unused when K <= KC). */
  float *S;
  const int64_t *s_rows;
  const float *s_scale;
  int64_t s_sm;
} mixc_gemm_ops;

/* Params of a plain GEMM: Y (M x N, rows ldy apart) = A (rows a_sm apart,
 * columns a_sk apart) . B (K x N row-major, or packed when b_packed); no
 * batch, no epilogue. The kernels that run GEMMs of their own (MoE) use it. */
static inline void mixc_gemm_plain(mixc_gemm_params *g, int64_t M, int64_t K, int64_t N,
                                   int64_t a_sm, int64_t a_sk, int64_t ldy, int b_packed) {
  memset(g, 0, sizeof *g);
  g->M = M, g->N = N, g->K = K;
  g->a_sm = a_sm, g->a_sk = a_sk;
  g->b_nk = g->b_nn = 1;
  g->b_kdim[0] = K, g->b_kst[0] = N, g->b_ndim[0] = N, g->b_nst[0] = 1;
  g->y_sm = ldy, g->y_sn = 1;
  g->c_buf = g->bias_buf = g->res_buf = -1;
  g->b_packed = b_packed;
  g->alpha = g->beta = 1.0f;
}

/* Runs the GEMM of p on o, its tiles shared out over ctx's thread pool. A
 * scattering GEMM must not scatter two of its rows to the same S row. */
void mixc_gemm_f32_run(rt_ctx *ctx, const mixc_gemm_params *p, const mixc_gemm_ops *o);

#endif
