// Model files of every kind under damage: a flipped byte anywhere in the file (magic, header or
// payload, in every archive format) is refused with model_format_error and leaves the caller's
// model alone; counts in a payload are checked against the bytes that remain before anything is
// allocated for them; and the XML archive's quirks that the fuzzers found stay handled. The models
// are the fuzz fixtures (fuzz/fixtures.hpp): small fitted models of every saveable kind.

#include <doctest/doctest.h>

#include "../fuzz/fixtures.hpp"
#include "../fuzz/fuzz_models.hpp"

#include <recmix/io/serialization.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

using namespace recmix;
using namespace recmix::fuzz;

namespace {

template <class Model>
std::string file_of(const Model& model, ArchiveFormat format) {
  return saved(model, format);
}

/// Loads `bytes` into a copy of `target`; true when refused with model_format_error and the copy
/// is unchanged (compared through its saved bytes). Any other exception fails the test.
template <class Model>
bool refused_cleanly(const Model& target, const std::string& bytes, std::string* message = nullptr) {
  Model copy = target;
  const std::string before = saved(copy, ArchiveFormat::binary);
  std::istringstream in(bytes, std::ios::binary);
  try {
    load(copy, in, "test");
  } catch (const model_format_error& e) {
    if (message != nullptr) *message = e.what();
    return saved(copy, ArchiveFormat::binary) == before;
  } catch (const std::exception& e) {
    FAIL_CHECK("wrong exception: " << e.what());
    return false;
  }
  return false;
}

/// Positions to flip: every byte of the magic and header lines and of the first 512 payload
/// bytes, then a stride through the rest, and the last 8 bytes.
std::vector<std::size_t> positions(const std::string& file) {
  const std::size_t header_end = file.find('\n', file.find('\n') + 1) + 1;
  std::vector<std::size_t> at;
  const std::size_t dense = std::min(file.size(), header_end + 512);
  for (std::size_t k = 0; k < dense; ++k) at.push_back(k);
  for (std::size_t k = dense; k + 8 < file.size(); k += 61) at.push_back(k);
  for (std::size_t k = file.size() >= 8 ? std::max(dense, file.size() - 8) : dense; k < file.size(); ++k) at.push_back(k);
  return at;
}

template <class Model>
void check_every_flip_refused(const Model& model, const Model& target) {
  for (const ArchiveFormat format : kFormats) {
    const std::string archive = detail::format_name(format);
    CAPTURE(archive);
    const std::string good = file_of(model, format);
    // The intact file loads (so the refusals below are the flips' doing).
    {
      Model copy = target;
      std::istringstream in(good, std::ios::binary);
      REQUIRE_NOTHROW(load(copy, in, "test"));
      CHECK(saved(copy, format) == good);
    }
    int refused = 0;
    for (const std::size_t at : positions(good)) {
      for (const unsigned char mask : {0x01, 0x20, 0x80, 0xFF}) {
        std::string bad = good;
        bad[at] = static_cast<char>(static_cast<unsigned char>(bad[at]) ^ mask);
        if (!refused_cleanly(target, bad)) {
          FAIL_CHECK("byte " << at << " xor " << int{mask} << " of a " << Model::kModelKind << " file was not refused");
        } else {
          ++refused;
        }
      }
    }
    CHECK(refused > 0);
  }
}

/// A binary archive holding what `write` archives, as a string.
template <class Write>
std::string binary_payload(Write write) {
  std::ostringstream os(std::ios::binary);
  {
    boost::archive::binary_oarchive ar(os);
    write(ar);
  }
  return std::move(os).str();
}

/// Replaces the first little-endian uint64 equal to `from` at or after `start` with `to`.
std::string patch_u64(std::string bytes, std::uint64_t from, std::uint64_t to, std::size_t start = 0) {
  for (std::size_t k = start; k + 8 <= bytes.size(); ++k) {
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data() + k, 8);
    if (v == from) {
      std::memcpy(bytes.data() + k, &to, 8);
      return bytes;
    }
  }
  FAIL("value " << from << " not found in the payload");
  return bytes;
}

/// Reads `payload` back with `read` under the element budget a model load gives it.
template <class Read>
void read_binary(const std::string& payload, Read read) {
  detail::BudgetScope budget(payload.size());
  std::istringstream is(payload, std::ios::binary);
  boost::archive::binary_iarchive ar(is);
  read(ar);
}

}  // namespace

TEST_CASE("model files: a flipped byte anywhere in a file of any kind is refused") {
  SUBCASE("implicit ALS") {
    check_every_flip_refused(fixture_als_float(), fixture_als_float());
    check_every_flip_refused(fixture_als_double(), fixture_als_double());
  }
  SUBCASE("k-means and the cluster recommender") {
    check_every_flip_refused(fixture_kmeans<float>(), fixture_kmeans<float>());
    check_every_flip_refused(fixture_kmeans<double>(), fixture_kmeans<double>());
    check_every_flip_refused(fixture_cluster_recommender(), fixture_cluster_recommender());
  }
  SUBCASE("preprocessing") {
    check_every_flip_refused(fixture_scaler(), fixture_scaler());
    check_every_flip_refused(fixture_one_hot(), fixture_one_hot());
    check_every_flip_refused(fixture_ordinal(), fixture_ordinal());
    check_every_flip_refused(fixture_binner(), fixture_binner());
    check_every_flip_refused(fixture_demographic_encoder(), fixture_demographic_encoder());
  }
  SUBCASE("boosted trees") {
    check_every_flip_refused(fixture_gbdt(), fixture_gbdt());
    check_every_flip_refused(fixture_classifier(), fixture_classifier());
    check_every_flip_refused(fixture_trees(), fixture_trees());
  }
  SUBCASE("popularity and the blender") {
    check_every_flip_refused(fixture_popularity(), fixture_popularity());
    check_every_flip_refused(fixture_blender(), fixture_blender());
  }
}

TEST_CASE("model files: a header that parses but is not what save writes is refused") {
  const auto model = fixture_kmeans<float>();
  const std::string good = file_of(model, ArchiveFormat::binary);
  const std::size_t first = good.find('\n'), second = good.find('\n', first + 1);
  const std::string header = good.substr(first + 1, second - first - 1);
  const std::string payload = good.substr(second + 1);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string h = header;
    const std::size_t at = h.find(from);
    REQUIRE(at != std::string::npos);
    h.replace(at, from.size(), to);
    return good.substr(0, first + 1) + h + "\n" + payload;
  };
  std::string message;
  CHECK(refused_cleanly(model, with(" version 1 ", " version 0 "), &message));
  CHECK(message.find("format version 0") != std::string::npos);
  const std::size_t crc_at = header.find("crc32 ") + 6;
  const std::string crc = header.substr(crc_at);
  std::string upper = crc;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper != crc) CHECK(refused_cleanly(model, with(crc, upper), &message));
  CHECK(refused_cleanly(model, with(crc, "0" + crc), &message));
  CHECK(message.find("crc32") != std::string::npos);
}

TEST_CASE("model files: a count beyond the rest of the payload is refused before allocating") {
  // Counts are charged against the payload's size: every element takes at least one byte.
  SUBCASE("a vector of floats") {
    std::vector<float> values = {1.5f, 2.5f, 3.5f};
    const std::string good = binary_payload([&](auto& ar) { detail::archive_field(ar, "values", values); });
    std::vector<float> back;
    read_binary(good, [&](auto& ar) { detail::archive_field(ar, "values", back); });
    CHECK(back == values);
    for (const std::uint64_t huge : {std::uint64_t{1} << 40, std::uint64_t{1} << 62, ~std::uint64_t{0}, std::uint64_t{4096}}) {
      const std::string bad = patch_u64(good, 3, huge, 30);
      std::vector<float> target = {9.0f};
      CHECK_THROWS_WITH_AS(read_binary(bad, [&](auto& ar) { detail::archive_field(ar, "values", target); }),
                           doctest::Contains("field 'values' claims"), model_format_error);
    }
  }
  SUBCASE("a string") {
    std::string name = "CORUÑA, A";
    const std::string good = binary_payload([&](auto& ar) { detail::archive_field(ar, "name", name); });
    std::string back;
    read_binary(good, [&](auto& ar) { detail::archive_field(ar, "name", back); });
    CHECK(back == name);
    const std::string bad = patch_u64(good, name.size(), std::uint64_t{0x560000000003}, 30);
    CHECK_THROWS_WITH_AS(read_binary(bad, [&](auto& ar) { detail::archive_field(ar, "name", back); }),
                         doctest::Contains("field 'name' claims"), model_format_error);
  }
  SUBCASE("counts share one budget for the whole payload") {
    // 40 floats, then 7: about 230 bytes. After the first vector 40 elements are charged, so a
    // second count a little below the payload size (which a per-vector bound would allow) is
    // refused before its vector is allocated.
    std::vector<float> first(40, 0.25f), second(7, 0.5f);
    const std::string good = binary_payload([&](auto& ar) {
      detail::archive_field(ar, "first", first);
      detail::archive_field(ar, "second", second);
    });
    const std::uint64_t claim = good.size() - 20;
    REQUIRE(claim > good.size() - 40);
    const std::string bad = patch_u64(good, 7, claim, good.size() - 8 - 7 * sizeof(float));
    std::vector<float> a, b;
    CHECK_THROWS_WITH_AS(read_binary(bad,
                                     [&](auto& ar) {
                                       detail::archive_field(ar, "first", a);
                                       detail::archive_field(ar, "second", b);
                                     }),
                         doctest::Contains("field 'second' claims"), model_format_error);
    CHECK(a == first);
  }
  SUBCASE("a whole model file with a crafted count (valid checksum)") {
    const auto encoder = fixture_one_hot();
    const std::string payload = payload_of_file(file_of(encoder, ArchiveFormat::binary));
    // The first string of the payload: a length n in [1, 32] followed by n letters.
    std::string bad = payload;
    std::size_t at = std::string::npos;
    for (std::size_t k = 0; k + 8 < bad.size() && at == std::string::npos; ++k) {
      std::uint64_t n = 0;
      std::memcpy(&n, bad.data() + k, 8);
      if (n == 0 || n > 32 || k + 8 + n > bad.size()) continue;
      const bool letters = std::all_of(bad.begin() + static_cast<std::ptrdiff_t>(k + 8),
                                       bad.begin() + static_cast<std::ptrdiff_t>(k + 8 + n),
                                       [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; });
      if (letters && bad.compare(k + 8, 22, "serialization::archive") != 0) at = k;
    }
    REQUIRE(at != std::string::npos);
    const std::uint64_t huge = std::uint64_t{1} << 44;
    std::memcpy(bad.data() + at, &huge, 8);
    std::string message;
    CHECK(refused_cleanly(encoder, wrap<features::OneHotEncoder>(bad, ArchiveFormat::binary), &message));
    CHECK(message.find("claims") != std::string::npos);
  }
}

TEST_CASE("model files: XML archives with a foreign closing tag or none are handled") {
  const auto model = fixture_als_float();
  const std::string payload = payload_of_file(file_of(model, ArchiveFormat::xml));
  SUBCASE("a closing tag longer than the element's name (Boost 1.74 over-read it)") {
    const std::string from = "</factors>";
    const std::size_t at = payload.find(from);
    REQUIRE(at != std::string::npos);
    std::string odd = payload;
    odd.replace(at, from.size(), "</factors_with_a_much_longer_name_than_any_name_in_the_archive>");
    // Tags carry no data: the values are read in order, so the model loads unchanged (or is refused).
    als::ImplicitALS<float> loaded;
    std::istringstream in(wrap<als::ImplicitALS<float>>(odd, ArchiveFormat::xml), std::ios::binary);
    try {
      load(loaded, in, "test");
      CHECK(saved(loaded, ArchiveFormat::binary) == saved(model, ArchiveFormat::binary));
    } catch (const model_format_error&) {
      CHECK_FALSE(loaded.is_fitted());
    }
  }
  SUBCASE("an archive cut before its closing tag (Boost threw from a destructor: terminate)") {
    const std::size_t end = payload.rfind("</boost_serialization>");
    REQUIRE(end != std::string::npos);
    for (const std::size_t cut : {end, end + 2, payload.rfind('>', end - 1) + 1}) {
      std::string message;
      CHECK(refused_cleanly(model, wrap<als::ImplicitALS<float>>(payload.substr(0, cut), ArchiveFormat::xml), &message));
    }
  }
}
