/* pass.h - the pass manager's interface: the flat, ordered pipeline of passes
 * (pipeline.c) and the passes themselves, one file each.
 *
 * Requires: a graph that imported cleanly (no error diagnostics), topologically
 * sorted, with shape inference run. Every pass keeps that true: it leaves the
 * graph sorted and every value's type inferred. */
#ifndef MIXC_PASS_H
#define MIXC_PASS_H

#include "ir/ir.h"

typedef struct pass_info {
  const char *name;          /* as given to --after=NAME */
  const char *summary;
  bool (*run)(ir_ctx *cx);   /* false: diagnostics were added, stop */
} pass_info;

/* The pipeline, in order. */
extern const pass_info pass_pipeline[];
extern const int pass_count;
const pass_info *pass_find(const char *name);

/* Called after a pass (or "import") when the caller asked to see it. */
typedef void (*pass_dump_fn)(void *ud, const char *after, const ir_graph *g);

typedef struct pass_options {
  const char *stop_after;    /* run up to and including this pass; NULL: all */
  bool dump_each;            /* call dump after every pass */
  bool verify_each;          /* run the verifier after every pass */
  pass_dump_fn dump;
  void *ud;
} pass_options;

/* Runs the pipeline. Returns false if a pass or the verifier reported errors. */
bool pass_run_pipeline(ir_ctx *cx, const pass_options *o);

/* The passes. */
bool pass_canonicalize(ir_ctx *cx);
bool pass_fold(ir_ctx *cx);
bool pass_raise_layernorm(ir_ctx *cx);
bool pass_raise_moe(ir_ctx *cx);
bool pass_raise_soft_moe(ir_ctx *cx);
bool pass_strided_moe(ir_ctx *cx);
bool pass_raise_gelu(ir_ctx *cx);
bool pass_sink_transpose(ir_ctx *cx);
bool pass_raise_matmul(ir_ctx *cx);
bool pass_patchify(ir_ctx *cx);
bool pass_fuse_epilogue(ir_ctx *cx);
bool pass_fuse_elementwise(ir_ctx *cx);
bool pass_dce(ir_ctx *cx);

#endif
