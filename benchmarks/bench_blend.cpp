// Google Benchmark micro-benchmarks of recmix::blend on 100,000 synthetic users x 24 items
// (Santander's shape): each user holds item i with a skewed probability, and has 8 features,
// column 0 an integer segment code in 0..9. Three components, fitted once:
//   ALS (16 factors, 5 iterations), ClusterRecommender (k = 16), PopularityRecommender (per
//   segment). Benchmarks:
//   component_score/c      score all 100k users with component c alone (0 als, 1 clusters,
//                          2 popularity), one call
//   blend_score/norm/thr   the 3-component blend, normalisation norm (0 none, 1 rank,
//                          2 min_max, 3 z_score), thr threads
//   blend_recommend/thr    recommend(blend, all users, 7), thr threads
//   tune_weights/thr       tune_weights for MAP@7 against a held-out month of additions
//                          (about 3% of users have one), thr threads
// items/s counts users.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include <recmix/als/implicit_als.hpp>
#include <recmix/blend/hybrid_blender.hpp>
#include <recmix/blend/popularity.hpp>
#include <recmix/cluster/cluster_recommender.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>

namespace {

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::blend::HybridBlender;
using recmix::blend::Normalization;
using recmix::blend::PopularityRecommender;

constexpr Index kUsers = 100000;
constexpr Index kItems = 24;
constexpr Index kFeatures = 8;

struct Data {
  InteractionMatrix train;
  InteractionMatrix truth;
  RowMatrixXf features;
  std::vector<float> segments;
  std::vector<Index> users;
  recmix::als::ImplicitALS<float> als{{.factors = 16, .iterations = 5, .seed = 1}};
  recmix::cluster::ClusterRecommender clusters{{.kmeans = {.k = 16, .seed = 2}}};
  PopularityRecommender popular{{.segment_feature = 0, .min_segment_users = 100, .smoothing = 10}};

  Data() {
    recmix::Rng rng(42);
    features.resize(kUsers, kFeatures);
    segments.resize(kUsers);
    std::vector<Index> tu, ti, vu, vi;
    for (Index u = 0; u < kUsers; ++u) {
      const auto seg = static_cast<Index>(rng.below(10));
      features(u, 0) = static_cast<float>(seg);
      segments[static_cast<std::size_t>(u)] = static_cast<float>(seg);
      for (Index j = 1; j < kFeatures; ++j) features(u, j) = static_cast<float>(rng.normal() + 0.3 * seg);
      for (Index i = 0; i < kItems; ++i) {
        // Skewed popularity, shifted by segment.
        const double p = 0.4 * std::exp(-0.25 * i) * (1.0 + 0.1 * ((seg + i) % 5));
        if (rng.uniform() < p) {
          tu.push_back(u);
          ti.push_back(i);
        } else if (rng.uniform() < 0.0015 * (1 + (seg + i) % 3)) {
          vu.push_back(u);
          vi.push_back(i);
        }
      }
    }
    train = InteractionMatrix::from_triplets(kUsers, kItems, tu, ti, std::vector<float>(tu.size(), 1.0f));
    truth = InteractionMatrix::from_triplets(kUsers, kItems, vu, vi, std::vector<float>(vu.size(), 1.0f));
    users.resize(kUsers);
    for (Index u = 0; u < kUsers; ++u) users[static_cast<std::size_t>(u)] = u;
    als.fit(train);
    clusters.fit(features, train);
    popular.fit(train, segments);
  }
};

const Data& data() {
  static const Data d;
  return d;
}

recmix::UserBatch batch_of(const Data& d) {
  return recmix::UserBatch(d.users, &d.train, recmix::HistoryRows::by_user_id, d.features);
}

void component_score(benchmark::State& state) {
  const Data& d = data();
  const auto batch = batch_of(d);
  RowMatrixXf out(kUsers, kItems);
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0: d.als.score(batch, out); break;
      case 1: d.clusters.score(batch, out); break;
      default: d.popular.score(batch, out); break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kUsers);
}
BENCHMARK(component_score)->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

void blend_score(benchmark::State& state) {
  const Data& d = data();
  const auto batch = batch_of(d);
  HybridBlender blend({.normalization = {static_cast<Normalization>(state.range(0))}, .threads = static_cast<int>(state.range(1))}, d.als,
                      d.clusters, d.popular);
  RowMatrixXf out(kUsers, kItems);
  for (auto _ : state) {
    blend.score(batch, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kUsers);
}
BENCHMARK(blend_score)->ArgsProduct({{0, 1, 2, 3}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

void blend_recommend(benchmark::State& state) {
  const Data& d = data();
  const auto batch = batch_of(d);
  HybridBlender blend({}, d.als, d.clusters, d.popular);
  for (auto _ : state) {
    auto top = recmix::recommend(blend, batch, 7, {.threads = static_cast<int>(state.range(0))});
    benchmark::DoNotOptimize(top.items.data());
  }
  state.SetItemsProcessed(state.iterations() * kUsers);
}
BENCHMARK(blend_recommend)->DenseRange(1, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

void tune_weights(benchmark::State& state) {
  const Data& d = data();
  const auto batch = batch_of(d);
  recmix::blend::TuneReport report;
  for (auto _ : state) {
    HybridBlender blend({.threads = static_cast<int>(state.range(0))}, d.als, d.clusters, d.popular);
    report = blend.tune_weights(batch, d.truth, recmix::metrics::Metric::map, 7, {.truth_rows = recmix::HistoryRows::by_user_id});
    benchmark::DoNotOptimize(report.metric_after);
  }
  state.counters["evaluations"] = static_cast<double>(report.evaluations);
  state.counters["users"] = static_cast<double>(report.users);
  state.counters["map7_before"] = report.metric_before;
  state.counters["map7_after"] = report.metric_after;
  state.SetItemsProcessed(state.iterations() * kUsers);
}
BENCHMARK(tune_weights)->DenseRange(1, 2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
