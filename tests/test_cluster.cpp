// Unit tests of k-means (<recmix/cluster/kmeans.hpp>, <recmix/cluster/kmeans_kernels.hpp>) and of
// the cluster recommender built on it (<recmix/cluster/cluster_recommender.hpp>): the distance
// kernels against brute force, exact recovery of separated blobs, Hamerly against plain Lloyd,
// an independent Lloyd in double, the monotone inertia, k-means++ seeding, sample weights,
// determinism, convergence and empty clusters, prediction, every error path, save/load, and the
// cluster x item score table checked against hand-computed values.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/cluster/cluster_recommender.hpp>
#include <recmix/cluster/kmeans.hpp>
#include <recmix/cluster/kmeans_kernels.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_log.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/observer.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/io/serialization.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

using recmix::ArchiveFormat;
using recmix::Index;
using recmix::InteractionLog;
using recmix::InteractionMatrix;
using recmix::RowMatrix;
using recmix::RowMatrixXd;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::cluster::ClusterRecommender;
using recmix::cluster::KMeans;
using recmix::cluster::KMeansAlgorithm;
using recmix::cluster::KMeansInit;
using recmix::cluster::KMeansReport;
using recmix::cluster::Ownership;

static_assert(recmix::Recommender<ClusterRecommender>);
static_assert(recmix::SerializableModel<KMeans<float>>);
static_assert(recmix::SerializableModel<KMeans<double>>);
static_assert(recmix::SerializableModel<ClusterRecommender>);

namespace {

using recmix::test::TempDir;

constexpr ArchiveFormat kFormats[] = {ArchiveFormat::binary, ArchiveFormat::text, ArchiveFormat::xml};
constexpr KMeansAlgorithm kAlgorithms[] = {KMeansAlgorithm::lloyd, KMeansAlgorithm::hamerly};

std::string name_of(KMeansAlgorithm a) { return a == KMeansAlgorithm::lloyd ? "lloyd" : "hamerly"; }
std::string name_of(KMeansInit i) {
  return i == KMeansInit::kmeans_plus_plus ? "k-means++" : i == KMeansInit::random ? "random" : "given";
}
std::string name_of(ArchiveFormat f) { return recmix::detail::format_name(f); }

// ---- data ---------------------------------------------------------------------------------------

/// n points around the rows of `centres`: point i belongs to blob i % blobs (interleaved, so every
/// block of points holds every blob), with Gaussian noise of standard deviation `spread`.
template <class S>
RowMatrix<S> blobs(const RowMatrixXd& centres, Index n, double spread, std::uint64_t seed, std::vector<Index>& truth) {
  recmix::Rng rng(seed);
  const auto b = static_cast<Index>(centres.rows());
  RowMatrix<S> X(n, centres.cols());
  truth.assign(static_cast<std::size_t>(n), 0);
  for (Index i = 0; i < n; ++i) {
    truth[static_cast<std::size_t>(i)] = i % b;
    for (Index j = 0; j < X.cols(); ++j) X(i, j) = static_cast<S>(centres(i % b, j) + spread * rng.normal());
  }
  return X;
}

/// Uniform points in [lo, hi)^d.
template <class S>
RowMatrix<S> uniform_points(Index n, Index d, std::uint64_t seed, double lo = 0.0, double hi = 1.0) {
  recmix::Rng rng(seed);
  RowMatrix<S> X(n, d);
  for (Index k = 0; k < X.size(); ++k) X.data()[k] = static_cast<S>(lo + (hi - lo) * rng.uniform());
  return X;
}

/// A heavily overlapping Gaussian mixture: `groups` means uniform in [0, 4]^d, unit noise. Many
/// points sit near cluster boundaries and k-means needs many iterations.
template <class S>
RowMatrix<S> overlapping(Index n, Index d, Index groups, std::uint64_t seed) {
  recmix::Rng rng(seed);
  RowMatrixXd means(groups, d);
  for (Index k = 0; k < means.size(); ++k) means.data()[k] = 4.0 * rng.uniform();
  RowMatrix<S> X(n, d);
  for (Index i = 0; i < n; ++i) {
    const auto g = static_cast<Index>(rng.below(static_cast<std::uint64_t>(groups)));
    for (Index j = 0; j < d; ++j) X(i, j) = static_cast<S>(means(g, j) + rng.normal());
  }
  return X;
}

// ---- brute force ----------------------------------------------------------------------------------

/// ||a - b||² in double, the plain way.
template <class A, class B>
double sq_dist(const A& a, const B& b) {
  double s = 0.0;
  for (Index j = 0; j < static_cast<Index>(a.size()); ++j) {
    const double v = static_cast<double>(a(j)) - static_cast<double>(b(j));
    s += v * v;
  }
  return s;
}

/// Nearest row of C to row i of X by exact distances (ties to the lower index).
template <class SX, class SC>
Index brute_nearest(const RowMatrix<SX>& X, Index i, const RowMatrix<SC>& C) {
  Index best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (Index c = 0; c < C.rows(); ++c) {
    const double d = sq_dist(X.row(i), C.row(c));
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

/// Sum of weight x squared distance of each row to the centre of its label.
template <class SX, class SC>
double brute_inertia(const RowMatrix<SX>& X, const RowMatrix<SC>& C, const std::vector<Index>& labels,
                     const std::vector<double>& w = {}) {
  double s = 0.0;
  for (Index i = 0; i < X.rows(); ++i) {
    const double wi = w.empty() ? 1.0 : w[static_cast<std::size_t>(i)];
    s += wi * sq_dist(X.row(i), C.row(labels[static_cast<std::size_t>(i)]));
  }
  return s;
}

/// Potential of a set of centres: sum over rows of the squared distance to the nearest one.
template <class S>
double brute_potential(const RowMatrix<S>& X, const RowMatrix<S>& C) {
  double s = 0.0;
  for (Index i = 0; i < X.rows(); ++i) s += sq_dist(X.row(i), C.row(brute_nearest(X, i, C)));
  return s;
}

/// Mean of the rows of X with each label (k x d, double).
template <class S>
RowMatrixXd brute_means(const RowMatrix<S>& X, const std::vector<Index>& labels, Index k, std::vector<double>* counts = nullptr) {
  RowMatrixXd sums = RowMatrixXd::Zero(k, X.cols());
  std::vector<double> n(static_cast<std::size_t>(k), 0.0);
  for (Index i = 0; i < X.rows(); ++i) {
    const Index c = labels[static_cast<std::size_t>(i)];
    sums.row(c) += X.row(i).template cast<double>();
    n[static_cast<std::size_t>(c)] += 1.0;
  }
  for (Index c = 0; c < k; ++c) {
    if (n[static_cast<std::size_t>(c)] > 0) sums.row(c) /= n[static_cast<std::size_t>(c)];
  }
  if (counts != nullptr) *counts = n;
  return sums;
}

/// Plain Lloyd in double: assign every row to its exactly nearest centre, move every centre to
/// the mean of its rows, stop after the first pass that changes no label.
struct BruteLloyd {
  RowMatrixXd centres;
  std::vector<Index> labels;
  int passes = 0;
};

BruteLloyd brute_lloyd(const RowMatrixXd& X, const RowMatrixXd& init, int max_passes) {
  BruteLloyd r;
  r.centres = init;
  r.labels.assign(static_cast<std::size_t>(X.rows()), -1);
  for (int pass = 1; pass <= max_passes; ++pass) {
    r.passes = pass;
    bool changed = false;
    for (Index i = 0; i < X.rows(); ++i) {
      const Index c = brute_nearest(X, i, r.centres);
      changed = changed || c != r.labels[static_cast<std::size_t>(i)];
      r.labels[static_cast<std::size_t>(i)] = c;
    }
    if (!changed) break;
    std::vector<double> counts;
    const RowMatrixXd means = brute_means(X, r.labels, static_cast<Index>(init.rows()), &counts);
    for (double n : counts) REQUIRE(n > 0);  // the data of the test never empties a cluster
    r.centres = means;
  }
  return r;
}

/// Whether two labelings are the same partition up to renaming the clusters.
bool same_partition(const std::vector<Index>& a, const std::vector<Index>& b) {
  if (a.size() != b.size()) return false;
  std::vector<std::pair<Index, Index>> pairs;
  for (std::size_t i = 0; i < a.size(); ++i) pairs.emplace_back(a[i], b[i]);
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  std::set<Index> left, right;
  for (const auto& [x, y] : pairs) {
    if (!left.insert(x).second || !right.insert(y).second) return false;  // a label split or merged
  }
  return true;
}

template <class S>
bool bit_identical(const RowMatrix<S>& a, const RowMatrix<S>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::equal(a.data(), a.data() + a.size(), b.data());
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-300}); }

/// Records every callback of a fit.
class Recorder : public recmix::FitObserver {
 public:
  void on_begin(std::string_view name, int total_iterations, std::string_view how) override {
    ++begins;
    model = std::string(name);
    total = total_iterations;
    threading = std::string(how);
  }
  void on_iteration(const recmix::IterationInfo& info) override {
    iterations.push_back(info.iteration);
    losses.push_back(info.loss);
    totals.push_back(info.total);
  }
  void on_end(const recmix::FitReport& report) override {
    ++ends;
    end_iterations = report.iterations;
  }

  int begins = 0, ends = 0, total = 0, end_iterations = -1;
  std::string model, threading;
  std::vector<int> iterations, totals;
  std::vector<double> losses;
};

template <class M>
std::string save_to_string(const M& model, ArchiveFormat format) {
  std::ostringstream os(std::ios::binary);
  recmix::save(model, os, {.format = format});
  return std::move(os).str();
}

template <class M>
void load_from_string(M& model, const std::string& bytes) {
  std::istringstream is(bytes, std::ios::binary);
  recmix::load(model, is);
}

template <class S>
constexpr double scalar_eps() {
  return static_cast<double>(std::numeric_limits<S>::epsilon());
}

}  // namespace

// ================================================================================================
// Distance kernels
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans kernels: distances, nearest and second nearest match brute force", S, float, double) {
  namespace kd = recmix::cluster::detail;
  // k on both sides of every chunk width, one chunk and several, odd and even dimensions.
  for (const Index k : {1, 2, 7, 8, 9, 16, 17, 31, 32, 33, 63, 64, 65, 70, 130}) {
    for (const Index d : {1, 2, 3, 5, 8}) {
      CAPTURE(k);
      CAPTURE(d);
      const RowMatrix<S> C = uniform_points<S>(k, d, 1000 + static_cast<std::uint64_t>(k * 10 + d), -3.0, 3.0);
      const RowMatrix<S> X = uniform_points<S>(40, d, 2000 + static_cast<std::uint64_t>(k * 10 + d), -3.0, 3.0);
      kd::CentreTable<S> table;
      table.assign(C);
      REQUIRE(table.k == k);
      REQUIRE(table.d == d);
      std::vector<S> dist(static_cast<std::size_t>(k));
      for (Index i = 0; i < X.rows(); ++i) {
        std::vector<double> exact(static_cast<std::size_t>(k));
        for (Index c = 0; c < k; ++c) exact[static_cast<std::size_t>(c)] = sq_dist(X.row(i), C.row(c));
        const double scale =
            X.row(i).template cast<double>().squaredNorm() + C.template cast<double>().rowwise().squaredNorm().maxCoeff();
        const double tol = 16.0 * (d + 2) * scalar_eps<S>() * scale;
        kd::all_distances(table, X.data() + i * d, dist.data());
        for (Index c = 0; c < k; ++c) {
          const auto at = static_cast<std::size_t>(c);
          CHECK(std::abs(static_cast<double>(dist[at]) - exact[at]) <= tol);
        }

        std::vector<double> sorted = exact;
        std::sort(sorted.begin(), sorted.end());
        const kd::Nearest<S> with_second = kd::nearest(table, X.data() + i * d, true);
        const kd::Nearest<S> plain = kd::nearest(table, X.data() + i * d, false);
        CHECK(plain.index == with_second.index);
        REQUIRE(with_second.index >= 0);
        REQUIRE(with_second.index < k);
        // The chosen centre is nearest up to rounding; its reported distance is its distance.
        CHECK(exact[static_cast<std::size_t>(with_second.index)] <= sorted[0] + tol);
        CHECK(std::abs(static_cast<double>(with_second.distance) - sorted[0]) <= tol);
        if (k > 1) {
          CHECK(std::abs(static_cast<double>(with_second.second) - sorted[1]) <= tol);
        } else {
          CHECK(std::isinf(with_second.second));
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("kmeans kernels: exact ties go to the lower centre index, within and across chunks", S, float, double) {
  namespace kd = recmix::cluster::detail;
  for (const Index k : {5, 12, 20, 40, 70, 140}) {
    CAPTURE(k);
    const Index d = 3;
    RowMatrix<S> C = uniform_points<S>(k, d, 77 + static_cast<std::uint64_t>(k), 5.0, 9.0);
    // Centre 1 and the last centre are the same point, and the query sits exactly on it.
    C.row(k - 1) = C.row(1);
    kd::CentreTable<S> table;
    table.assign(C);
    const RowMatrix<S> x = C.row(1);
    const kd::Nearest<S> n = kd::nearest(table, x.data(), true);
    CHECK(n.index == 1);
    CHECK(n.distance == n.second);  // the twin is the second nearest, at the same distance
  }
}

// ================================================================================================
// Recovery of well-separated blobs
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: well-separated blobs are recovered exactly", S, float, double) {
  RowMatrixXd centres = RowMatrixXd::Zero(5, 4);
  for (Index b = 1; b < 5; ++b) centres(b, b - 1) = 30.0;
  std::vector<Index> truth;
  const RowMatrix<S> X = blobs<S>(centres, 2000, 1.0, 11, truth);

  // The blob means and the inertia of the true partition, by brute force.
  std::vector<double> counts;
  const RowMatrixXd means = brute_means(X, truth, 5, &counts);
  for (double n : counts) REQUIRE(n == 400);
  const double true_inertia = brute_inertia(X, means, truth);
  const double close = std::is_same_v<S, float> ? 1e-4 : 1e-10;

  for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
    for (const KMeansAlgorithm algorithm : kAlgorithms) {
      for (const std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(name_of(init));
        CAPTURE(name_of(algorithm));
        CAPTURE(seed);
        typename KMeans<S>::Options o;
        o.k = 5;
        o.seed = seed;
        o.init = init;
        o.algorithm = algorithm;
        // Uniform seeding hits all five blobs with probability 5!/5^5 ~ 4%: give it restarts.
        o.n_init = init == KMeansInit::random ? 150 : 1;
        o.threads = 1;
        KMeans<S> km(o);
        const KMeansReport r = km.fit(X);
        REQUIRE(km.labels().size() == truth.size());
        CHECK(same_partition(km.labels(), truth));
        CHECK(r.converged);
        CHECK(r.best_init >= 0);
        CHECK(r.best_init < o.n_init);
        CHECK(km.num_clusters() == 5);
        CHECK(km.num_features() == 4);
        // Every centroid is the mean of its blob.
        for (Index i = 0; i < 5; ++i) {
          const Index c = km.label(i);  // row i is in blob i
          CHECK((km.centroids().row(c).template cast<double>() - means.row(i)).cwiseAbs().maxCoeff() <= close);
        }
        CHECK(rel_diff(r.inertia, true_inertia) <= (std::is_same_v<S, float> ? 1e-6 : 1e-12));
        CHECK(km.inertia() == r.inertia);
        CHECK(km.iterations() == r.iterations);
      }
    }
  }
}

TEST_CASE("kmeans: restarts keep the lowest inertia") {
  // Uniform seeding hits each of 4 blobs once with probability 4!/4^4 ~ 9%: single runs often
  // merge two blobs, while the best of 60 restarts practically never does.
  RowMatrixXd centres(4, 2);
  centres << 0, 0, 20, 0, 0, 20, 20, 20;
  std::vector<Index> truth;
  const RowMatrixXd X = blobs<double>(centres, 600, 1.0, 5, truth);
  const RowMatrixXd means = brute_means(X, truth, 4);
  const double best_possible = brute_inertia(X, means, truth);
  int stuck_single = 0;
  for (const std::uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u}) {
    KMeans<double> one({.k = 4, .n_init = 1, .seed = seed, .init = KMeansInit::random, .threads = 1});
    KMeans<double> many({.k = 4, .n_init = 60, .seed = seed, .init = KMeansInit::random, .threads = 1});
    const KMeansReport r1 = one.fit(X);
    const KMeansReport rn = many.fit(X);
    CAPTURE(seed);
    // Restart 0 uses the single run's seed: the best of 60 is never worse.
    CHECK(rn.inertia <= r1.inertia * (1 + 1e-12));
    CHECK(rel_diff(rn.inertia, best_possible) <= 1e-9);
    CHECK(same_partition(many.labels(), truth));
    stuck_single += r1.inertia > best_possible * 1.5 ? 1 : 0;
  }
  CHECK(stuck_single > 0);  // some single runs did get stuck: the restarts mattered
}

// ================================================================================================
// Hamerly against plain Lloyd
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: Hamerly and Lloyd give identical labels, centroids, inertia and iterations", S, float, double) {
  // 20,000 points = 5 blocks of 4,096 (the last one partial). k = 70 and 128 need two chunks of
  // 64 centres; k = 16, 64 and 128 fill their chunks exactly (no padding lanes).
  const Index n = 20000, d = 5;
  for (const std::uint64_t seed : {21u, 22u}) {
    const RowMatrix<S> X = overlapping<S>(n, d, 12, seed);
    for (const Index k : {2, 7, 16, 40, 64, 70, 128}) {
      if (seed != 21u && k != 7 && k != 70) continue;  // the second seed: one chunk and two
      CAPTURE(seed);
      CAPTURE(k);
      typename KMeans<S>::Options o;
      o.k = k;
      o.seed = seed * 7;
      o.max_iter = 30;
      o.tol = 1e-5;
      o.threads = 1;
      o.algorithm = KMeansAlgorithm::lloyd;
      KMeans<S> lloyd(o);
      const KMeansReport rl = lloyd.fit(X);
      o.algorithm = KMeansAlgorithm::hamerly;
      KMeans<S> hamerly(o);
      const KMeansReport rh = hamerly.fit(X);
      CHECK(rl.iterations > 3);  // the bounds had something to do
      CHECK(rh.iterations == rl.iterations);
      CHECK(rh.converged == rl.converged);
      CHECK(hamerly.labels() == lloyd.labels());
      CHECK(bit_identical(hamerly.centroids(), lloyd.centroids()));
      CHECK(rh.inertia == rl.inertia);
      CHECK(rh.loss == rl.loss);
    }
  }
}

TEST_CASE("kmeans: Hamerly and Lloyd agree over a long run to full convergence (tol = 0)") {
  // Hundreds of iterations with tiny centre moves: the bounds drift the most here.
  const RowMatrixXf X = overlapping<float>(12000, 3, 9, 31);
  for (const Index k : {8, 24, 32}) {
    CAPTURE(k);
    KMeans<float>::Options o;
    o.k = k;
    o.seed = 5;
    o.tol = 0.0;
    o.max_iter = 1000;
    o.threads = 1;
    KMeans<float> lloyd(o);
    const KMeansReport rl = lloyd.fit(X);
    o.algorithm = KMeansAlgorithm::hamerly;
    KMeans<float> hamerly(o);
    const KMeansReport rh = hamerly.fit(X);
    CHECK(rl.converged);
    CHECK(rl.iterations > 20);
    CHECK(rh.iterations == rl.iterations);
    CHECK(hamerly.labels() == lloyd.labels());
    CHECK(bit_identical(hamerly.centroids(), lloyd.centroids()));
    CHECK(rh.inertia == rl.inertia);
  }
}

TEST_CASE("kmeans: Hamerly and Lloyd agree on float data far from the origin") {
  // ||x||² - 2 x.c + ||c||² loses most of its digits when the points sit far from the origin: the
  // rounding of the distances is then as large as the gaps Hamerly's bounds rely on.
  for (const double offset : {30.0, 300.0, 3000.0}) {
    CAPTURE(offset);
    RowMatrixXf X = overlapping<float>(9000, 3, 8, 35);
    X.array() += static_cast<float>(offset);
    KMeans<float>::Options o;
    o.k = 16;
    o.seed = 6;
    o.tol = 0.0;
    o.max_iter = 200;
    o.threads = 1;
    KMeans<float> lloyd(o);
    const KMeansReport rl = lloyd.fit(X);
    o.algorithm = KMeansAlgorithm::hamerly;
    KMeans<float> hamerly(o);
    const KMeansReport rh = hamerly.fit(X);
    CHECK(rh.iterations == rl.iterations);
    CHECK(hamerly.labels() == lloyd.labels());
    CHECK(bit_identical(hamerly.centroids(), lloyd.centroids()));
    CHECK(rh.inertia == rl.inertia);
  }
}

// ================================================================================================
// Against an independent Lloyd
// ================================================================================================

TEST_CASE("kmeans: KMeans<double> follows a brute-force Lloyd from the same start") {
  // Overlapping data: several iterations, many labels move; exact ties are practically impossible.
  const RowMatrixXd X = overlapping<double>(3000, 3, 6, 41);
  for (const Index k : {3, 6, 11}) {
    const RowMatrixXd init = X.topRows(k);  // the rows are in random order already
    const BruteLloyd ref = brute_lloyd(X, init, 500);
    for (const KMeansAlgorithm algorithm : kAlgorithms) {
      CAPTURE(k);
      CAPTURE(name_of(algorithm));
      KMeans<double>::Options o;
      o.k = k;
      o.init = KMeansInit::given;
      o.initial_centroids = init;
      o.tol = 0.0;
      o.max_iter = 500;
      o.algorithm = algorithm;
      o.threads = 1;
      KMeans<double> km(o);
      const KMeansReport r = km.fit(X);
      REQUIRE(ref.passes < 500);
      CHECK(ref.passes > 3);
      CHECK(r.converged);
      CHECK(r.iterations == ref.passes);
      CHECK(km.labels() == ref.labels);  // the very same labels, not only the same partition
      CHECK((km.centroids() - ref.centres).cwiseAbs().maxCoeff() <= 1e-12 * (1.0 + ref.centres.cwiseAbs().maxCoeff()));
      // The inertia is that of the final labels and centroids.
      CHECK(rel_diff(r.inertia, brute_inertia(X, km.centroids(), km.labels())) <= 1e-9);
      CHECK(rel_diff(r.inertia, brute_inertia(X, ref.centres, ref.labels)) <= 1e-9);
      // The first iteration's inertia is that of the given centres.
      REQUIRE(!r.loss.empty());
      CHECK(rel_diff(r.loss.front(), brute_potential(X, init)) <= 1e-9);
    }
  }
}

// ================================================================================================
// Monotone inertia and the observer
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: the inertia never increases across iterations", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(9000, 4, 10, 51);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
      CAPTURE(name_of(algorithm));
      CAPTURE(name_of(init));
      typename KMeans<S>::Options o;
      o.k = 16;
      o.seed = 3;
      o.init = init;
      o.algorithm = algorithm;
      o.threads = 1;
      o.tol = 0.0;
      o.max_iter = 300;
      KMeans<S> km(o);
      Recorder rec;
      const KMeansReport r = km.fit(X, {}, rec);
      REQUIRE(r.loss.size() == static_cast<std::size_t>(r.iterations));
      CHECK(r.iterations > 5);
      for (std::size_t t = 1; t < r.loss.size(); ++t) {
        CAPTURE(t);
        CHECK(r.loss[t] <= r.loss[t - 1] * (1.0 + 1e-9));
      }
      // The last assignment is no worse than the last iteration's, and strictly better than the start.
      CHECK(r.inertia <= r.loss.back() * (1.0 + 1e-9));
      CHECK(r.inertia < r.loss.front());
      CHECK(r.iteration_seconds.size() == r.loss.size());

      // The observer saw every iteration, in order, with the same losses.
      CHECK(rec.begins == 1);
      CHECK(rec.ends == 1);
      CHECK(rec.model == "KMeans");
      CHECK(rec.total == o.max_iter);
      CHECK(rec.threading == r.threading);
      CHECK(rec.end_iterations == r.iterations);
      CHECK(static_cast<int>(rec.iterations.size()) == r.iterations);
      std::vector<int> expected(static_cast<std::size_t>(r.iterations));
      std::iota(expected.begin(), expected.end(), 1);
      CHECK(rec.iterations == expected);
      CHECK(rec.losses == r.loss);
      for (int t : rec.totals) CHECK(t == o.max_iter);
    }
  }
}

TEST_CASE("kmeans: restarts report every iteration of every run to the observer") {
  const RowMatrixXd X = overlapping<double>(2000, 2, 5, 53);
  KMeans<double> km({.k = 4, .n_init = 3, .seed = 9, .threads = 1});
  Recorder rec;
  const KMeansReport r = km.fit(X, {}, rec);
  CHECK(rec.begins == 1);
  CHECK(rec.ends == 1);
  // Each run restarts the count at 1; the best run's iterations are among them.
  CHECK(std::count(rec.iterations.begin(), rec.iterations.end(), 1) == 3);
  CHECK(static_cast<int>(rec.iterations.size()) >= r.iterations);
  CHECK(rec.end_iterations == r.iterations);
}

// ================================================================================================
// k-means++ seeding
// ================================================================================================

TEST_CASE("kmeans++: the initial centres are k distinct rows of X") {
  // 12 points in general position. The first iteration's inertia is the potential of the initial
  // centres, and no set with a row chosen twice (i.e. of 1 or 2 rows) has the potential of a set
  // of 3 distinct rows, so that inertia tells whether the rows were distinct. (Sets of distinct
  // rows may share a potential: a cluster of two points costs the same with either as its centre.)
  const RowMatrixXd X = uniform_points<double>(12, 2, 61, 0.0, 10.0);
  const Index n = 12, k = 3;
  struct Candidate {
    double potential;
    bool distinct;
  };
  std::vector<Candidate> sets;
  for (Index a = 0; a < n; ++a) {
    sets.push_back({brute_potential<double>(X, X.row(a)), false});
    for (Index b = a + 1; b < n; ++b) {
      RowMatrixXd pair(2, 2);
      pair << X.row(a), X.row(b);
      sets.push_back({brute_potential(X, pair), false});
      for (Index c = b + 1; c < n; ++c) {
        RowMatrixXd C(3, 2);
        C << X.row(a), X.row(b), X.row(c);
        sets.push_back({brute_potential(X, C), true});
      }
    }
  }
  for (const auto& repeated : sets) {
    if (repeated.distinct) continue;
    for (const auto& other : sets) {
      if (other.distinct) REQUIRE(rel_diff(repeated.potential, other.potential) > 1e-7);
    }
  }

  for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(name_of(init));
      CAPTURE(seed);
      KMeans<double> km({.k = k, .max_iter = 1, .seed = seed, .init = init, .threads = 1});
      const KMeansReport r = km.fit(X);
      REQUIRE(r.loss.size() == 1);
      int matches = 0, repeated = 0;
      for (const auto& s : sets) {
        if (rel_diff(s.potential, r.loss[0]) <= 1e-9) {
          ++matches;
          repeated += s.distinct ? 0 : 1;
        }
      }
      CHECK(matches >= 1);  // the start was some set of rows of X
      CHECK(repeated == 0);  // ... and not one with a row chosen twice
    }
  }
}

TEST_CASE_TEMPLATE("kmeans++: with k = n every row becomes a centre", S, float, double) {
  const RowMatrix<S> X = uniform_points<S>(16, 3, 63, -5.0, 5.0);
  for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
    for (const KMeansAlgorithm algorithm : kAlgorithms) {
      CAPTURE(name_of(init));
      CAPTURE(name_of(algorithm));
      KMeans<S> km({.k = 16, .seed = 4, .init = init, .algorithm = algorithm, .threads = 1});
      const KMeansReport r = km.fit(X);
      CHECK(r.inertia == 0.0);
      std::vector<Index> labels = km.labels();
      std::sort(labels.begin(), labels.end());
      std::vector<Index> all(16);
      std::iota(all.begin(), all.end(), 0);
      CHECK(labels == all);
      for (Index i = 0; i < 16; ++i) {
        CHECK(bit_identical<S>(km.centroids().row(km.label(i)), X.row(i)));
      }
    }
  }
}

TEST_CASE("kmeans++: the second centre lands in a far group that uniform seeding rarely picks") {
  // 1,000 points near 0 and 10 points around (100, 0). With D² sampling the far group holds
  // ~98% of the potential after a first centre near 0; uniform seeding picks one of its rows
  // with probability ~2%.
  recmix::Rng rng(71);
  RowMatrixXd X(1010, 2);
  for (Index i = 0; i < 1000; ++i) X.row(i) << rng.normal(), rng.normal();
  for (Index i = 1000; i < 1010; ++i) X.row(i) << 100.0 + 0.1 * rng.normal(), 0.1 * rng.normal();
  // One centre in each group: the near points cost ~2 each, the far ones nearly nothing. Any
  // other pair leaves a whole group ~100 away: >= 10 x 100² = 1e5.
  const double split = 2.0e4;
  int plus_plus = 0, plain = 0, uniform = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    KMeans<double> pp({.k = 2, .max_iter = 1, .seed = seed, .threads = 1});
    plus_plus += pp.fit(X).loss[0] < split ? 1 : 0;
    KMeans<double> one({.k = 2, .max_iter = 1, .seed = seed, .local_trials = 1, .threads = 1});
    plain += one.fit(X).loss[0] < split ? 1 : 0;
    KMeans<double> rnd({.k = 2, .max_iter = 1, .seed = seed, .init = KMeansInit::random, .threads = 1});
    uniform += rnd.fit(X).loss[0] < split ? 1 : 0;
  }
  CHECK(plus_plus >= 48);
  CHECK(plain >= 45);
  CHECK(uniform <= 5);
}

TEST_CASE("kmeans++: more local trials give lower starting potentials; local_trials is honoured") {
  const RowMatrixXd X = uniform_points<double>(3000, 2, 73);
  double sum_one = 0.0, sum_default = 0.0, sum_many = 0.0;
  int differ = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    KMeans<double> one({.k = 12, .max_iter = 1, .seed = seed, .local_trials = 1, .threads = 1});
    KMeans<double> dflt({.k = 12, .max_iter = 1, .seed = seed, .threads = 1});
    KMeans<double> many({.k = 12, .max_iter = 1, .seed = seed, .local_trials = 25, .threads = 1});
    const double p1 = one.fit(X).loss[0], pd = dflt.fit(X).loss[0], pm = many.fit(X).loss[0];
    sum_one += p1;
    sum_default += pd;
    sum_many += pm;
    differ += p1 != pd ? 1 : 0;
  }
  MESSAGE("mean starting potential: 1 trial " << sum_one / 30 << ", default " << sum_default / 30 << ", 25 trials "
                                              << sum_many / 30);
  CHECK(differ >= 25);
  CHECK(sum_one > 1.1 * sum_default);
  CHECK(sum_default > sum_many);
}

TEST_CASE("kmeans++: the first centre is drawn in proportion to the sample weights") {
  // Only rows 3 and 7 have weight (1 and 3); with k = 1 the first iteration's inertia is
  // w_other x D², D² = ||x3 - x7||²: 3 D² when row 3 was drawn, D² when row 7 was.
  const RowMatrixXd X = uniform_points<double>(10, 2, 75, 0.0, 10.0);
  std::vector<double> w(10, 0.0);
  w[3] = 1.0;
  w[7] = 3.0;
  const double D2 = sq_dist(X.row(3), X.row(7));
  int seven = 0;
  const int runs = 400;
  for (int seed = 1; seed <= runs; ++seed) {
    KMeans<double> km({.k = 1, .max_iter = 1, .seed = static_cast<std::uint64_t>(seed), .threads = 1});
    const double l0 = km.fit(X, w).loss[0];
    const bool is_seven = rel_diff(l0, D2) <= 1e-12;
    const bool is_three = rel_diff(l0, 3 * D2) <= 1e-12;
    CHECK((is_seven || is_three));
    seven += is_seven ? 1 : 0;
  }
  // Expected 300 of 400 (sd ~9).
  CHECK(seven >= 265);
  CHECK(seven <= 335);
}

// ================================================================================================
// Sample weights
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: integer weights equal duplicated rows; zero weights equal removed rows", S, float, double) {
  // Values on a 1/8 grid: every sum of coordinates is exact in double, so the weighted and the
  // duplicated fits add the very same numbers.
  recmix::Rng rng(81);
  const Index n = 3000, d = 3, k = 7;
  RowMatrix<S> X(n, d);
  for (Index m = 0; m < X.size(); ++m) X.data()[m] = static_cast<S>(static_cast<double>(rng.below(161)) / 8.0 - 10.0);
  std::vector<S> w(static_cast<std::size_t>(n));
  for (auto& v : w) v = static_cast<S>(rng.below(4));  // 0, 1, 2 or 3
  // Duplicated rows (weight 0: dropped) and the positive-weight rows.
  std::vector<Index> dup_of, kept;
  for (Index i = 0; i < n; ++i) {
    for (int c = 0; c < static_cast<int>(w[static_cast<std::size_t>(i)]); ++c) dup_of.push_back(i);
    if (w[static_cast<std::size_t>(i)] > 0) kept.push_back(i);
  }
  REQUIRE(dup_of.size() > static_cast<std::size_t>(recmix::cluster::detail::kBlock));  // several blocks
  RowMatrix<S> Xdup(static_cast<Index>(dup_of.size()), d), Xkept(static_cast<Index>(kept.size()), d);
  for (std::size_t r = 0; r < dup_of.size(); ++r) Xdup.row(static_cast<Index>(r)) = X.row(dup_of[r]);
  for (std::size_t r = 0; r < kept.size(); ++r) Xkept.row(static_cast<Index>(r)) = X.row(kept[r]);
  std::vector<S> ones_or_zero(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) ones_or_zero[static_cast<std::size_t>(i)] = w[static_cast<std::size_t>(i)] > 0 ? S(1) : S(0);

  // The same start for every fit (tol = 0: the stopping rule scales tol by the unweighted variance).
  const RowMatrix<S> init = Xkept.topRows(k);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    typename KMeans<S>::Options o;
    o.k = k;
    o.init = KMeansInit::given;
    o.initial_centroids = init;
    o.tol = 0.0;
    o.algorithm = algorithm;
    o.threads = 1;

    KMeans<S> weighted(o), duplicated(o), zero_weighted(o), removed(o);
    const KMeansReport rw = weighted.fit(X, w);
    const KMeansReport rd = duplicated.fit(Xdup);
    CHECK(rw.converged);
    CHECK(bit_identical(weighted.centroids(), duplicated.centroids()));
    CHECK(rel_diff(rw.inertia, rd.inertia) <= 1e-12);
    CHECK(rw.iterations == rd.iterations);
    for (std::size_t r = 0; r < dup_of.size(); ++r) {
      if (weighted.label(dup_of[r]) != duplicated.label(static_cast<Index>(r))) {
        FAIL_CHECK("row " << dup_of[r] << " and its copy " << r << " have different labels");
        break;
      }
    }
    // The weighted inertia, by brute force.
    std::vector<double> wd(w.begin(), w.end());
    CHECK(rel_diff(rw.inertia, brute_inertia(X, weighted.centroids(), weighted.labels(), wd)) <= 1e-9);

    const KMeansReport rz = zero_weighted.fit(X, ones_or_zero);
    const KMeansReport rk = removed.fit(Xkept);
    CHECK(bit_identical(zero_weighted.centroids(), removed.centroids()));
    CHECK(rel_diff(rz.inertia, rk.inertia) <= 1e-12);
    for (std::size_t r = 0; r < kept.size(); ++r) {
      CHECK(zero_weighted.label(kept[r]) == removed.label(static_cast<Index>(r)));
    }
    // Rows of weight 0 still get the label of their nearest centroid.
    for (Index i = 0; i < n; ++i) {
      if (w[static_cast<std::size_t>(i)] == 0) {
        const Index l = zero_weighted.label(i);
        CHECK(sq_dist(X.row(i), zero_weighted.centroids().row(l)) <=
              sq_dist(X.row(i), zero_weighted.centroids().row(brute_nearest(X, i, zero_weighted.centroids()))) + 1e-4);
      }
    }
  }
}

TEST_CASE("kmeans: weights of 1 are no weights at all") {
  const RowMatrixXf X = overlapping<float>(6000, 3, 5, 83);
  const std::vector<float> ones(6000, 1.0f);
  KMeans<float> a({.k = 6, .seed = 8, .threads = 1}), b({.k = 6, .seed = 8, .threads = 1});
  const KMeansReport ra = a.fit(X);
  const KMeansReport rb = b.fit(X, ones);
  CHECK(bit_identical(a.centroids(), b.centroids()));
  CHECK(a.labels() == b.labels());
  CHECK(ra.inertia == rb.inertia);
}

TEST_CASE_TEMPLATE("kmeans: bad sample weights throw", S, float, double) {
  using recmix::invalid_argument;
  const RowMatrix<S> X = uniform_points<S>(10, 2, 85);
  KMeans<S> km({.k = 2, .threads = 1});
  const S nan = std::numeric_limits<S>::quiet_NaN();
  const S inf = std::numeric_limits<S>::infinity();
  std::vector<S> w(10, S(1));
  CHECK_THROWS_WITH_AS(km.fit(X, std::vector<S>(9, S(1))), doctest::Contains("9 sample weights for 10 rows"), invalid_argument);
  CHECK_THROWS_AS(km.fit(X, std::vector<S>(11, S(1))), invalid_argument);
  w[4] = S(-1);
  CHECK_THROWS_WITH_AS(km.fit(X, w), doctest::Contains("row 4"), invalid_argument);
  w[4] = nan;
  CHECK_THROWS_WITH_AS(km.fit(X, w), doctest::Contains("row 4"), invalid_argument);
  w[4] = inf;
  CHECK_THROWS_AS(km.fit(X, w), invalid_argument);
  CHECK_THROWS_WITH_AS(km.fit(X, std::vector<S>(10, S(0))), doctest::Contains("sum to 0"), invalid_argument);
  CHECK_FALSE(km.is_fitted());
  // Fewer positive weights than clusters is allowed (the other clusters share points of weight 0).
  std::vector<S> one(10, S(0));
  one[2] = S(1);
  CHECK_NOTHROW(km.fit(X, one));
  CHECK(km.centroids().allFinite());
}

// ================================================================================================
// Determinism
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: 1 and 2 threads, and the same seed twice, give bit-identical results", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(13000, 6, 10, 91);  // 4 blocks of 4,096 points
  const std::pair<KMeansAlgorithm, KMeansInit> runs[] = {{KMeansAlgorithm::lloyd, KMeansInit::kmeans_plus_plus},
                                                         {KMeansAlgorithm::hamerly, KMeansInit::kmeans_plus_plus},
                                                         {KMeansAlgorithm::hamerly, KMeansInit::random}};
  for (const auto& run : runs) {
    // Not a structured binding: clang before 16 cannot capture one (CAPTURE, the lambda below).
    const KMeansAlgorithm algorithm = run.first;
    const KMeansInit init = run.second;
    CAPTURE(name_of(algorithm));
    CAPTURE(name_of(init));
    auto fit = [&](int threads, std::uint64_t seed, KMeansReport& report) {
      KMeans<S> km(
          {.k = 32, .n_init = 2, .max_iter = 12, .seed = seed, .init = init, .algorithm = algorithm, .threads = threads});
      report = km.fit(X);
      return km;
    };
    KMeansReport r1, r2, r1b, other;
    const KMeans<S> one = fit(1, 5, r1), two = fit(2, 5, r2), again = fit(1, 5, r1b), different = fit(2, 6, other);
    CHECK(bit_identical(one.centroids(), two.centroids()));
    CHECK(one.labels() == two.labels());
    CHECK(r1.inertia == r2.inertia);
    CHECK(r1.loss == r2.loss);
    CHECK(r1.best_init == r2.best_init);
    CHECK(bit_identical(one.centroids(), again.centroids()));
    CHECK(r1.inertia == r1b.inertia);
    CHECK(one.labels() == again.labels());
    CHECK_FALSE(bit_identical(one.centroids(), different.centroids()));
    // predict and transform do not depend on the thread count either.
    CHECK(one.predict(X) == two.predict(X));
    CHECK(bit_identical(one.transform(X.topRows(100)), two.transform(X.topRows(100))));
  }
}

TEST_CASE_TEMPLATE("kmeans: a strided view of X fits like a compact copy", S, float, double) {
  const RowMatrix<S> wide = overlapping<S>(5000, 7, 6, 93);
  const RowMatrix<S> compact = wide.leftCols(4);
  const Eigen::Ref<const RowMatrix<S>> view = wide.leftCols(4);
  REQUIRE(view.outerStride() == 7);
  REQUIRE(view.data() == wide.data());  // a view, not a copy
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    const typename KMeans<S>::Options o{.k = 5, .max_iter = 25, .seed = 2, .algorithm = algorithm, .threads = 1};
    KMeans<S> a(o), b(o);
    const KMeansReport ra = a.fit(compact);
    const KMeansReport rb = b.fit(view);
    CHECK(bit_identical(a.centroids(), b.centroids()));
    CHECK(a.labels() == b.labels());
    CHECK(ra.inertia == rb.inertia);
    CHECK(a.predict(compact) == b.predict(view));
    CHECK(bit_identical(a.transform(compact), b.transform(view)));
  }
}

// ================================================================================================
// Convergence, max_iter, empty clusters
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: with tol = 0 the fit stops at a fixed point of Lloyd's iteration", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(4000, 2, 6, 101);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    KMeans<S> km({.k = 6, .max_iter = 1000, .tol = 0.0, .seed = 1, .algorithm = algorithm, .threads = 1});
    const KMeansReport r = km.fit(X);
    CHECK(r.converged);
    CHECK(r.iterations < 1000);
    // One more brute-force Lloyd step changes nothing: every row is nearest to its own centroid
    // (up to float rounding of near-ties), and every centroid is the mean of its rows.
    const double tie = std::is_same_v<S, float> ? 1e-4 : 1e-9;
    int not_nearest = 0;
    for (Index i = 0; i < X.rows(); ++i) {
      const Index l = km.label(i);
      const double own = sq_dist(X.row(i), km.centroids().row(l));
      const double best = sq_dist(X.row(i), km.centroids().row(brute_nearest(X, i, km.centroids())));
      not_nearest += own <= best + tie ? 0 : 1;
    }
    CHECK(not_nearest == 0);
    std::vector<double> counts;
    const RowMatrixXd means = brute_means(X, km.labels(), 6, &counts);
    for (double c : counts) CHECK(c > 0);
    CHECK((km.centroids().template cast<double>() - means).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-5 : 1e-12));
  }
}

TEST_CASE("kmeans: tol stops when the squared centre shifts sum to at most tol x the mean column variance") {
  const RowMatrixXd X = overlapping<double>(4000, 3, 7, 105);
  // The mean over columns of the (population) variance of each column.
  double mean_variance = 0.0;
  for (Index j = 0; j < X.cols(); ++j) {
    const double m = X.col(j).mean();
    mean_variance += (X.col(j).array() - m).square().mean();
  }
  mean_variance /= static_cast<double>(X.cols());
  const Index k = 7;
  const RowMatrixXd init = X.topRows(k);
  for (const double tol : {1e-1, 1e-2, 1e-3, 1e-4, 1e-6}) {
    CAPTURE(tol);
    // Brute force: assign, stop if nothing moved (after the first pass), move the centres, stop
    // if the squared shifts sum to at most tol x the mean variance.
    RowMatrixXd centres = init;
    std::vector<Index> labels(static_cast<std::size_t>(X.rows()), -1);
    int expected = 0;
    for (int pass = 1; pass <= 300; ++pass) {
      expected = pass;
      bool changed = false;
      for (Index i = 0; i < X.rows(); ++i) {
        const Index c = brute_nearest(X, i, centres);
        changed = changed || c != labels[static_cast<std::size_t>(i)];
        labels[static_cast<std::size_t>(i)] = c;
      }
      const RowMatrixXd next = brute_means(X, labels, k);
      const double shift = (next - centres).squaredNorm();
      centres = next;
      if (pass > 1 && !changed) break;
      if (shift <= tol * mean_variance) break;
    }
    KMeans<double>::Options o;
    o.k = k;
    o.init = KMeansInit::given;
    o.initial_centroids = init;
    o.tol = tol;
    for (const KMeansAlgorithm algorithm : kAlgorithms) {
      CAPTURE(name_of(algorithm));
      o.algorithm = algorithm;
      o.threads = 1;
      KMeans<double> km(o);
      const KMeansReport r = km.fit(X);
      CHECK(r.iterations == expected);
      CHECK(r.converged);
      CHECK((km.centroids() - centres).cwiseAbs().maxCoeff() <= 1e-12);
    }
  }
}

TEST_CASE_TEMPLATE("kmeans: scaling X by a power of two scales the centroids exactly (tol is relative)", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(5000, 4, 6, 107);
  const RowMatrix<S> big = X * S(1024);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    KMeans<S> a({.k = 6, .tol = 1e-3, .seed = 4, .algorithm = algorithm, .threads = 1});
    KMeans<S> b({.k = 6, .tol = 1e-3, .seed = 4, .algorithm = algorithm, .threads = 1});
    const KMeansReport ra = a.fit(X);
    const KMeansReport rb = b.fit(big);
    CHECK(rb.iterations == ra.iterations);
    CHECK(b.labels() == a.labels());
    const RowMatrix<S> scaled = a.centroids() * S(1024);
    CHECK(bit_identical(b.centroids(), scaled));
    CHECK(rb.inertia == ra.inertia * 1024.0 * 1024.0);
  }
}

TEST_CASE_TEMPLATE("kmeans: max_iter = 1 does one iteration and reports no convergence", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(3000, 2, 5, 103);
  const RowMatrix<S> init = X.topRows(5);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    typename KMeans<S>::Options o;
    o.k = 5;
    o.max_iter = 1;
    o.init = KMeansInit::given;
    o.initial_centroids = init;
    o.algorithm = algorithm;
    o.threads = 1;
    KMeans<S> km(o);
    Recorder rec;
    const KMeansReport r = km.fit(X, {}, rec);
    CHECK(r.iterations == 1);
    CHECK_FALSE(r.converged);
    CHECK(rec.iterations == std::vector<int>{1});
    // The centroids are one brute-force Lloyd step from the start; labels are their nearest.
    std::vector<Index> first(static_cast<std::size_t>(X.rows()));
    for (Index i = 0; i < X.rows(); ++i) first[static_cast<std::size_t>(i)] = brute_nearest(X, i, init);
    const RowMatrixXd step = brute_means(X, first, 5);
    CHECK((km.centroids().template cast<double>() - step).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-5 : 1e-12));
    // The full fit needs more than one iteration on this data.
    o.max_iter = 300;
    KMeans<S> full(o);
    CHECK(full.fit(X).iterations > 1);
  }
}

TEST_CASE_TEMPLATE("kmeans: a centre far from every point is re-seeded; every cluster ends non-empty", S, float, double) {
  RowMatrixXd centres(2, 2);
  centres << 0, 0, 10, 0;
  std::vector<Index> truth;
  const RowMatrix<S> X = blobs<S>(centres, 200, 1.0, 111, truth);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    for (const Index far_at : {0, 1, 2}) {
      CAPTURE(name_of(algorithm));
      CAPTURE(far_at);
      // Three starting centres: the two blob centres and one at (1000, 1000), in position far_at.
      RowMatrix<S> init(3, 2);
      Index b = 0;
      for (Index c = 0; c < 3; ++c) {
        if (c == far_at) {
          init.row(c) << S(1000), S(1000);
        } else {
          init.row(c) = centres.row(b++).template cast<S>();
        }
      }
      typename KMeans<S>::Options o;
      o.k = 3;
      o.init = KMeansInit::given;
      o.initial_centroids = init;
      o.algorithm = algorithm;
      o.threads = 1;
      KMeans<S> km(o);
      const KMeansReport r = km.fit(X);
      CHECK(km.centroids().allFinite());
      CHECK(std::isfinite(r.inertia));
      for (double l : r.loss) CHECK(std::isfinite(l));
      std::vector<double> counts;
      const RowMatrixXd means = brute_means(X, km.labels(), 3, &counts);
      for (double c : counts) CHECK(c > 0);
      // No centroid stayed out there.
      CHECK(km.centroids().template cast<double>().cwiseAbs().maxCoeff() < 20.0);
      CHECK((km.centroids().template cast<double>() - means).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-4 : 1e-10));
      CHECK(rel_diff(r.inertia, brute_inertia(X, km.centroids(), km.labels())) <= (std::is_same_v<S, float> ? 1e-6 : 1e-12));
      // Splitting a blob beats the two-blob solution.
      CHECK(r.inertia < brute_inertia(X, brute_means(X, truth, 2), truth));
    }
  }
}

TEST_CASE_TEMPLATE("kmeans: an empty cluster is re-seeded with a point of positive weight", S, float, double) {
  // Two blobs, a third starting centre far away, and rows of weight 0 even farther out: the
  // farthest points from their centres are those rows, but they carry no weight and must not
  // be the ones that re-seed the empty cluster.
  RowMatrixXd centres(2, 2);
  centres << 0, 0, 10, 0;
  std::vector<Index> truth;
  RowMatrix<S> X = blobs<S>(centres, 200, 1.0, 113, truth);
  std::vector<S> w(200, S(1));
  for (const Index i : {17, 88, 150}) {
    X.row(i) << S(-400) - S(i), S(0);
    w[static_cast<std::size_t>(i)] = S(0);
  }
  RowMatrix<S> init(3, 2);
  init << S(0), S(0), S(10), S(0), S(1000), S(1000);
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    CAPTURE(name_of(algorithm));
    typename KMeans<S>::Options o;
    o.k = 3;
    o.init = KMeansInit::given;
    o.initial_centroids = init;
    o.algorithm = algorithm;
    o.threads = 1;
    // Run to the end: the stopping threshold scales with the unweighted variance of X, which the
    // far rows of weight 0 inflate.
    o.tol = 0.0;
    KMeans<S> km(o);
    const KMeansReport r = km.fit(X, w);
    CHECK(r.converged);
    CHECK(km.centroids().allFinite());
    // Every cluster holds positive weight, and every centroid is the weighted mean of its rows.
    std::vector<double> mass(3, 0.0);
    RowMatrixXd sums = RowMatrixXd::Zero(3, 2);
    for (Index i = 0; i < 200; ++i) {
      const Index l = km.label(i);
      mass[static_cast<std::size_t>(l)] += static_cast<double>(w[static_cast<std::size_t>(i)]);
      sums.row(l) += static_cast<double>(w[static_cast<std::size_t>(i)]) * X.row(i).template cast<double>();
    }
    for (Index c = 0; c < 3; ++c) {
      CAPTURE(c);
      REQUIRE(mass[static_cast<std::size_t>(c)] > 0);
      const RowMatrixXd mean = sums.row(c) / mass[static_cast<std::size_t>(c)];
      CHECK((km.centroids().row(c).template cast<double>() - mean).cwiseAbs().maxCoeff() <= (std::is_same_v<S, float> ? 1e-4 : 1e-10));
    }
    CHECK(km.centroids().template cast<double>().cwiseAbs().maxCoeff() < 20.0);
    std::vector<double> wd(w.begin(), w.end());
    CHECK(rel_diff(r.inertia, brute_inertia(X, km.centroids(), km.labels(), wd)) <= (std::is_same_v<S, float> ? 1e-6 : 1e-12));
  }
}

TEST_CASE_TEMPLATE("kmeans: identical rows give finite centres and zero inertia", S, float, double) {
  RowMatrix<S> X(50, 3);
  for (Index i = 0; i < 50; ++i) X.row(i) << S(1.5), S(-2), S(0.25);
  for (const KMeansInit init : {KMeansInit::kmeans_plus_plus, KMeansInit::random}) {
    for (const KMeansAlgorithm algorithm : kAlgorithms) {
      CAPTURE(name_of(init));
      CAPTURE(name_of(algorithm));
      KMeans<S> km({.k = 3, .init = init, .algorithm = algorithm, .threads = 1});
      const KMeansReport r = km.fit(X);
      CHECK(km.centroids().allFinite());
      CHECK(r.inertia == 0.0);
      for (Index c = 0; c < 3; ++c) CHECK(bit_identical<S>(km.centroids().row(c), X.row(0)));
      CHECK(km.predict(X) == km.labels());
    }
  }
}

TEST_CASE("kmeans: k = 1 gives the (weighted) mean") {
  const RowMatrixXd X = uniform_points<double>(5000, 3, 113, -1.0, 3.0);
  std::vector<double> w(5000);
  recmix::Rng rng(114);
  for (auto& v : w) v = rng.uniform() * 2.0;
  for (const KMeansAlgorithm algorithm : kAlgorithms) {
    KMeans<double> km({.k = 1, .algorithm = algorithm, .threads = 1});
    const KMeansReport r = km.fit(X, w);
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(3);
    double total = 0.0;
    for (Index i = 0; i < 5000; ++i) {
      mean += w[static_cast<std::size_t>(i)] * X.row(i);
      total += w[static_cast<std::size_t>(i)];
    }
    mean /= total;
    CHECK((km.centroids().row(0) - mean).cwiseAbs().maxCoeff() <= 1e-12);
    CHECK(r.iterations <= 2);
    const std::vector<Index> labels = km.labels();  // labels() returns a copy: take it once
    CHECK(std::all_of(labels.begin(), labels.end(), [](Index l) { return l == 0; }));
    CHECK(rel_diff(r.inertia, brute_inertia(X, km.centroids(), km.labels(), w)) <= 1e-12);
  }
}

// ================================================================================================
// predict, predict_row, transform
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans: predict and transform agree with brute force", S, float, double) {
  const RowMatrix<S> X = overlapping<S>(5000, 5, 8, 121);
  const RowMatrix<S> Y = overlapping<S>(700, 5, 8, 122);
  for (const Index k : {3, 12, 70}) {
    CAPTURE(k);
    KMeans<S> km({.k = k, .max_iter = 20, .seed = 3, .threads = 1});
    km.fit(X);
    const RowMatrix<S>& C = km.centroids();
    const std::vector<Index> labels = km.predict(Y);
    const RowMatrix<S> dist = km.transform(Y);
    REQUIRE(labels.size() == static_cast<std::size_t>(Y.rows()));
    REQUIRE(dist.rows() == Y.rows());
    REQUIRE(dist.cols() == k);
    const double scale = Y.template cast<double>().rowwise().squaredNorm().maxCoeff() +
                         C.template cast<double>().rowwise().squaredNorm().maxCoeff();
    const double tol2 = 16.0 * 7 * scalar_eps<S>() * scale;  // on squared distances
    int exact_match = 0;
    for (Index i = 0; i < Y.rows(); ++i) {
      const Index b = brute_nearest(Y, i, C);
      const Index l = labels[static_cast<std::size_t>(i)];
      REQUIRE(l >= 0);
      REQUIRE(l < k);
      exact_match += l == b ? 1 : 0;
      CHECK(sq_dist(Y.row(i), C.row(l)) <= sq_dist(Y.row(i), C.row(b)) + tol2);
      // predict_row gives the same centre as predict.
      CHECK(km.predict_row(std::span<const S>(Y.data() + i * 5, 5)) == l);
      for (Index c = 0; c < k; ++c) {
        const double e2 = sq_dist(Y.row(i), C.row(c));
        const double got = static_cast<double>(dist(i, c));
        CHECK(got >= 0.0);
        CHECK(std::abs(got * got - e2) <= tol2);
      }
    }
    CHECK(exact_match >= Y.rows() - 2);  // mismatches only at float near-ties
    // On the training rows, predict reproduces the labels of the final assignment.
    CHECK(km.predict(X) == km.labels());
  }
}

TEST_CASE("kmeans: transform returns Euclidean distances (hand example)") {
  RowMatrixXd X(4, 2);
  X << 0, 0, 0, 2, 6, 0, 6, 2;
  RowMatrixXd init(2, 2);
  init << 0, 0, 6, 0;
  KMeans<double>::Options o;
  o.k = 2;
  o.init = KMeansInit::given;
  o.initial_centroids = init;
  KMeans<double> km(o);
  km.fit(X);
  // Centroids (0, 1) and (6, 1); the inertia is 4 x 1.
  RowMatrixXd expected(2, 2);
  expected << 0, 1, 6, 1;
  CHECK(bit_identical(km.centroids(), expected));
  CHECK(km.inertia() == 4.0);
  CHECK(km.labels() == std::vector<Index>{0, 0, 1, 1});
  RowMatrixXd Y(2, 2);
  Y << 3, 5, 0, 1;
  const RowMatrixXd d = km.transform(Y);
  CHECK(d(0, 0) == doctest::Approx(5.0).epsilon(1e-12));  // (3, 4) away
  CHECK(d(0, 1) == doctest::Approx(5.0).epsilon(1e-12));
  CHECK(d(1, 0) == doctest::Approx(0.0));
  CHECK(d(1, 1) == doctest::Approx(6.0).epsilon(1e-12));
  // (3, 5) is equally far from both: the tie goes to the lower index.
  CHECK(km.predict(Y) == std::vector<Index>{0, 0});
  const double row[2] = {5.0, 1.5};
  CHECK(km.predict_row(row) == 1);
}

TEST_CASE_TEMPLATE("kmeans: predict, predict_row and transform refuse bad input", S, float, double) {
  using recmix::invalid_argument;
  using recmix::not_fitted;
  const RowMatrix<S> X = uniform_points<S>(30, 3, 131);
  KMeans<S> km({.k = 3, .threads = 1});
  CHECK_FALSE(km.is_fitted());
  CHECK_THROWS_AS((void)km.predict(X), not_fitted);
  CHECK_THROWS_AS((void)km.transform(X), not_fitted);
  CHECK_THROWS_AS((void)km.predict_row(std::span<const S>(X.data(), 3)), not_fitted);
  CHECK_THROWS_AS((void)km.centroids(), not_fitted);
  CHECK(km.labels().empty());
  CHECK(km.num_clusters() == 0);

  km.fit(X);
  const RowMatrix<S> wrong = uniform_points<S>(4, 2, 132);
  CHECK_THROWS_WITH_AS((void)km.predict(wrong), doctest::Contains("2 columns"), invalid_argument);
  CHECK_THROWS_AS((void)km.transform(wrong), invalid_argument);
  CHECK_THROWS_AS((void)km.predict_row(std::span<const S>(X.data(), 2)), invalid_argument);
  CHECK_THROWS_AS((void)km.predict_row(std::span<const S>(X.data(), 4)), invalid_argument);
  RowMatrix<S> bad = X.topRows(5);
  bad(3, 2) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH_AS((void)km.predict(bad), doctest::Contains("X(3, 2) is NaN"), invalid_argument);
  CHECK_THROWS_AS((void)km.transform(bad), invalid_argument);
  bad(3, 2) = std::numeric_limits<S>::infinity();
  CHECK_THROWS_WITH_AS((void)km.predict(bad), doctest::Contains("X(3, 2) is infinite"), invalid_argument);
  CHECK_THROWS_AS((void)km.predict_row(std::span<const S>(bad.data() + 3 * 3, 3)), invalid_argument);
  // An empty query is fine.
  CHECK(km.predict(RowMatrix<S>(0, 3)).empty());
  CHECK(km.transform(RowMatrix<S>(0, 3)).rows() == 0);
}

// ================================================================================================
// Options and input validation
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans options: every invalid value throws, naming the option", S, float, double) {
  using recmix::invalid_argument;
  using Options = typename KMeans<S>::Options;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto with = [](auto&& change) {
    Options o;
    change(o);
    return o;
  };
  const RowMatrix<S> good(2, 3);
  CHECK_NOTHROW(KMeans<S>(Options{}));
  CHECK_NOTHROW(KMeans<S>(with([](Options& o) { o.tol = 0.0; o.k = 1; o.local_trials = 1; o.threads = 2; })));

  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.k = 0; })), doctest::Contains("k must"), invalid_argument);
  CHECK_THROWS_AS(KMeans<S>(with([](Options& o) { o.k = -3; })), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.n_init = 0; })), doctest::Contains("n_init"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.max_iter = 0; })), doctest::Contains("max_iter"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.tol = -1e-3; })), doctest::Contains("tol"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([=](Options& o) { o.tol = nan; })), doctest::Contains("tol"), invalid_argument);
  CHECK_THROWS_AS(KMeans<S>(with([=](Options& o) { o.tol = inf; })), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.local_trials = -1; })), doctest::Contains("local_trials"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.threads = -1; })), doctest::Contains("threads"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.threads = 1 << 20; })), doctest::Contains("threads"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.init = static_cast<KMeansInit>(9); })), doctest::Contains("init"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.algorithm = static_cast<KMeansAlgorithm>(9); })),
                       doctest::Contains("algorithm"), invalid_argument);

  // init = given: k rows, finite, one run; initial_centroids only with init = given.
  CHECK_NOTHROW(KMeans<S>(with([&](Options& o) {
    o.k = 2;
    o.init = KMeansInit::given;
    o.initial_centroids = RowMatrix<S>::Zero(2, 3);
  })));
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.k = 2; o.init = KMeansInit::given; })),
                       doctest::Contains("initial_centroids"), invalid_argument);
  CHECK_THROWS_AS(KMeans<S>(with([](Options& o) {
                    o.k = 2;
                    o.init = KMeansInit::given;
                    o.initial_centroids = RowMatrix<S>::Zero(3, 3);
                  })),
                  invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) {
                         o.k = 2;
                         o.init = KMeansInit::given;
                         o.initial_centroids = RowMatrix<S>::Zero(2, 3);
                         o.initial_centroids(1, 1) = std::numeric_limits<S>::quiet_NaN();
                       })),
                       doctest::Contains("NaN"), invalid_argument);
  CHECK_THROWS_AS(KMeans<S>(with([](Options& o) {
                    o.k = 2;
                    o.init = KMeansInit::given;
                    o.initial_centroids = RowMatrix<S>::Zero(2, 3);
                    o.initial_centroids(0, 0) = std::numeric_limits<S>::infinity();
                  })),
                  invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) {
                         o.k = 2;
                         o.n_init = 3;
                         o.init = KMeansInit::given;
                         o.initial_centroids = RowMatrix<S>::Zero(2, 3);
                       })),
                       doctest::Contains("n_init"), invalid_argument);
  CHECK_THROWS_WITH_AS(KMeans<S>(with([](Options& o) { o.k = 2; o.initial_centroids = RowMatrix<S>::Zero(2, 3); })),
                       doctest::Contains("initial_centroids"), invalid_argument);
  CHECK_THROWS_AS(KMeans<S>(with([](Options& o) {
                    o.k = 2;
                    o.init = KMeansInit::random;
                    o.initial_centroids = RowMatrix<S>::Zero(2, 3);
                  })),
                  invalid_argument);
}

TEST_CASE_TEMPLATE("kmeans fit: invalid data throws and leaves the model untouched", S, float, double) {
  using recmix::invalid_argument;
  const RowMatrix<S> X = uniform_points<S>(20, 3, 141);
  KMeans<S> km({.k = 4, .threads = 1});
  CHECK_THROWS_WITH_AS(km.fit(RowMatrix<S>(0, 3)), doctest::Contains("empty"), invalid_argument);
  CHECK_THROWS_WITH_AS(km.fit(RowMatrix<S>(5, 0)), doctest::Contains("empty"), invalid_argument);
  CHECK_THROWS_WITH_AS(km.fit(X.topRows(3)), doctest::Contains("k = 4 exceeds the 3 rows"), invalid_argument);
  CHECK_NOTHROW(KMeans<S>({.k = 4}).fit(X.topRows(4)));  // k = n is fine
  RowMatrix<S> bad = X;
  bad(17, 1) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_WITH_AS(km.fit(bad), doctest::Contains("X(17, 1) is NaN"), invalid_argument);
  bad(17, 1) = -std::numeric_limits<S>::infinity();
  CHECK_THROWS_WITH_AS(km.fit(bad), doctest::Contains("X(17, 1) is infinite"), invalid_argument);
  bad(17, 1) = S(0);
  bad(0, 0) = std::numeric_limits<S>::infinity();
  CHECK_THROWS_WITH_AS(km.fit(bad), doctest::Contains("X(0, 0)"), invalid_argument);
  CHECK_FALSE(km.is_fitted());

  // init = given with centroids of the wrong width.
  typename KMeans<S>::Options o;
  o.k = 2;
  o.init = KMeansInit::given;
  o.initial_centroids = RowMatrix<S>::Zero(2, 2);
  KMeans<S> given(o);
  CHECK_THROWS_WITH_AS(given.fit(X), doctest::Contains("initial_centroids have 2 columns"), invalid_argument);
  CHECK_FALSE(given.is_fitted());

  // A failed fit after a good one keeps the good model.
  km.fit(X);
  const RowMatrix<S> centroids = km.centroids();
  const std::vector<Index> labels = km.labels();
  const double inertia = km.inertia();
  bad = X;
  bad(5, 2) = std::numeric_limits<S>::quiet_NaN();
  CHECK_THROWS_AS(km.fit(bad), invalid_argument);
  CHECK_THROWS_AS(km.fit(X, std::vector<S>(20, S(-1))), invalid_argument);
  CHECK(bit_identical(km.centroids(), centroids));
  CHECK(km.labels() == labels);
  CHECK(km.inertia() == inertia);
}

// ================================================================================================
// A small shop for the cluster recommender
// ================================================================================================

namespace {

/// 30 users in 3 well-separated feature groups (user u in group u % 3) and 6 items:
///   group 0 holds item 0 (all, weight 2) and item 1 (users with (u / 3) even: 5 of 10, weight 4);
///   group 1 holds item 2 (all, weight 1) and item 3 (the first 3 of the group, weight 3);
///   group 2 holds item 4 (all, weight 1 + (u / 3) % 2, i.e. 1 or 2, mean 1.5) and item 5 (none).
struct Shop {
  RowMatrixXf features;
  InteractionMatrix holdings;
};

Shop make_shop() {
  Shop s;
  s.features.resize(30, 2);
  recmix::Rng rng(171);
  const float centre[3][2] = {{0, 0}, {50, 0}, {0, 50}};
  for (Index u = 0; u < 30; ++u) {
    const Index g = u % 3;
    const auto jitter = [&] { return static_cast<float>(rng.uniform() - 0.5); };
    const float x = centre[g][0] + jitter();
    const float y = centre[g][1] + jitter();
    s.features.row(u) << x, y;
  }
  std::vector<Index> users, items;
  std::vector<float> weights;
  auto hold = [&](Index u, Index i, float w) {
    users.push_back(u);
    items.push_back(i);
    weights.push_back(w);
  };
  for (Index u = 0; u < 30; ++u) {
    const Index g = u % 3, rank = u / 3;  // rank 0..9 inside the group
    if (g == 0) {
      hold(u, 0, 2.0f);
      if (rank % 2 == 0) hold(u, 1, 4.0f);
    } else if (g == 1) {
      hold(u, 2, 1.0f);
      if (rank < 3) hold(u, 3, 3.0f);
    } else {
      hold(u, 4, 1.0f + static_cast<float>(rank % 2));
    }
  }
  s.holdings = InteractionMatrix::from_triplets(30, 6, users, items, weights);
  return s;
}

/// Hand-computed table rows of the three groups.
RowMatrixXf shop_shares() {
  RowMatrixXf t(3, 6);
  t << 1.0f, 0.5f, 0, 0, 0, 0,  //
      0, 0, 1.0f, 0.3f, 0, 0,   //
      0, 0, 0, 0, 1.0f, 0;
  return t;
}
RowMatrixXf shop_mean_weights() {
  RowMatrixXf t(3, 6);
  t << 2.0f, 2.0f, 0, 0, 0, 0,  // 10 x 2 / 10, 5 x 4 / 10
      0, 0, 1.0f, 0.9f, 0, 0,   // 10 x 1 / 10, 3 x 3 / 10
      0, 0, 0, 0, 1.5f, 0;      // (5 x 1 + 5 x 2) / 10
  return t;
}

/// The cluster of each group, checking that the fit put each group in a cluster of its own.
std::vector<Index> group_clusters(const ClusterRecommender& rec) {
  const std::vector<Index>& labels = rec.kmeans().labels();
  REQUIRE(labels.size() == 30);
  std::vector<Index> truth(30);
  for (Index u = 0; u < 30; ++u) truth[static_cast<std::size_t>(u)] = u % 3;
  REQUIRE(same_partition(labels, truth));
  return {labels[0], labels[1], labels[2]};
}

double max_abs(const Eigen::Ref<const RowMatrixXf>& a, const Eigen::Ref<const RowMatrixXf>& b) {
  return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

// ================================================================================================
// Serialization
// ================================================================================================

TEST_CASE_TEMPLATE("kmeans serialization: round trip in every archive, through files and streams", S, float, double) {
  TempDir dir;
  const RowMatrix<S> X = overlapping<S>(3000, 4, 6, 151);
  const RowMatrix<S> Y = overlapping<S>(500, 4, 6, 152);
  KMeans<S> km({.k = 9, .n_init = 2, .max_iter = 50, .tol = 1e-3, .seed = 17, .local_trials = 3,
                .algorithm = KMeansAlgorithm::hamerly, .threads = 1});
  km.fit(X);
  const std::vector<Index> predicted = km.predict(Y);
  const RowMatrix<S> distances = km.transform(Y);
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    const std::filesystem::path path = dir / ("kmeans." + name_of(format));
    recmix::save(km, path, {.format = format});
    KMeans<S> restored;
    recmix::load(restored, path);
    CHECK(restored.is_fitted());
    CHECK(bit_identical(restored.centroids(), km.centroids()));
    CHECK(restored.predict(Y) == predicted);
    CHECK(bit_identical(restored.transform(Y), distances));
    CHECK(restored.inertia() == km.inertia());
    CHECK(restored.iterations() == km.iterations());
    CHECK(restored.labels().empty());  // labels are not saved
    CHECK(restored.options().k == 9);
    CHECK(restored.options().n_init == 2);
    CHECK(restored.options().max_iter == 50);
    CHECK(restored.options().tol == 1e-3);
    CHECK(restored.options().seed == 17);
    CHECK(restored.options().local_trials == 3);
    CHECK(restored.options().algorithm == KMeansAlgorithm::hamerly);
    CHECK(restored.options().threads == 1);
    // Through a stream: the same bytes as the file, and a loaded model saves to the same bytes.
    const std::string bytes = save_to_string(km, format);
    {
      std::ifstream in(path, std::ios::binary);
      const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(file == bytes);
    }
    KMeans<S> streamed;
    load_from_string(streamed, bytes);
    CHECK(save_to_string(streamed, format) == bytes);
    // A refit of the loaded model with its own options reproduces the original fit.
    streamed.fit(X);
    CHECK(bit_identical(streamed.centroids(), km.centroids()));
    CHECK(streamed.labels() == km.labels());
  }
  // Unfitted models cannot be saved.
  std::ostringstream os;
  CHECK_THROWS_AS(recmix::save(KMeans<S>(), os), recmix::not_fitted);
}

TEST_CASE("kmeans serialization: a model fitted with init = given loads back") {
  // initial_centroids are not saved, and a load must not insist on them.
  const RowMatrixXd X = uniform_points<double>(50, 2, 155);
  KMeans<double>::Options o;
  o.k = 3;
  o.init = KMeansInit::given;
  o.initial_centroids = X.topRows(3);
  KMeans<double> km(o);
  km.fit(X);
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    const std::string bytes = save_to_string(km, format);
    KMeans<double> restored;
    CHECK_NOTHROW(load_from_string(restored, bytes));
    CHECK(restored.is_fitted());
    if (restored.is_fitted()) CHECK(bit_identical(restored.centroids(), km.centroids()));
  }
  // The same through a ClusterRecommender whose k-means starts from given centres.
  const Shop shop = make_shop();
  ClusterRecommender::Options o2;
  o2.kmeans.k = 3;
  o2.kmeans.init = KMeansInit::given;
  o2.kmeans.initial_centroids = shop.features.topRows(3);
  ClusterRecommender rec(o2);
  rec.fit(shop.features, shop.holdings);
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    ClusterRecommender restored;
    CHECK_NOTHROW(load_from_string(restored, save_to_string(rec, format)));
    CHECK(bit_identical(restored.table(), rec.table()));
  }
}

TEST_CASE("kmeans serialization: an absurd thread count in a file is refused") {
  // As for ImplicitALS: a file must not be able to make predict() start 65,536 threads.
  const RowMatrixXf X = uniform_points<float>(40, 2, 157);
  KMeans<float> km({.k = 3, .threads = 1});
  km.fit(X);
  const std::string file = save_to_string(km, ArchiveFormat::xml);
  const std::size_t header_end = file.find('\n', file.find('\n') + 1) + 1;
  std::string payload = file.substr(header_end);
  const std::string from = "<threads>1</threads>", to = "<threads>65536</threads>";
  const std::size_t at = payload.find(from);
  REQUIRE(at != std::string::npos);
  payload.replace(at, from.size(), to);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(recmix::detail::crc32(payload.data(), payload.size())));
  const std::string edited = "RECMIX-MODEL\nenvelope 2 kind kmeans version 1 scalar float32 archive xml bytes " +
                             std::to_string(payload.size()) + " crc32 " + crc + "\n" + payload;
  // The edited file is well formed: restoring the original count loads fine.
  {
    std::string same = edited;
    same.replace(same.find(to), to.size(), from);
    const std::size_t h = same.find('\n', same.find('\n') + 1) + 1;
    const std::string p = same.substr(h);
    std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(recmix::detail::crc32(p.data(), p.size())));
    same = "RECMIX-MODEL\nenvelope 2 kind kmeans version 1 scalar float32 archive xml bytes " + std::to_string(p.size()) +
           " crc32 " + crc + "\n" + p;
    KMeans<float> ok;
    CHECK_NOTHROW(load_from_string(ok, same));
    CHECK(ok.is_fitted());
  }
  KMeans<float> target;
  CHECK_THROWS_AS(load_from_string(target, edited), recmix::model_format_error);
  CHECK_FALSE(target.is_fitted());  // never call predict on it: that is what would start the threads
}

TEST_CASE("kmeans serialization: files of another kind or scalar are refused, the target untouched") {
  const RowMatrixXf Xf = overlapping<float>(600, 3, 4, 161);
  const RowMatrixXd Xd = Xf.cast<double>();
  KMeans<float> kf({.k = 4, .seed = 1, .threads = 1});
  kf.fit(Xf);
  KMeans<double> kd({.k = 5, .seed = 2, .threads = 1});
  kd.fit(Xd);

  // Users of three feature groups for a small recommender.
  RowMatrixXf features(9, 3);
  for (Index u = 0; u < 9; ++u) features.row(u) << static_cast<float>(20 * (u % 3)), 0.1f * static_cast<float>(u), 0.0f;
  std::vector<Index> users, items;
  std::vector<float> weights;
  for (Index u = 0; u < 9; ++u) {
    users.push_back(u);
    items.push_back(u % 3);
    weights.push_back(1.0f);
  }
  ClusterRecommender rec({.kmeans = {.k = 3, .seed = 3}});
  rec.fit(features, InteractionMatrix::from_triplets(9, 3, users, items, weights));

  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    const std::string float_bytes = save_to_string(kf, format);
    const std::string double_bytes = save_to_string(kd, format);
    const std::string rec_bytes = save_to_string(rec, format);

    KMeans<float> other_f({.k = 2, .seed = 9, .threads = 1});
    other_f.fit(Xf);
    KMeans<float> target_f = other_f;
    CHECK_THROWS_WITH_AS(load_from_string(target_f, double_bytes), doctest::Contains("float64"), recmix::model_format_error);
    CHECK_THROWS_WITH_AS(load_from_string(target_f, rec_bytes), doctest::Contains("cluster_recommender"),
                         recmix::model_format_error);
    CHECK(bit_identical(target_f.centroids(), other_f.centroids()));
    CHECK(target_f.labels() == other_f.labels());
    CHECK(target_f.options().k == 2);

    KMeans<double> target_d;
    CHECK_THROWS_AS(load_from_string(target_d, float_bytes), recmix::model_format_error);
    CHECK_FALSE(target_d.is_fitted());

    ClusterRecommender target_r = rec;
    CHECK_THROWS_WITH_AS(load_from_string(target_r, float_bytes), doctest::Contains("kmeans"), recmix::model_format_error);
    CHECK_THROWS_AS(load_from_string(target_r, double_bytes), recmix::model_format_error);
    CHECK(bit_identical(target_r.table(), rec.table()));
    CHECK(bit_identical(target_r.kmeans().centroids(), rec.kmeans().centroids()));

    // A loaded model of the right kind does replace the target.
    load_from_string(target_f, float_bytes);
    CHECK(bit_identical(target_f.centroids(), kf.centroids()));
  }
}

// ================================================================================================
// ClusterRecommender
// ================================================================================================


TEST_CASE("cluster_recommender: the table holds each cluster's share or mean weight of every item") {
  const Shop shop = make_shop();
  for (const Ownership ownership : {Ownership::share, Ownership::weight}) {
    CAPTURE(static_cast<int>(ownership));
    ClusterRecommender rec({.kmeans = {.k = 3, .seed = 5}, .ownership = ownership});
    CHECK_FALSE(rec.is_fitted());
    const KMeansReport r = rec.fit(shop.features, shop.holdings);
    CHECK(r.iterations >= 1);
    CHECK(rec.is_fitted());
    CHECK(rec.num_items() == 6);
    REQUIRE(rec.table().rows() == 3);
    REQUIRE(rec.table().cols() == 6);
    const std::vector<Index> cluster = group_clusters(rec);
    const RowMatrixXf expected = ownership == Ownership::share ? shop_shares() : shop_mean_weights();
    for (Index g = 0; g < 3; ++g) {
      CAPTURE(g);
      CHECK(max_abs(rec.table().row(cluster[static_cast<std::size_t>(g)]), expected.row(g)) <= 1e-6);
      CHECK(rec.cluster_sizes()[static_cast<std::size_t>(cluster[static_cast<std::size_t>(g)])] == 10.0);
    }
    // clusters() sends each user's features to its group's cluster.
    const std::vector<Index> c = rec.clusters(shop.features);
    for (Index u = 0; u < 30; ++u) CHECK(c[static_cast<std::size_t>(u)] == cluster[static_cast<std::size_t>(u % 3)]);
  }
}

TEST_CASE("cluster_recommender: from a log, events decay with half_life") {
  const Shop shop = make_shop();
  // Last event at t = 10; half_life = 2.
  //   group 0: item 0 at t = 10 (age 0, weight 1)            -> 1 each       -> 1.0
  //            item 1 at t = 8 for 5 users (age 2: 1/2)        -> 5 x 0.5 / 10 -> 0.25
  //   group 1: item 2 at t = 6, weight 2 (age 4: 1/4)         -> 0.5 each     -> 0.5
  //            item 3 at t = 10 and at t = 9 for 3 users       -> 3 x (1 + 2^-0.5) / 10
  //   group 2: item 5 at t = 0 for all, weight 8 (age 10: 1/32) -> 0.25
  std::vector<Index> users, items;
  std::vector<recmix::Timestamp> times;
  std::vector<float> weights;
  auto event = [&](Index u, Index i, recmix::Timestamp t, float w) {
    users.push_back(u);
    items.push_back(i);
    times.push_back(t);
    weights.push_back(w);
  };
  for (Index u = 0; u < 30; ++u) {
    const Index g = u % 3, rank = u / 3;
    if (g == 0) {
      event(u, 0, 10, 1.0f);
      if (rank % 2 == 0) event(u, 1, 8, 1.0f);
    } else if (g == 1) {
      event(u, 2, 6, 2.0f);
      if (rank < 3) {
        event(u, 3, 10, 1.0f);
        event(u, 3, 9, 1.0f);
      }
    } else {
      event(u, 5, 0, 8.0f);
    }
  }
  const InteractionLog log(30, 6, users, items, times, weights);

  ClusterRecommender decayed({.kmeans = {.k = 3, .seed = 5}, .half_life = 2.0});
  decayed.fit(shop.features, log);
  const std::vector<Index> c = group_clusters(decayed);
  RowMatrixXf expected(3, 6);
  expected << 1.0f, 0.25f, 0, 0, 0, 0,  //
      0, 0, 0.5f, static_cast<float>(3.0 * (1.0 + std::pow(2.0, -0.5)) / 10.0), 0, 0,  //
      0, 0, 0, 0, 0, 0.25f;
  for (Index g = 0; g < 3; ++g) {
    CAPTURE(g);
    CHECK(max_abs(decayed.table().row(c[static_cast<std::size_t>(g)]), expected.row(g)) <= 1e-6);
  }

  // half_life = 0: no decay, weights summed and divided by the cluster size.
  ClusterRecommender flat({.kmeans = {.k = 3, .seed = 5}});
  flat.fit(shop.features, log);
  const std::vector<Index> cf = group_clusters(flat);
  RowMatrixXf summed(3, 6);
  summed << 1.0f, 0.5f, 0, 0, 0, 0,  //
      0, 0, 2.0f, 0.6f, 0, 0,        //
      0, 0, 0, 0, 0, 8.0f;
  for (Index g = 0; g < 3; ++g) CHECK(max_abs(flat.table().row(cf[static_cast<std::size_t>(g)]), summed.row(g)) <= 1e-6);

  // The log's users must match the feature rows.
  const InteractionLog short_log(29, 6);
  CHECK_THROWS_AS(flat.fit(shop.features, short_log), recmix::invalid_argument);
}

TEST_CASE("cluster_recommender: score, can_score and recommend for new users with features only") {
  const Shop shop = make_shop();
  ClusterRecommender rec({.kmeans = {.k = 3, .seed = 5}});
  rec.fit(shop.features, shop.holdings);

  // Four new users: near group 1, group 0, group 2, and one without usable features.
  RowMatrixXf f(4, 2);
  f << 49.0f, 1.0f, -1.0f, 0.5f, 0.3f, 51.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f;
  const std::vector<Index> ids(4, recmix::kNewUser);
  const UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, f);
  RowMatrixXf scores(4, 6);
  rec.score(batch, scores);
  const RowMatrixXf shares = shop_shares();
  CHECK(max_abs(scores.row(0), shares.row(1)) <= 1e-6);
  CHECK(max_abs(scores.row(1), shares.row(0)) <= 1e-6);
  CHECK(max_abs(scores.row(2), shares.row(2)) <= 1e-6);
  CHECK(scores.row(3).isZero());
  std::vector<std::uint8_t> mask(4, 7);
  rec.can_score(batch, mask);
  CHECK(mask == std::vector<std::uint8_t>{1, 1, 1, 0});
  std::vector<std::uint8_t> short_mask(3);
  CHECK_THROWS_AS(rec.can_score(batch, short_mask), recmix::invalid_argument);

  const recmix::Recommendations top = recmix::recommend(rec, batch, 2);
  REQUIRE(top.users() == 4);
  CHECK(std::vector<Index>(top.row(0).begin(), top.row(0).end()) == std::vector<Index>{2, 3});
  CHECK(std::vector<Index>(top.row(1).begin(), top.row(1).end()) == std::vector<Index>{0, 1});
  CHECK(top.row(2).size() == 2);
  CHECK(top.items(2, 0) == 4);
  CHECK(top.scores(1, 0) == doctest::Approx(1.0));
  CHECK(top.scores(1, 1) == doctest::Approx(0.5));
  CHECK(top.row(3).empty());  // cannot score: padded with -1

  // History is excluded as usual: a group-0 newcomer who already holds item 0 gets item 1 first.
  const std::vector<Index> hist_user = {1}, hist_item = {0};
  const std::vector<float> hist_weight = {1.0f};
  const InteractionMatrix history = InteractionMatrix::from_triplets(4, 6, hist_user, hist_item, hist_weight);
  const UserBatch with_history(ids, &history, recmix::HistoryRows::aligned, f);
  const recmix::Recommendations top2 = recmix::recommend(rec, with_history, 1);
  CHECK(top2.items(1, 0) == 1);

  // A batch without features: nothing can be scored.
  const UserBatch bare(ids);
  std::vector<std::uint8_t> none(4, 7);
  rec.can_score(bare, none);
  CHECK(none == std::vector<std::uint8_t>(4, 0));
  scores.setConstant(5.0f);
  rec.score(bare, scores);
  CHECK(scores.isZero());
  const recmix::Recommendations nothing = recmix::recommend(rec, bare, 3);
  for (Index r = 0; r < 4; ++r) CHECK(nothing.row(r).empty());

  // Feature width and score block shape are checked.
  const RowMatrixXf wide(4, 3);
  const UserBatch wrong(ids, nullptr, recmix::HistoryRows::aligned, wide);
  CHECK_THROWS_WITH_AS(rec.score(wrong, scores), doctest::Contains("3 feature columns"), recmix::invalid_argument);
  RowMatrixXf small(4, 5);
  CHECK_THROWS_AS(rec.score(batch, small), recmix::invalid_argument);
  CHECK_THROWS_AS((void)rec.clusters(wide), recmix::invalid_argument);
}

TEST_CASE("cluster_recommender: options, unfitted use and bad input") {
  using recmix::invalid_argument;
  CHECK_THROWS_WITH_AS(ClusterRecommender({.half_life = -1.0}), doctest::Contains("half_life"), invalid_argument);
  CHECK_THROWS_AS(ClusterRecommender({.half_life = std::numeric_limits<double>::quiet_NaN()}), invalid_argument);
  CHECK_THROWS_AS(ClusterRecommender({.half_life = std::numeric_limits<double>::infinity()}), invalid_argument);
  CHECK_THROWS_AS(ClusterRecommender({.ownership = static_cast<Ownership>(5)}), invalid_argument);
  CHECK_THROWS_WITH_AS(ClusterRecommender({.kmeans = {.k = 0}}), doctest::Contains("k must"), invalid_argument);

  const Shop shop = make_shop();
  ClusterRecommender rec({.kmeans = {.k = 3}});
  const std::vector<Index> ids(2, recmix::kNewUser);
  const RowMatrixXf f = shop.features.topRows(2);
  const UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, f);
  RowMatrixXf scores(2, 6);
  std::vector<std::uint8_t> mask(2);
  CHECK_THROWS_AS(rec.score(batch, scores), recmix::not_fitted);
  CHECK_THROWS_AS(rec.can_score(batch, mask), recmix::not_fitted);
  CHECK_THROWS_AS((void)rec.clusters(f), recmix::not_fitted);
  std::ostringstream os;
  CHECK_THROWS_AS(recmix::save(rec, os), recmix::not_fitted);

  // Feature rows must match the users; k must fit the users; features must be finite.
  CHECK_THROWS_WITH_AS(rec.fit(shop.features.topRows(29), shop.holdings), doctest::Contains("29 rows"), invalid_argument);
  ClusterRecommender too_many({.kmeans = {.k = 31}});
  CHECK_THROWS_AS(too_many.fit(shop.features, shop.holdings), invalid_argument);
  RowMatrixXf nan_features = shop.features;
  nan_features(4, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(rec.fit(nan_features, shop.holdings), doctest::Contains("X(4, 1)"), invalid_argument);
  CHECK_FALSE(rec.is_fitted());
}

TEST_CASE("cluster_recommender: whatever fit accepts, save and load round-trip (no items)") {
  // A catalogue of 0 items: fit either refuses it or gives a model that saves and loads back.
  const Shop shop = make_shop();
  ClusterRecommender rec({.kmeans = {.k = 3, .seed = 5}});
  bool fitted = true;
  try {
    rec.fit(shop.features, InteractionMatrix(30, 0));
  } catch (const recmix::invalid_argument&) {
    fitted = false;
  }
  if (fitted) {
    CHECK(rec.is_fitted());
    const std::string bytes = save_to_string(rec, ArchiveFormat::binary);
    ClusterRecommender restored;
    CHECK_NOTHROW(load_from_string(restored, bytes));
    CHECK(restored.is_fitted());
  } else {
    CHECK_FALSE(rec.is_fitted());
  }
}

TEST_CASE("cluster_recommender: save/load round trip in every archive") {
  TempDir dir;
  const Shop shop = make_shop();
  for (const Ownership ownership : {Ownership::share, Ownership::weight}) {
    ClusterRecommender rec(
        {.kmeans = {.k = 3, .seed = 5, .algorithm = KMeansAlgorithm::hamerly}, .ownership = ownership, .half_life = 3.5});
    rec.fit(shop.features, shop.holdings);
    RowMatrixXf f(3, 2);
    f << 49.0f, 1.0f, -1.0f, 0.5f, 0.3f, 51.0f;
    const std::vector<Index> ids(3, recmix::kNewUser);
    const UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, f);
    RowMatrixXf expected(3, 6);
    rec.score(batch, expected);
    for (const ArchiveFormat format : kFormats) {
      CAPTURE(name_of(format));
      const std::filesystem::path path = dir / ("clusters." + name_of(format));
      recmix::save(rec, path, {.format = format});
      ClusterRecommender restored;
      recmix::load(restored, path);
      CHECK(restored.is_fitted());
      CHECK(bit_identical(restored.table(), rec.table()));
      CHECK(restored.cluster_sizes() == rec.cluster_sizes());
      CHECK(bit_identical(restored.kmeans().centroids(), rec.kmeans().centroids()));
      CHECK(restored.options().ownership == ownership);
      CHECK(restored.options().half_life == 3.5);
      CHECK(restored.options().kmeans.k == 3);
      CHECK(restored.options().kmeans.algorithm == KMeansAlgorithm::hamerly);
      RowMatrixXf got(3, 6);
      restored.score(batch, got);
      CHECK(bit_identical(got, expected));
      CHECK(restored.clusters(shop.features) == rec.clusters(shop.features));
      CHECK(save_to_string(restored, format) == save_to_string(rec, format));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Compact labels, the tile kernel, the parallel finiteness check
// ---------------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("kmeans: label(row) reads labels() without the copy", S, float, double) {
  const RowMatrix<S> X = uniform_points<S>(500, 3, 141);
  KMeans<S> km({.k = 5, .seed = 3, .threads = 2});
  CHECK_THROWS_AS((void)km.label(0), recmix::invalid_argument);  // not fitted: no labels
  km.fit(X);
  const std::vector<Index> all = km.labels();
  REQUIRE(all.size() == 500);
  for (Index i = 0; i < 500; ++i) CHECK(km.label(i) == all[static_cast<std::size_t>(i)]);
  CHECK_THROWS_WITH_AS((void)km.label(500), doctest::Contains("row 500"), recmix::invalid_argument);
  CHECK_THROWS_AS((void)km.label(-1), recmix::invalid_argument);
}

TEST_CASE_TEMPLATE("kmeans: more than 256 clusters (16-bit labels) keep hamerly == lloyd", S, float, double) {
  const Index n = 3000, k = 300;
  const RowMatrix<S> X = uniform_points<S>(n, 2, 151, -5.0, 5.0);
  KMeans<S> lloyd({.k = k, .max_iter = 6, .seed = 4, .init = KMeansInit::random, .threads = 2});
  KMeans<S> hamerly({.k = k, .max_iter = 6, .seed = 4, .init = KMeansInit::random, .algorithm = KMeansAlgorithm::hamerly, .threads = 2});
  const KMeansReport rl = lloyd.fit(X);
  const KMeansReport rh = hamerly.fit(X);
  CHECK(rh.inertia == rl.inertia);
  CHECK(bit_identical(hamerly.centroids(), lloyd.centroids()));
  const std::vector<Index> labels = lloyd.labels();
  CHECK(hamerly.labels() == labels);
  CHECK(*std::max_element(labels.begin(), labels.end()) >= 256);  // the labels really need more than a byte
  CHECK(lloyd.predict(X) == labels);
}

TEST_CASE("kmeans: more than 65,536 clusters (32-bit labels)") {
  const Index k = 65537, n = 65600;
  const RowMatrixXf X = uniform_points<float>(n, 2, 152, -5.0, 5.0);
  KMeans<float> km({.k = k, .max_iter = 1, .seed = 4, .init = KMeansInit::random, .threads = 2});
  const KMeansReport r = km.fit(X);
  const std::vector<Index> labels = km.labels();
  REQUIRE(labels.size() == static_cast<std::size_t>(n));
  CHECK(*std::max_element(labels.begin(), labels.end()) >= 65536);
  CHECK(km.label(n - 1) == labels.back());
  CHECK(rel_diff(r.inertia, brute_inertia(X, km.centroids(), labels)) <= 1e-9);
}

TEST_CASE("kmeans: every caller ranks centres with the same arithmetic (tiles of any make-up)") {
  // Points placed exactly between pairs of centres tie; whichever tile they land in (full
  // tiles in a fit, a tile of one in predict_row, partial tiles at the end of X) they take
  // the lower centre, and predict_row, predict and the training labels agree bit for bit.
  const Index n = 1037, d = 5, k = 23;
  RowMatrixXf X = uniform_points<float>(n, d, 161, -2.0, 2.0);
  for (Index i = 0; i < n; i += 7) X.row(i) = X.row((i + 3) % n);  // duplicates across tiles
  KMeans<float> km({.k = k, .max_iter = 4, .seed = 2, .threads = 2});
  km.fit(X);
  const std::vector<Index> predicted = km.predict(X);
  CHECK(predicted == km.labels());
  for (Index i = 0; i < n; ++i) {
    const Index one = km.predict_row(std::span<const float>(X.data() + static_cast<std::ptrdiff_t>(i) * d, static_cast<std::size_t>(d)));
    if (one != predicted[static_cast<std::size_t>(i)]) FAIL_CHECK("row " << i << ": predict_row " << one << ", predict " << predicted[static_cast<std::size_t>(i)]);
  }
}

TEST_CASE_TEMPLATE("kmeans: the first NaN or Inf in row-major order is named, on any thread count", S, float, double) {
  const Index n = 3 * static_cast<Index>(recmix::cluster::detail::kBlock) + 100;
  RowMatrix<S> X = uniform_points<S>(n, 4, 171);
  X(n - 5, 0) = std::numeric_limits<S>::quiet_NaN();
  X(static_cast<Index>(recmix::cluster::detail::kBlock) + 9, 3) = std::numeric_limits<S>::infinity();
  X(static_cast<Index>(recmix::cluster::detail::kBlock) + 9, 2) = std::numeric_limits<S>::quiet_NaN();
  const std::string first = "X(" + std::to_string(recmix::cluster::detail::kBlock + 9) + ", 2) is NaN";
  for (const int threads : {1, 2, 3}) {
    CAPTURE(threads);
    KMeans<S> km({.k = 2, .threads = threads});
    CHECK_THROWS_WITH_AS(km.fit(X), doctest::Contains(first.c_str()), recmix::invalid_argument);
    // Strided rows (a view of every column but the last) take the same path.
    const Eigen::Ref<const RowMatrix<S>> view = X.leftCols(3);
    CHECK_THROWS_WITH_AS(km.fit(view), doctest::Contains(first.c_str()), recmix::invalid_argument);
  }
}
