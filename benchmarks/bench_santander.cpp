// Google Benchmark micro-benchmarks of the Santander feature derivations
// (recmix/datasets/santander_features.hpp) on a synthetic panel built directly in memory:
// 100,000 customers x 17 months, about 5% of the 24 products held (customers add and drop
// products month to month), 92% present from the first month, the rest joining later, random
// demographics (a few values missing). Seeded with recmix::Rng(42), so every run sees the same data.
//
//   tree_features/threads         the trees' feature table for the last month (T = 16), one row
//                                 per customer present at T; items/s = rows
//   product_history/threads       since-added / since-dropped / months-held before T for every
//                                 customer; items/s = customer-months read (customers x T)
//   months_owned                  customers x 24 months-owned counts over months 0 .. T-1;
//                                 items/s = customer-months read
//   additions                     the added-at-T target matrix; items/s = customers
//   demographic_transform         DemographicEncoder::transform (fitted at T-1) at T for the
//                                 customers present; items/s = rows
//   parse/threads                 santander::parse of generated text (santander_generate.hpp,
//                                 20,000 customers x 17 months); bytes/s = input bytes,
//                                 items/s = rows
// with threads in {1, 2}.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>
#include <recmix/datasets/santander_features.hpp>
#include <recmix/datasets/santander_generate.hpp>
#include <recmix/datasets/santander_load.hpp>
#include <recmix/datasets/santander_schema.hpp>

namespace {

namespace sd = recmix::datasets::santander;
using recmix::Index;

constexpr std::size_t kCustomers = 100000;
constexpr std::size_t kMonths = 17;
constexpr Index kLast = static_cast<Index>(kMonths) - 1;

/// Category lists (sorted byte-wise, as Dataset::categories requires) for every Categorical.
std::array<std::vector<std::string>, sd::kNumCategorical> make_categories() {
  std::array<std::vector<std::string>, sd::kNumCategorical> c;
  auto set = [&](sd::Categorical what, std::vector<std::string> values) {
    std::sort(values.begin(), values.end());
    c[static_cast<std::size_t>(what)] = std::move(values);
  };
  set(sd::Categorical::employee, {"A", "B", "F", "N", "S"});
  set(sd::Categorical::country, {"AR", "DE", "ES", "FR", "GB", "IT", "MX", "PT", "US", "VE"});
  set(sd::Categorical::sex, {"H", "V"});
  set(sd::Categorical::new_customer, {"0", "1"});
  set(sd::Categorical::relation, {"1", "99"});
  set(sd::Categorical::relation_month, {"1", "2", "3", "4", "P"});
  set(sd::Categorical::relation_type, {"A", "I", "N", "P", "R"});
  set(sd::Categorical::resident, {"N", "S"});
  set(sd::Categorical::foreigner, {"N", "S"});
  set(sd::Categorical::spouse, {"N", "S"});
  std::vector<std::string> channels;
  for (char a = 'A'; a <= 'Z' && channels.size() < 40; ++a) {
    channels.push_back(std::string("KA") + a);
    channels.push_back(std::string("KF") + a);
  }
  set(sd::Categorical::channel, channels);
  set(sd::Categorical::deceased, {"N", "S"});
  set(sd::Categorical::address_type, {"1"});
  std::vector<std::string> codes, provinces;
  for (int p = 1; p <= 52; ++p) {
    codes.push_back(std::to_string(p));
    provinces.push_back("PROVINCE " + std::to_string(p));
  }
  set(sd::Categorical::province_code, codes);
  set(sd::Categorical::province, provinces);
  set(sd::Categorical::active, {"0", "1"});
  set(sd::Categorical::segment, {"01 - TOP", "02 - PARTICULARES", "03 - UNIVERSITARIO"});
  return c;
}

/// The synthetic panel (built once, on first use).
const sd::Dataset& panel() {
  static const sd::Dataset d = [] {
    recmix::Rng rng(42);
    sd::Dataset data;
    const int first = 2015 * 12;
    for (std::size_t m = 0; m < kMonths; ++m) {
      data.month_numbers.push_back(first + static_cast<int>(m));
      data.months.push_back(sd::month_date(first + static_cast<int>(m)));
    }
    data.customers.resize(kCustomers);
    for (std::size_t c = 0; c < kCustomers; ++c) data.customers[c] = 15889 + 7 * static_cast<std::int64_t>(c);
    data.categories = make_categories();

    data.present = xt::xtensor<std::uint8_t, 2>::from_shape({kMonths, kCustomers});
    data.products = xt::xtensor<std::uint8_t, 3>::from_shape({kMonths, kCustomers, sd::kNumProducts});
    data.numeric = xt::xtensor<float, 3>::from_shape({kMonths, kCustomers, sd::kNumNumeric});
    data.categorical = xt::xtensor<std::uint8_t, 3>::from_shape({kMonths, kCustomers, sd::kNumCategorical});
    std::fill(data.present.begin(), data.present.end(), std::uint8_t{0});
    std::fill(data.products.begin(), data.products.end(), std::uint8_t{0});
    std::fill(data.numeric.begin(), data.numeric.end(), std::numeric_limits<float>::quiet_NaN());
    std::fill(data.categorical.begin(), data.categorical.end(), std::uint8_t{0});

    // Product prevalence: the current account common, the rest rare; about 5% overall.
    std::array<double, sd::kNumProducts> start{};
    for (std::size_t p = 0; p < sd::kNumProducts; ++p) start[p] = p == 2 ? 0.55 : 0.005 + 0.05 * rng.uniform();
    constexpr double kAdd = 0.002, kDrop = 0.02;

    std::array<std::uint8_t, sd::kNumProducts> held{};
    std::array<std::uint8_t, sd::kNumCategorical> codes{};
    for (std::size_t c = 0; c < kCustomers; ++c) {
      const std::size_t joins = rng.uniform() < 0.92 ? 0 : 1 + rng.below(kMonths - 1);
      for (std::size_t p = 0; p < sd::kNumProducts; ++p) held[p] = rng.uniform() < start[p] ? 1 : 0;
      const float age = static_cast<float>(18 + rng.below(70));
      const float income = rng.uniform() < 0.2 ? std::numeric_limits<float>::quiet_NaN()
                                                : static_cast<float>(std::exp(11.3 + 0.6 * rng.normal()));
      const int joined = first + static_cast<int>(joins) - static_cast<int>(rng.below(240));
      for (std::size_t k = 0; k < sd::kNumCategorical; ++k) {
        const std::size_t n = data.categories[k].size();
        // A few percent missing; otherwise skewed towards the first categories.
        codes[k] = rng.uniform() < 0.02 ? 0 : static_cast<std::uint8_t>(1 + std::min(n - 1, rng.below(n) * rng.below(n) / n));
      }
      for (std::size_t m = joins; m < kMonths; ++m) {
        data.present(m, c) = 1;
        if (m > joins) {
          for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
            if (held[p] != 0 ? rng.uniform() < kDrop : rng.uniform() < kAdd) held[p] ^= 1;
          }
        }
        std::copy(held.begin(), held.end(), &data.products(m, c, 0));
        data.numeric(m, c, static_cast<std::size_t>(sd::Numeric::age)) = age;
        data.numeric(m, c, static_cast<std::size_t>(sd::Numeric::seniority)) =
            static_cast<float>(data.month_numbers[m] - joined);
        data.numeric(m, c, static_cast<std::size_t>(sd::Numeric::income)) = income;
        data.numeric(m, c, static_cast<std::size_t>(sd::Numeric::joined)) = static_cast<float>(joined);
        std::copy(codes.begin(), codes.end(), &data.categorical(m, c, 0));
      }
    }
    return data;
  }();
  return d;
}

const std::vector<Index>& present_last() {
  static const std::vector<Index> who = sd::customers_present(panel(), kLast);
  return who;
}

const std::vector<Index>& all_customers() {
  static const std::vector<Index> all = [] {
    std::vector<Index> v(kCustomers);
    for (std::size_t c = 0; c < kCustomers; ++c) v[c] = static_cast<Index>(c);
    return v;
  }();
  return all;
}

void tree_features(benchmark::State& state) {
  const sd::Dataset& d = panel();
  const auto& who = present_last();
  sd::FeatureOptions o;
  o.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    sd::FeatureTable t = sd::tree_features(d, kLast, who, o);
    benchmark::DoNotOptimize(t.X.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(who.size()));
  state.counters["rows"] = static_cast<double>(who.size());
  state.counters["columns"] = static_cast<double>(sd::tree_features(d, kLast, std::span(who).first(1), o).X.cols());
}
BENCHMARK(tree_features)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void product_history(benchmark::State& state) {
  const sd::Dataset& d = panel();
  const auto& all = all_customers();
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    sd::ProductHistory h = sd::product_history(d, kLast, all, threads);
    benchmark::DoNotOptimize(h.months_held.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(all.size()) * kLast);
}
BENCHMARK(product_history)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void months_owned(benchmark::State& state) {
  const sd::Dataset& d = panel();
  std::int64_t nnz = 0;
  for (auto _ : state) {
    recmix::InteractionMatrix m = sd::months_owned(d, 0, kLast - 1);
    nnz = m.nnz();
    benchmark::DoNotOptimize(nnz);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kCustomers) * kLast);
  state.counters["nnz"] = static_cast<double>(nnz);
}
BENCHMARK(months_owned)->Unit(benchmark::kMillisecond);

void additions(benchmark::State& state) {
  const sd::Dataset& d = panel();
  std::int64_t nnz = 0;
  for (auto _ : state) {
    recmix::InteractionMatrix m = sd::additions(d, kLast);
    nnz = m.nnz();
    benchmark::DoNotOptimize(nnz);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kCustomers));
  state.counters["nnz"] = static_cast<double>(nnz);
}
BENCHMARK(additions)->Unit(benchmark::kMillisecond);

void demographic_transform(benchmark::State& state) {
  const sd::Dataset& d = panel();
  const auto& who = present_last();
  sd::DemographicEncoder encoder;
  encoder.fit(d, kLast - 1, sd::customers_present(d, kLast - 1));
  for (auto _ : state) {
    recmix::RowMatrixXf x = encoder.transform(d, kLast, who);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(who.size()));
  state.counters["width"] = static_cast<double>(encoder.width());
}
BENCHMARK(demographic_transform)->Unit(benchmark::kMillisecond);

/// Generated train_ver2.csv text, 20,000 customers x 17 months (built once).
const std::string& generated_text() {
  static const std::string text = [] {
    sd::GenerateOptions o;
    o.customers = 20000;
    o.months = 17;
    o.seed = 42;
    std::ostringstream out;
    sd::generate(o, out);
    return std::move(out).str();
  }();
  return text;
}

void parse(benchmark::State& state) {
  const std::string& text = generated_text();
  sd::LoadOptions o;
  o.threads = static_cast<int>(state.range(0));
  o.block_size = std::size_t{4} << 20;  // several blocks, so two threads have work to share
  std::size_t rows = 0;
  for (auto _ : state) {
    sd::Dataset d = sd::parse(text, o);
    rows = d.report.rows;
    benchmark::DoNotOptimize(d.products.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows));
  state.counters["rows"] = static_cast<double>(rows);
  state.counters["MB"] = static_cast<double>(text.size()) / 1e6;
}
BENCHMARK(parse)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
