#include "tabulate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "errors.h"
#include "parallel_errors.h"
#include "table_eval.h"

// The per-centre loops vectorise over the table's channels; on x86-64 they are also built
// for x86-64-v3 (AVX2 + FMA) and chosen at load time by ISA level (arch=haswell would be
// chosen by CPU model: never on AMD).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DK_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DK_CPU_CLONES
#endif

namespace deepkit {
namespace {

// g[m] and dg[m] (derivative, zero where the input was clamped) of every channel at x.
DK_FORCE_INLINE void eval_all(double* __restrict g, double* __restrict dg, const double* table, const TableInfo& info,
                     double x) {
  int k;
  double t, slope;
  locate(info, x, &k, &t, &slope);
  const double* coef = table + static_cast<long>(k) * 6 * info.width;
  for (int m = 0; m < info.width; ++m) {
    quintic(coef, info.width, m, t, g + m, dg + m);
    dg[m] *= slope;
  }
}

// g[m] of every channel at x (the forward pass needs no derivative).
DK_FORCE_INLINE void eval_values(double* __restrict g, const double* table, const TableInfo& info,
                                 double x) {
  int k;
  double t, slope;
  locate(info, x, &k, &t, &slope);
  const int w = info.width;
  const double* a = table + static_cast<long>(k) * 6 * w;
  for (int m = 0; m < w; ++m) {
    g[m] = a[m] + t * (a[w + m] + t * (a[2 * w + m] + t * (a[3 * w + m] + t * (a[4 * w + m] + t * a[5 * w + m]))));
  }
}

// Slot j repeats slot j - 1 (same input and row): padded slots at the end of each type
// block all do, so their table lookup is done once.
DK_FORCE_INLINE bool same_slot(const double* x, const double* rows, int j, int ncomp) {
  if (j == 0 || x[j] != x[j - 1]) return false;
  for (int c = 0; c < ncomp; ++c) {
    if (rows[j * ncomp + c] != rows[(j - 1) * ncomp + c]) return false;
  }
  return true;
}

// Centres are processed in tiles, slot-major: slot j of neighbouring centres holds
// neighbours at similar distances, so their table rows are read while still in cache (per
// centre, the slots touch a new 6 x width block of the table each).
constexpr int kTile = 32;

DK_CPU_CLONES
void forward_tile(double* out, double* __restrict acc, double* __restrict g, int* skip_to,
                  const double* table, const TableInfo& info, const double* x, const double* rows,
                  int count, int nnei, int ncomp) {
  const int w = info.width;
  for (long k = 0; k < static_cast<long>(count) * w * ncomp; ++k) acc[k] = 0.0;
  for (int a = 0; a < count; ++a) skip_to[a] = 0;
  for (int j = 0; j < nnei; ++j) {
    for (int a = 0; a < count; ++a) {
      if (j < skip_to[a]) continue;
      const double* xa = x + static_cast<long>(a) * nnei;
      const double* ra = rows + static_cast<long>(a) * nnei * ncomp;
      // A run of identical slots (the padding of a type block) counts once, times its length.
      int run = 1;
      while (j + run < nnei && same_slot(xa, ra, j + run, ncomp)) ++run;
      skip_to[a] = j + run;
      eval_values(g, table, info, xa[j]);
      for (int c = 0; c < ncomp; ++c) {
        const double r = ra[j * ncomp + c] * run;
        double* acc_c = acc + (static_cast<long>(a) * ncomp + c) * w;
        for (int m = 0; m < w; ++m) acc_c[m] += g[m] * r;
      }
    }
  }
  for (int a = 0; a < count; ++a) {
    for (int m = 0; m < w; ++m) {
      for (int c = 0; c < ncomp; ++c) {
        out[(static_cast<long>(a) * w + m) * ncomp + c] = acc[(static_cast<long>(a) * ncomp + c) * w + m];
      }
    }
  }
}

DK_CPU_CLONES
void grad_tile(double* dx, double* drows, double* __restrict dyt, double* __restrict g,
               double* __restrict dg, const double* table,
               const TableInfo& info, const double* x, const double* rows, const double* dy,
               int count, int nnei, int ncomp) {
  const int w = info.width;
  for (int a = 0; a < count; ++a) {
    for (int m = 0; m < w; ++m) {
      for (int c = 0; c < ncomp; ++c) {
        dyt[(static_cast<long>(a) * ncomp + c) * w + m] = dy[(static_cast<long>(a) * w + m) * ncomp + c];
      }
    }
  }
  for (int j = 0; j < nnei; ++j) {
    for (int a = 0; a < count; ++a) {
      const long s = static_cast<long>(a) * nnei + j;
      const double* xa = x + static_cast<long>(a) * nnei;
      const double* ra = rows + static_cast<long>(a) * nnei * ncomp;
      if (same_slot(xa, ra, j, ncomp)) {
        dx[s] = dx[s - 1];
        for (int c = 0; c < ncomp; ++c) drows[s * ncomp + c] = drows[(s - 1) * ncomp + c];
        continue;
      }
      eval_all(g, dg, table, info, xa[j]);
      double sum_dx = 0.0;
      for (int c = 0; c < ncomp; ++c) {
        const double* d = dyt + (static_cast<long>(a) * ncomp + c) * w;
        double sum_g = 0.0, sum_dg = 0.0;
#pragma omp simd reduction(+ : sum_g, sum_dg)
        for (int m = 0; m < w; ++m) {
          sum_g += g[m] * d[m];
          sum_dg += dg[m] * d[m];
        }
        drows[s * ncomp + c] = sum_g;
        sum_dx += sum_dg * ra[j * ncomp + c];
      }
      dx[s] = sum_dx;
    }
  }
}

DK_CPU_CLONES
void grad_grad_centre(double* ddy, double* __restrict acc, double* __restrict g,
                      double* __restrict dg, const double* table,
                      const TableInfo& info, const double* x, const double* rows,
                      const double* ddx, const double* ddrows, int nnei, int ncomp) {
  const int w = info.width;
  for (int k = 0; k < w * ncomp; ++k) acc[k] = 0.0;
  for (int j = 0; j < nnei; ++j) {
    if (!same_slot(x, rows, j, ncomp)) eval_all(g, dg, table, info, x[j]);
    for (int c = 0; c < ncomp; ++c) {
      const double a_dg = ddx[j] * rows[j * ncomp + c];
      const double a_g = ddrows[j * ncomp + c];
      double* a = acc + c * w;
      for (int m = 0; m < w; ++m) a[m] += a_dg * dg[m] + a_g * g[m];
    }
  }
  for (int m = 0; m < w; ++m) {
    for (int c = 0; c < ncomp; ++c) ddy[m * ncomp + c] = acc[c * w + m];
  }
}

void check_shape(int ncomp, int n, int nnei) {
  if (ncomp < 1 || ncomp > 4) throw InputError("tabulate: rows must have 1 to 4 components");
  if (n < 0 || nnei < 0) throw InputError("tabulate: negative size");
}

}  // namespace

TableInfo table_info(const double* info, int width) {
  TableInfo t;
  t.lower = info[0];
  t.upper = info[1];
  t.upper_ext = info[2];
  t.step = info[3];
  t.step_ext = info[4];
  t.n_inner = static_cast<int>(info[5]);
  t.n_ext = static_cast<int>(info[6]);
  t.width = width;
  const bool ok = std::isfinite(t.lower) && std::isfinite(t.upper_ext) && t.step > 0 &&
                  t.step_ext > 0 && t.n_inner >= 1 && t.n_ext >= 1 && width >= 1 &&
                  std::fabs(t.lower + t.n_inner * t.step - t.upper) <= 1e-9 * (1 + std::fabs(t.upper)) &&
                  std::fabs(t.upper + t.n_ext * t.step_ext - t.upper_ext) <=
                      1e-9 * (1 + std::fabs(t.upper_ext));
  if (!ok) {
    throw InputError("tabulate: table info (lower, upper, upper_ext, step, step_ext, n_inner, "
                     "n_ext) is inconsistent");
  }
  return t;
}

void tabulate_fusion(double* out, const double* table, const TableInfo& info, const double* x,
                     const double* rows, int n, int nnei, int ncomp) {
  check_shape(ncomp, n, nnei);
  const int w = info.width;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> acc, g;
    std::vector<int> skip_to;
    errors.run([&] {
      acc.resize(kTile * w * ncomp);
      g.resize(w);
      skip_to.resize(kTile);
    });
#pragma omp for schedule(dynamic, 1)
    for (int first = 0; first < n; first += kTile) {
      errors.run([&] {
        const int count = std::min(kTile, n - first);
        forward_tile(out + static_cast<long>(first) * w * ncomp, acc.data(), g.data(),
                     skip_to.data(), table, info, x + static_cast<long>(first) * nnei,
                     rows + static_cast<long>(first) * nnei * ncomp, count, nnei, ncomp);
      });
    }
  }
  errors.rethrow();
}

void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp) {
  check_shape(ncomp, n, nnei);
  const int w = info.width;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> dyt, g, dg;
    errors.run([&] {
      dyt.resize(kTile * w * ncomp);
      g.resize(w);
      dg.resize(w);
    });
#pragma omp for schedule(dynamic, 1)
    for (int first = 0; first < n; first += kTile) {
      errors.run([&] {
        const int count = std::min(kTile, n - first);
        const long s = static_cast<long>(first) * nnei;
        grad_tile(dx + s, drows + s * ncomp, dyt.data(), g.data(), dg.data(), table, info, x + s,
                  rows + s * ncomp, dy + static_cast<long>(first) * w * ncomp, count, nnei, ncomp);
      });
    }
  }
  errors.rethrow();
}

void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp) {
  check_shape(ncomp, n, nnei);
  const int w = info.width;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> acc, g, dg;
    errors.run([&] {
      acc.resize(w * ncomp);
      g.resize(w);
      dg.resize(w);
    });
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      errors.run([&] {
        const long s = static_cast<long>(i) * nnei;
        grad_grad_centre(ddy + static_cast<long>(i) * w * ncomp, acc.data(), g.data(), dg.data(),
                         table, info, x + s, rows + s * ncomp, ddx + s, ddrows + s * ncomp, nnei,
                         ncomp);
      });
    }
  }
  errors.rethrow();
}

}  // namespace deepkit
