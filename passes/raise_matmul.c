/* raise_matmul.c - the raise-matmul pass: the other ways an MLP-Mixer's token
 * mixing is exported, as the same left multiplication that sink-transpose
 * makes of the Transpose/MatMul form:
 *
 *   Einsum(X, W) {equation = "bsc,ds->bdc"}   X [B,S,C], W a constant [D,S]
 *     -> mixc.matmul(W, X)                    [B,D,C]
 *   Conv(X, W, b) {kernel_shape = [1]}        X [B,S,C], W a constant [D,S,1]
 *     -> mixc.matmul(W as [D,S], X, b) {bias_axis = 1}
 *
 * After it, fuse-epilogue puts the bias Add ([D,1]), the GELU and the residual
 * Add into these GEMMs as it does for the MatMul export, so all three exports
 * of a Mixer block compile to the same two mixc.matmul nodes.
 *
 * Einsum: two operands, one of them a constant 2-D matrix W, the other X of
 * rank r >= 2; explicit labels only (no ellipsis, no label twice in one
 * term); the output given after "->" or implied (the labels seen once, in
 * alphabetical order). One label k of W is summed over (in X, not in the
 * output) and the other, o, is new (in the output, not in X). With X's labels
 * P k n (P the batch labels, any number) and the output P o n, it is W.X per
 * batch (left: mixc.matmul(W, X), trans_a when W's labels are k o); with X's
 * labels P m k and the output P m o, X.W (right: mixc.matmul(X, W), trans_b
 * when W's labels are o k). Any other equation is left alone (the backend
 * runs it as it is).
 *
 * Conv: a pointwise 1-D convolution - X of rank 3 with a static channel dim,
 * W a constant [D, C, 1], b absent or a constant [D], group 1, kernel 1,
 * stride 1, dilation 1, no padding (pads 0, or auto_pad other than explicit
 * pads, which for kernel 1 and stride 1 all pad nothing).
 *
 * Both sum the same products (over k, or over the channels) as the node
 * they replace; only the tiling of the sum differs, as between any two GEMMs.
 * The node is rewritten in place: it keeps its ONNX name, index and output.
 *
 * Requires: types inferred, constants folded. Establishes: no Einsum or Conv
 * of these forms is left; the node order is unchanged. */
#include "match.h"

#include <string.h>

/* One Einsum term: its labels, each a letter at most once. */
typedef struct term {
  char l[IR_MAX_RANK + 1];
  int n;
} term;

static bool letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Reads the letters of s[0..len) into t, skipping spaces; false on anything
 * else (an ellipsis), a repeated label or more than IR_MAX_RANK labels. */
static bool read_term(const char *s, size_t len, term *t) {
  t->n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == ' ') continue;
    if (!letter(s[i]) || t->n == IR_MAX_RANK || memchr(t->l, s[i], (size_t)t->n)) return false;
    t->l[t->n++] = s[i];
  }
  t->l[t->n] = 0;
  return true;
}

static bool has(const term *t, char c) { return memchr(t->l, c, (size_t)t->n) != NULL; }

/* "A,B->O" or "A,B" (O implied) into in[0], in[1], out. */
static bool parse_equation(const char *eq, term in[2], term *out) {
  const char *comma = strchr(eq, ','), *arrow = strstr(eq, "->");
  if (!comma || strchr(comma + 1, ',') || (arrow && arrow < comma)) return false;
  const char *end1 = arrow ? arrow : eq + strlen(eq);
  if (!read_term(eq, (size_t)(comma - eq), &in[0]) ||
      !read_term(comma + 1, (size_t)(end1 - comma - 1), &in[1]))
    return false;
  if (arrow) return read_term(arrow + 2, strlen(arrow + 2), out);
  out->n = 0; /* implied: the labels seen once, alphabetically (upper case first) */
  for (char c = 'A'; c <= 'z'; c++) {
    if (!letter(c)) continue;
    if (has(&in[0], c) + has(&in[1], c) == 1) out->l[out->n++] = c;
  }
  out->l[out->n] = 0;
  return true;
}

static void to_matmul(ir_ctx *cx, ir_node *n, int nin, ir_value *const *in, const char *flag) {
  ir_graph *g = cx->g;
  pass_set_inputs(g, n, nin, in);
  pass_make_mixc_matmul(g, n);
  if (flag) ir_attr_add(g, n, flag, IR_ATTR_INT)->i = 1;
  pass_reinfer(cx, n);
}

static bool raise_einsum(ir_ctx *cx, ir_node *n) {
  if (n->nin != 2 || !n->out[0]) return false;
  term in[2], out;
  if (!parse_equation(ir_attr_str(n, "equation", ""), in, &out)) return false;
  int wi = -1; /* the weight: a constant matrix, preferably the second operand */
  for (int i = 1; i >= 0 && wi < 0; i--)
    if (n->in[i]->konst && n->in[i]->type.rank == 2) wi = i;
  if (wi < 0) return false;
  ir_value *w = n->in[wi], *x = n->in[1 - wi];
  const term *wl = &in[wi], *xl = &in[1 - wi];
  int r = x->type.rank;
  if (w->type.dtype != x->type.dtype || (x->type.dtype != IR_F32 && x->type.dtype != IR_F64) ||
      r < 2 || wl->n != 2 || xl->n != r || out.n != r)
    return false;
  /* k: W's label summed over; o: W's label that is new in the output */
  int ki = has(xl, wl->l[0]) ? 0 : 1;
  char k = wl->l[ki], o = wl->l[1 - ki];
  if (!has(xl, k) || has(&out, k) || has(xl, o) || !has(&out, o)) return false;
  /* the batch labels lead X and the output alike */
  if (memcmp(xl->l, out.l, (size_t)(r - 2))) return false;
  char x1 = xl->l[r - 2], x2 = xl->l[r - 1], o1 = out.l[r - 2], o2 = out.l[r - 1];
  if (x1 == k && o1 == o && o2 == x2) { /* left: out = W.X, W [o, k] */
    ir_value *args[2] = {w, x};
    to_matmul(cx, n, 2, args, ki == 0 ? "trans_a" : NULL);
    return true;
  }
  if (x2 == k && o1 == x1 && o2 == o) { /* right: out = X.W, W [k, o] */
    ir_value *args[2] = {x, w};
    to_matmul(cx, n, 2, args, ki == 1 ? "trans_b" : NULL);
    return true;
  }
  return false;
}

static bool raise_conv1d(ir_ctx *cx, ir_node *n) {
  ir_value *x = n->in[0], *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
  const ir_type *xt = &x->type;
  if (!n->out[0] || xt->rank != 3 || (xt->dtype != IR_F32 && xt->dtype != IR_F64) ||
      !ir_dim_static(xt->dims[1]) || !w->konst || w->konst->dtype != xt->dtype ||
      w->konst->rank != 3 || w->konst->dims[1] != xt->dims[1].v || w->konst->dims[2] != 1 ||
      (b && (!b->konst || b->konst->dtype != xt->dtype || b->konst->rank != 1 ||
             b->konst->dims[0] != w->konst->dims[0])))
    return false;
  if (ir_attr_int(n, "group", 1) != 1 || !pass_ints_are(n, "kernel_shape", 1, NULL, 1) ||
      !pass_ints_are(n, "strides", 1, NULL, 1) || !pass_ints_are(n, "dilations", 1, NULL, 1) ||
      !pass_ints_are(n, "pads", 2, NULL, 0))
    return false;
  const int64_t wd[2] = {w->konst->dims[0], w->konst->dims[1]};
  ir_value *args[3] = {pass_const_view(cx->g, w, "rows", 2, wd), x, b};
  to_matmul(cx, n, b ? 3 : 2, args, b ? "bias_axis" : NULL);
  return true;
}

bool pass_raise_matmul(ir_ctx *cx) {
  ir_graph *g = cx->g;
  for (int i = 0; i < g->nnodes; i++) {
    ir_node *n = g->nodes[i];
    if (n->dead) continue;
    if (n->op == IR_OP_Einsum) raise_einsum(cx, n);
    else if (n->op == IR_OP_Conv) raise_conv1d(cx, n);
  }
  return true;
}
