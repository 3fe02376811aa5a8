#pragma once
/// @file
/// InteractionLog: timestamped (user, item, time, weight) events in dense ids — what splitters
/// cut and what becomes an InteractionMatrix once a split is chosen.
///
/// @code
/// recmix::InteractionLog log(3, 4);                // 3 users, 4 items
/// log.add(0, 1, 20150128);                         // user 0 took item 1 on 2015-01-28
/// log.add(0, 2, 20150228, 2.0f);
/// log.add(2, 1, 20150328);
/// auto split = recmix::split::global_time_split(log, 20150301);
/// recmix::InteractionMatrix train = split.train.to_matrix();   // 3 x 4, weights summed
/// @endcode
///
/// Times are plain int64 in whatever unit the caller uses (epoch seconds, days, yyyymmdd, month
/// number): splitters only compare them. The log keeps the events in the order they were added
/// and never requires them sorted.

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/types.hpp"

namespace recmix {

/// Time stamp of an event, in the caller's unit.
using Timestamp = std::int64_t;

class InteractionLog {
 public:
  InteractionLog() = default;

  /// An empty log over num_users x num_items dense ids.
  InteractionLog(Index num_users, Index num_items) : num_users_(num_users), num_items_(num_items) {
    check_shape(num_users, num_items, "InteractionLog");
  }

  /// Adopts whole columns (equal lengths, ids in range, finite weights; an empty `weights`
  /// means weight 1 everywhere). Throws recmix::invalid_argument naming the first bad event.
  InteractionLog(Index num_users, Index num_items, std::vector<Index> users, std::vector<Index> items,
                 std::vector<Timestamp> times, std::vector<float> weights = {})
      : num_users_(num_users), num_items_(num_items), users_(std::move(users)), items_(std::move(items)),
        times_(std::move(times)), weights_(std::move(weights)) {
    constexpr const char* api = "InteractionLog";
    check_shape(num_users, num_items, api);
    if (weights_.empty()) weights_.assign(users_.size(), 1.0f);
    if (items_.size() != users_.size() || times_.size() != users_.size() || weights_.size() != users_.size()) {
      throw invalid_argument(std::string(api) + ": users, items, times and weights differ in length (" +
                             std::to_string(users_.size()) + ", " + std::to_string(items_.size()) + ", " +
                             std::to_string(times_.size()) + ", " + std::to_string(weights_.size()) + ")");
    }
    for (std::size_t e = 0; e < users_.size(); ++e) check_event(users_[e], items_[e], weights_[e], e, api);
  }

  /// Appends one event (checked).
  void add(Index user, Index item, Timestamp time, float weight = 1.0f) {
    check_event(user, item, weight, users_.size(), "InteractionLog::add");
    users_.push_back(user);
    items_.push_back(item);
    times_.push_back(time);
    weights_.push_back(weight);
  }

  void reserve(std::size_t n) {
    users_.reserve(n);
    items_.reserve(n);
    times_.reserve(n);
    weights_.reserve(n);
  }

  [[nodiscard]] std::size_t size() const noexcept { return users_.size(); }
  [[nodiscard]] bool empty() const noexcept { return users_.empty(); }
  [[nodiscard]] Index num_users() const noexcept { return num_users_; }
  [[nodiscard]] Index num_items() const noexcept { return num_items_; }

  [[nodiscard]] std::span<const Index> users() const noexcept { return users_; }
  [[nodiscard]] std::span<const Index> items() const noexcept { return items_; }
  [[nodiscard]] std::span<const Timestamp> times() const noexcept { return times_; }
  [[nodiscard]] std::span<const float> weights() const noexcept { return weights_; }

  /// The users x items matrix of summed weights (duplicate events add up, e.g. months held).
  [[nodiscard]] InteractionMatrix to_matrix() const {
    return InteractionMatrix::from_triplets(num_users_, num_items_, users_, items_, weights_);
  }

  /// The users x items matrix with weight 1 per distinct (user, item) pair held in the log.
  [[nodiscard]] InteractionMatrix to_binary_matrix() const {
    InteractionMatrix m = to_matrix();
    std::vector<float> ones(static_cast<std::size_t>(m.nnz()), 1.0f);
    return InteractionMatrix(m.rows(), m.cols(), {m.indptr().begin(), m.indptr().end()},
                             {m.indices().begin(), m.indices().end()}, std::move(ones));
  }

  /// The events at the given positions, in that order (same id space).
  [[nodiscard]] InteractionLog select(std::span<const std::size_t> positions) const {
    InteractionLog out(num_users_, num_items_);
    out.reserve(positions.size());
    for (std::size_t p : positions) {
      if (p >= size()) {
        throw invalid_argument("InteractionLog::select: position " + std::to_string(p) + " >= size (" +
                               std::to_string(size()) + ")");
      }
      out.users_.push_back(users_[p]);
      out.items_.push_back(items_[p]);
      out.times_.push_back(times_[p]);
      out.weights_.push_back(weights_[p]);
    }
    return out;
  }

  /// True when times never decrease along the log.
  [[nodiscard]] bool is_time_sorted() const noexcept {
    for (std::size_t e = 1; e < times_.size(); ++e) {
      if (times_[e] < times_[e - 1]) return false;
    }
    return true;
  }

  friend bool operator==(const InteractionLog&, const InteractionLog&) = default;

 private:
  static void check_shape(Index num_users, Index num_items, const char* api) {
    if (num_users < 0 || num_items < 0) {
      throw invalid_argument(std::string(api) + ": negative shape " + std::to_string(num_users) + " x " +
                             std::to_string(num_items));
    }
  }

  void check_event(Index user, Index item, float weight, std::size_t at, const char* api) const {
    if (user < 0 || user >= num_users_) {
      throw invalid_argument(std::string(api) + ": user " + std::to_string(user) + " out of range [0, " +
                             std::to_string(num_users_) + ") at event " + std::to_string(at));
    }
    if (item < 0 || item >= num_items_) {
      throw invalid_argument(std::string(api) + ": item " + std::to_string(item) + " out of range [0, " +
                             std::to_string(num_items_) + ") at event " + std::to_string(at));
    }
    if (!std::isfinite(weight)) {
      throw invalid_argument(std::string(api) + ": weight " + std::to_string(weight) + " is not finite at event " +
                             std::to_string(at));
    }
  }

  Index num_users_ = 0;
  Index num_items_ = 0;
  std::vector<Index> users_;
  std::vector<Index> items_;
  std::vector<Timestamp> times_;
  std::vector<float> weights_;
};

}  // namespace recmix
