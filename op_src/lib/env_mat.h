// Environment matrices of the smooth-edition descriptors (se_e2_a, se_e2_r).
#pragma once

#include "env_row.h"  // switch_fn

namespace deepkit {

// Normalised environment matrix and its derivative with respect to r_ij, one frame.
//
// ncomp = 4 (se_e2_a): row (s, s x/r, s y/r, s z/r);  ncomp = 1 (se_e2_r): row (s).
// Empty slots (nlist -1) have a zero raw row. Every row, empty or not, is normalised as
// (row - avg[type_i]) / std[type_i], so a neighbour leaving rcut continuously becomes an
// empty slot.
//
//   em        out (nloc, nnei, ncomp)
//   em_deriv  out (nloc, nnei, ncomp, 3)   d em / d r_ij  (r_ij = r_j - r_i)
//   rij       (nloc, nnei, 3)              from build_neighbor_list
//   nlist     (nloc, nnei)
//   atype     (nloc)                       type of each centre, in [0, ntypes)
//   avg, std  (ntypes, nnei, ncomp)        std must be non-zero
void env_mat(double* em, double* em_deriv, const double* rij, const int* nlist, const int* atype,
             const double* avg, const double* std, int nloc, int nnei, int ncomp, int ntypes,
             double rcut_smth, double rcut);

// Throws InputError unless 0 <= rcut_smth < rcut.
void check_cutoffs(double rcut_smth, double rcut);

}  // namespace deepkit
