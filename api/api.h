/* api.h - what the driver and the public C API share: loading a model file
 * (ONNX or .mir) into a checked IR graph.
 *
 * Requires: frontend/ and ir/. The public API (include/mixc/mixc.h) is built on
 * this; nothing here is exported to users. */
#ifndef MIXC_API_H
#define MIXC_API_H

#include "ir/ir.h"

typedef enum { API_FMT_ONNX, API_FMT_MIR } api_format;

/* Guesses the format from the extension (.mir) or the first bytes. */
api_format api_guess_format(const char *path, const void *head, size_t n);

/* Reads and imports a model: ONNX goes through the importer and shape
 * inference; .mir is parsed as written. The verifier runs on both. Returns NULL
 * when nothing could be read; otherwise the graph, and the caller checks
 * d->nerrors (so that `mixc check` can list every problem at once). */
ir_graph *api_load_model(const char *path, ir_diags *d);

/* ---- the compile pipeline (api/mixc.c), shared by the C API and the driver ----
 * Added by the runtime/API work: `mixc run` and `mixc compile` go through the
 * same function as mixc_compile_file, so there is one pipeline. */
#include "backend/be.h"
#include "mixc/mixc.h"
#include "runtime/rt.h"

/* A concrete shape for a model input, from a tensor file or `--shape`: its
 * symbolic and unknown dims are bound to these values, its static dims and
 * its rank are checked (a mismatch is a diagnostic naming the input). */
typedef struct api_input_shape {
  const char *name;
  int rank;
  const int64_t *dims;
  const char *origin;        /* for messages: "x.npy", "--shape"; may be NULL */
} api_input_shape;

typedef struct api_compile_opts {
  const mixc_options *opts;  /* may be NULL: defaults */
  int nshapes;
  const api_input_shape *shapes;
  bool lower_only;           /* stop after be_lower: for be_emit, no JIT */
} api_compile_opts;

/* Load (path, or data/size when data != NULL; path then only names it) ->
 * bind symbolic dims -> pass pipeline -> be_lower -> JIT, or the reference
 * interpreter when opts->interpret is set. On
 * failure *model is NULL and mixc_last_error() holds every diagnostic, one
 * per line. co may be NULL. */
mixc_status api_compile(const char *path, const void *data, size_t size,
                        const api_compile_opts *co, mixc_model **model);
/* Like api_load_model, from memory: ONNX bytes, or .mir text when they start
 * with "// mixc IR". External data is an error. */
ir_graph *api_load_model_memory(const void *data, size_t size, ir_diags *d);
/* The lowered program (weights stay owned by the model). */
const be_program *api_model_program(const mixc_model *m);
/* The descriptor rt_harness_main runs, with the call table (rt_call_info:
 * node names for run-time errors, profiles and routing statistics); NULL for
 * a lower_only model. For an
 * interpreted model the entry is a trampoline that runs the program of the
 * model most recently passed to api_model_desc on the calling thread, so the
 * descriptor is for the driver's one-model-per-thread use. */
const rt_model_desc *api_model_desc(const mixc_model *m);
/* Records a message for mixc_last_error() and returns st. */
mixc_status api_fail(mixc_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
