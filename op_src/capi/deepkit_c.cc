// The deepkit C API (deepkit_c.h) over a frozen model's two entry points: coordinates + box
// (names t_coord, t_type, t_box) and the external neighbour list (t_ext_*); node names as
// in deepkit/model/names.py.
#include "capi/deepkit_c.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "capi/session.h"

using deepkit::capi::make_tensor;
using deepkit::capi::Session;
using deepkit::capi::Tensor;
using deepkit::capi::tf;

namespace {

thread_local std::string last_error;

int fail(dk_status code, const std::string& message) {
  last_error = message;
  return code;
}

// Graph nodes of one entry point; oper == nullptr where the model lacks one.
struct Entry {
  TF_Output coord, atype, box, nloc, offsets, neighbors;
  TF_Output energy, force, virial, atom_energy, atom_virial, overflow;
};

// The nodes of one entry point: t_<infix>coord ... o_<infix>energy ... (names.py). Inputs
// only one of them has (box; nloc, offsets, neighbors) are missing in the other.
Entry find_entry(const Session& s, const std::string& infix) {
  auto in = [&](const char* name) { return s.output(("t_" + infix + name).c_str()); };
  auto out = [&](const char* name) { return s.output(("o_" + infix + name).c_str()); };
  Entry e;
  e.coord = in("coord");
  e.atype = in("type");
  e.box = in("box");
  e.nloc = in("nloc");
  e.offsets = in("offsets");
  e.neighbors = in("neighbors");
  e.energy = out("energy");
  e.force = out("force");
  e.virial = out("virial");
  e.atom_energy = out("atom_energy");
  e.atom_virial = out("atom_virial");
  e.overflow = out("table_overflow");
  return e;
}

std::string string_value(const Tensor& t) {
  const auto* s = static_cast<const TF_TString*>(tf().TF_TensorData(t.get()));
  return std::string(tf().TF_StringGetDataPointer(s), tf().TF_StringGetSize(s));
}

// The scalar metadata constant `name` of type `type`: "" and *found = false when the model
// lacks it (frozen by deepkit 0.3.0), an error when it has another type or shape.
std::string optional_scalar(const Session& s, const char* name, TF_DataType type, Tensor* out,
                            bool* found) {
  *found = false;
  const TF_Output node = s.output(name);
  if (node.oper == nullptr) return "";
  std::vector<Tensor> values;
  std::string error;
  if (!s.run({}, {}, {node}, &values, &error)) return std::string(name) + ": " + error;
  if (tf().TF_TensorType(values[0].get()) != type || tf().TF_NumDims(values[0].get()) != 0) {
    return std::string(name) + " is not a scalar of the expected type";
  }
  *out = std::move(values[0]);
  *found = true;
  return "";
}

// "numb_fparam": N in the training input of a model frozen by deepkit 0.3.0 (its JSON).
int json_int(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  return at == std::string::npos ? 0 : std::atoi(json.c_str() + at + key.size() + 3);
}

bool all_finite(const double* values, long n) {
  for (long k = 0; k < n; ++k) {
    if (!std::isfinite(values[k])) return false;
  }
  return true;
}

}  // namespace

struct dk_model {
  std::unique_ptr<Session> session;
  double rcut = 0;
  std::vector<std::string> types;
  std::string type_map, version;
  bool compressed = false;
  int numb_fparam = 0, numb_aparam = 0;
  TF_Output fparam{}, aparam{};
  Entry periodic{}, external{};
  mutable std::atomic<bool> overflow_warned{false};

  int check_types(const int* atype, int n) const;
  int check_params(const double* fparam, const double* aparam, int nframes, int natoms) const;
  int run(const Entry& entry, std::vector<TF_Output> inputs, std::vector<Tensor> values,
          const double* fparam, const double* aparam, int nframes, int nparam_atoms, double* energy,
          double* force, double* virial, double* atom_energy, double* atom_virial) const;
};

extern "C" {

const char* dk_version(void) { return DEEPKIT_VERSION; }

const char* dk_last_error(void) { return last_error.c_str(); }

dk_model* dk_load(const char* path, int intra_threads, int inter_threads) {
  last_error.clear();
  if (path == nullptr) {
    fail(DK_ERR_ARGUMENT, "dk_load: path is NULL");
    return nullptr;
  }
  std::string error;
  if (!deepkit::capi::open_tensorflow(&error)) {
    fail(DK_ERR_RUNTIME, error);
    return nullptr;
  }
  auto model = std::make_unique<dk_model>();
  model->session = Session::open(path, intra_threads, inter_threads, &error);
  if (!model->session) {
    fail(DK_ERR_ARGUMENT, error);
    return nullptr;
  }
  const Session& s = *model->session;
  const char* attrs[] = {"model_attr/type_map", "model_attr/rcut", "model_attr/compressed",
                         "model_attr/version", "model_attr/train_input"};
  std::vector<TF_Output> fetches;
  for (const char* name : attrs) {
    fetches.push_back(s.output(name));
    if (fetches.back().oper == nullptr) {
      fail(DK_ERR_ARGUMENT, std::string(path) + ": not a deepkit model (no " + name + ")");
      return nullptr;
    }
  }
  std::vector<Tensor> values;
  if (!s.run({}, {}, fetches, &values, &error)) {
    fail(DK_ERR_RUNTIME, std::string(path) + ": reading the model's metadata failed: " + error);
    return nullptr;
  }
  model->type_map = string_value(values[0]);
  std::istringstream words(model->type_map);
  for (std::string w; words >> w;) model->types.push_back(w);
  model->rcut = *static_cast<const double*>(tf().TF_TensorData(values[1].get()));
  model->compressed = *static_cast<const bool*>(tf().TF_TensorData(values[2].get()));
  model->version = string_value(values[3]);
  const std::string train_input = string_value(values[4]);
  model->numb_fparam = json_int(train_input, "numb_fparam");
  model->numb_aparam = json_int(train_input, "numb_aparam");
  // Models frozen after deepkit 0.3.0 say what they are and their parameter counts directly.
  Tensor value;
  bool found = false;
  std::string problem = optional_scalar(s, "model_attr/model_type", TF_STRING, &value, &found);
  if (problem.empty() && found && string_value(value) != "ener") {
    problem = "a '" + string_value(value) + "' model, not an energy model, which dk_compute needs";
  }
  int* const counts[] = {&model->numb_fparam, &model->numb_aparam};
  const char* count_names[] = {"model_attr/numb_fparam", "model_attr/numb_aparam"};
  for (int k = 0; k < 2 && problem.empty(); ++k) {
    problem = optional_scalar(s, count_names[k], TF_INT32, &value, &found);
    if (problem.empty() && found) {
      *counts[k] = *static_cast<const int32_t*>(tf().TF_TensorData(value.get()));
      if (*counts[k] < 0) problem = std::string(count_names[k]) + " is negative";
    }
  }
  if (!problem.empty()) {
    fail(DK_ERR_ARGUMENT, std::string(path) + ": " + problem);
    return nullptr;
  }
  model->fparam = s.output("t_fparam");
  model->aparam = s.output("t_aparam");

  model->periodic = find_entry(s, "");
  model->external = find_entry(s, "ext_");
  const Entry& p = model->periodic;
  if (p.coord.oper == nullptr || p.energy.oper == nullptr || p.atom_virial.oper == nullptr) {
    fail(DK_ERR_ARGUMENT, std::string(path) + ": not a deepkit model (no t_coord / o_energy)");
    return nullptr;
  }
  return model.release();
}

void dk_free(dk_model* model) { delete model; }

// Metadata of a NULL model: 0, "" (never a crash).
double dk_rcut(const dk_model* model) { return model ? model->rcut : 0.0; }
int dk_ntypes(const dk_model* model) { return model ? static_cast<int>(model->types.size()) : 0; }
const char* dk_type_map(const dk_model* model) { return model ? model->type_map.c_str() : ""; }
int dk_is_compressed(const dk_model* model) { return model && model->compressed ? 1 : 0; }
const char* dk_model_version(const dk_model* model) { return model ? model->version.c_str() : ""; }
int dk_numb_fparam(const dk_model* model) { return model ? model->numb_fparam : 0; }
int dk_numb_aparam(const dk_model* model) { return model ? model->numb_aparam : 0; }
int dk_has_nlist_path(const dk_model* model) {
  return model && model->external.energy.oper != nullptr ? 1 : 0;
}

int dk_type_index(const dk_model* model, const char* element) {
  for (size_t t = 0; model && element && t < model->types.size(); ++t) {
    if (model->types[t] == element) return static_cast<int>(t);
  }
  return -1;
}

int dk_compute(const dk_model* model, int nframes, int natoms, const double* coord,
               const int* atype, const double* box, const double* fparam,
               const double* aparam, double* energy, double* force, double* virial,
               double* atom_energy, double* atom_virial) {
  last_error.clear();
  if (model == nullptr) return fail(DK_ERR_ARGUMENT, "dk_compute: model is NULL");
  if (nframes <= 0 || natoms <= 0) {
    return fail(DK_ERR_ARGUMENT, "dk_compute: nframes = " + std::to_string(nframes) +
                                     " and natoms = " + std::to_string(natoms) +
                                     " must be positive");
  }
  if (!coord || !atype || !energy || !force || !virial) {
    return fail(DK_ERR_ARGUMENT, "dk_compute: coord, atype, energy, force and virial must not be NULL");
  }
  const long ncoord = 3L * nframes * natoms;
  if (!all_finite(coord, ncoord)) return fail(DK_ERR_ARGUMENT, "dk_compute: coord holds NaN or inf");
  if (box != nullptr && !all_finite(box, 9L * nframes)) {
    return fail(DK_ERR_ARGUMENT, "dk_compute: box holds NaN or inf");
  }
  if (int code = model->check_types(atype, natoms)) return code;
  if (int code = model->check_params(fparam, aparam, nframes, natoms)) return code;
  std::vector<Tensor> values;
  values.push_back(make_tensor(TF_DOUBLE, {nframes, 3L * natoms}, coord));
  values.push_back(make_tensor(TF_INT32, {nframes, natoms}, nullptr));
  auto* types = static_cast<int*>(tf().TF_TensorData(values.back().get()));
  for (int f = 0; f < nframes; ++f) std::memcpy(types + static_cast<long>(f) * natoms, atype, sizeof(int) * natoms);
  values.push_back(make_tensor(TF_DOUBLE, {nframes, 9}, box));
  if (box == nullptr) std::memset(tf().TF_TensorData(values.back().get()), 0, sizeof(double) * 9 * nframes);
  const Entry& p = model->periodic;
  return model->run(p, {p.coord, p.atype, p.box}, std::move(values), fparam, aparam, nframes,
                    natoms, energy, force, virial, atom_energy, atom_virial);
}

int dk_compute_nlist(const dk_model* model, int nall, int nloc, const double* coord,
                     const int* atype, const int* offsets, const int* neighbors,
                     const double* fparam, const double* aparam, double* energy,
                     double* force, double* virial, double* atom_energy, double* atom_virial) {
  last_error.clear();
  if (model == nullptr) return fail(DK_ERR_ARGUMENT, "dk_compute_nlist: model is NULL");
  if (!dk_has_nlist_path(model)) {
    return fail(DK_ERR_MODEL, "dk_compute_nlist: this model (deepkit " + model->version +
                                  ") has no external-neighbour-list path; freeze or compress "
                                  "it again with deepkit >= 0.3");
  }
  if (nloc <= 0 || nall < nloc) {
    return fail(DK_ERR_ARGUMENT, "dk_compute_nlist: need 0 < nloc <= nall, got nloc = " +
                                     std::to_string(nloc) + ", nall = " + std::to_string(nall));
  }
  if (!coord || !atype || !offsets || !energy || !force || !virial) {
    return fail(DK_ERR_ARGUMENT,
                "dk_compute_nlist: coord, atype, offsets, energy, force and virial must not be NULL");
  }
  if (!all_finite(coord, 3L * nall)) return fail(DK_ERR_ARGUMENT, "dk_compute_nlist: coord holds NaN or inf");
  if (int code = model->check_types(atype, nall)) return code;
  if (int code = model->check_params(fparam, aparam, 1, nloc)) return code;
  const int nnz = offsets[nloc];
  if (offsets[0] != 0 || nnz < 0 || (nnz > 0 && neighbors == nullptr)) {
    return fail(DK_ERR_ARGUMENT, "dk_compute_nlist: offsets must start at 0 and end at the "
                                 "number of neighbour indices (neighbors not NULL)");
  }
  std::vector<Tensor> values;
  values.push_back(make_tensor(TF_DOUBLE, {1, 3L * nall}, coord));
  values.push_back(make_tensor(TF_INT32, {1, nall}, atype));
  values.push_back(make_tensor(TF_INT32, {}, &nloc));
  values.push_back(make_tensor(TF_INT32, {nloc + 1}, offsets));
  values.push_back(make_tensor(TF_INT32, {nnz}, neighbors));
  const Entry& e = model->external;
  return model->run(e, {e.coord, e.atype, e.nloc, e.offsets, e.neighbors}, std::move(values),
                    fparam, aparam, 1, nloc, energy, force, virial, atom_energy, atom_virial);
}

}  // extern "C"

int dk_model::check_types(const int* atype, int n) const {
  const int ntypes = static_cast<int>(types.size());
  for (int i = 0; i < n; ++i) {
    if (atype[i] < 0 || atype[i] >= ntypes) {
      return fail(DK_ERR_ARGUMENT, "atype[" + std::to_string(i) + "] = " + std::to_string(atype[i]) +
                                       ", expected 0.." + std::to_string(ntypes - 1) +
                                       " (type map: " + type_map + ")");
    }
  }
  return DK_OK;
}

int dk_model::check_params(const double* fp, const double* ap, int nframes, int natoms) const {
  if (numb_fparam > 0 && fp == nullptr) {
    return fail(DK_ERR_ARGUMENT, "the model takes " + std::to_string(numb_fparam) +
                                     " frame parameters per frame: fparam must not be NULL");
  }
  if (numb_aparam > 0 && ap == nullptr) {
    return fail(DK_ERR_ARGUMENT, "the model takes " + std::to_string(numb_aparam) +
                                     " atomic parameters per atom: aparam must not be NULL");
  }
  if ((fp && !all_finite(fp, static_cast<long>(nframes) * numb_fparam)) ||
      (ap && !all_finite(ap, static_cast<long>(nframes) * natoms * numb_aparam))) {
    return fail(DK_ERR_ARGUMENT, "fparam or aparam holds NaN or inf");
  }
  return DK_OK;
}

int dk_model::run(const Entry& entry, std::vector<TF_Output> inputs, std::vector<Tensor> values,
                  const double* fp, const double* ap, int nframes, int nparam_atoms,
                  double* energy, double* force, double* virial, double* atom_energy,
                  double* atom_virial) const {
  if (numb_fparam > 0) {
    inputs.push_back(fparam);
    values.push_back(make_tensor(TF_DOUBLE, {nframes, numb_fparam}, fp));
  }
  if (numb_aparam > 0) {
    inputs.push_back(aparam);
    values.push_back(make_tensor(TF_DOUBLE, {nframes, static_cast<int64_t>(nparam_atoms) * numb_aparam}, ap));
  }
  std::vector<TF_Output> fetches = {entry.energy, entry.force, entry.virial};
  std::vector<double*> targets = {energy, force, virial};
  if (atom_energy != nullptr) {
    fetches.push_back(entry.atom_energy);
    targets.push_back(atom_energy);
  }
  if (atom_virial != nullptr) {
    fetches.push_back(entry.atom_virial);
    targets.push_back(atom_virial);
  }
  const bool check_overflow = compressed && entry.overflow.oper != nullptr;
  if (check_overflow) fetches.push_back(entry.overflow);
  std::vector<TF_Tensor*> raw;
  for (const Tensor& t : values) raw.push_back(t.get());
  std::vector<Tensor> results;
  std::string error;
  if (!session->run(inputs, raw, fetches, &results, &error)) return fail(DK_ERR_RUNTIME, error);
  for (size_t k = 0; k < targets.size(); ++k) {
    std::memcpy(targets[k], tf().TF_TensorData(results[k].get()), tf().TF_TensorByteSize(results[k].get()));
  }
  if (check_overflow) {
    const auto* counts = static_cast<const int*>(tf().TF_TensorData(results.back().get()));
    long total = 0;
    for (int f = 0; f < nframes; ++f) total += counts[f];
    if (total > 0 && !overflow_warned.exchange(true)) {
      std::fprintf(stderr,
                   "deepkit: warning: %ld environment-matrix inputs lie beyond the compressed "
                   "model's table (atoms closer than its training data's closest pair); the "
                   "table's end value is used there (shown once per model)\n",
                   total);
    }
  }
  return DK_OK;
}
