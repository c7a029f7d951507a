/* utf8.h - which bytes of a name may be printed as they are: shared by the
 * compiler's diagnostics (ir/core.c) and the runtime's messages and profiles
 * (runtime/profile.c), so that both print one safe line.
 *
 * Requires: nothing (header only). */
#ifndef MIXC_UTF8_H
#define MIXC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length of the well-formed, printable UTF-8 sequence at s (n bytes left),
 * or 0 if the byte at s must be escaped: ASCII controls, invalid or overlong
 * UTF-8, C1 controls, surrogates and bidi controls (they reorder what a
 * terminal shows). */
static inline size_t mixc_utf8_printable(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c >= 0x20 && c < 0x7f) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp < 0xa0 || (cp >= 0xd800 && cp <= 0xdfff)) return 0; /* C1 controls, surrogates */
  if (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
      (cp >= 0x2066 && cp <= 0x2069))
    return 0;
  return len;
}

#endif
