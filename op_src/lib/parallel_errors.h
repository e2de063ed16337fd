// Exceptions inside OpenMP regions.
//
// An exception that leaves an OpenMP structured block calls std::terminate, whatever catches
// it outside: a std::bad_alloc in one thread's scratch vector would abort the host process.
// Kernels run the bodies of their parallel regions through ErrorCapture::run, which keeps
// the first exception and skips all later bodies, and call rethrow() after the region; the
// op wrappers then turn it into an error status like any other.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>

namespace deepkit {

class ErrorCapture {
 public:
  template <typename Body>
  void run(Body&& body) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }

  // Throws the first captured exception, if any (call after the region, on one thread).
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::exception_ptr error_;
};

}  // namespace deepkit
