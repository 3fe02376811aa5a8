#pragma once
/// @file
/// evaluate: every requested ranking metric at every requested k, in one multi-threaded pass
/// over the users of a batch — for any Recommender, for a dense score matrix, or for top-k
/// lists computed elsewhere.
///
/// @code
/// using recmix::metrics::Metric;
/// recmix::UserBatch batch(users, &train, recmix::HistoryRows::by_user_id);
/// auto result = recmix::metrics::evaluate(als, batch, test_matrix,
///                                         {Metric::ndcg, Metric::map, Metric::recall}, {3, 7},
///                                         {.truth_rows = recmix::HistoryRows::by_user_id});
/// double map7 = result.at(Metric::map, 7);
/// std::cout << result.table();
/// @endcode
///
/// Ranking: each user's items are ordered by score, higher first; equal scores go to the lower
/// item index (the rule of recmix::recommend). Items with score -inf are never ranked (that is
/// how history exclusion works); a NaN score is an error. Users the model cannot score
/// (can_score == 0) get an empty list, so every per-k metric of theirs is 0 (and they have no AUC).
/// A relevant item the user already holds stays relevant: with exclude_history it can never be
/// ranked, so recall cannot reach 1 (use TestFilter::drop_seen when splitting to avoid that).
///
/// Means: a user counts in the mean of ndcg..mrr when they have a relevant item (default) or
/// always (UserAveraging::all_users). AUC (per user: the share of (relevant, other) item pairs
/// ordered correctly among the ranked items, ties counting one half) counts users that have at
/// least one relevant and one other ranked item. Coverage@k is the share of all items that
/// appear in some user's top k. Every mean is a sum in double over users in a fixed order,
/// so results do not depend on the number of threads.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <iomanip>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/recommend.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/topk.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"
#include "recmix/metrics/ranking.hpp"

namespace recmix::metrics {

struct EvaluateOptions {
  RankingOptions ranking = {};
  /// How batch row r finds its truth row: row r (aligned) or row users[r] (by_user_id).
  HistoryRows truth_rows = HistoryRows::aligned;
  /// Never rank what a user already holds (the batch's history), as recommend() does.
  bool exclude_history = true;
  /// Keep each user's value of every metric (Evaluation::per_user).
  bool per_user = false;
  /// 0 = all cores.
  int threads = 0;
};

/// The mean of one metric at one cut-off (k = 0 for auc).
struct MetricValue {
  Metric metric;
  Index k;
  double mean;
  /// Users in the mean (coverage: number of items in the catalogue).
  Index users;
};

struct Evaluation {
  /// One entry per (metric, k) in the order asked: metrics outer, ks inner; auc once, k = 0.
  std::vector<MetricValue> values;
  /// batch.size() x values.size() when per_user was asked: each user's value, NaN where the
  /// user does not count (and for coverage, which has no per-user value).
  RowMatrixXd per_user;
  Index users = 0;
  Index users_with_relevant = 0;

  /// The mean of a metric at k (k = 0 for auc). Throws when it was not computed.
  [[nodiscard]] double at(Metric metric, Index k = 0) const {
    for (const auto& v : values) {
      if (v.metric == metric && v.k == k) return v.mean;
    }
    throw invalid_argument(std::string("Evaluation::at: ") + metric_name(metric) + "@" + std::to_string(k) + " was not computed");
  }

  /// A plain-text table: one row per metric, one column per k.
  [[nodiscard]] std::string table() const {
    std::ostringstream os;
    os << std::fixed << std::setprecision(5);
    for (const auto& v : values) {
      os << std::left << std::setw(10) << metric_name(v.metric);
      if (v.k > 0) os << "@" << std::setw(4) << v.k;
      else os << std::setw(5) << "";
      os << std::right << std::setw(10) << v.mean << "  (" << v.users << (v.metric == Metric::coverage ? " items" : " users") << ")\n";
    }
    return os.str();
  }
};

namespace detail {

struct EvaluationPlan {
  std::vector<Metric> per_k;      // ndcg..mrr, in request order
  std::vector<Index> ks;          // ascending, distinct
  bool auc = false;
  bool coverage = false;
  std::vector<Metric> requested;  // as asked (deduplicated)
  std::vector<Index> requested_ks;
};

inline EvaluationPlan make_plan(std::span<const Metric> metrics, std::span<const Index> ks, const char* api) {
  if (metrics.empty()) throw invalid_argument(std::string(api) + ": no metric requested");
  EvaluationPlan plan;
  for (Metric m : metrics) {
    if (static_cast<int>(m) > static_cast<int>(Metric::coverage)) {
      throw invalid_argument(std::string(api) + ": unknown metric " + std::to_string(static_cast<int>(m)));
    }
    if (std::find(plan.requested.begin(), plan.requested.end(), m) != plan.requested.end()) continue;
    plan.requested.push_back(m);
    if (m == Metric::auc) plan.auc = true;
    else if (m == Metric::coverage) plan.coverage = true;
    else plan.per_k.push_back(m);
  }
  const bool needs_k = !plan.per_k.empty() || plan.coverage;
  if (needs_k && ks.empty()) throw invalid_argument(std::string(api) + ": no k given");
  for (Index k : ks) {
    if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
    if (std::find(plan.requested_ks.begin(), plan.requested_ks.end(), k) == plan.requested_ks.end()) plan.requested_ks.push_back(k);
  }
  plan.ks = plan.requested_ks;
  std::sort(plan.ks.begin(), plan.ks.end());
  return plan;
}

/// Per-thread state of the pass.
/// Aligned to two cache lines: workers sit side by side in a vector, and the fields one thread
/// updates per user would otherwise share a line with the next worker's.
struct alignas(128) EvaluationWorker {
  std::vector<float> gain;            // dense per item, 0 = not relevant; reset after each user
  std::vector<std::uint8_t> seen;     // dense per item: repeats in a given list; reset after each user
  std::vector<float> ideal;
  std::vector<float> positive_scores;
  std::vector<Index> ranked;
  std::vector<float> ranked_scores;
  std::vector<double> values;         // one user's per-k values
  std::vector<Index> first_rank;      // coverage: best rank at which each item appeared
  std::vector<double> block_sums;     // the current block's sums (see EvaluationPass)
  double block_auc_users = 0.0;
  recmix::detail::TopK top{1};
};

/// Shared state and per-block sums of one evaluation.
class EvaluationPass {
 public:
  EvaluationPass(EvaluationPlan plan, const RankingOptions& ranking, Index n_users, Index n_items, bool per_user)
      : plan_(std::move(plan)),
        kernel_(plan_.ks, plan_.per_k, ranking),
        averaging_(ranking.users),
        n_items_(n_items),
        columns_(kernel_.columns() + (plan_.auc ? 1 : 0)) {
    if (per_user) per_user_.setConstant(n_users, static_cast<Eigen::Index>(columns_), std::numeric_limits<double>::quiet_NaN());
  }

  static constexpr Index kBlock = 2048;

  [[nodiscard]] Index max_k() const noexcept { return plan_.ks.empty() ? 0 : plan_.ks.back(); }
  [[nodiscard]] const EvaluationPlan& plan() const noexcept { return plan_; }

  void prepare_blocks(Index n_users) {
    const Index n_blocks = n_users == 0 ? 0 : (n_users - 1) / kBlock + 1;
    sums_.assign(static_cast<std::size_t>(n_blocks) * (columns_ + 2), 0.0);
  }

  /// Starts and ends a block: sums go to the worker first, then to the block's own slot.
  void begin_block(EvaluationWorker& w) const {
    std::fill(w.block_sums.begin(), w.block_sums.end(), 0.0);
    w.block_auc_users = 0.0;
  }
  void end_block(const EvaluationWorker& w, Index block) {
    std::copy(w.block_sums.begin(), w.block_sums.end(), sums_.begin() + static_cast<std::ptrdiff_t>(block) * static_cast<std::ptrdiff_t>(columns_ + 2));
    auc_users_[static_cast<std::size_t>(block)] = w.block_auc_users;
  }

  void prepare_worker(EvaluationWorker& w) const {
    w.block_sums.assign(columns_ + 2, 0.0);
    w.gain.assign(static_cast<std::size_t>(n_items_), 0.0f);
    w.seen.assign(static_cast<std::size_t>(n_items_), 0);
    w.values.assign(kernel_.columns(), 0.0);
    w.ranked.assign(static_cast<std::size_t>(max_k()), -1);
    w.ranked_scores.assign(static_cast<std::size_t>(max_k()), 0.0f);
    w.top = recmix::detail::TopK(std::max<Index>(1, max_k()));
    if (plan_.coverage) w.first_rank.assign(static_cast<std::size_t>(n_items_), std::numeric_limits<Index>::max());
  }

  /// Evaluates one user. `scores` (may be null when `ranked_in` is given) is the user's row of
  /// n_items scores; `ranked_in` a precomputed list (best first, -1 padded). `truth` holds the
  /// relevant items and their gains.
  void user(EvaluationWorker& w, Index block, Index global_row, const float* scores, std::span<const Index> ranked_in,
            const SparseRow& truth, const char* api) {
    (void)block;
    double* block_sums = w.block_sums.data();  // this block's sums, kept by the worker (no false sharing)
    // Relevance of this user.
    w.ideal.clear();
    for (std::size_t j = 0; j < truth.size(); ++j) {
      const float g = truth.values[j];
      if (!(g >= 0.0f) || !std::isfinite(g)) {
        throw invalid_argument(std::string(api) + ": truth row of batch row " + std::to_string(global_row) + " has gain " +
                               std::to_string(g) + " for item " + std::to_string(truth.indices[j]) + "; gains must be finite and >= 0");
      }
      if (g > 0.0f) {
        w.gain[static_cast<std::size_t>(truth.indices[j])] = g;
        w.ideal.push_back(g);
      }
    }
    std::sort(w.ideal.begin(), w.ideal.end(), std::greater<>());
    const bool has_relevant = !w.ideal.empty();

    // The ranked list. A list given from outside may repeat an item: only its first
    // occurrence counts (as Kaggle's AP does); later ones become empty slots.
    std::span<const Index> ranked = ranked_in;
    if (!ranked_in.empty()) {
      const std::size_t len = std::min(ranked_in.size(), static_cast<std::size_t>(max_k()));
      for (std::size_t r = 0; r < len; ++r) {
        const Index item = ranked_in[r];
        const bool repeat = item >= 0 && w.seen[static_cast<std::size_t>(item)] != 0;
        w.ranked[r] = repeat ? -1 : item;
        if (item >= 0) w.seen[static_cast<std::size_t>(item)] = 1;
      }
      for (std::size_t r = 0; r < len; ++r) {
        if (ranked_in[r] >= 0) w.seen[static_cast<std::size_t>(ranked_in[r])] = 0;
      }
      ranked = std::span<const Index>(w.ranked.data(), len);
    }
    if (scores != nullptr && max_k() > 0) {
      w.top.clear();
      w.top.scan(scores, n_items_);
      w.top.write(w.ranked.data(), w.ranked_scores.data());
      ranked = w.ranked;
    }
    auto gain_of = [&w](Index item) -> double { return w.gain[static_cast<std::size_t>(item)]; };

    // Per-k metrics.
    if (!plan_.per_k.empty()) {
      kernel_.run(ranked, gain_of, w.ideal, w.values.data());
      if (has_relevant || averaging_ == UserAveraging::all_users) {
        for (std::size_t c = 0; c < kernel_.columns(); ++c) block_sums[c] += w.values[c];
        block_sums[columns_] += 1.0;
        if (per_user_.size() > 0) {
          for (std::size_t c = 0; c < kernel_.columns(); ++c) per_user_(global_row, static_cast<Eigen::Index>(c)) = w.values[c];
        }
      }
    }
    if (has_relevant) block_sums[columns_ + 1] += 1.0;

    // AUC over the ranked (finite-score) items.
    if (plan_.auc && scores != nullptr && has_relevant) {
      w.positive_scores.clear();
      Index candidates = 0;
      for (Index i = 0; i < n_items_; ++i) {
        if (scores[i] == -std::numeric_limits<float>::infinity()) continue;
        ++candidates;
        if (w.gain[static_cast<std::size_t>(i)] > 0.0f) w.positive_scores.push_back(scores[i]);
      }
      const auto n_pos = static_cast<Index>(w.positive_scores.size());
      const Index n_neg = candidates - n_pos;
      if (n_pos > 0 && n_neg > 0) {
        std::sort(w.positive_scores.begin(), w.positive_scores.end());
        double correct = 0.0;
        for (Index i = 0; i < n_items_; ++i) {
          const float s = scores[i];
          if (s == -std::numeric_limits<float>::infinity() || w.gain[static_cast<std::size_t>(i)] > 0.0f) continue;
          const auto lo = std::lower_bound(w.positive_scores.begin(), w.positive_scores.end(), s);
          const auto hi = std::upper_bound(lo, w.positive_scores.end(), s);
          correct += static_cast<double>(w.positive_scores.end() - hi) + 0.5 * static_cast<double>(hi - lo);
        }
        const double auc = correct / (static_cast<double>(n_pos) * static_cast<double>(n_neg));
        block_sums[kernel_.columns()] += auc;
        w.block_auc_users += 1.0;
        if (per_user_.size() > 0) per_user_(global_row, static_cast<Eigen::Index>(kernel_.columns())) = auc;
      }
    }

    // Coverage.
    if (plan_.coverage) {
      for (std::size_t r = 0; r < ranked.size() && r < static_cast<std::size_t>(max_k()); ++r) {
        const Index item = ranked[r];
        if (item >= 0) {
          auto& best = w.first_rank[static_cast<std::size_t>(item)];
          best = std::min(best, static_cast<Index>(r));
        }
      }
    }

    for (std::size_t j = 0; j < truth.size(); ++j) w.gain[static_cast<std::size_t>(truth.indices[j])] = 0.0f;
  }

  /// Sums in block order and builds the result.
  Evaluation finish(Index n_users, const std::vector<EvaluationWorker>& workers) {
    const Index n_blocks = n_users == 0 ? 0 : (n_users - 1) / kBlock + 1;
    std::vector<double> total(columns_ + 2, 0.0);
    double auc_users = 0.0;
    for (Index b = 0; b < n_blocks; ++b) {
      const double* s = sums_.data() + static_cast<std::size_t>(b) * (columns_ + 2);
      for (std::size_t c = 0; c < columns_ + 2; ++c) total[c] += s[c];
      if (plan_.auc) auc_users += auc_users_[static_cast<std::size_t>(b)];
    }
    Evaluation out;
    out.users = n_users;
    out.users_with_relevant = static_cast<Index>(total[columns_ + 1]);
    const double counted = total[columns_];
    std::vector<Index> covered;
    if (plan_.coverage) {
      std::vector<Index> best(static_cast<std::size_t>(n_items_), std::numeric_limits<Index>::max());
      for (const auto& w : workers) {
        for (std::size_t i = 0; i < w.first_rank.size(); ++i) best[i] = std::min(best[i], w.first_rank[i]);
      }
      for (Index k : plan_.ks) {
        covered.push_back(static_cast<Index>(std::count_if(best.begin(), best.end(), [k](Index r) { return r < k; })));
      }
    }
    const std::size_t n_metrics = plan_.per_k.size();
    for (Metric m : plan_.requested) {
      if (m == Metric::auc) {
        out.values.push_back({m, 0, auc_users > 0 ? total[kernel_.columns()] / auc_users : 0.0, static_cast<Index>(auc_users)});
        continue;
      }
      for (Index k : plan_.requested_ks) {
        const auto kj = static_cast<std::size_t>(std::find(plan_.ks.begin(), plan_.ks.end(), k) - plan_.ks.begin());
        if (m == Metric::coverage) {
          out.values.push_back({m, k, n_items_ > 0 ? static_cast<double>(covered[kj]) / n_items_ : 0.0, n_items_});
          continue;
        }
        const auto mj = static_cast<std::size_t>(std::find(plan_.per_k.begin(), plan_.per_k.end(), m) - plan_.per_k.begin());
        const double sum = total[kj * n_metrics + mj];
        out.values.push_back({m, k, counted > 0 ? sum / counted : 0.0, static_cast<Index>(counted)});
      }
    }
    if (per_user_.rows() > 0) {  // rows, not size: coverage alone has 0 per-user columns
      // Reorder per-user columns to match `values`.
      out.per_user.setConstant(n_users, static_cast<Eigen::Index>(out.values.size()), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t v = 0; v < out.values.size(); ++v) {
        const auto& mv = out.values[v];
        if (mv.metric == Metric::coverage) continue;
        std::size_t src = kernel_.columns();
        if (mv.metric != Metric::auc) {
          const auto kj = static_cast<std::size_t>(std::find(plan_.ks.begin(), plan_.ks.end(), mv.k) - plan_.ks.begin());
          const auto mj = static_cast<std::size_t>(std::find(plan_.per_k.begin(), plan_.per_k.end(), mv.metric) - plan_.per_k.begin());
          src = kj * n_metrics + mj;
        }
        out.per_user.col(static_cast<Eigen::Index>(v)) = per_user_.col(static_cast<Eigen::Index>(src));
      }
    }
    return out;
  }

  void prepare_auc(Index n_users) {
    const Index n_blocks = n_users == 0 ? 0 : (n_users - 1) / kBlock + 1;
    auc_users_.assign(static_cast<std::size_t>(n_blocks), 0.0);
  }

 private:

  EvaluationPlan plan_;
  UserRankingKernel kernel_;
  UserAveraging averaging_;
  Index n_items_;
  std::size_t columns_;
  std::vector<double> sums_;       // per block: columns_ sums, users counted, users with relevant
  std::vector<double> auc_users_;  // per block
  RowMatrixXd per_user_;
};

inline void check_truth(const InteractionMatrix& truth, Index n_items, Index batch_size, std::span<const Index> users,
                        HistoryRows rows, const char* api) {
  if (truth.cols() != n_items) {
    throw invalid_argument(std::string(api) + ": truth has " + std::to_string(truth.cols()) + " items but the scores have " +
                           std::to_string(n_items));
  }
  if (rows == HistoryRows::aligned) {
    if (truth.rows() != batch_size) {
      throw invalid_argument(std::string(api) + ": truth has " + std::to_string(truth.rows()) + " rows but the batch has " +
                             std::to_string(batch_size) + " users (use truth_rows = by_user_id for a matrix indexed by user)");
    }
  } else {
    for (std::size_t r = 0; r < users.size(); ++r) {
      if (users[r] >= truth.rows()) {
        throw invalid_argument(std::string(api) + ": user " + std::to_string(users[r]) + " of batch row " + std::to_string(r) +
                               " has no row in truth (" + std::to_string(truth.rows()) + " rows)");
      }
    }
  }
  if (std::none_of(truth.values().begin(), truth.values().end(), [](float g) { return g > 0.0f; })) {
    throw invalid_argument(std::string(api) + ": truth is empty (no relevant item for any user)");
  }
}

inline SparseRow truth_row(const InteractionMatrix& truth, HistoryRows rows, std::span<const Index> users, Index r) {
  if (rows == HistoryRows::aligned) return truth.row(r);
  const Index u = users[static_cast<std::size_t>(r)];
  return u < 0 ? SparseRow{} : truth.row(u);
}

inline void check_scores_finite(const float* row, Index n_items, Index global_row, const char* api) {
  for (Index i = 0; i < n_items; ++i) {
    if (std::isnan(row[i])) {
      throw invalid_argument(std::string(api) + ": score of batch row " + std::to_string(global_row) + ", item " +
                             std::to_string(i) + " is NaN");
    }
  }
}

/// The multi-threaded loop: fixed blocks of users, each block's sums in its own slot.
template <class BlockFn>
Evaluation run_pass(EvaluationPass& pass, Index n_users, int threads, BlockFn&& block_fn) {
  pass.prepare_blocks(n_users);
  pass.prepare_auc(n_users);
  const Index n_blocks = n_users == 0 ? 0 : (n_users - 1) / EvaluationPass::kBlock + 1;
  const int n_workers = std::max(1, std::min<int>(threads, static_cast<int>(std::max<Index>(1, n_blocks))));
  std::vector<EvaluationWorker> workers(static_cast<std::size_t>(n_workers));
  recmix::detail::ParallelErrors errors;
  recmix::detail::EigenSerialGuard serial_eigen;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_workers)
#endif
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    EvaluationWorker& w = workers[static_cast<std::size_t>(t)];
    errors.run([&] { pass.prepare_worker(w); });
#ifdef _OPENMP
#pragma omp barrier
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      if (errors.failed()) continue;
      errors.run([&] {
        const Index begin = b * EvaluationPass::kBlock;
        const Index end = std::min(n_users, begin + EvaluationPass::kBlock);
        pass.begin_block(w);
        block_fn(w, b, begin, end);
        pass.end_block(w, b);
      });
    }
  }
  errors.rethrow();
  return pass.finish(n_users, workers);
}

}  // namespace detail

/// Evaluates a Recommender on a batch: scores the batch block by block (exclude_history masks
/// the batch's history with -inf), ranks, and computes the metrics against `truth` (relevant
/// items and gains; rows per options.truth_rows; stored zeros are not relevant).
template <Recommender M>
Evaluation evaluate(const M& model, const UserBatch& batch, const InteractionMatrix& truth, std::span<const Metric> metrics,
                    std::span<const Index> ks, const EvaluateOptions& options = {}) {
  constexpr const char* api = "evaluate";
  const auto n_items = static_cast<Index>(model.num_items());
  detail::check_truth(truth, n_items, batch.size(), batch.users(), options.truth_rows, api);
  detail::EvaluationPass pass(detail::make_plan(metrics, ks, api), options.ranking, batch.size(), n_items, options.per_user);
  const int threads = resolve_threads(options.threads, api);
  constexpr Index kScoreBlock = 256;  // users scored by one call of model.score
  return detail::run_pass(pass, batch.size(), threads, [&](detail::EvaluationWorker& w, Index b, Index begin, Index end) {
    RowMatrixXf scores;
    std::vector<std::uint8_t> known;
    for (Index s = begin; s < end; s += kScoreBlock) {
      const Index e = std::min(end, s + kScoreBlock);
      const UserBatch sub = batch.slice(s, e);
      scores.resize(e - s, n_items);
      known.assign(static_cast<std::size_t>(e - s), 1);
      model.score(sub, scores);
      model.can_score(sub, std::span<std::uint8_t>(known));
      for (Index r = 0; r < e - s; ++r) {
        float* row = scores.data() + static_cast<std::ptrdiff_t>(r) * n_items;
        const SparseRow truth_r = detail::truth_row(truth, options.truth_rows, batch.users(), s + r);
        if (known[static_cast<std::size_t>(r)] == 0) {
          pass.user(w, b, s + r, nullptr, {}, truth_r, api);
          continue;
        }
        detail::check_scores_finite(row, n_items, s + r, api);
        if (options.exclude_history) {
          for (Index i : sub.history_row(r).indices) {
            if (i >= 0 && i < n_items) row[i] = -std::numeric_limits<float>::infinity();
          }
        }
        pass.user(w, b, s + r, row, {}, truth_r, api);
      }
    }
  });
}

template <Recommender M>
Evaluation evaluate(const M& model, const UserBatch& batch, const InteractionMatrix& truth, std::initializer_list<Metric> metrics,
                    std::initializer_list<Index> ks, const EvaluateOptions& options = {}) {
  return evaluate(model, batch, truth, std::span<const Metric>(metrics.begin(), metrics.size()),
                  std::span<const Index>(ks.begin(), ks.size()), options);
}

/// Evaluates a dense users x items score matrix against `truth` (row r of truth = row r of the
/// scores; exclude_history does not apply and truth_rows must stay aligned).
inline Evaluation evaluate_scores(Eigen::Ref<const RowMatrixXf> scores, const InteractionMatrix& truth,
                                  std::span<const Metric> metrics, std::span<const Index> ks, const EvaluateOptions& options = {}) {
  constexpr const char* api = "evaluate_scores";
  if (options.truth_rows != HistoryRows::aligned) {
    throw invalid_argument(std::string(api) + ": truth rows must be aligned with the score rows (truth_rows = by_user_id does not apply)");
  }
  const auto n_users = static_cast<Index>(scores.rows());
  const auto n_items = static_cast<Index>(scores.cols());
  detail::check_truth(truth, n_items, n_users, {}, HistoryRows::aligned, api);
  detail::EvaluationPass pass(detail::make_plan(metrics, ks, api), options.ranking, n_users, n_items, options.per_user);
  const int threads = resolve_threads(options.threads, api);
  return detail::run_pass(pass, n_users, threads, [&](detail::EvaluationWorker& w, Index b, Index begin, Index end) {
    for (Index r = begin; r < end; ++r) {
      const float* row = scores.data() + static_cast<std::ptrdiff_t>(r) * scores.outerStride();
      detail::check_scores_finite(row, n_items, r, api);
      pass.user(w, b, r, row, {}, truth.row(r), api);
    }
  });
}

inline Evaluation evaluate_scores(Eigen::Ref<const RowMatrixXf> scores, const InteractionMatrix& truth,
                                  std::initializer_list<Metric> metrics, std::initializer_list<Index> ks,
                                  const EvaluateOptions& options = {}) {
  return evaluate_scores(scores, truth, std::span<const Metric>(metrics.begin(), metrics.size()),
                         std::span<const Index>(ks.begin(), ks.size()), options);
}

/// Evaluates top-k lists computed elsewhere (e.g. recommend()'s output or a submission file):
/// row r of `lists` against row r of `truth`. An item repeated in a list counts once, at its
/// first rank. AUC needs scores and is rejected here.
inline Evaluation evaluate_lists(const Recommendations& lists, const InteractionMatrix& truth, std::span<const Metric> metrics,
                                 std::span<const Index> ks, const EvaluateOptions& options = {}) {
  constexpr const char* api = "evaluate_lists";
  const Index n_users = lists.users();
  detail::check_truth(truth, truth.cols(), n_users, {}, HistoryRows::aligned, api);
  auto plan = detail::make_plan(metrics, ks, api);
  if (plan.auc) throw invalid_argument(std::string(api) + ": auc needs scores; use evaluate or evaluate_scores");
  if (!plan.ks.empty() && plan.ks.back() > lists.k()) {
    throw invalid_argument(std::string(api) + ": k = " + std::to_string(plan.ks.back()) + " exceeds the lists' length " +
                           std::to_string(lists.k()));
  }
  for (Index r = 0; r < n_users; ++r) {
    for (Index j = 0; j < lists.k(); ++j) {
      const Index item = lists.items(r, j);
      if (item < -1 || item >= truth.cols()) {
        throw invalid_argument(std::string(api) + ": list of row " + std::to_string(r) + " holds item " + std::to_string(item) +
                               " outside [0, " + std::to_string(truth.cols()) + ")");
      }
    }
  }
  detail::EvaluationPass pass(std::move(plan), options.ranking, n_users, truth.cols(), options.per_user);
  const int threads = resolve_threads(options.threads, api);
  return detail::run_pass(pass, n_users, threads, [&](detail::EvaluationWorker& w, Index b, Index begin, Index end) {
    for (Index r = begin; r < end; ++r) {
      const std::span<const Index> row(lists.items.data() + static_cast<std::ptrdiff_t>(r) * lists.k(),
                                       static_cast<std::size_t>(lists.k()));
      pass.user(w, b, r, nullptr, row, truth.row(r), api);
    }
  });
}

inline Evaluation evaluate_lists(const Recommendations& lists, const InteractionMatrix& truth, std::initializer_list<Metric> metrics,
                                 std::initializer_list<Index> ks, const EvaluateOptions& options = {}) {
  return evaluate_lists(lists, truth, std::span<const Metric>(metrics.begin(), metrics.size()),
                        std::span<const Index>(ks.begin(), ks.size()), options);
}

}  // namespace recmix::metrics
