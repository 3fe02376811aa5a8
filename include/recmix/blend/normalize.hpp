#pragma once
/// @file
/// Score normalisers: put each user's row of scores on a common scale before models that score
/// on different scales (ALS dot products, cluster shares, probabilities) are fused.
///
/// @code
/// recmix::RowMatrixXf s(1, 4);
/// s << 0.2f, 3.0f, 3.0f, -1.0f;
/// recmix::blend::normalize_rows(s, recmix::blend::Normalization::rank);     // 1/3, 5/6, 5/6, 0
/// recmix::blend::normalize_rows(s2, recmix::blend::Normalization::z_score); // (x - mean) / sd
/// @endcode
///
/// Each row is normalised on its own, across the items:
///   none     the scores as they are
///   rank     (position from the bottom) / (n - 1), in [0, 1]; tied scores share their mean
///            position, so a constant row is 0.5 everywhere
///   min_max  (x - min) / (max - min), in [0, 1]; a constant row is 0.5 everywhere (the middle
///            of the scale, as with rank)
///   z_score  (x - mean) / sd with the population sd (divide by n); a constant row is 0
/// Statistics are computed in double and the results rounded to float once.
///
/// Non-finite scores: -inf means "never this item" (how exclusions are written): it is left out
/// of the statistics (n, min, max, mean, sd count only the finite scores) and stays -inf. A row
/// with a single finite score maps it to 0.5 (rank, min_max) or 0 (z_score), like a constant row.
/// NaN and +inf are errors: normalize_rows throws recmix::invalid_argument naming the row and item.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/types.hpp"

namespace recmix::blend {

enum class Normalization : std::uint8_t { none, rank, min_max, z_score };

inline const char* normalization_name(Normalization n) noexcept {
  switch (n) {
    case Normalization::none: return "none";
    case Normalization::rank: return "rank";
    case Normalization::min_max: return "min_max";
    case Normalization::z_score: return "z_score";
  }
  return "?";
}

inline bool is_valid(Normalization n) noexcept { return static_cast<int>(n) <= static_cast<int>(Normalization::z_score); }

namespace detail {

/// Rows up to this many items are ranked by counting (O(n^2), no sort).
inline constexpr Index kCountingRankMax = 64;

/// Per-thread scratch of normalize_row (rank needs a sort).
struct NormalizeScratch {
  std::vector<std::pair<float, Index>> order;
};

/// Index of the first NaN or +inf in row[0, n), or -1.
inline Index first_bad_score(const float* row, Index n) noexcept {
  for (Index i = 0; i < n; ++i) {
    if (std::isnan(row[i]) || row[i] == std::numeric_limits<float>::infinity()) return i;
  }
  return -1;
}

/// Normalises one row in place. Requires first_bad_score(row, n) == -1.
inline void normalize_row(float* row, Index n, Normalization how, NormalizeScratch& scratch) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  switch (how) {
    case Normalization::none: return;
    case Normalization::rank: {
      if (n <= kCountingRankMax) {
        // Small catalogues (Santander's 24 products): count, for each score, the finite scores
        // below and equal to it — no sort, and the same values as the sort below.
        Index m = 0;
        for (Index i = 0; i < n; ++i) m += row[i] != kNegInf ? 1 : 0;
        if (m == 0) return;
        float copy[kCountingRankMax];
        std::copy(row, row + n, copy);
        const double denom = static_cast<double>(m - 1);
        for (Index i = 0; i < n; ++i) {
          const float x = copy[i];
          if (x == kNegInf) continue;
          Index below = 0, equal = 0;
          for (Index j = 0; j < n; ++j) {
            below += (copy[j] < x && copy[j] != kNegInf) ? 1 : 0;
            equal += copy[j] == x ? 1 : 0;
          }
          const double mean_rank = 0.5 * (static_cast<double>(below) + static_cast<double>(below + equal - 1));
          row[i] = m == 1 ? 0.5f : static_cast<float>(mean_rank / denom);
        }
        return;
      }
      auto& order = scratch.order;
      order.clear();
      for (Index i = 0; i < n; ++i) {
        if (row[i] != kNegInf) order.emplace_back(row[i], i);
      }
      const std::size_t m = order.size();
      if (m == 0) return;
      std::sort(order.begin(), order.end());
      if (m == 1) {
        row[order[0].second] = 0.5f;
        return;
      }
      const double denom = static_cast<double>(m - 1);
      for (std::size_t a = 0; a < m;) {
        std::size_t b = a + 1;
        while (b < m && order[b].first == order[a].first) ++b;
        const double mean_rank = 0.5 * (static_cast<double>(a) + static_cast<double>(b - 1));
        const auto v = static_cast<float>(mean_rank / denom);
        for (std::size_t j = a; j < b; ++j) row[order[j].second] = v;
        a = b;
      }
      return;
    }
    case Normalization::min_max: {
      double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
      for (Index i = 0; i < n; ++i) {
        if (row[i] == kNegInf) continue;
        lo = std::min(lo, static_cast<double>(row[i]));
        hi = std::max(hi, static_cast<double>(row[i]));
      }
      if (lo > hi) return;  // nothing finite
      const double range = hi - lo;
      for (Index i = 0; i < n; ++i) {
        if (row[i] == kNegInf) continue;
        row[i] = range > 0.0 ? static_cast<float>((static_cast<double>(row[i]) - lo) / range) : 0.5f;
      }
      return;
    }
    case Normalization::z_score: {
      double sum = 0.0;
      Index m = 0;
      for (Index i = 0; i < n; ++i) {
        if (row[i] == kNegInf) continue;
        sum += row[i];
        ++m;
      }
      if (m == 0) return;
      const double mean = sum / static_cast<double>(m);
      double ss = 0.0;
      for (Index i = 0; i < n; ++i) {
        if (row[i] == kNegInf) continue;
        const double d = static_cast<double>(row[i]) - mean;
        ss += d * d;
      }
      const double sd = std::sqrt(ss / static_cast<double>(m));
      for (Index i = 0; i < n; ++i) {
        if (row[i] == kNegInf) continue;
        row[i] = sd > 0.0 ? static_cast<float>((static_cast<double>(row[i]) - mean) / sd) : 0.0f;
      }
      return;
    }
  }
}

}  // namespace detail

/// Normalises every row of `scores` in place (see the file comment). Throws
/// recmix::invalid_argument for an unknown normalization or a NaN / +inf score (the matrix is
/// then partly normalised).
inline void normalize_rows(Eigen::Ref<RowMatrixXf> scores, Normalization how) {
  constexpr const char* api = "normalize_rows";
  if (!is_valid(how)) throw invalid_argument(std::string(api) + ": unknown normalization " + std::to_string(static_cast<int>(how)));
  detail::NormalizeScratch scratch;
  const auto n = static_cast<Index>(scores.cols());
  for (Eigen::Index r = 0; r < scores.rows(); ++r) {
    float* row = scores.data() + r * scores.outerStride();
    const Index bad = detail::first_bad_score(row, n);
    if (bad >= 0) {
      throw invalid_argument(std::string(api) + ": score of row " + std::to_string(r) + ", item " + std::to_string(bad) + " is " +
                             (std::isnan(row[bad]) ? "NaN" : "+inf"));
    }
    detail::normalize_row(row, n, how, scratch);
  }
}

}  // namespace recmix::blend
