#pragma once
/// @file
/// ClassifierRecommender: a fitted MultiLabelGBDT as a Recommender. Label l is item l; a user's
/// scores are the predicted probabilities from the batch's feature rows (demographics, and
/// features derived from history such as "held product p last month").
///
/// @code
/// recmix::trees::MultiLabelGBDT gbdt({.rounds = 100});
/// gbdt.fit(features, labels);                                  // labels: users x items of 0/1
/// recmix::trees::ClassifierRecommender rec(std::move(gbdt));
/// recmix::UserBatch batch(users, &history, recmix::HistoryRows::aligned, batch_features);
/// auto top = recmix::recommend(rec, batch, 7);                 // excludes held items by default
/// @endcode
///
/// can_score needs features, not history: it is 1 for a row when the batch carries as many
/// feature columns as the model was fitted on and the row's values are acceptable (no Inf, valid
/// categorical codes; NaN means missing), 0 otherwise.

#include <cstdint>
#include <limits>
#include <span>
#include <vector>
#include <string>
#include <utility>

#include "recmix/core/errors.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"
#include "recmix/trees/multilabel_gbdt.hpp"

namespace recmix::trees {

class ClassifierRecommender {
 public:
  using scalar_type = float;
  static constexpr const char* kModelKind = "classifier_recommender";
  static constexpr unsigned kFormatVersion = 1;

  ClassifierRecommender() = default;
  /// Wraps a fitted model (throws not_fitted otherwise).
  explicit ClassifierRecommender(MultiLabelGBDT model) : model_(std::move(model)) {
    if (!model_.is_fitted()) throw not_fitted("ClassifierRecommender: the model is not fitted");
  }

  [[nodiscard]] Index num_items() const noexcept { return model_.num_labels(); }
  [[nodiscard]] const MultiLabelGBDT& model() const noexcept { return model_; }
  [[nodiscard]] bool is_fitted() const noexcept { return model_.is_fitted(); }

  /// out (batch.size() x num_items()) = predicted probabilities of the batch's feature rows; a
  /// row can_score refuses (Inf, an invalid categorical code) gets 0 in every column.
  void score(const UserBatch& batch, ScoreBlock out) const {
    constexpr const char* api = "ClassifierRecommender::score";
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted");
    if (out.rows() != batch.size() || out.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": output is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) + ", expected " +
                             std::to_string(batch.size()) + " x " + std::to_string(num_items()));
    }
    const auto f = batch.features();
    if (f.cols() != model_.num_features()) {
      throw invalid_argument(std::string(api) + ": the batch has " + std::to_string(f.cols()) + " feature columns but the model needs " +
                             std::to_string(model_.num_features()));
    }
    if (batch.size() == 0) return;
    // Rows can_score refuses (Inf, invalid codes) get 0 and leave the other rows' scores alone.
    std::vector<Index> refused;
    for (Index r = 0; r < batch.size(); ++r) {
      if (!model_.binner().accepts_row(f.data() + static_cast<std::ptrdiff_t>(r) * f.outerStride())) refused.push_back(r);
    }
    if (refused.empty()) {
      model_.predict_proba(f, out);
      return;
    }
    RowMatrixXf clean = f;
    for (Index r : refused) clean.row(r).setConstant(std::numeric_limits<float>::quiet_NaN());
    model_.predict_proba(clean, out);
    for (Index r : refused) out.row(r).setZero();
  }

  /// 1 for a row when the batch has the model's feature columns and the row holds no Inf and
  /// no invalid categorical code (NaN is a missing value and fine), else 0.
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    if (mask.size() != static_cast<std::size_t>(batch.size())) {
      throw invalid_argument("ClassifierRecommender::can_score: mask has " + std::to_string(mask.size()) + " entries for " +
                             std::to_string(batch.size()) + " users");
    }
    const auto f = batch.features();
    if (!is_fitted() || f.cols() != model_.num_features()) {
      for (auto& m : mask) m = 0;
      return;
    }
    for (Index r = 0; r < batch.size(); ++r) {
      mask[static_cast<std::size_t>(r)] = model_.binner().accepts_row(f.data() + static_cast<std::ptrdiff_t>(r) * f.outerStride()) ? 1 : 0;
    }
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    recmix::detail::archive_field(ar, "model", model_);
  }
  void on_loaded() {
    model_.on_loaded();
  }

 private:
  MultiLabelGBDT model_;
};

static_assert(Recommender<ClassifierRecommender>);

}  // namespace recmix::trees
