/* elem_util.h - helpers shared by elem.c and elem_reduce.c, internal to the
 * kernels: the 16-lane float vector type and its unaligned loads, stores,
 * splats, selects and horizontal reductions; NaN-propagating max/min; and
 * saturating float -> integer conversions without undefined behaviour.
 *
 * Requires: GCC or Clang vector extensions; memcpy only (no libc state). */
#ifndef MIXC_ELEM_UTIL_H
#define MIXC_ELEM_UTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 64-byte vectors as values of static inline functions: the ABI note GCC
 * gives without AVX-512 does not apply, nothing here is ever external. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));

/* Loads and stores through memcpy: any alignment, no aliasing questions. */
static inline f32x16 v16_ld(const float *p) {
  f32x16 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void v16_st(float *p, f32x16 v) { memcpy(p, &v, sizeof v); }
/* Straight-line, not a lane loop: the kernel bitcode is built without loop
 * unrolling, and a 16-trip loop of lane inserts would stay in the hot loops. */
static inline f32x16 v16_splat(float x) {
  return (f32x16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}
/* m ? a : b, lane by lane (m from a vector comparison: all ones or zero) */
static inline f32x16 v16_sel(i32x16 m, f32x16 a, f32x16 b) {
  return (f32x16)(((i32x16)a & m) | ((i32x16)b & ~m));
}
static inline float v16_hsum(f32x16 v) {
  float a = ((v[0] + v[8]) + (v[4] + v[12])) + ((v[2] + v[10]) + (v[6] + v[14]));
  float b = ((v[1] + v[9]) + (v[5] + v[13])) + ((v[3] + v[11]) + (v[7] + v[15]));
  return a + b;
}
/* max/min that propagate NaN (as numpy and the ONNX reference do) */
static inline f32x16 v16_max_nan(f32x16 a, f32x16 b) { return v16_sel((b > a) | (b != b), b, a); }
static inline f32x16 v16_min_nan(f32x16 a, f32x16 b) { return v16_sel((b < a) | (b != b), b, a); }
/* NaN tests that stay quiet for integer types: NANP_F for floats, NANP_I for ints */
#define NANP_F(v) ((v) != (v))
#define NANP_I(v) 0
/* negativity that stays quiet for unsigned types */
#define IS_NEG(x) ((x) < 0)
#define NEVER_NEG(x) 0
#define MAX_NAN(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))
#define MIN_NAN(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))

/* ---- 16-lane math: within 1 ulp (exp), 1.3 ulp (tanh), 3.5 ulp (erf), 7 ulp
 * (erfc) of the correctly rounded result, measured against double libm over
 * dense sweeps; NaN in, NaN out; infinities give the limits. ---- */
/* 2^k for integer lanes k in [-126, 127] */
static inline f32x16 v16_pow2i(i32x16 k) { return (f32x16)((k + 127) << 23); }
/* e^x, Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial; 2^n applied in
 * two halves so that results in the subnormal range come out right. */
static inline f32x16 v16_exp(f32x16 x) {
  const f32x16 hi = v16_splat(88.72283935546875f), lo = v16_splat(-103.97207641601562f);
  i32x16 over = x > hi, under = x < lo;
  f32x16 xc = v16_sel(over | under, v16_splat(0.0f), x);
  f32x16 t = xc * v16_splat(1.44269504088896341f) + v16_splat(12582912.0f); /* round to nearest */
  i32x16 n = (i32x16)t - 0x4B400000;
  f32x16 nf = t - v16_splat(12582912.0f);
  f32x16 r = xc - nf * v16_splat(0.693359375f) - nf * v16_splat(-2.12194440e-4f);
  f32x16 p = v16_splat(1.9875691500E-4f);
  p = p * r + v16_splat(1.3981999507E-3f);
  p = p * r + v16_splat(8.3334519073E-3f);
  p = p * r + v16_splat(4.1665795894E-2f);
  p = p * r + v16_splat(1.6666665459E-1f);
  p = p * r + v16_splat(5.0000001201E-1f);
  p = p * (r * r) + r + v16_splat(1.0f);
  i32x16 n1 = n >> 1;
  f32x16 y = p * v16_pow2i(n1) * v16_pow2i(n - n1);
  y = v16_sel(over, v16_splat(INFINITY), y);
  return v16_sel(under, v16_splat(0.0f), y);
}
/* tanh, Cephes tanhf: odd polynomial below 0.625, else 1 - 2 / (e^2|x| + 1) */
static inline f32x16 v16_tanh(f32x16 x) {
  f32x16 ax = (f32x16)((i32x16)x & 0x7fffffff);
  i32x16 sign = (i32x16)x & (int32_t)0x80000000;
  f32x16 z = x * x;
  f32x16 p = v16_splat(-5.70498872745E-3f);
  p = p * z + v16_splat(2.06390887954E-2f);
  p = p * z + v16_splat(-5.37397155531E-2f);
  p = p * z + v16_splat(1.33314422036E-1f);
  p = p * z + v16_splat(-3.33332819422E-1f);
  f32x16 small = p * z * x + x;
  f32x16 big = v16_splat(1.0f) - v16_splat(2.0f) / (v16_exp(ax + ax) + v16_splat(1.0f));
  big = (f32x16)((i32x16)big | sign);
  return v16_sel(ax < v16_splat(0.625f), small, big);
}
/* erfc(z) for z >= 0 (Numerical Recipes' erfcc, a Chebyshev fit with relative
 * error < 1.2e-7); in float within 7 ulp down to the smallest normal result */
static inline f32x16 v16_erfc_pos(f32x16 z) {
  z = v16_sel(z > v16_splat(10.5f), v16_splat(10.5f), z); /* erfc(inf) = 0, not inf - inf */
  f32x16 t = v16_splat(1.0f) / (v16_splat(1.0f) + v16_splat(0.5f) * z);
  f32x16 p = v16_splat(0.17087277f);
  p = p * t + v16_splat(-0.82215223f);
  p = p * t + v16_splat(1.48851587f);
  p = p * t + v16_splat(-1.13520398f);
  p = p * t + v16_splat(0.27886807f);
  p = p * t + v16_splat(-0.18628806f);
  p = p * t + v16_splat(0.09678418f);
  p = p * t + v16_splat(0.37409196f);
  p = p * t + v16_splat(1.00002368f);
  p = p * t + v16_splat(-1.26551223f);
  /* e^(p - z^2) as e^p e^-zh^2 e^-(z - zh)(z + zh): zh keeps 12 bits, so zh^2 is
   * exact and no exponent argument carries the rounding of a large z^2 */
  f32x16 zh = (f32x16)((i32x16)z & (int32_t)0xfffff000);
  return t * v16_exp(p) * v16_exp(-(zh * zh)) * v16_exp((zh - z) * (z + zh));
}
/* erf: Taylor series below 0.5 (no cancellation near 0), else 1 - erfc */
static inline f32x16 v16_erf(f32x16 x) {
  f32x16 ax = (f32x16)((i32x16)x & 0x7fffffff);
  i32x16 sign = (i32x16)x & (int32_t)0x80000000;
  f32x16 z = x * x;
  /* erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)) */
  f32x16 p = v16_splat(-1.0f / (40320.0f * 17.0f));
  p = p * z + v16_splat(1.0f / (5040.0f * 15.0f));
  p = p * z + v16_splat(-1.0f / (720.0f * 13.0f));
  p = p * z + v16_splat(1.0f / (120.0f * 11.0f));
  p = p * z + v16_splat(-1.0f / (24.0f * 9.0f));
  p = p * z + v16_splat(1.0f / (6.0f * 7.0f));
  p = p * z + v16_splat(-1.0f / (2.0f * 5.0f));
  p = p * z + v16_splat(1.0f / 3.0f);
  p = p * z * x - x; /* -(x - x^3/3 + ...) */
  f32x16 small = -(p * v16_splat(1.12837916709551257f));
  f32x16 big = v16_splat(1.0f) - v16_erfc_pos(ax);
  big = (f32x16)((i32x16)big | sign);
  return v16_sel(ax < v16_splat(0.5f), small, big);
}

/* a * b + c with one rounding, lane by lane (clang: one vector fma; gcc,
 * which compiles the interpreter's copy: fmaf per lane, the same bits) */
static inline f32x16 v16_fma(f32x16 a, f32x16 b, f32x16 c) {
#if defined(__clang__)
  return __builtin_elementwise_fma(a, b, c);
#else
  f32x16 r;
  for (int i = 0; i < 16; i++) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
  return r;
#endif
}

/* ---- activations, shared by the elementwise kernels and the GEMM epilogue, so
 * that a fused activation gives the same bits as the separate op (except the
 * exact GELU, which the epilogue computes faster, see v16_gelu_erf_fast). ---- */
#define V16_ABS(t) ((f32x16)((i32x16)(t) & 0x7fffffff))
static inline f32x16 v16_relu(f32x16 v) { return v16_sel(v < v16_splat(0.0f), v16_splat(0.0f), v); }
static inline f32x16 v16_sigmoid(f32x16 v) {
  return v16_splat(1.0f) / (v16_splat(1.0f) + v16_exp(-v));
}
/* 0.5 x (1 + erf(x/sqrt2)) = 0.5 x erfc(-x/sqrt2): through erfc of |x|, so that
 * the negative tail keeps its relative precision */
static inline f32x16 v16_gelu_erf(f32x16 v) {
  f32x16 e = v16_erfc_pos(V16_ABS(v) * v16_splat(0.70710678118654752440f)), half = v16_splat(0.5f);
  return v16_sel(v < v16_splat(0.0f), half * v * e, half * v * (v16_splat(2) - e));
}
/* The GEMM epilogue's GELU: 0.5 x (1 + erf(x/sqrt2)) with erf as Eigen's
 * rational approximation on [-4, 4] (odd degree 13 over even degree 8; erf is
 * +-1 to float precision beyond). About 15 vector ops instead of the ~100 of
 * v16_gelu_erf: the absolute error stays within 1e-6 (9.3e-7 in a dense sweep
 * against double erf over [-12, 12], tests/unit/test_kernels_elem.c), but the
 * negative tail loses its relative precision, so the standalone Gelu op keeps
 * v16_gelu_erf. */
static inline f32x16 v16_gelu_erf_fast(f32x16 v) {
  f32x16 x = v * v16_splat(0.70710678118654752440f), four = v16_splat(4.0f);
  x = v16_sel(x > four, four, v16_sel(x < -four, -four, x));
  f32x16 x2 = x * x;
  /* Horner steps as explicit fma: half the instructions, and exactly
   * rounded on every target, so the JIT and the interpreter still agree */
  f32x16 p = v16_splat(-2.72614225801306e-10f);
  p = v16_fma(p, x2, v16_splat(2.77068142495902e-08f));
  p = v16_fma(p, x2, v16_splat(-2.10102402082508e-06f));
  p = v16_fma(p, x2, v16_splat(-5.69250639462346e-05f));
  p = v16_fma(p, x2, v16_splat(-7.34990630326855e-04f));
  p = v16_fma(p, x2, v16_splat(-2.95459980854025e-03f));
  p = v16_fma(p, x2, v16_splat(-1.60960333262415e-02f));
  f32x16 q = v16_splat(-1.45660718464996e-05f);
  q = v16_fma(q, x2, v16_splat(-2.13374055278905e-04f));
  q = v16_fma(q, x2, v16_splat(-1.68282697438203e-03f));
  q = v16_fma(q, x2, v16_splat(-7.37332916720468e-03f));
  q = v16_fma(q, x2, v16_splat(-1.42647390514189e-02f));
  f32x16 hv = v16_splat(0.5f) * v;
  return v16_fma(hv, x * p / q, hv);
}
/* 0.5 x (1 + tanh u) = x / (1 + e^-2u): no cancellation for x < 0 */
static inline f32x16 v16_gelu_tanh(f32x16 v) {
  return v / (v16_splat(1.0f) + v16_exp(v16_splat(-2 * 0.79788456080286535588f) *
                                        (v + v16_splat(0.044715f) * v * v * v)));
}
static inline f32x16 v16_silu(f32x16 v) { return v * v16_sigmoid(v); }

/* Saturating float -> integer: truncates toward zero, NaN -> 0, values past the
 * range -> its ends. A float converts to double exactly, and every bound
 * below is an exact double, so no conversion is ever out of range. */
static inline int8_t sat_i8(double x) {
  return x != x ? 0 : x >= 127.0 ? INT8_MAX : x <= -128.0 ? INT8_MIN : (int8_t)x;
}
static inline int16_t sat_i16(double x) {
  return x != x ? 0 : x >= 32767.0 ? INT16_MAX : x <= -32768.0 ? INT16_MIN : (int16_t)x;
}
static inline int32_t sat_i32(double x) {
  return x != x ? 0 : x >= 2147483647.0 ? INT32_MAX : x <= -2147483648.0 ? INT32_MIN : (int32_t)x;
}
static inline int64_t sat_i64(double x) {
  return x != x ? 0 : x >= 9223372036854775808.0 ? INT64_MAX
                    : x <= -9223372036854775808.0 ? INT64_MIN : (int64_t)x;
}
static inline uint8_t sat_u8(double x) {
  return x != x ? 0 : x >= 255.0 ? UINT8_MAX : x <= 0.0 ? 0 : (uint8_t)x;
}
static inline uint16_t sat_u16(double x) {
  return x != x ? 0 : x >= 65535.0 ? UINT16_MAX : x <= 0.0 ? 0 : (uint16_t)x;
}
static inline uint32_t sat_u32(double x) {
  return x != x ? 0 : x >= 4294967295.0 ? UINT32_MAX : x <= 0.0 ? 0 : (uint32_t)x;
}
static inline uint64_t sat_u64(double x) {
  return x != x ? 0 : x >= 18446744073709551616.0 ? UINT64_MAX : x <= 0.0 ? 0 : (uint64_t)x;
}
/* identity "saturation" for float targets, so that macros can name sat_##SFX */
static inline float sat_f32(double x) { return (float)x; }
static inline double sat_f64(double x) { return x; }

/* IEEE half and bfloat16 <-> float, round to nearest even; NaN stays NaN (quiet). */
static inline float f16_to_f32(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
  if (e == 0x1f) u = s | 0x7f800000u | (m << 13);
  else if (e) u = s | ((e + 112) << 23) | (m << 13);
  else {
    float f = (float)m * 0x1p-24f; /* zero and subnormals, exact */
    return s ? -f : f;
  }
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline uint16_t f32_to_f16(float f) {
  uint32_t u, a, s;
  memcpy(&u, &f, sizeof u);
  s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(s | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00u); /* >= 65520 rounds to inf */
  if (a >= 0x38800000u) {                                /* normal half */
    uint32_t r = a - 0x38000000u;
    return (uint16_t)(s | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
  }
  float af;
  memcpy(&af, &a, sizeof af);
  return (uint16_t)(s | (uint32_t)rintf(af * 0x1p24f)); /* subnormal; 1024 is the least normal */
}
static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
static inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
