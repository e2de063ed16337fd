// DkExternalNeighborList: neighbour rows from a caller's list with ghost atoms
// (op_src/lib/external_list.h). CPU only: MD engines hand the list over from host memory,
// and the placer puts this op on the CPU in GPU graphs too.
#include <vector>

#include "lib/external_list.h"
#include "tf/kernel_call.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it

REGISTER_OP("DkExternalNeighborList")
    .Input("coord: double")      // (nframes, nall, 3) Angstrom: local atoms, then ghosts
    .Input("atype: int32")       // (nframes, nall)
    .Input("nloc: int32")        // scalar: the first nloc atoms are the centres
    .Input("offsets: int32")     // (nloc + 1) CSR offsets into neighbors, shared by the frames
    .Input("neighbors: int32")   // (nnz) candidate indices in [0, nall)
    .Input("rcut: double")       // scalar
    .Attr("sel: list(int) >= 1")
    .Attr("mixed_types: bool = false")  // as DkNeighborList's: one block for all types
    .Output("nlist: int32")      // (nframes, nloc, nnei), -1 in empty slots
    .Output("rij: double")       // (nframes, nloc, nnei, 3)
    .Output("max_count: int32")  // (nframes, len(sel))
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      std::vector<int> sel;
      bool mixed_types;
      TF_RETURN_IF_ERROR(c->GetAttr("sel", &sel));
      TF_RETURN_IF_ERROR(c->GetAttr("mixed_types", &mixed_types));
      TF_RETURN_IF_ERROR(
          deepkit::check_mixed_sel("DkExternalNeighborList", mixed_types, sel.size()));
      int nnei = 0;
      for (int s : sel) nnei += s;
      shape_inference::ShapeHandle coord, atype, scalar, vec;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &coord));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &atype));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 0, &scalar));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 1, &vec));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 1, &vec));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 0, &scalar));
      shape_inference::DimensionHandle nframes, nloc = c->UnknownDim();
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(coord, 0), c->Dim(atype, 0), &nframes));
      if (c->ValueKnown(c->Dim(c->input(3), 0))) {
        nloc = c->MakeDim(c->Value(c->Dim(c->input(3), 0)) - 1);
      }
      c->set_output(0, c->MakeShape({nframes, nloc, nnei}));
      c->set_output(1, c->MakeShape({nframes, nloc, nnei, 3}));
      c->set_output(2, c->MakeShape({nframes, static_cast<int64_t>(sel.size())}));
      return OkStatus();
    })
    .Doc("Neighbour rows of the first nloc atoms from a caller's CSR list.");

class DkExternalNeighborListOp : public OpKernel {
 public:
  explicit DkExternalNeighborListOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    deepkit::read_sel(ctx, &sel_, &nnei_, &mixed_types_);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& coord = ctx->input(0);
    const Tensor& atype = ctx->input(1);
    const Tensor& nloc_t = ctx->input(2);
    const Tensor& offsets = ctx->input(3);
    const Tensor& neighbors = ctx->input(4);
    double rcut;
    if (!deepkit::scalar_input(ctx, 5, &rcut)) return;
    OP_REQUIRES(ctx, coord.dims() == 3 && coord.dim_size(2) == 3,
                errors::InvalidArgument("DkExternalNeighborList: coord must be (nframes, nall, 3), got ",
                                        coord.shape().DebugString()));
    const int64_t nframes = coord.dim_size(0), nall = coord.dim_size(1);
    OP_REQUIRES(ctx, atype.dims() == 2 && atype.dim_size(0) == nframes && atype.dim_size(1) == nall,
                errors::InvalidArgument("DkExternalNeighborList: atype must be (nframes, nall) = (",
                                        nframes, ", ", nall, "), got ", atype.shape().DebugString()));
    OP_REQUIRES(ctx, TensorShapeUtils::IsScalar(nloc_t.shape()),
                errors::InvalidArgument("DkExternalNeighborList: nloc must be a scalar"));
    const int64_t nloc = nloc_t.scalar<int>()();
    OP_REQUIRES(ctx, nloc >= 0 && nloc <= nall,
                errors::InvalidArgument("DkExternalNeighborList: nloc = ", nloc,
                                        " must lie in [0, nall = ", nall, "]"));
    OP_REQUIRES(ctx, offsets.dims() == 1 && offsets.dim_size(0) == nloc + 1,
                errors::InvalidArgument("DkExternalNeighborList: offsets must be (nloc + 1) = (",
                                        nloc + 1, "), got ", offsets.shape().DebugString()));
    OP_REQUIRES(ctx, neighbors.dims() == 1,
                errors::InvalidArgument("DkExternalNeighborList: neighbors must be a vector, got ",
                                        neighbors.shape().DebugString()));
    Tensor *nlist, *rij, *max_count;
    const int ntypes = static_cast<int>(sel_.size());
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {nframes, nloc, nnei_}, &nlist));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {nframes, nloc, nnei_, 3}, &rij));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, {nframes, ntypes}, &max_count));
    for (int64_t f = 0; f < nframes; ++f) {
      const bool ok = deepkit::call_kernel(ctx, f, [&] {
        deepkit::external_neighbor_list(
            nlist->flat<int>().data() + f * nloc * nnei_,
            rij->flat<double>().data() + f * nloc * nnei_ * 3,
            max_count->flat<int>().data() + f * ntypes, coord.flat<double>().data() + f * nall * 3,
            atype.flat<int>().data() + f * nall, static_cast<int>(nall), static_cast<int>(nloc),
            offsets.flat<int>().data(), neighbors.flat<int>().data(), neighbors.dim_size(0),
            ntypes, sel_.data(), rcut, mixed_types_);
      });
      if (!ok) return;
    }
  }

 private:
  std::vector<int> sel_;
  int64_t nnei_ = 0;
  bool mixed_types_ = false;
};

REGISTER_KERNEL_BUILDER(Name("DkExternalNeighborList").Device(DEVICE_CPU),
                        deepkit::Guarded<DkExternalNeighborListOp>);
