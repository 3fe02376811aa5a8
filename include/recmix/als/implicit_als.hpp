#pragma once
/// @file
/// Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with a conjugate-gradient solver.
///
/// @code
/// #include <recmix/als/implicit_als.hpp>
/// recmix::als::ImplicitALS<float> als({.factors = 64, .regularization = 0.01, .iterations = 15});
/// recmix::FitReport report = als.fit(user_items, recmix::ProgressBar{std::cerr});
/// std::vector<recmix::Index> users = {0, 1, 2};
/// recmix::Recommendations top = als.recommend(users, user_items.select_rows(users), 10);
/// recmix::Recommendations like = als.similar_items(std::vector<recmix::Index>{7}, 5);
/// @endcode
///
/// Model: preference p_ui = [r_ui > 0], confidence c_ui = 1 + alpha r_ui (or alpha r_ui, see
/// Confidence), and the fit minimises
///   sum_ui c_ui (p_ui - x_u^T y_i)^2 + lambda (|X|^2 + |Y|^2)
/// by alternating half-sweeps: users given items, then items given users. Each row is solved by
/// `cg_steps` conjugate-gradient steps warm-started from its current value (Takacs et al. 2011),
/// or exactly by Cholesky. Results are bit-identical for any thread count.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "recmix/als/solvers.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/recommend.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/topk.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix::als {

/// Per-row solver used by fit().
enum class Solver {
  conjugate_gradient,  ///< `cg_steps` CG steps per row, warm-started (fast; the default)
  cholesky,            ///< exact solve per row (for verification and small models)
};

/// Options of ImplicitALS; every field has a documented default (see docs/als.md).
struct Options {
  Index factors = 64;                 ///< latent dimension f
  double regularization = 0.01;       ///< lambda, on both factor matrices
  double alpha = 1.0;                 ///< confidence scale
  int iterations = 15;                ///< alternating sweeps (users then items)
  int cg_steps = 3;                   ///< CG steps per row per half-sweep
  Solver solver = Solver::conjugate_gradient;
  Confidence confidence = Confidence::one_plus_alpha_r;
  int threads = 0;                    ///< 0 = all cores
  std::uint64_t seed = 42;            ///< initial factors: uniform [0, init_scale) from this seed
  bool calculate_loss = false;        ///< compute the training loss after every iteration
  double init_scale = 0.01;
};

/// Options of similar_items / similar_users.
struct SimilarOptions {
  bool exclude_self = false;  ///< implicit returns the query itself first; set true to drop it
  int threads = 0;
};

template <class Scalar = float>
class ImplicitALS {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "ImplicitALS: Scalar must be float or double");

 public:
  using scalar_type = Scalar;
  using Options = als::Options;
  using Factors = RowMatrix<Scalar>;
  static constexpr const char* kModelKind = "implicit_als";
  static constexpr unsigned kFormatVersion = 1;
  /// Largest `threads` option accepted (a model file asking for more is refused, not obeyed).
  static constexpr int kMaxThreads = 1024;
  /// Largest confidence (1 + alpha r, or alpha r) of any interaction that fit, loss,
  /// partial_fit_users and fold-in accept (invalid_argument beyond it). Beyond it the solves
  /// lose the solution without any error (measured): float conjugate-gradient steps go wrong
  /// from confidences of about 1e10 and give NaN factors from about 1e19; the exact solve (in
  /// double) gives NaN from about 1e16 with float factors and 1e18 with double ones, once the
  /// regularisation and the 1 of 1 + alpha r vanish in its rounding.
  static constexpr double kMaxConfidence = std::is_same_v<Scalar, float> ? 1e9 : 1e15;

  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit ImplicitALS(const Options& options = {}) : options_(options) { validate_options(options_, "ImplicitALS"); }

  /// Fits user and item factors to a users x items matrix of non-negative weights.
  /// The model is replaced only when the whole fit succeeds.
  FitReport fit(const InteractionMatrix& user_items, FitObserver& observer) {
    constexpr const char* api = "ImplicitALS::fit";
    validate_matrix(user_items, api);
    const int threads = resolve_threads(options_.threads, api);
    recmix::detail::Stopwatch total;
    recmix::detail::EigenSerialGuard serial_eigen;
    FitReport report;
    report.threading = threading_description(threads);
    observer.on_begin("ImplicitALS", options_.iterations, report.threading);

    Factors X = random_factors(user_items.rows(), 0x5553455253ULL, threads);
    Factors Y = random_factors(user_items.cols(), 0x4954454d53ULL, threads);
    const bool exact = options_.solver == Solver::cholesky;
    // Items x users order is needed unless the items half-sweep can stream users in order
    // (few items, wide form, CG): then the transpose is never built.
    const bool stream_users = !exact && user_items.cols() <= detail::kBlockRows &&
                              !detail::prefer_narrow(user_items.rows(), options_.factors, user_items.nnz(), user_items.cols(),
                                                     options_.cg_steps);
    const InteractionMatrix item_users = stream_users ? InteractionMatrix() : user_items.transpose();
    const auto conf = confidence_map();
    const auto lambda = static_cast<Scalar>(options_.regularization);

    for (int it = 1; it <= options_.iterations; ++it) {
      recmix::detail::Stopwatch watch;
      {
        detail::HalfSweep<Scalar> users(user_items, Y, conf, lambda, options_.cg_steps, threads, exact);
        exact ? detail::cholesky_sweep(users, X) : detail::cg_sweep(users, X);
      }
      {
        detail::HalfSweep<Scalar> items(stream_users ? nullptr : &item_users, &user_items, X, conf, lambda,
                                        options_.cg_steps, threads, exact);
        exact ? detail::cholesky_sweep(items, Y) : detail::cg_sweep(items, Y);
      }
      IterationInfo info;
      info.iteration = it;
      info.total = options_.iterations;
      info.seconds = watch.seconds();
      if (options_.calculate_loss) info.loss = detail::loss(user_items, X, Y, conf, lambda, threads);
      info.elapsed_seconds = total.seconds();
      report.iteration_seconds.push_back(info.seconds);
      report.loss.push_back(info.loss);
      report.iterations = it;
      observer.on_iteration(info);
    }
    user_factors_ = std::move(X);
    item_factors_ = std::move(Y);
    refresh_cache(threads);
    report.seconds = total.seconds();
    observer.on_end(report);
    return report;
  }

  FitReport fit(const InteractionMatrix& user_items) {
    NullObserver none;
    return fit(user_items, none);
  }
  FitReport fit(const InteractionMatrix& user_items, FitObserver&& observer) { return fit(user_items, observer); }

  /// Training loss of the current factors on `user_items` (implicit's definition; see solvers.hpp).
  [[nodiscard]] double loss(const InteractionMatrix& user_items) const {
    constexpr const char* api = "ImplicitALS::loss";
    require_fitted(api);
    validate_matrix(user_items, api);
    if (user_items.rows() != num_users() || user_items.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": matrix is " + shape(user_items) + " but the model is " +
                             std::to_string(num_users()) + " x " + std::to_string(num_items()));
    }
    recmix::detail::EigenSerialGuard serial_eigen;
    return detail::loss(user_items, user_factors_, item_factors_, confidence_map(),
                        static_cast<Scalar>(options_.regularization), resolve_threads(options_.threads, api));
  }

  // ---- Recommender -------------------------------------------------------------------------

  [[nodiscard]] Index num_items() const noexcept { return static_cast<Index>(item_factors_.rows()); }
  [[nodiscard]] Index num_users() const noexcept { return static_cast<Index>(user_factors_.rows()); }
  [[nodiscard]] Index factors() const noexcept { return options_.factors; }
  [[nodiscard]] bool is_fitted() const noexcept { return item_factors_.rows() > 0; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const Factors& user_factors() const noexcept { return user_factors_; }
  [[nodiscard]] const Factors& item_factors() const noexcept { return item_factors_; }

  /// Scores = x_u . y_i for every batch user and item. A user marked kNewUser who has a history
  /// row in the batch is folded in on the fly (exact solve with the items fixed); one with no
  /// history gets a row of zeros and can_score() == 0. Any other id outside [0, num_users) throws.
  void score(const UserBatch& batch, ScoreBlock out) const {
    constexpr const char* api = "ImplicitALS::score";
    require_fitted(api);
    if (out.rows() != batch.size() || out.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": output is " + std::to_string(out.rows()) + " x " +
                             std::to_string(out.cols()) + ", expected " + std::to_string(batch.size()) + " x " +
                             std::to_string(num_items()));
    }
    const Index n = batch.size();
    const Index f = options_.factors;
    // The product below reads Eigen's global thread count, which every recmix parallel region
    // sets (EigenSerialGuard) and restores: reading it outside a guard races with another
    // thread's guard. Under the guard the product also stays on the calling thread.
    recmix::detail::EigenSerialGuard serial_eigen;
    Factors Xb(n, f);
    for (Index r = 0; r < n; ++r) {
      const Index u = batch.users()[static_cast<std::size_t>(r)];
      if (u >= 0 && u < num_users()) {
        Xb.row(r) = user_factors_.row(u);
      } else if (u == kNewUser) {
        fold_in(batch.history_row(r), Xb.row(r), api);
      } else {
        throw invalid_argument(std::string(api) + ": user " + std::to_string(u) + " >= num_users (" +
                               std::to_string(num_users()) + ")" + (u < 0 ? " or negative" : ""));
      }
    }
    if constexpr (std::is_same_v<Scalar, float>) {
      out.noalias() = Xb * item_factors_.transpose();
    } else {
      out = (Xb * item_factors_.transpose()).template cast<float>();
    }
  }

  /// 1 for known users and for new users with a non-empty history row; 0 otherwise.
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    if (mask.size() != static_cast<std::size_t>(batch.size())) {
      throw invalid_argument("ImplicitALS::can_score: mask has " + std::to_string(mask.size()) + " entries, batch has " +
                             std::to_string(batch.size()));
    }
    for (Index r = 0; r < batch.size(); ++r) {
      const Index u = batch.users()[static_cast<std::size_t>(r)];
      mask[static_cast<std::size_t>(r)] =
          (u >= 0 && u < num_users()) || (u == kNewUser && is_fitted() && !batch.history_row(r).empty()) ? 1 : 0;
    }
  }

  // ---- the verbs implicit's users know -----------------------------------------------------

  /// Top-k for `users`; row r of `user_items` is users[r]'s history (filtered when
  /// opt.exclude_history). Users may be kNewUser: they are folded in from their history row.
  [[nodiscard]] Recommendations recommend(std::span<const Index> users, const InteractionMatrix& user_items, Index k,
                                          const RecommendOptions& opt = {}) const {
    require_fitted("ImplicitALS::recommend");
    UserBatch batch(users, &user_items, HistoryRows::aligned);
    return recmix::recommend(*this, batch, k, opt);
  }

  /// The k items most similar to each query item, by cosine similarity of item factors.
  [[nodiscard]] Recommendations similar_items(std::span<const Index> items, Index k, const SimilarOptions& opt = {}) const {
    require_fitted("ImplicitALS::similar_items");
    return similar(item_factors_, items, k, opt, "ImplicitALS::similar_items", "item");
  }

  /// The k users most similar to each query user, by cosine similarity of user factors.
  [[nodiscard]] Recommendations similar_users(std::span<const Index> users, Index k, const SimilarOptions& opt = {}) const {
    require_fitted("ImplicitALS::similar_users");
    return similar(user_factors_, users, k, opt, "ImplicitALS::similar_users", "user");
  }

  /// Fold-in: recomputes the factors of `users` from their histories (row r of `user_items` is
  /// users[r]'s), item factors fixed, each row solved exactly. Users at or beyond num_users()
  /// are added (rows in between, if any, start at zero). Strong guarantee on throw.
  void partial_fit_users(std::span<const Index> users, const InteractionMatrix& user_items) {
    constexpr const char* api = "ImplicitALS::partial_fit_users";
    require_fitted(api);
    if (static_cast<std::size_t>(user_items.rows()) != users.size()) {
      throw invalid_argument(std::string(api) + ": user_items has " + std::to_string(user_items.rows()) +
                             " rows for " + std::to_string(users.size()) + " users");
    }
    if (user_items.cols() != num_items()) {
      throw invalid_argument(std::string(api) + ": user_items has " + std::to_string(user_items.cols()) +
                             " columns but the model has " + std::to_string(num_items()) + " items");
    }
    validate_matrix(user_items, api, /*allow_empty=*/true);
    Index max_user = num_users() - 1;
    std::vector<Index> sorted(users.begin(), users.end());
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t k = 0; k < sorted.size(); ++k) {
      if (sorted[k] < 0) throw invalid_argument(std::string(api) + ": negative user id " + std::to_string(sorted[k]));
      if (k > 0 && sorted[k] == sorted[k - 1]) {
        throw invalid_argument(std::string(api) + ": user " + std::to_string(sorted[k]) + " listed twice");
      }
      max_user = std::max(max_user, sorted[k]);
    }
    const int threads = resolve_threads(options_.threads, api);
    recmix::detail::EigenSerialGuard serial_eigen;
    Factors solved(static_cast<Index>(users.size()), options_.factors);
    const auto s = sweep_for(user_items, threads);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
#endif
    for (Index r = 0; r < static_cast<Index>(users.size()); ++r) {
      detail::cholesky_solve_row(s, user_items.row(r), solved.row(r));
    }
    if (max_user >= num_users()) {
      Factors grown = Factors::Zero(max_user + 1, options_.factors);
      grown.topRows(num_users()) = user_factors_;
      user_factors_.swap(grown);
    }
    for (std::size_t r = 0; r < users.size(); ++r) user_factors_.row(users[r]) = solved.row(static_cast<Index>(r));
  }

  /// Boost.Serialization hook; use recmix::save / recmix::load from <recmix/io/serialization.hpp>.
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "factors", options_.factors);
    archive_field(ar, "regularization", options_.regularization);
    archive_field(ar, "alpha", options_.alpha);
    archive_field(ar, "iterations", options_.iterations);
    archive_field(ar, "cg_steps", options_.cg_steps);
    archive_field(ar, "solver", options_.solver);
    archive_field(ar, "confidence", options_.confidence);
    archive_field(ar, "threads", options_.threads);
    archive_field(ar, "seed", options_.seed);
    archive_field(ar, "calculate_loss", options_.calculate_loss);
    archive_field(ar, "init_scale", options_.init_scale);
    archive_field(ar, "user_factors", user_factors_);
    archive_field(ar, "item_factors", item_factors_);
  }

  /// Called by recmix::load after deserialising into a fresh model: checks consistency (throws
  /// model_format_error) and rebuilds caches.
  void on_loaded() {
    try {
      validate_options(options_, "ImplicitALS::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    if (user_factors_.cols() != options_.factors || item_factors_.cols() != options_.factors ||
        item_factors_.rows() == 0) {
      throw model_format_error("ImplicitALS::load: factor matrices do not match factors = " +
                               std::to_string(options_.factors));
    }
    if (!user_factors_.allFinite() || !item_factors_.allFinite()) {
      throw model_format_error("ImplicitALS::load: factor matrices hold NaN or Inf");
    }
    refresh_cache(resolve_threads(0));
  }

 private:
  static void validate_options(const Options& o, const char* api) {
    const std::string who(api);
    if (o.factors < 1) throw invalid_argument(who + ": factors must be >= 1, got " + std::to_string(o.factors));
    if (!(o.regularization >= 0.0) || !std::isfinite(o.regularization)) {
      throw invalid_argument(who + ": regularization must be finite and >= 0, got " + std::to_string(o.regularization));
    }
    if (!(o.alpha > 0.0) || !(o.alpha <= kMaxConfidence)) {  // a weight of 1 must have a usable confidence
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g", kMaxConfidence);
      throw invalid_argument(who + ": alpha must be finite, > 0 and <= kMaxConfidence (" + limit + "), got " +
                             std::to_string(o.alpha));
    }
    if (o.iterations < 0) throw invalid_argument(who + ": iterations must be >= 0, got " + std::to_string(o.iterations));
    if (o.cg_steps < 1) throw invalid_argument(who + ": cg_steps must be >= 1, got " + std::to_string(o.cg_steps));
    if (o.threads < 0 || o.threads > kMaxThreads) {
      throw invalid_argument(who + ": threads must be in [0, " + std::to_string(kMaxThreads) + "], got " +
                             std::to_string(o.threads));
    }
    if (!(o.init_scale > 0.0) || !std::isfinite(o.init_scale)) {
      throw invalid_argument(who + ": init_scale must be finite and > 0, got " + std::to_string(o.init_scale));
    }
    if (o.solver != Solver::conjugate_gradient && o.solver != Solver::cholesky) throw invalid_argument(who + ": unknown solver");
    if (o.confidence != Confidence::one_plus_alpha_r && o.confidence != Confidence::alpha_r) {
      throw invalid_argument(who + ": unknown confidence convention");
    }
  }

  static std::string shape(const InteractionMatrix& m) {
    return std::to_string(m.rows()) + " x " + std::to_string(m.cols());
  }

  void validate_matrix(const InteractionMatrix& m, const char* api, bool allow_empty = false) const {
    if (!allow_empty && (m.rows() == 0 || m.cols() == 0)) {
      throw invalid_argument(std::string(api) + ": empty matrix (" + shape(m) + ")");
    }
    const auto values = m.values();
    const auto indptr = m.indptr();
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (!(values[k] >= 0.0f) || !std::isfinite(values[k])) {
        const auto row = static_cast<Index>(std::upper_bound(indptr.begin(), indptr.end(), static_cast<Offset>(k)) -
                                            indptr.begin() - 1);
        throw invalid_argument(std::string(api) + ": weight " + std::to_string(values[k]) + " at user " +
                               std::to_string(row) + ", item " + std::to_string(m.indices()[k]) +
                               " is negative or not finite");
      }
      if (confidence_of(values[k]) > kMaxConfidence) {
        const auto row = static_cast<Index>(std::upper_bound(indptr.begin(), indptr.end(), static_cast<Offset>(k)) -
                                            indptr.begin() - 1);
        confidence_too_large(api, values[k], "at user " + std::to_string(row) + ", item " + std::to_string(m.indices()[k]));
      }
    }
  }

  /// The confidence of weight w, in double.
  [[nodiscard]] double confidence_of(double w) const {
    return options_.confidence == Confidence::one_plus_alpha_r ? 1.0 + options_.alpha * w : options_.alpha * w;
  }

  [[noreturn]] void confidence_too_large(const char* api, float weight, const std::string& where) const {
    char text[256];
    std::snprintf(text, sizeof text, "weight %g %s gives confidence %g (alpha = %g), above kMaxConfidence = %g for %s factors",
                  static_cast<double>(weight), where.c_str(), confidence_of(weight), options_.alpha, kMaxConfidence,
                  scalar_name<Scalar>());
    throw invalid_argument(std::string(api) + ": " + text + " (scale the weights or alpha down)");
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted (call fit or load first)");
  }

  [[nodiscard]] detail::ConfidenceMap<Scalar> confidence_map() const {
    return {static_cast<Scalar>(options_.alpha), options_.confidence};
  }

  /// A sweep context for solving user rows against the fitted items, with the cached Gram matrix.
  [[nodiscard]] detail::HalfSweep<Scalar> sweep_for(const InteractionMatrix& m, int threads) const {
    detail::HalfSweep<Scalar> s(m, item_factors_, confidence_map(), static_cast<Scalar>(options_.regularization),
                                options_.cg_steps, threads, /*need_gram=*/false);
    s.Gd = item_gram_;
    return s;
  }

  void fold_in(SparseRow history, Eigen::Ref<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> x, const char* api) const {
    for (std::size_t k = 0; k < history.size(); ++k) {
      if (history.indices[k] < 0 || history.indices[k] >= num_items()) {
        throw invalid_argument(std::string(api) + ": history item " + std::to_string(history.indices[k]) +
                               " >= num_items (" + std::to_string(num_items()) + ")");
      }
      if (!(history.values[k] >= 0.0f)) {
        throw invalid_argument(std::string(api) + ": history weight " + std::to_string(history.values[k]) +
                               " is negative or NaN");
      }
      if (confidence_of(history.values[k]) > kMaxConfidence) {
        confidence_too_large(api, history.values[k], "of history item " + std::to_string(history.indices[k]));
      }
    }
    static const InteractionMatrix none;
    const auto s = sweep_for(none, 1);
    detail::cholesky_solve_row(s, history, x);
  }

  void refresh_cache(int threads) {
    item_gram_ = detail::gram(item_factors_, options_.regularization, threads);
  }

  /// Uniform [0, init_scale) from a counter-based hash of (seed, salt, row, column): the same
  /// values for any thread count.
  Factors random_factors(Index rows, std::uint64_t salt, int threads) const {
    Factors F(rows, options_.factors);
    const auto f = static_cast<std::uint64_t>(options_.factors);
    const auto scale = options_.init_scale;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (Index r = 0; r < rows; ++r) {
      for (Index c = 0; c < options_.factors; ++c) {
        std::uint64_t z = options_.seed ^ (salt * 0x9E3779B97F4A7C15ULL) ^
                          ((static_cast<std::uint64_t>(r) * f + static_cast<std::uint64_t>(c)) * 0xD1B54A32D192ED03ULL);
        z += 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        F(r, c) = static_cast<Scalar>(static_cast<double>(z >> 11) * 0x1.0p-53 * scale);
      }
    }
    (void)threads;
    return F;
  }

  Recommendations similar(const Factors& F, std::span<const Index> queries, Index k, const SimilarOptions& opt,
                          const char* api, const char* what) const {
    if (k < 1) throw invalid_argument(std::string(api) + ": k must be >= 1, got " + std::to_string(k));
    const Index n = static_cast<Index>(F.rows());
    for (Index q : queries) {
      if (q < 0 || q >= n) {
        throw invalid_argument(std::string(api) + ": " + what + " " + std::to_string(q) + " out of range [0, " +
                               std::to_string(n) + ")");
      }
    }
    const int threads = resolve_threads(opt.threads, api);
    recmix::detail::EigenSerialGuard serial_eigen;
    Eigen::Matrix<Scalar, Eigen::Dynamic, 1> norms = F.rowwise().norm();
    for (Index i = 0; i < n; ++i) {
      if (norms(i) == Scalar(0)) norms(i) = Scalar(1);
    }
    Factors normed = norms.cwiseInverse().asDiagonal() * F;
    const Index nq = static_cast<Index>(queries.size());
    Recommendations out;
    out.items.resize(nq, k);
    out.scores.resize(nq, k);
    constexpr Index block = 64;
    const Index n_blocks = (nq + block - 1) / block;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
      Factors Q;
      RowMatrixXf S;
      recmix::detail::TopK top(k);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
      for (Index b = 0; b < n_blocks; ++b) {
        const Index b0 = b * block, nb = std::min(block, nq - b0);
        Q.resize(nb, F.cols());
        for (Index j = 0; j < nb; ++j) Q.row(j) = normed.row(queries[static_cast<std::size_t>(b0 + j)]);
        S = (Q * normed.transpose()).template cast<float>();
        for (Index j = 0; j < nb; ++j) {
          const Index self = queries[static_cast<std::size_t>(b0 + j)];
          if (opt.exclude_self) S(j, self) = -std::numeric_limits<float>::infinity();
          top.clear();
          top.scan(S.row(j).data(), n);
          top.write(out.items.row(b0 + j).data(), out.scores.row(b0 + j).data());
        }
      }
    }
    (void)threads;
    return out;
  }

  Options options_;
  Factors user_factors_;
  Factors item_factors_;
  RowMatrix<double> item_gram_;  ///< Y^T Y + lambda I in double, for fold-in; rebuilt after fit/load
};

static_assert(Recommender<ImplicitALS<float>>);
static_assert(Recommender<ImplicitALS<double>>);

}  // namespace recmix::als
