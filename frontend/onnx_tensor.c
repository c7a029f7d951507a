/* onnx_tensor.c - TensorProto and TypeProto decoding: dtypes, dims, raw_data,
 * the typed data fields, and external data files mapped next to the model.
 *
 * Requires: the decoded ModelProto stays alive for the graph's lifetime (the
 * importer hands it to ir_graph_own), so tensors may point into its raw_data and
 * typed arrays. Mapped external files are owned by the graph too. Every size is
 * checked against the dims before any byte is touched. */
#define _XOPEN_SOURCE 700 /* realpath, strndup, O_CLOEXEC */
#include "frontend/fe_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* "f32[2,3]" for messages, in the graph's arena. */
static const char *tensor_desc(fe_imp *im, ir_dtype dt, int rank, const int64_t *dims) {
  char buf[256];
  size_t k = (size_t)snprintf(buf, sizeof buf, "%s[", ir_dtype_name(dt));
  for (int i = 0; i < rank && k < sizeof buf; i++)
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (k < sizeof buf) snprintf(buf + k, sizeof buf - k, "]");
  return ir_strdup(im->g->arena, buf);
}

/* Data that is not aligned for its element type is copied into the arena, which
 * aligns to 16. Elements wider than 8 bytes (c128) need only 8. */
static void *place(fe_imp *im, const void *p, size_t nbytes, size_t elem) {
  size_t align = elem > 8 ? 8 : elem ? elem : 1;
  if ((uintptr_t)p % align == 0) return (void *)p;
  void *q = ir_alloc(im->g->arena, nbytes);
  memcpy(q, p, nbytes);
  return q;
}

/* ---- external data ---------------------------------------------------------------- */
static void unmap_file(void *p, size_t len) { munmap(p, len); }

/* A non-negative decimal integer, the whole string. */
static bool parse_size(const char *s, int64_t *out) {
  if (!s || *s < '0' || *s > '9') return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < 0) return false;
  *out = v;
  return true;
}

/* A location is a relative path that never climbs out with "..". */
static const char *bad_location(const char *loc) {
  if (!*loc) return "is empty";
  if (loc[0] == '/') return "must be a relative path";
  for (const char *p = loc; *p;) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') return "must not contain '..'";
    p += n;
    while (*p == '/') p++;
  }
  return NULL;
}

/* Finds or maps the file at realpath `real`. NULL when it cannot be used; the
 * failure is diagnosed once per file. */
static fe_extfile *ext_file(fe_imp *im, const fe_loc *loc, const char *what, const char *real,
                            const char *shown) {
  for (fe_extfile *f = im->files; f; f = f->next)
    if (!strcmp(f->path, real)) return f->failed ? NULL : f;
  fe_extfile *f = calloc(1, sizeof *f);
  char *path = strdup(real);
  if (!f || !path) MIXC_BUG("out of memory");
  f->path = path;
  f->next = im->files;
  im->files = f;
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fe_error(im, loc, -1, "%s: cannot open external data file '%s': %s", what, shown,
             strerror(errno));
    f->failed = true;
  } else if (!S_ISREG(st.st_mode)) {
    fe_error(im, loc, -1, "%s: external data file '%s' is not a regular file", what, shown);
    f->failed = true;
  } else if (st.st_size > 0) {
    f->size = (size_t)st.st_size;
    void *m = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      fe_error(im, loc, -1, "%s: cannot map external data file '%s': %s", what, shown,
               strerror(errno));
      f->failed = true;
    } else {
      f->map = m;
      ir_graph_own(im->g, m, f->size, unmap_file);
    }
  }
  if (fd >= 0) close(fd);
  return f->failed ? NULL : f;
}

static bool ext_data(fe_imp *im, const fe_loc *loc, const char *what,
                     const Onnx__TensorProto *tp, ir_tensor *t) {
  const char *location = NULL, *off_s = NULL, *len_s = NULL;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    if (!e->key) continue;
    if (!strcmp(e->key, "location")) location = e->value ? e->value : "";
    else if (!strcmp(e->key, "offset")) off_s = e->value ? e->value : "";
    else if (!strcmp(e->key, "length")) len_s = e->value ? e->value : "";
    /* "checksum" and unknown keys are ignored, as ONNX Runtime does. */
  }
  if (t->dtype == IR_STRING) {
    fe_error(im, loc, -1, "%s: string tensors cannot use external data", what);
    return false;
  }
  if (!location) {
    fe_error(im, loc, -1, "%s: external data without a 'location'", what);
    return false;
  }
  const char *why = bad_location(location);
  if (why) {
    fe_error(im, loc, -1, "%s: external data location '%s' %s", what, location, why);
    return false;
  }
  int64_t off = 0, len = -1;
  if (off_s && !parse_size(off_s, &off)) {
    fe_error(im, loc, -1, "%s: bad external data offset '%s'", what, off_s);
    return false;
  }
  if (len_s && !parse_size(len_s, &len)) {
    fe_error(im, loc, -1, "%s: bad external data length '%s'", what, len_s);
    return false;
  }
  if (!im->base_dir) {
    fe_error(im, loc, -1,
             "%s: external data '%s' is not allowed (the model was not read from a file)", what,
             location);
    return false;
  }
  if (!im->base_real && !im->base_failed) {
    im->base_real = realpath(im->base_dir, NULL);
    if (!im->base_real) {
      fe_error(im, NULL, -1, "cannot resolve the model's directory '%s': %s", im->base_dir,
               strerror(errno));
      im->base_failed = true;
    }
  }
  if (!im->base_real) return false;

  size_t nb = strlen(im->base_real), nl = strlen(location);
  char *full = malloc(nb + nl + 2);
  if (!full) MIXC_BUG("out of memory");
  memcpy(full, im->base_real, nb);
  full[nb] = '/';
  memcpy(full + nb + 1, location, nl + 1);
  char *real = realpath(full, NULL);
  int err = errno;
  free(full);
  if (!real) {
    if (err == ENOENT)
      fe_error(im, loc, -1, "%s: external data file '%s' not found", what, location);
    else
      fe_error(im, loc, -1, "%s: external data file '%s': %s", what, location, strerror(err));
    return false;
  }
  /* Symlinks may not lead outside the model's directory. (The directory
   * itself, e.g. location ".", is inside: ext_file says it is not a file.) */
  bool inside = !strcmp(im->base_real, "/") ||
                (!strncmp(real, im->base_real, nb) && (real[nb] == '/' || !real[nb]));
  if (!inside) {
    fe_error(im, loc, -1, "%s: external data file '%s' resolves outside the model's directory",
             what, location);
    free(real);
    return false;
  }
  fe_extfile *f = ext_file(im, loc, what, real, location);
  free(real);
  if (!f) return false;
  if ((uint64_t)off > f->size) {
    fe_error(im, loc, -1, "%s: external data offset %lld is past the end of '%s' (%zu bytes)",
             what, (long long)off, location, f->size);
    return false;
  }
  if (len < 0) len = (int64_t)(f->size - (size_t)off);
  if ((uint64_t)len > f->size - (size_t)off) {
    fe_error(im, loc, -1,
             "%s: external data [%lld, %lld) is past the end of '%s' (%zu bytes)", what,
             (long long)off, (long long)off + len, location, f->size);
    return false;
  }
  if ((uint64_t)len != t->nbytes) {
    fe_error(im, loc, -1, "%s: external data holds %lld bytes, expected %zu for %s", what,
             (long long)len, t->nbytes, tensor_desc(im, t->dtype, t->rank, t->dims));
    return false;
  }
  t->data = t->nbytes ? place(im, f->map + off, t->nbytes, ir_dtype_size(t->dtype)) : NULL;
  return true;
}

/* ---- typed data fields -------------------------------------------------------------- */
typedef enum { F_FLOAT, F_INT32, F_STRING, F_INT64, F_DOUBLE, F_UINT64, F_NFIELDS } field;
static const char *field_names[F_NFIELDS] = {"float_data", "int32_data", "string_data",
                                             "int64_data", "double_data", "uint64_data"};

/* The field ONNX stores each dtype's typed data in. */
static field field_of(ir_dtype t) {
  switch (t) {
  case IR_F32: case IR_C64: return F_FLOAT;
  case IR_F64: case IR_C128: return F_DOUBLE;
  case IR_I64: return F_INT64;
  case IR_U32: case IR_U64: return F_UINT64;
  case IR_STRING: return F_STRING;
  default: return F_INT32; /* i32 i16 i8 u8 u16 bool f16 bf16 */
  }
}

static bool typed_data(fe_imp *im, const fe_loc *loc, const char *what,
                       const Onnx__TensorProto *tp, ir_tensor *t) {
  size_t counts[F_NFIELDS] = {tp->n_float_data, tp->n_int32_data, tp->n_string_data,
                              tp->n_int64_data, tp->n_double_data, tp->n_uint64_data};
  field f = field_of(t->dtype);
  size_t want = (size_t)t->numel * (t->dtype == IR_C64 || t->dtype == IR_C128 ? 2 : 1);
  if (counts[f] != want) {
    const char *desc = tensor_desc(im, t->dtype, t->rank, t->dims);
    int other = -1;
    for (int i = 0; i < F_NFIELDS; i++)
      if (i != (int)f && counts[i]) other = i;
    if (!counts[f] && other >= 0)
      fe_error(im, loc, -1, "%s: %s data must be in %s, found %s", what,
               ir_dtype_name(t->dtype), field_names[f], field_names[other]);
    else if (!counts[f])
      fe_error(im, loc, -1, "%s: no data (expected %zu elements for %s)", what, want, desc);
    else
      fe_error(im, loc, -1, "%s: %s holds %zu elements, expected %zu for %s", what,
               field_names[f], counts[f], want, desc);
    return false;
  }
  if (!want) return true;
  ir_arena *a = im->g->arena;
  size_t n = (size_t)t->numel;
  switch (t->dtype) {
  case IR_F32: case IR_C64: t->data = tp->float_data; break;
  case IR_F64: case IR_C128: t->data = tp->double_data; break;
  case IR_I64: t->data = tp->int64_data; break;
  case IR_U64: t->data = tp->uint64_data; break;
  case IR_I32: t->data = tp->int32_data; break;
  case IR_U32: {
    uint32_t *p = ir_alloc(a, n * 4);
    for (size_t i = 0; i < n; i++) p[i] = (uint32_t)tp->uint64_data[i];
    t->data = p;
    break;
  }
  case IR_I16: case IR_U16: case IR_F16: case IR_BF16: { /* f16/bf16: the bit pattern */
    uint16_t *p = ir_alloc(a, n * 2);
    for (size_t i = 0; i < n; i++) p[i] = (uint16_t)tp->int32_data[i];
    t->data = p;
    break;
  }
  case IR_I8: case IR_U8: {
    uint8_t *p = ir_alloc(a, n);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)tp->int32_data[i];
    t->data = p;
    break;
  }
  case IR_BOOL: {
    uint8_t *p = ir_alloc(a, n);
    for (size_t i = 0; i < n; i++) p[i] = tp->int32_data[i] != 0;
    t->data = p;
    break;
  }
  case IR_STRING: {
    const char **p = ir_alloc(a, n * sizeof *p);
    for (size_t i = 0; i < n; i++)
      p[i] = ir_strndup(a, (const char *)tp->string_data[i].data, tp->string_data[i].len);
    t->data = (void *)p;
    break;
  }
  default: MIXC_BUG("typed_data: dtype %d", (int)t->dtype);
  }
  return true;
}

/* ---- tensors ------------------------------------------------------------------------- */
ir_tensor *fe_tensor_decode(fe_imp *im, const fe_loc *loc, const char *what,
                            const Onnx__TensorProto *tp) {
  if (!tp->has_data_type || tp->data_type == 0) {
    fe_error(im, loc, -1, "%s: no data type", what);
    return NULL;
  }
  if (!ir_dtype_valid(tp->data_type)) {
    fe_error(im, loc, -1, "%s: unsupported data type %d", what, (int)tp->data_type);
    return NULL;
  }
  ir_dtype dt = (ir_dtype)tp->data_type;
  if (tp->n_dims > IR_MAX_RANK) {
    fe_error(im, loc, -1, "%s: rank %zu is larger than %d", what, tp->n_dims, IR_MAX_RANK);
    return NULL;
  }
  int rank = (int)tp->n_dims;
  for (int i = 0; i < rank; i++)
    if (tp->dims[i] < 0) {
      fe_error(im, loc, -1, "%s: negative dimension %lld", what, (long long)tp->dims[i]);
      return NULL;
    }
  int64_t numel = ir_numel(rank, tp->dims);
  if (numel < 0) {
    fe_error(im, loc, -1, "%s: %s has too many elements", what,
             tensor_desc(im, dt, rank, tp->dims));
    return NULL;
  }
  if (tp->segment) {
    fe_error(im, loc, -1, "%s: segmented tensors are not supported", what);
    return NULL;
  }
  ir_arena *a = im->g->arena;
  ir_tensor *t = ir_alloc(a, sizeof *t);
  t->dtype = dt;
  t->rank = rank;
  t->dims = ir_alloc(a, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  if (rank) memcpy(t->dims, tp->dims, sizeof(int64_t) * (size_t)rank);
  t->numel = numel;
  t->nbytes = (size_t)numel * ir_dtype_size(dt); /* numel <= 2^40, size <= 16 */
  t->name = tp->name ? ir_strdup(a, tp->name) : NULL;

  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return ext_data(im, loc, what, tp, t) ? t : NULL;
  size_t ntyped = tp->n_float_data + tp->n_int32_data + tp->n_string_data + tp->n_int64_data +
                  tp->n_double_data + tp->n_uint64_data;
  if (tp->has_raw_data && ntyped) {
    fe_error(im, loc, -1, "%s: has both raw_data and typed data", what);
    return NULL;
  }
  if (tp->has_raw_data) {
    if (dt == IR_STRING) {
      fe_error(im, loc, -1, "%s: string tensors cannot use raw_data", what);
      return NULL;
    }
    if (tp->raw_data.len != t->nbytes) {
      fe_error(im, loc, -1, "%s: raw_data holds %zu bytes, expected %zu for %s", what,
               tp->raw_data.len, t->nbytes, tensor_desc(im, dt, rank, t->dims));
      return NULL;
    }
    t->data = t->nbytes ? place(im, tp->raw_data.data, t->nbytes, ir_dtype_size(dt)) : NULL;
    return t;
  }
  return typed_data(im, loc, what, tp, t) ? t : NULL;
}

/* ---- types ------------------------------------------------------------------------------ */
bool fe_type_decode(fe_imp *im, const fe_loc *loc, const char *what, const Onnx__TypeProto *tp,
                    ir_type *out) {
  *out = (ir_type){IR_UNDEF, -1, NULL};
  if (!tp) return true;
  switch (tp->value_case) {
  case ONNX__TYPE_PROTO__VALUE__NOT_SET: return true;
  case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE: break;
  case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
    fe_error(im, loc, -1, "%s: unsupported type (sequence)", what);
    return false;
  case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
    fe_error(im, loc, -1, "%s: unsupported type (map)", what);
    return false;
  case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
    fe_error(im, loc, -1, "%s: unsupported type (optional)", what);
    return false;
  case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
    fe_error(im, loc, -1, "%s: unsupported type (sparse tensor)", what);
    return false;
  default:
    fe_error(im, loc, -1, "%s: unsupported type (case %d)", what, (int)tp->value_case);
    return false;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (!tt) return true;
  ir_type ty = {IR_UNDEF, -1, NULL};
  if (tt->has_elem_type && tt->elem_type != 0) {
    if (!ir_dtype_valid(tt->elem_type)) {
      fe_error(im, loc, -1, "%s: unsupported element type %d", what, (int)tt->elem_type);
      return false;
    }
    ty.dtype = (ir_dtype)tt->elem_type;
  }
  if (tt->shape) {
    const Onnx__TensorShapeProto *sp = tt->shape;
    if (sp->n_dim > IR_MAX_RANK) {
      fe_error(im, loc, -1, "%s: rank %zu is larger than %d", what, sp->n_dim, IR_MAX_RANK);
      return false;
    }
    ty.rank = (int)sp->n_dim;
    ty.dims = ir_alloc(im->g->arena, sizeof(ir_dim) * (size_t)(ty.rank ? ty.rank : 1));
    int64_t prod = 1;
    for (int i = 0; i < ty.rank; i++) {
      const Onnx__TensorShapeProto__Dimension *dp = sp->dim[i];
      ir_dim dm = {-1, NULL};
      if (dp->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
        if (dp->dim_value < 0) {
          fe_error(im, loc, -1, "%s: negative dimension %lld", what, (long long)dp->dim_value);
          return false;
        }
        dm.v = dp->dim_value;
        if (dm.v && prod > IR_MAX_ELEMS / dm.v) prod = IR_MAX_ELEMS + 1;
        else prod *= dm.v;
      } else if (dp->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                 dp->dim_param && *dp->dim_param) {
        dm.sym = ir_strdup(im->g->arena, dp->dim_param);
      }
      ty.dims[i] = dm;
    }
    if (prod > IR_MAX_ELEMS) {
      fe_error(im, loc, -1, "%s: too many elements (more than 2^40)", what);
      return false;
    }
  }
  *out = ty;
  return true;
}

void fe_tensor_cleanup(fe_imp *im) {
  for (fe_extfile *f = im->files, *n; f; f = n) {
    n = f->next;
    free(f->path);
    free(f);
  }
  im->files = NULL;
  free(im->base_real);
  im->base_real = NULL;
}
