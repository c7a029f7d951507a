/* match.h - small pattern-matching and rewriting helpers shared by the
 * peephole and raising passes (canonicalize.c, raise_gelu.c, sink_transpose.c,
 * fuse_epilogue.c, the MoE raising passes and others): which live node
 * computes a value and who uses it, whether it is a graph output, reading
 * scalar constants with a tolerance, comparing shapes, reshaped views of
 * constants, and re-inferring a node that a pass changed in place. Not used
 * outside passes/.
 *
 * Requires: pass.h's invariants (types inferred, topological order). Uses are
 * counted by scanning the graph's live nodes; dead nodes do not count. */
#ifndef MIXC_PASSES_MATCH_H
#define MIXC_PASSES_MATCH_H

#include "pass.h"

/* v is one of the graph's outputs. */
bool pass_is_graph_output(const ir_graph *g, const ir_value *v);
/* The live node that computes v with op (not when v is a constant), else NULL. */
ir_node *pass_def(const ir_value *v, ir_op op);
/* The one node that uses v, when v has exactly one use (a graph output counts
 * as a use, and a node that reads v twice as two); else NULL. */
ir_node *pass_only_user(const ir_graph *g, const ir_value *v);
/* Attribute `name` of n is absent, or a list of cnt ints equal to v[i] (v
 * NULL: all equal to dflt). */
bool pass_ints_are(const ir_node *n, const char *name, int cnt, const int64_t *v, int64_t dflt);
/* n's axes (its input 1 when given, else its `axes` attribute: Unsqueeze and
 * the reductions) are exactly one axis, `want` once normalized to `rank`. */
bool pass_axes_are(const ir_node *n, int rank, int64_t want);
/* v is a float constant with exactly one element (any rank); *f is its value. */
bool pass_const_scalar(const ir_value *v, double *f);
/* v is within a relative 1e-6 of want: how exported constants are compared. */
bool pass_near(double v, double want);
/* n is a Transpose that swaps the last two dims of an input of known rank >= 2
 * and keeps the others in place. */
bool pass_is_swap_last2(const ir_node *n);
/* Same known rank, and every dim the same static size or the same symbol. */
bool pass_same_shape(const ir_type *a, const ir_type *b);
/* A new constant holding c's elements with other dims (same element count),
 * sharing c's data, named NAME.suffix. */
ir_value *pass_const_view(ir_graph *g, const ir_value *c, const char *suffix, int rank,
                          const int64_t *dims);
/* n, a node rewritten in place, becomes a mixc.matmul with no attributes
 * (its inputs and outputs are kept; the caller sets them and the flags). */
void pass_make_mixc_matmul(ir_graph *g, ir_node *n);
/* Gives n the inputs in[0..nin) (a fresh array; NULL entries are omitted
 * optional inputs). */
void pass_set_inputs(ir_graph *g, ir_node *n, int nin, ir_value *const *in);
/* Forgets the output types of n (a node a pass changed in place) and infers
 * them again. A failure is a bug of the pass: the rewrite must keep the math. */
void pass_reinfer(ir_ctx *cx, ir_node *n);
/* Position of n in g->nodes, -1 if absent. */
int pass_node_pos(const ir_graph *g, const ir_node *n);
/* Moves n to just before anchor in g->nodes (both in it); the other nodes
 * keep their order. */
void pass_move_before(ir_graph *g, ir_node *n, const ir_node *anchor);

#endif
