/* weights.c - maps a weights file written by `mixc compile --weights=file`
 * (format in rt.h) and checks it against what the compiled object expects:
 * magic, constant count, payload size, file size and the payload hash.
 * Generated <prefix>_load_weights functions call rt_weights_map.
 *
 * Requires: libc and POSIX open/fstat/mmap only. The mapping is read-only
 * and never unmapped (the model's weights live as long as the process). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt.h"

uint64_t rt_weights_hash(uint64_t h, const void *data, uint64_t n) {
  const unsigned char *p = data;
  for (uint64_t i = 0; i + 8 <= n; i += 8) {
    uint64_t w = 0;
    for (int k = 0; k < 8; k++) w |= (uint64_t)p[i + (uint64_t)k] << (8 * k);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
  return v;
}

int rt_weights_map(const char *path, uint64_t count, uint64_t payload_bytes, uint64_t hash,
                   const void **payload, char *err, size_t errlen) {
  if (!path || !*path) {
    snprintf(err, errlen, "no weights file given");
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open weights file %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "weights file %s is not a regular file", path);
    close(fd);
    return -1;
  }
  unsigned char h[RT_WEIGHTS_HEADER];
  ssize_t got = st.st_size >= RT_WEIGHTS_HEADER ? pread(fd, h, sizeof h, 0) : 0;
  if (got != (ssize_t)sizeof h || memcmp(h, RT_WEIGHTS_MAGIC, 8)) {
    snprintf(err, errlen, "%s is not a mixc weights file (bad header)", path);
    close(fd);
    return -1;
  }
  uint64_t fcount = get_u64(h + 8), fbytes = get_u64(h + 16), fhash = get_u64(h + 24);
  if (fcount != count || fbytes != payload_bytes || fhash != hash) {
    snprintf(err, errlen,
             "weights file %s belongs to another model or build (it has %llu constants, %llu "
             "bytes, hash %016llx; this model expects %llu, %llu, %016llx)",
             path, (unsigned long long)fcount, (unsigned long long)fbytes,
             (unsigned long long)fhash, (unsigned long long)count,
             (unsigned long long)payload_bytes, (unsigned long long)hash);
    close(fd);
    return -1;
  }
  if ((uint64_t)st.st_size != RT_WEIGHTS_HEADER + payload_bytes) {
    snprintf(err, errlen, "weights file %s has %llu bytes, expected %llu (truncated or padded)",
             path, (unsigned long long)st.st_size,
             (unsigned long long)(RT_WEIGHTS_HEADER + payload_bytes));
    close(fd);
    return -1;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    snprintf(err, errlen, "cannot map weights file %s: %s", path, strerror(errno));
    return -1;
  }
  const unsigned char *pl = (const unsigned char *)m + RT_WEIGHTS_HEADER;
  if (rt_weights_hash(RT_WEIGHTS_HASH_SEED, pl, payload_bytes) != hash) {
    snprintf(err, errlen, "weights file %s is corrupted (payload hash mismatch)", path);
    munmap(m, (size_t)st.st_size);
    return -1;
  }
  *payload = pl;
  return 0;
}
