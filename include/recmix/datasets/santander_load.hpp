#pragma once
/// @file
/// Reads Kaggle's Santander Product Recommendation file (train_ver2.csv, 13.6 M rows x 48
/// columns, 2.3 GB) into a santander::Dataset, as the file really is.
///
/// @code
/// namespace sd = recmix::datasets::santander;
/// sd::Dataset data = sd::load("train_ver2.csv");                 // lenient: bad rows skipped
/// std::cout << data.report.summary();
/// sd::Dataset same = sd::load("train_ver2.csv", {.mode = sd::LoadMode::strict, .threads = 2});
/// sd::Dataset tiny = sd::parse("2015-01-28,1375586,N,ES,H, 35,...\n");   // from memory (tests)
/// @endcode
///
/// The dialect (what the real file holds, and what is accepted):
///   - Records end at "\n" or "\r\n"; the last may lack its line end. A record never spans
///     lines: a quoted field that is not closed on its own line is an "unterminated quote"
///     (and the next line is read as a record of its own). A lone '\r' elsewhere is data.
///     Empty lines ("" or "\r") are ignored anywhere: not data, not errors (they still count
///     in line numbers). A UTF-8 byte order mark at the start is skipped.
///   - Any field may be quoted ("CORUÑA, A"); "" inside quotes is one '"'. Spaces around the
///     quotes are allowed; anything else after the closing quote is "text after closing quote".
///     A '"' inside an unquoted field is an ordinary character.
///   - Every value is trimmed of spaces and tabs (" 35", "     6", "   87218.10"). After
///     trimming, "" and "NA" are missing.
///   - Header: the first line is a header when its first field (trimmed, unquoted) is
///     fecha_dato; quoted or not. Strict mode checks the 48 names ("bad header" otherwise);
///     lenient mode accepts any names after fecha_dato. Without a header line 1 is data.
///   - fecha_dato: a valid "YYYY-MM-DD" (see month_number) is required.
///     ncodpers: decimal digits (a non-negative int64) are required.
///   - age, antiguedad, renta: a float (std::from_chars; a leading '+' is allowed) or missing
///     (NaN); NaN or infinity spelled out ("nan", "inf") and out-of-float-range numbers are
///     malformed. antiguedad -999999 reads as missing. fecha_alta: a date (stored as its
///     month number) or missing. ult_fec_cli_1t: a date or missing, checked but not stored.
///   - Categorical columns: any text; missing -> code 0. A value that is an integer written
///     as a float loses its ".0" ("1.0" -> "1", "99.00" -> "99"), in every categorical column.
///     Dataset::categories[c] holds the values of the kept rows, sorted byte-wise, so codes
///     depend neither on the thread count nor on how the input was cut into blocks.
///   - Product flags: 0, 1, 0.0, 1.0 (padded or quoted); missing reads as 0 and is counted in
///     report.missing_product_flags. Anything else is malformed.
///   - A row whose 22 demographic fields (ind_empleado .. segmento) are all missing is kept and
///     counted in report.blank_customers.
///
/// Malformed rows, with the reason strings of report.skipped_by_reason and parse_error:
///   "wrong column count", "unterminated quote", "text after closing quote",
///   "bad date in fecha_dato", "bad ncodpers", "bad number in age" / "... in antiguedad" /
///   "... in renta", "bad date in fecha_alta", "bad date in ult_fec_cli_1t",
///   "bad product flag in <column name>", "duplicate (ncodpers, fecha_dato)" (the later row
///   of the pair, in file order, is the one skipped), and, strict only, "bad header".
/// A row is checked in this order: quotes (left to right), the number of fields, then the
/// fields left to right; the first problem is the one reported.
///
/// Positions: lines are 1-based lines of the input (the header, empty lines and a row
/// skipped included); the COLUMN IS THE 1-BASED FIELD NUMBER (fecha_dato = 1, ncodpers = 2,
/// ind_recibo_ult1 = 48): the field holding the problem; for a wrong column count, the first
/// missing field (fields + 1) or 49 for a row with too many; for an unterminated quote, the
/// field it opens; for a duplicate, 2 (ncodpers).
///
/// Modes: lenient (default) skips malformed rows, counts them per reason and keeps the first
/// LoadOptions::max_examples of them in file order as "source:line:column: reason". Strict
/// throws recmix::parse_error(source, line, field, reason) for the first malformed row in
/// file order. Other errors, in both modes: recmix::io_error naming a file that cannot be
/// opened or read; recmix::invalid_argument for bad options, and for a categorical column with
/// more than kMaxCategories (254) distinct values among the well-formed rows (the message names
/// the column). An empty input, or a header alone, gives a Dataset with 0 months and 0
/// customers (no error).
///
/// Months are the distinct fecha_dato values, ascending (as "YYYY-MM-DD"; a month the file
/// skips is not inserted). Results, the report and its examples included, are identical for
/// any thread count and block size.
///
/// How: the input is cut into blocks of whole lines (LoadOptions::block_size, 32 MiB), read
/// with std::fread one block at a time under a lock and parsed in parallel (OpenMP) into
/// compact rows (56 bytes: ids, 4 floats, 17 block-local category codes, 24 product bits)
/// with per-block dictionaries. The merge then sorts the distinct months and customers
/// (ncodpers through a dense index when the ids are compact, sort + unique otherwise), drops
/// duplicates in file order, builds the sorted global dictionaries and scatters the rows into
/// the tensors in parallel. Peak memory: the rows (about 56 bytes each), the tensors (about
/// 45 bytes per month x customer cell) and one block buffer per thread: 2.0 GB for a generated
/// 2.75 GB file of 16.8 M rows and 1.08 M customers (the real file is smaller).

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/datasets/santander_schema.hpp"

namespace recmix::datasets::santander {

/// What a malformed row does: skipped and counted (lenient), or a parse_error (strict).
enum class LoadMode { lenient, strict };

struct LoadOptions {
  LoadMode mode = LoadMode::lenient;
  /// Worker threads; 0 = all cores OpenMP may use.
  int threads = 0;
  /// Skipped rows kept in report.examples (the first ones in file order).
  std::size_t max_examples = 5;
  /// Bytes per block of input parsed by one thread (cut at a line end; a longer line makes a
  /// longer block). 1 .. 1 GiB. Results do not depend on it; tests use tiny blocks.
  std::size_t block_size = std::size_t{32} << 20;
  /// Called with the fraction of the input read (0 .. 1], once per block and with 1.0 at the
  /// end; calls are serialized but may come from any worker thread.
  std::function<void(double)> progress;
};

namespace detail {

inline constexpr std::size_t kNoRow = std::numeric_limits<std::size_t>::max();

/// What is wrong with a row (or the header).
enum class Problem : std::uint8_t {
  none,
  column_count,
  unterminated_quote,
  after_quote,
  bad_date,
  bad_ncodpers,
  bad_number,
  bad_flag,
  duplicate,
  bad_header,
};
inline constexpr std::size_t kNumProblems = 10;

inline std::string problem_reason(Problem p, std::size_t file_column) {
  const std::string col(file_column < kNumColumns ? kColumnNames[file_column] : std::string_view("?"));
  switch (p) {
    case Problem::column_count: return "wrong column count";
    case Problem::unterminated_quote: return "unterminated quote";
    case Problem::after_quote: return "text after closing quote";
    case Problem::bad_date: return "bad date in " + col;
    case Problem::bad_ncodpers: return "bad ncodpers";
    case Problem::bad_number: return "bad number in " + col;
    case Problem::bad_flag: return "bad product flag in " + col;
    case Problem::duplicate: return "duplicate (ncodpers, fecha_dato)";
    case Problem::bad_header: return "bad header";
    case Problem::none: break;
  }
  return "ok";
}

/// One malformed row: its line (relative to its block while parsing), the 1-based field
/// number reported, and the 0-based file column the reason names.
struct Event {
  std::uint64_t line;
  std::uint8_t column;
  Problem problem;
  std::uint8_t file_column;
};

/// One well-formed row, compact (56 bytes).
struct Row {
  std::int64_t ncodpers;
  float numeric[kNumNumeric];
  std::int32_t date;  ///< fecha_dato as yyyymmdd
  std::uint32_t line;  ///< 0-based line within its block
  std::uint32_t products;  ///< bit p = product p held
  std::uint8_t categorical[kNumCategorical];  ///< block-local codes, 0 = missing
  std::uint8_t missing_flags;  ///< product flags that were missing
  std::uint8_t blank;  ///< every demographic field missing
};
static_assert(sizeof(Row) == 56, "Row is meant to stay compact");

[[gnu::always_inline]] inline std::string_view trim_range(const char* b, const char* e) noexcept {
  while (b < e && (*b == ' ' || *b == '\t')) ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) --e;
  return {b, static_cast<std::size_t>(e - b)};
}

[[gnu::always_inline]] inline std::string_view trim(std::string_view s) noexcept {
  return trim_range(s.data(), s.data() + s.size());
}

/// Byte equality of short strings (no call into memcmp).
[[gnu::always_inline]] inline bool same_bytes(const char* a, const char* b, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

[[gnu::always_inline]] inline bool is_missing(std::string_view v) noexcept {
  return v.empty() || (v.size() == 2 && v[0] == 'N' && v[1] == 'A');
}

/// The distinct values of one categorical column in one block: codes 1..255 in order of first
/// appearance, found through a small open-addressing hash table.
class BlockDictionary {
 public:
  static constexpr std::size_t kMaxCodes = 255;

  /// Code of `v`, added if new; 0 (and overflow()) when the block already holds 255 values.
  std::uint8_t code(std::string_view v) {
    if (last_ != 0) {
      const std::string& s = values_[last_ - 1u];
      if (s.size() == v.size() && same_bytes(s.data(), v.data(), v.size())) return last_;
    }
    std::uint32_t h = 2166136261u;
    for (const char ch : v) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
    std::size_t slot = h & (kSlots - 1);
    for (;;) {
      const std::uint16_t c = slots_[slot];
      if (c == 0) break;
      const std::string& s = values_[c - 1u];
      if (s.size() == v.size() && same_bytes(s.data(), v.data(), v.size())) {
        last_ = static_cast<std::uint8_t>(c);
        return last_;
      }
      slot = (slot + 1) & (kSlots - 1);
    }
    if (values_.size() >= kMaxCodes) {
      overflow_ = true;
      return 0;
    }
    values_.emplace_back(v);
    slots_[slot] = static_cast<std::uint16_t>(values_.size());
    last_ = static_cast<std::uint8_t>(values_.size());
    return last_;
  }
  [[nodiscard]] const std::vector<std::string>& values() const noexcept { return values_; }
  [[nodiscard]] bool overflow() const noexcept { return overflow_; }

 private:
  static constexpr std::size_t kSlots = 1024;
  std::vector<std::string> values_;
  std::array<std::uint16_t, kSlots> slots_{};
  std::uint8_t last_ = 0;
  bool overflow_ = false;
};

/// What one block of lines parsed into.
struct Block {
  std::vector<Row> rows;
  std::vector<Event> events;  ///< malformed rows (and a bad header), in line order
  std::uint64_t lines = 0;  ///< lines the block spans (for numbering the next block)
  std::uint64_t data_lines = 0;  ///< non-empty lines that are not the header
  bool header = false;
  bool stopped = false;  ///< strict mode: parsing stopped at events.front()
  std::vector<std::int32_t> dates;  ///< distinct fecha_dato keys of rows
  std::int64_t min_id = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_id = -1;
  std::array<BlockDictionary, kNumCategorical> dicts;
  // Filled by the merge:
  std::vector<std::uint32_t> cells;  ///< month * customers + customer, or kDupCell
  std::array<std::array<std::uint8_t, 256>, kNumCategorical> remap{};
};

inline constexpr std::uint32_t kDupCell = std::numeric_limits<std::uint32_t>::max();

struct Field {
  const char* b;
  const char* e;
  bool escaped;  ///< quoted and holding "" (still doubled in [b, e))
};

[[gnu::always_inline]] inline std::string_view trimmed(const Field& f) noexcept { return trim_range(f.b, f.e); }



/// Splits [p, e) at commas into f (the first kNumColumns fields); count gets the number of
/// fields. Returns the quote problem and its 1-based field number, if any.
inline Problem split_line(const char* p, const char* const e, std::array<Field, kNumColumns>& f, std::size_t& count,
                          std::size_t& bad_field) noexcept {
  count = 0;
  for (;;) {
    const char* q = p;
    while (q < e && (*q == ' ' || *q == '\t')) ++q;
    Field fld{p, p, false};
    if (q < e && *q == '"') {
      const char* c = q + 1;
      for (;;) {
        const void* hit = std::memchr(c, '"', static_cast<std::size_t>(e - c));
        if (hit == nullptr) {
          bad_field = count + 1;
          return Problem::unterminated_quote;
        }
        const char* h = static_cast<const char*>(hit);
        if (h + 1 < e && h[1] == '"') {
          fld.escaped = true;
          c = h + 2;
          continue;
        }
        fld.b = q + 1;
        fld.e = h;
        p = h + 1;
        break;
      }
      while (p < e && (*p == ' ' || *p == '\t')) ++p;
      if (p < e && *p != ',') {
        bad_field = count + 1;
        return Problem::after_quote;
      }
    } else {
      const char* s = p;
      while (p < e && *p != ',') ++p;
      fld.b = s;
      fld.e = p;
    }
    if (count < kNumColumns) f[count] = fld;
    ++count;
    if (p == e) return Problem::none;
    ++p;  // the comma
  }
}

/// yyyymmdd of a valid date, or -1.
inline std::int32_t date_key(std::string_view v) noexcept {
  if (month_number(v) < 0) return -1;
  std::int32_t k = 0;
  for (const char ch : v) {
    if (ch != '-') k = k * 10 + (ch - '0');
  }
  return k;
}

enum class Num { ok, missing, bad };

inline Num parse_float(std::string_view v, float& out) noexcept {
  if (is_missing(v)) return Num::missing;
  const char* b = v.data();
  const char* const e = b + v.size();
  if (*b == '+' && v.size() > 1 && b[1] != '-') ++b;
  const auto [ptr, ec] = std::from_chars(b, e, out);
  if (ec != std::errc() || ptr != e || !std::isfinite(out)) return Num::bad;
  return Num::ok;
}

/// "1.0" -> "1", "-99.00" -> "-99"; anything else unchanged.
constexpr std::string_view strip_integral_float(std::string_view v) noexcept {
  const std::size_t dot = v.find('.');
  if (dot == std::string_view::npos || dot + 1 >= v.size()) return v;
  const std::size_t first = (v[0] == '-' || v[0] == '+') ? 1 : 0;
  if (dot <= first) return v;
  for (std::size_t i = first; i < dot; ++i) {
    if (v[i] < '0' || v[i] > '9') return v;
  }
  for (std::size_t i = dot + 1; i < v.size(); ++i) {
    if (v[i] != '0') return v;
  }
  return v.substr(0, dot);
}

/// The value of a categorical field: unescaped, trimmed, ".0" stripped ("" = missing).
inline std::string_view categorical_value(const Field& f, std::string& scratch) {
  std::string_view v;
  if (f.escaped) {
    scratch.clear();
    for (const char* p = f.b; p < f.e; ++p) {
      scratch.push_back(*p);
      if (*p == '"') ++p;  // the second of ""
    }
    v = trim(scratch);
  } else {
    v = trimmed(f);
  }
  if (is_missing(v)) return {};
  return strip_integral_float(v);
}

/// Index of each file column in its kind (numeric, categorical), or -1.
struct ColumnKinds {
  std::array<int, kNumColumns> numeric{};
  std::array<int, kNumColumns> categorical{};
  constexpr ColumnKinds() {
    for (auto& x : numeric) x = -1;
    for (auto& x : categorical) x = -1;
    for (std::size_t i = 0; i < kNumNumeric; ++i) numeric[kNumericColumns[i]] = static_cast<int>(i);
    for (std::size_t i = 0; i < kNumCategorical; ++i) categorical[kCategoricalColumns[i]] = static_cast<int>(i);
  }
};
inline constexpr ColumnKinds kColumnKinds{};
inline constexpr std::size_t kUltFecColumn = 10;
inline constexpr std::size_t kFechaAltaColumn = 6;
inline constexpr std::size_t kAntiguedadColumn = 8;

/// Parses the fields of a row (count == kNumColumns) into `row`, except the categorical codes.
/// Returns the problem and the 0-based file column it is in.
inline Problem parse_fields(const std::array<Field, kNumColumns>& f, Row& row, std::size_t& bad_column) noexcept {
  std::size_t present = 0;
  // fecha_dato
  row.date = date_key(trimmed(f[0]));
  if (row.date < 0) {
    bad_column = 0;
    return Problem::bad_date;
  }
  // ncodpers
  {
    const std::string_view v = trimmed(f[1]);
    std::int64_t id = -1;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || id < 0 || v[0] == '-') {
      bad_column = 1;
      return Problem::bad_ncodpers;
    }
    row.ncodpers = id;
  }
  for (std::size_t c = 2; c < kFirstProductColumn; ++c) {
    const int ni = kColumnKinds.numeric[c];
    if (ni >= 0) {
      const std::string_view v = trimmed(f[c]);
      float x = std::numeric_limits<float>::quiet_NaN();
      if (c == kFechaAltaColumn) {
        if (!is_missing(v)) {
          const int m = month_number(v);
          if (m < 0) {
            bad_column = c;
            return Problem::bad_date;
          }
          x = static_cast<float>(m);
          ++present;
        }
      } else {
        const Num r = parse_float(v, x);
        if (r == Num::bad) {
          bad_column = c;
          return Problem::bad_number;
        }
        if (r == Num::ok) {
          ++present;
          if (c == kAntiguedadColumn && x == -999999.0f) x = std::numeric_limits<float>::quiet_NaN();
        } else {
          x = std::numeric_limits<float>::quiet_NaN();
        }
      }
      row.numeric[ni] = x;
    } else if (c == kUltFecColumn) {
      const std::string_view v = trimmed(f[c]);
      if (!is_missing(v)) {
        if (month_number(v) < 0) {
          bad_column = c;
          return Problem::bad_date;
        }
        ++present;
      }
    } else {
      // categorical: only whether it is present here (codes are taken once the row is good)
      const Field& fc = f[c];
      if (fc.escaped || !is_missing(trimmed(fc))) ++present;
    }
  }
  std::uint32_t bits = 0;
  std::uint8_t missing = 0;
  for (std::size_t p = 0; p < kNumProducts; ++p) {
    const std::size_t c = kFirstProductColumn + p;
    const Field& fp = f[c];
    std::string_view v(fp.b, static_cast<std::size_t>(fp.e - fp.b));
    if (v.size() != 1) v = trim(v);
    if (v.size() == 1 && (v[0] == '0' || v[0] == '1')) {
      bits |= static_cast<std::uint32_t>(v[0] - '0') << p;
    } else if (v == "1.0") {
      bits |= std::uint32_t{1} << p;
    } else if (v == "0.0") {
    } else if (is_missing(v)) {
      ++missing;
    } else {
      bad_column = c;
      return Problem::bad_flag;
    }
  }
  row.products = bits;
  row.missing_flags = missing;
  row.blank = present == 0 ? 1 : 0;
  return Problem::none;
}

/// Parses one block of whole lines. `first`: the block starts the input (BOM, header).
inline void parse_block(std::string_view text, bool first, bool strict, Block& out) {
  const char* p = text.data();
  const char* const end = p + text.size();
  if (first && text.size() >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
  out.rows.reserve(text.size() / 160 + 16);
  std::array<Field, kNumColumns> f{};
  std::string scratch;
  std::uint32_t rel = 0;
  Row row{};
  for (; p < end; ++rel) {
    const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* e = nl != nullptr ? static_cast<const char*>(nl) : end;
    const char* const next = nl != nullptr ? e + 1 : end;
    if (e > p && e[-1] == '\r') --e;
    if (e == p) {
      p = next;
      continue;
    }
    std::size_t count = 0, bad_field = 0;
    Problem problem = split_line(p, e, f, count, bad_field);
    if (first && rel == 0 && (problem == Problem::none || bad_field > 1) && count >= 1 && !f[0].escaped &&
        trimmed(f[0]) == "fecha_dato") {
      out.header = true;
      if (strict) {
        std::size_t col = 0;
        if (problem != Problem::none) {
          col = bad_field;
        } else if (count != kNumColumns) {
          col = count < kNumColumns ? count + 1 : kNumColumns + 1;
        } else {
          for (std::size_t c = 0; c < kNumColumns && col == 0; ++c) {
            if (f[c].escaped || trimmed(f[c]) != kColumnNames[c]) col = c + 1;
          }
        }
        if (col != 0) {
          out.events.push_back({rel, static_cast<std::uint8_t>(col), Problem::bad_header, 0});
          out.stopped = true;
          ++rel;
          break;
        }
      }
      p = next;
      continue;
    }
    ++out.data_lines;
    std::size_t column = bad_field, file_column = 0;
    if (problem == Problem::none && count != kNumColumns) {
      problem = Problem::column_count;
      column = count < kNumColumns ? count + 1 : kNumColumns + 1;
    }
    if (problem == Problem::none) {
      problem = parse_fields(f, row, file_column);
      column = file_column + 1;
    }
    if (problem != Problem::none) {
      out.events.push_back({rel, static_cast<std::uint8_t>(column), problem, static_cast<std::uint8_t>(file_column)});
      if (strict) {
        out.stopped = true;
        ++rel;
        break;
      }
      p = next;
      continue;
    }
    for (std::size_t k = 0; k < kNumCategorical; ++k) {
      const std::string_view v = categorical_value(f[kCategoricalColumns[k]], scratch);
      row.categorical[k] = v.empty() ? std::uint8_t{0} : out.dicts[k].code(v);
    }
    row.line = rel;
    if (out.dates.empty() || out.dates.back() != row.date) {
      // the latest date seen stays at the back, so the common case is one comparison
      const auto it = std::find(out.dates.begin(), out.dates.end(), row.date);
      if (it == out.dates.end()) {
        out.dates.push_back(row.date);
      } else {
        std::iter_swap(it, out.dates.end() - 1);
      }
    }
    out.min_id = std::min(out.min_id, row.ncodpers);
    out.max_id = std::max(out.max_id, row.ncodpers);
    out.rows.push_back(row);
    p = next;
  }
  out.lines = rel;
}

/// A growable byte buffer that is never zero-filled.
struct ByteBuffer {
  std::unique_ptr<char[]> data;
  std::size_t size = 0, capacity = 0;
  void reserve(std::size_t n) {
    if (n <= capacity) return;
    std::unique_ptr<char[]> d(new char[n]);
    if (size > 0) std::memcpy(d.get(), data.get(), size);
    data = std::move(d);
    capacity = n;
  }
};

/// Hands out blocks of whole lines, in order: from memory, or read from a file.
class BlockSource {
 public:
  BlockSource(std::string_view text, std::size_t block_size) : text_(text), block_size_(block_size), total_(text.size()) {}
  BlockSource(std::FILE* file, std::string name, std::size_t block_size, std::size_t total)
      : file_(file), name_(std::move(name)), block_size_(block_size), total_(total) {}

  /// The next block into `view` (a view of `buf` for a file); false at the end.
  bool next(ByteBuffer& buf, std::string_view& view) {
    if (file_ == nullptr) {
      if (pos_ >= text_.size()) return false;
      std::size_t cut = text_.size();
      if (text_.size() - pos_ > block_size_) {
        const std::size_t limit = pos_ + block_size_;
        std::size_t nl = text_.rfind('\n', limit - 1);
        if (nl == std::string_view::npos || nl < pos_) nl = text_.find('\n', limit);
        cut = nl == std::string_view::npos ? text_.size() : nl + 1;
      }
      view = text_.substr(pos_, cut - pos_);
      pos_ = cut;
      consumed_ = cut;
      return true;
    }
    if (eof_ && carry_.empty()) return false;
    buf.size = 0;
    buf.reserve(carry_.size() + block_size_);
    std::memcpy(buf.data.get(), carry_.data(), carry_.size());
    buf.size = carry_.size();
    carry_.clear();
    std::size_t search_from = 0;
    for (;;) {
      if (!eof_) {
        if (buf.capacity - buf.size < block_size_) buf.reserve(std::max(buf.capacity * 2, buf.size + block_size_));
        const std::size_t want = block_size_;
        const std::size_t got = std::fread(buf.data.get() + buf.size, 1, want, file_);
        buf.size += got;
        consumed_ += got;
        if (got < want) {
          if (std::ferror(file_) != 0) throw io_error("santander::load: read error in '" + name_ + "'");
          eof_ = true;
        }
      }
      if (eof_) break;
      std::size_t i = buf.size;
      while (i > search_from && buf.data[i - 1] != '\n') --i;
      if (i > search_from) {
        carry_.assign(buf.data.get() + i, buf.size - i);
        buf.size = i;
        break;
      }
      search_from = buf.size;  // no line end yet: read more into the same block
    }
    if (buf.size == 0) return false;
    view = std::string_view(buf.data.get(), buf.size);
    return true;
  }
  [[nodiscard]] double fraction() const noexcept {
    return total_ == 0 ? 1.0 : std::min(1.0, static_cast<double>(consumed_) / static_cast<double>(total_));
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::FILE* file_ = nullptr;
  std::string name_;
  std::size_t block_size_;
  std::size_t total_;
  std::size_t consumed_ = 0;
  std::string carry_;
  bool eof_ = false;
};

template <class T>
void parallel_fill(T* p, std::size_t n, T value, int threads) {
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  const auto chunks = static_cast<std::ptrdiff_t>((n + kChunk - 1) / kChunk);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && chunks > 1)
#endif
  for (std::ptrdiff_t i = 0; i < chunks; ++i) {
    const std::size_t b = static_cast<std::size_t>(i) * kChunk;
    std::fill(p + b, p + std::min(n, b + kChunk), value);
  }
  (void)threads;
}

/// The whole load: blocks parsed in parallel, then merged into the Dataset.
inline Dataset run(BlockSource& source, const LoadOptions& opt, std::string source_name,
                   std::chrono::steady_clock::time_point t0) {
  const bool strict = opt.mode == LoadMode::strict;
  const int threads = resolve_threads(opt.threads, "santander::load");

  // ---- parse -----------------------------------------------------------------------------
  std::deque<Block> blocks;
  std::atomic<std::size_t> stop_after{kNoRow};  // strict: a block with an error
  recmix::detail::ParallelErrors errors;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1)
#endif
  {
    ByteBuffer buf;
    for (;;) {
      Block* blk = nullptr;
      std::size_t index = 0;
      std::string_view view;
#ifdef _OPENMP
#pragma omp critical(recmix_santander_load_read)
#endif
      errors.run([&] {
        if (errors.failed()) return;
        const std::size_t stop = stop_after.load(std::memory_order_relaxed);
        if (stop != kNoRow && blocks.size() > stop) return;
        if (!source.next(buf, view)) return;
        index = blocks.size();
        blk = &blocks.emplace_back();
        if (opt.progress) opt.progress(source.fraction());
      });
      if (blk == nullptr) break;
      errors.run([&] { parse_block(view, index == 0, strict, *blk); });
      if (blk->stopped) {
        std::size_t cur = stop_after.load();
        while (index < cur && !stop_after.compare_exchange_weak(cur, index)) {
        }
      }
    }
  }
  errors.rethrow();
  (void)threads;

  Dataset d;
  LoadReport& rep = d.report;
  rep.source = source_name;
  const std::size_t nb = blocks.size();
  std::vector<std::uint64_t> base(nb);
  {
    std::uint64_t line = 1;
    for (std::size_t k = 0; k < nb; ++k) {
      base[k] = line;
      line += blocks[k].lines;
    }
  }
  rep.header = nb > 0 && blocks[0].header;

  // strict: the first parse problem in file order bounds the blocks that matter
  std::size_t last_block = nb;  // one past
  std::uint64_t first_bad_line = std::numeric_limits<std::uint64_t>::max();
  Event first_bad{};
  if (strict) {
    for (std::size_t k = 0; k < nb; ++k) {
      if (!blocks[k].events.empty()) {
        first_bad = blocks[k].events.front();
        first_bad_line = base[k] + first_bad.line;
        last_block = k + 1;
        break;
      }
    }
  }
  auto throw_first_bad = [&] {
    throw parse_error(source_name, first_bad_line, first_bad.column, problem_reason(first_bad.problem, first_bad.file_column));
  };

  // ---- months ----------------------------------------------------------------------------
  std::vector<std::int32_t> dates;
  for (std::size_t k = 0; k < last_block; ++k) dates.insert(dates.end(), blocks[k].dates.begin(), blocks[k].dates.end());
  std::sort(dates.begin(), dates.end());
  dates.erase(std::unique(dates.begin(), dates.end()), dates.end());

  // ---- customers -------------------------------------------------------------------------
  std::size_t total_rows = 0;
  std::int64_t min_id = std::numeric_limits<std::int64_t>::max(), max_id = -1;
  for (std::size_t k = 0; k < last_block; ++k) {
    total_rows += blocks[k].rows.size();
    min_id = std::min(min_id, blocks[k].min_id);
    max_id = std::max(max_id, blocks[k].max_id);
  }
  std::vector<std::uint32_t> dense;  // ncodpers - min_id -> customer index + 1
  if (total_rows > 0) {
    const auto range = static_cast<std::uint64_t>(max_id - min_id) + 1;
    if (range <= std::max<std::uint64_t>(std::uint64_t{16} * total_rows, std::uint64_t{1} << 20) &&
        range <= (std::uint64_t{1} << 30)) {
      dense.assign(static_cast<std::size_t>(range), 0);
      for (std::size_t k = 0; k < last_block; ++k) {
        for (const Row& r : blocks[k].rows) dense[static_cast<std::size_t>(r.ncodpers - min_id)] = 1;
      }
      std::uint32_t next = 0;
      for (std::size_t i = 0; i < dense.size(); ++i) {
        if (dense[i] != 0) {
          dense[i] = ++next;
          d.customers.push_back(min_id + static_cast<std::int64_t>(i));
        }
      }
    } else {
      d.customers.reserve(total_rows);
      for (std::size_t k = 0; k < last_block; ++k) {
        for (const Row& r : blocks[k].rows) d.customers.push_back(r.ncodpers);
      }
      std::sort(d.customers.begin(), d.customers.end());
      d.customers.erase(std::unique(d.customers.begin(), d.customers.end()), d.customers.end());
      d.customers.shrink_to_fit();
    }
  }
  const std::size_t M = dates.size(), C = d.customers.size();
  if (M * C >= kDupCell) {
    throw invalid_argument("santander::load: " + std::to_string(M) + " months x " + std::to_string(C) +
                           " customers is too large a panel");
  }

  // ---- cells (parallel over blocks) ----------------------------------------------------------
  {
    const auto nbl = static_cast<std::ptrdiff_t>(last_block);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nbl > 1)
#endif
    for (std::ptrdiff_t k = 0; k < nbl; ++k) {
      Block& b = blocks[static_cast<std::size_t>(k)];
      b.cells.resize(b.rows.size());
      for (std::size_t i = 0; i < b.rows.size(); ++i) {
        const Row& r = b.rows[i];
        const auto m = static_cast<std::size_t>(std::lower_bound(dates.begin(), dates.end(), r.date) - dates.begin());
        std::size_t c;
        if (!dense.empty()) {
          c = dense[static_cast<std::size_t>(r.ncodpers - min_id)] - 1u;
        } else {
          c = static_cast<std::size_t>(std::lower_bound(d.customers.begin(), d.customers.end(), r.ncodpers) -
                                       d.customers.begin());
        }
        b.cells[i] = static_cast<std::uint32_t>(m * C + c);
      }
    }
  }
  dense.clear();
  dense.shrink_to_fit();

  // ---- duplicates, in file order (fills present) ---------------------------------------------
  d.present = xt::xtensor<std::uint8_t, 2>::from_shape({M, C});
  parallel_fill(d.present.data(), M * C, std::uint8_t{0}, threads);
  std::vector<Event> dups;  // absolute lines
  std::size_t kept = 0;
  {
    std::uint8_t* present = d.present.data();
    for (std::size_t k = 0; k < last_block; ++k) {
      Block& b = blocks[k];
      for (std::size_t i = 0; i < b.cells.size(); ++i) {
        std::uint32_t& cell = b.cells[i];
        if (present[cell] != 0) {
          const std::uint64_t line = base[k] + b.rows[i].line;
          if (strict) {
            if (line < first_bad_line) throw parse_error(source_name, line, 2, problem_reason(Problem::duplicate, 1));
            throw_first_bad();
          }
          dups.push_back({line, 2, Problem::duplicate, 1});
          cell = kDupCell;
        } else {
          present[cell] = 1;
          ++kept;
        }
      }
    }
  }
  if (strict && first_bad_line != std::numeric_limits<std::uint64_t>::max()) throw_first_bad();

  // ---- dictionaries ----------------------------------------------------------------------------
  std::vector<std::array<std::array<std::uint8_t, 256>, kNumCategorical>> used(nb);
  {
    const auto nbl = static_cast<std::ptrdiff_t>(nb);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nbl > 1)
#endif
    for (std::ptrdiff_t k = 0; k < nbl; ++k) {
      Block& b = blocks[static_cast<std::size_t>(k)];
      auto& u = used[static_cast<std::size_t>(k)];
      for (auto& a : u) a.fill(0);
      for (std::size_t i = 0; i < b.rows.size(); ++i) {
        if (b.cells[i] == kDupCell) continue;
        for (std::size_t c = 0; c < kNumCategorical; ++c) u[c][b.rows[i].categorical[c]] = 1;
      }
    }
  }
  for (std::size_t c = 0; c < kNumCategorical; ++c) {
    std::vector<std::string> all, kept_values;
    bool overflow = false;
    for (std::size_t k = 0; k < nb; ++k) {
      const BlockDictionary& dict = blocks[k].dicts[c];
      overflow = overflow || dict.overflow();
      for (std::size_t v = 0; v < dict.values().size(); ++v) {
        all.push_back(dict.values()[v]);
        if (used[k][c][v + 1] != 0) kept_values.push_back(dict.values()[v]);
      }
      // keep the working sets small
      if (all.size() > 4096) {
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
      }
    }
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    if (overflow || all.size() > kMaxCategories) {
      throw invalid_argument("santander::load: column " + std::string(kColumnNames[kCategoricalColumns[c]]) + " (" +
                             std::string(kCategoricalNames[c]) + ") has more than " + std::to_string(kMaxCategories) +
                             " distinct values");
    }
    std::sort(kept_values.begin(), kept_values.end());
    kept_values.erase(std::unique(kept_values.begin(), kept_values.end()), kept_values.end());
    for (std::size_t k = 0; k < nb; ++k) {
      const BlockDictionary& dict = blocks[k].dicts[c];
      auto& remap = blocks[k].remap[c];
      remap.fill(0);
      for (std::size_t v = 0; v < dict.values().size(); ++v) {
        const auto it = std::lower_bound(kept_values.begin(), kept_values.end(), dict.values()[v]);
        if (it != kept_values.end() && *it == dict.values()[v]) remap[v + 1] = static_cast<std::uint8_t>(it - kept_values.begin() + 1);
      }
    }
    d.categories[c] = std::move(kept_values);
  }
  used.clear();

  // ---- tensors -----------------------------------------------------------------------------------
  d.months.reserve(M);
  for (const std::int32_t k : dates) {
    const std::string s = month_date((k / 10000) * 12 + (k / 100) % 100 - 1, k % 100);
    d.months.push_back(s);
    d.month_numbers.push_back(month_number(s));
  }
  for (std::size_t m = 1; m < d.month_numbers.size(); ++m) {
    for (int gap = d.month_numbers[m - 1] + 1; gap < d.month_numbers[m]; ++gap) d.report.missing_months.push_back(month_date(gap));
  }
  d.products = xt::xtensor<std::uint8_t, 3>::from_shape({M, C, kNumProducts});
  d.numeric = xt::xtensor<float, 3>::from_shape({M, C, kNumNumeric});
  d.categorical = xt::xtensor<std::uint8_t, 3>::from_shape({M, C, kNumCategorical});
  parallel_fill(d.products.data(), M * C * kNumProducts, std::uint8_t{0}, threads);
  parallel_fill(d.numeric.data(), M * C * kNumNumeric, std::numeric_limits<float>::quiet_NaN(), threads);
  parallel_fill(d.categorical.data(), M * C * kNumCategorical, std::uint8_t{0}, threads);
  std::size_t missing_flags = 0, blank = 0;
  {
    std::uint8_t* products = d.products.data();
    float* numeric = d.numeric.data();
    std::uint8_t* categorical = d.categorical.data();
    const auto nbl = static_cast<std::ptrdiff_t>(nb);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && nbl > 1) reduction(+ : missing_flags, blank)
#endif
    for (std::ptrdiff_t k = 0; k < nbl; ++k) {
      Block& b = blocks[static_cast<std::size_t>(k)];
      for (std::size_t i = 0; i < b.rows.size(); ++i) {
        const std::size_t cell = b.cells[i];
        if (cell == kDupCell) continue;
        const Row& r = b.rows[i];
        std::uint8_t* pp = products + cell * kNumProducts;
        for (std::size_t p = 0; p < kNumProducts; ++p) pp[p] = static_cast<std::uint8_t>((r.products >> p) & 1u);
        std::memcpy(numeric + cell * kNumNumeric, r.numeric, sizeof r.numeric);
        std::uint8_t* cc = categorical + cell * kNumCategorical;
        for (std::size_t c = 0; c < kNumCategorical; ++c) cc[c] = b.remap[c][r.categorical[c]];
        missing_flags += r.missing_flags;
        blank += r.blank;
      }
      std::vector<Row>().swap(b.rows);
      std::vector<std::uint32_t>().swap(b.cells);
    }
  }

  // ---- report --------------------------------------------------------------------------------------
  std::array<std::array<std::size_t, kNumColumns>, kNumProblems> counts{};
  std::size_t parse_skips = 0;
  for (std::size_t k = 0; k < nb; ++k) {
    rep.lines += blocks[k].data_lines;
    for (const Event& e : blocks[k].events) {
      ++counts[static_cast<std::size_t>(e.problem)][e.file_column];
      ++parse_skips;
    }
  }
  counts[static_cast<std::size_t>(Problem::duplicate)][1] += dups.size();
  for (std::size_t p = 0; p < kNumProblems; ++p) {
    for (std::size_t c = 0; c < kNumColumns; ++c) {
      if (counts[p][c] != 0) rep.skipped_by_reason[problem_reason(static_cast<Problem>(p), c)] += counts[p][c];
    }
  }
  rep.rows = kept;
  rep.skipped = parse_skips + dups.size();
  rep.missing_product_flags = missing_flags;
  rep.blank_customers = blank;
  {
    // the first max_examples skipped rows in file order: parse events and duplicates merged
    auto example = [&](const Event& e, std::uint64_t line) {
      rep.examples.push_back(source_name + ":" + std::to_string(line) + ":" + std::to_string(e.column) + ": " +
                             problem_reason(e.problem, e.file_column));
    };
    std::size_t k = 0, i = 0, j = 0;
    while (rep.examples.size() < opt.max_examples) {
      while (k < nb && i >= blocks[k].events.size()) {
        ++k;
        i = 0;
      }
      const bool have_parse = k < nb;
      const bool have_dup = j < dups.size();
      if (!have_parse && !have_dup) break;
      const std::uint64_t pl = have_parse ? base[k] + blocks[k].events[i].line : 0;
      if (have_parse && (!have_dup || pl < dups[j].line)) {
        example(blocks[k].events[i], pl);
        ++i;
      } else {
        example(dups[j], dups[j].line);
        ++j;
      }
    }
  }
  if (opt.progress) opt.progress(1.0);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return d;
}

inline void check_options(const LoadOptions& opt) {
  if (opt.block_size == 0 || opt.block_size > (std::size_t{1} << 30)) {
    throw invalid_argument("santander::load: block_size must be in 1 .. 2^30, got " + std::to_string(opt.block_size));
  }
  (void)resolve_threads(opt.threads, "santander::load");
}

}  // namespace detail

/// Reads `text` (the contents of a train_ver2.csv-like file) into a Dataset; `source` names it
/// in errors and in the report. See the file comment for the dialect and the errors.
inline Dataset parse(std::string_view text, const LoadOptions& options = {}, std::string_view source = "<memory>") {
  const auto t0 = std::chrono::steady_clock::now();
  detail::check_options(options);
  detail::BlockSource blocks(text, options.block_size);
  return detail::run(blocks, options, std::string(source), t0);
}

/// Reads the file at `file` into a Dataset (the path is the source in errors and the report).
/// Throws recmix::io_error when it cannot be opened (or is a directory) or read.
inline Dataset load(const std::filesystem::path& file, const LoadOptions& options = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  detail::check_options(options);
  const std::string name = file.string();
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) throw io_error("santander::load: '" + name + "' is a directory");
  errno = 0;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (!f) {
    const int err = errno;
    throw io_error("santander::load: cannot open '" + name + "'" +
                   (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
  }
  const auto size = std::filesystem::file_size(file, ec);
  detail::BlockSource blocks(f.get(), name, options.block_size, ec ? 0 : static_cast<std::size_t>(size));
  return detail::run(blocks, options, name, t0);
}

}  // namespace recmix::datasets::santander
