/* test_moe.c - unit tests of the fused routed-MoE kernel (runtime/kernels/moe.c,
 * mixc_k_moe_f32, the kernel of mixc.moe) against a naive double-precision
 * reference of MODELS.md section 2 written here: softmax, top-k with ties to
 * the lower expert, importance dropping (ties to the lower row), choice-major
 * capacity, k=1 and k=2, renormalization, an expert nobody picks, an expert
 * everybody picks (with capacity overflow); router "logits" (precomputed
 * logits, com.microsoft.MoE) in place of the gate GEMV. Also per-image routing (group > 1,
 * Mobile V-MoE) against its own naive reference, and the Soft MoE kernel
 * (runtime/kernels/moe_soft.c) against a naive double-precision Soft MoE.
 * Transposed rows (tcols, the token-mixing MoE of passes/strided_moe.c) must
 * give exactly, bit for bit, the row-major kernel's y and routing statistics
 * on the transposed copy of x: ties, importance dropping, capacity, k=2,
 * blocks of rows, long hidden dims and the router's fallback path.
 *
 * Requires: CUnit; registered by moe_suite_register() from main.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels/gemm.h"
#include "runtime/kernels/moe.h"
#include "runtime/kernels/moe_soft.h"

void mixc_k_moe_f32(rt_ctx *ctx, const void *params, void *const *bufs);
void mixc_k_moe_soft_f32(rt_ctx *ctx, const void *params, void *const *bufs);

typedef struct moe_case {
  int rows, d, h, E, k, ndrop, cap, act, normalize;
  float *x, *wg, *bg, *w1, *b1, *w2, *b2;
  float *lg; /* router logits (rows,E): when set, routing reads them instead of x.W_g + b_g */
} moe_case;

static unsigned rng_state = 12345;
static float frand(void) { /* uniform in [-1, 1) */
  rng_state = rng_state * 1103515245u + 12345u;
  return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *fill(int n, float scale) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) p[i] = scale * frand();
  return p;
}

static moe_case make(int rows, int d, int h, int E, int k) {
  moe_case c = {rows, d, h, E, k, 0, 0, MIXC_MOE_GELU_ERF, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  c.x = fill(rows * d, 1.0f);
  c.wg = fill(d * E, 3.0f);
  c.w1 = fill(E * d * h, 0.5f);
  c.b1 = fill(E * h, 0.1f);
  c.w2 = fill(E * h * d, 0.5f);
  c.b2 = fill(E * d, 0.1f);
  return c;
}

static void release(moe_case *c) {
  free(c->x), free(c->wg), free(c->bg), free(c->w1), free(c->b1), free(c->w2), free(c->b2);
  free(c->lg);
}

static double act_d(int act, double v) {
  switch (act) {
  case MIXC_MOE_GELU_ERF: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
  case MIXC_MOE_GELU_TANH: return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  case MIXC_MOE_RELU: return v > 0 ? v : 0;
  case MIXC_MOE_SILU: return v / (1.0 + exp(-v));
  default: return v;
  }
}

/* The naive reference; also returns how many assignments each expert got. */
static void reference(const moe_case *c, double *y, int *served) {
  int R = c->rows, E = c->E, k = c->k, d = c->d, h = c->h;
  double *p = calloc((size_t)(R * E), sizeof(double)), *score = calloc((size_t)R, sizeof(double));
  int *ch = calloc((size_t)(R * k), sizeof(int)), *keep = calloc((size_t)R, sizeof(int));
  double *w = calloc((size_t)(R * k), sizeof(double));
  for (int r = 0; r < R; r++) {
    double mx = -INFINITY, s = 0;
    for (int e = 0; e < E; e++) {
      double l = c->bg ? c->bg[e] : 0;
      for (int i = 0; i < d; i++) l += (double)c->x[r * d + i] * c->wg[i * E + e];
      if (c->lg) l = c->lg[r * E + e];
      p[r * E + e] = l;
      mx = l > mx ? l : mx;
    }
    for (int e = 0; e < E; e++) s += p[r * E + e] = exp(p[r * E + e] - mx);
    for (int e = 0; e < E; e++) p[r * E + e] /= s;
    double tot = 0;
    for (int q = 0; q < k; q++) {
      int best = -1;
      for (int e = 0; e < E; e++) {
        int taken = 0;
        for (int z = 0; z < q; z++) taken |= ch[r * k + z] == e;
        if (!taken && (best < 0 || p[r * E + e] > p[r * E + best])) best = e;
      }
      ch[r * k + q] = best, w[r * k + q] = p[r * E + best], tot += p[r * E + best];
    }
    score[r] = w[r * k];
    if (c->normalize)
      for (int q = 0; q < k; q++) w[r * k + q] /= tot;
    keep[r] = 1;
  }
  for (int n = 0; n < c->ndrop; n++) { /* drop the lowest (score, row) still kept */
    int lo = -1;
    for (int r = 0; r < R; r++)
      if (keep[r] && (lo < 0 || score[r] < score[lo])) lo = r;
    keep[lo] = 0;
  }
  memset(y, 0, sizeof(double) * (size_t)(R * d));
  for (int e = 0; e < E; e++) served[e] = 0;
  int *cnt = calloc((size_t)E, sizeof(int));
  int *ok = calloc((size_t)(R * k), sizeof(int));
  for (int q = 0; q < k; q++)
    for (int r = 0; r < R; r++) {
      if (!keep[r]) continue;
      int e = ch[r * k + q];
      if (c->cap && cnt[e] >= c->cap) continue;
      cnt[e]++, ok[r * k + q] = 1, served[e]++;
    }
  double *hid = calloc((size_t)h, sizeof(double));
  for (int r = 0; r < R; r++)
    for (int q = 0; q < k; q++) {
      if (!ok[r * k + q]) continue;
      int e = ch[r * k + q];
      for (int j = 0; j < h; j++) {
        double a = c->b1 ? c->b1[e * h + j] : 0;
        for (int i = 0; i < d; i++) a += (double)c->x[r * d + i] * c->w1[(e * d + i) * h + j];
        hid[j] = act_d(c->act, a);
      }
      for (int j = 0; j < d; j++) {
        double a = c->b2 ? c->b2[e * d + j] : 0;
        for (int i = 0; i < h; i++) a += hid[i] * c->w2[(e * h + i) * d + j];
        y[r * d + j] += w[r * k + q] * a;
      }
    }
  free(p), free(score), free(ch), free(keep), free(w), free(cnt), free(ok), free(hid);
}

/* Runs the kernel and compares it with the reference; returns the max error
 * (and the kernel's y in y_out, unless NULL). */
static double run_case_y(const moe_case *c, int *served, float *y_out) {
  mixc_moe_fused_params p;
  memset(&p, 0, sizeof p);
  p.rows = c->rows, p.d = c->d, p.h = c->h, p.E = c->E, p.k = c->k;
  p.ndrop = c->ndrop, p.cap = c->cap, p.act = c->act, p.normalize = c->normalize;
  p.logits = c->lg != NULL;
  size_t sb = (size_t)mixc_moe_scratch_bytes(c->rows, 1, c->d, c->h, c->E, c->k);
  float *y = malloc(sizeof(float) * (size_t)(c->rows * c->d));
  void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64);
  memset(scratch, 0xcd, sb); /* the kernel must not rely on zeroed scratch */
  void *bufs[9] = {c->x, c->lg ? c->lg : c->wg, c->lg ? NULL : c->bg, c->w1, c->b1, c->w2, c->b2,
                   y, scratch};
  rt_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  mixc_k_moe_f32(&ctx, &p, bufs);
  double *ref = malloc(sizeof(double) * (size_t)(c->rows * c->d));
  reference(c, ref, served);
  double err = 0;
  for (int i = 0; i < c->rows * c->d; i++) {
    double e = fabs(y[i] - ref[i]) / (1.0 + fabs(ref[i]));
    err = e > err ? e : err;
  }
  CU_ASSERT_EQUAL(ctx.status, 0);
  if (y_out) memcpy(y_out, y, sizeof(float) * (size_t)(c->rows * c->d));
  free(y), free(scratch), free(ref);
  return err;
}

static double run_case(const moe_case *c, int *served) { return run_case_y(c, served, NULL); }

static void test_k1_basic(void) {
  moe_case c = make(9, 6, 10, 4, 1);
  int served[4];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  release(&c);
}

static void test_k2_normalize_tanh(void) {
  moe_case c = make(11, 5, 7, 4, 2);
  c.normalize = 1;
  c.act = MIXC_MOE_GELU_TANH;
  int served[4];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  c.normalize = 0, c.act = MIXC_MOE_SILU;
  CU_ASSERT(run_case(&c, served) < 1e-5);
  release(&c);
}

/* Experts 0 and 2 have identical router columns: their probabilities tie
 * exactly in every row, and top-k must prefer expert 0. */
static void test_ties(void) {
  moe_case c = make(8, 4, 5, 3, 1);
  for (int i = 0; i < c.d; i++) c.wg[i * 3 + 2] = c.wg[i * 3 + 0];
  int served[3];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  CU_ASSERT_EQUAL(served[2], 0);
  c.k = 2; /* second choice: the tie partner */
  CU_ASSERT(run_case(&c, served) < 1e-5);
  release(&c);
}

/* A bias of -1000 makes expert 3 nobody's choice; +1000 on expert 1 makes it
 * everybody's, and capacity 3 then serves only the first three rows. */
static void test_empty_full_capacity(void) {
  moe_case c = make(7, 4, 6, 4, 1);
  c.bg = calloc(4, sizeof(float));
  c.bg[3] = -1000.0f;
  int served[4];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  CU_ASSERT_EQUAL(served[3], 0);
  c.bg[3] = 0.0f, c.bg[1] = 1000.0f;
  CU_ASSERT(run_case(&c, served) < 1e-5);
  CU_ASSERT_EQUAL(served[1], 7);
  c.cap = 3;
  CU_ASSERT(run_case(&c, served) < 1e-5);
  CU_ASSERT_EQUAL(served[1], 3);
  release(&c);
}

/* k=2 with capacity: choice-major priority (all first choices first). */
static void test_capacity_choice_major(void) {
  moe_case c = make(12, 5, 6, 3, 2);
  c.cap = 5;
  int served[3];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  for (int e = 0; e < 3; e++) CU_ASSERT(served[e] <= 5);
  release(&c);
}

/* Importance dropping, with rows 2 and 5 identical (equal scores): the lower
 * row index goes first when the tie is at the cut. */
static void test_importance_drop(void) {
  moe_case c = make(10, 4, 5, 4, 1);
  memcpy(c.x + 5 * c.d, c.x + 2 * c.d, sizeof(float) * (size_t)c.d);
  int served[4];
  for (int nd = 1; nd <= 4; nd++) {
    c.ndrop = nd;
    CU_ASSERT(run_case(&c, served) < 1e-5);
    int tot = 0;
    for (int e = 0; e < 4; e++) tot += served[e];
    CU_ASSERT_EQUAL(tot, 10 - nd);
  }
  c.k = 2, c.cap = 4, c.ndrop = 3; /* dropped rows take no capacity */
  CU_ASSERT(run_case(&c, served) < 1e-5);
  release(&c);
}

/* Router "logits": random logits (rows,E) in place of x.W_g, with k=2,
 * renormalized, tanh GELU (com.microsoft.MoE's "gelu"), then k=3 of 5 without
 * renormalization, with capacity and importance dropping; a row whose logits
 * tie exactly picks the lower experts; logits of -1000 make expert 4 nobody's
 * choice. Finally logits computed as x.W_g + b_g route as the gate GEMV does
 * (y equal up to float rounding in the logits). */
static void test_logits(void) {
  moe_case c = make(13, 6, 7, 5, 2);
  c.lg = fill(13 * 5, 3.0f);
  c.normalize = 1, c.act = MIXC_MOE_GELU_TANH;
  for (int e = 0; e < 5; e++) c.lg[4 * 5 + e] = 0.25f; /* row 4: a five-way tie */
  int served[5];
  CU_ASSERT(run_case(&c, served) < 1e-5);
  c.k = 3, c.normalize = 0, c.cap = 6, c.ndrop = 2, c.act = MIXC_MOE_RELU;
  CU_ASSERT(run_case(&c, served) < 1e-5);
  c.k = 1, c.cap = 0, c.ndrop = 0;
  for (int r = 0; r < 13; r++) c.lg[r * 5 + 4] = -1000.0f;
  CU_ASSERT(run_case(&c, served) < 1e-5);
  CU_ASSERT_EQUAL(served[4], 0);
  CU_ASSERT_EQUAL(served[0] + served[1] + served[2] + served[3], 13);
  /* the same routing from the gate GEMV and from its logits */
  c.k = 2, c.normalize = 1, c.act = MIXC_MOE_SILU;
  c.bg = fill(5, 0.5f);
  for (int r = 0; r < 13; r++)
    for (int e = 0; e < 5; e++) {
      float l = c.bg[e];
      for (int i = 0; i < c.d; i++) l += c.x[r * c.d + i] * c.wg[i * 5 + e];
      c.lg[r * 5 + e] = l;
    }
  float yl[13 * 6], yg[13 * 6];
  CU_ASSERT(run_case_y(&c, served, yl) < 1e-5);
  float *lg = c.lg;
  c.lg = NULL;
  CU_ASSERT(run_case_y(&c, served, yg) < 1e-5);
  c.lg = lg;
  double diff = 0;
  for (int i = 0; i < 13 * 6; i++) diff = fmax(diff, fabs((double)yl[i] - yg[i]));
  CU_ASSERT(diff < 1e-5);
  release(&c);
}

/* ---- per-image routing (group > 1) ---------------------------------------------- */
/* Naive per-image MoE: p = softmax(mean_t(x) . W_g + b), top-k per image (ties
 * to the lower expert), y_t = sum over chosen e of p_e * expert_e(x_t). */
static void image_reference(const moe_case *c, int G, double *y, int *chosen_imgs) {
  int B = c->rows / G, d = c->d, h = c->h, E = c->E, k = c->k;
  double *mean = calloc((size_t)d, sizeof(double)), *p = calloc((size_t)E, sizeof(double));
  double *hid = calloc((size_t)h, sizeof(double));
  for (int e = 0; e < E; e++) chosen_imgs[e] = 0;
  for (int i = 0; i < c->rows * d; i++) y[i] = 0;
  for (int b = 0; b < B; b++) {
    for (int j = 0; j < d; j++) {
      mean[j] = 0;
      for (int t = 0; t < G; t++) mean[j] += c->x[(b * G + t) * d + j];
      mean[j] /= G;
    }
    double mx = -1e300, sum = 0;
    for (int e = 0; e < E; e++) {
      p[e] = c->bg ? c->bg[e] : 0;
      for (int j = 0; j < d; j++) p[e] += mean[j] * c->wg[j * E + e];
      mx = p[e] > mx ? p[e] : mx;
    }
    for (int e = 0; e < E; e++) sum += p[e] = exp(p[e] - mx);
    int taken[16] = {0};
    for (int q = 0; q < k; q++) {
      int best = -1;
      for (int e = 0; e < E; e++)
        if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
      taken[best] = 1;
      chosen_imgs[best]++;
      double w = p[best] / sum;
      for (int t = 0; t < G; t++) {
        const float *xt = c->x + (b * G + t) * d;
        for (int i = 0; i < h; i++) {
          double a = c->b1[best * h + i];
          for (int j = 0; j < d; j++) a += xt[j] * c->w1[(best * d + j) * h + i];
          hid[i] = act_d(c->act, a);
        }
        for (int j = 0; j < d; j++) {
          double a = c->b2[best * d + j];
          for (int i = 0; i < h; i++) a += hid[i] * c->w2[(best * h + i) * d + j];
          y[(b * G + t) * d + j] += w * a;
        }
      }
    }
  }
  free(mean), free(p), free(hid);
}

static double run_image_case(const moe_case *c, int G, int *chosen_imgs) {
  mixc_moe_fused_params p;
  memset(&p, 0, sizeof p);
  p.rows = c->rows, p.d = c->d, p.h = c->h, p.E = c->E, p.k = c->k, p.group = G;
  p.act = c->act;
  size_t sb = (size_t)mixc_moe_scratch_bytes(c->rows / G, G, c->d, c->h, c->E, c->k);
  float *y = malloc(sizeof(float) * (size_t)(c->rows * c->d));
  void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64);
  memset(scratch, 0xcd, sb);
  void *bufs[9] = {c->x, c->wg, c->bg, c->w1, c->b1, c->w2, c->b2, y, scratch};
  rt_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  mixc_k_moe_f32(&ctx, &p, bufs);
  double *ref = malloc(sizeof(double) * (size_t)(c->rows * c->d));
  image_reference(c, G, ref, chosen_imgs);
  double err = 0;
  for (int i = 0; i < c->rows * c->d; i++) {
    double e = fabs(y[i] - ref[i]) / (1.0 + fabs(ref[i]));
    err = e > err ? e : err;
  }
  CU_ASSERT_EQUAL(ctx.status, 0);
  free(y), free(scratch), free(ref);
  return err;
}

/* 24 images of 13 tokens: an expert's rows (images x 13) cross the kernel's
 * 256-row blocks in the middle of an image. Expert 1 is made everybody's first
 * choice, so its GEMMs run over all 312 rows; k=2 then spreads the rest. */
static void test_per_image(void) {
  moe_case c = make(24 * 13, 5, 7, 3, 1);
  c.bg = fill(3, 0.5f);
  int chosen[3];
  CU_ASSERT(run_image_case(&c, 13, chosen) < 1e-5);
  c.k = 2;
  CU_ASSERT(run_image_case(&c, 13, chosen) < 1e-5);
  CU_ASSERT_EQUAL(chosen[0] + chosen[1] + chosen[2], 48);
  c.k = 1, c.bg[1] = 1000.0f;
  CU_ASSERT(run_image_case(&c, 13, chosen) < 1e-5);
  CU_ASSERT_EQUAL(chosen[1], 24);
  c.bg[1] = 0.0f, c.act = MIXC_MOE_RELU;
  CU_ASSERT(run_image_case(&c, 13, chosen) < 1e-5);
  CU_ASSERT(run_image_case(&c, 1, chosen) < 1e-5); /* group 1 is row routing */
  release(&c);
}

/* ---- transposed rows (tcols) ------------------------------------------------------ */
/* Runs the kernel on x (row-major (rows,d), or (rows/tcols, d, tcols) with
 * tcols > 0) with c's weights (packed into gemm.h's panels when `packed`) and
 * the residual res (x's layout) unless NULL; y into y, the routing statistics
 * (E+2 counters) into st. */
static void run_kernel(const moe_case *c, const float *x, int tcols, bool packed, const float *res,
                       float *y, int64_t *st) {
  mixc_moe_fused_params p;
  memset(&p, 0, sizeof p);
  p.rows = c->rows, p.d = c->d, p.h = c->h, p.E = c->E, p.k = c->k, p.group = 1;
  p.ndrop = c->ndrop, p.cap = c->cap, p.act = c->act, p.normalize = c->normalize;
  p.tcols = tcols;
  const float *w1 = c->w1, *w2 = c->w2;
  float *pw1 = NULL, *pw2 = NULL;
  if (packed) {
    int64_t s1 = mixc_gemm_packed_floats(c->h, c->d, MIXC_GEMM_NR);
    int64_t s2 = mixc_gemm_packed_floats(c->d, c->h, MIXC_GEMM_NR);
    pw1 = malloc(sizeof(float) * (size_t)(c->E * s1));
    pw2 = malloc(sizeof(float) * (size_t)(c->E * s2));
    for (int e = 0; e < c->E; e++) {
      mixc_gemm_pack_b(c->d, c->h, c->w1 + e * c->d * c->h, c->h, 1, pw1 + e * s1);
      mixc_gemm_pack_b(c->h, c->d, c->w2 + e * c->h * c->d, c->d, 1, pw2 + e * s2);
    }
    w1 = pw1, w2 = pw2, p.w1_packed = p.w2_packed = 1;
  }
  size_t sb = (size_t)mixc_moe_scratch_bytes(c->rows, 1, c->d, c->h, c->E, c->k);
  void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64);
  memset(scratch, 0xcd, sb);
  void *bufs[10] = {(void *)x, c->wg, c->bg, (void *)w1, c->b1, (void *)w2, c->b2, y, scratch};
  if (res) { /* the residual goes before y */
    p.residual = 1;
    bufs[7] = (void *)res, bufs[8] = y, bufs[9] = scratch;
  }
  memset(st, 0, sizeof(int64_t) * (size_t)(c->E + 2));
  int64_t *table[1] = {st};
  rt_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.stats = table;
  mixc_k_moe_f32(&ctx, &p, bufs);
  CU_ASSERT_EQUAL(ctx.status, 0);
  free(scratch), free(pw1), free(pw2);
}

/* c with x row-major (rows = B*T rows of d); the same rows as columns of a
 * (B, d, T) tensor must route and compute exactly the same. Also checks the
 * row-major y against the naive reference (relative 1e-5). Returns the
 * number of elements of y that differ in any bit. */
static int run_transposed(const moe_case *c, int T, bool packed) {
  int R = c->rows, d = c->d, B = R / T;
  size_t n = (size_t)R * (size_t)d;
  float *xt = malloc(sizeof(float) * n), *yr = malloc(sizeof(float) * n);
  float *yt = malloc(sizeof(float) * n);
  for (int b = 0; b < B; b++)
    for (int q = 0; q < T; q++)
      for (int i = 0; i < d; i++) xt[((size_t)b * d + i) * T + q] = c->x[((size_t)b * T + q) * d + i];
  int64_t sr[260], stt[260];
  run_kernel(c, c->x, 0, packed, NULL, yr, sr);
  run_kernel(c, xt, T, packed, NULL, yt, stt);
  int diff = 0;
  for (int b = 0; b < B; b++)
    for (int q = 0; q < T; q++)
      for (int i = 0; i < d; i++)
        diff += memcmp(&yr[((size_t)b * T + q) * d + i], &yt[((size_t)b * d + i) * T + q],
                       sizeof(float)) != 0;
  CU_ASSERT(memcmp(sr, stt, sizeof(int64_t) * (size_t)(c->E + 2)) == 0);
  double *ref = malloc(sizeof(double) * n);
  int *served = malloc(sizeof(int) * (size_t)c->E);
  reference(c, ref, served);
  double err = 0;
  for (size_t i = 0; i < n; i++) err = fmax(err, fabs(yr[i] - ref[i]) / (1.0 + fabs(ref[i])));
  CU_ASSERT(err < 1e-5);
  for (int e = 0; e < c->E; e++) CU_ASSERT_EQUAL(sr[e], served[e]);
  free(xt), free(yr), free(yt), free(ref), free(served);
  return diff;
}

/* 3 images of T = 37 columns (not a multiple of 16; router chunks end at each
 * image's end), with two identical columns in image 1 (equal scores) and
 * importance dropping around them; k=2 with choice-major capacity,
 * renormalized; a router bias. */
static void test_transposed_routing(void) {
  moe_case c = make(3 * 37, 6, 10, 4, 1);
  memcpy(c.x + (37 + 20) * 6, c.x + (37 + 5) * 6, sizeof(float) * 6); /* rows 42 and 57 tie */
  static const int drops[] = {0, 1, 5, 11, 30, 110};
  for (int i = 0; i < 6; i++) {
    c.ndrop = drops[i];
    CU_ASSERT_EQUAL(run_transposed(&c, 37, false), 0);
  }
  c.k = 2, c.cap = 20, c.ndrop = 11, c.normalize = 1, c.act = MIXC_MOE_GELU_TANH;
  CU_ASSERT_EQUAL(run_transposed(&c, 37, false), 0);
  c.bg = fill(4, 0.5f), c.cap = 7, c.act = MIXC_MOE_RELU;
  CU_ASSERT_EQUAL(run_transposed(&c, 37, true), 0);
  c.k = 4, c.cap = 0, c.ndrop = 0; /* every expert */
  CU_ASSERT_EQUAL(run_transposed(&c, 37, true), 0);
  release(&c);
}

/* Sizes: expert lists longer than a 256-row block (T = 300 > the router's 64-
 * row chunks), packed weights; h > the GEMM's 1024-long k-run (fc2 sums in
 * two runs); h = 1 with E = 200 (too little scratch for the router's chunks:
 * the strided per-row GEMV); B = 1. */
static void test_transposed_sizes(void) {
  moe_case c = make(2 * 300, 20, 24, 2, 2);
  c.cap = 280, c.ndrop = 30;
  CU_ASSERT_EQUAL(run_transposed(&c, 300, true), 0);
  c.cap = 0, c.k = 1, c.ndrop = 0;
  CU_ASSERT_EQUAL(run_transposed(&c, 600, false), 0); /* B = 1 */
  release(&c);
  c = make(2 * 7, 5, 1030, 2, 1);
  c.ndrop = 1;
  CU_ASSERT_EQUAL(run_transposed(&c, 7, true), 0);
  release(&c);
  c = make(2 * 9, 3, 1, 200, 1);
  c.ndrop = 2;
  CU_ASSERT_EQUAL(run_transposed(&c, 9, false), 0);
  release(&c);
}

/* A top-1 layer with a residual R gives exactly y + R, y its output without
 * (fuse-epilogue's promise), row-major and transposed, with dropped rows
 * (they get R) and an expert list across blocks. */
static void test_residual(void) {
  moe_case c = make(2 * 150, 6, 10, 2, 1);
  c.ndrop = 20;
  free(c.bg);
  c.bg = fill(2, 0.0f);
  c.bg[0] = 8.0f; /* most rows choose expert 0: more than a block */
  size_t n = (size_t)c.rows * (size_t)c.d;
  float *res = fill((int)n, 2.0f), *y = malloc(sizeof(float) * n), *yr = malloc(sizeof(float) * n);
  int64_t st[4];
  for (int T = 0; T <= 300; T += 300) { /* x is read as (rows, d), then as (1, d, 300) */
    run_kernel(&c, c.x, T, T > 0, NULL, y, st);
    run_kernel(&c, c.x, T, T > 0, res, yr, st);
    CU_ASSERT(st[0] > 256 && st[3] == 20); /* a list across blocks; dropped rows */
    int diff = 0;
    for (size_t i = 0; i < n; i++) {
      float want = y[i] + res[i];
      diff += memcmp(&yr[i], &want, sizeof(float)) != 0;
    }
    CU_ASSERT_EQUAL(diff, 0);
  }
  free(res), free(y), free(yr);
  release(&c);
}

/* ---- Soft MoE ----------------------------------------------------------------------- */
static void soft_reference(int B, int m, int d, int n, int P, int h, float eps, const float *x,
                           const float *phi, const float *w1, const float *b1, const float *w2,
                           const float *b2, double *y) {
  int S = n * P;
  double *L = malloc(sizeof(double) * (size_t)(m * S)), *D = malloc(sizeof(double) * (size_t)(m * S));
  double *C = malloc(sizeof(double) * (size_t)(m * S)), *slot = malloc(sizeof(double) * (size_t)(S * d));
  double *ys = malloc(sizeof(double) * (size_t)(S * d)), *hid = malloc(sizeof(double) * (size_t)h);
  for (int b = 0; b < B; b++) {
    const float *xb = x + b * m * d;
    for (int t = 0; t < m; t++) {
      double ss = 0;
      for (int i = 0; i < d; i++) ss += (double)xb[t * d + i] * xb[t * d + i];
      double inv = 1.0 / sqrt(ss + eps);
      for (int s = 0; s < S; s++) {
        double a = 0;
        for (int i = 0; i < d; i++) a += xb[t * d + i] * inv * phi[i * S + s];
        L[t * S + s] = a;
      }
    }
    for (int s = 0; s < S; s++) { /* dispatch: softmax over tokens */
      double mx = -1e300, sum = 0;
      for (int t = 0; t < m; t++) mx = L[t * S + s] > mx ? L[t * S + s] : mx;
      for (int t = 0; t < m; t++) sum += D[t * S + s] = exp(L[t * S + s] - mx);
      for (int t = 0; t < m; t++) D[t * S + s] /= sum;
    }
    for (int t = 0; t < m; t++) { /* combine: softmax over slots */
      double mx = -1e300, sum = 0;
      for (int s = 0; s < S; s++) mx = L[t * S + s] > mx ? L[t * S + s] : mx;
      for (int s = 0; s < S; s++) sum += C[t * S + s] = exp(L[t * S + s] - mx);
      for (int s = 0; s < S; s++) C[t * S + s] /= sum;
    }
    for (int s = 0; s < S; s++)
      for (int i = 0; i < d; i++) {
        double a = 0;
        for (int t = 0; t < m; t++) a += D[t * S + s] * xb[t * d + i];
        slot[s * d + i] = a;
      }
    for (int s = 0; s < S; s++) {
      int e = s / P;
      for (int j = 0; j < h; j++) {
        double a = b1 ? b1[e * h + j] : 0;
        for (int i = 0; i < d; i++) a += slot[s * d + i] * w1[(e * d + i) * h + j];
        hid[j] = act_d(MIXC_MOE_GELU_ERF, a);
      }
      for (int i = 0; i < d; i++) {
        double a = b2 ? b2[e * d + i] : 0;
        for (int j = 0; j < h; j++) a += hid[j] * w2[(e * h + j) * d + i];
        ys[s * d + i] = a;
      }
    }
    for (int t = 0; t < m; t++)
      for (int i = 0; i < d; i++) {
        double a = 0;
        for (int s = 0; s < S; s++) a += C[t * S + s] * ys[s * d + i];
        y[(b * m + t) * d + i] = a;
      }
  }
  free(L), free(D), free(C), free(slot), free(ys), free(hid);
}

static double run_soft(int B, int m, int d, int n, int P, int h, bool bias, float phi_scale) {
  int S = n * P;
  float *x = fill(B * m * d, 2.0f), *phi = fill(d * S, phi_scale), *w1 = fill(n * d * h, 0.5f);
  float *w2 = fill(n * h * d, 0.5f), *b1 = bias ? fill(n * h, 0.1f) : NULL;
  float *b2 = bias ? fill(n * d, 0.1f) : NULL;
  mixc_moe_soft_params p = {B, m, d, n, P, h, 1e-6f, MIXC_MOE_GELU_ERF};
  size_t sb = (size_t)mixc_moe_soft_scratch_bytes(B, m, d, n, P, h);
  float *y = malloc(sizeof(float) * (size_t)(B * m * d));
  void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64);
  memset(scratch, 0xcd, sb);
  void *bufs[8] = {x, phi, w1, b1, w2, b2, y, scratch};
  rt_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  mixc_k_moe_soft_f32(&ctx, &p, bufs);
  double *ref = malloc(sizeof(double) * (size_t)(B * m * d));
  soft_reference(B, m, d, n, P, h, 1e-6f, x, phi, w1, b1, w2, b2, ref);
  double err = 0;
  for (int i = 0; i < B * m * d; i++) {
    double e = fabs(y[i] - ref[i]) / (1.0 + fabs(ref[i]));
    err = e > err ? e : err;
  }
  CU_ASSERT_EQUAL(ctx.status, 0);
  free(x), free(phi), free(w1), free(w2), free(b1), free(b2), free(y), free(scratch), free(ref);
  return err;
}

static void test_soft_moe(void) {
  CU_ASSERT(run_soft(2, 16, 24, 4, 2, 48, true, 1.0f) < 1e-5);
  CU_ASSERT(run_soft(3, 7, 5, 3, 3, 6, false, 1.0f) < 1e-5);
  /* sharp logits (a large learned scale): the softmaxes must stay stable */
  CU_ASSERT(run_soft(1, 9, 8, 2, 1, 4, true, 40.0f) < 1e-4);
}

void moe_suite_register(void) {
  CU_pSuite s = CU_add_suite("moe", NULL, NULL);
  CU_add_test(s, "k=1", test_k1_basic);
  CU_add_test(s, "k=2, renormalized, gelu_tanh, silu", test_k2_normalize_tanh);
  CU_add_test(s, "top-k ties go to the lower expert", test_ties);
  CU_add_test(s, "expert with no rows, with all rows, capacity overflow", test_empty_full_capacity);
  CU_add_test(s, "choice-major capacity with k=2", test_capacity_choice_major);
  CU_add_test(s, "importance dropping with a tie", test_importance_drop);
  CU_add_test(s, "router logits in place of the gate GEMV", test_logits);
  CU_add_test(s, "per-image routing, groups across row blocks", test_per_image);
  CU_add_test(s, "transposed rows: routing bit-identical to row-major", test_transposed_routing);
  CU_add_test(s, "transposed rows: blocks, long h, router fallback", test_transposed_sizes);
  CU_add_test(s, "top-1 with a residual: y + R exactly", test_residual);
  CU_add_test(s, "Soft MoE against a naive reference", test_soft_moe);
}
