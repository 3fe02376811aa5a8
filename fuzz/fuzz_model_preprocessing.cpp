// Fuzz target: loading the preprocessing models: StandardScaler, OneHotEncoder, OrdinalEncoder,
// FeatureBinner and the Santander DemographicEncoder.
#include "fixtures.hpp"
#include "fuzz_models.hpp"

namespace {

using namespace recmix;

void use_scaler(const features::StandardScaler& m) {
  const Index d = m.num_features();
  if (d <= 0 || d > 4096) return;
  const RowMatrixXf x = fuzz::probe_rows(d);
  const RowMatrixXf z = m.transform(x);
  (void)m.inverse_transform(z);
}

template <class Encoder>
void use_encoder(const Encoder& m) {
  // Columns named as the loaded model names them, filled with the fixture's values.
  const auto& names = m.column_names();
  if (names.size() > 64) return;
  features::CategoricalColumns columns;
  for (std::size_t c = 0; c < names.size(); ++c) {
    columns.emplace_back(names[c], c % 2 == 0 ? std::span<const std::string>(fuzz::fixture_sex())
                                              : std::span<const std::string>(fuzz::fixture_segment()));
  }
  (void)m.transform(columns);
}

void use_binner(const trees::FeatureBinner& m) {
  const Index d = m.num_features();
  if (d <= 0 || d > 4096) return;
  (void)m.transform(fuzz::probe_rows(d));
}

void use_demographics(const datasets::santander::DemographicEncoder& m) {
  const auto& d = fuzz::fixture_santander();
  (void)m.transform(d, static_cast<Index>(d.months.size()) - 1, fuzz::all_customers(d));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t selector = 0;
  std::string body;
  if (!fuzz::split_input(data, size, selector, body)) return 0;
  switch ((selector >> 2) % 5) {
    case 0: fuzz::load_and_use<features::StandardScaler>(selector, body, use_scaler); break;
    case 1: fuzz::load_and_use<features::OneHotEncoder>(selector, body, use_encoder<features::OneHotEncoder>); break;
    case 2: fuzz::load_and_use<features::OrdinalEncoder>(selector, body, use_encoder<features::OrdinalEncoder>); break;
    case 3: fuzz::load_and_use<trees::FeatureBinner>(selector, body, use_binner); break;
    default: fuzz::load_and_use<datasets::santander::DemographicEncoder>(selector, body, use_demographics); break;
  }
  return 0;
}
