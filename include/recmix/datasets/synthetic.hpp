#pragma once
/// @file
/// Deterministic synthetic interaction matrices (used by the examples, tests and benchmarks).
/// The same shape, size and seed give the same matrix on every machine: the
/// generator is single-threaded and uses its own RNG (xoshiro256** seeded by splitmix64) and its
/// own samplers, never <random>'s distributions (their output is implementation-defined).
///
/// Shapes:
///   santander  950,000 x 24. 1..6 products per customer (half hold one, ~27% two), product
///              shares like the Santander product-recommendation data (one account held by about
///              2/3 of customers, the rest rare); values = months held, 1..17, ~45% exactly 17.
///   medium     100,000 x 20,000, 5M nonzeros. Item popularity Zipf-Mandelbrot
///              p_k ~ 1/(k + 20) (tail exponent 1), user activity Lomax (shifted Pareto,
///              alpha 1.6: median ~18, p99 ~500, capped at items/4); values
///              counts 1..50, P(v >= k) ~ k^-1.3.
///   large      360,000 x 160,000, 17.5M nonzeros, shaped like lastfm-360k (each user's top
///              artists): 85% of users hold 45..60 items, the rest 1..44; item popularity
///              p_k ~ 1/(k + 25); values play counts, log-normal (median 100) clipped to 1..10^4.
/// Items are drawn without replacement per user, so no (user, item) pair repeats. Item ids are
/// a random permutation of popularity ranks.
///
/// @code
/// recmix::datasets::SyntheticSpec spec;
/// spec.shape = recmix::datasets::SyntheticShape::santander;
/// spec.users = 10000;
/// recmix::InteractionMatrix m = recmix::datasets::synthetic_interactions(spec);
/// @endcode

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>

namespace recmix::datasets {

// ---- random numbers (recmix/core/random.hpp; the names stay reachable from here) ------------

using recmix::Rng;
using recmix::splitmix64;

/// Walker/Vose alias table: O(1) draws from a discrete distribution.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& weights) : prob_(weights.size()), alias_(weights.size()) {
    const std::size_t n = weights.size();
    if (n == 0) throw recmix::invalid_argument("AliasTable: no weights");
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<double> scaled(n);
    std::vector<std::uint32_t> small, large;
    for (std::size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const std::uint32_t s = small.back(), l = large.back();
      small.pop_back();
      prob_[s] = scaled[s];
      alias_[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    for (std::uint32_t i : large) prob_[i] = 1.0, alias_[i] = i;
    for (std::uint32_t i : small) prob_[i] = 1.0, alias_[i] = i;  // rounding leftovers
  }

  std::uint32_t sample(Rng& rng) const {
    const std::uint64_t r = rng.next();
    const auto i = static_cast<std::size_t>((r >> 32) * prob_.size() >> 32);
    const double u = static_cast<double>(r & 0xFFFFFFFFULL) * 0x1.0p-32;
    return u < prob_[i] ? static_cast<std::uint32_t>(i) : alias_[i];
  }

 private:
  std::vector<double> prob_;
  std::vector<std::uint32_t> alias_;
};

// ---- shapes ------------------------------------------------------------------------------

enum class SyntheticShape { santander, medium, large };

inline std::optional<SyntheticShape> parse_shape(std::string_view name) {
  if (name == "santander") return SyntheticShape::santander;
  if (name == "medium") return SyntheticShape::medium;
  if (name == "large") return SyntheticShape::large;
  return std::nullopt;
}

inline const char* shape_name(SyntheticShape s) {
  switch (s) {
    case SyntheticShape::santander: return "santander";
    case SyntheticShape::medium: return "medium";
    case SyntheticShape::large: return "large";
  }
  return "?";
}

struct SyntheticSpec {
  SyntheticShape shape = SyntheticShape::medium;
  Index users = 0;       ///< 0 = the shape's default
  Index items = 0;       ///< 0 = the shape's default
  std::int64_t nnz = 0;  ///< 0 = the shape's default (santander: whatever its 1..6 law gives)
  std::uint64_t seed = 42;
};

namespace gen_detail {

/// Marginal holding shares of the 24 Santander products, most popular first.
inline const std::vector<double>& santander_shares() {
  static const std::vector<double> s = {0.66,  0.13,  0.13,   0.085,  0.08,   0.06,  0.055,   0.05,
                                        0.045, 0.045, 0.04,   0.025,  0.018,  0.01,  0.01,    0.009,
                                        0.006, 0.0025, 0.002, 0.002, 0.0004, 0.0004, 0.0001, 0.00002};
  return s;
}

inline std::vector<double> item_weights(SyntheticShape shape, Index items) {
  std::vector<double> w(static_cast<std::size_t>(items));
  if (shape == SyntheticShape::santander) {
    const auto& s = santander_shares();
    for (std::size_t k = 0; k < w.size(); ++k) {
      w[k] = k < s.size() ? s[k] : 0.00002 * std::pow(0.7, static_cast<double>(k - s.size() + 1));
    }
    // Customers holding one product almost always hold the current account: boost it so that
    // about 2/3 of all customers hold it once 1..6 products are drawn without replacement.
    w[0] = 0.85;
    return w;
  }
  const double q = shape == SyntheticShape::medium ? 20.0 : 25.0;
  for (std::size_t k = 0; k < w.size(); ++k) w[k] = 1.0 / (static_cast<double>(k) + 1.0 + q);
  return w;
}

inline int santander_degree(Rng& rng) {
  static const double cdf[6] = {0.50, 0.77, 0.89, 0.955, 0.985, 1.0};
  const double u = rng.uniform();
  int d = 1;
  while (d < 6 && u >= cdf[d - 1]) ++d;
  return d;
}

inline double raw_degree(SyntheticShape shape, Rng& rng) {
  switch (shape) {
    case SyntheticShape::santander: return santander_degree(rng);
    case SyntheticShape::medium: return 1.0 + 30.0 * (std::pow(rng.uniform_pos(), -1.0 / 1.6) - 1.0);  // Lomax, alpha 1.6
    case SyntheticShape::large:
      if (rng.uniform() < 0.85) return 45.0 + static_cast<double>(rng.below(16));  // 45..60
      return 1.0 + static_cast<double>(rng.below(44));                              // 1..44
  }
  return 1.0;
}

inline float draw_value(SyntheticShape shape, Rng& rng) {
  switch (shape) {
    case SyntheticShape::santander: {
      if (rng.uniform() < 0.45) return 17.0f;
      const double u = rng.uniform();
      return static_cast<float>(1 + static_cast<int>(16.0 * u * u));  // 1..16, skewed low
    }
    case SyntheticShape::medium: {
      const double v = std::floor(std::pow(rng.uniform_pos(), -1.0 / 1.3));
      return static_cast<float>(std::clamp(v, 1.0, 50.0));
    }
    case SyntheticShape::large: {
      const double v = std::round(std::exp(4.6 + 1.4 * rng.normal()));
      return static_cast<float>(std::clamp(v, 1.0, 10000.0));
    }
  }
  return 1.0f;
}

/// Scales raw degrees to integers in [1, cap] summing exactly to target.
inline std::vector<Index> fit_degrees(const std::vector<double>& raw, Index cap, std::int64_t target, Rng& rng) {
  const std::size_t n = raw.size();
  std::vector<Index> d(n);
  std::vector<double> x = raw;
  std::int64_t sum = 0;
  for (int pass = 0; pass < 4; ++pass) {
    const double total = std::accumulate(x.begin(), x.end(), 0.0);
    const double factor = static_cast<double>(target) / total;
    sum = 0;
    for (std::size_t u = 0; u < n; ++u) {
      const double v = x[u] * factor;
      double k = std::floor(v);
      if (rng.uniform() < v - k) k += 1.0;
      k = std::clamp(k, 1.0, static_cast<double>(cap));
      d[u] = static_cast<Index>(k);
      x[u] = k;
      sum += d[u];
    }
    if (std::llabs(sum - target) <= static_cast<std::int64_t>(n / 1000 + 1)) break;
  }
  while (sum < target) {
    const std::size_t u = rng.below(n);
    if (d[u] < cap) ++d[u], ++sum;
  }
  while (sum > target) {
    const std::size_t u = rng.below(n);
    if (d[u] > 1) --d[u], --sum;
  }
  return d;
}

}  // namespace gen_detail

/// The spec with every 0 replaced by the shape's default. Throws recmix::invalid_argument when the
/// requested nnz cannot be met (fewer than one item per user, or more than the per-user cap).
inline SyntheticSpec resolve(SyntheticSpec s) {
  const Index default_users = s.shape == SyntheticShape::santander ? 950000 : s.shape == SyntheticShape::medium ? 100000 : 360000;
  const Index default_items = s.shape == SyntheticShape::santander ? 24 : s.shape == SyntheticShape::medium ? 20000 : 160000;
  const double default_avg = s.shape == SyntheticShape::santander ? 0.0 : s.shape == SyntheticShape::medium ? 50.0 : 17500000.0 / 360000.0;
  if (s.users < 0 || s.items < 0 || s.nnz < 0) throw recmix::invalid_argument("negative users, items or nnz");
  if (s.users == 0) s.users = default_users;
  if (s.items == 0) s.items = default_items;
  if (s.nnz == 0 && s.shape != SyntheticShape::santander) {
    s.nnz = static_cast<std::int64_t>(std::llround(default_avg * s.users));
  }
  return s;
}

/// Largest number of items one user may hold.
inline Index degree_cap(const SyntheticSpec& s) {
  if (s.shape == SyntheticShape::santander) return std::min<Index>(6, s.items);
  return std::max<Index>(1, std::min<Index>(s.items / 4, 10000));
}

/// Generates the matrix described by `spec` (see the file comment).
inline InteractionMatrix synthetic_interactions(SyntheticSpec spec) {
  spec = resolve(spec);
  const Index n_users = spec.users, n_items = spec.items;
  if (n_users < 1 || n_items < 1) throw recmix::invalid_argument("users and items must be >= 1");
  const Index cap = degree_cap(spec);
  if (spec.nnz != 0 && (spec.nnz < n_users || spec.nnz > static_cast<std::int64_t>(n_users) * cap)) {
    throw recmix::invalid_argument("nnz " + std::to_string(spec.nnz) + " impossible for " + std::to_string(n_users) +
                                " users holding 1.." + std::to_string(cap) + " items each");
  }
  Rng rng(spec.seed);

  // Item popularity by rank, and a random rank -> item id permutation.
  const AliasTable popularity(gen_detail::item_weights(spec.shape, n_items));
  std::vector<Index> item_of_rank(static_cast<std::size_t>(n_items));
  std::iota(item_of_rank.begin(), item_of_rank.end(), 0);
  for (std::size_t k = item_of_rank.size(); k > 1; --k) std::swap(item_of_rank[k - 1], item_of_rank[rng.below(k)]);

  // Items per user.
  std::vector<double> raw(static_cast<std::size_t>(n_users));
  for (auto& r : raw) r = gen_detail::raw_degree(spec.shape, rng);
  std::vector<Index> degree(raw.size());
  if (spec.nnz == 0) {
    for (std::size_t u = 0; u < raw.size(); ++u) degree[u] = std::min(cap, static_cast<Index>(raw[u]));
  } else {
    degree = gen_detail::fit_degrees(raw, cap, spec.nnz, rng);
  }
  std::vector<double>().swap(raw);

  std::vector<Offset> indptr(static_cast<std::size_t>(n_users) + 1, 0);
  for (std::size_t u = 0; u < degree.size(); ++u) indptr[u + 1] = indptr[u] + degree[u];
  const auto nnz = static_cast<std::size_t>(indptr.back());
  std::vector<Index> indices(nnz);
  std::vector<float> values(nnz);

  std::vector<Index> seen(static_cast<std::size_t>(n_items), -1);
  for (Index u = 0; u < n_users; ++u) {
    const auto b = static_cast<std::size_t>(indptr[static_cast<std::size_t>(u)]);
    const auto d = static_cast<std::size_t>(degree[static_cast<std::size_t>(u)]);
    std::size_t got = 0, tries = 0;
    const std::size_t max_tries = 1000 * d + 1000;
    while (got < d) {
      Index item;
      if (tries < max_tries) {
        ++tries;
        item = item_of_rank[popularity.sample(rng)];
      } else {  // a heavy user of a tiny catalogue: finish uniformly
        item = static_cast<Index>(rng.below(static_cast<std::uint64_t>(n_items)));
      }
      if (seen[static_cast<std::size_t>(item)] == u) continue;
      seen[static_cast<std::size_t>(item)] = u;
      indices[b + got++] = item;
    }
    std::sort(indices.begin() + static_cast<std::ptrdiff_t>(b), indices.begin() + static_cast<std::ptrdiff_t>(b + d));
    for (std::size_t k = b; k < b + d; ++k) values[k] = gen_detail::draw_value(spec.shape, rng);
  }
  return InteractionMatrix(n_users, n_items, std::move(indptr), std::move(indices), std::move(values));
}

// ---- statistics --------------------------------------------------------------------------

/// A few lines describing a matrix: nnz, items per user, item popularity, values.
inline std::string describe(const InteractionMatrix& m) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  const auto rows = static_cast<std::size_t>(m.rows());
  std::vector<std::int64_t> deg = m.row_lengths();
  std::vector<std::int64_t> item_users(static_cast<std::size_t>(m.cols()), 0);
  for (Index c : m.indices()) ++item_users[static_cast<std::size_t>(c)];
  const double nnz = static_cast<double>(m.nnz());
  os << "shape " << m.rows() << " x " << m.cols() << ", nnz " << m.nnz() << ", density "
     << std::setprecision(3) << std::scientific << nnz / (static_cast<double>(m.rows()) * m.cols()) << '\n';
  os << std::fixed << std::setprecision(2);

  std::vector<std::int64_t> sorted = deg;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](const std::vector<std::int64_t>& v, double p) {
    return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  os << "items/user: mean " << (rows ? nnz / static_cast<double>(rows) : 0.0) << ", min " << (rows ? sorted.front() : 0)
     << ", p10 " << pct(sorted, 0.10) << ", p50 " << pct(sorted, 0.50) << ", p90 " << pct(sorted, 0.90) << ", p99 "
     << pct(sorted, 0.99) << ", max " << (rows ? sorted.back() : 0) << '\n';
  os << "items/user histogram:";
  const std::int64_t buckets[] = {1, 2, 3, 4, 5, 6, 10, 20, 50, 100, 1000};
  std::int64_t lo = 1;
  for (std::int64_t hi : buckets) {
    const auto n = std::count_if(deg.begin(), deg.end(), [&](std::int64_t d) { return d >= lo && d <= hi; });
    if (n > 0) {
      os << ' ' << (lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi)) << ':'
         << 100.0 * static_cast<double>(n) / static_cast<double>(rows) << '%';
    }
    lo = hi + 1;
  }
  const auto more = std::count_if(deg.begin(), deg.end(), [&](std::int64_t d) { return d >= lo; });
  if (more > 0) os << ' ' << '>' << lo - 1 << ':' << 100.0 * static_cast<double>(more) / static_cast<double>(rows) << '%';
  os << '\n';

  std::vector<std::int64_t> pop = item_users;
  std::sort(pop.begin(), pop.end(), std::greater<>());
  const std::int64_t top = pop.empty() ? 0 : pop.front();
  std::int64_t top10 = 0;
  for (std::size_t k = 0; k < std::min<std::size_t>(10, pop.size()); ++k) top10 += pop[k];
  const auto empty_items = std::count(item_users.begin(), item_users.end(), 0);
  os << "top item: held by " << top << " users (" << 100.0 * static_cast<double>(top) / static_cast<double>(rows)
     << "% of users, " << 100.0 * static_cast<double>(top) / nnz << "% of nnz); top-10 items "
     << 100.0 * static_cast<double>(top10) / nnz << "% of nnz; items never held " << empty_items << '\n';

  std::vector<float> vals(m.values().begin(), m.values().end());
  if (!vals.empty()) {
    std::sort(vals.begin(), vals.end());
    const double mean = std::accumulate(vals.begin(), vals.end(), 0.0) / static_cast<double>(vals.size());
    auto vp = [&](double p) { return vals[std::min(vals.size() - 1, static_cast<std::size_t>(p * static_cast<double>(vals.size())))]; };
    const auto at_max = std::count(vals.begin(), vals.end(), vals.back());
    os << "values: min " << vals.front() << ", p50 " << vp(0.5) << ", mean " << mean << ", p90 " << vp(0.9) << ", p99 "
       << vp(0.99) << ", max " << vals.back() << " (" << 100.0 * static_cast<double>(at_max) / static_cast<double>(vals.size())
       << "% at max)\n";
  }
  return os.str();
}

}  // namespace recmix::datasets
