// Pieces shared by the neighbour searches (neighbor_list.cc, external_list.cc): input checks
// and the ranking of the candidates of one centre into its row.
#pragma once

#include <vector>

namespace deepkit {

// One neighbour found within rcut: an atom, possibly through one of its periodic images.
struct Candidate {
  double r2;
  int atom;   // index of the atom (the one whose type decides the slot block)
  int point;  // index of the position used (an image, or the atom itself)
  // Nearest first, ties by atom index and then by image: the order the slots get.
  bool operator<(const Candidate& o) const {
    if (r2 != o.r2) return r2 < o.r2;
    if (atom != o.atom) return atom < o.atom;
    return point < o.point;
  }
};

// How a row's nnei slots are shared out: block b is slots [begin[b], begin[b + 1]), filled
// nearest first. Type-blocked rows (se_e2_a and friends) have one block per type, sel[t]
// slots for the neighbours of type t. Mixed-types rows (the attention descriptors, which
// embed the neighbour's type themselves) have a single block of sel[0] slots that
// neighbours of every type share.
struct SlotBlocks {
  std::vector<int> begin;      // (nblocks + 1)
  const int* atype = nullptr;  // block of each atom; nullptr in mixed mode: all in block 0
  int nblocks() const { return static_cast<int>(begin.size()) - 1; }
  int nnei() const { return begin.back(); }
  int of(int atom) const { return atype != nullptr ? atype[atom] : 0; }
};

// The blocks of sel (nsel entries); validate_atoms must have accepted the arguments.
SlotBlocks slot_blocks(const int* sel, int nsel, const int* atype, bool mixed_types);

// Throws InputError on a bad type index (outside [0, nsel), or negative in mixed mode), a
// non-finite coordinate, a negative sel entry, mixed mode with other than one sel entry or
// rcut <= 0, naming the atom.
void validate_atoms(const double* coord, const int* atype, int natoms, const int* sel, int nsel,
                    bool mixed_types, double rcut);

// Sorts `found` and writes the row of the centre at position ri: each block gets its
// candidates nearest first, those beyond its size are dropped. rij is point position minus
// ri. counts (nblocks) is scratch. Raises max_count[b] to the number of candidates of block
// b; returns the nearest candidate's r2 (0: an atom on top of the centre), or -1 if there is
// none.
double fill_row(std::vector<Candidate>& found, const double* point_pos, const double* ri,
                const SlotBlocks& blocks, int* row, double* row_rij, int* counts,
                int* max_count);

}  // namespace deepkit
