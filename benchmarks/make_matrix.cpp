// recmix-make-matrix: writes a deterministic synthetic interaction matrix as COO text.
//
//   recmix-make-matrix --shape santander|medium|large --seed N --out FILE.coo
//                      [--users U --items I --nnz Z]
//
// The shapes are described in recmix/datasets/synthetic.hpp. The same arguments always produce the same file.
// Shape statistics go to stderr. Exit status: 0 ok, 1 generation or write failure, 2 bad arguments.

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <recmix/core/errors.hpp>
#include <recmix/io/coo.hpp>

#include <recmix/datasets/synthetic.hpp>

#include "driver_support.hpp"

using recmix::bench::seconds_since;

namespace {

constexpr const char* kUsage =
    "usage: recmix-make-matrix --shape santander|medium|large --seed N --out FILE.coo\n"
    "                          [--users U] [--items I] [--nnz Z]\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "recmix-make-matrix: " << message << '\n' << kUsage;
  std::exit(2);
}

template <class T>
T parse_number(std::string_view option, std::string_view text) {
  T value{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
    usage_error(std::string(option) + " expects a non-negative integer, got '" + std::string(text) + "'");
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<recmix::datasets::SyntheticShape> shape;
  std::optional<std::uint64_t> seed;
  std::string out;
  recmix::datasets::SyntheticSpec spec;
  for (int a = 1; a < argc; ++a) {
    std::string_view arg = argv[a];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    std::string_view value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg.starts_with("--")) {
      if (a + 1 >= argc) usage_error(std::string(arg) + " needs a value");
      value = argv[++a];
    } else {
      usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    if (arg == "--shape") {
      shape = recmix::datasets::parse_shape(value);
      if (!shape) usage_error("unknown shape '" + std::string(value) + "'");
    } else if (arg == "--seed") {
      seed = parse_number<std::uint64_t>(arg, value);
    } else if (arg == "--out") {
      out = std::string(value);
    } else if (arg == "--users") {
      spec.users = parse_number<recmix::Index>(arg, value);
      if (spec.users < 1) usage_error("--users must be >= 1");
    } else if (arg == "--items") {
      spec.items = parse_number<recmix::Index>(arg, value);
      if (spec.items < 1) usage_error("--items must be >= 1");
    } else if (arg == "--nnz") {
      spec.nnz = parse_number<std::int64_t>(arg, value);
      if (spec.nnz < 1) usage_error("--nnz must be >= 1");
    } else {
      usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (!shape) usage_error("--shape is required");
  if (!seed) usage_error("--seed is required");
  if (out.empty()) usage_error("--out is required");
  spec.shape = *shape;
  spec.seed = *seed;

  try {
    spec = recmix::datasets::resolve(spec);
  } catch (const recmix::invalid_argument& e) {
    usage_error(e.what());
  }
  const recmix::Index cap = recmix::datasets::degree_cap(spec);
  if (spec.nnz != 0 && (spec.nnz < spec.users || spec.nnz > static_cast<std::int64_t>(spec.users) * cap)) {
    usage_error("--nnz " + std::to_string(spec.nnz) + " is impossible for " + std::to_string(spec.users) +
                " users holding 1.." + std::to_string(cap) + " items each");
  }

  try {
    auto t0 = std::chrono::steady_clock::now();
    const recmix::InteractionMatrix m = recmix::datasets::synthetic_interactions(spec);
    const double gen_s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    recmix::io::write_coo(m, out);
    const double write_s = seconds_since(t0);
    std::cerr << "recmix-make-matrix: " << recmix::datasets::shape_name(spec.shape) << " seed " << spec.seed << " -> " << out
              << '\n'
              << recmix::datasets::describe(m);
    std::fprintf(stderr, "generated in %.2fs, written in %.2fs\n", gen_s, write_s);
  } catch (const std::exception& e) {
    std::cerr << "recmix-make-matrix: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
