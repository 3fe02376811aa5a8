// Fuzz target: loading ImplicitALS<float> and ImplicitALS<double> models (see fuzz_models.hpp).
#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace {

template <class ALS>
void use(const ALS& m) {
  recmix::fuzz::score_batch(m, m.num_users(), 0);
  if (m.num_items() > 0) { const std::vector<recmix::Index> items = {0}; (void)m.similar_items(items, 3); }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t selector = 0;
  std::string body;
  if (!recmix::fuzz::split_input(data, size, selector, body)) return 0;
  switch ((selector >> 2) % 2) {
    case 0: recmix::fuzz::load_and_use<recmix::fuzz::ALSf>(selector, body, use<recmix::fuzz::ALSf>); break;
    default: recmix::fuzz::load_and_use<recmix::fuzz::ALSd>(selector, body, use<recmix::fuzz::ALSd>); break;
  }
  return 0;
}
