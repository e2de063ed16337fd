// Checks the reverse-list gather (op_src/lib/reverse_list.h) against prod_force and
// prod_virial on the systems gpu_check uses: bit for bit when both run on one thread, to
// rounding otherwise; the reverse list against a brute-force one. Exit status 1 on failure.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "gpu_check/compare.h"
#include "gpu_check/inputs.h"
#include "lib/env_mat.h"
#include "lib/neighbor_list.h"
#include "lib/prod_force_virial.h"
#include "lib/reverse_list.h"

namespace {

int failures = 0;

void expect(bool ok, const char* system, const char* what, double value) {
  if (!ok) {
    std::printf("FAIL %s: %s (%.3g)\n", system, what, value);
    ++failures;
  }
}

// nlist with ghosts: atoms nloc..nall-1 appear only as neighbours.
void check(std::mt19937_64& rng, const char* name, const std::vector<int>& nlist,
           const std::vector<double>& rij, int nloc, int nall, int nnei, int ncomp) {
  const long nslots = static_cast<long>(nloc) * nnei;
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<double> net_deriv(nslots * ncomp), em_deriv(nslots * ncomp * 3);
  for (double& v : net_deriv) v = unit(rng);
  for (double& v : em_deriv) v = unit(rng);

  std::vector<int> offsets(nall + 1), slots(nslots);
  deepkit::build_reverse_list(offsets.data(), slots.data(), nlist.data(), nloc, nall, nnei);
  long listed = 0, wrong = 0;
  for (int j = 0; j < nall; ++j) {
    long expected = offsets[j];
    for (long s = 0; s < nslots; ++s) {
      if (nlist[s] != j) continue;
      wrong += expected >= offsets[j + 1] || slots[expected] != s;
      ++expected;
      ++listed;
    }
    wrong += expected != offsets[j + 1];
  }
  expect(wrong == 0 && listed == offsets[nall], name, "reverse list", wrong);

  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    std::vector<double> force(3L * nall), virial(9), atom_virial(9L * nall);
    std::vector<double> gforce(3L * nall, NAN), gvirial(9, NAN), gatom_virial(9L * nall, NAN);
    deepkit::prod_force(force.data(), net_deriv.data(), em_deriv.data(), nlist.data(), nloc, nall,
                        nnei, ncomp);
    deepkit::prod_virial(virial.data(), atom_virial.data(), net_deriv.data(), em_deriv.data(),
                         rij.data(), nlist.data(), nloc, nall, nnei, ncomp);
    std::vector<double> slot_g(nslots * 3, NAN);
    deepkit::slot_gradients(slot_g.data(), net_deriv.data(), em_deriv.data(), nlist.data(),
                            nslots, ncomp);
    deepkit::prod_force_virial_gather(gforce.data(), gvirial.data(), gatom_virial.data(),
                                      offsets.data(), slots.data(), slot_g.data(), rij.data(),
                                      nlist.data(), nloc, nall, nnei);
    // One thread: the same additions in the same order. More: the scatter's per-thread
    // buffers round differently, the gather does not change.
    const double tol = threads == 1 ? 0.0 : 1e-13;
    expect(rel_diff(gforce, force) <= tol, name, "force", rel_diff(gforce, force));
    expect(rel_diff(gvirial, virial) <= tol, name, "virial", rel_diff(gvirial, virial));
    expect(rel_diff(gatom_virial, atom_virial) <= tol, name, "atom_virial",
           rel_diff(gatom_virial, atom_virial));
  }
}

void check_system(std::mt19937_64& rng, const System& s) {
  const int n = s.natoms(), nnei = s.nnei(), ntypes = static_cast<int>(s.sel.size());
  std::vector<int> nlist(static_cast<long>(n) * nnei), max_count(ntypes);
  std::vector<double> rij(nlist.size() * 3);
  const bool periodic = !deepkit::box_is_empty(s.box.data());
  deepkit::build_neighbor_list(nlist.data(), rij.data(), max_count.data(), s.coord.data(),
                               s.atype.data(), periodic ? s.box.data() : nullptr, n, ntypes,
                               s.sel.data(), s.rcut, s.mixed_types);
  check(rng, s.name, nlist, rij, n, n, nnei, 4);
  check(rng, s.name, nlist, rij, n, n, nnei, 1);
}

// Ghost atoms: a random list over nall > nloc atoms, -1 padding, no repeats needed here.
void check_ghosts(std::mt19937_64& rng) {
  const int nloc = 40, nall = 130, nnei = 24;
  std::uniform_int_distribution<int> atom(-1, nall - 1);
  std::uniform_real_distribution<double> x(-3.0, 3.0);
  std::vector<int> nlist(nloc * nnei);
  std::vector<double> rij(nlist.size() * 3);
  for (int& j : nlist) j = atom(rng);
  for (double& v : rij) v = x(rng);
  check(rng, "ghost atoms", nlist, rij, nloc, nall, nnei, 4);
}

}  // namespace

int main() {
  std::mt19937_64 rng(20261124);
  check_system(rng, random_periodic(rng, "tiny triclinic box (self images)", 5, 2,
                                    {2.5, 0, 0, 0.4, 2.6, 0, -0.3, 0.2, 2.4}, {40, 40}, 3.0));
  check_system(rng, random_periodic(rng, "random triclinic box", 300, 3,
                                    {9.0, 0, 0, 1.0, 8.5, 0, -0.7, 0.5, 9.5}, {30, 30, 30}, 4.0));
  check_system(rng, random_open(rng, "open cluster", 150, 2, 12.0, {40, 40}, 4.5));
  check_system(rng, water(rng, "water 1,536 atoms", 8));
  check_ghosts(rng);
  std::printf("%s\n", failures == 0 ? "all checks passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
