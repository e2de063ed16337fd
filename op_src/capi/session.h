// A frozen graph in a TensorFlow session, through TensorFlow's C API: the part of the
// deepkit C API that talks to TensorFlow (deepkit_c.cc keeps to deepkit's contract).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capi/tf_api.h"

namespace deepkit {
namespace capi {

struct TensorDeleter {
  void operator()(TF_Tensor* t) const { tf().TF_DeleteTensor(t); }
};
using Tensor = std::unique_ptr<TF_Tensor, TensorDeleter>;

// A tensor of the given type and shape holding a copy of `data` (nullptr: uninitialised);
// throws std::bad_alloc when TensorFlow cannot allocate it (the C API guard catches it).
Tensor make_tensor(TF_DataType type, const std::vector<int64_t>& dims, const void* data);

class Session {
 public:
  // Imports the GraphDef in `path` and opens a session on it; nullptr + message on failure
  // (also for a directory, a FIFO or device, or a file of 2 GiB or more).
  // On an AVX2/FMA CPU without a GPU its float64 products become deepkit's DkMatMul /
  // DkBatchMatMul (graph_rewrite.h) unless DEEPKIT_CPU_PRODUCTS is 0.
  static std::unique_ptr<Session> open(const std::string& path, int intra_threads,
                                       int inter_threads, std::string* error);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Output 0 of the named operation; oper is nullptr when the graph lacks it.
  TF_Output output(const char* name) const;

  // Runs the graph (thread-safe): feeds -> fetches. False + one-line message on failure,
  // and TensorFlow's status code in *code when it is not null (TF_INVALID_ARGUMENT: an op
  // refused its input).
  bool run(const std::vector<TF_Output>& inputs, const std::vector<TF_Tensor*>& values,
           const std::vector<TF_Output>& fetches, std::vector<Tensor>* results,
           std::string* error, TF_Code* code = nullptr) const;

 private:
  static std::unique_ptr<Session> empty(const std::string& path, int intra_threads,
                                        int inter_threads, std::string* error);
  Session(TF_Graph* graph, TF_Session* session) : graph_(graph), session_(session) {}
  TF_Graph* graph_;
  TF_Session* session_;
};

// The first line of a TensorFlow error (deepkit's ops put their message there).
std::string first_line(const char* message);

}  // namespace capi
}  // namespace deepkit
