// Next-product prediction with multi-label boosted trees. Generates a small table of bank
// customers (age, income with gaps, seniority, a segment code, an acquisition channel code, and
// which of six products each held last month), learns which products they hold this month with
// one MultiLabelGBDT, compares the multi-output and one-vs-rest modes, and recommends to a few
// customers the products they do not hold yet.
//
//   gbdt-products [--customers 40000] [--threads 0] [--seed 11]

#include <recmix/io/serialization.hpp>
#include <recmix/recmix.hpp>

#include <algorithm>
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

namespace rt = recmix::trees;

constexpr recmix::Index kProducts = 6;
const char* const kProductNames[kProducts] = {"current account", "savings", "credit card", "payroll", "pension", "funds"};
// Feature columns: 4 demographics, the channel, then one "held last month" flag per product.
constexpr recmix::Index kAge = 0, kIncome = 1, kSeniority = 2, kSegment = 3, kChannel = 4, kHeld = 5;
constexpr recmix::Index kFeatures = kHeld + kProducts;

struct Args {
  recmix::Index customers = 40000;
  int threads = 0;
  std::uint64_t seed = 11;
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
    if (flag == "--customers" && v >= 1000) a.customers = static_cast<recmix::Index>(v);
    else if (flag == "--threads" && v >= 0) a.threads = static_cast<int>(v);
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(v);
    else {
      std::cerr << "bad option " << flag << ' ' << argv[i] << "\nusage: gbdt-products [--customers N>=1000] [--threads T>=0] [--seed S]\n";
      std::exit(2);
    }
  }
  return a;
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// One row of features and this month's holdings per customer. Last month's holdings depend on
// the demographics; this month keeps most of them and adds products the demographics (and the
// products already held) make likely.
void generate(const Args& a, recmix::RowMatrixXf& X, recmix::RowMatrixXf& Y) {
  recmix::Rng rng(a.seed);
  X.resize(a.customers, kFeatures);
  Y.resize(a.customers, kProducts);
  for (recmix::Index u = 0; u < a.customers; ++u) {
    const double s = rng.uniform();
    const int segment = s < 0.08 ? 0 : s < 0.7 ? 1 : 2;  // 0 = top, 1 = private, 2 = students
    const double age = segment == 2 ? 18 + 8 * rng.uniform() : 25 + 50 * rng.uniform();
    const double log_income = 10.2 + (segment == 0 ? 1.2 : 0.0) + 0.01 * std::min(age - 25, 30.0) + 0.35 * rng.normal();
    const double seniority = std::floor(std::min(age - 18, 30.0) * 12 * rng.uniform());
    const double c = rng.uniform();
    const int channel = c < 0.45 ? 0 : c < 0.75 ? 1 : c < 0.9 ? 2 : 3 + static_cast<int>(rng.below(9));
    X(u, kAge) = static_cast<float>(age);
    X(u, kIncome) = rng.uniform() < 0.12 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(std::exp(log_income));
    X(u, kSeniority) = static_cast<float>(seniority);
    X(u, kSegment) = static_cast<float>(segment);
    X(u, kChannel) = static_cast<float>(channel);

    const double rich = log_income - 10.5;
    const double tenure = seniority / 120.0;
    // Propensity (log-odds) of each product, shared by last month and this month.
    double z[kProducts];
    z[0] = 2.0;                                                                   // current account
    z[1] = -2.0 + 1.5 * rich + 0.8 * tenure;                                      // savings
    z[2] = -2.5 + 1.2 * rich + (segment == 2 ? -1.5 : 0.0) + (channel == 1 ? 0.8 : 0.0);  // credit card
    z[3] = (segment == 1 && age < 55 ? -0.5 : -3.5) + (channel == 0 ? 0.6 : 0.0);  // payroll
    z[4] = -4.0 + (age > 50 ? 2.5 + 0.8 * rich : 0.0);                            // pension
    z[5] = -3.5 + (segment == 0 ? 2.8 : 0.0) + 0.7 * rich + (channel >= 3 ? 1.0 : 0.0);   // funds
    bool held[kProducts];
    for (recmix::Index p = 0; p < kProducts; ++p) {
      held[p] = rng.uniform() < sigmoid(z[p]);
      X(u, kHeld + p) = held[p] ? 1.0F : 0.0F;
    }
    // This month: a product held stays with probability 0.96; one not held is taken up with a
    // small probability that follows the same propensity, and cross-selling: payroll brings
    // credit cards, savings bring funds.
    for (recmix::Index p = 0; p < kProducts; ++p) {
      double take_up = z[p] - 3.0;
      if (p == 2 && held[3]) take_up += 1.5;
      if (p == 5 && held[1]) take_up += 1.2;
      const double prob = held[p] ? 0.96 : sigmoid(take_up);
      Y(u, p) = rng.uniform() < prob ? 1.0F : 0.0F;
    }
  }
}

// Mean test AUC over the labels with both classes.
double mean_auc(const rt::MultiLabelGBDT& model, const recmix::RowMatrixXf& X, const recmix::RowMatrixXf& Y) {
  return recmix::metrics::roc_auc(model.predict_proba(X), Y).macro;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  recmix::RowMatrixXf X, Y;
  generate(args, X, Y);

  // 1. 60% train, 20% validation (early stopping), 20% test.
  const recmix::Index n = args.customers, n_train = n * 3 / 5, n_valid = n / 5, n_test = n - n_train - n_valid;
  const recmix::RowMatrixXf X_train = X.topRows(n_train), Y_train = Y.topRows(n_train);
  const recmix::RowMatrixXf X_valid = X.middleRows(n_train, n_valid), Y_valid = Y.middleRows(n_train, n_valid);
  const recmix::RowMatrixXf X_test = X.bottomRows(n_test), Y_test = Y.bottomRows(n_test);
  std::printf("customers: %d train, %d validation, %d test; %d features, %d products\n", n_train, n_valid, n_test, kFeatures, kProducts);
  std::printf("held this month (train):");
  for (recmix::Index p = 0; p < kProducts; ++p) std::printf(" %s %.1f%%", kProductNames[p], 100.0 * Y_train.col(p).mean());
  std::printf("\n");

  // 2. One model for the six products; the segment and channel codes are categorical.
  rt::MultiLabelGBDT::Options options{.rounds = 400,
                                      .learning_rate = 0.1,
                                      .max_depth = 5,
                                      .seed = args.seed,
                                      .categorical_features = {kSegment, kChannel},
                                      .min_category_count = 20,
                                      .threads = args.threads,
                                      .early_stopping_rounds = 20,
                                      .mode = rt::MultiLabelMode::multi_output};
  const rt::ValidationData valid{X_valid, Y_valid};
  rt::MultiLabelGBDT model(options);
  const rt::GBDTReport report = model.fit(X_train, Y_train, &valid, recmix::ProgressBar{std::cerr});
  std::printf("multi_output: %d rounds grown, best %d kept%s, validation log-loss %.4f, %.3f s (%s)\n", report.iterations,
              report.best_round, report.stopped_early ? " (stopped early)" : "",
              report.validation_loss[static_cast<std::size_t>(report.best_round - 1)], report.seconds, report.threading.c_str());

  // 3. The classic alternative: one model per product, same settings.
  options.mode = rt::MultiLabelMode::one_vs_rest;
  rt::MultiLabelGBDT per_label(options);
  const rt::GBDTReport per_label_report = per_label.fit(X_train, Y_train, &valid);
  std::printf("%-13s %10s %8s %10s\n", "mode", "mean AUC", "trees", "fit s");
  std::printf("%-13s %10.4f %8zu %10.3f\n", "multi_output", mean_auc(model, X_test, Y_test), model.trees().size(), report.seconds);
  std::printf("%-13s %10.4f %8zu %10.3f\n", "one_vs_rest", mean_auc(per_label, X_test, Y_test), per_label.trees().size(),
              per_label_report.seconds);

  // 4. What the trees split on: share of the total gain per feature.
  const std::vector<std::string> feature_names = {"age",           "income",           "seniority",        "segment",
                                                  "channel",       "held current acc", "held savings",     "held credit card",
                                                  "held payroll",  "held pension",     "held funds"};
  const std::vector<double> importance = model.feature_importance();
  const double total_gain = std::accumulate(importance.begin(), importance.end(), 0.0);
  std::vector<std::size_t> order(importance.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return importance[a] > importance[b]; });
  std::printf("top features by gain:");
  for (std::size_t k = 0; k < 5; ++k) std::printf(" %s %.1f%%", feature_names[order[k]].c_str(), 100.0 * importance[order[k]] / total_gain);
  std::printf("\n");

  // 5. As a recommender: scores are the predicted probabilities; what a customer holds already
  // (last month's flags) is their history and is never offered again.
  const rt::ClassifierRecommender recommender(model);
  const std::vector<recmix::Index> customers = {0, 1, 2};  // the first three test customers
  const recmix::RowMatrixXf features = X_test.topRows(3);
  std::vector<recmix::Index> rows, items;
  for (recmix::Index r = 0; r < 3; ++r) {
    for (recmix::Index p = 0; p < kProducts; ++p) {
      if (features(r, kHeld + p) != 0.0F) {
        rows.push_back(r);
        items.push_back(p);
      }
    }
  }
  const recmix::InteractionMatrix held =
      recmix::InteractionMatrix::from_triplets(3, kProducts, rows, items, std::vector<float>(rows.size(), 1.0F));
  const recmix::UserBatch batch(customers, &held, recmix::HistoryRows::aligned, features);
  const recmix::Recommendations top = recmix::recommend(recommender, batch, 3);
  for (recmix::Index r = 0; r < 3; ++r) {
    std::printf("customer %d (age %.0f, segment %.0f) holds:", r, features(r, kAge), features(r, kSegment));
    for (recmix::Index p : held.row(r).indices) std::printf(" [%s]", kProductNames[p]);
    std::printf("\n  offer:");
    for (recmix::Index k = 0; k < top.k(); ++k) {
      if (top.items(r, k) >= 0) std::printf(" %s (%.3f)", kProductNames[top.items(r, k)], top.scores(r, k));
    }
    std::printf("\n");
  }

  // 6. Save, load, and check the loaded model predicts the same probabilities, bit for bit.
  const auto path = std::filesystem::temp_directory_path() / "gbdt_products.model";
  recmix::save(model, path);
  rt::MultiLabelGBDT loaded;
  recmix::load(loaded, path);
  const bool same = (loaded.predict_proba(X_test).array() == model.predict_proba(X_test).array()).all();
  std::printf("saved %ju bytes; reloaded model gives identical predictions: %s\n",
              static_cast<std::uintmax_t>(std::filesystem::file_size(path)), same ? "yes" : "NO");
  std::filesystem::remove(path);
  return same ? 0 : 1;
} catch (const std::exception& e) {
  std::cerr << "gbdt-products: " << e.what() << "\n";
  return 1;
}
