// DkNeighborList: neighbour list of every frame, type-blocked or with mixed_types one block
// for all types (op_src/lib/neighbor_list.h).
#include <vector>

#include "tf/kernel_call.h"
#include "tf/launch.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: the op registration macros expect it

REGISTER_OP("DkNeighborList")
    .Input("coord: double")  // (nframes, natoms, 3) Angstrom
    .Input("atype: int32")   // (nframes, natoms)
    .Input("box: double")    // (nframes, 9) cell vectors as rows; an all-zero row: non-periodic
    .Input("rcut: double")   // scalar
    .Attr("sel: list(int) >= 1")
    // false: slots [sum(sel[:t]), sum(sel[:t+1])) hold type-t neighbours; true: sel has one
    // entry and its slots hold the nearest neighbours of any type (se_atten)
    .Attr("mixed_types: bool = false")
    .Output("nlist: int32")      // (nframes, natoms, nnei), -1 in empty slots
    .Output("rij: double")       // (nframes, natoms, nnei, 3)
    .Output("max_count: int32")  // (nframes, len(sel)) largest neighbour count per block
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      std::vector<int> sel;
      bool mixed_types;
      TF_RETURN_IF_ERROR(c->GetAttr("sel", &sel));
      TF_RETURN_IF_ERROR(c->GetAttr("mixed_types", &mixed_types));
      TF_RETURN_IF_ERROR(deepkit::check_mixed_sel("DkNeighborList", mixed_types, sel.size()));
      int nnei = 0;
      for (int s : sel) nnei += s;
      shape_inference::ShapeHandle coord, atype, box, rcut;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 3, &coord));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &atype));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 2, &box));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 0, &rcut));
      shape_inference::DimensionHandle unused, nframes, natoms;
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(coord, 2), 3, &unused));
      TF_RETURN_IF_ERROR(c->WithValue(c->Dim(box, 1), 9, &unused));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(coord, 0), c->Dim(atype, 0), &nframes));
      TF_RETURN_IF_ERROR(c->Merge(nframes, c->Dim(box, 0), &nframes));
      TF_RETURN_IF_ERROR(c->Merge(c->Dim(coord, 1), c->Dim(atype, 1), &natoms));
      c->set_output(0, c->MakeShape({nframes, natoms, nnei}));
      c->set_output(1, c->MakeShape({nframes, natoms, nnei, 3}));
      c->set_output(2, c->MakeShape({nframes, static_cast<int64_t>(sel.size())}));
      return OkStatus();
    })
    .Doc("Cell-list neighbour list; periodic images within rcut included.");

template <class Launch>
class DkNeighborListOp : public OpKernel {
 public:
  explicit DkNeighborListOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    deepkit::read_sel(ctx, &sel_, &nnei_, &mixed_types_);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& coord = ctx->input(0);
    const Tensor& atype = ctx->input(1);
    const Tensor& box = ctx->input(2);
    double rcut;
    if (!deepkit::scalar_input(ctx, 3, &rcut)) return;
    OP_REQUIRES(ctx, coord.dims() == 3 && coord.dim_size(2) == 3,
                errors::InvalidArgument("DkNeighborList: coord must be (nframes, natoms, 3), got ",
                                        coord.shape().DebugString()));
    const int64_t nframes = coord.dim_size(0), natoms = coord.dim_size(1);
    OP_REQUIRES(ctx, atype.dims() == 2 && atype.dim_size(0) == nframes && atype.dim_size(1) == natoms,
                errors::InvalidArgument("DkNeighborList: atype must be (nframes, natoms) = (",
                                        nframes, ", ", natoms, "), got ", atype.shape().DebugString()));
    OP_REQUIRES(ctx, box.dims() == 2 && box.dim_size(0) == nframes && box.dim_size(1) == 9,
                errors::InvalidArgument("DkNeighborList: box must be (nframes, 9), got ",
                                        box.shape().DebugString()));
    Tensor *nlist, *rij, *max_count;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, {nframes, natoms, nnei_}, &nlist));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, {nframes, natoms, nnei_, 3}, &rij));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, {nframes, static_cast<int64_t>(sel_.size())}, &max_count));
    const deepkit::NeighborListArgs args{
        nlist->flat<int>().data(), rij->flat<double>().data(), max_count->flat<int>().data(),
        coord.flat<double>().data(), atype.flat<int>().data(), box.flat<double>().data(),
        nframes, natoms, static_cast<int>(sel_.size()), static_cast<int>(nnei_), sel_.data(), rcut,
        mixed_types_};
    Launch::neighbor_list(ctx, args);
  }

 private:
  std::vector<int> sel_;
  int64_t nnei_ = 0;
  bool mixed_types_ = false;
};

REGISTER_KERNEL_BUILDER(Name("DkNeighborList").Device(DEVICE_CPU),
                        deepkit::Guarded<DkNeighborListOp<deepkit::CpuLaunch>>);
#ifdef DEEPKIT_CUDA
REGISTER_KERNEL_BUILDER(Name("DkNeighborList").Device(DEVICE_GPU).HostMemory("rcut"),
                        deepkit::Guarded<DkNeighborListOp<deepkit::GpuLaunch>>);
#endif
