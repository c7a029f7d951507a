/* data.h - parameter structs of the linear-algebra and data-movement kernels
 * (gemm.c, data.c, data_index.c, data_nn.c), filled at compile time by
 * backend/lower_data.c and emitted by the backend as constant globals.
 *
 * Requires: kernel.h. Every struct is plain old data with fixed-size arrays and
 * no pointers, because its bytes are copied verbatim into the generated module.
 * Lowering zeroes a struct before filling it, so padding is deterministic; the
 * fields are ordered so that there is none anyway. Buffer fields (*_buf) are
 * indices into the kernel's bufs array (node inputs then outputs), -1 for none.
 * Strides and offsets are in elements unless a name says bytes. */
#ifndef MIXC_KERNELS_DATA_H
#define MIXC_KERNELS_DATA_H

#include <string.h>

#include "kernel.h"

/* dtype codes used by kernels that compute (the ONNX codes, as ir_dtype) */
enum {
  MIXC_DT_F32 = 1, MIXC_DT_U8 = 2, MIXC_DT_I8 = 3, MIXC_DT_U16 = 4, MIXC_DT_I16 = 5,
  MIXC_DT_I32 = 6, MIXC_DT_I64 = 7, MIXC_DT_BOOL = 9, MIXC_DT_F64 = 11, MIXC_DT_U32 = 12,
  MIXC_DT_U64 = 13
};

/* ---- GEMM: Y[b][m][n] = E(alpha * sum_k A[b][m][k] * B[b][k][n] (+ beta * C)) ---------
 * A is addressed with one stride per axis. B is a view whose k and n axes each
 * consist of up to MIXC_GEMM_VIEW sub-dims (last fastest): a plain matrix has
 * one of each, a convolution without padding reads its input through an
 * im2col view (k = channel x kernel taps, n = output positions) without
 * copying it. Batch dims are shared by all operands (stride 0 = broadcast).
 *
 * The epilogue E, applied once per element after the last k step:
 *   v = act(v + bias) + res
 * bias is a vector indexed by n (bias_axis 0) or by m (bias_axis 1); res has
 * the output's shape and its own strides (it may be Y itself only if it is
 * read exactly where it is written). act is a MIXC_ACT_* code.
 *
 * Pre-packed operands: a constant operand may be packed at compile time into
 * the micro-kernel's layout (backend/lower_gemm.c), flagged by a_packed /
 * b_packed; its strides are then unused. Packed B: for each NR-wide panel of
 * columns j, K rows of NR floats (zero padded), panel after panel. Packed A:
 * for each MR-tall panel of rows i, K columns of MR floats (zero padded). A
 * packed operand is not batched (its batch strides are 0). */
#define MIXC_GEMM_VIEW 4
enum { MIXC_ACT_NONE = 0, MIXC_ACT_RELU = 1, MIXC_ACT_GELU_ERF = 2, MIXC_ACT_GELU_TANH = 3,
       MIXC_ACT_SILU = 4, MIXC_ACT_SIGMOID = 5 };
typedef struct mixc_gemm_params {
  int64_t M, N, K;
  int64_t a_sm, a_sk;                   /* A strides */
  int64_t b_kdim[MIXC_GEMM_VIEW], b_kst[MIXC_GEMM_VIEW]; /* B k sub-dims */
  int64_t b_ndim[MIXC_GEMM_VIEW], b_nst[MIXC_GEMM_VIEW]; /* B n sub-dims */
  int64_t c_sm, c_sn;                   /* C (Gemm's C, a bias) strides; 0 = broadcast */
  int64_t y_sm, y_sn;                   /* output strides */
  int64_t r_sm, r_sn;                   /* residual strides */
  int64_t bdim[RT_MAX_RANK];            /* batch dims */
  int64_t a_bs[RT_MAX_RANK], b_bs[RT_MAX_RANK], c_bs[RT_MAX_RANK], y_bs[RT_MAX_RANK];
  int64_t r_bs[RT_MAX_RANK], bias_bs[RT_MAX_RANK]; /* residual and bias batch strides */
  int32_t b_nk, b_nn;                   /* sub-dim counts, 1..MIXC_GEMM_VIEW */
  int32_t nbatch;                       /* batch rank, 0..RT_MAX_RANK */
  int32_t a_buf, b_buf, c_buf, y_buf;   /* c_buf -1: no C */
  int32_t bias_buf, res_buf;            /* -1: none */
  int32_t bias_axis;                    /* 0: bias[n], 1: bias[m] */
  int32_t act;                          /* MIXC_ACT_* */
  int32_t a_packed, b_packed;           /* operand pre-packed at compile time */
  float alpha, beta;
} mixc_gemm_params;

/* ---- strided copy (Transpose, Slice, Expand, Tile): dst is dense with dims
 * `dims`; element i (multi-index j) comes from src[src_off + sum j[d]*sst[d]]. */
#define MIXC_SC_MAX (2 * RT_MAX_RANK)
typedef struct mixc_strided_params {
  int64_t src_off;
  int64_t dims[MIXC_SC_MAX];
  int64_t sst[MIXC_SC_MAX];
  int32_t rank, esize;                  /* rank >= 1 (scalars have dims {1}) */
  int32_t src_buf, dst_buf;
} mixc_strided_params;

/* ---- Slice with starts/ends/axes/steps read at run time (opset >= 10) */
typedef struct mixc_slice_dyn_params {
  int64_t dims[RT_MAX_RANK];            /* input dims */
  int64_t odims[RT_MAX_RANK];           /* the static output dims the run must produce */
  int64_t cst[4][RT_MAX_RANK];          /* constant starts/ends/axes/steps */
  int32_t rank, esize, n;               /* n: entries in starts/ends */
  int32_t in_esize[4];                  /* 0: constant (cst) or absent; 4 or 8: read bufs[1+i] */
  int32_t present[4];                   /* input 1+i given (constant or not) */
  int32_t out_buf;
} mixc_slice_dyn_params;

/* ---- Concat / Split along one axis: per outer step, part i has bytes[i] bytes */
#define MIXC_CAT_MAX 60
typedef struct mixc_concat_params {
  int64_t outer;
  int64_t total;                        /* bytes per outer step of the whole tensor */
  int64_t bytes[MIXC_CAT_MAX];
  int32_t n;                            /* parts */
  int32_t first;                        /* bufs index of part 0 (parts are consecutive) */
  int32_t whole;                        /* bufs index of the whole tensor */
  int32_t pad_;
} mixc_concat_params;

/* ---- Pad: mode 0 constant, 1 reflect, 2 edge, 3 wrap. pb may be negative
 * (cropping). The constant comes from bufs[value_buf] (>= 0) or `value`. */
typedef struct mixc_pad_params {
  int64_t idims[RT_MAX_RANK], odims[RT_MAX_RANK], pb[RT_MAX_RANK];
  unsigned char value[16];
  int32_t rank, esize, mode, value_buf, out_buf, pad_;
} mixc_pad_params;

/* ---- fills: `count` elements of `esize` bytes cycling through pat (Shape, Size,
 * ConstantOfShape) */
typedef struct mixc_fill_params {
  int64_t count;
  unsigned char pat[64];
  int32_t esize, npat;
} mixc_fill_params;

/* Range: out[i] = start + i * delta, start and delta read from bufs[0], bufs[2] */
typedef struct mixc_range_params {
  int64_t n;
  int32_t dtype, pad_;
} mixc_range_params;

/* Dropout (inference) with a mask output: copy, and set the mask to true */
typedef struct mixc_copy_mask_params {
  uint64_t bytes, mask_bytes;
  int32_t out_buf, pad_;                /* output; the mask is at out_buf + 1 */
} mixc_copy_mask_params;

/* ---- Gather: out[o][j][i] = data[o][idx[j]][i] */
typedef struct mixc_gather_params {
  int64_t outer, dim, inner_bytes, nidx;
  int32_t idx_esize, axis;
} mixc_gather_params;

/* GatherElements (and the index pass of ScatterElements): one element per index */
typedef struct mixc_gather_el_params {
  int64_t idims[RT_MAX_RANK];           /* indices (= output / updates) dims */
  int64_t dst[RT_MAX_RANK];             /* data strides */
  int64_t dim;                          /* data dim on axis */
  int64_t data_bytes;                   /* Scatter: bytes to copy data -> out */
  int32_t rank, axis, esize, idx_esize;
  int32_t dtype, red;                   /* Scatter: dtype, reduction (0 none 1 add 2 mul 3 max 4 min) */
} mixc_gather_el_params;

/* GatherND / ScatterND: indices (batch..., nidx..., m) into data (batch..., dims[m]..., slice) */
typedef struct mixc_gather_nd_params {
  int64_t nbatch, nidx, m, slice;       /* slice: elements per gathered piece */
  int64_t dims[RT_MAX_RANK];            /* the m indexed data dims */
  int64_t dstr[RT_MAX_RANK];            /* their strides (elements) */
  int64_t data_bstride;                 /* data elements per batch */
  int64_t data_bytes;                   /* Scatter: bytes to copy data -> out */
  int32_t esize, idx_esize, dtype, red;
  int32_t axis0, pad_;                  /* data axis of dims[0] (batch_dims), for messages */
} mixc_gather_nd_params;

/* ---- TopK along an axis: outer x dim x inner; sorted output, ties to the lower index */
typedef struct mixc_topk_params {
  int64_t outer, dim, inner, k;
  int32_t dtype, largest, out_buf, pad_; /* out_buf: values; indices at out_buf + 1 */
} mixc_topk_params;

/* ---- OneHot: out[o][d][i] = idx[o][i] (wrapped) == d ? on : off */
typedef struct mixc_onehot_params {
  int64_t outer, depth, inner;
  int32_t idx_dtype, esize;
} mixc_onehot_params;

/* ---- Conv (direct loop, any padding/dilation/group), f32, NC + up to 3 spatial.
 * bufs: X, W, [B], Y (out_buf) */
typedef struct mixc_conv_params {
  int64_t N, C, M, group;
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3]; /* unused leading spatial dims are 1 */
  int32_t has_bias, out_buf;
} mixc_conv_params;

/* ---- pools, f32: kind 0 max, 1 average; bufs: X, Y, [Indices] */
typedef struct mixc_pool_params {
  int64_t nc;                           /* N * C */
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3]; /* unused leading dims are 1 */
  int32_t kind, count_include_pad, has_idx, pad_;
} mixc_pool_params;

typedef struct mixc_gpool_params {
  int64_t nc, sp;
  int32_t kind, pad_;
} mixc_gpool_params;

/* ---- Einsum, general: loops over the output dims then the summed dims; each
 * operand has a stride per loop dim (0 if it lacks the label; the sum of
 * strides for a label repeated in one term, which takes diagonals). */
#define MIXC_EIN_MAX 24
typedef struct mixc_einsum_params {
  int64_t dims[MIXC_EIN_MAX];           /* output dims, then summed dims */
  int64_t st[3][MIXC_EIN_MAX];
  int32_t nops, nout, nsum, dtype;
} mixc_einsum_params;

/* ---- com.microsoft.MoE, f32: fc1 element (e, h, i) at e*w1_se + h*w1_sh + i*w1_si,
 * fc2 element (e, i, h) at e*w2_se + i*w2_si + h*w2_sh. act: 0 relu, 1 gelu (tanh),
 * 2 silu, 3 identity. */
typedef struct mixc_moe_params {
  int64_t rows, H, I, E, k;
  int64_t w1_se, w1_sh, w1_si, w2_se, w2_si, w2_sh;
  int32_t act, normalize, has_b1, has_b2;
  int32_t out_buf, pad_;
} mixc_moe_params;

/* Element i of an int32 (es == 4) or int64 (es == 8) index tensor. */
static inline int64_t data_read_int(const void *b, int64_t i, int es) {
  if (es == 4) {
    int32_t v;
    memcpy(&v, (const char *)b + i * 4, 4);
    return v;
  }
  int64_t v;
  memcpy(&v, (const char *)b + i * 8, 8);
  return v;
}

#endif
