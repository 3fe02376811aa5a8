#pragma once
/// @file
/// Comma-separated text: a streaming record tokenizer (CsvReader) and dense numeric tables
/// (read_dense_csv, write_dense_csv).
///
/// The tokenizer follows RFC 4180 with the usual relaxations:
///   - records end with "\n" or "\r\n"; the last one may lack its line end;
///   - empty lines ("" or a lone "\r") between records are skipped, so a one-column file cannot
///     hold an empty field on a line of its own (write it as "" instead);
///   - a field that starts with '"' is quoted: it may hold the delimiter, line ends and '"'
///     written twice (""); after its closing quote only the delimiter or the end of the record
///     may follow. A '"' anywhere else in a field is an ordinary character, and so is a '\r'
///     not followed by '\n';
///   - nothing is trimmed: use recmix::io::trim on fields that may be padded with spaces.
///
/// Lines and columns in errors are 1-based; columns count bytes (a UTF-8 'Ñ' counts two).
///
/// @code
/// // Any records: the fields are views that stay valid until the next call to next().
/// auto reader = recmix::io::CsvReader::open("customers.csv");
/// std::vector<std::string_view> fields;
/// while (reader.next(fields)) {
///   const std::string_view age = recmix::io::trim(fields[5]);   // " 35" -> "35"
///   if (age.empty()) throw recmix::parse_error(reader.source(), reader.field_line(5), reader.column(5), "no age");
/// }
///
/// // A table of numbers with a header row.
/// recmix::io::DenseTable t = recmix::io::read_dense_csv("features.csv", {.missing = recmix::io::MissingValues::nan});
/// recmix::io::write_dense_csv(t.columns, t.values, "copy.csv");   // atomic replace
/// @endcode
///
/// Speed and memory: the text streams through one buffer (1 MiB unless told otherwise, grown
/// only for a record that does not fit). Unquoted fields and quoted fields without "" are views
/// into that buffer; fields with "" are unescaped into one scratch buffer reused by every
/// record. read_dense_csv stores the rows in fixed-size blocks (never reallocated) and copies
/// them into the matrix once at the end, so its peak is about twice the final matrix.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "recmix/core/errors.hpp"
#include "recmix/io/atomic_file.hpp"
#include "recmix/core/types.hpp"

namespace recmix::io {

/// `s` without leading and trailing spaces and tabs.
constexpr std::string_view trim(std::string_view s) noexcept {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

namespace detail {

/// Opens `path` for binary reading; io_error (prefixed with `api`) when it cannot.
inline std::unique_ptr<std::ifstream> csv_open_input(const char* api, const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw io_error(std::string(api) + ": '" + path.string() + "' is a directory");
  }
  errno = 0;
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!in->is_open()) {
    const int err = errno;
    throw io_error(std::string(api) + ": cannot open '" + path.string() + "'" +
                   (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
  }
  return in;
}

/// At most 40 characters of `text` for an error message.
inline std::string csv_excerpt(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string t(text.substr(0, kMax));
  if (text.size() > kMax) t += "...";
  return t;
}

}  // namespace detail

/// Streaming CSV record tokenizer over a std::istream (see the file comment for the dialect).
///
/// @code
/// std::istringstream text("name,city\nAna,\"CORUÑA, A\"\n");
/// recmix::io::CsvReader reader(text, "inline");
/// std::vector<std::string_view> f;
/// reader.next(f);   // {"name", "city"}, line() == 1
/// reader.next(f);   // {"Ana", "CORUÑA, A"}, line() == 2, column(1) == 5
/// reader.next(f);   // false: end of input
/// @endcode
///
/// next() throws recmix::parse_error (source, line, column) for an unterminated quoted field
/// (at its opening quote) and for a character after a closing quote that is neither the
/// delimiter nor a line end (at that character), and recmix::io_error when the stream fails.
/// Do not call next() again after it threw.
class CsvReader {
 public:
  /// Default size of the read buffer: 1 MiB.
  static constexpr std::size_t kDefaultBufferSize = std::size_t{1} << 20;

  /// Reads from `in`, which must outlive the reader. `source` names the input in errors.
  /// `delimiter` may be any character but '"', '\n' and '\r'; `buffer_size` (> 0) is the
  /// initial size of the read buffer (tests use tiny ones). Throws recmix::invalid_argument.
  explicit CsvReader(std::istream& in, std::string source = "<stream>", char delimiter = ',',
                     std::size_t buffer_size = kDefaultBufferSize)
      : in_(&in), source_(std::move(source)), delimiter_(delimiter) {
    if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
      throw invalid_argument("CsvReader: the delimiter cannot be '\"', '\\n' or '\\r'");
    }
    if (buffer_size == 0) throw invalid_argument("CsvReader: buffer_size must be positive");
    buf_.resize(buffer_size);
  }

  /// Opens the file at `path` (its path is the source in errors). Throws recmix::io_error
  /// naming the path when it cannot be opened or is a directory.
  [[nodiscard]] static CsvReader open(const std::filesystem::path& path, char delimiter = ',',
                                      std::size_t buffer_size = kDefaultBufferSize) {
    std::unique_ptr<std::ifstream> file = detail::csv_open_input("CsvReader::open", path);
    CsvReader reader(*file, path.string(), delimiter, buffer_size);
    reader.owned_ = std::move(file);
    return reader;
  }

  /// Reads the next record into `fields` (cleared first). Returns false, with `fields` empty,
  /// at the end of the input. The views stay valid until the next call or the reader's end.
  bool next(std::vector<std::string_view>& fields) {
    fields.clear();
    for (;;) {
      const Step step = parse();
      if (step == Step::record) break;
      if (step == Step::end) return false;
      refill();
    }
    const char* const text = buf_.data();
    const char* const scratch = scratch_.data();
    for (const Field& f : fields_) fields.emplace_back((f.unescaped ? scratch : text) + f.offset, f.size);
    return true;
  }

  /// 1-based line on which the current record starts. After next() returned false: the line
  /// at which the input ended (1 for an empty input).
  [[nodiscard]] std::size_t line() const noexcept { return record_line_; }

  /// 1-based line on which field `i` of the current record starts: line() unless an earlier
  /// quoted field of the record spans several lines.
  [[nodiscard]] std::size_t field_line(std::size_t i) const { return field(i, "field_line").line; }

  /// 1-based column (in bytes, on field_line(i)) of the first character of field `i` of the
  /// current record; for a quoted field that is its opening quote.
  [[nodiscard]] std::size_t column(std::size_t i) const { return field(i, "column").column; }

  /// Line and 1-based column just after the last field of the current record (where its line
  /// end is, or would be): the place to report a record that has too few fields.
  [[nodiscard]] std::size_t end_line() const noexcept { return end_line_; }
  [[nodiscard]] std::size_t end_column() const noexcept { return end_column_; }

  /// Number of fields of the current record (0 after next() returned false).
  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }

  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] char delimiter() const noexcept { return delimiter_; }

 private:
  enum class Step { record, end, more };

  struct Field {
    std::size_t offset;  ///< into buf_, or into scratch_ when unescaped
    std::size_t size;
    std::size_t line;
    std::size_t column;
    bool unescaped;
  };

  const Field& field(std::size_t i, const char* api) const {
    if (i >= fields_.size()) {
      throw invalid_argument(std::string("CsvReader::") + api + ": field " + std::to_string(i) + " >= " +
                             std::to_string(fields_.size()) + " fields of the current record");
    }
    return fields_[i];
  }

  [[noreturn]] void fail(std::size_t line, std::size_t column, const std::string& what) const {
    throw parse_error(source_, line, column, what);
  }

  /// One attempt at the record starting at pos_. Returns Step::more when the buffer ends
  /// before the record can be decided; the caller refills and the record is parsed again from
  /// its start (it is at the front of the buffer then, and the buffer doubles when the record
  /// fills it, so the total work stays linear). Empty lines before the record are consumed
  /// for good.
  Step parse() {
    const char* const base = buf_.data();
    const char* const e = base + end_;
    const char* p = base + pos_;
    for (;;) {
      if (p == e) {
        pos_ = end_;
        if (!eof_) return Step::more;
        record_line_ = end_line_ = line_;
        end_column_ = 1;
        fields_.clear();
        return Step::end;
      }
      if (*p == '\n') {
        ++p;
        ++line_;
        continue;
      }
      if (*p == '\r') {
        if (p + 1 == e) {
          if (!eof_) {
            pos_ = static_cast<std::size_t>(p - base);
            return Step::more;
          }
          ++p;  // a lone '\r' at the very end
          continue;
        }
        if (p[1] == '\n') {
          p += 2;
          ++line_;
          continue;
        }
      }
      break;
    }
    pos_ = static_cast<std::size_t>(p - base);

    const char d = delimiter_;
    std::size_t line = line_;
    const char* line_start = p;  // records start at the start of a line
    fields_.clear();
    scratch_.clear();
    for (;;) {
      Field f{0, 0, line, static_cast<std::size_t>(p - line_start) + 1, false};
      if (p < e && *p == '"') {
        const char* const content = p + 1;
        const char* q = content;
        const std::size_t scratch_begin = scratch_.size();
        for (;;) {
          const void* hit = std::memchr(q, '"', static_cast<std::size_t>(e - q));
          const char* const quote = hit != nullptr ? static_cast<const char*>(hit) : e;
          for (const char* r = q; r < quote; ++r) {
            r = static_cast<const char*>(std::memchr(r, '\n', static_cast<std::size_t>(quote - r)));
            if (r == nullptr) break;
            ++line;
            line_start = r + 1;
          }
          if (hit == nullptr) {
            if (!eof_) return Step::more;
            fail(f.line, f.column, "unterminated quoted field (no closing '\"' before the end of the input)");
          }
          if (quote + 1 == e && !eof_) return Step::more;  // closing quote or the first of ""?
          if (quote + 1 < e && quote[1] == '"') {
            scratch_.insert(scratch_.end(), q, quote + 1);  // the text and one '"'
            f.unescaped = true;
            q = quote + 2;
            continue;
          }
          if (f.unescaped) {
            scratch_.insert(scratch_.end(), q, quote);
            f.offset = scratch_begin;
            f.size = scratch_.size() - scratch_begin;
          } else {
            f.offset = static_cast<std::size_t>(content - base);
            f.size = static_cast<std::size_t>(quote - content);
          }
          p = quote + 1;
          break;
        }
        if (p < e && *p != d && *p != '\n' && !(*p == '\r' && (p + 1 == e || p[1] == '\n'))) {
          const char c = *p;
          const std::string shown = c == '\r' ? std::string("\\r") : std::string(1, c);
          fail(line, static_cast<std::size_t>(p - line_start) + 1,
               "unexpected '" + shown + "' after the closing quote of the field at column " + std::to_string(f.column) +
                   " (expected the delimiter or the end of the record)");
        }
      } else {
        const char* const start = p;
        for (;;) {
          while (p < e && *p != d && *p != '\n' && *p != '\r') ++p;
          if (p < e && *p == '\r' && p + 1 < e && p[1] != '\n') {  // a lone '\r' is data
            ++p;
            continue;
          }
          break;
        }
        f.offset = static_cast<std::size_t>(start - base);
        f.size = static_cast<std::size_t>(p - start);
      }
      fields_.push_back(f);
      if (p < e && *p == d) {
        ++p;
        continue;
      }
      // The end of the record: p is at '\n', at "\r\n", at a '\r' ending the buffer, or at e.
      end_line_ = line;
      end_column_ = static_cast<std::size_t>(p - line_start) + 1;
      bool newline = false;
      if (p == e) {
        if (!eof_) return Step::more;
      } else if (*p == '\n') {
        ++p;
        newline = true;
      } else if (p + 1 == e) {  // '\r' ending the buffer
        if (!eof_) return Step::more;
        ++p;
      } else {  // "\r\n"
        p += 2;
        newline = true;
      }
      record_line_ = line_;
      line_ = line + (newline ? 1 : 0);
      pos_ = static_cast<std::size_t>(p - base);
      return Step::record;
    }
  }

  /// Keeps the unparsed text [pos_, end_) at the front of the buffer (doubling the buffer when
  /// that text fills it) and reads from the stream after it.
  void refill() {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    in_->read(buf_.data() + end_, static_cast<std::streamsize>(buf_.size() - end_));
    const auto got = static_cast<std::size_t>(in_->gcount());
    if (in_->bad()) throw io_error("CsvReader: read error in '" + source_ + "'");
    end_ += got;
    if (got == 0 || in_->eof()) eof_ = true;
  }

  std::unique_ptr<std::istream> owned_;  ///< the file opened by open()
  std::istream* in_;
  std::string source_;
  char delimiter_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, end_ = 0;  ///< unparsed text of buf_
  bool eof_ = false;
  std::size_t line_ = 1;  ///< line of buf_[pos_]
  std::size_t record_line_ = 1, end_line_ = 1, end_column_ = 1;
  std::vector<Field> fields_;
  std::vector<char> scratch_;  ///< unescaped quoted fields of the current record
};

/// How read_dense_csv treats fields that hold no number.
enum class MissingValues {
  error,  ///< an empty field, "NA" or any NaN spelling is a parse_error
  nan,    ///< empty fields, "NA" and the NaN spellings std::from_chars accepts ("nan", "NaN", "-nan",
          ///< "nan(...)", any case) become a quiet NaN
};

struct DenseCsvOptions {
  char delimiter = ',';
  /// The first record names the columns. Without a header the columns are named "0", "1", ...
  bool header = true;
  MissingValues missing = MissingValues::error;
};

/// A table of floats with named columns: values is rows x columns.size().
struct DenseTable {
  std::vector<std::string> columns;
  RowMatrixXf values;
};

namespace detail {

enum class CsvNumber { ok, empty, na, nan, infinite, overflow, invalid };

/// For text that std::from_chars parsed but found out of range for a float: true when its
/// magnitude is below 1 (so it underflowed to zero), false when it overflowed. The text is
/// [-]digits[.digits][(e|E)[+|-]digits], as from_chars accepted it.
inline bool csv_below_one(const char* p, const char* e) noexcept {
  if (p < e && *p == '-') ++p;
  std::int64_t int_digits = 0, index = 0, first_nonzero = -1;
  for (; p < e && *p >= '0' && *p <= '9'; ++p, ++index, ++int_digits) {
    if (first_nonzero < 0 && *p != '0') first_nonzero = index;
  }
  if (p < e && *p == '.') {
    for (++p; p < e && *p >= '0' && *p <= '9'; ++p, ++index) {
      if (first_nonzero < 0 && *p != '0') first_nonzero = index;
    }
  }
  if (first_nonzero < 0) return true;  // zero
  std::int64_t exponent = 0;
  if (p < e && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool negative = p < e && *p == '-';
    if (p < e && (*p == '-' || *p == '+')) ++p;
    for (; p < e && *p >= '0' && *p <= '9'; ++p) {
      if (exponent < (std::int64_t{1} << 40)) exponent = exponent * 10 + (*p - '0');
    }
    if (negative) exponent = -exponent;
  }
  // Decimal exponent of the first nonzero digit: the value is d.ddd x 10^x.
  return int_digits - 1 - first_nonzero + exponent < 0;
}

/// Parses a whole field (spaces and tabs around it allowed) as a float.
inline CsvNumber csv_parse_float(std::string_view field, float& out) noexcept {
  const std::string_view t = trim(field);
  if (t.empty()) return CsvNumber::empty;
  const char* const b = t.data();
  const char* const e = b + t.size();
  const char* const s = (*b == '+' && e - b > 1 && b[1] != '-' && b[1] != '+') ? b + 1 : b;
  const auto [q, ec] = std::from_chars(s, e, out, std::chars_format::general);
  if (q != e || (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return t == "NA" ? CsvNumber::na : CsvNumber::invalid;
  }
  if (ec == std::errc::result_out_of_range) {
    if (!csv_below_one(s, e)) return CsvNumber::overflow;
    out = *s == '-' ? -0.0f : 0.0f;
    return CsvNumber::ok;
  }
  if (std::isfinite(out)) return CsvNumber::ok;
  return std::isnan(out) ? CsvNumber::nan : CsvNumber::infinite;
}

/// Rows of a table being read, in blocks of whole rows that are never reallocated.
class DenseRows {
 public:
  explicit DenseRows(std::size_t cols) : cols_(cols), rows_per_block_(std::max<std::size_t>(1, kBlockFloats / cols)) {}

  /// Storage for the next row (cols floats, uninitialized).
  float* append() {
    if (blocks_.empty() || in_block_ == rows_per_block_) {
      blocks_.push_back(std::make_unique_for_overwrite<float[]>(rows_per_block_ * cols_));
      in_block_ = 0;
    }
    float* row = blocks_.back().get() + in_block_ * cols_;
    ++in_block_;
    ++rows_;
    return row;
  }

  /// The rows as one matrix; releases each block once copied.
  RowMatrixXf take() {
    RowMatrixXf m(static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols_));
    float* out = m.data();
    std::size_t left = rows_;
    for (auto& block : blocks_) {
      const std::size_t n = std::min(left, rows_per_block_) * cols_;
      std::copy(block.get(), block.get() + n, out);
      out += n;
      left -= n / cols_;
      block.reset();
    }
    blocks_.clear();
    rows_ = 0;
    return m;
  }

 private:
  static constexpr std::size_t kBlockFloats = std::size_t{1} << 18;  // 1 MiB blocks
  std::size_t cols_;
  std::size_t rows_per_block_;
  std::size_t in_block_ = 0;
  std::size_t rows_ = 0;
  std::vector<std::unique_ptr<float[]>> blocks_;
};

/// The value of field `i`, whose fast parse did not give a finite number: NaN when the policy
/// allows it, a parse_error otherwise.
inline float csv_dense_fallback(CsvNumber status, const CsvReader& reader, std::string_view field, std::size_t i,
                                const std::vector<std::string>& columns, MissingValues missing) {
  const bool missing_value = status == CsvNumber::empty || status == CsvNumber::na || status == CsvNumber::nan;
  if (missing_value && missing == MissingValues::nan) return std::numeric_limits<float>::quiet_NaN();
  const std::string text = csv_excerpt(trim(field));
  const std::string where = " in column '" + csv_excerpt(columns[i]) + "'";
  std::string what;
  switch (status) {
    case CsvNumber::empty:
      what = "empty field" + where + " (missing values are errors with MissingValues::error)";
      break;
    case CsvNumber::na:
    case CsvNumber::nan:
      what = "missing value '" + text + "'" + where + " (missing values are errors with MissingValues::error)";
      break;
    case CsvNumber::infinite:
      what = "value '" + text + "'" + where + " is not finite";
      break;
    case CsvNumber::overflow:
      what = "value '" + text + "'" + where + " is out of range for float";
      break;
    default:
      what = "expected a number" + where + ", got '" + text + "'";
      break;
  }
  throw parse_error(reader.source(), reader.field_line(i), reader.column(i), what);
}

inline DenseTable read_dense(CsvReader& reader, const DenseCsvOptions& options) {
  std::vector<std::string_view> fields;
  if (!reader.next(fields)) throw parse_error(reader.source(), reader.line(), 1, "empty input");
  DenseTable table;
  const std::size_t cols = fields.size();
  table.columns.reserve(cols);
  if (options.header) {
    for (std::string_view f : fields) table.columns.emplace_back(f);
  } else {
    for (std::size_t i = 0; i < cols; ++i) table.columns.push_back(std::to_string(i));
  }
  DenseRows rows(cols);
  bool pending = !options.header;  // the first record is a row already
  while (pending || reader.next(fields)) {
    pending = false;
    if (fields.size() != cols) {
      const bool short_row = fields.size() < cols;
      throw parse_error(reader.source(), short_row ? reader.end_line() : reader.field_line(cols),
                        short_row ? reader.end_column() : reader.column(cols),
                        "expected " + std::to_string(cols) + " fields, found " + std::to_string(fields.size()));
    }
    float* const row = rows.append();
    for (std::size_t i = 0; i < cols; ++i) {
      const CsvNumber status = csv_parse_float(fields[i], row[i]);
      if (status != CsvNumber::ok) {
        row[i] = csv_dense_fallback(status, reader, fields[i], i, table.columns, options.missing);
      }
    }
  }
  table.values = rows.take();
  return table;
}

/// write_dense_csv's argument checks, done before anything is written.
inline void csv_check_dense_write(std::span<const std::string> columns, const Eigen::Ref<const RowMatrixXf>& values) {
  if (static_cast<Eigen::Index>(columns.size()) != values.cols()) {
    throw invalid_argument("write_dense_csv: " + std::to_string(columns.size()) + " column names for " +
                           std::to_string(values.cols()) + " columns");
  }
  if (columns.empty()) throw invalid_argument("write_dense_csv: a CSV table needs at least one column");
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    for (Eigen::Index c = 0; c < values.cols(); ++c) {
      if (std::isinf(values(r, c))) {
        throw invalid_argument("write_dense_csv: value at row " + std::to_string(r) + ", column '" +
                               csv_excerpt(columns[static_cast<std::size_t>(c)]) +
                               "' is infinite (read_dense_csv would reject it)");
      }
    }
  }
}

/// The header row: names quoted when they hold ',', '"' or a line end, or are empty.
inline std::string csv_header(std::span<const std::string> columns) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ',';
    const std::string& name = columns[i];
    if (!name.empty() && name.find_first_of(",\"\r\n") == std::string::npos) {
      out += name;
      continue;
    }
    out += '"';
    for (char c : name) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += '\n';
  return out;
}

}  // namespace detail

/// Reads a table of floats. Every record must have as many fields as the first (the header,
/// or the first row when options.header is false); each field is a number std::from_chars
/// accepts, optionally with a leading '+' and with spaces or tabs around it (" 35", "1e-3").
/// Values too small for a float become 0 (or a subnormal); values too large, "inf" and
/// "infinity" are errors; missing values follow options.missing. Header names are kept as
/// written (not trimmed). Throws recmix::parse_error naming `source`, line and column: "empty
/// input" when there is no record at all; "expected 24 fields, found 23" at the end of a short
/// record or at the first extra field of a long one; a quoted excerpt of a field that is not a
/// number. A header with no rows gives a 0 x columns matrix.
inline DenseTable read_dense_csv(std::istream& in, std::string source = "<stream>", const DenseCsvOptions& options = {}) {
  CsvReader reader(in, std::move(source), options.delimiter);
  return detail::read_dense(reader, options);
}

/// Reads a table of floats from a file (see the stream overload). Throws recmix::io_error
/// naming the path when it cannot be opened.
inline DenseTable read_dense_csv(const std::filesystem::path& path, const DenseCsvOptions& options = {}) {
  CsvReader reader = CsvReader::open(path, options.delimiter);
  return detail::read_dense(reader, options);
}

/// Writes a header row then one row per matrix row, comma-separated, each value in the
/// shortest text that reads back to the same float (NaN as "nan"). Throws
/// recmix::invalid_argument when the names do not match the columns, there are no columns,
/// or a value is infinite (checked before writing), and recmix::io_error when the stream fails.
inline void write_dense_csv(std::span<const std::string> columns, Eigen::Ref<const RowMatrixXf> values,
                            std::ostream& out) {
  detail::csv_check_dense_write(columns, values);
  const std::string header = detail::csv_header(columns);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (!out) throw io_error("write_dense_csv: write failed");

  constexpr std::size_t kBuffer = std::size_t{1} << 20;
  constexpr std::size_t kSlack = 32;  // a delimiter, a float ("-1.17549435e-38") and '\n' fit
  std::vector<char> buf(kBuffer + kSlack);
  char* p = buf.data();
  char* const limit = buf.data() + kBuffer;
  auto flush = [&] {
    out.write(buf.data(), static_cast<std::streamsize>(p - buf.data()));
    p = buf.data();
    if (!out) throw io_error("write_dense_csv: write failed");
  };
  for (Eigen::Index r = 0; r < values.rows(); ++r) {
    for (Eigen::Index c = 0; c < values.cols(); ++c) {
      if (c > 0) *p++ = ',';
      const float v = values(r, c);
      if (std::isnan(v)) {
        std::memcpy(p, "nan", 3);
        p += 3;
      } else {
        p = std::to_chars(p, p + 24, v).ptr;
      }
      if (p >= limit) flush();
    }
    *p++ = '\n';
  }
  flush();
  out.flush();
  if (!out) throw io_error("write_dense_csv: write failed");
}

/// Writes the table to a file atomically: the text goes to a temporary file beside `path`,
/// which is then renamed over it, so readers see the old file or the whole new one. On any
/// failure the temporary is removed, `path` is left as it was, and recmix::io_error (naming
/// the path) is thrown; argument errors are thrown before any file is created.
inline void write_dense_csv(std::span<const std::string> columns, Eigen::Ref<const RowMatrixXf> values,
                            const std::filesystem::path& path) {
  detail::csv_check_dense_write(columns, values);
  detail::write_atomically(path, "write_dense_csv", [&](std::ostream& out) { write_dense_csv(columns, values, out); });
}

}  // namespace recmix::io
