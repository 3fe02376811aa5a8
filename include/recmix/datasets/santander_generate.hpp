#pragma once
/// @file
/// A generator of Santander-like files: the 48 columns of Kaggle's train_ver2.csv (see
/// santander_schema.hpp), written month by month, ordered by ncodpers, with the real file's
/// quirks, from a latent model in which demographics, ownership history and hidden tastes all
/// carry signal. The same options give the same bytes on every machine and for any thread count.
///
/// @code
/// namespace sd = recmix::datasets::santander;
/// sd::GenerateOptions opt;
/// opt.customers = 400;
/// sd::GenerateSummary s = sd::generate(opt, "train.csv");    // atomic: train.csv.tmp, then rename
/// std::cout << s.rows << " rows, " << s.customers << " customers\n";
///
/// opt.truth_month = 16;                                      // also: the true chances of month 16
/// sd::GenerateSummary t = sd::generate(opt, "train.csv");    // same file; t.truth: the ceiling
/// @endcode
///
/// Latent model, per customer (all of it drawn from an Rng seeded by (seed, customer number)):
///   - demographics: age (minors with junior accounts, a student peak around 23, adults around
///     46), province (the real 52, weighted like the file), income log-normal around the
///     province's median (shown as NA for income_na_rate of customers, still used by the model),
///     segment (03 - UNIVERSITARIO for most 18-25 year olds, 01 - TOP for the wealthy, else
///     02 - PARTICULARES), channel (KHE mostly for the young, KAT / KFC for adults, a long tail),
///     seniority, sex, country;
///   - a hidden taste: 4 standard normal factors (investor, transactional, digital, account type)
///     that do not depend on the demographics, with fixed loadings per product;
///   - an activity flag (ind_actividad_cliente) following a slow two-state chain;
///   - per product a holding propensity pi = sigmoid(base + demographics + taste + couplings
///     with products already decided this month + activity). Holdings follow a two-state chain
///     with add hazard speed * pi (times 1.5 when active, 0.4 when not, 3 in the first 6 months
///     after joining, 15 for reca in June) and drop hazard speed * (1 - pi). Payroll, pensions,
///     direct debit and credit card turn over fast, so re-additions a few months after a drop are
///     common; pensions (payroll) is held with payroll (98 % of months) and dropped with it;
///     payroll account, direct debit and credit card are coupled to payroll / current account.
/// Customers present at the start are simulated through 12 unwritten months first (so the first
/// written month is near the chain's equilibrium). New customers join every month (join_rate of
/// the expected base), start with a current account (or a junior account for minors) and take
/// more products in their first months; customers leave at leave_rate a month (their rows stop;
/// some get indrel 99 and ult_fec_cli_1t in their last month).
///
/// File format by month (as the real file): up to 2015-06 numbers are padded (age " 35",
/// ind_nuevo " 0", antiguedad "      6", indrel " 1", tipodom " 1", ind_actividad_cliente " 1"),
/// indrel_1mes is mostly "1.0" and renta is written shortest ("87218.1") or "NA"; from 2015-07 on
/// age is "35", antiguedad "     6", indrel_1mes "1", renta has 2 decimals and NA is
/// "         NA"; product flags are " 0" / " 1" in 2015-10 .. 2015-12. ind_nomina_ult1 and
/// ind_nom_pens_ult1 are NA on payroll_na_rate of rows, antiguedad is -999999 for
/// unknown_seniority_rate of customers, blank_demographics_rate of customers have every
/// demographic field (columns 2..23) blank for a few months, and missing_field_rate of customers
/// lack their channel / segment (a third of that rate: sex). Provinces with a comma are quoted.

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/parallel.hpp"
#include "recmix/core/random.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"
#include "recmix/datasets/santander_schema.hpp"
#include "recmix/io/atomic_file.hpp"

namespace recmix::datasets::santander {

/// What to generate. Rates are shares in [0, 1].
struct GenerateOptions {
  Index customers = 50000;      ///< customers present in the first month
  Index months = 17;            ///< monthly snapshots (1 .. 240)
  int first_month = 2015 * 12;  ///< month number (year * 12 + month - 1) of the first snapshot
  std::uint64_t seed = 42;
  double join_rate = 0.008;     ///< new customers per month, share of the expected base
  double leave_rate = 0.003;    ///< chance a customer leaves in a given month
  bool header = true;           ///< write the header line
  bool quote_header = true;     ///< header names in double quotes, as in the real file
  int threads = 0;              ///< 0 = all cores; the output does not depend on it
  double income_na_rate = 0.20;            ///< customers whose renta is NA
  double blank_demographics_rate = 0.002;  ///< customers with every demographic blank for 1-4 months
  double missing_field_rate = 0.012;       ///< customers without channel / segment (sex: a third)
  double payroll_na_rate = 0.0012;         ///< rows with ind_nomina_ult1 / ind_nom_pens_ult1 NA
  double unknown_seniority_rate = 0.0005;  ///< customers with antiguedad -999999
  /// Snapshot (1 .. months - 1) for which generate() also computes each customer's true chance
  /// of adding each product (GenerateSummary::truth); -1 = none. The file is the same either way.
  Index truth_month = -1;
  /// Draws of truth_month per customer that the truth averages (1 .. 100000).
  int truth_samples = 64;
};

/// What a model could at best know about the additions of one month: each customer's chance of
/// adding each product, given everything the generator knows at the end of the month before
/// (hidden tastes, activity, products hidden by a temporary gap). Ranking by it is the ceiling
/// of any recommender on that month; it is not an observation of it.
struct GenerateTruth {
  Index month = -1;                      ///< the snapshot (GenerateOptions::truth_month; -1 when read from a file)
  std::string date;                      ///< its fecha_dato, "YYYY-MM-28"
  std::vector<std::int64_t> customers;   ///< ncodpers of the customers present that month, ascending
  /// customers.size() x 24, row-major: chance that product p is written 1 that month and was
  /// not written 1 (or the customer was absent) the month before; 0 for products written the
  /// month before. Estimated from truth_samples draws, each averaging the exact chance of the
  /// product given the draws of the products decided before it.
  std::vector<float> probabilities;
};

/// What generate() wrote.
struct GenerateSummary {
  std::size_t rows = 0;  ///< data rows (header excluded)
  Index customers = 0;   ///< distinct customers (present at the start + joined)
  Index months = 0;
  /// Share of rows holding each product (as written: NA counts as not held).
  std::array<double, kNumProducts> prevalence{};
  /// 0 -> 1 transitions of each product between consecutive months of a customer.
  std::array<std::size_t, kNumProducts> additions{};
  double seconds = 0.0;  ///< wall time
  GenerateTruth truth;   ///< with GenerateOptions::truth_month (else empty, month -1)
};

namespace generate_detail {

// ---- reference tables ----------------------------------------------------------------------

struct Province {
  std::string_view name;
  int code;        ///< cod_prov
  double weight;   ///< share of customers, percent
  double median;   ///< median renta, thousands
};

/// The 52 provinces as train_ver2.csv names them, with their cod_prov.
inline constexpr std::array<Province, 52> kProvinces = {{
    {"ALAVA", 1, 0.4, 110},          {"ALBACETE", 2, 0.9, 76},     {"ALICANTE", 3, 2.3, 82},
    {"ALMERIA", 4, 0.6, 78},         {"AVILA", 5, 0.3, 80},        {"BADAJOZ", 6, 1.6, 70},
    {"BALEARS, ILLES", 7, 1.0, 100}, {"BARCELONA", 8, 9.5, 115},   {"BURGOS", 9, 0.8, 92},
    {"CACERES", 10, 1.0, 72},        {"CADIZ", 11, 2.2, 78},       {"CASTELLON", 12, 0.9, 84},
    {"CIUDAD REAL", 13, 1.0, 72},    {"CORDOBA", 14, 1.0, 75},     {"CORUÑA, A", 15, 3.2, 90},
    {"CUENCA", 16, 0.4, 72},         {"GIRONA", 17, 0.6, 100},     {"GRANADA", 18, 1.4, 78},
    {"GUADALAJARA", 19, 0.5, 90},    {"GIPUZKOA", 20, 0.7, 110},   {"HUELVA", 21, 1.0, 74},
    {"HUESCA", 22, 0.3, 88},         {"JAEN", 23, 0.6, 70},        {"LEON", 24, 0.7, 82},
    {"LERIDA", 25, 0.4, 92},         {"RIOJA, LA", 26, 0.5, 92},   {"LUGO", 27, 0.7, 80},
    {"MADRID", 28, 32.5, 130},       {"MALAGA", 29, 3.1, 85},      {"MURCIA", 30, 2.9, 78},
    {"NAVARRA", 31, 0.8, 105},       {"OURENSE", 32, 0.6, 78},     {"ASTURIAS", 33, 2.0, 88},
    {"PALENCIA", 34, 0.3, 82},       {"PALMAS, LAS", 35, 1.8, 80}, {"PONTEVEDRA", 36, 2.1, 85},
    {"SALAMANCA", 37, 1.3, 84},      {"SANTA CRUZ DE TENERIFE", 38, 0.9, 80},
    {"CANTABRIA", 39, 1.2, 92},      {"SEGOVIA", 40, 0.3, 86},     {"SEVILLA", 41, 4.4, 84},
    {"SORIA", 42, 0.2, 84},          {"TARRAGONA", 43, 0.7, 96},   {"TERUEL", 44, 0.2, 80},
    {"TOLEDO", 45, 1.4, 80},         {"VALENCIA", 46, 5.2, 88},    {"VALLADOLID", 47, 2.0, 96},
    {"BIZKAIA", 48, 1.5, 112},       {"ZAMORA", 49, 0.4, 76},      {"ZARAGOZA", 50, 2.5, 98},
    {"CEUTA", 51, 0.1, 82},          {"MELILLA", 52, 0.1, 82},
}};

struct Channel {
  std::string_view code;
  double young;  ///< weight for customers up to 25 years old
  double adult;  ///< weight for the others
};

/// canal_entrada codes, the big three first, then the long tail.
inline constexpr std::array<Channel, 60> kChannels = {{
    {"KHE", 62.0, 8.0}, {"KAT", 4.0, 36.0}, {"KFC", 8.0, 33.0}, {"KHQ", 7.0, 3.0},  {"KFA", 1.5, 3.5},
    {"KHK", 3.0, 1.2},  {"KHM", 2.5, 1.0},  {"KHD", 1.5, 0.7},  {"KHN", 1.4, 0.6},  {"KAS", 0.5, 0.7},
    {"RED", 0.3, 0.7},  {"KAG", 0.4, 0.6},  {"KAY", 0.3, 0.5},  {"KAA", 0.3, 0.5},  {"KAB", 0.3, 0.5},
    {"KAE", 0.2, 0.4},  {"KCC", 0.2, 0.3},  {"KBZ", 0.2, 0.3},  {"KHL", 0.3, 0.2},  {"KFD", 0.1, 0.3},
    {"KAI", 0.1, 0.25}, {"KEY", 0.1, 0.22}, {"KAW", 0.1, 0.2},  {"KAR", 0.1, 0.18}, {"KAZ", 0.1, 0.16},
    {"KAF", 0.1, 0.15}, {"007", 0.05, 0.15}, {"013", 0.05, 0.12}, {"KCI", 0.05, 0.12}, {"KAH", 0.05, 0.1},
    {"KAJ", 0.04, 0.08}, {"KCH", 0.04, 0.07}, {"KHF", 0.05, 0.06}, {"KAQ", 0.03, 0.06}, {"KHO", 0.04, 0.05},
    {"KAL", 0.03, 0.05}, {"KFF", 0.02, 0.05}, {"KAD", 0.02, 0.04}, {"KFP", 0.02, 0.04}, {"KFG", 0.02, 0.03},
    {"KAM", 0.02, 0.03}, {"KBO", 0.01, 0.03}, {"KFE", 0.01, 0.03}, {"KFJ", 0.01, 0.02}, {"KAK", 0.01, 0.02},
    {"KFU", 0.01, 0.02}, {"KFK", 0.01, 0.02}, {"KFN", 0.01, 0.02}, {"KAP", 0.01, 0.02}, {"KEJ", 0.005, 0.01},
    {"KBH", 0.01, 0.015}, {"KBU", 0.01, 0.015}, {"KCB", 0.01, 0.015}, {"KGX", 0.01, 0.01}, {"KFS", 0.01, 0.01},
    {"KDE", 0.005, 0.01}, {"KCL", 0.005, 0.01}, {"KBJ", 0.005, 0.01}, {"004", 0.005, 0.008}, {"025", 0.005, 0.005},
}};

struct Country {
  std::string_view code;
  double weight;
};

/// pais_residencia of the customers not living in Spain.
inline constexpr std::array<Country, 20> kCountries = {{
    {"FR", 16}, {"AR", 14}, {"DE", 12}, {"GB", 11}, {"US", 10}, {"CO", 8}, {"IT", 7},
    {"RO", 6},  {"MX", 6},  {"EC", 5},  {"VE", 5},  {"BR", 4},  {"PE", 4}, {"CH", 4},
    {"BE", 3},  {"PT", 3},  {"CL", 2},  {"NL", 2},  {"IE", 1},  {"MA", 1},
}};

inline constexpr std::array<std::string_view, 4> kSegments = {"", "01 - TOP", "02 - PARTICULARES", "03 - UNIVERSITARIO"};
inline constexpr std::array<std::string_view, 5> kEmployees = {"N", "A", "B", "F", "S"};

// ---- the product model ---------------------------------------------------------------------

inline constexpr std::size_t P = kNumProducts;
using Effects = std::array<float, P>;
// Product order (file order): ahor aval cco cder cno ctju ctma ctop ctpp deco deme dela ecue fond
//                             hip plan pres reca tjcr valo viv nomina nom_pens recibo
enum : int {
  kAhor, kAval, kCco, kCder, kCno, kCtju, kCtma, kCtop, kCtpp, kDeco, kDeme, kDela,
  kEcue, kFond, kHip, kPlan, kPres, kReca, kTjcr, kValo, kViv, kNomina, kNomPens, kRecibo
};

/// Order in which the products of a month are decided (couplings read the products before).
inline constexpr std::array<int, P> kOrder = {kCtju, kCtop, kCtpp, kCco, kEcue, kCtma, kNomina, kNomPens,
                                              kCno,  kRecibo, kTjcr, kDela, kDeco, kDeme, kFond, kValo,
                                              kPlan, kReca, kHip,  kViv,  kPres, kAhor, kAval, kCder};

struct Coupling {
  int source, target;
  float weight;
};
/// Logit added to the target's propensity when the source is held this month.
inline constexpr std::array<Coupling, 16> kCouplings = {{
    {kCtju, kCco, -2.0f},  {kCtop, kCco, -1.0f},   {kCtpp, kCco, -0.6f},  {kCco, kEcue, 0.4f},
    {kCco, kNomina, 0.8f}, {kCco, kRecibo, 1.8f},  {kCco, kTjcr, 0.6f},   {kNomina, kCno, 3.0f},
    {kNomina, kRecibo, 0.8f}, {kNomina, kTjcr, 1.2f}, {kEcue, kCtma, 0.8f}, {kEcue, kTjcr, 0.3f},
    {kDela, kFond, 0.5f},  {kFond, kValo, 0.6f},   {kHip, kViv, 2.5f},    {kCtop, kRecibo, 0.6f},
}};

//                                  ahor  aval   cco  cder   cno  ctju  ctma  ctop  ctpp  deco  deme  dela
//                                  ecue  fond   hip  plan  pres  reca  tjcr  valo   viv  nomi  npen recib
inline constexpr Effects kStudent = {-1.0f, -1.0f, 1.2f, -2.0f, -1.5f, 0.0f, -0.5f, -2.5f, -2.5f, -1.0f, -1.0f, -2.0f,
                                     -0.5f, -2.0f, -3.0f, -2.5f, -1.5f, -2.0f, -1.2f, -2.0f, -3.0f, -1.5f, -1.5f, -1.2f};
inline constexpr Effects kTop = {1.0f, 1.0f, -0.3f, 1.5f, 0.3f, 0.0f, 1.0f, 0.3f, 0.5f, 1.0f, 1.0f, 1.8f,
                                 1.2f, 2.0f, 0.8f, 1.8f, 0.3f, 1.2f, 0.8f, 2.0f, 0.8f, 0.2f, 0.2f, 0.3f};
/// Per standard deviation of log income.
inline constexpr Effects kIncome = {0.2f, 0.2f, 0.0f, 0.3f, 0.1f, 0.0f, 0.3f, 0.2f, 0.2f, 0.3f, 0.3f, 0.4f,
                                    0.3f, 0.5f, 0.3f, 0.3f, 0.1f, 0.3f, 0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.1f};
/// Per 15 years of age above 45 (adults).
inline constexpr Effects kAge = {0.0f, 0.0f, -0.1f, 0.2f, -0.2f, 0.0f, 0.1f, 0.6f, 0.4f, 0.2f, 0.2f, 0.5f,
                                 -0.4f, 0.3f, -0.5f, 0.4f, -0.3f, 0.2f, -0.1f, 0.3f, -0.4f, -0.3f, -0.3f, 0.1f};
/// 65 and older.
inline constexpr Effects kRetired = {0.0f, 0.0f, 0.0f, 0.0f, -1.0f, 0.0f, 0.0f, 0.2f, 0.2f, 0.0f, 0.0f, 0.3f,
                                     -0.3f, 0.0f, -0.5f, 0.3f, 0.0f, 0.0f, -0.5f, 0.0f, 0.0f, -1.5f, 2.5f, 0.0f};
/// Under 18: junior accounts, little else.
inline constexpr Effects kMinor = {-4.0f, -4.0f, -0.5f, -4.0f, -4.0f, 13.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f,
                                   -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f, -4.0f};
/// Channel classes: KHE, KAT, KFC, any other.
inline constexpr std::array<Effects, 4> kChannelEffect = {{
    {0.0f, 0.0f, 0.6f, 0.0f, 0.0f, 0.0f, 0.0f, -0.8f, 0.0f, 0.0f, 0.0f, 0.0f,
     -0.3f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, -0.3f, 0.0f, 0.0f, -0.2f, -0.2f, -0.3f},
    {0.0f, 0.0f, 0.0f, 0.0f, 0.4f, 0.0f, 0.0f, 0.5f, 0.0f, 0.0f, 0.0f, 0.4f,
     0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.4f, 0.4f, 0.4f},
    {0.0f, 0.0f, 0.0f, 0.0f, 0.3f, 0.0f, 0.6f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f,
     0.8f, 0.0f, 0.0f, 0.0f, 0.0f, 0.4f, 0.0f, 0.2f, 0.0f, 0.0f, 0.0f, 0.0f},
    {0.0f, 0.0f, -0.2f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f,
     0.0f, 0.0f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f, 0.0f},
}};
/// Per 60 months of seniority above 60.
inline constexpr Effects kSeniority = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.3f, 0.3f, 0.0f, 0.0f, 0.2f,
                                       0.0f, 0.0f, 0.2f, 0.2f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.2f};
/// sexo V.
inline constexpr Effects kSexV = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f,
                                  0.0f, 0.0f, 0.0f, 0.0f, 0.1f, 0.0f, 0.15f, 0.1f, 0.0f, 0.0f, 0.0f, 0.0f};
/// When ind_actividad_cliente is 1.
inline constexpr Effects kActive = {0.0f, 0.0f, 0.5f, 0.0f, 1.0f, 0.0f, 0.3f, 0.2f, 0.0f, 0.0f, 0.0f, 0.3f,
                                    0.6f, 0.0f, 0.0f, 0.0f, 0.0f, 0.8f, 1.2f, 0.0f, 0.0f, 1.5f, 1.5f, 1.0f};
/// Loadings of the 4 hidden taste factors: investor, transactional, digital, account type.
inline constexpr std::array<Effects, 4> kLoadings = {{
    {0.0f, 0.0f, 0.0f, 0.8f, 0.0f, 0.0f, 0.6f, 0.0f, 0.0f, 0.5f, 0.5f, 1.0f,
     0.3f, 1.2f, 0.0f, 0.8f, 0.0f, 0.0f, 0.0f, 1.2f, 0.0f, 0.0f, 0.0f, 0.0f},
    {0.0f, 0.0f, 0.3f, 0.0f, 0.6f, 0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f, 0.0f,
     0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.6f, 1.0f, 0.0f, 0.0f, 0.5f, 0.5f, 1.0f},
    {0.0f, 0.0f, 0.3f, 0.0f, 0.0f, 0.0f, 0.8f, -0.6f, -0.4f, 0.0f, 0.0f, 0.0f,
     1.2f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.4f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},
    {0.0f, 0.0f, -0.8f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.8f, 0.0f, 0.0f, 0.0f,
     0.0f, 0.0f, 0.6f, 0.0f, 0.6f, 0.0f, 0.0f, 0.0f, 0.6f, 0.0f, 0.0f, 0.3f},
}};

/// The calibrated part: base logit and turnover speed per product (fitted so that a default
/// run reproduces the real prevalences and monthly additions).
struct Model {
  Effects base;
  Effects speed;
};

inline const Model& default_model() {
  static const Model m = {
      //  ahor    aval     cco     cder    cno     ctju    ctma    ctop    ctpp    deco    deme    dela
      //  ecue    fond     hip     plan    pres    reca    tjcr    valo    viv     nomina  nompens recibo
      {-8.52f, -10.4f, 0.42f, -8.22f, -4.1f, -13.71f, -5.71f, -2.21f, -3.48f, -6.19f, -6.45f, -3.81f,
       -3.64f, -4.84f, -5.3f, -5.11f, -5.93f, -3.7f, -5.14f, -4.54f, -5.58f, -4.41f, -6.89f, -4.2f},
      {0.0086f, 0.001f, 0.0434f, 0.0519f, 0.00113f, 0.0262f, 0.0453f, 0.00462f, 0.0046f, 0.037f, 0.0241f, 0.0205f,
       0.0442f, 0.0137f, 0.00277f, 0.0052f, 0.0104f, 0.0124f, 0.0836f, 0.0151f, 0.00262f, 0.0927f, 0.0277f, 0.0652f},
  };
  return m;
}

// ---- customers -----------------------------------------------------------------------------

inline constexpr std::uint8_t kNoChannel = 255, kNoProvince = 255;
inline constexpr int kBurnIn = 12;  ///< unwritten months simulated before the first snapshot
inline constexpr std::uint64_t kTruthSalt = 0x7E57ED0A4C1E5EEDULL;  ///< seeds the truth's own draws
inline constexpr int kEraB = 2015 * 12 + 6;  ///< from 2015-07 the file writes numbers differently

enum Flag : std::uint8_t {
  kIncomeNa = 1,
  kUnknownSeniority = 2,
  kForeignBorn = 4,  ///< indext S
  kDeceased = 8,
  kLastIndrel99 = 16,  ///< indrel 99 in the last month before leaving
};

/// Everything about a customer that does not change from month to month.
struct Customer {
  std::uint32_t id = 0;        ///< ncodpers
  std::uint32_t income = 0;    ///< renta in cents
  std::int32_t alta = 0;       ///< fecha_alta month number
  std::int16_t join = 0;       ///< first month present (snapshot index)
  std::int16_t leave = 0;      ///< first month absent (>= months: never leaves)
  std::int16_t age_months = 0; ///< age in months at the first snapshot
  std::int8_t blank_from = -1; ///< first month of the blank-demographics stretch (-1: none)
  std::uint8_t blank_len = 0;
  std::uint8_t alta_day = 1;
  std::uint8_t province = kNoProvince;
  std::uint8_t channel = kNoChannel;
  std::uint8_t country = 0;    ///< 0 = ES, k = kCountries[k - 1]
  std::uint8_t segment = 0;    ///< index into kSegments (0 = missing)
  std::uint8_t sex = 0;        ///< 0 missing, 1 H, 2 V
  std::uint8_t employee = 0;   ///< index into kEmployees
  std::uint8_t flags = 0;
};

// Month word: bits 0..23 products as written, then:
inline constexpr std::uint32_t kWordActive = 1u << 24;
inline constexpr std::uint32_t kWordBlank = 1u << 25;
inline constexpr std::uint32_t kWordPayrollNa = 1u << 26;
inline constexpr std::uint32_t kWordIndrel99 = 1u << 27;
inline constexpr int kWordRelShift = 28;  ///< 3 bits: indrel_1mes 0 '1', 1 '2', 2 '3', 3 '4', 4 'P'
inline constexpr std::uint32_t kProductMask = (1u << P) - 1u;

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

inline std::uint64_t customer_seed(std::uint64_t seed, std::uint64_t number) {
  std::uint64_t s = seed ^ (0xA0761D6478BD642FULL * (number + 1));
  splitmix64(s);
  return splitmix64(s);
}

/// Discrete draw by cumulative weights (small tables).
template <class Weights>
inline std::size_t draw_index(const Weights& cumulative, Rng& rng) {
  const double u = rng.uniform() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return std::min<std::size_t>(static_cast<std::size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

struct Tables {
  std::vector<double> province, country, channel_young, channel_adult;  ///< cumulative weights
  std::array<std::array<int, 8>, P> coupling_source{};
  std::array<std::array<float, 8>, P> coupling_weight{};
  std::array<int, P> coupling_count{};
  std::array<std::uint8_t, kChannels.size()> channel_class{};
};

inline const Tables& tables() {
  static const Tables t = [] {
    Tables x;
    double acc = 0;
    for (const auto& p : kProvinces) x.province.push_back(acc += p.weight);
    acc = 0;
    for (const auto& c : kCountries) x.country.push_back(acc += c.weight);
    double a = 0, b = 0;
    for (std::size_t k = 0; k < kChannels.size(); ++k) {
      x.channel_young.push_back(a += kChannels[k].young);
      x.channel_adult.push_back(b += kChannels[k].adult);
      x.channel_class[k] = static_cast<std::uint8_t>(k < 3 ? k : 3);
    }
    for (const auto& c : kCouplings) {
      const auto t_ = static_cast<std::size_t>(c.target);
      const auto n = static_cast<std::size_t>(x.coupling_count[t_]++);
      x.coupling_source[t_][n] = c.source;
      x.coupling_weight[t_][n] = c.weight;
    }
    return x;
  }();
  return t;
}

/// Number of customers joining in each month (index 0 = none), from the expected base.
inline std::vector<Index> join_counts(const GenerateOptions& o) {
  std::vector<Index> joins(static_cast<std::size_t>(o.months), 0);
  double base = static_cast<double>(o.customers);
  for (std::size_t m = 1; m < joins.size(); ++m) {
    joins[m] = static_cast<Index>(std::llround(o.join_rate * base));
    base = base * (1.0 - o.leave_rate) + static_cast<double>(joins[m]);
  }
  return joins;
}

/// The simulated panel: customers in ncodpers order, one word per (customer, month).
struct Simulation {
  std::vector<Customer> customers;
  std::vector<std::uint32_t> words;  ///< customers x months
  Index months = 0;
  std::size_t rows = 0;
  std::array<std::size_t, P> held{};
  /// months x P: additions in each month (0 -> 1 from the month before).
  std::vector<std::array<std::size_t, P>> additions;
  /// With truth_month: customers x P chances of adding (rows of absent customers stay -1).
  std::vector<float> truth;
};

inline constexpr std::uint32_t kFirstId = 15889, kJoinerFirstId = 1400001, kLastId = 1553689;

/// Draws the static description of customer `number` (0-based; joiners after the initial
/// customers) and simulates its months into words[0 .. months). With `truth` (P floats), also
/// estimates the customer's chances of adding each product in o.truth_month, if present then.
inline void simulate_customer(const GenerateOptions& o, const Model& model, std::size_t number, Index join_month,
                              std::uint32_t id, Customer& c, std::uint32_t* words,
                              std::array<std::size_t, P>& held, std::array<std::size_t, P>* additions,
                              std::size_t& rows, float* truth) {
  const Tables& tab = tables();
  Rng rng(customer_seed(o.seed, number));
  c = Customer{};
  c.id = id;
  c.join = static_cast<std::int16_t>(join_month);
  const bool initial = join_month == 0;
  const int join_calendar = o.first_month + join_month;

  // Age: 3 % minors, 37 % young (student peak), 60 % adults.
  double age;
  const double ua = rng.uniform();
  if (ua < 0.03) age = 2.0 + 16.0 * rng.uniform();
  else if (ua < 0.40) age = std::clamp(23.0 + 2.2 * rng.normal(), 18.0, 32.0);
  else age = std::clamp(46.0 + 14.0 * rng.normal(), 26.0, 104.0);
  age -= join_month / 12.0;  // the age drawn is the age on joining
  c.age_months = static_cast<std::int16_t>(std::max(0.0, age * 12.0));
  const double age_join = age + join_month / 12.0;

  // Country, province, income.
  if (rng.uniform() < 0.005) c.country = static_cast<std::uint8_t>(1 + draw_index(tab.country, rng));
  if (c.country != 0 || rng.uniform() < 0.045) c.flags |= kForeignBorn;
  double median = 90.0;
  if (c.country == 0 && rng.uniform() >= 0.004) {
    c.province = static_cast<std::uint8_t>(draw_index(tab.province, rng));
    median = kProvinces[c.province].median;
  }
  const double income_z = rng.normal();
  double income = median * 1000.0 * std::exp(0.6 * income_z);

  // Segment.
  const bool minor = age_join < 18.0;
  const bool young = age_join < 26.0;
  int segment = 2;
  if (!minor && young && rng.uniform() < 0.85) segment = 3;
  else if (!minor && !young && rng.uniform() < sigmoid(static_cast<float>(-4.6 + 1.6 * income_z + 0.02 * (age_join - 45.0)))) segment = 1;
  if (segment == 1) income *= 2.0;
  if (segment == 3) income *= 0.85;
  income = std::clamp(income, 1202.73, 28894395.51);
  c.income = static_cast<std::uint32_t>(std::llround(income * 100.0));
  const double log_income_z = std::log(income / 95000.0) / 0.65;
  c.segment = static_cast<std::uint8_t>(segment);
  if (rng.uniform() < o.income_na_rate) c.flags |= kIncomeNa;

  // Channel, sex, employee.
  const auto ch = draw_index(young ? tab.channel_young : tab.channel_adult, rng);
  c.channel = static_cast<std::uint8_t>(ch);
  const int channel_class = tab.channel_class[ch];
  c.sex = static_cast<std::uint8_t>(rng.uniform() < (young ? 0.52 : 0.44) ? 1 : 2);
  const double ue = rng.uniform();
  c.employee = static_cast<std::uint8_t>(ue < 0.9992 ? 0 : ue < 0.9994 ? 1 : ue < 0.9996 ? 2 : ue < 0.9998 ? 3 : 4);

  // Seniority at joining.
  int seniority = 0;
  if (initial) {
    const int cap = minor ? static_cast<int>(age_join * 12.0) : young ? std::min(72, static_cast<int>((age_join - 16.0) * 12.0)) : 245;
    seniority = rng.uniform() < 0.4 ? static_cast<int>(rng.below(61)) : static_cast<int>(rng.below(246));
    seniority = std::clamp(seniority, 0, std::max(0, cap));
  }
  c.alta = join_calendar - seniority;
  c.alta_day = static_cast<std::uint8_t>(1 + rng.below(28));
  if (rng.uniform() < o.unknown_seniority_rate) c.flags |= kUnknownSeniority;

  // Quirks and leaving.
  if (rng.uniform() < o.missing_field_rate) c.channel = kNoChannel;
  if (rng.uniform() < o.missing_field_rate) c.segment = 0;
  if (rng.uniform() < o.missing_field_rate / 3.0) c.sex = 0;
  if (rng.uniform() < o.blank_demographics_rate) {
    c.blank_from = static_cast<std::int8_t>(std::min<int>(127, join_month + static_cast<int>(rng.below(static_cast<std::uint64_t>(o.months - join_month)))));
    c.blank_len = static_cast<std::uint8_t>(1 + rng.below(4));
  }
  const bool deceased = rng.uniform() < 0.0025;
  if (deceased) c.flags |= kDeceased;
  const double leave_rate = std::min(1.0, deceased ? 10.0 * o.leave_rate : o.leave_rate);
  int leave = o.months;
  if (leave_rate > 0.0) {
    const double g = std::floor(std::log(rng.uniform_pos()) / std::log1p(-leave_rate));
    if (leave_rate >= 1.0 || g < static_cast<double>(o.months)) leave = std::min<int>(o.months, join_month + 1 + static_cast<int>(g));
  }
  c.leave = static_cast<std::int16_t>(leave);
  if (rng.uniform() < 0.5) c.flags |= kLastIndrel99;

  // Hidden taste and the static logits.
  float taste[4];
  for (float& z : taste) z = static_cast<float>(rng.normal());
  const float age_z = static_cast<float>((age_join - 45.0) / 15.0);
  const float sen_z = static_cast<float>((seniority - 60) / 60.0);
  Effects logit;
  for (std::size_t p = 0; p < P; ++p) {
    float l = model.base[p] + kChannelEffect[static_cast<std::size_t>(channel_class)][p] + static_cast<float>(log_income_z) * kIncome[p] +
              sen_z * kSeniority[p];
    if (minor) l += kMinor[p];
    else if (segment == 3) l += kStudent[p];
    else l += age_z * kAge[p];
    if (segment == 1) l += kTop[p];
    if (age_join >= 65.0) l += kRetired[p];
    if (c.sex == 2) l += kSexV[p];
    for (std::size_t k = 0; k < 4; ++k) l += taste[k] * kLoadings[k][p];
    logit[p] = l;
  }
  float act_logit = -0.3f + 0.5f * taste[1] + 0.2f * static_cast<float>(log_income_z);
  if (segment == 3) act_logit -= 0.8f;
  if (segment == 1) act_logit += 0.8f;
  if (minor) act_logit -= 1.5f;
  if (age_join >= 65.0) act_logit -= 0.3f;
  const float act_pi = deceased ? 0.0f : sigmoid(act_logit);
  constexpr float kActSpeed = 0.05f;

  // The months. step() draws month t from the state at the end of month t - 1 (the state
  // includes products held but hidden by a temporary gap, and the activity flag).
  const Index months = o.months;
  const int start = initial ? -kBurnIn : join_month;
  struct MonthState {
    std::uint32_t state = 0;  ///< products held
    std::uint32_t shown = 0;  ///< products held and not in a gap (what the file shows)
    std::array<std::uint8_t, P> gap{};  ///< months left of a temporary gap in a held product
    bool active = false;
  };
  MonthState now;
  std::uint32_t written_before = 0;  // product flags written the month before (NA as 0)
  // With `added` (truth_month), adds for every product not written the month before the chance
  // that this draw shows it, given the draws of the products decided before it this month (the
  // average over many draws is the exact probability: a Rao-Blackwellised estimate).
  // `with_truth` (std::true_type / std::false_type) compiles the truth's bookkeeping out of the
  // draws that make the file.
  const auto step = [&](int t, Rng& rng, MonthState& io, double* added, auto with_truth) {
    MonthState ms = io;  // a local copy the compiler can keep in registers
    const bool first = t == start;
    const int calendar = o.first_month + t;
    const bool june = ((calendar % 12) + 12) % 12 == 5;
    const int since_alta = calendar - c.alta;
    if (first) ms.active = rng.uniform() < act_pi * (initial ? 1.0f : 1.2f);
    else if (ms.active) ms.active = !(rng.uniform() < kActSpeed * (1.0f - act_pi));
    else ms.active = rng.uniform() < kActSpeed * act_pi;
    const float add_mult = (ms.active ? 1.5f : 0.4f) * (since_alta >= 0 && since_alta < 6 ? 3.0f : 1.0f);
    std::uint32_t next = 0, next_shown = 0;
    for (int p : kOrder) {
      const auto pu = static_cast<std::size_t>(p);
      const std::uint32_t bit = 1u << p;
      const double u = rng.uniform();
      bool h;
      double p_held = 0.0;  // chance of h (only with `added`)
      if (p == kNomPens && (next_shown & (1u << kNomina))) {
        h = u < 0.98;
        p_held = 0.98;
      } else if (p == kNomPens && !first && (ms.shown & (1u << kNomina))) {
        h = (ms.state & bit) && u < 0.05;  // dropped together with payroll
        p_held = (ms.state & bit) ? 0.05 : 0.0;
      } else {
        float l = logit[pu];
        for (int k = 0; k < tab.coupling_count[pu]; ++k) {
          if (next_shown & (1u << tab.coupling_source[pu][static_cast<std::size_t>(k)])) l += tab.coupling_weight[pu][static_cast<std::size_t>(k)];
        }
        if (ms.active) l += kActive[pu];
        const float pi = sigmoid(l);
        if (first) {
          h = initial ? u < pi : (p == kCco ? u < (minor ? 0.4 : 0.88) : p == kCtju ? (minor && u < 0.6) : false);
          p_held = initial ? pi : p == kCco ? (minor ? 0.4 : 0.88) : p == kCtju && minor ? 0.6 : 0.0;
        } else if (ms.state & bit) {
          float d = model.speed[pu] * (1.0f - pi);
          if (p == kCno && !(next_shown & (1u << kNomina))) d = std::max(d, 0.06f);  // closed without payroll
          h = !(u < d);
          p_held = 1.0 - std::clamp(static_cast<double>(d), 0.0, 1.0);
        } else {
          float a = model.speed[pu] * pi * add_mult * (p == kReca && june ? 15.0f : 1.0f);
          if (p == kCno && (next_shown & (1u << kNomina))) a = std::max(a, 0.2f);  // opened with the payroll
          h = u < a;
          p_held = std::clamp(static_cast<double>(a), 0.0, 1.0);
        }
      }
      // Payroll, direct debit and credit card disappear for a month or three now and then (a
      // payment on the other side of the snapshot date) and come back.
      const auto gap_rate = [p] { return p == kNomina ? 0.06f : p == kRecibo ? 0.025f : p == kTjcr ? 0.04f : 0.0f; };
      if constexpr (decltype(with_truth)::value) {
        if (!(written_before & bit)) {
          const double p_shown = ms.gap[pu] > 0 ? 0.0 : gap_rate() > 0.0f && !first ? 1.0 - gap_rate() : 1.0;
          const double p_written = p == kNomina || p == kNomPens ? 1.0 - o.payroll_na_rate : 1.0;
          added[pu] += p_held * p_shown * p_written;
        }
      } else {
        (void)added;
        (void)p_held;
      }
      if (!h) {
        ms.gap[pu] = 0;
        continue;
      }
      next |= bit;
      if (ms.gap[pu] > 0) {
        --ms.gap[pu];
      } else if (const float rate = gap_rate(); rate > 0.0f && !first && rng.uniform() < rate) {
        const double ul = rng.uniform();
        ms.gap[pu] = static_cast<std::uint8_t>(ul < 0.6 ? 0 : ul < 0.85 ? 1 : 2);
      } else {
        next_shown |= bit;
      }
    }
    ms.state = next;
    ms.shown = next_shown;
    io = ms;
  };
  for (int t = start; t < leave; ++t) {
    if (truth != nullptr && t == static_cast<int>(o.truth_month)) {
      // The truth: many draws of this month from the same state, each from its own stream (the
      // customer's own stream, and so the file, stays as it is).
      std::array<double, P> added{};
      const std::uint64_t truth_seed = customer_seed(o.seed ^ kTruthSalt, number);
      for (int r = 0; r < o.truth_samples; ++r) {
        Rng replica(customer_seed(truth_seed, static_cast<std::uint64_t>(r)));
        MonthState copy = now;
        step(t, replica, copy, added.data(), std::true_type{});
      }
      for (std::size_t p = 0; p < P; ++p) truth[p] = static_cast<float>(added[p] / o.truth_samples);
    }
    step(t, rng, now, nullptr, std::false_type{});
    if (t < 0) continue;
    // The written month.
    std::uint32_t w = now.shown;
    if (rng.uniform() < o.payroll_na_rate) w = (w & ~((1u << kNomina) | (1u << kNomPens))) | kWordPayrollNa;
    if (now.active) w |= kWordActive;
    if (c.blank_from >= 0 && t >= c.blank_from && t < c.blank_from + c.blank_len) w |= kWordBlank;
    const double ur = rng.uniform();
    if ((t == leave - 1 && leave < months && (c.flags & kLastIndrel99)) || ur < 0.0004) w |= kWordIndrel99;
    const double ui = rng.uniform();
    const std::uint32_t rel = ui < 0.9985 ? 0u : ui < 0.9988 ? 1u : ui < 0.9993 ? 2u : ui < 0.9994 ? 3u : 4u;
    w |= rel << kWordRelShift;
    words[t] = w;
    ++rows;
    const std::uint32_t shown = w & kProductMask;
    for (std::uint32_t b = shown; b != 0; b &= b - 1) ++held[static_cast<std::size_t>(std::countr_zero(b))];
    if (t > join_month) {
      for (std::uint32_t b = shown & ~written_before; b != 0; b &= b - 1) {
        ++additions[t][static_cast<std::size_t>(std::countr_zero(b))];
      }
    }
    written_before = shown;
  }
}

inline void validate(const GenerateOptions& o) {
  const auto fail = [](const std::string& what) { throw invalid_argument("santander::generate: " + what); };
  const auto rate = [&](double v, const char* name, bool below_one) {
    if (!(v >= 0.0 && (below_one ? v < 1.0 : v <= 1.0))) {
      fail(std::string(name) + " must be in [0, 1" + (below_one ? ")" : "]") + ", got " + std::to_string(v));
    }
  };
  if (o.customers < 1 || o.customers > 20000000) fail("customers must be in 1 .. 20000000, got " + std::to_string(o.customers));
  if (o.months < 1 || o.months > 120) fail("months must be in 1 .. 120, got " + std::to_string(o.months));
  if (o.first_month < 1995 * 12 || o.first_month > 9000 * 12) {
    fail("first_month must be a month number (year * 12 + month - 1) from 1995 to 9000, got " + std::to_string(o.first_month));
  }
  if (o.threads < 0 || o.threads > kMaxThreads) {
    fail("threads must be in [0, " + std::to_string(kMaxThreads) + "], got " + std::to_string(o.threads));
  }
  rate(o.join_rate, "join_rate", true);
  rate(o.leave_rate, "leave_rate", true);
  rate(o.income_na_rate, "income_na_rate", false);
  rate(o.blank_demographics_rate, "blank_demographics_rate", false);
  rate(o.missing_field_rate, "missing_field_rate", false);
  rate(o.payroll_na_rate, "payroll_na_rate", false);
  rate(o.unknown_seniority_rate, "unknown_seniority_rate", false);
  if (o.truth_month != -1 && (o.truth_month < 1 || o.truth_month >= o.months)) {
    fail("truth_month must be -1 (none) or a snapshot in 1 .. months - 1 = " + std::to_string(o.months - 1) + ", got " + std::to_string(o.truth_month));
  }
  if (o.truth_samples < 1 || o.truth_samples > 100000) fail("truth_samples must be in 1 .. 100000, got " + std::to_string(o.truth_samples));
  double total = o.customers;
  for (Index j : join_counts(o)) total += j;
  if (total > 40000000.0) fail("join_rate gives more than 40000000 customers in all");
}

/// Simulates every customer (in parallel; each from its own random stream).
inline Simulation simulate(const GenerateOptions& o, const Model& model, int threads) {
  const std::vector<Index> joins = join_counts(o);
  Index joiners = 0;
  for (Index j : joins) joiners += j;
  const auto n0 = static_cast<std::size_t>(o.customers);
  const std::size_t total = n0 + static_cast<std::size_t>(joiners);
  const auto months = static_cast<std::size_t>(o.months);
  Simulation sim;
  sim.months = o.months;
  sim.customers.resize(total);
  sim.words.assign(total * months, 0u);
  sim.additions.assign(months, {});
  if (o.truth_month >= 0) sim.truth.assign(total * P, -1.0f);

  // Join month of each customer and ncodpers: the initial customers spread over
  // [15889, 1400000], the joiners after them in joining order.
  std::vector<std::int16_t> join_of(total, 0);
  {
    std::size_t k = n0;
    for (std::size_t m = 1; m < months; ++m) {
      for (Index j = 0; j < joins[m]; ++j) join_of[k++] = static_cast<std::int16_t>(m);
    }
  }
  const double step0 = std::max(1.0, static_cast<double>(kJoinerFirstId - 1 - kFirstId) / static_cast<double>(n0));
  const auto last_initial = static_cast<std::uint64_t>(kFirstId + std::floor(static_cast<double>(n0) * step0));
  const std::uint64_t joiner_base = std::max<std::uint64_t>(kJoinerFirstId, last_initial + 1);
  const double step1 = joiners == 0 ? 1.0 : std::max(1.0, static_cast<double>(kLastId + 1 - joiner_base) / static_cast<double>(joiners));
  const auto id_of = [&](std::size_t k) -> std::uint32_t {
    const bool joiner = k >= n0;
    const double step = joiner ? step1 : step0;
    const double i = static_cast<double>(joiner ? k - n0 : k);
    const std::uint64_t base = joiner ? joiner_base : kFirstId;
    const auto lo = static_cast<std::uint64_t>(std::floor(i * step)), hi = static_cast<std::uint64_t>(std::floor((i + 1.0) * step));
    const auto jitter = static_cast<std::uint64_t>(hash_uniform(o.seed ^ 0x5A17A4DE5ULL, k) * static_cast<double>(hi - lo));
    return static_cast<std::uint32_t>(base + lo + std::min(jitter, hi - lo - 1));
  };

  const int nthreads = std::max(1, threads);
  std::vector<std::array<std::size_t, P>> held(static_cast<std::size_t>(nthreads));
  std::vector<std::vector<std::array<std::size_t, P>>> adds(static_cast<std::size_t>(nthreads),
                                                           std::vector<std::array<std::size_t, P>>(months));
  std::vector<std::size_t> rows(static_cast<std::size_t>(nthreads), 0);
  const auto n = static_cast<std::ptrdiff_t>(total);
  recmix::detail::ParallelErrors errors;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
  {
    std::size_t tid = 0;
#ifdef _OPENMP
    tid = static_cast<std::size_t>(omp_get_thread_num());
#endif
#pragma omp for schedule(dynamic, 2048)
    for (std::ptrdiff_t k = 0; k < n; ++k) {
      errors.run([&] {
        const auto ku = static_cast<std::size_t>(k);
        simulate_customer(o, model, ku, join_of[ku], id_of(ku), sim.customers[ku], sim.words.data() + ku * months, held[tid],
                          adds[tid].data(), rows[tid], sim.truth.empty() ? nullptr : sim.truth.data() + ku * P);
      });
    }
  }
  errors.rethrow();
  for (std::size_t t = 0; t < static_cast<std::size_t>(nthreads); ++t) {
    sim.rows += rows[t];
    for (std::size_t p = 0; p < P; ++p) {
      sim.held[p] += held[t][p];
      for (std::size_t m = 0; m < months; ++m) sim.additions[m][p] += adds[t][m][p];
    }
  }
  return sim;
}

// ---- text ----------------------------------------------------------------------------------

inline char* put(char* p, std::string_view s) {
  for (char ch : s) *p++ = ch;
  return p;
}

inline char* put_uint(char* p, std::uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

/// v right-aligned in `width` characters (spaces before); negative values with a '-'.
inline char* put_padded(char* p, std::int64_t v, int width) {
  char tmp[24];
  int n = 0;
  std::uint64_t a = v < 0 ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + a % 10);
    a /= 10;
  } while (a != 0);
  if (v < 0) tmp[n++] = '-';
  for (int k = n; k < width; ++k) *p++ = ' ';
  while (n > 0) *p++ = tmp[--n];
  return p;
}

inline char* put_date(char* p, int month_number, int day) {
  const int y = month_number / 12, m = month_number % 12 + 1;
  *p++ = static_cast<char>('0' + y / 1000 % 10);
  *p++ = static_cast<char>('0' + y / 100 % 10);
  *p++ = static_cast<char>('0' + y / 10 % 10);
  *p++ = static_cast<char>('0' + y % 10);
  *p++ = '-';
  *p++ = static_cast<char>('0' + m / 10);
  *p++ = static_cast<char>('0' + m % 10);
  *p++ = '-';
  *p++ = static_cast<char>('0' + day / 10);
  *p++ = static_cast<char>('0' + day % 10);
  return p;
}

/// The longest row the formatter can write, with room to spare.
inline constexpr std::size_t kMaxRowBytes = 420;

/// One data row of customer c in snapshot t.
inline char* format_row(char* p, const GenerateOptions& o, const Customer& c, std::size_t number, int t, std::uint32_t w) {
  const int calendar = o.first_month + t;
  const bool era_b = calendar >= kEraB;
  const bool padded_flags = calendar >= 2015 * 12 + 9 && calendar <= 2015 * 12 + 11;
  p = put_date(p, calendar, 28);
  *p++ = ',';
  p = put_uint(p, c.id);
  *p++ = ',';
  if (w & kWordBlank) {
    for (int k = 0; k < 22; ++k) *p++ = ',';
  } else {
    p = put(p, kEmployees[c.employee]);
    *p++ = ',';
    p = put(p, c.country == 0 ? std::string_view("ES") : kCountries[c.country - 1u].code);
    *p++ = ',';
    p = put(p, c.sex == 1 ? "H" : c.sex == 2 ? "V" : "");
    *p++ = ',';
    const int age = (c.age_months + t) / 12;
    p = put_padded(p, age, era_b ? 0 : 3);
    *p++ = ',';
    p = put_date(p, c.alta, c.alta_day);
    *p++ = ',';
    const int since = calendar - c.alta;
    p = put_padded(p, since < 6 ? 1 : 0, era_b ? 0 : 2);
    *p++ = ',';
    if (c.flags & kUnknownSeniority) p = put(p, "-999999");
    else p = put_padded(p, since, era_b ? 6 : 7);
    *p++ = ',';
    const bool r99 = (w & kWordIndrel99) != 0;
    p = put_padded(p, r99 ? 99 : 1, era_b ? 0 : 2);
    *p++ = ',';
    if (r99) p = put_date(p, calendar, 1 + static_cast<int>(hash_uniform(o.seed ^ 0x0C1F, number * 131 + static_cast<std::uint64_t>(t)) * 27.0));
    *p++ = ',';
    const std::uint32_t rel = (w >> kWordRelShift) & 7u;
    if (rel == 4) {
      *p++ = 'P';
    } else {
      *p++ = static_cast<char>('1' + rel);
      if (!era_b && hash_uniform(o.seed ^ 0x1D0, number * 131 + static_cast<std::uint64_t>(t)) < 0.8) p = put(p, ".0");
    }
    *p++ = ',';
    *p++ = (w & kWordActive) ? 'A' : 'I';
    *p++ = ',';
    *p++ = c.country == 0 ? 'S' : 'N';
    *p++ = ',';
    *p++ = (c.flags & kForeignBorn) ? 'S' : 'N';
    *p++ = ',';
    if (c.employee != 0) *p++ = (c.id % 7 == 0) ? 'S' : 'N';
    *p++ = ',';
    if (c.channel != kNoChannel) p = put(p, kChannels[c.channel].code);
    *p++ = ',';
    *p++ = (c.flags & kDeceased) ? 'S' : 'N';
    *p++ = ',';
    p = put(p, era_b ? "1" : " 1");
    *p++ = ',';
    if (c.province != kNoProvince) {
      const Province& prov = kProvinces[c.province];
      p = put_uint(p, static_cast<std::uint64_t>(prov.code));
      *p++ = ',';
      const bool quote = prov.name.find(',') != std::string_view::npos;
      if (quote) *p++ = '"';
      p = put(p, prov.name);
      if (quote) *p++ = '"';
    } else {
      *p++ = ',';
    }
    *p++ = ',';
    p = put_padded(p, (w & kWordActive) ? 1 : 0, era_b ? 0 : 2);
    *p++ = ',';
    if (c.flags & kIncomeNa) {
      p = put(p, era_b ? "         NA" : "NA");
    } else {
      const std::uint64_t whole = c.income / 100u, cents = c.income % 100u;
      p = put_uint(p, whole);
      *p++ = '.';
      *p++ = static_cast<char>('0' + cents / 10u);
      if (era_b || cents % 10u != 0) *p++ = static_cast<char>('0' + cents % 10u);
    }
    *p++ = ',';
    p = put(p, kSegments[c.segment]);
    *p++ = ',';
  }
  const bool na = (w & kWordPayrollNa) != 0;
  for (int k = 0; k < static_cast<int>(P); ++k) {
    if (k > 0) *p++ = ',';
    if (na && (k == kNomina || k == kNomPens)) {
      p = put(p, "NA");
    } else {
      if (padded_flags) *p++ = ' ';
      *p++ = (w >> k) & 1u ? '1' : '0';
    }
  }
  *p++ = '\n';
  return p;
}

inline std::string header_line(bool quoted) {
  std::string h;
  for (std::size_t k = 0; k < kNumColumns; ++k) {
    if (k > 0) h += ',';
    if (quoted) h += '"';
    h += kColumnNames[k];
    if (quoted) h += '"';
  }
  h += '\n';
  return h;
}

/// Writes the panel month by month, customers in ncodpers order; blocks of customers are
/// formatted in parallel and written in order.
inline void write_text(const GenerateOptions& o, const Simulation& sim, std::ostream& out, int threads) {
  if (o.header) {
    const std::string h = header_line(o.quote_header);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
  }
  constexpr std::size_t kBlock = 4096;
  const std::size_t n = sim.customers.size();
  const auto months = static_cast<std::size_t>(sim.months);
  const std::size_t blocks_per_month = (n + kBlock - 1) / kBlock;
  const std::size_t tasks = blocks_per_month * months;
  const int nthreads = std::max(1, threads);
  const std::size_t wave = static_cast<std::size_t>(nthreads) * 8;
  std::vector<std::string> buffers(wave);
  for (std::size_t first = 0; first < tasks; first += wave) {
    const std::size_t count = std::min(wave, tasks - first);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) {
      const std::size_t task = first + static_cast<std::size_t>(i);
      const std::size_t month = task / blocks_per_month, block = task % blocks_per_month;
      const std::size_t lo = block * kBlock, hi = std::min(n, lo + kBlock);
      std::string& buf = buffers[static_cast<std::size_t>(i)];
      buf.resize((hi - lo) * kMaxRowBytes);
      char* p = buf.data();
      const int t = static_cast<int>(month);
      for (std::size_t k = lo; k < hi; ++k) {
        const Customer& c = sim.customers[k];
        if (t < c.join || t >= c.leave) continue;
        p = format_row(p, o, c, k, t, sim.words[k * months + month]);
      }
      buf.resize(static_cast<std::size_t>(p - buf.data()));
    }
    for (std::size_t i = 0; i < count; ++i) {
      out.write(buffers[i].data(), static_cast<std::streamsize>(buffers[i].size()));
    }
    if (!out) throw io_error("santander::generate: writing the output failed");
  }
}

}  // namespace generate_detail

/// Generates the file into `out`. Throws invalid_argument for bad options (naming the option)
/// and io_error when the stream fails.
inline GenerateSummary generate(const GenerateOptions& options, std::ostream& out) {
  const auto t0 = std::chrono::steady_clock::now();
  generate_detail::validate(options);
  const int threads = resolve_threads(options.threads, "santander::generate");
  const generate_detail::Simulation sim = generate_detail::simulate(options, generate_detail::default_model(), threads);
  generate_detail::write_text(options, sim, out, threads);
  out.flush();
  if (!out) throw io_error("santander::generate: writing the output failed");
  GenerateSummary s;
  s.rows = sim.rows;
  s.customers = static_cast<Index>(sim.customers.size());
  s.months = sim.months;
  for (std::size_t p = 0; p < kNumProducts; ++p) {
    s.prevalence[p] = sim.rows == 0 ? 0.0 : static_cast<double>(sim.held[p]) / static_cast<double>(sim.rows);
    for (const auto& m : sim.additions) s.additions[p] += m[p];
  }
  if (options.truth_month >= 0) {
    s.truth.month = options.truth_month;
    s.truth.date = month_date(options.first_month + static_cast<int>(options.truth_month));
    for (std::size_t k = 0; k < sim.customers.size(); ++k) {
      const float* row = sim.truth.data() + k * kNumProducts;
      if (row[0] < 0.0f) continue;  // absent that month
      s.truth.customers.push_back(sim.customers[k].id);
      s.truth.probabilities.insert(s.truth.probabilities.end(), row, row + kNumProducts);
    }
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

/// Generates the file at `file`: written to a temporary "<file>.tmp-..." beside it, then renamed over `file`, so a reader
/// never sees half a file. Throws io_error when the file cannot be written or renamed (the
/// temporary is removed) and invalid_argument for bad options (before touching the disk).
inline GenerateSummary generate(const GenerateOptions& options, const std::filesystem::path& file) {
  generate_detail::validate(options);
  GenerateSummary s;
  io::detail::write_atomically(file, "santander::generate", [&](std::ostream& out) { s = generate(options, out); });
  return s;
}

/// Writes a truth as CSV: the header `fecha_dato,ncodpers,<the 24 product columns>`, then one
/// line per customer with the month's date, the customer and the 24 chances (9 significant
/// digits: floats read back exactly). Throws io_error when the stream fails.
inline void write_truth(const GenerateTruth& truth, std::ostream& out) {
  constexpr const char* api = "santander::write_truth";
  if (truth.probabilities.size() != truth.customers.size() * kNumProducts) {
    throw invalid_argument(std::string(api) + ": " + std::to_string(truth.probabilities.size()) + " chances for " +
                           std::to_string(truth.customers.size()) + " customers (need 24 each)");
  }
  if (!truth.customers.empty() && month_number(truth.date) < 0) throw invalid_argument(std::string(api) + ": bad date '" + truth.date + "'");
  out << "fecha_dato,ncodpers";
  for (auto name : kProductNames) out << ',' << name;
  out << '\n';
  char number[32];
  for (std::size_t i = 0; i < truth.customers.size(); ++i) {
    out << truth.date << ',' << truth.customers[i];
    for (std::size_t p = 0; p < kNumProducts; ++p) {
      std::snprintf(number, sizeof number, "%.9g", static_cast<double>(truth.probabilities[i * kNumProducts + p]));
      out << ',' << number;
    }
    out << '\n';
  }
  out.flush();
  if (!out) throw io_error(std::string(api) + ": writing the output failed");
}

/// Writes a truth to `file` atomically (a temporary beside it, renamed over it).
inline void write_truth(const GenerateTruth& truth, const std::filesystem::path& file) {
  io::detail::write_atomically(file, "santander::write_truth", [&](std::ostream& out) { write_truth(truth, out); });
}

/// Reads what write_truth wrote (month is -1, date the file's). Throws parse_error naming
/// `source`, line and column for a wrong header, a line with other than 26 fields, a date that
/// is not one or differs from the first line's, a customer id that is not an integer or not
/// above the line before's, or a chance that is not a number in [0, 1].
inline GenerateTruth read_truth(std::istream& in, const std::string& source = "<stream>") {
  GenerateTruth t;
  std::string expected = "fecha_dato,ncodpers";
  for (auto name : kProductNames) {
    expected += ',';
    expected += name;
  }
  std::string text;
  std::size_t line = 0;
  const auto chomp = [](std::string& l) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  };
  if (!std::getline(in, text)) throw parse_error(source, 1, 1, "empty file: expected the header '" + expected.substr(0, 30) + "...'");
  ++line;
  chomp(text);
  if (text != expected) {
    std::size_t column = 1;
    for (std::size_t i = 0; i < std::min(text.size(), expected.size()) && text[i] == expected[i]; ++i) column += expected[i] == ',' ? 1 : 0;
    throw parse_error(source, line, column, "the header is not 'fecha_dato,ncodpers,<the 24 product columns>'");
  }
  std::vector<std::string_view> fields;
  while (std::getline(in, text)) {
    ++line;
    chomp(text);
    if (text.empty()) continue;
    fields.clear();
    for (std::size_t start = 0;;) {
      const std::size_t comma = text.find(',', start);
      fields.emplace_back(text.data() + start, (comma == std::string::npos ? text.size() : comma) - start);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (fields.size() != kNumProducts + 2) {
      throw parse_error(source, line, std::min(fields.size(), kNumProducts + 3),
                        std::to_string(fields.size()) + " fields, expected " + std::to_string(kNumProducts + 2));
    }
    if (month_number(fields[0]) < 0) throw parse_error(source, line, 1, "bad date '" + std::string(fields[0]) + "'");
    if (t.customers.empty()) t.date = std::string(fields[0]);
    else if (fields[0] != t.date) throw parse_error(source, line, 1, "date " + std::string(fields[0]) + " differs from the first line's " + t.date);
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), id);
    if (ec != std::errc() || end != fields[1].data() + fields[1].size() || fields[1].empty()) {
      throw parse_error(source, line, 2, "ncodpers '" + std::string(fields[1]) + "' is not an integer");
    }
    if (!t.customers.empty() && id <= t.customers.back()) {
      throw parse_error(source, line, 2, "ncodpers " + std::to_string(id) + " is not above the line before's " + std::to_string(t.customers.back()));
    }
    t.customers.push_back(id);
    for (std::size_t p = 0; p < kNumProducts; ++p) {
      const std::string_view field = fields[p + 2];
      double v = std::nan("");
      const auto [stop, bad] = std::from_chars(field.data(), field.data() + field.size(), v);
      if (bad != std::errc() || stop != field.data() + field.size() || !(v >= 0.0 && v <= 1.0)) {
        throw parse_error(source, line, p + 3, std::string(kProductNames[p]) + " '" + std::string(field) + "' is not a chance in [0, 1]");
      }
      t.probabilities.push_back(static_cast<float>(v));
    }
  }
  if (in.bad()) throw io_error("santander::read_truth: reading " + source + " failed");
  return t;
}

/// Reads a truth file (see write_truth). Throws io_error when it cannot be opened.
inline GenerateTruth read_truth(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw io_error("santander::read_truth: cannot open '" + file.string() + "'");
  return read_truth(in, file.string());
}

}  // namespace recmix::datasets::santander
