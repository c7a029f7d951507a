/* elem.h - parameter structs and op codes of the elementwise, normalization and
 * reduction kernels (elem.c, elem_reduce.c), filled by backend/lower_elem.c.
 *
 * Requires: kernel.h. Every struct is plain data (fixed-size arrays, no
 * pointers): the backend copies it byte for byte into a constant global, so the
 * lowering zeroes a struct before filling it (padding included). Dtype codes
 * are the ONNX TensorProto codes, the same numbers as ir_dtype. Shapes are
 * static; broadcast strides are precomputed at lowering time and adjacent dims
 * that iterate alike are merged, so that the innermost dim is as long as
 * possible and its strides are 0 (broadcast) or 1 (contiguous). */
#ifndef MIXC_ELEM_H
#define MIXC_ELEM_H

#include "kernel.h"

/* dtype codes (= ONNX TensorProto.DataType = ir_dtype) */
enum {
  EDT_F32 = 1, EDT_U8 = 2, EDT_I8 = 3, EDT_U16 = 4, EDT_I16 = 5, EDT_I32 = 6, EDT_I64 = 7,
  EDT_BOOL = 9, EDT_F16 = 10, EDT_F64 = 11, EDT_U32 = 12, EDT_U64 = 13, EDT_BF16 = 16
};

#define ELEM_MAX_VARIADIC 16 /* inputs of Sum/Mean/Max/Min the kernel takes */

/* ---- unary: mixc_k_unary_<dt> (f32 f64 i8..u64), mixc_k_not ---------------------- */
enum {
  EU_ABS, EU_NEG, EU_EXP, EU_LOG, EU_SQRT, EU_RECIPROCAL, EU_RELU, EU_SIGMOID, EU_TANH,
  EU_ERF, EU_FLOOR, EU_CEIL, EU_ROUND, EU_SIGN, EU_SIN, EU_COS, EU_TAN, EU_ASIN, EU_ACOS,
  EU_ATAN, EU_SINH, EU_COSH, EU_ASINH, EU_ACOSH, EU_ATANH, EU_SOFTSIGN, EU_SOFTPLUS,
  EU_HARDSWISH, EU_MISH, EU_LEAKYRELU, EU_ELU, EU_SELU, EU_CELU, EU_HARDSIGMOID,
  EU_THRESHOLDEDRELU, EU_SHRINK, EU_GELU, EU_GELU_TANH
};
typedef struct elem_unary_params {
  int32_t op;        /* EU_* */
  int32_t pad_;
  int64_t n;         /* elements */
  float alpha, beta, gamma, pad2_; /* op attributes (Shrink: alpha=lambd, beta=bias) */
} elem_unary_params;

/* params: int64_t element count; bufs {x, y}, bool */
typedef struct elem_count_params {
  int64_t n;
} elem_count_params;

/* ---- broadcasting ------------------------------------------------------------------- */
/* The output is contiguous with dims[0..rank); input k reads element
 * sum_d idx[d] * str[k][d]. rank >= 1; str[k][rank-1] is 0 or 1. */
typedef struct elem_bcast {
  int64_t rank;
  int64_t dims[RT_MAX_RANK];
  int64_t str[3][RT_MAX_RANK];
} elem_bcast;

/* ---- binary: mixc_k_binary_<dt> (f32 f64 i8..u64 bool); compare/logic write bool -- */
enum {
  EB_ADD, EB_SUB, EB_MUL, EB_DIV, EB_MOD /* sign of divisor, ints */, EB_FMOD /* C fmod / % */,
  EB_PRELU, EB_MAX, EB_MIN, EB_EQ, EB_LT, EB_GT, EB_LE, EB_GE, EB_AND, EB_OR, EB_XOR
};
typedef struct elem_binary_params {
  int32_t op;        /* EB_* */
  int32_t pad_;
  elem_bcast b;      /* operands 0 (A) and 1 (B) */
} elem_binary_params;

/* ---- mixc.elementwise: mixc_k_elementwise_f32, bufs {x0..x(nin-1), y} ----------- */
enum { EW_MAX_IN = 8, EW_MAX_STEPS = 16, EW_UNARY = 1, EW_BINARY = 2 };
typedef struct elem_ew_params {
  int64_t n;                                    /* output elements */
  int32_t nin, nsteps;
  int32_t scalar[EW_MAX_IN];                    /* input i has one element, read at stride 0 */
  int32_t kind[EW_MAX_STEPS], op[EW_MAX_STEPS]; /* EW_UNARY with EU_*, EW_BINARY with EB_* */
  int32_t a[EW_MAX_STEPS], b[EW_MAX_STEPS];     /* operands: input i < nin, or step nin + j */
} elem_ew_params;

/* ---- Pow: mixc_k_pow_<base dt> (f32 f64 i32 i64), exponent of any numeric dtype -- */
enum { EP_GENERAL, EP_ONE, EP_SQUARE, EP_CUBE }; /* constant scalar exponent 1, 2, 3 */
typedef struct elem_pow_params {
  int32_t exp_dtype; /* EDT_* of the exponent */
  int32_t special;   /* EP_* */
  elem_bcast b;
} elem_pow_params;

/* ---- variadic Sum/Mean/Max/Min: mixc_k_variadic_<dt> --------------------------------- */
enum { EV_SUM, EV_MEAN, EV_MAX, EV_MIN };
typedef struct elem_variadic_params {
  int32_t op;        /* EV_* */
  int32_t nin;       /* 1..ELEM_MAX_VARIADIC */
  int64_t rank;
  int64_t dims[RT_MAX_RANK];
  int64_t str[ELEM_MAX_VARIADIC][RT_MAX_RANK];
} elem_variadic_params;

/* ---- Where: mixc_k_where, any dtype of 1, 2, 4 or 8 bytes ----------------------------- */
typedef struct elem_where_params {
  int64_t esize;     /* bytes per element of X/Y */
  elem_bcast b;      /* operands: cond, X, Y */
} elem_where_params;

/* ---- Cast: mixc_k_cast ------------------------------------------------------------------ */
/* float -> int truncates toward zero and saturates (NaN -> 0); int -> int wraps;
 * x -> bool is x != 0; bool -> x is 0 or 1. f16 and bf16 (Cast only) go
 * through f32, rounding to nearest even as ONNX Runtime does. */
typedef struct elem_cast_params {
  int64_t n;
  int32_t from, to;  /* EDT_* */
  int32_t yi, pad_;  /* bufs index of the output (1 for Cast, 2 for CastLike) */
} elem_cast_params;

/* ---- Clip: mixc_k_clip_<dt> ------------------------------------------------------------- */
enum { EC_NONE, EC_PARAM, EC_INPUT }; /* where a bound comes from */
typedef struct elem_clip_params {
  int64_t n;
  int32_t lo_src, hi_src; /* EC_*; EC_INPUT reads element 0 of bufs[1] / bufs[2] */
  double lo, hi;          /* EC_PARAM bounds (attributes before opset 11) */
  int32_t yi, pad_;       /* bufs index of the output (the node's input count) */
} elem_clip_params;

/* ---- IsNaN / IsInf: mixc_k_isx ------------------------------------------------------------ */
typedef struct elem_isx_params {
  int64_t n;
  int32_t dtype;     /* EDT_F32 or EDT_F64 */
  int32_t isinf;     /* 0: IsNaN, 1: IsInf */
  int32_t neg, pos;  /* IsInf detect_negative / detect_positive */
} elem_isx_params;

/* ---- Softmax / LogSoftmax / Hardmax: mixc_k_softmax_<dt> (f32 f64) ---------------------- */
enum { ES_SOFTMAX, ES_LOGSOFTMAX, ES_HARDMAX };
/* input viewed as [outer, len, inner], normalized along len */
typedef struct elem_softmax_params {
  int32_t op, pad_;
  int64_t outer, len, inner;
} elem_softmax_params;

/* ---- Reduce*: mixc_k_reduce_<dt> (f32 f64 i8..u64) --------------------------------------- */
enum {
  ER_SUM, ER_MEAN, ER_MAX, ER_MIN, ER_PROD, ER_L1, ER_L2, ER_SUMSQ, ER_LOGSUM, ER_LOGSUMEXP
};
/* The input dims (merged, size-1 dims dropped) split into kept dims kd/ks and
 * reduced dims rd/rs (element strides into the input), both outer first. The
 * output is contiguous over the kept dims. single != 0: one reduced group, the
 * input is [outer, len, inner] (nk/nr still describe it). */
typedef struct elem_reduce_params {
  int32_t op, single;
  int32_t yi, pad_;  /* bufs index of the output (1, or 2 with an axes input) */
  int64_t outer, len, inner;
  int64_t count;     /* reduced elements per output */
  int32_t nk, nr;
  int64_t kd[RT_MAX_RANK], ks[RT_MAX_RANK];
  int64_t rd[RT_MAX_RANK], rs[RT_MAX_RANK];
} elem_reduce_params;

/* ---- ArgMax / ArgMin: mixc_k_argminmax_<dt>; output i64 [outer, inner] -------------------- */
typedef struct elem_arg_params {
  int32_t is_min, select_last;
  int64_t outer, len, inner;
} elem_arg_params;

/* ---- LayerNormalization: mixc_k_layernorm_<dt> (f32 f64) ----------------------------------- */
/* bufs {X, Scale, [B], Y, [Mean], [InvStdDev]}: yi, mi, ii give the bufs index of
 * Y, Mean and InvStdDev (-1: the node has no such output; a NULL buffer is
 * skipped too); B is bufs[2] when yi == 3. X is [outer, len]. Scale
 * and B index the normalized part: mode 0 contiguous [len], 1 scalar, 2 strided
 * over nd dims with strides sstr / bstr (0 where broadcast). */
typedef struct elem_layernorm_params {
  int64_t outer, len;
  float epsilon;
  int32_t stash_dtype; /* dtype of Mean/InvStdDev: EDT_F32 or EDT_F64 */
  int32_t smode, bmode;
  int32_t nd, yi, mi, ii;
  int64_t dims[RT_MAX_RANK], sstr[RT_MAX_RANK], bstr[RT_MAX_RANK];
} elem_layernorm_params;

/* ---- BatchNormalization (inference), InstanceNormalization: X is [N, C, S] ----------------- */
/* batchnorm bufs {X, scale, B, mean, var, Y, [running_mean, running_var]}: in
 * inference the optional outputs (nout > 1) are copies of mean and var;
 * instnorm bufs {X, scale, B, Y}. */
typedef struct elem_chnorm_params {
  int64_t N, C, S;
  float epsilon;
  int32_t nout;
} elem_chnorm_params;

/* ---- CumSum: mixc_k_cumsum_<dt>; bufs {x, axis, y} ----------------------------------------- */
/* axis_dtype 0: the axis was constant and outer/len/inner are set; else it is
 * read at run time from bufs[1] (EDT_I32 or EDT_I64) against dims[0..rank). */
typedef struct elem_cumsum_params {
  int64_t outer, len, inner;
  int32_t exclusive, reverse;
  int32_t axis_dtype, rank;
  int64_t dims[RT_MAX_RANK];
} elem_cumsum_params;

#endif
