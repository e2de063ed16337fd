#include "neighbor_list.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "errors.h"
#include "neighbor_rows.h"
#include "parallel_errors.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepkit {
namespace {

struct Cell {
  double h[9];     // cell vectors as rows
  double inv[9];   // frac = cart . inv
  double face[3];  // distance between opposite faces, per lattice direction
};

void cross(const double* a, const double* b, double* out) {
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

double norm(const double* a) { return std::sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); }

Cell make_cell(const double* box) {
  for (int k = 0; k < 9; ++k) {
    if (!std::isfinite(box[k])) throw InputError("box has a non-finite entry");
  }
  Cell cell;
  std::copy(box, box + 9, cell.h);
  double normals[9];  // b x c, c x a, a x b
  for (int k = 0; k < 3; ++k) cross(box + 3 * ((k + 1) % 3), box + 3 * ((k + 2) % 3), normals + 3 * k);
  const double det = box[0] * normals[0] + box[1] * normals[1] + box[2] * normals[2];
  const double scale = norm(box) * norm(box + 3) * norm(box + 6);
  if (!(std::fabs(det) > 1e-10 * scale)) {
    throw InputError("box is singular (its three cell vectors are linearly dependent)");
  }
  for (int k = 0; k < 3; ++k) {
    for (int r = 0; r < 3; ++r) cell.inv[r * 3 + k] = normals[3 * k + r] / det;
    cell.face[k] = std::fabs(det) / norm(normals + 3 * k);
  }
  return cell;
}

// Cells are at least rcut / kCellSplit thick, so all neighbours of a point lie within
// kCellSplit cells of its own along each axis. Thinner cells than rcut cut the number of
// candidate distances (5^3 cells of rcut/2 hold ~60% of the volume of 3^3 cells of rcut).
constexpr int kCellSplit = 2;

// Regular grid of cells over a parallelepiped region given in "grid coordinates" g
// (fractional coordinates for a periodic box, Cartesian for an open one).
struct Grid {
  double lo[3];
  double width[3];
  int n[3];

  int index_of(const double* g) const {
    int idx[3];
    for (int k = 0; k < 3; ++k) {
      const double t = width[k] > 0 ? (g[k] - lo[k]) / width[k] * n[k] : 0.0;
      idx[k] = std::min(n[k] - 1, std::max(0, static_cast<int>(std::floor(t))));
    }
    return (idx[0] * n[1] + idx[1]) * n[2] + idx[2];
  }
};

Grid make_grid(const double* lo, const double* width, const double* thickness, double rcut,
               long npoints) {
  Grid grid;
  long total = 1;
  for (int k = 0; k < 3; ++k) {
    grid.lo[k] = lo[k];
    grid.width[k] = width[k];
    const double cells = std::floor(thickness[k] * kCellSplit / rcut);
    grid.n[k] = static_cast<int>(std::max(1.0, std::min(cells, 1e6)));
    total *= grid.n[k];
  }
  // Sparse open systems (molecules far apart) would give mostly empty cells: coarser cells
  // stay correct (each is still thick enough) and keep memory O(N).
  const long cap = std::max(64L, 4 * npoints);
  while (total > cap) {
    const int k = static_cast<int>(std::max_element(grid.n, grid.n + 3) - grid.n);
    total = total / grid.n[k];
    grid.n[k] = (grid.n[k] + 1) / 2;
    total *= grid.n[k];
  }
  return grid;
}

// Periodic images a frame may add to the search. A box thinner than rcut needs images of
// each atom up to rcut / height cells away along each lattice direction: about
// natoms * (prod_k (1 + 2 rcut / h_k) - 1) of them, ~100 bytes each. A box at least rcut
// high in every direction needs at most 26 per atom; a small cell of real matter (one atom,
// 2 A heights, rcut 12) some thousands in all. A box far thinner than any matter (a 0.05 A
// cell from a unit mix-up: 1.4e7 images per atom at rcut 6) would exhaust the memory, so
// frames needing more than max(kImagesPerAtom * natoms, kImageBudget) are refused.
constexpr double kImagesPerAtom = 26;
constexpr double kImageBudget = 1 << 20;

std::string format_number(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

void check_image_count(const Cell& cell, const double* margin, int natoms, double rcut) {
  double per_atom = 1.0;
  for (int k = 0; k < 3; ++k) per_atom *= 1.0 + 2.0 * margin[k];
  per_atom -= 1.0;
  const double images = per_atom * natoms;
  // Capped below INT_MAX / 2 in all: the search indexes points with ints.
  const double limit = std::min(std::max(kImagesPerAtom * natoms, kImageBudget),
                                INT_MAX / 2.0 - natoms);
  if (images <= limit) return;
  throw InputError(
      "box too small for rcut = " + format_number("%g", rcut) + " A: its heights (distances " +
      "between opposite faces) are " + format_number("%.4g", cell.face[0]) + ", " +
      format_number("%.4g", cell.face[1]) + ", " + format_number("%.4g", cell.face[2]) +
      " A, so the neighbour search would need " + format_number("%.3g", images) +
      " periodic images of its " + std::to_string(natoms) + " atoms (at most " +
      format_number("%.0f", limit) + " are allowed); is the box in Angstrom? A skewed cell " +
      "of a larger box: Niggli-reduce it (ase.build.niggli_reduce)");
}

// Atoms and their periodic images within reach of the home cell, home copies first.
struct Points {
  std::vector<double> pos;   // (npoints, 3) Cartesian
  std::vector<double> grid;  // (npoints, 3) grid coordinates
  std::vector<int> atom;     // (npoints) index of the original atom
};

Points periodic_points(const double* coord, int natoms, const Cell& cell, const double* margin) {
  Points pts;
  std::vector<double> frac(3 * natoms);
  pts.pos.resize(3 * natoms);
  for (int i = 0; i < natoms; ++i) {
    for (int k = 0; k < 3; ++k) {
      double f = 0;
      for (int r = 0; r < 3; ++r) f += coord[3 * i + r] * cell.inv[r * 3 + k];
      frac[3 * i + k] = f;
    }
    // Subtract whole cell vectors so that atoms already inside keep their exact coordinates.
    double shift[3];
    for (int k = 0; k < 3; ++k) {
      shift[k] = std::floor(frac[3 * i + k]);
      frac[3 * i + k] -= shift[k];
      if (frac[3 * i + k] >= 1.0) frac[3 * i + k] = 0.0;
    }
    for (int r = 0; r < 3; ++r) {
      pts.pos[3 * i + r] = coord[3 * i + r] - (shift[0] * cell.h[r] + shift[1] * cell.h[3 + r] +
                                               shift[2] * cell.h[6 + r]);
    }
  }
  pts.grid = frac;
  pts.atom.resize(natoms);
  for (int i = 0; i < natoms; ++i) pts.atom[i] = i;

  int reach[3];
  for (int k = 0; k < 3; ++k) reach[k] = static_cast<int>(std::ceil(margin[k]));
  for (int n0 = -reach[0]; n0 <= reach[0]; ++n0) {
    for (int n1 = -reach[1]; n1 <= reach[1]; ++n1) {
      for (int n2 = -reach[2]; n2 <= reach[2]; ++n2) {
        if (n0 == 0 && n1 == 0 && n2 == 0) continue;
        const int n[3] = {n0, n1, n2};
        double offset[3];
        for (int r = 0; r < 3; ++r) offset[r] = n0 * cell.h[r] + n1 * cell.h[3 + r] + n2 * cell.h[6 + r];
        for (int i = 0; i < natoms; ++i) {
          bool inside = true;
          for (int k = 0; k < 3 && inside; ++k) {
            const double f = frac[3 * i + k] + n[k];
            inside = f >= -margin[k] && f < 1.0 + margin[k];
          }
          if (!inside) continue;
          for (int k = 0; k < 3; ++k) {
            pts.pos.push_back(pts.pos[3 * i + k] + offset[k]);
            pts.grid.push_back(frac[3 * i + k] + n[k]);
          }
          pts.atom.push_back(i);
        }
      }
    }
  }
  return pts;
}

}  // namespace

bool box_is_empty(const double* box) {
  for (int k = 0; k < 9; ++k) {
    if (box[k] != 0.0) return false;
  }
  return true;
}

void build_neighbor_list(int* nlist, double* rij, int* max_count, const double* coord,
                         const int* atype, const double* box, int natoms, int nsel,
                         const int* sel, double rcut, bool mixed_types) {
  validate_atoms(coord, atype, natoms, sel, nsel, mixed_types, rcut);
  const SlotBlocks blocks = slot_blocks(sel, nsel, atype, mixed_types);
  const int nnei = blocks.nnei();
  std::fill(nlist, nlist + static_cast<long>(natoms) * nnei, -1);
  std::fill(rij, rij + static_cast<long>(natoms) * nnei * 3, 0.0);
  std::fill(max_count, max_count + nsel, 0);
  if (natoms == 0) return;

  Points pts;
  Grid grid;
  if (box != nullptr) {
    const Cell cell = make_cell(box);
    double margin[3], lo[3], width[3], thickness[3];
    for (int k = 0; k < 3; ++k) {
      margin[k] = rcut / cell.face[k] * (1.0 + 1e-10);
      lo[k] = -margin[k];
      width[k] = 1.0 + 2.0 * margin[k];
      thickness[k] = width[k] * cell.face[k];
    }
    check_image_count(cell, margin, natoms, rcut);
    pts = periodic_points(coord, natoms, cell, margin);
    grid = make_grid(lo, width, thickness, rcut, static_cast<long>(pts.atom.size()));
  } else {
    pts.pos.assign(coord, coord + 3 * natoms);
    pts.grid = pts.pos;
    pts.atom.resize(natoms);
    for (int i = 0; i < natoms; ++i) pts.atom[i] = i;
    double lo[3], width[3];
    for (int k = 0; k < 3; ++k) {
      double mn = coord[k], mx = coord[k];
      for (int i = 1; i < natoms; ++i) {
        mn = std::min(mn, coord[3 * i + k]);
        mx = std::max(mx, coord[3 * i + k]);
      }
      lo[k] = mn;
      width[k] = mx - mn;
    }
    grid = make_grid(lo, width, width, rcut, natoms);
  }

  // Counting sort of points into cells.
  const int npoints = static_cast<int>(pts.atom.size());
  const int ncells = grid.n[0] * grid.n[1] * grid.n[2];
  std::vector<int> point_cell(npoints);
  std::vector<int> cell_start(ncells + 1, 0);
  for (int p = 0; p < npoints; ++p) {
    point_cell[p] = grid.index_of(&pts.grid[3 * p]);
    ++cell_start[point_cell[p] + 1];
  }
  for (int c = 0; c < ncells; ++c) cell_start[c + 1] += cell_start[c];
  std::vector<int> cell_points(npoints);
  {
    std::vector<int> fill(cell_start.begin(), cell_start.end() - 1);
    for (int p = 0; p < npoints; ++p) cell_points[fill[point_cell[p]]++] = p;
  }
  // Positions in cell order: the candidate scan below then reads memory contiguously.
  std::vector<double> cell_pos(3 * static_cast<long>(npoints));
  for (int q = 0; q < npoints; ++q) {
    for (int k = 0; k < 3; ++k) cell_pos[3 * q + k] = pts.pos[3 * cell_points[q] + k];
  }

  const double rcut2 = rcut * rcut;
  int overlap_i = -1, overlap_j = -1;
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
    for (int i = 0; i < natoms; ++i) {
      errors.run([&] {
        found.clear();
        const int c = point_cell[i];
        const int ci[3] = {c / (grid.n[1] * grid.n[2]), (c / grid.n[2]) % grid.n[1], c % grid.n[2]};
        const double* ri = &pts.pos[3 * i];
        const int reach = kCellSplit;
        for (int a = std::max(0, ci[0] - reach); a <= std::min(grid.n[0] - 1, ci[0] + reach); ++a) {
          for (int b = std::max(0, ci[1] - reach); b <= std::min(grid.n[1] - 1, ci[1] + reach); ++b) {
            for (int d = std::max(0, ci[2] - reach); d <= std::min(grid.n[2] - 1, ci[2] + reach); ++d) {
              const int cell = (a * grid.n[1] + b) * grid.n[2] + d;
              for (int q = cell_start[cell]; q < cell_start[cell + 1]; ++q) {
                const double dx = cell_pos[3 * q] - ri[0];
                const double dy = cell_pos[3 * q + 1] - ri[1];
                const double dz = cell_pos[3 * q + 2] - ri[2];
                const double r2 = dx * dx + dy * dy + dz * dz;
                if (r2 < rcut2) {
                  const int p = cell_points[q];
                  if (p != i) found.push_back({r2, pts.atom[p], p});
                }
              }
            }
          }
        }
        int* row = nlist + static_cast<long>(i) * nnei;
        double* row_rij = rij + static_cast<long>(i) * nnei * 3;
        const double nearest = fill_row(found, pts.pos.data(), ri, blocks, row, row_rij,
                                        count.data(), local_max.data());
        if (nearest == 0.0) {
#pragma omp critical(deepkit_nlist_overlap)
          {
            overlap_i = i;
            overlap_j = found[0].atom;
          }
        }
      });
    }
    errors.run([&] {
#pragma omp critical(deepkit_nlist_max)
      for (int t = 0; t < nsel; ++t) max_count[t] = std::max(max_count[t], local_max[t]);
    });
  }
  errors.rethrow();
  if (overlap_i >= 0) {
    throw InputError("atoms " + std::to_string(overlap_i) + " and " + std::to_string(overlap_j) +
                     " (or its periodic image) are at the same position");
  }
}

}  // namespace deepkit
