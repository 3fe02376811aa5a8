// Fuzz target: loading KMeans<float>, KMeans<double> and ClusterRecommender models.
#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace {

template <class KM>
void use_kmeans(const KM& m) {
  using S = typename KM::scalar_type;
  const Eigen::Index d = m.num_features();
  if (d <= 0 || d > 4096) return;
  const recmix::RowMatrixXf x = recmix::fuzz::probe_rows(d).topRows(2);
  (void)m.predict(x.cast<S>());
  (void)m.transform(x.cast<S>());
}

void use_clusters(const recmix::cluster::ClusterRecommender& m) {
  recmix::fuzz::score_batch(m, 0, m.kmeans().num_features());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t selector = 0;
  std::string body;
  if (!recmix::fuzz::split_input(data, size, selector, body)) return 0;
  using namespace recmix;
  switch ((selector >> 2) % 3) {
    case 0: fuzz::load_and_use<cluster::KMeans<float>>(selector, body, use_kmeans<cluster::KMeans<float>>); break;
    case 1: fuzz::load_and_use<cluster::KMeans<double>>(selector, body, use_kmeans<cluster::KMeans<double>>); break;
    default: fuzz::load_and_use<cluster::ClusterRecommender>(selector, body, use_clusters); break;
  }
  return 0;
}
