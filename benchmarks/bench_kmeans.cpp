// Google Benchmark micro-benchmarks of recmix::cluster::KMeans<float> on 200,000 x 12 points
// (10 Gaussian blobs, standardized; the recipe of recmix-make-blobs, seed 42):
//   lloyd_iteration/k/threads  one Lloyd iteration from given centres (a fit with max_iter = 1
//                              and init = given; the time is that iteration alone, from the
//                              fit report; fit_ms is the whole call, which also checks X and
//                              assigns once more for the final labels)
//   kmeanspp/k/threads         k-means++ seeding alone (the report's init_seconds)
//   full_fit/algorithm/k       whole fits, max_iter 100, tol 1e-4, seed 0, 2 threads, for
//                              algorithm 0 = lloyd, 1 = hamerly (the same assignments)
// with k in {8, 16, 64} and threads in {1, 2}. items/s counts points: per iteration for the
// first two, point-iterations (rows x iterations) for full fits.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include <recmix/cluster/kmeans.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>

namespace {

using recmix::Index;
using recmix::RowMatrixXf;
using recmix::cluster::KMeans;
using recmix::cluster::KMeansAlgorithm;
using recmix::cluster::KMeansInit;
using recmix::cluster::KMeansReport;

constexpr Index kRows = 200000;
constexpr Index kCols = 12;

/// The blobs of recmix-make-blobs --rows 200000 --cols 12 --blobs 10 --seed 42 (same recipe and
/// random stream; see benchmarks/make_blobs.cpp), kept in memory.
const RowMatrixXf& blobs() {
  static const RowMatrixXf x = [] {
    constexpr int kBlobs = 10;
    recmix::Rng rng(42);
    std::vector<std::vector<double>> centre(kBlobs, std::vector<double>(kCols));
    std::vector<double> sigma(kBlobs), cumulative(kBlobs);
    double total = 0.0;
    for (int b = 0; b < kBlobs; ++b) {
      for (double& c : centre[b]) c = -10.0 + 20.0 * rng.uniform();
      sigma[b] = 0.5 + 2.0 * rng.uniform();
      total += 1.0 + 3.0 * rng.uniform();
      cumulative[b] = total;
    }
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> raw(kRows, kCols);
    for (Index i = 0; i < kRows; ++i) {
      const double u = rng.uniform() * total;
      int b = 0;
      while (b + 1 < kBlobs && cumulative[b] <= u) ++b;
      for (Index j = 0; j < kCols; ++j) raw(i, j) = centre[b][j] + sigma[b] * rng.normal();
    }
    RowMatrixXf out(kRows, kCols);
    for (Index j = 0; j < kCols; ++j) {  // the same operations as make_blobs.cpp, so the same floats
      double mean = 0.0;
      for (Index i = 0; i < kRows; ++i) mean += raw(i, j);
      mean /= static_cast<double>(kRows);
      double var = 0.0;
      for (Index i = 0; i < kRows; ++i) var += (raw(i, j) - mean) * (raw(i, j) - mean);
      const double sd = std::sqrt(var / static_cast<double>(kRows));
      const double scale = sd > 0.0 ? 1.0 / sd : 1.0;
      for (Index i = 0; i < kRows; ++i) out(i, j) = static_cast<float>((raw(i, j) - mean) * scale);
    }
    return out;
  }();
  return x;
}

/// k-means++ centres for k (seed 0), computed once and shared by every thread count.
const RowMatrixXf& seeded_centres(Index k) {
  static std::map<Index, RowMatrixXf> cache;
  auto it = cache.find(k);
  if (it == cache.end()) {
    KMeans<float> km({.k = k, .max_iter = 1, .seed = 0, .threads = 0});
    km.fit(blobs());
    it = cache.emplace(k, km.centroids()).first;
  }
  return it->second;
}

void lloyd_iteration(benchmark::State& state) {
  const Index k = static_cast<Index>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const RowMatrixXf& x = blobs();
  KMeans<float> km({.k = k, .max_iter = 1, .init = KMeansInit::given, .initial_centroids = seeded_centres(k), .threads = threads});
  double fit_seconds = 0.0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const KMeansReport r = km.fit(x);
    fit_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(r.iteration_seconds.front());
    benchmark::DoNotOptimize(r.inertia);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.rows()));
  state.counters["fit_ms"] = benchmark::Counter(1000.0 * fit_seconds / static_cast<double>(state.iterations()));
}

void kmeanspp(benchmark::State& state) {
  const Index k = static_cast<Index>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const RowMatrixXf& x = blobs();
  KMeans<float> km({.k = k, .max_iter = 1, .seed = 0, .threads = threads});
  for (auto _ : state) {
    const KMeansReport r = km.fit(x);
    state.SetIterationTime(r.init_seconds);
    benchmark::DoNotOptimize(r.inertia);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(x.rows()));
}

void full_fit(benchmark::State& state) {
  const bool hamerly = state.range(0) == 1;
  const Index k = static_cast<Index>(state.range(1));
  const RowMatrixXf& x = blobs();
  KMeans<float> km({.k = k,
                    .max_iter = 100,
                    .tol = 1e-4,
                    .seed = 0,
                    .algorithm = hamerly ? KMeansAlgorithm::hamerly : KMeansAlgorithm::lloyd,
                    .threads = 2});
  std::int64_t point_iterations = 0;
  KMeansReport last;
  for (auto _ : state) {
    last = km.fit(x);
    point_iterations += static_cast<std::int64_t>(last.iterations) * static_cast<std::int64_t>(x.rows());
  }
  state.SetItemsProcessed(point_iterations);
  state.SetLabel(hamerly ? "hamerly" : "lloyd");
  state.counters["iterations"] = last.iterations;
  state.counters["init_ms"] = 1000.0 * last.init_seconds;
  state.counters["median_iteration_ms"] = 1000.0 * last.median_iteration_seconds();
  state.counters["inertia"] = last.inertia;
}

BENCHMARK(lloyd_iteration)
    ->ArgNames({"k", "threads"})
    ->ArgsProduct({{8, 16, 64}, {1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(kmeanspp)
    ->ArgNames({"k", "threads"})
    ->ArgsProduct({{8, 16, 64}, {1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(full_fit)
    ->ArgNames({"algorithm", "k"})
    ->ArgsProduct({{0, 1}, {8, 16, 64}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
