// Error type thrown by op_src/lib kernels on bad input.
//
// Kernels validate their input before any parallel region and throw InputError with a
// message naming the array and the offending index; the framework wrappers (op_src/tf,
// op_src/capi) catch it and turn it into their own error status.
#pragma once

#include <stdexcept>
#include <string>

namespace deepkit {

class InputError : public std::invalid_argument {
 public:
  explicit InputError(const std::string& what) : std::invalid_argument(what) {}
};

}  // namespace deepkit
