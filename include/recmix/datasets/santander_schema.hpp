#pragma once
/// @file
/// The Santander Product Recommendation data (Kaggle, file train_ver2.csv) as recmix holds it:
/// the 48 columns of the file, the 24 products, and `Dataset` — a panel of monthly snapshots
/// (months x customers x products, uint8) with the customers' demographics of every month.
/// santander_load.hpp fills it from the file; santander_generate.hpp writes files in the same
/// format; santander_features.hpp derives what models need from it.
///
/// @code
/// namespace sd = recmix::datasets::santander;
/// sd::Dataset data = sd::load("train_ver2.csv");          // lenient: bad rows skipped, counted
/// std::cout << data.report.summary();
/// auto last = data.num_months() - 1;
/// std::uint8_t holds = data.products(last, data.customer_index(1375586), sd::product_index("ind_cco_fin_ult1"));
/// float age = data.numeric(last, 0, sd::Numeric::age);   // NaN when missing
/// @endcode

#include <array>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <map>
#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "recmix/core/errors.hpp"
#include "recmix/core/types.hpp"

namespace recmix::datasets::santander {

/// Columns of train_ver2.csv, in file order.
inline constexpr std::array<std::string_view, 48> kColumnNames = {
    "fecha_dato",        "ncodpers",          "ind_empleado",      "pais_residencia",   "sexo",
    "age",               "fecha_alta",        "ind_nuevo",         "antiguedad",        "indrel",
    "ult_fec_cli_1t",    "indrel_1mes",       "tiprel_1mes",       "indresi",           "indext",
    "conyuemp",          "canal_entrada",     "indfall",           "tipodom",           "cod_prov",
    "nomprov",           "ind_actividad_cliente", "renta",         "segmento",          "ind_ahor_fin_ult1",
    "ind_aval_fin_ult1", "ind_cco_fin_ult1",  "ind_cder_fin_ult1", "ind_cno_fin_ult1",  "ind_ctju_fin_ult1",
    "ind_ctma_fin_ult1", "ind_ctop_fin_ult1", "ind_ctpp_fin_ult1", "ind_deco_fin_ult1", "ind_deme_fin_ult1",
    "ind_dela_fin_ult1", "ind_ecue_fin_ult1", "ind_fond_fin_ult1", "ind_hip_fin_ult1",  "ind_plan_fin_ult1",
    "ind_pres_fin_ult1", "ind_reca_fin_ult1", "ind_tjcr_fin_ult1", "ind_valo_fin_ult1", "ind_viv_fin_ult1",
    "ind_nomina_ult1",   "ind_nom_pens_ult1", "ind_recibo_ult1"};

inline constexpr std::size_t kNumColumns = kColumnNames.size();
/// Index of the first product column (ind_ahor_fin_ult1).
inline constexpr std::size_t kFirstProductColumn = 24;
inline constexpr std::size_t kNumProducts = 24;

/// Product column names, product index order (= file order).
inline constexpr std::array<std::string_view, kNumProducts> kProductNames = [] {
  std::array<std::string_view, kNumProducts> a{};
  for (std::size_t p = 0; p < kNumProducts; ++p) a[p] = kColumnNames[kFirstProductColumn + p];
  return a;
}();

/// What each product is (English), product index order.
inline constexpr std::array<std::string_view, kNumProducts> kProductLabels = {
    "saving account",       "guarantees",         "current account",     "derivative account",
    "payroll account",      "junior account",     "mas particular acct", "particular account",
    "particular plus acct", "short-term deposit", "medium-term deposit", "long-term deposit",
    "e-account",            "funds",              "mortgage",            "pension plan",
    "loans",                "taxes",              "credit card",         "securities",
    "home account",         "payroll",            "pensions (payroll)",  "direct debit"};

/// Index of a product column name, or -1.
inline Index product_index(std::string_view name) noexcept {
  for (std::size_t p = 0; p < kNumProducts; ++p) {
    if (kProductNames[p] == name) return static_cast<Index>(p);
  }
  return -1;
}

/// Numeric demographics, stored as float (NaN = missing, blank, NA, or the customer is absent
/// that month).
enum class Numeric : std::uint8_t {
  age,        ///< age, years
  seniority,  ///< antiguedad, months (the file's -999999 reads as missing)
  income,     ///< renta, gross household income
  joined,     ///< fecha_alta as a month number, year * 12 + (month - 1)
};
inline constexpr std::size_t kNumNumeric = 4;
/// The file column of each Numeric.
inline constexpr std::array<std::size_t, kNumNumeric> kNumericColumns = {5, 8, 22, 6};
inline constexpr std::array<std::string_view, kNumNumeric> kNumericNames = {"age", "seniority", "income", "joined"};

/// Categorical demographics, stored as uint8 codes: 0 = missing (blank or NA), code k >= 1 =
/// Dataset::categories[c][k - 1]. Values are trimmed of spaces, and numbers written as floats
/// lose a ".0" (indrel_1mes "1.0" and "1" are the same category "1").
enum class Categorical : std::uint8_t {
  employee,        ///< ind_empleado (A, B, F, N, S)
  country,         ///< pais_residencia (ES, ...)
  sex,             ///< sexo (H, V)
  new_customer,    ///< ind_nuevo (1 = joined in the last 6 months)
  relation,        ///< indrel (1 primary, 99 primary until the end of the month)
  relation_month,  ///< indrel_1mes (1, 2, 3, 4, P)
  relation_type,   ///< tiprel_1mes (A active, I inactive, P former, R potential)
  resident,        ///< indresi (S, N)
  foreigner,       ///< indext (S, N)
  spouse,          ///< conyuemp (S, N; mostly blank)
  channel,         ///< canal_entrada (KHE, KAT, KFC, ...)
  deceased,        ///< indfall (S, N)
  address_type,    ///< tipodom
  province_code,   ///< cod_prov (1 .. 52)
  province,        ///< nomprov
  active,          ///< ind_actividad_cliente (0, 1)
  segment,         ///< segmento (01 - TOP, 02 - PARTICULARES, 03 - UNIVERSITARIO)
};
inline constexpr std::size_t kNumCategorical = 17;
/// The file column of each Categorical.
inline constexpr std::array<std::size_t, kNumCategorical> kCategoricalColumns = {2,  3,  4,  7,  9,  11, 12, 13, 14,
                                                                                 15, 16, 17, 18, 19, 20, 21, 23};
inline constexpr std::array<std::string_view, kNumCategorical> kCategoricalNames = {
    "employee", "country", "sex",     "new_customer", "relation", "relation_month", "relation_type", "resident", "foreigner",
    "spouse",   "channel", "deceased", "address_type", "province_code", "province", "active", "segment"};
/// Most categories one column may hold (codes 1..254; 255 is never used).
inline constexpr std::size_t kMaxCategories = 254;

/// Month number (year * 12 + month - 1) of a date "YYYY-MM-DD"; -1 when it is not one.
inline int month_number(std::string_view date) noexcept {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return -1;
  int v[3] = {0, 0, 0};
  const std::size_t starts[3] = {0, 5, 8}, lens[3] = {4, 2, 2};
  for (int f = 0; f < 3; ++f) {
    for (std::size_t i = 0; i < lens[f]; ++i) {
      const char ch = date[starts[f] + i];
      if (ch < '0' || ch > '9') return -1;
      v[f] = v[f] * 10 + (ch - '0');
    }
  }
  static constexpr int kDays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (v[0] < 1900 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > kDays[v[1] - 1]) return -1;
  if (v[1] == 2 && v[2] == 29 && !((v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0)) return -1;
  return v[0] * 12 + v[1] - 1;
}

/// "YYYY-MM-28" for a month number (the day the file's snapshots carry).
inline std::string month_date(int month_number, int day = 28) {
  std::ostringstream os;
  os << std::setfill('0') << std::setw(4) << month_number / 12 << '-' << std::setw(2) << month_number % 12 + 1 << '-'
     << std::setw(2) << day;
  return os.str();
}

/// What a load did: rows kept, rows skipped by reason, quirks met.
struct LoadReport {
  std::string source;                 ///< file name, or "<memory>"
  bool header = false;                ///< the first line was a header
  std::size_t lines = 0;              ///< data lines read (header and empty last line excluded)
  std::size_t rows = 0;               ///< rows kept
  std::size_t skipped = 0;            ///< rows skipped (lenient mode)
  /// Skipped rows per reason ("wrong column count", "bad date in fecha_dato", ...).
  std::map<std::string, std::size_t> skipped_by_reason;
  /// The first few skipped rows, "file:line:column: reason".
  std::vector<std::string> examples;
  std::size_t missing_product_flags = 0;  ///< product flags that were NA or blank (read as 0)
  std::size_t blank_customers = 0;        ///< rows whose every demographic field was blank
  /// Months between the first and the last with no snapshot at all ("YYYY-MM-28"). The panel
  /// does not invent them: lags and additions then compare adjacent snapshots, which are more
  /// than a month apart there.
  std::vector<std::string> missing_months;
  double seconds = 0.0;                   ///< wall time of the load

  /// A few lines for a log: "read 13647309 rows ... skipped 12 (wrong column count: 12)".
  [[nodiscard]] std::string summary() const {
    std::ostringstream os;
    os << source << ": " << rows << " rows kept of " << lines << " read";
    if (skipped > 0) {
      os << ", " << skipped << " skipped (";
      bool first = true;
      for (const auto& [reason, n] : skipped_by_reason) {
        os << (first ? "" : ", ") << reason << ": " << n;
        first = false;
      }
      os << ")";
    }
    os << "; " << missing_product_flags << " product flags NA, " << blank_customers << " rows with blank demographics";
    os << std::fixed << std::setprecision(2) << "; " << seconds << " s\n";
    if (!missing_months.empty()) {
      os << "  no snapshot for " << missing_months.size() << (missing_months.size() == 1 ? " month" : " months") << ":";
      for (const auto& m : missing_months) os << ' ' << m;
      os << " (lags and additions compare adjacent snapshots)\n";
    }
    for (const auto& e : examples) os << "  skipped " << e << '\n';
    return os.str();
  }
};

/// The file as a panel. A customer absent from a month has present = 0, products 0, numeric NaN
/// and categorical 0 in that month.
struct Dataset {
  /// fecha_dato of each month, ascending (distinct values of the file).
  std::vector<std::string> months;
  /// Month number (year * 12 + month - 1) of each month (consecutive when the file has every
  /// month; the loader does not invent missing ones, and lags count snapshots).
  std::vector<int> month_numbers;
  /// ncodpers of each customer, ascending; a customer's index is its position here.
  std::vector<std::int64_t> customers;
  /// months x customers: 1 when the file has that customer's snapshot that month.
  xt::xtensor<std::uint8_t, 2> present;
  /// months x customers x kNumProducts: 1 when held (NA reads as 0, counted in the report).
  xt::xtensor<std::uint8_t, 3> products;
  /// months x customers x kNumNumeric.
  xt::xtensor<float, 3> numeric;
  /// months x customers x kNumCategorical, codes into categories.
  xt::xtensor<std::uint8_t, 3> categorical;
  /// Per Categorical: the category of code k + 1, sorted byte-wise.
  std::array<std::vector<std::string>, kNumCategorical> categories;
  /// What the load did (empty for a dataset built otherwise).
  LoadReport report;

  [[nodiscard]] Index num_months() const noexcept { return static_cast<Index>(months.size()); }
  [[nodiscard]] Index num_customers() const noexcept { return static_cast<Index>(customers.size()); }

  /// Index of a customer id (ncodpers), or -1.
  [[nodiscard]] Index customer_index(std::int64_t ncodpers) const noexcept {
    auto it = std::lower_bound(customers.begin(), customers.end(), ncodpers);
    return it != customers.end() && *it == ncodpers ? static_cast<Index>(it - customers.begin()) : -1;
  }
  /// Index of a month given as its fecha_dato ("2016-05-28"), or -1.
  [[nodiscard]] Index month_index(std::string_view date) const noexcept {
    for (std::size_t m = 0; m < months.size(); ++m) {
      if (months[m] == date) return static_cast<Index>(m);
    }
    return -1;
  }
  /// Numeric value of a customer in a month.
  [[nodiscard]] float numeric_value(Index month, Index customer, Numeric what) const {
    return numeric(static_cast<std::size_t>(month), static_cast<std::size_t>(customer), static_cast<std::size_t>(what));
  }
  /// Category code (0 = missing) of a customer in a month.
  [[nodiscard]] std::uint8_t code(Index month, Index customer, Categorical what) const {
    return categorical(static_cast<std::size_t>(month), static_cast<std::size_t>(customer), static_cast<std::size_t>(what));
  }
  /// The category string of a code ("" for 0).
  [[nodiscard]] const std::string& category(Categorical what, std::uint8_t code) const {
    static const std::string kMissing;
    const auto& c = categories[static_cast<std::size_t>(what)];
    return code == 0 || code > c.size() ? kMissing : c[code - 1u];
  }
  /// Code of a category string in a column, or 0 when absent.
  [[nodiscard]] std::uint8_t code_of(Categorical what, std::string_view value) const {
    const auto& c = categories[static_cast<std::size_t>(what)];
    auto it = std::lower_bound(c.begin(), c.end(), value, [](const std::string& a, std::string_view b) { return a < b; });
    return it != c.end() && *it == value ? static_cast<std::uint8_t>(it - c.begin() + 1) : 0;
  }
};

}  // namespace recmix::datasets::santander
