// A downstream program built against the installed recmix (find_package): fits ALS on a tiny
// matrix and recommends, using only recmix::recmix (no Boost).
#include <recmix/recmix.hpp>

#include <iostream>
#include <vector>

int main() {
  const std::vector<recmix::Index> users = {0, 0, 1, 1, 2, 3};
  const std::vector<recmix::Index> items = {0, 1, 1, 2, 2, 0};
  const std::vector<float> weights = {1, 2, 3, 1, 1, 5};
  const auto m = recmix::InteractionMatrix::from_triplets(4, 3, users, items, weights);
  recmix::als::ImplicitALS<float> als({.factors = 2, .iterations = 3, .threads = 1});
  const recmix::FitReport report = als.fit(m);
  const std::vector<recmix::Index> who = {0};
  const recmix::Recommendations top = als.recommend(who, m.select_rows(who), 1);
  std::cout << "recmix " << recmix::version_string << ": " << report.threading << ", user 0 -> item "
            << top.items(0, 0) << '\n';
  return top.items(0, 0) == 2 ? 0 : 1;  // the only item user 0 does not hold
}
