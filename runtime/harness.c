/* harness.c - rt_harness_main: the `main` of standalone model executables and
 * the body of `mixc run`. Parses the command line, reads every input tensor
 * (.npy or .pb) and checks it against the model descriptor, runs the entry
 * function on a thread pool, writes one .npy per output, and optionally times
 * more runs, writes a profile and prints MoE routing statistics.
 *
 *   PROG --input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]
 *        [--profile FILE] [--stats] [--weights FILE]
 *
 * --threads N: the pool's size (default rt_default_threads(), the online
 * cores). --profile FILE: every run is profiled (runtime/profile.c); FILE is
 * a Chrome trace of the last one, each event's args carrying the mean and
 * minimum over all runs. --stats: the first run's routing counts per mixc.moe
 * layer (later --bench runs are not counted). A run-time data error prints
 * `error: node 'NAME' (OP): MESSAGE`, naming the failing call from the
 * descriptor's call table (`error: run failed: MESSAGE` without one).
 *
 * A model compiled with --weights=file maps its weights first: FILE, or by
 * default the file named in the descriptor next to the executable
 * (/proc/self/exe); a missing or mismatched file is bad input (exit 1).
 *
 * rt_exe_main, the executables' main: with embedded weights, once the command
 * line and the inputs are good, the weights move out of the executable's file
 * mapping into anonymous memory before the first run (see own_rodata).
 *
 * Exit codes: 0 ok; 1 bad input (a missing, unknown, unreadable or mismatched
 * input, a run-time data error, an unwritable output, a flag value that is
 * out of range or malformed); 2 usage (an unknown flag or argument, a flag
 * without its value, --weights for built-in weights); 3 internal (a
 * descriptor that breaks its contract).
 *
 * Requires: libc, POSIX clock_gettime and mkdir, Linux mremap and
 * /proc/self/maps (without them the weights stay where they are), libm, the
 * runtime's pool (pool.c) and instrumentation (profile.c); the descriptor's
 * contract in rt.h.
 * Buffers handed to the entry function are 64-byte aligned and padded to a
 * multiple of 64 bytes. */
#define _GNU_SOURCE /* mremap */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "tensor_io.h"

enum { H_OK = 0, H_BAD_INPUT = 1, H_USAGE = 2, H_INTERNAL = 3 };

#define MAX_THREADS RT_MAX_THREADS
#define MAX_BENCH 1000000

static const char usage_text[] =
    "usage: %s --input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]\n"
    "          [--profile FILE] [--stats] [--weights FILE]\n"
    "\n"
    "Runs the model once on the given inputs and writes DIR/NAME.npy for each output.\n"
    RT_HARNESS_FLAGS_HELP
    "  --weights FILE     the weights file, for models compiled with --weights=file\n"
    "                     (default: the one mixc wrote, next to this executable)\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 internal error\n";

static void print_io(FILE *f, const char *what, int n, const rt_tensor_desc *t) {
  char s[256];
  fprintf(f, "%s:\n", what);
  for (int i = 0; i < n; i++)
    fprintf(f, "  %s  %s\n", t[i].name, rt_shape_str(s, sizeof s, t[i].dtype, t[i].rank, t[i].dims));
  if (!n) fprintf(f, "  (none)\n");
}

/* A descriptor that breaks rt.h's contract is a bug in whatever produced it. */
static const char *check_desc(const rt_model_desc *m) {
  if (!m) return "no model descriptor";
  if (m->abi_version != RT_ABI_VERSION) return "model descriptor has a different ABI version";
  if (!m->entry) return "model descriptor has no entry function";
  if (m->weights_file && (!m->load_weights || !m->weights_error))
    return "model descriptor names a weights file but no loader";
  if (m->ninputs < 0 || m->noutputs < 0 || (m->ninputs && !m->inputs) || (m->noutputs && !m->outputs))
    return "model descriptor has bad input/output lists";
  if (m->ncalls < 0 || (m->ncalls && !m->calls)) return "model descriptor has a bad call table";
  for (int i = 0; i < m->ncalls; i++)
    if (!m->calls[i].name || !m->calls[i].op || !m->calls[i].kernel || m->calls[i].moe_experts < 0)
      return "model descriptor has a bad call table entry";
  for (int k = 0; k < 2; k++) {
    int n = k ? m->noutputs : m->ninputs;
    const rt_tensor_desc *t = k ? m->outputs : m->inputs;
    for (int i = 0; i < n; i++) {
      size_t es = rt_dtype_size(t[i].dtype);
      if (!t[i].name || !es || t[i].rank < 0 || t[i].rank > RT_DESC_MAX_RANK)
        return "model descriptor has a bad tensor description";
      int64_t numel = rt_numel(t[i].rank, t[i].dims, es);
      if (numel < 0 || (uint64_t)numel * es != t[i].nbytes)
        return "model descriptor's byte count does not match its shape";
    }
  }
  return NULL;
}

/* Strictly parses a decimal integer in [lo, hi]. */
static bool parse_int(const char *s, long lo, long hi, long *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static void *alloc64(uint64_t n) {
  size_t cap = ((size_t)n + 63) & ~(size_t)63;
  void *p = aligned_alloc(64, cap ? cap : 64);
  if (p) memset(p, 0, cap ? cap : 64);
  return p;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Which model input an `--input` argument names: the longest input name that
 * is followed by '=' (input names and paths may both contain '='). */
static int match_input(const rt_model_desc *m, const char *arg) {
  int best = -1;
  size_t bestlen = 0;
  for (int i = 0; i < m->ninputs; i++) {
    size_t n = strlen(m->inputs[i].name);
    if (!strncmp(arg, m->inputs[i].name, n) && arg[n] == '=' && (best < 0 || n > bestlen))
      best = i, bestlen = n;
  }
  return best;
}

typedef struct harness {
  const char *prog;
  const rt_model_desc *m;
  const char **files;      /* per model input: the file, or NULL */
  rt_tensor *in;           /* per model input */
  void **inptr, **outptr;
  void *arena;
  rt_pool *pool;           /* NULL: one thread */
  rt_prof *prof;           /* --profile */
  rt_stats *stats;         /* --stats; counted in the first run only */
} harness;

static void harness_free(harness *h) {
  if (h->in)
    for (int i = 0; i < h->m->ninputs; i++) rt_tensor_free(&h->in[i]);
  if (h->outptr)
    for (int i = 0; i < h->m->noutputs; i++) free(h->outptr[i]);
  free(h->files);
  free(h->in);
  free(h->inptr);
  free(h->outptr);
  free(h->arena);
  rt_pool_free(h->pool);
  rt_prof_free(h->prof);
  rt_stats_free(h->stats);
}

/* One run; `count` says whether routing statistics are collected. A
 * run-time data error names the failing call's node when the descriptor has
 * a call table. */
static int run_once(harness *h, rt_ctx *ctx, bool count) {
  memset(ctx, 0, sizeof *ctx);
  ctx->pool = h->pool;
  if (h->prof) {
    rt_prof_begin_run(h->prof);
    ctx->prof = h->prof;
  }
  if (h->stats && count) ctx->stats = rt_stats_table(h->stats);
  int rc = h->m->entry(ctx, (void *const *)h->inptr, (void *const *)h->outptr, h->arena);
  if (h->prof) rt_prof_end_run(h->prof);
  if (rc || ctx->status) {
    ctx->msg[sizeof ctx->msg - 1] = 0;
    const char *msg = ctx->msg[0] ? ctx->msg : "the model reported an error without a message";
    int c = ctx->fail_call;
    if (h->m->calls && c >= 0 && c < h->m->ncalls) {
      char label[2 * RT_PRINTABLE_MAX + 8];
      fprintf(stderr, "error: node %s: %s\n", rt_call_label(&h->m->calls[c], label, sizeof label), msg);
    } else {
      fprintf(stderr, "error: run failed: %s\n", msg);
    }
    return H_BAD_INPUT;
  }
  return H_OK;
}

/* Writes every output to dir; sanitized names that collide get a suffix. */
static int write_outputs(harness *h, const char *dir) {
  const rt_model_desc *m = h->m;
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (mkdir(dir, 0777) != 0) {
      fprintf(stderr, "%s: cannot create output directory %s: %s\n", h->prog, dir, strerror(errno));
      return H_BAD_INPUT;
    }
  } else if (!S_ISDIR(st.st_mode)) {
    fprintf(stderr, "%s: output directory %s is not a directory\n", h->prog, dir);
    return H_BAD_INPUT;
  }
  char(*used)[256] = calloc((size_t)m->noutputs + 1, sizeof *used);
  if (!used) {
    fprintf(stderr, "%s: out of memory\n", h->prog);
    return H_INTERNAL;
  }
  int rc = H_OK;
  for (int i = 0; i < m->noutputs && rc == H_OK; i++) {
    const rt_tensor_desc *o = &m->outputs[i];
    char base[200];
    rt_sanitize_name(o->name, base, sizeof base);
    snprintf(used[i], sizeof used[i], "%s", base);
    for (int k = 2;; k++) {
      bool clash = false;
      for (int j = 0; j < i; j++) clash |= !strcmp(used[j], used[i]);
      if (!clash) break;
      snprintf(used[i], sizeof used[i], "%s_%d", base, k);
    }
    size_t plen = strlen(dir) + strlen(used[i]) + 8;
    char *path = malloc(plen);
    if (!path) {
      rc = H_INTERNAL;
      break;
    }
    snprintf(path, plen, "%s/%s.npy", dir, used[i]);
    rt_tensor t = {o->dtype, o->rank, {0}, h->outptr[i], o->nbytes};
    memcpy(t.dims, o->dims, sizeof t.dims);
    char err[512], s[256];
    if (rt_tensor_write_npy(path, &t, err, sizeof err)) {
      fprintf(stderr, "%s: output '%s': %s\n", h->prog, o->name, err);
      rc = H_BAD_INPUT;
    } else {
      printf("%s %s -> %s\n", o->name, rt_shape_str(s, sizeof s, o->dtype, o->rank, o->dims), path);
    }
    free(path);
  }
  free(used);
  return rc;
}

/* Writes --profile's file (nothing without the flag). */
static int write_profile(harness *h, const char *path) {
  if (!path) return H_OK;
  char err[512];
  if (rt_prof_write_json(h->prof, h->m->calls, path, err, sizeof err)) {
    fprintf(stderr, "%s: profile: %s\n", h->prog, err);
    return H_BAD_INPUT;
  }
  printf("profile: %d calls -> %s\n", (int)h->m->ncalls, path);
  return H_OK;
}

/* Maps the model's weights file: path, else desc->weights_file next to the
 * executable. Nonzero after printing why. */
static int load_weights(const char *prog, const rt_model_desc *m, const char *path) {
  char *def = NULL;
  if (!path) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
      fprintf(stderr, "%s: cannot locate this executable to find %s; pass --weights FILE\n", prog,
              m->weights_file);
      return 1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    size_t len = strlen(self) + strlen(m->weights_file) + 2;
    if (!(def = malloc(len))) return 1;
    snprintf(def, len, "%s/%s", slash ? self : ".", m->weights_file);
    path = def;
  }
  int rc = m->load_weights(path);
  if (rc) {
    const char *why = m->weights_error();
    fprintf(stderr, "%s: cannot load weights: %s\n", prog, why && *why ? why : path);
    if (def) fprintf(stderr, "%s: (pass --weights FILE to use another file)\n", prog);
  }
  free(def);
  return rc ? 1 : 0;
}

/* Every read-only mapping of this executable's file of 1 MiB or more (an
 * executable's embedded weights) becomes anonymous memory holding the same
 * bytes at the same address. On the benchmark machine, weights read from the
 * executable's file mapping made runs of large models at two threads up to
 * 15% slower in some processes than the same weights in anonymous memory, as
 * the JIT has them (Soft MoE batch 8, five processes each: medians 196-227 ms
 * against 187-204 ms, the JIT 184-212 ms); the cause is not known. Any
 * failure leaves that mapping as it is. */
static void own_rodata(void) {
  char exe[4096], line[8192];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  FILE *f = n > 0 ? fopen("/proc/self/maps", "r") : NULL;
  if (!f) return;
  exe[n] = 0;
  uintptr_t lo[16], hi[16];
  int nmap = 0;
  while (nmap < 16 && fgets(line, sizeof line, f)) {
    unsigned long a, b, off, ino;
    char perms[8], dev[32];
    int pos = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %31s %lu %n", &a, &b, perms, &off, dev, &ino, &pos) < 6 || !pos)
      continue;
    line[pos + strcspn(line + pos, "\n")] = 0;
    if (strcmp(line + pos, exe) || strcmp(perms, "r--p") || b - a < (1ul << 20)) continue;
    lo[nmap] = a, hi[nmap] = b, nmap++;
  }
  fclose(f);
  for (int i = 0; i < nmap; i++) {
    size_t len = hi[i] - lo[i];
    void *at = (void *)lo[i];
    void *copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copy == MAP_FAILED) continue;
    memcpy(copy, at, len);
    if (mprotect(copy, len, PROT_READ) ||
        mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, at) == MAP_FAILED)
      munmap(copy, len);
  }
}

/* The harness; with own_weights (an executable with embedded weights, from
 * rt_exe_main) own_rodata moves them once the command line and inputs are
 * good (not for --help or a usage error). */
static int harness_main(int argc, char **argv, const rt_model_desc *m, bool own_weights) {
  const char *prog = argc > 0 && argv[0] ? argv[0] : "model";
  const char *slash = strrchr(prog, '/');
  if (slash && slash[1]) prog = slash + 1;
  const char *bad = check_desc(m);
  if (bad) {
    fprintf(stderr, "%s: internal error: %s\n", prog, bad);
    return H_INTERNAL;
  }

  harness h = {.prog = prog, .m = m};
  const char *outdir = ".";
  const char *wpath = NULL, *profile = NULL;
  bool stats = false;
  long threads = 0, bench = 0;
  const char **inargs = calloc((size_t)argc + 1, sizeof *inargs);
  int ninargs = 0, rc = H_OK;
  if (!inargs) return H_INTERNAL;

  /* ---- flags ---- */
  for (int i = 1; i < argc && rc == H_OK; i++) {
    const char *a = argv[i], *val = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf(usage_text, prog);
      printf("\n");
      print_io(stdout, "inputs", m->ninputs, m->inputs);
      print_io(stdout, "outputs", m->noutputs, m->outputs);
      free(inargs);
      return H_OK;
    }
    if (!strcmp(a, "--stats")) {
      stats = true;
      continue;
    }
    static const char *const valued[] = {"--input", "--output-dir", "--threads", "--bench",
                                         "--weights", "--profile"};
    int which = -1;
    for (int k = 0; k < 6; k++) {
      size_t n = strlen(valued[k]);
      if (!strncmp(a, valued[k], n) && (a[n] == 0 || a[n] == '=')) {
        which = k;
        if (a[n] == '=') val = a + n + 1;
        else if (i + 1 < argc) val = argv[++i];
        else {
          fprintf(stderr, "%s: %s needs a value\n", prog, valued[k]);
          rc = H_USAGE;
        }
        break;
      }
    }
    if (rc) break;
    switch (which) {
    case 0:
      if (!strchr(val, '=')) {
        fprintf(stderr, "%s: --input expects NAME=FILE, got '%s'\n", prog, val);
        rc = H_BAD_INPUT;
      }
      inargs[ninargs++] = val;
      break;
    case 1:
      if (!*val) {
        fprintf(stderr, "%s: --output-dir is empty\n", prog);
        rc = H_BAD_INPUT;
      }
      outdir = val;
      break;
    case 2:
      if (!parse_int(val, 1, MAX_THREADS, &threads)) {
        fprintf(stderr, "%s: --threads expects an integer from 1 to %d, got '%s'\n", prog, MAX_THREADS, val);
        rc = H_BAD_INPUT;
      }
      break;
    case 3:
      if (!parse_int(val, 1, MAX_BENCH, &bench)) {
        fprintf(stderr, "%s: --bench expects an integer from 1 to %d, got '%s'\n", prog, MAX_BENCH, val);
        rc = H_BAD_INPUT;
      }
      break;
    case 4:
      if (!m->weights_file) {
        fprintf(stderr, "%s: --weights: this model's weights are built in\n", prog);
        rc = H_USAGE;
      } else if (!*val) {
        fprintf(stderr, "%s: --weights is empty\n", prog);
        rc = H_BAD_INPUT;
      }
      wpath = val;
      break;
    case 5:
      if (!*val) {
        fprintf(stderr, "%s: --profile is empty\n", prog);
        rc = H_BAD_INPUT;
      }
      profile = val;
      break;
    default:
      fprintf(stderr, "%s: %s '%s'\n", prog, a[0] == '-' ? "unknown option" : "unexpected argument", a);
      rc = H_USAGE;
    }
  }
  if (rc) {
    fprintf(stderr, "run '%s --help' for usage\n", prog);
    free(inargs);
    return rc;
  }
  if (m->weights_file && load_weights(prog, m, wpath)) {
    free(inargs);
    return H_BAD_INPUT;
  }

  /* ---- inputs: match names, then read and check ---- */
  h.files = calloc((size_t)m->ninputs + 1, sizeof *h.files);
  h.in = calloc((size_t)m->ninputs + 1, sizeof *h.in);
  h.inptr = calloc((size_t)m->ninputs + 1, sizeof *h.inptr);
  h.outptr = calloc((size_t)m->noutputs + 1, sizeof *h.outptr);
  if (!h.files || !h.in || !h.inptr || !h.outptr) rc = H_INTERNAL;
  for (int i = 0; i < ninargs && rc == H_OK; i++) {
    int k = match_input(m, inargs[i]);
    if (k < 0) {
      const char *eq = strchr(inargs[i], '=');
      fprintf(stderr, "%s: unknown input '%.*s'; the model's inputs are:", prog,
              (int)(eq - inargs[i]), inargs[i]);
      for (int j = 0; j < m->ninputs; j++) fprintf(stderr, " %s", m->inputs[j].name);
      fprintf(stderr, "%s\n", m->ninputs ? "" : " (none)");
      rc = H_BAD_INPUT;
    } else if (h.files[k]) {
      fprintf(stderr, "%s: input '%s' is given twice\n", prog, m->inputs[k].name);
      rc = H_BAD_INPUT;
    } else {
      h.files[k] = inargs[i] + strlen(m->inputs[k].name) + 1;
    }
  }
  free(inargs);
  for (int i = 0; i < m->ninputs && rc == H_OK; i++) {
    char s[256];
    if (!h.files[i]) {
      fprintf(stderr, "%s: missing --input %s=FILE (%s)\n", prog, m->inputs[i].name,
              rt_shape_str(s, sizeof s, m->inputs[i].dtype, m->inputs[i].rank, m->inputs[i].dims));
      rc = H_BAD_INPUT;
    }
  }
  for (int i = 0; i < m->ninputs && rc == H_OK; i++) {
    const rt_tensor_desc *d = &m->inputs[i];
    rt_tensor *t = &h.in[i];
    char err[512], want[256], got[256];
    if (rt_tensor_read(h.files[i], t, err, sizeof err)) {
      fprintf(stderr, "%s: input '%s': %s\n", prog, d->name, err);
      rc = H_BAD_INPUT;
      break;
    }
    bool same = t->dtype == d->dtype && t->rank == d->rank;
    for (int j = 0; same && j < d->rank; j++) same = t->dims[j] == d->dims[j];
    if (!same) {
      fprintf(stderr, "%s: input '%s': expected %s, got %s (from %s)\n", prog, d->name,
              rt_shape_str(want, sizeof want, d->dtype, d->rank, d->dims),
              rt_shape_str(got, sizeof got, t->dtype, t->rank, t->dims), h.files[i]);
      rc = H_BAD_INPUT;
      break;
    }
    if (t->nbytes != d->nbytes) {
      fprintf(stderr, "%s: internal error: input '%s' has %llu bytes, descriptor says %llu\n", prog,
              d->name, (unsigned long long)t->nbytes, (unsigned long long)d->nbytes);
      rc = H_INTERNAL;
      break;
    }
    h.inptr[i] = t->data; /* rt_tensor_read allocates 64-byte aligned, padded */
  }

  /* ---- buffers, the run, the outputs ---- */
  if (rc == H_OK && own_weights) own_rodata();
  for (int i = 0; i < m->noutputs && rc == H_OK; i++)
    if (!(h.outptr[i] = alloc64(m->outputs[i].nbytes))) rc = H_INTERNAL;
  if (rc == H_OK && !(h.arena = alloc64(m->arena_size))) rc = H_INTERNAL;
  if (rc == H_OK && profile && !(h.prof = rt_prof_new(m->ncalls))) rc = H_INTERNAL;
  if (rc == H_OK && stats && !(h.stats = rt_stats_new(m->ncalls, m->calls))) rc = H_INTERNAL;
  if (rc == H_INTERNAL) fprintf(stderr, "%s: out of memory\n", prog);
  /* No pool (no threads to be had) just means one thread. */
  if (rc == H_OK) h.pool = rt_pool_create(threads ? (int)threads : rt_default_threads());
  rt_ctx ctx;
  if (rc == H_OK) rc = run_once(&h, &ctx, true);
  if (rc == H_OK) rc = write_outputs(&h, outdir);
  if (rc == H_OK && stats) {
    bool any = false;
    for (int i = 0; i < m->ncalls; i++) any |= m->calls[i].moe_experts > 0;
    if (any) rt_stats_print(h.stats, m->calls, stdout);
    else printf("moe: no routed MoE layers (mixc.moe) in this model\n");
  }

  if (rc == H_OK && bench > 0) {
    double *ms = malloc(sizeof *ms * (size_t)bench);
    if (!ms) {
      fprintf(stderr, "%s: out of memory\n", prog);
      rc = H_INTERNAL;
    }
    for (long i = 0; i < bench && rc == H_OK; i++) {
      double t0 = now_ms();
      rc = run_once(&h, &ctx, false);
      ms[i] = now_ms() - t0;
    }
    if (rc == H_OK) {
      qsort(ms, (size_t)bench, sizeof *ms, cmp_double);
      double median = bench % 2 ? ms[bench / 2] : (ms[bench / 2 - 1] + ms[bench / 2]) / 2;
      rc = write_profile(&h, profile);
      fflush(stdout);
      if (rc == H_OK) printf("median_ms=%.4f min_ms=%.4f runs=%ld\n", median, ms[0], bench);
    }
    free(ms);
  } else if (rc == H_OK) {
    rc = write_profile(&h, profile);
  }
  fflush(stdout);
  harness_free(&h);
  return rc;
}

int rt_harness_main(int argc, char **argv, const rt_model_desc *m) {
  return harness_main(argc, argv, m, false);
}

int rt_exe_main(int argc, char **argv, const rt_model_desc *m) {
  return harness_main(argc, argv, m, m && !m->weights_file);
}
