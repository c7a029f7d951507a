/* parse.c - the .mir text parser: ir_parse reads what ir/print.c writes (grammar
 * in docs/mir.md) and rebuilds the same graph: same value names, types, constant
 * bytes, node order, attributes (order and kinds), node names, indices, opsets,
 * inputs and outputs.
 *
 * Requires: ir.h and core.c. The text is a line-oriented, hand-written recursive
 * descent with no recursion deeper than one tensor list, over a buffer that need
 * not be NUL-terminated. Any input is safe: the first problem becomes a
 * `file:line:col: message` diagnostic, everything is freed and NULL comes back.
 * Types are taken as printed; shape inference is not run. Values must be defined
 * before use (the text is in topological order). */
#include "ir.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_NAME = 1 << 16, MAX_NUM = 128, MAX_LIST = 1 << 28 };

typedef struct {
  const char *name; /* arena copy, NUL-terminated */
  size_t len;
  ir_value *v;
  int line;
} entry;

typedef struct {
  uint64_t num;
  ir_tensor *t;
  int line, col;
} blobref;

typedef struct {
  uint64_t num;
  const char *hex; /* into the text */
  size_t hexlen;
  int line, col;
  bool used;
} blobdef;

typedef struct {
  const char *p, *end, *lstart;
  const char *file;
  int line;
  ir_diags *d;
  ir_graph *g;
  bool err;
  entry *tab; /* open addressing, power-of-two size */
  size_t tcap, tcount;
  blobref *refs;
  size_t nrefs, caprefs;
  blobdef *defs;
  size_t ndefs, capdefs;
  char *str; /* decoded quoted string (scratch) */
  size_t slen, scap;
  void *vec; /* list elements (scratch) */
  size_t vcap;
} P;

/* ---- errors --------------------------------------------------------------------- */
static bool err_lc(P *ps, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool err_lc(P *ps, int line, int col, const char *fmt, ...) {
  if (ps->err) return false;
  ps->err = true;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ir_diag_add(ps->d, IR_ERROR, NULL, NULL, -1, -1, "%s:%d:%d: %s", ps->file, line, col, msg);
  return false;
}

static int col_of(P *ps, const char *at) {
  ptrdiff_t c = at - ps->lstart + 1;
  return c < 1 ? 1 : c > INT32_MAX ? INT32_MAX : (int)c;
}

#define ERR_AT(ps, at, ...) err_lc((ps), (ps)->line, col_of((ps), (at)), __VA_ARGS__)

/* A short, printable description of the text at p, for "found ..." messages. */
static const char *found(P *ps, const char *p, char buf[48]) {
  if (p >= ps->end) return "end of input";
  if (*p == '\n' || (*p == '\r' && p + 1 < ps->end && p[1] == '\n')) return "end of line";
  size_t k = 0;
  buf[k++] = '\'';
  for (const char *q = p; q < ps->end && k < 40; q++) {
    unsigned char c = (unsigned char)*q;
    if (q > p && (c == ' ' || c == '\n' || c == ',' || c == ')' || c == ']' || c == '}')) break;
    if (c >= 0x20 && c < 0x7f) buf[k++] = (char)c;
    else k += (size_t)snprintf(buf + k, 48 - k, "\\x%02x", c);
    if (q == p && (c == '(' || c == '[' || c == '{' || c == '"' || c == '=' || c == ':')) break;
  }
  buf[k++] = '\'';
  buf[k] = 0;
  return buf;
}

static bool expected(P *ps, const char *what) {
  char b[48];
  return ERR_AT(ps, ps->p, "expected %s, found %s", what, found(ps, ps->p, b));
}

/* Text of a name for messages, escaped and truncated. */
static const char *show(const char *s, size_t n, char buf[160]) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < 150; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') buf[k++] = (char)c;
    else k += (size_t)snprintf(buf + k, 160 - k, "\\x%02x", c);
  }
  if (k >= 150) k = 150, memcpy(buf + k, "...", 3), k += 3;
  buf[k] = 0;
  return buf;
}

static bool namech(char c);
/* `%name` as the printer writes it (bare or quoted), for messages. */
static const char *showv(const char *s, size_t n, char buf[170]) {
  bool bare = n && !(n == 1 && *s == '_');
  for (size_t i = 0; i < n && bare; i++)
    bare = namech(s[i]) && !(s[i] == '/' && i + 1 < n && s[i + 1] == '/');
  char t[160];
  snprintf(buf, 170, bare ? "%%%s" : "%%\"%s\"", show(s, n, t));
  return buf;
}

/* ---- lexing --------------------------------------------------------------------- */
static bool namech(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '-';
}
static bool identch(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
static bool digit(char c) { return c >= '0' && c <= '9'; }

static void ws(P *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
}

static bool at_comment(P *ps) {
  return ps->p + 1 < ps->end && ps->p[0] == '/' && ps->p[1] == '/';
}

static void newline(P *ps) {
  ps->p++;
  ps->line++;
  ps->lstart = ps->p;
}

/* Ends a statement: optional comment, then a newline or the end of input. */
static bool end_line(P *ps) {
  ws(ps);
  if (at_comment(ps))
    while (ps->p < ps->end && *ps->p != '\n') ps->p++;
  if (ps->p >= ps->end) return true;
  if (*ps->p == '\n') {
    newline(ps);
    return true;
  }
  return expected(ps, "end of line");
}

/* Skips blank lines, comment lines and indentation, up to the next statement. */
static void skip_blank(P *ps) {
  for (;;) {
    ws(ps);
    if (at_comment(ps))
      while (ps->p < ps->end && *ps->p != '\n') ps->p++;
    if (ps->p < ps->end && *ps->p == '\n') {
      newline(ps);
      continue;
    }
    return;
  }
}

static bool lit(P *ps, char c) {
  ws(ps);
  if (ps->p < ps->end && *ps->p == c) {
    ps->p++;
    return true;
  }
  return false;
}

static bool expect(P *ps, char c) {
  if (lit(ps, c)) return true;
  char what[8] = {'\'', c, '\'', 0};
  return expected(ps, what);
}

/* An identifier [A-Za-z_][A-Za-z0-9_]*; returns its length, 0 if none. */
static size_t word(P *ps, const char **s) {
  ws(ps);
  const char *q = ps->p;
  if (q >= ps->end || !(identch(*q) && !digit(*q))) return 0;
  while (q < ps->end && identch(*q)) q++;
  *s = ps->p;
  return (size_t)(q - ps->p);
}

/* Consumes the keyword kw if it is next. */
static bool kw(P *ps, const char *kwd) {
  const char *s;
  size_t n = word(ps, &s);
  if (n && n == strlen(kwd) && !memcmp(s, kwd, n)) {
    ps->p += n;
    return true;
  }
  return false;
}

static bool str_push(P *ps, const char *s, size_t n) {
  if (ps->slen + n + 1 > ps->scap) {
    size_t cap = ps->scap ? ps->scap : 256;
    while (cap < ps->slen + n + 1) cap *= 2;
    char *b = realloc(ps->str, cap);
    if (!b) return ERR_AT(ps, ps->p, "out of memory");
    ps->str = b;
    ps->scap = cap;
  }
  memcpy(ps->str + ps->slen, s, n);
  ps->slen += n;
  ps->str[ps->slen] = 0;
  return true;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A quoted string at p (the '"' not yet consumed), decoded into ps->str/slen.
 * Escapes: \\ \" \n \t \xHH. Raw control characters are rejected. */
static bool qstring(P *ps) {
  ws(ps);
  if (ps->p >= ps->end || *ps->p != '"') return expected(ps, "'\"'");
  ps->p++;
  ps->slen = 0;
  if (!str_push(ps, "", 0)) return false;
  for (;;) {
    const char *q = ps->p;
    while (q < ps->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20 && *q != 0x7f) q++;
    if (q > ps->p && !str_push(ps, ps->p, (size_t)(q - ps->p))) return false;
    ps->p = q;
    if (q >= ps->end || *q == '\n') return ERR_AT(ps, q, "unterminated string");
    if (*q == '"') {
      ps->p++;
      return true;
    }
    if (*q != '\\') {
      return ERR_AT(ps, q, "control character \\x%02x in a string (write it as \\x%02x)",
                    (unsigned char)*q, (unsigned char)*q);
    }
    if (q + 1 >= ps->end) return ERR_AT(ps, q, "unterminated string");
    char c = q[1], e;
    ps->p = q + 2;
    switch (c) {
    case '\\': e = '\\'; break;
    case '"': e = '"'; break;
    case 'n': e = '\n'; break;
    case 't': e = '\t'; break;
    case 'x': {
      int h = q + 2 < ps->end ? hexval(q[2]) : -1, l = q + 3 < ps->end ? hexval(q[3]) : -1;
      if (h < 0 || l < 0) return ERR_AT(ps, q, "\\x must be followed by two hex digits");
      e = (char)(h << 4 | l);
      ps->p = q + 4;
      break;
    }
    default: {
      char b[48];
      return ERR_AT(ps, q, "unknown escape %s in a string (use \\\\ \\\" \\n \\t or \\xHH)",
                    found(ps, q, b));
    }
    }
    if (!str_push(ps, &e, 1)) return false;
  }
}

/* A name after '%' or '@', or an attribute name: bare [A-Za-z0-9_.:/-]+ (up to a
 * "//") or quoted. Decoded into ps->str/slen. */
static bool name(P *ps, const char *what) {
  const char *at = ps->p;
  if (ps->p < ps->end && *ps->p == '"') {
    if (!qstring(ps)) return false;
    if (memchr(ps->str, 0, ps->slen)) return ERR_AT(ps, at, "a %s cannot contain a NUL byte", what);
  } else {
    const char *q = ps->p;
    while (q < ps->end && namech(*q) && !(q[0] == '/' && q + 1 < ps->end && q[1] == '/')) q++;
    if (q == ps->p) {
      char b[48];
      return ERR_AT(ps, at, "expected a %s, found %s", what, found(ps, at, b));
    }
    ps->slen = 0;
    if (!str_push(ps, ps->p, (size_t)(q - ps->p))) return false;
    ps->p = q;
  }
  if (ps->slen > MAX_NAME) return ERR_AT(ps, at, "%s longer than %d bytes", what, MAX_NAME);
  return true;
}

/* The ':' before a type. A bare name swallows a ':' written without a space
 * ("%x: f32[2]"), so say so. Call right after name(). */
static bool type_colon(P *ps) {
  if (lit(ps, ':')) return true;
  if (ps->slen > 1 && ps->str[ps->slen - 1] == ':') {
    char b[160];
    return ERR_AT(ps, ps->p, "expected ':' before the type; ':' is part of a bare name, so "
                             "write '%%%s : TYPE' with a space before the ':'",
                  show(ps->str, ps->slen - 1, b));
  }
  return expected(ps, "':'");
}

/* ---- numbers -------------------------------------------------------------------- */
typedef struct {
  char s[MAX_NUM + 1];
  const char *at;
  bool is_float;
} num;

static bool at_number(P *ps) {
  ws(ps);
  const char *q = ps->p;
  if (q < ps->end && *q == '-') q++;
  if (q >= ps->end) return false;
  if (digit(*q)) return true;
  return ps->end - q >= 3 && (!memcmp(q, "inf", 3) || !memcmp(q, "nan", 3));
}

/* -?[0-9]+(.[0-9]*)?([eE][+-]?[0-9]+)? | -?inf | -?nan */
static bool number(P *ps, num *x) {
  ws(ps);
  const char *q = ps->p, *at = q;
  x->at = at;
  x->is_float = false;
  if (q < ps->end && *q == '-') q++;
  if (ps->end - q >= 3 && (!memcmp(q, "inf", 3) || !memcmp(q, "nan", 3))) {
    q += 3;
    x->is_float = true;
  } else {
    if (q >= ps->end || !digit(*q)) return expected(ps, "a number");
    while (q < ps->end && digit(*q)) q++;
    if (q < ps->end && *q == '.') {
      x->is_float = true;
      for (q++; q < ps->end && digit(*q);) q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
      x->is_float = true;
      q++;
      if (q < ps->end && (*q == '+' || *q == '-')) q++;
      if (q >= ps->end || !digit(*q)) return ERR_AT(ps, at, "malformed number: missing exponent");
      while (q < ps->end && digit(*q)) q++;
    }
  }
  if (q < ps->end && (identch(*q) || *q == '.')) {
    char b[48];
    return ERR_AT(ps, at, "malformed number %s", found(ps, at, b));
  }
  if (q - at > MAX_NUM) return ERR_AT(ps, at, "number longer than %d characters", MAX_NUM);
  memcpy(x->s, at, (size_t)(q - at));
  x->s[q - at] = 0;
  ps->p = q;
  return true;
}

static bool to_i64(P *ps, const num *x, int64_t *v) {
  if (x->is_float) return ERR_AT(ps, x->at, "expected an integer, found '%s'", x->s);
  errno = 0;
  long long r = strtoll(x->s, NULL, 10);
  if (errno == ERANGE) return ERR_AT(ps, x->at, "integer %s is out of range for i64", x->s);
  *v = r;
  return true;
}

static bool to_u64(P *ps, const num *x, uint64_t *v) {
  if (x->is_float) return ERR_AT(ps, x->at, "expected an integer, found '%s'", x->s);
  if (x->s[0] == '-') return ERR_AT(ps, x->at, "%s is out of range for u64", x->s);
  errno = 0;
  unsigned long long r = strtoull(x->s, NULL, 10);
  if (errno == ERANGE) return ERR_AT(ps, x->at, "integer %s is out of range for u64", x->s);
  *v = r;
  return true;
}

/* Integers are accepted for floats; overflow (not underflow) is an error. */
static bool to_f64(P *ps, const num *x, double *v) {
  *v = strtod(x->s, NULL);
  if (isinf(*v) && !strchr(x->s, 'i')) return ERR_AT(ps, x->at, "%s is out of range for f64", x->s);
  return true;
}

static bool to_f32(P *ps, const num *x, float *v) {
  *v = strtof(x->s, NULL);
  if (isinf(*v) && !strchr(x->s, 'i')) return ERR_AT(ps, x->at, "%s is out of range for f32", x->s);
  return true;
}

/* A non-negative integer that fits in `max`. */
static bool count(P *ps, const char *what, int64_t max, int64_t *v) {
  num x;
  if (!at_number(ps)) return expected(ps, what);
  if (!number(ps, &x) || !to_i64(ps, &x, v)) return false;
  if (*v < 0 || *v > max) return ERR_AT(ps, x.at, "%s %s is out of range", what, x.s);
  return true;
}

/* ---- the name table ------------------------------------------------------------- */
static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
  return h;
}

static entry *lookup(P *ps, const char *s, size_t n) {
  if (!ps->tcap) return NULL;
  for (size_t i = hash(s, n) & (ps->tcap - 1);; i = (i + 1) & (ps->tcap - 1)) {
    entry *e = &ps->tab[i];
    if (!e->name) return NULL;
    if (e->len == n && !memcmp(e->name, s, n)) return e;
  }
}

static bool insert(P *ps, const char *s, size_t n, ir_value *v, int line) {
  if (2 * (ps->tcount + 1) > ps->tcap) {
    size_t cap = ps->tcap ? 2 * ps->tcap : 256;
    entry *t = calloc(cap, sizeof *t);
    if (!t) return ERR_AT(ps, ps->p, "out of memory");
    for (size_t i = 0; i < ps->tcap; i++) {
      entry *e = &ps->tab[i];
      if (!e->name) continue;
      size_t j = hash(e->name, e->len) & (cap - 1);
      while (t[j].name) j = (j + 1) & (cap - 1);
      t[j] = *e;
    }
    free(ps->tab);
    ps->tab = t;
    ps->tcap = cap;
  }
  size_t j = hash(s, n) & (ps->tcap - 1);
  while (ps->tab[j].name) j = (j + 1) & (ps->tcap - 1);
  ps->tab[j] = (entry){s, n, v, line};
  ps->tcount++;
  return true;
}

/* `%name` already decoded in ps->str: the value it names, or an error. */
static ir_value *use(P *ps, const char *at) {
  entry *e = lookup(ps, ps->str, ps->slen);
  char b[170];
  if (!e) ERR_AT(ps, at, "use of undefined value %s", showv(ps->str, ps->slen, b));
  return e ? e->v : NULL;
}

/* Checks that the decoded name is free and returns an arena copy of it. */
static const char *fresh(P *ps, const char *at) {
  entry *e = lookup(ps, ps->str, ps->slen);
  char b[170];
  if (e) {
    ERR_AT(ps, at, "value %s is already defined at line %d", showv(ps->str, ps->slen, b), e->line);
    return NULL;
  }
  return ir_strndup(ps->g->arena, ps->str, ps->slen);
}

/* Creates the value under exactly this name (ir_value_new renames only names
 * already taken, which fresh() excludes, and the empty name). */
static ir_value *define(P *ps, const char *nm, ir_type ty, ir_tensor *konst, int line) {
  ir_value *v = konst ? ir_const_new(ps->g, nm, konst) : ir_value_new(ps->g, nm, ty);
  if (strcmp(v->name, nm)) v->name = nm;
  if (!insert(ps, nm, strlen(nm), v, line)) return NULL;
  return v;
}

/* ---- types ---------------------------------------------------------------------- */
/* DTYPE[dims]: dims are integers, identifiers, quoted symbols or '?'; [*] is an
 * unknown rank. `?` is an unknown dtype. */
static bool parse_type(P *ps, ir_type *t) {
  ws(ps);
  const char *at = ps->p, *s;
  size_t n;
  if (lit(ps, '?')) {
    t->dtype = IR_UNDEF;
  } else if ((n = word(ps, &s))) {
    char b[32];
    if (n >= sizeof b) n = sizeof b - 1;
    memcpy(b, s, n);
    b[n] = 0;
    t->dtype = ir_dtype_parse(b);
    if (t->dtype == IR_UNDEF) {
      char f[170];
      return ERR_AT(ps, at,
                    "unknown dtype '%s' (expected f32, f64, f16, bf16, i8..i64, u8..u64, bool, "
                    "string, c64, c128 or ?)",
                    show(s, n, f));
    }
    ps->p = s + n;
  } else {
    return expected(ps, "a type such as f32[2,3]");
  }
  if (!expect(ps, '[')) return false;
  t->rank = 0;
  t->dims = NULL;
  if (lit(ps, '*')) {
    t->rank = -1;
    return expect(ps, ']');
  }
  if (lit(ps, ']')) return true;
  ir_dim dims[IR_MAX_RANK];
  for (;;) {
    ws(ps);
    const char *dat = ps->p;
    if (t->rank == IR_MAX_RANK)
      return ERR_AT(ps, dat, "rank exceeds the maximum of %d", IR_MAX_RANK);
    ir_dim *d = &dims[t->rank++];
    if (lit(ps, '?')) {
      *d = (ir_dim){-1, NULL};
    } else if (ps->p < ps->end && *ps->p == '"') {
      if (!qstring(ps)) return false;
      if (memchr(ps->str, 0, ps->slen)) return ERR_AT(ps, dat, "a dimension symbol cannot contain a NUL byte");
      *d = (ir_dim){-1, ir_strndup(ps->g->arena, ps->str, ps->slen)};
    } else if ((n = word(ps, &s))) {
      *d = (ir_dim){-1, ir_strndup(ps->g->arena, s, n)};
      ps->p = s + n;
    } else if (at_number(ps)) {
      num x;
      d->sym = NULL;
      if (!number(ps, &x) || !to_i64(ps, &x, &d->v)) return false;
      if (d->v < 0) return ERR_AT(ps, dat, "negative dimension %s", x.s);
    } else {
      return expected(ps, "a dimension (integer, symbol or '?')");
    }
    if (lit(ps, ']')) break;
    if (!lit(ps, ',')) return expected(ps, "',' or ']' in the type");
  }
  t->dims = ir_alloc(ps->g->arena, sizeof(ir_dim) * (size_t)t->rank);
  memcpy(t->dims, dims, sizeof(ir_dim) * (size_t)t->rank);
  return true;
}

/* ---- tensors -------------------------------------------------------------------- */
static bool vec_room(P *ps, size_t bytes) {
  if (bytes <= ps->vcap) return true;
  size_t cap = ps->vcap ? ps->vcap : 256;
  while (cap < bytes) cap *= 2;
  void *v = realloc(ps->vec, cap);
  if (!v) return ERR_AT(ps, ps->p, "out of memory");
  ps->vec = v;
  ps->vcap = cap;
  return true;
}

static bool elem_range(P *ps, const num *x, int64_t v, int64_t lo, int64_t hi, ir_dtype dt) {
  if (v < lo || v > hi) return ERR_AT(ps, x->at, "%s is out of range for %s", x->s, ir_dtype_name(dt));
  return true;
}

/* One inline element of dtype dt, stored at ps->vec + i * size. */
static bool elem(P *ps, ir_dtype dt, size_t i) {
  size_t es = dt == IR_STRING ? sizeof(char *) : ir_dtype_size(dt);
  if (!vec_room(ps, (i + 1) * es)) return false;
  void *w = (char *)ps->vec + i * es;
  if (dt == IR_STRING) {
    const char *at = ps->p;
    if (!qstring(ps)) return false;
    if (memchr(ps->str, 0, ps->slen)) return ERR_AT(ps, at, "a string element cannot contain a NUL byte");
    char *s = ir_strndup(ps->g->arena, ps->str, ps->slen);
    memcpy(w, &s, sizeof s);
    return true;
  }
  if (dt == IR_BOOL) {
    uint8_t b;
    if (kw(ps, "true")) b = 1;
    else if (kw(ps, "false")) b = 0;
    else return expected(ps, "true or false");
    memcpy(w, &b, 1);
    return true;
  }
  num x;
  if (!at_number(ps)) return expected(ps, "a number");
  if (!number(ps, &x)) return false;
  int64_t v = 0;
  uint64_t u = 0;
  if (dt == IR_F32) {
    float f;
    if (!to_f32(ps, &x, &f)) return false;
    memcpy(w, &f, 4);
    return true;
  }
  if (dt == IR_F64) {
    double f;
    if (!to_f64(ps, &x, &f)) return false;
    memcpy(w, &f, 8);
    return true;
  }
  if (dt == IR_U64) {
    if (!to_u64(ps, &x, &u)) return false;
    memcpy(w, &u, 8);
    return true;
  }
  if (!to_i64(ps, &x, &v)) return false;
  switch (dt) {
  case IR_I8: { if (!elem_range(ps, &x, v, INT8_MIN, INT8_MAX, dt)) return false; int8_t t = (int8_t)v; memcpy(w, &t, 1); break; }
  case IR_I16: { if (!elem_range(ps, &x, v, INT16_MIN, INT16_MAX, dt)) return false; int16_t t = (int16_t)v; memcpy(w, &t, 2); break; }
  case IR_I32: { if (!elem_range(ps, &x, v, INT32_MIN, INT32_MAX, dt)) return false; int32_t t = (int32_t)v; memcpy(w, &t, 4); break; }
  case IR_I64: memcpy(w, &v, 8); break;
  case IR_U8: { if (!elem_range(ps, &x, v, 0, UINT8_MAX, dt)) return false; uint8_t t = (uint8_t)v; memcpy(w, &t, 1); break; }
  case IR_U16: { if (!elem_range(ps, &x, v, 0, UINT16_MAX, dt)) return false; uint16_t t = (uint16_t)v; memcpy(w, &t, 2); break; }
  case IR_U32: { if (!elem_range(ps, &x, v, 0, UINT32_MAX, dt)) return false; uint32_t t = (uint32_t)v; memcpy(w, &t, 4); break; }
  default: MIXC_BUG("elem: dtype %d", (int)dt);
  }
  return true;
}

/* A tensor shell of a static type; its data is filled in by the caller. */
static ir_tensor *shell(P *ps, const ir_type *ty, int64_t numel) {
  ir_tensor *t = ir_alloc(ps->g->arena, sizeof *t);
  t->dtype = ty->dtype;
  t->rank = ty->rank;
  t->dims = ir_alloc(ps->g->arena, sizeof(int64_t) * (size_t)(ty->rank ? ty->rank : 1));
  for (int i = 0; i < ty->rank; i++) t->dims[i] = ty->dims[i].v;
  t->numel = numel;
  t->nbytes = (size_t)numel * ir_dtype_size(ty->dtype);
  return t;
}

/* After "TYPE =": `[elements]` or `blob N`. ty was parsed at `tat`. */
static ir_tensor *tensor_data(P *ps, const ir_type *ty, const char *tat) {
  if (ty->dtype == IR_UNDEF || !ir_type_static(ty)) {
    ERR_AT(ps, tat, "a constant needs a known dtype and static dimensions");
    return NULL;
  }
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < ty->rank; i++) dims[i] = ty->dims[i].v;
  int64_t numel = ir_numel(ty->rank, dims);
  if (numel < 0) {
    ERR_AT(ps, tat, "a constant with more than %" PRId64 " elements", (int64_t)IR_MAX_ELEMS);
    return NULL;
  }
  ws(ps);
  const char *at = ps->p;
  if (lit(ps, '[')) {
    ir_dtype dt = ty->dtype;
    if (!(dt == IR_STRING || dt == IR_BOOL || dt == IR_F32 || dt == IR_F64 || ir_dtype_is_int(dt))) {
      ERR_AT(ps, at, "%s constants are written as blobs, not inline", ir_dtype_name(dt));
      return NULL;
    }
    size_t k = 0;
    if (!lit(ps, ']')) {
      for (;;) {
        if (k >= (size_t)numel) {
          ERR_AT(ps, ps->p, "too many elements: the type %s[...] holds %" PRId64,
                 ir_dtype_name(dt), numel);
          return NULL;
        }
        if (!elem(ps, dt, k++)) return NULL;
        if (lit(ps, ']')) break;
        if (!lit(ps, ',')) {
          expected(ps, "',' or ']'");
          return NULL;
        }
      }
    }
    if (k != (size_t)numel) {
      ERR_AT(ps, at, "%zu elements given, but the type holds %" PRId64, k, numel);
      return NULL;
    }
    ir_tensor *t = shell(ps, ty, numel);
    size_t es = dt == IR_STRING ? sizeof(char *) : ir_dtype_size(dt);
    t->data = ir_alloc(ps->g->arena, k * es);
    if (k) memcpy(t->data, ps->vec, k * es);
    return t;
  }
  if (kw(ps, "blob")) {
    if (ty->dtype == IR_STRING) {
      ERR_AT(ps, at, "string constants are written inline, not as blobs");
      return NULL;
    }
    int64_t nb;
    ws(ps);
    int col = col_of(ps, ps->p);
    if (!count(ps, "blob number", INT64_MAX, &nb)) return NULL;
    if (ps->nrefs == ps->caprefs) {
      size_t cap = ps->caprefs ? 2 * ps->caprefs : 64;
      blobref *r = realloc(ps->refs, cap * sizeof *r);
      if (!r) {
        ERR_AT(ps, at, "out of memory");
        return NULL;
      }
      ps->refs = r;
      ps->caprefs = cap;
    }
    ir_tensor *t = shell(ps, ty, numel);
    ps->refs[ps->nrefs++] = (blobref){(uint64_t)nb, t, ps->line, col};
    return t;
  }
  expected(ps, "'[' or 'blob'");
  return NULL;
}

/* `tensor TYPE = DATA` (the keyword already consumed). */
static ir_tensor *tensor_lit(P *ps) {
  ir_type ty;
  ws(ps);
  const char *tat = ps->p;
  if (!parse_type(ps, &ty) || !expect(ps, '=')) return NULL;
  return tensor_data(ps, &ty, tat);
}

/* ---- attributes ----------------------------------------------------------------- */
static const struct {
  const char *word;
  ir_attr_kind kind;
} opaque_kinds[] = {
    {"graph", IR_ATTR_GRAPH},       {"graphs", IR_ATTR_GRAPHS},
    {"sparse_tensor", IR_ATTR_SPARSE_TENSOR}, {"sparse_tensors", IR_ATTR_SPARSE_TENSORS},
    {"type_proto", IR_ATTR_TYPE_PROTO}, {"type_protos", IR_ATTR_TYPE_PROTOS},
    {"undef", IR_ATTR_UNDEF},
};

static bool attr_list(P *ps, ir_attr *a) {
  if (lit(ps, ']')) {
    const char *s = NULL;
    size_t n = 0;
    ws(ps);
    const char *kat = ps->p;
    if (lit(ps, ':')) n = word(ps, &s);
    if (n == 1 && *s == 'i') a->kind = IR_ATTR_INTS;
    else if (n == 1 && *s == 'f') a->kind = IR_ATTR_FLOATS;
    else if (n == 1 && *s == 's') a->kind = IR_ATTR_STRINGS;
    else if (n == 1 && *s == 't') a->kind = IR_ATTR_TENSORS;
    else {
      char b[48];
      return ERR_AT(ps, kat, "an empty list needs its kind: []:i, []:f, []:s or []:t; found %s",
                    found(ps, kat, b));
    }
    ps->p = s + n;
    return true;
  }
  /* The first element decides the kind. */
  ir_attr_kind kind;
  if (ps->p < ps->end && *ps->p == '"') kind = IR_ATTR_STRINGS;
  else if (kw(ps, "tensor")) kind = IR_ATTR_TENSORS, ps->p -= 6;
  else if (at_number(ps)) {
    num x;
    const char *save = ps->p;
    if (!number(ps, &x)) return false;
    ps->p = save;
    kind = x.is_float ? IR_ATTR_FLOATS : IR_ATTR_INTS;
  } else {
    return expected(ps, "a list element (number, string or tensor)");
  }
  size_t es = kind == IR_ATTR_INTS ? sizeof(int64_t) : kind == IR_ATTR_FLOATS ? sizeof(float) : sizeof(void *);
  size_t n = 0;
  for (;;) {
    if (n >= MAX_LIST) return ERR_AT(ps, ps->p, "list longer than %d elements", MAX_LIST);
    if (!vec_room(ps, (n + 1) * es)) return false;
    void *w = (char *)ps->vec + n * es;
    ws(ps);
    const char *eat = ps->p;
    if (kind == IR_ATTR_STRINGS) {
      if (ps->p >= ps->end || *ps->p != '"')
        return expected(ps, "a string (the list started with a string)");
      if (!qstring(ps)) return false;
      if (memchr(ps->str, 0, ps->slen)) return ERR_AT(ps, eat, "a string list element cannot contain a NUL byte");
      char *s = ir_strndup(ps->g->arena, ps->str, ps->slen);
      memcpy(w, &s, sizeof s);
    } else if (kind == IR_ATTR_TENSORS) {
      if (!kw(ps, "tensor")) return expected(ps, "'tensor' (the list started with a tensor)");
      ir_tensor *t = tensor_lit(ps);
      if (!t) return false;
      memcpy(w, &t, sizeof t);
    } else {
      num x;
      if (!at_number(ps)) return expected(ps, "a number");
      if (!number(ps, &x)) return false;
      if (kind == IR_ATTR_INTS) {
        int64_t v;
        if (x.is_float) return ERR_AT(ps, eat, "'%s' in a list of integers (the list started with an integer)", x.s);
        if (!to_i64(ps, &x, &v)) return false;
        memcpy(w, &v, sizeof v);
      } else {
        float f;
        if (!x.is_float) return ERR_AT(ps, eat, "'%s' in a list of floats: write floats with a '.' (%s.0)", x.s, x.s);
        if (!to_f32(ps, &x, &f)) return false;
        memcpy(w, &f, sizeof f);
      }
    }
    n++;
    if (lit(ps, ']')) break;
    if (!lit(ps, ',')) return expected(ps, "',' or ']'");
  }
  void *arr = ir_alloc(ps->g->arena, n * es);
  memcpy(arr, ps->vec, n * es);
  a->kind = kind;
  a->n = (int)n;
  if (kind == IR_ATTR_INTS) a->ints = arr;
  else if (kind == IR_ATTR_FLOATS) a->floats = arr;
  else if (kind == IR_ATTR_STRINGS) a->strings = arr;
  else a->tensors = arr;
  return true;
}

/* `{name = value, ...}`, the '{' already consumed. */
static bool attrs(P *ps, ir_node *n) {
  if (lit(ps, '}')) return true;
  for (;;) {
    ws(ps);
    const char *at = ps->p;
    if (!name(ps, "attribute name")) return false;
    const char *nm = ir_strndup(ps->g->arena, ps->str, ps->slen);
    char b[160];
    if (ir_attr_find(n, nm))
      return ERR_AT(ps, at, "duplicate attribute '%s'", show(nm, strlen(nm), b));
    if (!expect(ps, '=')) return false;
    ir_attr tmp = {0};
    ws(ps);
    const char *vat = ps->p;
    if (ps->p < ps->end && *ps->p == '"') {
      if (!qstring(ps)) return false;
      tmp.kind = IR_ATTR_STRING;
      tmp.s = ir_strndup(ps->g->arena, ps->str, ps->slen);
      tmp.slen = ps->slen;
    } else if (lit(ps, '[')) {
      if (!attr_list(ps, &tmp)) return false;
    } else if (kw(ps, "tensor")) {
      tmp.kind = IR_ATTR_TENSOR;
      if (!(tmp.t = tensor_lit(ps))) return false;
    } else if (lit(ps, '<')) {
      const char *s;
      size_t k = word(ps, &s);
      size_t i = 0, nk = sizeof opaque_kinds / sizeof *opaque_kinds;
      while (i < nk && !(strlen(opaque_kinds[i].word) == k && !memcmp(opaque_kinds[i].word, s, k))) i++;
      if (i == nk) {
        char f[48];
        return ERR_AT(ps, vat, "unknown attribute value %s (expected <graph> or <graphs>)",
                      found(ps, vat, f));
      }
      ps->p = s + k;
      if (!expect(ps, '>')) return false;
      tmp.kind = opaque_kinds[i].kind;
    } else if (at_number(ps)) {
      num x;
      if (!number(ps, &x)) return false;
      if (x.is_float) {
        tmp.kind = IR_ATTR_FLOAT;
        if (!to_f32(ps, &x, &tmp.f)) return false;
      } else {
        tmp.kind = IR_ATTR_INT;
        if (!to_i64(ps, &x, &tmp.i)) return false;
      }
    } else {
      return expected(ps, "an attribute value");
    }
    ir_attr *a = ir_attr_add(ps->g, n, nm, tmp.kind);
    tmp.name = a->name;
    *a = tmp;
    if (lit(ps, '}')) return true;
    if (!lit(ps, ',')) return expected(ps, "',' or '}' after the attribute");
  }
}

/* ---- statements ----------------------------------------------------------------- */
typedef struct {
  const char *name; /* NULL: omitted output `_` */
  ir_type type;
  const char *at;
} outdef;

/* Grows a malloc'd array of elements of size es to hold n+1. */
static bool grow(P *ps, void **arr, size_t *cap, size_t n, size_t es) {
  if (n < *cap) return true;
  size_t c = *cap ? 2 * *cap : 8;
  void *p = realloc(*arr, c * es);
  if (!p) return ERR_AT(ps, ps->p, "out of memory");
  *arr = p;
  *cap = c;
  return true;
}

static const char *arity(int lo, int hi, char buf[48]) {
  if (hi < 0) snprintf(buf, 48, "at least %d", lo);
  else if (lo == hi) snprintf(buf, 48, "%d", lo);
  else snprintf(buf, 48, "%d to %d", lo, hi);
  return buf;
}


/* An int32 number after a keyword (node index, opset): `what` names it in
 * errors. */
static bool int32_after(P *ps, const char *expect, const char *what, int *out) {
  num x;
  int64_t v;
  if (!at_number(ps)) {
    expected(ps, expect);
    return false;
  }
  if (!number(ps, &x) || !to_i64(ps, &x, &v)) return false;
  if (v < INT32_MIN || v > INT32_MAX) {
    ERR_AT(ps, x.at, "%s %s is out of range", what, x.s);
    return false;
  }
  *out = (int)v;
  return true;
}

/* OUTS = Op(INS) {ATTRS} @name #index opset N */
static bool node_stmt(P *ps) {
  outdef *outs = NULL;
  ir_value **ins = NULL;
  size_t nout = 0, capout = 0, nin = 0, capin = 0;
  bool ok = false;
  int line = ps->line;
  ws(ps);
  if (!(ps->p < ps->end && *ps->p == '=')) {
    for (;;) {
      ws(ps);
      const char *at = ps->p;
      if (!grow(ps, (void **)&outs, &capout, nout, sizeof *outs)) goto done;
      outdef *o = &outs[nout++];
      o->at = at;
      o->name = NULL;
      if (lit(ps, '%')) {
        if (!name(ps, "value name")) goto done;
        if (!(o->name = fresh(ps, at))) goto done;
        for (size_t i = 0; i + 1 < nout; i++)
          if (outs[i].name && !strcmp(outs[i].name, o->name)) {
            char b[170];
            ERR_AT(ps, at, "value %s is defined twice by this node", showv(o->name, strlen(o->name), b));
            goto done;
          }
        if (!type_colon(ps) || !parse_type(ps, &o->type)) goto done;
      } else if (!lit(ps, '_')) {
        expected(ps, "'%name : type' or '_'");
        goto done;
      }
      if (nout > MAX_LIST) {
        ERR_AT(ps, at, "too many outputs");
        goto done;
      }
      if (!lit(ps, ',')) break;
    }
  }
  if (!expect(ps, '=')) goto done;
  ws(ps);
  const char *opat = ps->p, *q = ps->p;
  while (q < ps->end && (identch(*q) || *q == '.')) q++;
  if (q == opat || q - opat > 256) {
    expected(ps, "an op name");
    goto done;
  }
  char opname[260];
  memcpy(opname, opat, (size_t)(q - opat));
  opname[q - opat] = 0;
  int op = ir_op_parse_fullname(opname);
  if (op < 0) {
    ERR_AT(ps, opat, "unknown op '%s'", opname);
    goto done;
  }
  ps->p = q;
  if (!expect(ps, '(')) goto done;
  if (!lit(ps, ')')) {
    for (;;) {
      ws(ps);
      const char *at = ps->p;
      if (!grow(ps, (void **)&ins, &capin, nin, sizeof *ins)) goto done;
      if (lit(ps, '%')) {
        if (!name(ps, "value name") || !(ins[nin] = use(ps, at))) goto done;
      } else if (lit(ps, '_')) {
        ins[nin] = NULL;
      } else {
        expected(ps, "'%name' or '_'");
        goto done;
      }
      if (++nin > MAX_LIST) {
        ERR_AT(ps, at, "too many inputs");
        goto done;
      }
      if (lit(ps, ')')) break;
      if (!lit(ps, ',')) {
        expected(ps, "',' or ')'");
        goto done;
      }
    }
  }
  const ir_opinfo *oi = &ir_ops[op];
  char b[48];
  if ((int)nin < oi->min_in || (oi->max_in >= 0 && (int)nin > oi->max_in)) {
    ERR_AT(ps, opat, "%s takes %s input%s, but %zu %s given", opname, arity(oi->min_in, oi->max_in, b),
           oi->max_in == 1 ? "" : "s", nin, nin == 1 ? "is" : "are");
    goto done;
  }
  if ((int)nout < oi->min_out || (oi->max_out >= 0 && (int)nout > oi->max_out)) {
    ERR_AT(ps, opat, "%s has %s output%s, but %zu %s given", opname,
           arity(oi->min_out, oi->max_out, b), oi->max_out == 1 ? "" : "s", nout,
           nout == 1 ? "is" : "are");
    goto done;
  }
  ir_node *n = ir_node_new(ps->g, (ir_op)op, "", (int)nin, (int)nout);
  if (nin) memcpy(n->in, ins, nin * sizeof *ins);
  if (lit(ps, '{') && !attrs(ps, n)) goto done;
  if (lit(ps, '@')) {
    if (!name(ps, "node name")) goto done;
    n->name = ir_strndup(ps->g->arena, ps->str, ps->slen);
  }
  if (lit(ps, '#') && !int32_after(ps, "a node index after '#'", "node index", &n->index))
    goto done;
  if (kw(ps, "opset") && !int32_after(ps, "an opset version", "opset", &n->opset)) goto done;
  if (!end_line(ps)) goto done;
  for (size_t i = 0; i < nout; i++) {
    if (!outs[i].name) continue;
    ir_value *v = define(ps, outs[i].name, outs[i].type, NULL, line);
    if (!v) goto done;
    v->def = n;
    v->def_index = (int)i;
    n->out[i] = v;
  }
  ir_node_append(ps->g, n);
  ok = true;
done:
  free(outs);
  free(ins);
  return ok;
}

/* `input %x : TYPE` */
static bool input_stmt(P *ps) {
  ws(ps);
  const char *at = ps->p;
  ir_type ty;
  const char *nm;
  int line = ps->line;
  if (!expect(ps, '%') || !name(ps, "value name") || !(nm = fresh(ps, at))) return false;
  if (!type_colon(ps) || !parse_type(ps, &ty) || !end_line(ps)) return false;
  ir_value *v = define(ps, nm, ty, NULL, line);
  if (!v) return false;
  ir_graph_add_input(ps->g, v);
  return true;
}

/* `const %x : TYPE = DATA` */
static bool const_stmt(P *ps) {
  ws(ps);
  const char *at = ps->p;
  ir_type ty;
  const char *nm;
  int line = ps->line;
  if (!expect(ps, '%') || !name(ps, "value name") || !(nm = fresh(ps, at))) return false;
  if (!type_colon(ps)) return false;
  ws(ps);
  const char *tat = ps->p;
  if (!parse_type(ps, &ty) || !expect(ps, '=')) return false;
  ir_tensor *t = tensor_data(ps, &ty, tat);
  if (!t || !end_line(ps)) return false;
  t->name = nm;
  return define(ps, nm, ty, t, line) != NULL;
}

/* `output %x` or `output _` */
static bool output_stmt(P *ps) {
  ws(ps);
  const char *at = ps->p;
  ir_value *v = NULL;
  if (lit(ps, '%')) {
    if (!name(ps, "value name") || !(v = use(ps, at))) return false;
  } else if (!lit(ps, '_')) {
    return expected(ps, "'%name'");
  }
  if (!end_line(ps)) return false;
  ir_graph_add_output(ps->g, v);
  return true;
}

static bool graph_body(P *ps) {
  ir_graph *g = ps->g;
  enum { HEADER, BODY, OUTPUTS } state = HEADER;
  bool have_version = false, have_producer = false;
  for (;;) {
    skip_blank(ps);
    const char *at = ps->p, *s = NULL;
    if (ps->p >= ps->end) return ERR_AT(ps, at, "unexpected end of input: missing '}' to close the graph");
    if (*ps->p == '}') {
      ps->p++;
      return end_line(ps);
    }
    size_t n = *ps->p == '%' ? 0 : word(ps, &s);
    bool is_node = *ps->p == '%' || *ps->p == '=' || (n == 1 && *s == '_');
#define IS(k) (n == sizeof(k) - 1 && !memcmp(s, k, n))
    if (!is_node && (IS("ir_version") || IS("producer") || IS("opset"))) {
      if (state != HEADER)
        return ERR_AT(ps, at, "'%.*s' must come before inputs, constants and nodes", (int)n, s);
      ps->p = s + n;
      if (IS("ir_version")) {
        num x;
        if (have_version) return ERR_AT(ps, at, "ir_version given twice");
        have_version = true;
        if (!at_number(ps)) return expected(ps, "a version number");
        if (!number(ps, &x) || !to_i64(ps, &x, &g->ir_version)) return false;
      } else if (IS("producer")) {
        if (have_producer) return ERR_AT(ps, at, "producer given twice");
        have_producer = true;
        if (!qstring(ps)) return false;
        g->producer = ir_strndup(g->arena, ps->str, ps->slen);
      } else {
        ws(ps);
        const char *dat = ps->p;
        if (!qstring(ps)) return false;
        char *dom = ir_strndup(g->arena, ps->str, ps->slen);
        char b[160];
        for (int i = 0; i < g->nopsets; i++)
          if (!strcmp(g->opsets[i].domain, dom))
            return ERR_AT(ps, dat, "opset for domain \"%s\" given twice", show(dom, ps->slen, b));
        num x;
        int64_t v;
        if (!at_number(ps)) return expected(ps, "an opset version");
        if (!number(ps, &x) || !to_i64(ps, &x, &v)) return false;
        ir_opset *os = ir_alloc(g->arena, sizeof *os * (size_t)(g->nopsets + 1));
        if (g->nopsets) memcpy(os, g->opsets, sizeof *os * (size_t)g->nopsets);
        os[g->nopsets++] = (ir_opset){dom, v};
        g->opsets = os;
      }
      if (!end_line(ps)) return false;
    } else if (!is_node && IS("input")) {
      if (state == OUTPUTS) return ERR_AT(ps, at, "inputs must come before the outputs");
      state = BODY;
      ps->p = s + n;
      if (!input_stmt(ps)) return false;
    } else if (!is_node && IS("const")) {
      if (state == OUTPUTS) return ERR_AT(ps, at, "constants must come before the outputs");
      state = BODY;
      ps->p = s + n;
      if (!const_stmt(ps)) return false;
    } else if (!is_node && IS("output")) {
      state = OUTPUTS;
      ps->p = s + n;
      if (!output_stmt(ps)) return false;
    } else if (is_node) {
      if (state == OUTPUTS) return ERR_AT(ps, at, "nodes must come before the outputs");
      state = BODY;
      if (!node_stmt(ps)) return false;
    } else {
      char b[48];
      return ERR_AT(ps, at,
                    "expected a statement (ir_version, producer, opset, input, const, a node "
                    "or output), found %s",
                    found(ps, at, b));
    }
#undef IS
  }
}

/* `blob N = hex "..."`, after the graph. */
static bool blob_stmt(P *ps) {
  ws(ps);
  int line = ps->line, col = col_of(ps, ps->p);
  int64_t nb;
  if (!kw(ps, "blob")) return expected(ps, "'blob N = hex \"...\"' after the graph");
  if (!count(ps, "blob number", INT64_MAX, &nb) || !expect(ps, '=')) return false;
  ws(ps);
  if (lit(ps, '<')) {
    return ERR_AT(ps, ps->p - 1,
                  "blob %" PRId64 " was elided when printed (IR_PRINT_ELIDE): the file holds no "
                  "bytes for it and cannot be parsed",
                  nb);
  }
  if (!kw(ps, "hex")) return expected(ps, "'hex'");
  ws(ps);
  if (!(ps->p < ps->end && *ps->p == '"')) return expected(ps, "'\"' to open the hex bytes");
  const char *h = ++ps->p, *q = h;
  while (q < ps->end && hexval(*q) >= 0) q++;
  if (q >= ps->end || *q != '"') {
    char b[48];
    if (q >= ps->end || *q == '\n') return ERR_AT(ps, q, "unterminated hex string");
    return ERR_AT(ps, q, "invalid hex digit %s in blob %" PRId64, found(ps, q, b), nb);
  }
  if ((q - h) % 2) return ERR_AT(ps, q, "odd number of hex digits in blob %" PRId64, nb);
  ps->p = q + 1;
  if (!end_line(ps)) return false;
  if (ps->ndefs == ps->capdefs) {
    size_t cap = ps->capdefs ? 2 * ps->capdefs : 64;
    blobdef *d = realloc(ps->defs, cap * sizeof *d);
    if (!d) return ERR_AT(ps, h, "out of memory");
    ps->defs = d;
    ps->capdefs = cap;
  }
  ps->defs[ps->ndefs++] = (blobdef){(uint64_t)nb, h, (size_t)(q - h), line, col, false};
  return true;
}

static int defcmp(const void *a, const void *b) {
  const blobdef *x = a, *y = b;
  if (x->num != y->num) return x->num < y->num ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

/* Every reference finds exactly one definition of the right size; every
 * definition is referenced. */
static bool resolve_blobs(P *ps) {
  if (ps->ndefs) qsort(ps->defs, ps->ndefs, sizeof *ps->defs, defcmp);
  for (size_t i = 1; i < ps->ndefs; i++)
    if (ps->defs[i].num == ps->defs[i - 1].num)
      return err_lc(ps, ps->defs[i].line, ps->defs[i].col,
                    "blob %" PRIu64 " is defined twice (first at line %d)", ps->defs[i].num,
                    ps->defs[i - 1].line);
  for (size_t r = 0; r < ps->nrefs; r++) {
    blobref *ref = &ps->refs[r];
    size_t lo = 0, hi = ps->ndefs;
    while (lo < hi) {
      size_t m = lo + (hi - lo) / 2;
      if (ps->defs[m].num < ref->num) lo = m + 1;
      else hi = m;
    }
    if (lo == ps->ndefs || ps->defs[lo].num != ref->num)
      return err_lc(ps, ref->line, ref->col, "blob %" PRIu64 " is used but never defined", ref->num);
    blobdef *d = &ps->defs[lo];
    ir_tensor *t = ref->t;
    if (d->hexlen / 2 != t->nbytes)
      return err_lc(ps, d->line, d->col,
                    "blob %" PRIu64 " has %zu bytes, but its %s tensor of %" PRId64
                    " elements (used at line %d) needs %zu",
                    d->num, d->hexlen / 2, ir_dtype_name(t->dtype), t->numel, ref->line, t->nbytes);
    d->used = true;
    unsigned char *w = ir_alloc(ps->g->arena, t->nbytes);
    for (size_t i = 0; i < t->nbytes; i++)
      w[i] = (unsigned char)(hexval(d->hex[2 * i]) << 4 | hexval(d->hex[2 * i + 1]));
    t->data = w;
  }
  for (size_t i = 0; i < ps->ndefs; i++)
    if (!ps->defs[i].used)
      return err_lc(ps, ps->defs[i].line, ps->defs[i].col,
                    "blob %" PRIu64 " is defined but never used", ps->defs[i].num);
  return true;
}

static bool parse_all(P *ps) {
  skip_blank(ps);
  if (!kw(ps, "graph")) return expected(ps, "'graph \"name\" {'");
  if (!qstring(ps)) return false;
  ps->g->name = ir_strndup(ps->g->arena, ps->str, ps->slen);
  if (!expect(ps, '{') || !end_line(ps) || !graph_body(ps)) return false;
  for (;;) {
    skip_blank(ps);
    if (ps->p >= ps->end) break;
    if (!blob_stmt(ps)) return false;
  }
  return resolve_blobs(ps);
}

ir_graph *ir_parse(const char *text, size_t len, const char *filename, ir_diags *d) {
  P ps = {.p = text, .end = text + len, .lstart = text, .file = filename ? filename : "<input>",
          .line = 1, .d = d};
  if (!text) {
    ps.p = ps.end = ps.lstart = "";
  }
  ps.g = ir_graph_new();
  bool ok = parse_all(&ps);
  free(ps.tab);
  free(ps.refs);
  free(ps.defs);
  free(ps.str);
  free(ps.vec);
  if (!ok) {
    ir_graph_free(ps.g);
    return NULL;
  }
  return ps.g;
}
