// Unit tests of the santander-hybrid HTML report (examples/santander/report.hpp): page structure,
// one balanced <svg> per chart, no NaN/inf in numeric SVG attributes whatever the input, HTML
// escaping, bar lengths, number formatting and the atomic write.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>

#include "santander/report.hpp"

#include <cctype>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using santander_example::ModelRow;
using santander_example::ReportData;
using santander_example::render_html;
using santander_example::write_report;
namespace rd = santander_example::report_detail;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::size_t kCharts = 5;  // customers, additions, holding share, additions by product, metrics

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

ReportData full_data() {
  ReportData d;
  d.facts = {{"data file", "train_ver2.csv"}, {"customers", "956,645"}};
  d.months = {"2016-03-28", "2016-04-28", "2016-05-28"};
  d.customers_per_month = {925076, 928274, 931453};
  d.additions_per_month = {0, 31000, 36012};
  d.products = {"current account", "direct debit", "payroll"};
  d.holding_share = {0.65, 0.13, 0.055};
  d.additions_by_product = {5000, 12000, 9000};
  d.models = {{"popularity", 0.0201, 0.0252, 0.028, 0.61, 0.1, 0.2},
              {"als", 0.0231, 0.0289, 0.031, 0.71, 12.5, 0.8, 0.25},
              {"blend", 0.0262, 0.0301, 0.035, 0.74, 0.0, 1.1}};
  d.notes = "first line\nsecond line";
  return d;
}

/// Every numeric SVG attribute must be a plain number (or a list of them, or rotate(...)).
void check_numeric_attributes(const std::string& page) {
  static const std::regex attribute(
      R"re(\s(x|y|x1|x2|y1|y2|cx|cy|r|width|height|viewBox|points|transform)="([^"]*)")re");
  static const std::regex number_list(R"re(^(rotate\()?-?[0-9]+(\.[0-9]+)?([ ,]-?[0-9]+(\.[0-9]+)?)*\)?$)re");
  std::size_t checked = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), attribute); it != std::sregex_iterator(); ++it) {
    const std::string value = (*it)[2].str();
    INFO((*it)[1].str() << "=\"" << value << '"');
    CHECK(std::regex_match(value, number_list));
    ++checked;
  }
  CHECK(checked > 20);
  std::string lower;
  for (const char ch : page) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::regex bad_token(R"re((^|[^a-z])(nan|inf|infinity)([^a-z]|$))re");
  CHECK_FALSE(std::regex_search(lower, bad_token));
}

void check_structure(const std::string& page) {
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(count(page, "<svg") == kCharts);
  CHECK(count(page, "</svg>") == kCharts);
  CHECK(count(page, "<html") == 1);
  CHECK(count(page, "</html>") == 1);
  CHECK(count(page, "<table") == count(page, "</table>"));
  CHECK(count(page, "<text") == count(page, "</text>"));
  CHECK(count(page, "<rect") == count(page, "</rect>"));
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("http://www.w3.org/2000/svg") != std::string::npos);  // the only URL: the SVG namespace
  CHECK(count(page, "http") == kCharts);
  // The svg elements do not nest: each closes before the next opens.
  std::size_t at = 0;
  for (std::size_t k = 0; k < kCharts; ++k) {
    const std::size_t open = page.find("<svg", at);
    const std::size_t close = page.find("</svg>", at);
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    CHECK(open < close);
    CHECK(page.find("<svg", open + 1) > close);
    at = close + 1;
  }
  check_numeric_attributes(page);
}

/// The width attribute of the <rect class="bar..." data-label="label" ...>.
double bar_width(const std::string& page, const std::string& label) {
  const std::size_t at = page.find("data-label=\"" + label + "\"");
  REQUIRE_MESSAGE(at != std::string::npos, "no bar labelled " << label);
  const std::size_t w = page.find(" width=\"", at);
  REQUIRE(w != std::string::npos);
  REQUIRE(w < page.find('>', at));
  return std::stod(page.substr(w + 8));
}

}  // namespace

TEST_CASE("santander report: a full page is well formed") {
  const ReportData d = full_data();
  const std::string page = render_html(d);
  check_structure(page);
  CHECK(page.find("<title>recmix - Santander product recommendation</title>") != std::string::npos);
  CHECK(page.find("train_ver2.csv") != std::string::npos);
  CHECK(page.find("first line\nsecond line") != std::string::npos);
  // The table: metrics with 5 decimals, seconds, weights ("-" when not a component).
  CHECK(page.find("<td class=\"num best\">0.02620</td>") != std::string::npos);
  CHECK(page.find(">12.5<") != std::string::npos);
  CHECK(page.find(">0.250<") != std::string::npos);
  // One month label per month, one point per month, a bar per product in both product charts.
  CHECK(count(page, "<circle") == 3);
  CHECK(page.find(">2016-05-28</text>") != std::string::npos);
  CHECK(count(page, "data-label=\"payroll\"") == 2);
}

TEST_CASE("santander report: the best model of each metric is highlighted") {
  ReportData d = full_data();
  d.models[0].recall7 = 0.9;  // popularity best on recall@7 only
  const std::string page = render_html(d);
  CHECK(count(page, "<rect class=\"bar best\"") == 4);
  CHECK(page.find("data-label=\"recall@7 / popularity\"") != std::string::npos);
  const std::size_t recall_pop = page.find("data-label=\"recall@7 / popularity\"");
  CHECK(page.rfind("<rect class=\"bar best\"", recall_pop) == page.rfind("<rect", recall_pop));
  const std::size_t map_blend = page.find("data-label=\"MAP@7 (all) / blend\"");
  CHECK(page.rfind("<rect class=\"bar best\"", map_blend) == page.rfind("<rect", map_blend));
  CHECK(count(page, "(best)") == 4);
  CHECK(count(page, "<td class=\"num best\">") == 4);

  SUBCASE("ties are all best") {
    d.models[1].ndcg3 = d.models[2].ndcg3;
    CHECK(count(render_html(d), "<rect class=\"bar best\"") == 5);
  }
}

TEST_CASE("santander report: strings are escaped") {
  ReportData d = full_data();
  d.title = "T<1>";
  d.models[1].name = R"(a<b&"c")";
  d.products[0] = "it's <b>";
  d.facts.emplace_back("k&v", "<script>alert('x')</script>");
  d.months[0] = "2016\"03";
  d.notes = "x < y && y > z";
  const std::string page = render_html(d);
  CHECK(page.find(R"(a<b&"c")") == std::string::npos);
  CHECK(page.find("a&lt;b&amp;&quot;c&quot;") != std::string::npos);
  CHECK(page.find("<title>T&lt;1&gt;</title>") != std::string::npos);
  CHECK(page.find("it&#39;s &lt;b&gt;") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("k&amp;v") != std::string::npos);
  CHECK(page.find("2016&quot;03") != std::string::npos);
  CHECK(page.find("x &lt; y &amp;&amp; y &gt; z") != std::string::npos);
  check_structure(page);
  CHECK(rd::escape("&<>\"'") == "&amp;&lt;&gt;&quot;&#39;");
  CHECK(rd::escape(std::string("a\0b\x01", 4)) == "a b ");
}

TEST_CASE("santander report: empty, NaN and infinite inputs give no NaN in the SVG") {
  SUBCASE("everything empty") {
    ReportData d;
    d.title.clear();
    const std::string page = render_html(d);
    check_structure(page);
    CHECK(count(page, "no data") == 4 + 4);  // 4 charts + 4 metric panels
    CHECK(page.find("no models") != std::string::npos);
  }
  SUBCASE("NaN, infinite, zero and negative values") {
    ReportData d = full_data();
    d.customers_per_month = {kNaN, 0.0, kInf, 5.0};  // more values than month labels
    d.additions_per_month = {kNaN, -kInf, -3.0};
    d.holding_share = {kNaN, 0.0, 0.0, -0.1};         // more values than product labels
    d.additions_by_product = {kInf, kNaN};
    d.models[0] = {"odd model", kNaN, kInf, -kInf, kNaN, kNaN, kInf, kNaN};
    const std::string page = render_html(d);
    check_structure(page);
    CHECK(page.find("data-label=\"#4\"") != std::string::npos);
    CHECK(page.find(">n/a<") != std::string::npos);
  }
  SUBCASE("all zeros") {
    ReportData d = full_data();
    for (auto* v : {&d.customers_per_month, &d.additions_per_month, &d.holding_share, &d.additions_by_product}) {
      for (double& x : *v) x = 0.0;
    }
    for (ModelRow& m : d.models) m = {m.name, 0, 0, 0, 0, 0, 0, 0};
    const std::string page = render_html(d);
    check_structure(page);
    CHECK(count(page, "<rect class=\"bar best\"") == 0);  // nobody is best at 0
  }
  SUBCASE("tiny and huge values") {
    ReportData d = full_data();
    d.holding_share = {5e-324, 1e-300};
    d.additions_by_product = {1e308, 1.7e308};
    d.customers_per_month = {1e-30, 2e-30, 3e-30};
    check_structure(render_html(d));
  }
}

TEST_CASE("santander report: bar lengths are proportional to the values") {
  ReportData d;
  d.products = {"A", "B", "C", "D"};
  d.holding_share = {0.25, 0.5, 0.1, kNaN};
  d.additions_by_product = {30.0, 0.0, 60.0, 15.0};
  const std::string page = render_html(d);
  // Holding share: max 0.5 -> axis 0..0.5 (step 0.1), so 0.25 is half the plot width.
  CHECK(rd::kBarPlotWidth == doctest::Approx(460.0));
  CHECK(bar_width(page, "B") == doctest::Approx(460.0));
  CHECK(bar_width(page, "A") == doctest::Approx(230.0));
  CHECK(bar_width(page, "C") == doctest::Approx(92.0));
  CHECK(bar_width(page, "D") == doctest::Approx(0.0));  // NaN draws as nothing
  CHECK(page.find(">25.0%</text>") != std::string::npos);
  CHECK(page.find(">n/a</text>") != std::string::npos);
  // Sorted descending, NaN last: B, A, C, D in the holding chart.
  const std::size_t b = page.find("data-label=\"B\""), a = page.find("data-label=\"A\""), c = page.find("data-label=\"C\""),
                    dd = page.find("data-label=\"D\"");
  CHECK(b < a);
  CHECK(a < c);
  CHECK(c < dd);
  // Additions: max 60 -> step 20, axis 0..60; the second chart's bar "A" (30) is half.
  const std::size_t second = page.find("data-label=\"A\"", a + 1);
  REQUIRE(second != std::string::npos);
  const std::size_t w = page.find(" width=\"", second);
  CHECK(std::stod(page.substr(w + 8)) == doctest::Approx(230.0));
  CHECK(page.find(">60</text>") != std::string::npos);  // the value label and the last tick

  // Metric panels: each metric has its own axis. MAP@7 (all): 0.02 and 0.04 -> axis 0..0.04.
  d.models = {{"m1", 0.02, 0.1, 0.3, 0.7, 0, 0}, {"m2", 0.04, 0.2, 0.3, 0.35, 0, 0}};
  const std::string p2 = render_html(d);
  CHECK(bar_width(p2, "MAP@7 (all) / m1") == doctest::Approx(230.0));
  CHECK(bar_width(p2, "MAP@7 (all) / m2") == doctest::Approx(460.0));
  CHECK(bar_width(p2, "recall@7 / m2") == doctest::Approx(0.35 / 0.8 * 460.0).epsilon(1e-4));
}

TEST_CASE("santander report: axes and number formatting") {
  const rd::Axis a = rd::nice_axis(0.5);
  CHECK(a.max == doctest::Approx(0.5));
  CHECK(a.step == doctest::Approx(0.1));
  CHECK(a.ticks == 5);
  const rd::Axis b = rd::nice_axis(931453);
  CHECK(b.step == doctest::Approx(200000));
  CHECK(b.max == doctest::Approx(1000000));
  CHECK(rd::nice_axis(0.0317).max == doctest::Approx(0.04));
  CHECK(rd::nice_axis(7.0).step == doctest::Approx(2.0));
  CHECK(rd::nice_axis(12.0).step == doctest::Approx(2.5));
  for (double bad : {0.0, -1.0, kNaN, kInf}) {
    const rd::Axis f = rd::nice_axis(bad);
    CHECK(f.max == 1.0);
    CHECK(f.ticks == 5);
  }
  CHECK(rd::grouped(1234567) == "1,234,567");
  CHECK(rd::grouped(-1234.5, 1) == "-1,234.5");
  CHECK(rd::grouped(999) == "999");
  CHECK(rd::grouped(kNaN) == "n/a");
  CHECK(rd::fixed(kNaN, 2) == "0.00");
  CHECK(rd::fixed(-0.0001, 2) == "0.00");
  CHECK(rd::fixed(1.0 / 3.0, 4) == "0.3333");
  CHECK(rd::value_text(0.1234, rd::Unit::share) == "12.3%");
  CHECK(rd::value_text(0.00123, rd::Unit::share) == "0.12%");
  CHECK(rd::value_text(0.031416, rd::Unit::metric) == "0.0314");
  CHECK(rd::value_text(36012, rd::Unit::count) == "36,012");
  CHECK(rd::tick_text(400000, b, rd::Unit::count) == "0.4M");
  CHECK(rd::tick_text(0.2, a, rd::Unit::share) == "20%");
  CHECK(rd::tick_text(0.03, rd::nice_axis(0.0317), rd::Unit::metric) == "0.03");
  CHECK(rd::tick_text(25000, rd::nice_axis(60000), rd::Unit::count) == "25k");
  CHECK(rd::shorten("abcdefghij", 8) == "abcde...");
  CHECK(rd::shorten("abc", 8) == "abc");
  CHECK(rd::shorten("aaaa\xc3\xa9\xc3\xa9\xc3\xa9", 8) == "aaaa...");  // never splits a UTF-8 character
}

TEST_CASE("santander report: write_report writes atomically and reports failures") {
  const std::filesystem::path dir = std::filesystem::path(RECMIX_TESTS_BINARY_DIR) / "santander_report_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "report.html";

  const ReportData d = full_data();
  {
    std::ofstream old(file);
    old << "old content";
  }
  write_report(d, file);
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  std::ifstream in(file, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(written == render_html(d));

  const std::filesystem::path missing = dir / "no_such_dir" / "report.html";
  try {
    write_report(d, missing);
    FAIL("write_report to a missing directory did not throw");
  } catch (const recmix::io_error& e) {
    CHECK(std::string(e.what()).find(missing.string()) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(missing));
  CHECK_THROWS_AS(write_report(d, ""), recmix::io_error);

  // The target is a directory: the temporary file is written, the rename fails, and it is removed.
  const std::filesystem::path is_dir = dir / "a_directory";
  std::filesystem::create_directories(is_dir / "inside");
  CHECK_THROWS_AS(write_report(d, is_dir), recmix::io_error);
  CHECK_FALSE(recmix::test::has_temporaries(dir));
  CHECK(std::filesystem::is_directory(is_dir / "inside"));
  std::filesystem::remove_all(dir);
}
