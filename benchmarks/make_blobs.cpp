// recmix-make-blobs: writes a deterministic mixture of Gaussian blobs as a dense CSV table, the
// input of recmix-kmeans-bench and benchmarks/anchors/sklearn_kmeans.py.
//
//   recmix-make-blobs --rows N --cols D --out FILE.csv [--blobs 10] [--seed 42]
//
// Recipe (one recmix::Rng stream seeded with --seed, drawn in exactly this order):
//   1. for each blob b = 0..B-1, in order:
//        centre_b[j] = -10 + 20 * uniform()          for j = 0..D-1   (the box [-10, 10]^D)
//        sigma_b     = 0.5 + 2.0 * uniform()                           (isotropic spread)
//        weight_b    = 1.0 + 3.0 * uniform()                           (sizes differ up to 4x)
//   2. for each row i = 0..N-1, in order:
//        b = the first blob whose cumulative weight exceeds uniform() * sum(weight)
//        x_i[j] = centre_b[j] + sigma_b * normal()   for j = 0..D-1   (Rng::normal, Box-Muller)
//      so the blobs come interleaved in random order, as scikit-learn's make_blobs shuffles.
//   3. every column is standardized in double precision: (x - mean) / std, population std
//      (divide by N), as sklearn.preprocessing.StandardScaler does; then rounded to float.
//   4. written with recmix::io::write_dense_csv: header x0,x1,...,x{D-1}, then one row per line,
//      each float in the shortest text that reads back to the same float.
// The same arguments always give the same bytes. Blob sizes and the time taken go to stderr.
// Exit status: 0 ok, 1 write failure, 2 bad arguments.

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <recmix/core/errors.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/csv.hpp>

#include "driver_support.hpp"

using recmix::bench::seconds_since;

namespace {

constexpr const char* kUsage =
    "usage: recmix-make-blobs --rows N --cols D --out FILE.csv [--blobs 10] [--seed 42]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "recmix-make-blobs: " << message << '\n' << kUsage;
  std::exit(2);
}

template <class T>
T parse_number(std::string_view option, std::string_view text) {
  T value{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
    usage_error(std::string(option) + " expects a non-negative integer, got '" + std::string(text) + "'");
  }
  return value;
}

struct Blob {
  std::vector<double> centre;
  double sigma = 1.0;
  double weight = 1.0;
};

}  // namespace

int main(int argc, char** argv) {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t blobs = 10;
  std::uint64_t seed = 42;
  std::string out;
  for (int a = 1; a < argc; ++a) {
    std::string_view arg = argv[a];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    std::string_view value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg.starts_with("--")) {
      if (a + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++a];
    } else {
      usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    if (arg == "--rows") {
      rows = parse_number<std::int64_t>(arg, value);
    } else if (arg == "--cols") {
      cols = parse_number<std::int64_t>(arg, value);
    } else if (arg == "--blobs") {
      blobs = parse_number<std::int64_t>(arg, value);
    } else if (arg == "--seed") {
      seed = parse_number<std::uint64_t>(arg, value);
    } else if (arg == "--out") {
      out = std::string(value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (rows < 2) usage_error("--rows must be >= 2");
  if (rows > 2147483647) usage_error("--rows must be < 2^31");
  if (cols < 1 || cols > 100000) usage_error("--cols must be in 1..100000");
  if (blobs < 1 || blobs > 1000000) usage_error("--blobs must be in 1..1000000");
  if (out.empty()) usage_error("--out is required");

  try {
    auto t0 = std::chrono::steady_clock::now();
    recmix::Rng rng(seed);
    const auto n = static_cast<Eigen::Index>(rows), d = static_cast<Eigen::Index>(cols);
    std::vector<Blob> blob(static_cast<std::size_t>(blobs));
    double total_weight = 0.0;
    for (Blob& b : blob) {
      b.centre.resize(static_cast<std::size_t>(d));
      for (double& c : b.centre) c = -10.0 + 20.0 * rng.uniform();
      b.sigma = 0.5 + 2.0 * rng.uniform();
      b.weight = 1.0 + 3.0 * rng.uniform();
      total_weight += b.weight;
    }
    std::vector<double> cumulative;
    double acc = 0.0;
    for (const Blob& b : blob) cumulative.push_back(acc += b.weight);

    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> x(n, d);
    std::vector<std::int64_t> size(blob.size(), 0);
    for (Eigen::Index i = 0; i < n; ++i) {
      const double u = rng.uniform() * total_weight;
      std::size_t b = 0;
      while (b + 1 < cumulative.size() && cumulative[b] <= u) ++b;
      ++size[b];
      for (Eigen::Index j = 0; j < d; ++j) x(i, j) = blob[b].centre[static_cast<std::size_t>(j)] + blob[b].sigma * rng.normal();
    }

    recmix::RowMatrixXf values(n, d);
    for (Eigen::Index j = 0; j < d; ++j) {
      double mean = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) mean += x(i, j);
      mean /= static_cast<double>(n);
      double var = 0.0;
      for (Eigen::Index i = 0; i < n; ++i) var += (x(i, j) - mean) * (x(i, j) - mean);
      const double sd = std::sqrt(var / static_cast<double>(n));
      const double scale = sd > 0.0 ? 1.0 / sd : 1.0;
      for (Eigen::Index i = 0; i < n; ++i) values(i, j) = static_cast<float>((x(i, j) - mean) * scale);
    }
    x.resize(0, 0);
    const double gen_s = seconds_since(t0);

    std::vector<std::string> columns;
    for (Eigen::Index j = 0; j < d; ++j) columns.push_back("x" + std::to_string(j));
    t0 = std::chrono::steady_clock::now();
    recmix::io::write_dense_csv(columns, values, out);
    const double write_s = seconds_since(t0);

    std::cerr << "recmix-make-blobs: " << rows << " x " << cols << ", " << blobs << " blobs, seed " << seed << " -> " << out << '\n'
              << "blob sizes:";
    for (std::int64_t s : size) std::cerr << ' ' << s;
    std::cerr << "\nblob sigmas (before standardizing):";
    for (const Blob& b : blob) std::fprintf(stderr, " %.3f", b.sigma);
    std::fprintf(stderr, "\nX as float32: %.1f MiB; generated in %.2fs, written in %.2fs\n",
                 static_cast<double>(rows) * static_cast<double>(cols) * 4.0 / 1048576.0, gen_s, write_s);
  } catch (const std::exception& e) {
    std::cerr << "recmix-make-blobs: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
