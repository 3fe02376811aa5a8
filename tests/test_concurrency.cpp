// Concurrency tests. One fitted model is shared by several std::threads that score it at the
// same time (each thread repeating the same calls, some with OpenMP teams of their own inside),
// and every thread must get, bit for bit, what one thread computed before the others started:
// ImplicitALS, KMeans and ClusterRecommender, MultiLabelGBDT and ClassifierRecommender,
// HybridBlender (ALS + popularity) and metrics::evaluate. Independent fits running at the same
// time must give the model a lone fit gives. Last, fits are compared on 1 and 2 threads where the
// documentation promises identical results (docs/als.md, kmeans.md, gbdt.md, metrics.md,
// blend.md). scripts/tsan.sh runs this file under ThreadSanitizer.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/als/implicit_als.hpp>
#include <recmix/blend/hybrid_blender.hpp>
#include <recmix/blend/popularity.hpp>
#include <recmix/cluster/cluster_recommender.hpp>
#include <recmix/cluster/kmeans.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/metrics/evaluate.hpp>
#include <recmix/metrics/ranking.hpp>
#include <recmix/trees/classifier_recommender.hpp>
#include <recmix/trees/multilabel_gbdt.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <latch>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

using recmix::HistoryRows;
using recmix::Index;
using recmix::InteractionMatrix;
using recmix::Recommendations;
using recmix::RowMatrix;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::blend::HybridBlender;
using recmix::blend::Normalization;
using recmix::blend::PopularityRecommender;
using recmix::cluster::ClusterRecommender;
using recmix::cluster::KMeans;
using recmix::cluster::KMeansAlgorithm;
using recmix::metrics::Evaluation;
using recmix::metrics::Metric;
using recmix::trees::ClassifierRecommender;
using recmix::trees::MultiLabelGBDT;
using recmix::trees::MultiLabelMode;

namespace {

/// std::threads sharing one model.
constexpr int kThreads = 4;
/// Times each of them repeats its calls.
constexpr int kRounds = 3;

// ---- running on several threads ------------------------------------------------------------

/// Runs work(t) on kThreads std::threads released together. Returns one string per thread:
/// empty when its work found nothing wrong, else what (a thrown exception included). doctest's
/// assertions stay on the main thread.
std::vector<std::string> on_threads(const std::function<std::string(int)>& work) {
  std::vector<std::string> out(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> pool;
  pool.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      try {
        out[static_cast<std::size_t>(t)] = work(t);
      } catch (const std::exception& e) {
        out[static_cast<std::size_t>(t)] = std::string("threw: ") + e.what();
      } catch (...) {
        out[static_cast<std::size_t>(t)] = "threw a non-standard exception";
      }
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

void check_all_threads(const std::vector<std::string>& problems) {
  for (std::size_t t = 0; t < problems.size(); ++t) {
    CAPTURE(t);
    CHECK_MESSAGE(problems[t].empty(), problems[t]);
  }
}

/// Collects the names of the comparisons that failed on one thread.
class Mismatches {
 public:
  void expect(bool same, int round, const char* what) {
    if (same) return;
    if (!text_.empty()) text_ += "; ";
    text_ += std::string(what) + " differs in round " + std::to_string(round);
  }
  [[nodiscard]] std::string str() const { return text_; }

 private:
  std::string text_;
};

/// OpenMP threads a std::thread asks for inside the library: 1 on even threads, 2 on odd ones
/// (the results may not depend on it).
int inner_threads(int t) { return 1 + t % 2; }

// ---- bit-for-bit comparisons -----------------------------------------------------------------

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  static_assert(sizeof(typename A::Scalar) == sizeof(typename B::Scalar));
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(typename A::Scalar)) == 0);
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same_bits(const Recommendations& a, const Recommendations& b) { return same_bits(a.items, b.items) && same_bits(a.scores, b.scores); }

bool same_bits(const Evaluation& a, const Evaluation& b) {
  if (a.values.size() != b.values.size() || a.users != b.users || a.users_with_relevant != b.users_with_relevant) return false;
  for (std::size_t v = 0; v < a.values.size(); ++v) {
    const auto &x = a.values[v], &y = b.values[v];
    if (x.metric != y.metric || x.k != y.k || x.users != y.users || !same_double(x.mean, y.mean)) return false;
  }
  return same_bits(a.per_user, b.per_user);
}

bool same_tree(const recmix::trees::Tree& a, const recmix::trees::Tree& b) {
  if (a.label_begin() != b.label_begin() || a.width() != b.width() || a.round() != b.round() || a.nodes().size() != b.nodes().size() ||
      a.leaf_values().size() != b.leaf_values().size()) {
    return false;
  }
  for (std::size_t k = 0; k < a.nodes().size(); ++k) {
    const auto &x = a.nodes()[k], &y = b.nodes()[k];
    if (x.left != y.left || x.right != y.right || x.feature != y.feature || x.value != y.value || x.default_left != y.default_left ||
        x.categorical != y.categorical || std::memcmp(&x.gain, &y.gain, sizeof x.gain) != 0) {
      return false;
    }
    if (x.categorical != 0) {
      for (unsigned bin = 0; bin < 256; ++bin) {
        if (a.category_goes_left(x, static_cast<std::uint8_t>(bin)) != b.category_goes_left(y, static_cast<std::uint8_t>(bin))) return false;
      }
    }
  }
  return a.leaf_values().empty() ||
         std::memcmp(a.leaf_values().data(), b.leaf_values().data(), a.leaf_values().size() * sizeof(float)) == 0;
}

bool same_trees(const MultiLabelGBDT& a, const MultiLabelGBDT& b) {
  if (a.trees().size() != b.trees().size() || a.base_margin() != b.base_margin()) return false;
  for (std::size_t t = 0; t < a.trees().size(); ++t) {
    if (!same_tree(a.trees()[t], b.trees()[t])) return false;
  }
  return true;
}

// ---- data and models ---------------------------------------------------------------------------

constexpr Index kUsers = 2600;  // two evaluation blocks of 2,048 users, three GBDT prediction blocks
constexpr Index kItems = 48;
constexpr Index kLabels = 5;
constexpr Index kSegments = 5;

/// users x 4 features: column 0 a segment code (0..4), columns 1..3 a mixture of 6 blobs.
RowMatrixXf make_features(Index n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> blob(0, 5);
  std::normal_distribution<float> noise(0.0f, 0.4f);
  RowMatrixXf f(n, 4);
  for (Index u = 0; u < n; ++u) {
    const int b = blob(rng);
    f(u, 0) = static_cast<float>(u % kSegments);
    for (Index j = 1; j < 4; ++j) f(u, j) = static_cast<float>((b * (j + 1)) % 5) + noise(rng);
  }
  return f;
}

/// n x kLabels of 0/1 that depend on the features (with noise), so the trees learn splits.
RowMatrixXf make_labels(const RowMatrixXf& f, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution flip(0.1);
  RowMatrixXf y(f.rows(), kLabels);
  for (Index u = 0; u < f.rows(); ++u) {
    for (Index l = 0; l < kLabels; ++l) {
      const bool on = f(u, 1 + l % 3) > 1.5f + 0.3f * static_cast<float>(l) || f(u, 0) == static_cast<float>(l);
      y(u, l) = (on != flip(rng)) ? 1.0f : 0.0f;
    }
  }
  return y;
}

/// The shared data, the fitted models and the batches every test case scores.
struct World {
  InteractionMatrix train = recmix::test::random_matrix(kUsers, kItems, 0.06, 21);
  InteractionMatrix truth = recmix::test::random_matrix(kUsers, kItems, 0.03, 22);
  /// The classifier's items are its labels.
  InteractionMatrix label_truth = recmix::test::random_matrix(kUsers, kLabels, 0.2, 25);
  RowMatrixXf features = make_features(kUsers, 23);
  RowMatrixXf blobs = features.rightCols(3);  // what the clustering sees
  RowMatrixXf labels = make_labels(features, 24);
  std::vector<float> segments;

  /// Every user, with every 97th row a new user (no history in by_user_id mode, so ALS cannot
  /// score it and the blend falls back to popularity).
  std::vector<Index> users;
  /// 40 new users whose history rows are the first 40 training users' (ALS folds them in).
  std::vector<Index> newcomers = std::vector<Index>(40, recmix::kNewUser);
  /// Training users 1..300, for similar_users.
  std::vector<Index> some_users = std::vector<Index>(300);
  InteractionMatrix newcomer_history;
  std::vector<Index> all_items;

  recmix::als::ImplicitALS<float> als{{.factors = 12, .iterations = 3, .threads = 2, .seed = 5}};
  KMeans<float> kmeans{{.k = 6, .seed = 3, .threads = 2}};
  ClusterRecommender clusters{{.kmeans = {.k = 6, .seed = 3, .threads = 2}}};
  MultiLabelGBDT gbdt{{.rounds = 4, .learning_rate = 0.3, .max_depth = 3, .categorical_features = {0}, .threads = 2}};
  PopularityRecommender popular{{.segment_feature = 0, .min_segment_users = 50, .smoothing = 5}};

  World() {
    for (Index u = 0; u < kUsers; ++u) segments.push_back(features(u, 0));
    for (Index r = 0; r < kUsers; ++r) users.push_back(r % 97 == 0 ? recmix::kNewUser : r);
    std::vector<Index> first(newcomers.size());
    std::iota(first.begin(), first.end(), Index{0});
    std::iota(some_users.begin(), some_users.end(), Index{1});
    newcomer_history = train.select_rows(first);
    all_items.resize(static_cast<std::size_t>(kItems));
    std::iota(all_items.begin(), all_items.end(), Index{0});
    als.fit(train);
    kmeans.fit(blobs);
    clusters.fit(blobs, train);
    gbdt.fit(features, labels);
    popular.fit(train, segments);
  }

  /// Training users with their history (held items are excluded) and all four features.
  [[nodiscard]] UserBatch batch() const { return UserBatch(users, &train, HistoryRows::by_user_id, features); }
  /// The same users with only the clustering's three features.
  [[nodiscard]] UserBatch blob_batch() const { return UserBatch(users, &train, HistoryRows::by_user_id, blobs); }

  [[nodiscard]] HybridBlender<recmix::als::ImplicitALS<float>, PopularityRecommender> blend(int threads) const {
    return HybridBlender({.weights = {0.7, 0.3},
                          .normalization = {Normalization::rank, Normalization::min_max},
                          .names = {"als", "popular"},
                          .block_users = 128,
                          .threads = threads},
                         als, popular);
  }
};

const World& world() {
  static const World w;
  return w;
}

const std::vector<Metric> kMetrics = {Metric::ndcg, Metric::map, Metric::recall, Metric::mrr, Metric::auc, Metric::coverage};
const std::vector<Index> kKs = {3, 7};

recmix::metrics::EvaluateOptions eval_options(int threads) {
  return {.truth_rows = HistoryRows::by_user_id, .per_user = true, .threads = threads};
}

template <class M>
Evaluation evaluate(const M& model, const UserBatch& batch, const InteractionMatrix& truth, int threads) {
  return recmix::metrics::evaluate(model, batch, truth, kMetrics, kKs, eval_options(threads));
}

}  // namespace

// ================================================================================================
// One model, several threads scoring it at once
// ================================================================================================

TEST_CASE("concurrency: ImplicitALS scored, recommended and queried from several threads at once") {
  const World& w = world();
  const auto& als = w.als;
  const UserBatch batch = w.batch();
  const Recommendations top = recmix::recommend(als, batch, 10, {.threads = 1});
  RowMatrixXf scores(batch.size(), als.num_items());
  als.score(batch, scores);
  const Recommendations folded = als.recommend(w.newcomers, w.newcomer_history, 10, {.threads = 1});
  const Recommendations items = als.similar_items(w.all_items, 5, {.threads = 1});
  const Recommendations user_like = als.similar_users(w.some_users, 5, {.threads = 1});
  REQUIRE(top.items(1, 0) >= 0);
  REQUIRE(top.items(0, 0) == -1);  // a new user without history: ALS has nothing to offer
  REQUIRE(folded.items(0, 0) >= 0);

  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    for (int round = 0; round < kRounds; ++round) {
      m.expect(same_bits(recmix::recommend(als, batch, 10, {.threads = inner}), top), round, "recommend");
      RowMatrixXf s(batch.size(), als.num_items());
      als.score(batch, s);
      m.expect(same_bits(s, scores), round, "score");
      m.expect(same_bits(als.recommend(w.newcomers, w.newcomer_history, 10, {.threads = inner}), folded), round, "fold-in recommend");
      m.expect(same_bits(als.similar_items(w.all_items, 5, {.threads = inner}), items), round, "similar_items");
      m.expect(same_bits(als.similar_users(w.some_users, 5, {.threads = inner}), user_like), round,
               "similar_users");
    }
    return m.str();
  }));
}

TEST_CASE("concurrency: ImplicitALS::score called directly while other threads run recommend") {
  // recommend (like evaluate and the blender) switches Eigen's own threading off while it runs
  // and back on after; a direct score() on another thread runs an Eigen product at that moment.
  // Small batches and many rounds make those switches frequent.
  const World& w = world();
  const std::vector<Index> users(w.some_users.begin(), w.some_users.begin() + 64);
  const UserBatch batch(users, &w.train, HistoryRows::by_user_id);
  RowMatrixXf scores(batch.size(), w.als.num_items());
  w.als.score(batch, scores);
  const Recommendations top = recmix::recommend(w.als, batch, 5, {.threads = 1});

  check_all_threads(on_threads([&](int t) {
    Mismatches m;
    for (int round = 0; round < 100; ++round) {
      if (t % 2 == 0) {
        m.expect(same_bits(recmix::recommend(w.als, batch, 5, {.threads = 1}), top), round, "recommend");
      } else {
        RowMatrixXf s(batch.size(), w.als.num_items());
        w.als.score(batch, s);
        m.expect(same_bits(s, scores), round, "score");
      }
    }
    return m.str();
  }));
}

TEST_CASE("concurrency: KMeans and ClusterRecommender scored from several threads at once") {
  const World& w = world();
  const std::vector<Index> labels = w.kmeans.predict(w.blobs);
  const RowMatrixXf distances = w.kmeans.transform(w.blobs);
  const UserBatch batch = w.blob_batch();
  RowMatrixXf scores(batch.size(), w.clusters.num_items());
  w.clusters.score(batch, scores);
  const Recommendations top = recmix::recommend(w.clusters, batch, 5, {.threads = 1});
  const std::vector<Index> user_clusters = w.clusters.clusters(w.blobs);
  REQUIRE(labels.size() == static_cast<std::size_t>(kUsers));

  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    for (int round = 0; round < kRounds; ++round) {
      m.expect(w.kmeans.predict(w.blobs) == labels, round, "KMeans::predict");
      m.expect(same_bits(w.kmeans.transform(w.blobs), distances), round, "KMeans::transform");
      bool rows_agree = true;
      for (Index r = t; r < kUsers; r += 37) {
        const Index got = w.kmeans.predict_row(std::span<const float>(w.blobs.row(r).data(), 3));
        rows_agree = rows_agree && got == labels[static_cast<std::size_t>(r)];
      }
      m.expect(rows_agree, round, "KMeans::predict_row");
      RowMatrixXf s(batch.size(), w.clusters.num_items());
      w.clusters.score(batch, s);
      m.expect(same_bits(s, scores), round, "ClusterRecommender::score");
      m.expect(same_bits(recmix::recommend(w.clusters, batch, 5, {.threads = inner}), top), round, "recommend(clusters)");
      m.expect(w.clusters.clusters(w.blobs) == user_clusters, round, "ClusterRecommender::clusters");
    }
    return m.str();
  }));
}

TEST_CASE("concurrency: MultiLabelGBDT and ClassifierRecommender scored from several threads at once") {
  const World& w = world();
  const RowMatrixXf proba = w.gbdt.predict_proba(w.features);
  const RowMatrixXf margin = w.gbdt.predict_margin(w.features);
  const ClassifierRecommender classifier(w.gbdt);
  const UserBatch batch = w.batch();
  RowMatrixXf scores(batch.size(), classifier.num_items());
  classifier.score(batch, scores);
  const Recommendations top = recmix::recommend(classifier, batch, 3, {.threads = 1});
  REQUIRE(w.gbdt.trees().size() == 4);
  CHECK(same_bits(scores, proba));

  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    for (int round = 0; round < kRounds; ++round) {
      m.expect(same_bits(w.gbdt.predict_proba(w.features), proba), round, "predict_proba");
      m.expect(same_bits(w.gbdt.predict_margin(w.features), margin), round, "predict_margin");
      RowMatrixXf s(batch.size(), classifier.num_items());
      classifier.score(batch, s);
      m.expect(same_bits(s, scores), round, "ClassifierRecommender::score");
      m.expect(same_bits(recmix::recommend(classifier, batch, 3, {.threads = inner}), top), round, "recommend(classifier)");
    }
    return m.str();
  }));
}

TEST_CASE("concurrency: HybridBlender (ALS + popularity) scored from several threads at once") {
  const World& w = world();
  const auto serial = w.blend(1);  // the reference, on one thread
  const auto blend = w.blend(2);   // the shared one: score() runs two OpenMP threads over blocks
  const UserBatch batch = w.batch();
  RowMatrixXf scores(batch.size(), serial.num_items());
  serial.score(batch, scores);
  std::vector<std::uint8_t> known(static_cast<std::size_t>(batch.size()));
  serial.can_score(batch, known);
  const Recommendations top = recmix::recommend(serial, batch, 7, {.threads = 1});
  const recmix::blend::ComponentScores als_part = serial.component_scores(batch, 0);
  // The new users (no history) fall back to popularity alone; everyone can be scored.
  REQUIRE(als_part.known[0] == 0);
  REQUIRE(std::all_of(known.begin(), known.end(), [](std::uint8_t k) { return k == 1; }));

  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    for (int round = 0; round < kRounds; ++round) {
      RowMatrixXf s(batch.size(), blend.num_items());
      blend.score(batch, s);
      m.expect(same_bits(s, scores), round, "HybridBlender::score");
      std::vector<std::uint8_t> k(static_cast<std::size_t>(batch.size()));
      blend.can_score(batch, k);
      m.expect(k == known, round, "HybridBlender::can_score");
      m.expect(same_bits(recmix::recommend(blend, batch, 7, {.threads = inner}), top), round, "recommend(blend)");
      const recmix::blend::ComponentScores part = blend.component_scores(batch, 0);
      m.expect(same_bits(part.scores, als_part.scores) && part.known == als_part.known, round, "component_scores");
    }
    return m.str();
  }));
}

TEST_CASE("concurrency: evaluate, evaluate_scores and evaluate_lists run from several threads at once") {
  const World& w = world();
  const UserBatch batch = w.batch();
  const ClassifierRecommender classifier(w.gbdt);
  const auto blend = w.blend(2);
  const Evaluation of_als = evaluate(w.als, batch, w.truth, 1);
  const Evaluation of_blend = evaluate(blend, batch, w.truth, 1);
  const Evaluation of_classifier = evaluate(classifier, batch, w.label_truth, 1);
  RowMatrixXf dense(batch.size(), w.als.num_items());
  w.als.score(batch, dense);
  const Evaluation of_scores = recmix::metrics::evaluate_scores(dense, w.truth, kMetrics, kKs, {.per_user = true, .threads = 1});
  const std::vector<Metric> list_metrics = {Metric::ndcg, Metric::map, Metric::precision, Metric::hit_rate, Metric::coverage};
  const Recommendations lists = recmix::recommend(w.als, batch, 7, {.threads = 1});
  const Evaluation of_lists = recmix::metrics::evaluate_lists(lists, w.truth, list_metrics, kKs, {.per_user = true, .threads = 1});
  REQUIRE(of_als.users == kUsers);
  REQUIRE(of_als.at(Metric::map, 7) > 0.0);

  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    for (int round = 0; round < kRounds; ++round) {
      m.expect(same_bits(evaluate(w.als, batch, w.truth, inner), of_als), round, "evaluate(als)");
      m.expect(same_bits(evaluate(blend, batch, w.truth, inner), of_blend), round, "evaluate(blend)");
      m.expect(same_bits(evaluate(classifier, batch, w.label_truth, inner), of_classifier), round, "evaluate(classifier)");
      m.expect(same_bits(recmix::metrics::evaluate_scores(dense, w.truth, kMetrics, kKs, {.per_user = true, .threads = inner}), of_scores),
               round, "evaluate_scores");
      m.expect(same_bits(recmix::metrics::evaluate_lists(lists, w.truth, list_metrics, kKs, {.per_user = true, .threads = inner}), of_lists),
               round, "evaluate_lists");
    }
    return m.str();
  }));
}

// ================================================================================================
// Independent fits at the same time
// ================================================================================================

TEST_CASE("concurrency: independent fits on several threads at once give the model a lone fit gives") {
  const World& w = world();
  check_all_threads(on_threads([&](int t) {
    const int inner = inner_threads(t);
    Mismatches m;
    recmix::als::ImplicitALS<float> als({.factors = 12, .iterations = 3, .threads = inner, .seed = 5});
    als.fit(w.train);
    m.expect(same_bits(als.user_factors(), w.als.user_factors()) && same_bits(als.item_factors(), w.als.item_factors()), 0,
             "ImplicitALS factors");
    KMeans<float> km({.k = 6, .seed = 3, .threads = inner});
    km.fit(w.blobs);
    m.expect(same_bits(km.centroids(), w.kmeans.centroids()) && km.labels() == w.kmeans.labels(), 0, "KMeans centroids");
    ClusterRecommender clusters({.kmeans = {.k = 6, .seed = 3, .threads = inner}});
    clusters.fit(w.blobs, w.train);
    m.expect(same_bits(clusters.table(), w.clusters.table()), 0, "ClusterRecommender table");
    MultiLabelGBDT gbdt({.rounds = 4, .learning_rate = 0.3, .max_depth = 3, .categorical_features = {0}, .threads = inner});
    gbdt.fit(w.features, w.labels);
    m.expect(same_trees(gbdt, w.gbdt), 0, "MultiLabelGBDT trees");
    PopularityRecommender popular({.segment_feature = 0, .min_segment_users = 50, .smoothing = 5});
    popular.fit(w.train, w.segments);
    m.expect(same_bits(popular.global_rates(), w.popular.global_rates()) && same_bits(popular.segment_rates(), w.popular.segment_rates()), 0,
             "popularity rates");
    return m.str();
  }));
}

// ================================================================================================
// Fits on 1 and 2 threads, where the documentation promises the same result
// ================================================================================================

TEST_CASE("determinism: ImplicitALS factors are bit-identical on 1 and 2 threads (docs/als.md)") {
  const World& w = world();
  for (const auto solver : {recmix::als::Solver::conjugate_gradient, recmix::als::Solver::cholesky}) {
    CAPTURE(static_cast<int>(solver));
    recmix::als::Options o{.factors = 12, .iterations = 3, .solver = solver, .threads = 1, .seed = 5};
    recmix::als::ImplicitALS<float> one(o);
    one.fit(w.train);
    o.threads = 2;
    recmix::als::ImplicitALS<float> two(o);
    two.fit(w.train);
    CHECK(same_bits(one.user_factors(), two.user_factors()));
    CHECK(same_bits(one.item_factors(), two.item_factors()));
  }
}

TEST_CASE("determinism: KMeans and ClusterRecommender are identical on 1 and 2 threads (docs/kmeans.md)") {
  const World& w = world();
  // 9,000 points: three blocks of 4,096, so the per-block sums are spread over both threads.
  const RowMatrixXf X = make_features(9000, 31).rightCols(3);
  for (const auto algorithm : {KMeansAlgorithm::lloyd, KMeansAlgorithm::hamerly}) {
    CAPTURE(static_cast<int>(algorithm));
    KMeans<float> one({.k = 7, .n_init = 2, .seed = 4, .algorithm = algorithm, .threads = 1});
    const auto r1 = one.fit(X);
    KMeans<float> two({.k = 7, .n_init = 2, .seed = 4, .algorithm = algorithm, .threads = 2});
    const auto r2 = two.fit(X);
    CHECK(same_bits(one.centroids(), two.centroids()));
    CHECK(one.labels() == two.labels());
    CHECK(same_double(r1.inertia, r2.inertia));
    CHECK(r1.iterations == r2.iterations);
    CHECK(r1.loss == r2.loss);
  }
  // The cluster table is summed serially from the labels: it follows the clustering.
  ClusterRecommender one({.kmeans = {.k = 6, .seed = 3, .threads = 1}});
  one.fit(w.blobs, w.train);
  CHECK(same_bits(one.table(), w.clusters.table()));  // w.clusters ran on two threads
  CHECK(one.cluster_sizes() == w.clusters.cluster_sizes());
}

TEST_CASE("determinism: MultiLabelGBDT grows identical trees on 1 and 2 threads (docs/gbdt.md)") {
  // 30,000 rows: the margin pass has more than three blocks of 8,192 rows and the root node's
  // histogram and split search run on both threads.
  const RowMatrixXf X = make_features(30000, 41);
  const RowMatrixXf Y = make_labels(X, 42);
  for (const auto mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
    CAPTURE(static_cast<int>(mode));
    MultiLabelGBDT::Options o{.rounds = 2, .learning_rate = 0.3, .max_depth = 3, .subsample = 0.9, .colsample = 0.75,
                              .categorical_features = {0}, .threads = 1, .mode = mode};
    MultiLabelGBDT one(o);
    const auto r1 = one.fit(X, Y);
    o.threads = 2;
    MultiLabelGBDT two(o);
    const auto r2 = two.fit(X, Y);
    CHECK(same_trees(one, two));
    CHECK(r1.train_loss == r2.train_loss);
    CHECK(same_bits(one.predict_margin(X), two.predict_margin(X)));
  }
}

TEST_CASE("determinism: evaluate and weight tuning do not depend on the thread count (docs/metrics.md, blend.md)") {
  const World& w = world();
  const UserBatch batch = w.batch();
  const Evaluation one = evaluate(w.als, batch, w.truth, 1);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    CHECK(same_bits(evaluate(w.als, batch, w.truth, threads), one));
  }
  auto serial = w.blend(1);
  auto parallel = w.blend(2);
  const recmix::blend::TuneOptions to{.truth_rows = HistoryRows::by_user_id, .refine_halvings = 2};
  const auto r1 = serial.tune_weights(batch, w.truth, Metric::map, 7, to);
  const auto r2 = parallel.tune_weights(batch, w.truth, Metric::map, 7, to);
  CHECK(r1.weights_after == r2.weights_after);
  CHECK(same_double(r1.metric_after, r2.metric_after));
  CHECK(r1.evaluations == r2.evaluations);
}
