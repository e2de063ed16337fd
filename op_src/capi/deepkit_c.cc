// The deepkit C API (deepkit_c.h) over a frozen model's two entry points: coordinates + box
// (names t_coord, t_type, t_box) and the external neighbour list (t_ext_*); node names as
// in deepkit/model/names.py.
#include "capi/deepkit_c.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
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
// Set instead of last_error when even the message could not be stored (out of memory).
thread_local const char* fixed_error = nullptr;

void clear_error() noexcept {
  last_error.clear();
  fixed_error = nullptr;
}

int fail(dk_status code, const std::string& message) {
  last_error = message;
  fixed_error = nullptr;
  return code;
}

void fail_noexcept(const char* function, const char* what) noexcept {
  try {
    fail(DK_ERR_RUNTIME, std::string(function) + ": " + what);
  } catch (...) {
    last_error.clear();
    fixed_error = "deepkit: out of memory";
  }
}

// Runs the body of a C API function: no C++ exception may leave the library (a C caller
// cannot catch it and the process would abort). A failed allocation, e.g. for a huge model
// file or input, and anything unforeseen become DK_ERR_RUNTIME (NULL from dk_load) with a
// message.
template <typename R, typename Body>
R guarded(const char* function, R on_error, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    fail_noexcept(function, "out of memory");
  } catch (const std::exception& e) {
    fail_noexcept(function, e.what());
  } catch (...) {
    fail_noexcept(function, "unknown C++ exception");
  }
  return on_error;
}

// Status of a failed TensorFlow run: an op that refused its input (InvalidArgument) is the
// caller's bad input, everything else (out of memory, ...) a run-time failure.
int run_failure(TF_Code code, const std::string& message) {
  return fail(code == TF_INVALID_ARGUMENT ? DK_ERR_ARGUMENT : DK_ERR_RUNTIME, message);
}

// Bounds of a sane model's metadata: a crafted one must not cause huge allocations.
constexpr int kMaxTypes = 1024;
constexpr int kMaxParams = 1 << 16;        // numb_fparam, numb_aparam
constexpr int64_t kMaxNeighbors = 1 << 20;  // sum(sel), as the ops' sel attr (kernel_call.h)

const char* type_name(TF_DataType type) {
  switch (type) {
    case TF_DOUBLE: return "float64";
    case TF_FLOAT: return "float32";
    case TF_INT32: return "int32";
    case TF_INT64: return "int64";
    case TF_BOOL: return "bool";
    case TF_STRING: return "string";
    default: return "another type";
  }
}

// "" when t is a tensor of `type` and rank `rank`, else what it is instead.
std::string check_tensor(const Tensor& t, const char* name, TF_DataType type, int rank) {
  const TF_DataType actual = tf().TF_TensorType(t.get());
  const int dims = tf().TF_NumDims(t.get());
  if (actual == type && dims == rank) return "";
  return std::string(name) + ": expected type " + type_name(type) + " and rank " +
         std::to_string(rank) + ", got " + type_name(actual) + " and rank " + std::to_string(dims);
}

// Graph nodes of one entry point; oper == nullptr where the model lacks one.
struct Entry {
  TF_Output coord, atype, box, nloc, offsets, neighbors;
  TF_Output energy, force, virial, atom_energy, atom_virial, overflow;
  // Tensor models (dipole, polar): the global and atomic tensors, and the global tensor's
  // component-wise force and virial.
  TF_Output tensor, atom_tensor, tensor_force, tensor_virial;
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
  e.tensor = out("tensor");
  e.atom_tensor = out("atom_tensor");
  e.tensor_force = out("tensor_force");
  e.tensor_virial = out("tensor_virial");
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
  const std::string problem = check_tensor(values[0], name, type, 0);
  if (!problem.empty()) return problem;
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
  std::string model_type = "ener";
  int tensor_size = 0;  // 3 (dipole) or 9 (polar) for tensor models, 0 for energy models
  TF_Output fparam{}, aparam{};
  Entry periodic{}, external{};
  mutable std::atomic<bool> overflow_warned{false};

  std::string read_metadata();
  std::string check_sel() const;
  int check_types(const int* atype, int n) const;
  int check_params(const double* fparam, const double* aparam, int nframes, int natoms) const;
  // nloc: atoms with energies and parameters; nall: atoms with forces (natoms twice for
  // dk_compute).
  int run(const Entry& entry, std::vector<TF_Output> inputs, std::vector<Tensor> values,
          const double* fparam, const double* aparam, int nframes, int nloc, int nall,
          double* energy, double* force, double* virial, double* atom_energy,
          double* atom_virial) const;
};

extern "C" {

const char* dk_version(void) { return DEEPKIT_VERSION; }

const char* dk_last_error(void) { return fixed_error != nullptr ? fixed_error : last_error.c_str(); }

dk_model* dk_load(const char* path, int intra_threads, int inter_threads) {
  clear_error();
  return guarded("dk_load", static_cast<dk_model*>(nullptr), [&]() -> dk_model* {
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
    const std::string problem = model->read_metadata();
    if (!problem.empty()) {
      fail(DK_ERR_ARGUMENT, std::string(path) + ": " + problem);
      return nullptr;
    }
    return model.release();
  });
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
int dk_tensor_size(const dk_model* model) { return model ? model->tensor_size : 0; }

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
  clear_error();
  return guarded("dk_compute", static_cast<int>(DK_ERR_RUNTIME), [&]() -> int {
    if (model == nullptr) return fail(DK_ERR_ARGUMENT, "dk_compute: model is NULL");
    if (model->tensor_size > 0) {
      return fail(DK_ERR_MODEL, "dk_compute: a '" + model->model_type +
                                    "' model has no energy; use dk_compute_tensor");
    }
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
                      natoms, natoms, energy, force, virial, atom_energy, atom_virial);
  });
}

int dk_compute_nlist(const dk_model* model, int nall, int nloc, const double* coord,
                     const int* atype, const int* offsets, const int* neighbors,
                     const double* fparam, const double* aparam, double* energy,
                     double* force, double* virial, double* atom_energy, double* atom_virial) {
  clear_error();
  return guarded("dk_compute_nlist", static_cast<int>(DK_ERR_RUNTIME), [&]() -> int {
    if (model == nullptr) return fail(DK_ERR_ARGUMENT, "dk_compute_nlist: model is NULL");
    if (model->tensor_size > 0) {
      return fail(DK_ERR_MODEL, "dk_compute_nlist: a '" + model->model_type +
                                    "' model has no energy; use dk_compute_tensor");
    }
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
                      fparam, aparam, 1, nloc, nall, energy, force, virial, atom_energy,
                      atom_virial);
  });
}

int dk_compute_tensor(const dk_model* model, int nframes, int natoms, const double* coord,
                      const int* atype, const double* box, double* tensor, double* atom_tensor,
                      double* tensor_force, double* tensor_virial) {
  clear_error();
  return guarded("dk_compute_tensor", static_cast<int>(DK_ERR_RUNTIME), [&]() -> int {
    if (model == nullptr) return fail(DK_ERR_ARGUMENT, "dk_compute_tensor: model is NULL");
    if (model->tensor_size == 0) {
      return fail(DK_ERR_MODEL, "dk_compute_tensor: an energy model has no tensor; use dk_compute");
    }
    if (nframes <= 0 || natoms <= 0) {
      return fail(DK_ERR_ARGUMENT, "dk_compute_tensor: nframes = " + std::to_string(nframes) +
                                       " and natoms = " + std::to_string(natoms) +
                                       " must be positive");
    }
    if (!coord || !atype || !tensor) {
      return fail(DK_ERR_ARGUMENT, "dk_compute_tensor: coord, atype and tensor must not be NULL");
    }
    if (!all_finite(coord, 3L * nframes * natoms)) {
      return fail(DK_ERR_ARGUMENT, "dk_compute_tensor: coord holds NaN or inf");
    }
    if (box != nullptr && !all_finite(box, 9L * nframes)) {
      return fail(DK_ERR_ARGUMENT, "dk_compute_tensor: box holds NaN or inf");
    }
    if (int code = model->check_types(atype, natoms)) return code;
    std::vector<Tensor> values;
    values.push_back(make_tensor(TF_DOUBLE, {nframes, 3L * natoms}, coord));
    values.push_back(make_tensor(TF_INT32, {nframes, natoms}, nullptr));
    auto* types = static_cast<int*>(tf().TF_TensorData(values.back().get()));
    for (int f = 0; f < nframes; ++f) std::memcpy(types + static_cast<long>(f) * natoms, atype, sizeof(int) * natoms);
    values.push_back(make_tensor(TF_DOUBLE, {nframes, 9}, box));
    if (box == nullptr) std::memset(tf().TF_TensorData(values.back().get()), 0, sizeof(double) * 9 * nframes);
    const Entry& p = model->periodic;
    const int64_t n = model->tensor_size;
    std::vector<TF_Output> fetches = {p.tensor};
    std::vector<double*> targets = {tensor};
    std::vector<int64_t> counts = {n * nframes};
    const TF_Output optional[] = {p.atom_tensor, p.tensor_force, p.tensor_virial};
    double* const wanted[] = {atom_tensor, tensor_force, tensor_virial};
    const int64_t sizes[] = {n * nframes * natoms, 3 * n * nframes * natoms, 9 * n * nframes};
    for (int k = 0; k < 3; ++k) {
      if (wanted[k] == nullptr) continue;
      fetches.push_back(optional[k]);
      targets.push_back(wanted[k]);
      counts.push_back(sizes[k]);
    }
    std::vector<TF_Tensor*> raw;
    for (const Tensor& t : values) raw.push_back(t.get());
    std::vector<Tensor> results;
    std::string error;
    TF_Code code = TF_OK;
    if (!model->session->run({p.coord, p.atype, p.box}, raw, fetches, &results, &error, &code)) {
      return run_failure(code, error);
    }
    for (size_t k = 0; k < targets.size(); ++k) {  // a crafted model must not overrun the arrays
      const TF_Tensor* t = results[k].get();
      if (tf().TF_TensorType(t) != TF_DOUBLE ||
          tf().TF_TensorByteSize(t) != static_cast<size_t>(counts[k]) * sizeof(double)) {
        return fail(DK_ERR_MODEL, "the model's output " + std::to_string(k) + " is not " +
                                      std::to_string(counts[k]) + " float64 values");
      }
    }
    for (size_t k = 0; k < targets.size(); ++k) {
      std::memcpy(targets[k], tf().TF_TensorData(results[k].get()), counts[k] * sizeof(double));
    }
    return DK_OK;
  });
}

}  // extern "C"

// Reads and checks the model's metadata constants (names.py): each one's type and shape
// before its value is read, and the values' ranges, so that a crafted or damaged model gives
// a message instead of a crash, garbage or a huge allocation. "" when all is well.
std::string dk_model::read_metadata() {
  const Session& s = *session;
  struct Attr {
    const char* name;
    TF_DataType type;
  };
  const Attr attrs[] = {{"model_attr/type_map", TF_STRING},
                        {"model_attr/rcut", TF_DOUBLE},
                        {"model_attr/compressed", TF_BOOL},
                        {"model_attr/version", TF_STRING},
                        {"model_attr/train_input", TF_STRING}};
  std::vector<TF_Output> fetches;
  for (const Attr& a : attrs) {
    fetches.push_back(s.output(a.name));
    if (fetches.back().oper == nullptr) return std::string("not a deepkit model (no ") + a.name + ")";
  }
  std::vector<Tensor> values;
  std::string error;
  if (!s.run({}, {}, fetches, &values, &error)) return "reading the model's metadata failed: " + error;
  for (size_t k = 0; k < values.size(); ++k) {
    const std::string problem = check_tensor(values[k], attrs[k].name, attrs[k].type, 0);
    if (!problem.empty()) return problem;
  }
  type_map = string_value(values[0]);
  std::istringstream words(type_map);
  for (std::string w; words >> w;) types.push_back(w);
  if (types.empty() || types.size() > static_cast<size_t>(kMaxTypes)) {
    return "model_attr/type_map must name 1 to " + std::to_string(kMaxTypes) + " types, got " +
           std::to_string(types.size());
  }
  rcut = *static_cast<const double*>(tf().TF_TensorData(values[1].get()));
  if (!std::isfinite(rcut) || !(rcut > 0)) {
    return "model_attr/rcut must be a finite positive number, got " + std::to_string(rcut);
  }
  compressed = *static_cast<const bool*>(tf().TF_TensorData(values[2].get()));
  version = string_value(values[3]);
  const std::string train_input = string_value(values[4]);
  numb_fparam = json_int(train_input, "numb_fparam");
  numb_aparam = json_int(train_input, "numb_aparam");
  // Models frozen after deepkit 0.3.0 say what they are and their parameter counts directly.
  Tensor value;
  bool found = false;
  std::string problem = optional_scalar(s, "model_attr/model_type", TF_STRING, &value, &found);
  if (!problem.empty()) return problem;
  if (found) model_type = string_value(value);
  if (model_type == "dipole" || model_type == "polar") {
    tensor_size = model_type == "dipole" ? 3 : 9;
  } else if (model_type != "ener") {
    return "a '" + model_type + "' model: the C API evaluates ener, dipole and polar models";
  }
  int* const counts[] = {&numb_fparam, &numb_aparam};
  const char* count_names[] = {"model_attr/numb_fparam", "model_attr/numb_aparam"};
  for (int k = 0; k < 2; ++k) {
    problem = optional_scalar(s, count_names[k], TF_INT32, &value, &found);
    if (!problem.empty()) return problem;
    if (found) *counts[k] = *static_cast<const int32_t*>(tf().TF_TensorData(value.get()));
    if (*counts[k] < 0 || *counts[k] > kMaxParams) {
      return std::string(count_names[k]) + " must lie in [0, " + std::to_string(kMaxParams) +
             "], got " + std::to_string(*counts[k]);
    }
  }
  problem = check_sel();
  if (!problem.empty()) return problem;
  fparam = s.output("t_fparam");
  aparam = s.output("t_aparam");
  periodic = find_entry(s, "");
  external = find_entry(s, "ext_");
  if (tensor_size > 0) {
    if (periodic.coord.oper == nullptr || periodic.tensor.oper == nullptr ||
        periodic.atom_tensor.oper == nullptr || periodic.tensor_force.oper == nullptr ||
        periodic.tensor_virial.oper == nullptr) {
      return "not a deepkit tensor model (no t_coord / o_tensor / o_tensor_force)";
    }
    return "";
  }
  if (periodic.coord.oper == nullptr || periodic.energy.oper == nullptr ||
      periodic.atom_virial.oper == nullptr) {
    return "not a deepkit model (no t_coord / o_energy)";
  }
  return "";
}

// model_attr/sel, when present: int32, one block per environment matrix (ntypes counts,
// or one for a type-blind list; hybrids concatenate theirs), each >= 0, at most
// kMaxNeighbors in all.
std::string dk_model::check_sel() const {
  const char* name = "model_attr/sel";
  const TF_Output node = session->output(name);
  if (node.oper == nullptr) return "";
  std::vector<Tensor> values;
  std::string error;
  if (!session->run({}, {}, {node}, &values, &error)) return std::string(name) + ": " + error;
  std::string problem = check_tensor(values[0], name, TF_INT32, 1);
  if (!problem.empty()) return problem;
  const size_t n = tf().TF_TensorByteSize(values[0].get()) / sizeof(int32_t);
  const auto* sel = static_cast<const int32_t*>(tf().TF_TensorData(values[0].get()));
  if (n == 0) return std::string(name) + " is empty: it needs at least one count";
  int64_t total = 0;
  for (size_t k = 0; k < n; ++k) {
    if (sel[k] < 0) return std::string(name) + " has a negative entry";
    total += sel[k];
  }
  if (total > kMaxNeighbors) {
    return std::string(name) + " asks for " + std::to_string(total) + " neighbours, more than " +
           std::to_string(kMaxNeighbors);
  }
  return "";
}

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
                  const double* fp, const double* ap, int nframes, int nloc, int nall,
                  double* energy, double* force, double* virial, double* atom_energy,
                  double* atom_virial) const {
  const int nparam_atoms = nloc;
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
  // What the caller's arrays hold: a model's outputs are checked against it before copying.
  std::vector<int64_t> counts = {nframes, 3L * nframes * nall, 9L * nframes};
  if (atom_energy != nullptr) {
    fetches.push_back(entry.atom_energy);
    targets.push_back(atom_energy);
    counts.push_back(static_cast<int64_t>(nframes) * nloc);
  }
  if (atom_virial != nullptr) {
    fetches.push_back(entry.atom_virial);
    targets.push_back(atom_virial);
    counts.push_back(9L * nframes * nall);
  }
  const bool check_overflow = compressed && entry.overflow.oper != nullptr;
  if (check_overflow) fetches.push_back(entry.overflow);
  std::vector<TF_Tensor*> raw;
  for (const Tensor& t : values) raw.push_back(t.get());
  std::vector<Tensor> results;
  std::string error;
  TF_Code code = TF_OK;
  if (!session->run(inputs, raw, fetches, &results, &error, &code)) return run_failure(code, error);
  // A crafted model's outputs must not write past the caller's arrays.
  for (size_t k = 0; k < targets.size(); ++k) {
    const TF_Tensor* t = results[k].get();
    if (tf().TF_TensorType(t) != TF_DOUBLE ||
        tf().TF_TensorByteSize(t) != static_cast<size_t>(counts[k]) * sizeof(double)) {
      return fail(DK_ERR_MODEL, "the model's output " + std::to_string(k) + " is not " +
                                    std::to_string(counts[k]) + " float64 values");
    }
  }
  if (check_overflow && (tf().TF_TensorType(results.back().get()) != TF_INT32 ||
                         tf().TF_TensorByteSize(results.back().get()) !=
                             static_cast<size_t>(nframes) * sizeof(int32_t))) {
    return fail(DK_ERR_MODEL, "the model's table_overflow output is not one int32 per frame");
  }
  for (size_t k = 0; k < targets.size(); ++k) {
    std::memcpy(targets[k], tf().TF_TensorData(results[k].get()), counts[k] * sizeof(double));
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
