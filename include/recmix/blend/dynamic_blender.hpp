#pragma once
/// @file
/// The runtime-configured blend: AnyRecommender (any Recommender behind one type) and
/// DynamicBlender (a HybridBlender over a std::vector<AnyRecommender>), for programs that pick
/// their components from a config file rather than at compile time.
///
/// @code
/// std::vector<recmix::blend::AnyRecommender> parts;
/// for (const std::string& name : config.components) {
///   if (name == "als") parts.emplace_back(als);
///   else if (name == "popular") parts.emplace_back(popular);
/// }
/// recmix::blend::DynamicBlender blend({.weights = config.weights}, std::move(parts));
/// blend.tune_weights(validation, truth, recmix::metrics::Metric::map, 7);
/// auto top = recmix::recommend(blend, batch, 7);
/// @endcode
///
/// Fusion, fallback, options, errors and tuning are HybridBlender's (the same engine). An
/// AnyRecommender holds its model immutably and shares it between copies (copies are cheap and
/// safe to use from several threads). DynamicBlender cannot be saved: a file could not say which
/// concrete types to rebuild; save a HybridBlender, or the components one by one.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "recmix/blend/fusion.hpp"
#include "recmix/blend/normalize.hpp"
#include "recmix/blend/weight_tuning.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"
#include "recmix/metrics/ranking.hpp"

namespace recmix::blend {

/// Any Recommender, type-erased (owning; the model is immutable and shared by copies).
class AnyRecommender {
 public:
  /// Empty: every call but kind() and has_value() throws recmix::not_fitted.
  AnyRecommender() = default;

  template <class M>
    requires(!std::is_same_v<std::remove_cvref_t<M>, AnyRecommender> && Recommender<M>)
  AnyRecommender(M model)  // NOLINT(google-explicit-constructor): a model is an AnyRecommender
      : self_(std::make_shared<const Holder<M>>(std::move(model))) {}

  [[nodiscard]] bool has_value() const noexcept { return self_ != nullptr; }
  [[nodiscard]] Index num_items() const { return get("num_items").num_items(); }
  void score(const UserBatch& batch, ScoreBlock out) const { get("score").score(batch, out); }
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const { get("can_score").can_score(batch, mask); }
  /// The model's kModelKind, or "" when it has none or the wrapper is empty.
  [[nodiscard]] std::string kind() const { return self_ ? self_->kind() : std::string(); }

  /// The wrapped model when it is an M, else null.
  template <class M>
  [[nodiscard]] const M* target() const noexcept {
    const auto* h = dynamic_cast<const Holder<M>*>(self_.get());
    return h != nullptr ? &h->model : nullptr;
  }

 private:
  struct Interface {
    virtual ~Interface() = default;
    [[nodiscard]] virtual Index num_items() const = 0;
    virtual void score(const UserBatch& batch, ScoreBlock out) const = 0;
    virtual void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const = 0;
    [[nodiscard]] virtual std::string kind() const = 0;
  };

  template <class M>
  struct Holder final : Interface {
    explicit Holder(M m) : model(std::move(m)) {}
    [[nodiscard]] Index num_items() const override { return static_cast<Index>(model.num_items()); }
    void score(const UserBatch& batch, ScoreBlock out) const override { model.score(batch, out); }
    void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const override { model.can_score(batch, mask); }
    [[nodiscard]] std::string kind() const override {
      if constexpr (requires { M::kModelKind; }) {
        return M::kModelKind;
      } else {
        return {};
      }
    }
    M model;
  };

  const Interface& get(const char* method) const {
    if (!self_) throw not_fitted(std::string("AnyRecommender::") + method + ": the wrapper is empty");
    return *self_;
  }

  std::shared_ptr<const Interface> self_;
};

static_assert(Recommender<AnyRecommender>);

/// A blend of components chosen at run time. Same semantics as HybridBlender.
class DynamicBlender {
 public:
  using Options = BlendOptions;

  /// Throws recmix::invalid_argument for no components, an empty wrapper, bad options or
  /// components that disagree on num_items.
  DynamicBlender(const BlendOptions& options, std::vector<AnyRecommender> components) : components_(std::move(components)) {
    for (std::size_t c = 0; c < components_.size(); ++c) {
      if (!components_[c].has_value()) throw invalid_argument("DynamicBlender: component " + std::to_string(c) + " is empty");
    }
    state_ = detail::make_state(options, components_.size(), [this](std::size_t c) { return components_[c].kind(); }, "DynamicBlender");
    detail::check_items(access(), state_, "DynamicBlender", false);
  }

  [[nodiscard]] Index num_items() const { return components_.front().num_items(); }
  void score(const UserBatch& batch, ScoreBlock out) const { detail::blend_score(access(), state_, batch, out, "DynamicBlender::score"); }
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    detail::blend_can_score(access(), state_, batch, mask, "DynamicBlender::can_score");
  }

  /// As HybridBlender::tune_weights.
  TuneReport tune_weights(const UserBatch& validation, const InteractionMatrix& truth, metrics::Metric metric, Index k,
                          const TuneOptions& options = {}) {
    TuneReport report = detail::tune(access(), state_, validation, truth, metric, k, options, "DynamicBlender::tune_weights");
    state_.weights = report.weights_after;
    return report;
  }

  void set_weights(std::span<const double> weights) {
    state_.weights = detail::checked_weights(weights, components_.size(), "DynamicBlender::set_weights");
  }
  [[nodiscard]] const std::vector<double>& weights() const noexcept { return state_.weights; }
  [[nodiscard]] const std::vector<Normalization>& normalization() const noexcept { return state_.normalization; }
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return state_.names; }
  [[nodiscard]] std::size_t num_components() const noexcept { return components_.size(); }
  [[nodiscard]] const AnyRecommender& component(std::size_t c) const { return components_.at(c); }
  [[nodiscard]] ComponentScores component_scores(const UserBatch& batch, std::size_t c) const {
    return detail::component_scores(access(), state_, batch, c, "DynamicBlender::component_scores");
  }

 private:
  class Access {
   public:
    explicit Access(const std::vector<AnyRecommender>& v) : v_(v) {}
    [[nodiscard]] std::size_t size() const noexcept { return v_.size(); }
    [[nodiscard]] Index num_items(std::size_t c) const { return v_[c].num_items(); }
    void score(std::size_t c, const UserBatch& b, ScoreBlock out) const { v_[c].score(b, out); }
    void can_score(std::size_t c, const UserBatch& b, std::span<std::uint8_t> mask) const { v_[c].can_score(b, mask); }
    [[nodiscard]] std::string kind(std::size_t c) const { return v_[c].kind(); }

   private:
    const std::vector<AnyRecommender>& v_;
  };

  [[nodiscard]] Access access() const { return Access(components_); }

  std::vector<AnyRecommender> components_;
  detail::BlendState state_;
};

static_assert(Recommender<DynamicBlender>);

}  // namespace recmix::blend
