// recmix-make-multilabel: writes a deterministic multi-label classification problem as two CSV
// files (train and test), the input of recmix-gbdt-bench and
// benchmarks/anchors/xgboost_multilabel.py.
//
//   recmix-make-multilabel --train TRAIN.csv --test TEST.csv [--rows 1000000]
//                          [--train-rows 800000] [--labels 24] [--seed 42] [--threads 0]
//
// Columns (header row, then one row per line):
//   x0..x7   continuous, written with at most 4 decimals; an empty field is a missing value
//            (x2 ~3%, informative: the rows whose x2 is hidden have a shifted latent score; x5
//            ~3% completely at random; x6 ~3%, more often for one level of c1)
//   c0..c11  integer-coded categoricals with 2,3,4,6,8,10,12,16,20,30,40,50 levels; level
//            frequencies are Zipf-like (the codes are shuffled, so code order means nothing)
//            and the two least frequent levels of every categorical with 16 or more levels are
//            made 20x rarer still
//   y0..y23  0/1 labels; label l has a target prevalence of 0.6 * (0.001 / 0.6)^(l / (L - 1))
//            (60% for y0 down to 0.1% for the last label, geometric)
// Rows 0..train-rows-1 go to --train, the rest to --test.
//
// Hidden model: five latent scores z0..z4 built from thresholds, interactions (x0 > 0.5 and c3
// in a set; x3 * x6; x0 * x4), smooth non-linearities (sin, exp(-x^2), log1p, tanh of log),
// categorical effects (c5, c7, c8, c9, c10, c11) and the x2 missingness; each is standardized
// on a pilot sample. x1's mean depends on c1, x3 is correlated with x1; x7 is pure noise and
// c0/c4/c6 enter only through label-specific terms. Label l:
//   logit_l = b_l + kSignal * (sum_k W[l,k] z_k + own_l)
//   own_l   = a small label-specific effect of one categorical plus a threshold on one x column
//   y_l     ~ Bernoulli(sigmoid(logit_l))
// W puts a large loading on latent l mod 5 and small ones on the others, so rare and common
// labels share structure. b_l is solved by bisection on the pilot sample so that the mean
// probability equals the target prevalence.
//
// Randomness: the model's parameters come from one recmix::Rng seeded with --seed; rows come in
// blocks of 8192, each from its own Rng seeded from (--seed, block), and the pilot sample from
// a separate set of blocks. So the files are the same bytes for any --threads. Each block is
// formatted once into its own buffer and written with one call; the files are written to a
// temporary name beside the target and renamed at the end.
//
// stderr: the prevalence of each label on the train rows, the missing shares, and the ceiling:
// ROC AUC of the TRUE probabilities on the test rows (mean over the labels with both classes,
// and over the 12 labels with the lowest train prevalence), with the true probabilities'
// mean log-loss. Exit status: 0 ok, 1 write failure, 2 bad arguments.

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <recmix/core/errors.hpp>
#include <recmix/core/parallel.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/types.hpp>
#include <recmix/metrics/classification.hpp>

#include "driver_support.hpp"

using recmix::bench::seconds_since;

namespace {

constexpr const char* kUsage =
    "usage: recmix-make-multilabel --train TRAIN.csv --test TEST.csv [--rows 1000000]\n"
    "                              [--train-rows 800000] [--labels 24] [--seed 42] [--threads 0 (all)]\n";

[[noreturn]] void usage_error(const std::string& message) {
  recmix::bench::usage_error("recmix-make-multilabel", kUsage, message);
}

template <class T>
T parse_value(std::string_view option, std::string_view text) {
  return recmix::bench::parse_value<T>(option, text, usage_error);
}

constexpr int kCont = 8;
constexpr int kCat = 12;
constexpr std::array<int, kCat> kLevels = {2, 3, 4, 6, 8, 10, 12, 16, 20, 30, 40, 50};
constexpr int kLatents = 5;
constexpr std::int64_t kBlockRows = 8192;
constexpr std::int64_t kPilotBlocks = 8;      // 65536 pilot rows
constexpr double kSignal = 1.2;               // scales every label's signal (sets the AUC ceiling)
constexpr double kPrevalenceTop = 0.6, kPrevalenceBottom = 0.001;
constexpr int kRareLabels = 12;

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

/// Everything drawn once from the model stream.
struct HiddenModel {
  int labels = 0;
  // Categorical level sampling: cumulative probabilities by frequency rank, and rank -> code.
  std::array<std::vector<double>, kCat> cumulative;
  std::array<std::vector<int>, kCat> code_of_rank;
  std::vector<double> x1_shift;          // by c1 level
  std::vector<std::uint8_t> c3_set;      // c3 levels in the z0 interaction
  int c1_missing_level = 0;              // the c1 level under which x6 goes missing more often
  std::vector<double> e0, e1, e2, e3, e4a, e4b;  // latent effects of c7, c10, c5, c11, c8, c9
  std::array<double, kLatents> mean{}, inv_sd{};  // standardization of the raw latents (pilot)
  std::vector<double> loading;           // labels x kLatents
  std::vector<int> own_cat;              // label-specific categorical column
  std::vector<std::vector<double>> own_effect;
  std::vector<int> own_x;                // label-specific threshold column
  std::vector<double> own_threshold, own_weight;
  std::vector<double> bias;              // solved on the pilot sample
  std::vector<double> target;            // prevalence targets
};

std::vector<double> normal_table(recmix::Rng& rng, int n, double scale) {
  std::vector<double> t(static_cast<std::size_t>(n));
  for (double& v : t) v = scale * rng.normal();
  return t;
}

HiddenModel draw_model(std::uint64_t seed, int labels) {
  recmix::Rng rng(seed);
  HiddenModel m;
  m.labels = labels;
  for (int j = 0; j < kCat; ++j) {
    const int levels = kLevels[static_cast<std::size_t>(j)];
    const double s = 0.6 + 0.8 * rng.uniform();  // Zipf exponent
    std::vector<double> w(static_cast<std::size_t>(levels));
    for (int r = 0; r < levels; ++r) w[static_cast<std::size_t>(r)] = 1.0 / std::pow(r + 1.0, s);
    if (levels >= 16) {
      w[static_cast<std::size_t>(levels - 1)] *= 0.05;
      w[static_cast<std::size_t>(levels - 2)] *= 0.05;
    }
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    auto& cum = m.cumulative[static_cast<std::size_t>(j)];
    double acc = 0.0;
    for (double v : w) cum.push_back(acc += v / total);
    cum.back() = 1.0;
    auto& perm = m.code_of_rank[static_cast<std::size_t>(j)];
    perm.resize(static_cast<std::size_t>(levels));
    std::iota(perm.begin(), perm.end(), 0);
    for (int i = levels - 1; i > 0; --i) {
      const auto k = static_cast<int>(rng.below(static_cast<std::uint64_t>(i) + 1));
      std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(k)]);
    }
  }
  m.x1_shift = normal_table(rng, kLevels[1], 0.5);
  m.c3_set.assign(static_cast<std::size_t>(kLevels[3]), 0);
  for (auto& v : m.c3_set) v = rng.uniform() < 0.5 ? 1 : 0;
  m.c3_set[0] = 1;  // never empty, never full
  m.c3_set[1] = 0;
  m.c1_missing_level = static_cast<int>(rng.below(static_cast<std::uint64_t>(kLevels[1])));
  m.e0 = normal_table(rng, kLevels[7], 0.7);
  m.e1 = normal_table(rng, kLevels[10], 0.7);
  m.e2 = normal_table(rng, kLevels[5], 0.7);
  m.e3 = normal_table(rng, kLevels[11], 0.7);
  m.e4a = normal_table(rng, kLevels[8], 0.6);
  m.e4b = normal_table(rng, kLevels[9], 0.6);
  m.loading.assign(static_cast<std::size_t>(labels) * kLatents, 0.0);
  for (int l = 0; l < labels; ++l) {
    for (int k = 0; k < kLatents; ++k) {
      double w = 0.3 * rng.normal();
      if (k == l % kLatents) w = (rng.uniform() < 0.8 ? 1.0 : -1.0) * (1.0 + 0.6 * rng.uniform());
      m.loading[static_cast<std::size_t>(l) * kLatents + static_cast<std::size_t>(k)] = w;
    }
  }
  for (int l = 0; l < labels; ++l) {
    const auto c = static_cast<int>(rng.below(kCat));
    m.own_cat.push_back(c);
    m.own_effect.push_back(normal_table(rng, kLevels[static_cast<std::size_t>(c)], 0.35));
    m.own_x.push_back(static_cast<int>(rng.below(7)));  // x0..x6
    m.own_threshold.push_back(rng.normal() * 0.7);
    m.own_weight.push_back(0.5 * rng.normal());
  }
  for (int l = 0; l < labels; ++l) {
    const double t = labels == 1 ? 0.0 : static_cast<double>(l) / (labels - 1);
    m.target.push_back(kPrevalenceTop * std::pow(kPrevalenceBottom / kPrevalenceTop, t));
  }
  m.mean.fill(0.0);
  m.inv_sd.fill(1.0);
  m.bias.assign(static_cast<std::size_t>(labels), 0.0);
  return m;
}

/// One generated row: the values as written (NaN = missing) and the label signal.
struct Row {
  std::array<double, kCont> x{};    // as written (rounded, NaN when missing)
  std::array<int, kCat> c{};
  std::array<double, kLatents> z{};  // standardized latents
};

double round4(double v) {
  const double r = std::round(v * 1e4) / 1e4;
  return r == 0.0 ? 0.0 : r;  // no "-0"
}

int draw_level(recmix::Rng& rng, const HiddenModel& m, int j) {
  const auto& cum = m.cumulative[static_cast<std::size_t>(j)];
  const double u = rng.uniform();
  std::size_t r = 0;
  while (r + 1 < cum.size() && cum[r] <= u) ++r;
  return m.code_of_rank[static_cast<std::size_t>(j)][r];
}

/// Draws a row's features and its standardized latents. Always the same number of draws.
void draw_row(recmix::Rng& rng, const HiddenModel& m, Row& row) {
  for (int j = 0; j < kCat; ++j) row.c[static_cast<std::size_t>(j)] = draw_level(rng, m, j);
  const auto& c = row.c;
  std::array<double, kCont> x{};
  x[0] = rng.uniform();
  x[1] = rng.normal() + m.x1_shift[static_cast<std::size_t>(c[1])];
  x[2] = std::exp(0.8 * rng.normal());
  x[3] = 0.6 * x[1] + 0.8 * rng.normal();
  x[4] = 2.0 * rng.uniform() - 1.0;
  x[5] = -1.5 * std::log(rng.uniform_pos());
  x[6] = rng.normal();
  x[7] = rng.normal();
  for (double& v : x) v = round4(v);
  const double u2 = rng.uniform(), u5 = rng.uniform(), u6 = rng.uniform();
  const bool miss2 = u2 < 0.03;
  const bool miss5 = u5 < 0.03;
  const bool miss6 = u6 < (c[1] == m.c1_missing_level ? 0.10 : 0.02);

  std::array<double, kLatents> z{};
  z[0] = 1.6 * (x[0] > 0.5 && m.c3_set[static_cast<std::size_t>(c[3])] != 0) + 0.8 * std::sin(2.5 * x[1]) +
         m.e0[static_cast<std::size_t>(c[7])] - 0.5 * (x[0] < 0.15);
  z[1] = 1.0 * (x[4] > 0.2) - 0.8 * (x[4] < -0.6) + 0.6 * std::clamp(x[3] * x[6], -3.0, 3.0) +
         m.e1[static_cast<std::size_t>(c[10])];
  z[2] = 0.7 * std::log1p(x[5]) + 1.2 * miss2 + m.e2[static_cast<std::size_t>(c[5])] + 0.5 * (c[0] == 1) * x[4];
  z[3] = 1.2 * std::exp(-x[1] * x[1]) * (c[2] == 0 ? 1.0 : -0.6) + m.e3[static_cast<std::size_t>(c[11])] + 0.4 * x[6];
  z[4] = 0.8 * std::tanh(std::log(std::max(x[2], 1e-4))) + m.e4a[static_cast<std::size_t>(c[8])] +
         m.e4b[static_cast<std::size_t>(c[9])] + 1.6 * (x[0] - 0.5) * x[4];
  for (int k = 0; k < kLatents; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    row.z[kk] = (z[kk] - m.mean[kk]) * m.inv_sd[kk];
  }
  row.x = x;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (miss2) row.x[2] = nan;
  if (miss5) row.x[5] = nan;
  if (miss6) row.x[6] = nan;
}

/// The label signal without the bias. `hidden` is the row's x with missing values replaced by
/// -1e300, so a missing value is on the "not above" side of the label's own threshold.
double label_signal(const HiddenModel& m, const Row& row, const std::array<double, kCont>& hidden, int l) {
  const auto ls = static_cast<std::size_t>(l);
  double s = 0.0;
  for (int k = 0; k < kLatents; ++k) s += m.loading[ls * kLatents + static_cast<std::size_t>(k)] * row.z[static_cast<std::size_t>(k)];
  s += m.own_effect[ls][static_cast<std::size_t>(row.c[static_cast<std::size_t>(m.own_cat[ls])])];
  s += m.own_weight[ls] * (hidden[static_cast<std::size_t>(m.own_x[ls])] > m.own_threshold[ls] ? 1.0 : -1.0);
  return kSignal * s;
}

std::uint64_t block_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t block) {
  std::uint64_t st = seed ^ (0xA0761D6478BD642FULL * (block + 1)) ^ (0xE7037ED1A0B428DBULL * (stream + 1));
  return recmix::splitmix64(st);
}

/// Draws a row and keeps the feature values before missingness for label_signal.
void draw_full(recmix::Rng& rng, const HiddenModel& m, Row& row, std::array<double, kCont>& hidden) {
  draw_row(rng, m, row);
  hidden = row.x;  // the latents already used the values behind the missing ones
  for (double& v : hidden) {
    if (std::isnan(v)) v = -1e300;
  }
}

/// Pilot: standardization of the latents, then the biases.
void calibrate(HiddenModel& m, std::uint64_t seed, int threads) {
  const std::int64_t n = kPilotBlocks * kBlockRows;
  std::vector<Row> rows(static_cast<std::size_t>(n));
  std::vector<std::array<double, kCont>> hidden(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; b < kPilotBlocks; ++b) {
    recmix::Rng rng(block_seed(seed, 1, static_cast<std::uint64_t>(b)));
    for (std::int64_t i = b * kBlockRows; i < (b + 1) * kBlockRows; ++i) {
      draw_full(rng, m, rows[static_cast<std::size_t>(i)], hidden[static_cast<std::size_t>(i)]);
    }
  }
  // rows[].z are raw here (mean 0, inv_sd 1).
  for (int k = 0; k < kLatents; ++k) {
    const auto kk = static_cast<std::size_t>(k);
    double mean = 0.0;
    for (const Row& r : rows) mean += r.z[kk];
    mean /= static_cast<double>(n);
    double var = 0.0;
    for (const Row& r : rows) var += (r.z[kk] - mean) * (r.z[kk] - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    m.mean[kk] = mean;
    m.inv_sd[kk] = sd > 0.0 ? 1.0 / sd : 1.0;
    for (Row& r : rows) r.z[kk] = (r.z[kk] - mean) * m.inv_sd[kk];
  }
  recmix::detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (int l = 0; l < m.labels; ++l) {
    errors.run([&] {
      std::vector<double> s(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        s[static_cast<std::size_t>(i)] = label_signal(m, rows[static_cast<std::size_t>(i)], hidden[static_cast<std::size_t>(i)], l);
      }
      double lo = -40.0, hi = 20.0;
      for (int it = 0; it < 50; ++it) {
        const double mid = 0.5 * (lo + hi);
        double mean = 0.0;
        for (double v : s) mean += sigmoid(mid + v);
        mean /= static_cast<double>(n);
        (mean < m.target[static_cast<std::size_t>(l)] ? lo : hi) = mid;
      }
      m.bias[static_cast<std::size_t>(l)] = 0.5 * (lo + hi);
    });
  }
  (void)threads;
  errors.rethrow();
}

/// Appends the text of a value with at most 4 decimals (already rounded), trailing zeros cut.
char* put_x(char* p, double v) {
  if (std::isnan(v)) return p;
  char* const start = p;
  p = std::to_chars(p, p + 32, v, std::chars_format::fixed, 4).ptr;
  char* dot = static_cast<char*>(std::memchr(start, '.', static_cast<std::size_t>(p - start)));
  if (dot != nullptr) {
    while (p > dot + 1 && p[-1] == '0') --p;
    if (p == dot + 1) p = dot;
  }
  return p;
}

char* put_int(char* p, int v) { return std::to_chars(p, p + 16, v).ptr; }

/// One generated block: its text (rows [begin, end)), the offset at which the test rows start,
/// and the per-label positives among its train rows.
struct Block {
  std::string text;
  std::size_t split = 0;
  std::vector<std::int64_t> train_pos;
  std::array<std::int64_t, kCont> missing{};
};

void make_block(const HiddenModel& m, std::uint64_t seed, std::int64_t b, std::int64_t rows, std::int64_t train_rows,
                Block& out, recmix::RowMatrixXf& test_p, recmix::RowMatrixXf& test_y) {
  const int L = m.labels;
  const std::int64_t begin = b * kBlockRows, end = std::min(rows, begin + kBlockRows);
  recmix::Rng rng(block_seed(seed, 0, static_cast<std::uint64_t>(b)));
  const std::size_t max_row = kCont * 24 + kCat * 4 + static_cast<std::size_t>(L) * 2 + 8;
  out.text.resize(static_cast<std::size_t>(end - begin) * max_row);
  out.train_pos.assign(static_cast<std::size_t>(L), 0);
  out.missing.fill(0);
  out.split = std::string::npos;
  char* const base = out.text.data();
  char* p = base;
  Row row;
  std::array<double, kCont> hidden{};
  for (std::int64_t i = begin; i < end; ++i) {
    if (i == train_rows) out.split = static_cast<std::size_t>(p - base);
    draw_full(rng, m, row, hidden);
    for (int j = 0; j < kCont; ++j) {
      if (j > 0) *p++ = ',';
      const double v = row.x[static_cast<std::size_t>(j)];
      out.missing[static_cast<std::size_t>(j)] += std::isnan(v) ? 1 : 0;
      p = put_x(p, v);
    }
    for (int j = 0; j < kCat; ++j) {
      *p++ = ',';
      p = put_int(p, row.c[static_cast<std::size_t>(j)]);
    }
    for (int l = 0; l < L; ++l) {
      const double prob = sigmoid(m.bias[static_cast<std::size_t>(l)] + label_signal(m, row, hidden, l));
      const bool y = rng.uniform() < prob;
      *p++ = ',';
      *p++ = y ? '1' : '0';
      if (i < train_rows) {
        out.train_pos[static_cast<std::size_t>(l)] += y ? 1 : 0;
      } else {
        test_p(i - train_rows, l) = static_cast<float>(prob);
        test_y(i - train_rows, l) = y ? 1.0f : 0.0f;
      }
    }
    *p++ = '\n';
  }
  out.text.resize(static_cast<std::size_t>(p - base));
  if (out.split == std::string::npos) out.split = begin >= train_rows ? 0 : out.text.size();
}

/// A file written to a temporary name and renamed over the target by commit().
class OutputFile {
 public:
  explicit OutputFile(std::filesystem::path path) : path_(std::move(path)) {
    tmp_ = path_;
    tmp_ += ".tmp-" + std::to_string(static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007));
    errno = 0;
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) {
      throw recmix::io_error("cannot create '" + tmp_.string() + "': " + std::generic_category().message(errno));
    }
    std::setvbuf(f_, nullptr, _IONBF, 0);  // blocks are written whole, no second copy
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::error_code ignored;
      std::filesystem::remove(tmp_, ignored);
    }
  }
  void write(const char* data, std::size_t size) {
    if (size > 0 && std::fwrite(data, 1, size, f_) != size) throw recmix::io_error("write to '" + tmp_.string() + "' failed");
  }
  void commit() {
    const int rc = std::fclose(f_);
    f_ = nullptr;
    std::error_code ec;
    if (rc != 0) {
      std::filesystem::remove(tmp_, ec);
      throw recmix::io_error("closing '" + tmp_.string() + "' failed");
    }
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      std::filesystem::remove(tmp_, ec);
      throw recmix::io_error("cannot rename '" + tmp_.string() + "' to '" + path_.string() + "'");
    }
  }

 private:
  std::filesystem::path path_, tmp_;
  std::FILE* f_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  std::int64_t rows = 1000000, train_rows = 800000;
  int labels = 24, threads = 0;
  std::uint64_t seed = 42;
  std::string train_path, test_path;
  for (int a = 1; a < argc; ++a) {
    std::string_view arg = argv[a];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (!arg.starts_with("--")) usage_error("unexpected argument '" + std::string(arg) + "'");
    std::string_view value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (a + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++a];
    }
    if (arg == "--rows") {
      rows = parse_value<std::int64_t>(arg, value);
    } else if (arg == "--train-rows") {
      train_rows = parse_value<std::int64_t>(arg, value);
    } else if (arg == "--labels") {
      labels = parse_value<int>(arg, value);
    } else if (arg == "--seed") {
      seed = parse_value<std::uint64_t>(arg, value);
    } else if (arg == "--threads") {
      threads = parse_value<int>(arg, value);
    } else if (arg == "--train") {
      train_path = std::string(value);
    } else if (arg == "--test") {
      test_path = std::string(value);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (rows < 2 || rows > 2147483647) usage_error("--rows must be in 2..2^31-1");
  if (train_rows < 1 || train_rows >= rows) usage_error("--train-rows must be in 1..rows-1");
  if (labels < 1 || labels > 1000) usage_error("--labels must be in 1..1000");
  if (threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  if (train_path.empty() || test_path.empty()) usage_error("--train and --test are required");

  try {
    const auto t0 = std::chrono::steady_clock::now();
    const int n_threads = recmix::resolve_threads(threads);
    HiddenModel m = draw_model(seed, labels);
    calibrate(m, seed, n_threads);
    const double calibrate_s = seconds_since(t0);

    const std::int64_t n_test = rows - train_rows;
    recmix::RowMatrixXf test_p(n_test, labels), test_y(n_test, labels);
    std::vector<std::int64_t> train_pos(static_cast<std::size_t>(labels), 0);
    std::array<std::int64_t, kCont> missing{};
    OutputFile train_file(train_path), test_file(test_path);
    std::string header;
    for (int j = 0; j < kCont; ++j) header += (j > 0 ? ",x" : "x") + std::to_string(j);
    for (int j = 0; j < kCat; ++j) header += ",c" + std::to_string(j);
    for (int l = 0; l < labels; ++l) header += ",y" + std::to_string(l);
    header += '\n';
    train_file.write(header.data(), header.size());
    test_file.write(header.data(), header.size());

    const std::int64_t n_blocks = (rows + kBlockRows - 1) / kBlockRows;
    const std::int64_t chunk = 4 * static_cast<std::int64_t>(n_threads);  // blocks generated at once
    std::vector<Block> blocks(static_cast<std::size_t>(chunk));
    for (std::int64_t b0 = 0; b0 < n_blocks; b0 += chunk) {
      const std::int64_t b1 = std::min(n_blocks, b0 + chunk);
      recmix::detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
#endif
      for (std::int64_t b = b0; b < b1; ++b) {
        errors.run([&] { make_block(m, seed, b, rows, train_rows, blocks[static_cast<std::size_t>(b - b0)], test_p, test_y); });
      }
      errors.rethrow();
      for (std::int64_t b = b0; b < b1; ++b) {
        const Block& blk = blocks[static_cast<std::size_t>(b - b0)];
        train_file.write(blk.text.data(), blk.split);
        test_file.write(blk.text.data() + blk.split, blk.text.size() - blk.split);
        for (int l = 0; l < labels; ++l) train_pos[static_cast<std::size_t>(l)] += blk.train_pos[static_cast<std::size_t>(l)];
        for (int j = 0; j < kCont; ++j) missing[static_cast<std::size_t>(j)] += blk.missing[static_cast<std::size_t>(j)];
      }
    }
    train_file.commit();
    test_file.commit();
    const double total_s = seconds_since(t0);

    // The ceiling: the true probabilities scored against the drawn test labels.
    const recmix::metrics::LabelScores auc = recmix::metrics::roc_auc(test_p, test_y, {.threads = n_threads});
    const recmix::metrics::LabelScores ll = recmix::metrics::log_loss(test_p, test_y);
    std::vector<int> order(static_cast<std::size_t>(labels));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return train_pos[static_cast<std::size_t>(a)] < train_pos[static_cast<std::size_t>(b)];
    });
    const int n_rare = std::min(kRareLabels, labels);
    double rare_sum = 0.0;
    int rare_n = 0;
    for (int r = 0; r < n_rare; ++r) {
      const double v = auc.per_label[static_cast<std::size_t>(order[static_cast<std::size_t>(r)])];
      if (!std::isnan(v)) {
        rare_sum += v;
        ++rare_n;
      }
    }

    std::fprintf(stderr, "recmix-make-multilabel: %lld rows (%lld train -> %s, %lld test -> %s), %d labels, seed %llu\n",
                 static_cast<long long>(rows), static_cast<long long>(train_rows), train_path.c_str(),
                 static_cast<long long>(n_test), test_path.c_str(), labels, static_cast<unsigned long long>(seed));
    std::fprintf(stderr, "missing share per x column:");
    for (int j = 0; j < kCont; ++j) std::fprintf(stderr, " x%d=%.4f", j, static_cast<double>(missing[static_cast<std::size_t>(j)]) / rows);
    std::fprintf(stderr, "\nlabel  train_prev  target    test_pos  true_prob_auc\n");
    for (int l = 0; l < labels; ++l) {
      const auto ls = static_cast<std::size_t>(l);
      std::fprintf(stderr, "y%-4d  %9.5f  %8.5f  %8lld  %.4f\n", l, static_cast<double>(train_pos[ls]) / train_rows, m.target[ls],
                   static_cast<long long>(test_y.col(l).sum()), auc.per_label[ls]);
    }
    std::fprintf(stderr,
                 "ceiling (true probabilities on the test rows): mean_auc %.4f over %d labels, rare_auc %.4f over the %d rarest "
                 "(train prevalence), mean_logloss %.5f\n",
                 auc.macro, static_cast<int>(auc.defined), rare_n > 0 ? rare_sum / rare_n : std::nan(""), rare_n, ll.macro);
    std::fprintf(stderr, "pilot calibration %.2fs, total %.2fs (%d threads)\n", calibrate_s, total_s, n_threads);
  } catch (const std::exception& e) {
    std::cerr << "recmix-make-multilabel: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
