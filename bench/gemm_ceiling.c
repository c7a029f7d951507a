/* gemm_ceiling.c - how fast mixc's f32 GEMM engine can go on this CPU, one
 * thread, apart from everything a model adds: runtime/kernels/gemm.c compiled
 * natively (clang-19 -O2 -march=native -ffp-contract=off, the JIT's flags
 * for its kernels) and timed on its own, from the inside out:
 *
 *   kernel  192 x 512 x 64, no epilogue, every operand hot in L2: the
 *           micro-kernel's throughput over whole tiles (the ceiling);
 *   hot     Mixer-S channel fc1 (196 x 512 x 2048, bias and GELU) with the
 *           same packed weights every run (they stay in L2/L3);
 *   cold    the same, each run on another of 24 copies of the packed weights
 *           (96 MB, more than L3): weights come from DRAM, as in a model at
 *           batch 1.
 *
 * Prints one line per case: "gemm_ceiling case=NAME m=M k=K n=N gflops=G"
 * (the best of its runs). bench.py sets these against the FMA peak of peak.c.
 *
 * Requires: clang-19; built by bench.py with runtime/kernels/gemm.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm.h"

/* one thread: the tasks run in order on the caller */
void rt_parallel_for(rt_ctx *ctx, int64_t n, rt_task_fn fn, void *arg) {
  (void)ctx;
  for (int64_t i = 0; i < n; i++) fn(arg, i);
}
int rt_threads(const rt_ctx *ctx) {
  (void)ctx;
  return 1;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *floats(size_t n) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "gemm_ceiling: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < n; i++) p[i] = (float)(i % 13) * 0.05f - 0.3f;
  return p;
}

/* Best GFLOP/s of `reps` runs of Y = A . B (B packed, `copies` copies used in
 * turn), with a bias and a GELU epilogue as a channel fc1 has, when `gelu`. */
static double measure(int64_t m, int64_t k, int64_t n, int copies, int reps, int gelu) {
  float *a = floats((size_t)(m * k)), *y = floats((size_t)(m * n)), *bias = floats((size_t)n);
  float *b = floats((size_t)(k * n));
  int64_t packed = mixc_gemm_packed_floats(n, k, MIXC_GEMM_NR);
  float *bp = floats((size_t)(packed * copies));
  for (int c = 0; c < copies; c++) mixc_gemm_pack_b(k, n, b, n, 1, bp + c * packed);
  mixc_gemm_params p;
  mixc_gemm_plain(&p, m, k, n, k, 1, n, 1);
  p.act = gelu ? MIXC_ACT_GELU_ERF : MIXC_ACT_NONE;
  rt_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    mixc_gemm_ops o = {.A = a, .B = bp + (r % copies) * packed, .bias = gelu ? bias : NULL, .Y = y};
    double t = now();
    mixc_gemm_f32_run(&ctx, &p, &o);
    t = now() - t;
    if (t < best) best = t;
  }
  free(a), free(y), free(bias), free(b), free(bp);
  return 2.0 * (double)(m * k * n) / best * 1e-9;
}

int main(void) {
  static const struct {
    const char *name;
    int64_t m, k, n;
    int copies, reps, gelu;
  } cases[] = {{"kernel", 192, 512, 64, 1, 3000, 0},
               {"hot", 196, 512, 2048, 1, 200, 1},
               {"cold", 196, 512, 2048, 24, 200, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    printf("gemm_ceiling case=%s m=%lld k=%lld n=%lld gflops=%.1f\n", cases[i].name,
           (long long)cases[i].m, (long long)cases[i].k, (long long)cases[i].n,
           measure(cases[i].m, cases[i].k, cases[i].n, cases[i].copies, cases[i].reps,
                   cases[i].gelu));
  return 0;
}
