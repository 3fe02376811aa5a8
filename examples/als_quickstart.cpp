// Implicit ALS in a few lines: fit on a generated customers x products matrix (Santander-shaped:
// 24 products, 1-6 held per customer, weights = months held), then recommend, find similar
// products, fold in a new customer, and save/load the model.
//
//   als-quickstart [--users 200000] [--factors 64] [--iterations 15] [--threads 0] [--seed 1]

#include <recmix/datasets/synthetic.hpp>
#include <recmix/io/serialization.hpp>
#include <recmix/recmix.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

namespace {

struct Args {
  recmix::Index users = 200000;
  recmix::Index factors = 64;
  int iterations = 15;
  int threads = 0;
  std::uint64_t seed = 1;
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
    if (flag == "--users") a.users = static_cast<recmix::Index>(v);
    else if (flag == "--factors") a.factors = static_cast<recmix::Index>(v);
    else if (flag == "--iterations") a.iterations = static_cast<int>(v);
    else if (flag == "--threads") a.threads = static_cast<int>(v);
    else if (flag == "--seed") a.seed = static_cast<std::uint64_t>(v);
    else {
      std::cerr << "unknown option " << flag
                << "\nusage: als-quickstart [--users N] [--factors F] [--iterations I] [--threads T] [--seed S]\n";
      std::exit(2);
    }
  }
  return a;
}

void print_row(const char* label, std::span<const recmix::Index> items) {
  std::cout << "  " << label;
  for (recmix::Index i : items) std::cout << ' ' << i;
  std::cout << '\n';
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);

  // 1. Data: customers x products, weight = months the product was held.
  recmix::datasets::SyntheticSpec spec;
  spec.shape = recmix::datasets::SyntheticShape::santander;
  spec.users = args.users;
  spec.seed = args.seed;
  const recmix::InteractionMatrix user_items = recmix::datasets::synthetic_interactions(spec);
  std::cout << "matrix: " << user_items.rows() << " customers x " << user_items.cols() << " products, "
            << user_items.nnz() << " holdings\n";

  // 2. Fit.
  recmix::als::ImplicitALS<float> als({.factors = args.factors,
                                       .iterations = args.iterations,
                                       .threads = args.threads,
                                       .seed = args.seed,
                                       .calculate_loss = true});
  const recmix::FitReport report = als.fit(user_items, recmix::ProgressBar{std::cerr});
  std::printf("fit: %d iterations in %.2f s (median %.3f s/iteration, %s), training loss %.5f\n", report.iterations,
              report.seconds, report.median_iteration_seconds(), report.threading.c_str(), report.final_loss());

  // 3. Top-3 for every customer, never a product they already hold.
  std::vector<recmix::Index> users(static_cast<std::size_t>(user_items.rows()));
  std::iota(users.begin(), users.end(), 0);
  const recmix::UserBatch everyone(users, &user_items, recmix::HistoryRows::by_user_id);
  recmix::detail::Stopwatch watch;
  const recmix::Recommendations top = recmix::recommend(als, everyone, 3);
  std::printf("recommend: top-3 for all %d customers in %.3f s\n", user_items.rows(), watch.seconds());
  for (recmix::Index u = 0; u < 3; ++u) {
    std::cout << "customer " << u << ":\n";
    print_row("holds      ", user_items.row(u).indices);
    print_row("recommended", top.row(u));
  }

  // 4. Products most like the most popular one (cosine of item factors), itself excluded.
  const std::vector<recmix::Index> query = {0};
  const recmix::Recommendations like = als.similar_items(query, 3, {.exclude_self = true});
  print_row("products most like product 0:", like.row(0));

  // 5. A customer the model has never seen: fold in from what they hold today.
  const std::vector<recmix::Index> newcomer = {recmix::kNewUser};
  const std::vector<recmix::Index> held = {0, 1};
  const std::vector<float> months = {3.0f, 1.0f};
  const std::vector<recmix::Index> row = {0, 0};
  const auto history = recmix::InteractionMatrix::from_triplets(1, user_items.cols(), row, held, months);
  print_row("new customer holding 0 and 1 ->", als.recommend(newcomer, history, 3).row(0));

  // 6. Save and load (atomic save; the load checks kind, scalar type, length and CRC-32).
  const auto path = std::filesystem::temp_directory_path() / "recmix-als-quickstart.model";
  recmix::save(als, path);
  recmix::als::ImplicitALS<float> restored;
  recmix::load(restored, path);
  std::filesystem::remove(path);
  std::cout << "saved and reloaded: "
            << (restored.item_factors() == als.item_factors() && restored.user_factors() == als.user_factors()
                    ? "identical factors"
                    : "MISMATCH")
            << '\n';
  return 0;
} catch (const std::exception& e) {
  std::cerr << "als-quickstart: " << e.what() << '\n';
  return 1;
}
