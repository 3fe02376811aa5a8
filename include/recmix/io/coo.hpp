#pragma once
/// @file
/// Coordinate-list text files: read into an InteractionMatrix, write one back.
///
/// Format (0-based indices, fields separated by spaces or tabs):
///
///     # optional comment lines, only before the header
///     rows cols nnz
///     row col value          <- exactly nnz lines
///     ...
///
/// Blank lines may follow the last entry. Duplicate (row, col) entries are summed exactly as
/// InteractionMatrix::from_triplets sums them (in file order). Values must be finite; they may
/// be written in any form std::from_chars accepts ("3", "2.5", "1e-3"), optionally with a '+'.
///
/// @code
/// recmix::InteractionMatrix m = recmix::io::read_coo("plays.coo");
/// recmix::io::write_coo(m, "copy.coo");                  // atomic replace
/// std::istringstream text("2 3 2\n0 1 4\n1 2 1.5\n");
/// auto small = recmix::io::read_coo(text, "inline");   // errors name "inline:line:column"
/// @endcode
///
/// Memory: the reader streams the text through a fixed buffer and never holds the file. When
/// the rows of the file are in non-decreasing order (write_coo's output, most exports) it keeps
/// only the column and value arrays, which become the CSR arrays in place: the peak is the
/// final matrix plus the read buffer. Otherwise it also keeps a row array and builds the CSR
/// one array at a time (peak about twice the final matrix).

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <numeric>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/io/atomic_file.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/types.hpp"

namespace recmix::io {

namespace detail {

inline bool coo_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
inline bool coo_digit(char c) noexcept { return c >= '0' && c <= '9'; }

inline const char* coo_skip_space(const char* p, const char* e) noexcept {
  while (p < e && coo_space(*p)) ++p;
  return p;
}

/// Streaming COO parser. One instance reads one stream.
class CooReader {
 public:
  CooReader(std::istream& in, std::string source, std::uintmax_t bytes_hint)
      : in_(in), source_(std::move(source)), bytes_hint_(bytes_hint), buf_(kChunk) {}

  InteractionMatrix read() {
    const char* b = nullptr;
    const char* e = nullptr;
    // Comments and blank lines, then the header.
    for (;;) {
      if (!next_line(b, e)) fail(line_ + 1, 1, "missing header line 'rows cols nnz'");
      const char* p = coo_skip_space(b, e);
      if (p == e || *p == '#') continue;
      parse_header(b, e);
      break;
    }
    reserve_storage();

    std::size_t first_blank = 0;  // line of the first blank line inside the entries, 0 if none
    while (next_line(b, e)) {
      const char* p = coo_skip_space(b, e);
      if (p == e) {
        if (count_ < nnz_ && first_blank == 0) first_blank = line_;
        continue;
      }
      if (first_blank != 0) {
        fail(first_blank, 1,
             "blank line inside the entries (" + std::to_string(count_) + " of " + std::to_string(nnz_) + " read)");
      }
      if (count_ == nnz_) {
        fail(line_, col(b, p), "more entries than the header's nnz = " + std::to_string(nnz_));
      }
      if (*p == '#') fail(line_, col(b, p), "comment lines are only allowed before the header");
      parse_entry(b, p, e);
    }
    if (count_ < nnz_) {
      fail(line_ + 1, 1,
           "file ends after " + std::to_string(count_) + " of the " + std::to_string(nnz_) + " entries the header declares");
    }
    return build();
  }

 private:
  static constexpr std::size_t kChunk = std::size_t{1} << 22;
  static constexpr std::uintmax_t kMaxRowIndexBytes = std::uintmax_t{1} << 30;

  [[noreturn]] void fail(std::size_t line, std::size_t column, const std::string& what) const {
    throw parse_error(source_, line, column, what);
  }
  static std::size_t col(const char* line_begin, const char* p) noexcept {
    return static_cast<std::size_t>(p - line_begin) + 1;
  }
  static std::string token(const char* p, const char* e) {
    const char* q = p;
    while (q < e && !coo_space(*q)) ++q;
    constexpr std::ptrdiff_t kMax = 40;
    std::string t(p, static_cast<std::size_t>(std::min(q - p, kMax)));
    if (q - p > kMax) t += "...";
    return t;
  }

  /// The next line without its '\n'; false at the end of the stream.
  bool next_line(const char*& b, const char*& e) {
    for (;;) {
      const char* data = buf_.data();
      const void* nl = end_ > begin_ ? std::memchr(data + begin_, '\n', end_ - begin_) : nullptr;
      if (nl != nullptr) {
        b = data + begin_;
        e = static_cast<const char*>(nl);
        begin_ = static_cast<std::size_t>(e - data) + 1;
        ++line_;
        return true;
      }
      if (eof_) {
        if (begin_ == end_) return false;
        b = data + begin_;
        e = data + end_;
        begin_ = end_;
        ++line_;
        return true;
      }
      refill();
    }
  }

  void refill() {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
    in_.read(buf_.data() + end_, static_cast<std::streamsize>(buf_.size() - end_));
    const auto got = static_cast<std::size_t>(in_.gcount());
    if (in_.bad()) throw io_error("read_coo: read error in '" + source_ + "'");
    end_ += got;
    if (got == 0 || in_.eof()) eof_ = true;
  }

  /// Decimal integer token at p (optional '-'); sets `value` and returns the token's end, or
  /// nullptr when the token is not an integer. More than 18 digits set `overflow` and clamp.
  static const char* parse_int(const char* p, const char* e, std::int64_t& value, bool& overflow) noexcept {
    bool negative = false;
    if (p < e && *p == '-') {
      negative = true;
      ++p;
    }
    if (p == e || !coo_digit(*p)) return nullptr;
    std::uint64_t v = 0;
    int digits = 0;
    while (p < e && coo_digit(*p)) {
      if (digits < 19) v = v * 10 + static_cast<std::uint64_t>(*p - '0');
      ++digits;
      ++p;
    }
    if (p < e && !coo_space(*p)) return nullptr;
    overflow = digits > 18;
    if (overflow) {
      value = negative ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
    } else {
      value = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
    }
    return p;
  }

  void parse_header(const char* b, const char* e) {
    static const char* const names[3] = {"rows", "cols", "nnz"};
    std::int64_t v[3] = {0, 0, 0};
    const char* p = b;
    for (int k = 0; k < 3; ++k) {
      p = coo_skip_space(p, e);
      if (p == e) {
        fail(line_, col(b, p), std::string("malformed header: missing '") + names[k] + "' (expected 'rows cols nnz')");
      }
      bool overflow = false;
      const char* q = parse_int(p, e, v[k], overflow);
      if (q == nullptr) {
        fail(line_, col(b, p),
             std::string("malformed header: '") + names[k] + "' must be a non-negative integer, got '" + token(p, e) + "'");
      }
      if (v[k] < 0) fail(line_, col(b, p), std::string("malformed header: '") + names[k] + "' is negative");
      const std::int64_t limit = k < 2 ? std::numeric_limits<Index>::max() : std::numeric_limits<std::int64_t>::max();
      if (overflow || v[k] > limit) {
        fail(line_, col(b, p),
             std::string("malformed header: '") + names[k] + "' = " + token(p, e) + " exceeds " + std::to_string(limit));
      }
      p = q;
    }
    p = coo_skip_space(p, e);
    if (p != e) fail(line_, col(b, p), "malformed header: unexpected '" + token(p, e) + "' after 'rows cols nnz'");
    // The row pointers of the result take 8 bytes per declared row, entries or not. A header
    // asking for more than 1 GiB of them, or 64 times the size of the input when that is larger,
    // is refused here rather than allocated: a 20-byte file must not claim gigabytes.
    const std::uintmax_t index_bytes = (static_cast<std::uintmax_t>(v[0]) + 1) * sizeof(Offset);
    const std::uintmax_t allowed = std::max<std::uintmax_t>(kMaxRowIndexBytes, bytes_hint_ > kMaxRowIndexBytes / 64 ? bytes_hint_ * 64 : 0);
    if (index_bytes > allowed) {
      fail(line_, 1,
           "header declares " + std::to_string(v[0]) + " rows: their row index alone would take " +
               std::to_string(index_bytes >> 20) + " MiB, more than the " + std::to_string(allowed >> 20) +
               " MiB allowed for an input of " + (bytes_hint_ > 0 ? std::to_string(bytes_hint_) + " bytes" : std::string("unknown size")));
    }
    rows_ = static_cast<Index>(v[0]);
    cols_ = static_cast<Index>(v[1]);
    nnz_ = v[2];
  }

  void reserve_storage() {
    counts_.assign(static_cast<std::size_t>(rows_) + 1, 0);
    // Never reserve more than the rest of the input can hold ("0 0 0\n" is 6 bytes), so a
    // corrupt nnz cannot make us allocate wildly; the count check reports it properly.
    auto cap = static_cast<std::uintmax_t>(nnz_);
    if (bytes_hint_ > 0) {
      cap = std::min<std::uintmax_t>(cap, bytes_hint_ / 6 + 1);
    } else {
      cap = std::min<std::uintmax_t>(cap, std::uintmax_t{1} << 24);
    }
    cap_ = static_cast<std::size_t>(cap);
    col_.reserve(cap_);
    val_.reserve(cap_);
  }

  Index parse_index(const char* b, const char*& p, const char* e, Index bound, const char* what) {
    p = coo_skip_space(p, e);
    if (p == e) fail(line_, col(b, p), std::string("expected ") + what + " index, found end of line");
    std::int64_t v = 0;
    bool overflow = false;
    const char* q = parse_int(p, e, v, overflow);
    if (q == nullptr) fail(line_, col(b, p), std::string("expected integer ") + what + " index, got '" + token(p, e) + "'");
    if (v < 0) fail(line_, col(b, p), std::string("negative ") + what + " index " + token(p, e));
    if (overflow || v >= bound) {
      fail(line_, col(b, p),
           std::string(what) + " index " + token(p, e) + " out of range [0, " + std::to_string(bound) + ")");
    }
    p = q;
    return static_cast<Index>(v);
  }

  float parse_value(const char* b, const char*& p, const char* e) {
    p = coo_skip_space(p, e);
    if (p == e) fail(line_, col(b, p), "expected value, found end of line");
    const char* start = p;
    // Fast path: a plain integer of at most 7 digits is exact in a float.
    {
      const char* q = p;
      std::uint32_t v = 0;
      while (q < e && coo_digit(*q) && q - p < 8) {
        v = v * 10 + static_cast<std::uint32_t>(*q - '0');
        ++q;
      }
      if (q > p && q - p <= 7 && (q == e || coo_space(*q))) {
        p = q;
        return static_cast<float>(v);
      }
    }
    const char* s = (*p == '+' && p + 1 < e && *(p + 1) != '-') ? p + 1 : p;
    float v = 0.0f;
    auto [q, ec] = std::from_chars(s, e, v, std::chars_format::general);
    if (ec == std::errc::result_out_of_range) {
      // Underflow is fine (rounds to 0 or a subnormal); overflow is not.
      double d = 0.0;
      auto [q2, ec2] = std::from_chars(s, e, d, std::chars_format::general);
      if (ec2 != std::errc() || std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
        fail(line_, col(b, start), "value " + token(start, e) + " is out of range for float");
      }
      v = static_cast<float>(d);
      q = q2;
      ec = std::errc();
    }
    if (ec != std::errc() || (q < e && !coo_space(*q))) {
      fail(line_, col(b, start), "expected numeric value, got '" + token(start, e) + "'");
    }
    if (!std::isfinite(v)) fail(line_, col(b, start), "value " + token(start, e) + " is not finite");
    p = q;
    return v;
  }

  void parse_entry(const char* b, const char* p, const char* e) {
    const Index r = parse_index(b, p, e, rows_, "row");
    const Index c = parse_index(b, p, e, cols_, "column");
    const float v = parse_value(b, p, e);
    p = coo_skip_space(p, e);
    if (p != e) fail(line_, col(b, p), "unexpected '" + token(p, e) + "' after 'row col value'");
    if (r < last_row_ && !unsorted_) start_row_array();
    last_row_ = r;
    if (unsorted_) row_.push_back(r);
    col_.push_back(c);
    val_.push_back(v);
    ++counts_[static_cast<std::size_t>(r) + 1];
    ++count_;
  }

  /// First out-of-order row: rebuild the rows of the entries read so far (they were sorted)
  /// from the counts, and keep a row array from now on.
  void start_row_array() {
    unsorted_ = true;
    row_.reserve(cap_);
    for (std::size_t r = 0; r + 1 < counts_.size(); ++r) {
      row_.insert(row_.end(), static_cast<std::size_t>(counts_[r + 1]), static_cast<Index>(r));
    }
  }

  template <class T>
  static void release(std::vector<T>& v) {
    std::vector<T>().swap(v);
  }

  InteractionMatrix build() {
    std::vector<Offset> indptr = std::move(counts_);
    std::partial_sum(indptr.begin(), indptr.end(), indptr.begin());
    std::vector<Index> indices;
    std::vector<float> values;
    const std::size_t n = col_.size();
    if (!unsorted_) {
      indices = std::move(col_);
      values = std::move(val_);
    } else {
      // Stable counting sort by row, one array at a time (file order kept within a row).
      std::vector<Offset> next(indptr.begin(), indptr.end() - 1);
      indices.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        indices[static_cast<std::size_t>(next[static_cast<std::size_t>(row_[k])]++)] = col_[k];
      }
      release(col_);
      std::copy(indptr.begin(), indptr.end() - 1, next.begin());
      values.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        values[static_cast<std::size_t>(next[static_cast<std::size_t>(row_[k])]++)] = val_[k];
      }
      release(val_);
      release(row_);
    }
    canonicalize(indptr, indices, values);
    return InteractionMatrix(rows_, cols_, std::move(indptr), std::move(indices), std::move(values));
  }

  /// Sorts each row by column and sums duplicates (stable, so sums run in file order, as in
  /// from_triplets), compacting in place. Rows already strictly increasing are left as they are.
  void canonicalize(std::vector<Offset>& indptr, std::vector<Index>& indices, std::vector<float>& values) const {
    std::vector<std::pair<Index, float>> buf;
    std::size_t out = 0;
    for (Index r = 0; r < rows_; ++r) {
      const auto b = static_cast<std::size_t>(indptr[static_cast<std::size_t>(r)]);
      const auto e = static_cast<std::size_t>(indptr[static_cast<std::size_t>(r) + 1]);
      indptr[static_cast<std::size_t>(r)] = static_cast<Offset>(out);
      bool strict = true;
      for (std::size_t k = b + 1; k < e; ++k) {
        if (indices[k] <= indices[k - 1]) {
          strict = false;
          break;
        }
      }
      if (strict) {
        if (out != b) {
          std::copy(indices.begin() + static_cast<std::ptrdiff_t>(b), indices.begin() + static_cast<std::ptrdiff_t>(e),
                    indices.begin() + static_cast<std::ptrdiff_t>(out));
          std::copy(values.begin() + static_cast<std::ptrdiff_t>(b), values.begin() + static_cast<std::ptrdiff_t>(e),
                    values.begin() + static_cast<std::ptrdiff_t>(out));
        }
        out += e - b;
        continue;
      }
      buf.clear();
      for (std::size_t k = b; k < e; ++k) buf.emplace_back(indices[k], values[k]);
      std::stable_sort(buf.begin(), buf.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
      for (std::size_t k = 0; k < buf.size(); ++k) {
        if (k > 0 && buf[k].first == buf[k - 1].first) {
          values[out - 1] += buf[k].second;
        } else {
          indices[out] = buf[k].first;
          values[out] = buf[k].second;
          ++out;
        }
      }
    }
    indptr[static_cast<std::size_t>(rows_)] = static_cast<Offset>(out);
    if (out < indices.size()) {
      indices.resize(out);
      values.resize(out);
      indices.shrink_to_fit();
      values.shrink_to_fit();
    }
  }

  std::istream& in_;
  std::string source_;
  std::uintmax_t bytes_hint_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  std::size_t line_ = 0;

  Index rows_ = 0, cols_ = 0;
  std::int64_t nnz_ = 0, count_ = 0;
  std::size_t cap_ = 0;
  Index last_row_ = 0;
  bool unsorted_ = false;
  std::vector<Offset> counts_;  ///< counts_[r + 1] = entries of row r (becomes indptr)
  std::vector<Index> row_;      ///< only once the rows went out of order
  std::vector<Index> col_;
  std::vector<float> val_;
};

/// Bytes left in a seekable stream, 0 when unknown.
inline std::uintmax_t coo_remaining_bytes(std::istream& in) {
  if (!in) return 0;
  const std::istream::pos_type here = in.tellg();
  if (here == std::istream::pos_type(-1)) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    return 0;
  }
  in.seekg(0, std::ios::end);
  const std::istream::pos_type end = in.tellg();
  in.clear(in.rdstate() & ~std::ios::failbit);
  in.seekg(here);
  if (end == std::istream::pos_type(-1) || end < here || !in) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    return 0;
  }
  return static_cast<std::uintmax_t>(end - here);
}

}  // namespace detail

/// Reads a COO text matrix from a stream. `source_name` prefixes error messages.
/// Throws recmix::parse_error for malformed text and recmix::io_error for a failing stream.
inline InteractionMatrix read_coo(std::istream& in, std::string source_name = "<stream>") {
  const std::uintmax_t bytes = detail::coo_remaining_bytes(in);
  return detail::CooReader(in, std::move(source_name), bytes).read();
}

/// Reads a COO text file. Throws recmix::io_error when it cannot be opened and
/// recmix::parse_error (naming the file, line and column) when it is malformed.
inline InteractionMatrix read_coo(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw io_error("read_coo: '" + path.string() + "' is a directory");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int err = errno;
    throw io_error("read_coo: cannot open '" + path.string() + "'" +
                   (err != 0 ? ": " + std::generic_category().message(err) : std::string()));
  }
  ec.clear();
  std::uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (ec) bytes = 0;
  return detail::CooReader(in, path.string(), bytes).read();
}

/// Writes `m` as COO text (header, then rows in order, columns increasing within a row).
/// Values are written in the shortest form that reads back to the same float.
/// Throws recmix::io_error when the stream fails.
inline void write_coo(const InteractionMatrix& m, std::ostream& out) {
  constexpr std::size_t kBuffer = std::size_t{1} << 20;
  constexpr std::size_t kMaxEntry = 64;  // "2147483647 2147483647 -1.17549435e-38\n" fits easily
  std::vector<char> buf(kBuffer + kMaxEntry);
  char* p = buf.data();
  char* const limit = buf.data() + kBuffer;
  auto flush = [&] {
    out.write(buf.data(), static_cast<std::streamsize>(p - buf.data()));
    p = buf.data();
  };
  auto put_int = [&](std::int64_t v) { p = std::to_chars(p, p + 24, v).ptr; };
  put_int(m.rows());
  *p++ = ' ';
  put_int(m.cols());
  *p++ = ' ';
  put_int(m.nnz());
  *p++ = '\n';
  char row_text[16];
  for (Index r = 0; r < m.rows(); ++r) {
    const SparseRow row = m.row(r);
    if (row.empty()) continue;
    char* const row_end = std::to_chars(row_text, row_text + sizeof row_text, r).ptr;
    const auto row_len = static_cast<std::size_t>(row_end - row_text);
    for (std::size_t k = 0; k < row.size(); ++k) {
      std::memcpy(p, row_text, row_len);
      p += row_len;
      *p++ = ' ';
      p = std::to_chars(p, p + 12, row.indices[k]).ptr;
      *p++ = ' ';
      p = std::to_chars(p, p + 20, row.values[k]).ptr;
      *p++ = '\n';
      if (p >= limit) {
        flush();
        if (!out) throw io_error("write_coo: write failed");
      }
    }
  }
  flush();
  out.flush();
  if (!out) throw io_error("write_coo: write failed");
}

/// Writes `m` to a COO text file atomically: the text goes to a temporary file beside `path`,
/// which is then renamed over it, so readers see the old file or the whole new one. On any
/// failure the temporary is removed, `path` is left as it was, and recmix::io_error (naming
/// the path) is thrown.
inline void write_coo(const InteractionMatrix& m, const std::filesystem::path& path) {
  detail::write_atomically(path, "write_coo", [&](std::ostream& out) { write_coo(m, out); });
}

}  // namespace recmix::io
