// Unit tests of the CSV reader and the dense tables (recmix/io/csv.hpp): the tokenizer on hand
// cases (quotes, line ends, blank lines, buffer boundaries), the line and column of every
// error, read_dense_csv's number and missing-value rules, and exact write/read round trips.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/types.hpp>
#include <recmix/io/csv.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using recmix::RowMatrixXf;
using recmix::io::CsvReader;
using recmix::io::DenseCsvOptions;
using recmix::io::DenseTable;
using recmix::io::MissingValues;

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

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

/// One record as the reader reported it, positions included.
struct Record {
  std::vector<std::string> fields;
  std::size_t line = 0;
  std::vector<std::size_t> field_lines;
  std::vector<std::size_t> columns;
  std::size_t end_line = 0;
  std::size_t end_column = 0;

  bool operator==(const Record&) const = default;
};

std::vector<Record> read_all(CsvReader& reader) {
  std::vector<Record> out;
  std::vector<std::string_view> fields;
  while (reader.next(fields)) {
    Record r;
    r.fields.assign(fields.begin(), fields.end());
    r.line = reader.line();
    r.end_line = reader.end_line();
    r.end_column = reader.end_column();
    REQUIRE(reader.size() == fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i) {
      r.field_lines.push_back(reader.field_line(i));
      r.columns.push_back(reader.column(i));
    }
    out.push_back(std::move(r));
  }
  CHECK(fields.empty());
  CHECK(reader.size() == 0);
  return out;
}

std::vector<Record> tokenize(const std::string& text, char delimiter = ',',
                             std::size_t buffer_size = CsvReader::kDefaultBufferSize) {
  std::istringstream in(text, std::ios::in | std::ios::binary);
  CsvReader reader(in, "<test>", delimiter, buffer_size);
  return read_all(reader);
}

/// Only the fields of each record.
std::vector<std::vector<std::string>> fields_of(const std::vector<Record>& records) {
  std::vector<std::vector<std::string>> out;
  for (const Record& r : records) out.push_back(r.fields);
  return out;
}

/// Tokenizes `text` with every buffer size from 1 to past its length, checks they all agree
/// with the default buffer, and returns the records.
std::vector<Record> tokenize_all_buffers(const std::string& text, char delimiter = ',') {
  const std::vector<Record> expected = tokenize(text, delimiter);
  for (std::size_t size = 1; size <= text.size() + 2; ++size) {
    CAPTURE(size);
    CHECK(tokenize(text, delimiter, size) == expected);
  }
  return expected;
}

using Fields = std::vector<std::vector<std::string>>;

/// Asserts that tokenizing `text` (with every buffer size) throws a parse_error at (line, column)
/// whose message contains `fragment`.
void check_tokenizer_error(const std::string& text, std::size_t line, std::size_t column, const std::string& fragment) {
  CAPTURE(text);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{5},
                           std::size_t{8}, std::size_t{13}}) {
    CAPTURE(size);
    std::istringstream in(text, std::ios::in | std::ios::binary);
    CsvReader reader(in, "inline", ',', size == 0 ? CsvReader::kDefaultBufferSize : size);
    std::vector<std::string_view> fields;
    try {
      while (reader.next(fields)) {
      }
      FAIL_CHECK("CsvReader accepted malformed text");
    } catch (const recmix::parse_error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(e.source() == "inline");
      CHECK(e.line() == line);
      CHECK(e.column() == column);
      CHECK(what.rfind("inline:" + std::to_string(line) + ":" + std::to_string(column) + ": ", 0) == 0);
      CHECK(what.find(fragment) != std::string::npos);
    }
  }
}

DenseTable parse_dense(const std::string& text, const DenseCsvOptions& options = {}) {
  std::istringstream in(text, std::ios::in | std::ios::binary);
  return recmix::io::read_dense_csv(in, "<test>", options);
}

std::string dense_text(std::span<const std::string> columns, const RowMatrixXf& values) {
  std::ostringstream out(std::ios::out | std::ios::binary);
  recmix::io::write_dense_csv(columns, values, out);
  return out.str();
}

std::vector<std::uint32_t> bits_of(const RowMatrixXf& m) {
  std::vector<std::uint32_t> bits(static_cast<std::size_t>(m.size()));
  std::transform(m.data(), m.data() + m.size(), bits.begin(), [](float v) { return std::bit_cast<std::uint32_t>(v); });
  return bits;
}

RowMatrixXf matrix(Eigen::Index rows, Eigen::Index cols, const std::vector<float>& values) {
  REQUIRE(static_cast<Eigen::Index>(values.size()) == rows * cols);
  RowMatrixXf m(rows, cols);
  std::copy(values.begin(), values.end(), m.data());
  return m;
}

void check_table(const DenseTable& t, const std::vector<std::string>& columns, Eigen::Index rows,
                 const std::vector<float>& values) {
  CHECK(t.columns == columns);
  CHECK(t.values.rows() == rows);
  CHECK(t.values.cols() == static_cast<Eigen::Index>(columns.size()));
  if (t.values.size() == static_cast<Eigen::Index>(values.size())) {
    CHECK(bits_of(t.values) == bits_of(matrix(rows, static_cast<Eigen::Index>(columns.size()), values)));
  }
}

/// Asserts that read_dense_csv rejects `text` with a parse_error at (line, column) whose
/// message contains `fragment`, both from a stream and from a file.
void check_dense_error(const std::string& text, std::size_t line, std::size_t column, const std::string& fragment,
                       const TempDir& dir, const DenseCsvOptions& options = {}) {
  CAPTURE(text);
  const std::string prefix = ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  {
    std::istringstream in(text, std::ios::in | std::ios::binary);
    try {
      (void)recmix::io::read_dense_csv(in, "inline", options);
      FAIL_CHECK("read_dense_csv (stream) accepted malformed text");
    } catch (const recmix::parse_error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(e.source() == "inline");
      CHECK(e.line() == line);
      CHECK(e.column() == column);
      CHECK(what.rfind("inline" + prefix, 0) == 0);
      CHECK(what.find(fragment) != std::string::npos);
    }
  }
  {
    const fs::path file = dir / "bad.csv";
    write_text(file, text);
    try {
      (void)recmix::io::read_dense_csv(file, options);
      FAIL_CHECK("read_dense_csv (file) accepted malformed text");
    } catch (const recmix::parse_error& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(e.source() == file.string());
      CHECK(e.line() == line);
      CHECK(e.column() == column);
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
  std::string fragment;
};

const float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

// ================================================================================================
// The tokenizer
// ================================================================================================

TEST_CASE("trim: spaces and tabs at both ends only") {
  using recmix::io::trim;
  CHECK(trim("") == "");
  CHECK(trim("   ") == "");
  CHECK(trim(" \t ") == "");
  CHECK(trim(" 35") == "35");
  CHECK(trim("     6") == "6");
  CHECK(trim("6     ") == "6");
  CHECK(trim("\t1 2\t ") == "1 2");
  CHECK(trim("x") == "x");
  CHECK(trim("\r1\n") == "\r1\n");  // only spaces and tabs
  static_assert(recmix::io::trim("  a ") == "a");
}

TEST_CASE("CsvReader: plain records, empty fields, a last line without its line end") {
  const std::vector<Record> r = tokenize_all_buffers("a,b,c\n1,,3\n,,\n x , y\t,z \nlast,one");
  CHECK(fields_of(r) == Fields{{"a", "b", "c"}, {"1", "", "3"}, {"", "", ""}, {" x ", " y\t", "z "}, {"last", "one"}});
  REQUIRE(r.size() == 5);
  for (std::size_t k = 0; k < r.size(); ++k) CHECK(r[k].line == k + 1);
  CHECK(r[1].columns == std::vector<std::size_t>{1, 3, 4});
  CHECK(r[2].columns == std::vector<std::size_t>{1, 2, 3});
  CHECK(r[3].columns == std::vector<std::size_t>{1, 5, 9});
  CHECK(r[4].end_line == 5);
  CHECK(r[4].end_column == 9);

  CHECK(fields_of(tokenize_all_buffers("x")) == Fields{{"x"}});
  CHECK(fields_of(tokenize_all_buffers(",")) == Fields{{"", ""}});
  CHECK(fields_of(tokenize_all_buffers("a,\n")) == Fields{{"a", ""}});
  CHECK(tokenize_all_buffers("").empty());
  CHECK(tokenize_all_buffers("\n").empty());
  CHECK(tokenize_all_buffers("\r\n\r\n").empty());
}

TEST_CASE("CsvReader: quoted fields (delimiter, \"\" escapes, line ends inside)") {
  SUBCASE("a delimiter inside quotes") {
    const std::vector<Record> r = tokenize_all_buffers("ncodpers,nomprov\n1375586,\"CORUÑA, A\"\n");
    CHECK(fields_of(r) == Fields{{"ncodpers", "nomprov"}, {"1375586", "CORUÑA, A"}});
    CHECK(r[1].columns == std::vector<std::size_t>{1, 9});
    CHECK(r[1].end_column == 9 + 12);  // "CORUÑA, A" quoted is 12 bytes (Ñ is two)
  }
  SUBCASE("escaped quotes") {
    const std::vector<Record> r =
        tokenize_all_buffers("\"say \"\"hi\"\"\",\"\"\"\",\"\"\"\"\"\",\"a\"\"\"\"b\",\"\",x\"y\"\n");
    CHECK(fields_of(r) == Fields{{"say \"hi\"", "\"", "\"\"", "a\"\"b", "", "x\"y\""}});
  }
  SUBCASE("line ends inside quotes: the following records keep their line numbers") {
    const std::string text =
        "id,comment,n\n"
        "1,\"two\nlines\",7\n"
        "2,\"three\r\nlines\n\",8\n"
        "3,\"\"\"quoted\"\"\nand escaped\",9\n"
        "4,plain,10\n";
    const std::vector<Record> r = tokenize_all_buffers(text);
    CHECK(fields_of(r) == Fields{{"id", "comment", "n"},
                                 {"1", "two\nlines", "7"},
                                 {"2", "three\r\nlines\n", "8"},
                                 {"3", "\"quoted\"\nand escaped", "9"},
                                 {"4", "plain", "10"}});
    REQUIRE(r.size() == 5);
    CHECK(r[1].line == 2);
    CHECK(r[1].field_lines == std::vector<std::size_t>{2, 2, 3});
    CHECK(r[1].columns == std::vector<std::size_t>{1, 3, 8});
    CHECK(r[2].line == 4);
    CHECK(r[2].field_lines == std::vector<std::size_t>{4, 4, 6});
    CHECK(r[2].columns == std::vector<std::size_t>{1, 3, 3});
    CHECK(r[2].end_line == 6);
    CHECK(r[2].end_column == 4);
    CHECK(r[3].line == 7);
    CHECK(r[3].field_lines == std::vector<std::size_t>{7, 7, 8});
    CHECK(r[3].columns == std::vector<std::size_t>{1, 3, 14});
    CHECK(r[4].line == 9);
  }
  SUBCASE("a quoted last field without a line end, and quoted empty fields") {
    CHECK(fields_of(tokenize_all_buffers("a,\"b\"")) == Fields{{"a", "b"}});
    CHECK(fields_of(tokenize_all_buffers("a,\"b\"\r")) == Fields{{"a", "b"}});
    CHECK(fields_of(tokenize_all_buffers("\"\"")) == Fields{{""}});
    CHECK(fields_of(tokenize_all_buffers("\"\"\n\"\"\r\n")) == Fields{{""}, {""}});
    CHECK(fields_of(tokenize_all_buffers("\"\",\"\"")) == Fields{{"", ""}});
  }
  SUBCASE("a quote that does not start a field is an ordinary character") {
    CHECK(fields_of(tokenize_all_buffers(" \"a,b\" \nx\"\"y\n")) == Fields{{" \"a", "b\" "}, {"x\"\"y"}});
  }
}

TEST_CASE("CsvReader: CRLF, blank lines and lone CRs") {
  const std::string lf = "\n\na,b\n\n1,2\n\n\n3,4\n\n";
  const std::vector<Record> r = tokenize_all_buffers(lf);
  CHECK(fields_of(r) == Fields{{"a", "b"}, {"1", "2"}, {"3", "4"}});
  REQUIRE(r.size() == 3);
  CHECK(r[0].line == 3);
  CHECK(r[1].line == 5);
  CHECK(r[2].line == 8);

  const std::vector<Record> crlf = tokenize_all_buffers(replace_all(lf, "\n", "\r\n"));
  CHECK(crlf == r);
  CHECK(crlf[2].end_column == 4);

  // Mixed line ends, no final line end.
  CHECK(fields_of(tokenize_all_buffers("a,b\r\n1,2\n\r\n3,4")) == Fields{{"a", "b"}, {"1", "2"}, {"3", "4"}});
  // A '\r' not followed by '\n' is data; a lone '\r' at the very end is a line end.
  CHECK(fields_of(tokenize_all_buffers("a\rb,c\r\n\rd\n")) == Fields{{"a\rb", "c"}, {"\rd"}});
  CHECK(fields_of(tokenize_all_buffers("a,b\r")) == Fields{{"a", "b"}});
  CHECK(fields_of(tokenize_all_buffers("a,b\r\r")) == Fields{{"a", "b\r"}});
  CHECK(tokenize_all_buffers("\r").empty());
  // Spaces make a line a record, not a blank line.
  CHECK(fields_of(tokenize_all_buffers("a\n \n\t\nb\n")) == Fields{{"a"}, {" "}, {"\t"}, {"b"}});
}

TEST_CASE("CsvReader: other delimiters") {
  CHECK(fields_of(tokenize_all_buffers("a;b,c;\"d;e\"\n1;2\n", ';')) == Fields{{"a", "b,c", "d;e"}, {"1", "2"}});
  CHECK(fields_of(tokenize_all_buffers("a\tb\t\n\"x\ty\"\tz", '\t')) == Fields{{"a", "b", ""}, {"x\ty", "z"}});
  CHECK(fields_of(tokenize_all_buffers("a b  c", ' ')) == Fields{{"a", "b", "", "c"}});

  std::istringstream in("x");
  CHECK_THROWS_AS(CsvReader(in, "s", '"'), recmix::invalid_argument);
  CHECK_THROWS_AS(CsvReader(in, "s", '\n'), recmix::invalid_argument);
  CHECK_THROWS_AS(CsvReader(in, "s", '\r'), recmix::invalid_argument);
  CHECK_THROWS_AS(CsvReader(in, "s", ',', 0), recmix::invalid_argument);
}

TEST_CASE("CsvReader: records across buffer boundaries and longer than the buffer") {
  SUBCASE("many small records across the default buffer's boundaries") {
    std::string text;
    Fields expected;
    for (int k = 0; k < 120000; ++k) {
      const std::string a = std::to_string(k), b = "v\"" + std::to_string(k * 7) + "\"";
      text += a + ",\"" + replace_all(b, "\"", "\"\"") + "\"" + (k % 3 == 0 ? "\r\n" : "\n");
      expected.push_back({a, b});
    }
    REQUIRE(text.size() > 2 * CsvReader::kDefaultBufferSize);
    const std::vector<Record> r = tokenize(text);
    CHECK(fields_of(r) == expected);
    REQUIRE(r.size() == expected.size());
    CHECK(r.back().line == expected.size());
  }
  SUBCASE("one record of several MiB, quoted with escapes and line ends") {
    std::string big;
    std::size_t newlines = 0;
    for (std::size_t k = 0; big.size() < 3 * CsvReader::kDefaultBufferSize; ++k) {
      big += "chunk " + std::to_string(k) + (k % 100 == 0 ? "\"" : "");
      if (k % 1000 == 999) {
        big += '\n';
        ++newlines;
      }
    }
    const std::string plain(CsvReader::kDefaultBufferSize + 17, 'x');
    const std::string text = "head\n1,\"" + replace_all(big, "\"", "\"\"") + "\"," + plain + "\n2,after\n";
    for (std::size_t size : {CsvReader::kDefaultBufferSize, std::size_t{4096}, std::size_t{1}}) {
      CAPTURE(size);
      const std::vector<Record> r = tokenize(text, ',', size);
      REQUIRE(r.size() == 3);
      CHECK(r[1].fields.size() == 3);
      CHECK(r[1].fields[1] == big);
      CHECK(r[1].fields[2] == plain);
      CHECK(r[1].line == 2);
      CHECK(r[1].field_lines[2] == 2 + newlines);
      CHECK(r[2].fields == std::vector<std::string>{"2", "after"});
      CHECK(r[2].line == 3 + newlines);
    }
  }
}

TEST_CASE("CsvReader: the views stay valid until the next call") {
  std::istringstream in("\"a\"\"b\",c,\"d\ne\"\nx,y,z\n");
  CsvReader reader(in, "<test>", ',', 4);
  std::vector<std::string_view> f;
  REQUIRE(reader.next(f));
  const std::vector<std::string> first(f.begin(), f.end());
  CHECK(first == std::vector<std::string>{"a\"b", "c", "d\ne"});
  REQUIRE(reader.next(f));
  CHECK(std::vector<std::string>(f.begin(), f.end()) == std::vector<std::string>{"x", "y", "z"});
  CHECK_FALSE(reader.next(f));
  CHECK(reader.line() == 4);
  CHECK_FALSE(reader.next(f));  // stays at the end
}

TEST_CASE("CsvReader: field accessors out of range") {
  std::istringstream in("a,b\n");
  CsvReader reader(in);
  CHECK(reader.source() == "<stream>");
  CHECK(reader.delimiter() == ',');
  std::vector<std::string_view> f;
  REQUIRE(reader.next(f));
  CHECK(reader.column(1) == 3);
  CHECK_THROWS_AS((void)reader.column(2), recmix::invalid_argument);
  CHECK_THROWS_AS((void)reader.field_line(2), recmix::invalid_argument);
  CHECK_FALSE(reader.next(f));
  CHECK_THROWS_AS((void)reader.column(0), recmix::invalid_argument);
}

TEST_CASE("CsvReader: every parse error, with its line and column") {
  // Unterminated quoted fields: reported at the opening quote.
  check_tokenizer_error("\"abc", 1, 1, "unterminated quoted field");
  check_tokenizer_error("a,b\nc,\"d\n", 2, 3, "unterminated quoted field");
  check_tokenizer_error("a,\"x\ny\"\nb,\"\"\"", 3, 3, "unterminated quoted field");
  check_tokenizer_error("a,\"x\ny\",\"\n\n\n", 2, 4, "unterminated quoted field");
  check_tokenizer_error("\"ends with an escaped quote\"\"", 1, 1, "unterminated quoted field");
  // A character after a closing quote: reported at that character.
  check_tokenizer_error("\"a\"b,c\n", 1, 4, "unexpected 'b' after the closing quote");
  check_tokenizer_error("x,y\nx,\"a\" ,z\n", 2, 6, "unexpected ' ' after the closing quote of the field at column 3");
  check_tokenizer_error("x,\"a\nbc\"d", 2, 4, "unexpected 'd'");
  check_tokenizer_error("\"a\"\rb\n", 1, 4, "unexpected '\\r'");
  check_tokenizer_error("\"a\"\"\"x", 1, 6, "unexpected 'x'");

  CHECK_THROWS_AS((void)tokenize("a,\"b"), recmix::parse_error);
  CHECK_THROWS_AS((void)tokenize("\"a\"b"), recmix::parse_error);
  CHECK_THROWS_AS((void)tokenize("\"a\"b"), recmix::error);
}

TEST_CASE("CsvReader::open: files, and files that cannot be opened") {
  TempDir dir;
  const fs::path file = dir / "data.csv";
  write_text(file, "a;b\r\n\"1;2\";3\r\n");
  CsvReader reader = CsvReader::open(file, ';');
  CHECK(reader.source() == file.string());
  const std::vector<Record> r = read_all(reader);
  CHECK(fields_of(r) == Fields{{"a", "b"}, {"1;2", "3"}});

  CsvReader small = CsvReader::open(file, ';', 3);
  CHECK(read_all(small) == r);

  const fs::path missing = dir / "no-such-file.csv";
  CHECK_THROWS_AS((void)CsvReader::open(missing), recmix::io_error);
  CHECK_THROWS_WITH_AS((void)CsvReader::open(missing), doctest::Contains("no-such-file.csv"), recmix::io_error);
  CHECK_THROWS_WITH_AS((void)CsvReader::open(dir.path()), doctest::Contains("is a directory"), recmix::io_error);
}

// ================================================================================================
// Dense tables
// ================================================================================================

TEST_CASE("read_dense_csv: header, padded numbers and the spellings from_chars accepts") {
  const std::string text =
      "age,antiguedad,renta,\" quoted name \"\n"
      " 35,     6,87218.1,+1\n"
      "23 ,\t 35\t,-0.5,1e3\n"
      "\" 7\",\"8\",.25,4.\n"
      "0000012,1E-3,-0,+.5\n";
  const std::vector<std::string> names = {"age", "antiguedad", "renta", " quoted name "};
  const std::vector<float> values = {35, 6, 87218.1f, 1, 23, 35, -0.5f, 1000, 7, 8, 0.25f, 4, 12, 1e-3f, -0.0f, 0.5f};
  check_table(parse_dense(text), names, 4, values);
  check_table(parse_dense(replace_all(text, "\n", "\r\n") + "\r\n\r\n"), names, 4, values);
  check_table(parse_dense(text.substr(0, text.size() - 1)), names, 4, values);
  check_table(parse_dense("\n\n" + text + "\n\n"), names, 4, values);

  DenseCsvOptions semicolons;
  semicolons.delimiter = ';';
  check_table(parse_dense("a;b\n1;2.5\n", semicolons), {"a", "b"}, 1, {1, 2.5f});

  TempDir dir;
  write_text(dir / "t.csv", text);
  check_table(recmix::io::read_dense_csv(dir / "t.csv"), names, 4, values);
}

TEST_CASE("read_dense_csv: without a header the columns are named 0, 1, ...") {
  DenseCsvOptions options;
  options.header = false;
  check_table(parse_dense("1,2,3\n4,5,6\n", options), {"0", "1", "2"}, 2, {1, 2, 3, 4, 5, 6});
  check_table(parse_dense("7", options), {"0"}, 1, {7});
  TempDir dir;
  check_dense_error("1,2\nx,3\n", 2, 1, "expected a number in column '0', got 'x'", dir, options);
  check_dense_error("1,2\n3\n", 2, 2, "expected 2 fields, found 1", dir, options);
  check_dense_error("a,2\n", 1, 1, "expected a number", dir, options);  // a header is not skipped
}

TEST_CASE("read_dense_csv: a header without rows, and empty input") {
  const DenseTable t = parse_dense("x,y,z\n");
  CHECK(t.columns == std::vector<std::string>{"x", "y", "z"});
  CHECK(t.values.rows() == 0);
  CHECK(t.values.cols() == 3);
  CHECK(parse_dense("x").values.cols() == 1);

  TempDir dir;
  check_dense_error("", 1, 1, "empty input", dir);
  check_dense_error("\n\r\n\n", 4, 1, "empty input", dir);
  DenseCsvOptions no_header;
  no_header.header = false;
  check_dense_error("", 1, 1, "empty input", dir, no_header);
}

TEST_CASE("read_dense_csv: every parse error, with its line and column") {
  TempDir dir;
  const std::vector<BadCase> cases = {
      {"row too short", "a,b,c\n1,2,3\n4,5\n", 3, 4, "expected 3 fields, found 2"},
      {"row too short, CRLF", "a,b\r\n1\r\n", 2, 2, "expected 2 fields, found 1"},
      {"row too short, no line end", "a,b,c\n1,2", 2, 4, "expected 3 fields, found 2"},
      {"row too long", "a,b,c\n1,2,3,4\n", 2, 7, "expected 3 fields, found 4"},
      {"row too long, trailing comma", "a,b\n1,2,\n", 2, 5, "expected 2 fields, found 3"},
      {"row too short after a multi-line header", "\"a\nb\",c\n1\n", 3, 2, "expected 2 fields, found 1"},
      {"24 columns, 23 fields", std::string("c0") + [] {
         std::string s;
         for (int i = 1; i < 24; ++i) s += ",c" + std::to_string(i);
         s += "\n1";
         for (int i = 1; i < 23; ++i) s += ",1";
         return s + "\n";
       }(),
       2, 46, "expected 24 fields, found 23"},
      {"a word", "a,b\n1,2\n1,x\n", 3, 3, "expected a number in column 'b', got 'x'"},
      {"trailing garbage", "a,b\n1, 2x\n", 2, 3, "got '2x'"},
      {"two numbers", "a,b\n1 2,3\n", 2, 1, "got '1 2'"},
      {"quoted word", "a,b\n1,\"abc\"\n", 2, 3, "got 'abc'"},
      {"plus minus", "a\n+-1\n", 2, 1, "got '+-1'"},
      {"double plus", "a\n++1\n", 2, 1, "got '++1'"},
      {"lone plus", "a\n+\n", 2, 1, "got '+'"},
      {"hexadecimal", "a\n0x1A\n", 2, 1, "got '0x1A'"},
      {"dangling exponent", "a\n1e\n", 2, 1, "got '1e'"},
      {"decimal comma", "a;b\n1,5;2\n", 2, 1, "got '1,5'"},
      {"long text is cut", "a\n" + std::string(100, 'z') + "\n", 2, 1, "got '" + std::string(40, 'z') + "...'"},
      {"inf", "a,b\n1,inf\n", 2, 3, "value 'inf' in column 'b' is not finite"},
      {"-Infinity", "a\n-Infinity\n", 2, 1, "value '-Infinity' in column 'a' is not finite"},
      {"+inf", "a\n+inf\n", 2, 1, "is not finite"},
      {"overflow", "a\n1e39\n", 2, 1, "value '1e39' in column 'a' is out of range for float"},
      {"negative overflow", "a\n -3.5e38\n", 2, 1, "value '-3.5e38' in column 'a' is out of range"},
      {"huge exponent", "a\n1e99999999999999999999\n", 2, 1, "out of range for float"},
      {"many digits", "a\n" + std::string(50, '9') + "\n", 2, 1, "out of range for float"},
      {"empty field", "a,b\n1,\n", 2, 3, "empty field in column 'b'"},
      {"blank field", "a,b\n  ,1\n", 2, 1, "empty field in column 'a'"},
      {"quoted empty field", "a\n\"\"\n", 2, 1, "empty field"},
      {"NA", "a,b\n1,NA\n", 2, 3, "missing value 'NA' in column 'b'"},
      {"nan", "a,b\n1, nan\n", 2, 3, "missing value 'nan'"},
      {"NaN", "a,b\nNaN,1\n", 2, 1, "missing value 'NaN'"},
      {"unterminated quote", "a,b\n1,\"2\n", 2, 3, "unterminated quoted field"},
      {"after a closing quote", "a,b\n1,\"2\"3\n", 2, 6, "unexpected '3' after the closing quote"},
  };
  for (const BadCase& c : cases) {
    CAPTURE(c.what);
    DenseCsvOptions options;
    if (std::string(c.what) == "decimal comma") options.delimiter = ';';
    check_dense_error(c.text, c.line, c.column, c.fragment, dir, options);
  }
}

TEST_CASE("read_dense_csv: missing values under both policies") {
  const std::string text = "a,b,c\n1,,NA\n nan ,NaN,2\n-nan,nan(123),NAN\n\"\",\" NA \",3\n";
  TempDir dir;
  check_dense_error(text, 2, 3, "empty field in column 'b'", dir);

  DenseCsvOptions options;
  options.missing = MissingValues::nan;
  const DenseTable t = parse_dense(text, options);
  REQUIRE(t.values.rows() == 4);
  const std::uint32_t quiet = std::bit_cast<std::uint32_t>(kNaN);
  const std::vector<std::uint32_t> expected = {
      std::bit_cast<std::uint32_t>(1.0f), quiet, quiet, quiet, quiet, std::bit_cast<std::uint32_t>(2.0f),
      quiet, quiet, quiet, quiet, quiet, std::bit_cast<std::uint32_t>(3.0f)};
  CHECK(bits_of(t.values) == expected);

  // Infinity and unknown words stay errors.
  check_dense_error("a,b\n,inf\n", 2, 2, "is not finite", dir, options);
  check_dense_error("a\n-inf\n", 2, 1, "is not finite", dir, options);
  check_dense_error("a\nN/A\n", 2, 1, "expected a number in column 'a', got 'N/A'", dir, options);
  check_dense_error("a\nna\n", 2, 1, "got 'na'", dir, options);
  check_dense_error("a\n1e40\n", 2, 1, "out of range", dir, options);
}

TEST_CASE("read_dense_csv: tiny values round to zero or a subnormal") {
  const DenseTable t = parse_dense(
      "a\n1e-40\n1e-45\n7e-46\n1e-50\n-1e-50\n1e-99999999999\n0.000000000000000000000000000000000000000000000000001\n"
      "-0.0e-99999\n" +
      std::string("0.") + std::string(60, '0') + "1e61\n");
  CHECK(bits_of(t.values) ==
        bits_of(matrix(9, 1, {1e-40f, std::numeric_limits<float>::denorm_min(), 0.0f, 0.0f, -0.0f, 0.0f, 0.0f, -0.0f, 1.0f})));
}

TEST_CASE("write_dense_csv: the exact text") {
  const std::vector<std::string> names = {"a", "b,c", "say \"hi\"", "", "multi\nline"};
  const RowMatrixXf m = matrix(2, 5, {1.0f, 0.1f, -2.5f, 1e-45f, 3.4028235e38f, -0.0f, kNaN, 123456789.0f, 0.0f, 1e7f});
  const std::string text = dense_text(names, m);
  CHECK(text ==
        "a,\"b,c\",\"say \"\"hi\"\"\",\"\",\"multi\nline\"\n"
        "1,0.1,-2.5,1e-45,3.4028235e+38\n"
        "-0,nan,123456792,0,1e+07\n");  // fixed notation prints integers exactly

  DenseCsvOptions options;
  options.missing = MissingValues::nan;
  const DenseTable back = parse_dense(text, options);
  CHECK(back.columns == names);
  CHECK(bits_of(back.values) == bits_of(m));

  // A header only.
  CHECK(dense_text(std::vector<std::string>{"x", "y"}, RowMatrixXf(0, 2)) == "x,y\n");
  // A single column named "" stays readable (not a blank line).
  const std::vector<std::string> unnamed = {""};
  const DenseTable one = parse_dense(dense_text(unnamed, matrix(1, 1, {4.0f})));
  CHECK(one.columns == unnamed);
  CHECK(one.values(0, 0) == 4.0f);
}

TEST_CASE("write_dense_csv then read_dense_csv is bit-exact (stream and file)") {
  std::mt19937 rng(20240917);
  const Eigen::Index rows = 3000, cols = 7;
  RowMatrixXf m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) {
    float v = 0.0f;
    do {
      v = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
    } while (!std::isfinite(v));
    m.data()[k] = v;
  }
  // Subnormals, the extremes and both zeros.
  const float special[] = {std::numeric_limits<float>::denorm_min(),
                           -std::numeric_limits<float>::denorm_min(),
                           std::bit_cast<float>(std::uint32_t{0x007fffff}),
                           std::bit_cast<float>(std::uint32_t{0x80400001}),
                           std::numeric_limits<float>::min(),
                           std::numeric_limits<float>::max(),
                           std::numeric_limits<float>::lowest(),
                           std::nextafter(std::numeric_limits<float>::max(), 0.0f),
                           0.0f,
                           -0.0f,
                           1.0f,
                           16777217.0f,
                           0.1f,
                           1e-38f};
  for (std::size_t k = 0; k < std::size(special); ++k) m.data()[k * 3] = special[k];
  for (std::uint32_t k = 0; k < 2000; ++k) m.data()[100 + k] = std::bit_cast<float>(k * 4157u % 0x00800000u);

  std::vector<std::string> names;
  for (Eigen::Index c = 0; c < cols; ++c) names.push_back("feature_" + std::to_string(c));

  const std::string text = dense_text(names, m);
  const DenseTable t = parse_dense(text);
  CHECK(t.columns == names);
  REQUIRE(t.values.rows() == rows);
  CHECK(bits_of(t.values) == bits_of(m));

  TempDir dir;
  const fs::path file = dir / "table.csv";
  recmix::io::write_dense_csv(names, m, file);
  CHECK(read_text(file) == text);
  const DenseTable f = recmix::io::read_dense_csv(file);
  CHECK(f.columns == names);
  CHECK(bits_of(f.values) == bits_of(m));

  // A block of a larger matrix (an Eigen::Ref with an outer stride).
  const std::vector<std::string> some(names.begin() + 2, names.begin() + 5);
  const RowMatrixXf block = m.block(10, 2, 5, 3);
  std::ostringstream strided(std::ios::out | std::ios::binary);
  recmix::io::write_dense_csv(some, m.block(10, 2, 5, 3), strided);
  CHECK(strided.str() == dense_text(some, block));

  // Overwriting an existing file leaves no temporaries behind.
  recmix::io::write_dense_csv(t.columns, t.values.topRows(2), file);
  CHECK(recmix::io::read_dense_csv(file).values.rows() == 2);
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("read_dense_csv: rows longer than the read buffer, more rows than one storage block") {
  // 100000 columns: each row is over 1 MiB of text, and a storage block holds 2 rows.
  const Eigen::Index rows = 7, cols = 100000;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1e6f, 1e6f);
  RowMatrixXf m(rows, cols);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = value(rng);
  std::vector<std::string> names;
  for (Eigen::Index c = 0; c < cols; ++c) {
    names.emplace_back("c");  // not "c" + ...: GCC 12 warns (-Wrestrict false positive)
    names.back() += std::to_string(c);
  }
  const std::string text = dense_text(names, m);
  REQUIRE(text.size() > 7 * CsvReader::kDefaultBufferSize);
  const DenseTable t = parse_dense(text);
  CHECK(t.columns == names);
  REQUIRE(t.values.rows() == rows);
  CHECK(bits_of(t.values) == bits_of(m));

  // Many short rows: several blocks of one column.
  RowMatrixXf tall(600000, 1);
  for (Eigen::Index k = 0; k < tall.rows(); ++k) tall(k, 0) = static_cast<float>(k);
  const DenseTable t2 = parse_dense(dense_text(std::vector<std::string>{"n"}, tall));
  CHECK(bits_of(t2.values) == bits_of(tall));
}

TEST_CASE("write_dense_csv: argument errors are thrown before anything is written") {
  TempDir dir;
  const fs::path file = dir / "out.csv";
  const std::vector<std::string> two = {"a", "b"};
  std::ostringstream out;
  CHECK_THROWS_WITH_AS(recmix::io::write_dense_csv(two, matrix(1, 3, {1, 2, 3}), out),
                       doctest::Contains("2 column names for 3 columns"), recmix::invalid_argument);
  CHECK_THROWS_AS(recmix::io::write_dense_csv(std::vector<std::string>{}, RowMatrixXf(0, 0), out),
                  recmix::invalid_argument);
  const RowMatrixXf with_inf = matrix(2, 2, {1, 2, 3, -std::numeric_limits<float>::infinity()});
  CHECK_THROWS_WITH_AS(recmix::io::write_dense_csv(two, with_inf, out),
                       doctest::Contains("value at row 1, column 'b' is infinite"), recmix::invalid_argument);
  CHECK(out.str().empty());
  CHECK_THROWS_AS(recmix::io::write_dense_csv(two, with_inf, file), recmix::invalid_argument);
  CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("read_dense_csv / write_dense_csv: I/O errors") {
  TempDir dir;
  const std::vector<std::string> names = {"a"};
  const RowMatrixXf m = matrix(2, 1, {1.0f, 2.0f});

  const fs::path missing = dir / "no-such-file.csv";
  CHECK_THROWS_AS((void)recmix::io::read_dense_csv(missing), recmix::io_error);
  CHECK_THROWS_WITH_AS((void)recmix::io::read_dense_csv(missing), doctest::Contains("no-such-file.csv"),
                       recmix::io_error);
  CHECK_THROWS_AS((void)recmix::io::read_dense_csv(dir.path()), recmix::io_error);

  const fs::path nowhere = dir / "no-such-dir" / "out.csv";
  CHECK_THROWS_AS(recmix::io::write_dense_csv(names, m, nowhere), recmix::io_error);
  CHECK_THROWS_WITH_AS(recmix::io::write_dense_csv(names, m, nowhere), doctest::Contains("out.csv"), recmix::io_error);
  CHECK_FALSE(fs::exists(dir / "no-such-dir"));

  // The target is a directory: the rename fails, the temporary is removed.
  fs::create_directory(dir / "taken");
  write_text(dir / "taken" / "keep", "x");
  CHECK_THROWS_AS(recmix::io::write_dense_csv(names, m, dir / "taken"), recmix::io_error);
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);

  // A failing stream.
  std::ostringstream broken;
  broken.setstate(std::ios::badbit);
  CHECK_THROWS_AS(recmix::io::write_dense_csv(names, m, broken), recmix::io_error);

  // Every error is a recmix::error.
  CHECK_THROWS_AS((void)recmix::io::read_dense_csv(missing), recmix::error);
  CHECK_THROWS_AS((void)parse_dense("a\nx\n"), recmix::error);
}
