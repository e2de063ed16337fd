// Pieces shared by the neighbour searches (neighbor_list.cc, external_list.cc): input checks
// and the ranking of the candidates of one centre into its type-blocked row.
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

// Throws InputError on a bad type index, a non-finite coordinate, a negative sel entry or
// rcut <= 0, naming the atom.
void validate_atoms(const double* coord, const int* atype, int natoms, int ntypes,
                    const int* sel, double rcut);

// Sorts `found` and writes the row of the centre at position ri: neighbours of type t fill
// slots [sel_begin[t], sel_begin[t] + sel[t]) nearest first, the rest are dropped. rij is
// point position minus ri. counts (ntypes) is scratch. Raises max_count[t] to the number of
// type-t candidates; returns the nearest candidate's r2 (0: an atom on top of the centre),
// or -1 if there is none.
double fill_row(std::vector<Candidate>& found, const double* point_pos, const double* ri,
                const int* atype, const int* sel, const int* sel_begin, int ntypes, int* row,
                double* row_rij, int* counts, int* max_count);

}  // namespace deepkit
