#pragma once
/// @file
/// What models need from a Santander panel (santander_schema.hpp): holdings and months-owned
/// matrices (the ALS confidence), the "added since the previous month" target, lag features,
/// months since a product was last added or dropped, demographic encodings for k-means, and
/// training sets of (customer, month) rows for a multi-label classifier of additions.
///
/// @code
/// namespace sd = recmix::datasets::santander;
/// sd::Dataset data = sd::load("train_ver2.csv");
/// const recmix::Index T = data.num_months() - 1;                 // the last month
/// recmix::InteractionMatrix owned = sd::months_owned(data, 0, T - 1);   // customers x 24
/// recmix::InteractionMatrix added = sd::additions(data, T);      // the target of month T
/// std::vector<recmix::Index> who = sd::customers_present(data, T);
/// sd::FeatureTable f = sd::tree_features(data, T, who);           // products before T only
/// @endcode
///
/// Months are snapshot indices (0 .. num_months() - 1). "Before month t" means snapshots
/// 0 .. t - 1; a customer absent from a snapshot holds nothing in it. Features for month t never
/// look at the products of month t or later, so t may be num_months() (the month after the data,
/// which a submission predicts). Demographics come from the latest snapshot <= t (<= the last
/// one) in which the customer is present.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/random.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"
#include "recmix/datasets/santander_schema.hpp"
#include "recmix/features/encoding.hpp"
#include "recmix/features/scaling.hpp"

namespace recmix::datasets::santander {

namespace detail {

inline void check_month(const Dataset& d, Index month, const char* api, bool allow_next = false) {
  const Index last = allow_next ? d.num_months() : d.num_months() - 1;
  if (month < 0 || month > last) {
    throw invalid_argument(std::string(api) + ": month " + std::to_string(month) + " outside [0, " + std::to_string(last) + "]");
  }
}

inline void check_customers(const Dataset& d, std::span<const Index> customers, const char* api) {
  for (std::size_t i = 0; i < customers.size(); ++i) {
    if (customers[i] < 0 || customers[i] >= d.num_customers()) {
      throw invalid_argument(std::string(api) + ": customer index " + std::to_string(customers[i]) + " at position " +
                             std::to_string(i) + " outside [0, " + std::to_string(d.num_customers()) + ")");
    }
  }
}

inline const std::uint8_t* product_row(const Dataset& d, Index month, Index customer) {
  return &d.products(static_cast<std::size_t>(month), static_cast<std::size_t>(customer), 0);
}

inline bool is_present(const Dataset& d, Index month, Index customer) {
  return d.present(static_cast<std::size_t>(month), static_cast<std::size_t>(customer)) != 0;
}

/// CSR from a per-customer dense 24-wide function f(customer, product) -> weight (0 = absent).
template <class F>
InteractionMatrix dense_to_csr(Index rows, F&& f) {
  std::vector<Offset> indptr(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<Index> indices;
  std::vector<float> values;
  for (Index c = 0; c < rows; ++c) {
    for (std::size_t p = 0; p < kNumProducts; ++p) {
      const float w = f(c, p);
      if (w != 0.0f) {
        indices.push_back(static_cast<Index>(p));
        values.push_back(w);
      }
    }
    indptr[static_cast<std::size_t>(c) + 1] = static_cast<Offset>(indices.size());
  }
  return InteractionMatrix(rows, static_cast<Index>(kNumProducts), std::move(indptr), std::move(indices), std::move(values));
}

}  // namespace detail

/// customers x 24: 1 where the customer holds the product at `month`.
inline InteractionMatrix holdings(const Dataset& d, Index month) {
  detail::check_month(d, month, "santander::holdings");
  return detail::dense_to_csr(d.num_customers(), [&](Index c, std::size_t p) {
    return static_cast<float>(detail::product_row(d, month, c)[p]);
  });
}

/// customers x 24: the number of snapshots in [first, last] in which the customer held the
/// product (the confidence implicit ALS learns from).
inline InteractionMatrix months_owned(const Dataset& d, Index first, Index last) {
  constexpr const char* api = "santander::months_owned";
  detail::check_month(d, first, api);
  detail::check_month(d, last, api);
  if (first > last) throw invalid_argument(std::string(api) + ": first month " + std::to_string(first) + " > last " + std::to_string(last));
  std::vector<float> counts(kNumProducts);
  Index cached = -1;
  return detail::dense_to_csr(d.num_customers(), [&](Index c, std::size_t p) {
    if (cached != c) {
      std::fill(counts.begin(), counts.end(), 0.0f);
      for (Index m = first; m <= last; ++m) {
        const std::uint8_t* row = detail::product_row(d, m, c);
        for (std::size_t q = 0; q < kNumProducts; ++q) counts[q] += static_cast<float>(row[q]);
      }
      cached = c;
    }
    return counts[p];
  });
}

/// customers x 24: 1 where the customer holds the product at `month` but did not at month - 1
/// (a customer absent at month - 1, e.g. new, held nothing then). Needs month >= 1.
inline InteractionMatrix additions(const Dataset& d, Index month) {
  constexpr const char* api = "santander::additions";
  detail::check_month(d, month, api);
  if (month < 1) throw invalid_argument(std::string(api) + ": month 0 has no previous month to compare with");
  return detail::dense_to_csr(d.num_customers(), [&](Index c, std::size_t p) {
    return detail::product_row(d, month, c)[p] != 0 && detail::product_row(d, month - 1, c)[p] == 0 ? 1.0f : 0.0f;
  });
}

/// customers x 24: in how many months of [first, last] (first >= 1) the customer added the product.
inline InteractionMatrix additions_between(const Dataset& d, Index first, Index last) {
  constexpr const char* api = "santander::additions_between";
  detail::check_month(d, first, api);
  detail::check_month(d, last, api);
  if (first < 1 || first > last) {
    throw invalid_argument(std::string(api) + ": need 1 <= first <= last, got [" + std::to_string(first) + ", " + std::to_string(last) + "]");
  }
  std::vector<float> counts(kNumProducts);
  Index cached = -1;
  return detail::dense_to_csr(d.num_customers(), [&](Index c, std::size_t p) {
    if (cached != c) {
      std::fill(counts.begin(), counts.end(), 0.0f);
      for (Index m = first; m <= last; ++m) {
        const std::uint8_t* now = detail::product_row(d, m, c);
        const std::uint8_t* before = detail::product_row(d, m - 1, c);
        for (std::size_t q = 0; q < kNumProducts; ++q) counts[q] += now[q] != 0 && before[q] == 0 ? 1.0f : 0.0f;
      }
      cached = c;
    }
    return counts[p];
  });
}

/// Customers present at `month`, ascending.
inline std::vector<Index> customers_present(const Dataset& d, Index month) {
  detail::check_month(d, month, "santander::customers_present");
  std::vector<Index> out;
  for (Index c = 0; c < d.num_customers(); ++c) {
    if (detail::is_present(d, month, c)) out.push_back(c);
  }
  return out;
}

/// For each customer, the latest snapshot <= month (clamped to the last) in which it is
/// present, or -1.
inline std::vector<Index> latest_present(const Dataset& d, Index month, std::span<const Index> customers) {
  constexpr const char* api = "santander::latest_present";
  detail::check_month(d, month, api, true);
  detail::check_customers(d, customers, api);
  const Index top = std::min(month, d.num_months() - 1);
  std::vector<Index> out(customers.size(), -1);
  for (std::size_t i = 0; i < customers.size(); ++i) {
    for (Index m = top; m >= 0; --m) {
      if (detail::is_present(d, m, customers[i])) {
        out[i] = m;
        break;
      }
    }
  }
  return out;
}

/// customers.size() x k x 24: 1 where the customer held the product `lag` snapshots before
/// `month` (lag = 1 .. k, at index lag - 1); 0 before the first snapshot.
inline xt::xtensor<std::uint8_t, 3> lags(const Dataset& d, Index month, std::span<const Index> customers, Index k) {
  constexpr const char* api = "santander::lags";
  detail::check_month(d, month, api, true);
  detail::check_customers(d, customers, api);
  if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
  xt::xtensor<std::uint8_t, 3> out = xt::zeros<std::uint8_t>(
      {customers.size(), static_cast<std::size_t>(k), kNumProducts});
  for (std::size_t i = 0; i < customers.size(); ++i) {
    for (Index lag = 1; lag <= k && month - lag >= 0; ++lag) {
      const std::uint8_t* row = detail::product_row(d, month - lag, customers[i]);
      std::copy(row, row + kNumProducts, &out(i, static_cast<std::size_t>(lag - 1), 0));
    }
  }
  return out;
}

/// What happened to each product before `month`, per customer (customers.size() x 24).
struct ProductHistory {
  /// Snapshots since the product was last added (held at m, not at m - 1, m < month):
  /// month - m; NaN when no addition was seen.
  xt::xtensor<float, 2> since_added;
  /// Snapshots since the product was last dropped (held at m - 1, not at m): month - m; NaN
  /// when never.
  xt::xtensor<float, 2> since_dropped;
  /// Snapshots before `month` in which the product was held.
  xt::xtensor<float, 2> months_held;
};

inline ProductHistory product_history(const Dataset& d, Index month, std::span<const Index> customers, int threads = 0) {
  constexpr const char* api = "santander::product_history";
  threads = resolve_threads(threads, api);
  detail::check_month(d, month, api, true);
  detail::check_customers(d, customers, api);
  const std::size_t n = customers.size();
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  ProductHistory h{xt::xtensor<float, 2>::from_shape({n, kNumProducts}), xt::xtensor<float, 2>::from_shape({n, kNumProducts}),
                   xt::xtensor<float, 2>::from_shape({n, kNumProducts})};
  std::fill(h.since_added.begin(), h.since_added.end(), nan);
  std::fill(h.since_dropped.begin(), h.since_dropped.end(), nan);
  std::fill(h.months_held.begin(), h.months_held.end(), 0.0f);
  const auto ni = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::ptrdiff_t ii = 0; ii < ni; ++ii) {
    const auto i = static_cast<std::size_t>(ii);
    const Index c = customers[i];
    for (Index m = 0; m < month; ++m) {
      const std::uint8_t* now = detail::product_row(d, m, c);
      const std::uint8_t* before = m > 0 ? detail::product_row(d, m - 1, c) : nullptr;
      const auto age = static_cast<float>(month - m);
      for (std::size_t p = 0; p < kNumProducts; ++p) {
        h.months_held(i, p) += static_cast<float>(now[p]);
        if (before == nullptr) continue;
        if (now[p] != 0 && before[p] == 0) h.since_added(i, p) = age;
        if (now[p] == 0 && before[p] != 0) h.since_dropped(i, p) = age;
      }
    }
  }
  return h;
}

/// How tree_features builds its columns.
struct FeatureOptions {
  /// Held 1 .. lags snapshots before the month, per product (>= 1).
  Index lags = 2;
  /// Add, per product, snapshots since last added and since last dropped, and months held.
  bool product_history = true;
  /// 0 = all cores (the result does not depend on it).
  int threads = 0;
};

/// A feature table: rows aligned with the customers asked for.
struct FeatureTable {
  RowMatrixXf X;
  std::vector<std::string> names;
  /// Columns that hold category codes (for the trees' categorical_features).
  std::vector<Index> categorical;
  /// Column of the segment code (for PopularityRecommender::Options::segment_feature).
  Index segment_column = -1;
};

/// The categorical demographics tree_features uses, in column order.
inline constexpr std::array<Categorical, 13> kTreeCategoricals = {
    Categorical::employee,      Categorical::country,  Categorical::sex,       Categorical::new_customer, Categorical::relation_month,
    Categorical::relation_type, Categorical::resident, Categorical::foreigner, Categorical::channel,      Categorical::deceased,
    Categorical::province_code, Categorical::active,   Categorical::segment};

/// Features for predicting the additions of `month` (0 .. num_months(); num_months() is the
/// month after the data), one row per customer:
///   age, seniority, income, tenure (months since joined), month of year (1..12) of `month`,
///   products held the snapshot before, products added the snapshot before, present the
///   snapshot before (0/1);
///   the category codes of kTreeCategoricals (NaN when missing);
///   per product: held 1..lags snapshots before; with product_history also months held,
///   snapshots since last added, since last dropped (NaN = never).
/// Products are read from snapshots before `month` only; demographics as the file comment says.
inline FeatureTable tree_features(const Dataset& d, Index month, std::span<const Index> customers, const FeatureOptions& o = {}) {
  constexpr const char* api = "santander::tree_features";
  detail::check_month(d, month, api, true);
  detail::check_customers(d, customers, api);
  if (o.lags < 1) throw invalid_argument(std::string(api) + ": lags must be >= 1, got " + std::to_string(o.lags));
  const int threads = resolve_threads(o.threads, api);
  if (d.num_months() == 0) throw invalid_argument(std::string(api) + ": the dataset has no months");
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  FeatureTable t;
  t.names = {"age", "seniority", "income", "tenure", "month_of_year", "held_before", "added_before", "present_before"};
  for (Categorical c : kTreeCategoricals) {
    if (c == Categorical::segment) t.segment_column = static_cast<Index>(t.names.size());
    t.categorical.push_back(static_cast<Index>(t.names.size()));
    t.names.emplace_back(kCategoricalNames[static_cast<std::size_t>(c)]);
  }
  for (Index lag = 1; lag <= o.lags; ++lag) {
    for (auto name : kProductNames) t.names.push_back(std::string(name) + "_lag" + std::to_string(lag));
  }
  if (o.product_history) {
    for (auto name : kProductNames) t.names.push_back(std::string(name) + "_months_held");
    for (auto name : kProductNames) t.names.push_back(std::string(name) + "_since_added");
    for (auto name : kProductNames) t.names.push_back(std::string(name) + "_since_dropped");
  }
  const std::size_t n = customers.size();
  t.X.resize(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(t.names.size()));
  const std::vector<Index> demo_month = latest_present(d, month, customers);
  const int target_number = month < d.num_months() ? d.month_numbers[static_cast<std::size_t>(month)] : d.month_numbers.back() + 1;
  ProductHistory hist;
  if (o.product_history) hist = product_history(d, month, customers, threads);
  const auto ni = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::ptrdiff_t ii = 0; ii < ni; ++ii) {
    const auto i = static_cast<std::size_t>(ii);
    const Index c = customers[i];
    float* x = t.X.data() + static_cast<std::ptrdiff_t>(i) * t.X.cols();
    const Index dm = demo_month[i];
    auto num = [&](Numeric what) { return dm < 0 ? nan : d.numeric_value(dm, c, what); };
    x[0] = num(Numeric::age);
    x[1] = num(Numeric::seniority);
    x[2] = num(Numeric::income);
    const float joined = num(Numeric::joined);
    x[3] = std::isnan(joined) ? nan : static_cast<float>(target_number) - joined;
    x[4] = static_cast<float>(target_number % 12 + 1);
    float held = 0.0f, added = 0.0f;
    if (month >= 1) {
      const std::uint8_t* prev = detail::product_row(d, month - 1, c);
      const std::uint8_t* prev2 = month >= 2 ? detail::product_row(d, month - 2, c) : nullptr;
      for (std::size_t p = 0; p < kNumProducts; ++p) {
        held += static_cast<float>(prev[p]);
        if (prev2 != nullptr && prev[p] != 0 && prev2[p] == 0) added += 1.0f;
      }
    }
    x[5] = held;
    x[6] = added;
    x[7] = month >= 1 && detail::is_present(d, month - 1, c) ? 1.0f : 0.0f;
    std::size_t col = 8;
    for (Categorical cat : kTreeCategoricals) {
      const std::uint8_t code = dm < 0 ? 0 : d.code(dm, c, cat);
      x[col++] = code == 0 ? nan : static_cast<float>(code);
    }
    for (Index lag = 1; lag <= o.lags; ++lag) {
      const std::uint8_t* row = month - lag >= 0 ? detail::product_row(d, month - lag, c) : nullptr;
      for (std::size_t p = 0; p < kNumProducts; ++p) x[col++] = row != nullptr ? static_cast<float>(row[p]) : 0.0f;
    }
    if (o.product_history) {
      for (std::size_t p = 0; p < kNumProducts; ++p) x[col++] = hist.months_held(i, p);
      for (std::size_t p = 0; p < kNumProducts; ++p) x[col++] = hist.since_added(i, p);
      for (std::size_t p = 0; p < kNumProducts; ++p) x[col++] = hist.since_dropped(i, p);
    }
  }
  return t;
}

/// Rows of (customer, month) for a multi-label classifier of additions.
struct TrainingSet {
  RowMatrixXf X;                    ///< tree_features of each row
  RowMatrixXf Y;                    ///< rows x 24: 1 where the product was added that month
  std::vector<Index> customers;     ///< customer of each row
  std::vector<Index> months;        ///< month of each row
  std::vector<std::string> names;   ///< feature names
  std::vector<Index> categorical;   ///< categorical feature columns
  Index segment_column = -1;
  std::size_t candidates = 0;       ///< rows before negative sampling
  std::size_t positives = 0;        ///< rows with at least one addition
};

struct TrainingOptions {
  /// Target months (each >= 1); every customer present in such a month is a candidate row.
  std::vector<Index> months;
  /// Share of candidate rows WITHOUT any addition that are kept (rows with one are all kept).
  /// Ranking a customer's products needs the adders; the rest mostly teach "nothing happens".
  double negative_rate = 0.1;
  std::uint64_t seed = 0;
  FeatureOptions features = {};
};

/// Builds the rows, their features and their addition labels. Which negatives are kept depends
/// only on (seed, month, customer).
inline TrainingSet training_set(const Dataset& d, const TrainingOptions& o) {
  constexpr const char* api = "santander::training_set";
  if (o.months.empty()) throw invalid_argument(std::string(api) + ": no months");
  if (!(o.negative_rate >= 0.0 && o.negative_rate <= 1.0)) {
    throw invalid_argument(std::string(api) + ": negative_rate must be in [0, 1], got " + std::to_string(o.negative_rate));
  }
  TrainingSet s;
  std::vector<RowMatrixXf> blocks;
  std::vector<std::vector<std::array<std::uint8_t, kNumProducts>>> labels;
  for (Index month : o.months) {
    detail::check_month(d, month, api);
    if (month < 1) throw invalid_argument(std::string(api) + ": month 0 has no previous month");
    std::vector<Index> kept;
    std::vector<std::array<std::uint8_t, kNumProducts>> y;
    for (Index c = 0; c < d.num_customers(); ++c) {
      if (!detail::is_present(d, month, c)) continue;
      ++s.candidates;
      const std::uint8_t* now = detail::product_row(d, month, c);
      const std::uint8_t* before = detail::product_row(d, month - 1, c);
      std::array<std::uint8_t, kNumProducts> row{};
      bool any = false;
      for (std::size_t p = 0; p < kNumProducts; ++p) {
        row[p] = now[p] != 0 && before[p] == 0 ? 1 : 0;
        any = any || row[p] != 0;
      }
      const std::uint64_t key = static_cast<std::uint64_t>(month) * 0x100000000ULL + static_cast<std::uint64_t>(c);
      if (any || hash_uniform(o.seed, key) < o.negative_rate) {
        kept.push_back(c);
        y.push_back(row);
        if (any) ++s.positives;
      }
    }
    FeatureTable f = tree_features(d, month, kept, o.features);
    if (s.names.empty()) {
      s.names = f.names;
      s.categorical = f.categorical;
      s.segment_column = f.segment_column;
    }
    s.customers.insert(s.customers.end(), kept.begin(), kept.end());
    s.months.insert(s.months.end(), kept.size(), month);
    blocks.push_back(std::move(f.X));
    labels.push_back(std::move(y));
  }
  Eigen::Index rows = 0;
  for (const auto& b : blocks) rows += b.rows();
  s.X.resize(rows, static_cast<Eigen::Index>(s.names.size()));
  s.Y.resize(rows, static_cast<Eigen::Index>(kNumProducts));
  Eigen::Index at = 0;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    s.X.middleRows(at, blocks[b].rows()) = blocks[b];
    for (std::size_t r = 0; r < labels[b].size(); ++r) {
      for (std::size_t p = 0; p < kNumProducts; ++p) s.Y(at + static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(p)) = labels[b][r][p];
    }
    at += blocks[b].rows();
  }
  return s;
}

/// Demographics encoded for k-means, as in docs/preprocessing.md: standardised age, log income
/// (missing -> the mean, plus a 0/1 "income missing" column), seniority and activity, and one-hot
/// sex, segment, channel (the most frequent), province (the most frequent) and new-customer flag.
class DemographicEncoder {
 public:
  using scalar_type = float;
  static constexpr const char* kModelKind = "santander_demographic_encoder";
  static constexpr unsigned kFormatVersion = 1;

  struct Options {
    Index max_channels = 12;    ///< channels kept by name; the rest pooled
    Index max_provinces = 20;   ///< provinces kept by name; the rest pooled
    Index min_frequency = 20;   ///< categories seen fewer times at fit are pooled
  };

  DemographicEncoder() : DemographicEncoder(Options{}) {}
  explicit DemographicEncoder(const Options& o) : options_(o) {
    if (o.max_channels < 1 || o.max_provinces < 1 || o.min_frequency < 1) {
      throw invalid_argument("DemographicEncoder: max_channels, max_provinces and min_frequency must be >= 1");
    }
  }

  /// Learns the scaling and the categories from the customers' demographics at `month`.
  void fit(const Dataset& d, Index month, std::span<const Index> customers) {
    if (customers.empty()) throw invalid_argument("DemographicEncoder::fit: no customers");
    Raw raw = gather(d, month, customers, true);
    features::StandardScaler scaler({.missing = features::MissingPolicy::impute_mean});
    scaler.fit(raw.numeric);
    features::OneHotEncoder small(one_hot_options(0));
    features::OneHotEncoder channel(one_hot_options(options_.max_channels));
    features::OneHotEncoder province(one_hot_options(options_.max_provinces));
    small.fit(raw.small_columns());
    channel.fit(raw.channel_column());
    province.fit(raw.province_column());
    scaler_ = std::move(scaler);
    small_ = std::move(small);
    channel_ = std::move(channel);
    province_ = std::move(province);
  }

  /// customers.size() x width(): the encoded demographics at `month` (latest snapshot <= month).
  [[nodiscard]] RowMatrixXf transform(const Dataset& d, Index month, std::span<const Index> customers) const {
    if (!is_fitted()) throw not_fitted("DemographicEncoder::transform: the encoder is not fitted");
    Raw raw = gather(d, month, customers, false);
    RowMatrixXf numeric = scaler_.transform(raw.numeric);
    RowMatrixXf a = small_.transform(raw.small_columns());
    RowMatrixXf b = channel_.transform(raw.channel_column());
    RowMatrixXf c = province_.transform(raw.province_column());
    RowMatrixXf out(numeric.rows(), numeric.cols() + 1 + a.cols() + b.cols() + c.cols());
    out << numeric, raw.income_missing, a, b, c;
    return out;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return scaler_.is_fitted(); }
  [[nodiscard]] Index width() const noexcept {
    return is_fitted() ? static_cast<Index>(kNumericCount + 1 + small_.width() + channel_.width() + province_.width()) : 0;
  }
  [[nodiscard]] std::vector<std::string> feature_names() const {
    std::vector<std::string> names = {"age", "log_income", "seniority", "active", "income_missing"};
    for (const auto* e : {&small_, &channel_, &province_}) {
      for (auto& n : e->feature_names()) names.push_back(n);
    }
    return names;
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "max_channels", options_.max_channels);
    archive_field(ar, "max_provinces", options_.max_provinces);
    archive_field(ar, "min_frequency", options_.min_frequency);
    archive_field(ar, "scaler", scaler_);
    archive_field(ar, "small", small_);
    archive_field(ar, "channel", channel_);
    archive_field(ar, "province", province_);
  }

  /// Checks a loaded encoder (model_format_error) and rebuilds what is derived from it.
  void on_loaded() {
    if (options_.max_channels < 1 || options_.max_provinces < 1 || options_.min_frequency < 1) {
      throw model_format_error("DemographicEncoder::load: options out of range");
    }
    scaler_.on_loaded();
    for (auto* e : {&small_, &channel_, &province_}) {
      if constexpr (requires { e->on_loaded(); }) e->on_loaded();
    }
    if (scaler_.num_features() != kNumericCount || small_.num_columns() != 3 || channel_.num_columns() != 1 ||
        province_.num_columns() != 1) {
      throw model_format_error("DemographicEncoder::load: the parts do not have the expected columns");
    }
  }

 private:
  static constexpr Eigen::Index kNumericCount = 4;

  features::EncoderOptions one_hot_options(Index max_categories) const {
    features::EncoderOptions e;
    e.unknown = features::UnknownPolicy::infrequent;
    e.missing = features::MissingCategory::own_category;
    e.min_frequency = options_.min_frequency;
    e.max_categories = max_categories;
    return e;
  }

  struct Raw {
    RowMatrixXf numeric;         // age, log1p(income), seniority, active (NaN = missing)
    Eigen::VectorXf income_missing;
    std::vector<std::string_view> sex, segment, new_customer, channel, province;
    [[nodiscard]] features::CategoricalColumns small_columns() const {
      return {{"sex", sex}, {"segment", segment}, {"new_customer", new_customer}};
    }
    [[nodiscard]] features::CategoricalColumns channel_column() const { return {{"channel", channel}}; }
    [[nodiscard]] features::CategoricalColumns province_column() const { return {{"province", province}}; }
  };

  static Raw gather(const Dataset& d, Index month, std::span<const Index> customers, bool for_fit) {
    const std::vector<Index> dm = latest_present(d, month, customers);
    const std::size_t n = customers.size();
    constexpr float nan = std::numeric_limits<float>::quiet_NaN();
    Raw r;
    r.numeric.resize(static_cast<Eigen::Index>(n), kNumericCount);
    r.income_missing.resize(static_cast<Eigen::Index>(n));
    for (auto* v : {&r.sex, &r.segment, &r.new_customer, &r.channel, &r.province}) v->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Index c = customers[i], m = dm[i];
      const auto row = static_cast<Eigen::Index>(i);
      auto num = [&](Numeric w) { return m < 0 ? nan : d.numeric_value(m, c, w); };
      auto cat = [&](Categorical w) -> std::string_view { return m < 0 ? std::string_view{} : d.category(w, d.code(m, c, w)); };
      const float income = num(Numeric::income);
      r.numeric(row, 0) = num(Numeric::age);
      r.numeric(row, 1) = std::isnan(income) ? nan : static_cast<float>(std::log1p(std::max(0.0f, income)));
      r.numeric(row, 2) = num(Numeric::seniority);
      const std::string_view active = cat(Categorical::active);
      r.numeric(row, 3) = active.empty() ? nan : (active == "1" ? 1.0f : 0.0f);
      r.income_missing[row] = std::isnan(income) ? 1.0f : 0.0f;
      r.sex[i] = cat(Categorical::sex);
      r.segment[i] = cat(Categorical::segment);
      r.new_customer[i] = cat(Categorical::new_customer);
      r.channel[i] = cat(Categorical::channel);
      r.province[i] = cat(Categorical::province);
    }
    // At fit, a column with no value at all cannot be scaled; give it zeros (all customers
    // alike, so the scaler learns mean 0; transform then imputes 0 for it).
    for (Eigen::Index col = 0; for_fit && col < kNumericCount; ++col) {
      if (!r.numeric.col(col).array().isNaN().all()) continue;
      r.numeric.col(col).setZero();
    }
    return r;
  }

  Options options_;
  features::StandardScaler scaler_;
  features::OneHotEncoder small_, channel_, province_;
};

}  // namespace recmix::datasets::santander
