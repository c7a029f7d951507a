/* pipeline.c - the flat list of passes, run in order, with optional dumps and
 * verification after each one (QBE's main.c style: read the list to know the
 * compiler).
 *
 * Requires: see pass.h. The verifier always runs at the end; with
 * verify_each (or in a debug build) it also runs between passes. */
#include "pass.h"

#include <string.h>

const pass_info pass_pipeline[] = {
    {"canonicalize", "remove Identity and inference-mode Dropout", pass_canonicalize},
    {"fold", "fold constants and shape subgraphs (Shape, Gather, Concat, Reshape...)", pass_fold},
    {"raise-layernorm", "rewrite LayerNorm exported as ReduceMean/Sub/Pow/Sqrt/Div (opset < 17) to LayerNormalization", pass_raise_layernorm},
    {"raise-moe", "fuse routed MoE layers (loop, masked, one-hot, per-image exports; com.microsoft.MoE) into mixc.moe", pass_raise_moe},
    {"strided-moe", "token-mixing mixc.moe reads and writes its rows through strides: no Transpose around it", pass_strided_moe},
    {"raise-soft-moe", "fuse Soft MoE layers into mixc.soft_moe", pass_raise_soft_moe},
    {"raise-gelu", "rewrite decomposed GELU (Erf and tanh forms) to Gelu", pass_raise_gelu},
    {"sink-transpose", "token mixing as a left multiplication: mixc.matmul, no Transpose", pass_sink_transpose},
    {"raise-matmul", "token mixing exported as Einsum or a pointwise Conv1d as mixc.matmul", pass_raise_matmul},
    {"patchify", "a patch-embedding Conv (stride = kernel) and its Transpose as one token-major mixc.matmul", pass_patchify},
    {"fuse-epilogue", "fuse bias, activation and residual Adds into mixc.matmul, residual Adds into a top-1 mixc.moe", pass_fuse_epilogue},
    {"fuse-elementwise", "chains of f32 elementwise ops as one mixc.elementwise loop", pass_fuse_elementwise},
    {"dce", "remove nodes and constants whose results are never used", pass_dce},
};
const int pass_count = (int)(sizeof pass_pipeline / sizeof *pass_pipeline);

const pass_info *pass_find(const char *name) {
  for (int i = 0; i < pass_count; i++)
    if (!strcmp(pass_pipeline[i].name, name)) return &pass_pipeline[i];
  return NULL;
}

bool pass_run_pipeline(ir_ctx *cx, const pass_options *o) {
#ifndef NDEBUG
  bool verify_each = true;
#else
  bool verify_each = o->verify_each;
#endif
  for (int i = 0; i < pass_count; i++) {
    const pass_info *p = &pass_pipeline[i];
    if (!p->run(cx)) return false;
    if (verify_each && !ir_verify(cx)) {
      ir_diag_add(cx->d, IR_NOTE, NULL, NULL, -1, -1, "the verifier failed after pass %s", p->name);
      return false;
    }
    bool last = o->stop_after && !strcmp(o->stop_after, p->name);
    if (o->dump && (o->dump_each || last)) o->dump(o->ud, p->name, cx->g);
    if (last) return true;
  }
  if (!verify_each && !ir_verify(cx)) return false;
  return true;
}
