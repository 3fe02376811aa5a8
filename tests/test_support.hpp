#pragma once
// Shared helpers of the doctest suites.

#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/types.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace recmix::test {

/// Random sparse matrix with weights in [1, 5); every cell kept with probability `density`. A
/// kept cell becomes an explicit zero with probability `zeros`; row `empty_row` (if >= 0) is left
/// empty.
inline InteractionMatrix random_matrix(Index rows, Index cols, double density, std::uint32_t seed, double zeros = 0.0,
                                       Index empty_row = -1) {
  std::mt19937 rng(seed);
  std::bernoulli_distribution keep(density);
  std::bernoulli_distribution zero(zeros);
  std::uniform_real_distribution<float> weight(1.0f, 5.0f);
  std::vector<Index> u, i;
  std::vector<float> w;
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) {
      if (r == empty_row || !keep(rng)) continue;
      u.push_back(r);
      i.push_back(c);
      w.push_back(zeros > 0.0 && zero(rng) ? 0.0f : weight(rng));
    }
  }
  return InteractionMatrix::from_triplets(rows, cols, u, i, w);
}

/// A fresh directory under the system temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const char* prefix = "recmix-test") {
    std::random_device rd;
    const auto now = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (int attempt = 0;; ++attempt) {
      char name[128];
      std::snprintf(name, sizeof name, "%s-%llx-%08x", prefix, now + static_cast<unsigned long long>(attempt),
                    static_cast<unsigned>(rd()));
      path_ = std::filesystem::temp_directory_path() / name;
      if (std::filesystem::create_directory(path_)) break;
      REQUIRE(attempt < 100);
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// The bytes of a file (REQUIRE that it opens).
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes `bytes` to a file, replacing it (REQUIRE that it succeeds).
inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  REQUIRE(out.good());
}

/// Names of the entries of a directory, sorted.
inline std::vector<std::string> listing(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

/// Whether a directory holds a temporary file (".tmp" in its name) that an atomic write left.
inline bool has_temporaries(const std::filesystem::path& dir) {
  const auto names = listing(dir);
  return std::any_of(names.begin(), names.end(), [](const std::string& n) { return n.find(".tmp") != std::string::npos; });
}

}  // namespace recmix::test
