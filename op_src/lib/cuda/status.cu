#include <string>

#include "kernels_gpu.h"

namespace deepkit {
namespace gpu {

std::string status_message(const Status& s, int ntypes, int nall, bool mixed_types) {
  const std::string a = std::to_string(s.a), b = std::to_string(s.b);
  switch (s.code) {
    case kOk:
      return "";
    case kBadType:
      if (mixed_types) return "atom " + a + " has type " + b + ", expected a type index >= 0";
      return "atom " + a + " has type " + b + ", expected 0.." + std::to_string(ntypes - 1) +
             " (one per sel entry)";
    case kNonFiniteCoord:
      return "coordinate of atom " + a + " is not finite";
    case kBadBox:
      return "box is singular (its three cell vectors are linearly dependent) or not finite";
    case kOverlap:
      return "atoms " + a + " and " + b + " (or its periodic image) are at the same position";
    case kTooManyCandidates:
      return "atom " + a + " has " + b + " atoms within rcut; the GPU neighbour search holds " +
             std::to_string(kMaxCandidates) + " (use the CPU kernel or a smaller rcut)";
    case kBadNlist:
      return "nlist entry " + b + " of atom " + a + " is outside [-1, " + std::to_string(nall) +
             ")";
    default:
      return "unknown GPU status code " + std::to_string(s.code);
  }
}

}  // namespace gpu
}  // namespace deepkit
