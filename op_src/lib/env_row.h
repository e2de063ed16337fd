// Per-neighbour arithmetic shared by the CPU kernels and the CUDA kernels (op_src/lib/cuda),
// so both compute the same expressions in the same order.
#pragma once

#include <math.h>

#ifdef __CUDACC__
#define DK_HOST_DEVICE __host__ __device__
#else
#define DK_HOST_DEVICE
#endif

namespace deepkit {

// Smooth switch s(r) of DESIGN.md and its derivative ds/dr: 1/r below rcut_smth, a quintic
// blend to zero between rcut_smth and rcut, zero beyond. inv_r = 1/r: float64 divisions are
// the slow part of this arithmetic (on a GPU above all), so it takes none.
DK_HOST_DEVICE inline void switch_fn(double r, double inv_r, double rcut_smth, double rcut,
                                     double* s, double* ds_dr) {
  if (r < rcut_smth) {
    *s = inv_r;
    *ds_dr = -inv_r * inv_r;
  } else if (r < rcut) {
    const double inv_width = 1.0 / (rcut - rcut_smth);  // loop-invariant where inlined
    const double u = (r - rcut_smth) * inv_width;
    // u^3 (-6u^2 + 15u - 10) + 1 factored: exact zero and no negative rounding near rcut.
    const double poly = (1.0 - u) * (1.0 - u) * (1.0 - u) * (6.0 * u * u + 3.0 * u + 1.0);
    const double dpoly_dr = -30.0 * u * u * (u - 1.0) * (u - 1.0) * inv_width;
    *s = poly * inv_r;
    *ds_dr = (dpoly_dr - *s) * inv_r;
  } else {
    *s = 0.0;
    *ds_dr = 0.0;
  }
}

// Raw (unnormalised) environment row of one neighbour at d = r_ij and its derivative
// draw[c * 3 + e] = d raw[c] / d d[e]. ncomp = 4: (s, s x/r, s y/r, s z/r); ncomp = 1: (s).
// One division per slot (1/r), plus 1/(rcut - rcut_smth) where the caller does not hoist it.
DK_HOST_DEVICE inline void env_row(const double* d, int ncomp, double rcut_smth, double rcut,
                                   double* raw, double* draw) {
  const double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  const double inv_r = 1.0 / r;
  double s, ds;
  switch_fn(r, inv_r, rcut_smth, rcut, &s, &ds);
  raw[0] = s;
  const double ds_x = ds * inv_r;  // d s / d x_e = ds/dr x_e / r
  for (int e = 0; e < 3; ++e) draw[e] = ds_x * d[e];
  if (ncomp == 4) {
    // R_c = (s/r) x_c;  d R_c / d x_e = (s/r)' x_e x_c / r + (s/r) delta_ce,
    // (s/r)' / r = (ds/dr - s/r) / r^2
    const double s_r = s * inv_r;
    const double ds_r = (ds - s_r) * inv_r * inv_r;
    for (int c = 0; c < 3; ++c) {
      raw[1 + c] = s_r * d[c];
      for (int e = 0; e < 3; ++e) draw[3 * (1 + c) + e] = ds_r * d[e] * d[c] + (c == e ? s_r : 0.0);
    }
  }
}

// g = dE/dr_ij of one slot: sum_c net_deriv[slot, c] * em_deriv[slot, c, :].
DK_HOST_DEVICE inline void slot_gradient(double* g, const double* net_deriv,
                                         const double* em_deriv, long slot, int ncomp) {
  g[0] = g[1] = g[2] = 0.0;
  for (int c = 0; c < ncomp; ++c) {
    const double nd = net_deriv[slot * ncomp + c];
    const double* ed = em_deriv + (slot * ncomp + c) * 3;
    g[0] += nd * ed[0];
    g[1] += nd * ed[1];
    g[2] += nd * ed[2];
  }
}

}  // namespace deepkit
