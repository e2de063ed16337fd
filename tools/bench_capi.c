/* Timing of one energy/force/virial call through a C API: deepkit's (deepkit_c.h, linked)
 * or DeePMD-kit's (libdeepmd_c.so, opened with dlopen; its four functions declared below
 * from DeePMD-kit's documented C API). tools/bench_capi.py builds and drives it.
 *
 *   bench_capi deepkit|deepmd[:LIBPATH] MODEL DIR REPS THREADS
 *
 * DIR holds coord.bin (natoms*3 doubles), atype.bin (int32), box.bin (9 doubles).
 * Prints "us_per_atom best mean" over REPS calls after one warm-up call. */
#include <deepkit_c.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct DP_DeepPot DP_DeepPot;
typedef DP_DeepPot* (*dp_new_fn)(const char*);
typedef const char* (*dp_check_fn)(DP_DeepPot*);
typedef void (*dp_compute_fn)(DP_DeepPot*, int, const double*, const int*, const double*,
                              double*, double*, double*, double*, double*);

static long file_size(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  const long n = ftell(f);
  fclose(f);
  return n;
}

static void* read_file(const char* dir, const char* name, long* bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  *bytes = file_size(path);
  void* data = malloc(*bytes > 0 ? *bytes : 1);
  FILE* f = fopen(path, "rb");
  if (!f || fread(data, 1, *bytes, f) != (size_t)*bytes) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  return data;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s deepkit|deepmd:LIB MODEL DIR REPS THREADS\n", argv[0]);
    return 2;
  }
  const char *code = argv[1], *model = argv[2], *dir = argv[3];
  const int reps = atoi(argv[4]), threads = atoi(argv[5]);
  long nb;
  double* coord = read_file(dir, "coord.bin", &nb);
  const int natoms = (int)(nb / (3 * sizeof(double)));
  int* atype = read_file(dir, "atype.bin", &nb);
  double* box = read_file(dir, "box.bin", &nb);
  double energy, virial[9];
  double* force = malloc(sizeof(double) * 3 * natoms);

  dk_model* dk = NULL;
  DP_DeepPot* dp = NULL;
  dp_compute_fn dp_compute = NULL;
  if (strcmp(code, "deepkit") == 0) {
    dk = dk_load(model, threads, 1);
    if (!dk) {
      fprintf(stderr, "%s\n", dk_last_error());
      return 1;
    }
  } else if (strncmp(code, "deepmd:", 7) == 0) {
    void* lib = dlopen(code + 7, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
      fprintf(stderr, "%s\n", dlerror());
      return 1;
    }
    dp_new_fn dp_new = (dp_new_fn)dlsym(lib, "DP_NewDeepPot");
    dp_check_fn dp_check = (dp_check_fn)dlsym(lib, "DP_DeepPotCheckOK");
    dp_compute = (dp_compute_fn)dlsym(lib, "DP_DeepPotCompute");
    dp = dp_new(model);
    const char* error = dp_check(dp);
    if (error && *error) {
      fprintf(stderr, "%s\n", error);
      return 1;
    }
  } else {
    fprintf(stderr, "unknown code %s\n", code);
    return 2;
  }
  double best = 1e300, total = 0;
  for (int k = -1; k < reps; ++k) {
    const double start = now();
    if (dk) {
      if (dk_compute(dk, 1, natoms, coord, atype, box, NULL, NULL, &energy, force, virial,
                     NULL, NULL) != DK_OK) {
        fprintf(stderr, "%s\n", dk_last_error());
        return 1;
      }
    } else {
      dp_compute(dp, natoms, coord, atype, box, &energy, force, virial, NULL, NULL);
    }
    const double seconds = now() - start;
    if (k >= 0) {
      best = seconds < best ? seconds : best;
      total += seconds;
    }
  }
  printf("energy %.10f\n", energy);
  printf("us_per_atom %.2f %.2f\n", 1e6 * best / natoms, 1e6 * total / reps / natoms);
  free(coord);
  free(atype);
  free(box);
  free(force);
  dk_free(dk);
  return 0;
}
