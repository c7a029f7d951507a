/* mixc.c - the `mixc` command-line driver: a thin layer over the library.
 *
 *   mixc dump MODEL [--after=import|PASS|all] [--format=text|dot] [-o FILE]
 *   mixc check MODEL
 *   mixc run MODEL --input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]
 *                  [--profile FILE] [--stats] [--interp]                  (tools/run.c)
 *   mixc compile MODEL -o OUT [--emit=exe|obj|lib|llvm|asm]    (tools/run.c)
 *
 * Exit codes: 0 ok; 1 bad input (model, data or flag values); 2 usage;
 * 3 internal error (a compiler bug: MIXC_BUG aborts, and the handler below
 * turns the abort into exit code 3). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "backend/be.h"
#include "passes/pass.h"
#include "run.h"

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static void on_crash(int sig) {
  static const char msg[] = "mixc: internal error (a compiler bug); please report it\n";
  if (write(2, msg, sizeof msg - 1) < 0) {}
  (void)sig;
  _exit(EXIT_INTERNAL);
}

static void install_crash_handlers(void) {
  signal(SIGABRT, on_crash);
  signal(SIGSEGV, on_crash);
  signal(SIGBUS, on_crash);
  signal(SIGFPE, on_crash);
  signal(SIGILL, on_crash);
}

static const char usage_main[] =
    "usage: mixc <command> [options]\n"
    "\n"
    "commands:\n"
    "  dump MODEL    print the IR (after the full pipeline, or --after=PASS)\n"
    "  check MODEL   list every problem that keeps MODEL from compiling\n"
    "  run MODEL     JIT-compile MODEL and run it on --input files\n"
    "  compile MODEL compile ahead of time: executable, object, library, .ll or .s\n"
    "\n"
    "MODEL is an ONNX file (.onnx) or mixc text IR (.mir).\n"
    "Run 'mixc <command> --help' for a command's options; 'mixc --version'.\n";

static const char usage_dump[] =
    "usage: mixc dump MODEL [--after=import|PASS|all] [--format=text|dot] [-o FILE]\n"
    "                       [--verify-each] [--elide-weights]\n"
    "\n"
    "Prints the IR of MODEL. Without --after, after the whole pipeline.\n"
    "  --after=import   right after import (ONNX import plus shape inference)\n"
    "  --after=PASS     after the named pass\n"
    "  --after=all      after import and after every pass, each with a header line\n"
    "  --format=dot     graphviz instead of text IR\n"
    "  -o FILE          write to FILE instead of standard output\n"
    "  --verify-each    run the verifier after every pass\n"
    "  --elide-weights  leave weight bytes out (the output is then not parseable)\n";

static const char usage_check[] =
    "usage: mixc check MODEL\n"
    "\n"
    "Imports MODEL, infers shapes, verifies it and runs the pipeline, then lists every\n"
    "problem found (unsupported ops with their node names, bad shapes, bad attributes).\n"
    "Exits 0 if MODEL can be compiled, 1 if not.\n";

static int usage_error(const char *usage, const char *fmt, const char *arg) {
  fprintf(stderr, "mixc: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return EXIT_USAGE;
}

static void print_pass_names(FILE *f) {
  fprintf(f, "passes: import");
  for (int i = 0; i < pass_count; i++) fprintf(f, " %s", pass_pipeline[i].name);
  fprintf(f, " all\n");
}

typedef struct dump_state {
  FILE *out;
  bool dot, each, elide;
} dump_state;

static void dump_graph(void *ud, const char *after, const ir_graph *g) {
  dump_state *s = ud;
  if (s->each) fprintf(s->out, "// ---- after %s ----\n", after);
  if (s->dot) ir_print_dot(g, s->out);
  else ir_print_ex(g, s->out, s->elide ? IR_PRINT_ELIDE : 0);
}

static int finish(ir_diags *d, ir_graph *g, int code) {
  ir_diags_print(d, stderr);
  ir_graph_free(g);
  ir_diags_free(d);
  return code;
}

static int cmd_dump(int argc, char **argv) {
  const char *model = NULL, *after = NULL, *outpath = NULL;
  dump_state st = {0};
  bool verify_each = false;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_dump, stdout);
      print_pass_names(stdout);
      return EXIT_OK;
    } else if (!strncmp(a, "--after=", 8)) {
      after = a + 8;
    } else if (!strcmp(a, "--after") && i + 1 < argc) {
      after = argv[++i];
    } else if (!strcmp(a, "--format=text")) {
      st.dot = false;
    } else if (!strcmp(a, "--format=dot")) {
      st.dot = true;
    } else if (!strncmp(a, "--format=", 9)) {
      fprintf(stderr, "mixc dump: unknown format '%s' (text or dot)\n", a + 9);
      return EXIT_BAD_INPUT;
    } else if (!strcmp(a, "-o") && i + 1 < argc) {
      outpath = argv[++i];
    } else if (!strcmp(a, "--verify-each")) {
      verify_each = true;
    } else if (!strcmp(a, "--elide-weights")) {
      st.elide = true;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--after")) {
      return usage_error(usage_dump, "%s needs a value", a);
    } else if (a[0] == '-' && a[1]) {
      return usage_error(usage_dump, "unknown option '%s'", a);
    } else if (!model) {
      model = a;
    } else {
      return usage_error(usage_dump, "unexpected argument '%s'", a);
    }
  }
  if (!model) return usage_error(usage_dump, "%s", "missing MODEL");
  if (after && strcmp(after, "import") && strcmp(after, "all") && !pass_find(after)) {
    fprintf(stderr, "mixc dump: unknown pass '%s'\n", after);
    print_pass_names(stderr);
    return EXIT_BAD_INPUT;
  }

  ir_diags *d = ir_diags_new();
  ir_graph *g = api_load_model(model, d);
  if (!g || d->nerrors) return finish(d, g, EXIT_BAD_INPUT);

  st.out = stdout;
  if (outpath && !(st.out = fopen(outpath, "w"))) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "cannot write %s", outpath);
    return finish(d, g, EXIT_BAD_INPUT);
  }
  st.each = after && !strcmp(after, "all");
  bool ok = true;
  if (after && !strcmp(after, "import")) {
    dump_graph(&st, "import", g);
  } else {
    if (st.each) dump_graph(&st, "import", g);
    ir_ctx cx = {g, d, ir_arena_new()};
    pass_options o = {.stop_after = st.each ? NULL : after,
                      .dump_each = st.each,
                      .verify_each = verify_each,
                      .dump = dump_graph,
                      .ud = &st};
    ok = pass_run_pipeline(&cx, &o);
    ir_arena_free(cx.scratch);
    if (ok && !after) dump_graph(&st, "pipeline", g);
  }
  if (st.out != stdout && fclose(st.out)) ok = false;
  return finish(d, g, ok && !d->nerrors ? EXIT_OK : EXIT_BAD_INPUT);
}

static bool all_inputs_static(const ir_graph *g) {
  for (int i = 0; i < g->ninputs; i++)
    if (!ir_type_static(&g->inputs[i]->type)) return false;
  return true;
}

static int cmd_check(int argc, char **argv) {
  const char *model = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_check, stdout);
      return EXIT_OK;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return usage_error(usage_check, "unknown option '%s'", argv[i]);
    } else if (!model) {
      model = argv[i];
    } else {
      return usage_error(usage_check, "unexpected argument '%s'", argv[i]);
    }
  }
  if (!model) return usage_error(usage_check, "%s", "missing MODEL");
  ir_diags *d = ir_diags_new();
  ir_graph *g = api_load_model(model, d);
  bool lowered = false;
  if (g && !d->nerrors) {
    ir_ctx cx = {g, d, ir_arena_new()};
    pass_options o = {0};
    /* With static input shapes, lowering finds what the backend cannot run
     * (ops, dtypes, data-dependent shapes); with symbolic ones it waits for
     * `mixc run` or `mixc compile --shape` to bind them. */
    if (pass_run_pipeline(&cx, &o) && all_inputs_static(g)) {
      be_program_free(be_lower(&cx));
      lowered = true;
    }
    ir_arena_free(cx.scratch);
  }
  if (!g || d->nerrors) {
    int nerr = d->nerrors;
    finish(d, g, EXIT_BAD_INPUT);
    fprintf(stderr, "%s: %d error%s; the model cannot be compiled\n", model, nerr,
            nerr == 1 ? "" : "s");
    return EXIT_BAD_INPUT;
  }
  ir_diags_print(d, stderr); /* warnings */
  int counts[IR_OP_COUNT] = {0};
  for (int i = 0; i < g->nnodes; i++) counts[g->nodes[i]->op]++;
  printf("%s: ok: %d inputs, %d outputs, %d constants, %d nodes%s\n", model, g->ninputs,
         g->noutputs, g->ninits, g->nnodes,
         lowered ? "" : " (symbolic input dims: backend checks run once they are bound)");
  for (int i = 0; i < IR_OP_COUNT; i++)
    if (counts[i]) printf("  %-24s %d\n", ir_op_fullname((ir_op)i), counts[i]);
  ir_graph_free(g);
  ir_diags_free(d);
  return EXIT_OK;
}

int main(int argc, char **argv) {
  install_crash_handlers();
  if (argc < 2) {
    fputs(usage_main, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("mixc %s\n", MIXC_VERSION);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    fputs(usage_main, stdout);
    return EXIT_OK;
  }
  if (!strcmp(cmd, "dump")) return cmd_dump(argc - 2, argv + 2);
  if (!strcmp(cmd, "check")) return cmd_check(argc - 2, argv + 2);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "compile")) return cmd_compile(argc - 2, argv + 2);
  fprintf(stderr, "mixc: unknown command '%s'\n%s", cmd, usage_main);
  return EXIT_USAGE;
}
