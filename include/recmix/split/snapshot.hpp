#pragma once
/// @file
/// snapshot_split: train/test from a panel of monthly ownership snapshots
/// (months x users x items, 0/1), the shape of the Santander data.
///
/// Train holds one event per (month, user, item) held in the train months (weight 1, time =
/// that month's time), so train.to_matrix() counts the months each item was held. Test holds,
/// for the test month, the items that are new under the chosen definition:
///   - NewItems::added_since_previous — held at t, not held at t-1. An item dropped and taken
///     again counts as new. This is what Kaggle's Santander competition scored.
///   - NewItems::not_in_train — held at t and in none of the train months.
///
/// @code
/// xt::xtensor<std::uint8_t, 3> panel = ...;                 // 17 x customers x 24
/// std::vector<recmix::Timestamp> months = {201501, 201502, ..., 201605};
/// auto s = recmix::split::snapshot_split(panel, months, {.test_month = 16});
/// @endcode

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_log.hpp"
#include "recmix/split/split_result.hpp"

namespace recmix::split {

enum class NewItems { added_since_previous, not_in_train };

struct SnapshotOptions {
  /// Index of the test month in the panel (>= 1: month t-1 must exist).
  Index test_month = 1;
  NewItems target = NewItems::added_since_previous;
  /// Train months are [test_month - train_months, test_month); 0 = every earlier month.
  Index train_months = 0;
  TestFilter filter = {};
};

/// Splits a months x users x items 0/1 panel. `month_times` gives each month's time and must
/// increase strictly (it becomes the events' times).
inline Split snapshot_split(const xt::xtensor<std::uint8_t, 3>& panel, std::span<const Timestamp> month_times,
                            const SnapshotOptions& options = {}) {
  constexpr const char* api = "snapshot_split";
  const std::size_t months = panel.shape(0), users = panel.shape(1), items = panel.shape(2);
  if (month_times.size() != months) {
    throw invalid_argument(std::string(api) + ": month_times has " + std::to_string(month_times.size()) +
                           " entries but the panel has " + std::to_string(months) + " months");
  }
  for (std::size_t m = 1; m < months; ++m) {
    if (month_times[m] <= month_times[m - 1]) {
      throw invalid_argument(std::string(api) + ": month_times must increase strictly; month " + std::to_string(m) +
                             " has time " + std::to_string(month_times[m]) + " after " + std::to_string(month_times[m - 1]));
    }
  }
  if (options.test_month < 1 || static_cast<std::size_t>(options.test_month) >= months) {
    throw invalid_argument(std::string(api) + ": test_month " + std::to_string(options.test_month) +
                           " out of range [1, " + std::to_string(months) + ")");
  }
  if (options.train_months < 0) {
    throw invalid_argument(std::string(api) + ": train_months must be >= 0, got " + std::to_string(options.train_months));
  }
  const auto max_index = static_cast<std::size_t>(std::numeric_limits<Index>::max());
  if (users > max_index || items > max_index) {
    throw invalid_argument(std::string(api) + ": panel has more than 2^31-1 users or items");
  }
  const auto t = static_cast<std::size_t>(options.test_month);
  const std::size_t first_train =
      options.train_months == 0 || static_cast<std::size_t>(options.train_months) >= t ? 0 : t - static_cast<std::size_t>(options.train_months);

  const std::uint8_t* cells = panel.data();
  const std::size_t month_stride = users * items;
  for (std::size_t m = first_train; m <= t; ++m) {
    const std::uint8_t* slice = cells + m * month_stride;
    for (std::size_t c = 0; c < month_stride; ++c) {
      if (slice[c] > 1) {
        throw invalid_argument(std::string(api) + ": panel value " + std::to_string(slice[c]) + " at month " +
                               std::to_string(m) + ", user " + std::to_string(c / items) + ", item " +
                               std::to_string(c % items) + " is not 0 or 1");
      }
    }
  }

  // Train events straight from the panel (counted first, so the log is allocated once), then
  // the test-month candidates; finish_split applies the filters to the candidates.
  std::size_t n_train = 0;
  for (std::size_t m = first_train; m < t; ++m) {
    const std::uint8_t* slice = cells + m * month_stride;
    for (std::size_t c = 0; c < month_stride; ++c) n_train += slice[c];
  }
  InteractionLog train(static_cast<Index>(users), static_cast<Index>(items));
  train.reserve(n_train);
  for (std::size_t m = first_train; m < t; ++m) {
    const std::uint8_t* slice = cells + m * month_stride;
    for (std::size_t c = 0; c < month_stride; ++c) {
      if (slice[c] != 0) train.add(static_cast<Index>(c / items), static_cast<Index>(c % items), month_times[m]);
    }
  }
  InteractionLog candidates(static_cast<Index>(users), static_cast<Index>(items));
  const std::uint8_t* now = cells + t * month_stride;
  const std::uint8_t* before = cells + (t - 1) * month_stride;
  for (std::size_t c = 0; c < month_stride; ++c) {
    if (now[c] == 0) continue;
    bool is_new = true;
    if (options.target == NewItems::added_since_previous) {
      is_new = before[c] == 0;
    } else {
      for (std::size_t m = first_train; m < t && is_new; ++m) is_new = cells[m * month_stride + c] == 0;
    }
    if (is_new) candidates.add(static_cast<Index>(c / items), static_cast<Index>(c % items), month_times[t]);
  }
  return detail::finish_split(std::move(train), candidates, options.filter);
}

}  // namespace recmix::split
