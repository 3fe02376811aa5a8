#pragma once
/// @file
/// Weight tuning of a blend: the search HybridBlender::tune_weights and
/// DynamicBlender::tune_weights run. Include <recmix/blend/hybrid_blender.hpp> to use it.
///
/// The search, deterministic for any number of threads:
///  1. Score every component once for the validation users that have a relevant item (the others
///     add 0 to every metric, or are not counted), normalise, and keep the scores and masks.
///  2. Evaluate the current weights ("before") and the current weights rounded to the search's
///     unit (1 / (grid_steps * 2^refine_halvings)).
///  3. Coarse grid: every weight vector whose entries are multiples of 1 / grid_steps and sum to 1
///     (first component's weight descending, then the second's, ...).
///  4. Coordinate refinement from the best point: move `step` of weight from one component to
///     another (every ordered pair, in order) and keep a move that strictly improves the metric;
///     sweep until no move helps, then halve the step, starting at 1 / (2 grid_steps), for
///     refine_halvings steps.
/// Only strict improvements replace the best point, so ties keep the earlier one and the result
/// is never below "before". Each evaluation fuses the cached scores exactly as score() does
/// (detail::fuse_row), masks the history with -inf (exclude_history) and runs
/// metrics::evaluate_scores.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "recmix/blend/fusion.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"
#include "recmix/metrics/evaluate.hpp"
#include "recmix/metrics/ranking.hpp"

namespace recmix::blend {

struct TuneOptions {
  /// Metric definitions (AP divisor, IDCG, gains, user averaging), as in metrics::evaluate.
  metrics::RankingOptions ranking = {};
  /// How validation row r finds its truth row: row r (aligned) or row users[r] (by_user_id).
  HistoryRows truth_rows = HistoryRows::aligned;
  /// Never rank what a user already holds (the batch's history), as evaluate does.
  bool exclude_history = true;
  /// Coarse grid resolution: weights are multiples of 1 / grid_steps. 0 = automatic: the
  /// largest of 1..10 whose grid has at most 500 points (10 for 2-4 components).
  int grid_steps = 0;
  /// Refinement rounds, each with half the previous step.
  int refine_halvings = 6;
};

struct TuneReport {
  metrics::Metric metric = metrics::Metric::ndcg;
  /// The cut-off (ignored for auc).
  Index k = 0;
  std::vector<std::string> names;
  std::vector<double> weights_before;
  double metric_before = 0.0;
  std::vector<double> weights_after;
  double metric_after = 0.0;
  /// Weight vectors evaluated.
  Index evaluations = 0;
  /// Validation users with a relevant item (the ones scored and evaluated).
  Index users = 0;
  double seconds = 0.0;

  /// One line per component (name, weight before, weight after) and the metric before / after.
  [[nodiscard]] std::string table() const {
    std::ostringstream os;
    os << std::fixed << std::setprecision(4);
    std::size_t width = 9;
    for (const auto& n : names) width = std::max(width, n.size());
    os << std::left << std::setw(static_cast<int>(width)) << "component" << std::right << std::setw(10) << "before" << std::setw(10) << "after" << '\n';
    for (std::size_t c = 0; c < names.size(); ++c) {
      os << std::left << std::setw(static_cast<int>(width)) << names[c] << std::right << std::setw(10) << weights_before[c] << std::setw(10)
         << weights_after[c] << '\n';
    }
    os << std::setprecision(5) << metrics::metric_name(metric);
    if (metric != metrics::Metric::auc) os << "@" << k;
    os << ": " << metric_before << " -> " << metric_after << "  (" << evaluations << " evaluations, " << users << " users, "
       << std::setprecision(2) << seconds << " s)\n";
    return os.str();
  }
};

namespace detail {

/// Number of points of the simplex grid with `steps` steps over n components (saturating).
inline double grid_points(int steps, std::size_t n) {
  double p = 1.0;  // C(steps + n - 1, n - 1)
  for (std::size_t j = 1; j < n; ++j) p = p * static_cast<double>(steps + static_cast<int>(j)) / static_cast<double>(j);
  return p;
}

/// Validation users with a relevant item, as a batch of their own (with their truth rows).
struct TuneSubset {
  std::vector<Index> rows;   // validation rows kept
  std::vector<Index> users;
  InteractionMatrix history;  // aligned copy, when the validation history is aligned
  RowMatrixXf features;
  InteractionMatrix truth;    // aligned with `users`
};

inline void build_subset(const UserBatch& v, const InteractionMatrix& truth, HistoryRows truth_rows, TuneSubset& out) {
  std::vector<Index> tu, ti, hu, hi;
  std::vector<float> tw, hw;
  for (Index r = 0; r < v.size(); ++r) {
    const SparseRow t = metrics::detail::truth_row(truth, truth_rows, v.users(), r);
    if (std::none_of(t.values.begin(), t.values.end(), [](float g) { return g > 0.0f; })) continue;
    const auto s = static_cast<Index>(out.rows.size());
    out.rows.push_back(r);
    out.users.push_back(v.users()[static_cast<std::size_t>(r)]);
    for (std::size_t j = 0; j < t.size(); ++j) {
      tu.push_back(s);
      ti.push_back(t.indices[j]);
      tw.push_back(t.values[j]);
    }
    if (v.history() != nullptr && v.history_mode() == HistoryRows::aligned) {
      const SparseRow h = v.history_row(r);
      for (std::size_t j = 0; j < h.size(); ++j) {
        hu.push_back(s);
        hi.push_back(h.indices[j]);
        hw.push_back(h.values[j]);
      }
    }
  }
  const auto n = static_cast<Index>(out.rows.size());
  out.truth = InteractionMatrix::from_triplets(n, truth.cols(), tu, ti, tw);
  if (v.history() != nullptr && v.history_mode() == HistoryRows::aligned) {
    out.history = InteractionMatrix::from_triplets(n, v.history()->cols(), hu, hi, hw);
  }
  const FeatureView f = v.features();
  out.features.resize(f.cols() > 0 ? n : 0, f.cols());
  if (f.cols() > 0) {
    for (Index s = 0; s < n; ++s) out.features.row(s) = f.row(out.rows[static_cast<std::size_t>(s)]);
  }
}

/// The tuning search (see the file comment). Returns the report; the caller adopts
/// report.weights_after.
template <ComponentSet A>
TuneReport tune(const A& a, const BlendState& s, const UserBatch& validation, const InteractionMatrix& truth, metrics::Metric metric,
                Index k, const TuneOptions& opt, const char* api) {
  using metrics::Metric;
  recmix::detail::Stopwatch watch;
  const std::size_t n_comp = s.size();
  const Index n_items = a.num_items(0);
  if (static_cast<int>(metric) > static_cast<int>(Metric::auc)) {
    throw invalid_argument(std::string(api) + ": metric " + metrics::metric_name(metric) +
                           " cannot be tuned (use ndcg, map, precision, recall, hit_rate, mrr or auc)");
  }
  if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
  if (opt.grid_steps < 0 || opt.grid_steps > 1000) {
    throw invalid_argument(std::string(api) + ": grid_steps must be in [0, 1000], got " + std::to_string(opt.grid_steps));
  }
  if (opt.refine_halvings < 0 || opt.refine_halvings > 30) {
    throw invalid_argument(std::string(api) + ": refine_halvings must be in [0, 30], got " + std::to_string(opt.refine_halvings));
  }
  metrics::detail::check_truth(truth, n_items, validation.size(), validation.users(), opt.truth_rows, api);

  // 1. The users that matter, scored once.
  TuneSubset sub;
  build_subset(validation, truth, opt.truth_rows, sub);
  const auto n_sel = static_cast<Index>(sub.rows.size());
  if (n_sel == 0) throw invalid_argument(std::string(api) + ": no validation user has a relevant item in truth");
  const bool aligned_history = validation.history() != nullptr && validation.history_mode() == HistoryRows::aligned;
  const InteractionMatrix* hist = aligned_history ? &sub.history : validation.history();
  const UserBatch batch = sub.features.cols() > 0 ? UserBatch(sub.users, hist, validation.history_mode(), sub.features)
                                                  : UserBatch(sub.users, hist, validation.history_mode());
  std::vector<RowMatrixXf> cached(n_comp);
  std::vector<std::vector<std::uint8_t>> known(n_comp);
  const Index block = s.block_rows(n_items);
  const int threads = loop_threads(s.threads, n_sel == 0 ? 0 : (n_sel - 1) / block + 1, api);
  for (std::size_t c = 0; c < n_comp; ++c) {
    known[c].assign(static_cast<std::size_t>(n_sel), 0);
    a.can_score(c, batch, std::span<std::uint8_t>(known[c]));
    for (auto& m : known[c]) m = m != 0 ? 1 : 0;
    cached[c].setZero(n_sel, n_items);
    if (std::none_of(known[c].begin(), known[c].end(), [](std::uint8_t m) { return m != 0; })) continue;
    struct Workspace {
      RowMatrixXf scores;
      NormalizeScratch scratch;
    };
    for_each_block<Workspace>(n_sel, block, threads, [&](Workspace& ws, Index begin, Index end) {
      const std::span<const std::uint8_t> kn(known[c].data() + begin, static_cast<std::size_t>(end - begin));
      score_normalised(a, s, c, batch.slice(begin, end), begin, kn, ws.scores, ws.scratch, api);
      cached[c].middleRows(begin, end - begin) = ws.scores;
    });
  }
  std::vector<const RowMatrixXf*> comp_scores(n_comp);
  std::vector<const std::vector<std::uint8_t>*> comp_known(n_comp);
  for (std::size_t c = 0; c < n_comp; ++c) {
    comp_scores[c] = &cached[c];
    comp_known[c] = &known[c];
  }

  // 2. One evaluation: fuse as score() does, mask the history, evaluate.
  // An evaluation is short; below about a million cells a parallel region costs more than it
  // saves (and on a loaded machine much more), so small validation sets run on one thread.
  const bool small = static_cast<double>(n_sel) * static_cast<double>(n_items) < double(1 << 20);
  const int eval_threads = small ? 1 : loop_threads(s.threads, std::max<Index>(1, n_sel / 256), api);
  const double all_users_scale = opt.ranking.users == metrics::UserAveraging::all_users && metric != Metric::auc && validation.size() > 0
                                     ? static_cast<double>(n_sel) / static_cast<double>(validation.size())
                                     : 1.0;
  RowMatrixXf fused(n_sel, n_items);
  BlendState trial = s;
  Index evaluations = 0;
  auto evaluate_weights = [&](const std::vector<double>& w) -> double {
    trial.weights = w;
    ++evaluations;
    recmix::detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel num_threads(eval_threads) if (eval_threads > 1)
#endif
    {
      FuseWorkspace ws;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index r = 0; r < n_sel; ++r) {
        errors.run([&] {
          float* row = fused.data() + static_cast<std::ptrdiff_t>(r) * n_items;
          if (!fuse_one(trial, comp_scores, comp_known, r, n_items, ws, row)) {
            std::fill(row, row + n_items, -std::numeric_limits<float>::infinity());  // nothing ranked
            return;
          }
          if (opt.exclude_history) {
            for (Index i : batch.history_row(r).indices) {
              if (i >= 0 && i < n_items) row[i] = -std::numeric_limits<float>::infinity();
            }
          }
        });
      }
    }
    errors.rethrow();
    const Metric ms[] = {metric};
    const Index ks[] = {k};
    const auto ev = metrics::evaluate_scores(fused, sub.truth, std::span<const Metric>(ms), std::span<const Index>(ks),
                                             {.ranking = opt.ranking, .threads = eval_threads});
    return ev.at(metric, metric == Metric::auc ? 0 : k) * all_users_scale;
  };

  TuneReport report;
  report.metric = metric;
  report.k = k;
  report.names = s.names;
  report.users = n_sel;
  report.weights_before = s.weights;
  report.metric_before = evaluate_weights(s.weights);

  if (n_comp > 1) {
    int g = opt.grid_steps;
    if (g == 0) {
      g = 1;
      while (g < 10 && grid_points(g + 1, n_comp) <= 500.0) ++g;
    }
    const std::int64_t unit = static_cast<std::int64_t>(g) << opt.refine_halvings;  // weights are multiples of 1 / unit
    auto to_weights = [&](const std::vector<std::int64_t>& u) {
      std::vector<double> w(n_comp);
      for (std::size_t c = 0; c < n_comp; ++c) w[c] = static_cast<double>(u[c]) / static_cast<double>(unit);
      return w;
    };
    std::map<std::vector<std::int64_t>, double> seen;
    std::vector<std::int64_t> best;
    double best_value = -std::numeric_limits<double>::infinity();
    auto consider = [&](const std::vector<std::int64_t>& u) {
      auto it = seen.find(u);
      const double v = it != seen.end() ? it->second : seen.emplace(u, evaluate_weights(to_weights(u))).first->second;
      if (best.empty() || v > best_value + 1e-12) {
        best = u;
        best_value = v;
        return true;
      }
      return false;
    };
    // The current weights rounded to the unit (largest remainders; ties to the lower index).
    {
      std::vector<std::int64_t> u(n_comp);
      std::vector<std::pair<double, std::size_t>> rest(n_comp);
      std::int64_t used = 0;
      for (std::size_t c = 0; c < n_comp; ++c) {
        const double x = s.weights[c] * static_cast<double>(unit);
        u[c] = static_cast<std::int64_t>(std::floor(x));
        used += u[c];
        rest[c] = {-(x - std::floor(x)), c};
      }
      std::sort(rest.begin(), rest.end());
      for (std::size_t j = 0; used < unit; ++j, ++used) ++u[rest[j % n_comp].second];
      consider(u);
    }
    // Coarse grid.
    {
      const std::int64_t scale = std::int64_t{1} << opt.refine_halvings;
      std::vector<std::int64_t> parts(n_comp, 0);
      auto fill = [&](auto&& self, std::size_t pos, int remaining) -> void {
        if (pos + 1 == n_comp) {
          parts[pos] = remaining * scale;
          consider(parts);
          return;
        }
        for (int v = remaining; v >= 0; --v) {
          parts[pos] = v * scale;
          self(self, pos + 1, remaining - v);
        }
      };
      fill(fill, 0, g);
    }
    // Coordinate refinement.
    for (int h = 0; h < opt.refine_halvings; ++h) {
      const std::int64_t step = std::int64_t{1} << (opt.refine_halvings - 1 - h);
      for (int sweep = 0; sweep < 64; ++sweep) {
        bool improved = false;
        for (std::size_t i = 0; i < n_comp; ++i) {
          for (std::size_t j = 0; j < n_comp; ++j) {
            if (i == j || best[j] < step) continue;
            std::vector<std::int64_t> u = best;
            u[i] += step;
            u[j] -= step;
            improved = consider(u) || improved;
          }
        }
        if (!improved) break;
      }
    }
    if (best_value > report.metric_before + 1e-12) {
      report.weights_after = to_weights(best);
      report.metric_after = best_value;
    }
  }
  if (report.weights_after.empty()) {
    report.weights_after = report.weights_before;
    report.metric_after = report.metric_before;
  }
  report.evaluations = evaluations;
  report.seconds = watch.seconds();
  return report;
}

}  // namespace detail
}  // namespace recmix::blend
