#pragma once
/// @file
/// random_split: each event goes to test with a fixed probability, decided by a hash of
/// (seed, position) — the same split on every machine and thread count.
///
/// @code
/// auto s = recmix::split::random_split(log, {.test_fraction = 0.2, .seed = 7});
/// @endcode

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/interaction_log.hpp"
#include "recmix/core/random.hpp"
#include "recmix/split/split_result.hpp"

namespace recmix::split {

struct RandomSplitOptions {
  /// Probability that an event goes to test, in [0, 1].
  double test_fraction = 0.2;
  std::uint64_t seed = 42;
  TestFilter filter = {};
};

inline Split random_split(const InteractionLog& log, const RandomSplitOptions& options = {}) {
  if (!(options.test_fraction >= 0.0 && options.test_fraction <= 1.0)) {
    throw invalid_argument("random_split: test_fraction must be in [0, 1], got " + std::to_string(options.test_fraction));
  }
  std::vector<std::size_t> train, test;
  for (std::size_t e = 0; e < log.size(); ++e) {
    (hash_uniform(options.seed, e) < options.test_fraction ? test : train).push_back(e);
  }
  return detail::finish_split(log, train, test, options.filter);
}

}  // namespace recmix::split
