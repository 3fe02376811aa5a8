// Splitting and scoring a recommender the way Kaggle's Santander competition did: from a panel of
// monthly product snapshots, train on the months before the last one, test on the products each
// customer *added* in the last month, and compare implicit ALS with a popularity baseline on
// MAP@7 (all customers, Kaggle's definition) and NDCG@3 (customers who added something).
//
//   evaluate-quickstart [--customers 50000] [--months 12] [--threads 0] [--seed 3]

#include <recmix/recmix.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace {

struct Args {
  recmix::Index customers = 50000;
  recmix::Index months = 12;
  int threads = 0;
  std::uint64_t seed = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "missing value for " << flag << "\n";
      std::exit(2);
    }
    const long long v = std::atoll(argv[++i]);
    if (flag == "--customers" && v > 0) a.customers = static_cast<recmix::Index>(v);
    else if (flag == "--months" && v >= 2) a.months = static_cast<recmix::Index>(v);
    else if (flag == "--threads" && v >= 0) a.threads = static_cast<int>(v);
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(v);
    else {
      std::cerr << "bad option " << flag << ' ' << argv[i]
                << "\nusage: evaluate-quickstart [--customers N>0] [--months M>=2] [--threads T>=0] [--seed S]\n";
      std::exit(2);
    }
  }
  return a;
}

// A toy monthly panel (months x customers x products): each customer has a taste for each
// product; every month a product not held is added with a probability that grows with taste
// and popularity, and a held one is dropped now and then.
xt::xtensor<std::uint8_t, 3> make_panel(const Args& a, recmix::Index products) {
  recmix::Rng rng(a.seed);
  xt::xtensor<std::uint8_t, 3> panel = xt::zeros<std::uint8_t>(
      {static_cast<std::size_t>(a.months), static_cast<std::size_t>(a.customers), static_cast<std::size_t>(products)});
  std::vector<double> popularity(static_cast<std::size_t>(products));
  for (recmix::Index p = 0; p < products; ++p) popularity[static_cast<std::size_t>(p)] = 0.2 / (1.0 + p);
  for (recmix::Index c = 0; c < a.customers; ++c) {
    const int segment = static_cast<int>(rng.below(4));  // customers of a segment like the same products
    for (recmix::Index p = 0; p < products; ++p) {
      const double taste = (p % 4 == segment ? 6.0 : 0.3) * std::exp(0.5 * rng.normal());
      const double add = std::min(0.5, popularity[static_cast<std::size_t>(p)] * taste);
      bool held = rng.uniform() < add * 3;
      for (recmix::Index m = 0; m < a.months; ++m) {
        if (m > 0) held = held ? rng.uniform() > 0.02 : rng.uniform() < add * 0.2;
        panel(static_cast<std::size_t>(m), static_cast<std::size_t>(c), static_cast<std::size_t>(p)) = held ? 1 : 0;
      }
    }
  }
  return panel;
}

// The baseline every table needs: each product scored by how many customers hold it.
class Popularity {
 public:
  explicit Popularity(const recmix::InteractionMatrix& train) : counts_(train.cols(), 0.0f) {
    for (recmix::Index i : train.indices()) counts_[static_cast<std::size_t>(i)] += 1.0f;
  }
  [[nodiscard]] recmix::Index num_items() const { return static_cast<recmix::Index>(counts_.size()); }
  void score(const recmix::UserBatch& batch, recmix::ScoreBlock out) const {
    for (recmix::Index r = 0; r < batch.size(); ++r) {
      for (recmix::Index i = 0; i < num_items(); ++i) out(r, i) = counts_[static_cast<std::size_t>(i)];
    }
  }
  void can_score(const recmix::UserBatch&, std::span<std::uint8_t> mask) const { std::fill(mask.begin(), mask.end(), 1); }

 private:
  std::vector<float> counts_;
};
static_assert(recmix::Recommender<Popularity>);

}  // namespace

int main(int argc, char** argv) try {
  using recmix::metrics::Metric;
  const Args args = parse(argc, argv);
  constexpr recmix::Index kProducts = 24;

  // 1. Panel and the Kaggle-style split: test = products added in the last month.
  const auto panel = make_panel(args, kProducts);
  std::vector<recmix::Timestamp> month_times(static_cast<std::size_t>(args.months));
  std::iota(month_times.begin(), month_times.end(), 1);
  const auto split = recmix::split::snapshot_split(panel, month_times, {.test_month = args.months - 1});
  std::cout << "split: " << split.report.describe() << "\n";

  // 2. Train: months each product was held. Truth: what each customer added.
  const recmix::InteractionMatrix train = split.train.to_matrix();
  const recmix::InteractionMatrix added = split.test.to_binary_matrix();
  // History to exclude: what the customer held the month before the test month.
  recmix::InteractionLog last_month_log(args.customers, kProducts);
  for (std::size_t e = 0; e < split.train.size(); ++e) {
    if (split.train.times()[e] == month_times[static_cast<std::size_t>(args.months - 2)]) {
      last_month_log.add(split.train.users()[e], split.train.items()[e], split.train.times()[e]);
    }
  }
  const recmix::InteractionMatrix last_month = last_month_log.to_binary_matrix();

  recmix::als::ImplicitALS<float> als({.factors = 16, .iterations = 10, .threads = args.threads, .seed = args.seed});
  als.fit(train);
  const Popularity popularity(train);

  // 3. Evaluate both on every customer (one batch; history = last month's holdings).
  std::vector<recmix::Index> customers(static_cast<std::size_t>(args.customers));
  std::iota(customers.begin(), customers.end(), 0);
  const recmix::UserBatch batch(customers, &last_month, recmix::HistoryRows::by_user_id);
  const std::vector<Metric> metrics = {Metric::map, Metric::ndcg, Metric::recall, Metric::coverage};
  const std::vector<recmix::Index> ks = {3, 7};
  const recmix::metrics::EvaluateOptions kaggle{.ranking = {.users = recmix::metrics::UserAveraging::all_users},
                                                .threads = args.threads};
  const recmix::metrics::EvaluateOptions active{.threads = args.threads};

  std::printf("%-12s %12s %12s %12s %12s\n", "model", "MAP@7 (all)", "MAP@7", "NDCG@3", "recall@7");
  auto row = [&](const char* name, const auto& model) {
    const auto all = recmix::metrics::evaluate(model, batch, added, metrics, ks, kaggle);
    const auto with = recmix::metrics::evaluate(model, batch, added, metrics, ks, active);
    std::printf("%-12s %12.5f %12.5f %12.5f %12.5f\n", name, all.at(Metric::map, 7), with.at(Metric::map, 7),
                with.at(Metric::ndcg, 3), with.at(Metric::recall, 7));
  };
  row("popularity", popularity);
  row("ALS", als);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "evaluate-quickstart: " << e.what() << "\n";
  return 1;
}
