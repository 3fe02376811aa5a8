#pragma once
/// @file
/// StandardScaler: centres each column on its mean and divides it by its standard deviation,
/// learned on one matrix (train) and applied to others (test), with an explicit policy for
/// missing values (NaN).
///
/// @code
/// #include <recmix/features/scaling.hpp>
/// // rows = customers; columns = age, income, seniority (months), activity flag
/// recmix::features::StandardScaler scaler({.missing = recmix::features::MissingPolicy::impute_mean});
/// recmix::RowMatrixXf train_z = scaler.fit_transform(train_numeric);   // NaN income -> 0 (the mean)
/// recmix::RowMatrixXf test_z = scaler.transform(test_numeric);         // train's means and scales
/// recmix::RowMatrixXf back = scaler.inverse_transform(test_z);
/// recmix::save(scaler, "scaler.model");                                // <recmix/io/serialization.hpp>
/// @endcode
///
/// The statistics are those of scikit-learn's StandardScaler: the mean and the population
/// standard deviation (divided by n, not n - 1) of the values that are not NaN, accumulated in
/// double by the corrected two-pass algorithm; a column that is constant (to within the
/// rounding bound of that algorithm) gets scale 1, so it becomes all zeros rather than NaN.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "recmix/core/errors.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/types.hpp"

namespace recmix::features {

/// What a NaN (a missing value) in the input does.
enum class MissingPolicy {
  error,        ///< fit, transform and inverse_transform throw invalid_argument naming row and column
  impute_mean,  ///< fit ignores it; transform replaces it by the column's mean (0 after centring)
  keep_nan,     ///< fit ignores it; transform and inverse_transform pass it through as NaN
};

/// Options of StandardScaler (see docs/preprocessing.md).
struct StandardScalerOptions {
  bool with_mean = true;                       ///< subtract the column mean
  bool with_std = true;                        ///< divide by the column standard deviation
  MissingPolicy missing = MissingPolicy::error;  ///< what a NaN in the input means
};

/// Per-column standardisation, z = (x - mean) / scale. See the file comment for an example.
class StandardScaler {
 public:
  using scalar_type = float;
  using Options = StandardScalerOptions;
  static constexpr const char* kModelKind = "standard_scaler";
  static constexpr unsigned kFormatVersion = 1;

  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit StandardScaler(const Options& options = {}) : options_(options) { validate_options(options_, "StandardScaler"); }

  /// Learns the mean, the scale and the count of non-missing values of every column of `X`
  /// (rows = samples). Throws invalid_argument for an empty matrix, an Inf, a NaN under
  /// MissingPolicy::error, or a column with no value that is not NaN. The scaler changes only
  /// when the fit succeeds.
  void fit(Eigen::Ref<const RowMatrixXf> X) {
    constexpr const char* api = "StandardScaler::fit";
    if (X.rows() == 0 || X.cols() == 0) {
      throw invalid_argument(std::string(api) + ": X is empty (" + shape(X) + ")");
    }
    const Eigen::Index cols = X.cols();
    Eigen::VectorXd sum = Eigen::VectorXd::Zero(cols);
    Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> count = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>::Zero(cols);
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      for (Eigen::Index c = 0; c < cols; ++c) {
        const float x = X(r, c);
        if (!std::isfinite(x)) {
          check_non_finite(x, r, c, api);
          continue;
        }
        sum[c] += static_cast<double>(x);
        ++count[c];
      }
    }
    for (Eigen::Index c = 0; c < cols; ++c) {
      if (count[c] == 0) {
        throw invalid_argument(std::string(api) + ": column " + std::to_string(c) + " has no value that is not NaN");
      }
    }
    Eigen::VectorXd mean = sum.array() / count.cast<double>().array();
    // Second pass: squared deviations, plus the sum of deviations, which is zero in exact
    // arithmetic and corrects the rounding of the mean (Chan, Golub & LeVeque 1983).
    Eigen::VectorXd squares = Eigen::VectorXd::Zero(cols);
    Eigen::VectorXd deviations = Eigen::VectorXd::Zero(cols);
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      for (Eigen::Index c = 0; c < cols; ++c) {
        const float x = X(r, c);
        if (std::isnan(x)) continue;
        const double d = static_cast<double>(x) - mean[c];
        squares[c] += d * d;
        deviations[c] += d;
      }
    }
    Eigen::VectorXd scale = Eigen::VectorXd::Ones(cols);
    if (options_.with_std) {
      constexpr double eps = std::numeric_limits<double>::epsilon();
      for (Eigen::Index c = 0; c < cols; ++c) {
        const auto n = static_cast<double>(count[c]);
        const double var = std::max(0.0, (squares[c] - deviations[c] * deviations[c] / n) / n);
        // scikit-learn's test for a column indistinguishable from a constant one.
        const double bound = n * eps * var + (n * mean[c] * eps) * (n * mean[c] * eps);
        if (!(var <= bound)) scale[c] = std::sqrt(var);
      }
    }
    mean_ = std::move(mean);
    scale_ = std::move(scale);
    samples_seen_ = std::move(count);
    refresh_imputed();
  }

  /// z(r, c) = (X(r, c) - mean[c]) / scale[c], computed in double (without the subtraction
  /// when with_mean is false, without the division when with_std is false). Throws not_fitted,
  /// invalid_argument when `X` has another number of columns than the fit, for an Inf, for a NaN
  /// under MissingPolicy::error, and when a result overflows float.
  [[nodiscard]] RowMatrixXf transform(Eigen::Ref<const RowMatrixXf> X) const {
    constexpr const char* api = "StandardScaler::transform";
    check_input(X, api);
    RowMatrixXf out(X.rows(), X.cols());
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      for (Eigen::Index c = 0; c < X.cols(); ++c) {
        const float x = X(r, c);
        if (!std::isfinite(x)) {
          check_non_finite(x, r, c, api);
          out(r, c) = options_.missing == MissingPolicy::keep_nan ? x : imputed_[c];
          continue;
        }
        const auto z = static_cast<float>((static_cast<double>(x) - offset_of(c)) / divisor_of(c));
        if (!std::isfinite(z)) overflow(api, r, c, x);
        out(r, c) = z;
      }
    }
    return out;
  }

  /// fit(X), then transform(X).
  RowMatrixXf fit_transform(Eigen::Ref<const RowMatrixXf> X) {
    fit(X);
    return transform(X);
  }

  /// x(r, c) = Z(r, c) * scale[c] + mean[c] (each part only when it was applied). A NaN in `Z`
  /// throws under MissingPolicy::error, becomes the column mean under impute_mean and stays NaN
  /// under keep_nan. Throws like transform otherwise.
  [[nodiscard]] RowMatrixXf inverse_transform(Eigen::Ref<const RowMatrixXf> Z) const {
    constexpr const char* api = "StandardScaler::inverse_transform";
    check_input(Z, api);
    RowMatrixXf out(Z.rows(), Z.cols());
    for (Eigen::Index r = 0; r < Z.rows(); ++r) {
      for (Eigen::Index c = 0; c < Z.cols(); ++c) {
        const float z = Z(r, c);
        if (!std::isfinite(z)) {
          check_non_finite(z, r, c, api);
          out(r, c) = options_.missing == MissingPolicy::keep_nan ? z : static_cast<float>(mean_[c]);
          continue;
        }
        const auto x = static_cast<float>(static_cast<double>(z) * divisor_of(c) + offset_of(c));
        if (!std::isfinite(x)) overflow(api, r, c, z);
        out(r, c) = x;
      }
    }
    return out;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return mean_.size() > 0; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  /// Number of columns seen by fit (0 before).
  [[nodiscard]] Index num_features() const noexcept { return static_cast<Index>(mean_.size()); }
  /// Mean of each column over its values that are not NaN, whether or not with_mean is set.
  [[nodiscard]] const Eigen::VectorXd& mean() const noexcept { return mean_; }
  /// The divisor of each column: its population standard deviation, 1 for a constant column,
  /// all ones when with_std is false.
  [[nodiscard]] const Eigen::VectorXd& scale() const noexcept { return scale_; }
  /// Number of values that are not NaN in each column at fit.
  [[nodiscard]] const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>& samples_seen() const noexcept {
    return samples_seen_;
  }

  /// Boost.Serialization hook; use recmix::save / recmix::load from <recmix/io/serialization.hpp>.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "with_mean", options_.with_mean);
    archive_field(ar, "with_std", options_.with_std);
    archive_field(ar, "missing", options_.missing);
    archive_field(ar, "mean", mean_);
    archive_field(ar, "scale", scale_);
    archive_field(ar, "samples_seen", samples_seen_);
  }

  /// Called by recmix::load on the freshly read scaler: throws model_format_error unless the
  /// options and the statistics are consistent.
  void on_loaded() {
    try {
      validate_options(options_, "StandardScaler::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    const Eigen::Index n = mean_.size();
    if (n == 0 || scale_.size() != n || samples_seen_.size() != n) {
      throw model_format_error("StandardScaler::load: mean, scale and samples_seen have " + std::to_string(n) + ", " +
                               std::to_string(scale_.size()) + " and " + std::to_string(samples_seen_.size()) +
                               " entries");
    }
    if (n > std::numeric_limits<Index>::max()) throw model_format_error("StandardScaler::load: too many columns");
    for (Eigen::Index c = 0; c < n; ++c) {
      if (!std::isfinite(mean_[c]) || !std::isfinite(scale_[c]) || !(scale_[c] > 0.0) || samples_seen_[c] < 1 ||
          (!options_.with_std && scale_[c] != 1.0)) {
        throw model_format_error("StandardScaler::load: column " + std::to_string(c) + " has mean " +
                                 std::to_string(mean_[c]) + ", scale " + std::to_string(scale_[c]) +
                                 " and samples_seen " + std::to_string(samples_seen_[c]));
      }
    }
    refresh_imputed();
  }

 private:
  static void validate_options(const Options& o, const char* api) {
    if (o.missing != MissingPolicy::error && o.missing != MissingPolicy::impute_mean && o.missing != MissingPolicy::keep_nan) {
      throw invalid_argument(std::string(api) + ": unknown missing policy " + std::to_string(static_cast<int>(o.missing)));
    }
  }

  static std::string shape(const Eigen::Ref<const RowMatrixXf>& X) {
    return std::to_string(X.rows()) + " x " + std::to_string(X.cols());
  }

  [[nodiscard]] double offset_of(Eigen::Index c) const { return options_.with_mean ? mean_[c] : 0.0; }
  [[nodiscard]] double divisor_of(Eigen::Index c) const { return scale_[c]; }

  void check_input(const Eigen::Ref<const RowMatrixXf>& X, const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the scaler is not fitted (call fit or load first)");
    if (X.cols() != mean_.size()) {
      throw invalid_argument(std::string(api) + ": X has " + std::to_string(X.cols()) + " columns, the scaler was fitted on " +
                             std::to_string(mean_.size()));
    }
  }

  /// Throws for an Inf, and for a NaN under MissingPolicy::error; returns for a NaN otherwise.
  void check_non_finite(float x, Eigen::Index r, Eigen::Index c, const char* api) const {
    if (std::isnan(x)) {
      if (options_.missing != MissingPolicy::error) return;
      throw invalid_argument(std::string(api) + ": NaN at row " + std::to_string(r) + ", column " + std::to_string(c) +
                             " (missing = error)");
    }
    throw invalid_argument(std::string(api) + ": " + (x > 0 ? "+Inf" : "-Inf") + " at row " + std::to_string(r) +
                           ", column " + std::to_string(c));
  }

  [[noreturn]] static void overflow(const char* api, Eigen::Index r, Eigen::Index c, float x) {
    throw invalid_argument(std::string(api) + ": the value " + std::to_string(x) + " at row " + std::to_string(r) +
                           ", column " + std::to_string(c) + " overflows float once scaled");
  }

  /// What transform writes for a NaN under impute_mean: the transformed column mean.
  void refresh_imputed() {
    imputed_.resize(mean_.size());
    for (Eigen::Index c = 0; c < mean_.size(); ++c) {
      imputed_[c] = static_cast<float>((mean_[c] - offset_of(c)) / divisor_of(c));
    }
  }

  Options options_;
  Eigen::VectorXd mean_;
  Eigen::VectorXd scale_;
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> samples_seen_;
  Eigen::VectorXf imputed_;  // derived from the above; not saved
};

}  // namespace recmix::features
