// Crafted and random inputs for the op_src/lib kernels, built by tests/test_lib_faults.py
// under AddressSanitizer and UndefinedBehaviorSanitizer: every call must either succeed or
// throw InputError (which the ops turn into InvalidArgument), never touch memory it does not
// own. Prints "crafted N random M refused K" and exits 0, or names the failing case and
// exits 1.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lib/env_mat.h"
#include "lib/errors.h"
#include "lib/external_list.h"
#include "lib/neighbor_list.h"
#include "lib/prod_force_virial.h"
#include "lib/tabulate.h"

namespace {

int refused = 0;

// Runs one case: "ok" and "refused" are the outcomes allowed; `expect` is the one required
// ("" for either), `contains` a part of the refusal's message.
bool check(const std::string& name, const std::function<void()>& body, const char* expect,
           const char* contains = "") {
  std::string outcome = "ok", message;
  try {
    body();
  } catch (const deepkit::InputError& e) {
    outcome = "refused";
    message = e.what();
    ++refused;
  } catch (const std::exception& e) {
    std::printf("%s: unexpected exception: %s\n", name.c_str(), e.what());
    return false;
  }
  if ((*expect && outcome != expect) || (*contains && message.find(contains) == std::string::npos)) {
    std::printf("%s: %s (%s), expected %s (%s)\n", name.c_str(), outcome.c_str(), message.c_str(),
                expect, contains);
    return false;
  }
  return true;
}

struct Frame {
  std::vector<double> coord, box;
  std::vector<int> atype, sel;
  double rcut = 4.0;
  bool mixed_types = false;
};

void neighbor_list(const Frame& f) {
  const int natoms = static_cast<int>(f.atype.size()), ntypes = static_cast<int>(f.sel.size());
  long nnei = 0;
  for (int s : f.sel) nnei += s > 0 ? s : 0;
  std::vector<int> nlist(natoms * nnei + 1), max_count(ntypes + 1);
  std::vector<double> rij(natoms * nnei * 3 + 1);
  deepkit::build_neighbor_list(nlist.data(), rij.data(), max_count.data(), f.coord.data(),
                               f.atype.data(), f.box.empty() ? nullptr : f.box.data(), natoms,
                               ntypes, f.sel.data(), f.rcut, f.mixed_types);
}

// The frame with one block of nnei slots for neighbours of every type.
Frame mixed(Frame f, int nnei) {
  f.sel = {nnei};
  f.mixed_types = true;
  return f;
}

Frame cubic(int natoms, double side, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, side);
  Frame f;
  for (int i = 0; i < natoms; ++i) {
    for (int k = 0; k < 3; ++k) f.coord.push_back(u(rng));
    f.atype.push_back(i % 2);
  }
  f.box = {side, 0, 0, 0, side, 0, 0, 0, side};
  f.sel = {8, 8};
  return f;
}

int crafted(std::mt19937_64& rng) {
  int failures = 0, n = 0;
  auto run = [&](const std::string& name, const std::function<void()>& body, const char* expect,
                 const char* contains = "") {
    ++n;
    failures += !check(name, body, expect, contains);
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Frame good = cubic(20, 6.0, rng);
  run("good frame", [&] { neighbor_list(good); }, "ok");
  Frame tiny = cubic(3, 0.05, rng);
  tiny.rcut = 6.0;
  run("0.05 A box", [&] { neighbor_list(tiny); }, "refused", "box too small for rcut = 6 A");
  Frame thin = cubic(1, 0.2, rng);
  run("one atom in a 0.2 A box (9.4e4 images)", [&] { neighbor_list(thin); }, "ok");
  Frame flat = good;
  flat.box = {1, 0, 0, 2, 0, 0, 0, 0, 1};
  run("singular box", [&] { neighbor_list(flat); }, "refused", "singular");
  Frame skewed = good;
  skewed.box = {6, 0, 0, 6000, 0.006, 0, 0, 0, 6};
  run("needle box", [&] { neighbor_list(skewed); }, "refused", "box too small");
  Frame nan_box = good;
  nan_box.box[4] = nan;
  run("NaN box", [&] { neighbor_list(nan_box); }, "refused", "non-finite");
  Frame bad_type = good;
  bad_type.atype[3] = 7;
  run("type out of range", [&] { neighbor_list(bad_type); }, "refused", "atom 3 has type 7");
  Frame nan_coord = good;
  nan_coord.coord[5] = nan;
  run("NaN coordinate", [&] { neighbor_list(nan_coord); }, "refused", "not finite");
  Frame overlap = good;
  std::copy(overlap.coord.begin(), overlap.coord.begin() + 3, overlap.coord.begin() + 3);
  run("overlapping atoms", [&] { neighbor_list(overlap); }, "refused", "same position");
  for (double rcut : {0.0, -1.0, nan, std::numeric_limits<double>::infinity()}) {
    Frame f = good;
    f.rcut = rcut;
    run("rcut " + std::to_string(rcut), [&] { neighbor_list(f); }, "refused", "rcut");
  }
  Frame negative_sel = good;
  negative_sel.sel = {-4, 8};
  run("negative sel", [&] { neighbor_list(negative_sel); }, "refused", "sel[0] is negative");
  run("mixed types", [&] { neighbor_list(mixed(good, 12)); }, "ok");
  run("mixed types, no slots", [&] { neighbor_list(mixed(good, 0)); }, "ok");
  run("mixed types, many images", [&] { neighbor_list(mixed(thin, 50)); }, "ok");
  run("mixed types, type beyond any sel", [&] { neighbor_list(mixed(bad_type, 12)); }, "ok");
  Frame mixed_negative = mixed(good, 12);
  mixed_negative.atype[2] = -1;
  run("mixed types, negative type", [&] { neighbor_list(mixed_negative); }, "refused",
      "atom 2 has type -1, expected a type index >= 0");
  Frame mixed_two = good;
  mixed_two.mixed_types = true;
  run("mixed types, two sel entries", [&] { neighbor_list(mixed_two); }, "refused",
      "mixed_types takes exactly one sel entry");
  run("mixed types, overlap", [&] { neighbor_list(mixed(overlap, 12)); }, "refused",
      "same position");
  run("mixed types, tiny box", [&] { neighbor_list(mixed(tiny, 12)); }, "refused",
      "box too small");

  // The caller's list with ghosts.
  std::vector<int> nlist(2 * 16), max_count(2);
  std::vector<double> rij(2 * 16 * 3);
  const std::vector<double> coord = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  const std::vector<int> atype = {0, 1, 0};
  auto external = [&](std::vector<int> offsets, std::vector<int> neighbors, int nloc,
                      std::vector<int> sel = {8, 8}, bool mixed_types = false) {
    return [=, &nlist, &rij, &max_count] {
      deepkit::external_neighbor_list(nlist.data(), rij.data(), max_count.data(), coord.data(),
                                      atype.data(), 3, nloc, offsets.data(), neighbors.data(),
                                      static_cast<long>(neighbors.size()),
                                      static_cast<int>(sel.size()), sel.data(), 4.0, mixed_types);
    };
  };
  run("external list", external({0, 2, 4}, {1, 2, 0, 2}, 2), "ok");
  run("neighbour out of range", external({0, 1, 1}, {5}, 2), "refused", "outside [0, nall");
  run("negative neighbour", external({0, 1, 1}, {-3}, 2), "refused", "outside [0, nall");
  run("atom lists itself", external({0, 1, 1}, {0}, 2), "refused", "lists itself");
  run("listed twice", external({0, 2, 2}, {1, 1}, 2), "refused", "twice");
  run("offsets decrease", external({0, 2, 1}, {1, 2}, 2), "refused", "decrease");
  run("offsets end short", external({0, 1, 1}, {1, 2}, 2), "refused", "neighbour offsets end");
  run("nloc > nall", external({0, 0, 0, 0, 0}, {}, 4), "refused", "nloc = 4");
  run("external list, mixed types", external({0, 2, 4}, {1, 2, 0, 2}, 2, {1}, true), "ok");
  run("external list, mixed types, full rows", external({0, 2, 4}, {1, 2, 0, 2}, 2, {16}, true),
      "ok");
  run("external list, mixed types, two sel entries", external({0, 1, 1}, {1}, 2, {8, 8}, true),
      "refused", "exactly one sel entry");
  run("external list, mixed types, listed twice", external({0, 2, 2}, {1, 1}, 2, {8}, true),
      "refused", "twice");

  // Environment matrix, products, tables.
  const std::vector<int> nl = {1, -1, 0, -1};
  const std::vector<double> r = {1, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0};
  std::vector<double> em(2 * 2 * 4), em_deriv(2 * 2 * 4 * 3), avg(2 * 2 * 4, 0.0), stdv(2 * 2 * 4, 1.0);
  auto env = [&](std::vector<int> types, std::vector<double> std_values, double smth) {
    return [=, &em, &em_deriv, &avg] {
      deepkit::env_mat(em.data(), em_deriv.data(), r.data(), nl.data(), types.data(), avg.data(),
                       std_values.data(), 2, 2, 4, 2, smth, 4.0);
    };
  };
  run("env mat", env({0, 1}, stdv, 0.5), "ok");
  run("env mat bad type", env({0, 2}, stdv, 0.5), "refused", "atom 1 has type 2");
  std::vector<double> zero_std = stdv;
  zero_std[3] = 0.0;
  run("env mat zero std", env({0, 1}, zero_std, 0.5), "refused", "std must be finite");
  run("env mat rcut_smth >= rcut", env({0, 1}, stdv, 4.0), "refused", "rcut_smth");
  std::vector<double> force(3 * 2), virial(9), atom_virial(9 * 2), net(2 * 2 * 4, 1.0);
  auto prod = [&](std::vector<int> list, int nall) {
    return [=, &force, &virial, &atom_virial, &net, &em_deriv] {
      deepkit::prod_force(force.data(), net.data(), em_deriv.data(), list.data(), 2, nall, 2, 4);
      deepkit::prod_virial(virial.data(), atom_virial.data(), net.data(), em_deriv.data(),
                           r.data(), list.data(), 2, nall, 2, 4);
    };
  };
  run("products", prod(nl, 2), "ok");
  run("products nlist entry >= nall", prod({1, -1, 2, -1}, 2), "refused", "nlist entry 2");
  run("products nlist entry < -1", prod({1, -1, -5, -1}, 2), "refused", "nlist entry -5");
  run("products nall < nloc", prod(nl, 1), "refused", "nall must be at least nloc");
  for (double n_inner : {0.0, -1.0, nan, 1e300}) {
    const double info[7] = {0.0, 1.0, 2.0, 0.5, 0.5, n_inner, 2.0};
    run("table info n_inner " + std::to_string(n_inner), [&] { deepkit::table_info(info, 4); },
        "refused", "inconsistent");
  }
  std::printf("crafted %d\n", n);
  return failures;
}

// Random frames: boxes from normal to degenerate, types and sel in and out of range.
int random_frames(std::mt19937_64& rng, int trials) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  int failures = 0;
  for (int trial = 0; trial < trials; ++trial) {
    Frame f;
    const int natoms = static_cast<int>(u(rng) * 30);
    const int ntypes = 1 + static_cast<int>(u(rng) * 3);
    const double scale = std::pow(10.0, -2.0 + 3.5 * u(rng));  // 0.01 .. 30 A
    const bool periodic = u(rng) < 0.8;
    if (periodic) {
      const bool skew = u(rng) < 0.3;
      for (int k = 0; k < 9; ++k) {
        f.box.push_back((k % 4 == 0 ? scale : 0.0) + (skew ? scale * (u(rng) - 0.5) : 0.0));
      }
      if (u(rng) < 0.05) std::fill(f.box.begin() + 3, f.box.begin() + 6, 0.0);  // singular
    }
    for (int i = 0; i < natoms; ++i) {
      for (int k = 0; k < 3; ++k) f.coord.push_back((u(rng) - 0.25) * scale * 1.5);
      f.atype.push_back(static_cast<int>(u(rng) * ntypes));
    }
    if (natoms > 0 && u(rng) < 0.05) f.atype[natoms - 1] = u(rng) < 0.5 ? -1 : ntypes;
    for (int t = 0; t < ntypes; ++t) f.sel.push_back(static_cast<int>(u(rng) * 12) - (u(rng) < 0.03));
    // Mixed types: one block for all types; now and then sel keeps one entry per type, which
    // is refused when there are two or more.
    f.mixed_types = u(rng) < 0.3;
    if (f.mixed_types && u(rng) < 0.9) f.sel.resize(1);
    if (f.mixed_types) f.sel[0] *= ntypes;
    f.rcut = u(rng) < 0.03 ? -1.0 : 0.5 + 8.0 * u(rng);
    if (f.coord.empty()) f.coord.push_back(0.0);
    failures += !check("random frame " + std::to_string(trial), [&] { neighbor_list(f); }, "");
  }
  std::printf("random %d\n", trials);
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  std::mt19937_64 rng(argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 22);
  const int trials = argc > 2 ? std::atoi(argv[2]) : 300;
  const int failures = crafted(rng) + random_frames(rng, trials);
  std::printf("refused %d\n", refused);
  return failures == 0 ? 0 : 1;
}
