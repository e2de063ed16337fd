// Driver for tests/test_portable_graph.py: the C API's GraphDef rewrite on its own, built
// from op_src/capi/graph_rewrite.cc without TensorFlow.
//
//   graph_rewrite_check rewrite IN OUT   IN's float64 products as deepkit's -> OUT; prints
//                                        "rewritten N", or "error: ..." and exits 1
//   graph_rewrite_check device STRING... prints 1 or 0 per device string (placed_on_cpu)
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "capi/graph_rewrite.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "device") == 0) {
    for (int i = 2; i < argc; ++i) std::printf("%d\n", deepkit::capi::placed_on_cpu(argv[i]));
    return 0;
  }
  if (argc != 4 || std::strcmp(argv[1], "rewrite") != 0) {
    std::fprintf(stderr, "usage: %s rewrite IN OUT | device STRING...\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out, error;
  int rewritten = 0;
  if (!deepkit::capi::specialise_for_cpu(bytes, &out, &rewritten, &error)) {
    std::printf("error: %s\n", error.c_str());
    return 1;
  }
  std::ofstream(argv[3], std::ios::binary).write(out.data(), static_cast<long>(out.size()));
  std::printf("rewritten %d\n", rewritten);
  return 0;
}
