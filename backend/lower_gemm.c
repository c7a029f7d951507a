/* lower_gemm.c - lowering of MatMul, Gemm and mixc.matmul onto the GEMM kernel
 * (runtime/kernels/gemm.c), and the shared tail of every GEMM lowering
 * (Einsum and convolutions in lower_data.c use it too): batch-dim
 * simplification, and compile-time packing of constant operands into the
 * micro-kernel's panel layout (runtime/kernels/gemm.h), so that a weight is
 * never re-packed at run time.
 *
 * Requires: lower.h's contract (static shapes, call->ops filled with the
 * node's inputs then outputs). Packed weights are new constants owned by the
 * graph's arena, so they live as long as the constants they replace. */
#include <string.h>

#include "ir/infer.h"
#include "lower.h"
#include "runtime/kernels/gemm.h"

void lower_gemm_init(mixc_gemm_params *p) {
  memset(p, 0, sizeof *p);
  p->alpha = 1.0f, p->beta = 1.0f;
  p->b_nk = p->b_nn = 1;
  p->c_buf = p->bias_buf = p->res_buf = -1;
}

/* Drops batch dims of size 1 and merges batch dims that are contiguous in
 * every operand. */
void lower_gemm_simplify_batch(mixc_gemm_params *p) {
  int64_t *bs[] = {p->a_bs, p->b_bs, p->c_bs, p->y_bs, p->r_bs, p->bias_bs};
  enum { NOPS = sizeof bs / sizeof bs[0] };
  int k = 0;
  for (int i = 0; i < p->nbatch; i++) {
    if (p->bdim[i] == 1) continue;
    if (k > 0) {
      int64_t d = p->bdim[i];
      bool merge = true;
      for (int o = 0; o < NOPS; o++) merge &= bs[o][k - 1] == bs[o][i] * d;
      if (merge) {
        p->bdim[k - 1] *= d;
        for (int o = 0; o < NOPS; o++) bs[o][k - 1] = bs[o][i];
        continue;
      }
    }
    p->bdim[k] = p->bdim[i];
    for (int o = 0; o < NOPS; o++) bs[o][k] = bs[o][i];
    k++;
  }
  for (int i = k; i < RT_MAX_RANK; i++) {
    p->bdim[i] = 0;
    for (int o = 0; o < NOPS; o++) bs[o][i] = 0;
  }
  p->nbatch = k;
  /* one batch dim that walks A's, Y's (and the residual's) rows in step, with
   * B and the bias shared: more rows */
  if (k == 1 && p->b_bs[0] == 0 && p->c_buf < 0 && p->bias_bs[0] == 0 && p->a_sm != 0 &&
      p->a_bs[0] == p->M * p->a_sm && p->y_bs[0] == p->M * p->y_sm && p->bias_axis == 0 &&
      (p->res_buf < 0 || p->r_bs[0] == p->M * p->r_sm)) {
    p->M *= p->bdim[0];
    p->nbatch = 0;
    p->bdim[0] = 0;
    for (int o = 0; o < NOPS; o++) bs[o][0] = 0;
  }
}

static bool unbatched(const mixc_gemm_params *p, const int64_t *bs) {
  for (int i = 0; i < p->nbatch; i++)
    if (bs[i]) return false;
  return true;
}

/* Replaces operand `buf` of the call (a constant) by a new zeroed constant of
 * `floats` floats, named after the old one plus `what`; returns its data for
 * the caller to fill. */
static float *repack(lower_ctx *lc, be_call *call, int buf, int64_t floats, const char *what) {
  be_operand *o = &call->ops[buf];
  const ir_tensor *src = lc->p->consts[o->index];
  ir_arena *a = lc->cx->g->arena;
  ir_tensor *t = ir_tensor_new(a, IR_F32, 1, &floats);
  const char *name = src->name ? src->name : "weight";
  size_t len = strlen(name) + strlen(what) + 2;
  char *nm = ir_alloc(a, len);
  memcpy(nm, name, strlen(name));
  nm[strlen(name)] = '.';
  memcpy(nm + strlen(name) + 1, what, strlen(what) + 1);
  t->name = nm;
  o->index = lower_add_const(lc, t);
  o->nbytes = t->nbytes;
  return t->data;
}

void lower_gemm_set(lower_ctx *lc, be_call *call, ir_dtype dt, mixc_gemm_params *p) {
  if (dt == IR_F64) {
    lower_set_params(lc, call, "mixc_k_gemm_f64", p, sizeof *p);
    return;
  }
  /* Constant operands in the micro-kernel's layout: B as NR-wide panels, A as
   * MR-tall ones (a weight on the left: token mixing, convolutions). */
  be_operand *bo = &call->ops[p->b_buf], *ao = &call->ops[p->a_buf];
  if (bo->loc == BE_CONST && p->b_nk == 1 && p->b_nn == 1 && unbatched(p, p->b_bs) && p->K > 0) {
    const float *B = lc->p->consts[bo->index]->data;
    float *out = repack(lc, call, p->b_buf, mixc_gemm_packed_floats(p->N, p->K, MIXC_GEMM_NR), "packed_b");
    mixc_gemm_pack_b(p->K, p->N, B, p->b_kst[0], p->b_nst[0], out);
    p->b_packed = 1;
  }
  if (ao->loc == BE_CONST && unbatched(p, p->a_bs) && p->K > 0 && p->a_buf != p->b_buf) {
    const float *A = lc->p->consts[ao->index]->data;
    float *out = repack(lc, call, p->a_buf, mixc_gemm_packed_floats(p->M, p->K, MIXC_GEMM_MR), "packed_a");
    mixc_gemm_pack_a(p->M, p->K, A, p->a_sm, p->a_sk, out);
    p->a_packed = 1;
  }
  lower_set_params(lc, call, "mixc_k_gemm_f32", p, sizeof *p);
}

bool lower_gemm_pack_experts(lower_ctx *lc, be_call *call, int buf, int64_t E, int64_t K, int64_t N) {
  be_operand *o = &call->ops[buf];
  if (o->loc != BE_CONST || K <= 0 || N <= 0) return false;
  const float *W = lc->p->consts[o->index]->data;
  int64_t per = mixc_gemm_packed_floats(N, K, MIXC_GEMM_NR);
  float *out = repack(lc, call, buf, E * per, "packed");
  for (int64_t e = 0; e < E; e++) mixc_gemm_pack_b(K, N, W + e * K * N, N, 1, out + e * per);
  return true;
}

bool lower_matmul(lower_ctx *lc, const ir_node *n, be_call *call) {
  const ir_value *a = n->in[0], *b = n->in[1], *y = n->out[0];
  ir_dtype dt = a->type.dtype;
  if (dt != IR_F32 && dt != IR_F64) {
    ir_error(lc->cx->d, n, "unsupported dtype %s for %s", ir_dtype_name(dt), ir_op_fullname(n->op));
    return false;
  }
  if (!y) {
    ir_error(lc->cx->d, n, "%s output 0 is omitted; the backend needs it", ir_op_fullname(n->op));
    return false;
  }
  mixc_gemm_params p;
  lower_gemm_init(&p);
  p.a_buf = 0, p.b_buf = 1, p.y_buf = n->nin;
  if (n->op == IR_OP_Gemm) {
    bool ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    int64_t a0 = dim_of(a, 0), a1 = dim_of(a, 1), b0 = dim_of(b, 0), b1 = dim_of(b, 1);
    p.M = ta ? a1 : a0, p.K = ta ? a0 : a1, p.N = tb ? b0 : b1;
    p.a_sm = ta ? 1 : a1, p.a_sk = ta ? a1 : 1;
    p.b_kdim[0] = p.K, p.b_kst[0] = tb ? 1 : b1;
    p.b_ndim[0] = p.N, p.b_nst[0] = tb ? b1 : 1;
    p.alpha = ir_attr_float(n, "alpha", 1.0f), p.beta = ir_attr_float(n, "beta", 1.0f);
    const ir_value *c = n->nin > 2 ? n->in[2] : NULL;
    if (c && p.beta != 0.0f) {
      int rc = c->type.rank;
      int64_t cm = rc == 2 ? dim_of(c, 0) : 1, cn = rc >= 1 ? dim_of(c, rc - 1) : 1;
      p.c_buf = 2;
      p.c_sm = cm == 1 ? 0 : cn;
      p.c_sn = cn == 1 ? 0 : 1;
    }
    p.y_sm = p.N, p.y_sn = 1;
    lower_gemm_set(lc, call, dt, &p);
    return true;
  }
  /* MatMul and mixc.matmul: numpy semantics, 1-D operands promoted and their
   * dim dropped; mixc.matmul reads A or B transposed (last two dims swapped)
   * through strides, adds a bias, applies an activation and a residual. */
  bool fused = n->op == IR_OP_MixcMatmul;
  bool ta = fused && ir_attr_int(n, "trans_a", 0), tb = fused && ir_attr_int(n, "trans_b", 0);
  int ra = a->type.rank, rb = b->type.rank, ry = y->type.rank;
  int64_t ad[RT_MAX_RANK], bd[RT_MAX_RANK], yd[RT_MAX_RANK];
  int64_t as[RT_MAX_RANK], bs[RT_MAX_RANK], ys[RT_MAX_RANK];
  dims_of(a, ad), dims_of(b, bd), dims_of(y, yd);
  strides_of(ra, ad, as), strides_of(rb, bd, bs), strides_of(ry, yd, ys);
  if (ra == 1) {
    p.M = 1, p.K = dim_of(a, 0), p.a_sm = 0, p.a_sk = 1;
  } else {
    int64_t r = dim_of(a, ra - 2), c = dim_of(a, ra - 1);
    p.M = ta ? c : r, p.K = ta ? r : c;
    p.a_sm = ta ? 1 : c, p.a_sk = ta ? c : 1;
  }
  if (rb == 1) {
    p.N = 1, p.b_kst[0] = 1, p.b_nst[0] = 0;
  } else {
    int64_t r = dim_of(b, rb - 2), c = dim_of(b, rb - 1);
    p.N = tb ? r : c;
    p.b_kst[0] = tb ? 1 : c, p.b_nst[0] = tb ? c : 1;
  }
  p.b_kdim[0] = p.K, p.b_ndim[0] = p.N;
  p.y_sm = rb == 1 ? 1 : p.N, p.y_sn = 1;
  int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
  int nb = ry - (ra > 1) - (rb > 1);
  if (nb < 0 || nb > RT_MAX_RANK) MIXC_BUG("MatMul output rank %d", ry);
  p.nbatch = nb;
  for (int i = 0; i < nb; i++) {
    int ai = i - (nb - nba), bi = i - (nb - nbb);
    p.bdim[i] = dim_of(y, i);
    p.a_bs[i] = ai >= 0 && dim_of(a, ai) != 1 ? as[ai] : 0;
    p.b_bs[i] = bi >= 0 && dim_of(b, bi) != 1 ? bs[bi] : 0;
    p.y_bs[i] = ys[i];
  }
  if (fused) {
    const char *act = ir_attr_str(n, "act", "none");
    int k = ir_fused_act_code(act); /* MIXC_ACT_* */
    if (k < 0) {
      ir_error(lc->cx->d, n, "mixc.matmul act '%s' is not one of none, relu, gelu_erf, gelu_tanh, "
               "silu, sigmoid", act);
      return false;
    }
    p.act = k;
    p.bias_axis = ir_attr_int(n, "bias_axis", 0) ? 1 : 0;
    if (n->nin > 2 && n->in[2]) p.bias_buf = 2;
    if (n->nin > 3 && n->in[3]) {
      /* the residual has the output's shape (checked by shape inference) */
      p.res_buf = 3;
      p.r_sm = p.y_sm, p.r_sn = p.y_sn;
      for (int i = 0; i < nb; i++) p.r_bs[i] = p.y_bs[i];
    }
  }
  lower_gemm_simplify_batch(&p);
  lower_gemm_set(lc, call, dt, &p);
  return true;
}
