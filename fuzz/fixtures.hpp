#pragma once
// Small fitted models of every saveable kind (the seeds of the model-loader corpora), and how
// each fuzz target uses a model it loaded. Deterministic: the same models on every run.

#include <cmath>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "recmix/recmix.hpp"

namespace recmix::fuzz {

using ALSf = als::ImplicitALS<float>;
using ALSd = als::ImplicitALS<double>;
using Trees = FeatureColumns<trees::ClassifierRecommender>;
using Clusters = FeatureColumns<cluster::ClusterRecommender>;
using Blender = blend::HybridBlender<blend::PopularityRecommender, ALSf, Clusters>;

inline constexpr Index kUsers = 24;
inline constexpr Index kItems = 6;
inline constexpr Index kFeatures = 3;

/// A deterministic users x items 0/1 matrix (about a third filled; every user holds something).
inline InteractionMatrix fixture_interactions() {
  std::vector<Index> users, items;
  std::vector<float> weights;
  for (Index u = 0; u < kUsers; ++u) {
    for (Index i = 0; i < kItems; ++i) {
      if ((u * 7 + i * 5) % 3 == 0 || i == u % kItems) {
        users.push_back(u);
        items.push_back(i);
        weights.push_back(1.0f + static_cast<float>((u + i) % 3));
      }
    }
  }
  return InteractionMatrix::from_triplets(kUsers, kItems, users, items, weights);
}

/// users x kFeatures: two clusters' worth of demographics; column 2 holds a segment code 0/1.
inline RowMatrixXf fixture_features(Index rows = kUsers) {
  RowMatrixXf f(rows, kFeatures);
  for (Index r = 0; r < rows; ++r) {
    f(r, 0) = static_cast<float>(r % 2 == 0 ? 1.0 + 0.1 * static_cast<double>(r % 5) : -1.0 - 0.05 * static_cast<double>(r % 7));
    f(r, 1) = static_cast<float>(std::sin(static_cast<double>(r)));
    f(r, 2) = static_cast<float>(r % 2);
  }
  return f;
}

inline RowMatrixXf fixture_labels() {
  RowMatrixXf y = RowMatrixXf::Zero(kUsers, kItems);
  for (Index u = 0; u < kUsers; ++u) {
    for (Index i = 0; i < kItems; ++i) y(u, i) = (u * 7 + i * 5) % 3 == 0 || i == u % kItems ? 1.0f : 0.0f;
  }
  return y;
}

inline ALSf fixture_als_float() {
  ALSf m({.factors = 3, .iterations = 3, .threads = 1, .seed = 1});
  m.fit(fixture_interactions());
  return m;
}

inline ALSd fixture_als_double() {
  ALSd m({.factors = 2, .iterations = 2, .threads = 1, .seed = 2});
  m.fit(fixture_interactions());
  return m;
}

template <class S>
cluster::KMeans<S> fixture_kmeans() {
  cluster::KMeans<S> km({.k = 3, .seed = 3, .threads = 1});
  const RowMatrixXf f = fixture_features();
  km.fit(f.cast<S>());
  return km;
}

inline cluster::ClusterRecommender fixture_cluster_recommender() {
  cluster::ClusterRecommender c({.kmeans = {.k = 2, .seed = 4, .threads = 1}});
  c.fit(fixture_features(), fixture_interactions());
  return c;
}

inline features::StandardScaler fixture_scaler() {
  features::StandardScaler s;
  s.fit(fixture_features());
  return s;
}

inline const std::vector<std::string>& fixture_sex() {
  static const std::vector<std::string> v = {"H", "V", "H", "", "V", "H"};
  return v;
}
inline const std::vector<std::string>& fixture_segment() {
  static const std::vector<std::string> v = {"01 - TOP", "02 - PARTICULARES", "03 - UNIVERSITARIO", "02 - PARTICULARES",
                                             "02 - PARTICULARES", "01 - TOP"};
  return v;
}

inline features::OneHotEncoder fixture_one_hot() {
  features::OneHotEncoder e({.missing = features::MissingCategory::own_category});
  e.fit({{"sex", fixture_sex()}, {"segment", fixture_segment()}});
  return e;
}

inline features::OrdinalEncoder fixture_ordinal() {
  features::OrdinalEncoder e({.missing = features::MissingCategory::own_category});
  e.fit({{"sex", fixture_sex()}, {"segment", fixture_segment()}});
  return e;
}

inline trees::FeatureBinner fixture_binner() {
  trees::FeatureBinner b({.max_bin = 8, .min_category_count = 2});
  const std::vector<Index> categorical = {2};
  b.fit(fixture_features(), categorical);
  return b;
}

/// Generated text of train_ver2.csv's format: `customers` customers over 3 months.
inline std::string fixture_santander_text(Index customers, std::uint64_t seed) {
  datasets::santander::GenerateOptions o;
  o.customers = customers;
  o.months = 3;
  o.seed = seed;
  std::ostringstream text;
  datasets::santander::generate(o, text);
  return std::move(text).str();
}

/// A few customers of the Santander format, parsed once (the demographic encoder's input).
inline const datasets::santander::Dataset& fixture_santander() {
  static const datasets::santander::Dataset d = [] {
    datasets::santander::LoadOptions load;
    load.threads = 1;
    return datasets::santander::parse(fixture_santander_text(40, 5), load);
  }();
  return d;
}

inline std::vector<Index> all_customers(const datasets::santander::Dataset& d) {
  std::vector<Index> c(static_cast<std::size_t>(d.num_customers()));
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<Index>(i);
  return c;
}

inline datasets::santander::DemographicEncoder fixture_demographic_encoder() {
  const auto& d = fixture_santander();
  datasets::santander::DemographicEncoder e({.max_channels = 3, .max_provinces = 3, .min_frequency = 2});
  e.fit(d, static_cast<Index>(d.months.size()) - 1, all_customers(d));
  return e;
}

inline trees::MultiLabelGBDT fixture_gbdt() {
  trees::MultiLabelGBDT m({.rounds = 3, .learning_rate = 0.3, .max_depth = 2, .min_child_weight = 0.1, .seed = 6, .threads = 1});
  m.fit(fixture_features(), fixture_labels());
  return m;
}

inline trees::ClassifierRecommender fixture_classifier() { return trees::ClassifierRecommender(fixture_gbdt()); }

inline Trees fixture_trees() { return Trees(fixture_classifier(), 0, kFeatures); }

inline blend::PopularityRecommender fixture_popularity() {
  blend::PopularityRecommender p({.segment_feature = 2, .min_segment_users = 2.0, .smoothing = 1.0});
  const RowMatrixXf f = fixture_features();
  std::vector<float> codes(static_cast<std::size_t>(kUsers));
  for (Index u = 0; u < kUsers; ++u) codes[static_cast<std::size_t>(u)] = f(u, 2);
  p.fit(fixture_interactions(), codes);
  return p;
}

inline Blender fixture_blender() {
  return Blender({.weights = {0.2, 0.5, 0.3}, .names = {"popularity", "als", "clusters"}, .threads = 1}, fixture_popularity(),
                 fixture_als_float(), Clusters(fixture_cluster_recommender(), 0, kFeatures));
}

// ---- using a loaded model ------------------------------------------------------------------------

/// Scores a batch of two users (the first known one and a new user) with `width` feature columns,
/// and asks can_score; the point is that nothing crashes and the scores are computed.
template <class Model>
void score_batch(const Model& model, Index known_users, Index width) {
  if (width < 0 || width > 4096) return;
  std::vector<Index> users = {known_users > 0 ? 0 : kNewUser, kNewUser};
  RowMatrixXf features = fixture_features(2).leftCols(std::min<Index>(width, kFeatures));
  if (width > kFeatures) {
    RowMatrixXf wide = RowMatrixXf::Zero(2, width);
    wide.leftCols(kFeatures) = features;
    features = wide;
  }
  const std::vector<Index> first_two = {0, 1};
  const InteractionMatrix history = fixture_interactions().select_rows(first_two);
  const UserBatch batch(users, &history, HistoryRows::aligned, features);
  std::vector<std::uint8_t> mask(2, 0);
  model.can_score(batch, std::span<std::uint8_t>(mask));
  const Index items = static_cast<Index>(model.num_items());
  if (items <= 0 || items > 100000) return;
  RowMatrixXf out(2, items);
  model.score(batch, out);
}

inline RowMatrixXf probe_rows(Index cols) {
  RowMatrixXf x(3, cols);
  for (Index r = 0; r < 3; ++r) {
    for (Index c = 0; c < cols; ++c) x(r, c) = static_cast<float>(r) - 0.5f * static_cast<float>(c % 3);
  }
  x(2, 0) = std::nanf("");
  return x;
}

}  // namespace recmix::fuzz
