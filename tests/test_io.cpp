// Unit tests of the COO text reader and writer (recmix/io/coo.hpp): parsing to CSR, the
// sorted fast path against the unsorted fallback, exact write/read round trips, and the line
// and column of every parse error.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/atomic_file.hpp>
#include <recmix/io/coo.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;
using recmix::Index;
using recmix::InteractionMatrix;
using recmix::Offset;

namespace {

using recmix::test::TempDir;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.is_open());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  REQUIRE(out.good());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.is_open());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

InteractionMatrix parse(const std::string& text, const std::string& source = "<test>") {
  std::istringstream in(text, std::ios::in | std::ios::binary);
  return recmix::io::read_coo(in, source);
}

std::string to_text(const InteractionMatrix& m) {
  std::ostringstream out(std::ios::out | std::ios::binary);
  recmix::io::write_coo(m, out);
  return out.str();
}

template <class T>
std::vector<T> to_vector(std::span<const T> s) {
  return std::vector<T>(s.begin(), s.end());
}

/// Float bit patterns, so that 0.0f and -0.0f (and every rounding difference) count.
std::vector<std::uint32_t> bits_of(std::span<const float> values) {
  std::vector<std::uint32_t> bits(values.size());
  std::transform(values.begin(), values.end(), bits.begin(), [](float v) { return std::bit_cast<std::uint32_t>(v); });
  return bits;
}

/// Exact equality: shape, the three CSR arrays, values bit for bit.
void check_identical(const InteractionMatrix& a, const InteractionMatrix& b) {
  CHECK(a.rows() == b.rows());
  CHECK(a.cols() == b.cols());
  CHECK(a.nnz() == b.nnz());
  CHECK(to_vector(a.indptr()) == to_vector(b.indptr()));
  CHECK(to_vector(a.indices()) == to_vector(b.indices()));
  CHECK(bits_of(a.values()) == bits_of(b.values()));
}

void check_csr(const InteractionMatrix& m, Index rows, Index cols, const std::vector<Offset>& indptr,
               const std::vector<Index>& indices, const std::vector<float>& values) {
  CHECK(m.rows() == rows);
  CHECK(m.cols() == cols);
  CHECK(m.nnz() == static_cast<Offset>(indices.size()));
  CHECK(to_vector(m.indptr()) == indptr);
  CHECK(to_vector(m.indices()) == indices);
  CHECK(bits_of(m.values()) == bits_of(values));
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

/// One (row, col, value) line per triplet, in the given order, after a `rows cols n` header.
std::string coo_text(Index rows, Index cols, const std::vector<Index>& r, const std::vector<Index>& c,
                     const std::vector<float>& v) {
  std::ostringstream out;
  out << rows << ' ' << cols << ' ' << r.size() << '\n';
  char buf[32];
  for (std::size_t k = 0; k < r.size(); ++k) {
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v[k]));
    out << r[k] << ' ' << c[k] << ' ' << buf << '\n';
  }
  return out.str();
}

/// Asserts that `text` is rejected with a parse_error at (line, column) whose message contains
/// `fragment`, both from a stream and from a file.
void check_parse_error(const std::string& text, std::size_t line, std::size_t column, const std::string& fragment,
                       const TempDir& dir) {
  CAPTURE(text);
  CAPTURE(line);
  CAPTURE(column);
  const std::string prefix = ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  {
    std::istringstream in(text, std::ios::in | std::ios::binary);
    try {
      (void)recmix::io::read_coo(in, "inline");
      FAIL_CHECK("read_coo (stream) accepted malformed text");
    } catch (const recmix::parse_error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(e.line() == line);
      CHECK(e.column() == column);
      CHECK(e.source() == "inline");
      CHECK(what.rfind("inline" + prefix, 0) == 0);
      CHECK(what.find(fragment) != std::string::npos);
    }
  }
  {
    const fs::path file = dir / "bad.coo";
    write_text(file, text);
    try {
      (void)recmix::io::read_coo(file);
      FAIL_CHECK("read_coo (file) accepted malformed text");
    } catch (const recmix::parse_error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(e.line() == line);
      CHECK(e.column() == column);
      CHECK(e.source() == file.string());
      CHECK(what.rfind(file.string() + prefix, 0) == 0);
      CHECK(what.find(fragment) != std::string::npos);
    }
  }
}

struct BadCase {
  const char* what;
  std::string text;
  std::size_t line;
  std::size_t column;
  const char* fragment;
};

/// A random CSR matrix with distinct sorted columns per row (some rows empty) and values drawn
/// from random bit patterns (every finite float, both signs, subnormals included).
InteractionMatrix random_bits_matrix(Index rows, Index cols, int max_gap, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> gap(1, max_gap);
  std::bernoulli_distribution empty_row(0.05);
  std::vector<Offset> indptr(static_cast<std::size_t>(rows) + 1, 0);
  std::vector<Index> indices;
  std::vector<float> values;
  for (Index r = 0; r < rows; ++r) {
    if (!empty_row(rng)) {
      for (Index c = gap(rng) - 1; c < cols; c += gap(rng)) {
        float v = 0.0f;
        do {
          v = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        } while (!std::isfinite(v));
        indices.push_back(c);
        values.push_back(v);
      }
    }
    indptr[static_cast<std::size_t>(r) + 1] = static_cast<Offset>(indices.size());
  }
  return InteractionMatrix(rows, cols, std::move(indptr), std::move(indices), std::move(values));
}

/// Number of the line (1-based) that starts at byte `pos` of `text`.
std::size_t line_at(const std::string& text, std::size_t pos) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n')) + 1;
}

const std::vector<Offset> kHandIndptr = {0, 2, 3, 3, 6};
const std::vector<Index> kHandIndices = {1, 4, 0, 2, 3, 4};
const std::vector<float> kHandValues = {3.0f, 1.5f, 2.0f, 0.25f, 1e-3f, 7.0f};

/// A 4 x 5 matrix, row 2 empty, values in several spellings.
const char* const kHandText =
    "# plays exported from the warehouse\n"
    "#   user item count\n"
    "4 5 6\n"
    "0 1 3\n"
    "0 4 1.5\n"
    "1 0 2\n"
    "3 2 0.25\n"
    "3 3 1e-3\n"
    "3 4 +7\n";

}  // namespace

// ================================================================================================
// Parsing
// ================================================================================================

TEST_CASE("read_coo: hand-written file to the expected CSR") {
  const std::string base = kHandText;
  SUBCASE("as written") { check_csr(parse(base), 4, 5, kHandIndptr, kHandIndices, kHandValues); }
  SUBCASE("blank trailing lines") {
    check_csr(parse(base + "\n\n   \n\t\n"), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
  SUBCASE("no newline after the last entry") {
    check_csr(parse(base.substr(0, base.size() - 1)), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
  SUBCASE("CRLF line ends") {
    const std::string crlf = replace_all(base + "\n\n", "\n", "\r\n");
    REQUIRE(crlf.find("\r\n") != std::string::npos);
    check_csr(parse(crlf), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
  SUBCASE("tabs instead of spaces") {
    const std::string tabs = replace_all(base, " ", "\t");
    REQUIRE(tabs.find(' ') == std::string::npos);
    check_csr(parse(tabs), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
  SUBCASE("mixed runs of spaces and tabs, leading and trailing, CRLF") {
    const std::string mixed =
        "\r\n# comment\r\n\t  # indented comment\r\n"
        "  4\t 5  \t6 \t\r\n"
        "\t0 \t1\t\t3   \r\n"
        "0   4 1.5\t\r\n"
        " 1 0 2.0\r\n"
        "3\t2\t0.25\r\n"
        "3 3 0.001\r\n"
        "3 4 7e0\r\n"
        " \t\r\n"
        "\r\n";
    check_csr(parse(mixed), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
  SUBCASE("from a file") {
    TempDir dir;
    const fs::path file = dir / "hand.coo";
    write_text(file, replace_all(base + "\n", "\n", "\r\n"));
    check_csr(recmix::io::read_coo(file), 4, 5, kHandIndptr, kHandIndices, kHandValues);
  }
}

TEST_CASE("read_coo: value spellings std::from_chars accepts") {
  const InteractionMatrix m = parse(
      "1 12 12\n"
      "0 0 3\n"
      "0 1 -2\n"
      "0 2 +0.5\n"
      "0 3 .25\n"
      "0 4 4.\n"
      "0 5 1E2\n"
      "0 6 2.5e+3\n"
      "0 7 123456789\n"  // more than 7 digits: rounds to the nearest float
      "0 8 1234567\n"
      "0 9 0000012\n"
      "0 10 1e-40\n"  // subnormal
      "0 11 1e-60\n"  // underflows to zero
  );
  check_csr(m, 1, 12, {0, 12}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
            {3.0f, -2.0f, 0.5f, 0.25f, 4.0f, 100.0f, 2500.0f, 123456789.0f, 1234567.0f, 12.0f, 1e-40f, 0.0f});
}

TEST_CASE("read_coo: duplicates are summed in file order, like from_triplets") {
  // Rows in order (fast path), duplicates within rows.
  const std::vector<Index> r = {0, 0, 0, 1, 1, 2, 2, 2};
  const std::vector<Index> c = {1, 2, 1, 2, 2, 0, 0, 0};
  const std::vector<float> v = {1.0f, 2.0f, 2.5f, 4.0f, 0.5f, 1e8f, 1.0f, -1e8f};
  const InteractionMatrix m = parse(coo_text(3, 3, r, c, v));
  // 1e8 + 1 - 1e8 in float order: 1e8 + 1 rounds to 1e8, so the sum is 0 and not 1.
  check_csr(m, 3, 3, {0, 2, 3, 4}, {1, 2, 2, 0}, {3.5f, 2.0f, 4.5f, 0.0f});
  check_identical(m, InteractionMatrix::from_triplets(3, 3, r, c, v));

  // The same triplets with the rows out of order (fallback path).
  const std::vector<Index> r2 = {2, 0, 1, 0, 2, 1, 0, 2};
  const std::vector<Index> c2 = {0, 1, 2, 2, 0, 2, 1, 0};
  const std::vector<float> v2 = {1e8f, 1.0f, 4.0f, 2.0f, 1.0f, 0.5f, 2.5f, -1e8f};
  const InteractionMatrix m2 = parse(coo_text(3, 3, r2, c2, v2));
  check_csr(m2, 3, 3, {0, 2, 3, 4}, {1, 2, 2, 0}, {3.5f, 2.0f, 4.5f, 0.0f});
  check_identical(m2, InteractionMatrix::from_triplets(3, 3, r2, c2, v2));

  // A row made only of repeats of one cell, and every cell repeated.
  const InteractionMatrix m3 = parse("2 2 6\n1 1 1\n1 1 1\n1 1 1\n0 0 0.5\n0 1 2\n0 0 0.25\n");
  check_csr(m3, 2, 2, {0, 2, 3}, {0, 1, 1}, {0.75f, 2.0f, 3.0f});
}

TEST_CASE("read_coo: long rows of duplicates are summed strictly in file order") {
  // Float addition is not associative at these magnitudes, so any reordering of a cell's
  // entries (an unstable sort) changes the sums. Sorted and unsorted files alike.
  std::mt19937 rng(31337);
  std::uniform_int_distribution<Index> col_of(0, 4);
  std::uniform_int_distribution<int> mantissa(1, 999), exponent(-3, 7), sign(0, 1);
  const Index rows = 3, cols = 5;
  std::vector<Index> r, c;
  std::vector<float> v;
  for (Index row : {2, 0, 1, 2, 0}) {  // rows 2 and 0 come back: the fallback path
    for (int k = 0; k < 150; ++k) {
      r.push_back(row);
      c.push_back(col_of(rng));
      const float magnitude = static_cast<float>(mantissa(rng)) * std::pow(10.0f, static_cast<float>(exponent(rng)));
      v.push_back(sign(rng) != 0 ? -magnitude : magnitude);
    }
  }
  std::vector<float> sums(static_cast<std::size_t>(rows * cols), 0.0f);
  std::vector<bool> hit(sums.size(), false);
  for (std::size_t k = 0; k < r.size(); ++k) {
    const auto cell = static_cast<std::size_t>(r[k] * cols + c[k]);
    sums[cell] = hit[cell] ? sums[cell] + v[k] : v[k];
    hit[cell] = true;
  }
  std::vector<Offset> indptr = {0};
  std::vector<Index> indices;
  std::vector<float> values;
  for (Index row = 0; row < rows; ++row) {
    for (Index col = 0; col < cols; ++col) {
      const auto cell = static_cast<std::size_t>(row * cols + col);
      if (hit[cell]) {
        indices.push_back(col);
        values.push_back(sums[cell]);
      }
    }
    indptr.push_back(static_cast<Offset>(indices.size()));
  }
  const InteractionMatrix unsorted = parse(coo_text(rows, cols, r, c, v));
  check_csr(unsorted, rows, cols, indptr, indices, values);
  check_identical(unsorted, InteractionMatrix::from_triplets(rows, cols, r, c, v));

  // Only the first block of rows, which is sorted: the fast path.
  const std::vector<Index> r1(r.begin(), r.begin() + 150), c1(c.begin(), c.begin() + 150);
  const std::vector<float> v1(v.begin(), v.begin() + 150);
  check_identical(parse(coo_text(rows, cols, r1, c1, v1)), InteractionMatrix::from_triplets(rows, cols, r1, c1, v1));
}

TEST_CASE("read_coo: unsorted rows (fallback path) give the same matrix as the sorted file") {
  std::mt19937 rng(20240611);
  const Index rows = 60, cols = 40;
  std::uniform_int_distribution<Index> row_of(0, rows - 1), col_of(0, cols - 1);
  std::uniform_int_distribution<int> quarter(1, 40);
  std::vector<Index> r, c;
  std::vector<float> v;
  for (int k = 0; k < 900; ++k) {  // about 30% of the cells hit twice or more
    r.push_back(row_of(rng));
    c.push_back(col_of(rng));
    v.push_back(0.25f * static_cast<float>(quarter(rng)));  // sums of these are exact in any order
  }

  // The sorted file: triplets stably ordered by row (file order kept within a row).
  std::vector<std::size_t> order(r.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return r[a] < r[b]; });
  std::vector<Index> rs, cs;
  std::vector<float> vs;
  for (std::size_t k : order) {
    rs.push_back(r[k]);
    cs.push_back(c[k]);
    vs.push_back(v[k]);
  }

  const InteractionMatrix expected = InteractionMatrix::from_triplets(rows, cols, r, c, v);
  REQUIRE(expected.nnz() < static_cast<Offset>(r.size()));  // there are duplicates
  const InteractionMatrix sorted = parse(coo_text(rows, cols, rs, cs, vs));
  const InteractionMatrix unsorted = parse(coo_text(rows, cols, r, c, v));
  check_identical(sorted, expected);
  check_identical(unsorted, expected);
  check_identical(sorted, InteractionMatrix::from_triplets(rows, cols, rs, cs, vs));

  // Out of order only at the very end, after many sorted rows (the row array is rebuilt from
  // the counts gathered so far), and out of order at the very first step.
  std::vector<Index> r_late = rs, c_late = cs;
  std::vector<float> v_late = vs;
  r_late.push_back(0);
  c_late.push_back(cols - 1);
  v_late.push_back(8.0f);
  check_identical(parse(coo_text(rows, cols, r_late, c_late, v_late)),
                  InteractionMatrix::from_triplets(rows, cols, r_late, c_late, v_late));

  std::vector<Index> r_early = {rows - 1};
  std::vector<Index> c_early = {0};
  std::vector<float> v_early = {5.0f};
  r_early.insert(r_early.end(), rs.begin(), rs.end());
  c_early.insert(c_early.end(), cs.begin(), cs.end());
  v_early.insert(v_early.end(), vs.begin(), vs.end());
  check_identical(parse(coo_text(rows, cols, r_early, c_early, v_early)),
                  InteractionMatrix::from_triplets(rows, cols, r_early, c_early, v_early));

  // Rows in strictly decreasing order.
  std::vector<Index> r_desc(rs.rbegin(), rs.rend()), c_desc(cs.rbegin(), cs.rend());
  std::vector<float> v_desc(vs.rbegin(), vs.rend());
  check_identical(parse(coo_text(rows, cols, r_desc, c_desc, v_desc)), expected);
}

TEST_CASE("read_coo: comment and blank lines before the header, and long lines") {
  CHECK(parse("\n\n  \n# a\n\n#b\n2 2 1\n1 0 4\n").nnz() == 1);
  // A line longer than the read buffer (it has to grow), before and inside the entries.
  const std::string long_comment = "# " + std::string((std::size_t{5} << 20) + 17, 'c') + "\n";
  check_csr(parse(long_comment + "2 3 2\n0 2 1\n1 1 2\n"), 2, 3, {0, 1, 2}, {2, 1}, {1.0f, 2.0f});
  const std::string long_value = "1." + std::string(std::size_t{5} << 20, '0');
  check_csr(parse("1 1 1\n0 0 " + long_value + "\n"), 1, 1, {0, 1}, {0}, {1.0f});
}

// ================================================================================================
// Writing and round trips
// ================================================================================================

TEST_CASE("write_coo: the exact text") {
  const std::vector<Index> r = {2, 0, 2, 0};
  const std::vector<Index> c = {1, 3, 0, 0};
  const std::vector<float> v = {0.1f, 12345.678f, -2.0f, 1e-7f};
  const InteractionMatrix m = InteractionMatrix::from_triplets(4, 5, r, c, v);
  CHECK(to_text(m) == "4 5 4\n0 0 1e-07\n0 3 12345.678\n2 0 -2\n2 1 0.1\n");
  CHECK(to_text(InteractionMatrix(3, 7)) == "3 7 0\n");
  CHECK(to_text(InteractionMatrix()) == "0 0 0\n");
}

TEST_CASE("write_coo then read_coo is exact (stream and file)") {
  const std::vector<float> special = {
      0.1f,
      1e-7f,
      12345.678f,
      -0.0f,
      0.0f,
      1.0f / 3.0f,
      -2.5f,
      100.0f,
      1e10f,
      16777216.0f,
      16777215.0f,
      1234567.0f,
      std::numeric_limits<float>::max(),
      std::numeric_limits<float>::lowest(),
      std::numeric_limits<float>::min(),
      std::numeric_limits<float>::denorm_min(),
      -std::numeric_limits<float>::denorm_min(),
      3e-40f,
      std::nextafter(1.0f, 2.0f),
      std::nextafter(0.1f, 0.0f),
  };
  std::vector<Index> r, c;
  for (std::size_t k = 0; k < special.size(); ++k) {
    r.push_back(static_cast<Index>(2 * (k % 7)));  // odd rows and the last rows stay empty
    c.push_back(static_cast<Index>(k));
  }
  const InteractionMatrix m = InteractionMatrix::from_triplets(16, static_cast<Index>(special.size()) + 3, r, c, special);
  REQUIRE(m.nnz() == static_cast<Offset>(special.size()));

  const std::string text = to_text(m);
  check_identical(parse(text), m);

  TempDir dir;
  const fs::path file = dir / "special.coo";
  recmix::io::write_coo(m, file);
  CHECK(read_text(file) == text);
  check_identical(recmix::io::read_coo(file), m);

  // Writing to a path replaces what was there.
  const InteractionMatrix small = parse("1 1 1\n0 0 2\n");
  recmix::io::write_coo(small, file);
  CHECK(read_text(file) == "1 1 1\n0 0 2\n");
  check_identical(recmix::io::read_coo(file), small);
}

TEST_CASE("write_coo then read_coo: a matrix larger than the buffers, every float bit pattern") {
  // ~270k entries, ~5.5 MB of text: several flushes of the 1 MiB write buffer and refills of the
  // 4 MiB read buffer, with lines cut at the chunk boundaries.
  const InteractionMatrix m = random_bits_matrix(1400, 2000, 19, 7);
  REQUIRE(m.nnz() > 150000);
  const std::string text = to_text(m);
  REQUIRE(text.size() > (std::size_t{4} << 20));
  check_identical(parse(text), m);

  TempDir dir;
  const fs::path file = dir / "big.coo";
  recmix::io::write_coo(m, file);
  CHECK(fs::file_size(file) == text.size());
  check_identical(recmix::io::read_coo(file), m);

  SUBCASE("the same lines shuffled (fallback path)") {
    const std::size_t header_end = text.find('\n') + 1;
    std::vector<std::string> lines;
    for (std::size_t pos = header_end; pos < text.size();) {
      const std::size_t nl = text.find('\n', pos);
      lines.push_back(text.substr(pos, nl - pos + 1));
      pos = nl + 1;
    }
    std::mt19937 rng(99);
    std::shuffle(lines.begin(), lines.end(), rng);
    std::string shuffled = text.substr(0, header_end);
    for (const auto& line : lines) shuffled += line;
    check_identical(parse(shuffled), m);
  }
  SUBCASE("line numbers stay right across buffer refills") {
    // Spoil the line that starts after 60% of the text (past the first 4 MiB chunk).
    std::string bad = text;
    const std::size_t pos = bad.find('\n', bad.size() * 3 / 5) + 1;
    bad[pos] = 'x';
    check_parse_error(bad, line_at(bad, pos), 1, "expected integer row index", dir);
    // One entry more than the header declares.
    check_parse_error(text + "0 0 1\n", static_cast<std::size_t>(m.nnz()) + 2, 1, "more entries than the header's nnz",
                      dir);
  }
}

TEST_CASE("read_coo / write_coo: empty matrices") {
  check_csr(parse("0 0 0\n"), 0, 0, {0}, {}, {});
  check_csr(parse("3 4 0\n"), 3, 4, {0, 0, 0, 0}, {}, {});
  check_csr(parse("# nothing here\n3 4 0"), 3, 4, {0, 0, 0, 0}, {}, {});
  check_csr(parse("3 4 0\r\n\r\n"), 3, 4, {0, 0, 0, 0}, {}, {});
  check_csr(parse("0 7 0\n"), 0, 7, {0}, {}, {});
  for (const InteractionMatrix& m : {InteractionMatrix(), InteractionMatrix(5, 2), InteractionMatrix(0, 3)}) {
    check_identical(parse(to_text(m)), m);
    TempDir dir;
    recmix::io::write_coo(m, dir / "empty.coo");
    check_identical(recmix::io::read_coo(dir / "empty.coo"), m);
  }
}

// ================================================================================================
// Errors
// ================================================================================================

TEST_CASE("read_coo: every parse error, with its line and column") {
  TempDir dir;
  const std::string h = "3 4 2\n";  // header used by the entry cases
  const std::vector<BadCase> cases = {
      // Header.
      {"empty input", "", 1, 1, "missing header"},
      {"only comments and blank lines", "# a\n\n# b\n", 4, 1, "missing header"},
      {"only comments, no final newline", "# a\n# b", 3, 1, "missing header"},
      {"header missing nnz", "3 4\n0 0 1\n", 1, 4, "missing 'nnz'"},
      {"header missing cols", "# c\n3\n", 2, 2, "missing 'cols'"},
      {"header missing nnz, trailing blanks and CR", "3 4 \t\r\n", 1, 7, "missing 'nnz'"},
      {"non-numeric rows", "rows cols nnz\n", 1, 1, "'rows' must be a non-negative integer"},
      {"non-numeric cols", "3 x 5\n", 1, 3, "'cols' must be a non-negative integer"},
      {"fractional nnz", "3 4 5.0\n", 1, 5, "'nnz' must be a non-negative integer"},
      {"'+' in the header", "3 4 +5\n", 1, 5, "'nnz' must be a non-negative integer"},
      {"digits then letters", "3 4x 5\n", 1, 3, "'cols' must be a non-negative integer"},
      {"negative rows", "-3 4 5\n", 1, 1, "'rows' is negative"},
      {"negative cols", "3 -4 5\n", 1, 3, "'cols' is negative"},
      {"negative nnz", "#\n3\t4\t-1\n", 2, 5, "'nnz' is negative"},
      {"rows beyond int32", "2147483648 1 0\n", 1, 1, "'rows' = 2147483648 exceeds 2147483647"},
      {"nnz with 19 digits", "1 1 9999999999999999999\n", 1, 5, "'nnz' = 9999999999999999999 exceeds"},
      {"a fourth header field", "# c\n  3 4 5 6\n", 2, 9, "unexpected '6' after 'rows cols nnz'"},
      {"a comment after the header", "3 4 5 # shape\n", 1, 7, "unexpected '#'"},
      // Entries: tokens.
      {"non-numeric row", h + "0 1 1\nx 1 1\n", 3, 1, "expected integer row index, got 'x'"},
      {"non-numeric column", h + "0 y 1\n", 2, 3, "expected integer column index, got 'y'"},
      {"fractional column", h + "0 1.0 2\n", 2, 3, "expected integer column index, got '1.0'"},
      {"non-numeric value", h + "0 1 abc\n", 2, 5, "expected numeric value, got 'abc'"},
      {"value 1.5.3", h + "0 1 1.5.3\n", 2, 5, "expected numeric value, got '1.5.3'"},
      {"value 1e", h + "0 1 2 \n0 2 1e\n", 3, 5, "expected numeric value, got '1e'"},
      {"value +-1", h + "0 1 +-1\n", 2, 5, "expected numeric value"},
      {"value with a unit", h + "0 1 12kg\n", 2, 5, "expected numeric value, got '12kg'"},
      {"hex value", h + "0 1 0x10\n", 2, 5, "expected numeric value, got '0x10'"},
      {"tabs count as one column", h + "0\t1\tz\n", 2, 5, "expected numeric value, got 'z'"},
      {"missing column", h + "0\n", 2, 2, "expected column index, found end of line"},
      {"missing value", h + "0 1\n", 2, 4, "expected value, found end of line"},
      {"missing value before CR", h + "0 1 \r\n", 2, 6, "expected value, found end of line"},
      {"garbage after the value", h + "0 1 2 9\n", 2, 7, "unexpected '9' after 'row col value'"},
      {"comment after the value", h + "0 1 2 # note\n", 2, 7, "unexpected '#'"},
      {"garbage after the value, CRLF", "3 4 2\r\n0 1 2\r\n1 1 2  x\r\n", 3, 8, "unexpected 'x'"},
      // Entries: indices.
      {"negative row", h + "-1 0 1\n", 2, 1, "negative row index -1"},
      {"negative column", h + "0 1 1\n 1  -2 1\n", 3, 5, "negative column index -2"},
      {"row out of range", h + "3 0 1\n", 2, 1, "row index 3 out of range [0, 3)"},
      {"column out of range", h + "0 4 1\n", 2, 3, "column index 4 out of range [0, 4)"},
      {"row far out of range", h + "99999999999999999999 0 1\n", 2, 1, "out of range [0, 3)"},
      {"entry in a 0 x 0 matrix", "0 0 1\n0 0 1\n", 2, 1, "row index 0 out of range [0, 0)"},
      // Entries: values.
      {"NaN", h + "0 1 nan\n", 2, 5, "is not finite"},
      {"NaN, capitals", h + "0 1 1\n1 2 NaN\n", 3, 5, "is not finite"},
      {"+inf", h + "0 1 +inf\n", 2, 5, "is not finite"},
      {"-inf", h + "0 1 -inf\n", 2, 5, "is not finite"},
      {"infinity", h + "0 1 infinity\n", 2, 5, "is not finite"},
      {"beyond float", h + "0 1 1e39\n", 2, 5, "1e39"},
      {"beyond double", h + "0 1 -1e400\n", 2, 5, "-1e400"},
      // Line structure.
      {"too few lines", h + "0 1 1\n", 3, 1, "file ends after 1 of the 2 entries"},
      {"too few lines, no final newline", h + "0 1 1", 3, 1, "file ends after 1 of the 2 entries"},
      {"too few lines, CRLF", "3 4 2\r\n0 1 1\r\n", 3, 1, "file ends after 1 of the 2 entries"},
      {"no entries at all", "# c\n" + h, 3, 1, "file ends after 0 of the 2 entries"},
      {"nnz far beyond the input", "3 4 100000000000\n0 0 1\n", 3, 1, "file ends after 1 of the 100000000000"},
      {"too many lines", h + "0 1 1\n1 1 1\n2 2 2\n", 4, 1, "more entries than the header's nnz = 2"},
      {"too many lines, indented", h + "0 1 1\n1 1 1\n\n  2 2 2\n", 5, 3, "more entries than the header's nnz = 2"},
      {"blank line inside the entries", h + "0 1 1\n\n1 1 1\n", 3, 1, "blank line inside the entries (1 of 2 read)"},
      {"comment inside the entries", h + "# x\n0 1 1\n1 1 1\n", 2, 1, "comment lines are only allowed before the header"},
      {"indented comment inside the entries", h + "0 1 1\n\t# x\n1 1 1\n", 3, 2, "comment lines"},
  };
  for (const BadCase& bad : cases) {
    CAPTURE(bad.what);
    check_parse_error(bad.text, bad.line, bad.column, bad.fragment, dir);
  }

  // A column far to the right of a long line.
  const std::size_t pad = (std::size_t{5} << 20) + 3;
  check_parse_error(h + std::string(pad, ' ') + "0 1 1\n1 1 q\n", 3, 5, "got 'q'", dir);
  check_parse_error(h + std::string(pad, ' ') + "0 1 oops\n", 2, pad + 5, "got 'oops'", dir);
}

TEST_CASE("read_coo / write_coo: I/O errors") {
  TempDir dir;
  const fs::path missing = dir / "no-such-file.coo";
  CHECK_THROWS_AS((void)recmix::io::read_coo(missing), recmix::io_error);
  CHECK_THROWS_WITH_AS((void)recmix::io::read_coo(missing), doctest::Contains("no-such-file.coo"), recmix::io_error);
  CHECK_THROWS_AS((void)recmix::io::read_coo(dir.path()), recmix::io_error);

  const InteractionMatrix m = parse("1 1 1\n0 0 2\n");
  CHECK_THROWS_AS(recmix::io::write_coo(m, dir / "no-such-dir" / "out.coo"), recmix::io_error);
  CHECK_FALSE(fs::exists(dir / "no-such-dir"));

  std::ostream broken(nullptr);  // no buffer: every write fails
  CHECK_THROWS_AS(recmix::io::write_coo(m, broken), recmix::io_error);

  // Only parse_error for malformed text, io_error for files: both are recmix::error.
  CHECK_THROWS_AS((void)recmix::io::read_coo(missing), recmix::error);
  CHECK_THROWS_AS((void)parse("1 1\n"), recmix::error);
}

TEST_CASE("temporary_beside: beside the target, new on every call, in every thread and in a forked child") {
  using recmix::io::detail::temporary_beside;
  const fs::path target = fs::path("some") / "dir" / "model.bin";
  const fs::path first = temporary_beside(target);
  CHECK(first.parent_path() == target.parent_path());  // a rename within one directory
  CHECK(first.filename().string().rfind("model.bin.tmp-", 0) == 0);

  // Two threads asking at once never get the same name.
  constexpr int kPerThread = 500;
  std::vector<std::string> a, b;
  {
    std::thread ta([&] { for (int i = 0; i < kPerThread; ++i) a.push_back(temporary_beside(target).string()); });
    std::thread tb([&] { for (int i = 0; i < kPerThread; ++i) b.push_back(temporary_beside(target).string()); });
    ta.join();
    tb.join();
  }
  std::vector<std::string> all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.push_back(first.string());
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());

#if !defined(_WIN32)
  // A forked child inherits the parent's counter and token; its next name must still differ from
  // the parent's next one (two processes saving the same file must not share a temporary).
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string name = temporary_beside(target).string();
    const ssize_t written = ::write(fds[1], name.data(), name.size());
    ::_exit(written == static_cast<ssize_t>(name.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  const std::string mine = temporary_beside(target).string();
  std::string theirs;
  char buffer[256];
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) > 0;) theirs.append(buffer, static_cast<std::size_t>(got));
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(theirs.rfind("model.bin.tmp-", theirs.rfind('/') + 1) != std::string::npos);
  CHECK(theirs != mine);
#endif
}
