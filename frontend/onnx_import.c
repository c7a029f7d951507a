/* onnx_import.c - the ONNX importer: reads a ModelProto (file or memory) and
 * builds the IR graph. Opset imports, initializers, graph inputs and outputs,
 * value_info, nodes mapped through the op table, Constant nodes turned into
 * constants. Every problem becomes a diagnostic and import goes on, so that one
 * run reports all of them (TVM's "unsupported ops: A, B, C" rather than the first).
 *
 * Requires: protobuf-c code generated from onnx.proto. The decoded message is
 * handed to the graph (ir_graph_own), so names and weights may point into it.
 * Order of work: a walk over the wire format (nesting bounded, NUL bytes in
 * names and external data refused: protobuf-c would cut them), initializers,
 * graph inputs, then all nodes (defining their outputs), then node inputs are
 * resolved by name (models may list nodes out of order), then value_info and
 * graph outputs (at least one), then ir_graph_toposort. */
#define _XOPEN_SOURCE 700 /* realpath, strndup, O_CLOEXEC */
#include "frontend/fe_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- diagnostics ----------------------------------------------------------------- */
static void diagv(fe_imp *im, ir_severity sev, const fe_loc *loc, int input, const char *fmt,
                  va_list ap) {
  bool at_node = loc && loc->node;
  ir_diag_addv(im->d, sev, at_node ? loc->node : NULL, at_node ? loc->op : NULL,
               at_node ? loc->index : -1, input, fmt, ap);
}

void fe_error(fe_imp *im, const fe_loc *loc, int input, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diagv(im, IR_ERROR, loc, input, fmt, ap);
  va_end(ap);
}

void fe_warning(fe_imp *im, const fe_loc *loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diagv(im, IR_WARNING, loc, -1, fmt, ap);
  va_end(ap);
}

/* ---- the value namespace: ONNX name -> value and who defined it -------------------- */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static fe_def *def_slot(fe_imp *im, const char *name) {
  size_t mask = im->capdefs - 1;
  for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask)
    if (!im->defs[i].name || !strcmp(im->defs[i].name, name)) return &im->defs[i];
}

static fe_def *def_find(fe_imp *im, const char *name) {
  if (!im->capdefs) return NULL;
  fe_def *s = def_slot(im, name);
  return s->name ? s : NULL;
}

/* Records name -> v. The caller has checked the name is not taken. */
static void def_add(fe_imp *im, const char *name, ir_value *v, int node) {
  if (2 * (im->ndefs + 1) > im->capdefs) {
    size_t cap = im->capdefs ? 2 * im->capdefs : 256;
    fe_def *old = im->defs;
    size_t oldcap = im->capdefs;
    im->defs = calloc(cap, sizeof *im->defs);
    if (!im->defs) MIXC_BUG("out of memory");
    im->capdefs = cap;
    for (size_t i = 0; i < oldcap; i++)
      if (old[i].name) *def_slot(im, old[i].name) = old[i];
    free(old);
  }
  fe_def *s = def_slot(im, name);
  *s = (fe_def){name, v, node};
  im->ndefs++;
}

static const ir_type unknown_type = {IR_UNDEF, -1, NULL};

/* Says who defined a name first, for "defined twice" messages. */
static const char *def_origin(fe_imp *im, const Onnx__GraphProto *gp, const fe_def *e) {
  if (e->node == FE_DEF_INPUT) return "a graph input";
  if (e->node == FE_DEF_INIT) return "an initializer";
  const Onnx__NodeProto *np = gp->node[e->node];
  return ir_sprintf(im->g->arena, "node \"%s\" (%s #%d)", np->name ? np->name : "",
                    np->op_type ? np->op_type : "?", e->node);
}

/* Defines output `name` of node `idx` (out_index j). Duplicates are diagnosed and
 * get a fresh value, so the node stays well formed. */
static ir_value *define_output(fe_imp *im, const Onnx__GraphProto *gp, const fe_loc *loc,
                               int idx, const char *name) {
  fe_def *e = def_find(im, name);
  ir_value *v = ir_value_new(im->g, name, unknown_type);
  if (e) {
    if (e->node == FE_DEF_DANGLING) MIXC_BUG("dangling names are made after all nodes");
    fe_error(im, loc, -1, "value '%s' is defined twice (first by %s)", name,
             def_origin(im, gp, e));
  } else {
    def_add(im, name, v, idx);
  }
  return v;
}

/* ---- opsets ---------------------------------------------------------------------- */
static bool is_onnx_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

static void import_opsets(fe_imp *im, const Onnx__ModelProto *m) {
  ir_graph *g = im->g;
  g->opsets = ir_alloc(g->arena, sizeof(ir_opset) * (m->n_opset_import ? m->n_opset_import : 1));
  bool onnx_seen = false;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *os = m->opset_import[i];
    const char *dom = is_onnx_domain(os->domain) ? "" : os->domain;
    int64_t ver = os->has_version ? os->version : 0;
    bool dup = false;
    for (int j = 0; j < g->nopsets && !dup; j++) dup = !strcmp(g->opsets[j].domain, dom);
    if (dup) {
      fe_error(im, NULL, -1, "opset of domain '%s' is imported twice", *dom ? dom : "ai.onnx");
      continue;
    }
    g->opsets[g->nopsets++] = (ir_opset){ir_strdup(g->arena, dom), ver};
    if (!*dom) {
      onnx_seen = true;
      im->onnx_opset = ver;
      if (ver < FE_ONNX_OPSET_MIN || ver > FE_ONNX_OPSET_MAX)
        fe_error(im, NULL, -1, "unsupported ai.onnx opset %lld (mixc supports %d to %d)",
                 (long long)ver, FE_ONNX_OPSET_MIN, FE_ONNX_OPSET_MAX);
    } else if (!strcmp(dom, "com.microsoft")) {
      im->ms_opset = ver;
      if (ver != FE_MS_OPSET)
        fe_error(im, NULL, -1, "unsupported com.microsoft opset %lld (mixc supports %d)",
                 (long long)ver, FE_MS_OPSET);
    }
    /* Other domains are diagnosed per node that uses them. */
  }
  if (!onnx_seen) fe_error(im, NULL, -1, "the model does not import the ai.onnx opset");
}

/* ---- initializers and graph inputs --------------------------------------------------- */
static void import_initializers(fe_imp *im, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    if (!tp->name || !*tp->name) {
      fe_error(im, NULL, -1, "initializer #%zu has no name", i);
      continue;
    }
    const char *what = ir_sprintf(im->g->arena, "initializer '%s'", tp->name);
    if (def_find(im, tp->name)) {
      fe_error(im, NULL, -1, "%s is defined twice", what);
      continue;
    }
    ir_tensor *t = fe_tensor_decode(im, NULL, what, tp);
    ir_value *v = t ? ir_const_new(im->g, tp->name, t) : ir_value_new(im->g, tp->name, unknown_type);
    def_add(im, tp->name, v, FE_DEF_INIT);
  }
  for (size_t i = 0; i < gp->n_sparse_initializer; i++)
    fe_error(im, NULL, -1, "sparse initializer #%zu is not supported", i);
}

/* An input's declared type must fit its initializer (IR version < 4 style). */
static void check_input_init(fe_imp *im, const char *name, const ir_type *ty, const ir_value *v) {
  const ir_tensor *t = v->konst;
  if (!t) return;
  bool bad = (ty->dtype != IR_UNDEF && ty->dtype != t->dtype) ||
             (ty->rank >= 0 && ty->rank != t->rank);
  for (int i = 0; !bad && ty->rank == t->rank && i < ty->rank; i++)
    bad = ir_dim_static(ty->dims[i]) && ty->dims[i].v != t->dims[i];
  if (bad)
    fe_error(im, NULL, -1, "graph input '%s' does not match the type of its initializer", name);
}

static void import_inputs(fe_imp *im, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || !*vi->name) {
      fe_error(im, NULL, -1, "graph input #%zu has no name", i);
      continue;
    }
    ir_type ty;
    const char *what = ir_sprintf(im->g->arena, "graph input '%s'", vi->name);
    fe_type_decode(im, NULL, what, vi->type, &ty);
    fe_def *e = def_find(im, vi->name);
    if (e && e->node == FE_DEF_INIT) { /* has an initializer: a constant */
      check_input_init(im, vi->name, &ty, e->v);
      continue;
    }
    if (e) {
      fe_error(im, NULL, -1, "%s is listed twice", what);
      continue;
    }
    ir_value *v = ir_value_new(im->g, vi->name, ty);
    ir_graph_add_input(im->g, v);
    def_add(im, vi->name, v, FE_DEF_INPUT);
  }
}

/* ---- nodes ------------------------------------------------------------------------- */
static bool has_graph_attr(const Onnx__NodeProto *np) {
  for (size_t i = 0; i < np->n_attribute; i++) {
    ir_attr_kind k = fe_attr_kind(np->attribute[i]);
    if (k == IR_ATTR_GRAPH || k == IR_ATTR_GRAPHS) return true;
  }
  return false;
}

static bool is_subgraph_op(const char *op) {
  static const char *ops[] = {"If", "Loop", "Scan", "SequenceMap"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(op, ops[i])) return true;
  return false;
}

static const char *count_range(fe_imp *im, int lo, int hi, const char *noun) {
  if (hi < 0) return ir_sprintf(im->g->arena, "at least %d %s%s", lo, noun, lo == 1 ? "" : "s");
  if (lo == hi) return ir_sprintf(im->g->arena, "%d %s%s", lo, noun, lo == 1 ? "" : "s");
  return ir_sprintf(im->g->arena, "%d to %d %ss", lo, hi, noun);
}

/* Checks input/output counts against the op table; false if wrong (diagnosed). */
static bool check_arity(fe_imp *im, const fe_loc *loc, ir_op op, const Onnx__NodeProto *np) {
  const ir_opinfo *oi = &ir_ops[op];
  bool ok = true;
  if ((int64_t)np->n_input < oi->min_in || (oi->max_in >= 0 && (int64_t)np->n_input > oi->max_in)) {
    fe_error(im, loc, -1, "%s takes %s, got %zu", ir_op_fullname(op),
             count_range(im, oi->min_in, oi->max_in, "input"), np->n_input);
    ok = false;
  }
  if ((int64_t)np->n_output < oi->min_out ||
      (oi->max_out >= 0 && (int64_t)np->n_output > oi->max_out)) {
    fe_error(im, loc, -1, "%s has %s, got %zu", ir_op_fullname(op),
             count_range(im, oi->min_out, oi->max_out, "output"), np->n_output);
    ok = false;
  }
  for (size_t i = 0; i < np->n_input && (int)i < oi->min_in; i++)
    if (!np->input[i] || !*np->input[i]) {
      fe_error(im, loc, (int)i, "required input of %s is empty", ir_op_fullname(op));
      ok = false;
    }
  return ok;
}

/* The names a node defines, when the node itself cannot be imported: placeholder
 * values, so that its consumers are not also reported as dangling. */
static void define_placeholders(fe_imp *im, const Onnx__GraphProto *gp, const fe_loc *loc,
                                int idx, const Onnx__NodeProto *np) {
  for (size_t j = 0; j < np->n_output; j++)
    if (np->output[j] && *np->output[j]) define_output(im, gp, loc, idx, np->output[j]);
}

/* A Constant node becomes a constant value named after its output. */
static void import_constant(fe_imp *im, const Onnx__GraphProto *gp, const fe_loc *loc, int idx,
                            const Onnx__NodeProto *np) {
  ir_arena *a = im->g->arena;
  const char *out = np->n_output ? np->output[0] : NULL;
  /* sparse_value is declared in the schema so it is not "unknown"; say why instead. */
  for (size_t i = 0; i < np->n_attribute; i++)
    if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, "sparse_value")) {
      fe_error(im, loc, -1, "sparse constants (attribute 'sparse_value') are not supported");
      if (out && *out) define_output(im, gp, loc, idx, out);
      return;
    }
  ir_attr *attrs;
  int nattr;
  bool ok = fe_attrs_decode(im, loc, IR_OP_Constant, np, &attrs, &nattr);
  ir_tensor *t = NULL;
  if (ok && nattr != 1) {
    fe_error(im, loc, -1, "Constant needs exactly one value attribute, got %d", nattr);
    ok = false;
  }
  if (ok) {
    const ir_attr *at = &attrs[0];
    int64_t n = at->n;
    switch (at->kind) {
    case IR_ATTR_TENSOR: t = at->t; break;
    case IR_ATTR_FLOAT:
      t = ir_tensor_new(a, IR_F32, 0, NULL);
      ((float *)t->data)[0] = at->f;
      break;
    case IR_ATTR_FLOATS:
      t = ir_tensor_new(a, IR_F32, 1, &n);
      if (n) memcpy(t->data, at->floats, sizeof(float) * (size_t)n);
      break;
    case IR_ATTR_INT: t = ir_tensor_scalar_i64(a, at->i); break;
    case IR_ATTR_INTS: t = ir_tensor_vec_i64(a, at->n, at->ints); break;
    case IR_ATTR_STRING:
      t = ir_tensor_new(a, IR_STRING, 0, NULL);
      ((const char **)t->data)[0] = at->s;
      break;
    case IR_ATTR_STRINGS:
      t = ir_tensor_new(a, IR_STRING, 1, &n);
      if (n) memcpy(t->data, at->strings, sizeof(char *) * (size_t)n);
      break;
    default: MIXC_BUG("Constant attribute kind %d passed the schema", (int)at->kind);
    }
  }
  if (!out || !*out) return; /* nothing can use it */
  if (!t) {
    define_output(im, gp, loc, idx, out);
    return;
  }
  fe_def *e = def_find(im, out);
  if (e) {
    fe_error(im, loc, -1, "value '%s' is defined twice (first by %s)", out, def_origin(im, gp, e));
    return;
  }
  t->name = ir_strdup(a, out);
  def_add(im, out, ir_const_new(im->g, out, t), idx);
}

/* First pass over one node: op lookup, checks, attributes, outputs. Returns the
 * node, or NULL when none can be made (diagnosed; outputs get placeholders). */
static ir_node *import_node(fe_imp *im, const Onnx__GraphProto *gp, int idx) {
  const Onnx__NodeProto *np = gp->node[idx];
  const char *op_type = np->op_type ? np->op_type : "";
  fe_loc loc = {np->name ? np->name : "", op_type, idx};
  const char *domain = np->domain ? np->domain : "";
  if (!*op_type) {
    fe_error(im, &loc, -1, "node has no op type");
    define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  int64_t opset;
  if (is_onnx_domain(domain)) {
    opset = im->onnx_opset;
  } else if (!strcmp(domain, "com.microsoft")) {
    opset = im->ms_opset;
    if (!opset) {
      fe_error(im, &loc, -1, "domain com.microsoft is used but its opset is not imported");
      define_placeholders(im, gp, &loc, idx, np);
      return NULL;
    }
  } else {
    fe_error(im, &loc, -1, "unknown domain '%s' (op %s)", domain, op_type);
    define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  if (has_graph_attr(np) || (is_onnx_domain(domain) && is_subgraph_op(op_type))) {
    fe_error(im, &loc, -1, "subgraph op %s is not supported", op_type);
    define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  int op = ir_op_lookup(domain, op_type);
  if (op < 0) {
    fe_error(im, &loc, -1, "unknown op %s in domain %s", op_type,
             is_onnx_domain(domain) ? "ai.onnx" : domain);
    define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  if (opset > 0 && ir_ops[op].since > opset)
    fe_error(im, &loc, -1, "%s does not exist in opset %lld (since %d)", op_type,
             (long long)opset, ir_ops[op].since);
  bool arity_ok = check_arity(im, &loc, (ir_op)op, np);
  if (op == IR_OP_Constant) {
    if (arity_ok) import_constant(im, gp, &loc, idx, np);
    else define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  if (np->n_input > 1u << 30 || np->n_output > 1u << 30) {
    fe_error(im, &loc, -1, "absurd number of inputs or outputs");
    define_placeholders(im, gp, &loc, idx, np);
    return NULL;
  }
  ir_node *n = ir_node_new(im->g, (ir_op)op, loc.node, (int)np->n_input, (int)np->n_output);
  n->index = idx;
  n->opset = (int)opset;
  fe_attrs_decode(im, &loc, op, np, &n->attrs, &n->nattr);
  for (size_t j = 0; j < np->n_output; j++) {
    const char *name = np->output[j];
    if (!name || !*name) continue; /* unused optional output: NULL */
    ir_value *v = define_output(im, gp, &loc, idx, name);
    v->def = n;
    v->def_index = (int)j;
    n->out[j] = v;
  }
  ir_node_append(im->g, n);
  return n;
}

/* Second pass: node inputs by name. A name nobody defines is a dangling edge; it
 * gets one placeholder value, and each use is reported. */
static void resolve_inputs(fe_imp *im, const Onnx__GraphProto *gp, ir_node *n) {
  const Onnx__NodeProto *np = gp->node[n->index];
  fe_loc loc = {n->name, np->op_type, n->index};
  for (size_t j = 0; j < np->n_input; j++) {
    const char *name = np->input[j];
    if (!name || !*name) continue; /* omitted optional input: NULL */
    fe_def *e = def_find(im, name);
    if (!e || e->node == FE_DEF_DANGLING) {
      fe_error(im, &loc, (int)j,
               "dangling edge: value '%s' is not a graph input, initializer or node output", name);
      if (!e) {
        def_add(im, name, ir_value_new(im->g, name, unknown_type), FE_DEF_DANGLING);
        e = def_find(im, name);
      }
    }
    n->in[j] = e->v;
  }
}

/* ---- value_info and graph outputs ---------------------------------------------------- */
static void import_value_info(fe_imp *im, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_value_info; i++) {
    const Onnx__ValueInfoProto *vi = gp->value_info[i];
    if (!vi->name || !*vi->name) continue;
    fe_def *e = def_find(im, vi->name);
    /* Stale value_info (for names that no longer exist) is harmless: skipped. */
    if (!e || !e->v->def) continue;
    ir_type ty;
    const char *what = ir_sprintf(im->g->arena, "value_info '%s'", vi->name);
    if (fe_type_decode(im, NULL, what, vi->type, &ty)) e->v->type = ty;
  }
}

static void import_outputs(fe_imp *im, const Onnx__GraphProto *gp) {
  if (!gp->n_output)
    fe_error(im, NULL, -1, "the graph has no outputs: there is nothing to compute");
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    if (!vi->name || !*vi->name) {
      fe_error(im, NULL, -1, "graph output #%zu has no name", i);
      continue;
    }
    const char *what = ir_sprintf(im->g->arena, "graph output '%s'", vi->name);
    ir_type ty;
    bool ok = fe_type_decode(im, NULL, what, vi->type, &ty);
    fe_def *e = def_find(im, vi->name);
    if (!e || e->node == FE_DEF_DANGLING) {
      fe_error(im, NULL, -1, "%s is not a graph input, initializer or node output", what);
      continue;
    }
    ir_value *v = e->v;
    /* value_info wins when it said something; shape inference checks both. */
    if (ok && v->def && v->type.dtype == IR_UNDEF && v->type.rank < 0) v->type = ty;
    ir_graph_add_output(im->g, v);
  }
}

/* ---- the model --------------------------------------------------------------------------- */
static void free_model(void *p, size_t len) {
  (void)len;
  onnx__model_proto__free_unpacked(p, NULL);
}

static void import_graph(fe_imp *im, const Onnx__ModelProto *m) {
  const Onnx__GraphProto *gp = m->graph;
  ir_graph *g = im->g;
  g->name = ir_strdup(g->arena, gp->name ? gp->name : "");
  const char *pn = m->producer_name ? m->producer_name : "";
  const char *pv = m->producer_version ? m->producer_version : "";
  g->producer = *pn && *pv ? ir_sprintf(g->arena, "%s %s", pn, pv) : ir_strdup(g->arena, pn);
  g->ir_version = m->has_ir_version ? m->ir_version : 0;
  import_opsets(im, m);
  import_initializers(im, gp);
  import_inputs(im, gp);
  if (gp->n_node > (size_t)1 << 30) {
    fe_error(im, NULL, -1, "the graph has too many nodes (%zu)", gp->n_node);
    return;
  }
  for (size_t i = 0; i < gp->n_node; i++) import_node(im, gp, (int)i);
  for (int i = 0; i < g->nnodes; i++) resolve_inputs(im, gp, g->nodes[i]);
  import_value_info(im, gp);
  import_outputs(im, gp);
  if (m->n_functions)
    fe_warning(im, NULL, "the model's %zu local functions are ignored", m->n_functions);
  ir_graph_toposort(g, im->d);
}

/* ---- guarding protobuf-c ---------------------------------------------------------------- */
/* One walk over the wire format, guided by the descriptors, before protobuf-c
 * sees the bytes:
 *  - nesting: protobuf-c's unpacker recurses once per level with no limit, so a
 *    small crafted file (subgraphs in subgraphs...) could exhaust the stack;
 *  - NUL bytes in strings: protobuf-c hands strings over NUL-terminated, so
 *    "w.bin\0../../etc/passwd" would silently become "w.bin", and a name would
 *    silently become another name. A NUL in an external data entry, or in any
 *    name the importer uses (node, value, op type, domain, attribute, dim_param)
 *    is an error; doc strings and metadata are not looked at.
 * Anything the walk does not understand is left for the unpacker to reject. The
 * walk runs twice: for nesting before unpacking (d == NULL: nothing reported),
 * then for NULs once the bytes are known to be a model (random bytes would
 * otherwise be reported as names with NULs). */
enum { FE_MAX_NESTING = 100 };

typedef struct wire_walk {
  ir_diags *d;            /* NULL: check nesting only */
  /* the last external_data entry with a NUL, for its TensorProto to report */
  const uint8_t *ext_key, *ext_val;
  size_t ext_key_len, ext_val_len;
  bool ext_nul;
} wire_walk;

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t x = 0;
  for (int s = 0; s < 64 && *p < end; s += 7) {
    uint8_t b = *(*p)++;
    x |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

/* A string field the importer uses as a name. */
static bool is_name_field(const ProtobufCFieldDescriptor *f) {
  static const char *names[] = {"name", "input", "output", "op_type", "domain", "dim_param"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strcmp(f->name, names[i])) return true;
  return false;
}

/* s[0..n) for a message, a NUL shown as \x00; at most cap - 1 bytes. */
static const char *nul_text(char *out, size_t cap, const uint8_t *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 5 < cap; i++) {
    if (s[i]) {
      out[k++] = (char)s[i];
    } else {
      memcpy(out + k, "\\x00", 4);
      k += 4;
    }
  }
  out[k] = 0;
  return out;
}

/* Walks one message; false if messages nest deeper than FE_MAX_NESTING. `via`
 * is the field of the parent message that holds this one (NULL at the top). */
static bool walk_wire(wire_walk *w, const uint8_t *p, size_t len,
                      const ProtobufCMessageDescriptor *desc, const ProtobufCFieldDescriptor *via,
                      int depth) {
  if (depth > FE_MAX_NESTING) return false;
  bool tensor = desc == &onnx__tensor_proto__descriptor;
  bool entry = desc == &onnx__string_string_entry_proto__descriptor;
  bool ext_entry = entry && via && !strcmp(via->name, "external_data");
  const uint8_t *tname = NULL, *key = NULL, *val = NULL;
  size_t tname_len = 0, key_len = 0, val_len = 0;
  bool ext_nul = false;
  const uint8_t *end = p + len;
  while (p < end) {
    uint64_t tag, n;
    if (!read_varint(&p, end, &tag)) break;
    switch (tag & 7) {
    case 0:
      if (!read_varint(&p, end, &n)) p = end;
      break;
    case 1:
      p = end - p < 8 ? end : p + 8;
      break;
    case 5:
      p = end - p < 4 ? end : p + 4;
      break;
    case 2: {
      if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p)) {
        p = end;
        break;
      }
      const ProtobufCFieldDescriptor *f =
          tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(tag >> 3))
                                 : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        w->ext_nul = false;
        if (!walk_wire(w, p, (size_t)n, f->descriptor, f, depth + 1)) return false;
        ext_nul |= tensor && w->ext_nul;
      } else if (f && f->type == PROTOBUF_C_TYPE_STRING) {
        bool nul = memchr(p, 0, (size_t)n) != NULL;
        if (tensor && !strcmp(f->name, "name")) tname = p, tname_len = (size_t)n;
        if (ext_entry && !strcmp(f->name, "key")) key = p, key_len = (size_t)n;
        if (ext_entry && !strcmp(f->name, "value")) val = p, val_len = (size_t)n;
        if (nul && w->d && !entry && is_name_field(f)) {
          char buf[256];
          ir_diag_add(w->d, IR_ERROR, NULL, NULL, -1, -1, "%s.%s \"%s\" contains a NUL byte",
                      desc->short_name, f->name, nul_text(buf, sizeof buf, p, (size_t)n));
        }
      }
      p += n;
      break;
    }
    default: p = end; /* groups and bad wire types: the unpacker decides */
    }
  }
  if (ext_entry) {
    bool nul = (key && memchr(key, 0, key_len)) || (val && memchr(val, 0, val_len));
    if (nul) {
      w->ext_nul = true;
      w->ext_key = key, w->ext_key_len = key_len;
      w->ext_val = val, w->ext_val_len = val_len;
    }
  }
  if (tensor && ext_nul && w->d) { /* reported here, where the tensor's name is known */
    char nb[256], kb[256], vb[256];
    bool init = via && via->descriptor == &onnx__tensor_proto__descriptor &&
                !strcmp(via->name, "initializer");
    const char *what = init ? "initializer" : "tensor";
    const char *tn = tname ? nul_text(nb, sizeof nb, tname, tname_len) : "";
    const char *k = w->ext_key ? nul_text(kb, sizeof kb, w->ext_key, w->ext_key_len) : "";
    const char *v = w->ext_val ? nul_text(vb, sizeof vb, w->ext_val, w->ext_val_len) : "";
    if (w->ext_key_len == 8 && !memcmp(w->ext_key, "location", 8))
      ir_diag_add(w->d, IR_ERROR, NULL, NULL, -1, -1,
                  "%s '%s': external data location \"%s\" contains a NUL byte", what, tn, v);
    else
      ir_diag_add(w->d, IR_ERROR, NULL, NULL, -1, -1,
                  "%s '%s': external data entry \"%s\" = \"%s\" contains a NUL byte", what, tn, k,
                  v);
  }
  if (!ext_entry) w->ext_nul = false;
  return true;
}

/* Everything both entry points share. `src` names the input in messages (a path),
 * or is NULL for memory. */
static ir_graph *import_buffer(const void *buf, size_t len, const char *base_dir, const char *src,
                               ir_diags *d) {
  const char *pre = src ? src : "", *sep = src ? ": " : "";
  if (len == 0) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s%sempty file", pre, sep);
    return NULL;
  }
  if (len > FE_MAX_MODEL_BYTES) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                "%s%smodel is %zu bytes; protobuf models are limited to 2 GiB (store the "
                "weights as external data)", pre, sep, len);
    return NULL;
  }
  wire_walk w = {0}; /* first only the nesting: NULs are reported once it decodes */
  if (!walk_wire(&w, buf, len, &onnx__model_proto__descriptor, NULL, 0)) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                "%s%snot an ONNX model: messages nest deeper than %d levels", pre, sep,
                FE_MAX_NESTING);
    return NULL;
  }
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
  if (!m) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                "%s%snot an ONNX model: protobuf decoding failed", pre, sep);
    return NULL;
  }
  if (!m->graph) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s%snot an ONNX model: it has no graph", pre,
                sep);
    onnx__model_proto__free_unpacked(m, NULL);
    return NULL;
  }
  w = (wire_walk){.d = d};
  walk_wire(&w, buf, len, &onnx__model_proto__descriptor, NULL, 0);
  fe_imp im = {.g = ir_graph_new(), .d = d, .base_dir = base_dir};
  ir_graph_own(im.g, m, 0, free_model);
  import_graph(&im, m);
  fe_tensor_cleanup(&im);
  free(im.defs);
  return im.g;
}

ir_graph *fe_import_onnx_memory(const void *buf, size_t len, const char *base_dir, ir_diags *d) {
  return import_buffer(buf, len, base_dir, NULL, d);
}

ir_graph *fe_import_onnx_file(const char *path, ir_diags *d) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s: %s", path, strerror(errno));
    close(fd);
    return NULL;
  }
  if (S_ISDIR(st.st_mode)) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s: is a directory", path);
    close(fd);
    return NULL;
  }
  /* External data lives next to the model. */
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir) MIXC_BUG("out of memory");
  ir_graph *g = NULL;
  if (S_ISREG(st.st_mode)) {
    size_t size = (size_t)st.st_size;
    if (size == 0 || (uint64_t)st.st_size > FE_MAX_MODEL_BYTES) {
      g = import_buffer(NULL, size, dir, path, d);
    } else {
      void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s: cannot map: %s", path, strerror(errno));
      } else {
        /* protobuf-c copies every field, so the mapping can go right after. */
        g = import_buffer(p, size, dir, path, d);
        munmap(p, size);
      }
    }
  } else { /* a pipe or a device: read it, up to the limit */
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    bool ok = b != NULL;
    for (ssize_t r; ok;) {
      if (n == cap) {
        if (cap > FE_MAX_MODEL_BYTES) break;
        unsigned char *nb = realloc(b, cap * 2);
        if (!nb) { ok = false; break; }
        b = nb;
        cap *= 2;
      }
      r = read(fd, b + n, cap - n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "%s: %s", path, strerror(errno));
        ok = false;
      }
      if (r <= 0) break;
      n += (size_t)r;
    }
    if (!b) MIXC_BUG("out of memory");
    if (ok) g = import_buffer(b, n, dir, path, d);
    free(b);
  }
  free(dir);
  close(fd);
  return g;
}
