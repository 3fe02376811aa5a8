// Fuzz target: loading MultiLabelGBDT, ClassifierRecommender and FeatureColumns<ClassifierRecommender>.
#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace {

using namespace recmix;

void use_gbdt(const trees::MultiLabelGBDT& m) {
  const Index d = m.num_features();
  if (d <= 0 || d > 4096) return;
  const RowMatrixXf x = fuzz::probe_rows(d);
  (void)m.predict_proba(x);
  (void)m.predict_margin(x);
}

void use_classifier(const trees::ClassifierRecommender& m) { fuzz::score_batch(m, 0, m.model().num_features()); }

void use_trees(const fuzz::Trees& m) { fuzz::score_batch(m, 0, m.first() + m.count()); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t selector = 0;
  std::string body;
  if (!fuzz::split_input(data, size, selector, body)) return 0;
  switch ((selector >> 2) % 3) {
    case 0: fuzz::load_and_use<trees::MultiLabelGBDT>(selector, body, use_gbdt); break;
    case 1: fuzz::load_and_use<trees::ClassifierRecommender>(selector, body, use_classifier); break;
    default: fuzz::load_and_use<fuzz::Trees>(selector, body, use_trees); break;
  }
  return 0;
}
