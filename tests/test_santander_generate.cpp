// Unit tests of the Santander-like file generator (recmix/datasets/santander_generate.hpp):
// determinism across runs and thread counts, the file format and its quirks, the summary
// against the text, the product shares and dynamics of the latent model, customers joining and
// leaving, argument checking, the atomic file output, and a strict load of the output.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/datasets/santander_generate.hpp>
#include <recmix/datasets/santander_load.hpp>
#include <recmix/io/csv.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace sd = recmix::datasets::santander;

namespace {

std::string generate_text(const sd::GenerateOptions& o, sd::GenerateSummary* summary = nullptr) {
  std::ostringstream out;
  const sd::GenerateSummary s = sd::generate(o, out);
  if (summary != nullptr) *summary = s;
  return out.str();
}

sd::GenerateOptions small_options(std::uint64_t seed = 42) {
  sd::GenerateOptions o;
  o.customers = 1500;
  o.seed = seed;
  o.threads = 1;
  return o;
}

/// One data row as the tests need it.
struct Row {
  int month = 0;  ///< snapshot index
  std::int64_t id = 0;
  std::uint32_t products = 0;
  bool active = false;
  bool blank = false;
  std::string segment;
};

/// The text split with CsvReader, plus counts of the quirks met.
struct Parsed {
  std::vector<std::string> header;
  std::vector<Row> rows;
  std::size_t bad_field_counts = 0;
  std::map<std::string, std::size_t> quirks;
  std::set<std::string> provinces;
};

Parsed parse_text(const std::string& text, bool header, int first_month) {
  Parsed r;
  std::istringstream in(text);
  recmix::io::CsvReader reader(in, "generated");
  std::vector<std::string_view> f;
  if (header) {
    REQUIRE(reader.next(f));
    for (auto v : f) r.header.emplace_back(v);
  }
  while (reader.next(f)) {
    if (f.size() != sd::kNumColumns) {
      ++r.bad_field_counts;
      continue;
    }
    Row row;
    row.month = sd::month_number(f[0]) - first_month;
    row.id = std::stoll(std::string(f[1]));
    bool blank = true;
    for (std::size_t k = 2; k < sd::kFirstProductColumn; ++k) blank = blank && f[k].empty();
    row.blank = blank;
    row.active = recmix::io::trim(f[21]) == "1";
    row.segment = std::string(f[23]);
    for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
      const std::string_view v = f[sd::kFirstProductColumn + p];
      if (recmix::io::trim(v) == "1") row.products |= 1u << p;
      if (v == "NA") ++r.quirks["product NA"];
      if (v == " 0" || v == " 1") ++r.quirks["product padded"];
    }
    if (blank) {
      ++r.quirks["blank demographics"];
    } else {
      const bool early = row.month + first_month < 2015 * 12 + 6;
      if (early && f[5].size() == 3 && f[5][0] == ' ') ++r.quirks["age padded"];
      if (!early && !f[5].empty() && f[5][0] != ' ') ++r.quirks["age plain"];
      if (early && f[8].size() == 7) ++r.quirks["antiguedad width 7"];
      if (!early && f[8].size() == 6) ++r.quirks["antiguedad width 6"];
      if (f[8] == "-999999") ++r.quirks["antiguedad -999999"];
      if (f[11] == "1.0") ++r.quirks["indrel_1mes 1.0"];
      if (f[11] == "1") ++r.quirks["indrel_1mes 1"];
      if (f[11] == "P") ++r.quirks["indrel_1mes P"];
      if (f[11] == "2" || f[11] == "3" || f[11] == "2.0" || f[11] == "3.0") ++r.quirks["indrel_1mes 2/3"];
      if (recmix::io::trim(f[9]) == "99") ++r.quirks["indrel 99"];
      if (!f[10].empty()) ++r.quirks["ult_fec_cli_1t"];
      if (f[22] == "NA") ++r.quirks["renta NA"];
      if (f[22] == "         NA") ++r.quirks["renta padded NA"];
      if (f[22].find('.') != std::string_view::npos && f[22].size() >= 3 && f[22][f[22].size() - 3] == '.') ++r.quirks["renta 2 decimals"];
      if (!f[20].empty()) r.provinces.emplace(f[20]);
      if (f[3] != "ES") ++r.quirks["foreign"];
      if (f[16].empty()) ++r.quirks["no channel"];
    }
    r.rows.push_back(std::move(row));
  }
  return r;
}

/// The ~20k-customer run most tests look at, made once.
struct Big {
  sd::GenerateOptions options;
  sd::GenerateSummary summary;
  std::string text;
  Parsed parsed;
  /// rows grouped by customer (id -> rows in month order)
  std::map<std::int64_t, std::vector<const Row*>> by_customer;
};

const Big& big() {
  static const Big b = [] {
    Big x;
    x.options.customers = 20000;
    x.options.seed = 7;
    x.options.threads = 2;
    x.text = generate_text(x.options, &x.summary);
    x.parsed = parse_text(x.text, true, x.options.first_month);
    for (const Row& r : x.parsed.rows) x.by_customer[r.id].push_back(&r);
    return x;
  }();
  return b;
}

int product(std::string_view name) { return static_cast<int>(sd::product_index(name)); }

}  // namespace

TEST_CASE("santander generate: same options give the same bytes, on any number of threads") {
  const sd::GenerateOptions o = small_options();
  const std::string a = generate_text(o);
  CHECK(a == generate_text(o));
  sd::GenerateOptions two = o;
  two.threads = 2;
  CHECK(a == generate_text(two));
  sd::GenerateOptions three = o;
  three.threads = 3;
  CHECK(a == generate_text(three));
  CHECK(a != generate_text(small_options(43)));
}

TEST_CASE("santander generate: header quoted, unquoted or absent") {
  sd::GenerateOptions o = small_options();
  o.customers = 50;
  o.months = 2;
  const std::string quoted = generate_text(o);
  CHECK(quoted.rfind("\"fecha_dato\",\"ncodpers\",\"ind_empleado\",", 0) == 0);
  CHECK(quoted.find("\"ind_recibo_ult1\"\n") != std::string::npos);
  o.quote_header = false;
  const std::string plain = generate_text(o);
  CHECK(plain.rfind("fecha_dato,ncodpers,ind_empleado,", 0) == 0);
  o.header = false;
  const std::string none = generate_text(o);
  CHECK(none.rfind("2015-01-28,", 0) == 0);
  // The data lines are the same whichever header.
  CHECK(quoted.substr(quoted.find('\n') + 1) == none);
  CHECK(plain.substr(plain.find('\n') + 1) == none);
  const Parsed p = parse_text(plain, true, o.first_month);
  REQUIRE(p.header.size() == sd::kNumColumns);
  for (std::size_t k = 0; k < sd::kNumColumns; ++k) CHECK(p.header[k] == sd::kColumnNames[k]);
}

TEST_CASE("santander generate: every line has 48 fields, rows ordered by month then ncodpers") {
  const Big& b = big();
  CHECK(b.parsed.bad_field_counts == 0);
  CHECK(b.parsed.rows.size() == b.summary.rows);
  CHECK(b.by_customer.size() == static_cast<std::size_t>(b.summary.customers));
  CHECK(b.summary.months == 17);
  bool ordered = true;
  std::set<int> months;
  for (std::size_t k = 0; k < b.parsed.rows.size(); ++k) {
    const Row& r = b.parsed.rows[k];
    months.insert(r.month);
    if (k > 0) {
      const Row& q = b.parsed.rows[k - 1];
      ordered = ordered && (q.month < r.month || (q.month == r.month && q.id < r.id));
    }
  }
  CHECK(ordered);
  CHECK(months.size() == 17);
  CHECK(*months.begin() == 0);
  CHECK(b.parsed.rows.front().id >= 15889);
  CHECK(b.parsed.rows.back().id <= 1553689);
  // Every line ends with '\n', the file has header + rows lines.
  CHECK(static_cast<std::size_t>(std::count(b.text.begin(), b.text.end(), '\n')) == b.summary.rows + 1);
}

TEST_CASE("santander generate: the summary counts what the text holds") {
  const Big& b = big();
  std::array<std::size_t, sd::kNumProducts> held{}, additions{};
  for (const auto& [id, rows] : b.by_customer) {
    for (std::size_t k = 0; k < rows.size(); ++k) {
      for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
        if (rows[k]->products >> p & 1u) {
          ++held[p];
          if (k > 0 && !(rows[k - 1]->products >> p & 1u)) ++additions[p];
        }
      }
    }
  }
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
    CAPTURE(sd::kProductNames[p]);
    CHECK(b.summary.additions[p] == additions[p]);
    CHECK(b.summary.prevalence[p] == doctest::Approx(static_cast<double>(held[p]) / static_cast<double>(b.summary.rows)));
  }
}

TEST_CASE("santander generate: product shares and additions like the real data") {
  const Big& b = big();
  const auto share = [&](std::string_view name) { return b.summary.prevalence[static_cast<std::size_t>(product(name))]; };
  CHECK(share("ind_cco_fin_ult1") == doctest::Approx(0.655).epsilon(0.06));
  CHECK(share("ind_ctop_fin_ult1") == doctest::Approx(0.129).epsilon(0.15));
  CHECK(share("ind_recibo_ult1") == doctest::Approx(0.128).epsilon(0.15));
  CHECK(share("ind_ecue_fin_ult1") == doctest::Approx(0.083).epsilon(0.2));
  CHECK(share("ind_cno_fin_ult1") == doctest::Approx(0.081).epsilon(0.2));
  CHECK(share("ind_nomina_ult1") == doctest::Approx(0.055).epsilon(0.2));
  CHECK(share("ind_nom_pens_ult1") == doctest::Approx(0.059).epsilon(0.2));
  CHECK(share("ind_reca_fin_ult1") == doctest::Approx(0.052).epsilon(0.25));
  CHECK(share("ind_tjcr_fin_ult1") == doctest::Approx(0.044).epsilon(0.25));
  CHECK(share("ind_dela_fin_ult1") == doctest::Approx(0.043).epsilon(0.25));
  CHECK(share("ind_valo_fin_ult1") == doctest::Approx(0.025).epsilon(0.3));
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
    CAPTURE(sd::kProductNames[p]);
    if (sd::kProductNames[p] != "ind_cco_fin_ult1") CHECK(b.summary.prevalence[p] < 0.2);
  }
  CHECK(share("ind_aval_fin_ult1") < 0.001);
  CHECK(share("ind_ahor_fin_ult1") < 0.001);
  // Customer-months with an addition: a few percent; the payroll / debit / card products lead.
  std::size_t months_with_addition = 0, customer_months = 0;
  for (const auto& [id, rows] : b.by_customer) {
    for (std::size_t k = 1; k < rows.size(); ++k) {
      ++customer_months;
      if (rows[k]->products & ~rows[k - 1]->products) ++months_with_addition;
    }
  }
  const double rate = static_cast<double>(months_with_addition) / static_cast<double>(customer_months);
  CHECK(rate > 0.025);
  CHECK(rate < 0.06);
  const auto adds = [&](std::string_view name) { return b.summary.additions[static_cast<std::size_t>(product(name))]; };
  CHECK(adds("ind_recibo_ult1") > adds("ind_ctop_fin_ult1") * 5);
  CHECK(adds("ind_nomina_ult1") > adds("ind_dela_fin_ult1") * 5);
  CHECK(adds("ind_tjcr_fin_ult1") > adds("ind_fond_fin_ult1") * 5);
}

TEST_CASE("santander generate: payroll and pensions (payroll) are held together") {
  const Big& b = big();
  const std::uint32_t nomina = 1u << product("ind_nomina_ult1"), pens = 1u << product("ind_nom_pens_ult1");
  const std::uint32_t cno = 1u << product("ind_cno_fin_ult1");
  std::size_t with_nomina = 0, both = 0, with_cno = 0, rows = 0, cno_rows = 0;
  for (const Row& r : b.parsed.rows) {
    ++rows;
    if (r.products & cno) ++cno_rows;
    if (!(r.products & nomina)) continue;
    ++with_nomina;
    if (r.products & pens) ++both;
    if (r.products & cno) ++with_cno;
  }
  REQUIRE(with_nomina > 1000);
  CHECK(static_cast<double>(both) / static_cast<double>(with_nomina) > 0.95);
  // payroll account: far more common with payroll than without
  CHECK(static_cast<double>(with_cno) / static_cast<double>(with_nomina) > 5.0 * static_cast<double>(cno_rows) / static_cast<double>(rows));
}

TEST_CASE("santander generate: taxes (reca) are added far more often in June") {
  const Big& b = big();
  const int reca = product("ind_reca_fin_ult1");
  std::vector<std::size_t> adds(17, 0), base(17, 0);
  for (const auto& [id, rows] : b.by_customer) {
    for (std::size_t k = 1; k < rows.size(); ++k) {
      const auto m = static_cast<std::size_t>(rows[k]->month);
      ++base[m];
      if ((rows[k]->products >> reca & 1u) && !(rows[k - 1]->products >> reca & 1u)) ++adds[m];
    }
  }
  // Snapshots 5 (2015-06) and ... none else in June within 17 months from 2015-01.
  const double june = static_cast<double>(adds[5]) / static_cast<double>(base[5]);
  std::size_t other_adds = 0, other_base = 0;
  for (std::size_t m = 1; m < 17; ++m) {
    if (m == 5) continue;
    other_adds += adds[m];
    other_base += base[m];
  }
  const double other = static_cast<double>(other_adds) / static_cast<double>(other_base);
  CAPTURE(june);
  CAPTURE(other);
  CHECK(june > 5.0 * other);
}

TEST_CASE("santander generate: customers join and leave") {
  const Big& b = big();
  std::int64_t max_first_month_id = 0;
  std::size_t joined = 0, left = 0, joined_bigger = 0;
  for (const auto& [id, rows] : b.by_customer) {
    if (rows.front()->month == 0) max_first_month_id = std::max(max_first_month_id, id);
    // months of a customer are consecutive
    bool consecutive = true;
    for (std::size_t k = 1; k < rows.size(); ++k) consecutive = consecutive && rows[k]->month == rows[k - 1]->month + 1;
    CHECK(consecutive);
    if (rows.back()->month < 16) ++left;
  }
  for (const auto& [id, rows] : b.by_customer) {
    if (rows.front()->month > 0) {
      ++joined;
      if (id > max_first_month_id) ++joined_bigger;
    }
  }
  CHECK(joined > 1000);  // ~0.8 % of the base a month
  CHECK(joined == joined_bigger);
  CHECK(left > 500);     // ~0.3 % a month
  CHECK(b.summary.customers == static_cast<recmix::Index>(20000 + joined));
  // New customers mostly start with a current account only, then add products.
  const std::uint32_t cco = 1u << product("ind_cco_fin_ult1");
  std::size_t start_cco = 0, start_more = 0, later_adds = 0, later_months = 0;
  for (const auto& [id, rows] : b.by_customer) {
    if (rows.front()->month == 0) continue;
    if (rows.front()->products == cco) ++start_cco;
    if (std::popcount(rows.front()->products) > 1) ++start_more;
    for (std::size_t k = 1; k < rows.size() && k <= 4; ++k) {
      ++later_months;
      if (rows[k]->products & ~rows[k - 1]->products) ++later_adds;
    }
  }
  CHECK(static_cast<double>(start_cco) > 0.7 * static_cast<double>(joined));
  CHECK(start_more < joined / 20);
  CHECK(static_cast<double>(later_adds) / static_cast<double>(later_months) > 0.03);
}

TEST_CASE("santander generate: the real file's quirks are present") {
  const Big& b = big();
  const auto& q = b.parsed.quirks;
  const auto count = [&](const std::string& k) {
    auto it = q.find(k);
    return it == q.end() ? std::size_t{0} : it->second;
  };
  const auto rows = static_cast<double>(b.summary.rows);
  CHECK(count("age padded") > 0);
  CHECK(count("age plain") > 0);
  CHECK(count("antiguedad width 7") > 0);
  CHECK(count("antiguedad width 6") > 0);
  CHECK(count("antiguedad -999999") > 0);
  CHECK(count("indrel_1mes 1.0") > 0);
  CHECK(count("indrel_1mes 1") > count("indrel_1mes 1.0"));
  CHECK(count("indrel_1mes P") > 0);
  CHECK(count("indrel_1mes 2/3") > 0);
  CHECK(count("indrel 99") > 0);
  CHECK(count("ult_fec_cli_1t") > 0);
  CHECK(count("ult_fec_cli_1t") < static_cast<std::size_t>(0.01 * rows));
  CHECK(count("renta NA") > 0);
  CHECK(count("renta padded NA") > 0);
  CHECK(static_cast<double>(count("renta NA") + count("renta padded NA")) == doctest::Approx(0.2 * rows).epsilon(0.1));
  CHECK(count("renta 2 decimals") > 0);
  CHECK(count("product NA") > 0);
  CHECK(count("product padded") > 0);
  CHECK(count("blank demographics") > 0);
  CHECK(count("blank demographics") < static_cast<std::size_t>(0.01 * rows));
  CHECK(count("foreign") > 0);
  CHECK(count("no channel") > 0);
  for (const char* name : {"CORUÑA, A", "BALEARS, ILLES", "PALMAS, LAS", "RIOJA, LA"}) {
    CAPTURE(name);
    CHECK(b.parsed.provinces.count(name) == 1);
    CHECK(b.text.find(std::string(",\"") + name + "\",") != std::string::npos);
  }
  CHECK(b.parsed.provinces.size() == 52);
  // The first line of data has the early layout.
  const std::string first = b.text.substr(b.text.find('\n') + 1, 200);
  CHECK(first.rfind("2015-01-28,", 0) == 0);
}

TEST_CASE("santander generate: demographics, activity and history carry signal") {
  const Big& b = big();
  const std::uint32_t fond = 1u << product("ind_fond_fin_ult1"), valo = 1u << product("ind_valo_fin_ult1");
  std::size_t top = 0, top_inv = 0, part = 0, part_inv = 0;
  for (const Row& r : b.parsed.rows) {
    const bool inv = (r.products & (fond | valo)) != 0;
    if (r.segment == "01 - TOP") ++top, top_inv += inv;
    if (r.segment == "02 - PARTICULARES") ++part, part_inv += inv;
  }
  REQUIRE(top > 1000);
  CHECK(static_cast<double>(top_inv) / static_cast<double>(top) > 4.0 * static_cast<double>(part_inv) / static_cast<double>(part));
  // Active customers add products more often; a product dropped lately comes back more often
  // than a product never held is taken.
  std::size_t act = 0, act_add = 0, inact = 0, inact_add = 0;
  const int nomina = product("ind_nomina_ult1");
  std::size_t readd_base = 0, readd = 0, fresh_base = 0, fresh = 0;
  for (const auto& [id, rows] : b.by_customer) {
    for (std::size_t k = 1; k < rows.size(); ++k) {
      const bool added = (rows[k]->products & ~rows[k - 1]->products) != 0;
      if (rows[k - 1]->active) ++act, act_add += added;
      else ++inact, inact_add += added;
      if (k < 3) continue;
      const bool had_before = (rows[k - 2]->products >> nomina & 1u) || (rows[k - 3]->products >> nomina & 1u);
      if (rows[k - 1]->products >> nomina & 1u) continue;
      const bool now = rows[k]->products >> nomina & 1u;
      if (had_before) ++readd_base, readd += now;
      else ++fresh_base, fresh += now;
    }
  }
  CHECK(static_cast<double>(act_add) / static_cast<double>(act) > 3.0 * static_cast<double>(inact_add) / static_cast<double>(inact));
  REQUIRE(readd_base > 100);
  CHECK(static_cast<double>(readd) / static_cast<double>(readd_base) > 10.0 * static_cast<double>(fresh) / static_cast<double>(fresh_base));
}

TEST_CASE("santander generate: invalid options throw, naming the option") {
  const auto message = [](const sd::GenerateOptions& o) -> std::string {
    std::ostringstream out;
    try {
      (void)sd::generate(o, out);
    } catch (const recmix::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  const auto with = [](auto change) {
    sd::GenerateOptions o = small_options();
    change(o);
    return o;
  };
  CHECK(message(with([](auto& o) { o.customers = 0; })).find("customers") != std::string::npos);
  CHECK(message(with([](auto& o) { o.months = 0; })).find("months") != std::string::npos);
  CHECK(message(with([](auto& o) { o.months = 500; })).find("months") != std::string::npos);
  CHECK(message(with([](auto& o) { o.first_month = 12; })).find("first_month") != std::string::npos);
  CHECK(message(with([](auto& o) { o.threads = -1; })).find("threads") != std::string::npos);
  CHECK(message(with([](auto& o) { o.join_rate = -0.1; })).find("join_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.leave_rate = 1.0; })).find("leave_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.income_na_rate = 1.5; })).find("income_na_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.payroll_na_rate = -1; })).find("payroll_na_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.blank_demographics_rate = 2; })).find("blank_demographics_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.missing_field_rate = 2; })).find("missing_field_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.unknown_seniority_rate = 2; })).find("unknown_seniority_rate") != std::string::npos);
  CHECK(message(with([](auto& o) { o.truth_month = 0; })).find("truth_month") != std::string::npos);
  CHECK(message(with([](auto& o) { o.truth_month = o.months; })).find("truth_month") != std::string::npos);
  CHECK(message(with([](auto& o) { o.truth_month = -2; })).find("truth_month") != std::string::npos);
  CHECK(message(with([](auto& o) { o.truth_samples = 0; })).find("truth_samples") != std::string::npos);
  CHECK(message(with([](auto& o) { o.truth_samples = 100001; })).find("truth_samples") != std::string::npos);
  CHECK(message(small_options()).empty());
  // Edge values work: one customer, one month, no joins or leaves.
  sd::GenerateOptions one = small_options();
  one.customers = 1;
  one.months = 1;
  one.join_rate = 0;
  one.leave_rate = 0;
  sd::GenerateSummary s;
  const std::string text = generate_text(one, &s);
  CHECK(s.rows == 1);
  CHECK(s.customers == 1);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("santander generate: the truth leaves the file as it is and does not depend on threads") {
  sd::GenerateOptions o = small_options();
  sd::GenerateSummary plain, with_truth, with_truth_2;
  const std::string text = generate_text(o, &plain);
  CHECK(plain.truth.month == -1);
  CHECK(plain.truth.customers.empty());
  CHECK(plain.truth.probabilities.empty());
  o.truth_month = 12;
  o.truth_samples = 8;
  CHECK(generate_text(o, &with_truth) == text);
  o.threads = 2;
  CHECK(generate_text(o, &with_truth_2) == text);
  CHECK(with_truth.truth.month == 12);
  CHECK(with_truth.truth.customers == with_truth_2.truth.customers);
  CHECK(with_truth.truth.probabilities == with_truth_2.truth.probabilities);
}

TEST_CASE("santander generate: the truth gives the chances of the additions the file shows") {
  // Identities: the truth covers exactly the customers present that month, is 0 for products
  // written the month before, is exact for a customer's first month (a current account with
  // chance 0.88, or 0.4 plus a junior account with 0.6 for minors), and its sums are the
  // expected numbers of additions, which the file's counts must match within sampling error.
  sd::GenerateOptions o;
  o.customers = 8000;
  o.months = 6;
  o.seed = 21;
  o.threads = 2;
  o.join_rate = 0.02;
  o.truth_month = 5;
  o.truth_samples = 256;
  sd::GenerateSummary s;
  const Parsed parsed = parse_text(generate_text(o, &s), true, o.first_month);
  std::map<std::int64_t, std::array<std::int64_t, 2>> products;  // id -> products at months 4 and 5 (-1 absent)
  std::map<std::int64_t, int> first_month;
  for (const Row& r : parsed.rows) {
    if (!first_month.count(r.id)) first_month[r.id] = r.month;
    if (r.month >= 4) {
      auto [it, fresh] = products.try_emplace(r.id, std::array<std::int64_t, 2>{-1, -1});
      it->second[static_cast<std::size_t>(r.month - 4)] = r.products;
    }
  }
  std::vector<std::int64_t> present;
  for (const auto& [id, p] : products) {
    if (p[1] >= 0) present.push_back(id);
  }
  REQUIRE(s.truth.month == 5);
  REQUIRE(s.truth.customers == present);  // ascending, like the map
  REQUIRE(s.truth.probabilities.size() == present.size() * sd::kNumProducts);

  std::array<double, sd::kNumProducts> expected{}, observed{};
  // Calibration by level of chance: pairs (customer, product) binned by their chance.
  constexpr std::array<double, 6> kEdges = {0.0, 0.01, 0.05, 0.2, 0.5, 1.01};
  std::array<double, 5> bin_expected{}, bin_observed{}, bin_variance{};
  std::size_t joiners = 0;
  for (std::size_t i = 0; i < present.size(); ++i) {
    const float* chance = s.truth.probabilities.data() + i * sd::kNumProducts;
    const auto [before, now] = products.at(present[i]);
    const auto held_before = static_cast<std::uint32_t>(std::max<std::int64_t>(before, 0));
    for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
      CHECK(chance[p] >= 0.0f);
      CHECK(chance[p] <= 1.0f);
      if (held_before & (1u << p)) CHECK(chance[p] == 0.0f);
      const bool added = ((static_cast<std::uint32_t>(now) & ~held_before) & (1u << p)) != 0;
      expected[p] += chance[p];
      observed[p] += added ? 1.0 : 0.0;
      const auto bin = static_cast<std::size_t>(std::upper_bound(kEdges.begin(), kEdges.end(), static_cast<double>(chance[p])) - kEdges.begin() - 1);
      bin_expected[bin] += chance[p];
      bin_observed[bin] += added ? 1.0 : 0.0;
      bin_variance[bin] += chance[p] * (1.0 - chance[p]);
    }
    if (first_month.at(present[i]) == 5) {
      ++joiners;
      const auto cco = static_cast<std::size_t>(product("ind_cco_fin_ult1")), ctju = static_cast<std::size_t>(product("ind_ctju_fin_ult1"));
      const bool adult = chance[ctju] == 0.0f;
      CHECK(chance[cco] == doctest::Approx(adult ? 0.88 : 0.4));
      if (!adult) CHECK(chance[ctju] == doctest::Approx(0.6));
      for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
        if (p != cco && p != ctju) CHECK(chance[p] == 0.0f);
      }
    }
  }
  CHECK(joiners > 50);
  double all_expected = 0, all_observed = 0;
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
    INFO("product " << sd::kProductNames[p] << ": observed " << observed[p] << ", expected " << expected[p]);
    CHECK(std::abs(observed[p] - expected[p]) <= 4.0 * std::sqrt(expected[p]) + 2.0);
    all_expected += expected[p];
    all_observed += observed[p];
  }
  for (std::size_t b = 0; b < bin_expected.size(); ++b) {
    INFO("chances in [" << kEdges[b] << ", " << kEdges[b + 1] << "): observed " << bin_observed[b] << ", expected " << bin_expected[b]);
    CHECK(std::abs(bin_observed[b] - bin_expected[b]) <= 4.0 * std::sqrt(bin_variance[b]) + 2.0);
  }
  INFO("all products: observed " << all_observed << ", expected " << all_expected);
  CHECK(all_expected > 400.0);
  CHECK(std::abs(all_observed - all_expected) <= 4.0 * std::sqrt(all_expected));
}

TEST_CASE("santander generate: file output is atomic and reports I/O errors") {
  const std::filesystem::path dir = std::filesystem::path(RECMIX_TESTS_BINARY_DIR) / "santander_generate_tmp";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "train.csv";
  sd::GenerateOptions o = small_options();
  o.customers = 300;
  const sd::GenerateSummary s = sd::generate(o, file);
  CHECK(std::filesystem::exists(file));
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == generate_text(o));
  CHECK(s.rows + 1 == static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')));
  CHECK_THROWS_AS(sd::generate(o, dir / "missing" / "train.csv"), recmix::io_error);
  CHECK_THROWS_AS(sd::generate(o, dir), recmix::io_error);  // a directory
  o.customers = 0;
  CHECK_THROWS_AS(sd::generate(o, dir / "bad.csv"), recmix::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(dir / "bad.csv"));
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  std::filesystem::remove_all(dir);
}

TEST_CASE("santander generate: the truth file reads back exactly") {
  sd::GenerateOptions o = small_options();
  o.truth_month = 12;
  o.truth_samples = 8;
  sd::GenerateSummary s;
  (void)generate_text(o, &s);
  CHECK(s.truth.date == "2016-01-28");  // 2015-01 + 12 months
  REQUIRE(s.truth.customers.size() > 1000);
  std::ostringstream out;
  sd::write_truth(s.truth, out);
  const std::string text = out.str();
  CHECK(text.rfind("fecha_dato,ncodpers,ind_ahor_fin_ult1,ind_aval_fin_ult1,", 0) == 0);
  CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) == s.truth.customers.size() + 1);
  std::istringstream in(text);
  const sd::GenerateTruth back = sd::read_truth(in);
  CHECK(back.month == -1);  // a file does not know its snapshot index
  CHECK(back.date == s.truth.date);
  CHECK(back.customers == s.truth.customers);
  CHECK(back.probabilities == s.truth.probabilities);  // 9 significant digits: every float exactly

  // CRLF line ends and blank lines read the same.
  std::string crlf;
  for (char ch : text) {
    if (ch == '\n') crlf += "\r\n\r\n";
    else crlf += ch;
  }
  std::istringstream in_crlf(crlf);
  CHECK(sd::read_truth(in_crlf).probabilities == s.truth.probabilities);

  // Files: written atomically, read back; an empty truth is just the header.
  const std::filesystem::path dir = std::filesystem::path(RECMIX_TESTS_BINARY_DIR) / "santander_truth_tmp";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  sd::write_truth(s.truth, dir / "truth.csv");
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  CHECK(sd::read_truth(dir / "truth.csv").probabilities == s.truth.probabilities);
  sd::write_truth(sd::GenerateTruth{}, dir / "empty.csv");
  const sd::GenerateTruth empty = sd::read_truth(dir / "empty.csv");
  CHECK(empty.customers.empty());
  CHECK(empty.date.empty());
  CHECK_THROWS_AS(sd::write_truth(s.truth, dir / "missing" / "truth.csv"), recmix::io_error);
  CHECK_THROWS_WITH_AS(sd::read_truth(dir / "missing.csv"), doctest::Contains("cannot open"), recmix::io_error);
  sd::GenerateTruth odd = s.truth;
  odd.probabilities.pop_back();
  CHECK_THROWS_WITH_AS(sd::write_truth(odd, dir / "odd.csv"), doctest::Contains("need 24 each"), recmix::invalid_argument);
  odd = s.truth;
  odd.date = "2016-13-28";
  CHECK_THROWS_WITH_AS(sd::write_truth(odd, dir / "odd.csv"), doctest::Contains("bad date"), recmix::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(dir / "odd.csv"));
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  std::filesystem::remove_all(dir);
}

TEST_CASE("santander generate: every malformed truth line is a parse_error naming line and column") {
  std::string header = "fecha_dato,ncodpers";
  for (auto name : sd::kProductNames) {
    header += ',';
    header += name;
  }
  const auto row = [](const std::string& date, const std::string& id, const std::string& chance, int at = -1) {
    std::string r = date;
    r += ',';
    r += id;
    for (int p = 0; p < 24; ++p) {
      r += ',';
      r += p == at ? chance : std::string("0.25");
    }
    r += '\n';
    return r;
  };
  const std::string good = header + "\n" + row("2016-05-28", "15", "0") + row("2016-05-28", "17", "1", 3);
  {
    std::istringstream in(good);
    const sd::GenerateTruth t = sd::read_truth(in, "truth.csv");
    CHECK(t.customers == std::vector<std::int64_t>{15, 17});
    CHECK(t.probabilities[24 + 3] == 1.0f);
    CHECK(t.probabilities[0] == 0.25f);
  }
  struct Case {
    std::string text, message;
    std::size_t line, column;
  };
  std::string wrong_header = header;
  wrong_header.replace(wrong_header.find("ind_cco_fin_ult1"), 3, "xxx");  // the 5th field
  const std::string line2 = row("2016-05-28", "15", "0");
  const std::vector<Case> cases = {
      {"", "empty file", 1, 1},
      {wrong_header + "\n" + line2, "the header", 1, 5},
      {header + "\n" + "2016-05-28,15,0.5\n", "3 fields, expected 26", 2, 3},
      {header + "\n" + line2.substr(0, line2.size() - 1) + ",0.5\n", "27 fields, expected 26", 2, 27},
      {header + "\n" + row("2016-13-28", "15", "0"), "bad date '2016-13-28'", 2, 1},
      {header + "\n" + line2 + row("2016-04-28", "16", "0"), "differs from the first line's 2016-05-28", 3, 1},
      {header + "\n" + row("2016-05-28", "15x", "0"), "ncodpers '15x' is not an integer", 2, 2},
      {header + "\n" + row("2016-05-28", "", "0"), "ncodpers '' is not an integer", 2, 2},
      {header + "\n" + line2 + row("2016-05-28", "15", "0"), "ncodpers 15 is not above the line before's 15", 3, 2},
      {header + "\n" + row("2016-05-28", "15", "1.5", 0), "ind_ahor_fin_ult1 '1.5' is not a chance", 2, 3},
      {header + "\n" + row("2016-05-28", "15", "-0.1", 23), "ind_recibo_ult1 '-0.1' is not a chance", 2, 26},
      {header + "\n" + row("2016-05-28", "15", "nan", 2), "'nan' is not a chance", 2, 5},
      {header + "\n" + row("2016-05-28", "15", "", 2), "'' is not a chance", 2, 5},
      {header + "\n" + row("2016-05-28", "15", "0.5e", 2), "'0.5e' is not a chance", 2, 5},
  };
  for (const Case& c : cases) {
    INFO("expected: " << c.message);
    std::istringstream in(c.text);
    try {
      (void)sd::read_truth(in, "truth.csv");
      FAIL("no parse_error");
    } catch (const recmix::parse_error& e) {
      CHECK(e.source() == "truth.csv");
      CHECK(e.line() == c.line);
      CHECK(e.column() == c.column);
      CHECK(std::string(e.what()).find(c.message) != std::string::npos);
    }
  }
}

TEST_CASE("santander generate: the loader reads the output in strict mode") {
  sd::GenerateOptions o = small_options();
  o.customers = 3000;
  sd::GenerateSummary s;
  const std::string text = generate_text(o, &s);
  sd::LoadOptions lo;
  lo.mode = sd::LoadMode::strict;
  lo.threads = 2;
  const sd::Dataset d = sd::parse(text, lo);
  CHECK(d.report.rows == s.rows);
  CHECK(d.report.skipped == 0);
  CHECK(d.num_customers() == s.customers);
  CHECK(d.num_months() == s.months);
  CHECK(d.report.blank_customers > 0);
  CHECK(d.report.missing_product_flags > 0);
  // Holdings as loaded match the summary.
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) {
    std::size_t held = 0;
    for (std::size_t m = 0; m < d.products.shape(0); ++m) {
      for (std::size_t c = 0; c < d.products.shape(1); ++c) held += d.products(m, c, p);
    }
    CAPTURE(sd::kProductNames[p]);
    CHECK(static_cast<double>(held) / static_cast<double>(s.rows) == doctest::Approx(s.prevalence[p]));
  }
}
