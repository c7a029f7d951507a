/* tensor_io.c - tensor files: NumPy .npy (read: format versions 1, 2 and 3,
 * little-endian numeric dtypes, C order; write: version 1, or 2 when the
 * header needs it) and ONNX TensorProto .pb, decoded by the small protobuf
 * wire-format reader below so that executables need no protobuf library.
 *
 * Requires: libc only. Bad files never crash: every length is checked against
 * what is left of the buffer or the file before it is used, element counts are
 * overflow-checked, and every failure is -1 with a one-line reason (prefixed
 * with the path) in err. Tensor data is allocated 64-byte aligned (and padded
 * to a multiple of 64 bytes) so that it can be handed to kernels directly. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_io.h"

/* ---- dtypes --------------------------------------------------------------- */
static const struct {
  const char *name;
  unsigned size;
  const char *npy;   /* .npy descr without the byte-order mark; NULL: none */
} dtypes[] = {
    [0] = {"?", 0, NULL},        [1] = {"f32", 4, "f4"},   [2] = {"u8", 1, "u1"},
    [3] = {"i8", 1, "i1"},       [4] = {"u16", 2, "u2"},   [5] = {"i16", 2, "i2"},
    [6] = {"i32", 4, "i4"},      [7] = {"i64", 8, "i8"},   [8] = {"string", 0, NULL},
    [9] = {"bool", 1, "b1"},     [10] = {"f16", 2, "f2"},  [11] = {"f64", 8, "f8"},
    [12] = {"u32", 4, "u4"},     [13] = {"u64", 8, "u8"},  [14] = {"c64", 0, NULL},
    [15] = {"c128", 0, NULL},    [16] = {"bf16", 2, NULL},
};
#define NDTYPES ((int32_t)(sizeof dtypes / sizeof *dtypes))

size_t rt_dtype_size(int32_t dtype) {
  return dtype >= 0 && dtype < NDTYPES ? dtypes[dtype].size : 0;
}

const char *rt_dtype_name(int32_t dtype) {
  return dtype >= 0 && dtype < NDTYPES ? dtypes[dtype].name : "?";
}

char *rt_shape_str(char *buf, size_t len, int32_t dtype, int32_t rank, const int64_t *dims) {
  if (!len) return buf;
  size_t n = 0;
  buf[0] = 0;
#define PUT(...)                                                   \
  do {                                                             \
    if (n < len) {                                                 \
      int k = snprintf(buf + n, len - n, __VA_ARGS__);             \
      n = k < 0 ? len : n + (size_t)k;                             \
    }                                                              \
  } while (0)
  if (dtype >= 0) PUT("%s", rt_dtype_name(dtype));
  PUT("[");
  for (int32_t i = 0; i < rank; i++) PUT("%s%lld", i ? "," : "", (long long)dims[i]);
  PUT("]");
#undef PUT
  return buf;
}

#define MAX_BYTES (INT64_C(1) << 62)

int64_t rt_numel(int32_t rank, const int64_t *dims, size_t elsize) {
  if (rank < 0) return -1;
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) {
    if (dims[i] < 0) return -1;
    if (dims[i] && n > MAX_BYTES / dims[i]) return -1;
    n *= dims[i];
  }
  if (elsize && n > MAX_BYTES / (int64_t)elsize) return -1;
  return n;
}

char *rt_sanitize_name(const char *name, char *out, size_t outlen) {
  if (!outlen) return out;
  size_t n = 0;
  for (const char *p = name ? name : ""; *p && n + 1 < outlen; p++) {
    char c = *p;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    out[n++] = ok ? c : '_';
  }
  if (!n && outlen > 1) out[n++] = '_';
  out[n] = 0;
  return out;
}

/* ---- helpers -------------------------------------------------------------- */
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
  if (err && errlen) {
    int k = snprintf(err, errlen, "%s: ", path);
    if (k >= 0 && (size_t)k < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

/* 64-byte aligned, padded and zeroed past nbytes; NULL when out of memory. */
static void *alloc_data(uint64_t nbytes) {
  if (nbytes > (uint64_t)MAX_BYTES) return NULL;
  size_t cap = ((size_t)nbytes + 63) & ~(size_t)63;
  if (!cap) cap = 64;
  char *p = aligned_alloc(64, cap);
  if (p) memset(p + nbytes, 0, cap - (size_t)nbytes);
  return p;
}

void rt_tensor_free(rt_tensor *t) {
  if (!t) return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

/* Bytes left in f from the current position, or -1 when f cannot seek. */
static long long bytes_left(FILE *f) {
  long here = ftell(f);
  if (here < 0 || fseek(f, 0, SEEK_END)) return -1;
  long end = ftell(f);
  if (end < 0 || fseek(f, here, SEEK_SET)) return -1;
  return (long long)end - here;
}

/* ---- .npy ------------------------------------------------------------------ */
#define NPY_MAX_HEADER (1u << 20)

typedef struct hparse {
  const char *p, *end;
} hparse;

static void hp_ws(hparse *h) {
  while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static bool hp_lit(hparse *h, const char *s) {
  size_t n = strlen(s);
  if ((size_t)(h->end - h->p) < n || memcmp(h->p, s, n)) return false;
  h->p += n;
  return true;
}

/* A quoted string without escapes. */
static bool hp_str(hparse *h, const char **s, size_t *n) {
  if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return false;
  char q = *h->p++;
  const char *b = h->p;
  while (h->p < h->end && *h->p != q) {
    if (*h->p == '\\') return false;
    h->p++;
  }
  if (h->p >= h->end) return false;
  *s = b;
  *n = (size_t)(h->p - b);
  h->p++;
  return true;
}

/* "(2, 3)", "(5,)", "()"; a Python 2 'L' suffix is accepted. */
static bool hp_shape(hparse *h, int32_t *rank, int64_t *dims, const char **why) {
  *rank = 0;
  if (!hp_lit(h, "(")) return *why = "shape is not a tuple", false;
  for (;;) {
    hp_ws(h);
    if (hp_lit(h, ")")) return true;
    if (h->p >= h->end || *h->p < '0' || *h->p > '9')
      return *why = "shape holds something other than non-negative integers", false;
    int64_t v = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
      int d = *h->p++ - '0';
      if (v > (INT64_MAX - d) / 10) return *why = "shape dim overflows int64", false;
      v = v * 10 + d;
    }
    if (h->p < h->end && *h->p == 'L') h->p++;
    if (*rank >= RT_DESC_MAX_RANK) return *why = "rank is larger than 8", false;
    dims[(*rank)++] = v;
    hp_ws(h);
    if (hp_lit(h, ",")) continue;
    if (hp_lit(h, ")")) return true;
    return *why = "malformed shape tuple", false;
  }
}

/* Maps a descr ("<f4") to a dtype code; 0 with *why set if unsupported. */
static int32_t npy_dtype(const char *s, size_t n, const char **why) {
  if (n < 3) return *why = "malformed descr", 0;
  char order = s[0];
  for (int32_t i = 1; i < NDTYPES; i++) {
    const char *d = dtypes[i].npy;
    if (!d || n - 1 != strlen(d) || memcmp(s + 1, d, n - 1)) continue;
    bool onebyte = dtypes[i].size == 1;
    if (order == '<' || order == '=' || (order == '|' && onebyte) || (order == '>' && onebyte))
      return i;
    if (order == '>') return *why = "big-endian data is not supported", 0;
    if (order == '|') return *why = "descr '|' is only valid for one-byte types", 0;
    return *why = "malformed descr byte order", 0;
  }
  return *why = "unsupported dtype", 0;
}

static int read_npy(FILE *f, const char *path, rt_tensor *t, char *err, size_t errlen) {
  unsigned char pre[12];
  if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6))
    return fail(err, errlen, path, "not a .npy file (bad magic)");
  int major = pre[6];
  uint32_t hlen;
  if (major == 1) {
    if (fread(pre + 8, 1, 2, f) != 2) return fail(err, errlen, path, "truncated .npy preamble");
    hlen = pre[8] | (uint32_t)pre[9] << 8;
  } else if (major == 2 || major == 3) {
    if (fread(pre + 8, 1, 4, f) != 4) return fail(err, errlen, path, "truncated .npy preamble");
    hlen = pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
  } else {
    return fail(err, errlen, path, "unsupported .npy format version %d", major);
  }
  if (hlen > NPY_MAX_HEADER) return fail(err, errlen, path, "header of %u bytes is too long", hlen);
  char *hdr = malloc(hlen + 1u);
  if (!hdr) return fail(err, errlen, path, "out of memory");
  if (fread(hdr, 1, hlen, f) != hlen) {
    free(hdr);
    return fail(err, errlen, path, "truncated header");
  }
  hdr[hlen] = 0;

  hparse h = {hdr, hdr + hlen};
  const char *why = NULL, *descr = NULL;
  size_t descr_len = 0;
  int have = 0; /* bits: descr, fortran_order, shape */
  int32_t rank = 0, dtype = 0;
  int64_t dims[RT_DESC_MAX_RANK] = {0};
  hp_ws(&h);
  if (!hp_lit(&h, "{")) why = "header is not a dict";
  while (!why) {
    hp_ws(&h);
    if (hp_lit(&h, "}")) break;
    const char *key;
    size_t klen;
    if (!hp_str(&h, &key, &klen)) {
      why = "malformed header key";
      break;
    }
    hp_ws(&h);
    if (!hp_lit(&h, ":")) {
      why = "malformed header (no ':')";
      break;
    }
    hp_ws(&h);
    int bit;
    if (klen == 5 && !memcmp(key, "descr", 5)) {
      bit = 1;
      if (!hp_str(&h, &descr, &descr_len)) why = "descr is not a string (structured dtypes are not supported)";
    } else if (klen == 13 && !memcmp(key, "fortran_order", 13)) {
      bit = 2;
      if (hp_lit(&h, "True")) why = "fortran_order True is not supported (save C-order arrays)";
      else if (!hp_lit(&h, "False")) why = "fortran_order is not True or False";
    } else if (klen == 5 && !memcmp(key, "shape", 5)) {
      bit = 4;
      hp_shape(&h, &rank, dims, &why);
    } else {
      why = "unexpected key in header";
      break;
    }
    if (have & bit) why = "duplicate key in header";
    have |= bit;
    if (why) break;
    hp_ws(&h);
    if (hp_lit(&h, ",")) continue;
    hp_ws(&h);
    if (hp_lit(&h, "}")) break;
    why = "malformed header (expected ',' or '}')";
  }
  if (!why && have != 7) why = "header lacks descr, fortran_order or shape";
  if (!why) {
    hp_ws(&h);
    if (h.p != h.end) why = "junk after the header dict";
  }
  char dbuf[16] = "";
  if (!why) {
    snprintf(dbuf, sizeof dbuf, "%.*s", (int)(descr_len < 12 ? descr_len : 12), descr);
    dtype = npy_dtype(descr, descr_len, &why);
  }
  free(hdr);
  if (why) return fail(err, errlen, path, "%s%s%s%s", why, dbuf[0] ? " '" : "", dbuf, dbuf[0] ? "'" : "");

  size_t es = rt_dtype_size(dtype);
  int64_t numel = rt_numel(rank, dims, es);
  if (numel < 0) return fail(err, errlen, path, "element count overflows");
  uint64_t nbytes = (uint64_t)numel * es;
  long long left = bytes_left(f);
  if (left >= 0 && (uint64_t)left < nbytes)
    return fail(err, errlen, path, "truncated data: expected %llu bytes, file has %lld",
                (unsigned long long)nbytes, left);
  if (left >= 0 && (uint64_t)left > nbytes)
    return fail(err, errlen, path, "%llu bytes of trailing data after the array",
                (unsigned long long)((uint64_t)left - nbytes));
  void *data = alloc_data(nbytes);
  if (!data) return fail(err, errlen, path, "out of memory for %llu bytes", (unsigned long long)nbytes);
  size_t got = nbytes ? fread(data, 1, (size_t)nbytes, f) : 0;
  if (got != nbytes) {
    free(data);
    return fail(err, errlen, path, "truncated data: expected %llu bytes, got %zu",
                (unsigned long long)nbytes, got);
  }
  if (left < 0 && fgetc(f) != EOF) {
    free(data);
    return fail(err, errlen, path, "trailing data after the array");
  }
  t->dtype = dtype;
  t->rank = rank;
  memcpy(t->dims, dims, sizeof dims);
  t->data = data;
  t->nbytes = nbytes;
  return 0;
}

int rt_tensor_write_npy(const char *path, const rt_tensor *t, char *err, size_t errlen) {
  if (!t || t->dtype < 0 || t->dtype >= NDTYPES || !dtypes[t->dtype].npy)
    return fail(err, errlen, path, "dtype %s has no .npy equivalent",
                t ? rt_dtype_name(t->dtype) : "?");
  if (t->rank < 0 || t->rank > RT_DESC_MAX_RANK) return fail(err, errlen, path, "bad rank %d", t->rank);
  int64_t numel = rt_numel(t->rank, t->dims, rt_dtype_size(t->dtype));
  if (numel < 0 || (uint64_t)numel * rt_dtype_size(t->dtype) != t->nbytes)
    return fail(err, errlen, path, "byte count %llu does not match the shape",
                (unsigned long long)t->nbytes);
  if (t->nbytes && !t->data) return fail(err, errlen, path, "no data");

  char dict[400];
  int n = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                   dtypes[t->dtype].size == 1 ? '|' : '<', dtypes[t->dtype].npy);
  for (int i = 0; i < t->rank; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)t->dims[i],
                  t->rank == 1 ? "," : (i + 1 < t->rank ? ", " : ""));
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  /* Pad with spaces and a newline so that the data starts 64-byte aligned. */
  size_t total = ((10 + (size_t)n + 1) + 63) & ~(size_t)63;
  size_t hlen = total - 10;
  char pre[10 + 512];
  memcpy(pre, "\x93NUMPY\x01\x00", 8);
  pre[8] = (char)(hlen & 0xff);
  pre[9] = (char)(hlen >> 8);
  memcpy(pre + 10, dict, (size_t)n);
  memset(pre + 10 + n, ' ', hlen - (size_t)n - 1);
  pre[total - 1] = '\n';

  FILE *f = fopen(path, "wb");
  if (!f) return fail(err, errlen, path, "cannot write: %s", strerror(errno));
  bool ok = fwrite(pre, 1, total, f) == total;
  if (ok && t->nbytes) ok = fwrite(t->data, 1, (size_t)t->nbytes, f) == t->nbytes;
  if (fclose(f)) ok = false;
  if (!ok) return fail(err, errlen, path, "write failed: %s", strerror(errno));
  return 0;
}

/* ---- .pb: ONNX TensorProto ----------------------------------------------------- */
#define PB_MAX_FILE ((size_t)1 << 31)

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Returns 0, or -1 (truncated) / -2 (varint longer than 64 bits). */
static int pb_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v) {
  const uint8_t *p = *pp;
  uint64_t r = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) return -1;
    uint8_t b = *p++;
    if (shift == 63 && b > 1) return -2;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *pp = p;
      *v = r;
      return 0;
    }
  }
  return -2;
}

/* Where each repeated field's elements are. The decoder makes two passes:
 * the first validates the message and counts elements, the second copies. */
typedef struct pb_tensor {
  int32_t rank;
  int64_t dims[RT_DESC_MAX_RANK];
  int64_t data_type;
  bool have_type;
  const uint8_t *raw;
  size_t raw_len;
  bool have_raw;
  uint64_t n_float, n_int32, n_int64, n_double, n_uint64, n_string;
} pb_tensor;

typedef enum { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64 } pb_field;

/* The typed field that holds a dtype's data in TensorProto. */
static pb_field typed_field(int32_t dtype) {
  switch (dtype) {
  case 1: return F_FLOAT;
  case 2: case 3: case 4: case 5: case 6: case 9: case 10: case 16: return F_INT32;
  case 7: return F_INT64;
  case 11: return F_DOUBLE;
  case 12: case 13: return F_UINT64;
  default: return F_NONE;
  }
}

static const char *field_name(pb_field f) {
  static const char *n[] = {"?", "float_data", "int32_data", "int64_data", "double_data", "uint64_data"};
  return n[f];
}

/* Stores element i of a typed field into the tensor's data. */
static void store(void *data, int32_t dtype, uint64_t i, uint64_t bits, double d) {
  char *p = data;
  switch (dtype) {
  case 1: { float f; uint32_t b = (uint32_t)bits; memcpy(&f, &b, 4); memcpy(p + 4 * i, &f, 4); break; }
  case 2: case 3: p[i] = (char)(uint8_t)bits; break;
  case 9: p[i] = bits != 0; break;
  case 4: case 5: case 10: case 16: { uint16_t v = (uint16_t)bits; memcpy(p + 2 * i, &v, 2); break; }
  case 6: case 12: { uint32_t v = (uint32_t)bits; memcpy(p + 4 * i, &v, 4); break; }
  case 7: case 13: memcpy(p + 8 * i, &bits, 8); break;
  case 11: memcpy(p + 8 * i, &d, 8); break;
  }
}

/* Walks the message. With out == NULL: validates and counts into pt. With
 * out != NULL (second pass, pt complete): copies the typed field's elements.
 * Returns NULL or the reason. */
static const char *pb_walk(const uint8_t *p, const uint8_t *end, pb_tensor *pt, void *out,
                           int32_t dtype) {
  uint64_t at = 0; /* elements copied so far (second pass) */
  pb_field want = out ? typed_field(dtype) : F_NONE;
  while (p < end) {
    uint64_t key;
    int r = pb_varint(&p, end, &key);
    if (r) return r == -1 ? "truncated field key" : "field key varint overflows";
    uint64_t field = key >> 3;
    int wt = (int)(key & 7);
    if (field == 0 || field > 0x1fffffff) return "invalid field number";
    /* The payload of this field: [b, e) for LEN, or the scalar value. */
    const uint8_t *b = NULL, *e = NULL;
    uint64_t v = 0;
    switch (wt) {
    case WT_VARINT:
      r = pb_varint(&p, end, &v);
      if (r) return r == -1 ? "truncated varint" : "varint overflows 64 bits";
      break;
    case WT_I64:
      if (end - p < 8) return "truncated fixed64 field";
      for (int k = 7; k >= 0; k--) v = v << 8 | p[k];
      p += 8;
      break;
    case WT_I32:
      if (end - p < 4) return "truncated fixed32 field";
      for (int k = 3; k >= 0; k--) v = v << 8 | p[k];
      p += 4;
      break;
    case WT_LEN: {
      uint64_t len;
      r = pb_varint(&p, end, &len);
      if (r) return r == -1 ? "truncated length" : "length varint overflows";
      if (len > (uint64_t)(end - p)) return "length-delimited field runs past the end";
      b = p;
      e = p + len;
      p = e;
      break;
    }
    default: return "unsupported wire type (groups)";
    }

    /* Decode the fields we know; everything else was skipped above. */
    pb_field kind = F_NONE;
    int scalar_wt = WT_VARINT;
    switch (field) {
    case 1: /* dims */
      if (out) break;
      if (wt == WT_VARINT) {
        if (pt->rank >= RT_DESC_MAX_RANK) return "rank is larger than 8";
        if ((int64_t)v < 0) return "negative dim";
        pt->dims[pt->rank++] = (int64_t)v;
      } else if (wt == WT_LEN) {
        for (const uint8_t *q = b; q < e;) {
          if ((r = pb_varint(&q, e, &v))) return r == -1 ? "truncated packed dims" : "dim varint overflows";
          if (pt->rank >= RT_DESC_MAX_RANK) return "rank is larger than 8";
          if ((int64_t)v < 0) return "negative dim";
          pt->dims[pt->rank++] = (int64_t)v;
        }
      } else {
        return "dims has the wrong wire type";
      }
      break;
    case 2: /* data_type */
      if (out) break;
      if (wt != WT_VARINT) return "data_type has the wrong wire type";
      pt->data_type = (int64_t)v;
      pt->have_type = true;
      break;
    case 3: return "segmented tensors are not supported";
    case 4: kind = F_FLOAT; scalar_wt = WT_I32; break;
    case 5: kind = F_INT32; break;
    case 6:
      if (wt != WT_LEN) return "string_data has the wrong wire type";
      if (!out) pt->n_string++;
      break;
    case 7: kind = F_INT64; break;
    case 8:
      if (wt != WT_LEN) return "name has the wrong wire type";
      break;
    case 9:
      if (out) break;
      if (wt != WT_LEN) return "raw_data has the wrong wire type";
      pt->raw = b; /* the last one wins, as in protobuf */
      pt->raw_len = (size_t)(e - b);
      pt->have_raw = true;
      break;
    case 10: kind = F_DOUBLE; scalar_wt = WT_I64; break;
    case 11: kind = F_UINT64; break;
    case 14: /* data_location */
      if (wt != WT_VARINT) return "data_location has the wrong wire type";
      if (v == 1) return "external data is not supported in tensor files";
      break;
    default: break;
    }
    if (kind == F_NONE) continue;

    /* A repeated numeric field: one scalar, or packed in a LEN payload. */
    if (wt != scalar_wt && wt != WT_LEN) return "repeated numeric field has the wrong wire type";
    uint64_t count = 0;
    const uint8_t *q = b;
    for (;;) {
      uint64_t x = v;
      if (wt == WT_LEN) {
        if (q >= e) break;
        if (scalar_wt == WT_VARINT) {
          if ((r = pb_varint(&q, e, &x))) return r == -1 ? "truncated packed varints" : "packed varint overflows";
        } else {
          int w = scalar_wt == WT_I32 ? 4 : 8;
          if (e - q < w) return "packed fixed-width data is not a whole number of elements";
          x = 0;
          for (int k = w - 1; k >= 0; k--) x = x << 8 | q[k];
          q += w;
        }
      }
      if (out && kind == want) {
        double d = 0;
        if (kind == F_DOUBLE) memcpy(&d, &x, 8);
        store(out, dtype, at++, x, d);
      }
      count++;
      if (wt != WT_LEN) break;
    }
    if (!out) {
      uint64_t *c = kind == F_FLOAT ? &pt->n_float : kind == F_INT32 ? &pt->n_int32
                  : kind == F_INT64 ? &pt->n_int64 : kind == F_DOUBLE ? &pt->n_double : &pt->n_uint64;
      *c += count;
    }
  }
  return NULL;
}

static int decode_pb(const uint8_t *buf, size_t len, const char *path, rt_tensor *t, char *err,
                     size_t errlen) {
  pb_tensor pt = {0};
  const char *why = pb_walk(buf, buf + len, &pt, NULL, 0);
  if (why) return fail(err, errlen, path, "not a valid TensorProto: %s", why);
  if (!pt.have_type || pt.data_type == 0) return fail(err, errlen, path, "TensorProto has no data_type");
  if (pt.data_type < 0 || pt.data_type >= NDTYPES || !rt_dtype_size((int32_t)pt.data_type))
    return fail(err, errlen, path, "unsupported data_type %lld (%s)", (long long)pt.data_type,
                pt.data_type > 0 && pt.data_type < NDTYPES ? rt_dtype_name((int32_t)pt.data_type) : "unknown");
  int32_t dtype = (int32_t)pt.data_type;
  size_t es = rt_dtype_size(dtype);
  int64_t numel = rt_numel(pt.rank, pt.dims, es);
  if (numel < 0) return fail(err, errlen, path, "element count overflows");
  uint64_t nbytes = (uint64_t)numel * es;
  pb_field want = typed_field(dtype);
  uint64_t counts[] = {0, pt.n_float, pt.n_int32, pt.n_int64, pt.n_double, pt.n_uint64};
  for (int f = F_FLOAT; f <= F_UINT64; f++)
    if (counts[f] && f != (int)want)
      return fail(err, errlen, path, "%s given for a %s tensor", field_name((pb_field)f),
                  rt_dtype_name(dtype));
  if (pt.n_string) return fail(err, errlen, path, "string_data given for a %s tensor", rt_dtype_name(dtype));
  if (pt.have_raw && counts[want])
    return fail(err, errlen, path, "both raw_data and %s are set", field_name(want));
  if (pt.have_raw && pt.raw_len != nbytes)
    return fail(err, errlen, path, "raw_data has %zu bytes; %s[%lld elements] needs %llu",
                pt.raw_len, rt_dtype_name(dtype), (long long)numel, (unsigned long long)nbytes);
  if (!pt.have_raw && counts[want] != (uint64_t)numel)
    return fail(err, errlen, path, "%s has %llu elements; the dims give %lld", field_name(want),
                (unsigned long long)counts[want], (long long)numel);

  void *data = alloc_data(nbytes);
  if (!data) return fail(err, errlen, path, "out of memory for %llu bytes", (unsigned long long)nbytes);
  if (pt.have_raw) {
    if (nbytes) memcpy(data, pt.raw, (size_t)nbytes);
    if (dtype == 9) /* bool: normalize to 0/1 */
      for (uint64_t i = 0; i < nbytes; i++) ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
  } else if (numel) {
    pb_walk(buf, buf + len, &pt, data, dtype);
  }
  t->dtype = dtype;
  t->rank = pt.rank;
  memcpy(t->dims, pt.dims, sizeof pt.dims);
  t->data = data;
  t->nbytes = nbytes;
  return 0;
}

static int read_pb(FILE *f, const char *path, rt_tensor *t, char *err, size_t errlen) {
  size_t cap = 1 << 16, n = 0;
  long long left = bytes_left(f);
  if (left > (long long)PB_MAX_FILE) return fail(err, errlen, path, "larger than 2 GiB");
  if (left >= 0) cap = (size_t)left + 1;
  uint8_t *buf = malloc(cap);
  if (!buf) return fail(err, errlen, path, "out of memory");
  for (;;) {
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (n < cap) break;
    if (cap > PB_MAX_FILE) {
      free(buf);
      return fail(err, errlen, path, "larger than 2 GiB");
    }
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      return fail(err, errlen, path, "out of memory");
    }
    buf = nb;
    cap *= 2;
  }
  if (ferror(f)) {
    free(buf);
    return fail(err, errlen, path, "read error");
  }
  int rc = decode_pb(buf, n, path, t, err, errlen);
  free(buf);
  return rc;
}

int rt_tensor_decode_pb(const void *buf, size_t len, rt_tensor *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  return decode_pb(buf, len, "<memory>", t, err, errlen);
}

/* ---- dispatch ------------------------------------------------------------------- */
static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

int rt_tensor_read(const char *path, rt_tensor *t, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!t) return -1;
  memset(t, 0, sizeof *t);
  if (!path) return fail(err, errlen, "(null)", "no path");
  FILE *f = fopen(path, "rb");
  if (!f) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
  bool npy;
  if (ends_with(path, ".npy")) npy = true;
  else if (ends_with(path, ".pb")) npy = false;
  else {
    char magic[6] = {0};
    size_t k = fread(magic, 1, 6, f);
    npy = k == 6 && !memcmp(magic, "\x93NUMPY", 6);
    rewind(f);
  }
  int rc = npy ? read_npy(f, path, t, err, errlen) : read_pb(f, path, t, err, errlen);
  fclose(f);
  if (rc) memset(t, 0, sizeof *t);
  return rc;
}
