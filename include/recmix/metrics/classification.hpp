#pragma once
/// @file
/// Classification metrics for binary and multi-label predictions: ROC AUC (ties handled
/// exactly), F1 at a threshold and log-loss, per label and averaged (macro and micro).
///
/// @code
/// using namespace recmix::metrics;
/// double auc = roc_auc(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}, std::vector<float>{0, 0, 1, 1});  // 0.75
/// LabelScores per = roc_auc(probabilities, labels);   // n x L matrices
/// per.macro;  per.micro;  per.per_label[3];
/// LabelScores f1 = f1_score(probabilities, labels, {.threshold = 0.3});
/// LabelScores ll = log_loss(probabilities, labels);
/// @endcode
///
/// Definitions:
///   ROC AUC   the probability that a random positive scores above a random negative, ties
///             counting one half (Mann-Whitney U with mid-ranks): exact, whatever the ties.
///   F1        2 TP / (2 TP + FP + FN), predicting positive when score >= threshold; a label
///             with no positive and no predicted positive scores `zero_division` (default 0).
///   log-loss  mean of -[y log p + (1 - y) log(1 - p)], p clipped to [eps, 1 - eps].
/// Averages: macro = mean of the per-label values; micro = the metric of all labels pooled
/// into one (AUC over all cells, F1 from the summed counts, log-loss over all cells). A label
/// whose column holds a single class has no AUC: its per-label value is NaN and the macro mean
/// skips it (`defined` says how many labels count).
/// Labels must be 0 or 1 and scores finite (probabilities in [0, 1] for log-loss).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"

namespace recmix::metrics {

struct ClassificationOptions {
  /// F1: predict positive when score >= threshold.
  double threshold = 0.5;
  /// F1 of a label with no positive and no predicted positive.
  double zero_division = 0.0;
  /// log-loss clips probabilities to [eps, 1 - eps] (scikit-learn's default).
  double eps = 1e-15;
  /// 0 = all cores (labels are spread over threads).
  int threads = 0;
};

/// One metric per label plus its averages.
struct LabelScores {
  std::vector<double> per_label;
  double macro = std::numeric_limits<double>::quiet_NaN();
  double micro = std::numeric_limits<double>::quiet_NaN();
  /// Labels in the macro mean (AUC skips single-class labels).
  Index defined = 0;
};

namespace detail {

/// Validates n x L scores and labels.
inline void check_classification(Eigen::Ref<const RowMatrixXf> scores, Eigen::Ref<const RowMatrixXf> labels, bool probabilities,
                                 const char* api) {
  if (scores.rows() != labels.rows() || scores.cols() != labels.cols()) {
    throw invalid_argument(std::string(api) + ": scores are " + std::to_string(scores.rows()) + " x " + std::to_string(scores.cols()) +
                           " but labels are " + std::to_string(labels.rows()) + " x " + std::to_string(labels.cols()));
  }
  if (scores.rows() == 0 || scores.cols() == 0) throw invalid_argument(std::string(api) + ": empty input");
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    for (Eigen::Index c = 0; c < scores.cols(); ++c) {
      const float y = labels(r, c), s = scores(r, c);
      if (y != 0.0f && y != 1.0f) {
        throw invalid_argument(std::string(api) + ": label at row " + std::to_string(r) + ", column " + std::to_string(c) + " is " +
                               std::to_string(y) + "; labels must be 0 or 1");
      }
      if (!std::isfinite(s)) {
        throw invalid_argument(std::string(api) + ": score at row " + std::to_string(r) + ", column " + std::to_string(c) +
                               " is not finite");
      }
      if (probabilities && (s < 0.0f || s > 1.0f)) {
        throw invalid_argument(std::string(api) + ": probability at row " + std::to_string(r) + ", column " + std::to_string(c) +
                               " is " + std::to_string(s) + ", outside [0, 1]");
      }
    }
  }
}

/// Exact AUC of (score, label) pairs by sorting and mid-ranks; NaN when one class is missing.
inline double auc_of_pairs(std::vector<std::pair<float, float>>& pairs) {
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double positives = 0.0, rank_sum = 0.0;
  std::size_t i = 0;
  while (i < pairs.size()) {
    std::size_t j = i;
    double group_pos = 0.0;
    while (j < pairs.size() && pairs[j].first == pairs[i].first) group_pos += pairs[j++].second;
    // Ranks i+1 .. j share the mid-rank (i + 1 + j) / 2.
    rank_sum += group_pos * (static_cast<double>(i + 1 + j) / 2.0);
    positives += group_pos;
    i = j;
  }
  const double negatives = static_cast<double>(pairs.size()) - positives;
  if (positives == 0.0 || negatives == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

template <class PerLabel>
void for_each_label(Eigen::Index n_labels, int threads, PerLabel&& fn) {
  recmix::detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (Eigen::Index c = 0; c < n_labels; ++c) {
    errors.run([&] { fn(c); });
  }
  (void)threads;
  errors.rethrow();
}

inline void finish_macro(LabelScores& out) {
  double sum = 0.0;
  out.defined = 0;
  for (double v : out.per_label) {
    if (!std::isnan(v)) {
      sum += v;
      ++out.defined;
    }
  }
  out.macro = out.defined > 0 ? sum / out.defined : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace detail

/// ROC AUC of one score vector against 0/1 labels. Throws when a class is missing.
inline double roc_auc(std::span<const float> scores, std::span<const float> labels) {
  constexpr const char* api = "roc_auc";
  if (scores.size() != labels.size()) {
    throw invalid_argument(std::string(api) + ": " + std::to_string(scores.size()) + " scores but " + std::to_string(labels.size()) + " labels");
  }
  const auto n = static_cast<Eigen::Index>(scores.size());
  detail::check_classification(Eigen::Map<const RowMatrixXf>(scores.data(), n, 1), Eigen::Map<const RowMatrixXf>(labels.data(), n, 1),
                               false, api);
  std::vector<std::pair<float, float>> pairs(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) pairs[i] = {scores[i], labels[i]};
  const double auc = detail::auc_of_pairs(pairs);
  if (std::isnan(auc)) throw invalid_argument(std::string(api) + ": labels hold a single class; AUC is undefined");
  return auc;
}

/// Per-label ROC AUC of n x L scores against n x L 0/1 labels, with macro and micro means.
inline LabelScores roc_auc(Eigen::Ref<const RowMatrixXf> scores, Eigen::Ref<const RowMatrixXf> labels,
                           const ClassificationOptions& options = {}) {
  constexpr const char* api = "roc_auc";
  detail::check_classification(scores, labels, false, api);
  const int threads = resolve_threads(options.threads, api);
  LabelScores out;
  out.per_label.assign(static_cast<std::size_t>(scores.cols()), 0.0);
  detail::for_each_label(scores.cols(), threads, [&](Eigen::Index c) {
    std::vector<std::pair<float, float>> pairs(static_cast<std::size_t>(scores.rows()));
    for (Eigen::Index r = 0; r < scores.rows(); ++r) pairs[static_cast<std::size_t>(r)] = {scores(r, c), labels(r, c)};
    out.per_label[static_cast<std::size_t>(c)] = detail::auc_of_pairs(pairs);
  });
  detail::finish_macro(out);
  std::vector<std::pair<float, float>> all(static_cast<std::size_t>(scores.size()));
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    for (Eigen::Index c = 0; c < scores.cols(); ++c) all[static_cast<std::size_t>(r * scores.cols() + c)] = {scores(r, c), labels(r, c)};
  }
  out.micro = detail::auc_of_pairs(all);
  return out;
}

/// Per-label F1 at options.threshold, with macro and micro (pooled counts) means.
inline LabelScores f1_score(Eigen::Ref<const RowMatrixXf> scores, Eigen::Ref<const RowMatrixXf> labels,
                            const ClassificationOptions& options = {}) {
  constexpr const char* api = "f1_score";
  detail::check_classification(scores, labels, false, api);
  (void)resolve_threads(options.threads, api);  // validates; F1 is one cheap pass
  if (!std::isfinite(options.threshold)) throw invalid_argument(std::string(api) + ": threshold is not finite");
  LabelScores out;
  out.per_label.resize(static_cast<std::size_t>(scores.cols()));
  double tp_all = 0, fp_all = 0, fn_all = 0;
  for (Eigen::Index c = 0; c < scores.cols(); ++c) {
    double tp = 0, fp = 0, fn = 0;
    for (Eigen::Index r = 0; r < scores.rows(); ++r) {
      const bool predicted = scores(r, c) >= options.threshold;
      const bool actual = labels(r, c) == 1.0f;
      tp += predicted && actual;
      fp += predicted && !actual;
      fn += !predicted && actual;
    }
    const double denom = 2 * tp + fp + fn;
    out.per_label[static_cast<std::size_t>(c)] = denom > 0 ? 2 * tp / denom : options.zero_division;
    tp_all += tp;
    fp_all += fp;
    fn_all += fn;
  }
  detail::finish_macro(out);
  const double denom = 2 * tp_all + fp_all + fn_all;
  out.micro = denom > 0 ? 2 * tp_all / denom : options.zero_division;
  return out;
}

/// Per-label mean log-loss of probabilities, with macro and micro means.
inline LabelScores log_loss(Eigen::Ref<const RowMatrixXf> probabilities, Eigen::Ref<const RowMatrixXf> labels,
                            const ClassificationOptions& options = {}) {
  constexpr const char* api = "log_loss";
  detail::check_classification(probabilities, labels, true, api);
  (void)resolve_threads(options.threads, api);  // validates; log-loss is one cheap pass
  if (!(options.eps >= 0.0 && options.eps < 0.5)) {
    throw invalid_argument(std::string(api) + ": eps must be in [0, 0.5), got " + std::to_string(options.eps));
  }
  LabelScores out;
  out.per_label.resize(static_cast<std::size_t>(probabilities.cols()));
  double total = 0.0;
  for (Eigen::Index c = 0; c < probabilities.cols(); ++c) {
    double sum = 0.0;
    for (Eigen::Index r = 0; r < probabilities.rows(); ++r) {
      const double p = std::clamp(static_cast<double>(probabilities(r, c)), options.eps, 1.0 - options.eps);
      sum -= labels(r, c) == 1.0f ? std::log(p) : std::log1p(-p);
    }
    out.per_label[static_cast<std::size_t>(c)] = sum / static_cast<double>(probabilities.rows());
    total += sum;
  }
  detail::finish_macro(out);
  out.micro = total / static_cast<double>(probabilities.size());
  return out;
}

}  // namespace recmix::metrics
