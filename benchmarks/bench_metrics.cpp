// Google Benchmark micro-benchmarks of the metrics on generated in-memory data (the model of
// recmix-make-scores: Poisson(1.5) relevant items per user with Zipf-like item popularity, and
// noisy sigmoid scores that rank relevant and popular items higher):
//   evaluate_scores/three_metrics   map, ndcg and recall at k = 7, 24 items, 100k and 1M users
//   evaluate_scores/all_per_k       ndcg, map, precision, recall, hit_rate and mrr at
//                                   k = 1, 3, 5, 7, 10, 24 items, 1M users
//   evaluate_scores/big_catalogue   map, ndcg and recall at k = 7, 1,000 items, 20k users (the
//                                   top-k scan over the catalogue dominates)
//   roc_auc/multi_label             per-label, macro and micro ROC AUC, 1M users x 24 labels
// each on 1 and 2 threads. items_per_second counts users.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>
#include <recmix/metrics/classification.hpp>
#include <recmix/metrics/evaluate.hpp>

namespace {

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::metrics::Metric;

struct Data {
  RowMatrixXf scores;
  InteractionMatrix truth;
};

/// users x items scores and relevance, ~`relevant` relevant items per user (Poisson, so some
/// users have none).
Data generate(Index users, Index items, double relevant, std::uint64_t seed) {
  std::vector<double> weight(static_cast<std::size_t>(items)), offset(static_cast<std::size_t>(items));
  double total_weight = 0.0;
  for (Index i = 0; i < items; ++i) {
    weight[static_cast<std::size_t>(i)] = std::pow(static_cast<double>(i + 1), -1.2);
    offset[static_cast<std::size_t>(i)] = 0.4 * std::log(weight[static_cast<std::size_t>(i)] / weight[0]) - 1.0;
    total_weight += weight[static_cast<std::size_t>(i)];
  }
  recmix::Rng rng(seed);
  Data d;
  d.scores.resize(users, items);
  std::vector<recmix::Offset> indptr(static_cast<std::size_t>(users) + 1, 0);
  std::vector<Index> indices;
  std::vector<std::uint8_t> is_relevant(static_cast<std::size_t>(items));
  const double limit = std::exp(-relevant);
  for (Index u = 0; u < users; ++u) {
    Index n_rel = 0;
    for (double p = rng.uniform_pos(); p > limit && n_rel < items; p *= rng.uniform_pos()) ++n_rel;
    std::fill(is_relevant.begin(), is_relevant.end(), 0);
    double remaining = total_weight;
    for (Index r = 0; r < n_rel; ++r) {
      double x = rng.uniform() * remaining;
      Index pick = -1;
      for (Index i = 0; i < items; ++i) {
        if (is_relevant[static_cast<std::size_t>(i)] != 0) continue;
        pick = i;
        x -= weight[static_cast<std::size_t>(i)];
        if (x < 0.0) break;
      }
      is_relevant[static_cast<std::size_t>(pick)] = 1;
      remaining -= weight[static_cast<std::size_t>(pick)];
    }
    for (Index i = 0; i < items; ++i) {
      const double z = 1.0 * is_relevant[static_cast<std::size_t>(i)] + offset[static_cast<std::size_t>(i)] + rng.normal();
      d.scores(u, i) = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
      if (is_relevant[static_cast<std::size_t>(i)] != 0) indices.push_back(i);
    }
    indptr[static_cast<std::size_t>(u) + 1] = static_cast<recmix::Offset>(indices.size());
  }
  std::vector<float> values(indices.size(), 1.0f);
  d.truth = InteractionMatrix(users, items, std::move(indptr), std::move(indices), std::move(values));
  return d;
}

/// Generated once per shape and kept for the whole run.
const Data& data(Index users, Index items) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<Data>> cache;
  auto& slot = cache[{users, items}];
  if (!slot) slot = std::make_unique<Data>(generate(users, items, 1.5, 42));
  return *slot;
}

/// The relevance of data(users, items) as a dense 0/1 label matrix.
const RowMatrixXf& labels(Index users, Index items) {
  static std::map<std::pair<Index, Index>, std::unique_ptr<RowMatrixXf>> cache;
  auto& slot = cache[{users, items}];
  if (!slot) {
    const InteractionMatrix& t = data(users, items).truth;
    slot = std::make_unique<RowMatrixXf>(RowMatrixXf::Zero(users, items));
    for (Index u = 0; u < users; ++u) {
      for (Index i : t.row(u).indices) (*slot)(u, i) = 1.0f;
    }
  }
  return *slot;
}

void run_evaluate(benchmark::State& state, const Data& d, std::span<const Metric> metrics, std::span<const Index> ks) {
  recmix::metrics::EvaluateOptions o;
  o.threads = static_cast<int>(state.range(1));
  double map_at_7 = 0.0;
  for (auto _ : state) {
    const recmix::metrics::Evaluation e = recmix::metrics::evaluate_scores(d.scores, d.truth, metrics, ks, o);
    // Not DoNotOptimize(map_at_7): GCC can garble a double passed to it (google/benchmark#903).
    benchmark::DoNotOptimize(e.values.data());
    map_at_7 = e.at(Metric::map, 7);
  }
  state.SetItemsProcessed(state.iterations() * d.scores.rows());
  state.counters["map_at_7"] = map_at_7;
}

void three_metrics(benchmark::State& state) {
  const Metric metrics[] = {Metric::map, Metric::ndcg, Metric::recall};
  const Index ks[] = {7};
  run_evaluate(state, data(static_cast<Index>(state.range(0)), 24), metrics, ks);
}

void all_per_k(benchmark::State& state) {
  const Metric metrics[] = {Metric::ndcg, Metric::map, Metric::precision, Metric::recall, Metric::hit_rate, Metric::mrr};
  const Index ks[] = {1, 3, 5, 7, 10};
  run_evaluate(state, data(static_cast<Index>(state.range(0)), 24), metrics, ks);
}

void big_catalogue(benchmark::State& state) {
  const Metric metrics[] = {Metric::map, Metric::ndcg, Metric::recall};
  const Index ks[] = {7};
  run_evaluate(state, data(static_cast<Index>(state.range(0)), 1000), metrics, ks);
}

void multi_label_auc(benchmark::State& state) {
  const auto users = static_cast<Index>(state.range(0));
  const Data& d = data(users, 24);
  const RowMatrixXf& y = labels(users, 24);
  recmix::metrics::ClassificationOptions o;
  o.threads = static_cast<int>(state.range(1));
  double macro = 0.0;
  for (auto _ : state) {
    const recmix::metrics::LabelScores s = recmix::metrics::roc_auc(d.scores, y, o);
    benchmark::DoNotOptimize(s.per_label.data());
    macro = s.macro;
  }
  state.SetItemsProcessed(state.iterations() * users);
  state.counters["macro_auc"] = macro;
}

void threads(benchmark::internal::Benchmark* b, std::vector<std::int64_t> users) {
  b->ArgNames({"users", "threads"})->ArgsProduct({std::move(users), {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(three_metrics)->Name("evaluate_scores/three_metrics")->Apply([](auto* b) { threads(b, {100000, 1000000}); });
BENCHMARK(all_per_k)->Name("evaluate_scores/all_per_k")->Apply([](auto* b) { threads(b, {1000000}); });
BENCHMARK(big_catalogue)->Name("evaluate_scores/big_catalogue")->Apply([](auto* b) { threads(b, {20000}); });
BENCHMARK(multi_label_auc)->Name("roc_auc/multi_label")->Apply([](auto* b) { threads(b, {1000000}); });

}  // namespace

BENCHMARK_MAIN();
