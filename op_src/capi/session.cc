#include "capi/session.h"

#include "capi/graph_rewrite.h"
#include "capi/startup_log.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace deepkit {
namespace capi {
namespace {

TfApi api;

struct StatusDeleter {
  void operator()(TF_Status* s) const { api.TF_DeleteStatus(s); }
};
using Status = std::unique_ptr<TF_Status, StatusDeleter>;

Status new_status() { return Status(api.TF_NewStatus()); }

// ConfigProto with intra_op_parallelism_threads (field 2) and inter_op_parallelism_threads
// (field 5), written by hand: two varints need no protobuf dependency.
std::string thread_config(int intra, int inter) {
  std::string proto;
  auto varint_field = [&proto](int tag, int value) {
    if (value <= 0) return;
    proto.push_back(static_cast<char>(tag << 3));
    auto v = static_cast<uint32_t>(value);
    while (v >= 0x80) {
      proto.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    proto.push_back(static_cast<char>(v));
  };
  varint_field(2, intra);
  varint_field(5, inter);
  return proto;
}

std::string this_library_dir() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&thread_config), &info) == 0 || info.dli_fname == nullptr) {
    return ".";
  }
  std::string path(info.dli_fname);
  return std::string(dirname(&path[0]));
}

// Returns "" on success, else what failed.
std::string open_libraries() {
  setenv("TF_CPP_MIN_LOG_LEVEL", "2", 0);  // quiet unless the caller chose a level
  // Pooled CPU buffers: with TensorFlow's default allocator the large per-step outputs are
  // returned to the system and page-faulted back each call (4x slower at 12,288 atoms).
  setenv("TF_CPU_ALLOCATOR_USE_BFC", "true", 0);
  const StartupLogFilter quiet;  // TensorFlow logs oneDNN's state before absl is set up
  // TensorFlow beside this package (site-packages/tensorflow, for an installed wheel), else
  // the one deepkit was built against; $DEEPKIT_TF_LIB_DIR first when set.
  std::vector<std::string> dirs = {this_library_dir() + "/../../tensorflow", DEEPKIT_TF_LIB_DIR};
  const char* chosen = std::getenv("DEEPKIT_TF_LIB_DIR");
  if (chosen != nullptr && *chosen) dirs.insert(dirs.begin(), chosen);
  void* handle = nullptr;
  std::string tried;
  for (const std::string& dir : dirs) {
    if (dlopen((dir + "/libtensorflow_framework.so.2").c_str(), RTLD_NOW | RTLD_GLOBAL) &&
        (handle = dlopen((dir + "/libtensorflow_cc.so.2").c_str(), RTLD_NOW | RTLD_GLOBAL))) {
      break;
    }
    tried += std::string(tried.empty() ? "" : "; ") + dlerror();
  }
  if (handle == nullptr) {
    return "cannot open the TensorFlow deepkit was built against (set DEEPKIT_TF_LIB_DIR): " +
           tried;
  }
#define DEEPKIT_TF_LOOKUP(name)                                                   \
  api.name = reinterpret_cast<decltype(api.name)>(dlsym(handle, #name));          \
  if (api.name == nullptr) return std::string("TensorFlow lacks ") + #name;
  DEEPKIT_TF_FUNCTIONS(DEEPKIT_TF_LOOKUP)
#undef DEEPKIT_TF_LOOKUP
  // deepkit's ops: $DEEPKIT_OPS_LIBRARY, else the library installed beside this one.
  const char* env = std::getenv("DEEPKIT_OPS_LIBRARY");
  const std::string ops =
      env != nullptr && *env ? std::string(env) : this_library_dir() + "/../" DEEPKIT_OPS_NAME;
  Status status = new_status();
  TF_Library* lib = api.TF_LoadLibrary(ops.c_str(), status.get());
  if (api.TF_GetCode(status.get()) != TF_OK) {
    return "cannot load deepkit's op library " + ops + ": " + first_line(api.TF_Message(status.get()));
  }
  // The ops stay registered for the life of the process; only the handle is freed.
  api.TF_DeleteLibraryHandle(lib);
  return "";
}

// Imports the serialized GraphDef into `graph`: false + TensorFlow's message on failure.
bool import_graph_def(TF_Graph* graph, const std::string& bytes, std::string* error) {
  TF_Buffer* buffer = api.TF_NewBufferFromString(bytes.data(), bytes.size());
  TF_ImportGraphDefOptions* import = api.TF_NewImportGraphDefOptions();
  Status status = new_status();
  api.TF_GraphImportGraphDef(graph, buffer, import, status.get());
  api.TF_DeleteImportGraphDefOptions(import);
  api.TF_DeleteBuffer(buffer);
  if (api.TF_GetCode(status.get()) == TF_OK) return true;
  *error = first_line(api.TF_Message(status.get()));
  return false;
}

bool lists_a_gpu(TF_Session* session) {
  Status status = new_status();
  TF_DeviceList* devices = api.TF_SessionListDevices(session, status.get());
  if (api.TF_GetCode(status.get()) != TF_OK) return true;  // unknown: keep TensorFlow's products
  bool gpu = false;
  for (int i = 0; i < api.TF_DeviceListCount(devices); ++i) {
    const char* type = api.TF_DeviceListType(devices, i, status.get());
    gpu = gpu || (api.TF_GetCode(status.get()) == TF_OK && std::strcmp(type, "GPU") == 0);
  }
  api.TF_DeleteDeviceList(devices);
  return gpu;
}

// Whether the model's float64 products run as deepkit's DkMatMul / DkBatchMatMul: the CPU
// has AVX2 and FMA (what they are compiled for), the session has no GPU (cuBLAS does the
// products there) and DEEPKIT_CPU_PRODUCTS is not 0; deepkit.ops.cpu_products_preferred.
bool cpu_products_preferred(TF_Session* session) {
  const char* env = std::getenv("DEEPKIT_CPU_PRODUCTS");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  return !lists_a_gpu(session);
#else
  return false;
#endif
}

// A GraphDef is a protobuf message, which cannot exceed 2 GiB.
constexpr off_t kMaxModelBytes = off_t{1} << 31;

// The bytes of the regular file `path`, read with POSIX calls: std::ifstream opens a
// directory and then throws from its first read (libstdc++), which aborted the caller, and
// reading a FIFO or a device could block or never end. False + one-line message otherwise.
bool read_model_file(const std::string& path, std::string* bytes, std::string* error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = path + ": cannot open (" + std::strerror(errno) + ")";
    return false;
  }
  struct stat st;
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::string("cannot stat (") + std::strerror(errno) + ")";
  } else if (S_ISDIR(st.st_mode)) {
    problem = "is a directory; give the frozen model file (.pb) itself";
  } else if (!S_ISREG(st.st_mode)) {
    problem = "is not a regular file; give a frozen model file (.pb)";
  } else if (st.st_size >= kMaxModelBytes) {
    problem = "is " + std::to_string(st.st_size) +
              " bytes, more than a frozen model (a protobuf message, < 2 GiB) can hold";
  }
  if (problem.empty()) {
    bytes->resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes->size()) {
      const ssize_t got = ::read(fd, &(*bytes)[done], bytes->size() - done);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        problem = got < 0 ? std::string("read error (") + std::strerror(errno) + ")"
                          : "changed size while being read";
        break;
      }
      done += static_cast<size_t>(got);
    }
  }
  ::close(fd);
  if (problem.empty()) return true;
  *error = path + ": " + problem;
  return false;
}

}  // namespace

Tensor make_tensor(TF_DataType type, const std::vector<int64_t>& dims, const void* data) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  const size_t bytes = static_cast<size_t>(count) * tf().TF_DataTypeSize(type);
  Tensor t(tf().TF_AllocateTensor(type, dims.data(), static_cast<int>(dims.size()), bytes));
  // A failed allocation throws, for the C API's guard to turn into an error code.
  if (!t || (bytes > 0 && tf().TF_TensorData(t.get()) == nullptr)) throw std::bad_alloc();
  if (data != nullptr && bytes > 0) std::memcpy(tf().TF_TensorData(t.get()), data, bytes);
  return t;
}

std::string first_line(const char* message) {
  std::string text(message == nullptr ? "" : message);
  const size_t end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

const TfApi& tf() { return api; }

const TfApi* open_tensorflow(std::string* error) {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] { failure = open_libraries(); });
  if (!failure.empty()) {
    *error = failure;
    return nullptr;
  }
  return &api;
}

// A session on an empty graph, or nullptr and *error.
std::unique_ptr<Session> Session::empty(const std::string& path, int intra_threads,
                                        int inter_threads, std::string* error) {
  TF_Graph* graph = tf().TF_NewGraph();
  TF_SessionOptions* options = tf().TF_NewSessionOptions();
  const std::string config = thread_config(intra_threads, inter_threads);
  Status status = new_status();
  tf().TF_SetConfig(options, config.data(), config.size(), status.get());
  TF_Session* session = nullptr;
  if (tf().TF_GetCode(status.get()) == TF_OK) session = tf().TF_NewSession(graph, options, status.get());
  tf().TF_DeleteSessionOptions(options);
  if (tf().TF_GetCode(status.get()) != TF_OK) {
    *error = path + ": cannot open a TensorFlow session (" + first_line(tf().TF_Message(status.get())) + ")";
    tf().TF_DeleteGraph(graph);
    return nullptr;
  }
  return std::unique_ptr<Session>(new Session(graph, session));
}

std::unique_ptr<Session> Session::open(const std::string& path, int intra_threads,
                                       int inter_threads, std::string* error) {
  std::string bytes;
  if (!read_model_file(path, &bytes, error)) return nullptr;
  // The session comes first, on an empty graph: its devices decide the products, and it
  // takes the imported nodes at its first run.
  std::unique_ptr<Session> opened = empty(path, intra_threads, inter_threads, error);
  if (!opened) return nullptr;
  std::string specialised, problem;
  int rewritten = 0;
  if (cpu_products_preferred(opened->session_) &&
      !specialise_for_cpu(bytes, &specialised, &rewritten, &problem)) {
    *error = path + ": not a frozen TensorFlow graph (" + problem + ")";
    return nullptr;
  }
  if (rewritten > 0 && import_graph_def(opened->graph_, specialised, &problem)) return opened;
  // The model as frozen where the AVX2 products do not import, in a new graph: a failed
  // import keeps the functions of the graph's library it added before failing.
  if (rewritten > 0) opened = empty(path, intra_threads, inter_threads, error);
  if (opened && import_graph_def(opened->graph_, bytes, &problem)) return opened;
  if (opened) *error = path + ": not a frozen TensorFlow graph (" + problem + ")";
  return nullptr;
}

Session::~Session() {
  Status status = new_status();
  tf().TF_CloseSession(session_, status.get());
  tf().TF_DeleteSession(session_, status.get());
  tf().TF_DeleteGraph(graph_);
}

TF_Output Session::output(const char* name) const {
  return TF_Output{tf().TF_GraphOperationByName(graph_, name), 0};
}

bool Session::run(const std::vector<TF_Output>& inputs, const std::vector<TF_Tensor*>& values,
                  const std::vector<TF_Output>& fetches, std::vector<Tensor>* results,
                  std::string* error, TF_Code* code) const {
  std::vector<TF_Tensor*> raw(fetches.size(), nullptr);
  Status status = new_status();
  tf().TF_SessionRun(session_, nullptr, inputs.data(), values.data(), static_cast<int>(inputs.size()),
                fetches.data(), raw.data(), static_cast<int>(fetches.size()), nullptr, 0, nullptr,
                status.get());
  results->clear();
  for (TF_Tensor* t : raw) results->emplace_back(t);
  if (code != nullptr) *code = tf().TF_GetCode(status.get());
  if (tf().TF_GetCode(status.get()) != TF_OK) {
    *error = first_line(tf().TF_Message(status.get()));
    return false;
  }
  return true;
}

}  // namespace capi
}  // namespace deepkit
