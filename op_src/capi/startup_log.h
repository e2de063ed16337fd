// TensorFlow's start-up log, kept off the host program's stderr.
//
// On CPUs where TensorFlow turns oneDNN on (Intel by default, or TF_ENABLE_ONEDNN_OPTS=1),
// opening its libraries prints "oneDNN custom operations are on" through absl before
// absl's logging is initialised, so TF_CPP_MIN_LOG_LEVEL does not hide it. While the
// libraries open, stderr goes to a temporary file; afterwards every line is written back
// except absl records below TF_CPP_MIN_LOG_LEVEL (0 info, 1 warning, 2 error, 3 fatal).
#ifndef DEEPKIT_CAPI_STARTUP_LOG_H_
#define DEEPKIT_CAPI_STARTUP_LOG_H_

#include <cstdio>
#include <string>

namespace deepkit {
namespace capi {

// The lines of text that TF_CPP_MIN_LOG_LEVEL = min_level lets through.
std::string filter_startup_log(const std::string& text, int min_level);

// Redirects file descriptor 2 for its lifetime. If the redirection cannot be made (no
// temporary file, stderr closed) it does nothing and nothing is lost.
class StartupLogFilter {
 public:
  StartupLogFilter();
  ~StartupLogFilter();
  StartupLogFilter(const StartupLogFilter&) = delete;
  StartupLogFilter& operator=(const StartupLogFilter&) = delete;

 private:
  std::FILE* capture_ = nullptr;
  int saved_stderr_ = -1;
};

}  // namespace capi
}  // namespace deepkit

#endif  // DEEPKIT_CAPI_STARTUP_LOG_H_
