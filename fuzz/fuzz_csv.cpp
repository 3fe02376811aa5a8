// Fuzz target: the CSV readers. The first byte picks the reader and its options; the rest is the
// text. Every input must give a table / matrix or throw recmix::parse_error (or, for options,
// recmix::invalid_argument); anything else aborts.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "recmix/io/coo.hpp"
#include "recmix/io/csv.hpp"

namespace {

[[noreturn]] void fail(const char* what, const char* detail) {
  std::fprintf(stderr, "fuzz_csv: %s: %s\n", what, detail);
  std::abort();
}

void run(std::uint8_t selector, const std::string& text) {
  using namespace recmix;
  const char delimiter = (selector & 0x08U) != 0 ? ';' : ',';
  switch (selector & 0x03U) {
    case 0: {  // raw records, with a tiny buffer to exercise refills
      std::istringstream in(text);
      io::CsvReader reader(in, "fuzz", delimiter, (selector & 0x04U) != 0 ? 3 : io::CsvReader::kDefaultBufferSize);
      std::vector<std::string_view> fields;
      std::size_t records = 0;
      while (reader.next(fields)) {
        if (++records > text.size() + 1) fail("CsvReader", "more records than bytes");
        for (std::size_t i = 0; i < fields.size(); ++i) (void)reader.column(i);
      }
      break;
    }
    case 1:
    case 2: {  // dense tables of floats
      std::istringstream in(text);
      const io::DenseCsvOptions options{.delimiter = delimiter,
                                        .header = (selector & 0x01U) != 0,
                                        .missing = (selector & 0x04U) != 0 ? io::MissingValues::nan : io::MissingValues::error};
      const io::DenseTable t = io::read_dense_csv(in, "fuzz", options);
      if (static_cast<std::size_t>(t.values.cols()) != t.columns.size()) fail("read_dense_csv", "width mismatch");
      break;
    }
    default: {  // COO interaction matrices
      std::istringstream in(text);
      const InteractionMatrix m = io::read_coo(in, "fuzz");
      const auto indptr = m.indptr();
      const auto indices = m.indices();
      const auto values = m.values();
      if (indptr.size() != static_cast<std::size_t>(m.rows()) + 1 || indptr.front() != 0 ||
          static_cast<std::size_t>(indptr.back()) != indices.size() || indices.size() != values.size()) {
        fail("read_coo", "inconsistent CSR arrays");
      }
      for (Index r = 0; r < m.rows(); ++r) {
        for (auto k = indptr[static_cast<std::size_t>(r)]; k < indptr[static_cast<std::size_t>(r) + 1]; ++k) {
          const Index c = indices[static_cast<std::size_t>(k)];
          if (c < 0 || c >= m.cols()) fail("read_coo", "column out of range");
          if (k > indptr[static_cast<std::size_t>(r)] && c <= indices[static_cast<std::size_t>(k) - 1]) fail("read_coo", "columns not sorted");
          if (!std::isfinite(values[static_cast<std::size_t>(k)])) fail("read_coo", "non-finite weight");
        }
      }
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    run(data[0], text);
  } catch (const recmix::parse_error& e) {
    if (e.line() == 0) fail("parse_error without a line", e.what());
  } catch (const std::exception& e) {
    fail("foreign exception", e.what());
  }
  return 0;
}
