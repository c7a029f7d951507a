/* lower_data.c - lowering of linear algebra and data movement: MatMul, Gemm,
 * Einsum, Conv, pools, the copies (Reshape & co.), Transpose, Concat, Split,
 * Slice, the Gather and Scatter families, Expand, Tile, Pad, fills
 * (ConstantOfShape, Range, Shape, Size), TopK, OneHot and com.microsoft.MoE,
 * onto the kernels of runtime/kernels/{gemm,data,data_index,data_nn}.c.
 *
 * Every matrix product (MatMul, Gemm, Einsum's matmul patterns, convolutions
 * without padding) becomes one strided GEMM call, so transposed operands and
 * im2col views are never materialized. Transpose, Slice, Expand and Tile are
 * one strided copy whose dims are simplified here (size-1 dims dropped,
 * contiguous runs merged) so that the kernel's loops are as few as possible.
 *
 * Requires: lower.h's contract (static shapes, call->ops filled with the
 * node's inputs then outputs). Bad attribute values and dtypes the kernels do
 * not handle become diagnostics naming the node; data-movement ops take any
 * dtype of fixed size, arithmetic ones f32 (f64 where noted). */
#include <math.h>
#include <string.h>

#include "ir/infer.h"
#include "lower.h"
#include "runtime/kernels/data.h"

#define LL(x) ((long long)(x))
#define OPN(n) ir_op_fullname((n)->op)

/* ---- small helpers ------------------------------------------------------------- */

static int64_t numel_of(const ir_value *v) { return ir_type_numel(&v->type); }

static int64_t prod(int from, int to, const int64_t *d) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}

static int opset_of(const lower_ctx *lc, const ir_node *n) {
  if (n->opset > 0) return n->opset;
  int64_t v = ir_graph_opset(lc->cx->g, ir_domain_name(ir_ops[n->op].domain));
  return v > 0 && v < 100000 ? (int)v : 100000;
}

static bool bad_dtype(lower_ctx *lc, const ir_node *n, ir_dtype dt) {
  ir_error(lc->cx->d, n, "unsupported dtype %s for %s", ir_dtype_name(dt), OPN(n));
  return false;
}

/* Element size of v for an op that moves bytes; 0 after a diagnostic. */
static int esize_of(lower_ctx *lc, const ir_node *n, const ir_value *v) {
  size_t es = ir_dtype_size(v->type.dtype);
  if (es == 0 || es > 16 || v->type.dtype == IR_STRING) {
    bad_dtype(lc, n, v->type.dtype);
    return 0;
  }
  return (int)es;
}

static bool need_present(lower_ctx *lc, const ir_node *n, int out) {
  if (out < n->nout && n->out[out]) return true;
  ir_error(lc->cx->d, n, "%s output %d is omitted; the backend needs it", OPN(n), out);
  return false;
}

/* Normalized axis, or -1 after a diagnostic. */
static int axis_of(lower_ctx *lc, const ir_node *n, int64_t axis, int rank) {
  int a = ir_norm_axis(axis, rank);
  if (a < 0) ir_error(lc->cx->d, n, "axis %lld is out of range for rank %d", LL(axis), rank);
  return a;
}

#define SET(lc, call, kernel, p) lower_set_params(lc, call, kernel, &(p), sizeof(p))

/* ---- strided copies ------------------------------------------------------------------- */

/* Emits a strided copy after dropping size-1 dims and merging dims that are
 * contiguous in the source. dims/sst have `rank` entries (<= MIXC_SC_MAX). */
static bool emit_strided(lower_ctx *lc, be_call *call, int es, int rank, const int64_t *dims,
                         const int64_t *sst, int64_t off, int src_buf, int dst_buf) {
  mixc_strided_params p;
  memset(&p, 0, sizeof p);
  int r = 0;
  bool empty = false;
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0) empty = true;
    if (dims[i] == 1) continue;
    if (r > 0 && p.sst[r - 1] == sst[i] * dims[i]) { /* merge with the previous dim */
      p.dims[r - 1] *= dims[i];
      p.sst[r - 1] = sst[i];
      continue;
    }
    p.dims[r] = dims[i], p.sst[r] = sst[i], r++;
  }
  if (empty) r = 1, p.dims[0] = 0, p.sst[0] = 1;
  if (r == 0) r = 1, p.dims[0] = 1, p.sst[0] = 1;
  p.rank = r, p.esize = es, p.src_off = empty ? 0 : off;
  p.src_buf = src_buf, p.dst_buf = dst_buf;
  SET(lc, call, "mixc_k_strided_copy", p);
  return true;
}

/* ---- copies: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout ------------------- */

bool lower_copy(lower_ctx *lc, const ir_node *n, be_call *call) {
  if (!need_present(lc, n, 0) || !esize_of(lc, n, n->in[0])) return false;
  if (n->op == IR_OP_Dropout) {
    if (n->opset > 0 && n->opset < 7 && !ir_attr_int(n, "is_test", 0)) {
      ir_error(lc->cx->d, n, "Dropout runs in training mode (is_test = 0); only inference is supported");
      return false;
    }
    if (n->nin > 2 && n->in[2]) {
      const ir_tensor *t = n->in[2]->konst;
      if (!t || t->numel != 1) {
        ir_error_in(lc->cx->d, n, 2, "Dropout training_mode is not a constant; only inference is supported");
        return false;
      }
      if (ir_tensor_get_i(t, 0)) {
        ir_error_in(lc->cx->d, n, 2, "Dropout runs in training mode; only inference is supported");
        return false;
      }
    }
    if (n->nout > 1 && n->out[1]) {
      mixc_copy_mask_params p = {(uint64_t)call->ops[0].nbytes, (uint64_t)numel_of(n->out[1]), n->nin, 0};
      SET(lc, call, "mixc_k_copy_mask", p);
      return true;
    }
  }
  /* mixc_k_copy takes {src, dst}: drop the other inputs (Reshape's shape, ...) */
  call->ops[1] = call->ops[n->nin];
  call->nops = 2;
  uint64_t bytes = (uint64_t)call->ops[1].nbytes;
  SET(lc, call, "mixc_k_copy", bytes);
  return true;
}

/* ---- Transpose ---------------------------------------------------------------------- */

bool lower_transpose(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0];
  int es = esize_of(lc, n, x);
  if (!es || !need_present(lc, n, 0)) return false;
  int r = rank_of(x);
  int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK], perm[RT_MAX_RANK], dims[RT_MAX_RANK], sst[RT_MAX_RANK];
  dims_of(x, xd);
  strides_of(r, xd, xs);
  const ir_attr *pa = ir_attr_find(n, "perm");
  for (int i = 0; i < r; i++) perm[i] = pa && pa->kind == IR_ATTR_INTS && pa->n == r ? pa->ints[i] : r - 1 - i;
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r) {
      ir_error(lc->cx->d, n, "perm entry %lld is out of range for rank %d", LL(perm[i]), r);
      return false;
    }
    dims[i] = xd[perm[i]], sst[i] = xs[perm[i]];
  }
  return emit_strided(lc, call, es, r, dims, sst, 0, 0, n->nin);
}

/* ---- Concat, Split ------------------------------------------------------------------- */

bool lower_concat(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *y = n->out[0];
  int es = esize_of(lc, n, y);
  if (!es || !need_present(lc, n, 0)) return false;
  if (n->nin > MIXC_CAT_MAX) {
    ir_error(lc->cx->d, n, "Concat has %d inputs; the backend supports up to %d", n->nin, MIXC_CAT_MAX);
    return false;
  }
  int r = rank_of(y);
  int a = axis_of(lc, n, ir_attr_int(n, "axis", 0), r);
  if (a < 0) return false;
  int64_t yd[RT_MAX_RANK];
  dims_of(y, yd);
  mixc_concat_params p;
  memset(&p, 0, sizeof p);
  p.outer = prod(0, a, yd);
  int64_t inner = prod(a + 1, r, yd) * es;
  for (int i = 0; i < n->nin; i++) {
    if (!n->in[i]) {
      ir_error_in(lc->cx->d, n, i, "Concat input %d is omitted", i);
      return false;
    }
    p.bytes[i] = dim_of(n->in[i], a) * inner;
    p.total += p.bytes[i];
  }
  p.n = n->nin, p.first = 0, p.whole = n->nin;
  SET(lc, call, "mixc_k_concat", p);
  return true;
}

bool lower_split(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0];
  int es = esize_of(lc, n, x);
  if (!es) return false;
  if (n->nout > MIXC_CAT_MAX) {
    ir_error(lc->cx->d, n, "Split has %d outputs; the backend supports up to %d", n->nout, MIXC_CAT_MAX);
    return false;
  }
  int r = rank_of(x);
  int a = axis_of(lc, n, ir_attr_int(n, "axis", 0), r);
  if (a < 0) return false;
  int64_t xd[RT_MAX_RANK];
  dims_of(x, xd);
  mixc_concat_params p;
  memset(&p, 0, sizeof p);
  p.outer = prod(0, a, xd);
  int64_t inner = prod(a + 1, r, xd) * es, known = 0;
  int missing = -1, nmissing = 0;
  for (int i = 0; i < n->nout; i++) {
    if (n->out[i]) known += p.bytes[i] = dim_of(n->out[i], a) * inner;
    else missing = i, nmissing++;
  }
  if (nmissing > 1) {
    ir_error(lc->cx->d, n, "Split has %d omitted outputs; their sizes are unknown to the backend", nmissing);
    return false;
  }
  if (nmissing) p.bytes[missing] = xd[a] * inner - known;
  p.total = xd[a] * inner;
  p.n = n->nout, p.first = n->nin, p.whole = 0;
  SET(lc, call, "mixc_k_split", p);
  return true;
}

/* ---- Slice ----------------------------------------------------------------------------- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

bool lower_slice(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *y = n->out[0];
  int es = esize_of(lc, n, x);
  if (!es || !need_present(lc, n, 0)) return false;
  int r = rank_of(x);
  int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK], yd[RT_MAX_RANK];
  dims_of(x, xd);
  dims_of(y, yd);
  strides_of(r, xd, xs);
  int64_t v[4][RT_MAX_RANK];
  int cnt[4] = {-1, -1, -1, -1};
  bool present[4] = {false}, konst[4] = {false};
  if (opset_of(lc, n) >= 10) {
    for (int i = 0; i < 4; i++) {
      const ir_value *in = 1 + i < n->nin ? n->in[1 + i] : NULL;
      if (!in) continue;
      present[i] = true;
      if (in->type.rank != 1 || dim_of(in, 0) > RT_MAX_RANK) {
        ir_error_in(lc->cx->d, n, 1 + i, "Slice needs a 1-D input of at most %d entries here", RT_MAX_RANK);
        return false;
      }
      cnt[i] = (int)dim_of(in, 0);
      konst[i] = in->konst && ir_const_ints(in, v[i], RT_MAX_RANK, &cnt[i]);
    }
  } else {
    static const char *nm[] = {"starts", "ends", "axes"};
    for (int i = 0; i < 3; i++) {
      const ir_attr *at = ir_attr_find(n, nm[i]);
      if (!at) continue;
      if (at->kind != IR_ATTR_INTS || at->n > RT_MAX_RANK) {
        ir_error(lc->cx->d, n, "Slice attribute '%s' must be at most %d ints", nm[i], RT_MAX_RANK);
        return false;
      }
      present[i] = konst[i] = true;
      cnt[i] = at->n;
      for (int j = 0; j < at->n; j++) v[i][j] = at->ints[j];
    }
  }
  if (!present[0] || !present[1] || cnt[0] != cnt[1]) {
    ir_error(lc->cx->d, n, "Slice needs starts and ends of the same length");
    return false;
  }
  int len = cnt[0];
  for (int i = 2; i < 4; i++)
    if (present[i] && cnt[i] != len) {
      ir_error(lc->cx->d, n, "Slice starts, ends, axes and steps must have the same length");
      return false;
    }
  bool all_const = konst[0] && konst[1] && (!present[2] || konst[2]) && (!present[3] || konst[3]);
  if (!all_const) { /* read the non-constant ones at run time */
    mixc_slice_dyn_params p;
    memset(&p, 0, sizeof p);
    p.rank = r, p.esize = es, p.n = len, p.out_buf = n->nin;
    memcpy(p.dims, xd, sizeof(int64_t) * (size_t)r);
    memcpy(p.odims, yd, sizeof(int64_t) * (size_t)r);
    for (int i = 0; i < 4; i++) {
      p.present[i] = present[i];
      if (konst[i]) memcpy(p.cst[i], v[i], sizeof(int64_t) * (size_t)len);
      else if (present[i]) {
        ir_dtype dt = n->in[1 + i]->type.dtype;
        if (dt != IR_I32 && dt != IR_I64) return bad_dtype(lc, n, dt);
        p.in_esize[i] = dt == IR_I32 ? 4 : 8;
      }
    }
    call->can_fail = true;
    SET(lc, call, "mixc_k_slice_dyn", p);
    return true;
  }
  int64_t start[RT_MAX_RANK], step[RT_MAX_RANK];
  for (int d = 0; d < r; d++) start[d] = 0, step[d] = 1;
  bool seen[RT_MAX_RANK] = {false};
  for (int j = 0; j < len; j++) {
    int a = axis_of(lc, n, present[2] ? v[2][j] : j, r);
    if (a < 0) return false;
    if (seen[a]) {
      ir_error(lc->cx->d, n, "Slice names axis %d twice", a);
      return false;
    }
    seen[a] = true;
    int64_t st = present[3] ? v[3][j] : 1, D = xd[a], s = v[0][j], e = v[1][j], cntv;
    if (st == 0) {
      ir_error(lc->cx->d, n, "Slice step is 0 on axis %d", a);
      return false;
    }
    if (s < 0) s += D;
    if (e < 0) e += D;
    if (st > 0) {
      s = clamp64(s, 0, D), e = clamp64(e, 0, D);
      cntv = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = clamp64(s, 0, D - 1), e = clamp64(e, -1, D - 1);
      cntv = s > e ? (s - e - 1) / (st == INT64_MIN ? INT64_MAX : -st) + 1 : 0;
    }
    if (cntv != yd[a]) MIXC_BUG("Slice axis %d: %lld elements but the type says %lld", a, LL(cntv), LL(yd[a]));
    start[a] = cntv ? s : 0, step[a] = st;
  }
  int64_t sst[RT_MAX_RANK], off = 0;
  for (int d = 0; d < r; d++) sst[d] = step[d] * xs[d], off += start[d] * xs[d];
  return emit_strided(lc, call, es, r, yd, sst, off, 0, n->nin);
}

/* ---- Expand, Tile ------------------------------------------------------------------------ */

bool lower_expand(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *y = n->out[0];
  int es = esize_of(lc, n, x);
  if (!es || !need_present(lc, n, 0)) return false;
  int rx = rank_of(x), ry = rank_of(y);
  int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK], yd[RT_MAX_RANK];
  dims_of(x, xd);
  dims_of(y, yd);
  strides_of(rx, xd, xs);
  int64_t dims[MIXC_SC_MAX], sst[MIXC_SC_MAX];
  int r = 0;
  if (n->op == IR_OP_Expand) {
    for (int i = 0; i < ry; i++) {
      int xi = i - (ry - rx);
      dims[r] = yd[i];
      sst[r++] = xi >= 0 && xd[xi] == yd[i] ? xs[xi] : 0;
      if (xi >= 0 && xd[xi] != yd[i] && xd[xi] != 1) MIXC_BUG("Expand dim %d: %lld to %lld", i, LL(xd[xi]), LL(yd[i]));
    }
  } else { /* Tile: each axis is (repeats, dim) with the repeats at stride 0 */
    for (int i = 0; i < rx; i++) {
      int64_t rep = xd[i] ? yd[i] / xd[i] : 0;
      if (xd[i] && rep * xd[i] != yd[i]) MIXC_BUG("Tile dim %d: %lld to %lld", i, LL(xd[i]), LL(yd[i]));
      dims[r] = xd[i] ? rep : 0, sst[r++] = 0;
      dims[r] = xd[i], sst[r++] = xs[i];
    }
  }
  return emit_strided(lc, call, es, r, dims, sst, 0, 0, n->nin);
}

/* ---- Pad ------------------------------------------------------------------------------------ */

bool lower_pad(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *y = n->out[0];
  int es = esize_of(lc, n, x);
  if (!es || !need_present(lc, n, 0)) return false;
  int os = opset_of(lc, n), r = rank_of(x);
  const char *ms = ir_attr_str(n, "mode", "constant");
  int mode = !strcmp(ms, "constant") ? 0 : !strcmp(ms, "reflect") ? 1 : !strcmp(ms, "edge") ? 2
           : !strcmp(ms, "wrap") ? 3 : -1;
  if (mode < 0) {
    ir_error(lc->cx->d, n, "Pad mode '%s' is not one of constant, reflect, edge, wrap", ms);
    return false;
  }
  int64_t pads[2 * RT_MAX_RANK], axes[RT_MAX_RANK];
  int np = 0, na = r;
  if (os >= 11) {
    if (n->nin < 2 || !n->in[1] || !ir_const_ints(n->in[1], pads, 2 * RT_MAX_RANK, &np)) {
      ir_error_in(lc->cx->d, n, 1, "Pad pads must be a constant");
      return false;
    }
    if (n->nin > 3 && n->in[3]) {
      if (!ir_const_ints(n->in[3], axes, RT_MAX_RANK, &na)) {
        ir_error_in(lc->cx->d, n, 3, "Pad axes must be a constant");
        return false;
      }
    } else
      for (int i = 0; i < r; i++) axes[i] = i;
  } else {
    const ir_attr *pa = ir_attr_find(n, "pads");
    if (!pa || pa->kind != IR_ATTR_INTS || pa->n > 2 * RT_MAX_RANK) {
      ir_error(lc->cx->d, n, "Pad needs the ints attribute 'pads'");
      return false;
    }
    np = pa->n;
    memcpy(pads, pa->ints, sizeof(int64_t) * (size_t)np);
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (np != 2 * na) {
    ir_error(lc->cx->d, n, "Pad has %d pads for %d axes", np, na);
    return false;
  }
  mixc_pad_params p;
  memset(&p, 0, sizeof p);
  for (int i = 0; i < na; i++) {
    int a = axis_of(lc, n, axes[i], r);
    if (a < 0) return false;
    p.pb[a] = pads[i];
  }
  if (r == 0) { /* nothing to pad: a copy */
    call->ops[1] = call->ops[n->nin];
    call->nops = 2;
    uint64_t bytes = (uint64_t)es;
    SET(lc, call, "mixc_k_copy", bytes);
    return true;
  }
  dims_of(x, p.idims);
  dims_of(y, p.odims);
  for (int d = 0; d < r; d++)
    if (mode && p.idims[d] == 0 && p.odims[d] > 0) {
      ir_error(lc->cx->d, n, "Pad mode '%s' cannot pad axis %d of size 0", ms, d);
      return false;
    }
  p.rank = r, p.esize = es, p.mode = mode, p.value_buf = -1, p.out_buf = n->nin;
  if (mode == 0) {
    const ir_value *cv = os >= 11 && n->nin > 2 ? n->in[2] : NULL;
    if (cv && cv->konst && cv->konst->numel >= 1) memcpy(p.value, cv->konst->data, (size_t)es);
    else if (cv) p.value_buf = 2;
    else if (os < 11) {
      float fv = ir_attr_float(n, "value", 0.0f);
      int64_t one = 1;
      ir_tensor *t = ir_tensor_new(lc->p->arena, x->type.dtype, 1, &one);
      ir_tensor_set_f(t, 0, fv);
      memcpy(p.value, t->data, (size_t)es);
    }
  }
  SET(lc, call, "mixc_k_pad", p);
  return true;
}

/* ---- fills: ConstantOfShape, Shape, Size, Range --------------------------------------- */

bool lower_fill(lower_ctx *lc, const ir_node *n, be_call *call) {
  if (!need_present(lc, n, 0)) return false;
  const ir_value *y = n->out[0];
  if (n->op == IR_OP_Range) {
    ir_dtype dt = y->type.dtype;
    if (dt != IR_F32 && dt != IR_F64 && dt != IR_I16 && dt != IR_I32 && dt != IR_I64)
      return bad_dtype(lc, n, dt);
    mixc_range_params p = {numel_of(y), (int32_t)dt, 0};
    SET(lc, call, "mixc_k_range", p);
    return true;
  }
  mixc_fill_params p;
  memset(&p, 0, sizeof p);
  p.count = numel_of(y);
  if (n->op == IR_OP_ConstantOfShape) {
    const ir_attr *va = ir_attr_find(n, "value");
    p.npat = 1;
    if (va && va->kind == IR_ATTR_TENSOR && va->t && va->t->numel == 1) {
      int es = esize_of(lc, n, y);
      if (!es) return false;
      memcpy(p.pat, va->t->data, (size_t)es);
      p.esize = es;
    } else p.esize = 4; /* f32 0 */
  } else if (n->op == IR_OP_Shape) {
    const ir_value *x = n->in[0];
    int64_t r = rank_of(x), st = ir_attr_int(n, "start", 0), en = ir_attr_int(n, "end", r);
    if (st < 0) st += r;
    if (en < 0) en += r;
    st = clamp64(st, 0, r), en = clamp64(en, 0, r);
    p.esize = 8, p.npat = 0;
    for (int64_t i = st; i < en; i++) {
      int64_t d = dim_of(x, (int)i);
      memcpy(p.pat + 8 * p.npat++, &d, 8);
    }
    if (p.npat != p.count) MIXC_BUG("Shape output has %lld elements for %d dims", LL(p.count), p.npat);
  } else { /* Size */
    int64_t s = numel_of(n->in[0]);
    p.esize = 8, p.npat = 1;
    memcpy(p.pat, &s, 8);
  }
  SET(lc, call, "mixc_k_fill", p);
  return true;
}

/* ---- Gather family --------------------------------------------------------------------- */

static int idx_esize(lower_ctx *lc, const ir_node *n, int i) {
  ir_dtype dt = n->in[i]->type.dtype;
  if (dt == IR_I32) return 4;
  if (dt == IR_I64) return 8;
  ir_error_in(lc->cx->d, n, i, "%s indices must be int32 or int64, got %s", OPN(n), ir_dtype_name(dt));
  return 0;
}

bool lower_gather(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *ix = n->in[1], *y = n->out[0];
  int es = esize_of(lc, n, x), ies = idx_esize(lc, n, 1);
  if (!es || !ies || !need_present(lc, n, 0)) return false;
  int r = rank_of(x);
  int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK];
  dims_of(x, xd);
  strides_of(r, xd, xs);
  call->can_fail = true;
  if (n->op == IR_OP_Gather) {
    int a = axis_of(lc, n, ir_attr_int(n, "axis", 0), r);
    if (a < 0) return false;
    mixc_gather_params p;
    memset(&p, 0, sizeof p);
    p.outer = prod(0, a, xd), p.dim = xd[a], p.inner_bytes = prod(a + 1, r, xd) * es;
    p.nidx = numel_of(ix), p.idx_esize = ies, p.axis = a;
    SET(lc, call, "mixc_k_gather", p);
    return true;
  }
  if (n->op == IR_OP_GatherElements) {
    int a = axis_of(lc, n, ir_attr_int(n, "axis", 0), r);
    if (a < 0) return false;
    mixc_gather_el_params p;
    memset(&p, 0, sizeof p);
    p.rank = r, p.axis = a, p.esize = es, p.idx_esize = ies, p.dim = xd[a];
    dims_of(ix, p.idims);
    memcpy(p.dst, xs, sizeof(int64_t) * (size_t)r);
    SET(lc, call, "mixc_k_gather_elements", p);
    return true;
  }
  /* GatherND */
  int64_t b = ir_attr_int(n, "batch_dims", 0);
  int q = rank_of(ix);
  int64_t id[RT_MAX_RANK] = {0};
  dims_of(ix, id);
  int64_t m = q > 0 ? id[q - 1] : 0;
  if (b < 0 || b >= q || b >= r || m < 1 || m > r - b) {
    ir_error(lc->cx->d, n, "GatherND batch_dims %lld and index length %lld do not fit data rank %d", LL(b), LL(m), r);
    return false;
  }
  mixc_gather_nd_params p;
  memset(&p, 0, sizeof p);
  p.nbatch = prod(0, (int)b, id), p.nidx = prod((int)b, q - 1, id), p.m = m;
  p.slice = prod((int)(b + m), r, xd), p.data_bstride = prod((int)b, r, xd);
  for (int j = 0; j < m; j++) p.dims[j] = xd[b + j], p.dstr[j] = xs[b + j];
  p.esize = es, p.idx_esize = ies, p.axis0 = (int32_t)b;
  (void)y;
  SET(lc, call, "mixc_k_gather_nd", p);
  return true;
}

/* ---- Scatter family -------------------------------------------------------------------- */

bool lower_scatter(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *ix = n->in[1];
  int es = esize_of(lc, n, x), ies = idx_esize(lc, n, 1);
  if (!es || !ies || !need_present(lc, n, 0)) return false;
  const char *rs = ir_attr_str(n, "reduction", "none");
  int red = !strcmp(rs, "none") ? 0 : !strcmp(rs, "add") ? 1 : !strcmp(rs, "mul") ? 2
          : !strcmp(rs, "max") ? 3 : !strcmp(rs, "min") ? 4 : -1;
  if (red < 0) {
    ir_error(lc->cx->d, n, "reduction '%s' is not one of none, add, mul, max, min", rs);
    return false;
  }
  ir_dtype dt = x->type.dtype;
  if (red && !(dt == IR_F32 || dt == IR_F64 || ir_dtype_is_int(dt))) {
    ir_error(lc->cx->d, n, "unsupported dtype %s for %s with reduction '%s'", ir_dtype_name(dt), OPN(n), rs);
    return false;
  }
  int r = rank_of(x);
  int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK];
  dims_of(x, xd);
  strides_of(r, xd, xs);
  call->can_fail = true;
  if (n->op == IR_OP_ScatterElements) {
    int a = axis_of(lc, n, ir_attr_int(n, "axis", 0), r);
    if (a < 0) return false;
    mixc_gather_el_params p;
    memset(&p, 0, sizeof p);
    p.rank = r, p.axis = a, p.esize = es, p.idx_esize = ies, p.dim = xd[a];
    p.data_bytes = (int64_t)call->ops[0].nbytes, p.dtype = (int32_t)dt, p.red = red;
    dims_of(ix, p.idims);
    memcpy(p.dst, xs, sizeof(int64_t) * (size_t)r);
    SET(lc, call, "mixc_k_scatter_elements", p);
    return true;
  }
  int q = rank_of(ix);
  int64_t id[RT_MAX_RANK];
  dims_of(ix, id);
  int64_t m = q > 0 ? id[q - 1] : 0;
  if (m < 1 || m > r) {
    ir_error_in(lc->cx->d, n, 1, "ScatterND index length %lld must be in 1..%d", LL(m), r);
    return false;
  }
  mixc_gather_nd_params p;
  memset(&p, 0, sizeof p);
  p.nbatch = 1, p.nidx = prod(0, q - 1, id), p.m = m, p.slice = prod((int)m, r, xd);
  for (int j = 0; j < m; j++) p.dims[j] = xd[j], p.dstr[j] = xs[j];
  p.data_bytes = (int64_t)call->ops[0].nbytes;
  p.esize = es, p.idx_esize = ies, p.dtype = (int32_t)dt, p.red = red;
  SET(lc, call, "mixc_k_scatter_nd", p);
  return true;
}

/* ---- TopK, OneHot -------------------------------------------------------------------- */

static bool compare_dtype(ir_dtype dt) {
  return dt == IR_F32 || dt == IR_F64 || dt == IR_I32 || dt == IR_I64;
}

bool lower_topk(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0];
  if (!compare_dtype(x->type.dtype)) return bad_dtype(lc, n, x->type.dtype);
  if (!need_present(lc, n, 0) || !need_present(lc, n, 1)) return false;
  int r = rank_of(x);
  int a = axis_of(lc, n, ir_attr_int(n, "axis", -1), r);
  if (a < 0) return false;
  int64_t xd[RT_MAX_RANK];
  dims_of(x, xd);
  mixc_topk_params p;
  memset(&p, 0, sizeof p);
  p.outer = prod(0, a, xd), p.dim = xd[a], p.inner = prod(a + 1, r, xd);
  p.k = dim_of(n->out[0], a);
  p.dtype = (int32_t)x->type.dtype, p.largest = ir_attr_int(n, "largest", 1) != 0;
  p.out_buf = n->nin;
  SET(lc, call, "mixc_k_topk", p);
  return true;
}

bool lower_onehot(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *ix = n->in[0], *y = n->out[0];
  if (!need_present(lc, n, 0)) return false;
  int es = esize_of(lc, n, y);
  if (!es) return false;
  ir_dtype it = ix->type.dtype;
  if (!(it == IR_F32 || it == IR_F64 || ir_dtype_is_int(it))) return bad_dtype(lc, n, it);
  int r = rank_of(y);
  int a = axis_of(lc, n, ir_attr_int(n, "axis", -1), r);
  if (a < 0) return false;
  int64_t yd[RT_MAX_RANK];
  dims_of(y, yd);
  mixc_onehot_params p;
  memset(&p, 0, sizeof p);
  p.outer = prod(0, a, yd), p.depth = yd[a], p.inner = prod(a + 1, r, yd);
  p.idx_dtype = (int32_t)it, p.esize = es;
  SET(lc, call, "mixc_k_onehot", p);
  return true;
}

/* ---- Einsum ------------------------------------------------------------------------------- */
/* Labels are ids 0..51 (a-z, A-Z) and 52.. for the ellipsis dims, which align
 * to the right across operands. Each operand gets one stride per label (the
 * sum of its strides when a label repeats in its term: a diagonal; 0 where a
 * dim of 1 broadcasts). Two operands whose labels split into batch, M, N and
 * K groups with single strides become one GEMM; one operand without summed
 * labels is a strided copy; anything else runs the general strided kernel. */

#define EIN_LABELS (52 + RT_MAX_RANK)

static int ein_letter(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -1;
}

/* Letters in a term and whether it has an ellipsis; -1 if malformed. */
static int ein_letters(const char *s, size_t len, bool *ell) {
  int letters = 0;
  *ell = false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == ' ') continue;
    if (s[i] == '.') {
      if (i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.' || *ell) return -1;
      *ell = true;
      i += 2;
      continue;
    }
    if (ein_letter(s[i]) < 0) return -1;
    letters++;
  }
  return letters;
}

/* Label ids of a term with ne ellipsis dims (of nell in all). */
static int ein_labels(const char *s, size_t len, int ne, int nell, int *lab) {
  int k = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == ' ') continue;
    if (s[i] == '.') {
      for (int e = 0; e < ne; e++) lab[k++] = 52 + (nell - ne) + e;
      i += 2;
      continue;
    }
    lab[k++] = ein_letter(s[i]);
  }
  return k;
}

typedef struct ein_info {
  int nops;
  int64_t size[EIN_LABELS];
  int64_t st[3][EIN_LABELS];   /* per operand stride of each label */
  bool in[3][EIN_LABELS];      /* label appears in operand's term */
  bool used[EIN_LABELS];       /* appears in some operand */
  bool in_out[EIN_LABELS];
  int64_t yst[EIN_LABELS];     /* output stride */
  int out[RT_MAX_RANK], nout;  /* output labels */
} ein_info;

/* Sorts labels by key descending (insertion sort; a handful of labels). */
static void ein_sort(int *lab, int n, const int64_t *key) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && key[lab[j]] > key[lab[j - 1]]; j--) {
      int t = lab[j];
      lab[j] = lab[j - 1], lab[j - 1] = t;
    }
}

/* One GEMM orientation: A = operand ia, B = operand ib. False when the labels
 * do not form a (batched) matmul with the strides GEMM can take. */
static bool ein_gemm(const ein_info *e, int ia, int ib, mixc_gemm_params *p) {
  int ml[EIN_LABELS], nl[EIN_LABELS], kl[EIN_LABELS], bl[EIN_LABELS];
  int nm = 0, nn = 0, nk = 0, nb = 0;
  for (int l = 0; l < EIN_LABELS; l++) {
    if (!e->used[l] || e->size[l] == 1) continue;
    if (e->size[l] == 0) return false;
    bool pa = e->in[ia][l], pb = e->in[ib][l], po = e->in_out[l];
    if (pa && pb && po) bl[nb++] = l;
    else if (pa && po) ml[nm++] = l;
    else if (pb && po) nl[nn++] = l;
    else if (pa && pb) kl[nk++] = l;
    else return false; /* summed in one operand only */
  }
  const int64_t *sa = e->st[ia], *sb = e->st[ib], *sz = e->size, *ys = e->yst;
  lower_gemm_init(p);
  /* M: a run of labels contiguous in A and Y; the outer rest becomes batch */
  ein_sort(ml, nm, ys);
  p->M = 1;
  int i = nm - 1;
  if (nm) {
    p->a_sm = sa[ml[i]], p->y_sm = ys[ml[i]], p->M = sz[ml[i]];
    for (i--; i >= 0; i--) {
      int l = ml[i], o = ml[i + 1];
      if (sa[l] != sa[o] * sz[o] || ys[l] != ys[o] * sz[o]) break;
      p->M *= sz[l];
    }
  }
  for (; i >= 0; i--) bl[nb++] = ml[i];
  /* N: contiguous in Y; B reads it as a view of up to MIXC_GEMM_VIEW sub-dims */
  ein_sort(nl, nn, ys);
  p->N = 1;
  p->b_ndim[0] = 1, p->b_nst[0] = 0;
  i = nn - 1;
  if (nn) {
    int first = i;
    p->y_sn = ys[nl[i]], p->N = sz[nl[i]];
    for (i--; i >= 0 && first - i < MIXC_GEMM_VIEW; i--) {
      int l = nl[i], o = nl[i + 1];
      if (ys[l] != ys[o] * sz[o]) break;
      p->N *= sz[l];
    }
    p->b_nn = first - i;
    for (int j = 0; j < p->b_nn; j++) p->b_ndim[j] = sz[nl[i + 1 + j]], p->b_nst[j] = sb[nl[i + 1 + j]];
  }
  for (; i >= 0; i--) bl[nb++] = nl[i];
  /* K: contiguous in A (all of it); B reads it as a view */
  ein_sort(kl, nk, sa);
  p->K = 1;
  p->b_kdim[0] = 1, p->b_kst[0] = 0;
  if (nk > MIXC_GEMM_VIEW) return false;
  if (nk) {
    p->a_sk = sa[kl[nk - 1]];
    for (int j = nk - 2; j >= 0; j--)
      if (sa[kl[j]] != sa[kl[j + 1]] * sz[kl[j + 1]]) return false;
    p->b_nk = nk;
    for (int j = 0; j < nk; j++) p->K *= sz[kl[j]], p->b_kdim[j] = sz[kl[j]], p->b_kst[j] = sb[kl[j]];
  }
  if (nb > RT_MAX_RANK) return false;
  ein_sort(bl, nb, ys);
  p->nbatch = nb;
  for (int j = 0; j < nb; j++) {
    int l = bl[j];
    p->bdim[j] = sz[l], p->a_bs[j] = sa[l], p->b_bs[j] = sb[l], p->y_bs[j] = ys[l];
  }
  p->a_buf = ia, p->b_buf = ib, p->y_buf = e->nops;
  lower_gemm_simplify_batch(p);
  return true;
}

bool lower_einsum(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *y = n->out[0];
  ir_dtype dt = y->type.dtype;
  if (dt != IR_F32 && dt != IR_F64) return bad_dtype(lc, n, dt);
  if (!need_present(lc, n, 0)) return false;
  if (n->nin < 1 || n->nin > 3) {
    ir_error(lc->cx->d, n, "Einsum with %d operands is not supported (at most 3)", n->nin);
    return false;
  }
  const char *eq = ir_attr_str(n, "equation", NULL);
  if (!eq) {
    ir_error(lc->cx->d, n, "Einsum needs the string attribute 'equation'");
    return false;
  }
  const char *arrow = strstr(eq, "->");
  size_t lhs = arrow ? (size_t)(arrow - eq) : strlen(eq);
  const char *ts[3];
  size_t tl[3];
  int nt = 0;
  for (size_t q = 0, s0 = 0;; q++) {
    if (q == lhs || eq[q] == ',') {
      if (nt == 3) nt++;
      if (nt > 3) break;
      ts[nt] = eq + s0, tl[nt] = q - s0, nt++;
      s0 = q + 1;
      if (q == lhs) break;
    }
  }
  if (nt != n->nin) {
    ir_error(lc->cx->d, n, "Einsum equation '%s' does not have %d operands", eq, n->nin);
    return false;
  }
  ein_info *e = ir_alloc(lc->p->arena, sizeof *e); /* zeroed */
  memset(e, 0, sizeof *e);
  e->nops = nt;
  int ne[3], nell = 0, lab[3][RT_MAX_RANK], nl[3];
  for (int i = 0; i < nt; i++) {
    bool ell;
    int letters = ein_letters(ts[i], tl[i], &ell);
    ne[i] = rank_of(n->in[i]) - letters;
    if (letters < 0 || ne[i] < 0 || (!ell && ne[i] != 0)) {
      ir_error_in(lc->cx->d, n, i, "Einsum term '%.*s' does not fit operand %d of rank %d",
                  (int)tl[i], ts[i], i, rank_of(n->in[i]));
      return false;
    }
    if (ne[i] > nell) nell = ne[i];
  }
  int count[EIN_LABELS] = {0};
  for (int i = 0; i < nt; i++) {
    nl[i] = ein_labels(ts[i], tl[i], ne[i], nell, lab[i]);
    for (int j = 0; j < nl[i]; j++) {
      int l = lab[i][j];
      int64_t d = dim_of(n->in[i], j);
      count[l]++;
      if (!e->used[l] || e->size[l] == 1) e->size[l] = d;
      else if (d != 1 && d != e->size[l]) {
        ir_error_in(lc->cx->d, n, i, "Einsum label has sizes %lld and %lld", LL(e->size[l]), LL(d));
        return false;
      }
      e->used[l] = e->in[i][l] = true;
    }
  }
  for (int i = 0; i < nt; i++) {
    int64_t xd[RT_MAX_RANK], xs[RT_MAX_RANK];
    dims_of(n->in[i], xd);
    strides_of(nl[i], xd, xs);
    for (int j = 0; j < nl[i]; j++)
      if (!(xd[j] == 1 && e->size[lab[i][j]] != 1)) e->st[i][lab[i][j]] += xs[j];
  }
  /* the output labels */
  if (arrow) {
    const char *rs = arrow + 2;
    bool ell;
    int letters = ein_letters(rs, strlen(rs), &ell);
    if (letters < 0 || letters + (ell ? nell : 0) > RT_MAX_RANK) {
      ir_error(lc->cx->d, n, "Einsum output term '%s' is malformed", rs);
      return false;
    }
    e->nout = ein_labels(rs, strlen(rs), ell ? nell : 0, nell, e->out);
  } else {
    for (int l = 52; l < 52 + nell; l++) e->out[e->nout++] = l;
    for (int c = 0; c < 52 && e->nout < RT_MAX_RANK; c++) {
      int l = c < 26 ? 26 + c : c - 26; /* upper case first, as sorted ASCII */
      if (count[l] == 1) e->out[e->nout++] = l;
    }
  }
  int64_t yd[RT_MAX_RANK], ys[RT_MAX_RANK];
  dims_of(y, yd);
  if (e->nout != rank_of(y)) MIXC_BUG("Einsum output rank %d, type rank %d", e->nout, rank_of(y));
  strides_of(e->nout, yd, ys);
  for (int j = 0; j < e->nout; j++) {
    int l = e->out[j];
    if (!e->used[l] || e->in_out[l]) {
      ir_error(lc->cx->d, n, "Einsum output label %d is not in the inputs or repeats", j);
      return false;
    }
    e->in_out[l] = true;
    e->yst[l] = ys[j];
  }
  /* fast paths */
  if (nt == 2) {
    mixc_gemm_params p, q;
    bool ok1 = ein_gemm(e, 0, 1, &p), ok2 = (!ok1 || p.y_sn != 1) && ein_gemm(e, 1, 0, &q);
    if (ok2 && (!ok1 || q.y_sn == 1)) p = q, ok1 = true;
    if (ok1) {
      lower_gemm_set(lc, call, dt, &p);
      return true;
    }
  }
  int sum[EIN_LABELS], nsum = 0;
  for (int l = 0; l < EIN_LABELS; l++)
    if (e->used[l] && !e->in_out[l]) sum[nsum++] = l;
  if (nt == 1 && nsum == 0) {
    int64_t sst[RT_MAX_RANK];
    for (int j = 0; j < e->nout; j++) sst[j] = e->st[0][e->out[j]];
    return emit_strided(lc, call, (int)ir_dtype_size(dt), e->nout, yd, sst, 0, 0, 1);
  }
  if (e->nout + nsum > MIXC_EIN_MAX) {
    ir_error(lc->cx->d, n, "Einsum '%s' has %d labels; the backend supports up to %d", eq,
             e->nout + nsum, MIXC_EIN_MAX);
    return false;
  }
  mixc_einsum_params p;
  memset(&p, 0, sizeof p);
  p.nops = nt, p.nout = e->nout, p.nsum = nsum, p.dtype = (int32_t)dt;
  for (int j = 0; j < e->nout + nsum; j++) {
    int l = j < e->nout ? e->out[j] : sum[j - e->nout];
    p.dims[j] = e->size[l];
    for (int i = 0; i < nt; i++) p.st[i][j] = e->st[i][l];
  }
  SET(lc, call, "mixc_k_einsum", p);
  return true;
}

/* ---- Conv, pools ------------------------------------------------------------------------ */

/* The window attributes of Conv and the pools for nsp spatial dims: strides,
 * dilations and the begin/end pads (auto_pad resolved against the output). */
typedef struct window {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} window;

static bool window_of(lower_ctx *lc, const ir_node *n, int nsp, const int64_t *in,
                      const int64_t *k, const int64_t *out, window *w) {
  int64_t s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pads[6] = {0};
  static const char *nm[] = {"strides", "dilations", "pads"};
  int64_t *dst[] = {s, d, pads};
  for (int i = 0; i < 3; i++) {
    const ir_attr *a = ir_attr_find(n, nm[i]);
    if (!a) continue;
    int want = i == 2 ? 2 * nsp : nsp;
    if (a->kind != IR_ATTR_INTS || a->n != want) {
      ir_error(lc->cx->d, n, "%s attribute '%s' must have %d entries", OPN(n), nm[i], want);
      return false;
    }
    for (int j = 0; j < want; j++) dst[i][j] = a->ints[j];
  }
  const char *ap = ir_attr_str(n, "auto_pad", "NOTSET");
  for (int i = 0; i < nsp; i++) {
    if (s[i] < 1 || d[i] < 1) {
      ir_error(lc->cx->d, n, "%s strides and dilations must be >= 1", OPN(n));
      return false;
    }
    int64_t pb = pads[i], pe = pads[nsp + i];
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
      int64_t total = (out[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in[i];
      if (total < 0) total = 0;
      pb = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      pe = total - pb;
    } else if (!strcmp(ap, "VALID")) pb = pe = 0;
    else if (strcmp(ap, "NOTSET")) {
      ir_error(lc->cx->d, n, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
      return false;
    }
    if (pb < 0 || pe < 0) {
      ir_error(lc->cx->d, n, "%s pads must not be negative", OPN(n));
      return false;
    }
    /* spatial dims are right-aligned in three */
    int j = 3 - nsp + i;
    w->in[j] = in[i], w->out[j] = out[i], w->k[j] = k[i], w->s[j] = s[i], w->d[j] = d[i];
    w->pb[j] = pb, w->pe[j] = pe;
  }
  for (int j = 0; j < 3 - nsp; j++)
    w->in[j] = w->out[j] = w->k[j] = w->s[j] = w->d[j] = 1, w->pb[j] = w->pe[j] = 0;
  return true;
}

/* Appends a view sub-dim, merging it into the previous one when contiguous. */
static void view_add(int64_t *dim, int64_t *st, int32_t *cnt, int64_t d, int64_t s) {
  if (d == 1) return;
  if (*cnt > 0 && st[*cnt - 1] == s * d) {
    dim[*cnt - 1] *= d;
    st[*cnt - 1] = s;
    return;
  }
  dim[*cnt] = d, st[*cnt] = s, (*cnt)++;
}

bool lower_conv(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *wv = n->in[1], *y = n->out[0];
  if (x->type.dtype != IR_F32) return bad_dtype(lc, n, x->type.dtype);
  if (!need_present(lc, n, 0)) return false;
  int r = rank_of(x), nsp = r - 2;
  if (nsp < 1 || nsp > 3) {
    ir_error(lc->cx->d, n, "Conv with %d spatial dims is not supported (1 to 3)", nsp);
    return false;
  }
  int64_t xd[RT_MAX_RANK], wd[RT_MAX_RANK], yd[RT_MAX_RANK];
  dims_of(x, xd), dims_of(wv, wd), dims_of(y, yd);
  int64_t G = ir_attr_int(n, "group", 1);
  const int64_t N = xd[0], C = xd[1], M = wd[0];
  if (G < 1 || C % G || M % G || wd[1] != C / G) {
    ir_error(lc->cx->d, n, "Conv group %lld does not fit %lld input and %lld output channels", LL(G), LL(C), LL(M));
    return false;
  }
  window w;
  if (!window_of(lc, n, nsp, xd + 2, wd + 2, yd + 2, &w)) return false;
  bool has_bias = n->nin > 2 && n->in[2];
  /* Without padding the input is an im2col view: one strided GEMM. */
  bool gemm = true;
  for (int j = 0; j < 3; j++)
    if (w.pb[j] || (w.out[j] - 1) * w.s[j] + (w.k[j] - 1) * w.d[j] > w.in[j] - 1) gemm = false;
  if (gemm) {
    const int64_t Cg = C / G, Mg = M / G;
    const int64_t isz = w.in[0] * w.in[1] * w.in[2], osz = w.out[0] * w.out[1] * w.out[2];
    const int64_t ksz = w.k[0] * w.k[1] * w.k[2];
    const int64_t ist[3] = {w.in[1] * w.in[2], w.in[2], 1};
    mixc_gemm_params p;
    lower_gemm_init(&p);
    p.M = Mg, p.N = osz, p.K = Cg * ksz;
    p.a_buf = 1, p.b_buf = 0, p.y_buf = n->nin;
    p.a_sm = p.K, p.a_sk = 1;
    p.b_nk = p.b_nn = 0;
    view_add(p.b_kdim, p.b_kst, &p.b_nk, Cg, isz);
    for (int j = 0; j < 3; j++) view_add(p.b_kdim, p.b_kst, &p.b_nk, w.k[j], w.d[j] * ist[j]);
    for (int j = 0; j < 3; j++) view_add(p.b_ndim, p.b_nst, &p.b_nn, w.out[j], w.s[j] * ist[j]);
    if (!p.b_nk) p.b_nk = 1, p.b_kdim[0] = 1, p.b_kst[0] = 0;
    if (!p.b_nn) p.b_nn = 1, p.b_ndim[0] = 1, p.b_nst[0] = 0;
    p.y_sm = osz, p.y_sn = 1;
    if (has_bias) p.c_buf = 2, p.c_sm = 1, p.c_sn = 0;
    p.nbatch = 2;
    p.bdim[0] = N, p.a_bs[0] = 0, p.b_bs[0] = C * isz, p.c_bs[0] = 0, p.y_bs[0] = M * osz;
    p.bdim[1] = G, p.a_bs[1] = Mg * p.K, p.b_bs[1] = Cg * isz, p.c_bs[1] = Mg, p.y_bs[1] = Mg * osz;
    lower_gemm_simplify_batch(&p);
    lower_gemm_set(lc, call, IR_F32, &p);
    return true;
  }
  mixc_conv_params p;
  memset(&p, 0, sizeof p);
  p.N = N, p.C = C, p.M = M, p.group = G;
  for (int j = 0; j < 3; j++)
    p.in[j] = w.in[j], p.out[j] = w.out[j], p.k[j] = w.k[j], p.s[j] = w.s[j], p.d[j] = w.d[j], p.pb[j] = w.pb[j];
  p.has_bias = has_bias, p.out_buf = n->nin;
  SET(lc, call, "mixc_k_conv_f32", p);
  return true;
}

bool lower_pool(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *y = n->out[0];
  if (x->type.dtype != IR_F32) return bad_dtype(lc, n, x->type.dtype);
  if (!need_present(lc, n, 0)) return false;
  int r = rank_of(x), nsp = r - 2;
  int64_t xd[RT_MAX_RANK], yd[RT_MAX_RANK];
  dims_of(x, xd), dims_of(y, yd);
  if (n->op == IR_OP_GlobalAveragePool || n->op == IR_OP_GlobalMaxPool) {
    mixc_gpool_params p;
    memset(&p, 0, sizeof p);
    p.nc = prod(0, r < 2 ? r : 2, xd), p.sp = prod(2, r, xd);
    p.kind = n->op == IR_OP_GlobalAveragePool;
    SET(lc, call, "mixc_k_gpool_f32", p);
    return true;
  }
  if (nsp < 1 || nsp > 3) {
    ir_error(lc->cx->d, n, "%s with %d spatial dims is not supported (1 to 3)", OPN(n), nsp);
    return false;
  }
  const ir_attr *ks = ir_attr_find(n, "kernel_shape");
  if (!ks || ks->kind != IR_ATTR_INTS || ks->n != nsp) {
    ir_error(lc->cx->d, n, "%s needs kernel_shape with %d entries", OPN(n), nsp);
    return false;
  }
  window w;
  if (!window_of(lc, n, nsp, xd + 2, ks->ints, yd + 2, &w)) return false;
  mixc_pool_params p;
  memset(&p, 0, sizeof p);
  p.nc = xd[0] * xd[1];
  for (int j = 0; j < 3; j++)
    p.in[j] = w.in[j], p.out[j] = w.out[j], p.k[j] = w.k[j], p.s[j] = w.s[j], p.d[j] = w.d[j],
    p.pb[j] = w.pb[j], p.pe[j] = w.pe[j];
  p.kind = n->op == IR_OP_AveragePool;
  p.count_include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  p.has_idx = n->nout > 1 && n->out[1];
  if (p.has_idx && ir_attr_int(n, "storage_order", 0) != 0) {
    ir_error(lc->cx->d, n, "MaxPool Indices with storage_order=1 (column major) are not supported");
    return false;
  }
  /* ceil_mode windows that run past the end padding: the kernel counts only
   * positions inside [-pb, in + pe), as ONNX Runtime does */
  SET(lc, call, "mixc_k_pool_f32", p);
  return true;
}

/* ---- com.microsoft.MoE ---------------------------------------------------------------- */

bool lower_ms_moe(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *x = n->in[0], *rt = n->in[1], *w1 = n->in[2], *w2 = n->in[4];
  if (x->type.dtype != IR_F32) return bad_dtype(lc, n, x->type.dtype);
  if (!need_present(lc, n, 0)) return false;
  if (n->nin > 6 && n->in[6]) {
    ir_error_in(lc->cx->d, n, 6, "MoE with fc3_experts_weights (gated experts) is not supported yet");
    return false;
  }
  if (ir_attr_int(n, "use_sparse_mixer", 0)) {
    ir_error(lc->cx->d, n, "MoE use_sparse_mixer=1 is not supported");
    return false;
  }
  const char *act = ir_attr_str(n, "activation_type", "relu");
  int ai = !strcmp(act, "relu") ? 0 : !strcmp(act, "gelu") ? 1 : !strcmp(act, "silu") ? 2
         : !strcmp(act, "identity") ? 3 : -1;
  if (ai < 0) {
    ir_error(lc->cx->d, n, "MoE activation_type '%s' is not supported (relu, gelu, silu, identity)", act);
    return false;
  }
  int rx = rank_of(x);
  int64_t xd[RT_MAX_RANK] = {0};
  dims_of(x, xd);
  if (rx < 1 || rank_of(rt) != 2) {
    ir_error(lc->cx->d, n, "MoE input must have rank >= 1 and router_probs rank 2");
    return false;
  }
  const int64_t H = xd[rx - 1], rows = prod(0, rx - 1, xd), E = dim_of(rt, 1);
  if (rank_of(w1) != 3 || rank_of(w2) != 3) {
    ir_error(lc->cx->d, n, "MoE expert weights must have rank 3");
    return false;
  }
  int64_t a1 = dim_of(w1, 1), b1 = dim_of(w1, 2), a2 = dim_of(w2, 1), b2 = dim_of(w2, 2);
  /* (E,H,I) with (E,I,H) [older ORT], or (E,I,H) with (E,H,I) [newer ORT]. When
   * H == I both readings fit; we take (E,H,I) as the tiny test models and older
   * exports do (ORT changed its documented layout in 1.22). */
  bool ehi = a1 == H && b2 == H && b1 == a2, eih = b1 == H && a2 == H && a1 == b2;
  if (!ehi && !eih) {
    ir_error(lc->cx->d, n, "MoE expert weights (E,%lld,%lld) and (E,%lld,%lld) do not fit hidden size %lld",
             LL(a1), LL(b1), LL(a2), LL(b2), LL(H));
    return false;
  }
  const int64_t I = ehi ? b1 : a1;
  if (dim_of(w1, 0) != E || dim_of(w2, 0) != E) {
    ir_error(lc->cx->d, n, "MoE expert weights do not have %lld experts", LL(E));
    return false;
  }
  if (E > 1024 || E < 1) {
    ir_error(lc->cx->d, n, "MoE with %lld experts is not supported (1 to 1024)", LL(E));
    return false;
  }
  int64_t k = ir_attr_int(n, "k", 1);
  if (k < 1 || k > E) {
    ir_error(lc->cx->d, n, "MoE k=%lld must be in 1..%lld", LL(k), LL(E));
    return false;
  }
  const ir_value *bias1 = n->nin > 3 ? n->in[3] : NULL, *bias2 = n->nin > 5 ? n->in[5] : NULL;
  if ((bias1 && numel_of(bias1) != E * I) || (bias2 && numel_of(bias2) != E * H)) {
    ir_error(lc->cx->d, n, "MoE biases must be (E, inter) and (E, hidden)");
    return false;
  }
  mixc_moe_params p;
  memset(&p, 0, sizeof p);
  p.rows = rows, p.H = H, p.I = I, p.E = E, p.k = k;
  p.w1_se = p.w2_se = H * I;
  if (ehi) p.w1_sh = I, p.w1_si = 1, p.w2_si = H, p.w2_sh = 1;
  else p.w1_sh = 1, p.w1_si = H, p.w2_si = 1, p.w2_sh = I;
  p.act = ai, p.normalize = ir_attr_int(n, "normalize_routing_weights", 0) != 0;
  p.has_b1 = bias1 != NULL, p.has_b2 = bias2 != NULL, p.out_buf = n->nin;
  SET(lc, call, "mixc_k_ms_moe_f32", p);
  return true;
}
