/* rt.h - the runtime's interface: what compiled models and their hosts share.
 *
 * A compiled model (JIT or AOT) is an entry function plus a descriptor of its
 * inputs and outputs. The AOT object exports the descriptor as a constant
 * global named `<prefix>_desc` (default prefix "mixc_model"); the JIT builds
 * the same struct in memory. The harness (harness.c) runs either one: it is the
 * `main` of standalone executables and the body of `mixc run`.
 *
 * Requires: libc and libm only (executables link runtime/ and nothing else). */
#ifndef MIXC_RT_H
#define MIXC_RT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel.h"

#define RT_DESC_MAX_RANK 8

typedef struct rt_tensor_desc {
  const char *name;
  int32_t dtype;                  /* ONNX TensorProto.DataType code */
  int32_t rank;
  int64_t dims[RT_DESC_MAX_RANK];
  uint64_t nbytes;
} rt_tensor_desc;

/* The entry function: runs the whole model once. Returns ctx->status. The
 * arena holds arena_size bytes, 64-byte aligned, owned by the caller (one per
 * concurrent run). */
typedef int (*rt_entry_fn)(rt_ctx *ctx, void *const *inputs, void *const *outputs, void *arena);

typedef struct rt_model_desc {
  uint32_t abi_version;           /* RT_ABI_VERSION */
  int32_t ninputs, noutputs;
  const rt_tensor_desc *inputs;
  const rt_tensor_desc *outputs;
  uint64_t arena_size;
  rt_entry_fn entry;
} rt_model_desc;

#define RT_ABI_VERSION 1

/* ---- tensor files: .npy and ONNX TensorProto .pb ----------------------------- */
typedef struct rt_tensor {
  int32_t dtype;
  int32_t rank;
  int64_t dims[RT_DESC_MAX_RANK];
  void *data;                     /* malloc'd; rt_tensor_free releases it */
  uint64_t nbytes;
} rt_tensor;

/* Reads .npy or .pb (by extension, else by magic). Returns 0, or -1 with a
 * one-line reason in err. Never crashes on malformed files. */
int rt_tensor_read(const char *path, rt_tensor *t, char *err, size_t errlen);
/* Writes .npy (little endian, C order). Returns 0 or -1 with a reason. */
int rt_tensor_write_npy(const char *path, const rt_tensor *t, char *err, size_t errlen);
void rt_tensor_free(rt_tensor *t);

/* ---- the harness ---------------------------------------------------------------- */
/* Parses `--input NAME=FILE ... [--output-dir DIR] [--threads N] [--bench N]`
 * (argv[0] is the program name), checks every input against the descriptor,
 * runs the model, writes DIR/NAME.npy for each output (characters outside
 * [A-Za-z0-9._-] become '_'), and with --bench N runs N more times and prints
 * `median_ms=X min_ms=Y runs=N` as its last line. Returns the process exit code:
 * 0 ok, 1 bad input, 2 usage, 3 internal error. */
int rt_harness_main(int argc, char **argv, const rt_model_desc *m);

#endif
