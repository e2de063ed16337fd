#include "external_list.h"

#include <algorithm>
#include <string>
#include <vector>

#include "errors.h"
#include "neighbor_rows.h"
#include "parallel_errors.h"

namespace deepkit {
namespace {

void validate_list(int nall, int nloc, const int* offsets, const int* neighbors, long nnz) {
  if (nloc < 0 || nloc > nall) {
    throw InputError("nloc = " + std::to_string(nloc) + " must lie in [0, nall = " +
                     std::to_string(nall) + "]");
  }
  if (offsets[0] != 0) throw InputError("neighbour offsets must start at 0");
  for (int i = 0; i < nloc; ++i) {
    if (offsets[i + 1] < offsets[i]) {
      throw InputError("neighbour offsets decrease at local atom " + std::to_string(i));
    }
  }
  if (offsets[nloc] != nnz) {
    throw InputError("neighbour offsets end at " + std::to_string(offsets[nloc]) + ", but " +
                     std::to_string(nnz) + " neighbour indices were given");
  }
  for (int i = 0; i < nloc; ++i) {
    for (int k = offsets[i]; k < offsets[i + 1]; ++k) {
      const int j = neighbors[k];
      if (j < 0 || j >= nall) {
        throw InputError("neighbour " + std::to_string(j) + " of local atom " +
                         std::to_string(i) + " is outside [0, nall = " + std::to_string(nall) +
                         ")");
      }
      if (j == i) throw InputError("local atom " + std::to_string(i) + " lists itself");
    }
  }
}

}  // namespace

void external_neighbor_list(int* nlist, double* rij, int* max_count, const double* coord,
                            const int* atype, int nall, int nloc, const int* offsets,
                            const int* neighbors, long nnz, int nsel, const int* sel,
                            double rcut, bool mixed_types) {
  validate_atoms(coord, atype, nall, sel, nsel, mixed_types, rcut);
  validate_list(nall, nloc, offsets, neighbors, nnz);
  const SlotBlocks blocks = slot_blocks(sel, nsel, atype, mixed_types);
  const int nnei = blocks.nnei();
  std::fill(nlist, nlist + static_cast<long>(nloc) * nnei, -1);
  std::fill(rij, rij + static_cast<long>(nloc) * nnei * 3, 0.0);
  std::fill(max_count, max_count + nsel, 0);

  const double rcut2 = rcut * rcut;
  int bad_i = -1, bad_j = -1;
  bool duplicate = false;
  ErrorCapture errors;  // scratch vectors may fail to grow: no exception may leave the region
#pragma omp parallel
  {
    std::vector<Candidate> found;
    std::vector<int> local_max, count;
    errors.run([&] {
      local_max.assign(nsel, 0);
      count.assign(nsel, 0);
    });
#pragma omp for schedule(dynamic, 64)
    for (int i = 0; i < nloc; ++i) {
      errors.run([&] {
        found.clear();
        const double* ri = coord + 3 * i;
        for (int k = offsets[i]; k < offsets[i + 1]; ++k) {
          const int j = neighbors[k];
          const double dx = coord[3 * j] - ri[0];
          const double dy = coord[3 * j + 1] - ri[1];
          const double dz = coord[3 * j + 2] - ri[2];
          const double r2 = dx * dx + dy * dy + dz * dz;
          if (r2 < rcut2) found.push_back({r2, j, j});
        }
        const double nearest = fill_row(found, coord, ri, blocks,
                                        nlist + static_cast<long>(i) * nnei,
                                        rij + static_cast<long>(i) * nnei * 3, count.data(),
                                        local_max.data());
        // Sorted by (r2, atom): a repeated entry sits next to its twin.
        const auto twin = std::adjacent_find(found.begin(), found.end(),
                                             [](const Candidate& a, const Candidate& b) {
                                               return a.atom == b.atom;
                                             });
        if (nearest == 0.0 || twin != found.end()) {
#pragma omp critical(deepkit_external_list_bad)
          {
            bad_i = i;
            bad_j = nearest == 0.0 ? found[0].atom : twin->atom;
            duplicate = nearest != 0.0;
          }
        }
      });
    }
    errors.run([&] {
#pragma omp critical(deepkit_external_list_max)
      for (int t = 0; t < nsel; ++t) max_count[t] = std::max(max_count[t], local_max[t]);
    });
  }
  errors.rethrow();
  if (bad_i >= 0) {
    throw InputError(duplicate ? "local atom " + std::to_string(bad_i) + " lists atom " +
                                     std::to_string(bad_j) + " twice"
                               : "atoms " + std::to_string(bad_i) + " and " +
                                     std::to_string(bad_j) + " are at the same position");
  }
}

}  // namespace deepkit
