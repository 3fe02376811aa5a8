#pragma once
/// @file
/// MultiLabelGBDT: histogram gradient boosting for L binary labels at once (independent
/// sigmoids, the multi-label log-loss). In `multi_output` mode every round grows ONE tree whose
/// leaves hold L values, from histograms that sum all labels' gradients in one pass; in
/// `one_vs_rest` mode every round grows one single-output tree per label (the classic approach,
/// with the binning and the gradient pass shared).
///
/// @code
/// recmix::trees::MultiLabelGBDT model({.rounds = 100, .max_depth = 6, .categorical_features = {8, 9}});
/// recmix::trees::GBDTReport r = model.fit(X, Y);            // X: n x d floats (NaN = missing), Y: n x L of 0/1
/// recmix::RowMatrixXf p = model.predict_proba(X_test);      // n x L probabilities
/// std::vector<double> importance = model.feature_importance();   // total gain per feature
///
/// recmix::trees::ValidationData valid{X_valid, Y_valid};
/// recmix::trees::MultiLabelGBDT stopped({.rounds = 1000, .early_stopping_rounds = 20});
/// stopped.fit(X, Y, &valid);                                 // keeps the best round
/// @endcode
///
/// Each round: margins -> probabilities p = σ(m) -> gradients g = p - y and hessians
/// h = p(1 - p) per label -> one tree (or one per label) -> margins += leaf values. A split's
/// gain is ½ Σ_l [G_Ll²/(H_Ll+λ) + G_Rl²/(H_Rl+λ) - G_l²/(H_l+λ)], summed over the labels the
/// tree predicts; a leaf's value for label l is -η G_l/(H_l+λ). min_child_weight bounds the
/// mean hessian over those labels, so one label behaves exactly like XGBoost's.
/// The initial margin of label l is the logit of its training prevalence (or 0, see InitialMargin).
///
/// Results are identical for any thread count (see tree_builder.hpp); row and column
/// subsampling depend only on (seed, round, row), so a label trained alone in one_vs_rest mode
/// gets exactly the model it gets among others.

#include <Eigen/Core>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/random.hpp"
#include "recmix/core/serialize_fwd.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"
#include "recmix/trees/binning.hpp"
#include "recmix/trees/tree.hpp"
#include "recmix/trees/tree_builder.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace recmix::trees {

enum class MultiLabelMode {
  /// One tree per round for all labels (vector leaves).
  multi_output,
  /// One single-output tree per label per round: L independent models.
  one_vs_rest,
};

/// Where boosting starts.
enum class InitialMargin {
  /// The logit of each label's training prevalence (XGBoost 2's and LightGBM's default).
  prevalence,
  /// 0, i.e. probability 0.5 (XGBoost 1.7's base_score 0.5): the first rounds see large
  /// hessians, so min_child_weight lets rare labels split early.
  zero,
};

/// A validation set for per-round loss and early stopping (views; the caller keeps them alive).
struct ValidationData {
  Eigen::Ref<const RowMatrixXf> X;
  Eigen::Ref<const RowMatrixXf> Y;
};

/// What a fit did, on top of FitReport (iterations = rounds grown, per-round seconds, loss).
struct GBDTReport : FitReport {
  /// Mean log-loss over all labels and rows after each round.
  std::vector<double> train_loss;
  /// The same on the validation set (empty without one).
  std::vector<double> validation_loss;
  /// Rounds kept: the best validation round + 1 under early stopping (one_vs_rest: the most
  /// over labels), else all rounds grown.
  int best_round = 0;
  /// Rounds kept per label.
  std::vector<int> label_rounds;
  bool stopped_early = false;
  double binning_seconds = 0.0;
};

class MultiLabelGBDT {
 public:
  using scalar_type = float;
  static constexpr const char* kModelKind = "multilabel_gbdt";
  static constexpr unsigned kFormatVersion = 1;

  struct Options {
    int rounds = 100;
    double learning_rate = 0.1;
    /// depthwise: depth of every tree (>= 1). lossguide: a cap, 0 = none.
    int max_depth = 6;
    /// lossguide: leaves per tree (>= 2 unless max_depth caps the tree). depthwise: a cap, 0 = none.
    int max_leaves = 0;
    GrowPolicy grow_policy = GrowPolicy::depthwise;
    /// Each child's mean (over the tree's labels) hessian sum must reach this.
    double min_child_weight = 1.0;
    /// L2 regularisation of leaf values.
    double lambda = 1.0;
    /// A split must reduce the loss by more than this.
    double min_split_gain = 0.0;
    /// Fraction of rows each round uses (0, 1].
    double subsample = 1.0;
    /// Fraction of features each round uses (0, 1].
    double colsample = 1.0;
    std::uint64_t seed = 42;
    /// Bins per numeric feature (2..255), plus one for missing values.
    int max_bin = 255;
    /// Columns of X holding non-negative integer codes.
    std::vector<Index> categorical_features = {};
    /// Categories with fewer training rows are pooled.
    Index min_category_count = 10;
    /// 0 = all cores.
    int threads = 0;
    /// With a validation set: stop when its loss has not improved for this many rounds and
    /// keep the best round (0 = never stop).
    int early_stopping_rounds = 0;
    MultiLabelMode mode = MultiLabelMode::multi_output;
    InitialMargin initial_margin = InitialMargin::prevalence;
  };

  MultiLabelGBDT() = default;
  /// Validates the options; throws recmix::invalid_argument naming the bad one.
  explicit MultiLabelGBDT(const Options& options) : options_(options) { validate_options(options_, "MultiLabelGBDT"); }

  /// Fits on X (n x d; NaN = missing) and Y (n x L of 0/1). The model is replaced only when
  /// the fit succeeds.
  GBDTReport fit(Eigen::Ref<const RowMatrixXf> X, Eigen::Ref<const RowMatrixXf> Y, const ValidationData* validation, FitObserver& observer) {
    constexpr const char* api = "MultiLabelGBDT::fit";
    validate_options(options_, api);
    check_training(X, Y, validation, api);
    if (options_.early_stopping_rounds > 0 && validation == nullptr) {
      throw invalid_argument(std::string(api) + ": early_stopping_rounds = " + std::to_string(options_.early_stopping_rounds) +
                             " needs a validation set");
    }
    const int threads = resolve_threads(options_.threads, api);
    recmix::detail::Stopwatch total;
    GBDTReport report;
    report.threading = threading_description(threads);
    observer.on_begin("MultiLabelGBDT", options_.rounds, report.threading);

    MultiLabelGBDT fresh(options_);
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<Index>(X.cols());
    const auto L = static_cast<Index>(Y.cols());
    fresh.num_labels_ = L;
    {
      fresh.binner_ = FeatureBinner({.max_bin = options_.max_bin,
                                     .min_category_count = options_.min_category_count,
                                     .sample_rows = 1'000'000,
                                     .threads = options_.threads});
      fresh.binner_.fit(X, options_.categorical_features);
    }
    const BinnedMatrix bins = fresh.binner_.transform(X);
    BinnedMatrix valid_bins;
    if (validation != nullptr) valid_bins = fresh.binner_.transform(validation->X);
    report.binning_seconds = total.seconds();
    const Index nv = validation != nullptr ? static_cast<Index>(validation->X.rows()) : 0;

    const bool multi = options_.mode == MultiLabelMode::multi_output;
    const auto Ls = static_cast<std::size_t>(L);
    // Row-major tables: label l of row i at i * L + l; its [g, h] pair at gh[2 * (i * L + l)].
    const xt::xtensor<std::uint8_t, 2> y = label_bytes(Y);
    xt::xtensor<std::uint8_t, 2> vy;
    if (validation != nullptr) vy = label_bytes(validation->Y);
    fresh.base_.resize(Ls);
    {
      std::vector<std::int64_t> positives(Ls, 0);
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        const std::uint8_t* row = y.data() + i * Ls;
        for (std::size_t l = 0; l < Ls; ++l) positives[l] += row[l];
      }
      for (std::size_t l = 0; l < Ls; ++l) {
        const double prev = std::clamp(static_cast<double>(positives[l]) / static_cast<double>(n), 1e-6, 1.0 - 1e-6);
        fresh.base_[l] = options_.initial_margin == InitialMargin::zero ? 0.0F : static_cast<float>(std::log(prev / (1.0 - prev)));
      }
    }
    // Margins: row-major (n x L) for multi_output, label-major (L x n) for one_vs_rest, so a
    // tree's updates touch contiguous memory. Element (i, l) at i * row_stride + l * label_stride.
    const Layout train_layout = multi ? Layout{Ls, 1} : Layout{1, static_cast<std::size_t>(n)};
    const Layout valid_layout = multi ? Layout{Ls, 1} : Layout{1, static_cast<std::size_t>(nv)};
    xt::xtensor<float, 1> margin = xt::xtensor<float, 1>::from_shape({static_cast<std::size_t>(n) * Ls});
    xt::xtensor<float, 1> vmargin = xt::xtensor<float, 1>::from_shape({static_cast<std::size_t>(nv) * Ls});
    for (std::size_t l = 0; l < Ls; ++l) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) margin.data()[train_layout.at(i, l)] = fresh.base_[l];
      for (std::size_t i = 0; i < static_cast<std::size_t>(nv); ++i) vmargin.data()[valid_layout.at(i, l)] = fresh.base_[l];
    }
    // Gradient pairs: by row for multi_output (one row's labels together), by label for
    // one_vs_rest (one label's rows together).
    // (64-byte aligned: a row of 24 labels' pairs is exactly three cache lines.)
    const std::size_t gh_size = static_cast<std::size_t>(n) * 2 * Ls;
    detail::AlignedFloats gh_buffer = detail::aligned_floats(gh_size);
    auto gh = xt::adapt(gh_buffer.get(), gh_size, xt::no_ownership(), std::array<std::size_t, 1>{gh_size});
    const detail::GradientLayout gh_layout = multi ? detail::GradientLayout{2 * Ls, 2} : detail::GradientLayout{2, 2 * static_cast<std::size_t>(n)};

    // The bins again by feature: partitions read one feature of many rows.
    xt::xtensor<std::uint8_t, 2> columns = xt::xtensor<std::uint8_t, 2>::from_shape({static_cast<std::size_t>(d), static_cast<std::size_t>(n)});
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (Index j = 0; j < d; ++j) {
      for (Index i = 0; i < n; ++i) columns(static_cast<std::size_t>(j), static_cast<std::size_t>(i)) = bins(static_cast<std::size_t>(i), static_cast<std::size_t>(j));
    }
    const detail::BinnedView view{bins.data(), columns.data(), static_cast<std::int32_t>(n), static_cast<std::int32_t>(d), fresh.binner_.bin_offsets(),
                                  fresh.binner_.categorical_flags()};
    const detail::TreeParams params{options_.lambda,  options_.min_child_weight, options_.min_split_gain, options_.learning_rate,
                                    options_.max_depth, options_.max_leaves,     options_.grow_policy};
    // multi_output: one builder of width L. one_vs_rest: one width-1 builder per thread, all
    // labels' root histograms from one pass of a width-L builder (the root holds every row).
    const Index groups = multi ? 1 : L;
    const int outer = multi ? 1 : static_cast<int>(std::min<Index>(L, threads));
    std::vector<Worker> workers;
    workers.reserve(static_cast<std::size_t>(outer));
    for (int t = 0; t < outer; ++t) workers.emplace_back(view, params, multi ? static_cast<int>(L) : 1, n);
    std::unique_ptr<detail::TreeBuilder> wide;
    std::vector<float> wide_hist;
    if (!multi) {
      wide = std::make_unique<detail::TreeBuilder>(view, params, static_cast<int>(L));
      wide_hist.assign(wide->histogram_size(), 0.0F);
    }

    struct GroupState {
      double best = std::numeric_limits<double>::infinity();
      int best_round = -1;
      bool stopped = false;
    };
    std::vector<GroupState> state(static_cast<std::size_t>(groups));
    std::vector<std::vector<Tree>> grown(static_cast<std::size_t>(groups));
    std::vector<std::int32_t> sample;
    std::vector<std::uint8_t> in_sample;
    std::vector<std::int32_t> features;
    const double cells = static_cast<double>(n) * static_cast<double>(L);
    const double vcells = static_cast<double>(nv) * static_cast<double>(L);
    int rounds_run = 0;
    // The observer hears of a round once its loss is known.
    IterationInfo info;
    bool pending = false;
    auto emit = [&](double loss) {
      info.loss = loss;
      report.iteration_seconds.push_back(info.seconds);
      report.loss.push_back(info.loss);
      observer.on_iteration(info);
      pending = false;
    };
    for (int r = 0; r < options_.rounds; ++r) {
      recmix::detail::Stopwatch round_watch;
      round_rows(n, r, sample, in_sample);
      round_features(d, r, features);
      std::vector<Index> active;
      for (Index g = 0; g < groups; ++g) {
        if (!state[static_cast<std::size_t>(g)].stopped) active.push_back(g);
      }
      // Gradients of every label; the loss measured here is the state after the last round.
      const std::vector<double> train_sums = margin_pass(margin.data(), train_layout, y.data(), gh.data(), gh_layout, n, L, threads);
      if (r > 0) {
        report.train_loss.push_back(std::accumulate(train_sums.begin(), train_sums.end(), 0.0) / cells);
        if (pending) emit(report.train_loss.back());
      }
      std::vector<Tree> new_trees(static_cast<std::size_t>(groups));
      // Grows group g's tree from the sample's rows and adds it to the margins.
      auto grow = [&](Index g, Worker& wk, int inner, const float* root) {
        std::copy(sample.begin(), sample.end(), wk.rows.begin());
        std::span<std::int32_t> rows(wk.rows.data(), sample.size());
        const Index lb = multi ? 0 : g;
        const float* grad = gh.data() + static_cast<std::size_t>(lb) * gh_layout.label_stride;
        Tree tree = wk.builder.build(rows, grad, gh_layout, features, static_cast<std::int32_t>(lb), r, inner, wk.leaves, root);
        float* m = margin.data() + train_layout.at(0, static_cast<std::size_t>(lb));
        apply_leaves(tree, rows, wk.leaves, m, train_layout.row_stride, inner);
        if (!in_sample.empty()) apply_tree(tree, bins.data(), d, m, train_layout.row_stride, n, inner, in_sample.data());
        if (nv > 0) {
          apply_tree(tree, valid_bins.data(), d, vmargin.data() + valid_layout.at(0, static_cast<std::size_t>(lb)), valid_layout.row_stride, nv, inner,
                     nullptr);
        }
        new_trees[static_cast<std::size_t>(g)] = std::move(tree);
      };
      if (multi) {
        grow(0, workers[0], threads, nullptr);
      } else {
        wide->histogram(sample, gh.data(), gh_layout, features, threads, wide_hist.data());
        recmix::detail::ParallelErrors errors;
        const auto na = static_cast<Index>(active.size());
        const auto offsets = fresh.binner_.bin_offsets();
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
#endif
        for (Index k = 0; k < na; ++k) {
          int t = 0;
#ifdef _OPENMP
          t = omp_get_thread_num();
#endif
          errors.run([&] {
            const Index l = active[static_cast<std::size_t>(k)];
            Worker& wk = workers[static_cast<std::size_t>(t)];
            // Label l's root histogram: its [g, h] lanes of the wide one.
            for (std::int32_t f : features) {
              for (std::int32_t bin = offsets[static_cast<std::size_t>(f)]; bin < offsets[static_cast<std::size_t>(f) + 1]; ++bin) {
                const float* src = wide_hist.data() + static_cast<std::size_t>(bin) * 2 * Ls + 2 * static_cast<std::size_t>(l);
                wk.root[2 * static_cast<std::size_t>(bin)] = src[0];
                wk.root[2 * static_cast<std::size_t>(bin) + 1] = src[1];
              }
            }
            grow(l, wk, 1, wk.root.data());
          });
        }
        errors.rethrow();
      }
      for (Index g : active) grown[static_cast<std::size_t>(g)].push_back(std::move(new_trees[static_cast<std::size_t>(g)]));
      if (nv > 0) {
        const std::vector<double> valid_sums = margin_pass(vmargin.data(), valid_layout, vy.data(), nullptr, {}, nv, L, threads);
        report.validation_loss.push_back(std::accumulate(valid_sums.begin(), valid_sums.end(), 0.0) / vcells);
        for (Index g : active) {
          GroupState& st = state[static_cast<std::size_t>(g)];
          const double loss = multi ? std::accumulate(valid_sums.begin(), valid_sums.end(), 0.0) : valid_sums[static_cast<std::size_t>(g)];
          if (loss < st.best) {
            st.best = loss;
            st.best_round = r;
          } else if (options_.early_stopping_rounds > 0 && r - st.best_round >= options_.early_stopping_rounds) {
            st.stopped = true;
          }
        }
      }
      ++rounds_run;
      info.iteration = r + 1;
      info.total = options_.rounds;
      info.seconds = round_watch.seconds();
      info.elapsed_seconds = total.seconds();
      pending = true;
      // With a validation set the round's loss is known now; without one, the training loss
      // after this round comes from the next round's gradient pass (or the final pass).
      if (nv > 0) emit(report.validation_loss.back());
      bool all_stopped = true;
      for (const auto& st : state) all_stopped = all_stopped && st.stopped;
      if (all_stopped) break;
    }
    // The training loss after the last round.
    {
      const std::vector<double> sums = margin_pass(margin.data(), train_layout, y.data(), nullptr, {}, n, L, threads);
      report.train_loss.push_back(std::accumulate(sums.begin(), sums.end(), 0.0) / cells);
      if (pending) emit(report.train_loss.back());
    }
    // Keep each group's best round under early stopping.
    const Index width = multi ? L : 1;
    report.label_rounds.assign(Ls, 0);
    for (Index g = 0; g < groups; ++g) {
      auto& trees = grown[static_cast<std::size_t>(g)];
      int keep = static_cast<int>(trees.size());
      if (nv > 0 && options_.early_stopping_rounds > 0) {
        keep = state[static_cast<std::size_t>(g)].best_round + 1;
        if (state[static_cast<std::size_t>(g)].stopped) report.stopped_early = true;
      }
      trees.resize(static_cast<std::size_t>(keep));
      for (Index w = 0; w < width; ++w) report.label_rounds[static_cast<std::size_t>(g * width + w)] = keep;
      report.best_round = std::max(report.best_round, keep);
    }
    // Trees in round order, then label order (the order every prediction sums them in).
    for (int r = 0; r < rounds_run; ++r) {
      for (Index g = 0; g < groups; ++g) {
        auto& trees = grown[static_cast<std::size_t>(g)];
        if (static_cast<std::size_t>(r) < trees.size()) fresh.trees_.push_back(std::move(trees[static_cast<std::size_t>(r)]));
      }
    }
    report.iterations = rounds_run;
    report.seconds = total.seconds();
    *this = std::move(fresh);
    observer.on_end(report);
    return report;
  }

  GBDTReport fit(Eigen::Ref<const RowMatrixXf> X, Eigen::Ref<const RowMatrixXf> Y, const ValidationData* validation = nullptr) {
    NullObserver none;
    return fit(X, Y, validation, none);
  }
  GBDTReport fit(Eigen::Ref<const RowMatrixXf> X, Eigen::Ref<const RowMatrixXf> Y, const ValidationData* validation, FitObserver&& observer) {
    return fit(X, Y, validation, observer);
  }

  /// Raw scores (log-odds), n x L.
  [[nodiscard]] RowMatrixXf predict_margin(Eigen::Ref<const RowMatrixXf> X) const {
    RowMatrixXf out(X.rows(), num_labels_);
    predict_into(X, out, false, "MultiLabelGBDT::predict_margin");
    return out;
  }
  /// Probabilities, n x L.
  [[nodiscard]] RowMatrixXf predict_proba(Eigen::Ref<const RowMatrixXf> X) const {
    RowMatrixXf out(X.rows(), num_labels_);
    predict_into(X, out, true, "MultiLabelGBDT::predict_proba");
    return out;
  }
  /// Probabilities written into `out` (X.rows() x num_labels()).
  void predict_proba(Eigen::Ref<const RowMatrixXf> X, Eigen::Ref<RowMatrixXf> out) const { predict_into(X, out, true, "MultiLabelGBDT::predict_proba"); }

  /// Total split gain per feature over all trees.
  [[nodiscard]] std::vector<double> feature_importance() const {
    require_fitted("MultiLabelGBDT::feature_importance");
    std::vector<double> imp(static_cast<std::size_t>(num_features()), 0.0);
    for (const Tree& t : trees_) {
      for (const TreeNode& nd : t.nodes()) {
        if (!nd.is_leaf()) imp[static_cast<std::size_t>(nd.feature)] += nd.gain;
      }
    }
    return imp;
  }

  [[nodiscard]] bool is_fitted() const noexcept { return binner_.is_fitted() && num_labels_ > 0; }
  [[nodiscard]] Index num_labels() const noexcept { return num_labels_; }
  [[nodiscard]] Index num_features() const noexcept { return binner_.num_features(); }
  [[nodiscard]] const std::vector<Tree>& trees() const noexcept { return trees_; }
  [[nodiscard]] const FeatureBinner& binner() const noexcept { return binner_; }
  /// Initial margin per label (logit of the training prevalence).
  [[nodiscard]] const std::vector<float>& base_margin() const noexcept { return base_; }
  [[nodiscard]] const Options& options() const noexcept { return options_; }

  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    using recmix::detail::archive_field;
    archive_field(ar, "rounds", options_.rounds);
    archive_field(ar, "learning_rate", options_.learning_rate);
    archive_field(ar, "max_depth", options_.max_depth);
    archive_field(ar, "max_leaves", options_.max_leaves);
    archive_field(ar, "grow_policy", options_.grow_policy);
    archive_field(ar, "min_child_weight", options_.min_child_weight);
    archive_field(ar, "lambda", options_.lambda);
    archive_field(ar, "min_split_gain", options_.min_split_gain);
    archive_field(ar, "subsample", options_.subsample);
    archive_field(ar, "colsample", options_.colsample);
    archive_field(ar, "seed", options_.seed);
    archive_field(ar, "max_bin", options_.max_bin);
    archive_field(ar, "categorical_features", options_.categorical_features);
    archive_field(ar, "min_category_count", options_.min_category_count);
    archive_field(ar, "threads", options_.threads);
    archive_field(ar, "early_stopping_rounds", options_.early_stopping_rounds);
    archive_field(ar, "mode", options_.mode);
    archive_field(ar, "initial_margin", options_.initial_margin);
    archive_field(ar, "num_labels", num_labels_);
    archive_field(ar, "base_margin", base_);
    archive_field(ar, "binner", binner_);
    archive_field(ar, "trees", trees_);
  }

  /// Called by recmix::load: checks everything loaded (throws model_format_error).
  void on_loaded() {
    try {
      validate_options(options_, "MultiLabelGBDT::load");
    } catch (const invalid_argument& e) {
      throw model_format_error(e.what());
    }
    binner_.on_loaded();
    if (num_labels_ < 1 || base_.size() != static_cast<std::size_t>(num_labels_)) {
      throw model_format_error("MultiLabelGBDT::load: " + std::to_string(base_.size()) + " base margins for " + std::to_string(num_labels_) + " labels");
    }
    for (float b : base_) {
      if (!std::isfinite(b)) throw model_format_error("MultiLabelGBDT::load: a base margin is not finite");
    }
    const auto d = static_cast<std::int32_t>(binner_.num_features());
    const bool multi = options_.mode == MultiLabelMode::multi_output;
    for (std::size_t t = 0; t < trees_.size(); ++t) {
      const std::string where = "MultiLabelGBDT::load: tree " + std::to_string(t);
      trees_[t].check(d, static_cast<std::int32_t>(num_labels_), [&](std::int32_t f) { return binner_.num_bins(f); }, where);
      trees_[t].finalize();
      if (trees_[t].width() != (multi ? num_labels_ : 1)) throw model_format_error(where + ": width does not match the mode");
      for (const TreeNode& nd : trees_[t].nodes()) {
        if (!nd.is_leaf() && (nd.categorical != 0) != binner_.is_categorical(nd.feature)) {
          throw model_format_error(where + ": split kind does not match feature " + std::to_string(nd.feature));
        }
      }
    }
  }

 private:
  static constexpr Index kLossBlock = 8192;  // rows per deterministic partial loss sum
  static constexpr Index kChunk = 256;       // rows per vectorised gradient chunk
  static constexpr std::size_t kParallelRows = 32768;  // fewer rows: one thread

  /// Where element (row i, label l) of a margin table lives.
  struct Layout {
    std::size_t row_stride;
    std::size_t label_stride;
    [[nodiscard]] std::size_t at(std::size_t i, std::size_t l) const noexcept { return i * row_stride + l * label_stride; }
  };

  struct Worker {
    Worker(const detail::BinnedView& view, const detail::TreeParams& params, int width, Index n)
        : builder(view, params, width), rows(static_cast<std::size_t>(n)), root(width == 1 ? builder.histogram_size() : 0) {}
    detail::TreeBuilder builder;
    std::vector<std::int32_t> rows;
    std::vector<detail::LeafRows> leaves;
    std::vector<float> root;  // one_vs_rest: this label's root histogram
  };


  template <class State>
  static double sum_state(const std::vector<State>& s, double State::*field) {
    double t = 0.0;
    for (const auto& x : s) t += x.*field;
    return t;
  }

  /// Rows used in round r: all, or those with hash_uniform(seed, round, row) < subsample.
  void round_rows(Index n, int r, std::vector<std::int32_t>& rows, std::vector<std::uint8_t>& in_sample) const {
    rows.clear();
    in_sample.clear();
    if (options_.subsample >= 1.0) {
      rows.resize(static_cast<std::size_t>(n));
      std::iota(rows.begin(), rows.end(), 0);
      return;
    }
    in_sample.assign(static_cast<std::size_t>(n), 0);
    const std::uint64_t seed = options_.seed ^ (0x5851F42D4C957F2DULL * (static_cast<std::uint64_t>(r) + 1));
    for (Index i = 0; i < n; ++i) {
      if (hash_uniform(seed, static_cast<std::uint64_t>(i)) < options_.subsample) {
        rows.push_back(i);
        in_sample[static_cast<std::size_t>(i)] = 1;
      }
    }
    if (rows.empty()) {  // tiny data: never grow a tree from no rows
      rows.push_back(0);
      in_sample[0] = 1;
    }
  }

  /// Features used in round r (sorted).
  void round_features(Index d, int r, std::vector<std::int32_t>& features) const {
    features.resize(static_cast<std::size_t>(d));
    std::iota(features.begin(), features.end(), 0);
    if (options_.colsample >= 1.0) return;
    const auto keep = std::clamp<Index>(static_cast<Index>(std::lround(options_.colsample * static_cast<double>(d))), 1, d);
    Rng rng(options_.seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(r) + 1));
    for (Index k = 0; k < keep; ++k) {
      const auto j = k + static_cast<Index>(rng.below(static_cast<std::uint64_t>(d - k)));
      std::swap(features[static_cast<std::size_t>(k)], features[static_cast<std::size_t>(j)]);
    }
    features.resize(static_cast<std::size_t>(keep));
    std::sort(features.begin(), features.end());
  }

  /// Log-loss of the margins m (n x L) against labels y, summed per label; with gh, also
  /// the [g, h] pairs (n x 2L). Sums per fixed block of rows, added in block order.
  static std::vector<double> margin_pass(const float* m, const Layout& layout, const std::uint8_t* y, float* gh, detail::GradientLayout gl, Index n,
                                         Index L, int threads) {
    const Index blocks = (n + kLossBlock - 1) / kLossBlock;
    const auto Ls = static_cast<std::size_t>(L);
    std::vector<double> part(static_cast<std::size_t>(blocks) * Ls, 0.0);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1 && blocks > 3)
#endif
    {
      const auto chunk = static_cast<Eigen::Index>(kChunk * L);
      Eigen::ArrayXf Mc(chunk), Yf(chunk), E(chunk), P(chunk), Lo(chunk), H(chunk);
      std::vector<float> label_sum(Ls);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
      for (Index b = 0; b < blocks; ++b) {
        double* acc = part.data() + static_cast<std::size_t>(b) * Ls;
        const Index end = std::min(n, (b + 1) * kLossBlock);
        for (Index i0 = b * kLossBlock; i0 < end; i0 += kChunk) {
          const Index rows = std::min(kChunk, end - i0);
          const Eigen::Index cnt = static_cast<Eigen::Index>(rows) * L;
          const std::size_t off = static_cast<std::size_t>(i0) * Ls;
          auto mc = Mc.head(cnt);
          auto yf = Yf.head(cnt);
          auto e = E.head(cnt);
          auto p = P.head(cnt);
          auto lo = Lo.head(cnt);
          if (layout.label_stride == 1) {
            mc = Eigen::Map<const Eigen::ArrayXf>(m + off, cnt);
          } else {
            for (Index r = 0; r < rows; ++r) {
              for (std::size_t l = 0; l < Ls; ++l) Mc[static_cast<Eigen::Index>(static_cast<std::size_t>(r) * Ls + l)] = m[layout.at(static_cast<std::size_t>(i0 + r), l)];
            }
          }
          mc = mc.max(-30.0F).min(30.0F);
          yf = Eigen::Map<const Eigen::Array<std::uint8_t, Eigen::Dynamic, 1>>(y + off, cnt).cast<float>();
          e = (-mc).exp();             // exp(-m)
          p = (e + 1.0F).inverse();    // σ(m)
          lo = e.log1p() + (1.0F - yf) * mc;  // -log σ(m) = log1p(e); -log(1 - σ(m)) = log1p(e) + m
          std::fill(label_sum.begin(), label_sum.end(), 0.0F);
          for (Index r = 0; r < rows; ++r) {
            const float* lr = Lo.data() + static_cast<std::ptrdiff_t>(r) * L;
            for (std::size_t l = 0; l < Ls; ++l) label_sum[l] += lr[l];
          }
          for (std::size_t l = 0; l < Ls; ++l) acc[l] += static_cast<double>(label_sum[l]);
          if (gh != nullptr) {
            auto h = H.head(cnt);
            h = (p * (1.0F - p)).max(1e-16F);
            p -= yf;  // now the gradient
            if (gl.label_stride == 2) {
              float* out = gh + static_cast<std::size_t>(i0) * gl.row_stride;
              for (Eigen::Index k = 0; k < cnt; ++k) {
                out[2 * k] = P[k];
                out[2 * k + 1] = H[k];
              }
            } else {
              for (std::size_t l = 0; l < Ls; ++l) {
                float* out = gh + l * gl.label_stride + static_cast<std::size_t>(i0) * gl.row_stride;
                for (Index r = 0; r < rows; ++r) {
                  const auto k = static_cast<Eigen::Index>(static_cast<std::size_t>(r) * Ls + l);
                  out[static_cast<std::size_t>(r) * gl.row_stride] = P[k];
                  out[static_cast<std::size_t>(r) * gl.row_stride + 1] = H[k];
                }
              }
            }
          }
        }
      }
    }
    (void)threads;
    std::vector<double> sums(Ls, 0.0);
    for (Index b = 0; b < blocks; ++b) {
      for (std::size_t l = 0; l < Ls; ++l) sums[l] += part[static_cast<std::size_t>(b) * Ls + l];
    }
    return sums;
  }

  /// margins of each leaf's rows += the leaf's values (row i's first label at m + i * stride).
  static void apply_leaves(const Tree& tree, std::span<const std::int32_t> rows, const std::vector<detail::LeafRows>& leaves, float* m,
                           std::size_t stride, int threads) {
    const auto nl = static_cast<std::int64_t>(leaves.size());
    const float* values = tree.leaf_values().data();
    const std::int32_t W = tree.width();
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && rows.size() >= kParallelRows)
#endif
    for (std::int64_t k = 0; k < nl; ++k) {
      const detail::LeafRows& lr = leaves[static_cast<std::size_t>(k)];
      const float* v = values + lr.value;
      for (std::int32_t j = lr.begin; j < lr.end; ++j) {
        float* dst = m + static_cast<std::size_t>(rows[static_cast<std::size_t>(j)]) * stride;
        for (std::int32_t w = 0; w < W; ++w) dst[w] += v[w];
      }
    }
    (void)threads;
  }

  /// margins of rows (all, or those with skip[i] == 0) += the tree's leaf values.
  static void apply_tree(const Tree& tree, const std::uint8_t* bins, Index d, float* m, std::size_t stride, Index n, int threads,
                         const std::uint8_t* skip) {
    const std::int32_t W = tree.width();
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1024) num_threads(threads) if (threads > 1 && static_cast<std::size_t>(n) >= kParallelRows)
#endif
    for (Index i = 0; i < n; ++i) {
      if (skip != nullptr && skip[i] != 0) continue;
      const float* v = tree.leaf_for(bins + static_cast<std::size_t>(i) * static_cast<std::size_t>(d));
      float* dst = m + static_cast<std::size_t>(i) * stride;
      for (std::int32_t w = 0; w < W; ++w) dst[w] += v[w];
    }
    (void)threads;
  }

  void predict_into(const Eigen::Ref<const RowMatrixXf>& X, Eigen::Ref<RowMatrixXf> out, bool proba, const char* api) const {
    require_fitted(api);
    if (X.cols() != num_features()) {
      throw invalid_argument(std::string(api) + ": X has " + std::to_string(X.cols()) + " columns but the model was fitted on " +
                             std::to_string(num_features()));
    }
    if (out.rows() != X.rows() || out.cols() != num_labels_) {
      throw invalid_argument(std::string(api) + ": output is " + std::to_string(out.rows()) + " x " + std::to_string(out.cols()) + ", expected " +
                             std::to_string(X.rows()) + " x " + std::to_string(num_labels_));
    }
    const BinnedMatrix bins = binner_.transform(X);
    const auto n = static_cast<Index>(X.rows());
    const auto d = static_cast<std::size_t>(num_features());
    const int threads = resolve_threads(options_.threads, api);
    constexpr Index kRows = 1024;  // rows per block: every tree is read once per block
    const Index blocks = (n + kRows - 1) / kRows;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (blocks > 1)
#endif
    for (Index b = 0; b < blocks; ++b) {
      const Index i0 = b * kRows, i1 = std::min(n, i0 + kRows);
      for (Index i = i0; i < i1; ++i) {
        for (Index l = 0; l < num_labels_; ++l) out(i, l) = base_[static_cast<std::size_t>(l)];
      }
      constexpr Index kLockstep = 8;
      const float* leaf[kLockstep];
      for (const Tree& t : trees_) {
        const std::int32_t lb = t.label_begin(), w = t.width();
        Index i = i0;
        for (; i + kLockstep <= i1; i += kLockstep) {
          t.leaves_for<kLockstep>(bins.data() + static_cast<std::size_t>(i) * d, d, leaf);
          for (Index j = 0; j < kLockstep; ++j) {
            float* dst = out.data() + static_cast<std::ptrdiff_t>(i + j) * out.outerStride() + lb;
            for (std::int32_t k = 0; k < w; ++k) dst[k] += leaf[j][k];
          }
        }
        for (; i < i1; ++i) {
          const float* v = t.leaf_for(bins.data() + static_cast<std::size_t>(i) * d);
          float* dst = out.data() + static_cast<std::ptrdiff_t>(i) * out.outerStride() + lb;
          for (std::int32_t k = 0; k < w; ++k) dst[k] += v[k];
        }
      }
      if (proba) {
        for (Index i = i0; i < i1; ++i) {
          auto row = out.row(i).array();
          row = ((-row).exp() + 1.0F).inverse();
        }
      }
    }
    (void)threads;
  }

  void require_fitted(const char* api) const {
    if (!is_fitted()) throw not_fitted(std::string(api) + ": the model is not fitted");
  }

  static xt::xtensor<std::uint8_t, 2> label_bytes(const Eigen::Ref<const RowMatrixXf>& Y) {
    xt::xtensor<std::uint8_t, 2> y = xt::xtensor<std::uint8_t, 2>::from_shape({static_cast<std::size_t>(Y.rows()), static_cast<std::size_t>(Y.cols())});
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
      for (Eigen::Index l = 0; l < Y.cols(); ++l) y(static_cast<std::size_t>(i), static_cast<std::size_t>(l)) = Y(i, l) != 0.0F ? 1 : 0;
    }
    return y;
  }

  static void check_labels(const Eigen::Ref<const RowMatrixXf>& Y, const char* api, const char* what) {
    for (Eigen::Index i = 0; i < Y.rows(); ++i) {
      for (Eigen::Index l = 0; l < Y.cols(); ++l) {
        const float v = Y(i, l);
        if (v == 0.0F || v == 1.0F) continue;
        const std::string where = std::string(what) + " row " + std::to_string(i) + ", label " + std::to_string(l);
        if (std::isnan(v)) throw invalid_argument(std::string(api) + ": NaN label at " + where);
        throw invalid_argument(std::string(api) + ": label " + std::to_string(v) + " at " + where + " is not 0 or 1");
      }
    }
  }

  static void check_training(const Eigen::Ref<const RowMatrixXf>& X, const Eigen::Ref<const RowMatrixXf>& Y, const ValidationData* v, const char* api) {
    if (X.rows() < 1 || X.cols() < 1) throw invalid_argument(std::string(api) + ": X is empty (" + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ")");
    if (Y.cols() < 1) throw invalid_argument(std::string(api) + ": Y has no labels");
    if (Y.cols() > 65535) throw invalid_argument(std::string(api) + ": more than 65535 labels");
    if (Y.rows() != X.rows()) throw invalid_argument(std::string(api) + ": X has " + std::to_string(X.rows()) + " rows but Y has " + std::to_string(Y.rows()));
    if (X.rows() > std::numeric_limits<std::int32_t>::max() / 2) throw invalid_argument(std::string(api) + ": too many rows");
    check_labels(Y, api, "training");
    if (v != nullptr) {
      if (v->X.rows() < 1) throw invalid_argument(std::string(api) + ": the validation set is empty");
      if (v->X.cols() != X.cols()) throw invalid_argument(std::string(api) + ": validation X has " + std::to_string(v->X.cols()) + " columns, X has " + std::to_string(X.cols()));
      if (v->Y.cols() != Y.cols()) throw invalid_argument(std::string(api) + ": validation Y has " + std::to_string(v->Y.cols()) + " labels, Y has " + std::to_string(Y.cols()));
      if (v->Y.rows() != v->X.rows()) throw invalid_argument(std::string(api) + ": validation X and Y row counts differ");
      check_labels(v->Y, api, "validation");
    }
  }

  static void validate_options(const Options& o, const char* api) {
    auto bad = [&](const std::string& what) { return invalid_argument(std::string(api) + ": " + what); };
    auto finite_nonneg = [](double x) { return std::isfinite(x) && x >= 0.0; };
    if (o.rounds < 1 || o.rounds > 1'000'000) throw bad("rounds must be in [1, 1000000], got " + std::to_string(o.rounds));
    if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)) throw bad("learning_rate must be finite and > 0");
    if (o.max_depth < 0 || o.max_depth > 30) throw bad("max_depth must be in [0, 30], got " + std::to_string(o.max_depth));
    if (o.max_leaves < 0 || o.max_leaves > 1'000'000) throw bad("max_leaves must be in [0, 1000000], got " + std::to_string(o.max_leaves));
    if (o.max_leaves == 1) throw bad("max_leaves = 1 would grow no tree; use 0 (no cap) or >= 2");
    if (o.grow_policy == GrowPolicy::depthwise && o.max_depth < 1) throw bad("depthwise growth needs max_depth >= 1");
    if (o.grow_policy == GrowPolicy::lossguide && o.max_leaves == 0 && o.max_depth == 0) throw bad("lossguide growth needs max_leaves or max_depth");
    if (o.grow_policy != GrowPolicy::depthwise && o.grow_policy != GrowPolicy::lossguide) throw bad("unknown grow_policy");
    if (!finite_nonneg(o.min_child_weight)) throw bad("min_child_weight must be finite and >= 0");
    if (!finite_nonneg(o.lambda)) throw bad("lambda must be finite and >= 0");
    if (!finite_nonneg(o.min_split_gain)) throw bad("min_split_gain must be finite and >= 0");
    if (!(o.subsample > 0.0 && o.subsample <= 1.0)) throw bad("subsample must be in (0, 1]");
    if (!(o.colsample > 0.0 && o.colsample <= 1.0)) throw bad("colsample must be in (0, 1]");
    if (o.max_bin < 2 || o.max_bin > 255) throw bad("max_bin must be in [2, 255], got " + std::to_string(o.max_bin));
    if (o.min_category_count < 1) throw bad("min_category_count must be >= 1");
    if (o.threads < 0 || o.threads > 1024) throw bad("threads must be in [0, 1024], got " + std::to_string(o.threads));
    if (o.early_stopping_rounds < 0) throw bad("early_stopping_rounds must be >= 0");
    if (o.mode != MultiLabelMode::multi_output && o.mode != MultiLabelMode::one_vs_rest) throw bad("unknown mode");
    if (o.initial_margin != InitialMargin::prevalence && o.initial_margin != InitialMargin::zero) throw bad("unknown initial_margin");
  }

  Options options_;
  FeatureBinner binner_;
  Index num_labels_ = 0;
  std::vector<float> base_;
  std::vector<Tree> trees_;
};

}  // namespace recmix::trees
