/* deepkit C API: energies, forces and virials from frozen deepkit models (.pb, compressed
 * or not) for MD engines and other C/C++ programs; dipoles and polarizabilities from tensor
 * models (dk_compute_tensor).
 *
 * Compile and link with the flags deepkit prints:
 *   cc md.c $(deepkit config --cflags) $(deepkit config --libs) -o md
 *
 * Units: Angstrom, eV, eV/Angstrom; double precision throughout. Arrays are row-major:
 * coord (nframes, natoms, 3), box (nframes, 3, 3) with the cell vectors as rows, virial
 * (nframes, 9) = -sum_i r_i (x) f_i in DeePMD-kit's convention.
 *
 * Errors: functions that can fail return DK_OK (0) or a nonzero dk_status; dk_load returns
 * NULL. dk_last_error() then gives a one-line message for the calling thread. No function
 * exits, aborts or lets a C++ exception out, on bad input or bad model files alike; running
 * out of memory gives DK_ERR_RUNTIME.
 *
 * Threads: a loaded model is read-only; dk_compute and dk_compute_nlist may be called on
 * one handle from several threads at once (TensorFlow runs the calls concurrently, each
 * with its own buffers). The error message is per thread. Load and free a handle from one
 * thread, with no computation running on it. TensorFlow's thread pools are sized by
 * dk_load's arguments, deepkit's own kernels by OMP_NUM_THREADS.
 */
#ifndef DEEPKIT_C_H_
#define DEEPKIT_C_H_

#ifdef __cplusplus
extern "C" {
#endif

/* The library exports these functions only (built with hidden visibility otherwise). */
#if defined(__GNUC__)
#define DK_API __attribute__((visibility("default")))
#else
#define DK_API
#endif

typedef struct dk_model dk_model;

typedef enum dk_status {
  DK_OK = 0,
  DK_ERR_ARGUMENT = 1, /* bad input: sizes, NULL arrays, type indices, non-finite values,
                          and what the model's ops refuse: a singular box, overlapping
                          atoms, a box too small for rcut (more than max(26 natoms, 2^20)
                          periodic images)                                              */
  DK_ERR_MODEL = 2,    /* the model cannot do this (e.g. no external-list path)        */
  DK_ERR_RUNTIME = 3   /* TensorFlow failed while computing (e.g. out of memory)       */
} dk_status;

/* Version of this library, e.g. "0.3.0". */
DK_API const char* dk_version(void);

/* The last error of the calling thread ("" if none). Valid until its next deepkit call. */
DK_API const char* dk_last_error(void);

/* Loads a frozen model. intra_threads / inter_threads size TensorFlow's pools (0: its
 * default, all cores). Returns NULL on failure (unreadable file, a directory or other
 * non-regular file, not a deepkit model, metadata constants of the wrong type, shape or
 * range: a type map of 1..1024 types, a finite positive rcut, sel >= 0 with sum <= 2^20,
 * 0..65536 frame / atomic parameters).
 * The first call opens TensorFlow (the one installed beside deepkit, else the one it was
 * built against, or $DEEPKIT_TF_LIB_DIR) with TF_CPP_MIN_LOG_LEVEL=2 (start-up log hidden)
 * and TF_CPU_ALLOCATOR_USE_BFC=true (pooled buffers), unless the environment sets them.
 * While TensorFlow opens, stderr is captured and written back without TensorFlow's records
 * below that level (oneDNN's notice, which TF_CPP_MIN_LOG_LEVEL alone cannot hide). */
DK_API dk_model* dk_load(const char* path, int intra_threads, int inter_threads);

/* Frees a model; NULL is allowed. */
DK_API void dk_free(dk_model* model);

/* Metadata: cut-off radius (Angstrom); number of types; element names, space separated;
 * index of an element in the type map (-1 if absent); 1 for a compressed model (tabulated
 * embedding nets); the deepkit version that froze it; frame / atomic parameters the model
 * takes; 1 when dk_compute_nlist is available (models frozen by deepkit >= 0.3). A NULL
 * model gives 0, -1 or "". */
DK_API double dk_rcut(const dk_model* model);
DK_API int dk_ntypes(const dk_model* model);
DK_API const char* dk_type_map(const dk_model* model);
DK_API int dk_type_index(const dk_model* model, const char* element);
DK_API int dk_is_compressed(const dk_model* model);
DK_API const char* dk_model_version(const dk_model* model);
DK_API int dk_numb_fparam(const dk_model* model);
DK_API int dk_numb_aparam(const dk_model* model);
DK_API int dk_has_nlist_path(const dk_model* model);
/* Components of a tensor model's tensor: 3 for a dipole model, 9 for a polar model (3 x 3,
 * row-major); 0 for an energy model. */
DK_API int dk_tensor_size(const dk_model* model);

/* nframes frames of natoms atoms with their own neighbour search (periodic images within
 * rcut included, so boxes shorter than 2 rcut work).
 *   coord   (nframes, natoms, 3)      atype (natoms) indices into the type map
 *   box     (nframes, 9), or NULL for non-periodic frames
 *   fparam  (nframes, numb_fparam), aparam (nframes, natoms, numb_aparam): NULL when the
 *           model has none
 * Outputs: energy (nframes), force (nframes, natoms, 3), virial (nframes, 9); atom_energy
 * (nframes, natoms) and atom_virial (nframes, natoms, 9) only when not NULL. */
DK_API int dk_compute(const dk_model* model, int nframes, int natoms, const double* coord,
               const int* atype, const double* box, const double* fparam,
               const double* aparam, double* energy, double* force, double* virial,
               double* atom_energy, double* atom_virial);

/* One frame with the caller's neighbour list (domain decomposition): atoms 0..nloc-1 are
 * local, nloc..nall-1 ghosts at their actual positions (no box). The candidates of local
 * atom i are neighbors[offsets[i] .. offsets[i+1]), indices in [0, nall), in any order; a
 * list with a skin beyond rcut is fine. offsets has nloc + 1 entries, offsets[0] = 0.
 *   aparam (nloc, numb_aparam) when the model has atomic parameters.
 * Outputs: energy = sum of the local atoms' energies; force (nall, 3) on every atom, the
 * ghosts' to be added to their owners by the caller; virial (9); atom_energy (nloc) and
 * atom_virial (nall, 9) only when not NULL. */
DK_API int dk_compute_nlist(const dk_model* model, int nall, int nloc, const double* coord,
                     const int* atype, const int* offsets, const int* neighbors,
                     const double* fparam, const double* aparam, double* energy,
                     double* force, double* virial, double* atom_energy, double* atom_virial);

/* A tensor model (dk_tensor_size() = n > 0; dk_compute and dk_compute_nlist refuse it with
 * DK_ERR_MODEL, and dk_compute_tensor refuses an energy model alike) on nframes frames of
 * natoms atoms, with its own neighbour search as dk_compute.
 *   coord (nframes, natoms, 3), atype (natoms), box (nframes, 9) or NULL (non-periodic)
 * Outputs: tensor (nframes, n), the global tensor = the sum of the atomic ones; only when
 * not NULL: atom_tensor (nframes, natoms, n), zero for atoms whose type the model does not
 * select (sel_type); tensor_force (nframes, n, natoms, 3) = -d tensor / d coord per
 * component; tensor_virial (nframes, n, 9), each component's virial. */
DK_API int dk_compute_tensor(const dk_model* model, int nframes, int natoms, const double* coord,
                             const int* atype, const double* box, double* tensor,
                             double* atom_tensor, double* tensor_force, double* tensor_virial);

#ifdef __cplusplus
}
#endif

#endif /* DEEPKIT_C_H_ */
