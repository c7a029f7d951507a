/* ir.h - the mixc intermediate representation: arenas, diagnostics, dtypes,
 * shapes, tensors, values, attributes, nodes and graphs, and the entry points of
 * everything in ir/ (op table, shape inference, verifier, printer, parser, DOT).
 *
 * Requires: nothing but libc. Every object of a graph lives in the graph's arena
 * and dies with ir_graph_free(). Weights may instead point into memory owned by
 * someone else (a mapped or loaded model file); ir_graph keeps a list of such
 * buffers and frees them with the graph. */
#ifndef MIXC_IR_H
#define MIXC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- internal bugs (never for bad input) -------------------------------- */
#define MIXC_BUG(...) ir_bug(__FILE__, __LINE__, __VA_ARGS__)
#define MIXC_ASSERT(c) ((c) ? (void)0 : ir_bug(__FILE__, __LINE__, "assertion failed: %s", #c))
_Noreturn void ir_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- arena ---------------------------------------------------------------- */
typedef struct ir_arena ir_arena;
ir_arena *ir_arena_new(void);
void ir_arena_free(ir_arena *a);
void *ir_alloc(ir_arena *a, size_t n);            /* zeroed, 16-byte aligned */
void *ir_alloc_array(ir_arena *a, size_t n, size_t size); /* overflow-checked; NULL if absurd */
char *ir_strdup(ir_arena *a, const char *s);
char *ir_strndup(ir_arena *a, const char *s, size_t n);
char *ir_sprintf(ir_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *ir_vsprintf(ir_arena *a, const char *fmt, va_list ap);

/* ---- diagnostics ---------------------------------------------------------- */
/* A diagnostic is bad input, reported against the user's model: the ONNX node
 * name, its op type and (optionally) the input index. They are collected in a
 * list so that `mixc check` can report every problem at once. */
typedef enum { IR_ERROR, IR_WARNING, IR_NOTE } ir_severity;
typedef struct ir_diag {
  ir_severity sev;
  const char *node;   /* ONNX node name, or NULL when not about a node */
  const char *op;     /* op type as the user wrote it, or NULL */
  int index;          /* ONNX node index, -1 if none */
  int input;          /* input index, -1 if none */
  const char *msg;
  struct ir_diag *next;
} ir_diag;
typedef struct ir_diags {
  ir_arena *arena;    /* owned */
  ir_diag *head, *tail;
  int nerrors, nwarnings;
  int limit;          /* stop recording after this many errors (0: 1000) */
} ir_diags;
ir_diags *ir_diags_new(void);
void ir_diags_free(ir_diags *d);
struct ir_node;
void ir_diag_add(ir_diags *d, ir_severity sev, const char *node, const char *op, int index,
                 int input, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void ir_diag_addv(ir_diags *d, ir_severity sev, const char *node, const char *op, int index,
                  int input, const char *fmt, va_list ap);
/* Shorthands that take the location from a node (n may be NULL). */
void ir_error(ir_diags *d, const struct ir_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ir_error_in(ir_diags *d, const struct ir_node *n, int input, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ir_warning(ir_diags *d, const struct ir_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* One line per diagnostic: `error: node "name" (Op #3), input 1: message`. */
void ir_diags_print(const ir_diags *d, FILE *f);
char *ir_diag_format(ir_arena *a, const ir_diag *g);

/* ---- dtypes: the ONNX TensorProto.DataType codes ------------------------- */
typedef enum {
  IR_UNDEF = 0, IR_F32 = 1, IR_U8 = 2, IR_I8 = 3, IR_U16 = 4, IR_I16 = 5, IR_I32 = 6,
  IR_I64 = 7, IR_STRING = 8, IR_BOOL = 9, IR_F16 = 10, IR_F64 = 11, IR_U32 = 12,
  IR_U64 = 13, IR_C64 = 14, IR_C128 = 15, IR_BF16 = 16,
  IR_DTYPE_COUNT
} ir_dtype;
const char *ir_dtype_name(ir_dtype t);   /* "f32", "i64", "bool", ...; "?" for undef */
ir_dtype ir_dtype_parse(const char *s);  /* IR_UNDEF if unknown */
size_t ir_dtype_size(ir_dtype t);        /* bytes per element; 0 for string/undef */
bool ir_dtype_valid(int code);           /* a code ONNX defines */
bool ir_dtype_is_float(ir_dtype t);
bool ir_dtype_is_int(ir_dtype t);        /* signed or unsigned integer (not bool) */

/* ---- shapes --------------------------------------------------------------- */
/* A dim is static (v >= 0, sym == NULL), symbolic (sym != NULL, v == -1) or
 * unknown (v == -1, sym == NULL). */
typedef struct ir_dim {
  int64_t v;
  const char *sym;
} ir_dim;
#define IR_MAX_RANK 16            /* larger ranks are rejected with a diagnostic */
#define IR_MAX_ELEMS (INT64_C(1) << 40) /* element counts past this are absurd */
typedef struct ir_type {
  ir_dtype dtype;  /* IR_UNDEF: not yet known */
  int rank;        /* -1: unknown rank */
  ir_dim *dims;    /* rank entries, arena-owned */
} ir_type;
static inline bool ir_dim_static(ir_dim d) { return d.v >= 0 && !d.sym; }
bool ir_dim_eq(ir_dim a, ir_dim b);      /* both static and equal, or same symbol */
bool ir_type_static(const ir_type *t);   /* dtype known, rank known, all dims static */
int64_t ir_type_numel(const ir_type *t); /* -1 unless static */

/* ---- tensors (constants: initializers, attributes, folded values) -------- */
typedef struct ir_tensor {
  ir_dtype dtype;
  int rank;
  int64_t *dims;
  int64_t numel;
  void *data;         /* numel * dtype size bytes, little endian; for IR_STRING: const char ** */
  size_t nbytes;
  const char *name;   /* the initializer's / attribute's name, may be NULL */
} ir_tensor;
ir_tensor *ir_tensor_new(ir_arena *a, ir_dtype t, int rank, const int64_t *dims); /* zeroed data */
ir_tensor *ir_tensor_scalar_i64(ir_arena *a, int64_t v);
ir_tensor *ir_tensor_vec_i64(ir_arena *a, int n, const int64_t *v);
double ir_tensor_get_f(const ir_tensor *t, int64_t i);   /* element i as double */
int64_t ir_tensor_get_i(const ir_tensor *t, int64_t i);  /* element i as int64 */
void ir_tensor_set_f(ir_tensor *t, int64_t i, double v);
void ir_tensor_set_i(ir_tensor *t, int64_t i, int64_t v);
/* Element count of dims, or -1 on negative dim / overflow / past IR_MAX_ELEMS. */
int64_t ir_numel(int rank, const int64_t *dims);

/* ---- attributes: tagged union, kinds are ONNX AttributeProto.AttributeType */
typedef enum {
  IR_ATTR_UNDEF = 0, IR_ATTR_FLOAT = 1, IR_ATTR_INT = 2, IR_ATTR_STRING = 3,
  IR_ATTR_TENSOR = 4, IR_ATTR_GRAPH = 5, IR_ATTR_FLOATS = 6, IR_ATTR_INTS = 7,
  IR_ATTR_STRINGS = 8, IR_ATTR_TENSORS = 9, IR_ATTR_GRAPHS = 10,
  IR_ATTR_SPARSE_TENSOR = 11, IR_ATTR_SPARSE_TENSORS = 12, IR_ATTR_TYPE_PROTO = 13,
  IR_ATTR_TYPE_PROTOS = 14
} ir_attr_kind;
typedef struct ir_attr {
  const char *name;
  ir_attr_kind kind;
  union {
    float f;
    int64_t i;
    const char *s;        /* NUL-terminated; slen bytes (may contain NUL) */
    ir_tensor *t;
  };
  size_t slen;
  int n;                  /* element count for the list kinds */
  float *floats;
  int64_t *ints;
  const char **strings;
  ir_tensor **tensors;
} ir_attr;

/* ---- the op table ----------------------------------------------------------- */
typedef enum {
#define OP(id, name, dom, since, minin, maxin, minout, maxout, attrs, infer) IR_OP_##id,
#include "ops.def"
#undef OP
  IR_OP_COUNT
} ir_op;
typedef enum { IR_DOM_ONNX, IR_DOM_MS, IR_DOM_MIXC } ir_domain;
struct ir_graph;
struct ir_ctx;
typedef bool (*ir_infer_fn)(struct ir_ctx *cx, struct ir_node *n);
typedef struct ir_opinfo {
  const char *name;      /* ONNX op type, or the mixc op name without "mixc." */
  ir_domain domain;
  int since;             /* first opset version of its domain that has it */
  int min_in, max_in;    /* max_in -1: variadic */
  int min_out, max_out;
  const char *attrs;     /* schema, see ops.def */
  ir_infer_fn infer;
} ir_opinfo;
extern const ir_opinfo ir_ops[IR_OP_COUNT];
/* The case labels of the elementwise unary math ops (the kernels' unary family,
 * with Gelu and Not), for switches that treat them alike: lowering, and the
 * passes that move them across layout changes. */
#define IR_CASES_UNARY_MATH                                                                     \
  case IR_OP_Abs: case IR_OP_Neg: case IR_OP_Exp: case IR_OP_Log: case IR_OP_Sqrt:              \
  case IR_OP_Reciprocal: case IR_OP_Relu: case IR_OP_Sigmoid: case IR_OP_Tanh: case IR_OP_Erf:  \
  case IR_OP_Floor: case IR_OP_Ceil: case IR_OP_Round: case IR_OP_Sign: case IR_OP_Sin:         \
  case IR_OP_Cos: case IR_OP_Tan: case IR_OP_Asin: case IR_OP_Acos: case IR_OP_Atan:            \
  case IR_OP_Sinh: case IR_OP_Cosh: case IR_OP_Asinh: case IR_OP_Acosh: case IR_OP_Atanh:       \
  case IR_OP_Softsign: case IR_OP_Softplus: case IR_OP_HardSwish: case IR_OP_Mish:              \
  case IR_OP_LeakyRelu: case IR_OP_Elu: case IR_OP_Selu: case IR_OP_Celu: case IR_OP_HardSigmoid: \
  case IR_OP_ThresholdedRelu: case IR_OP_Shrink: case IR_OP_Gelu: case IR_OP_Not
const char *ir_domain_name(ir_domain d);      /* "", "com.microsoft", "mixc" */
/* Finds an op by domain string ("" or "ai.onnx" for ONNX) and op type; -1 if none. */
int ir_op_lookup(const char *domain, const char *name);
/* The op's printed name: "MatMul", "com.microsoft.MoE", "mixc.moe". */
const char *ir_op_fullname(ir_op op);
int ir_op_parse_fullname(const char *s);      /* inverse of ir_op_fullname; -1 if none */
/* Attribute schema of an op: looks up `attr`; returns its kind, or IR_ATTR_UNDEF when
 * the op does not declare it. `*required` tells whether it must be present. */
ir_attr_kind ir_op_attr_schema(ir_op op, const char *attr, bool *required);

/* ---- values, nodes, graphs ---------------------------------------------------- */
typedef struct ir_value {
  const char *name;       /* unique in the graph */
  ir_type type;
  struct ir_node *def;    /* producing node; NULL for graph inputs and constants */
  int def_index;          /* output index in def */
  ir_tensor *konst;       /* non-NULL: the value is this constant */
  bool is_input;          /* a graph input (runtime-provided) */
  int id;                 /* scratch for passes and printers */
  /* Symbolic contents of a small integer shape tensor that is not a constant
   * (Shape of a value with symbolic dims, and the Gather/Concat/Unsqueeze/...
   * chains PyTorch builds from it): element i is the symbol symval[i].sym, or
   * the integer symval[i].v when sym is NULL. Derived by shape inference, so
   * that Reshape(x, [batch, -1]) gets the type f32[batch,32]; never printed. */
  int nsymval;
  ir_dim *symval;
} ir_value;

typedef struct ir_node {
  ir_op op;
  const char *name;       /* ONNX node name ("" if the model gave none) */
  int index;              /* ONNX node index; -1 if a pass created it */
  int opset;              /* opset version of the op's domain when imported */
  int nin, nout;
  ir_value **in;          /* in[i] == NULL: an omitted optional input */
  ir_value **out;
  int nattr;
  ir_attr *attrs;
  bool dead;              /* marked for removal by ir_graph_compact */
  int id;                 /* scratch */
} ir_node;

typedef struct ir_opset {
  const char *domain;     /* "" for ai.onnx */
  int64_t version;
} ir_opset;

typedef struct ir_graph {
  ir_arena *arena;
  const char *name;
  const char *producer;   /* producer_name + version, may be "" */
  int64_t ir_version;
  int nopsets;
  ir_opset *opsets;
  int ninputs, noutputs, ninits;
  ir_value **inputs;      /* runtime inputs, in ONNX order */
  ir_value **outputs;
  ir_value **inits;       /* constants (initializers, Constant nodes, folded values) */
  int nnodes, capnodes;
  ir_node **nodes;        /* topological order once verified */
  int nvalues, capvalues;
  ir_value **values;      /* every value, for lookup by name */
  ir_value **htab;        /* name index over values (open addressing), built lazily */
  int hcap;
  struct ir_owned *owned; /* buffers (mapped files, decoded protobuf) freed with the graph */
} ir_graph;

ir_graph *ir_graph_new(void);
void ir_graph_free(ir_graph *g);
/* Hands `p` to the graph: free_fn(p, len) runs when the graph is freed. */
void ir_graph_own(ir_graph *g, void *p, size_t len, void (*free_fn)(void *p, size_t len));
/* Values: new names are made unique by appending ".N" when taken. A pass that
 * renames a value must call ir_graph_compact (or ir_names_reset) before lookups. */
void ir_names_reset(ir_graph *g);
ir_value *ir_value_new(ir_graph *g, const char *name, ir_type type);
ir_value *ir_value_find(const ir_graph *g, const char *name);
ir_value *ir_const_new(ir_graph *g, const char *name, ir_tensor *t); /* adds to inits */
/* Turns a node output into a constant in place (keeps its name and uses). */
void ir_value_make_const(ir_graph *g, ir_value *v, ir_tensor *t);
ir_node *ir_node_new(ir_graph *g, ir_op op, const char *name, int nin, int nout);
void ir_node_append(ir_graph *g, ir_node *n);       /* appends to g->nodes */
void ir_graph_add_input(ir_graph *g, ir_value *v);
void ir_graph_add_output(ir_graph *g, ir_value *v);
/* Node attribute access; NULL/default when absent. */
const ir_attr *ir_attr_find(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
float ir_attr_float(const ir_node *n, const char *name, float dflt);
const char *ir_attr_str(const ir_node *n, const char *name, const char *dflt);
ir_attr *ir_attr_add(ir_graph *g, ir_node *n, const char *name, ir_attr_kind kind);
/* Rewrites every use of `from` (node inputs, graph outputs) to `to`. */
void ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to);
int ir_count_uses(const ir_graph *g, const ir_value *v);
/* Drops dead nodes and values no longer referenced (keeps inputs/outputs). */
void ir_graph_compact(ir_graph *g);
/* Sorts g->nodes topologically (stable). Returns false, with a diagnostic naming a
 * node on the cycle, if the graph has a cycle. */
bool ir_graph_toposort(ir_graph *g, ir_diags *d);
int64_t ir_graph_opset(const ir_graph *g, const char *domain); /* 0 if not imported */

/* ---- context: a graph, its diagnostics, and shape inference -------------- */
typedef struct ir_ctx {
  ir_graph *g;
  ir_diags *d;
  ir_arena *scratch;   /* cleared by the owner between passes */
} ir_ctx;

/* Shape and type inference for one node / the whole graph (in order). Returns
 * false after adding diagnostics when a node's inputs do not fit the op. Output
 * types that are already set (from value_info) are checked, then refined. */
bool ir_infer_node(ir_ctx *cx, ir_node *n);
bool ir_infer_graph(ir_ctx *cx);

/* Evaluates a node whose inputs are all constants (Shape and Size need only a
 * static input type) into outs[0..nout), for constant folding. Returns false
 * when the op or dtype is not supported by the evaluator (no diagnostic), or
 * after a diagnostic for bad constant data. Small tensors only. */
bool ir_eval(ir_ctx *cx, const ir_node *n, ir_tensor **outs);

/* Verifier: every value defined once, no cycles, arity, attribute schema and
 * types consistent with shape inference. Adds diagnostics, returns ok. */
bool ir_verify(ir_ctx *cx);

/* Text format (.mir): ir_print writes it; ir_parse reads it back, byte for byte. */
void ir_print(const ir_graph *g, FILE *f);
char *ir_print_to_string(const ir_graph *g, size_t *len); /* malloc'd */
ir_graph *ir_parse(const char *text, size_t len, const char *filename, ir_diags *d);
/* DOT (graphviz). */
void ir_print_dot(const ir_graph *g, FILE *f);

/* Printer flags: IR_PRINT_ELIDE replaces weight bytes with "<elided>" (not parseable). */
enum { IR_PRINT_ELIDE = 1 };
void ir_print_ex(const ir_graph *g, FILE *f, unsigned flags);

/* Type text, as the printer writes it: "f32[batch,3,?]", "i64[]", "?[*]". */
char *ir_type_str(ir_arena *a, const ir_type *t);

#endif
