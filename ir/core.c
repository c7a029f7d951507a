/* core.c - the IR's foundations: arenas, diagnostics, dtypes, tensors, values,
 * nodes, graphs, and the op table expanded from ops.def. Diagnostics quote the
 * model's names escaped and shortened (diag_put_str), so a hostile name cannot
 * reach the user's terminal raw.
 *
 * Requires: nothing but libc. Every allocation of a graph comes from its arena;
 * ir_alloc never returns NULL (out of memory is fatal, as in QBE's alloc()). */
#include "ir.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/utf8.h"

/* ---- bugs ------------------------------------------------------------------- */
void ir_bug(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "mixc: internal error at %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* ---- arena: a list of chunks; big requests get a chunk of their own ------- */
typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char mem[];
} chunk;
struct ir_arena {
  chunk *head;
};
enum { CHUNK = 64 * 1024 };

ir_arena *ir_arena_new(void) {
  ir_arena *a = calloc(1, sizeof *a);
  if (!a) MIXC_BUG("out of memory");
  return a;
}

void ir_arena_free(ir_arena *a) {
  if (!a) return;
  for (chunk *c = a->head, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(a);
}

void *ir_alloc(ir_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  chunk *c = a->head;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > CHUNK / 4 ? n : CHUNK;
    chunk *nc = malloc(sizeof *nc + cap);
    if (!nc) MIXC_BUG("out of memory allocating %zu bytes", n);
    nc->used = 0;
    nc->cap = cap;
    if (c && cap != CHUNK) { /* keep filling the current chunk */
      nc->next = c->next;
      c->next = nc;
    } else {
      nc->next = c;
      a->head = nc;
    }
    c = nc;
  }
  void *p = c->mem + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

void *ir_alloc_array(ir_arena *a, size_t n, size_t size) {
  if (size && n > ((size_t)1 << 40) / size) return NULL;
  return ir_alloc(a, n && size ? n * size : 1);
}

char *ir_strndup(ir_arena *a, const char *s, size_t n) {
  char *p = ir_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *ir_strdup(ir_arena *a, const char *s) { return ir_strndup(a, s, strlen(s)); }

char *ir_vsprintf(ir_arena *a, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *p = ir_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *ir_sprintf(ir_arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = ir_vsprintf(a, fmt, ap);
  va_end(ap);
  return p;
}

/* ---- diagnostics ------------------------------------------------------------ */
/* Diagnostics quote names from the model, which is untrusted: a name may hold
 * terminal escapes, invalid UTF-8 or a megabyte of text. Every string that
 * reaches a diagnostic (node name, op type, each %s argument) passes through
 * diag_put_str once, here: bytes that are not printable ASCII or well-formed,
 * printable UTF-8 are escaped (\n, \t, \r, \xNN; C1 controls and bidi
 * overrides too), and a string longer than DIAG_STR_MAX bytes keeps its head and
 * tail around "...". The message text itself comes from mixc, but a last pass
 * escapes any raw control byte left in it, so a diagnostic is always one line. */
enum { DIAG_STR_MAX = 200, DIAG_HEAD = 140, DIAG_TAIL = 56 };

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
  if (b->cap - b->n < n + 1) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->n < n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) MIXC_BUG("out of memory");
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_putn(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) MIXC_BUG("out of memory");
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_putn(b, big, (size_t)n);
  free(big);
}


static void put_escaped(sbuf *b, const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = mixc_utf8_printable(s + i, n - i);
    size_t j = i;
    while (k && j < n) { /* a printable run */
      j += k;
      k = j < n ? mixc_utf8_printable(s + j, n - j) : 0;
    }
    if (j > i) {
      sb_putn(b, (const char *)s + i, j - i);
      i = j;
      continue;
    }
    switch (s[i]) {
    case '\n': sb_putn(b, "\\n", 2); break;
    case '\t': sb_putn(b, "\\t", 2); break;
    case '\r': sb_putn(b, "\\r", 2); break;
    default: sb_printf(b, "\\x%02x", s[i]);
    }
    i++;
  }
}

/* A string from the model, escaped and, when long, elided in the middle. */
static void diag_put_str(sbuf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  if (n <= DIAG_STR_MAX) {
    put_escaped(b, s, n);
    return;
  }
  size_t h = DIAG_HEAD, t = n - DIAG_TAIL; /* cut on UTF-8 character boundaries */
  while (h > 0 && (s[h] & 0xc0) == 0x80) h--;
  while (t < n && (s[t] & 0xc0) == 0x80) t++;
  put_escaped(b, s, h);
  sb_putn(b, "...", 3);
  put_escaped(b, s + t, n - t);
}

static char *diag_str(ir_arena *a, const char *s) {
  sbuf b = {0};
  diag_put_str(&b, s, strlen(s));
  char *r = ir_strndup(a, b.p ? b.p : "", b.n);
  free(b.p);
  return r;
}

/* vsnprintf, with every %s argument through diag_put_str. The conversions are
 * C99's (the callers' formats are checked by the printf format attribute);
 * %n writes nothing. Other conversions are formatted by snprintf from a spec
 * rebuilt with explicit width and precision. */
static char *diag_vsprintf(ir_arena *a, const char *fmt, va_list ap) {
  sbuf b = {0};
  const char *f = fmt;
  while (*f) {
    if (*f != '%') {
      const char *e = strchr(f, '%');
      size_t n = e ? (size_t)(e - f) : strlen(f);
      sb_putn(&b, f, n);
      f += n;
      continue;
    }
    f++;
    char flags[8];
    size_t nf = 0;
    while (*f && strchr("-+ #0", *f)) {
      if (nf < sizeof flags - 2) flags[nf++] = *f;
      f++;
    }
    int width = -1, prec = -1;
    if (*f == '*') {
      width = va_arg(ap, int);
      f++;
      if (width < 0) {
        if (nf < sizeof flags - 2) flags[nf++] = '-';
        width = width == INT_MIN ? INT_MAX : -width;
      }
    } else {
      for (width = 0; *f >= '0' && *f <= '9'; f++)
        width = width < 100000 ? width * 10 + (*f - '0') : width;
    }
    flags[nf] = 0;
    if (*f == '.') {
      f++;
      if (*f == '*') {
        prec = va_arg(ap, int); /* negative: as if omitted */
        f++;
      } else {
        for (prec = 0; *f >= '0' && *f <= '9'; f++)
          prec = prec < 100000 ? prec * 10 + (*f - '0') : prec;
      }
    }
    enum { LN, LHH, LH, LL, LLL, LJ, LZ, LT, LLD } len = LN;
    switch (*f) {
    case 'h': len = f[1] == 'h' ? LHH : LH; f += f[1] == 'h' ? 2 : 1; break;
    case 'l': len = f[1] == 'l' ? LLL : LL; f += f[1] == 'l' ? 2 : 1; break;
    case 'j': len = LJ; f++; break;
    case 'z': len = LZ; f++; break;
    case 't': len = LT; f++; break;
    case 'L': len = LLD; f++; break;
    }
    char conv = *f ? *f++ : 0;
    char spec[48];
    int np = prec >= 0 ? snprintf(spec, sizeof spec, "%%%s%d.%d", flags, width, prec)
                       : snprintf(spec, sizeof spec, "%%%s%d", flags, width);
    size_t k = np > 0 ? (size_t)np : 0;
    switch (conv) {
    case 'd': case 'i': {
      intmax_t v;
      switch (len) {
      case LHH: v = (signed char)va_arg(ap, int); break;
      case LH: v = (short)va_arg(ap, int); break;
      case LL: v = va_arg(ap, long); break;
      case LLL: v = va_arg(ap, long long); break;
      case LJ: v = va_arg(ap, intmax_t); break;
      case LZ: case LT: v = va_arg(ap, ptrdiff_t); break;
      default: v = va_arg(ap, int);
      }
      snprintf(spec + k, sizeof spec - k, "j%c", conv);
      sb_printf(&b, spec, v);
      break;
    }
    case 'u': case 'o': case 'x': case 'X': {
      uintmax_t v;
      switch (len) {
      case LHH: v = (unsigned char)va_arg(ap, unsigned); break;
      case LH: v = (unsigned short)va_arg(ap, unsigned); break;
      case LL: v = va_arg(ap, unsigned long); break;
      case LLL: v = va_arg(ap, unsigned long long); break;
      case LJ: v = va_arg(ap, uintmax_t); break;
      case LZ: case LT: v = va_arg(ap, size_t); break;
      default: v = va_arg(ap, unsigned);
      }
      snprintf(spec + k, sizeof spec - k, "j%c", conv);
      sb_printf(&b, spec, v);
      break;
    }
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
      if (len == LLD) {
        snprintf(spec + k, sizeof spec - k, "L%c", conv);
        sb_printf(&b, spec, va_arg(ap, long double));
      } else {
        snprintf(spec + k, sizeof spec - k, "%c", conv);
        sb_printf(&b, spec, va_arg(ap, double));
      }
      break;
    case 'c':
    case 'p':
      snprintf(spec + k, sizeof spec - k, "%c", conv);
      if (conv == 'c') sb_printf(&b, spec, va_arg(ap, int));
      else sb_printf(&b, spec, va_arg(ap, void *));
      break;
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "(null)";
      size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
      size_t at = b.n;
      diag_put_str(&b, s, n);
      size_t shown = b.n - at;
      if ((size_t)width > shown) { /* pad (rare: names are not column-aligned) */
        size_t pad = (size_t)width - shown;
        char *sp = malloc(pad);
        if (!sp) MIXC_BUG("out of memory");
        memset(sp, ' ', pad);
        if (strchr(flags, '-')) {
          sb_putn(&b, sp, pad);
        } else {
          sb_putn(&b, sp, pad); /* grow, then shift the text right */
          memmove(b.p + at + pad, b.p + at, shown);
          memset(b.p + at, ' ', pad);
        }
        free(sp);
      }
      break;
    }
    case 'n': (void)va_arg(ap, void *); break;
    case '%': sb_putn(&b, "%", 1); break;
    default: /* unknown conversion: the rest cannot be read safely */
      sb_putn(&b, "?", 1);
      f += strlen(f);
    }
  }
  /* The message text is mixc's own, but keep the one-line promise regardless. */
  bool raw = false;
  for (size_t i = 0; i < b.n && !raw; i++) raw = (unsigned char)b.p[i] < 0x20 || b.p[i] == 0x7f;
  char *r;
  if (raw) {
    sbuf e = {0};
    for (size_t i = 0; i < b.n; i++) {
      unsigned char c = (unsigned char)b.p[i];
      if (c < 0x20 || c == 0x7f) put_escaped(&e, &c, 1);
      else sb_putn(&e, b.p + i, 1);
    }
    r = ir_strndup(a, e.p ? e.p : "", e.n);
    free(e.p);
  } else {
    r = ir_strndup(a, b.p ? b.p : "", b.n);
  }
  free(b.p);
  return r;
}

ir_diags *ir_diags_new(void) {
  ir_diags *d = calloc(1, sizeof *d);
  if (!d) MIXC_BUG("out of memory");
  d->arena = ir_arena_new();
  return d;
}

void ir_diags_free(ir_diags *d) {
  if (!d) return;
  ir_arena_free(d->arena);
  free(d);
}

void ir_diag_addv(ir_diags *d, ir_severity sev, const char *node, const char *op, int index,
                      int input, const char *fmt, va_list ap) {
  if (!d) return;
  int limit = d->limit ? d->limit : 1000;
  if (sev == IR_ERROR && d->nerrors >= limit) {
    d->nerrors++;
    return;
  }
  ir_diag *g = ir_alloc(d->arena, sizeof *g);
  g->sev = sev;
  g->node = node ? diag_str(d->arena, node) : NULL;
  g->op = op ? diag_str(d->arena, op) : NULL;
  g->index = index;
  g->input = input;
  g->msg = diag_vsprintf(d->arena, fmt, ap);
  if (d->tail) d->tail->next = g;
  else d->head = g;
  d->tail = g;
  if (sev == IR_ERROR) d->nerrors++;
  else if (sev == IR_WARNING) d->nwarnings++;
}

void ir_diag_add(ir_diags *d, ir_severity sev, const char *node, const char *op, int index,
                 int input, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ir_diag_addv(d, sev, node, op, index, input, fmt, ap);
  va_end(ap);
}

static void node_diagv(ir_diags *d, ir_severity sev, const ir_node *n, int input, const char *fmt,
                       va_list ap) {
  if (n)
    ir_diag_addv(d, sev, n->name, ir_op_fullname(n->op), n->index, input, fmt, ap);
  else
    ir_diag_addv(d, sev, NULL, NULL, -1, input, fmt, ap);
}

void ir_error(ir_diags *d, const ir_node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  node_diagv(d, IR_ERROR, n, -1, fmt, ap);
  va_end(ap);
}

void ir_error_in(ir_diags *d, const ir_node *n, int input, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  node_diagv(d, IR_ERROR, n, input, fmt, ap);
  va_end(ap);
}

void ir_warning(ir_diags *d, const ir_node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  node_diagv(d, IR_WARNING, n, -1, fmt, ap);
  va_end(ap);
}

char *ir_diag_format(ir_arena *a, const ir_diag *g) {
  static const char *sev[] = {"error", "warning", "note"};
  const char *loc = "";
  if (g->node || g->op) {
    const char *node = g->node ? g->node : "", *op = g->op ? g->op : "?";
    loc = g->index >= 0 ? ir_sprintf(a, "node \"%s\" (%s #%d)", node, op, g->index)
                        : ir_sprintf(a, "node \"%s\" (%s)", node, op);
  }
  if (g->input >= 0) loc = ir_sprintf(a, "%s%sinput %d", loc, *loc ? ", " : "", g->input);
  return ir_sprintf(a, "%s: %s%s%s", sev[g->sev], loc, *loc ? ": " : "", g->msg);
}

void ir_diags_print(const ir_diags *d, FILE *f) {
  if (!d) return;
  ir_arena *a = ir_arena_new();
  for (const ir_diag *g = d->head; g; g = g->next) fprintf(f, "%s\n", ir_diag_format(a, g));
  int limit = d->limit ? d->limit : 1000;
  if (d->nerrors > limit) fprintf(f, "error: %d more errors not shown\n", d->nerrors - limit);
  ir_arena_free(a);
}

/* ---- dtypes ------------------------------------------------------------------ */
static const struct {
  const char *name;
  size_t size;
} dtypes[IR_DTYPE_COUNT] = {
    [IR_UNDEF] = {"?", 0},   [IR_F32] = {"f32", 4},  [IR_U8] = {"u8", 1},
    [IR_I8] = {"i8", 1},     [IR_U16] = {"u16", 2},  [IR_I16] = {"i16", 2},
    [IR_I32] = {"i32", 4},   [IR_I64] = {"i64", 8},  [IR_STRING] = {"string", 0},
    [IR_BOOL] = {"bool", 1}, [IR_F16] = {"f16", 2},  [IR_F64] = {"f64", 8},
    [IR_U32] = {"u32", 4},   [IR_U64] = {"u64", 8},  [IR_C64] = {"c64", 8},
    [IR_C128] = {"c128", 16}, [IR_BF16] = {"bf16", 2},
};

const char *ir_dtype_name(ir_dtype t) {
  return (unsigned)t < IR_DTYPE_COUNT ? dtypes[t].name : "?";
}

ir_dtype ir_dtype_parse(const char *s) {
  for (int i = 1; i < IR_DTYPE_COUNT; i++)
    if (!strcmp(s, dtypes[i].name)) return (ir_dtype)i;
  return IR_UNDEF;
}

size_t ir_dtype_size(ir_dtype t) { return (unsigned)t < IR_DTYPE_COUNT ? dtypes[t].size : 0; }
bool ir_dtype_valid(int code) { return code > 0 && code < IR_DTYPE_COUNT; }
bool ir_dtype_is_float(ir_dtype t) {
  return t == IR_F32 || t == IR_F64 || t == IR_F16 || t == IR_BF16;
}
bool ir_dtype_is_int(ir_dtype t) {
  return t == IR_I8 || t == IR_I16 || t == IR_I32 || t == IR_I64 || t == IR_U8 || t == IR_U16 ||
         t == IR_U32 || t == IR_U64;
}

/* ---- shapes ------------------------------------------------------------------ */
bool ir_dim_eq(ir_dim a, ir_dim b) {
  if (a.sym || b.sym) return a.sym && b.sym && !strcmp(a.sym, b.sym);
  return a.v >= 0 && a.v == b.v;
}

bool ir_type_static(const ir_type *t) {
  if (t->dtype == IR_UNDEF || t->rank < 0) return false;
  for (int i = 0; i < t->rank; i++)
    if (!ir_dim_static(t->dims[i])) return false;
  return true;
}

int64_t ir_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return -1;
    if (dims[i] && n > IR_MAX_ELEMS / dims[i]) return -1;
    n *= dims[i];
  }
  return n > IR_MAX_ELEMS ? -1 : n;
}

int64_t ir_type_numel(const ir_type *t) {
  if (!ir_type_static(t)) return -1;
  int64_t d[IR_MAX_RANK];
  if (t->rank > IR_MAX_RANK) return -1;
  for (int i = 0; i < t->rank; i++) d[i] = t->dims[i].v;
  return ir_numel(t->rank, d);
}

/* ---- tensors ----------------------------------------------------------------- */
ir_tensor *ir_tensor_new(ir_arena *a, ir_dtype t, int rank, const int64_t *dims) {
  MIXC_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
  ir_tensor *x = ir_alloc(a, sizeof *x);
  x->dtype = t;
  x->rank = rank;
  x->dims = ir_alloc(a, sizeof(int64_t) * (size_t)(rank ? rank : 1));
  if (rank) memcpy(x->dims, dims, sizeof(int64_t) * (size_t)rank);
  x->numel = ir_numel(rank, dims);
  MIXC_ASSERT(x->numel >= 0);
  size_t es = t == IR_STRING ? sizeof(char *) : ir_dtype_size(t);
  x->nbytes = (size_t)x->numel * ir_dtype_size(t);
  x->data = ir_alloc(a, (size_t)x->numel * es);
  return x;
}

ir_tensor *ir_tensor_scalar_i64(ir_arena *a, int64_t v) {
  ir_tensor *t = ir_tensor_new(a, IR_I64, 0, NULL);
  ((int64_t *)t->data)[0] = v;
  return t;
}

ir_tensor *ir_tensor_vec_i64(ir_arena *a, int n, const int64_t *v) {
  int64_t d = n;
  ir_tensor *t = ir_tensor_new(a, IR_I64, 1, &d);
  memcpy(t->data, v, sizeof(int64_t) * (size_t)n);
  return t;
}

static float half_to_float(uint16_t h) {
  uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
  if (e == 0) {
    if (!m) u = s;
    else { /* subnormal */
      e = 113;
      while (!(m & 1024)) { m <<= 1; e--; }
      u = s | (e << 23) | ((m & 1023) << 13);
    }
  } else if (e == 31) u = s | 0x7f800000u | (m << 13);
  else u = s | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

double ir_tensor_get_f(const ir_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case IR_F32: return ((const float *)p)[i];
  case IR_F64: return ((const double *)p)[i];
  case IR_F16: return half_to_float(((const uint16_t *)p)[i]);
  case IR_BF16: {
    uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case IR_U64: return (double)((const uint64_t *)p)[i];
  default: return (double)ir_tensor_get_i(t, i);
  }
}

int64_t ir_tensor_get_i(const ir_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case IR_I64: return ((const int64_t *)p)[i];
  case IR_I32: return ((const int32_t *)p)[i];
  case IR_I16: return ((const int16_t *)p)[i];
  case IR_I8: return ((const int8_t *)p)[i];
  case IR_U8: return ((const uint8_t *)p)[i];
  case IR_BOOL: return ((const uint8_t *)p)[i] != 0;
  case IR_U16: return ((const uint16_t *)p)[i];
  case IR_U32: return ((const uint32_t *)p)[i];
  case IR_U64: return (int64_t)((const uint64_t *)p)[i];
  case IR_F32: case IR_F64: case IR_F16: case IR_BF16: {
    double v = ir_tensor_get_f(t, i);
    if (!(v == v) || v > 9.2e18 || v < -9.2e18) return 0; /* NaN/overflow: no UB */
    return (int64_t)v;
  }
  default: return 0;
  }
}

void ir_tensor_set_i(ir_tensor *t, int64_t i, int64_t v) {
  void *p = t->data;
  switch (t->dtype) {
  case IR_I64: ((int64_t *)p)[i] = v; break;
  case IR_I32: ((int32_t *)p)[i] = (int32_t)v; break;
  case IR_I16: ((int16_t *)p)[i] = (int16_t)v; break;
  case IR_I8: ((int8_t *)p)[i] = (int8_t)v; break;
  case IR_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
  case IR_BOOL: ((uint8_t *)p)[i] = v != 0; break;
  case IR_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
  case IR_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
  case IR_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
  default: ir_tensor_set_f(t, i, (double)v); break;
  }
}

void ir_tensor_set_f(ir_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
  case IR_F32: ((float *)t->data)[i] = (float)v; break;
  case IR_F64: ((double *)t->data)[i] = v; break;
  case IR_BF16: {
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    ((uint16_t *)t->data)[i] = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    break;
  }
  case IR_F16: MIXC_BUG("ir_tensor_set_f: f16 is not produced by the compiler");
  default:
    if (!(v == v) || v > 9.2e18 || v < -9.2e18) v = 0;
    ir_tensor_set_i(t, i, (int64_t)v);
    break;
  }
}

/* ---- the op table -------------------------------------------------------------- */
#define OP(id, name, dom, since, minin, maxin, minout, maxout, attrs, infer) \
  bool infer(ir_ctx *cx, ir_node *n);
#include "ops.def"
#undef OP

const ir_opinfo ir_ops[IR_OP_COUNT] = {
#define OP(id, name, dom, since, minin, maxin, minout, maxout, attrs, infer) \
  [IR_OP_##id] = {name, IR_DOM_##dom, since, minin, maxin, minout, maxout, attrs, infer},
#include "ops.def"
#undef OP
};

static const char *domain_names[] = {"", "com.microsoft", "mixc"};
const char *ir_domain_name(ir_domain d) { return domain_names[d]; }

int ir_op_lookup(const char *domain, const char *name) {
  if (!strcmp(domain, "ai.onnx")) domain = "";
  for (int i = 0; i < IR_OP_COUNT; i++)
    if (!strcmp(domain_names[ir_ops[i].domain], domain) && !strcmp(ir_ops[i].name, name)) return i;
  return -1;
}

const char *ir_op_fullname(ir_op op) {
  static char *full[IR_OP_COUNT]; /* built once, never freed: a constant table */
  MIXC_ASSERT((unsigned)op < IR_OP_COUNT);
  if (ir_ops[op].domain == IR_DOM_ONNX) return ir_ops[op].name;
  if (!full[op]) {
    const char *d = domain_names[ir_ops[op].domain];
    size_t n = strlen(d) + strlen(ir_ops[op].name) + 2;
    char *s = malloc(n);
    if (!s) MIXC_BUG("out of memory");
    snprintf(s, n, "%s.%s", d, ir_ops[op].name);
    full[op] = s;
  }
  return full[op];
}

int ir_op_parse_fullname(const char *s) {
  for (int i = 0; i < IR_OP_COUNT; i++)
    if (!strcmp(ir_op_fullname((ir_op)i), s)) return i;
  return -1;
}

static const struct {
  const char *code;
  ir_attr_kind kind;
} attr_codes[] = {{"f", IR_ATTR_FLOAT},   {"i", IR_ATTR_INT},     {"s", IR_ATTR_STRING},
                  {"t", IR_ATTR_TENSOR},  {"g", IR_ATTR_GRAPH},   {"fs", IR_ATTR_FLOATS},
                  {"is", IR_ATTR_INTS},   {"ss", IR_ATTR_STRINGS}, {"ts", IR_ATTR_TENSORS},
                  {"gs", IR_ATTR_GRAPHS}};

ir_attr_kind ir_op_attr_schema(ir_op op, const char *attr, bool *required) {
  const char *p = ir_ops[op].attrs;
  size_t alen = strlen(attr);
  while (*p) {
    while (*p == ' ') p++;
    const char *colon = strchr(p, ':');
    MIXC_ASSERT(colon);
    const char *end = colon + 1;
    while (*end && *end != ' ' && *end != '!') end++;
    bool req = *end == '!';
    if ((size_t)(colon - p) == alen && !strncmp(p, attr, alen)) {
      for (size_t i = 0; i < sizeof attr_codes / sizeof *attr_codes; i++)
        if (strlen(attr_codes[i].code) == (size_t)(end - colon - 1) &&
            !strncmp(attr_codes[i].code, colon + 1, (size_t)(end - colon - 1))) {
          if (required) *required = req;
          return attr_codes[i].kind;
        }
      MIXC_BUG("bad attribute schema for %s: %s", ir_ops[op].name, ir_ops[op].attrs);
    }
    p = end + req;
  }
  if (required) *required = false;
  return IR_ATTR_UNDEF;
}

/* ---- graphs ------------------------------------------------------------------- */
typedef struct ir_owned {
  void *p;
  size_t len;
  void (*free_fn)(void *, size_t);
  struct ir_owned *next;
} ir_owned;

ir_graph *ir_graph_new(void) {
  ir_arena *a = ir_arena_new();
  ir_graph *g = ir_alloc(a, sizeof *g);
  g->arena = a;
  g->name = "";
  g->producer = "";
  return g;
}

void ir_graph_free(ir_graph *g) {
  if (!g) return;
  for (ir_owned *o = g->owned; o; o = o->next) o->free_fn(o->p, o->len);
  free(g->nodes);
  free(g->values);
  free(g->inputs);
  free(g->outputs);
  free(g->inits);
  free(g->htab);
  ir_arena_free(g->arena);
}

void ir_graph_own(ir_graph *g, void *p, size_t len, void (*free_fn)(void *, size_t)) {
  ir_owned *o = ir_alloc(g->arena, sizeof *o);
  o->p = p;
  o->len = len;
  o->free_fn = free_fn;
  o->next = g->owned;
  g->owned = o;
}

/* Growable pointer arrays live in malloc memory so they can shrink and grow. */
static void push(void ***arr, int *n, int *cap, void *x) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 16;
    void **p = realloc(*arr, sizeof(void *) * (size_t)nc);
    if (!p) MIXC_BUG("out of memory");
    *arr = p;
    *cap = nc;
  }
  (*arr)[(*n)++] = x;
}

/* Input, output and init lists are short: grow them one slot at a time. */
static void push_list(void ***arr, int *n, void *x) {
  void **p = realloc(*arr, sizeof(void *) * (size_t)(*n + 1));
  if (!p) MIXC_BUG("out of memory");
  *arr = p;
  p[(*n)++] = x;
}

/* ---- the name index: FNV-1a, linear probing, at most half full --------------- */
static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static void names_insert(ir_graph *g, ir_value *v) {
  uint32_t m = (uint32_t)g->hcap - 1, i = name_hash(v->name) & m;
  while (g->htab[i]) i = (i + 1) & m;
  g->htab[i] = v;
}

void ir_names_reset(ir_graph *g) {
  free(g->htab);
  g->htab = NULL;
  g->hcap = 0;
}

static void names_build(ir_graph *g, int want) {
  int cap = 64;
  while (cap < 2 * want) cap *= 2;
  free(g->htab);
  g->htab = calloc((size_t)cap, sizeof *g->htab);
  if (!g->htab) MIXC_BUG("out of memory");
  g->hcap = cap;
  for (int i = 0; i < g->nvalues; i++) names_insert(g, g->values[i]);
}

ir_value *ir_value_find(const ir_graph *cg, const char *name) {
  ir_graph *g = (ir_graph *)cg; /* the index is a cache, not graph state */
  if (!g->htab) names_build(g, g->nvalues);
  uint32_t m = (uint32_t)g->hcap - 1;
  for (uint32_t i = name_hash(name) & m; g->htab[i]; i = (i + 1) & m)
    if (!strcmp(g->htab[i]->name, name)) return g->htab[i];
  return NULL;
}

ir_value *ir_value_new(ir_graph *g, const char *name, ir_type type) {
  if (!name || !*name) name = "t";
  const char *n = name;
  for (int k = 1; ir_value_find(g, n); k++) n = ir_sprintf(g->arena, "%s.%d", name, k);
  ir_value *v = ir_alloc(g->arena, sizeof *v);
  v->name = n == name ? ir_strdup(g->arena, name) : n;
  v->type = type;
  if (type.rank > 0 && type.dims) {
    v->type.dims = ir_alloc(g->arena, sizeof(ir_dim) * (size_t)type.rank);
    memcpy(v->type.dims, type.dims, sizeof(ir_dim) * (size_t)type.rank);
  }
  push((void ***)&g->values, &g->nvalues, &g->capvalues, v);
  if (2 * g->nvalues > g->hcap) names_build(g, g->nvalues);
  else names_insert(g, v);
  return v;
}

ir_value *ir_const_new(ir_graph *g, const char *name, ir_tensor *t) {
  ir_type ty = {t->dtype, t->rank, NULL};
  ir_dim dims[IR_MAX_RANK];
  for (int i = 0; i < t->rank; i++) dims[i] = (ir_dim){t->dims[i], NULL};
  ty.dims = dims;
  ir_value *v = ir_value_new(g, name, ty);
  v->konst = t;
  push_list((void ***)&g->inits, &g->ninits, v);
  return v;
}

void ir_value_make_const(ir_graph *g, ir_value *v, ir_tensor *t) {
  v->konst = t;
  v->def = NULL;
  v->def_index = 0;
  push_list((void ***)&g->inits, &g->ninits, v);
}

ir_node *ir_node_new(ir_graph *g, ir_op op, const char *name, int nin, int nout) {
  ir_node *n = ir_alloc(g->arena, sizeof *n);
  n->op = op;
  n->name = name ? ir_strdup(g->arena, name) : "";
  n->index = -1;
  n->opset = (int)ir_graph_opset(g, ir_domain_name(ir_ops[op].domain));
  n->nin = nin;
  n->nout = nout;
  n->in = ir_alloc(g->arena, sizeof(ir_value *) * (size_t)(nin ? nin : 1));
  n->out = ir_alloc(g->arena, sizeof(ir_value *) * (size_t)(nout ? nout : 1));
  return n;
}

void ir_node_append(ir_graph *g, ir_node *n) {
  push((void ***)&g->nodes, &g->nnodes, &g->capnodes, n);
}

void ir_graph_add_input(ir_graph *g, ir_value *v) {
  v->is_input = true;
  push_list((void ***)&g->inputs, &g->ninputs, v);
}

void ir_graph_add_output(ir_graph *g, ir_value *v) {
  push_list((void ***)&g->outputs, &g->noutputs, v);
}

int64_t ir_graph_opset(const ir_graph *g, const char *domain) {
  if (!strcmp(domain, "ai.onnx")) domain = "";
  for (int i = 0; i < g->nopsets; i++) {
    const char *d = g->opsets[i].domain;
    if (!strcmp(d, "ai.onnx")) d = "";
    if (!strcmp(d, domain)) return g->opsets[i].version;
  }
  return 0;
}

/* ---- attributes ---------------------------------------------------------------- */
const ir_attr *ir_attr_find(const ir_node *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->kind == IR_ATTR_INT ? a->i : dflt;
}

float ir_attr_float(const ir_node *n, const char *name, float dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->kind == IR_ATTR_FLOAT ? a->f : dflt;
}

const char *ir_attr_str(const ir_node *n, const char *name, const char *dflt) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->kind == IR_ATTR_STRING ? a->s : dflt;
}

ir_attr *ir_attr_add(ir_graph *g, ir_node *n, const char *name, ir_attr_kind kind) {
  ir_attr *na = ir_alloc(g->arena, sizeof(ir_attr) * (size_t)(n->nattr + 1));
  if (n->nattr) memcpy(na, n->attrs, sizeof(ir_attr) * (size_t)n->nattr);
  n->attrs = na;
  ir_attr *a = &na[n->nattr++];
  a->name = ir_strdup(g->arena, name);
  a->kind = kind;
  return a;
}

/* ---- rewriting helpers ---------------------------------------------------------- */
void ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to) {
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == from) n->in[j] = to;
  }
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}

int ir_count_uses(const ir_graph *g, const ir_value *v) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const ir_node *n = g->nodes[i];
    if (n->dead) continue;
    for (int j = 0; j < n->nin; j++) k += n->in[j] == v;
  }
  for (int i = 0; i < g->noutputs; i++) k += g->outputs[i] == v;
  return k;
}

void ir_graph_compact(ir_graph *g) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead) g->nodes[k++] = g->nodes[i];
  g->nnodes = k;
  /* Live values: inputs, outputs, and whatever a live node touches. */
  for (int i = 0; i < g->nvalues; i++) g->values[i]->id = 0;
  for (int i = 0; i < g->ninputs; i++) g->inputs[i]->id = 1;
  for (int i = 0; i < g->noutputs; i++) g->outputs[i]->id = 1;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]) n->in[j]->id = 1;
    for (int j = 0; j < n->nout; j++)
      if (n->out[j]) n->out[j]->id = 1;
  }
  k = 0;
  for (int i = 0; i < g->ninits; i++)
    if (g->inits[i]->id) g->inits[k++] = g->inits[i];
  g->ninits = k;
  k = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->id) g->values[k++] = g->values[i];
  g->nvalues = k;
  ir_names_reset(g);
}

/* Kahn's algorithm, stable: among ready nodes, the earliest in the current order. */
bool ir_graph_toposort(ir_graph *g, ir_diags *d) {
  int n = g->nnodes;
  if (n <= 0) return true;
  for (int i = 0; i < g->nvalues; i++) g->values[i]->id = -1;
  for (int i = 0; i < n; i++) {
    g->nodes[i]->id = i;
    for (int j = 0; j < g->nodes[i]->nout; j++)
      if (g->nodes[i]->out[j]) g->nodes[i]->out[j]->id = i;
  }
  int *indeg = calloc((size_t)n, sizeof(int));
  int *order = malloc(sizeof(int) * (size_t)n);
  unsigned char *done = calloc((size_t)n, 1);
  if (!indeg || !order || !done) MIXC_BUG("out of memory");
  /* count producer edges (with multiplicity) */
  for (int i = 0; i < n; i++) {
    ir_node *x = g->nodes[i];
    for (int j = 0; j < x->nin; j++)
      if (x->in[j] && x->in[j]->def && x->in[j]->id >= 0) indeg[i]++;
  }
  /* Simple O(n^2) worst case scan is too slow for big graphs; use a ready list
   * kept sorted by index via a min-heap. */
  int *heap = malloc(sizeof(int) * (size_t)n), hn = 0;
  if (!heap) MIXC_BUG("out of memory");
#define HPUSH(x)                                                                 \
  do {                                                                           \
    int c_ = hn++;                                                               \
    heap[c_] = (x);                                                              \
    while (c_ && heap[(c_ - 1) / 2] > heap[c_]) {                                \
      int t_ = heap[c_]; heap[c_] = heap[(c_ - 1) / 2]; heap[(c_ - 1) / 2] = t_; \
      c_ = (c_ - 1) / 2;                                                         \
    }                                                                            \
  } while (0)
  for (int i = 0; i < n; i++)
    if (!indeg[i]) HPUSH(i);
  /* consumers: build adjacency lists from value id -> consumer nodes */
  int *cstart = calloc((size_t)n + 1, sizeof(int));
  if (!cstart) MIXC_BUG("out of memory");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++) {
      ir_value *v = g->nodes[i]->in[j];
      if (v && v->def && v->id >= 0) cstart[v->id + 1]++;
    }
  for (int i = 0; i < n; i++) cstart[i + 1] += cstart[i];
  int *cons = malloc(sizeof(int) * (size_t)(cstart[n] ? cstart[n] : 1));
  int *fill = calloc((size_t)n, sizeof(int));
  if (!cons || !fill) MIXC_BUG("out of memory");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++) {
      ir_value *v = g->nodes[i]->in[j];
      if (v && v->def && v->id >= 0) cons[cstart[v->id] + fill[v->id]++] = i;
    }
  int k = 0;
  while (hn) {
    int x = heap[0];
    heap[0] = heap[--hn];
    for (int c = 0;;) { /* sift down */
      int l = 2 * c + 1, r = l + 1, m = c;
      if (l < hn && heap[l] < heap[m]) m = l;
      if (r < hn && heap[r] < heap[m]) m = r;
      if (m == c) break;
      int t = heap[c]; heap[c] = heap[m]; heap[m] = t;
      c = m;
    }
    order[k++] = x;
    done[x] = 1;
    for (int e = cstart[x]; e < cstart[x + 1]; e++)
      if (--indeg[cons[e]] == 0) HPUSH(cons[e]);
  }
#undef HPUSH
  bool ok = k == n;
  if (ok) {
    ir_node **sorted = malloc(sizeof(ir_node *) * (size_t)n);
    if (!sorted) MIXC_BUG("out of memory");
    for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
    memcpy(g->nodes, sorted, sizeof(ir_node *) * (size_t)n);
    free(sorted);
  } else {
    for (int i = 0; i < n; i++)
      if (!done[i]) {
        ir_error(d, g->nodes[i], "the graph has a cycle through this node");
        break;
      }
  }
  free(indeg); free(order); free(done); free(heap); free(cstart); free(cons); free(fill);
  return ok;
}
