/* verify.c - the IR verifier: checks that a graph is well formed and reports
 * every problem as a diagnostic. IR can come from a user's .mir file, so nothing
 * here aborts on bad IR.
 *
 * Checks: value names unique; every value defined once (a node output, a graph
 * input or a constant, never two of these); nodes in topological order (a use
 * before its definition is reported, and a cycle is named node by node); at
 * least one graph output, each defined; arity and required inputs per the op
 * table; attributes against the op's schema (unknown, wrong kind, missing
 * required); constant tensors consistent with their types and byte sizes; and
 * each output type consistent with re-running shape inference. That last check
 * infers into scratch copies of the output values (from a private arena), so
 * the graph is left exactly as it was.
 *
 * Requires: the op table (core.c) and shape inference (infer.c). Uses no node or
 * value scratch fields (id), so passes may keep state in them across a verify. */
#include <stdlib.h>
#include <string.h>

#include "infer.h"

/* ---- a pointer -> int map and a string set (open addressing, arena-backed) -- */
typedef struct {
  const void **key;
  int *val;
  size_t cap, n;
} pmap;

static size_t phash(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  return (size_t)x;
}

static void pmap_init(ir_arena *a, pmap *m, size_t want) {
  size_t cap = 16;
  while (cap < 2 * want + 16) cap *= 2;
  m->cap = cap;
  m->n = 0;
  m->key = ir_alloc(a, sizeof(void *) * cap);
  m->val = ir_alloc(a, sizeof(int) * cap);
}

static int pmap_get(const pmap *m, const void *k) {
  for (size_t i = phash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->key[i]) return -1;
    if (m->key[i] == k) return m->val[i];
  }
}

/* Inserts k -> v unless present; returns the value now stored. The map must
 * have been sized for every key that will be inserted. */
static int pmap_put(pmap *m, const void *k, int v) {
  MIXC_ASSERT(m->n + 1 < m->cap);
  for (size_t i = phash(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->key[i]) {
      m->key[i] = k;
      m->val[i] = v;
      m->n++;
      return v;
    }
    if (m->key[i] == k) return m->val[i];
  }
}

static size_t shash(const char *s) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return (size_t)h;
}

/* ---- per-value facts ---------------------------------------------------------- */
typedef struct {
  const ir_value *v;
  int ndefs;
  const char *def_desc;  /* the first definition, for messages */
  int def_pos;           /* producer's position in g->nodes; -1 input/constant */
  bool listed;           /* in g->values */
  bool reported;         /* "never defined" already said */
} vinfo;

typedef struct {
  ir_ctx *cx;
  ir_graph *g;
  ir_arena *a;
  pmap vmap;             /* value -> index in vi */
  vinfo *vi;
  int nvi, capvi;
  bool *node_ok;         /* structural checks passed */
} vstate;

static const char *node_label(vstate *s, const ir_node *n, int pos) {
  if (n->name && *n->name) return ir_sprintf(s->a, "\"%s\"", n->name);
  return ir_sprintf(s->a, "#%d (%s)", pos, ir_op_fullname(n->op));
}

static vinfo *vinfo_of(vstate *s, const ir_value *v) {
  int k = pmap_get(&s->vmap, v);
  if (k >= 0) return &s->vi[k];
  MIXC_ASSERT(s->nvi < s->capvi);
  k = s->nvi++;
  s->vi[k] = (vinfo){v, 0, NULL, -1, false, false};
  pmap_put(&s->vmap, v, k);
  return &s->vi[k];
}

static void add_def(vstate *s, const ir_value *v, const ir_node *n, const char *desc, int pos) {
  vinfo *vi = vinfo_of(s, v);
  if (vi->ndefs++) {
    ir_error(s->cx->d, n, "value %s is defined more than once: %s and %s", v->name, vi->def_desc,
             desc);
    return;
  }
  vi->def_desc = desc;
  vi->def_pos = pos;
}

/* ---- attributes -------------------------------------------------------------- */
static const char *kind_name(ir_attr_kind k) {
  static const char *names[] = {"undefined", "float",   "int",    "string",  "tensor",
                                "graph",     "floats",  "ints",   "strings", "tensors",
                                "graphs",    "sparse tensor", "sparse tensors", "type",
                                "types"};
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "unknown kind";
}

static bool check_tensor(vstate *s, const ir_node *n, const char *what, const ir_tensor *t);

static bool check_attrs(vstate *s, ir_node *n) {
  ir_diags *d = s->cx->d;
  bool ok = true;
  for (int i = 0; i < n->nattr; i++) {
    const ir_attr *a = &n->attrs[i];
    if (!a->name) {
      ir_error(d, n, "attribute %d has no name", i);
      ok = false;
      continue;
    }
    for (int j = 0; j < i; j++)
      if (n->attrs[j].name && !strcmp(n->attrs[j].name, a->name)) {
        ir_error(d, n, "attribute '%s' is given twice", a->name);
        ok = false;
      }
    bool req;
    ir_attr_kind k = ir_op_attr_schema(n->op, a->name, &req);
    if (k == IR_ATTR_UNDEF) {
      ir_error(d, n, "unknown attribute '%s' for %s", a->name, ir_op_fullname(n->op));
      ok = false;
    } else if (k != a->kind) {
      ir_error(d, n, "attribute '%s' should be %s, not %s", a->name, kind_name(k),
               kind_name(a->kind));
      ok = false;
    } else if ((a->kind == IR_ATTR_INTS && a->n > 0 && !a->ints) ||
               (a->kind == IR_ATTR_FLOATS && a->n > 0 && !a->floats) ||
               (a->kind == IR_ATTR_STRINGS && a->n > 0 && !a->strings) || a->n < 0 ||
               (a->kind == IR_ATTR_STRING && !a->s)) {
      ir_error(d, n, "attribute '%s' has no data", a->name);
      ok = false;
    } else if (a->kind == IR_ATTR_TENSOR) {
      ok = check_tensor(s, n, ir_sprintf(s->a, "attribute '%s'", a->name), a->t) && ok;
    }
  }
  /* required attributes: walk the schema text "name:kind[!] ..." */
  const char *p = ir_ops[n->op].attrs;
  while (p && *p) {
    while (*p == ' ') p++;
    const char *colon = strchr(p, ':');
    if (!colon) break;
    const char *end = colon + 1;
    while (*end && *end != ' ' && *end != '!') end++;
    if (*end == '!') {
      char *name = ir_strndup(s->a, p, (size_t)(colon - p));
      if (!ir_attr_find(n, name)) {
        ir_error(d, n, "missing required attribute '%s'", name);
        ok = false;
      }
      end++;
    }
    p = end;
  }
  return ok;
}

/* ---- constants ------------------------------------------------------------------ */
static bool check_tensor(vstate *s, const ir_node *n, const char *what, const ir_tensor *t) {
  ir_diags *d = s->cx->d;
  if (!t) {
    ir_error(d, n, "%s has no tensor", what);
    return false;
  }
  if (!ir_dtype_valid(t->dtype)) {
    ir_error(d, n, "%s has invalid data type %d", what, (int)t->dtype);
    return false;
  }
  if (t->rank < 0 || t->rank > IR_MAX_RANK || (t->rank && !t->dims)) {
    ir_error(d, n, "%s has invalid rank %d", what, t->rank);
    return false;
  }
  int64_t numel = ir_numel(t->rank, t->dims);
  if (numel < 0) {
    ir_error(d, n, "%s has invalid or absurd dims", what);
    return false;
  }
  if (t->numel != numel) {
    ir_error(d, n, "%s records %lld elements but its dims hold %lld", what, (long long)t->numel,
             (long long)numel);
    return false;
  }
  if (t->dtype != IR_STRING) {
    size_t want = (size_t)numel * ir_dtype_size(t->dtype);
    char dims[256];
    size_t k = 0;
    dims[k++] = '[';
    for (int i = 0; i < t->rank && k < sizeof dims - 24; i++)
      k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    dims[k++] = ']';
    dims[k] = 0;
    if (t->nbytes != want) {
      ir_error(d, n, "%s has %zu bytes but %s%s needs %zu", what, t->nbytes,
               ir_dtype_name(t->dtype), dims, want);
      return false;
    }
  }
  if (numel > 0 && !t->data) {
    ir_error(d, n, "%s has no data", what);
    return false;
  }
  return true;
}

static bool check_const_value(vstate *s, const ir_value *v) {
  ir_diags *d = s->cx->d;
  if (!v->konst) {
    ir_error(d, NULL, "constant %s has no tensor", v->name);
    return false;
  }
  const char *what = ir_sprintf(s->a, "constant %s", v->name);
  if (!check_tensor(s, NULL, what, v->konst)) return false;
  const ir_tensor *t = v->konst;
  const ir_type *ty = &v->type;
  bool ok = ty->dtype == IR_UNDEF || ty->dtype == t->dtype;
  ok = ok && (ty->rank < 0 || ty->rank == t->rank);
  for (int i = 0; ok && ty->rank >= 0 && i < ty->rank; i++)
    if (ir_dim_static(ty->dims[i]) && ty->dims[i].v != t->dims[i]) ok = false;
  if (!ok) {
    ir_type tt = {t->dtype, t->rank, NULL};
    ir_dim dims[IR_MAX_RANK];
    for (int i = 0; i < t->rank; i++) dims[i] = (ir_dim){t->dims[i], NULL};
    tt.dims = dims;
    ir_error(d, NULL, "constant %s has type %s but its tensor is %s", v->name,
             ir_type_str(s->a, ty), ir_type_str(s->a, &tt));
  }
  return ok;
}

/* ---- structure of one node ------------------------------------------------------ */
static bool check_node_shape(vstate *s, ir_node *n) {
  ir_diags *d = s->cx->d;
  if ((unsigned)n->op >= IR_OP_COUNT) {
    ir_error(d, NULL, "node \"%s\" has the invalid op code %d", n->name ? n->name : "", (int)n->op);
    return false;
  }
  const ir_opinfo *oi = &ir_ops[n->op];
  bool ok = true;
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in) || (n->nin && !n->in)) {
    if (oi->max_in < 0)
      ir_error(d, n, "%s takes at least %d inputs, got %d", ir_op_fullname(n->op), oi->min_in,
               n->nin);
    else if (oi->min_in == oi->max_in)
      ir_error(d, n, "%s takes %d inputs, got %d", ir_op_fullname(n->op), oi->min_in, n->nin);
    else
      ir_error(d, n, "%s takes %d to %d inputs, got %d", ir_op_fullname(n->op), oi->min_in,
               oi->max_in, n->nin);
    ok = false;
  }
  if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out) ||
      (n->nout && !n->out)) {
    if (oi->max_out < 0)
      ir_error(d, n, "%s has at least %d outputs, got %d", ir_op_fullname(n->op), oi->min_out,
               n->nout);
    else if (oi->min_out == oi->max_out)
      ir_error(d, n, "%s has %d outputs, got %d", ir_op_fullname(n->op), oi->min_out, n->nout);
    else
      ir_error(d, n, "%s has %d to %d outputs, got %d", ir_op_fullname(n->op), oi->min_out,
               oi->max_out, n->nout);
    ok = false;
  }
  if (!ok) return false;
  for (int i = 0; i < n->nin; i++)
    if (!n->in[i] && (i < oi->min_in || oi->max_in < 0)) {
      ir_error_in(d, n, i, "required input %d is missing", i);
      ok = false;
    }
  for (int i = 0; i < n->nout && i < oi->min_out; i++)
    if (!n->out[i]) {
      ir_error(d, n, "required output %d is missing", i);
      ok = false;
    }
  ok = check_attrs(s, n) && ok;
  return ok;
}

/* ---- cycles ------------------------------------------------------------------------ */
/* Iterative DFS along producer edges; reports each cycle found by node names. */
static void report_cycles(vstate *s) {
  ir_graph *g = s->g;
  int nn = g->nnodes, found = 0;
  unsigned char *color = ir_alloc(s->a, (size_t)nn + 1); /* 0 white, 1 on stack, 2 done */
  int *stack = ir_alloc(s->a, sizeof(int) * (size_t)(nn + 1));
  int *next = ir_alloc(s->a, sizeof(int) * (size_t)(nn + 1)); /* next input to look at */
  for (int root = 0; root < nn && found < 10; root++) {
    if (color[root] || !g->nodes[root] || g->nodes[root]->dead || !s->node_ok[root]) continue;
    int sp = 0;
    stack[sp++] = root;
    color[root] = 1;
    next[root] = 0;
    while (sp && found < 10) {
      int x = stack[sp - 1];
      ir_node *n = g->nodes[x];
      if (next[x] >= n->nin) {
        color[x] = 2;
        sp--;
        continue;
      }
      ir_value *v = n->in[next[x]++];
      if (!v) continue;
      int k = pmap_get(&s->vmap, v);
      if (k < 0 || s->vi[k].def_pos < 0) continue;
      int y = s->vi[k].def_pos;
      if (color[y] == 0) {
        color[y] = 1;
        next[y] = 0;
        stack[sp++] = y;
      } else if (color[y] == 1) { /* back edge: the cycle is stack[pos(y)..sp) */
        int from = sp - 1;
        while (stack[from] != y) from--;
        /* producer order: y feeds ..., which feeds x, which feeds y */
        char buf[1024];
        size_t len = 0;
        for (int i = sp - 1; i >= from && len < sizeof buf - 64; i--)
          len += (size_t)snprintf(buf + len, sizeof buf - len, "%s -> ",
                                  node_label(s, g->nodes[stack[i]], stack[i]));
        if (len < sizeof buf - 64)
          snprintf(buf + len, sizeof buf - len, "%s", node_label(s, g->nodes[x], x));
        ir_error(s->cx->d, g->nodes[y], "the graph has a cycle: %s (each feeds the next)", buf);
        found++;
      }
    }
  }
}

/* ---- types against inference ------------------------------------------------------------ */
static bool types_conflict(const ir_type *rec, const ir_type *inf) {
  if (rec->dtype != IR_UNDEF && inf->dtype != IR_UNDEF && rec->dtype != inf->dtype) return true;
  if (rec->rank < 0 || inf->rank < 0) return false;
  if (rec->rank != inf->rank) return true;
  for (int i = 0; i < rec->rank; i++)
    if (ir_dim_static(rec->dims[i]) && ir_dim_static(inf->dims[i]) &&
        rec->dims[i].v != inf->dims[i].v)
      return true;
  return false;
}

static bool check_types(vstate *s, ir_node *n, ir_ctx *vcx) {
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && n->in[i]->type.dtype == IR_UNDEF) return true; /* nothing to compare */
  ir_value **saved = n->out;
  ir_value **tmp = ir_alloc(s->a, sizeof(ir_value *) * (size_t)(n->nout ? n->nout : 1));
  for (int i = 0; i < n->nout; i++) {
    if (!saved[i]) continue;
    tmp[i] = ir_alloc(s->a, sizeof(ir_value));
    *tmp[i] = *saved[i];
    tmp[i]->type = (ir_type){IR_UNDEF, -1, NULL};
  }
  n->out = tmp;
  bool ok = ir_infer_node(vcx, n);
  n->out = saved;
  if (!ok) return false;
  for (int i = 0; i < n->nout; i++) {
    if (!saved[i] || !types_conflict(&saved[i]->type, &tmp[i]->type)) continue;
    ir_error(s->cx->d, n, "type of %s is %s but %s infers %s", saved[i]->name,
             ir_type_str(s->a, &saved[i]->type), ir_op_fullname(n->op),
             ir_type_str(s->a, &tmp[i]->type));
    ok = false;
  }
  return ok;
}

/* ---- the verifier ------------------------------------------------------------------------- */
bool ir_verify(ir_ctx *cx) {
  ir_graph *g = cx->g;
  ir_diags *d = cx->d;
  int errors0 = d ? d->nerrors : 0;
  bool ok = true;
  vstate st = {0};
  vstate *s = &st;
  s->cx = cx;
  s->g = g;
  s->a = ir_arena_new();
  /* every value that can be referenced: listed values, inputs, outputs, inits,
   * node inputs and outputs */
  size_t nref = (size_t)g->nvalues + (size_t)g->ninputs + (size_t)g->noutputs + (size_t)g->ninits;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]) nref += (size_t)g->nodes[i]->nin + (size_t)g->nodes[i]->nout;
  pmap_init(s->a, &s->vmap, nref);
  s->capvi = (int)nref + 1;
  s->vi = ir_alloc(s->a, sizeof(vinfo) * (size_t)s->capvi);
  s->node_ok = ir_alloc(s->a, (size_t)g->nnodes + 1);

  /* 1. the value list: names present and unique */
  size_t ncap = 16;
  while (ncap < 2 * (size_t)g->nvalues + 16) ncap *= 2;
  const char **names = ir_alloc(s->a, sizeof(char *) * ncap);
  for (int i = 0; i < g->nvalues; i++) {
    ir_value *v = g->values[i];
    if (!v) {
      ir_error(d, NULL, "value list entry %d is empty", i);
      ok = false;
      continue;
    }
    vinfo *vi = vinfo_of(s, v);
    if (vi->listed) continue; /* the same value listed twice: harmless */
    vi->listed = true;
    if (!v->name || !*v->name) {
      ir_error(d, NULL, "value list entry %d has no name", i);
      ok = false;
      continue;
    }
    for (size_t h = shash(v->name) & (ncap - 1);; h = (h + 1) & (ncap - 1)) {
      if (!names[h]) {
        names[h] = v->name;
        break;
      }
      if (!strcmp(names[h], v->name)) {
        ir_error(d, NULL, "two values are named %s", v->name);
        ok = false;
        break;
      }
    }
  }

  /* 2. definitions */
  for (int i = 0; i < g->ninputs; i++) {
    ir_value *v = g->inputs[i];
    if (!v) {
      ir_error(d, NULL, "graph input %d is empty", i);
      ok = false;
      continue;
    }
    add_def(s, v, NULL, "as a graph input", -1);
    if (!v->is_input) {
      ir_error(d, NULL, "graph input %s is not marked as an input", v->name);
      ok = false;
    }
  }
  for (int i = 0; i < g->ninits; i++) {
    ir_value *v = g->inits[i];
    if (!v) {
      ir_error(d, NULL, "constant list entry %d is empty", i);
      ok = false;
      continue;
    }
    add_def(s, v, NULL, "as a constant", -1);
    ok = check_const_value(s, v) && ok;
  }
  for (int j = 0; j < g->nnodes; j++) {
    ir_node *n = g->nodes[j];
    if (!n) {
      ir_error(d, NULL, "node list entry %d is empty", j);
      ok = false;
      continue;
    }
    if (n->dead) continue;
    s->node_ok[j] = check_node_shape(s, n);
    if (!s->node_ok[j]) {
      ok = false;
      if ((unsigned)n->op >= IR_OP_COUNT || (n->nout && !n->out) || (n->nin && !n->in)) continue;
    }
    for (int k = 0; k < n->nout; k++) {
      ir_value *v = n->out[k];
      if (!v) continue;
      add_def(s, v, n, ir_sprintf(s->a, "by node %s output %d", node_label(s, n, j), k), j);
      if (v->def != n || v->def_index != k) {
        ir_error(d, n, "value %s is output %d of this node but records another producer", v->name,
                 k);
        ok = false;
      }
    }
  }
  for (int i = 0; i < s->nvi; i++) {
    if (s->vi[i].ndefs > 1) ok = false;
    if (s->vi[i].ndefs && !s->vi[i].listed) {
      ir_error(d, NULL, "value %s is defined but missing from the graph's value list",
               s->vi[i].v->name);
      ok = false;
    }
  }

  /* 3. uses: defined, and defined earlier in node order */
  bool out_of_order = false;
  for (int j = 0; j < g->nnodes; j++) {
    ir_node *n = g->nodes[j];
    if (!n || n->dead || (unsigned)n->op >= IR_OP_COUNT || (n->nin && !n->in)) continue;
    for (int i = 0; i < n->nin; i++) {
      ir_value *v = n->in[i];
      if (!v) continue;
      vinfo *vi = vinfo_of(s, v);
      if (!vi->ndefs) {
        if (!vi->reported)
          ir_error_in(d, n, i, "value %s is used but never defined", v->name ? v->name : "?");
        vi->reported = true;
        s->node_ok[j] = false;
        ok = false;
      } else if (vi->def_pos >= j) {
        ir_error_in(d, n, i, "value %s used before it is defined", v->name);
        out_of_order = true;
        ok = false;
      }
    }
  }
  if (out_of_order) report_cycles(s);

  /* 4. graph outputs: at least one, each defined */
  if (g->noutputs == 0) {
    ir_error(d, NULL, "the graph has no outputs: there is nothing to compute");
    ok = false;
  }
  for (int i = 0; i < g->noutputs; i++) {
    ir_value *v = g->outputs[i];
    if (!v) {
      ir_error(d, NULL, "graph output %d is empty", i);
      ok = false;
    } else if (!vinfo_of(s, v)->ndefs) {
      ir_error(d, NULL, "graph output %s is never defined", v->name ? v->name : "?");
      ok = false;
    }
  }

  /* 5. types against shape inference, into scratch copies of the outputs */
  ir_graph tg = *g;
  tg.arena = s->a;
  ir_ctx vcx = {&tg, d, s->a};
  for (int j = 0; j < g->nnodes; j++) {
    ir_node *n = g->nodes[j];
    if (!n || n->dead || !s->node_ok[j]) continue;
    ok = check_types(s, n, &vcx) && ok;
  }

  ir_arena_free(s->a);
  return ok && (!d || d->nerrors == errors0);
}
