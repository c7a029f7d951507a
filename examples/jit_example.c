/* jit_example.c - using mixc from a C program: JIT-compile a model file, list
 * its inputs and outputs, fill every input with a deterministic pattern, run
 * it, and print the first values of every output.
 *
 *   jit_example MODEL [NAME=VALUE ...] [--interp] [--threads N] [--profile FILE] [--stats]
 *
 * NAME=VALUE binds a symbolic input dim (e.g. batch=2); --interp runs the
 * reference kernels instead of the JIT; --threads N sizes the session's
 * thread pool (default: every core); --profile FILE writes the run's per-call
 * times as a Chrome trace and prints the three slowest calls; --stats prints
 * how many rows each expert of each routed MoE layer received. Exits 0 on
 * success, 1 on any failure (with mixc's message on stderr).
 *
 * Requires: only the public API, include/mixc/mixc.h, and libmixc. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mixc/mixc.h>

static void print_info(const char *kind, const mixc_tensor_info *t) {
  printf("  %s %-20s %s[", kind, t->name, mixc_dtype_name(t->dtype));
  for (int j = 0; j < t->rank; j++) printf("%s%lld", j ? "," : "", (long long)t->dims[j]);
  printf("]  %zu bytes\n", t->nbytes);
}

/* Element i of a deterministic pattern: small floats, small non-negative ints. */
static void fill(void *data, mixc_dtype dt, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double v = sin(0.1 * (double)i);
    switch (dt) {
    case MIXC_DTYPE_FLOAT32: ((float *)data)[i] = (float)v; break;
    case MIXC_DTYPE_FLOAT64: ((double *)data)[i] = v; break;
    case MIXC_DTYPE_FLOAT16: ((unsigned short *)data)[i] = 0x3c00; break; /* 1.0 */
    case MIXC_DTYPE_BFLOAT16: ((unsigned short *)data)[i] = 0x3f80; break; /* 1.0 */
    case MIXC_DTYPE_BOOL: ((unsigned char *)data)[i] = i % 2; break;
    case MIXC_DTYPE_INT8: case MIXC_DTYPE_UINT8: ((unsigned char *)data)[i] = (unsigned char)(i % 3); break;
    case MIXC_DTYPE_INT16: case MIXC_DTYPE_UINT16: ((short *)data)[i] = (short)(i % 3); break;
    case MIXC_DTYPE_INT32: case MIXC_DTYPE_UINT32: ((int *)data)[i] = (int)(i % 3); break;
    case MIXC_DTYPE_INT64: case MIXC_DTYPE_UINT64: ((long long *)data)[i] = (long long)(i % 3); break;
    default: break;
    }
  }
}

static void print_values(const void *data, mixc_dtype dt, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (dt) {
    case MIXC_DTYPE_FLOAT32: printf(" %.6g", ((const float *)data)[i]); break;
    case MIXC_DTYPE_FLOAT64: printf(" %.6g", ((const double *)data)[i]); break;
    case MIXC_DTYPE_INT64: printf(" %lld", ((const long long *)data)[i]); break;
    case MIXC_DTYPE_INT32: printf(" %d", ((const int *)data)[i]); break;
    case MIXC_DTYPE_BOOL: case MIXC_DTYPE_UINT8: printf(" %u", ((const unsigned char *)data)[i]); break;
    default: printf(" ?"); break;
    }
  }
  printf("\n");
}

/* Writes the Chrome trace and prints the three slowest calls. */
static int report_profile(const mixc_session *s, const mixc_model *m, const char *path) {
  if (mixc_session_write_profile(s, path) != MIXC_OK) {
    fprintf(stderr, "%s\n", mixc_last_error());
    return 1;
  }
  int n = mixc_model_num_calls(m), top[3] = {-1, -1, -1};
  double dur[3] = {-1, -1, -1};
  for (int i = 0; i < n; i++) {
    mixc_call_profile p;
    mixc_session_call_profile(s, i, &p);
    for (int k = 0; k < 3; k++)
      if (p.dur_us > dur[k]) {
        for (int j = 2; j > k; j--) dur[j] = dur[j - 1], top[j] = top[j - 1];
        dur[k] = p.dur_us, top[k] = i;
        break;
      }
  }
  printf("profile: %d calls -> %s; slowest:\n", n, path);
  for (int k = 0; k < 3 && top[k] >= 0; k++) {
    mixc_call_profile p;
    mixc_session_call_profile(s, top[k], &p);
    printf("  %9.1f us  %s (%s, %s)\n", p.dur_us, p.node, p.op, p.kernel);
  }
  return 0;
}

/* Rows per expert of every routed MoE layer. */
static int report_stats(const mixc_session *s, const mixc_model *m) {
  int n = mixc_model_num_moe_layers(m);
  printf("routed MoE layers: %d\n", n);
  for (int l = 0; l < n; l++) {
    mixc_moe_stats st;
    if (mixc_session_moe_stats(s, l, &st) != MIXC_OK) {
      fprintf(stderr, "%s\n", mixc_last_error());
      return 1;
    }
    printf("  %s: %lld rows, top-%d of %d experts; rows per expert:", st.node, (long long)st.rows,
           st.k, st.num_experts);
    for (int e = 0; e < st.num_experts; e++) printf(" %lld", (long long)st.expert_rows[e]);
    printf("; %lld over capacity, %lld dropped\n", (long long)st.over_capacity,
           (long long)st.dropped_rows);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr, "usage: %s MODEL [NAME=VALUE ...] [--interp] [--threads N] [--profile FILE] [--stats]\n",
            argv[0]);
    return argc < 2 ? 1 : 0;
  }
  mixc_options opts = {0};
  const char *profile = NULL;
  int stats = 0;
  mixc_dim_binding *dims = calloc((size_t)argc, sizeof *dims);
  for (int i = 2; i < argc; i++) {
    char *eq = strchr(argv[i], '=');
    if (!strcmp(argv[i], "--interp")) {
      opts.interpret = 1;
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      opts.threads = atoi(argv[++i]); /* mixc_compile_file checks the range */
    } else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
      profile = argv[++i];
    } else if (!strcmp(argv[i], "--stats")) {
      stats = 1;
    } else if (eq) {
      *eq = 0;
      dims[opts.num_dims].name = argv[i];
      dims[opts.num_dims++].value = atoll(eq + 1);
    } else {
      fprintf(stderr, "unexpected argument '%s'\n", argv[i]);
      return 1;
    }
  }
  opts.dims = dims;

  printf("mixc %s\n", mixc_version());
  mixc_model *model;
  mixc_status st = mixc_compile_file(argv[1], &opts, &model);
  free(dims);
  if (st != MIXC_OK) {
    fprintf(stderr, "compile failed (%s):\n%s\n", mixc_status_string(st), mixc_last_error());
    return 1;
  }

  int nin = mixc_model_num_inputs(model), nout = mixc_model_num_outputs(model);
  mixc_tensor *in = calloc((size_t)nin + 1, sizeof *in), *out = calloc((size_t)nout + 1, sizeof *out);
  for (int k = 0; k < 2; k++) {
    int n = k ? nout : nin;
    for (int i = 0; i < n; i++) {
      mixc_tensor_info t;
      if (k) mixc_model_output(model, i, &t);
      else mixc_model_input(model, i, &t);
      print_info(k ? "output" : "input ", &t);
      mixc_tensor *x = k ? &out[i] : &in[i];
      /* Caller-owned buffers; malloc's alignment suits every element type. */
      *x = (mixc_tensor){t.name, t.dtype, t.rank, t.dims, malloc(t.nbytes ? t.nbytes : 1), t.nbytes};
      if (!k) fill(x->data, t.dtype, t.nbytes / mixc_dtype_size(t.dtype));
    }
  }

  /* One session per concurrent caller; the model itself can be shared. The
   * session owns its thread pool, and its profile and statistics if asked. */
  mixc_session *session = NULL;
  int rc = 0;
  if ((st = mixc_session_create(model, &session)) != MIXC_OK ||
      (profile && (st = mixc_session_set_profiling(session, 1)) != MIXC_OK) ||
      (stats && (st = mixc_session_set_moe_stats(session, 1)) != MIXC_OK) ||
      (st = mixc_run(session, in, (size_t)nin, out, (size_t)nout)) != MIXC_OK) {
    fprintf(stderr, "run failed (%s): %s\n", mixc_status_string(st), mixc_last_error());
    rc = 1;
  } else {
    for (int i = 0; i < nout; i++) {
      size_t n = out[i].nbytes / mixc_dtype_size(out[i].dtype);
      printf("%s:", out[i].name);
      print_values(out[i].data, out[i].dtype, n < 8 ? n : 8);
    }
  }
  if (!rc && profile) rc = report_profile(session, model, profile);
  if (!rc && stats) rc = report_stats(session, model);
  mixc_session_free(session);
  for (int i = 0; i < nin; i++) free(in[i].data);
  for (int i = 0; i < nout; i++) free(out[i].data);
  free(in);
  free(out);
  mixc_model_free(model);
  return rc;
}
