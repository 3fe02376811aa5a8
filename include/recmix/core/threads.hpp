#pragma once
/// @file
/// Thread-count resolution and the guard that keeps Eigen from spawning its own threads inside
/// ours (the oversubscription that makes threaded BLAS + threaded solvers crawl).
///
/// @code
/// int n = recmix::resolve_threads(0);          // 0 = all cores OpenMP reports
/// std::string how = recmix::threading_description(n);  // "OpenMP, 2 threads"
/// @endcode

#include <Eigen/Core>
#include <mutex>
#include <string>

#include "recmix/core/errors.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace recmix {

/// True when recmix was compiled with OpenMP (otherwise every loop runs on one thread).
inline constexpr bool kHasOpenMP =
#ifdef _OPENMP
    true;
#else
    false;
#endif

/// Largest `threads` request accepted. OpenMP would try to start a team of any size asked
/// for, and libgomp crashes on huge ones (a typo such as 200000), so larger requests throw.
inline constexpr int kMaxThreads = 1024;

/// Maps the `threads` option to a thread count: 0 means all the cores OpenMP may use; without
/// OpenMP every request resolves to 1. Requests outside [0, kMaxThreads] throw.
inline int resolve_threads(int requested, const char* api = "resolve_threads") {
  if (requested < 0 || requested > kMaxThreads) {
    throw invalid_argument(std::string(api) + ": threads must be in [0, " + std::to_string(kMaxThreads) + "], got " +
                           std::to_string(requested));
  }
#ifdef _OPENMP
  return requested == 0 ? omp_get_max_threads() : requested;
#else
  return 1;
#endif
}

/// One line saying which threading is in effect, for fit reports: "OpenMP, 2 threads" or
/// "serial (built without OpenMP)".
inline std::string threading_description(int threads) {
  if (!kHasOpenMP) return "serial (built without OpenMP)";
  return "OpenMP, " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

namespace detail {

/// While alive, Eigen's own product parallelism is off (Eigen::setNbThreads(1)); the previous
/// setting is restored when the last guard goes. recmix parallelises over rows itself, so
/// nested Eigen threads would only oversubscribe the cores and make results depend on the
/// thread count (Eigen picks its blocking from it).
class EigenSerialGuard {
 public:
  EigenSerialGuard() {
    std::lock_guard lock(mutex());
    if (depth()++ == 0) {
      saved() = Eigen::nbThreads();
      Eigen::setNbThreads(1);
    }
  }
  ~EigenSerialGuard() {
    std::lock_guard lock(mutex());
    if (--depth() == 0) Eigen::setNbThreads(saved());
  }
  EigenSerialGuard(const EigenSerialGuard&) = delete;
  EigenSerialGuard& operator=(const EigenSerialGuard&) = delete;

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static int& depth() {
    static int d = 0;
    return d;
  }
  static int& saved() {
    static int s = 0;
    return s;
  }
};

}  // namespace detail
}  // namespace recmix
