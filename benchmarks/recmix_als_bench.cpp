// recmix-als-bench: end-to-end timing of implicit ALS on a COO matrix file.
//
//   recmix-als-bench MATRIX.coo [--factors 64] [--iterations 15] [--regularization 0.01]
//                    [--alpha 1.0] [--cg-steps 3] [--threads 0] [--seed 42]
//                    [--solver cg|cholesky] [--scalar float|double] [--recommend-k 10]
//                    [--block-users 256] [--no-recommend]
//
// Reads the matrix, fits (no per-iteration loss), computes the final training loss, then
// recommends the top k items for every user with their own items excluded. Prints one JSON
// line on stdout; progress goes to stderr. Exit status: 0 ok, 1 runtime failure (unreadable
// or malformed matrix, ...), 2 bad arguments.

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <recmix/als/implicit_als.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/io/coo.hpp>

#include "driver_support.hpp"

using recmix::bench::JsonLine;
using recmix::bench::seconds_since;
using recmix::bench::cpu_seconds;
using recmix::bench::peak_rss_mb;

namespace {

constexpr const char* kUsage =
    "usage: recmix-als-bench MATRIX.coo [--factors 64] [--iterations 15] [--regularization 0.01]\n"
    "                        [--alpha 1.0] [--cg-steps 3] [--threads 0 (all)] [--seed 42]\n"
    "                        [--solver cg|cholesky] [--scalar float|double] [--recommend-k 10]\n"
    "                        [--block-users 256] [--no-recommend]\n";

/// Peak of the theoretical CG throughput the fraction_of_bound is measured against.
constexpr double kBoundFlopsPerSecond = 200e9;

constexpr const char* kFlopFormula =
    "per half-sweep solving R rows against N fixed rows (f factors, s cg_steps, Z nonzeros): "
    "2*N*f^2 (Gram) + (s+1)*(2*f^2*R + 4*f*Z) (A*p products) + 10*f*s*R (vector updates); "
    "iteration = users half-sweep + items half-sweep";

struct Args {
  std::string matrix;
  int factors = 64;
  int iterations = 15;
  double regularization = 0.01;
  double alpha = 1.0;
  int cg_steps = 3;
  int threads = 0;
  std::uint64_t seed = 42;
  std::string solver = "cg";
  std::string scalar = "float";
  int recommend_k = 10;
  int block_users = 256;
  bool recommend = true;
};

[[noreturn]] void usage_error(const std::string& message) { recmix::bench::usage_error("recmix-als-bench", kUsage, message); }

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
    if (!arg.starts_with("--")) {
      if (!a.matrix.empty()) usage_error("more than one matrix file given ('" + a.matrix + "', '" + std::string(arg) + "')");
      a.matrix = std::string(arg);
      continue;
    }
    if (arg == "--no-recommend") {
      a.recommend = false;
      continue;
    }
    std::string_view value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--factors") {
      a.factors = parse_value<int>(arg, value);
    } else if (arg == "--iterations") {
      a.iterations = parse_value<int>(arg, value);
    } else if (arg == "--regularization") {
      a.regularization = parse_value<double>(arg, value);
    } else if (arg == "--alpha") {
      a.alpha = parse_value<double>(arg, value);
    } else if (arg == "--cg-steps") {
      a.cg_steps = parse_value<int>(arg, value);
    } else if (arg == "--threads") {
      a.threads = parse_value<int>(arg, value);
    } else if (arg == "--seed") {
      a.seed = parse_value<std::uint64_t>(arg, value);
    } else if (arg == "--solver") {
      a.solver = std::string(value);
    } else if (arg == "--scalar") {
      a.scalar = std::string(value);
    } else if (arg == "--recommend-k") {
      a.recommend_k = parse_value<int>(arg, value);
    } else if (arg == "--block-users") {
      a.block_users = parse_value<int>(arg, value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (a.matrix.empty()) usage_error("no matrix file given");
  if (a.factors < 1) usage_error("--factors must be >= 1");
  if (a.iterations < 1) usage_error("--iterations must be >= 1");
  if (a.regularization < 0) usage_error("--regularization must be >= 0");
  if (a.alpha <= 0) usage_error("--alpha must be > 0");
  if (a.cg_steps < 1) usage_error("--cg-steps must be >= 1");
  if (a.threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  if (a.solver != "cg" && a.solver != "cholesky") usage_error("--solver must be cg or cholesky");
  if (a.scalar != "float" && a.scalar != "double") usage_error("--scalar must be float or double");
  if (a.recommend_k < 1) usage_error("--recommend-k must be >= 1");
  if (a.block_users < 1) usage_error("--block-users must be >= 1");
  return a;
}

/// Flops of one CG half-sweep; see kFlopFormula. Counted for the wide form A p = G p +
/// sum_i (c_ui - 1)(y_i . p) y_i: per row and product, G p is f^2 multiply-adds (2 f^2 flops)
/// and each nonzero a dot and an axpy (4 f flops); s steps need s + 1 products (the initial
/// residual b - A x plus one per step); the CG vector updates (x, r, p, two dots) are ~10 f per
/// row and step. Not counted: forming b (2 f per positive nonzero) and the loss.
double half_sweep_flops(double rows, double other, double nnz, double f, double s) {
  return 2.0 * other * f * f + (s + 1.0) * (2.0 * f * f * rows + 4.0 * f * nnz) + 10.0 * f * s * rows;
}


template <class Scalar>
int run(const Args& a, const recmix::InteractionMatrix& m, double read_seconds) {
  using Model = recmix::als::ImplicitALS<Scalar>;
  typename Model::Options o;
  o.factors = a.factors;
  o.regularization = a.regularization;
  o.alpha = a.alpha;
  o.iterations = a.iterations;
  o.cg_steps = a.cg_steps;
  o.solver = a.solver == "cholesky" ? recmix::als::Solver::cholesky : recmix::als::Solver::conjugate_gradient;
  o.threads = a.threads;
  o.seed = a.seed;
  o.calculate_loss = false;
  Model model(o);
  const int threads = recmix::resolve_threads(a.threads);

  recmix::ProgressBar progress(std::cerr);
  const double cpu0 = cpu_seconds();
  const recmix::FitReport report = model.fit(m, progress);
  const double fit_seconds = report.seconds;
  // CPU time / (wall time * threads): well below 1 when other processes took our cores.
  const double fit_cpu_utilization = (cpu_seconds() - cpu0) / (fit_seconds * threads);

  std::cerr << "recmix-als-bench: computing the loss\n";
  auto t0 = std::chrono::steady_clock::now();
  const double loss = model.loss(m);
  const double loss_seconds = seconds_since(t0);
  const double rss_after_fit_mb = peak_rss_mb();  // peak of read + fit + loss, before recommend

  double recommend_seconds = std::nan("");
  if (a.recommend) {
    std::cerr << "recmix-als-bench: top-" << a.recommend_k << " for " << m.rows() << " users\n";
    std::vector<recmix::Index> users(static_cast<std::size_t>(m.rows()));
    std::iota(users.begin(), users.end(), 0);
    const recmix::UserBatch batch(users, &m, recmix::HistoryRows::by_user_id);
    recmix::RecommendOptions ro;
    ro.exclude_history = true;
    ro.threads = a.threads;
    ro.block_users = a.block_users;
    t0 = std::chrono::steady_clock::now();
    const recmix::Recommendations top = recmix::recommend(model, batch, a.recommend_k, ro);
    recommend_seconds = seconds_since(t0);
    if (top.users() != m.rows()) throw std::runtime_error("recommend returned the wrong number of rows");
  }

  const double rows = m.rows(), cols = m.cols(), nnz = static_cast<double>(m.nnz()), f = a.factors;
  const double flops = half_sweep_flops(rows, cols, nnz, f, a.cg_steps) + half_sweep_flops(cols, rows, nnz, f, a.cg_steps);
  const double per_iteration = report.median_iteration_seconds();
  const double bound = flops / kBoundFlopsPerSecond;
  const double matrix_mb = static_cast<double>(m.memory_bytes()) / 1048576.0;
  const double factors_mb = (rows + cols) * f * static_cast<double>(sizeof(Scalar)) / 1048576.0;

  JsonLine j;
  j.number("seconds_per_iteration", per_iteration);
  j.number("fit_seconds", fit_seconds);
  j.number("loss", loss, 9);
  j.number("recommend_seconds", recommend_seconds);
  j.number("peak_rss_mb", peak_rss_mb(), 5);
  j.number("peak_rss_fit_mb", rss_after_fit_mb, 5);
  j.number("read_seconds", read_seconds);
  j.number("loss_seconds", loss_seconds);
  j.integer("rows", m.rows());
  j.integer("cols", m.cols());
  j.integer("nnz", m.nnz());
  j.integer("factors", a.factors);
  j.integer("iterations", report.iterations);
  j.integer("cg_steps", a.cg_steps);
  j.string("solver", a.solver);
  j.string("scalar", a.scalar);
  j.integer("threads", threads);
  j.number("fit_cpu_utilization", fit_cpu_utilization, 3);
  j.string("threading", report.threading);
  j.number("matrix_mb", matrix_mb, 5);
  j.number("factors_mb", factors_mb, 5);
  j.number("rss_target_mb", 1.1 * (matrix_mb + factors_mb), 5);
  j.number("gflop_per_iteration", flops / 1e9, 5);
  j.number("fraction_of_bound", per_iteration > 0 ? bound / per_iteration : std::nan(""), 4);
  j.string("flop_formula", kFlopFormula);
  j.string("matrix", a.matrix);
  std::cout << j.str() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  try {
    std::cerr << "recmix-als-bench: reading " << a.matrix << '\n';
    const auto t0 = std::chrono::steady_clock::now();
    const recmix::InteractionMatrix m = recmix::io::read_coo(a.matrix);
    const double read_seconds = seconds_since(t0);
    std::fprintf(stderr, "recmix-als-bench: %d x %d, %lld nonzeros, read in %.2fs\n", m.rows(), m.cols(),
                 static_cast<long long>(m.nnz()), read_seconds);
    return a.scalar == "double" ? run<double>(a, m, read_seconds) : run<float>(a, m, read_seconds);
  } catch (const std::exception& e) {
    std::cerr << "recmix-als-bench: " << e.what() << '\n';
    return 1;
  }
}
