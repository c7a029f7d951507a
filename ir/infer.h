/* infer.h - internal interface of shape and type inference: the per-op
 * infer_* functions that the op table (core.c) points at (ir/infer.c; the
 * mixc ops' in infer_moe.c and infer_fused.c), and a few helpers that passes
 * and the frontend share (broadcasting, axis normalization, reading small
 * constant integer tensors, setting an output type).
 *
 * Requires: ir.h. The infer_* prototypes are generated from ops.def, so a new op
 * line needs only its function defined in an infer*.c file. Every infer_*
 * function takes a node whose required inputs are non-NULL and have known
 * dtypes (ir_infer_node checks that first), reports bad input with
 * ir_error_in, and returns false on error. */
#ifndef MIXC_IR_INFER_H
#define MIXC_IR_INFER_H

#include "ir.h"

/* One prototype per ops.def line (repeats are harmless redeclarations). */
#define OP(id, name, dom, since, minin, maxin, minout, maxout, attrs, infer) \
  bool infer(struct ir_ctx *cx, struct ir_node *n);
#include "ops.def"
#undef OP

/* Numpy broadcasting of shapes a (rank_a) and b (rank_b) into out (room for
 * IR_MAX_RANK dims), with symbolic dims: equal symbols give that symbol, a static 1
 * gives the other dim, a symbol against a static N>1 gives N, unknown stays
 * unknown. Two different static non-1 dims are an error reported against n (may
 * be NULL); returns false then. Ranks must be known (>= 0). */
bool ir_broadcast(ir_ctx *cx, ir_node *n, int rank_a, const ir_dim *a, int rank_b,
                  const ir_dim *b, int *rank_out, ir_dim *out);

/* Sets (or refines) the type of output i of n, for the infer_* functions
 * outside infer.c: a type already there must agree (same dtype, rank and
 * static dims; reported against n otherwise), and the most specific dims of
 * the two are kept. rank -1: unknown rank. */
bool ir_infer_set_out(ir_ctx *cx, ir_node *n, int i, ir_dtype dt, int rank, const ir_dim *dims);

/* "[2,batch,?]" ("[*]" for rank -1), allocated for a diagnostic message. */
const char *ir_dims_str(ir_ctx *cx, int rank, const ir_dim *d);

/* mixc.matmul's act attribute as a code: its index in none, relu, gelu_erf,
 * gelu_tanh, silu, sigmoid (the order of MIXC_ACT_* in runtime/kernels/data.h);
 * NULL is none; -1 if unknown. (infer_fused.c) */
int ir_fused_act_code(const char *act);

/* mixc.elementwise's program (ops.def): at most IR_EW_MAX_STEPS steps, each
 * an op and operands a, b (b = -1 for a unary op): I for input xI (I < nin),
 * nin + J for step tJ. ir_ew_parse returns the step count, or -1 with a
 * message in err. ir_ew_op_arity: 1 or 2 for an op a program may hold, else 0.
 * (infer_fused.c) */
enum { IR_EW_MAX_STEPS = 16 };
typedef struct ir_ew_step {
  ir_op op;
  int a, b;
} ir_ew_step;
int ir_ew_op_arity(ir_op op);
/* t has a known rank and every dim is a static 1: an input mixc.elementwise
 * broadcasts. */
bool ir_ew_one_element(const ir_type *t);
int ir_ew_parse(const char *prog, int nin, ir_ew_step *steps, char *err, size_t errlen);

/* axis in [-rank, rank) normalized to [0, rank); -1 if out of range. */
int ir_norm_axis(int64_t axis, int rank);

/* The elements of a constant integer value (any integer dtype, rank 0 or 1, at
 * most `max` elements) into out[0..*n). False if v is NULL, not constant, not
 * integer, or too long. */
bool ir_const_ints(const ir_value *v, int64_t *out, int max, int *n);

#endif
