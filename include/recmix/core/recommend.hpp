#pragma once
/// @file
/// Generic batch top-k recommendation for any Recommender: scores users block by block, drops
/// what each user already holds and what the allow/deny lists forbid inside the top-k kernel,
/// and never sorts a whole row.
///
/// @code
/// std::vector<recmix::Index> users(train.rows());
/// std::iota(users.begin(), users.end(), 0);
/// recmix::UserBatch batch(users, &train, recmix::HistoryRows::by_user_id);
/// recmix::Recommendations top = recmix::recommend(als, batch, 7, {.exclude_history = true});
/// top.items(r, 0);   // best item for batch row r (-1 when the model had nothing to offer)
/// @endcode

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/topk.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix {

struct RecommendOptions {
  /// Drop the items in each user's history row (the batch's history).
  bool exclude_history = true;
  /// When not empty, recommend only these items.
  std::span<const Index> allow_items = {};
  /// Never recommend these items.
  std::span<const Index> deny_items = {};
  /// Users scored together in one block (one matrix product per block); 0 = automatic: up to
  /// 256, fewer for large catalogues so a thread's score block stays near 16 MB.
  Index block_users = 0;
  /// 0 = all cores.
  int threads = 0;
};

/// Top-k per batch row, best first. Rows with fewer than k candidates, or users the model cannot
/// score (can_score == 0), are padded with item -1 and score NaN.
struct Recommendations {
  RowMatrix<Index> items;
  RowMatrixXf scores;

  [[nodiscard]] Index users() const { return static_cast<Index>(items.rows()); }
  [[nodiscard]] Index k() const { return static_cast<Index>(items.cols()); }
  /// The filled items of row r (stops at the first -1).
  [[nodiscard]] std::span<const Index> row(Index r) const {
    const Index* b = items.data() + static_cast<std::ptrdiff_t>(r) * items.cols();
    Index n = 0;
    while (n < items.cols() && b[n] >= 0) ++n;
    return {b, static_cast<std::size_t>(n)};
  }
};

namespace detail {

inline std::vector<std::uint8_t> item_filter(Index num_items, const RecommendOptions& opt, const char* api) {
  std::vector<std::uint8_t> allowed;
  auto check = [&](Index i, const char* list) {
    if (i < 0 || i >= num_items) {
      throw invalid_argument(std::string(api) + ": " + list + " item " + std::to_string(i) + " out of range [0, " +
                             std::to_string(num_items) + ")");
    }
  };
  if (!opt.allow_items.empty() || !opt.deny_items.empty()) {
    allowed.assign(static_cast<std::size_t>(num_items), opt.allow_items.empty() ? 1 : 0);
    for (Index i : opt.allow_items) {
      check(i, "allow_items");
      allowed[static_cast<std::size_t>(i)] = 1;
    }
    for (Index i : opt.deny_items) {
      check(i, "deny_items");
      allowed[static_cast<std::size_t>(i)] = 0;
    }
  }
  return allowed;
}

/// Masks and selects row by row from a block of scores already computed. `known` may be empty
/// (every user known).
inline void select_block(const UserBatch& sub, Eigen::Ref<RowMatrixXf> scores, std::span<const std::uint8_t> known,
                         const std::vector<std::uint8_t>& allowed, std::span<const Index> allow_list,
                         bool exclude_history, TopK& top, Index* out_items, float* out_scores, Index k) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const Index n_items = static_cast<Index>(scores.cols());
  for (Index r = 0; r < sub.size(); ++r) {
    float* row = scores.data() + static_cast<std::ptrdiff_t>(r) * scores.outerStride();
    Index* items = out_items + static_cast<std::ptrdiff_t>(r) * k;
    float* vals = out_scores + static_cast<std::ptrdiff_t>(r) * k;
    top.clear();
    if (!known.empty() && known[static_cast<std::size_t>(r)] == 0) {
      top.write(items, vals);
      continue;
    }
    if (exclude_history) {
      for (Index i : sub.history_row(r).indices) {
        if (i >= 0 && i < n_items) row[i] = kNegInf;
      }
    }
    if (!allow_list.empty()) {
      for (Index i : allow_list) {
        if (allowed[static_cast<std::size_t>(i)] != 0) {
          top.push(row[i], i);
          row[i] = kNegInf;  // an item listed twice is offered once
        }
      }
    } else {
      if (!allowed.empty()) {
        for (Index i = 0; i < n_items; ++i) {
          if (allowed[static_cast<std::size_t>(i)] == 0) row[i] = kNegInf;
        }
      }
      top.scan(row, n_items);
    }
    top.write(items, vals);
  }
}

}  // namespace detail

/// Top-k items for every user of the batch. Throws recmix::invalid_argument for k < 1, a bad
/// allow/deny item or a negative block size; whatever the model's score() throws passes through.
template <Recommender M>
Recommendations recommend(const M& model, const UserBatch& batch, Index k, const RecommendOptions& opt = {}) {
  constexpr const char* api = "recommend";
  if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
  if (opt.block_users < 0) {
    throw invalid_argument(std::string(api) + ": block_users must be >= 0, got " + std::to_string(opt.block_users));
  }
  const Index n_items = static_cast<Index>(model.num_items());
  const std::vector<std::uint8_t> allowed = detail::item_filter(n_items, opt, api);
  const int threads = resolve_threads(opt.threads, api);
  const Index n = batch.size();
  Recommendations out;
  out.items.resize(n, k);
  out.scores.resize(n, k);
  constexpr Index kScoreBlockFloats = Index{1} << 22;
  const Index block = opt.block_users > 0 ? opt.block_users
                                          : std::clamp<Index>(kScoreBlockFloats / std::max<Index>(1, n_items), 8, 256);
  const Index n_blocks = n == 0 ? 0 : (n - 1) / block + 1;  // n + block - 1 could overflow
  detail::EigenSerialGuard serial_eigen;
  detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    RowMatrixXf scores;
    std::vector<std::uint8_t> known;
    detail::TopK top(k);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      if (errors.failed()) continue;
      errors.run([&] {
        const Index begin = b * block, end = begin + std::min(block, n - begin);
        const UserBatch sub = batch.slice(begin, end);
        scores.resize(end - begin, n_items);
        known.assign(static_cast<std::size_t>(end - begin), 1);
        model.score(sub, scores);
        model.can_score(sub, std::span<std::uint8_t>(known));
        detail::select_block(sub, scores, known, allowed, opt.allow_items, opt.exclude_history, top,
                             out.items.data() + static_cast<std::ptrdiff_t>(begin) * k,
                             out.scores.data() + static_cast<std::ptrdiff_t>(begin) * k, k);
      });
    }
  }
  (void)threads;
  errors.rethrow();
  return out;
}

}  // namespace recmix
