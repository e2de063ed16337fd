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
DK_FORCE_INLINE bool same_slot(const double* x, const double* rows, int j, int ncomp,
                               const int* block = nullptr) {
  if (j == 0 || x[j] != x[j - 1]) return false;
  if (block != nullptr && block[j] != block[j - 1]) return false;
  for (int c = 0; c < ncomp; ++c) {
    if (rows[j * ncomp + c] != rows[(j - 1) * ncomp + c]) return false;
  }
  return true;
}

// Centres are processed in tiles, slot-major: slot j of neighbouring centres holds
// neighbours at similar distances, so their table rows are read while still in cache (per
// centre, the slots touch a new 6 x width block of the table each).
constexpr int kTile = 32;

// With blocks (block != nullptr), slot j's row adds to the components of its block,
// block[j] * ncomp + c, of wide = nblocks * ncomp output components; else block 0 of 1.
DK_CPU_CLONES
void forward_tile(double* out, double* __restrict acc, double* __restrict g, int* skip_to,
                  const double* table, const TableInfo& info, const double* x, const double* rows,
                  const int* block, int count, int nnei, int ncomp, int wide) {
  const int w = info.width;
  for (long k = 0; k < static_cast<long>(count) * w * wide; ++k) acc[k] = 0.0;
  for (int a = 0; a < count; ++a) skip_to[a] = 0;
  for (int j = 0; j < nnei; ++j) {
    for (int a = 0; a < count; ++a) {
      if (j < skip_to[a]) continue;
      const double* xa = x + static_cast<long>(a) * nnei;
      const double* ra = rows + static_cast<long>(a) * nnei * ncomp;
      const int* ba = block == nullptr ? nullptr : block + static_cast<long>(a) * nnei;
      // A run of identical slots (the padding of a type block) counts once, times its length.
      int run = 1;
      while (j + run < nnei && same_slot(xa, ra, j + run, ncomp, ba)) ++run;
      skip_to[a] = j + run;
      eval_values(g, table, info, xa[j]);
      const int first = ba == nullptr ? 0 : ba[j] * ncomp;
      for (int c = 0; c < ncomp; ++c) {
        const double r = ra[j * ncomp + c] * run;
        double* acc_c = acc + (static_cast<long>(a) * wide + first + c) * w;
        for (int m = 0; m < w; ++m) acc_c[m] += g[m] * r;
      }
    }
  }
  for (int a = 0; a < count; ++a) {
    for (int m = 0; m < w; ++m) {
      for (int q = 0; q < wide; ++q) {
        out[(static_cast<long>(a) * w + m) * wide + q] = acc[(static_cast<long>(a) * wide + q) * w + m];
      }
    }
  }
}

DK_CPU_CLONES
void grad_tile(double* dx, double* drows, double* __restrict dyt, double* __restrict g,
               double* __restrict dg, const double* table,
               const TableInfo& info, const double* x, const double* rows, const int* block,
               const double* dy, int count, int nnei, int ncomp, int wide) {
  const int w = info.width;
  for (int a = 0; a < count; ++a) {
    for (int m = 0; m < w; ++m) {
      for (int q = 0; q < wide; ++q) {
        dyt[(static_cast<long>(a) * wide + q) * w + m] = dy[(static_cast<long>(a) * w + m) * wide + q];
      }
    }
  }
  for (int j = 0; j < nnei; ++j) {
    for (int a = 0; a < count; ++a) {
      const long s = static_cast<long>(a) * nnei + j;
      const double* xa = x + static_cast<long>(a) * nnei;
      const double* ra = rows + static_cast<long>(a) * nnei * ncomp;
      const int* ba = block == nullptr ? nullptr : block + static_cast<long>(a) * nnei;
      if (same_slot(xa, ra, j, ncomp, ba)) {
        dx[s] = dx[s - 1];
        for (int c = 0; c < ncomp; ++c) drows[s * ncomp + c] = drows[(s - 1) * ncomp + c];
        continue;
      }
      eval_all(g, dg, table, info, xa[j]);
      const int first = ba == nullptr ? 0 : ba[j] * ncomp;
      double sum_dx = 0.0;
      for (int c = 0; c < ncomp; ++c) {
        const double* d = dyt + (static_cast<long>(a) * wide + first + c) * w;
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
                      const TableInfo& info, const double* x, const double* rows, const int* block,
                      const double* ddx, const double* ddrows, int nnei, int ncomp, int wide) {
  const int w = info.width;
  for (int k = 0; k < w * wide; ++k) acc[k] = 0.0;
  for (int j = 0; j < nnei; ++j) {
    if (!same_slot(x, rows, j, ncomp, block)) eval_all(g, dg, table, info, x[j]);
    const int first = block == nullptr ? 0 : block[j] * ncomp;
    for (int c = 0; c < ncomp; ++c) {
      const double a_dg = ddx[j] * rows[j * ncomp + c];
      const double a_g = ddrows[j * ncomp + c];
      double* a = acc + (first + c) * w;
      for (int m = 0; m < w; ++m) a[m] += a_dg * dg[m] + a_g * g[m];
    }
  }
  for (int m = 0; m < w; ++m) {
    for (int q = 0; q < wide; ++q) ddy[m * wide + q] = acc[q * w + m];
  }
}

void check_shape(int ncomp, int n, int nnei, const int* block, int nblocks) {
  if (ncomp < 1 || ncomp > kMaxComponents) {
    throw InputError("tabulate: rows must have 1 to " + std::to_string(kMaxComponents) + " components");
  }
  if (n < 0 || nnei < 0) throw InputError("tabulate: negative size");
  if (nblocks < 1 || nblocks > kMaxBlocks || (block == nullptr && nblocks != 1)) {
    throw InputError("tabulate: 1 to " + std::to_string(kMaxBlocks) + " blocks");
  }
  if (block == nullptr) return;
  for (long k = 0; k < static_cast<long>(n) * nnei; ++k) {
    if (block[k] < 0 || block[k] >= nblocks) {
      throw InputError("tabulate: block index " + std::to_string(block[k]) + " outside 0.." +
                       std::to_string(nblocks - 1));
    }
  }
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
                     const double* rows, int n, int nnei, int ncomp, const int* block,
                     int nblocks) {
  check_shape(ncomp, n, nnei, block, nblocks);
  const int w = info.width, wide = nblocks * ncomp;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> acc, g;
    std::vector<int> skip_to;
    errors.run([&] {
      acc.resize(static_cast<size_t>(kTile) * w * wide);
      g.resize(w);
      skip_to.resize(kTile);
    });
#pragma omp for schedule(dynamic, 1)
    for (int first = 0; first < n; first += kTile) {
      errors.run([&] {
        const int count = std::min(kTile, n - first);
        const long s = static_cast<long>(first) * nnei;
        forward_tile(out + static_cast<long>(first) * w * wide, acc.data(), g.data(),
                     skip_to.data(), table, info, x + s, rows + s * ncomp,
                     block == nullptr ? nullptr : block + s, count, nnei, ncomp, wide);
      });
    }
  }
  errors.rethrow();
}

void tabulate_fusion_grad(double* dx, double* drows, const double* table, const TableInfo& info,
                          const double* x, const double* rows, const double* dy, int n, int nnei,
                          int ncomp, const int* block, int nblocks) {
  check_shape(ncomp, n, nnei, block, nblocks);
  const int w = info.width, wide = nblocks * ncomp;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> dyt, g, dg;
    errors.run([&] {
      dyt.resize(static_cast<size_t>(kTile) * w * wide);
      g.resize(w);
      dg.resize(w);
    });
#pragma omp for schedule(dynamic, 1)
    for (int first = 0; first < n; first += kTile) {
      errors.run([&] {
        const int count = std::min(kTile, n - first);
        const long s = static_cast<long>(first) * nnei;
        grad_tile(dx + s, drows + s * ncomp, dyt.data(), g.data(), dg.data(), table, info, x + s,
                  rows + s * ncomp, block == nullptr ? nullptr : block + s,
                  dy + static_cast<long>(first) * w * wide, count, nnei, ncomp, wide);
      });
    }
  }
  errors.rethrow();
}

void tabulate_fusion_grad_grad(double* ddy, const double* table, const TableInfo& info,
                               const double* x, const double* rows, const double* ddx,
                               const double* ddrows, int n, int nnei, int ncomp, const int* block,
                               int nblocks) {
  check_shape(ncomp, n, nnei, block, nblocks);
  const int w = info.width, wide = nblocks * ncomp;
  ErrorCapture errors;  // the scratch vectors may fail to allocate
#pragma omp parallel
  {
    std::vector<double> acc, g, dg;
    errors.run([&] {
      acc.resize(static_cast<size_t>(w) * wide);
      g.resize(w);
      dg.resize(w);
    });
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      errors.run([&] {
        const long s = static_cast<long>(i) * nnei;
        grad_grad_centre(ddy + static_cast<long>(i) * w * wide, acc.data(), g.data(), dg.data(),
                         table, info, x + s, rows + s * ncomp,
                         block == nullptr ? nullptr : block + s, ddx + s, ddrows + s * ncomp,
                         nnei, ncomp, wide);
      });
    }
  }
  errors.rethrow();
}

}  // namespace deepkit
