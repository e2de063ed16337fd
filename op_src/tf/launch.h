// Per-device launchers of the op_src/lib kernels for the TensorFlow ops.
//
// The op classes (neighbor_list_op.cc, env_mat_op.cc, prod_ops.cc) check shapes and
// allocate outputs once; the frame loop and the kernel calls live here, one struct per
// device: CpuLaunch (cpu_launch.cc) and, in builds with DEEPKIT_CUDA, GpuLaunch
// (gpu_launch.cc). Each function reports bad input through the context and returns.
#pragma once

#include <cstdint>

#include "tensorflow/core/framework/op_kernel.h"

namespace deepkit {

struct NeighborListArgs {
  int* nlist;
  double* rij;
  int* max_count;
  const double* coord;
  const int* atype;
  const double* box;
  int64_t nframes, natoms;
  int ntypes, nnei;  // ntypes: entries of sel (1 with mixed_types)
  const int* sel;    // host memory
  double rcut;
  bool mixed_types;  // one block of sel[0] slots for all types (lib/neighbor_list.h)
};

struct EnvMatArgs {
  double* em;
  double* em_deriv;
  const double* rij;
  const int* nlist;
  const int* atype;
  const double* avg;
  const double* std;
  int64_t nframes, nloc, natoms, nnei;
  int ncomp, ntypes;
  double rcut_smth, rcut;
};

// The product ops and their gradients: (nframes, nloc, nnei, ncomp) slots.
struct ProdArgs {
  const double* net_deriv;  // or the gradient being propagated, per op below
  const double* em_deriv;
  const double* rij;
  const int* nlist;
  int64_t nframes, nloc, nall, nnei;
  int ncomp;
};

// The tabulation ops (lib/tabulate.h): n centres x nnei slots, ncomp row components.
struct TabulateArgs {
  const double* table;
  const double* info;  // host memory
  int width;
  const double* x;
  const double* rows;
  int64_t n, nnei;
  int ncomp;
  const int* block = nullptr;  // (n, nnei) block of each slot (DkTabulateFusionBlocks, CPU)
  int nblocks = 1;
};

#define DEEPKIT_LAUNCH_FUNCTIONS                                                            \
  static void neighbor_list(tensorflow::OpKernelContext* ctx, const NeighborListArgs& a);    \
  static void env_mat(tensorflow::OpKernelContext* ctx, const EnvMatArgs& a);                \
  static void prod_force(tensorflow::OpKernelContext* ctx, const ProdArgs& a, double* force); \
  static void prod_virial(tensorflow::OpKernelContext* ctx, const ProdArgs& a, double* virial, \
                          double* atom_virial);                                              \
  static void prod_force_grad(tensorflow::OpKernelContext* ctx, const ProdArgs& a,           \
                              const double* grad_force, double* grad_net);                   \
  static void prod_virial_grad(tensorflow::OpKernelContext* ctx, const ProdArgs& a,          \
                               const double* grad_virial, const double* grad_atom_virial,    \
                               double* grad_net);                                          \
  static void tabulate_fusion(tensorflow::OpKernelContext* ctx, const TabulateArgs& a,       \
                              double* out);                                                  \
  static void tabulate_fusion_grad(tensorflow::OpKernelContext* ctx, const TabulateArgs& a,  \
                                   const double* dy, double* dx, double* drows);             \
  static void tabulate_fusion_grad_grad(tensorflow::OpKernelContext* ctx,                    \
                                        const TabulateArgs& a, const double* ddx,            \
                                        const double* ddrows, double* ddy);

struct CpuLaunch {
  DEEPKIT_LAUNCH_FUNCTIONS
};

#ifdef DEEPKIT_CUDA
struct GpuLaunch {
  DEEPKIT_LAUNCH_FUNCTIONS
};
#endif

}  // namespace deepkit
