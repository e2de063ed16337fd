// Tabulated embedding nets (model compression, DESIGN.md "Compression").
//
// An embedding net G: R -> R^M (M = last layer width) is replaced by a table of quintic
// polynomials over intervals of its input x (the normalised radial component of the
// environment matrix). The fused kernels compute, for each centre n,
//     out[n, m, c] = sum_j G_m(x[n, j]) * rows[n, j, c]
// (T = G^T R of se_e2_a with rows the environment rows, or sum_j G of se_e2_r with rows of
// ones) without ever storing G, plus the gradients needed for forces and for training on
// forces.
#pragma once

namespace deepkit {

// Where each interval lies. Inside [lower, upper) intervals are `step` wide; inside
// [upper, upper_ext) `step_ext` wide; nodes at lower + k step and upper + k step_ext.
// Inputs below lower are clamped to lower and above upper_ext to upper_ext (value
// continuous, derivative zero there).
struct TableInfo {
  double lower, upper, upper_ext, step, step_ext;
  int n_inner, n_ext;  // number of intervals in each region
  int width;           // M, output channels

  int intervals() const { return n_inner + n_ext; }
};

// Reads info (7 doubles: lower, upper, upper_ext, step, step_ext, n_inner, n_ext) and
// checks it; throws InputError on an inconsistent table.
TableInfo table_info(const double* info, int width);

// table: (intervals, 6, width): coefficient p of channel m on interval k at
// table[(k * 6 + p) * width + m]; G_m(x) = sum_p table[k, p, m] * (x - node_k)^p.
//
//   out   (n, width, nblocks * ncomp)
//   x     (n, nnei)
//   rows  (n, nnei, ncomp), ncomp 1 to kMaxComponents (the CUDA kernels: 1 to 4)
//   block (n, nnei) in [0, nblocks), or nullptr (nblocks 1): slot j's row adds to the
//         components block[j] * ncomp + c of out, so one call (one table read per slot)
//         gives a sum per block, e.g. per neighbour type (se_atten's strip mode).
//         The CUDA kernels take no blocks.
constexpr int kMaxBlocks = 4096;
constexpr int kMaxComponents = 8;

void tabulate_fusion(double* out, const double* table, const TableInfo& info, const double* x,
                     const double* rows, int n, int nnei, int ncomp, const int* block = nullptr,
                     int nblocks = 1);

// Given dy = dL/d out (n, width, nblocks * ncomp):
//   dx     (n, nnei)         = sum_{m,c} dy[n,m,b_j c] G'_m(x[n,j]) rows[n,j,c]
//   drows  (n, nnei, ncomp)  = sum_m dy[n,m,b_j c] G_m(x[n,j])
void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp, const int* block = nullptr, int nblocks = 1);

// Gradient of tabulate_fusion_grad with respect to dy (the only input that depends on
// trainable parameters when the fitting net is trained on forces), given ddx (n, nnei) and
// ddrows (n, nnei, ncomp):
//   ddy (n, width, b_j c) = sum_j ddx[n,j] G'_m(x) rows[n,j,c] + ddrows[n,j,c] G_m(x)
void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp,
                               const int* block = nullptr, int nblocks = 1);

}  // namespace deepkit
