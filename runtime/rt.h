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
  /* Weights in a separate file (`mixc compile --weights=file`); all NULL when
   * the object embeds them. weights_file is the file's base name recorded at
   * compile time (the harness looks for it next to the executable);
   * load_weights maps and checks it (0, or -1 with weights_error() saying why)
   * and must succeed before entry runs (entry fails otherwise). */
  const char *weights_file;
  int (*load_weights)(const char *path);
  const char *(*weights_error)(void);
} rt_model_desc;

#define RT_ABI_VERSION 2

/* ---- weights files (weights.c) ------------------------------------------------ */
/* Layout: a 64-byte header, then the payload: every constant at a 64-byte
 * aligned offset, zero padded to a multiple of 64. Header fields are little
 * endian: magic "MIXCWTS1", u64 count (constants), u64 payload bytes, u64 hash
 * of the payload (rt_weights_hash), zeros. The object records count, size
 * and hash, so a truncated, corrupted or other model's file is refused. */
#define RT_WEIGHTS_MAGIC "MIXCWTS1"
#define RT_WEIGHTS_HEADER 64

/* FNV-1a 64 over the payload taken as little-endian 64-bit words, streamed:
 * start from RT_WEIGHTS_HASH_SEED and feed whole words (n is a multiple of 8;
 * a trailing partial word is ignored). */
#define RT_WEIGHTS_HASH_SEED 1469598103934665603ull
uint64_t rt_weights_hash(uint64_t h, const void *data, uint64_t n);

/* Maps path read-only and checks its header, size and hash against what the
 * object expects. Returns 0 with *payload set (the mapping lives until the
 * process exits), or -1 with a one-line reason in err. Never crashes on
 * malformed files. */
int rt_weights_map(const char *path, uint64_t count, uint64_t payload_bytes, uint64_t hash,
                   const void **payload, char *err, size_t errlen);

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
