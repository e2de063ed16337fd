#include "env_mat.h"

#include <cmath>
#include <string>

#include "errors.h"

namespace deepkit {

void switch_fn(double r, double rcut_smth, double rcut, double* s, double* ds_dr) {
  if (r < rcut_smth) {
    *s = 1.0 / r;
    *ds_dr = -1.0 / (r * r);
  } else if (r < rcut) {
    const double u = (r - rcut_smth) / (rcut - rcut_smth);
    // u^3 (-6u^2 + 15u - 10) + 1 factored: exact zero and no negative rounding near rcut.
    const double poly = (1.0 - u) * (1.0 - u) * (1.0 - u) * (6.0 * u * u + 3.0 * u + 1.0);
    const double dpoly_du = -30.0 * u * u * (u - 1.0) * (u - 1.0);
    *s = poly / r;
    *ds_dr = dpoly_du / ((rcut - rcut_smth) * r) - poly / (r * r);
  } else {
    *s = 0.0;
    *ds_dr = 0.0;
  }
}

void check_cutoffs(double rcut_smth, double rcut) {
  if (!(rcut > 0) || !std::isfinite(rcut)) throw InputError("rcut must be a positive number");
  if (!(rcut_smth >= 0) || !(rcut_smth < rcut)) {
    throw InputError("rcut_smth must satisfy 0 <= rcut_smth < rcut, got rcut_smth=" +
                     std::to_string(rcut_smth) + " rcut=" + std::to_string(rcut));
  }
}

void env_mat(double* em, double* em_deriv, const double* rij, const int* nlist, const int* atype,
             const double* avg, const double* std, int nloc, int nnei, int ncomp, int ntypes,
             double rcut_smth, double rcut) {
  check_cutoffs(rcut_smth, rcut);
  if (ncomp != 1 && ncomp != 4) throw InputError("env_mat: ncomp must be 1 or 4");
  for (int i = 0; i < nloc; ++i) {
    if (atype[i] < 0 || atype[i] >= ntypes) {
      throw InputError("atom " + std::to_string(i) + " has type " + std::to_string(atype[i]) +
                       ", expected 0.." + std::to_string(ntypes - 1));
    }
  }
  const long row_size = static_cast<long>(nnei) * ncomp;
  for (long k = 0; k < ntypes * row_size; ++k) {
    if (!(std[k] != 0.0) || !std::isfinite(std[k]) || !std::isfinite(avg[k])) {
      throw InputError("env_mat: std must be finite and non-zero and avg finite (entry " +
                       std::to_string(k) + ")");
    }
  }
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nloc; ++i) {
    const double* avg_i = avg + atype[i] * row_size;
    const double* std_i = std + atype[i] * row_size;
    for (int jj = 0; jj < nnei; ++jj) {
      const long slot = static_cast<long>(i) * nnei + jj;
      double raw[4] = {0, 0, 0, 0};
      double draw[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // (ncomp, 3)
      if (nlist[slot] >= 0) {
        const double* d = rij + 3 * slot;
        const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        const double r = std::sqrt(r2);
        double s, ds;
        switch_fn(r, rcut_smth, rcut, &s, &ds);
        raw[0] = s;
        for (int e = 0; e < 3; ++e) draw[e] = ds * d[e] / r;
        if (ncomp == 4) {
          // R_c = s x_c / r;  d R_c / d x_e = (s/r)' x_e x_c / r + (s/r) delta_ce
          const double s_r = s / r;
          const double ds_r = (ds / r - s / r2) / r;
          for (int c = 0; c < 3; ++c) {
            raw[1 + c] = s_r * d[c];
            for (int e = 0; e < 3; ++e) {
              draw[3 * (1 + c) + e] = ds_r * d[e] * d[c] + (c == e ? s_r : 0.0);
            }
          }
        }
      }
      for (int c = 0; c < ncomp; ++c) {
        const long k = jj * ncomp + c;
        em[slot * ncomp + c] = (raw[c] - avg_i[k]) / std_i[k];
        for (int e = 0; e < 3; ++e) em_deriv[(slot * ncomp + c) * 3 + e] = draw[3 * c + e] / std_i[k];
      }
    }
  }
}

}  // namespace deepkit
