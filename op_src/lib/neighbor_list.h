// Cell-list neighbour search over periodic (orthorhombic or triclinic) and open boxes.
#pragma once

namespace deepkit {

// Builds the distance-sorted neighbour list of one frame, type-blocked or mixed.
//
// Type-blocked (mixed_types false): neighbours of type t fill slots [sum(sel[:t]),
// sum(sel[:t+1])) of each row. Mixed types (for the attention descriptors, which embed the
// neighbour's type themselves): sel has one entry and neighbours of any type fill its
// sel[0] slots. Either way nearest first, ties broken by atom index and then by periodic
// image, the farthest dropped when a block is full. A neighbour is any image of
// any atom (the centre's own images included) with distance < rcut, so boxes shorter than
// 2*rcut are handled exactly. Rows are padded with index -1 and a zero rij.
//
// Arguments (row-major, one frame):
//   nlist      out (natoms, nnei)     atom index of each slot, -1 when empty
//   rij        out (natoms, nnei, 3)  r_j - r_i of that image, Angstrom; 0 when empty
//   max_count  out (nsel)             largest number of neighbours of any centre in block t
//                                     (type t, or all types in mixed mode; compare with
//                                     sel[t]: larger means atoms were dropped)
//   coord      (natoms, 3)            Cartesian coordinates, Angstrom
//   atype      (natoms)               type index in [0, nsel); in mixed mode any >= 0
//   box        (9) or nullptr         cell vectors as rows; nullptr means non-periodic
//   sel        (nsel)                 slots per block; nnei = sum(sel)
// Throws InputError on non-finite coordinates, a singular box, a bad type index, rcut <= 0,
// mixed mode with nsel != 1,
// two atoms at the same position, or a box so thin for rcut that its periodic images would
// exceed max(26 * natoms, 2^20) (neighbor_list.cc: kImagesPerAtom, kImageBudget).
void build_neighbor_list(int* nlist, double* rij, int* max_count, const double* coord,
                         const int* atype, const double* box, int natoms, int nsel,
                         const int* sel, double rcut, bool mixed_types);

// True when all nine box entries are zero: DeePMD's convention for a non-periodic frame.
bool box_is_empty(const double* box);

}  // namespace deepkit
