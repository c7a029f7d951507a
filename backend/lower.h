/* lower.h - per-op lowering functions, internal to backend/. Each one fills
 * call->kernel, call->params/params_size and call->can_fail for one node; the
 * framework in lower.c has already filled call->ops with the node's inputs then
 * outputs (BE_NONE for omitted ones) and will plan the arena. A lowering that
 * cannot handle the node (dtype, attribute value, rank) adds a diagnostic with
 * ir_error(lc->cx->d, n, ...) naming the problem and returns false.
 *
 * Requires: static shapes on every input and output of the node. */
#ifndef MIXC_LOWER_H
#define MIXC_LOWER_H

#include "be.h"
#include "runtime/kernels/data.h"

/* The state of one lowering: the graph context and the program being built. */
typedef struct lower_ctx {
  ir_ctx *cx;          /* cx->d for diagnostics */
  be_program *p;       /* p->arena owns params */
} lower_ctx;

/* Static shapes of values (lower.h's contract: every dim is known). */
static inline int rank_of(const ir_value *v) { return v->type.rank; }
static inline int64_t dim_of(const ir_value *v, int i) { return v->type.dims[i].v; }
static inline void dims_of(const ir_value *v, int64_t *d) {
  for (int i = 0; i < v->type.rank; i++) d[i] = v->type.dims[i].v;
}
/* Dense row-major strides (elements) of dims. */
static inline void strides_of(int rank, const int64_t *d, int64_t *st) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) st[i] = s, s *= d[i];
}

/* Copies params into the program arena and stores them and the kernel name on
 * the call. */
void lower_set_params(lower_ctx *lc, be_call *call, const char *kernel, const void *params,
                      size_t size);
/* Appends a constant made by the lowering (a packed weight) to the program;
 * returns its index. At most four per node. */
int lower_add_const(lower_ctx *lc, const ir_tensor *t);

/* elementwise and reductions: lower_elem.c */
bool lower_unary(lower_ctx *lc, const ir_node *n, be_call *call);    /* unary math, activations, Not */
bool lower_binary(lower_ctx *lc, const ir_node *n, be_call *call);   /* arith, compare, logic, PRelu, Max/Min/Sum/Mean */
bool lower_elementwise(lower_ctx *lc, const ir_node *n, be_call *call); /* mixc.elementwise */
bool lower_where(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_cast(lower_ctx *lc, const ir_node *n, be_call *call);     /* Cast, CastLike */
bool lower_clip(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_isx(lower_ctx *lc, const ir_node *n, be_call *call);      /* IsNaN, IsInf */
bool lower_softmax(lower_ctx *lc, const ir_node *n, be_call *call);  /* Softmax, LogSoftmax, Hardmax */
bool lower_reduce(lower_ctx *lc, const ir_node *n, be_call *call);   /* Reduce* */
bool lower_argminmax(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_norm(lower_ctx *lc, const ir_node *n, be_call *call);     /* LayerNorm, BatchNorm, InstanceNorm */
bool lower_cumsum(lower_ctx *lc, const ir_node *n, be_call *call);

/* GEMMs: lower_gemm.c */
bool lower_matmul(lower_ctx *lc, const ir_node *n, be_call *call);   /* MatMul, Gemm, mixc.matmul */
void lower_gemm_init(mixc_gemm_params *p);
void lower_gemm_simplify_batch(mixc_gemm_params *p);
/* Sets the call to the f32 or f64 GEMM kernel with p, first packing a constant
 * A or B (f32) into the micro-kernel's layout as a new constant. */
void lower_gemm_set(lower_ctx *lc, be_call *call, ir_dtype dt, mixc_gemm_params *p);
/* Replaces the constant operand `buf`, E row-major K x N matrices (an MoE
 * layer's expert weights), by each one packed as B panels, expert after
 * expert. False (operand left alone) when it is not a constant. */
bool lower_gemm_pack_experts(lower_ctx *lc, be_call *call, int buf, int64_t E, int64_t K, int64_t N);

/* linear algebra and data movement: lower_data.c */
bool lower_einsum(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_conv(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_pool(lower_ctx *lc, const ir_node *n, be_call *call);     /* Max/AveragePool, Global* */
bool lower_copy(lower_ctx *lc, const ir_node *n, be_call *call);     /* Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout */
bool lower_transpose(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_concat(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_split(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_slice(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_gather(lower_ctx *lc, const ir_node *n, be_call *call);   /* Gather, GatherElements, GatherND */
bool lower_scatter(lower_ctx *lc, const ir_node *n, be_call *call);  /* ScatterElements, ScatterND */
bool lower_expand(lower_ctx *lc, const ir_node *n, be_call *call);   /* Expand, Tile */
bool lower_pad(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_fill(lower_ctx *lc, const ir_node *n, be_call *call);     /* ConstantOfShape, Range, Shape, Size */
bool lower_topk(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_onehot(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_ms_moe(lower_ctx *lc, const ir_node *n, be_call *call);

/* mixc.moe: lower_moe.c */
bool lower_mixc_moe(lower_ctx *lc, const ir_node *n, be_call *call);
bool lower_mixc_soft_moe(lower_ctx *lc, const ir_node *n, be_call *call);

#endif
