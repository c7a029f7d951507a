/* rt.h - the runtime's interface: what compiled models and their hosts share.
 *
 * A compiled model (JIT or AOT) is an entry function plus a descriptor of its
 * inputs and outputs. The AOT object exports the descriptor as a constant
 * global named `<prefix>_desc` (default prefix "mixc_model"); the JIT builds
 * the same struct in memory. The harness (harness.c) runs either one: it is the
 * `main` of standalone executables and the body of `mixc run`.
 *
 * Requires: libc, libm and POSIX threads only (executables link runtime/ and
 * nothing else). */
#ifndef MIXC_RT_H
#define MIXC_RT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels/kernel.h"

#define RT_DESC_MAX_RANK 8

typedef struct rt_tensor_desc {
  const char *name;
  int32_t dtype;                  /* ONNX TensorProto.DataType code */
  int32_t rank;
  int64_t dims[RT_DESC_MAX_RANK];
  uint64_t nbytes;
} rt_tensor_desc;

/* One kernel call of a compiled model. Strings are never NULL. */
typedef struct rt_call_info {
  const char *name;      /* the ONNX node's name ("" if it has none, or for an output copy) */
  const char *op;        /* its op, e.g. "MatMul", "mixc.moe" ("" for an output copy) */
  const char *kernel;    /* the kernel function, e.g. "mixc_k_moe_f32" */
  int64_t moe_rows;      /* routed MoE layer (mixc.moe): rows routed per run; else 0 */
  int32_t node_index;    /* the ONNX node's index; -1 if a pass made the node or none */
  int32_t moe_experts;   /* routed MoE layer: E, the number of experts; else 0 */
  int32_t moe_k;         /* routed MoE layer: experts chosen per row; else 0 */
  int32_t reserved;      /* 0 */
} rt_call_info;

/* The entry function: runs the whole model once. Returns ctx->status. The
 * arena holds arena_size bytes, 64-byte aligned, owned by the caller (one per
 * concurrent run). */
typedef int (*rt_entry_fn)(rt_ctx *ctx, void *const *inputs, void *const *outputs, void *arena);

typedef struct rt_model_desc {
  uint32_t abi_version;           /* RT_ABI_VERSION */
  int32_t ninputs, noutputs;
  const rt_tensor_desc *inputs;
  const rt_tensor_desc *outputs;
  uint64_t arena_size;
  rt_entry_fn entry;
  /* Weights in a separate file (`mixc compile --weights=file`); all NULL when
   * the object embeds them. weights_file is the file's base name recorded at
   * compile time (the harness looks for it next to the executable);
   * load_weights maps and checks it (0, or -1 with weights_error() saying why)
   * and must succeed before entry runs (entry fails otherwise). */
  const char *weights_file;
  int (*load_weights)(const char *path);
  const char *(*weights_error)(void);
  /* What each kernel call runs (ncalls entries, in the entry function's
   * order; ctx->call and ctx->fail_call index it): names for run-time error
   * messages, profiles and routing statistics. ncalls 0 / calls NULL: not
   * described (messages then name no node). */
  int32_t ncalls;
  const rt_call_info *calls;
} rt_model_desc;

/* 3: rt_model_desc gained ncalls/calls; the entry function calls the profile
 * hook (ctx->prof) and MoE kernels count into ctx->stats. */
#define RT_ABI_VERSION 3

/* A string from the model (a node name) made fit for a one-line message, into
 * buf (cap bytes; RT_PRINTABLE_MAX always suffices): bytes that are not
 * printable ASCII or printable UTF-8 become \n, \t, \r or \xNN, and a
 * string longer than 200 bytes keeps its head and tail around "...". The same
 * rule as the compiler's diagnostics. Returns buf. */
#define RT_PRINTABLE_MAX 1024
char *rt_printable(const char *s, char *buf, size_t cap);
/* "'NAME' (OP)", "#INDEX (OP)" for a nameless node, or "KERNEL" for a call
 * without a node, names escaped by rt_printable, into buf (truncated to n
 * bytes; 2 * RT_PRINTABLE_MAX + 8 always suffices); returns buf. */
char *rt_call_label(const rt_call_info *c, char *buf, size_t n);

/* ---- profiling (profile.c) -------------------------------------------------------
 * When ctx->prof is not NULL it points at a struct whose first member is an
 * rt_prof_fn: the entry function (and the interpreter) call it with
 * (ctx->prof, i, 0) right before call i and (ctx->prof, i, 1) right after
 * it. An indirect call, so compiled objects need no extra symbol; without a
 * profile the cost is one NULL test per call. rt_prof is the runtime's own
 * implementation: per-call CLOCK_MONOTONIC times of the last run, plus count,
 * total and minimum over every run since it was created. */
typedef void (*rt_prof_fn)(void *prof, int32_t call, int32_t after);
typedef struct rt_prof rt_prof;
rt_prof *rt_prof_new(int32_t ncalls);          /* NULL when out of memory */
void rt_prof_free(rt_prof *p);
void rt_prof_begin_run(rt_prof *p);             /* before a run: forget the last one */
void rt_prof_end_run(rt_prof *p);               /* after a run: add it to the totals */
/* Call i in the last run: start (microseconds from the run's start) and
 * duration; false if it did not run. Totals over every run: *runs (runs in
 * which it ran), *total_us, *min_us. Any pointer may be NULL. */
int rt_prof_call(const rt_prof *p, int32_t i, double *start_us, double *dur_us, int64_t *runs,
                 double *total_us, double *min_us);
/* Writes the last run as a Chrome trace-event JSON array (chrome://tracing,
 * ui.perfetto.dev): one complete ("X") event per call that ran, named
 * "NODE (OP)" after calls[i] (the op alone for a nameless node, the kernel for
 * an output copy), with the op as category ("copy" for those), ts and dur in
 * microseconds from the run's start, and args {op, kernel, call, node_index,
 * runs, mean_us, min_us}. Returns 0, or -1 with a reason in err. */
int rt_prof_write_json(const rt_prof *p, const rt_call_info *calls, const char *path, char *err,
                       size_t errlen);

/* ---- MoE routing statistics (profile.c) -------------------------------------------
 * When ctx->stats is not NULL it is an array of int64_t pointers indexed by
 * call (ctx->call); a mixc.moe call's entry is NULL or points at
 * RT_MOE_STATS_LEN(E) counters that the kernel adds to (runtime/kernels/moe.h):
 * rows each expert received (E of them), then row-expert assignments refused
 * because the expert was full (capacity), then rows that got no expert at all
 * (importance dropping). Per run: sum(experts) + over_capacity + k * dropped
 * == rows * k. */
#define RT_MOE_STATS_LEN(E) ((E) + 2)
typedef struct rt_stats rt_stats;
/* Counters for every routed MoE call in calls (NULL when out of memory). */
rt_stats *rt_stats_new(int32_t ncalls, const rt_call_info *calls);
void rt_stats_free(rt_stats *s);
void *rt_stats_table(rt_stats *s);              /* what goes into ctx->stats */
void rt_stats_reset(rt_stats *s);               /* every counter to 0 */
/* The counters of call i (RT_MOE_STATS_LEN(E) of them), or NULL when call i
 * is not a routed MoE layer. */
const int64_t *rt_stats_counts(const rt_stats *s, int32_t i);
/* Prints one block per routed MoE layer: its node, rows, k, E, the rows per
 * expert and the dropped counts. Nothing when the model has none. */
void rt_stats_print(const rt_stats *s, const rt_call_info *calls, FILE *f);

/* ---- the thread pool (pool.c) ---------------------------------------------------- */
#define RT_MAX_THREADS 4096
typedef struct rt_pool rt_pool;
/* A pool of nthreads threads, the caller included (nthreads - 1 workers); NULL
 * for nthreads <= 1 (rt_parallel_for then runs inline) or when no thread
 * could be made. Put it in rt_ctx.pool for a run; one run at a time. */
rt_pool *rt_pool_create(int nthreads);
void rt_pool_free(rt_pool *p);
/* The number of online cores (1..RT_MAX_THREADS): the default thread count. */
int rt_default_threads(void);

/* ---- weights files (weights.c) ------------------------------------------------ */
/* Layout: a 64-byte header, then the payload: every constant at a 64-byte
 * aligned offset, zero padded to a multiple of 64. Header fields are little
 * endian: magic "MIXCWTS1", u64 count (constants), u64 payload bytes, u64 hash
 * of the payload (rt_weights_hash), zeros. The object records count, size
 * and hash, so a truncated, corrupted or other model's file is refused. */
#define RT_WEIGHTS_MAGIC "MIXCWTS1"
#define RT_WEIGHTS_HEADER 64

/* FNV-1a 64 over the payload taken as little-endian 64-bit words, streamed:
 * start from RT_WEIGHTS_HASH_SEED and feed whole words (n is a multiple of 8;
 * a trailing partial word is ignored). */
#define RT_WEIGHTS_HASH_SEED 1469598103934665603ull
uint64_t rt_weights_hash(uint64_t h, const void *data, uint64_t n);

/* Maps path read-only and checks its header, size and hash against what the
 * object expects. Returns 0 with *payload set (the mapping lives until the
 * process exits), or -1 with a one-line reason in err. Never crashes on
 * malformed files. */
int rt_weights_map(const char *path, uint64_t count, uint64_t payload_bytes, uint64_t hash,
                   const void **payload, char *err, size_t errlen);

/* ---- tensor files: .npy and ONNX TensorProto .pb ----------------------------- */
typedef struct rt_tensor {
  int32_t dtype;
  int32_t rank;
  int64_t dims[RT_DESC_MAX_RANK];
  void *data;                     /* malloc'd; rt_tensor_free releases it */
  uint64_t nbytes;
} rt_tensor;

/* Reads .npy or .pb (by extension, else by magic). Returns 0, or -1 with a
 * one-line reason in err. Never crashes on malformed files. */
int rt_tensor_read(const char *path, rt_tensor *t, char *err, size_t errlen);
/* Writes .npy (little endian, C order). Returns 0 or -1 with a reason. */
int rt_tensor_write_npy(const char *path, const rt_tensor *t, char *err, size_t errlen);
void rt_tensor_free(rt_tensor *t);

/* ---- the harness ---------------------------------------------------------------- */
/* Parses `--input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]
 * [--profile FILE] [--stats] [--weights FILE]` (argv[0] is the program name),
 * checks every input against the descriptor, runs the model on a pool of N
 * threads (default: rt_default_threads()), writes DIR/NAME.npy for each
 * output (characters outside [A-Za-z0-9._-] become '_'), and with --bench N
 * runs N more times and prints `median_ms=X min_ms=Y runs=N` as its last
 * line. --profile writes the last run's per-call times (rt_prof_write_json);
 * --stats prints the first run's MoE routing statistics. A run-time data
 * error prints `error: node 'NAME' (OP): MESSAGE`. Returns the process exit
 * code: 0 ok, 1 bad input, 2 usage, 3 internal error. */
int rt_harness_main(int argc, char **argv, const rt_model_desc *m);
/* The help lines of the harness's flags, shared by `mixc run` (tools/run.c) and
 * executables (harness.c), which add their own. */
#define RT_HARNESS_FLAGS_HELP                                                                 \
  "  --input NAME=FILE  an input tensor (.npy or ONNX TensorProto .pb); every input is\n"      \
  "                     required\n"                                                           \
  "  --output-dir DIR   where outputs go (default: the current directory; created if\n"       \
  "                     missing, in a parent that exists); characters outside\n"            \
  "                     [A-Za-z0-9._-] in NAME become '_'\n"                                \
  "  --threads N        threads to run on, N >= 1 (default: the number of cores)\n"          \
  "  --bench N          after the first run, time N more and print\n"                        \
  "                     'median_ms=X min_ms=Y runs=N' as the last line\n"                    \
  "  --profile FILE     write the time of every kernel call as a Chrome trace (JSON;\n"      \
  "                     open in ui.perfetto.dev): the last run, with each call's mean\n"     \
  "                     and minimum over all runs in its args\n"                             \
  "  --stats            print the first run's routing statistics for each MoE layer\n"       \
  "                     (mixc.moe): rows per expert, assignments over capacity, dropped rows\n"
/* The main of executables (`mixc compile --emit=exe`): with embedded weights,
 * moves them into anonymous memory (harness.c), then rt_harness_main. */
int rt_exe_main(int argc, char **argv, const rt_model_desc *m);

#endif
