/* test_mir.c - unit tests of the .mir text format (ir/print.c, ir/parse.c) and
 * the DOT writer (ir/dot.c): a hand-built graph with every attribute kind,
 * inline and blob constants, symbolic and unknown dims, omitted inputs and
 * outputs and quoted names must print, parse back to the same structure and
 * print again byte for byte; malformed texts must fail with a located message;
 * truncated and mutated texts must never crash the parser.
 *
 * Requires: ir.h and CUnit; registered by mir_suite_register() from main.c. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* ---- building the reference graph --------------------------------------------- */
static ir_type ty(ir_graph *g, ir_dtype dt, int rank, const char *spec[]) {
  ir_type t = {dt, rank, NULL};
  if (rank > 0) {
    t.dims = ir_alloc(g->arena, sizeof(ir_dim) * (size_t)rank);
    for (int i = 0; i < rank; i++) {
      const char *s = spec[i];
      if (!strcmp(s, "?")) t.dims[i] = (ir_dim){-1, NULL};
      else if (s[0] >= '0' && s[0] <= '9') t.dims[i] = (ir_dim){atoll(s), NULL};
      else t.dims[i] = (ir_dim){-1, s};
    }
  }
  return t;
}

static ir_value *node1(ir_graph *g, ir_op op, const char *name, int index, ir_value *a, ir_value *b,
                       const char *out, ir_type t) {
  ir_node *n = ir_node_new(g, op, name, b ? 2 : 1, 1);
  n->index = index;
  n->in[0] = a;
  if (b) n->in[1] = b;
  n->out[0] = ir_value_new(g, out, t);
  n->out[0]->def = n;
  ir_node_append(g, n);
  return n->out[0];
}

static ir_tensor *f32_tensor(ir_graph *g, int rank, const int64_t *dims, const float *v) {
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, rank, dims);
  if (v) memcpy(t->data, v, t->nbytes);
  else
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = (float)i * 0.25f - 3.0f;
  return t;
}

static ir_graph *build_graph(void) {
  ir_graph *g = ir_graph_new();
  g->name = "torch_jit";
  g->producer = "pytorch 1.13.1";
  g->ir_version = 8;
  g->nopsets = 2;
  g->opsets = ir_alloc(g->arena, 2 * sizeof(ir_opset));
  g->opsets[0] = (ir_opset){"", 17};
  g->opsets[1] = (ir_opset){"com.microsoft", 1};

  const char *d_in[] = {"batch", "3", "32", "32"};
  ir_value *x = ir_value_new(g, "input", ty(g, IR_F32, 4, d_in));
  ir_graph_add_input(g, x);
  const char *d_w[] = {"n-1", "?", "seq len"};
  ir_value *w = ir_value_new(g, "weird name\n\"q\"", ty(g, IR_F32, 3, d_w));
  ir_graph_add_input(g, w);
  ir_value *u = ir_value_new(g, "_", (ir_type){IR_UNDEF, -1, NULL});
  ir_graph_add_input(g, u);
  ir_value *sc = ir_value_new(g, "scalar", (ir_type){IR_F32, 0, NULL});
  ir_graph_add_input(g, sc);

  /* constants: blob, inline of each printable dtype, strings, f16, NaN payload */
  int64_t d16x64[] = {16, 64}, d1[] = {1}, d3[] = {3}, d2[] = {2}, d0[] = {0}, d4[] = {4};
  ir_const_new(g, "onnx::MatMul_301", f32_tensor(g, 2, d16x64, NULL));
  ir_value *k = ir_const_new(g, "k", ir_tensor_vec_i64(g->arena, 1, (int64_t[]){2}));
  float tenth = 0.1f;
  ir_value *cmax = ir_const_new(g, "max", f32_tensor(g, 0, NULL, &tenth));
  ir_tensor *b = ir_tensor_new(g->arena, IR_BOOL, 1, d3);
  ((uint8_t *)b->data)[1] = 1;
  ir_const_new(g, "mask", b);
  ir_tensor *s = ir_tensor_new(g->arena, IR_STRING, 1, d2);
  ((const char **)s->data)[0] = "a\tb";
  ((const char **)s->data)[1] = "\xc3\xa9t\xc3\xa9 \x01";
  ir_const_new(g, "labels", s);
  ir_tensor *h = ir_tensor_new(g->arena, IR_F16, 1, d2);
  ((uint16_t *)h->data)[0] = 0x3c00;
  ir_const_new(g, "half", h);
  ir_tensor *f64 = ir_tensor_new(g->arena, IR_F64, 1, d4);
  double dv[] = {1e300, -0.0, NAN, 1.0 / 3};
  memcpy(f64->data, dv, sizeof dv);
  ir_const_new(g, "doubles", f64);
  ir_tensor *u64 = ir_tensor_new(g->arena, IR_U64, 1, d2);
  ((uint64_t *)u64->data)[0] = UINT64_MAX;
  ir_const_new(g, "big", u64);
  ir_tensor *i8 = ir_tensor_new(g->arena, IR_I8, 1, d2);
  ((int8_t *)i8->data)[0] = -128;
  ((int8_t *)i8->data)[1] = 127;
  ir_const_new(g, "bytes", i8);
  ir_const_new(g, "empty", ir_tensor_new(g->arena, IR_F32, 1, d0));
  ir_tensor *pay = ir_tensor_new(g->arena, IR_F32, 1, d1);
  ((uint32_t *)pay->data)[0] = 0x7fc01234u; /* NaN with a payload: must go to a blob */
  ir_const_new(g, "payload", pay);
  ir_tensor *sb = ir_tensor_new(g->arena, IR_BOOL, 1, d1);
  ((uint8_t *)sb->data)[0] = 7; /* a non-canonical bool: blob */
  ir_const_new(g, "oddbool", sb);

  /* Conv with int lists, named, indexed */
  const char *d_c[] = {"batch", "16", "8", "8"};
  ir_node *conv = ir_node_new(g, IR_OP_Conv, "/patch/Conv", 2, 1);
  conv->index = 0;
  conv->in[0] = x;
  const char *d_cw[] = {"16", "3", "4", "4"};
  conv->in[1] = ir_value_new(g, "wconv", ty(g, IR_F32, 4, d_cw)); /* made an input below */
  ir_graph_add_input(g, conv->in[1]);
  conv->out[0] = ir_value_new(g, "/patch/Conv_output_0", ty(g, IR_F32, 4, d_c));
  conv->out[0]->def = conv;
  ir_attr *a = ir_attr_add(g, conv, "kernel_shape", IR_ATTR_INTS);
  a->n = 2;
  a->ints = ir_alloc(g->arena, 2 * sizeof(int64_t));
  a->ints[0] = a->ints[1] = 4;
  a = ir_attr_add(g, conv, "strides", IR_ATTR_INTS);
  a->n = 2;
  a->ints = conv->attrs[0].ints;
  ir_node_append(g, conv);

  /* TopK: two outputs with different types */
  ir_node *tk = ir_node_new(g, IR_OP_TopK, "", 2, 2);
  tk->index = 5;
  tk->in[0] = conv->out[0];
  tk->in[1] = k;
  const char *d_tk[] = {"batch", "16", "8", "2"};
  tk->out[0] = ir_value_new(g, "v", ty(g, IR_F32, 4, d_tk));
  tk->out[1] = ir_value_new(g, "i", ty(g, IR_I64, 4, d_tk));
  tk->out[0]->def = tk->out[1]->def = tk;
  tk->out[1]->def_index = 1;
  ir_attr_add(g, tk, "axis", IR_ATTR_INT)->i = -1;
  ir_node_append(g, tk);

  /* Clip with an omitted optional input */
  ir_node *clip = ir_node_new(g, IR_OP_Clip, "clip // not a comment", 3, 1);
  clip->in[0] = tk->out[0];
  clip->in[2] = cmax;
  clip->out[0] = ir_value_new(g, "clipped", tk->out[0]->type);
  clip->out[0]->def = clip;
  ir_node_append(g, clip);

  /* Dropout with an omitted output and a node opset that differs from the graph's */
  ir_node *dr = ir_node_new(g, IR_OP_Dropout, "drop", 1, 2);
  dr->opset = 11;
  dr->index = 7;
  dr->in[0] = clip->out[0];
  dr->out[0] = ir_value_new(g, "dropped", tk->out[0]->type);
  dr->out[0]->def = dr;
  ir_node_append(g, dr);

  /* Every attribute kind, on a node the verifier would reject (the parser must not) */
  ir_node *all = ir_node_new(g, IR_OP_Identity, "all\x7f", 1, 1);
  all->in[0] = dr->out[0];
  all->out[0] = ir_value_new(g, "all_out", tk->out[0]->type);
  all->out[0]->def = all;
  ir_attr_add(g, all, "i", IR_ATTR_INT)->i = INT64_MIN;
  ir_attr_add(g, all, "f", IR_ATTR_FLOAT)->f = 1e-5f;
  ir_attr_add(g, all, "f_int", IR_ATTR_FLOAT)->f = 100.0f;
  ir_attr_add(g, all, "f_inf", IR_ATTR_FLOAT)->f = -INFINITY;
  a = ir_attr_add(g, all, "s", IR_ATTR_STRING);
  a->s = "nul\0inside";
  a->slen = 10;
  a = ir_attr_add(g, all, "fs", IR_ATTR_FLOATS);
  a->n = 3;
  a->floats = ir_alloc(g->arena, 3 * sizeof(float));
  a->floats[0] = 1.0f, a->floats[1] = 2.5f, a->floats[2] = 3e38f;
  a = ir_attr_add(g, all, "ss", IR_ATTR_STRINGS);
  a->n = 2;
  a->strings = ir_alloc(g->arena, 2 * sizeof(char *));
  a->strings[0] = "x", a->strings[1] = "";
  ir_attr_add(g, all, "ei", IR_ATTR_INTS);
  ir_attr_add(g, all, "ef", IR_ATTR_FLOATS);
  ir_attr_add(g, all, "es", IR_ATTR_STRINGS);
  ir_attr_add(g, all, "et", IR_ATTR_TENSORS);
  ir_attr_add(g, all, "t_small", IR_ATTR_TENSOR)->t = f32_tensor(g, 1, d4, NULL);
  ir_attr_add(g, all, "t_big", IR_ATTR_TENSOR)->t = f32_tensor(g, 2, d16x64, NULL);
  a = ir_attr_add(g, all, "ts", IR_ATTR_TENSORS);
  a->n = 2;
  a->tensors = ir_alloc(g->arena, 2 * sizeof(ir_tensor *));
  a->tensors[0] = ir_tensor_scalar_i64(g->arena, 42);
  a->tensors[1] = f32_tensor(g, 1, (int64_t[]){20}, NULL);
  ir_attr_add(g, all, "g", IR_ATTR_GRAPH);
  ir_attr_add(g, all, "gs", IR_ATTR_GRAPHS);
  ir_attr_add(g, all, "quoted name", IR_ATTR_INT)->i = 1;
  ir_node_append(g, all);

  /* a com.microsoft op, a second use of the blob weight, a scalar input */
  ir_value *mm = node1(g, IR_OP_MatMul, "", -1, w, g->inits[0], "mm", ty(g, IR_F32, 0, NULL));
  node1(g, IR_OP_Add, "", -1, mm, sc, "added", (ir_type){IR_F32, -1, NULL});
  ir_node *moe = ir_node_new(g, IR_OP_MsMoE, "moe", 3, 1);
  moe->in[0] = mm;
  moe->in[1] = g->inits[0];
  moe->out[0] = ir_value_new(g, "moe_out", (ir_type){IR_UNDEF, -1, NULL});
  moe->out[0]->def = moe;
  ir_attr_add(g, moe, "k", IR_ATTR_INT)->i = 2;
  ir_node_append(g, moe);

  ir_graph_add_output(g, all->out[0]);
  ir_graph_add_output(g, tk->out[1]);
  ir_graph_add_output(g, moe->out[0]);
  ir_graph_add_output(g, x);
  return g;
}

/* ---- structural comparison ------------------------------------------------------ */
static bool name_eq(const ir_value *a, const ir_value *b) {
  if (!a || !b) return a == b;
  return !strcmp(a->name, b->name);
}

static bool type_eq(const ir_type *a, const ir_type *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++) {
    ir_dim x = a->dims[i], y = b->dims[i];
    if ((x.sym == NULL) != (y.sym == NULL)) return false;
    if (x.sym ? strcmp(x.sym, y.sym) != 0 : x.v != y.v) return false;
  }
  return true;
}

static bool tensor_eq(const ir_tensor *a, const ir_tensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank || a->numel != b->numel || a->nbytes != b->nbytes)
    return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  if (a->dtype == IR_STRING) {
    for (int64_t i = 0; i < a->numel; i++)
      if (strcmp(((const char **)a->data)[i], ((const char **)b->data)[i])) return false;
    return true;
  }
  return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
}

static bool attr_eq(const ir_attr *a, const ir_attr *b) {
  if (strcmp(a->name, b->name) || a->kind != b->kind) return false;
  switch (a->kind) {
  case IR_ATTR_INT: return a->i == b->i;
  case IR_ATTR_FLOAT: return !memcmp(&a->f, &b->f, sizeof a->f);
  case IR_ATTR_STRING: return a->slen == b->slen && !memcmp(a->s, b->s, a->slen);
  case IR_ATTR_TENSOR: return tensor_eq(a->t, b->t);
  case IR_ATTR_INTS:
    return a->n == b->n && (!a->n || !memcmp(a->ints, b->ints, sizeof(int64_t) * (size_t)a->n));
  case IR_ATTR_FLOATS:
    return a->n == b->n && (!a->n || !memcmp(a->floats, b->floats, sizeof(float) * (size_t)a->n));
  case IR_ATTR_STRINGS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (strcmp(a->strings[i], b->strings[i])) return false;
    return true;
  case IR_ATTR_TENSORS:
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
      if (!tensor_eq(a->tensors[i], b->tensors[i])) return false;
    return true;
  default: return true;
  }
}

static bool graph_eq(const ir_graph *a, const ir_graph *b) {
  if (strcmp(a->name, b->name) || strcmp(a->producer, b->producer) ||
      a->ir_version != b->ir_version || a->nopsets != b->nopsets || a->ninputs != b->ninputs ||
      a->noutputs != b->noutputs || a->ninits != b->ninits || a->nnodes != b->nnodes)
    return false;
  for (int i = 0; i < a->nopsets; i++)
    if (strcmp(a->opsets[i].domain, b->opsets[i].domain) || a->opsets[i].version != b->opsets[i].version)
      return false;
  for (int i = 0; i < a->ninputs; i++)
    if (!name_eq(a->inputs[i], b->inputs[i]) || !type_eq(&a->inputs[i]->type, &b->inputs[i]->type) ||
        !b->inputs[i]->is_input)
      return false;
  for (int i = 0; i < a->noutputs; i++)
    if (!name_eq(a->outputs[i], b->outputs[i])) return false;
  for (int i = 0; i < a->ninits; i++)
    if (!name_eq(a->inits[i], b->inits[i]) || !tensor_eq(a->inits[i]->konst, b->inits[i]->konst) ||
        !type_eq(&a->inits[i]->type, &b->inits[i]->type))
      return false;
  for (int i = 0; i < a->nnodes; i++) {
    const ir_node *x = a->nodes[i], *y = b->nodes[i];
    if (x->op != y->op || strcmp(x->name, y->name) || x->index != y->index || x->opset != y->opset ||
        x->nin != y->nin || x->nout != y->nout || x->nattr != y->nattr)
      return false;
    for (int j = 0; j < x->nin; j++)
      if (!name_eq(x->in[j], y->in[j])) return false;
    for (int j = 0; j < x->nout; j++) {
      if (!name_eq(x->out[j], y->out[j])) return false;
      if (x->out[j] && (!type_eq(&x->out[j]->type, &y->out[j]->type) || y->out[j]->def != y ||
                        y->out[j]->def_index != j))
        return false;
    }
    for (int j = 0; j < x->nattr; j++)
      if (!attr_eq(&x->attrs[j], &y->attrs[j])) return false;
  }
  return true;
}

/* ---- helpers -------------------------------------------------------------------- */
static ir_graph *parse_str(const char *s, ir_diags *d) {
  return ir_parse(s, strlen(s), "t.mir", d);
}

/* Parses s, expecting failure with a message containing `want`. */
static void expect_error(const char *s, const char *want) {
  ir_diags *d = ir_diags_new();
  ir_graph *g = parse_str(s, d);
  CU_ASSERT_PTR_NULL(g);
  CU_ASSERT(d->nerrors >= 1);
  const char *msg = d->head ? d->head->msg : "";
  if (!strstr(msg, want)) {
    fprintf(stderr, "\n  expected an error mentioning \"%s\", got \"%s\"\n  for: %s\n", want, msg, s);
    CU_FAIL("diagnostic does not mention the problem");
  }
  CU_ASSERT(!strncmp(msg, "t.mir:", 6));
  ir_graph_free(g);
  ir_diags_free(d);
}

/* ---- tests ------------------------------------------------------------------------ */
static void test_roundtrip(void) {
  ir_graph *g = build_graph();
  size_t n1, n2;
  char *t1 = ir_print_to_string(g, &n1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
  CU_ASSERT_EQUAL(strlen(t1), n1);
  ir_diags *d = ir_diags_new();
  ir_graph *h = ir_parse(t1, n1, "rt.mir", d);
  if (!h) ir_diags_print(d, stderr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  CU_ASSERT(graph_eq(g, h));
  char *t2 = ir_print_to_string(h, &n2);
  CU_ASSERT_EQUAL(n1, n2);
  CU_ASSERT_STRING_EQUAL(t1, t2);
  /* a few spellings users rely on */
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "graph \"torch_jit\" {\n  ir_version 8\n  producer \"pytorch 1.13.1\"\n"
                                    "  opset \"\" 17\n  opset \"com.microsoft\" 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  input %input : f32[batch,3,32,32]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  input %\"weird name\\n\\\"q\\\"\" : f32[\"n-1\",?,\"seq len\"]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  input %\"_\" : ?[*]\n  input %scalar : f32[]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %onnx::MatMul_301 : f32[16,64] = blob 0\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %k : i64[1] = [2]\n  const %max : f32[] = [0.1]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %mask : bool[3] = [false, true, false]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %labels : string[2] = [\"a\\tb\", \"\xc3\xa9t\xc3\xa9 \\x01\"]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %half : f16[2] = blob 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %doubles : f64[4] = [1e+300, -0.0, nan, 0.3333333333333333]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %big : u64[2] = [18446744073709551615, 0]\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %bytes : i8[2] = [-128, 127]\n  const %empty : f32[0] = []\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  const %payload : f32[1] = blob 2\n  const %oddbool : bool[1] = blob 3\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %/patch/Conv_output_0 : f32[batch,16,8,8] = Conv(%input, %wconv) "
                                    "{kernel_shape = [4, 4], strides = [4, 4]} @/patch/Conv #0\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %v : f32[batch,16,8,2], %i : i64[batch,16,8,2] = "
                                    "TopK(%/patch/Conv_output_0, %k) {axis = -1} #5\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "= Clip(%v, _, %max) @\"clip // not a comment\"\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %dropped : f32[batch,16,8,2], _ = Dropout(%clipped) @drop #7 opset 11\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "{i = -9223372036854775808, f = 1e-05, f_int = 100.0, f_inf = -inf, "
                                    "s = \"nul\\x00inside\", fs = [1.0, 2.5, 3e+38], ss = [\"x\", \"\"], "
                                    "ei = []:i, ef = []:f, es = []:s, et = []:t, "
                                    "t_small = tensor f32[4] = [-3.0, -2.75, -2.5, -2.25], "
                                    "t_big = tensor f32[16,64] = blob 4, "
                                    "ts = [tensor i64[] = [42], tensor f32[20] = blob 5], "
                                    "g = <graph>, gs = <graphs>, \"quoted name\" = 1} @\"all\\x7f\"\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %mm : f32[] = MatMul(%\"weird name\\n\\\"q\\\"\", %onnx::MatMul_301)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %added : f32[*] = Add(%mm, %scalar)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  %moe_out : ?[*] = com.microsoft.MoE(%mm, %onnx::MatMul_301, _) {k = 2} @moe\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "  output %all_out\n  output %i\n  output %moe_out\n  output %input\n}\n"
                                    "blob 0 = hex \"000040c0"));
  CU_ASSERT_PTR_NOT_NULL(strstr(t1, "\nblob 1 = hex \"003c0000\"\nblob 2 = hex \"3412c07f\"\n"
                                    "blob 3 = hex \"07\"\nblob 4 = hex \""));
  /* IR_PRINT_ELIDE: readable, not parseable */
  FILE *f = tmpfile();
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  ir_print_ex(g, f, IR_PRINT_ELIDE);
  long len = ftell(f);
  char *t3 = calloc(1, (size_t)len + 1);
  rewind(f);
  CU_ASSERT_EQUAL(fread(t3, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(t3, "blob 0 = <elided 4096 bytes>\nblob 1 = <elided 4 bytes>\n"));
  CU_ASSERT_EQUAL(strncmp(t1, t3, (size_t)(strstr(t1, "}\nblob") - t1)), 0);
  expect_error(t3, "elided");
  /* ir_print to a FILE writes the same bytes as ir_print_to_string */
  f = tmpfile();
  ir_print(g, f);
  CU_ASSERT_EQUAL(ftell(f), (long)n1);
  fclose(f);
  free(t1);
  free(t2);
  free(t3);
  ir_graph_free(h);
  ir_graph_free(g);
  ir_diags_free(d);
}

static void test_type_str(void) {
  ir_graph *g = ir_graph_new();
  const char *d1[] = {"batch", "3", "?"};
  ir_dim d2[] = {{-1, "2x"}};
  CU_ASSERT_STRING_EQUAL(ir_type_str(g->arena, &(ir_type){IR_F32, 3, ty(g, IR_F32, 3, d1).dims}),
                         "f32[batch,3,?]");
  CU_ASSERT_STRING_EQUAL(ir_type_str(g->arena, &(ir_type){IR_I64, 0, NULL}), "i64[]");
  CU_ASSERT_STRING_EQUAL(ir_type_str(g->arena, &(ir_type){IR_UNDEF, -1, NULL}), "?[*]");
  CU_ASSERT_STRING_EQUAL(ir_type_str(g->arena, &(ir_type){IR_BOOL, 1, d2}),
                         "bool[\"2x\"]");
  ir_graph_free(g);
}

/* Hand-written text: comments, blank lines, free spacing within a line, and
 * integers for floats are accepted; the reprint is canonical. */
static void test_lenient_input(void) {
  const char *src =
      "// a comment\n\n"
      "graph \"g\" {   // trailing comment\n"
      "  opset \"\" 17\n"
      "\n"
      "input %x : f32[2]\n"
      "    const %c :f32[2]=[1, 2.5]   // ints are fine in a float constant\n"
      "  %y : f32[2] = Add( %x ,%c )\n"
      "  %z : f32[2] = Relu(%y) {  }\n"
      "  output %z\n"
      "}\n"
      "// the end\n";
  ir_diags *d = ir_diags_new();
  ir_graph *g = parse_str(src, d);
  if (!g) ir_diags_print(d, stderr);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  char *t = ir_print_to_string(g, NULL);
  CU_ASSERT_STRING_EQUAL(t, "// mixc IR\ngraph \"g\" {\n  opset \"\" 17\n  input %x : f32[2]\n"
                            "  const %c : f32[2] = [1.0, 2.5]\n  %y : f32[2] = Add(%x, %c)\n"
                            "  %z : f32[2] = Relu(%y)\n  output %z\n}\n");
  CU_ASSERT_EQUAL(g->nodes[0]->opset, 17);
  CU_ASSERT_PTR_EQUAL(ir_value_find(g, "y")->def, g->nodes[0]);
  free(t);
  ir_graph_free(g);
  ir_diags_free(d);
}

static void test_float_spelling(void) {
  ir_graph *g = ir_graph_new();
  float v[] = {0.1f, 1.0f, 100.0f, 1e7f, 1.5e-7f, 3.4028235e38f, 1e-45f, -0.0f, 123456.789f, 0.3f};
  int64_t d = 10;
  ir_tensor *t = ir_tensor_new(g->arena, IR_F32, 1, &d);
  memcpy(t->data, v, sizeof v);
  ir_const_new(g, "c", t);
  char *s = ir_print_to_string(g, NULL);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "= [0.1, 1.0, 100.0, 1e+07, 1.5e-07, 3.4028235e+38, 1e-45, -0.0, "
                                   "123456.79, 0.3]\n"));
  ir_diags *dg = ir_diags_new();
  ir_graph *h = parse_str(s, dg);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  CU_ASSERT(!memcmp(h->inits[0]->konst->data, v, sizeof v));
  free(s);
  ir_graph_free(h);
  ir_graph_free(g);
  ir_diags_free(dg);
}

#define HDR "graph \"g\" {\n  input %x : f32[2]\n"
static void test_errors(void) {
  expect_error("", "t.mir:1:1: expected 'graph");
  expect_error("graph \"g\" {\n", "missing '}'");
  expect_error(HDR "  %y : f32[2] = Frobnicate(%x)\n}\n", "t.mir:3:17: unknown op 'Frobnicate'");
  expect_error(HDR "  %y : f32[2] = Relu(%nope)\n}\n", "t.mir:3:22: use of undefined value %nope");
  expect_error(HDR "  %y : f32[2] = Relu(%y)\n}\n", "use of undefined value %y");
  expect_error(HDR "  %x : f32[2] = Relu(%x)\n}\n", "value %x is already defined at line 2");
  expect_error(HDR "  %y : f32[2] = Add(%x)\n}\n", "Add takes 2 inputs, but 1 is given");
  expect_error(HDR "  %y : f32[2], %z : f32[2] = Relu(%x)\n}\n", "Relu has 1 output, but 2 are given");
  expect_error(HDR "  const %c : f32[2] = [1.0, 2.0, 3.0]\n}\n", "too many elements");
  expect_error(HDR "  const %c : f32[3] = [1.0, 2.0]\n}\n", "2 elements given, but the type holds 3");
  expect_error(HDR "  const %c : i8[1] = [300]\n}\n", "300 is out of range for i8");
  expect_error(HDR "  const %c : i64[1] = [1.5]\n}\n", "expected an integer");
  expect_error(HDR "  const %c : i64[1] = [12abc]\n}\n", "malformed number");
  expect_error(HDR "  const %c : i64[1] = [99999999999999999999]\n}\n", "out of range for i64");
  expect_error(HDR "  const %c : f32[2] = blob 0\n}\nblob 0 = hex \"0000803f\"\n",
               "blob 0 has 4 bytes, but its f32 tensor of 2 elements (used at line 3) needs 8");
  expect_error(HDR "  const %c : f32[1] = blob 3\n}\n", "t.mir:3:28: blob 3 is used but never defined");
  expect_error(HDR "}\nblob 0 = hex \"00\"\n", "blob 0 is defined but never used");
  expect_error(HDR "  const %c : u8[1] = blob 0\n}\nblob 0 = hex \"00\"\nblob 0 = hex \"00\"\n",
               "blob 0 is defined twice");
  expect_error(HDR "  const %c : u8[1] = blob 0\n}\nblob 0 = hex \"0g\"\n", "invalid hex digit");
  expect_error(HDR "  const %c : u8[1] = blob 0\n}\nblob 0 = <elided 1 bytes>\n", "elided");
  expect_error(HDR "  const %c : f32[batch] = [1.0]\n}\n", "static dimensions");
  expect_error(HDR "  input %y : f32[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\n}\n",
               "rank exceeds the maximum of 16");
  expect_error(HDR "  input %y : f32[2,-3]\n}\n", "negative dimension -3");
  expect_error(HDR "  input %y : f33[2]\n}\n", "unknown dtype 'f33'");
  expect_error(HDR "  input %y : f32[2\n}\n", "expected ',' or ']'");
  expect_error(HDR "  input %\"y\n}\n", "unterminated string");
  expect_error(HDR "  input %\"\\q\" : f32[2]\n}\n", "unknown escape");
  expect_error(HDR "  %y : f32[2] = Relu(%x) {a = 1, a = 2}\n}\n", "duplicate attribute 'a'");
  expect_error(HDR "  %y : f32[2] = Relu(%x) {a = []}\n}\n", "an empty list needs its kind");
  expect_error(HDR "  %y : f32[2] = Relu(%x) {a = [1, 2.0]}\n}\n", "in a list of integers");
  expect_error(HDR "  %y : f32[2] = Relu(%x) {a = <lambda>}\n}\n", "unknown attribute value");
  expect_error(HDR "  %y : f32[2] = Relu(%x) extra\n}\n", "expected end of line, found 'extra'");
  expect_error(HDR "  output %x\n  %y : f32[2] = Relu(%x)\n}\n", "nodes must come before the outputs");
  expect_error(HDR "  opset \"\" 17\n}\n", "'opset' must come before inputs");
  expect_error("graph \"g\" {\n  opset \"\" 17\n  opset \"\" 18\n}\n", "given twice");
  expect_error(HDR "  bogus %x\n}\n", "expected a statement");
  expect_error(HDR "  %y: f32[2] = Relu(%x)\n}\n", "write '%y : TYPE'");
  expect_error(HDR "}\ngarbage\n", "expected 'blob N = hex");
  expect_error(HDR "  const %c : f16[1] = [1.0]\n}\n", "f16 constants are written as blobs");
  expect_error(HDR "  const %c : f32[1] = [1e39]\n}\n", "out of range for f32");
  {
    static const char nul[] = "graph \"g\" {\n  input %x : f32[2]\0\n}\n";
    ir_diags *d = ir_diags_new();
    CU_ASSERT_PTR_NULL(ir_parse(nul, sizeof nul - 1, NULL, d));
    CU_ASSERT_PTR_NOT_NULL(d->head && strstr(d->head->msg, "<input>:2:20: expected end of line, found '\\x00'"));
    ir_diags_free(d);
  }
}

/* Every prefix and many single-byte mutations of a printed graph: no crash, and
 * either a graph or at least one error. Run under ASan/valgrind to catch leaks. */
static void test_fuzz(void) {
  ir_graph *g = build_graph();
  size_t n;
  char *t = ir_print_to_string(g, &n);
  ir_graph_free(g);
  /* cut the long blob lines so the loops stay fast */
  char *cut = strstr(t, "}\nblob");
  size_t m = cut ? (size_t)(cut - t) + 2 : n;
  char *buf = malloc(n + 1);
  unsigned seed = 12345;
  static const char alphabet[] = "%_\"\\[]{}(),:=@#.-0123456789e<>\n \tabcxyz/\x80\xff";
  for (size_t len = 0; len <= m; len += 1) {
    ir_diags *d = ir_diags_new();
    ir_graph *h = ir_parse(t, len, "fuzz", d);
    CU_ASSERT(h != NULL || d->nerrors > 0);
    ir_graph_free(h);
    ir_diags_free(d);
  }
  for (int it = 0; it < 4000; it++) {
    memcpy(buf, t, n);
    int edits = 1 + it % 3;
    for (int e = 0; e < edits; e++) {
      seed = seed * 1103515245u + 12345u;
      size_t pos = (seed >> 8) % m;
      seed = seed * 1103515245u + 12345u;
      buf[pos] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
    }
    ir_diags *d = ir_diags_new();
    ir_graph *h = ir_parse(buf, n, "fuzz", d);
    CU_ASSERT(h != NULL || d->nerrors > 0);
    if (h) { /* whatever parsed must print and re-parse to the same text */
      size_t l1, l2;
      char *p1 = ir_print_to_string(h, &l1);
      ir_graph *h2 = ir_parse(p1, l1, "fuzz2", d);
      CU_ASSERT_PTR_NOT_NULL(h2);
      if (h2) {
        char *p2 = ir_print_to_string(h2, &l2);
        CU_ASSERT(l1 == l2 && !memcmp(p1, p2, l1));
        free(p2);
      }
      free(p1);
      ir_graph_free(h2);
    }
    ir_graph_free(h);
    ir_diags_free(d);
  }
  free(buf);
  free(t);
}

static void test_dot(void) {
  ir_graph *g = build_graph();
  FILE *f = tmpfile();
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  ir_print_dot(g, f);
  long len = ftell(f);
  char *s = calloc(1, (size_t)len + 1);
  rewind(f);
  CU_ASSERT_EQUAL(fread(s, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  CU_ASSERT(!strncmp(s, "digraph \"torch_jit\" {\n", 22));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "label=\"Conv\\n/patch/Conv\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "label=\"com.microsoft.MoE\\nmoe"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "[label=\"f32[batch,16,8,8]\"]"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "max = 0.1"));          /* scalar folded into Clip */
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "shape=note"));         /* the weight */
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "peripheries=2"));      /* outputs */
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "weird name\\\\n\\\"q\\\""));   /* escaped */
  CU_ASSERT_PTR_NULL(strstr(s, "\"k\\n"));                  /* no node for a scalar */
  CU_ASSERT_EQUAL(s[len - 2], '}');
  free(s);
  ir_graph_free(g);
}

void mir_suite_register(void) {
  CU_pSuite s = CU_add_suite("mir", NULL, NULL);
  CU_add_test(s, "round trip of every construct", test_roundtrip);
  CU_add_test(s, "ir_type_str", test_type_str);
  CU_add_test(s, "hand-written input", test_lenient_input);
  CU_add_test(s, "float spelling", test_float_spelling);
  CU_add_test(s, "parser errors", test_errors);
  CU_add_test(s, "truncated and mutated input", test_fuzz);
  CU_add_test(s, "DOT output", test_dot);
}
