// GPU environment matrix; same arithmetic as op_src/lib/env_mat.cc (shared env_row).
#include <string>

#include "../env_mat.h"
#include "../env_row.h"
#include "../errors.h"
#include "device_util.cuh"
#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {
namespace {

constexpr int kSlotsPerBlock = 128;

// One thread per (centre, slot); outputs are staged in shared memory so that each block
// writes its contiguous range of em and em_deriv with coalesced stores.
__global__ void env_mat_kernel(double* em, double* em_deriv, Status* status, const double* rij,
                               const int* nlist, const int* atype, const double* avg,
                               const double* std, long nslots, int nnei, int ncomp, int ntypes,
                               double rcut_smth, double rcut) {
  __shared__ double stage_em[kSlotsPerBlock * 4];
  __shared__ double stage_deriv[kSlotsPerBlock * 12];
  const long first = static_cast<long>(blockIdx.x) * kSlotsPerBlock;
  const long slot = first + threadIdx.x;
  if (slot < nslots) {
    const long i = slot / nnei;
    const int jj = static_cast<int>(slot - i * nnei);
    int t = atype[i];
    if (t < 0 || t >= ntypes) {
      set_status(status, kBadType, static_cast<int>(i), t);
      t = 0;
    }
    double raw[4] = {0, 0, 0, 0};
    double draw[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    if (nlist[slot] >= 0) env_row(rij + 3 * slot, ncomp, rcut_smth, rcut, raw, draw);
    const long row = static_cast<long>(t) * nnei * ncomp + static_cast<long>(jj) * ncomp;
    for (int c = 0; c < ncomp; ++c) {
      const double inv_std = 1.0 / std[row + c];
      stage_em[threadIdx.x * ncomp + c] = (raw[c] - avg[row + c]) * inv_std;
      for (int e = 0; e < 3; ++e) {
        stage_deriv[(threadIdx.x * ncomp + c) * 3 + e] = draw[3 * c + e] * inv_std;
      }
    }
  }
  __syncthreads();
  const long count = min(static_cast<long>(kSlotsPerBlock), nslots - first);
  for (long k = threadIdx.x; k < count * ncomp; k += blockDim.x) em[first * ncomp + k] = stage_em[k];
  if (em_deriv == nullptr) return;
  for (long k = threadIdx.x; k < count * ncomp * 3; k += blockDim.x) {
    em_deriv[first * ncomp * 3 + k] = stage_deriv[k];
  }
}

}  // namespace

void env_mat(double* em, double* em_deriv, Status* status, const double* rij, const int* nlist,
             const int* atype, const double* avg, const double* std, int nloc, int nnei,
             int ncomp, int ntypes, double rcut_smth, double rcut, cudaStream_t stream) {
  check_cutoffs(rcut_smth, rcut);
  if (ncomp != 1 && ncomp != 4) throw InputError("env_mat: ncomp must be 1 or 4");
  const long nslots = static_cast<long>(nloc) * nnei;
  if (nslots == 0) return;
  env_mat_kernel<<<blocks_for(nslots, kSlotsPerBlock), kSlotsPerBlock, 0, stream>>>(
      em, em_deriv, status, rij, nlist, atype, avg, std, nslots, nnei, ncomp, ntypes, rcut_smth,
      rcut);
  check_launch("env_mat");
}

}  // namespace gpu
}  // namespace deepkit
