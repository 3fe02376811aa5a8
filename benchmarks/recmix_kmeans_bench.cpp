// recmix-kmeans-bench: whole-process timing of k-means on a dense CSV table.
//
//   recmix-kmeans-bench --data X.csv --k K [--n-init 1] [--max-iter 100] [--tol 1e-4]
//                       [--seed 0] [--threads 0] [--algorithm lloyd|hamerly]
//
// Reads X (a header row, then n rows of d numbers; recmix-make-blobs writes one), fits
// recmix::cluster::KMeans<float> with k-means++ seeding, and prints one JSON line on stdout:
//   init_seconds              k-means++ seeding alone (all restarts)
//   fit_seconds               the whole KMeans::fit call: checks, seeding, iterations, final
//                             labels and inertia (what scikit-learn's fit time covers)
//   iterations, inertia       of the kept restart
//   median_iteration_seconds  median of its Lloyd (or Hamerly) iterations
//   iteration_seconds_total   all its iterations; other_fit_seconds = fit_seconds - init_seconds
//                             - iteration_seconds_total (checks, tolerance, final labels)
//   peak_rss_mb               peak resident memory of the whole process (VmHWM, MiB)
//   load_seconds              reading the CSV (not part of fit_seconds)
//   threads, rows, cols, algorithm, and the settings; x_mb = rows * cols * 4 bytes in MiB and
//   rss_target_mb = 1.1 * x_mb, the memory target; peak_rss_load_mb = VmHWM right after loading.
// The k-means settings default to scikit-learn's KMeans(init="k-means++", n_init=1,
// max_iter=100, tol=1e-4); the random streams differ, so compare inertia over several seeds.
// Progress goes to stderr. Exit status: 0 ok, 1 unreadable data or a failed fit, 2 bad arguments.

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <recmix/cluster/kmeans.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/csv.hpp>

#include "driver_support.hpp"

using recmix::bench::JsonLine;
using recmix::bench::seconds_since;
using recmix::bench::cpu_seconds;
using recmix::bench::peak_rss_mb;

namespace {

constexpr const char* kUsage =
    "usage: recmix-kmeans-bench --data X.csv --k K [--n-init 1] [--max-iter 100] [--tol 1e-4]\n"
    "                           [--seed 0] [--threads 0 (all)] [--algorithm lloyd|hamerly]\n";

struct Args {
  std::string data;
  int k = 0;
  int n_init = 1;
  int max_iter = 100;
  double tol = 1e-4;
  std::uint64_t seed = 0;
  int threads = 0;
  std::string algorithm = "lloyd";
};

[[noreturn]] void usage_error(const std::string& message) { recmix::bench::usage_error("recmix-kmeans-bench", kUsage, message); }

template <class T>
T parse_value(std::string_view option, std::string_view text) {
  return recmix::bench::parse_value<T>(option, text, usage_error);
}

Args parse_args(int argc, char** argv) {
  Args a;
  bool have_k = false;
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
    if (arg == "--data") {
      a.data = std::string(value);
    } else if (arg == "--k") {
      a.k = parse_value<int>(arg, value);
      have_k = true;
    } else if (arg == "--n-init") {
      a.n_init = parse_value<int>(arg, value);
    } else if (arg == "--max-iter") {
      a.max_iter = parse_value<int>(arg, value);
    } else if (arg == "--tol") {
      a.tol = parse_value<double>(arg, value);
    } else if (arg == "--seed") {
      a.seed = parse_value<std::uint64_t>(arg, value);
    } else if (arg == "--threads") {
      a.threads = parse_value<int>(arg, value);
    } else if (arg == "--algorithm") {
      a.algorithm = std::string(value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (a.data.empty()) usage_error("--data is required");
  if (!have_k) usage_error("--k is required");
  if (a.k < 1) usage_error("--k must be >= 1");
  if (a.n_init < 1) usage_error("--n-init must be >= 1");
  if (a.max_iter < 1) usage_error("--max-iter must be >= 1");
  if (a.tol < 0) usage_error("--tol must be >= 0");
  if (a.threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  if (a.algorithm != "lloyd" && a.algorithm != "hamerly") usage_error("--algorithm must be lloyd or hamerly");
  return a;
}


}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  using recmix::cluster::KMeans;
  using recmix::cluster::KMeansAlgorithm;
  try {
    std::cerr << "recmix-kmeans-bench: reading " << a.data << '\n';
    auto t0 = std::chrono::steady_clock::now();
    recmix::RowMatrixXf X = recmix::io::read_dense_csv(a.data).values;
    const double load_seconds = seconds_since(t0);
    const double load_peak_mb = peak_rss_mb();
    const auto rows = static_cast<std::int64_t>(X.rows()), cols = static_cast<std::int64_t>(X.cols());
    std::fprintf(stderr, "recmix-kmeans-bench: %lld x %lld read in %.2fs\n", static_cast<long long>(rows),
                 static_cast<long long>(cols), load_seconds);
    if (rows == 0) throw recmix::invalid_argument(a.data + " has no rows");

    KMeans<float> km({.k = a.k,
                      .n_init = a.n_init,
                      .max_iter = a.max_iter,
                      .tol = a.tol,
                      .seed = a.seed,
                      .algorithm = a.algorithm == "hamerly" ? KMeansAlgorithm::hamerly : KMeansAlgorithm::lloyd,
                      .threads = a.threads});
    const int threads = recmix::resolve_threads(a.threads);
    std::cerr << "recmix-kmeans-bench: fitting k = " << a.k << " (" << a.algorithm << ", " << threads << " threads)\n";
    const double cpu0 = cpu_seconds();
    t0 = std::chrono::steady_clock::now();
    const recmix::cluster::KMeansReport report = km.fit(X);
    const double fit_seconds = seconds_since(t0);
    // CPU time / (wall time * threads): well below 1 when other processes took our cores.
    const double fit_cpu_utilization = (cpu_seconds() - cpu0) / (fit_seconds * threads);

    const double x_mb = static_cast<double>(rows) * static_cast<double>(cols) * sizeof(float) / 1048576.0;
    JsonLine j;
    j.number("init_seconds", report.init_seconds);
    j.number("fit_seconds", fit_seconds);
    j.integer("iterations", report.iterations);
    j.number("inertia", report.inertia, 10);
    j.number("peak_rss_mb", peak_rss_mb(), 5);
    j.number("median_iteration_seconds", report.median_iteration_seconds());
    double iteration_total = 0.0;
    for (double s : report.iteration_seconds) iteration_total += s;
    j.number("iteration_seconds_total", iteration_total);
    // The rest of the fit: input checks, the tolerance's column variances, the final assignment and inertia.
    j.number("other_fit_seconds", fit_seconds - report.init_seconds - iteration_total);
    j.number("load_seconds", load_seconds);
    j.integer("threads", threads);
    j.integer("rows", rows);
    j.integer("cols", cols);
    j.string("algorithm", a.algorithm);
    j.integer("k", a.k);
    j.integer("n_init", a.n_init);
    j.integer("max_iter", a.max_iter);
    j.number("tol", a.tol);
    j.integer("seed", static_cast<std::int64_t>(a.seed));
    j.boolean("converged", report.converged);
    j.number("x_mb", x_mb, 5);
    j.number("rss_target_mb", 1.1 * x_mb, 5);
    j.number("peak_rss_load_mb", load_peak_mb, 5);
    j.number("fit_cpu_utilization", fit_cpu_utilization, 3);
    j.string("threading", report.threading);
    j.string("data", a.data);
    std::cout << j.str() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "recmix-kmeans-bench: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
