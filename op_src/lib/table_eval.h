// Locating an input in a TableInfo and evaluating the quintics; shared by the CPU and CUDA
// tabulation kernels.
#pragma once

#include <math.h>

#include "env_row.h"  // DK_HOST_DEVICE
#include "tabulate.h"

// Inlined into their callers, including the CPU kernels' per-ISA clones (tabulate.cc),
// which only vectorise what is inlined.
#if defined(__CUDACC__)
#define DK_FORCE_INLINE __forceinline__
#elif defined(__GNUC__)
#define DK_FORCE_INLINE inline __attribute__((always_inline))
#else
#define DK_FORCE_INLINE inline
#endif

namespace deepkit {

// Interval index k and offset t = x - node_k; `slope` is 0 where the input was clamped.
DK_HOST_DEVICE DK_FORCE_INLINE void locate(const TableInfo& info, double x, int* k, double* t,
                                  double* slope) {
  *slope = 1.0;
  if (!(x >= info.lower)) {  // also catches NaN: evaluated at the lower end
    *k = 0;
    *t = 0.0;
    *slope = 0.0;
  } else if (x < info.upper) {
    int idx = static_cast<int>(floor((x - info.lower) / info.step));
    idx = idx < info.n_inner - 1 ? idx : info.n_inner - 1;
    *k = idx;
    *t = x - (info.lower + idx * info.step);
  } else if (x < info.upper_ext) {
    int idx = static_cast<int>(floor((x - info.upper) / info.step_ext));
    idx = idx < info.n_ext - 1 ? idx : info.n_ext - 1;
    *k = info.n_inner + idx;
    *t = x - (info.upper + idx * info.step_ext);
  } else {
    *k = info.n_inner + info.n_ext - 1;
    *t = info.step_ext;
    *slope = 0.0;
  }
}

// Value and derivative of channel m's quintic at offset t (coefficients of interval k).
DK_HOST_DEVICE DK_FORCE_INLINE void quintic(const double* coef, int width, int m, double t, double* g,
                                   double* dg) {
  const double a0 = coef[m], a1 = coef[width + m], a2 = coef[2 * width + m];
  const double a3 = coef[3 * width + m], a4 = coef[4 * width + m], a5 = coef[5 * width + m];
  *g = a0 + t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))));
  *dg = a1 + t * (2.0 * a2 + t * (3.0 * a3 + t * (4.0 * a4 + t * 5.0 * a5)));
}

}  // namespace deepkit
