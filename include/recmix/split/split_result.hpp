#pragma once
/// @file
/// What every splitter returns — train and test logs and a report of what was dropped and why —
/// and the test filters every splitter accepts.
///
/// @code
/// auto s = recmix::split::global_time_split(log, 20160428, {.filter = {.drop_cold_users = true}});
/// std::cout << s.report.describe() << '\n';
/// // "train 9811 events, test 1204 events; dropped from test: 97 cold user, 0 cold item, 0 seen"
/// @endcode

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/interaction_log.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/types.hpp"

namespace recmix::split {

/// Which test events a splitter removes. Each dropped event is counted under the first reason
/// that applies, in the order of the fields.
struct TestFilter {
  /// Drop test events of users with no event in train (the model cannot know them).
  bool drop_cold_users = false;
  /// Drop test events of items with no event in train.
  bool drop_cold_items = false;
  /// Drop test events whose (user, item) pair also occurs in train.
  bool drop_seen = false;
};

/// Counts of events: kept in each part, and dropped from test by reason.
struct SplitReport {
  std::size_t train = 0;
  std::size_t test = 0;
  std::size_t dropped_cold_user = 0;
  std::size_t dropped_cold_item = 0;
  std::size_t dropped_seen = 0;

  [[nodiscard]] std::size_t dropped() const noexcept { return dropped_cold_user + dropped_cold_item + dropped_seen; }

  /// One line for logs and reports.
  [[nodiscard]] std::string describe() const {
    return "train " + std::to_string(train) + " events, test " + std::to_string(test) +
           " events; dropped from test: " + std::to_string(dropped_cold_user) + " cold user, " +
           std::to_string(dropped_cold_item) + " cold item, " + std::to_string(dropped_seen) + " seen";
  }

  friend bool operator==(const SplitReport&, const SplitReport&) = default;
};

struct Split {
  InteractionLog train;
  InteractionLog test;
  SplitReport report;
};

namespace detail {

/// Builds a Split from a train log and the test candidates (same id space), applying the
/// test filter to the candidates.
inline Split finish_split(InteractionLog train, const InteractionLog& candidates, const TestFilter& filter) {
  Split out;
  out.train = std::move(train);
  const auto train_users = out.train.users();
  const auto train_items = out.train.items();
  std::vector<std::uint8_t> user_seen, item_seen;
  if (filter.drop_cold_users) {
    user_seen.assign(static_cast<std::size_t>(out.train.num_users()), 0);
    for (Index u : train_users) user_seen[static_cast<std::size_t>(u)] = 1;
  }
  if (filter.drop_cold_items) {
    item_seen.assign(static_cast<std::size_t>(out.train.num_items()), 0);
    for (Index i : train_items) item_seen[static_cast<std::size_t>(i)] = 1;
  }
  InteractionMatrix train_pairs;
  if (filter.drop_seen) train_pairs = out.train.to_matrix();

  const auto users = candidates.users();
  const auto items = candidates.items();
  std::vector<std::size_t> kept;
  kept.reserve(candidates.size());
  for (std::size_t p = 0; p < candidates.size(); ++p) {
    const Index u = users[p], i = items[p];
    if (filter.drop_cold_users && user_seen[static_cast<std::size_t>(u)] == 0) {
      ++out.report.dropped_cold_user;
    } else if (filter.drop_cold_items && item_seen[static_cast<std::size_t>(i)] == 0) {
      ++out.report.dropped_cold_item;
    } else if (filter.drop_seen && std::binary_search(train_pairs.row(u).indices.begin(),
                                                      train_pairs.row(u).indices.end(), i)) {
      ++out.report.dropped_seen;
    } else {
      kept.push_back(p);
    }
  }
  out.test = kept.size() == candidates.size() ? candidates : candidates.select(kept);
  out.report.train = out.train.size();
  out.report.test = out.test.size();
  return out;
}

/// Builds a Split from the positions each part takes in `log`, applying the test filter.
inline Split finish_split(const InteractionLog& log, const std::vector<std::size_t>& train_positions,
                          const std::vector<std::size_t>& test_positions, const TestFilter& filter) {
  return finish_split(log.select(train_positions), log.select(test_positions), filter);
}

}  // namespace detail
}  // namespace recmix::split
