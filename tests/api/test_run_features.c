/* test_run_features.c - the public API's run-time features on a routed MoE
 * model (include/mixc/mixc.h):
 *   - threads: mixc_options.threads 1, 2, 3 and 0 (default), JIT and
 *     interpreter: every output bit-identical to the 1-thread JIT run;
 *   - profiling: mixc_session_set_profiling, mixc_model_num_calls,
 *     mixc_session_call_profile (every call ran, in order, runs counted,
 *     min <= mean), mixc_session_write_profile (one "X" event per call; an
 *     unwritable path is MIXC_ERR_IO), and their argument errors;
 *   - routing statistics: mixc_model_num_moe_layers,
 *     mixc_session_set_moe_stats, mixc_session_moe_stats: per run
 *     sum(expert_rows) + over_capacity + k * dropped_rows == rows * k, counts
 *     add up over runs (3 runs = 3 x one run), re-enabling zeroes them, JIT
 *     and interpreter count the same, and their argument errors.
 *
 * usage: test_run_features MODEL.onnx OUTDIR   (exit 0: pass; MODEL has one
 * f32 input, f32 outputs and at least one mixc.moe layer)
 * Requires: only the public API and libmixc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixc/mixc.h"

#define MAX_OUT 8

static int failures, checks;
#define CHECK(c)                                                              \
  do {                                                                        \
    checks++;                                                                 \
    if (!(c)) {                                                               \
      failures++;                                                             \
      fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #c, mixc_last_error()); \
    }                                                                         \
  } while (0)

static const char *model_path;
static float *x;
static mixc_tensor_info in_info, out_info[MAX_OUT];
static int nout;

static mixc_model *compile(int threads, int interpret) {
  mixc_options o = {.threads = threads, .interpret = interpret};
  mixc_model *m = NULL;
  if (mixc_compile_file(model_path, &o, &m) != MIXC_OK) {
    fprintf(stderr, "compile (threads %d, interpret %d): %s\n", threads, interpret, mixc_last_error());
    exit(1);
  }
  return m;
}

static mixc_status run(mixc_session *s, void **outs) {
  mixc_tensor in = {in_info.name, in_info.dtype, in_info.rank, in_info.dims, x, in_info.nbytes};
  mixc_tensor out[MAX_OUT];
  for (int i = 0; i < nout; i++)
    out[i] = (mixc_tensor){out_info[i].name, out_info[i].dtype, out_info[i].rank, out_info[i].dims,
                           outs[i], out_info[i].nbytes};
  return mixc_run(s, &in, 1, out, (size_t)nout);
}

static void **alloc_outs(void) {
  void **o = calloc(MAX_OUT, sizeof *o);
  for (int i = 0; i < nout; i++) o[i] = calloc(1, out_info[i].nbytes + 1);
  return o;
}

static void free_outs(void **o) {
  for (int i = 0; i < nout; i++) free(o[i]);
  free(o);
}

/* ---- threads -------------------------------------------------------------------- */
static void **reference;

static void check_threads(int threads, int interpret) {
  mixc_model *m = compile(threads, interpret);
  mixc_session *s;
  CHECK(mixc_session_create(m, &s) == MIXC_OK);
  void **o = alloc_outs();
  for (int r = 0; r < 3; r++) {
    CHECK(run(s, o) == MIXC_OK);
    for (int i = 0; i < nout; i++)
      if (memcmp(o[i], reference[i], out_info[i].nbytes)) {
        failures++;
        fprintf(stderr, "FAIL: threads %d interpret %d run %d: output %s differs from 1 thread\n",
                threads, interpret, r, out_info[i].name);
      }
    checks++;
  }
  free_outs(o);
  mixc_session_free(s);
  mixc_model_free(m);
}

/* ---- profiling ---------------------------------------------------------------------- */
static int count(const char *text, const char *pat) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, pat)); p++) n++;
  return n;
}

static void check_profile(mixc_model *m, const char *outdir) {
  mixc_session *s;
  CHECK(mixc_session_create(m, &s) == MIXC_OK);
  void **o = alloc_outs();
  int n = mixc_model_num_calls(m);
  CHECK(n > 0);
  CHECK(mixc_model_num_calls(NULL) == -1);
  mixc_call_profile cp;
  char path[1024];
  snprintf(path, sizeof path, "%s/api_profile.json", outdir);
  /* off by default */
  CHECK(mixc_session_call_profile(s, 0, &cp) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(strstr(mixc_last_error(), "mixc_session_set_profiling") != NULL);
  CHECK(mixc_session_write_profile(s, path) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_set_profiling(NULL, 1) == MIXC_ERR_INVALID_ARGUMENT);

  CHECK(mixc_session_set_profiling(s, 1) == MIXC_OK);
  CHECK(run(s, o) == MIXC_OK);
  CHECK(run(s, o) == MIXC_OK);
  double last_start = -1;
  for (int i = 0; i < n; i++) {
    CHECK(mixc_session_call_profile(s, i, &cp) == MIXC_OK);
    CHECK(cp.node && cp.op && cp.kernel && !strncmp(cp.kernel, "mixc_k_", 7));
    CHECK(cp.dur_us >= 0 && cp.start_us >= last_start);
    CHECK(cp.runs == 2);
    CHECK(cp.min_us <= cp.mean_us + 1e-9 && cp.min_us >= 0);
    last_start = cp.start_us;
  }
  CHECK(mixc_session_call_profile(s, n, &cp) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_call_profile(s, -1, &cp) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_call_profile(s, 0, NULL) == MIXC_ERR_INVALID_ARGUMENT);

  CHECK(mixc_session_write_profile(s, path) == MIXC_OK);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  if (f) {
    static char text[1 << 22];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    CHECK(text[0] == '[');
    CHECK(count(text, "\"ph\":\"X\"") == n);
    CHECK(count(text, "\"runs\":2,") == n);
    CHECK(strstr(text, "\"mixc.moe\"") != NULL);
  }
  CHECK(mixc_session_write_profile(s, "/nonexistent-dir/p.json") == MIXC_ERR_IO);
  CHECK(strstr(mixc_last_error(), "/nonexistent-dir/p.json") != NULL);
  CHECK(mixc_session_write_profile(s, NULL) == MIXC_ERR_INVALID_ARGUMENT);

  /* re-enabling starts over; disabling turns the queries off */
  CHECK(mixc_session_set_profiling(s, 1) == MIXC_OK);
  CHECK(mixc_session_call_profile(s, 0, &cp) == MIXC_OK && cp.runs == 0 && cp.dur_us == -1);
  CHECK(run(s, o) == MIXC_OK);
  CHECK(mixc_session_call_profile(s, 0, &cp) == MIXC_OK && cp.runs == 1);
  CHECK(mixc_session_set_profiling(s, 0) == MIXC_OK);
  CHECK(mixc_session_call_profile(s, 0, &cp) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(run(s, o) == MIXC_OK);
  free_outs(o);
  mixc_session_free(s);
}

/* ---- routing statistics -------------------------------------------------------------- */
#define MAX_LAYERS 16
#define MAX_E 256

/* Runs `runs` times with statistics on; copies each layer's counts. */
static int collect(mixc_model *m, int runs, int64_t counts[][MAX_E + 2]) {
  mixc_session *s;
  CHECK(mixc_session_create(m, &s) == MIXC_OK);
  void **o = alloc_outs();
  int nl = mixc_model_num_moe_layers(m);
  mixc_moe_stats st;
  CHECK(mixc_session_moe_stats(s, 0, &st) == MIXC_ERR_INVALID_ARGUMENT); /* off */
  CHECK(mixc_session_set_moe_stats(s, 1) == MIXC_OK);
  for (int r = 0; r < runs; r++) CHECK(run(s, o) == MIXC_OK);
  for (int l = 0; l < nl && l < MAX_LAYERS; l++) {
    CHECK(mixc_session_moe_stats(s, l, &st) == MIXC_OK);
    CHECK(st.node && st.node[0]);
    CHECK(st.num_experts > 0 && st.num_experts <= MAX_E && st.k >= 1 && st.k <= st.num_experts);
    CHECK(st.runs == runs);
    int64_t sum = 0;
    for (int e = 0; e < st.num_experts && e < MAX_E; e++) {
      CHECK(st.expert_rows[e] >= 0);
      sum += st.expert_rows[e];
      counts[l][e] = st.expert_rows[e];
    }
    counts[l][MAX_E] = st.over_capacity;
    counts[l][MAX_E + 1] = st.dropped_rows;
    if (sum + st.over_capacity + st.k * st.dropped_rows != st.rows * st.k * runs) {
      failures++;
      fprintf(stderr, "FAIL: layer %d (%s): %lld routed + %lld over capacity + %d * %lld dropped != "
              "%lld rows * %d * %d runs\n", l, st.node, (long long)sum, (long long)st.over_capacity,
              st.k, (long long)st.dropped_rows, (long long)st.rows, st.k, runs);
    }
    checks++;
  }
  CHECK(mixc_session_moe_stats(s, nl, &st) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_moe_stats(s, -1, &st) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_moe_stats(s, 0, NULL) == MIXC_ERR_INVALID_ARGUMENT);
  CHECK(mixc_session_set_moe_stats(NULL, 1) == MIXC_ERR_INVALID_ARGUMENT);
  /* enabling again zeroes the counts */
  CHECK(mixc_session_set_moe_stats(s, 1) == MIXC_OK);
  CHECK(mixc_session_moe_stats(s, 0, &st) == MIXC_OK && st.runs == 0);
  int64_t any = 0;
  for (int e = 0; e < st.num_experts; e++) any += st.expert_rows[e];
  CHECK(any == 0 && st.over_capacity == 0 && st.dropped_rows == 0);
  CHECK(mixc_session_set_moe_stats(s, 0) == MIXC_OK);
  CHECK(mixc_session_moe_stats(s, 0, &st) == MIXC_ERR_INVALID_ARGUMENT);
  free_outs(o);
  mixc_session_free(s);
  return nl;
}

static void check_stats(mixc_model *jit, mixc_model *interp) {
  static int64_t one[MAX_LAYERS][MAX_E + 2], three[MAX_LAYERS][MAX_E + 2], in1[MAX_LAYERS][MAX_E + 2];
  int nl = collect(jit, 1, one);
  CHECK(nl >= 1 && nl <= MAX_LAYERS);
  CHECK(mixc_model_num_moe_layers(NULL) == -1);
  CHECK(collect(jit, 3, three) == nl);
  CHECK(collect(interp, 1, in1) == nl);
  for (int l = 0; l < nl && l < MAX_LAYERS; l++)
    for (int e = 0; e < MAX_E + 2; e++) {
      CHECK(three[l][e] == 3 * one[l][e]);
      CHECK(in1[l][e] == one[l][e]);
    }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL.onnx OUTDIR\n", argv[0]);
    return 2;
  }
  model_path = argv[1];
  mixc_model *m = compile(1, 0);
  CHECK(mixc_model_num_inputs(m) == 1);
  nout = mixc_model_num_outputs(m);
  if (nout < 1 || nout > MAX_OUT) return 1;
  mixc_model_input(m, 0, &in_info);
  for (int i = 0; i < nout; i++) mixc_model_output(m, i, &out_info[i]);
  size_t nx = in_info.nbytes / sizeof(float);
  x = malloc(in_info.nbytes + 1);
  for (size_t i = 0; i < nx; i++) x[i] = (float)((int)(i * 7919 % 2001) - 1000) / 1000.0f;

  mixc_session *s;
  CHECK(mixc_session_create(m, &s) == MIXC_OK);
  reference = alloc_outs();
  CHECK(run(s, reference) == MIXC_OK);
  mixc_session_free(s);

  for (int t = 0; t <= 3; t++) check_threads(t, 0);
  check_threads(1, 1);
  check_threads(3, 1);
  /* out of range thread counts */
  mixc_options bad = {.threads = 4097};
  mixc_model *none = NULL;
  CHECK(mixc_compile_file(model_path, &bad, &none) == MIXC_ERR_INVALID_ARGUMENT && !none);

  check_profile(m, argv[2]);
  mixc_model *interp = compile(2, 1);
  check_profile(interp, argv[2]);
  check_stats(m, interp);

  mixc_model_free(interp);
  mixc_model_free(m);
  free_outs(reference);
  free(x);
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
