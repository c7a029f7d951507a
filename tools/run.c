/* run.c - the driver's `run` and `compile` commands: thin layers over the
 * shared compile pipeline (api_compile in api/mixc.c, the same one as
 * mixc_compile_file) and, for `run`, the same harness that standalone
 * executables use (rt_harness_main).
 *
 *   mixc run MODEL --input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]
 *                  [--profile FILE] [--stats] [--interp]
 *   mixc compile MODEL -o OUT [--emit=exe|obj|lib|llvm|asm] [--shape NAME=1x3x224x224 ...]
 *                             [--prefix NAME] [--weights=embed|file]
 *
 * Requires: libmixc. Exit codes: 0 ok, 1 bad input (also a flag value that is
 * malformed or out of range), 2 usage (an unknown option or argument, a flag
 * without its value, no MODEL or -o), 3 internal. */
#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "runtime/rt.h"
#include "runtime/tensor_io.h"

enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static const char usage_run[] =
    "usage: mixc run MODEL --input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]\n"
    "                      [--profile FILE] [--stats] [--interp]\n"
    "\n"
    "Compiles MODEL in memory, runs it once and writes DIR/NAME.npy for each output.\n"
    "Symbolic dims (batch, ...) are bound from the inputs' shapes.\n"
    RT_HARNESS_FLAGS_HELP
    "  --interp           run with the reference kernels instead of the JIT\n"
    "A run-time data error (e.g. an index out of range) prints\n"
    "  error: node 'NAME' (OP): MESSAGE\n"
    "and exits 1.\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 internal error\n";

static const char usage_compile[] =
    "usage: mixc compile MODEL -o OUT [--emit=exe|obj|lib|llvm|asm] [--shape NAME=DIMS ...]\n"
    "                             [--prefix NAME] [--weights=embed|file]\n"
    "\n"
    "Compiles MODEL ahead of time.\n"
    "  -o OUT            the output file\n"
    "  --emit=KIND       exe (default): a standalone executable with the 'mixc run' flags;\n"
    "                    obj: an object file; lib: a shared library; llvm: LLVM IR (.ll);\n"
    "                    asm: assembly (.s)\n"
    "  --shape NAME=DIMS the shape of input NAME, e.g. x=1x3x224x224 ('x=' for a scalar);\n"
    "                    binds its symbolic dims\n"
    "  --prefix NAME     symbol prefix: the object exports NAME_desc (default mixc_model)\n"
    "  --weights=MODE    embed (default): weights are in the output; file: they go to\n"
    "                    OUT.weights, mapped at load time (executables find it next to\n"
    "                    themselves or take --weights FILE; objects and libraries export\n"
    "                    NAME_load_weights(path), to call before NAME_run)\n"
    "exit codes: 0 ok, 1 bad input, 2 usage, 3 internal error\n";

static int usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg) {
  fprintf(stderr, "mixc %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return EXIT_USAGE;
}

/* A flag given a value it cannot take: bad input, not a usage error. */
static int value_error(const char *cmd, const char *fmt, const char *arg) {
  fprintf(stderr, "mixc %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nrun 'mixc %s --help' for usage\n", cmd);
  return EXIT_BAD_INPUT;
}

/* The exit code for a failed api_compile. */
static int compile_failed(const char *cmd, mixc_status st) {
  fprintf(stderr, "mixc %s: %s\n", cmd, mixc_last_error());
  return st == MIXC_ERR_OUT_OF_MEMORY || st == MIXC_ERR_INTERNAL ? EXIT_INTERNAL : EXIT_BAD_INPUT;
}

static bool parse_pos(const char *s, long max, long *out) {
  if (!s || !*s) return false;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 1 || v > max) return false;
  *out = v;
  return true;
}

/* If argv[*i] is one of the flags (as "FLAG VALUE" or "FLAG=VALUE"), returns
 * its index and sets *val (NULL when the value is missing), advancing *i past
 * a separate value; else -1. */
static int take_value(int argc, char **argv, int *i, const char *const *flags, int nflags,
                      const char **val) {
  const char *a = argv[*i];
  *val = NULL;
  for (int k = 0; k < nflags; k++) {
    size_t n = strlen(flags[k]);
    if (strncmp(a, flags[k], n) || (a[n] && a[n] != '=')) continue;
    if (a[n] == '=') *val = a + n + 1;
    else if (*i + 1 < argc) *val = argv[++*i];
    return k;
  }
  return -1;
}

/* ---- mixc run --------------------------------------------------------------- */
int cmd_run(int argc, char **argv) {
  const char *model = NULL;
  bool interp = false;
  long threads = 0, bench = 0;
  /* The harness's argv: a program name, then every flag but MODEL and --interp. */
  char **hargv = calloc((size_t)argc + 2, sizeof *hargv);
  const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
  int hargc = 0, ninputs = 0, rc = EXIT_OK;
  if (!hargv || !inputs) {
    free(hargv);
    free(inputs);
    return EXIT_INTERNAL;
  }
  hargv[hargc++] = "mixc run";
  for (int i = 0; i < argc && rc == EXIT_OK; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_run, stdout);
      free(hargv);
      free(inputs);
      return EXIT_OK;
    }
    if (!strcmp(a, "--interp")) {
      interp = true;
      continue;
    }
    if (!strcmp(a, "--stats")) {
      hargv[hargc++] = argv[i];
      continue;
    }
    static const char *const valued[] = {"--input", "--output-dir", "--threads", "--bench",
                                         "--profile"};
    const char *val;
    int at = i, which = take_value(argc, argv, &i, valued, 5, &val);
    for (int k = at; which >= 0 && k <= i; k++) hargv[hargc++] = argv[k];
    if (which >= 0 && !val) {
      rc = usage_error("run", usage_run, "%s needs a value", a);
    } else if (which == 0) {
      if (!strchr(val, '=')) rc = value_error("run", "--input expects NAME=FILE, got '%s'", val);
      inputs[ninputs++] = val;
    } else if (which == 2) {
      if (!parse_pos(val, 4096, &threads))
        rc = value_error("run", "--threads expects an integer from 1 to 4096, got '%s'", val);
    } else if (which == 3) {
      if (!parse_pos(val, 1000000, &bench))
        rc = value_error("run", "--bench expects an integer from 1 to 1000000, got '%s'", val);
    } else if (which == 1) {
      if (!*val) rc = value_error("run", "%s", "--output-dir is empty");
    } else if (which == 4) {
      if (!*val) rc = value_error("run", "%s", "--profile is empty");
    } else if (a[0] == '-' && a[1]) {
      rc = usage_error("run", usage_run, "unknown option '%s'", a);
    } else if (!model) {
      model = a;
    } else {
      rc = usage_error("run", usage_run, "unexpected argument '%s'", a);
    }
  }
  if (rc == EXIT_OK && !model) rc = usage_error("run", usage_run, "%s", "missing MODEL");

  /* Read the inputs first: their shapes bind the model's symbolic dims. An
   * input named with '=' in it is matched by the harness, not here. */
  rt_tensor *tensors = calloc((size_t)ninputs + 1, sizeof *tensors);
  api_input_shape *shapes = calloc((size_t)ninputs + 1, sizeof *shapes);
  char **names = calloc((size_t)ninputs + 1, sizeof *names);
  if (!tensors || !shapes || !names) rc = rc ? rc : EXIT_INTERNAL;
  for (int i = 0; i < ninputs && rc == EXIT_OK; i++) {
    const char *eq = strchr(inputs[i], '=');
    names[i] = strndup(inputs[i], (size_t)(eq - inputs[i]));
    if (!names[i]) {
      rc = EXIT_INTERNAL;
      break;
    }
    for (int j = 0; j < i; j++)
      if (!strcmp(names[j], names[i])) {
        fprintf(stderr, "mixc run: input '%s' is given twice\n", names[i]);
        rc = EXIT_BAD_INPUT;
      }
    char err[512];
    if (rc == EXIT_OK && rt_tensor_read(eq + 1, &tensors[i], err, sizeof err)) {
      fprintf(stderr, "mixc run: input '%s': %s\n", names[i], err);
      rc = EXIT_BAD_INPUT;
    }
    shapes[i] = (api_input_shape){names[i], tensors[i].rank, tensors[i].dims, eq + 1};
  }

  mixc_model *m = NULL;
  if (rc == EXIT_OK) {
    mixc_options o = {.threads = (int)threads, .interpret = interp};
    api_compile_opts co = {.opts = &o, .nshapes = ninputs, .shapes = shapes};
    mixc_status st = api_compile(model, NULL, 0, &co, &m);
    if (st != MIXC_OK) rc = compile_failed("run", st);
  }
  for (int i = 0; i < ninputs; i++) {
    rt_tensor_free(&tensors[i]); /* the harness reads them again: one code path */
    free(names[i]);
  }
  free(tensors);
  free(shapes);
  free(names);
  if (rc == EXIT_OK) {
    const rt_model_desc *desc = api_model_desc(m);
    rc = desc ? rt_harness_main(hargc, hargv, desc) : EXIT_INTERNAL;
  }
  (void)bench;
  mixc_model_free(m);
  free(hargv);
  free(inputs);
  return rc;
}

/* ---- mixc compile ----------------------------------------------------------------- */
/* "1x3x224x224" -> dims; "" is a scalar. */
static bool parse_dims(const char *s, int *rank, int64_t *dims) {
  *rank = 0;
  if (!*s) return true;
  for (;;) {
    if (!isdigit((unsigned char)*s) || *rank >= RT_DESC_MAX_RANK) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0) return false;
    dims[(*rank)++] = v;
    if (!*end) return true;
    if (*end != 'x' && *end != 'X') return false;
    s = end + 1;
  }
}

static bool is_ident(const char *s) {
  if (!*s || isdigit((unsigned char)*s)) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

int cmd_compile(int argc, char **argv) {
  const char *model = NULL, *out = NULL, *emit = "exe", *prefix = "mixc_model",
             *weights = "embed";
  api_input_shape *shapes = calloc((size_t)argc + 1, sizeof *shapes);
  int64_t(*dims)[RT_DESC_MAX_RANK] = calloc((size_t)argc + 1, sizeof *dims);
  char **names = calloc((size_t)argc + 1, sizeof *names);
  int nshapes = 0, rc = EXIT_OK;
  if (!shapes || !dims || !names) rc = EXIT_INTERNAL;
  static const char *const valued[] = {"-o", "--emit", "--shape", "--prefix", "--weights"};
  for (int i = 0; i < argc && rc == EXIT_OK; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(usage_compile, stdout);
      rc = -1;
      break;
    }
    int which = take_value(argc, argv, &i, valued, 5, &v);
    if (which >= 0 && !v) {
      rc = usage_error("compile", usage_compile, "%s needs a value", a);
    } else if (which == 0) {
      out = v;
    } else if (which == 1) {
      emit = v;
    } else if (which == 3) {
      prefix = v;
    } else if (which == 4) {
      weights = v;
    } else if (which == 2) {
      const char *eq = strrchr(v, '=');
      int rank;
      if (!eq || eq == v || !parse_dims(eq + 1, &rank, dims[nshapes])) {
        rc = value_error("compile", "--shape expects NAME=DIMS like x=1x3x224x224, got '%s'", v);
      } else if (!(names[nshapes] = strndup(v, (size_t)(eq - v)))) {
        rc = EXIT_INTERNAL;
      } else {
        shapes[nshapes] = (api_input_shape){names[nshapes], rank, dims[nshapes], "--shape"};
        nshapes++;
      }
    } else if (a[0] == '-' && a[1]) {
      rc = usage_error("compile", usage_compile, "unknown option '%s'", a);
    } else if (!model) {
      model = a;
    } else {
      rc = usage_error("compile", usage_compile, "unexpected argument '%s'", a);
    }
  }

  int kind = -1;
  static const char *const kinds[] = {"exe", "obj", "lib", "llvm", "asm"};
  for (int k = 0; k < 5; k++)
    if (!strcmp(emit, kinds[k])) kind = k;
  if (rc == EXIT_OK && kind < 0)
    rc = value_error("compile", "unknown --emit kind '%s' (exe, obj, lib, llvm or asm)", emit);
  if (rc == EXIT_OK && strcmp(weights, "embed") && strcmp(weights, "file"))
    rc = value_error("compile", "unknown --weights mode '%s' (embed or file)", weights);
  if (rc == EXIT_OK && !is_ident(prefix))
    rc = value_error("compile", "--prefix '%s' is not a C identifier", prefix);
  if (rc == EXIT_OK && !model) rc = usage_error("compile", usage_compile, "%s", "missing MODEL");
  if (rc == EXIT_OK && !out) rc = usage_error("compile", usage_compile, "%s", "missing -o OUT");

  mixc_model *m = NULL;
  if (rc == EXIT_OK) {
    api_compile_opts co = {.nshapes = nshapes, .shapes = shapes, .lower_only = true};
    mixc_status st = api_compile(model, NULL, 0, &co, &m);
    if (st != MIXC_OK) rc = compile_failed("compile", st);
  }
  if (rc == EXIT_OK) {
    static const be_emit_kind ekinds[] = {BE_EMIT_EXE, BE_EMIT_OBJ, BE_EMIT_LIB, BE_EMIT_LLVM,
                                          BE_EMIT_ASM};
    ir_diags *d = ir_diags_new();
    be_emit_opts eo = {.prefix = prefix, .weights_file = !strcmp(weights, "file")};
    bool ok = be_emit_ex(api_model_program(m), out, ekinds[kind], &eo, d);
    if (d->head) {
      fprintf(stderr, "mixc compile: %s\n", model);
      ir_diags_print(d, stderr);
    }
    if (!ok) rc = d->nerrors ? EXIT_BAD_INPUT : EXIT_INTERNAL;
    ir_diags_free(d);
  }
  mixc_model_free(m);
  for (int i = 0; i < nshapes; i++) free(names[i]);
  free(names);
  free(shapes);
  free(dims);
  return rc < 0 ? EXIT_OK : rc;
}
