/* raise_moe.h - internal interface between the files of the raise-moe pass:
 * raise_moe.c (driver, router, importance dropping, expert MLPs, building the
 * fused node), raise_moe_match.c (the combine patterns of each export
 * style) and raise_ms_moe.c (com.microsoft.MoE). Also shared with raise_soft_moe.c (activations, constant helpers).
 * Not used outside passes/raise_*moe*.c. */
#ifndef MIXC_PASSES_RAISE_MOE_H
#define MIXC_PASSES_RAISE_MOE_H

#include "ir/infer.h"
#include "match.h"

enum { MOE_MAX_E = 256, MOE_MAX_NODES = 4096 };

typedef struct moe_expert {
  ir_value *w1, *b1, *w2, *b2;   /* (d,h), (h)|NULL, (h,d), (d)|NULL */
  bool seen;
} moe_expert;

/* One match attempt, bottom-up from a candidate end node. */
typedef struct moe_match {
  ir_ctx *cx;
  int stamp;                     /* node->id == stamp: node is in the matched set */
  ir_node *nodes[MOE_MAX_NODES];
  int nnodes;
  /* router */
  ir_node *topk, *softmax;
  ir_value *x, *wg, *bg;
  bool wg_trans;                 /* wg is (E,d) (Gemm transB=1): transposed when built */
  int64_t rows, d, E, k;
  int64_t group;                 /* 0|1: every row routed; S: per image (x is (B,S,d)) */
  /* importance dropping: keep mask value (f32[rows]), dropped count */
  ir_value *keep;
  int64_t ndrop;
  int64_t capacity;              /* 0: dropless */
  /* experts: per-expert constants (loop, masked) or stacked (onehot) */
  moe_expert ex[MOE_MAX_E];
  ir_value *w1s, *b1s, *w2s, *b2s;
  int64_t h;
  const char *act;               /* NULL until the first expert */
  ir_value *mlp_in;              /* input of the last matched expert MLP */
  ir_node *end;                  /* produces the MoE output */
  ir_value *out;
  /* the first failure */
  ir_node *fail_node;
  const char *why;
} moe_match;

/* failure: records node and reason (first one wins), returns false */
bool moe_fail(moe_match *m, const ir_node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void moe_take(moe_match *m, ir_node *n);
bool moe_const_f(const ir_value *v, double *f);          /* single-element float constant */
bool moe_const_i(const ir_value *v, int64_t *i);         /* single-element integer constant */
bool moe_const_fill(const ir_value *v, double want);     /* float constant, every element == want */
/* pass_axes_are (match.h) for any number of axes: exactly want[0..nw) in that order. */
bool moe_axes_list(const ir_node *n, int rank, const int64_t *want, int nw);
/* Einsum n's equation equals `eq` up to renaming the letters and spaces. */
bool moe_einsum_is(const ir_node *n, const char *eq);
/* Reshape n (constant shape) gives exactly dims[0..rank). */
bool moe_reshape_is(const ir_node *n, int rank, const int64_t *dims);
/* Transpose n has perm[0..rank). */
bool moe_perm_is(const ir_node *n, int rank, const int64_t *perm);
/* act(pre) ending at v; act is "identity" when v is no known activation. */
bool moe_match_act(moe_match *m, ir_value *v, ir_value **pre, const char **act);
bool moe_static_dims(const ir_value *v, int rank, const int64_t *dims); /* dims[i] < 0: any */

/* raise_moe.c */
/* Nothing of the matched set but m->out is used outside it or is a graph output. */
bool moe_check_closed(moe_match *m);
/* Puts the fused node n (inputs and attributes set) in place of the match:
 * its output 0 becomes m->out (so uses need no rewriting), output 1 a new
 * u8 scratch value, and n takes the matched end node's place in the order. */
void moe_install(moe_match *m, ir_node *n);
/* A routing site not yet raised (key: its TopK node, or a Soft MoE logits
 * value), with the deepest failed match seen for it: that node and why are
 * what the near-miss warning reports. */
typedef struct moe_near_miss {
  const void *key;
  ir_node *fail_node;
  const char *why;
  int depth;
} moe_near_miss;
/* Records a failed match m (which ended at `end`) against the site `key`,
 * when it got deeper than what was recorded before. */
void moe_note_miss(moe_near_miss *recs, int nrecs, const void *key, const moe_match *m,
                   ir_node *end);
bool moe_match_router(moe_match *m, ir_node *topk);
bool moe_match_importance(moe_match *m, ir_value *keep);
/* xin NULL: any input, left in m->mlp_in */
bool moe_match_expert_mlp(moe_match *m, ir_value *out, ir_value *xin, int64_t e);

/* raise_moe_match.c: each returns true when `end` is the combine of a whole routed
 * MoE layer in that style, with m filled in. */
bool moe_match_combine_loop(moe_match *m, ir_node *end);
bool moe_match_combine_masked(moe_match *m, ir_node *end);
bool moe_match_combine_onehot(moe_match *m, ir_node *end);
bool moe_match_combine_image(moe_match *m, ir_node *end);

/* raise_ms_moe.c: replaces each com.microsoft.MoE node that the fused kernel
 * can run by mixc.moe with router "logits"; warns about the others. Returns
 * whether any was raised. */
bool moe_raise_ms(ir_ctx *cx);

#endif
