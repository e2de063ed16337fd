// Test inputs for gpu_check: random periodic/open systems and water-like boxes.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

struct System {
  const char* name;
  std::vector<double> coord;  // (natoms, 3)
  std::vector<int> atype;     // (natoms)
  std::vector<double> box;    // 9 entries; all zero: non-periodic
  std::vector<int> sel;
  double rcut;
  double rcut_smth;
  bool mixed_types = false;  // sel has one entry, shared by neighbours of every type
  int natoms() const { return static_cast<int>(atype.size()); }
  // Rows of the env_mat statistics: one per sel entry, or per type present in mixed mode.
  int ntypes() const {
    if (!mixed_types) return static_cast<int>(sel.size());
    return atype.empty() ? 1 : *std::max_element(atype.begin(), atype.end()) + 1;
  }
  int nnei() const {
    int n = 0;
    for (int s : sel) n += s;
    return n;
  }
};

// Atoms scattered uniformly over (and partly outside) a triclinic box.
inline System random_periodic(std::mt19937_64& rng, const char* name, int natoms, int ntypes,
                              std::vector<double> box, std::vector<int> sel, double rcut) {
  std::uniform_real_distribution<double> frac(-0.5, 1.5);
  std::uniform_int_distribution<int> type(0, ntypes - 1);
  System s{name, {}, {}, box, sel, rcut, 0.5 * rcut};
  for (int i = 0; i < natoms; ++i) {
    const double f[3] = {frac(rng), frac(rng), frac(rng)};
    for (int r = 0; r < 3; ++r) s.coord.push_back(f[0] * box[r] + f[1] * box[3 + r] + f[2] * box[6 + r]);
    s.atype.push_back(type(rng));
  }
  return s;
}

// The same atoms with one block of nnei slots that neighbours of every type share.
inline System mixed(System s, const char* name, int nnei) {
  s.name = name;
  s.sel = {nnei};
  s.mixed_types = true;
  return s;
}

inline System random_open(std::mt19937_64& rng, const char* name, int natoms, int ntypes,
                          double size, std::vector<int> sel, double rcut) {
  std::uniform_real_distribution<double> x(-size / 2, size / 2);
  std::uniform_int_distribution<int> type(0, ntypes - 1);
  System s{name, {}, {}, std::vector<double>(9, 0.0), sel, rcut, 0.3 * rcut};
  for (int i = 0; i < natoms; ++i) {
    for (int k = 0; k < 3; ++k) s.coord.push_back(x(rng));
    s.atype.push_back(type(rng));
  }
  return s;
}

// Liquid-water-like box: one molecule per site of a jittered cubic lattice at 1 g/cm^3
// (0.0334 molecules / A^3), O-H 0.9572 A, H-O-H 104.52 deg, random orientations; oxygens
// first. The DeePMD-kit water example's sel [46, 92] and cutoffs.
inline System water(std::mt19937_64& rng, const char* name, int molecules_per_side) {
  const int m = molecules_per_side, nmol = m * m * m;
  const double spacing = std::cbrt(1.0 / 0.0334), side = spacing * m;
  std::uniform_real_distribution<double> jitter(-0.3, 0.3);
  std::normal_distribution<double> gauss(0.0, 1.0);
  System s{name, {}, {}, {side, 0, 0, 0, side, 0, 0, 0, side}, {46, 92}, 6.0, 0.5};
  std::vector<double> h;
  const double half = 0.5 * 104.52 * M_PI / 180.0, oh = 0.9572;
  for (int a = 0; a < m; ++a) {
    for (int b = 0; b < m; ++b) {
      for (int c = 0; c < m; ++c) {
        const double o[3] = {(a + 0.5) * spacing + jitter(rng), (b + 0.5) * spacing + jitter(rng),
                             (c + 0.5) * spacing + jitter(rng)};
        double u[3], v[3];
        for (int k = 0; k < 3; ++k) u[k] = gauss(rng);
        double nu = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        for (int k = 0; k < 3; ++k) u[k] /= nu;
        for (int k = 0; k < 3; ++k) v[k] = gauss(rng);
        const double dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
        for (int k = 0; k < 3; ++k) v[k] -= dot * u[k];
        const double nv = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for (int k = 0; k < 3; ++k) v[k] /= nv;
        for (int k = 0; k < 3; ++k) s.coord.push_back(o[k]);
        for (int sign = -1; sign <= 1; sign += 2) {
          for (int k = 0; k < 3; ++k) {
            h.push_back(o[k] + oh * (std::cos(half) * u[k] + sign * std::sin(half) * v[k]));
          }
        }
      }
    }
  }
  s.atype.assign(nmol, 0);
  s.coord.insert(s.coord.end(), h.begin(), h.end());
  s.atype.resize(3 * nmol, 1);
  return s;
}
