/* test_threads.c - concurrency through the public API (include/mixc/mixc.h):
 * one compiled model, 4 threads, each with its own mixc_session, 50 runs
 * each on the same input; every output must be bit-identical to a
 * single-threaded run. Also checks that mixc_last_error() is per thread.
 *
 * usage: test_threads MODEL.onnx [THREADS [RUNS]]   (exit 0: pass)
 * Requires: pthreads; a model with one f32 input and f32 outputs. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixc/mixc.h"

#define MAX_OUT 8

typedef struct {
  const mixc_model *model;
  int runs;
  const float *x;
  const void *want[MAX_OUT];
  int failures;
  char msg[256];
} job;

static mixc_tensor_info in_info, out_info[MAX_OUT];
static int nout;

static int run_once(mixc_session *s, const float *x, void **outs, char *msg, size_t msgn) {
  mixc_tensor in = {in_info.name, in_info.dtype, in_info.rank, in_info.dims, (void *)x, in_info.nbytes};
  mixc_tensor out[MAX_OUT];
  for (int i = 0; i < nout; i++)
    out[i] = (mixc_tensor){out_info[i].name, out_info[i].dtype, out_info[i].rank, out_info[i].dims, outs[i],
                           out_info[i].nbytes};
  if (mixc_run(s, &in, 1, out, (size_t)nout) != MIXC_OK) {
    snprintf(msg, msgn, "mixc_run: %s", mixc_last_error());
    return 1;
  }
  return 0;
}

static void *worker(void *arg) {
  job *j = arg;
  mixc_session *s;
  if (mixc_session_create(j->model, &s) != MIXC_OK) {
    snprintf(j->msg, sizeof j->msg, "session: %s", mixc_last_error());
    j->failures++;
    return NULL;
  }
  void *outs[MAX_OUT];
  for (int i = 0; i < nout; i++) outs[i] = malloc(out_info[i].nbytes);
  for (int r = 0; r < j->runs; r++) {
    for (int i = 0; i < nout; i++) memset(outs[i], 0xA5, out_info[i].nbytes);
    if (run_once(s, j->x, outs, j->msg, sizeof j->msg)) {
      j->failures++;
      break;
    }
    for (int i = 0; i < nout; i++)
      if (memcmp(outs[i], j->want[i], out_info[i].nbytes)) {
        snprintf(j->msg, sizeof j->msg, "run %d: output %s differs from the single-threaded run", r,
                 out_info[i].name);
        j->failures++;
      }
    /* a failing call on this thread must not disturb the others */
    if (r % 10 == 0) {
      mixc_tensor bad = {"no_such_input", MIXC_DTYPE_FLOAT32, in_info.rank, in_info.dims, (void *)j->x,
                         in_info.nbytes};
      if (mixc_run(s, &bad, 1, NULL, 0) == MIXC_OK || !strstr(mixc_last_error(), "no_such_input")) {
        snprintf(j->msg, sizeof j->msg, "a bad input name was not reported on this thread");
        j->failures++;
      }
    }
  }
  for (int i = 0; i < nout; i++) free(outs[i]);
  mixc_session_free(s);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.onnx [THREADS [RUNS]]\n", argv[0]);
    return 2;
  }
  int nthreads = argc > 2 ? atoi(argv[2]) : 4, runs = argc > 3 ? atoi(argv[3]) : 50;
  if (nthreads < 1 || nthreads > 64 || runs < 1) return 2;
  mixc_model *model;
  if (mixc_compile_file(argv[1], NULL, &model) != MIXC_OK) {
    fprintf(stderr, "compile: %s\n", mixc_last_error());
    return 1;
  }
  nout = mixc_model_num_outputs(model);
  if (mixc_model_num_inputs(model) != 1 || nout < 1 || nout > MAX_OUT ||
      mixc_model_input(model, 0, &in_info) != MIXC_OK || in_info.dtype != MIXC_DTYPE_FLOAT32) {
    fprintf(stderr, "want one f32 input and 1..%d outputs\n", MAX_OUT);
    return 1;
  }
  for (int i = 0; i < nout; i++) mixc_model_output(model, i, &out_info[i]);
  size_t nx = in_info.nbytes / sizeof(float);
  float *x = malloc(in_info.nbytes);
  unsigned st = 12345;
  for (size_t i = 0; i < nx; i++) {
    st = st * 1103515245u + 12345u;
    x[i] = (float)((st >> 8) & 0xFFFF) / 32768.0f - 1.0f;
  }
  /* the reference: one session, one thread */
  mixc_session *s;
  void *want[MAX_OUT];
  char msg[256];
  for (int i = 0; i < nout; i++) want[i] = calloc(1, out_info[i].nbytes);
  if (mixc_session_create(model, &s) != MIXC_OK || run_once(s, x, want, msg, sizeof msg)) {
    fprintf(stderr, "single-threaded run failed: %s\n", mixc_last_error());
    return 1;
  }
  mixc_session_free(s);

  pthread_t th[64];
  job jobs[64];
  for (int t = 0; t < nthreads; t++) {
    jobs[t] = (job){.model = model, .runs = runs, .x = x};
    memcpy(jobs[t].want, want, sizeof want);
    if (pthread_create(&th[t], NULL, worker, &jobs[t])) return 1;
  }
  int failures = 0;
  for (int t = 0; t < nthreads; t++) {
    pthread_join(th[t], NULL);
    if (jobs[t].failures) fprintf(stderr, "thread %d: %d failure(s); %s\n", t, jobs[t].failures, jobs[t].msg);
    failures += jobs[t].failures;
  }
  for (int i = 0; i < nout; i++) free(want[i]);
  free(x);
  mixc_model_free(model);
  printf("%d threads x %d runs: %s\n", nthreads, runs, failures ? "FAIL" : "all outputs bit-identical");
  return failures != 0;
}
