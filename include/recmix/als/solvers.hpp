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
/// Wide-form blocks are sized so the other side's rows one block touches (about rows x average
/// nonzeros x f scalars) stay in a core's L2 cache across the block's CG products, instead of
/// being gathered from memory once per product.
inline constexpr std::size_t kWideBlockBytes = std::size_t{1} << 20;
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

/// Y^T Y (+ lambda I), summed over fixed row chunks in a fixed order: identical for any thread
/// count. `Out` is the precision of the products and sums (double for the exact solver).
template <class Scalar, class Out = Scalar>
RowMatrix<Out> gram(const RowMatrix<Scalar>& Y, Out lambda, int threads) {
  const Index f = static_cast<Index>(Y.cols());
  const Index n = static_cast<Index>(Y.rows());
  const Index chunks = std::max<Index>(1, (n + kGramChunk - 1) / kGramChunk);
  std::vector<RowMatrix<Out>> partial(static_cast<std::size_t>(chunks));
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
#endif
  for (Index c = 0; c < chunks; ++c) {
    const Index b = c * kGramChunk, e = std::min(n, b + kGramChunk);
    const auto block = Y.middleRows(b, e - b).template cast<Out>();
    // Symmetric rank-k update (half the flops of a full product); lower triangle only.
    Eigen::Matrix<Out, Eigen::Dynamic, Eigen::Dynamic> g = Eigen::Matrix<Out, Eigen::Dynamic, Eigen::Dynamic>::Zero(f, f);
    g.template selfadjointView<Eigen::Lower>().rankUpdate(block.transpose());
    partial[static_cast<std::size_t>(c)] = g.template selfadjointView<Eigen::Lower>();
  }
  (void)threads;
  RowMatrix<Out> G = RowMatrix<Out>::Zero(f, f);
  for (auto& p : partial) G += p;
  G.diagonal().array() += lambda;
  return G;
}

/// Most rows the other side may have for the narrow form (its K = Y Y^T is n x n).
inline constexpr Index kNarrowMaxRows = 512;

/// Whether the narrow form is cheaper. Per row and half-sweep with s CG steps, the wide form
/// costs about (s + 1)(f^2 + 2 nnz f) multiply-adds, the narrow one 2 n f (to enter and leave
/// the coordinates) + (s + 1) n^2 (n = rows of the other side). Depends on the data only.
inline bool prefer_narrow(Index n_other, Index f, Offset nnz, Index rows, int cg_steps = 3) {
  if (n_other > kNarrowMaxRows || rows == 0) return false;
  const double n = n_other, d = f, avg = static_cast<double>(nnz) / rows, s1 = cg_steps + 1.0;
  return 2.0 * n * d + s1 * n * n < s1 * (d * d + 2.0 * avg * d);
}

/// Everything one half-sweep shares: the rows to solve, the other side's factors, the Gram
/// matrix, and the nonzeros in one or both orders. `by_row` (rows = entities solved) is needed
/// by the narrow form, the Cholesky solver and sweeps of many rows; `by_other` (rows = the other
/// side's entities, i.e. the transpose) lets a sweep of few rows stream the other side's factors
/// in order instead of gathering them, and then `by_row` may be null.
template <class Scalar>
struct HalfSweep {
  const InteractionMatrix* by_row;
  const InteractionMatrix* by_other;
  const RowMatrix<Scalar>& other;
  ConfidenceMap<Scalar> conf;
  Scalar lambda;
  int cg_steps;
  int threads;
  Index rows = 0;
  bool narrow = false;          ///< use the narrow form ((P Y^T) o W) Y
  RowMatrix<Scalar> G;          ///< Y^T Y + lambda I (wide form)
  RowMatrix<double> Gd;         ///< Y^T Y + lambda I in double (exact solver and fold-in)
  RowMatrix<Scalar> K;          ///< Y Y^T (narrow form)
  std::vector<Offset> counts;   ///< nonzeros per row when by_row is null

  HalfSweep(const InteractionMatrix* row_major, const InteractionMatrix* other_major, const RowMatrix<Scalar>& y,
            ConfidenceMap<Scalar> c, Scalar l, int steps, int nthreads, bool need_gram)
      : by_row(row_major), by_other(other_major), other(y), conf(c), lambda(l), cg_steps(steps), threads(nthreads) {
    if (by_row != nullptr) {
      rows = by_row->rows();
      narrow = prefer_narrow(static_cast<Index>(y.rows()), static_cast<Index>(y.cols()), by_row->nnz(), rows, steps);
    } else {
      rows = by_other->cols();
      counts.assign(static_cast<std::size_t>(rows), 0);
      for (Index j : by_other->indices()) ++counts[static_cast<std::size_t>(j)];
    }
    if (need_gram || !narrow) G = gram(y, l, nthreads);
    if (need_gram) Gd = gram(y, static_cast<double>(l), nthreads);
    if (narrow) K.noalias() = y * y.transpose();
  }

  HalfSweep(const InteractionMatrix& row_major, const RowMatrix<Scalar>& y, ConfidenceMap<Scalar> c, Scalar l,
            int steps, int nthreads, bool need_gram)
      : HalfSweep(&row_major, nullptr, y, c, l, steps, nthreads, need_gram) {}

  [[nodiscard]] Offset row_nnz(Index j) const {
    return by_row != nullptr ? by_row->row_nnz(j) : counts[static_cast<std::size_t>(j)];
  }
};

/// Work buffers of one thread.
template <class Scalar>
struct CgWorkspace {
  RowMatrix<Scalar> R, P, AP, Q;
  /// Narrow form, nb x n, column-major so per-row reductions are vertical vector adds.
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> Gm, W, Ax, Ar, Ap, Aap, Zr, Zp;
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> sx, sr, sp, tr, tp, x0n, rsv, alpha, beta, sap, pap, rsnew, live;
  std::vector<Scalar> rs;
  std::vector<std::uint8_t> active;
  std::vector<Scalar> partial;  ///< chunk partial sums (few-rows mode)
};

/// Nonzeros ahead whose other-side row is prefetched: the gathers are latency-bound, and rows
/// are hundreds of bytes, so asking for them early overlaps the misses.
inline constexpr Offset kPrefetchAhead = 6;

template <class Scalar>
inline void prefetch_row(const RowMatrix<Scalar>& M, Index i) {
#if defined(__GNUC__) || defined(__clang__)
  const char* p = reinterpret_cast<const char*>(M.data() + static_cast<std::ptrdiff_t>(i) * M.cols());
  const std::size_t bytes = static_cast<std::size_t>(M.cols()) * sizeof(Scalar);
  for (std::size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
#else
  (void)M;
  (void)i;
#endif
}

/// out.row(j) += sum over the nonzeros (i, r) of row r0 + j of coef(j, i, r) * other.row(i), for
/// j = 0..nb-1. Serial, unless `parallel`: then the sum is split into fixed chunks computed in
/// parallel and added in chunk order (so the result does not depend on the thread count),
/// streaming the other side in order when by_other is available.
template <class Scalar, class Coef>
void accumulate_rows(const HalfSweep<Scalar>& s, Index r0, Index nb, bool parallel,
                     std::type_identity_t<Eigen::Ref<RowMatrix<Scalar>>> out, CgWorkspace<Scalar>& ws, Coef coef) {
  using RowVec = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
  const Index f = static_cast<Index>(s.other.cols());
  if (parallel && s.by_other != nullptr) {
    // Other-major: chunks of consecutive other-side rows; each chunk keeps nb partial rows.
    const InteractionMatrix& om = *s.by_other;
    const Index n_other = om.rows();
    const Index chunk = std::max<Index>(8192, (n_other + 255) / 256);
    const Index n_chunks = (n_other + chunk - 1) / chunk;
    const auto stride = static_cast<std::size_t>(nb) * static_cast<std::size_t>(f);
    ws.partial.assign(static_cast<std::size_t>(n_chunks) * stride, Scalar(0));
#ifdef _OPENMP
#pragma omp parallel for num_threads(s.threads) schedule(dynamic, 1)
#endif
    for (Index c = 0; c < n_chunks; ++c) {
      Scalar* acc = ws.partial.data() + static_cast<std::size_t>(c) * stride;
      const Index u1 = std::min(n_other, (c + 1) * chunk);
      for (Index u = c * chunk; u < u1; ++u) {
        const SparseRow row = om.row(u);
        for (std::size_t k = 0; k < row.size(); ++k) {
          const Index j = row.indices[k] - r0;
          if (j < 0 || j >= nb) continue;
          const Scalar w = coef(j, u, row.values[k]);
          if (w != Scalar(0)) Eigen::Map<RowVec>(acc + static_cast<std::size_t>(j) * static_cast<std::size_t>(f), f).noalias() += w * s.other.row(u);
        }
      }
    }
    for (Index c = 0; c < n_chunks; ++c) {
      out += Eigen::Map<const RowMatrix<Scalar>>(ws.partial.data() + static_cast<std::size_t>(c) * stride, nb, f);
    }
    return;
  }
  const InteractionMatrix& m = *s.by_row;
  const auto indptr = m.indptr();
  const auto indices = m.indices();
  const auto values = m.values();
  auto add_range = [&](Index j, Offset k0, Offset k1, Scalar* acc) {
    Eigen::Map<RowVec> a(acc, f);
    for (Offset k = k0; k < k1; ++k) {
      if (k + kPrefetchAhead < k1) prefetch_row(s.other, indices[static_cast<std::size_t>(k + kPrefetchAhead)]);
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
    out.row(chunks[c].row) += Eigen::Map<const RowVec>(ws.partial.data() + c * static_cast<std::size_t>(f), f);
  }
}

/// AP = A P for rows [r0, r0 + nb) of the sweep, wide form.
template <class Scalar>
void apply_A(const HalfSweep<Scalar>& s, Index r0, Index nb, const std::type_identity_t<Eigen::Ref<const RowMatrix<Scalar>>>& P,
             std::type_identity_t<Eigen::Ref<RowMatrix<Scalar>>> AP, CgWorkspace<Scalar>& ws, bool parallel) {
  AP.noalias() = P * s.G;
  accumulate_rows(s, r0, nb, parallel, AP, ws, [&](Index j, Index i, float r) {
    const Scalar w = s.conf(r) - Scalar(1);
    return w == Scalar(0) ? Scalar(0) : w * s.other.row(i).dot(P.row(j));
  });
}

/// R = b - A X for rows [r0, r0 + nb) in the wide form, in one pass over their nonzeros: with
/// q = y_i . x_u each stored cell contributes (c p - (c - 1) q) y_i beside -(X G).
template <class Scalar>
void residual(const HalfSweep<Scalar>& s, Index r0, Index nb, const std::type_identity_t<Eigen::Ref<const RowMatrix<Scalar>>>& X,
              std::type_identity_t<Eigen::Ref<RowMatrix<Scalar>>> R, CgWorkspace<Scalar>& ws, bool parallel) {
  R.noalias() = -(X * s.G);
  accumulate_rows(s, r0, nb, parallel, R, ws, [&](Index j, Index i, float r) {
    const Scalar c = s.conf(r);
    return (r > 0.0f ? c : Scalar(0)) - (c - Scalar(1)) * s.other.row(i).dot(X.row(j));
  });
}

/// CG for a block of rows in the narrow form, run in coordinates. Every CG vector of row u lies
/// in span{y_1..y_n, x0} (x0 = the warm start): r0 = Y^T (c o p - W o Y x0) - lambda x0, and A
/// maps that span into itself. Writing v = Y^T a + s x0, with K = Y Y^T and g = Y x0,
///   Y v = K a + s g =: z,   x0 . v = g . a + s |x0|^2 =: t,   v . w = a_w . z_v + s_w t_v,
///   A v = Y^T (lambda a + W o z) + (lambda s) x0,
/// so each step costs one n x n product instead of two n x f ones, and x = Y^T a_x + s_x x0 is
/// formed once at the end. The iterates are those of CG in R^f (up to rounding).
template <class Scalar>
void cg_block_narrow(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X, Index r0, Index nb, CgWorkspace<Scalar>& ws) {
  const Index n = static_cast<Index>(s.other.rows());
  auto Xb = X.middleRows(r0, nb);
  const auto indptr = s.by_row->indptr();
  const auto indices = s.by_row->indices();
  const auto values = s.by_row->values();
  ws.Gm.resize(nb, n);
  ws.Gm.noalias() = Xb * s.other.transpose();  // g = Y x0, one row per user
  ws.W.setOnes(nb, n);
  ws.Ar.resize(nb, n);
  ws.Ar.array() = -ws.Gm.array();
  for (Index j = 0; j < nb; ++j) {
    for (Offset k = indptr[static_cast<std::size_t>(r0 + j)]; k < indptr[static_cast<std::size_t>(r0 + j + 1)]; ++k) {
      const Index i = indices[static_cast<std::size_t>(k)];
      const float r = values[static_cast<std::size_t>(k)];
      const Scalar c = s.conf(r);
      ws.W(j, i) = c;
      ws.Ar(j, i) = c * ((r > 0.0f ? Scalar(1) : Scalar(0)) - ws.Gm(j, i));  // c p - c g
    }
  }
  ws.x0n = Xb.rowwise().squaredNorm();
  ws.sr.setConstant(nb, -s.lambda);
  ws.sx.setOnes(nb);
  ws.Ax.setZero(nb, n);
  ws.Zr.resize(nb, n);
  ws.Zr.noalias() = ws.Ar * s.K;
  ws.Zr.noalias() += ws.sr.asDiagonal() * ws.Gm;
  ws.tr = (ws.Gm.array() * ws.Ar.array()).rowwise().sum().matrix() + ws.sr.cwiseProduct(ws.x0n);
  ws.rsv = (ws.Ar.array() * ws.Zr.array()).rowwise().sum().matrix() + ws.sr.cwiseProduct(ws.tr);
  ws.active.resize(static_cast<std::size_t>(nb));
  for (Index j = 0; j < nb; ++j) {
    const bool empty = s.row_nnz(r0 + j) == 0;
    if (empty) ws.sx(j) = Scalar(0);  // exact solution of an empty row: x = 0
    ws.active[static_cast<std::size_t>(j)] = !empty && ws.rsv(j) >= Scalar(kResidualEpsilon);
  }
  ws.Ap = ws.Ar;
  ws.sp = ws.sr;
  ws.Zp = ws.Zr;
  ws.tp = ws.tr;
  ws.alpha.resize(nb);
  ws.beta.resize(nb);
  ws.Aap.resize(nb, n);
  ws.live.resize(nb);
  auto rowsum = [](const auto& a, const auto& b) { return (a.array() * b.array()).rowwise().sum().matrix(); };
  for (int step = 0; step < s.cg_steps; ++step) {
    if (std::none_of(ws.active.begin(), ws.active.end(), [](std::uint8_t a) { return a != 0; })) break;
    ws.Aap.array() = s.lambda * ws.Ap.array() + ws.W.array() * ws.Zp.array();
    ws.sap = s.lambda * ws.sp;
    ws.pap = rowsum(ws.Aap, ws.Zp) + ws.sap.cwiseProduct(ws.tp);
    for (Index j = 0; j < nb; ++j) {
      auto& active = ws.active[static_cast<std::size_t>(j)];
      if (active && !(ws.pap(j) > Scalar(0))) active = 0;  // breakdown (or NaN): keep the current x
      ws.alpha(j) = active ? ws.rsv(j) / ws.pap(j) : Scalar(0);
    }
    ws.Ax.noalias() += ws.alpha.asDiagonal() * ws.Ap;
    ws.sx += ws.alpha.cwiseProduct(ws.sp);
    ws.Ar.noalias() -= ws.alpha.asDiagonal() * ws.Aap;
    ws.sr -= ws.alpha.cwiseProduct(ws.sap);
    ws.Zr.noalias() = ws.Ar * s.K;
    ws.Zr.noalias() += ws.sr.asDiagonal() * ws.Gm;
    ws.tr = rowsum(ws.Gm, ws.Ar) + ws.sr.cwiseProduct(ws.x0n);
    ws.rsnew = rowsum(ws.Ar, ws.Zr) + ws.sr.cwiseProduct(ws.tr);
    // Rows that stop keep p (unused: their alpha stays 0); the others take p = r + beta p.
    for (Index j = 0; j < nb; ++j) {
      auto& active = ws.active[static_cast<std::size_t>(j)];
      if (active && ws.rsnew(j) < Scalar(kResidualEpsilon)) active = 0;
      ws.live(j) = active ? Scalar(1) : Scalar(0);
      ws.beta(j) = active ? ws.rsnew(j) / ws.rsv(j) : Scalar(1);
      if (active) ws.rsv(j) = ws.rsnew(j);
    }
    ws.Ap = ws.beta.asDiagonal() * ws.Ap;
    ws.Ap.noalias() += ws.live.asDiagonal() * ws.Ar;
    ws.sp = ws.beta.cwiseProduct(ws.sp) + ws.live.cwiseProduct(ws.sr);
    ws.Zp = ws.beta.asDiagonal() * ws.Zp;
    ws.Zp.noalias() += ws.live.asDiagonal() * ws.Zr;
    ws.tp = ws.beta.cwiseProduct(ws.tp) + ws.live.cwiseProduct(ws.tr);
  }
  // x = s_x x0 + Y^T a_x
  Xb = ws.sx.asDiagonal() * Xb;
  Xb.noalias() += ws.Ax * s.other;
}

/// Conjugate-gradient update of rows [r0, r0 + nb) of X, warm-started from their current values,
/// all rows of the block in lockstep. Rows with no nonzeros become zero (their exact solution).
/// `parallel` = spread each row's nonzeros over threads (for sweeps with fewer rows than a block).
template <class Scalar>
void cg_block(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X, Index r0, Index nb, CgWorkspace<Scalar>& ws,
              bool parallel) {
  if (s.narrow) {
    cg_block_narrow(s, X, r0, nb, ws);
    return;
  }
  const Index f = static_cast<Index>(X.cols());
  auto Xb = X.middleRows(r0, nb);
  ws.R.resize(nb, f);
  ws.P.resize(nb, f);
  ws.AP.resize(nb, f);
  residual(s, r0, nb, Xb, ws.R, ws, parallel);  // R = b - A x
  ws.rs.resize(static_cast<std::size_t>(nb));
  ws.active.resize(static_cast<std::size_t>(nb));
  for (Index j = 0; j < nb; ++j) {
    if (s.row_nnz(r0 + j) == 0) {
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

/// Rows per block: kBlockRows in the narrow form; in the wide form as many as keep the block's
/// gathered rows within kWideBlockBytes (16 to kBlockRows). A function of the data only.
template <class Scalar>
Index block_rows(const HalfSweep<Scalar>& s) {
  if (s.narrow || s.rows == 0 || s.by_row == nullptr) return kBlockRows;
  const double avg_nnz = std::max(1.0, static_cast<double>(s.by_row->nnz()) / s.rows);
  const double per_row = avg_nnz * static_cast<double>(s.other.cols()) * sizeof(Scalar);
  const auto fit = static_cast<Index>(static_cast<double>(kWideBlockBytes) / per_row);
  return std::clamp<Index>(fit / 16 * 16, 16, kBlockRows);
}

/// One CG half-sweep over all rows, in blocks of block_rows(s) (block boundaries never depend
/// on the thread count, so neither do the results).
template <class Scalar>
void cg_sweep(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X) {
  const Index n = s.rows;
  if (n <= kBlockRows) {
    CgWorkspace<Scalar> ws;
    cg_block(s, X, 0, n, ws, /*parallel=*/true);
    return;
  }
  const Index block = block_rows(s);
  const Index n_blocks = (n + block - 1) / block;
#ifdef _OPENMP
#pragma omp parallel num_threads(s.threads)
#endif
  {
    CgWorkspace<Scalar> ws;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      const Index r0 = b * block;
      cg_block(s, X, r0, std::min(block, n - r0), ws, /*parallel=*/false);
    }
  }
}

/// Exact solution of one row: x = A^{-1} b by Cholesky (LDL^T fallback when A is not positive
/// definite, e.g. lambda = 0 with too few items). Formed (from s.Gd) and solved in double whatever
/// Scalar is: with few items A = Y^T Y + lambda I is badly conditioned (rank(Y^T Y) <= n < f), and
/// float rounding of Y^T Y can exceed lambda in the directions only lambda controls.
template <class Scalar>
void cholesky_solve_row(const HalfSweep<Scalar>& s, SparseRow row,
                        std::type_identity_t<Eigen::Ref<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>> x) {
  const Index f = static_cast<Index>(s.other.cols());
  if (row.empty()) {
    x.setZero();
    return;
  }
  Eigen::MatrixXd A = s.Gd;
  Eigen::VectorXd b = Eigen::VectorXd::Zero(f);
  for (std::size_t k = 0; k < row.size(); ++k) {
    const float r = row.values[k];
    const double c = static_cast<double>(s.conf(r));
    const Eigen::VectorXd y = s.other.row(row.indices[k]).transpose().template cast<double>();
    A.noalias() += (c - 1.0) * y * y.transpose();
    if (r > 0.0f) b.noalias() += c * y;
  }
  Eigen::LLT<Eigen::MatrixXd> llt(A);
  const Eigen::VectorXd solution = llt.info() == Eigen::Success ? Eigen::VectorXd(llt.solve(b)) : Eigen::VectorXd(A.ldlt().solve(b));
  x = solution.transpose().template cast<Scalar>();
}

/// One exact half-sweep (for verification and fold-in): every row solved by Cholesky.
template <class Scalar>
void cholesky_sweep(const HalfSweep<Scalar>& s, RowMatrix<Scalar>& X) {
  const Index n = s.rows;
#ifdef _OPENMP
#pragma omp parallel for num_threads(s.threads) schedule(dynamic, 64)
#endif
  for (Index u = 0; u < n; ++u) cholesky_solve_row(s, s.by_row->row(u), X.row(u));
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
