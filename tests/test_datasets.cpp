// Unit tests of the synthetic interaction generator (recmix/datasets/synthetic.hpp):
// determinism, the documented shape of each dataset at reduced sizes, resolve() defaults and
// argument checking.

#include <doctest/doctest.h>

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/types.hpp>
#include <recmix/datasets/synthetic.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <vector>

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::Offset;
using recmix::datasets::SyntheticShape;
using recmix::datasets::SyntheticSpec;

namespace {

template <class T>
std::vector<T> to_vector(std::span<const T> s) {
  return std::vector<T>(s.begin(), s.end());
}

SyntheticSpec make_spec(SyntheticShape shape, Index users, Index items, std::int64_t nnz, std::uint64_t seed = 42) {
  SyntheticSpec s;
  s.shape = shape;
  s.users = users;
  s.items = items;
  s.nnz = nnz;
  s.seed = seed;
  return s;
}

/// Reduced-size specs of the three shapes (each well under a second to generate).
std::vector<SyntheticSpec> small_specs(std::uint64_t seed) {
  return {make_spec(SyntheticShape::santander, 3000, 0, 0, seed), make_spec(SyntheticShape::medium, 2000, 500, 20000, seed),
          make_spec(SyntheticShape::large, 2000, 800, 30000, seed)};
}

/// Number of users holding each item.
std::vector<std::int64_t> item_counts(const InteractionMatrix& m) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(m.cols()), 0);
  for (Index c : m.indices()) ++counts[static_cast<std::size_t>(c)];
  return counts;
}

/// Every row strictly increasing and in range (no user holds an item twice).
void check_rows_distinct(const InteractionMatrix& m) {
  bool ok = true;
  for (Index r = 0; r < m.rows() && ok; ++r) {
    const auto row = m.row(r);
    for (std::size_t k = 0; k < row.size(); ++k) {
      if (row.indices[k] < 0 || row.indices[k] >= m.cols() || (k > 0 && row.indices[k] <= row.indices[k - 1])) {
        ok = false;
        CAPTURE(r);
        FAIL_CHECK("row is not strictly increasing / in range");
        break;
      }
    }
  }
  CHECK(ok);
}

/// Every value an integer in [lo, hi].
void check_integer_values(const InteractionMatrix& m, float lo, float hi) {
  std::size_t bad = 0;
  for (float v : m.values()) {
    if (!(v >= lo && v <= hi) || v != std::floor(v)) ++bad;
  }
  CHECK(bad == 0);
}

/// Every user holds between lo and hi items.
void check_degrees(const InteractionMatrix& m, std::int64_t lo, std::int64_t hi) {
  const std::vector<std::int64_t> d = m.row_lengths();
  REQUIRE(!d.empty());
  CHECK(*std::min_element(d.begin(), d.end()) >= lo);
  CHECK(*std::max_element(d.begin(), d.end()) <= hi);
}

/// Share of the nonzeros held by the most popular `fraction` of the items (at least one item).
double top_share(const InteractionMatrix& m, double fraction) {
  std::vector<std::int64_t> counts = item_counts(m);
  std::sort(counts.begin(), counts.end(), std::greater<>());
  const auto top = std::max<std::size_t>(1, static_cast<std::size_t>(fraction * static_cast<double>(counts.size())));
  const auto held = std::accumulate(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(top), std::int64_t{0});
  return static_cast<double>(held) / static_cast<double>(m.nnz());
}

}  // namespace

// ================================================================================================
// Determinism
// ================================================================================================

TEST_CASE("synthetic_interactions: the same spec gives the same matrix, another seed another one") {
  const std::vector<SyntheticSpec> a = small_specs(7);
  const std::vector<SyntheticSpec> b = small_specs(8);
  for (std::size_t k = 0; k < a.size(); ++k) {
    CAPTURE(recmix::datasets::shape_name(a[k].shape));
    const InteractionMatrix m1 = recmix::datasets::synthetic_interactions(a[k]);
    const InteractionMatrix m2 = recmix::datasets::synthetic_interactions(a[k]);
    CHECK(m1.rows() == m2.rows());
    CHECK(m1.cols() == m2.cols());
    CHECK(to_vector(m1.indptr()) == to_vector(m2.indptr()));
    CHECK(to_vector(m1.indices()) == to_vector(m2.indices()));
    CHECK(to_vector(m1.values()) == to_vector(m2.values()));

    const InteractionMatrix m3 = recmix::datasets::synthetic_interactions(b[k]);
    CHECK(m3.rows() == m1.rows());
    CHECK(m3.cols() == m1.cols());
    CHECK(to_vector(m3.indptr()) != to_vector(m1.indptr()));
    CHECK(to_vector(m3.indices()) != to_vector(m1.indices()));
    CHECK(to_vector(m3.values()) != to_vector(m1.values()));
  }
}

TEST_CASE("Rng: splitmix64 reference values and reproducible streams") {
  // The published splitmix64 sequence for state 0.
  std::uint64_t state = 0;
  CHECK(recmix::datasets::splitmix64(state) == 0xE220A8397B1DCDAFULL);
  CHECK(recmix::datasets::splitmix64(state) == 0x6E789E6AA1B965F4ULL);
  CHECK(recmix::datasets::splitmix64(state) == 0x06C45D188009454FULL);

  recmix::datasets::Rng x(123), y(123), z(124);
  bool same = true, differs = false;
  for (int k = 0; k < 1000; ++k) {
    const std::uint64_t vx = x.next(), vy = y.next(), vz = z.next();
    same = same && vx == vy;
    differs = differs || vx != vz;
  }
  CHECK(same);
  CHECK(differs);

  recmix::datasets::Rng rng(5);
  bool in_range = true;
  for (int k = 0; k < 10000; ++k) {
    const double u = rng.uniform(), p = rng.uniform_pos();
    const std::uint64_t b = rng.below(7);
    in_range = in_range && u >= 0.0 && u < 1.0 && p > 0.0 && p <= 1.0 && b < 7;
  }
  CHECK(in_range);
}

TEST_CASE("AliasTable: draws follow the weights, zero weights are never drawn") {
  const recmix::datasets::AliasTable table({1.0, 0.0, 2.0, 3.0, 0.0, 4.0});
  recmix::datasets::Rng rng(11);
  std::vector<int> hits(6, 0);
  const int n = 200000;
  for (int k = 0; k < n; ++k) ++hits[table.sample(rng)];
  CHECK(hits[1] == 0);
  CHECK(hits[4] == 0);
  const double expected[6] = {0.1, 0.0, 0.2, 0.3, 0.0, 0.4};
  for (std::size_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    CHECK(std::abs(static_cast<double>(hits[i]) / n - expected[i]) < 0.01);
  }
  CHECK_THROWS_AS(recmix::datasets::AliasTable(std::vector<double>{}), recmix::invalid_argument);
}

// ================================================================================================
// Shapes
// ================================================================================================

TEST_CASE("santander shape at 20000 users") {
  const InteractionMatrix m = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::santander, 20000, 0, 0));
  REQUIRE(m.rows() == 20000);
  REQUIRE(m.cols() == 24);
  check_degrees(m, 1, 6);
  check_rows_distinct(m);
  check_integer_values(m, 1.0f, 17.0f);

  // Half of the customers hold one product, about 27% two.
  const std::vector<std::int64_t> d = m.row_lengths();
  const auto share_with = [&](std::int64_t k) {
    return static_cast<double>(std::count(d.begin(), d.end(), k)) / static_cast<double>(d.size());
  };
  CHECK(share_with(1) > 0.46);
  CHECK(share_with(1) < 0.54);
  CHECK(share_with(2) > 0.23);
  CHECK(share_with(2) < 0.31);
  for (std::int64_t k = 3; k <= 6; ++k) CHECK(share_with(k) > 0.0);

  // One account is held by about 2/3 of the customers (the generator gives 67-68% here).
  const std::vector<std::int64_t> counts = item_counts(m);
  const double top = static_cast<double>(*std::max_element(counts.begin(), counts.end())) / static_cast<double>(m.rows());
  CHECK(top >= 0.60);
  CHECK(top <= 0.75);

  // Values are months held: about 45% exactly 17, the rest spread over 1..16.
  const auto values = m.values();
  const double at_17 = static_cast<double>(std::count(values.begin(), values.end(), 17.0f)) / static_cast<double>(values.size());
  CHECK(at_17 > 0.40);
  CHECK(at_17 < 0.50);
  CHECK(std::count(values.begin(), values.end(), 1.0f) > 0);
  CHECK(std::count(values.begin(), values.end(), 16.0f) > 0);
}

TEST_CASE("santander shape: requested nnz, small catalogues") {
  const InteractionMatrix exact =
      recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::santander, 1000, 0, 2500));
  CHECK(exact.nnz() == 2500);
  check_degrees(exact, 1, 6);
  check_rows_distinct(exact);

  // Every user full: 6 distinct products each.
  const InteractionMatrix full = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::santander, 300, 0, 1800));
  CHECK(full.nnz() == 1800);
  check_degrees(full, 6, 6);
  check_rows_distinct(full);

  // Three products: nobody can hold more than three.
  const InteractionMatrix tiny = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::santander, 2000, 3, 0));
  CHECK(tiny.cols() == 3);
  check_degrees(tiny, 1, 3);
  check_rows_distinct(tiny);
  check_integer_values(tiny, 1.0f, 17.0f);
}

TEST_CASE("medium and large shapes at a reduced size") {
  struct Case {
    SyntheticShape shape;
    float max_value;
  };
  for (const Case c : {Case{SyntheticShape::medium, 50.0f}, Case{SyntheticShape::large, 10000.0f}}) {
    CAPTURE(recmix::datasets::shape_name(c.shape));
    const SyntheticSpec spec = make_spec(c.shape, 5000, 1000, 50000);
    const InteractionMatrix m = recmix::datasets::synthetic_interactions(spec);
    REQUIRE(m.rows() == 5000);
    REQUIRE(m.cols() == 1000);
    CHECK(m.nnz() == 50000);
    CHECK(recmix::datasets::degree_cap(spec) == 250);
    check_degrees(m, 1, 250);
    check_rows_distinct(m);
    check_integer_values(m, 1.0f, c.max_value);

    // Popularity is skewed: the top 1% of the items hold far more than 1% of the nonzeros,
    // the top 10% more than a quarter of them.
    CHECK(top_share(m, 0.01) > 0.05);
    CHECK(top_share(m, 0.10) > 0.25);

    const auto values = m.values();
    CHECK(std::count(values.begin(), values.end(), 1.0f) > 0);
    CHECK(*std::max_element(values.begin(), values.end()) > 10.0f);
  }

  // medium: most values are small counts (P(v >= k) ~ k^-1.3, so about 59% are 1).
  {
    const InteractionMatrix m = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::medium, 5000, 1000, 50000));
    const auto values = m.values();
    const double ones = static_cast<double>(std::count(values.begin(), values.end(), 1.0f)) / static_cast<double>(values.size());
    CHECK(ones > 0.5);
    CHECK(ones < 0.7);
    CHECK(std::count(values.begin(), values.end(), 50.0f) > 0);
  }
  // large: play counts with median about 100.
  {
    const InteractionMatrix m = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::large, 5000, 1000, 50000));
    std::vector<float> values = to_vector(m.values());
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
    const float median = values[values.size() / 2];
    CHECK(median >= 80.0f);
    CHECK(median <= 125.0f);
  }
}

TEST_CASE("medium and large shapes: default nnz for reduced users, tiny catalogues, extreme nnz") {
  // nnz left at 0: the shape's average per user times the users.
  const InteractionMatrix medium = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::medium, 1000, 2000, 0));
  CHECK(medium.nnz() == 50000);
  check_rows_distinct(medium);
  const InteractionMatrix large = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::large, 1000, 2000, 0));
  CHECK(large.nnz() == 48611);  // round(17.5M / 360k * 1000)
  check_rows_distinct(large);

  // Four items: the cap is one item per user.
  const SyntheticSpec one_each = make_spec(SyntheticShape::medium, 500, 4, 500);
  CHECK(recmix::datasets::degree_cap(one_each) == 1);
  const InteractionMatrix m1 = recmix::datasets::synthetic_interactions(one_each);
  CHECK(m1.nnz() == 500);
  check_degrees(m1, 1, 1);

  // Every user at the cap, and every user at one item.
  const InteractionMatrix full = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::large, 200, 40, 2000));
  check_degrees(full, 10, 10);
  check_rows_distinct(full);
  const InteractionMatrix thin = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::medium, 300, 400, 300));
  check_degrees(thin, 1, 1);
}

// ================================================================================================
// resolve, degree_cap, names, describe, errors
// ================================================================================================

TEST_CASE("resolve fills the shape's defaults and keeps what was given") {
  const SyntheticSpec medium = recmix::datasets::resolve(SyntheticSpec{});
  CHECK(medium.shape == SyntheticShape::medium);
  CHECK(medium.users == 100000);
  CHECK(medium.items == 20000);
  CHECK(medium.nnz == 5000000);
  CHECK(medium.seed == 42);

  const SyntheticSpec santander = recmix::datasets::resolve(make_spec(SyntheticShape::santander, 0, 0, 0, 9));
  CHECK(santander.users == 950000);
  CHECK(santander.items == 24);
  CHECK(santander.nnz == 0);  // whatever the 1..6 law gives
  CHECK(santander.seed == 9);

  const SyntheticSpec large = recmix::datasets::resolve(make_spec(SyntheticShape::large, 0, 0, 0));
  CHECK(large.users == 360000);
  CHECK(large.items == 160000);
  CHECK(large.nnz == 17500000);

  const SyntheticSpec given = recmix::datasets::resolve(make_spec(SyntheticShape::large, 123, 456, 789, 5));
  CHECK(given.shape == SyntheticShape::large);
  CHECK(given.users == 123);
  CHECK(given.items == 456);
  CHECK(given.nnz == 789);
  CHECK(given.seed == 5);

  // Partly given: the default nnz follows the users asked for.
  CHECK(recmix::datasets::resolve(make_spec(SyntheticShape::medium, 1000, 0, 0)).nnz == 50000);
  CHECK(recmix::datasets::resolve(make_spec(SyntheticShape::medium, 0, 77, 0)).users == 100000);
  CHECK(recmix::datasets::resolve(make_spec(SyntheticShape::medium, 0, 77, 0)).items == 77);
  // Resolving twice changes nothing.
  const SyntheticSpec twice = recmix::datasets::resolve(medium);
  CHECK(twice.users == medium.users);
  CHECK(twice.items == medium.items);
  CHECK(twice.nnz == medium.nnz);
}

TEST_CASE("degree_cap") {
  CHECK(recmix::datasets::degree_cap(make_spec(SyntheticShape::santander, 10, 24, 0)) == 6);
  CHECK(recmix::datasets::degree_cap(make_spec(SyntheticShape::santander, 10, 4, 0)) == 4);
  CHECK(recmix::datasets::degree_cap(make_spec(SyntheticShape::medium, 10, 1000, 0)) == 250);
  CHECK(recmix::datasets::degree_cap(make_spec(SyntheticShape::medium, 10, 3, 0)) == 1);
  CHECK(recmix::datasets::degree_cap(make_spec(SyntheticShape::large, 10, 160000, 0)) == 10000);
}

TEST_CASE("shape names") {
  for (SyntheticShape s : {SyntheticShape::santander, SyntheticShape::medium, SyntheticShape::large}) {
    const auto parsed = recmix::datasets::parse_shape(recmix::datasets::shape_name(s));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == s);
  }
  CHECK(std::string(recmix::datasets::shape_name(SyntheticShape::santander)) == "santander");
  CHECK_FALSE(recmix::datasets::parse_shape("Medium").has_value());
  CHECK_FALSE(recmix::datasets::parse_shape("").has_value());
}

TEST_CASE("impossible requests throw recmix::invalid_argument") {
  using recmix::datasets::resolve;
  using recmix::datasets::synthetic_interactions;
  for (SyntheticShape s : {SyntheticShape::santander, SyntheticShape::medium, SyntheticShape::large}) {
    CAPTURE(recmix::datasets::shape_name(s));
    CHECK_THROWS_AS((void)resolve(make_spec(s, -1, 10, 100)), recmix::invalid_argument);
    CHECK_THROWS_AS((void)resolve(make_spec(s, 10, -1, 100)), recmix::invalid_argument);
    CHECK_THROWS_AS((void)resolve(make_spec(s, 10, 10, -1)), recmix::invalid_argument);
    CHECK_THROWS_AS((void)synthetic_interactions(make_spec(s, -5, 0, 0)), recmix::invalid_argument);
    CHECK_THROWS_AS((void)synthetic_interactions(make_spec(s, 100, -5, 0)), recmix::invalid_argument);
    CHECK_THROWS_AS((void)synthetic_interactions(make_spec(s, 100, 100, -5)), recmix::invalid_argument);
    // Fewer nonzeros than users: someone would hold nothing.
    CHECK_THROWS_AS((void)synthetic_interactions(make_spec(s, 100, 100, 99)), recmix::invalid_argument);
  }
  // More than users x cap.
  CHECK_THROWS_AS((void)synthetic_interactions(make_spec(SyntheticShape::santander, 100, 0, 601)), recmix::invalid_argument);
  CHECK_THROWS_WITH_AS((void)synthetic_interactions(make_spec(SyntheticShape::medium, 100, 100, 2501)),
                       doctest::Contains("2501"), recmix::invalid_argument);
  CHECK_THROWS_AS((void)synthetic_interactions(make_spec(SyntheticShape::large, 100, 40, 1001)), recmix::invalid_argument);
  // The default nnz for 1000 medium users is 50 each, beyond a cap of 10 (40 items).
  CHECK_THROWS_AS((void)synthetic_interactions(make_spec(SyntheticShape::medium, 1000, 40, 0)), recmix::invalid_argument);
  // The limits themselves are fine.
  CHECK(synthetic_interactions(make_spec(SyntheticShape::santander, 100, 0, 600)).nnz() == 600);
  CHECK(synthetic_interactions(make_spec(SyntheticShape::medium, 100, 100, 2500)).nnz() == 2500);
  CHECK(synthetic_interactions(make_spec(SyntheticShape::large, 100, 40, 100)).nnz() == 100);
}

TEST_CASE("describe summarises a matrix") {
  const InteractionMatrix m = recmix::datasets::synthetic_interactions(make_spec(SyntheticShape::santander, 2000, 0, 0));
  const std::string text = recmix::datasets::describe(m);
  CAPTURE(text);
  CHECK(text.rfind("shape 2000 x 24, nnz " + std::to_string(m.nnz()) + ", density ", 0) == 0);
  CHECK(text.find("items/user: mean ") != std::string::npos);
  CHECK(text.find("items/user histogram: 1:") != std::string::npos);
  CHECK(text.find("top item: held by ") != std::string::npos);
  CHECK(text.find("values: min 1.00") != std::string::npos);
  CHECK(text.find("max 17.00") != std::string::npos);

  // Degenerate matrices do not crash.
  CHECK(recmix::datasets::describe(InteractionMatrix(3, 4)).rfind("shape 3 x 4, nnz 0", 0) == 0);
  CHECK(recmix::datasets::describe(InteractionMatrix()).rfind("shape 0 x 0, nnz 0", 0) == 0);
}
