// recmix-gbdt-bench: whole-process timing and quality of recmix::trees::MultiLabelGBDT on a
// multi-label CSV problem (recmix-make-multilabel writes one).
//
//   recmix-gbdt-bench --train TRAIN.csv --test TEST.csv [--mode multi_output|one_vs_rest]
//                     [--rounds 100] [--max-depth 6] [--learning-rate 0.1] [--max-bin 255]
//                     [--threads 2] [--seed 42] [--grow-policy depthwise|lossguide]
//                     [--max-leaves 0] [--min-child-weight 1] [--lambda 1] [--initial-margin prevalence|zero]
//                     [--categorical names|none] [--predictions-out P.csv]
//
// Columns are chosen by their header names: y... are the 0/1 labels, every other column is a
// feature in file order; c... features are categorical (Options::categorical_features), the
// rest continuous; an empty field (or NA / nan) is a missing value (NaN). The test file must
// have the same columns. --categorical none treats the c... codes as plain numbers instead
// (what the XGBoost anchor does), for a like-for-like comparison of the tree growing.
//
// Memory: each file is read in two passes — its lines are counted, then its records parse
// straight into X (n x features, row-major float) and Y (n x labels, float 0/1) — so no
// intermediate table is held. The training X and Y are freed after fit, before the test file is
// read.
//
// Prints one JSON line on stdout:
//   train_seconds     the whole MultiLabelGBDT::fit call, binning included
//   binning_seconds   the binning part of it (GBDTReport::binning_seconds)
//   predict_seconds   predict_proba on the test rows (binning the test features included)
//   mean_auc          mean over labels of the test ROC AUC, over the labels with both classes
//                     in the test rows: recmix::metrics::roc_auc's per-label values and macro
//                     mean (exact Mann-Whitney AUC, ties as mid-ranks; a single-class label is
//                     NaN and left out of the macro mean)
//   mean_logloss      mean over labels of the per-label mean binary log-loss:
//                     recmix::metrics::log_loss's macro mean (probabilities clipped to
//                     [1e-15, 1 - 1e-15], its default eps)
//   rare_auc          mean test AUC of the 12 labels with the lowest TRAIN prevalence (equal
//                     prevalences: the lower label index first), over those that have one
//   ndcg_at_3, map_at_7  recmix::metrics::evaluate_scores with the test probabilities as the
//                     scores of 24 "items" per row and the positive labels as the relevant items
//                     (binary gains). Its RankingOptions defaults are the conventions wanted:
//                     higher score first, ties to the lower label index (TopK's rule); NDCG's
//                     ideal DCG over min(k, #positives) ranks (IdealDcg::relevant_in_k); AP
//                     divided by min(k, #positives) (ApDivisor::min_k_relevant); linear gains;
//                     the mean over rows with at least one positive (UserAveraging::with_relevant).
//   peak_rss_mb       peak resident memory of the whole process (getrusage, MiB)
// and: mode, rounds, max_depth, learning_rate, max_bin, threads, seed, train_rows, test_rows,
// features, categorical, labels, load_seconds (both files), peak_rss_load_mb (after reading
// the training file), peak_rss_fit_mb (after fit), train_cpu_utilization (CPU seconds of fit /
// (wall x threads): well below 1 when other processes took the cores), iterations,
// best_round, final_train_loss, rare_labels, per_label_auc, threading.
// benchmarks/anchors/xgboost_multilabel.py prints the same metrics for XGBoost one-vs-rest.
// --predictions-out writes the test probabilities (header y..., untimed, after the JSON line).
// Progress goes to stderr. Exit status: 0 ok, 1 unreadable data or a failed fit, 2 bad arguments.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/csv.hpp>
#include <recmix/metrics/classification.hpp>
#include <recmix/metrics/evaluate.hpp>
#include <recmix/metrics/ranking.hpp>
#include <recmix/trees/multilabel_gbdt.hpp>

#include "driver_support.hpp"

using recmix::bench::cpu_seconds;
using recmix::bench::JsonLine;
using recmix::bench::peak_rss_mb;
using recmix::bench::seconds_since;

namespace {

constexpr const char* kUsage =
    "usage: recmix-gbdt-bench --train TRAIN.csv --test TEST.csv [--mode multi_output|one_vs_rest]\n"
    "                         [--rounds 100] [--max-depth 6] [--learning-rate 0.1] [--max-bin 255]\n"
    "                         [--threads 2] [--seed 42] [--grow-policy depthwise|lossguide]\n"
    "                         [--max-leaves 0] [--min-child-weight 1] [--lambda 1]\n"
    "                         [--initial-margin prevalence|zero]\n"
    "                         [--categorical names|none] [--predictions-out P.csv]\n";

constexpr int kRareLabels = 12;

struct Args {
  std::string train, test, predictions_out;
  std::string mode = "multi_output";
  std::string grow_policy = "depthwise";
  std::string categorical = "names";
  std::string initial_margin = "prevalence";
  int rounds = 100;
  int max_depth = 6;
  int max_leaves = 0;
  double learning_rate = 0.1;
  double min_child_weight = 1.0;
  double lambda = 1.0;
  int max_bin = 255;
  int threads = 2;
  std::uint64_t seed = 42;
};

[[noreturn]] void usage_error(const std::string& message) { recmix::bench::usage_error("recmix-gbdt-bench", kUsage, message); }

template <class T>
T parse_value(std::string_view option, std::string_view text) {
  return recmix::bench::parse_value<T>(option, text, usage_error);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (!arg.starts_with("--")) usage_error("unexpected argument '" + std::string(arg) + "'");
    std::string_view value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--train") {
      a.train = std::string(value);
    } else if (arg == "--test") {
      a.test = std::string(value);
    } else if (arg == "--predictions-out") {
      a.predictions_out = std::string(value);
    } else if (arg == "--mode") {
      a.mode = std::string(value);
    } else if (arg == "--categorical") {
      a.categorical = std::string(value);
    } else if (arg == "--initial-margin") {
      a.initial_margin = std::string(value);
    } else if (arg == "--grow-policy") {
      a.grow_policy = std::string(value);
    } else if (arg == "--rounds") {
      a.rounds = parse_value<int>(arg, value);
    } else if (arg == "--max-depth") {
      a.max_depth = parse_value<int>(arg, value);
    } else if (arg == "--max-leaves") {
      a.max_leaves = parse_value<int>(arg, value);
    } else if (arg == "--learning-rate") {
      a.learning_rate = parse_value<double>(arg, value);
    } else if (arg == "--min-child-weight") {
      a.min_child_weight = parse_value<double>(arg, value);
    } else if (arg == "--lambda") {
      a.lambda = parse_value<double>(arg, value);
    } else if (arg == "--max-bin") {
      a.max_bin = parse_value<int>(arg, value);
    } else if (arg == "--threads") {
      a.threads = parse_value<int>(arg, value);
    } else if (arg == "--seed") {
      a.seed = parse_value<std::uint64_t>(arg, value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (a.train.empty() || a.test.empty()) usage_error("--train and --test are required");
  if (a.mode != "multi_output" && a.mode != "one_vs_rest") usage_error("--mode must be multi_output or one_vs_rest");
  if (a.categorical != "names" && a.categorical != "none") usage_error("--categorical must be names or none");
  if (a.grow_policy != "depthwise" && a.grow_policy != "lossguide") usage_error("--grow-policy must be depthwise or lossguide");
  if (a.initial_margin != "prevalence" && a.initial_margin != "zero") usage_error("--initial-margin must be prevalence or zero");
  if (a.rounds < 1) usage_error("--rounds must be >= 1");
  if (a.max_depth < 0) usage_error("--max-depth must be >= 0");
  if (a.max_leaves < 0) usage_error("--max-leaves must be >= 0");
  if (!(a.learning_rate > 0)) usage_error("--learning-rate must be > 0");
  if (a.min_child_weight < 0 || a.lambda < 0) usage_error("--min-child-weight and --lambda must be >= 0");
  if (a.max_bin < 2) usage_error("--max-bin must be >= 2");
  if (a.threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  return a;
}

/// A multi-label table: features and labels split by column name.
struct Problem {
  std::vector<std::string> feature_names, label_names;
  std::vector<recmix::Index> categorical;  // positions in feature_names
  recmix::RowMatrixXf X, Y;
};

/// Number of line ends in the file, plus one when the last line has none: an upper bound on the
/// records (empty lines are skipped by the reader; quoted line ends would make it an overcount).
std::int64_t count_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw recmix::io_error("cannot open '" + path + "'");
  std::vector<char> buf(std::size_t{1} << 20);
  std::int64_t lines = 0;
  char last = '\n';
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (got == 0) break;
    lines += std::count(buf.data(), buf.data() + got, '\n');
    last = buf[got - 1];
  }
  if (in.bad()) throw recmix::io_error("read error in '" + path + "'");
  return lines + (last != '\n' ? 1 : 0);
}

/// A field as a float: empty, "NA" and the NaN spellings are missing (NaN).
float parse_field(const recmix::io::CsvReader& reader, std::string_view field, std::size_t i) {
  const std::string_view t = recmix::io::trim(field);
  if (t.empty() || t == "NA") return std::numeric_limits<float>::quiet_NaN();
  const char* b = t.data();
  const char* const e = b + t.size();
  if (*b == '+' && e - b > 1) ++b;
  float v = 0.0f;
  const auto [p, ec] = std::from_chars(b, e, v);
  if (p != e || (ec != std::errc() && ec != std::errc::result_out_of_range) || std::isinf(v)) {
    throw recmix::parse_error(reader.source(), reader.field_line(i), reader.column(i),
                              "expected a number, got '" + std::string(t.substr(0, 40)) + "'");
  }
  if (ec == std::errc::result_out_of_range) {
    throw recmix::parse_error(reader.source(), reader.field_line(i), reader.column(i),
                              "value '" + std::string(t.substr(0, 40)) + "' is out of range for float");
  }
  return v;
}

Problem read_problem(const std::string& path) {
  const std::int64_t max_rows = std::max<std::int64_t>(0, count_lines(path) - 1);
  auto reader = recmix::io::CsvReader::open(path);
  std::vector<std::string_view> fields;
  if (!reader.next(fields)) throw recmix::parse_error(path, 1, 1, "empty input");
  Problem p;
  const std::size_t cols = fields.size();
  std::vector<int> target(cols);  // >= 0: feature column; < 0: label -1 - index
  for (std::size_t i = 0; i < cols; ++i) {
    const std::string name(fields[i]);
    if (name.starts_with("y")) {
      target[i] = -1 - static_cast<int>(p.label_names.size());
      p.label_names.push_back(name);
    } else {
      target[i] = static_cast<int>(p.feature_names.size());
      if (name.starts_with("c")) p.categorical.push_back(static_cast<recmix::Index>(p.feature_names.size()));
      p.feature_names.push_back(name);
    }
  }
  if (p.label_names.empty()) throw recmix::invalid_argument(path + ": no label column (names starting with 'y')");
  if (p.feature_names.empty()) throw recmix::invalid_argument(path + ": no feature column");
  const auto nf = static_cast<Eigen::Index>(p.feature_names.size());
  const auto nl = static_cast<Eigen::Index>(p.label_names.size());
  p.X.resize(max_rows, nf);
  p.Y.resize(max_rows, nl);
  Eigen::Index r = 0;
  while (reader.next(fields)) {
    if (fields.size() != cols) {
      throw recmix::parse_error(path, reader.line(), 1,
                                "expected " + std::to_string(cols) + " fields, found " + std::to_string(fields.size()));
    }
    if (r == p.X.rows()) throw recmix::parse_error(path, reader.line(), 1, "more records than lines counted");
    float* const x = p.X.data() + r * nf;
    float* const y = p.Y.data() + r * nl;
    for (std::size_t i = 0; i < cols; ++i) {
      const float v = parse_field(reader, fields[i], i);
      if (target[i] >= 0) {
        x[target[i]] = v;
      } else {
        if (v != 0.0f && v != 1.0f) {
          throw recmix::parse_error(path, reader.field_line(i), reader.column(i), "labels must be 0 or 1");
        }
        y[-1 - target[i]] = v;
      }
    }
    ++r;
  }
  if (r < p.X.rows()) {  // empty lines: shrink (a copy, only then)
    p.X.conservativeResize(r, nf);
    p.Y.conservativeResize(r, nl);
  }
  return p;
}

/// The positive labels of each row as relevant items (gain 1).
recmix::InteractionMatrix relevance(const recmix::RowMatrixXf& Y) {
  std::vector<recmix::Offset> indptr(static_cast<std::size_t>(Y.rows()) + 1, 0);
  std::vector<recmix::Index> indices;
  for (Eigen::Index r = 0; r < Y.rows(); ++r) {
    for (Eigen::Index c = 0; c < Y.cols(); ++c) {
      if (Y(r, c) == 1.0f) indices.push_back(static_cast<recmix::Index>(c));
    }
    indptr[static_cast<std::size_t>(r) + 1] = static_cast<recmix::Offset>(indices.size());
  }
  std::vector<float> values(indices.size(), 1.0f);
  return recmix::InteractionMatrix(static_cast<recmix::Index>(Y.rows()), static_cast<recmix::Index>(Y.cols()), std::move(indptr),
                                   std::move(indices), std::move(values));
}

void write_predictions(const std::string& path, const std::vector<std::string>& labels, const recmix::RowMatrixXf& P) {
  recmix::io::write_dense_csv(labels, P, std::filesystem::path(path));
}

std::string json_array(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s += ", ";
    if (std::isnan(v[i])) {
      s += "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.5f", v[i]);
      s += buf;
    }
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  using recmix::trees::MultiLabelGBDT;
  try {
    std::cerr << "recmix-gbdt-bench: reading " << a.train << '\n';
    auto t0 = std::chrono::steady_clock::now();
    Problem train = read_problem(a.train);
    double load_seconds = seconds_since(t0);
    const double load_peak_mb = peak_rss_mb();
    const auto n_train = static_cast<std::int64_t>(train.X.rows());
    const auto n_labels = static_cast<Eigen::Index>(train.Y.cols());
    if (n_train == 0) throw recmix::invalid_argument(a.train + " has no rows");
    std::fprintf(stderr, "recmix-gbdt-bench: %lld rows, %zu features (%zu categorical), %lld labels read in %.2fs\n",
                 static_cast<long long>(n_train), train.feature_names.size(), train.categorical.size(),
                 static_cast<long long>(n_labels), load_seconds);

    // Train prevalence (as counts, so equal prevalences compare equal) and the rarest labels.
    std::vector<double> positives(static_cast<std::size_t>(n_labels));
    for (Eigen::Index c = 0; c < n_labels; ++c) positives[static_cast<std::size_t>(c)] = train.Y.col(c).cast<double>().sum();
    std::vector<int> order(static_cast<std::size_t>(n_labels));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return positives[static_cast<std::size_t>(x)] < positives[static_cast<std::size_t>(y)]; });
    order.resize(static_cast<std::size_t>(std::min<Eigen::Index>(kRareLabels, n_labels)));

    MultiLabelGBDT::Options opt;
    opt.rounds = a.rounds;
    opt.learning_rate = a.learning_rate;
    opt.max_depth = a.max_depth;
    opt.max_leaves = a.max_leaves;
    opt.grow_policy = a.grow_policy == "lossguide" ? recmix::trees::GrowPolicy::lossguide : recmix::trees::GrowPolicy::depthwise;
    opt.min_child_weight = a.min_child_weight;
    opt.lambda = a.lambda;
    opt.seed = a.seed;
    opt.max_bin = a.max_bin;
    if (a.categorical == "names") opt.categorical_features = train.categorical;
    opt.threads = a.threads;
    opt.initial_margin = a.initial_margin == "zero" ? recmix::trees::InitialMargin::zero : recmix::trees::InitialMargin::prevalence;
    opt.mode = a.mode == "one_vs_rest" ? recmix::trees::MultiLabelMode::one_vs_rest : recmix::trees::MultiLabelMode::multi_output;
    MultiLabelGBDT model(opt);
    const int threads = recmix::resolve_threads(a.threads);
    std::cerr << "recmix-gbdt-bench: fitting " << a.mode << ", " << a.rounds << " rounds, " << threads << " threads\n";
    const double cpu0 = cpu_seconds();
    t0 = std::chrono::steady_clock::now();
    const recmix::trees::GBDTReport report = model.fit(train.X, train.Y);
    const double train_seconds = seconds_since(t0);
    const double train_cpu_utilization = (cpu_seconds() - cpu0) / (train_seconds * threads);
    const double fit_peak_mb = peak_rss_mb();
    std::fprintf(stderr, "recmix-gbdt-bench: fitted in %.2fs (binning %.2fs)\n", train_seconds, report.binning_seconds);
    const std::vector<std::string> feature_names = train.feature_names, label_names = train.label_names;
    train = Problem{};  // frees the training X and Y before the test file is read

    t0 = std::chrono::steady_clock::now();
    Problem test = read_problem(a.test);
    load_seconds += seconds_since(t0);
    if (test.feature_names != feature_names || test.label_names != label_names) {
      throw recmix::invalid_argument(a.test + ": its columns differ from " + a.train + "'s");
    }
    if (test.X.rows() == 0) throw recmix::invalid_argument(a.test + " has no rows");

    t0 = std::chrono::steady_clock::now();
    const recmix::RowMatrixXf P = model.predict_proba(test.X);
    const double predict_seconds = seconds_since(t0);
    test.X.resize(0, 0);

    namespace metrics = recmix::metrics;
    const metrics::LabelScores auc = metrics::roc_auc(P, test.Y, {.threads = threads});
    const metrics::LabelScores ll = metrics::log_loss(P, test.Y);
    double rare_sum = 0.0;
    int rare_n = 0;
    for (int l : order) {
      const double v = auc.per_label[static_cast<std::size_t>(l)];
      if (!std::isnan(v)) {
        rare_sum += v;
        ++rare_n;
      }
    }
    const recmix::InteractionMatrix truth = relevance(test.Y);
    const metrics::Evaluation ranking =
        metrics::evaluate_scores(P, truth, {metrics::Metric::ndcg, metrics::Metric::map}, {3, 7}, {.threads = threads});

    JsonLine j;
    j.number("train_seconds", train_seconds);
    j.number("binning_seconds", report.binning_seconds);
    j.number("predict_seconds", predict_seconds);
    j.number("mean_auc", auc.macro);
    j.number("mean_logloss", ll.macro);
    j.number("rare_auc", rare_n > 0 ? rare_sum / rare_n : std::nan(""));
    j.number("ndcg_at_3", ranking.at(metrics::Metric::ndcg, 3));
    j.number("map_at_7", ranking.at(metrics::Metric::map, 7));
    j.number("peak_rss_mb", peak_rss_mb(), 5);
    j.number("peak_rss_fit_mb", fit_peak_mb, 5);
    j.number("peak_rss_load_mb", load_peak_mb, 5);
    j.number("load_seconds", load_seconds);
    j.number("train_cpu_utilization", train_cpu_utilization, 3);
    j.string("mode", a.mode);
    j.integer("rounds", a.rounds);
    j.integer("max_depth", a.max_depth);
    j.number("learning_rate", a.learning_rate);
    j.integer("max_bin", a.max_bin);
    j.string("grow_policy", a.grow_policy);
    j.integer("max_leaves", a.max_leaves);
    j.integer("threads", threads);
    j.integer("seed", static_cast<std::int64_t>(a.seed));
    j.integer("train_rows", n_train);
    j.integer("test_rows", static_cast<std::int64_t>(test.Y.rows()));
    j.integer("features", static_cast<std::int64_t>(feature_names.size()));
    j.integer("categorical", static_cast<std::int64_t>(opt.categorical_features.size()));
    j.integer("labels", static_cast<std::int64_t>(n_labels));
    j.integer("ranked_rows", ranking.users_with_relevant);
    j.integer("iterations", report.iterations);
    j.integer("best_round", report.best_round);
    j.number("final_train_loss", report.train_loss.empty() ? std::nan("") : report.train_loss.back());
    j.integer("auc_labels", auc.defined);
    std::string rare_list = "[";
    for (std::size_t i = 0; i < order.size(); ++i) rare_list += (i > 0 ? ", " : "") + std::to_string(order[i]);
    j.raw("rare_labels", rare_list + "]");
    j.raw("per_label_auc", json_array(auc.per_label));
    j.string("threading", report.threading);
    j.string("train", a.train);
    j.string("test", a.test);
    std::cout << j.str() << std::endl;
    if (!a.predictions_out.empty()) write_predictions(a.predictions_out, label_names, P);
  } catch (const std::exception& e) {
    std::cerr << "recmix-gbdt-bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
