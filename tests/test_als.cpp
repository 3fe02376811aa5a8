// Unit tests of implicit ALS: the per-row solvers against hand-computed solutions, CG against
// Cholesky, the loss against a brute-force sum, fitting, fold-in, determinism, scoring and the
// error paths of the public API.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/als/implicit_als.hpp>
#include <recmix/als/solvers.hpp>
#include <recmix/datasets/synthetic.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/observer.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>

#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::Offset;
using recmix::RowMatrix;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::als::Confidence;
using recmix::als::ImplicitALS;
using recmix::als::Options;
using recmix::als::Solver;
namespace detail = recmix::als::detail;

namespace {

using recmix::test::random_matrix;

template <class S>
using RowVector = Eigen::Matrix<S, 1, Eigen::Dynamic>;

template <class S>
RowMatrix<S> random_dense(Index rows, Index cols, std::uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  RowMatrix<S> M(rows, cols);
  for (Index k = 0; k < M.size(); ++k) M.data()[k] = static_cast<S>(d(rng));
  return M;
}

template <class A, class B>
double max_abs_diff(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff();
}

template <class S>
bool bit_identical(const RowMatrix<S>& a, const RowMatrix<S>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::equal(a.data(), a.data() + a.size(), b.data());
}

/// Relative tolerance for hand-checked values in a given precision.
template <class S>
constexpr double hand_eps() {
  return std::is_same_v<S, float> ? 2e-6 : 1e-13;
}

/// The 3 x 2 matrix of the one-factor hand example (row 2 deliberately empty):
///   row 0: item 0 -> 2;  row 1: item 0 -> 1, item 1 -> 3.
InteractionMatrix hand_matrix() {
  return InteractionMatrix(3, 2, {0, 1, 3, 3}, {0, 0, 1}, {2.0f, 1.0f, 3.0f});
}

/// Hand solutions for the matrix above with Y = [0.5; 2], lambda = 0.1, alpha = 1 (f = 1):
///   G = Y^T Y + lambda = 0.25 + 4 + 0.1 = 4.35.
/// 1 + alpha r: row 0: c = 3,       A = 4.35 + 2 * 0.25 = 4.85,        b = 3 * 0.5 = 1.5
///              row 1: c = 2 and 4, A = 4.35 + 0.25 + 3 * 4 = 16.6,    b = 2 * 0.5 + 4 * 2 = 9
/// alpha r:     row 0: c = 2,       A = 4.35 + 0.25 = 4.6,             b = 2 * 0.5 = 1
///              row 1: c = 1 and 3, A = 4.35 + 0 + 2 * 4 = 12.35,      b = 0.5 + 3 * 2 = 6.5
/// row 2 has no nonzeros: x = 0.
std::vector<double> hand_solution(Confidence kind) {
  if (kind == Confidence::one_plus_alpha_r) return {1.5 / 4.85, 9.0 / 16.6, 0.0};
  return {1.0 / 4.6, 6.5 / 12.35, 0.0};
}

/// Brute-force loss: every cell visited. Stored cells: c = conf(r), p = [r > 0]; all other
/// cells: c = 1, p = 0.
template <class S>
double brute_force_loss(const InteractionMatrix& m, const RowMatrix<S>& X, const RowMatrix<S>& Y,
                        detail::ConfidenceMap<S> conf, double lambda) {
  std::vector<float> dense(static_cast<std::size_t>(m.rows()) * static_cast<std::size_t>(m.cols()));
  std::vector<char> stored(dense.size(), 0);
  for (Index u = 0; u < m.rows(); ++u) {
    const auto row = m.row(u);
    for (std::size_t k = 0; k < row.size(); ++k) {
      const auto cell = static_cast<std::size_t>(u) * static_cast<std::size_t>(m.cols()) +
                        static_cast<std::size_t>(row.indices[k]);
      dense[cell] = row.values[k];
      stored[cell] = 1;
    }
  }
  double num = 0.0, denom = 0.0;
  for (Index u = 0; u < m.rows(); ++u) {
    for (Index i = 0; i < m.cols(); ++i) {
      const auto cell = static_cast<std::size_t>(u) * static_cast<std::size_t>(m.cols()) + static_cast<std::size_t>(i);
      double xy = 0.0;
      for (Index k = 0; k < X.cols(); ++k) xy += static_cast<double>(X(u, k)) * static_cast<double>(Y(i, k));
      double c = 1.0, p = 0.0;
      if (stored[cell] != 0) {
        c = static_cast<double>(conf(dense[cell]));
        p = dense[cell] > 0.0f ? 1.0 : 0.0;
      }
      num += c * (p - xy) * (p - xy);
      denom += c;
    }
  }
  num += lambda * (X.template cast<double>().squaredNorm() + Y.template cast<double>().squaredNorm());
  return num / denom;
}

/// A small fitted model (users x items of the given density).
template <class S>
ImplicitALS<S> fitted_model(const InteractionMatrix& m, Options o) {
  ImplicitALS<S> model(o);
  model.fit(m);
  return model;
}

Options small_options() {
  Options o;
  o.factors = 4;
  o.regularization = 0.1;
  o.iterations = 8;
  // One thread: these problems are tiny, and on a busy machine the barriers of a two-thread
  // team cost far more than the work. The determinism tests below use two threads.
  o.threads = 1;
  return o;
}

}  // namespace

// ================================================================================================
// Solvers, by hand
// ================================================================================================

TEST_CASE_TEMPLATE("solvers: one-factor half-sweep matches the hand solution (wide form)", S, float, double) {
  const InteractionMatrix m = hand_matrix();
  RowMatrix<S> Y(2, 1);
  Y << S(0.5), S(2.0);
  for (Confidence kind : {Confidence::one_plus_alpha_r, Confidence::alpha_r}) {
    CAPTURE(static_cast<int>(kind));
    const std::vector<double> want = hand_solution(kind);
    const detail::HalfSweep<S> s(m, Y, detail::ConfidenceMap<S>{S(1), kind}, S(0.1), /*steps=*/1, /*threads=*/1,
                                 /*need_gram=*/true);
    // 2 * 2 other rows, not < f + 2 * avg_nnz = 1 + 2 * (3 / 3): the wide form.
    CHECK_FALSE(s.narrow);
    REQUIRE(s.G.rows() == 1);
    CHECK(static_cast<double>(s.G(0, 0)) == doctest::Approx(4.35).epsilon(hand_eps<S>()));

    // Exact solver, row by row and as a sweep.
    for (Index u = 0; u < 3; ++u) {
      RowVector<S> x = RowVector<S>::Constant(1, S(7));
      detail::cholesky_solve_row(s, m.row(u), x);
      CHECK(static_cast<double>(x(0)) == doctest::Approx(want[static_cast<std::size_t>(u)]).epsilon(hand_eps<S>()));
    }
    RowMatrix<S> Xc = RowMatrix<S>::Constant(3, 1, S(7));
    detail::cholesky_sweep(s, Xc);
    for (Index u = 0; u < 3; ++u) {
      CHECK(static_cast<double>(Xc(u, 0)) == doctest::Approx(want[static_cast<std::size_t>(u)]).epsilon(hand_eps<S>()));
    }

    // CG warm-started away from the solution: one step is exact in one dimension.
    RowMatrix<S> X = RowMatrix<S>::Constant(3, 1, S(0.3));
    detail::cg_sweep(s, X);
    for (Index u = 0; u < 3; ++u) {
      CHECK(static_cast<double>(X(u, 0)) == doctest::Approx(want[static_cast<std::size_t>(u)]).epsilon(hand_eps<S>()));
    }
    // The block solver directly, serial mode, on rows 1..2 only: row 0 is left alone.
    RowMatrix<S> X2 = RowMatrix<S>::Constant(3, 1, S(-0.2));
    detail::CgWorkspace<S> ws;
    detail::cg_block(s, X2, 1, 2, ws, /*parallel=*/false);
    CHECK(X2(0, 0) == S(-0.2));
    CHECK(static_cast<double>(X2(1, 0)) == doctest::Approx(want[1]).epsilon(hand_eps<S>()));
    CHECK(X2(2, 0) == S(0));
    // And in parallel (chunked) mode on row 0, reusing the workspace.
    detail::cg_block(s, X2, 0, 1, ws, /*parallel=*/true);
    CHECK(static_cast<double>(X2(0, 0)) == doctest::Approx(want[0]).epsilon(hand_eps<S>()));
  }
}

TEST_CASE_TEMPLATE("solvers: one-factor half-sweep matches the hand solution (narrow form)", S, float, double) {
  SUBCASE("one user, one item") {
    // r = 1, Y = [2], lambda = 0.1, alpha = 2, one CG step: narrow costs 2 n f + 2 n^2 = 4,
    // wide 2 (f^2 + 2 nnz f) = 6, so the narrow form.
    //   c = 1 + 2 * 1 = 3, A = 4 + 0.1 + (3 - 1) * 4 = 12.1, b = 3 * 2 = 6, x = 6 / 12.1.
    const InteractionMatrix m(1, 1, {0, 1}, {0}, {1.0f});
    RowMatrix<S> Y(1, 1);
    Y << S(2);
    const detail::ConfidenceMap<S> conf{S(2), Confidence::one_plus_alpha_r};
    const detail::HalfSweep<S> s(m, Y, conf, S(0.1), 1, 1, /*need_gram=*/false);
    CHECK(s.narrow);
    RowMatrix<S> X = RowMatrix<S>::Constant(1, 1, S(5));
    detail::cg_sweep(s, X);
    CHECK(static_cast<double>(X(0, 0)) == doctest::Approx(6.0 / 12.1).epsilon(hand_eps<S>()));

    const detail::HalfSweep<S> exact(m, Y, conf, S(0.1), 1, 1, /*need_gram=*/true);
    CHECK(exact.narrow);
    RowVector<S> x(1);
    detail::cholesky_solve_row(exact, m.row(0), x);
    CHECK(static_cast<double>(x(0)) == doctest::Approx(6.0 / 12.1).epsilon(hand_eps<S>()));
  }
  SUBCASE("row 1 of the wide example on its own") {
    // Both items stored, n = 2, f = 1, 4 CG steps: narrow costs 2 n f + 5 n^2 = 24 multiply-adds
    // per row, wide 5 (f^2 + 2 nnz f) = 25, so the narrow form; a 1-dimensional row converges
    // in one step, so the hand values of row 1 above hold.
    const InteractionMatrix m(1, 2, {0, 2}, {0, 1}, {1.0f, 3.0f});
    RowMatrix<S> Y(2, 1);
    Y << S(0.5), S(2.0);
    for (Confidence kind : {Confidence::one_plus_alpha_r, Confidence::alpha_r}) {
      CAPTURE(static_cast<int>(kind));
      const double want = hand_solution(kind)[1];
      const detail::HalfSweep<S> s(m, Y, detail::ConfidenceMap<S>{S(1), kind}, S(0.1), 4, 1, /*need_gram=*/true);
      CHECK(s.narrow);
      RowMatrix<S> X = RowMatrix<S>::Constant(1, 1, S(0.3));
      detail::cg_sweep(s, X);
      CHECK(static_cast<double>(X(0, 0)) == doctest::Approx(want).epsilon(hand_eps<S>()));
      RowMatrix<S> X2 = RowMatrix<S>::Constant(1, 1, S(-1));
      detail::CgWorkspace<S> ws;
      detail::cg_block(s, X2, 0, 1, ws, /*parallel=*/false);
      CHECK(static_cast<double>(X2(0, 0)) == doctest::Approx(want).epsilon(hand_eps<S>()));
      RowVector<S> x(1);
      detail::cholesky_solve_row(s, m.row(0), x);
      CHECK(static_cast<double>(x(0)) == doctest::Approx(want).epsilon(hand_eps<S>()));
    }
  }
}

TEST_CASE_TEMPLATE("solvers: two-factor rows match the hand solution", S, float, double) {
  // Two CG steps solve a 2 x 2 system exactly (up to rounding).
  const double cg_eps = 100 * hand_eps<S>();
  SUBCASE("wide form") {
    // Row: item 0 -> 1, item 2 -> 2. Y = [1 0; 0 1; 1 1], lambda = 0.5, c = 1 + r.
    //   Y^T Y = [2 1; 1 2], G = [2.5 1; 1 2.5]
    //   A = G + (2 - 1) [1 0; 0 0] + (3 - 1) [1 1; 1 1] = [5.5 3; 3 4.5]
    //   b = 2 [1 0] + 3 [1 1] = [5 3]
    //   det = 24.75 - 9 = 15.75, x = [4.5 * 5 - 3 * 3, -3 * 5 + 5.5 * 3] / 15.75 = [6/7, 2/21]
    const InteractionMatrix m(1, 3, {0, 2}, {0, 2}, {1.0f, 2.0f});
    RowMatrix<S> Y(3, 2);
    Y << S(1), S(0), S(0), S(1), S(1), S(1);
    const detail::HalfSweep<S> s(m, Y, detail::ConfidenceMap<S>{S(1), Confidence::one_plus_alpha_r}, S(0.5),
                                 /*steps=*/2, 1, /*need_gram=*/true);
    CHECK_FALSE(s.narrow);  // 2 * 3 = 6, not < 2 + 2 * 2
    CHECK(static_cast<double>(s.G(0, 0)) == doctest::Approx(2.5));
    CHECK(static_cast<double>(s.G(0, 1)) == doctest::Approx(1.0));
    CHECK(static_cast<double>(s.G(1, 0)) == doctest::Approx(1.0));
    CHECK(static_cast<double>(s.G(1, 1)) == doctest::Approx(2.5));

    RowVector<S> x(2);
    detail::cholesky_solve_row(s, m.row(0), x);
    CHECK(static_cast<double>(x(0)) == doctest::Approx(6.0 / 7.0).epsilon(hand_eps<S>()));
    CHECK(static_cast<double>(x(1)) == doctest::Approx(2.0 / 21.0).epsilon(hand_eps<S>()));

    RowMatrix<S> X(1, 2);
    X << S(0.01), S(-0.3);
    detail::cg_sweep(s, X);
    CHECK(static_cast<double>(X(0, 0)) == doctest::Approx(6.0 / 7.0).epsilon(cg_eps));
    CHECK(static_cast<double>(X(0, 1)) == doctest::Approx(2.0 / 21.0).epsilon(cg_eps));
  }
  SUBCASE("narrow form") {
    // Row: item 0 -> 1, item 1 -> 2. Y = [1 0; 1 1], lambda = 0.5, c = 1 + r.
    //   Y^T Y = [2 1; 1 1], G = [2.5 1; 1 1.5]
    //   A = G + (2 - 1) [1 0; 0 0] + (3 - 1) [1 1; 1 1] = [5.5 3; 3 3.5]
    //   b = 2 [1 0] + 3 [1 1] = [5 3]
    //   det = 19.25 - 9 = 10.25, x = [3.5 * 5 - 3 * 3, -3 * 5 + 5.5 * 3] / 10.25 = [34/41, 6/41]
    const InteractionMatrix m(1, 2, {0, 2}, {0, 1}, {1.0f, 2.0f});
    RowMatrix<S> Y(2, 2);
    Y << S(1), S(0), S(1), S(1);
    const detail::HalfSweep<S> s(m, Y, detail::ConfidenceMap<S>{S(1), Confidence::one_plus_alpha_r}, S(0.5),
                                 /*steps=*/2, 1, /*need_gram=*/true);
    CHECK(s.narrow);  // 2 * 2 < 2 + 2 * 2

    RowVector<S> x(2);
    detail::cholesky_solve_row(s, m.row(0), x);
    CHECK(static_cast<double>(x(0)) == doctest::Approx(34.0 / 41.0).epsilon(hand_eps<S>()));
    CHECK(static_cast<double>(x(1)) == doctest::Approx(6.0 / 41.0).epsilon(hand_eps<S>()));

    RowMatrix<S> X(1, 2);
    X << S(0.01), S(-0.3);
    detail::cg_sweep(s, X);
    CHECK(static_cast<double>(X(0, 0)) == doctest::Approx(34.0 / 41.0).epsilon(cg_eps));
    CHECK(static_cast<double>(X(0, 1)) == doctest::Approx(6.0 / 41.0).epsilon(cg_eps));
  }
}

TEST_CASE("solvers: gram sums Y^T Y plus lambda on the diagonal") {
  const RowMatrix<double> Y = random_dense<double>(9000, 5, 3, -1.0, 1.0);  // > 2 chunks of 4096 rows
  const RowMatrix<double> G = detail::gram(Y, 0.25, 2);
  RowMatrix<double> want = Y.transpose() * Y;
  want.diagonal().array() += 0.25;
  CHECK(max_abs_diff(G, want) < 1e-9);
  CHECK(bit_identical(G, detail::gram(Y, 0.25, 1)));
  // No rows at all: just lambda I.
  const RowMatrix<double> empty(0, 3);
  CHECK(max_abs_diff(detail::gram(empty, 0.5, 1), RowMatrix<double>(0.5 * RowMatrix<double>::Identity(3, 3))) == 0.0);
}

// ================================================================================================
// CG against Cholesky on random problems
// ================================================================================================

namespace {

struct SolverCase {
  const char* name;
  Index rows;      ///< rows solved
  Index cols;      ///< rows of the other side
  double density;
  Index factors;
  bool narrow;     ///< the form HalfSweep should pick
  Index empty_row;
};

void check_cg_matches_cholesky(const SolverCase& c) {
  CAPTURE(c.name);
  const InteractionMatrix m = random_matrix(c.rows, c.cols, c.density, 1234u + static_cast<std::uint32_t>(c.rows),
                                            /*zeros=*/0.05, c.empty_row);
  const RowMatrix<double> Y = random_dense<double>(c.cols, c.factors, 77, -1.0, 1.0);
  const detail::ConfidenceMap<double> conf{0.8, Confidence::one_plus_alpha_r};
  const int steps = 2 * c.factors;
  detail::HalfSweep<double> s1(m, Y, conf, 0.1, steps, /*threads=*/1, /*need_gram=*/true);
  detail::HalfSweep<double> s2(m, Y, conf, 0.1, steps, /*threads=*/2, /*need_gram=*/true);
  CHECK(s1.narrow == c.narrow);
  CHECK(s2.narrow == c.narrow);

  RowMatrix<double> exact(c.rows, c.factors);
  detail::cholesky_sweep(s2, exact);
  const RowMatrix<double> start = random_dense<double>(c.rows, c.factors, 5, 0.0, 0.01);
  RowMatrix<double> cg1 = start, cg2 = start;
  detail::cg_sweep(s1, cg1);
  detail::cg_sweep(s2, cg2);
  CHECK(max_abs_diff(cg1, exact) < 1e-4);
  CHECK(bit_identical(cg1, cg2));  // thread count never changes the result
  CHECK(exact.allFinite());
  if (c.empty_row >= 0) {
    CHECK(exact.row(c.empty_row).isZero(0.0));
    CHECK(cg1.row(c.empty_row).isZero(0.0));
  }
  // Sanity: the problem is not trivial.
  CHECK(exact.cwiseAbs().maxCoeff() > 1e-3);
}

}  // namespace

TEST_CASE("solvers: CG with enough steps agrees with Cholesky (many rows, wide form)") {
  check_cg_matches_cholesky({"many rows, wide", 600, 80, 0.1, 6, false, 17});
}

TEST_CASE("solvers: CG with enough steps agrees with Cholesky (many rows, narrow form)") {
  // 2 * 6 other rows < 8 + 2 * (about 3 nonzeros per row).
  check_cg_matches_cholesky({"many rows, narrow", 600, 6, 0.5, 8, true, 300});
}

TEST_CASE("solvers: CG with enough steps agrees with Cholesky (few rows)") {
  static_assert(detail::kBlockRows == 256);
  // Fewer rows than one block: the rows' nonzeros are spread over threads in chunks of
  // kNnzChunk. Light rows first (one chunk each), then rows heavier than a chunk.
  check_cg_matches_cholesky({"few light rows, wide", 200, 30, 0.3, 6, false, 3});
  REQUIRE(detail::kNnzChunk < 18000);
  check_cg_matches_cholesky({"few heavy rows, wide", 3, 40000, 0.5, 6, false, -1});
  // Nearly dense rows over few columns: the narrow form.
  check_cg_matches_cholesky({"few rows, narrow", 100, 12, 0.8, 8, true, 40});
}

// ================================================================================================
// Loss
// ================================================================================================

TEST_CASE_TEMPLATE("loss equals the brute-force sum over all cells", S, float, double) {
  const InteractionMatrix m = random_matrix(13, 9, 0.35, 42, /*zeros=*/0.2);
  REQUIRE(m.nnz() > 10);
  const RowMatrix<S> X = random_dense<S>(13, 3, 1, -1.0, 1.0);
  const RowMatrix<S> Y = random_dense<S>(9, 3, 2, -1.0, 1.0);
  const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
  for (Confidence kind : {Confidence::one_plus_alpha_r, Confidence::alpha_r}) {
    CAPTURE(static_cast<int>(kind));
    const detail::ConfidenceMap<S> conf{S(2), kind};
    const double want = brute_force_loss<S>(m, X, Y, conf, static_cast<double>(S(0.3)));
    const double got1 = detail::loss(m, X, Y, conf, S(0.3), 1);
    const double got2 = detail::loss(m, X, Y, conf, S(0.3), 2);
    CHECK(got1 == doctest::Approx(want).epsilon(tol));
    CHECK(got1 == got2);
  }
  // More rows than one block of kBlockRows.
  const InteractionMatrix big = random_matrix(600, 7, 0.3, 8, 0.1);
  const RowMatrix<S> Xb = random_dense<S>(600, 3, 3, -1.0, 1.0);
  const detail::ConfidenceMap<S> conf{S(1.5), Confidence::one_plus_alpha_r};
  CHECK(detail::loss(big, Xb, Y.topRows(7).eval(), conf, S(0.05), 2) ==
        doctest::Approx(brute_force_loss<S>(big, Xb, Y.topRows(7).eval(), conf, static_cast<double>(S(0.05))))
            .epsilon(tol));
}

// ================================================================================================
// Fitting
// ================================================================================================

TEST_CASE_TEMPLATE("fit with Cholesky: the loss never increases", S, float, double) {
  const InteractionMatrix m = random_matrix(60, 40, 0.15, 3);
  Options o;
  o.factors = 6;
  o.regularization = 0.05;
  o.iterations = 12;
  o.solver = Solver::cholesky;
  o.calculate_loss = true;
  o.threads = 1;
  ImplicitALS<S> model(o);
  const recmix::FitReport report = model.fit(m);
  REQUIRE(report.loss.size() == 12);
  CHECK(report.iterations == 12);
  CHECK(report.iteration_seconds.size() == 12);
  CHECK(report.seconds >= 0.0);
  CHECK_FALSE(report.threading.empty());
  // Exact half-sweeps minimise the objective in turn; only rounding can make it go up, and in
  // single precision rounding is far above 1e-9.
  const double slack = std::is_same_v<S, double> ? 1e-9 : 1e-5;
  for (std::size_t t = 0; t < report.loss.size(); ++t) {
    CAPTURE(t);
    CHECK(std::isfinite(report.loss[t]));
    if (t > 0) CHECK(report.loss[t] <= report.loss[t - 1] * (1.0 + slack));
  }
  CHECK(report.loss.back() < report.loss.front());
  CHECK(report.final_loss() == model.loss(m));
  CHECK(model.is_fitted());
  CHECK(model.num_users() == 60);
  CHECK(model.num_items() == 40);
  CHECK(model.user_factors().cols() == 6);
  CHECK(model.user_factors().allFinite());
  CHECK(model.item_factors().allFinite());
}

TEST_CASE("fit: CG with enough steps follows the Cholesky fit") {
  // With cg_steps >= factors every CG half-sweep is (up to rounding) the exact one, so from the
  // same initial factors both solvers produce the same model, whichever path each half-sweep
  // takes: many rows, few rows (items), narrow or wide form.
  struct Shape {
    const char* name;
    Index users, items;
    double density;
  };
  for (const Shape& shape : {Shape{"many users, many items", 600, 300, 0.03},
                             Shape{"few items, several chunks of users", 20000, 6, 0.3},
                             Shape{"few items, narrow users side", 400, 5, 0.6}}) {
    CAPTURE(shape.name);
    const InteractionMatrix m = random_matrix(shape.users, shape.items, shape.density, 22);
    Options o;
    o.factors = 5;
    o.regularization = 0.1;
    o.iterations = 3;
    o.cg_steps = 10;
    o.threads = 2;
    const auto cg = fitted_model<double>(m, o);
    o.solver = Solver::cholesky;
    const auto exact = fitted_model<double>(m, o);
    CHECK(max_abs_diff(cg.user_factors(), exact.user_factors()) < 1e-6);
    CHECK(max_abs_diff(cg.item_factors(), exact.item_factors()) < 1e-6);
  }
}

TEST_CASE_TEMPLATE("fit with CG runs, reports no loss unless asked, and drives the loss down", S, float, double) {
  const InteractionMatrix m = random_matrix(70, 30, 0.2, 4);
  Options o = small_options();
  o.iterations = 6;
  ImplicitALS<S> model(o);
  const recmix::FitReport plain = model.fit(m);
  REQUIRE(plain.loss.size() == 6);
  CHECK(std::isnan(plain.loss[0]));
  const double loss_cg = model.loss(m);

  // The loss of the fitted CG model is close to (not far above) an exact fit's.
  o.solver = Solver::cholesky;
  const double loss_exact = fitted_model<S>(m, o).loss(m);
  CHECK(loss_cg < 1.1 * loss_exact);
  // ... and well below the loss of the initial factors.
  o.iterations = 0;
  const double loss_start = fitted_model<S>(m, o).loss(m);
  CHECK(loss_cg < 0.9 * loss_start);
}

TEST_CASE("fit reports progress to an observer") {
  const InteractionMatrix m = random_matrix(20, 10, 0.3, 6);
  Options o = small_options();
  o.iterations = 3;
  o.calculate_loss = true;
  ImplicitALS<float> model(o);
  std::ostringstream os;
  const auto report = model.fit(m, recmix::ProgressBar(os, recmix::ProgressStyle::lines));
  const std::string text = os.str();
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);
  CHECK(text.find("ImplicitALS") != std::string::npos);
  CHECK(text.find("3/3") != std::string::npos);
  CHECK(text.find("loss") != std::string::npos);
  CHECK(text.find(report.threading) != std::string::npos);
}

TEST_CASE("fit with the alpha_r confidence convention") {
  const InteractionMatrix m = random_matrix(40, 25, 0.2, 9, /*zeros=*/0.1);
  for (Solver solver : {Solver::conjugate_gradient, Solver::cholesky}) {
    Options o = small_options();
    o.alpha = 2.0;
    o.confidence = Confidence::alpha_r;
    o.solver = solver;
    o.calculate_loss = true;
    ImplicitALS<double> model(o);
    const auto report = model.fit(m);
    CHECK(std::isfinite(report.final_loss()));
    CHECK(report.final_loss() > 0.0);
    CHECK(report.final_loss() < report.loss.front() * (1.0 + 1e-12));
    CHECK(model.user_factors().allFinite());
    CHECK(model.item_factors().allFinite());
  }
}

// ================================================================================================
// Determinism
// ================================================================================================

namespace {

void check_threads_bit_identical(const InteractionMatrix& m, int iterations) {
  Options o;
  o.factors = 8;
  o.iterations = iterations;
  o.solver = Solver::conjugate_gradient;
  o.calculate_loss = true;
  o.threads = 1;
  ImplicitALS<float> one(o);
  const auto r1 = one.fit(m);
  o.threads = 2;
  ImplicitALS<float> two(o);
  const auto r2 = two.fit(m);
  CHECK(bit_identical(one.user_factors(), two.user_factors()));
  CHECK(bit_identical(one.item_factors(), two.item_factors()));
  CHECK(r1.loss == r2.loss);
  CHECK(one.user_factors().allFinite());
}

}  // namespace

TEST_CASE("fit: 1 and 2 threads give bit-identical factors (several blocks of users and items)") {
  const InteractionMatrix m = random_matrix(600, 300, 0.03, 10);
  REQUIRE(m.rows() > 2 * detail::kBlockRows);
  REQUIRE(m.cols() > detail::kBlockRows);
  check_threads_bit_identical(m, 3);
}

TEST_CASE("fit: 1 and 2 threads give bit-identical factors (few items, heavy item rows)") {
  // 6 items held by about half of 36000 users: the items half-sweep has fewer rows than one
  // block (few-rows mode) and every item row spans more than one chunk of nonzeros.
  const InteractionMatrix m = random_matrix(36000, 6, 0.5, 11);
  REQUIRE(m.cols() < detail::kBlockRows);
  const InteractionMatrix t = m.transpose();
  for (Index i = 0; i < t.rows(); ++i) REQUIRE(t.row_nnz(i) > detail::kNnzChunk);
  check_threads_bit_identical(m, 2);
}

TEST_CASE("fit: 1 and 2 threads give bit-identical factors (few items, light rows)") {
  const InteractionMatrix m = random_matrix(700, 40, 0.1, 12);
  check_threads_bit_identical(m, 3);
}

TEST_CASE_TEMPLATE("fit: the seed decides the factors", S, float, double) {
  const InteractionMatrix m = random_matrix(50, 30, 0.2, 13);
  Options o = small_options();
  o.iterations = 3;
  const auto a = fitted_model<S>(m, o);
  const auto b = fitted_model<S>(m, o);
  CHECK(bit_identical(a.user_factors(), b.user_factors()));
  CHECK(bit_identical(a.item_factors(), b.item_factors()));
  o.seed = 43;
  const auto c = fitted_model<S>(m, o);
  CHECK_FALSE(bit_identical(a.user_factors(), c.user_factors()));
  CHECK_FALSE(bit_identical(a.item_factors(), c.item_factors()));
  // Initial factors (0 iterations) lie in [0, init_scale).
  o.iterations = 0;
  o.init_scale = 0.5;
  const auto d = fitted_model<S>(m, o);
  CHECK(d.user_factors().minCoeff() >= S(0));
  CHECK(d.user_factors().maxCoeff() < S(0.5));
  CHECK(d.item_factors().maxCoeff() > S(0.25));
}

TEST_CASE("fit: a refit replaces the model; a failed fit leaves it untouched") {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 14);
  ImplicitALS<float> model(small_options());
  model.fit(m);
  const RowMatrixXf X = model.user_factors();
  const RowMatrixXf Y = model.item_factors();
  const InteractionMatrix bad(2, 3, {0, 1, 2}, {0, 2}, {1.0f, -1.0f});
  CHECK_THROWS_AS(model.fit(bad), recmix::invalid_argument);
  CHECK(bit_identical(model.user_factors(), X));
  CHECK(bit_identical(model.item_factors(), Y));
  const InteractionMatrix smaller = random_matrix(12, 8, 0.4, 15);
  model.fit(smaller);
  CHECK(model.num_users() == 12);
  CHECK(model.num_items() == 8);
}

// ================================================================================================
// Fold-in
// ================================================================================================

TEST_CASE("partial_fit_users: a training user's own row reproduces its converged factors") {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 16);
  Options o;
  o.factors = 4;
  o.regularization = 1.0;
  o.iterations = 400;  // ALS converges linearly; 30 x 20 at f = 4 costs nothing
  o.solver = Solver::cholesky;
  o.threads = 1;
  const ImplicitALS<double> fitted = fitted_model<double>(m, o);
  for (Index u : {0, 7, 29}) {
    CAPTURE(u);
    ImplicitALS<double> model = fitted;
    const std::vector<Index> users = {u};
    model.partial_fit_users(users, m.select_rows(users));
    CHECK(model.num_users() == 30);
    CHECK(max_abs_diff(model.user_factors().row(u), fitted.user_factors().row(u)) < 1e-4);
    CHECK(bit_identical(model.item_factors(), fitted.item_factors()));
  }
  // All users at once.
  std::vector<Index> all(30);
  std::iota(all.begin(), all.end(), 0);
  ImplicitALS<double> model = fitted;
  model.partial_fit_users(all, m);
  CHECK(max_abs_diff(model.user_factors(), fitted.user_factors()) < 1e-4);
}

TEST_CASE_TEMPLATE("partial_fit_users: new users, invalid input", S, float, double) {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 17);
  ImplicitALS<S> model = fitted_model<S>(m, small_options());
  const RowMatrix<S> X0 = model.user_factors();
  const InteractionMatrix history(1, 20, {0, 3}, {1, 4, 9}, {2.0f, 1.0f, 3.0f});

  SUBCASE("an id beyond num_users grows the model") {
    const std::vector<Index> users = {32};
    model.partial_fit_users(users, history);
    CHECK(model.num_users() == 33);
    CHECK(bit_identical(RowMatrix<S>(model.user_factors().topRows(30)), X0));
    CHECK(model.user_factors().row(30).isZero(0.0));
    CHECK(model.user_factors().row(31).isZero(0.0));
    CHECK_FALSE(model.user_factors().row(32).isZero(0.0));
    // The same solve as scoring a kNewUser with that history.
    RowMatrixXf via_score(1, 20);
    const std::vector<Index> newcomer = {recmix::kNewUser};
    model.score(UserBatch(newcomer, &history), via_score);
    const RowMatrixXf direct = (model.user_factors().row(32) * model.item_factors().transpose()).template cast<float>();
    CHECK(max_abs_diff(via_score, direct) < 1e-5);
  }
  SUBCASE("the next id, together with a known user") {
    const std::vector<Index> users = {30, 4};
    const InteractionMatrix two(2, 20, {0, 3, 4}, {1, 4, 9, 0}, {2.0f, 1.0f, 3.0f, 1.0f});
    model.partial_fit_users(users, two);
    CHECK(model.num_users() == 31);
    CHECK(bit_identical(RowMatrix<S>(model.user_factors().topRows(4)), RowMatrix<S>(X0.topRows(4))));
    CHECK_FALSE(bit_identical(RowMatrix<S>(model.user_factors().topRows(30)), X0));
  }
  SUBCASE("an empty history gives a zero row") {
    const std::vector<Index> users = {5};
    model.partial_fit_users(users, InteractionMatrix(1, 20));
    CHECK(model.user_factors().row(5).isZero(0.0));
  }
  SUBCASE("nothing to do") {
    model.partial_fit_users(std::vector<Index>{}, InteractionMatrix(0, 20));
    CHECK(bit_identical(model.user_factors(), X0));
  }
  SUBCASE("invalid input throws and changes nothing") {
    using recmix::invalid_argument;
    const InteractionMatrix two(2, 20, {0, 1, 2}, {1, 4}, {1.0f, 1.0f});
    CHECK_THROWS_WITH_AS(model.partial_fit_users(std::vector<Index>{3, 3}, two), doctest::Contains("twice"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(model.partial_fit_users(std::vector<Index>{40, 40}, two), doctest::Contains("twice"),
                         invalid_argument);
    CHECK_THROWS_AS(model.partial_fit_users(std::vector<Index>{-1, 2}, two), invalid_argument);
    const InteractionMatrix narrow(1, 19, {0, 1}, {3}, {1.0f});
    CHECK_THROWS_WITH_AS(model.partial_fit_users(std::vector<Index>{2}, narrow), doctest::Contains("columns"),
                         invalid_argument);
    const InteractionMatrix wide(1, 21, {0, 1}, {3}, {1.0f});
    CHECK_THROWS_AS(model.partial_fit_users(std::vector<Index>{2}, wide), invalid_argument);
    CHECK_THROWS_AS(model.partial_fit_users(std::vector<Index>{2}, two), invalid_argument);  // 2 rows, 1 user
    const InteractionMatrix negative(1, 20, {0, 1}, {3}, {-2.0f});
    CHECK_THROWS_AS(model.partial_fit_users(std::vector<Index>{2}, negative), invalid_argument);
    CHECK(model.num_users() == 30);
    CHECK(bit_identical(model.user_factors(), X0));
  }
  SUBCASE("before fit") {
    ImplicitALS<S> fresh(small_options());
    CHECK_THROWS_AS(fresh.partial_fit_users(std::vector<Index>{0}, history), recmix::not_fitted);
  }
}

// ================================================================================================
// Scoring and recommending
// ================================================================================================

TEST_CASE_TEMPLATE("score and can_score", S, float, double) {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 18);
  const ImplicitALS<S> model = fitted_model<S>(m, small_options());
  // Batch: two known users, a new user with a history, a new user without one.
  const std::vector<Index> users = {0, 7, recmix::kNewUser, recmix::kNewUser};
  const InteractionMatrix hist(4, 20, {0, 1, 2, 5, 5}, {3, 8, 1, 4, 9}, {1.0f, 1.0f, 2.0f, 1.0f, 3.0f});
  const UserBatch batch(users, &hist);
  RowMatrixXf out(4, 20);
  model.score(batch, out);

  const RowMatrix<S>& X = model.user_factors();
  const RowMatrix<S>& Y = model.item_factors();
  CHECK(max_abs_diff(out.row(0), (X.row(0) * Y.transpose()).template cast<float>()) < 1e-6);
  CHECK(max_abs_diff(out.row(1), (X.row(7) * Y.transpose()).template cast<float>()) < 1e-6);
  // The known users' scores ignore the history rows.
  CHECK(out.row(0).cwiseAbs().maxCoeff() > 0.0f);

  // The new user with a history is folded in: the same as partial_fit_users would give.
  ImplicitALS<S> grown = model;
  grown.partial_fit_users(std::vector<Index>{30}, hist.select_rows(std::vector<Index>{2}));
  CHECK(max_abs_diff(out.row(2), (grown.user_factors().row(30) * Y.transpose()).template cast<float>()) < 1e-6);
  CHECK(out.row(2).cwiseAbs().maxCoeff() > 0.0f);
  // Without history: zeros, and can_score says so.
  CHECK(out.row(3).isZero(0.0f));

  std::vector<std::uint8_t> mask(4, 7);
  model.can_score(batch, mask);
  CHECK(mask == std::vector<std::uint8_t>{1, 1, 1, 0});
  const UserBatch no_history(users);
  model.can_score(no_history, mask);
  CHECK(mask == std::vector<std::uint8_t>{1, 1, 0, 0});

  // Errors.
  using recmix::invalid_argument;
  const std::vector<Index> too_big = {30};
  RowMatrixXf one(1, 20);
  CHECK_THROWS_WITH_AS(model.score(UserBatch(too_big), one), doctest::Contains("num_users"), invalid_argument);
  const std::vector<Index> negative = {-2};
  CHECK_THROWS_AS(model.score(UserBatch(negative), one), invalid_argument);
  RowMatrixXf narrow(4, 19), short_out(3, 20);
  CHECK_THROWS_AS(model.score(batch, narrow), invalid_argument);
  CHECK_THROWS_AS(model.score(batch, short_out), invalid_argument);
  std::vector<std::uint8_t> short_mask(3);
  CHECK_THROWS_AS(model.can_score(batch, short_mask), invalid_argument);
  // A new user's history naming an item the model does not have.
  const std::vector<Index> newcomer = {recmix::kNewUser};
  const InteractionMatrix wide_hist(1, 25, {0, 1}, {22}, {1.0f});
  CHECK_THROWS_AS(model.score(UserBatch(newcomer, &wide_hist), one), invalid_argument);

  // Not fitted.
  const ImplicitALS<S> fresh(small_options());
  CHECK_FALSE(fresh.is_fitted());
  CHECK_THROWS_AS(fresh.score(UserBatch(users), out), recmix::not_fitted);
  CHECK_THROWS_AS((void)fresh.recommend(users, hist, 3), recmix::not_fitted);
  CHECK_THROWS_AS((void)fresh.similar_items(std::vector<Index>{0}, 3), recmix::not_fitted);
  CHECK_THROWS_AS((void)fresh.similar_users(std::vector<Index>{0}, 3), recmix::not_fitted);
  CHECK_THROWS_AS((void)fresh.loss(m), recmix::not_fitted);
  std::vector<std::uint8_t> fresh_mask(4, 7);
  fresh.can_score(batch, fresh_mask);
  CHECK(fresh_mask == std::vector<std::uint8_t>{0, 0, 0, 0});
}

TEST_CASE_TEMPLATE("recommend excludes held items", S, float, double) {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 19);
  const ImplicitALS<S> model = fitted_model<S>(m, small_options());
  std::vector<Index> users(30);
  std::iota(users.begin(), users.end(), 0);

  const recmix::Recommendations all = model.recommend(users, m, 20);
  RowMatrixXf scores(30, 20);
  model.score(UserBatch(users), scores);
  for (Index u = 0; u < 30; ++u) {
    CAPTURE(u);
    const auto held = m.row(u).indices;
    const auto got = all.row(u);
    CHECK(static_cast<Offset>(got.size()) == 20 - m.row_nnz(u));
    for (Index i : got) CHECK(std::find(held.begin(), held.end(), i) == held.end());
    // Best first, scores as score() computes them.
    for (std::size_t j = 0; j < got.size(); ++j) {
      CHECK(all.scores(u, static_cast<Index>(j)) == scores(u, got[j]));
      if (j > 0) CHECK(all.scores(u, static_cast<Index>(j)) <= all.scores(u, static_cast<Index>(j) - 1));
    }
  }

  // Without exclusion the held items come back; a user subset with its own history rows.
  const std::vector<Index> some = {4, 2};
  const InteractionMatrix some_hist = m.select_rows(some);
  const auto top3 = model.recommend(some, some_hist, 3, {.exclude_history = false});
  for (Index r = 0; r < 2; ++r) {
    std::vector<Index> order(20);
    std::iota(order.begin(), order.end(), 0);
    const Index u = some[static_cast<std::size_t>(r)];
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return scores(u, a) > scores(u, b); });
    CHECK(std::vector<Index>(top3.row(r).begin(), top3.row(r).end()) ==
          std::vector<Index>(order.begin(), order.begin() + 3));
  }

  // A new user is folded in from the history row and never gets its own items back.
  const std::vector<Index> newcomer = {recmix::kNewUser};
  const InteractionMatrix hist(1, 20, {0, 3}, {1, 4, 9}, {2.0f, 1.0f, 3.0f});
  const auto fresh = model.recommend(newcomer, hist, 20);
  CHECK(fresh.row(0).size() == 17);
  for (Index i : fresh.row(0)) CHECK((i != 1 && i != 4 && i != 9));

  using recmix::invalid_argument;
  CHECK_THROWS_AS((void)model.recommend(users, m, 0), invalid_argument);
  CHECK_THROWS_AS((void)model.recommend(some, m, 3), invalid_argument);  // history rows != users
}

TEST_CASE_TEMPLATE("similar_items and similar_users", S, float, double) {
  const InteractionMatrix m = random_matrix(30, 20, 0.3, 20);
  const ImplicitALS<S> model = fitted_model<S>(m, small_options());
  const std::vector<Index> items = {0, 5, 19, 5};
  const auto sim = model.similar_items(items, 4);
  CHECK(sim.users() == 4);
  CHECK(sim.k() == 4);
  for (Index r = 0; r < 4; ++r) {
    CAPTURE(r);
    CHECK(sim.items(r, 0) == items[static_cast<std::size_t>(r)]);
    CHECK(sim.scores(r, 0) == doctest::Approx(1.0).epsilon(1e-5));
    for (Index j = 1; j < 4; ++j) {
      CHECK(sim.scores(r, j) <= sim.scores(r, j - 1));
      CHECK(sim.scores(r, j) <= 1.0f + 1e-5f);
    }
  }
  // Cosine similarity, checked directly for one pair.
  const auto& Y = model.item_factors();
  const Index other = sim.items(0, 1);
  const double cosine = static_cast<double>(Y.row(0).dot(Y.row(other))) /
                        (static_cast<double>(Y.row(0).norm()) * static_cast<double>(Y.row(other).norm()));
  CHECK(static_cast<double>(sim.scores(0, 1)) == doctest::Approx(cosine).epsilon(1e-5));

  const auto no_self = model.similar_items(items, 4, {.exclude_self = true});
  for (Index r = 0; r < 4; ++r) {
    const Index q = items[static_cast<std::size_t>(r)];
    for (Index j = 0; j < 4; ++j) CHECK(no_self.items(r, j) != q);
    CHECK(no_self.items(r, 0) == sim.items(r, 1));
  }
  // k larger than the number of items: everything, then padding.
  const auto everything = model.similar_items(std::vector<Index>{3}, 25);
  CHECK(everything.row(0).size() == 20);
  CHECK(everything.items(0, 20) == -1);

  const auto users = model.similar_users(std::vector<Index>{12}, 3);
  CHECK(users.items(0, 0) == 12);
  CHECK(users.scores(0, 0) == doctest::Approx(1.0).epsilon(1e-5));

  using recmix::invalid_argument;
  CHECK_THROWS_AS((void)model.similar_items(items, 0), invalid_argument);
  CHECK_THROWS_AS((void)model.similar_items(std::vector<Index>{20}, 3), invalid_argument);
  CHECK_THROWS_AS((void)model.similar_items(std::vector<Index>{-1}, 3), invalid_argument);
  CHECK_THROWS_AS((void)model.similar_users(std::vector<Index>{30}, 3), invalid_argument);
  CHECK_THROWS_AS((void)model.similar_items(items, 3, {.threads = -1}), invalid_argument);
}

// ================================================================================================
// Options and input validation
// ================================================================================================

TEST_CASE_TEMPLATE("options: every invalid value throws, naming the option", S, float, double) {
  using recmix::invalid_argument;
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  constexpr double inf = std::numeric_limits<double>::infinity();
  const auto with = [](auto&& change) {
    Options o;
    change(o);
    return o;
  };
  CHECK_NOTHROW(ImplicitALS<S>(Options{}));
  CHECK_NOTHROW(ImplicitALS<S>(with([](Options& o) { o.iterations = 0; o.regularization = 0.0; })));

  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.factors = 0; })), doctest::Contains("factors"),
                       invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([](Options& o) { o.factors = -4; })), invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.regularization = -0.01; })),
                       doctest::Contains("regularization"), invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([=](Options& o) { o.regularization = nan; })),
                       doctest::Contains("regularization"), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([=](Options& o) { o.regularization = inf; })), invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.alpha = 0.0; })), doctest::Contains("alpha"),
                       invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([](Options& o) { o.alpha = -1.0; })), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([=](Options& o) { o.alpha = nan; })), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([=](Options& o) { o.alpha = inf; })), invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.iterations = -1; })), doctest::Contains("iterations"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.cg_steps = 0; })), doctest::Contains("cg_steps"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.threads = -1; })), doctest::Contains("threads"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.threads = ImplicitALS<S>::kMaxThreads + 1; })),
                       doctest::Contains("threads"), invalid_argument);
  CHECK_THROWS_WITH_AS(ImplicitALS<S>(with([](Options& o) { o.init_scale = 0.0; })), doctest::Contains("init_scale"),
                       invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([](Options& o) { o.init_scale = -0.01; })), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([=](Options& o) { o.init_scale = inf; })), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([](Options& o) { o.solver = static_cast<Solver>(7); })), invalid_argument);
  CHECK_THROWS_AS(ImplicitALS<S>(with([](Options& o) { o.confidence = static_cast<Confidence>(7); })),
                  invalid_argument);
}

TEST_CASE_TEMPLATE("fit: invalid matrices throw", S, float, double) {
  using recmix::invalid_argument;
  ImplicitALS<S> model(small_options());
  CHECK_THROWS_WITH_AS(model.fit(InteractionMatrix()), doctest::Contains("empty"), invalid_argument);
  CHECK_THROWS_AS(model.fit(InteractionMatrix(3, 0)), invalid_argument);
  CHECK_THROWS_AS(model.fit(InteractionMatrix(0, 4)), invalid_argument);
  CHECK_FALSE(model.is_fitted());

  // A negative weight: the message names the user and the item.
  const InteractionMatrix negative(3, 4, {0, 1, 3, 3}, {2, 0, 3}, {1.0f, 2.0f, -0.5f});
  CHECK_THROWS_WITH_AS(model.fit(negative), doctest::Contains("user 1, item 3"), invalid_argument);
  CHECK_FALSE(model.is_fitted());

  // A NaN weight never gets as far as a model: every way of building a matrix refuses it.
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Index> u = {0};
  const std::vector<Index> i = {1};
  const std::vector<float> w = {nan};
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(1, 2, u, i, w), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix(1, 2, {0, 1}, {1}, {nan}), invalid_argument);
  Eigen::SparseMatrix<float> e(1, 2);
  e.insert(0, 1) = nan;
  CHECK_THROWS_AS(InteractionMatrix::from_eigen(e), invalid_argument);

  // loss() checks its matrix against the model.
  const InteractionMatrix m = random_matrix(10, 6, 0.4, 21);
  model.fit(m);
  CHECK_THROWS_AS((void)model.loss(random_matrix(10, 7, 0.4, 21)), invalid_argument);
  CHECK_THROWS_AS((void)model.loss(negative), invalid_argument);
}

TEST_CASE("fit: the exact solver is stable in float when items are fewer than factors") {
  // 24 items, f = 32: Y^T Y has rank <= 24 and lambda alone controls 8 directions. Formed in
  // float, rounding of Y^T Y exceeded lambda there: the loss went up between iterations and on
  // 950k users the factors became NaN. The exact solver now forms and solves in double.
  recmix::datasets::SyntheticSpec spec;
  spec.shape = recmix::datasets::SyntheticShape::santander;
  spec.users = 50000;
  spec.seed = 42;
  const InteractionMatrix m = recmix::datasets::synthetic_interactions(spec);
  Options o;
  o.factors = 32;
  o.iterations = 5;
  o.solver = Solver::cholesky;
  o.calculate_loss = true;
  ImplicitALS<float> model(o);
  const auto report = model.fit(m);
  CHECK(model.user_factors().allFinite());
  CHECK(model.item_factors().allFinite());
  for (std::size_t k = 1; k < report.loss.size(); ++k) {
    CAPTURE(k);
    CHECK(report.loss[k] <= report.loss[k - 1] * (1.0 + 1e-5));
  }
}
