// GPU forces and virials from dE/d(em); same arithmetic as op_src/lib/prod_force_virial.cc.
//
// One warp per centre: the centre's own force is a warp reduction, the neighbour side
// (force on j, atomic virial of j) a double atomicAdd. The total virial is summed from the
// atomic virials in a fixed order, like the CPU kernel.
#include "../env_row.h"
#include "device_util.cuh"
#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {
namespace {

constexpr int kWarpsPerBlock = 8;

// virial[k] = sum_j atom_virial[j, k]: one block per component, fixed reduction tree.
__global__ void sum_atom_virial_kernel(double* virial, const double* atom_virial, int nall) {
  __shared__ double part[1024];
  const int k = blockIdx.x;
  double sum = 0.0;
  for (int j = threadIdx.x; j < nall; j += blockDim.x) sum += atom_virial[9L * j + k];
  part[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) virial[k] = part[0];
}

// Where em_deriv comes from: read (the op interface) or recomputed from rij and std.
struct EmDerivSource {
  const double* em_deriv;  // nullptr: recompute
  const int* atype;
  const double* std;
  double rcut_smth, rcut;

  __device__ void gradient(double* g, const double* net_deriv, const double* rij, long slot, int i,
                           int jj, int nnei, int ncomp) const {
    if (em_deriv != nullptr) {
      slot_gradient(g, net_deriv, em_deriv, slot, ncomp);
      return;
    }
    double raw[4], draw[12];
    env_row(rij + 3 * slot, ncomp, rcut_smth, rcut, raw, draw);
    // em_deriv = draw / std as env_mat computes it, then slot_gradient's sum in its order.
    const double* sd = std + (static_cast<long>(atype[i]) * nnei + jj) * ncomp;
    g[0] = g[1] = g[2] = 0.0;
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      if (c >= ncomp) break;
      const double inv_std = 1.0 / sd[c];
      const double nd = net_deriv[slot * ncomp + c];
      g[0] += nd * (draw[3 * c] * inv_std);
      g[1] += nd * (draw[3 * c + 1] * inv_std);
      g[2] += nd * (draw[3 * c + 2] * inv_std);
    }
  }
};

template <bool kForce, bool kVirial>
__global__ void scatter_kernel(double* force, double* atom_virial, Status* status,
                               const double* net_deriv, EmDerivSource source,
                               const double* rij, const int* nlist, int nloc, int nall, int nnei,
                               int ncomp) {
  const int i = blockIdx.x * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (i >= nloc) return;
  double fi[3] = {0.0, 0.0, 0.0};
  for (int jj = lane; jj < nnei; jj += 32) {
    const long slot = static_cast<long>(i) * nnei + jj;
    const int j = nlist[slot];
    if (j < 0) {
      if (j != -1) set_status(status, kBadNlist, i, j);
      continue;
    }
    if (j >= nall) {
      set_status(status, kBadNlist, i, j);
      continue;
    }
    double g[3];
    source.gradient(g, net_deriv, rij, slot, i, jj, nnei, ncomp);
    if (kForce) {
      for (int e = 0; e < 3; ++e) {
        fi[e] += g[e];
        atomicAdd(force + 3 * j + e, -g[e]);
      }
    }
    if (kVirial) {
      const double* r = rij + 3 * slot;
      for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) atomicAdd(atom_virial + 9 * j + 3 * a + b, -(g[a] * r[b]));
      }
    }
  }
  if (kForce) {
    for (int e = 0; e < 3; ++e) {
      for (int offset = 16; offset > 0; offset /= 2) fi[e] += __shfl_down_sync(0xffffffffu, fi[e], offset);
    }
    if (lane == 0) {
      for (int e = 0; e < 3; ++e) atomicAdd(force + 3 * i + e, fi[e]);
    }
  }
}

template <bool kForce, bool kVirial>
void scatter(double* force, double* virial, double* atom_virial, Status* status,
             const double* net_deriv, EmDerivSource source, const double* rij, const int* nlist,
             int nloc, int nall, int nnei, int ncomp, cudaStream_t stream) {
  if (kForce) cudaMemsetAsync(force, 0, 3L * nall * sizeof(double), stream);
  if (kVirial) cudaMemsetAsync(atom_virial, 0, 9L * nall * sizeof(double), stream);
  if (nloc > 0 && nnei > 0) {
    scatter_kernel<kForce, kVirial><<<blocks_for(nloc, kWarpsPerBlock), 32 * kWarpsPerBlock, 0, stream>>>(
        force, atom_virial, status, net_deriv, source, rij, nlist, nloc, nall, nnei, ncomp);
    check_launch("prod_force_virial");
  }
  if (kVirial) {
    sum_atom_virial(virial, atom_virial, nall, stream);
  }
}

__global__ void force_grad_kernel(double* grad_net, const double* grad_force,
                                  const double* em_deriv, const int* nlist, long nslots, int nnei,
                                  int nall, int ncomp) {
  const long slot = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= nslots) return;
  const int i = static_cast<int>(slot / nnei);
  const int j = nlist[slot];
  for (int c = 0; c < ncomp; ++c) {
    double sum = 0.0;
    if (j >= 0 && j < nall) {
      const double* ed = em_deriv + (slot * ncomp + c) * 3;
      for (int e = 0; e < 3; ++e) sum += ed[e] * (grad_force[3 * i + e] - grad_force[3 * j + e]);
    }
    grad_net[slot * ncomp + c] = sum;
  }
}

__global__ void virial_grad_kernel(double* grad_net, const double* grad_virial,
                                   const double* grad_atom_virial, const double* em_deriv,
                                   const double* rij, const int* nlist, long nslots, int nall,
                                   int ncomp) {
  const long slot = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (slot >= nslots) return;
  const int j = nlist[slot];
  if (j < 0 || j >= nall) {
    for (int c = 0; c < ncomp; ++c) grad_net[slot * ncomp + c] = 0.0;
    return;
  }
  const double* r = rij + 3 * slot;
  double w[3];
  for (int a = 0; a < 3; ++a) {
    w[a] = 0.0;
    for (int b = 0; b < 3; ++b) w[a] += r[b] * (grad_virial[3 * a + b] + grad_atom_virial[9L * j + 3 * a + b]);
  }
  for (int c = 0; c < ncomp; ++c) {
    const double* ed = em_deriv + (slot * ncomp + c) * 3;
    grad_net[slot * ncomp + c] = -(ed[0] * w[0] + ed[1] * w[1] + ed[2] * w[2]);
  }
}

EmDerivSource read(const double* em_deriv) { return {em_deriv, nullptr, nullptr, 0.0, 0.0}; }

}  // namespace

void sum_atom_virial(double* virial, const double* atom_virial, int nall, cudaStream_t stream) {
  sum_atom_virial_kernel<<<9, 1024, 0, stream>>>(virial, atom_virial, nall);
  check_launch("sum_atom_virial");
}

void prod_force(double* force, Status* status, const double* net_deriv, const double* em_deriv,
                const int* nlist, int nloc, int nall, int nnei, int ncomp, cudaStream_t stream) {
  scatter<true, false>(force, nullptr, nullptr, status, net_deriv, read(em_deriv), nullptr, nlist,
                       nloc, nall, nnei, ncomp, stream);
}

void prod_virial(double* virial, double* atom_virial, Status* status, const double* net_deriv,
                 const double* em_deriv, const double* rij, const int* nlist, int nloc, int nall,
                 int nnei, int ncomp, cudaStream_t stream) {
  scatter<false, true>(nullptr, virial, atom_virial, status, net_deriv, read(em_deriv), rij,
                       nlist, nloc, nall, nnei, ncomp, stream);
}

void prod_force_virial(double* force, double* virial, double* atom_virial, Status* status,
                       const double* net_deriv, const double* em_deriv, const double* rij,
                       const int* nlist, int nloc, int nall, int nnei, int ncomp,
                       cudaStream_t stream) {
  scatter<true, true>(force, virial, atom_virial, status, net_deriv, read(em_deriv), rij, nlist,
                      nloc, nall, nnei, ncomp, stream);
}

void prod_force_virial_rij(double* force, double* virial, double* atom_virial, Status* status,
                           const double* net_deriv, const double* rij, const int* nlist,
                           const int* atype, const double* std, int nloc, int nall, int nnei,
                           int ncomp, double rcut_smth, double rcut, cudaStream_t stream) {
  const EmDerivSource source{nullptr, atype, std, rcut_smth, rcut};
  scatter<true, true>(force, virial, atom_virial, status, net_deriv, source, rij, nlist, nloc,
                      nall, nnei, ncomp, stream);
}

void prod_force_grad(double* grad_net, const double* grad_force, const double* em_deriv,
                     const int* nlist, int nloc, int nall, int nnei, int ncomp,
                     cudaStream_t stream) {
  const long nslots = static_cast<long>(nloc) * nnei;
  if (nslots == 0) return;
  force_grad_kernel<<<blocks_for(nslots, 256), 256, 0, stream>>>(grad_net, grad_force, em_deriv,
                                                                  nlist, nslots, nnei, nall, ncomp);
  check_launch("prod_force_grad");
}

void prod_virial_grad(double* grad_net, const double* grad_virial,
                      const double* grad_atom_virial, const double* em_deriv, const double* rij,
                      const int* nlist, int nloc, int nall, int nnei, int ncomp,
                      cudaStream_t stream) {
  const long nslots = static_cast<long>(nloc) * nnei;
  if (nslots == 0) return;
  virial_grad_kernel<<<blocks_for(nslots, 256), 256, 0, stream>>>(
      grad_net, grad_virial, grad_atom_virial, em_deriv, rij, nlist, nslots, nall, ncomp);
  check_launch("prod_virial_grad");
}

}  // namespace gpu
}  // namespace deepkit
