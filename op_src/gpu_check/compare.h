// Comparisons shared by gpu_check and the host-side kernel checks in tests/lib.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

// max |got - ref| / max |ref|: the error relative to the array's scale; infinite when the
// sizes differ or got holds a non-finite value (an output left unwritten, say).
inline double rel_diff(const std::vector<double>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  double diff = 0.0, scale = 0.0;
  for (size_t k = 0; k < ref.size(); ++k) {
    if (!std::isfinite(got[k])) return INFINITY;
    diff = std::max(diff, std::fabs(got[k] - ref[k]));
    scale = std::max(scale, std::fabs(ref[k]));
  }
  return scale > 0 ? diff / scale : diff;
}

// How many entries differ (infinite when the sizes do).
inline double mismatches(const std::vector<int>& got, const std::vector<int>& ref) {
  if (got.size() != ref.size()) return INFINITY;
  long bad = 0;
  for (size_t k = 0; k < ref.size(); ++k) bad += got[k] != ref[k];
  return static_cast<double>(bad);
}
