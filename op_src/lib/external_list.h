// Neighbour rows (type-blocked or mixed) from a neighbour list the caller built (an MD engine with
// domain decomposition passes its own lists and ghost atoms).
#pragma once

namespace deepkit {

// Atoms 0..nloc-1 are local (the centres), nloc..nall-1 ghosts: copies of atoms owned by
// other domains or periodic images, at their actual positions. No box is involved.
//
// The candidates of local atom i are neighbors[offsets[i] .. offsets[i+1]), indices in
// [0, nall); those within rcut fill the rows exactly as build_neighbor_list does (type
// blocks of sel[t] slots, or with mixed_types one block of sel[0] slots for all types;
// nearest first, ties by atom index). A caller's list may hold more than rcut (a skin) and
// in any order.
//
// Arguments (row-major, one frame):
//   nlist      out (nloc, nnei)     atom index of each slot, -1 when empty
//   rij        out (nloc, nnei, 3)  r_j - r_i, Angstrom; 0 when empty
//   max_count  out (nsel)           largest number of neighbours of block t within rcut
//   coord      (nall, 3)            Cartesian coordinates of local atoms then ghosts
//   atype      (nall)               type index in [0, nsel); in mixed mode any >= 0
//   offsets    (nloc + 1)           offsets[0] = 0, non-decreasing, offsets[nloc] = nnz
//   neighbors  (nnz)                candidate atom indices
// Throws InputError on nloc outside [0, nall], bad offsets, a neighbour index outside
// [0, nall), an atom listed as its own neighbour or twice within rcut, two atoms at the
// same position, and whatever build_neighbor_list rejects.
void external_neighbor_list(int* nlist, double* rij, int* max_count, const double* coord,
                            const int* atype, int nall, int nloc, const int* offsets,
                            const int* neighbors, long nnz, int nsel, const int* sel,
                            double rcut, bool mixed_types);

}  // namespace deepkit
