// Fuzz target: the Santander train_ver2.csv loader. The first byte picks strict or lenient mode,
// the thread count and the block size (small blocks cut rows at every place); the rest is the
// text. Strict mode must give a dataset or a parse_error naming a line; lenient mode must never
// throw for content and must account for every row it skipped. The result must not depend on
// the threads or the block size.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "recmix/datasets/santander_load.hpp"

namespace {

namespace sd = recmix::datasets::santander;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_santander: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool same(const sd::Dataset& a, const sd::Dataset& b) {
  return a.months == b.months && a.customers == b.customers && a.present == b.present && a.products == b.products &&
         a.categorical == b.categorical && a.categories == b.categories && a.report.lines == b.report.lines &&
         a.report.rows == b.report.rows && a.report.skipped == b.report.skipped &&
         a.report.skipped_by_reason == b.report.skipped_by_reason && a.numeric.shape() == b.numeric.shape() &&
         (a.numeric.size() == 0 || std::memcmp(a.numeric.data(), b.numeric.data(), a.numeric.size() * sizeof(float)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool strict = (data[0] & 0x01U) != 0;
  const std::size_t block = (data[0] & 0x02U) != 0 ? 64 + (data[0] >> 2) : std::size_t{1} << 20;
  sd::LoadOptions one;
  one.mode = strict ? sd::LoadMode::strict : sd::LoadMode::lenient;
  one.threads = 1;
  sd::LoadOptions two = one;
  two.threads = 2;
  two.block_size = block;
  try {
    const sd::Dataset a = sd::parse(text, one, "fuzz");
    const sd::Dataset b = sd::parse(text, two, "fuzz");
    if (!same(a, b)) fail("result depends on threads / block size", std::to_string(block));
    if (a.report.rows + a.report.skipped != a.report.lines) fail("rows + skipped != lines", a.report.summary());
  } catch (const recmix::parse_error& e) {
    if (!strict) fail("lenient mode threw a parse_error", e.what());
    if (e.line() == 0) fail("parse_error without a line", e.what());
  } catch (const std::exception& e) {
    fail("foreign exception", e.what());
  }
  return 0;
}
