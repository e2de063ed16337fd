// DkTabulateFusion and its gradients: compressed embedding nets (op_src/lib/tabulate.h).
#include <cmath>

#include "lib/tabulate.h"
#include "tf/kernel_call.h"
#include "tf/launch.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it
using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// Checks table (K, 6, M), info (7), x (n, nnei), rows (n, nnei, 1..max_comp); fills the
// args. The plain ops take the 1 to 4 components their CUDA kernels take.
bool check_inputs(OpKernelContext* ctx, deepkit::TabulateArgs* a, int max_comp = 4) {
  const Tensor& table = ctx->input(0);
  const Tensor& info = ctx->input(1);
  const Tensor& x = ctx->input(2);
  const Tensor& rows = ctx->input(3);
  const std::string op = ctx->op_kernel().type_string();
  if (table.dims() != 3 || table.dim_size(1) != 6 || info.shape() != TensorShape({7})) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": table must be (intervals, 6, width) and info (7,), got ",
                                            table.shape().DebugString(), " and ", info.shape().DebugString()));
    return false;
  }
  // The kernels index the table by info's interval counts (table_info casts them to int): a
  // crafted model's info must not send them past the table's rows.
  const double* counts = info.flat<double>().data() + 5;
  const bool whole = counts[0] >= 1 && counts[1] >= 1 && counts[0] == std::floor(counts[0]) &&
                     counts[1] == std::floor(counts[1]);
  if (!whole || counts[0] + counts[1] != static_cast<double>(table.dim_size(0))) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": info's interval counts (", counts[0], " + ",
                                            counts[1], ") must be whole numbers >= 1 adding up "
                                            "to the table's ", table.dim_size(0), " intervals"));
    return false;
  }
  if (x.dims() != 2 || rows.dims() != 3 || rows.dim_size(0) != x.dim_size(0) ||
      rows.dim_size(1) != x.dim_size(1) || rows.dim_size(2) < 1 || rows.dim_size(2) > max_comp) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": x must be (n, nnei) and rows (n, nnei, 1..", max_comp,
                                            "), got ",
                                            x.shape().DebugString(), " and ", rows.shape().DebugString()));
    return false;
  }
  *a = {table.flat<double>().data(), info.flat<double>().data(), static_cast<int>(table.dim_size(2)),
        x.flat<double>().data(),     rows.flat<double>().data(), x.dim_size(0),
        x.dim_size(1),               static_cast<int>(rows.dim_size(2))};
  return true;
}

bool check_same_shape(OpKernelContext* ctx, int index, const TensorShape& expected) {
  const Tensor& t = ctx->input(index);
  if (t.shape() == expected) return true;
  ctx->CtxFailure(errors::InvalidArgument(ctx->op_kernel().type_string(), ": input ", index, " must be ",
                                          expected.DebugString(), ", got ", t.shape().DebugString()));
  return false;
}

// (n, width, nblocks * ncomp) from x's first axis, the table's width, the rows' components
// and (DkTabulateFusionBlocks) the nblocks attribute.
Status out_shape(InferenceContext* c, int output, bool blocks = false) {
  ShapeHandle table, x, rows;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &table));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &x));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 3, &rows));
  DimensionHandle wide = c->Dim(rows, 2);
  if (blocks) {
    int nblocks;
    TF_RETURN_IF_ERROR(c->GetAttr("nblocks", &nblocks));
    TF_RETURN_IF_ERROR(c->Multiply(wide, nblocks, &wide));
  }
  c->set_output(output, c->MakeShape({c->Dim(x, 0), c->Dim(table, 2), wide}));
  return OkStatus();
}

// The gradient ops' dx and drows: the shapes of x and rows.
Status grad_shapes(InferenceContext* c) {
  c->set_output(0, c->input(2));
  c->set_output(1, c->input(3));
  return OkStatus();
}

// DkTabulateFusionBlocks*: input 4 is the (n, nnei) int32 block of each slot, checked in
// [0, nblocks) by the kernel; fills a->block and a->nblocks.
bool check_blocks(OpKernelContext* ctx, deepkit::TabulateArgs* a, int nblocks) {
  const Tensor& block = ctx->input(4);
  if (block.shape() != ctx->input(2).shape()) {
    ctx->CtxFailure(errors::InvalidArgument(ctx->op_kernel().type_string(), ": block must be ",
                                            ctx->input(2).shape().DebugString(), ", got ",
                                            block.shape().DebugString()));
    return false;
  }
  a->block = block.flat<int32>().data();
  a->nblocks = nblocks;
  return true;
}

}  // namespace

REGISTER_OP("DkTabulateFusion")
    .Input("table: double")  // (intervals, 6, width) quintic coefficients
    .Input("info: double")   // (7) lower, upper, upper_ext, step, step_ext, n_inner, n_ext
    .Input("x: double")      // (n, nnei) embedding-net input
    .Input("rows: double")   // (n, nnei, ncomp)
    .Output("out: double")   // (n, width, ncomp) = sum_j G(x_j) (x) rows_j
    .SetShapeFn([](InferenceContext* c) { return out_shape(c, 0); })
    .Doc("Tabulated embedding net contracted with the environment rows, G never stored.");

REGISTER_OP("DkTabulateFusionGrad")
    .Input("table: double")
    .Input("info: double")
    .Input("x: double")
    .Input("rows: double")
    .Input("dy: double")     // (n, width, ncomp)
    .Output("dx: double")    // (n, nnei)
    .Output("drows: double") // (n, nnei, ncomp)
    .SetShapeFn(grad_shapes);

REGISTER_OP("DkTabulateFusionGradGrad")
    .Input("table: double")
    .Input("info: double")
    .Input("x: double")
    .Input("rows: double")
    .Input("ddx: double")    // (n, nnei)
    .Input("ddrows: double") // (n, nnei, ncomp)
    .Output("ddy: double")   // (n, width, ncomp)
    .SetShapeFn([](InferenceContext* c) { return out_shape(c, 0); });

// The same sums taken per block of slots (lib/tabulate.h), CPU kernels only: se_atten's
// compressed strip mode, one block per neighbour type, the table read once per slot.
REGISTER_OP("DkTabulateFusionBlocks")
    .Input("table: double")
    .Input("info: double")
    .Input("x: double")
    .Input("rows: double")    // (n, nnei, ncomp)
    .Input("block: int32")    // (n, nnei) in [0, nblocks)
    .Attr("nblocks: int >= 1")
    .Output("out: double")    // (n, width, nblocks * ncomp)
    .SetShapeFn([](InferenceContext* c) { return out_shape(c, 0, true); });

REGISTER_OP("DkTabulateFusionBlocksGrad")
    .Input("table: double")
    .Input("info: double")
    .Input("x: double")
    .Input("rows: double")
    .Input("block: int32")
    .Input("dy: double")      // (n, width, nblocks * ncomp)
    .Attr("nblocks: int >= 1")
    .Output("dx: double")
    .Output("drows: double")
    .SetShapeFn(grad_shapes);

REGISTER_OP("DkTabulateFusionBlocksGradGrad")
    .Input("table: double")
    .Input("info: double")
    .Input("x: double")
    .Input("rows: double")
    .Input("block: int32")
    .Input("ddx: double")
    .Input("ddrows: double")
    .Attr("nblocks: int >= 1")
    .Output("ddy: double")
    .SetShapeFn([](InferenceContext* c) { return out_shape(c, 0, true); });

template <class Launch>
class DkTabulateFusionOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check_inputs(ctx, &a)) return;
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {a.n, a.width, a.ncomp}, &out));
    Launch::tabulate_fusion(ctx, a, out->flat<double>().data());
  }
};

template <class Launch>
class DkTabulateFusionGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check_inputs(ctx, &a) || !check_same_shape(ctx, 4, {a.n, a.width, a.ncomp})) return;
    Tensor *dx, *drows;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(2).shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, ctx->input(3).shape(), &drows));
    Launch::tabulate_fusion_grad(ctx, a, ctx->input(4).flat<double>().data(),
                                 dx->flat<double>().data(), drows->flat<double>().data());
  }
};

template <class Launch>
class DkTabulateFusionGradGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check_inputs(ctx, &a) || !check_same_shape(ctx, 4, ctx->input(2).shape()) ||
        !check_same_shape(ctx, 5, ctx->input(3).shape())) {
      return;
    }
    Tensor* ddy;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {a.n, a.width, a.ncomp}, &ddy));
    Launch::tabulate_fusion_grad_grad(ctx, a, ctx->input(4).flat<double>().data(),
                                      ctx->input(5).flat<double>().data(), ddy->flat<double>().data());
  }
};

// The blocks ops' kernels: the nblocks attribute, and the inputs checked with it.
class TabulateBlocksKernel : public OpKernel {
 public:
  explicit TabulateBlocksKernel(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("nblocks", &nblocks_));
  }

 protected:
  bool check(OpKernelContext* ctx, deepkit::TabulateArgs* a) {
    return check_inputs(ctx, a, deepkit::kMaxComponents) && check_blocks(ctx, a, nblocks_);
  }
  // (n, width, nblocks * ncomp): the shape of out, dy and ddy
  TensorShape wide_shape(const deepkit::TabulateArgs& a) const {
    return {a.n, a.width, nblocks_ * a.ncomp};
  }

 private:
  int nblocks_;
};

class DkTabulateFusionBlocksOp : public TabulateBlocksKernel {
 public:
  using TabulateBlocksKernel::TabulateBlocksKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check(ctx, &a)) return;
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, wide_shape(a), &out));
    deepkit::CpuLaunch::tabulate_fusion(ctx, a, out->flat<double>().data());
  }
};

class DkTabulateFusionBlocksGradOp : public TabulateBlocksKernel {
 public:
  using TabulateBlocksKernel::TabulateBlocksKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check(ctx, &a) || !check_same_shape(ctx, 5, wide_shape(a))) return;
    Tensor *dx, *drows;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(2).shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, ctx->input(3).shape(), &drows));
    deepkit::CpuLaunch::tabulate_fusion_grad(ctx, a, ctx->input(5).flat<double>().data(),
                                             dx->flat<double>().data(), drows->flat<double>().data());
  }
};

class DkTabulateFusionBlocksGradGradOp : public TabulateBlocksKernel {
 public:
  using TabulateBlocksKernel::TabulateBlocksKernel;
  void Compute(OpKernelContext* ctx) override {
    deepkit::TabulateArgs a;
    if (!check(ctx, &a) || !check_same_shape(ctx, 5, ctx->input(2).shape()) ||
        !check_same_shape(ctx, 6, ctx->input(3).shape())) {
      return;
    }
    Tensor* ddy;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, wide_shape(a), &ddy));
    deepkit::CpuLaunch::tabulate_fusion_grad_grad(ctx, a, ctx->input(5).flat<double>().data(),
                                                  ctx->input(6).flat<double>().data(),
                                                  ddy->flat<double>().data());
  }
};

REGISTER_KERNEL_BUILDER(Name("DkTabulateFusionBlocks").Device(DEVICE_CPU),
                        deepkit::Guarded<DkTabulateFusionBlocksOp>);
REGISTER_KERNEL_BUILDER(Name("DkTabulateFusionBlocksGrad").Device(DEVICE_CPU),
                        deepkit::Guarded<DkTabulateFusionBlocksGradOp>);
REGISTER_KERNEL_BUILDER(Name("DkTabulateFusionBlocksGradGrad").Device(DEVICE_CPU),
                        deepkit::Guarded<DkTabulateFusionBlocksGradGradOp>);

#define DEEPKIT_REGISTER_TABULATE(DEVICE, LAUNCH, ...)                                       \
  REGISTER_KERNEL_BUILDER(Name("DkTabulateFusion").Device(DEVICE) __VA_ARGS__,             \
                          deepkit::Guarded<DkTabulateFusionOp<LAUNCH>>);                   \
  REGISTER_KERNEL_BUILDER(Name("DkTabulateFusionGrad").Device(DEVICE) __VA_ARGS__,         \
                          deepkit::Guarded<DkTabulateFusionGradOp<LAUNCH>>);               \
  REGISTER_KERNEL_BUILDER(Name("DkTabulateFusionGradGrad").Device(DEVICE) __VA_ARGS__,     \
                          deepkit::Guarded<DkTabulateFusionGradGradOp<LAUNCH>>);

DEEPKIT_REGISTER_TABULATE(DEVICE_CPU, deepkit::CpuLaunch)
#ifdef DEEPKIT_CUDA
DEEPKIT_REGISTER_TABULATE(DEVICE_GPU, deepkit::GpuLaunch, .HostMemory("info"))
#endif
