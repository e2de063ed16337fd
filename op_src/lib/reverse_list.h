// Forces and atomic virials gathered through a reverse neighbour list: no scatter, so no
// atomics on a GPU and no per-thread buffers on the CPU, and the result does not depend on
// how the work is split.
//
// The reverse list holds, for each atom j < nall, the slots s = i * nnei + jj with
// nlist[s] == j in ascending order (CSR: offsets[nall + 1], slots[offsets[nall]]). Gathering
// atom k's terms in slot order, with k's own row (+g) merged in at its place, adds them in
// exactly the order the single-threaded scatter of prod_force / prod_virial does, so the two
// agree bit for bit. g = dE/dr_ij of each slot is computed once, in slot order, and then
// read twice (centre and neighbour side): 24 bytes per slot instead of em_deriv and
// net_deriv's 128 on the neighbour side. The per-atom functions here are shared with the CUDA version
// (cuda/reverse_gather_gpu.cu); the host functions in reverse_list.cc are its reference.
#pragma once

#include "env_row.h"

namespace deepkit {

// Insertion sort of one atom's slots (a few hundred at most; the GPU fills them unordered).
DK_HOST_DEVICE inline void sort_slots(int* slots, int count) {
  for (int a = 1; a < count; ++a) {
    const int v = slots[a];
    int b = a - 1;
    while (b >= 0 && slots[b] > v) {
      slots[b + 1] = slots[b];
      --b;
    }
    slots[b + 1] = v;
  }
}

// slot_g[3 s ..] = g of slot s (slot_gradient), zero for an empty slot.
DK_HOST_DEVICE inline void occupied_slot_gradient(double* slot_g, const double* net_deriv,
                                                  const double* em_deriv, const int* nlist, long s,
                                                  int ncomp) {
  if (nlist[s] >= 0) {
    slot_gradient(slot_g + 3 * s, net_deriv, em_deriv, s, ncomp);
  } else {
    slot_g[3 * s] = slot_g[3 * s + 1] = slot_g[3 * s + 2] = 0.0;
  }
}

// Force on atom k (3 values) and, when atom_virial_k is not null, its atomic virial (9),
// from g = dE/dr_ij of every slot (slot_g: 3 per slot, from slot_gradient; empty slots are
// not read). k < nloc also owns a row of the list.
DK_HOST_DEVICE inline void gather_atom(double* force_k, double* atom_virial_k, int k,
                                       const int* offsets, const int* slots, const double* slot_g,
                                       const double* rij, const int* nlist, int nloc, int nnei) {
  double f[3] = {0.0, 0.0, 0.0};
  double w[9] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  const long own_first = k < nloc ? static_cast<long>(k) * nnei : -1;
  const long own_end = k < nloc ? own_first + nnei : -1;
  // The neighbour side of slot s: -g on the force, -g (x) r on the atomic virial.
  auto as_neighbour = [&](long s) {
    const double* g = slot_g + 3 * s;
    for (int e = 0; e < 3; ++e) f[e] -= g[e];
    if (atom_virial_k != nullptr) {
      const double* r = rij + 3 * s;
      for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) w[3 * a + b] -= g[a] * r[b];
      }
    }
  };
  int p = offsets[k];
  const int end = offsets[k + 1];
  for (; p < end && slots[p] < own_first; ++p) as_neighbour(slots[p]);
  for (long s = own_first; s < own_end; ++s) {
    const int j = nlist[s];
    if (j < 0) continue;
    for (int e = 0; e < 3; ++e) f[e] += slot_g[3 * s + e];
    if (j == k) as_neighbour(s);  // a periodic image of k itself, in a small box
  }
  for (; p < end; ++p) {
    if (slots[p] >= own_end) as_neighbour(slots[p]);
  }
  for (int e = 0; e < 3; ++e) force_k[e] = f[e];
  if (atom_virial_k != nullptr) {
    for (int c = 0; c < 9; ++c) atom_virial_k[c] = w[c];
  }
}

// Host reference (reverse_list.cc). offsets: nall + 1 entries; slots: one per occupied slot
// (offsets[nall] of them; at most nloc * nnei). Throws InputError on nlist entries outside
// [-1, nall).
void build_reverse_list(int* offsets, int* slots, const int* nlist, int nloc, int nall, int nnei);

// g of every slot (slot_g: nloc * nnei * 3; zero for empty slots), read by the gather.
void slot_gradients(double* slot_g, const double* net_deriv, const double* em_deriv,
                    const int* nlist, long nslots, int ncomp);

// prod_force + prod_virial through the reverse list: the same outputs, atom_virial included.
void prod_force_virial_gather(double* force, double* virial, double* atom_virial,
                              const int* offsets, const int* slots, const double* slot_g,
                              const double* rij, const int* nlist, int nloc, int nall, int nnei);

}  // namespace deepkit
