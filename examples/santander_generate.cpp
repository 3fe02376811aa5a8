// Writes a Santander-like train_ver2.csv (the 48 columns of Kaggle's file, with its quirks)
// from the latent model of recmix/datasets/santander_generate.hpp, and prints what it wrote
// (rows, customers, share of rows holding each product, additions) to stderr.
//
//   santander-generate [--customers 50000] [--months 17] [--seed 42] [--threads 0]
//                      [--truth truth.csv [--truth-samples 128]] --out train.csv
//
// --truth also writes the generator's true chances of each customer adding each product in the
// last month (santander::write_truth), which `santander-hybrid --data train.csv --truth
// truth.csv` ranks as its "ceiling" row.
//
// examples/data/santander_sample.csv was made with
//   santander-generate --customers 400 --months 17 --seed 42 --out examples/data/santander_sample.csv
// The full-size file (about 950,000 customers a month, like the real one):
//   santander-generate --customers 950000 --threads 2 --out /tmp/santander-full/train.csv

#include <recmix/datasets/santander_generate.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

namespace {

namespace sd = recmix::datasets::santander;

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << problem
            << "\nusage: santander-generate [--customers N>=1] [--months M>=2 with --truth] [--seed S] [--threads T>=0]\n"
               "                          [--truth FILE [--truth-samples N>=1]] --out FILE\n";
  std::exit(2);
}

long long number(const std::string& flag, const char* text) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0') usage("bad value for " + flag + ": " + text);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  sd::GenerateOptions options;
  std::string out, truth;
  long long truth_samples = 128;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("Santander-like data generator");
    if (i + 1 >= argc) usage("missing value for " + flag);
    const char* value = argv[++i];
    if (flag == "--customers") options.customers = static_cast<recmix::Index>(number(flag, value));
    else if (flag == "--months") options.months = static_cast<recmix::Index>(number(flag, value));
    else if (flag == "--seed") options.seed = static_cast<std::uint64_t>(number(flag, value));
    else if (flag == "--threads") options.threads = static_cast<int>(number(flag, value));
    else if (flag == "--out") out = value;
    else if (flag == "--truth") truth = value;
    else if (flag == "--truth-samples") truth_samples = number(flag, value);
    else usage("unknown option " + flag);
  }
  if (out.empty()) usage("--out is required");
  if (!truth.empty()) {
    options.truth_month = options.months - 1;  // the month santander-hybrid tests on
    options.truth_samples = static_cast<recmix::Index>(truth_samples);
  }
  try {
    const sd::GenerateSummary s = sd::generate(options, out);
    if (!truth.empty()) {
      sd::write_truth(s.truth, truth);
      std::fprintf(stderr, "%s: true chances of %zu customers for %s\n", truth.c_str(), s.truth.customers.size(), s.truth.date.c_str());
    }
    std::fprintf(stderr, "%s: %zu rows, %d customers, %d months, %.2f s\n", out.c_str(), s.rows, s.customers, s.months,
                 s.seconds);
    std::fprintf(stderr, "%-20s %10s %10s\n", "product", "share", "additions");
    for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
      std::fprintf(stderr, "%-20s %10.5f %10zu\n", std::string(sd::kProductNames[p]).c_str(), s.prevalence[p], s.additions[p]);
    }
  } catch (const std::exception& e) {
    std::cerr << "santander-generate: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
