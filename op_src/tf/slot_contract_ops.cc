// DkSlotContract and its two gradient ops: G^T R over compactly stored occupied slots
// (op_src/lib/slot_contract.h). CPU kernels, float and double.
#include <algorithm>

#include "lib/slot_contract.h"
#include "tf/kernel_call.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/util/work_sharder.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it
using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// Shape functions: every input of its rank, the shared sizes merged (a graph that pairs
// mismatched inputs is refused when it is built or imported).
Status contract_shape(InferenceContext* c) {
  ShapeHandle g, r, count;
  DimensionHandle slots;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &g));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &r));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &count));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(g, 0), c->Dim(r, 0), &slots));
  c->set_output(0, c->MakeShape({c->Dim(count, 0), c->Dim(g, 1), c->Dim(r, 1)}));
  return OkStatus();
}

// DkSlotContractGradG (rows = r, axis 2 of dout) and GradR (rows = g, axis 1): (K, the
// other axis of dout).
Status grad_shape(InferenceContext* c, int shared_axis) {
  ShapeHandle dout, rows, count;
  DimensionHandle n, shared;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &dout));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &rows));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &count));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(dout, 0), c->Dim(count, 0), &n));
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(dout, shared_axis), c->Dim(rows, 1), &shared));
  c->set_output(0, c->Matrix(c->Dim(rows, 0), c->Dim(dout, 3 - shared_axis)));
  return OkStatus();
}

}  // namespace

REGISTER_OP("DkSlotContract")
    .Input("g: T")          // (K, m) per occupied slot, atom by atom
    .Input("r: T")          // (K, c)
    .Input("count: int32")  // (n,) occupied slots of each atom, adding up to K
    .Attr("T: {float, double}")
    .Output("out: T")       // (n, m, c) = sum over each atom's slots of g^T r
    .SetShapeFn(contract_shape)
    .Doc("G^T R per atom over its occupied slots, stored one after the other.");

REGISTER_OP("DkSlotContractGradG")
    .Input("dout: T")       // (n, m, c)
    .Input("r: T")          // (K, c)
    .Input("count: int32")
    .Attr("T: {float, double}")
    .Output("grad_g: T")    // (K, m)
    .SetShapeFn([](InferenceContext* c) { return grad_shape(c, 2); });

REGISTER_OP("DkSlotContractGradR")
    .Input("dout: T")       // (n, m, c)
    .Input("g: T")          // (K, m)
    .Input("count: int32")
    .Attr("T: {float, double}")
    .Output("grad_r: T")    // (K, c)
    .SetShapeFn([](InferenceContext* c) { return grad_shape(c, 1); });

namespace {

// Bounds on the sizes: a crafted model's zero-size inputs may carry any dimensions, and the
// outputs' element counts (K x m, n x m x c) must not overflow.
constexpr int64_t kMaxSlots = int64_t{1} << 40, kMaxWidth = 1 << 20, kMaxComponents = 64;

// Slot rows (K, width) and the counts: the offsets of each atom's rows, or false with the
// op's status set.
bool slot_rows(OpKernelContext* ctx, const Tensor& rows, const Tensor& count,
               std::vector<int64_t>* offset) {
  const std::string op = ctx->op_kernel().type_string();
  if (rows.dims() != 2 || count.dims() != 1) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": slot rows must be (K, width) and count (n,), got ",
                                            rows.shape().DebugString(), " and ",
                                            count.shape().DebugString()));
    return false;
  }
  if (rows.dim_size(0) > kMaxSlots) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": ", rows.dim_size(0), " slot rows, at most ",
                                            kMaxSlots));
    return false;
  }
  *offset = deepkit::slot_offsets(count.flat<int32>().data(), count.dim_size(0), rows.dim_size(0));
  return true;
}

// kernel(begin, end) over the atoms, shared out on TensorFlow's intra-op threads; cost:
// about the work of one atom's slots.
template <typename Kernel>
void over_atoms(OpKernelContext* ctx, const std::vector<int64_t>& offset, int64_t width,
                Kernel&& kernel) {
  const int64_t n = static_cast<int64_t>(offset.size()) - 1;
  if (n == 0) return;
  const int64_t cost = std::max<int64_t>(1, offset[n] / n) * width * 2;
  const auto& workers = *ctx->device()->tensorflow_cpu_worker_threads();
  Shard(workers.num_threads, workers.workers, n, cost, kernel);
}

// m (net width) and c (row components) within bounds.
bool check_widths(OpKernelContext* ctx, int64_t m, int64_t c) {
  if (m <= kMaxWidth && c <= kMaxComponents) return true;
  ctx->CtxFailure(errors::InvalidArgument(ctx->op_kernel().type_string(), ": width ", m,
                                          " (at most ", kMaxWidth, ") or components ", c,
                                          " (at most ", kMaxComponents, ")"));
  return false;
}

// dout must be (n, m, c) for the counts' n, m and c within bounds.
bool check_dout(OpKernelContext* ctx, const Tensor& dout, int64_t n) {
  if (dout.dims() != 3 || dout.dim_size(0) != n) {
    ctx->CtxFailure(errors::InvalidArgument(ctx->op_kernel().type_string(), ": dout must be (", n,
                                            ", m, c), got ", dout.shape().DebugString()));
    return false;
  }
  return check_widths(ctx, dout.dim_size(1), dout.dim_size(2));
}

}  // namespace

template <typename T>
class DkSlotContractOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &g = ctx->input(0), &r = ctx->input(1), &count = ctx->input(2);
    std::vector<int64_t> offset;
    if (!slot_rows(ctx, g, count, &offset)) return;
    OP_REQUIRES(ctx, r.dims() == 2 && r.dim_size(0) == g.dim_size(0),
                errors::InvalidArgument("DkSlotContract: r must be (", g.dim_size(0), ", c), got ",
                                        r.shape().DebugString()));
    if (!check_widths(ctx, g.dim_size(1), r.dim_size(1))) return;
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {count.dim_size(0), g.dim_size(1), r.dim_size(1)}, &out));
    const int64_t m = g.dim_size(1), c = r.dim_size(1);
    over_atoms(ctx, offset, m * c, [&](int64_t begin, int64_t end) {
      deepkit::slot_contract(out->flat<T>().data(), g.flat<T>().data(), r.flat<T>().data(), offset,
                             m, c, begin, end);
    });
  }
};

template <typename T>
class DkSlotContractGradGOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &dout = ctx->input(0), &r = ctx->input(1), &count = ctx->input(2);
    std::vector<int64_t> offset;
    if (!slot_rows(ctx, r, count, &offset) || !check_dout(ctx, dout, count.dim_size(0))) return;
    OP_REQUIRES(ctx, dout.dim_size(2) == r.dim_size(1),
                errors::InvalidArgument("DkSlotContractGradG: dout ", dout.shape().DebugString(),
                                        " and r ", r.shape().DebugString(), " differ in c"));
    Tensor* grad;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {r.dim_size(0), dout.dim_size(1)}, &grad));
    const int64_t m = dout.dim_size(1), c = dout.dim_size(2);
    over_atoms(ctx, offset, m * c, [&](int64_t begin, int64_t end) {
      deepkit::slot_contract_grad_g(grad->flat<T>().data(), dout.flat<T>().data(),
                                    r.flat<T>().data(), offset, m, c, begin, end);
    });
  }
};

template <typename T>
class DkSlotContractGradROp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor &dout = ctx->input(0), &g = ctx->input(1), &count = ctx->input(2);
    std::vector<int64_t> offset;
    if (!slot_rows(ctx, g, count, &offset) || !check_dout(ctx, dout, count.dim_size(0))) return;
    OP_REQUIRES(ctx, dout.dim_size(1) == g.dim_size(1),
                errors::InvalidArgument("DkSlotContractGradR: dout ", dout.shape().DebugString(),
                                        " and g ", g.shape().DebugString(), " differ in m"));
    Tensor* grad;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {g.dim_size(0), dout.dim_size(2)}, &grad));
    const int64_t m = dout.dim_size(1), c = dout.dim_size(2);
    over_atoms(ctx, offset, m * c, [&](int64_t begin, int64_t end) {
      deepkit::slot_contract_grad_r(grad->flat<T>().data(), dout.flat<T>().data(),
                                    g.flat<T>().data(), offset, m, c, begin, end);
    });
  }
};

#define DEEPKIT_REGISTER_SLOT_CONTRACT(T)                                                       \
  REGISTER_KERNEL_BUILDER(Name("DkSlotContract").Device(DEVICE_CPU).TypeConstraint<T>("T"),      \
                          deepkit::Guarded<DkSlotContractOp<T>>);                               \
  REGISTER_KERNEL_BUILDER(Name("DkSlotContractGradG").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          deepkit::Guarded<DkSlotContractGradGOp<T>>);                          \
  REGISTER_KERNEL_BUILDER(Name("DkSlotContractGradR").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          deepkit::Guarded<DkSlotContractGradROp<T>>);
DEEPKIT_REGISTER_SLOT_CONTRACT(float)
DEEPKIT_REGISTER_SLOT_CONTRACT(double)
#undef DEEPKIT_REGISTER_SLOT_CONTRACT
