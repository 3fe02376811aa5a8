#pragma once
/// @file
/// Fit progress: FitObserver (callbacks a model calls while fitting), FitReport (what a fit
/// returns) and ProgressBar (a terminal bar with iteration, loss, elapsed time and ETA).
///
/// @code
/// recmix::als::ImplicitALS<float> als({.factors = 64, .calculate_loss = true});
/// recmix::FitReport report = als.fit(user_items, recmix::ProgressBar{std::cerr});
/// report.median_iteration_seconds();
/// @endcode

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace recmix {

/// One finished iteration of a fit.
struct IterationInfo {
  int iteration = 0;           ///< 1-based
  int total = 0;               ///< iterations asked for
  double seconds = 0.0;        ///< this iteration's wall time
  double elapsed_seconds = 0.0;
  double loss = std::numeric_limits<double>::quiet_NaN();  ///< NaN when not computed
};

/// What a fit did. Numerical outcomes are values here, never exceptions.
struct FitReport {
  int iterations = 0;
  double seconds = 0.0;
  std::vector<double> iteration_seconds;
  std::vector<double> loss;    ///< per iteration; NaN where not computed
  std::string threading;       ///< e.g. "OpenMP, 2 threads"

  [[nodiscard]] double median_iteration_seconds() const {
    if (iteration_seconds.empty()) return 0.0;
    std::vector<double> s = iteration_seconds;
    std::sort(s.begin(), s.end());
    const std::size_t n = s.size();
    return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  }
  [[nodiscard]] double final_loss() const {
    return loss.empty() ? std::numeric_limits<double>::quiet_NaN() : loss.back();
  }
};

/// Callbacks a model calls while fitting. Every method has an empty default.
class FitObserver {
 public:
  virtual ~FitObserver() = default;
  virtual void on_begin(std::string_view /*model*/, int /*total_iterations*/, std::string_view /*threading*/) {}
  virtual void on_iteration(const IterationInfo& /*info*/) {}
  virtual void on_end(const FitReport& /*report*/) {}
};

/// Observes nothing.
class NullObserver final : public FitObserver {};

/// How a ProgressBar draws: in place on one line (a terminal), one line per iteration (a log
/// file), or automatically: in place when the stream is std::cout/std::cerr/std::clog attached
/// to a terminal, one line per iteration otherwise.
enum class ProgressStyle { automatic, redraw, lines };

/// A one-line terminal progress bar:
/// `ImplicitALS [#######.......]  7/15  loss 0.01712  3.1s  ETA 3.5s  (OpenMP, 2 threads)`.
class ProgressBar final : public FitObserver {
 public:
  explicit ProgressBar(std::ostream& os, ProgressStyle style = ProgressStyle::automatic, int width = 24)
      : os_(os), redraw_(style == ProgressStyle::redraw || (style == ProgressStyle::automatic && is_terminal(os))),
        width_(width) {}

  void on_begin(std::string_view model, int total, std::string_view threading) override {
    model_ = std::string(model);
    threading_ = std::string(threading);
    total_ = total;
  }

  void on_iteration(const IterationInfo& info) override {
    const int filled = total_ > 0 ? (width_ * info.iteration) / total_ : width_;
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(static_cast<std::size_t>(width_), '.');
    const double eta = info.iteration > 0 ? info.elapsed_seconds / info.iteration * (total_ - info.iteration) : 0.0;
    char line[256];
    if (std::isnan(info.loss)) {
      std::snprintf(line, sizeof line, "%s [%s] %3d/%d  %.2fs  ETA %.2fs  (%s)", model_.c_str(), bar.c_str(),
                    info.iteration, total_, info.elapsed_seconds, eta, threading_.c_str());
    } else {
      std::snprintf(line, sizeof line, "%s [%s] %3d/%d  loss %.6g  %.2fs  ETA %.2fs  (%s)", model_.c_str(), bar.c_str(),
                    info.iteration, total_, info.loss, info.elapsed_seconds, eta, threading_.c_str());
    }
    os_ << (redraw_ ? "\r" : "") << line << (redraw_ ? "" : "\n") << std::flush;
  }

  void on_end(const FitReport& /*report*/) override {
    if (redraw_) os_ << '\n' << std::flush;
  }

 private:
  static bool is_terminal(const std::ostream& os) {
#if defined(__unix__) || defined(__APPLE__)
    if (&os == &std::cout) return ::isatty(1) != 0;
    if (&os == &std::cerr || &os == &std::clog) return ::isatty(2) != 0;
#endif
    (void)os;
    return false;
  }

  std::ostream& os_;
  bool redraw_;
  int width_;
  int total_ = 0;
  std::string model_;
  std::string threading_;
};

namespace detail {
/// Wall-clock seconds since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};
}  // namespace detail

}  // namespace recmix
