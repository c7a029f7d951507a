/* load.c - loads a model file into IR: ONNX through the frontend and shape
 * inference, .mir through the parser; then the verifier.
 *
 * Requires: a readable path. Every failure is a diagnostic in d. */
#include "api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"

api_format api_guess_format(const char *path, const void *head, size_t n) {
  size_t len = strlen(path);
  if (len >= 4 && !strcmp(path + len - 4, ".mir")) return API_FMT_MIR;
  if (len >= 5 && !strcmp(path + len - 5, ".onnx")) return API_FMT_ONNX;
  static const char sig[] = "// mixc IR";
  if (n >= sizeof sig - 1 && !memcmp(head, sig, sizeof sig - 1)) return API_FMT_MIR;
  return API_FMT_ONNX;
}

/* Reads a whole text file; NULL with a diagnostic on failure. */
static char *read_text(const char *path, size_t *len, ir_diags *d) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += k;
    if (n == cap) {
      char *nb = cap < ((size_t)1 << 33) ? realloc(buf, cap *= 2) : NULL;
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  bool err = ferror(f);
  fclose(f);
  if (!buf || err) {
    free(buf);
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "cannot read %s", path);
    return NULL;
  }
  *len = n;
  return buf;
}

ir_graph *api_load_model(const char *path, ir_diags *d) {
  unsigned char head[16] = {0};
  size_t nhead = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    ir_diag_add(d, IR_ERROR, NULL, NULL, -1, -1, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  nhead = fread(head, 1, sizeof head, f);
  fclose(f);

  ir_graph *g;
  ir_ctx cx = {0};
  cx.d = d;
  cx.scratch = ir_arena_new();
  if (api_guess_format(path, head, nhead) == API_FMT_MIR) {
    size_t len;
    char *text = read_text(path, &len, d);
    g = text ? ir_parse(text, len, path, d) : NULL;
    free(text);
    cx.g = g;
  } else {
    g = fe_import_onnx_file(path, d);
    cx.g = g;
    if (g && !d->nerrors) ir_infer_graph(&cx);
  }
  if (g && !d->nerrors) ir_verify(&cx);
  ir_arena_free(cx.scratch);
  return g;
}
