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

#endif
