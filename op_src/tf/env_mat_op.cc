// DkEnvMat: normalised se_e2_a / se_e2_r environment matrix and its derivative
// (op_src/lib/env_mat.h).
#include <string>

#include "tf/kernel_call.h"
#include "tf/launch.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it

namespace {
int components(const std::string& kind) { return kind == "a" ? 4 : 1; }
}  // namespace

REGISTER_OP("DkEnvMat")
    .Input("rij: double")        // (nframes, nloc, nnei, 3)
    .Input("nlist: int32")       // (nframes, nloc, nnei)
    .Input("atype: int32")       // (nframes, natoms >= nloc); the first nloc are the centres
    .Input("avg: double")        // (ntypes, nnei, ncomp)
    .Input("std: double")        // (ntypes, nnei, ncomp)
    .Input("rcut_smth: double")  // scalar
    .Input("rcut: double")       // scalar
    .Attr("kind: {'a', 'r'}")    // a: ncomp = 4 (s, s x/r, s y/r, s z/r); r: ncomp = 1 (s)
    .Output("em: double")        // (nframes, nloc, nnei, ncomp)
    .Output("em_deriv: double")  // (nframes, nloc, nnei, ncomp, 3)
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      std::string kind;
      TF_RETURN_IF_ERROR(c->GetAttr("kind", &kind));
      const int ncomp = components(kind);
      shape_inference::ShapeHandle rij, nlist, atype, avg, stdev, scalar, slots;
      shape_inference::DimensionHandle unused;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &rij));
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(rij, 3), 3, &unused));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 3, &nlist));
      TF_RETURN_IF_ERROR(c->Subshape(rij, 0, 3, &slots));
      TF_RETURN_IF_ERROR(c->Merge(slots, nlist, &slots));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &atype));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 3, &avg));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 3, &stdev));
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(avg, 2), ncomp, &unused));
      TF_RETURN_IF_ERROR(c->Merge(avg, stdev, &avg));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 0, &scalar));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(6), 0, &scalar));
      shape_inference::ShapeHandle em, em_deriv;
      TF_RETURN_IF_ERROR(c->Concatenate(slots, c->MakeShape({ncomp}), &em));
      TF_RETURN_IF_ERROR(c->Concatenate(em, c->MakeShape({3}), &em_deriv));
      c->set_output(0, em);
      c->set_output(1, em_deriv);
      return OkStatus();
    })
    .Doc("Environment matrix (R - avg) / std and d em / d r_ij.");

template <class Launch>
class DkEnvMatOp : public OpKernel {
 public:
  explicit DkEnvMatOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    std::string kind;
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kind", &kind));
    ncomp_ = components(kind);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& rij = ctx->input(0);
    const Tensor& nlist = ctx->input(1);
    const Tensor& atype = ctx->input(2);
    const Tensor& avg = ctx->input(3);
    const Tensor& stdev = ctx->input(4);
    double rcut_smth, rcut;
    if (!deepkit::scalar_input(ctx, 5, &rcut_smth) || !deepkit::scalar_input(ctx, 6, &rcut)) return;
    OP_REQUIRES(ctx, rij.dims() == 4 && rij.dim_size(3) == 3,
                errors::InvalidArgument("DkEnvMat: rij must be (nframes, nloc, nnei, 3), got ",
                                        rij.shape().DebugString()));
    const int64_t nframes = rij.dim_size(0), nloc = rij.dim_size(1), nnei = rij.dim_size(2);
    OP_REQUIRES(ctx, nlist.dims() == 3 && nlist.dim_size(0) == nframes && nlist.dim_size(1) == nloc &&
                         nlist.dim_size(2) == nnei,
                errors::InvalidArgument("DkEnvMat: nlist must be (nframes, nloc, nnei) like rij, got ",
                                        nlist.shape().DebugString()));
    OP_REQUIRES(ctx, atype.dims() == 2 && atype.dim_size(0) == nframes && atype.dim_size(1) >= nloc,
                errors::InvalidArgument("DkEnvMat: atype must be (nframes, natoms >= nloc), got ",
                                        atype.shape().DebugString()));
    OP_REQUIRES(ctx, avg.dims() == 3 && avg.dim_size(1) == nnei && avg.dim_size(2) == ncomp_ &&
                         avg.shape() == stdev.shape(),
                errors::InvalidArgument("DkEnvMat: avg and std must both be (ntypes, ", nnei, ", ",
                                        ncomp_, "), got ", avg.shape().DebugString(), " and ",
                                        stdev.shape().DebugString()));
    const int64_t natoms = atype.dim_size(1);
    Tensor *em, *em_deriv;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {nframes, nloc, nnei, ncomp_}, &em));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {nframes, nloc, nnei, ncomp_, 3}, &em_deriv));
    const deepkit::EnvMatArgs args{
        em->flat<double>().data(), em_deriv->flat<double>().data(), rij.flat<double>().data(),
        nlist.flat<int>().data(), atype.flat<int>().data(), avg.flat<double>().data(),
        stdev.flat<double>().data(), nframes, nloc, natoms, nnei, ncomp_,
        static_cast<int>(avg.dim_size(0)), rcut_smth, rcut};
    Launch::env_mat(ctx, args);
  }

 private:
  int ncomp_;
};

REGISTER_KERNEL_BUILDER(Name("DkEnvMat").Device(DEVICE_CPU), deepkit::Guarded<DkEnvMatOp<deepkit::CpuLaunch>>);
#ifdef DEEPKIT_CUDA
REGISTER_KERNEL_BUILDER(
    Name("DkEnvMat").Device(DEVICE_GPU).HostMemory("rcut_smth").HostMemory("rcut"),
    deepkit::Guarded<DkEnvMatOp<deepkit::GpuLaunch>>);
#endif
