/* test_jit.c - unit tests of the LLVM backend (backend/llvm*.c, jit.c, aot.c):
 * small .mir graphs are parsed, inferred, run through the pass pipeline and
 * lowered, then run by the reference interpreter and by the JIT, and the
 * outputs must agree byte for byte. Also: a run-time failure stops both at the
 * same call with the same message; be_emit writes .o (+ .h), .s, .ll and .so
 * (which is loaded and run), and an executable when libmixc_rt.a is found
 * (which is run on .npy inputs). Timings of a ~100-call program are printed.
 *
 * Graphs whose kernels are not lowered yet fail with the lowering's
 * diagnostics printed. */
#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/be.h"
#include "backend/llvm.h"
#include "passes/pass.h"

typedef struct prog {
  ir_diags *d;
  ir_ctx cx;
  be_program *p;
  void **in, **out_ref, **out_jit;
} prog;

static void prog_free(prog *t) {
  if (t->p) {
    for (int i = 0; i < t->p->ninputs; i++) free(t->in[i]);
    for (int i = 0; i < t->p->noutputs; i++) free(t->out_ref[i]), free(t->out_jit[i]);
  }
  free(t->in), free(t->out_ref), free(t->out_jit);
  be_program_free(t->p);
  if (t->cx.g) ir_graph_free(t->cx.g);
  if (t->cx.scratch) ir_arena_free(t->cx.scratch);
  ir_diags_free(t->d);
  memset(t, 0, sizeof *t);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

/* Deterministic inputs: floats in [-2, 2), integers in [0, int_hi), bools. */
static void fill(void *buf, const be_tensor_desc *t, int64_t int_hi) {
  size_t n = ir_dtype_size(t->dtype) ? t->nbytes / ir_dtype_size(t->dtype) : 0;
  for (size_t i = 0; i < n; i++) {
    double f = (double)(next_rand() >> 11) / 9007199254740992.0 * 4.0 - 2.0;
    int64_t k = int_hi > 0 ? (int64_t)(next_rand() % (uint64_t)int_hi) : 0;
    switch (t->dtype) {
    case IR_F32: ((float *)buf)[i] = (float)f; break;
    case IR_F64: ((double *)buf)[i] = f; break;
    case IR_I64: ((int64_t *)buf)[i] = k; break;
    case IR_I32: ((int32_t *)buf)[i] = (int32_t)k; break;
    case IR_BOOL: ((uint8_t *)buf)[i] = next_rand() & 1; break;
    default: memset(buf, 0, t->nbytes); return;
    }
  }
}

static void *xalloc(size_t n) {
  size_t r = (n + 63) & ~(size_t)63;
  if (!r) r = 64;
  void *p = aligned_alloc(64, r);
  memset(p, 0, r);
  return p;
}

/* Parses, infers, runs the pipeline and lowers; allocates and fills buffers. */
static bool prog_make(prog *t, const char *mir, int64_t int_hi) {
  memset(t, 0, sizeof *t);
  t->d = ir_diags_new();
  t->cx.d = t->d;
  t->cx.scratch = ir_arena_new();
  t->cx.g = ir_parse(mir, strlen(mir), "test.mir", t->d);
  bool ok = t->cx.g && !t->d->nerrors && ir_infer_graph(&t->cx);
  pass_options o = {0};
  ok = ok && pass_run_pipeline(&t->cx, &o);
  if (ok) t->p = be_lower(&t->cx);
  if (!t->p) {
    ir_diags_print(t->d, stderr);
    return false;
  }
  be_program *p = t->p;
  t->in = calloc((size_t)p->ninputs + 1, sizeof(void *));
  t->out_ref = calloc((size_t)p->noutputs + 1, sizeof(void *));
  t->out_jit = calloc((size_t)p->noutputs + 1, sizeof(void *));
  for (int i = 0; i < p->ninputs; i++) fill(t->in[i] = xalloc(p->inputs[i].nbytes), &p->inputs[i], int_hi);
  for (int i = 0; i < p->noutputs; i++) {
    t->out_ref[i] = xalloc(p->outputs[i].nbytes);
    t->out_jit[i] = xalloc(p->outputs[i].nbytes);
    memset(t->out_ref[i], 0xAB, p->outputs[i].nbytes);
    memset(t->out_jit[i], 0xCD, p->outputs[i].nbytes);
  }
  return true;
}

static int run_interp(prog *t, rt_ctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  void *arena = xalloc(t->p->arena_size);
  int st = be_interp_run(t->p, ctx, t->in, t->out_ref, arena);
  free(arena);
  return st;
}

static int run_desc(const rt_model_desc *m, prog *t, void **outs, rt_ctx *ctx) {
  memset(ctx, 0, sizeof *ctx);
  void *arena = xalloc(m->arena_size);
  int st = m->entry(ctx, t->in, outs, arena);
  free(arena);
  return st;
}

static bool same_outputs(prog *t, void **a, void **b) {
  bool same = true;
  for (int i = 0; i < t->p->noutputs; i++) {
    const be_tensor_desc *o = &t->p->outputs[i];
    if (memcmp(a[i], b[i], o->nbytes)) {
      size_t k = 0;
      while (((unsigned char *)a[i])[k] == ((unsigned char *)b[i])[k]) k++;
      fprintf(stderr, "\n  output %s differs at byte %zu", o->name, k);
      if (o->dtype == IR_F32)
        fprintf(stderr, " (%.9g vs %.9g)", ((float *)a[i])[k / 4], ((float *)b[i])[k / 4]);
      same = false;
    }
  }
  return same;
}

/* Interpreter vs JIT on one graph: same status, and the same output bytes or
 * the same failing call and message. expect_fail: the run must fail. */
static void check_graph_ex(const char *name, const char *mir, int64_t int_hi, bool expect_fail) {
  prog t;
  if (!prog_make(&t, mir, int_hi)) {
    fprintf(stderr, "\n  %s: lowering failed", name);
    CU_FAIL("lowering failed");
    prog_free(&t);
    return;
  }
  rt_ctx c1, c2;
  int s1 = run_interp(&t, &c1);
  be_jit *j = be_jit_compile(t.p, t.d);
  CU_ASSERT_PTR_NOT_NULL(j);
  if (!j) {
    ir_diags_print(t.d, stderr);
    prog_free(&t);
    return;
  }
  const rt_model_desc *m = be_jit_desc(j);
  CU_ASSERT_EQUAL(m->ninputs, t.p->ninputs);
  CU_ASSERT_EQUAL(m->noutputs, t.p->noutputs);
  CU_ASSERT_EQUAL(m->arena_size, t.p->arena_size);
  int s2 = run_desc(m, &t, t.out_jit, &c2);
  CU_ASSERT_EQUAL(s1, s2);
  CU_ASSERT_EQUAL(s1 != 0, expect_fail);
  CU_ASSERT_EQUAL(c1.status, c2.status);
  if (s1 || s2) {
    CU_ASSERT_EQUAL(c1.fail_call, c2.fail_call);
    CU_ASSERT_STRING_EQUAL(c1.msg, c2.msg);
  } else {
    bool same = same_outputs(&t, t.out_ref, t.out_jit);
    if (!same) fprintf(stderr, " [%s]\n", name);
    CU_ASSERT_TRUE(same);
  }
  be_jit_free(j);
  prog_free(&t);
}

static void check_graph(const char *name, const char *mir, int64_t int_hi) {
  check_graph_ex(name, mir, int_hi, false);
}

/* ---- graphs --------------------------------------------------------------------- */
#define HDR "graph \"t\" {\n  opset \"\" 17\n"

static void test_copies(void) {
  /* Outputs that are an input, a constant, and a reshaped input: copy calls only. */
  check_graph("copies",
              HDR "  input %x : f32[2,3]\n"
                  "  const %k : f32[2,2] = [1.0, 2.0, 3.0, 4.0]\n"
                  "  const %s : i64[2] = [3, 2]\n"
                  "  %r : f32[3,2] = Reshape(%x, %s)\n"
                  "  %i : f32[3,2] = Identity(%r)\n"
                  "  output %x\n  output %k\n  output %i\n}\n",
              0);
}

static void test_elementwise(void) {
  check_graph("elementwise",
              HDR "  input %x : f32[4,37]\n  input %y : f32[37]\n"
                  "  %a : f32[4,37] = Add(%x, %y)\n"
                  "  %m : f32[4,37] = Mul(%a, %x)\n"
                  "  %r : f32[4,37] = Relu(%m)\n"
                  "  %e : f32[4,37] = Exp(%x)\n"
                  "  %t : f32[4,37] = Tanh(%e)\n"
                  "  %g : f32[4,37] = Erf(%a)\n"
                  "  %s : f32[4,37] = Sigmoid(%g)\n"
                  "  %d : f32[4,37] = Div(%s, %y)\n"
                  "  %q : f32[4,37] = Sub(%d, %t)\n"
                  "  output %r\n  output %q\n}\n",
              0);
}

static void test_matmul(void) {
  check_graph("matmul",
              HDR "  input %x : f32[3,4]\n  input %w2 : f32[4,33]\n"
                  "  const %w : f32[4,4] = [1.0, -2.0, 0.5, 0.25, 3.0, 1.5, -1.0, 2.0, 0.0, 1.0, 1.0, 1.0, -0.5, 0.5, 2.5, -3.0]\n"
                  "  const %b : f32[4] = [0.5, -0.5, 1.0, 2.0]\n"
                  "  %m : f32[3,4] = MatMul(%x, %w)\n"
                  "  %g : f32[3,4] = Gemm(%x, %w, %b) {transB = 1}\n"
                  "  %a : f32[3,4] = Add(%m, %g)\n"
                  "  %y : f32[3,33] = MatMul(%a, %w2)\n"
                  "  output %y\n}\n",
              0);
}

static void test_softmax_norm(void) {
  check_graph("softmax_norm",
              HDR "  input %x : f32[2,5,24]\n"
                  "  const %g : f32[24] = blob 0\n  const %b : f32[24] = blob 0\n"
                  "  %s : f32[2,5,24] = Softmax(%x) {axis = -1}\n"
                  "  %n : f32[2,5,24] = LayerNormalization(%x, %g, %b) {axis = -1, epsilon = 1e-05}\n"
                  "  %r : f32[2,1,24] = ReduceMean(%n) {axes = [1], keepdims = 1}\n"
                  "  %t : f32[24,5,2] = Transpose(%s) {perm = [2, 1, 0]}\n"
                  "  output %t\n  output %r\n}\n"
                  "blob 0 = hex \"0000803f0000003f0000803f0000003f0000803f0000003f0000803f0000003f"
                  "0000803f0000003f0000803f0000003f0000803f0000003f0000803f0000003f"
                  "0000803f0000003f0000803f0000003f0000803f0000003f0000803f0000003f\"\n",
              0);
}

static void test_data_movement(void) {
  check_graph("data",
              HDR "  input %x : f32[4,6]\n  input %idx : i64[3]\n"
                  "  const %st : i64[1] = [1]\n  const %en : i64[1] = [5]\n  const %ax : i64[1] = [1]\n"
                  "  %c : f32[4,12] = Concat(%x, %x) {axis = 1}\n"
                  "  %s : f32[4,4] = Slice(%c, %st, %en, %ax)\n"
                  "  %g : f32[3,4] = Gather(%s, %idx) {axis = 0}\n"
                  "  output %g\n  output %s\n}\n",
              4);
}

/* Gather with an index out of range: both stop at the same call, same message. */
static void test_runtime_failure(void) {
  check_graph_ex("gather_oob",
              HDR "  input %x : f32[4,6]\n  input %idx : i64[3]\n"
                  "  %e : f32[4,6] = Exp(%x)\n"
                  "  %g : f32[3,6] = Gather(%e, %idx) {axis = 0}\n"
                  "  %r : f32[3,6] = Relu(%g)\n"
                  "  output %r\n}\n",
              1000, true);
}

/* "blob N = hex ..." with n random floats in [-scale, scale), appended to buf. */
static void add_blob(char *buf, size_t cap, int idx, int n, float scale) {
  size_t len = strlen(buf);
  len += (size_t)snprintf(buf + len, cap - len, "blob %d = hex \"", idx);
  for (int i = 0; i < n; i++) {
    float f = (float)((double)(next_rand() >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
    unsigned char b[4];
    memcpy(b, &f, 4);
    len += (size_t)snprintf(buf + len, cap - len, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
  }
  snprintf(buf + len, cap - len, "\"\n");
}

/* One MLP-Mixer block: token mixing across the 16 patches, channel mixing
 * across the 32 channels, LayerNorm, residuals, a GEMM with transB. */
static void test_mixer_block(void) {
  size_t cap = 1 << 20;
  char *m = malloc(cap);
  snprintf(m, cap,
           HDR "  input %%x : f32[2,16,32]\n"
               "  const %%g : f32[32] = blob 0\n  const %%b : f32[32] = blob 1\n"
               "  const %%t1 : f32[16,24] = blob 2\n  const %%tb1 : f32[24] = blob 3\n"
               "  const %%t2 : f32[24,16] = blob 4\n"
               "  const %%c1 : f32[32,64] = blob 5\n  const %%c2 : f32[32,64] = blob 6\n"
               "  const %%cb2 : f32[32] = blob 7\n  const %%s : i64[2] = [32, 32]\n"
               "  const %%s3 : i64[3] = [2, 16, 32]\n"
               "  %%n1 : f32[2,16,32] = LayerNormalization(%%x, %%g, %%b) {axis = -1, epsilon = 1e-05}\n"
               "  %%tr : f32[2,32,16] = Transpose(%%n1) {perm = [0, 2, 1]}\n"
               "  %%h1 : f32[2,32,24] = MatMul(%%tr, %%t1)\n"
               "  %%h2 : f32[2,32,24] = Add(%%h1, %%tb1)\n"
               "  %%h3 : f32[2,32,24] = Tanh(%%h2)\n"
               "  %%h4 : f32[2,32,16] = MatMul(%%h3, %%t2)\n"
               "  %%tb : f32[2,16,32] = Transpose(%%h4) {perm = [0, 2, 1]}\n"
               "  %%r1 : f32[2,16,32] = Add(%%x, %%tb)\n"
               "  %%n2 : f32[2,16,32] = LayerNormalization(%%r1, %%g, %%b) {axis = -1, epsilon = 1e-05}\n"
               "  %%f : f32[32,32] = Reshape(%%n2, %%s)\n"
               "  %%u : f32[32,64] = MatMul(%%f, %%c1)\n"
               "  %%sg : f32[32,64] = Sigmoid(%%u)\n"
               "  %%sw : f32[32,64] = Mul(%%u, %%sg)\n"
               "  %%d : f32[32,32] = Gemm(%%sw, %%c2, %%cb2) {transB = 1, alpha = 0.5, beta = 2.0}\n"
               "  %%d3 : f32[2,16,32] = Reshape(%%d, %%s3)\n"
               "  %%y : f32[2,16,32] = Add(%%r1, %%d3)\n"
               "  %%p : f32[2,32] = ReduceMean(%%y) {axes = [1], keepdims = 0}\n"
               "  output %%y\n  output %%p\n}\n");
  add_blob(m, cap, 0, 32, 1.5f);
  add_blob(m, cap, 1, 32, 0.5f);
  add_blob(m, cap, 2, 16 * 24, 0.3f);
  add_blob(m, cap, 3, 24, 0.1f);
  add_blob(m, cap, 4, 24 * 16, 0.3f);
  add_blob(m, cap, 5, 32 * 64, 0.2f);
  add_blob(m, cap, 6, 32 * 64, 0.2f);
  add_blob(m, cap, 7, 32, 0.1f);
  check_graph("mixer_block", m, 0);
  free(m);
}

/* com.microsoft MoE: 4 experts, top-2, relu, with biases; router from a Softmax. */
static void test_moe(void) {
  size_t cap = 1 << 20;
  char *m = malloc(cap);
  snprintf(m, cap,
           "graph \"t\" {\n  opset \"\" 17\n  opset \"com.microsoft\" 1\n"
           "  input %%x : f32[8,32]\n  input %%logits : f32[8,4]\n"
           "  const %%w1 : f32[4,32,48] = blob 0\n  const %%b1 : f32[4,48] = blob 1\n"
           "  const %%w2 : f32[4,48,32] = blob 2\n  const %%b2 : f32[4,32] = blob 3\n"
           "  %%r : f32[8,4] = Softmax(%%logits) {axis = -1}\n"
           "  %%y : f32[8,32] = com.microsoft.MoE(%%x, %%r, %%w1, %%b1, %%w2, %%b2) {k = 2, activation_type = \"relu\"}\n"
           "  output %%y\n}\n");
  add_blob(m, cap, 0, 4 * 32 * 48, 0.2f);
  add_blob(m, cap, 1, 4 * 48, 0.1f);
  add_blob(m, cap, 2, 4 * 48 * 32, 0.2f);
  add_blob(m, cap, 3, 4 * 32, 0.1f);
  check_graph("moe", m, 0);
  free(m);
}

/* ---- ahead-of-time output ---------------------------------------------------------- */
static char tmpdir[] = "/tmp/mixc_jit_test.XXXXXX";

static bool file_nonempty(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_size > 0;
}

static const char *copies_mir =
    HDR "  input %x : f32[2,3]\n"
        "  const %k : f32[2,2] = [1.0, 2.0, 3.0, 4.0]\n"
        "  %i : f32[2,3] = Identity(%x)\n"
        "  output %i\n  output %k\n}\n";

static void test_emit_files(void) {
  prog t;
  if (!prog_make(&t, copies_mir, 0)) {
    CU_FAIL("lowering failed");
    prog_free(&t);
    return;
  }
  rt_ctx c;
  run_interp(&t, &c);
  char path[512], hdr[512];
  snprintf(path, sizeof path, "%s/m.o", tmpdir);
  snprintf(hdr, sizeof hdr, "%s/m.h", tmpdir);
  CU_ASSERT_TRUE(be_emit(t.p, path, BE_EMIT_OBJ, NULL, t.d));
  CU_ASSERT_TRUE(file_nonempty(path));
  CU_ASSERT_TRUE(file_nonempty(hdr));
  snprintf(path, sizeof path, "%s/m.s", tmpdir);
  CU_ASSERT_TRUE(be_emit(t.p, path, BE_EMIT_ASM, "my_net", t.d));
  CU_ASSERT_TRUE(file_nonempty(path));
  snprintf(path, sizeof path, "%s/m.ll", tmpdir);
  CU_ASSERT_TRUE(be_emit(t.p, path, BE_EMIT_LLVM, NULL, t.d));
  CU_ASSERT_TRUE(file_nonempty(path));
  /* A prefix that is not an identifier is bad input. */
  int errs = t.d->nerrors;
  CU_ASSERT_FALSE(be_emit(t.p, path, BE_EMIT_LLVM, "9bad-name", t.d));
  CU_ASSERT_EQUAL(t.d->nerrors, errs + 1);
  errs = t.d->nerrors;

  /* The object compiles against its header in a C program. */
  char cmd[2048];
  snprintf(path, sizeof path, "%s/use.c", tmpdir);
  FILE *f = fopen(path, "w");
  fprintf(f, "#include \"m.h\"\nint main(void) { float x[6] = {1,2,3,4,5,6}, y[6], k[4];\n"
             "  void *in[] = {x}; void *out[] = {y, k};\n"
             "  int st = mixc_model_run(in, out);\n"
             "  static const long d[] = MIXC_MODEL_OUTPUT0_DIMS;\n"
             "  return st || y[5] != 6 || k[3] != 4 || d[1] != 3 || MIXC_MODEL_NUM_OUTPUTS != 2;\n}\n");
  fclose(f);
  snprintf(cmd, sizeof cmd, "cd %s && cc -o use use.c m.o -lm && ./use", tmpdir);
  CU_ASSERT_EQUAL(system(cmd), 0);

  /* The shared library loads and runs like the JIT. */
  snprintf(path, sizeof path, "%s/libm1.so", tmpdir);
  CU_ASSERT_TRUE(be_emit(t.p, path, BE_EMIT_LIB, "m1", t.d));
  snprintf(hdr, sizeof hdr, "%s/libm1.h", tmpdir);
  CU_ASSERT_TRUE(file_nonempty(hdr));
  void *so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CU_ASSERT_PTR_NOT_NULL(so);
  if (so) {
    const rt_model_desc *m = dlsym(so, "m1_desc");
    CU_ASSERT_PTR_NOT_NULL(m);
    if (m) {
      CU_ASSERT_EQUAL(m->abi_version, RT_ABI_VERSION);
      CU_ASSERT_EQUAL(m->noutputs, 2);
      CU_ASSERT_STRING_EQUAL(m->outputs[0].name, "i");
      CU_ASSERT_EQUAL(m->outputs[1].dims[1], 2);
      rt_ctx c2;
      CU_ASSERT_EQUAL(run_desc(m, &t, t.out_jit, &c2), 0);
      CU_ASSERT_TRUE(same_outputs(&t, t.out_ref, t.out_jit));
    }
    dlclose(so);
  }
  if (t.d->nerrors > errs) ir_diags_print(t.d, stderr);
  prog_free(&t);
}

/* Writes a little-endian float32 .npy. */
static void write_npy_f32(const char *path, const float *v, int rank, const int64_t *dims) {
  char shape[128] = "", h[256];
  for (int i = 0; i < rank; i++)
    snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%lld,%s", (long long)dims[i],
             i + 1 < rank ? " " : "");
  int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
  while ((10 + n + 1) % 64) h[n++] = ' ';
  h[n++] = '\n';
  FILE *f = fopen(path, "wb");
  uint16_t hl = (uint16_t)n;
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fwrite(&hl, 2, 1, f);
  fwrite(h, 1, (size_t)n, f);
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= (size_t)dims[i];
  fwrite(v, 4, count, f);
  fclose(f);
}

/* The last nbytes of a .npy file are its data. */
static bool npy_tail_equals(const char *path, const void *want, size_t nbytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  char *buf = malloc(nbytes + 1);
  bool ok = fseek(f, -(long)nbytes, SEEK_END) == 0 && fread(buf, 1, nbytes, f) == nbytes &&
            !memcmp(buf, want, nbytes);
  free(buf);
  fclose(f);
  return ok;
}

/* Needs libm (tanhf) and the kernels in the executable. */
static const char *exe_mir =
    HDR "  input %x : f32[2,3]\n"
        "  const %w : f32[3,2] = [1.0, -2.0, 0.5, 0.25, 3.0, 1.5]\n"
        "  %t : f32[2,3] = Tanh(%x)\n"
        "  %y : f32[2,2] = MatMul(%t, %w)\n"
        "  output %y\n  output %t\n}\n";

static void test_emit_exe(void) {
  prog t;
  if (!prog_make(&t, exe_mir, 0)) {
    CU_FAIL("lowering failed");
    prog_free(&t);
    return;
  }
  rt_ctx c;
  run_interp(&t, &c);
  char exe[512], cmd[2048], npy[512];
  snprintf(exe, sizeof exe, "%s/model", tmpdir);
  if (!be_emit(t.p, exe, BE_EMIT_EXE, NULL, t.d)) {
    ir_diags_print(t.d, stderr);
    CU_FAIL("be_emit EXE failed");
    prog_free(&t);
    return;
  }
  snprintf(npy, sizeof npy, "%s/x.npy", tmpdir);
  write_npy_f32(npy, t.in[0], t.p->inputs[0].rank, t.p->inputs[0].dims);
  snprintf(cmd, sizeof cmd, "%s --input x=%s --output-dir %s/out > %s/run.log 2>&1", exe, npy,
           tmpdir, tmpdir);
  int rc = system(cmd);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) {
    snprintf(cmd, sizeof cmd, "cat %s/run.log >&2", tmpdir);
    if (system(cmd)) {}
  }
  for (int i = 0; i < t.p->noutputs; i++) {
    snprintf(npy, sizeof npy, "%s/out/%s.npy", tmpdir, t.p->outputs[i].name);
    CU_ASSERT_TRUE(npy_tail_equals(npy, t.out_ref[i], t.p->outputs[i].nbytes));
  }
  prog_free(&t);
}

/* ---- compile time --------------------------------------------------------------------- */
/* A chain of `calls` nodes, cycling through elementwise ops and a MatMul with a
 * 4x4 constant weight, so that the program has that many kernel calls. */
static char *chain_mir(int calls, bool copies_only) {
  size_t cap = 256 + (size_t)calls * 160;
  char *s = malloc(cap);
  size_t n = (size_t)snprintf(s, cap, HDR "  input %%v0 : f32[64,4]\n"
                                          "  const %%w : f32[4,4] = [1.0, 0.5, 0.25, 0.125, 0.5, 1.0, 0.5, 0.25, "
                                          "0.25, 0.5, 1.0, 0.5, 0.125, 0.25, 0.5, 1.0]\n");
  static const char *ops[] = {"MatMul(%%v%d, %%w)", "Add(%%v%d, %%v0)", "Tanh(%%v%d)",
                              "Mul(%%v%d, %%v0)", "Relu(%%v%d)", "Sigmoid(%%v%d)"};
  for (int i = 1; i <= calls; i++) {
    char op[64];
    snprintf(op, sizeof op, copies_only ? "Reshape(%%v%d, %%sh)" : ops[i % 6], i - 1);
    if (copies_only && i == 1) n += (size_t)snprintf(s + n, cap - n, "  const %%sh : i64[2] = [64, 4]\n");
    n += (size_t)snprintf(s + n, cap - n, "  %%v%d : f32[64,4] = %s\n", i, op);
  }
  snprintf(s + n, cap - n, "  output %%v%d\n}\n", calls);
  return s;
}

static void time_chain(bool copies_only) {
  char *mir = chain_mir(100, copies_only);
  prog t;
  if (!prog_make(&t, mir, 0)) {
    CU_FAIL("lowering failed");
    prog_free(&t);
    free(mir);
    return;
  }
  rt_ctx c1, c2;
  run_interp(&t, &c1);
  double t0 = be_llvm_now_ms();
  be_jit *j = be_jit_compile(t.p, t.d);
  double total = be_llvm_now_ms() - t0;
  CU_ASSERT_PTR_NOT_NULL(j);
  if (j) {
    const be_llvm_times *tm = be_jit_times(j);
    fprintf(stderr,
            "\n  JIT %s, %d calls: total %.1f ms = build %.1f + link %.1f + opt %.1f + codegen %.1f",
            copies_only ? "copies" : "mixed", t.p->ncalls, total, tm->build_ms, tm->link_ms,
            tm->opt_ms, tm->codegen_ms);
    CU_ASSERT_EQUAL(run_desc(be_jit_desc(j), &t, t.out_jit, &c2), 0);
    CU_ASSERT_TRUE(same_outputs(&t, t.out_ref, t.out_jit));
    be_jit_free(j);
  } else {
    ir_diags_print(t.d, stderr);
  }
  prog_free(&t);
  free(mir);
}

static void test_compile_time_copies(void) { time_chain(true); }
static void test_compile_time_mixed(void) { time_chain(false); }

static int suite_init(void) { return mkdtemp(tmpdir) ? 0 : 1; }
static int suite_clean(void) {
  if (getenv("MIXC_KEEP_TMP")) {
    fprintf(stderr, "\n  jit suite files kept in %s\n", tmpdir);
    return 0;
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : 1;
}

void jit_suite_register(void) {
  CU_pSuite s = CU_add_suite("jit", suite_init, suite_clean);
  CU_add_test(s, "copies", test_copies);
  CU_add_test(s, "emit_files", test_emit_files);
  CU_add_test(s, "emit_exe", test_emit_exe);
  CU_add_test(s, "compile_time_copies", test_compile_time_copies);
  CU_add_test(s, "elementwise", test_elementwise);
  CU_add_test(s, "matmul", test_matmul);
  CU_add_test(s, "softmax_norm", test_softmax_norm);
  CU_add_test(s, "data_movement", test_data_movement);
  CU_add_test(s, "runtime_failure", test_runtime_failure);
  CU_add_test(s, "mixer_block", test_mixer_block);
  CU_add_test(s, "moe", test_moe);
  CU_add_test(s, "compile_time_mixed", test_compile_time_mixed);
}
