// DkProdForce, DkProdVirial and their gradients (op_src/lib/prod_force_virial.h).
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

// Shapes shared by every product op: (nframes, nloc, nnei, ncomp) slots.
struct Slots {
  int64_t nframes, nloc, nnei, ncomp;
  int64_t per_frame() const { return nloc * nnei; }
};

// Checks em_deriv (nf, nloc, nnei, ncomp, 3), nlist (nf, nloc, nnei) and, when given, a
// (nf, nloc, nnei, ncomp) tensor and rij (nf, nloc, nnei, 3).
bool check_slots(OpKernelContext* ctx, const Tensor& em_deriv, const Tensor& nlist,
                 const Tensor* per_comp, const Tensor* rij, Slots* s) {
  const std::string op = ctx->op_kernel().type_string();
  if (em_deriv.dims() != 5 || em_deriv.dim_size(4) != 3) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": em_deriv must be (nframes, nloc, nnei, ncomp, 3), got ",
                                            em_deriv.shape().DebugString()));
    return false;
  }
  *s = {em_deriv.dim_size(0), em_deriv.dim_size(1), em_deriv.dim_size(2), em_deriv.dim_size(3)};
  if (s->ncomp != 1 && s->ncomp != 4) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": ncomp (em_deriv axis 3) must be 1 or 4"));
    return false;
  }
  const TensorShape slots({s->nframes, s->nloc, s->nnei});
  if (nlist.shape() != slots) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": nlist must be ", slots.DebugString(), ", got ",
                                            nlist.shape().DebugString()));
    return false;
  }
  const TensorShape comp({s->nframes, s->nloc, s->nnei, s->ncomp});
  if (per_comp != nullptr && per_comp->shape() != comp) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": net_deriv must be ", comp.DebugString(), ", got ",
                                            per_comp->shape().DebugString()));
    return false;
  }
  const TensorShape vec({s->nframes, s->nloc, s->nnei, 3});
  if (rij != nullptr && rij->shape() != vec) {
    ctx->CtxFailure(errors::InvalidArgument(op, ": rij must be ", vec.DebugString(), ", got ",
                                            rij->shape().DebugString()));
    return false;
  }
  return true;
}

bool read_nall(OpKernelContext* ctx, int index, int64_t nloc, int64_t* nall) {
  const Tensor& t = ctx->input(index);
  if (!TensorShapeUtils::IsScalar(t.shape()) || t.scalar<int>()() < nloc) {
    ctx->CtxFailure(errors::InvalidArgument(ctx->op_kernel().type_string(),
                                            ": nall must be a scalar >= nloc = ", nloc));
    return false;
  }
  *nall = t.scalar<int>()();
  return true;
}

deepkit::ProdArgs prod_args(const Slots& s, int64_t nall, const Tensor* net_deriv,
                            const Tensor& em_deriv, const Tensor* rij, const Tensor& nlist) {
  return {net_deriv ? net_deriv->flat<double>().data() : nullptr, em_deriv.flat<double>().data(),
          rij ? rij->flat<double>().data() : nullptr,
          nlist.flat<int>().data(),
          s.nframes,
          s.nloc,
          nall,
          s.nnei,
          static_cast<int>(s.ncomp)};
}

// Net-derivative-shaped output (nframes, nloc, nnei, ncomp) from em_deriv's first four axes.
Status grad_net_shape(InferenceContext* c, int em_deriv_index) {
  ShapeHandle em_deriv, out;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(em_deriv_index), 5, &em_deriv));
  TF_RETURN_IF_ERROR(c->Subshape(em_deriv, 0, 4, &out));
  c->set_output(0, out);
  return OkStatus();
}

}  // namespace

REGISTER_OP("DkProdForce")
    .Input("net_deriv: double")  // (nframes, nloc, nnei, ncomp)  dE/d em
    .Input("em_deriv: double")   // (nframes, nloc, nnei, ncomp, 3)
    .Input("nlist: int32")       // (nframes, nloc, nnei)
    .Input("nall: int32")        // scalar, atoms including ghosts (nloc without them)
    .Output("force: double")     // (nframes, nall, 3)
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle nd;
      DimensionHandle nall;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &nd));
      TF_RETURN_IF_ERROR(c->MakeDimForScalarInput(3, &nall));
      c->set_output(0, c->MakeShape({c->Dim(nd, 0), nall, 3}));
      return OkStatus();
    })
    .Doc("Force F = -dE/dr from dE/d em and d em / d r_ij.");

REGISTER_OP("DkProdVirial")
    .Input("net_deriv: double")    // (nframes, nloc, nnei, ncomp)
    .Input("em_deriv: double")     // (nframes, nloc, nnei, ncomp, 3)
    .Input("rij: double")          // (nframes, nloc, nnei, 3)
    .Input("nlist: int32")         // (nframes, nloc, nnei)
    .Input("nall: int32")          // scalar
    .Output("virial: double")      // (nframes, 9)
    .Output("atom_virial: double") // (nframes, nall, 9), assigned to the neighbour atom j
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle nd;
      DimensionHandle nall;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &nd));
      TF_RETURN_IF_ERROR(c->MakeDimForScalarInput(4, &nall));
      c->set_output(0, c->MakeShape({c->Dim(nd, 0), 9}));
      c->set_output(1, c->MakeShape({c->Dim(nd, 0), nall, 9}));
      return OkStatus();
    })
    .Doc("Virial W = -sum_ij (dE/dr_ij) (x) r_ij and its per-atom split.");

REGISTER_OP("DkProdForceGrad")
    .Input("grad: double")       // (nframes, nall, 3)  dL/dforce
    .Input("em_deriv: double")   // (nframes, nloc, nnei, ncomp, 3)
    .Input("nlist: int32")       // (nframes, nloc, nnei)
    .Output("grad_net: double")  // (nframes, nloc, nnei, ncomp)
    .SetShapeFn([](InferenceContext* c) { return grad_net_shape(c, 1); });

REGISTER_OP("DkProdVirialGrad")
    .Input("grad_virial: double")       // (nframes, 9)
    .Input("grad_atom_virial: double")  // (nframes, nall, 9)
    .Input("em_deriv: double")          // (nframes, nloc, nnei, ncomp, 3)
    .Input("rij: double")               // (nframes, nloc, nnei, 3)
    .Input("nlist: int32")              // (nframes, nloc, nnei)
    .Output("grad_net: double")         // (nframes, nloc, nnei, ncomp)
    .SetShapeFn([](InferenceContext* c) { return grad_net_shape(c, 2); });

template <class Launch>
class DkProdForceOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& net_deriv = ctx->input(0);
    const Tensor& em_deriv = ctx->input(1);
    const Tensor& nlist = ctx->input(2);
    Slots s;
    int64_t nall;
    if (!check_slots(ctx, em_deriv, nlist, &net_deriv, nullptr, &s)) return;
    if (!read_nall(ctx, 3, s.nloc, &nall)) return;
    Tensor* force;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {s.nframes, nall, 3}, &force));
    Launch::prod_force(ctx, prod_args(s, nall, &net_deriv, em_deriv, nullptr, nlist),
                       force->flat<double>().data());
  }
};

template <class Launch>
class DkProdVirialOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& net_deriv = ctx->input(0);
    const Tensor& em_deriv = ctx->input(1);
    const Tensor& rij = ctx->input(2);
    const Tensor& nlist = ctx->input(3);
    Slots s;
    int64_t nall;
    if (!check_slots(ctx, em_deriv, nlist, &net_deriv, &rij, &s)) return;
    if (!read_nall(ctx, 4, s.nloc, &nall)) return;
    Tensor *virial, *atom_virial;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {s.nframes, 9}, &virial));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {s.nframes, nall, 9}, &atom_virial));
    Launch::prod_virial(ctx, prod_args(s, nall, &net_deriv, em_deriv, &rij, nlist),
                        virial->flat<double>().data(), atom_virial->flat<double>().data());
  }
};

template <class Launch>
class DkProdForceGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& grad = ctx->input(0);
    const Tensor& em_deriv = ctx->input(1);
    const Tensor& nlist = ctx->input(2);
    Slots s;
    if (!check_slots(ctx, em_deriv, nlist, nullptr, nullptr, &s)) return;
    OP_REQUIRES(ctx, grad.dims() == 3 && grad.dim_size(0) == s.nframes && grad.dim_size(2) == 3,
                errors::InvalidArgument("DkProdForceGrad: grad must be (nframes, nall, 3), got ",
                                        grad.shape().DebugString()));
    const int64_t nall = grad.dim_size(1);
    Tensor* grad_net;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {s.nframes, s.nloc, s.nnei, s.ncomp}, &grad_net));
    Launch::prod_force_grad(ctx, prod_args(s, nall, nullptr, em_deriv, nullptr, nlist),
                            grad.flat<double>().data(), grad_net->flat<double>().data());
  }
};

template <class Launch>
class DkProdVirialGradOp : public OpKernel {
 public:
  using OpKernel::OpKernel;
  void Compute(OpKernelContext* ctx) override {
    const Tensor& grad_virial = ctx->input(0);
    const Tensor& grad_atom_virial = ctx->input(1);
    const Tensor& em_deriv = ctx->input(2);
    const Tensor& rij = ctx->input(3);
    const Tensor& nlist = ctx->input(4);
    Slots s;
    if (!check_slots(ctx, em_deriv, nlist, nullptr, &rij, &s)) return;
    OP_REQUIRES(ctx, grad_virial.shape() == TensorShape({s.nframes, 9}),
                errors::InvalidArgument("DkProdVirialGrad: grad_virial must be (nframes, 9), got ",
                                        grad_virial.shape().DebugString()));
    OP_REQUIRES(ctx, grad_atom_virial.dims() == 3 && grad_atom_virial.dim_size(0) == s.nframes &&
                         grad_atom_virial.dim_size(2) == 9,
                errors::InvalidArgument("DkProdVirialGrad: grad_atom_virial must be (nframes, nall, 9), got ",
                                        grad_atom_virial.shape().DebugString()));
    const int64_t nall = grad_atom_virial.dim_size(1);
    Tensor* grad_net;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {s.nframes, s.nloc, s.nnei, s.ncomp}, &grad_net));
    Launch::prod_virial_grad(ctx, prod_args(s, nall, nullptr, em_deriv, &rij, nlist),
                             grad_virial.flat<double>().data(),
                             grad_atom_virial.flat<double>().data(), grad_net->flat<double>().data());
  }
};

#define DEEPKIT_REGISTER_PRODUCTS(DEVICE, LAUNCH, ...)                                      \
  REGISTER_KERNEL_BUILDER(Name("DkProdForce").Device(DEVICE) __VA_ARGS__,                 \
                          deepkit::Guarded<DkProdForceOp<LAUNCH>>);                       \
  REGISTER_KERNEL_BUILDER(Name("DkProdVirial").Device(DEVICE) __VA_ARGS__,                \
                          deepkit::Guarded<DkProdVirialOp<LAUNCH>>);                      \
  REGISTER_KERNEL_BUILDER(Name("DkProdForceGrad").Device(DEVICE),                         \
                          deepkit::Guarded<DkProdForceGradOp<LAUNCH>>);                   \
  REGISTER_KERNEL_BUILDER(Name("DkProdVirialGrad").Device(DEVICE),                        \
                          deepkit::Guarded<DkProdVirialGradOp<LAUNCH>>);

DEEPKIT_REGISTER_PRODUCTS(DEVICE_CPU, deepkit::CpuLaunch)
#ifdef DEEPKIT_CUDA
DEEPKIT_REGISTER_PRODUCTS(DEVICE_GPU, deepkit::GpuLaunch, .HostMemory("nall"))
#endif
