/* tensor_io.h - small helpers that tensor_io.c defines for the harness, the
 * driver and the C API: dtype names and sizes without ir/ (executables link
 * runtime/ only), shape text, and the file-name sanitizing the harness uses.
 * Internal to mixc; candidates for rt.h once it settles.
 *
 * Requires: libc only. */
#ifndef MIXC_TENSOR_IO_H
#define MIXC_TENSOR_IO_H

#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* Bytes per element of an ONNX dtype code; 0 for string, complex, float8 and
 * codes ONNX does not define (the runtime cannot hold those). */
size_t rt_dtype_size(int32_t dtype);
/* "f32", "i64", "bool", ... (the IR's names); "dtype#N" style names are not
 * returned: unknown codes give "?". */
const char *rt_dtype_name(int32_t dtype);

/* Writes "f32[2,3]" (or "[2,3]" when dtype < 0) into buf, truncating safely.
 * Returns buf. */
char *rt_shape_str(char *buf, size_t len, int32_t dtype, int32_t rank, const int64_t *dims);

/* Element count of dims, or -1 on a negative dim or when the count or
 * count * elsize overflows 2^62 bytes. */
int64_t rt_numel(int32_t rank, const int64_t *dims, size_t elsize);

/* Copies name into out (outlen > 0) with every character outside
 * [A-Za-z0-9._-] replaced by '_'; an empty name becomes "_". Truncates to
 * outlen - 1 bytes. Returns out. */
char *rt_sanitize_name(const char *name, char *out, size_t outlen);

/* Decodes a serialized TensorProto held in memory, as rt_tensor_read does a
 * .pb file (errors are prefixed "<memory>: "). */
int rt_tensor_decode_pb(const void *buf, size_t len, rt_tensor *t, char *err, size_t errlen);

#endif
