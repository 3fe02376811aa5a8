// A downstream program linking recmix::serialization: saves and loads a model in memory.
#include <recmix/io/serialization.hpp>
#include <recmix/recmix.hpp>

#include <iostream>
#include <sstream>
#include <vector>

int main() {
  const std::vector<recmix::Index> users = {0, 1, 2};
  const std::vector<recmix::Index> items = {0, 1, 1};
  const std::vector<float> weights = {1, 1, 1};
  const auto m = recmix::InteractionMatrix::from_triplets(3, 2, users, items, weights);
  recmix::als::ImplicitALS<float> als({.factors = 2, .iterations = 2, .threads = 1});
  als.fit(m);
  std::stringstream buffer;
  recmix::save(als, buffer);
  recmix::als::ImplicitALS<float> restored;
  recmix::load(restored, buffer);
  const bool same = restored.item_factors() == als.item_factors();
  std::cout << "recmix " << recmix::version_string << " save/load: " << (same ? "identical" : "DIFFERENT") << '\n';
  return same ? 0 : 1;
}
