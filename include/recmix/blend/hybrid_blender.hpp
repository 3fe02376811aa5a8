#pragma once
/// @file
/// HybridBlender: several Recommenders fused into one. Each component's scores are normalised
/// per user (rank, min-max, z-score or none) and summed with weights; for each user, the
/// components that cannot score them (can_score == 0) drop out and the others' weights are
/// renormalised — the cold-start fallback. The blender is itself a Recommender, so blends nest.
///
/// @code
/// using recmix::blend::Normalization;
/// recmix::blend::HybridBlender blend({.weights = {0.5, 0.2, 0.2, 0.1},
///                                     .normalization = {Normalization::rank},
///                                     .names = {"als", "clusters", "trees", "popular"}},
///                                    als, clusters, trees, popular);     // components copied (or moved) in
/// auto report = blend.tune_weights(validation, truth, recmix::metrics::Metric::map, 7);
/// std::cout << report.table();
/// auto top = recmix::recommend(blend, batch, 7);
/// recmix::save(blend, "blend.model");        // <recmix/io/serialization.hpp>; every component serializable
/// @endcode
///
/// Fusion of batch row r (see fusion.hpp): with W_r the sum of the weights of the components of
/// weight > 0 whose can_score is 1 for r, blend(r, i) = sum of (w_c / W_r) * normalised_c(r, i),
/// in double, in component order. A row no component takes part in is 0, and can_score is 0
/// there (recommend pads it with -1). can_score is the OR of the masks of the components of
/// weight > 0. A component that scores NaN or +inf for a row it can score is an error
/// (invalid_argument); -inf stays -inf ("never this item") through normalisation and fusion.
/// Results do not depend on the number of threads.

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "recmix/blend/fusion.hpp"
#include "recmix/blend/normalize.hpp"
#include "recmix/blend/weight_tuning.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"
#include "recmix/metrics/ranking.hpp"

namespace recmix::blend {

template <Recommender... Components>
class HybridBlender {
  static_assert(sizeof...(Components) >= 1, "HybridBlender: a blend needs at least one component");

 public:
  using scalar_type = float;
  using Options = BlendOptions;
  static constexpr const char* kModelKind = "hybrid_blender";
  static constexpr unsigned kFormatVersion = 1;
  static constexpr std::size_t kComponents = sizeof...(Components);

  /// An empty blender, to load() into.
  HybridBlender() = default;

  /// Holds the components by value (pass std::move(model) to avoid a copy). Throws
  /// recmix::invalid_argument for bad options (weights, normalizations, names) or components
  /// that disagree on num_items (naming the two).
  explicit HybridBlender(const BlendOptions& options, Components... components) : components_(std::move(components)...) {
    state_ = detail::make_state(options, kComponents, [this](std::size_t c) { return access().kind(c); }, "HybridBlender");
    detail::check_items(access(), state_, "HybridBlender", false);
  }

  // ---- Recommender ---------------------------------------------------------------------------

  [[nodiscard]] Index num_items() const { return static_cast<Index>(std::get<0>(components_).num_items()); }

  /// out: batch.size() x num_items(). See the file comment.
  void score(const UserBatch& batch, ScoreBlock out) const {
    require_set_up("HybridBlender::score");
    detail::blend_score(access(), state_, batch, out, "HybridBlender::score");
  }

  /// 1 where some component of weight > 0 can score the row.
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    require_set_up("HybridBlender::can_score");
    detail::blend_can_score(access(), state_, batch, mask, "HybridBlender::can_score");
  }

  // ---- weights -------------------------------------------------------------------------------

  /// Searches non-negative weights summing to 1 that maximise `metric` at `k` on `validation`
  /// against `truth` (see weight_tuning.hpp), then adopts them. The blender changes only when
  /// the search succeeds; the weights only when they strictly improve the metric.
  TuneReport tune_weights(const UserBatch& validation, const InteractionMatrix& truth, metrics::Metric metric, Index k,
                          const TuneOptions& options = {}) {
    require_set_up("HybridBlender::tune_weights");
    TuneReport report = detail::tune(access(), state_, validation, truth, metric, k, options, "HybridBlender::tune_weights");
    state_.weights = report.weights_after;
    return report;
  }

  /// Replaces the weights (validated like the constructor's; scaled to sum to 1).
  void set_weights(std::span<const double> weights) {
    state_.weights = detail::checked_weights(weights, kComponents, "HybridBlender::set_weights");
  }
  void set_weights(std::initializer_list<double> weights) { set_weights(std::span<const double>(weights.begin(), weights.size())); }

  /// The weights in use, summing to 1.
  [[nodiscard]] const std::vector<double>& weights() const noexcept { return state_.weights; }
  [[nodiscard]] const std::vector<Normalization>& normalization() const noexcept { return state_.normalization; }
  [[nodiscard]] const std::vector<std::string>& names() const noexcept { return state_.names; }
  [[nodiscard]] static constexpr std::size_t num_components() noexcept { return kComponents; }

  /// Component I (as passed to the constructor).
  template <std::size_t I>
  [[nodiscard]] const auto& component() const noexcept {
    return std::get<I>(components_);
  }

  /// Component c's normalised scores and can_score mask for a batch, as they enter the blend
  /// (whatever its weight): for reports and diagnostics.
  [[nodiscard]] ComponentScores component_scores(const UserBatch& batch, std::size_t c) const {
    require_set_up("HybridBlender::component_scores");
    return detail::component_scores(access(), state_, batch, c, "HybridBlender::component_scores");
  }

  /// Set up (constructed from components or loaded) and every component fitted.
  [[nodiscard]] bool is_fitted() const {
    if (state_.weights.size() != kComponents) return false;
    return std::apply([](const auto&... m) { return (fitted(m) && ...); }, components_);
  }

  // ---- serialization (every component must be serializable) --------------------------------

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    static_assert((requires { Components::kModelKind; } && ...),
                  "HybridBlender::serialize: every component must be a serializable model (kModelKind, serialize())");
    using recmix::detail::archive_field;
    std::uint64_t count = kComponents;
    archive_field(ar, "components", count);
    if (count != kComponents) {
      throw model_format_error("HybridBlender::load: the file holds " + std::to_string(count) + " components, expected " +
                               std::to_string(kComponents));
    }
    archive_field(ar, "weights", state_.weights);
    std::vector<int> normalization;
    for (Normalization z : state_.normalization) normalization.push_back(static_cast<int>(z));
    archive_field(ar, "normalization", normalization);
    state_.normalization.clear();
    for (int z : normalization) {
      if (z < 0 || z > 3) throw model_format_error("HybridBlender::load: unknown normalization " + std::to_string(z));
      state_.normalization.push_back(static_cast<Normalization>(z));
    }
    archive_field(ar, "names", state_.names);
    archive_field(ar, "block_users", state_.block_users);
    archive_field(ar, "threads", state_.threads);
    serialize_components(ar, std::index_sequence_for<Components...>{});
  }

  /// Checks a loaded blender: each component's own checks, then the options and that every
  /// component has the same number of items (model_format_error otherwise).
  void on_loaded() {
    std::apply([](auto&... m) { (loaded(m), ...); }, components_);
    BlendOptions o;
    o.weights = state_.weights;
    o.normalization = state_.normalization;
    o.names = state_.names;
    o.block_users = state_.block_users;
    o.threads = state_.threads;
    if (o.weights.size() != kComponents || o.normalization.size() != kComponents || o.names.size() != kComponents) {
      throw model_format_error("HybridBlender::load: weights, normalizations and names do not match the " + std::to_string(kComponents) +
                               " components");
    }
    try {
      state_ = detail::make_state(o, kComponents, [](std::size_t) { return std::string(); }, "HybridBlender::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    // Saved weights already sum to 1: keep them bit for bit (scaling them again would round them
    // differently, so a model would change on every save and load), and refuse any that do not.
    double sum = 0.0;
    for (double w : o.weights) sum += w;
    if (!(std::abs(sum - 1.0) <= 1e-9)) {
      throw model_format_error("HybridBlender::load: the weights sum to " + std::to_string(sum) + ", not 1");
    }
    state_.weights = o.weights;
    detail::check_items(access(), state_, "HybridBlender::load", true);
  }

 private:
  /// The components by runtime index (for the engine in fusion.hpp).
  class Access {
   public:
    explicit Access(const std::tuple<Components...>& t) : t_(t) {}
    [[nodiscard]] std::size_t size() const noexcept { return kComponents; }
    [[nodiscard]] Index num_items(std::size_t c) const {
      Index n = 0;
      visit(c, [&](const auto& m) { n = static_cast<Index>(m.num_items()); });
      return n;
    }
    void score(std::size_t c, const UserBatch& b, ScoreBlock out) const {
      visit(c, [&](const auto& m) { m.score(b, out); });
    }
    void can_score(std::size_t c, const UserBatch& b, std::span<std::uint8_t> mask) const {
      visit(c, [&](const auto& m) { m.can_score(b, mask); });
    }
    [[nodiscard]] std::string kind(std::size_t c) const {
      std::string k;
      visit(c, [&](const auto& m) {
        using M = std::remove_cvref_t<decltype(m)>;
        if constexpr (requires { M::kModelKind; }) k = M::kModelKind;
      });
      return k;
    }

   private:
    template <class F>
    void visit(std::size_t c, F&& f) const {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((I == c ? (f(std::get<I>(t_)), 0) : 0), ...);
      }(std::index_sequence_for<Components...>{});
    }
    const std::tuple<Components...>& t_;
  };

  [[nodiscard]] Access access() const { return Access(components_); }

  void require_set_up(const char* api) const {
    if (state_.weights.size() != kComponents) {
      throw not_fitted(std::string(api) + ": the blender is empty (construct it from components or load one)");
    }
  }

  template <class M>
  static bool fitted(const M& m) {
    if constexpr (requires { m.is_fitted(); }) {
      return static_cast<bool>(m.is_fitted());
    } else {
      return true;
    }
  }

  template <class M>
  static void loaded(M& m) {
    if constexpr (requires { m.on_loaded(); }) m.on_loaded();
  }

  template <class Archive, std::size_t... I>
  void serialize_components(Archive& ar, std::index_sequence<I...>) {
    (serialize_component<I>(ar), ...);
  }

  template <std::size_t I, class Archive>
  void serialize_component(Archive& ar) {
    using recmix::detail::archive_field;
    using M = std::tuple_element_t<I, std::tuple<Components...>>;
    std::string kind = M::kModelKind;
    archive_field(ar, "kind", kind);
    if (kind != M::kModelKind) {
      throw model_format_error("HybridBlender::load: component " + std::to_string(I) + " is a '" + kind + "' model, expected '" +
                               M::kModelKind + "'");
    }
    archive_field(ar, "component", std::get<I>(components_));
  }

  std::tuple<Components...> components_{};
  detail::BlendState state_{};
};

template <class... Components>
HybridBlender(const BlendOptions&, Components...) -> HybridBlender<Components...>;

}  // namespace recmix::blend
