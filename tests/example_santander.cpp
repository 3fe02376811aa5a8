// End-to-end test of the main example: generates a small Santander file, runs santander-hybrid
// on it with --submission and --report, and checks the program's promises against the data:
// the table names every model, the submission has one line per customer of the last month, up to
// seven known products each, best first, none held in the last month, and the report is a page
// with plots. The example's path comes from CMake (RECMIX_SANTANDER_HYBRID).

#include <doctest/doctest.h>

#include <recmix/datasets/santander.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace sd = recmix::datasets::santander;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

/// The rows of a printed table: name -> MAP@7, MAP@7 over adders, NDCG@3, recall@7[, weight,
/// fit s, predict s].
std::map<std::string, std::vector<double>> table_rows(const std::string& text) {
  std::map<std::string, std::vector<double>> rows;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    std::vector<double> values;
    double v = 0;
    while (words >> v) values.push_back(v);
    if (values.size() >= 4) rows[name] = values;
  }
  return rows;
}

/// The exit code of a shell command (-1 when it did not exit normally).
int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("santander example: runs end to end on a small generated file") {
  const fs::path dir = fs::temp_directory_path() / ("recmix_santander_e2e_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path data = dir / "train.csv", submission = dir / "submission.csv", report = dir / "report.html",
                 out = dir / "stdout.txt", err = dir / "stderr.txt";
  sd::generate({.customers = 3000, .seed = 11, .threads = 2}, data);

  const std::string exe = RECMIX_SANTANDER_HYBRID;
  const int rc = run(exe + " --data " + data.string() + " --submission " + submission.string() + " --report " + report.string() +
                     " --threads 2 --rounds 20 --seed 3 > " + out.string() + " 2> " + err.string());
  INFO("stderr:\n" << slurp(err));
  REQUIRE(rc == 0);

  const std::string table = slurp(out);
  for (const char* model : {"popularity", "als", "clusters", "trees", "blend", "MAP@7", "NDCG@3", "recall@7"}) {
    CHECK_MESSAGE(table.find(model) != std::string::npos, model);
  }

  const sd::Dataset d = sd::load(data);
  const recmix::Index last = d.num_months() - 1;
  const std::vector<recmix::Index> present = sd::customers_present(d, last);
  const recmix::InteractionMatrix held = sd::holdings(d, last);

  std::istringstream lines(slurp(submission));
  std::string line;
  REQUIRE(std::getline(lines, line));
  CHECK(line == "ncodpers,added_products");
  std::set<std::int64_t> seen;
  std::size_t rows = 0, full = 0;
  while (std::getline(lines, line)) {
    ++rows;
    const auto fields = split(line, ',');
    REQUIRE(fields.size() == 2);
    const std::int64_t id = std::stoll(fields[0]);
    CHECK(seen.insert(id).second);
    const recmix::Index c = d.customer_index(id);
    REQUIRE(c >= 0);
    CHECK(d.present(static_cast<std::size_t>(last), static_cast<std::size_t>(c)) == 1);
    const auto products = split(fields[1], ' ');
    CHECK(products.size() <= 7);
    full += products.size() == 7 ? 1 : 0;
    std::set<std::string> distinct;
    const auto row = held.row(c);
    for (const auto& name : products) {
      const recmix::Index p = sd::product_index(name);
      REQUIRE_MESSAGE(p >= 0, name);
      CHECK(distinct.insert(name).second);
      CHECK_MESSAGE(std::find(row.indices.begin(), row.indices.end(), p) == row.indices.end(),
                    "customer " << id << " already holds " << name);
    }
  }
  CHECK(rows == present.size());
  CHECK(full == rows);  // nobody holds 18 of the 24 products

  const std::string html = slurp(report);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("blend") != std::string::npos);

  // Malformed data in strict mode: a clear error naming the line, exit code 1, no crash.
  const fs::path bad = dir / "bad.csv";
  {
    std::ofstream o(bad);
    o << slurp(data).substr(0, 5000);
    o << "\n2016-05-28,12345,N,ES,H, 35\n";
  }
  const int rc_bad = run(exe + " --data " + bad.string() + " --strict > " + out.string() + " 2> " + err.string());
  CHECK(rc_bad != 0);
  CHECK(slurp(err).find("bad.csv:") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("santander example: on data it generates itself, the table has the generator's ceiling") {
  const fs::path dir = fs::temp_directory_path() / ("recmix_santander_ceiling_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string exe = RECMIX_SANTANDER_HYBRID;
  const int rc = run(exe + " --customers 3000 --threads 2 --rounds 20 --depth 3 --seed 5 > " + out.string() + " 2> " + err.string());
  INFO("stderr:\n" << slurp(err));
  REQUIRE(rc == 0);
  std::map<std::string, std::vector<double>> rows = table_rows(slurp(out));
  for (const char* model : {"popularity", "als", "clusters", "trees", "blend", "ceiling"}) {
    REQUIRE_MESSAGE(rows.count(model) == 1, model);
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(rows[model][k] >= 0.0);
      CHECK(rows[model][k] <= 1.0);
    }
  }
  CHECK(rows["ceiling"].size() == 4);  // no weight, no times: a reference, not a component
  CHECK(rows["ceiling"][1] > rows["popularity"][1]);

  // The same data written to a file with its truth file (santander-generate --truth) gives the
  // same table, ceiling included.
  sd::GenerateOptions o{.customers = 3000, .seed = 5, .threads = 1};
  o.truth_month = o.months - 1;
  o.truth_samples = 128;
  const fs::path data = dir / "train.csv", truth = dir / "truth.csv";
  const sd::GenerateSummary generated = sd::generate(o, data);
  sd::write_truth(generated.truth, truth);
  const fs::path out_file = dir / "stdout-file.txt";
  REQUIRE(run(exe + " --data " + data.string() + " --truth " + truth.string() + " --threads 2 --rounds 20 --depth 3 --seed 5 > " +
              out_file.string() + " 2> " + err.string()) == 0);
  const auto file_rows = table_rows(slurp(out_file));
  for (const char* model : {"popularity", "als", "clusters", "trees", "blend", "ceiling"}) {
    INFO(model);
    REQUIRE(file_rows.count(model) == 1);
    for (std::size_t k = 0; k < 4; ++k) CHECK(file_rows.at(model)[k] == rows[model][k]);
  }
  // Without --truth a file run has no ceiling; a truth of another month is refused.
  REQUIRE(run(exe + " --data " + data.string() + " --threads 2 --rounds 5 --depth 2 > " + out_file.string() + " 2> " + err.string()) == 0);
  CHECK(table_rows(slurp(out_file)).count("ceiling") == 0);
  o.truth_month = o.months - 2;
  o.truth_samples = 2;
  sd::write_truth(sd::generate(o, dir / "other.csv").truth, truth);
  CHECK(run(exe + " --data " + data.string() + " --truth " + truth.string() + " > " + out_file.string() + " 2> " + err.string()) == 1);
  CHECK(slurp(err).find("is for 2016-04-28, the test month is 2016-05-28") != std::string::npos);
  CHECK(run(exe + " --truth " + truth.string() + " > " + out_file.string() + " 2> " + err.string()) == 2);
  CHECK(slurp(err).find("--truth goes with --data") != std::string::npos);

  // --depth is checked like the other numbers.
  CHECK(run(exe + " --depth 0 > " + out.string() + " 2> " + err.string()) != 0);
  CHECK(slurp(err).find("--depth") != std::string::npos);
  fs::remove_all(dir);
}
