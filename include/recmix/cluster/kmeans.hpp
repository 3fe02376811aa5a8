#pragma once
/// @file
/// KMeans<Scalar>: k-means with greedy k-means++ seeding, plain Lloyd or Hamerly's
/// bound-accelerated Lloyd (same assignments), sample weights, several restarts, and results
/// identical for any thread count.
///
/// @code
/// recmix::cluster::KMeans<float> km({.k = 16, .seed = 7});
/// recmix::cluster::KMeansReport r = km.fit(X);        // X: n x d, row-major
/// r.inertia; r.iterations; r.converged;
/// std::vector<recmix::Index> cluster = km.predict(Y);  // nearest centre of each row of Y
/// recmix::RowMatrixXf dist = km.transform(Y);           // n x k Euclidean distances
/// @endcode
///
/// The iteration follows scikit-learn's: assign every point to its nearest centre, move each
/// centre to the (weighted) mean of its points, stop when no assignment changed or when the
/// squared centre shifts sum to at most tol x (mean variance of the columns of X), or after
/// max_iter iterations; then assign once more with the final centres for labels and inertia.
/// A cluster left empty is re-seeded with the point farthest from its centre (the farthest not
/// already taken, in centre order), as scikit-learn does.
///
/// Distances are ‖x‖² − 2 x·c + ‖c‖² in Scalar, computed for tiles of 16 points at once (one
/// point per vector lane, the same operations for a point wherever it is processed); centre
/// sums are accumulated in double per block of 4,096 points and the blocks added in order, so
/// every result is the same on any number of threads. Training labels take one byte per row
/// for k <= 256 (two for k <= 65,536).

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "recmix/cluster/kmeans_kernels.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/random.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"

namespace recmix::cluster {

enum class KMeansInit {
  /// Greedy k-means++: each new centre is the best of `local_trials` candidates drawn with
  /// probability proportional to weight x squared distance to the nearest chosen centre.
  kmeans_plus_plus,
  /// k distinct rows drawn uniformly.
  random,
  /// Options::initial_centroids.
  given,
};

enum class KMeansAlgorithm {
  /// Every point against every centre, every iteration.
  lloyd,
  /// Hamerly's bounds skip points whose nearest centre cannot have changed; the same
  /// assignments as lloyd, fewer distance computations, 8 more bytes per point.
  hamerly,
};

/// What a fit did, on top of FitReport (iterations, seconds, per-iteration inertia in `loss`).
struct KMeansReport : FitReport {
  double inertia = 0.0;        ///< sum of weight x squared distance to the nearest centre
  bool converged = false;      ///< stopped before max_iter
  double init_seconds = 0.0;   ///< seeding time, all restarts
  int best_init = 0;           ///< which restart was kept (0-based)
};

template <class Scalar = float>
class KMeans {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>, "KMeans<float> or KMeans<double>");

 public:
  using scalar_type = Scalar;
  using Matrix = RowMatrix<Scalar>;
  static constexpr const char* kModelKind = "kmeans";
  static constexpr unsigned kFormatVersion = 1;

  struct Options {
    /// Number of clusters (1 <= k <= rows of X).
    Index k = 8;
    /// Restarts with different seeds; the lowest inertia wins.
    int n_init = 1;
    int max_iter = 300;
    /// Relative tolerance: stop when the squared centre shifts sum to <= tol x mean column variance.
    double tol = 1e-4;
    std::uint64_t seed = 42;
    KMeansInit init = KMeansInit::kmeans_plus_plus;
    /// Candidates per centre in k-means++; 0 = 2 + floor(ln k).
    Index local_trials = 0;
    /// k x d starting centres for KMeansInit::given.
    Matrix initial_centroids = {};
    KMeansAlgorithm algorithm = KMeansAlgorithm::lloyd;
    /// 0 = all cores.
    int threads = 0;
  };

  KMeans() = default;
  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit KMeans(const Options& options) : options_(options) { validate_options(options_, "KMeans"); }

  /// Clusters the rows of X (n x d, finite). `sample_weight`: empty, or n finite weights >= 0
  /// with a positive sum. The model is replaced only when the fit succeeds.
  KMeansReport fit(Eigen::Ref<const Matrix> X, std::span<const Scalar> sample_weight, FitObserver& observer) {
    constexpr const char* api = "KMeans::fit";
    const int threads = resolve_threads(options_.threads, api);
    validate_data(X, sample_weight, api, threads);
    recmix::detail::Stopwatch total;
    KMeansReport best;
    best.threading = threading_description(threads);
    observer.on_begin("KMeans", options_.max_iter, best.threading);
    const double tol = options_.tol * mean_column_variance(X, threads);
    Matrix best_centres;
    LabelVector best_labels;
    double init_seconds = 0.0;
    for (int run = 0; run < options_.n_init; ++run) {
      LabelVector labels = label_vector(options_.k);
      Matrix centres;
      KMeansReport r;
      std::visit(
          [&](auto& lab) {
            lab.assign(static_cast<std::size_t>(X.rows()), 0);
            recmix::detail::Stopwatch init_watch;
            centres = initial_centres(X, sample_weight, options_.seed + static_cast<std::uint64_t>(run) * 0x9E3779B97F4A7C15ULL,
                                      threads, lab);
            init_seconds += init_watch.seconds();
            r = run_lloyd(X, sample_weight, centres, lab, tol, threads, observer, total);
          },
          labels);
      if (run == 0 || r.inertia < best.inertia) {
        r.best_init = run;
        r.threading = best.threading;
        best = std::move(r);
        best_centres = std::move(centres);
        best_labels = std::move(labels);
      }
    }
    centroids_ = std::move(best_centres);
    labels_ = std::move(best_labels);
    inertia_ = best.inertia;
    iterations_ = best.iterations;
    table_.assign(centroids_);
    best.init_seconds = init_seconds;
    best.seconds = total.seconds();
    observer.on_end(best);
    return best;
  }

  KMeansReport fit(Eigen::Ref<const Matrix> X, std::span<const Scalar> sample_weight = {}) {
    NullObserver none;
    return fit(X, sample_weight, none);
  }
  KMeansReport fit(Eigen::Ref<const Matrix> X, std::span<const Scalar> sample_weight, FitObserver&& observer) {
    return fit(X, sample_weight, observer);
  }

  /// Nearest centre of each row of X (ties to the lower centre index).
  [[nodiscard]] std::vector<Index> predict(Eigen::Ref<const Matrix> X) const {
    constexpr const char* api = "KMeans::predict";
    check_query(X, api);
    std::vector<Index> labels(static_cast<std::size_t>(X.rows()));
    const int threads = resolve_threads(options_.threads, api);
    const auto n = static_cast<Index>(X.rows());
    const Index tiles = (n + detail::kTile - 1) / detail::kTile;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
      detail::Tile<Scalar> tile;
      std::vector<Scalar> scratch(detail::tile_scratch_size(table_.d));
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index t = 0; t < tiles; ++t) {
        const Index begin = t * detail::kTile;
        tile.count = static_cast<int>(std::min<Index>(detail::kTile, n - begin));
        for (int l = 0; l < tile.count; ++l) tile.rows[l] = X.data() + static_cast<std::ptrdiff_t>(begin + l) * X.outerStride();
        detail::nearest_tile(table_, tile, false, scratch.data());
        std::copy(tile.index, tile.index + tile.count, labels.begin() + begin);
      }
    }
    (void)threads;
    return labels;
  }

  /// Nearest centre of one point (d finite values), on the calling thread.
  [[nodiscard]] Index predict_row(std::span<const Scalar> x) const {
    constexpr const char* api = "KMeans::predict_row";
    require_fitted(api);
    if (static_cast<Index>(x.size()) != table_.d) {
      throw invalid_argument(std::string(api) + ": the point has " + std::to_string(x.size()) + " values but the model was fitted on " +
                             std::to_string(table_.d));
    }
    for (std::size_t j = 0; j < x.size(); ++j) {
      if (!std::isfinite(x[j])) throw invalid_argument(std::string(api) + ": value " + std::to_string(j) + " is not finite");
    }
    const Eigen::Map<const Matrix> point(x.data(), 1, static_cast<Eigen::Index>(x.size()));
    check_norms(point, api, "the point", 1);
    return detail::nearest(table_, x.data(), false, false).index;
  }

  /// Euclidean distance of each row of X to each centre (n x k).
  [[nodiscard]] Matrix transform(Eigen::Ref<const Matrix> X) const {
    constexpr const char* api = "KMeans::transform";
    check_query(X, api);
    Matrix out(X.rows(), table_.k);
    const auto n = static_cast<Index>(X.rows());
    const int threads = resolve_threads(options_.threads, api);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (Index i = 0; i < n; ++i) {
      Scalar* row = out.data() + static_cast<std::ptrdiff_t>(i) * table_.k;
      detail::all_distances(table_, X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride(), row);
      for (Index c = 0; c < table_.k; ++c) row[c] = std::sqrt(row[c]);
    }
    (void)threads;
    return out;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return centroids_.rows() > 0; }
  [[nodiscard]] const Matrix& centroids() const {
    require_fitted("KMeans::centroids");
    return centroids_;
  }
  /// Cluster of each training row, as a new vector (empty after load: labels are not saved).
  /// The model keeps them in the narrowest unsigned type that holds k - 1 (one byte per row
  /// for k <= 256); label(row) reads one without the copy.
  [[nodiscard]] std::vector<Index> labels() const {
    return std::visit([](const auto& v) { return std::vector<Index>(v.begin(), v.end()); }, labels_);
  }
  /// Cluster of training row `row` (0 <= row < rows of the X last fitted; throws
  /// recmix::invalid_argument otherwise, and after load).
  [[nodiscard]] Index label(Index row) const {
    return std::visit(
        [row](const auto& v) -> Index {
          if (row < 0 || static_cast<std::size_t>(row) >= v.size()) {
            throw invalid_argument("KMeans::label: row " + std::to_string(row) + " is not a training row (there are " +
                                   std::to_string(v.size()) + ")");
          }
          return static_cast<Index>(v[static_cast<std::size_t>(row)]);
        },
        labels_);
  }
  [[nodiscard]] double inertia() const noexcept { return inertia_; }
  [[nodiscard]] int iterations() const noexcept { return iterations_; }
  [[nodiscard]] Index num_clusters() const noexcept { return static_cast<Index>(centroids_.rows()); }
  [[nodiscard]] Index num_features() const noexcept { return static_cast<Index>(centroids_.cols()); }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  /// Boost.Serialization hook; use recmix::save / recmix::load from <recmix/io/serialization.hpp>.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "k", options_.k);
    archive_field(ar, "n_init", options_.n_init);
    archive_field(ar, "max_iter", options_.max_iter);
    archive_field(ar, "tol", options_.tol);
    archive_field(ar, "seed", options_.seed);
    archive_field(ar, "init", options_.init);
    archive_field(ar, "local_trials", options_.local_trials);
    archive_field(ar, "algorithm", options_.algorithm);
    archive_field(ar, "threads", options_.threads);
    archive_field(ar, "centroids", centroids_);
    archive_field(ar, "inertia", inertia_);
    archive_field(ar, "iterations", iterations_);
  }

  /// Called by recmix::load: checks the loaded state (throws model_format_error) and rebuilds caches.
  void on_loaded() {
    options_.initial_centroids.resize(0, 0);
    try {
      validate_options(options_, "KMeans::load", true);
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    if (centroids_.rows() != options_.k || centroids_.cols() < 1) {
      throw model_format_error("KMeans::load: centroids are " + std::to_string(centroids_.rows()) + " x " +
                               std::to_string(centroids_.cols()) + " but k = " + std::to_string(options_.k));
    }
    if (!centroids_.allFinite() || !std::isfinite(inertia_) || inertia_ < 0) {
      throw model_format_error("KMeans::load: centroids or inertia hold NaN, Inf or a negative inertia");
    }
    try {
      check_norms(centroids_, "KMeans::load", "the centroids", 1);
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    labels_ = LabelVector{};
    table_.assign(centroids_);
  }

 private:
  // ---- validation ----------------------------------------------------------------------------

  /// Largest thread count accepted (a guard against corrupted files and typos).
  static constexpr int kMaxThreads = 1024;

  /// Checks the options; `loaded` skips the initial-centroid rules (a loaded model keeps its
  /// centroids, not the ones it started from).
  static void validate_options(const Options& o, const char* api, bool loaded = false) {
    const std::string who(api);
    if (o.k < 1) throw invalid_argument(who + ": k must be >= 1, got " + std::to_string(o.k));
    if (o.n_init < 1) throw invalid_argument(who + ": n_init must be >= 1, got " + std::to_string(o.n_init));
    if (o.max_iter < 1) throw invalid_argument(who + ": max_iter must be >= 1, got " + std::to_string(o.max_iter));
    if (!(o.tol >= 0.0) || !std::isfinite(o.tol)) throw invalid_argument(who + ": tol must be finite and >= 0, got " + std::to_string(o.tol));
    if (o.local_trials < 0) throw invalid_argument(who + ": local_trials must be >= 0, got " + std::to_string(o.local_trials));
    if (o.threads < 0 || o.threads > kMaxThreads) {
      throw invalid_argument(who + ": threads must be in [0, " + std::to_string(kMaxThreads) + "], got " + std::to_string(o.threads));
    }
    if (loaded) {
      // nothing to check about initial centroids
    } else if (o.init == KMeansInit::given) {
      if (o.initial_centroids.rows() != o.k) {
        throw invalid_argument(who + ": init = given needs initial_centroids with k = " + std::to_string(o.k) + " rows, got " +
                               std::to_string(o.initial_centroids.rows()));
      }
      if (!o.initial_centroids.allFinite()) throw invalid_argument(who + ": initial_centroids hold NaN or Inf");
      check_norms(o.initial_centroids, api, "initial_centroids", 1);
      if (o.n_init != 1) throw invalid_argument(who + ": init = given runs once; n_init must be 1, got " + std::to_string(o.n_init));
    } else if (o.initial_centroids.size() != 0) {
      throw invalid_argument(who + ": initial_centroids are only used with init = given");
    }
    if (static_cast<int>(o.init) < 0 || static_cast<int>(o.init) > 2) throw invalid_argument(who + ": unknown init");
    if (static_cast<int>(o.algorithm) < 0 || static_cast<int>(o.algorithm) > 1) throw invalid_argument(who + ": unknown algorithm");
  }

  void validate_data(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const char* api, int threads) const {
    const std::string who(api);
    if (X.rows() == 0 || X.cols() == 0) {
      throw invalid_argument(who + ": X is empty (" + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ")");
    }
    if (X.rows() > std::numeric_limits<Index>::max()) throw invalid_argument(who + ": more than 2^31-1 rows");
    if (options_.k > X.rows()) {
      throw invalid_argument(who + ": k = " + std::to_string(options_.k) + " exceeds the " + std::to_string(X.rows()) + " rows of X");
    }
    if (options_.init == KMeansInit::given && options_.initial_centroids.cols() != X.cols()) {
      throw invalid_argument(who + ": initial_centroids have " + std::to_string(options_.initial_centroids.cols()) +
                             " columns but X has " + std::to_string(X.cols()));
    }
    check_finite(X, api, threads);
    check_norms(X, api, "X", threads);
    if (!w.empty()) {
      if (static_cast<Eigen::Index>(w.size()) != X.rows()) {
        throw invalid_argument(who + ": " + std::to_string(w.size()) + " sample weights for " + std::to_string(X.rows()) + " rows");
      }
      double sum = 0.0;
      for (std::size_t i = 0; i < w.size(); ++i) {
        if (!std::isfinite(w[i]) || w[i] < 0) {
          throw invalid_argument(who + ": sample weight " + std::to_string(w[i]) + " at row " + std::to_string(i) + " is not finite and >= 0");
        }
        sum += w[i];
      }
      if (!(sum > 0.0)) throw invalid_argument(who + ": sample weights sum to 0");
    }
  }

  /// Throws naming the first NaN or Inf of X in row-major order. Blocks of rows are checked in
  /// parallel; the lowest block holding one is then searched alone, so the message does not
  /// depend on the thread count.
  static void check_finite(const Eigen::Ref<const Matrix>& X, const char* api, int threads) {
    const Eigen::Index rows = X.rows(), cols = X.cols();
    const Eigen::Index blocks = rows == 0 ? 0 : (rows - 1) / detail::kBlock + 1;
    std::atomic<Eigen::Index> first_bad{blocks};
    constexpr Scalar big = std::numeric_limits<Scalar>::max();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (Eigen::Index b = 0; b < blocks; ++b) {
      if (b > first_bad.load(std::memory_order_relaxed)) continue;  // an earlier block is bad already
      const Eigen::Index begin = b * detail::kBlock, end = std::min(rows, begin + detail::kBlock);
      bool ok = true;
      if (X.outerStride() == cols) {  // contiguous rows: one flat run
        const Scalar* p = X.data() + begin * cols;
        const Eigen::Index count = (end - begin) * cols;
        for (Eigen::Index i = 0; i < count; ++i) ok &= std::abs(p[i]) <= big;  // false for NaN and Inf
      } else {
        for (Eigen::Index r = begin; r < end; ++r) {
          const Scalar* row = X.data() + r * X.outerStride();
          for (Eigen::Index c = 0; c < cols; ++c) ok &= std::abs(row[c]) <= big;
        }
      }
      if (!ok) {
        Eigen::Index seen = first_bad.load(std::memory_order_relaxed);
        while (b < seen && !first_bad.compare_exchange_weak(seen, b, std::memory_order_relaxed)) {
        }
      }
    }
    (void)threads;
    const Eigen::Index b = first_bad.load();
    if (b == blocks) return;
    for (Eigen::Index r = b * detail::kBlock; r < rows; ++r) {
      const Scalar* row = X.data() + r * X.outerStride();  // rows may be strided
      for (Eigen::Index c = 0; c < cols; ++c) {
        if (!std::isfinite(row[c])) {
          throw invalid_argument(std::string(api) + ": X(" + std::to_string(r) + ", " + std::to_string(c) + ") is " +
                                 (std::isnan(row[c]) ? "NaN" : "infinite"));
        }
      }
    }
  }

  /// Largest squared norm of a point or centre: distances are computed in Scalar as
  /// ‖x‖² − 2 x·c + ‖c‖², which cannot overflow when both squared norms are at most max / 4
  /// (centres are means of points, so they stay within the bound too). Larger values would
  /// give infinite distances and wrong clusters without any error.
  static constexpr double kMaxSquaredNorm = static_cast<double>(std::numeric_limits<Scalar>::max()) / 4;

  /// Throws naming the first row of M (finite) whose squared norm, in double, exceeds
  /// kMaxSquaredNorm. Blocks of rows are scanned in parallel; the search for the row is serial.
  static void check_norms(const Eigen::Ref<const Matrix>& M, const char* api, const char* what, int threads) {
    const Eigen::Index rows = M.rows();
    auto squared_norm = [&M](Eigen::Index r) { return M.row(r).template cast<double>().squaredNorm(); };
    const Eigen::Index blocks = rows == 0 ? 0 : (rows - 1) / detail::kBlock + 1;
    bool ok = true;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) reduction(&& : ok) if (blocks > 1)
#endif
    for (Eigen::Index b = 0; b < blocks; ++b) {
      const Eigen::Index end = std::min(rows, (b + 1) * detail::kBlock);
      for (Eigen::Index r = b * detail::kBlock; r < end; ++r) ok = ok && squared_norm(r) <= kMaxSquaredNorm;
    }
    (void)threads;
    if (ok) return;
    for (Eigen::Index r = 0; r < rows; ++r) {
      const double n2 = squared_norm(r);
      if (n2 <= kMaxSquaredNorm) continue;
      char text[160];
      std::snprintf(text, sizeof text, "has squared norm %.3g, above the %.3g that %s distances allow (scale the data down)",
                    n2, kMaxSquaredNorm, scalar_name<Scalar>());
      throw invalid_argument(std::string(api) + ": row " + std::to_string(r) + " of " + what + " " + text);
    }
  }

  void check_query(const Eigen::Ref<const Matrix>& X, const char* api) const {
    require_fitted(api);
    if (X.cols() != table_.d) {
      throw invalid_argument(std::string(api) + ": X has " + std::to_string(X.cols()) + " columns but the model was fitted on " +
                             std::to_string(table_.d));
    }
    if (X.rows() > std::numeric_limits<Index>::max()) throw invalid_argument(std::string(api) + ": more than 2^31-1 rows");
    const int threads = resolve_threads(options_.threads, api);
    check_finite(X, api, threads);
    check_norms(X, api, "X", threads);
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted");
  }

  /// Mean of the column variances of X (scikit-learn's scale for tol): two row-major passes
  /// over fixed blocks, sums in double added in block order (any thread count, same value).
  static double mean_column_variance(const Eigen::Ref<const Matrix>& X, int threads) {
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<std::size_t>(X.cols());
    const Index n_blocks = detail::block_count(n);
    std::vector<double> part(static_cast<std::size_t>(n_blocks) * d);
    auto pass = [&](const std::vector<double>* mean) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
      for (Index b = 0; b < n_blocks; ++b) {
        double* p = part.data() + static_cast<std::size_t>(b) * d;
        std::fill(p, p + d, 0.0);
        const Index end = std::min(n, (b + 1) * detail::kBlock);
        for (Index i = b * detail::kBlock; i < end; ++i) {
          const Scalar* x = X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride();
          for (std::size_t j = 0; j < d; ++j) {
            const double v = static_cast<double>(x[j]) - (mean != nullptr ? (*mean)[j] : 0.0);
            p[j] += mean != nullptr ? v * v : v;
          }
        }
      }
      std::vector<double> total(d, 0.0);
      for (Index b = 0; b < n_blocks; ++b) {
        for (std::size_t j = 0; j < d; ++j) total[j] += part[static_cast<std::size_t>(b) * d + j];
      }
      for (double& t : total) t /= static_cast<double>(n);
      return total;
    };
    (void)threads;
    const std::vector<double> mean = pass(nullptr);
    const std::vector<double> var = pass(&mean);
    return std::accumulate(var.begin(), var.end(), 0.0) / static_cast<double>(d);
  }

  static Scalar weight_of(std::span<const Scalar> w, Index i) { return w.empty() ? Scalar(1) : w[static_cast<std::size_t>(i)]; }

  // ---- seeding -------------------------------------------------------------------------------

  /// Starting centres. `nearest` (n entries) is k-means++'s scratch: the nearest centre chosen
  /// so far of each row.
  template <class L>
  Matrix initial_centres(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, std::uint64_t seed, int threads,
                         std::vector<L>& nearest) const {
    if (options_.init == KMeansInit::given) return options_.initial_centroids;
    Rng rng(seed);
    const auto n = static_cast<Index>(X.rows());
    Matrix centres(options_.k, X.cols());
    if (options_.init == KMeansInit::random) {
      // Floyd's algorithm: k distinct rows with O(k) memory.
      std::vector<Index> chosen;
      std::unordered_set<Index> taken;
      for (Index j = n - options_.k; j < n; ++j) {
        const auto t = static_cast<Index>(rng.below(static_cast<std::uint64_t>(j) + 1));
        const Index pick = taken.count(t) != 0 ? j : t;
        taken.insert(pick);
        chosen.push_back(pick);
      }
      for (Index c = 0; c < options_.k; ++c) centres.row(c) = X.row(chosen[static_cast<std::size_t>(c)]);
      return centres;
    }
    return kmeans_plus_plus(X, w, rng, threads, nearest);
  }

  /// Squared distance of row i to its nearest chosen centre (centres: row-major, d columns),
  /// recomputed rather than stored: the same function of the same values as when the centre
  /// was chosen, so the same float.
  template <class L>
  RECMIX_KMEANS_INLINE static Scalar closest_of(const Eigen::Ref<const Matrix>& X, const Scalar* centres, const L* nearest, Index i) {
    const auto d = static_cast<Index>(X.cols());
    return detail::squared_distance(X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride(),
                                    centres + static_cast<std::ptrdiff_t>(nearest[static_cast<std::size_t>(i)]) * d, d);
  }

  /// Index of the first point whose running sum of weight x closest reaches `target`, using
  /// the per-block totals to skip whole blocks.
  template <class L>
  static Index sample_point(double target, const std::vector<double>& block_pot, const Eigen::Ref<const Matrix>& X, const Scalar* centres,
                            const L* nearest, std::span<const Scalar> w, Index n) {
    double acc = 0.0;
    Index b = 0;
    const Index n_blocks = static_cast<Index>(block_pot.size());
    while (b < n_blocks - 1 && acc + block_pot[static_cast<std::size_t>(b)] < target) acc += block_pot[static_cast<std::size_t>(b++)];
    // Usually found inside block b; rounding may push it a little further.
    for (Index i = b * detail::kBlock; i < n; ++i) {
      acc += static_cast<double>(weight_of(w, i)) * static_cast<double>(closest_of(X, centres, nearest, i));
      if (acc >= target) return i;
    }
    // Rounding left the target beyond the total: take the last point with positive mass.
    for (Index i = n - 1; i > 0; --i) {
      if (static_cast<double>(weight_of(w, i)) * static_cast<double>(closest_of(X, centres, nearest, i)) > 0.0) return i;
    }
    return 0;
  }

  /// Potentials of the candidates over points [begin, end): pots[j] = sum of weight x
  /// min(closest, squared distance to candidate j).
  template <int W, class L>
  static void candidate_block(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const detail::CentreTable<Scalar>& table,
                              const Scalar* centres, const L* nearest, Index begin, Index end, double* pots) {
    const Index d = table.d;
    for (Index q = 0; q < table.chunks; ++q) {
      const Scalar* ct = table.transposed.data() + static_cast<std::ptrdiff_t>(q) * d * W;
      const Scalar* cn = table.norms.data() + static_cast<std::ptrdiff_t>(q) * W;
      double lane[W];
      for (int c = 0; c < W; ++c) lane[c] = 0.0;
      Scalar dist[W];
      for (Index i = begin; i < end; ++i) {
        const Scalar* x = X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride();
        detail::prefetch(x + kPrefetchRows * X.outerStride());
        detail::chunk_distances<Scalar, W>(x, detail::squared_norm(x, d), d, ct, cn, dist);
        const Scalar ci = closest_of(X, centres, nearest, i);
        const double wi = static_cast<double>(weight_of(w, i));
        RECMIX_SIMD
        for (int c = 0; c < W; ++c) lane[c] += wi * static_cast<double>(dist[c] < ci ? dist[c] : ci);
      }
      const Index first = q * W, count = std::min<Index>(W, table.k - first);
      for (Index j = 0; j < count; ++j) pots[first + j] = lane[j];
    }
  }

  /// Greedy k-means++. The squared distance of each row to its nearest chosen centre is not
  /// stored: `nearest` (the labels' storage, one byte per row for k <= 256) keeps which centre
  /// that is, and the distance is recomputed where needed.
  template <class L>
  Matrix kmeans_plus_plus(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, Rng& rng, int threads, std::vector<L>& nearest) const {
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<Index>(X.cols());
    const Index k = options_.k;
    const Index trials = options_.local_trials > 0 ? options_.local_trials
                                                   : 2 + static_cast<Index>(std::floor(std::log(static_cast<double>(k))));
    const Index n_blocks = detail::block_count(n);
    Matrix centres(k, d);
    L* near = nearest.data();
    std::vector<double> block_pot(static_cast<std::size_t>(n_blocks), 0.0);
    std::vector<double> cand_pot(static_cast<std::size_t>(n_blocks) * static_cast<std::size_t>(trials), 0.0);

    // First centre: a row drawn with probability proportional to its weight.
    Index first = 0;
    if (w.empty()) {
      first = static_cast<Index>(rng.below(static_cast<std::uint64_t>(n)));
    } else {
      double total = 0.0;
      for (Scalar v : w) total += static_cast<double>(v);
      const double target = rng.uniform() * total;
      double acc = 0.0;
      first = n - 1;
      for (Index i = 0; i < n; ++i) {
        acc += static_cast<double>(w[static_cast<std::size_t>(i)]);
        if (acc > target) {
          first = i;
          break;
        }
      }
    }
    centres.row(0) = X.row(first);

    // Centre c (already in centres) joins: each row's nearest chosen centre and distance
    // (the smaller of the old and the new, the old on a tie), per-block potentials.
    auto update_closest = [&](Index c) {
      const Scalar* centre = centres.data() + static_cast<std::ptrdiff_t>(c) * d;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
      for (Index b = 0; b < n_blocks; ++b) {
        const Index begin = b * detail::kBlock, end = std::min(n, begin + detail::kBlock);
        double pot = 0.0;
        for (Index i = begin; i < end; ++i) {
          const Scalar* x = X.data() + static_cast<std::ptrdiff_t>(i) * X.outerStride();
          detail::prefetch(x + kPrefetchRows * X.outerStride());
          const Scalar dist = detail::squared_distance(x, centre, d);
          L& a = near[static_cast<std::size_t>(i)];
          Scalar closest = dist;
          if (c == 0) {
            a = 0;
          } else {
            const Scalar old = detail::squared_distance(x, centres.data() + static_cast<std::ptrdiff_t>(a) * d, d);
            if (dist < old) {
              a = static_cast<L>(c);
            } else {
              closest = old;
            }
          }
          pot += static_cast<double>(weight_of(w, i)) * static_cast<double>(closest);
        }
        block_pot[static_cast<std::size_t>(b)] = pot;
      }
    };
    update_closest(0);

    Matrix candidates(trials, d);
    std::vector<Index> cand_index(static_cast<std::size_t>(trials));
    for (Index c = 1; c < k; ++c) {
      const double pot = std::accumulate(block_pot.begin(), block_pot.end(), 0.0);
      for (Index t = 0; t < trials; ++t) {
        const Index i = pot > 0.0 ? sample_point(rng.uniform() * pot, block_pot, X, centres.data(), near, w, n)
                                  : static_cast<Index>(rng.below(static_cast<std::uint64_t>(n)));
        cand_index[static_cast<std::size_t>(t)] = i;
        candidates.row(t) = X.row(i);
      }
      // Potential after adding each candidate: sum of weight x min(closest, distance).
      detail::CentreTable<Scalar> table;
      table.assign(candidates);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
      for (Index b = 0; b < n_blocks; ++b) {
        const Index begin = b * detail::kBlock, end = std::min(n, begin + detail::kBlock);
        double* pots = cand_pot.data() + static_cast<std::size_t>(b) * static_cast<std::size_t>(trials);
        switch (table.width) {
          case 16: candidate_block<16>(X, w, table, centres.data(), near, begin, end, pots); break;
          case 32: candidate_block<32>(X, w, table, centres.data(), near, begin, end, pots); break;
          default: candidate_block<detail::kChunk>(X, w, table, centres.data(), near, begin, end, pots); break;
        }
      }
      Index best = 0;
      double best_pot = std::numeric_limits<double>::infinity();
      for (Index j = 0; j < trials; ++j) {
        double s = 0.0;
        for (Index b = 0; b < n_blocks; ++b) s += cand_pot[static_cast<std::size_t>(b) * static_cast<std::size_t>(trials) + static_cast<std::size_t>(j)];
        if (s < best_pot) {
          best_pot = s;
          best = j;
        }
      }
      centres.row(c) = candidates.row(best);
      if (c + 1 < k) update_closest(c);
    }
    return centres;
  }

  // ---- Lloyd / Hamerly -----------------------------------------------------------------------

  /// Rows ahead the assignment pass asks the memory system for (the hardware prefetcher alone
  /// falls behind a pass that spends a few nanoseconds per row).
  static constexpr std::ptrdiff_t kPrefetchRows = 16;
  /// Rows ahead the tiles of a plain (unpruned) pass ask for.
  static constexpr std::ptrdiff_t kTilePrefetchRows = 64;

  /// Rows per segment of a block: the nearest centres of a segment's rows are found first (in
  /// tiles), then its rows are added to the centre sums in order while still in cache.
  static constexpr Index kSegment = 256;

  /// The results of one assignment pass. Each block fills a slot (k rows of padded_dim(d): the
  /// centre sums, then the mass) from a ring of `ring` slots; completed slots are added to the totals strictly
  /// in block order — the order a serial pass would use, whatever the thread count — and the
  /// slot is then reused for a later block. So the memory is the ring, not a slot per block,
  /// and threads never wait for each other unless one falls `ring` blocks behind.
  struct Accumulator {
    Index k = 0, d = 0, dp = 0, ring = 0, blocks = 0;
    std::vector<double> slots;          // ring x slot_size()
    std::vector<double> sums;           // k x d
    std::vector<double> mass;           // k
    std::vector<double> inertia;        // per block
    std::vector<std::int64_t> changed;  // per block
    std::unique_ptr<std::atomic<unsigned char>[]> done;  // per block: its slot is filled
    std::atomic<Index> next{0};    // next block to hand out
    std::atomic<Index> folded{0};  // blocks [0, folded) are in the totals
    std::mutex fold_lock;

    [[nodiscard]] std::size_t slot_size() const { return static_cast<std::size_t>(k) * static_cast<std::size_t>(dp); }
    /// Slot of block b, 64-byte aligned (whole-register loads and stores never straddle cache lines).
    [[nodiscard]] double* slot(Index b) { return detail::align64(slots.data()) + static_cast<std::size_t>(b % ring) * slot_size(); }

    void reset(Index n_blocks, Index k_, Index d_, int threads) {
      k = k_;
      d = d_;
      dp = detail::padded_dim(d);
      blocks = n_blocks;
      // About 256 KiB of slots, at least four per thread.
      const auto fit = static_cast<Index>((std::size_t{1} << 15) / slot_size());
      ring = std::max<Index>(1, std::min(n_blocks, std::max<Index>(fit, 4 * static_cast<Index>(threads))));
      slots.resize(static_cast<std::size_t>(ring) * slot_size() + 8);
      sums.assign(static_cast<std::size_t>(k) * static_cast<std::size_t>(d), 0.0);
      mass.assign(static_cast<std::size_t>(k), 0.0);
      inertia.assign(static_cast<std::size_t>(n_blocks), 0.0);
      changed.assign(static_cast<std::size_t>(n_blocks), 0);
      done = std::make_unique<std::atomic<unsigned char>[]>(static_cast<std::size_t>(n_blocks));
      for (Index b = 0; b < n_blocks; ++b) done[static_cast<std::size_t>(b)].store(0, std::memory_order_relaxed);
      next.store(0);
      folded.store(0);
    }

    /// Adds every filled slot that is next in order to the totals (if no other thread is
    /// doing so already).
    void fold_ready() {
      std::unique_lock<std::mutex> lock(fold_lock, std::try_to_lock);
      if (!lock.owns_lock()) return;
      Index f = folded.load(std::memory_order_relaxed);
      while (f < blocks && done[static_cast<std::size_t>(f)].load(std::memory_order_acquire) != 0) {
        const double* s = slot(f);
        for (Index c = 0; c < k; ++c) {
          const double* row = s + static_cast<std::size_t>(c) * static_cast<std::size_t>(dp);
          double* total = sums.data() + static_cast<std::size_t>(c) * static_cast<std::size_t>(d);
          for (Index j = 0; j < d; ++j) total[j] += row[j];
          mass[static_cast<std::size_t>(c)] += row[d];
        }
        folded.store(++f, std::memory_order_release);
      }
    }
  };

  template <class L>
  KMeansReport run_lloyd(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, Matrix& centres, std::vector<L>& labels,
                         double tol, int threads, FitObserver& observer, const recmix::detail::Stopwatch& total) const {
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<Index>(X.cols());
    const Index k = options_.k;
    const Index n_blocks = detail::block_count(n);
    const bool hamerly = options_.algorithm == KMeansAlgorithm::hamerly;
    std::vector<Scalar> upper, lower;
    if (hamerly) {
      upper.assign(static_cast<std::size_t>(n), Scalar(0));
      lower.assign(static_cast<std::size_t>(n), Scalar(0));
    }
    // Pruning margin (squared distance): covers the rounding of ‖x‖² − 2x·c + ‖c‖².
    const double max_x_norm = hamerly ? max_squared_norm(X, threads) : 0.0;
    Accumulator acc;
    detail::CentreTable<Scalar> table;
    std::vector<double> half_sep(static_cast<std::size_t>(k), 0.0);  // Hamerly s(c): half the distance to the nearest other centre
    std::vector<double> shift(static_cast<std::size_t>(k), 0.0);
    KMeansReport report;
    bool bounds_valid = false;  // Hamerly's bounds hold for the current labels and centres
    Matrix next(k, d);
    int it = 1;
    for (; it <= options_.max_iter; ++it) {
      recmix::detail::Stopwatch watch;
      table.assign(centres);
      double margin = 0.0;
      if (hamerly) {
        double max_c_norm = 0.0;
        for (Scalar v : table.norms) {
          if (std::isfinite(v)) max_c_norm = std::max(max_c_norm, static_cast<double>(v));  // padding lanes are +inf
        }
        margin = 64.0 * static_cast<double>(std::numeric_limits<Scalar>::epsilon()) * (d + 3) * (max_x_norm + max_c_norm) + 1e-30;
        for (Index c = 0; c < k; ++c) {
          double nearest = std::numeric_limits<double>::infinity();
          for (Index o = 0; o < k; ++o) {
            if (o != c) nearest = std::min(nearest, (centres.row(c).template cast<double>() - centres.row(o).template cast<double>()).norm());
          }
          half_sep[static_cast<std::size_t>(c)] = k > 1 ? nearest / 2.0 : std::numeric_limits<double>::infinity();
        }
      }
      assign(X, w, table, labels.data(), hamerly ? upper.data() : nullptr, hamerly ? lower.data() : nullptr, half_sep, margin,
             hamerly && bounds_valid, acc, threads);
      bounds_valid = hamerly;
      double inertia = 0.0;
      std::int64_t changed = 0;
      for (Index b = 0; b < n_blocks; ++b) {
        inertia += acc.inertia[static_cast<std::size_t>(b)];
        changed += acc.changed[static_cast<std::size_t>(b)];
      }
      // New centres: weighted means (the blocks were added in order).
      std::vector<double>& sums = acc.sums;
      std::vector<double>& mass = acc.mass;
      if (relocate_empty(X, w, centres, labels, sums, mass)) bounds_valid = false;
      double shift_total = 0.0;
      for (Index c = 0; c < k; ++c) {
        double s2 = 0.0;
        for (Index j = 0; j < d; ++j) {
          const double v = sums[static_cast<std::size_t>(c) * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] /
                           mass[static_cast<std::size_t>(c)];
          next(c, j) = static_cast<Scalar>(v);
          const double dv = static_cast<double>(next(c, j)) - static_cast<double>(centres(c, j));
          s2 += dv * dv;
        }
        shift[static_cast<std::size_t>(c)] = std::sqrt(s2);
        shift_total += s2;
      }
      if (hamerly) update_bounds(labels, upper, lower, shift, threads);  // part of the iteration's time
      IterationInfo info;
      info.iteration = it;
      info.total = options_.max_iter;
      info.seconds = watch.seconds();
      info.elapsed_seconds = total.seconds();
      info.loss = inertia;
      report.iteration_seconds.push_back(info.seconds);
      report.loss.push_back(inertia);
      report.iterations = it;
      observer.on_iteration(info);
      std::swap(centres, next);
      if (it > 1 && changed == 0) break;  // labels did not move: the centres are the means already
      if (shift_total <= tol) break;
    }
    report.converged = it <= options_.max_iter;
    // Final labels and inertia with the final centres (Hamerly's bounds are no longer needed).
    upper = {};
    lower = {};
    table.assign(centres);
    assign(X, w, table, labels.data(), static_cast<Scalar*>(nullptr), static_cast<Scalar*>(nullptr), half_sep, 0.0, false, acc, threads);
    report.inertia = exact_inertia(X, w, centres, labels, threads);
    return report;
  }

  /// Largest ‖x‖² over the rows (in Scalar, as Hamerly's margin has always used), per block in
  /// parallel.
  static double max_squared_norm(const Eigen::Ref<const Matrix>& X, int threads) {
    const auto n = static_cast<Index>(X.rows());
    const Index n_blocks = detail::block_count(n);
    std::vector<double> part(static_cast<std::size_t>(n_blocks), 0.0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      const Index begin = b * detail::kBlock, end = std::min(n, begin + detail::kBlock);
      double m = 0.0;
      for (Index i = begin; i < end; ++i) m = std::max(m, static_cast<double>(X.row(i).squaredNorm()));
      part[static_cast<std::size_t>(b)] = m;
    }
    (void)threads;
    return part.empty() ? 0.0 : *std::max_element(part.begin(), part.end());
  }

  /// Per-thread working memory of an assignment pass.
  struct AssignScratch {
    detail::Tile<Scalar> tile;
    std::vector<Scalar> kernel;
    std::vector<Index> todo;
    explicit AssignScratch(Index d) : kernel(detail::tile_scratch_size(d)), todo(static_cast<std::size_t>(kSegment)) {}
  };

  /// One assignment pass over fixed blocks: labels, centre sums and weights, per-block inertia
  /// and number of changed labels (in `acc`). `upper`/`lower`: Hamerly's bounds, set for every
  /// point whose nearest centre is computed (null for plain Lloyd). With `prune`, Hamerly's
  /// test skips points whose nearest centre cannot have changed (bounds already moved by
  /// update_bounds).
  template <class L>
  void assign(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const detail::CentreTable<Scalar>& table, L* labels,
              Scalar* upper, Scalar* lower, const std::vector<double>& half_sep, double margin, bool prune, Accumulator& acc,
              int threads) const {
    const auto n = static_cast<Index>(X.rows());
    const Index d = table.d, k = table.k;
    const Index n_blocks = detail::block_count(n);
    acc.reset(n_blocks, k, d, threads);
    const Index dp = acc.dp;
    // Row-major double copy of the centres (rows padded to dp with zeros) for the exact
    // per-point inertia.
    std::vector<double> centres_buffer(static_cast<std::size_t>(k) * static_cast<std::size_t>(dp) + 8, 0.0);
    double* centres_d = detail::align64(centres_buffer.data());
    for (Index c = 0; c < k; ++c) {
      for (Index j = 0; j < d; ++j) {
        centres_d[static_cast<std::size_t>(c) * static_cast<std::size_t>(dp) + static_cast<std::size_t>(j)] =
            static_cast<double>(table.rows[static_cast<std::size_t>(c) * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)]);
      }
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
      AssignScratch scratch(d);
      for (;;) {
        const Index b = acc.next.fetch_add(1, std::memory_order_relaxed);
        if (b >= n_blocks) break;
        // Wait until block b - ring has been added, so its slot is free (help adding meanwhile).
        while (b - acc.folded.load(std::memory_order_acquire) >= acc.ring) {
          acc.fold_ready();
          std::this_thread::yield();
        }
        assign_block(X, w, table, centres_d, labels, upper, lower, half_sep, margin, prune, b, acc.slot(b), acc, scratch);
        acc.done[static_cast<std::size_t>(b)].store(1, std::memory_order_release);
        acc.fold_ready();
      }
    }
    acc.fold_ready();  // blocks whose fold a busy lock skipped
    (void)threads;
  }

  /// Block b of an assignment pass: its slot gets the padded centre sums and the masses.
  template <class L>
  static void assign_block(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const detail::CentreTable<Scalar>& table,
                           const double* centres_d, L* labels, Scalar* upper, Scalar* lower, const std::vector<double>& half_sep,
                           double margin, bool prune, Index b, double* slot, Accumulator& acc, AssignScratch& scratch) {
    const auto n = static_cast<Index>(X.rows());
    const Index d = table.d;
    const std::ptrdiff_t ld = X.outerStride();
    const bool bounds = upper != nullptr;
    const Index begin = b * detail::kBlock, end = std::min(n, begin + detail::kBlock);
    std::fill(slot, slot + acc.slot_size(), 0.0);
    detail::Tile<Scalar>& tile = scratch.tile;
    Index* todo = scratch.todo.data();
    double inertia = 0.0;
    std::int64_t changed = 0;
    for (Index s0 = begin; s0 < end; s0 += kSegment) {
      const Index s1 = std::min(end, s0 + kSegment);
      // The rows whose nearest centre is needed.
      Index m = 0;
      for (Index i = s0; i < s1; ++i) {
        bool skip = false;
        if (prune) {
          const auto a = static_cast<std::size_t>(labels[static_cast<std::size_t>(i)]);
          const double u = upper[static_cast<std::size_t>(i)];
          const double z = std::max(static_cast<double>(lower[static_cast<std::size_t>(i)]), half_sep[a]);
          skip = u < z && (z - u) * (z + u) > margin;  // the nearest centre cannot have changed
        }
        todo[m] = i;
        m += skip ? 0 : 1;
      }
      for (Index t0 = 0; t0 < m; t0 += detail::kTile) {
        tile.count = static_cast<int>(std::min<Index>(detail::kTile, m - t0));
        for (int l = 0; l < tile.count; ++l) {
          tile.rows[l] = X.data() + static_cast<std::ptrdiff_t>(todo[t0 + l]) * ld;
          if (!prune) detail::prefetch(tile.rows[l] + kTilePrefetchRows * ld);
        }
        detail::nearest_tile(table, tile, bounds, scratch.kernel.data());
        for (int l = 0; l < tile.count; ++l) {
          const auto i = static_cast<std::size_t>(todo[t0 + l]);
          const Index c = tile.index[l];
          changed += static_cast<Index>(labels[i]) != c;
          labels[i] = static_cast<L>(c);
          if (bounds) {
            const Scalar xn = detail::squared_norm(tile.rows[l], d);
            upper[i] = std::sqrt(std::max(Scalar(0), xn + tile.best[l]));
            lower[i] = std::sqrt(std::max(Scalar(0), xn + tile.second[l]));
          }
        }
      }
      // Centre sums, masses and inertia, row by row in order (the rows a pruned pass skipped
      // are read here first: then ask for them ahead).
      inertia += detail::accumulate_rows(X.data(), ld, d, s0, s1, labels, w.empty() ? nullptr : w.data(), slot, centres_d,
                                         prune ? kPrefetchRows : 0);
    }
    acc.inertia[static_cast<std::size_t>(b)] = inertia;
    acc.changed[static_cast<std::size_t>(b)] = changed;
  }

  /// Moves Hamerly's bounds by the centre shifts: the upper bound grows by its centre's shift,
  /// the lower bound shrinks by the largest shift of any other centre.
  template <class L>
  static void update_bounds(const std::vector<L>& labels, std::vector<Scalar>& upper, std::vector<Scalar>& lower,
                            const std::vector<double>& shift, int threads) {
    std::size_t first = 0;
    for (std::size_t c = 1; c < shift.size(); ++c) {
      if (shift[c] > shift[first]) first = c;
    }
    double second = 0.0;
    for (std::size_t c = 0; c < shift.size(); ++c) {
      if (c != first) second = std::max(second, shift[c]);
    }
    const auto n = static_cast<std::ptrdiff_t>(labels.size());
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (std::ptrdiff_t i = 0; i < n; ++i) {
      const auto a = static_cast<std::size_t>(labels[static_cast<std::size_t>(i)]);
      Scalar& u = upper[static_cast<std::size_t>(i)];
      Scalar& l = lower[static_cast<std::size_t>(i)];
      u = static_cast<Scalar>(static_cast<double>(u) + shift[a]);
      l = static_cast<Scalar>(std::max(0.0, static_cast<double>(l) - (a == first ? second : shift[first])));
    }
    (void)threads;
  }

  /// Empty clusters take the points farthest from their centres (farthest first, ties to the
  /// lower row), which leave their old clusters' sums.
  /// Returns whether any point moved.
  template <class L>
  bool relocate_empty(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const Matrix& centres, std::vector<L>& labels,
                      std::vector<double>& sums, std::vector<double>& mass) const {
    const Index k = options_.k;
    const auto d = static_cast<Index>(X.cols());
    std::vector<Index> empty;
    for (Index c = 0; c < k; ++c) {
      if (!(mass[static_cast<std::size_t>(c)] > 0.0)) empty.push_back(c);
    }
    if (empty.empty()) return false;
    const auto n = static_cast<Index>(X.rows());
    std::vector<std::pair<double, Index>> far;  // (distance², row) of the farthest points
    far.reserve(empty.size() + 1);
    auto worse = [](const std::pair<double, Index>& a, const std::pair<double, Index>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (Index i = 0; i < n; ++i) {
      if (weight_of(w, i) <= Scalar(0)) continue;
      const auto a = static_cast<Index>(labels[static_cast<std::size_t>(i)]);
      const double d2 = (X.row(i).template cast<double>() - centres.row(a).template cast<double>()).squaredNorm();
      if (far.size() < empty.size() || worse({d2, i}, far.back())) {
        far.emplace_back(d2, i);
        std::sort(far.begin(), far.end(), worse);
        if (far.size() > empty.size()) far.pop_back();
      }
    }
    for (std::size_t e = 0; e < empty.size() && e < far.size(); ++e) {
      const Index i = far[e].second, c = empty[e];
      const auto old = static_cast<Index>(labels[static_cast<std::size_t>(i)]);
      const double wi = static_cast<double>(weight_of(w, i));
      for (Index j = 0; j < d; ++j) {
        const double v = wi * static_cast<double>(X(i, j));
        sums[static_cast<std::size_t>(old) * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] -= v;
        sums[static_cast<std::size_t>(c) * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] = v;
      }
      mass[static_cast<std::size_t>(old)] -= wi;
      mass[static_cast<std::size_t>(c)] = wi;
      labels[static_cast<std::size_t>(i)] = static_cast<L>(c);
    }
    // A cluster emptied by giving its only point away keeps its centre (weight 0 would divide by 0).
    for (Index c = 0; c < k; ++c) {
      if (!(mass[static_cast<std::size_t>(c)] > 0.0)) {
        for (Index j = 0; j < d; ++j) sums[static_cast<std::size_t>(c) * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)] = centres(c, j);
        mass[static_cast<std::size_t>(c)] = 1.0;
      }
    }
    return true;
  }

  template <class L>
  static double exact_inertia(const Eigen::Ref<const Matrix>& X, std::span<const Scalar> w, const Matrix& centres,
                              const std::vector<L>& labels, int threads) {
    const auto n = static_cast<Index>(X.rows());
    const Index n_blocks = detail::block_count(n);
    std::vector<double> part(static_cast<std::size_t>(n_blocks), 0.0);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      const Index begin = b * detail::kBlock, end = std::min(n, begin + detail::kBlock);
      double s = 0.0;
      for (Index i = begin; i < end; ++i) {
        const auto a = static_cast<Index>(labels[static_cast<std::size_t>(i)]);
        s += static_cast<double>(weight_of(w, i)) *
             (X.row(i).template cast<double>() - centres.row(a).template cast<double>()).squaredNorm();
      }
      part[static_cast<std::size_t>(b)] = s;
    }
    (void)threads;
    return std::accumulate(part.begin(), part.end(), 0.0);
  }

  /// Training labels in the narrowest type that holds k - 1.
  using LabelVector = std::variant<std::vector<std::uint8_t>, std::vector<std::uint16_t>, std::vector<Index>>;

  static LabelVector label_vector(Index k) {
    if (k <= 256) return LabelVector(std::in_place_index<0>);
    if (k <= 65536) return LabelVector(std::in_place_index<1>);
    return LabelVector(std::in_place_index<2>);
  }

  Options options_;
  Matrix centroids_;
  LabelVector labels_;
  double inertia_ = 0.0;
  int iterations_ = 0;
  detail::CentreTable<Scalar> table_;
};

}  // namespace recmix::cluster
