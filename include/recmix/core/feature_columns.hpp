#pragma once
/// @file
/// FeatureColumns: a model that reads only a block of the batch's feature columns. Lets several
/// feature-based models (a cluster recommender on encoded demographics, boosted trees on lag
/// features, popularity on a segment code) share one batch, e.g. inside a HybridBlender.
///
/// @code
/// // batch features: [ 0 .. 140) tree features | [140 .. 190) encoded demographics
/// recmix::FeatureColumns trees(std::move(classifier), 0, 140);
/// recmix::FeatureColumns clusters(std::move(cluster_recommender), 140, 50);
/// recmix::UserBatch batch(users, &history, recmix::HistoryRows::aligned, all_features);
/// trees.score(batch, out);          // the classifier sees columns 0..139 only
/// @endcode

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "recmix/core/errors.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix {

template <Recommender Model>
class FeatureColumns {
 public:
  using model_type = Model;
  using scalar_type = float;
  static constexpr const char* kModelKind = "feature_columns";
  static constexpr unsigned kFormatVersion = 1;

  FeatureColumns() = default;
  /// The model sees columns [first, first + count) of every batch's features.
  FeatureColumns(Model model, Index first, Index count) : model_(std::move(model)), first_(first), count_(count) {
    if (first < 0 || count < 0) {
      throw invalid_argument("FeatureColumns: first (" + std::to_string(first) + ") and count (" + std::to_string(count) +
                             ") must be >= 0");
    }
  }

  [[nodiscard]] Index num_items() const { return static_cast<Index>(model_.num_items()); }
  void score(const UserBatch& batch, ScoreBlock out) const { model_.score(view(batch, "score"), out); }
  /// 0 for every row when the batch has fewer feature columns than first + count.
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    if (first_ + count_ > static_cast<Index>(batch.features().cols())) {
      for (auto& m : mask) m = 0;
      return;
    }
    model_.can_score(batch.select_features(first_, count_), mask);
  }

  [[nodiscard]] const Model& model() const noexcept { return model_; }
  [[nodiscard]] Model& model() noexcept { return model_; }
  [[nodiscard]] bool is_fitted() const {
    if constexpr (requires(const Model& m) { m.is_fitted(); }) return model_.is_fitted();
    return true;
  }
  [[nodiscard]] Index first() const noexcept { return first_; }
  [[nodiscard]] Index count() const noexcept { return count_; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    // The wrapped model's kind travels with it, so a file of FeatureColumns<A> never loads as
    // FeatureColumns<B>.
    std::string kind = inner_kind();
    archive_field(ar, "inner_kind", kind);
    if (kind != inner_kind()) {
      throw model_format_error("FeatureColumns::load: the file wraps a '" + kind + "' model, expected '" + inner_kind() + "'");
    }
    archive_field(ar, "first", first_);
    archive_field(ar, "count", count_);
    archive_field(ar, "model", model_);
  }
  void on_loaded() {
    if (first_ < 0 || count_ < 0) throw model_format_error("FeatureColumns::load: negative column range");
    if constexpr (requires(Model& m) { m.on_loaded(); }) model_.on_loaded();
  }

 private:
  UserBatch view(const UserBatch& batch, const char* method) const {
    if (first_ + count_ > static_cast<Index>(batch.features().cols())) {
      throw invalid_argument(std::string("FeatureColumns::") + method + ": the model reads feature columns [" +
                             std::to_string(first_) + ", " + std::to_string(first_ + count_) + ") but the batch has " +
                             std::to_string(batch.features().cols()));
    }
    return batch.select_features(first_, count_);
  }

  static std::string inner_kind() {
    if constexpr (requires { Model::kModelKind; }) return Model::kModelKind;
    return "";
  }

  Model model_{};
  Index first_ = 0;
  Index count_ = 0;
};

}  // namespace recmix
