/* fuzz_import.c - a libFuzzer target over everything that reads an untrusted
 * model: bytes -> fe_import_onnx_memory (or ir_parse when they start with
 * "// mixc IR") -> ir_infer_graph -> ir_verify -> pass_run_pipeline ->
 * be_lower (planning only; nothing is JIT-compiled or run).
 *
 * Any input must end in diagnostics or a graph, never a crash, a sanitizer
 * report, a leak, an abort (MIXC_BUG is a finding too) or a hang.
 *
 * Requires: clang-19 with -fsanitize=fuzzer,address,undefined; built by
 * tests/fuzz/run.sh (-DMIXC_FUZZ=ON, see cmake/sanitize.cmake). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "backend/be.h"
#include "frontend/fe.h"
#include "ir/ir.h"
#include "passes/pass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char sig[] = "// mixc IR";
  ir_diags *d = ir_diags_new();
  ir_ctx cx = {0};
  cx.d = d;
  cx.scratch = ir_arena_new();
  bool mir = size >= sizeof sig - 1 && !memcmp(data, sig, sizeof sig - 1);
  ir_graph *g = mir ? ir_parse((const char *)data, size, "fuzz.mir", d)
                    : fe_import_onnx_memory(data, size, NULL, d);
  cx.g = g;
  if (g && !d->nerrors && !mir) ir_infer_graph(&cx);
  if (g && !d->nerrors) ir_verify(&cx);
  if (g && !d->nerrors) {
    pass_options po = {0};
    po.verify_each = true;
    if (pass_run_pipeline(&cx, &po) && !d->nerrors) {
      be_program *p = be_lower(&cx);
      be_program_free(p);
    }
  }
  if (g) ir_graph_free(g);
  ir_arena_free(cx.scratch);
  ir_diags_free(d);
  return 0;
}
