#include "reverse_list.h"

#include <algorithm>
#include <vector>

#include "prod_force_virial.h"

namespace deepkit {

void build_reverse_list(int* offsets, int* slots, const int* nlist, int nloc, int nall,
                        int nnei) {
  check_nlist(nlist, nloc, nnei, nall);
  const long nslots = static_cast<long>(nloc) * nnei;
  std::fill(offsets, offsets + nall + 1, 0);
  for (long s = 0; s < nslots; ++s) {
    if (nlist[s] >= 0) ++offsets[nlist[s] + 1];
  }
  for (int j = 0; j < nall; ++j) offsets[j + 1] += offsets[j];
  // Filling in slot order leaves every atom's slots sorted.
  std::vector<int> cursor(offsets, offsets + nall);
  for (long s = 0; s < nslots; ++s) {
    if (nlist[s] >= 0) slots[cursor[nlist[s]]++] = static_cast<int>(s);
  }
}

void slot_gradients(double* slot_g, const double* net_deriv, const double* em_deriv,
                    const int* nlist, long nslots, int ncomp) {
#pragma omp parallel for schedule(static)
  for (long s = 0; s < nslots; ++s) {
    occupied_slot_gradient(slot_g, net_deriv, em_deriv, nlist, s, ncomp);
  }
}

void prod_force_virial_gather(double* force, double* virial, double* atom_virial,
                              const int* offsets, const int* slots, const double* slot_g,
                              const double* rij, const int* nlist, int nloc, int nall, int nnei) {
#pragma omp parallel for schedule(static)
  for (int k = 0; k < nall; ++k) {
    gather_atom(force + 3L * k, atom_virial + 9L * k, k, offsets, slots, slot_g, rij, nlist, nloc,
                nnei);
  }
  sum_atom_virial(virial, atom_virial, nall);
}

}  // namespace deepkit
