#include "neighbor_rows.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace deepkit {

SlotBlocks slot_blocks(const int* sel, int nsel, const int* atype, bool mixed_types) {
  SlotBlocks blocks;
  blocks.begin.assign(nsel + 1, 0);
  for (int b = 0; b < nsel; ++b) blocks.begin[b + 1] = blocks.begin[b] + sel[b];
  blocks.atype = mixed_types ? nullptr : atype;
  return blocks;
}

namespace {

// In mixed mode the op is not told ntypes (sel has one entry whatever the model's types),
// so only negative types, which no model has, are refused here; a type beyond the model's
// is refused by the op that indexes by it (env_mat's avg/std, the fitting's type nets).
void validate_type(int atom, int type, int nsel, bool mixed_types) {
  if (type >= 0 && (mixed_types || type < nsel)) return;
  const std::string expected =
      mixed_types ? "expected a type index >= 0" : "expected 0.." + std::to_string(nsel - 1) +
                                                       " (one per sel entry)";
  throw InputError("atom " + std::to_string(atom) + " has type " + std::to_string(type) + ", " +
                   expected);
}

}  // namespace

void validate_atoms(const double* coord, const int* atype, int natoms, const int* sel, int nsel,
                    bool mixed_types, double rcut) {
  if (natoms < 0) throw InputError("natoms is negative");
  if (nsel <= 0) throw InputError("sel is empty: it needs one entry per atom type");
  if (mixed_types && nsel != 1) {
    throw InputError("mixed_types takes exactly one sel entry (the slots all types share), got " +
                     std::to_string(nsel));
  }
  if (!(rcut > 0) || !std::isfinite(rcut)) throw InputError("rcut must be a positive number");
  for (int t = 0; t < nsel; ++t) {
    if (sel[t] < 0) throw InputError("sel[" + std::to_string(t) + "] is negative");
  }
  for (int i = 0; i < natoms; ++i) {
    validate_type(i, atype[i], nsel, mixed_types);
    for (int k = 0; k < 3; ++k) {
      if (!std::isfinite(coord[3 * i + k])) {
        throw InputError("coordinate of atom " + std::to_string(i) + " is not finite");
      }
    }
  }
}

double fill_row(std::vector<Candidate>& found, const double* point_pos, const double* ri,
                const SlotBlocks& blocks, int* row, double* row_rij, int* counts,
                int* max_count) {
  std::sort(found.begin(), found.end());
  const int nblocks = blocks.nblocks();
  std::fill(counts, counts + nblocks, 0);
  for (const Candidate& cand : found) {
    const int b = blocks.of(cand.atom);
    const int s = blocks.begin[b] + counts[b]++;
    if (s >= blocks.begin[b + 1]) continue;
    row[s] = cand.atom;
    for (int k = 0; k < 3; ++k) row_rij[3 * s + k] = point_pos[3 * cand.point + k] - ri[k];
  }
  for (int b = 0; b < nblocks; ++b) max_count[b] = std::max(max_count[b], counts[b]);
  return found.empty() ? -1.0 : found[0].r2;
}

}  // namespace deepkit
