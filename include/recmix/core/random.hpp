#pragma once
/// @file
/// The random numbers every stochastic step of recmix uses: splitmix64 (seeding, and a
/// counter-based hash for per-element decisions that must not depend on thread count) and
/// xoshiro256** streams. Never <random>'s distributions, whose output is implementation-defined,
/// so a seed gives the same result on every machine.
///
/// @code
/// recmix::Rng rng(42);
/// double u = rng.uniform();                        // [0, 1)
/// std::uint64_t i = rng.below(10);                 // 0..9
/// double v = recmix::hash_uniform(42, 1234567);    // the same value for (seed, index) anywhere
/// @endcode

#include <cmath>
#include <cstdint>

namespace recmix {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// xoshiro256** (Blackman & Vigna).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in (0, 1].
  double uniform_pos() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }
  /// Uniform integer in [0, n), n >= 1 (bias below 2^-53 * n, irrelevant here).
  std::uint64_t below(std::uint64_t n) {
    const auto k = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return k < n ? k : n - 1;
  }
  /// Standard normal (Box-Muller; the second value is discarded to keep the stream simple).
  double normal() {
    const double u1 = uniform_pos(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

/// A uniform number in [0, 1) that depends only on (seed, index): per-element random choices
/// (random_split, subsampling) that come out the same on any number of threads.
inline double hash_uniform(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t state = seed ^ (index * 0xD1B54A32D192ED03ULL);
  splitmix64(state);
  return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
}

}  // namespace recmix
