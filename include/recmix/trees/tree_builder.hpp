#pragma once
/// @file
/// The histogram tree builder behind MultiLabelGBDT: per-node gradient/hessian histograms for
/// all W outputs at once, split finding with the gain summed over outputs, depth-wise or
/// leaf-wise growth, and leaves holding W values.
///
/// Gradients come as rows of 2W floats, [g_0, h_0, g_1, h_1, ...], so one histogram bin is
/// also 2W contiguous floats and adding a row to a bin is a single vector add. A node's
/// histogram is built from the rows of the smaller child only; the larger child's is the
/// parent's minus it, computed in place in the parent's buffer.
///
/// Determinism: a histogram is summed in row order per feature (a large node's rows in fixed
/// chunks whose number depends only on the row count, each summed in float, the chunk
/// histograms added in order in double),
/// split candidates are compared in feature order, and rows are partitioned serially, so the
/// tree is the same on any number of threads. Small nodes run on one thread: parallel regions
/// cost more than they save there, and far more when the cores are shared.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "recmix/core/types.hpp"
#include "recmix/trees/tree.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace recmix::trees {

enum class GrowPolicy {
  /// Level by level down to max_depth (XGBoost's default).
  depthwise,
  /// Always split the leaf with the largest gain, up to max_leaves (LightGBM's default).
  lossguide,
};

namespace detail {

/// A float buffer aligned to 64 bytes, so each histogram bin of 16k floats starts a cache line.
struct AlignedDelete {
  void operator()(float* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedDelete>;
inline AlignedFloats aligned_floats(std::size_t n) {
  return AlignedFloats(static_cast<float*>(::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t{64})));
}

/// What the builder needs to know about the split rules.
struct TreeParams {
  double lambda = 1.0;
  double min_child_weight = 1.0;  ///< on the mean hessian over the W outputs
  double min_split_gain = 0.0;
  double learning_rate = 0.1;
  int max_depth = 6;   ///< 0 = unlimited (lossguide only)
  int max_leaves = 0;  ///< 0 = unlimited (depthwise only)
  GrowPolicy policy = GrowPolicy::depthwise;
};

/// Read-only view of the binned training data.
struct BinnedView {
  const std::uint8_t* bins = nullptr;  ///< n x d, row-major (histograms read whole rows)
  const std::uint8_t* columns = nullptr;  ///< d x n, the same bins by feature (partitions read one feature)
  std::int32_t n = 0;
  std::int32_t d = 0;
  std::span<const std::int32_t> offsets;       ///< d + 1 bin offsets
  std::span<const std::uint8_t> categorical;  ///< d flags
};

/// Where the [g, h] pair of row i and output l lives: gh + i * row_stride + l * label_stride.
/// Pairs of one row are contiguous when label_stride == 2.
struct GradientLayout {
  std::size_t row_stride = 2;
  std::size_t label_stride = 2;
};

/// Rows [begin, end) of the row index array that fell into one leaf.
struct LeafRows {
  std::int32_t begin = 0;
  std::int32_t end = 0;
  std::int32_t value = 0;  ///< offset of the leaf's values in the tree
};

/// A split candidate of one node.
struct Split {
  double gain = 0.0;
  std::int32_t feature = -1;
  std::int32_t threshold = 0;  ///< numeric: bins 1..threshold go left
  bool default_left = false;
  bool categorical = false;
  std::array<std::uint64_t, kCategoryWords> left_set{};
  std::vector<double> left;  ///< 2W left sums, [g_0, h_0, g_1, h_1, ...]

  [[nodiscard]] bool valid() const noexcept { return feature >= 0; }
  /// Strictly better: larger gain; ties keep the earlier candidate.
  [[nodiscard]] bool better_than(const Split& o) const noexcept { return valid() && (!o.valid() || gain > o.gain); }
};

/// Per-node split search over histograms of 2W floats per bin.
class SplitFinder {
 public:
  SplitFinder(const TreeParams& p, int width) : p_(p), w_(width) {}

  /// Σ_l G_l² / (H_l + λ) of sums s (2W values).
  [[nodiscard]] double score(const double* s) const noexcept {
    double t = 0.0;
    for (int l = 0; l < w_; ++l) t += s[2 * l] * s[2 * l] / (s[2 * l + 1] + p_.lambda);
    return t;
  }
  [[nodiscard]] double hessian_mean(const double* s) const noexcept {
    double t = 0.0;
    for (int l = 0; l < w_; ++l) t += s[2 * l + 1];
    return t / w_;
  }

  /// Best split of one feature, given the node's histogram of that feature (bins x 2W floats)
  /// and the node's sums. `scratch` is reused between calls.
  void best_for_feature(const float* hist, int bins, bool categorical, std::int32_t feature, const std::vector<double>& parent,
                        double parent_score, Split& best, std::vector<double>& scratch) const {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    scratch.assign(3 * W2, 0.0);
    double* left = scratch.data();
    double* right = left + W2;
    double* with_missing = right + W2;
    auto consider = [&](const double* l, std::int32_t threshold, bool default_left, const std::array<std::uint64_t, kCategoryWords>* set) {
      if (hessian_mean(l) < p_.min_child_weight) return;
      for (std::size_t k = 0; k < W2; ++k) right[k] = parent[k] - l[k];
      if (hessian_mean(right) < p_.min_child_weight) return;
      const double gain = 0.5 * (score(l) + score(right) - parent_score);
      if (!(gain > p_.min_split_gain) || !(gain > 1e-12)) return;
      if (best.valid() && !(gain > best.gain)) return;
      best.gain = gain;
      best.feature = feature;
      best.threshold = threshold;
      best.default_left = default_left;
      best.categorical = set != nullptr;
      best.left_set = set != nullptr ? *set : std::array<std::uint64_t, kCategoryWords>{};
      best.left.assign(l, l + W2);
    };
    if (!categorical) {
      const float* missing = hist;
      bool has_missing = false;
      for (std::size_t k = 1; k < W2; k += 2) has_missing = has_missing || missing[k] != 0.0F;
      // Missing alone on the left.
      if (has_missing) {
        for (std::size_t k = 0; k < W2; ++k) with_missing[k] = missing[k];
        consider(with_missing, 0, true, nullptr);
      }
      for (int t = 1; t + 1 < bins; ++t) {
        const float* h = hist + static_cast<std::size_t>(t) * W2;
        for (std::size_t k = 0; k < W2; ++k) left[k] += h[k];
        consider(left, t, false, nullptr);
        if (has_missing) {
          for (std::size_t k = 0; k < W2; ++k) with_missing[k] = left[k] + missing[k];
          consider(with_missing, t, true, nullptr);
        }
      }
      return;
    }
    categorical_split(hist, bins, parent, consider);
  }

 private:
  template <class Consider>
  void categorical_split(const float* hist, int bins, const std::vector<double>& parent, Consider& consider) const {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    std::vector<int> present;
    for (int b = 0; b < bins; ++b) {
      const float* h = hist + static_cast<std::size_t>(b) * W2;
      double hs = 0.0;
      for (int l = 0; l < w_; ++l) hs += h[2 * l + 1];
      if (hs > 0.0) present.push_back(b);
    }
    if (present.size() < 2) return;
    // Orderings: by each chosen output's leaf value G/(H+λ). One output: that one; several:
    // the (up to) three outputs this feature could help most, judged by the gain of putting
    // every category in its own leaf.
    std::vector<int> outputs;
    if (w_ == 1) {
      outputs.push_back(0);
    } else {
      std::vector<std::pair<double, int>> potential;
      potential.reserve(static_cast<std::size_t>(w_));
      for (int l = 0; l < w_; ++l) {
        double s = 0.0;
        for (int b : present) {
          const float* h = hist + static_cast<std::size_t>(b) * W2;
          s += static_cast<double>(h[2 * l]) * h[2 * l] / (static_cast<double>(h[2 * l + 1]) + p_.lambda);
        }
        const auto g = static_cast<std::size_t>(2 * l);
        potential.emplace_back(s - parent[g] * parent[g] / (parent[g + 1] + p_.lambda),
                               l);
      }
      std::stable_sort(potential.begin(), potential.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      for (std::size_t k = 0; k < potential.size() && k < 3; ++k) outputs.push_back(potential[k].second);
    }
    std::vector<std::pair<double, int>> order(present.size());
    std::vector<double> left(W2);
    for (int l : outputs) {
      for (std::size_t k = 0; k < present.size(); ++k) {
        const float* h = hist + static_cast<std::size_t>(present[k]) * W2;
        order[k] = {static_cast<double>(h[2 * l]) / (static_cast<double>(h[2 * l + 1]) + p_.lambda), present[k]};
      }
      std::sort(order.begin(), order.end());  // by value, then bin
      std::fill(left.begin(), left.end(), 0.0);
      std::array<std::uint64_t, kCategoryWords> set{};
      for (std::size_t m = 0; m + 1 < order.size(); ++m) {
        const int b = order[m].second;
        const float* h = hist + static_cast<std::size_t>(b) * W2;
        for (std::size_t k = 0; k < W2; ++k) left[k] += h[k];
        set[static_cast<std::size_t>(b) >> 6U] |= std::uint64_t{1} << (static_cast<unsigned>(b) & 63U);
        consider(left.data(), 0, false, &set);
      }
    }
  }

  TreeParams p_;
  int w_;
};

/// Grows one tree. Owns the histogram buffers, reused from tree to tree.
class TreeBuilder {
 public:
  TreeBuilder(const BinnedView& data, const TreeParams& params, int width)
      : data_(data), p_(params), w_(width), finder_(params, width), hist_size_(static_cast<std::size_t>(data.offsets.back()) * 2 * width) {}

  /// Fits a tree to the gradients `gh` (laid out as `layout` says) over the
  /// rows listed in `rows` (reordered: each leaf's rows end up contiguous), using only
  /// `features`. `leaves` receives each leaf's row range. threads: for histogram and split
  /// search. `root_hist`: the root's histogram if the caller already has it (total_bins x 2W).
  Tree build(std::span<std::int32_t> rows, const float* gh, GradientLayout layout, std::span<const std::int32_t> features,
             std::int32_t label_begin, std::int32_t round, int threads, std::vector<LeafRows>& leaves, const float* root_hist = nullptr) {
    Tree tree(label_begin, w_, round);
    leaves.clear();
    scratch_rows_.resize(rows.size());
    features_ = features;
    threads_ = threads;
    layout_ = layout;
    std::vector<Open> open;
    // Root.
    {
      Open root;
      root.node = add_node(tree);
      root.depth = 0;
      root.begin = 0;
      root.end = static_cast<std::int32_t>(rows.size());
      root.hist = acquire();
      if (root_hist != nullptr) {
        std::copy(root_hist, root_hist + hist_size_, buffers_[static_cast<std::size_t>(root.hist)].get());
      } else {
        build_histogram(root.hist, rows.subspan(0, rows.size()), gh);
      }
      root.sums = node_sums(root.hist);
      open.push_back(std::move(root));
      find_split(open.back());
    }
    std::int32_t leaf_count = 1;
    // open: nodes waiting to be split or made leaves. depthwise: FIFO; lossguide: best gain first.
    std::size_t head = 0;
    std::vector<Open> done;
    while (head < open.size()) {
      std::size_t pick = head;
      if (p_.policy == GrowPolicy::lossguide) {
        for (std::size_t k = head + 1; k < open.size(); ++k) {
          if (open[k].split.better_than(open[pick].split)) pick = k;
        }
        std::swap(open[head], open[pick]);
      }
      Open cur = std::move(open[head++]);
      const bool room = p_.max_leaves == 0 || leaf_count < p_.max_leaves;
      if (!cur.split.valid() || !room) {
        make_leaf(tree, cur, leaves);
        continue;
      }
      // Split cur.
      const Split& s = cur.split;
      const auto mid = partition(rows, cur, s);
      Open l, r;
      l.node = add_node(tree);
      r.node = add_node(tree);
      {
        TreeNode& nd = tree.mutable_nodes()[static_cast<std::size_t>(cur.node)];
        nd.feature = s.feature;
        nd.left = l.node;
        nd.right = r.node;
        nd.gain = static_cast<float>(s.gain);
        nd.default_left = s.default_left ? 1 : 0;
        nd.categorical = s.categorical ? 1 : 0;
        nd.value = s.categorical ? tree.add_category_set(s.left_set) : s.threshold;
      }
      ++leaf_count;
      l.depth = r.depth = cur.depth + 1;
      l.begin = cur.begin;
      l.end = mid;
      r.begin = mid;
      r.end = cur.end;
      l.sums = s.left;
      r.sums.resize(l.sums.size());
      for (std::size_t k = 0; k < r.sums.size(); ++k) r.sums[k] = cur.sums[k] - l.sums[k];
      const bool l_can = can_split(l), r_can = can_split(r);
      if (l_can || r_can) {
        // Histogram of the smaller child from its rows; the larger = parent - smaller, in place.
        Open& small = (l.end - l.begin) <= (r.end - r.begin) ? l : r;
        Open& large = &small == &l ? r : l;
        small.hist = acquire();
        build_histogram(small.hist, rows.subspan(static_cast<std::size_t>(small.begin), static_cast<std::size_t>(small.end - small.begin)), gh);
        subtract(cur.hist, small.hist);
        large.hist = cur.hist;
        cur.hist = -1;
        find_split(l);
        find_split(r);
        if (!l_can) release(l);
        if (!r_can) release(r);
      }
      release(cur);
      open.push_back(std::move(l));
      open.push_back(std::move(r));
    }
    tree.finalize();
    return tree;
  }

 private:
  struct Open {
    std::int32_t node = 0;
    int depth = 0;
    std::int32_t begin = 0, end = 0;
    int hist = -1;  // buffer index, -1 = none
    std::vector<double> sums;
    Split split;
  };

  static std::int32_t add_node(Tree& t) {
    t.mutable_nodes().emplace_back();
    return static_cast<std::int32_t>(t.mutable_nodes().size() - 1);
  }

  [[nodiscard]] bool can_split(const Open& o) const {
    if (p_.max_depth > 0 && o.depth >= p_.max_depth) return false;
    if (o.end - o.begin < 2) return false;
    return finder_.hessian_mean(o.sums.data()) >= 2.0 * p_.min_child_weight;
  }

  void find_split(Open& o) {
    o.split = Split{};
    if (!can_split(o) || o.hist < 0) return;
    const float* hist = buffers_[static_cast<std::size_t>(o.hist)].get();
    const double parent_score = finder_.score(o.sums.data());
    const auto nf = static_cast<std::int32_t>(features_.size());
    std::vector<Split> per(static_cast<std::size_t>(nf));
    const int threads = static_cast<std::size_t>(o.end - o.begin) >= kParallelRows ? threads_ : 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && nf > 1)
#endif
    {
      std::vector<double> scratch;
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
      for (std::int32_t k = 0; k < nf; ++k) {
        const std::int32_t f = features_[static_cast<std::size_t>(k)];
        const std::int32_t off = data_.offsets[static_cast<std::size_t>(f)];
        const int bins = data_.offsets[static_cast<std::size_t>(f) + 1] - off;
        finder_.best_for_feature(hist + static_cast<std::size_t>(off) * 2 * static_cast<std::size_t>(w_), bins,
                                 data_.categorical[static_cast<std::size_t>(f)] != 0, f, o.sums, parent_score, per[static_cast<std::size_t>(k)],
                                 scratch);
      }
    }
    (void)threads;
    for (auto& s : per) {
      if (s.better_than(o.split)) o.split = std::move(s);
    }
  }

  /// Stable partition of the node's rows: left rows first, in their order, then right rows.
  std::int32_t partition(std::span<std::int32_t> rows, const Open& o, const Split& s) {
    const std::uint8_t* col = data_.columns + static_cast<std::size_t>(s.feature) * static_cast<std::size_t>(data_.n);
    std::int32_t* out_left = rows.data() + o.begin;
    std::int32_t* out_right = scratch_rows_.data();
    std::int32_t n_left = 0, n_right = 0;
    // Branch-free: every row is written to both outputs and only one count advances.
    if (s.categorical) {
      for (std::int32_t k = o.begin; k < o.end; ++k) {
        if (k + kPartitionAhead < o.end) __builtin_prefetch(col + rows[static_cast<std::size_t>(k + kPartitionAhead)]);
        const std::int32_t i = rows[static_cast<std::size_t>(k)];
        const std::uint8_t b = col[i];
        const auto left = static_cast<std::int32_t>((s.left_set[b >> 6U] >> (b & 63U)) & 1U);
        out_left[n_left] = i;
        out_right[n_right] = i;
        n_left += left;
        n_right += 1 - left;
      }
    } else {
      // Bin 0 (missing) goes left iff default_left: compare (b - 1) as unsigned against the
      // threshold, with bin 0 mapped to 0 (left) or to 255 + 1 (right).
      const std::int32_t missing_key = s.default_left ? 0 : 256;
      for (std::int32_t k = o.begin; k < o.end; ++k) {
        if (k + kPartitionAhead < o.end) __builtin_prefetch(col + rows[static_cast<std::size_t>(k + kPartitionAhead)]);
        const std::int32_t i = rows[static_cast<std::size_t>(k)];
        const std::int32_t b = col[i];
        const std::int32_t key = b == 0 ? missing_key : b;
        const std::int32_t left = key <= s.threshold ? 1 : 0;
        out_left[n_left] = i;
        out_right[n_right] = i;
        n_left += left;
        n_right += 1 - left;
      }
    }
    std::memcpy(out_left + n_left, out_right, static_cast<std::size_t>(n_right) * sizeof(std::int32_t));
    return o.begin + n_left;
  }

  void make_leaf(Tree& tree, Open& o, std::vector<LeafRows>& leaves) {
    auto& values = tree.mutable_leaf_values();
    const auto offset = static_cast<std::int32_t>(values.size());
    for (int l = 0; l < w_; ++l) {
      const double g = o.sums[static_cast<std::size_t>(2 * l)];
      const double h = o.sums[static_cast<std::size_t>(2 * l + 1)];
      values.push_back(static_cast<float>(-p_.learning_rate * g / (h + p_.lambda)));
    }
    TreeNode& nd = tree.mutable_nodes()[static_cast<std::size_t>(o.node)];
    nd.feature = -1;
    nd.value = offset;
    leaves.push_back({o.begin, o.end, offset});
    release(o);
  }

  /// Sums of the node from the histogram of its first feature (every row is in one of its bins).
  std::vector<double> node_sums(int hist) const {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    std::vector<double> s(W2, 0.0);
    const std::int32_t f = features_[0];
    const float* h = buffers_[static_cast<std::size_t>(hist)].get();
    for (std::int32_t b = data_.offsets[static_cast<std::size_t>(f)]; b < data_.offsets[static_cast<std::size_t>(f) + 1]; ++b) {
      for (std::size_t k = 0; k < W2; ++k) s[k] += h[static_cast<std::size_t>(b) * W2 + k];
    }
    return s;
  }


 public:
  /// Floats in one histogram (total_bins x 2W).
  [[nodiscard]] std::size_t histogram_size() const noexcept { return hist_size_; }

  /// Histogram of `rows` (gradients laid out as `layout` says) for `features` into `out`
  /// (histogram_size() floats; only the features' bins are written).
  void histogram(std::span<const std::int32_t> rows, const float* gh, GradientLayout layout, std::span<const std::int32_t> features, int threads,
                 float* out) {
    features_ = features;
    threads_ = threads;
    layout_ = layout;
    fill_histogram(out, rows, gh);
  }

 private:
  /// Histogram of `rows` for every active feature: threads split the features, each feature's
  /// bins are summed in row order by one thread.
  void build_histogram(int hist, std::span<const std::int32_t> rows, const float* gh) {
    fill_histogram(buffers_[static_cast<std::size_t>(hist)].get(), rows, gh);
  }

  /// Rows ahead whose bin a partition prefetches.
  static constexpr std::int32_t kPartitionAhead = 32;
  /// Nodes with fewer rows are handled on one thread.
  static constexpr std::size_t kParallelRows = 16384;
  /// Rows per chunk of a chunked histogram (a chunk holds 32k to 64k rows), and the chunks summed at once.
  static constexpr std::size_t kChunkRows = 32768;
  static constexpr std::size_t kMaxChunks = 8;

  /// Fills h with the histogram of `rows` over the active features. A large node's rows are
  /// cut into chunks (their number depends only on the row count), each chunk summed in row
  /// order into its own histogram by one thread, and the chunks added in order: the result
  /// does not depend on the thread count. A small node: one pass, threads split the features.
  void fill_histogram(float* h, std::span<const std::int32_t> rows, const float* gh) {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    const auto nf = static_cast<std::int32_t>(features_.size());
    const std::size_t chunks = rows.size() / kChunkRows;
    if (chunks < 2) {
      const int threads = (rows.size() < kParallelRows || nf < 2) ? 1 : std::min(threads_, static_cast<int>(nf));
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
      {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        const std::int32_t f0 = nf * t / nt, f1 = nf * (t + 1) / nt;
        zero_features(h, f0, f1);
        accumulate_features(h, rows, gh, f0, f1);
      }
      return;
    }
    // Chunks of 32k-64k rows are summed in float (short sums stay accurate), kMaxChunks at a
    // time in parallel, and added in chunk order into double totals, rounded to float at the end.
    while (chunk_buffers_.size() < kMaxChunks) chunk_buffers_.push_back(aligned_floats(hist_size_));
    totals_.resize(hist_size_);
    const int threads = std::min(threads_, static_cast<int>(std::min(chunks, kMaxChunks)));
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
    {
      for (std::size_t w0 = 0; w0 < chunks; w0 += kMaxChunks) {
        const std::size_t wc = std::min(kMaxChunks, chunks - w0);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
        for (std::size_t c = 0; c < wc; ++c) {
          float* out = chunk_buffers_[c].get();
          const std::size_t r0 = rows.size() * (w0 + c) / chunks, r1 = rows.size() * (w0 + c + 1) / chunks;
          zero_features(out, 0, nf);
          accumulate_features(out, rows.subspan(r0, r1 - r0), gh, 0, nf);
        }
        const bool first = w0 == 0, last = w0 + wc >= chunks;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (std::int32_t k = 0; k < nf; ++k) {
          const std::int32_t f = features_[static_cast<std::size_t>(k)];
          const std::size_t b0 = static_cast<std::size_t>(data_.offsets[static_cast<std::size_t>(f)]) * W2;
          const std::size_t b1 = static_cast<std::size_t>(data_.offsets[static_cast<std::size_t>(f) + 1]) * W2;
          for (std::size_t x = b0; x < b1; ++x) {
            double sum = first ? 0.0 : totals_[x];
            for (std::size_t c = 0; c < wc; ++c) sum += static_cast<double>(chunk_buffers_[c][x]);
            totals_[x] = sum;
            if (last) h[x] = static_cast<float>(sum);
          }
        }
      }
    }
  }

  /// Zeroes the bins of active features [f0, f1) in h.
  void zero_features(float* h, std::int32_t f0, std::int32_t f1) const {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    for (std::int32_t k = f0; k < f1; ++k) {
      const std::int32_t f = features_[static_cast<std::size_t>(k)];
      const std::int32_t b0 = data_.offsets[static_cast<std::size_t>(f)], b1 = data_.offsets[static_cast<std::size_t>(f) + 1];
      std::fill(h + static_cast<std::size_t>(b0) * W2, h + static_cast<std::size_t>(b1) * W2, 0.0F);
    }
  }

  /// Adds `rows` to h for active features [f0, f1), one row-major pass.
  void accumulate_features(float* h, std::span<const std::int32_t> rows, const float* gh, std::int32_t f0, std::int32_t f1) const {
    const auto W2 = static_cast<std::size_t>(2 * w_);
    constexpr std::int32_t kGroup = 32;
    for (std::int32_t g0 = f0; g0 < f1; g0 += kGroup) {
      const std::int32_t g1 = std::min(f1, g0 + kGroup);
      std::int32_t feat[kGroup];
      float* base[kGroup];
      const std::int32_t ng = g1 - g0;
      for (std::int32_t k = 0; k < ng; ++k) {
        feat[k] = features_[static_cast<std::size_t>(g0 + k)];
        base[k] = h + static_cast<std::size_t>(data_.offsets[static_cast<std::size_t>(feat[k])]) * W2;
      }
      accumulate(rows, gh, layout_, data_.bins, static_cast<std::size_t>(data_.d), feat, base, ng, W2);
    }
  }

  /// Adds each row's 2W gradient floats to the bin it falls in, for ng features.
  static void accumulate(std::span<const std::int32_t> rows, const float* gh, GradientLayout layout, const std::uint8_t* bins, std::size_t d,
                         const std::int32_t* feat, float* const* base, std::int32_t ng, std::size_t W2) {
    // A compile-time width lets the compiler keep a row's gradients in registers.
    switch (W2) {
      case 2: return accumulate_fixed<2>(rows, gh, layout, bins, d, feat, base, ng);
      case 4: return accumulate_fixed<4>(rows, gh, layout, bins, d, feat, base, ng);
      case 16: return accumulate_fixed<16>(rows, gh, layout, bins, d, feat, base, ng);
      case 32: return accumulate_fixed<32>(rows, gh, layout, bins, d, feat, base, ng);
      case 48: return accumulate_fixed<48>(rows, gh, layout, bins, d, feat, base, ng);
      case 64: return accumulate_fixed<64>(rows, gh, layout, bins, d, feat, base, ng);
      default: break;
    }
    const std::size_t n = rows.size();
    std::vector<float> gbuf(W2);
    for (std::size_t r = 0; r < n; ++r) {
      const auto i = static_cast<std::size_t>(rows[r]);
      gather_pairs(gh + i * layout.row_stride, layout, W2, gbuf.data());
      add_to_bins(gbuf.data(), bins + i * d, feat, base, ng, W2);
    }
  }

  /// Row's W2 / 2 [g, h] pairs into g, contiguous.
  static void gather_pairs(const float* src, GradientLayout layout, std::size_t W2, float* g) noexcept {
    if (layout.label_stride == 2) {
      for (std::size_t c = 0; c < W2; ++c) g[c] = src[c];
      return;
    }
    for (std::size_t l = 0; l < W2 / 2; ++l) {
      g[2 * l] = src[l * layout.label_stride];
      g[2 * l + 1] = src[l * layout.label_stride + 1];
    }
  }

  /// Adds g (W2 floats) to the bin row b falls in, for each of the ng features.
  static void add_to_bins(const float* g, const std::uint8_t* b, const std::int32_t* feat, float* const* base, std::int32_t ng, std::size_t W2) noexcept {
    for (std::int32_t k = 0; k < ng; ++k) {
      float* dst = base[k] + static_cast<std::size_t>(b[feat[k]]) * W2;
      for (std::size_t c = 0; c < W2; ++c) dst[c] += g[c];
    }
  }

  template <std::size_t W2>
  static void accumulate_fixed(std::span<const std::int32_t> rows, const float* gh, GradientLayout layout, const std::uint8_t* bins, std::size_t d,
                               const std::int32_t* feat, float* const* base, std::int32_t ng) {
    constexpr std::size_t kAhead = 24;  // rows of gradients prefetched ahead (rows are in increasing order)
    const std::size_t n = rows.size();
    const bool contiguous = layout.label_stride == 2;
    for (std::size_t r = 0; r < n; ++r) {
      if (r + kAhead < n) {
        const auto ia = static_cast<std::size_t>(rows[r + kAhead]);
        const float* ahead = gh + ia * layout.row_stride;
        if (contiguous) {
          for (std::size_t c = 0; c < W2; c += 16) __builtin_prefetch(ahead + c);
        }
        __builtin_prefetch(bins + ia * d);
      }
      const auto i = static_cast<std::size_t>(rows[r]);
      float g[W2];
      const float* src = gh + i * layout.row_stride;
#if defined(__AVX512F__)
      if constexpr (W2 % 16 == 0) {
        if (contiguous) {
          // A row's gradients stay in W2 / 16 registers while they are added to every feature's bin.
          __m512 v[W2 / 16];
          for (std::size_t c = 0; c < W2 / 16; ++c) v[c] = _mm512_loadu_ps(src + 16 * c);
          const std::uint8_t* b = bins + i * d;
          for (std::int32_t k = 0; k < ng; ++k) {
            float* dst = base[k] + static_cast<std::size_t>(b[feat[k]]) * W2;
            for (std::size_t c = 0; c < W2 / 16; ++c) _mm512_storeu_ps(dst + 16 * c, _mm512_add_ps(_mm512_loadu_ps(dst + 16 * c), v[c]));
          }
          continue;
        }
      }
#endif
      gather_pairs(src, layout, W2, g);
      add_to_bins(g, bins + i * d, feat, base, ng, W2);
    }
  }

  /// parent -= child over the active features.
  void subtract(int parent, int child) {
    float* p = buffers_[static_cast<std::size_t>(parent)].get();
    const float* c = buffers_[static_cast<std::size_t>(child)].get();
    const auto W2 = static_cast<std::size_t>(2 * w_);
    for (std::int32_t f : features_) {
      const std::size_t b0 = static_cast<std::size_t>(data_.offsets[static_cast<std::size_t>(f)]) * W2;
      const std::size_t b1 = static_cast<std::size_t>(data_.offsets[static_cast<std::size_t>(f) + 1]) * W2;
      for (std::size_t k = b0; k < b1; ++k) p[k] -= c[k];
    }
  }

  int acquire() {
    if (!free_.empty()) {
      const int b = free_.back();
      free_.pop_back();
      return b;
    }
    buffers_.push_back(aligned_floats(hist_size_));
    return static_cast<int>(buffers_.size() - 1);
  }
  void release(Open& o) {
    if (o.hist >= 0) free_.push_back(o.hist);
    o.hist = -1;
  }

  BinnedView data_;
  TreeParams p_;
  int w_;
  SplitFinder finder_;
  std::size_t hist_size_;
  std::vector<AlignedFloats> buffers_;
  std::vector<AlignedFloats> chunk_buffers_;
  std::vector<double> totals_;
  std::vector<int> free_;
  std::vector<std::int32_t> scratch_rows_;
  std::span<const std::int32_t> features_;
  int threads_ = 1;
  GradientLayout layout_;
};

}  // namespace detail
}  // namespace recmix::trees
