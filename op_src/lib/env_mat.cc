#include "env_mat.h"

#include <cmath>
#include <string>

#include "env_row.h"
#include "errors.h"

namespace deepkit {

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
      if (nlist[slot] >= 0) env_row(rij + 3 * slot, ncomp, rcut_smth, rcut, raw, draw);
      for (int c = 0; c < ncomp; ++c) {
        const long k = jj * ncomp + c;
        const double inv_std = 1.0 / std_i[k];  // one division, four products (as on the GPU)
        em[slot * ncomp + c] = (raw[c] - avg_i[k]) * inv_std;
        for (int e = 0; e < 3; ++e) em_deriv[(slot * ncomp + c) * 3 + e] = draw[3 * c + e] * inv_std;
      }
    }
  }
}

}  // namespace deepkit
