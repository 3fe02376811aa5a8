#pragma once
/// @file
/// Ranking metrics at a cut-off k for one user — NDCG, average precision, precision, recall,
/// hit rate, reciprocal rank — and the options that name every choice libraries make
/// differently. metrics::evaluate runs the same code for a whole batch of users at once.
///
/// @code
/// using namespace recmix::metrics;
/// std::vector<recmix::Index> ranked = {1, 2, 3, 4};        // best first
/// std::vector<recmix::Index> relevant = {1, 3, 4};
/// average_precision_at_k(ranked, {relevant}, 1);                                 // 1.0
/// average_precision_at_k(ranked, {relevant}, 1, {.ap_divisor = ApDivisor::relevant});  // 1/3
/// ndcg_at_k(ranked, {relevant}, 4);      // (1 + 1/2 + 1/log2 5) / (1 + 1/log2 3 + 1/2)
/// @endcode
///
/// Definitions (hits counted in the first k ranks; rel = the user's relevant items, those with
/// gain > 0; a ranked list shorter than k, or padded with -1, simply has fewer hits; an item
/// repeated in a list counts once, at its first rank):
///   DCG@k       sum over ranks r = 1..k of gain(item_r) / log2(r + 1)
///   NDCG@k      DCG@k / IDCG@k; IDCG puts the user's gains in descending order over
///               min(k, |rel|) ranks (IdealDcg::relevant_in_k, default) or repeats the user's
///               largest gain over all k ranks (IdealDcg::all_k: a user with fewer than k
///               relevant items can no longer reach 1)
///   AP@k        sum over relevant ranks r <= k of precision@r, divided by min(k, |rel|)
///               (ApDivisor::min_k_relevant: Kaggle, RePlay, implicit; default), |rel|
///               (ApDivisor::relevant: RecTools, ranx) or k (ApDivisor::k)
///   precision@k hits / k
///   recall@k    hits / |rel| (RecallDivisor::relevant, default) or hits / min(k, |rel|)
///   hit rate@k  1 when there is at least one hit
///   RR@k        1 / rank of the first hit, 0 without a hit in the first k
/// Gains: binary relevance has gain 1; graded gains enter as they are (Gain::linear, default)
/// or as 2^gain - 1 (Gain::exponential), in DCG and IDCG alike. Every metric of a user without
/// relevant items is 0; UserAveraging says whether such users count in a mean.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/types.hpp"

namespace recmix::metrics {

/// The metrics evaluate() can compute. auc has no cut-off; coverage is one number per k for the
/// whole batch (the share of the catalogue that appears in some user's top k).
enum class Metric : std::uint8_t { ndcg, map, precision, recall, hit_rate, mrr, auc, coverage };

inline const char* metric_name(Metric m) noexcept {
  switch (m) {
    case Metric::ndcg: return "ndcg";
    case Metric::map: return "map";
    case Metric::precision: return "precision";
    case Metric::recall: return "recall";
    case Metric::hit_rate: return "hit_rate";
    case Metric::mrr: return "mrr";
    case Metric::auc: return "auc";
    case Metric::coverage: return "coverage";
  }
  return "?";
}

enum class IdealDcg { relevant_in_k, all_k };
enum class ApDivisor { min_k_relevant, relevant, k };
enum class RecallDivisor { relevant, min_k_relevant };
enum class Gain { linear, exponential };
/// Which users a mean runs over: those with at least one relevant item (default), or all users
/// of the batch, the others scoring 0 (Kaggle Santander's MAP@7).
enum class UserAveraging { with_relevant, all_users };

struct RankingOptions {
  IdealDcg ideal = IdealDcg::relevant_in_k;
  ApDivisor ap_divisor = ApDivisor::min_k_relevant;
  RecallDivisor recall_divisor = RecallDivisor::relevant;
  Gain gain = Gain::linear;
  UserAveraging users = UserAveraging::with_relevant;
};

/// One user's relevant items, with optional graded gains (empty = gain 1 for each item).
struct RelevantItems {
  std::span<const Index> items;
  std::span<const float> gains = {};
};

namespace detail {

/// 1 / log2(r + 2) for ranks r = 0, 1, ... (0-based).
inline double rank_discount(std::size_t r) { return 1.0 / std::log2(static_cast<double>(r) + 2.0); }

inline double apply_gain(double g, Gain gain) { return gain == Gain::exponential ? std::exp2(g) - 1.0 : g; }

/// The per-user ranking kernel shared by the single-user functions and evaluate(): walks the
/// first max_k ranks once and writes every requested (metric, k) value.
class UserRankingKernel {
 public:
  /// ks: ascending, distinct, >= 1. metrics: any of ndcg..mrr (auc and coverage are handled
  /// by the caller).
  UserRankingKernel(std::span<const Index> ks, std::span<const Metric> metrics, const RankingOptions& options)
      : ks_(ks.begin(), ks.end()), metrics_(metrics.begin(), metrics.end()), options_(options) {
    const std::size_t max_k = ks_.empty() ? 0 : static_cast<std::size_t>(ks_.back());
    discount_.resize(max_k);
    for (std::size_t r = 0; r < max_k; ++r) discount_[r] = rank_discount(r);
  }

  [[nodiscard]] Index max_k() const noexcept { return ks_.empty() ? 0 : ks_.back(); }
  [[nodiscard]] std::size_t columns() const noexcept { return ks_.size() * metrics_.size(); }

  /// ranked: the user's list, best first (at least max_k entries or shorter; -1 = empty slot).
  /// gain_of(item): the user's gain for an item (0 when not relevant). ideal: the user's positive
  /// gains in descending order (raw, before Gain). out[k_index * metrics + metric_index].
  template <class GainOf>
  void run(std::span<const Index> ranked, GainOf&& gain_of, std::span<const float> ideal, double* out) const {
    const std::size_t n_rel = ideal.size();
    const std::size_t n_metrics = metrics_.size();
    if (n_rel == 0) {
      std::fill(out, out + columns(), 0.0);
      return;
    }
    std::size_t hits = 0, first_hit = 0, r = 0;
    double dcg = 0.0, ap_sum = 0.0, idcg = 0.0;
    std::size_t ideal_ranks = 0;
    const double top_gain = apply_gain(ideal[0], options_.gain);
    for (std::size_t j = 0; j < ks_.size(); ++j) {
      const auto k = static_cast<std::size_t>(ks_[j]);
      for (; r < k; ++r) {
        if (r >= ranked.size()) continue;
        const Index item = ranked[r];
        if (item < 0) continue;
        const double g = gain_of(item);
        if (g > 0.0) {
          ++hits;
          if (first_hit == 0) first_hit = r + 1;
          dcg += apply_gain(g, options_.gain) * discount_[r];
          ap_sum += static_cast<double>(hits) / static_cast<double>(r + 1);
        }
      }
      // IDCG over the first min(k, |rel|) (or k) ideal ranks, grown incrementally.
      const std::size_t ideal_target = options_.ideal == IdealDcg::all_k ? k : std::min(k, n_rel);
      for (; ideal_ranks < ideal_target; ++ideal_ranks) {
        const double g = options_.ideal == IdealDcg::all_k ? top_gain : apply_gain(ideal[ideal_ranks], options_.gain);
        idcg += g * discount_[ideal_ranks];
      }
      const double kd = static_cast<double>(k), hd = static_cast<double>(hits);
      const double min_k_rel = static_cast<double>(std::min(k, n_rel));
      for (std::size_t m = 0; m < n_metrics; ++m) {
        double v = 0.0;
        switch (metrics_[m]) {
          case Metric::ndcg: v = idcg > 0.0 ? dcg / idcg : 0.0; break;
          case Metric::map: {
            const double div = options_.ap_divisor == ApDivisor::min_k_relevant ? min_k_rel
                               : options_.ap_divisor == ApDivisor::relevant ? static_cast<double>(n_rel)
                                                                            : kd;
            v = ap_sum / div;
            break;
          }
          case Metric::precision: v = hd / kd; break;
          case Metric::recall:
            v = hd / (options_.recall_divisor == RecallDivisor::relevant ? static_cast<double>(n_rel) : min_k_rel);
            break;
          case Metric::hit_rate: v = hits > 0 ? 1.0 : 0.0; break;
          case Metric::mrr: v = first_hit > 0 ? 1.0 / static_cast<double>(first_hit) : 0.0; break;
          case Metric::auc:
          case Metric::coverage: break;
        }
        out[j * n_metrics + m] = v;
      }
    }
  }

 private:
  std::vector<Index> ks_;
  std::vector<Metric> metrics_;
  RankingOptions options_;
  std::vector<double> discount_;
};

/// Checks a single-user call and returns the positive gains in descending order.
inline std::vector<float> checked_ideal(const RelevantItems& relevant, Index k, const char* api) {
  if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
  if (!relevant.gains.empty() && relevant.gains.size() != relevant.items.size()) {
    throw invalid_argument(std::string(api) + ": " + std::to_string(relevant.items.size()) + " relevant items but " +
                           std::to_string(relevant.gains.size()) + " gains");
  }
  std::vector<Index> sorted(relevant.items.begin(), relevant.items.end());
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw invalid_argument(std::string(api) + ": relevant item " + std::to_string(*std::adjacent_find(sorted.begin(), sorted.end())) +
                           " is listed twice");
  }
  std::vector<float> ideal;
  for (std::size_t j = 0; j < relevant.items.size(); ++j) {
    const float g = relevant.gains.empty() ? 1.0f : relevant.gains[j];
    if (!(g >= 0.0f) || !std::isfinite(g)) {
      throw invalid_argument(std::string(api) + ": gain of item " + std::to_string(relevant.items[j]) + " is " +
                             std::to_string(g) + "; gains must be finite and >= 0");
    }
    if (g > 0.0f) ideal.push_back(g);
  }
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  return ideal;
}

inline double single_user_metric(Metric metric, std::span<const Index> ranked, const RelevantItems& relevant, Index k,
                                  const RankingOptions& options, const char* api) {
  const std::vector<float> ideal = checked_ideal(relevant, k, api);
  // An item repeated in the list counts once, at its first rank.
  std::vector<Index> unique(ranked.begin(), ranked.end());
  for (std::size_t r = 1; r < unique.size(); ++r) {
    if (unique[r] >= 0 && std::find(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(r), unique[r]) !=
                              ranked.begin() + static_cast<std::ptrdiff_t>(r)) {
      unique[r] = -1;
    }
  }
  ranked = unique;
  const Index ks[] = {k};
  const Metric ms[] = {metric};
  UserRankingKernel kernel(ks, ms, options);
  auto gain_of = [&](Index item) -> double {
    for (std::size_t j = 0; j < relevant.items.size(); ++j) {
      if (relevant.items[j] == item) return relevant.gains.empty() ? 1.0 : relevant.gains[j];
    }
    return 0.0;
  };
  double v = 0.0;
  kernel.run(ranked, gain_of, ideal, &v);
  return v;
}

}  // namespace detail

/// NDCG@k of one ranked list (see the file comment for the definition and options).
inline double ndcg_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k, const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::ndcg, ranked, relevant, k, options, "ndcg_at_k");
}
/// AP@k; the divisor is options.ap_divisor.
inline double average_precision_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k,
                                     const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::map, ranked, relevant, k, options, "average_precision_at_k");
}
inline double precision_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k, const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::precision, ranked, relevant, k, options, "precision_at_k");
}
inline double recall_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k, const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::recall, ranked, relevant, k, options, "recall_at_k");
}
inline double hit_rate_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k, const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::hit_rate, ranked, relevant, k, options, "hit_rate_at_k");
}
inline double reciprocal_rank_at_k(std::span<const Index> ranked, const RelevantItems& relevant, Index k,
                                   const RankingOptions& options = {}) {
  return detail::single_user_metric(Metric::mrr, ranked, relevant, k, options, "reciprocal_rank_at_k");
}

}  // namespace recmix::metrics
