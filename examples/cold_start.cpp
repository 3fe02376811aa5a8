// Cold start: recommend products to customers who hold nothing yet, from their demographics.
// Encodes age, income (sometimes missing), segment and channel, clusters the existing customers
// with k-means, and scores each product by how many of a new customer's look-alikes hold it.
// Compares with plain popularity on held-out customers.
//
//   cold-start [--customers 100000] [--k 24] [--threads 0] [--seed 5]

#include <recmix/io/serialization.hpp>
#include <recmix/recmix.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace {

struct Args {
  recmix::Index customers = 100000;
  recmix::Index k = 24;
  int threads = 0;
  std::uint64_t seed = 5;
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
    if (flag == "--customers" && v >= 100) a.customers = static_cast<recmix::Index>(v);
    else if (flag == "--k" && v >= 1) a.k = static_cast<recmix::Index>(v);
    else if (flag == "--threads" && v >= 0) a.threads = static_cast<int>(v);
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(v);
    else {
      std::cerr << "bad option " << flag << ' ' << argv[i]
                << "\nusage: cold-start [--customers N>=100] [--k K>=1] [--threads T>=0] [--seed S]\n";
      std::exit(2);
    }
  }
  return a;
}

// Generated customers: demographics that matter for what they hold.
struct Customers {
  recmix::RowMatrixXf numeric;          // age, income (NaN = missing)
  std::vector<std::string> segment;     // "01 - TOP", "02 - PARTICULARES", "03 - UNIVERSITARIO"
  std::vector<std::string> channel;     // a few common channels and a long tail
  recmix::InteractionMatrix holdings;   // customers x 8 products
};

Customers generate(const Args& a) {
  constexpr recmix::Index kProducts = 8;
  recmix::Rng rng(a.seed);
  Customers c;
  c.numeric.resize(a.customers, 2);
  std::vector<recmix::Index> users, items;
  for (recmix::Index u = 0; u < a.customers; ++u) {
    const double r = rng.uniform();
    const int segment = r < 0.05 ? 0 : r < 0.65 ? 1 : 2;
    const double age = segment == 2 ? 20 + 5 * rng.uniform() : 30 + 40 * rng.uniform();
    const double income = std::exp(11.0 + (segment == 0 ? 1.0 : 0.0) + 0.4 * rng.normal());
    c.numeric(u, 0) = static_cast<float>(age);
    c.numeric(u, 1) = rng.uniform() < 0.15 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(income);
    c.segment.push_back(segment == 0 ? "01 - TOP" : segment == 1 ? "02 - PARTICULARES" : "03 - UNIVERSITARIO");
    const double ch = rng.uniform();
    c.channel.push_back(ch < 0.4 ? "KHE" : ch < 0.7 ? "KAT" : ch < 0.9 ? "KFC" : "K" + std::to_string(rng.below(60)));
    for (recmix::Index p = 0; p < kProducts; ++p) {
      double prob = p == 0 ? 0.7 : 0.03;
      if (segment == 0 && (p == 1 || p == 2)) prob = 0.5;     // wealthy: funds, securities
      if (segment == 2 && p == 3) prob = 0.4;                 // students: junior account
      if (age > 55 && p == 4) prob = 0.35;                    // pensions
      if (segment == 1 && age < 45 && p == 5) prob = 0.3;     // payroll
      if (rng.uniform() < prob) {
        users.push_back(u);
        items.push_back(p);
      }
    }
  }
  c.holdings = recmix::InteractionMatrix::from_triplets(a.customers, kProducts, users, items,
                                                        std::vector<float>(users.size(), 1.0f));
  return c;
}

}  // namespace

int main(int argc, char** argv) try {
  namespace rf = recmix::features;
  using recmix::metrics::Metric;
  const Args args = parse(argc, argv);
  const Customers all = generate(args);

  // 1. The first 80% are known customers; the rest arrive with demographics only.
  const recmix::Index n_train = args.customers * 4 / 5, n_new = args.customers - n_train;
  std::vector<recmix::Index> train_rows(static_cast<std::size_t>(n_train)), new_rows(static_cast<std::size_t>(n_new));
  std::iota(train_rows.begin(), train_rows.end(), 0);
  std::iota(new_rows.begin(), new_rows.end(), n_train);
  const recmix::InteractionMatrix train = all.holdings.select_rows(train_rows);
  const recmix::InteractionMatrix truth = all.holdings.select_rows(new_rows);
  auto part = [](const std::vector<std::string>& v, recmix::Index b, recmix::Index e) {
    return std::vector<std::string>(v.begin() + b, v.begin() + e);
  };

  // 2. Features: scaled numbers (missing income -> the mean) and one-hot categories.
  rf::StandardScaler scaler({.missing = rf::MissingPolicy::impute_mean});
  rf::OneHotEncoder onehot({.unknown = rf::UnknownPolicy::infrequent, .min_frequency = 200});
  const auto seg_train = part(all.segment, 0, n_train), seg_new = part(all.segment, n_train, args.customers);
  const auto ch_train = part(all.channel, 0, n_train), ch_new = part(all.channel, n_train, args.customers);
  const recmix::RowMatrixXf X_train = rf::hstack(
      {scaler.fit_transform(all.numeric.topRows(n_train)), onehot.fit_transform({{"segment", seg_train}, {"channel", ch_train}})});
  const recmix::RowMatrixXf X_new = rf::hstack(
      {scaler.transform(all.numeric.bottomRows(n_new)), onehot.transform({{"segment", seg_new}, {"channel", ch_new}})});
  std::cout << "features: " << X_train.cols() << " columns (2 scaled, " << onehot.width() << " one-hot)\n";

  // 3. Clusters of known customers, and what each cluster holds.
  recmix::cluster::ClusterRecommender clusters({.kmeans = {.k = args.k, .seed = args.seed, .threads = args.threads}});
  const recmix::cluster::KMeansReport report = clusters.fit(X_train, train);
  std::printf("k-means: k = %d, %d iterations, inertia %.1f, seeding %.3f s, fit %.3f s\n", args.k, report.iterations,
              report.inertia, report.init_seconds, report.seconds);

  // 4. New customers: no history, features only. Popularity for comparison.
  std::vector<recmix::Index> unknown(static_cast<std::size_t>(n_new), recmix::kNewUser);
  const recmix::UserBatch batch(unknown, nullptr, recmix::HistoryRows::aligned, X_new);
  recmix::RowMatrixXf popular(1, train.cols());
  popular.setZero();
  for (recmix::Index i : train.indices()) popular(0, i) += 1.0f;
  const recmix::RowMatrixXf popular_scores = popular.replicate(n_new, 1);

  const std::vector<Metric> metrics = {Metric::map, Metric::ndcg, Metric::recall};
  const std::vector<recmix::Index> ks = {3};
  const auto by_cluster = recmix::metrics::evaluate(clusters, batch, truth, metrics, ks, {.threads = args.threads});
  const auto by_popularity = recmix::metrics::evaluate_scores(popular_scores, truth, metrics, ks, {.threads = args.threads});
  std::printf("%-12s %10s %10s %10s\n", "new users", "MAP@3", "NDCG@3", "recall@3");
  std::printf("%-12s %10.4f %10.4f %10.4f\n", "popularity", by_popularity.at(Metric::map, 3), by_popularity.at(Metric::ndcg, 3),
              by_popularity.at(Metric::recall, 3));
  std::printf("%-12s %10.4f %10.4f %10.4f\n", "clusters", by_cluster.at(Metric::map, 3), by_cluster.at(Metric::ndcg, 3),
              by_cluster.at(Metric::recall, 3));

  // 5. Save and reload the whole pipeline's models.
  const auto dir = std::filesystem::temp_directory_path();
  recmix::save(scaler, dir / "cold_start.scaler");
  recmix::save(onehot, dir / "cold_start.onehot");
  recmix::save(clusters, dir / "cold_start.clusters");
  recmix::cluster::ClusterRecommender reloaded;
  recmix::load(reloaded, dir / "cold_start.clusters");
  const recmix::Recommendations a = recmix::recommend(clusters, batch, 3), b = recmix::recommend(reloaded, batch, 3);
  std::cout << "reloaded model gives the same top 3: " << (a.items == b.items ? "yes" : "NO") << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "cold-start: " << e.what() << "\n";
  return 1;
}
