/* mixc.c - the public C API (include/mixc/mixc.h) and the compile pipeline it
 * shares with the driver (api_compile in api.h): load -> bind symbolic dims
 * -> pass pipeline -> be_lower -> JIT, or the reference interpreter.
 *
 * Requires: api/, passes/, backend/ and runtime/ (tensor_io.c for dtype
 * names). Bad input of any kind is a status plus a thread-local message;
 * nothing here exits or aborts on it. A model is immutable once compiled, so
 * sessions on different threads share it; each session owns its arena.
 *
 * Models run with the JIT (backend/jit.c) unless mixc_options.interpret asks
 * for the reference interpreter (be_interp_run). Each session owns a thread
 * pool (runtime/pool.c) and, when asked, a profile and MoE routing counters
 * (runtime/profile.c), all handed to the entry function in its rt_ctx. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "frontend/fe.h"
#include "passes/pass.h"
#include "runtime/tensor_io.h"

#ifndef MIXC_VERSION
#define MIXC_VERSION "0.0.0"
#endif

#define MAX_THREADS RT_MAX_THREADS

/* ---- errors ----------------------------------------------------------------- */
static _Thread_local char last_error[8192];

static void set_error_v(const char *fmt, va_list ap) {
  vsnprintf(last_error, sizeof last_error, fmt, ap);
}

mixc_status api_fail(mixc_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error_v(fmt, ap);
  va_end(ap);
  return st;
}

/* The message for a model that cannot be compiled: a summary line, then
 * every diagnostic, one per line (truncated with a count if very long). */
static mixc_status fail_diags(mixc_status st, const char *what, const ir_diags *d) {
  ir_arena *a = ir_arena_new();
  size_t n = 0, cap = sizeof last_error;
  int k = snprintf(last_error, cap, "%s: %d error%s", what, d->nerrors, d->nerrors == 1 ? "" : "s");
  n = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
  int left = 0;
  for (const ir_diag *g = d->head; g; g = g->next) {
    const char *line = ir_diag_format(a, g);
    size_t len = strlen(line);
    if (left || n + 1 + len + 40 >= cap) {
      left++;
      continue;
    }
    last_error[n++] = '\n';
    memcpy(last_error + n, line, len + 1);
    n += len;
  }
  if (left) snprintf(last_error + n, cap - n, "\n... and %d more", left);
  ir_arena_free(a);
  return st;
}

const char *mixc_last_error(void) { return last_error; }

const char *mixc_status_string(mixc_status s) {
  switch (s) {
  case MIXC_OK: return "ok";
  case MIXC_ERR_INVALID_ARGUMENT: return "invalid argument";
  case MIXC_ERR_IO: return "cannot read file";
  case MIXC_ERR_INVALID_MODEL: return "invalid or unsupported model";
  case MIXC_ERR_RUNTIME: return "run-time error";
  case MIXC_ERR_OUT_OF_MEMORY: return "out of memory";
  case MIXC_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char *mixc_version(void) { return MIXC_VERSION; }

size_t mixc_dtype_size(mixc_dtype t) { return rt_dtype_size((int32_t)t); }
const char *mixc_dtype_name(mixc_dtype t) { return rt_dtype_name((int32_t)t); }

/* ---- models ---------------------------------------------------------------------- */
struct mixc_model {
  ir_graph *g;                 /* owns the weights the program references */
  be_program *p;
  bool interp;                 /* run with be_interp_run */
  be_jit *jit;                 /* NULL when interpreted */
  const rt_model_desc *desc;   /* &jit_desc or &interp_desc */
  rt_model_desc interp_desc;
  rt_model_desc jit_desc;      /* the JIT's, with the call table added */
  rt_tensor_desc *rt_in, *rt_out;
  mixc_tensor_info *in_info, *out_info;
  rt_call_info *calls;         /* per call: node name, op, kernel, MoE shape */
  int *moe_calls;              /* the call index of each routed MoE layer */
  int nmoe;
  int threads;                 /* per session; 0: rt_default_threads() */
};

static _Thread_local const be_program *tramp_program;

/* The interpreted model's entry function, so that rt_harness_main can drive
 * it like a compiled one (see api_model_desc). */
static int interp_entry(rt_ctx *ctx, void *const *inputs, void *const *outputs, void *arena) {
  if (!tramp_program) MIXC_BUG("interp entry called without api_model_desc");
  return be_interp_run(tramp_program, ctx, inputs, outputs, arena);
}

void mixc_model_free(mixc_model *m) {
  if (!m) return;
  if (m->jit) be_jit_free(m->jit);
  be_program_free(m->p);
  ir_graph_free(m->g);
  free(m->rt_in);
  free(m->rt_out);
  free(m->in_info);
  free(m->out_info);
  free(m->calls);
  free(m->moe_calls);
  free(m);
}

const be_program *api_model_program(const mixc_model *m) { return m ? m->p : NULL; }

const rt_model_desc *api_model_desc(const mixc_model *m) {
  if (!m || !m->desc) return NULL;
  if (m->interp) tramp_program = m->p;
  return m->desc;
}

/* Describes the program's inputs and outputs for the queries and the
 * interpreter's descriptor. */
static bool describe(mixc_model *m) {
  const be_program *p = m->p;
  m->rt_in = calloc((size_t)p->ninputs + 1, sizeof *m->rt_in);
  m->rt_out = calloc((size_t)p->noutputs + 1, sizeof *m->rt_out);
  m->in_info = calloc((size_t)p->ninputs + 1, sizeof *m->in_info);
  m->out_info = calloc((size_t)p->noutputs + 1, sizeof *m->out_info);
  m->calls = calloc((size_t)p->ncalls + 1, sizeof *m->calls);
  m->moe_calls = calloc((size_t)p->ncalls + 1, sizeof *m->moe_calls);
  if (!m->rt_in || !m->rt_out || !m->in_info || !m->out_info || !m->calls || !m->moe_calls)
    return false;
  be_call_infos(p, m->calls);
  for (int i = 0; i < p->ncalls; i++)
    if (m->calls[i].moe_experts > 0) m->moe_calls[m->nmoe++] = i;
  for (int k = 0; k < 2; k++) {
    int n = k ? p->noutputs : p->ninputs;
    const be_tensor_desc *b = k ? p->outputs : p->inputs;
    rt_tensor_desc *r = k ? m->rt_out : m->rt_in;
    mixc_tensor_info *info = k ? m->out_info : m->in_info;
    for (int i = 0; i < n; i++) {
      if (b[i].rank > RT_DESC_MAX_RANK) MIXC_BUG("be_lower let rank %d through", b[i].rank);
      r[i].name = b[i].name;
      r[i].dtype = (int32_t)b[i].dtype;
      r[i].rank = b[i].rank;
      for (int j = 0; j < b[i].rank; j++) r[i].dims[j] = b[i].dims[j];
      r[i].nbytes = b[i].nbytes;
      info[i].name = b[i].name;
      info[i].dtype = (mixc_dtype)b[i].dtype;
      info[i].rank = b[i].rank;
      info[i].dims = r[i].dims;
      info[i].nbytes = b[i].nbytes;
    }
  }
  m->interp_desc = (rt_model_desc){RT_ABI_VERSION, p->ninputs, p->noutputs, m->rt_in,
                                   m->rt_out, p->arena_size, interp_entry};
  m->interp_desc.ncalls = p->ncalls;
  m->interp_desc.calls = m->calls;
  return true;
}

/* ---- loading from memory ------------------------------------------------------------ */
ir_graph *api_load_model_memory(const void *data, size_t size, ir_diags *d) {
  static const char sig[] = "// mixc IR";
  ir_ctx cx = {0};
  cx.d = d;
  cx.scratch = ir_arena_new();
  ir_graph *g;
  if (size >= sizeof sig - 1 && !memcmp(data, sig, sizeof sig - 1)) {
    g = ir_parse(data, size, "<memory>", d);
    cx.g = g;
  } else {
    g = fe_import_onnx_memory(data, size, NULL, d);
    cx.g = g;
    if (g && !d->nerrors) ir_infer_graph(&cx);
  }
  if (g && !d->nerrors) ir_verify(&cx);
  ir_arena_free(cx.scratch);
  return g;
}

/* ---- binding input dims ------------------------------------------------------------------ */
static const char *dim_str(ir_arena *a, const ir_dim *d) {
  return d->sym ? ir_sprintf(a, "'%s'", d->sym) : d->v >= 0 ? ir_sprintf(a, "%lld", (long long)d->v) : "?";
}

static const char *dims_str(ir_arena *a, int rank, const int64_t *dims) {
  char buf[256];
  return ir_strdup(a, rt_shape_str(buf, sizeof buf, -1, rank, dims));
}

/* Binds every non-static input dim from the options' bindings and the given
 * input shapes; returns true if any dim was not static (so be_bind_shapes
 * must run). Problems are diagnostics. */
static bool bind_inputs(ir_ctx *cx, const mixc_options *o, int nshapes, const api_input_shape *sh,
                        be_binding **out, int *nout) {
  ir_graph *g = cx->g;
  ir_diags *d = cx->d;
  ir_arena *a = cx->scratch;
  size_t nopt = o ? o->num_dims : 0;
  int cap = (int)nopt + 1;
  for (int i = 0; i < g->ninputs; i++) cap += g->inputs[i]->type.rank > 0 ? g->inputs[i]->type.rank : 0;
  be_binding *b = ir_alloc_array(a, (size_t)cap, sizeof *b);
  bool *given = ir_alloc_array(a, (size_t)g->ninputs + 1, sizeof *given); /* already reported */
  const char **from = ir_alloc_array(a, (size_t)cap, sizeof *from);
  int nb = 0;
  bool dynamic = false;

  /* Bindings by name, from the options. */
  for (size_t i = 0; i < nopt; i++) {
    const mixc_dim_binding *db = &o->dims[i];
    if (!db->name || !*db->name) {
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "options dims[%zu] has no name", i);
      continue;
    }
    if (db->value < 0) {
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "symbolic dim '%s' bound to %lld; it must be >= 0",
                  db->name, (long long)db->value);
      continue;
    }
    bool known = false;
    for (int k = 0; k < g->ninputs && !known; k++)
      for (int j = 0; j < g->inputs[k]->type.rank && !known; j++)
        known = g->inputs[k]->type.dims[j].sym && !strcmp(g->inputs[k]->type.dims[j].sym, db->name);
    if (!known) {
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "no input has a symbolic dim named '%s'", db->name);
      continue;
    }
    int k = 0;
    while (k < nb && strcmp(b[k].sym, db->name)) k++;
    if (k < nb) {
      if (b[k].value != db->value)
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "symbolic dim '%s' is bound twice (%lld and %lld)",
                    db->name, (long long)b[k].value, (long long)db->value);
      continue;
    }
    from[nb] = "the options";
    b[nb++] = (be_binding){db->name, db->value};
  }

  /* Concrete shapes for whole inputs. */
  for (int s = 0; s < nshapes; s++) {
    const api_input_shape *x = &sh[s];
    const char *origin = x->origin ? x->origin : "the given shape";
    int k = 0;
    while (k < g->ninputs && strcmp(g->inputs[k]->name, x->name)) k++;
    if (k == g->ninputs) {
      char *names = "";
      for (int j = 0; j < g->ninputs; j++) names = ir_sprintf(a, "%s %s", names, g->inputs[j]->name);
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "unknown input '%s'; the model's inputs are:%s",
                  x->name, g->ninputs ? names : " (none)");
      continue;
    }
    ir_type *t = &g->inputs[k]->type;
    given[k] = true;
    if (t->rank >= 0 && t->rank != x->rank) {
      ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "input '%s': expected %s, got %s (from %s)",
                  x->name, ir_type_str(a, t), dims_str(a, x->rank, x->dims), origin);
      continue;
    }
    if (t->rank < 0) {
      if (x->rank > IR_MAX_RANK) continue; /* reported as not static below */
      t->rank = x->rank;
      t->dims = ir_alloc_array(g->arena, (size_t)x->rank + 1, sizeof *t->dims);
      for (int j = 0; j < x->rank; j++) t->dims[j] = (ir_dim){-1, NULL};
      dynamic = true;
    }
    for (int j = 0; j < t->rank; j++) {
      ir_dim *dm = &t->dims[j];
      int64_t v = x->dims[j];
      if (ir_dim_static(*dm)) {
        if (dm->v != v)
          ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "input '%s': expected %s, got %s (from %s)",
                      x->name, ir_type_str(a, t), dims_str(a, x->rank, x->dims), origin);
        if (dm->v != v) break;
        continue;
      }
      dynamic = true;
      if (!dm->sym) { /* unknown dim: set it directly */
        *dm = (ir_dim){v, NULL};
        continue;
      }
      int q = 0;
      while (q < nb && strcmp(b[q].sym, dm->sym)) q++;
      if (q < nb && b[q].value != v) {
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                    "input '%s' dim %d is symbolic dim '%s' = %lld (from %s), but %s gives %lld",
                    x->name, j, dm->sym, (long long)v, origin, from[q], (long long)b[q].value);
      } else if (q == nb) {
        from[nb] = ir_sprintf(a, "input '%s' (from %s)", x->name, origin);
        b[nb++] = (be_binding){dm->sym, v};
      }
    }
  }

  /* Whatever is still not static cannot be compiled. */
  for (int i = 0; i < g->ninputs; i++) {
    ir_type *t = &g->inputs[i]->type;
    if (t->rank < 0) {
      dynamic = true;
      if (!given[i])
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                  "input '%s' has an unknown rank; give its shape (mixc run binds it from the input file)",
                  g->inputs[i]->name);
      continue;
    }
    for (int j = 0; j < t->rank; j++) {
      ir_dim *dm = &t->dims[j];
      if (ir_dim_static(*dm)) continue;
      dynamic = true;
      bool bound = given[i];
      for (int q = 0; q < nb && !bound; q++) bound = dm->sym && !strcmp(b[q].sym, dm->sym);
      if (!bound)
        ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1,
                    "input '%s' (%s) dim %d is %s: bind it (mixc_options.dims, "
                    "`mixc compile --shape`, `mixc run --input`)",
                    g->inputs[i]->name, ir_type_str(a, t), j,
                    dm->sym ? ir_sprintf(a, "symbolic (%s)", dim_str(a, dm)) : "unknown");
    }
  }
  *out = b;
  *nout = nb;
  return dynamic;
}


/* ---- the pipeline ---------------------------------------------------------------------- */
mixc_status api_compile(const char *path, const void *data, size_t size, const api_compile_opts *co,
                        mixc_model **model) {
  static const api_compile_opts none = {0};
  if (!model) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "model (the result pointer) is NULL");
  *model = NULL;
  if (!co) co = &none;
  const mixc_options *o = co->opts;
  if (!data && !path) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "path is NULL");
  if (data && !size) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "model data is empty (size 0)");
  if (o && (o->threads < 0 || o->threads > MAX_THREADS))
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "options threads is %d; expected 0 (default) to %d",
                    o->threads, MAX_THREADS);
  if (o && o->num_dims && !o->dims)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "options num_dims is %zu but dims is NULL", o->num_dims);
  if (co->nshapes < 0 || (co->nshapes && !co->shapes))
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "bad input shape list");
  const char *what = path ? path : "<memory>";

  if (!data) {
    FILE *f = fopen(path, "rb");
    if (!f) return api_fail(MIXC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    fclose(f);
  }
  ir_diags *d = ir_diags_new();
  ir_graph *g = data ? api_load_model_memory(data, size, d) : api_load_model(path, d);
  mixc_model *m = NULL;
  mixc_status st = MIXC_ERR_INVALID_MODEL;
  ir_ctx cx = {g, d, ir_arena_new()};
  if (!g || d->nerrors) goto out;

  /* Binding symbolic dims re-infers and runs the pipeline; otherwise run it. */
  be_binding *b;
  int nb;
  bool bound = bind_inputs(&cx, o, co->nshapes, co->shapes, &b, &nb);
  pass_options po = {0};
  if (d->nerrors) goto out;
  if (bound ? !be_bind_shapes(&cx, nb, b) : !pass_run_pipeline(&cx, &po)) goto out;
  if (d->nerrors) goto out;
  be_program *p = be_lower(&cx);
  if (!p || d->nerrors) {
    be_program_free(p);
    goto out;
  }

  m = calloc(1, sizeof *m);
  if (!m) {
    be_program_free(p);
    st = MIXC_ERR_OUT_OF_MEMORY;
    goto out;
  }
  m->g = g;
  m->p = p;
  g = NULL;
  m->threads = o ? o->threads : 0;
  if (!describe(m)) {
    st = MIXC_ERR_OUT_OF_MEMORY;
    goto out;
  }
  if (co->lower_only) {
    m->desc = NULL;
  } else {
    if (!(o && o->interpret)) {
      m->jit = be_jit_compile(m->p, d);
      if (!m->jit) {
        st = d->nerrors ? MIXC_ERR_INVALID_MODEL : MIXC_ERR_INTERNAL;
        goto out;
      }
      m->jit_desc = *be_jit_desc(m->jit);
      m->jit_desc.ncalls = m->p->ncalls;
      m->jit_desc.calls = m->calls;
      m->desc = &m->jit_desc;
    }
    if (!m->desc) {
      m->interp = true;
      m->desc = &m->interp_desc;
    }
  }
  st = MIXC_OK;
out:
  if (st != MIXC_OK) {
    if (st == MIXC_ERR_OUT_OF_MEMORY) api_fail(st, "%s: out of memory", what);
    else if (d->nerrors) fail_diags(st, what, d);
    else api_fail(st, "%s: cannot be compiled (no diagnostic; this is a bug)", what);
    mixc_model_free(m);
    m = NULL;
  }
  ir_arena_free(cx.scratch);
  ir_graph_free(g);
  ir_diags_free(d);
  *model = m;
  return st;
}

mixc_status mixc_compile_file(const char *path, const mixc_options *opts, mixc_model **model) {
  if (!path) {
    if (model) *model = NULL;
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "path is NULL");
  }
  api_compile_opts co = {.opts = opts};
  return api_compile(path, NULL, 0, &co, model);
}

mixc_status mixc_compile_memory(const void *data, size_t size, const mixc_options *opts,
                                mixc_model **model) {
  if (!data) {
    if (model) *model = NULL;
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "data is NULL");
  }
  api_compile_opts co = {.opts = opts};
  return api_compile(NULL, data, size, &co, model);
}

/* ---- queries --------------------------------------------------------------------------- */
int mixc_model_num_inputs(const mixc_model *m) { return m ? m->p->ninputs : -1; }
int mixc_model_num_outputs(const mixc_model *m) { return m ? m->p->noutputs : -1; }

static mixc_status info_at(const mixc_model *m, int i, mixc_tensor_info *info, bool out) {
  if (!m) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "model is NULL");
  if (!info) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "info is NULL");
  int n = out ? m->p->noutputs : m->p->ninputs;
  if (i < 0 || i >= n)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s index %d out of range [0, %d)",
                    out ? "output" : "input", i, n);
  *info = out ? m->out_info[i] : m->in_info[i];
  return MIXC_OK;
}

mixc_status mixc_model_input(const mixc_model *m, int i, mixc_tensor_info *info) {
  return info_at(m, i, info, false);
}
mixc_status mixc_model_output(const mixc_model *m, int i, mixc_tensor_info *info) {
  return info_at(m, i, info, true);
}

static int find_name(const mixc_tensor_info *t, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (!strcmp(t[i].name, name)) return i;
  return -1;
}
int mixc_model_input_index(const mixc_model *m, const char *name) {
  return m ? find_name(m->in_info, m->p->ninputs, name) : -1;
}
int mixc_model_output_index(const mixc_model *m, const char *name) {
  return m ? find_name(m->out_info, m->p->noutputs, name) : -1;
}

/* ---- sessions and runs -------------------------------------------------------------------- */
struct mixc_session {
  const mixc_model *m;
  void *arena;
  void **scratch;         /* per output: session memory for outputs the caller skips */
  void **in, **out;       /* the pointer arrays handed to the entry */
  rt_ctx ctx;
  rt_pool *pool;          /* NULL: one thread */
  rt_prof *prof;          /* NULL: not profiling */
  rt_stats *stats;        /* NULL: no routing statistics */
  int64_t stats_runs;
};

static void *alloc64(size_t n) {
  size_t cap = (n + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, cap ? cap : 64);
  if (p) memset(p, 0, cap ? cap : 64);
  return p;
}

mixc_status mixc_session_create(const mixc_model *m, mixc_session **out) {
  if (!out) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session (the result pointer) is NULL");
  *out = NULL;
  if (!m) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "model is NULL");
  if (!m->desc) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "model was compiled for emission only");
  mixc_session *s = calloc(1, sizeof *s);
  if (s) {
    s->m = m;
    s->arena = alloc64(m->p->arena_size);
    s->scratch = calloc((size_t)m->p->noutputs + 1, sizeof *s->scratch);
    s->in = calloc((size_t)m->p->ninputs + 1, sizeof *s->in);
    s->out = calloc((size_t)m->p->noutputs + 1, sizeof *s->out);
    /* No pool (too few resources for threads) just means one thread. */
    s->pool = rt_pool_create(m->threads ? m->threads : rt_default_threads());
  }
  if (!s || !s->arena || !s->scratch || !s->in || !s->out) {
    mixc_session_free(s);
    return api_fail(MIXC_ERR_OUT_OF_MEMORY, "out of memory for a session (arena of %zu bytes)",
                    m->p->arena_size);
  }
  *out = s;
  return MIXC_OK;
}

void mixc_session_free(mixc_session *s) {
  if (!s) return;
  if (s->scratch)
    for (int i = 0; i < s->m->p->noutputs; i++) free(s->scratch[i]);
  free(s->scratch);
  free(s->in);
  free(s->out);
  free(s->arena);
  rt_pool_free(s->pool);
  rt_prof_free(s->prof);
  rt_stats_free(s->stats);
  free(s);
}

/* Checks one caller tensor against the model's description. */
static mixc_status check_tensor(const char *kind, const mixc_tensor *t, const mixc_tensor_info *want,
                                bool is_output) {
  char a[256], b[256];
  if (!(is_output && t->dtype == MIXC_DTYPE_UNDEFINED) && t->dtype != want->dtype)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': dtype %s, expected %s", kind, want->name,
                    mixc_dtype_name(t->dtype), rt_shape_str(a, sizeof a, want->dtype, want->rank, want->dims));
  if (!(is_output && !t->dims)) {
    if (t->rank < 0 || t->rank > MIXC_MAX_RANK || (t->rank && !t->dims))
      return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': bad rank %d or NULL dims, expected %s", kind,
                      want->name, t->rank, rt_shape_str(a, sizeof a, want->dtype, want->rank, want->dims));
    bool same = t->rank == want->rank;
    for (int j = 0; same && j < t->rank; j++) same = t->dims[j] == want->dims[j];
    if (!same)
      return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': shape %s, expected %s", kind, want->name,
                      rt_shape_str(b, sizeof b, -1, t->rank, t->dims),
                      rt_shape_str(a, sizeof a, want->dtype, want->rank, want->dims));
  }
  if (t->nbytes < want->nbytes)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': buffer of %zu bytes is too small; %s needs %zu",
                    kind, want->name, t->nbytes,
                    rt_shape_str(a, sizeof a, want->dtype, want->rank, want->dims), want->nbytes);
  if (want->nbytes && !t->data)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': data is NULL", kind, want->name);
  size_t es = mixc_dtype_size(want->dtype);
  if (es && (uintptr_t)t->data % es)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s': data is not aligned to %zu bytes", kind,
                    want->name, es);
  return MIXC_OK;
}

/* Matches caller tensors to model tensors by name into ptrs[]. */
static mixc_status match(const char *kind, const mixc_tensor *ts, size_t n, const mixc_tensor_info *info,
                         int ninfo, void **ptrs, bool is_output) {
  for (int i = 0; i < ninfo; i++) ptrs[i] = NULL;
  if (n && !ts) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%ss is NULL but num_%ss is %zu", kind, kind, n);
  for (size_t k = 0; k < n; k++) {
    const mixc_tensor *t = &ts[k];
    if (!t->name) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%ss[%zu] has no name", kind, k);
    int i = find_name(info, ninfo, t->name);
    if (i < 0) {
      char names[1024] = "";
      size_t len = 0;
      for (int j = 0; j < ninfo && len < sizeof names; j++) {
        int w = snprintf(names + len, sizeof names - len, " %s", info[j].name);
        len = w < 0 ? sizeof names : len + (size_t)w;
      }
      return api_fail(MIXC_ERR_INVALID_ARGUMENT, "unknown %s '%s'; the model's %ss are:%s", kind,
                      t->name, kind, ninfo ? names : " (none)");
    }
    if (ptrs[i]) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "%s '%s' is given twice", kind, t->name);
    mixc_status st = check_tensor(kind, t, &info[i], is_output);
    if (st) return st;
    /* A zero-byte tensor may have data == NULL; any non-NULL marker will do. */
    ptrs[i] = t->data ? t->data : (void *)&ptrs[i];
  }
  return MIXC_OK;
}

mixc_status mixc_run(mixc_session *s, const mixc_tensor *inputs, size_t num_inputs,
                     const mixc_tensor *outputs, size_t num_outputs) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  const mixc_model *m = s->m;
  const be_program *p = m->p;
  mixc_status st = match("input", inputs, num_inputs, m->in_info, p->ninputs, s->in, false);
  if (st) return st;
  st = match("output", outputs, num_outputs, m->out_info, p->noutputs, s->out, true);
  if (st) return st;
  for (int i = 0; i < p->ninputs; i++)
    if (!s->in[i]) {
      char a[256];
      const mixc_tensor_info *w = &m->in_info[i];
      return api_fail(MIXC_ERR_INVALID_ARGUMENT, "missing input '%s' (%s)", w->name,
                      rt_shape_str(a, sizeof a, w->dtype, w->rank, w->dims));
    }
  for (int i = 0; i < p->noutputs; i++) {
    if (s->out[i]) continue;
    if (!s->scratch[i] && !(s->scratch[i] = alloc64(m->out_info[i].nbytes)))
      return api_fail(MIXC_ERR_OUT_OF_MEMORY, "out of memory for output '%s'", m->out_info[i].name);
    s->out[i] = s->scratch[i];
  }

  memset(&s->ctx, 0, sizeof s->ctx);
  s->ctx.pool = s->pool;
  if (s->prof) {
    rt_prof_begin_run(s->prof);
    s->ctx.prof = s->prof;
  }
  if (s->stats) {
    s->ctx.stats = rt_stats_table(s->stats);
    s->stats_runs++;
  }
  int rc = m->interp ? be_interp_run(p, &s->ctx, s->in, s->out, s->arena)
                     : m->desc->entry(&s->ctx, s->in, s->out, s->arena);
  if (s->prof) rt_prof_end_run(s->prof);
  if (rc || s->ctx.status) {
    s->ctx.msg[sizeof s->ctx.msg - 1] = 0;
    const char *msg = s->ctx.msg[0] ? s->ctx.msg : "the model reported an error without a message";
    int c = s->ctx.fail_call;
    const ir_node *n = c >= 0 && c < p->ncalls ? p->calls[c].node : NULL;
    char name[RT_PRINTABLE_MAX];
    if (n)
      return api_fail(MIXC_ERR_RUNTIME, "run failed at node \"%s\" (%s #%d): %s",
                      rt_printable(n->name, name, sizeof name), ir_op_fullname(n->op), n->index, msg);
    return api_fail(MIXC_ERR_RUNTIME, "run failed: %s", msg);
  }
  return MIXC_OK;
}

/* ---- profiles and routing statistics ------------------------------------------------------ */
int mixc_model_num_calls(const mixc_model *m) { return m ? m->p->ncalls : -1; }
int mixc_model_num_moe_layers(const mixc_model *m) { return m ? m->nmoe : -1; }

mixc_status mixc_session_set_profiling(mixc_session *s, int enable) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  rt_prof_free(s->prof);
  s->prof = NULL;
  if (enable && !(s->prof = rt_prof_new(s->m->p->ncalls)))
    return api_fail(MIXC_ERR_OUT_OF_MEMORY, "out of memory for a profile of %d calls",
                    s->m->p->ncalls);
  return MIXC_OK;
}

mixc_status mixc_session_call_profile(const mixc_session *s, int i, mixc_call_profile *out) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  if (!out) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "out is NULL");
  if (!s->prof)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT,
                    "profiling is off for this session; call mixc_session_set_profiling first");
  int n = s->m->p->ncalls;
  if (i < 0 || i >= n)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "call index %d out of range [0, %d)", i, n);
  const rt_call_info *c = &s->m->calls[i];
  double total = 0;
  memset(out, 0, sizeof *out);
  out->node = c->name;
  out->op = c->op;
  out->kernel = c->kernel;
  rt_prof_call(s->prof, i, &out->start_us, &out->dur_us, &out->runs, &total, &out->min_us);
  out->mean_us = out->runs ? total / (double)out->runs : 0;
  return MIXC_OK;
}

mixc_status mixc_session_write_profile(const mixc_session *s, const char *path) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  if (!path) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "path is NULL");
  if (!s->prof)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT,
                    "profiling is off for this session; call mixc_session_set_profiling first");
  char err[512];
  if (rt_prof_write_json(s->prof, s->m->calls, path, err, sizeof err))
    return api_fail(MIXC_ERR_IO, "%s", err);
  return MIXC_OK;
}

mixc_status mixc_session_set_moe_stats(mixc_session *s, int enable) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  rt_stats_free(s->stats);
  s->stats = NULL;
  s->stats_runs = 0;
  if (enable && !(s->stats = rt_stats_new(s->m->p->ncalls, s->m->calls)))
    return api_fail(MIXC_ERR_OUT_OF_MEMORY, "out of memory for routing statistics");
  return MIXC_OK;
}

mixc_status mixc_session_moe_stats(const mixc_session *s, int layer, mixc_moe_stats *out) {
  if (!s) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "session is NULL");
  if (!out) return api_fail(MIXC_ERR_INVALID_ARGUMENT, "out is NULL");
  if (!s->stats)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "routing statistics are off for this session; "
                    "call mixc_session_set_moe_stats first");
  const mixc_model *m = s->m;
  if (layer < 0 || layer >= m->nmoe)
    return api_fail(MIXC_ERR_INVALID_ARGUMENT, "MoE layer %d out of range [0, %d)", layer, m->nmoe);
  const rt_call_info *c = &m->calls[m->moe_calls[layer]];
  const int64_t *n = rt_stats_counts(s->stats, m->moe_calls[layer]);
  if (!n) MIXC_BUG("MoE layer %d has no counters", layer);
  *out = (mixc_moe_stats){c->name, c->moe_experts, c->moe_k, c->moe_rows, s->stats_runs, n,
                          n[c->moe_experts], n[c->moe_experts + 1]};
  return MIXC_OK;
}
