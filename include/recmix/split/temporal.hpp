#pragma once
/// @file
/// Time-aware splitters over an InteractionLog: one global threshold, the last N events (or the
/// last span of time) of each user, and consecutive test windows (TimeRangeFolds).
///
/// @code
/// using namespace recmix::split;
/// Split a = global_time_split(log, 20160428);                   // before -> train, at/after -> test
/// Split b = last_n_split(log, {.n = 2, .filter = {.drop_cold_users = true}});
/// Split c = last_span_split(log, {.span = 30});                 // each user's last 30 time units
/// for (const Fold& f : TimeRangeFolds(log, {.first_test_begin = 100, .width = 10, .folds = 3})) {
///   fit_on(f.split.train);  score_on(f.split.test);            // [100,110), [110,120), [120,130)
/// }
/// @endcode
///
/// Ties in time inside one user (last_n_split) are ordered by position in the log: of two
/// events at the same time, the one added later counts as later.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_log.hpp"
#include "recmix/split/split_result.hpp"

namespace recmix::split {

struct GlobalTimeOptions {
  TestFilter filter = {};
};

/// Events with time < threshold go to train, the rest (time >= threshold) to test.
inline Split global_time_split(const InteractionLog& log, Timestamp threshold, const GlobalTimeOptions& options = {}) {
  std::vector<std::size_t> train, test;
  const auto times = log.times();
  for (std::size_t e = 0; e < times.size(); ++e) (times[e] < threshold ? train : test).push_back(e);
  return detail::finish_split(log, train, test, options.filter);
}

struct LastNOptions {
  /// Events per user that go to test (>= 1). A user with n events or fewer has all of them in
  /// test and none in train (drop_cold_users removes such users from test).
  Index n = 1;
  TestFilter filter = {};
};

struct LastSpanOptions {
  /// Each user's events with time > (that user's latest time - span) go to test (span >= 1, in
  /// the log's time unit; span = 1 with integer days keeps only the last day).
  Timestamp span = 1;
  TestFilter filter = {};
};

namespace detail {

/// Positions of the log grouped by user, each group ordered by (time, position).
struct UserTimeline {
  std::vector<std::size_t> start;      // num_users + 1 offsets into order
  std::vector<std::size_t> order;      // positions
};

inline UserTimeline user_timeline(const InteractionLog& log) {
  const auto users = log.users();
  const auto times = log.times();
  UserTimeline t;
  t.start.assign(static_cast<std::size_t>(log.num_users()) + 1, 0);
  for (Index u : users) ++t.start[static_cast<std::size_t>(u) + 1];
  std::partial_sum(t.start.begin(), t.start.end(), t.start.begin());
  t.order.resize(users.size());
  std::vector<std::size_t> next(t.start.begin(), t.start.end() - 1);
  for (std::size_t e = 0; e < users.size(); ++e) t.order[next[static_cast<std::size_t>(users[e])]++] = e;
  for (std::size_t u = 0; u + 1 < t.start.size(); ++u) {
    // positions are increasing inside each group already, so a stable sort by time keeps the
    // later-added event later among equal times.
    std::stable_sort(t.order.begin() + static_cast<std::ptrdiff_t>(t.start[u]),
                     t.order.begin() + static_cast<std::ptrdiff_t>(t.start[u + 1]),
                     [&](std::size_t a, std::size_t b) { return times[a] < times[b]; });
  }
  return t;
}

template <class ToTest>
Split per_user_tail_split(const InteractionLog& log, const TestFilter& filter, ToTest&& first_test_in_group) {
  const UserTimeline t = user_timeline(log);
  std::vector<std::size_t> train, test;
  train.reserve(log.size());
  for (std::size_t u = 0; u + 1 < t.start.size(); ++u) {
    const std::size_t b = t.start[u], e = t.start[u + 1];
    if (b == e) continue;
    const std::size_t cut = first_test_in_group(b, e, t.order);
    for (std::size_t k = b; k < cut; ++k) train.push_back(t.order[k]);
    for (std::size_t k = cut; k < e; ++k) test.push_back(t.order[k]);
  }
  // Keep both parts in log order, so a split never reorders events.
  std::sort(train.begin(), train.end());
  std::sort(test.begin(), test.end());
  return finish_split(log, train, test, filter);
}

}  // namespace detail

/// Per user, the last `n` events (by time, ties by log position) go to test.
inline Split last_n_split(const InteractionLog& log, const LastNOptions& options = {}) {
  if (options.n < 1) throw invalid_argument("last_n_split: n must be >= 1, got " + std::to_string(options.n));
  const auto n = static_cast<std::size_t>(options.n);
  return detail::per_user_tail_split(log, options.filter, [n](std::size_t b, std::size_t e, const auto&) {
    return e - b > n ? e - n : b;
  });
}

/// Per user, the events within the last `span` time units of that user's latest event go to test.
inline Split last_span_split(const InteractionLog& log, const LastSpanOptions& options = {}) {
  if (options.span < 1) {
    throw invalid_argument("last_span_split: span must be >= 1, got " + std::to_string(options.span));
  }
  const auto times = log.times();
  return detail::per_user_tail_split(log, options.filter, [&](std::size_t b, std::size_t e, const auto& order) {
    const Timestamp last = times[order[e - 1]];
    // time > last - span, written without overflow: last - time < span.
    std::size_t cut = e;
    // Unsigned difference: exact for any two int64 with last >= time.
    while (cut > b && static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(times[order[cut - 1]]) <
                          static_cast<std::uint64_t>(options.span)) {
      --cut;
    }
    return cut;
  });
}

/// How a fold's train part is bounded below.
enum class FoldWindow {
  /// Train is everything before the fold's test window.
  expanding,
  /// Train is the `train_width` time units right before the test window.
  sliding,
};

struct TimeRangeFoldsOptions {
  /// Start of the first test window.
  Timestamp first_test_begin = 0;
  /// Width of every test window (>= 1); fold f tests [first + f*width, first + (f+1)*width).
  Timestamp width = 1;
  /// Number of folds (>= 1).
  Index folds = 1;
  FoldWindow window = FoldWindow::expanding;
  /// Width of the train window; required (>= 1) with sliding, must stay 0 with expanding.
  Timestamp train_width = 0;
  TestFilter filter = {};
};

/// One fold: its time windows and its split.
struct Fold {
  Index index = 0;
  /// Train covers [train_begin, test_begin); train_begin is the lowest Timestamp when expanding.
  Timestamp train_begin = 0;
  Timestamp test_begin = 0;
  Timestamp test_end = 0;
  Split split;
};

/// k consecutive test windows of one width, as a range of Folds computed on demand. Holds a
/// pointer to the log: keep the log alive while iterating (a temporary log does not compile).
class TimeRangeFolds {
 public:
  TimeRangeFolds(const InteractionLog& log, const TimeRangeFoldsOptions& options) : log_(&log), options_(options) {
    constexpr const char* api = "TimeRangeFolds";
    if (options.width < 1) throw invalid_argument(std::string(api) + ": width must be >= 1, got " + std::to_string(options.width));
    if (options.folds < 1) throw invalid_argument(std::string(api) + ": folds must be >= 1, got " + std::to_string(options.folds));
    if (options.window == FoldWindow::sliding && options.train_width < 1) {
      throw invalid_argument(std::string(api) + ": a sliding window needs train_width >= 1, got " +
                             std::to_string(options.train_width));
    }
    if (options.window == FoldWindow::expanding && options.train_width != 0) {
      throw invalid_argument(std::string(api) + ": train_width (" + std::to_string(options.train_width) +
                             ") only applies to the sliding window; leave it 0 with expanding");
    }
    constexpr Timestamp max = std::numeric_limits<Timestamp>::max();
    constexpr Timestamp min = std::numeric_limits<Timestamp>::min();
    if (options.width > max / options.folds ||
        options.first_test_begin > max - options.width * static_cast<Timestamp>(options.folds)) {
      throw invalid_argument(std::string(api) + ": the last window ends beyond the largest timestamp");
    }
    if (options.window == FoldWindow::sliding && options.first_test_begin < min + options.train_width) {
      throw invalid_argument(std::string(api) + ": the first train window starts below the smallest timestamp");
    }
  }
  TimeRangeFolds(InteractionLog&&, const TimeRangeFoldsOptions&) = delete;

  [[nodiscard]] Index size() const noexcept { return options_.folds; }

  /// Fold f (0-based), computed with one pass over the log.
  [[nodiscard]] Fold fold(Index f) const {
    if (f < 0 || f >= options_.folds) {
      throw invalid_argument("TimeRangeFolds::fold: fold " + std::to_string(f) + " out of range [0, " +
                             std::to_string(options_.folds) + ")");
    }
    Fold out;
    out.index = f;
    out.test_begin = options_.first_test_begin + static_cast<Timestamp>(f) * options_.width;
    out.test_end = out.test_begin + options_.width;
    out.train_begin = options_.window == FoldWindow::expanding ? std::numeric_limits<Timestamp>::min()
                                                               : out.test_begin - options_.train_width;
    std::vector<std::size_t> train, test;
    const auto times = log_->times();
    for (std::size_t e = 0; e < times.size(); ++e) {
      const Timestamp t = times[e];
      if (t >= out.train_begin && t < out.test_begin) train.push_back(e);
      else if (t >= out.test_begin && t < out.test_end) test.push_back(e);
    }
    out.split = detail::finish_split(*log_, train, test, options_.filter);
    return out;
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Fold;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Fold;

    iterator() = default;
    Fold operator*() const { return folds_->fold(f_); }
    iterator& operator++() {
      ++f_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++f_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.f_ == b.f_; }

   private:
    friend class TimeRangeFolds;
    iterator(const TimeRangeFolds* folds, Index f) : folds_(folds), f_(f) {}
    const TimeRangeFolds* folds_ = nullptr;
    Index f_ = 0;
  };

  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] iterator end() const { return {this, options_.folds}; }

 private:
  const InteractionLog* log_;
  TimeRangeFoldsOptions options_;
};

}  // namespace recmix::split
