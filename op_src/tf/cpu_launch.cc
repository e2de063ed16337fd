// CpuLaunch: the op_src/lib CPU kernels, one frame at a time.
#include "lib/env_mat.h"
#include "lib/neighbor_list.h"
#include "lib/prod_force_virial.h"
#include "lib/tabulate.h"
#include "tf/kernel_call.h"
#include "tf/launch.h"

namespace deepkit {

using tensorflow::OpKernelContext;

void CpuLaunch::neighbor_list(OpKernelContext* ctx, const NeighborListArgs& a) {
  const int64_t n = a.natoms;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const double* box = a.box + 9 * f;
    const bool ok = call_kernel(ctx, f, [&] {
      build_neighbor_list(a.nlist + f * n * a.nnei, a.rij + f * n * a.nnei * 3,
                          a.max_count + f * a.ntypes, a.coord + f * n * 3, a.atype + f * n,
                          box_is_empty(box) ? nullptr : box, static_cast<int>(n), a.ntypes, a.sel,
                          a.rcut, a.mixed_types);
    });
    if (!ok) return;
  }
}

void CpuLaunch::env_mat(OpKernelContext* ctx, const EnvMatArgs& a) {
  const int64_t slots = a.nloc * a.nnei;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const bool ok = call_kernel(ctx, f, [&] {
      deepkit::env_mat(a.em + f * slots * a.ncomp, a.em_deriv + f * slots * a.ncomp * 3,
                       a.rij + f * slots * 3, a.nlist + f * slots, a.atype + f * a.natoms, a.avg,
                       a.std, static_cast<int>(a.nloc), static_cast<int>(a.nnei), a.ncomp,
                       a.ntypes, a.rcut_smth, a.rcut);
    });
    if (!ok) return;
  }
}

void CpuLaunch::prod_force(OpKernelContext* ctx, const ProdArgs& a, double* force) {
  const int64_t n = a.nloc * a.nnei;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const bool ok = call_kernel(ctx, f, [&] {
      deepkit::prod_force(force + f * a.nall * 3, a.net_deriv + f * n * a.ncomp,
                          a.em_deriv + f * n * a.ncomp * 3, a.nlist + f * n, a.nloc, a.nall,
                          a.nnei, a.ncomp);
    });
    if (!ok) return;
  }
}

void CpuLaunch::prod_virial(OpKernelContext* ctx, const ProdArgs& a, double* virial,
                            double* atom_virial) {
  const int64_t n = a.nloc * a.nnei;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const bool ok = call_kernel(ctx, f, [&] {
      deepkit::prod_virial(virial + f * 9, atom_virial + f * a.nall * 9,
                           a.net_deriv + f * n * a.ncomp, a.em_deriv + f * n * a.ncomp * 3,
                           a.rij + f * n * 3, a.nlist + f * n, a.nloc, a.nall, a.nnei, a.ncomp);
    });
    if (!ok) return;
  }
}

void CpuLaunch::prod_force_grad(OpKernelContext* ctx, const ProdArgs& a, const double* grad_force,
                                double* grad_net) {
  const int64_t n = a.nloc * a.nnei;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const bool ok = call_kernel(ctx, f, [&] {
      check_nlist(a.nlist + f * n, a.nloc, a.nnei, a.nall);
      deepkit::prod_force_grad(grad_net + f * n * a.ncomp, grad_force + f * a.nall * 3,
                               a.em_deriv + f * n * a.ncomp * 3, a.nlist + f * n, a.nloc, a.nnei,
                               a.ncomp);
    });
    if (!ok) return;
  }
}

void CpuLaunch::prod_virial_grad(OpKernelContext* ctx, const ProdArgs& a,
                                 const double* grad_virial, const double* grad_atom_virial,
                                 double* grad_net) {
  const int64_t n = a.nloc * a.nnei;
  for (int64_t f = 0; f < a.nframes; ++f) {
    const bool ok = call_kernel(ctx, f, [&] {
      check_nlist(a.nlist + f * n, a.nloc, a.nnei, a.nall);
      deepkit::prod_virial_grad(grad_net + f * n * a.ncomp, grad_virial + f * 9,
                                grad_atom_virial + f * a.nall * 9,
                                a.em_deriv + f * n * a.ncomp * 3, a.rij + f * n * 3,
                                a.nlist + f * n, a.nloc, a.nnei, a.ncomp);
    });
    if (!ok) return;
  }
}

void CpuLaunch::tabulate_fusion(OpKernelContext* ctx, const TabulateArgs& a, double* out) {
  call_kernel(ctx, 0, [&] {
    deepkit::tabulate_fusion(out, a.table, table_info(a.info, a.width), a.x, a.rows,
                             static_cast<int>(a.n), static_cast<int>(a.nnei), a.ncomp, a.block,
                             a.nblocks);
  });
}

void CpuLaunch::tabulate_fusion_grad(OpKernelContext* ctx, const TabulateArgs& a,
                                     const double* dy, double* dx, double* drows) {
  call_kernel(ctx, 0, [&] {
    deepkit::tabulate_fusion_grad(dx, drows, a.table, table_info(a.info, a.width), a.x, a.rows,
                                  dy, static_cast<int>(a.n), static_cast<int>(a.nnei), a.ncomp, a.block,
                                  a.nblocks);
  });
}

void CpuLaunch::tabulate_fusion_grad_grad(OpKernelContext* ctx, const TabulateArgs& a,
                                          const double* ddx, const double* ddrows, double* ddy) {
  call_kernel(ctx, 0, [&] {
    deepkit::tabulate_fusion_grad_grad(ddy, a.table, table_info(a.info, a.width), a.x, a.rows,
                                       ddx, ddrows, static_cast<int>(a.n),
                                       static_cast<int>(a.nnei), a.ncomp, a.block, a.nblocks);
  });
}

}  // namespace deepkit
