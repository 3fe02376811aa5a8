#pragma once
/// @file
/// PopularityRecommender: the baseline every blend should beat, and the component that can score
/// anyone. An item's score is the share of training users who have it — over all users, or over
/// the users of the same segment (a country, an age band: an integer code in a feature column).
///
/// @code
/// recmix::blend::PopularityRecommender popular({.segment_feature = 3, .min_segment_users = 50, .smoothing = 10});
/// popular.fit(additions, segment_codes);     // users x items (> 0 counts); one code per row
/// recmix::UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, features);  // column 3: code
/// auto top = recmix::recommend(popular, batch, 7);
/// @endcode
///
/// Rates: global(i) = (users with a value > 0 for item i) / (users). For a segment s of n_s
/// users of whom c_s(i) have item i: rate(s, i) = (c_s(i) + smoothing * global(i)) / (n_s + smoothing),
/// kept only when n_s >= min_segment_users (smaller segments use the global rates).
/// Segment codes are floats holding integers; NaN means "no segment" (the user counts globally
/// only). At scoring, a row whose code is NaN, not an integer, or a segment not kept gets the
/// global rates, so can_score is 1 for every row.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix::blend {

/// What fit saw.
struct PopularityReport {
  Index users = 0;
  /// Segments kept (>= min_segment_users users).
  Index segments = 0;
  /// Segments seen but too small (their users score with the global rates).
  Index small_segments = 0;
  /// Users whose code was NaN.
  Index users_without_segment = 0;
};

class PopularityRecommender {
 public:
  using scalar_type = float;
  static constexpr const char* kModelKind = "popularity";
  static constexpr unsigned kFormatVersion = 1;

  struct Options {
    /// Column of batch.features() holding the segment code; -1 = global rates only.
    Index segment_feature = -1;
    /// Segments with fewer training users fall back to the global rates.
    double min_segment_users = 30.0;
    /// Pseudo-users at the global rate added to every segment (0 = raw segment rates).
    double smoothing = 0.0;
  };

  PopularityRecommender() = default;
  explicit PopularityRecommender(const Options& options) : options_(options) { validate_options(options_, "PopularityRecommender"); }

  /// Counts the rates. `events`: users x items, a value > 0 counts. `segment_of_user`: one code
  /// per row of events (required when segment_feature >= 0, refused otherwise). The model
  /// changes only when fit succeeds.
  PopularityReport fit(const InteractionMatrix& events, std::span<const float> segment_of_user = {}) {
    constexpr const char* api = "PopularityRecommender::fit";
    if (events.rows() < 1 || events.cols() < 1) {
      throw invalid_argument(std::string(api) + ": events must have at least one user and one item, got " +
                             std::to_string(events.rows()) + " x " + std::to_string(events.cols()));
    }
    const bool segmented = options_.segment_feature >= 0;
    if (segmented && segment_of_user.size() != static_cast<std::size_t>(events.rows())) {
      throw invalid_argument(std::string(api) + ": segment_feature is " + std::to_string(options_.segment_feature) + " so one segment code per user is needed; got " +
                             std::to_string(segment_of_user.size()) + " codes for " + std::to_string(events.rows()) + " users");
    }
    if (!segmented && !segment_of_user.empty()) {
      throw invalid_argument(std::string(api) + ": segment codes given but Options::segment_feature is -1 (they would never be used)");
    }
    PopularityReport report;
    report.users = events.rows();
    const Index n_items = events.cols();
    // Segment of each user (index into `codes`, -1 = none).
    std::map<std::int64_t, Index> seen;
    std::vector<Index> seg(static_cast<std::size_t>(events.rows()), -1);
    if (segmented) {
      for (std::size_t u = 0; u < segment_of_user.size(); ++u) {
        const float c = segment_of_user[u];
        if (std::isnan(c)) {
          ++report.users_without_segment;
          continue;
        }
        const auto code = code_of(c);
        if (!code) {
          throw invalid_argument(std::string(api) + ": segment code of user " + std::to_string(u) + " is " + std::to_string(c) +
                                 "; codes must be integers in [-2^31, 2^31) or NaN");
        }
        seen.emplace(*code, 0);
      }
      Index next = 0;
      for (auto& [code, index] : seen) index = next++;
      for (std::size_t u = 0; u < segment_of_user.size(); ++u) {
        if (!std::isnan(segment_of_user[u])) seg[u] = seen.at(*code_of(segment_of_user[u]));
      }
    }
    const auto n_seen = static_cast<Index>(seen.size());
    std::vector<double> global(static_cast<std::size_t>(n_items), 0.0);
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> counts =
        Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Zero(n_seen, n_items);
    std::vector<double> members(static_cast<std::size_t>(n_seen), 0.0);
    for (Index u = 0; u < events.rows(); ++u) {
      const Index s = seg[static_cast<std::size_t>(u)];
      if (s >= 0) members[static_cast<std::size_t>(s)] += 1.0;
      const SparseRow row = events.row(u);
      for (std::size_t j = 0; j < row.size(); ++j) {
        if (!(row.values[j] > 0.0f)) continue;
        global[static_cast<std::size_t>(row.indices[j])] += 1.0;
        if (s >= 0) counts(s, row.indices[j]) += 1.0;
      }
    }
    const auto n_users = static_cast<double>(events.rows());
    RowMatrixXf global_rates(1, n_items);
    for (Index i = 0; i < n_items; ++i) {
      global[static_cast<std::size_t>(i)] /= n_users;
      global_rates(0, i) = static_cast<float>(global[static_cast<std::size_t>(i)]);
    }
    std::vector<std::int64_t> codes;
    std::vector<double> sizes;
    std::vector<Index> kept;
    for (const auto& [code, index] : seen) {
      if (members[static_cast<std::size_t>(index)] >= options_.min_segment_users) {
        codes.push_back(code);
        sizes.push_back(members[static_cast<std::size_t>(index)]);
        kept.push_back(index);
      } else {
        ++report.small_segments;
      }
    }
    RowMatrixXf rates(static_cast<Index>(kept.size()), n_items);
    for (std::size_t k = 0; k < kept.size(); ++k) {
      const double n_s = sizes[k];
      for (Index i = 0; i < n_items; ++i) {
        const double g = global[static_cast<std::size_t>(i)];
        rates(static_cast<Index>(k), i) =
            static_cast<float>((counts(kept[k], i) + options_.smoothing * g) / (n_s + options_.smoothing));
      }
    }
    report.segments = static_cast<Index>(codes.size());
    n_users_ = events.rows();
    global_ = std::move(global_rates);
    codes_ = std::move(codes);
    rates_ = std::move(rates);
    segment_users_ = std::move(sizes);
    return report;
  }

  // ---- Recommender ---------------------------------------------------------------------------

  [[nodiscard]] Index num_items() const noexcept { return static_cast<Index>(global_.cols()); }

  /// Row r gets its segment's rates (segment_feature >= 0 and the code a kept segment) or the
  /// global rates. A batch with no feature columns scores everyone globally; a batch with some
  /// feature columns but not segment_feature throws.
  void score(const UserBatch& batch, ScoreBlock out) const {
    constexpr const char* api = "PopularityRecommender::score";
    require_fitted(api);
    if (out.rows() != batch.size() || out.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": score block is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                             ", expected " + std::to_string(batch.size()) + " x " + std::to_string(num_items()));
    }
    const FeatureView f = batch.features();
    const bool use_segments = options_.segment_feature >= 0 && f.cols() > 0 && !codes_.empty();
    if (options_.segment_feature >= 0 && f.cols() > 0 && f.cols() <= options_.segment_feature) {
      throw invalid_argument(std::string(api) + ": segment_feature is column " + std::to_string(options_.segment_feature) +
                             " but the batch has " + std::to_string(f.cols()) + " feature columns");
    }
    for (Index r = 0; r < batch.size(); ++r) {
      const Index s = use_segments ? segment_index(f(r, options_.segment_feature)) : -1;
      if (s >= 0) {
        out.row(r) = rates_.row(s);
      } else {
        out.row(r) = global_.row(0);
      }
    }
  }

  /// 1 for every row: popularity can always score (unknown segments use the global rates).
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    if (mask.size() != static_cast<std::size_t>(batch.size())) {
      throw invalid_argument("PopularityRecommender::can_score: mask has " + std::to_string(mask.size()) + " entries, batch has " +
                             std::to_string(batch.size()));
    }
    std::fill(mask.begin(), mask.end(), static_cast<std::uint8_t>(is_fitted() ? 1 : 0));
  }

  // ---- inspection ----------------------------------------------------------------------------

  [[nodiscard]] bool is_fitted() const noexcept { return global_.cols() > 0; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] Index num_users() const noexcept { return n_users_; }
  /// 1 x items: the share of training users holding each item.
  [[nodiscard]] const RowMatrixXf& global_rates() const noexcept { return global_; }
  /// Kept segments, ascending codes; row k of segment_rates() belongs to segment_codes()[k].
  [[nodiscard]] const std::vector<std::int64_t>& segment_codes() const noexcept { return codes_; }
  [[nodiscard]] const RowMatrixXf& segment_rates() const noexcept { return rates_; }
  [[nodiscard]] const std::vector<double>& segment_users() const noexcept { return segment_users_; }
  /// Row of segment_rates() for a code, -1 when the code is NaN, not an integer or not kept.
  [[nodiscard]] Index segment_index(float code) const {
    const auto c = code_of(code);
    if (!c) return -1;
    const auto it = std::lower_bound(codes_.begin(), codes_.end(), *c);
    return it != codes_.end() && *it == *c ? static_cast<Index>(it - codes_.begin()) : -1;
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "segment_feature", options_.segment_feature);
    archive_field(ar, "min_segment_users", options_.min_segment_users);
    archive_field(ar, "smoothing", options_.smoothing);
    archive_field(ar, "users", n_users_);
    archive_field(ar, "global", global_);
    archive_field(ar, "codes", codes_);
    archive_field(ar, "rates", rates_);
    archive_field(ar, "segment_users", segment_users_);
  }

  void on_loaded() {
    constexpr const char* api = "PopularityRecommender::load";
    try {
      validate_options(options_, api);
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    auto rates_ok = [](const RowMatrixXf& m) { return m.size() == 0 || (m.allFinite() && m.minCoeff() >= 0.0f && m.maxCoeff() <= 1.0f); };
    if (n_users_ < 1 || global_.rows() != 1 || global_.cols() < 1 || !rates_ok(global_)) {
      throw model_format_error(std::string(api) + ": the global rates are malformed");
    }
    if (rates_.rows() != static_cast<Eigen::Index>(codes_.size()) || (rates_.rows() > 0 && rates_.cols() != global_.cols()) ||
        segment_users_.size() != codes_.size() || !rates_ok(rates_)) {
      throw model_format_error(std::string(api) + ": the segment table does not match the segment codes");
    }
    for (std::size_t k = 0; k < codes_.size(); ++k) {
      if ((k > 0 && codes_[k] <= codes_[k - 1]) || !(segment_users_[k] >= 1.0) || !std::isfinite(segment_users_[k])) {
        throw model_format_error(std::string(api) + ": segment codes are not strictly increasing or a segment size is invalid");
      }
    }
    if (rates_.rows() == 0) rates_.resize(0, global_.cols());
  }

 private:
  static void validate_options(const Options& o, const char* api) {
    if (o.segment_feature < -1) {
      throw invalid_argument(std::string(api) + ": segment_feature must be >= -1, got " + std::to_string(o.segment_feature));
    }
    if (!(o.min_segment_users >= 0.0) || !std::isfinite(o.min_segment_users)) {
      throw invalid_argument(std::string(api) + ": min_segment_users must be finite and >= 0, got " + std::to_string(o.min_segment_users));
    }
    if (!(o.smoothing >= 0.0) || !std::isfinite(o.smoothing)) {
      throw invalid_argument(std::string(api) + ": smoothing must be finite and >= 0, got " + std::to_string(o.smoothing));
    }
  }

  /// The integer code a float holds, or nothing (NaN, Inf, fraction, out of range).
  static std::optional<std::int64_t> code_of(float c) {
    if (!std::isfinite(c) || std::trunc(c) != c || c < -2147483648.0f || c >= 2147483648.0f) return std::nullopt;
    return static_cast<std::int64_t>(c);
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted");
  }

  Options options_;
  Index n_users_ = 0;
  RowMatrixXf global_;
  std::vector<std::int64_t> codes_;
  RowMatrixXf rates_;
  std::vector<double> segment_users_;
};

static_assert(Recommender<PopularityRecommender>);

}  // namespace recmix::blend
