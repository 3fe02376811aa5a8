#pragma once
/// @file
/// UserBatch: everything a model may need about a batch of users, rows aligned.
///
/// @code
/// std::vector<recmix::Index> users = {0, 5, recmix::kNewUser};
/// recmix::InteractionMatrix hist = train.select_rows(...);   // one row per batch user
/// recmix::UserBatch batch(users, &hist);                       // history aligned with users
/// recmix::UserBatch all(all_users, &train, recmix::HistoryRows::by_user_id);  // train rows by id
/// recmix::UserBatch cold(ids, nullptr, recmix::HistoryRows::aligned, demographics);
/// @endcode

#include <Eigen/Core>
#include <span>
#include <string>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/types.hpp"

namespace recmix {

/// How batch row r finds its history row: row r of `history` (aligned), or row users[r]
/// (by_user_id: pass the training matrix itself; new users then have no history).
enum class HistoryRows { aligned, by_user_id };

/// Read-only view of a row-major float feature table (rows aligned with a batch).
using FeatureView = Eigen::Map<const RowMatrixXf, Eigen::Unaligned, Eigen::OuterStride<>>;

class UserBatch {
 public:
  /// users: training-space ids, kNewUser for someone unseen. history: may be null; see
  /// HistoryRows. The batch stores views: the caller keeps users, history and features alive.
  explicit UserBatch(std::span<const Index> users, const InteractionMatrix* history = nullptr,
                     HistoryRows mode = HistoryRows::aligned)
      : users_(users), history_(history), mode_(mode) {
    if (history_ != nullptr && mode_ == HistoryRows::aligned &&
        static_cast<std::size_t>(history_->rows()) != users_.size()) {
      throw invalid_argument("UserBatch: history has " + std::to_string(history_->rows()) +
                             " rows but the batch has " + std::to_string(users_.size()) + " users");
    }
  }

  /// Same, with a feature table of users.size() rows (demographics etc.).
  UserBatch(std::span<const Index> users, const InteractionMatrix* history, HistoryRows mode,
            const RowMatrixXf& features)
      : UserBatch(users, history, mode) {
    set_features(features.data(), features.rows(), features.cols(), features.cols());
  }
  UserBatch(std::span<const Index>, const InteractionMatrix*, HistoryRows, RowMatrixXf&&) = delete;

  [[nodiscard]] std::span<const Index> users() const noexcept { return users_; }
  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(users_.size()); }
  [[nodiscard]] const InteractionMatrix* history() const noexcept { return history_; }
  [[nodiscard]] HistoryRows history_mode() const noexcept { return mode_; }

  /// The feature rows of this batch (0 columns when the batch has none).
  [[nodiscard]] FeatureView features() const noexcept {
    return FeatureView(feature_data_, feature_rows_, feature_cols_, Eigen::OuterStride<>(feature_stride_));
  }

  /// The history of batch row r (empty when there is none).
  [[nodiscard]] SparseRow history_row(Index r) const {
    if (history_ == nullptr) return {};
    if (mode_ == HistoryRows::aligned) return history_->row(offset_ + r);
    const Index u = users_[static_cast<std::size_t>(r)];
    if (u < 0 || u >= history_->rows()) return {};
    return history_->row(u);
  }

  /// The same batch whose features are columns [first, first + count) of this batch's features
  /// (no copies). Lets models that read different feature blocks share one batch (see
  /// recmix::FeatureColumns).
  [[nodiscard]] UserBatch select_features(Index first, Index count) const {
    if (first < 0 || count < 0 || first + count > feature_cols_) {
      throw invalid_argument("UserBatch::select_features: columns [" + std::to_string(first) + ", " +
                             std::to_string(static_cast<long long>(first) + count) + ") outside the batch's " +
                             std::to_string(feature_cols_) + " feature columns");
    }
    UserBatch b(*this);
    b.feature_data_ = count > 0 ? feature_data_ + first : nullptr;
    b.feature_cols_ = count;
    b.feature_rows_ = count > 0 ? feature_rows_ : 0;
    return b;
  }

  /// Rows [begin, end) as a batch of their own (no copies).
  [[nodiscard]] UserBatch slice(Index begin, Index end) const {
    if (begin < 0 || end < begin || end > size()) {
      throw invalid_argument("UserBatch::slice: [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") outside [0, " + std::to_string(size()) + ")");
    }
    UserBatch b(*this);
    b.users_ = users_.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
    if (mode_ == HistoryRows::aligned) b.offset_ = offset_ + begin;
    if (feature_cols_ > 0) {
      b.feature_data_ = feature_data_ + static_cast<std::ptrdiff_t>(begin) * feature_stride_;
      b.feature_rows_ = end - begin;
    }
    return b;
  }

 private:
  void set_features(const float* data, Eigen::Index rows, Eigen::Index cols, Eigen::Index stride) {
    if (cols > 0 && static_cast<std::size_t>(rows) != users_.size()) {
      throw invalid_argument("UserBatch: features have " + std::to_string(rows) + " rows but the batch has " +
                             std::to_string(users_.size()) + " users");
    }
    feature_data_ = data;
    feature_rows_ = cols > 0 ? rows : 0;
    feature_cols_ = cols;
    feature_stride_ = stride;
  }

  std::span<const Index> users_;
  const InteractionMatrix* history_;
  HistoryRows mode_;
  Index offset_ = 0;
  const float* feature_data_ = nullptr;
  Eigen::Index feature_rows_ = 0;
  Eigen::Index feature_cols_ = 0;
  Eigen::Index feature_stride_ = 0;
};

}  // namespace recmix
