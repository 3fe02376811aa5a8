#pragma once
/// @file
/// ClusterRecommender: groups users by their features with k-means and scores each item by how
/// much the users of a cluster hold it. It needs a user's features, not their history, which
/// makes it the cold-start fallback for customers who hold nothing yet.
///
/// @code
/// recmix::cluster::ClusterRecommender clusters({.kmeans = {.k = 32, .seed = 7}});
/// clusters.fit(demographics, train);                 // users x features, users x items
/// recmix::UserBatch batch(new_customers, nullptr, recmix::HistoryRows::aligned, their_features);
/// auto top = recmix::recommend(clusters, batch, 7);  // what their look-alikes hold
/// @endcode
///
/// Scores: table(c, i) = (sum over the users u of cluster c of value(u, i)) / |c|. From an
/// InteractionMatrix, value is 1 when u holds i (Ownership::share, default: the share of the
/// cluster holding the item) or the stored weight (Ownership::weight: e.g. mean months held).
/// From an InteractionLog, every event counts weight x 0.5^((t_last - t) / half_life), so recent
/// months weigh more (half_life = 0: no decay).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recmix/cluster/kmeans.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_log.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix::cluster {

enum class Ownership { share, weight };

class ClusterRecommender {
 public:
  using scalar_type = float;
  static constexpr const char* kModelKind = "cluster_recommender";
  static constexpr unsigned kFormatVersion = 1;

  struct Options {
    KMeans<float>::Options kmeans = {};
    /// From an InteractionMatrix: count holding (share) or the stored weight.
    Ownership ownership = Ownership::share;
    /// From an InteractionLog: half-life of an event's weight, in the log's time unit (0 = none).
    double half_life = 0.0;
  };

  ClusterRecommender() = default;
  explicit ClusterRecommender(const Options& options) : options_(options) {
    validate_options(options_, "ClusterRecommender");
    kmeans_ = KMeans<float>(options_.kmeans);
  }

  /// Fits k-means on `features` (users x f) and the cluster x item table from `user_items`
  /// (the same users, in the same order).
  KMeansReport fit(Eigen::Ref<const RowMatrixXf> features, const InteractionMatrix& user_items, FitObserver& observer) {
    Clustering cl = cluster_users(features, user_items.rows(), user_items.cols(), observer);
    const auto& labels = cl.kmeans.labels();
    for (Index u = 0; u < user_items.rows(); ++u) {
      const Index c = labels[static_cast<std::size_t>(u)];
      RowMatrixXf& table = cl.table;
      const SparseRow row = user_items.row(u);
      for (std::size_t j = 0; j < row.size(); ++j) {
        const float v = options_.ownership == Ownership::share ? (row.values[j] != 0.0f ? 1.0f : 0.0f) : row.values[j];
        table(c, row.indices[j]) += v;
      }
    }
    finish(std::move(cl));
    return cl.report;
  }
  KMeansReport fit(Eigen::Ref<const RowMatrixXf> features, const InteractionMatrix& user_items) {
    NullObserver none;
    return fit(features, user_items, none);
  }

  /// Same, with event weights decayed by age (Options::half_life) from a log over the same users.
  KMeansReport fit(Eigen::Ref<const RowMatrixXf> features, const InteractionLog& log, FitObserver& observer) {
    Clustering cl = cluster_users(features, log.num_users(), log.num_items(), observer);
    const auto& labels = cl.kmeans.labels();
    Timestamp last = std::numeric_limits<Timestamp>::min();
    for (Timestamp t : log.times()) last = std::max(last, t);
    for (std::size_t e = 0; e < log.size(); ++e) {
      const double age = static_cast<double>(last) - static_cast<double>(log.times()[e]);
      const double decay = options_.half_life > 0.0 ? std::exp2(-age / options_.half_life) : 1.0;
      cl.table(labels[static_cast<std::size_t>(log.users()[e])], log.items()[e]) +=
          static_cast<float>(static_cast<double>(log.weights()[e]) * decay);
    }
    finish(std::move(cl));
    return cl.report;
  }
  KMeansReport fit(Eigen::Ref<const RowMatrixXf> features, const InteractionLog& log) {
    NullObserver none;
    return fit(features, log, none);
  }

  // ---- Recommender ---------------------------------------------------------------------------

  [[nodiscard]] Index num_items() const noexcept { return static_cast<Index>(table_.cols()); }

  /// Row r gets the table row of the cluster of features row r (rows without usable features
  /// get 0; can_score says which).
  void score(const UserBatch& batch, ScoreBlock out) const {
    constexpr const char* api = "ClusterRecommender::score";
    require_fitted(api);
    check_batch(batch, out, api);
    const FeatureView f = batch.features();
    for (Index r = 0; r < batch.size(); ++r) {
      const Index c = cluster_of_row(f, r);
      if (c < 0) {
        out.row(r).setZero();
      } else {
        out.row(r) = table_.row(c);
      }
    }
  }

  /// 1 where the batch has a finite feature row of the right width.
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    require_fitted("ClusterRecommender::can_score");
    if (mask.size() != static_cast<std::size_t>(batch.size())) {
      throw invalid_argument("ClusterRecommender::can_score: mask has " + std::to_string(mask.size()) + " entries for " +
                             std::to_string(batch.size()) + " users");
    }
    const FeatureView f = batch.features();
    for (Index r = 0; r < batch.size(); ++r) {
      mask[static_cast<std::size_t>(r)] = f.cols() == kmeans_.num_features() && f.row(r).allFinite() ? 1 : 0;
    }
  }

  /// Cluster of each feature row (throws on a width mismatch or non-finite values).
  [[nodiscard]] std::vector<Index> clusters(Eigen::Ref<const RowMatrixXf> features) const {
    require_fitted("ClusterRecommender::clusters");
    return kmeans_.predict(features);
  }

  [[nodiscard]] bool is_fitted() const noexcept { return kmeans_.is_fitted() && table_.rows() > 0; }
  [[nodiscard]] const KMeans<float>& kmeans() const noexcept { return kmeans_; }
  /// clusters x items.
  [[nodiscard]] const RowMatrixXf& table() const noexcept { return table_; }
  /// Training users in each cluster.
  [[nodiscard]] const std::vector<double>& cluster_sizes() const noexcept { return sizes_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "ownership", options_.ownership);
    archive_field(ar, "half_life", options_.half_life);
    archive_field(ar, "kmeans", kmeans_);
    archive_field(ar, "table", table_);
    archive_field(ar, "sizes", sizes_);
  }

  void on_loaded() {
    kmeans_.on_loaded();
    options_.kmeans = kmeans_.options();
    try {
      validate_options(options_, "ClusterRecommender::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    if (table_.rows() != kmeans_.num_clusters() || !table_.allFinite() ||
        sizes_.size() != static_cast<std::size_t>(table_.rows())) {
      throw model_format_error("ClusterRecommender::load: the score table does not match the clusters");
    }
  }

 private:
  static void validate_options(const Options& o, const char* api) {
    if (!(o.half_life >= 0.0) || !std::isfinite(o.half_life)) {
      throw invalid_argument(std::string(api) + ": half_life must be finite and >= 0, got " + std::to_string(o.half_life));
    }
    if (static_cast<int>(o.ownership) < 0 || static_cast<int>(o.ownership) > 1) throw invalid_argument(std::string(api) + ": unknown ownership");
  }

  static void check_rows(Eigen::Index feature_rows, Index users, const char* api) {
    if (feature_rows != users) {
      throw invalid_argument(std::string(api) + ": features have " + std::to_string(feature_rows) + " rows but there are " +
                             std::to_string(users) + " users");
    }
  }

  void check_batch(const UserBatch& batch, const ScoreBlock& out, const char* api) const {
    if (out.rows() != batch.size() || out.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": score block is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                             ", expected " + std::to_string(batch.size()) + " x " + std::to_string(num_items()));
    }
    const FeatureView f = batch.features();
    if (f.cols() != 0 && f.cols() != kmeans_.num_features()) {
      throw invalid_argument(std::string(api) + ": the batch has " + std::to_string(f.cols()) + " feature columns but the model was fitted on " +
                             std::to_string(kmeans_.num_features()));
    }
  }

  Index cluster_of_row(const FeatureView& f, Index r) const {
    if (f.cols() != kmeans_.num_features() || !f.row(r).allFinite()) return -1;
    Eigen::RowVectorXf x = f.row(r);
    return kmeans_.predict_row(std::span<const float>(x.data(), static_cast<std::size_t>(x.size())));
  }

  /// A fit in progress: the clustering, the table of sums and the cluster sizes.
  struct Clustering {
    KMeans<float> kmeans;
    KMeansReport report;
    RowMatrixXf table;
    std::vector<double> members;
  };

  Clustering cluster_users(Eigen::Ref<const RowMatrixXf> features, Index users, Index items, FitObserver& observer) const {
    check_rows(features.rows(), users, "ClusterRecommender::fit");
    Clustering cl{KMeans<float>(options_.kmeans), {}, RowMatrixXf::Zero(options_.kmeans.k, items),
                  std::vector<double>(static_cast<std::size_t>(options_.kmeans.k), 0.0)};
    cl.report = cl.kmeans.fit(features, {}, observer);
    for (Index c : cl.kmeans.labels()) cl.members[static_cast<std::size_t>(c)] += 1.0;
    return cl;
  }

  /// Turns the sums into means and adopts the result (the model changes only here).
  void finish(Clustering&& cl) {
    for (Index c = 0; c < cl.table.rows(); ++c) {
      const double m = cl.members[static_cast<std::size_t>(c)];
      if (m > 0) cl.table.row(c) /= static_cast<float>(m);
    }
    kmeans_ = std::move(cl.kmeans);
    table_ = std::move(cl.table);
    sizes_ = std::move(cl.members);
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted");
  }

  Options options_;
  KMeans<float> kmeans_;
  RowMatrixXf table_;
  std::vector<double> sizes_;
};

static_assert(Recommender<ClusterRecommender>);

}  // namespace recmix::cluster
