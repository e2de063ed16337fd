#include "prod_force_virial.h"

#include <algorithm>
#include <string>
#include <vector>

#include "env_row.h"
#include "errors.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepkit {
namespace {

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// out[k] = sum over thread buffers of buf[t * n + k], in thread order.
void reduce_buffers(double* out, const std::vector<double>& buf, int nthreads, long n) {
#pragma omp parallel for schedule(static)
  for (long k = 0; k < n; ++k) {
    double sum = 0.0;
    for (int t = 0; t < nthreads; ++t) sum += buf[t * n + k];
    out[k] = sum;
  }
}

}  // namespace

void check_nlist(const int* nlist, int nloc, int nnei, int nall) {
  if (nall < nloc) throw InputError("nall must be at least nloc");
  const long n = static_cast<long>(nloc) * nnei;
  for (long k = 0; k < n; ++k) {
    if (nlist[k] < -1 || nlist[k] >= nall) {
      throw InputError("nlist entry " + std::to_string(nlist[k]) + " of atom " +
                       std::to_string(k / nnei) + " is outside [-1, " + std::to_string(nall) + ")");
    }
  }
}

void sum_atom_virial(double* virial, const double* atom_virial, int nall) {
  std::fill(virial, virial + 9, 0.0);
  for (int j = 0; j < nall; ++j) {
    for (int k = 0; k < 9; ++k) virial[k] += atom_virial[9L * j + k];
  }
}

void prod_force(double* force, const double* net_deriv, const double* em_deriv, const int* nlist,
                int nloc, int nall, int nnei, int ncomp) {
  check_nlist(nlist, nloc, nnei, nall);
  const int nthreads = max_threads();
  const long n = 3L * nall;
  std::vector<double> buf(nthreads * n, 0.0);
#pragma omp parallel num_threads(nthreads)
  {
    double* mine = buf.data() + thread_id() * n;
#pragma omp for schedule(static)
    for (int i = 0; i < nloc; ++i) {
      for (int jj = 0; jj < nnei; ++jj) {
        const long slot = static_cast<long>(i) * nnei + jj;
        const int j = nlist[slot];
        if (j < 0) continue;
        double g[3];
        slot_gradient(g, net_deriv, em_deriv, slot, ncomp);
        for (int e = 0; e < 3; ++e) {
          mine[3 * i + e] += g[e];
          mine[3 * j + e] -= g[e];
        }
      }
    }
  }
  reduce_buffers(force, buf, nthreads, n);
}

void prod_virial(double* virial, double* atom_virial, const double* net_deriv,
                 const double* em_deriv, const double* rij, const int* nlist, int nloc, int nall,
                 int nnei, int ncomp) {
  check_nlist(nlist, nloc, nnei, nall);
  const int nthreads = max_threads();
  const long n = 9L * nall;
  std::vector<double> buf(nthreads * n, 0.0);
#pragma omp parallel num_threads(nthreads)
  {
    double* mine = buf.data() + thread_id() * n;
#pragma omp for schedule(static)
    for (int i = 0; i < nloc; ++i) {
      for (int jj = 0; jj < nnei; ++jj) {
        const long slot = static_cast<long>(i) * nnei + jj;
        const int j = nlist[slot];
        if (j < 0) continue;
        double g[3];
        slot_gradient(g, net_deriv, em_deriv, slot, ncomp);
        const double* r = rij + 3 * slot;
        for (int a = 0; a < 3; ++a) {
          for (int b = 0; b < 3; ++b) mine[9 * j + 3 * a + b] -= g[a] * r[b];
        }
      }
    }
  }
  reduce_buffers(atom_virial, buf, nthreads, n);
  sum_atom_virial(virial, atom_virial, nall);  // independent of the thread split
}

void prod_force_grad(double* grad_net, const double* grad_force, const double* em_deriv,
                     const int* nlist, int nloc, int nnei, int ncomp) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nloc; ++i) {
    for (int jj = 0; jj < nnei; ++jj) {
      const long slot = static_cast<long>(i) * nnei + jj;
      const int j = nlist[slot];
      for (int c = 0; c < ncomp; ++c) {
        double sum = 0.0;
        if (j >= 0) {
          const double* ed = em_deriv + (slot * ncomp + c) * 3;
          for (int e = 0; e < 3; ++e) sum += ed[e] * (grad_force[3 * i + e] - grad_force[3 * j + e]);
        }
        grad_net[slot * ncomp + c] = sum;
      }
    }
  }
}

void prod_virial_grad(double* grad_net, const double* grad_virial, const double* grad_atom_virial,
                      const double* em_deriv, const double* rij, const int* nlist, int nloc,
                      int nnei, int ncomp) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < nloc; ++i) {
    for (int jj = 0; jj < nnei; ++jj) {
      const long slot = static_cast<long>(i) * nnei + jj;
      const int j = nlist[slot];
      if (j < 0) {
        for (int c = 0; c < ncomp; ++c) grad_net[slot * ncomp + c] = 0.0;
        continue;
      }
      // w[a] = sum_b rij[b] * (gV[a,b] + gAV[j,a,b]); grad = -sum_a em_deriv[a] * w[a]
      const double* r = rij + 3 * slot;
      double w[3];
      for (int a = 0; a < 3; ++a) {
        w[a] = 0.0;
        for (int b = 0; b < 3; ++b) {
          w[a] += r[b] * (grad_virial[3 * a + b] + grad_atom_virial[9L * j + 3 * a + b]);
        }
      }
      for (int c = 0; c < ncomp; ++c) {
        const double* ed = em_deriv + (slot * ncomp + c) * 3;
        grad_net[slot * ncomp + c] = -(ed[0] * w[0] + ed[1] * w[1] + ed[2] * w[2]);
      }
    }
  }
}

}  // namespace deepkit
