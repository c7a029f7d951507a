/* onnx_attr.c - AttributeProto -> ir_attr, and the check of a node's attributes
 * against its op's schema in ops.def (unknown names, wrong kinds, duplicates,
 * missing required attributes).
 *
 * Requires: the graph's arena for payloads (lists are copied, tensors decoded
 * like initializers). GRAPH and GRAPHS attributes keep only their kind and count:
 * mixc supports no subgraph op, and the caller says so. */
#include "frontend/fe_internal.h"

#include <limits.h>
#include <string.h>

const char *fe_attr_kind_name(ir_attr_kind k) {
  switch (k) {
  case IR_ATTR_FLOAT: return "a float";
  case IR_ATTR_INT: return "an int";
  case IR_ATTR_STRING: return "a string";
  case IR_ATTR_TENSOR: return "a tensor";
  case IR_ATTR_GRAPH: return "a graph";
  case IR_ATTR_FLOATS: return "floats";
  case IR_ATTR_INTS: return "ints";
  case IR_ATTR_STRINGS: return "strings";
  case IR_ATTR_TENSORS: return "tensors";
  case IR_ATTR_GRAPHS: return "graphs";
  case IR_ATTR_SPARSE_TENSOR: return "a sparse tensor";
  case IR_ATTR_SPARSE_TENSORS: return "sparse tensors";
  case IR_ATTR_TYPE_PROTO: return "a type";
  case IR_ATTR_TYPE_PROTOS: return "types";
  default: return "undefined";
  }
}

ir_attr_kind fe_attr_kind(const Onnx__AttributeProto *ap) {
  if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED)
    return (ir_attr_kind)ap->type;
  /* IR version 1 models did not set `type`: the field that is set tells. */
  if (ap->has_f) return IR_ATTR_FLOAT;
  if (ap->has_i) return IR_ATTR_INT;
  if (ap->has_s) return IR_ATTR_STRING;
  if (ap->t) return IR_ATTR_TENSOR;
  if (ap->g) return IR_ATTR_GRAPH;
  if (ap->sparse_tensor) return IR_ATTR_SPARSE_TENSOR;
  if (ap->tp) return IR_ATTR_TYPE_PROTO;
  if (ap->n_floats) return IR_ATTR_FLOATS;
  if (ap->n_ints) return IR_ATTR_INTS;
  if (ap->n_strings) return IR_ATTR_STRINGS;
  if (ap->n_tensors) return IR_ATTR_TENSORS;
  if (ap->n_graphs) return IR_ATTR_GRAPHS;
  if (ap->n_sparse_tensors) return IR_ATTR_SPARSE_TENSORS;
  if (ap->n_type_protos) return IR_ATTR_TYPE_PROTOS;
  return IR_ATTR_UNDEF;
}

static bool kind_known(int k) { return k >= IR_ATTR_FLOAT && k <= IR_ATTR_TYPE_PROTOS; }

/* Decodes one attribute; false after diagnosing. */
static bool attr_decode(fe_imp *im, const fe_loc *loc, const Onnx__AttributeProto *ap,
                        ir_attr *a) {
  ir_arena *ar = im->g->arena;
  a->name = ir_strdup(ar, ap->name);
  int k = fe_attr_kind(ap);
  if (!kind_known(k)) {
    if (k == IR_ATTR_UNDEF)
      fe_error(im, loc, -1, "attribute '%s' has no type and no value", ap->name);
    else
      fe_error(im, loc, -1, "attribute '%s' has unknown type %d", ap->name, k);
    return false;
  }
  a->kind = (ir_attr_kind)k;
  if (ap->ref_attr_name && *ap->ref_attr_name) {
    fe_error(im, loc, -1, "attribute '%s' refers to a function attribute, outside a function",
             ap->name);
    return false;
  }
  size_t n = 0;
  switch (a->kind) {
  case IR_ATTR_FLOATS: n = ap->n_floats; break;
  case IR_ATTR_INTS: n = ap->n_ints; break;
  case IR_ATTR_STRINGS: n = ap->n_strings; break;
  case IR_ATTR_TENSORS: n = ap->n_tensors; break;
  case IR_ATTR_GRAPHS: n = ap->n_graphs; break;
  case IR_ATTR_SPARSE_TENSORS: n = ap->n_sparse_tensors; break;
  case IR_ATTR_TYPE_PROTOS: n = ap->n_type_protos; break;
  default: break;
  }
  if (n > INT_MAX) {
    fe_error(im, loc, -1, "attribute '%s' has too many elements (%zu)", ap->name, n);
    return false;
  }
  a->n = (int)n;
  const char *what = ir_sprintf(ar, "attribute '%s'", ap->name);
  switch (a->kind) {
  case IR_ATTR_FLOAT: a->f = ap->f; break;
  case IR_ATTR_INT: a->i = ap->i; break;
  case IR_ATTR_STRING:
    a->s = ir_strndup(ar, ap->s.data ? (const char *)ap->s.data : "", ap->s.len);
    a->slen = ap->s.len;
    break;
  case IR_ATTR_TENSOR:
    if (!ap->t) {
      fe_error(im, loc, -1, "%s has no tensor", what);
      return false;
    }
    a->t = fe_tensor_decode(im, loc, what, ap->t);
    if (!a->t) return false;
    break;
  case IR_ATTR_FLOATS:
    a->floats = ir_alloc(ar, sizeof(float) * (n ? n : 1));
    if (n) memcpy(a->floats, ap->floats, sizeof(float) * n);
    break;
  case IR_ATTR_INTS:
    a->ints = ir_alloc(ar, sizeof(int64_t) * (n ? n : 1));
    if (n) memcpy(a->ints, ap->ints, sizeof(int64_t) * n);
    break;
  case IR_ATTR_STRINGS:
    a->strings = ir_alloc(ar, sizeof(char *) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
      a->strings[i] = ir_strndup(ar, ap->strings[i].data ? (const char *)ap->strings[i].data : "",
                                 ap->strings[i].len);
    break;
  case IR_ATTR_TENSORS: {
    a->tensors = ir_alloc(ar, sizeof(ir_tensor *) * (n ? n : 1));
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
      a->tensors[i] = fe_tensor_decode(im, loc, ir_sprintf(ar, "%s[%zu]", what, i), ap->tensors[i]);
      ok &= a->tensors[i] != NULL;
    }
    if (!ok) return false;
    break;
  }
  default: /* graphs, sparse tensors, types: the kind (and count) only */
    break;
  }
  return true;
}

bool fe_attrs_decode(fe_imp *im, const fe_loc *loc, int op, const Onnx__NodeProto *np,
                     ir_attr **out, int *nout) {
  ir_attr *attrs = ir_alloc(im->g->arena, sizeof(ir_attr) * (np->n_attribute ? np->n_attribute : 1));
  int n = 0;
  bool ok = true;
  for (size_t i = 0; i < np->n_attribute; i++) {
    const Onnx__AttributeProto *ap = np->attribute[i];
    if (!ap->name || !*ap->name) {
      fe_error(im, loc, -1, "attribute #%zu has no name", i);
      ok = false;
      continue;
    }
    bool dup = false;
    for (int j = 0; j < n && !dup; j++) dup = !strcmp(attrs[j].name, ap->name);
    for (size_t j = 0; j < i && !dup; j++) /* also duplicates of attributes that failed */
      dup = np->attribute[j]->name && !strcmp(np->attribute[j]->name, ap->name);
    if (dup) {
      fe_error(im, loc, -1, "attribute '%s' is given twice", ap->name);
      ok = false;
      continue;
    }
    ir_attr a = {0};
    if (!attr_decode(im, loc, ap, &a)) {
      ok = false;
      continue;
    }
    if (op >= 0 && a.kind != IR_ATTR_GRAPH && a.kind != IR_ATTR_GRAPHS) {
      ir_attr_kind want = ir_op_attr_schema((ir_op)op, a.name, NULL);
      if (want == IR_ATTR_UNDEF) {
        fe_error(im, loc, -1, "unknown attribute '%s' of %s", a.name, ir_op_fullname((ir_op)op));
        ok = false;
        continue;
      }
      if (want != a.kind) {
        fe_error(im, loc, -1, "attribute '%s' of %s must be %s, got %s", a.name,
                 ir_op_fullname((ir_op)op), fe_attr_kind_name(want), fe_attr_kind_name(a.kind));
        ok = false;
        continue;
      }
    }
    attrs[n++] = a;
  }
  /* Required attributes: the '!' entries of the schema string. */
  if (op >= 0) {
    const char *p = ir_ops[op].attrs;
    while (*p) {
      while (*p == ' ') p++;
      const char *colon = strchr(p, ':'), *end = colon ? colon : p;
      if (!colon) break;
      while (*end && *end != ' ') end++;
      if (end[-1] == '!') {
        size_t len = (size_t)(colon - p);
        bool present = false;
        for (size_t i = 0; i < np->n_attribute && !present; i++) {
          const char *nm = np->attribute[i]->name;
          present = nm && strlen(nm) == len && !strncmp(nm, p, len);
        }
        if (!present) {
          fe_error(im, loc, -1, "missing required attribute '%.*s' of %s", (int)len, p,
                   ir_op_fullname((ir_op)op));
          ok = false;
        }
      }
      p = end;
    }
  }
  *out = attrs;
  *nout = n;
  return ok;
}
