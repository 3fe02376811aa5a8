// Google Benchmark micro-benchmarks of recmix::trees on 100,000 generated rows x 20 features
// (8 continuous, two of them with ~3% missing values; 12 categorical codes with 2..50 levels)
// and 24 labels (prevalences from 40% down to 0.5%), built in memory from recmix::Rng(7):
//   binner_fit_transform/threads  FeatureBinner::fit then transform of all rows, 255 bins
//   gbdt_fit/mode/threads         MultiLabelGBDT::fit, 5 rounds, depth 6, learning rate 0.1,
//                                 255 bins, for mode 0 = multi_output (one tree of 24-value
//                                 leaves per round), 1 = one_vs_rest (24 trees per round);
//                                 binning included (the fit bins its input)
//   predict_proba/mode/threads    predict_proba of all rows from a 20-round model (test rows
//                                 are binned inside the call, as in use)
// with threads in {1, 2}. items/s counts rows: per call for binning and prediction, row-rounds
// (rows x rounds) for fits. Counters: per-round milliseconds and the trees grown.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>
#include <recmix/trees/binning.hpp>
#include <recmix/trees/multilabel_gbdt.hpp>

namespace {

using recmix::Index;
using recmix::RowMatrixXf;
using recmix::trees::FeatureBinner;
using recmix::trees::GBDTReport;
using recmix::trees::MultiLabelGBDT;
using recmix::trees::MultiLabelMode;

constexpr Index kRows = 100000;
constexpr Index kContinuous = 8;
constexpr Index kCategorical = 12;
constexpr Index kFeatures = kContinuous + kCategorical;
constexpr Index kLabels = 24;
constexpr int kLevels[kCategorical] = {2, 3, 4, 6, 8, 10, 12, 16, 20, 30, 40, 50};

struct Problem {
  RowMatrixXf X;
  RowMatrixXf Y;
  std::vector<Index> categorical;
};

/// Features: continuous columns standard normal (x1 depends on x0; x2 and x5 ~3% NaN);
/// categorical codes with skewed frequencies (code k drawn with weight 1 / (k + 1)). Labels:
/// logit_l = b_l + 1.2 z_(l mod 4) + a label-specific effect of one code, with four shared
/// scores z mixing thresholds, a product, a sine and code effects.
const Problem& problem() {
  static const Problem p = [] {
    recmix::Rng rng(7);
    Problem out;
    out.X.resize(kRows, kFeatures);
    out.Y.resize(kRows, kLabels);
    for (Index j = 0; j < kCategorical; ++j) out.categorical.push_back(kContinuous + j);
    // Per categorical level: an effect on each shared score; per label: its own code effect.
    std::vector<std::vector<double>> level_effect(kCategorical);
    for (Index j = 0; j < kCategorical; ++j) {
      for (int k = 0; k < kLevels[j]; ++k) level_effect[static_cast<std::size_t>(j)].push_back(rng.normal());
    }
    std::vector<double> own(static_cast<std::size_t>(kLabels) * 50);
    for (double& v : own) v = 0.8 * rng.normal();
    std::vector<double> bias(static_cast<std::size_t>(kLabels));
    for (Index l = 0; l < kLabels; ++l) {
      // Prevalence from 40% to 0.5%, geometric in l (before the noise of the scores).
      const double prev = 0.4 * std::pow(0.005 / 0.4, static_cast<double>(l) / (kLabels - 1));
      bias[static_cast<std::size_t>(l)] = std::log(prev / (1.0 - prev)) - 0.5;
    }
    for (Index i = 0; i < kRows; ++i) {
      double x[kContinuous];
      for (double& v : x) v = rng.normal();
      x[1] = 0.6 * x[0] + 0.8 * x[1];
      int code[kCategorical];
      for (Index j = 0; j < kCategorical; ++j) {
        // Weight 1 / (k + 1): inverse-CDF over the harmonic sums.
        double total = 0.0;
        for (int k = 0; k < kLevels[j]; ++k) total += 1.0 / (k + 1);
        double u = rng.uniform() * total;
        int k = 0;
        while (k + 1 < kLevels[j] && u >= 1.0 / (k + 1)) u -= 1.0 / (k++ + 1);
        code[j] = k;
      }
      for (Index j = 0; j < kContinuous; ++j) out.X(i, j) = static_cast<float>(x[j]);
      for (Index j = 0; j < kCategorical; ++j) out.X(i, kContinuous + j) = static_cast<float>(code[j]);
      if (rng.uniform() < 0.03) out.X(i, 2) = std::numeric_limits<float>::quiet_NaN();
      if (rng.uniform() < 0.03) out.X(i, 5) = std::numeric_limits<float>::quiet_NaN();
      auto effect = [&](Index j) { return level_effect[static_cast<std::size_t>(j)][static_cast<std::size_t>(code[j])]; };
      const double z[4] = {
          (x[0] > 0.5 ? 1.0 : -0.3) + 0.5 * effect(5) + (std::isnan(out.X(i, 2)) ? 0.8 : 0.3 * x[2]),
          x[3] * x[4] * 0.7 + 0.6 * effect(7),
          std::sin(2.0 * x[1]) + 0.5 * effect(9) - 0.4 * x[6],
          0.8 * std::tanh(x[5]) + 0.5 * effect(10) + 0.5 * effect(11),
      };
      for (Index l = 0; l < kLabels; ++l) {
        const Index j = l % kCategorical;
        const double logit = bias[static_cast<std::size_t>(l)] + 1.2 * z[l % 4] +
                             own[static_cast<std::size_t>(l) * 50 + static_cast<std::size_t>(code[j])];
        out.Y(i, l) = rng.uniform() < 1.0 / (1.0 + std::exp(-logit)) ? 1.0F : 0.0F;
      }
    }
    return out;
  }();
  return p;
}

MultiLabelGBDT::Options options(MultiLabelMode mode, int rounds, int threads) {
  return {.rounds = rounds,
          .learning_rate = 0.1,
          .max_depth = 6,
          .max_bin = 255,
          .categorical_features = problem().categorical,
          .threads = threads,
          .mode = mode};
}

MultiLabelMode mode_of(std::int64_t arg) { return arg == 0 ? MultiLabelMode::multi_output : MultiLabelMode::one_vs_rest; }

/// A 20-round model per (mode, threads), fitted once and shared by the prediction benchmarks.
const MultiLabelGBDT& fitted(MultiLabelMode mode, int threads) {
  static std::map<std::pair<int, int>, MultiLabelGBDT> cache;
  const std::pair<int, int> key{static_cast<int>(mode), threads};
  auto it = cache.find(key);
  if (it == cache.end()) {
    MultiLabelGBDT model(options(mode, 20, threads));
    model.fit(problem().X, problem().Y);
    it = cache.emplace(key, std::move(model)).first;
  }
  return it->second;
}

void binner_fit_transform(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Problem& p = problem();
  FeatureBinner binner({.max_bin = 255, .threads = threads});
  for (auto _ : state) {
    binner.fit(p.X, p.categorical);
    recmix::trees::BinnedMatrix bins = binner.transform(p.X);
    benchmark::DoNotOptimize(bins.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows));
  state.counters["total_bins"] = binner.total_bins();
}

void gbdt_fit(benchmark::State& state) {
  const MultiLabelMode mode = mode_of(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  constexpr int kRounds = 5;
  const Problem& p = problem();
  MultiLabelGBDT model(options(mode, kRounds, threads));
  GBDTReport last;
  for (auto _ : state) {
    last = model.fit(p.X, p.Y);
    benchmark::DoNotOptimize(model.trees().data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows) * kRounds);
  state.SetLabel(mode == MultiLabelMode::multi_output ? "multi_output" : "one_vs_rest");
  state.counters["binning_ms"] = 1000.0 * last.binning_seconds;
  state.counters["median_round_ms"] = 1000.0 * last.median_iteration_seconds();
  state.counters["trees"] = static_cast<double>(model.trees().size());
  state.counters["train_loss"] = last.train_loss.back();
}

void predict_proba(benchmark::State& state) {
  const MultiLabelMode mode = mode_of(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const MultiLabelGBDT& model = fitted(mode, threads);
  RowMatrixXf out(kRows, kLabels);
  for (auto _ : state) {
    model.predict_proba(problem().X, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kRows));
  state.SetLabel(mode == MultiLabelMode::multi_output ? "multi_output" : "one_vs_rest");
  state.counters["trees"] = static_cast<double>(model.trees().size());
}

BENCHMARK(binner_fit_transform)->ArgNames({"threads"})->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(gbdt_fit)->ArgNames({"mode", "threads"})->ArgsProduct({{0, 1}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(predict_proba)->ArgNames({"mode", "threads"})->ArgsProduct({{0, 1}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
