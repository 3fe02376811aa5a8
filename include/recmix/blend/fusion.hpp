#pragma once
/// @file
/// The fusion engine shared by HybridBlender (components fixed at compile time) and
/// DynamicBlender (components chosen at run time): the blend options, their validation, and
/// the block-wise "score each component, normalise each row, fuse with per-row renormalised
/// weights" loop. Include <recmix/blend/hybrid_blender.hpp> to use it.
///
/// Fusion of batch row r: the components that take part are those with weight > 0 whose
/// can_score mask is 1 for r; with W_r = the sum of their weights,
///   blend(r, i) = sum over those components c of (w_c / W_r) * normalised_c(r, i)
/// summed in double in component order and rounded to float once. A row no component takes
/// part in gets 0 and can_score 0.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "recmix/blend/normalize.hpp"
#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix::blend {

struct BlendOptions {
  /// One weight per component, >= 0 and finite, not all 0; empty = equal weights. Stored scaled
  /// to sum to 1. A component of weight 0 is off: never scored, and its can_score not consulted.
  std::vector<double> weights = {};
  /// Per component; empty = rank for all, one entry = that one for all.
  std::vector<Normalization> normalization = {};
  /// Per component, for reports; empty = each component's model kind.
  std::vector<std::string> names = {};
  /// Users scored together per block (bounds the temporaries: one float block per component);
  /// 0 = automatic: up to 4096, fewer for large catalogues (about 16 MB per component).
  Index block_users = 0;
  /// Threads of score() over blocks when called outside a parallel region (recommend and
  /// evaluate already call it from their own threads); 0 = all cores.
  int threads = 0;
};

/// A component's normalised scores for a batch, as they enter the blend.
struct ComponentScores {
  /// batch.size() x num_items(); rows the component cannot score are 0.
  RowMatrixXf scores;
  /// The component's can_score mask (1 = takes part in that row if its weight is > 0).
  std::vector<std::uint8_t> known;
};

namespace detail {

/// Runtime access to a blender's components, by index.
template <class A>
concept ComponentSet = requires(const A& a, std::size_t c, const UserBatch& b, ScoreBlock out, std::span<std::uint8_t> m) {
  { a.size() } -> std::convertible_to<std::size_t>;
  { a.num_items(c) } -> std::convertible_to<Index>;
  a.score(c, b, out);
  a.can_score(c, b, m);
  { a.kind(c) } -> std::convertible_to<std::string>;
};

/// Largest `threads` a blender accepts (a model file asking for more is refused).
inline constexpr int kMaxBlendThreads = 1024;

/// A validated setup: one weight (summing to 1), normalization and name per component.
struct BlendState {
  std::vector<double> weights;
  std::vector<Normalization> normalization;
  std::vector<std::string> names;
  Index block_users = 0;
  int threads = 0;

  [[nodiscard]] std::size_t size() const noexcept { return weights.size(); }

  /// Rows per block for a catalogue of n_items.
  [[nodiscard]] Index block_rows(Index n_items) const noexcept {
    if (block_users > 0) return block_users;
    constexpr Index kFloats = Index{1} << 22;
    return std::clamp<Index>(kFloats / std::max<Index>(1, n_items), 8, 4096);
  }
};

/// Checks weights and returns them scaled to sum to 1 (empty -> equal).
inline std::vector<double> checked_weights(std::span<const double> w, std::size_t n, const char* api) {
  if (w.empty()) return std::vector<double>(n, 1.0 / static_cast<double>(n));
  if (w.size() != n) {
    throw invalid_argument(std::string(api) + ": " + std::to_string(w.size()) + " weights for " + std::to_string(n) + " components");
  }
  double sum = 0.0;
  for (std::size_t c = 0; c < n; ++c) {
    if (!std::isfinite(w[c]) || w[c] < 0.0) {
      throw invalid_argument(std::string(api) + ": weight " + std::to_string(c) + " is " + std::to_string(w[c]) + "; weights must be finite and >= 0");
    }
    sum += w[c];
  }
  if (!(sum > 0.0) || !std::isfinite(sum)) throw invalid_argument(std::string(api) + ": the weights are all 0 (or overflow)");
  std::vector<double> out(w.begin(), w.end());
  for (double& x : out) x /= sum;
  return out;
}

/// Validates options for n components; default_name(c) names a component when names is empty.
template <class DefaultName>
BlendState make_state(const BlendOptions& o, std::size_t n, DefaultName&& default_name, const char* api) {
  if (n == 0) throw invalid_argument(std::string(api) + ": a blend needs at least one component");
  BlendState s;
  s.weights = checked_weights(o.weights, n, api);
  if (o.normalization.empty()) {
    s.normalization.assign(n, Normalization::rank);
  } else if (o.normalization.size() == 1 || o.normalization.size() == n) {
    for (Normalization z : o.normalization) {
      if (!is_valid(z)) throw invalid_argument(std::string(api) + ": unknown normalization " + std::to_string(static_cast<int>(z)));
    }
    s.normalization = o.normalization.size() == 1 ? std::vector<Normalization>(n, o.normalization[0]) : o.normalization;
  } else {
    throw invalid_argument(std::string(api) + ": " + std::to_string(o.normalization.size()) + " normalizations for " + std::to_string(n) +
                           " components (give 0, 1 or " + std::to_string(n) + ")");
  }
  if (o.names.empty()) {
    for (std::size_t c = 0; c < n; ++c) {
      std::string name = default_name(c);
      if (name.empty()) name = "component";
      if (std::find(s.names.begin(), s.names.end(), name) != s.names.end()) {
        name += '_';
        name += std::to_string(c);
      }
      s.names.push_back(std::move(name));
    }
  } else if (o.names.size() == n) {
    s.names = o.names;
  } else {
    throw invalid_argument(std::string(api) + ": " + std::to_string(o.names.size()) + " names for " + std::to_string(n) + " components");
  }
  if (o.block_users < 0) throw invalid_argument(std::string(api) + ": block_users must be >= 0, got " + std::to_string(o.block_users));
  if (o.threads < 0 || o.threads > kMaxBlendThreads) {
    throw invalid_argument(std::string(api) + ": threads must be in [0, " + std::to_string(kMaxBlendThreads) + "], got " +
                           std::to_string(o.threads));
  }
  s.block_users = o.block_users;
  s.threads = o.threads;
  return s;
}

/// Throws (invalid_argument, or model_format_error for a loaded blender) unless every
/// component has the same number of items as the first.
template <ComponentSet A>
void check_items(const A& a, const BlendState& s, const char* api, bool loading) {
  const Index n0 = a.num_items(0);
  for (std::size_t c = 1; c < a.size(); ++c) {
    const Index nc = a.num_items(c);
    if (nc != n0) {
      const std::string msg = std::string(api) + ": components disagree on the number of items: '" + s.names[0] + "' has " +
                              std::to_string(n0) + ", '" + s.names[c] + "' has " + std::to_string(nc);
      if (loading) throw model_format_error(msg);
      throw invalid_argument(msg);
    }
  }
}

/// Thread count for a loop over n_blocks blocks: 1 inside an enclosing parallel region.
inline int loop_threads(int requested, Index n_blocks, const char* api) {
  int t = resolve_threads(requested, api);
#ifdef _OPENMP
  if (omp_in_parallel() != 0) t = 1;
#endif
  return std::max(1, std::min<int>(t, static_cast<int>(std::min<Index>(n_blocks, kMaxBlendThreads))));
}

/// Runs fn(workspace, begin, end) for blocks [begin, end) of n rows on `threads` threads, each
/// thread with its own Workspace. Exceptions are rethrown after the loop.
template <class Workspace, class Fn>
void for_each_block(Index n, Index block, int threads, Fn&& fn) {
  const Index n_blocks = n == 0 ? 0 : (n - 1) / block + 1;
  recmix::detail::ParallelErrors errors;
  recmix::detail::EigenSerialGuard serial_eigen;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
  {
    Workspace ws;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (Index b = 0; b < n_blocks; ++b) {
      if (errors.failed()) continue;
      errors.run([&] {
        const Index begin = b * block;
        fn(ws, begin, std::min(n, begin + block));
      });
    }
  }
  (void)threads;
  errors.rethrow();
}

/// blend row = sum over k of coefs[k] * rows[k][i], in double, in order; rounded once.
/// The one place the fused arithmetic happens, so score() and tune_weights agree to the bit.
inline void fuse_row(const float* const* rows, const double* coefs, std::size_t count, Index n, double* acc, float* out) {
  std::fill(acc, acc + n, 0.0);
  for (std::size_t k = 0; k < count; ++k) {
    const float* x = rows[k];
    const double w = coefs[k];
    for (Index i = 0; i < n; ++i) acc[i] += w * static_cast<double>(x[i]);
  }
  for (Index i = 0; i < n; ++i) out[i] = static_cast<float>(acc[i]);
}

/// Scores component c on `sub` into `scores`, checks and normalises the rows `known` allows
/// (other rows become 0). row0: the batch row of sub's first row, for messages.
template <ComponentSet A>
void score_normalised(const A& a, const BlendState& s, std::size_t c, const UserBatch& sub, Index row0, std::span<const std::uint8_t> known,
                      RowMatrixXf& scores, NormalizeScratch& scratch, const char* api) {
  const Index n_items = a.num_items(c);
  scores.resize(sub.size(), n_items);
  a.score(c, sub, scores);
  for (Index r = 0; r < sub.size(); ++r) {
    float* row = scores.data() + static_cast<std::ptrdiff_t>(r) * n_items;
    if (known[static_cast<std::size_t>(r)] == 0) {
      std::fill(row, row + n_items, 0.0f);
      continue;
    }
    const Index bad = first_bad_score(row, n_items);
    if (bad >= 0) {
      throw invalid_argument(std::string(api) + ": component '" + s.names[c] + "' scored " + (std::isnan(row[bad]) ? "NaN" : "+inf") +
                             " for batch row " + std::to_string(row0 + r) + ", item " + std::to_string(bad));
    }
    normalize_row(row, n_items, s.normalization[c], scratch);
  }
}

/// Per-thread temporaries of blend_score.
struct FuseWorkspace {
  std::vector<RowMatrixXf> scores;              // one block per component
  std::vector<std::vector<std::uint8_t>> known;  // one mask per component
  std::vector<double> acc;
  std::vector<const float*> rows;
  std::vector<double> coefs;
  NormalizeScratch scratch;
};

/// Fills the masks of the components of weight > 0 for `sub` (entries 0/1) and returns how many
/// rows each component takes part in.
template <ComponentSet A>
std::vector<Index> fill_masks(const A& a, const BlendState& s, const UserBatch& sub, std::vector<std::vector<std::uint8_t>>& known) {
  const std::size_t n_comp = s.size();
  known.resize(n_comp);
  std::vector<Index> active(n_comp, 0);
  for (std::size_t c = 0; c < n_comp; ++c) {
    auto& m = known[c];
    m.assign(static_cast<std::size_t>(sub.size()), 0);
    if (!(s.weights[c] > 0.0)) continue;
    a.can_score(c, sub, std::span<std::uint8_t>(m));
    for (auto& v : m) {
      v = v != 0 ? 1 : 0;
      active[c] += v;
    }
  }
  return active;
}

/// Fused row r of a block: components with weight > 0 and known[c][r] take part. Returns false
/// (and leaves `out` alone) when none does.
inline bool fuse_one(const BlendState& s, const std::vector<const RowMatrixXf*>& comp_scores,
                     const std::vector<const std::vector<std::uint8_t>*>& known, Index r, Index n_items, FuseWorkspace& ws, float* out) {
  const std::size_t n_comp = s.size();
  double total = 0.0;
  for (std::size_t c = 0; c < n_comp; ++c) {
    if (s.weights[c] > 0.0 && (*known[c])[static_cast<std::size_t>(r)] != 0) total += s.weights[c];
  }
  if (!(total > 0.0)) return false;
  ws.rows.clear();
  ws.coefs.clear();
  for (std::size_t c = 0; c < n_comp; ++c) {
    if (s.weights[c] > 0.0 && (*known[c])[static_cast<std::size_t>(r)] != 0) {
      ws.rows.push_back(comp_scores[c]->data() + static_cast<std::ptrdiff_t>(r) * n_items);
      ws.coefs.push_back(s.weights[c] / total);
    }
  }
  ws.acc.resize(static_cast<std::size_t>(n_items));
  fuse_row(ws.rows.data(), ws.coefs.data(), ws.rows.size(), n_items, ws.acc.data(), out);
  return true;
}

/// The blender's score(): see the file comment.
template <ComponentSet A>
void blend_score(const A& a, const BlendState& s, const UserBatch& batch, ScoreBlock out, const char* api) {
  const Index n_items = a.num_items(0);
  if (out.rows() != batch.size() || out.cols() != n_items) {
    throw invalid_argument(std::string(api) + ": score block is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) +
                           ", expected " + std::to_string(batch.size()) + " x " + std::to_string(n_items));
  }
  const Index n = batch.size();
  const Index block = s.block_rows(n_items);
  const int threads = loop_threads(s.threads, n == 0 ? 0 : (n - 1) / block + 1, api);
  for_each_block<FuseWorkspace>(n, block, threads, [&](FuseWorkspace& ws, Index begin, Index end) {
    const UserBatch sub = batch.slice(begin, end);
    const std::size_t n_comp = s.size();
    const std::vector<Index> active = fill_masks(a, s, sub, ws.known);
    ws.scores.resize(n_comp);
    std::vector<const RowMatrixXf*> comp_scores(n_comp, nullptr);
    std::vector<const std::vector<std::uint8_t>*> known(n_comp, nullptr);
    for (std::size_t c = 0; c < n_comp; ++c) {
      known[c] = &ws.known[c];
      if (active[c] == 0) continue;
      score_normalised(a, s, c, sub, begin, ws.known[c], ws.scores[c], ws.scratch, api);
      comp_scores[c] = &ws.scores[c];
    }
    for (Index r = 0; r < end - begin; ++r) {
      float* row = out.data() + static_cast<std::ptrdiff_t>(begin + r) * out.outerStride();
      if (!fuse_one(s, comp_scores, known, r, n_items, ws, row)) std::fill(row, row + n_items, 0.0f);
    }
  });
}

/// The blender's can_score(): OR of the masks of the components of weight > 0.
template <ComponentSet A>
void blend_can_score(const A& a, const BlendState& s, const UserBatch& batch, std::span<std::uint8_t> mask, const char* api) {
  if (mask.size() != static_cast<std::size_t>(batch.size())) {
    throw invalid_argument(std::string(api) + ": mask has " + std::to_string(mask.size()) + " entries, batch has " + std::to_string(batch.size()));
  }
  std::fill(mask.begin(), mask.end(), std::uint8_t{0});
  std::vector<std::uint8_t> m(mask.size());
  for (std::size_t c = 0; c < s.size(); ++c) {
    if (!(s.weights[c] > 0.0)) continue;
    std::fill(m.begin(), m.end(), std::uint8_t{0});
    a.can_score(c, batch, std::span<std::uint8_t>(m));
    for (std::size_t r = 0; r < m.size(); ++r) mask[r] = (mask[r] != 0 || m[r] != 0) ? 1 : 0;
  }
}

/// One component's normalised scores and mask for a batch (whatever its weight).
template <ComponentSet A>
ComponentScores component_scores(const A& a, const BlendState& s, const UserBatch& batch, std::size_t c, const char* api) {
  if (c >= s.size()) {
    throw invalid_argument(std::string(api) + ": component " + std::to_string(c) + " of " + std::to_string(s.size()));
  }
  ComponentScores out;
  const Index n_items = a.num_items(c);
  const Index n = batch.size();
  out.scores.resize(n, n_items);
  out.known.assign(static_cast<std::size_t>(n), 0);
  a.can_score(c, batch, std::span<std::uint8_t>(out.known));
  for (auto& v : out.known) v = v != 0 ? 1 : 0;
  const Index block = s.block_rows(n_items);
  const int threads = loop_threads(s.threads, n == 0 ? 0 : (n - 1) / block + 1, api);
  struct Workspace {
    RowMatrixXf scores;
    NormalizeScratch scratch;
  };
  for_each_block<Workspace>(n, block, threads, [&](Workspace& ws, Index begin, Index end) {
    const std::span<const std::uint8_t> known(out.known.data() + begin, static_cast<std::size_t>(end - begin));
    score_normalised(a, s, c, batch.slice(begin, end), begin, known, ws.scores, ws.scratch, api);
    out.scores.middleRows(begin, end - begin) = ws.scores;
  });
  return out;
}

}  // namespace detail
}  // namespace recmix::blend
