/* pool.c - the thread pool behind rt_parallel_for: a fixed set of workers
 * that, with the calling thread, share out the tasks of one parallel loop at a
 * time through atomic counters.
 *
 * A loop publishes (fn, arg, n) under the mutex and bumps a generation number;
 * workers spin briefly on the generation before sleeping on a condition
 * variable, so that the many short loops of a model run do not pay a wake-up
 * each. Every worker takes part in every loop (it may find no task left) and
 * reports when it is done, so a loop is over, and the next may be published,
 * only when all workers have left it.
 *
 * The n tasks are cut into one contiguous segment per thread. A thread claims
 * the tasks of its own segment first, in order, then helps with the others'.
 * Kernels number their tasks batch-major and row-major, so without a slow
 * spell each thread keeps producing the same rows from op to op and finds
 * its inputs in its own L2 (one shared counter interleaved them: at two
 * threads a LayerNormalization after a GEMM ran slower than on one; measured
 * on Mixer-S batch 8, two threads: LayerNormalization 4.3 -> 3.0 ms, the
 * model 3-4% faster). A thread that falls behind still gets help, so which
 * thread runs a task varies between runs; kernels make every task's result
 * independent of that.
 *
 * Requires: POSIX threads, C11 atomics. One pool serves one run at a time
 * (each session and each harness owns its pool); rt_parallel_for calls made
 * from inside a task run inline. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "rt.h"

#define SPINS 20000

struct rt_pool {
  int nthreads;                 /* workers + the caller */
  pthread_t *workers;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  atomic_uint gen;              /* bumped for every loop, and for shutdown */
  atomic_int stop;
  /* the current loop */
  rt_task_fn fn;
  void *arg;
  struct seg {
    _Alignas(64) atomic_llong next; /* the segment's next unclaimed task */
    int64_t end;
  } *seg;                       /* [nthreads]: thread t's segment of the current loop */
  atomic_int pending;           /* workers that have not finished the current loop */
  struct worker_arg {
    rt_pool *p;
    int me;
  } *wa;                        /* [nthreads - 1]: worker i's, whose segment is i + 1 */
};

static _Thread_local int in_task;

/* Thread `me` runs its segment's tasks, then claims from the others'. */
static void run_tasks(rt_pool *p, int me) {
  in_task = 1;
  for (int s = 0; s < p->nthreads; s++) {
    int t = (me + s) % p->nthreads;
    int64_t i;
    while ((i = atomic_fetch_add(&p->seg[t].next, 1)) < p->seg[t].end) p->fn(p->arg, i);
  }
  in_task = 0;
}

static void *worker(void *vp) {
  const struct worker_arg *wa = vp;
  rt_pool *p = wa->p;
  unsigned seen = 0;
  for (;;) {
    unsigned g;
    int spins = 0;
    while ((g = atomic_load(&p->gen)) == seen && spins < SPINS) spins++;
    if (g == seen) {
      pthread_mutex_lock(&p->mu);
      while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->wake, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    seen = g;
    if (atomic_load(&p->stop)) return NULL;
    run_tasks(p, wa->me);
    if (atomic_fetch_sub(&p->pending, 1) == 1) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_broadcast(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
  }
}

int rt_default_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > RT_MAX_THREADS ? RT_MAX_THREADS : (int)n;
}

rt_pool *rt_pool_create(int nthreads) {
  if (nthreads <= 1) return NULL;
  rt_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->workers = calloc((size_t)nthreads - 1, sizeof *p->workers);
  p->wa = calloc((size_t)nthreads - 1, sizeof *p->wa);
  p->seg = aligned_alloc(_Alignof(struct seg), (size_t)nthreads * sizeof *p->seg);
  if (!p->workers || !p->wa || !p->seg) {
    free(p->workers), free(p->wa), free(p->seg), free(p);
    return NULL;
  }
  for (int t = 0; t < nthreads; t++) atomic_init(&p->seg[t].next, 0), p->seg[t].end = 0;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  p->nthreads = 1;
  for (int i = 0; i < nthreads - 1; i++) {
    p->wa[i] = (struct worker_arg){p, i + 1};
    if (pthread_create(&p->workers[i], NULL, worker, &p->wa[i]) != 0) break;
    p->nthreads++;
  }
  return p;
}

void rt_pool_free(rt_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->workers[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  free(p->workers), free(p->wa), free(p->seg);
  free(p);
}

int rt_threads(const rt_ctx *ctx) {
  const rt_pool *p = ctx->pool;
  return p ? p->nthreads : 1;
}

void rt_parallel_for(rt_ctx *ctx, int64_t n, rt_task_fn fn, void *arg) {
  rt_pool *p = ctx->pool;
  if (!p || n <= 1 || in_task) {
    for (int64_t i = 0; i < n; i++) fn(arg, i);
    return;
  }
  p->fn = fn, p->arg = arg;
  for (int t = 0; t < p->nthreads; t++) {
    atomic_store(&p->seg[t].next, n * t / p->nthreads);
    p->seg[t].end = n * (t + 1) / p->nthreads;
  }
  atomic_store(&p->pending, p->nthreads - 1);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_tasks(p, 0);
  /* every task is claimed; wait until the workers have finished theirs */
  int spins = 0;
  while (atomic_load(&p->pending) > 0 && spins < SPINS) spins++;
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}
