// pair_style deepkit: LAMMPS forces, energies and virials from frozen deepkit models through
// the C API's external-neighbour-list entry (dk_compute_nlist); no TensorFlow header here.
//
//   pair_style deepkit m0.pb [m1.pb ...] [out_freq N] [out_file FILE] [atomic]
//                      [relative E] [relative_v E] [fparam v ...] [aparam v ...]
//   pair_coeff * * O H        LAMMPS types 1, 2 are the model's elements O, H (NULL: a type
//                             left to another style of pair_style hybrid); `* *` alone maps
//                             type t to the model's element t-1
//
// Each step LAMMPS's full neighbour list of the local atoms (ghosts included) goes to model 0
// as a CSR list; the forces it returns on ghosts are summed onto their owners by LAMMPS's
// reverse communication (hence newton_pair on). With several models, every out_freq steps
// all of them are evaluated and rank 0 writes DeePMD-kit's model_devi.out columns (the
// deviations are reduced over all ranks). Units metal and real (energies converted from eV).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "capi/deepkit_c.h"
#include "pair.h"

namespace deepkit_lammps {

struct ModelDeleter {
  void operator()(dk_model* model) const { dk_free(model); }
};
using ModelHandle = std::unique_ptr<dk_model, ModelDeleter>;

// One model evaluation over the compacted atoms (see PairDeepkit::build_input).
struct Evaluation {
  double energy = 0;
  double virial[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<double> force, atom_energy, atom_virial;
};

class PairDeepkit : public LAMMPS_NS::Pair {
 public:
  explicit PairDeepkit(LAMMPS_NS::LAMMPS* lmp);
  ~PairDeepkit() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char** arg) override;
  void coeff(int narg, char** arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  int pack_reverse_comm(int n, int first, double* buf) override;
  void unpack_reverse_comm(int n, int* list, double* buf) override;
  double memory_usage() override;

 private:
  void reset();
  void stop_if_any(const std::string& problem);
  double energy_unit() const;
  void load_models(const std::vector<std::string>& paths);
  void allocate();
  void build_input(int nlocal, int nall);
  const double* gather_coordinates(int nlocal, int nall, std::string* problem);
  std::string evaluate(size_t k, const double* coord, bool atomic_energy, bool atomic_virial,
                       Evaluation* out);
  void write_deviation(const Evaluation& first, const double* coord);
  std::string open_deviation_file();

  // Settings (pair_style).
  std::vector<std::string> paths_;
  std::vector<ModelHandle> models_;
  std::vector<std::string> elements_;  // the models' type map
  double rcut_ = 0;
  int numb_fparam_ = 0, numb_aparam_ = 0;
  std::vector<double> fparam_, aparam_values_;
  int out_freq_ = 100;
  std::string out_file_ = "model_devi.out";
  bool atomic_ = false;
  double relative_f_ = -1, relative_v_ = -1;  // < 0: absolute deviations

  // pair_coeff: LAMMPS type (1..ntypes) -> model type, -1 for NULL.
  std::vector<int> type_to_model_;

  // The model's input, rebuilt when LAMMPS rebuilds its neighbour list: the atoms of mapped
  // types, local first (nloc_) then ghosts, in LAMMPS's order; to_model_ / from_model_
  // translate indices. compact_ is false when every atom is mapped (identity maps).
  bool compact_ = false, input_ready_ = false;
  int nlocal_ = -1, nall_ = -1, nloc_ = 0, nmodel_ = 0;
  std::vector<int> to_model_, from_model_, atype_, offsets_, neighbors_;
  std::vector<double> coord_, aparam_;
  Evaluation driving_, ensemble_;  // model 0's results, another model's (buffers kept)

  // Model deviation: every model's forces on the LAMMPS atoms (atom-major: [i][model][3]),
  // summed onto owners by reverse communication.
  std::vector<double> devi_force_;
  FILE* devi_file_ = nullptr;
  long long last_devi_step_ = -1, skip_step_ = -1;
};

}  // namespace deepkit_lammps
