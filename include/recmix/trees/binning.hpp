#pragma once
/// @file
/// FeatureBinner: turns a float feature table into small integer bins, the input of histogram
/// gradient boosting. Fit on training data, apply to any later data; serializable.
///
/// @code
/// recmix::trees::FeatureBinner binner({.max_bin = 255});
/// std::vector<recmix::Index> categorical = {3, 4};     // columns holding integer codes
/// binner.fit(X_train, categorical);
/// recmix::trees::BinnedMatrix train = binner.transform(X_train);   // n x d uint8
/// recmix::trees::BinnedMatrix test = binner.transform(X_test);
/// @endcode
///
/// Numeric columns: bin 0 holds missing values (NaN); values go to bins 1..m (m <= max_bin) cut
/// at quantiles of the non-missing training values (at every distinct value when there are at
/// most max_bin of them, with cuts half-way between neighbours). A value v lands in bin
/// 1 + (number of cuts < v), so unseen values between two training values fall on the side
/// of the nearer cut.
/// Categorical columns hold non-negative integer codes (as floats). Bin 0 holds missing values,
/// bin 1 pools the rare categories (fewer than min_category_count training rows, or beyond the
/// max_bin - 2 most frequent) and codes never seen in training; bins 2.. are the kept
/// categories in order of their codes.

#include <Eigen/Core>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"

namespace recmix::trees {

/// Binned features: n x d bins, row-major (row i's bins are contiguous).
using BinnedMatrix = xt::xtensor<std::uint8_t, 2>;

/// Largest categorical code accepted (codes are stored in floats, exact up to 2^24).
inline constexpr float kMaxCategoryCode = 16777216.0F;

struct BinnerOptions {
  /// Bins for the non-missing values of a numeric column (2..255); categorical columns keep at
  /// most max_bin - 2 categories (bins 0 and 1 are missing and pooled).
  int max_bin = 255;
  /// A category with fewer training rows than this is pooled with the other rare ones.
  Index min_category_count = 10;
  /// Quantile cuts are computed from at most this many rows (evenly spaced); 0 = all rows.
  Index sample_rows = 1'000'000;
  /// 0 = all cores.
  int threads = 0;
};

class FeatureBinner {
 public:
  using Options = BinnerOptions;
  using scalar_type = float;
  static constexpr const char* kModelKind = "feature_binner";
  static constexpr unsigned kFormatVersion = 1;

  FeatureBinner() = default;
  explicit FeatureBinner(const Options& options) : options_(options) { validate_options(options_, "FeatureBinner"); }

  /// Learns the bins of every column of X. `categorical`: indices of the columns holding
  /// integer codes. NaN is missing; Inf, negative or fractional codes throw invalid_argument.
  void fit(Eigen::Ref<const RowMatrixXf> X, std::span<const Index> categorical = {}) {
    constexpr const char* api = "FeatureBinner::fit";
    validate_options(options_, api);
    if (X.rows() < 1 || X.cols() < 1) throw invalid_argument(std::string(api) + ": X is empty (" + shape(X) + ")");
    if (X.rows() > std::numeric_limits<Index>::max()) throw invalid_argument(std::string(api) + ": more than 2^31-1 rows");
    if (X.cols() > std::numeric_limits<std::int32_t>::max() / 2) throw invalid_argument(std::string(api) + ": too many columns");
    const auto d = static_cast<Index>(X.cols());
    std::vector<std::uint8_t> is_cat(static_cast<std::size_t>(d), 0);
    for (Index j : categorical) {
      if (j < 0 || j >= d) {
        throw invalid_argument(std::string(api) + ": categorical column " + std::to_string(j) + " outside [0, " + std::to_string(d) + ")");
      }
      if (is_cat[static_cast<std::size_t>(j)] != 0) throw invalid_argument(std::string(api) + ": categorical column " + std::to_string(j) + " listed twice");
      is_cat[static_cast<std::size_t>(j)] = 1;
    }
    check_values(X, is_cat, api);
    FeatureBinner fresh(options_);
    fresh.categorical_ = is_cat;
    fresh.cuts_.assign(static_cast<std::size_t>(d), {});
    fresh.categories_.assign(static_cast<std::size_t>(d), {});
    const int threads = resolve_threads(options_.threads, api);
    detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (Index j = 0; j < d; ++j) {
      errors.run([&] {
        if (is_cat[static_cast<std::size_t>(j)] != 0) {
          fresh.categories_[static_cast<std::size_t>(j)] = fit_categorical(X, j);
        } else {
          fresh.cuts_[static_cast<std::size_t>(j)] = fit_numeric(X, j);
        }
      });
    }
    (void)threads;
    errors.rethrow();
    fresh.rebuild();
    *this = std::move(fresh);
  }

  /// Bins of every row of X (n x d). Throws on a column-count mismatch, Inf, or an invalid
  /// categorical code; NaN goes to bin 0; an unseen category goes to bin 1.
  [[nodiscard]] BinnedMatrix transform(Eigen::Ref<const RowMatrixXf> X) const {
    constexpr const char* api = "FeatureBinner::transform";
    require_fitted(api);
    if (X.cols() != num_features()) {
      throw invalid_argument(std::string(api) + ": X has " + std::to_string(X.cols()) + " columns but the binner was fitted on " +
                             std::to_string(num_features()));
    }
    if (X.rows() > std::numeric_limits<Index>::max()) throw invalid_argument(std::string(api) + ": more than 2^31-1 rows");
    check_values(X, categorical_, api);
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<std::size_t>(num_features());
    BinnedMatrix out = BinnedMatrix::from_shape({static_cast<std::size_t>(n), d});
    const int threads = resolve_threads(options_.threads, api);
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 4096) num_threads(threads)
#endif
    for (Index i = 0; i < n; ++i) {
      transform_row(X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride(), out.data() + static_cast<std::size_t>(i) * d);
    }
    (void)threads;
    return out;
  }

  /// Bins of one row of already-checked values (d values in, d bins out).
  void transform_row(const float* x, std::uint8_t* out) const noexcept {
    const auto d = static_cast<std::size_t>(num_features());
    for (std::size_t j = 0; j < d; ++j) out[j] = bin_of(j, x[j]);
  }

  /// Whether transform accepts a row of num_features() values (no Inf, valid codes).
  [[nodiscard]] bool accepts_row(const float* x) const noexcept {
    for (std::size_t j = 0; j < categorical_.size(); ++j) {
      if (!valid_value(x[j], categorical_[j] != 0)) return false;
    }
    return true;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return !categorical_.empty(); }
  [[nodiscard]] Index num_features() const noexcept { return static_cast<Index>(categorical_.size()); }
  /// Bins of column j, the missing bin included.
  [[nodiscard]] int num_bins(Index j) const {
    const auto c = checked_column(j);
    return categorical_[c] != 0 ? static_cast<int>(categories_[c].size()) + 2 : static_cast<int>(cuts_[c].size()) + 2;
  }
  [[nodiscard]] bool is_categorical(Index j) const { return categorical_[checked_column(j)] != 0; }
  /// Per column: 1 = categorical, 0 = numeric.
  [[nodiscard]] std::span<const std::uint8_t> categorical_flags() const noexcept { return categorical_; }
  /// Cuts of numeric column j: value v goes to bin 1 + (number of cuts < v).
  [[nodiscard]] std::span<const float> cuts(Index j) const { return cuts_[checked_column(j)]; }
  /// Kept category codes of categorical column j; code categories(j)[b - 2] is bin b.
  [[nodiscard]] std::span<const std::int32_t> categories(Index j) const { return categories_[checked_column(j)]; }
  /// Offset of column j's first bin in a table of all columns' bins (column 0 first).
  [[nodiscard]] std::span<const std::int32_t> bin_offsets() const noexcept { return offsets_; }
  [[nodiscard]] std::int32_t total_bins() const noexcept { return offsets_.empty() ? 0 : offsets_.back(); }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "max_bin", options_.max_bin);
    archive_field(ar, "min_category_count", options_.min_category_count);
    archive_field(ar, "sample_rows", options_.sample_rows);
    archive_field(ar, "threads", options_.threads);
    archive_field(ar, "categorical", categorical_);
    archive_field(ar, "cuts", cuts_);
    archive_field(ar, "categories", categories_);
  }

  /// Checks a loaded binner (throws model_format_error) and rebuilds its lookup tables.
  void on_loaded() {
    try {
      validate_options(options_, "FeatureBinner::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    const std::size_t d = categorical_.size();
    if (d == 0 || cuts_.size() != d || categories_.size() != d) throw model_format_error("FeatureBinner::load: inconsistent column count");
    for (std::size_t j = 0; j < d; ++j) {
      const std::string col = "FeatureBinner::load: column " + std::to_string(j);
      if (categorical_[j] > 1) throw model_format_error(col + ": bad categorical flag");
      if (categorical_[j] != 0) {
        if (!cuts_[j].empty()) throw model_format_error(col + ": a categorical column with numeric cuts");
        const auto& c = categories_[j];
        if (c.size() > static_cast<std::size_t>(options_.max_bin - 2)) throw model_format_error(col + ": too many categories");
        for (std::size_t k = 0; k < c.size(); ++k) {
          if (c[k] < 0 || static_cast<float>(c[k]) >= kMaxCategoryCode || (k > 0 && c[k] <= c[k - 1])) {
            throw model_format_error(col + ": category codes out of range or not increasing");
          }
        }
      } else {
        if (!categories_[j].empty()) throw model_format_error(col + ": a numeric column with categories");
        const auto& c = cuts_[j];
        if (c.size() + 1 > static_cast<std::size_t>(options_.max_bin)) throw model_format_error(col + ": too many cuts");
        for (std::size_t k = 0; k < c.size(); ++k) {
          if (!std::isfinite(c[k]) || (k > 0 && c[k] <= c[k - 1])) throw model_format_error(col + ": cuts not finite and increasing");
        }
      }
    }
    rebuild();
  }

 private:
  static void validate_options(const Options& o, const char* api) {
    auto bad = [&](const std::string& what) { return invalid_argument(std::string(api) + ": " + what); };
    if (o.max_bin < 2 || o.max_bin > 255) throw bad("max_bin must be in [2, 255], got " + std::to_string(o.max_bin));
    if (o.min_category_count < 1) throw bad("min_category_count must be >= 1, got " + std::to_string(o.min_category_count));
    if (o.sample_rows < 0) throw bad("sample_rows must be >= 0, got " + std::to_string(o.sample_rows));
    if (o.threads < 0 || o.threads > 1024) throw bad("threads must be in [0, 1024], got " + std::to_string(o.threads));
  }

  static std::string shape(const Eigen::Ref<const RowMatrixXf>& X) { return std::to_string(X.rows()) + " x " + std::to_string(X.cols()); }

  std::size_t checked_column(Index j) const {
    if (j < 0 || j >= num_features()) {
      throw invalid_argument("FeatureBinner: column " + std::to_string(j) + " outside [0, " + std::to_string(num_features()) + ")");
    }
    return static_cast<std::size_t>(j);
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the binner is not fitted");
  }

  /// Inf anywhere, or a categorical value that is not a non-negative integer code, throws with
  /// the first offending position in row-major order.
  static void check_values(const Eigen::Ref<const RowMatrixXf>& X, const std::vector<std::uint8_t>& is_cat, const char* api) {
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<Index>(X.cols());
    Index bad_row = n;
    for (Index i = 0; i < n && bad_row == n; ++i) {
      const float* x = X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride();
      for (Index j = 0; j < d; ++j) {
        if (!valid_value(x[j], is_cat[static_cast<std::size_t>(j)] != 0)) {
          bad_row = i;
          break;
        }
      }
    }
    if (bad_row == n) return;
    const float* x = X.data() + static_cast<std::ptrdiff_t>(bad_row) * X.outerStride();
    for (Index j = 0; j < d; ++j) {
      const float v = x[j];
      if (valid_value(v, is_cat[static_cast<std::size_t>(j)] != 0)) continue;
      const std::string where = " at row " + std::to_string(bad_row) + ", column " + std::to_string(j);
      if (std::isinf(v)) throw invalid_argument(std::string(api) + ": infinite value" + where + " (use NaN for missing)");
      throw invalid_argument(std::string(api) + ": categorical value " + std::to_string(v) + where +
                             " is not an integer code in [0, 2^24)");
    }
  }

  static bool valid_value(float v, bool categorical) noexcept {
    if (std::isnan(v)) return true;
    if (std::isinf(v)) return false;
    if (!categorical) return true;
    return v >= 0.0F && v < kMaxCategoryCode && v == std::floor(v);
  }

  std::vector<float> fit_numeric(const Eigen::Ref<const RowMatrixXf>& X, Index j) const {
    const auto n = static_cast<Index>(X.rows());
    const Index take = options_.sample_rows == 0 ? n : std::min(n, options_.sample_rows);
    std::vector<float> v;
    v.reserve(static_cast<std::size_t>(take));
    for (Index s = 0; s < take; ++s) {
      // Evenly spaced rows: row floor(s * n / take).
      const auto i = static_cast<Index>(static_cast<std::int64_t>(s) * n / take);
      const float x = X(i, j);
      if (!std::isnan(x)) v.push_back(x);
    }
    std::sort(v.begin(), v.end());
    // Distinct values with their counts.
    std::vector<float> value;
    std::vector<Index> count;
    for (float x : v) {
      if (value.empty() || x != value.back()) {
        value.push_back(x);
        count.push_back(1);
      } else {
        ++count.back();
      }
    }
    std::vector<float> cuts;
    if (value.size() <= 1) return cuts;
    const auto max_bin = static_cast<std::size_t>(options_.max_bin);
    auto cut_between = [](float a, float b) {
      const float mid = static_cast<float>(0.5 * (static_cast<double>(a) + static_cast<double>(b)));
      return mid < b ? mid : a;  // a <= cut < b, so a goes left and b right
    };
    if (value.size() <= max_bin) {
      for (std::size_t k = 0; k + 1 < value.size(); ++k) cuts.push_back(cut_between(value[k], value[k + 1]));
      return cuts;
    }
    // Greedy quantiles: close a bin once it holds its share of the rows still to place.
    std::size_t remaining_rows = v.size();
    std::size_t bins_left = max_bin;
    std::size_t in_bin = 0;
    for (std::size_t k = 0; k + 1 < value.size() && bins_left > 1; ++k) {
      in_bin += static_cast<std::size_t>(count[k]);
      const double share = static_cast<double>(remaining_rows) / static_cast<double>(bins_left);
      const std::size_t values_after = value.size() - k - 1;
      if (static_cast<double>(in_bin) >= share || values_after < bins_left) {
        cuts.push_back(cut_between(value[k], value[k + 1]));
        remaining_rows -= in_bin;
        in_bin = 0;
        --bins_left;
      }
    }
    return cuts;
  }

  std::vector<std::int32_t> fit_categorical(const Eigen::Ref<const RowMatrixXf>& X, Index j) const {
    const auto n = static_cast<Index>(X.rows());
    std::vector<std::int32_t> codes;
    codes.reserve(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) {
      const float x = X(i, j);
      if (!std::isnan(x)) codes.push_back(static_cast<std::int32_t>(x));
    }
    std::sort(codes.begin(), codes.end());
    std::vector<std::pair<Index, std::int32_t>> freq;  // (count, code)
    for (std::size_t k = 0; k < codes.size();) {
      std::size_t e = k;
      while (e < codes.size() && codes[e] == codes[k]) ++e;
      if (static_cast<Index>(e - k) >= options_.min_category_count) freq.emplace_back(static_cast<Index>(e - k), codes[k]);
      k = e;
    }
    const auto keep = static_cast<std::size_t>(options_.max_bin - 2);
    if (freq.size() > keep) {
      // The most frequent first; equal counts: the lower code first.
      std::stable_sort(freq.begin(), freq.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      freq.resize(keep);
    }
    std::vector<std::int32_t> kept;
    kept.reserve(freq.size());
    for (const auto& f : freq) kept.push_back(f.second);
    std::sort(kept.begin(), kept.end());
    return kept;
  }

  std::uint8_t bin_of(std::size_t j, float x) const noexcept {
    if (std::isnan(x)) return 0;
    if (categorical_[j] == 0) {
      const auto& c = cuts_[j];
      return static_cast<std::uint8_t>(1 + (std::lower_bound(c.begin(), c.end(), x) - c.begin()));
    }
    const auto code = static_cast<std::size_t>(x);
    const auto& table = lookup_[j];
    return code < table.size() ? table[code] : std::uint8_t{1};
  }

  void rebuild() {
    const std::size_t d = categorical_.size();
    lookup_.assign(d, {});
    offsets_.assign(d + 1, 0);
    for (std::size_t j = 0; j < d; ++j) {
      if (categorical_[j] != 0 && !categories_[j].empty()) {
        auto& t = lookup_[j];
        t.assign(static_cast<std::size_t>(categories_[j].back()) + 1, 1);
        for (std::size_t k = 0; k < categories_[j].size(); ++k) t[static_cast<std::size_t>(categories_[j][k])] = static_cast<std::uint8_t>(k + 2);
      }
      offsets_[j + 1] = offsets_[j] + num_bins(static_cast<Index>(j));
    }
  }

  Options options_;
  std::vector<std::uint8_t> categorical_;           // per column: 1 = categorical
  std::vector<std::vector<float>> cuts_;            // numeric columns
  std::vector<std::vector<std::int32_t>> categories_;  // categorical columns: kept codes, increasing
  std::vector<std::vector<std::uint8_t>> lookup_;   // categorical: code -> bin (derived)
  std::vector<std::int32_t> offsets_;               // d + 1 bin offsets (derived)
};

}  // namespace recmix::trees
