// Runs an op_src/lib kernel and turns its InputError into a TensorFlow InvalidArgument.
#pragma once

#include <string>

#include "lib/errors.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace deepkit {

// Returns false (with the op's status set) when the kernel rejected its input.
template <typename Kernel>
bool call_kernel(tensorflow::OpKernelContext* ctx, int frame, Kernel&& kernel) {
  try {
    kernel();
    return true;
  } catch (const InputError& e) {
    ctx->CtxFailure(tensorflow::errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": frame ", frame, ": ", e.what()));
    return false;
  }
}

// Reads a scalar double input, e.g. rcut.
inline bool scalar_input(tensorflow::OpKernelContext* ctx, int index, double* value) {
  const tensorflow::Tensor& t = ctx->input(index);
  if (!tensorflow::TensorShapeUtils::IsScalar(t.shape())) {
    ctx->CtxFailure(tensorflow::errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": input ", index, " must be a scalar, got shape ",
        t.shape().DebugString()));
    return false;
  }
  *value = t.scalar<double>()();
  return true;
}

}  // namespace deepkit
