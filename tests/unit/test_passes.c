/* test_passes.c - unit tests of the passes on hand-built graphs: folding a
 * PyTorch-style shape subgraph with a symbolic batch dim, canonicalization of
 * Identity/Dropout (including at a graph output), dead-code elimination, and
 * a Mixer token-mixing block through raise-gelu, sink-transpose and
 * fuse-epilogue.
 * The IR text tests in tests/ir/ cover the same passes from .mir files. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "passes/pass.h"

typedef struct fixture {
  ir_graph *g;
  ir_diags *d;
  ir_ctx cx;
} fixture;

static void fx_init(fixture *f) {
  f->g = ir_graph_new();
  f->g->nopsets = 1;
  f->g->opsets = ir_alloc(f->g->arena, sizeof(ir_opset));
  f->g->opsets[0] = (ir_opset){"", 17};
  f->d = ir_diags_new();
  f->cx = (ir_ctx){f->g, f->d, ir_arena_new()};
}

static void fx_free(fixture *f) {
  ir_arena_free(f->cx.scratch);
  ir_diags_free(f->d);
  ir_graph_free(f->g);
}

static ir_value *node(fixture *f, ir_op op, const char *out, int nin, ir_value **in) {
  ir_node *n = ir_node_new(f->g, op, out, nin, 1);
  for (int i = 0; i < nin; i++) n->in[i] = in[i];
  n->out[0] = ir_value_new(f->g, out, (ir_type){IR_UNDEF, -1, NULL});
  n->out[0]->def = n;
  ir_node_append(f->g, n);
  return n->out[0];
}

static ir_value *const_i64(fixture *f, const char *name, int n, const int64_t *v) {
  return ir_const_new(f->g, name, ir_tensor_vec_i64(f->g->arena, n, v));
}

static void dump_diags(const fixture *f) { ir_diags_print(f->d, stderr); }

/* x: f32[batch,4,8] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [32]))
 * The batch dim stays symbolic, so Shape itself cannot fold; Gather of dim 1..2
 * of it could. Here: the reshape target is [batch, 32] and its type is inferred
 * as f32[batch,32] once the second half folds. */
static void test_fold_shape_subgraph(void) {
  fixture f;
  fx_init(&f);
  ir_dim xd[] = {{-1, "batch"}, {4, NULL}, {8, NULL}};
  ir_value *x = ir_value_new(f.g, "x", (ir_type){IR_F32, 3, xd});
  ir_graph_add_input(f.g, x);
  ir_value *shape = node(&f, IR_OP_Shape, "shape", 1, &x);
  ir_value *i1 = const_i64(&f, "i1", 1, (int64_t[]){1});
  ir_value *i2 = const_i64(&f, "i2", 1, (int64_t[]){2});
  ir_value *d1 = node(&f, IR_OP_Gather, "d1", 2, (ir_value *[]){shape, i1});
  ir_value *d2 = node(&f, IR_OP_Gather, "d2", 2, (ir_value *[]){shape, i2});
  ir_value *prod = node(&f, IR_OP_Mul, "prod", 2, (ir_value *[]){d1, d2});
  ir_value *m1 = const_i64(&f, "m1", 1, (int64_t[]){-1});
  ir_value *tgt = node(&f, IR_OP_Concat, "tgt", 2, (ir_value *[]){m1, prod});
  ir_attr *ax = ir_attr_add(f.g, tgt->def, "axis", IR_ATTR_INT);
  ax->i = 0;
  ir_value *y = node(&f, IR_OP_Reshape, "y", 2, (ir_value *[]){x, tgt});
  ir_graph_add_output(f.g, y);
  CU_ASSERT_TRUE(ir_infer_graph(&f.cx));
  CU_ASSERT_TRUE(pass_fold(&f.cx));
  CU_ASSERT_TRUE(pass_dce(&f.cx));
  dump_diags(&f);
  CU_ASSERT_EQUAL(f.d->nerrors, 0);
  CU_ASSERT_EQUAL(f.g->nnodes, 1); /* only the Reshape is left */
  CU_ASSERT_EQUAL(f.g->nodes[0]->op, IR_OP_Reshape);
  CU_ASSERT_PTR_NOT_NULL(tgt->konst);
  if (tgt->konst) {
    CU_ASSERT_EQUAL(ir_tensor_get_i(tgt->konst, 0), -1);
    CU_ASSERT_EQUAL(ir_tensor_get_i(tgt->konst, 1), 32);
  }
  CU_ASSERT_EQUAL(y->type.rank, 2);
  if (y->type.rank == 2) {
    CU_ASSERT_EQUAL(y->type.dims[1].v, 32);
    CU_ASSERT_TRUE(ir_dim_eq(y->type.dims[0], (ir_dim){-1, "batch"}) || y->type.dims[0].v < 0);
  }
  CU_ASSERT_TRUE(ir_verify(&f.cx));
  fx_free(&f);
}

/* Everything static: Shape folds too, and the whole chain disappears. */
static void test_fold_static(void) {
  fixture f;
  fx_init(&f);
  ir_dim xd[] = {{2, NULL}, {3, NULL}};
  ir_value *x = ir_value_new(f.g, "x", (ir_type){IR_F32, 2, xd});
  ir_graph_add_input(f.g, x);
  ir_value *shape = node(&f, IR_OP_Shape, "shape", 1, &x);
  ir_value *t = node(&f, IR_OP_Cast, "t", 1, &shape);
  ir_attr_add(f.g, t->def, "to", IR_ATTR_INT)->i = IR_F32;
  ir_value *y = node(&f, IR_OP_Add, "y", 2, (ir_value *[]){x, t});
  /* [2,3] + cast([2,3]) broadcasts along the last axis only if it matches: 3 vs 2. */
  (void)y;
  ir_graph_add_output(f.g, y);
  CU_ASSERT_FALSE(ir_infer_graph(&f.cx)); /* [2,3] + [2] cannot broadcast */
  CU_ASSERT_TRUE(f.d->nerrors > 0);
  fx_free(&f);

  fx_init(&f);
  ir_dim xd2[] = {{3, NULL}, {2, NULL}};
  x = ir_value_new(f.g, "x", (ir_type){IR_F32, 2, xd2});
  ir_graph_add_input(f.g, x);
  shape = node(&f, IR_OP_Shape, "shape", 1, &x);
  t = node(&f, IR_OP_Cast, "t", 1, &shape);
  ir_attr_add(f.g, t->def, "to", IR_ATTR_INT)->i = IR_F32;
  y = node(&f, IR_OP_Add, "y", 2, (ir_value *[]){x, t});
  ir_graph_add_output(f.g, y);
  CU_ASSERT_TRUE(ir_infer_graph(&f.cx));
  CU_ASSERT_TRUE(pass_fold(&f.cx));
  CU_ASSERT_TRUE(pass_dce(&f.cx));
  CU_ASSERT_EQUAL(f.g->nnodes, 1);
  CU_ASSERT_PTR_NOT_NULL(t->konst);
  if (t->konst) {
    CU_ASSERT_EQUAL(t->konst->dtype, IR_F32);
    CU_ASSERT_EQUAL(ir_tensor_get_f(t->konst, 0), 3.0);
    CU_ASSERT_EQUAL(ir_tensor_get_f(t->konst, 1), 2.0);
  }
  fx_free(&f);
}

static void test_canonicalize(void) {
  fixture f;
  fx_init(&f);
  ir_dim xd[] = {{4, NULL}};
  ir_value *x = ir_value_new(f.g, "x", (ir_type){IR_F32, 1, xd});
  ir_graph_add_input(f.g, x);
  ir_value *r = node(&f, IR_OP_Relu, "r", 1, &x);
  ir_value *dr = node(&f, IR_OP_Dropout, "dr", 1, &r);
  ir_value *id = node(&f, IR_OP_Identity, "out", 1, &dr);
  ir_graph_add_output(f.g, id);
  /* An Identity straight from an input to a second output must stay. */
  ir_value *keep = node(&f, IR_OP_Identity, "keep", 1, &x);
  ir_graph_add_output(f.g, keep);
  CU_ASSERT_TRUE(ir_infer_graph(&f.cx));
  CU_ASSERT_TRUE(pass_canonicalize(&f.cx));
  CU_ASSERT_TRUE(pass_dce(&f.cx));
  dump_diags(&f);
  CU_ASSERT_EQUAL(f.g->nnodes, 2);
  CU_ASSERT_EQUAL(f.g->nodes[0]->op, IR_OP_Relu);
  CU_ASSERT_EQUAL(f.g->nodes[1]->op, IR_OP_Identity);
  CU_ASSERT_STRING_EQUAL(f.g->outputs[0]->name, "out"); /* the user's output name survives */
  CU_ASSERT_PTR_EQUAL(f.g->outputs[0]->def, f.g->nodes[0]);
  CU_ASSERT_TRUE(ir_verify(&f.cx));
  fx_free(&f);
}

static void test_dce(void) {
  fixture f;
  fx_init(&f);
  ir_dim xd[] = {{4, NULL}};
  ir_value *x = ir_value_new(f.g, "x", (ir_type){IR_F32, 1, xd});
  ir_graph_add_input(f.g, x);
  ir_value *w = ir_const_new(f.g, "w", ir_tensor_new(f.g->arena, IR_F32, 1, (int64_t[]){4}));
  ir_value *unused = node(&f, IR_OP_Mul, "unused", 2, (ir_value *[]){x, w});
  ir_value *dead2 = node(&f, IR_OP_Neg, "dead2", 1, &unused);
  (void)dead2;
  ir_value *y = node(&f, IR_OP_Exp, "y", 1, &x);
  ir_graph_add_output(f.g, y);
  CU_ASSERT_TRUE(ir_infer_graph(&f.cx));
  CU_ASSERT_TRUE(pass_dce(&f.cx));
  CU_ASSERT_EQUAL(f.g->nnodes, 1);
  CU_ASSERT_EQUAL(f.g->ninits, 0); /* the weight only the dead Mul used is gone */
  CU_ASSERT_PTR_NULL(ir_value_find(f.g, "unused"));
  fx_free(&f);
}

static ir_value *const_f32(fixture *f, const char *name, int rank, const int64_t *dims, float v) {
  ir_tensor *t = ir_tensor_new(f->g->arena, IR_F32, rank, dims);
  for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = v + 0.125f * (float)i;
  return ir_const_new(f->g, name, t);
}

static ir_value *transpose12(fixture *f, const char *name, ir_value *x) {
  ir_value *y = node(f, IR_OP_Transpose, name, 1, &x);
  ir_attr *a = ir_attr_add(f->g, y->def, "perm", IR_ATTR_INTS);
  a->n = 3;
  a->ints = ir_alloc(f->g->arena, 3 * sizeof(int64_t));
  a->ints[0] = 0, a->ints[1] = 2, a->ints[2] = 1;
  return y;
}

/* The token mixing of a Mixer block with a symbolic batch, GELU decomposed as
 * PyTorch exports it, through the whole pipeline: raise-gelu, sink-transpose
 * and fuse-epilogue leave two mixc.matmul nodes and no Transpose. */
static void test_token_mixing(void) {
  fixture f;
  fx_init(&f);
  ir_dim xd[] = {{-1, "batch"}, {4, NULL}, {3, NULL}};
  ir_value *x = ir_value_new(f.g, "x", (ir_type){IR_F32, 3, xd});
  ir_graph_add_input(f.g, x);
  ir_value *w1 = const_f32(&f, "w1", 2, (int64_t[]){4, 2}, -0.5f);
  ir_value *b1 = const_f32(&f, "b1", 1, (int64_t[]){2}, 0.1f);
  ir_value *w2 = const_f32(&f, "w2", 2, (int64_t[]){2, 4}, 0.25f);
  ir_value *b2 = const_f32(&f, "b2", 1, (int64_t[]){4}, -0.1f);
  ir_value *sqrt2 = const_f32(&f, "sqrt2", 0, NULL, 1.4142135f);
  ir_value *one = const_f32(&f, "one", 0, NULL, 1.0f);
  ir_value *half = const_f32(&f, "half", 0, NULL, 0.5f);
  ir_value *t = transpose12(&f, "t", x);
  ir_value *h = node(&f, IR_OP_MatMul, "h", 2, (ir_value *[]){t, w1});
  ir_value *hb = node(&f, IR_OP_Add, "hb", 2, (ir_value *[]){b1, h});
  ir_value *dv = node(&f, IR_OP_Div, "dv", 2, (ir_value *[]){hb, sqrt2});
  ir_value *er = node(&f, IR_OP_Erf, "er", 1, &dv);
  ir_value *ad = node(&f, IR_OP_Add, "ad", 2, (ir_value *[]){er, one});
  ir_value *m1 = node(&f, IR_OP_Mul, "m1", 2, (ir_value *[]){hb, ad});
  ir_value *g = node(&f, IR_OP_Mul, "g", 2, (ir_value *[]){m1, half});
  ir_value *o = node(&f, IR_OP_MatMul, "o", 2, (ir_value *[]){g, w2});
  ir_value *ob = node(&f, IR_OP_Add, "ob", 2, (ir_value *[]){b2, o});
  ir_value *t2 = transpose12(&f, "t2", ob);
  ir_value *y = node(&f, IR_OP_Add, "y", 2, (ir_value *[]){x, t2});
  ir_graph_add_output(f.g, y);
  CU_ASSERT_TRUE(ir_infer_graph(&f.cx));
  pass_options opts = {0};
  CU_ASSERT_TRUE(pass_run_pipeline(&f.cx, &opts));
  dump_diags(&f);
  CU_ASSERT_EQUAL(f.g->nnodes, 2);
  if (f.g->nnodes == 2) {
    ir_node *n1 = f.g->nodes[0], *n2 = f.g->nodes[1];
    CU_ASSERT_EQUAL(n1->op, IR_OP_MixcMatmul);
    CU_ASSERT_EQUAL(n2->op, IR_OP_MixcMatmul);
    CU_ASSERT_EQUAL(ir_attr_int(n1, "trans_a", 0), 1);
    CU_ASSERT_EQUAL(ir_attr_int(n1, "bias_axis", 0), 1);
    CU_ASSERT_STRING_EQUAL(ir_attr_str(n1, "act", "none"), "gelu_erf");
    CU_ASSERT(n1->nin == 3 && n1->in[0] == w1 && n1->in[1] == x && n1->in[2] == b1);
    CU_ASSERT(n2->nin == 4 && n2->in[0] == w2 && n2->in[1] == n1->out[0] && n2->in[2] == b2 &&
              n2->in[3] == x);
    CU_ASSERT_STRING_EQUAL(ir_type_str(f.cx.scratch, &n1->out[0]->type), "f32[batch,2,3]");
    CU_ASSERT_PTR_EQUAL(f.g->outputs[0], n2->out[0]);
    CU_ASSERT_STRING_EQUAL(f.g->outputs[0]->name, "y");
    CU_ASSERT_STRING_EQUAL(ir_type_str(f.cx.scratch, &f.g->outputs[0]->type), "f32[batch,4,3]");
  }
  CU_ASSERT_TRUE(ir_verify(&f.cx));
  fx_free(&f);
}

void passes_suite_register(void) {
  CU_pSuite s = CU_add_suite("passes", NULL, NULL);
  CU_add_test(s, "fold a symbolic shape subgraph", test_fold_shape_subgraph);
  CU_add_test(s, "fold static Shape/Cast", test_fold_static);
  CU_add_test(s, "canonicalize Identity/Dropout", test_canonicalize);
  CU_add_test(s, "dead-code elimination", test_dce);
  CU_add_test(s, "token mixing: raise-gelu, sink-transpose, fuse-epilogue", test_token_mixing);
}
