// recmix-metrics-bench: whole-process timing of ranking metrics on a dense score matrix.
//
//   recmix-metrics-bench --scores S.csv --truth T.csv [--k 7] [--threads 2]
//                        [--average with_relevant|all_users] [--repeat 1]
//
// Reads a users x items score matrix and a 0/1 relevance matrix of the same shape (CSV with a
// header row naming the items, e.g. from recmix-make-scores), turns the relevance into an
// InteractionMatrix, then computes MAP@k, NDCG@k and recall@k in one pass of
// recmix::metrics::evaluate_scores. Prints one JSON line on stdout:
//   seconds       the metric computation alone (median of --repeat runs)
//   load_seconds  reading both files, the checks and building the relevance matrix
//   map_at_k, ndcg_at_k, recall_at_k, users, threads, peak_rss_mb, and the settings.
// --average all_users counts users without a relevant item in the means (they score 0), which
// is what scikit-learn's ndcg_score does; the default counts only users with one.
// Exit status: 0 ok, 1 unreadable or inconsistent data, 2 bad arguments.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/csv.hpp>
#include <recmix/metrics/evaluate.hpp>

#include "driver_support.hpp"

using recmix::bench::JsonLine;
using recmix::bench::seconds_since;
using recmix::bench::peak_rss_mb;

namespace {

constexpr const char* kUsage =
    "usage: recmix-metrics-bench --scores S.csv --truth T.csv [--k 7] [--threads 2 (0 = all)]\n"
    "                            [--average with_relevant|all_users] [--repeat 1]\n";

struct Args {
  std::string scores;
  std::string truth;
  int k = 7;
  int threads = 2;
  std::string average = "with_relevant";
  int repeat = 1;
};

[[noreturn]] void usage_error(const std::string& message) { recmix::bench::usage_error("recmix-metrics-bench", kUsage, message); }

/// A problem with the input files: reported with exit status 1.
struct data_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int parse_int(std::string_view option, std::string_view text) {
  int value = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    usage_error(std::string(option) + ": cannot parse '" + std::string(text) + "' as an integer");
  }
  return value;
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
    if (arg == "--scores") {
      a.scores = std::string(value);
    } else if (arg == "--truth") {
      a.truth = std::string(value);
    } else if (arg == "--k") {
      a.k = parse_int(arg, value);
    } else if (arg == "--threads") {
      a.threads = parse_int(arg, value);
    } else if (arg == "--average") {
      a.average = std::string(value);
    } else if (arg == "--repeat") {
      a.repeat = parse_int(arg, value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (a.scores.empty()) usage_error("--scores is required");
  if (a.truth.empty()) usage_error("--truth is required");
  if (a.k < 1) usage_error("--k must be >= 1");
  if (a.threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  if (a.average != "with_relevant" && a.average != "all_users") usage_error("--average must be with_relevant or all_users");
  if (a.repeat < 1) usage_error("--repeat must be >= 1");
  return a;
}


/// The 0/1 relevance table as an InteractionMatrix (gain 1 per relevant item); throws
/// data_error at the first cell that is neither 0 nor 1.
recmix::InteractionMatrix relevance_matrix(const recmix::RowMatrixXf& t, const std::vector<std::string>& columns,
                                           const std::string& path) {
  const auto rows = static_cast<recmix::Index>(t.rows());
  const auto cols = static_cast<recmix::Index>(t.cols());
  std::vector<recmix::Offset> indptr(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<recmix::Index> indices;
  indices.reserve(static_cast<std::size_t>(rows) * 2);
  for (recmix::Index r = 0; r < rows; ++r) {
    const float* row = t.data() + static_cast<std::ptrdiff_t>(r) * cols;
    for (recmix::Index c = 0; c < cols; ++c) {
      const float v = row[c];
      if (v == 1.0f) {
        indices.push_back(c);
      } else if (v != 0.0f) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
        throw data_error(path + ": data row " + std::to_string(static_cast<std::int64_t>(r) + 1) + ", column " + std::to_string(c + 1) +
                         " ('" + columns[static_cast<std::size_t>(c)] + "') holds " + buf + "; the relevance matrix must hold only 0 and 1");
      }
    }
    indptr[static_cast<std::size_t>(r) + 1] = static_cast<recmix::Offset>(indices.size());
  }
  std::vector<float> values(indices.size(), 1.0f);
  return recmix::InteractionMatrix(rows, cols, std::move(indptr), std::move(indices), std::move(values));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(const Args& a) {
  using recmix::metrics::Metric;
  // Loading: both files, the checks and the relevance matrix.
  const auto t0 = std::chrono::steady_clock::now();
  std::cerr << "recmix-metrics-bench: reading " << a.scores << '\n';
  recmix::io::DenseTable scores = recmix::io::read_dense_csv(a.scores);
  recmix::InteractionMatrix truth;
  {
    std::cerr << "recmix-metrics-bench: reading " << a.truth << '\n';
    const recmix::io::DenseTable t = recmix::io::read_dense_csv(a.truth);
    if (scores.values.rows() != t.values.rows() || scores.values.cols() != t.values.cols()) {
      throw data_error("the scores are " + std::to_string(scores.values.rows()) + " x " + std::to_string(scores.values.cols()) +
                       " (" + a.scores + ") but the relevance matrix is " + std::to_string(t.values.rows()) + " x " +
                       std::to_string(t.values.cols()) + " (" + a.truth + "); they must have the same shape");
    }
    if (scores.values.rows() == 0) throw data_error(a.scores + ": no data rows");
    for (std::size_t c = 0; c < scores.columns.size(); ++c) {
      if (scores.columns[c] != t.columns[c]) {
        throw data_error("column " + std::to_string(c + 1) + " is '" + scores.columns[c] + "' in " + a.scores + " but '" +
                         t.columns[c] + "' in " + a.truth + "; the two files must list the items in the same order");
      }
    }
    truth = relevance_matrix(t.values, t.columns, a.truth);
  }
  if (truth.nnz() == 0) throw data_error(a.truth + ": no user has a relevant item");
  const double load_seconds = seconds_since(t0);
  const auto users = static_cast<std::int64_t>(scores.values.rows());
  std::fprintf(stderr, "recmix-metrics-bench: %lld users x %lld items, %lld relevant, loaded in %.2fs\n",
               static_cast<long long>(users), static_cast<long long>(scores.values.cols()), static_cast<long long>(truth.nnz()),
               load_seconds);

  recmix::metrics::EvaluateOptions options;
  options.ranking.users =
      a.average == "all_users" ? recmix::metrics::UserAveraging::all_users : recmix::metrics::UserAveraging::with_relevant;
  options.threads = a.threads;
  const recmix::Index k = a.k;
  std::vector<double> times;
  recmix::metrics::Evaluation result;
  for (int r = 0; r < a.repeat; ++r) {
    const auto t1 = std::chrono::steady_clock::now();
    result = recmix::metrics::evaluate_scores(scores.values, truth, {Metric::map, Metric::ndcg, Metric::recall}, {k}, options);
    times.push_back(seconds_since(t1));
  }

  JsonLine j;
  j.number("seconds", median(times));
  j.number("map_at_k", result.at(Metric::map, k), 10);
  j.number("ndcg_at_k", result.at(Metric::ndcg, k), 10);
  j.number("recall_at_k", result.at(Metric::recall, k), 10);
  j.integer("users", users);
  j.integer("threads", recmix::resolve_threads(a.threads));
  j.number("load_seconds", load_seconds);
  j.number("peak_rss_mb", peak_rss_mb(), 5);
  j.integer("k", a.k);
  j.integer("items", static_cast<std::int64_t>(scores.values.cols()));
  j.string("average", a.average);
  j.integer("users_in_mean", result.values.front().users);
  j.integer("users_with_relevant", result.users_with_relevant);
  j.integer("relevant", truth.nnz());
  j.integer("repeat", a.repeat);
  j.number("seconds_min", *std::min_element(times.begin(), times.end()));
  j.number("seconds_max", *std::max_element(times.begin(), times.end()));
  j.string("scores", a.scores);
  j.string("truth", a.truth);
  std::cout << j.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::cerr << "recmix-metrics-bench: " << e.what() << '\n';
    return 1;
  }
}
