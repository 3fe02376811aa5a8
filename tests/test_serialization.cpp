// Unit tests of model save/load (<recmix/io/serialization.hpp>) with ImplicitALS: round trips in
// every archive kind through files and streams, the checked envelope refusing every kind of
// damaged or foreign file while leaving the caller's model untouched, and the atomic save.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/als/implicit_als.hpp>
#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>
#include <recmix/io/serialization.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

using recmix::ArchiveFormat;
using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::UserBatch;
using recmix::als::ImplicitALS;
namespace fs = std::filesystem;

namespace {

using recmix::test::TempDir;

using recmix::test::random_matrix;

constexpr ArchiveFormat kFormats[] = {ArchiveFormat::binary, ArchiveFormat::text, ArchiveFormat::xml};

std::string name_of(ArchiveFormat f) { return recmix::detail::format_name(f); }

// The models are fitted once and copied by the tests: every fit starts OpenMP teams, which are
// slow to synchronise when the machine's cores are busy.

/// The reference model of the tests: 40 users x 15 items, 4 factors, 3 iterations; its
/// `threads` option is 0 (the default), 1 or 2.
template <class S>
const ImplicitALS<S>& fitted_model(int threads = 0) {
  REQUIRE(threads >= 0);
  REQUIRE(threads <= 2);
  static std::optional<ImplicitALS<S>> cache[3];
  auto& model = cache[threads];
  if (!model) {
    model.emplace(
        recmix::als::Options{.factors = 4, .regularization = 0.05, .alpha = 2.0, .iterations = 3, .threads = threads, .seed = 7});
    model->fit(random_matrix(40, 15, 0.3, 11));
  }
  return *model;
}

/// A fitted model that differs from fitted_model() in every respect (shape, options, factors):
/// the "caller's model" that a failed load must leave alone.
template <class S>
const ImplicitALS<S>& other_model() {
  static const ImplicitALS<S> model = [] {
    ImplicitALS<S> m({.factors = 3, .regularization = 0.2, .alpha = 1.0, .iterations = 2, .cg_steps = 2, .seed = 99});
    m.fit(random_matrix(25, 15, 0.4, 23));
    return m;
  }();
  return model;
}

using recmix::test::has_temporaries;
using recmix::test::listing;
using recmix::test::read_bytes;
using recmix::test::write_bytes;

template <class Model>
std::string save_to_string(const Model& model, ArchiveFormat format) {
  std::ostringstream out(std::ios::binary);
  recmix::save(model, out, {.format = format});
  return std::move(out).str();
}

/// A model file split into its magic line, its header line (both without '\n') and its payload.
struct FileParts {
  std::string magic, header, payload;
};

FileParts split_file(const std::string& file) {
  const auto first = file.find('\n');
  REQUIRE(first != std::string::npos);
  const auto second = file.find('\n', first + 1);
  REQUIRE(second != std::string::npos);
  return {file.substr(0, first), file.substr(first + 1, second - first - 1), file.substr(second + 1)};
}

std::vector<std::string> tokens_of(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  return tokens;
}

/// The value after `key` in a header line ("" when absent).
std::string header_field(const std::string& header, const std::string& key) {
  const auto t = tokens_of(header);
  for (std::size_t k = 0; k + 1 < t.size(); k += 2) {
    if (t[k] == key) return t[k + 1];
  }
  return {};
}

/// The header line with the value after `key` replaced.
std::string with_field(const std::string& header, const std::string& key, const std::string& value) {
  auto t = tokens_of(header);
  bool found = false;
  for (std::size_t k = 0; k + 1 < t.size(); k += 2) {
    if (t[k] == key) {
      t[k + 1] = value;
      found = true;
    }
  }
  REQUIRE(found);
  std::string out;
  for (const auto& s : t) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::string crc_hex(const std::string& payload) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(recmix::detail::crc32(payload.data(), payload.size())));
  return buf;
}

/// A complete file around `payload`, with the header's bytes and crc32 made to match it, so only
/// what the archive parser and on_loaded() check can reject it.
std::string rewrap(const std::string& header, const std::string& payload) {
  const std::string h = with_field(with_field(header, "bytes", std::to_string(payload.size())), "crc32", crc_hex(payload));
  return std::string(recmix::detail::kMagic) + "\n" + h + "\n" + payload;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not found");
  s.replace(at, from.size(), to);
  return s;
}

template <class S>
bool same_bits(const recmix::RowMatrix<S>& a, const recmix::RowMatrix<S>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(S)) == 0;
}

bool same_options(const recmix::als::Options& a, const recmix::als::Options& b) {
  return a.factors == b.factors && a.regularization == b.regularization && a.alpha == b.alpha &&
         a.iterations == b.iterations && a.cg_steps == b.cg_steps && a.solver == b.solver &&
         a.confidence == b.confidence && a.threads == b.threads && a.seed == b.seed &&
         a.calculate_loss == b.calculate_loss && a.init_scale == b.init_scale;
}

/// A batch of three known users and two new ones (folded in from their history rows).
struct ScoringBatch {
  std::vector<Index> users;
  InteractionMatrix history;
};

ScoringBatch scoring_batch(Index num_users, Index num_items) {
  ScoringBatch b;
  b.users = {0, num_users / 2, num_users - 1, recmix::kNewUser, recmix::kNewUser};
  b.history = random_matrix(static_cast<Index>(b.users.size()), num_items, 0.4, 5);
  return b;
}

template <class Model>
RowMatrixXf scores_of(const Model& model) {
  const ScoringBatch b = scoring_batch(model.num_users(), model.num_items());
  UserBatch batch(b.users, &b.history);
  RowMatrixXf out(batch.size(), model.num_items());
  model.score(batch, out);
  return out;
}

/// Checks that `a` and `b` are the same model: bit-identical factors, equal options, identical
/// scores (including folded-in new users, which use the item Gram cache rebuilt on load).
template <class S>
void check_same_model(const ImplicitALS<S>& a, const ImplicitALS<S>& b) {
  REQUIRE(a.is_fitted() == b.is_fitted());
  CHECK(same_bits(a.user_factors(), b.user_factors()));
  CHECK(same_bits(a.item_factors(), b.item_factors()));
  CHECK(same_options(a.options(), b.options()));
  if (a.is_fitted()) {
    const RowMatrixXf sa = scores_of(a), sb = scores_of(b);
    CHECK(same_bits<float>(sa, sb));
  }
}

/// Folds a new user (id num_users) and re-folds user 3 on copies of both models; the results
/// must be bit-identical.
template <class S>
void check_same_fold_in(const ImplicitALS<S>& original, const ImplicitALS<S>& loaded) {
  ImplicitALS<S> a = original, b = loaded;
  const std::vector<Index> users = {a.num_users(), 3};
  const InteractionMatrix history = random_matrix(2, a.num_items(), 0.5, 77);
  a.partial_fit_users(users, history);
  b.partial_fit_users(users, history);
  CHECK(a.num_users() == original.num_users() + 1);
  CHECK(same_bits(a.user_factors(), b.user_factors()));
  CHECK(same_bits(a.item_factors(), b.item_factors()));
}

/// Loading `bytes` (from a stream and from a file) must throw model_format_error and leave
/// `target` exactly as it was. Returns the message of the stream load.
template <class Model>
std::string expect_rejected(Model& target, const std::string& bytes, const TempDir& dir) {
  const Model before = target;
  std::string message;
  {
    std::istringstream in(bytes, std::ios::binary);
    try {
      recmix::load(target, in);
      FAIL_CHECK("load from a stream accepted a bad file");
    } catch (const recmix::model_format_error& e) {
      message = e.what();
    } catch (const std::exception& e) {
      FAIL_CHECK("load from a stream threw the wrong exception: " << e.what());
    }
    check_same_model(target, before);
  }
  {
    const fs::path path = dir / "rejected.model";
    write_bytes(path, bytes);
    CHECK_THROWS_AS(recmix::load(target, path), recmix::model_format_error);
    check_same_model(target, before);
    fs::remove(path);
  }
  return message;
}

/// Peak virtual memory of this process in kB (VmPeak in /proc/self/status), or -1 if unknown.
long long vm_peak_kb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmPeak:", 0) == 0) return std::stoll(line.substr(7));
  }
  return -1;
}

/// Offset of the `threads` option (an int32) in the binary payload of fitted_model<S>(1): the
/// first byte where the payloads of the models saying 1 and 2 threads differ.
template <class S>
std::size_t binary_threads_offset() {
  const std::string a = split_file(save_to_string(fitted_model<S>(1), ArchiveFormat::binary)).payload;
  const std::string b = split_file(save_to_string(fitted_model<S>(2), ArchiveFormat::binary)).payload;
  REQUIRE(a.size() == b.size());
  const auto at = static_cast<std::size_t>(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
  REQUIRE(at + 4 <= a.size());
  return at;
}

template <class S>
using OtherScalar = std::conditional_t<std::is_same_v<S, float>, double, float>;

}  // namespace

TEST_CASE_TEMPLATE("serialization: round trip in every archive, through files and streams", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> model = fitted_model<S>();
  REQUIRE(model.is_fitted());
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = name_of(format);
    CAPTURE(archive);
    {
      INFO("file");
      const fs::path path = dir / (std::string("model.") + name_of(format));
      recmix::save(model, path, {.format = format});
      ImplicitALS<S> restored = other_model<S>();
      recmix::load(restored, path);
      check_same_model(model, restored);
      check_same_fold_in(model, restored);
      CHECK(listing(dir.path()) == std::vector<std::string>{path.filename().string()});
      // The file holds exactly what the stream overload writes.
      CHECK(read_bytes(path) == save_to_string(model, format));
      fs::remove(path);
    }
    {
      INFO("stream");
      std::stringstream io(std::ios::in | std::ios::out | std::ios::binary);
      recmix::save(model, io, {.format = format});
      ImplicitALS<S> restored = other_model<S>();
      recmix::load(restored, io);
      check_same_model(model, restored);
      check_same_fold_in(model, restored);
      // A loaded model saves to the very same bytes.
      CHECK(save_to_string(restored, format) == save_to_string(model, format));
    }
  }
  {
    INFO("into a default-constructed model, with a string path");
    const std::string path = (dir / "plain.model").string();
    recmix::save(model, path);
    ImplicitALS<S> restored;
    CHECK_FALSE(restored.is_fitted());
    recmix::load(restored, path);
    check_same_model(model, restored);
  }
}

TEST_CASE_TEMPLATE("serialization: the header line names the model, scalar and archive", S, float, double) {
  const ImplicitALS<S> model = fitted_model<S>();
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = name_of(format);
    CAPTURE(archive);
    const std::string file = save_to_string(model, format);
    REQUIRE(file.rfind("RECMIX-MODEL\n", 0) == 0);
    const FileParts parts = split_file(file);
    CHECK(parts.magic == "RECMIX-MODEL");
    CHECK(tokens_of(parts.header).size() == 14);
    CHECK(header_field(parts.header, "envelope") == "2");
    CHECK(header_field(parts.header, "kind") == "implicit_als");
    CHECK(header_field(parts.header, "version") == "1");
    CHECK(header_field(parts.header, "scalar") == (std::is_same_v<S, float> ? "float32" : "float64"));
    CHECK(header_field(parts.header, "archive") == name_of(format));
    CHECK(header_field(parts.header, "bytes") == std::to_string(parts.payload.size()));
    CHECK(header_field(parts.header, "crc32") == crc_hex(parts.payload));
  }
}

TEST_CASE_TEMPLATE("serialization: save before fit throws not_fitted", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> unfitted;
  std::ostringstream out;
  CHECK_THROWS_AS(recmix::save(unfitted, out), recmix::not_fitted);
  CHECK(out.str().empty());
  CHECK_THROWS_AS(recmix::save(unfitted, dir / "unfitted.model"), recmix::not_fitted);
  CHECK(listing(dir.path()).empty());
}

TEST_CASE_TEMPLATE("serialization: load of a missing file throws io_error", S, float, double) {
  TempDir dir;
  ImplicitALS<S> target = other_model<S>();
  const ImplicitALS<S> before = target;
  CHECK_THROWS_AS(recmix::load(target, dir / "missing.model"), recmix::io_error);
  CHECK_THROWS_AS(recmix::load(target, dir / "no-such-dir" / "missing.model"), recmix::io_error);
  check_same_model(target, before);
}

TEST_CASE_TEMPLATE("serialization: files that are not model files are refused", S, float, double) {
  TempDir dir;
  ImplicitALS<S> target = other_model<S>();
  const std::string good = save_to_string(fitted_model<S>(), ArchiveFormat::binary);
  const FileParts parts = split_file(good);

  SUBCASE("empty file") { expect_rejected(target, "", dir); }
  SUBCASE("random garbage") {
    std::mt19937 rng(3);
    std::string garbage(700, '\0');
    for (char& c : garbage) c = static_cast<char>(rng() & 0xFFU);
    expect_rejected(target, garbage, dir);
    expect_rejected(target, "hello world\n", dir);
    expect_rejected(target, "RECMIX-MODE\n" + parts.header + "\n" + parts.payload, dir);
    expect_rejected(target, "recmix-model\n" + parts.header + "\n" + parts.payload, dir);
    expect_rejected(target, "RECMIX-MODEL\r\n" + parts.header + "\n" + parts.payload, dir);
  }
  SUBCASE("right magic, malformed header") {
    const std::string magic = "RECMIX-MODEL\n";
    const std::vector<std::string> headers = {
        "",
        "envelope 2 kind implicit_als",
        "garbage " + parts.header,
        parts.header + " extra 1",
        parts.header + " bytes",
        with_field(parts.header, "envelope", "one"),
        with_field(parts.header, "envelope", "-"),
        with_field(parts.header, "version", "x1"),
        with_field(parts.header, "bytes", "lots"),
        with_field(parts.header, "crc32", "zz"),
        with_field(parts.header, "crc32", "1234567890"),
        with_field(parts.header, "crc32", "12345g"),
        with_field(parts.header, "archive", "json"),
        with_field(parts.header, "scalar", "float16"),
        std::string(1100, ' ') + parts.header,
    };
    for (const auto& header : headers) {
      CAPTURE(header);
      expect_rejected(target, magic + header + "\n" + parts.payload, dir);
    }
    expect_rejected(target, magic, dir);
    expect_rejected(target, "RECMIX-MODEL", dir);
  }
}

TEST_CASE_TEMPLATE("serialization: truncated, corrupted and padded files are refused", S, float, double) {
  TempDir dir;
  ImplicitALS<S> target = other_model<S>();
  const ImplicitALS<S> model = fitted_model<S>();
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = name_of(format);
    CAPTURE(archive);
    const std::string good = save_to_string(model, format);
    const FileParts parts = split_file(good);
    const std::size_t header_end = parts.magic.size() + 1 + parts.header.size() + 1;
    const std::size_t n = parts.payload.size();
    REQUIRE(header_end + n == good.size());

    // Truncated inside the magic, inside the header (also inside the crc32 value, which then
    // parses as a different number), right after the header, mid-payload, one byte short.
    const std::vector<std::size_t> cuts = {5,
                                           parts.magic.size() + 1,
                                           parts.magic.size() + 12,
                                           header_end - 4,
                                           header_end - 1,
                                           header_end,
                                           header_end + 1,
                                           header_end + n / 2,
                                           good.size() - 1};
    for (const std::size_t cut : cuts) {
      CAPTURE(cut);
      expect_rejected(target, good.substr(0, cut), dir);
    }

    // One flipped byte anywhere in the payload: the CRC no longer matches.
    const std::vector<std::size_t> flips = {0, 1, n / 5, n / 3, n / 2, 2 * n / 3, n - 2, n - 1};
    for (const std::size_t at : flips) {
      CAPTURE(at);
      std::string bad = good;
      bad[header_end + at] = static_cast<char>(bad[header_end + at] ^ 0x5A);
      const std::string message = expect_rejected(target, bad, dir);
      CHECK(message.find("checksum") != std::string::npos);
    }

    // Trailing bytes after the payload.
    expect_rejected(target, good + "x", dir);
    expect_rejected(target, good + "\n", dir);
    expect_rejected(target, good + good, dir);
  }
}

TEST_CASE_TEMPLATE("serialization: foreign, newer and oversized files are refused", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> model = fitted_model<S>();
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = name_of(format);
    CAPTURE(archive);
    const std::string good = save_to_string(model, format);
    const FileParts parts = split_file(good);
    auto with = [&](const std::string& key, const std::string& value) {
      return parts.magic + "\n" + with_field(parts.header, key, value) + "\n" + parts.payload;
    };
    ImplicitALS<S> target = other_model<S>();

    // Another model kind.
    expect_rejected(target, with("kind", "bpr"), dir);
    expect_rejected(target, with("kind", "implicit_als2"), dir);

    // A newer model format, a newer envelope.
    CHECK(expect_rejected(target, with("version", "2"), dir).find("newer") != std::string::npos);
    CHECK(expect_rejected(target, with("envelope", "3"), dir).find("newer") != std::string::npos);
    CHECK(expect_rejected(target, with("envelope", "1"), dir).find("older") != std::string::npos);

    // The other scalar type, both by loading into the other model and by editing the header.
    ImplicitALS<OtherScalar<S>> other_scalar = other_model<OtherScalar<S>>();
    expect_rejected(other_scalar, good, dir);
    expect_rejected(target, with("scalar", std::is_same_v<S, float> ? "float64" : "float32"), dir);

    // A payload size far beyond the file (and beyond any plausible model, and a negative one).
    expect_rejected(target, with("bytes", "99999999999"), dir);
    expect_rejected(target, with("bytes", "18446744073709551615"), dir);
    expect_rejected(target, with("bytes", "-1"), dir);
    expect_rejected(target, with("bytes", "0"), dir);
  }
}

TEST_CASE_TEMPLATE("serialization: payloads with a valid CRC but bad content are refused", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> model = fitted_model<S>();
  ImplicitALS<S> target = other_model<S>();

  SUBCASE("garbage archives") {
    for (const ArchiveFormat format : kFormats) {
      const std::string archive = name_of(format);
      CAPTURE(archive);
      const std::string good = save_to_string(model, format);
      const FileParts parts = split_file(good);
      std::mt19937 rng(17);
      std::string garbage(parts.payload.size(), '\0');
      for (char& c : garbage) c = static_cast<char>(rng() & 0xFFU);
      expect_rejected(target, rewrap(parts.header, garbage), dir);
      expect_rejected(target, rewrap(parts.header, std::string(64, '\0')), dir);
      expect_rejected(target, rewrap(parts.header, "x"), dir);
      expect_rejected(target, rewrap(parts.header, "22 serialization::archive 18 0 0 4"), dir);
      // A valid archive cut short: in the middle, and just before its last factor value (text
      // and XML archives end in newlines that are not needed, so cutting those off is harmless).
      const std::size_t last_value = format == ArchiveFormat::binary ? parts.payload.size() - 1
                                     : format == ArchiveFormat::text ? parts.payload.rfind(' ')
                                                                     : parts.payload.rfind("<item>");
      REQUIRE(last_value != std::string::npos);
      expect_rejected(target, rewrap(parts.header, parts.payload.substr(0, parts.payload.size() / 2)), dir);
      expect_rejected(target, rewrap(parts.header, parts.payload.substr(0, last_value)), dir);
      // A valid archive of one kind declared as another.
      for (const ArchiveFormat declared : kFormats) {
        if (declared == format) continue;
        const std::string declared_as = name_of(declared);
        CAPTURE(declared_as);
        expect_rejected(target, rewrap(with_field(parts.header, "archive", name_of(declared)), parts.payload), dir);
      }
    }
  }

  SUBCASE("a matrix claiming to be enormous is refused without allocating it") {
    const std::string huge = "100000000";
    std::vector<std::string> files;
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::text));
      // Text payload: "... <init_scale> 0 0 40 4 <40 x 4 user factors> ..."; the only " 40 4 "
      // before the data is the row and column count of the user factors.
      files.push_back(rewrap(p.header, replace_once(p.payload, " 40 4 ", " " + huge + " 4 ")));
      files.push_back(rewrap(p.header, replace_once(p.payload, " 40 4 ", " 40 " + huge + " ")));
      files.push_back(rewrap(p.header, replace_once(p.payload, " 40 4 ", " 9223372036854775807 4 ")));
      files.push_back(rewrap(p.header, replace_once(p.payload, " 40 4 ", " -40 4 ")));
    }
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::xml));
      files.push_back(rewrap(p.header, replace_once(p.payload, "<rows>40</rows>", "<rows>" + huge + "</rows>")));
      files.push_back(rewrap(p.header, replace_once(p.payload, "<rows>15</rows>", "<rows>" + huge + "</rows>")));
    }
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::binary));
      // Binary payload: the user factors' shape is two little-endian int64s, 40 and 4.
      std::string shape(16, '\0'), edited(16, '\0');
      const std::int64_t rows = 40, cols = 4, many = 100000000;
      std::memcpy(shape.data(), &rows, 8);
      std::memcpy(shape.data() + 8, &cols, 8);
      std::memcpy(edited.data(), &many, 8);
      std::memcpy(edited.data() + 8, &cols, 8);
      files.push_back(rewrap(p.header, replace_once(p.payload, shape, edited)));
    }
    const long long peak_before = vm_peak_kb();
    for (std::size_t k = 0; k < files.size(); ++k) {
      CAPTURE(k);
      const std::string message = expect_rejected(target, files[k], dir);
      CHECK(message.find("std::bad_alloc") == std::string::npos);
    }
    const long long peak_after = vm_peak_kb();
    // 10^8 x 4 factors would take 1.6 GB (float) or 3.2 GB (double) of address space.
    if (peak_before > 0 && peak_after > 0) CHECK(peak_after - peak_before < 512LL * 1024);
  }

  SUBCASE("an archive signature claiming gigabytes is refused without allocating them") {
    // Binary and text archives begin with the length of the string "serialization::archive";
    // Boost 1.74 sizes a string to that length before reading and checking it.
    std::vector<std::string> files;
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::binary));
      const std::size_t length = std::strlen("serialization::archive");
      REQUIRE(p.payload.size() > sizeof length);
      REQUIRE(std::memcmp(p.payload.data(), &length, sizeof length) == 0);
      for (const std::uint64_t claimed : {std::uint64_t{0xFF000016}, std::uint64_t{1} << 33, std::uint64_t{0xFF00000016},
                                          std::uint64_t{1} << 41, std::uint64_t{1} << 62, ~std::uint64_t{0}}) {
        std::string payload = p.payload;
        const auto n = static_cast<std::size_t>(claimed);
        std::memcpy(payload.data(), &n, sizeof n);
        files.push_back(rewrap(p.header, payload));
      }
    }
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::text));
      for (const char* claimed : {"3000000000", "4294967318", "1099511627776", "18446744073709551615"}) {
        files.push_back(rewrap(p.header, replace_once(p.payload, "22 serialization::archive", std::string(claimed) + " serialization::archive")));
      }
    }
    const long long peak_before = vm_peak_kb();
    for (std::size_t k = 0; k < files.size(); ++k) {
      CAPTURE(k);
      expect_rejected(target, files[k], dir);
    }
    const long long peak_after = vm_peak_kb();
    if (peak_before > 0 && peak_after > 0) CHECK(peak_after - peak_before < 512LL * 1024);
  }

  SUBCASE("a bool that is neither 0 nor 1 is refused") {
    // Binary payload: ... threads (int32), seed (uint64), calculate_loss (one byte) ...
    const ImplicitALS<S> one = fitted_model<S>(1);
    const FileParts p = split_file(save_to_string(one, ArchiveFormat::binary));
    const std::size_t at = binary_threads_offset<S>() + 4 + 8;
    REQUIRE(at < p.payload.size());
    REQUIRE(p.payload[at] == '\0');
    std::string payload = p.payload;
    payload[at] = '\1';
    {
      // The offset is right: 1 loads as calculate_loss = true.
      ImplicitALS<S> loaded;
      std::istringstream in(rewrap(p.header, payload), std::ios::binary);
      recmix::load(loaded, in);
      CHECK(loaded.options().calculate_loss);
      CHECK(same_bits(loaded.user_factors(), one.user_factors()));
    }
    for (const unsigned char byte : {2, 71, 255}) {
      CAPTURE(int{byte});
      payload[at] = static_cast<char>(byte);
      expect_rejected(target, rewrap(p.header, payload), dir);
    }
  }

  SUBCASE("a factor count that disagrees with the matrices is refused by on_loaded") {
    std::vector<std::string> files;
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::xml));
      for (const char* f : {"3", "5", "40"}) {
        files.push_back(rewrap(p.header, replace_once(p.payload, "<factors>4</factors>", std::string("<factors>") + f + "</factors>")));
      }
    }
    {
      const FileParts p = split_file(save_to_string(model, ArchiveFormat::text));
      // Text payload: "22 serialization::archive <library version> 0 0 4 ..." where the "0 0"
      // are the class tracking level and version and the 4 is the factor count.
      auto t = tokens_of(p.payload);
      REQUIRE(t.size() > 6);
      REQUIRE(t[1] == "serialization::archive");
      REQUIRE(t[5] == "4");
      const std::string prefix = t[0] + " " + t[1] + " " + t[2] + " " + t[3] + " " + t[4] + " ";
      REQUIRE(p.payload.rfind(prefix + "4 ", 0) == 0);
      for (const char* f : {"3", "5"}) {
        files.push_back(rewrap(p.header, replace_once(p.payload, prefix + "4 ", prefix + f + " ")));
      }
    }
    for (const auto& file : files) {
      const std::string message = expect_rejected(target, file, dir);
      CHECK(message.find("factor matrices do not match") != std::string::npos);
    }
    // Options that fail validation are refused as well.
    const FileParts p = split_file(save_to_string(model, ArchiveFormat::xml));
    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
             {"<factors>4</factors>", "<factors>0</factors>"},
             {"<factors>4</factors>", "<factors>-4</factors>"},
             {"<cg_steps>3</cg_steps>", "<cg_steps>0</cg_steps>"},
             {"<solver>0</solver>", "<solver>7</solver>"},
             {"<confidence>0</confidence>", "<confidence>-1</confidence>"},
             {"<threads>0</threads>", "<threads>-2</threads>"}}) {
      const std::string edit = to;  // CAPTURE cannot capture a structured binding before clang 16
      CAPTURE(edit);
      expect_rejected(target, rewrap(p.header, replace_once(p.payload, from, to)), dir);
    }
    // Non-finite factors.
    const auto open = p.payload.find("<item>");
    REQUIRE(open != std::string::npos);
    const auto close = p.payload.find("</item>", open);
    std::string nan_payload = p.payload;
    nan_payload.replace(open + 6, close - open - 6, "nan");
    expect_rejected(target, rewrap(p.header, nan_payload), dir);
  }
}

TEST_CASE_TEMPLATE("serialization: every single-byte change of a payload is handled cleanly", S, float, double) {
  // The CRC is recomputed after each change, so the archive parser and on_loaded() see it. Each
  // load must either be refused with model_format_error (leaving the target alone) or produce a
  // consistent, usable model; nothing else may happen. The model says threads = 1, so the
  // thousands of loads do not each start an OpenMP team (slow on busy shared cores).
  const ImplicitALS<S> model = fitted_model<S>(1);
  ImplicitALS<S> target = other_model<S>();
  const ImplicitALS<S> before = target;
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = name_of(format);
    CAPTURE(archive);
    const FileParts p = split_file(save_to_string(model, format));
    const std::size_t n = p.payload.size();
    // Every byte of the binary archive; for text and XML every byte of the part before the
    // factor data (signature, class information, options, shapes) and a stride through the rest.
    const std::size_t dense = format == ArchiveFormat::binary ? n : std::min<std::size_t>(n, 700);
    int refused = 0, accepted = 0;
    for (std::size_t at = 0; at < n; at += at < dense ? 1 : 37) {
      for (const unsigned char mask : {0x01, 0xFF}) {
        std::string payload = p.payload;
        payload[at] = static_cast<char>(static_cast<unsigned char>(payload[at]) ^ mask);
        std::istringstream in(rewrap(p.header, payload), std::ios::binary);
        try {
          recmix::load(target, in);
        } catch (const recmix::model_format_error&) {
          ++refused;
          if (!same_bits(target.user_factors(), before.user_factors()) ||
              !same_bits(target.item_factors(), before.item_factors()) || !same_options(target.options(), before.options())) {
            FAIL("a refused load changed the model (byte " << at << ")");
          }
          continue;
        } catch (const std::exception& e) {
          FAIL("byte " << at << ": wrong exception: " << e.what());
        }
        ++accepted;
        if (!target.is_fitted() || target.user_factors().cols() != target.factors() ||
            target.item_factors().cols() != target.factors() || !target.user_factors().allFinite() ||
            !target.item_factors().allFinite()) {
          FAIL("byte " << at << ": an inconsistent model was accepted");
        }
        (void)scores_of(target);
        target = before;
      }
    }
    CHECK(refused > 0);
    MESSAGE(name_of(format) << ": " << refused << " refused, " << accepted << " accepted");
  }
}

TEST_CASE_TEMPLATE("serialization: save is atomic", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> model = fitted_model<S>();
  const ImplicitALS<S> other = other_model<S>();
  const fs::path path = dir / "model.bin";

  SUBCASE("saving over an existing model replaces it") {
    recmix::save(other, path, {.format = ArchiveFormat::text});
    recmix::save(model, path);
    CHECK(read_bytes(path) == save_to_string(model, ArchiveFormat::binary));
    ImplicitALS<S> restored;
    recmix::load(restored, path);
    check_same_model(model, restored);
    CHECK(listing(dir.path()) == std::vector<std::string>{"model.bin"});
  }

  SUBCASE("a directory that does not exist") {
    CHECK_THROWS_AS(recmix::save(model, dir / "missing" / "model.bin"), recmix::io_error);
    CHECK_FALSE(fs::exists(dir / "missing"));
    CHECK(listing(dir.path()).empty());
  }

  SUBCASE("a failed rename leaves the target and no temporary behind") {
    // The target is an existing non-empty directory: the rename over it fails.
    const fs::path target = dir / "occupied";
    fs::create_directory(target);
    write_bytes(target / "keep.txt", "keep");
    for (const ArchiveFormat format : kFormats) {
      const std::string archive = name_of(format);
      CAPTURE(archive);
      CHECK_THROWS_AS(recmix::save(model, target, {.format = format}), recmix::io_error);
      CHECK(fs::is_directory(target));
      CHECK(listing(target) == std::vector<std::string>{"keep.txt"});
      CHECK(read_bytes(target / "keep.txt") == "keep");
      CHECK_FALSE(has_temporaries(dir.path()));
      CHECK(listing(dir.path()) == std::vector<std::string>{"occupied"});
    }
  }

  SUBCASE("a failed save leaves an existing file byte-identical") {
    recmix::save(model, path, {.format = ArchiveFormat::xml});
    const std::string original = read_bytes(path);
    const ImplicitALS<S> unfitted;
    CHECK_THROWS_AS(recmix::save(unfitted, path), recmix::not_fitted);
    CHECK(read_bytes(path) == original);
    CHECK_FALSE(has_temporaries(dir.path()));
    CHECK(listing(dir.path()) == std::vector<std::string>{"model.bin"});
    ImplicitALS<S> restored = other;
    recmix::load(restored, path);
    check_same_model(model, restored);
  }
}

// A file whose CRC is valid but which asks for 65536 threads (corrupted, or crafted) is refused:
// threads above ImplicitALS::kMaxThreads fail the option check, so no OpenMP team is started.
TEST_CASE_TEMPLATE("serialization: an absurd thread count in a file does not kill the process", S, float, double) {
  TempDir dir;
  const ImplicitALS<S> model = fitted_model<S>();
  ImplicitALS<S> target = other_model<S>();
  const ImplicitALS<S> before = target;
  const FileParts p = split_file(save_to_string(model, ArchiveFormat::xml));
  const std::string file = rewrap(p.header, replace_once(p.payload, "<threads>0</threads>", "<threads>65536</threads>"));
  std::istringstream in(file, std::ios::binary);
  CHECK_THROWS_AS(recmix::load(target, in), recmix::model_format_error);
  check_same_model(target, before);
}
