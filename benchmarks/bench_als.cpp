// Google Benchmark micro-benchmarks of implicit ALS on generated matrices (recmix/datasets/synthetic.hpp):
//   fit_iteration  one fit with iterations = 1 (includes the transpose and factor init; the
//                  counter iteration_ms is the iteration alone)
//   recommend_all  top-10 for every user, own items excluded, on a model fitted beforehand
// for a scaled-down Santander shape (100k x 24) and a scaled-down medium shape (20k x 4k,
// 1M nonzeros), with args {factors, threads} in {32, 64} x {1, 2}.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <numeric>
#include <utility>
#include <vector>

#include <recmix/als/implicit_als.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/user_batch.hpp>

#include <recmix/datasets/synthetic.hpp>

namespace {

using recmix::Index;
using recmix::InteractionMatrix;
using Model = recmix::als::ImplicitALS<float>;

const InteractionMatrix& santander_100k() {
  static const InteractionMatrix m = [] {
    recmix::datasets::SyntheticSpec s;
    s.shape = recmix::datasets::SyntheticShape::santander;
    s.users = 100000;
    s.items = 24;
    s.seed = 7;
    return recmix::datasets::synthetic_interactions(s);
  }();
  return m;
}

const InteractionMatrix& medium_20k() {
  static const InteractionMatrix m = [] {
    recmix::datasets::SyntheticSpec s;
    s.shape = recmix::datasets::SyntheticShape::medium;
    s.users = 20000;
    s.items = 4000;
    s.nnz = 1000000;
    s.seed = 7;
    return recmix::datasets::synthetic_interactions(s);
  }();
  return m;
}

Model::Options options(const benchmark::State& state, int iterations) {
  Model::Options o;
  o.factors = static_cast<Index>(state.range(0));
  o.threads = static_cast<int>(state.range(1));
  o.iterations = iterations;
  return o;
}

void fit_iteration(benchmark::State& state, const InteractionMatrix& (*matrix)()) {
  const InteractionMatrix& m = matrix();
  Model als(options(state, 1));
  double iteration_seconds = 0.0;
  for (auto _ : state) {
    const recmix::FitReport report = als.fit(m);
    iteration_seconds += report.iteration_seconds.front();
    benchmark::DoNotOptimize(als.item_factors().data());
  }
  state.counters["iteration_ms"] =
      benchmark::Counter(1000.0 * iteration_seconds / static_cast<double>(state.iterations()));
  state.counters["nnz"] = static_cast<double>(m.nnz());
}

/// A model per (matrix, factors), fitted once with all cores and kept for the whole run.
const Model& fitted(const InteractionMatrix& m, Index factors) {
  static std::map<std::pair<const InteractionMatrix*, Index>, std::unique_ptr<Model>> cache;
  auto& slot = cache[{&m, factors}];
  if (!slot) {
    Model::Options o;
    o.factors = factors;
    o.iterations = 3;
    slot = std::make_unique<Model>(o);
    slot->fit(m);
  }
  return *slot;
}

void recommend_all(benchmark::State& state, const InteractionMatrix& (*matrix)()) {
  const InteractionMatrix& m = matrix();
  const Model& model = fitted(m, static_cast<Index>(state.range(0)));
  std::vector<Index> users(static_cast<std::size_t>(m.rows()));
  std::iota(users.begin(), users.end(), 0);
  const recmix::UserBatch batch(users, &m, recmix::HistoryRows::by_user_id);
  recmix::RecommendOptions opt;
  opt.exclude_history = true;
  opt.threads = static_cast<int>(state.range(1));
  for (auto _ : state) {
    recmix::Recommendations top = recmix::recommend(model, batch, 10, opt);
    benchmark::DoNotOptimize(top.items.data());
  }
  state.SetItemsProcessed(state.iterations() * m.rows());
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"factors", "threads"})
      ->ArgsProduct({{32, 64}, {1, 2}})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

BENCHMARK_CAPTURE(fit_iteration, santander_100k, &santander_100k)->Apply(args);
BENCHMARK_CAPTURE(fit_iteration, medium_20k, &medium_20k)->Apply(args);
BENCHMARK_CAPTURE(recommend_all, santander_100k, &santander_100k)->Apply(args);
BENCHMARK_CAPTURE(recommend_all, medium_20k, &medium_20k)->Apply(args);

}  // namespace

BENCHMARK_MAIN();
