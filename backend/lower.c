/* lower.c - lowering the optimized IR to a be_program: one kernel call per
 * node (the op table's codegen column is the switch below), operands resolved
 * to inputs, outputs, constants or arena offsets, and the arena planned by
 * liveness so that intermediates whose lifetimes do not overlap share memory.
 * A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity: the same bytes
 * under another shape) gets no call unless its output is a model output: its
 * output is another name for its input's memory, which stays live as long as
 * any of its names.
 *
 * Requires: a verified graph, every value's shape static (be_bind_shapes).
 * Establishes: calls in graph order; every model output written by exactly
 * one call (a copy call when the output is an input or a constant). */
#include "lower.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

_Static_assert(IR_OP_COUNT == 121, "a new op needs a case in lower_node()");

static bool lower_node(lower_ctx *lc, const ir_node *n, be_call *c) {
  switch (n->op) {
  IR_CASES_UNARY_MATH:
    return lower_unary(lc, n, c);
  case IR_OP_Add: case IR_OP_Sub: case IR_OP_Mul: case IR_OP_Div: case IR_OP_Pow: case IR_OP_Mod:
  case IR_OP_PRelu: case IR_OP_Max: case IR_OP_Min: case IR_OP_Sum: case IR_OP_Mean:
  case IR_OP_Equal: case IR_OP_Less: case IR_OP_Greater: case IR_OP_LessOrEqual:
  case IR_OP_GreaterOrEqual: case IR_OP_And: case IR_OP_Or: case IR_OP_Xor:
    return lower_binary(lc, n, c);
  case IR_OP_Where: return lower_where(lc, n, c);
  case IR_OP_Cast: case IR_OP_CastLike: return lower_cast(lc, n, c);
  case IR_OP_Clip: return lower_clip(lc, n, c);
  case IR_OP_IsNaN: case IR_OP_IsInf: return lower_isx(lc, n, c);
  case IR_OP_Softmax: case IR_OP_LogSoftmax: case IR_OP_Hardmax: return lower_softmax(lc, n, c);
  case IR_OP_ReduceMean: case IR_OP_ReduceSum: case IR_OP_ReduceMax: case IR_OP_ReduceMin:
  case IR_OP_ReduceProd: case IR_OP_ReduceL1: case IR_OP_ReduceL2: case IR_OP_ReduceSumSquare:
  case IR_OP_ReduceLogSum: case IR_OP_ReduceLogSumExp:
    return lower_reduce(lc, n, c);
  case IR_OP_ArgMax: case IR_OP_ArgMin: return lower_argminmax(lc, n, c);
  case IR_OP_LayerNormalization: case IR_OP_BatchNormalization: case IR_OP_InstanceNormalization:
    return lower_norm(lc, n, c);
  case IR_OP_CumSum: return lower_cumsum(lc, n, c);
  case IR_OP_MatMul: case IR_OP_Gemm: return lower_matmul(lc, n, c);
  case IR_OP_MixcMatmul: return lower_matmul(lc, n, c);
  case IR_OP_MixcElementwise: return lower_elementwise(lc, n, c);
  case IR_OP_Einsum: return lower_einsum(lc, n, c);
  case IR_OP_Conv: return lower_conv(lc, n, c);
  case IR_OP_MaxPool: case IR_OP_AveragePool: case IR_OP_GlobalAveragePool:
  case IR_OP_GlobalMaxPool:
    return lower_pool(lc, n, c);
  case IR_OP_Reshape: case IR_OP_Flatten: case IR_OP_Squeeze: case IR_OP_Unsqueeze:
  case IR_OP_Identity: case IR_OP_Dropout:
    return lower_copy(lc, n, c);
  case IR_OP_Transpose: return lower_transpose(lc, n, c);
  case IR_OP_Concat: return lower_concat(lc, n, c);
  case IR_OP_Split: return lower_split(lc, n, c);
  case IR_OP_Slice: return lower_slice(lc, n, c);
  case IR_OP_Gather: case IR_OP_GatherElements: case IR_OP_GatherND: return lower_gather(lc, n, c);
  case IR_OP_ScatterElements: case IR_OP_ScatterND: return lower_scatter(lc, n, c);
  case IR_OP_Expand: case IR_OP_Tile: return lower_expand(lc, n, c);
  case IR_OP_Pad: return lower_pad(lc, n, c);
  case IR_OP_ConstantOfShape: case IR_OP_Range: case IR_OP_Shape: case IR_OP_Size:
    return lower_fill(lc, n, c);
  case IR_OP_TopK: return lower_topk(lc, n, c);
  case IR_OP_OneHot: return lower_onehot(lc, n, c);
  case IR_OP_MsMoE: return lower_ms_moe(lc, n, c);
  case IR_OP_MixcMoe: return lower_mixc_moe(lc, n, c);
  case IR_OP_MixcSoftMoe: return lower_mixc_soft_moe(lc, n, c);
  case IR_OP_Constant: MIXC_BUG("Constant nodes are constants after import");
  case IR_OP_NonZero:
    ir_error(lc->cx->d, n, "NonZero has a data-dependent output shape; outside a recognized "
                           "MoE routing pattern this is not supported yet");
    return false;
  case IR_OP_COUNT: break;
  }
  MIXC_BUG("unhandled op %d", (int)n->op);
}

void lower_set_params(lower_ctx *lc, be_call *call, const char *kernel, const void *params,
                      size_t size) {
  call->kernel = kernel;
  call->params_size = size;
  void *p = ir_alloc(lc->p->arena, size ? size : 1);
  if (size) memcpy(p, params, size);
  call->params = p;
}

int lower_add_const(lower_ctx *lc, const ir_tensor *t) {
  be_program *p = lc->p;
  if (p->nconsts >= lc->cx->g->ninits + 4 * lc->cx->g->nnodes) MIXC_BUG("too many lowered constants");
  p->consts[p->nconsts] = t;
  return p->nconsts++;
}

static size_t value_bytes(const ir_value *v) {
  return (size_t)ir_type_numel(&v->type) * ir_dtype_size(v->type.dtype);
}

static be_tensor_desc describe(ir_arena *a, const ir_value *v) {
  be_tensor_desc d = {0};
  d.name = ir_strdup(a, v->name);
  d.dtype = v->type.dtype;
  d.rank = v->type.rank;
  for (int i = 0; i < v->type.rank; i++) d.dims[i] = v->type.dims[i].v;
  d.nbytes = value_bytes(v);
  return d;
}

/* ---- arena planning: greedy first fit over live intervals ------------------- */
typedef struct interval {
  ir_value *v;
  int start, end;   /* call indices: defined at start, last used at end */
  size_t size, offset;
} interval;

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

static int by_size_desc(const void *a, const void *b) {
  const interval *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->start - y->start;
}

/* Places intervals so that overlapping lifetimes never share bytes. Largest
 * first, each at the lowest offset that clashes with no placed interval. */
static size_t plan_arena(interval *iv, int n) {
  qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    size_t off = 0;
    for (bool moved = true; moved;) {
      moved = false;
      for (int j = 0; j < i; j++) {
        bool live = iv[j].start <= iv[i].end && iv[i].start <= iv[j].end;
        bool overlap = off < iv[j].offset + iv[j].size && iv[j].offset < off + iv[i].size;
        if (live && overlap) {
          off = align64(iv[j].offset + iv[j].size);
          moved = true;
        }
      }
    }
    iv[i].offset = off;
    if (off + iv[i].size > total) total = off + iv[i].size;
  }
  return align64(total);
}

static int index_of(ir_value *const *list, int n, const ir_value *v) {
  for (int i = 0; i < n; i++)
    if (list[i] == v) return i;
  return -1;
}

/* Node n is a view whose output needs no memory of its own (see the top). */
static bool is_view(const ir_graph *g, const ir_node *n) {
  switch (n->op) {
  case IR_OP_Reshape: case IR_OP_Flatten: case IR_OP_Squeeze: case IR_OP_Unsqueeze:
  case IR_OP_Identity:
    break;
  default:
    return false;
  }
  const ir_value *x = n->in[0], *y = n->out[0];
  return x && y && n->nout == 1 && x->type.dtype == y->type.dtype &&
         value_bytes(x) == value_bytes(y) && index_of(g->outputs, g->noutputs, y) < 0;
}

/* The value whose memory v names: v itself, or the input of the views it
 * comes through. */
static ir_value *home_of(const ir_graph *g, ir_value *v) {
  while (v->def && is_view(g, v->def)) v = v->def->in[0];
  return v;
}

/* The memory a run takes besides the weights is the planned arena plus the
 * input and output buffers; a model (or a bad one) may plan more than the
 * machine has. MIXC_MAX_ARENA_BYTES (bytes, default 16 GiB) caps that sum;
 * over the cap is a diagnostic, not an allocation failure (or an OOM kill)
 * at run time. */
#define MIXC_DEFAULT_MAX_ARENA_BYTES ((unsigned long long)16 << 30)
static void check_arena_limit(ir_ctx *cx, size_t planned) {
  unsigned long long limit = MIXC_DEFAULT_MAX_ARENA_BYTES;
  const char *env = getenv("MIXC_MAX_ARENA_BYTES");
  if (env && *env) {
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (*end == 0 && env[0] != '-') limit = v;
    else
      ir_diag_add(cx->d, IR_WARNING, NULL, NULL, -1, -1,
                  "MIXC_MAX_ARENA_BYTES='%s' is not a byte count; using %llu", env, limit);
  }
  if ((unsigned long long)planned > limit)
    ir_diag_add(cx->d, IR_ERROR, NULL, NULL, -1, -1,
                "planned memory %llu bytes exceeds the limit %llu (MIXC_MAX_ARENA_BYTES)",
                (unsigned long long)planned, limit);
}

be_program *be_lower(ir_ctx *cx) {
  ir_graph *g = cx->g;
  int errors = cx->d->nerrors;
  be_program *p = calloc(1, sizeof *p);
  if (!p) MIXC_BUG("out of memory");
  p->arena = ir_arena_new();
  lower_ctx lc = {cx, p};

  /* Every value must have a static type the backend supports. A value that is
   * not static only because an input of its node is not is not reported: one
   * diagnostic per root cause (a NonZero, an unbound symbolic dim). */
  int downstream = 0;
  for (int i = 0; i < g->nvalues; i++) {
    ir_value *v = g->values[i];
    if (ir_type_static(&v->type)) {
      if (v->type.rank > RT_MAX_RANK)
        ir_error(cx->d, v->def, "value %s has rank %d; the backend supports up to %d", v->name,
                 v->type.rank, RT_MAX_RANK);
      continue;
    }
    bool inherited = false;
    for (int j = 0; v->def && j < v->def->nin; j++)
      inherited |= v->def->in[j] && !ir_type_static(&v->def->in[j]->type);
    if (inherited) {
      downstream++;
      continue;
    }
    char *t = ir_type_str(cx->scratch, &v->type);
    if (v->def)
      ir_error(cx->d, v->def, "output %s has shape %s, which depends on the data; this is not "
               "supported outside a recognized MoE routing pattern", v->name, t);
    else
      ir_diag_add(cx->d, IR_ERROR, NULL, NULL, -1, -1,
                  "input %s has shape %s; bind its symbolic dims (mixc run binds them from the "
                  "inputs; mixc compile takes --shape NAME=DIMS)", v->name, t);
  }
  if (downstream && cx->d->nerrors > errors)
    ir_diag_add(cx->d, IR_NOTE, NULL, NULL, -1, -1,
                "%d more values have shapes that follow from these", downstream);
  if (cx->d->nerrors > errors) {
    be_program_free(p);
    return NULL;
  }

  p->ninputs = g->ninputs;
  p->noutputs = g->noutputs;
  p->inputs = ir_alloc(p->arena, sizeof(be_tensor_desc) * (size_t)(g->ninputs + 1));
  p->outputs = ir_alloc(p->arena, sizeof(be_tensor_desc) * (size_t)(g->noutputs + 1));
  for (int i = 0; i < g->ninputs; i++) p->inputs[i] = describe(p->arena, g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) p->outputs[i] = describe(p->arena, g->outputs[i]);
  p->nconsts = g->ninits;
  p->consts = ir_alloc(p->arena, sizeof(ir_tensor *) * (size_t)(g->ninits + 4 * g->nnodes + 1));
  for (int i = 0; i < g->ninits; i++) p->consts[i] = g->inits[i]->konst;

  /* Outputs that no node writes (an input or a constant) need a copy call. */
  int ncopies = 0;
  for (int i = 0; i < g->noutputs; i++) ncopies += !g->outputs[i]->def || index_of(g->outputs, i, g->outputs[i]) >= 0;
  p->calls = ir_alloc(p->arena, sizeof(be_call) * (size_t)(g->nnodes + ncopies + 1));

  /* Values: id = interval index for arena values, -1 otherwise. */
  interval *iv = calloc((size_t)g->nvalues + 1, sizeof *iv);
  if (!iv) MIXC_BUG("out of memory");
  int niv = 0;
  for (int i = 0; i < g->nvalues; i++) g->values[i]->id = -1;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    for (int j = 0; j < n->nin; j++) {
      ir_value *h = n->in[j] ? home_of(g, n->in[j]) : NULL;
      if (h && h->id >= 0) iv[h->id].end = i;
    }
    if (is_view(g, n)) continue;
    for (int j = 0; j < n->nout; j++) {
      ir_value *v = n->out[j];
      if (!v || index_of(g->outputs, g->noutputs, v) >= 0) continue;
      v->id = niv;
      iv[niv++] = (interval){v, i, i, align64(value_bytes(v) ? value_bytes(v) : 1), 0};
    }
  }
  /* Omitted outputs (NULL) get scratch space too: kernels may write them. */
  interval *sorted = malloc(sizeof *iv * (size_t)(niv + 1));
  if (!sorted) MIXC_BUG("out of memory");
  memcpy(sorted, iv, sizeof *iv * (size_t)niv);
  p->arena_size = plan_arena(sorted, niv);
  /* The run needs the arena plus the input and output buffers. */
  size_t planned = p->arena_size;
  for (int i = 0; i < p->ninputs + p->noutputs; i++) {
    size_t nb = i < p->ninputs ? p->inputs[i].nbytes : p->outputs[i - p->ninputs].nbytes;
    planned = planned > SIZE_MAX - nb ? SIZE_MAX : planned + nb;
  }
  check_arena_limit(cx, planned);
  for (int i = 0; i < niv; i++) iv[sorted[i].v->id].offset = sorted[i].offset;
  free(sorted);

  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    be_call *c = &p->calls[p->ncalls];
    c->node = n;
    c->nops = n->nin + n->nout;
    c->ops = ir_alloc(p->arena, sizeof(be_operand) * (size_t)(c->nops + 1));
    for (int j = 0; j < c->nops; j++) {
      ir_value *v = j < n->nin ? n->in[j] : n->out[j - n->nin];
      be_operand *o = &c->ops[j];
      if (!v) continue; /* BE_NONE */
      o->nbytes = value_bytes(v);
      v = home_of(g, v);
      int k;
      if ((k = index_of(g->outputs, g->noutputs, v)) >= 0 && v->def) o->loc = BE_OUTPUT, o->index = k;
      else if (v->is_input) o->loc = BE_INPUT, o->index = index_of(g->inputs, g->ninputs, v);
      else if (v->konst) o->loc = BE_CONST, o->index = index_of(g->inits, g->ninits, v);
      else if (v->id >= 0) o->loc = BE_ARENA, o->offset = iv[v->id].offset;
      else MIXC_BUG("value %s has no home", v->name);
    }
    /* a view is lowered only for its diagnostics */
    if (lower_node(&lc, n, c) && !is_view(g, n)) p->ncalls++;
  }
  /* Copies for outputs that are inputs, constants or repeated outputs. */
  for (int i = 0; i < g->noutputs; i++) {
    ir_value *v = g->outputs[i];
    if (v->def && index_of(g->outputs, i, v) < 0) continue;
    be_call *c = &p->calls[p->ncalls++];
    c->kernel = "mixc_k_copy";
    c->nops = 2;
    c->ops = ir_alloc(p->arena, sizeof(be_operand) * 2);
    size_t nb = value_bytes(v);
    int k = index_of(g->outputs, g->noutputs, v);
    if (v->is_input) c->ops[0] = (be_operand){BE_INPUT, index_of(g->inputs, g->ninputs, v), 0, nb};
    else if (v->konst) c->ops[0] = (be_operand){BE_CONST, index_of(g->inits, g->ninits, v), 0, nb};
    else c->ops[0] = (be_operand){BE_OUTPUT, k, 0, nb};
    c->ops[1] = (be_operand){BE_OUTPUT, i, 0, nb};
    uint64_t bytes = nb;
    lower_set_params(&lc, c, "mixc_k_copy", &bytes, sizeof bytes);
  }
  free(iv);
  if (cx->d->nerrors > errors) {
    be_program_free(p);
    return NULL;
  }
  return p;
}

void be_program_free(be_program *p) {
  if (!p) return;
  ir_arena_free(p->arena);
  free(p);
}

/* ---- binding symbolic dims ----------------------------------------------------- */
bool be_bind_shapes(ir_ctx *cx, int n, const be_binding *b) {
  ir_graph *g = cx->g;
  int errors = cx->d->nerrors;
  for (int i = 0; i < g->ninputs; i++) {
    ir_type *t = &g->inputs[i]->type;
    for (int j = 0; j < t->rank; j++) {
      if (!t->dims[j].sym) continue;
      int k = 0;
      while (k < n && strcmp(b[k].sym, t->dims[j].sym)) k++;
      if (k == n) continue; /* reported below as non-static */
      t->dims[j] = (ir_dim){b[k].value, NULL};
    }
  }
  /* Drop every inferred type downstream, then infer and fold again. */
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nout; j++)
      if (g->nodes[i]->out[j]) g->nodes[i]->out[j]->type = (ir_type){IR_UNDEF, -1, NULL};
  if (!ir_infer_graph(cx)) return false;
  pass_options o = {0};
  if (!pass_run_pipeline(cx, &o)) return false;
  return cx->d->nerrors == errors;
}
