// santander-hybrid: "which bank product do we offer this customer next?" on the Kaggle Santander
// Product Recommendation data (train_ver2.csv) or on generated data of the same format.
//
// Splits by time: the models learn from months up to T-2, the blend weights are tuned on month
// T-1 and everything is tested on the last month T, where the truth is the products each
// customer added (held at T, not at T-1). Components: popularity (per segment), implicit ALS on
// months owned, a k-means cluster recommender on demographics (cold start), multi-label boosted
// trees on demographics + lag features, and their HybridBlender. Prints MAP@7 (Kaggle's: over all
// customers of month T; and over those who added something), NDCG@3 and recall@7 side by side,
// with fit and predict times. Then refits on all months and, with --submission, writes the
// recommendations for the month after the last in Kaggle's format.
//
//   santander-hybrid [--data train_ver2.csv] [--submission out.csv] [--report out.html]
//                    [--threads 0] [--seed 42] [--customers 60000] [--strict] [--rounds 100]
//                    [--depth 6] [--tree-months 4] [--negative-rate 0.05] [--normalization rank]
//                    [--truth truth.csv]
//
// Without --data it generates its default data in memory (--customers customers x 17 months),
// with the generator's true chances of adding in the test month: the table's "ceiling" row. For
// a generated file, `santander-generate --truth truth.csv` writes them and --truth reads them.

#include <recmix/recmix.hpp>
#include <recmix/blend/hybrid_blender.hpp>
#include <recmix/blend/popularity.hpp>
#include <recmix/core/feature_columns.hpp>
#include <recmix/datasets/santander.hpp>

#include "report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace sd = recmix::datasets::santander;
using recmix::Index;
using recmix::InteractionMatrix;
using recmix::RowMatrixXf;
using recmix::metrics::Metric;

// ---- command line ---------------------------------------------------------------------------

struct Args {
  std::string data;
  std::string submission;
  std::string report;
  std::string truth;
  int threads = 0;
  std::uint64_t seed = 42;
  Index customers = 60000;
  bool strict = false;
  int rounds = 100;
  int depth = 6;
  Index gbdt_months = 4;
  double negative_rate = 0.05;
  std::string normalization = "rank";
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "santander-hybrid: " << problem << "\n"
            << "usage: santander-hybrid [--data FILE] [--submission FILE] [--report FILE] [--threads N>=0]\n"
            << "                        [--seed S] [--customers N>=1000 (generated data)] [--strict] [--rounds R>=1]\n"
            << "                        [--depth D>=1] [--tree-months M>=1] [--negative-rate 0..1]\n"
            << "                        [--normalization auto|rank|min_max|z_score|none] [--truth FILE (with --data)]\n";
  std::exit(2);
}

long long to_integer(const std::string& flag, const std::string& text, long long lo) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo) usage("bad value '" + text + "' for " + flag);
  return v;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--strict") {
      a.strict = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") usage("help");
    if (i + 1 >= argc) usage("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--data") a.data = value;
    else if (flag == "--submission") a.submission = value;
    else if (flag == "--report") a.report = value;
    else if (flag == "--truth") a.truth = value;
    else if (flag == "--threads") a.threads = static_cast<int>(to_integer(flag, value, 0));
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(to_integer(flag, value, 0));
    else if (flag == "--customers") a.customers = static_cast<Index>(to_integer(flag, value, 1000));
    else if (flag == "--rounds") a.rounds = static_cast<int>(to_integer(flag, value, 1));
    else if (flag == "--depth") a.depth = static_cast<int>(to_integer(flag, value, 1));
    else if (flag == "--normalization") {
      if (value != "auto" && value != "rank" && value != "min_max" && value != "z_score" && value != "none") usage("bad value '" + value + "' for " + flag);
      a.normalization = value;
    }
    else if (flag == "--tree-months") a.gbdt_months = static_cast<Index>(to_integer(flag, value, 1));
    else if (flag == "--negative-rate") {
      char* end = nullptr;
      a.negative_rate = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(a.negative_rate >= 0.0 && a.negative_rate <= 1.0)) usage("bad value '" + value + "' for " + flag);
    }
    else usage("unknown option " + flag);
  }
  if (!a.truth.empty() && a.data.empty()) usage("--truth goes with --data (generated data carries its own truth)");
  return a;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void progress(const std::string& what) { std::cerr << "[santander-hybrid] " << what << std::endl; }

// ---- models ---------------------------------------------------------------------------------

/// Settings shared by every fit.
struct Settings {
  int threads = 0;
  std::uint64_t seed = 42;
  int rounds = 100;
  int depth = 6;                // see docs/santander.md, "Tree depth on generated data"
  Index gbdt_months = 4;        // target months the trees learn from (+ the same month a year before)
  Index window = 6;            // months of additions popularity and clusters count
  double negative_rate = 0.05; // share of non-adder rows the trees keep
};

using Trees = recmix::FeatureColumns<recmix::trees::ClassifierRecommender>;
using Clusters = recmix::FeatureColumns<recmix::cluster::ClusterRecommender>;
using Popularity = recmix::blend::PopularityRecommender;
using ALS = recmix::als::ImplicitALS<float>;

/// Everything fitted from the months up to `last` (labels included), for predicting later months.
struct Models {
  Index last = 0;
  ALS als;
  InteractionMatrix als_rows;        // the matrix ALS learned from (which customers it knows)
  sd::DemographicEncoder encoder;
  Index tree_columns = 0;            // the batch's first block of feature columns
  Index segment_column = -1;
  std::optional<Trees> trees;
  std::optional<Clusters> clusters;
  std::optional<Popularity> popularity;
  double fit_als = 0, fit_clusters = 0, fit_trees = 0, fit_popularity = 0;
  std::size_t tree_rows = 0;
};

std::vector<Index> gbdt_target_months(Index last, Index predicted, Index count) {
  std::vector<Index> months;
  for (Index m = last; m >= 1 && static_cast<Index>(months.size()) < count; --m) months.push_back(m);
  const Index seasonal = predicted - 12;  // the same calendar month a year earlier
  if (seasonal >= 1 && seasonal <= last && std::find(months.begin(), months.end(), seasonal) == months.end()) {
    months.push_back(seasonal);
  }
  return months;
}

Models fit_models(const sd::Dataset& d, Index last, Index predicted, const Settings& s) {
  Models m;
  m.last = last;
  const Index first_window = std::max<Index>(1, last - s.window + 1);

  progress("fitting popularity on additions of months " + d.months[static_cast<std::size_t>(first_window)] + " .. " +
           d.months[static_cast<std::size_t>(last)]);
  auto t0 = std::chrono::steady_clock::now();
  const InteractionMatrix recent = sd::additions_between(d, first_window, last);
  std::vector<float> segment(static_cast<std::size_t>(d.num_customers()));
  {
    const std::vector<Index> all = [&] {
      std::vector<Index> v(static_cast<std::size_t>(d.num_customers()));
      for (Index c = 0; c < d.num_customers(); ++c) v[static_cast<std::size_t>(c)] = c;
      return v;
    }();
    const std::vector<Index> when = sd::latest_present(d, last, all);
    for (Index c = 0; c < d.num_customers(); ++c) {
      const Index w = when[static_cast<std::size_t>(c)];
      const std::uint8_t code = w < 0 ? 0 : d.code(w, c, sd::Categorical::segment);
      segment[static_cast<std::size_t>(c)] = code == 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(code);
    }
  }
  // The segment code sits in the trees' block of the batch features.
  const sd::FeatureTable probe = sd::tree_features(d, last, std::vector<Index>{}, {.threads = s.threads});
  m.tree_columns = static_cast<Index>(probe.names.size());
  m.segment_column = probe.segment_column;
  Popularity popularity({.segment_feature = m.segment_column, .min_segment_users = 100, .smoothing = 50});
  popularity.fit(recent, segment);
  m.popularity = std::move(popularity);
  m.fit_popularity = seconds_since(t0);

  progress("fitting ALS on months owned up to " + d.months[static_cast<std::size_t>(last)]);
  t0 = std::chrono::steady_clock::now();
  m.als_rows = sd::months_owned(d, 0, last);
  m.als = ALS({.factors = 16, .regularization = 0.1, .alpha = 2.0, .iterations = 15, .threads = s.threads, .seed = s.seed});
  m.als.fit(m.als_rows);
  m.fit_als = seconds_since(t0);

  progress("fitting the cluster recommender on demographics of " + d.months[static_cast<std::size_t>(last)]);
  t0 = std::chrono::steady_clock::now();
  const std::vector<Index> present = sd::customers_present(d, last);
  m.encoder.fit(d, last, present);
  const RowMatrixXf demo = m.encoder.transform(d, last, present);
  recmix::cluster::ClusterRecommender cl({.kmeans = {.k = 32, .seed = s.seed, .threads = s.threads}});
  cl.fit(demo, recent.select_rows(present));
  m.clusters.emplace(std::move(cl), m.tree_columns, static_cast<Index>(demo.cols()));
  m.fit_clusters = seconds_since(t0);

  const std::vector<Index> months = gbdt_target_months(last, predicted, s.gbdt_months);
  progress("building tree training rows from " + std::to_string(months.size()) + " target months");
  t0 = std::chrono::steady_clock::now();
  sd::TrainingSet ts = sd::training_set(
      d, {.months = months, .negative_rate = s.negative_rate, .seed = s.seed, .features = {.threads = s.threads}});
  m.tree_rows = static_cast<std::size_t>(ts.X.rows());
  progress("fitting boosted trees on " + std::to_string(ts.X.rows()) + " rows x " + std::to_string(ts.X.cols()) + " features (" +
           std::to_string(ts.positives) + " with an addition, of " + std::to_string(ts.candidates) + " customer-months)");
  recmix::trees::MultiLabelGBDT gbdt({.rounds = s.rounds,
                                      .learning_rate = 0.1,
                                      .max_depth = s.depth,
                                      .min_child_weight = 1.0,
                                      .seed = s.seed,
                                      .categorical_features = ts.categorical,
                                      .threads = s.threads});
  gbdt.fit(ts.X, ts.Y);
  m.trees.emplace(recmix::trees::ClassifierRecommender(std::move(gbdt)), 0, m.tree_columns);
  m.fit_trees = seconds_since(t0);
  return m;
}

// ---- batches --------------------------------------------------------------------------------

/// The customers scored for one month, with what every component needs.
struct MonthBatch {
  Index month = 0;
  std::vector<Index> customers;   // dataset customer indices
  std::vector<Index> users;       // ALS ids: the customer, or kNewUser when ALS never saw them hold anything
  RowMatrixXf features;           // [tree features | encoded demographics]
  InteractionMatrix history;      // holdings the month before (aligned): never recommended
  InteractionMatrix truth;        // additions of the month (aligned; empty for the month after the data)
  [[nodiscard]] recmix::UserBatch batch() const {
    return recmix::UserBatch(users, &history, recmix::HistoryRows::aligned, features);
  }
};

MonthBatch make_batch(const sd::Dataset& d, const Models& m, Index month, int threads) {
  MonthBatch b;
  b.month = month;
  const Index last = d.num_months() - 1;
  b.customers = sd::customers_present(d, std::min(month, last));
  b.users.resize(b.customers.size());
  for (std::size_t i = 0; i < b.customers.size(); ++i) {
    const Index c = b.customers[i];
    b.users[i] = m.als_rows.row_nnz(c) > 0 ? c : recmix::kNewUser;
  }
  sd::FeatureTable tf = sd::tree_features(d, month, b.customers, {.threads = threads});
  const RowMatrixXf demo = m.encoder.transform(d, month, b.customers);
  b.features.resize(tf.X.rows(), tf.X.cols() + demo.cols());
  b.features << tf.X, demo;
  b.history = sd::holdings(d, month - 1).select_rows(b.customers);
  if (month <= last) b.truth = sd::additions(d, month).select_rows(b.customers);
  return b;
}

// ---- evaluation -----------------------------------------------------------------------------

struct Row {
  std::string name;
  double map7_all = 0, map7_adders = 0, ndcg3 = 0, recall7 = 0, fit = 0, predict = 0, weight = std::nan("");
};

/// A row of the table from an evaluation with MAP@7, NDCG@3 and recall@7. MAP@7 over all
/// customers is Kaggle's: a customer who added nothing scores 0.
Row table_row(const std::string& name, const recmix::metrics::Evaluation& e, double fit, double predict) {
  Row r;
  r.name = name;
  r.map7_adders = e.at(Metric::map, 7);
  r.map7_all = e.users > 0 ? r.map7_adders * static_cast<double>(e.users_with_relevant) / static_cast<double>(e.users) : 0.0;
  r.ndcg3 = e.at(Metric::ndcg, 3);
  r.recall7 = e.at(Metric::recall, 7);
  r.fit = fit;
  r.predict = predict;
  return r;
}

template <class Model>
Row evaluate_model(const std::string& name, const Model& model, const MonthBatch& b, double fit_seconds, int threads) {
  const recmix::UserBatch batch = b.batch();
  RowMatrixXf scores(batch.size(), model.num_items());
  const auto t0 = std::chrono::steady_clock::now();
  model.score(batch, scores);
  const double predict = seconds_since(t0);
  const auto e = recmix::metrics::evaluate(model, batch, b.truth, {Metric::map, Metric::ndcg, Metric::recall}, {3, 7},
                                           {.threads = threads});
  return table_row(name, e, fit_seconds, predict);
}

/// The "ceiling" row: the generator's true chances of adding in the test month (generated data
/// only), ranked as a model would be. No model can expect to do better.
Row evaluate_truth(const sd::Dataset& d, const sd::GenerateTruth& truth, const MonthBatch& b, int threads) {
  constexpr auto n_products = static_cast<Index>(sd::kNumProducts);
  RowMatrixXf scores(static_cast<Index>(b.customers.size()), n_products);
  for (std::size_t i = 0; i < b.customers.size(); ++i) {
    const std::int64_t id = d.customers[static_cast<std::size_t>(b.customers[i])];
    const auto it = std::lower_bound(truth.customers.begin(), truth.customers.end(), id);
    if (it == truth.customers.end() || *it != id) throw recmix::invalid_argument("santander-hybrid: no truth for customer " + std::to_string(id));
    const float* p = truth.probabilities.data() + (it - truth.customers.begin()) * n_products;
    for (Index j = 0; j < n_products; ++j) scores(static_cast<Index>(i), j) = p[j];
  }
  // Products held the month before are never recommended (their chance is 0): put them last.
  for (Index r = 0; r < b.history.rows(); ++r) {
    for (Index j : b.history.row(r).indices) scores(r, j) = -1.0f;
  }
  const auto e = recmix::metrics::evaluate_scores(scores, b.truth, {Metric::map, Metric::ndcg, Metric::recall}, {3, 7}, {.threads = threads});
  return table_row("ceiling", e, std::nan(""), std::nan(""));  // no fit, no predict: blank
}

std::string table(const std::vector<Row>& rows) {
  std::ostringstream os;
  os << std::left << std::setw(12) << "model" << std::right << std::setw(11) << "MAP@7" << std::setw(13) << "MAP@7 adders"
     << std::setw(10) << "NDCG@3" << std::setw(11) << "recall@7" << std::setw(9) << "weight" << std::setw(9) << "fit s"
     << std::setw(11) << "predict s" << '\n';
  for (const Row& r : rows) {
    os << std::left << std::setw(12) << r.name << std::right << std::fixed << std::setprecision(5) << std::setw(11) << r.map7_all
       << std::setw(13) << r.map7_adders << std::setw(10) << r.ndcg3 << std::setw(11) << r.recall7 << std::setprecision(3)
       << std::setw(9);
    if (std::isnan(r.weight)) os << "";
    else os << r.weight;
    os << std::setprecision(2) << std::setw(9);
    if (std::isnan(r.fit)) os << "" << std::setw(11) << "" << '\n';
    else os << r.fit << std::setw(11) << r.predict << '\n';
  }
  return os.str();
}

// ---- data -----------------------------------------------------------------------------------

sd::Dataset load_data(const Args& a, std::vector<std::pair<std::string, std::string>>& facts, sd::GenerateTruth& truth) {
  sd::LoadOptions options;
  options.mode = a.strict ? sd::LoadMode::strict : sd::LoadMode::lenient;
  options.threads = a.threads;
  if (!a.data.empty()) {
    progress("loading " + a.data);
    sd::Dataset d = sd::load(a.data, options);
    facts.emplace_back("data", a.data);
    if (!a.truth.empty()) {
      progress("reading the true chances " + a.truth);
      truth = sd::read_truth(std::filesystem::path(a.truth));
      const std::string& last = d.months.empty() ? std::string("(no month)") : d.months.back();
      if (truth.date != last) {
        throw recmix::invalid_argument("santander-hybrid: --truth " + a.truth + " is for " + (truth.date.empty() ? "no month (no customers)" : truth.date) +
                                       ", the test month is " + last);
      }
      truth.month = d.num_months() - 1;
      facts.emplace_back("truth", a.truth);
    }
    return d;
  }
  progress("generating " + std::to_string(a.customers) + " customers x 17 months (no --data given)");
  const auto t0 = std::chrono::steady_clock::now();
  std::ostringstream text;
  // The generator also gives the true chances of adding in the test month (the last): the
  // ceiling row of the table.
  sd::GenerateOptions generate_options{.customers = a.customers, .seed = a.seed, .threads = a.threads};
  generate_options.truth_month = generate_options.months - 1;
  generate_options.truth_samples = 128;
  sd::GenerateSummary summary = sd::generate(generate_options, text);
  truth = std::move(summary.truth);
  const double generated = seconds_since(t0);
  const std::string csv = std::move(text).str();
  facts.emplace_back("data", "generated: " + std::to_string(a.customers) + " customers x 17 months, seed " +
                                 std::to_string(a.seed) + " (" + std::to_string(csv.size() >> 20) + " MiB of CSV in " +
                                 std::to_string(generated).substr(0, 4) + " s)");
  progress("parsing the generated file");
  return sd::parse(csv, options, "<generated>");
}

void write_submission(const std::string& path, const sd::Dataset& d, const MonthBatch& b, const recmix::Recommendations& top) {
  recmix::io::detail::write_atomically(path, "the submission", [&](std::ostream& out) {
    out << "ncodpers,added_products\n";
    for (std::size_t i = 0; i < b.customers.size(); ++i) {
      out << d.customers[static_cast<std::size_t>(b.customers[i])] << ',';
      const auto items = top.row(static_cast<Index>(i));
      for (std::size_t j = 0; j < items.size(); ++j) out << (j ? " " : "") << sd::kProductNames[static_cast<std::size_t>(items[j])];
      out << '\n';
    }
  });
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse_args(argc, argv);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, std::string>> facts;

  const auto t_load = std::chrono::steady_clock::now();
  sd::GenerateTruth truth;
  const sd::Dataset data = load_data(args, facts, truth);
  const double load_seconds = seconds_since(t_load);
  std::cerr << data.report.summary();
  const Index T = data.num_months() - 1;
  if (T < 3) throw recmix::invalid_argument("santander-hybrid: need at least 4 months of data, the file has " + std::to_string(T + 1));

  Settings settings;
  settings.threads = args.threads;
  settings.seed = args.seed;
  settings.rounds = args.rounds;
  settings.depth = args.depth;
  settings.gbdt_months = args.gbdt_months;
  settings.negative_rate = args.negative_rate;

  // ---- evaluation: learn from months <= T-2, tune on T-1, test on T ----------------------------
  progress("evaluation: models learn from months up to " + data.months[static_cast<std::size_t>(T - 2)] + ", blend tuned on " +
           data.months[static_cast<std::size_t>(T - 1)] + ", test on " + data.months[static_cast<std::size_t>(T)]);
  Models models = fit_models(data, T - 2, T, settings);
  const MonthBatch validation = make_batch(data, models, T - 1, args.threads);
  const MonthBatch test = make_batch(data, models, T, args.threads);

  // --normalization auto: popularity, clusters and trees score on the scale of a probability of
  // adding the product, so they blend as they are; ALS scores (inner products) are ranked.
  using recmix::blend::Normalization;
  const std::vector<Normalization> normalization = [&]() -> std::vector<Normalization> {
    const std::string& n = args.normalization;
    if (n == "rank") return {Normalization::rank};
    if (n == "min_max") return {Normalization::min_max};
    if (n == "z_score") return {Normalization::z_score};
    if (n == "none") return {Normalization::none};
    return {Normalization::none, Normalization::rank, Normalization::none, Normalization::none};
  }();
  recmix::blend::HybridBlender blend({.normalization = normalization, .names = {"popularity", "als", "clusters", "trees"}, .threads = args.threads}, *models.popularity,
                                     models.als, *models.clusters, *models.trees);
  progress("tuning the blend weights on " + data.months[static_cast<std::size_t>(T - 1)] + " (MAP@7)");
  const auto t_tune = std::chrono::steady_clock::now();
  const auto tuned = blend.tune_weights(validation.batch(), validation.truth, Metric::map, 7);
  const double tune_seconds = seconds_since(t_tune);

  progress("evaluating on " + data.months[static_cast<std::size_t>(T)]);
  std::vector<Row> rows;
  rows.push_back(evaluate_model("popularity", *models.popularity, test, models.fit_popularity, args.threads));
  rows.push_back(evaluate_model("als", models.als, test, models.fit_als, args.threads));
  rows.push_back(evaluate_model("clusters", *models.clusters, test, models.fit_clusters, args.threads));
  rows.push_back(evaluate_model("trees", *models.trees, test, models.fit_trees, args.threads));
  const double components_fit = models.fit_popularity + models.fit_als + models.fit_clusters + models.fit_trees;
  rows.push_back(evaluate_model("blend", blend, test, components_fit + tune_seconds, args.threads));
  for (std::size_t c = 0; c < 4; ++c) rows[c].weight = blend.weights()[c];
  if (truth.month == T) rows.push_back(evaluate_truth(data, truth, test, args.threads));

  std::size_t adders = 0;
  for (Index r = 0; r < test.truth.rows(); ++r) adders += test.truth.row_nnz(r) > 0 ? 1 : 0;
  std::cout << "Santander product recommendation - test month " << data.months[static_cast<std::size_t>(T)] << ": "
            << test.customers.size() << " customers, " << adders << " added a product (" << test.truth.nnz() << " additions)\n"
            << "models learn from months up to " << data.months[static_cast<std::size_t>(T - 2)] << "; blend weights tuned on "
            << data.months[static_cast<std::size_t>(T - 1)] << " (MAP@7 " << std::fixed << std::setprecision(5)
            << tuned.metric_before << " -> " << tuned.metric_after << ")\n\n"
            << table(rows) << '\n';

  // ---- refit on every month and recommend for the month after the last ------------------------
  progress("refitting on all months for " + sd::month_date(data.month_numbers.back() + 1));
  const auto t_refit = std::chrono::steady_clock::now();
  Models final_models = fit_models(data, T, T + 1, settings);
  const MonthBatch next = make_batch(data, final_models, T + 1, args.threads);
  recmix::blend::HybridBlender final_blend({.weights = blend.weights(), .normalization = normalization, .names = {"popularity", "als", "clusters", "trees"}, .threads = args.threads},
                                           *final_models.popularity, final_models.als, *final_models.clusters, *final_models.trees);
  const recmix::Recommendations top = recmix::recommend(final_blend, next.batch(), 7, {.threads = args.threads});
  const double refit_seconds = seconds_since(t_refit);
  if (!args.submission.empty()) {
    write_submission(args.submission, data, next, top);
    progress("wrote " + std::to_string(next.customers.size()) + " recommendations to " + args.submission);
  }
  std::cout << "refit on all " << data.num_months() << " months and recommended for " << next.customers.size() << " customers in "
            << std::setprecision(2) << refit_seconds << " s; whole run " << seconds_since(start) << " s (load "
            << load_seconds << " s)\n";

  if (!args.report.empty()) {
    santander_example::ReportData rd;
    rd.facts = facts;
    rd.facts.emplace_back("rows", std::to_string(data.report.rows) + " kept, " + std::to_string(data.report.skipped) + " skipped");
    rd.facts.emplace_back("customers", std::to_string(data.num_customers()));
    rd.facts.emplace_back("months", data.months.front() + " .. " + data.months.back());
    rd.facts.emplace_back("split", "learn <= " + data.months[static_cast<std::size_t>(T - 2)] + ", tune " +
                                       data.months[static_cast<std::size_t>(T - 1)] + ", test " + data.months[static_cast<std::size_t>(T)]);
    rd.facts.emplace_back("load seconds", std::to_string(load_seconds));
    rd.months = data.months;
    for (Index m = 0; m <= T; ++m) {
      double present = 0;
      for (Index c = 0; c < data.num_customers(); ++c) present += data.present(static_cast<std::size_t>(m), static_cast<std::size_t>(c));
      rd.customers_per_month.push_back(present);
      rd.additions_per_month.push_back(m == 0 ? 0.0 : static_cast<double>(sd::additions(data, m).nnz()));
    }
    const InteractionMatrix all_added = sd::additions_between(data, 1, T);
    std::vector<double> by_product(sd::kNumProducts, 0.0), holding(sd::kNumProducts, 0.0);
    for (std::size_t k = 0; k < all_added.indices().size(); ++k) by_product[static_cast<std::size_t>(all_added.indices()[k])] += all_added.values()[k];
    const InteractionMatrix held = sd::holdings(data, T);
    for (Index i : held.indices()) holding[static_cast<std::size_t>(i)] += 1.0;
    const double present_last = rd.customers_per_month.back();
    for (auto& h : holding) h = present_last > 0 ? h / present_last : 0.0;
    for (auto label : sd::kProductLabels) rd.products.emplace_back(label);
    rd.holding_share = holding;
    rd.additions_by_product = by_product;
    for (const Row& r : rows) {
      rd.models.push_back({r.name, r.map7_all, r.map7_adders, r.ndcg3, r.recall7, r.fit, r.predict, r.weight});
    }
    santander_example::write_report(rd, args.report);
    progress("wrote the report " + args.report);
  }
  return 0;
} catch (const recmix::parse_error& e) {
  std::cerr << "santander-hybrid: malformed data: " << e.what() << '\n';
  return 1;
} catch (const std::exception& e) {
  std::cerr << "santander-hybrid: " << e.what() << '\n';
  return 1;
}
