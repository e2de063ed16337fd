#include "tabulate.h"

#include <cmath>
#include <string>
#include <vector>

#include "errors.h"
#include "table_eval.h"

// The per-centre loops vectorise over the table's channels; on x86-64 they are also built
// for Haswell (AVX2 + FMA) and chosen at load time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DK_CPU_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define DK_CPU_CLONES
#endif

namespace deepkit {
namespace {

// g[m] and dg[m] (derivative, zero where the input was clamped) of every channel at x.
inline void eval_all(double* g, double* dg, const double* table, const TableInfo& info,
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

// Slot j repeats slot j - 1 (same input and row): padded slots at the end of each type
// block all do, so their table lookup is done once.
inline bool same_slot(const double* x, const double* rows, int j, int ncomp) {
  if (j == 0 || x[j] != x[j - 1]) return false;
  for (int c = 0; c < ncomp; ++c) {
    if (rows[j * ncomp + c] != rows[(j - 1) * ncomp + c]) return false;
  }
  return true;
}

DK_CPU_CLONES
void forward_centre(double* out, double* acc, double* g, double* dg, const double* table,
                    const TableInfo& info, const double* x, const double* rows, int nnei,
                    int ncomp) {
  const int w = info.width;
  for (int k = 0; k < w * ncomp; ++k) acc[k] = 0.0;
  int j = 0;
  while (j < nnei) {
    int run = 1;
    while (j + run < nnei && same_slot(x, rows, j + run, ncomp)) ++run;
    eval_all(g, dg, table, info, x[j]);
    for (int c = 0; c < ncomp; ++c) {
      const double r = rows[j * ncomp + c] * run;
      double* a = acc + c * w;
      for (int m = 0; m < w; ++m) a[m] += g[m] * r;
    }
    j += run;
  }
  for (int m = 0; m < w; ++m) {
    for (int c = 0; c < ncomp; ++c) out[m * ncomp + c] = acc[c * w + m];
  }
}

DK_CPU_CLONES
void grad_centre(double* dx, double* drows, double* dyt, double* g, double* dg,
                 const double* table, const TableInfo& info, const double* x, const double* rows,
                 const double* dy, int nnei, int ncomp) {
  const int w = info.width;
  for (int m = 0; m < w; ++m) {
    for (int c = 0; c < ncomp; ++c) dyt[c * w + m] = dy[m * ncomp + c];
  }
  for (int j = 0; j < nnei; ++j) {
    if (same_slot(x, rows, j, ncomp)) {
      dx[j] = dx[j - 1];
      for (int c = 0; c < ncomp; ++c) drows[j * ncomp + c] = drows[(j - 1) * ncomp + c];
      continue;
    }
    eval_all(g, dg, table, info, x[j]);
    double sum_dx = 0.0;
    for (int c = 0; c < ncomp; ++c) {
      const double* d = dyt + c * w;
      const double r = rows[j * ncomp + c];
      double sum_g = 0.0, sum_dg = 0.0;
      for (int m = 0; m < w; ++m) {
        sum_g += g[m] * d[m];
        sum_dg += dg[m] * d[m];
      }
      drows[j * ncomp + c] = sum_g;
      sum_dx += sum_dg * r;
    }
    dx[j] = sum_dx;
  }
}

DK_CPU_CLONES
void grad_grad_centre(double* ddy, double* acc, double* g, double* dg, const double* table,
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
#pragma omp parallel
  {
    std::vector<double> acc(w * ncomp), g(w), dg(w);
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      forward_centre(out + static_cast<long>(i) * w * ncomp, acc.data(), g.data(), dg.data(),
                     table, info, x + static_cast<long>(i) * nnei,
                     rows + static_cast<long>(i) * nnei * ncomp, nnei, ncomp);
    }
  }
}

void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp) {
  check_shape(ncomp, n, nnei);
  const int w = info.width;
#pragma omp parallel
  {
    std::vector<double> dyt(w * ncomp), g(w), dg(w);
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      const long s = static_cast<long>(i) * nnei;
      grad_centre(dx + s, drows + s * ncomp, dyt.data(), g.data(), dg.data(), table, info, x + s,
                  rows + s * ncomp, dy + static_cast<long>(i) * w * ncomp, nnei, ncomp);
    }
  }
}

void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp) {
  check_shape(ncomp, n, nnei);
  const int w = info.width;
#pragma omp parallel
  {
    std::vector<double> acc(w * ncomp), g(w), dg(w);
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      const long s = static_cast<long>(i) * nnei;
      grad_grad_centre(ddy + static_cast<long>(i) * w * ncomp, acc.data(), g.data(), dg.data(),
                       table, info, x + s, rows + s * ncomp, ddx + s, ddrows + s * ncomp, nnei,
                       ncomp);
    }
  }
}

}  // namespace deepkit
