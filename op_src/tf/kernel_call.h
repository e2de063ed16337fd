// Error handling shared by deepkit's TensorFlow ops: op_src/lib's InputError becomes an
// InvalidArgument status, and no C++ exception leaves an op.
//
// An exception escaping OpKernel::Compute aborts the process (TensorFlow is built without
// handlers for it): a std::bad_alloc from a huge input would kill the Python or C caller.
// Every kernel is registered as Guarded<Op>, whose Compute runs the op's under guard();
// call_kernel does the same around one kernel call, naming the frame.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "lib/errors.h"
#include "tensorflow/core/framework/op_kernel.h"

namespace deepkit {

// Made once, at kernel construction: reporting an allocation failure must not allocate.
inline const tensorflow::Status& out_of_memory_status() {
  static const tensorflow::Status status =
      tensorflow::errors::ResourceExhausted("deepkit op: out of memory");
  return status;
}

// Runs body(); an exception becomes the op's status (InputError: InvalidArgument; failed
// allocations: ResourceExhausted; anything else: Internal), prefixed with the op's name and,
// when frame >= 0, the frame. Returns false when the body threw.
template <typename Body>
bool guard(tensorflow::OpKernelContext* ctx, int64_t frame, Body&& body) noexcept {
  try {
    try {
      body();
      return true;
    } catch (const InputError& e) {
      ctx->CtxFailure(tensorflow::errors::InvalidArgument(
          ctx->op_kernel().type_string(), frame >= 0 ? ": frame " + std::to_string(frame) : "",
          ": ", e.what()));
    } catch (const std::bad_alloc&) {
      ctx->CtxFailure(tensorflow::errors::ResourceExhausted(
          ctx->op_kernel().type_string(), frame >= 0 ? ": frame " + std::to_string(frame) : "",
          ": out of memory (the input needs more than the process may allocate)"));
    } catch (const std::length_error& e) {
      ctx->CtxFailure(tensorflow::errors::ResourceExhausted(
          ctx->op_kernel().type_string(), frame >= 0 ? ": frame " + std::to_string(frame) : "",
          ": input too large (", e.what(), ")"));
    } catch (const std::exception& e) {
      ctx->CtxFailure(tensorflow::errors::Internal(ctx->op_kernel().type_string(), ": ", e.what()));
    } catch (...) {
      ctx->CtxFailure(
          tensorflow::errors::Internal(ctx->op_kernel().type_string(), ": unknown C++ exception"));
    }
  } catch (...) {  // building the message itself failed: out of memory
    ctx->CtxFailure(out_of_memory_status());
  }
  return false;
}

// A kernel of the frame loop (cpu_launch.cc): false (with the op's status set) when it threw.
template <typename Kernel>
bool call_kernel(tensorflow::OpKernelContext* ctx, int64_t frame, Kernel&& kernel) {
  return guard(ctx, frame, kernel);
}

// What REGISTER_KERNEL_BUILDER registers for every deepkit op: Op with a guarded Compute.
template <class Op>
class Guarded : public Op {
 public:
  explicit Guarded(tensorflow::OpKernelConstruction* ctx) : Op(ctx) { out_of_memory_status(); }
  void Compute(tensorflow::OpKernelContext* ctx) override {
    guard(ctx, -1, [&] { Op::Compute(ctx); });
  }
};

// The neighbour-list ops' `mixed_types` attr needs a single `sel` entry: the slots that
// neighbours of every type share. Checked by their shape functions (a graph or frozen model
// is refused when built or imported) and again by their kernels.
inline tensorflow::Status check_mixed_sel(const std::string& op, bool mixed_types, size_t nsel) {
  if (!mixed_types || nsel == 1) return tensorflow::OkStatus();
  return tensorflow::errors::InvalidArgument(
      op, ": mixed_types takes exactly one sel entry (the slots all types share), got ", nsel);
}

// Reads the neighbour-list ops' `sel` and `mixed_types` attrs: sel entries >= 0, at most
// kMaxNeighbors in all (a crafted model's sel must not overflow the slot arithmetic or ask
// for terabytes).
constexpr int64_t kMaxNeighbors = 1 << 20;

inline void read_sel(tensorflow::OpKernelConstruction* ctx, std::vector<int>* sel,
                     int64_t* nnei, bool* mixed_types) {
  OP_REQUIRES_OK(ctx, ctx->GetAttr("sel", sel));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("mixed_types", mixed_types));
  OP_REQUIRES_OK(ctx, check_mixed_sel(ctx->def().op(), *mixed_types, sel->size()));
  *nnei = 0;
  for (int s : *sel) {
    OP_REQUIRES(ctx, s >= 0 && s <= kMaxNeighbors,
                tensorflow::errors::InvalidArgument(ctx->def().op(), ": sel entries must lie in [0, ",
                                                    kMaxNeighbors, "], got ", s));
    *nnei += s;
  }
  OP_REQUIRES(ctx, *nnei <= kMaxNeighbors,
              tensorflow::errors::InvalidArgument(ctx->def().op(), ": sum(sel) = ", *nnei,
                                                  " exceeds ", kMaxNeighbors));
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
