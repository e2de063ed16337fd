// CUDA versions of the op_src/lib kernels (neighbor_list.h, env_mat.h, prod_force_virial.h).
//
// Same arguments, layouts and results as the CPU kernels, with three differences:
//   * array arguments are device pointers (small attribute arrays such as sel stay on the
//     host), work is queued on `stream` and nothing synchronises;
//   * bad input found while the kernels run (a type index out of range, a non-finite
//     coordinate, overlapping atoms, ...) cannot throw: it is recorded in a device-side
//     Status, which the caller reads back whenever it synchronises anyway and turns into an
//     error with status_message(). Bad host-side arguments still throw InputError;
//   * scatter sums onto neighbour atoms (forces on j, atomic virials) use double-precision
//     atomicAdd, so those sums are reproducible to rounding (~1e-16 relative), not bitwise.
//     The gathers (forces on the centre, env_mat, the gradients) match the CPU bit for bit
//     when built with -fmad=false, as op_src/CMakeLists.txt and setup.py do.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "../tabulate.h"

namespace deepkit {
namespace gpu {

// Limits of the GPU neighbour search: types per model, and atoms (periodic images
// included) within rcut of one centre, which are ranked in shared memory.
constexpr int kMaxTypes = 64;
constexpr int kMaxCandidates = 512;

enum StatusCode : int {
  kOk = 0,
  kBadType = 1,           // a = atom, b = its type
  kNonFiniteCoord = 2,    // a = atom
  kBadBox = 3,            // box singular or not finite
  kOverlap = 4,           // a, b = atoms at the same position
  kTooManyCandidates = 5, // a = centre, b = atoms within rcut
  kBadNlist = 6,          // a = centre, b = offending entry
};

// First error found on the device; code kOk when the input was fine. Zero it before use.
struct Status {
  int code;
  int a;
  int b;
  int c;
};

// One line naming what was wrong, as the CPU kernels' InputError would; mixed_types: the
// neighbour search ran in mixed mode, where a type is only required to be >= 0.
std::string status_message(const Status& status, int ntypes, int nall, bool mixed_types = false);

// Scratch bytes build_neighbor_list needs for natoms atoms.
size_t neighbor_list_workspace_bytes(int natoms);

// box: device pointer to 9 doubles, or nullptr; an all-zero box is non-periodic, as on the
// CPU. sel: host array of ntypes entries (ntypes <= kMaxTypes); with mixed_types exactly
// one, whose slots neighbours of any type share (neighbor_list.h).
void build_neighbor_list(int* nlist, double* rij, int* max_count, Status* status,
                         void* workspace, const double* coord, const int* atype,
                         const double* box, int natoms, int ntypes, const int* sel, double rcut,
                         bool mixed_types, cudaStream_t stream);

void env_mat(double* em, double* em_deriv, Status* status, const double* rij, const int* nlist,
             const int* atype, const double* avg, const double* std, int nloc, int nnei,
             int ncomp, int ntypes, double rcut_smth, double rcut, cudaStream_t stream);

void prod_force(double* force, Status* status, const double* net_deriv, const double* em_deriv,
                const int* nlist, int nloc, int nall, int nnei, int ncomp, cudaStream_t stream);

void prod_virial(double* virial, double* atom_virial, Status* status, const double* net_deriv,
                 const double* em_deriv, const double* rij, const int* nlist, int nloc, int nall,
                 int nnei, int ncomp, cudaStream_t stream);

// prod_force and prod_virial in one pass over em_deriv (the largest array of a step).
void prod_force_virial(double* force, double* virial, double* atom_virial, Status* status,
                       const double* net_deriv, const double* em_deriv, const double* rij,
                       const int* nlist, int nloc, int nall, int nnei, int ncomp,
                       cudaStream_t stream);

// env_mat accepts em_deriv == nullptr (em only). prod_force_virial_rij is
// prod_force_virial with em_deriv recomputed from rij (what env_mat would have written, the
// same arithmetic) instead of read: 60 rather than 156 bytes per slot for the pair.
void prod_force_virial_rij(double* force, double* virial, double* atom_virial, Status* status,
                           const double* net_deriv, const double* rij, const int* nlist,
                           const int* atype, const double* std, int nloc, int nall, int nnei,
                           int ncomp, double rcut_smth, double rcut, cudaStream_t stream);

// The reverse-list form of prod_force_virial (../reverse_list.h): build_reverse_list once per
// neighbour list (offsets: nall + 1 ints; slots: nloc * nnei ints; workspace:
// reverse_list_workspace_bytes), slot_gradients (3 doubles per slot), then
// prod_force_virial_gather gives force and atomic virial without floating-point atomics,
// equal bit for bit to the host reference, and the virial.
size_t reverse_list_workspace_bytes(int nall);

void build_reverse_list(int* offsets, int* slots, Status* status, void* workspace,
                        const int* nlist, int nloc, int nall, int nnei, cudaStream_t stream);

void slot_gradients(double* slot_g, const double* net_deriv, const double* em_deriv,
                    const int* nlist, long nslots, int ncomp, cudaStream_t stream);

void prod_force_virial_gather(double* force, double* virial, double* atom_virial,
                              const int* offsets, const int* slots, const double* slot_g,
                              const double* rij, const int* nlist, int nloc, int nall, int nnei,
                              cudaStream_t stream);

void prod_force_grad(double* grad_net, const double* grad_force, const double* em_deriv,
                     const int* nlist, int nloc, int nall, int nnei, int ncomp,
                     cudaStream_t stream);

void prod_virial_grad(double* grad_net, const double* grad_virial,
                      const double* grad_atom_virial, const double* em_deriv, const double* rij,
                      const int* nlist, int nloc, int nall, int nnei, int ncomp,
                      cudaStream_t stream);

// Model compression (../tabulate.h): same arguments; `table`, x, rows and the gradients are
// device arrays, info a host struct. Every output is a sum in a fixed order (no atomics).
void tabulate_fusion(double* out, const double* table, const TableInfo& info, const double* x,
                     const double* rows, int n, int nnei, int ncomp, cudaStream_t stream);

void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp, cudaStream_t stream);

void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp,
                               cudaStream_t stream);

}  // namespace gpu
}  // namespace deepkit
