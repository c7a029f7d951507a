/* test_kernels_elem.c - unit tests of the elementwise and reduction kernels
 * (runtime/kernels/elem*.c) through their lowering (backend/lower_elem.c): each
 * test writes a small graph in .mir text, parses it, runs shape inference,
 * lowers it and runs it with the reference interpreter, then compares every
 * output element against values computed here in double precision with an
 * explicit tolerance. Also: diagnostics (not crashes) for unsupported dtypes,
 * non-constant axes and training-mode BatchNormalization, and rt_fail for
 * integer division by zero.
 *
 * Requires: ir.h, be.h and CUnit; registered by kernels_elem_suite_register()
 * from main.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/be.h"
#include "runtime/kernels/elem_util.h"

/* ---- harness --------------------------------------------------------------------------- */
typedef struct harness {
  ir_graph *g;
  ir_diags *d;
  ir_arena *scratch;
  be_program *p;
  void *out[12];
  void *arena;
  rt_ctx rt;
  int status;
} harness;

static char *mirf(const char *fmt, ...) {
  static char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

/* Parse, infer, lower. False (diagnostics in h->d) when any step fails. */
static bool h_build(harness *h, const char *mir) {
  memset(h, 0, sizeof *h);
  h->d = ir_diags_new();
  h->scratch = ir_arena_new();
  h->g = ir_parse(mir, strlen(mir), "test.mir", h->d);
  if (!h->g) return false;
  ir_ctx cx = {h->g, h->d, h->scratch};
  if (!ir_infer_graph(&cx)) return false;
  h->p = be_lower(&cx);
  return h->p != NULL;
}

static int h_run(harness *h, void *const *ins) {
  size_t as = (h->p->arena_size + 63) / 64 * 64 + 64;
  h->arena = aligned_alloc(64, as);
  if (h->p->noutputs > 12) return -1;
  for (int i = 0; i < h->p->noutputs; i++) {
    h->out[i] = calloc(1, h->p->outputs[i].nbytes + 16);
    memset(h->out[i], 0xa5, h->p->outputs[i].nbytes); /* no output left unwritten */
  }
  h->status = be_interp_run(h->p, &h->rt, ins, h->out, h->arena);
  return h->status;
}

static void h_free(harness *h) {
  for (int i = 0; i < 12; i++) free(h->out[i]);
  free(h->arena);
  be_program_free(h->p);
  if (h->g) ir_graph_free(h->g);
  ir_arena_free(h->scratch);
  ir_diags_free(h->d);
}

/* Builds and runs; on failure prints the diagnostics and fails the test. */
static bool run(harness *h, const char *mir, void *const *ins) {
  if (!h_build(h, mir)) {
    ir_diags_print(h->d, stderr);
    fprintf(stderr, "in:\n%s\n", mir);
    CU_FAIL("graph did not lower");
    return false;
  }
  if (h_run(h, ins)) {
    fprintf(stderr, "run failed: %s\n", h->rt.msg);
    CU_FAIL("run failed");
    return false;
  }
  return true;
}

static int nfail;
static bool close_to(double got, double want, double rtol, double atol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= atol + rtol * fabs(want);
}
#define CHECK_CLOSE(got, want, rtol, atol, what, i)                                          \
  do {                                                                                       \
    double g_ = (got), w_ = (want);                                                          \
    if (!close_to(g_, w_, rtol, atol)) {                                                     \
      if (nfail++ < 40) fprintf(stderr, "%s [%d]: got %.9g want %.9g\n", what, (int)(i), g_, w_); \
      CU_FAIL("value mismatch");                                                             \
    }                                                                                        \
  } while (0)
#define CHECK_EQ_I(got, want, what, i)                                                        \
  do {                                                                                       \
    long long g_ = (long long)(got), w_ = (long long)(want);                                 \
    if (g_ != w_) {                                                                          \
      if (nfail++ < 40) fprintf(stderr, "%s [%d]: got %lld want %lld\n", what, (int)(i), g_, w_); \
      CU_FAIL("value mismatch");                                                             \
    }                                                                                        \
  } while (0)

static const double RT32 = 2e-6; /* f32 libm against a double reference */

/* ---- broadcasting arithmetic ------------------------------------------------------------ */
static void test_broadcast_f32(void) {
  float a[24], row[4], col[3], s = 0.75f;
  for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f - 5.0f;
  for (int i = 0; i < 4; i++) row[i] = (float)i + 1.5f;
  for (int i = 0; i < 3; i++) col[i] = (float)i * -2.0f + 0.25f;
  struct { const char *op; char c; } ops[] = {{"Add", '+'}, {"Sub", '-'}, {"Mul", '*'}, {"Div", '/'}};
  for (int k = 0; k < 4; k++) {
    harness h;
    /* row vector (bias add), scalar on the left, general 3-D: [2,3,4] op [3,1] */
    const char *m = mirf("graph \"t\" {\n opset \"\" 17\n input %%a : f32[2,3,4]\n input %%r : f32[4]\n"
                         " input %%c : f32[3,1]\n input %%s : f32[]\n"
                         " %%y1 : ?[*] = %s(%%a, %%r)\n %%y2 : ?[*] = %s(%%s, %%a)\n %%y3 : ?[*] = %s(%%a, %%c)\n"
                         " output %%y1\n output %%y2\n output %%y3\n}\n", ops[k].op, ops[k].op, ops[k].op);
    void *ins[] = {a, row, col, &s};
    if (!run(&h, m, ins)) { h_free(&h); continue; }
    const float *y1 = h.out[0], *y2 = h.out[1], *y3 = h.out[2];
    for (int i = 0; i < 24; i++) {
      float x = a[i], r = row[i % 4], c = col[(i / 4) % 3], w1, w2, w3;
      switch (ops[k].c) {
      case '+': w1 = x + r, w2 = s + x, w3 = x + c; break;
      case '-': w1 = x - r, w2 = s - x, w3 = x - c; break;
      case '*': w1 = x * r, w2 = s * x, w3 = x * c; break;
      default: w1 = x / r, w2 = s / x, w3 = x / c; break;
      }
      CHECK_CLOSE(y1[i], w1, 0, 0, ops[k].op, i);
      CHECK_CLOSE(y2[i], w2, 0, 0, ops[k].op, i);
      CHECK_CLOSE(y3[i], w3, 0, 0, ops[k].op, i);
    }
    h_free(&h);
  }
  /* same shape, long enough for the 16-lane loop and a tail; [2,1,5] + [1,3,1] */
  float x[37], z[37], p[10], q[3];
  for (int i = 0; i < 37; i++) x[i] = (float)i / 7.0f, z[i] = (float)(37 - i) * 0.3f;
  for (int i = 0; i < 10; i++) p[i] = (float)i;
  for (int i = 0; i < 3; i++) q[i] = (float)(i * 100);
  harness h;
  void *ins[] = {x, z, p, q};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %x : f32[37]\n input %z : f32[37]\n"
              " input %p : f32[2,1,5]\n input %q : f32[1,3,1]\n"
              " %y : ?[*] = Mul(%x, %z)\n %w : ?[*] = Add(%p, %q)\n output %y\n output %w\n}\n", ins)) {
    const float *y = h.out[0], *w = h.out[1];
    for (int i = 0; i < 37; i++) CHECK_CLOSE(y[i], x[i] * z[i], 0, 0, "Mul", i);
    CU_ASSERT_EQUAL(h.p->outputs[1].rank, 3);
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 3; j++)
        for (int k = 0; k < 5; k++)
          CHECK_CLOSE(w[(i * 3 + j) * 5 + k], p[i * 5 + k] + q[j], 0, 0, "Add 3-D", k);
  }
  h_free(&h);
}

static void test_binary_f64_and_max_min(void) {
  double a[5] = {1.5, -2.0, NAN, 4.0, 0.0}, b[5] = {0.5, 3.0, 1.0, NAN, -0.0};
  harness h;
  void *ins[] = {a, b};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %a : f64[5]\n input %b : f64[5]\n"
              " %s : ?[*] = Sub(%a, %b)\n %d : ?[*] = Div(%a, %b)\n %mx : ?[*] = Max(%a, %b)\n"
              " %mn : ?[*] = Min(%a, %b)\n output %s\n output %d\n output %mx\n output %mn\n}\n", ins)) {
    const double *s = h.out[0], *d = h.out[1], *mx = h.out[2], *mn = h.out[3];
    for (int i = 0; i < 5; i++) {
      CHECK_CLOSE(s[i], a[i] - b[i], 0, 0, "Sub f64", i);
      CHECK_CLOSE(d[i], a[i] / b[i], 0, 0, "Div f64", i);
      double wm = isnan(a[i]) || isnan(b[i]) ? NAN : a[i] > b[i] ? a[i] : b[i];
      double wn = isnan(a[i]) || isnan(b[i]) ? NAN : a[i] < b[i] ? a[i] : b[i];
      CHECK_CLOSE(mx[i], wm, 0, 0, "Max f64 (NaN propagates)", i);
      CHECK_CLOSE(mn[i], wn, 0, 0, "Min f64 (NaN propagates)", i);
    }
  }
  h_free(&h);
}

static void test_binary_int(void) {
  int32_t a[8] = {-7, 7, -7, 7, INT32_MIN, 100, 0, -1};
  int32_t b[8] = {2, -2, -2, 2, -1, 7, 5, 3};
  harness h;
  void *ins[] = {a, b};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %a : i32[8]\n input %b : i32[8]\n"
              " %d : ?[*] = Div(%a, %b)\n %m : ?[*] = Mod(%a, %b)\n %f : ?[*] = Mod(%a, %b) {fmod = 1}\n"
              " %s : ?[*] = Add(%a, %b)\n output %d\n output %m\n output %f\n output %s\n}\n", ins)) {
    const int32_t *d = h.out[0], *m = h.out[1], *f = h.out[2], *s = h.out[3];
    const int32_t wd[8] = {-3, -3, 3, 3, INT32_MIN, 14, 0, 0};
    const int32_t wm[8] = {1, -1, -1, 1, 0, 2, 0, 2};   /* sign of the divisor */
    const int32_t wf[8] = {-1, 1, -1, 1, 0, 2, 0, -1};  /* sign of the dividend */
    const int32_t ws[8] = {-5, 5, -9, 9, INT32_MAX, 107, 5, 2}; /* INT32_MIN + -1 wraps */
    for (int i = 0; i < 8; i++) {
      CHECK_EQ_I(d[i], wd[i], "Div i32", i);
      CHECK_EQ_I(m[i], wm[i], "Mod i32", i);
      CHECK_EQ_I(f[i], wf[i], "Mod fmod=1 i32", i);
      CHECK_EQ_I(s[i], ws[i], "Add i32", i);
    }
  }
  h_free(&h);
  /* division by zero: rt_fail with a message, status set */
  int64_t x[3] = {1, 2, 3}, z[3] = {1, 0, 1};
  void *ins2[] = {x, z};
  CU_ASSERT_FATAL(h_build(&h, "graph \"t\" {\n opset \"\" 17\n input %a : i64[3]\n input %b : i64[3]\n"
                              " %d : ?[*] = Div(%a, %b)\n output %d\n}\n"));
  CU_ASSERT(h.p->calls[0].can_fail);
  CU_ASSERT_NOT_EQUAL(h_run(&h, ins2), 0);
  CU_ASSERT(strstr(h.rt.msg, "division by zero") != NULL);
  h_free(&h);
  void *ins3[] = {x, z};
  CU_ASSERT_FATAL(h_build(&h, "graph \"t\" {\n opset \"\" 17\n input %a : i64[3]\n input %b : i64[3]\n"
                              " %d : ?[*] = Mod(%a, %b)\n output %d\n}\n"));
  CU_ASSERT_NOT_EQUAL(h_run(&h, ins3), 0);
  CU_ASSERT(strstr(h.rt.msg, "by zero") != NULL);
  h_free(&h);
  /* u8 wraps; i8 Mul wraps; PRelu on ints */
  uint8_t u[3] = {250, 3, 0}, v[3] = {10, 5, 1};
  int8_t p[4] = {-3, 3, -100, 5}, sl[1] = {2};
  void *ins4[] = {u, v, p, sl};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %u : u8[3]\n input %v : u8[3]\n input %p : i8[4]\n"
              " input %s : i8[1]\n %a : ?[*] = Add(%u, %v)\n %b : ?[*] = Sub(%u, %v)\n"
              " %c : ?[*] = PRelu(%p, %s)\n output %a\n output %b\n output %c\n}\n", ins4)) {
    const uint8_t *a8 = h.out[0], *b8 = h.out[1];
    const int8_t *c8 = h.out[2];
    const uint8_t wa[3] = {4, 8, 1}, wb[3] = {240, 254, 255};
    const int8_t wc[4] = {-6, 3, 56, 5}; /* -100 * 2 = -200 wraps to 56 */
    for (int i = 0; i < 3; i++) {
      CHECK_EQ_I(a8[i], wa[i], "Add u8", i);
      CHECK_EQ_I(b8[i], wb[i], "Sub u8", i);
    }
    for (int i = 0; i < 4; i++) CHECK_EQ_I(c8[i], wc[i], "PRelu i8", i);
  }
  h_free(&h);
}

static void test_pow(void) {
  float x[6] = {2.0f, -2.0f, 0.5f, 0.0f, 9.0f, -1.5f}, e[6] = {3.0f, 2.0f, -1.0f, 0.5f, 0.5f, 2.5f};
  int64_t ie[6] = {3, 3, -1, 0, 2, 1};
  int32_t ib[4] = {2, -3, 5, 1};
  int64_t ibe[4] = {10, 3, -1, -5};
  harness h;
  void *ins[] = {x, e, ie, ib, ibe};
  if (run(&h, "graph \"t\" {\n opset \"\" 15\n input %x : f32[6]\n input %e : f32[6]\n input %ie : i64[6]\n"
              " input %ib : i32[4]\n input %ibe : i64[4]\n const %two : f32[] = [2.0]\n"
              " %a : ?[*] = Pow(%x, %e)\n %b : ?[*] = Pow(%x, %ie)\n %c : ?[*] = Pow(%x, %two)\n"
              " %d : ?[*] = Pow(%ib, %ibe)\n output %a\n output %b\n output %c\n output %d\n}\n", ins)) {
    const float *a = h.out[0], *b = h.out[1], *c = h.out[2];
    const int32_t *d = h.out[3];
    for (int i = 0; i < 6; i++) {
      CHECK_CLOSE(a[i], pow(x[i], e[i]), RT32, 0, "Pow f32^f32", i);
      CHECK_CLOSE(b[i], pow(x[i], (double)ie[i]), RT32, 0, "Pow f32^i64", i);
      CHECK_CLOSE(c[i], x[i] * x[i], 0, 0, "Pow f32^2", i);
    }
    const int32_t wd[4] = {1024, -27, 0, 1};
    for (int i = 0; i < 4; i++) CHECK_EQ_I(d[i], wd[i], "Pow i32^i64", i);
  }
  h_free(&h);
}

/* ---- compare, logic, Where, variadic ------------------------------------------------------------- */
static void test_compare_logic_where(void) {
  float a[5] = {1.0f, 2.0f, NAN, -1.0f, 3.0f}, b[5] = {1.0f, 1.0f, NAN, 0.0f, 4.0f};
  uint8_t p[4] = {0, 0, 1, 1}, q[4] = {0, 1, 0, 1};
  harness h;
  void *ins[] = {a, b, p, q};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %a : f32[5]\n input %b : f32[5]\n"
              " input %p : bool[4]\n input %q : bool[4]\n"
              " %eq : ?[*] = Equal(%a, %b)\n %lt : ?[*] = Less(%a, %b)\n %gt : ?[*] = Greater(%a, %b)\n"
              " %le : ?[*] = LessOrEqual(%a, %b)\n %ge : ?[*] = GreaterOrEqual(%a, %b)\n"
              " %and : ?[*] = And(%p, %q)\n %or : ?[*] = Or(%p, %q)\n %xor : ?[*] = Xor(%p, %q)\n"
              " %not : ?[*] = Not(%p)\n"
              " output %eq\n output %lt\n output %gt\n output %le\n output %ge\n"
              " output %and\n output %or\n output %xor\n output %not\n}\n", ins)) {
    const uint8_t *eq = h.out[0], *lt = h.out[1], *gt = h.out[2], *le = h.out[3];
    for (int i = 0; i < 5; i++) {
      CHECK_EQ_I(eq[i], a[i] == b[i], "Equal", i);
      CHECK_EQ_I(lt[i], a[i] < b[i], "Less", i);
      CHECK_EQ_I(gt[i], a[i] > b[i], "Greater", i);
      CHECK_EQ_I(le[i], a[i] <= b[i], "LessOrEqual", i);
    }
  }
  h_free(&h);
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %a : f32[5]\n input %b : f32[5]\n"
              " input %p : bool[4]\n input %q : bool[4]\n"
              " %and : ?[*] = And(%p, %q)\n %or : ?[*] = Or(%p, %q)\n %xor : ?[*] = Xor(%p, %q)\n"
              " %not : ?[*] = Not(%p)\n output %and\n output %or\n output %xor\n output %not\n}\n", ins)) {
    const uint8_t *an = h.out[0], *or = h.out[1], *xo = h.out[2], *no = h.out[3];
    for (int i = 0; i < 4; i++) {
      CHECK_EQ_I(an[i], p[i] && q[i], "And", i);
      CHECK_EQ_I(or[i], p[i] || q[i], "Or", i);
      CHECK_EQ_I(xo[i], p[i] != q[i], "Xor", i);
      CHECK_EQ_I(no[i], !p[i], "Not", i);
    }
  }
  h_free(&h);
  /* Where: cond [2,1], x [1,3], y scalar -> [2,3]; also i64 and a same-shape case */
  uint8_t c[2] = {1, 0}, c6[6] = {1, 0, 0, 1, 1, 0};
  float x[3] = {1.0f, 2.0f, 3.0f}, y = -9.0f;
  int64_t xi[6] = {1, 2, 3, 4, 5, 6}, yi[6] = {-1, -2, -3, -4, -5, -6};
  void *ins2[] = {c, x, &y, c6, xi, yi};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %c : bool[2,1]\n input %x : f32[1,3]\n input %y : f32[]\n"
              " input %c6 : bool[2,3]\n input %xi : i64[2,3]\n input %yi : i64[2,3]\n"
              " %w : ?[*] = Where(%c, %x, %y)\n %wi : ?[*] = Where(%c6, %xi, %yi)\n"
              " output %w\n output %wi\n}\n", ins2)) {
    const float *w = h.out[0];
    const int64_t *wi = h.out[1];
    for (int i = 0; i < 6; i++) {
      CHECK_CLOSE(w[i], c[i / 3] ? x[i % 3] : y, 0, 0, "Where f32", i);
      CHECK_EQ_I(wi[i], c6[i] ? xi[i] : yi[i], "Where i64", i);
    }
  }
  h_free(&h);
}

static void test_variadic(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, NAN, 30}, c = 0.5f;
  int32_t i1[2] = {5, -5}, i2[2] = {-7, 7}, i3[2] = {0, 0};
  harness h;
  void *ins[] = {a, b, &c, i1, i2, i3};
  if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %a : f32[2,3]\n input %b : f32[3]\n input %c : f32[]\n"
              " input %i1 : i32[2]\n input %i2 : i32[2]\n input %i3 : i32[2]\n"
              " %s : ?[*] = Sum(%a, %b, %c)\n %m : ?[*] = Mean(%a, %b, %c)\n %mx : ?[*] = Max(%a, %b, %c)\n"
              " %mn : ?[*] = Min(%i1, %i2, %i3)\n output %s\n output %m\n output %mx\n output %mn\n}\n", ins)) {
    const float *s = h.out[0], *m = h.out[1], *mx = h.out[2];
    const int32_t *mn = h.out[3];
    for (int i = 0; i < 6; i++) {
      float bb = b[i % 3];
      CHECK_CLOSE(s[i], a[i] + bb + c, 0, 0, "Sum", i);
      CHECK_CLOSE(m[i], (a[i] + bb + c) / 3.0f, 0, 0, "Mean", i);
      double w = isnan(bb) ? NAN : fmax(fmax(a[i], bb), c);
      CHECK_CLOSE(mx[i], w, 0, 0, "Max", i);
    }
    CHECK_EQ_I(mn[0], -7, "Min i32", 0);
    CHECK_EQ_I(mn[1], -5, "Min i32", 1);
  }
  h_free(&h);
}

/* ---- unary -------------------------------------------------------------------------------------- */
typedef double (*ref1)(double);
static double r_abs(double x) { return fabs(x); }
static double r_neg(double x) { return -x; }
static double r_recip(double x) { return 1 / x; }
static double r_relu(double x) { return x < 0 ? 0 : x; }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_sign(double x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }
static double r_softsign(double x) { return x / (1 + fabs(x)); }
static double r_softplus(double x) { return log1p(exp(x)); }
static double r_hardswish(double x) { return x * fmax(0, fmin(1, x / 6 + 0.5)); }
static double r_mish(double x) { return x * tanh(log1p(exp(x))); }
static double r_leaky(double x) { return x < 0 ? 0.1 * x : x; }
static double r_elu(double x) { return x < 0 ? 0.5 * (exp(x) - 1) : x; }
static double r_selu(double x) {
  const double a = 1.67326319217681884765625, g = 1.05070102214813232421875;
  return x > 0 ? g * x : g * (a * exp(x) - a);
}
static double r_celu(double x) { return fmax(0, x) + fmin(0, 2 * (exp(x / 2) - 1)); }
static double r_hardsig(double x) { return fmax(0, fmin(1, 0.3 * x + 0.4)); }
static double r_thrrelu(double x) { return x > 1.5 ? x : 0; }
static double r_shrink(double x) { return x < -1 ? x + 0.5 : x > 1 ? x - 0.5 : 0; }
static double r_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2))); }
/* = 0.5 x (1 + tanh u), without the cancellation of 1 + tanh u for x << 0 */
static double r_gelu_tanh(double x) {
  return x / (1 + exp(-2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

typedef struct unary_case {
  const char *op, *attrs;
  ref1 f;
  int dom; /* 0 any, 1 positive, 2 (-1, 1), 3 >= 1 */
  int opset;
} unary_case;

static const unary_case unary_cases[] = {
    {"Abs", "", r_abs, 0, 13}, {"Neg", "", r_neg, 0, 13}, {"Exp", "", exp, 0, 13},
    {"Log", "", log, 1, 13}, {"Sqrt", "", sqrt, 1, 13}, {"Reciprocal", "", r_recip, 0, 13},
    {"Relu", "", r_relu, 0, 14}, {"Sigmoid", "", r_sigmoid, 0, 13}, {"Tanh", "", tanh, 0, 13},
    {"Erf", "", erf, 0, 13}, {"Floor", "", floor, 0, 13}, {"Ceil", "", ceil, 0, 13},
    {"Round", "", rint, 0, 13}, {"Sign", "", r_sign, 0, 13}, {"Sin", "", sin, 0, 13},
    {"Cos", "", cos, 0, 13}, {"Tan", "", tan, 0, 13}, {"Asin", "", asin, 2, 13},
    {"Acos", "", acos, 2, 13}, {"Atan", "", atan, 0, 13}, {"Sinh", "", sinh, 0, 13},
    {"Cosh", "", cosh, 0, 13}, {"Asinh", "", asinh, 0, 13}, {"Acosh", "", acosh, 3, 13},
    {"Atanh", "", atanh, 2, 13}, {"Softsign", "", r_softsign, 0, 13},
    {"Softplus", "", r_softplus, 0, 13}, {"HardSwish", "", r_hardswish, 0, 14},
    {"Mish", "", r_mish, 0, 18}, {"LeakyRelu", "{alpha = 0.1}", r_leaky, 0, 16},
    {"Elu", "{alpha = 0.5}", r_elu, 0, 13}, {"Selu", "", r_selu, 0, 13},
    {"Celu", "{alpha = 2.0}", r_celu, 0, 13},
    {"HardSigmoid", "{alpha = 0.3, beta = 0.4}", r_hardsig, 0, 13},
    {"ThresholdedRelu", "{alpha = 1.5}", r_thrrelu, 0, 13},
    {"Shrink", "{bias = 0.5, lambd = 1.0}", r_shrink, 0, 13}, {"Gelu", "", r_gelu, 0, 20},
    {"Gelu", "{approximate = \"tanh\"}", r_gelu_tanh, 0, 20},
};

/* 40 points: negative, zero, small, large, halves (Round), and every lane count */
static void unary_points(int dom, float *x, int n) {
  static const float any[] = {-20.0f, -3.0f, -2.5f, -1.5f, -1.0f, -0.5f, -0.25f, 0.0f, 0.25f, 0.5f,
                              1.0f, 1.5f, 2.5f, 3.0f, 4.0f, 6.0f, 10.0f, 20.0f, -0.0f, 0.75f};
  for (int i = 0; i < n; i++) {
    float v = any[i % 20] + (i >= 20 ? 0.125f : 0.0f);
    if (dom == 1) v = fabsf(v) + 0.01f;
    if (dom == 2) v = v / 21.0f;
    if (dom == 3) v = fabsf(v) + 1.0f;
    x[i] = v;
  }
}

static void test_unary_float(void) {
  for (size_t k = 0; k < sizeof unary_cases / sizeof *unary_cases; k++) {
    const unary_case *c = &unary_cases[k];
    float x[40];
    double xd[40];
    unary_points(c->dom, x, 40);
    for (int i = 0; i < 40; i++) xd[i] = x[i];
    harness h;
    void *ins[] = {x, xd};
    const char *m = mirf("graph \"t\" {\n opset \"\" %d\n input %%x : f32[5,8]\n input %%xd : f64[40]\n"
                         " %%y : ?[*] = %s(%%x) %s\n %%yd : ?[*] = %s(%%xd) %s\n output %%y\n output %%yd\n}\n",
                         c->opset, c->op, c->attrs, c->op, c->attrs);
    if (run(&h, m, ins)) {
      const float *y = h.out[0];
      const double *yd = h.out[1];
      for (int i = 0; i < 40; i++) {
        double w = c->f(x[i]);
        /* Celu/Selu/Elu/HardSwish etc. use float attributes: compare loosely */
        CHECK_CLOSE(y[i], w, 1e-5, 1e-6, c->op, i);
        CHECK_CLOSE(yd[i], w, 1e-7, 1e-9, c->op, i);
      }
    }
    h_free(&h);
  }
  /* Round is half to even */
  float r[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, -2.6f};
  const float wr[8] = {0, 2, 2, -0.0f, -2, -2, 2, -3};
  harness h;
  void *ins[] = {r};
  if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %x : f32[8]\n %y : ?[*] = Round(%x)\n output %y\n}\n", ins)) {
    const float *y = h.out[0];
    for (int i = 0; i < 8; i++) CHECK_CLOSE(y[i], wr[i], 0, 0, "Round", i);
  }
  h_free(&h);
  /* NaN through the vector ops (Relu, Abs) and the scalar ones (Exp) */
  float nx[17];
  for (int i = 0; i < 17; i++) nx[i] = i == 3 || i == 16 ? NAN : (float)i - 8.0f;
  void *ins2[] = {nx};
  if (run(&h, "graph \"t\" {\n opset \"\" 14\n input %x : f32[17]\n %a : ?[*] = Relu(%x)\n"
              " %b : ?[*] = Abs(%x)\n %c : ?[*] = Exp(%x)\n output %a\n output %b\n output %c\n}\n", ins2)) {
    const float *a = h.out[0], *b = h.out[1], *c = h.out[2];
    for (int i = 0; i < 17; i++) {
      CHECK_CLOSE(a[i], isnan(nx[i]) ? NAN : r_relu(nx[i]), 0, 0, "Relu NaN", i);
      CHECK_CLOSE(b[i], fabs(nx[i]), 0, 0, "Abs NaN", i);
      CHECK_CLOSE(c[i], exp(nx[i]), RT32, 0, "Exp NaN", i);
    }
  }
  h_free(&h);
}

/* The f32 vector math (exp, tanh, erf, erfc) over dense ranges: a few ulp, and
 * Gelu keeps its relative precision in the negative tail. */
static double r_gelu_erfc(double x) { return 0.5 * x * erfc(-x / sqrt(2)); }
static void test_unary_vector_math(void) {
  enum { N = 4001 };
  static float x[N], xe[N];
  for (int i = 0; i < N; i++) {
    x[i] = -12.0f + 24.0f * (float)i / (N - 1) + 1e-4f;
    xe[i] = -100.0f + 188.0f * (float)i / (N - 1) + 1e-4f;
  }
  struct { const char *op; ref1 f; double rtol; bool wide; } c[] = {
      {"Exp", exp, 3e-7, true},         {"Tanh", tanh, 3e-7, false},
      {"Erf", erf, 5e-7, false},        {"Sigmoid", r_sigmoid, 5e-7, true},
      {"Gelu", r_gelu_erfc, 2e-6, false}, {"Gelu", r_gelu_tanh, 2e-6, false},
  };
  for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
    harness h;
    void *ins[] = {c[k].wide ? xe : x};
    const char *m = mirf("graph \"t\" {\n opset \"\" 20\n input %%x : f32[%d]\n %%y : ?[*] = %s(%%x) %s\n"
                         " output %%y\n}\n", N, c[k].op, k == 5 ? "{approximate = \"tanh\"}" : "");
    if (run(&h, m, ins)) {
      const float *y = h.out[0], *xs = ins[0];
      for (int i = 0; i < N; i++) {
        double w = c[k].f(xs[i]);
        /* conditioning: rounding x/sqrt2 to float costs erfc a relative 2 z^2 eps
         * = x^2 eps; rounding 2u (x^3, the sum) costs the tanh form about 2 |2u| eps */
        double xi = xs[i], u2 = 2 * sqrt(2 / M_PI) * fabs(xi + 0.044715 * xi * xi * xi);
        double rt = c[k].rtol + (k == 4 ? xi * xi * 1.2e-7 : k == 5 ? u2 * 2.4e-7 : 0);
        CHECK_CLOSE(y[i], w, rt, 1e-37, c[k].op, i);
      }
    }
    h_free(&h);
  }
}

static void test_unary_int(void) {
  int32_t x[6] = {-5, 0, 7, INT32_MIN, -1, 2};
  int64_t xl[3] = {-3, 0, 3};
  harness h;
  void *ins[] = {x, xl};
  if (run(&h, "graph \"t\" {\n opset \"\" 14\n input %x : i32[6]\n input %xl : i64[3]\n"
              " %a : ?[*] = Abs(%x)\n %n : ?[*] = Neg(%x)\n %s : ?[*] = Sign(%x)\n %r : ?[*] = Relu(%xl)\n"
              " output %a\n output %n\n output %s\n output %r\n}\n", ins)) {
    const int32_t *a = h.out[0], *n = h.out[1], *s = h.out[2];
    const int64_t *r = h.out[3];
    const int32_t wa[6] = {5, 0, 7, INT32_MIN, 1, 2}, wn[6] = {5, 0, -7, INT32_MIN, 1, -2};
    for (int i = 0; i < 6; i++) {
      CHECK_EQ_I(a[i], wa[i], "Abs i32", i);
      CHECK_EQ_I(n[i], wn[i], "Neg i32", i);
      CHECK_EQ_I(s[i], x[i] > 0 ? 1 : x[i] < 0 ? -1 : 0, "Sign i32", i);
    }
    for (int i = 0; i < 3; i++) CHECK_EQ_I(r[i], xl[i] < 0 ? 0 : xl[i], "Relu i64", i);
  }
  h_free(&h);
}

static void test_isx(void) {
  float x[6] = {1.0f, NAN, INFINITY, -INFINITY, 0.0f, -NAN};
  double xd[3] = {NAN, INFINITY, -INFINITY};
  harness h;
  void *ins[] = {x, xd};
  if (run(&h, "graph \"t\" {\n opset \"\" 20\n input %x : f32[6]\n input %xd : f64[3]\n"
              " %n : ?[*] = IsNaN(%x)\n %i : ?[*] = IsInf(%x)\n %p : ?[*] = IsInf(%x) {detect_negative = 0}\n"
              " %q : ?[*] = IsInf(%xd) {detect_positive = 0}\n output %n\n output %i\n output %p\n output %q\n}\n",
          ins)) {
    const uint8_t *n = h.out[0], *i = h.out[1], *p = h.out[2], *q = h.out[3];
    for (int k = 0; k < 6; k++) {
      CHECK_EQ_I(n[k], isnan(x[k]) != 0, "IsNaN", k);
      CHECK_EQ_I(i[k], isinf(x[k]) != 0, "IsInf", k);
      CHECK_EQ_I(p[k], x[k] == INFINITY, "IsInf pos", k);
    }
    for (int k = 0; k < 3; k++) CHECK_EQ_I(q[k], xd[k] == -INFINITY, "IsInf neg f64", k);
  }
  h_free(&h);
}

/* ---- Cast ---------------------------------------------------------------------------------------- */
/* Reference: float -> int truncates and saturates, NaN -> 0; int -> int wraps; x -> bool is x != 0. */
static double cast_ref(double v, ir_dtype to, bool from_float) {
  if (to == IR_BOOL) return v != 0;
  if (to == IR_F32) return (float)v;
  if (to == IR_F64) return v;
  double lo, hi;
  switch (to) {
  case IR_I8: lo = -128, hi = 127; break;
  case IR_I32: lo = -2147483648.0, hi = 2147483647.0; break;
  case IR_I64: lo = -9223372036854775808.0, hi = 9223372036854775807.0; break;
  case IR_U8: lo = 0, hi = 255; break;
  default: lo = 0, hi = 65535; break; /* u16 */
  }
  if (to == IR_I64 && !from_float) return v; /* every source int fits */
  if (from_float) {
    if (isnan(v)) return 0;
    v = trunc(v);
    return v < lo ? lo : v > hi ? hi : v;
  }
  double span = hi - lo + 1; /* wrap (exact for the small ints used here) */
  double w = fmod(v - lo, span);
  if (w < 0) w += span;
  return w + lo;
}

static double get_elem(const void *p, ir_dtype t, int i) {
  switch (t) {
  case IR_F32: return ((const float *)p)[i];
  case IR_F64: return ((const double *)p)[i];
  case IR_I8: return ((const int8_t *)p)[i];
  case IR_I32: return ((const int32_t *)p)[i];
  case IR_I64: return (double)((const int64_t *)p)[i];
  case IR_U8: return ((const uint8_t *)p)[i];
  case IR_U16: return ((const uint16_t *)p)[i];
  case IR_BOOL: return ((const uint8_t *)p)[i];
  default: return NAN;
  }
}

static void test_cast(void) {
  static const ir_dtype types[] = {IR_F32, IR_F64, IR_I8, IR_I32, IR_I64, IR_U8, IR_U16, IR_BOOL};
  enum { NT = sizeof types / sizeof *types, N = 8 };
  static const double vals[N] = {-1.5, 0.0, 2.7, 300.0, -129.0, 1e10, -3e10, 70000.0};
  for (int a = 0; a < NT; a++) {
    ir_dtype from = types[a];
    /* source values in the source dtype */
    unsigned char src[N * 8];
    for (int i = 0; i < N; i++) {
      double v = vals[i];
      switch (from) {
      case IR_F32: ((float *)src)[i] = (float)v; break;
      case IR_F64: ((double *)src)[i] = v; break;
      case IR_I8: ((int8_t *)src)[i] = (int8_t)cast_ref(v, IR_I8, true); break;
      case IR_I32: ((int32_t *)src)[i] = (int32_t)cast_ref(v, IR_I32, true); break;
      case IR_I64: ((int64_t *)src)[i] = (int64_t)cast_ref(v, IR_I64, true); break;
      case IR_U8: ((uint8_t *)src)[i] = (uint8_t)cast_ref(v, IR_U8, true); break;
      case IR_U16: ((uint16_t *)src)[i] = (uint16_t)cast_ref(v, IR_U16, true); break;
      default: ((uint8_t *)src)[i] = v != 0; break;
      }
    }
    if (from == IR_F32) ((float *)src)[1] = NAN;
    for (int b = 0; b < NT; b++) {
      ir_dtype to = types[b];
      harness h;
      void *ins[] = {src};
      const char *m = mirf("graph \"t\" {\n opset \"\" 13\n input %%x : %s[8]\n"
                           " %%y : ?[*] = Cast(%%x) {to = %d}\n output %%y\n}\n",
                           ir_dtype_name(from), (int)to);
      if (run(&h, m, ins)) {
        bool ff = from == IR_F32 || from == IR_F64;
        for (int i = 0; i < N; i++) {
          double v = get_elem(src, from, i);
          double want = cast_ref(v, to, ff), got = get_elem(h.out[0], to, i);
          if (to == IR_I64 && ff && want >= 9223372036854775807.0) want = 9223372036854775807.0;
          if (!close_to(got, want, 0, 0)) {
            fprintf(stderr, "Cast %s -> %s of %g: got %.17g want %.17g\n", ir_dtype_name(from),
                    ir_dtype_name(to), v, got, want);
            CU_FAIL("Cast mismatch");
          }
        }
      }
      h_free(&h);
    }
  }
  /* f16 and bf16: round to nearest even, overflow to inf, NaN and subnormals */
  {
    float f[8] = {1.0f, 65504.0f, 65520.0f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 0x1p-24f, -0.0f, NAN};
    const uint16_t wh[8] = {0x3c00, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x0001, 0x8000, 0x7e00};
    float g[3] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.0f};
    const uint16_t wb[3] = {0x3f80, 0x3f82, 0xc000};
    harness h;
    void *ins[] = {f, g};
    if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %f : f32[8]\n input %g : f32[3]\n"
                " %h : ?[*] = Cast(%f) {to = 10}\n %b : ?[*] = Cast(%g) {to = 16}\n"
                " %hb : ?[*] = Cast(%h) {to = 1}\n output %h\n output %b\n output %hb\n}\n", ins)) {
      const uint16_t *hh = h.out[0], *bb = h.out[1];
      const float *back = h.out[2];
      for (int i = 0; i < 8; i++) CHECK_EQ_I(hh[i], wh[i], "Cast f32->f16", i);
      for (int i = 0; i < 3; i++) CHECK_EQ_I(bb[i], wb[i], "Cast f32->bf16", i);
      const float wback[8] = {1.0f, 65504.0f, INFINITY, 1.0f, 1.0f + 4 * 0x1p-11f, 0x1p-24f, -0.0f, NAN};
      for (int i = 0; i < 8; i++) CHECK_CLOSE(back[i], wback[i], 0, 0, "Cast f16->f32", i);
    }
    h_free(&h);
  }
  /* CastLike writes its output after two inputs */
  float x[3] = {1.9f, -1.9f, 0.0f};
  int64_t like[1] = {0};
  harness h;
  void *ins[] = {x, like};
  if (run(&h, "graph \"t\" {\n opset \"\" 15\n input %x : f32[3]\n input %l : i64[1]\n"
              " %y : ?[*] = CastLike(%x, %l)\n output %y\n}\n", ins)) {
    const int64_t *y = h.out[0];
    CHECK_EQ_I(y[0], 1, "CastLike", 0);
    CHECK_EQ_I(y[1], -1, "CastLike", 1);
    CHECK_EQ_I(y[2], 0, "CastLike", 2);
    CHECK_EQ_I(like[0], 0, "CastLike leaves input 1 alone", 0);
  }
  h_free(&h);
}

/* ---- Clip ---------------------------------------------------------------------------------------- */
static void test_clip(void) {
  float x[20];
  for (int i = 0; i < 20; i++) x[i] = (float)i - 10.0f;
  x[5] = NAN;
  int32_t xi[5] = {-10, -1, 0, 1, 10};
  harness h;
  void *ins[] = {x};
  /* opset 6: attributes */
  if (run(&h, "graph \"t\" {\n opset \"\" 6\n input %x : f32[20]\n"
              " %y : ?[*] = Clip(%x) {min = -2.5, max = 3.0}\n %z : ?[*] = Clip(%x) {max = 0.5}\n"
              " output %y\n output %z\n}\n", ins)) {
    const float *y = h.out[0], *z = h.out[1];
    for (int i = 0; i < 20; i++) {
      CHECK_CLOSE(y[i], isnan(x[i]) ? NAN : fmin(3.0, fmax(-2.5, x[i])), 0, 0, "Clip attrs", i);
      CHECK_CLOSE(z[i], isnan(x[i]) ? NAN : fmin(0.5, x[i]), 0, 0, "Clip max attr", i);
    }
  }
  h_free(&h);
  /* opset 13: inputs, an omitted min, integers, and min > max (everything is max) */
  void *ins2[] = {x, xi};
  if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %x : f32[20]\n input %xi : i32[5]\n"
              " const %lo : f32[] = [-1.0]\n const %hi : f32[] = [2.0]\n"
              " const %ilo : i32[] = [-2]\n const %ihi : i32[] = [3]\n const %big : f32[] = [5.0]\n"
              " %a : ?[*] = Clip(%x, %lo, %hi)\n %b : ?[*] = Clip(%x, _, %hi)\n"
              " %c : ?[*] = Clip(%xi, %ilo, %ihi)\n %d : ?[*] = Clip(%x, %big, %hi)\n"
              " output %a\n output %b\n output %c\n output %d\n}\n", ins2)) {
    const float *a = h.out[0], *b = h.out[1], *d = h.out[3];
    const int32_t *c = h.out[2];
    for (int i = 0; i < 20; i++) {
      CHECK_CLOSE(a[i], isnan(x[i]) ? NAN : fmin(2.0, fmax(-1.0, x[i])), 0, 0, "Clip inputs", i);
      CHECK_CLOSE(b[i], isnan(x[i]) ? NAN : fmin(2.0, x[i]), 0, 0, "Clip max only", i);
      CHECK_CLOSE(d[i], isnan(x[i]) ? NAN : 2.0, 0, 0, "Clip min > max", i);
    }
    const int32_t wc[5] = {-2, -1, 0, 1, 3};
    for (int i = 0; i < 5; i++) CHECK_EQ_I(c[i], wc[i], "Clip i32", i);
  }
  h_free(&h);
}

/* ---- Softmax family ---------------------------------------------------------------------------- */
/* softmax of x viewed as [outer, len, inner] along len */
static void ref_softmax(int op, const float *x, double *y, int outer, int len, int inner) {
  for (int o = 0; o < outer; o++)
    for (int j = 0; j < inner; j++) {
      const float *xs = x + o * len * inner + j;
      double *ys = y + o * len * inner + j;
      double m = -INFINITY, s = 0;
      int b = 0;
      for (int k = 0; k < len; k++) {
        if (xs[k * inner] > m) m = xs[k * inner];
        if (xs[k * inner] > xs[b * inner]) b = k;
      }
      for (int k = 0; k < len; k++) s += exp(xs[k * inner] - m);
      for (int k = 0; k < len; k++)
        ys[k * inner] = op == 0 ? exp(xs[k * inner] - m) / s : op == 1 ? xs[k * inner] - m - log(s) : k == b;
    }
}

static void test_softmax(void) {
  float x[2 * 3 * 20];
  for (int i = 0; i < 120; i++) x[i] = (float)((i * 37) % 23) * 0.7f - 6.0f;
  x[7] = 1000.0f; /* stability */
  x[8] = 1000.0f;
  static const char *ops[] = {"Softmax", "LogSoftmax", "Hardmax"};
  for (int op = 0; op < 3; op++) {
    harness h;
    void *ins[] = {x};
    /* opset 11: axis 1 flattens [2,3,20] to [2,60]; opset 13: axis 1 is strided (inner 20);
     * default axis -1 (rows of 20) */
    const char *m11 = mirf("graph \"t\" {\n opset \"\" 11\n input %%x : f32[2,3,20]\n"
                           " %%a : ?[*] = %s(%%x)\n %%b : ?[*] = %s(%%x) {axis = 2}\n output %%a\n output %%b\n}\n",
                           ops[op], ops[op]);
    double w[120];
    if (run(&h, m11, ins)) {
      const float *a = h.out[0], *b = h.out[1];
      ref_softmax(op, x, w, 2, 60, 1);
      for (int i = 0; i < 120; i++) CHECK_CLOSE(a[i], w[i], 1e-5, 1e-6, ops[op], i);
      ref_softmax(op, x, w, 6, 20, 1);
      for (int i = 0; i < 120; i++) CHECK_CLOSE(b[i], w[i], 1e-5, 1e-6, ops[op], i);
    }
    h_free(&h);
    const char *m13 = mirf("graph \"t\" {\n opset \"\" 13\n input %%x : f32[2,3,20]\n"
                           " %%a : ?[*] = %s(%%x) {axis = 1}\n %%b : ?[*] = %s(%%x)\n"
                           " %%c : ?[*] = %s(%%x) {axis = -3}\n output %%a\n output %%b\n output %%c\n}\n",
                           ops[op], ops[op], ops[op]);
    if (run(&h, m13, ins)) {
      const float *a = h.out[0], *b = h.out[1], *c = h.out[2];
      ref_softmax(op, x, w, 2, 3, 20);
      for (int i = 0; i < 120; i++) CHECK_CLOSE(a[i], w[i], 1e-5, 1e-6, ops[op], i);
      ref_softmax(op, x, w, 6, 20, 1);
      for (int i = 0; i < 120; i++) CHECK_CLOSE(b[i], w[i], 1e-5, 1e-6, ops[op], i);
      ref_softmax(op, x, w, 1, 2, 60);
      for (int i = 0; i < 120; i++) CHECK_CLOSE(c[i], w[i], 1e-5, 1e-6, ops[op], i);
    }
    h_free(&h);
  }
  /* a NaN in the 16-lane body or in the tail poisons its whole row (and only it) */
  {
    float xn[3 * 20];
    for (int i = 0; i < 60; i++) xn[i] = (float)(i % 7);
    xn[5] = NAN;  /* row 0, vector body */
    xn[39] = NAN; /* row 1, tail */
    harness hn;
    void *insn[] = {xn};
    if (run(&hn, "graph \"t\" {\n opset \"\" 13\n input %x : f32[3,20]\n %a : ?[*] = Softmax(%x)\n"
                 " %b : ?[*] = LogSoftmax(%x)\n output %a\n output %b\n}\n", insn)) {
      const float *a = hn.out[0], *b = hn.out[1];
      for (int i = 0; i < 60; i++) {
        CU_ASSERT_EQUAL(isnan(a[i]) != 0, i < 40);
        CU_ASSERT_EQUAL(isnan(b[i]) != 0, i < 40);
      }
    }
    h_free(&hn);
  }
  /* f64, and Hardmax ties go to the first index */
  double xd[6] = {1, 3, 3, -1, -1, -1};
  harness h;
  void *ins[] = {xd};
  if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %x : f64[2,3]\n %a : ?[*] = Softmax(%x)\n"
              " %b : ?[*] = Hardmax(%x)\n output %a\n output %b\n}\n", ins)) {
    const double *a = h.out[0], *b = h.out[1];
    double s0 = exp(1) + 2 * exp(3);
    CHECK_CLOSE(a[0], exp(1) / s0, 1e-14, 0, "Softmax f64", 0);
    CHECK_CLOSE(a[1], exp(3) / s0, 1e-14, 0, "Softmax f64", 1);
    CHECK_CLOSE(a[4], 1.0 / 3, 1e-14, 0, "Softmax f64", 4);
    const double wb[6] = {0, 1, 0, 1, 0, 0};
    for (int i = 0; i < 6; i++) CHECK_CLOSE(b[i], wb[i], 0, 0, "Hardmax ties", i);
  }
  h_free(&h);
}

/* ---- Reduce* ---------------------------------------------------------------------------------- */
enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LSE, R_N };
static const char *red_names[R_N] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
                                     "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
                                     "ReduceLogSum", "ReduceLogSumExp"};

/* x is [2,3,4]; red[d] marks reduced dims; y in output order (kept dims, row major) */
static int ref_reduce(int op, const float *x, const bool *red, double *y) {
  const int D[3] = {2, 3, 4};
  int ny = 0;
  for (int i0 = 0; i0 < (red[0] ? 1 : 2); i0++)
    for (int i1 = 0; i1 < (red[1] ? 1 : 3); i1++)
      for (int i2 = 0; i2 < (red[2] ? 1 : 4); i2++) {
        double a = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : op == R_PROD ? 1 : 0, m = -INFINITY;
        int cnt = 0;
        for (int pass = 0; pass < 2; pass++)
          for (int j0 = 0; j0 < (red[0] ? D[0] : 1); j0++)
            for (int j1 = 0; j1 < (red[1] ? D[1] : 1); j1++)
              for (int j2 = 0; j2 < (red[2] ? D[2] : 1); j2++) {
                double v = x[((i0 + j0) * 3 + (i1 + j1)) * 4 + (i2 + j2)];
                if (pass == 0) {
                  m = fmax(m, v);
                  continue;
                }
                cnt++;
                switch (op) {
                case R_SUM: case R_MEAN: case R_LOGSUM: a += v; break;
                case R_MAX: a = fmax(a, v); break;
                case R_MIN: a = fmin(a, v); break;
                case R_PROD: a *= v; break;
                case R_L1: a += fabs(v); break;
                case R_L2: case R_SUMSQ: a += v * v; break;
                case R_LSE: a += exp(v - m); break;
                }
              }
        y[ny++] = op == R_MEAN ? a / cnt : op == R_L2 ? sqrt(a) : op == R_LOGSUM ? log(a)
                : op == R_LSE ? m + log(a) : a;
      }
  return ny;
}

static void test_reduce(void) {
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)((i * 7) % 11) * 0.25f + 0.1f;
  /* axes variants: the last axis (rows), the middle (columns), the first, two separate
   * axes (the general path), two neighbours, and all */
  struct { const char *axes; bool red[3]; } av[] = {
      {"[-1]", {0, 0, 1}}, {"[1]", {0, 1, 0}}, {"[0]", {1, 0, 0}},
      {"[0, 2]", {1, 0, 1}}, {"[1, 2]", {0, 1, 1}}, {"[]", {1, 1, 1}},
  };
  for (int op = 0; op < R_N; op++)
    for (size_t a = 0; a < sizeof av / sizeof *av; a++)
      for (int keep = 0; keep < 2; keep++)
        for (int form = 0; form < 2; form++) { /* 0: attribute (opset 11), 1: input (opset 18) */
          harness h;
          void *ins[] = {x};
          const char *m;
          char axattr[64] = "";
          if (strcmp(av[a].axes, "[]")) snprintf(axattr, sizeof axattr, "axes = %s,", av[a].axes);
          if (form == 0)
            m = mirf("graph \"t\" {\n opset \"\" 11\n input %%x : f32[2,3,4]\n"
                     " %%y : ?[*] = %s(%%x) {%s keepdims = %d}\n output %%y\n}\n", red_names[op],
                     axattr, keep);
          else {
            char ax[64];
            snprintf(ax, sizeof ax, "%s", av[a].axes);
            int na = !strcmp(ax, "[]") ? 0 : strchr(ax, ',') ? 2 : 1;
            m = mirf("graph \"t\" {\n opset \"\" 18\n input %%x : f32[2,3,4]\n const %%ax : i64[%d] = %s\n"
                     " %%y : ?[*] = %s(%%x, %%ax) {keepdims = %d}\n output %%y\n}\n", na, ax,
                     red_names[op], keep);
          }
          char mcopy[4096];
          snprintf(mcopy, sizeof mcopy, "%s", m);
          if (!run(&h, mcopy, ins)) {
            h_free(&h);
            continue;
          }
          double w[24];
          int nw = ref_reduce(op, x, av[a].red, w);
          const be_tensor_desc *od = &h.p->outputs[0];
          int64_t ne = 1;
          for (int i = 0; i < od->rank; i++) ne *= od->dims[i];
          CU_ASSERT_EQUAL(ne, nw);
          CU_ASSERT_EQUAL(od->rank, keep ? 3 : 3 - (int)(av[a].red[0] + av[a].red[1] + av[a].red[2]));
          const float *y = h.out[0];
          for (int i = 0; i < nw && i < ne; i++) CHECK_CLOSE(y[i], w[i], 1e-5, 1e-6, red_names[op], i);
          h_free(&h);
        }
  /* noop_with_empty_axes: the output is the input; without it, empty axes reduce all */
  harness h;
  void *ins[] = {x};
  if (run(&h, "graph \"t\" {\n opset \"\" 18\n input %x : f32[2,3,4]\n const %e : i64[0] = []\n"
              " %y : ?[*] = ReduceLogSumExp(%x, %e) {noop_with_empty_axes = 1}\n"
              " %z : ?[*] = ReduceL2(%x) {noop_with_empty_axes = 1}\n %s : ?[*] = ReduceSum(%x, %e)\n"
              " output %y\n output %z\n output %s\n}\n", ins)) {
    const float *y = h.out[0], *z = h.out[1], *s = h.out[2];
    double tot = 0;
    for (int i = 0; i < 24; i++) {
      CHECK_CLOSE(y[i], x[i], 0, 0, "noop", i);
      CHECK_CLOSE(z[i], x[i], 0, 0, "noop", i);
      tot += x[i];
    }
    CHECK_CLOSE(s[0], tot, 1e-6, 0, "ReduceSum empty axes", 0);
  }
  h_free(&h);
  /* integers and a long row (vector loop plus tail); LogSumExp of large values */
  int32_t xi[6] = {5, -3, 7, 2, 2, -9};
  float big[35];
  for (int i = 0; i < 35; i++) big[i] = 500.0f + (float)i;
  void *ins2[] = {xi, big};
  if (run(&h, "graph \"t\" {\n opset \"\" 18\n input %x : i32[2,3]\n input %b : f32[35]\n"
              " const %a1 : i64[1] = [1]\n const %a0 : i64[1] = [0]\n"
              " %s : ?[*] = ReduceSum(%x, %a1) {keepdims = 0}\n %m : ?[*] = ReduceMax(%x)\n"
              " %l : ?[*] = ReduceLogSumExp(%b)\n %n : ?[*] = ReduceMean(%b, %a0)\n"
              " output %s\n output %m\n output %l\n output %n\n}\n", ins2)) {
    const int32_t *s = h.out[0], *m = h.out[1];
    const float *l = h.out[2];
    CHECK_EQ_I(s[0], 9, "ReduceSum i32", 0);
    CHECK_EQ_I(s[1], -5, "ReduceSum i32", 1);
    CHECK_EQ_I(m[0], 7, "ReduceMax i32", 0);
    double lse = 0;
    for (int i = 0; i < 35; i++) lse += exp(big[i] - 534.0);
    CHECK_CLOSE(l[0], 534.0 + log(lse), 1e-6, 0, "ReduceLogSumExp stable", 0);
    CHECK_CLOSE(((const float *)h.out[3])[0], 517.0, 1e-6, 0, "ReduceMean row", 0);
  }
  h_free(&h);
  /* a non-constant axes input is a diagnostic */
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 18\n input %x : f32[2,3]\n input %a : i64[1]\n"
                              " %y : ?[*] = ReduceMean(%x, %a) {keepdims = 1}\n output %y\n}\n"));
  CU_ASSERT(h.d->nerrors > 0);
  h_free(&h);
}

static void test_argminmax(void) {
  float x[12] = {1, 5, 5, 2, /**/ 3, 3, 0, 3, /**/ NAN, 1, 9, 9};
  harness h;
  void *ins[] = {x};
  if (run(&h, "graph \"t\" {\n opset \"\" 13\n input %x : f32[3,4]\n"
              " %a : ?[*] = ArgMax(%x) {axis = 1}\n %b : ?[*] = ArgMax(%x) {axis = 1, select_last_index = 1}\n"
              " %c : ?[*] = ArgMin(%x) {axis = 0, keepdims = 0}\n"
              " %d : ?[*] = ArgMin(%x) {axis = -1, keepdims = 0, select_last_index = 1}\n"
              " output %a\n output %b\n output %c\n output %d\n}\n", ins)) {
    const int64_t *a = h.out[0], *b = h.out[1], *c = h.out[2], *d = h.out[3];
    CU_ASSERT_EQUAL(h.p->outputs[0].rank, 2);
    CU_ASSERT_EQUAL(h.p->outputs[2].rank, 1);
    const int64_t wa[3] = {1, 0, 0}, wb[3] = {2, 3, 0}; /* NaN counts as the largest */
    const int64_t wc[4] = {2, 2, 1, 0}, wd[3] = {0, 2, 0};
    for (int i = 0; i < 3; i++) {
      CHECK_EQ_I(a[i], wa[i], "ArgMax", i);
      CHECK_EQ_I(b[i], wb[i], "ArgMax select_last", i);
      CHECK_EQ_I(d[i], wd[i], "ArgMin select_last", i);
    }
    for (int i = 0; i < 4; i++) CHECK_EQ_I(c[i], wc[i], "ArgMin axis 0", i);
  }
  h_free(&h);
}

/* ---- normalizations ---------------------------------------------------------------------------- */
static void test_layernorm(void) {
  float x[2 * 3 * 20], sc[60], bi[60], s20[20], b20[20];
  for (int i = 0; i < 120; i++) x[i] = (float)((i * 13) % 17) * 0.3f - 2.0f;
  for (int i = 0; i < 60; i++) sc[i] = 1.0f + (float)i * 0.01f, bi[i] = (float)i * -0.02f;
  for (int i = 0; i < 20; i++) s20[i] = sc[i], b20[i] = bi[i];
  harness h;
  void *ins[] = {x, sc, bi, s20, b20};
  if (run(&h, "graph \"t\" {\n opset \"\" 17\n input %x : f32[2,3,20]\n input %s : f32[3,20]\n"
              " input %b : f32[3,20]\n input %s20 : f32[20]\n input %b20 : f32[20]\n"
              " %y : ?[*], %m : ?[*], %iv : ?[*] = LayerNormalization(%x, %s20, %b20) {epsilon = 0.001}\n"
              " %z : ?[*] = LayerNormalization(%x, %s) {axis = 1}\n"
              " %w : ?[*] = LayerNormalization(%x, %s20, %b20) {axis = 1}\n"
              " output %y\n output %m\n output %z\n output %w\n}\n", ins)) {
    const float *y = h.out[0], *m = h.out[1], *z = h.out[2], *w = h.out[3];
    for (int pass = 0; pass < 3; pass++) {
      int len = pass == 0 ? 20 : 60;
      double eps = pass == 0 ? 1e-3 : 1e-5;
      for (int o = 0; o < 120 / len; o++) {
        double mean = 0, var = 0;
        for (int j = 0; j < len; j++) mean += x[o * len + j];
        mean /= len;
        for (int j = 0; j < len; j++) var += (x[o * len + j] - mean) * (x[o * len + j] - mean);
        var /= len;
        double inv = 1 / sqrt(var + eps);
        if (pass == 0) CHECK_CLOSE(m[o], mean, 1e-5, 1e-6, "LayerNorm Mean", o);
        for (int j = 0; j < len; j++) {
          double n = (x[o * len + j] - mean) * inv;
          if (pass == 0) CHECK_CLOSE(y[o * len + j], n * s20[j] + b20[j], 1e-5, 1e-5, "LayerNorm", j);
          if (pass == 1) CHECK_CLOSE(z[o * len + j], n * sc[j], 1e-5, 1e-5, "LayerNorm no bias", j);
          if (pass == 2) /* scale [20] broadcast over [3,20] */
            CHECK_CLOSE(w[o * len + j], n * s20[j % 20] + b20[j % 20], 1e-5, 1e-5, "LayerNorm bcast", j);
        }
      }
    }
  }
  h_free(&h);
}

static void test_batch_instance_norm(void) {
  float x[2 * 3 * 4], sc[3] = {1.0f, 2.0f, 0.5f}, b[3] = {0.0f, -1.0f, 3.0f}, mu[3] = {0.5f, 1.0f, -2.0f},
        var[3] = {1.0f, 4.0f, 0.25f};
  for (int i = 0; i < 24; i++) x[i] = (float)((i * 5) % 7) - 3.0f;
  harness h;
  void *ins[] = {x, sc, b, mu, var};
  if (run(&h, "graph \"t\" {\n opset \"\" 15\n input %x : f32[2,3,2,2]\n input %s : f32[3]\n input %b : f32[3]\n"
              " input %m : f32[3]\n input %v : f32[3]\n"
              " %y : ?[*] = BatchNormalization(%x, %s, %b, %m, %v) {epsilon = 0.01}\n"
              " %z : ?[*] = InstanceNormalization(%x, %s, %b)\n output %y\n output %z\n}\n", ins)) {
    const float *y = h.out[0], *z = h.out[1];
    for (int n = 0; n < 2; n++)
      for (int c = 0; c < 3; c++) {
        double mean = 0, vv = 0;
        for (int s = 0; s < 4; s++) mean += x[(n * 3 + c) * 4 + s];
        mean /= 4;
        for (int s = 0; s < 4; s++) vv += pow(x[(n * 3 + c) * 4 + s] - mean, 2);
        vv /= 4;
        for (int s = 0; s < 4; s++) {
          int i = (n * 3 + c) * 4 + s;
          CHECK_CLOSE(y[i], (x[i] - mu[c]) / sqrt(var[c] + 0.01) * sc[c] + b[c], 1e-5, 1e-6, "BatchNorm", i);
          CHECK_CLOSE(z[i], (x[i] - mean) / sqrt(vv + 1e-5) * sc[c] + b[c], 1e-5, 1e-5, "InstanceNorm", i);
        }
      }
  }
  h_free(&h);
  /* training mode is a diagnostic */
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 15\n input %x : f32[2,3,2,2]\n input %s : f32[3]\n"
                              " input %b : f32[3]\n input %m : f32[3]\n input %v : f32[3]\n"
                              " %y : ?[*] = BatchNormalization(%x, %s, %b, %m, %v) {training_mode = 1}\n output %y\n}\n"));
  CU_ASSERT(h.d->nerrors > 0);
  h_free(&h);
}

/* ---- CumSum ---------------------------------------------------------------------------------- */
static void test_cumsum(void) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  int32_t xi[6] = {1, 2, 3, 4, 5, 6};
  harness h;
  void *ins[] = {x, xi};
  if (run(&h, "graph \"t\" {\n opset \"\" 14\n input %x : f32[2,3]\n input %xi : i32[2,3]\n"
              " const %a1 : i32[] = [1]\n const %a0 : i64[1] = [-2]\n"
              " %y : ?[*] = CumSum(%x, %a1)\n %e : ?[*] = CumSum(%x, %a1) {exclusive = 1}\n"
              " %r : ?[*] = CumSum(%x, %a1) {reverse = 1, exclusive = 1}\n %c : ?[*] = CumSum(%xi, %a0) {reverse = 1}\n"
              " output %y\n output %e\n output %r\n output %c\n}\n", ins)) {
    const float *y = h.out[0], *e = h.out[1], *r = h.out[2];
    const int32_t *c = h.out[3];
    const float wy[6] = {1, 3, 6, 4, 9, 15}, we[6] = {0, 1, 3, 0, 4, 9}, wr[6] = {5, 3, 0, 11, 6, 0};
    const int32_t wc[6] = {5, 7, 9, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
      CHECK_CLOSE(y[i], wy[i], 0, 0, "CumSum", i);
      CHECK_CLOSE(e[i], we[i], 0, 0, "CumSum exclusive", i);
      CHECK_CLOSE(r[i], wr[i], 0, 0, "CumSum reverse exclusive", i);
      CHECK_EQ_I(c[i], wc[i], "CumSum i32 axis 0 reverse", i);
    }
  }
  h_free(&h);
  /* an axis given at run time; out of range is rt_fail */
  int64_t ax = -1;
  void *ins2[] = {x, &ax};
  const char *m = "graph \"t\" {\n opset \"\" 14\n input %x : f32[2,3]\n input %a : i64[]\n"
                  " %y : ?[*] = CumSum(%x, %a) {exclusive = 1}\n output %y\n}\n";
  if (run(&h, m, ins2)) {
    const float *y = h.out[0], we[6] = {0, 1, 3, 0, 4, 9};
    CU_ASSERT(h.p->calls[0].can_fail);
    for (int i = 0; i < 6; i++) CHECK_CLOSE(y[i], we[i], 0, 0, "CumSum run-time axis", i);
  }
  h_free(&h);
  ax = 2;
  CU_ASSERT_FATAL(h_build(&h, m));
  CU_ASSERT_NOT_EQUAL(h_run(&h, ins2), 0);
  CU_ASSERT(strstr(h.rt.msg, "out of range") != NULL);
  h_free(&h);
}

/* ---- diagnostics ---------------------------------------------------------------------------- */
static bool diag_has(const ir_diags *d, const char *s) {
  for (const ir_diag *g = d->head; g; g = g->next)
    if (strstr(g->msg, s)) return true;
  return false;
}

static void test_unsupported_dtype(void) {
  harness h;
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 17\n input %x : f16[4]\n input %y : f16[4]\n"
                              " %z : ?[*] = Add(%x, %y) @myadd\n %r : ?[*] = Relu(%x)\n"
                              " %s : ?[*] = Softmax(%x)\n output %z\n output %r\n output %s\n}\n"));
  CU_ASSERT(diag_has(h.d, "unsupported dtype f16 for Add"));
  CU_ASSERT(diag_has(h.d, "unsupported dtype f16 for Relu"));
  CU_ASSERT(diag_has(h.d, "unsupported dtype f16 for Softmax"));
  CU_ASSERT(h.d->head && h.d->head->node && !strcmp(h.d->head->node, "myadd"));
  h_free(&h);
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 17\n input %x : f32[4]\n"
                              " %z : ?[*] = Cast(%x) {to = 8}\n output %z\n}\n"));
  CU_ASSERT(diag_has(h.d, "unsupported dtype string for Cast"));
  h_free(&h);
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 20\n input %x : f32[4]\n"
                              " %z : ?[*] = Gelu(%x) {approximate = \"fast\"}\n output %z\n}\n"));
  CU_ASSERT(h.d->nerrors > 0);
  h_free(&h);
  /* Clip attributes after opset 10 are not silently ignored */
  CU_ASSERT_FALSE(h_build(&h, "graph \"t\" {\n opset \"\" 13\n input %x : f32[4]\n"
                              " %z : ?[*] = Clip(%x) {min = 0.0}\n output %z\n}\n"));
  CU_ASSERT(diag_has(h.d, "Clip takes min/max as inputs"));
  h_free(&h);
}

/* ---- the GEMM epilogue's GELU --------------------------------------------------------------- */
/* v16_gelu_erf_fast (the fused exact-GELU epilogue) against double erf on a
 * dense grid over [-12, 12]: absolute error at most 1e-6 (9.3e-7 seen), and
 * exactly 0 at 0. */
static void test_gelu_erf_fast(void) {
  double worst = 0, at = 0;
  for (int i = 0; i < 240000; i += 16) {
    f32x16 v;
    for (int l = 0; l < 16; l++) v[l] = (float)(-12.0 + (i + l) * 1e-4);
    f32x16 g = v16_gelu_erf_fast(v);
    for (int l = 0; l < 16; l++) {
      double x = v[l], want = 0.5 * x * (1 + erf(x / sqrt(2.0))), e = fabs(g[l] - want);
      if (e > worst) worst = e, at = x;
    }
  }
  if (worst > 1e-6) fprintf(stderr, "gelu_erf_fast: error %.3g at %.5f\n", worst, at);
  CU_ASSERT(worst <= 1e-6);
  f32x16 z = v16_gelu_erf_fast(v16_splat(0.0f));
  CU_ASSERT_EQUAL(z[0], 0.0f);
}

/* ---- elementwise work on the thread pool ------------------------------------------------- */
/* Tensors big enough that LayerNormalization, binary and unary ops and a
 * Transpose are cut into RT_GRAIN-sized pieces (some inside one long row, some
 * crossing rows) and shared out over a 3-thread pool: each element is checked
 * against a double-precision reference, and the bytes must equal a run
 * without a pool. */
static void test_pool_elementwise(void) {
  enum { R = 5, C = 9001, L = 40001 };
  float *x = malloc(sizeof(float) * R * C), *b = malloc(sizeof(float) * C);
  float *u = malloc(sizeof(float) * L), *v = malloc(sizeof(float) * L);
  float *sc = malloc(sizeof(float) * C), *bi = malloc(sizeof(float) * C);
  for (int i = 0; i < R * C; i++) x[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
  for (int i = 0; i < C; i++)
    b[i] = (float)(i % 13) - 6.5f, sc[i] = 1.0f + (float)(i % 7) / 8, bi[i] = (float)(i % 5) / 4;
  for (int i = 0; i < L; i++) u[i] = (float)((i * 11) % 97) / 20.0f - 2.4f, v[i] = (float)(i % 17) - 8;
  const char *mir = "graph \"t\" {\n opset \"\" 17\n input %x : f32[5,9001]\n input %b : f32[9001]\n"
                    " input %u : f32[40001]\n input %v : f32[40001]\n input %sc : f32[9001]\n"
                    " input %bi : f32[9001]\n"
                    " %add : ?[*] = Add(%x, %b)\n %mul : ?[*] = Mul(%u, %v)\n %e : ?[*] = Exp(%u)\n"
                    " %ln : ?[*] = LayerNormalization(%x, %sc, %bi) {axis = -1, epsilon = 1e-05}\n"
                    " %t : ?[*] = Transpose(%x) {perm = [1, 0]}\n"
                    " output %add\n output %mul\n output %e\n output %ln\n output %t\n}\n";
  void *ins[] = {x, b, u, v, sc, bi};
  harness h1, h3;
  if (!h_build(&h1, mir) || h_run(&h1, ins)) {
    CU_FAIL("pool-less run failed");
    h_free(&h1);
    goto out;
  }
  rt_pool *pool = rt_pool_create(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  if (!h_build(&h3, mir)) {
    CU_FAIL("build failed");
  } else {
    h3.rt.pool = pool;
    CU_ASSERT_EQUAL(h_run(&h3, ins), 0);
    const float *add = h3.out[0], *mul = h3.out[1], *e = h3.out[2], *ln = h3.out[3], *t = h3.out[4];
    for (int i = 0; i < R * C; i++) CHECK_CLOSE(add[i], x[i] + b[i % C], 0, 0, "pool Add", i);
    for (int i = 0; i < L; i++) {
      CHECK_CLOSE(mul[i], u[i] * v[i], 0, 0, "pool Mul", i);
      CHECK_CLOSE(e[i], exp((double)u[i]), RT32, 0, "pool Exp", i);
    }
    for (int r = 0; r < R; r++) {
      double m = 0, var = 0;
      for (int j = 0; j < C; j++) m += x[r * C + j];
      m /= C;
      for (int j = 0; j < C; j++) var += (x[r * C + j] - m) * (x[r * C + j] - m);
      double inv = 1 / sqrt(var / C + 1e-5);
      for (int j = 0; j < C; j++)
        CHECK_CLOSE(ln[r * C + j], (x[r * C + j] - m) * inv * sc[j] + bi[j], 1e-5, 1e-5, "pool LayerNorm", j);
      for (int j = 0; j < C; j++) CHECK_CLOSE(t[j * R + r], x[r * C + j], 0, 0, "pool Transpose", j);
    }
    for (int i = 0; i < h3.p->noutputs; i++)
      if (memcmp(h1.out[i], h3.out[i], h3.p->outputs[i].nbytes)) CU_FAIL("3 threads differ from none");
  }
  h_free(&h3);
  h_free(&h1);
  rt_pool_free(pool);
out:
  free(x), free(b), free(u), free(v), free(sc), free(bi);
}

void kernels_elem_suite_register(void) {
  CU_pSuite s = CU_add_suite("kernels_elem", NULL, NULL);
  CU_add_test(s, "broadcast f32", test_broadcast_f32);
  CU_add_test(s, "binary f64, Max/Min NaN", test_binary_f64_and_max_min);
  CU_add_test(s, "binary int, div by zero", test_binary_int);
  CU_add_test(s, "Pow", test_pow);
  CU_add_test(s, "compare, logic, Where", test_compare_logic_where);
  CU_add_test(s, "variadic Sum/Mean/Max/Min", test_variadic);
  CU_add_test(s, "unary float", test_unary_float);
  CU_add_test(s, "unary f32 vector math", test_unary_vector_math);
  CU_add_test(s, "unary int", test_unary_int);
  CU_add_test(s, "IsNaN/IsInf", test_isx);
  CU_add_test(s, "Cast matrix", test_cast);
  CU_add_test(s, "Clip both forms", test_clip);
  CU_add_test(s, "Softmax family", test_softmax);
  CU_add_test(s, "Reduce*", test_reduce);
  CU_add_test(s, "ArgMax/ArgMin", test_argminmax);
  CU_add_test(s, "LayerNormalization", test_layernorm);
  CU_add_test(s, "Batch/InstanceNormalization", test_batch_instance_norm);
  CU_add_test(s, "CumSum", test_cumsum);
  CU_add_test(s, "unsupported dtype diagnostics", test_unsupported_dtype);
  CU_add_test(s, "elementwise pieces on a 3-thread pool", test_pool_elementwise);
  CU_add_test(s, "GEMM epilogue GELU error bound", test_gelu_erf_fast);
}
