// Unit tests of the gradient-boosted multi-label trees (<recmix/trees/...>): the feature binner
// on hand-checkable data, single trees computed by hand, a plain double-precision reference
// booster that the histogram builder must reproduce (numeric features, missing values, both
// growth policies, both label modes), interactions, one_vs_rest against labels trained alone,
// missing-value routing, categorical splits, early stopping, thread-count independence, tree
// size limits, the report, feature importance, save/load, every error path, and the
// ClassifierRecommender wrapper.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/observer.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/io/serialization.hpp>
#include <recmix/metrics/classification.hpp>
#include <recmix/trees/binning.hpp>
#include <recmix/trees/classifier_recommender.hpp>
#include <recmix/trees/multilabel_gbdt.hpp>
#include <recmix/trees/tree.hpp>
#include <recmix/trees/tree_builder.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using recmix::ArchiveFormat;
using recmix::Index;
using recmix::RowMatrixXd;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::trees::BinnedMatrix;
using recmix::trees::ClassifierRecommender;
using recmix::trees::FeatureBinner;
using recmix::trees::GBDTReport;
using recmix::trees::GrowPolicy;
using recmix::trees::MultiLabelGBDT;
using recmix::trees::MultiLabelMode;
using recmix::trees::Tree;
using recmix::trees::TreeNode;
using recmix::trees::ValidationData;

static_assert(recmix::Recommender<ClassifierRecommender>);
static_assert(recmix::SerializableModel<MultiLabelGBDT>);
static_assert(recmix::SerializableModel<ClassifierRecommender>);
static_assert(recmix::SerializableModel<FeatureBinner>);

namespace {

constexpr ArchiveFormat kFormats[] = {ArchiveFormat::binary, ArchiveFormat::text, ArchiveFormat::xml};
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string name_of(ArchiveFormat f) { return recmix::detail::format_name(f); }
std::string name_of(MultiLabelMode m) { return m == MultiLabelMode::multi_output ? "multi_output" : "one_vs_rest"; }
std::string name_of(GrowPolicy p) { return p == GrowPolicy::depthwise ? "depthwise" : "lossguide"; }

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

/// Options for small, single-threaded test fits.
MultiLabelGBDT::Options small_options() {
  MultiLabelGBDT::Options o;
  o.rounds = 5;
  o.learning_rate = 0.3;
  o.max_depth = 3;
  o.threads = 1;
  return o;
}

bool bit_identical(const RowMatrixXf& a, const RowMatrixXf& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0;
}

double max_abs_diff(const RowMatrixXf& a, const RowMatrixXd& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  double m = 0.0;
  for (Index i = 0; i < a.rows(); ++i) {
    for (Index j = 0; j < a.cols(); ++j) m = std::max(m, std::abs(static_cast<double>(a(i, j)) - b(i, j)));
  }
  return m;
}

/// Binary cross-entropy of margin m against label y, in double, computed stably.
double bce(double m, double y) { return std::log1p(std::exp(-std::abs(m))) + std::max(m, 0.0) - y * m; }

/// Mean log-loss over all cells of n x L margins.
double mean_log_loss(const RowMatrixXf& margin, const RowMatrixXf& Y) {
  double s = 0.0;
  for (Index i = 0; i < Y.rows(); ++i) {
    for (Index l = 0; l < Y.cols(); ++l) s += bce(margin(i, l), Y(i, l));
  }
  return s / static_cast<double>(Y.size());
}

double logit(double p) { return std::log(p / (1.0 - p)); }

/// Column l of Y as an n x 1 matrix.
RowMatrixXf column(const RowMatrixXf& Y, Index l) {
  RowMatrixXf c = Y.col(l);
  return c;
}

int depth_of(const Tree& t, std::int32_t k = 0) {
  const TreeNode& nd = t.nodes()[static_cast<std::size_t>(k)];
  if (nd.is_leaf()) return 0;
  return 1 + std::max(depth_of(t, nd.left), depth_of(t, nd.right));
}

std::size_t leaf_nodes(const Tree& t) {
  return static_cast<std::size_t>(std::count_if(t.nodes().begin(), t.nodes().end(), [](const TreeNode& n) { return n.is_leaf(); }));
}

/// Same nodes, leaf values (bitwise) and category sets; label_begin too unless told otherwise.
bool same_tree(const Tree& a, const Tree& b, bool compare_label = true) {
  if ((compare_label && a.label_begin() != b.label_begin()) || a.width() != b.width() || a.round() != b.round()) return false;
  if (a.nodes().size() != b.nodes().size() || a.leaf_values().size() != b.leaf_values().size()) return false;
  if (std::memcmp(a.leaf_values().data(), b.leaf_values().data(), a.leaf_values().size() * sizeof(float)) != 0) return false;
  for (std::size_t k = 0; k < a.nodes().size(); ++k) {
    const TreeNode &x = a.nodes()[k], &y = b.nodes()[k];
    if (x.left != y.left || x.right != y.right || x.feature != y.feature || x.default_left != y.default_left ||
        x.categorical != y.categorical || std::memcmp(&x.gain, &y.gain, sizeof(float)) != 0) {
      return false;
    }
    if (x.categorical != 0) {
      for (int bin = 0; bin < 256; ++bin) {
        if (a.category_goes_left(x, static_cast<std::uint8_t>(bin)) != b.category_goes_left(y, static_cast<std::uint8_t>(bin))) return false;
      }
    } else if (x.value != y.value) {
      return false;
    }
  }
  return true;
}

bool same_trees(const MultiLabelGBDT& a, const MultiLabelGBDT& b) {
  if (a.trees().size() != b.trees().size()) return false;
  for (std::size_t t = 0; t < a.trees().size(); ++t) {
    if (!same_tree(a.trees()[t], b.trees()[t])) return false;
  }
  return true;
}

/// The bin a one-column binner gives value v.
int bin_of(const FeatureBinner& binner, float v) {
  RowMatrixXf x(1, 1);
  x(0, 0) = v;
  return binner.transform(x)(0, 0);
}

// ---- data ---------------------------------------------------------------------------------------

/// n x d uniform features in [-1, 1); column `nan_col` (if >= 0) is NaN with probability nan_rate.
RowMatrixXf uniform_features(Index n, Index d, std::uint32_t seed, Index nan_col = -1, double nan_rate = 0.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::bernoulli_distribution missing(nan_rate);
  RowMatrixXf X(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) X(i, j) = u(rng);
    if (nan_col >= 0 && missing(rng)) X(i, nan_col) = kNaN;
  }
  return X;
}

/// Labels that are noisy functions of one latent score z = x0 + 0.6 x1 - 0.4 x2: label l is
/// z + noise > threshold_l (NaN features count as 0 in z).
RowMatrixXf latent_labels(const RowMatrixXf& X, Index L, double noise, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> e(0.0, 1.0);
  RowMatrixXf Y(X.rows(), L);
  auto v = [&](Index i, Index j) { return std::isnan(X(i, j)) ? 0.0 : static_cast<double>(X(i, j)); };
  for (Index i = 0; i < X.rows(); ++i) {
    const double z = v(i, 0) + 0.6 * v(i, 1) - 0.4 * v(i, 2);
    for (Index l = 0; l < L; ++l) {
      const double threshold = -0.5 + 1.0 * static_cast<double>(l) / static_cast<double>(std::max<Index>(1, L - 1));
      Y(i, l) = z + noise * e(rng) > threshold ? 1.0f : 0.0f;
    }
  }
  return Y;
}

// ---- a plain reference booster ------------------------------------------------------------------
//
// Exact greedy boosting over the model's own bins, in double, written from the documented rules:
// numeric splits "bins 1..t left", the missing bin either alone on the left or following the
// left/right side, candidates in feature order then threshold order (missing-right before
// missing-left), first best kept; gain ½ Σ_l [G_L²/(H_L+λ) + G_R²/(H_R+λ) - G²/(H+λ)]; children
// need a mean hessian >= min_child_weight, a node to split needs >= 2 min_child_weight and two
// rows; leaves -η G/(H+λ); depthwise = FIFO, lossguide = largest gain first, max_leaves caps both.
// It flags near ties between different row partitions, where float histograms may legitimately
// choose differently.

struct RefParams {
  double lambda = 1.0;
  double min_child_weight = 1.0;
  double min_split_gain = 0.0;
  double learning_rate = 0.1;
  int max_depth = 6;
  int max_leaves = 0;
  bool lossguide = false;
};

struct RefNode {
  int feature = -1;
  int threshold = 0;
  bool default_left = false;
  int left = -1;
  int right = -1;
  std::vector<double> value;
};

struct RefTree {
  Index label_begin = 0;
  std::vector<RefNode> nodes;
};

struct RefSplit {
  double gain = 0.0;
  int feature = -1;
  int threshold = 0;
  bool default_left = false;
  std::uint64_t key = 0;  // sum of the left rows' random keys: identifies the partition
};

class ReferenceBooster {
 public:
  ReferenceBooster(const BinnedMatrix& bins, std::vector<int> num_bins, const RefParams& p) : bins_(bins), nb_(std::move(num_bins)), p_(p) {
    std::mt19937_64 rng(7);
    key_.resize(bins_.shape()[0]);
    for (auto& k : key_) k = rng();
  }

  /// Boosts `rounds` rounds on labels Y; returns the training margins.
  RowMatrixXd fit(const RowMatrixXf& Y, int rounds, bool multi) {
    const auto n = static_cast<Index>(Y.rows());
    const auto L = static_cast<Index>(Y.cols());
    base_.assign(static_cast<std::size_t>(L), 0.0);
    RowMatrixXd m(n, L);
    for (Index l = 0; l < L; ++l) {
      const double prev = std::clamp(static_cast<double>(Y.col(l).sum()) / n, 1e-6, 1.0 - 1e-6);
      base_[static_cast<std::size_t>(l)] = logit(prev);
      m.col(l).setConstant(logit(prev));
    }
    trees_.clear();
    for (int r = 0; r < rounds; ++r) {
      const Index groups = multi ? 1 : L, W = multi ? L : 1;
      std::vector<RefTree> round_trees;
      for (Index gi = 0; gi < groups; ++gi) {
        std::vector<double> g(static_cast<std::size_t>(n * W)), h(static_cast<std::size_t>(n * W));
        for (Index i = 0; i < n; ++i) {
          for (Index w = 0; w < W; ++w) {
            const double p = 1.0 / (1.0 + std::exp(-m(i, gi * W + w)));
            g[static_cast<std::size_t>(i * W + w)] = p - Y(i, gi * W + w);
            h[static_cast<std::size_t>(i * W + w)] = std::max(p * (1.0 - p), 1e-16);
          }
        }
        RefTree t = build(g, h, static_cast<int>(W));
        t.label_begin = gi * W;
        round_trees.push_back(std::move(t));
      }
      for (const RefTree& t : round_trees) {
        for (Index i = 0; i < n; ++i) {
          const std::vector<double>& v = leaf(t, bins_, i);
          for (std::size_t w = 0; w < v.size(); ++w) m(i, t.label_begin + static_cast<Index>(w)) += v[w];
        }
        trees_.push_back(t);
      }
    }
    return m;
  }

  /// Margins of other rows, binned by the same binner.
  RowMatrixXd predict(const BinnedMatrix& bins) const {
    RowMatrixXd m(static_cast<Index>(bins.shape()[0]), static_cast<Index>(base_.size()));
    for (Index i = 0; i < m.rows(); ++i) {
      for (Index l = 0; l < m.cols(); ++l) m(i, l) = base_[static_cast<std::size_t>(l)];
      for (const RefTree& t : trees_) {
        const std::vector<double>& v = leaf(t, bins, i);
        for (std::size_t w = 0; w < v.size(); ++w) m(i, t.label_begin + static_cast<Index>(w)) += v[w];
      }
    }
    return m;
  }

  [[nodiscard]] const std::vector<RefTree>& trees() const { return trees_; }
  [[nodiscard]] bool near_tie() const { return near_tie_; }

 private:
  struct Open {
    int node = 0;
    int depth = 0;
    std::vector<Index> rows;
    RefSplit split;
  };

  static const std::vector<double>& leaf(const RefTree& t, const BinnedMatrix& bins, Index i) {
    int k = 0;
    while (t.nodes[static_cast<std::size_t>(k)].feature >= 0) {
      const RefNode& nd = t.nodes[static_cast<std::size_t>(k)];
      const int b = bins(static_cast<std::size_t>(i), static_cast<std::size_t>(nd.feature));
      const bool left = b == 0 ? nd.default_left : b <= nd.threshold;
      k = left ? nd.left : nd.right;
    }
    return t.nodes[static_cast<std::size_t>(k)].value;
  }

  void sums(const std::vector<Index>& rows, const std::vector<double>& g, const std::vector<double>& h, int W, std::vector<double>& G,
            std::vector<double>& H) const {
    G.assign(static_cast<std::size_t>(W), 0.0);
    H.assign(static_cast<std::size_t>(W), 0.0);
    for (Index i : rows) {
      for (int w = 0; w < W; ++w) {
        G[static_cast<std::size_t>(w)] += g[static_cast<std::size_t>(i * W + w)];
        H[static_cast<std::size_t>(w)] += h[static_cast<std::size_t>(i * W + w)];
      }
    }
  }

  double score(const std::vector<double>& G, const std::vector<double>& H) const {
    double s = 0.0;
    for (std::size_t w = 0; w < G.size(); ++w) s += G[w] * G[w] / (H[w] + p_.lambda);
    return s;
  }
  static double mean(const std::vector<double>& H) { return std::accumulate(H.begin(), H.end(), 0.0) / static_cast<double>(H.size()); }

  bool can_split(const Open& o, const std::vector<double>& g, const std::vector<double>& h, int W) const {
    if (p_.max_depth > 0 && o.depth >= p_.max_depth) return false;
    if (o.rows.size() < 2) return false;
    std::vector<double> G, H;
    sums(o.rows, g, h, W, G, H);
    return mean(H) >= 2.0 * p_.min_child_weight;
  }

  RefSplit best_split(const Open& o, const std::vector<double>& g, const std::vector<double>& h, int W) {
    RefSplit best;
    if (!can_split(o, g, h, W)) return best;
    std::vector<double> G, H;
    sums(o.rows, g, h, W, G, H);
    const double parent = score(G, H);
    std::vector<std::pair<double, std::uint64_t>> seen;
    const auto uW = static_cast<std::size_t>(W);
    for (int f = 0; f < static_cast<int>(nb_.size()); ++f) {
      const int nb = nb_[static_cast<std::size_t>(f)];
      std::vector<double> bg(static_cast<std::size_t>(nb) * uW, 0.0), bh(static_cast<std::size_t>(nb) * uW, 0.0);
      std::vector<std::uint64_t> bk(static_cast<std::size_t>(nb), 0);
      std::vector<Index> count(static_cast<std::size_t>(nb), 0);
      for (Index i : o.rows) {
        const int b = bins_(static_cast<std::size_t>(i), static_cast<std::size_t>(f));
        for (std::size_t w = 0; w < uW; ++w) {
          bg[static_cast<std::size_t>(b) * uW + w] += g[static_cast<std::size_t>(i) * uW + w];
          bh[static_cast<std::size_t>(b) * uW + w] += h[static_cast<std::size_t>(i) * uW + w];
        }
        bk[static_cast<std::size_t>(b)] += key_[static_cast<std::size_t>(i)];
        ++count[static_cast<std::size_t>(b)];
      }
      auto consider = [&](const std::vector<double>& GL, const std::vector<double>& HL, std::uint64_t key, int t, bool dl) {
        if (mean(HL) < p_.min_child_weight) return;
        std::vector<double> GR(uW), HR(uW);
        for (std::size_t w = 0; w < uW; ++w) {
          GR[w] = G[w] - GL[w];
          HR[w] = H[w] - HL[w];
        }
        if (mean(HR) < p_.min_child_weight) return;
        const double gain = 0.5 * (score(GL, HL) + score(GR, HR) - parent);
        if (!(gain > p_.min_split_gain) || !(gain > 1e-12)) return;
        seen.emplace_back(gain, key);
        if (best.feature < 0 || gain > best.gain) best = {gain, f, t, dl, key};
      };
      const bool has_missing = count[0] > 0;
      std::vector<double> GL(uW, 0.0), HL(uW, 0.0), GM(uW), HM(uW);
      std::uint64_t key = 0;
      if (has_missing) {
        const std::vector<double> G0(bg.begin(), bg.begin() + W), H0(bh.begin(), bh.begin() + W);
        consider(G0, H0, bk[0], 0, true);
      }
      for (int t = 1; t + 1 < nb; ++t) {
        for (std::size_t w = 0; w < uW; ++w) {
          GL[w] += bg[static_cast<std::size_t>(t) * uW + w];
          HL[w] += bh[static_cast<std::size_t>(t) * uW + w];
        }
        key += bk[static_cast<std::size_t>(t)];
        consider(GL, HL, key, t, false);
        if (has_missing) {
          for (std::size_t w = 0; w < uW; ++w) {
            GM[w] = GL[w] + bg[w];
            HM[w] = HL[w] + bh[w];
          }
          consider(GM, HM, key + bk[0], t, true);
        }
      }
    }
    for (const auto& [gain, key] : seen) {
      if (key != best.key && gain >= best.gain * (1.0 - 1e-5)) near_tie_ = true;
    }
    return best;
  }

  RefTree build(const std::vector<double>& g, const std::vector<double>& h, int W) {
    RefTree tree;
    tree.nodes.emplace_back();
    std::vector<Open> open(1);
    open[0].rows.resize(bins_.shape()[0]);
    std::iota(open[0].rows.begin(), open[0].rows.end(), 0);
    open[0].split = best_split(open[0], g, h, W);
    int leaves = 1;
    while (!open.empty()) {
      std::size_t pick = 0;
      if (p_.lossguide) {
        for (std::size_t k = 1; k < open.size(); ++k) {
          const RefSplit &a = open[k].split, &b = open[pick].split;
          if (a.feature >= 0 && (b.feature < 0 || a.gain > b.gain)) pick = k;
        }
        const bool binding = p_.max_leaves > 0;
        for (std::size_t k = 0; binding && k < open.size(); ++k) {
          const RefSplit &a = open[k].split, &b = open[pick].split;
          if (k != pick && a.feature >= 0 && a.gain >= b.gain * (1.0 - 1e-5)) near_tie_ = true;
        }
      }
      Open cur = std::move(open[pick]);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));
      const bool room = p_.max_leaves == 0 || leaves < p_.max_leaves;
      if (cur.split.feature < 0 || !room) {
        std::vector<double> G, H;
        sums(cur.rows, g, h, W, G, H);
        RefNode& nd = tree.nodes[static_cast<std::size_t>(cur.node)];
        for (int w = 0; w < W; ++w) {
          nd.value.push_back(-p_.learning_rate * G[static_cast<std::size_t>(w)] / (H[static_cast<std::size_t>(w)] + p_.lambda));
        }
        continue;
      }
      const RefSplit s = cur.split;
      Open l, r;
      l.depth = r.depth = cur.depth + 1;
      for (Index i : cur.rows) {
        const int b = bins_(static_cast<std::size_t>(i), static_cast<std::size_t>(s.feature));
        const bool left = b == 0 ? s.default_left : b <= s.threshold;
        (left ? l.rows : r.rows).push_back(i);
      }
      l.node = static_cast<int>(tree.nodes.size());
      r.node = l.node + 1;
      tree.nodes.resize(tree.nodes.size() + 2);
      RefNode& nd = tree.nodes[static_cast<std::size_t>(cur.node)];
      nd.feature = s.feature;
      nd.threshold = s.threshold;
      nd.default_left = s.default_left;
      nd.left = l.node;
      nd.right = r.node;
      ++leaves;
      l.split = best_split(l, g, h, W);
      r.split = best_split(r, g, h, W);
      open.push_back(std::move(l));
      open.push_back(std::move(r));
    }
    return tree;
  }

  const BinnedMatrix& bins_;
  std::vector<int> nb_;
  RefParams p_;
  std::vector<std::uint64_t> key_;
  std::vector<double> base_;
  std::vector<RefTree> trees_;
  bool near_tie_ = false;
};

std::vector<int> bin_counts(const FeatureBinner& b) {
  std::vector<int> nb;
  for (Index j = 0; j < b.num_features(); ++j) nb.push_back(b.num_bins(j));
  return nb;
}

RefParams ref_params(const MultiLabelGBDT::Options& o) {
  RefParams p;
  p.lambda = o.lambda;
  p.min_child_weight = o.min_child_weight;
  p.min_split_gain = o.min_split_gain;
  p.learning_rate = o.learning_rate;
  p.max_depth = o.max_depth;
  p.max_leaves = o.max_leaves;
  p.lossguide = o.grow_policy == GrowPolicy::lossguide;
  return p;
}

/// Records what a fit reports to its observer.
struct Recorder final : recmix::FitObserver {
  void on_begin(std::string_view model, int total, std::string_view /*threading*/) override {
    ++begins;
    name = std::string(model);
    this->total = total;
  }
  void on_iteration(const recmix::IterationInfo& info) override {
    iterations.push_back(info.iteration);
    losses.push_back(info.loss);
  }
  void on_end(const recmix::FitReport& r) override {
    ++ends;
    end_iterations = r.iterations;
  }
  int begins = 0, ends = 0, total = 0, end_iterations = -1;
  std::string name;
  std::vector<int> iterations;
  std::vector<double> losses;
};

}  // namespace

// ================================================================================================
// FeatureBinner
// ================================================================================================

TEST_CASE("binner: few distinct values get a cut half-way between each neighbour pair") {
  RowMatrixXf X(7, 1);
  X << 3.0f, 1.0f, 2.0f, 2.0f, kNaN, 5.0f, 1.0f;
  FeatureBinner binner({.max_bin = 255, .threads = 1});
  CHECK_FALSE(binner.is_fitted());
  binner.fit(X);
  REQUIRE(binner.is_fitted());
  CHECK(binner.num_features() == 1);
  CHECK_FALSE(binner.is_categorical(0));
  const std::vector<float> cuts(binner.cuts(0).begin(), binner.cuts(0).end());
  CHECK(cuts == std::vector<float>{1.5f, 2.5f, 4.0f});
  CHECK(binner.num_bins(0) == 5);  // missing + 4 value bins
  CHECK(binner.total_bins() == 5);
  // Bin = 1 + number of cuts < v; NaN = 0.
  const BinnedMatrix b = binner.transform(X);
  const std::vector<int> expected = {3, 1, 2, 2, 0, 4, 1};
  for (Index i = 0; i < 7; ++i) CHECK(static_cast<int>(b(static_cast<std::size_t>(i), 0)) == expected[static_cast<std::size_t>(i)]);
  CHECK(bin_of(binner, -100.0f) == 1);
  CHECK(bin_of(binner, 1.5f) == 1);  // a value on a cut stays left of it
  CHECK(bin_of(binner, 1.6f) == 2);
  CHECK(bin_of(binner, 2.5f) == 2);
  CHECK(bin_of(binner, 4.0f) == 3);
  CHECK(bin_of(binner, 4.01f) == 4);
  CHECK(bin_of(binner, 1e30f) == 4);
  CHECK(bin_of(binner, kNaN) == 0);
}

TEST_CASE("binner: neighbours one float apart still land in different bins") {
  // The double midpoint of two adjacent floats rounds to one of them; the cut must never be b.
  const float a1 = 1.0f, b1 = std::nextafter(1.0f, 2.0f);  // midpoint rounds (to even) down to a1
  const float a2 = b1, b2 = std::nextafter(b1, 2.0f);       // midpoint rounds (to even) up to b2
  for (const auto& pair : {std::pair{a1, b1}, std::pair{a2, b2}}) {
    const float a = pair.first, b = pair.second;  // CAPTURE cannot capture a structured binding before clang 16
    CAPTURE(a);
    RowMatrixXf X(4, 1);
    X << a, b, a, b;
    FeatureBinner binner({.threads = 1});
    binner.fit(X);
    REQUIRE(binner.cuts(0).size() == 1);
    CHECK(binner.cuts(0)[0] >= a);
    CHECK(binner.cuts(0)[0] < b);
    CHECK(bin_of(binner, a) == 1);
    CHECK(bin_of(binner, b) == 2);
  }
}

TEST_CASE("binner: a constant or all-missing column has one value bin") {
  RowMatrixXf X(4, 2);
  X << 2.0f, kNaN, 2.0f, kNaN, 2.0f, kNaN, 2.0f, kNaN;
  FeatureBinner binner({.threads = 1});
  binner.fit(X);
  CHECK(binner.cuts(0).empty());
  CHECK(binner.cuts(1).empty());
  CHECK(binner.num_bins(0) == 2);
  CHECK(binner.num_bins(1) == 2);
  const std::vector<std::int32_t> offsets(binner.bin_offsets().begin(), binner.bin_offsets().end());
  CHECK(offsets == std::vector<std::int32_t>{0, 2, 4});
  RowMatrixXf Z(1, 2);
  Z << -7.0f, 3.0f;
  const BinnedMatrix b = binner.transform(Z);
  CHECK(b(0, 0) == 1);
  CHECK(b(0, 1) == 1);
}

TEST_CASE("binner: many distinct values give at most max_bin quantile bins of near-equal counts") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-5.0f, 5.0f);
  const Index n = 1000;
  RowMatrixXf X(n, 2);
  for (Index i = 0; i < n; ++i) {
    X(i, 0) = u(rng);
    X(i, 1) = i < n / 2 ? -10.0f : u(rng);  // half the rows share the smallest value
  }
  for (const int max_bin : {2, 10, 64}) {
    CAPTURE(max_bin);
    FeatureBinner binner({.max_bin = max_bin, .threads = 1});
    binner.fit(X);
    const BinnedMatrix b = binner.transform(X);
    for (Index j = 0; j < 2; ++j) {
      CAPTURE(j);
      const auto cuts = binner.cuts(j);
      CHECK(binner.num_bins(j) <= max_bin + 1);
      CHECK(std::is_sorted(cuts.begin(), cuts.end()));
      CHECK(std::adjacent_find(cuts.begin(), cuts.end()) == cuts.end());
      std::vector<Index> count(static_cast<std::size_t>(binner.num_bins(j)), 0);
      for (Index i = 0; i < n; ++i) ++count[b(static_cast<std::size_t>(i), static_cast<std::size_t>(j))];
      CHECK(count[0] == 0);
      for (std::size_t k = 1; k < count.size(); ++k) CHECK(count[k] > 0);
      // Every value's bin is 1 + #cuts < value.
      for (Index i = 0; i < n; i += 37) {
        const auto below = std::count_if(cuts.begin(), cuts.end(), [&](float c) { return c < X(i, j); });
        CHECK(b(static_cast<std::size_t>(i), static_cast<std::size_t>(j)) == 1 + below);
      }
      if (j == 0) {
        // Distinct values: exactly max_bin bins of n / max_bin rows (+-10 %).
        CHECK(binner.num_bins(0) == max_bin + 1);
        const double share = static_cast<double>(n) / max_bin;
        for (std::size_t k = 1; k < count.size(); ++k) {
          CHECK(static_cast<double>(count[k]) >= 0.9 * share);
          CHECK(static_cast<double>(count[k]) <= 1.1 * share);
        }
      } else if (max_bin > 2) {
        // The shared value fills one bin; the other values share the remaining bins evenly.
        CHECK(*std::max_element(count.begin(), count.end()) == n / 2);
        CHECK(binner.num_bins(1) >= max_bin - 1);
        const double share = static_cast<double>(n / 2) / static_cast<double>(count.size() - 2);
        for (std::size_t k = 1; k < count.size(); ++k) {
          if (count[k] == n / 2) continue;
          CHECK(static_cast<double>(count[k]) <= 1.5 * share + 1);
        }
      }
    }
  }
}

TEST_CASE("binner: sample_rows takes evenly spaced rows") {
  RowMatrixXf X(1000, 1);
  for (Index i = 0; i < 1000; ++i) X(i, 0) = static_cast<float>(i);
  FeatureBinner binner({.sample_rows = 10, .threads = 1});
  binner.fit(X);
  // Rows 0, 100, ..., 900: cuts half-way between them.
  const std::vector<float> cuts(binner.cuts(0).begin(), binner.cuts(0).end());
  CHECK(cuts == std::vector<float>{50, 150, 250, 350, 450, 550, 650, 750, 850});
}

TEST_CASE("binner: categorical codes with enough rows get bins 2.. in code order, the rest bin 1") {
  // Column 1 is categorical: code 0 x12, 1 x3, 2 x10, 5 x15, 7 x9, NaN x2. Column 0 numeric.
  std::vector<float> codes;
  const std::vector<std::pair<int, int>> code_counts = {{5, 15}, {1, 3}, {0, 12}, {7, 9}, {2, 10}};
  for (const auto& [code, times] : code_counts) {
    for (int k = 0; k < times; ++k) codes.push_back(static_cast<float>(code));
  }
  codes.push_back(kNaN);
  codes.push_back(kNaN);
  const auto n = static_cast<Index>(codes.size());
  RowMatrixXf X(n, 2);
  for (Index i = 0; i < n; ++i) {
    X(i, 0) = static_cast<float>(i % 3);
    X(i, 1) = codes[static_cast<std::size_t>(i)];
  }
  const std::vector<Index> categorical = {1};
  FeatureBinner binner({.min_category_count = 10, .threads = 1});
  binner.fit(X, categorical);
  CHECK_FALSE(binner.is_categorical(0));
  CHECK(binner.is_categorical(1));
  const std::vector<std::uint8_t> flags(binner.categorical_flags().begin(), binner.categorical_flags().end());
  CHECK(flags == std::vector<std::uint8_t>{0, 1});
  const std::vector<std::int32_t> kept(binner.categories(1).begin(), binner.categories(1).end());
  CHECK(kept == std::vector<std::int32_t>{0, 2, 5});
  CHECK(binner.num_bins(1) == 5);
  CHECK(binner.cuts(1).empty());
  CHECK(binner.categories(0).empty());
  const std::vector<std::int32_t> offsets(binner.bin_offsets().begin(), binner.bin_offsets().end());
  CHECK(offsets == std::vector<std::int32_t>{0, 4, 9});  // numeric: 3 values -> 3 value bins + missing
  RowMatrixXf Z(8, 2);
  Z.col(0).setZero();
  Z.col(1) << 0.0f, 2.0f, 5.0f, 1.0f, 7.0f, 3.0f, 1000.0f, kNaN;
  const BinnedMatrix b = binner.transform(Z);
  const std::vector<int> expected = {2, 3, 4, 1, 1, 1, 1, 0};  // kept, kept, kept, rare, rare, unseen, unseen, missing
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(static_cast<int>(b(i, 1)) == expected[i]);
  }
  // max_bin = 4 keeps the 2 most frequent codes (5 and 0) whatever min_category_count allows.
  FeatureBinner tight({.max_bin = 4, .min_category_count = 1, .threads = 1});
  tight.fit(X, categorical);
  const std::vector<std::int32_t> kept2(tight.categories(1).begin(), tight.categories(1).end());
  CHECK(kept2 == std::vector<std::int32_t>{0, 5});
  // Equal counts: the lower code wins the last place.
  RowMatrixXf T(9, 1);
  T << 4, 4, 4, 9, 9, 3, 3, 8, 8;  // 4 x3, then 3, 8, 9 x2 each
  FeatureBinner tie({.max_bin = 4, .min_category_count = 1, .threads = 1});
  const std::vector<Index> only = {0};
  tie.fit(T, only);
  const std::vector<std::int32_t> kept3(tie.categories(0).begin(), tie.categories(0).end());
  CHECK(kept3 == std::vector<std::int32_t>{3, 4});
}

TEST_CASE("binner: bad data and bad options throw, naming the problem") {
  using recmix::invalid_argument;
  RowMatrixXf X(3, 2);
  X << 1, 0, 2, 1, 3, 2;
  const std::vector<Index> cat1 = {1};
  FeatureBinner binner({.threads = 1});
  RowMatrixXf inf = X;
  inf(1, 0) = kInf;
  CHECK_THROWS_WITH_AS(binner.fit(inf), doctest::Contains("infinite value at row 1, column 0"), invalid_argument);
  inf(1, 0) = -kInf;
  CHECK_THROWS_WITH_AS(binner.fit(inf), doctest::Contains("infinite"), invalid_argument);
  for (const float bad : {-1.0f, 0.5f, 16777216.0f, 3e9f}) {
    CAPTURE(bad);
    RowMatrixXf c = X;
    c(2, 1) = bad;
    CHECK_THROWS_WITH_AS(binner.fit(c, cat1), doctest::Contains("row 2, column 1"), invalid_argument);
    CHECK_NOTHROW(binner.fit(c));  // fine as a numeric column
  }
  RowMatrixXf largest = X;
  largest(0, 1) = 16777215.0f;
  CHECK_NOTHROW(binner.fit(largest, cat1));
  const std::vector<Index> out_of_range = {2}, negative = {-1}, twice = {1, 1};
  CHECK_THROWS_WITH_AS(binner.fit(X, out_of_range), doctest::Contains("categorical column 2"), invalid_argument);
  CHECK_THROWS_WITH_AS(binner.fit(X, negative), doctest::Contains("categorical column -1"), invalid_argument);
  CHECK_THROWS_WITH_AS(binner.fit(X, twice), doctest::Contains("twice"), invalid_argument);
  CHECK_THROWS_WITH_AS(binner.fit(RowMatrixXf(0, 2)), doctest::Contains("empty"), invalid_argument);
  CHECK_THROWS_WITH_AS(binner.fit(RowMatrixXf(3, 0)), doctest::Contains("empty"), invalid_argument);

  FeatureBinner unfitted;
  CHECK_THROWS_AS((void)unfitted.transform(X), recmix::not_fitted);
  binner.fit(X, cat1);
  CHECK_THROWS_WITH_AS((void)binner.transform(RowMatrixXf::Zero(2, 3)), doctest::Contains("3 columns"), invalid_argument);
  RowMatrixXf bad = X;
  bad(0, 1) = 1.5f;
  CHECK_THROWS_WITH_AS((void)binner.transform(bad), doctest::Contains("not an integer code"), invalid_argument);
  bad(0, 1) = kInf;
  CHECK_THROWS_AS((void)binner.transform(bad), invalid_argument);
  CHECK_THROWS_AS((void)binner.num_bins(2), invalid_argument);
  CHECK_THROWS_AS((void)binner.cuts(-1), invalid_argument);

  CHECK_THROWS_WITH_AS(FeatureBinner({.max_bin = 1}), doctest::Contains("max_bin"), invalid_argument);
  CHECK_THROWS_WITH_AS(FeatureBinner({.max_bin = 256}), doctest::Contains("max_bin"), invalid_argument);
  CHECK_THROWS_WITH_AS(FeatureBinner({.min_category_count = 0}), doctest::Contains("min_category_count"), invalid_argument);
  CHECK_THROWS_WITH_AS(FeatureBinner({.sample_rows = -1}), doctest::Contains("sample_rows"), invalid_argument);
  CHECK_THROWS_WITH_AS(FeatureBinner({.threads = -1}), doctest::Contains("threads"), invalid_argument);
  CHECK_NOTHROW(FeatureBinner({.max_bin = 2}));
  CHECK_NOTHROW(FeatureBinner({.max_bin = 255}));
}

TEST_CASE("binner: a failed fit leaves the binner as it was") {
  RowMatrixXf X(3, 1);
  X << 1, 2, 3;
  FeatureBinner binner({.threads = 1});
  binner.fit(X);
  RowMatrixXf bad(2, 2);
  bad << 1, kInf, 2, 3;
  CHECK_THROWS_AS(binner.fit(bad), recmix::invalid_argument);
  CHECK(binner.num_features() == 1);
  CHECK(binner.cuts(0).size() == 2);
}

TEST_CASE("binner serialization: round trip in every archive gives the same bins") {
  const RowMatrixXf X = uniform_features(300, 3, 21, 0, 0.2);
  RowMatrixXf Xc = X;
  for (Index i = 0; i < Xc.rows(); ++i) Xc(i, 2) = static_cast<float>(i % 7 == 0 ? 11 : i % 4);
  const std::vector<Index> cat = {2};
  FeatureBinner binner({.max_bin = 17, .min_category_count = 5, .threads = 1});
  binner.fit(Xc, cat);
  RowMatrixXf probe = uniform_features(50, 3, 22, 1, 0.3);
  for (Index i = 0; i < probe.rows(); ++i) probe(i, 2) = static_cast<float>(i % 13);
  const BinnedMatrix expected = binner.transform(probe);
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    FeatureBinner restored;
    load_from_string(restored, save_to_string(binner, format));
    CHECK(restored.num_features() == 3);
    CHECK(restored.is_categorical(2));
    CHECK(restored.options().max_bin == 17);
    CHECK(restored.options().min_category_count == 5);
    CHECK(restored.transform(probe) == expected);
    CHECK(std::equal(restored.bin_offsets().begin(), restored.bin_offsets().end(), binner.bin_offsets().begin(), binner.bin_offsets().end()));
  }
  std::ostringstream os;
  CHECK_THROWS_AS(recmix::save(FeatureBinner(), os), recmix::not_fitted);
}

// ================================================================================================
// Single trees computed by hand
// ================================================================================================

namespace {

/// x = 1 1 2 2 3 3 4 4, y = 0 0 0 0 0 1 1 1 (prevalence 3/8).
///   base = logit(3/8) = log(3/5); p = 3/8; g = 3/8 (y = 0) or -5/8 (y = 1); h = 15/64.
///   Cuts 1.5, 2.5, 3.5 -> bins 1..4. Candidate "bins 1..t left":
///     t = 1: G_L = 0.75, H_L = 0.46875   t = 2: G_L = 1.5, H_L = 0.9375   t = 3: G_L = 1.25, H_L = 1.40625
///   with G = 0, H = 1.875. λ = 1: gains 0.30837, 1.16129, 0.85659 -> t = 2, gain 2.25 / 1.9375,
///   leaves -1.5 / 1.9375 = -0.774194 (left) and +0.774194 (right).
///   λ = 0: gains 0.4, 2.4, 2.2222 -> t = 2, gain 2.4, leaves -1.6 and +1.6.
struct HandData {
  RowMatrixXf X = RowMatrixXf(8, 1);
  RowMatrixXf y = RowMatrixXf(8, 1);
  HandData() {
    X << 1, 1, 2, 2, 3, 3, 4, 4;
    y << 0, 0, 0, 0, 0, 1, 1, 1;
  }
};

MultiLabelGBDT::Options stump_options(double lambda, double learning_rate) {
  MultiLabelGBDT::Options o;
  o.rounds = 1;
  o.max_depth = 1;
  o.learning_rate = learning_rate;
  o.lambda = lambda;
  o.min_child_weight = 0.0;
  o.threads = 1;
  return o;
}

}  // namespace

TEST_CASE("single tree: a depth-1 stump matches the hand-computed split, gain and leaves") {
  const HandData d;
  struct Case {
    double lambda, eta, gain, leaf;
  };
  for (const Case c : {Case{1.0, 1.0, 2.25 / 1.9375, 1.5 / 1.9375}, Case{0.0, 1.0, 2.4, 1.6}, Case{1.0, 0.5, 2.25 / 1.9375, 0.75 / 1.9375}}) {
    CAPTURE(c.lambda);
    CAPTURE(c.eta);
    MultiLabelGBDT model(stump_options(c.lambda, c.eta));
    const GBDTReport report = model.fit(d.X, d.y);
    CHECK(report.iterations == 1);
    REQUIRE(model.base_margin().size() == 1);
    CHECK(model.base_margin()[0] == doctest::Approx(std::log(3.0 / 5.0)).epsilon(1e-6));
    REQUIRE(model.trees().size() == 1);
    const Tree& t = model.trees()[0];
    CHECK(t.label_begin() == 0);
    CHECK(t.width() == 1);
    CHECK(t.round() == 0);
    REQUIRE(t.nodes().size() == 3);
    CHECK(t.num_leaves() == 2);
    const TreeNode& root = t.nodes()[0];
    CHECK(root.feature == 0);
    CHECK(root.categorical == 0);
    CHECK(root.value == 2);  // bins 1..2 (x <= 2.5) go left
    CHECK(root.default_left == 0);
    CHECK(root.gain == doctest::Approx(c.gain).epsilon(1e-5));
    const TreeNode& left = t.nodes()[static_cast<std::size_t>(root.left)];
    const TreeNode& right = t.nodes()[static_cast<std::size_t>(root.right)];
    REQUIRE(left.is_leaf());
    REQUIRE(right.is_leaf());
    CHECK(t.leaf_values()[static_cast<std::size_t>(left.value)] == doctest::Approx(-c.leaf).epsilon(1e-5));
    CHECK(t.leaf_values()[static_cast<std::size_t>(right.value)] == doctest::Approx(c.leaf).epsilon(1e-5));
    // Margins: base + the leaf of each row.
    const RowMatrixXf m = model.predict_margin(d.X);
    for (Index i = 0; i < 8; ++i) {
      CAPTURE(i);
      const double expected = std::log(3.0 / 5.0) + (d.X(i, 0) <= 2.0f ? -c.leaf : c.leaf);
      CHECK(m(i, 0) == doctest::Approx(expected).epsilon(1e-5));
    }
    // The stored gain is the feature's importance.
    const std::vector<double> imp = model.feature_importance();
    REQUIRE(imp.size() == 1);
    CHECK(imp[0] == doctest::Approx(c.gain).epsilon(1e-5));
  }
}

TEST_CASE("single tree: initial_margin = zero starts from p = 0.5") {
  // Same data from margin 0: g = 0.5 - y, h = 0.25; G = 1, H = 2, λ = 1 (parent score 1/3).
  //   t = 1: G_L = 1, H_L = 0.5 -> gain 1/6;  t = 2: G_L = 2, H_L = 1 -> gain 13/12;
  //   t = 3: G_L = 2, H_L = 1.5 -> gain 29/30. Best t = 2; leaves -2/2 = -1 and 1/2 = 0.5.
  const HandData d;
  MultiLabelGBDT::Options o = stump_options(1.0, 1.0);
  o.initial_margin = recmix::trees::InitialMargin::zero;
  MultiLabelGBDT model(o);
  model.fit(d.X, d.y);
  CHECK(model.base_margin() == std::vector<float>{0.0f});
  const Tree& t = model.trees()[0];
  CHECK(t.nodes()[0].value == 2);
  CHECK(t.nodes()[0].gain == doctest::Approx(13.0 / 12.0).epsilon(1e-5));
  const RowMatrixXf m = model.predict_margin(d.X);
  for (Index i = 0; i < 8; ++i) CHECK(m(i, 0) == doctest::Approx(d.X(i, 0) <= 2.0f ? -1.0 : 0.5).epsilon(1e-5));
}

TEST_CASE("single tree: two labels in one tree add their gains and keep one leaf value each") {
  // Label 1 is the complement of label 0: the same split is best for both, the gain doubles, and
  // label 1's leaves are label 0's negated (base logit(5/8)).
  const HandData d;
  RowMatrixXf Y(8, 2);
  Y.col(0) = d.y;
  Y.col(1) = (1.0f - d.y.array()).matrix();
  MultiLabelGBDT model(stump_options(1.0, 1.0));
  model.fit(d.X, Y);
  REQUIRE(model.trees().size() == 1);
  const Tree& t = model.trees()[0];
  CHECK(t.width() == 2);
  CHECK(t.num_leaves() == 2);
  const TreeNode& root = t.nodes()[0];
  CHECK(root.value == 2);
  CHECK(root.gain == doctest::Approx(2 * 2.25 / 1.9375).epsilon(1e-5));
  const auto lv = static_cast<std::size_t>(t.nodes()[static_cast<std::size_t>(root.left)].value);
  const auto rv = static_cast<std::size_t>(t.nodes()[static_cast<std::size_t>(root.right)].value);
  const double leaf = 1.5 / 1.9375;
  CHECK(t.leaf_values()[lv] == doctest::Approx(-leaf).epsilon(1e-5));
  CHECK(t.leaf_values()[lv + 1] == doctest::Approx(leaf).epsilon(1e-5));
  CHECK(t.leaf_values()[rv] == doctest::Approx(leaf).epsilon(1e-5));
  CHECK(t.leaf_values()[rv + 1] == doctest::Approx(-leaf).epsilon(1e-5));
  CHECK(model.base_margin()[1] == doctest::Approx(std::log(5.0 / 3.0)).epsilon(1e-6));
  const RowMatrixXf m = model.predict_margin(d.X);
  for (Index i = 0; i < 8; ++i) {
    const double s = d.X(i, 0) <= 2.0f ? -1.0 : 1.0;
    CHECK(m(i, 0) == doctest::Approx(std::log(3.0 / 5.0) + s * leaf).epsilon(1e-5));
    CHECK(m(i, 1) == doctest::Approx(std::log(5.0 / 3.0) - s * leaf).epsilon(1e-5));
  }
}

TEST_CASE("single tree: min_child_weight and min_split_gain restrict the split as computed by hand") {
  // x = 1..10, y = 1 only at x = 10: p = 0.1, h = 0.09, G = 0, H = 0.9. Isolating the k largest
  // values gives 2 gain = (1 - 0.1k)² / (1 + 0.09 (10 - k)) + (1 - 0.1k)² / (1 + 0.09 k) (λ = 1),
  // which falls with k: the best split isolates x = 10 (bin 9 | bin 10), gain 0.595316.
  RowMatrixXf X(10, 1), y(10, 1);
  for (Index i = 0; i < 10; ++i) {
    X(i, 0) = static_cast<float>(i + 1);
    y(i, 0) = i == 9 ? 1.0f : 0.0f;
  }
  auto fit = [&](double mcw, double min_gain) {
    MultiLabelGBDT::Options o = stump_options(1.0, 1.0);
    o.min_child_weight = mcw;
    o.min_split_gain = min_gain;
    MultiLabelGBDT model(o);
    model.fit(X, y);
    REQUIRE(model.trees().size() == 1);
    return model.trees()[0];
  };
  const double best_gain = 0.5 * (0.81 / 1.81 + 0.81 / 1.09);
  {
    const Tree t = fit(0.0, 0.0);
    REQUIRE(t.nodes().size() == 3);
    CHECK(t.nodes()[0].value == 9);
    CHECK(t.nodes()[0].gain == doctest::Approx(best_gain).epsilon(1e-5));
  }
  {
    // Children need a hessian of 0.2: at least 3 rows each, so the best is x <= 7 (k = 3).
    const Tree t = fit(0.2, 0.0);
    REQUIRE(t.nodes().size() == 3);
    CHECK(t.nodes()[0].value == 7);
    CHECK(t.nodes()[0].gain == doctest::Approx(0.5 * (0.49 / 1.63 + 0.49 / 1.27)).epsilon(1e-5));
  }
  {
    // A node needs 2 x min_child_weight = 1.0 > 0.9 to be split at all.
    const Tree t = fit(0.5, 0.0);
    CHECK(t.nodes().size() == 1);
    CHECK(t.num_leaves() == 1);
    CHECK(std::abs(t.leaf_values()[0]) < 1e-6f);  // -G / (H + λ) with G = 0
  }
  {
    // min_split_gain just below / above the best gain.
    CHECK(fit(0.0, best_gain - 1e-4).nodes().size() == 3);
    CHECK(fit(0.0, best_gain + 1e-4).nodes().size() == 1);
  }
}

// ================================================================================================
// The histogram builder against the plain reference booster
// ================================================================================================

TEST_CASE("reference: every grown tree and margin matches the plain double-precision booster") {
  const RowMatrixXf X = uniform_features(1000, 3, 31, 1, 0.15);
  const RowMatrixXf Y = latent_labels(X, 3, 0.6, 32);
  RowMatrixXf probe = uniform_features(200, 3, 33, 1, 0.3);
  for (Index i = 0; i < probe.rows(); i += 7) probe(i, 0) = kNaN;  // never missing in training
  struct Config {
    std::string name;
    GrowPolicy policy;
    int max_depth, max_leaves;
    double lambda, mcw, min_gain;
  };
  const Config configs[] = {
      {"depthwise", GrowPolicy::depthwise, 3, 0, 1.0, 1.0, 0.0},
      {"depthwise lambda 0, heavy min_child_weight", GrowPolicy::depthwise, 4, 0, 0.0, 4.0, 0.0},
      {"depthwise capped leaves, min_split_gain", GrowPolicy::depthwise, 4, 5, 2.0, 0.5, 0.2},
      {"lossguide", GrowPolicy::lossguide, 0, 6, 1.0, 1.0, 0.0},
      {"lossguide depth cap", GrowPolicy::lossguide, 2, 0, 1.0, 0.2, 0.0},
  };
  for (const Config& c : configs) {
    for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
      CAPTURE(c.name);
      CAPTURE(name_of(mode));
      MultiLabelGBDT::Options o = small_options();
      o.rounds = 4;
      o.learning_rate = 0.4;
      o.grow_policy = c.policy;
      o.max_depth = c.max_depth;
      o.max_leaves = c.max_leaves;
      o.lambda = c.lambda;
      o.min_child_weight = c.mcw;
      o.min_split_gain = c.min_gain;
      o.max_bin = 32;
      o.mode = mode;
      MultiLabelGBDT model(o);
      model.fit(X, Y);
      const BinnedMatrix bins = model.binner().transform(X);
      ReferenceBooster ref(bins, bin_counts(model.binner()), ref_params(o));
      const RowMatrixXd expected = ref.fit(Y, o.rounds, mode == MultiLabelMode::multi_output);
      REQUIRE_FALSE(ref.near_tie());  // the data must not leave the choice to rounding
      REQUIRE(model.trees().size() == ref.trees().size());
      std::size_t splits = 0;
      for (std::size_t t = 0; t < ref.trees().size(); ++t) {
        CAPTURE(t);
        CHECK(model.trees()[t].label_begin() == ref.trees()[t].label_begin);
        CHECK(leaf_nodes(model.trees()[t]) == (ref.trees()[t].nodes.size() + 1) / 2);
        CHECK(model.trees()[t].num_leaves() == leaf_nodes(model.trees()[t]));
        splits += ref.trees()[t].nodes.size() / 2;
      }
      CHECK(splits >= ref.trees().size());  // the trees are not stumps of nothing
      CHECK(max_abs_diff(model.predict_margin(X), expected) < 1e-4);
      CHECK(max_abs_diff(model.predict_margin(probe), ref.predict(model.binner().transform(probe))) < 1e-4);
    }
  }
}

// ================================================================================================
// What boosting learns
// ================================================================================================

TEST_CASE("interactions: depth 2 learns a thresholded XOR that depth-1 trees cannot") {
  // y = (x0 > 0) XOR (x1 > 0). P(x0 > 0) = 0.6 and P(x1 > 0) = 0.55, so the greedy first split
  // has a positive gain; x2 is noise.
  std::mt19937 rng(41);
  std::uniform_real_distribution<float> u0(-0.8f, 1.2f), u1(-0.9f, 1.1f), u2(-1.0f, 1.0f);
  const Index n = 2000;
  RowMatrixXf X(n, 3), y(n, 1);
  for (Index i = 0; i < n; ++i) {
    X(i, 0) = u0(rng);
    X(i, 1) = u1(rng);
    X(i, 2) = u2(rng);
    y(i, 0) = (X(i, 0) > 0.0f) != (X(i, 1) > 0.0f) ? 1.0f : 0.0f;
  }
  auto auc_of = [&](int depth) {
    MultiLabelGBDT::Options o = small_options();
    o.rounds = 10;
    o.learning_rate = 0.5;
    o.max_depth = depth;
    MultiLabelGBDT model(o);
    model.fit(X, y);
    const RowMatrixXf p = model.predict_proba(X);
    return std::pair{recmix::metrics::roc_auc(std::span<const float>(p.data(), static_cast<std::size_t>(n)),
                                              std::span<const float>(y.data(), static_cast<std::size_t>(n))),
                     model};
  };
  const auto [auc2_, deep] = auc_of(2);
  const auto [auc1_, shallow] = auc_of(1);
  const double auc2 = auc2_, auc1 = auc1_;  // CAPTURE cannot capture a structured binding before clang 16
  CHECK(auc2 > 0.95);
  CAPTURE(auc1);
  CAPTURE(auc2);
  CHECK(auc1 < 0.7);
  // The first depth-2 tree splits on one of x0, x1 and then on the other below it.
  const Tree& t = deep.trees()[0];
  const TreeNode& root = t.nodes()[0];
  REQUIRE_FALSE(root.is_leaf());
  CHECK((root.feature == 0 || root.feature == 1));
  for (const std::int32_t child : {root.left, root.right}) {
    const TreeNode& c = t.nodes()[static_cast<std::size_t>(child)];
    REQUIRE_FALSE(c.is_leaf());
    CHECK(c.feature == 1 - root.feature);
  }
  for (const Tree& s : shallow.trees()) CHECK(depth_of(s) <= 1);
}

TEST_CASE("one_vs_rest: every label's margins and trees equal a model trained on that label alone") {
  RowMatrixXf X = uniform_features(600, 5, 51, 1, 0.2);
  for (Index i = 0; i < X.rows(); ++i) X(i, 4) = static_cast<float>((i * 7) % 6);
  const RowMatrixXf Y = latent_labels(X, 3, 0.7, 52);
  const RowMatrixXf Xv = uniform_features(300, 5, 53, 1, 0.2);
  RowMatrixXf Xv2 = Xv;
  for (Index i = 0; i < Xv2.rows(); ++i) Xv2(i, 4) = static_cast<float>(i % 6);
  const RowMatrixXf Yv = latent_labels(Xv2, 3, 0.7, 54);
  for (const bool early : {false, true}) {
    CAPTURE(early);
    MultiLabelGBDT::Options o = small_options();
    o.rounds = early ? 40 : 6;
    o.learning_rate = early ? 0.9 : 0.3;
    o.subsample = 0.7;
    o.colsample = 0.6;
    o.categorical_features = {4};
    o.min_category_count = 5;
    o.mode = MultiLabelMode::one_vs_rest;
    o.threads = 2;
    o.early_stopping_rounds = early ? 2 : 0;
    MultiLabelGBDT all(o);
    const ValidationData valid{Xv2, Yv};
    const GBDTReport report = all.fit(X, Y, early ? &valid : nullptr);
    const RowMatrixXf m = all.predict_margin(Xv2);
    std::set<int> distinct_rounds;
    std::vector<std::vector<double>> alone_loss;  // each label's own validation loss per round
    for (Index l = 0; l < 3; ++l) {
      CAPTURE(l);
      const RowMatrixXf yl = column(Y, l), yvl = column(Yv, l);
      MultiLabelGBDT alone(o);
      const ValidationData valid_l{Xv2, yvl};
      const GBDTReport r = alone.fit(X, yl, early ? &valid_l : nullptr);
      const RowMatrixXf ml = alone.predict_margin(Xv2);
      CHECK(std::memcmp(&all.base_margin()[static_cast<std::size_t>(l)], &alone.base_margin()[0], sizeof(float)) == 0);
      bool equal = true;
      for (Index i = 0; i < Xv2.rows(); ++i) equal = equal && std::memcmp(&m(i, l), &ml(i, 0), sizeof(float)) == 0;
      CHECK(equal);
      CHECK(report.label_rounds[static_cast<std::size_t>(l)] == r.best_round);
      distinct_rounds.insert(r.best_round);
      alone_loss.push_back(r.validation_loss);
      // The label's trees, in round order, are the alone model's trees.
      std::vector<const Tree*> mine;
      for (const Tree& t : all.trees()) {
        if (t.label_begin() == l) mine.push_back(&t);
      }
      REQUIRE(mine.size() == alone.trees().size());
      for (std::size_t k = 0; k < mine.size(); ++k) CHECK(same_tree(*mine[k], alone.trees()[k], false));
    }
    if (early) {
      // The labels stop at different rounds, so the per-label bookkeeping is exercised.
      CHECK(distinct_rounds.size() >= 2);
      CHECK(report.best_round == *distinct_rounds.rbegin());
      // A label that stopped keeps its last margins: every round's validation loss is the mean
      // of the labels' own losses, each frozen at its last round.
      REQUIRE(report.validation_loss.size() == static_cast<std::size_t>(report.iterations));
      for (std::size_t k = 0; k < report.validation_loss.size(); ++k) {
        CAPTURE(k);
        double mean = 0.0;
        for (const auto& own : alone_loss) mean += own[std::min(k, own.size() - 1)] / 3.0;
        CHECK(report.validation_loss[k] == doctest::Approx(mean).epsilon(1e-6));
      }
    } else {
      CHECK(all.trees().size() == 18);
    }
  }
}

TEST_CASE("multi_output: on labels of one shared latent it is within 5 % of one_vs_rest") {
  const RowMatrixXf X = uniform_features(2000, 6, 61);
  const RowMatrixXf Y = latent_labels(X, 5, 0.5, 62);
  const RowMatrixXf Xv = uniform_features(1000, 6, 63);
  const RowMatrixXf Yv = latent_labels(Xv, 5, 0.5, 64);
  auto validation_loss = [&](MultiLabelMode mode) {
    MultiLabelGBDT::Options o = small_options();
    o.rounds = 40;
    o.learning_rate = 0.2;
    o.max_depth = 3;
    o.mode = mode;
    MultiLabelGBDT model(o);
    const ValidationData valid{Xv, Yv};
    const GBDTReport r = model.fit(X, Y, &valid);
    const double loss = mean_log_loss(model.predict_margin(Xv), Yv);
    CHECK(loss == doctest::Approx(r.validation_loss.back()).epsilon(1e-5));
    return loss;
  };
  const double multi = validation_loss(MultiLabelMode::multi_output);
  const double ovr = validation_loss(MultiLabelMode::one_vs_rest);
  // The prevalence-only model, for scale: both must learn a lot.
  RowMatrixXf base(Yv.rows(), Yv.cols());
  for (Index l = 0; l < Y.cols(); ++l) base.col(l).setConstant(static_cast<float>(logit(Y.col(l).mean())));
  const double prior = mean_log_loss(base, Yv);
  CAPTURE(multi);
  CAPTURE(ovr);
  CAPTURE(prior);
  CHECK(ovr < 0.6 * prior);
  CHECK(multi < 0.6 * prior);
  CHECK(multi <= 1.05 * ovr);
}

// ================================================================================================
// Missing values and categorical features
// ================================================================================================

TEST_CASE("missing values: a label that is 1 exactly when a feature is missing is learned") {
  const RowMatrixXf X = uniform_features(600, 2, 71, 0, 0.3);
  RowMatrixXf y(600, 1);
  for (Index i = 0; i < 600; ++i) y(i, 0) = std::isnan(X(i, 0)) ? 1.0f : 0.0f;
  MultiLabelGBDT::Options o = small_options();
  o.rounds = 10;
  o.learning_rate = 0.5;
  o.max_depth = 2;
  MultiLabelGBDT model(o);
  model.fit(X, y);
  const TreeNode& root = model.trees()[0].nodes()[0];
  CHECK(root.feature == 0);
  CHECK(root.value == 0);  // no value bin on the left ...
  CHECK(root.default_left == 1);  // ... only the missing ones
  const RowMatrixXf probe = uniform_features(300, 2, 72, 0, 0.5);
  const RowMatrixXf p = model.predict_proba(probe);
  int missing = 0;
  for (Index i = 0; i < probe.rows(); ++i) {
    if (std::isnan(probe(i, 0))) {
      ++missing;
      CHECK(p(i, 0) > 0.9f);
    } else {
      CHECK(p(i, 0) < 0.1f);
    }
  }
  CHECK(missing > 100);
}

TEST_CASE("missing values: a threshold split sends them to the side they resemble") {
  // x in {1, 2, 3, 4, NaN}, 20 rows each. y = 1 for {3, 4} and NaN: x <= 2 | rest, missing right;
  // y = 1 for {1, 2} and NaN: x <= 2 and missing | rest, missing left.
  RowMatrixXf X(100, 1);
  for (Index i = 0; i < 100; ++i) X(i, 0) = i % 5 == 4 ? kNaN : static_cast<float>(i % 5 + 1);
  for (const bool missing_left : {false, true}) {
    CAPTURE(missing_left);
    RowMatrixXf y(100, 1);
    for (Index i = 0; i < 100; ++i) {
      const bool low = i % 5 < 2;
      y(i, 0) = i % 5 == 4 ? 1.0f : (low == missing_left ? 1.0f : 0.0f);
    }
    MultiLabelGBDT model(stump_options(1.0, 1.0));
    model.fit(X, y);
    const TreeNode& root = model.trees()[0].nodes()[0];
    CHECK(root.feature == 0);
    CHECK(root.value == 2);
    CHECK(root.default_left == (missing_left ? 1 : 0));
    const RowMatrixXf m = model.predict_margin(X);
    // Missing rows (i % 5 == 4) share the leaf of x = 1 (left) or x = 4 (right), and are positive.
    const Index same = missing_left ? 0 : 3;
    CHECK(m(4, 0) == m(same, 0));
    CHECK(m(4, 0) > model.base_margin()[0]);
    CHECK(m(missing_left ? 3 : 0, 0) < model.base_margin()[0]);
  }
}

TEST_CASE("categorical: one depth-1 tree sends exactly the positive categories to one side") {
  // Feature 1 holds codes 0..9 (30 rows each) and a rare code 11 (3 rows); y = code in {2, 5, 7}.
  // Kept codes 0..9 are bins 2..11, so the positive bins are {4, 7, 9}; code 11 pools into bin 1.
  const Index n = 303;
  RowMatrixXf X(n, 2), Y(n, 2);
  std::mt19937 rng(81);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (Index i = 0; i < n; ++i) {
    const int code = i < 300 ? static_cast<int>(i % 10) : 11;
    X(i, 0) = u(rng);
    X(i, 1) = static_cast<float>(code);
    Y(i, 0) = code == 2 || code == 5 || code == 7 ? 1.0f : 0.0f;
    Y(i, 1) = 1.0f - Y(i, 0);
  }
  const std::set<int> positive = {4, 7, 9};
  for (const Index labels : {1, 2}) {
    CAPTURE(labels);
    const RowMatrixXf Yl = Y.leftCols(labels);
    MultiLabelGBDT::Options o = stump_options(1.0, 1.0);
    o.categorical_features = {1};
    o.min_child_weight = 1.0;
    MultiLabelGBDT model(o);
    const GBDTReport report = model.fit(X, Yl);
    // The training rows were routed by the same set: their margins give the reported loss.
    CHECK(mean_log_loss(model.predict_margin(X), Yl) == doctest::Approx(report.train_loss.back()).epsilon(1e-5));
    REQUIRE(model.binner().is_categorical(1));
    REQUIRE(model.binner().num_bins(1) == 12);
    REQUIRE(model.trees().size() == 1);
    const Tree& t = model.trees()[0];
    const TreeNode& root = t.nodes()[0];
    REQUIRE_FALSE(root.is_leaf());
    CHECK(root.feature == 1);
    CHECK(root.categorical == 1);
    std::set<int> left, right;
    for (int b = 1; b < 12; ++b) (t.category_goes_left(root, static_cast<std::uint8_t>(b)) ? left : right).insert(b);
    CHECK((left == positive || right == positive));
    // The bins of no training row stay out of the left set.
    CHECK_FALSE(t.category_goes_left(root, 0));
    for (int b = 12; b < 256; ++b) CHECK_FALSE(t.category_goes_left(root, static_cast<std::uint8_t>(b)));
    // Predictions: positive codes above the base margin, the others below; the rare code and
    // codes never seen in training share the pooled bin's leaf.
    RowMatrixXf Z(14, 2);
    Z.col(0).setZero();
    for (Index c = 0; c < 10; ++c) Z(c, 1) = static_cast<float>(c);
    Z(10, 1) = 11.0f;
    Z(11, 1) = 10.0f;
    Z(12, 1) = 4242.0f;
    Z(13, 1) = kNaN;
    const RowMatrixXf m = model.predict_margin(Z);
    for (Index c = 0; c < 10; ++c) {
      CAPTURE(c);
      const bool pos = c == 2 || c == 5 || c == 7;
      CHECK((m(c, 0) > model.base_margin()[0]) == pos);
    }
    CHECK(m(10, 0) < model.base_margin()[0]);
    CHECK(m(11, 0) == m(10, 0));
    CHECK(m(12, 0) == m(10, 0));
    CHECK(std::isfinite(m(13, 0)));
  }
}

// ================================================================================================
// Early stopping, determinism, tree size limits, the report, importance
// ================================================================================================

TEST_CASE("early stopping: stops on a rising validation loss and keeps the best round") {
  // Weak signal, strong noise, a high learning rate and deep trees: the validation loss turns up
  // after a few rounds.
  std::mt19937 rng(91);
  std::normal_distribution<double> e(0.0, 1.0);
  auto labels = [&](const RowMatrixXf& X, Index L) {
    RowMatrixXf Y(X.rows(), L);
    for (Index i = 0; i < X.rows(); ++i) {
      for (Index l = 0; l < L; ++l) Y(i, l) = X(i, 0) + (1.0 + l) * e(rng) > 0.0 ? 1.0f : 0.0f;
    }
    return Y;
  };
  const RowMatrixXf X = uniform_features(500, 4, 92), Xv = uniform_features(400, 4, 93);
  const RowMatrixXf Y = labels(X, 3), Yv = labels(Xv, 3);
  const ValidationData valid{Xv, Yv};
  MultiLabelGBDT::Options o = small_options();
  o.rounds = 100;
  o.learning_rate = 1.0;
  o.max_depth = 5;
  o.min_child_weight = 0.1;
  o.early_stopping_rounds = 4;

  SUBCASE("multi_output") {
    MultiLabelGBDT model(o);
    Recorder rec;
    const GBDTReport r = model.fit(X, Y, &valid, rec);
    CHECK(r.stopped_early);
    REQUIRE(r.iterations < 100);
    REQUIRE(r.validation_loss.size() == static_cast<std::size_t>(r.iterations));
    const auto best = std::min_element(r.validation_loss.begin(), r.validation_loss.end()) - r.validation_loss.begin();
    CHECK(r.best_round == best + 1);
    CHECK(r.iterations == r.best_round + 4);  // stopped after 4 rounds without improvement
    CHECK(r.label_rounds == std::vector<int>(3, r.best_round));
    CHECK(model.trees().size() == static_cast<std::size_t>(r.best_round));
    // The kept model's validation loss is the reported minimum.
    CHECK(mean_log_loss(model.predict_margin(Xv), Yv) == doctest::Approx(r.validation_loss[static_cast<std::size_t>(best)]).epsilon(1e-5));
    // And it is the model that simply stops at best_round.
    MultiLabelGBDT::Options o2 = o;
    o2.rounds = r.best_round;
    o2.early_stopping_rounds = 0;
    MultiLabelGBDT plain(o2);
    plain.fit(X, Y);
    CHECK(same_trees(model, plain));
    CHECK(bit_identical(model.predict_margin(Xv), plain.predict_margin(Xv)));
    // The observer saw every round and the validation losses.
    CHECK(rec.begins == 1);
    CHECK(rec.ends == 1);
    CHECK(rec.name == "MultiLabelGBDT");
    CHECK(rec.total == 100);
    CHECK(rec.end_iterations == r.iterations);
    REQUIRE(rec.iterations.size() == static_cast<std::size_t>(r.iterations));
    for (int k = 0; k < r.iterations; ++k) {
      CHECK(rec.iterations[static_cast<std::size_t>(k)] == k + 1);
      CHECK(rec.losses[static_cast<std::size_t>(k)] == r.validation_loss[static_cast<std::size_t>(k)]);
    }
  }
  SUBCASE("one_vs_rest") {
    o.mode = MultiLabelMode::one_vs_rest;
    MultiLabelGBDT model(o);
    const GBDTReport r = model.fit(X, Y, &valid);
    CHECK(r.stopped_early);
    CHECK(r.iterations < 100);
    REQUIRE(r.label_rounds.size() == 3);
    CHECK(r.best_round == *std::max_element(r.label_rounds.begin(), r.label_rounds.end()));
    for (Index l = 0; l < 3; ++l) {
      const auto count = std::count_if(model.trees().begin(), model.trees().end(), [&](const Tree& t) { return t.label_begin() == l; });
      CHECK(count == r.label_rounds[static_cast<std::size_t>(l)]);
    }
  }
  SUBCASE("without early_stopping_rounds every round is kept") {
    o.rounds = 12;
    o.early_stopping_rounds = 0;
    MultiLabelGBDT model(o);
    const GBDTReport r = model.fit(X, Y, &valid);
    CHECK_FALSE(r.stopped_early);
    CHECK(r.iterations == 12);
    CHECK(r.best_round == 12);
    CHECK(r.validation_loss.size() == 12);
    CHECK(model.trees().size() == 12);
  }
}

namespace {

/// 72,000 rows: large enough for every parallel path of the builder. The sampled root (~68,000
/// rows) sums its histogram in two chunks, nodes of >= 16,384 rows search splits and sum
/// histograms on both threads, and the margin pass has more than three blocks of rows.
struct BigData {
  RowMatrixXf X, Y;
  BigData() {
    X = uniform_features(72000, 5, 101, 1, 0.2);
    for (Index i = 0; i < X.rows(); ++i) X(i, 4) = static_cast<float>((i * 13) % 11);
    Y = latent_labels(X, 3, 0.6, 102);
  }
};

const BigData& big_data() {
  static const BigData data;
  return data;
}

/// The leaf node row i of `bins` reaches, walking the tree's nodes as documented.
std::int32_t leaf_node(const Tree& t, const BinnedMatrix& bins, std::size_t i) {
  std::int32_t k = 0;
  while (!t.nodes()[static_cast<std::size_t>(k)].is_leaf()) {
    const TreeNode& nd = t.nodes()[static_cast<std::size_t>(k)];
    const std::uint8_t b = bins(i, static_cast<std::size_t>(nd.feature));
    const bool left = nd.categorical != 0 ? t.category_goes_left(nd, b) : (b == 0 ? nd.default_left != 0 : b <= nd.value);
    k = left ? nd.left : nd.right;
  }
  return k;
}

}  // namespace

TEST_CASE("large data: the first tree's leaves are the exact gradient sums of the rows reaching them") {
  const BigData& data = big_data();
  const Index n = data.X.rows();
  for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
    CAPTURE(name_of(mode));
    MultiLabelGBDT::Options o = small_options();
    o.rounds = 1;
    o.max_depth = 3;
    o.categorical_features = {4};
    o.mode = mode;
    o.threads = 2;
    MultiLabelGBDT model(o);
    model.fit(data.X, data.Y);
    const BinnedMatrix bins = model.binner().transform(data.X);
    for (const Tree& t : model.trees()) {
      CAPTURE(t.label_begin());
      const std::size_t W = static_cast<std::size_t>(t.width());
      std::vector<double> G(t.nodes().size() * W, 0.0), H(t.nodes().size() * W, 0.0);
      std::vector<Index> rows(t.nodes().size(), 0);
      for (Index i = 0; i < n; ++i) {
        const auto k = static_cast<std::size_t>(leaf_node(t, bins, static_cast<std::size_t>(i)));
        ++rows[k];
        for (std::size_t w = 0; w < W; ++w) {
          const Index l = t.label_begin() + static_cast<Index>(w);
          const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(model.base_margin()[static_cast<std::size_t>(l)])));
          G[k * W + w] += p - data.Y(i, l);
          H[k * W + w] += p * (1.0 - p);
        }
      }
      int leaves = 0;
      for (std::size_t k = 0; k < t.nodes().size(); ++k) {
        const TreeNode& nd = t.nodes()[k];
        if (!nd.is_leaf()) continue;
        ++leaves;
        CHECK(rows[k] > 0);
        for (std::size_t w = 0; w < W; ++w) {
          const double expected = -o.learning_rate * G[k * W + w] / (H[k * W + w] + o.lambda);
          const double got = t.leaf_values()[static_cast<std::size_t>(nd.value) + w];
          CAPTURE(rows[k]);
          // Float histograms summed over bins of thousands of rows: ~1e-4 relative is the
          // expected rounding; a lost chunk or misrouted rows are off by far more.
          CHECK(std::abs(got - expected) <= 1e-3 * std::max(0.1, std::abs(expected)));
        }
      }
      CHECK(leaves == 8);
    }
  }
}

TEST_CASE("determinism: 1 and 2 threads grow identical trees in every mode and policy") {
  const BigData& data = big_data();
  const RowMatrixXf& X = data.X;
  const RowMatrixXf& Y = data.Y;
  for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
    for (const GrowPolicy policy : {GrowPolicy::depthwise, GrowPolicy::lossguide}) {
      CAPTURE(name_of(mode));
      CAPTURE(name_of(policy));
      MultiLabelGBDT::Options o = small_options();
      o.rounds = 2;
      o.max_depth = policy == GrowPolicy::depthwise ? 3 : 0;
      o.max_leaves = policy == GrowPolicy::lossguide ? 6 : 0;
      o.grow_policy = policy;
      o.subsample = 0.95;
      o.colsample = 0.8;
      o.categorical_features = {4};
      o.mode = mode;
      MultiLabelGBDT one(o);
      const GBDTReport r1 = one.fit(X, Y);
      o.threads = 2;
      MultiLabelGBDT two(o);
      const GBDTReport r2 = two.fit(X, Y);
      CHECK(same_trees(one, two));
      CHECK(bit_identical(one.predict_margin(X), two.predict_margin(X)));
      CHECK(r1.train_loss == r2.train_loss);
      CHECK(one.trees().size() == (mode == MultiLabelMode::multi_output ? 2U : 6U));
    }
  }
}

TEST_CASE("tree size: depthwise respects max_depth, lossguide respects max_leaves") {
  const RowMatrixXf X = uniform_features(800, 4, 111, 3, 0.1);
  const RowMatrixXf Y = latent_labels(X, 2, 0.8, 112);
  struct Case {
    std::string name;
    GrowPolicy policy;
    int max_depth, max_leaves;
    int expect_depth;        // the largest depth some tree must reach (-1: not checked)
    std::size_t expect_leaves;  // the largest leaf count some tree must reach
  };
  const Case cases[] = {
      {"depthwise D=3", GrowPolicy::depthwise, 3, 0, 3, 8},
      {"depthwise D=5 capped at 6 leaves", GrowPolicy::depthwise, 5, 6, -1, 6},
      {"lossguide K=5", GrowPolicy::lossguide, 0, 5, -1, 5},
      {"lossguide K=7 within depth 6", GrowPolicy::lossguide, 6, 7, -1, 7},
      {"lossguide depth 2", GrowPolicy::lossguide, 2, 0, 2, 4},
  };
  for (const Case& c : cases) {
    for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
      CAPTURE(c.name);
      CAPTURE(name_of(mode));
      MultiLabelGBDT::Options o = small_options();
      o.rounds = 4;
      o.grow_policy = c.policy;
      o.max_depth = c.max_depth;
      o.max_leaves = c.max_leaves;
      o.min_child_weight = 0.1;
      o.mode = mode;
      MultiLabelGBDT model(o);
      model.fit(X, Y);
      int deepest = 0;
      std::size_t most = 0;
      for (const Tree& t : model.trees()) {
        const int depth = depth_of(t);
        const std::size_t leaves = leaf_nodes(t);
        CHECK(t.depth() == depth);
        CHECK(t.num_leaves() == leaves);
        CHECK(t.nodes().size() == 2 * leaves - 1);
        if (c.max_depth > 0) CHECK(depth <= c.max_depth);
        if (c.max_leaves > 0) CHECK(leaves <= static_cast<std::size_t>(c.max_leaves));
        deepest = std::max(deepest, depth);
        most = std::max(most, leaves);
      }
      if (c.expect_depth >= 0) CHECK(deepest == c.expect_depth);
      CHECK(most == c.expect_leaves);
      if (c.policy == GrowPolicy::lossguide && c.max_depth == 0) CHECK(deepest > 2);  // leaf-wise, not level-wise
    }
  }
}

TEST_CASE("report: training losses match the model's own margins, round by round") {
  const RowMatrixXf X = uniform_features(700, 4, 121, 2, 0.2);
  const RowMatrixXf Y = latent_labels(X, 3, 0.5, 122);
  for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
    CAPTURE(name_of(mode));
    MultiLabelGBDT::Options o = small_options();
    o.rounds = 8;
    o.subsample = 0.7;
    o.mode = mode;
    MultiLabelGBDT model(o);
    const GBDTReport r = model.fit(X, Y);
    CHECK(r.iterations == 8);
    CHECK(r.best_round == 8);
    CHECK_FALSE(r.stopped_early);
    CHECK(r.label_rounds == std::vector<int>(3, 8));
    CHECK(r.validation_loss.empty());
    CHECK(r.iteration_seconds.size() == 8);
    CHECK(r.loss.size() == 8);
    REQUIRE(r.train_loss.size() == 8);
    // Without a validation set the per-round loss is the training loss after that round.
    CHECK(r.loss == r.train_loss);
    CHECK(model.trees().size() == (mode == MultiLabelMode::multi_output ? 8U : 24U));
    // The last training loss is the loss of predict_margin on the training rows.
    const RowMatrixXf m = model.predict_margin(X);
    CHECK(mean_log_loss(m, Y) == doctest::Approx(r.train_loss.back()).epsilon(1e-5));
    // predict_proba is the sigmoid of predict_margin.
    const RowMatrixXf p = model.predict_proba(X);
    double worst = 0.0;
    for (Index i = 0; i < X.rows(); ++i) {
      for (Index l = 0; l < 3; ++l) worst = std::max(worst, std::abs(p(i, l) - 1.0 / (1.0 + std::exp(-static_cast<double>(m(i, l))))));
    }
    CHECK(worst < 1e-6);
    // Fewer rounds with the same options grow the same first trees, and train_loss[k - 1] is
    // the loss after k rounds.
    for (const int k : {1, 3, 6}) {
      CAPTURE(k);
      MultiLabelGBDT::Options ok = o;
      ok.rounds = k;
      MultiLabelGBDT shorter(ok);
      const GBDTReport rk = shorter.fit(X, Y);
      REQUIRE(shorter.trees().size() <= model.trees().size());
      bool prefix = true;
      for (std::size_t t = 0; t < shorter.trees().size(); ++t) prefix = prefix && same_tree(shorter.trees()[t], model.trees()[t]);
      CHECK(prefix);
      CHECK(rk.train_loss.back() == doctest::Approx(r.train_loss[static_cast<std::size_t>(k - 1)]).epsilon(1e-9));
      CHECK(mean_log_loss(shorter.predict_margin(X), Y) == doctest::Approx(r.train_loss[static_cast<std::size_t>(k - 1)]).epsilon(1e-5));
    }
    // Without subsampling the training loss falls every round.
    o.subsample = 1.0;
    MultiLabelGBDT full(o);
    const GBDTReport rf = full.fit(X, Y);
    for (std::size_t k = 1; k < rf.train_loss.size(); ++k) CHECK(rf.train_loss[k] < rf.train_loss[k - 1]);
    // The base margins are the logits of the prevalences.
    for (Index l = 0; l < 3; ++l) CHECK(full.base_margin()[static_cast<std::size_t>(l)] == doctest::Approx(logit(Y.col(l).mean())).epsilon(1e-5));
  }
}

TEST_CASE("report: an all-zero or all-one label gets a clamped base margin and stays finite") {
  const RowMatrixXf X = uniform_features(100, 2, 125);
  RowMatrixXf Y(100, 2);
  Y.col(0).setZero();
  Y.col(1).setOnes();
  MultiLabelGBDT model(small_options());
  const GBDTReport r = model.fit(X, Y);
  CHECK(model.base_margin()[0] == doctest::Approx(logit(1e-6)).epsilon(1e-4));
  CHECK(model.base_margin()[1] == doctest::Approx(-logit(1e-6)).epsilon(1e-4));
  CHECK(std::isfinite(r.train_loss.back()));
  const RowMatrixXf p = model.predict_proba(X);
  CHECK(p.col(0).maxCoeff() < 1e-5f);
  CHECK(p.col(1).minCoeff() > 1.0f - 1e-5f);
}

TEST_CASE("feature importance: the informative feature leads, noise features get (near) nothing") {
  // x0 on a grid of 20 values and y = x0 > 0.3 exactly: one split separates the classes, every
  // later split of a pure node loses gain (λ > 0), so the noise features get exactly 0.
  const Index n = 800;
  RowMatrixXf X = uniform_features(n, 3, 131);
  RowMatrixXf y(n, 1), noisy(n, 1);
  std::mt19937 rng(132);
  std::bernoulli_distribution flip(0.05);
  for (Index i = 0; i < n; ++i) {
    X(i, 1) = static_cast<float>(i % 20) / 10.0f - 1.0f;
    y(i, 0) = X(i, 1) > 0.3f ? 1.0f : 0.0f;
    noisy(i, 0) = flip(rng) ? 1.0f - y(i, 0) : y(i, 0);
  }
  MultiLabelGBDT::Options o = small_options();
  o.rounds = 4;
  MultiLabelGBDT exact(o);
  exact.fit(X, y);
  const std::vector<double> imp = exact.feature_importance();
  REQUIRE(imp.size() == 3);
  CHECK(imp[1] > 0.0);
  CHECK(imp[0] == 0.0);
  CHECK(imp[2] == 0.0);
  MultiLabelGBDT model(o);
  model.fit(X, noisy);
  const std::vector<double> imp2 = model.feature_importance();
  REQUIRE(imp2.size() == 3);
  CHECK(imp2[1] > 0.0);
  CHECK(imp2[0] < 0.05 * imp2[1]);
  CHECK(imp2[2] < 0.05 * imp2[1]);
  // The importance is the split gain summed per feature.
  std::vector<double> sum(3, 0.0);
  for (const Tree& t : model.trees()) {
    for (const TreeNode& nd : t.nodes()) {
      if (!nd.is_leaf()) sum[static_cast<std::size_t>(nd.feature)] += nd.gain;
    }
  }
  for (std::size_t j = 0; j < 3; ++j) CHECK(imp2[j] == doctest::Approx(sum[j]));
}

// ================================================================================================
// Serialization
// ================================================================================================

namespace {

/// A fitted model with numeric, missing and categorical features, for save/load.
struct Fitted {
  RowMatrixXf X, Y, probe;
  MultiLabelGBDT model;
  explicit Fitted(MultiLabelMode mode = MultiLabelMode::multi_output, std::uint32_t seed = 141) {
    X = uniform_features(400, 4, seed, 1, 0.2);
    for (Index i = 0; i < X.rows(); ++i) X(i, 3) = static_cast<float>((i * 5) % 7);
    Y = latent_labels(X, 3, 0.5, seed + 1);
    probe = uniform_features(100, 4, seed + 2, 1, 0.3);
    for (Index i = 0; i < probe.rows(); ++i) probe(i, 3) = static_cast<float>(i % 9);
    MultiLabelGBDT::Options o = small_options();
    o.categorical_features = {3};
    o.min_category_count = 5;
    o.max_bin = 40;
    o.mode = mode;
    o.seed = 99;
    o.subsample = 0.9;
    o.lambda = 0.7;
    o.initial_margin = recmix::trees::InitialMargin::zero;
    model = MultiLabelGBDT(o);
    model.fit(X, Y);
  }
};

/// Rewrites the payload of an envelope + payload file and fixes its size and checksum.
std::string edit_payload(const std::string& file, const std::string& from, const std::string& to) {
  const std::size_t header_end = file.find('\n', file.find('\n') + 1) + 1;
  std::string header = file.substr(0, header_end);
  std::string payload = file.substr(header_end);
  const std::size_t at = payload.find(from);
  REQUIRE(at != std::string::npos);
  payload.replace(at, from.size(), to);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(recmix::detail::crc32(payload.data(), payload.size())));
  header = header.substr(0, header.find(" bytes ")) + " bytes " + std::to_string(payload.size()) + " crc32 " + crc + "\n";
  return header + payload;
}

}  // namespace

TEST_CASE("serialization: round trip in every archive gives identical predictions") {
  for (const MultiLabelMode mode : {MultiLabelMode::multi_output, MultiLabelMode::one_vs_rest}) {
    const Fitted f(mode);
    const RowMatrixXf expected = f.model.predict_margin(f.probe);
    for (const ArchiveFormat format : kFormats) {
      CAPTURE(name_of(mode));
      CAPTURE(name_of(format));
      recmix::test::TempDir dir("recmix-trees");
      const auto path = dir / ("gbdt." + name_of(format));
      recmix::save(f.model, path, {.format = format});
      MultiLabelGBDT restored;
      recmix::load(restored, path);
      REQUIRE(restored.is_fitted());
      CHECK(bit_identical(restored.predict_margin(f.probe), expected));
      CHECK(same_trees(restored, f.model));
      CHECK(restored.base_margin() == f.model.base_margin());
      CHECK(restored.num_labels() == 3);
      CHECK(restored.num_features() == 4);
      CHECK(restored.binner().is_categorical(3));
      CHECK(restored.options().mode == mode);
      CHECK(restored.options().seed == 99);
      CHECK(restored.options().lambda == 0.7);
      CHECK(restored.options().subsample == 0.9);
      CHECK(restored.options().categorical_features == std::vector<Index>{3});
      CHECK(restored.options().initial_margin == recmix::trees::InitialMargin::zero);
      CHECK(restored.feature_importance() == f.model.feature_importance());
      // A loaded model saves to the same bytes, and refits to the same model.
      const std::string bytes = save_to_string(f.model, format);
      CHECK(save_to_string(restored, format) == bytes);
      restored.fit(f.X, f.Y);
      CHECK(bit_identical(restored.predict_margin(f.probe), expected));
    }
  }
  std::ostringstream os;
  CHECK_THROWS_AS(recmix::save(MultiLabelGBDT(), os), recmix::not_fitted);
}

TEST_CASE("serialization: truncated, foreign and inconsistent files throw and leave the model untouched") {
  const Fitted f;
  const Fitted other(MultiLabelMode::one_vs_rest, 151);
  FeatureBinner binner({.threads = 1});
  binner.fit(f.X);
  const ClassifierRecommender rec(other.model);
  const RowMatrixXf before = f.model.predict_margin(f.probe);
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    const std::string good = save_to_string(other.model, format);
    MultiLabelGBDT target = f.model;
    auto untouched = [&] {
      CHECK(bit_identical(target.predict_margin(f.probe), before));
      CHECK(target.options().mode == MultiLabelMode::multi_output);
    };
    for (const std::size_t cut : {std::size_t{1}, std::size_t{50}, good.size() / 2}) {
      CAPTURE(cut);
      CHECK_THROWS_AS(load_from_string(target, good.substr(0, good.size() - cut)), recmix::model_format_error);
      untouched();
    }
    CHECK_THROWS_WITH_AS(load_from_string(target, save_to_string(binner, format)), doctest::Contains("feature_binner"), recmix::model_format_error);
    untouched();
    CHECK_THROWS_WITH_AS(load_from_string(target, save_to_string(rec, format)), doctest::Contains("classifier_recommender"),
                         recmix::model_format_error);
    untouched();
    ClassifierRecommender rec_target = rec;
    CHECK_THROWS_AS(load_from_string(rec_target, good), recmix::model_format_error);
    FeatureBinner binner_target;
    CHECK_THROWS_AS(load_from_string(binner_target, good), recmix::model_format_error);
    CHECK_FALSE(binner_target.is_fitted());
    // The right kind does replace the model.
    load_from_string(target, good);
    CHECK(bit_identical(target.predict_margin(f.probe), other.model.predict_margin(f.probe)));
  }
  // Well-formed files with impossible content (checked after parsing).
  const std::string xml = save_to_string(f.model, ArchiveFormat::xml);
  const TreeNode& root = f.model.trees()[0].nodes()[0];
  REQUIRE_FALSE(root.is_leaf());
  const std::string feature = "<feature>" + std::to_string(root.feature) + "</feature>";
  {
    MultiLabelGBDT ok;
    CHECK_NOTHROW(load_from_string(ok, edit_payload(xml, feature, feature)));  // the editing itself is sound
  }
  // The root's feature and the value after it, with whatever indentation the archive uses.
  const std::size_t feature_at = xml.find(feature);
  REQUIRE(feature_at != std::string::npos);
  const std::string value = "<value>" + std::to_string(root.value) + "</value>";
  const std::size_t value_at = xml.find(value, feature_at);
  REQUIRE(value_at != std::string::npos);
  const std::string feature_then_value = xml.substr(feature_at, value_at + value.size() - feature_at);
  const std::pair<std::string, std::string> edits[] = {
      {feature, "<feature>99</feature>"},
      {"<grow_policy>0</grow_policy>", "<grow_policy>7</grow_policy>"},
      {"<threads>1</threads>", "<threads>65536</threads>"},
      {"<num_labels>3</num_labels>", "<num_labels>4</num_labels>"},
      {"<mode>0</mode>", "<mode>1</mode>"},  // width-3 trees in a one_vs_rest model
      {"<initial_margin>1</initial_margin>", "<initial_margin>5</initial_margin>"},
      {"<categorical>" + std::to_string(root.categorical) + "</categorical>", "<categorical>" + std::to_string(1 - root.categorical) + "</categorical>"},
      // Caught only by the structural tree check: a threshold bin (or category set) that does
      // not exist, and a negative round.
      {feature_then_value, feature_then_value.substr(0, feature_then_value.find("<value>")) + "<value>250</value>"},
      {"<round>0</round>", "<round>-1</round>"},
  };
  for (const auto& [from, to] : edits) {
    const std::string edit = to;  // CAPTURE cannot capture a structured binding before clang 16
    CAPTURE(edit);
    MultiLabelGBDT target = f.model;
    CHECK_THROWS_AS(load_from_string(target, edit_payload(xml, from, to)), recmix::model_format_error);
    CHECK(bit_identical(target.predict_margin(f.probe), before));
  }
}

// ================================================================================================
// Bad input
// ================================================================================================

TEST_CASE("bad input: fit, predict and the options throw, naming the problem") {
  using recmix::invalid_argument;
  const RowMatrixXf X = uniform_features(50, 3, 161);
  const RowMatrixXf Y = latent_labels(X, 2, 0.5, 162);
  MultiLabelGBDT model(small_options());

  SUBCASE("unfitted") {
    CHECK_FALSE(model.is_fitted());
    CHECK_THROWS_AS((void)model.predict_margin(X), recmix::not_fitted);
    CHECK_THROWS_AS((void)model.predict_proba(X), recmix::not_fitted);
    CHECK_THROWS_AS((void)model.feature_importance(), recmix::not_fitted);
    CHECK_THROWS_AS(ClassifierRecommender{MultiLabelGBDT()}, recmix::not_fitted);
  }
  SUBCASE("labels and shapes") {
    RowMatrixXf bad = Y;
    bad(7, 1) = kNaN;
    CHECK_THROWS_WITH_AS(model.fit(X, bad), doctest::Contains("NaN label at training row 7, label 1"), invalid_argument);
    bad(7, 1) = 0.5f;
    CHECK_THROWS_WITH_AS(model.fit(X, bad), doctest::Contains("not 0 or 1"), invalid_argument);
    bad(7, 1) = -1.0f;
    CHECK_THROWS_WITH_AS(model.fit(X, bad), doctest::Contains("not 0 or 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y.topRows(49)), doctest::Contains("X has 50 rows but Y has 49"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(RowMatrixXf(0, 3), RowMatrixXf(0, 2)), doctest::Contains("X is empty"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(RowMatrixXf(50, 0), Y), doctest::Contains("X is empty"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, RowMatrixXf(50, 0)), doctest::Contains("Y has no labels"), invalid_argument);
    RowMatrixXf inf = X;
    inf(3, 2) = kInf;
    CHECK_THROWS_WITH_AS(model.fit(inf, Y), doctest::Contains("infinite"), invalid_argument);
    MultiLabelGBDT::Options o = small_options();
    o.categorical_features = {3};
    CHECK_THROWS_WITH_AS(MultiLabelGBDT(o).fit(X, Y), doctest::Contains("categorical column 3"), invalid_argument);
    o.categorical_features = {0};
    CHECK_THROWS_WITH_AS(MultiLabelGBDT(o).fit(X, Y), doctest::Contains("not an integer code"), invalid_argument);
    CHECK_FALSE(model.is_fitted());
  }
  SUBCASE("validation data") {
    const RowMatrixXf Xv = uniform_features(20, 3, 163);
    const RowMatrixXf Yv = latent_labels(Xv, 2, 0.5, 164);
    const RowMatrixXf wide = uniform_features(20, 4, 165);
    const RowMatrixXf Y3 = latent_labels(Xv, 3, 0.5, 166);
    RowMatrixXf Yhalf = Yv;
    Yhalf(2, 0) = 0.5f;
    RowMatrixXf Xinf = Xv;
    Xinf(0, 0) = -kInf;
    const ValidationData wrong_x{wide, Yv}, wrong_y{Xv, Y3}, wrong_rows{Xv, Yv.topRows(10)}, half{Xv, Yhalf}, empty{RowMatrixXf(0, 3), RowMatrixXf(0, 2)},
        infinite{Xinf, Yv};
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &wrong_x), doctest::Contains("validation X has 4 columns"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &wrong_y), doctest::Contains("validation Y has 3 labels"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &wrong_rows), doctest::Contains("row counts differ"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &half), doctest::Contains("validation row 2, label 0"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &empty), doctest::Contains("validation set is empty"), invalid_argument);
    CHECK_THROWS_WITH_AS(model.fit(X, Y, &infinite), doctest::Contains("infinite"), invalid_argument);
    MultiLabelGBDT::Options o = small_options();
    o.early_stopping_rounds = 3;
    CHECK_THROWS_WITH_AS(MultiLabelGBDT(o).fit(X, Y), doctest::Contains("needs a validation set"), invalid_argument);
    CHECK_FALSE(model.is_fitted());
  }
  SUBCASE("predict") {
    model.fit(X, Y);
    CHECK_THROWS_WITH_AS((void)model.predict_margin(RowMatrixXf::Zero(4, 2)), doctest::Contains("X has 2 columns but the model was fitted on 3"),
                         invalid_argument);
    CHECK_THROWS_AS((void)model.predict_proba(RowMatrixXf::Zero(4, 4)), invalid_argument);
    RowMatrixXf inf = X.topRows(3);
    inf(1, 1) = kInf;
    CHECK_THROWS_WITH_AS((void)model.predict_margin(inf), doctest::Contains("infinite"), invalid_argument);
    RowMatrixXf out(3, 3);
    CHECK_THROWS_WITH_AS(model.predict_proba(X.topRows(3), out), doctest::Contains("output is 3 x 3"), invalid_argument);
    RowMatrixXf right(3, 2);
    model.predict_proba(X.topRows(3), right);
    CHECK(bit_identical(right, model.predict_proba(X.topRows(3))));
    CHECK(model.predict_margin(RowMatrixXf(0, 3)).rows() == 0);
  }
  SUBCASE("a failed fit leaves the fitted model untouched") {
    model.fit(X, Y);
    const RowMatrixXf before = model.predict_margin(X);
    RowMatrixXf bad = Y;
    bad(0, 0) = 2.0f;
    CHECK_THROWS_AS(model.fit(X, bad), invalid_argument);
    CHECK_THROWS_AS(model.fit(X, RowMatrixXf(50, 0)), invalid_argument);
    CHECK(model.num_labels() == 2);
    CHECK(bit_identical(model.predict_margin(X), before));
  }
  SUBCASE("options") {
    struct Bad {
      const char* what;
      void (*set)(MultiLabelGBDT::Options&);
    };
    const Bad bad[] = {
        {"rounds", [](MultiLabelGBDT::Options& o) { o.rounds = 0; }},
        {"learning_rate", [](MultiLabelGBDT::Options& o) { o.learning_rate = 0.0; }},
        {"learning_rate", [](MultiLabelGBDT::Options& o) { o.learning_rate = -0.1; }},
        {"learning_rate", [](MultiLabelGBDT::Options& o) { o.learning_rate = std::numeric_limits<double>::quiet_NaN(); }},
        {"learning_rate", [](MultiLabelGBDT::Options& o) { o.learning_rate = std::numeric_limits<double>::infinity(); }},
        {"subsample", [](MultiLabelGBDT::Options& o) { o.subsample = 0.0; }},
        {"subsample", [](MultiLabelGBDT::Options& o) { o.subsample = 1.5; }},
        {"colsample", [](MultiLabelGBDT::Options& o) { o.colsample = 0.0; }},
        {"colsample", [](MultiLabelGBDT::Options& o) { o.colsample = std::numeric_limits<double>::quiet_NaN(); }},
        {"max_leaves", [](MultiLabelGBDT::Options& o) { o.max_leaves = 1; }},
        {"max_leaves", [](MultiLabelGBDT::Options& o) { o.max_leaves = -2; }},
        {"depthwise", [](MultiLabelGBDT::Options& o) { o.max_depth = 0; }},
        {"max_depth", [](MultiLabelGBDT::Options& o) { o.max_depth = 31; }},
        {"lossguide", [](MultiLabelGBDT::Options& o) {
           o.grow_policy = GrowPolicy::lossguide;
           o.max_depth = 0;
           o.max_leaves = 0;
         }},
        {"lambda", [](MultiLabelGBDT::Options& o) { o.lambda = -1.0; }},
        {"min_child_weight", [](MultiLabelGBDT::Options& o) { o.min_child_weight = std::numeric_limits<double>::quiet_NaN(); }},
        {"min_split_gain", [](MultiLabelGBDT::Options& o) { o.min_split_gain = -0.5; }},
        {"threads", [](MultiLabelGBDT::Options& o) { o.threads = -1; }},
        {"early_stopping_rounds", [](MultiLabelGBDT::Options& o) { o.early_stopping_rounds = -1; }},
        {"max_bin", [](MultiLabelGBDT::Options& o) { o.max_bin = 256; }},
        {"max_bin", [](MultiLabelGBDT::Options& o) { o.max_bin = 1; }},
        {"min_category_count", [](MultiLabelGBDT::Options& o) { o.min_category_count = 0; }},
        {"grow_policy", [](MultiLabelGBDT::Options& o) { o.grow_policy = static_cast<GrowPolicy>(7); }},
        {"mode", [](MultiLabelGBDT::Options& o) { o.mode = static_cast<MultiLabelMode>(7); }},
        {"initial_margin", [](MultiLabelGBDT::Options& o) { o.initial_margin = static_cast<recmix::trees::InitialMargin>(7); }},
    };
    for (const Bad& b : bad) {
      CAPTURE(b.what);
      MultiLabelGBDT::Options o = small_options();
      b.set(o);
      CHECK_THROWS_WITH_AS(MultiLabelGBDT{o}, doctest::Contains(b.what), invalid_argument);
    }
    // The edges that are allowed.
    MultiLabelGBDT::Options o = small_options();
    o.subsample = 1.0;
    o.colsample = 1.0;
    o.lambda = 0.0;
    o.min_child_weight = 0.0;
    o.max_leaves = 2;
    CHECK_NOTHROW(MultiLabelGBDT{o});
    o.grow_policy = GrowPolicy::lossguide;
    o.max_depth = 0;
    CHECK_NOTHROW(MultiLabelGBDT{o});
    o.max_leaves = 0;
    o.max_depth = 3;
    CHECK_NOTHROW(MultiLabelGBDT{o});
  }
}

// ================================================================================================
// ClassifierRecommender
// ================================================================================================

TEST_CASE("classifier recommender: scores are the model's probabilities; recommend drops held items") {
  const RowMatrixXf X = uniform_features(300, 3, 171);
  const RowMatrixXf Y = latent_labels(X, 4, 0.5, 172);
  MultiLabelGBDT model(small_options());
  model.fit(X, Y);
  const ClassifierRecommender rec(model);
  CHECK(rec.is_fitted());
  CHECK(rec.num_items() == 4);
  CHECK(rec.model().num_features() == 3);

  const RowMatrixXf f = uniform_features(6, 3, 173);
  const std::vector<Index> ids = {0, 1, 2, recmix::kNewUser, recmix::kNewUser, 5};
  const UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, f);
  RowMatrixXf scores(6, 4);
  rec.score(batch, scores);
  const RowMatrixXf p = model.predict_proba(f);
  CHECK(bit_identical(scores, p));
  std::vector<std::uint8_t> mask(6, 7);
  rec.can_score(batch, mask);
  CHECK(mask == std::vector<std::uint8_t>(6, 1));

  // Wrong feature width: cannot score, and score() refuses.
  const RowMatrixXf wide = uniform_features(6, 5, 174);
  const UserBatch wrong(ids, nullptr, recmix::HistoryRows::aligned, wide);
  rec.can_score(wrong, mask);
  CHECK(mask == std::vector<std::uint8_t>(6, 0));
  CHECK_THROWS_WITH_AS(rec.score(wrong, scores), doctest::Contains("5 feature columns"), recmix::invalid_argument);
  const UserBatch bare(ids);
  std::fill(mask.begin(), mask.end(), 7);
  rec.can_score(bare, mask);
  CHECK(mask == std::vector<std::uint8_t>(6, 0));
  RowMatrixXf small(6, 3);
  CHECK_THROWS_WITH_AS(rec.score(batch, small), doctest::Contains("output is 6 x 3"), recmix::invalid_argument);
  // Row by row: an Inf makes a row unscorable, a NaN (missing) does not.
  RowMatrixXf odd = f;
  odd(1, 2) = kInf;
  odd(3, 0) = kNaN;
  odd(4, 1) = -kInf;
  const UserBatch odd_batch(ids, nullptr, recmix::HistoryRows::aligned, odd);
  rec.can_score(odd_batch, mask);
  CHECK(mask == std::vector<std::uint8_t>{1, 0, 1, 1, 0, 1});
  std::vector<std::uint8_t> short_mask(5);
  CHECK_THROWS_AS(rec.can_score(batch, short_mask), recmix::invalid_argument);

  // recommend: items by probability, best first; held items dropped by default.
  auto ranking = [&](Index r) {
    std::vector<Index> order(4);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return p(r, a) > p(r, b); });
    return order;
  };
  const recmix::Recommendations all = recmix::recommend(rec, batch, 4);
  for (Index r = 0; r < 6; ++r) {
    CAPTURE(r);
    CHECK(std::vector<Index>(all.row(r).begin(), all.row(r).end()) == ranking(r));
  }
  // Each user holds their best item.
  std::vector<Index> hu, hi;
  std::vector<float> hw;
  for (Index r = 0; r < 6; ++r) {
    hu.push_back(r);
    hi.push_back(ranking(r)[0]);
    hw.push_back(1.0f);
  }
  const recmix::InteractionMatrix history = recmix::InteractionMatrix::from_triplets(6, 4, hu, hi, hw);
  const UserBatch with_history(ids, &history, recmix::HistoryRows::aligned, f);
  const recmix::Recommendations top = recmix::recommend(rec, with_history, 2);
  for (Index r = 0; r < 6; ++r) {
    CAPTURE(r);
    const std::vector<Index> order = ranking(r);
    CHECK(std::vector<Index>(top.row(r).begin(), top.row(r).end()) == std::vector<Index>{order[1], order[2]});
    CHECK(top.scores(r, 0) == p(r, order[1]));
  }
  const recmix::Recommendations kept = recmix::recommend(rec, with_history, 1, {.exclude_history = false});
  for (Index r = 0; r < 6; ++r) CHECK(kept.items(r, 0) == ranking(r)[0]);
  // A batch without features cannot be scored at all.
  CHECK_THROWS_AS((void)recmix::recommend(rec, bare, 2), recmix::invalid_argument);

  // save/load keeps the scores.
  for (const ArchiveFormat format : kFormats) {
    CAPTURE(name_of(format));
    ClassifierRecommender restored;
    CHECK_FALSE(restored.is_fitted());
    load_from_string(restored, save_to_string(rec, format));
    RowMatrixXf again(6, 4);
    restored.score(batch, again);
    CHECK(bit_identical(again, scores));
  }
}

TEST_CASE("classifier recommender: a row it cannot score is padded by recommend, not fatal to the batch") {
  // can_score marks a row holding Inf as unscorable; score() gives it zeros and scores the
  // others, so recommend() pads that row and serves the rest of the batch.
  RowMatrixXf X(40, 2), Y(40, 2);
  for (Index i = 0; i < 40; ++i) {
    X(i, 0) = static_cast<float>(i);
    X(i, 1) = static_cast<float>(i % 3);
    Y(i, 0) = i < 20 ? 1.0f : 0.0f;
    Y(i, 1) = static_cast<float>(i % 2);
  }
  MultiLabelGBDT model(small_options());
  model.fit(X, Y);
  const ClassifierRecommender rec(model);
  RowMatrixXf f(3, 2);
  f << 1.0f, 1.0f, kInf, 0.0f, kNaN, 2.0f;
  const std::vector<Index> ids(3, recmix::kNewUser);
  const UserBatch batch(ids, nullptr, recmix::HistoryRows::aligned, f);
  std::vector<std::uint8_t> mask(3);
  rec.can_score(batch, mask);
  REQUIRE(mask == std::vector<std::uint8_t>{1, 0, 1});
  recmix::Recommendations top;
  REQUIRE_NOTHROW(top = recmix::recommend(rec, batch, 2));
  CHECK(top.row(0).size() == 2);
  CHECK(top.row(1).empty());
  CHECK(top.row(2).size() == 2);
}
