#pragma once
/// @file
/// Helpers for OpenMP loops: exceptions captured inside a parallel region and rethrown after it
/// (an exception escaping an OpenMP region would terminate the program).

#include <exception>
#include <mutex>

namespace recmix::detail {

class ParallelErrors {
 public:
  /// Runs f, keeping the first exception it throws.
  template <class F>
  void run(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!first_) first_ = std::current_exception();
    }
  }
  [[nodiscard]] bool failed() const {
    std::lock_guard lock(mutex_);
    return static_cast<bool>(first_);
  }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  mutable std::mutex mutex_;
  std::exception_ptr first_;
};

}  // namespace recmix::detail
