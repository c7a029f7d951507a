/* fe_internal.h - what the frontend's files share: the importer's state, the
 * location every diagnostic carries, and the tensor, type and attribute decoders.
 * Private to frontend/ (fe.h is the folder's interface).
 *
 * Requires: the protobuf-c code generated from the ONNX project's onnx.proto. */
#ifndef MIXC_FE_INTERNAL_H
#define MIXC_FE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "frontend/fe.h"
#include "onnx/onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mixc reads ONNX raw_data (little endian) in place: a little-endian host is required"
#endif

/* Where a diagnostic points: an ONNX node (name, op type as written, index), or
 * nothing (node == NULL) for initializers, graph inputs and the model itself. */
typedef struct fe_loc {
  const char *node;
  const char *op;
  int index;
} fe_loc;

/* An external data file, mapped once however many tensors it holds. */
typedef struct fe_extfile {
  char *path;             /* realpath, malloc'd */
  unsigned char *map;     /* NULL if empty or unreadable */
  size_t size;
  bool failed;            /* already diagnosed: do not repeat */
  struct fe_extfile *next;
} fe_extfile;

/* A name in the graph's value namespace, and who defined it. */
typedef struct fe_def {
  const char *name;       /* NULL: empty slot */
  ir_value *v;
  int node;               /* defining node index, or FE_DEF_INPUT / FE_DEF_INIT */
} fe_def;
enum { FE_DEF_INPUT = -1, FE_DEF_INIT = -2, FE_DEF_DANGLING = -3 };

typedef struct fe_imp {
  ir_graph *g;
  ir_diags *d;
  const char *base_dir;   /* NULL: external data refused */
  char *base_real;        /* realpath(base_dir), malloc'd on first use */
  bool base_failed;
  int64_t onnx_opset;     /* 0: not imported */
  int64_t ms_opset;
  fe_extfile *files;
  fe_def *defs;           /* open addressing, malloc'd; power-of-two capacity */
  size_t ndefs, capdefs;
} fe_imp;

/* Diagnostics at loc (NULL: no location); input -1 when not about an input. */
void fe_error(fe_imp *im, const fe_loc *loc, int input, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fe_warning(fe_imp *im, const fe_loc *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Decodes a TensorProto (initializer, attribute value) into an ir_tensor that
 * references the message's bytes or the mapped external file where it can.
 * `what` names it in diagnostics ("initializer 'W'"). NULL after diagnosing. */
ir_tensor *fe_tensor_decode(fe_imp *im, const fe_loc *loc, const char *what,
                            const Onnx__TensorProto *tp);

/* TypeProto -> ir_type. A NULL type, a missing elem_type or shape leave those
 * parts unknown. False after diagnosing (then *out is the unknown type). */
bool fe_type_decode(fe_imp *im, const fe_loc *loc, const char *what, const Onnx__TypeProto *tp,
                    ir_type *out);

/* Decodes a node's attributes into an arena array (*out, *nout) and checks them
 * against op's schema (op < 0: no schema check, e.g. for ops that are diagnosed
 * anyway). Returns false if any attribute was bad (all are diagnosed). GRAPH and
 * GRAPHS attributes keep only their kind; the caller diagnoses subgraph ops. */
bool fe_attrs_decode(fe_imp *im, const fe_loc *loc, int op, const Onnx__NodeProto *np,
                     ir_attr **out, int *nout);

/* Kind names for messages: "an int", "floats", ... */
const char *fe_attr_kind_name(ir_attr_kind k);

/* The attribute's kind: its type field, or for old models that left it 0, the
 * kind implied by whichever field is set (IR_ATTR_UNDEF if none is). */
ir_attr_kind fe_attr_kind(const Onnx__AttributeProto *ap);

/* Frees the mapped-file cache and realpath of base_dir (not the mappings: the
 * graph owns those). */
void fe_tensor_cleanup(fe_imp *im);

#endif
