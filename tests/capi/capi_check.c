/* Test driver for the deepkit C API (tests/test_capi.py builds and runs it).
 *
 *   capi_check MODEL DIR compute|threads|repeat N|errors|capped MIB DIR2|tensor
 *   capi_check load MODEL...   one line per model: "MODEL: loaded" or "MODEL: <error>"
 *
 * capped: computes DIR once, then caps the address space (RLIMIT_AS) at the current size
 * plus MIB MiB and computes DIR2, which needs more: prints "capped: CODE MESSAGE" and exits
 * 0 when that gave an error code (not an abort).
 *
 * DIR holds meta.txt ("nframes natoms nloc has_box nnz nfparam naparam") and raw arrays
 * written by numpy: coord.bin, atype.bin (int32), box.bin, offsets.bin and neighbors.bin
 * (int32), fparam.bin and aparam.bin (per frame / per atom, when nfparam / naparam). Results go
 * to DIR/out_*.bin. Exit status 0 on success, 1 with the message on stderr otherwise.
 * tensor: dk_compute_tensor into out_tensor, out_atom_tensor, out_tensor_force and
 * out_tensor_virial.bin, after printing what dk_compute says of the same model. */
#include <deepkit_c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
  int nframes, natoms, nloc, has_box, nnz, nfparam, naparam;
  double *coord, *box, *fparam, *aparam;
  int *atype, *offsets, *neighbors;
} Case;

static void free_case(Case* c) {
  free(c->coord);
  free(c->box);
  free(c->atype);
  free(c->offsets);
  free(c->neighbors);
  free(c->fparam);
  free(c->aparam);
}

static void* read_array(const char* dir, const char* name, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  void* data = malloc(bytes ? bytes : 1);
  FILE* f = fopen(path, "rb");
  if (!f || fread(data, 1, bytes, f) != bytes) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  return data;
}

static void write_array(const char* dir, const char* name, const double* data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/out_%s.bin", dir, name);
  FILE* f = fopen(path, "wb");
  fwrite(data, sizeof(double), n, f);
  fclose(f);
}

static Case read_case(const char* dir) {
  Case c;
  char path[4096];
  snprintf(path, sizeof path, "%s/meta.txt", dir);
  FILE* f = fopen(path, "r");
  if (!f || fscanf(f, "%d %d %d %d %d %d %d", &c.nframes, &c.natoms, &c.nloc, &c.has_box, &c.nnz,
                  &c.nfparam, &c.naparam) != 7) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  c.coord = read_array(dir, "coord.bin", sizeof(double) * 3 * c.nframes * c.natoms);
  c.atype = read_array(dir, "atype.bin", sizeof(int) * c.natoms);
  c.box = c.has_box ? read_array(dir, "box.bin", sizeof(double) * 9 * c.nframes) : NULL;
  c.offsets = c.nloc ? read_array(dir, "offsets.bin", sizeof(int) * (c.nloc + 1)) : NULL;
  c.neighbors = c.nloc ? read_array(dir, "neighbors.bin", sizeof(int) * c.nnz) : NULL;
  const int centres = c.nloc ? c.nloc : c.natoms;
  c.fparam = c.nfparam ? read_array(dir, "fparam.bin", sizeof(double) * c.nframes * c.nfparam) : NULL;
  c.aparam = c.naparam ? read_array(dir, "aparam.bin", sizeof(double) * c.nframes * centres * c.naparam)
                       : NULL;
  return c;
}

static long size_kib(int field) { /* /proc/self/statm: 0 total (VmSize), 1 resident */
  long values[2] = {0, 0};
  FILE* f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &values[0], &values[1]) != 2) values[field] = 0;
    fclose(f);
  }
  return values[field] * (sysconf(_SC_PAGESIZE) / 1024);
}

static long resident_kib(void) { return size_kib(1); }

typedef struct {
  double *energy, *force, *virial, *atom_energy, *atom_virial;
} Result;

static Result new_result(const Case* c) {
  const size_t n = (size_t)c->nframes * c->natoms;
  Result r = {calloc(c->nframes, sizeof(double)), calloc(3 * n, sizeof(double)),
              calloc(9 * c->nframes, sizeof(double)), calloc(n, sizeof(double)),
              calloc(9 * n, sizeof(double))};
  return r;
}

static void free_result(Result* r) {
  free(r->energy);
  free(r->force);
  free(r->virial);
  free(r->atom_energy);
  free(r->atom_virial);
}

static int compute(const dk_model* m, const Case* c, Result* r) {
  if (c->nloc) {
    return dk_compute_nlist(m, c->natoms, c->nloc, c->coord, c->atype, c->offsets, c->neighbors,
                            c->fparam, c->aparam, r->energy, r->force, r->virial, r->atom_energy,
                            r->atom_virial);
  }
  return dk_compute(m, c->nframes, c->natoms, c->coord, c->atype, c->box, c->fparam, c->aparam, r->energy,
                    r->force, r->virial, r->atom_energy, r->atom_virial);
}

typedef struct {
  const dk_model* model;
  const Case* c;
  Result result;
  int status;
} Job;

static void* run_job(void* arg) {
  Job* job = arg;
  for (int k = 0; k < 5 && job->status == 0; ++k) job->status = compute(job->model, job->c, &job->result);
  return NULL;
}

static int same(const Result* a, const Result* b, const Case* c) {
  const size_t n = (size_t)c->nframes * c->natoms;
  return !memcmp(a->energy, b->energy, sizeof(double) * c->nframes) &&
         !memcmp(a->force, b->force, sizeof(double) * 3 * n) &&
         !memcmp(a->virial, b->virial, sizeof(double) * 9 * c->nframes);
}

/* Every bad input must give an error code and a message, never a crash. */
static int check_errors(const dk_model* m, const Case* c, const char* dir) {
  Result r = new_result(c);
  int bad_type[1] = {dk_ntypes(m)};
  double nan_coord[3] = {0.0 / 0.0, 0, 0};
  int failures = 0;
#define EXPECT_ERROR(call, what)                                                    \
  do {                                                                              \
    int code = (call);                                                              \
    printf("%s: %d %s\n", what, code, dk_last_error());                             \
    if (code == DK_OK || dk_last_error()[0] == '\0') ++failures;                    \
  } while (0)
  EXPECT_ERROR(dk_compute(m, 1, 0, c->coord, c->atype, c->box, NULL, NULL, r.energy, r.force,
                          r.virial, NULL, NULL), "natoms 0");
  EXPECT_ERROR(dk_compute(m, 1, 1, c->coord, bad_type, NULL, NULL, NULL, r.energy, r.force,
                          r.virial, NULL, NULL), "bad type");
  EXPECT_ERROR(dk_compute(m, 1, 1, nan_coord, c->atype, NULL, NULL, NULL, r.energy, r.force,
                          r.virial, NULL, NULL), "nan coord");
  EXPECT_ERROR(dk_compute(m, 1, c->natoms, c->coord, c->atype, c->box, NULL, NULL, NULL,
                          r.force, r.virial, NULL, NULL), "null energy");
  double flat_box[9] = {1, 0, 0, 2, 0, 0, 0, 0, 1};
  EXPECT_ERROR(dk_compute(m, 1, c->natoms, c->coord, c->atype, flat_box, NULL, NULL, r.energy,
                          r.force, r.virial, NULL, NULL), "singular box");
  double tiny_box[9] = {0.05, 0, 0, 0, 0.05, 0, 0, 0, 0.05};
  EXPECT_ERROR(dk_compute(m, 1, c->natoms, c->coord, c->atype, tiny_box, NULL, NULL, r.energy,
                          r.force, r.virial, NULL, NULL), "tiny box");
  int offsets[3] = {0, 1, 1}, neighbors[1] = {5};
  EXPECT_ERROR(dk_compute_nlist(m, 2, 2, c->coord, c->atype, offsets, neighbors, NULL, NULL,
                                r.energy, r.force, r.virial, NULL, NULL), "neighbour out of range");
  EXPECT_ERROR(dk_compute_nlist(m, 2, 3, c->coord, c->atype, offsets, neighbors, NULL, NULL,
                                r.energy, r.force, r.virial, NULL, NULL), "nloc > nall");
  EXPECT_ERROR(dk_compute(NULL, 1, 1, c->coord, c->atype, NULL, NULL, NULL, r.energy, r.force,
                          r.virial, NULL, NULL), "null model");
  const int null_ok = dk_rcut(NULL) == 0 && dk_ntypes(NULL) == 0 && !dk_type_map(NULL)[0] &&
                      dk_type_index(NULL, "O") == -1 && !dk_has_nlist_path(NULL);
  printf("null metadata: %s\n", null_ok ? "0 safe" : "1 unsafe");
  if (!null_ok) ++failures;
  dk_model* missing = dk_load("/nonexistent/model.pb", 1, 1);
  printf("bad path: %p %s\n", (void*)missing, dk_last_error());
  if (missing != NULL || dk_last_error()[0] == '\0') ++failures;
  char meta[4096];
  snprintf(meta, sizeof meta, "%s/meta.txt", dir);
  dk_model* not_a_model = dk_load(meta, 1, 1);
  printf("not a model: %p %s\n", (void*)not_a_model, dk_last_error());
  if (not_a_model != NULL) ++failures;
  dk_model* directory = dk_load(dir, 1, 1);
  printf("directory: %p %s\n", (void*)directory, dk_last_error());
  if (directory != NULL) ++failures;
  dk_model* device = dk_load("/dev/null", 1, 1);
  printf("device: %p %s\n", (void*)device, dk_last_error());
  if (device != NULL) ++failures;
  free_result(&r);
  return failures;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "load") == 0) {
    for (int k = 2; k < argc; ++k) {
      dk_model* m = dk_load(argv[k], 1, 1);
      printf("%s: %s\n", argv[k], m ? "loaded" : dk_last_error());
      dk_free(m);
    }
    return 0;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL DIR compute|threads|repeat N|errors\n", argv[0]);
    return 2;
  }
  const char *path = argv[1], *dir = argv[2], *mode = argv[3];
  Case c = read_case(dir);
  if (strcmp(mode, "repeat") == 0) {
    /* load / compute / free n times; prints the resident memory after the first tenth and
     * at the end, for a leak check without valgrind */
    const int n = argc > 4 ? atoi(argv[4]) : 100;
    for (int k = 0; k < n; ++k) {
      if (k == n / 10) printf("rss_kib_early %ld\n", resident_kib());
      dk_model* m = dk_load(path, 1, 1);
      Result r = new_result(&c);
      if (!m || compute(m, &c, &r) != DK_OK) {
        fprintf(stderr, "repeat %d: %s\n", k, dk_last_error());
        return 1;
      }
      free_result(&r);
      dk_free(m);
    }
    printf("rss_kib_end %ld\n", resident_kib());
    free_case(&c);
    return 0;
  }
  dk_model* m = dk_load(path, 0, 0);
  if (!m) {
    fprintf(stderr, "%s\n", dk_last_error());
    return 1;
  }
  printf("version %s model %s rcut %g ntypes %d type_map %s compressed %d nlist %d\n",
         dk_version(), dk_model_version(m), dk_rcut(m), dk_ntypes(m), dk_type_map(m),
         dk_is_compressed(m), dk_has_nlist_path(m));
  int status = 0;
  if (strcmp(mode, "tensor") == 0) {
    const int n = dk_tensor_size(m);
    const size_t atoms = (size_t)c.nframes * c.natoms;
    printf("tensor_size %d\n", n);
    Result e = new_result(&c);
    const int energy_code = compute(m, &c, &e);
    printf("dk_compute: %d %s\n", energy_code, dk_last_error());
    free_result(&e);
    const size_t k = n > 0 ? (size_t)n : 1;
    double* tensor = calloc(k * c.nframes, sizeof(double));
    double* atomic = calloc(k * atoms, sizeof(double));
    double* force = calloc(3 * k * atoms, sizeof(double));
    double* virial = calloc(9 * k * c.nframes, sizeof(double));
    status = dk_compute_tensor(m, c.nframes, c.natoms, c.coord, c.atype, c.box, tensor, atomic,
                               force, virial);
    if (status != DK_OK) {
      printf("dk_compute_tensor: %d %s\n", status, dk_last_error());
    } else {
      write_array(dir, "tensor", tensor, k * c.nframes);
      write_array(dir, "atom_tensor", atomic, k * atoms);
      write_array(dir, "tensor_force", force, 3 * k * atoms);
      write_array(dir, "tensor_virial", virial, 9 * k * c.nframes);
    }
    free(tensor);
    free(atomic);
    free(force);
    free(virial);
  } else if (strcmp(mode, "errors") == 0) {
    status = check_errors(m, &c, dir);
  } else if (strcmp(mode, "capped") == 0 && argc > 5) {
    Result warm = new_result(&c);
    status = compute(m, &c, &warm); /* threads and pools exist before the cap */
    Case big = read_case(argv[5]);
    Result r = new_result(&big);
    const rlim_t cap = (rlim_t)(size_kib(0) + 1024L * atol(argv[4])) * 1024;
    const struct rlimit limit = {cap, cap};
    if (status == DK_OK && setrlimit(RLIMIT_AS, &limit) == 0) {
      const int code = compute(m, &big, &r);
      printf("capped: %d %s\n", code, dk_last_error());
      status = code != DK_OK && dk_last_error()[0] != '\0' ? 0 : 1;
    } else {
      fprintf(stderr, "warm-up or setrlimit failed: %s\n", dk_last_error());
      status = 1;
    }
    free_result(&warm);
    free_result(&r);
    free_case(&big);
  } else if (strcmp(mode, "threads") == 0) {
    enum { kThreads = 4 };
    Job jobs[kThreads];
    pthread_t threads[kThreads];
    for (int t = 0; t < kThreads; ++t) {
      jobs[t] = (Job){m, &c, new_result(&c), 0};
      pthread_create(&threads[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < kThreads; ++t) pthread_join(threads[t], NULL);
    Result alone = new_result(&c);
    status = compute(m, &c, &alone);
    for (int t = 0; t < kThreads && status == 0; ++t) {
      if (jobs[t].status != DK_OK || !same(&jobs[t].result, &alone, &c)) status = 1;
    }
    printf("threads agree: %s\n", status == 0 ? "yes" : "no");
    for (int t = 0; t < kThreads; ++t) free_result(&jobs[t].result);
    free_result(&alone);
  } else {
    Result r = new_result(&c);
    status = compute(m, &c, &r);
    if (status != DK_OK) {
      fprintf(stderr, "%s\n", dk_last_error());
    } else {
      const size_t n = (size_t)c.nframes * c.natoms;
      const size_t nloc = c.nloc ? (size_t)c.nloc : n;
      write_array(dir, "energy", r.energy, c.nframes);
      write_array(dir, "force", r.force, 3 * n);
      write_array(dir, "virial", r.virial, 9 * c.nframes);
      write_array(dir, "atom_energy", r.atom_energy, nloc);
      write_array(dir, "atom_virial", r.atom_virial, 9 * n);
    }
    free_result(&r);
  }
  dk_free(m);
  free_case(&c);
  return status == 0 ? 0 : 1;
}
