/* fe.h - the frontend: ONNX ModelProto -> IR graph. This header is the folder's
 * whole interface; nothing outside frontend/ sees protobuf.
 *
 * What the importer guarantees about the graph it returns:
 *  - Initializers and Constant nodes are constants (ir_value.konst, listed in
 *    g->inits: initializers first, then Constant nodes in node order). A graph
 *    input that also has an initializer is a constant, not a runtime input.
 *  - Weights are referenced, not copied, where possible: tensor data points into
 *    the decoded protobuf message or into an mmap'd external data file, both owned
 *    by the graph (ir_graph_own). Data that is misaligned for its element type, or
 *    stored in a narrower typed field (int32_data for i8/f16/...), is copied into
 *    the graph's arena. Mapped data is private and writable (copy-on-write).
 *  - Every node keeps its ONNX name, its index in GraphProto.node and the
 *    imported opset version of its domain (ir_node.name/index/opset).
 *  - An empty input name is an omitted optional input: in[i] == NULL. An empty
 *    output name is an unused optional output: out[i] == NULL as well.
 *  - Nodes are topologically sorted (ir_graph_toposort).
 *  - Value types come from graph inputs/outputs and value_info; everything else
 *    is left unknown (dtype IR_UNDEF, rank -1) for shape inference.
 *
 * Errors: bad input never crashes or exits. NULL (with diagnostics in d) means
 * the model could not be read at all (no file, empty, not protobuf, no graph,
 * larger than FE_MAX_MODEL_BYTES). Otherwise a graph is returned even when the
 * model has errors, so that `mixc check` can list them all: check d->nerrors.
 * Such a graph may hold placeholder values (def == NULL, not an input, not
 * constant) standing for dangling names and for outputs of nodes that could not
 * be imported; it is fit for printing and freeing, not for compiling.
 *
 * Supported: ai.onnx opsets FE_ONNX_OPSET_MIN..FE_ONNX_OPSET_MAX, com.microsoft
 * opset 1. Not supported (diagnosed): other domains, subgraph ops (If, Loop,
 * Scan, any node with a GRAPH/GRAPHS attribute), sparse tensors, non-tensor
 * types (sequence, map, optional), segmented tensors. */
#ifndef MIXC_FE_H
#define MIXC_FE_H

#include <stddef.h>

#include "ir/ir.h"

enum {
  FE_ONNX_OPSET_MIN = 7,
  FE_ONNX_OPSET_MAX = 21,
  FE_MS_OPSET = 1,
};
/* Protobuf messages cannot exceed 2 GiB; larger files are refused. */
#define FE_MAX_MODEL_BYTES ((size_t)1 << 31)

/* Imports an ONNX model file. External data is looked up next to it. */
ir_graph *fe_import_onnx_file(const char *path, ir_diags *d);

/* Imports a serialized ModelProto from memory (the buffer is not kept).
 * base_dir: directory that external data locations are relative to (and must
 * stay inside, after resolving symlinks); NULL: external data is an error. */
ir_graph *fe_import_onnx_memory(const void *buf, size_t len, const char *base_dir, ir_diags *d);

#endif
