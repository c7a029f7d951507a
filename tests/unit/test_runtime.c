/* test_runtime.c - unit tests of the runtime's tensor files (runtime/tensor_io.c:
 * .npy for every dtype, hand-encoded TensorProto .pb, malformed and mutated
 * files), the harness (runtime/harness.c: flags, input checks, exit codes,
 * output names, --bench), and the public C API (api/mixc.c: compiling from
 * memory, queries, argument validation, symbolic dims, run-time errors).
 *
 * Requires: libmixc with the runtime sources and api/mixc.c; a writable /tmp. */
#include <CUnit/CUnit.h>


#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mixc/mixc.h"
#include "runtime/rt.h"
#include "runtime/tensor_io.h"

static char tmpdir[64];

static int suite_init(void) {
  strcpy(tmpdir, "/tmp/mixc_rt_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : 1;
}

static int suite_clean(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : 1;
}

static const char *tpath(const char *name) {
  static char buf[4][256];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(fwrite(data, 1, n, f), n);
  fclose(f);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 16);
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* ---- .npy ------------------------------------------------------------------- */
static void test_npy_roundtrip_all_dtypes(void) {
  static const int32_t dts[] = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13};
  static const int64_t shapes[][3] = {{2, 3, 4}, {5, 0, 0}, {0, 0, 0}, {0, 3, 0}};
  static const int ranks[] = {3, 1, 0, 2};
  for (size_t d = 0; d < sizeof dts / sizeof *dts; d++) {
    for (int s = 0; s < 4; s++) {
      rt_tensor t = {dts[d], ranks[s], {0}, NULL, 0};
      memcpy(t.dims, shapes[s], sizeof shapes[s]);
      size_t es = rt_dtype_size(dts[d]);
      int64_t n = rt_numel(t.rank, t.dims, es);
      CU_ASSERT_FATAL(n >= 0);
      t.nbytes = (uint64_t)n * es;
      unsigned char *data = malloc(t.nbytes + 1);
      for (uint64_t i = 0; i < t.nbytes; i++) data[i] = (unsigned char)(i * 37 + d);
      if (dts[d] == 9)
        for (uint64_t i = 0; i < t.nbytes; i++) data[i] &= 1;
      t.data = data;
      char err[256];
      const char *p = tpath("rt.npy");
      CU_ASSERT_EQUAL(rt_tensor_write_npy(p, &t, err, sizeof err), 0);
      rt_tensor r;
      CU_ASSERT_EQUAL_FATAL(rt_tensor_read(p, &r, err, sizeof err), 0);
      CU_ASSERT_EQUAL(r.dtype, t.dtype);
      CU_ASSERT_EQUAL(r.rank, t.rank);
      CU_ASSERT_EQUAL(memcmp(r.dims, t.dims, sizeof t.dims), 0);
      CU_ASSERT_EQUAL(r.nbytes, t.nbytes);
      CU_ASSERT(t.nbytes == 0 || memcmp(r.data, t.data, t.nbytes) == 0);
      CU_ASSERT_EQUAL((uintptr_t)r.data % 64, 0);
      rt_tensor_free(&r);
      free(data);
    }
  }
  /* bf16 has no .npy dtype: a clear error, no file. */
  uint16_t h[2] = {0};
  rt_tensor bf = {16, 1, {2}, h, 4};
  char err[256];
  CU_ASSERT_EQUAL(rt_tensor_write_npy(tpath("bf.npy"), &bf, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "bf16"));
}

/* Builds a .npy with the given version and header dict, padded like numpy. */
static size_t make_npy(unsigned char *out, int version, const char *dict, const void *data, size_t n) {
  size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
  size_t total = (pre + dl + 1 + 63) / 64 * 64, hlen = total - pre;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)version;
  out[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(out + pre, dict, dl);
  memset(out + pre + dl, ' ', hlen - dl - 1);
  out[total - 1] = '\n';
  memcpy(out + total, data, n);
  return total + n;
}

static void test_npy_numpy_bytes(void) {
  /* What numpy 1.24 writes for np.array([[1,2,3],[4,5,6]], np.int16). */
  static const int16_t v[6] = {1, 2, 3, 4, 5, 6};
  unsigned char buf[512];
  size_t n = make_npy(buf, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", v, sizeof v);
  CU_ASSERT_EQUAL(n, 140);
  CU_ASSERT_EQUAL(buf[8], 0x76);
  write_file(tpath("np.npy"), buf, n);
  rt_tensor t;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(tpath("np.npy"), &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.dtype, 5);
  CU_ASSERT_EQUAL(t.rank, 2);
  CU_ASSERT_EQUAL(t.dims[0], 2);
  CU_ASSERT_EQUAL(t.dims[1], 3);
  CU_ASSERT_EQUAL(memcmp(t.data, v, sizeof v), 0);
  /* Our writer produces numpy's bytes exactly. */
  CU_ASSERT_EQUAL(rt_tensor_write_npy(tpath("ours.npy"), &t, err, sizeof err), 0);
  rt_tensor_free(&t);
  FILE *f = fopen(tpath("ours.npy"), "rb");
  unsigned char back[512];
  size_t m = fread(back, 1, sizeof back, f);
  fclose(f);
  CU_ASSERT_EQUAL(m, n);
  CU_ASSERT_EQUAL(memcmp(back, buf, n), 0);

  /* Versions 2 and 3, double quotes, key order, Python 2 longs, scalars,
   * a file without the .npy extension (found by magic). */
  float x = 2.5f;
  n = make_npy(buf, 2, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"<f4\"}", &x, 4);
  write_file(tpath("v2.bin"), buf, n);
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(tpath("v2.bin"), &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.rank, 0);
  CU_ASSERT_EQUAL(t.nbytes, 4);
  CU_ASSERT_EQUAL(*(float *)t.data, 2.5f);
  rt_tensor_free(&t);
  uint8_t b[3] = {1, 0, 1};
  n = make_npy(buf, 3, "{'descr': '|b1', 'fortran_order': False, 'shape': (3L,), }", b, 3);
  write_file(tpath("v3.npy"), buf, n);
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(tpath("v3.npy"), &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.dtype, 9);
  CU_ASSERT_EQUAL(t.dims[0], 3);
  rt_tensor_free(&t);
}

static void expect_npy_error(const char *dict, const void *data, size_t n, const char *why) {
  unsigned char buf[1024];
  size_t len = make_npy(buf, 1, dict, data, n);
  write_file(tpath("bad.npy"), buf, len);
  rt_tensor t;
  char err[256] = "";
  CU_ASSERT_EQUAL(rt_tensor_read(tpath("bad.npy"), &t, err, sizeof err), -1);
  CU_ASSERT_PTR_NULL(t.data);
  if (!strstr(err, why)) fprintf(stderr, "\n  expected '%s' in: %s\n", why, err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_npy_malformed(void) {
  float f[4] = {0};
  expect_npy_error("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", f, 16, "fortran_order");
  expect_npy_error("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", f, 16, "unsupported dtype");
  expect_npy_error("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", f, 16, "big-endian");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f, 12, "truncated");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f, 16, "trailing");
  expect_npy_error("{'descr': '<f4', 'shape': (4,), }", f, 16, "lacks");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", f, 16, "shape");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", f, 4, "rank");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", f, 16, "unexpected key");
  expect_npy_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f, 16, "duplicate");
  expect_npy_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,)}", f, 16, "structured");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", f, 16, "overflow");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}",
                   f, 16, "overflow");
  expect_npy_error("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,)}", f, 16, "truncated");

  rt_tensor t;
  char err[256];
  write_file(tpath("magic.npy"), "\x93NUMPX\x01\x00\x00\x00", 10);
  CU_ASSERT_EQUAL(rt_tensor_read(tpath("magic.npy"), &t, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "magic"));
  write_file(tpath("ver.npy"), "\x93NUMPY\x04\x00\x00\x00", 10);
  CU_ASSERT_EQUAL(rt_tensor_read(tpath("ver.npy"), &t, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "version"));
  write_file(tpath("hdr.npy"), "\x93NUMPY\x01\x00\xff\x00{'descr'", 17);
  CU_ASSERT_EQUAL(rt_tensor_read(tpath("hdr.npy"), &t, err, sizeof err), -1);
  CU_ASSERT_EQUAL(rt_tensor_read(tpath("does-not-exist.npy"), &t, err, sizeof err), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "does-not-exist"));
}

/* ---- .pb: hand-encoded TensorProto ---------------------------------------------- */
typedef struct pbuf {
  unsigned char b[4096];
  size_t n;
} pbuf;

static void put_varint(pbuf *p, uint64_t v) {
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    p->b[p->n++] = c | (v ? 0x80 : 0);
  } while (v);
}
static void put_key(pbuf *p, int field, int wt) { put_varint(p, (uint64_t)field << 3 | (unsigned)wt); }
static void put_bytes(pbuf *p, int field, const void *d, size_t n) {
  put_key(p, field, 2);
  put_varint(p, n);
  memcpy(p->b + p->n, d, n);
  p->n += n;
}
static void put_fixed(pbuf *p, int field, int wt, uint64_t v) {
  put_key(p, field, wt);
  int w = wt == 5 ? 4 : 8;
  for (int i = 0; i < w; i++) p->b[p->n++] = (unsigned char)(v >> (8 * i));
}
static void put_packed_varints(pbuf *p, int field, const int64_t *v, int n) {
  pbuf tmp = {{0}, 0};
  for (int i = 0; i < n; i++) put_varint(&tmp, (uint64_t)v[i]);
  put_bytes(p, field, tmp.b, tmp.n);
}

static int decode(const pbuf *p, rt_tensor *t, char *err) {
  return rt_tensor_decode_pb(p->b, p->n, t, err, 256);
}

static void test_pb_onnx_bytes(void) {
  /* onnx.numpy_helper.from_array(np.arange(6, dtype=f32).reshape(2, 3) * 0.5, "x") */
  static const unsigned char raw[] = {
      0x08, 0x02, 0x08, 0x03, 0x10, 0x01, 0x42, 0x01, 0x78, 0x4a, 0x18, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0xc0, 0x3f, 0x00,
      0x00, 0x00, 0x40, 0x00, 0x00, 0x20, 0x40};
  write_file(tpath("x.pb"), raw, sizeof raw);
  rt_tensor t;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(tpath("x.pb"), &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.dtype, 1);
  CU_ASSERT_EQUAL(t.rank, 2);
  CU_ASSERT_EQUAL(t.dims[0], 2);
  CU_ASSERT_EQUAL(t.dims[1], 3);
  for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(((float *)t.data)[i], 0.5f * (float)i);
  rt_tensor_free(&t);
  /* helper.make_tensor("y", INT64, [3], [-1, 5, 1 << 40]): packed int64_data */
  static const unsigned char i64[] = {0x08, 0x03, 0x10, 0x07, 0x3a, 0x11, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x05, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x20, 0x42, 0x01, 0x79};
  CU_ASSERT_EQUAL_FATAL(rt_tensor_decode_pb(i64, sizeof i64, &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.dtype, 7);
  CU_ASSERT_EQUAL(((int64_t *)t.data)[0], -1);
  CU_ASSERT_EQUAL(((int64_t *)t.data)[1], 5);
  CU_ASSERT_EQUAL(((int64_t *)t.data)[2], INT64_C(1) << 40);
  rt_tensor_free(&t);
  /* helper.make_tensor("h", FLOAT16, [2], [1.0, -2.0]): int32_data holds the bits */
  static const unsigned char f16[] = {0x08, 0x02, 0x10, 0x0a, 0x2a, 0x05, 0x80,
                                      0x78, 0x80, 0x80, 0x03, 0x42, 0x01, 0x68};
  CU_ASSERT_EQUAL_FATAL(rt_tensor_decode_pb(f16, sizeof f16, &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(t.dtype, 10);
  CU_ASSERT_EQUAL(((uint16_t *)t.data)[0], 0x3c00);
  CU_ASSERT_EQUAL(((uint16_t *)t.data)[1], 0xc000);
  rt_tensor_free(&t);
}

static void test_pb_typed_fields(void) {
  rt_tensor t;
  char err[256];
  /* float_data, unpacked (wire type 5), dims unpacked, plus unknown fields
   * of every wire type that must be skipped. */
  pbuf p = {{0}, 0};
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_key(&p, 2, 0), put_varint(&p, 1);
  put_bytes(&p, 12, "doc", 3);                 /* doc_string */
  put_fixed(&p, 99, 1, 0x1122334455667788ull); /* unknown fixed64 */
  put_fixed(&p, 98, 5, 7);                     /* unknown fixed32 */
  put_key(&p, 97, 0), put_varint(&p, 300);     /* unknown varint */
  float a = 1.25f, b = -3.0f;
  uint32_t ua, ub;
  memcpy(&ua, &a, 4), memcpy(&ub, &b, 4);
  put_fixed(&p, 4, 5, ua);
  put_fixed(&p, 4, 5, ub);
  put_bytes(&p, 8, "name", 4);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(t.rank, 1);
  CU_ASSERT_EQUAL(((float *)t.data)[0], 1.25f);
  CU_ASSERT_EQUAL(((float *)t.data)[1], -3.0f);
  rt_tensor_free(&t);

  /* int32_data for i8 and bool (packed, split in two chunks) with packed dims */
  static const int64_t d23[] = {2, 3}, v1[] = {-1, 2, 127}, v2[] = {-128, 0, 5};
  for (int dt = 3; dt <= 9; dt += 6) {
    p.n = 0;
    put_packed_varints(&p, 1, d23, 2);
    put_key(&p, 2, 0), put_varint(&p, (uint64_t)dt);
    put_packed_varints(&p, 5, v1, 3);
    put_packed_varints(&p, 5, v2, 3);
    CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
    CU_ASSERT_EQUAL(t.nbytes, 6);
    int8_t *q = t.data;
    if (dt == 3) CU_ASSERT(q[0] == -1 && q[2] == 127 && q[3] == -128 && q[5] == 5);
    if (dt == 9) CU_ASSERT(q[0] == 1 && q[1] == 1 && q[4] == 0 && q[5] == 1);
    rt_tensor_free(&t);
  }

  /* double_data packed; uint64_data for u32; int32_data for i16/u16/i32 */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_key(&p, 2, 0), put_varint(&p, 11);
  double dd[2] = {0.1, -1e300};
  put_bytes(&p, 10, dd, sizeof dd);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(((double *)t.data)[0], 0.1);
  CU_ASSERT_EQUAL(((double *)t.data)[1], -1e300);
  rt_tensor_free(&t);
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 1);
  put_key(&p, 2, 0), put_varint(&p, 12);
  put_key(&p, 11, 0), put_varint(&p, 0xfffffffeu);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(((uint32_t *)t.data)[0], 0xfffffffeu);
  rt_tensor_free(&t);
  static const int64_t i32v[] = {-70000, 70000};
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_key(&p, 2, 0), put_varint(&p, 6);
  put_packed_varints(&p, 5, i32v, 2);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(((int32_t *)t.data)[0], -70000);
  CU_ASSERT_EQUAL(((int32_t *)t.data)[1], 70000);
  rt_tensor_free(&t);

  /* raw_data for a u64 scalar (no dims), and an empty tensor with no data */
  p.n = 0;
  put_key(&p, 2, 0), put_varint(&p, 13);
  uint64_t big = 0xfedcba9876543210ull;
  put_bytes(&p, 9, &big, 8);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(t.rank, 0);
  CU_ASSERT_EQUAL(*(uint64_t *)t.data, big);
  rt_tensor_free(&t);
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 0);
  put_key(&p, 2, 0), put_varint(&p, 1);
  CU_ASSERT_EQUAL_FATAL(decode(&p, &t, err), 0);
  CU_ASSERT_EQUAL(t.nbytes, 0);
  rt_tensor_free(&t);
}

static void expect_pb_error(const pbuf *p, const char *why) {
  rt_tensor t;
  char err[256] = "";
  CU_ASSERT_EQUAL(decode(p, &t, err), -1);
  CU_ASSERT_PTR_NULL(t.data);
  if (!strstr(err, why)) fprintf(stderr, "\n  expected '%s' in: %s\n", why, err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
}

static void test_pb_malformed(void) {
  pbuf p = {{0}, 0};
  float f2[2] = {1, 2};
  /* no data_type */
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_bytes(&p, 9, f2, 8);
  expect_pb_error(&p, "data_type");
  /* raw_data size mismatch */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 3);
  put_key(&p, 2, 0), put_varint(&p, 1);
  put_bytes(&p, 9, f2, 8);
  expect_pb_error(&p, "raw_data has 8 bytes");
  /* typed count mismatch */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 3);
  put_key(&p, 2, 0), put_varint(&p, 1);
  put_bytes(&p, 4, f2, 8);
  expect_pb_error(&p, "float_data has 2 elements");
  /* both raw and typed */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_key(&p, 2, 0), put_varint(&p, 1);
  put_bytes(&p, 4, f2, 8);
  put_bytes(&p, 9, f2, 8);
  expect_pb_error(&p, "both");
  /* wrong field for the dtype */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 2);
  put_key(&p, 2, 0), put_varint(&p, 7);
  put_bytes(&p, 4, f2, 8);
  expect_pb_error(&p, "float_data given for a i64");
  /* string and unknown dtypes */
  p.n = 0;
  put_key(&p, 2, 0), put_varint(&p, 8);
  expect_pb_error(&p, "unsupported data_type 8");
  p.n = 0;
  put_key(&p, 2, 0), put_varint(&p, 40);
  expect_pb_error(&p, "unsupported data_type 40");
  /* negative dim, rank 9 */
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, (uint64_t)-3);
  put_key(&p, 2, 0), put_varint(&p, 1);
  expect_pb_error(&p, "negative dim");
  p.n = 0;
  for (int i = 0; i < 9; i++) put_key(&p, 1, 0), put_varint(&p, 1);
  expect_pb_error(&p, "rank");
  /* overflowing element count */
  p.n = 0;
  for (int i = 0; i < 3; i++) put_key(&p, 1, 0), put_varint(&p, (uint64_t)1 << 30);
  put_key(&p, 2, 0), put_varint(&p, 11);
  expect_pb_error(&p, "overflows");
  /* varint of 11 bytes; length past the end; groups; field 0; wrong wire type */
  p.n = 0;
  put_key(&p, 2, 0);
  for (int i = 0; i < 10; i++) p.b[p.n++] = 0xff;
  p.b[p.n++] = 0x01;
  expect_pb_error(&p, "overflow");
  p.n = 0;
  put_key(&p, 9, 2), put_varint(&p, 100), p.b[p.n++] = 0;
  expect_pb_error(&p, "past the end");
  p.n = 0;
  put_key(&p, 5, 3);
  expect_pb_error(&p, "wire type");
  p.n = 0;
  put_key(&p, 0, 0), put_varint(&p, 1);
  expect_pb_error(&p, "field number");
  p.n = 0;
  put_fixed(&p, 2, 5, 1);
  expect_pb_error(&p, "data_type has the wrong wire type");
  p.n = 0;
  put_key(&p, 1, 0), put_varint(&p, 1);
  put_key(&p, 2, 0), put_varint(&p, 11);
  put_bytes(&p, 10, f2, 7);
  expect_pb_error(&p, "whole number");
  /* external data, segments */
  p.n = 0;
  put_key(&p, 2, 0), put_varint(&p, 1);
  put_key(&p, 14, 0), put_varint(&p, 1);
  expect_pb_error(&p, "external");
  p.n = 0;
  put_bytes(&p, 3, "", 0);
  expect_pb_error(&p, "segment");
}

/* Every prefix of a valid file and random mutations: an error or a tensor,
 * never a crash or an out-of-bounds read (run under ASan to be sure). */
static void test_fuzz(void) {
  pbuf p = {{0}, 0};
  static const int64_t dims[] = {2, 2}, iv[] = {1, -2, 3, -4};
  put_packed_varints(&p, 1, dims, 2);
  put_key(&p, 2, 0), put_varint(&p, 7);
  put_packed_varints(&p, 7, iv, 4);
  put_bytes(&p, 8, "t", 1);
  rt_tensor t;
  char err[256];
  for (size_t n = 0; n < p.n; n++) {
    unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, p.b, n);
    int rc = rt_tensor_decode_pb(copy, n, &t, err, sizeof err);
    CU_ASSERT(rc == -1 || rc == 0);
    rt_tensor_free(&t);
    free(copy);
  }
  unsigned char npy[512];
  float f[6] = {1, 2, 3, 4, 5, 6};
  size_t nn = make_npy(npy, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, 24);
  for (size_t n = 0; n < nn; n += 3) {
    write_file(tpath("cut.npy"), npy, n);
    CU_ASSERT_EQUAL(rt_tensor_read(tpath("cut.npy"), &t, err, sizeof err), -1);
  }
  srand(12345);
  for (int iter = 0; iter < 3000; iter++) {
    pbuf q = p;
    int k = 1 + rand() % 4;
    for (int j = 0; j < k; j++) q.b[rand() % q.n] = (unsigned char)rand();
    unsigned char *copy = malloc(q.n);
    memcpy(copy, q.b, q.n);
    if (rt_tensor_decode_pb(copy, q.n, &t, err, sizeof err) == 0) CU_ASSERT(t.nbytes <= 64);
    rt_tensor_free(&t);
    free(copy);
    if (iter % 10 == 0) {
      unsigned char m[512];
      memcpy(m, npy, nn);
      for (int j = 0; j < k; j++) m[rand() % 128] = (unsigned char)rand();
      write_file(tpath("mut.npy"), m, nn);
      if (rt_tensor_read(tpath("mut.npy"), &t, err, sizeof err) == 0) CU_ASSERT(t.nbytes <= nn);
      rt_tensor_free(&t);
    }
  }
}

static void test_sanitize(void) {
  char out[64];
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("/blocks.0/mlp/Add_output_0", out, sizeof out),
                         "_blocks.0_mlp_Add_output_0");
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("logits:0", out, sizeof out), "logits_0");
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("a-b_c.D9", out, sizeof out), "a-b_c.D9");
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("", out, sizeof out), "_");
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("../x y\xc3\xa9", out, sizeof out), ".._x_y__");
  CU_ASSERT_STRING_EQUAL(rt_sanitize_name("abcdef", out, 4), "abc");
  char s[64];
  int64_t d[] = {2, 3};
  CU_ASSERT_STRING_EQUAL(rt_shape_str(s, sizeof s, 1, 2, d), "f32[2,3]");
  CU_ASSERT_STRING_EQUAL(rt_shape_str(s, sizeof s, -1, 0, d), "[]");
}

/* ---- the harness ------------------------------------------------------------------ */
/* A model y = x + 1 (f32[2,3]) that fails with a message when x[0] is negative. */
static int add1_entry(rt_ctx *ctx, void *const *in, void *const *out, void *arena) {
  const float *x = in[0];
  float *y = out[0];
  CU_ASSERT_EQUAL((uintptr_t)arena % 64, 0);
  ctx->call = 0;
  if (x[0] < 0) {
    rt_fail(ctx, "x[0] is negative: %g", x[0]);
    return ctx->status;
  }
  for (int i = 0; i < 6; i++) y[i] = x[i] + 1;
  *(int64_t *)out[1] = 42;
  return 0;
}
static const rt_tensor_desc add1_in[] = {{"x", 1, 2, {2, 3}, 24}};
static const rt_tensor_desc add1_out[] = {{"out/y:0", 1, 2, {2, 3}, 24}, {"out/y_0", 7, 0, {0}, 8}};
static const rt_model_desc add1 = {RT_ABI_VERSION, 1, 2, add1_in, add1_out, 100, add1_entry};

/* Runs the harness with its output captured in tmpdir/out.txt and err.txt. */
static int harness(const rt_model_desc *m, const char *a1, const char *a2, const char *a3,
                   const char *a4, const char *a5) {
  char *argv[8] = {"model"};
  int argc = 1;
  const char *as[] = {a1, a2, a3, a4, a5};
  for (int i = 0; i < 5 && as[i]; i++) argv[argc++] = (char *)as[i];
  fflush(stdout);
  fflush(stderr);
  int so = dup(1), se = dup(2);
  int fo = open(tpath("out.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int fe = open(tpath("err.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  dup2(fo, 1), dup2(fe, 2);
  int rc = rt_harness_main(argc, argv, m);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1), dup2(se, 2);
  close(so), close(se), close(fo), close(fe);
  return rc;
}

static bool err_has(const char *s) {
  char *e = read_text(tpath("err.txt"));
  bool ok = e && strstr(e, s);
  if (!ok) fprintf(stderr, "\n  expected '%s' in stderr: %s\n", s, e ? e : "(none)");
  free(e);
  return ok;
}

static void save(const char *name, int32_t dtype, int rank, const int64_t *dims, const void *data) {
  rt_tensor t = {dtype, rank, {0}, (void *)data, 0};
  memcpy(t.dims, dims, sizeof(int64_t) * (size_t)rank);
  t.nbytes = (uint64_t)rt_numel(rank, dims, rt_dtype_size(dtype)) * rt_dtype_size(dtype);
  char err[256];
  CU_ASSERT_EQUAL(rt_tensor_write_npy(tpath(name), &t, err, sizeof err), 0);
}

static void test_harness(void) {
  float x[6] = {1, 2, 3, 4, 5, 6}, neg[6] = {-1};
  double xd[6] = {0};
  int64_t d23[] = {2, 3}, d32[] = {3, 2};
  save("x.npy", 1, 2, d23, x);
  save("neg.npy", 1, 2, d23, neg);
  save("xd.npy", 11, 2, d23, xd);
  save("x32.npy", 1, 2, d32, x);
  char in[300], dir[300], inneg[300], ind[300], in32[300];
  snprintf(in, sizeof in, "x=%s", tpath("x.npy"));
  snprintf(inneg, sizeof inneg, "x=%s", tpath("neg.npy"));
  snprintf(ind, sizeof ind, "x=%s", tpath("xd.npy"));
  snprintf(in32, sizeof in32, "x=%s", tpath("x32.npy"));
  snprintf(dir, sizeof dir, "%s/outs", tmpdir);

  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--output-dir", dir, NULL), 0);
  /* "out/y:0" -> out_y_0.npy; "out/y_0" collides and gets a suffix */
  rt_tensor t;
  char err[256], p[400];
  snprintf(p, sizeof p, "%s/out_y_0.npy", dir);
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(p, &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(((float *)t.data)[5], 7.0f);
  rt_tensor_free(&t);
  snprintf(p, sizeof p, "%s/out_y_0_2.npy", dir);
  CU_ASSERT_EQUAL_FATAL(rt_tensor_read(p, &t, err, sizeof err), 0);
  CU_ASSERT_EQUAL(*(int64_t *)t.data, 42);
  CU_ASSERT_EQUAL(t.rank, 0);
  rt_tensor_free(&t);

  /* --bench: the last line */
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--output-dir", dir, "--bench=5"), 0);
  char *o = read_text(tpath("out.txt"));
  char *last = o ? strrchr(o, '\n') : NULL;
  if (last) {
    *last = 0;
    last = strrchr(o, '\n');
    last = last ? last + 1 : o;
  }
  CU_ASSERT(last && !strncmp(last, "median_ms=", 10) && strstr(last, " min_ms=") && strstr(last, " runs=5"));
  free(o);

  /* bad input: exit 1, naming the input */
  CU_ASSERT_EQUAL(harness(&add1, "--output-dir", dir, NULL, NULL, NULL), 1);
  CU_ASSERT(err_has("missing --input x=FILE (f32[2,3])"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--input", "w=foo.npy", NULL), 1);
  CU_ASSERT(err_has("unknown input 'w'"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--input", in, NULL), 1);
  CU_ASSERT(err_has("given twice"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", ind, NULL, NULL, NULL), 1);
  CU_ASSERT(err_has("input 'x': expected f32[2,3], got f64[2,3]"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in32, NULL, NULL, NULL), 1);
  CU_ASSERT(err_has("input 'x': expected f32[2,3], got f32[3,2]"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", "x=/nonexistent/x.npy", NULL, NULL, NULL), 1);
  CU_ASSERT(err_has("input 'x': /nonexistent/x.npy: cannot open"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", inneg, "--output-dir", dir, NULL), 1);
  CU_ASSERT(err_has("run failed: x[0] is negative: -1"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--output-dir", "/nonexistent/dir/x", NULL), 1);

  /* a flag value it cannot take: bad input, exit 1 */
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--threads", "0", NULL), 1);
  CU_ASSERT(err_has("--threads expects an integer from 1 to"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--bench", "x", NULL), 1);
  CU_ASSERT(err_has("--bench expects an integer from 1 to"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", "x", NULL, NULL, NULL), 1);
  CU_ASSERT(err_has("--input expects NAME=FILE, got 'x'"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--output-dir", "", NULL), 1);
  CU_ASSERT(err_has("--output-dir is empty"));

  /* usage: exit 2 */
  CU_ASSERT_EQUAL(harness(&add1, "--input", in, "--frobnicate", NULL, NULL), 2);
  CU_ASSERT(err_has("unknown option '--frobnicate'"));
  CU_ASSERT_EQUAL(harness(&add1, "--input", NULL, NULL, NULL, NULL), 2);
  CU_ASSERT(err_has("--input needs a value"));
  CU_ASSERT_EQUAL(harness(&add1, "stray", NULL, NULL, NULL, NULL), 2);
  CU_ASSERT(err_has("unexpected argument 'stray'"));
  CU_ASSERT_EQUAL(harness(&add1, "--help", NULL, NULL, NULL, NULL), 0);
  o = read_text(tpath("out.txt"));
  CU_ASSERT(o && strstr(o, "  x  f32[2,3]") && strstr(o, "out/y:0"));
  free(o);

  /* internal: a descriptor that breaks the contract */
  rt_model_desc bad = add1;
  bad.abi_version = 99;
  CU_ASSERT_EQUAL(harness(&bad, "--input", in, NULL, NULL, NULL), 3);
  CU_ASSERT_EQUAL(harness(NULL, "--input", in, NULL, NULL, NULL), 3);
}

/* ---- the C API -------------------------------------------------------------------- */
static const char model_mir[] =
    "// mixc IR\n"
    "graph \"t\" {\n"
    "  opset \"\" 17\n"
    "  input %x : f32[batch,4]\n"
    "  const %b : f32[4] = [1.0, -2.0, 3.0, -4.0]\n"
    "  %y : f32[batch,4] = Add(%x, %b) @add #0\n"
    "  %z : f32[batch,4] = Relu(%y) @relu #1\n"
    "  output %z\n"
    "  output %y\n"
    "}\n";

static mixc_model *compile_mir(int interpret, int64_t batch) {
  mixc_dim_binding bind = {"batch", batch};
  mixc_options o = {.interpret = interpret, .num_dims = 1, .dims = &bind};
  mixc_model *m = NULL;
  mixc_status st = mixc_compile_memory(model_mir, sizeof model_mir - 1, &o, &m);
  if (st) fprintf(stderr, "\n  compile failed: %s\n", mixc_last_error());
  CU_ASSERT_EQUAL(st, MIXC_OK);
  return m;
}

static void test_api_compile_errors(void) {
  mixc_model *m = (mixc_model *)1;
  CU_ASSERT_EQUAL(mixc_compile_file("/nonexistent/m.onnx", NULL, &m), MIXC_ERR_IO);
  CU_ASSERT_PTR_NULL(m);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "/nonexistent/m.onnx"));
  CU_ASSERT_EQUAL(mixc_compile_file(NULL, NULL, &m), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, 0, NULL, &m), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, sizeof model_mir - 1, NULL, NULL),
                  MIXC_ERR_INVALID_ARGUMENT);
  /* garbage bytes: not ONNX */
  CU_ASSERT_EQUAL(mixc_compile_memory("\xff\xff\xff\xff", 4, NULL, &m), MIXC_ERR_INVALID_MODEL);
  CU_ASSERT_PTR_NULL(m);
  /* unbound symbolic dim: the message names it */
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, sizeof model_mir - 1, NULL, &m), MIXC_ERR_INVALID_MODEL);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "batch"));
  /* a binding for a dim no input has; a negative value; bad threads */
  mixc_dim_binding b[2] = {{"batch", 2}, {"seq", 3}};
  mixc_options o = {.num_dims = 2, .dims = b};
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, sizeof model_mir - 1, &o, &m), MIXC_ERR_INVALID_MODEL);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "'seq'"));
  b[0].value = -1;
  o.num_dims = 1;
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, sizeof model_mir - 1, &o, &m), MIXC_ERR_INVALID_MODEL);
  o = (mixc_options){.threads = -1};
  CU_ASSERT_EQUAL(mixc_compile_memory(model_mir, sizeof model_mir - 1, &o, &m), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_STRING_EQUAL(mixc_status_string(MIXC_ERR_IO), "cannot read file");
  CU_ASSERT_PTR_NOT_NULL(mixc_version());
  CU_ASSERT_EQUAL(mixc_dtype_size(MIXC_DTYPE_INT64), 8);
  CU_ASSERT_STRING_EQUAL(mixc_dtype_name(MIXC_DTYPE_FLOAT32), "f32");
}

static void run_model_checks(int interpret) {
  mixc_model *m = compile_mir(interpret, 2);
  if (!m) return;
  CU_ASSERT_EQUAL(mixc_model_num_inputs(m), 1);
  CU_ASSERT_EQUAL(mixc_model_num_outputs(m), 2);
  mixc_tensor_info info;
  CU_ASSERT_EQUAL(mixc_model_input(m, 0, &info), MIXC_OK);
  CU_ASSERT_STRING_EQUAL(info.name, "x");
  CU_ASSERT_EQUAL(info.dtype, MIXC_DTYPE_FLOAT32);
  CU_ASSERT_EQUAL(info.rank, 2);
  CU_ASSERT_EQUAL(info.dims[0], 2);
  CU_ASSERT_EQUAL(info.dims[1], 4);
  CU_ASSERT_EQUAL(info.nbytes, 32);
  CU_ASSERT_EQUAL(mixc_model_output(m, 1, &info), MIXC_OK);
  CU_ASSERT_STRING_EQUAL(info.name, "y");
  CU_ASSERT_EQUAL(mixc_model_output(m, 2, &info), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(mixc_model_input(m, -1, &info), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(mixc_model_output_index(m, "z"), 0);
  CU_ASSERT_EQUAL(mixc_model_input_index(m, "nope"), -1);

  mixc_session *s;
  CU_ASSERT_EQUAL_FATAL(mixc_session_create(m, &s), MIXC_OK);
  int64_t d24[] = {2, 4}, d42[] = {4, 2}, d1[] = {8};
  float x[8] = {0, 1, 2, 3, -4, -5, -6, -7}, z[9], y[8];
  z[8] = 12345.0f; /* a guard just past the output */
  mixc_tensor in = {"x", MIXC_DTYPE_FLOAT32, 2, d24, x, sizeof x};
  mixc_tensor out[2] = {{"z", MIXC_DTYPE_FLOAT32, 2, d24, z, 32}, {"y", MIXC_DTYPE_UNDEFINED, 0, NULL, y, sizeof y}};
  mixc_status st = mixc_run(s, &in, 1, out, 2);
  if (st) fprintf(stderr, "\n  run failed: %s\n", mixc_last_error());
  CU_ASSERT_EQUAL(st, MIXC_OK);
  static const float bias[4] = {1, -2, 3, -4};
  for (int i = 0; i < 8; i++) {
    CU_ASSERT_EQUAL(y[i], x[i] + bias[i % 4]);
    CU_ASSERT_EQUAL(z[i], fmaxf(x[i] + bias[i % 4], 0));
  }
  CU_ASSERT_EQUAL(z[8], 12345.0f);
  /* a subset of the outputs is fine */
  CU_ASSERT_EQUAL(mixc_run(s, &in, 1, &out[1], 1), MIXC_OK);

  /* argument validation: each names the tensor */
  mixc_tensor bad = in;
  bad.name = "w";
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "unknown input 'w'"));
  bad = in;
  bad.dtype = MIXC_DTYPE_FLOAT64;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "input 'x': dtype f64, expected f32[2,4]"));
  bad = in;
  bad.dims = d42;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "input 'x': shape [4,2], expected f32[2,4]"));
  bad = in;
  bad.rank = 1;
  bad.dims = d1;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  bad = in;
  bad.nbytes = 31;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "too small"));
  bad = in;
  bad.data = (char *)x + 1;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "aligned"));
  bad = in;
  bad.data = NULL;
  CU_ASSERT_EQUAL(mixc_run(s, &bad, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  mixc_tensor two[2] = {in, in};
  CU_ASSERT_EQUAL(mixc_run(s, two, 2, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "given twice"));
  CU_ASSERT_EQUAL(mixc_run(s, NULL, 0, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "missing input 'x' (f32[2,4])"));
  CU_ASSERT_EQUAL(mixc_run(s, NULL, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  mixc_tensor o2[2] = {out[0], out[1]};
  o2[0].nbytes = 31;
  CU_ASSERT_EQUAL(mixc_run(s, &in, 1, o2, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "output 'z': buffer of 31 bytes is too small"));
  o2[0] = out[0];
  o2[0].dtype = MIXC_DTYPE_INT32;
  CU_ASSERT_EQUAL(mixc_run(s, &in, 1, o2, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "output 'z'"));
  o2[0] = out[0];
  o2[0].name = "x";
  CU_ASSERT_EQUAL(mixc_run(s, &in, 1, o2, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "unknown output 'x'"));
  CU_ASSERT_EQUAL(mixc_run(NULL, &in, 1, out, 2), MIXC_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(z[8], 12345.0f);
  /* the session still works after all that */
  CU_ASSERT_EQUAL(mixc_run(s, &in, 1, out, 2), MIXC_OK);
  CU_ASSERT_EQUAL(z[1], 0.0f);
  mixc_session_free(s);
  mixc_model_free(m);
}

static void test_api_interp(void) { run_model_checks(1); }
static void test_api_jit(void) { run_model_checks(0); }

/* A Gather whose index is out of range at run time: MIXC_ERR_RUNTIME with the
 * kernel's message and the node's name. */
static void test_api_runtime_error(void) {
  static const char mir[] =
      "// mixc IR\n"
      "graph \"g\" {\n"
      "  opset \"\" 17\n"
      "  input %i : i64[2]\n"
      "  const %data : f32[3] = [1.0, 2.0, 3.0]\n"
      "  %y : f32[2] = Gather(%data, %i) {axis = 0} @lookup #0\n"
      "  output %y\n"
      "}\n";
  for (int interp = 1; interp >= 0; interp--) {
    mixc_options o = {.interpret = interp};
    mixc_model *m;
    mixc_status st = mixc_compile_memory(mir, sizeof mir - 1, &o, &m);
    if (st) fprintf(stderr, "\n  compile failed: %s\n", mixc_last_error());
    CU_ASSERT_EQUAL_FATAL(st, MIXC_OK);
    mixc_session *s;
    CU_ASSERT_EQUAL_FATAL(mixc_session_create(m, &s), MIXC_OK);
    int64_t idx[2] = {2, 0}, d2[] = {2};
    float y[2];
    mixc_tensor in = {"i", MIXC_DTYPE_INT64, 1, d2, idx, sizeof idx};
    mixc_tensor out = {"y", MIXC_DTYPE_FLOAT32, 1, d2, y, sizeof y};
    CU_ASSERT_EQUAL(mixc_run(s, &in, 1, &out, 1), MIXC_OK);
    CU_ASSERT_EQUAL(y[0], 3.0f);
    CU_ASSERT_EQUAL(y[1], 1.0f);
    idx[1] = 7;
    CU_ASSERT_EQUAL(mixc_run(s, &in, 1, &out, 1), MIXC_ERR_RUNTIME);
    CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "lookup"));
    CU_ASSERT_PTR_NOT_NULL(strstr(mixc_last_error(), "7"));
    idx[1] = 1;
    CU_ASSERT_EQUAL(mixc_run(s, &in, 1, &out, 1), MIXC_OK);
    mixc_session_free(s);
    mixc_model_free(m);
  }
}

void runtime_suite_register(void) {
  CU_pSuite s = CU_add_suite("runtime", suite_init, suite_clean);
  CU_add_test(s, "npy round trip, every dtype", test_npy_roundtrip_all_dtypes);
  CU_add_test(s, "npy: numpy's bytes, versions 1-3", test_npy_numpy_bytes);
  CU_add_test(s, "npy: malformed files", test_npy_malformed);
  CU_add_test(s, "pb: bytes from onnx", test_pb_onnx_bytes);
  CU_add_test(s, "pb: typed fields, packed and not", test_pb_typed_fields);
  CU_add_test(s, "pb: malformed messages", test_pb_malformed);
  CU_add_test(s, "truncated and mutated files", test_fuzz);
  CU_add_test(s, "name sanitizing, shape text", test_sanitize);
  CU_add_test(s, "harness: flags, checks, exit codes", test_harness);
  CU_add_test(s, "api: compile errors", test_api_compile_errors);
  CU_add_test(s, "api: run and argument checks (interp)", test_api_interp);
  CU_add_test(s, "api: run and argument checks (jit)", test_api_jit);
  CU_add_test(s, "api: run-time data errors", test_api_runtime_error);
}
