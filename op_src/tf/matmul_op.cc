// DkMatMul: float64 op(a) op(b) through matmul_avx2 (Eigen contraction built for AVX2/FMA).
#define EIGEN_USE_THREADS
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tf/kernel_call.h"
#include "tf/matmul_avx2.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it

REGISTER_OP("DkMatMul")
    .Input("a: double")  // (m, k), or (k, m) with transpose_a
    .Input("b: double")  // (k, n), or (n, k) with transpose_b
    .Attr("transpose_a: bool = false")
    .Attr("transpose_b: bool = false")
    .Output("product: double")  // (m, n)
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      bool ta, tb;
      TF_RETURN_IF_ERROR(c->GetAttr("transpose_a", &ta));
      TF_RETURN_IF_ERROR(c->GetAttr("transpose_b", &tb));
      shape_inference::ShapeHandle a, b;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &a));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &b));
      shape_inference::DimensionHandle k;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, ta ? 0 : 1), c->Dim(b, tb ? 1 : 0), &k));
      c->set_output(0, c->Matrix(c->Dim(a, ta ? 1 : 0), c->Dim(b, tb ? 0 : 1)));
      return OkStatus();
    })
    .Doc("float64 matrix product, AVX2/FMA build of Eigen's contraction.");

class DkMatMulOp : public OpKernel {
 public:
  explicit DkMatMulOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("transpose_a", &ta_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("transpose_b", &tb_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& a = ctx->input(0);
    const Tensor& b = ctx->input(1);
    OP_REQUIRES(ctx, a.dims() == 2 && b.dims() == 2,
                errors::InvalidArgument("DkMatMul: a and b must be matrices, got ",
                                        a.shape().DebugString(), " and ", b.shape().DebugString()));
    const int64_t m = a.dim_size(ta_ ? 1 : 0), k = a.dim_size(ta_ ? 0 : 1);
    const int64_t n = b.dim_size(tb_ ? 0 : 1);
    OP_REQUIRES(ctx, b.dim_size(tb_ ? 1 : 0) == k,
                errors::InvalidArgument("DkMatMul: inner dimensions differ: ",
                                        a.shape().DebugString(), " and ", b.shape().DebugString()));
    Tensor* c;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {m, n}, &c));
    if (m == 0 || n == 0) return;
    if (k == 0) {
      c->flat<double>().setZero();
      return;
    }
    deepkit::matmul_avx2(ctx->eigen_device<Eigen::ThreadPoolDevice>(), ta_, tb_,
                         a.flat<double>().data(), a.dim_size(0), a.dim_size(1),
                         b.flat<double>().data(), b.dim_size(0), b.dim_size(1),
                         c->flat<double>().data());
  }

 private:
  bool ta_, tb_;
};

REGISTER_KERNEL_BUILDER(Name("DkMatMul").Device(DEVICE_CPU), deepkit::Guarded<DkMatMulOp>);

REGISTER_OP("DkBatchMatMul")
    .Input("a: double")  // (batch, m, k), or (batch, k, m) with transpose_a
    .Input("b: double")  // (batch, k, n), or (batch, n, k) with transpose_b
    .Attr("transpose_a: bool = false")
    .Attr("transpose_b: bool = false")
    .Output("output: double")  // (batch, m, n)
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      bool ta, tb;
      TF_RETURN_IF_ERROR(c->GetAttr("transpose_a", &ta));
      TF_RETURN_IF_ERROR(c->GetAttr("transpose_b", &tb));
      shape_inference::ShapeHandle a, b;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &a));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &b));
      shape_inference::DimensionHandle batch, k;
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, 0), c->Dim(b, 0), &batch));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(a, ta ? 1 : 2), c->Dim(b, tb ? 2 : 1), &k));
      c->set_output(0, c->MakeShape({batch, c->Dim(a, ta ? 2 : 1), c->Dim(b, tb ? 1 : 2)}));
      return OkStatus();
    })
    .Doc("Batched float64 matrix product (same batch size on both sides, no broadcasting).");

class DkBatchMatMulOp : public OpKernel {
 public:
  explicit DkBatchMatMulOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("transpose_a", &ta_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("transpose_b", &tb_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& a = ctx->input(0);
    const Tensor& b = ctx->input(1);
    OP_REQUIRES(ctx, a.dims() == 3 && b.dims() == 3 && a.dim_size(0) == b.dim_size(0),
                errors::InvalidArgument("DkBatchMatMul: a and b must be (batch, rows, cols) with "
                                        "the same batch, got ", a.shape().DebugString(), " and ",
                                        b.shape().DebugString()));
    const int64_t batch = a.dim_size(0);
    const int64_t m = a.dim_size(ta_ ? 2 : 1), k = a.dim_size(ta_ ? 1 : 2);
    const int64_t n = b.dim_size(tb_ ? 1 : 2);
    OP_REQUIRES(ctx, b.dim_size(tb_ ? 2 : 1) == k,
                errors::InvalidArgument("DkBatchMatMul: inner dimensions differ: ",
                                        a.shape().DebugString(), " and ", b.shape().DebugString()));
    Tensor* c;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {batch, m, n}, &c));
    if (batch == 0 || m == 0 || n == 0) return;
    if (k == 0) {
      c->flat<double>().setZero();
      return;
    }
    deepkit::batch_matmul_avx2(ctx->eigen_device<Eigen::ThreadPoolDevice>(), ta_, tb_, batch,
                               a.flat<double>().data(), a.dim_size(1), a.dim_size(2),
                               b.flat<double>().data(), b.dim_size(1), b.dim_size(2),
                               c->flat<double>().data());
  }

 private:
  bool ta_, tb_;
};

REGISTER_KERNEL_BUILDER(Name("DkBatchMatMul").Device(DEVICE_CPU),
                        deepkit::Guarded<DkBatchMatMulOp>);
