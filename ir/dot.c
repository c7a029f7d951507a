/* dot.c - ir_print_dot: the graph as a Graphviz digraph, for looking at. Graph
 * inputs are ellipses, nodes are boxes labelled with the full op name and the
 * ONNX node name, weights (constants of 2 or more elements) are small grey notes,
 * scalar constants are folded into their consumers' labels as `name = value`,
 * graph outputs are double ellipses. Edges go from producer to consumer and carry
 * the value's type.
 *
 * Requires: ir.h and core.c (ir_type_str, op names). Only reads the graph; the
 * scratch `id` fields are left alone (a private pointer map numbers the nodes).
 * Output is deterministic: ids are positions in the graph's lists. */
#include "ir.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- a pointer -> int map (open addressing) --------------------------------- */
typedef struct {
  const void **keys;
  int *vals;
  size_t cap;
} pmap;

static size_t phash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdu;
  x ^= x >> 33;
  return (size_t)x;
}

static bool pmap_init(pmap *m, size_t n) {
  m->cap = 16;
  while (m->cap < 2 * n + 2) m->cap *= 2;
  m->keys = calloc(m->cap, sizeof *m->keys);
  m->vals = calloc(m->cap, sizeof *m->vals);
  return m->keys && m->vals;
}

static void pmap_put(pmap *m, const void *k, int v) {
  size_t i = phash(k) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
  m->keys[i] = k;
  m->vals[i] = v;
}

static int pmap_get(const pmap *m, const void *k) {
  for (size_t i = phash(k) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
    if (m->keys[i] == k) return m->vals[i];
  return -1;
}

/* ---- labels ---------------------------------------------------------------------- */
/* Writes s as the inside of a DOT string: quotes and backslashes escaped, control
 * bytes and invalid UTF-8 shown as '?', so the label text is exactly s. */
static void esc(FILE *f, const char *s) {
  const unsigned char *u = (const unsigned char *)(s ? s : "");
  while (*u) {
    unsigned char c = *u;
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc(c, f);
    } else if (c == '\n') {
      fputs("\\\\n", f); /* a literal backslash-n: the name contains a newline */
    } else if (c < 0x20 || c == 0x7f) {
      fputc('?', f);
    } else if (c >= 0x80) {
      int k = c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
      int i = 1;
      while (i < k && (u[i] & 0xc0) == 0x80) i++;
      if (k && i == k) {
        fwrite(u, 1, (size_t)k, f);
        u += k;
        continue;
      }
      fputc('?', f);
    } else {
      fputc(c, f);
    }
    u++;
  }
}

static bool is_weight(const ir_value *v) {
  return v->konst && v->konst->numel >= 2;
}

/* `name = value` of a scalar (or empty) constant, folded into a node label. */
static void folded(FILE *f, const ir_value *v) {
  const ir_tensor *t = v->konst;
  fputs("\\n", f);
  esc(f, v->name);
  fputs(" = ", f);
  if (t->numel == 0 || !t->data) {
    fputs("[]", f);
    return;
  }
  if (t->dtype == IR_STRING) {
    fputs("\\\"", f);
    esc(f, ((const char *const *)t->data)[0]);
    fputs("\\\"", f);
  } else if (t->dtype == IR_BOOL) {
    fputs(ir_tensor_get_i(t, 0) ? "true" : "false", f);
  } else if (t->dtype == IR_U64) {
    fprintf(f, "%" PRIu64, ((const uint64_t *)t->data)[0]);
  } else if (ir_dtype_is_int(t->dtype)) {
    fprintf(f, "%" PRId64, ir_tensor_get_i(t, 0));
  } else if (ir_dtype_is_float(t->dtype)) {
    char b[64];
    snprintf(b, sizeof b, "%.6g", ir_tensor_get_f(t, 0));
    if (!strpbrk(b, ".eni")) strcat(b, ".0");
    fputs(b, f);
  } else {
    fprintf(f, "<%s>", ir_dtype_name(t->dtype));
  }
}

/* The DOT id of whatever defines v ("i3", "c0", "n12"), or false if nothing drawn does. */
static bool src_id(const pmap *m, const ir_value *v, char buf[32]) {
  if (v->def) {
    int k = pmap_get(m, v->def);
    if (k < 0) return false;
    snprintf(buf, 32, "n%d", k);
    return true;
  }
  int k = pmap_get(m, v);
  if (k < 0) return false;
  snprintf(buf, 32, "%c%d", k & 1 ? 'c' : 'i', k >> 1);
  return true;
}

static void edge(FILE *f, ir_arena *a, const char *from, const char *to, const ir_value *v) {
  fprintf(f, "  %s -> %s [label=\"", from, to);
  esc(f, ir_type_str(a, &v->type));
  fputs("\"];\n", f);
}

void ir_print_dot(const ir_graph *g, FILE *f) {
  pmap m;
  ir_arena *a = ir_arena_new();
  if (!pmap_init(&m, (size_t)g->nnodes + (size_t)g->ninputs + (size_t)g->ninits)) {
    free(m.keys);
    free(m.vals);
    ir_arena_free(a);
    return;
  }
  fputs("digraph \"", f);
  esc(f, g->name);
  fputs("\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
        "  edge [fontname=\"Helvetica\", fontsize=8, fontcolor=\"#555555\"];\n",
        f);
  /* Inputs (even map keys) and drawn constants (odd). */
  for (int i = 0; i < g->ninputs; i++) {
    const ir_value *v = g->inputs[i];
    if (!v) continue;
    pmap_put(&m, v, 2 * i);
    fprintf(f, "  i%d [shape=ellipse, label=\"", i);
    esc(f, v->name);
    fputs("\\n", f);
    esc(f, ir_type_str(a, &v->type));
    fputs("\"];\n", f);
  }
  bool *is_out = calloc((size_t)g->ninits + 1, 1);
  for (int i = 0; i < g->ninits; i++) {
    const ir_value *v = g->inits[i];
    if (!v || !v->konst || !is_out) continue;
    for (int j = 0; j < g->noutputs; j++) is_out[i] |= g->outputs[j] == v;
    if (!is_weight(v) && !is_out[i]) continue;
    pmap_put(&m, v, 2 * i + 1);
    fprintf(f, "  c%d [shape=note, style=filled, fillcolor=\"#e8e8e8\", color=\"#999999\", "
               "fontsize=8, label=\"", i);
    esc(f, v->name);
    fputs("\\n", f);
    esc(f, ir_type_str(a, &v->type));
    fputs("\"];\n", f);
  }
  free(is_out);
  for (int i = 0; i < g->nnodes; i++) pmap_put(&m, g->nodes[i], i);
  for (int i = 0; i < g->nnodes; i++) {
    const ir_node *n = g->nodes[i];
    fprintf(f, "  n%d [shape=box, style=rounded, label=\"", i);
    esc(f, (unsigned)n->op < IR_OP_COUNT ? ir_op_fullname(n->op) : "?");
    if (n->name && *n->name) {
      fputs("\\n", f);
      esc(f, n->name);
    }
    for (int j = 0; j < n->nin; j++) {
      const ir_value *v = n->in[j];
      if (v && v->konst && !v->def && pmap_get(&m, v) < 0) folded(f, v);
    }
    fputs("\"];\n", f);
    char from[32], to[32];
    snprintf(to, sizeof to, "n%d", i);
    for (int j = 0; j < n->nin; j++) {
      const ir_value *v = n->in[j];
      if (v && src_id(&m, v, from)) edge(f, a, from, to, v);
    }
  }
  for (int i = 0; i < g->noutputs; i++) {
    const ir_value *v = g->outputs[i];
    if (!v) continue;
    fprintf(f, "  o%d [shape=ellipse, peripheries=2, label=\"", i);
    esc(f, v->name);
    fputs("\"];\n", f);
    char from[32], to[32];
    snprintf(to, sizeof to, "o%d", i);
    if (src_id(&m, v, from)) edge(f, a, from, to, v);
  }
  fputs("}\n", f);
  free(m.keys);
  free(m.vals);
  ir_arena_free(a);
}
