// Unit tests of the Santander file reader (recmix/datasets/santander_load.hpp): hand-written
// lines with every quirk of the real train_ver2.csv (padded numbers, NA spellings, blank
// customers, float-written categories, quoted provinces, headers, CRLF), hand-checked values,
// the line and field of every strict-mode error, lenient counts and examples, duplicates,
// sorted dictionaries, and identical results for any thread count, block size and for a file.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/datasets/santander_load.hpp>
#include <recmix/datasets/santander_schema.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sd = recmix::datasets::santander;
namespace fs = std::filesystem;
using sd::Categorical;
using sd::Dataset;
using sd::LoadMode;
using sd::LoadOptions;
using sd::Numeric;

namespace {

using recmix::test::TempDir;

/// The fields of a realistic line (the first line of the real file).
std::array<std::string, 48> default_fields() {
  std::array<std::string, 48> f = {"2015-01-28", "1375586", "N",  "ES", "H", " 35", "2015-01-12", " 0",
                                   "      6",    " 1",      "",   "1.0", "A", "S",   "N",          "",
                                   "KHE",        "N",       " 1", "29", "MALAGA", " 1", "87218.1", "02 - PARTICULARES"};
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) f[sd::kFirstProductColumn + p].assign(1, '0');
  f[26] = "1";  // ind_cco_fin_ult1
  return f;
}

std::size_t column_of(std::string_view name) {
  for (std::size_t c = 0; c < sd::kNumColumns; ++c) {
    if (sd::kColumnNames[c] == name) return c;
  }
  FAIL("no column " << name);
  return 0;
}

using Overrides = std::initializer_list<std::pair<std::string_view, std::string>>;

std::string join(const std::array<std::string, 48>& f) {
  std::string s;
  for (std::size_t c = 0; c < f.size(); ++c) {
    if (c > 0) s += ',';
    s += f[c];
  }
  return s;
}

/// One line (with "\n"): the default fields, fecha_dato and ncodpers set, then the overrides
/// (raw text, quotes included) by column name.
std::string line(std::string_view date, std::string_view id, Overrides set = {}) {
  auto f = default_fields();
  f[0] = std::string(date);
  f[1] = std::string(id);
  for (const auto& [name, value] : set) f[column_of(name)] = value;
  return join(f) + "\n";
}

/// `s` in double quotes (appends: GCC 12 warns falsely, -Wrestrict, on "literal" + string).
std::string quote(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  q += s;
  q += '"';
  return q;
}

std::string prefixed(std::string_view prefix, int i) {
  std::string q(prefix);
  q += std::to_string(i);
  return q;
}

std::string header(bool quoted) {
  std::string s;
  for (std::size_t c = 0; c < sd::kNumColumns; ++c) {
    if (c > 0) s += ',';
    s += quoted ? quote(sd::kColumnNames[c]) : std::string(sd::kColumnNames[c]);
  }
  return s + "\n";
}

LoadOptions strict(int threads = 1) {
  LoadOptions o;
  o.mode = LoadMode::strict;
  o.threads = threads;
  return o;
}

LoadOptions lenient(int threads = 1, std::size_t block_size = LoadOptions{}.block_size) {
  LoadOptions o;
  o.threads = threads;
  o.block_size = block_size;
  return o;
}

float num(const Dataset& d, std::size_t m, std::int64_t id, Numeric what) {
  const auto c = d.customer_index(id);
  REQUIRE(c >= 0);
  return d.numeric_value(static_cast<recmix::Index>(m), c, what);
}

std::string cat(const Dataset& d, std::size_t m, std::int64_t id, Categorical what) {
  const auto c = d.customer_index(id);
  REQUIRE(c >= 0);
  return d.category(what, d.code(static_cast<recmix::Index>(m), c, what));
}

int prod(const Dataset& d, std::size_t m, std::int64_t id, std::string_view product) {
  const auto c = d.customer_index(id);
  REQUIRE(c >= 0);
  const auto p = sd::product_index(product);
  REQUIRE(p >= 0);
  return d.products(m, static_cast<std::size_t>(c), static_cast<std::size_t>(p));
}

/// The categories of a column joined with '|' (readable in failure messages).
std::string cats(const Dataset& d, Categorical what) {
  std::string s;
  for (const std::string& v : d.categories[static_cast<std::size_t>(what)]) {
    if (!s.empty()) s += '|';
    s += v;
  }
  return s;
}

/// Strings joined with '\n' (readable in failure messages).
std::string lines_of(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) {
    s += x;
    s += '\n';
  }
  return s;
}

/// Runs a strict parse that must fail at (line, column) with `reason`.
void expect_error(const std::string& text, std::size_t line_no, std::size_t column, const std::string& reason,
                  LoadOptions options = strict()) {
  options.mode = LoadMode::strict;
  INFO("text: " << text);
  bool thrown = false;
  try {
    (void)sd::parse(text, options);
  } catch (const recmix::parse_error& e) {
    thrown = true;
    CHECK(e.source() == "<memory>");
    CHECK(e.line() == line_no);
    CHECK(e.column() == column);
    CHECK(std::string(e.what()) == "<memory>:" + std::to_string(line_no) + ":" + std::to_string(column) + ": " + reason);
  }
  CHECK(thrown);
}

/// Everything two loads should share (seconds excluded).
void check_same(const Dataset& a, const Dataset& b, bool compare_header = true) {
  CHECK(a.months == b.months);
  CHECK(a.month_numbers == b.month_numbers);
  CHECK(a.customers == b.customers);
  CHECK(a.categories == b.categories);
  REQUIRE(a.present.shape() == b.present.shape());
  REQUIRE(a.products.shape() == b.products.shape());
  REQUIRE(a.numeric.shape() == b.numeric.shape());
  REQUIRE(a.categorical.shape() == b.categorical.shape());
  CHECK(std::memcmp(a.present.data(), b.present.data(), a.present.size()) == 0);
  CHECK(std::memcmp(a.products.data(), b.products.data(), a.products.size()) == 0);
  CHECK(std::memcmp(a.numeric.data(), b.numeric.data(), a.numeric.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.categorical.data(), b.categorical.data(), a.categorical.size()) == 0);
  if (compare_header) CHECK(a.report.header == b.report.header);
  CHECK(a.report.lines == b.report.lines);
  CHECK(a.report.rows == b.report.rows);
  CHECK(a.report.skipped == b.report.skipped);
  CHECK(a.report.skipped_by_reason == b.report.skipped_by_reason);
  CHECK(lines_of(a.report.examples) == lines_of(b.report.examples));
  CHECK(a.report.missing_product_flags == b.report.missing_product_flags);
  CHECK(a.report.blank_customers == b.report.blank_customers);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.is_open());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  REQUIRE(out.good());
}

constexpr int kJan2015 = 2015 * 12;  // month number of 2015-01

}  // namespace

TEST_CASE("santander load: a small file with a quoted header, every value hand-checked") {
  const std::string text = header(true) +  //
                           line("2015-01-28", "1375586") +
                           line("2015-01-28", "1050611",
                                {{"sexo", "V"},
                                 {"age", "  23"},
                                 {"antiguedad", "     35"},
                                 {"indrel_1mes", "1"},
                                 {"canal_entrada", "KFC"},
                                 {"cod_prov", "15"},
                                 {"nomprov", "\"CORUÑA, A\""},
                                 {"renta", "   87218.10"},
                                 {"ind_ahor_fin_ult1", "1"},
                                 {"ind_cco_fin_ult1", "0"},
                                 {"ind_recibo_ult1", " 1"}}) +
                           line("2015-02-28", "1375586",
                                {{"age", " 36"}, {"antiguedad", "      7"}, {"indrel_1mes", "P"}, {"renta", "         NA"}});
  const Dataset d = sd::parse(text);

  REQUIRE(d.months == std::vector<std::string>{"2015-01-28", "2015-02-28"});
  CHECK(d.month_numbers == std::vector<int>{kJan2015, kJan2015 + 1});
  REQUIRE(d.customers == std::vector<std::int64_t>{1050611, 1375586});
  REQUIRE(d.present.shape()[0] == 2);
  REQUIRE(d.present.shape()[1] == 2);
  CHECK(d.products.shape()[2] == sd::kNumProducts);
  CHECK(d.numeric.shape()[2] == sd::kNumNumeric);
  CHECK(d.categorical.shape()[2] == sd::kNumCategorical);

  CHECK(d.present(0, 0) == 1);
  CHECK(d.present(0, 1) == 1);
  CHECK(d.present(1, 0) == 0);  // 1050611 absent in February
  CHECK(d.present(1, 1) == 1);

  CHECK(num(d, 0, 1375586, Numeric::age) == 35.0f);
  CHECK(num(d, 0, 1050611, Numeric::age) == 23.0f);
  CHECK(num(d, 1, 1375586, Numeric::age) == 36.0f);
  CHECK(num(d, 0, 1375586, Numeric::seniority) == 6.0f);
  CHECK(num(d, 0, 1050611, Numeric::seniority) == 35.0f);
  CHECK(num(d, 1, 1375586, Numeric::seniority) == 7.0f);
  CHECK(num(d, 0, 1375586, Numeric::income) == 87218.1f);
  CHECK(num(d, 0, 1050611, Numeric::income) == 87218.1f);
  CHECK(std::isnan(num(d, 1, 1375586, Numeric::income)));
  CHECK(num(d, 0, 1375586, Numeric::joined) == static_cast<float>(kJan2015));

  CHECK(cats(d, Categorical::relation_month) == "1|P");
  CHECK(cat(d, 0, 1375586, Categorical::relation_month) == "1");  // written 1.0
  CHECK(cat(d, 0, 1050611, Categorical::relation_month) == "1");  // written 1
  CHECK(d.code(0, 1, Categorical::relation_month) == 1);
  CHECK(d.code(0, 0, Categorical::relation_month) == 1);
  CHECK(d.code(1, 1, Categorical::relation_month) == 2);
  CHECK(cats(d, Categorical::province) == "CORUÑA, A|MALAGA");
  CHECK(cat(d, 0, 1050611, Categorical::province) == "CORUÑA, A");
  CHECK(cats(d, Categorical::province_code) == "15|29");
  CHECK(cats(d, Categorical::sex) == "H|V");
  CHECK(cats(d, Categorical::channel) == "KFC|KHE");
  CHECK(cats(d, Categorical::segment) == "02 - PARTICULARES");
  CHECK(cats(d, Categorical::new_customer) == "0");
  CHECK(cats(d, Categorical::spouse) == "");
  CHECK(d.code(0, 1, Categorical::spouse) == 0);
  CHECK(d.code_of(Categorical::sex, "V") == 2);

  CHECK(prod(d, 0, 1375586, "ind_cco_fin_ult1") == 1);
  CHECK(prod(d, 0, 1050611, "ind_cco_fin_ult1") == 0);
  CHECK(prod(d, 0, 1050611, "ind_ahor_fin_ult1") == 1);
  CHECK(prod(d, 0, 1050611, "ind_recibo_ult1") == 1);
  CHECK(prod(d, 1, 1375586, "ind_cco_fin_ult1") == 1);

  // the absent cell
  for (std::size_t p = 0; p < sd::kNumProducts; ++p) CHECK(d.products(1, 0, p) == 0);
  for (std::size_t k = 0; k < sd::kNumNumeric; ++k) CHECK(std::isnan(d.numeric(1, 0, k)));
  for (std::size_t k = 0; k < sd::kNumCategorical; ++k) CHECK(d.categorical(1, 0, k) == 0);

  CHECK(d.report.source == "<memory>");
  CHECK(d.report.header);
  CHECK(d.report.lines == 3);
  CHECK(d.report.rows == 3);
  CHECK(d.report.skipped == 0);
  CHECK(d.report.skipped_by_reason.empty());
  CHECK(d.report.examples.empty());
  CHECK(d.report.missing_product_flags == 0);
  CHECK(d.report.blank_customers == 0);
  CHECK(d.report.seconds >= 0.0);
}

TEST_CASE("santander load: padded numbers, NA spellings and seniority -999999") {
  const std::string text = line("2015-01-28", "1", {{"age", " NA"}, {"antiguedad", "-999999"}, {"renta", "         NA"}}) +
                           line("2015-01-28", "2", {{"age", "NA"}, {"antiguedad", "     NA"}, {"renta", ""}}) +
                           line("2015-01-28", "3", {{"age", ""}, {"antiguedad", "  -999999"}, {"renta", "\"  1234.5 \""}}) +
                           line("2015-01-28", "4", {{"age", "\t+40 "}, {"antiguedad", "     -1"}, {"renta", "1.5e3"}}) +
                           line("2015-01-28", "5", {{"age", "  7.5"}, {"antiguedad", "0"}, {"fecha_alta", " 1995-02-28 "}}) +
                           line("2015-01-28", "6", {{"fecha_alta", ""}, {"ult_fec_cli_1t", "2015-07-02"}}) +
                           line("2015-01-28", "7", {{"fecha_alta", "NA"}, {"ult_fec_cli_1t", " NA"}});
  const Dataset d = sd::parse(text, strict());
  REQUIRE(d.customers == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(std::isnan(num(d, 0, 1, Numeric::age)));
  CHECK(std::isnan(num(d, 0, 1, Numeric::seniority)));
  CHECK(std::isnan(num(d, 0, 1, Numeric::income)));
  CHECK(std::isnan(num(d, 0, 2, Numeric::age)));
  CHECK(std::isnan(num(d, 0, 2, Numeric::seniority)));
  CHECK(std::isnan(num(d, 0, 2, Numeric::income)));
  CHECK(std::isnan(num(d, 0, 3, Numeric::age)));
  CHECK(std::isnan(num(d, 0, 3, Numeric::seniority)));
  CHECK(num(d, 0, 3, Numeric::income) == 1234.5f);
  CHECK(num(d, 0, 4, Numeric::age) == 40.0f);
  CHECK(num(d, 0, 4, Numeric::seniority) == -1.0f);  // only -999999 is the missing marker
  CHECK(num(d, 0, 4, Numeric::income) == 1500.0f);
  CHECK(num(d, 0, 5, Numeric::age) == 7.5f);
  CHECK(num(d, 0, 5, Numeric::seniority) == 0.0f);
  CHECK(num(d, 0, 5, Numeric::joined) == static_cast<float>(1995 * 12 + 1));
  CHECK(std::isnan(num(d, 0, 6, Numeric::joined)));
  CHECK(std::isnan(num(d, 0, 7, Numeric::joined)));
  CHECK(num(d, 0, 1, Numeric::joined) == static_cast<float>(kJan2015));
  CHECK(d.report.rows == 7);
}

TEST_CASE("santander load: quotes around any field, escaped quotes, UTF-8 names") {
  auto f = default_fields();
  f[0] = "2015-01-28";
  f[1] = "99";
  f[20] = "CORUÑA, A";
  std::string quoted;
  for (std::size_t c = 0; c < f.size(); ++c) {
    if (c > 0) quoted += ',';
    quoted += quote(f[c]);
  }
  const std::string text = quoted + "\n" +
                           line("2015-01-28", "100", {{"canal_entrada", "\"K\"\"X\"\"\""}, {"nomprov", "  \"MADRID\"  "}}) +
                           line("2015-01-28", "101", {{"nomprov", "ÁVILA"}, {"age", "\" 41\""}, {"ind_ahor_fin_ult1", "\"1\""}}) +
                           line("2015-01-28", "102", {{"nomprov", "ALAVA"}, {"sexo", "\"\""}, {"segmento", "\"NA\""}});
  const Dataset d = sd::parse(text, strict());
  CHECK_FALSE(d.report.header);
  REQUIRE(d.customers == std::vector<std::int64_t>{99, 100, 101, 102});
  CHECK(num(d, 0, 99, Numeric::age) == 35.0f);
  CHECK(num(d, 0, 99, Numeric::seniority) == 6.0f);
  CHECK(num(d, 0, 99, Numeric::income) == 87218.1f);
  CHECK(prod(d, 0, 99, "ind_cco_fin_ult1") == 1);
  CHECK(cat(d, 0, 99, Categorical::relation_month) == "1");
  CHECK(cat(d, 0, 99, Categorical::province) == "CORUÑA, A");
  CHECK(cat(d, 0, 100, Categorical::channel) == "K\"X\"");
  CHECK(cat(d, 0, 100, Categorical::province) == "MADRID");
  CHECK(num(d, 0, 101, Numeric::age) == 41.0f);
  CHECK(prod(d, 0, 101, "ind_ahor_fin_ult1") == 1);
  CHECK(cat(d, 0, 102, Categorical::sex).empty());
  CHECK(cat(d, 0, 102, Categorical::segment).empty());
  // byte-wise order: 'Á' (0xC3 0x81) sorts after every ASCII letter
  CHECK(cats(d, Categorical::province) == "ALAVA|CORUÑA, A|MADRID|ÁVILA");
  CHECK(cats(d, Categorical::channel) == "K\"X\"|KHE");
}

TEST_CASE("santander load: numbers written as floats in categorical columns are one category") {
  const std::string text = line("2015-01-28", "1", {{"indrel_1mes", "1.0"}, {"indrel", "99.0"}, {"cod_prov", "29.0"}}) +
                           line("2015-01-28", "2", {{"indrel_1mes", "1"}, {"indrel", " 99"}, {"cod_prov", "29"}}) +
                           line("2015-01-28", "3", {{"indrel_1mes", " 1.00 "}, {"indrel", "1"}, {"cod_prov", "1.5"}}) +
                           line("2015-01-28", "4", {{"indrel_1mes", "P"}, {"indrel", "1.0"}, {"cod_prov", "-2.0"}}) +
                           line("2015-01-28", "5", {{"indrel_1mes", "2.0"}, {"tipodom", "1."}, {"cod_prov", "01.0"}}) +
                           line("2015-01-28", "6", {{"indrel_1mes", "3"}, {"segmento", "01 - TOP"}, {"cod_prov", ".0"}});
  const Dataset d = sd::parse(text);
  CHECK(cats(d, Categorical::relation_month) == "1|2|3|P");
  CHECK(cat(d, 0, 1, Categorical::relation_month) == "1");
  CHECK(d.code(0, 0, Categorical::relation_month) == d.code(0, 1, Categorical::relation_month));
  CHECK(d.code(0, 0, Categorical::relation_month) == d.code(0, 2, Categorical::relation_month));
  CHECK(cats(d, Categorical::relation) == "1|99");
  CHECK(cat(d, 0, 1, Categorical::relation) == "99");
  CHECK(cat(d, 0, 2, Categorical::relation) == "99");
  CHECK(cat(d, 0, 4, Categorical::relation) == "1");
  CHECK(cats(d, Categorical::province_code) == "-2|.0|01|1.5|29");
  CHECK(cats(d, Categorical::address_type) == "1|1.");
  CHECK(cats(d, Categorical::segment) == "01 - TOP|02 - PARTICULARES");
}

TEST_CASE("santander load: customers with every demographic field blank are kept and counted") {
  // As in the real file: empty text fields, " NA" numbers and codes, padded NA seniority and income.
  const Overrides blank = {{"ind_empleado", ""},  {"pais_residencia", ""}, {"sexo", ""},        {"age", " NA"},
                           {"fecha_alta", ""},    {"ind_nuevo", " NA"},    {"antiguedad", "     NA"},
                           {"indrel", " NA"},     {"ult_fec_cli_1t", ""},  {"indrel_1mes", ""}, {"tiprel_1mes", ""},
                           {"indresi", ""},       {"indext", ""},          {"conyuemp", ""},    {"canal_entrada", ""},
                           {"indfall", ""},       {"tipodom", " NA"},      {"cod_prov", " NA"}, {"nomprov", ""},
                           {"ind_actividad_cliente", " NA"}, {"renta", "         NA"}, {"segmento", ""},
                           {"ind_cco_fin_ult1", "0"}, {"ind_recibo_ult1", "1"}};
  std::string text = line("2015-01-28", "10", blank) + line("2015-02-28", "10", blank) + line("2015-01-28", "11", blank);
  // one demographic field present (ult_fec_cli_1t) is not blank
  auto f = default_fields();
  f[1] = "12";
  for (const auto& [name, value] : blank) f[column_of(name)] = value;
  f[column_of("ult_fec_cli_1t")] = "2015-07-01";
  f[column_of("ind_cco_fin_ult1")] = "1";
  const std::string last = join(f) + "\n";
  text += last;
  const Dataset d = sd::parse(text, strict());
  CHECK(d.report.rows == 4);
  CHECK(d.report.blank_customers == 3);  // 10 twice, 11; 12 has ult_fec_cli_1t
  REQUIRE(d.customers == std::vector<std::int64_t>{10, 11, 12});
  CHECK(d.present(0, 0) == 1);
  CHECK(d.present(1, 0) == 1);
  CHECK(prod(d, 0, 10, "ind_recibo_ult1") == 1);
  CHECK(prod(d, 1, 10, "ind_recibo_ult1") == 1);
  CHECK(prod(d, 0, 10, "ind_cco_fin_ult1") == 0);
  CHECK(prod(d, 0, 12, "ind_cco_fin_ult1") == 1);
  for (std::size_t k = 0; k < sd::kNumNumeric; ++k) CHECK(std::isnan(d.numeric(0, 0, k)));
  for (std::size_t k = 0; k < sd::kNumCategorical; ++k) CHECK(d.categorical(0, 0, k) == 0);
  for (const auto& c : d.categories) CHECK(c.empty());
}

TEST_CASE("santander load: product flags 0, 1, padded, float-written, quoted, NA and blank") {
  const std::string text = line("2015-01-28", "1",
                                {{"ind_ahor_fin_ult1", " 0"},
                                 {"ind_aval_fin_ult1", " 1"},
                                 {"ind_cco_fin_ult1", "0.0"},
                                 {"ind_cder_fin_ult1", "1.0"},
                                 {"ind_cno_fin_ult1", "NA"},
                                 {"ind_ctju_fin_ult1", ""},
                                 {"ind_ctma_fin_ult1", " NA"},
                                 {"ind_ctop_fin_ult1", "\"1\""},
                                 {"ind_nomina_ult1", "NA"},
                                 {"ind_nom_pens_ult1", "NA"}}) +
                           line("2015-01-28", "2", {{"ind_recibo_ult1", "  "}});
  const Dataset d = sd::parse(text, strict());
  const std::array<int, 8> expected = {0, 1, 0, 1, 0, 0, 0, 1};
  for (std::size_t p = 0; p < expected.size(); ++p) {
    CAPTURE(p);
    CHECK(d.products(0, 0, p) == expected[p]);
  }
  CHECK(prod(d, 0, 1, "ind_nomina_ult1") == 0);
  CHECK(prod(d, 0, 2, "ind_recibo_ult1") == 0);
  CHECK(prod(d, 0, 2, "ind_cco_fin_ult1") == 1);
  CHECK(d.report.missing_product_flags == 6);
}

TEST_CASE("santander load: headers quoted, unquoted or absent; CRLF; no final newline; empty lines; BOM") {
  const std::string body = line("2015-01-28", "5", {{"age", " 50"}}) + line("2015-02-28", "5", {{"age", " 51"}}) +
                           line("2015-02-28", "3", {{"nomprov", "\"CORUÑA, A\""}});
  const Dataset plain = sd::parse(body, strict());
  CHECK_FALSE(plain.report.header);
  CHECK(plain.report.lines == 3);
  CHECK(plain.report.rows == 3);
  CHECK(num(plain, 1, 5, Numeric::age) == 51.0f);

  auto crlf = [](std::string s) {
    std::string out;
    for (const char ch : s) {
      if (ch == '\n') out += '\r';
      out += ch;
    }
    return out;
  };
  std::string no_final = header(false) + body;
  no_final.pop_back();
  const std::string variants[] = {
      header(true) + body,
      header(false) + body,
      crlf(header(true) + body),
      crlf(body),
      no_final,
      crlf(no_final),
      "\xEF\xBB\xBF" + header(true) + body,
      "\n" + body + "\n\r\n\n",  // empty lines anywhere
  };
  for (const std::string& v : variants) {
    INFO("variant: " << v);
    const Dataset d = sd::parse(v, strict());
    check_same(d, plain, false);
  }
  CHECK(sd::parse(header(true) + body).report.header);
  CHECK(sd::parse(header(false) + body).report.header);
  CHECK(sd::parse(crlf(body)).report.lines == 3);

  // line numbers count the header and empty lines: a bad age on the 5th line of the input
  const std::string with_gaps = crlf(header(true) + line("2015-01-28", "1") + "\n" + line("2015-01-28", "2") +
                                     line("2015-01-28", "3", {{"age", "x"}}));
  expect_error(with_gaps, 5, 6, "bad number in age");

  // a header with a wrong name: strict fails at that field; lenient reads the data
  std::string wrong = header(false);
  wrong.replace(wrong.find("age"), 3, "edad");
  expect_error(wrong + body, 1, 6, "bad header");
  const Dataset lenient_wrong = sd::parse(wrong + body);
  CHECK(lenient_wrong.report.header);
  CHECK(lenient_wrong.report.rows == 3);
  std::string short_header = header(false);
  short_header.replace(short_header.find(",ind_recibo_ult1"), 16, "");
  expect_error(short_header + body, 1, 48, "bad header");
  // a line that is not a header (first field not fecha_dato) is data
  expect_error("date," + body, 1, 49, "wrong column count");
}

TEST_CASE("santander load: every strict-mode error with its line and field") {
  const std::string head = header(true) + line("2015-01-28", "1");  // lines 1 and 2 are fine
  struct Case {
    std::string bad_line;
    std::size_t column;
    std::string reason;
  };
  std::string too_few = line("2015-01-28", "7");
  too_few.erase(too_few.rfind(','));
  too_few += "\n";
  std::string too_many = line("2015-01-28", "7");
  too_many.insert(too_many.size() - 1, ",0");
  const std::vector<Case> cases = {
      {too_few, 48, "wrong column count"},
      {too_many, 49, "wrong column count"},
      {"2015-01-28\n", 2, "wrong column count"},
      {"   \n", 2, "wrong column count"},
      {line("2015-01-28", "7", {{"nomprov", "\"CORUÑA, A"}}), 21, "unterminated quote"},
      {line("2015-01-28", "7", {{"ind_recibo_ult1", "\"1"}}), 48, "unterminated quote"},
      {line("2015-01-28", "7", {{"nomprov", "\"MADRID\"X"}}), 21, "text after closing quote"},
      {line("2015-01-28", "7", {{"sexo", "\"V\" \"H\""}}), 5, "text after closing quote"},
      {line("2015-13-28", "7"), 1, "bad date in fecha_dato"},
      {line("2015-02-29", "7"), 1, "bad date in fecha_dato"},
      {line("", "7"), 1, "bad date in fecha_dato"},
      {line("NA", "7"), 1, "bad date in fecha_dato"},
      {line("28/01/2015", "7"), 1, "bad date in fecha_dato"},
      {line("2015-01-28", "abc"), 2, "bad ncodpers"},
      {line("2015-01-28", ""), 2, "bad ncodpers"},
      {line("2015-01-28", " NA"), 2, "bad ncodpers"},
      {line("2015-01-28", "-5"), 2, "bad ncodpers"},
      {line("2015-01-28", "12.5"), 2, "bad ncodpers"},
      {line("2015-01-28", "7", {{"age", "abc"}}), 6, "bad number in age"},
      {line("2015-01-28", "7", {{"age", " 3 5"}}), 6, "bad number in age"},
      {line("2015-01-28", "7", {{"age", "nan"}}), 6, "bad number in age"},
      {line("2015-01-28", "7", {{"age", " inf"}}), 6, "bad number in age"},
      {line("2015-01-28", "7", {{"age", "N A"}}), 6, "bad number in age"},
      {line("2015-01-28", "7", {{"antiguedad", "     x"}}), 9, "bad number in antiguedad"},
      {line("2015-01-28", "7", {{"renta", "1e99"}}), 23, "bad number in renta"},
      {line("2015-01-28", "7", {{"renta", "87,218"}}), 49, "wrong column count"},
      {line("2015-01-28", "7", {{"renta", "\"87,218\""}}), 23, "bad number in renta"},
      {line("2015-01-28", "7", {{"fecha_alta", "2015-02-30"}}), 7, "bad date in fecha_alta"},
      {line("2015-01-28", "7", {{"fecha_alta", "x"}}), 7, "bad date in fecha_alta"},
      {line("2015-01-28", "7", {{"ult_fec_cli_1t", "2015-7-1"}}), 11, "bad date in ult_fec_cli_1t"},
      {line("2015-01-28", "7", {{"ind_cco_fin_ult1", "2"}}), 27, "bad product flag in ind_cco_fin_ult1"},
      {line("2015-01-28", "7", {{"ind_recibo_ult1", "yes"}}), 48, "bad product flag in ind_recibo_ult1"},
      {line("2015-01-28", "7", {{"ind_ahor_fin_ult1", "0.5"}}), 25, "bad product flag in ind_ahor_fin_ult1"},
      {line("2015-01-28", "1", {{"age", " 99"}}), 2, "duplicate (ncodpers, fecha_dato)"},
      // the first problem of the row, left to right
      {line("2015-01-28", "x", {{"age", "x"}, {"ind_cco_fin_ult1", "7"}}), 2, "bad ncodpers"},
      {line("2015-01-28", "7", {{"age", "x"}, {"ind_cco_fin_ult1", "7"}}), 6, "bad number in age"},
  };
  for (const Case& c : cases) {
    expect_error(head + c.bad_line + line("2015-01-28", "8"), 3, c.column, c.reason);
    // and the same row in lenient mode: skipped and counted under the same reason
    const Dataset d = sd::parse(head + c.bad_line + line("2015-01-28", "8"));
    CHECK(d.report.rows == 2);
    CHECK(d.report.skipped == 1);
    CHECK(d.report.lines == 3);
    CHECK(d.report.skipped_by_reason == std::map<std::string, std::size_t>{{c.reason, 1}});
    REQUIRE(d.report.examples.size() == 1);
    CHECK(d.report.examples[0] == "<memory>:3:" + std::to_string(c.column) + ": " + c.reason);
  }
}

TEST_CASE("santander load: a newline inside quotes ends the record (unterminated quote)") {
  const std::string text = line("2015-01-28", "1") + line("2015-01-28", "2", {{"nomprov", "\"CORUÑA,\n A\""}}) +
                           line("2015-01-28", "3");
  expect_error(text, 2, 21, "unterminated quote");
  const Dataset d = sd::parse(text);
  // line 3 is ` A",1,87218.1,...`: 28 fields (field 1 is ' A"', unquoted)
  CHECK(d.report.lines == 4);
  CHECK(d.report.rows == 2);
  CHECK(d.report.skipped_by_reason ==
        std::map<std::string, std::size_t>{{"unterminated quote", 1}, {"wrong column count", 1}});
  CHECK(d.report.examples ==
        std::vector<std::string>{"<memory>:2:21: unterminated quote", "<memory>:3:29: wrong column count"});
}

TEST_CASE("santander load: lenient counts per reason and the first examples in file order") {
  std::string text = header(false);                                       // 1
  text += line("2015-01-28", "1");                                        // 2
  text += line("2015-01-28", "2", {{"age", "abc"}});                      // 3 bad age
  text += line("2015-01-28", "1", {{"age", " 70"}});                      // 4 duplicate
  text += "2015-01-28,3\n";                                               // 5 column count (field 3 missing)
  text += line("2015-01-28", "4", {{"ind_cco_fin_ult1", "NA"}});          // 6 ok (NA flag)
  text += line("2015-01-28", "5", {{"age", "nan"}});                      // 7 bad age
  text += line("2015-02-28", "1");                                        // 8 ok
  text += line("2015-02-28", "1");                                        // 9 duplicate
  text += line("2015-02-28", "6", {{"fecha_alta", "2015-00-01"}});        // 10 bad fecha_alta
  text += line("2015-02-28", "7", {{"ind_tjcr_fin_ult1", "x"}});          // 11 bad flag
  text += "\n";                                                          // 12 empty
  text += line("2015-02-28", "-8");                                       // 13 bad id
  text += line("2015-02-28", "4", {{"ind_cco_fin_ult1", ""}});            // 14 ok (blank flag)

  const Dataset d = sd::parse(text);
  CHECK(d.report.header);
  CHECK(d.report.lines == 12);
  CHECK(d.report.rows == 4);
  CHECK(d.report.skipped == 8);
  CHECK(d.report.rows + d.report.skipped == d.report.lines);
  const std::map<std::string, std::size_t> expected = {{"bad date in fecha_alta", 1},
                                                       {"bad ncodpers", 1},
                                                       {"bad number in age", 2},
                                                       {"bad product flag in ind_tjcr_fin_ult1", 1},
                                                       {"duplicate (ncodpers, fecha_dato)", 2},
                                                       {"wrong column count", 1}};
  CHECK(d.report.skipped_by_reason == expected);
  CHECK(lines_of(d.report.examples) ==
        "<memory>:3:6: bad number in age\n"
        "<memory>:4:2: duplicate (ncodpers, fecha_dato)\n"
        "<memory>:5:3: wrong column count\n"
        "<memory>:7:6: bad number in age\n"
        "<memory>:9:2: duplicate (ncodpers, fecha_dato)\n");
  CHECK(d.report.missing_product_flags == 2);
  // the first of the duplicates is kept
  CHECK(num(d, 0, 1, Numeric::age) == 35.0f);
  REQUIRE(d.customers == std::vector<std::int64_t>{1, 4});
  CHECK(d.present(1, 0) == 1);
  CHECK(d.present(1, 1) == 1);

  LoadOptions two = lenient();
  two.max_examples = 2;
  const Dataset d2 = sd::parse(text, two, "train.csv");
  CHECK(d2.report.source == "train.csv");
  CHECK(d2.report.examples ==
        std::vector<std::string>{"train.csv:3:6: bad number in age", "train.csv:4:2: duplicate (ncodpers, fecha_dato)"});
  LoadOptions none = lenient();
  none.max_examples = 0;
  CHECK(sd::parse(text, none).report.examples.empty());
  const std::string summary = d.report.summary();
  CHECK(summary.find("4 rows kept of 12 read, 8 skipped") != std::string::npos);
  CHECK(summary.find("skipped <memory>:3:6: bad number in age") != std::string::npos);

  // strict: the first problem in file order
  expect_error(text, 3, 6, "bad number in age");
}

TEST_CASE("santander load: duplicates keep the first row; strict reports whichever problem comes first") {
  const std::string a = line("2015-01-28", "5", {{"age", " 20"}, {"ind_cco_fin_ult1", "0"}});
  const std::string b = line("2015-01-28", "5", {{"age", " 30"}, {"ind_cco_fin_ult1", "1"}, {"nomprov", "ZAMORA"}});
  const Dataset d = sd::parse(a + b);
  REQUIRE(d.customers == std::vector<std::int64_t>{5});
  CHECK(num(d, 0, 5, Numeric::age) == 20.0f);
  CHECK(prod(d, 0, 5, "ind_cco_fin_ult1") == 0);
  CHECK(cats(d, Categorical::province) == "MALAGA");  // ZAMORA only in the skipped row
  CHECK(d.report.skipped_by_reason == std::map<std::string, std::size_t>{{"duplicate (ncodpers, fecha_dato)", 1}});
  // the same id in another month, and another id in the same month, are not duplicates
  CHECK(sd::parse(a + line("2015-02-28", "5") + line("2015-01-28", "6"), strict()).report.rows == 3);

  const std::string bad = line("2015-01-28", "6", {{"age", "x"}});
  expect_error(a + b + bad, 2, 2, "duplicate (ncodpers, fecha_dato)");
  expect_error(a + bad + b, 2, 6, "bad number in age");
  // with tiny blocks and two threads, the problems land in different blocks
  LoadOptions o = strict(2);
  o.block_size = 64;
  std::string many;
  for (int i = 0; i < 200; ++i) many += line("2015-01-28", std::to_string(1000 + i));
  expect_error(many + a + b + bad + many, 202, 2, "duplicate (ncodpers, fecha_dato)", o);
  expect_error(many + a + bad + b + many, 202, 6, "bad number in age", o);
  expect_error(many + a + line("2015-01-28", "1000"), 202, 2, "duplicate (ncodpers, fecha_dato)", o);
}

TEST_CASE("santander load: months ascending in any file order, gaps kept, absent customers") {
  const std::string text = line("2016-05-28", "30") + line("2015-01-28", "10") + line("2015-03-28", "20") +
                           line("2016-05-28", "10") + line("2015-01-28", "30");
  const Dataset d = sd::parse(text, strict());
  CHECK(d.months == std::vector<std::string>{"2015-01-28", "2015-03-28", "2016-05-28"});
  CHECK(d.month_numbers == std::vector<int>{kJan2015, kJan2015 + 2, kJan2015 + 16});
  CHECK(d.customers == std::vector<std::int64_t>{10, 20, 30});
  // present: rows = months, columns = customers 10, 20, 30
  const std::array<std::array<int, 3>, 3> expected = {{{1, 0, 1}, {0, 1, 0}, {1, 0, 1}}};
  for (std::size_t m = 0; m < 3; ++m) {
    for (std::size_t c = 0; c < 3; ++c) {
      CAPTURE(m);
      CAPTURE(c);
      CHECK(d.present(m, c) == expected[m][c]);
      CHECK(std::isnan(d.numeric(m, c, 0)) == (expected[m][c] == 0));
      CHECK((d.categorical(m, c, 0) == 0) == (expected[m][c] == 0));
      CHECK(d.products(m, c, 2) == expected[m][c]);  // the default row holds ind_cco_fin_ult1
    }
  }
  CHECK(d.month_index("2015-03-28") == 1);
  // The months with no snapshot are listed, and the summary says so.
  std::vector<std::string> missing{"2015-02-28"};
  for (int m = kJan2015 + 3; m < kJan2015 + 16; ++m) missing.push_back(sd::month_date(m));
  CHECK(d.report.missing_months == missing);
  CHECK(missing.size() == 14);
  CHECK(d.report.summary().find("no snapshot for 14 months: 2015-02-28 2015-04-28") != std::string::npos);
  CHECK(d.report.summary().find("2016-04-28 (lags and additions compare adjacent snapshots)") != std::string::npos);
  // sparse ids (far apart) take the sort path and give the same kind of result
  const Dataset s = sd::parse(line("2015-01-28", "9000000000000") + line("2015-01-28", "3") + line("2015-02-28", "9000000000000"));
  CHECK(s.customers == std::vector<std::int64_t>{3, 9000000000000});
  CHECK(s.present(1, 0) == 0);
  CHECK(s.present(1, 1) == 1);
  CHECK(s.report.missing_months.empty());  // consecutive months
  CHECK(s.report.summary().find("no snapshot") == std::string::npos);
}

TEST_CASE("santander load: empty input and header only give an empty dataset") {
  for (const std::string& text : {std::string(), header(true), header(false), std::string("\n\n"), std::string("\r\n")}) {
    INFO("text: " << text);
    const Dataset d = sd::parse(text, strict());
    CHECK(d.num_months() == 0);
    CHECK(d.num_customers() == 0);
    CHECK(d.present.size() == 0);
    CHECK(d.products.shape()[2] == sd::kNumProducts);
    CHECK(d.numeric.shape()[2] == sd::kNumNumeric);
    CHECK(d.categorical.shape()[2] == sd::kNumCategorical);
    CHECK(d.report.rows == 0);
    CHECK(d.report.lines == 0);
    CHECK(d.report.header == (text.size() > 10));
  }
  // all rows bad, lenient: also empty
  const Dataset d = sd::parse(line("2015-01-28", "x") + line("x", "1"));
  CHECK(d.num_customers() == 0);
  CHECK(d.report.skipped == 2);
}

TEST_CASE("santander load: more than 254 values in a categorical column is invalid_argument naming it") {
  std::string text;
  for (int i = 0; i < 254; ++i) text += line("2015-01-28", std::to_string(i), {{"canal_entrada", prefixed("C", i)}});
  CHECK(sd::parse(text).categories[static_cast<std::size_t>(Categorical::channel)].size() == 254);
  text += line("2015-01-28", "999", {{"canal_entrada", "C999"}});
  for (const std::size_t block : {std::size_t{32} << 20, std::size_t{512}}) {
    LoadOptions o = lenient(2, block);
    bool thrown = false;
    try {
      (void)sd::parse(text, o);
    } catch (const recmix::invalid_argument& e) {
      thrown = true;
      CHECK(std::string(e.what()).find("canal_entrada") != std::string::npos);
    }
    CHECK(thrown);
  }
  // 300 values in one block overflow its dictionary: the same error
  for (int i = 254; i < 300; ++i) text += line("2015-01-28", std::to_string(i), {{"canal_entrada", prefixed("C", i)}});
  CHECK_THROWS_AS((void)sd::parse(text), recmix::invalid_argument);
}

TEST_CASE("santander load: bad options and unreadable files") {
  LoadOptions o;
  o.block_size = 0;
  CHECK_THROWS_AS((void)sd::parse("", o), recmix::invalid_argument);
  o = LoadOptions{};
  o.threads = -1;
  CHECK_THROWS_AS((void)sd::parse("", o), recmix::invalid_argument);

  TempDir dir("recmix-santander-load");
  const fs::path missing = dir / "no_such_train.csv";
  bool thrown = false;
  try {
    (void)sd::load(missing);
  } catch (const recmix::io_error& e) {
    thrown = true;
    CHECK(std::string(e.what()).find("no_such_train.csv") != std::string::npos);
  }
  CHECK(thrown);
  CHECK_THROWS_AS((void)sd::load(dir.path()), recmix::io_error);
}

namespace {

/// ~20k lines of realistic rows with quirks and some bad lines, from a fixed seed.
std::string generated_text(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const std::vector<std::string> provinces = {"MADRID", "\"CORUÑA, A\"", "BARCELONA", "SEVILLA", "\"BALEARS, ILLES\"", ""};
  const std::vector<std::string> channels = {"KHE", "KAT", "KFC", "KFA", "", "RED"};
  const std::vector<std::string> rel = {"1.0", "1", "P", "3.0", "", "2"};
  const std::vector<std::string> ages = {" 35", "  23", " NA", "101", "  7", ""};
  const std::vector<std::string> flags = {"0", "1", " 0", " 1", "NA", "", "0.0", "1.0"};
  std::string text = header(true);
  std::string out_line;
  for (int m = 0; m < 8; ++m) {
    const std::string date = sd::month_date(kJan2015 + m);
    for (int c = 0; c < 2600; ++c) {
      if (pick(10) == 0) continue;  // absent this month
      auto f = default_fields();
      f[0] = date;
      f[1] = std::to_string(15000 + c * 3);
      f[5] = ages[pick(ages.size())];
      f[8] = pick(20) == 0 ? "-999999" : "     " + std::to_string(pick(250));
      f[11] = rel[pick(rel.size())];
      f[16] = channels[pick(channels.size())];
      f[20] = provinces[pick(provinces.size())];
      f[22] = pick(5) == 0 ? "         NA" : "   " + std::to_string(pick(500000)) + "." + std::to_string(pick(100));
      for (std::size_t p = 0; p < sd::kNumProducts; ++p) f[sd::kFirstProductColumn + p] = flags[pick(pick(4) == 0 ? 8 : 2)];
      if (pick(300) == 0) {
        for (std::size_t k = 2; k < sd::kFirstProductColumn; ++k) f[k] = (k == 5 || k == 8 || k == 22) ? " NA" : "";
      }
      out_line = join(f);
      switch (pick(400)) {
        case 0: out_line += ",extra"; break;
        case 1: out_line.replace(out_line.find(','), 1, ",x"); break;  // bad ncodpers
        case 2: out_line += "\""; break;                               // unterminated quote
        case 3: text += out_line + "\n"; break;                        // duplicate
        default: break;
      }
      text += out_line + (pick(3) == 0 ? "\r\n" : "\n");
    }
  }
  return text;
}

}  // namespace

TEST_CASE("santander load: identical results for 1 and 2 threads, any block size, and from a file") {
  const std::string text = generated_text(7);
  const Dataset one = sd::parse(text, lenient(1));
  REQUIRE(one.report.lines > 18000);
  CHECK(one.report.skipped > 50);  // the generator's bad lines and duplicates
  CHECK(one.report.rows + one.report.skipped == one.report.lines);
  CHECK(one.report.examples.size() == 5);
  CHECK(one.report.skipped_by_reason.count("duplicate (ncodpers, fecha_dato)") == 1);
  CHECK(one.report.skipped_by_reason.count("unterminated quote") == 1);
  CHECK(one.report.skipped_by_reason.count("wrong column count") == 1);
  CHECK(one.report.skipped_by_reason.count("bad ncodpers") == 1);
  CHECK(one.report.blank_customers > 0);
  CHECK(one.report.missing_product_flags > 0);
  CHECK(one.num_months() == 8);
  CHECK(cats(one, Categorical::relation_month) == "1|2|3|P");
  CHECK(cats(one, Categorical::province) == "BALEARS, ILLES|BARCELONA|CORUÑA, A|MADRID|SEVILLA");
  std::size_t present = 0;
  for (const auto v : one.present) present += v;
  CHECK(present == one.report.rows);

  for (const std::size_t block : {std::size_t{1000}, std::size_t{4096}, std::size_t{100000}}) {
    CAPTURE(block);
    check_same(sd::parse(text, lenient(2, block)), one);
    check_same(sd::parse(text, lenient(1, block)), one);
  }
  check_same(sd::parse(text, lenient(2)), one);

  TempDir dir("recmix-santander-load");
  const fs::path path = dir / "train.csv";
  write_text(path, text);
  std::vector<double> progress;
  LoadOptions o = lenient(2, 5000);
  o.progress = [&](double f) { progress.push_back(f); };
  const Dataset from_file = sd::load(path, o);
  const Dataset named = sd::parse(text, lenient(1), path.string());  // the same source in the examples
  check_same(from_file, named);
  CHECK(from_file.report.source == path.string());
  REQUIRE(progress.size() > 2);
  CHECK(progress.back() == 1.0);
  for (std::size_t i = 1; i < progress.size(); ++i) CHECK(progress[i] >= progress[i - 1]);
  check_same(sd::load(path, lenient(1)), named);
  // examples name the file
  REQUIRE_FALSE(from_file.report.examples.empty());
  CHECK(from_file.report.examples[0].rfind(path.string() + ":", 0) == 0);
}

TEST_CASE("santander load: file blocks with lines longer than a block and no final newline") {
  std::string text = header(false);
  for (int i = 0; i < 40; ++i) {
    text += line("2015-01-28", std::to_string(i), {{"nomprov", quote(std::string(static_cast<std::size_t>(i * 37), 'Z'))}});
  }
  text.pop_back();
  TempDir dir("recmix-santander-load");
  const fs::path path = dir / "long.csv";
  write_text(path, text);
  const Dataset mem = sd::parse(text, strict());
  for (const std::size_t block : {std::size_t{1}, std::size_t{100}, std::size_t{1000}}) {
    LoadOptions o = strict(2);
    o.block_size = block;
    const Dataset d = sd::load(path, o);
    check_same(d, mem);
    check_same(sd::parse(text, o), mem);
  }
  CHECK(mem.report.rows == 40);
  CHECK(mem.categories[static_cast<std::size_t>(Categorical::province)].size() == 39);  // "" (i = 0) is missing
}
