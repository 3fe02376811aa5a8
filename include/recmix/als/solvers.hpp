#pragma once
/// @file
/// The per-row math of implicit ALS (Hu, Koren & Volinsky 2008), as free functions that tests
/// can reach: Gram matrices, the conjugate-gradient solver (Takacs et al. 2011) run in lockstep
/// over blocks of rows, the exact Cholesky solver, and the training loss as implicit defines it.
///
/// Notation. Solving the rows X of one side given the other side's factors Y (n x f): for a row
/// u with nonzeros (i, r_ui), preference p_ui = [r_ui > 0], confidence c_ui (1 + alpha r_ui, or
/// alpha r_ui in implicit's convention), and c = 1 for every cell not stored,
///   A_u = Y^T Y + lambda I + sum_i (c_ui - 1) y_i y_i^T,     b_u = sum_i c_ui p_ui y_i,
/// and x_u = A_u^{-1} b_u. CG needs only products A_u p, which for a block of rows P is
///   wide form:   P G + corrections,    G = Y^T Y + lambda I  (f x f, formed once per half-sweep)
///   narrow form: ((P Y^T) o W) Y + lambda P, W_ui = c_ui on stored cells and 1 elsewhere,
/// both matrix-matrix products over the block. The narrow form is used when the other side has
/// few rows (Santander: 24 products), where it needs fewer flops and no gathers.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace recmix::als {

/// How a stored weight r becomes a confidence c.
enum class Confidence {
  one_plus_alpha_r,  ///< c = 1 + alpha r (Hu, Koren & Volinsky; the default)
  alpha_r,           ///< c = alpha r (implicit's convention: pass confidences as the data)
};

namespace detail {

/// Rows solved together in one lockstep CG block.
inline constexpr Index kBlockRows = 256;
/// Nonzeros summed by one task when a half-sweep has fewer rows than one block.
inline constexpr Offset kNnzChunk = 16384;
/// Rows of Y whose Gram partials are summed by one task (fixed, so sums do not depend on threads).
inline constexpr Index kGramChunk = 4096;
/// CG stops a row when its squared residual falls below this (also avoids 0/0 for exact rows).
inline constexpr double kResidualEpsilon = 1e-20;

template <class Scalar>
struct ConfidenceMap {
  Scalar alpha;
  Confidence kind;
  [[nodiscard]] Scalar operator()(float r) const {
    const Scalar ar = alpha * static_cast<Scalar>(r);
    return kind == Confidence::one_plus_alpha_r ? Scalar(1) + ar : ar;
  }
};

/// Y^T Y (+ lambda I), summed over fixed row chunks in a fixed order: identical for any thread count.
template <class Scalar>
RowMatrix<Scalar> gram(const RowMatrix<Scalar>& Y, Scalar lambda, int threads) {
  const Index f = static_cast<Index>(Y.cols());
  const Index n = static_cast<Index>(Y.rows());
  const Index chunks = std::max<Index>(1, (n + kGramChunk - 1) / kGramChunk);
  std::vector<RowMatrix<Scalar>> partial(static_cast<std::size_t>(chunks));
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
  for (Index c = 0; c < chunks; ++c) {
    const Index b = c * kGramChunk, e = std::min(n, b + kGramChunk);
    auto block = Y.middleRows(b, e - b);
    RowMatrix<Scalar> g(f, f);
    g.noalias() = block.transpose() * block;
    partial[static_cast<std::size_t>(c)] = std::move(g);
  }
  (void)threads;
  RowMatrix<Scalar> G = RowMatrix<Scalar>::Zero(f, f);
  for (auto& p : partial) G += p;
  G.diagonal().array() += lambda;
  return G;
}

/// Everything one half-sweep shares: the rows to solve (rows of m), the other side's factors,
/// and the precomputed Gram matrix.
template <class Scalar>
struct HalfSweep {
  const InteractionMatrix& m;   ///< rows: entities solved; columns: rows of `other`
  const RowMatrix<Scalar>& other;
  ConfidenceMap<Scalar> conf;
  Scalar lambda;
  int cg_steps;
  int threads;
  bool narrow;                  ///< use the narrow form ((P Y^T) o W) Y
  RowMatrix<Scalar> G;          ///< Y^T Y + lambda I (wide form and Cholesky)

  HalfSweep(const InteractionMatrix& matrix, const RowMatrix<Scalar>& y, ConfidenceMap<Scalar> c, Scalar l, int steps,
            int nthreads, bool need_gram)
      : m(matrix), other(y), conf(c), lambda(l), cg_steps(steps), threads(nthreads) {
    const double f = static_cast<double>(y.cols());
    const double avg_nnz = m.rows() > 0 ? static_cast<double>(m.nnz()) / m.rows() : 0.0;
    // flops per row per product: wide f^2 + 2 nnz f, narrow 2 n f: pick the cheaper.
    narrow = 2.0 * static_cast<double>(y.rows()) < f + 2.0 * avg_nnz;
    if (need_gram || !narrow) G = gram(y, l, nthreads);
  }
};

/// Work buffers of one thread.
template <class Scalar>
struct CgWorkspace {
  RowMatrix<Scalar> R, P, AP, Q;
  std::vector<Scalar> rs;
  std::vector<std::uint8_t> active;
  std::vector<Scalar> partial;  ///< chunk partial sums (few-rows mode)
};

/// Calls fn(j, k0, k1) for row j = 0..nb-1 of the block and nonzero ranges [k0, k1) covering the
/// row. In few-rows mode the ranges are kNnzChunk long and the calls run in parallel, each
/// writing its own partial vector; partials are then added to out.row(j) in chunk order.
template <class Scalar, class Coef>
void accumulate_rows(const HalfSweep<Scalar>& s, Index r0, Index nb, bool parallel, std::type_identity_t<Eigen::Ref<RowMatrix<Scalar>>> out,
                     CgWorkspace<Scalar>& ws, Coef coef) {
  const Index f = static_cast<Index>(s.other.cols());
  const auto indptr = s.m.indptr();
  const auto indices = s.m.indices();
  const auto values = s.m.values();
  auto add_range = [&](Index j, Offset k0, Offset k1, Scalar* acc) {
    Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> a(acc, f);
    for (Offset k = k0; k < k1; ++k) {
      const Index i = indices[static_cast<std::size_t>(k)];
      const Scalar w = coef(j, i, values[static_cast<std::size_t>(k)]);
      if (w != Scalar(0)) a.noalias() += w * s.other.row(i);
    }
  };
  if (!parallel) {
    for (Index j = 0; j < nb; ++j) {
      add_range(j, indptr[static_cast<std::size_t>(r0 + j)], indptr[static_cast<std::size_t>(r0 + j + 1)],
                out.row(j).data());
    }
    return;
  }
  struct Chunk {
    Index row;
    Offset k0, k1;
  };
  std::vector<Chunk> chunks;
  for (Index j = 0; j < nb; ++j) {
    const Offset b = indptr[static_cast<std::size_t>(r0 + j)], e = indptr[static_cast<std::size_t>(r0 + j + 1)];
    for (Offset k = b; k < e; k += kNnzChunk) chunks.push_back({j, k, std::min(e, k + kNnzChunk)});
  }
  ws.partial.assign(chunks.size() * static_cast<std::size_t>(f), Scalar(0));
  const auto n_chunks = static_cast<std::int64_t>(chunks.size());
#ifdef _OPENMP
#pragma omp parallel for num_threads(s.threads) schedule(dynamic, 1)
#endif
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    const Chunk& ch = chunks[static_cast<std::size_t>(c)];
    add_range(ch.row, ch.k0, ch.k1, ws.partial.data() + c * f);
  }
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    out.row(chunks[c].row) += Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>(ws.partial.data() + c * f, f);
  }
}

/// AP = A P for rows [r0, r0 + nb) of the sweep.
template <class Scalar>
void apply_A(const HalfSweep<Scalar>& s, Index r0, Index nb, const std::type_identity_t<Eigen::Ref<const RowMatrix<Scalar>>>& P,
             std::type_identity_t<Eigen::Ref<RowMatrix<Scalar>>> AP, CgWorkspace<Scalar>& ws, bool parallel) {
  if (s.narrow) {
    ws.Q.resize(nb, s.other.rows());
    ws.Q.noalias() = P * s.other.transpose();
    const auto indptr = s.m.indptr();
    const auto indices = s.m.indices();
    const auto values = s.m.values();
    for (Index j = 0; j < nb; ++j) {
      for (Offset k = indptr[static_cast<std::size_t>(r0 + j)]; k < indptr[static_cast<std::size_t>(r0 + j + 1)]; ++k) {
        ws.Q(j, indices[static_cast<std::size_t>(k)]) *= s.conf(values[static_cast<std::size_t>(k)]);
      }
    }
    AP.noalias() = ws.Q * s.other;
    AP.noalias() += s.lambda * P;
    return;
  }
  AP.noalias() = P * s.G;
  accumulate_rows(s, r0, nb, parallel, AP, ws, [&](Index j, Index i, float r) {
    const Scalar w = s.conf(r) - Scalar(1);
    return w == Scalar(0) ? Scalar(0) : w * s.other.row(i).dot(P.row(j));
  });
}

/// Conjugate-gradient update of rows [r0, r0 + nb) of X, warm-started from their current values,
/// all rows of the block in lockstep. Rows with no nonzeros become zero (their exact solution).
/// `parallel` = spread each row's nonzeros over threads (for sweeps with fewer rows than a block).
template <class Scalar>
void cg_block(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X, Index r0, Index nb, CgWorkspace<Scalar>& ws,
              bool parallel) {
  const Index f = static_cast<Index>(X.cols());
  auto Xb = X.middleRows(r0, nb);
  ws.R.resize(nb, f);
  ws.P.resize(nb, f);
  ws.AP.resize(nb, f);
  // R = b - A x
  ws.R.setZero();
  accumulate_rows(s, r0, nb, parallel, ws.R, ws,
                  [&](Index, Index, float r) { return r > 0.0f ? s.conf(r) : Scalar(0); });
  apply_A(s, r0, nb, Xb, ws.AP, ws, parallel);
  ws.R -= ws.AP;
  ws.rs.resize(static_cast<std::size_t>(nb));
  ws.active.resize(static_cast<std::size_t>(nb));
  for (Index j = 0; j < nb; ++j) {
    if (s.m.row_nnz(r0 + j) == 0) {
      Xb.row(j).setZero();
      ws.R.row(j).setZero();
    }
    const Scalar rs = ws.R.row(j).squaredNorm();
    ws.rs[static_cast<std::size_t>(j)] = rs;
    ws.active[static_cast<std::size_t>(j)] = rs >= Scalar(kResidualEpsilon);
  }
  ws.P = ws.R;
  for (int step = 0; step < s.cg_steps; ++step) {
    if (std::none_of(ws.active.begin(), ws.active.end(), [](std::uint8_t a) { return a != 0; })) break;
    apply_A(s, r0, nb, ws.P, ws.AP, ws, parallel);
    for (Index j = 0; j < nb; ++j) {
      auto& active = ws.active[static_cast<std::size_t>(j)];
      if (!active) continue;
      Scalar& rsold = ws.rs[static_cast<std::size_t>(j)];
      const Scalar pap = ws.P.row(j).dot(ws.AP.row(j));
      if (!(pap > Scalar(0))) {  // breakdown (or NaN): keep the current x
        active = 0;
        continue;
      }
      const Scalar a = rsold / pap;
      Xb.row(j).noalias() += a * ws.P.row(j);
      ws.R.row(j).noalias() -= a * ws.AP.row(j);
      const Scalar rsnew = ws.R.row(j).squaredNorm();
      if (rsnew < Scalar(kResidualEpsilon)) {
        active = 0;
        continue;
      }
      ws.P.row(j) = ws.R.row(j) + (rsnew / rsold) * ws.P.row(j);
      rsold = rsnew;
    }
  }
}

/// One CG half-sweep over all rows of s.m, in blocks of kBlockRows (block boundaries never
/// depend on the thread count, so neither do the results).
template <class Scalar>
void cg_sweep(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X) {
  const Index n = s.m.rows();
  if (n <= kBlockRows) {
    CgWorkspace<Scalar> ws;
    cg_block(s, X, 0, n, ws, /*parallel=*/true);
    return;
  }
  const Index n_blocks = (n + kBlockRows - 1) / kBlockRows;
#ifdef _OPENMP
#pragma omp parallel num_threads(s.threads)
#endif
  {
    CgWorkspace<Scalar> ws;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      const Index r0 = b * kBlockRows;
      cg_block(s, X, r0, std::min(kBlockRows, n - r0), ws, /*parallel=*/false);
    }
  }
}

/// Exact solution of one row: x = A^{-1} b by Cholesky (LDL^T fallback when A is not positive
/// definite, e.g. lambda = 0 with too few items).
template <class Scalar>
void cholesky_solve_row(const HalfSweep<Scalar>& s, SparseRow row,
                        std::type_identity_t<Eigen::Ref<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>> x) {
  const Index f = static_cast<Index>(s.other.cols());
  if (row.empty()) {
    x.setZero();
    return;
  }
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> A = s.G;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> b = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>::Zero(f);
  for (std::size_t k = 0; k < row.size(); ++k) {
    const Index i = row.indices[k];
    const float r = row.values[k];
    const Scalar c = s.conf(r);
    auto y = s.other.row(i).transpose();
    A.noalias() += (c - Scalar(1)) * y * y.transpose();
    if (r > 0.0f) b.noalias() += c * y;
  }
  Eigen::LLT<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>> llt(A);
  if (llt.info() == Eigen::Success) {
    x = llt.solve(b).transpose();
  } else {
    x = A.ldlt().solve(b).transpose();
  }
}

/// One exact half-sweep (for verification and fold-in): every row solved by Cholesky.
template <class Scalar>
void cholesky_sweep(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X) {
  const Index n = s.m.rows();
#ifdef _OPENMP
#pragma omp parallel for num_threads(s.threads) schedule(dynamic, 64)
#endif
  for (Index u = 0; u < n; ++u) cholesky_solve_row(s, s.m.row(u), X.row(u));
}

/// The training loss exactly as implicit computes it:
///   [sum over all cells c_ui (p_ui - x_u.y_i)^2 + lambda (|X|^2 + |Y|^2)]
///   / (sum of c over the nonzeros + number of cells not stored),
/// evaluated as sum_u x_u^T (Y^T Y) x_u plus per-nonzero terms, without visiting empty cells.
/// Partial sums per fixed block in double, added in block order.
template <class Scalar>
double loss(const InteractionMatrix& m, const RowMatrix<Scalar>& X, const RowMatrix<Scalar>& Y,
            ConfidenceMap<Scalar> conf, Scalar lambda, int threads) {
  const RowMatrix<Scalar> YtY = gram(Y, Scalar(0), threads);
  const Index n = m.rows();
  const Index n_blocks = (n + kBlockRows - 1) / kBlockRows;
  std::vector<double> num(static_cast<std::size_t>(n_blocks), 0.0), conf_sum(static_cast<std::size_t>(n_blocks), 0.0),
      xnorm(static_cast<std::size_t>(n_blocks), 0.0);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
  {
    RowMatrix<Scalar> T;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      const Index r0 = b * kBlockRows, nb = std::min(kBlockRows, n - r0);
      auto Xb = X.middleRows(r0, nb);
      T.resize(nb, X.cols());
      T.noalias() = Xb * YtY;
      double acc = 0.0, csum = 0.0;
      for (Index j = 0; j < nb; ++j) {
        acc += static_cast<double>(T.row(j).dot(Xb.row(j)));
        const SparseRow row = m.row(r0 + j);
        for (std::size_t k = 0; k < row.size(); ++k) {
          const Scalar c = conf(row.values[k]);
          const double p = row.values[k] > 0.0f ? 1.0 : 0.0;
          const double xy = static_cast<double>(Y.row(row.indices[k]).dot(Xb.row(j)));
          // c (p - xy)^2 - xy^2: the stored cell's term minus what the all-cells sum counted.
          acc += static_cast<double>(c) * (p - xy) * (p - xy) - xy * xy;
          csum += static_cast<double>(c);
        }
      }
      num[static_cast<std::size_t>(b)] = acc;
      conf_sum[static_cast<std::size_t>(b)] = csum;
      xnorm[static_cast<std::size_t>(b)] = static_cast<double>(Xb.squaredNorm());
    }
  }
  (void)threads;
  double total = 0.0, csum = 0.0, xn = 0.0;
  for (Index b = 0; b < n_blocks; ++b) {
    total += num[static_cast<std::size_t>(b)];
    csum += conf_sum[static_cast<std::size_t>(b)];
    xn += xnorm[static_cast<std::size_t>(b)];
  }
  const double yn = static_cast<double>(Y.squaredNorm());
  total += static_cast<double>(lambda) * (xn + yn);
  const double cells = static_cast<double>(m.rows()) * static_cast<double>(m.cols());
  const double denom = csum + cells - static_cast<double>(m.nnz());
  return denom > 0.0 ? total / denom : 0.0;
}

}  // namespace detail
}  // namespace recmix::als
