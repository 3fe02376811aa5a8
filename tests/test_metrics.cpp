// Unit tests of the metrics layer: the single-user ranking metrics on hand-computed cases, their
// properties on random data, evaluate / evaluate_scores / evaluate_lists against a brute-force
// reference written here, every documented throw path, and the classification metrics (ROC AUC,
// F1, log-loss) against hand values and an O(n^2) pairwise AUC.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/metrics/classification.hpp>
#include <recmix/metrics/evaluate.hpp>
#include <recmix/metrics/ranking.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXd;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::metrics::ApDivisor;
using recmix::metrics::Gain;
using recmix::metrics::IdealDcg;
using recmix::metrics::Metric;
using recmix::metrics::RankingOptions;
using recmix::metrics::RecallDivisor;
using recmix::metrics::UserAveraging;
namespace rm = recmix::metrics;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kDoubleNaN = std::numeric_limits<double>::quiet_NaN();

/// Tight comparison for values computed in a different order than the library does.
doctest::Approx near(double v) { return doctest::Approx(v).epsilon(1e-12); }

double lg(double x) { return std::log2(x); }

std::vector<Index> random_permutation(Index n, recmix::Rng& rng) {
  std::vector<Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[static_cast<std::size_t>(j)]);
  }
  return p;
}

/// A users x items matrix from per-user (item, gain) lists.
InteractionMatrix matrix_of(Index rows, Index cols, const std::vector<std::vector<std::pair<Index, float>>>& cells) {
  std::vector<Index> u, i;
  std::vector<float> w;
  for (std::size_t r = 0; r < cells.size(); ++r) {
    for (const auto& [item, gain] : cells[r]) {
      u.push_back(static_cast<Index>(r));
      i.push_back(item);
      w.push_back(gain);
    }
  }
  return InteractionMatrix::from_triplets(rows, cols, u, i, w);
}

}  // namespace

// ================================================================================================
// 1. Single-user ranking metrics, hand-computed
// ================================================================================================

TEST_CASE("Ranking metrics: the issue's example, AP@k under every divisor") {
  // relevant {1, 3, 4}; ranked 1, 2, 3, 4 -> hits at ranks 1, 3, 4 with precision@r 1/1, 2/3, 3/4.
  const std::vector<Index> ranked = {1, 2, 3, 4};
  const std::vector<Index> relevant = {1, 3, 4};
  const RankingOptions min_k{.ap_divisor = ApDivisor::min_k_relevant};
  const RankingOptions by_rel{.ap_divisor = ApDivisor::relevant};
  const RankingOptions by_k{.ap_divisor = ApDivisor::k};

  // AP@1: sum = 1/1 = 1; divisors min(1, 3) = 1, |rel| = 3, k = 1.
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 1) == near(1.0));  // default = min_k_relevant
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 1, min_k) == near(1.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 1, by_rel) == near(1.0 / 3.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 1, by_k) == near(1.0));

  // AP@2: rank 2 (item 2) misses, sum = 1; divisors min(2, 3) = 2, 3, 2.
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 2, min_k) == near(0.5));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 2, by_rel) == near(1.0 / 3.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 2, by_k) == near(0.5));

  // AP@3: sum = 1 + 2/3 = 5/3; every divisor is 3.
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 3, min_k) == near(5.0 / 9.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 3, by_rel) == near(5.0 / 9.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 3, by_k) == near(5.0 / 9.0));

  // AP@4: sum = 1 + 2/3 + 3/4 = 29/12; divisors min(4, 3) = 3, 3, 4.
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 4, min_k) == near(29.0 / 36.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 4, by_rel) == near(29.0 / 36.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 4, by_k) == near(29.0 / 48.0));

  // AP@10 on a 4-item list: the sum stays 29/12; divisors 3, 3, 10.
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 10, min_k) == near(29.0 / 36.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 10, by_rel) == near(29.0 / 36.0));
  CHECK(rm::average_precision_at_k(ranked, {relevant}, 10, by_k) == near(29.0 / 120.0));

  // A miss first: ranked 5, 2, 3, 1 -> hits at ranks 3 and 4, sum = 1/3 + 2/4 = 5/6.
  const std::vector<Index> late = {5, 2, 3, 1};
  CHECK(rm::average_precision_at_k(late, {relevant}, 2, min_k) == 0.0);
  CHECK(rm::average_precision_at_k(late, {relevant}, 4, min_k) == near(5.0 / 18.0));  // / 3
  CHECK(rm::average_precision_at_k(late, {relevant}, 4, by_k) == near(5.0 / 24.0));   // / 4
}

TEST_CASE("Ranking metrics: NDCG with binary relevance, IdealDcg::relevant_in_k vs all_k") {
  const std::vector<Index> ranked = {1, 2, 3, 4};
  const std::vector<Index> relevant = {1, 3, 4};
  const RankingOptions in_k{.ideal = IdealDcg::relevant_in_k};
  const RankingOptions all_k{.ideal = IdealDcg::all_k};

  // DCG@4 = 1/log2 2 + 0/log2 3 + 1/log2 4 + 1/log2 5 = 1 + 1/2 + 1/log2 5.
  const double dcg4 = 1.0 + 0.5 + 1.0 / lg(5);
  // IDCG over min(4, 3) = 3 ranks: 1 + 1/log2 3 + 1/2; over all 4 ranks: + 1/log2 5.
  const double idcg3 = 1.0 + 1.0 / lg(3) + 0.5;
  const double idcg4 = idcg3 + 1.0 / lg(5);
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 4) == near(dcg4 / idcg3));  // default = relevant_in_k
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 4, in_k) == near(dcg4 / idcg3));
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 4, all_k) == near(dcg4 / idcg4));
  // The value the header's example gives.
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 4) == near((1 + 0.5 + 1 / lg(5)) / (1 + 1 / lg(3) + 0.5)));

  // k = 1: DCG = IDCG = 1.
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 1, in_k) == near(1.0));
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 1, all_k) == near(1.0));
  // k = 2 (< |rel|): DCG = 1, both ideals = 1 + 1/log2 3.
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 2, in_k) == near(1.0 / (1.0 + 1.0 / lg(3))));
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 2, all_k) == near(1.0 / (1.0 + 1.0 / lg(3))));
  // k = 6 on a 4-item list: DCG stays dcg4; all_k's ideal runs over 6 ranks.
  double idcg6 = 0.0;
  for (int r = 1; r <= 6; ++r) idcg6 += 1.0 / lg(r + 1);
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 6, in_k) == near(dcg4 / idcg3));
  CHECK(rm::ndcg_at_k(ranked, {relevant}, 6, all_k) == near(dcg4 / idcg6));

  // Hits at ranks 3 and 4 only: DCG = 1/log2 4 + 1/log2 5.
  const std::vector<Index> late = {5, 2, 3, 1};
  CHECK(rm::ndcg_at_k(late, {relevant}, 4) == near((0.5 + 1.0 / lg(5)) / idcg3));
  CHECK(rm::ndcg_at_k(late, {relevant}, 2) == 0.0);
}

TEST_CASE("Ranking metrics: graded gains, linear and exponential") {
  // Gains: item 1 -> 1, item 3 -> 3, item 4 -> 2; ranked 1, 2, 3, 4.
  const std::vector<Index> ranked = {1, 2, 3, 4};
  const std::vector<Index> items = {1, 3, 4};
  const std::vector<float> gains = {1.0f, 3.0f, 2.0f};
  const rm::RelevantItems rel{items, gains};
  const RankingOptions linear{.gain = Gain::linear};
  const RankingOptions expo{.gain = Gain::exponential};

  // Linear: DCG@4 = 1/1 + 0 + 3/log2 4 + 2/log2 5; IDCG (gains 3, 2, 1) = 3 + 2/log2 3 + 1/2.
  const double dcg_lin = 1.0 + 3.0 / 2.0 + 2.0 / lg(5);
  const double idcg_lin = 3.0 + 2.0 / lg(3) + 0.5;
  CHECK(rm::ndcg_at_k(ranked, rel, 4) == near(dcg_lin / idcg_lin));
  CHECK(rm::ndcg_at_k(ranked, rel, 4, linear) == near(dcg_lin / idcg_lin));
  // Exponential gains 2^g - 1: item 1 -> 1, item 3 -> 7, item 4 -> 3.
  // DCG@4 = 1 + 7/2 + 3/log2 5; IDCG (7, 3, 1) = 7 + 3/log2 3 + 1/2.
  const double dcg_exp = 1.0 + 7.0 / 2.0 + 3.0 / lg(5);
  const double idcg_exp = 7.0 + 3.0 / lg(3) + 0.5;
  CHECK(rm::ndcg_at_k(ranked, rel, 4, expo) == near(dcg_exp / idcg_exp));
  // k = 2: DCG = gain(item 1) = 1 either way; IDCG = 3 + 2/log2 3 (linear), 7 + 3/log2 3 (exp).
  CHECK(rm::ndcg_at_k(ranked, rel, 2, linear) == near(1.0 / (3.0 + 2.0 / lg(3))));
  CHECK(rm::ndcg_at_k(ranked, rel, 2, expo) == near(1.0 / (7.0 + 3.0 / lg(3))));
  // all_k repeats the largest gain over all k ranks: 3 (linear) or 7 (exponential) per rank.
  const double disc4 = 1.0 + 1.0 / lg(3) + 0.5 + 1.0 / lg(5);
  CHECK(rm::ndcg_at_k(ranked, rel, 4, {.ideal = IdealDcg::all_k}) == near(dcg_lin / (3.0 * disc4)));
  CHECK(rm::ndcg_at_k(ranked, rel, 4, {.ideal = IdealDcg::all_k, .gain = Gain::exponential}) ==
        near(dcg_exp / (7.0 * disc4)));

  // A listed item with gain 0 is not relevant: item 2 (ranked second) changes nothing.
  const std::vector<Index> items0 = {1, 3, 4, 2};
  const std::vector<float> gains0 = {1.0f, 3.0f, 2.0f, 0.0f};
  const rm::RelevantItems rel0{items0, gains0};
  CHECK(rm::ndcg_at_k(ranked, rel0, 4) == near(dcg_lin / idcg_lin));
  CHECK(rm::precision_at_k(ranked, rel0, 4) == near(3.0 / 4.0));
  CHECK(rm::recall_at_k(ranked, rel0, 4) == near(1.0));  // 3 hits / |rel| = 3
  CHECK(rm::reciprocal_rank_at_k(std::vector<Index>{2, 4}, rel0, 2) == near(0.5));

  // The binary metrics ignore gain sizes: precision@4 = 3/4, AP@4 = 29/36 as in the binary case.
  CHECK(rm::precision_at_k(ranked, rel, 4, expo) == near(0.75));
  CHECK(rm::average_precision_at_k(ranked, rel, 4, expo) == near(29.0 / 36.0));
}

TEST_CASE("Ranking metrics: precision, recall (both divisors), hit rate, reciprocal rank") {
  const std::vector<Index> ranked = {1, 2, 3, 4};
  const std::vector<Index> relevant = {1, 3, 4};
  const RankingOptions rel_div{.recall_divisor = RecallDivisor::relevant};
  const RankingOptions mink_div{.recall_divisor = RecallDivisor::min_k_relevant};

  // Hits in the first k: 1, 1, 2, 3 for k = 1..4.
  CHECK(rm::precision_at_k(ranked, {relevant}, 1) == near(1.0));
  CHECK(rm::precision_at_k(ranked, {relevant}, 2) == near(0.5));
  CHECK(rm::precision_at_k(ranked, {relevant}, 3) == near(2.0 / 3.0));
  CHECK(rm::precision_at_k(ranked, {relevant}, 4) == near(0.75));
  CHECK(rm::precision_at_k(ranked, {relevant}, 8) == near(3.0 / 8.0));  // still divided by k

  // recall = hits / |rel| (default) or hits / min(k, |rel|).
  CHECK(rm::recall_at_k(ranked, {relevant}, 1) == near(1.0 / 3.0));
  CHECK(rm::recall_at_k(ranked, {relevant}, 1, rel_div) == near(1.0 / 3.0));
  CHECK(rm::recall_at_k(ranked, {relevant}, 1, mink_div) == near(1.0));        // 1 / 1
  CHECK(rm::recall_at_k(ranked, {relevant}, 2, rel_div) == near(1.0 / 3.0));
  CHECK(rm::recall_at_k(ranked, {relevant}, 2, mink_div) == near(0.5));        // 1 / 2
  CHECK(rm::recall_at_k(ranked, {relevant}, 3, rel_div) == near(2.0 / 3.0));
  CHECK(rm::recall_at_k(ranked, {relevant}, 3, mink_div) == near(2.0 / 3.0));  // 2 / 3
  CHECK(rm::recall_at_k(ranked, {relevant}, 4, rel_div) == near(1.0));
  CHECK(rm::recall_at_k(ranked, {relevant}, 4, mink_div) == near(1.0));        // 3 / 3

  for (Index k = 1; k <= 5; ++k) {
    CHECK(rm::hit_rate_at_k(ranked, {relevant}, k) == 1.0);
    CHECK(rm::reciprocal_rank_at_k(ranked, {relevant}, k) == near(1.0));
  }

  // ranked 5, 2, 3, 1: first hit at rank 3, second at rank 4.
  const std::vector<Index> late = {5, 2, 3, 1};
  CHECK(rm::hit_rate_at_k(late, {relevant}, 1) == 0.0);
  CHECK(rm::hit_rate_at_k(late, {relevant}, 2) == 0.0);
  CHECK(rm::hit_rate_at_k(late, {relevant}, 3) == 1.0);
  CHECK(rm::reciprocal_rank_at_k(late, {relevant}, 2) == 0.0);
  CHECK(rm::reciprocal_rank_at_k(late, {relevant}, 3) == near(1.0 / 3.0));
  CHECK(rm::reciprocal_rank_at_k(late, {relevant}, 4) == near(1.0 / 3.0));
  CHECK(rm::precision_at_k(late, {relevant}, 4) == near(0.5));
  CHECK(rm::recall_at_k(late, {relevant}, 4) == near(2.0 / 3.0));
  CHECK(rm::recall_at_k(late, {relevant}, 4, mink_div) == near(2.0 / 3.0));
  CHECK(rm::recall_at_k(late, {relevant}, 2, mink_div) == 0.0);
}

TEST_CASE("Ranking metrics: lists shorter than k and lists padded with -1") {
  const std::vector<Index> relevant = {1, 3, 4};
  const double idcg3 = 1.0 + 1.0 / lg(3) + 0.5;
  double idcg5_all = 0.0;
  for (int r = 1; r <= 5; ++r) idcg5_all += 1.0 / lg(r + 1);

  // ranked 2, 3 at k = 5: one hit (item 3) at rank 2.
  for (const std::vector<Index>& ranked : {std::vector<Index>{2, 3}, std::vector<Index>{2, 3, -1, -1, -1}}) {
    CAPTURE(ranked.size());
    CHECK(rm::precision_at_k(ranked, {relevant}, 5) == near(1.0 / 5.0));
    CHECK(rm::recall_at_k(ranked, {relevant}, 5) == near(1.0 / 3.0));
    CHECK(rm::recall_at_k(ranked, {relevant}, 5, {.recall_divisor = RecallDivisor::min_k_relevant}) == near(1.0 / 3.0));
    CHECK(rm::hit_rate_at_k(ranked, {relevant}, 5) == 1.0);
    CHECK(rm::reciprocal_rank_at_k(ranked, {relevant}, 5) == near(0.5));
    // AP: (1/2) / min(5, 3) = 1/6; with divisor k: (1/2) / 5.
    CHECK(rm::average_precision_at_k(ranked, {relevant}, 5) == near(1.0 / 6.0));
    CHECK(rm::average_precision_at_k(ranked, {relevant}, 5, {.ap_divisor = ApDivisor::k}) == near(1.0 / 10.0));
    // NDCG: (1/log2 3) / IDCG.
    CHECK(rm::ndcg_at_k(ranked, {relevant}, 5) == near((1.0 / lg(3)) / idcg3));
    CHECK(rm::ndcg_at_k(ranked, {relevant}, 5, {.ideal = IdealDcg::all_k}) == near((1.0 / lg(3)) / idcg5_all));
  }

  // Empty slots keep their rank: -1, 2, -1, 3, 1 -> hits at ranks 4 and 5.
  const std::vector<Index> holes = {-1, 2, -1, 3, 1};
  CHECK(rm::precision_at_k(holes, {relevant}, 5) == near(2.0 / 5.0));
  CHECK(rm::recall_at_k(holes, {relevant}, 5) == near(2.0 / 3.0));
  CHECK(rm::reciprocal_rank_at_k(holes, {relevant}, 5) == near(1.0 / 4.0));
  CHECK(rm::reciprocal_rank_at_k(holes, {relevant}, 3) == 0.0);
  CHECK(rm::average_precision_at_k(holes, {relevant}, 5) == near((1.0 / 4.0 + 2.0 / 5.0) / 3.0));  // 13/60
  CHECK(rm::ndcg_at_k(holes, {relevant}, 5) == near((1.0 / lg(5) + 1.0 / lg(6)) / idcg3));

  // An empty list has no hit at all.
  const std::vector<Index> none;
  CHECK(rm::ndcg_at_k(none, {relevant}, 3) == 0.0);
  CHECK(rm::average_precision_at_k(none, {relevant}, 3) == 0.0);
  CHECK(rm::precision_at_k(none, {relevant}, 3) == 0.0);
  CHECK(rm::recall_at_k(none, {relevant}, 3) == 0.0);
  CHECK(rm::hit_rate_at_k(none, {relevant}, 3) == 0.0);
  CHECK(rm::reciprocal_rank_at_k(none, {relevant}, 3) == 0.0);
}

TEST_CASE("Ranking metrics: a user without relevant items scores 0") {
  const std::vector<Index> ranked = {1, 2, 3};
  const std::vector<Index> no_items;
  const std::vector<Index> zero_items = {1, 2};
  const std::vector<float> zero_gains = {0.0f, 0.0f};  // listed but not relevant
  const std::vector<RankingOptions> all_options = {
      {},
      {.ideal = IdealDcg::all_k, .ap_divisor = ApDivisor::k, .recall_divisor = RecallDivisor::min_k_relevant},
      {.ap_divisor = ApDivisor::relevant, .gain = Gain::exponential, .users = UserAveraging::all_users}};
  for (const rm::RelevantItems& rel : {rm::RelevantItems{no_items}, rm::RelevantItems{zero_items, zero_gains}}) {
    for (const auto& o : all_options) {
      for (Index k : {1, 3, 10}) {
        CHECK(rm::ndcg_at_k(ranked, rel, k, o) == 0.0);
        CHECK(rm::average_precision_at_k(ranked, rel, k, o) == 0.0);
        CHECK(rm::precision_at_k(ranked, rel, k, o) == 0.0);
        CHECK(rm::recall_at_k(ranked, rel, k, o) == 0.0);
        CHECK(rm::hit_rate_at_k(ranked, rel, k, o) == 0.0);
        CHECK(rm::reciprocal_rank_at_k(ranked, rel, k, o) == 0.0);
      }
    }
  }
}

TEST_CASE("Ranking metrics: invalid arguments throw") {
  using recmix::invalid_argument;
  const std::vector<Index> ranked = {1, 2, 3};
  const std::vector<Index> relevant = {1, 3};
  using Fn = double (*)(std::span<const Index>, const rm::RelevantItems&, Index, const RankingOptions&);
  const std::vector<std::pair<Fn, const char*>> fns = {
      {&rm::ndcg_at_k, "ndcg_at_k"},
      {&rm::average_precision_at_k, "average_precision_at_k"},
      {&rm::precision_at_k, "precision_at_k"},
      {&rm::recall_at_k, "recall_at_k"},
      {&rm::hit_rate_at_k, "hit_rate_at_k"},
      {&rm::reciprocal_rank_at_k, "reciprocal_rank_at_k"}};
  const std::vector<Index> dup = {1, 3, 1};
  const std::vector<float> two_gains = {1.0f, 2.0f};
  const std::vector<Index> three = {1, 3, 4};
  const std::vector<float> negative = {1.0f, -0.5f, 2.0f};
  const std::vector<float> nan = {1.0f, kNaN, 2.0f};
  const std::vector<float> inf = {1.0f, kInf, 2.0f};
  const std::vector<float> good = {1.0f, 0.5f, 2.0f};
  for (const auto& [fn, fn_name] : fns) {
    const auto name = fn_name;  // CAPTURE's lambda cannot capture a structured binding before clang 16
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(fn(ranked, {relevant}, 0, {}), doctest::Contains("k must be >= 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(fn(ranked, {relevant}, 0, {}), doctest::Contains(name), invalid_argument);
    CHECK_THROWS_AS(fn(ranked, {relevant}, -3, {}), invalid_argument);
    CHECK_THROWS_WITH_AS(fn(ranked, {three, two_gains}, 2, {}), doctest::Contains("gains"), invalid_argument);
    CHECK_THROWS_WITH_AS(fn(ranked, {dup}, 2, {}), doctest::Contains("listed twice"), invalid_argument);
    CHECK_THROWS_AS(fn(ranked, {three, negative}, 2, {}), invalid_argument);
    CHECK_THROWS_AS(fn(ranked, {three, nan}, 2, {}), invalid_argument);
    CHECK_THROWS_AS(fn(ranked, {three, inf}, 2, {}), invalid_argument);
    // The same arguments with valid values are accepted.
    CHECK_NOTHROW(fn(ranked, {three, good}, 2, {}));
    CHECK_NOTHROW(fn(ranked, {relevant}, 1, {}));
  }
}

// ================================================================================================
// 2. Properties on random data
// ================================================================================================

TEST_CASE("Ranking metrics: a perfect ranking scores 1") {
  recmix::Rng rng(20240601);
  for (int trial = 0; trial < 60; ++trial) {
    const auto n = static_cast<Index>(5 + rng.below(40));
    const auto m = static_cast<Index>(1 + rng.below(static_cast<std::uint64_t>(n)));
    const std::vector<Index> perm = random_permutation(n, rng);
    std::vector<Index> items(perm.begin(), perm.begin() + m);
    std::vector<float> gains;
    for (Index j = 0; j < m; ++j) gains.push_back(static_cast<float>(1 + rng.below(4)));  // graded, with ties
    // Perfect: relevant items by descending gain, then the rest.
    std::vector<std::size_t> order(static_cast<std::size_t>(m));
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return gains[a] > gains[b]; });
    std::vector<Index> ranked;
    for (std::size_t j : order) ranked.push_back(items[j]);
    ranked.insert(ranked.end(), perm.begin() + m, perm.end());
    const rm::RelevantItems rel{items, gains};
    CAPTURE(trial);
    for (Index k = 1; k <= n + 2; ++k) {
      CAPTURE(k);
      const double cut = std::min(k, m);
      CHECK(rm::ndcg_at_k(ranked, rel, k) == near(1.0));
      CHECK(rm::ndcg_at_k(ranked, rel, k, {.gain = Gain::exponential}) == near(1.0));
      CHECK(rm::average_precision_at_k(ranked, rel, k) == near(1.0));
      CHECK(rm::recall_at_k(ranked, rel, k, {.recall_divisor = RecallDivisor::min_k_relevant}) == near(1.0));
      CHECK(rm::hit_rate_at_k(ranked, rel, k) == 1.0);
      CHECK(rm::reciprocal_rank_at_k(ranked, rel, k) == near(1.0));
      CHECK(rm::precision_at_k(ranked, rel, k) == near(cut / k));
      CHECK(rm::recall_at_k(ranked, rel, k) == near(cut / m));
    }
  }
}

TEST_CASE("evaluate_scores: a perfect score matrix scores 1, a reversed one AUC 0") {
  recmix::Rng rng(77);
  const Index n_users = 200, n_items = 25;
  RowMatrixXf perfect(n_users, n_items), reversed(n_users, n_items);
  std::vector<std::vector<std::pair<Index, float>>> cells(static_cast<std::size_t>(n_users));
  for (Index u = 0; u < n_users; ++u) {
    for (Index i = 0; i < n_items; ++i) {
      const bool relevant = rng.uniform() < 0.2 || i == u % n_items;
      const float gain = relevant ? static_cast<float>(1 + rng.below(3)) : 0.0f;
      if (relevant) cells[static_cast<std::size_t>(u)].emplace_back(i, gain);
      // Relevant items above every other, in gain order; the rest below 1 with random ties.
      const float other = static_cast<float>(rng.below(4)) / 4.0f;
      perfect(u, i) = relevant ? 10.0f + gain : other;
      reversed(u, i) = relevant ? -10.0f - gain : other;
    }
  }
  const InteractionMatrix truth = matrix_of(n_users, n_items, cells);
  const std::vector<Metric> metrics = {Metric::ndcg, Metric::map, Metric::recall, Metric::hit_rate, Metric::mrr, Metric::auc};
  const std::vector<Index> ks = {1, 2, 5, 25};
  const rm::EvaluateOptions opt{.ranking = {.recall_divisor = RecallDivisor::min_k_relevant}};
  const auto good = rm::evaluate_scores(perfect, truth, metrics, ks, opt);
  for (const auto& v : good.values) {
    CAPTURE(rm::metric_name(v.metric));
    CAPTURE(v.k);
    CHECK(v.mean == near(1.0));
    CHECK(v.users == n_users);
  }
  const auto bad = rm::evaluate_scores(reversed, truth, metrics, ks, opt);
  CHECK(bad.at(Metric::auc) == 0.0);
  // With all 25 items ranked, every relevant item is found even in reverse: recall@25 = 1.
  CHECK(bad.at(Metric::recall, 25) == near(1.0));
}

TEST_CASE("Ranking metrics: a reversed ranking scores the closed-form value") {
  // n items, m relevant (binary), ranked with the m relevant items last: hits at ranks
  // n-m+1 .. n, so hits(k) = max(0, k - (n - m)).
  recmix::Rng rng(4242);
  for (int trial = 0; trial < 60; ++trial) {
    const auto n = static_cast<Index>(3 + rng.below(30));
    const auto m = static_cast<Index>(1 + rng.below(static_cast<std::uint64_t>(n - 1)));
    const std::vector<Index> perm = random_permutation(n, rng);
    std::vector<Index> relevant(perm.begin(), perm.begin() + m);
    std::vector<Index> ranked(perm.begin() + m, perm.end());
    ranked.insert(ranked.end(), relevant.begin(), relevant.end());
    const Index first = n - m + 1;  // rank of the first hit
    CAPTURE(trial);
    for (Index k = 1; k <= n; ++k) {
      CAPTURE(k);
      const Index hits = std::max<Index>(0, k - (n - m));
      double ap = 0.0, dcg = 0.0, idcg = 0.0;
      for (Index j = 1; j <= hits; ++j) {
        ap += static_cast<double>(j) / static_cast<double>(n - m + j);  // j-th hit sits at rank n - m + j
        dcg += 1.0 / lg(n - m + j + 1);
      }
      for (Index j = 1; j <= std::min(k, m); ++j) idcg += 1.0 / lg(j + 1);
      CHECK(rm::precision_at_k(ranked, {relevant}, k) == near(static_cast<double>(hits) / k));
      CHECK(rm::recall_at_k(ranked, {relevant}, k) == near(static_cast<double>(hits) / m));
      CHECK(rm::hit_rate_at_k(ranked, {relevant}, k) == (hits > 0 ? 1.0 : 0.0));
      CHECK(rm::reciprocal_rank_at_k(ranked, {relevant}, k) == near(hits > 0 ? 1.0 / first : 0.0));
      CHECK(rm::average_precision_at_k(ranked, {relevant}, k) == near(ap / std::min(k, m)));
      CHECK(rm::average_precision_at_k(ranked, {relevant}, k, {.ap_divisor = ApDivisor::relevant}) == near(ap / m));
      CHECK(rm::ndcg_at_k(ranked, {relevant}, k) == near(dcg / idcg));
    }
  }
}

namespace {

/// Tie-free random scores (a random permutation of 0..n-1 per row, a few -inf) and graded truth.
void random_tie_free(Index n_users, Index n_items, std::uint64_t seed, RowMatrixXf& scores,
                     std::vector<std::vector<std::pair<Index, float>>>& cells) {
  recmix::Rng rng(seed);
  scores.resize(n_users, n_items);
  cells.assign(static_cast<std::size_t>(n_users), {});
  for (Index u = 0; u < n_users; ++u) {
    const std::vector<Index> p = random_permutation(n_items, rng);
    for (Index i = 0; i < n_items; ++i) {
      scores(u, i) = rng.uniform() < 0.05 ? -kInf : static_cast<float>(p[static_cast<std::size_t>(i)]);
      if (rng.uniform() < 0.15) cells[static_cast<std::size_t>(u)].emplace_back(i, static_cast<float>(rng.below(4)));
    }
  }
}

}  // namespace

TEST_CASE("evaluate_scores: invariant under a relabelling of the items") {
  const Index n_users = 300, n_items = 25;
  RowMatrixXf scores;
  std::vector<std::vector<std::pair<Index, float>>> cells;
  random_tie_free(n_users, n_items, 31337, scores, cells);
  recmix::Rng rng(8);
  const std::vector<Index> pi = random_permutation(n_items, rng);
  RowMatrixXf scores2(n_users, n_items);
  std::vector<std::vector<std::pair<Index, float>>> cells2(cells.size());
  for (Index u = 0; u < n_users; ++u) {
    for (Index i = 0; i < n_items; ++i) scores2(u, pi[static_cast<std::size_t>(i)]) = scores(u, i);
    for (const auto& [i, g] : cells[static_cast<std::size_t>(u)]) {
      cells2[static_cast<std::size_t>(u)].emplace_back(pi[static_cast<std::size_t>(i)], g);
    }
  }
  const InteractionMatrix truth = matrix_of(n_users, n_items, cells);
  const InteractionMatrix truth2 = matrix_of(n_users, n_items, cells2);
  const std::vector<Metric> metrics = {Metric::ndcg, Metric::map,  Metric::precision, Metric::recall,
                                       Metric::hit_rate, Metric::mrr, Metric::auc,       Metric::coverage};
  const std::vector<Index> ks = {1, 3, 10};
  for (const RankingOptions& ranking : {RankingOptions{}, RankingOptions{.ideal = IdealDcg::all_k, .gain = Gain::exponential,
                                                                         .users = UserAveraging::all_users}}) {
    const auto a = rm::evaluate_scores(scores, truth, metrics, ks, {.ranking = ranking});
    const auto b = rm::evaluate_scores(scores2, truth2, metrics, ks, {.ranking = ranking});
    REQUIRE(a.values.size() == b.values.size());
    for (std::size_t v = 0; v < a.values.size(); ++v) {
      CAPTURE(rm::metric_name(a.values[v].metric));
      CAPTURE(a.values[v].k);
      CHECK(a.values[v].metric == b.values[v].metric);
      CHECK(a.values[v].k == b.values[v].k);
      CHECK(a.values[v].users == b.values[v].users);
      CHECK(a.values[v].mean == near(b.values[v].mean));
    }
    // Not a trivial comparison: the relabelled scores really are a different matrix.
    CHECK(scores2 != scores);
  }
}

TEST_CASE("evaluate_scores: recall and hit rate never decrease with k") {
  recmix::Rng rng(5);
  const Index n_users = 150, n_items = 20;
  RowMatrixXf scores(n_users, n_items);
  std::vector<std::vector<std::pair<Index, float>>> cells(static_cast<std::size_t>(n_users));
  for (Index u = 0; u < n_users; ++u) {
    for (Index i = 0; i < n_items; ++i) {
      scores(u, i) = static_cast<float>(rng.below(5));  // many ties
      if (rng.uniform() < 0.2) cells[static_cast<std::size_t>(u)].emplace_back(i, 1.0f);
    }
  }
  const InteractionMatrix truth = matrix_of(n_users, n_items, cells);
  std::vector<Index> ks(static_cast<std::size_t>(n_items));
  std::iota(ks.begin(), ks.end(), 1);
  const std::vector<Metric> metrics = {Metric::recall, Metric::hit_rate, Metric::precision};
  for (const auto divisor : {RecallDivisor::relevant, RecallDivisor::min_k_relevant}) {
    const auto e = rm::evaluate_scores(scores, truth, metrics, ks, {.ranking = {.recall_divisor = divisor}, .per_user = true});
    // Columns: recall@1..20, hit_rate@1..20, precision@1..20.
    REQUIRE(e.per_user.cols() == 3 * n_items);
    Index checked = 0;
    for (Index u = 0; u < n_users; ++u) {
      if (cells[static_cast<std::size_t>(u)].empty()) continue;
      for (Index j = 1; j < n_items; ++j) {
        CAPTURE(u);
        CAPTURE(j);
        if (divisor == RecallDivisor::relevant) CHECK(e.per_user(u, j) >= e.per_user(u, j - 1));
        CHECK(e.per_user(u, n_items + j) >= e.per_user(u, n_items + j - 1));
        // hits = precision * k never decreases either.
        CHECK(e.per_user(u, 2 * n_items + j) * (j + 1) >= e.per_user(u, 2 * n_items + j - 1) * j - 1e-12);
        ++checked;
      }
      // All items ranked: every relevant item is found.
      CHECK(e.per_user(u, n_items - 1) == near(1.0));
      CHECK(e.per_user(u, 2 * n_items - 1) == 1.0);
    }
    CHECK(checked > 100 * (n_items - 1));
    // The means follow.
    for (Index k = 2; k <= n_items; ++k) {
      if (divisor == RecallDivisor::relevant) CHECK(e.at(Metric::recall, k) >= e.at(Metric::recall, k - 1));
      CHECK(e.at(Metric::hit_rate, k) >= e.at(Metric::hit_rate, k - 1));
    }
  }
}

// ================================================================================================
// 3. evaluate_scores against a brute-force reference
// ================================================================================================

namespace {

/// The documented ranking, by a full sort: items with a score above -inf, higher score first,
/// equal scores to the lower item index.
std::vector<Index> reference_ranking(const float* s, Index n_items) {
  std::vector<Index> items;
  for (Index i = 0; i < n_items; ++i) {
    if (s[i] > -kInf) items.push_back(i);
  }
  std::sort(items.begin(), items.end(), [s](Index a, Index b) { return s[a] != s[b] ? s[a] > s[b] : a < b; });
  return items;
}

/// Textbook value of one ranking metric at k; gain[i] is the user's gain of item i (0 = not
/// relevant); ranked may be shorter than k and hold -1 slots.
double reference_metric(Metric metric, Index k, const std::vector<Index>& ranked, const std::vector<double>& gain,
                        const RankingOptions& o) {
  std::vector<double> rel_gains;
  for (double g : gain) {
    if (g > 0.0) rel_gains.push_back(g);
  }
  if (rel_gains.empty()) return 0.0;
  const auto n_rel = static_cast<double>(rel_gains.size());
  const auto kk = static_cast<std::size_t>(k);
  auto is_hit = [&](std::size_t r) {  // r: 0-based rank
    return r < ranked.size() && ranked[r] >= 0 && gain[static_cast<std::size_t>(ranked[r])] > 0.0;
  };
  auto hits_in_first = [&](std::size_t n) {
    double h = 0.0;
    for (std::size_t r = 0; r < n; ++r) h += is_hit(r) ? 1.0 : 0.0;
    return h;
  };
  auto g_of = [&](double g) { return o.gain == Gain::exponential ? std::pow(2.0, g) - 1.0 : g; };
  switch (metric) {
    case Metric::ndcg: {
      double dcg = 0.0;
      for (std::size_t r = 0; r < kk; ++r) {
        if (is_hit(r)) dcg += g_of(gain[static_cast<std::size_t>(ranked[r])]) / std::log2(static_cast<double>(r) + 2.0);
      }
      std::sort(rel_gains.begin(), rel_gains.end(), [](double a, double b) { return a > b; });
      double idcg = 0.0;
      if (o.ideal == IdealDcg::relevant_in_k) {
        for (std::size_t r = 0; r < std::min(kk, rel_gains.size()); ++r) idcg += g_of(rel_gains[r]) / std::log2(static_cast<double>(r) + 2.0);
      } else {
        for (std::size_t r = 0; r < kk; ++r) idcg += g_of(rel_gains[0]) / std::log2(static_cast<double>(r) + 2.0);
      }
      return dcg / idcg;
    }
    case Metric::map: {
      double sum = 0.0;
      for (std::size_t r = 0; r < kk; ++r) {
        if (is_hit(r)) sum += hits_in_first(r + 1) / static_cast<double>(r + 1);  // precision@r at each hit
      }
      const double div = o.ap_divisor == ApDivisor::min_k_relevant ? std::min(static_cast<double>(k), n_rel)
                         : o.ap_divisor == ApDivisor::relevant     ? n_rel
                                                                   : static_cast<double>(k);
      return sum / div;
    }
    case Metric::precision: return hits_in_first(kk) / static_cast<double>(k);
    case Metric::recall:
      return hits_in_first(kk) /
             (o.recall_divisor == RecallDivisor::relevant ? n_rel : std::min(static_cast<double>(k), n_rel));
    case Metric::hit_rate: return hits_in_first(kk) > 0.0 ? 1.0 : 0.0;
    case Metric::mrr:
      for (std::size_t r = 0; r < kk; ++r) {
        if (is_hit(r)) return 1.0 / static_cast<double>(r + 1);
      }
      return 0.0;
    case Metric::auc:
    case Metric::coverage: break;
  }
  FAIL("reference_metric: not a per-k metric");
  return 0.0;
}

/// Share of (relevant, other) pairs among items with a finite score ordered correctly, ties 1/2,
/// by an O(P N) double loop; NaN when there is no such pair.
double reference_user_auc(const float* s, Index n_items, const std::vector<double>& gain) {
  double correct = 0.0, pairs = 0.0;
  for (Index p = 0; p < n_items; ++p) {
    if (!(s[p] > -kInf) || gain[static_cast<std::size_t>(p)] <= 0.0) continue;
    for (Index q = 0; q < n_items; ++q) {
      if (!(s[q] > -kInf) || gain[static_cast<std::size_t>(q)] > 0.0) continue;
      pairs += 1.0;
      correct += s[p] > s[q] ? 1.0 : (s[p] == s[q] ? 0.5 : 0.0);
    }
  }
  return pairs > 0.0 ? correct / pairs : kDoubleNaN;
}

struct Reference {
  std::vector<rm::MetricValue> values;
  RowMatrixXd per_user;
  Index users = 0;
  Index users_with_relevant = 0;
};

/// Brute-force evaluation of a dense score matrix (row u = batch row u) against aligned truth.
/// known[u] == 0: the user has no ranked list and no AUC (a user the model cannot score).
Reference reference_evaluate(const RowMatrixXf& scores, const std::vector<std::uint8_t>& known, const InteractionMatrix& truth,
                             const std::vector<Metric>& metrics_in, const std::vector<Index>& ks_in, const RankingOptions& o) {
  const auto n_users = static_cast<Index>(scores.rows());
  const auto n_items = static_cast<Index>(scores.cols());
  std::vector<Metric> metrics;
  for (Metric m : metrics_in) {
    if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
  }
  std::vector<Index> ks;
  for (Index k : ks_in) {
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  }
  // Documented column order: metrics as asked, each with the ks as asked; auc once with k = 0.
  std::vector<std::pair<Metric, Index>> cols;
  for (Metric m : metrics) {
    if (m == Metric::auc) {
      cols.emplace_back(m, 0);
    } else {
      for (Index k : ks) cols.emplace_back(m, k);
    }
  }
  Reference ref;
  ref.users = n_users;
  ref.per_user.setConstant(n_users, static_cast<Eigen::Index>(cols.size()), kDoubleNaN);
  std::vector<double> sum(cols.size(), 0.0), count(cols.size(), 0.0);
  std::vector<std::set<Index>> covered(cols.size());
  for (Index u = 0; u < n_users; ++u) {
    std::vector<double> gain(static_cast<std::size_t>(n_items), 0.0);
    const auto row = truth.row(u);
    for (std::size_t j = 0; j < row.size(); ++j) gain[static_cast<std::size_t>(row.indices[j])] = row.values[j];
    const bool has_relevant = std::any_of(gain.begin(), gain.end(), [](double g) { return g > 0.0; });
    if (has_relevant) ++ref.users_with_relevant;
    const float* s = scores.data() + static_cast<std::ptrdiff_t>(u) * n_items;
    const std::vector<Index> ranked = known[static_cast<std::size_t>(u)] != 0 ? reference_ranking(s, n_items) : std::vector<Index>{};
    for (std::size_t c = 0; c < cols.size(); ++c) {
      const auto [m, k] = cols[c];
      if (m == Metric::coverage) {
        for (std::size_t r = 0; r < std::min(ranked.size(), static_cast<std::size_t>(k)); ++r) covered[c].insert(ranked[r]);
        continue;
      }
      double v = 0.0;
      if (m == Metric::auc) {
        if (known[static_cast<std::size_t>(u)] == 0) continue;
        v = reference_user_auc(s, n_items, gain);
        if (std::isnan(v)) continue;
      } else {
        if (!has_relevant && o.users == UserAveraging::with_relevant) continue;
        v = reference_metric(m, k, ranked, gain, o);
      }
      ref.per_user(u, static_cast<Eigen::Index>(c)) = v;
      sum[c] += v;
      count[c] += 1.0;
    }
  }
  for (std::size_t c = 0; c < cols.size(); ++c) {
    const auto [m, k] = cols[c];
    if (m == Metric::coverage) {
      ref.values.push_back({m, k, static_cast<double>(covered[c].size()) / static_cast<double>(n_items), n_items});
    } else {
      ref.values.push_back({m, k, count[c] > 0.0 ? sum[c] / count[c] : 0.0, static_cast<Index>(count[c])});
    }
  }
  return ref;
}

/// Compares an Evaluation with the reference: every value, count and per-user cell.
void check_against(const rm::Evaluation& got, const Reference& want, bool per_user) {
  CHECK(got.users == want.users);
  CHECK(got.users_with_relevant == want.users_with_relevant);
  REQUIRE(got.values.size() == want.values.size());
  for (std::size_t v = 0; v < want.values.size(); ++v) {
    CAPTURE(v);
    CAPTURE(rm::metric_name(want.values[v].metric));
    CAPTURE(want.values[v].k);
    CHECK(got.values[v].metric == want.values[v].metric);
    CHECK(got.values[v].k == want.values[v].k);
    CHECK(got.values[v].users == want.values[v].users);
    CHECK(got.values[v].mean == near(want.values[v].mean));
  }
  if (!per_user) {
    CHECK(got.per_user.size() == 0);
    return;
  }
  REQUIRE(got.per_user.rows() == want.per_user.rows());
  REQUIRE(got.per_user.cols() == want.per_user.cols());
  Index bad = 0;
  std::string first;
  for (Index u = 0; u < want.per_user.rows(); ++u) {
    for (Index c = 0; c < want.per_user.cols(); ++c) {
      const double g = got.per_user(u, c), w = want.per_user(u, c);
      const bool ok = std::isnan(w) ? std::isnan(g) : (!std::isnan(g) && std::fabs(g - w) <= 1e-12 * (1.0 + std::fabs(w)));
      if (!ok && bad++ == 0) {
        std::ostringstream os;
        os << "per_user(" << u << ", " << c << ") = " << g << ", reference " << w;
        first = os.str();
      }
    }
  }
  CHECK_MESSAGE(bad == 0, first);
}

/// Random scores with many ties and some -inf; graded truth with explicit zeros and empty rows.
void random_problem(Index n_users, Index n_items, std::uint64_t seed, RowMatrixXf& scores, InteractionMatrix& truth) {
  recmix::Rng rng(seed);
  scores.resize(n_users, n_items);
  std::vector<std::vector<std::pair<Index, float>>> cells(static_cast<std::size_t>(n_users));
  for (Index u = 0; u < n_users; ++u) {
    const bool empty_user = rng.uniform() < 0.1;
    const bool all_masked = rng.uniform() < 0.02;
    for (Index i = 0; i < n_items; ++i) {
      const double x = rng.uniform();
      scores(u, i) = all_masked || x < 0.08 ? -kInf : static_cast<float>(rng.below(8)) * 0.25f - 1.0f;
      if (!empty_user && rng.uniform() < 0.15) {
        // Gains 0 (stored, not relevant), 1, 2, 3 and a fractional one.
        const std::uint64_t level = rng.below(5);
        cells[static_cast<std::size_t>(u)].emplace_back(i, level == 4 ? 0.5f : static_cast<float>(level));
      }
    }
  }
  truth = matrix_of(n_users, n_items, cells);
}

}  // namespace

TEST_CASE("evaluate_scores: agrees with a brute-force reference, every metric and option") {
  const Index n_users = 500, n_items = 30;
  RowMatrixXf scores;
  InteractionMatrix truth;
  random_problem(n_users, n_items, 1234, scores, truth);
  const std::vector<std::uint8_t> known(static_cast<std::size_t>(n_users), 1);
  const std::vector<Metric> metrics = {Metric::ndcg, Metric::map,  Metric::precision, Metric::recall,
                                       Metric::hit_rate, Metric::mrr, Metric::auc,       Metric::coverage};
  const std::vector<Index> ks = {1, 3, 7, 30};

  const std::vector<RankingOptions> options = {
      {},
      {.users = UserAveraging::all_users},
      {.ideal = IdealDcg::all_k, .ap_divisor = ApDivisor::relevant, .recall_divisor = RecallDivisor::min_k_relevant,
       .gain = Gain::exponential},
      {.ideal = IdealDcg::all_k, .ap_divisor = ApDivisor::k, .gain = Gain::exponential, .users = UserAveraging::all_users},
  };
  for (std::size_t oi = 0; oi < options.size(); ++oi) {
    CAPTURE(oi);
    const Reference want = reference_evaluate(scores, known, truth, metrics, ks, options[oi]);
    // Sanity of the data: some users without relevant items, ties, AUC users fewer than all.
    CHECK(want.users_with_relevant < n_users);
    CHECK(want.users_with_relevant > n_users / 2);
    for (bool per_user : {false, true}) {
      const auto got = rm::evaluate_scores(scores, truth, metrics, ks, {.ranking = options[oi], .per_user = per_user, .threads = 1});
      check_against(got, want, per_user);
    }
  }

  // ks and metrics asked out of order and repeated: values come in the order asked, deduplicated.
  const std::vector<Metric> shuffled = {Metric::coverage, Metric::mrr, Metric::auc, Metric::ndcg, Metric::mrr};
  const std::vector<Index> ks2 = {7, 1, 30, 7};
  const Reference want2 = reference_evaluate(scores, known, truth, shuffled, ks2, {});
  const auto got2 = rm::evaluate_scores(scores, truth, shuffled, ks2, {.per_user = true, .threads = 2});
  check_against(got2, want2, true);
  REQUIRE(got2.values.size() == 3 + 3 + 1 + 3);
  CHECK(got2.values[0].metric == Metric::coverage);
  CHECK(got2.values[0].k == 7);
  CHECK(got2.values[6].metric == Metric::auc);
  CHECK(got2.values[6].k == 0);
  CHECK(got2.at(Metric::ndcg, 30) == near(want2.values[9].mean));

  // A wider catalogue and deep cut-offs (top-k selection may switch strategy for large k).
  RowMatrixXf wide_scores;
  InteractionMatrix wide_truth;
  random_problem(200, 150, 4321, wide_scores, wide_truth);
  const std::vector<std::uint8_t> wide_known(200, 1);
  const std::vector<Index> deep = {1, 10, 70, 100};  // max k below the 150 items: the selection fills up
  for (const RankingOptions& ranking : {options[0], options[3]}) {
    const Reference want_wide = reference_evaluate(wide_scores, wide_known, wide_truth, metrics, deep, ranking);
    check_against(rm::evaluate_scores(wide_scores, wide_truth, metrics, deep, {.ranking = ranking, .per_user = true}), want_wide,
                  true);
  }

  // Only AUC: no k needed.
  const std::vector<Metric> auc_only = {Metric::auc};
  const Reference want3 = reference_evaluate(scores, known, truth, auc_only, {}, {});
  const auto got3 = rm::evaluate_scores(scores, truth, auc_only, std::span<const Index>{}, {.per_user = true});
  check_against(got3, want3, true);
}

TEST_CASE("evaluate_scores and evaluate_lists: hand example with coverage") {
  // 2 users x 6 items, both with relevant {1, 3, 4}.
  //   user 0 ranks 1, 2, 3, 4 (scores 0.9 .. 0.6); user 1 ranks 5, 2, 3, 1.
  RowMatrixXf scores(2, 6);
  scores << -kInf, 0.9f, 0.8f, 0.7f, 0.6f, -kInf,  //
      -kInf, 0.5f, 0.8f, 0.7f, -kInf, 0.9f;
  const InteractionMatrix truth = matrix_of(2, 6, {{{1, 1.0f}, {3, 1.0f}, {4, 1.0f}}, {{1, 1.0f}, {3, 1.0f}, {4, 1.0f}}});
  const std::vector<Metric> metrics = {Metric::precision, Metric::mrr, Metric::coverage, Metric::map};
  const std::vector<Index> ks = {1, 4};
  const auto e = rm::evaluate_scores(scores, truth, metrics, ks);
  // precision@4: (3/4 + 2/4) / 2 = 5/8; precision@1: (1 + 0) / 2.
  CHECK(e.at(Metric::precision, 4) == near(5.0 / 8.0));
  CHECK(e.at(Metric::precision, 1) == near(0.5));
  // mrr@4: (1 + 1/3) / 2 = 2/3.
  CHECK(e.at(Metric::mrr, 4) == near(2.0 / 3.0));
  // map@4: (29/36 + (1/3 + 2/4) / 3) / 2 = (29/36 + 10/36) / 2 = 39/72.
  CHECK(e.at(Metric::map, 4) == near(39.0 / 72.0));
  // coverage@1: items {1, 5} of 6; coverage@4: {1, 2, 3, 4, 5} of 6.
  CHECK(e.at(Metric::coverage, 1) == near(2.0 / 6.0));
  CHECK(e.at(Metric::coverage, 4) == near(5.0 / 6.0));
  CHECK(e.values[4].users == 6);  // coverage@1 counts items

  // The same lists given directly (the second padded with -1 past rank 4).
  recmix::Recommendations lists;
  lists.items.resize(2, 5);
  lists.items << 1, 2, 3, 4, -1,  //
      5, 2, 3, 1, -1;
  lists.scores.setZero(2, 5);
  const auto l = rm::evaluate_lists(lists, truth, metrics, ks);
  CHECK(l.at(Metric::precision, 4) == near(5.0 / 8.0));
  CHECK(l.at(Metric::mrr, 4) == near(2.0 / 3.0));
  CHECK(l.at(Metric::map, 4) == near(39.0 / 72.0));
  CHECK(l.at(Metric::coverage, 1) == near(2.0 / 6.0));
  CHECK(l.at(Metric::coverage, 4) == near(5.0 / 6.0));
  // k = 5 reaches the -1 slot: precision@5 = (3/5 + 2/5) / 2 = 1/2.
  CHECK(rm::evaluate_lists(lists, truth, {Metric::precision}, {5}).at(Metric::precision, 5) == near(0.5));

  // per_user is batch.size() x values.size() with NaN for coverage, also when coverage is all
  // that was asked.
  const auto c = rm::evaluate_scores(scores, truth, {Metric::coverage}, {1, 4}, {.per_user = true});
  CHECK(c.at(Metric::coverage, 4) == near(5.0 / 6.0));
  REQUIRE(c.per_user.rows() == 2);
  REQUIRE(c.per_user.cols() == 2);
  CHECK(c.per_user.array().isNaN().all());
}

// ================================================================================================
// 4. evaluate(model, batch, ...)
// ================================================================================================

namespace {

/// Scores each user from a fixed table row (row = user id); kNewUser cannot be scored, and its
/// row is filled with 1 so that using it by mistake would show up as hits.
struct TableModel {
  RowMatrixXf table;

  [[nodiscard]] Index num_items() const { return static_cast<Index>(table.cols()); }
  void score(const UserBatch& batch, recmix::ScoreBlock out) const {
    for (Index r = 0; r < batch.size(); ++r) {
      const Index u = batch.users()[static_cast<std::size_t>(r)];
      if (u >= 0 && u < table.rows()) {
        out.row(r) = table.row(u);
      } else {
        out.row(r).setOnes();
      }
    }
  }
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    for (Index r = 0; r < batch.size(); ++r) mask[static_cast<std::size_t>(r)] = batch.users()[static_cast<std::size_t>(r)] == recmix::kNewUser ? 0 : 1;
  }
};

static_assert(recmix::Recommender<TableModel>);

/// What evaluate() should see for a batch: the model's rows, history masked with -inf, and
/// which rows the model can score.
RowMatrixXf batch_scores(const TableModel& model, const UserBatch& batch, bool exclude_history, std::vector<std::uint8_t>& known) {
  RowMatrixXf s(batch.size(), model.num_items());
  known.assign(static_cast<std::size_t>(batch.size()), 1);
  for (Index r = 0; r < batch.size(); ++r) {
    const Index u = batch.users()[static_cast<std::size_t>(r)];
    if (u == recmix::kNewUser) {
      known[static_cast<std::size_t>(r)] = 0;
      s.row(r).setZero();
      continue;
    }
    s.row(r) = model.table.row(u);
    if (exclude_history) {
      for (Index i : batch.history_row(r).indices) s(r, i) = -kInf;
    }
  }
  return s;
}

/// A truth matrix whose row r is row users[r] of `by_id` (empty for kNewUser).
InteractionMatrix aligned_truth(const InteractionMatrix& by_id, std::span<const Index> users) {
  std::vector<std::vector<std::pair<Index, float>>> cells(users.size());
  for (std::size_t r = 0; r < users.size(); ++r) {
    if (users[r] < 0) continue;
    const auto row = by_id.row(users[r]);
    for (std::size_t j = 0; j < row.size(); ++j) cells[r].emplace_back(row.indices[j], row.values[j]);
  }
  return matrix_of(static_cast<Index>(users.size()), by_id.cols(), cells);
}

bool same_bits(const rm::Evaluation& a, const rm::Evaluation& b) {
  if (a.users != b.users || a.users_with_relevant != b.users_with_relevant || a.values.size() != b.values.size()) return false;
  for (std::size_t v = 0; v < a.values.size(); ++v) {
    if (a.values[v].metric != b.values[v].metric || a.values[v].k != b.values[v].k || a.values[v].users != b.values[v].users ||
        a.values[v].mean != b.values[v].mean) {
      return false;
    }
  }
  if (a.per_user.rows() != b.per_user.rows() || a.per_user.cols() != b.per_user.cols()) return false;
  for (Index i = 0; i < a.per_user.size(); ++i) {
    const double x = a.per_user.data()[i], y = b.per_user.data()[i];
    if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
  }
  return true;
}

const std::vector<Metric> kAllMetrics = {Metric::ndcg, Metric::map,  Metric::precision, Metric::recall,
                                         Metric::hit_rate, Metric::mrr, Metric::auc,       Metric::coverage};

}  // namespace

TEST_CASE("evaluate: exclude_history masks what the user holds, also relevant items") {
  TableModel model;
  model.table.resize(3, 5);
  model.table << 0.9f, 0.8f, 0.1f, 0.5f, 0.3f,  //
      0.2f, 0.4f, 0.6f, 0.8f, 1.0f,             //
      0.5f, 0.5f, 0.5f, 0.5f, 0.5f;
  // History: user 0 holds item 0 (which is also relevant), user 1 holds items 2 and 4.
  const InteractionMatrix history = matrix_of(3, 5, {{{0, 1.0f}}, {{2, 1.0f}, {4, 1.0f}}, {}});
  // Truth: user 0 -> {0, 3}, user 1 -> {1}, user 2 -> nothing.
  const InteractionMatrix truth = matrix_of(3, 5, {{{0, 1.0f}, {3, 1.0f}}, {{1, 1.0f}}, {}});
  const std::vector<Index> users = {0, 1, 2};
  const UserBatch batch(users, &history, recmix::HistoryRows::by_user_id);
  const std::vector<Metric> metrics = {Metric::ndcg, Metric::precision, Metric::recall, Metric::mrr, Metric::auc};
  const std::vector<Index> ks = {2};
  const double l3 = 1.0 / lg(3);

  // Excluded: user 0 ranks 1 (.8), 3 (.5), 4, 2 -> hit at rank 2; user 1 ranks 3, 1, 0 -> hit at rank 2.
  const auto ex = rm::evaluate(model, batch, truth, metrics, ks, {.per_user = true});
  CHECK(ex.users == 3);
  CHECK(ex.users_with_relevant == 2);
  CHECK(ex.at(Metric::precision, 2) == near(0.5));                 // (1/2 + 1/2) / 2
  CHECK(ex.at(Metric::recall, 2) == near(0.75));                   // (1/2 + 1/1) / 2: item 0 still counts in |rel|
  CHECK(ex.at(Metric::mrr, 2) == near(0.5));                       // (1/2 + 1/2) / 2
  CHECK(ex.at(Metric::ndcg, 2) == near((l3 / (1 + l3) + l3) / 2));  // IDCG 1 + 1/log2 3 and 1
  // AUC over finite items: user 0: item 3 (.5) vs 1 (.8), 2 (.1), 4 (.3) -> 2/3;
  // user 1: item 1 (.4) vs 0 (.2), 3 (.8) -> 1/2.
  CHECK(ex.at(Metric::auc) == near((2.0 / 3.0 + 0.5) / 2));
  CHECK(ex.per_user(0, 4) == near(2.0 / 3.0));
  CHECK(std::isnan(ex.per_user(2, 0)));  // no relevant item: not counted
  CHECK(std::isnan(ex.per_user(2, 4)));

  // Not excluded: user 0 ranks 0, 1, 3, ... -> hit at rank 1; user 1 ranks 4, 3, 2, 1, 0 -> none in 2.
  const auto in = rm::evaluate(model, batch, truth, metrics, ks, {.exclude_history = false});
  CHECK(in.at(Metric::precision, 2) == near(0.25));
  CHECK(in.at(Metric::recall, 2) == near(0.25));
  CHECK(in.at(Metric::mrr, 2) == near(0.5));
  CHECK(in.at(Metric::ndcg, 2) == near(1.0 / (1 + l3) / 2));
  // user 0: {0 (.9), 3 (.5)} vs {1 (.8), 2 (.1), 4 (.3)} -> 5/6; user 1: 1 (.4) vs 4 others -> 1/4.
  CHECK(in.at(Metric::auc) == near((5.0 / 6.0 + 0.25) / 2));

  // all_users: user 2 counts with zeros.
  const auto all = rm::evaluate(model, batch, truth, metrics, ks, {.ranking = {.users = UserAveraging::all_users}});
  CHECK(all.at(Metric::precision, 2) == near(1.0 / 3.0));
  CHECK(all.values[1].users == 3);
  CHECK(all.at(Metric::auc) == near((2.0 / 3.0 + 0.5) / 2));  // AUC still over users with a pair

  // A batch without history excludes nothing.
  const UserBatch bare(users);
  const auto b = rm::evaluate(model, bare, truth, metrics, ks);
  CHECK(b.at(Metric::precision, 2) == near(0.25));
  CHECK(b.at(Metric::auc) == near((5.0 / 6.0 + 0.25) / 2));
}

TEST_CASE("evaluate: truth_rows by_user_id and aligned agree, and match the reference") {
  recmix::Rng rng(2718);
  TableModel model;
  const Index n_model_users = 40, n_items = 12;
  model.table.resize(n_model_users, n_items);
  for (Index i = 0; i < model.table.size(); ++i) model.table.data()[i] = static_cast<float>(rng.below(6));
  std::vector<std::vector<std::pair<Index, float>>> hist_cells(static_cast<std::size_t>(n_model_users)),
      truth_cells(static_cast<std::size_t>(n_model_users));
  for (Index u = 0; u < n_model_users; ++u) {
    for (Index i = 0; i < n_items; ++i) {
      const double x = rng.uniform();
      if (x < 0.2) hist_cells[static_cast<std::size_t>(u)].emplace_back(i, 1.0f);
      else if (x < 0.4) truth_cells[static_cast<std::size_t>(u)].emplace_back(i, static_cast<float>(1 + rng.below(3)));
    }
  }
  // One relevant item that the user also holds.
  hist_cells[3].emplace_back(11, 1.0f);
  truth_cells[3].emplace_back(11, 2.0f);
  std::sort(hist_cells[3].begin(), hist_cells[3].end());
  std::sort(truth_cells[3].begin(), truth_cells[3].end());
  const InteractionMatrix history = matrix_of(n_model_users, n_items, hist_cells);
  const InteractionMatrix truth_by_id = matrix_of(n_model_users, n_items, truth_cells);

  // Shuffled, repeated users and a new user.
  std::vector<Index> users = random_permutation(n_model_users, rng);
  users.push_back(3);
  users.push_back(recmix::kNewUser);
  users.push_back(7);
  const UserBatch batch(users, &history, recmix::HistoryRows::by_user_id);
  const InteractionMatrix truth_aligned = aligned_truth(truth_by_id, users);
  const std::vector<Index> ks = {1, 4, 12};
  for (bool exclude : {true, false}) {
    CAPTURE(exclude);
    const auto by_id = rm::evaluate(model, batch, truth_by_id, kAllMetrics, ks,
                                    {.truth_rows = recmix::HistoryRows::by_user_id, .exclude_history = exclude, .per_user = true});
    const auto aligned = rm::evaluate(model, batch, truth_aligned, kAllMetrics, ks,
                                      {.truth_rows = recmix::HistoryRows::aligned, .exclude_history = exclude, .per_user = true});
    CHECK(same_bits(by_id, aligned));
    std::vector<std::uint8_t> known;
    const RowMatrixXf s = batch_scores(model, batch, exclude, known);
    const Reference want = reference_evaluate(s, known, truth_aligned, kAllMetrics, ks, {});
    check_against(aligned, want, true);
  }
}

TEST_CASE("evaluate: users the model cannot score get 0 and still count") {
  TableModel model;
  model.table.resize(2, 4);
  model.table << 0.9f, 0.1f, 0.2f, 0.3f,  //
      0.1f, 0.9f, 0.2f, 0.3f;
  // Batch rows: 0, new (relevant {0, 1}), 1, new (nothing relevant).
  const std::vector<Index> users = {0, recmix::kNewUser, 1, recmix::kNewUser};
  const InteractionMatrix truth = matrix_of(4, 4, {{{0, 1.0f}}, {{0, 1.0f}, {1, 1.0f}}, {{1, 1.0f}}, {}});
  const UserBatch batch(users);
  const std::vector<Index> ks = {1, 2};
  // Users 0 and 1 rank their only relevant item first: every metric is 1 at both k except
  // precision@2 = 1/2.
  const auto e = rm::evaluate(model, batch, truth, kAllMetrics, ks, {.per_user = true});
  CHECK(e.users == 4);
  CHECK(e.users_with_relevant == 3);
  for (const auto& v : e.values) {
    CAPTURE(rm::metric_name(v.metric));
    CAPTURE(v.k);
    if (v.metric == Metric::auc) {
      CHECK(v.users == 2);  // the new user has no scores, so no AUC
      CHECK(v.mean == near(1.0));
    } else if (v.metric == Metric::coverage) {
      CHECK(v.users == 4);
    } else {
      CHECK(v.users == 3);
      const double own = v.metric == Metric::precision && v.k == 2 ? 0.5 : 1.0;
      CHECK(v.mean == near(2.0 * own / 3.0));  // the new user adds a 0
    }
  }
  // coverage@1: items {0, 1}; coverage@2: {0, 1, 3} (0.3 is second for both) of 4.
  CHECK(e.at(Metric::coverage, 1) == near(0.5));
  CHECK(e.at(Metric::coverage, 2) == near(0.75));
  for (Index c = 0; c < e.per_user.cols(); ++c) {
    CAPTURE(c);
    const Metric m = e.values[static_cast<std::size_t>(c)].metric;
    if (m == Metric::auc || m == Metric::coverage) {
      CHECK(std::isnan(e.per_user(1, c)));
    } else {
      CHECK(e.per_user(1, c) == 0.0);
    }
    CHECK(std::isnan(e.per_user(3, c)));
  }
  // all_users: the second new user counts too (and scores 0).
  const auto a = rm::evaluate(model, batch, truth, kAllMetrics, ks, {.ranking = {.users = UserAveraging::all_users}, .per_user = true});
  CHECK(a.at(Metric::ndcg, 1) == near(0.5));
  CHECK(a.values[0].users == 4);
  CHECK(a.per_user(3, 0) == 0.0);
  // The reference agrees.
  std::vector<std::uint8_t> known;
  const RowMatrixXf s = batch_scores(model, batch, true, known);
  check_against(e, reference_evaluate(s, known, truth, kAllMetrics, ks, {}), true);
  check_against(a, reference_evaluate(s, known, truth, kAllMetrics, ks, {.users = UserAveraging::all_users}), true);
}

TEST_CASE("evaluate: identical on 1 and 2 threads over several blocks; evaluate_lists on recommend() agrees") {
  recmix::Rng rng(99);
  const Index n_users = 10000, n_items = 40;
  TableModel model;
  model.table.resize(n_users, n_items);
  for (Index i = 0; i < model.table.size(); ++i) model.table.data()[i] = static_cast<float>(rng.below(10)) * 0.1f;
  std::vector<std::vector<std::pair<Index, float>>> hist_cells(static_cast<std::size_t>(n_users)),
      truth_cells(static_cast<std::size_t>(n_users));
  std::vector<Index> users(static_cast<std::size_t>(n_users));
  for (Index u = 0; u < n_users; ++u) {
    users[static_cast<std::size_t>(u)] = u % 97 == 5 ? recmix::kNewUser : u;
    for (Index i = 0; i < n_items; ++i) {
      const double x = rng.uniform();
      if (x < 0.1) hist_cells[static_cast<std::size_t>(u)].emplace_back(i, 1.0f);
      else if (x < 0.25) truth_cells[static_cast<std::size_t>(u)].emplace_back(i, static_cast<float>(rng.below(3)));
    }
  }
  const InteractionMatrix history = matrix_of(n_users, n_items, hist_cells);
  const InteractionMatrix truth = matrix_of(n_users, n_items, truth_cells);  // aligned: row r = batch row r
  const UserBatch batch(users, &history, recmix::HistoryRows::by_user_id);
  const std::vector<Index> ks = {1, 5, 10, 40};

  const auto one = rm::evaluate(model, batch, truth, kAllMetrics, ks, {.per_user = true, .threads = 1});
  const auto two = rm::evaluate(model, batch, truth, kAllMetrics, ks, {.per_user = true, .threads = 2});
  CHECK(same_bits(one, two));
  const auto dflt = rm::evaluate(model, batch, truth, kAllMetrics, ks, {.per_user = true});
  CHECK(same_bits(one, dflt));

  // And both are right.
  std::vector<std::uint8_t> known;
  const RowMatrixXf s = batch_scores(model, batch, true, known);
  check_against(one, reference_evaluate(s, known, truth, kAllMetrics, ks, {}), true);

  // evaluate_lists on recommend()'s top 40 (same exclusions) gives the same non-AUC metrics.
  const std::vector<Metric> no_auc = {Metric::ndcg, Metric::map, Metric::precision, Metric::recall,
                                      Metric::hit_rate, Metric::mrr, Metric::coverage};
  const recmix::Recommendations top = recmix::recommend(model, batch, 40, {.exclude_history = true});
  for (const RankingOptions& ranking : {RankingOptions{}, RankingOptions{.ideal = IdealDcg::all_k, .gain = Gain::exponential,
                                                                         .users = UserAveraging::all_users}}) {
    const auto lists = rm::evaluate_lists(top, truth, no_auc, ks, {.ranking = ranking, .per_user = true, .threads = 2});
    const auto direct = rm::evaluate(model, batch, truth, no_auc, ks, {.ranking = ranking, .per_user = true, .threads = 2});
    CHECK(same_bits(lists, direct));
    const auto lists1 = rm::evaluate_lists(top, truth, no_auc, ks, {.ranking = ranking, .per_user = true, .threads = 1});
    CHECK(same_bits(lists, lists1));
  }
}

// ================================================================================================
// 5. Throw paths of evaluate, evaluate_scores, evaluate_lists and Evaluation::at
// ================================================================================================

TEST_CASE("evaluate: invalid arguments throw") {
  using recmix::invalid_argument;
  using doctest::Contains;
  TableModel model;
  model.table.resize(3, 4);
  model.table << 0.1f, 0.2f, 0.3f, 0.4f,  //
      0.4f, 0.3f, 0.2f, 0.1f,             //
      0.5f, 0.5f, 0.5f, 0.5f;
  const std::vector<Index> users = {0, 1, 2};
  const UserBatch batch(users);
  const InteractionMatrix truth = matrix_of(3, 4, {{{1, 1.0f}}, {{2, 1.0f}}, {{0, 1.0f}}});
  const std::vector<Metric> ndcg = {Metric::ndcg};
  const std::vector<Metric> none;
  const std::vector<Index> k2 = {2};
  const std::vector<Index> no_k;
  const std::vector<Index> k0 = {2, 0};
  const std::vector<Index> kneg = {-1};
  CHECK_NOTHROW(rm::evaluate(model, batch, truth, ndcg, k2));

  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, truth, ndcg, k0), Contains("k must be >= 1"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate(model, batch, truth, ndcg, kneg), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, truth, ndcg, no_k), Contains("no k given"), invalid_argument);
  const std::vector<Metric> coverage = {Metric::coverage};
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, truth, coverage, no_k), Contains("no k given"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, truth, none, k2), Contains("no metric"), invalid_argument);

  // Truth with the wrong number of items.
  const InteractionMatrix wide = matrix_of(3, 5, {{{1, 1.0f}}, {}, {}});
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, wide, ndcg, k2), Contains("items"), invalid_argument);
  // Aligned truth with the wrong number of rows.
  const InteractionMatrix tall = matrix_of(4, 4, {{{1, 1.0f}}, {}, {}, {}});
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, tall, ndcg, k2), Contains("rows"), invalid_argument);
  // by_user_id: user 2 has no row in a 2-row truth; the same truth works when the batch avoids it.
  const InteractionMatrix short_truth = matrix_of(2, 4, {{{1, 1.0f}}, {}});
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, short_truth, ndcg, k2, {.truth_rows = recmix::HistoryRows::by_user_id}),
                       Contains("has no row in truth"), invalid_argument);
  const std::vector<Index> low = {1, 0, recmix::kNewUser};
  CHECK_NOTHROW(rm::evaluate(model, UserBatch(low), short_truth, ndcg, k2, {.truth_rows = recmix::HistoryRows::by_user_id}));
  // Empty truth.
  const InteractionMatrix empty(3, 4);
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, empty, ndcg, k2), Contains("empty"), invalid_argument);
  // Negative gain.
  const InteractionMatrix negative = matrix_of(3, 4, {{{1, 1.0f}}, {{2, -1.0f}}, {}});
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, negative, ndcg, k2), Contains("gain"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate(model, batch, negative, ndcg, k2, {.threads = 2}), invalid_argument);
  // NaN score from the model (on either thread count, and with AUC only).
  TableModel nan_model = model;
  nan_model.table(1, 2) = kNaN;
  CHECK_THROWS_WITH_AS(rm::evaluate(nan_model, batch, truth, ndcg, k2), Contains("NaN"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate(nan_model, batch, truth, ndcg, k2, {.threads = 2}), invalid_argument);
  const std::vector<Metric> auc = {Metric::auc};
  CHECK_THROWS_AS(rm::evaluate(nan_model, batch, truth, auc, no_k), invalid_argument);
  // Negative threads.
  CHECK_THROWS_WITH_AS(rm::evaluate(model, batch, truth, ndcg, k2, {.threads = -1}), Contains("threads"), invalid_argument);
}

TEST_CASE("evaluate_scores: invalid arguments throw") {
  using recmix::invalid_argument;
  using doctest::Contains;
  RowMatrixXf scores(3, 4);
  scores << 0.1f, 0.2f, 0.3f, 0.4f,  //
      0.4f, 0.3f, 0.2f, 0.1f,        //
      0.5f, -kInf, 0.5f, kInf;
  const InteractionMatrix truth = matrix_of(3, 4, {{{1, 1.0f}}, {{2, 1.0f}}, {{0, 1.0f}}});
  const std::vector<Metric> ndcg = {Metric::ndcg};
  const std::vector<Index> k2 = {2};
  CHECK_NOTHROW(rm::evaluate_scores(scores, truth, ndcg, k2));

  CHECK_THROWS_WITH_AS(rm::evaluate_scores(scores, truth, {Metric::ndcg}, {0}), Contains("k must be >= 1"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_scores(scores, truth, {Metric::ndcg}, {3, -2}), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_scores(scores, truth, ndcg, std::span<const Index>{}), Contains("no k given"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_scores(scores, truth, std::span<const Metric>{}, k2), Contains("no metric"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_scores(scores, matrix_of(3, 3, {{{1, 1.0f}}, {}, {}}), ndcg, k2), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_scores(scores, matrix_of(2, 4, {{{1, 1.0f}}, {}}), ndcg, k2), invalid_argument);
  // truth_rows does not apply: a by_user_id request still needs aligned rows.
  CHECK_THROWS_AS(rm::evaluate_scores(scores, matrix_of(4, 4, {{{1, 1.0f}}, {}, {}, {}}), ndcg, k2,
                                      {.truth_rows = recmix::HistoryRows::by_user_id}),
                  invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_scores(scores, InteractionMatrix(3, 4), ndcg, k2), Contains("empty"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_scores(scores, matrix_of(3, 4, {{}, {}, {{3, -0.5f}}}), ndcg, k2), invalid_argument);
  RowMatrixXf nan_scores = scores;
  nan_scores(2, 2) = kNaN;
  CHECK_THROWS_WITH_AS(rm::evaluate_scores(nan_scores, truth, ndcg, k2), Contains("NaN"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_scores(nan_scores, truth, {Metric::auc}, {}), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_scores(scores, truth, ndcg, k2, {.threads = -2}), Contains("threads"), invalid_argument);
}

TEST_CASE("evaluate_lists: invalid arguments throw") {
  using recmix::invalid_argument;
  using doctest::Contains;
  recmix::Recommendations lists;
  lists.items.resize(2, 3);
  lists.items << 1, 2, -1,  //
      0, 3, 2;
  lists.scores.setZero(2, 3);
  const InteractionMatrix truth = matrix_of(2, 4, {{{1, 1.0f}}, {{3, 2.0f}}});
  const std::vector<Metric> ndcg = {Metric::ndcg};
  const std::vector<Index> k3 = {3};
  CHECK_NOTHROW(rm::evaluate_lists(lists, truth, ndcg, k3));

  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, {Metric::ndcg}, {0}), Contains("k must be >= 1"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, ndcg, std::span<const Index>{}), Contains("no k given"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, std::span<const Metric>{}, k3), Contains("no metric"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, {Metric::auc}, {}), Contains("auc needs scores"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_lists(lists, truth, {Metric::ndcg, Metric::auc}, {1}), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, {Metric::ndcg}, {1, 4}), Contains("exceeds"), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, matrix_of(3, 4, {{{1, 1.0f}}, {}, {}}), ndcg, k3), Contains("rows"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, InteractionMatrix(2, 4), ndcg, k3), Contains("empty"), invalid_argument);
  CHECK_THROWS_AS(rm::evaluate_lists(lists, matrix_of(2, 4, {{{1, -1.0f}}, {}}), ndcg, k3), invalid_argument);
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(lists, truth, ndcg, k3, {.threads = -1}), Contains("threads"), invalid_argument);
  // Items outside [-1, n_items): n_items itself, and -2.
  recmix::Recommendations bad = lists;
  bad.items(1, 2) = 4;
  CHECK_THROWS_WITH_AS(rm::evaluate_lists(bad, truth, ndcg, k3), Contains("outside"), invalid_argument);
  bad.items(1, 2) = -2;
  CHECK_THROWS_AS(rm::evaluate_lists(bad, truth, ndcg, k3), invalid_argument);
  // A truth with fewer items than the lists hold makes item 3 out of range.
  CHECK_THROWS_AS(rm::evaluate_lists(lists, matrix_of(2, 3, {{{1, 1.0f}}, {}}), ndcg, k3), invalid_argument);
}

TEST_CASE("Evaluation::at: a metric or k that was not computed throws") {
  RowMatrixXf scores(2, 3);
  scores << 0.3f, 0.2f, 0.1f,  //
      0.1f, 0.2f, 0.3f;
  const InteractionMatrix truth = matrix_of(2, 3, {{{0, 1.0f}}, {{0, 1.0f}}});
  const auto e = rm::evaluate_scores(scores, truth, {Metric::hit_rate, Metric::auc}, {1, 3});
  // Hit@1: user 0 yes, user 1 no; hit@3: both. AUC: user 0 1, user 1 0.
  CHECK(e.at(Metric::hit_rate, 1) == near(0.5));
  CHECK(e.at(Metric::hit_rate, 3) == near(1.0));
  CHECK(e.at(Metric::auc) == near(0.5));
  CHECK(e.at(Metric::auc, 0) == near(0.5));
  CHECK_THROWS_WITH_AS((void)e.at(Metric::ndcg, 1), doctest::Contains("ndcg@1"), recmix::invalid_argument);
  CHECK_THROWS_AS((void)e.at(Metric::hit_rate, 2), recmix::invalid_argument);
  CHECK_THROWS_AS((void)e.at(Metric::hit_rate), recmix::invalid_argument);
  CHECK_THROWS_AS((void)e.at(Metric::auc, 1), recmix::invalid_argument);
  CHECK_THROWS_AS((void)e.at(Metric::coverage, 1), recmix::invalid_argument);
  // The table names every value.
  const std::string t = e.table();
  CHECK(t.find("hit_rate") != std::string::npos);
  CHECK(t.find("auc") != std::string::npos);
  CHECK(t.find("0.50000") != std::string::npos);
}

// ================================================================================================
// 6. Classification metrics
// ================================================================================================

namespace {

/// O(n^2) pairwise AUC: share of (positive, negative) pairs with the positive scored higher,
/// ties 1/2; NaN without both classes.
double pairwise_auc(const std::vector<float>& s, const std::vector<float>& y) {
  double correct = 0.0, pairs = 0.0;
  for (std::size_t p = 0; p < s.size(); ++p) {
    if (y[p] != 1.0f) continue;
    for (std::size_t q = 0; q < s.size(); ++q) {
      if (y[q] != 0.0f) continue;
      pairs += 1.0;
      correct += s[p] > s[q] ? 1.0 : (s[p] == s[q] ? 0.5 : 0.0);
    }
  }
  return pairs > 0.0 ? correct / pairs : kDoubleNaN;
}

std::vector<float> column(const RowMatrixXf& m, Index c) {
  std::vector<float> v;
  for (Index r = 0; r < m.rows(); ++r) v.push_back(m(r, c));
  return v;
}

bool same_label_scores(const rm::LabelScores& a, const rm::LabelScores& b) {
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  if (a.per_label.size() != b.per_label.size() || a.defined != b.defined || !same(a.macro, b.macro) || !same(a.micro, b.micro)) {
    return false;
  }
  for (std::size_t c = 0; c < a.per_label.size(); ++c) {
    if (!same(a.per_label[c], b.per_label[c])) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("roc_auc: hand cases with ties") {
  // All scores tied: every pair counts 1/2.
  CHECK(rm::roc_auc(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, std::vector<float>{0, 1, 0, 1}) == near(0.5));
  // Positives 0.35, 0.8 vs negatives 0.1, 0.4: 0.35 beats 0.1 only, 0.8 beats both -> 3/4.
  CHECK(rm::roc_auc(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}, std::vector<float>{0, 0, 1, 1}) == near(0.75));
  // Positives 0.3, 0.9, 0.3 vs negatives 0.3, 0.1: each 0.3 gets 1/2 + 1, 0.9 gets 2 -> 5/6.
  CHECK(rm::roc_auc(std::vector<float>{0.3f, 0.3f, 0.1f, 0.9f, 0.3f}, std::vector<float>{1, 0, 0, 1, 1}) == near(5.0 / 6.0));
  // Perfectly wrong and perfectly right.
  CHECK(rm::roc_auc(std::vector<float>{0.9f, 0.8f, 0.1f}, std::vector<float>{0, 0, 1}) == 0.0);
  CHECK(rm::roc_auc(std::vector<float>{-3.0f, 7.0f, 2.0f}, std::vector<float>{0, 1, 1}) == near(1.0));
}

TEST_CASE("roc_auc: agrees with a pairwise brute force on data with many ties") {
  recmix::Rng rng(1001);
  for (int trial = 0; trial < 20; ++trial) {
    const auto n = static_cast<std::size_t>(2 + rng.below(300));
    std::vector<float> s(n), y(n);
    for (std::size_t i = 0; i < n; ++i) {
      s[i] = std::round(static_cast<float>(rng.uniform()) * 10.0f) / 10.0f;  // 11 levels: many ties
      y[i] = rng.uniform() < 0.3 ? 1.0f : 0.0f;
    }
    y[0] = 1.0f;
    y[1] = 0.0f;
    CAPTURE(trial);
    CHECK(rm::roc_auc(s, y) == near(pairwise_auc(s, y)));
  }
}

TEST_CASE("roc_auc: multi-label per label, macro and micro; single-class labels") {
  recmix::Rng rng(555);
  const Index n = 200, L = 6;
  RowMatrixXf scores(n, L), labels(n, L);
  for (Index r = 0; r < n; ++r) {
    for (Index c = 0; c < L; ++c) {
      labels(r, c) = rng.uniform() < 0.25 + 0.1 * c ? 1.0f : 0.0f;
      // Informative but noisy, rounded to 1 decimal.
      const double raw = 0.3 * labels(r, c) + 0.7 * rng.uniform();
      scores(r, c) = std::round(static_cast<float>(raw) * 10.0f) / 10.0f;
    }
  }
  labels.col(2).setZero();  // a label never positive
  labels.col(4).setOnes();  // a label always positive
  const auto got = rm::roc_auc(scores, labels);
  REQUIRE(got.per_label.size() == static_cast<std::size_t>(L));
  double sum = 0.0;
  for (Index c = 0; c < L; ++c) {
    CAPTURE(c);
    const double want = pairwise_auc(column(scores, c), column(labels, c));
    if (c == 2 || c == 4) {
      CHECK(std::isnan(got.per_label[static_cast<std::size_t>(c)]));
      CHECK(std::isnan(want));
    } else {
      CHECK(got.per_label[static_cast<std::size_t>(c)] == near(want));
      sum += want;
    }
  }
  CHECK(got.defined == L - 2);
  CHECK(got.macro == near(sum / (L - 2)));
  // Micro: the AUC of all n x L cells pooled.
  std::vector<float> flat_s, flat_y;
  for (Index r = 0; r < n; ++r) {
    for (Index c = 0; c < L; ++c) {
      flat_s.push_back(scores(r, c));
      flat_y.push_back(labels(r, c));
    }
  }
  CHECK(got.micro == near(pairwise_auc(flat_s, flat_y)));

  // Same on 1 and 2 threads.
  CHECK(same_label_scores(rm::roc_auc(scores, labels, {.threads = 1}), rm::roc_auc(scores, labels, {.threads = 2})));
  CHECK(same_label_scores(rm::roc_auc(scores, labels, {.threads = 1}), got));

  // Every label single-class: nothing defined, macro NaN; micro still defined when the pool mixes.
  RowMatrixXf single(3, 2), s2(3, 2);
  single << 0, 1, 0, 1, 0, 1;
  s2 << 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f;
  const auto none = rm::roc_auc(s2, single);
  CHECK(none.defined == 0);
  CHECK(std::isnan(none.macro));
  CHECK(std::isnan(none.per_label[0]));
  CHECK(std::isnan(none.per_label[1]));
  // Pool: positives 0.2, 0.4, 0.6 vs negatives 0.1, 0.3, 0.5: 1 + 2 + 3 = 6 of 9 pairs.
  CHECK(none.micro == near(6.0 / 9.0));

  // The span overload refuses a single class.
  CHECK_THROWS_WITH_AS(rm::roc_auc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 0}), doctest::Contains("single class"),
                       recmix::invalid_argument);
  CHECK_THROWS_AS(rm::roc_auc(std::vector<float>{0.1f, 0.2f, 0.3f}, std::vector<float>{1, 1, 1}), recmix::invalid_argument);
}

TEST_CASE("f1_score: hand case with threshold, zero_division and pooled micro") {
  // 4 rows x 3 labels.
  RowMatrixXf scores(4, 3), labels(4, 3);
  scores << 0.9f, 0.1f, 0.6f,  //
      0.5f, 0.2f, 0.4f,        //
      0.2f, 0.3f, 0.8f,        //
      0.7f, 0.4f, 0.1f;
  labels << 1, 0, 0,  //
      0, 0, 1,        //
      1, 0, 0,        //
      1, 0, 0;
  // threshold 0.5 (score >= 0.5 is positive):
  //   label 0: predicted {1, 1, 0, 1}: TP 2, FP 1, FN 1 -> 4 / 6 = 2/3
  //   label 1: nothing predicted, nothing positive -> zero_division
  //   label 2: predicted {1, 0, 1, 0}: TP 0, FP 2, FN 1 -> 0
  //   micro: TP 2, FP 3, FN 2 -> 4 / 9
  const auto f = rm::f1_score(scores, labels);
  REQUIRE(f.per_label.size() == 3);
  CHECK(f.per_label[0] == near(2.0 / 3.0));
  CHECK(f.per_label[1] == 0.0);
  CHECK(f.per_label[2] == 0.0);
  CHECK(f.macro == near(2.0 / 9.0));
  CHECK(f.defined == 3);
  CHECK(f.micro == near(4.0 / 9.0));

  const auto z = rm::f1_score(scores, labels, {.zero_division = 1.0});
  CHECK(z.per_label[1] == 1.0);
  CHECK(z.macro == near((2.0 / 3.0 + 1.0 + 0.0) / 3.0));
  CHECK(z.micro == near(4.0 / 9.0));  // pooled counts are not empty

  // threshold 0.3:
  //   label 0: predicted {1, 1, 0, 1} as before -> 2/3
  //   label 1: predicted {0, 0, 1, 1}: TP 0, FP 2, FN 0 -> 0
  //   label 2: predicted {1, 1, 1, 0}: TP 1, FP 2, FN 0 -> 2 / 4
  //   micro: TP 3, FP 5, FN 1 -> 6 / 12
  const auto t = rm::f1_score(scores, labels, {.threshold = 0.3});
  CHECK(t.per_label[0] == near(2.0 / 3.0));
  CHECK(t.per_label[1] == 0.0);
  CHECK(t.per_label[2] == near(0.5));
  CHECK(t.micro == near(0.5));
  CHECK(t.macro == near((2.0 / 3.0 + 0.5) / 3.0));

  // Nothing positive anywhere and nothing predicted: micro is zero_division too.
  RowMatrixXf quiet(2, 2), zeros = RowMatrixXf::Zero(2, 2);
  quiet << 0.1f, 0.2f, 0.3f, 0.4f;
  const auto q = rm::f1_score(quiet, zeros, {.zero_division = 0.25});
  CHECK(q.micro == 0.25);
  CHECK(q.macro == 0.25);
  // Same on 1 and 2 threads.
  CHECK(same_label_scores(rm::f1_score(scores, labels, {.threads = 1}), rm::f1_score(scores, labels, {.threads = 2})));
}

TEST_CASE("log_loss: hand case and eps clipping") {
  RowMatrixXf p(3, 2), y(3, 2);
  p << 0.9f, 0.5f,  //
      0.2f, 0.25f,  //
      0.6f, 0.75f;
  y << 1, 1,  //
      0, 0,   //
      0, 1;
  auto d = [](float v) { return static_cast<double>(v); };
  // label 0: -(log 0.9 + log(1 - 0.2) + log(1 - 0.6)) / 3; label 1: -(log .5 + log .75 + log .75) / 3.
  const double l0 = -(std::log(d(0.9f)) + std::log(1.0 - d(0.2f)) + std::log(1.0 - d(0.6f))) / 3.0;
  const double l1 = -(std::log(0.5) + std::log(0.75) + std::log(0.75)) / 3.0;
  const auto ll = rm::log_loss(p, y);
  REQUIRE(ll.per_label.size() == 2);
  CHECK(ll.per_label[0] == near(l0));
  CHECK(ll.per_label[1] == near(l1));
  CHECK(ll.macro == near((l0 + l1) / 2.0));
  CHECK(ll.micro == near((l0 + l1) / 2.0));  // equal column lengths: the pooled mean is the same
  CHECK(ll.defined == 2);

  // p = 0 with y = 1 and p = 1 with y = 0 are clipped to eps: each costs -log(eps).
  RowMatrixXf extreme(4, 1), ey(4, 1);
  extreme << 0.0f, 1.0f, 0.0f, 1.0f;
  ey << 1, 0, 0, 1;
  const auto e = rm::log_loss(extreme, ey, {.eps = 0.01});
  // -(log 0.01 + log(1 - 0.99) + log(1 - 0.01) + log 0.99) / 4
  CHECK(e.per_label[0] == near(-(2.0 * std::log(0.01) + 2.0 * std::log(0.99)) / 4.0));
  const auto e15 = rm::log_loss(extreme, ey);  // default eps 1e-15
  CHECK(std::isfinite(e15.per_label[0]));
  // 1 - (1 - 1e-15) is not exactly 1e-15 in double: compare loosely.
  CHECK(e15.per_label[0] == doctest::Approx(-2.0 * std::log(1e-15) / 4.0).epsilon(1e-2));
  const auto one_cell = rm::log_loss(RowMatrixXf::Zero(1, 1), RowMatrixXf::Ones(1, 1));
  CHECK(one_cell.per_label[0] == near(-std::log(1e-15)));
  // Same on 1 and 2 threads.
  CHECK(same_label_scores(rm::log_loss(p, y, {.threads = 1}), rm::log_loss(p, y, {.threads = 2})));

  // Micro: the mean loss over all 6 cells, summed directly.
  double pooled = 0.0;
  for (Index r = 0; r < 3; ++r) {
    for (Index c = 0; c < 2; ++c) pooled -= y(r, c) == 1.0f ? std::log(d(p(r, c))) : std::log(1.0 - d(p(r, c)));
  }
  CHECK(ll.micro == near(pooled / 6.0));
}

TEST_CASE("Classification metrics: invalid input throws") {
  using recmix::invalid_argument;
  using doctest::Contains;
  RowMatrixXf s(3, 2), y(3, 2);
  s << 0.1f, 0.9f, 0.4f, 0.3f, 0.8f, 0.5f;
  y << 0, 1, 1, 0, 1, 1;
  CHECK_NOTHROW(rm::roc_auc(s, y));
  CHECK_NOTHROW(rm::f1_score(s, y));
  CHECK_NOTHROW(rm::log_loss(s, y));

  auto all_throw = [&](const RowMatrixXf& ss, const RowMatrixXf& yy, const char* what) {
    CAPTURE(what);
    CHECK_THROWS_WITH_AS(rm::roc_auc(ss, yy), Contains(what), invalid_argument);
    CHECK_THROWS_WITH_AS(rm::f1_score(ss, yy), Contains(what), invalid_argument);
    CHECK_THROWS_WITH_AS(rm::log_loss(ss, yy), Contains(what), invalid_argument);
  };
  // Shape mismatch (rows, then columns).
  all_throw(RowMatrixXf::Zero(2, 2), y, "labels are");
  all_throw(RowMatrixXf::Zero(3, 3), y, "labels are");
  // Empty.
  all_throw(RowMatrixXf(0, 2), RowMatrixXf(0, 2), "empty");
  all_throw(RowMatrixXf(3, 0), RowMatrixXf(3, 0), "empty");
  // Labels other than 0 and 1.
  for (float bad : {2.0f, -1.0f, 0.5f, kNaN}) {
    RowMatrixXf yb = y;
    yb(1, 1) = bad;
    all_throw(s, yb, "labels must be 0 or 1");
  }
  // Non-finite scores.
  for (float bad : {kNaN, kInf, -kInf}) {
    RowMatrixXf sb = s;
    sb(2, 0) = bad;
    all_throw(sb, y, "not finite");
  }
  // Probabilities outside [0, 1]: only log_loss cares.
  for (float bad : {1.5f, -0.1f}) {
    RowMatrixXf sb = s;
    sb(0, 1) = bad;
    CHECK_THROWS_WITH_AS(rm::log_loss(sb, y), Contains("outside [0, 1]"), invalid_argument);
    CHECK_NOTHROW(rm::roc_auc(sb, y));
    CHECK_NOTHROW(rm::f1_score(sb, y));
  }
  // Bad eps.
  for (double eps : {-1e-3, 0.5, 0.7, std::numeric_limits<double>::quiet_NaN()}) {
    CAPTURE(eps);
    CHECK_THROWS_WITH_AS(rm::log_loss(s, y, {.eps = eps}), Contains("eps"), invalid_argument);
  }
  CHECK_NOTHROW(rm::log_loss(s, y, {.eps = 0.0}));
  // Non-finite threshold.
  for (double t : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    CAPTURE(t);
    CHECK_THROWS_WITH_AS(rm::f1_score(s, y, {.threshold = t}), Contains("threshold"), invalid_argument);
  }
  // Negative threads (roc_auc spreads labels over threads).
  CHECK_THROWS_WITH_AS(rm::roc_auc(s, y, {.threads = -1}), Contains("threads"), invalid_argument);
  // The span overload: length mismatch, bad label, non-finite score.
  CHECK_THROWS_AS(rm::roc_auc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 1, 1}), invalid_argument);
  CHECK_THROWS_AS(rm::roc_auc(std::vector<float>{0.1f, 0.2f}, std::vector<float>{0, 3}), invalid_argument);
  CHECK_THROWS_AS(rm::roc_auc(std::vector<float>{0.1f, kNaN}, std::vector<float>{0, 1}), invalid_argument);
  CHECK_THROWS_AS(rm::roc_auc(std::vector<float>{}, std::vector<float>{}), invalid_argument);
}
