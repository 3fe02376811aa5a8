// The bad-input catalogue of docs/errors.md: one test case per row of its table (the test name is
// the row's), each checking the exact exception type and the key parts of its message, then the
// guarantees the page states: a failed load leaves the model untouched, and a save or write that
// fails halfway (a file-size limit in a child process) leaves the previous file byte-identical
// and no temporary file behind.
//
// Set RECMIX_ERRORS_PRINT=1 to print every message checked (used to write the table).

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/als/implicit_als.hpp>
#include <recmix/cluster/kmeans.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/id_map.hpp>
#include <recmix/core/interaction_log.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/types.hpp>
#include <recmix/datasets/santander_load.hpp>
#include <recmix/features/scaling.hpp>
#include <recmix/io/coo.hpp>
#include <recmix/io/csv.hpp>
#include <recmix/io/serialization.hpp>
#include <recmix/split/random_split.hpp>
#include <recmix/trees/multilabel_gbdt.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
namespace sd = recmix::datasets::santander;
using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::als::ImplicitALS;
using recmix::cluster::KMeans;
using recmix::features::StandardScaler;
using recmix::test::TempDir;
using recmix::trees::MultiLabelGBDT;

namespace {

// ---- checking an error ----------------------------------------------------------------------

/// Runs `f`, which must throw exactly `E` (not merely something derived from the type asked
/// for), and returns the message; a failed check otherwise.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const recmix::error& e) {
    CHECK_MESSAGE(typeid(e) == typeid(E), "threw " << typeid(e).name() << " (" << e.what() << "), expected "
                                                   << typeid(E).name());
    if (std::getenv("RECMIX_ERRORS_PRINT") != nullptr) std::cout << "  [" << typeid(e).name() << "] " << e.what() << '\n';
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("threw a std::exception that is not a recmix::error: " << e.what());
    return {};
  }
  FAIL_CHECK("nothing was thrown");
  return {};
}

/// `f` throws E (CHECK_THROWS_AS) and its message holds every one of `parts`.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string_view> parts) {
  CHECK_THROWS_AS(f(), E);
  const std::string what = message_of<E>(f);
  for (const std::string_view part : parts) {
    CHECK_MESSAGE(what.find(part) != std::string::npos, "the message '" << what << "' lacks '" << part << "'");
  }
}

/// The parse_error thrown by `f`, for its line() and column().
template <class F>
recmix::parse_error parse_error_of(F&& f) {
  try {
    f();
  } catch (const recmix::parse_error& e) {
    return e;
  } catch (...) {
  }
  FAIL("no parse_error thrown");
  return recmix::parse_error("", 0, 0, "");
}

// ---- files ----------------------------------------------------------------------------------

using recmix::test::listing;
using recmix::test::read_bytes;
using recmix::test::write_bytes;

template <class Model>
std::string saved(const Model& model, recmix::ArchiveFormat format = recmix::ArchiveFormat::binary) {
  std::ostringstream out(std::ios::binary);
  recmix::save(model, out, {.format = format});
  return std::move(out).str();
}

/// A model file cut into its first two lines (without '\n') and its payload.
struct ModelFile {
  std::string magic, header, payload;

  explicit ModelFile(const std::string& file) {
    const std::size_t a = file.find('\n');
    REQUIRE(a != std::string::npos);
    const std::size_t b = file.find('\n', a + 1);
    REQUIRE(b != std::string::npos);
    magic = file.substr(0, a);
    header = file.substr(a + 1, b - a - 1);
    payload = file.substr(b + 1);
  }

  /// The file again, with the header's byte count and CRC-32 recomputed for the payload.
  [[nodiscard]] std::string reassembled() const {
    const std::size_t at = header.find(" bytes ");
    REQUIRE(at != std::string::npos);
    char crc[16];
    std::snprintf(crc, sizeof crc, "%08x", static_cast<unsigned>(recmix::detail::crc32(payload.data(), payload.size())));
    return magic + '\n' + header.substr(0, at) + " bytes " + std::to_string(payload.size()) + " crc32 " + crc + '\n' +
           payload;
  }
};

/// `text` with the first `from` replaced by `to` (which must be there).
std::string replace_first(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not found");
  return text.replace(at, from.size(), to);
}

// ---- fitted models, built once ---------------------------------------------------------------

InteractionMatrix small_interactions() { return recmix::test::random_matrix(40, 15, 0.3, 11); }

const ImplicitALS<float>& fitted_als() {
  static const ImplicitALS<float> model = [] {
    ImplicitALS<float> m({.factors = 4, .iterations = 2, .seed = 7});
    m.fit(small_interactions());
    return m;
  }();
  return model;
}

RowMatrixXf random_points(Index rows, Index cols, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  RowMatrixXf X(rows, cols);
  for (Index i = 0; i < X.size(); ++i) X.data()[i] = normal(rng);
  return X;
}

/// 0/1 labels: label l of row i is 1 when feature l of row i is positive (learnable), with noise.
RowMatrixXf labels_for(const RowMatrixXf& X, Index labels, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution flip(0.1);
  RowMatrixXf Y(X.rows(), labels);
  for (Index i = 0; i < X.rows(); ++i) {
    for (Index l = 0; l < labels; ++l) Y(i, l) = (X(i, l % X.cols()) > 0.0f) != flip(rng) ? 1.0f : 0.0f;
  }
  return Y;
}

const KMeans<float>& fitted_kmeans() {
  static const KMeans<float> model = [] {
    KMeans<float> m({.k = 3, .seed = 5});
    m.fit(random_points(30, 3, 1));
    return m;
  }();
  return model;
}

const MultiLabelGBDT& fitted_gbdt() {
  static const MultiLabelGBDT model = [] {
    MultiLabelGBDT m({.rounds = 3, .max_depth = 2, .min_child_weight = 0.0});
    const RowMatrixXf X = random_points(50, 2, 2);
    m.fit(X, labels_for(X, 2, 3));
    return m;
  }();
  return model;
}

const StandardScaler& fitted_scaler() {
  static const StandardScaler model = [] {
    StandardScaler s;
    s.fit(random_points(10, 2, 4));
    return s;
  }();
  return model;
}

// ---- Santander records -----------------------------------------------------------------------

/// One train_ver2.csv record (48 fields and '\n') of customer `id` in month `date`; `set` replaces
/// fields, by 0-based column, with raw text (quotes included).
std::string santander_record(const std::string& date, const std::string& id,
                             std::initializer_list<std::pair<std::size_t, std::string>> set = {}) {
  std::vector<std::string> f = {date, id,   "N",  "ES", "V",  " 35", "2012-08-10", " 0", "     35", " 1",     "",
                                "1",  "I",  "S",  "N",  "",   "KFC", "N",          " 1", "28",     "MADRID", " 1",
                                "102345.6", "02 - PARTICULARES"};
  f.resize(48, "0");
  f[26] = "1";
  for (const auto& [column, text] : set) f.at(column) = text;
  std::string line;
  for (std::size_t c = 0; c < f.size(); ++c) {
    if (c > 0) line += ',';
    line += f[c];
  }
  return line + '\n';
}

/// Parses `text` in strict mode, naming it train.csv.
sd::Dataset parse_strict(const std::string& text) {
  sd::LoadOptions options;
  options.mode = sd::LoadMode::strict;
  options.threads = 1;
  return sd::parse(text, options, "train.csv");
}

// ---- a child process with a file-size limit --------------------------------------------------

/// Runs `write` in a child process whose files cannot grow beyond `limit` bytes: the soft
/// RLIMIT_FSIZE (RLIM_INFINITY: no limit beyond the hard one), with SIGXFSZ ignored so that a
/// write beyond it fails with EFBIG instead of killing the child.
/// Returns the child's exit code: 0 when `write` threw recmix::io_error, 1 when it returned, 2
/// when it threw anything else, 3 when the limit could not be set. The child runs no OpenMP
/// region (only the parent fits models) and leaves with _exit, so nothing of the test framework
/// runs twice.
int write_under_file_size_limit(rlim_t limit, const std::function<void()>& write) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit rl{};
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
    rl.rlim_cur = std::min(limit, rl.rlim_max);  // the hard limit stays as it is
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
    int code = 2;
    try {
      write();
      code = 1;
    } catch (const recmix::io_error&) {
      code = 0;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

constexpr rlim_t kFileSizeLimit = 16 * 1024;

}  // namespace

// ================================================================================================
// The hierarchy
// ================================================================================================

static_assert(std::is_base_of_v<std::runtime_error, recmix::error>);
static_assert(std::is_base_of_v<recmix::error, recmix::invalid_argument>);
static_assert(std::is_base_of_v<recmix::error, recmix::not_fitted>);
static_assert(std::is_base_of_v<recmix::error, recmix::parse_error>);
static_assert(std::is_base_of_v<recmix::error, recmix::model_format_error>);
static_assert(std::is_base_of_v<recmix::error, recmix::io_error>);

TEST_CASE("errors: every recmix exception is caught as recmix::error and std::runtime_error") {
  auto thrower = [] { (void)fitted_als().similar_items(std::vector<Index>{99}, 3); };
  CHECK_THROWS_AS(thrower(), recmix::error);
  CHECK_THROWS_AS(thrower(), std::runtime_error);
  CHECK_THROWS_AS(thrower(), std::exception);
  // and not as a sibling
  bool sibling = false;
  try {
    thrower();
  } catch (const recmix::not_fitted&) {
    sibling = true;
  } catch (const recmix::error&) {
  }
  CHECK_FALSE(sibling);
}

// ================================================================================================
// Malformed text: CSV, COO, the Santander file
// ================================================================================================

TEST_CASE("errors: csv unterminated quote") {
  auto f = [] {
    std::istringstream in("a,b\n1,\"2\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:2:3: ", "unterminated quoted field"});
  const recmix::parse_error e = parse_error_of(f);
  CHECK(e.source() == "data.csv");
  CHECK(e.line() == 2);
  CHECK(e.column() == 3);
}

TEST_CASE("errors: csv text after closing quote") {
  auto f = [] {
    std::istringstream in("name,city\nAna,\"Madrid\"x\n");
    recmix::io::CsvReader reader(in, "people.csv");
    std::vector<std::string_view> fields;
    while (reader.next(fields)) {
    }
  };
  expect_error<recmix::parse_error>(f, {"people.csv:2:13: ", "unexpected 'x' after the closing quote of the field at column 5"});
}

TEST_CASE("errors: csv too many fields") {
  auto f = [] {
    std::istringstream in("a,b\n1,2\n1,2,3\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:3:5: ", "expected 2 fields, found 3"});
}

TEST_CASE("errors: csv too few fields") {
  auto f = [] {
    std::istringstream in("a,b,c\n1,2\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:2:4: ", "expected 3 fields, found 2"});
}

TEST_CASE("errors: csv non-numeric field") {
  auto f = [] {
    std::istringstream in("age,income\n35,high\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:2:4: ", "expected a number in column 'income', got 'high'"});
}

TEST_CASE("errors: csv missing value") {
  auto empty = [] {
    std::istringstream in("a,b\n1,\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(empty, {"data.csv:2:3: ", "empty field in column 'b'", "MissingValues::error"});
  auto na = [] {
    std::istringstream in("a,b\nNA,1\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(na, {"data.csv:2:1: ", "missing value 'NA' in column 'a'"});
  // the same input is accepted as NaN when asked for
  std::istringstream in("a,b\nNA,1\n");
  const auto t = recmix::io::read_dense_csv(in, "data.csv", {.missing = recmix::io::MissingValues::nan});
  CHECK(std::isnan(t.values(0, 0)));
}

TEST_CASE("errors: csv infinite value") {
  auto f = [] {
    std::istringstream in("a,b\n1,inf\n");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:2:3: ", "value 'inf' in column 'b' is not finite"});
}

TEST_CASE("errors: csv empty input") {
  auto f = [] {
    std::istringstream in("");
    (void)recmix::io::read_dense_csv(in, "data.csv");
  };
  expect_error<recmix::parse_error>(f, {"data.csv:1:1: empty input"});
}

TEST_CASE("errors: csv missing file") {
  TempDir dir("recmix-errors");
  const fs::path missing = dir / "missing.csv";
  expect_error<recmix::io_error>([&] { (void)recmix::io::read_dense_csv(missing); },
                                 {"CsvReader::open: cannot open '", "missing.csv'", "No such file or directory"});
}

TEST_CASE("errors: csv write infinite value") {
  TempDir dir("recmix-errors");
  const std::vector<std::string> names = {"a", "b"};
  RowMatrixXf values = RowMatrixXf::Zero(2, 2);
  values(1, 1) = std::numeric_limits<float>::infinity();
  expect_error<recmix::invalid_argument>([&] { recmix::io::write_dense_csv(names, values, dir / "out.csv"); },
                                         {"write_dense_csv: value at row 1, column 'b' is infinite"});
  CHECK(listing(dir.path()).empty());  // checked before any file is created
}

TEST_CASE("errors: coo non-numeric value") {
  auto f = [] {
    std::istringstream in("2 2 1\n0 1 x\n");
    (void)recmix::io::read_coo(in, "plays.coo");
  };
  expect_error<recmix::parse_error>(f, {"plays.coo:2:5: ", "expected numeric value, got 'x'"});
}

TEST_CASE("errors: coo index out of range") {
  auto f = [] {
    std::istringstream in("2 2 1\n5 0 1\n");
    (void)recmix::io::read_coo(in, "plays.coo");
  };
  expect_error<recmix::parse_error>(f, {"plays.coo:2:1: ", "row index 5 out of range [0, 2)"});
}

TEST_CASE("errors: coo fewer entries than declared") {
  auto f = [] {
    std::istringstream in("2 2 2\n0 0 1\n");
    (void)recmix::io::read_coo(in, "plays.coo");
  };
  expect_error<recmix::parse_error>(f, {"plays.coo:3:1: ", "file ends after 1 of the 2 entries the header declares"});
}

TEST_CASE("errors: coo header with more rows than the input can justify") {
  // 333,333,333 rows need 2.5 GiB of row pointers; one entry in 28 bytes cannot justify that.
  auto f = [] {
    std::istringstream in("# plays\n333333333 3 1\n0 0 1\n");
    (void)recmix::io::read_coo(in, "plays.coo");
  };
  expect_error<recmix::parse_error>(f, {"plays.coo:2:1: ", "header declares 333333333 rows", "2543 MiB", "1024 MiB allowed",
                                        "input of 28 bytes"});
  // A million mostly empty rows (8 MB of row pointers, under the 1 GiB floor) are still read.
  std::istringstream ok("1000000 3 1\n999999 2 1\n");
  const recmix::InteractionMatrix m = recmix::io::read_coo(ok, "sparse.coo");
  CHECK(m.rows() == 1000000);
  CHECK(m.nnz() == 1);
}

TEST_CASE("errors: santander invalid date in fecha_dato (strict)") {
  // 2015 is not a leap year: line 2, field 1.
  const std::string text = santander_record("2015-01-28", "1") + santander_record("2015-02-29", "2");
  CHECK_NOTHROW((void)parse_strict(santander_record("2015-01-28", "1")));
  auto f = [&] { (void)parse_strict(text); };
  expect_error<recmix::parse_error>(f, {"train.csv:2:1: bad date in fecha_dato"});
  const recmix::parse_error e = parse_error_of(f);
  CHECK(e.line() == 2);
  CHECK(e.column() == 1);
  // lenient mode skips and counts the row instead
  const sd::Dataset d = sd::parse(text, sd::LoadOptions{}, "train.csv");
  CHECK(d.report.skipped == 1);
}

TEST_CASE("errors: santander invalid date in fecha_alta (strict)") {
  const std::string text = santander_record("2015-01-28", "1") + santander_record("2015-01-28", "2") +
                           santander_record("2015-01-28", "3", {{6, "2015-13-01"}});
  auto f = [&] { (void)parse_strict(text); };
  expect_error<recmix::parse_error>(f, {"train.csv:3:7: bad date in fecha_alta"});
  const recmix::parse_error e = parse_error_of(f);
  CHECK(e.line() == 3);
  CHECK(e.column() == 7);
}

TEST_CASE("errors: santander wrong column count (strict)") {
  std::string short_record = santander_record("2015-01-28", "2");
  short_record.erase(short_record.rfind(','));  // 47 fields
  short_record += '\n';
  auto f = [&] { (void)parse_strict(santander_record("2015-01-28", "1") + short_record); };
  expect_error<recmix::parse_error>(f, {"train.csv:2:48: wrong column count"});
}

TEST_CASE("errors: santander unterminated quote (strict)") {
  auto f = [] { (void)parse_strict(santander_record("2015-01-28", "1", {{20, "\"CORUÑA, A"}})); };
  expect_error<recmix::parse_error>(f, {"train.csv:1:21: unterminated quote"});
}

TEST_CASE("errors: santander non-numeric age (strict)") {
  auto f = [] { (void)parse_strict(santander_record("2015-01-28", "1", {{5, "abc"}})); };
  expect_error<recmix::parse_error>(f, {"train.csv:1:6: bad number in age"});
}

TEST_CASE("errors: santander missing file") {
  TempDir dir("recmix-errors");
  expect_error<recmix::io_error>([&] { (void)sd::load(dir / "train_ver2.csv"); },
                                 {"santander::load: cannot open '", "train_ver2.csv'", "No such file or directory"});
}

// ================================================================================================
// NaN, Inf and out-of-range values in matrices, labels and weights
// ================================================================================================

TEST_CASE("errors: kmeans fit NaN") {
  RowMatrixXf X = random_points(10, 3, 1);
  X(4, 2) = std::numeric_limits<float>::quiet_NaN();
  expect_error<recmix::invalid_argument>([&] { KMeans<float>({.k = 2}).fit(X); }, {"KMeans::fit: X(4, 2) is NaN"});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().predict(X); }, {"KMeans::predict: X(4, 2) is NaN"});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().transform(X); }, {"KMeans::transform: X(4, 2) is NaN"});
}

TEST_CASE("errors: kmeans fit Inf") {
  RowMatrixXf X = random_points(10, 3, 1);
  X(7, 0) = -std::numeric_limits<float>::infinity();
  expect_error<recmix::invalid_argument>([&] { KMeans<float>({.k = 2}).fit(X); }, {"KMeans::fit: X(7, 0) is infinite"});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().predict(X); }, {"KMeans::predict: X(7, 0) is infinite"});
}

TEST_CASE("errors: kmeans values too large") {
  // Finite, but ‖x‖² overflows float: the distances were infinite and the clusters wrong.
  RowMatrixXf X = random_points(10, 3, 1);
  X.row(3) *= 1e20f;
  expect_error<recmix::invalid_argument>([&] { KMeans<float>({.k = 2}).fit(X); },
                                         {"KMeans::fit: row 3 of X has squared norm", "float32 distances allow"});
  // a row just inside the bound is fine
  RowMatrixXf ok = random_points(10, 3, 1);
  ok.row(3).setConstant(static_cast<float>(std::sqrt(static_cast<double>(std::numeric_limits<float>::max()) / 4 / 3) * 0.99));
  CHECK_NOTHROW(KMeans<float>({.k = 2}).fit(ok));
  // with init = given, the starting centres are held to the same bound
  RowMatrixXf given = RowMatrixXf::Zero(2, 3);
  given(1, 0) = 1e20f;
  expect_error<recmix::invalid_argument>(
      [&] { KMeans<float>({.k = 2, .init = recmix::cluster::KMeansInit::given, .initial_centroids = given}); },
      {"KMeans: row 1 of initial_centroids has squared norm"});
}

TEST_CASE("errors: kmeans predict values too large") {
  RowMatrixXf Q = random_points(4, 3, 2);
  Q.row(2).setConstant(3e19f);
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().predict(Q); },
                                         {"KMeans::predict: row 2 of X has squared norm"});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().transform(Q); },
                                         {"KMeans::transform: row 2 of X has squared norm"});
  const std::vector<float> point = {3e19f, 0.0f, 0.0f};
  expect_error<recmix::invalid_argument>([&] { (void)fitted_kmeans().predict_row(point); },
                                         {"KMeans::predict_row: row 0 of the point has squared norm"});
}

TEST_CASE("errors: scaler fit Inf") {
  RowMatrixXf X = random_points(5, 2, 4);
  X(1, 0) = std::numeric_limits<float>::infinity();
  expect_error<recmix::invalid_argument>([&] { StandardScaler().fit(X); }, {"StandardScaler::fit: +Inf at row 1, column 0"});
  X(1, 0) = -std::numeric_limits<float>::infinity();
  expect_error<recmix::invalid_argument>([&] { (void)fitted_scaler().transform(X); },
                                         {"StandardScaler::transform: -Inf at row 1, column 0"});
}

TEST_CASE("errors: scaler transform NaN") {
  RowMatrixXf X = random_points(3, 2, 5);
  X(0, 1) = std::numeric_limits<float>::quiet_NaN();
  expect_error<recmix::invalid_argument>([&] { (void)fitted_scaler().transform(X); },
                                         {"StandardScaler::transform: NaN at row 0, column 1 (missing = error)"});
  expect_error<recmix::invalid_argument>([&] { StandardScaler().fit(X); },
                                         {"StandardScaler::fit: NaN at row 0, column 1 (missing = error)"});
  // with another policy NaN is a missing value
  CHECK_NOTHROW(StandardScaler({.missing = recmix::features::MissingPolicy::impute_mean}).fit(X));
}

TEST_CASE("errors: gbdt label not 0 or 1") {
  const RowMatrixXf X = random_points(20, 2, 6);
  RowMatrixXf Y = labels_for(X, 1, 7);
  Y(3, 0) = 2.0f;
  expect_error<recmix::invalid_argument>([&] { MultiLabelGBDT({.rounds = 2}).fit(X, Y); },
                                         {"MultiLabelGBDT::fit: label 2.000000 at training row 3, label 0 is not 0 or 1"});
}

TEST_CASE("errors: gbdt NaN label") {
  const RowMatrixXf X = random_points(20, 2, 6);
  RowMatrixXf Y = labels_for(X, 2, 7);
  Y(1, 1) = std::numeric_limits<float>::quiet_NaN();
  expect_error<recmix::invalid_argument>([&] { MultiLabelGBDT({.rounds = 2}).fit(X, Y); },
                                         {"MultiLabelGBDT::fit: NaN label at training row 1, label 1"});
}

TEST_CASE("errors: gbdt infinite feature") {
  RowMatrixXf X = random_points(20, 2, 6);
  const RowMatrixXf Y = labels_for(X, 1, 7);
  X(2, 1) = std::numeric_limits<float>::infinity();
  expect_error<recmix::invalid_argument>([&] { MultiLabelGBDT({.rounds = 2}).fit(X, Y); },
                                         {"FeatureBinner::fit: infinite value at row 2, column 1 (use NaN for missing)"});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_gbdt().predict_proba(X); },
                                         {"FeatureBinner::transform: infinite value at row 2, column 1 (use NaN for missing)"});
  // NaN is a missing value, not an error
  X(2, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_NOTHROW(MultiLabelGBDT({.rounds = 2}).fit(X, Y));
  CHECK(fitted_gbdt().predict_proba(X).allFinite());
}

TEST_CASE("errors: interaction weight NaN") {
  expect_error<recmix::invalid_argument>(
      [] {
        (void)InteractionMatrix::from_triplets(3, 4, std::vector<Index>{0, 1, 2}, std::vector<Index>{0, 1, 2},
                                               std::vector<float>{1.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f});
      },
      {"InteractionMatrix::from_triplets: weight nan is not finite at triplet 1"});
  expect_error<recmix::invalid_argument>(
      [] {
        (void)InteractionMatrix::from_triplets(1, 1, std::vector<Index>{0}, std::vector<Index>{0},
                                               std::vector<float>{std::numeric_limits<float>::infinity()});
      },
      {"InteractionMatrix::from_triplets: weight inf is not finite at triplet 0"});
}

TEST_CASE("errors: interaction weight negative") {
  // The matrix holds any finite weight; ALS needs them >= 0.
  const InteractionMatrix m = InteractionMatrix::from_triplets(3, 4, std::vector<Index>{0, 1, 2}, std::vector<Index>{0, 1, 2},
                                                               std::vector<float>{1.0f, -2.0f, 3.0f});
  expect_error<recmix::invalid_argument>([&] { ImplicitALS<float>({.factors = 2}).fit(m); },
                                         {"ImplicitALS::fit: weight -2.000000 at user 1, item 1 is negative or not finite"});
}

TEST_CASE("errors: als confidence too large") {
  // Finite weights whose confidence 1 + alpha r the solver cannot handle: float factors came out
  // NaN (or stuck at their random start) without any error.
  const InteractionMatrix m = InteractionMatrix::from_triplets(3, 4, std::vector<Index>{0, 1, 2}, std::vector<Index>{0, 1, 2},
                                                               std::vector<float>{1.0f, 1e20f, 3.0f});
  expect_error<recmix::invalid_argument>(
      [&] { ImplicitALS<float>({.factors = 2}).fit(m); },
      {"ImplicitALS::fit: weight 1e+20 at user 1, item 1 gives confidence 1e+20 (alpha = 1), above kMaxConfidence = 1e+09 "
       "for float32 factors"});
  // the same through alpha
  const InteractionMatrix ones = InteractionMatrix::from_triplets(2, 2, std::vector<Index>{0, 1}, std::vector<Index>{0, 1},
                                                                  std::vector<float>{1.0f, 1.0f});
  const InteractionMatrix threes = InteractionMatrix::from_triplets(2, 2, std::vector<Index>{0, 1}, std::vector<Index>{0, 1},
                                                                    std::vector<float>{1.0f, 3.0f});
  expect_error<recmix::invalid_argument>([&] { ImplicitALS<float>({.factors = 2, .alpha = 5e8}).fit(threes); },
                                         {"ImplicitALS::fit: weight 3 at user 1, item 1 gives confidence 1.5e+09 (alpha = 5e+08)"});
  // double factors take more
  CHECK_NOTHROW(ImplicitALS<double>({.factors = 2, .alpha = 1e12}).fit(ones));
  CHECK(ImplicitALS<double>::kMaxConfidence > ImplicitALS<float>::kMaxConfidence);
  // and a new user's history is held to the same bound
  const std::vector<Index> users = {recmix::kNewUser};
  const InteractionMatrix history = InteractionMatrix::from_triplets(1, 15, std::vector<Index>{0}, std::vector<Index>{3},
                                                                     std::vector<float>{5e9f});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 2); },
                                         {"ImplicitALS::score: weight 5e+09 of history item 3 gives confidence"});
  ImplicitALS<float> model = fitted_als();
  expect_error<recmix::invalid_argument>([&] { model.partial_fit_users(std::vector<Index>{2}, history); },
                                         {"ImplicitALS::partial_fit_users: weight 5e+09 at user 0, item 3 gives confidence"});
}

// ================================================================================================
// Unknown users, items and ids
// ================================================================================================

TEST_CASE("errors: recommend user out of range") {
  const InteractionMatrix train = small_interactions();
  const std::vector<Index> users = {0, 40};
  const InteractionMatrix history(2, train.cols());
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3); },
                                         {"ImplicitALS::score: user 40 >= num_users (40)"});
}

TEST_CASE("errors: recommend negative user id") {
  const std::vector<Index> users = {-5};
  const InteractionMatrix history(1, 15);
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3); },
                                         {"ImplicitALS::score: user -5 >= num_users (40) or negative"});
}

TEST_CASE("errors: recommend new user history item out of range") {
  const std::vector<Index> users = {recmix::kNewUser};
  const InteractionMatrix history = InteractionMatrix::from_triplets(1, 21, std::vector<Index>{0}, std::vector<Index>{20},
                                                                     std::vector<float>{1.0f});
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3); },
                                         {"ImplicitALS::score: history item 20 >= num_items (15)"});
}

TEST_CASE("errors: recommend deny item out of range") {
  const std::vector<Index> users = {0};
  const InteractionMatrix history(1, 15);
  const std::vector<Index> deny = {2, 99};
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3, {.deny_items = deny}); },
                                         {"recommend: deny_items item 99 out of range [0, 15)"});
  const std::vector<Index> allow = {-1};
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3, {.allow_items = allow}); },
                                         {"recommend: allow_items item -1 out of range [0, 15)"});
}

TEST_CASE("errors: similar_items unknown item") {
  expect_error<recmix::invalid_argument>([] { (void)fitted_als().similar_items(std::vector<Index>{3, 15}, 2); },
                                         {"ImplicitALS::similar_items: item 15 out of range [0, 15)"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_als().similar_users(std::vector<Index>{-2}, 2); },
                                         {"ImplicitALS::similar_users: user -2 out of range [0, 40)"});
}

TEST_CASE("errors: idmap unknown id") {
  recmix::IdMap<std::string> items;
  items.insert("SKU-1");
  items.insert("SKU-2");
  expect_error<recmix::invalid_argument>([&] { (void)items.at("SKU-9"); }, {"IdMap::at: unknown id SKU-9"});
  CHECK_FALSE(items.find("SKU-9").has_value());  // the non-throwing lookup
}

TEST_CASE("errors: idmap index out of range") {
  recmix::IdMap<std::int64_t> customers(std::vector<std::int64_t>{1375586, 1050611});
  expect_error<recmix::invalid_argument>([&] { (void)customers.id(2); }, {"IdMap::id: index 2 out of range (size 2)"});
  expect_error<recmix::invalid_argument>([] { recmix::IdMap<std::int64_t>(std::vector<std::int64_t>{7, 7}); },
                                         {"IdMap: duplicate id 7"});
}

// ================================================================================================
// Empty inputs
// ================================================================================================

TEST_CASE("errors: als fit empty matrix") {
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>().fit(InteractionMatrix()); },
                                         {"ImplicitALS::fit: empty matrix (0 x 0)"});
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>().fit(InteractionMatrix(5, 0)); },
                                         {"ImplicitALS::fit: empty matrix (5 x 0)"});
}

TEST_CASE("errors: kmeans fit zero rows") {
  expect_error<recmix::invalid_argument>([] { KMeans<float>({.k = 1}).fit(RowMatrixXf(0, 3)); },
                                         {"KMeans::fit: X is empty (0 x 3)"});
}

TEST_CASE("errors: gbdt fit empty matrix") {
  expect_error<recmix::invalid_argument>([] { MultiLabelGBDT({.rounds = 2}).fit(RowMatrixXf(0, 2), RowMatrixXf(0, 1)); },
                                         {"MultiLabelGBDT::fit: X is empty (0 x 2)"});
}

TEST_CASE("errors: scaler fit empty matrix") {
  expect_error<recmix::invalid_argument>([] { StandardScaler().fit(RowMatrixXf(0, 2)); },
                                         {"StandardScaler::fit: X is empty (0 x 2)"});
}

// ================================================================================================
// k = 0 and k > n
// ================================================================================================

TEST_CASE("errors: kmeans k greater than rows") {
  expect_error<recmix::invalid_argument>([] { KMeans<float>({.k = 5}).fit(random_points(3, 2, 8)); },
                                         {"KMeans::fit: k = 5 exceeds the 3 rows of X"});
}

TEST_CASE("errors: kmeans k zero") {
  expect_error<recmix::invalid_argument>([] { KMeans<float>({.k = 0}); }, {"KMeans: k must be >= 1, got 0"});
}

TEST_CASE("errors: recommend k zero") {
  const std::vector<Index> users = {0};
  const InteractionMatrix history(1, 15);
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 0); },
                                         {"recommend: k must be >= 1, got 0"});
}

TEST_CASE("errors: similar_items k zero") {
  expect_error<recmix::invalid_argument>([] { (void)fitted_als().similar_items(std::vector<Index>{1}, 0); },
                                         {"ImplicitALS::similar_items: k must be >= 1, got 0"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_als().similar_users(std::vector<Index>{1}, -3); },
                                         {"ImplicitALS::similar_users: k must be >= 1, got -3"});
}

// Not an error, recorded as the truth: k above the number of items pads with item -1 and NaN.
TEST_CASE("errors: k above the catalogue pads with -1 (no error)") {
  const std::vector<Index> users = {0};
  const InteractionMatrix history(1, 15);
  const recmix::Recommendations top = fitted_als().recommend(users, history, 20);
  REQUIRE(top.k() == 20);
  CHECK(top.row(0).size() == 15);
  CHECK(top.items(0, 15) == -1);
  CHECK(std::isnan(top.scores(0, 19)));
  const recmix::Recommendations like = fitted_als().similar_items(std::vector<Index>{0}, 16);
  CHECK(like.row(0).size() == 15);
  CHECK(like.items(0, 15) == -1);
  // and a new user with no history cannot be scored: a row of -1, no error
  const std::vector<Index> newcomer = {recmix::kNewUser};
  const recmix::Recommendations cold = fitted_als().recommend(newcomer, history, 3);
  CHECK(cold.row(0).empty());
  CHECK(cold.items(0, 0) == -1);
}

// ================================================================================================
// Options out of range
// ================================================================================================

TEST_CASE("errors: als factors zero") {
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.factors = 0}); }, {"ImplicitALS: factors must be >= 1, got 0"});
}

TEST_CASE("errors: als negative regularization") {
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.regularization = -0.1}); },
                                         {"ImplicitALS: regularization must be finite and >= 0, got -0.1"});
  expect_error<recmix::invalid_argument>(
      [] { ImplicitALS<float>({.regularization = std::numeric_limits<double>::quiet_NaN()}); },
      {"ImplicitALS: regularization must be finite and >= 0"});
}

TEST_CASE("errors: als alpha not positive") {
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.alpha = 0.0}); },
                                         {"ImplicitALS: alpha must be finite, > 0 and <= kMaxConfidence (1e+09), got 0"});
  // above kMaxConfidence even a weight of 1 could not be used
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.alpha = 2e10}); },
                                         {"ImplicitALS: alpha must be finite, > 0 and <= kMaxConfidence (1e+09), got 20000000000"});
  expect_error<recmix::invalid_argument>([] { ImplicitALS<double>({.alpha = std::numeric_limits<double>::infinity()}); },
                                         {"ImplicitALS: alpha must be finite, > 0 and <= kMaxConfidence (1e+15), got inf"});
  // and a model file asking for such an alpha is refused
  ModelFile f(saved(fitted_als(), recmix::ArchiveFormat::text));
  f.payload = replace_first(f.payload, " 1.00000000000000000e+00 ", " 2.00000000000000000e+10 ");  // alpha = 1
  const std::string file = f.reassembled();
  ImplicitALS<float> target;
  expect_error<recmix::model_format_error>(
      [&] {
        std::istringstream in(file, std::ios::binary);
        recmix::load(target, in, "als.model");
      },
      {"als.model: ImplicitALS::load: alpha must be finite, > 0 and <= kMaxConfidence (1e+09), got 20000000000"});
}

TEST_CASE("errors: als negative threads") {
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.threads = -1}); },
                                         {"ImplicitALS: threads must be in [0, 1024], got -1"});
  expect_error<recmix::invalid_argument>([] { ImplicitALS<float>({.threads = 1025}); },
                                         {"ImplicitALS: threads must be in [0, 1024], got 1025"});
}

TEST_CASE("errors: gbdt learning rate not positive") {
  expect_error<recmix::invalid_argument>([] { MultiLabelGBDT({.learning_rate = 0.0}); },
                                         {"MultiLabelGBDT: learning_rate must be finite and > 0"});
  expect_error<recmix::invalid_argument>([] { MultiLabelGBDT({.learning_rate = -0.1}); },
                                         {"MultiLabelGBDT: learning_rate must be finite and > 0"});
}

TEST_CASE("errors: gbdt max_bin out of range") {
  expect_error<recmix::invalid_argument>([] { MultiLabelGBDT({.max_bin = 1}); }, {"MultiLabelGBDT: max_bin must be in [2, 255], got 1"});
  expect_error<recmix::invalid_argument>([] { MultiLabelGBDT({.max_bin = 256}); },
                                         {"MultiLabelGBDT: max_bin must be in [2, 255], got 256"});
}

TEST_CASE("errors: recommend threads too large") {
  // libgomp crashed (SIGSEGV) when asked for a team of 200000 threads.
  const std::vector<Index> users = {0};
  const InteractionMatrix history(1, 15);
  expect_error<recmix::invalid_argument>([&] { (void)fitted_als().recommend(users, history, 3, {.threads = 200000}); },
                                         {"recommend: threads must be in [0, 1024], got 200000"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_als().similar_items(std::vector<Index>{0}, 3, {.threads = 5000}); },
                                         {"ImplicitALS::similar_items: threads must be in [0, 1024], got 5000"});
  expect_error<recmix::invalid_argument>([] { (void)recmix::resolve_threads(-1, "MyModel::fit"); },
                                         {"MyModel::fit: threads must be in [0, 1024], got -1"});
}

TEST_CASE("errors: random_split fraction out of range") {
  const recmix::InteractionLog log(2, 2);
  expect_error<recmix::invalid_argument>([&] { (void)recmix::split::random_split(log, {.test_fraction = 1.5}); },
                                         {"random_split: test_fraction must be in [0, 1], got 1.5"});
}

// ================================================================================================
// Feature-count mismatches
// ================================================================================================

TEST_CASE("errors: kmeans predict wrong column count") {
  expect_error<recmix::invalid_argument>([] { (void)fitted_kmeans().predict(RowMatrixXf::Zero(2, 4)); },
                                         {"KMeans::predict: X has 4 columns but the model was fitted on 3"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_kmeans().transform(RowMatrixXf::Zero(2, 2)); },
                                         {"KMeans::transform: X has 2 columns but the model was fitted on 3"});
}

TEST_CASE("errors: gbdt predict wrong column count") {
  expect_error<recmix::invalid_argument>([] { (void)fitted_gbdt().predict_proba(RowMatrixXf::Zero(2, 3)); },
                                         {"MultiLabelGBDT::predict_proba: X has 3 columns but the model was fitted on 2"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_gbdt().predict_margin(RowMatrixXf::Zero(2, 1)); },
                                         {"MultiLabelGBDT::predict_margin: X has 1 columns but the model was fitted on 2"});
}

TEST_CASE("errors: scaler transform wrong column count") {
  expect_error<recmix::invalid_argument>([] { (void)fitted_scaler().transform(RowMatrixXf::Zero(2, 3)); },
                                         {"StandardScaler::transform: X has 3 columns, the scaler was fitted on 2"});
  expect_error<recmix::invalid_argument>([] { (void)fitted_scaler().inverse_transform(RowMatrixXf::Zero(2, 1)); },
                                         {"StandardScaler::inverse_transform: X has 1 columns, the scaler was fitted on 2"});
}

// ================================================================================================
// Models used before they are fitted
// ================================================================================================

TEST_CASE("errors: als recommend before fit") {
  const std::vector<Index> users = {0};
  const InteractionMatrix history(1, 15);
  expect_error<recmix::not_fitted>([&] { (void)ImplicitALS<float>().recommend(users, history, 3); },
                                   {"ImplicitALS::recommend: the model is not fitted (call fit or load first)"});
}

TEST_CASE("errors: save before fit") {
  TempDir dir("recmix-errors");
  expect_error<recmix::not_fitted>([&] { recmix::save(ImplicitALS<float>(), dir / "als.model"); },
                                   {"save: the implicit_als model is not fitted"});
  expect_error<recmix::not_fitted>([&] { recmix::save(KMeans<float>(), dir / "kmeans.model"); },
                                   {"save: the kmeans model is not fitted"});
  CHECK(listing(dir.path()).empty());
}

TEST_CASE("errors: kmeans predict before fit") {
  expect_error<recmix::not_fitted>([] { (void)KMeans<float>().predict(RowMatrixXf::Zero(2, 3)); },
                                   {"KMeans::predict: the model is not fitted"});
}

TEST_CASE("errors: gbdt predict before fit") {
  expect_error<recmix::not_fitted>([] { (void)MultiLabelGBDT().predict_proba(RowMatrixXf::Zero(2, 3)); },
                                   {"MultiLabelGBDT::predict_proba: the model is not fitted"});
}

TEST_CASE("errors: scaler transform before fit") {
  expect_error<recmix::not_fitted>([] { (void)StandardScaler().transform(RowMatrixXf::Zero(2, 3)); },
                                   {"StandardScaler::transform: the scaler is not fitted (call fit or load first)"});
}

// ================================================================================================
// Model files
// ================================================================================================

TEST_CASE("errors: model file truncated") {
  TempDir dir("recmix-errors");
  const std::string file = saved(fitted_als());
  write_bytes(dir / "als.model", file.substr(0, file.size() - 10));
  const std::string payload_bytes = std::to_string(ModelFile(file).payload.size());
  const std::string kept = std::to_string(ModelFile(file).payload.size() - 10);
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "als.model"); },
                                           {"als.model: truncated (payload has " + kept + " of " + payload_bytes + " bytes)"});
}

TEST_CASE("errors: model file flipped byte") {
  TempDir dir("recmix-errors");
  std::string file = saved(fitted_als());
  file[file.size() - 5] = static_cast<char>(file[file.size() - 5] ^ 0x10);
  write_bytes(dir / "als.model", file);
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "als.model"); },
                                           {"als.model: checksum mismatch (the file is corrupted)"});
}

TEST_CASE("errors: model file is a png") {
  TempDir dir("recmix-errors");
  write_bytes(dir / "photo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "photo.png"); },
                                           {"photo.png: not a recmix model file (bad magic)"});
}

TEST_CASE("errors: model file is text") {
  TempDir dir("recmix-errors");
  write_bytes(dir / "notes.txt", "user,item,weight\n1,2,3\n");
  KMeans<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "notes.txt"); },
                                           {"notes.txt: not a recmix model file (bad magic)"});
  write_bytes(dir / "empty.model", "");
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "empty.model"); }, {"bad magic"});
}

TEST_CASE("errors: model file of another kind") {
  TempDir dir("recmix-errors");
  recmix::save(fitted_als(), dir / "als.model");
  KMeans<float> kmeans;
  expect_error<recmix::model_format_error>([&] { recmix::load(kmeans, dir / "als.model"); },
                                           {"als.model: holds a 'implicit_als' model, expected 'kmeans'"});
  MultiLabelGBDT gbdt;
  expect_error<recmix::model_format_error>([&] { recmix::load(gbdt, dir / "als.model"); },
                                           {"holds a 'implicit_als' model, expected 'multilabel_gbdt'"});
}

TEST_CASE("errors: model file newer format version") {
  // The header's model format version is checked before the payload, so the CRC (of the
  // payload only) needs no change; it is recomputed anyway, so that only the version differs.
  TempDir dir("recmix-errors");
  ModelFile f(saved(fitted_als()));
  const unsigned next = ImplicitALS<float>::kFormatVersion + 1;
  f.header = replace_first(f.header, " version " + std::to_string(ImplicitALS<float>::kFormatVersion) + " ",
                           " version " + std::to_string(next) + " ");
  write_bytes(dir / "als.model", f.reassembled());
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>(
      [&] { recmix::load(model, dir / "als.model"); },
      {"als.model: written by a newer recmix (implicit_als format " + std::to_string(next) + " > " +
       std::to_string(ImplicitALS<float>::kFormatVersion) + ")"});
}

TEST_CASE("errors: model file newer envelope") {
  TempDir dir("recmix-errors");
  ModelFile f(saved(fitted_als()));
  const unsigned next = recmix::detail::kEnvelopeVersion + 1;
  f.header = replace_first(f.header, "envelope " + std::to_string(recmix::detail::kEnvelopeVersion) + " ",
                           "envelope " + std::to_string(next) + " ");
  write_bytes(dir / "als.model", f.reassembled());
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>(
      [&] { recmix::load(model, dir / "als.model"); },
      {"als.model: written by a newer recmix (envelope " + std::to_string(next) + " > " +
       std::to_string(recmix::detail::kEnvelopeVersion) + ")"});
}

TEST_CASE("errors: model file other scalar type") {
  TempDir dir("recmix-errors");
  ImplicitALS<double> wide({.factors = 2, .iterations = 1});
  wide.fit(small_interactions());
  recmix::save(wide, dir / "als64.model");
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "als64.model"); },
                                           {"als64.model: holds float64 factors, expected float32"});
}

TEST_CASE("errors: model file trailing bytes") {
  TempDir dir("recmix-errors");
  write_bytes(dir / "als.model", saved(fitted_als()) + "extra");
  ImplicitALS<float> model;
  expect_error<recmix::model_format_error>([&] { recmix::load(model, dir / "als.model"); },
                                           {"als.model: trailing bytes after the payload"});
}

TEST_CASE("errors: kmeans model file with huge centroids") {
  // A file whose CRC is right but whose centroids would overflow every distance.
  RowMatrixXf X(4, 3);
  X.setConstant(2.5f);
  KMeans<float> model({.k = 1});
  model.fit(X);
  ModelFile f(saved(model, recmix::ArchiveFormat::text));
  const std::string centre = " 2.500000000e+00 2.500000000e+00 2.500000000e+00 ";  // rows 1, cols 3, then the values
  REQUIRE(f.payload.find(centre) != std::string::npos);
  f.payload = replace_first(f.payload, centre, " 1.000000000e+30 2.500000000e+00 2.500000000e+00 ");
  const std::string file = f.reassembled();
  KMeans<float> target;
  expect_error<recmix::model_format_error>(
      [&] {
        std::istringstream in(file, std::ios::binary);
        recmix::load(target, in, "kmeans.model");
      },
                                           {"kmeans.model: KMeans::load: row 0 of the centroids has squared norm 1e+60"});
  CHECK_FALSE(target.is_fitted());
}

TEST_CASE("errors: load missing file") {
  TempDir dir("recmix-errors");
  ImplicitALS<float> model;
  expect_error<recmix::io_error>([&] { recmix::load(model, dir / "nothing.model"); }, {"load: cannot open ", "nothing.model"});
}

TEST_CASE("errors: load a directory") {
  // Was a model_format_error ("bad magic"): the directory opened as a stream of no bytes.
  TempDir dir("recmix-errors");
  fs::create_directory(dir / "models");
  ImplicitALS<float> model;
  expect_error<recmix::io_error>([&] { recmix::load(model, dir / "models"); }, {"load: ", "models is a directory"});
}

TEST_CASE("errors: save to missing directory") {
  TempDir dir("recmix-errors");
  expect_error<recmix::io_error>([&] { recmix::save(fitted_als(), dir / "no-such-dir" / "als.model"); },
                                 {"save: cannot open ", "no-such-dir/als.model.tmp-", " for writing"});
  CHECK(listing(dir.path()).empty());
}

TEST_CASE("errors: write_coo to missing directory") {
  TempDir dir("recmix-errors");
  expect_error<recmix::io_error>([&] { recmix::io::write_coo(small_interactions(), dir / "no-such-dir" / "plays.coo"); },
                                 {"write_coo: cannot create a temporary file beside '", "no-such-dir/plays.coo'",
                                  "No such file or directory"});
  CHECK(listing(dir.path()).empty());
}

// ================================================================================================
// Guarantees: failed loads change nothing, failed saves and writes leave the old file
// ================================================================================================

TEST_CASE("errors: a failed load leaves the model untouched") {
  TempDir dir("recmix-errors");
  ImplicitALS<float> model = fitted_als();
  const RowMatrixXf users = model.user_factors();
  const RowMatrixXf items = model.item_factors();
  std::string file = saved(fitted_als());
  file[file.size() - 1] = static_cast<char>(file[file.size() - 1] ^ 0x01);
  write_bytes(dir / "bad.model", file);
  CHECK_THROWS_AS(recmix::load(model, dir / "bad.model"), recmix::model_format_error);
  CHECK(model.user_factors() == users);
  CHECK(model.item_factors() == items);
  KMeans<float> kmeans = fitted_kmeans();
  CHECK_THROWS_AS(recmix::load(kmeans, dir / "bad.model"), recmix::model_format_error);
  CHECK(kmeans.centroids() == fitted_kmeans().centroids());
}

TEST_CASE("errors: a failed fit leaves the model untouched") {
  ImplicitALS<float> als = fitted_als();
  CHECK_THROWS_AS(als.fit(InteractionMatrix(3, 0)), recmix::invalid_argument);
  CHECK(als.item_factors() == fitted_als().item_factors());
  CHECK(als.user_factors() == fitted_als().user_factors());
  KMeans<float> kmeans = fitted_kmeans();
  RowMatrixXf X = random_points(10, 3, 1);
  X(0, 0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(kmeans.fit(X), recmix::invalid_argument);
  CHECK(kmeans.centroids() == fitted_kmeans().centroids());
  StandardScaler scaler = fitted_scaler();
  CHECK_THROWS_AS(scaler.fit(X), recmix::invalid_argument);
  CHECK(scaler.mean() == fitted_scaler().mean());
  MultiLabelGBDT gbdt = fitted_gbdt();
  const RowMatrixXf Q = random_points(5, 2, 11);
  RowMatrixXf Y = RowMatrixXf::Zero(10, 1);
  Y(0, 0) = 3.0f;
  CHECK_THROWS_AS(gbdt.fit(random_points(10, 2, 12), Y), recmix::invalid_argument);
  CHECK(gbdt.predict_proba(Q) == fitted_gbdt().predict_proba(Q));
}

TEST_CASE("errors: an ALS save that fails midway leaves the old file") {
  TempDir dir("recmix-errors");
  const fs::path path = dir / "als.model";
  recmix::save(fitted_als(), path);
  const std::string before = read_bytes(path);

  ImplicitALS<float> big({.factors = 32, .iterations = 1, .seed = 3});
  big.fit(recmix::test::random_matrix(1000, 300, 0.02, 5));
  const std::string big_file = saved(big);
  REQUIRE(big_file.size() > 4 * kFileSizeLimit);

  CHECK(write_under_file_size_limit(kFileSizeLimit, [&] { recmix::save(big, path); }) == 0);
  CHECK(read_bytes(path) == before);
  CHECK(listing(dir.path()) == std::vector<std::string>{"als.model"});
  ImplicitALS<float> restored;
  recmix::load(restored, path);
  CHECK(restored.item_factors() == fitted_als().item_factors());

  // the harness can tell a save that works: without the limit the file is replaced
  CHECK(write_under_file_size_limit(RLIM_INFINITY, [&] { recmix::save(big, path); }) == 1);
  CHECK(read_bytes(path) == big_file);
  CHECK(listing(dir.path()) == std::vector<std::string>{"als.model"});
}

TEST_CASE("errors: a MultiLabelGBDT save that fails midway leaves the old file") {
  TempDir dir("recmix-errors");
  const fs::path path = dir / "gbdt.model";
  recmix::save(fitted_gbdt(), path, {.format = recmix::ArchiveFormat::text});
  const std::string before = read_bytes(path);

  MultiLabelGBDT big({.rounds = 60, .max_depth = 6, .min_child_weight = 0.0});
  const RowMatrixXf X = random_points(400, 6, 9);
  big.fit(X, labels_for(X, 3, 10));
  REQUIRE(saved(big).size() > 4 * kFileSizeLimit);

  CHECK(write_under_file_size_limit(kFileSizeLimit, [&] { recmix::save(big, path); }) == 0);
  CHECK(read_bytes(path) == before);
  CHECK(listing(dir.path()) == std::vector<std::string>{"gbdt.model"});
  MultiLabelGBDT restored;
  recmix::load(restored, path);
  const RowMatrixXf Q = random_points(5, 2, 11);
  CHECK(restored.predict_proba(Q) == fitted_gbdt().predict_proba(Q));
}

TEST_CASE("errors: a write_coo that fails midway leaves the old file") {
  // write_coo wrote the target itself (truncating it first); it now writes a temporary and renames.
  TempDir dir("recmix-errors");
  const fs::path path = dir / "plays.coo";
  const InteractionMatrix small = small_interactions();
  recmix::io::write_coo(small, path);
  const std::string before = read_bytes(path);

  const InteractionMatrix big = recmix::test::random_matrix(2000, 500, 0.05, 12);
  CHECK(write_under_file_size_limit(kFileSizeLimit, [&] { recmix::io::write_coo(big, path); }) == 0);
  CHECK(read_bytes(path) == before);
  CHECK(listing(dir.path()) == std::vector<std::string>{"plays.coo"});
  const InteractionMatrix back = recmix::io::read_coo(path);
  CHECK(back.nnz() == small.nnz());

  CHECK(write_under_file_size_limit(RLIM_INFINITY, [&] { recmix::io::write_coo(big, path); }) == 1);
  CHECK(recmix::io::read_coo(path).nnz() == big.nnz());
  CHECK(listing(dir.path()) == std::vector<std::string>{"plays.coo"});
}

TEST_CASE("errors: a write_dense_csv that fails midway leaves the old file") {
  TempDir dir("recmix-errors");
  const fs::path path = dir / "features.csv";
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  recmix::io::write_dense_csv(names, random_points(3, 4, 13), path);
  const std::string before = read_bytes(path);

  const RowMatrixXf big = random_points(20000, 4, 14);
  CHECK(write_under_file_size_limit(kFileSizeLimit, [&] { recmix::io::write_dense_csv(names, big, path); }) == 0);
  CHECK(read_bytes(path) == before);
  CHECK(listing(dir.path()) == std::vector<std::string>{"features.csv"});
  CHECK(recmix::io::read_dense_csv(path).values.rows() == 3);
}
