// Unit tests of the blend module: the row normalisers on hand-computed rows, the popularity
// baseline (global and per segment, with fallback), HybridBlender fusion against hand-computed
// weighted sums, the per-user fallback, weight tuning, nesting, save/load, thread-count
// independence, the runtime-configured DynamicBlender, and every throw path.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/als/implicit_als.hpp>
#include <recmix/blend/dynamic_blender.hpp>
#include <recmix/blend/hybrid_blender.hpp>
#include <recmix/blend/normalize.hpp>
#include <recmix/blend/popularity.hpp>
#include <recmix/cluster/cluster_recommender.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/io/serialization.hpp>
#include <recmix/metrics/evaluate.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::blend::AnyRecommender;
using recmix::blend::DynamicBlender;
using recmix::blend::HybridBlender;
using recmix::blend::Normalization;
using recmix::blend::PopularityRecommender;
using recmix::metrics::Metric;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

RowMatrixXf row_of(std::initializer_list<float> v) {
  RowMatrixXf m(1, static_cast<Index>(v.size()));
  Index i = 0;
  for (float x : v) m(0, i++) = x;
  return m;
}

void check_row(const RowMatrixXf& got, std::initializer_list<double> want) {
  REQUIRE(got.cols() == static_cast<Index>(want.size()));
  Index i = 0;
  for (double w : want) {
    if (std::isinf(w)) {
      CHECK(got(0, i) == static_cast<float>(w));
    } else {
      CHECK(got(0, i) == doctest::Approx(w).epsilon(1e-6));
    }
    ++i;
  }
}

/// A test double: fixed scores per user id; can_score from a per-user flag. Rows it cannot
/// score get NaN, so a blender that used them would throw.
struct TableModel {
  RowMatrixXf table;               // users x items
  std::vector<std::uint8_t> knows;  // per user id

  [[nodiscard]] Index num_items() const { return static_cast<Index>(table.cols()); }
  void score(const UserBatch& b, recmix::ScoreBlock out) const {
    if (out.rows() != b.size() || out.cols() != num_items()) throw recmix::invalid_argument("TableModel::score: bad block");
    for (Index r = 0; r < b.size(); ++r) {
      const Index u = b.users()[static_cast<std::size_t>(r)];
      if (known(u)) out.row(r) = table.row(u);
      else out.row(r).setConstant(kNaN);
    }
  }
  void can_score(const UserBatch& b, std::span<std::uint8_t> mask) const {
    for (Index r = 0; r < b.size(); ++r) mask[static_cast<std::size_t>(r)] = known(b.users()[static_cast<std::size_t>(r)]) ? 1 : 0;
  }
  [[nodiscard]] bool known(Index u) const {
    return u >= 0 && u < table.rows() && knows[static_cast<std::size_t>(u)] != 0;
  }
};
static_assert(recmix::Recommender<TableModel>);

TableModel table_model(RowMatrixXf table, std::vector<std::uint8_t> knows = {}) {
  if (knows.empty()) knows.assign(static_cast<std::size_t>(table.rows()), 1);
  return TableModel{std::move(table), std::move(knows)};
}

RowMatrixXf scores_of(const auto& model, const UserBatch& batch) {
  RowMatrixXf out(batch.size(), model.num_items());
  model.score(batch, out);
  return out;
}

std::vector<std::uint8_t> mask_of(const auto& model, const UserBatch& batch) {
  std::vector<std::uint8_t> m(static_cast<std::size_t>(batch.size()), 7);
  model.can_score(batch, std::span<std::uint8_t>(m));
  return m;
}

std::vector<Index> iota_users(Index n) {
  std::vector<Index> u(static_cast<std::size_t>(n));
  std::iota(u.begin(), u.end(), 0);
  return u;
}

RowMatrixXf random_table(Index rows, Index cols, std::uint64_t seed) {
  recmix::Rng rng(seed);
  RowMatrixXf m(rows, cols);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) m(r, c) = static_cast<float>(rng.uniform());
  }
  return m;
}

/// Small fitted real models on shared random data: 120 users x 12 items, 3 features.
struct Fixture {
  Index n_users = 120, n_items = 12;
  InteractionMatrix train = recmix::test::random_matrix(120, 12, 0.25, 11);
  InteractionMatrix truth = recmix::test::random_matrix(120, 12, 0.15, 12);
  RowMatrixXf features = random_table(120, 3, 13);
  std::vector<float> segments;
  recmix::als::ImplicitALS<float> als{{.factors = 4, .iterations = 4, .threads = 1, .seed = 3}};
  recmix::cluster::ClusterRecommender clusters{{.kmeans = {.k = 4, .seed = 7, .threads = 1}}};
  PopularityRecommender popular;
  Fixture() {
    als.fit(train);
    clusters.fit(features, train);
    popular.fit(train);
  }
};

}  // namespace

// ---- normalisation ------------------------------------------------------------------------------

TEST_CASE("blend: rank normalisation: positions from the bottom, ties share the mean, -inf stays") {
  RowMatrixXf s = row_of({0.2f, 3.0f, 3.0f, -1.0f});
  recmix::blend::normalize_rows(s, Normalization::rank);
  check_row(s, {1.0 / 3, 2.5 / 3, 2.5 / 3, 0.0});

  RowMatrixXf constant = row_of({4.0f, 4.0f, 4.0f});
  recmix::blend::normalize_rows(constant, Normalization::rank);
  check_row(constant, {0.5, 0.5, 0.5});

  RowMatrixXf with_inf = row_of({5.0f, -kInf, 1.0f, 5.0f, 2.0f});  // finite: 1, 2, 5, 5 -> ranks 0, 1, 2.5, 2.5 over 3
  recmix::blend::normalize_rows(with_inf, Normalization::rank);
  check_row(with_inf, {2.5 / 3, -kInf, 0.0, 2.5 / 3, 1.0 / 3});

  RowMatrixXf single = row_of({-kInf, 7.0f, -kInf});
  recmix::blend::normalize_rows(single, Normalization::rank);
  check_row(single, {-kInf, 0.5, -kInf});

  RowMatrixXf all_inf = row_of({-kInf, -kInf});
  recmix::blend::normalize_rows(all_inf, Normalization::rank);
  check_row(all_inf, {-kInf, -kInf});
}

TEST_CASE("blend: min_max, z_score and none on hand-computed rows") {
  RowMatrixXf m = row_of({2.0f, 6.0f, 4.0f, -kInf, 3.0f});
  recmix::blend::normalize_rows(m, Normalization::min_max);
  check_row(m, {0.0, 1.0, 0.5, -kInf, 0.25});

  RowMatrixXf c = row_of({1.5f, 1.5f});
  recmix::blend::normalize_rows(c, Normalization::min_max);
  check_row(c, {0.5, 0.5});

  // mean 4, population sd sqrt((4 + 4 + 0 + 0) / 4) = sqrt(2)
  RowMatrixXf z = row_of({2.0f, 6.0f, 4.0f, 4.0f, -kInf});
  recmix::blend::normalize_rows(z, Normalization::z_score);
  check_row(z, {-2.0 / std::sqrt(2.0), 2.0 / std::sqrt(2.0), 0.0, 0.0, -kInf});

  RowMatrixXf zc = row_of({3.0f, 3.0f, 3.0f});
  recmix::blend::normalize_rows(zc, Normalization::z_score);
  check_row(zc, {0.0, 0.0, 0.0});

  RowMatrixXf n = row_of({2.0f, -kInf, -5.5f});
  recmix::blend::normalize_rows(n, Normalization::none);
  check_row(n, {2.0, -kInf, -5.5});

  // Several rows are normalised independently.
  RowMatrixXf two(2, 3);
  two << 1, 2, 3, 30, 20, 10;
  recmix::blend::normalize_rows(two, Normalization::min_max);
  CHECK(two(0, 2) == 1.0f);
  CHECK(two(1, 0) == 1.0f);
  CHECK(two(1, 1) == 0.5f);
}

TEST_CASE("blend: rank normalisation by counting (small rows) and by sorting (large rows) agree with brute force") {
  for (Index n : {5, 30, 64, 65, 150}) {
    recmix::Rng rng(static_cast<std::uint64_t>(n));
    RowMatrixXf row(1, n);
    for (Index i = 0; i < n; ++i) row(0, i) = rng.uniform() < 0.1 ? -kInf : static_cast<float>(rng.below(7));  // many ties
    RowMatrixXf got = row;
    recmix::blend::normalize_rows(got, Normalization::rank);
    Index m = 0;
    for (Index i = 0; i < n; ++i) m += row(0, i) != -kInf ? 1 : 0;
    for (Index i = 0; i < n; ++i) {
      if (row(0, i) == -kInf) {
        CHECK(got(0, i) == -kInf);
        continue;
      }
      double below = 0, equal = 0;
      for (Index j = 0; j < n; ++j) {
        if (row(0, j) == -kInf) continue;
        below += row(0, j) < row(0, i) ? 1 : 0;
        equal += row(0, j) == row(0, i) ? 1 : 0;
      }
      CHECK(got(0, i) == static_cast<float>((below + (equal - 1) / 2) / static_cast<double>(m - 1)));
    }
  }
}

TEST_CASE("blend: normalize_rows rejects NaN, +inf and unknown normalisations") {
  RowMatrixXf a = row_of({1.0f, kNaN});
  CHECK_THROWS_AS(recmix::blend::normalize_rows(a, Normalization::rank), recmix::invalid_argument);
  RowMatrixXf b = row_of({kInf, 1.0f});
  CHECK_THROWS_AS(recmix::blend::normalize_rows(b, Normalization::none), recmix::invalid_argument);
  RowMatrixXf c = row_of({1.0f});
  CHECK_THROWS_AS(recmix::blend::normalize_rows(c, static_cast<Normalization>(9)), recmix::invalid_argument);
  CHECK(std::string(recmix::blend::normalization_name(Normalization::z_score)) == "z_score");
}

// ---- popularity ---------------------------------------------------------------------------------

namespace {

/// 8 users x 3 items. Item 0: users 0,1,2,3,4 (the stored 0 of user 5 does not count);
/// item 1: users 0,5,6; item 2: user 7.
InteractionMatrix popularity_events() {
  std::vector<Index> u = {0, 1, 2, 3, 4, 5, 0, 5, 6, 7};
  std::vector<Index> i = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2};
  std::vector<float> w = {1, 2, 1, 1, 3, 0, 1, 1, 1, 1};
  return InteractionMatrix::from_triplets(8, 3, u, i, w);
}

}  // namespace

TEST_CASE("blend: popularity global rates are hand-counted shares of users") {
  PopularityRecommender pop;
  const auto report = pop.fit(popularity_events());
  CHECK(report.users == 8);
  CHECK(report.segments == 0);
  check_row(pop.global_rates(), {5.0 / 8, 3.0 / 8, 1.0 / 8});
  const std::vector<Index> users = {0, recmix::kNewUser, 7};
  UserBatch batch(users);
  const RowMatrixXf s = scores_of(pop, batch);
  for (Index r = 0; r < 3; ++r) CHECK(s.row(r) == pop.global_rates().row(0));
  CHECK(mask_of(pop, batch) == std::vector<std::uint8_t>{1, 1, 1});
  const auto top = recmix::recommend(pop, batch, 2, {.exclude_history = false});
  CHECK(top.items(0, 0) == 0);
  CHECK(top.items(0, 1) == 1);
}

TEST_CASE("blend: popularity per segment, with smoothing, small segments and unknown codes falling back") {
  // Segments: users 0-2 -> 10, users 3-5 -> 20, user 6 -> 30 (small), user 7 -> NaN.
  const std::vector<float> codes = {10, 10, 10, 20, 20, 20, 30, kNaN};
  PopularityRecommender pop({.segment_feature = 1, .min_segment_users = 2, .smoothing = 0});
  const auto report = pop.fit(popularity_events(), codes);
  CHECK(report.segments == 2);
  CHECK(report.small_segments == 1);
  CHECK(report.users_without_segment == 1);
  CHECK(pop.segment_codes() == std::vector<std::int64_t>{10, 20});
  CHECK(pop.segment_users() == std::vector<double>{3, 3});
  // Segment 10 (users 0,1,2): item 0 by all 3, item 1 by user 0. Segment 20 (users 3,4,5):
  // item 0 by 3 and 4, item 1 by 5.
  check_row(pop.segment_rates().row(0), {1.0, 1.0 / 3, 0.0});
  check_row(pop.segment_rates().row(1), {2.0 / 3, 1.0 / 3, 0.0});

  PopularityRecommender smooth({.segment_feature = 1, .min_segment_users = 2, .smoothing = 2});
  smooth.fit(popularity_events(), codes);
  // (count + 2 * global) / (3 + 2)
  check_row(smooth.segment_rates().row(0), {(3 + 2 * 5.0 / 8) / 5, (1 + 2 * 3.0 / 8) / 5, (0 + 2 * 1.0 / 8) / 5});

  // Batch: feature column 1 holds the code.
  RowMatrixXf f(7, 2);
  f << 0, 10,  //
      0, 20,   //
      0, 30,   // small -> global
      0, 99,   // unknown -> global
      0, kNaN,  // none -> global
      0, 10.5f,  // not an integer -> global
      0, kInf;   // -> global
  const std::vector<Index> users(7, recmix::kNewUser);
  UserBatch batch(users, nullptr, recmix::HistoryRows::aligned, f);
  const RowMatrixXf s = scores_of(pop, batch);
  CHECK(s.row(0) == pop.segment_rates().row(0));
  CHECK(s.row(1) == pop.segment_rates().row(1));
  for (Index r = 2; r < 7; ++r) CHECK(s.row(r) == pop.global_rates().row(0));
  CHECK(mask_of(pop, batch) == std::vector<std::uint8_t>(7, 1));

  // A batch without features scores everyone globally.
  UserBatch bare(users);
  const RowMatrixXf g = scores_of(pop, bare);
  for (Index r = 0; r < 7; ++r) CHECK(g.row(r) == pop.global_rates().row(0));
}

TEST_CASE("blend: popularity throw paths") {
  using Options = PopularityRecommender::Options;
  CHECK_THROWS_AS(PopularityRecommender(Options{.segment_feature = -2}), recmix::invalid_argument);
  CHECK_THROWS_AS(PopularityRecommender(Options{.min_segment_users = -1}), recmix::invalid_argument);
  CHECK_THROWS_AS(PopularityRecommender(Options{.min_segment_users = std::nan("")}), recmix::invalid_argument);
  CHECK_THROWS_AS(PopularityRecommender(Options{.smoothing = -0.5}), recmix::invalid_argument);
  CHECK_THROWS_AS(PopularityRecommender(Options{.smoothing = std::numeric_limits<double>::infinity()}), recmix::invalid_argument);

  PopularityRecommender global;
  const std::vector<float> codes(8, 1.0f);
  CHECK_THROWS_AS(global.fit(popularity_events(), codes), recmix::invalid_argument);  // codes without segment_feature
  CHECK_THROWS_AS(global.fit(InteractionMatrix(0, 3)), recmix::invalid_argument);
  CHECK_THROWS_AS(global.fit(InteractionMatrix(3, 0)), recmix::invalid_argument);
  const std::vector<Index> users = {0};
  UserBatch batch(users);
  RowMatrixXf out(1, 3);
  CHECK_THROWS_AS(global.score(batch, out), recmix::not_fitted);

  PopularityRecommender seg({.segment_feature = 2});
  CHECK_THROWS_AS(seg.fit(popularity_events()), recmix::invalid_argument);  // no codes
  CHECK_THROWS_AS(seg.fit(popularity_events(), std::vector<float>(7, 1.0f)), recmix::invalid_argument);
  std::vector<float> bad = codes;
  bad[3] = 1.5f;
  CHECK_THROWS_AS(seg.fit(popularity_events(), bad), recmix::invalid_argument);
  bad[3] = kInf;
  CHECK_THROWS_AS(seg.fit(popularity_events(), bad), recmix::invalid_argument);
  CHECK_FALSE(seg.is_fitted());  // failed fits leave the model alone
  seg.fit(popularity_events(), codes);
  RowMatrixXf wrong(1, 4);
  CHECK_THROWS_AS(seg.score(batch, wrong), recmix::invalid_argument);
  RowMatrixXf narrow = RowMatrixXf::Zero(1, 2);  // column 2 missing
  UserBatch narrow_batch(users, nullptr, recmix::HistoryRows::aligned, narrow);
  CHECK_THROWS_AS(seg.score(narrow_batch, out), recmix::invalid_argument);
  std::vector<std::uint8_t> mask(2);
  CHECK_THROWS_AS(seg.can_score(batch, mask), recmix::invalid_argument);
}

TEST_CASE("blend: popularity save/load round trip and corrupted files") {
  recmix::test::TempDir dir;
  const std::vector<float> codes = {10, 10, 10, 20, 20, 20, 30, kNaN};
  PopularityRecommender pop({.segment_feature = 0, .min_segment_users = 2, .smoothing = 1});
  pop.fit(popularity_events(), codes);
  RowMatrixXf f(3, 1);
  f << 10, 20, 30;
  const std::vector<Index> users(3, recmix::kNewUser);
  UserBatch batch(users, nullptr, recmix::HistoryRows::aligned, f);
  for (auto format : {recmix::ArchiveFormat::binary, recmix::ArchiveFormat::text, recmix::ArchiveFormat::xml}) {
    recmix::save(pop, dir / "pop.model", {.format = format});
    PopularityRecommender back;
    recmix::load(back, dir / "pop.model");
    CHECK(scores_of(back, batch) == scores_of(pop, batch));
    CHECK(back.options().smoothing == 1.0);
    CHECK(back.segment_codes() == pop.segment_codes());
  }
  PopularityRecommender empty;
  CHECK_THROWS_AS(recmix::save(empty, dir / "x.model"), recmix::not_fitted);
}

// ---- HybridBlender: fusion ---------------------------------------------------------------------

TEST_CASE("blend: a blend of one component ranks like it, and with Normalization::none scores exactly like it") {
  Fixture fx;
  const auto users = iota_users(fx.n_users);
  UserBatch batch(users, &fx.train, recmix::HistoryRows::by_user_id);
  HybridBlender same({.normalization = {Normalization::none}}, fx.als);
  static_assert(recmix::Recommender<decltype(same)>);
  CHECK(scores_of(same, batch) == scores_of(fx.als, batch));
  HybridBlender ranked({}, fx.als);
  CHECK(ranked.normalization() == std::vector<Normalization>{Normalization::rank});
  CHECK(ranked.names() == std::vector<std::string>{"implicit_als"});
  const auto a = recmix::recommend(fx.als, batch, 5);
  const auto b = recmix::recommend(ranked, batch, 5);
  CHECK(a.items == b.items);
  const auto ea = recmix::metrics::evaluate(fx.als, batch, fx.truth, {Metric::ndcg, Metric::map}, {3, 7});
  const auto eb = recmix::metrics::evaluate(ranked, batch, fx.truth, {Metric::ndcg, Metric::map}, {3, 7});
  CHECK(ea.at(Metric::map, 7) == eb.at(Metric::map, 7));
  CHECK(ea.at(Metric::ndcg, 3) == eb.at(Metric::ndcg, 3));
}

TEST_CASE("blend: two components fuse to the hand-computed weighted sum of their normalised rows") {
  RowMatrixXf ta(2, 3), tb(2, 3);
  ta << 1, 2, 3,  //
      5, 5, 9;
  tb << 10, 30, 20,  //
      -1, 0, 1;
  HybridBlender blend({.weights = {3, 1}, .normalization = {Normalization::rank, Normalization::min_max}, .names = {"a", "b"}},
                      table_model(ta), table_model(tb));
  CHECK(blend.weights() == std::vector<double>{0.75, 0.25});
  const auto users = iota_users(2);
  UserBatch batch(users);
  const RowMatrixXf s = scores_of(blend, batch);
  // Row 0: rank(a) = 0, .5, 1; minmax(b) = 0, 1, .5.
  check_row(s.row(0), {0.0, 0.75 * 0.5 + 0.25 * 1.0, 0.75 * 1.0 + 0.25 * 0.5});
  // Row 1: rank(a) = .25, .25, 1 (ties at positions 0 and 1); minmax(b) = 0, .5, 1.
  check_row(s.row(1), {0.75 * 0.25, 0.75 * 0.25 + 0.25 * 0.5, 1.0});

  // z-score on a, none on b, equal weights.
  HybridBlender zb({.normalization = {Normalization::z_score, Normalization::none}}, table_model(ta), table_model(tb));
  const RowMatrixXf z = scores_of(zb, batch);
  const double sd = std::sqrt(2.0 / 3.0);
  check_row(z.row(0), {0.5 * (-1 / sd) + 0.5 * 10, 0.5 * 0 + 0.5 * 30, 0.5 * (1 / sd) + 0.5 * 20});

  // The per-component scores as they enter the blend.
  const auto ca = blend.component_scores(batch, 0);
  check_row(ca.scores.row(1), {0.25, 0.25, 1.0});
  CHECK(ca.known == std::vector<std::uint8_t>{1, 1});
}

TEST_CASE("blend: fallback: a user a component cannot score gets the others' fusion with renormalised weights") {
  RowMatrixXf ta(3, 4), tb(3, 4), tc(3, 4);
  ta << 4, 3, 2, 1,  //
      1, 2, 3, 4,    //
      9, 9, 9, 9;
  tb << 1, 2, 3, 4,  //
      4, 1, 2, 3,    //
      0, 1, 0, 1;
  tc << 2, 4, 1, 3,  //
      3, 3, 1, 2,    //
      5, 6, 7, 8;
  // a cannot score user 1; b cannot score user 2 (their rows would be NaN).
  auto a = table_model(ta, {1, 0, 1});
  auto b = table_model(tb, {1, 1, 0});
  auto c = table_model(tc);
  HybridBlender blend({.weights = {0.5, 0.3, 0.2}, .normalization = {Normalization::min_max}}, a, b, c);
  const auto users = iota_users(3);
  UserBatch batch(users);
  const RowMatrixXf s = scores_of(blend, batch);
  CHECK(mask_of(blend, batch) == std::vector<std::uint8_t>{1, 1, 1});
  // User 1: a drops out; b and c weigh 0.3/0.5 and 0.2/0.5.
  // minmax(b) = 1, 0, 1/3, 2/3; minmax(c) = 1, 1, 0, 0.5.
  check_row(s.row(1), {0.6 * 1 + 0.4 * 1, 0.6 * 0 + 0.4 * 1, 0.6 / 3, 0.6 * 2 / 3 + 0.4 * 0.5});
  // User 2: b drops out; a is constant (0.5 everywhere) at 0.5/0.7, c = 0, 1/3, 2/3, 1 at 0.2/0.7.
  const double wa = 0.5 / 0.7, wc = 0.2 / 0.7;
  check_row(s.row(2), {wa * 0.5, wa * 0.5 + wc / 3, wa * 0.5 + wc * 2 / 3, wa * 0.5 + wc});

  // With only one component left the row is exactly that component's normalised row.
  HybridBlender pair({.weights = {0.9, 0.1}, .normalization = {Normalization::rank}}, a, c);
  const RowMatrixXf p = scores_of(pair, batch);
  HybridBlender c_alone({.normalization = {Normalization::rank}}, c);
  CHECK(p.row(1) == scores_of(c_alone, batch).row(1));

  // A real model: ALS cannot score a new user without history; the cluster model can.
  Fixture fx;
  const std::vector<Index> mixed = {0, recmix::kNewUser, 5};
  const InteractionMatrix hist = fx.train.select_rows(std::vector<Index>{0, 1, 5});
  // Row 1 (new user) has no history: drop it from the aligned history.
  std::vector<Index> hu, hi;
  std::vector<float> hw;
  for (Index r : {0, 2}) {
    for (Index i : hist.row(r).indices) {
      hu.push_back(r);
      hi.push_back(i);
      hw.push_back(1.0f);
    }
  }
  const InteractionMatrix history = InteractionMatrix::from_triplets(3, fx.n_items, hu, hi, hw);
  RowMatrixXf f(3, 3);
  f.row(0) = fx.features.row(0);
  f.row(1) = fx.features.row(1);
  f.row(2) = fx.features.row(5);
  UserBatch cold(mixed, &history, recmix::HistoryRows::aligned, f);
  CHECK(mask_of(fx.als, cold) == std::vector<std::uint8_t>{1, 0, 1});
  HybridBlender real({.weights = {0.7, 0.3}}, fx.als, fx.clusters);
  const RowMatrixXf rs = scores_of(real, cold);
  HybridBlender clusters_alone({}, fx.clusters);
  CHECK(rs.row(1) == scores_of(clusters_alone, cold).row(1));
  CHECK(mask_of(real, cold) == std::vector<std::uint8_t>{1, 1, 1});
}

TEST_CASE("blend: a row no component can score is 0, can_score 0, and recommend pads it") {
  RowMatrixXf ta = RowMatrixXf::Constant(2, 3, 1.0f), tb = RowMatrixXf::Constant(2, 3, 2.0f);
  ta(0, 1) = 5;
  HybridBlender blend({}, table_model(ta, {1, 0}), table_model(tb, {0, 0}));
  const auto users = iota_users(2);
  UserBatch batch(users);
  CHECK(mask_of(blend, batch) == std::vector<std::uint8_t>{1, 0});
  const RowMatrixXf s = scores_of(blend, batch);
  CHECK(s.row(1).isZero());
  const auto top = recmix::recommend(blend, batch, 2);
  CHECK(top.items(0, 0) == 1);
  CHECK(top.items(1, 0) == -1);
  CHECK(top.items(1, 1) == -1);
  CHECK(std::isnan(top.scores(1, 0)));
}

TEST_CASE("blend: a component of weight 0 is off: never scored, its can_score not consulted") {
  RowMatrixXf ta(1, 3), tb(1, 3);
  ta << 1, 2, 3;
  tb << 3, 2, 1;
  HybridBlender blend({.weights = {1, 0}}, table_model(ta, {0}), table_model(tb));
  const auto users = iota_users(1);
  UserBatch batch(users);
  CHECK(mask_of(blend, batch) == std::vector<std::uint8_t>{0});
  blend.set_weights({1, 1});
  CHECK(mask_of(blend, batch) == std::vector<std::uint8_t>{1});
  check_row(scores_of(blend, batch), {1.0, 0.5, 0.0});
}

TEST_CASE("blend: nested blends: a blend is a component like any other") {
  RowMatrixXf ta(2, 3), tb(2, 3), tc(2, 3);
  ta << 1, 2, 3, 3, 2, 1;
  tb << 2, 1, 3, 1, 3, 2;
  tc << 3, 1, 2, 2, 1, 3;
  HybridBlender inner({.weights = {0.5, 0.5}, .normalization = {Normalization::rank}}, table_model(ta, {1, 0}), table_model(tb, {1, 0}));
  HybridBlender outer({.weights = {0.6, 0.4}, .normalization = {Normalization::none}}, inner, table_model(tc));
  static_assert(recmix::Recommender<decltype(outer)>);
  const auto users = iota_users(2);
  UserBatch batch(users);
  const RowMatrixXf s = scores_of(outer, batch);
  // Row 0: inner = mean of rank(a) = 0, .5, 1 and rank(b) = .5, 0, 1 -> .25, .25, 1; c raw.
  check_row(s.row(0), {0.6 * 0.25 + 0.4 * 3, 0.6 * 0.25 + 0.4 * 1, 0.6 * 1 + 0.4 * 2});
  // Row 1: the inner blend cannot score it; c alone.
  check_row(s.row(1), {2, 1, 3});
  CHECK(mask_of(outer, batch) == std::vector<std::uint8_t>{1, 1});
  CHECK(outer.component<0>().weights() == std::vector<double>{0.5, 0.5});
  CHECK(outer.names() == std::vector<std::string>{"hybrid_blender", "component"});
}

// ---- tuning -------------------------------------------------------------------------------------

TEST_CASE("blend: tune_weights puts the weight on a perfect component over noise") {
  const Index n = 60, items = 8;
  const InteractionMatrix truth = recmix::test::random_matrix(n, items, 0.3, 21);
  RowMatrixXf perfect = RowMatrixXf::Zero(n, items);
  for (Index u = 0; u < n; ++u) {
    const recmix::SparseRow t = truth.row(u);
    for (std::size_t j = 0; j < t.size(); ++j) perfect(u, t.indices[j]) = t.values[j];  // graded gains: order by gain
    for (Index i = 0; i < items; ++i) perfect(u, i) += 0.001f * static_cast<float>(i);  // no ties
  }
  const RowMatrixXf noise = random_table(n, items, 22);
  HybridBlender blend({.names = {"noise", "perfect"}}, table_model(noise), table_model(perfect));
  const auto users = iota_users(n);
  UserBatch batch(users);
  const auto report = blend.tune_weights(batch, truth, Metric::ndcg, 3);
  CHECK(report.weights_before == std::vector<double>{0.5, 0.5});
  CHECK(report.metric_after >= report.metric_before);
  CHECK(report.metric_after == doctest::Approx(1.0));
  CHECK(report.weights_after[1] >= 0.8);
  CHECK(report.weights_after[0] + report.weights_after[1] == doctest::Approx(1.0));
  CHECK(blend.weights() == report.weights_after);
  CHECK(report.evaluations > 10);
  CHECK(report.users <= n);
  CHECK(report.table().find("perfect") != std::string::npos);
  // The reported metric is what evaluate says of the tuned blend.
  const auto ev = recmix::metrics::evaluate(blend, batch, truth, {Metric::ndcg}, {3}, {.exclude_history = true});
  CHECK(ev.at(Metric::ndcg, 3) == doctest::Approx(report.metric_after).epsilon(1e-12));
}

TEST_CASE("blend: tune_weights on fitted models improves (>=) the metric and matches evaluate, for every averaging") {
  Fixture fx;
  const auto users = iota_users(fx.n_users);
  // Validation rows in reverse order and truth by user id; history by user id.
  std::vector<Index> rev(users.rbegin(), users.rend());
  RowMatrixXf rev_features(fx.n_users, 3);
  for (Index r = 0; r < fx.n_users; ++r) rev_features.row(r) = fx.features.row(rev[static_cast<std::size_t>(r)]);
  UserBatch batch(rev, &fx.train, recmix::HistoryRows::by_user_id, rev_features);
  for (auto averaging : {recmix::metrics::UserAveraging::with_relevant, recmix::metrics::UserAveraging::all_users}) {
    for (Metric metric : {Metric::map, Metric::auc}) {
      HybridBlender blend({.weights = {0.2, 0.3, 0.5}}, fx.als, fx.clusters, fx.popular);
      const recmix::metrics::EvaluateOptions eo{.ranking = {.users = averaging}, .truth_rows = recmix::HistoryRows::by_user_id};
      const double before = recmix::metrics::evaluate(blend, batch, fx.truth, {metric}, {5}, eo).at(metric, metric == Metric::auc ? 0 : 5);
      const auto report = blend.tune_weights(batch, fx.truth, metric, 5,
                                             {.ranking = {.users = averaging}, .truth_rows = recmix::HistoryRows::by_user_id});
      CHECK(report.metric_before == doctest::Approx(before).epsilon(1e-9));
      CHECK(report.metric_after >= report.metric_before);
      const double after = recmix::metrics::evaluate(blend, batch, fx.truth, {metric}, {5}, eo).at(metric, metric == Metric::auc ? 0 : 5);
      CHECK(report.metric_after == doctest::Approx(after).epsilon(1e-9));
      double sum = 0;
      for (double w : report.weights_after) {
        CHECK(w >= 0.0);
        sum += w;
      }
      CHECK(sum == doctest::Approx(1.0));
    }
  }
}

TEST_CASE("blend: results are identical for 1 and 2 threads") {
  Fixture fx;
  const auto users = iota_users(fx.n_users);
  UserBatch batch(users, &fx.train, recmix::HistoryRows::by_user_id, fx.features);
  HybridBlender one({.weights = {0.2, 0.3, 0.5}, .block_users = 16, .threads = 1}, fx.als, fx.clusters, fx.popular);
  HybridBlender two({.weights = {0.2, 0.3, 0.5}, .block_users = 16, .threads = 2}, fx.als, fx.clusters, fx.popular);
  CHECK(scores_of(one, batch) == scores_of(two, batch));
  const auto r1 = one.tune_weights(batch, fx.truth, Metric::ndcg, 5, {.truth_rows = recmix::HistoryRows::by_user_id});
  const auto r2 = two.tune_weights(batch, fx.truth, Metric::ndcg, 5, {.truth_rows = recmix::HistoryRows::by_user_id});
  CHECK(r1.weights_after == r2.weights_after);
  CHECK(r1.metric_after == r2.metric_after);
  CHECK(r1.evaluations == r2.evaluations);
  CHECK(scores_of(one, batch) == scores_of(two, batch));
  // Automatic block size (one block here) gives the same scores as 16-row blocks for these models.
  HybridBlender automatic({.weights = one.weights()}, fx.als, fx.clusters, fx.popular);
  CHECK(scores_of(automatic, batch).isApprox(scores_of(one, batch)));
}

// ---- errors -------------------------------------------------------------------------------------

TEST_CASE("blend: constructor, set_weights, score and can_score throw paths") {
  const RowMatrixXf t3 = RowMatrixXf::Ones(2, 3), t4 = RowMatrixXf::Ones(2, 4);
  using recmix::blend::BlendOptions;
  try {
    HybridBlender bad({.names = {"left", "right"}}, table_model(t3), table_model(t4));
    FAIL("no throw");
  } catch (const recmix::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("'left' has 3") != std::string::npos);
    CHECK(what.find("'right' has 4") != std::string::npos);
  }
  const auto a = table_model(t3), b = table_model(t3);
  auto make = [&](const BlendOptions& o) { return HybridBlender(o, a, b); };
  CHECK_THROWS_AS(make({.weights = {1}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.weights = {1, 1, 1}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.weights = {1, -0.5}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.weights = {1, std::nan("")}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.weights = {1, std::numeric_limits<double>::infinity()}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.weights = {0, 0}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.normalization = {Normalization::rank, Normalization::rank, Normalization::rank}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.normalization = {static_cast<Normalization>(7)}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.names = {"only one"}}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.block_users = -1}), recmix::invalid_argument);
  CHECK_THROWS_AS(make({.threads = -1}), recmix::invalid_argument);
  CHECK(make({.names = {}}).names() == std::vector<std::string>{"component", "component_1"});

  auto blend = make({});
  CHECK_THROWS_AS(blend.set_weights({1, -1}), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.set_weights({0, 0}), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.set_weights({1}), recmix::invalid_argument);
  CHECK(blend.weights() == std::vector<double>{0.5, 0.5});  // untouched by the failed calls

  const auto users = iota_users(2);
  UserBatch batch(users);
  RowMatrixXf wrong_cols(2, 4), wrong_rows(3, 3);
  CHECK_THROWS_AS(blend.score(batch, wrong_cols), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.score(batch, wrong_rows), recmix::invalid_argument);
  std::vector<std::uint8_t> mask(3);
  CHECK_THROWS_AS(blend.can_score(batch, mask), recmix::invalid_argument);

  // A component that scores NaN or +inf for a row it says it can score.
  RowMatrixXf broken = RowMatrixXf::Ones(2, 3);
  broken(1, 2) = kNaN;
  HybridBlender with_nan({}, table_model(broken), table_model(t3));
  RowMatrixXf out(2, 3);
  CHECK_THROWS_AS(with_nan.score(batch, out), recmix::invalid_argument);
  broken(1, 2) = kInf;
  HybridBlender with_inf({}, table_model(broken), table_model(t3));
  CHECK_THROWS_AS(with_inf.score(batch, out), recmix::invalid_argument);
  // -inf is allowed and stays -inf.
  broken(1, 2) = -kInf;
  HybridBlender with_neg_inf({}, table_model(broken), table_model(t3));
  with_neg_inf.score(batch, out);
  CHECK(out(1, 2) == -kInf);

  // An empty blender (for load) refuses to work.
  HybridBlender<TableModel, TableModel> empty;
  CHECK_FALSE(empty.is_fitted());
  CHECK_THROWS_AS(empty.score(batch, out), recmix::not_fitted);
  CHECK_THROWS_AS(empty.can_score(batch, mask), recmix::not_fitted);
}

TEST_CASE("blend: tune_weights throw paths leave the weights alone") {
  const Index n = 4;
  const RowMatrixXf t = random_table(n, 3, 5);
  HybridBlender blend({.weights = {1, 3}}, table_model(t), table_model(t));
  const auto users = iota_users(n);
  UserBatch batch(users);
  const InteractionMatrix truth = recmix::test::random_matrix(n, 3, 0.5, 6);
  const InteractionMatrix wrong_items = recmix::test::random_matrix(n, 4, 0.5, 6);
  const InteractionMatrix wrong_rows = recmix::test::random_matrix(n + 1, 3, 0.5, 6);
  const InteractionMatrix empty_truth(n, 3);
  CHECK_THROWS_AS(blend.tune_weights(batch, wrong_items, Metric::map, 3), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, wrong_rows, Metric::map, 3), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, empty_truth, Metric::map, 3), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, truth, Metric::coverage, 3), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, truth, Metric::map, 0), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, truth, Metric::map, 3, {.grid_steps = -1}), recmix::invalid_argument);
  CHECK_THROWS_AS(blend.tune_weights(batch, truth, Metric::map, 3, {.refine_halvings = 31}), recmix::invalid_argument);
  std::vector<Index> far = {0, 1, 2, 9};  // user 9 has no truth row
  UserBatch far_batch(far);
  CHECK_THROWS_AS(blend.tune_weights(far_batch, truth, Metric::map, 3, {.truth_rows = recmix::HistoryRows::by_user_id}),
                  recmix::invalid_argument);
  CHECK(blend.weights() == std::vector<double>{0.25, 0.75});
}

// ---- save / load ----------------------------------------------------------------------------------

namespace {

/// Writes the same fields as HybridBlender<Pop, Pop>::serialize, with two popularity models of
/// different catalogues (which a constructor would refuse).
struct FakeBlend {
  using scalar_type = float;
  static constexpr const char* kModelKind = "hybrid_blender";
  static constexpr unsigned kFormatVersion = 1;
  PopularityRecommender a, b;
  [[nodiscard]] bool is_fitted() const { return true; }
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    std::uint64_t count = 2;
    std::vector<double> weights = {0.5, 0.5};
    std::vector<int> normalization = {1, 1};
    std::vector<std::string> names = {"a", "b"};
    Index block_users = 0;
    int threads = 0;
    std::string kind = "popularity";
    archive_field(ar, "components", count);
    archive_field(ar, "weights", weights);
    archive_field(ar, "normalization", normalization);
    archive_field(ar, "names", names);
    archive_field(ar, "block_users", block_users);
    archive_field(ar, "threads", threads);
    archive_field(ar, "kind", kind);
    archive_field(ar, "component", a);
    archive_field(ar, "kind", kind);
    archive_field(ar, "component", b);
  }
};

}  // namespace

TEST_CASE("blend: save/load round trip gives identical scores; bad files throw model_format_error and leave the blender alone") {
  Fixture fx;
  recmix::test::TempDir dir;
  const auto users = iota_users(fx.n_users);
  UserBatch batch(users, &fx.train, recmix::HistoryRows::by_user_id, fx.features);
  HybridBlender blend({.weights = {0.2, 0.3, 0.5},
                       .normalization = {Normalization::rank, Normalization::z_score, Normalization::min_max},
                       .names = {"als", "clusters", "popular"}},
                      fx.als, fx.clusters, fx.popular);
  using Blend = decltype(blend);
  static_assert(recmix::SerializableModel<Blend>);
  const RowMatrixXf expected = scores_of(blend, batch);
  for (auto format : {recmix::ArchiveFormat::binary, recmix::ArchiveFormat::text, recmix::ArchiveFormat::xml}) {
    recmix::save(blend, dir / "blend.model", {.format = format});
    Blend back;
    recmix::load(back, dir / "blend.model");
    CHECK(back.is_fitted());
    CHECK(scores_of(back, batch) == expected);
    CHECK(back.weights() == blend.weights());
    CHECK(back.names() == blend.names());
    CHECK(back.normalization() == blend.normalization());
  }

  // A foreign file: an ALS model.
  recmix::save(fx.als, dir / "als.model");
  Blend target = blend;
  target.set_weights({1, 1, 1});
  const RowMatrixXf target_scores = scores_of(target, batch);
  CHECK_THROWS_AS(recmix::load(target, dir / "als.model"), recmix::model_format_error);
  // Truncated.
  recmix::save(blend, dir / "blend.model");
  {
    std::ifstream in(dir / "blend.model", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(dir / "short.model", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  CHECK_THROWS_AS(recmix::load(target, dir / "short.model"), recmix::model_format_error);
  // Other component types, or another count of them.
  HybridBlender swapped({}, fx.popular, fx.als, fx.clusters);
  recmix::save(swapped, dir / "swapped.model");
  CHECK_THROWS_AS(recmix::load(target, dir / "swapped.model"), recmix::model_format_error);
  HybridBlender pair({}, fx.als, fx.clusters);
  recmix::save(pair, dir / "pair.model");
  CHECK_THROWS_AS(recmix::load(target, dir / "pair.model"), recmix::model_format_error);
  CHECK(scores_of(target, batch) == target_scores);
  CHECK(target.weights() == std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3});

  // Components that disagree on the number of items.
  FakeBlend fake;
  fake.a.fit(recmix::test::random_matrix(10, 3, 0.5, 1));
  fake.b.fit(recmix::test::random_matrix(10, 4, 0.5, 2));
  recmix::save(fake, dir / "fake.model", {.format = recmix::ArchiveFormat::text});
  HybridBlender<PopularityRecommender, PopularityRecommender> pops;
  try {
    recmix::load(pops, dir / "fake.model");
    FAIL("no throw");
  } catch (const recmix::model_format_error& e) {
    CHECK(std::string(e.what()).find("disagree on the number of items") != std::string::npos);
  }
  CHECK_FALSE(pops.is_fitted());
  // The same fake with matching catalogues loads.
  fake.b.fit(recmix::test::random_matrix(10, 3, 0.5, 2));
  recmix::save(fake, dir / "fake.model", {.format = recmix::ArchiveFormat::text});
  recmix::load(pops, dir / "fake.model");
  CHECK(pops.names() == std::vector<std::string>{"a", "b"});
}

// ---- runtime-configured blend -----------------------------------------------------------------

TEST_CASE("blend: DynamicBlender over AnyRecommender matches the HybridBlender of the same components") {
  Fixture fx;
  const auto users = iota_users(fx.n_users);
  UserBatch batch(users, &fx.train, recmix::HistoryRows::by_user_id, fx.features);
  std::vector<AnyRecommender> parts;
  for (const std::string name : {"als", "clusters", "popular"}) {
    if (name == "als") parts.emplace_back(fx.als);
    if (name == "clusters") parts.emplace_back(fx.clusters);
    if (name == "popular") parts.emplace_back(fx.popular);
  }
  CHECK(parts[1].kind() == "cluster_recommender");
  CHECK(parts[2].target<PopularityRecommender>() != nullptr);
  CHECK(parts[2].target<recmix::cluster::ClusterRecommender>() == nullptr);
  DynamicBlender dynamic({.weights = {0.2, 0.3, 0.5}}, parts);
  HybridBlender fixed({.weights = {0.2, 0.3, 0.5}}, fx.als, fx.clusters, fx.popular);
  CHECK(dynamic.names() == fixed.names());
  CHECK(scores_of(dynamic, batch) == scores_of(fixed, batch));
  CHECK(mask_of(dynamic, batch) == mask_of(fixed, batch));
  const recmix::blend::TuneOptions to{.truth_rows = recmix::HistoryRows::by_user_id};
  const auto rd = dynamic.tune_weights(batch, fx.truth, Metric::map, 5, to);
  const auto rf = fixed.tune_weights(batch, fx.truth, Metric::map, 5, to);
  CHECK(rd.weights_after == rf.weights_after);
  CHECK(rd.metric_after == rf.metric_after);
  // Nested the other way round: a HybridBlender inside a DynamicBlender.
  DynamicBlender nested({}, {AnyRecommender(fixed), AnyRecommender(fx.popular)});
  CHECK(nested.num_items() == fx.n_items);

  CHECK_THROWS_AS(DynamicBlender({}, {}), recmix::invalid_argument);
  CHECK_THROWS_AS(DynamicBlender({}, {AnyRecommender()}), recmix::invalid_argument);
  PopularityRecommender other;
  other.fit(recmix::test::random_matrix(5, 3, 0.5, 1));
  CHECK_THROWS_AS(DynamicBlender({}, {AnyRecommender(fx.als), AnyRecommender(other)}), recmix::invalid_argument);
  AnyRecommender none;
  RowMatrixXf out(1, 1);
  CHECK_THROWS_AS(none.score(batch, out), recmix::not_fitted);
}
