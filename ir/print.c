/* print.c - the .mir text printer: ir_print, ir_print_ex, ir_print_to_string and
 * ir_type_str. The format is specified in docs/mir.md; ir/parse.c reads it back,
 * and print(parse(print(g))) must equal print(g) byte for byte, so every choice
 * made here (quoting, float spelling, inline-vs-blob) is a function of the graph
 * alone and is undone exactly by the parser.
 *
 * Requires: ir.h and core.c (dtype names, op full names, graph opsets). Only reads
 * the graph; never touches the scratch `id` fields. Tolerates malformed graphs
 * (NULL values, bad dtypes): it prints something the parser rejects rather than
 * crashing, because dumps are how broken graphs get debugged. */
#include "ir.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- output sink: a buffer flushed to a FILE, or grown into a string -------- */
typedef struct {
  FILE *f;        /* NULL: accumulate the whole text in buf */
  char *buf;
  size_t len, cap;
  bool oom;
} out;

enum { FLUSH_AT = 1 << 16 };

static void out_flush(out *o) {
  if (o->f && o->len) {
    fwrite(o->buf, 1, o->len, o->f);
    o->len = 0;
  }
}

/* Makes room for n more bytes; false (and o->oom) if memory runs out. */
static bool out_room(out *o, size_t n) {
  if (o->oom) return false;
  if (o->f && o->len + n > FLUSH_AT) out_flush(o);
  if (o->len + n + 1 <= o->cap) return true;
  size_t cap = o->cap ? o->cap : 4096;
  while (cap < o->len + n + 1) {
    if (cap > SIZE_MAX / 2) {
      o->oom = true;
      return false;
    }
    cap *= 2;
  }
  char *p = realloc(o->buf, cap);
  if (!p) {
    o->oom = true;
    return false;
  }
  o->buf = p;
  o->cap = cap;
  return true;
}

static void put(out *o, const char *s, size_t n) {
  if (!out_room(o, n)) return;
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void putc_(out *o, char c) { put(o, &c, 1); }

static void put_i64(out *o, int64_t v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%" PRId64, v);
  put(o, b, (size_t)n);
}

static void put_u64(out *o, uint64_t v) {
  char b[32];
  int n = snprintf(b, sizeof b, "%" PRIu64, v);
  put(o, b, (size_t)n);
}

/* ---- names and strings -------------------------------------------------------- */
/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if it is not one. */
static int utf8_len(const unsigned char *s, size_t n) {
  int k;
  uint32_t c;
  if (s[0] < 0xc2) return 0;
  else if (s[0] < 0xe0) k = 2, c = s[0] & 0x1f;
  else if (s[0] < 0xf0) k = 3, c = s[0] & 0x0f;
  else if (s[0] < 0xf5) k = 4, c = s[0] & 0x07;
  else return 0;
  if ((size_t)k > n) return 0;
  for (int i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3f);
  }
  if ((k == 3 && c < 0x800) || (k == 4 && (c < 0x10000 || c > 0x10ffff)) ||
      (c >= 0xd800 && c <= 0xdfff))
    return 0;
  return k;
}

/* A quoted string with C escapes; valid UTF-8 is kept as is so names read well. */
static void put_quoted(out *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  putc_(o, '"');
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    if (c == '\\' || c == '"') {
      char e[2] = {'\\', (char)c};
      put(o, e, 2);
    } else if (c == '\n') {
      put(o, "\\n", 2);
    } else if (c == '\t') {
      put(o, "\\t", 2);
    } else if (c >= 0x20 && c < 0x7f) {
      putc_(o, (char)c);
    } else {
      int k = c >= 0x80 ? utf8_len(u + i, n - i) : 0;
      if (k) {
        put(o, s + i, (size_t)k);
        i += (size_t)k;
        continue;
      }
      char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
      put(o, e, 4);
    }
    i++;
  }
  putc_(o, '"');
}

static void put_qstr(out *o, const char *s) {
  if (!s) s = "";
  put_quoted(o, s, strlen(s));
}

/* Names print bare when they match [A-Za-z0-9_.:/-]+, are not "_" and hold no
 * "//" (which would read as a comment). */
static bool bare_name(const char *s) {
  if (!*s || (s[0] == '_' && !s[1])) return false;
  for (const char *p = s; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == ':' || c == '/' || c == '-'))
      return false;
    if (c == '/' && p[1] == '/') return false;
  }
  return true;
}

static void put_name(out *o, const char *s) {
  if (!s) s = "";
  if (bare_name(s)) puts_(o, s);
  else put_qstr(o, s);
}

static void put_value(out *o, const ir_value *v) {
  if (!v) {
    puts_(o, "%<null>");
    return;
  }
  putc_(o, '%');
  put_name(o, v->name);
}

/* ---- numbers ------------------------------------------------------------------ */
/* Floats print in the shortest form that reads back to the same bits, in plain
 * notation for moderate magnitudes, and always look like floats ("1.0", "1e-05",
 * "inf", "nan"), so that the parser can tell them from integers. */
static bool f32_back(const char *s, float v) {
  float w = strtof(s, NULL);
  return !memcmp(&w, &v, sizeof v);
}
static bool f64_back(const char *s, double v) {
  double w = strtod(s, NULL);
  return !memcmp(&w, &v, sizeof v);
}

/* Writes v into b (64 bytes); returns whether the text reads back exactly. */
static bool fmt_real(char *b, double v, bool f32) {
  float vf = (float)v;
  int maxp = f32 ? 9 : 17;
  bool ok = false;
  for (int p = 1; p <= maxp && !ok; p++) {
    snprintf(b, 64, "%.*g", p, v);
    ok = f32 ? f32_back(b, vf) : f64_back(b, v);
  }
  char *e = strchr(b, 'e');
  if (ok && e && e[1] == '+') { /* 1e+02 -> 100.0 */
    int x = atoi(e + 2);
    if (x <= 6) {
      int digits = (int)(e - b) - (b[0] == '-') - (strchr(b, '.') != NULL);
      int frac = digits - 1 - x;
      char t[64];
      snprintf(t, sizeof t, "%.*f", frac > 0 ? frac : 0, v);
      if (f32 ? f32_back(t, vf) : f64_back(t, v)) memcpy(b, t, sizeof t);
    }
  }
  if (!strpbrk(b, ".eni")) strcat(b, ".0");
  return ok;
}

static void put_f32(out *o, float v) {
  char b[64];
  fmt_real(b, v, true);
  puts_(o, b);
}

/* ---- types -------------------------------------------------------------------- */
static bool ident(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
      return false;
  return true;
}

static void put_dtype(out *o, ir_dtype t) { puts_(o, ir_dtype_name(t)); }

static void put_type(out *o, const ir_type *t) {
  put_dtype(o, t->dtype);
  putc_(o, '[');
  if (t->rank < 0 || (t->rank > 0 && !t->dims)) {
    putc_(o, '*');
  } else {
    for (int i = 0; i < t->rank; i++) {
      if (i) putc_(o, ',');
      ir_dim d = t->dims[i];
      if (d.sym) {
        if (ident(d.sym)) puts_(o, d.sym);
        else put_qstr(o, d.sym);
      } else if (d.v >= 0) {
        put_i64(o, d.v);
      } else {
        putc_(o, '?');
      }
    }
  }
  putc_(o, ']');
}

static void put_tensor_type(out *o, const ir_tensor *t) {
  put_dtype(o, t->dtype);
  putc_(o, '[');
  for (int i = 0; i < t->rank && t->dims; i++) {
    if (i) putc_(o, ',');
    put_i64(o, t->dims[i]);
  }
  putc_(o, ']');
}

char *ir_type_str(ir_arena *a, const ir_type *t) {
  out o = {0};
  put_type(&o, t);
  char *s = ir_strndup(a, o.oom ? "?" : o.buf, o.oom ? 1 : o.len);
  free(o.buf);
  return s;
}

/* ---- tensors: inline elements or a numbered blob ----------------------------- */
typedef struct {
  out o;
  unsigned flags;
  const ir_tensor **blobs; /* in reference order; printed after the graph */
  int nblobs, capblobs;
} printer;

static int64_t tensor_numel(const ir_tensor *t) {
  if (t->rank < 0 || t->rank > IR_MAX_RANK || (t->rank && !t->dims)) return -1;
  return ir_numel(t->rank, t->dims);
}

static bool inline_dtype(ir_dtype d) {
  switch (d) {
  case IR_F32: case IR_F64: case IR_I8: case IR_I16: case IR_I32: case IR_I64:
  case IR_U8: case IR_U16: case IR_U32: case IR_U64: case IR_BOOL:
    return true;
  default:
    return false;
  }
}

/* Inline when small, of a printable dtype, and when the text reads back to the
 * very same bytes (NaN payloads, bools other than 0/1 go to a blob). */
static bool tensor_inline(const ir_tensor *t) {
  int64_t n = tensor_numel(t);
  if (n < 0) return false;
  if (t->dtype == IR_STRING) return n == 0 || t->data;
  if (!inline_dtype(t->dtype) || n > 16) return false;
  if (n && (!t->data || t->nbytes < (size_t)n * ir_dtype_size(t->dtype))) return false;
  char b[64];
  for (int64_t i = 0; i < n; i++) {
    if (t->dtype == IR_F32 && !fmt_real(b, ((const float *)t->data)[i], true)) return false;
    if (t->dtype == IR_F64 && !fmt_real(b, ((const double *)t->data)[i], false)) return false;
    if (t->dtype == IR_BOOL && ((const uint8_t *)t->data)[i] > 1) return false;
  }
  return true;
}

static void put_elem(out *o, const ir_tensor *t, int64_t i) {
  const void *p = t->data;
  char b[64];
  switch (t->dtype) {
  case IR_F32: fmt_real(b, ((const float *)p)[i], true); puts_(o, b); break;
  case IR_F64: fmt_real(b, ((const double *)p)[i], false); puts_(o, b); break;
  case IR_I8: put_i64(o, ((const int8_t *)p)[i]); break;
  case IR_I16: put_i64(o, ((const int16_t *)p)[i]); break;
  case IR_I32: put_i64(o, ((const int32_t *)p)[i]); break;
  case IR_I64: put_i64(o, ((const int64_t *)p)[i]); break;
  case IR_U8: put_u64(o, ((const uint8_t *)p)[i]); break;
  case IR_U16: put_u64(o, ((const uint16_t *)p)[i]); break;
  case IR_U32: put_u64(o, ((const uint32_t *)p)[i]); break;
  case IR_U64: put_u64(o, ((const uint64_t *)p)[i]); break;
  case IR_BOOL: puts_(o, ((const uint8_t *)p)[i] ? "true" : "false"); break;
  case IR_STRING: put_qstr(o, ((const char *const *)p)[i]); break;
  default: MIXC_BUG("put_elem: dtype %d is not printed inline", (int)t->dtype);
  }
}

/* The part after "= ": `[...]` or `blob N`. */
static void put_tensor_data(printer *pr, const ir_tensor *t) {
  out *o = &pr->o;
  if (tensor_inline(t)) {
    int64_t n = tensor_numel(t);
    putc_(o, '[');
    for (int64_t i = 0; i < n; i++) {
      if (i) puts_(o, ", ");
      put_elem(o, t, i);
    }
    putc_(o, ']');
    return;
  }
  if (pr->nblobs == pr->capblobs) {
    int cap = pr->capblobs ? pr->capblobs * 2 : 16;
    const ir_tensor **b = realloc(pr->blobs, sizeof *b * (size_t)cap);
    if (!b) {
      o->oom = true;
      return;
    }
    pr->blobs = b;
    pr->capblobs = cap;
  }
  puts_(o, "blob ");
  put_i64(o, pr->nblobs);
  pr->blobs[pr->nblobs++] = t;
}

static void put_blob(printer *pr, int k) {
  static const char hex[] = "0123456789abcdef";
  out *o = &pr->o;
  const ir_tensor *t = pr->blobs[k];
  size_t n = t->data ? t->nbytes : 0;
  puts_(o, "blob ");
  put_i64(o, k);
  if (pr->flags & IR_PRINT_ELIDE) {
    puts_(o, " = <elided ");
    put_u64(o, n);
    puts_(o, " bytes>\n");
    return;
  }
  puts_(o, " = hex \"");
  const unsigned char *p = t->data;
  for (size_t i = 0; i < n;) {
    size_t m = n - i < 8192 ? n - i : 8192;
    if (!out_room(o, 2 * m)) return;
    char *w = o->buf + o->len;
    for (size_t j = 0; j < m; j++) {
      w[2 * j] = hex[p[i + j] >> 4];
      w[2 * j + 1] = hex[p[i + j] & 15];
    }
    o->len += 2 * m;
    i += m;
  }
  puts_(o, "\"\n");
}

static void put_tensor(printer *pr, const ir_tensor *t) {
  if (!t) {
    puts_(&pr->o, "tensor <null>");
    return;
  }
  puts_(&pr->o, "tensor ");
  put_tensor_type(&pr->o, t);
  puts_(&pr->o, " = ");
  put_tensor_data(pr, t);
}

/* ---- attributes --------------------------------------------------------------- */
static void put_attr(printer *pr, const ir_attr *a) {
  out *o = &pr->o;
  put_name(o, a->name);
  puts_(o, " = ");
  switch (a->kind) {
  case IR_ATTR_INT: put_i64(o, a->i); break;
  case IR_ATTR_FLOAT: put_f32(o, a->f); break;
  case IR_ATTR_STRING:
    if (a->s) put_quoted(o, a->s, a->slen);
    else put_quoted(o, "", 0);
    break;
  case IR_ATTR_TENSOR: put_tensor(pr, a->t); break;
  case IR_ATTR_INTS: case IR_ATTR_FLOATS: case IR_ATTR_STRINGS: case IR_ATTR_TENSORS: {
    int n = a->n > 0 ? a->n : 0;
    if ((a->kind == IR_ATTR_INTS && !a->ints) || (a->kind == IR_ATTR_FLOATS && !a->floats) ||
        (a->kind == IR_ATTR_STRINGS && !a->strings) || (a->kind == IR_ATTR_TENSORS && !a->tensors))
      n = 0;
    if (!n) {
      puts_(o, a->kind == IR_ATTR_INTS     ? "[]:i"
               : a->kind == IR_ATTR_FLOATS ? "[]:f"
               : a->kind == IR_ATTR_STRINGS ? "[]:s"
                                            : "[]:t");
      break;
    }
    putc_(o, '[');
    for (int i = 0; i < n; i++) {
      if (i) puts_(o, ", ");
      if (a->kind == IR_ATTR_INTS) put_i64(o, a->ints[i]);
      else if (a->kind == IR_ATTR_FLOATS) put_f32(o, a->floats[i]);
      else if (a->kind == IR_ATTR_STRINGS) put_qstr(o, a->strings[i]);
      else put_tensor(pr, a->tensors[i]);
    }
    putc_(o, ']');
    break;
  }
  case IR_ATTR_GRAPH: puts_(o, "<graph>"); break;
  case IR_ATTR_GRAPHS: puts_(o, "<graphs>"); break;
  case IR_ATTR_SPARSE_TENSOR: puts_(o, "<sparse_tensor>"); break;
  case IR_ATTR_SPARSE_TENSORS: puts_(o, "<sparse_tensors>"); break;
  case IR_ATTR_TYPE_PROTO: puts_(o, "<type_proto>"); break;
  case IR_ATTR_TYPE_PROTOS: puts_(o, "<type_protos>"); break;
  default: puts_(o, "<undef>"); break;
  }
}

/* ---- the graph ---------------------------------------------------------------- */
static void put_node(printer *pr, const ir_graph *g, const ir_node *n) {
  out *o = &pr->o;
  puts_(o, "  ");
  for (int i = 0; i < n->nout; i++) {
    if (i) puts_(o, ", ");
    const ir_value *v = n->out ? n->out[i] : NULL;
    if (!v) {
      putc_(o, '_');
      continue;
    }
    put_value(o, v);
    puts_(o, " : ");
    put_type(o, &v->type);
  }
  if (n->nout > 0) putc_(o, ' ');
  puts_(o, "= ");
  if ((unsigned)n->op < IR_OP_COUNT) puts_(o, ir_op_fullname(n->op));
  else puts_(o, "<bad-op>");
  putc_(o, '(');
  for (int i = 0; i < n->nin; i++) {
    if (i) puts_(o, ", ");
    const ir_value *v = n->in ? n->in[i] : NULL;
    if (v) put_value(o, v);
    else putc_(o, '_');
  }
  putc_(o, ')');
  if (n->nattr > 0 && n->attrs) {
    puts_(o, " {");
    for (int i = 0; i < n->nattr; i++) {
      if (i) puts_(o, ", ");
      put_attr(pr, &n->attrs[i]);
    }
    putc_(o, '}');
  }
  if (n->name && *n->name) {
    puts_(o, " @");
    put_name(o, n->name);
  }
  if (n->index != -1) {
    puts_(o, " #");
    put_i64(o, n->index);
  }
  /* Normally implied by the graph's opset line; spelled out when it differs. */
  if ((unsigned)n->op < IR_OP_COUNT &&
      n->opset != ir_graph_opset(g, ir_domain_name(ir_ops[n->op].domain))) {
    puts_(o, " opset ");
    put_i64(o, n->opset);
  }
  putc_(o, '\n');
}

static void print_graph(printer *pr, const ir_graph *g) {
  out *o = &pr->o;
  puts_(o, "// mixc IR\ngraph ");
  put_qstr(o, g->name);
  puts_(o, " {\n");
  if (g->ir_version) {
    puts_(o, "  ir_version ");
    put_i64(o, g->ir_version);
    putc_(o, '\n');
  }
  if (g->producer && *g->producer) {
    puts_(o, "  producer ");
    put_qstr(o, g->producer);
    putc_(o, '\n');
  }
  for (int i = 0; i < g->nopsets; i++) {
    puts_(o, "  opset ");
    put_qstr(o, g->opsets[i].domain);
    putc_(o, ' ');
    put_i64(o, g->opsets[i].version);
    putc_(o, '\n');
  }
  for (int i = 0; i < g->ninputs; i++) {
    const ir_value *v = g->inputs[i];
    puts_(o, "  input ");
    put_value(o, v);
    if (v) {
      puts_(o, " : ");
      put_type(o, &v->type);
    }
    putc_(o, '\n');
  }
  for (int i = 0; i < g->ninits; i++) {
    const ir_value *v = g->inits[i];
    puts_(o, "  const ");
    put_value(o, v);
    if (v && v->konst) {
      puts_(o, " : ");
      put_tensor_type(o, v->konst);
      puts_(o, " = ");
      put_tensor_data(pr, v->konst);
    } else {
      puts_(o, " = <null>");
    }
    putc_(o, '\n');
  }
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]) put_node(pr, g, g->nodes[i]);
  for (int i = 0; i < g->noutputs; i++) {
    puts_(o, "  output ");
    if (g->outputs[i]) put_value(o, g->outputs[i]);
    else putc_(o, '_');
    putc_(o, '\n');
  }
  puts_(o, "}\n");
  for (int k = 0; k < pr->nblobs; k++) put_blob(pr, k);
}

void ir_print_ex(const ir_graph *g, FILE *f, unsigned flags) {
  printer pr = {.o = {.f = f}, .flags = flags};
  print_graph(&pr, g);
  out_flush(&pr.o);
  free(pr.o.buf);
  free(pr.blobs);
}

void ir_print(const ir_graph *g, FILE *f) { ir_print_ex(g, f, 0); }

char *ir_print_to_string(const ir_graph *g, size_t *len) {
  printer pr = {0};
  print_graph(&pr, g);
  free(pr.blobs);
  if (pr.o.oom || !out_room(&pr.o, 1)) {
    free(pr.o.buf);
    if (len) *len = 0;
    return NULL;
  }
  pr.o.buf[pr.o.len] = 0;
  if (len) *len = pr.o.len;
  return pr.o.buf;
}
