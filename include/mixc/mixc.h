/* mixc.h - the mixc C API: compile an ONNX model (or mixc text IR) inside
 * your process and run it on your own buffers.
 *
 *     mixc_model *model;
 *     if (mixc_compile_file("model.onnx", NULL, &model) != MIXC_OK) {
 *       fprintf(stderr, "%s\n", mixc_last_error());
 *       return 1;
 *     }
 *     mixc_session *s;
 *     mixc_session_create(model, &s);
 *     int64_t xd[] = {1, 16}, yd[] = {1, 4};
 *     float x[16] = {0}, y[4];
 *     mixc_tensor in = {"x", MIXC_DTYPE_FLOAT32, 2, xd, x, sizeof x};
 *     mixc_tensor out = {"y", MIXC_DTYPE_FLOAT32, 2, yd, y, sizeof y};
 *     if (mixc_run(s, &in, 1, &out, 1) != MIXC_OK) fprintf(stderr, "%s\n", mixc_last_error());
 *     mixc_session_free(s);
 *     mixc_model_free(model);
 *
 * Errors: every function that can fail returns a mixc_status; on failure
 * mixc_last_error() holds a message saying what went wrong (for a model that
 * cannot be compiled: every problem, one per line, each naming the ONNX node).
 * Bad input - a malformed model, an unsupported op, a wrong tensor name,
 * dtype or shape, a buffer that is too small - is always a status, never a
 * crash or an exit(). (A broken internal invariant - a bug in mixc - aborts.)
 *
 * Threads: a compiled mixc_model is immutable; any number of threads may
 * create sessions from it and query it at the same time. A mixc_session holds
 * the scratch memory of one run and its own thread pool (mixc_options.threads
 * threads, the calling thread included, created with the session): use each
 * session from one thread at a time (one session per concurrent caller).
 * Results are bit-identical for every thread count. mixc_last_error() is per
 * thread. A model must outlive its sessions.
 *
 * Memory: inputs and outputs are caller-owned buffers; mixc never keeps a
 * pointer to them after mixc_run returns and never writes outside an output's
 * nbytes. Strings and dims returned by the query functions live as long as
 * the model.
 *
 * Requires: C99 or later. Link with libmixc. */
#ifndef MIXC_MIXC_H
#define MIXC_MIXC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status --------------------------------------------------------------- */
typedef enum mixc_status {
  MIXC_OK = 0,
  MIXC_ERR_INVALID_ARGUMENT = 1, /* NULL handle, bad option, wrong tensor name/dtype/shape, small buffer */
  MIXC_ERR_IO = 2,               /* the model file cannot be opened or read */
  MIXC_ERR_INVALID_MODEL = 3,    /* the model is malformed or uses what mixc cannot compile */
  MIXC_ERR_RUNTIME = 4,          /* a run-time data error (e.g. an index out of range) */
  MIXC_ERR_OUT_OF_MEMORY = 5,
  MIXC_ERR_INTERNAL = 6,         /* a bug in mixc; please report it with the message */
} mixc_status;

/* A static description of a status ("invalid argument"); never NULL. */
const char *mixc_status_string(mixc_status status);

/* The message of the last failing call on this thread ("" if none). Valid
 * until the next failing call on this thread. */
const char *mixc_last_error(void);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *mixc_version(void);

/* ---- element types: the ONNX TensorProto.DataType codes -------------------- */
typedef enum mixc_dtype {
  MIXC_DTYPE_UNDEFINED = 0,
  MIXC_DTYPE_FLOAT32 = 1,
  MIXC_DTYPE_UINT8 = 2,
  MIXC_DTYPE_INT8 = 3,
  MIXC_DTYPE_UINT16 = 4,
  MIXC_DTYPE_INT16 = 5,
  MIXC_DTYPE_INT32 = 6,
  MIXC_DTYPE_INT64 = 7,
  MIXC_DTYPE_BOOL = 9,       /* one byte, 0 or 1 */
  MIXC_DTYPE_FLOAT16 = 10,
  MIXC_DTYPE_FLOAT64 = 11,
  MIXC_DTYPE_UINT32 = 12,
  MIXC_DTYPE_UINT64 = 13,
  MIXC_DTYPE_BFLOAT16 = 16,
} mixc_dtype;

/* Bytes per element (0 for codes mixc cannot hold), and a short name ("f32"). */
size_t mixc_dtype_size(mixc_dtype dtype);
const char *mixc_dtype_name(mixc_dtype dtype);

#define MIXC_MAX_RANK 8

/* ---- compiling ------------------------------------------------------------- */
typedef struct mixc_model mixc_model;

/* A value for a symbolic input dim, e.g. {"batch", 8}. */
typedef struct mixc_dim_binding {
  const char *name;
  int64_t value;            /* >= 0 */
} mixc_dim_binding;

/* Compile options. All-zero (or passing NULL) gives the defaults. */
typedef struct mixc_options {
  int threads;              /* threads per session (its pool, the caller included), 1..4096;
                               0: default, the number of online cores */
  int interpret;            /* nonzero: run with the reference kernels, no JIT (slower) */
  size_t num_dims;          /* bindings for the model's symbolic input dims: */
  const mixc_dim_binding *dims; /* every symbolic dim must be bound; unknown names are errors */
} mixc_options;

/* Compiles an ONNX model file (.onnx; external data is looked up next to it)
 * or a mixc text IR file (.mir). On success *model is set; free it with
 * mixc_model_free. On failure *model is NULL. */
mixc_status mixc_compile_file(const char *path, const mixc_options *opts, mixc_model **model);

/* Compiles a model held in memory: a serialized ONNX ModelProto, or mixc text
 * IR if it starts with "// mixc IR". The bytes are not kept. External data is
 * not available (use mixc_compile_file). */
mixc_status mixc_compile_memory(const void *data, size_t size, const mixc_options *opts,
                                mixc_model **model);

void mixc_model_free(mixc_model *model);  /* NULL is fine */

/* ---- querying a model -------------------------------------------------------- */
typedef struct mixc_tensor_info {
  const char *name;
  mixc_dtype dtype;
  int rank;
  const int64_t *dims;      /* rank entries, every one static */
  size_t nbytes;            /* the buffer size a run needs */
} mixc_tensor_info;

int mixc_model_num_inputs(const mixc_model *model);   /* -1 if model is NULL */
int mixc_model_num_outputs(const mixc_model *model);
/* Describes input/output `index` (0-based, in the model's order). */
mixc_status mixc_model_input(const mixc_model *model, int index, mixc_tensor_info *info);
mixc_status mixc_model_output(const mixc_model *model, int index, mixc_tensor_info *info);
/* Finds an input/output by name; -1 if none. */
int mixc_model_input_index(const mixc_model *model, const char *name);
int mixc_model_output_index(const mixc_model *model, const char *name);

/* ---- running -------------------------------------------------------------------- */
typedef struct mixc_session mixc_session;

mixc_status mixc_session_create(const mixc_model *model, mixc_session **session);
void mixc_session_free(mixc_session *session);  /* NULL is fine */

/* A caller-owned tensor, matched to the model's inputs/outputs by name.
 * Data is dense, C order (row major), little endian. */
typedef struct mixc_tensor {
  const char *name;
  mixc_dtype dtype;         /* outputs: MIXC_DTYPE_UNDEFINED skips the check */
  int rank;
  const int64_t *dims;      /* outputs: NULL skips the shape check */
  void *data;               /* aligned to the element size; inputs are only read */
  size_t nbytes;            /* at least the model's nbytes for this tensor */
} mixc_tensor;

/* Runs the model once. Every model input must be given exactly once, with the
 * model's dtype and shape. Outputs may be any subset of the model's outputs
 * (each at most once); the rest are computed into session memory and dropped.
 * Arguments are checked before anything runs, so MIXC_ERR_INVALID_ARGUMENT
 * leaves the outputs untouched; after MIXC_ERR_RUNTIME they may hold partial
 * results. */
mixc_status mixc_run(mixc_session *session, const mixc_tensor *inputs, size_t num_inputs,
                     const mixc_tensor *outputs, size_t num_outputs);

/* ---- profiling -------------------------------------------------------------------- */
/* A compiled model runs as a list of kernel calls, about one per node of the
 * optimized graph (mixc_model_num_calls). With profiling on, each mixc_run on
 * the session times every call (CLOCK_MONOTONIC, taken on the thread that
 * calls mixc_run; a call's time includes its worker threads). Off (the
 * default), the cost is one NULL test per call. Turning it on forgets earlier
 * profiles. */
mixc_status mixc_session_set_profiling(mixc_session *session, int enable);

int mixc_model_num_calls(const mixc_model *model);   /* -1 if model is NULL */

typedef struct mixc_call_profile {
  const char *node;         /* the ONNX node's name ("" if it has none, or for an output copy) */
  const char *op;           /* its op, e.g. "MatMul", "mixc.moe" ("" for an output copy) */
  const char *kernel;       /* the kernel, e.g. "mixc_k_moe_f32" */
  double start_us;          /* the last profiled run: start (from the run's start) */
  double dur_us;            /* and duration; -1 if the call did not run (an earlier one failed) */
  int64_t runs;             /* profiled runs in which the call ran */
  double mean_us, min_us;   /* its duration over those runs */
} mixc_call_profile;

/* Call `index` (0..mixc_model_num_calls-1) of the session's profile. Strings
 * live as long as the model. */
mixc_status mixc_session_call_profile(const mixc_session *session, int index, mixc_call_profile *out);
/* Writes the last profiled run as a Chrome trace-event JSON file (open it in
 * ui.perfetto.dev or chrome://tracing): one event per call, named
 * "NODE (OP)", with its op, kernel, and mean/min over the profiled runs as
 * args. */
mixc_status mixc_session_write_profile(const mixc_session *session, const char *path);

/* ---- MoE routing statistics ---------------------------------------------------------- */
/* For each routed MoE layer (a mixc.moe node: top-k routing, optional
 * capacity and importance dropping), how many rows each expert received.
 * Counts add up over the runs since mixc_session_set_moe_stats(s, 1), which
 * also zeroes them; off by default (the cost then: one NULL test per layer).
 * For each run: sum(expert_rows) + over_capacity + k * dropped_rows ==
 * rows * k. */
typedef struct mixc_moe_stats {
  const char *node;            /* the layer's node name */
  int num_experts;             /* E */
  int k;                       /* experts chosen per row */
  int64_t rows;                /* rows routed per run */
  int64_t runs;                /* runs counted */
  const int64_t *expert_rows;  /* num_experts counts: rows each expert received; valid until
                                  the session's next run, set_moe_stats or free */
  int64_t over_capacity;       /* row-expert assignments refused because the expert was full */
  int64_t dropped_rows;        /* rows that got no expert (importance dropping) */
} mixc_moe_stats;

int mixc_model_num_moe_layers(const mixc_model *model);   /* -1 if model is NULL */
mixc_status mixc_session_set_moe_stats(mixc_session *session, int enable);
/* Layer `layer` (0..mixc_model_num_moe_layers-1, in execution order). */
mixc_status mixc_session_moe_stats(const mixc_session *session, int layer, mixc_moe_stats *out);

#ifdef __cplusplus
}
#endif

#endif
