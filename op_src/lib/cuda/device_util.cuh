// Small helpers shared by the CUDA kernels of op_src/lib/cuda.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {

// Records the first error only: later ones are usually consequences of it.
__device__ inline void set_status(Status* status, int code, int a, int b) {
  if (status == nullptr) return;
  if (atomicCAS(&status->code, 0, code) == 0) {
    status->a = a;
    status->b = b;
  }
}

// Launch failures (bad configuration, no device) are programming or system errors, not
// input errors: they throw std::runtime_error with CUDA's text.
inline void check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("deepkit CUDA kernel ") + kernel + ": " +
                             cudaGetErrorString(err));
  }
}

// virial[k] = sum_j atom_virial[j, k] in a fixed order (prod_force_virial_gpu.cu).
void sum_atom_virial(double* virial, const double* atom_virial, int nall, cudaStream_t stream);

inline int blocks_for(long n, int threads) {
  return static_cast<int>((n + threads - 1) / threads);
}

}  // namespace gpu
}  // namespace deepkit
