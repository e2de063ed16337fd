// GPU tabulated embedding nets; same results as op_src/lib/tabulate.cc (table_eval.h).
//
// Forward and gradient-of-gradient: one block per centre, one thread per output channel,
// looping over the slots (the slot's input and row are broadcast through shared memory,
// the table rows of one interval are read coalesced across channels); each output is a
// per-thread sum in slot order, so no atomics. Gradient: a group of four lanes per slot, lanes
// over the channels, shuffle sums.
#include <type_traits>

#include "../errors.h"
#include "../table_eval.h"
#include "device_util.cuh"
#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {
namespace {

constexpr int kMaxComp = 4;
constexpr int kSlotChunk = 128;  // slots staged in shared memory at a time
constexpr int kGradWarps = 8;
constexpr int kGroupLanes = 4;  // lanes per slot in the gradient kernel

// Slot j has the same input and row as slot j - 1 (x and rows of one centre).
template <int NCOMP>
__device__ bool same_slot(const double* x, const double* rows, int j) {
  if (x[j] != x[j - 1]) return false;
  for (int c = 0; c < NCOMP; ++c) {
    if (rows[j * NCOMP + c] != rows[(j - 1) * NCOMP + c]) return false;
  }
  return true;
}

struct Located {
  int k;
  double t, slope;
};

// Copies a chunk of one centre's slots to shared memory and locates each input once (not
// once per channel: the division in locate() would dominate).
template <int NCOMP>
__device__ void stage_slots(double* sx, double* sr, Located* sloc, const TableInfo& info,
                            const double* x, const double* rows, int count) {
  for (int k = threadIdx.x; k < count; k += blockDim.x) {
    sx[k] = x[k];
    locate(info, sx[k], &sloc[k].k, &sloc[k].t, &sloc[k].slope);
  }
  for (int k = threadIdx.x; k < count * NCOMP; k += blockDim.x) sr[k] = rows[k];
}

int channel_threads(int width) { return width >= 256 ? 256 : (width + 31) / 32 * 32; }

// out[centre, m, c] = sum_j term(j, m, c), one thread per channel m, slots staged in
// shared memory. Forward (ddx == nullptr): term = G_m(x_j) rows_jc, padded slots reusing
// the previous G. Gradient of gradient: term = ddx_j G'_m(x_j) rows_jc + ddrows_jc G_m(x_j).
template <int NCOMP>
__global__ void channel_sum_kernel(double* out, const double* table, TableInfo info,
                                   const double* x, const double* rows, const double* ddx,
                                   const double* ddrows, int nnei) {
  constexpr int ncomp = NCOMP;
  __shared__ double sx[kSlotChunk];
  __shared__ double sr[kSlotChunk * kMaxComp];
  __shared__ Located sloc[kSlotChunk];
  __shared__ double sddx[kSlotChunk];
  __shared__ double sdr[kSlotChunk * kMaxComp];
  const bool grad_grad = ddx != nullptr;
  const long centre = blockIdx.x;
  const int w = info.width;
  for (int m0 = 0; m0 < w; m0 += blockDim.x) {
    const int m = m0 + threadIdx.x;
    double acc[kMaxComp] = {0.0, 0.0, 0.0, 0.0};
    for (int j0 = 0; j0 < nnei; j0 += kSlotChunk) {
      const int count = min(kSlotChunk, nnei - j0);
      const long first = centre * nnei + j0;
      __syncthreads();
      stage_slots<ncomp>(sx, sr, sloc, info, x + first, rows + first * ncomp, count);
      if (grad_grad) {
        for (int k = threadIdx.x; k < count; k += blockDim.x) sddx[k] = ddx[first + k];
        for (int k = threadIdx.x; k < count * ncomp; k += blockDim.x) {
          sdr[k] = ddrows[first * ncomp + k];
        }
      }
      __syncthreads();
      if (m >= w) continue;
      double g = 0.0, dg = 0.0;
      for (int j = 0; j < count; ++j) {
        // Padded slots repeat the previous one: same G, no table read.
        if (grad_grad || j == 0 || !same_slot<ncomp>(sx, sr, j)) {
          quintic(table + static_cast<long>(sloc[j].k) * 6 * w, w, m, sloc[j].t, &g, &dg);
        }
        if (grad_grad) {
          const double a = sddx[j] * dg * sloc[j].slope;
          for (int c = 0; c < ncomp; ++c) acc[c] += a * sr[j * ncomp + c] + sdr[j * ncomp + c] * g;
        } else {
          for (int c = 0; c < ncomp; ++c) acc[c] += g * sr[j * ncomp + c];
        }
      }
    }
    if (m < w) {
      for (int c = 0; c < ncomp; ++c) out[(centre * w + m) * ncomp + c] = acc[c];
    }
  }
}

// One block per centre, dy of the centre in shared memory; groups of kGroupLanes lanes
// share a slot (lanes over the channels, then a short shuffle sum), each group a
// contiguous run of slots, so padded slots copy the group's previous result.
template <int NCOMP>
__global__ void grad_kernel(double* dx, double* drows, const double* table, TableInfo info,
                            const double* x, const double* rows, const double* dy, int nnei) {
  constexpr int ncomp = NCOMP;
  extern __shared__ double sdy[];  // (width, ncomp)
  const long centre = blockIdx.x;
  const int w = info.width;
  for (int k = threadIdx.x; k < w * ncomp; k += blockDim.x) sdy[k] = dy[centre * w * ncomp + k];
  __syncthreads();
  const int groups = blockDim.x / kGroupLanes;
  const int group = threadIdx.x / kGroupLanes, glane = threadIdx.x % kGroupLanes;
  const int per_group = (nnei + groups - 1) / groups;
  const int first = group * per_group, last = min(nnei, first + per_group);
  const double* xc = x + centre * nnei;
  const double* rc = rows + centre * nnei * ncomp;
  double prev_dx = 0.0, prev_drows[kMaxComp] = {0.0, 0.0, 0.0, 0.0};
  // Every lane runs the same number of iterations: the shuffles below need the whole warp.
  for (int j = first; j < first + per_group; ++j) {
    const bool active = j < last;
    const bool repeat = active && j > first && same_slot<ncomp>(xc, rc, j);
    const long s = centre * nnei + j;
    double sum_g[kMaxComp] = {0.0, 0.0, 0.0, 0.0};
    double sum_dx = 0.0, slope = 0.0;
    if (active && !repeat) {
      int k;
      double t;
      locate(info, xc[j], &k, &t, &slope);
      const double* coef = table + static_cast<long>(k) * 6 * w;
      double r[kMaxComp];
      for (int c = 0; c < ncomp; ++c) r[c] = rc[j * ncomp + c];
      for (int m = glane; m < w; m += kGroupLanes) {
        double g, dg;
        quintic(coef, w, m, t, &g, &dg);
        double e = 0.0;
        for (int c = 0; c < ncomp; ++c) {
          const double d = sdy[m * ncomp + c];
          sum_g[c] += g * d;
          e += r[c] * d;
        }
        sum_dx += dg * e;
      }
    }
    for (int offset = kGroupLanes / 2; offset > 0; offset /= 2) {
      sum_dx += __shfl_xor_sync(0xffffffffu, sum_dx, offset, kGroupLanes);
      for (int c = 0; c < ncomp; ++c) {
        sum_g[c] += __shfl_xor_sync(0xffffffffu, sum_g[c], offset, kGroupLanes);
      }
    }
    if (!active) continue;
    if (!repeat) {
      prev_dx = sum_dx * slope;
      for (int c = 0; c < ncomp; ++c) prev_drows[c] = sum_g[c];
    }
    if (glane == 0) {
      dx[s] = prev_dx;
      for (int c = 0; c < ncomp; ++c) drows[s * ncomp + c] = prev_drows[c];
    }
  }
}

// Runs body(std::integral_constant<int, ncomp>) for ncomp in 1..4: the per-component sums
// then live in registers.
template <typename Body>
void with_ncomp(int ncomp, Body&& body) {
  switch (ncomp) {
    case 1: body(std::integral_constant<int, 1>()); break;
    case 2: body(std::integral_constant<int, 2>()); break;
    case 3: body(std::integral_constant<int, 3>()); break;
    default: body(std::integral_constant<int, 4>()); break;
  }
}

void check(int n, int nnei, int ncomp) {
  if (ncomp < 1 || ncomp > kMaxComp) throw InputError("tabulate: rows must have 1 to 4 components");
  if (n < 0 || nnei < 0) throw InputError("tabulate: negative size");
}

}  // namespace

void tabulate_fusion(double* out, const double* table, const TableInfo& info, const double* x,
                     const double* rows, int n, int nnei, int ncomp, cudaStream_t stream) {
  check(n, nnei, ncomp);
  if (n == 0) return;
  with_ncomp(ncomp, [&](auto nc) {
    channel_sum_kernel<nc()><<<n, channel_threads(info.width), 0, stream>>>(
        out, table, info, x, rows, nullptr, nullptr, nnei);
  });
  check_launch("tabulate_fusion");
}

void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp, cudaStream_t stream) {
  check(n, nnei, ncomp);
  if (n == 0 || nnei == 0) return;
  const size_t smem = static_cast<size_t>(info.width) * ncomp * sizeof(double);
  with_ncomp(ncomp, [&](auto nc) {
    grad_kernel<nc()><<<n, 32 * kGradWarps, smem, stream>>>(dx, drows, table, info, x, rows, dy,
                                                             nnei);
  });
  check_launch("tabulate_fusion_grad");
}

void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp,
                               cudaStream_t stream) {
  check(n, nnei, ncomp);
  if (n == 0) return;
  with_ncomp(ncomp, [&](auto nc) {
    channel_sum_kernel<nc()><<<n, channel_threads(info.width), 0, stream>>>(
        ddy, table, info, x, rows, ddx, ddrows, nnei);
  });
  check_launch("tabulate_fusion_grad_grad");
}

}  // namespace gpu
}  // namespace deepkit
