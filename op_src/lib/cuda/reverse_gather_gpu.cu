// GPU forces and atomic virials through a reverse neighbour list (../reverse_list.h): one
// thread per atom gathers its terms in slot order, so no floating-point atomics and the
// same bits as the host reference (prod_force_virial_gather) whatever the launch shape.
// Building the list counts and places slots with integer atomics, then sorts each atom's
// slots, which makes it deterministic too.
#include <cub/device/device_scan.cuh>

#include "../reverse_list.h"
#include "device_util.cuh"
#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {
namespace {

constexpr int kThreads = 256;

__global__ void count_kernel(int* counts, Status* status, const int* nlist, long nslots,
                             int nnei, int nall) {
  const long s = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= nslots) return;
  const int j = nlist[s];
  if (j < -1 || j >= nall) {
    set_status(status, kBadNlist, static_cast<int>(s / nnei), j);
  } else if (j >= 0) {
    atomicAdd(counts + j, 1);
  }
}

__global__ void fill_kernel(int* slots, int* cursor, const int* offsets, const int* nlist,
                            long nslots, int nall) {
  const long s = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s >= nslots) return;
  const int j = nlist[s];
  if (j >= 0 && j < nall) slots[offsets[j] + atomicAdd(cursor + j, 1)] = static_cast<int>(s);
}

__global__ void sort_kernel(int* slots, const int* offsets, int nall) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k < nall) sort_slots(slots + offsets[k], offsets[k + 1] - offsets[k]);
}

__global__ void slot_gradient_kernel(double* slot_g, const double* net_deriv,
                                     const double* em_deriv, const int* nlist, long nslots,
                                     int ncomp) {
  const long s = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (s < nslots) occupied_slot_gradient(slot_g, net_deriv, em_deriv, nlist, s, ncomp);
}

__global__ void gather_kernel(double* force, double* atom_virial, const int* offsets,
                              const int* slots, const double* slot_g, const double* rij,
                              const int* nlist, int nloc, int nall, int nnei) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k < nall) {
    gather_atom(force + 3L * k, atom_virial + 9L * k, k, offsets, slots, slot_g, rij, nlist, nloc,
                nnei);
  }
}

// counts and cursor (nall ints each), then the scan's scratch on a 256-byte boundary.
size_t scan_offset(int nall) { return (2 * sizeof(int) * static_cast<size_t>(nall) + 255) / 256 * 256; }

size_t scan_bytes(int nall) {
  size_t bytes = 0;
  cub::DeviceScan::InclusiveSum(nullptr, bytes, static_cast<const int*>(nullptr),
                                static_cast<int*>(nullptr), nall);
  return bytes;
}

}  // namespace

size_t reverse_list_workspace_bytes(int nall) {
  return scan_offset(nall) + scan_bytes(nall);
}

void build_reverse_list(int* offsets, int* slots, Status* status, void* workspace,
                        const int* nlist, int nloc, int nall, int nnei, cudaStream_t stream) {
  int* counts = static_cast<int*>(workspace);
  int* cursor = counts + nall;
  void* scan_temp = static_cast<char*>(workspace) + scan_offset(nall);
  size_t temp_bytes = scan_bytes(nall);
  const long nslots = static_cast<long>(nloc) * nnei;
  cudaMemsetAsync(counts, 0, 2 * sizeof(int) * static_cast<size_t>(nall), stream);
  cudaMemsetAsync(offsets, 0, sizeof(int), stream);
  if (nall == 0) return;
  if (nslots > 0) {
    count_kernel<<<blocks_for(nslots, kThreads), kThreads, 0, stream>>>(counts, status, nlist,
                                                                         nslots, nnei, nall);
    check_launch("reverse list: count");
  }
  // offsets[j + 1] = counts[0] + ... + counts[j]
  cub::DeviceScan::InclusiveSum(scan_temp, temp_bytes, counts, offsets + 1, nall, stream);
  check_launch("reverse list: scan");
  if (nslots > 0) {
    fill_kernel<<<blocks_for(nslots, kThreads), kThreads, 0, stream>>>(slots, cursor, offsets,
                                                                        nlist, nslots, nall);
    check_launch("reverse list: fill");
  }
  sort_kernel<<<blocks_for(nall, kThreads), kThreads, 0, stream>>>(slots, offsets, nall);
  check_launch("reverse list: sort");
}

void slot_gradients(double* slot_g, const double* net_deriv, const double* em_deriv,
                    const int* nlist, long nslots, int ncomp, cudaStream_t stream) {
  if (nslots == 0) return;
  slot_gradient_kernel<<<blocks_for(nslots, kThreads), kThreads, 0, stream>>>(
      slot_g, net_deriv, em_deriv, nlist, nslots, ncomp);
  check_launch("slot_gradients");
}

void prod_force_virial_gather(double* force, double* virial, double* atom_virial,
                              const int* offsets, const int* slots, const double* slot_g,
                              const double* rij, const int* nlist, int nloc, int nall, int nnei,
                              cudaStream_t stream) {
  if (nall > 0) {
    gather_kernel<<<blocks_for(nall, kThreads), kThreads, 0, stream>>>(
        force, atom_virial, offsets, slots, slot_g, rij, nlist, nloc, nall, nnei);
    check_launch("prod_force_virial_gather");
  }
  sum_atom_virial(virial, atom_virial, nall, stream);
}

}  // namespace gpu
}  // namespace deepkit
