#pragma once
/// @file
/// Tree: one regression tree over binned features whose leaves hold a vector of values (one per
/// label it predicts). Nodes are stored flat; children always come after their parent.
///
/// @code
/// const float* leaf = tree.leaf_for(bins_of_one_row);   // tree.width() values (after finalize())
/// for (int w = 0; w < tree.width(); ++w) margin[tree.label_begin() + w] += leaf[w];
/// @endcode

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/serialize_fwd.hpp"

namespace recmix::trees {

/// One node. A split sends bin b of `feature` left when: numeric, b == 0 (missing) ?
/// default_left : b <= value; categorical, bit b of category set `value` is set.
/// A leaf (feature == -1) has its values at leaf_values[value .. value + width).
struct TreeNode {
  std::int32_t left = -1;
  std::int32_t right = -1;
  std::int32_t feature = -1;
  std::int32_t value = 0;
  std::uint8_t default_left = 0;
  std::uint8_t categorical = 0;
  float gain = 0.0F;  ///< loss reduction of the split (0 for a leaf)

  [[nodiscard]] bool is_leaf() const noexcept { return feature < 0; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "left", left);
    archive_field(ar, "right", right);
    archive_field(ar, "feature", feature);
    archive_field(ar, "value", value);
    archive_field(ar, "default_left", default_left);
    archive_field(ar, "categorical", categorical);
    archive_field(ar, "gain", gain);
  }
};

/// Words of one categorical split's bin set (256 bins).
inline constexpr int kCategoryWords = 4;

class Tree {
 public:
  Tree() = default;
  Tree(std::int32_t label_begin, std::int32_t width, std::int32_t round) : label_begin_(label_begin), width_(width), round_(round) {}

  /// The values of the leaf a row of bins (one per feature) falls into: width() floats.
  /// Needs finalize() (done by the builder and by loading).
  [[nodiscard]] const float* leaf_for(const std::uint8_t* bins) const noexcept {
    const float* out = nullptr;
    leaves_for<1>(bins, 0, &out);
    return out;
  }

  /// leaf_for for B rows at once (row j's bins at bins + j * stride). Branch-free: every node
  /// holds the set of bins that go left (numeric thresholds and the missing bin included), a
  /// leaf points to itself, and every walk takes depth() steps, so the B walks overlap.
  template <int B>
  void leaves_for(const std::uint8_t* bins, std::size_t stride, const float** out) const noexcept {
    const FastNode* f = fast_.data();
    std::int32_t k[B] = {};
    for (std::int32_t step = 0; step < depth_; ++step) {
      for (int j = 0; j < B; ++j) {
        const FastNode& nd = f[k[j]];
        const std::uint8_t b = bins[static_cast<std::size_t>(j) * stride + static_cast<std::size_t>(nd.feature)];
        const bool left = ((nd.left_bins[b >> 6U] >> (b & 63U)) & 1U) != 0;
        k[j] = left ? nd.left : nd.right;
      }
    }
    for (int j = 0; j < B; ++j) out[j] = leaf_values_.data() + f[k[j]].leaf;
  }

  /// Builds the prediction tables from the nodes (after growing or loading a checked tree).
  void finalize() {
    fast_.assign(nodes_.size(), FastNode{});
    std::vector<std::int32_t> depth(nodes_.size(), 0);
    depth_ = 0;
    for (std::size_t k = 0; k < nodes_.size(); ++k) {
      const TreeNode& nd = nodes_[k];
      FastNode& f = fast_[k];
      if (nd.is_leaf()) {
        f.left = f.right = static_cast<std::int32_t>(k);
        f.feature = 0;
        f.leaf = nd.value;
        depth_ = std::max(depth_, depth[k]);
        continue;
      }
      f.left = nd.left;
      f.right = nd.right;
      f.feature = nd.feature;
      for (unsigned b = 0; b < 256; ++b) {
        bool left;
        if (nd.categorical != 0) {
          left = category_goes_left(nd, static_cast<std::uint8_t>(b));
        } else {
          left = b == 0 ? nd.default_left != 0 : static_cast<std::int32_t>(b) <= nd.value;
        }
        if (left) f.left_bins[b >> 6U] |= std::uint64_t{1} << (b & 63U);
      }
      for (std::int32_t c : {nd.left, nd.right}) depth[static_cast<std::size_t>(c)] = std::max(depth[static_cast<std::size_t>(c)], depth[k] + 1);
    }
  }
  /// Levels of the deepest leaf (after finalize()).
  [[nodiscard]] std::int32_t depth() const noexcept { return depth_; }

  [[nodiscard]] std::int32_t label_begin() const noexcept { return label_begin_; }
  [[nodiscard]] std::int32_t width() const noexcept { return width_; }
  [[nodiscard]] std::int32_t round() const noexcept { return round_; }
  [[nodiscard]] const std::vector<TreeNode>& nodes() const noexcept { return nodes_; }
  [[nodiscard]] const std::vector<float>& leaf_values() const noexcept { return leaf_values_; }
  [[nodiscard]] std::size_t num_leaves() const noexcept { return width_ > 0 ? leaf_values_.size() / static_cast<std::size_t>(width_) : 0; }
  /// Whether bin b goes left at categorical node `node`.
  [[nodiscard]] bool category_goes_left(const TreeNode& node, std::uint8_t b) const noexcept {
    return ((category_sets_[static_cast<std::size_t>(node.value) * kCategoryWords + (b >> 6U)] >> (b & 63U)) & 1U) != 0;
  }

  // ---- building (used by the tree builder) ----
  std::vector<TreeNode>& mutable_nodes() noexcept { return nodes_; }
  std::vector<float>& mutable_leaf_values() noexcept { return leaf_values_; }
  /// Adds a categorical bin set; returns its index.
  std::int32_t add_category_set(const std::array<std::uint64_t, kCategoryWords>& set) {
    const auto index = static_cast<std::int32_t>(category_sets_.size() / kCategoryWords);
    category_sets_.insert(category_sets_.end(), set.begin(), set.end());
    return index;
  }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "label_begin", label_begin_);
    archive_field(ar, "width", width_);
    archive_field(ar, "round", round_);
    archive_field(ar, "nodes", nodes_);
    archive_field(ar, "leaf_values", leaf_values_);
    archive_field(ar, "category_sets", category_sets_);
  }

  /// Structural check of a loaded tree: throws model_format_error naming the problem.
  /// `bins_of(f)` gives feature f's bin count (the missing bin included).
  template <class BinsOf>
  void check(std::int32_t num_features, std::int32_t num_labels, BinsOf bins_of, const std::string& where) const {
    auto fail = [&](const std::string& why) { return model_format_error(where + ": " + why); };
    if (width_ < 1 || label_begin_ < 0 || label_begin_ > num_labels - width_) throw fail("label range out of bounds");
    if (round_ < 0) throw fail("negative round");
    if (nodes_.empty()) throw fail("no nodes");
    if (category_sets_.size() % kCategoryWords != 0) throw fail("malformed category sets");
    if (leaf_values_.size() % static_cast<std::size_t>(width_) != 0) throw fail("leaf values not a multiple of the width");
    const auto n = static_cast<std::int32_t>(nodes_.size());
    const auto sets = static_cast<std::int32_t>(category_sets_.size() / kCategoryWords);
    for (std::int32_t k = 0; k < n; ++k) {
      const TreeNode& nd = nodes_[static_cast<std::size_t>(k)];
      if (!std::isfinite(nd.gain)) throw fail("node " + std::to_string(k) + ": gain is not finite");
      if (nd.is_leaf()) {
        if (nd.feature != -1 || nd.value < 0 || static_cast<std::size_t>(nd.value) + static_cast<std::size_t>(width_) > leaf_values_.size() ||
            nd.value % width_ != 0) {
          throw fail("leaf " + std::to_string(k) + " points outside the leaf values");
        }
        continue;
      }
      if (nd.feature >= num_features) throw fail("node " + std::to_string(k) + ": feature " + std::to_string(nd.feature) + " out of range");
      if (nd.left <= k || nd.right <= k || nd.left >= n || nd.right >= n || nd.left == nd.right) {
        throw fail("node " + std::to_string(k) + ": children out of order or out of range");
      }
      if (nd.default_left > 1 || nd.categorical > 1) throw fail("node " + std::to_string(k) + ": bad flags");
      if (nd.categorical != 0) {
        if (nd.value < 0 || nd.value >= sets) throw fail("node " + std::to_string(k) + ": category set out of range");
      } else if (nd.value < 0 || nd.value >= bins_of(nd.feature)) {
        throw fail("node " + std::to_string(k) + ": threshold bin out of range");
      }
    }
    for (float v : leaf_values_) {
      if (!std::isfinite(v)) throw fail("a leaf value is not finite");
    }
  }

 private:
  std::int32_t label_begin_ = 0;
  std::int32_t width_ = 0;
  std::int32_t round_ = 0;
  std::vector<TreeNode> nodes_;
  std::vector<float> leaf_values_;
  std::vector<std::uint64_t> category_sets_;

  // Derived by finalize(), not saved.
  struct FastNode {
    std::array<std::uint64_t, kCategoryWords> left_bins{};
    std::int32_t left = 0, right = 0, feature = 0, leaf = 0;
  };
  std::vector<FastNode> fast_;
  std::int32_t depth_ = 0;
};

}  // namespace recmix::trees
