#include "neighbor_rows.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace deepkit {

void validate_atoms(const double* coord, const int* atype, int natoms, int ntypes,
                    const int* sel, double rcut) {
  if (natoms < 0) throw InputError("natoms is negative");
  if (ntypes <= 0) throw InputError("sel is empty: it needs one entry per atom type");
  if (!(rcut > 0) || !std::isfinite(rcut)) throw InputError("rcut must be a positive number");
  for (int t = 0; t < ntypes; ++t) {
    if (sel[t] < 0) throw InputError("sel[" + std::to_string(t) + "] is negative");
  }
  for (int i = 0; i < natoms; ++i) {
    if (atype[i] < 0 || atype[i] >= ntypes) {
      throw InputError("atom " + std::to_string(i) + " has type " + std::to_string(atype[i]) +
                       ", expected 0.." + std::to_string(ntypes - 1) + " (one per sel entry)");
    }
    for (int k = 0; k < 3; ++k) {
      if (!std::isfinite(coord[3 * i + k])) {
        throw InputError("coordinate of atom " + std::to_string(i) + " is not finite");
      }
    }
  }
}

double fill_row(std::vector<Candidate>& found, const double* point_pos, const double* ri,
                const int* atype, const int* sel, const int* sel_begin, int ntypes, int* row,
                double* row_rij, int* counts, int* max_count) {
  std::sort(found.begin(), found.end());
  std::fill(counts, counts + ntypes, 0);
  for (const Candidate& cand : found) {
    const int t = atype[cand.atom];
    const int slot = counts[t]++;
    if (slot >= sel[t]) continue;
    const int s = sel_begin[t] + slot;
    row[s] = cand.atom;
    for (int k = 0; k < 3; ++k) row_rij[3 * s + k] = point_pos[3 * cand.point + k] - ri[k];
  }
  for (int t = 0; t < ntypes; ++t) max_count[t] = std::max(max_count[t], counts[t]);
  return found.empty() ? -1.0 : found[0].r2;
}

}  // namespace deepkit
