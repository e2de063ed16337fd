#include "capi/startup_log.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace deepkit {
namespace capi {
namespace {

constexpr char kAbslPreamble[] =
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR";

// Severity of an absl record ("I0000 00:00:1796193491.018079    2197 port.cc:153] ..."):
// 0-3 for I, W, E, F, or -1 for a line that is not one.
int absl_severity(const std::string& line) {
  static const std::string letters = "IWEF";
  if (line.size() < 6 || letters.find(line[0]) == std::string::npos) return -1;
  for (int i = 1; i <= 4; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return -1;
  }
  if (line[5] != ' ' || line.find("] ") == std::string::npos) return -1;
  return static_cast<int>(letters.find(line[0]));
}

int min_log_level() {
  const char* value = std::getenv("TF_CPP_MIN_LOG_LEVEL");
  return value == nullptr ? 0 : std::atoi(value);
}

}  // namespace

std::string filter_startup_log(const std::string& text, int min_level) {
  std::istringstream lines(text);
  std::string line, kept;
  while (std::getline(lines, line)) {
    const int severity = line.rfind(kAbslPreamble, 0) == 0 ? 1 : absl_severity(line);
    if (severity < 0 || severity >= min_level) kept += line + "\n";
  }
  return kept;
}

StartupLogFilter::StartupLogFilter() {
  std::fflush(stderr);
  capture_ = std::tmpfile();
  if (capture_ == nullptr) return;
  saved_stderr_ = dup(STDERR_FILENO);
  if (saved_stderr_ < 0 || dup2(fileno(capture_), STDERR_FILENO) < 0) {
    if (saved_stderr_ >= 0) close(saved_stderr_);
    saved_stderr_ = -1;
    std::fclose(capture_);
    capture_ = nullptr;
  }
}

StartupLogFilter::~StartupLogFilter() {
  if (capture_ == nullptr) return;
  std::fflush(stderr);
  dup2(saved_stderr_, STDERR_FILENO);
  close(saved_stderr_);
  std::rewind(capture_);
  try {
    std::string text;
    char chunk[4096];
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, capture_)) > 0;) text.append(chunk, n);
    const std::string kept = filter_startup_log(text, min_log_level());
    std::fwrite(kept.data(), 1, kept.size(), stderr);
  } catch (...) {  // out of memory: copy the capture back unfiltered rather than lose it
    char chunk[4096];
    std::rewind(capture_);
    for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, capture_)) > 0;) {
      std::fwrite(chunk, 1, n, stderr);
    }
  }
  std::fflush(stderr);
  std::fclose(capture_);
}

}  // namespace capi
}  // namespace deepkit
