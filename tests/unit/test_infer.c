/* test_infer.c - unit tests of shape inference (ir/infer.c) and the verifier
 * (ir/verify.c). Each test builds a small graph by hand with the core.c helpers,
 * runs inference on one node, and compares the printed output type
 * (ir_type_str) with the expected text; error cases check that a diagnostic
 * mentions the problem.
 *
 * Requires: core.c, infer.c, verify.c, print.c (ir_type_str) and CUnit. */
#include <CUnit/CUnit.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ir/infer.h"

static ir_graph *g;
static ir_diags *d;
static ir_ctx cx;
static ir_arena *ta;

static void begin(int opset) {
  g = ir_graph_new();
  d = ir_diags_new();
  ta = ir_arena_new();
  g->nopsets = 2;
  g->opsets = ir_alloc(g->arena, 2 * sizeof(ir_opset));
  g->opsets[0] = (ir_opset){"", opset};
  g->opsets[1] = (ir_opset){"com.microsoft", 1};
  cx = (ir_ctx){g, d, NULL};
}

static void end(void) {
  if (getenv("MIXC_TEST_SHOW_DIAGS")) ir_diags_print(d, stderr); /* to eyeball the texts */
  ir_graph_free(g);
  ir_diags_free(d);
  ir_arena_free(ta);
}

/* "f32[2,batch,?]" or "f32[*]" */
static ir_type T(const char *s) {
  const char *b = strchr(s, '[');
  ir_type t = {ir_dtype_parse(ir_strndup(ta, s, (size_t)(b - s))), 0, NULL};
  if (b[1] == '*') {
    t.rank = -1;
    return t;
  }
  t.dims = ir_alloc(g->arena, sizeof(ir_dim) * IR_MAX_RANK);
  const char *p = b + 1;
  while (*p && *p != ']') {
    const char *q = p;
    while (*q != ',' && *q != ']') q++;
    ir_dim dm = {-1, NULL};
    if (*p == '?') dm.v = -1;
    else if (*p >= '0' && *p <= '9') dm.v = strtoll(p, NULL, 10);
    else dm.sym = ir_strndup(g->arena, p, (size_t)(q - p));
    t.dims[t.rank++] = dm;
    p = *q == ',' ? q + 1 : q;
  }
  return t;
}

static ir_value *IN(const char *name, const char *type) {
  ir_value *v = ir_value_new(g, name, T(type));
  ir_graph_add_input(g, v);
  return v;
}

static ir_value *CI(const char *name, int n, const int64_t *v) {
  return ir_const_new(g, name, ir_tensor_vec_i64(g->arena, n, v));
}

static ir_value *CS(const char *name, int64_t v) {
  return ir_const_new(g, name, ir_tensor_scalar_i64(g->arena, v));
}

static ir_value *CF(const char *name, float v) {
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, 0, NULL);
  ((float *)t->data)[0] = v;
  return ir_const_new(g, name, t);
}

/* A node with `nout` fresh outputs of unknown type; inputs follow (NULL allowed). */
static ir_node *N(ir_op op, int nout, int nin, ...) {
  static int seq;
  ir_node *n = ir_node_new(g, op, ir_sprintf(ta, "%s_%d", ir_op_fullname(op), ++seq), nin, nout);
  va_list ap;
  va_start(ap, nin);
  for (int i = 0; i < nin; i++) n->in[i] = va_arg(ap, ir_value *);
  va_end(ap);
  for (int i = 0; i < nout; i++) {
    ir_value *v = ir_value_new(g, ir_sprintf(ta, "%s_out%d", n->name, i),
                               (ir_type){IR_UNDEF, -1, NULL});
    v->def = n;
    v->def_index = i;
    n->out[i] = v;
  }
  ir_node_append(g, n);
  return n;
}

static void AI(ir_node *n, const char *name, int64_t v) { ir_attr_add(g, n, name, IR_ATTR_INT)->i = v; }
static void AF(ir_node *n, const char *name, float v) { ir_attr_add(g, n, name, IR_ATTR_FLOAT)->f = v; }
static void AS(ir_node *n, const char *name, const char *s) {
  ir_attr *a = ir_attr_add(g, n, name, IR_ATTR_STRING);
  a->s = ir_strdup(g->arena, s);
  a->slen = strlen(s);
}
static void AIS(ir_node *n, const char *name, int cnt, const int64_t *v) {
  ir_attr *a = ir_attr_add(g, n, name, IR_ATTR_INTS);
  a->n = cnt;
  a->ints = ir_alloc(g->arena, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
}

static const char *OT(ir_node *n, int i) { return ir_type_str(ta, &n->out[i]->type); }

/* Infers n; expects success and output i of type `want`. */
static int check(ir_node *n, int i, const char *want) {
  bool ok = ir_infer_node(&cx, n);
  const char *got = OT(n, i);
  if (!ok || strcmp(got, want)) {
    fprintf(stderr, "\n  %s: want %s, got %s (ok=%d)\n", n->name, want, got, ok);
    ir_diags_print(d, stderr);
  }
  return ok && !strcmp(got, want);
}

static bool has_diag(const char *sub) {
  for (const ir_diag *x = d->head; x; x = x->next)
    if (strstr(x->msg, sub)) return true;
  return false;
}

/* Infers n; expects failure with a diagnostic containing `sub`. */
static int fails(ir_node *n, const char *sub) {
  bool ok = ir_infer_node(&cx, n);
  bool found = has_diag(sub);
  if (ok || !found) {
    fprintf(stderr, "\n  %s: expected an error mentioning '%s' (ok=%d)\n", n->name, sub, ok);
    ir_diags_print(d, stderr);
  }
  return !ok && found;
}

#define I64S(...) ((const int64_t[]){__VA_ARGS__})
#define NI(...) (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), I64S(__VA_ARGS__)

/* ---- elementwise and broadcasting ---------------------------------------------- */
static void test_broadcast(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Add, 1, 2, IN("a", "f32[2,3]"), IN("b", "f32[3]")), 0, "f32[2,3]"));
  CU_ASSERT(check(N(IR_OP_Mul, 1, 2, IN("c", "f32[batch,1,4]"), IN("e", "f32[5,1]")), 0,
                  "f32[batch,5,4]"));
  CU_ASSERT(check(N(IR_OP_Sub, 1, 2, IN("f", "f32[batch,3]"), IN("h", "f32[batch,1]")), 0,
                  "f32[batch,3]"));
  CU_ASSERT(check(N(IR_OP_Add, 1, 2, IN("i", "f32[batch]"), IN("j", "f32[4]")), 0, "f32[4]"));
  CU_ASSERT(check(N(IR_OP_Add, 1, 2, IN("k", "f32[n]"), IN("l", "f32[m]")), 0, "f32[?]"));
  CU_ASSERT(check(N(IR_OP_Add, 1, 2, IN("m2", "f32[*]"), IN("n2", "f32[3]")), 0, "f32[*]"));
  CU_ASSERT(fails(N(IR_OP_Add, 1, 2, IN("o", "f32[2,3]"), IN("p", "f32[4,3]")),
                  "input shapes [2,3] and [4,3] cannot be broadcast"));
  CU_ASSERT(fails(N(IR_OP_Add, 1, 2, IN("q", "f32[2]"), IN("r", "i64[2]")), "i64"));
  CU_ASSERT(check(N(IR_OP_Less, 1, 2, IN("s", "i64[b,4]"), IN("t", "i64[]")), 0, "bool[b,4]"));
  CU_ASSERT(check(N(IR_OP_Sum, 1, 3, IN("u", "f32[3,1]"), IN("v", "f32[1,4]"), IN("w", "f32[4]")),
                  0, "f32[3,4]"));
  CU_ASSERT(check(N(IR_OP_Where, 1, 3, IN("x", "bool[2,1]"), IN("y", "f32[3]"), IN("z", "f32[]")),
                  0, "f32[2,3]"));
  end();
}

static void test_unary_misc(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Relu, 1, 1, IN("a", "f32[b,3]")), 0, "f32[b,3]"));
  CU_ASSERT(fails(N(IR_OP_Exp, 1, 1, IN("ai", "i64[3]")), "floating-point"));
  ir_node *c = N(IR_OP_Cast, 1, 1, IN("b", "f32[2,3]"));
  AI(c, "to", IR_I64);
  CU_ASSERT(check(c, 0, "i64[2,3]"));
  CU_ASSERT(check(N(IR_OP_Dropout, 2, 1, IN("dr", "f32[4]")), 1, "bool[4]"));
  ir_node *sm = N(IR_OP_Softmax, 1, 1, IN("sm", "f32[2,3]"));
  AI(sm, "axis", 2);
  CU_ASSERT(fails(sm, "axis 2 is out of range for rank 2"));
  CU_ASSERT(check(N(IR_OP_Clip, 1, 3, IN("cl", "f32[5]"), CF("lo", 0), NULL), 0, "f32[5]"));
  CU_ASSERT(check(N(IR_OP_CumSum, 1, 2, IN("cs", "f32[5,6]"), CS("csax", 1)), 0, "f32[5,6]"));
  ir_node *fl = N(IR_OP_Flatten, 1, 1, IN("fl", "f32[b,3,4,5]"));
  AI(fl, "axis", 2);
  CU_ASSERT(check(fl, 0, "f32[?,20]"));
  CU_ASSERT(check(N(IR_OP_Flatten, 1, 1, IN("fl2", "f32[b,3,4]")), 0, "f32[b,12]"));
  CU_ASSERT(check(N(IR_OP_CastLike, 1, 2, IN("cl1", "f32[2]"), IN("cl2", "f16[]")), 0, "f16[2]"));
  ir_node *deep = N(IR_OP_Unsqueeze, 1, 2, IN("deep", "f32[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"),
                    CI("dax", NI(0, 1)));
  CU_ASSERT(fails(deep, "rank 17"));
  end();
  begin(11);
  CU_ASSERT(check(N(IR_OP_Softmax, 1, 1, IN("sm11", "f32[2,3,4]")), 0, "f32[2,3,4]")); /* axis 1 */
  ir_node *c11 = N(IR_OP_Clip, 1, 1, IN("c11", "f32[3]"));
  CU_ASSERT(check(c11, 0, "f32[3]"));
  end();
  begin(10);
  ir_node *c10 = N(IR_OP_Clip, 1, 3, IN("c10", "f32[3]"), CF("lo10", 0), CF("hi10", 1));
  CU_ASSERT(fails(c10, "attributes before opset 11"));
  end();
}

/* ---- linear algebra ---------------------------------------------------------------- */
static void test_matmul_gemm(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_MatMul, 1, 2, IN("a", "f32[2,3,4]"), IN("b", "f32[4,5]")), 0,
                  "f32[2,3,5]"));
  CU_ASSERT(check(N(IR_OP_MatMul, 1, 2, IN("c", "f32[4]"), IN("e", "f32[4,5]")), 0, "f32[5]"));
  CU_ASSERT(check(N(IR_OP_MatMul, 1, 2, IN("f", "f32[3,4]"), IN("h", "f32[4]")), 0, "f32[3]"));
  CU_ASSERT(check(N(IR_OP_MatMul, 1, 2, IN("i", "f32[b,1,3,4]"), IN("j", "f32[7,4,6]")), 0,
                  "f32[b,7,3,6]"));
  CU_ASSERT(fails(N(IR_OP_MatMul, 1, 2, IN("k", "f32[8,64]"), IN("l", "f32[32,16]")),
                  "MatMul inner dimensions differ: 64 vs 32"));
  ir_node *gm = N(IR_OP_Gemm, 1, 3, IN("ga", "f32[4,3]"), IN("gb", "f32[5,4]"), IN("gc", "f32[5]"));
  AI(gm, "transA", 1);
  AI(gm, "transB", 1);
  CU_ASSERT(check(gm, 0, "f32[3,5]"));
  ir_node *gm2 = N(IR_OP_Gemm, 1, 2, IN("gd", "f32[4,3]"), IN("ge", "f32[5,4]"));
  CU_ASSERT(fails(gm2, "Gemm inner dimensions differ: 3 vs 5"));
  end();
}

/* mixc.matmul (ir/infer_fused.c): transposed operands, batch broadcasting,
 * the bias by n or m, the residual of the output's exact shape. */
static void test_mixc_matmul(void) {
  begin(17);
  ir_node *n = N(IR_OP_MixcMatmul, 1, 2, IN("w", "f32[16,12]"), IN("x", "f32[b,16,24]"));
  AI(n, "trans_a", 1);
  CU_ASSERT(check(n, 0, "f32[b,12,24]"));
  n = N(IR_OP_MixcMatmul, 1, 4, IN("a", "f32[3,1,5,4]"), IN("bt", "f32[2,6,4]"), IN("bn", "f32[6]"),
        IN("r", "f32[3,2,5,6]"));
  AI(n, "trans_b", 1);
  AS(n, "act", "gelu_tanh");
  CU_ASSERT(check(n, 0, "f32[3,2,5,6]"));
  n = N(IR_OP_MixcMatmul, 1, 3, IN("a2", "f64[5,4]"), IN("b2", "f64[b,4,6]"), IN("bm", "f64[5]"));
  AI(n, "bias_axis", 1);
  CU_ASSERT(check(n, 0, "f64[b,5,6]"));
  /* a residual with the same symbols fits; an unknown rank gives an unknown rank */
  n = N(IR_OP_MixcMatmul, 1, 4, IN("a3", "f32[b,5,4]"), IN("b3", "f32[4,6]"), NULL,
        IN("r3", "f32[b,5,6]"));
  CU_ASSERT(check(n, 0, "f32[b,5,6]"));
  CU_ASSERT(check(N(IR_OP_MixcMatmul, 1, 2, IN("a4", "f32[*]"), IN("b4", "f32[4,6]")), 0, "f32[*]"));
  /* bad input */
  n = N(IR_OP_MixcMatmul, 1, 2, IN("a5", "f32[4,2]"), IN("b5", "f32[3,5]"));
  AI(n, "trans_a", 1);
  CU_ASSERT(fails(n, "mixc.matmul inner dimensions differ: 4 vs 3"));
  n = N(IR_OP_MixcMatmul, 1, 3, IN("a6", "f32[2,3]"), IN("b6", "f32[3,5]"), IN("c6", "f32[2]"));
  CU_ASSERT(fails(n, "bias has 2 elements but the output's n dim is 5"));
  n = N(IR_OP_MixcMatmul, 1, 3, IN("a7", "f32[2,3]"), IN("b7", "f32[3,5]"), IN("c7", "f32[2,5]"));
  CU_ASSERT(fails(n, "mixc.matmul bias must be 1-D, got rank 2"));
  n = N(IR_OP_MixcMatmul, 1, 4, IN("a8", "f32[2,3]"), IN("b8", "f32[3,5]"), NULL, IN("r8", "f32[1,5]"));
  CU_ASSERT(fails(n, "residual [1,5] does not have the output's shape [2,5]"));
  n = N(IR_OP_MixcMatmul, 1, 2, IN("a9", "f32[2,3]"), IN("b9", "f32[3,5]"));
  AI(n, "trans_a", 2);
  CU_ASSERT(fails(n, "mixc.matmul trans_a must be 0 or 1, got 2"));
  n = N(IR_OP_MixcMatmul, 1, 2, IN("a10", "f32[2,3]"), IN("b10", "f32[3]"));
  CU_ASSERT(fails(n, "mixc.matmul B must have rank >= 2, got rank 1"));
  n = N(IR_OP_MixcMatmul, 1, 2, IN("a11", "i64[2,3]"), IN("b11", "i64[3,5]"));
  CU_ASSERT(fails(n, "mixc.matmul supports f32 and f64, got i64"));
  n = N(IR_OP_MixcMatmul, 1, 2, IN("a12", "f32[2,3]"), IN("b12", "f32[3,5]"));
  AS(n, "act", "swish");
  CU_ASSERT(fails(n, "act \"swish\" is not one of"));
  CU_ASSERT(ir_fused_act_code(NULL) == 0 && ir_fused_act_code("silu") == 4 &&
            ir_fused_act_code("sigmoid") == 5 && ir_fused_act_code("gelu") == -1);
  end();
}

static void test_einsum(void) {
  begin(17);
  ir_node *e1 = N(IR_OP_Einsum, 1, 2, IN("a", "f32[b,3,4]"), IN("c", "f32[b,4,5]"));
  AS(e1, "equation", "bij,bjk->bik");
  CU_ASSERT(check(e1, 0, "f32[b,3,5]"));
  ir_node *e2 = N(IR_OP_Einsum, 1, 2, IN("e", "f32[2,7,3,4]"), IN("f", "f32[4,5]"));
  AS(e2, "equation", "...ij,jk");
  CU_ASSERT(check(e2, 0, "f32[2,7,3,5]"));
  ir_node *e3 = N(IR_OP_Einsum, 1, 1, IN("h", "f32[3,4]"));
  AS(e3, "equation", "ij->ji");
  CU_ASSERT(check(e3, 0, "f32[4,3]"));
  ir_node *e4 = N(IR_OP_Einsum, 1, 2, IN("i", "f32[b,s,c]"), IN("j", "f32[8,c]"));
  AS(e4, "equation", "bsc,ec->bse");
  CU_ASSERT(check(e4, 0, "f32[b,s,8]"));
  ir_node *e5 = N(IR_OP_Einsum, 1, 2, IN("k", "f32[2,3]"), IN("l", "f32[4,5]"));
  AS(e5, "equation", "ij,jk->ik");
  CU_ASSERT(fails(e5, "label 'j' has sizes 3 and 4"));
  ir_node *e6 = N(IR_OP_Einsum, 1, 2, IN("m", "f32[5,2,3]"), IN("n", "f32[3,4]"));
  AS(e6, "equation", "...ij,jk->...ik");
  CU_ASSERT(check(e6, 0, "f32[5,2,4]"));
  end();
}

/* ---- convolution and pooling ------------------------------------------------------ */
static void test_conv_pool(void) {
  begin(17);
  ir_node *c1 = N(IR_OP_Conv, 1, 3, IN("x", "f32[b,3,224,224]"), IN("w", "f32[768,3,16,16]"),
                  IN("bias", "f32[768]"));
  AIS(c1, "strides", NI(16, 16));
  CU_ASSERT(check(c1, 0, "f32[b,768,14,14]"));
  ir_node *c2 = N(IR_OP_Conv, 1, 2, IN("x2", "f32[1,4,7,7]"), IN("w2", "f32[8,4,3,3]"));
  AIS(c2, "pads", NI(1, 1, 1, 1));
  AIS(c2, "strides", NI(2, 2));
  CU_ASSERT(check(c2, 0, "f32[1,8,4,4]"));
  ir_node *c3 = N(IR_OP_Conv, 1, 2, IN("x3", "f32[1,4,7,9]"), IN("w3", "f32[8,2,3,3]"));
  AS(c3, "auto_pad", "SAME_UPPER");
  AIS(c3, "strides", NI(2, 2));
  AI(c3, "group", 2);
  CU_ASSERT(check(c3, 0, "f32[1,8,4,5]"));
  ir_node *c4 = N(IR_OP_Conv, 1, 2, IN("x4", "f32[1,3,8,8]"), IN("w4", "f32[8,4,3,3]"));
  CU_ASSERT(fails(c4, "input channels 3 do not match weight channels 4"));
  ir_node *c5 = N(IR_OP_Conv, 1, 2, IN("x5", "f32[1,2,10]"), IN("w5", "f32[2,2,3]"));
  AIS(c5, "dilations", NI(2));
  CU_ASSERT(check(c5, 0, "f32[1,2,6]"));
  ir_node *p1 = N(IR_OP_MaxPool, 2, 1, IN("p", "f32[1,3,6,6]"));
  AIS(p1, "kernel_shape", NI(3, 3));
  AIS(p1, "strides", NI(2, 2));
  AI(p1, "ceil_mode", 1);
  CU_ASSERT(check(p1, 0, "f32[1,3,3,3]"));
  CU_ASSERT_STRING_EQUAL(OT(p1, 1), "i64[1,3,3,3]");
  ir_node *p2 = N(IR_OP_AveragePool, 1, 1, IN("p2", "f32[1,3,6,6]"));
  AIS(p2, "kernel_shape", NI(3, 3));
  AIS(p2, "strides", NI(2, 2));
  CU_ASSERT(check(p2, 0, "f32[1,3,2,2]"));
  CU_ASSERT(check(N(IR_OP_GlobalAveragePool, 1, 1, IN("gp", "f32[b,64,7,7]")), 0,
                  "f32[b,64,1,1]"));
  end();
}

/* ---- shape manipulation ------------------------------------------------------------ */
static void test_reshape(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Reshape, 1, 2, IN("a", "f32[2,3,4]"), CI("s1", NI(0, -1))), 0,
                  "f32[2,12]"));
  CU_ASSERT(check(N(IR_OP_Reshape, 1, 2, IN("b", "f32[batch,196,768]"), CI("s2", NI(0, -1, 768))),
                  0, "f32[batch,196,768]"));
  CU_ASSERT(check(N(IR_OP_Reshape, 1, 2, IN("c", "f32[batch,196,768]"), CI("s3", NI(-1, 196, 768))),
                  0, "f32[batch,196,768]"));
  CU_ASSERT(check(N(IR_OP_Reshape, 1, 2, IN("e", "f32[batch,4,6]"), CI("s4", NI(-1, 8))), 0,
                  "f32[?,8]"));
  CU_ASSERT(check(N(IR_OP_Reshape, 1, 2, IN("f", "f32[2,3]"), IN("dyn", "i64[3]")), 0,
                  "f32[?,?,?]"));
  CU_ASSERT(fails(N(IR_OP_Reshape, 1, 2, IN("h", "f32[2,3]"), CI("s5", NI(-1, -1))),
                  "more than one -1"));
  CU_ASSERT(fails(N(IR_OP_Reshape, 1, 2, IN("i", "f32[2,3]"), CI("s6", NI(4, 2))), "6 elements"));
  CU_ASSERT(fails(N(IR_OP_Reshape, 1, 2, IN("j", "f32[2,3]"), CI("s7", NI(4, -1))),
                  "cannot reshape"));
  ir_node *az = N(IR_OP_Reshape, 1, 2, IN("k", "f32[0,3]"), CI("s8", NI(3, 0)));
  AI(az, "allowzero", 1); /* 0 is a real zero here, not "copy" */
  CU_ASSERT(check(az, 0, "f32[3,0]"));
  end();
}

static void test_transpose(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Transpose, 1, 1, IN("a", "f32[2,3,4]")), 0, "f32[4,3,2]"));
  ir_node *t = N(IR_OP_Transpose, 1, 1, IN("b", "f32[b,s,c]"));
  AIS(t, "perm", NI(0, 2, 1));
  CU_ASSERT(check(t, 0, "f32[b,c,s]"));
  ir_node *t2 = N(IR_OP_Transpose, 1, 1, IN("c", "f32[2,3,4]"));
  AIS(t2, "perm", NI(0, 0, 1));
  CU_ASSERT(fails(t2, "perm [0,0,1] is not a permutation of 0..2"));
  end();
}

static void test_squeeze_unsqueeze(void) {
  begin(11);
  ir_node *u = N(IR_OP_Unsqueeze, 1, 1, IN("a", "f32[3,4]"));
  AIS(u, "axes", NI(0, -1));
  CU_ASSERT(check(u, 0, "f32[1,3,4,1]"));
  ir_node *s = N(IR_OP_Squeeze, 1, 1, IN("b", "f32[2,1,3,1]"));
  AIS(s, "axes", NI(1));
  CU_ASSERT(check(s, 0, "f32[2,3,1]"));
  CU_ASSERT(check(N(IR_OP_Squeeze, 1, 1, IN("c", "f32[2,1,3,1]")), 0, "f32[2,3]"));
  ir_node *s2 = N(IR_OP_Squeeze, 1, 1, IN("c2", "f32[2,3]"));
  AIS(s2, "axes", NI(1));
  CU_ASSERT(fails(s2, "has size 3, not 1"));
  end();
  begin(13);
  CU_ASSERT(check(N(IR_OP_Unsqueeze, 1, 2, IN("e", "f32[b,4]"), CI("ax", NI(1))), 0,
                  "f32[b,1,4]"));
  CU_ASSERT(check(N(IR_OP_Squeeze, 1, 2, IN("f", "f32[b,1,4]"), CI("ax2", NI(-2))), 0,
                  "f32[b,4]"));
  CU_ASSERT(check(N(IR_OP_Unsqueeze, 1, 2, IN("h", "f32[b,4]"), IN("axd", "i64[2]")), 0,
                  "f32[?,?,?,?]"));
  ir_node *s3 = N(IR_OP_Squeeze, 1, 1, IN("i", "f32[1,4]"));
  AIS(s3, "axes", NI(0));
  CU_ASSERT(fails(s3, "not allowed at opset 13"));
  end();
}

static void test_concat_split(void) {
  begin(18);
  ir_node *c = N(IR_OP_Concat, 1, 2, IN("a", "f32[b,3]"), IN("e", "f32[b,5]"));
  AI(c, "axis", -1);
  CU_ASSERT(check(c, 0, "f32[b,8]"));
  ir_node *c2 = N(IR_OP_Concat, 1, 2, IN("f", "f32[2,3]"), IN("h", "f32[4,5]"));
  AI(c2, "axis", 1);
  CU_ASSERT(fails(c2, "has size 4 on axis 0"));
  ir_node *s = N(IR_OP_Split, 3, 1, IN("i", "f32[7,2]"));
  AI(s, "num_outputs", 3);
  CU_ASSERT(check(s, 0, "f32[3,2]"));
  CU_ASSERT_STRING_EQUAL(OT(s, 2), "f32[1,2]");
  ir_node *s2 = N(IR_OP_Split, 2, 2, IN("j", "f32[2,7]"), CI("sp", NI(2, 5)));
  AI(s2, "axis", 1);
  CU_ASSERT(check(s2, 1, "f32[2,5]"));
  ir_node *s3 = N(IR_OP_Split, 2, 2, IN("k", "f32[2,7]"), CI("sp2", NI(2, 4)));
  AI(s3, "axis", 1);
  CU_ASSERT(fails(s3, "add up to 6"));
  end();
  begin(11);
  ir_node *s4 = N(IR_OP_Split, 2, 1, IN("l", "f32[6,2]"));
  CU_ASSERT(check(s4, 1, "f32[3,2]"));
  ir_node *s5 = N(IR_OP_Split, 2, 1, IN("m", "f32[6,2]"));
  AIS(s5, "split", NI(1, 5));
  CU_ASSERT(check(s5, 1, "f32[5,2]"));
  end();
}

static void test_slice(void) {
  begin(13);
  CU_ASSERT(check(N(IR_OP_Slice, 1, 4, IN("a", "f32[10,20]"), CI("st", NI(-3)),
                    CI("en", NI(INT64_MAX)), CI("ax", NI(0))),
                  0, "f32[3,20]"));
  CU_ASSERT(check(N(IR_OP_Slice, 1, 5, IN("b", "f32[10,20]"), CI("st2", NI(-1)),
                    CI("en2", NI(INT64_MIN)), CI("ax2", NI(1)), CI("sp2", NI(-1))),
                  0, "f32[10,20]"));
  CU_ASSERT(check(N(IR_OP_Slice, 1, 5, IN("c", "f32[b,10]"), CI("st3", NI(1)), CI("en3", NI(9)),
                    CI("ax3", NI(-1)), CI("sp3", NI(2))),
                  0, "f32[b,4]"));
  CU_ASSERT(check(N(IR_OP_Slice, 1, 3, IN("e", "f32[b,10]"), CI("st4", NI(0, 2)),
                    CI("en4", NI(INT64_MAX, 5))),
                  0, "f32[b,3]"));
  CU_ASSERT(fails(N(IR_OP_Slice, 1, 5, IN("f", "f32[4]"), CI("st5", NI(0)), CI("en5", NI(4)),
                    CI("ax5", NI(0)), CI("sp5", NI(0))),
                  "step cannot be 0"));
  end();
  begin(9);
  ir_node *s = N(IR_OP_Slice, 1, 1, IN("h", "f32[8,8]"));
  AIS(s, "starts", NI(2));
  AIS(s, "ends", NI(-2));
  AIS(s, "axes", NI(1));
  CU_ASSERT(check(s, 0, "f32[8,4]"));
  end();
}

static void test_gather_family(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Gather, 1, 2, IN("a", "f32[5,4]"), IN("i", "i64[2,3]")), 0,
                  "f32[2,3,4]"));
  ir_node *g1 = N(IR_OP_Gather, 1, 2, IN("b", "f32[5,4]"), CS("ci", -1));
  AI(g1, "axis", 1);
  CU_ASSERT(check(g1, 0, "f32[5]"));
  CU_ASSERT(fails(N(IR_OP_Gather, 1, 2, IN("c", "f32[5,4]"), IN("fi", "f32[2]")),
                  "indices must be int32 or int64"));
  CU_ASSERT(fails(N(IR_OP_Gather, 1, 2, IN("c2", "f32[5,4]"), CI("bad", NI(7))),
                  "index 7 is out of range"));
  CU_ASSERT(check(N(IR_OP_GatherElements, 1, 2, IN("e", "f32[5,4]"), IN("ei", "i64[5,2]")), 0,
                  "f32[5,2]"));
  ir_node *nd = N(IR_OP_GatherND, 1, 2, IN("f", "f32[2,3,4,5]"), IN("ni", "i64[2,6,2]"));
  AI(nd, "batch_dims", 1);
  CU_ASSERT(check(nd, 0, "f32[2,6,5]"));
  ir_node *sc = N(IR_OP_ScatterElements, 1, 3, IN("h", "f32[8,16]"), IN("si", "i64[8,2]"),
                  IN("su", "f32[8,2]"));
  AI(sc, "axis", 1);
  AS(sc, "reduction", "add");
  CU_ASSERT(check(sc, 0, "f32[8,16]"));
  CU_ASSERT(check(N(IR_OP_ScatterND, 1, 3, IN("j", "f32[8,16]"), IN("ti", "i64[3,1]"),
                    IN("tu", "f32[3,16]")),
                  0, "f32[8,16]"));
  end();
}

static void test_expand_tile_pad(void) {
  begin(17);
  CU_ASSERT(check(N(IR_OP_Expand, 1, 2, IN("a", "f32[3,1]"), CI("s", NI(2, 1, 4))), 0,
                  "f32[2,3,4]"));
  CU_ASSERT(check(N(IR_OP_Expand, 1, 2, IN("b", "f32[b,1]"), CI("s2", NI(1, 8))), 0, "f32[b,8]"));
  CU_ASSERT(check(N(IR_OP_Expand, 1, 2, IN("c", "f32[3,1]"), IN("ds", "i64[3]")), 0,
                  "f32[?,3,?]"));
  CU_ASSERT(fails(N(IR_OP_Expand, 1, 2, IN("c2", "f32[3]"), CI("s3", NI(4))), "cannot be broadcast"));
  CU_ASSERT(check(N(IR_OP_Tile, 1, 2, IN("e", "f32[b,3]"), CI("r", NI(1, 4))), 0, "f32[b,12]"));
  CU_ASSERT(check(N(IR_OP_Pad, 1, 2, IN("f", "f32[2,3]"), CI("p", NI(0, 1, 0, 2))), 0,
                  "f32[2,6]"));
  CU_ASSERT(fails(N(IR_OP_Expand, 1, 2, IN("h", "f32[1]"),
                    CI("huge", NI(INT64_C(1) << 30, INT64_C(1) << 30))),
                  "more than 2^40"));
  end();
  begin(2);
  ir_node *p = N(IR_OP_Pad, 1, 1, IN("i", "f32[4]"));
  AIS(p, "pads", NI(2, -1));
  CU_ASSERT(check(p, 0, "f32[5]"));
  end();
}

static void test_generators(void) {
  begin(17);
  ir_node *cs = N(IR_OP_ConstantOfShape, 1, 1, CI("sh", NI(2, 3)));
  CU_ASSERT(check(cs, 0, "f32[2,3]"));
  ir_node *cs2 = N(IR_OP_ConstantOfShape, 1, 1, IN("dsh", "i64[4]"));
  ir_attr *va = ir_attr_add(g, cs2, "value", IR_ATTR_TENSOR);
  va->t = ir_tensor_new(g->arena, IR_I64, 1, I64S(1));
  CU_ASSERT(check(cs2, 0, "i64[?,?,?,?]"));
  CU_ASSERT(check(N(IR_OP_Range, 1, 3, CS("r0", 0), CS("r1", 10), CS("r2", 3)), 0, "i64[4]"));
  CU_ASSERT(check(N(IR_OP_Range, 1, 3, IN("q0", "i64[]"), CS("q1", 10), CS("q2", 3)), 0, "i64[?]"));
  CU_ASSERT(check(N(IR_OP_Shape, 1, 1, IN("a", "f32[b,3]")), 0, "i64[2]"));
  ir_node *sh = N(IR_OP_Shape, 1, 1, IN("b", "f32[2,3,4,5]"));
  AI(sh, "start", 1);
  AI(sh, "end", -1);
  CU_ASSERT(check(sh, 0, "i64[2]"));
  CU_ASSERT(check(N(IR_OP_Size, 1, 1, IN("c", "f32[2,3]")), 0, "i64[]"));
  end();
}

static void test_routing(void) {
  begin(17);
  ir_node *tk = N(IR_OP_TopK, 2, 2, IN("p", "f32[rows,8]"), CI("k", NI(2)));
  CU_ASSERT(check(tk, 0, "f32[rows,2]"));
  CU_ASSERT_STRING_EQUAL(OT(tk, 1), "i64[rows,2]");
  CU_ASSERT(fails(N(IR_OP_TopK, 2, 2, IN("p2", "f32[rows,4]"), CI("k2", NI(5))),
                  "k=5 exceeds dim 4"));
  CU_ASSERT(check(N(IR_OP_TopK, 2, 2, IN("p3", "f32[rows,4]"), IN("kd", "i64[1]")), 1,
                  "i64[rows,?]"));
  ir_node *oh = N(IR_OP_OneHot, 1, 3, IN("ix", "i64[b,2]"), CS("depth", 8), IN("vals", "f32[2]"));
  CU_ASSERT(check(oh, 0, "f32[b,2,8]"));
  ir_node *oh2 = N(IR_OP_OneHot, 1, 3, IN("ix2", "i64[b,2]"), IN("dd", "i64[]"), IN("v2", "f32[2]"));
  AI(oh2, "axis", 1);
  CU_ASSERT(check(oh2, 0, "f32[b,?,2]"));
  CU_ASSERT(check(N(IR_OP_NonZero, 1, 1, IN("nz", "bool[3,4]")), 0, "i64[2,?]"));
  ir_node *am = N(IR_OP_ArgMax, 1, 1, IN("am", "f32[b,8]"));
  AI(am, "axis", 1);
  AI(am, "keepdims", 0);
  CU_ASSERT(check(am, 0, "i64[b]"));
  end();
  begin(9);
  ir_node *tk9 = N(IR_OP_TopK, 2, 1, IN("q", "f32[6,8]"));
  AI(tk9, "k", 3);
  CU_ASSERT(check(tk9, 1, "i64[6,3]"));
  end();
}

static void test_reduce_norm(void) {
  begin(17);
  ir_node *r1 = N(IR_OP_ReduceMean, 1, 1, IN("a", "f32[2,3,4]"));
  AIS(r1, "axes", NI(-1));
  CU_ASSERT(check(r1, 0, "f32[2,3,1]"));
  ir_node *r2 = N(IR_OP_ReduceSum, 1, 2, IN("b", "f32[b,3,4]"), CI("ax", NI(1)));
  AI(r2, "keepdims", 0);
  CU_ASSERT(check(r2, 0, "f32[b,4]"));
  ir_node *r3 = N(IR_OP_ReduceMax, 1, 1, IN("c", "f32[2,3]"));
  AI(r3, "keepdims", 0);
  CU_ASSERT(check(r3, 0, "f32[]"));
  ir_node *r4 = N(IR_OP_ReduceMean, 1, 2, IN("c4", "f32[2,3]"), CI("ax4", NI(1)));
  CU_ASSERT(fails(r4, "as an attribute before opset 18"));
  ir_node *ln = N(IR_OP_LayerNormalization, 3, 3, IN("x", "f32[b,196,768]"), IN("s", "f32[768]"),
                  IN("bb", "f32[768]"));
  CU_ASSERT(check(ln, 0, "f32[b,196,768]"));
  CU_ASSERT_STRING_EQUAL(OT(ln, 1), "f32[b,196,1]");
  CU_ASSERT_STRING_EQUAL(OT(ln, 2), "f32[b,196,1]");
  ir_node *ln2 = N(IR_OP_LayerNormalization, 1, 2, IN("x2", "f32[b,196,768]"), IN("s2", "f32[512]"));
  CU_ASSERT(fails(ln2, "does not fit"));
  CU_ASSERT(check(N(IR_OP_BatchNormalization, 1, 5, IN("bx", "f32[b,4,8,8]"), IN("b1", "f32[4]"),
                    IN("b2", "f32[4]"), IN("b3", "f32[4]"), IN("b4", "f32[4]")),
                  0, "f32[b,4,8,8]"));
  end();
  begin(18);
  ir_node *r5 = N(IR_OP_ReduceMean, 1, 2, IN("e", "f32[2,3,4]"), CI("ax5", NI(0, 2)));
  CU_ASSERT(check(r5, 0, "f32[1,3,1]"));
  end();
}

static void test_ms_moe(void) {
  begin(17);
  ir_node *m = N(IR_OP_MsMoE, 1, 6, IN("x", "f32[rows,64]"), IN("r", "f32[rows,8]"),
                 IN("w1", "f32[8,256,64]"), IN("b1", "f32[8,256]"), IN("w2", "f32[8,64,256]"),
                 IN("b2", "f32[8,64]"));
  AI(m, "k", 2);
  CU_ASSERT(check(m, 0, "f32[rows,64]"));
  ir_node *m2 = N(IR_OP_MsMoE, 1, 5, IN("x2", "f32[b,s,64]"), IN("r2", "f32[rows,4]"),
                  IN("w3", "f32[4,64,128]"), NULL, IN("w4", "f32[4,128,64]"));
  CU_ASSERT(check(m2, 0, "f32[b,s,64]"));
  ir_node *m3 = N(IR_OP_MsMoE, 1, 5, IN("x3", "f32[10,64]"), IN("r3", "f32[10,4]"),
                  IN("w5", "f32[4,64,128]"), NULL, IN("w6", "f32[4,100,64]"));
  CU_ASSERT(fails(m3, "inner size"));
  ir_node *m4 = N(IR_OP_MsMoE, 1, 5, IN("x4", "f32[10,64]"), IN("r4", "f32[10,4]"),
                  IN("w7", "f32[8,64,128]"), NULL, IN("w8", "f32[8,128,64]"));
  CU_ASSERT(fails(m4, "has 8 experts but router_probs has 4"));
  ir_node *m5 = N(IR_OP_MsMoE, 1, 5, IN("x5", "f32[10,64]"), IN("r5", "f32[12,4]"),
                  IN("w9", "f32[4,64,128]"), NULL, IN("wa", "f32[4,128,64]"));
  CU_ASSERT(fails(m5, "router_probs has 12 rows"));
  end();
}

/* ---- output types already present, whole-graph behaviour --------------------------- */
static void test_existing_types(void) {
  begin(17);
  ir_node *a = N(IR_OP_Add, 1, 2, IN("a", "f32[2,4]"), IN("b", "f32[4]"));
  a->out[0]->type = T("f32[2,3]");
  CU_ASSERT(fails(a, "output 0 type f32[2,3] from the model conflicts with inferred f32[2,4]"));
  ir_node *r = N(IR_OP_Reshape, 1, 2, IN("c", "f32[6]"), IN("dyn", "i64[2]"));
  r->out[0]->type = T("f32[2,n]");
  CU_ASSERT(check(r, 0, "f32[2,n]")); /* the model's dims are kept when more specific */
  ir_node *e = N(IR_OP_Relu, 1, 1, IN("e", "f32[batch,3]"));
  e->out[0]->type = T("f32[?,3]");
  CU_ASSERT(check(e, 0, "f32[batch,3]"));
  end();
}

static void test_graph_keeps_going(void) {
  begin(17);
  ir_node *bad1 = N(IR_OP_Add, 1, 2, IN("a", "f32[2]"), IN("b", "f32[3]"));
  N(IR_OP_Relu, 1, 1, bad1->out[0]); /* depends on a failure: no second report */
  N(IR_OP_MatMul, 1, 2, IN("c", "f32[2,3]"), IN("e", "f32[4,5]"));
  ir_node *good = N(IR_OP_Neg, 1, 1, IN("f", "f32[7]"));
  CU_ASSERT_FALSE(ir_infer_graph(&cx));
  CU_ASSERT_EQUAL(d->nerrors, 2);
  CU_ASSERT(has_diag("cannot be broadcast"));
  CU_ASSERT(has_diag("inner dimensions differ: 3 vs 4"));
  CU_ASSERT_STRING_EQUAL(OT(good, 0), "f32[7]");
  end();
}

static void test_helpers(void) {
  CU_ASSERT_EQUAL(ir_norm_axis(-1, 3), 2);
  CU_ASSERT_EQUAL(ir_norm_axis(3, 3), -1);
  CU_ASSERT_EQUAL(ir_norm_axis(-4, 3), -1);
  begin(17);
  int64_t v[4];
  int n = 0;
  CU_ASSERT(ir_const_ints(CI("x", NI(3, -1)), v, 4, &n));
  CU_ASSERT(n == 2 && v[0] == 3 && v[1] == -1);
  CU_ASSERT_FALSE(ir_const_ints(CI("y", NI(1, 2, 3, 4, 5)), v, 4, &n));
  CU_ASSERT_FALSE(ir_const_ints(IN("z", "i64[2]"), v, 4, &n));
  end();
}

/* ---- verifier ------------------------------------------------------------------------ */
/* A small valid graph: x -> Relu -> Add(., c) -> out */
static ir_node *small_graph(ir_value **x_out) {
  ir_value *x = IN("x", "f32[2,3]");
  ir_node *r = N(IR_OP_Relu, 1, 1, x);
  ir_node *a = N(IR_OP_Add, 1, 2, r->out[0], CF("c", 1));
  ir_graph_add_output(g, a->out[0]);
  CU_ASSERT(ir_infer_graph(&cx));
  if (x_out) *x_out = x;
  return a;
}

static int verify_fails(const char *sub) {
  bool ok = ir_verify(&cx);
  bool found = has_diag(sub);
  if (ok || !found) {
    fprintf(stderr, "\n  verifier: expected an error mentioning '%s' (ok=%d)\n", sub, ok);
    ir_diags_print(d, stderr);
  }
  return !ok && found;
}

static void test_verify_ok(void) {
  begin(17);
  ir_node *a = small_graph(NULL);
  CU_ASSERT(ir_verify(&cx));
  CU_ASSERT_EQUAL(d->nerrors, 0);
  CU_ASSERT_STRING_EQUAL(OT(a, 0), "f32[2,3]");
  end();
}

static void test_verify_defs(void) {
  begin(17);
  ir_value *x;
  ir_node *a = small_graph(&x);
  ir_graph_add_input(g, a->out[0]); /* also a graph input */
  CU_ASSERT(verify_fails("defined more than once"));
  end();

  begin(17);
  ir_value *y = IN("y", "f32[3]");
  ir_node *n1 = N(IR_OP_Relu, 1, 1, y);
  ir_node *n2 = N(IR_OP_Neg, 1, 1, y);
  n1->in[0] = n2->out[0]; /* n1 (first) uses n2's output */
  n1->out[0]->type = T("f32[3]");
  n2->out[0]->type = T("f32[3]");
  CU_ASSERT(verify_fails("used before it is defined"));
  CU_ASSERT_FALSE(has_diag("cycle"));
  end();

  begin(17);
  ir_value *z = IN("z", "f32[3]");
  ir_node *c1 = N(IR_OP_Relu, 1, 1, z);
  ir_node *c2 = N(IR_OP_Neg, 1, 1, c1->out[0]);
  c1->in[0] = c2->out[0];
  CU_ASSERT(verify_fails("cycle"));
  CU_ASSERT(has_diag(c1->name) && has_diag(c2->name));
  end();

  begin(17);
  ir_value *u = ir_value_new(g, "ghost", T("f32[2]"));
  ir_node *gn = N(IR_OP_Relu, 1, 1, u);
  ir_graph_add_output(g, gn->out[0]);
  CU_ASSERT(verify_fails("ghost is used but never defined"));
  end();

  begin(17);
  small_graph(NULL);
  ir_value *dup = ir_value_new(g, "tmp", T("f32[1]"));
  dup->name = "x"; /* force a clash past ir_value_new's renaming */
  CU_ASSERT(verify_fails("two values are named x"));
  end();
}

static void test_verify_arity_attrs(void) {
  begin(17);
  ir_node *a = small_graph(NULL);
  ir_node *bad = ir_node_new(g, IR_OP_Add, "add3", 3, 1);
  bad->in[0] = bad->in[1] = bad->in[2] = a->out[0];
  bad->out[0] = ir_value_new(g, "o3", T("f32[2,3]"));
  bad->out[0]->def = bad;
  ir_node_append(g, bad);
  CU_ASSERT(verify_fails("Add takes 2 inputs, got 3"));
  end();

  begin(17);
  ir_node *a2 = small_graph(NULL);
  AI(a2, "foo", 1);
  CU_ASSERT(verify_fails("unknown attribute 'foo'"));
  end();

  begin(17);
  ir_node *c = N(IR_OP_Concat, 1, 2, IN("p", "f32[2]"), IN("q", "f32[3]"));
  AF(c, "axis", 0);
  CU_ASSERT(verify_fails("attribute 'axis' should be int, not float"));
  end();

  begin(17);
  ir_node *c2 = N(IR_OP_Concat, 1, 2, IN("p", "f32[2]"), IN("q", "f32[3]"));
  (void)c2;
  CU_ASSERT(verify_fails("missing required attribute 'axis'"));
  end();
}

static void test_verify_types_consts(void) {
  begin(17);
  ir_node *a = small_graph(NULL);
  a->out[0]->type = T("f32[2,4]");
  CU_ASSERT(verify_fails("is f32[2,4] but Add infers f32[2,3]"));
  CU_ASSERT_STRING_EQUAL(OT(a, 0), "f32[2,4]"); /* the verifier does not mutate */
  end();

  begin(17);
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, 2, I64S(2, 4));
  ir_value *w = ir_const_new(g, "w", t);
  ir_node *m = N(IR_OP_MatMul, 1, 2, IN("x", "f32[3,2]"), w);
  ir_graph_add_output(g, m->out[0]);
  CU_ASSERT(ir_infer_graph(&cx));
  t->nbytes = 20;
  CU_ASSERT(verify_fails("has 20 bytes but f32[2,4] needs 32"));
  end();

  begin(17);
  ir_node *r = N(IR_OP_Relu, 1, 1, IN("x", "f32[2]"));
  r->out[0]->type = T("i64[2]");
  CU_ASSERT(verify_fails("is i64[2] but Relu infers f32[2]"));
  end();
}

void infer_suite_register(void) {
  CU_pSuite s = CU_add_suite("infer", NULL, NULL);
  CU_add_test(s, "broadcast", test_broadcast);
  CU_add_test(s, "unary_misc", test_unary_misc);
  CU_add_test(s, "matmul_gemm", test_matmul_gemm);
  CU_add_test(s, "mixc_matmul", test_mixc_matmul);
  CU_add_test(s, "einsum", test_einsum);
  CU_add_test(s, "conv_pool", test_conv_pool);
  CU_add_test(s, "reshape", test_reshape);
  CU_add_test(s, "transpose", test_transpose);
  CU_add_test(s, "squeeze_unsqueeze", test_squeeze_unsqueeze);
  CU_add_test(s, "concat_split", test_concat_split);
  CU_add_test(s, "slice", test_slice);
  CU_add_test(s, "gather_family", test_gather_family);
  CU_add_test(s, "expand_tile_pad", test_expand_tile_pad);
  CU_add_test(s, "generators", test_generators);
  CU_add_test(s, "routing", test_routing);
  CU_add_test(s, "reduce_norm", test_reduce_norm);
  CU_add_test(s, "ms_moe", test_ms_moe);
  CU_add_test(s, "existing_types", test_existing_types);
  CU_add_test(s, "graph_keeps_going", test_graph_keeps_going);
  CU_add_test(s, "helpers", test_helpers);
  CU_pSuite v = CU_add_suite("verify", NULL, NULL);
  CU_add_test(v, "ok", test_verify_ok);
  CU_add_test(v, "defs", test_verify_defs);
  CU_add_test(v, "arity_attrs", test_verify_arity_attrs);
  CU_add_test(v, "types_consts", test_verify_types_consts);
}
