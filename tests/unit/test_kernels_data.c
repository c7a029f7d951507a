/* test_kernels_data.c - unit tests of backend/lower_data.c and the kernels in
 * runtime/kernels/{gemm,data,data_index,data_nn}.c: small graphs written in
 * the .mir text format are parsed, shape-inferred, lowered with be_lower and
 * run with be_interp_run on 64-byte aligned buffers, and their outputs are
 * compared with references computed here (naive loops in double precision)
 * under explicit tolerances. Covers the GEMM at awkward sizes, transposes,
 * alpha/beta and broadcasting, Einsum (GEMM patterns and the general kernel),
 * Conv (direct and through the GEMM), pools, TopK ties, OneHot, Gather and
 * Scatter (with run-time range failures), Slice with negative steps, Pad modes,
 * Transpose, and com.microsoft.MoE against a naive reference.
 *
 * Requires: CUnit; registered by kernels_data_suite_register() from main.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/be.h"
#include "runtime/kernels/gemm.h"
#include "runtime/rt.h"

/* ---- harness -------------------------------------------------------------------- */

static char g_msg[4096]; /* the diagnostics or the run-time failure of the last run */
static char g_kernels[1024]; /* the kernels the last program called, space-separated */

static void diags_to_msg(const ir_diags *d) {
  ir_arena *a = ir_arena_new();
  size_t k = 0;
  g_msg[0] = 0;
  for (const ir_diag *x = d->head; x && k < sizeof g_msg - 2; x = x->next) {
    int w = snprintf(g_msg + k, sizeof g_msg - k, "%s\n", ir_diag_format(a, x));
    if (w > 0) k += (size_t)w;
  }
  ir_arena_free(a);
}

static void *alloc64(size_t n) {
  size_t r = (n + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, r ? r : 64);
  if (!p) abort(); /* a test's own buffers: out of memory ends the test run */
  return p;
}

/* Parses, infers, lowers and runs `mir`. Returns 0 on success (outputs copied
 * to outs), the run status when a kernel failed (message in g_msg), or -1
 * when the text did not parse, infer or lower (diagnostics in g_msg). */
static int run_mir(const char *mir, int nin, const void *const *ins, int nout, void *const *outs) {
  ir_diags *d = ir_diags_new();
  g_msg[0] = 0;
  ir_graph *g = ir_parse(mir, strlen(mir), "t.mir", d);
  if (!g) {
    diags_to_msg(d);
    ir_diags_free(d);
    return -1;
  }
  ir_ctx cx = {g, d, ir_arena_new()};
  be_program *p = ir_infer_graph(&cx) ? be_lower(&cx) : NULL;
  int rc = -1;
  if (!p) {
    diags_to_msg(d);
    goto done;
  }
  g_kernels[0] = 0;
  for (int i = 0; i < p->ncalls; i++) {
    size_t k = strlen(g_kernels);
    snprintf(g_kernels + k, sizeof g_kernels - k, "%s ", p->calls[i].kernel);
  }
  CU_ASSERT_EQUAL_FATAL(p->ninputs, nin);
  CU_ASSERT_EQUAL_FATAL(p->noutputs, nout);
  void *ib[16], *ob[16];
  for (int i = 0; i < nin; i++) {
    ib[i] = alloc64(p->inputs[i].nbytes);
    memcpy(ib[i], ins[i], p->inputs[i].nbytes);
  }
  for (int i = 0; i < nout; i++) {
    ob[i] = alloc64(p->outputs[i].nbytes);
    memset(ob[i], 0xff, p->outputs[i].nbytes); /* NaN: unwritten elements show */
  }
  void *arena = alloc64(p->arena_size);
  rt_ctx rt;
  memset(&rt, 0, sizeof rt);
  rc = be_interp_run(p, &rt, ib, ob, arena);
  if (rc) snprintf(g_msg, sizeof g_msg, "%s", rt.msg);
  else
    for (int i = 0; i < nout; i++) memcpy(outs[i], ob[i], p->outputs[i].nbytes);
  /* The JIT (kernel bitcode specialized to the shapes) must agree bit for bit,
   * and fail the same way. */
  be_jit *j = be_jit_compile(p, d);
  CU_ASSERT_PTR_NOT_NULL(j);
  if (!j) {
    diags_to_msg(d);
    fprintf(stderr, "\nJIT failed: %s\nfor:\n%s\n", g_msg, mir);
  } else {
    const rt_model_desc *m = be_jit_desc(j);
    for (int i = 0; i < nout; i++) memset(ob[i], 0xff, p->outputs[i].nbytes);
    rt_ctx jc;
    memset(&jc, 0, sizeof jc);
    int jrc = m->entry(&jc, ib, ob, arena);
    CU_ASSERT_EQUAL(jrc != 0, rc != 0);
    if (rc) CU_ASSERT_STRING_EQUAL(jc.msg, rt.msg);
    for (int i = 0; !rc && !jrc && i < nout; i++)
      if (memcmp(outs[i], ob[i], p->outputs[i].nbytes)) {
        fprintf(stderr, "\nJIT output %d differs from the interpreter's for:\n%s\n", i, mir);
        CU_FAIL("JIT and interpreter differ");
      }
    be_jit_free(j);
  }
  for (int i = 0; i < nin; i++) free(ib[i]);
  for (int i = 0; i < nout; i++) free(ob[i]);
  free(arena);
  be_program_free(p);
done:
  ir_arena_free(cx.scratch);
  ir_graph_free(g);
  ir_diags_free(d);
  return rc;
}

/* run_mir expecting success with one input list and one output */
static bool run_ok(const char *mir, int nin, const void *const *ins, int nout, void *const *outs) {
  int rc = run_mir(mir, nin, ins, nout, outs);
  if (rc) fprintf(stderr, "\nrun failed (%d): %s\nfor:\n%s\n", rc, g_msg, mir);
  CU_ASSERT_EQUAL(rc, 0);
  return rc == 0;
}

static uint32_t g_seed = 12345;
static float frand(void) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}
static float *rand_buf(size_t n) {
  float *p = malloc(n * sizeof(float) + 4);
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

/* |got - want| <= tol * (1 + |want|) everywhere */
static bool close_f(const float *got, const double *want, size_t n, double tol, const char *what) {
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)got[i] - want[i]);
    if (!(e <= tol * (1.0 + fabs(want[i])))) {
      fprintf(stderr, "\n%s: element %zu is %.7g, expected %.7g\n", what, i, got[i], want[i]);
      CU_FAIL("values differ");
      return false;
    }
  }
  CU_PASS("close");
  return true;
}

static bool same_f(const float *got, const float *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&got[i], &want[i], 4)) {
      fprintf(stderr, "\n%s: element %zu is %g, expected %g\n", what, i, got[i], want[i]);
      CU_FAIL("values differ");
      return false;
    }
  return true;
}

static bool same_i64(const int64_t *got, const int64_t *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i]) {
      fprintf(stderr, "\n%s: element %zu is %lld, expected %lld\n", what, i, (long long)got[i],
              (long long)want[i]);
      CU_FAIL("values differ");
      return false;
    }
  return true;
}

#define HDR "graph \"t\" {\n  opset \"\" 17\n"

/* ---- GEMM: MatMul and Gemm against a naive triple loop ------------------------------ */

static void matmul_case(int M, int K, int N) {
  char mir[512];
  snprintf(mir, sizeof mir,
           HDR "  input %%a : f32[%d,%d]\n  input %%b : f32[%d,%d]\n"
               "  %%y : ?[*] = MatMul(%%a, %%b)\n  output %%y\n}\n",
           M, K, K, N);
  float *a = rand_buf((size_t)M * K), *b = rand_buf((size_t)K * N), *y = malloc(sizeof(float) * M * N);
  double *want = calloc((size_t)M * N, sizeof(double));
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++)
      for (int k = 0; k < K; k++) want[m * N + n] += (double)a[m * K + k] * b[k * N + n];
  const void *ins[] = {a, b};
  void *outs[] = {y};
  char what[64];
  snprintf(what, sizeof what, "MatMul %dx%dx%d", M, K, N);
  if (run_ok(mir, 2, ins, 1, outs)) close_f(y, want, (size_t)M * N, 1e-5 * sqrt(K), what);
  free(a), free(b), free(y), free(want);
}

static void test_gemm_sizes(void) {
  matmul_case(1, 1, 1);
  matmul_case(7, 13, 5);
  matmul_case(65, 129, 33);
  matmul_case(196, 64, 128);
  matmul_case(3, 600, 70);  /* K past one cache block, N past one panel block */
  matmul_case(1, 300, 257);
  matmul_case(5, 0, 3);     /* empty sum: zeros */
}

/* The engine directly, on weights packed as the backend packs constants: K
 * past two k-runs (so tasks take more than NC columns, gemm_cols), N with a
 * partial panel, M of 9 row blocks, a bias and a residual. The output must
 * be within 1e-5 * sqrt(K) of a naive loop, and bit-identical to the same GEMM
 * on the unpacked B (NC-wide tasks that pack their own panels) and to runs on
 * 2 and 3 threads. */
static void test_gemm_packed_wide(void) {
  enum { M = 2100, K = 1100, N = 230 };
  float *a = rand_buf((size_t)M * K), *b = rand_buf((size_t)K * N), *bias = rand_buf(N);
  float *r = rand_buf((size_t)M * N);
  float *bp = alloc64(sizeof(float) * (size_t)mixc_gemm_packed_floats(N, K, MIXC_GEMM_NR));
  float *y[4];
  mixc_gemm_pack_b(K, N, b, N, 1, bp);
  for (int v = 0; v < 4; v++) { /* unpacked; packed on 1, 2, 3 threads */
    y[v] = alloc64(sizeof(float) * M * N);
    mixc_gemm_params g;
    mixc_gemm_plain(&g, M, K, N, K, 1, N, v > 0);
    mixc_gemm_ops o = {.A = a, .B = v > 0 ? bp : b, .bias = bias, .R = r, .Y = y[v]};
    g.r_sm = N, g.r_sn = 1;
    rt_ctx ctx = {0};
    ctx.pool = v > 1 ? rt_pool_create(v) : NULL;
    mixc_gemm_f32_run(&ctx, &g, &o);
    rt_pool_free(ctx.pool);
  }
  double *want = calloc((size_t)M * N, sizeof(double));
  for (int m = 0; m < M; m++)
    for (int k = 0; k < K; k++)
      for (int n = 0; n < N; n++) want[m * N + n] += (double)a[m * K + k] * b[k * N + n];
  for (int i = 0; i < M * N; i++) want[i] += (double)bias[i % N] + r[i];
  close_f(y[1], want, (size_t)M * N, 1e-5 * sqrt(K), "packed GEMM 2100x1100x230");
  for (int v = 0; v < 4; v++)
    if (v != 1) same_f(y[v], y[1], (size_t)M * N, v ? "packed GEMM on more threads" : "unpacked GEMM");
  for (int v = 0; v < 4; v++) free(y[v]);
  free(a), free(b), free(bias), free(r), free(bp), free(want);
}

/* Gemm with transposes, alpha/beta and C of shape cshape ("" for none) */
static void gemm_case(int M, int K, int N, int ta, int tb, float alpha, float beta, const char *cshape) {
  char mir[768], cdecl[96] = "", cuse[16] = "";
  int cm = 0, cn = 0; /* C dims: 0 = absent dim (rank below) */
  int crank = 0;
  if (!strcmp(cshape, "MN")) cm = M, cn = N, crank = 2;
  else if (!strcmp(cshape, "N")) cn = N, crank = 1;
  else if (!strcmp(cshape, "M1")) cm = M, cn = 1, crank = 2;
  else if (!strcmp(cshape, "1N")) cm = 1, cn = N, crank = 2;
  else if (!strcmp(cshape, "s")) crank = 0;
  bool hasc = cshape[0] != 0;
  if (hasc) {
    if (crank == 2) snprintf(cdecl, sizeof cdecl, "  input %%c : f32[%d,%d]\n", cm, cn);
    else if (crank == 1) snprintf(cdecl, sizeof cdecl, "  input %%c : f32[%d]\n", cn);
    else snprintf(cdecl, sizeof cdecl, "  input %%c : f32[]\n");
    strcpy(cuse, ", %c");
  }
  snprintf(mir, sizeof mir,
           HDR "  input %%a : f32[%d,%d]\n  input %%b : f32[%d,%d]\n%s"
               "  %%y : ?[*] = Gemm(%%a, %%b%s) {alpha = %.1f, beta = %.1f, transA = %d, transB = %d}\n"
               "  output %%y\n}\n",
           ta ? K : M, ta ? M : K, tb ? N : K, tb ? K : N, cdecl, cuse, (double)alpha, (double)beta, ta, tb);
  float *a = rand_buf((size_t)M * K), *b = rand_buf((size_t)K * N), *c = rand_buf((size_t)(M + 1) * (N + 1));
  float *y = malloc(sizeof(float) * M * N);
  double *want = calloc((size_t)M * N, sizeof(double));
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += (double)(ta ? a[k * M + m] : a[m * K + k]) * (tb ? b[n * K + k] : b[k * N + n]);
      double cv = 0;
      if (hasc) {
        if (crank == 0) cv = c[0];
        else if (crank == 1) cv = c[n];
        else cv = c[(cm == 1 ? 0 : m) * cn + (cn == 1 ? 0 : n)];
      }
      want[m * N + n] = alpha * s + beta * cv;
    }
  const void *ins[] = {a, b, c};
  void *outs[] = {y};
  char what[96];
  snprintf(what, sizeof what, "Gemm %dx%dx%d tA=%d tB=%d C=%s", M, K, N, ta, tb, cshape);
  if (run_ok(mir, hasc ? 3 : 2, ins, 1, outs)) close_f(y, want, (size_t)M * N, 1e-5 * sqrt(K + 1), what);
  free(a), free(b), free(c), free(y), free(want);
}

static void test_gemm_trans_alpha_beta(void) {
  gemm_case(7, 13, 5, 0, 0, 1.0f, 1.0f, "");
  gemm_case(7, 13, 5, 1, 0, 1.0f, 1.0f, "");
  gemm_case(7, 13, 5, 0, 1, 1.0f, 1.0f, "");
  gemm_case(65, 129, 33, 1, 1, 0.5f, 2.0f, "MN");
  gemm_case(33, 70, 40, 0, 1, 2.0f, 0.5f, "N");
  gemm_case(20, 17, 19, 1, 0, -1.0f, 3.0f, "M1");
  gemm_case(20, 17, 19, 0, 0, 1.0f, 1.0f, "1N");
  gemm_case(4, 3, 18, 0, 0, 1.5f, -0.5f, "s");
  gemm_case(300, 20, 10, 0, 1, 1.0f, 1.0f, "N");
}

/* Batched MatMul with broadcasting and 1-D operands: shapes as text, reference by
 * numpy rules written out for rank <= 4. */
static void bmm_case(const char *as, const char *bs) {
  int ad[4], bd[4], ra = 0, rb = 0;
  for (const char *p = as; *p;) ad[ra++] = (int)strtol(p, (char **)&p, 10), p += *p == ',';
  for (const char *p = bs; *p;) bd[rb++] = (int)strtol(p, (char **)&p, 10), p += *p == ',';
  /* promote */
  int A[4], B[4], na = 0, nb = 0;
  int M = ra == 1 ? 1 : ad[ra - 2], K = ad[ra - 1], N = rb == 1 ? 1 : bd[rb - 1];
  for (int i = 0; i < ra - 2; i++) A[na++] = ad[i];
  for (int i = 0; i < rb - 2; i++) B[nb++] = bd[i];
  int nbat = na > nb ? na : nb, bat[4];
  for (int i = 0; i < nbat; i++) {
    int x = i - (nbat - na) >= 0 ? A[i - (nbat - na)] : 1, y = i - (nbat - nb) >= 0 ? B[i - (nbat - nb)] : 1;
    bat[i] = x > y ? x : y;
  }
  size_t na_el = 1, nb_el = 1, ny = (size_t)M * N;
  for (int i = 0; i < ra; i++) na_el *= ad[i];
  for (int i = 0; i < rb; i++) nb_el *= bd[i];
  for (int i = 0; i < nbat; i++) ny *= bat[i];
  float *a = rand_buf(na_el), *b = rand_buf(nb_el), *y = malloc(ny * sizeof(float) + 4);
  double *want = calloc(ny, sizeof(double));
  size_t nbt = ny / ((size_t)M * N);
  for (size_t t = 0; t < nbt; t++) {
    size_t rem = t, ao = 0, bo = 0, astr = (size_t)M * K, bstr = (size_t)K * N;
    for (int i = nbat - 1; i >= 0; i--) {
      size_t idx = rem % bat[i];
      rem /= bat[i];
      int ai = i - (nbat - na), bi = i - (nbat - nb);
      if (ai >= 0) ao += (A[ai] == 1 ? 0 : idx) * astr, astr *= A[ai];
      if (bi >= 0) bo += (B[bi] == 1 ? 0 : idx) * bstr, bstr *= B[bi];
    }
    for (int m = 0; m < M; m++)
      for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += (double)a[ao + m * K + k] * b[bo + k * N + n];
        want[t * M * N + m * N + n] = s;
      }
  }
  char mir[512];
  snprintf(mir, sizeof mir,
           HDR "  input %%a : f32[%s]\n  input %%b : f32[%s]\n  %%y : ?[*] = MatMul(%%a, %%b)\n"
               "  output %%y\n}\n", as, bs);
  const void *ins[] = {a, b};
  void *outs[] = {y};
  char what[64];
  snprintf(what, sizeof what, "MatMul [%s] x [%s]", as, bs);
  if (run_ok(mir, 2, ins, 1, outs)) close_f(y, want, ny, 1e-5 * sqrt(K), what);
  free(a), free(b), free(y), free(want);
}

static void test_matmul_batched(void) {
  bmm_case("2,1,5,7", "3,7,4");
  bmm_case("3,5,7", "7,4");
  bmm_case("5,7", "3,7,4");
  bmm_case("2,3,5,7", "2,3,7,6");
  bmm_case("7", "7,4");
  bmm_case("2,5,7", "7");
  bmm_case("7", "3,7,4");
  bmm_case("9", "9");
  bmm_case("4,1,3,2", "1,5,2,3");
}

static void test_matmul_f64(void) {
  const char *mir = HDR "  input %a : f64[3,4]\n  input %b : f64[2,4,5]\n"
                        "  %y : ?[*] = MatMul(%a, %b)\n  output %y\n}\n";
  double a[12], b[40], y[30], want[30] = {0};
  for (int i = 0; i < 12; i++) a[i] = frand();
  for (int i = 0; i < 40; i++) b[i] = frand();
  for (int t = 0; t < 2; t++)
    for (int m = 0; m < 3; m++)
      for (int n = 0; n < 5; n++)
        for (int k = 0; k < 4; k++) want[t * 15 + m * 5 + n] += a[m * 4 + k] * b[t * 20 + k * 5 + n];
  const void *ins[] = {a, b};
  void *outs[] = {y};
  if (run_ok(mir, 2, ins, 1, outs))
    for (int i = 0; i < 30; i++) CU_ASSERT_DOUBLE_EQUAL(y[i], want[i], 1e-12);
  const char *bad = HDR "  input %a : i32[3,4]\n  input %b : i32[4,5]\n"
                        "  %y : ?[*] = MatMul(%a, %b)\n  output %y\n}\n";
  CU_ASSERT_EQUAL(run_mir(bad, 0, NULL, 0, NULL), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "unsupported dtype i32 for MatMul"));
}

/* ---- Einsum ------------------------------------------------------------------------------ */

/* Reference for letter-only equations with an explicit output: loops over
 * every assignment of the labels. */
static void ref_einsum(const char *eq, int nops, float *const *op, int (*dims)[8], double *out,
                       size_t nout) {
  int size[128] = {0};
  char labels[64];
  int nl = 0;
  const char *arrow = strstr(eq, "->");
  int t = 0, j = 0;
  for (const char *p = eq; p < arrow; p++) {
    if (*p == ',') {
      t++, j = 0;
      continue;
    }
    size[(int)*p] = dims[t][j++];
    if (!memchr(labels, *p, (size_t)nl)) labels[nl++] = *p;
  }
  memset(out, 0, nout * sizeof(double));
  int val[128] = {0};
  for (;;) {
    double prodv = 1;
    t = 0;
    size_t off = 0;
    for (const char *p = eq; p <= arrow; p++) {
      if (*p == ',' || p == arrow) {
        prodv *= op[t][off];
        t++, off = 0;
        continue;
      }
      off = off * size[(int)*p] + val[(int)*p];
    }
    size_t o = 0;
    for (const char *p = arrow + 2; *p; p++) o = o * size[(int)*p] + val[(int)*p];
    out[o] += prodv;
    int k = nl - 1;
    for (; k >= 0; k--) {
      if (++val[(int)labels[k]] < size[(int)labels[k]]) break;
      val[(int)labels[k]] = 0;
    }
    if (k < 0) break;
  }
  (void)nops;
}

/* shapes: "2,3,4;2,4,5" */
static void einsum_case(const char *eq, const char *shapes, const char *kernel) {
  int dims[3][8], rank[3] = {0}, nops = 0;
  size_t nel[3];
  for (const char *p = shapes; *p; nops++) {
    nel[nops] = 1;
    while (*p && *p != ';') {
      int v = (int)strtol(p, (char **)&p, 10);
      dims[nops][rank[nops]++] = v;
      nel[nops] *= v;
      if (*p == ',') p++;
    }
    if (*p == ';') p++;
  }
  float *op[3];
  for (int i = 0; i < nops; i++) op[i] = rand_buf(nel[i]);
  /* output size */
  const char *rhs = strstr(eq, "->") + 2;
  size_t ny = 1;
  for (const char *q = rhs; *q; q++) {
    int sz = 0, t = 0, j = 0;
    for (const char *p = eq; p < rhs - 2; p++) {
      if (*p == ',') t++, j = 0;
      else {
        if (*p == *q) sz = dims[t][j];
        j++;
      }
    }
    ny *= sz;
  }
  double *want = malloc(ny * sizeof(double) + 8);
  ref_einsum(eq, nops, op, dims, want, ny);
  char mir[1024], decl[512] = "", use[64] = "";
  size_t k = 0, u = 0;
  for (int i = 0; i < nops; i++) {
    k += (size_t)snprintf(decl + k, sizeof decl - k, "  input %%x%d : f32[", i);
    for (int j = 0; j < rank[i]; j++) k += (size_t)snprintf(decl + k, sizeof decl - k, "%s%d", j ? "," : "", dims[i][j]);
    k += (size_t)snprintf(decl + k, sizeof decl - k, "]\n");
    u += (size_t)snprintf(use + u, sizeof use - u, "%s%%x%d", i ? ", " : "", i);
  }
  snprintf(mir, sizeof mir, HDR "%s  %%y : ?[*] = Einsum(%s) {equation = \"%s\"}\n  output %%y\n}\n", decl, use, eq);
  float *y = malloc(ny * sizeof(float) + 4);
  const void *ins[] = {op[0], op[1], op[2]};
  void *outs[] = {y};
  if (run_ok(mir, nops, ins, 1, outs)) {
    close_f(y, want, ny, 1e-5 * 8, eq);
    if (!strstr(g_kernels, kernel)) fprintf(stderr, "\n%s ran %s, expected %s\n", eq, g_kernels, kernel);
    CU_ASSERT_PTR_NOT_NULL(strstr(g_kernels, kernel));
  }
  for (int i = 0; i < nops; i++) free(op[i]);
  free(y), free(want);
}

static void test_einsum(void) {
  einsum_case("bij,bjk->bik", "3,5,7;3,7,4", "mixc_k_gemm_f32");
  einsum_case("ij->ji", "37,45", "mixc_k_strided_copy");
  einsum_case("bsc,cd->bsd", "2,9,16;16,24", "mixc_k_gemm_f32");
  einsum_case("ij,kj->ik", "6,8;5,8", "mixc_k_gemm_f32");
  einsum_case("bij,bkj->bik", "2,6,8;2,5,8", "mixc_k_gemm_f32");
  einsum_case("bhqd,bhkd->bhqk", "2,3,5,4;2,3,6,4", "mixc_k_gemm_f32");
  einsum_case("i,i->", "17;17", "mixc_k_gemm_f32");
  einsum_case("ij,jk,kl->il", "3,4;4,5;5,2", "mixc_k_einsum");
  einsum_case("sc,ds->dc", "12,7;5,12", "mixc_k_gemm_f32");   /* token mixing: output needs the swapped orientation */
  einsum_case("bsc,sd->bdc", "2,12,7;12,5", "mixc_k_gemm_f32");
  einsum_case("ij->", "4,6", "mixc_k_einsum");
  einsum_case("bij->bji", "2,3,4", "mixc_k_strided_copy");
  einsum_case("ec,bsc->bes", "4,8;2,3,8", "mixc_k_gemm_f32");
  einsum_case("ijk,ik->j", "3,4,5;3,5", "mixc_k_gemm_f32");   /* swapped: K = (i,k) contiguous in "ik", a view in "ijk" */
  einsum_case("ij,j->ij", "3,4;4", "mixc_k_gemm_f32");        /* no sum: K = 1, j a batch dim */
  einsum_case("ikj,jli->kl", "3,5,4;4,2,3", "mixc_k_einsum");  /* K (i,j) not contiguous in either */
  einsum_case("ab,bc,c->a", "3,4;4,5;5", "mixc_k_einsum");

  /* diagonal */
  const char *mir = HDR "  input %x : f32[4,4]\n  %y : ?[*] = Einsum(%x) {equation = \"ii->i\"}\n  output %y\n}\n";
  float x[16], y[4];
  for (int i = 0; i < 16; i++) x[i] = (float)i;
  const void *ins[] = {x};
  void *outs[] = {y};
  if (run_ok(mir, 1, ins, 1, outs)) same_f(y, (float[]){0, 5, 10, 15}, 4, "ii->i");
  const char *tr = HDR "  input %x : f32[4,4]\n  %y : ?[*] = Einsum(%x) {equation = \"ii\"}\n  output %y\n}\n";
  if (run_ok(tr, 1, ins, 1, outs)) CU_ASSERT_DOUBLE_EQUAL(y[0], 30.0, 1e-6);

  /* ellipsis with broadcasting batch dims against a batched MatMul reference */
  const char *el = HDR "  input %a : f32[2,3,4,5]\n  input %b : f32[3,5,6]\n"
                       "  %y : ?[*] = Einsum(%a, %b) {equation = \"...ij,...jk->...ik\"}\n  output %y\n}\n";
  float *a = rand_buf(120), *b = rand_buf(90), yy[144];
  double want[144] = {0};
  for (int p = 0; p < 2; p++)
    for (int q = 0; q < 3; q++)
      for (int i = 0; i < 4; i++)
        for (int k = 0; k < 6; k++)
          for (int j = 0; j < 5; j++)
            want[((p * 3 + q) * 4 + i) * 6 + k] += (double)a[((p * 3 + q) * 4 + i) * 5 + j] * b[(q * 5 + j) * 6 + k];
  const void *ins2[] = {a, b};
  void *outs2[] = {yy};
  if (run_ok(el, 2, ins2, 1, outs2)) close_f(yy, want, 144, 1e-5, "...ij,...jk->...ik");
  free(a), free(b);
}

/* ---- Conv ---------------------------------------------------------------------------------- */

typedef struct convcfg {
  int N, C, H, W, M, G, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
  bool bias;
  const char *auto_pad; /* NULL: explicit pads */
} convcfg;

static void conv_ref(const convcfg *c, const float *x, const float *w, const float *b, int OH, int OW,
                     double *y) {
  int Cg = c->C / c->G, Mg = c->M / c->G;
  for (int n = 0; n < c->N; n++)
    for (int m = 0; m < c->M; m++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double s = c->bias ? b[m] : 0;
          int g = m / Mg;
          for (int ci = 0; ci < Cg; ci++)
            for (int kh = 0; kh < c->KH; kh++)
              for (int kw = 0; kw < c->KW; kw++) {
                int ih = oh * c->sh + kh * c->dh - c->pt, iw = ow * c->sw + kw * c->dw - c->pl;
                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                s += (double)x[((n * c->C + g * Cg + ci) * c->H + ih) * c->W + iw] *
                     w[((m * Cg + ci) * c->KH + kh) * c->KW + kw];
              }
          y[((n * c->M + m) * OH + oh) * OW + ow] = s;
        }
}

static void conv_case(convcfg c, bool one_d, const char *kernel) {
  int pt = c.pt, pl = c.pl, pb = c.pb, pr = c.pr;
  int ekh = (c.KH - 1) * c.dh + 1, ekw = (c.KW - 1) * c.dw + 1;
  int OH, OW;
  if (c.auto_pad) { /* SAME_UPPER */
    OH = (c.H + c.sh - 1) / c.sh, OW = (c.W + c.sw - 1) / c.sw;
    int th = (OH - 1) * c.sh + ekh - c.H, tw = (OW - 1) * c.sw + ekw - c.W;
    th = th < 0 ? 0 : th, tw = tw < 0 ? 0 : tw;
    c.pt = th / 2, c.pb = th - th / 2, c.pl = tw / 2, c.pr = tw - tw / 2;
  } else {
    OH = (c.H + pt + pb - ekh) / c.sh + 1, OW = (c.W + pl + pr - ekw) / c.sw + 1;
  }
  size_t nx = (size_t)c.N * c.C * c.H * c.W, nw = (size_t)c.M * (c.C / c.G) * c.KH * c.KW;
  size_t ny = (size_t)c.N * c.M * OH * OW;
  float *x = rand_buf(nx), *w = rand_buf(nw), *b = rand_buf((size_t)c.M), *y = malloc(ny * 4 + 4);
  double *want = malloc(ny * sizeof(double) + 8);
  conv_ref(&c, x, w, b, OH, OW, want);
  char mir[1024], attrs[256];
  if (one_d)
    snprintf(attrs, sizeof attrs, "dilations = [%d], group = %d, %s%s%s, strides = [%d]", c.dw, c.G,
             c.auto_pad ? "auto_pad = \"" : "pads = [", c.auto_pad ? c.auto_pad : "", c.auto_pad ? "\"" : "", c.sw);
  else
    snprintf(attrs, sizeof attrs, "dilations = [%d, %d], group = %d, %s%s%s, strides = [%d, %d]", c.dh, c.dw,
             c.G, c.auto_pad ? "auto_pad = \"" : "pads = [", c.auto_pad ? c.auto_pad : "",
             c.auto_pad ? "\"" : "", c.sh, c.sw);
  /* fill the pads list where "pads = [" was left open */
  char *pp = strstr(attrs, "pads = [");
  if (pp) {
    char tail[128];
    snprintf(tail, sizeof tail, "%s", pp + 8);
    if (one_d) snprintf(pp + 8, sizeof attrs - (size_t)(pp + 8 - attrs), "%d, %d]%s", pl, pr, tail);
    else snprintf(pp + 8, sizeof attrs - (size_t)(pp + 8 - attrs), "%d, %d, %d, %d]%s", pt, pl, pb, pr, tail);
  }
  if (one_d)
    snprintf(mir, sizeof mir,
             HDR "  input %%x : f32[%d,%d,%d]\n  input %%w : f32[%d,%d,%d]\n%s"
                 "  %%y : ?[*] = Conv(%%x, %%w%s) {%s}\n  output %%y\n}\n",
             c.N, c.C, c.W, c.M, c.C / c.G, c.KW, c.bias ? "  input %b : f32[" : "", c.bias ? ", %b" : "", attrs);
  else
    snprintf(mir, sizeof mir,
             HDR "  input %%x : f32[%d,%d,%d,%d]\n  input %%w : f32[%d,%d,%d,%d]\n%s"
                 "  %%y : ?[*] = Conv(%%x, %%w%s) {%s}\n  output %%y\n}\n",
             c.N, c.C, c.H, c.W, c.M, c.C / c.G, c.KH, c.KW, c.bias ? "  input %b : f32[" : "",
             c.bias ? ", %b" : "", attrs);
  if (c.bias) { /* complete the bias declaration */
    char *q = strstr(mir, "input %b : f32[");
    char tail[768];
    snprintf(tail, sizeof tail, "%s", q + 15);
    snprintf(q + 15, sizeof mir - (size_t)(q + 15 - mir), "%d]\n%s", c.M, tail);
  }
  const void *ins[] = {x, w, b};
  void *outs[] = {y};
  if (run_ok(mir, c.bias ? 3 : 2, ins, 1, outs)) {
    close_f(y, want, ny, 1e-4, mir);
    CU_ASSERT_PTR_NOT_NULL(strstr(g_kernels, kernel));
  }
  free(x), free(w), free(b), free(y), free(want);
}

static void test_conv(void) {
  /* patch embedding: kernel = stride, no pads -> GEMM */
  conv_case((convcfg){2, 3, 16, 16, 8, 1, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0, true, NULL}, false, "mixc_k_gemm_f32");
  /* unpadded 3x3 stride 1 -> GEMM over an im2col view */
  conv_case((convcfg){1, 4, 9, 11, 6, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, false, NULL}, false, "mixc_k_gemm_f32");
  /* 1x1 */
  conv_case((convcfg){2, 5, 7, 7, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, NULL}, false, "mixc_k_gemm_f32");
  /* pads, strides, groups, dilation -> direct */
  conv_case((convcfg){2, 4, 10, 9, 6, 2, 3, 3, 2, 1, 1, 2, 1, 2, 1, 0, true, NULL}, false, "mixc_k_conv_f32");
  conv_case((convcfg){1, 6, 8, 8, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false, NULL}, false, "mixc_k_conv_f32"); /* depthwise */
  conv_case((convcfg){1, 3, 7, 8, 4, 1, 3, 2, 2, 3, 1, 1, 0, 0, 0, 0, true, "SAME_UPPER"}, false, "mixc_k_conv_f32");
  /* unpadded grouped strided dilated -> GEMM with group batch */
  conv_case((convcfg){2, 4, 11, 12, 6, 2, 2, 3, 2, 1, 2, 1, 0, 0, 0, 0, true, NULL}, false, "mixc_k_gemm_f32");
  /* 1-D: token mixing as Conv1d kernel 1, and a padded one */
  conv_case((convcfg){2, 12, 1, 16, 12, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, NULL}, true, "mixc_k_gemm_f32");
  conv_case((convcfg){1, 3, 1, 10, 2, 1, 1, 3, 1, 2, 1, 1, 0, 1, 0, 2, false, NULL}, true, "mixc_k_conv_f32");
}

/* ---- pools --------------------------------------------------------------------------------- */

static void test_pools(void) {
  float x[2 * 5 * 5];
  for (int i = 0; i < 50; i++) x[i] = (float)((i * 7) % 11) - 3.0f;
  const void *ins[] = {x};
  /* MaxPool 2x2 stride 2 with Indices, pads 0 0 1 1 */
  const char *mp = HDR "  input %x : f32[1,2,5,5]\n"
                       "  %y : ?[*], %i : ?[*] = MaxPool(%x) {kernel_shape = [2, 2], pads = [0, 0, 1, 1], strides = [2, 2]}\n"
                       "  output %y\n  output %i\n}\n";
  float y[18];
  int64_t ix[18];
  void *outs[] = {y, ix};
  if (run_ok(mp, 1, ins, 2, outs)) {
    for (int c = 0; c < 2; c++)
      for (int oh = 0; oh < 3; oh++)
        for (int ow = 0; ow < 3; ow++) {
          float best = -INFINITY;
          int64_t bi = -1;
          for (int kh = 0; kh < 2; kh++)
            for (int kw = 0; kw < 2; kw++) {
              int h = oh * 2 + kh, w = ow * 2 + kw;
              if (h >= 5 || w >= 5) continue;
              float v = x[(c * 5 + h) * 5 + w];
              if (bi < 0 || v > best) best = v, bi = (c * 5 + h) * 5 + w;
            }
          int o = (c * 3 + oh) * 3 + ow;
          CU_ASSERT_EQUAL(y[o], best);
          CU_ASSERT_EQUAL(ix[o], bi);
        }
  }
  /* AveragePool 3x3 stride 2 pads 1, count_include_pad 0 and 1, and ceil_mode */
  for (int cip = 0; cip < 2; cip++)
    for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
      char mir[512];
      snprintf(mir, sizeof mir,
               HDR "  input %%x : f32[1,2,5,5]\n"
                   "  %%y : ?[*] = AveragePool(%%x) {ceil_mode = %d, count_include_pad = %d, kernel_shape = [3, 3], pads = [1, 1, 0, 0], strides = [2, 2]}\n"
                   "  output %%y\n}\n",
               ceil_mode, cip);
      /* out = floor or ceil((5 + 1 - 3) / 2) + 1: 2 or 3 */
      int O = ceil_mode ? 3 : 2;
      float ya[18];
      double want[18];
      void *o2[] = {ya};
      for (int c = 0; c < 2; c++)
        for (int oh = 0; oh < O; oh++)
          for (int ow = 0; ow < O; ow++) {
            double s = 0;
            int cnt = 0, cntp = 0;
            for (int kh = 0; kh < 3; kh++)
              for (int kw = 0; kw < 3; kw++) {
                int h = oh * 2 - 1 + kh, w = ow * 2 - 1 + kw;
                if (h >= 5 || w >= 5) continue; /* past the end padding (0) */
                cntp++;
                if (h < 0 || w < 0) continue;
                s += x[(c * 5 + h) * 5 + w], cnt++;
              }
            want[(c * O + oh) * O + ow] = s / (cip ? cntp : cnt);
          }
      if (run_ok(mir, 1, ins, 1, o2)) close_f(ya, want, (size_t)2 * O * O, 1e-6, mir);
    }
  /* global pools */
  const char *gp = HDR "  input %x : f32[1,2,5,5]\n  %a : ?[*] = GlobalAveragePool(%x)\n"
                       "  %m : ?[*] = GlobalMaxPool(%x)\n  output %a\n  output %m\n}\n";
  float ga[2], gm[2];
  void *o3[] = {ga, gm};
  if (run_ok(gp, 1, ins, 2, o3))
    for (int c = 0; c < 2; c++) {
      double s = 0;
      float m = -INFINITY;
      for (int i = 0; i < 25; i++) s += x[c * 25 + i], m = x[c * 25 + i] > m ? x[c * 25 + i] : m;
      CU_ASSERT_DOUBLE_EQUAL(ga[c], s / 25, 1e-6);
      CU_ASSERT_EQUAL(gm[c], m);
    }
}

/* ---- TopK, OneHot ---------------------------------------------------------------------------- */

static void test_topk(void) {
  float x[] = {1, 3, 3, 2, 3, 0, 5, 5, 4, 5};
  const void *ins[] = {x};
  float v[6];
  int64_t ix[6];
  void *outs[] = {v, ix};
  const char *mir = HDR "  input %x : f32[2,5]\n  const %k : i64[1] = [3]\n"
                        "  %v : ?[*], %i : ?[*] = TopK(%x, %k)\n  output %v\n  output %i\n}\n";
  if (run_ok(mir, 1, ins, 2, outs)) {
    same_f(v, (float[]){3, 3, 3, 5, 5, 5}, 6, "TopK values");
    same_i64(ix, (int64_t[]){1, 2, 4, 1, 2, 4}, 6, "TopK ties to the lower index");
  }
  const char *sm = HDR "  input %x : f32[2,5]\n  const %k : i64[1] = [2]\n"
                       "  %v : ?[*], %i : ?[*] = TopK(%x, %k) {largest = 0}\n  output %v\n  output %i\n}\n";
  if (run_ok(sm, 1, ins, 2, outs)) {
    same_f(v, (float[]){1, 2, 0, 4}, 4, "TopK smallest");
    same_i64(ix, (int64_t[]){0, 3, 0, 3}, 4, "TopK smallest indices");
  }
  const char *ax = HDR "  input %x : f32[2,5]\n  const %k : i64[1] = [1]\n"
                       "  %v : ?[*], %i : ?[*] = TopK(%x, %k) {axis = 0}\n  output %v\n  output %i\n}\n";
  if (run_ok(ax, 1, ins, 2, outs)) {
    same_f(v, (float[]){1, 5, 5, 4, 5}, 5, "TopK axis 0");
    same_i64(ix, (int64_t[]){0, 1, 1, 1, 1}, 5, "TopK axis 0 indices");
  }
  /* a full sort of 40 values with many ties, k = 40 and k = 7 */
  float big[40];
  for (int i = 0; i < 40; i++) big[i] = (float)((i * 13) % 7);
  const void *ins2[] = {big};
  for (int k = 7; k <= 40; k += 33) {
    char m2[256];
    snprintf(m2, sizeof m2, HDR "  input %%x : f32[40]\n  const %%k : i64[1] = [%d]\n"
                                "  %%v : ?[*], %%i : ?[*] = TopK(%%x, %%k)\n  output %%v\n  output %%i\n}\n", k);
    float bv[40];
    int64_t bi[40], want_i[40];
    void *o2[] = {bv, bi};
    int n = 0;
    for (int val = 6; val >= 0; val--)
      for (int i = 0; i < 40; i++)
        if (big[i] == val) want_i[n++] = i;
    if (run_ok(m2, 1, ins2, 2, o2)) same_i64(bi, want_i, (size_t)k, "TopK sort");
  }
}

static void test_onehot(void) {
  int64_t ix[] = {0, -1, 5, 2, -5, 3};
  const void *ins[] = {ix};
  float y[24];
  void *outs[] = {y};
  const char *mir = HDR "  input %i : i64[6]\n  const %d : i64[] = [4]\n  const %v : f32[2] = [0.5, 2.0]\n"
                        "  %y : ?[*] = OneHot(%i, %d, %v)\n  output %y\n}\n";
  float want[24];
  for (int i = 0; i < 24; i++) want[i] = 0.5f;
  want[0 * 4 + 0] = want[1 * 4 + 3] = want[3 * 4 + 2] = want[5 * 4 + 3] = 2.0f;
  if (run_ok(mir, 1, ins, 1, outs)) same_f(y, want, 24, "OneHot");
  /* axis 0, float indices */
  float fx[] = {1.0f, 2.9f, -1.0f};
  const void *ins2[] = {fx};
  const char *m2 = HDR "  input %i : f32[3]\n  const %d : f32[] = [3.0]\n  const %v : f32[2] = [0.0, 1.0]\n"
                       "  %y : ?[*] = OneHot(%i, %d, %v) {axis = 0}\n  output %y\n}\n";
  float y2[9], w2[9] = {0, 0, 0, 1, 0, 0, 0, 1, 1};
  void *o2[] = {y2};
  if (run_ok(m2, 1, ins2, 1, o2)) same_f(y2, w2, 9, "OneHot axis 0, float indices");
}

/* ---- Gather, Scatter ---------------------------------------------------------------------- */

static void test_gather(void) {
  float x[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i;
  const void *ins[] = {x};
  float y[32];
  void *outs[] = {y};
  const char *g0 = HDR "  input %x : f32[3,4]\n  const %i : i64[2,2] = [2, -3, 0, 2]\n"
                       "  %y : ?[*] = Gather(%x, %i)\n  output %y\n}\n";
  if (run_ok(g0, 1, ins, 1, outs)) same_f(y, (float[]){8, 9, 10, 11, 0, 1, 2, 3, 0, 1, 2, 3, 8, 9, 10, 11}, 12, "Gather axis 0");
  const char *g1 = HDR "  input %x : f32[3,4]\n  const %i : i32[2] = [-1, 1]\n"
                       "  %y : ?[*] = Gather(%x, %i) {axis = 1}\n  output %y\n}\n";
  if (run_ok(g1, 1, ins, 1, outs)) same_f(y, (float[]){3, 1, 7, 5, 11, 9}, 6, "Gather axis 1");
  /* run-time index out of range */
  int64_t bad[] = {1, 7};
  const void *ins2[] = {x, bad};
  const char *g2 = HDR "  input %x : f32[3,4]\n  input %i : i64[2]\n"
                       "  %y : ?[*] = Gather(%x, %i) {axis = 1}\n  output %y\n}\n";
  int rc = run_mir(g2, 2, ins2, 1, outs);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "index 7"));
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "[-4, 4)"));
  /* GatherElements */
  int64_t ge[] = {0, 3, -1, 1, 2, 2};
  const void *ins3[] = {x, ge};
  const char *g3 = HDR "  input %x : f32[3,4]\n  input %i : i64[3,2]\n"
                       "  %y : ?[*] = GatherElements(%x, %i) {axis = 1}\n  output %y\n}\n";
  if (run_ok(g3, 2, ins3, 1, outs)) same_f(y, (float[]){0, 3, 7, 5, 10, 10}, 6, "GatherElements");
  /* GatherND with batch_dims 1: data [2,3,2], indices [2,1,1] */
  float d3[12];
  for (int i = 0; i < 12; i++) d3[i] = (float)(i * 10);
  int64_t gn[] = {2, 0};
  const void *ins4[] = {d3, gn};
  const char *g4 = HDR "  input %x : f32[2,3,2]\n  input %i : i64[2,1,1]\n"
                       "  %y : ?[*] = GatherND(%x, %i) {batch_dims = 1}\n  output %y\n}\n";
  if (run_ok(g4, 2, ins4, 1, outs)) same_f(y, (float[]){40, 50, 60, 70}, 4, "GatherND batch_dims 1");
  int64_t gn2[] = {1, 2, 0, -1};
  const void *ins5[] = {d3, gn2};
  const char *g5 = HDR "  input %x : f32[2,3,2]\n  input %i : i64[2,2]\n"
                       "  %y : ?[*] = GatherND(%x, %i)\n  output %y\n}\n";
  if (run_ok(g5, 2, ins5, 1, outs)) same_f(y, (float[]){100, 110, 40, 50}, 4, "GatherND");
  int64_t gn3[] = {1, 3, 0, 0};
  const void *ins6[] = {d3, gn3};
  rc = run_mir(g5, 2, ins6, 1, outs);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "GatherND index 3"));
  /* int64 data through Gather: element size 8 */
  int64_t xi[6] = {10, 11, 12, 13, 14, 15}, yi[4];
  const void *ins7[] = {xi};
  void *o7[] = {yi};
  const char *g7 = HDR "  input %x : i64[3,2]\n  const %i : i64[2] = [2, 0]\n"
                       "  %y : ?[*] = Gather(%x, %i)\n  output %y\n}\n";
  if (run_ok(g7, 1, ins7, 1, o7)) same_i64(yi, (int64_t[]){14, 15, 10, 11}, 4, "Gather i64");
}

static void test_scatter(void) {
  float x[12] = {0};
  const void *none[] = {x};
  (void)none;
  float y[12];
  void *outs[] = {y};
  /* ScatterElements axis 1 with duplicates, reductions */
  int64_t ix[] = {1, 1, -1, 0, 2, 2};
  float up[] = {1, 2, 3, 4, 5, 6};
  const void *ins[] = {x, ix, up};
  static const char *red[] = {"none", "add", "mul", "max", "min"};
  float base[12];
  for (int i = 0; i < 12; i++) base[i] = 1.0f + (float)i;
  const void *insb[] = {base, ix, up};
  for (int r = 0; r < 5; r++) {
    char mir[512];
    snprintf(mir, sizeof mir,
             HDR "  input %%x : f32[3,4]\n  input %%i : i64[3,2]\n  input %%u : f32[3,2]\n"
                 "  %%y : ?[*] = ScatterElements(%%x, %%i, %%u) {axis = 1, reduction = \"%s\"}\n  output %%y\n}\n",
             red[r]);
    float want[12];
    memcpy(want, base, sizeof want);
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 2; j++) {
        int64_t c = ix[i * 2 + j];
        if (c < 0) c += 4;
        float *d = &want[i * 4 + c], u = up[i * 2 + j];
        switch (r) {
        case 0: *d = u; break;
        case 1: *d += u; break;
        case 2: *d *= u; break;
        case 3: *d = u > *d ? u : *d; break;
        default: *d = u < *d ? u : *d; break;
        }
      }
    if (run_ok(mir, 3, insb, 1, outs)) same_f(y, want, 12, red[r]);
  }
  (void)ins;
  /* ScatterND, duplicate indices add in order; slices of rank 1 */
  int64_t nd[] = {1, 0, 1, -3};
  float upd[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const void *ins2[] = {base, nd, upd};
  const char *m2 = HDR "  input %x : f32[3,4]\n  input %i : i64[4,1]\n  input %u : f32[4,4]\n"
                       "  %y : ?[*] = ScatterND(%x, %i, %u) {reduction = \"add\"}\n  output %y\n}\n";
  float want[12];
  memcpy(want, base, sizeof want);
  for (int t = 0; t < 4; t++) {
    int64_t row = nd[t] < 0 ? nd[t] + 3 : nd[t];
    for (int j = 0; j < 4; j++) want[row * 4 + j] += upd[t * 4 + j];
  }
  if (run_ok(m2, 3, ins2, 1, outs)) same_f(y, want, 12, "ScatterND add");
  /* reduction none with duplicates: the last one wins */
  const char *m3 = HDR "  input %x : f32[3,4]\n  input %i : i64[4,1]\n  input %u : f32[4,4]\n"
                       "  %y : ?[*] = ScatterND(%x, %i, %u)\n  output %y\n}\n";
  memcpy(want, base, sizeof want);
  for (int j = 0; j < 4; j++) want[4 + j] = upd[8 + j], want[j] = upd[12 + j];
  if (run_ok(m3, 3, ins2, 1, outs)) same_f(y, want, 12, "ScatterND none");
  /* ScatterND to single elements, mul */
  int64_t nd2[] = {0, 1, 2, 3, 0, 1};
  const void *ins3[] = {base, nd2, upd};
  const char *m4 = HDR "  input %x : f32[3,4]\n  input %i : i64[3,2]\n  input %u : f32[3]\n"
                       "  %y : ?[*] = ScatterND(%x, %i, %u) {reduction = \"mul\"}\n  output %y\n}\n";
  memcpy(want, base, sizeof want);
  want[1] *= 1 * 3, want[11] *= 2;
  if (run_ok(m4, 3, ins3, 1, outs)) same_f(y, want, 12, "ScatterND mul");
  /* out of range */
  int64_t badi[] = {1, 0, 4, 1};
  const void *ins4[] = {base, badi, upd};
  int rc = run_mir(m2, 3, ins4, 1, outs);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "ScatterND index 4"));
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "[-3, 3)"));
  int64_t bad2[] = {1, 1, -5, 0, 2, 2};
  const void *ins5[] = {base, bad2, up};
  const char *m5 = HDR "  input %x : f32[3,4]\n  input %i : i64[3,2]\n  input %u : f32[3,2]\n"
                       "  %y : ?[*] = ScatterElements(%x, %i, %u) {axis = 1}\n  output %y\n}\n";
  rc = run_mir(m5, 3, ins5, 1, outs);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "index -5"));
}

/* ---- Slice, Pad, Transpose, and other movement ---------------------------------------------- */

static void test_slice(void) {
  float x[20];
  for (int i = 0; i < 20; i++) x[i] = (float)i;
  const void *ins[] = {x};
  float y[20];
  void *outs[] = {y};
  /* rows reversed, every second column from the end */
  const char *m1 = HDR "  input %x : f32[4,5]\n  const %s : i64[2] = [-1, 4]\n"
                       "  const %e : i64[2] = [-9223372036854775807, -7]\n  const %a : i64[2] = [0, 1]\n"
                       "  const %st : i64[2] = [-1, -2]\n"
                       "  %y : ?[*] = Slice(%x, %s, %e, %a, %st)\n  output %y\n}\n";
  if (run_ok(m1, 1, ins, 1, outs))
    same_f(y, (float[]){19, 17, 15, 14, 12, 10, 9, 7, 5, 4, 2, 0}, 12, "Slice negative steps");
  const char *m2 = HDR "  input %x : f32[4,5]\n  const %s : i64[1] = [1]\n  const %e : i64[1] = [100]\n"
                       "  const %a : i64[1] = [-1]\n  const %st : i64[1] = [3]\n"
                       "  %y : ?[*] = Slice(%x, %s, %e, %a, %st)\n  output %y\n}\n";
  if (run_ok(m2, 1, ins, 1, outs)) same_f(y, (float[]){1, 4, 6, 9, 11, 14, 16, 19}, 8, "Slice step 3");
  /* starts read at run time; the output type comes from the model */
  int64_t st[] = {2, 1};
  const void *ins3[] = {x, st};
  const char *m3 = HDR "  input %x : f32[4,5]\n  input %s : i64[2]\n  const %e : i64[2] = [4, 4]\n"
                       "  %y : f32[2,3] = Slice(%x, %s, %e)\n  output %y\n}\n";
  if (run_ok(m3, 2, ins3, 1, outs)) same_f(y, (float[]){11, 12, 13, 16, 17, 18}, 6, "Slice dynamic");
  int64_t st2[] = {1, 1};
  const void *ins4[] = {x, st2};
  int rc = run_mir(m3, 2, ins4, 1, outs);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "compiled shape"));
}

static void test_pad(void) {
  float x[6] = {1, 2, 3, 4, 5, 6}; /* [2,3] */
  const void *ins[] = {x};
  float y[64];
  void *outs[] = {y};
  static const char *modes[] = {"constant", "reflect", "edge", "wrap"};
  /* pads: rows begin 1 end 1, cols begin 2 end -1 (crop) */
  for (int m = 0; m < 4; m++) {
    char mir[512];
    snprintf(mir, sizeof mir,
             HDR "  input %%x : f32[2,3]\n  const %%p : i64[4] = [1, 2, 1, -1]\n  const %%v : f32[] = [9.5]\n"
                 "  %%y : ?[*] = Pad(%%x, %%p, %%v) {mode = \"%s\"}\n  output %%y\n}\n",
             modes[m]);
    float want[16];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) {
        int si = i - 1, sj = j - 2;
        float v;
        int ok = 1;
        if (m == 0) ok = si >= 0 && si < 2 && sj >= 0 && sj < 3;
        else if (m == 1) {
          si = si < 0 ? -si : si >= 2 ? 2 * 2 - 2 - si : si;
          sj = sj < 0 ? -sj : sj >= 3 ? 2 * 3 - 2 - sj : sj;
        } else if (m == 2) {
          si = si < 0 ? 0 : si > 1 ? 1 : si;
          sj = sj < 0 ? 0 : sj > 2 ? 2 : sj;
        } else {
          si = (si + 2) % 2;
          sj = (sj + 3) % 3;
        }
        v = ok ? x[si * 3 + sj] : 9.5f;
        want[i * 4 + j] = v;
      }
    if (run_ok(mir, 1, ins, 1, outs)) same_f(y, want, 16, modes[m]);
  }
  /* opset 2: pads and value as attributes */
  const char *old = "graph \"t\" {\n  opset \"\" 9\n  input %x : f32[2,3]\n"
                    "  %y : ?[*] = Pad(%x) {pads = [0, 1, 0, 0], value = -1.0}\n  output %y\n}\n";
  if (run_ok(old, 1, ins, 1, outs)) same_f(y, (float[]){-1, 1, 2, 3, -1, 4, 5, 6}, 8, "Pad opset 9");
}

static void test_transpose(void) {
  /* 2-D large enough for the tiled path, 3-D and 4-D perms, an i64 and a bool one */
  static const struct {
    const char *shape;
    int r, d[4], perm[4];
  } cases[] = {
      {"37,45", 2, {37, 45}, {1, 0}},
      {"2,3,4", 3, {2, 3, 4}, {2, 0, 1}},
      {"2,3,4", 3, {2, 3, 4}, {1, 0, 2}},
      {"3,4,5,6", 4, {3, 4, 5, 6}, {0, 3, 1, 2}},
      {"3,1,5,6", 4, {3, 1, 5, 6}, {3, 2, 0, 1}},
      {"8,33,40", 3, {8, 33, 40}, {0, 2, 1}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    int r = cases[c].r, n = 1;
    for (int i = 0; i < r; i++) n *= cases[c].d[i];
    float *x = rand_buf((size_t)n), *y = malloc((size_t)n * 4), *want = malloc((size_t)n * 4);
    int st[4], od[4];
    for (int i = r - 1, s = 1; i >= 0; i--) st[i] = s, s *= cases[c].d[i];
    for (int i = 0; i < r; i++) od[i] = cases[c].d[cases[c].perm[i]];
    for (int o = 0; o < n; o++) {
      int rem = o, src = 0;
      for (int i = r - 1; i >= 0; i--) src += (rem % od[i]) * st[cases[c].perm[i]], rem /= od[i];
      want[o] = x[src];
    }
    char mir[512], perm[64];
    size_t k = 0;
    for (int i = 0; i < r; i++) k += (size_t)snprintf(perm + k, sizeof perm - k, "%s%d", i ? ", " : "", cases[c].perm[i]);
    snprintf(mir, sizeof mir, HDR "  input %%x : f32[%s]\n  %%y : ?[*] = Transpose(%%x) {perm = [%s]}\n  output %%y\n}\n",
             cases[c].shape, perm);
    const void *ins[] = {x};
    void *outs[] = {y};
    if (run_ok(mir, 1, ins, 1, outs)) same_f(y, want, (size_t)n, mir);
    free(x), free(y), free(want);
  }
  int64_t xi[6] = {1, 2, 3, 4, 5, 6}, yi[6];
  const void *ins[] = {xi};
  void *outs[] = {yi};
  const char *m = HDR "  input %x : i64[2,3]\n  %y : ?[*] = Transpose(%x)\n  output %y\n}\n";
  if (run_ok(m, 1, ins, 1, outs)) same_i64(yi, (int64_t[]){1, 4, 2, 5, 3, 6}, 6, "Transpose i64");
  uint8_t xb[6] = {1, 0, 0, 1, 1, 0}, yb[6];
  const void *insb[] = {xb};
  void *outsb[] = {yb};
  const char *mb = HDR "  input %x : bool[3,2]\n  %y : ?[*] = Transpose(%x)\n  output %y\n}\n";
  if (run_ok(mb, 1, insb, 1, outsb)) CU_ASSERT(!memcmp(yb, (uint8_t[]){1, 0, 1, 0, 1, 0}, 6));
}

static void test_movement(void) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  const void *ins[] = {x};
  float y[64], z[64], w[64];
  /* Concat and Split along axis 1 */
  const char *cs = HDR "  input %x : f32[2,3]\n  const %c : f32[2,1] = [7.0, 8.0]\n"
                       "  %y : ?[*] = Concat(%c, %x, %c) {axis = 1}\n"
                       "  const %sp : i64[2] = [1, 2]\n"
                       "  %a : ?[*], %b : ?[*] = Split(%x, %sp) {axis = 1}\n"
                       "  output %y\n  output %a\n  output %b\n}\n";
  void *o1[] = {y, z, w};
  if (run_ok(cs, 1, ins, 3, o1)) {
    same_f(y, (float[]){7, 1, 2, 3, 7, 8, 4, 5, 6, 8}, 10, "Concat");
    same_f(z, (float[]){1, 4}, 2, "Split 0");
    same_f(w, (float[]){2, 3, 5, 6}, 4, "Split 1");
  }
  /* Expand, Tile, Reshape, Unsqueeze, Flatten */
  const char *ex = HDR "  input %x : f32[2,3]\n  const %s : i64[3] = [2, 2, 1]\n  const %r : i64[2] = [2, 2]\n"
                       "  const %sh : i64[2] = [3, -1]\n"
                       "  %e : ?[*] = Expand(%x, %s)\n  %t : ?[*] = Tile(%x, %r)\n  %h : ?[*] = Reshape(%x, %sh)\n"
                       "  output %e\n  output %t\n  output %h\n}\n";
  void *o2[] = {y, z, w};
  if (run_ok(ex, 1, ins, 3, o2)) {
    same_f(y, (float[]){1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 12, "Expand");
    same_f(z, (float[]){1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, 24, "Tile");
    same_f(w, x, 6, "Reshape");
  }
  /* Range (f32 and run-time i64), ConstantOfShape, Shape, Size */
  const char *fl = HDR "  input %x : f32[2,3]\n  const %s : f32[] = [1.0]\n  const %lf : f32[] = [2.0]\n"
                       "  const %d : f32[] = [-0.25]\n  const %s2 : i64[] = [1]\n  const %d2 : i64[] = [3]\n"
                       "  %r : ?[*] = Range(%s, %lf, %d)\n"
                       "  const %cs : i64[2] = [2, 3]\n"
                       "  %sh : ?[*] = Shape(%x)\n  %c : ?[*] = ConstantOfShape(%cs) {value = tensor i32[1] = [7]}\n"
                       "  %z : ?[*] = Size(%x)\n"
                       "  output %r\n  output %sh\n  output %c\n  output %z\n}\n";
  float rr[8];
  int64_t shv[2], sz;
  int32_t cv[6];
  void *o3[] = {rr, shv, cv, &sz};
  if (run_ok(fl, 1, ins, 4, o3)) {
    /* Range(1, 2, -0.25) is empty: length ceil((2-1)/-0.25) < 0 -> 0 */
    same_i64(shv, (int64_t[]){2, 3}, 2, "Shape");
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(cv[i], 7);
    CU_ASSERT_EQUAL(sz, 6);
  }
  const char *rg = HDR "  const %s : f32[] = [2.0]\n  const %l : f32[] = [1.0]\n  const %d : f32[] = [-0.25]\n"
                       "  %r : ?[*] = Range(%s, %l, %d)\n  output %r\n}\n";
  void *o4[] = {rr};
  if (run_ok(rg, 0, NULL, 1, o4)) same_f(rr, (float[]){2, 1.75f, 1.5f, 1.25f}, 4, "Range f32");
  /* Dropout in inference with its mask, Identity, Squeeze */
  const char *dr = HDR "  input %x : f32[2,3]\n  %y : ?[*], %m : ?[*] = Dropout(%x)\n"
                       "  output %y\n  output %m\n}\n";
  uint8_t mask[6];
  void *o5[] = {y, mask};
  if (run_ok(dr, 1, ins, 2, o5)) {
    same_f(y, x, 6, "Dropout");
    for (int i = 0; i < 6; i++) CU_ASSERT_EQUAL(mask[i], 1);
  }
  const char *tr = HDR "  input %x : f32[2,3]\n  const %r : f32[] = [0.5]\n  const %t : bool[] = [true]\n"
                       "  %y : ?[*] = Dropout(%x, %r, %t)\n  output %y\n}\n";
  CU_ASSERT_EQUAL(run_mir(tr, 1, ins, 1, o5), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(g_msg, "training mode"));
}

/* ---- com.microsoft.MoE ---------------------------------------------------------------------- */

static double act_ref(int a, double x) {
  switch (a) {
  case 0: return x > 0 ? x : 0;
  case 1: return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  case 2: return x / (1 + exp(-x));
  default: return x;
  }
}

static void moe_case(int rows, int H, int I, int E, int k, int act, int normalize, bool eih, bool bias) {
  static const char *acts[] = {"relu", "gelu", "silu", "identity"};
  float *x = rand_buf((size_t)rows * H), *lg = rand_buf((size_t)rows * E);
  float *w1 = rand_buf((size_t)E * H * I), *w2 = rand_buf((size_t)E * H * I);
  float *b1 = rand_buf((size_t)E * I), *b2 = rand_buf((size_t)E * H);
  /* ties in the router for the first rows: equal logits must pick the lower experts */
  for (int e = 0; e < E; e++) lg[e] = 0.25f, lg[E + e] = e % 2 ? 1.0f : 0.0f;
  double *want = calloc((size_t)rows * H, sizeof(double));
  for (int r = 0; r < rows; r++) {
    double p[64], mx = -1e30, s = 0;
    for (int e = 0; e < E; e++) mx = lg[r * E + e] > mx ? lg[r * E + e] : mx;
    for (int e = 0; e < E; e++) s += p[e] = exp(lg[r * E + e] - mx);
    for (int e = 0; e < E; e++) p[e] /= s;
    int chosen[64];
    double tot = 0;
    bool used[64] = {false};
    for (int c = 0; c < k; c++) {
      int best = -1;
      for (int e = 0; e < E; e++)
        if (!used[e] && (best < 0 || p[e] > p[best])) best = e;
      used[best] = true, chosen[c] = best, tot += p[best];
    }
    for (int c = 0; c < k; c++) {
      int e = chosen[c];
      double wt = normalize ? p[e] / tot : p[e];
      for (int o = 0; o < H; o++) {
        double yo = bias ? b2[e * H + o] : 0;
        for (int i = 0; i < I; i++) {
          double h = bias ? b1[e * I + i] : 0;
          for (int j = 0; j < H; j++) {
            double wv = eih ? w1[((size_t)e * I + i) * H + j] : w1[((size_t)e * H + j) * I + i];
            h += (double)x[r * H + j] * wv;
          }
          double w2v = eih ? w2[((size_t)e * H + o) * I + i] : w2[((size_t)e * I + i) * H + o];
          yo += act_ref(act, h) * w2v;
        }
        want[r * H + o] += wt * yo;
      }
    }
  }
  char mir[1024];
  snprintf(mir, sizeof mir,
           "graph \"t\" {\n  opset \"\" 17\n  opset \"com.microsoft\" 1\n"
           "  input %%x : f32[%d,%d]\n  input %%r : f32[%d,%d]\n  input %%w1 : f32[%d,%d,%d]\n"
           "  input %%b1 : f32[%d,%d]\n  input %%w2 : f32[%d,%d,%d]\n  input %%b2 : f32[%d,%d]\n"
           "  %%y : ?[*] = com.microsoft.MoE(%%x, %%r, %%w1, %s, %%w2, %s) {activation_type = \"%s\", k = %d, normalize_routing_weights = %d}\n"
           "  output %%y\n}\n",
           rows, H, rows, E, E, eih ? I : H, eih ? H : I, E, I, E, eih ? H : I, eih ? I : H, E, H,
           bias ? "%b1" : "_", bias ? "%b2" : "_", acts[act], k, normalize);
  float *y = malloc((size_t)rows * H * 4);
  const void *ins[] = {x, lg, w1, b1, w2, b2};
  void *outs[] = {y};
  /* unused inputs are still graph inputs: the program has six */
  if (run_ok(mir, 6, ins, 1, outs)) close_f(y, want, (size_t)rows * H, 2e-4, mir);
  free(x), free(lg), free(w1), free(w2), free(b1), free(b2), free(y), free(want);
}

static void test_ms_moe(void) {
  moe_case(12, 16, 40, 4, 2, 1, 1, false, true); /* the tiny model's shapes */
  moe_case(150, 20, 70, 3, 1, 0, 0, false, true); /* > 64 rows per expert, I past one slice */
  moe_case(40, 24, 17, 5, 2, 2, 0, true, false);  /* (E,I,H) layout, no biases */
  moe_case(9, 8, 8, 4, 3, 3, 1, false, true);     /* square: read as (E,H,I) */
}

void kernels_data_suite_register(void) {
  CU_pSuite s = CU_add_suite("kernels_data", NULL, NULL);
  CU_add_test(s, "GEMM sizes against a naive loop", test_gemm_sizes);
  CU_add_test(s, "GEMM on packed weights: wide tasks, threads", test_gemm_packed_wide);
  CU_add_test(s, "Gemm transposes, alpha, beta, C broadcast", test_gemm_trans_alpha_beta);
  CU_add_test(s, "batched and 1-D MatMul", test_matmul_batched);
  CU_add_test(s, "f64 MatMul, int MatMul diagnostic", test_matmul_f64);
  CU_add_test(s, "Einsum", test_einsum);
  CU_add_test(s, "Conv direct and through the GEMM", test_conv);
  CU_add_test(s, "pools", test_pools);
  CU_add_test(s, "TopK ties and sorting", test_topk);
  CU_add_test(s, "OneHot", test_onehot);
  CU_add_test(s, "Gather family and range failures", test_gather);
  CU_add_test(s, "Scatter family, reductions, duplicates", test_scatter);
  CU_add_test(s, "Slice with negative steps and run-time starts", test_slice);
  CU_add_test(s, "Pad modes", test_pad);
  CU_add_test(s, "Transpose perms and dtypes", test_transpose);
  CU_add_test(s, "Concat, Split, Expand, Tile, fills, Dropout", test_movement);
  CU_add_test(s, "com.microsoft.MoE against a naive reference", test_ms_moe);
}
