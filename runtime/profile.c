/* profile.c - run-time instrumentation that hosts switch on per run: per-call
 * timings written as a Chrome trace (rt_prof, the profile hook behind
 * ctx->prof) and MoE routing statistics (rt_stats, the counter table behind
 * ctx->stats), plus rt_call_label, the one way a call is named in messages.
 *
 * The entry function calls the hook through the pointer at the start of
 * ctx->prof (rt.h), so compiled objects reference no symbol of this file and
 * the JIT needs no binding for it. Times are CLOCK_MONOTONIC nanoseconds,
 * taken on the thread that runs the entry function (kernels may fan out to
 * the pool inside a call; the call's time covers that).
 *
 * Requires: libc and POSIX clock_gettime. One rt_prof / rt_stats serves one
 * run at a time (each session and each harness owns its own). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "utf8.h"

/* ---- names in messages ------------------------------------------------------------ */

/* Appends s[0..n) escaped (\n, \t, \r, \xNN) at out + *at, within cap. */
static void put_escaped(char *out, size_t cap, size_t *at, const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = mixc_utf8_printable(s + i, n - i);
    char esc[8];
    const char *src = (const char *)s + i;
    size_t len = k;
    if (!k) {
      if (s[i] == '\n' || s[i] == '\t' || s[i] == '\r')
        snprintf(esc, sizeof esc, "\\%c", s[i] == '\n' ? 'n' : s[i] == '\t' ? 't' : 'r');
      else
        snprintf(esc, sizeof esc, "\\x%02x", s[i]);
      len = strlen(esc);
      src = esc;
      k = 1;
    }
    if (*at + len >= cap) return; /* truncated on a character boundary */
    memcpy(out + *at, src, len);
    *at += len;
    out[*at] = 0;
    i += k;
  }
}

char *rt_printable(const char *str, char *buf, size_t cap) {
  enum { MAX = 200, HEAD = 140, TAIL = 56 };
  if (!cap) return buf;
  buf[0] = 0;
  size_t at = 0, n = strlen(str);
  const unsigned char *s = (const unsigned char *)str;
  if (n <= MAX) {
    put_escaped(buf, cap, &at, s, n);
    return buf;
  }
  size_t h = HEAD, t = n - TAIL; /* cut on UTF-8 character boundaries */
  while (h > 0 && (s[h] & 0xc0) == 0x80) h--;
  while (t < n && (s[t] & 0xc0) == 0x80) t++;
  put_escaped(buf, cap, &at, s, h);
  put_escaped(buf, cap, &at, (const unsigned char *)"...", 3);
  put_escaped(buf, cap, &at, s + t, n - t);
  return buf;
}

char *rt_call_label(const rt_call_info *c, char *buf, size_t n) {
  char name[RT_PRINTABLE_MAX], op[RT_PRINTABLE_MAX];
  if (!n) return buf;
  rt_printable(c->op, op, sizeof op);
  if (!c->op[0]) snprintf(buf, n, "%s", rt_printable(c->kernel, name, sizeof name));
  else if (c->name[0]) snprintf(buf, n, "'%s' (%s)", rt_printable(c->name, name, sizeof name), op);
  else snprintf(buf, n, "#%d (%s)", (int)c->node_index, op);
  return buf;
}

/* ---- profiles ---------------------------------------------------------------------- */
struct rt_prof {
  rt_prof_fn hook;         /* first: the entry function calls it (rt.h) */
  int32_t ncalls;
  int64_t run_start;       /* ns, at rt_prof_begin_run */
  int64_t *t0, *t1;        /* per call, this run: ns at entry and exit; -1 not run */
  int64_t *runs;           /* per call, over every run */
  double *total_us, *min_us;
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void prof_hook(void *vp, int32_t call, int32_t after) {
  rt_prof *p = vp;
  int64_t t = now_ns();
  if (call < 0 || call >= p->ncalls) return;
  (after ? p->t1 : p->t0)[call] = t;
}

rt_prof *rt_prof_new(int32_t ncalls) {
  if (ncalls < 0) return NULL;
  rt_prof *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  size_t n = (size_t)ncalls + 1;
  p->hook = prof_hook;
  p->ncalls = ncalls;
  p->t0 = malloc(n * sizeof *p->t0);
  p->t1 = malloc(n * sizeof *p->t1);
  p->runs = calloc(n, sizeof *p->runs);
  p->total_us = calloc(n, sizeof *p->total_us);
  p->min_us = calloc(n, sizeof *p->min_us);
  if (!p->t0 || !p->t1 || !p->runs || !p->total_us || !p->min_us) {
    rt_prof_free(p);
    return NULL;
  }
  rt_prof_begin_run(p);
  return p;
}

void rt_prof_free(rt_prof *p) {
  if (!p) return;
  free(p->t0);
  free(p->t1);
  free(p->runs);
  free(p->total_us);
  free(p->min_us);
  free(p);
}

void rt_prof_begin_run(rt_prof *p) {
  for (int32_t i = 0; i < p->ncalls; i++) p->t0[i] = p->t1[i] = -1;
  p->run_start = now_ns();
}

void rt_prof_end_run(rt_prof *p) {
  for (int32_t i = 0; i < p->ncalls; i++) {
    if (p->t0[i] < 0 || p->t1[i] < p->t0[i]) continue;
    double us = (double)(p->t1[i] - p->t0[i]) / 1e3;
    p->min_us[i] = p->runs[i] && p->min_us[i] < us ? p->min_us[i] : us;
    p->total_us[i] += us;
    p->runs[i]++;
  }
}

int rt_prof_call(const rt_prof *p, int32_t i, double *start_us, double *dur_us, int64_t *runs,
                 double *total_us, double *min_us) {
  if (i < 0 || i >= p->ncalls) return 0;
  bool ran = p->t0[i] >= 0 && p->t1[i] >= p->t0[i];
  if (start_us) *start_us = ran ? (double)(p->t0[i] - p->run_start) / 1e3 : 0;
  if (dur_us) *dur_us = ran ? (double)(p->t1[i] - p->t0[i]) / 1e3 : -1;
  if (runs) *runs = p->runs[i];
  if (total_us) *total_us = p->total_us[i];
  if (min_us) *min_us = p->runs[i] ? p->min_us[i] : 0;
  return ran;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s) {
  int n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
        : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 2 && s[0] < 0xC2) return 0;          /* overlong */
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
  if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || s[0] > 0xF4 || (s[0] == 0xF4 && s[1] >= 0x90)))
    return 0;
  return n;
}

/* A JSON string: quotes, backslashes and control characters escaped, invalid
 * UTF-8 replaced by U+FFFD, so that any node name gives valid JSON. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c;) {
    if (*c == '"' || *c == '\\') {
      fputc('\\', f);
      fputc(*c++, f);
    } else if (*c < 0x20 || *c == 0x7f) {
      fprintf(f, "\\u%04x", *c++);
    } else {
      int n = utf8_len(c);
      if (n) fwrite(c, 1, (size_t)n, f), c += n;
      else fputs("\\ufffd", f), c++;
    }
  }
  fputc('"', f);
}

int rt_prof_write_json(const rt_prof *p, const rt_call_info *calls, const char *path, char *err,
                       size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  long pid = (long)getpid();
  int first = 1;
  fputs("[\n", f);
  for (int32_t i = 0; i < p->ncalls; i++) {
    double ts, dur, total, mn;
    int64_t runs;
    if (!rt_prof_call(p, i, &ts, &dur, &runs, &total, &mn)) continue;
    const rt_call_info *c = &calls[i];
    fputs(first ? "" : ",\n", f);
    first = 0;
    /* "NAME (OP)"; the op alone for a nameless node; the kernel for a copy */
    fputs("{\"name\":", f);
    if (c->name[0] && c->op[0]) {
      size_t n = strlen(c->name) + strlen(c->op) + 4;
      char *label = malloc(n);
      if (label) snprintf(label, n, "%s (%s)", c->name, c->op);
      json_str(f, label ? label : c->name);
      free(label);
    } else {
      json_str(f, c->op[0] ? c->op : c->kernel);
    }
    fputs(",\"cat\":", f);
    json_str(f, c->op[0] ? c->op : "copy");
    fprintf(f, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%ld,\"tid\":1,\"args\":{\"op\":", ts,
            dur, pid);
    json_str(f, c->op);
    fputs(",\"kernel\":", f);
    json_str(f, c->kernel);
    fprintf(f, ",\"call\":%d,\"node_index\":%d,\"runs\":%lld,\"mean_us\":%.3f,\"min_us\":%.3f}}",
            (int)i, (int)c->node_index, (long long)runs, runs ? total / (double)runs : 0.0, mn);
  }
  fputs("\n]\n", f);
  int bad = ferror(f);
  if (fclose(f) || bad) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* ---- MoE routing statistics ------------------------------------------------------------ */
struct rt_stats {
  int32_t ncalls;
  int64_t **slot;          /* per call: its counters, or NULL (ctx->stats) */
  int64_t *counts;
  size_t ncounts;
};

rt_stats *rt_stats_new(int32_t ncalls, const rt_call_info *calls) {
  if (ncalls < 0 || (ncalls && !calls)) return NULL;
  rt_stats *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ncalls = ncalls;
  for (int32_t i = 0; i < ncalls; i++)
    if (calls[i].moe_experts > 0) s->ncounts += RT_MOE_STATS_LEN((size_t)calls[i].moe_experts);
  s->slot = calloc((size_t)ncalls + 1, sizeof *s->slot);
  s->counts = calloc(s->ncounts + 1, sizeof *s->counts);
  if (!s->slot || !s->counts) {
    rt_stats_free(s);
    return NULL;
  }
  size_t off = 0;
  for (int32_t i = 0; i < ncalls; i++) {
    if (calls[i].moe_experts <= 0) continue;
    s->slot[i] = s->counts + off;
    off += RT_MOE_STATS_LEN((size_t)calls[i].moe_experts);
  }
  return s;
}

void rt_stats_free(rt_stats *s) {
  if (!s) return;
  free(s->slot);
  free(s->counts);
  free(s);
}

void *rt_stats_table(rt_stats *s) { return s->slot; }

void rt_stats_reset(rt_stats *s) { memset(s->counts, 0, s->ncounts * sizeof *s->counts); }

const int64_t *rt_stats_counts(const rt_stats *s, int32_t i) {
  return i >= 0 && i < s->ncalls ? s->slot[i] : NULL;
}

void rt_stats_print(const rt_stats *s, const rt_call_info *calls, FILE *f) {
  for (int32_t i = 0; i < s->ncalls; i++) {
    const int64_t *n = s->slot[i];
    if (!n) continue;
    const rt_call_info *c = &calls[i];
    int32_t E = c->moe_experts;
    char label[2 * RT_PRINTABLE_MAX + 8];
    int64_t routed = 0;
    for (int32_t e = 0; e < E; e++) routed += n[e];
    fprintf(f, "moe %s: rows=%lld k=%d experts=%d\n", rt_call_label(c, label, sizeof label),
            (long long)c->moe_rows, (int)c->moe_k, (int)E);
    fprintf(f, "  rows per expert:");
    for (int32_t e = 0; e < E; e++) fprintf(f, " %lld", (long long)n[e]);
    fprintf(f, "\n  routed=%lld over_capacity=%lld dropped_rows=%lld\n", (long long)routed,
            (long long)n[E], (long long)n[E + 1]);
  }
}
