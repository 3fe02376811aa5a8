// recmix-santander-load: whole-process timing of reading a Santander train_ver2.csv file.
//
//   recmix-santander-load --data train_ver2.csv [--threads 0 (all)] [--strict] [--block-mb 32]
//
// Loads the file with recmix::datasets::santander::load (lenient unless --strict), then prints
// report.summary() on stderr and one JSON line on stdout:
//   seconds        wall time of the load call (the file is read from disk or the page cache)
//   peak_rss_mb    peak resident memory of the whole process (VmHWM of /proc/self/status, MiB)
//   rows, lines, skipped, customers, months, missing_product_flags, blank_customers
//   panel_mb       the tensors' size (present, products, numeric, categorical), MiB
//   cpu_utilization  CPU seconds of the load / (wall seconds x threads); well below 1 when
//                  other processes took the cores
//   threads, strict, data
// The pandas anchor is benchmarks/anchors/pandas_santander_load.py.
// Exit status: 0 ok, 1 unreadable or malformed data (strict), 2 bad arguments.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include <recmix/core/errors.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/datasets/santander_load.hpp>

#include "driver_support.hpp"

namespace {

constexpr const char* kUsage =
    "usage: recmix-santander-load --data train_ver2.csv [--threads 0 (all)] [--strict] [--block-mb 32]\n";

struct Args {
  std::string data;
  int threads = 0;
  bool strict = false;
  int block_mb = 32;
};

[[noreturn]] void usage_error(const std::string& message) {
  recmix::bench::usage_error("recmix-santander-load", kUsage, message);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg == "--strict") {
      a.strict = true;
      continue;
    }
    if (!arg.starts_with("--")) usage_error("unexpected argument '" + std::string(arg) + "'");
    std::string_view value;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++i];
    }
    if (arg == "--data") {
      a.data = std::string(value);
    } else if (arg == "--threads") {
      a.threads = recmix::bench::parse_value<int>(arg, value, usage_error);
    } else if (arg == "--block-mb") {
      a.block_mb = recmix::bench::parse_value<int>(arg, value, usage_error);
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (a.data.empty()) usage_error("--data is required");
  if (a.threads < 0) usage_error("--threads must be >= 0 (0 = all cores)");
  if (a.block_mb < 1 || a.block_mb > 1024) usage_error("--block-mb must be in 1 .. 1024");
  return a;
}

/// VmHWM of /proc/self/status in MiB (getrusage's peak when that is unavailable).
double vm_hwm_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;  // kB
  }
  return recmix::bench::peak_rss_mb();
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  namespace sd = recmix::datasets::santander;
  try {
    const int threads = recmix::resolve_threads(a.threads);
    sd::LoadOptions options;
    options.mode = a.strict ? sd::LoadMode::strict : sd::LoadMode::lenient;
    options.threads = threads;
    options.block_size = static_cast<std::size_t>(a.block_mb) << 20;
    std::cerr << "recmix-santander-load: reading " << a.data << " (" << threads << " threads)\n";
    const double cpu0 = recmix::bench::cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const sd::Dataset d = sd::load(a.data, options);
    const double seconds = recmix::bench::seconds_since(t0);
    const double cpu = recmix::bench::cpu_seconds() - cpu0;
    std::cerr << d.report.summary();
    const double panel_mb =
        static_cast<double>(d.present.size() + d.products.size() + d.numeric.size() * sizeof(float) + d.categorical.size()) /
        1048576.0;
    recmix::bench::JsonLine j;
    j.number("seconds", seconds);
    j.number("peak_rss_mb", vm_hwm_mb(), 6);
    j.integer("rows", static_cast<std::int64_t>(d.report.rows));
    j.integer("lines", static_cast<std::int64_t>(d.report.lines));
    j.integer("skipped", static_cast<std::int64_t>(d.report.skipped));
    j.integer("customers", d.num_customers());
    j.integer("months", d.num_months());
    j.integer("missing_product_flags", static_cast<std::int64_t>(d.report.missing_product_flags));
    j.integer("blank_customers", static_cast<std::int64_t>(d.report.blank_customers));
    j.number("panel_mb", panel_mb, 6);
    j.number("cpu_utilization", cpu / (seconds * threads), 3);
    j.integer("threads", threads);
    j.boolean("strict", a.strict);
    j.string("data", a.data);
    std::cout << j.str() << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "recmix-santander-load: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
