/* test_frontend.c - unit tests of the ONNX importer on the committed tiny
 * models and on broken bytes: structure (inputs, outputs, constants, node
 * names and indices, opsets), zero-copy weights, import from memory, and a
 * clean diagnostic (never a crash) for empty, random and truncated input.
 * tests/malformed/ covers the hand-made broken models through `mixc check`. */
#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/fe.h"

#define TINY MIXC_SOURCE_DIR "/tests/models/tiny/"

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  *len = fread(buf, 1, (size_t)n, f);
  fclose(f);
  return buf;
}

static void test_mixer(void) {
  ir_diags *d = ir_diags_new();
  ir_graph *g = fe_import_onnx_file(TINY "mixer/model.onnx", d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  ir_diags_print(d, stderr);
  CU_ASSERT_EQUAL(d->nerrors, 0);
  CU_ASSERT_EQUAL(ir_graph_opset(g, ""), 17);
  CU_ASSERT_EQUAL(g->ninputs, 1);
  CU_ASSERT_EQUAL(g->noutputs, 1);
  CU_ASSERT_STRING_EQUAL(g->inputs[0]->name, "input");
  CU_ASSERT_STRING_EQUAL(g->outputs[0]->name, "logits");
  CU_ASSERT_EQUAL(g->inputs[0]->type.dtype, IR_F32);
  CU_ASSERT_EQUAL(g->inputs[0]->type.rank, 4);
  CU_ASSERT_TRUE(g->nnodes > 10);
  CU_ASSERT_TRUE(g->ninits > 10);
  /* every node remembers its ONNX name and index, and indices are distinct */
  int conv = 0;
  for (int i = 0; i < g->nnodes; i++) {
    CU_ASSERT_TRUE(g->nodes[i]->index >= 0);
    CU_ASSERT_EQUAL(g->nodes[i]->opset, 17);
    CU_ASSERT_NOT_EQUAL(g->nodes[i]->op, IR_OP_Constant); /* Constant nodes became constants */
    conv += g->nodes[i]->op == IR_OP_Conv;
    for (int j = 0; j < i; j++) CU_ASSERT_NOT_EQUAL(g->nodes[i]->index, g->nodes[j]->index);
  }
  CU_ASSERT_EQUAL(conv, 1);
  /* the patch-embedding weight is f32[C,3,P,P] and its bytes are all there */
  ir_value *w = ir_value_find(g, "embed.proj.weight");
  CU_ASSERT_PTR_NOT_NULL_FATAL(w);
  CU_ASSERT_PTR_NOT_NULL_FATAL(w->konst);
  CU_ASSERT_EQUAL(w->konst->rank, 4);
  CU_ASSERT_EQUAL(w->konst->nbytes, (size_t)w->konst->numel * 4);
  ir_graph_free(g);
  ir_diags_free(d);
}

static void test_every_tiny_model(void) {
  static const char *names[] = {"mixer", "mixer_dynbatch", "mixer_conv1d", "mixer_einsum",
                                "sparse_mlp_masked", "sparse_mlp_onehot", "sparse_mlp_loop",
                                "soft_moe", "per_image_moe", "per_image_moe_k2", "ms_moe"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char path[512];
    snprintf(path, sizeof path, TINY "%s/model.onnx", names[i]);
    ir_diags *d = ir_diags_new();
    ir_graph *g = fe_import_onnx_file(path, d);
    CU_ASSERT_PTR_NOT_NULL(g);
    CU_ASSERT_EQUAL(d->nerrors, 0);
    if (d->nerrors) ir_diags_print(d, stderr);
    if (g && !strcmp(names[i], "ms_moe")) {
      CU_ASSERT_EQUAL(ir_graph_opset(g, "com.microsoft"), 1);
      bool moe = false;
      for (int k = 0; k < g->nnodes; k++) moe |= g->nodes[k]->op == IR_OP_MsMoE;
      CU_ASSERT_TRUE(moe);
    }
    if (g && !strcmp(names[i], "mixer_dynbatch")) {
      CU_ASSERT_PTR_NOT_NULL(g->inputs[0]->type.dims[0].sym);
      if (g->inputs[0]->type.dims[0].sym) CU_ASSERT_STRING_EQUAL(g->inputs[0]->type.dims[0].sym, "batch");
    }
    ir_graph_free(g);
    ir_diags_free(d);
  }
}

/* Weights point into the decoded model, not into copies of it: importing the
 * same bytes from memory gives the same values, and the two graphs' weight
 * pointers differ (each graph owns its own decoded message). */
static void test_memory_import(void) {
  size_t len = 0;
  unsigned char *buf = slurp(TINY "mixer/model.onnx", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  ir_diags *d = ir_diags_new();
  ir_graph *a = fe_import_onnx_memory(buf, len, NULL, d);
  ir_graph *b = fe_import_onnx_file(TINY "mixer/model.onnx", d);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(d->nerrors, 0);
  CU_ASSERT_EQUAL(a->ninits, b->ninits);
  for (int i = 0; i < a->ninits && i < b->ninits; i++) {
    CU_ASSERT_STRING_EQUAL(a->inits[i]->name, b->inits[i]->name);
    CU_ASSERT_EQUAL(a->inits[i]->konst->nbytes, b->inits[i]->konst->nbytes);
    CU_ASSERT_EQUAL(memcmp(a->inits[i]->konst->data, b->inits[i]->konst->data, a->inits[i]->konst->nbytes), 0);
  }
  memset(buf, 0, len); /* the importer kept nothing pointing into the caller's buffer */
  CU_ASSERT_NOT_EQUAL(ir_tensor_get_f(a->inits[0]->konst, 0) + ir_tensor_get_f(a->inits[0]->konst, 1), 0.0);
  ir_graph_free(a);
  ir_graph_free(b);
  ir_diags_free(d);
  free(buf);
}

static void expect_unreadable(const void *buf, size_t len, const char *what) {
  ir_diags *d = ir_diags_new();
  ir_graph *g = fe_import_onnx_memory(buf, len, NULL, d);
  bool failed = !g || d->nerrors > 0;
  CU_ASSERT_TRUE(failed);
  if (!failed) fprintf(stderr, "%s imported without error\n", what);
  CU_ASSERT_PTR_NOT_NULL(d->head);
  if (d->head) CU_ASSERT_PTR_NULL(strchr(d->head->msg, '\n')); /* one line */
  ir_graph_free(g);
  ir_diags_free(d);
}

static void test_broken_bytes(void) {
  expect_unreadable("", 0, "empty");
  unsigned char rnd[4096];
  srand(7);
  for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)rand();
  expect_unreadable(rnd, sizeof rnd, "random");
  size_t len = 0;
  unsigned char *buf = slurp(TINY "sparse_mlp_masked/model.onnx", &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  for (size_t cut = 1; cut < len; cut += len / 37 + 1) { /* truncations never crash */
    ir_diags *d = ir_diags_new();
    ir_graph *g = fe_import_onnx_memory(buf, cut, NULL, d);
    CU_ASSERT_TRUE(!g || d->nerrors > 0 || g->nnodes >= 0);
    ir_graph_free(g);
    ir_diags_free(d);
  }
  expect_unreadable(buf, len / 2, "half a model");
  free(buf);
  ir_diags *d = ir_diags_new();
  CU_ASSERT_PTR_NULL(fe_import_onnx_file(TINY "no/such/model.onnx", d));
  CU_ASSERT_EQUAL(d->nerrors, 1);
  ir_diags_free(d);
}

void frontend_suite_register(void) {
  CU_pSuite s = CU_add_suite("frontend", NULL, NULL);
  CU_add_test(s, "tiny Mixer structure", test_mixer);
  CU_add_test(s, "every tiny model imports", test_every_tiny_model);
  CU_add_test(s, "import from memory", test_memory_import);
  CU_add_test(s, "empty, random, truncated", test_broken_bytes);
}
