/* raise_gelu.c - the raise-gelu pass: GELU written out in elementary ops (how
 * PyTorch exports F.gelu before opset 20, and the hand-written forms) becomes
 * one ONNX Gelu node, which fuse-epilogue can then put into a GEMM:
 *
 *   exact   0.5 * x * (1 + Erf(x / sqrt2))                      -> Gelu(x) {approximate = "none"}
 *   tanh    0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 *                                                               -> Gelu(x) {approximate = "tanh"}
 *
 * Products are matched as products, so every operand order and association
 * the exporters produce is one case: a tree of Mul nodes, Div by a constant
 * and Pow by a small integer constant is flattened into a constant
 * coefficient times powers of distinct values. x / sqrt2 is x * 0.70710677;
 * x^3 is Pow(x, 3), x*x*x, or with the 0.044715 anywhere in the chain; the 0.5
 * may multiply x, the (1 + ...) factor or the product. Additions are matched
 * with the constant 1 (or x) on either side. Constants are compared with a
 * relative tolerance of 1e-6 (they come from f32), never by node names.
 *
 * Every intermediate value of a match has exactly one user (and is no graph
 * output); x may have any number of users. The output keeps its value and
 * name, and the Gelu node takes the ONNX name and index of the node that made
 * it. Only f32 and f64 values are rewritten.
 *
 * Requires: topological order, types inferred, constants folded. Runs after
 * raise-moe and raise-soft-moe (which match the decomposed expert GELU
 * themselves, and the Gelu op too). Establishes: no decomposed GELU of the
 * forms above is left; dead nodes are gone. */
#include "match.h"

#include <math.h>
#include <string.h>

enum { PROD_MAX_FACTORS = 4, PROD_MAX_NODES = 16 };

/* coef * prod f[i]^e[i], built by these nodes */
typedef struct prod {
  double coef;
  int nf;
  ir_value *f[PROD_MAX_FACTORS];
  int e[PROD_MAX_FACTORS];
  ir_node *nodes[PROD_MAX_NODES];
  int nn;
  bool ok;
} prod;

/* the nodes of one match: each is dead once the match is rewritten */
typedef struct gelu_match {
  ir_node *nodes[4 * PROD_MAX_NODES];
  int nn;
} gelu_match;

static void add_factor(prod *p, ir_value *v, int e) {
  for (int i = 0; i < p->nf; i++)
    if (p->f[i] == v) {
      p->e[i] += e;
      return;
    }
  if (p->nf == PROD_MAX_FACTORS) {
    p->ok = false;
    return;
  }
  p->f[p->nf] = v;
  p->e[p->nf++] = e;
}

/* Small positive integer exponent of a Pow. */
static int int_exponent(const ir_value *v) {
  double c;
  if (!pass_const_scalar(v, &c)) return 0;
  for (int k = 1; k <= 4; k++)
    if (c == k) return k;
  return 0;
}

/* Adds factor v^e to p. v's producer is walked into when it is a Mul, a Div
 * by a constant or a Pow by a small integer, and v is the product's root or
 * has p's node as its only user. */
static void flatten(const ir_graph *g, prod *p, ir_value *v, int e, bool root, int depth) {
  double c;
  if (!p->ok) return;
  if (pass_const_scalar(v, &c)) {
    p->coef *= pow(c, e);
    return;
  }
  ir_node *d = v->def;
  bool walk = d && !v->konst && depth < 8 && p->nn < PROD_MAX_NODES &&
              (root || pass_only_user(g, v));
  if (walk && d->op == IR_OP_Mul) {
    p->nodes[p->nn++] = d;
    flatten(g, p, d->in[0], e, false, depth + 1);
    flatten(g, p, d->in[1], e, false, depth + 1);
    return;
  }
  if (walk && d->op == IR_OP_Div && pass_const_scalar(d->in[1], &c) && c != 0) {
    p->nodes[p->nn++] = d;
    p->coef /= pow(c, e);
    flatten(g, p, d->in[0], e, false, depth + 1);
    return;
  }
  int k;
  if (walk && d->op == IR_OP_Pow && (k = int_exponent(d->in[1])) > 0) {
    p->nodes[p->nn++] = d;
    flatten(g, p, d->in[0], e * k, false, depth + 1);
    return;
  }
  add_factor(p, v, e);
}

static prod product(const ir_graph *g, ir_value *v, bool root) {
  prod p = {.coef = 1.0, .ok = true};
  flatten(g, &p, v, 1, root, 0);
  return p;
}

static void take(gelu_match *m, ir_node *n) {
  if (m->nn < (int)(sizeof m->nodes / sizeof *m->nodes)) m->nodes[m->nn++] = n;
}

static void take_prod(gelu_match *m, const prod *p) {
  for (int i = 0; i < p->nn; i++) take(m, p->nodes[i]);
}

/* v = Add(c, u) or Add(u, c) with c == want and u made by `op`, v's only
 * user being its consumer in the match: returns u's producer. */
static ir_node *add_const_to(const ir_graph *g, gelu_match *m, ir_value *v, double want, ir_op op) {
  ir_node *ad = v->def;
  if (!ad || v->konst || ad->op != IR_OP_Add || !pass_only_user(g, v)) return NULL;
  for (int i = 0; i < 2; i++) {
    double c;
    ir_value *u = ad->in[1 - i];
    if (!pass_const_scalar(ad->in[i], &c) || !pass_near(c, want)) continue;
    if (!u->def || u->konst || u->def->op != op || !pass_only_user(g, u)) return NULL;
    take(m, ad);
    take(m, u->def);
    return u->def;
  }
  return NULL;
}

/* root = 0.5 * x * A: sets *x and *a (A, the factor that is not x) */
static bool half_x_times(const prod *p, ir_value **x, ir_value **a) {
  if (!p->ok || p->nf != 2 || p->e[0] != 1 || p->e[1] != 1 || !pass_near(p->coef, 0.5))
    return false;
  *x = p->f[0], *a = p->f[1];
  return true;
}

/* exact: A = 1 + Erf(x * 1/sqrt2) */
static bool match_exact(const ir_graph *g, gelu_match *m, ir_value *x, ir_value *a) {
  ir_node *erf = add_const_to(g, m, a, 1.0, IR_OP_Erf);
  if (!erf) return false;
  prod q = product(g, erf->in[0], false);
  if (!q.ok || q.nf != 1 || q.f[0] != x || q.e[0] != 1 || !pass_near(q.coef, sqrt(0.5)))
    return false;
  take_prod(m, &q);
  return true;
}

/* tanh: A = 1 + Tanh(sqrt(2/pi) * S), S = x + 0.044715 * x^3 */
static bool match_tanh(const ir_graph *g, gelu_match *m, ir_value *x, ir_value *a) {
  ir_node *th = add_const_to(g, m, a, 1.0, IR_OP_Tanh);
  if (!th) return false;
  prod q = product(g, th->in[0], false);
  if (!q.ok || q.nf != 1 || q.e[0] != 1 || !pass_near(q.coef, sqrt(2.0 / M_PI))) return false;
  ir_value *s = q.f[0];
  ir_node *sn = s->def;
  if (!sn || s->konst || sn->op != IR_OP_Add || !pass_only_user(g, s)) return false;
  int xi = sn->in[0] == x ? 0 : sn->in[1] == x ? 1 : -1;
  if (xi < 0) return false;
  prod c = product(g, sn->in[1 - xi], false);
  if (!c.ok || c.nf != 1 || c.f[0] != x || c.e[0] != 3 || !pass_near(c.coef, 0.044715))
    return false;
  take_prod(m, &q);
  take(m, sn);
  take_prod(m, &c);
  return true;
}

/* A GELU ending at root: returns x and the form, or NULL. */
static ir_value *match_gelu(const ir_graph *g, ir_node *root, gelu_match *m, const char **form) {
  ir_value *y = root->out[0];
  prod p = product(g, y, true);
  ir_value *f0, *f1;
  if (!half_x_times(&p, &f0, &f1)) return NULL;
  for (int order = 0; order < 2; order++) {
    ir_value *x = order ? f1 : f0, *a = order ? f0 : f1;
    if (x->type.dtype != IR_F32 && x->type.dtype != IR_F64) continue;
    /* x keeps the shape: no constant broadcast the result to a larger one */
    if (!pass_same_shape(&x->type, &y->type) || x->type.dtype != y->type.dtype) continue;
    m->nn = 0;
    take_prod(m, &p);
    if (match_exact(g, m, x, a)) {
      *form = "none";
      return x;
    }
    m->nn = 0;
    take_prod(m, &p);
    if (match_tanh(g, m, x, a)) {
      *form = "tanh";
      return x;
    }
  }
  return NULL;
}

bool pass_raise_gelu(ir_ctx *cx) {
  ir_graph *g = cx->g;
  gelu_match *m = ir_alloc(cx->scratch, sizeof *m);
  bool changed = false;
  /* last first: the outermost Mul of a product is its root */
  for (int i = g->nnodes - 1; i >= 0; i--) {
    ir_node *root = g->nodes[i];
    if (root->dead || (root->op != IR_OP_Mul && root->op != IR_OP_Div)) continue;
    const char *form = NULL;
    ir_value *x = match_gelu(g, root, m, &form);
    if (!x) continue;
    ir_node *n = ir_node_new(g, IR_OP_Gelu, root->name, 1, 1);
    n->index = root->index;
    n->in[0] = x;
    ir_attr *a = ir_attr_add(g, n, "approximate", IR_ATTR_STRING);
    a->s = form;
    a->slen = strlen(form);
    n->out[0] = root->out[0];
    n->out[0]->def = n;
    n->out[0]->def_index = 0;
    for (int k = 0; k < m->nn; k++) m->nodes[k]->dead = true;
    g->nodes[i] = n; /* the root's place: every input is defined before it */
    pass_reinfer(cx, n);
    changed = true;
  }
  if (changed) ir_graph_compact(g);
  return true;
}
