/* test_core.c - unit tests of ir/core.c and ir/eval.c: arenas, diagnostics,
 * dtypes, the op table, graph helpers, topological sort, the evaluator. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "ir/ir.h"

static void test_arena(void) {
  ir_arena *a = ir_arena_new();
  char *p = ir_alloc(a, 3);
  CU_ASSERT_PTR_NOT_NULL(p);
  CU_ASSERT_EQUAL((uintptr_t)p % 16, 0);
  CU_ASSERT_EQUAL(p[0] | p[1] | p[2], 0);
  char *big = ir_alloc(a, 1 << 20); /* larger than a chunk */
  big[(1 << 20) - 1] = 1;
  CU_ASSERT_STRING_EQUAL(ir_sprintf(a, "%s-%d", "x", 42), "x-42");
  CU_ASSERT_STRING_EQUAL(ir_strndup(a, "hello", 3), "hel");
  CU_ASSERT_PTR_NULL(ir_alloc_array(a, (size_t)1 << 62, 8)); /* absurd: refused */
  for (int i = 0; i < 10000; i++) CU_ASSERT_EQUAL(((char *)ir_alloc(a, 100))[99], 0);
  ir_arena_free(a);
}

static void test_diags(void) {
  ir_diags *d = ir_diags_new();
  ir_diag_add(d, IR_ERROR, "/blocks.0/Add", "Add", 12, 1, "shape mismatch %d", 3);
  ir_diag_add(d, IR_WARNING, NULL, NULL, -1, -1, "plain");
  CU_ASSERT_EQUAL(d->nerrors, 1);
  CU_ASSERT_EQUAL(d->nwarnings, 1);
  ir_arena *a = ir_arena_new();
  CU_ASSERT_STRING_EQUAL(ir_diag_format(a, d->head),
                         "error: node \"/blocks.0/Add\" (Add #12), input 1: shape mismatch 3");
  CU_ASSERT_STRING_EQUAL(ir_diag_format(a, d->head->next), "warning: plain");
  ir_arena_free(a);
  ir_diags_free(d);
}

static void test_dtypes(void) {
  CU_ASSERT_STRING_EQUAL(ir_dtype_name(IR_F32), "f32");
  CU_ASSERT_EQUAL(ir_dtype_parse("i64"), IR_I64);
  CU_ASSERT_EQUAL(ir_dtype_parse("nope"), IR_UNDEF);
  CU_ASSERT_EQUAL(ir_dtype_size(IR_BF16), 2);
  CU_ASSERT_FALSE(ir_dtype_valid(0));
  CU_ASSERT_FALSE(ir_dtype_valid(99));
  CU_ASSERT_TRUE(ir_dtype_is_float(IR_F16));
  CU_ASSERT_FALSE(ir_dtype_is_int(IR_BOOL));
  int64_t ok[] = {2, 3, 4}, neg[] = {2, -1}, huge[] = {INT64_C(1) << 31, INT64_C(1) << 31, 4};
  CU_ASSERT_EQUAL(ir_numel(3, ok), 24);
  CU_ASSERT_EQUAL(ir_numel(0, NULL), 1);
  CU_ASSERT_EQUAL(ir_numel(2, neg), -1);
  CU_ASSERT_EQUAL(ir_numel(3, huge), -1);
}

static void test_op_table(void) {
  CU_ASSERT_EQUAL(ir_op_lookup("", "MatMul"), IR_OP_MatMul);
  CU_ASSERT_EQUAL(ir_op_lookup("ai.onnx", "MatMul"), IR_OP_MatMul);
  CU_ASSERT_EQUAL(ir_op_lookup("com.microsoft", "MoE"), IR_OP_MsMoE);
  CU_ASSERT_EQUAL(ir_op_lookup("", "MoE"), -1);
  CU_ASSERT_EQUAL(ir_op_lookup("", "NoSuchOp"), -1);
  CU_ASSERT_STRING_EQUAL(ir_op_fullname(IR_OP_MsMoE), "com.microsoft.MoE");
  CU_ASSERT_STRING_EQUAL(ir_op_fullname(IR_OP_Add), "Add");
  for (int i = 0; i < IR_OP_COUNT; i++) {
    CU_ASSERT_EQUAL(ir_op_parse_fullname(ir_op_fullname((ir_op)i)), i);
    CU_ASSERT_PTR_NOT_NULL(ir_ops[i].infer);
    CU_ASSERT_TRUE(ir_ops[i].min_in >= 0 && (ir_ops[i].max_in < 0 || ir_ops[i].max_in >= ir_ops[i].min_in));
  }
  bool req = true;
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Transpose, "perm", &req), IR_ATTR_INTS);
  CU_ASSERT_FALSE(req);
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Cast, "to", &req), IR_ATTR_INT);
  CU_ASSERT_TRUE(req);
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Einsum, "equation", &req), IR_ATTR_STRING);
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Add, "axis", &req), IR_ATTR_UNDEF);
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Gemm, "beta", NULL), IR_ATTR_FLOAT);
  CU_ASSERT_EQUAL(ir_op_attr_schema(IR_OP_Gemm, "bet", NULL), IR_ATTR_UNDEF);
}

static ir_type f32v(int n) {
  static ir_dim d[1];
  d[0] = (ir_dim){n, NULL};
  return (ir_type){IR_F32, 1, d};
}

static void test_graph_and_toposort(void) {
  ir_graph *g = ir_graph_new();
  ir_value *x = ir_value_new(g, "x", f32v(4));
  ir_graph_add_input(g, x);
  ir_value *x2 = ir_value_new(g, "x", f32v(4));
  CU_ASSERT_STRING_EQUAL(x2->name, "x.1"); /* names stay unique */
  CU_ASSERT_PTR_EQUAL(ir_value_find(g, "x"), x);
  /* b = Neg(a); a = Relu(x) -- given out of order */
  ir_value *a = ir_value_new(g, "a", f32v(4)), *b = ir_value_new(g, "b", f32v(4));
  ir_node *nb = ir_node_new(g, IR_OP_Neg, "neg", 1, 1), *na = ir_node_new(g, IR_OP_Relu, "relu", 1, 1);
  nb->in[0] = a, nb->out[0] = b, b->def = nb;
  na->in[0] = x, na->out[0] = a, a->def = na;
  ir_node_append(g, nb);
  ir_node_append(g, na);
  ir_graph_add_output(g, b);
  ir_diags *d = ir_diags_new();
  CU_ASSERT_TRUE(ir_graph_toposort(g, d));
  CU_ASSERT_PTR_EQUAL(g->nodes[0], na);
  CU_ASSERT_PTR_EQUAL(g->nodes[1], nb);
  CU_ASSERT_EQUAL(ir_count_uses(g, a), 1);
  ir_attr *at = ir_attr_add(g, na, "alpha", IR_ATTR_FLOAT);
  at->f = 0.5f;
  CU_ASSERT_EQUAL(ir_attr_float(na, "alpha", 1), 0.5f);
  CU_ASSERT_EQUAL(ir_attr_int(na, "alpha", 7), 7); /* wrong kind: default */
  /* make a cycle: relu reads b */
  na->in[0] = b;
  CU_ASSERT_FALSE(ir_graph_toposort(g, d));
  CU_ASSERT_EQUAL(d->nerrors, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(d->head->msg, "cycle"));
  ir_diags_free(d);
  ir_graph_free(g);
}

static void test_eval(void) {
  ir_graph *g = ir_graph_new();
  ir_diags *d = ir_diags_new();
  ir_ctx cx = {g, d, ir_arena_new()};
  int64_t v[] = {2, 3, 5};
  ir_value *k = ir_const_new(g, "k", ir_tensor_vec_i64(g->arena, 3, v));
  ir_value *i = ir_const_new(g, "i", ir_tensor_vec_i64(g->arena, 1, (int64_t[]){-1}));
  ir_value *y = ir_value_new(g, "y", (ir_type){IR_I64, 1, (ir_dim[]){{1, NULL}}});
  ir_node *n = ir_node_new(g, IR_OP_Gather, "g", 2, 1);
  n->in[0] = k, n->in[1] = i, n->out[0] = y;
  ir_tensor *out[1];
  CU_ASSERT_TRUE(ir_eval(&cx, n, out));
  CU_ASSERT_EQUAL(ir_tensor_get_i(out[0], 0), 5);
  i->konst = ir_tensor_vec_i64(g->arena, 1, (int64_t[]){3}); /* out of range: diagnostic */
  CU_ASSERT_FALSE(ir_eval(&cx, n, out));
  CU_ASSERT_EQUAL(d->nerrors, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(d->head->msg, "out of range"));
  ir_arena_free(cx.scratch);
  ir_diags_free(d);
  ir_graph_free(g);
}

void core_suite_register(void) {
  CU_pSuite s = CU_add_suite("core", NULL, NULL);
  CU_add_test(s, "arena", test_arena);
  CU_add_test(s, "diagnostics", test_diags);
  CU_add_test(s, "dtypes", test_dtypes);
  CU_add_test(s, "op table", test_op_table);
  CU_add_test(s, "graph and toposort", test_graph_and_toposort);
  CU_add_test(s, "eval", test_eval);
}
