// Fuzz target: loading PopularityRecommender and a HybridBlender of popularity, ALS and clusters.
#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace {

using namespace recmix;

void use_popularity(const blend::PopularityRecommender& m) {
  fuzz::score_batch(m, 0, std::max<Index>(fuzz::kFeatures, m.options().segment_feature + 1));
}

void use_blender(const fuzz::Blender& m) { fuzz::score_batch(m, m.component<1>().num_users(), fuzz::kFeatures); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t selector = 0;
  std::string body;
  if (!fuzz::split_input(data, size, selector, body)) return 0;
  switch ((selector >> 2) % 2) {
    case 0: fuzz::load_and_use<blend::PopularityRecommender>(selector, body, use_popularity); break;
    default: fuzz::load_and_use<fuzz::Blender>(selector, body, use_blender); break;
  }
  return 0;
}
