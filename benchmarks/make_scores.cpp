// recmix-make-scores: writes a deterministic dense score matrix and its 0/1 relevance matrix
// as CSV, the inputs of recmix-metrics-bench and benchmarks/anchors/sklearn_metrics.py.
//
//   recmix-make-scores --users N --scores S.csv --truth T.csv
//                      [--items 24] [--relevant 1.5] [--seed 42] [--signal 1.0]
//
// Both files have a header row "i0,...,i{items-1}" and one row per user.
//
// Relevance: each user's number of relevant items is Poisson(--relevant), capped at --items, so
// about exp(-relevant) of the users (22% at 1.5) have none; the mean is --relevant up to that
// cap. The items are drawn without replacement with Zipf-like popularity (item i has weight
// 1 / (i + 1)^1.2: i0 is what a current account is to a bank, the tail are the rare products).
//
// Scores: sigmoid(signal * relevant + 0.4 * log(popularity / top popularity) + N(0, 1) - 1), a
// noisy propensity that ranks relevant and popular items higher, so the metrics come out
// mid-range (defaults, 100k users: MAP@7 0.52, NDCG@7 0.62, recall@7 0.78 over the users with a
// relevant item). The scores are continuous floats and a row never
// holds the same value twice (a row with a tie is drawn again), so every ranking is strict and
// tie handling plays no part in a comparison. They are written in the shortest form that reads
// back as the same float, so two different floats of a row stay in the same order when read as
// doubles.
//
// The same arguments always produce the same files (one recmix::Rng stream, no <random>
// distributions). Statistics go to stderr. Exit status: 0 ok, 1 write failure, 2 bad arguments.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <recmix/core/random.hpp>

#include "driver_support.hpp"

using recmix::bench::seconds_since;

namespace {

constexpr const char* kUsage =
    "usage: recmix-make-scores --users N --scores S.csv --truth T.csv\n"
    "                          [--items 24] [--relevant 1.5] [--seed 42] [--signal 1.0]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "recmix-make-scores: " << message << '\n' << kUsage;
  std::exit(2);
}

template <class T>
T parse_value(std::string_view option, std::string_view text) {
  T value{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) {
    usage_error(std::string(option) + ": cannot parse '" + std::string(text) + "'");
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) usage_error(std::string(option) + " must be finite");
  }
  return value;
}

/// A CSV file written through one large buffer.
class CsvOut {
 public:
  static constexpr std::size_t kBuffer = std::size_t{8} << 20;
  static constexpr std::size_t kRowRoom = 1 << 16;  // flush before a row could overflow

  explicit CsvOut(std::string path) : path_(std::move(path)), buf_(kBuffer) {
    f_ = std::fopen(path_.c_str(), "wb");
    if (f_ == nullptr) throw std::runtime_error("cannot open '" + path_ + "' for writing: " + std::strerror(errno));
  }
  CsvOut(const CsvOut&) = delete;
  CsvOut& operator=(const CsvOut&) = delete;
  ~CsvOut() {
    if (f_ != nullptr) std::fclose(f_);
  }

  /// Room for one row of at most kRowRoom bytes.
  char* row_begin() {
    if (kBuffer - used_ < kRowRoom) flush();
    return buf_.data() + used_;
  }
  void row_end(char* p) { used_ = static_cast<std::size_t>(p - buf_.data()); }
  [[nodiscard]] char* limit() { return buf_.data() + kBuffer; }

  void close() {
    flush();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) throw std::runtime_error("cannot write '" + path_ + "': " + std::strerror(errno));
  }

 private:
  void flush() {
    if (used_ > 0 && std::fwrite(buf_.data(), 1, used_, f_) != used_) {
      throw std::runtime_error("cannot write '" + path_ + "': " + std::strerror(errno));
    }
    used_ = 0;
  }

  std::string path_;
  std::vector<char> buf_;
  std::size_t used_ = 0;
  std::FILE* f_ = nullptr;
};

/// Knuth's Poisson sampler (fine for the small means used here), capped at `cap`.
int poisson(recmix::Rng& rng, double mean, int cap) {
  if (mean <= 0.0) return 0;
  const double limit = std::exp(-mean);
  double p = rng.uniform_pos();
  int k = 0;
  while (p > limit && k < cap) {
    ++k;
    p *= rng.uniform_pos();
  }
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t users = 0;
  int items = 24;
  double relevant = 1.5;
  double signal = 1.0;
  std::uint64_t seed = 42;
  std::string scores_path, truth_path;
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
    if (arg == "--users") {
      users = parse_value<std::int64_t>(arg, value);
    } else if (arg == "--items") {
      items = parse_value<int>(arg, value);
    } else if (arg == "--relevant") {
      relevant = parse_value<double>(arg, value);
    } else if (arg == "--signal") {
      signal = parse_value<double>(arg, value);
    } else if (arg == "--seed") {
      seed = parse_value<std::uint64_t>(arg, value);
    } else if (arg == "--scores") {
      scores_path = std::string(value);
    } else if (arg == "--truth") {
      truth_path = std::string(value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (users < 1) usage_error("--users is required and must be >= 1");
  if (users > std::numeric_limits<std::int32_t>::max()) usage_error("--users must be < 2^31");
  if (items < 2 || items > 100000) usage_error("--items must be in [2, 100000]");
  if (relevant < 0.0 || relevant > 30.0) usage_error("--relevant must be in [0, 30]");
  if (scores_path.empty()) usage_error("--scores is required");
  if (truth_path.empty()) usage_error("--truth is required");
  if (scores_path == truth_path) usage_error("--scores and --truth must be different files");

  // Popularity: weight 1 / (i + 1)^1.2, and the score offset it gives.
  std::vector<double> weight(static_cast<std::size_t>(items)), offset(static_cast<std::size_t>(items));
  for (int i = 0; i < items; ++i) {
    weight[static_cast<std::size_t>(i)] = std::pow(static_cast<double>(i + 1), -1.2);
    offset[static_cast<std::size_t>(i)] = 0.4 * std::log(weight[static_cast<std::size_t>(i)] / weight[0]) - 1.0;
  }

  try {
    const auto t0 = std::chrono::steady_clock::now();
    recmix::Rng rng(seed);
    CsvOut scores_out(scores_path), truth_out(truth_path);
    for (CsvOut* out : {&scores_out, &truth_out}) {
      char* p = out->row_begin();
      for (int i = 0; i < items; ++i) {
        if (i > 0) *p++ = ',';
        *p++ = 'i';
        p = std::to_chars(p, out->limit(), i).ptr;
      }
      *p++ = '\n';
      out->row_end(p);
    }

    std::vector<std::uint8_t> truth(static_cast<std::size_t>(items));
    std::vector<float> row(static_cast<std::size_t>(items)), sorted(row.size());
    std::vector<std::int64_t> count_histogram(4, 0);  // 0, 1, 2, 3+ relevant items
    std::vector<std::int64_t> item_relevant(static_cast<std::size_t>(items), 0);
    std::int64_t total_relevant = 0, redrawn = 0;
    for (std::int64_t u = 0; u < users; ++u) {
      // Relevant items: weighted draws without replacement.
      std::fill(truth.begin(), truth.end(), 0);
      const int n_rel = poisson(rng, relevant, items);
      double remaining = 0.0;
      for (double w : weight) remaining += w;
      for (int d = 0; d < n_rel; ++d) {
        double x = rng.uniform() * remaining;
        int pick = -1;
        for (int i = 0; i < items; ++i) {
          if (truth[static_cast<std::size_t>(i)] != 0) continue;
          pick = i;  // the last free item absorbs rounding at the top of the range
          x -= weight[static_cast<std::size_t>(i)];
          if (x < 0.0) break;
        }
        truth[static_cast<std::size_t>(pick)] = 1;
        remaining -= weight[static_cast<std::size_t>(pick)];
        ++item_relevant[static_cast<std::size_t>(pick)];
      }
      total_relevant += n_rel;
      ++count_histogram[static_cast<std::size_t>(std::min(n_rel, 3))];

      // Scores, drawn again while the row holds a tie.
      for (;;) {
        for (int i = 0; i < items; ++i) {
          const double z = signal * truth[static_cast<std::size_t>(i)] + offset[static_cast<std::size_t>(i)] + rng.normal();
          row[static_cast<std::size_t>(i)] = static_cast<float>(1.0 / (1.0 + std::exp(-z)));
        }
        sorted = row;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) break;
        ++redrawn;
      }

      char* p = scores_out.row_begin();
      for (int i = 0; i < items; ++i) {
        if (i > 0) *p++ = ',';
        p = std::to_chars(p, scores_out.limit(), row[static_cast<std::size_t>(i)]).ptr;
      }
      *p++ = '\n';
      scores_out.row_end(p);

      p = truth_out.row_begin();
      for (int i = 0; i < items; ++i) {
        if (i > 0) *p++ = ',';
        *p++ = truth[static_cast<std::size_t>(i)] != 0 ? '1' : '0';
      }
      *p++ = '\n';
      truth_out.row_end(p);
    }
    scores_out.close();
    truth_out.close();
    const double seconds = seconds_since(t0);

    const double n = static_cast<double>(users);
    std::fprintf(stderr, "recmix-make-scores: %lld users x %d items, seed %llu -> %s, %s\n", static_cast<long long>(users), items,
                 static_cast<unsigned long long>(seed), scores_path.c_str(), truth_path.c_str());
    std::fprintf(stderr, "relevant per user: mean %.4f; 0: %.1f%%, 1: %.1f%%, 2: %.1f%%, 3+: %.1f%%\n",
                 static_cast<double>(total_relevant) / n, 100.0 * count_histogram[0] / n, 100.0 * count_histogram[1] / n,
                 100.0 * count_histogram[2] / n, 100.0 * count_histogram[3] / n);
    std::fprintf(stderr, "share of the relevant pairs on the first items:");
    for (int i = 0; i < std::min(items, 5); ++i) {
      std::fprintf(stderr, " i%d %.1f%%", i,
                   total_relevant > 0 ? 100.0 * item_relevant[static_cast<std::size_t>(i)] / static_cast<double>(total_relevant) : 0.0);
    }
    std::fprintf(stderr, "\nrows drawn again for a tie: %lld; written in %.2fs\n", static_cast<long long>(redrawn), seconds);
  } catch (const std::exception& e) {
    std::cerr << "recmix-make-scores: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
