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
static inline f32x16 v16_splat(float x) {
  f32x16 v;
  for (int i = 0; i < 16; i++) v[i] = x;
  return v;
}
/* m ? a : b, lane by lane (m from a vector comparison: all ones or zero) */
static inline f32x16 v16_sel(i32x16 m, f32x16 a, f32x16 b) {
  return (f32x16)(((i32x16)a & m) | ((i32x16)b & ~m));
}
static inline float v16_hsum(f32x16 v) {
  float s = 0;
  for (int i = 0; i < 16; i++) s += v[i];
  return s;
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
