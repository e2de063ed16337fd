// Standalone check and benchmark of the op_src/lib kernels: every CUDA kernel against its
// CPU counterpart on random and water-like inputs, then timings. No TensorFlow.
//
//   gpu_check [--seed N] [--bench] [--bench-reps N]
// Exit status 0 when every comparison is within tolerance.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../lib/cuda/kernels_gpu.h"
#include "../lib/env_mat.h"
#include "../lib/errors.h"
#include "../lib/neighbor_list.h"
#include "../lib/prod_force_virial.h"
#include "../lib/reverse_list.h"
#include "../lib/tabulate.h"
#include "compare.h"
#include "inputs.h"

namespace gpu = deepkit::gpu;

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    const cudaError_t err_ = (call);                                                       \
    if (err_ != cudaSuccess) {                                                             \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                   \
                   cudaGetErrorString(err_));                                              \
      std::exit(3);                                                                        \
    }                                                                                      \
  } while (0)

template <typename T>
struct DeviceArray {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceArray(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T)));
    // Poison: every output element must be written by the kernel under test.
    CUDA_CHECK(cudaMemset(ptr, 0xff, std::max<size_t>(1, n) * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  DeviceArray(DeviceArray&& other) noexcept : ptr(other.ptr), n(other.n) { other.ptr = nullptr; }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { cudaFree(ptr); }
  std::vector<T> get() const {
    std::vector<T> host(n);
    CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

int failures = 0;

void report(const std::string& what, double value, double tol) {
  const bool ok = std::isfinite(value) && value <= tol;
  if (!ok) ++failures;
  std::printf("  %-44s %10.3e  (tol %.0e)  %s\n", what.c_str(), value, tol, ok ? "ok" : "FAIL");
}

std::vector<double> random_vector(std::mt19937_64& rng, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = u(rng);
  return v;
}

gpu::Status read_status(const DeviceArray<gpu::Status>& status) { return status.get()[0]; }

DeviceArray<gpu::Status> fresh_status() {
  DeviceArray<gpu::Status> s(1);
  CUDA_CHECK(cudaMemset(s.ptr, 0, sizeof(gpu::Status)));
  return s;
}

// The reverse-list products: the list equals the host's (sorted the same), forces and
// atomic virials equal the host gather bit for bit, the virial the CPU's to rounding.
void check_reverse_gather(const std::vector<int>& nlist, const std::vector<double>& rij,
                          const std::vector<double>& em_deriv, const std::vector<double>& net_deriv,
                          const std::vector<double>& virial, int nloc, int nall, int nnei,
                          int ncomp) {
  const size_t nslots = static_cast<size_t>(nloc) * nnei;
  std::vector<int> offsets(nall + 1), slots(nslots, -1);
  deepkit::build_reverse_list(offsets.data(), slots.data(), nlist.data(), nloc, nall, nnei);
  std::vector<double> force(3L * nall), host_virial(9), atom_virial(9L * nall), slot_g(nslots * 3);
  deepkit::slot_gradients(slot_g.data(), net_deriv.data(), em_deriv.data(), nlist.data(),
                          static_cast<long>(nslots), ncomp);
  deepkit::prod_force_virial_gather(force.data(), host_virial.data(), atom_virial.data(),
                                    offsets.data(), slots.data(), slot_g.data(), rij.data(),
                                    nlist.data(), nloc, nall, nnei);
  DeviceArray<int> d_nlist(nlist), d_offsets(nall + 1), d_slots(std::max<size_t>(1, nslots));
  DeviceArray<double> d_rij(rij), d_ed(em_deriv), d_nd(net_deriv);
  DeviceArray<double> d_force(3L * nall), d_virial(9), d_av(9L * nall), d_g(nslots * 3);
  DeviceArray<char> ws(gpu::reverse_list_workspace_bytes(nall));
  auto status = fresh_status();
  gpu::build_reverse_list(d_offsets.ptr, d_slots.ptr, status.ptr, ws.ptr, d_nlist.ptr, nloc, nall,
                          nnei, 0);
  gpu::slot_gradients(d_g.ptr, d_nd.ptr, d_ed.ptr, d_nlist.ptr, static_cast<long>(nslots), ncomp, 0);
  gpu::prod_force_virial_gather(d_force.ptr, d_virial.ptr, d_av.ptr, d_offsets.ptr, d_slots.ptr,
                                d_g.ptr, d_rij.ptr, d_nlist.ptr, nloc, nall, nnei, 0);
  report("slot gradients (bitwise)", rel_diff(d_g.get(), slot_g), 0);
  const int used = offsets[nall];
  auto gpu_slots = d_slots.get();
  gpu_slots.resize(used);
  slots.resize(used);
  report("reverse list: offsets", mismatches(d_offsets.get(), offsets), 0);
  report("reverse list: slots", mismatches(gpu_slots, slots), 0);
  report("gather: force (bitwise vs host gather)", rel_diff(d_force.get(), force), 0);
  report("gather: atom_virial (bitwise vs host gather)", rel_diff(d_av.get(), atom_virial), 0);
  report("gather: virial", rel_diff(d_virial.get(), virial), 1e-12);
  report("status after gather", read_status(status).code, 0);
}

// Every product kernel and gradient on one (nlist, rij, em_deriv), CPU vs GPU.
void check_products(std::mt19937_64& rng, const std::vector<int>& nlist,
                    const std::vector<double>& rij, const std::vector<double>& em_deriv,
                    int nloc, int nall, int nnei, int ncomp) {
  const size_t nslots = static_cast<size_t>(nloc) * nnei;
  const auto net_deriv = random_vector(rng, nslots * ncomp, -1, 1);
  std::vector<double> force(3L * nall), virial(9), atom_virial(9L * nall);
  deepkit::prod_force(force.data(), net_deriv.data(), em_deriv.data(), nlist.data(), nloc, nall,
                      nnei, ncomp);
  deepkit::prod_virial(virial.data(), atom_virial.data(), net_deriv.data(), em_deriv.data(),
                       rij.data(), nlist.data(), nloc, nall, nnei, ncomp);
  DeviceArray<int> d_nlist(nlist);
  DeviceArray<double> d_rij(rij), d_ed(em_deriv), d_nd(net_deriv);
  DeviceArray<double> d_force(3L * nall), d_virial(9), d_av(9L * nall);
  auto status = fresh_status();
  gpu::prod_force(d_force.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_nlist.ptr, nloc, nall, nnei, ncomp, 0);
  report("prod_force", rel_diff(d_force.get(), force), 1e-12);
  gpu::prod_virial(d_virial.ptr, d_av.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_rij.ptr, d_nlist.ptr,
                   nloc, nall, nnei, ncomp, 0);
  report("prod_virial: virial", rel_diff(d_virial.get(), virial), 1e-12);
  report("prod_virial: atom_virial", rel_diff(d_av.get(), atom_virial), 1e-12);
  DeviceArray<double> f2(3L * nall), v2(9), av2(9L * nall);
  gpu::prod_force_virial(f2.ptr, v2.ptr, av2.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_rij.ptr,
                         d_nlist.ptr, nloc, nall, nnei, ncomp, 0);
  report("prod_force_virial (fused): force", rel_diff(f2.get(), force), 1e-12);
  report("prod_force_virial (fused): virial", rel_diff(v2.get(), virial), 1e-12);
  report("status after products", read_status(status).code, 0);
  check_reverse_gather(nlist, rij, em_deriv, net_deriv, virial, nloc, nall, nnei, ncomp);

  const auto grad_force = random_vector(rng, 3L * nall, -1, 1);
  const auto grad_virial = random_vector(rng, 9, -1, 1);
  const auto grad_av = random_vector(rng, 9L * nall, -1, 1);
  std::vector<double> gn_force(nslots * ncomp), gn_virial(nslots * ncomp);
  deepkit::prod_force_grad(gn_force.data(), grad_force.data(), em_deriv.data(), nlist.data(),
                           nloc, nnei, ncomp);
  deepkit::prod_virial_grad(gn_virial.data(), grad_virial.data(), grad_av.data(),
                            em_deriv.data(), rij.data(), nlist.data(), nloc, nnei, ncomp);
  DeviceArray<double> d_gf(grad_force), d_gv(grad_virial), d_gav(grad_av);
  DeviceArray<double> d_gn1(nslots * ncomp), d_gn2(nslots * ncomp);
  gpu::prod_force_grad(d_gn1.ptr, d_gf.ptr, d_ed.ptr, d_nlist.ptr, nloc, nall, nnei, ncomp, 0);
  gpu::prod_virial_grad(d_gn2.ptr, d_gv.ptr, d_gav.ptr, d_ed.ptr, d_rij.ptr, d_nlist.ptr, nloc,
                        nall, nnei, ncomp, 0);
  report("prod_force_grad", rel_diff(d_gn1.get(), gn_force), 1e-12);
  report("prod_virial_grad", rel_diff(d_gn2.get(), gn_virial), 1e-12);
}

// env_mat without em_deriv, then forces and virials with em_deriv recomputed from rij.
void check_products_from_rij(std::mt19937_64& rng, const System& s, const std::vector<int>& nlist,
                             const std::vector<double>& em_deriv, const DeviceArray<double>& d_rij,
                             const DeviceArray<int>& d_nlist, const DeviceArray<int>& d_atype,
                             const DeviceArray<double>& d_avg, const DeviceArray<double>& d_std,
                             int ncomp) {
  const int n = s.natoms(), nnei = s.nnei(), ntypes = s.ntypes();
  const size_t nslots = static_cast<size_t>(n) * nnei;
  const auto net_deriv = random_vector(rng, nslots * ncomp, -1, 1);
  const std::vector<double> rij = d_rij.get();
  std::vector<double> force(3L * n), virial(9), atom_virial(9L * n);
  deepkit::prod_force(force.data(), net_deriv.data(), em_deriv.data(), nlist.data(), n, n, nnei, ncomp);
  deepkit::prod_virial(virial.data(), atom_virial.data(), net_deriv.data(), em_deriv.data(),
                       rij.data(), nlist.data(), n, n, nnei, ncomp);
  DeviceArray<double> d_nd(net_deriv), d_em(nslots * ncomp), d_force(3L * n), d_virial(9),
      d_av(9L * n);
  auto status = fresh_status();
  gpu::env_mat(d_em.ptr, nullptr, status.ptr, d_rij.ptr, d_nlist.ptr, d_atype.ptr, d_avg.ptr,
               d_std.ptr, n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut, 0);
  gpu::prod_force_virial_rij(d_force.ptr, d_virial.ptr, d_av.ptr, status.ptr, d_nd.ptr, d_rij.ptr,
                             d_nlist.ptr, d_atype.ptr, d_std.ptr, n, n, nnei, ncomp, s.rcut_smth,
                             s.rcut, 0);
  report("products from rij: force", rel_diff(d_force.get(), force), 1e-12);
  report("products from rij: virial", rel_diff(d_virial.get(), virial), 1e-12);
  report("products from rij: atom_virial", rel_diff(d_av.get(), atom_virial), 1e-12);
}

void check_system(std::mt19937_64& rng, const System& s) {
  const int n = s.natoms(), nnei = s.nnei(), nsel = static_cast<int>(s.sel.size());
  const int ntypes = s.ntypes();
  std::printf("%s: %d atoms, nnei %d, %s%s\n", s.name, n, nnei,
              deepkit::box_is_empty(s.box.data()) ? "open" : "periodic",
              s.mixed_types ? ", mixed types" : "");
  std::vector<int> nlist(static_cast<size_t>(n) * nnei), max_count(nsel);
  std::vector<double> rij(static_cast<size_t>(n) * nnei * 3);
  const double* box = deepkit::box_is_empty(s.box.data()) ? nullptr : s.box.data();
  deepkit::build_neighbor_list(nlist.data(), rij.data(), max_count.data(), s.coord.data(),
                               s.atype.data(), box, n, nsel, s.sel.data(), s.rcut, s.mixed_types);

  DeviceArray<double> d_coord(s.coord), d_box(s.box);
  DeviceArray<int> d_atype(s.atype);
  DeviceArray<int> d_nlist(nlist.size()), d_max(nsel);
  DeviceArray<double> d_rij(rij.size());
  DeviceArray<char> ws(gpu::neighbor_list_workspace_bytes(n));
  auto status = fresh_status();
  gpu::build_neighbor_list(d_nlist.ptr, d_rij.ptr, d_max.ptr, status.ptr, ws.ptr, d_coord.ptr,
                           d_atype.ptr, d_box.ptr, n, nsel, s.sel.data(), s.rcut, s.mixed_types,
                           0);
  CUDA_CHECK(cudaDeviceSynchronize());
  report("neighbor list: status", read_status(status).code, 0);
  report("neighbor list: nlist entries differing", mismatches(d_nlist.get(), nlist), 0);
  report("neighbor list: rij (bitwise, max diff)", rel_diff(d_rij.get(), rij), 0);
  report("neighbor list: max_count differing", mismatches(d_max.get(), max_count), 0);

  for (int ncomp : {4, 1}) {
    const size_t row = static_cast<size_t>(nnei) * ncomp;
    const auto avg = random_vector(rng, ntypes * row, -0.1, 0.1);
    const auto std = random_vector(rng, ntypes * row, 0.5, 1.5);
    std::vector<double> em(n * row), em_deriv(n * row * 3);
    deepkit::env_mat(em.data(), em_deriv.data(), rij.data(), nlist.data(), s.atype.data(),
                     avg.data(), std.data(), n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut);
    DeviceArray<double> d_avg(avg), d_std(std), d_em(em.size()), d_ed(em_deriv.size());
    gpu::env_mat(d_em.ptr, d_ed.ptr, status.ptr, d_rij.ptr, d_nlist.ptr, d_atype.ptr, d_avg.ptr,
                 d_std.ptr, n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut, 0);
    const std::string kind = ncomp == 4 ? "se_e2_a" : "se_e2_r";
    report("env_mat " + kind + ": em", rel_diff(d_em.get(), em), 1e-14);
    report("env_mat " + kind + ": em_deriv", rel_diff(d_ed.get(), em_deriv), 1e-14);
    check_products(rng, nlist, rij, em_deriv, n, n, nnei, ncomp);
    check_products_from_rij(rng, s, nlist, em_deriv, d_rij, d_nlist, d_atype, d_avg, d_std, ncomp);
  }
}

// External neighbour lists: ghosts beyond nloc, arbitrary entries in [-1, nall).
void check_ghosts(std::mt19937_64& rng) {
  const int nloc = 300, nall = 520, nnei = 40, ncomp = 4;
  std::printf("ghost atoms: nloc %d, nall %d, nnei %d\n", nloc, nall, nnei);
  std::uniform_int_distribution<int> entry(-1, nall - 1);
  std::vector<int> nlist(nloc * nnei);
  for (int& j : nlist) j = entry(rng);
  const auto rij = random_vector(rng, nlist.size() * 3, -5, 5);
  const auto em_deriv = random_vector(rng, nlist.size() * ncomp * 3, -1, 1);
  check_products(rng, nlist, rij, em_deriv, nloc, nall, nnei, ncomp);
}

// A random quintic table over [lower, upper_ext] and inputs that cover it and both sides.
struct TableCase {
  std::vector<double> table, info;
  deepkit::TableInfo ti;
};

TableCase random_table(std::mt19937_64& rng, int width) {
  TableCase t;
  const int n_inner = 300, n_ext = 40;
  const double lower = -0.4, step = 0.01, step_ext = 0.1;
  const double upper = lower + n_inner * step, upper_ext = upper + n_ext * step_ext;
  t.info = {lower, upper, upper_ext, step, step_ext, static_cast<double>(n_inner),
            static_cast<double>(n_ext)};
  t.table = random_vector(rng, static_cast<size_t>(n_inner + n_ext) * 6 * width, -1, 1);
  t.ti = deepkit::table_info(t.info.data(), width);
  return t;
}

// Forward, gradient and gradient of gradient; x beyond both ends and padded runs included.
void check_tabulate(std::mt19937_64& rng, const TableCase& t, std::vector<double> x,
                    std::vector<double> rows, int n, int nnei, int ncomp, const char* what) {
  const int w = t.ti.width;
  std::printf("tabulate %s: %d centres x %d slots, width %d, ncomp %d\n", what, n, nnei, w, ncomp);
  const auto dy = random_vector(rng, static_cast<size_t>(n) * w * ncomp, -1, 1);
  const auto ddx = random_vector(rng, static_cast<size_t>(n) * nnei, -1, 1);
  const auto ddrows = random_vector(rng, static_cast<size_t>(n) * nnei * ncomp, -1, 1);
  std::vector<double> out(static_cast<size_t>(n) * w * ncomp), dx(x.size()), drows(rows.size()),
      ddy(out.size());
  deepkit::tabulate_fusion(out.data(), t.table.data(), t.ti, x.data(), rows.data(), n, nnei, ncomp);
  deepkit::tabulate_fusion_grad(dx.data(), drows.data(), t.table.data(), t.ti, x.data(), rows.data(),
                                dy.data(), n, nnei, ncomp);
  deepkit::tabulate_fusion_grad_grad(ddy.data(), t.table.data(), t.ti, x.data(), rows.data(),
                                     ddx.data(), ddrows.data(), n, nnei, ncomp);
  DeviceArray<double> d_table(t.table), d_x(x), d_rows(rows), d_dy(dy), d_ddx(ddx), d_ddrows(ddrows);
  DeviceArray<double> d_out(out.size()), d_dx(dx.size()), d_drows(drows.size()), d_ddy(ddy.size());
  gpu::tabulate_fusion(d_out.ptr, d_table.ptr, t.ti, d_x.ptr, d_rows.ptr, n, nnei, ncomp, 0);
  gpu::tabulate_fusion_grad(d_dx.ptr, d_drows.ptr, d_table.ptr, t.ti, d_x.ptr, d_rows.ptr, d_dy.ptr,
                            n, nnei, ncomp, 0);
  gpu::tabulate_fusion_grad_grad(d_ddy.ptr, d_table.ptr, t.ti, d_x.ptr, d_rows.ptr, d_ddx.ptr,
                                 d_ddrows.ptr, n, nnei, ncomp, 0);
  report("tabulate_fusion", rel_diff(d_out.get(), out), 1e-12);
  report("tabulate_fusion_grad: dx", rel_diff(d_dx.get(), dx), 1e-12);
  report("tabulate_fusion_grad: drows", rel_diff(d_drows.get(), drows), 1e-12);
  report("tabulate_fusion_grad_grad", rel_diff(d_ddy.get(), ddy), 1e-12);
}

void check_tabulate_random(std::mt19937_64& rng) {
  const TableCase t = random_table(rng, 100);
  for (int ncomp : {4, 1}) {
    const int n = 200, nnei = 60;
    const double lo = t.info[0] - 0.5, hi = t.info[2] + 1.0;
    auto x = random_vector(rng, static_cast<size_t>(n) * nnei, lo, hi);
    auto rows = random_vector(rng, static_cast<size_t>(n) * nnei * ncomp, -1, 1);
    for (int i = 0; i < n; ++i) {  // padding: the last 15 slots of every centre repeat
      for (int j = nnei - 15; j < nnei; ++j) {
        x[i * nnei + j] = x[i * nnei + nnei - 16];
        for (int c = 0; c < ncomp; ++c) rows[(i * nnei + j) * ncomp + c] = rows[(i * nnei + nnei - 16) * ncomp + c];
      }
    }
    check_tabulate(rng, t, x, rows, n, nnei, ncomp, "random inputs");
  }
}

// Bad input is reported through Status, never as a crash.
void check_errors(std::mt19937_64& rng) {
  std::printf("bad input\n");
  System s = random_periodic(rng, "errors", 40, 2, {9, 0, 0, 0, 9, 0, 0, 0, 9}, {30, 30}, 4.0);
  const int n = s.natoms(), nnei = s.nnei();
  auto run = [&](const System& sys) {
    const int nsel = static_cast<int>(sys.sel.size());
    DeviceArray<double> d_coord(sys.coord), d_box(sys.box);
    DeviceArray<int> d_atype(sys.atype), d_nlist(n * nnei), d_max(nsel);
    DeviceArray<double> d_rij(n * nnei * 3);
    DeviceArray<char> ws(gpu::neighbor_list_workspace_bytes(n));
    auto status = fresh_status();
    gpu::build_neighbor_list(d_nlist.ptr, d_rij.ptr, d_max.ptr, status.ptr, ws.ptr, d_coord.ptr,
                             d_atype.ptr, d_box.ptr, n, nsel, sys.sel.data(), sys.rcut,
                             sys.mixed_types, 0);
    const gpu::Status st = read_status(status);
    std::printf("    -> %s\n", gpu::status_message(st, nsel, n, sys.mixed_types).c_str());
    return st;
  };
  System bad_type = s;
  bad_type.atype[7] = 5;
  gpu::Status st = run(bad_type);
  report("bad type reported (code, atom)", (st.code != gpu::kBadType) + (st.a != 7), 0);
  // Mixed mode knows no number of types: a large type is fine, a negative one is not.
  st = run(mixed(bad_type, "errors, mixed types", nnei));
  report("mixed types: large type accepted", st.code != gpu::kOk, 0);
  System negative = mixed(s, "errors, mixed types", nnei);
  negative.atype[3] = -2;
  st = run(negative);
  report("mixed types: negative type reported", (st.code != gpu::kBadType) + (st.a != 3), 0);
  System nan = s;
  nan.coord[3 * 11 + 1] = NAN;
  st = run(nan);
  report("non-finite coordinate reported", (st.code != gpu::kNonFiniteCoord) + (st.a != 11), 0);
  System overlap = s;
  for (int k = 0; k < 3; ++k) overlap.coord[3 * 5 + k] = overlap.coord[3 * 9 + k];
  st = run(overlap);
  report("overlapping atoms reported", st.code != gpu::kOverlap, 0);
  System singular = s;
  singular.box = {9, 0, 0, 18, 0, 0, 0, 0, 9};
  st = run(singular);
  report("singular box reported", st.code != gpu::kBadBox, 0);
  System crowded = s;
  crowded.rcut = 40.0;
  st = run(crowded);
  report("too many candidates reported", st.code != gpu::kTooManyCandidates, 0);

  std::vector<int> nlist(10 * 4, -1);
  nlist[13] = 99;
  DeviceArray<int> d_nlist(nlist);
  DeviceArray<double> d_force(30), d_nd(std::vector<double>(40 * 4, 1.0)),
      d_ed(std::vector<double>(40 * 12, 1.0));
  auto status = fresh_status();
  gpu::prod_force(d_force.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_nlist.ptr, 10, 10, 4, 4, 0);
  st = read_status(status);
  std::printf("    -> %s\n", gpu::status_message(st, 2, 10).c_str());
  report("bad nlist entry reported", (st.code != gpu::kBadNlist) + (st.b != 99), 0);
}

// ---------------------------------------------------------------------------------------
// Benchmark

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_gpu_ms(int reps, const std::function<void()>& fn) {
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  fn();  // warm-up
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    CUDA_CHECK(cudaEventRecord(start));
    fn();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(times);
}

double time_cpu_ms(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(times);
}

// Compressed se_e2_a on this box: one table of width 100 for all slots, its input the
// radial column of the environment matrix (as the model feeds it).
void bench_tabulate(std::mt19937_64& rng, const DeviceArray<double>& d_em, int n, int nnei, int reps) {
  const int w = 100, ncomp = 4;
  const size_t nslots = static_cast<size_t>(n) * nnei;
  std::vector<double> em = d_em.get(), x(nslots);
  double lo = INFINITY, hi = -INFINITY;
  for (size_t s = 0; s < nslots; ++s) {
    x[s] = em[4 * s];
    lo = std::min(lo, x[s]);
    hi = std::max(hi, x[s]);
  }
  TableCase t;
  const int n_inner = static_cast<int>(std::ceil((hi - lo) / 0.01)), n_ext = 200;
  t.info = {lo, lo + n_inner * 0.01, lo + n_inner * 0.01 + n_ext * 0.1, 0.01, 0.1,
            static_cast<double>(n_inner), static_cast<double>(n_ext)};
  t.table = random_vector(rng, static_cast<size_t>(n_inner + n_ext) * 6 * w, -1, 1);
  t.ti = deepkit::table_info(t.info.data(), w);
  const auto dy = random_vector(rng, static_cast<size_t>(n) * w * ncomp, -1, 1);
  DeviceArray<double> d_table(t.table), d_x(x), d_dy(dy);
  DeviceArray<double> d_out(static_cast<size_t>(n) * w * ncomp), d_dx(nslots), d_drows(nslots * ncomp);
  const double fwd = time_gpu_ms(reps, [&] {
    gpu::tabulate_fusion(d_out.ptr, d_table.ptr, t.ti, d_x.ptr, d_em.ptr, n, nnei, ncomp, 0);
  });
  const double grad = time_gpu_ms(reps, [&] {
    gpu::tabulate_fusion_grad(d_dx.ptr, d_drows.ptr, d_table.ptr, t.ti, d_x.ptr, d_em.ptr, d_dy.ptr,
                              n, nnei, ncomp, 0);
  });
  std::vector<double> out(static_cast<size_t>(n) * w * ncomp), dx(nslots), drows(nslots * ncomp);
  const double cpu_fwd = time_cpu_ms(3, [&] {
    deepkit::tabulate_fusion(out.data(), t.table.data(), t.ti, x.data(), em.data(), n, nnei, ncomp);
  });
  const double cpu_grad = time_cpu_ms(3, [&] {
    deepkit::tabulate_fusion_grad(dx.data(), drows.data(), t.table.data(), t.ti, x.data(), em.data(),
                                  dy.data(), n, nnei, ncomp);
  });
  std::printf("  %-28s %12.3f %12.1f %12.2f %12.1f\n", "tabulate_fusion (width 100)", fwd,
              fwd * 1e6 / n, cpu_fwd, cpu_fwd / fwd);
  std::printf("  %-28s %12.3f %12.1f %12.2f %12.1f\n", "tabulate_fusion_grad", grad,
              grad * 1e6 / n, cpu_grad, cpu_grad / grad);
  // Reading x and the rows once (40 B a slot) and the table once; the fused pair's FLOPs:
  // ~20 per slot and channel forward, ~26 backward.
  const double bytes = nslots * 40.0 + t.table.size() * 8.0;
  const double flops = nslots * w * 46.0;
  std::printf("  fwd+grad: %.3f ms; reading em + table once: %.2f GB; %.1f GFLOP\n", fwd + grad,
              bytes / 1e9, flops / 1e9);
}

void bench_system(std::mt19937_64& rng, const System& s, int reps) {
  const int n = s.natoms(), nnei = s.nnei(), ntypes = 2, ncomp = 4;
  const size_t nslots = static_cast<size_t>(n) * nnei;
  std::printf("\n%s: %d atoms, nnei %d, se_e2_a, float64; median of %d (GPU) / 3 (CPU, %d threads)\n",
              s.name, n, nnei, reps, omp_get_max_threads());
  std::printf("  %-28s %12s %12s %12s %12s\n", "kernel", "GPU ms", "GPU ns/atom", "CPU ms", "CPU/GPU");
  std::vector<int> nlist(nslots), max_count(ntypes);
  std::vector<double> rij(nslots * 3), em(nslots * ncomp), em_deriv(nslots * ncomp * 3);
  const auto avg = random_vector(rng, ntypes * nnei * ncomp, -0.1, 0.1);
  const auto std = random_vector(rng, ntypes * nnei * ncomp, 0.5, 1.5);
  const auto net_deriv = random_vector(rng, nslots * ncomp, -1, 1);
  const auto grad_force = random_vector(rng, 3L * n, -1, 1);
  const auto grad_virial = random_vector(rng, 9, -1, 1);
  const auto grad_av = random_vector(rng, 9L * n, -1, 1);
  std::vector<double> force(3L * n), virial(9), atom_virial(9L * n), grad_net(nslots * ncomp);

  DeviceArray<double> d_coord(s.coord), d_box(s.box), d_avg(avg), d_std(std), d_nd(net_deriv);
  DeviceArray<double> d_gf(grad_force), d_gv(grad_virial), d_gav(grad_av);
  DeviceArray<int> d_atype(s.atype), d_nlist(nslots), d_max(ntypes);
  DeviceArray<double> d_rij(nslots * 3), d_em(nslots * ncomp), d_ed(nslots * ncomp * 3);
  DeviceArray<double> d_force(3L * n), d_virial(9), d_av(9L * n), d_gn(nslots * ncomp);
  DeviceArray<char> ws(gpu::neighbor_list_workspace_bytes(n));
  auto status = fresh_status();

  struct Row {
    const char* name;
    std::function<void()> gpu_fn, cpu_fn;
  };
  const std::vector<Row> rows = {
      {"neighbor list",
       [&] {
         gpu::build_neighbor_list(d_nlist.ptr, d_rij.ptr, d_max.ptr, status.ptr, ws.ptr, d_coord.ptr,
                                  d_atype.ptr, d_box.ptr, n, ntypes, s.sel.data(), s.rcut, false,
                                  0);
       },
       [&] {
         deepkit::build_neighbor_list(nlist.data(), rij.data(), max_count.data(), s.coord.data(),
                                      s.atype.data(), s.box.data(), n, ntypes, s.sel.data(), s.rcut,
                                      false);
       }},
      {"env_mat",
       [&] {
         gpu::env_mat(d_em.ptr, d_ed.ptr, status.ptr, d_rij.ptr, d_nlist.ptr, d_atype.ptr, d_avg.ptr,
                      d_std.ptr, n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut, 0);
       },
       [&] {
         deepkit::env_mat(em.data(), em_deriv.data(), rij.data(), nlist.data(), s.atype.data(),
                          avg.data(), std.data(), n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut);
       }},
      {"prod_force",
       [&] {
         gpu::prod_force(d_force.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_nlist.ptr, n, n, nnei, ncomp, 0);
       },
       [&] {
         deepkit::prod_force(force.data(), net_deriv.data(), em_deriv.data(), nlist.data(), n, n,
                             nnei, ncomp);
       }},
      {"prod_virial",
       [&] {
         gpu::prod_virial(d_virial.ptr, d_av.ptr, status.ptr, d_nd.ptr, d_ed.ptr, d_rij.ptr,
                          d_nlist.ptr, n, n, nnei, ncomp, 0);
       },
       [&] {
         deepkit::prod_virial(virial.data(), atom_virial.data(), net_deriv.data(), em_deriv.data(),
                              rij.data(), nlist.data(), n, n, nnei, ncomp);
       }},
      {"prod_force_virial (fused)",
       [&] {
         gpu::prod_force_virial(d_force.ptr, d_virial.ptr, d_av.ptr, status.ptr, d_nd.ptr, d_ed.ptr,
                                d_rij.ptr, d_nlist.ptr, n, n, nnei, ncomp, 0);
       },
       nullptr},
      {"prod_force_grad",
       [&] {
         gpu::prod_force_grad(d_gn.ptr, d_gf.ptr, d_ed.ptr, d_nlist.ptr, n, n, nnei, ncomp, 0);
       },
       [&] {
         deepkit::prod_force_grad(grad_net.data(), grad_force.data(), em_deriv.data(), nlist.data(),
                                  n, nnei, ncomp);
       }},
      {"prod_virial_grad",
       [&] {
         gpu::prod_virial_grad(d_gn.ptr, d_gv.ptr, d_gav.ptr, d_ed.ptr, d_rij.ptr, d_nlist.ptr, n,
                               n, nnei, ncomp, 0);
       },
       [&] {
         deepkit::prod_virial_grad(grad_net.data(), grad_virial.data(), grad_av.data(),
                                   em_deriv.data(), rij.data(), nlist.data(), n, nnei, ncomp);
       }},
  };
  double step_gpu = 0, step_cpu = 0, rows_env = 0;
  for (const Row& row : rows) {
    const double g = time_gpu_ms(reps, row.gpu_fn);
    const double c = row.cpu_fn ? time_cpu_ms(3, row.cpu_fn) : NAN;
    std::printf("  %-28s %12.3f %12.1f %12.2f %12.1f\n", row.name, g, g * 1e6 / n, c, c / g);
    const std::string name = row.name;
    if (name == "env_mat") rows_env = g;
    if (name == "env_mat" || name == "prod_force" || name == "prod_virial") {
      step_gpu += g;
      step_cpu += c;
    }
  }
  const double fused = time_gpu_ms(reps, [&] {
    rows[1].gpu_fn();
    rows[4].gpu_fn();
  });
  const double em_only = time_gpu_ms(reps, [&] {
    gpu::env_mat(d_em.ptr, nullptr, status.ptr, d_rij.ptr, d_nlist.ptr, d_atype.ptr, d_avg.ptr,
                 d_std.ptr, n, nnei, ncomp, ntypes, s.rcut_smth, s.rcut, 0);
  });
  const double from_rij = time_gpu_ms(reps, [&] {
    gpu::prod_force_virial_rij(d_force.ptr, d_virial.ptr, d_av.ptr, status.ptr, d_nd.ptr, d_rij.ptr,
                               d_nlist.ptr, d_atype.ptr, d_std.ptr, n, n, nnei, ncomp, s.rcut_smth,
                               s.rcut, 0);
  });
  DeviceArray<int> d_offsets(n + 1), d_slots(nslots);
  DeviceArray<double> d_g(nslots * 3);
  DeviceArray<char> rws(gpu::reverse_list_workspace_bytes(n));
  const double reverse = time_gpu_ms(reps, [&] {
    gpu::build_reverse_list(d_offsets.ptr, d_slots.ptr, status.ptr, rws.ptr, d_nlist.ptr, n, n,
                            nnei, 0);
  });
  const double gather = time_gpu_ms(reps, [&] {
    gpu::slot_gradients(d_g.ptr, d_nd.ptr, d_ed.ptr, d_nlist.ptr, static_cast<long>(nslots), ncomp, 0);
    gpu::prod_force_virial_gather(d_force.ptr, d_virial.ptr, d_av.ptr, d_offsets.ptr, d_slots.ptr,
                                  d_g.ptr, d_rij.ptr, d_nlist.ptr, n, n, nnei, 0);
  });
  std::printf("  %-28s %12.3f %12.1f\n", "reverse list (build)", reverse, reverse * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f\n", "slot g + force/virial gather", gather, gather * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f\n", "env_mat+reverse list+gather", rows_env + reverse + gather,
              (rows_env + reverse + gather) * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f\n", "env_mat (em only)", em_only, em_only * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f\n", "prod_force_virial_rij", from_rij, from_rij * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f\n", "em only + products from rij", em_only + from_rij,
              (em_only + from_rij) * 1e6 / n);
  std::printf("  %-28s %12.3f %12.1f %12.2f %12.1f\n", "env_mat+force+virial", step_gpu,
              step_gpu * 1e6 / n, step_cpu, step_cpu / step_gpu);
  std::printf("  %-28s %12.3f %12.1f\n", "env_mat+fused force/virial", fused, fused * 1e6 / n);
  // Bytes the step must move at least: rij + nlist read, em + em_deriv written, then
  // net_deriv + em_deriv + rij + nlist read, force + atom_virial written.
  const double bytes = nslots * (3 * 8 + 4 + ncomp * 8 * 4.0) + nslots * (ncomp * 8 + ncomp * 24 + 24 + 4.0);
  std::printf("  bytes moved at least by env_mat + fused products: %.2f GB\n", bytes / 1e9);
  CUDA_CHECK(cudaDeviceSynchronize());
  report("status after benchmark", read_status(status).code, 0);
  bench_tabulate(rng, d_em, n, nnei, reps);
}

int main(int argc, char** argv) {
  unsigned long seed = std::random_device{}();
  bool bench = false;
  int reps = 20;
  for (int a = 1; a < argc; ++a) {
    if (!std::strcmp(argv[a], "--seed") && a + 1 < argc) seed = std::strtoul(argv[++a], nullptr, 10);
    else if (!std::strcmp(argv[a], "--bench")) bench = true;
    else if (!std::strcmp(argv[a], "--bench-reps") && a + 1 < argc) reps = std::atoi(argv[++a]);
    else {
      std::fprintf(stderr, "usage: gpu_check [--seed N] [--bench] [--bench-reps N]\n");
      return 2;
    }
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs; seed %lu\n", prop.name, prop.multiProcessorCount, seed);
  std::mt19937_64 rng(seed);
  try {
    check_system(rng, random_periodic(rng, "triclinic box shorter than 2 rcut", 60, 2,
                                      {7.0, 0, 0, 1.5, 8.0, 0, -1.0, 2.0, 9.0}, {40, 40}, 6.0));
    check_system(rng, random_periodic(rng, "tiny box, many images", 3, 1,
                                      {2.5, 0, 0, 0, 2.5, 0, 0, 0, 2.5}, {80}, 4.0));
    check_system(rng, random_open(rng, "open cluster", 300, 3, 16.0, {20, 20, 24}, 5.0));
    // Mixed types (se_atten): one block, truncated (sel below the count) or not.
    const System triclinic = random_periodic(rng, "triclinic", 60, 3,
                                             {7.0, 0, 0, 1.5, 8.0, 0, -1.0, 2.0, 9.0}, {1}, 6.0);
    check_system(rng, mixed(triclinic, "mixed types, triclinic box shorter than 2 rcut", 120));
    check_system(rng, mixed(triclinic, "mixed types, truncated to 30 slots", 30));
    check_system(rng, mixed(random_open(rng, "open", 300, 3, 16.0, {1}, 5.0),
                            "mixed types, open cluster", 64));
    check_system(rng, water(rng, "water 1,536 atoms", 8));
    check_system(rng, water(rng, "water 12,288 atoms", 16));
    check_ghosts(rng);
    check_tabulate_random(rng);
    check_errors(rng);
    if (bench) {
      bench_system(rng, water(rng, "water 12,288 atoms", 16), reps);
      bench_system(rng, water(rng, "water 98,304 atoms", 32), reps);
    }
  } catch (const std::exception& e) {
    std::printf("exception: %s\n", e.what());
    return 1;
  }
  std::printf("\n%s: %d failed check(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
