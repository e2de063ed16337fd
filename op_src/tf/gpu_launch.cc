// GpuLaunch: the op_src/lib/cuda kernels on the op's CUDA stream (builds with DEEPKIT_CUDA).
//
// Kernels are queued without synchronising, except DkNeighborList, which reads back its
// 16-byte status once per call to turn bad input (type index, non-finite coordinate,
// overlapping atoms, singular box) into an InvalidArgument error. The later ops take the
// list that op validated, so they record no status.
#ifdef DEEPKIT_CUDA

#include <cuda_runtime.h>

#include <stdexcept>
#include <vector>

#include "lib/cuda/kernels_gpu.h"
#include "tf/kernel_call.h"
#include "tf/launch.h"
#include "xla/stream_executor/stream.h"

namespace deepkit {

using tensorflow::OpKernelContext;
using tensorflow::Tensor;

namespace {

cudaStream_t stream_of(OpKernelContext* ctx) {
  return static_cast<cudaStream_t>(
      ctx->op_device_context()->stream()->platform_specific_handle().stream);
}

// Runs host code that queues kernels; InputError -> InvalidArgument, CUDA failures -> Internal.
template <typename Body>
bool queue(OpKernelContext* ctx, Body&& body) {
  try {
    return call_kernel(ctx, 0, body);
  } catch (const std::runtime_error& e) {
    ctx->CtxFailure(tensorflow::errors::Internal(ctx->op_kernel().type_string(), ": ", e.what()));
    return false;
  }
}

bool allocate_bytes(OpKernelContext* ctx, int64_t bytes, Tensor* t) {
  const tensorflow::Status s = ctx->allocate_temp(tensorflow::DT_INT8, {bytes}, t);
  if (!s.ok()) ctx->CtxFailure(s);
  return s.ok();
}

}  // namespace

void GpuLaunch::neighbor_list(OpKernelContext* ctx, const NeighborListArgs& a) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t n = a.natoms;
  Tensor workspace, status;
  if (!allocate_bytes(ctx, gpu::neighbor_list_workspace_bytes(static_cast<int>(n)), &workspace) ||
      !allocate_bytes(ctx, a.nframes * sizeof(gpu::Status), &status)) {
    return;
  }
  auto* st = reinterpret_cast<gpu::Status*>(status.flat<int8_t>().data());
  cudaMemsetAsync(st, 0, a.nframes * sizeof(gpu::Status), stream);
  const bool queued = queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::build_neighbor_list(a.nlist + f * n * a.nnei, a.rij + f * n * a.nnei * 3,
                               a.max_count + f * a.ntypes, st + f, workspace.flat<int8_t>().data(),
                               a.coord + f * n * 3, a.atype + f * n, a.box + 9 * f,
                               static_cast<int>(n), a.ntypes, a.sel, a.rcut, a.mixed_types,
                               stream);
    }
  });
  if (!queued) return;
  std::vector<gpu::Status> host(a.nframes);
  cudaMemcpyAsync(host.data(), st, a.nframes * sizeof(gpu::Status), cudaMemcpyDeviceToHost, stream);
  const cudaError_t err = cudaStreamSynchronize(stream);
  OP_REQUIRES(ctx, err == cudaSuccess,
              tensorflow::errors::Internal("DkNeighborList: ", cudaGetErrorString(err)));
  for (int64_t f = 0; f < a.nframes; ++f) {
    OP_REQUIRES(ctx, host[f].code == gpu::kOk,
                tensorflow::errors::InvalidArgument(
                    "DkNeighborList: frame ", f, ": ",
                    gpu::status_message(host[f], a.ntypes, static_cast<int>(n),
                                        a.mixed_types)));
  }
}

void GpuLaunch::env_mat(OpKernelContext* ctx, const EnvMatArgs& a) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t slots = a.nloc * a.nnei;
  queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::env_mat(a.em + f * slots * a.ncomp, a.em_deriv + f * slots * a.ncomp * 3, nullptr,
                   a.rij + f * slots * 3, a.nlist + f * slots, a.atype + f * a.natoms, a.avg,
                   a.std, static_cast<int>(a.nloc), static_cast<int>(a.nnei), a.ncomp, a.ntypes,
                   a.rcut_smth, a.rcut, stream);
    }
  });
}

void GpuLaunch::prod_force(OpKernelContext* ctx, const ProdArgs& a, double* force) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t n = a.nloc * a.nnei;
  queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::prod_force(force + f * a.nall * 3, nullptr, a.net_deriv + f * n * a.ncomp,
                      a.em_deriv + f * n * a.ncomp * 3, a.nlist + f * n, a.nloc, a.nall, a.nnei,
                      a.ncomp, stream);
    }
  });
}

void GpuLaunch::prod_virial(OpKernelContext* ctx, const ProdArgs& a, double* virial,
                            double* atom_virial) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t n = a.nloc * a.nnei;
  queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::prod_virial(virial + f * 9, atom_virial + f * a.nall * 9, nullptr,
                       a.net_deriv + f * n * a.ncomp, a.em_deriv + f * n * a.ncomp * 3,
                       a.rij + f * n * 3, a.nlist + f * n, a.nloc, a.nall, a.nnei, a.ncomp,
                       stream);
    }
  });
}

void GpuLaunch::prod_force_grad(OpKernelContext* ctx, const ProdArgs& a,
                                const double* grad_force, double* grad_net) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t n = a.nloc * a.nnei;
  queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::prod_force_grad(grad_net + f * n * a.ncomp, grad_force + f * a.nall * 3,
                           a.em_deriv + f * n * a.ncomp * 3, a.nlist + f * n, a.nloc, a.nall,
                           a.nnei, a.ncomp, stream);
    }
  });
}

void GpuLaunch::prod_virial_grad(OpKernelContext* ctx, const ProdArgs& a,
                                 const double* grad_virial, const double* grad_atom_virial,
                                 double* grad_net) {
  const cudaStream_t stream = stream_of(ctx);
  const int64_t n = a.nloc * a.nnei;
  queue(ctx, [&] {
    for (int64_t f = 0; f < a.nframes; ++f) {
      gpu::prod_virial_grad(grad_net + f * n * a.ncomp, grad_virial + f * 9,
                            grad_atom_virial + f * a.nall * 9, a.em_deriv + f * n * a.ncomp * 3,
                            a.rij + f * n * 3, a.nlist + f * n, a.nloc, a.nall, a.nnei, a.ncomp,
                            stream);
    }
  });
}

void GpuLaunch::tabulate_fusion(OpKernelContext* ctx, const TabulateArgs& a, double* out) {
  const cudaStream_t stream = stream_of(ctx);
  queue(ctx, [&] {
    gpu::tabulate_fusion(out, a.table, table_info(a.info, a.width), a.x, a.rows,
                         static_cast<int>(a.n), static_cast<int>(a.nnei), a.ncomp, stream);
  });
}

void GpuLaunch::tabulate_fusion_grad(OpKernelContext* ctx, const TabulateArgs& a,
                                     const double* dy, double* dx, double* drows) {
  const cudaStream_t stream = stream_of(ctx);
  queue(ctx, [&] {
    gpu::tabulate_fusion_grad(dx, drows, a.table, table_info(a.info, a.width), a.x, a.rows, dy,
                              static_cast<int>(a.n), static_cast<int>(a.nnei), a.ncomp, stream);
  });
}

void GpuLaunch::tabulate_fusion_grad_grad(OpKernelContext* ctx, const TabulateArgs& a,
                                          const double* ddx, const double* ddrows, double* ddy) {
  const cudaStream_t stream = stream_of(ctx);
  queue(ctx, [&] {
    gpu::tabulate_fusion_grad_grad(ddy, a.table, table_info(a.info, a.width), a.x, a.rows, ddx,
                                   ddrows, static_cast<int>(a.n), static_cast<int>(a.nnei),
                                   a.ncomp, stream);
  });
}

}  // namespace deepkit

#endif  // DEEPKIT_CUDA
