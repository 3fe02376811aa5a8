// Unit tests of <recmix/datasets/santander_features.hpp> on a tiny hand-checkable panel, and of
// <recmix/core/feature_columns.hpp> / UserBatch::select_features.
//
// The panel: 3 customers (ncodpers 10, 20, 30) over 4 months (2015-05 .. 2015-08); products
// are named by index (2 = current account, 21 = payroll, 22 = pension payroll, 23 = direct debit).
//
//   month        0     1     2       3
//   customer 10  {2}   {2}   {2,23}  {2,21,22}   (adds 23 at 2; drops 23 and adds 21,22 at 3)
//   customer 20  {2,21}{2}   {2,21}  absent      (drops 21 at 1, re-adds it at 2, leaves)
//   customer 30  absent absent {2}   {2}         (joins at 2: everything it holds then is added)

#include <doctest/doctest.h>

#include <recmix/core/errors.hpp>
#include <recmix/core/feature_columns.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/datasets/santander_features.hpp>
#include <recmix/io/serialization.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace sd = recmix::datasets::santander;
using recmix::Index;

namespace {

sd::Dataset tiny_panel() {
  sd::Dataset d;
  const int may = 2015 * 12 + 4;
  for (int m = 0; m < 4; ++m) {
    d.month_numbers.push_back(may + m);
    d.months.push_back(sd::month_date(may + m));
  }
  d.customers = {10, 20, 30};
  d.present = xt::ones<std::uint8_t>({4, 3});
  d.present(3, 1) = 0;
  d.present(0, 2) = 0;
  d.present(1, 2) = 0;
  d.products = xt::zeros<std::uint8_t>({std::size_t{4}, std::size_t{3}, sd::kNumProducts});
  auto hold = [&](int m, int c, std::initializer_list<int> ps) {
    for (int p : ps) d.products(static_cast<std::size_t>(m), static_cast<std::size_t>(c), static_cast<std::size_t>(p)) = 1;
  };
  hold(0, 0, {2});
  hold(1, 0, {2});
  hold(2, 0, {2, 23});
  hold(3, 0, {2, 21, 22});
  hold(0, 1, {2, 21});
  hold(1, 1, {2});
  hold(2, 1, {2, 21});
  hold(2, 2, {2});
  hold(3, 2, {2});
  d.numeric = xt::xtensor<float, 3>::from_shape({4, 3, sd::kNumNumeric});
  std::fill(d.numeric.begin(), d.numeric.end(), std::nanf(""));
  d.categorical = xt::zeros<std::uint8_t>({std::size_t{4}, std::size_t{3}, sd::kNumCategorical});
  d.categories[static_cast<std::size_t>(sd::Categorical::segment)] = {"01 - TOP", "02 - PARTICULARES"};
  d.categories[static_cast<std::size_t>(sd::Categorical::sex)] = {"H", "V"};
  d.categories[static_cast<std::size_t>(sd::Categorical::active)] = {"0", "1"};
  d.categories[static_cast<std::size_t>(sd::Categorical::channel)] = {"KAT", "KHE"};
  d.categories[static_cast<std::size_t>(sd::Categorical::province)] = {"MADRID"};
  d.categories[static_cast<std::size_t>(sd::Categorical::new_customer)] = {"0", "1"};
  for (std::size_t m = 0; m < 4; ++m) {
    for (std::size_t c = 0; c < 3; ++c) {
      if (d.present(m, c) == 0) continue;
      d.numeric(m, c, 0) = 30.0f + static_cast<float>(10 * c) + static_cast<float>(m) / 12.0f;  // age
      d.numeric(m, c, 1) = static_cast<float>(12 * c + m);                                       // seniority
      d.numeric(m, c, 2) = c == 1 ? std::nanf("") : 50000.0f * static_cast<float>(c + 1);         // income
      d.numeric(m, c, 3) = static_cast<float>(2014 * 12 + static_cast<int>(c));                  // joined
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::segment)) = c == 0 ? 1 : 2;
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::sex)) = c == 1 ? 2 : 1;
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::active)) = c == 2 ? 1 : 2;
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::channel)) = c == 0 ? 2 : 1;
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::province)) = 1;
      d.categorical(m, c, static_cast<std::size_t>(sd::Categorical::new_customer)) = c == 2 ? 2 : 1;
    }
  }
  return d;
}

std::set<Index> row_items(const recmix::InteractionMatrix& m, Index r) {
  const auto row = m.row(r);
  return {row.indices.begin(), row.indices.end()};
}

float value(const recmix::InteractionMatrix& m, Index r, Index item) {
  const auto row = m.row(r);
  for (std::size_t k = 0; k < row.size(); ++k) {
    if (row.indices[k] == item) return row.values[k];
  }
  return 0.0f;
}

Index column(const sd::FeatureTable& t, const std::string& name) {
  for (std::size_t i = 0; i < t.names.size(); ++i) {
    if (t.names[i] == name) return static_cast<Index>(i);
  }
  FAIL("no feature column " << name);
  return -1;
}

}  // namespace

TEST_CASE("santander features: holdings, months owned and additions by hand") {
  const sd::Dataset d = tiny_panel();
  const auto h3 = sd::holdings(d, 3);
  CHECK(row_items(h3, 0) == std::set<Index>{2, 21, 22});
  CHECK(row_items(h3, 1).empty());  // absent
  CHECK(row_items(h3, 2) == std::set<Index>{2});

  const auto owned = sd::months_owned(d, 0, 3);
  CHECK(value(owned, 0, 2) == 4.0f);
  CHECK(value(owned, 0, 23) == 1.0f);
  CHECK(value(owned, 1, 21) == 2.0f);
  CHECK(value(owned, 2, 2) == 2.0f);
  CHECK(owned.nnz() == 4 + 2 + 1);
  const auto owned12 = sd::months_owned(d, 1, 2);
  CHECK(value(owned12, 1, 2) == 2.0f);
  CHECK(value(owned12, 1, 21) == 1.0f);
  CHECK(value(owned12, 2, 2) == 1.0f);

  CHECK(sd::additions(d, 1).nnz() == 0);  // 20 dropped 21, nobody added
  const auto a2 = sd::additions(d, 2);
  CHECK(row_items(a2, 0) == std::set<Index>{23});
  CHECK(row_items(a2, 1) == std::set<Index>{21});  // re-added
  CHECK(row_items(a2, 2) == std::set<Index>{2});   // joined holding 2
  const auto a3 = sd::additions(d, 3);
  CHECK(row_items(a3, 0) == std::set<Index>{21, 22});
  CHECK(row_items(a3, 1).empty());
  CHECK(row_items(a3, 2).empty());

  const auto between = sd::additions_between(d, 1, 3);
  CHECK(value(between, 0, 23) == 1.0f);
  CHECK(value(between, 0, 21) == 1.0f);
  CHECK(value(between, 1, 21) == 1.0f);
  CHECK(between.nnz() == a2.nnz() + a3.nnz());

  CHECK(sd::customers_present(d, 3) == std::vector<Index>{0, 2});
  CHECK(sd::customers_present(d, 0) == std::vector<Index>{0, 1});
  const std::vector<Index> all = {0, 1, 2};
  CHECK(sd::latest_present(d, 3, all) == std::vector<Index>{3, 2, 3});
  CHECK(sd::latest_present(d, 4, all) == std::vector<Index>{3, 2, 3});  // the month after the data
  CHECK(sd::latest_present(d, 1, all) == std::vector<Index>{1, 1, -1});
}

TEST_CASE("santander features: lags and product history look only before the month") {
  const sd::Dataset d = tiny_panel();
  const std::vector<Index> who = {0, 1, 2};
  const auto l = sd::lags(d, 3, who, 3);
  CHECK(l(0, 0, 23) == 1);  // held at month 2
  CHECK(l(0, 1, 23) == 0);
  CHECK(l(0, 0, 21) == 0);  // added at 3 itself: not visible
  CHECK(l(1, 0, 21) == 1);
  CHECK(l(1, 1, 21) == 0);
  CHECK(l(1, 2, 21) == 1);
  CHECK(l(2, 1, 2) == 0);  // absent at 1
  const auto l1 = sd::lags(d, 1, who, 3);
  CHECK(l1(0, 1, 2) == 0);  // before the first month

  const auto h = sd::product_history(d, 3, who);
  CHECK(h.months_held(0, 2) == 3.0f);
  CHECK(h.months_held(0, 23) == 1.0f);
  CHECK(h.since_added(0, 23) == 1.0f);   // added at 2, seen from 3
  CHECK(std::isnan(h.since_dropped(0, 23)));
  CHECK(std::isnan(h.since_added(0, 2)));  // held from the start: never seen added
  CHECK(h.since_dropped(1, 21) == 2.0f);   // dropped at 1
  CHECK(h.since_added(1, 21) == 1.0f);     // re-added at 2
  CHECK(h.since_added(2, 2) == 1.0f);      // joined at 2
  const auto h4 = sd::product_history(d, 4, who);  // the month after the data sees month 3
  CHECK(h4.since_added(0, 21) == 1.0f);
  CHECK(h4.since_dropped(0, 23) == 1.0f);
  CHECK(h4.since_dropped(1, 2) == 1.0f);  // 20 left at 3: absent holds nothing
}

TEST_CASE("santander features: tree features by hand") {
  const sd::Dataset d = tiny_panel();
  const std::vector<Index> who = {0, 1, 2};
  const sd::FeatureTable t = sd::tree_features(d, 3, who, {.lags = 2});
  REQUIRE(t.X.rows() == 3);
  REQUIRE(static_cast<std::size_t>(t.X.cols()) == t.names.size());
  CHECK(t.names.size() == 8 + sd::kTreeCategoricals.size() + 24 * (2 + 3));
  CHECK(t.segment_column == column(t, "segment"));
  CHECK(t.categorical.size() == sd::kTreeCategoricals.size());

  // Customer 10: demographics of month 3.
  CHECK(t.X(0, column(t, "age")) == doctest::Approx(30.25));
  CHECK(t.X(0, column(t, "seniority")) == 3.0f);
  CHECK(t.X(0, column(t, "income")) == 50000.0f);
  CHECK(t.X(0, column(t, "tenure")) == static_cast<float>((2015 * 12 + 7) - 2014 * 12));
  CHECK(t.X(0, column(t, "month_of_year")) == 8.0f);  // August
  CHECK(t.X(0, column(t, "held_before")) == 2.0f);    // {2, 23} at month 2
  CHECK(t.X(0, column(t, "added_before")) == 1.0f);   // 23 added at month 2
  CHECK(t.X(0, column(t, "present_before")) == 1.0f);
  CHECK(t.X(0, column(t, "segment")) == 1.0f);
  CHECK(std::isnan(t.X(0, column(t, "country"))));    // code 0 = missing -> NaN
  CHECK(t.X(0, column(t, "ind_recibo_ult1_lag1")) == 1.0f);
  CHECK(t.X(0, column(t, "ind_recibo_ult1_lag2")) == 0.0f);
  CHECK(t.X(0, column(t, "ind_recibo_ult1_since_added")) == 1.0f);
  CHECK(t.X(0, column(t, "ind_cco_fin_ult1_months_held")) == 3.0f);

  // Customer 20 is absent at 3: demographics of month 2, products of month 2 and before.
  CHECK(t.X(1, column(t, "age")) == doctest::Approx(40.0 + 2.0 / 12.0));
  CHECK(std::isnan(t.X(1, column(t, "income"))));
  CHECK(t.X(1, column(t, "held_before")) == 2.0f);
  CHECK(t.X(1, column(t, "added_before")) == 1.0f);
  CHECK(t.X(1, column(t, "ind_nomina_ult1_since_dropped")) == 2.0f);

  // Customer 30 joined at 2.
  CHECK(t.X(2, column(t, "present_before")) == 1.0f);
  CHECK(t.X(2, column(t, "ind_cco_fin_ult1_lag2")) == 0.0f);
  CHECK(t.X(2, column(t, "added_before")) == 1.0f);

  // The month after the data: month_of_year 9 and products of month 3.
  const sd::FeatureTable next = sd::tree_features(d, 4, who, {.lags = 1, .product_history = false});
  CHECK(next.names.size() == 8 + sd::kTreeCategoricals.size() + 24);
  CHECK(next.X(0, column(next, "month_of_year")) == 9.0f);
  CHECK(next.X(0, column(next, "ind_nomina_ult1_lag1")) == 1.0f);
  CHECK(next.X(1, column(next, "present_before")) == 0.0f);

  // Threads do not change anything.
  const sd::FeatureTable one = sd::tree_features(d, 3, who, {.threads = 1});
  const sd::FeatureTable two = sd::tree_features(d, 3, who, {.threads = 2});
  CHECK(one.X.cwiseEqual(two.X).count() + one.X.array().isNaN().count() == one.X.size());
}

TEST_CASE("santander features: training set rows, labels and negative sampling") {
  const sd::Dataset d = tiny_panel();
  const sd::TrainingSet all = sd::training_set(d, {.months = {2, 3}, .negative_rate = 1.0});
  // Month 2: customers 10, 20, 30 present; month 3: 10 and 30.
  CHECK(all.candidates == 5);
  CHECK(all.X.rows() == 5);
  CHECK(all.positives == 4);  // month 2: all three added; month 3: customer 10
  CHECK(all.customers == std::vector<Index>{0, 1, 2, 0, 2});
  CHECK(all.months == std::vector<Index>{2, 2, 2, 3, 3});
  CHECK(all.Y(0, 23) == 1.0f);
  CHECK(all.Y(1, 21) == 1.0f);
  CHECK(all.Y(2, 2) == 1.0f);
  CHECK(all.Y(3, 21) == 1.0f);
  CHECK(all.Y(3, 22) == 1.0f);
  CHECK(all.Y.row(4).sum() == 0.0f);
  CHECK(all.Y.sum() == 5.0f);
  const sd::TrainingSet adders = sd::training_set(d, {.months = {2, 3}, .negative_rate = 0.0});
  CHECK(adders.X.rows() == 4);
  CHECK(adders.candidates == 5);
  CHECK(adders.Y.sum() == 5.0f);

  CHECK_THROWS_AS(sd::training_set(d, {.months = {}}), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::training_set(d, {.months = {0}}), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::training_set(d, {.months = {4}}), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::training_set(d, {.months = {2}, .negative_rate = 1.5}), recmix::invalid_argument);
}

TEST_CASE("santander features: demographic encoder") {
  const sd::Dataset d = tiny_panel();
  const std::vector<Index> who = {0, 1, 2};
  sd::DemographicEncoder enc({.max_channels = 5, .max_provinces = 5, .min_frequency = 1});
  CHECK_THROWS_AS((void)enc.transform(d, 3, who), recmix::not_fitted);
  enc.fit(d, 3, who);
  const recmix::RowMatrixXf X = enc.transform(d, 3, who);
  CHECK(X.rows() == 3);
  CHECK(X.cols() == enc.width());
  CHECK(enc.feature_names().size() == static_cast<std::size_t>(enc.width()));
  CHECK(X.allFinite());
  // Standardised age: mean 0 over the fit rows.
  CHECK(X.col(0).sum() == doctest::Approx(0.0).epsilon(1e-5));
  // Income missing for customer 20 only: imputed to the mean (0) and flagged.
  CHECK(X(1, 1) == doctest::Approx(0.0));
  CHECK(X(1, 4) == 1.0f);
  CHECK(X(0, 4) == 0.0f);
  // One-hot rows: each customer has exactly one 1 in each of the 5 categorical blocks.
  CHECK(X.rightCols(X.cols() - 5).sum() == doctest::Approx(15.0));
  CHECK_THROWS_AS(sd::DemographicEncoder({.max_channels = 0}), recmix::invalid_argument);
  CHECK_THROWS_AS(enc.fit(d, 3, std::vector<Index>{}), recmix::invalid_argument);

  const auto path = std::filesystem::temp_directory_path() / "recmix_demographic_encoder.bin";
  recmix::save(enc, path);
  sd::DemographicEncoder back;
  recmix::load(back, path);
  std::filesystem::remove(path);
  CHECK(back.transform(d, 3, who) == X);
}

TEST_CASE("santander features: every throw path names the problem") {
  const sd::Dataset d = tiny_panel();
  const std::vector<Index> bad = {0, 7};
  CHECK_THROWS_AS(sd::holdings(d, 4), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::holdings(d, -1), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::months_owned(d, 2, 1), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::additions(d, 0), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::additions_between(d, 0, 2), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::lags(d, 2, bad, 1), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::lags(d, 2, std::vector<Index>{0}, 0), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::tree_features(d, 5, std::vector<Index>{0}), recmix::invalid_argument);
  CHECK_THROWS_AS(sd::tree_features(d, 2, std::vector<Index>{0}, {.lags = 0}), recmix::invalid_argument);
  try {
    (void)sd::tree_features(d, 2, bad);
    FAIL("no throw");
  } catch (const recmix::invalid_argument& e) {
    CHECK(std::string(e.what()).find("customer index 7") != std::string::npos);
  }
}

namespace {

/// Scores item j with the sum of the batch's feature row (so a column slice is visible).
struct SumOfFeatures {
  [[maybe_unused]] static constexpr const char* kModelKind = "sum_of_features";
  [[nodiscard]] Index num_items() const { return 2; }
  void score(const recmix::UserBatch& b, recmix::ScoreBlock out) const {
    const auto f = b.features();
    for (Index r = 0; r < b.size(); ++r) out.row(r).setConstant(f.row(r).sum());
  }
  void can_score(const recmix::UserBatch& b, std::span<std::uint8_t> mask) const {
    for (Index r = 0; r < b.size(); ++r) mask[static_cast<std::size_t>(r)] = b.features().cols() == 2 ? 1 : 0;
  }
};

}  // namespace

TEST_CASE("feature columns: a model sees only its block of the batch features") {
  static_assert(recmix::Recommender<recmix::FeatureColumns<SumOfFeatures>>);
  recmix::RowMatrixXf f(2, 5);
  f << 1, 2, 3, 4, 5, 10, 20, 30, 40, 50;
  const std::vector<Index> users = {0, 1};
  const recmix::UserBatch batch(users, nullptr, recmix::HistoryRows::aligned, f);
  const recmix::UserBatch mid = batch.select_features(1, 2);
  CHECK(mid.features().cols() == 2);
  CHECK(mid.features()(1, 0) == 20.0f);
  CHECK(mid.slice(1, 2).features()(0, 1) == 30.0f);
  CHECK_THROWS_AS((void)batch.select_features(4, 2), recmix::invalid_argument);
  CHECK_THROWS_AS((void)batch.select_features(-1, 1), recmix::invalid_argument);

  recmix::FeatureColumns<SumOfFeatures> block(SumOfFeatures{}, 3, 2);
  recmix::RowMatrixXf out(2, 2);
  block.score(batch, out);
  CHECK(out(0, 0) == 9.0f);
  CHECK(out(1, 1) == 90.0f);
  std::vector<std::uint8_t> mask(2, 9);
  block.can_score(batch, mask);
  CHECK(mask == std::vector<std::uint8_t>{1, 1});
  recmix::FeatureColumns<SumOfFeatures> too_far(SumOfFeatures{}, 4, 2);
  too_far.can_score(batch, mask);
  CHECK(mask == std::vector<std::uint8_t>{0, 0});
  CHECK_THROWS_AS(too_far.score(batch, out), recmix::invalid_argument);
  CHECK_THROWS_AS(recmix::FeatureColumns<SumOfFeatures>(SumOfFeatures{}, -1, 2), recmix::invalid_argument);
}
