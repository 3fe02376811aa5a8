// Unit tests of InteractionLog and the splitters: global_time_split, last_n_split,
// last_span_split, TimeRangeFolds, random_split, snapshot_split, and the TestFilter every one of
// them applies. Small hand-checked logs pin the semantics; randomized logs (fixed seeds, drawn
// with recmix::Rng) are checked against independent reference computations.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/interaction_log.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/random.hpp>
#include <recmix/core/types.hpp>
#include <recmix/split/random_split.hpp>
#include <recmix/split/snapshot.hpp>
#include <recmix/split/split_result.hpp>
#include <recmix/split/temporal.hpp>

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using recmix::Index;
using recmix::InteractionLog;
using recmix::InteractionMatrix;
using recmix::Offset;
using recmix::Timestamp;
using recmix::split::Fold;
using recmix::split::FoldWindow;
using recmix::split::Split;
using recmix::split::SplitReport;
using recmix::split::TestFilter;
using recmix::split::TimeRangeFolds;

namespace {

constexpr Timestamp kMinTime = std::numeric_limits<Timestamp>::min();
constexpr Timestamp kMaxTime = std::numeric_limits<Timestamp>::max();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

/// Seeds of the randomized logs.
constexpr std::array<std::uint64_t, 3> kSeeds = {11, 2024, 987654321};

template <class T>
std::vector<T> to_vector(std::span<const T> s) {
  return std::vector<T>(s.begin(), s.end());
}

InteractionLog make_log(Index num_users, Index num_items, std::vector<Index> users, std::vector<Index> items,
                        std::vector<Timestamp> times, std::vector<float> weights = {}) {
  return InteractionLog(num_users, num_items, std::move(users), std::move(items), std::move(times),
                        std::move(weights));
}

/// One event of a log, comparable, so logs can be compared as sequences and as multisets.
struct Event {
  Index user = 0;
  Index item = 0;
  Timestamp time = 0;
  float weight = 0.0f;
  friend bool operator==(const Event&, const Event&) = default;
  friend bool operator<(const Event& a, const Event& b) {
    if (a.user != b.user) return a.user < b.user;
    if (a.item != b.item) return a.item < b.item;
    if (a.time != b.time) return a.time < b.time;
    return a.weight < b.weight;
  }
};

std::vector<Event> events_of(const InteractionLog& log) {
  std::vector<Event> out;
  for (std::size_t e = 0; e < log.size(); ++e) {
    out.push_back({log.users()[e], log.items()[e], log.times()[e], log.weights()[e]});
  }
  return out;
}

std::vector<Event> sorted(std::vector<Event> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// True when `part` is `whole` with some events left out (order kept).
bool is_subsequence(const std::vector<Event>& part, const std::vector<Event>& whole) {
  std::size_t k = 0;
  for (const Event& e : whole) {
    if (k < part.size() && part[k] == e) ++k;
  }
  return k == part.size();
}

/// Positions of `log` for which `pred(position)` holds, in log order.
template <class Pred>
std::vector<std::size_t> positions_where(const InteractionLog& log, Pred pred) {
  std::vector<std::size_t> out;
  for (std::size_t e = 0; e < log.size(); ++e) {
    if (pred(e)) out.push_back(e);
  }
  return out;
}

/// The split (made without a filter) divides `whole` exactly: nothing lost, nothing duplicated,
/// both parts in the order of `whole`, the report matching the parts.
void check_partition(const InteractionLog& whole, const Split& s) {
  CHECK(s.train.num_users() == whole.num_users());
  CHECK(s.train.num_items() == whole.num_items());
  CHECK(s.test.num_users() == whole.num_users());
  CHECK(s.test.num_items() == whole.num_items());
  const std::vector<Event> all = events_of(whole);
  const std::vector<Event> train = events_of(s.train);
  const std::vector<Event> test = events_of(s.test);
  CHECK(train.size() + test.size() == all.size());
  std::vector<Event> joined = train;
  joined.insert(joined.end(), test.begin(), test.end());
  CHECK(sorted(joined) == sorted(all));
  CHECK(is_subsequence(train, all));
  CHECK(is_subsequence(test, all));
  CHECK(s.report.train == s.train.size());
  CHECK(s.report.test == s.test.size());
  CHECK(s.report.dropped_cold_user == 0);
  CHECK(s.report.dropped_cold_item == 0);
  CHECK(s.report.dropped_seen == 0);
  CHECK(s.report.dropped() == 0);
}

/// A log of n events over num_users x num_items; the last user never gets an event. Times are
/// drawn from [t0, t0 + t_range), so a small range gives many ties. Not sorted by time.
InteractionLog random_log(Index num_users, Index num_items, std::size_t n, std::uint64_t seed, Timestamp t0,
                          std::uint64_t t_range) {
  static constexpr std::array<float, 4> kWeights = {0.5f, 1.0f, 2.0f, 3.0f};
  recmix::Rng rng(seed);
  InteractionLog log(num_users, num_items);
  log.reserve(n);
  for (std::size_t e = 0; e < n; ++e) {
    const auto u = static_cast<Index>(rng.below(static_cast<std::uint64_t>(num_users - 1)));
    const auto i = static_cast<Index>(rng.below(static_cast<std::uint64_t>(num_items)));
    const Timestamp t = t0 + static_cast<Timestamp>(rng.below(t_range));
    log.add(u, i, t, kWeights[rng.below(kWeights.size())]);
  }
  return log;
}

/// later[e] = how many events of e's user come after e: a later time, or the same time and a
/// later position in the log.
std::vector<std::size_t> later_counts(const InteractionLog& log) {
  const auto users = log.users();
  const auto times = log.times();
  std::vector<std::size_t> later(log.size(), 0);
  for (std::size_t e = 0; e < log.size(); ++e) {
    for (std::size_t f = 0; f < log.size(); ++f) {
      if (users[f] == users[e] && (times[f] > times[e] || (times[f] == times[e] && f > e))) ++later[e];
    }
  }
  return later;
}

/// Each user's latest time (INT64_MIN for users without events).
std::vector<Timestamp> last_times(const InteractionLog& log) {
  std::vector<Timestamp> last(static_cast<std::size_t>(log.num_users()), kMinTime);
  for (std::size_t e = 0; e < log.size(); ++e) {
    auto& l = last[static_cast<std::size_t>(log.users()[e])];
    l = std::max(l, log.times()[e]);
  }
  return last;
}

/// Reference of the test filter, on sets: the report and the kept test positions.
struct FilterReference {
  SplitReport report;
  std::vector<std::size_t> kept;
};

FilterReference reference_filter(const InteractionLog& log, const std::vector<std::size_t>& train,
                                 const std::vector<std::size_t>& test, const TestFilter& filter) {
  std::set<Index> train_users, train_items;
  std::set<std::pair<Index, Index>> train_pairs;
  for (std::size_t p : train) {
    train_users.insert(log.users()[p]);
    train_items.insert(log.items()[p]);
    train_pairs.emplace(log.users()[p], log.items()[p]);
  }
  FilterReference ref;
  for (std::size_t p : test) {
    const Index u = log.users()[p], i = log.items()[p];
    const bool cold_user = train_users.count(u) == 0;
    const bool cold_item = train_items.count(i) == 0;
    const bool seen = train_pairs.count({u, i}) != 0;
    if (filter.drop_cold_users && cold_user) {
      ++ref.report.dropped_cold_user;
    } else if (filter.drop_cold_items && cold_item) {
      ++ref.report.dropped_cold_item;
    } else if (filter.drop_seen && seen) {
      ++ref.report.dropped_seen;
    } else {
      ref.kept.push_back(p);
    }
  }
  ref.report.train = train.size();
  ref.report.test = ref.kept.size();
  return ref;
}

/// The eight combinations of the three filter flags.
std::vector<TestFilter> all_filters() {
  std::vector<TestFilter> out;
  for (int bits = 0; bits < 8; ++bits) {
    out.push_back({.drop_cold_users = (bits & 1) != 0, .drop_cold_items = (bits & 2) != 0, .drop_seen = (bits & 4) != 0});
  }
  return out;
}

void check_same_fold(const Fold& a, const Fold& b) {
  CHECK(a.index == b.index);
  CHECK(a.train_begin == b.train_begin);
  CHECK(a.test_begin == b.test_begin);
  CHECK(a.test_end == b.test_end);
  CHECK(a.split.train == b.split.train);
  CHECK(a.split.test == b.split.test);
  CHECK(a.split.report == b.split.report);
}

// ---- hand logs ---------------------------------------------------------------------------------

/// 3 users x 4 items, not sorted by time:
///   e0 (0,0,t5)  e1 (1,1,t10)  e2 (0,2,t9)  e3 (2,3,t10)  e4 (1,0,t3)  e5 (0,0,t12)
InteractionLog hand_time_log() {
  return make_log(3, 4, {0, 1, 0, 2, 1, 0}, {0, 1, 2, 3, 0, 0}, {5, 10, 9, 10, 3, 12}, {1, 2, 3, 4, 5, 6});
}

/// The filter hand case (4 users x 4 items). Split at time 10: train (t < 10) is
///   a0 (0,0,t1)  a1 (0,1,t2)  a2 (1,1,t3)
/// so users 2 and 3 and items 2 and 3 are cold, and the pairs (0,0), (0,1), (1,1) are seen.
/// Test events (times 10..18) and why each is dropped, by the first reason in field order:
///   t0 (0,0) seen              t1 (2,0) cold user          t2 (2,3) cold user (and cold item)
///   t3 (0,3) cold item         t4 (1,0) kept               t5 (1,1) seen
///   t6 (0,2) cold item         t7 (3,1) cold user          t8 (1,0) kept (a test duplicate)
/// Log order: t0 a0 t1 a1 t2 t3 a2 t4 t5 t6 t7 t8.
InteractionLog hand_filter_log() {
  InteractionLog log(4, 4);
  log.add(0, 0, 10);  // t0
  log.add(0, 0, 1);   // a0
  log.add(2, 0, 11);  // t1
  log.add(0, 1, 2);   // a1
  log.add(2, 3, 12);  // t2
  log.add(0, 3, 13);  // t3
  log.add(1, 1, 3);   // a2
  log.add(1, 0, 14);  // t4
  log.add(1, 1, 15);  // t5
  log.add(0, 2, 16);  // t6
  log.add(3, 1, 17);  // t7
  log.add(1, 0, 18);  // t8
  return log;
}

// ---- snapshot helpers --------------------------------------------------------------------------

using Panel = xt::xtensor<std::uint8_t, 3>;

Panel zero_panel(std::size_t months, std::size_t users, std::size_t items) {
  const Panel::shape_type shape = {months, users, items};
  return Panel(shape, std::uint8_t{0});
}

/// Sets the holding of (user, item) month by month from a string like "1001".
void set_history(Panel& panel, std::size_t user, std::size_t item, const std::string& months) {
  REQUIRE(months.size() == panel.shape(0));
  for (std::size_t m = 0; m < months.size(); ++m) panel(m, user, item) = months[m] == '1' ? 1 : 0;
}

/// 4 months x 3 users x 4 items:
///   user 0: item 0 "1111" (always held), item 1 "1001" (held, dropped, re-acquired),
///           item 2 "0011" (acquired in month 2)
///   user 1: item 0 "0001" (new in month 3), item 1 "0110" (dropped in month 3),
///           item 3 "0001" (new in month 3, an item nobody held before)
///   user 2: item 2 "0001" (a user with nothing before month 3)
Panel hand_panel() {
  Panel p = zero_panel(4, 3, 4);
  set_history(p, 0, 0, "1111");
  set_history(p, 0, 1, "1001");
  set_history(p, 0, 2, "0011");
  set_history(p, 1, 0, "0001");
  set_history(p, 1, 1, "0110");
  set_history(p, 1, 3, "0001");
  set_history(p, 2, 2, "0001");
  return p;
}

const std::vector<Timestamp> kHandMonths = {201501, 201502, 201503, 201504};

/// (user, item, time) of each event, sorted: snapshot_split does not promise an order.
std::vector<std::array<Timestamp, 3>> uit_of(const InteractionLog& log) {
  std::vector<std::array<Timestamp, 3>> out;
  for (std::size_t e = 0; e < log.size(); ++e) out.push_back({log.users()[e], log.items()[e], log.times()[e]});
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<SplitReport> {
  static String convert(const SplitReport& r) { return r.describe().c_str(); }
};
}  // namespace doctest

// ================================================================================================
// InteractionLog
// ================================================================================================

TEST_CASE("InteractionLog: empty logs") {
  const InteractionLog none;
  CHECK(none.size() == 0);
  CHECK(none.empty());
  CHECK(none.num_users() == 0);
  CHECK(none.num_items() == 0);
  CHECK(none.is_time_sorted());

  const InteractionLog blank(3, 5);
  CHECK(blank.empty());
  CHECK(blank.num_users() == 3);
  CHECK(blank.num_items() == 5);
  const InteractionMatrix m = blank.to_matrix();
  CHECK(m.rows() == 3);
  CHECK(m.cols() == 5);
  CHECK(m.nnz() == 0);
  CHECK(blank.to_binary_matrix().nnz() == 0);

  // Zero users or items is a valid (empty) shape.
  CHECK_NOTHROW(InteractionLog(0, 0));
  CHECK_NOTHROW(make_log(0, 4, {}, {}, {}));
}

TEST_CASE("InteractionLog: column construction adopts the columns") {
  const InteractionLog log = make_log(3, 4, {2, 0, 2}, {1, 3, 1}, {-5, 20150128, 7}, {0.5f, 2.0f, -1.0f});
  CHECK(log.size() == 3);
  CHECK_FALSE(log.empty());
  CHECK(log.num_users() == 3);
  CHECK(log.num_items() == 4);
  CHECK(to_vector(log.users()) == std::vector<Index>{2, 0, 2});
  CHECK(to_vector(log.items()) == std::vector<Index>{1, 3, 1});
  CHECK(to_vector(log.times()) == std::vector<Timestamp>{-5, 20150128, 7});
  CHECK(to_vector(log.weights()) == std::vector<float>{0.5f, 2.0f, -1.0f});

  // No weights means weight 1 everywhere.
  const InteractionLog ones = make_log(2, 2, {0, 1}, {1, 1}, {3, 4});
  CHECK(to_vector(ones.weights()) == std::vector<float>{1.0f, 1.0f});

  // Extreme times are fine (times are only compared).
  const InteractionLog extreme = make_log(1, 1, {0, 0}, {0, 0}, {kMaxTime, kMinTime});
  CHECK(to_vector(extreme.times()) == std::vector<Timestamp>{kMaxTime, kMinTime});
}

TEST_CASE("InteractionLog: construction checks") {
  using recmix::invalid_argument;
  SUBCASE("negative shape") {
    CHECK_THROWS_AS(InteractionLog(-1, 2), invalid_argument);
    CHECK_THROWS_AS(InteractionLog(2, -1), invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(-3, 2, {}, {}, {}), doctest::Contains("negative shape"), invalid_argument);
    CHECK_THROWS_AS(make_log(2, -3, {}, {}, {}), invalid_argument);
  }
  SUBCASE("mismatched lengths") {
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 1}, {0}, {1, 2}), doctest::Contains("differ in length"), invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 1}, {0, 1}, {1}), doctest::Contains("(2, 2, 1, 2)"), invalid_argument);
    CHECK_THROWS_AS(make_log(2, 2, {0, 1}, {0, 1}, {1, 2}, {1.0f}), invalid_argument);
    CHECK_THROWS_AS(make_log(2, 2, {0, 1}, {0, 1}, {1, 2}, {1.0f, 1.0f, 1.0f}), invalid_argument);
    CHECK_THROWS_AS(make_log(2, 2, {0}, {0, 1}, {1, 2}), invalid_argument);
  }
  SUBCASE("user out of range, named with its event") {
    CHECK_THROWS_WITH_AS(make_log(3, 4, {0, 1, 3, 0}, {0, 0, 0, 0}, {1, 2, 3, 4}),
                         doctest::Contains("user 3 out of range [0, 3) at event 2"), invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(3, 4, {0, -1}, {0, 0}, {1, 2}), doctest::Contains("at event 1"), invalid_argument);
  }
  SUBCASE("item out of range, named with its event") {
    CHECK_THROWS_WITH_AS(make_log(3, 4, {0, 1, 2}, {3, 4, 0}, {1, 2, 3}),
                         doctest::Contains("item 4 out of range [0, 4) at event 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(3, 4, {0}, {-2}, {1}), doctest::Contains("at event 0"), invalid_argument);
  }
  SUBCASE("non-finite weight, named with its event") {
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 1, 1, 0}, {0, 1, 0, 1}, {1, 2, 3, 4}, {1.0f, 2.0f, 3.0f, kNaN}),
                         doctest::Contains("at event 3"), invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 1}, {0, 1}, {1, 2}, {kInf, 1.0f}), doctest::Contains("at event 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 1}, {0, 1}, {1, 2}, {1.0f, -kInf}), doctest::Contains("not finite"),
                         invalid_argument);
  }
  SUBCASE("the first bad event is the one named") {
    CHECK_THROWS_WITH_AS(make_log(2, 2, {0, 0, 5, 7}, {0, 0, 0, 0}, {1, 2, 3, 4}), doctest::Contains("at event 2"),
                         invalid_argument);
  }
  SUBCASE("zero and negative finite weights are accepted") {
    CHECK_NOTHROW(make_log(2, 2, {0, 1}, {0, 1}, {1, 2}, {0.0f, -2.5f}));
  }
}

TEST_CASE("InteractionLog: add() appends checked events") {
  InteractionLog log(3, 4);
  log.add(0, 1, 20150128);
  log.add(0, 2, 20150228, 2.0f);
  log.add(2, 1, -7, 0.25f);
  CHECK(log.size() == 3);
  CHECK(to_vector(log.users()) == std::vector<Index>{0, 0, 2});
  CHECK(to_vector(log.items()) == std::vector<Index>{1, 2, 1});
  CHECK(to_vector(log.times()) == std::vector<Timestamp>{20150128, 20150228, -7});
  CHECK(to_vector(log.weights()) == std::vector<float>{1.0f, 2.0f, 0.25f});

  using recmix::invalid_argument;
  // The message names the position the event would have taken.
  CHECK_THROWS_WITH_AS(log.add(3, 0, 1), doctest::Contains("at event 3"), invalid_argument);
  CHECK_THROWS_AS(log.add(-1, 0, 1), invalid_argument);
  CHECK_THROWS_WITH_AS(log.add(0, 4, 1), doctest::Contains("item 4"), invalid_argument);
  CHECK_THROWS_AS(log.add(0, -1, 1), invalid_argument);
  CHECK_THROWS_AS(log.add(0, 0, 1, kNaN), invalid_argument);
  CHECK_THROWS_AS(log.add(0, 0, 1, kInf), invalid_argument);
  CHECK_THROWS_AS(log.add(0, 0, 1, -kInf), invalid_argument);
  // Failed adds leave the log as it was.
  CHECK(log.size() == 3);
  CHECK(log.users().size() == 3);
  CHECK(log.items().size() == 3);
  CHECK(log.times().size() == 3);
  CHECK(log.weights().size() == 3);

  // add() and the column constructor build equal logs.
  CHECK(log == make_log(3, 4, {0, 0, 2}, {1, 2, 1}, {20150128, 20150228, -7}, {1.0f, 2.0f, 0.25f}));
  CHECK_FALSE(log == make_log(3, 4, {0, 0, 2}, {1, 2, 1}, {20150128, 20150228, -6}, {1.0f, 2.0f, 0.25f}));
  CHECK_FALSE(log == make_log(3, 5, {0, 0, 2}, {1, 2, 1}, {20150128, 20150228, -7}, {1.0f, 2.0f, 0.25f}));
}

TEST_CASE("InteractionLog: select() keeps the requested order") {
  const InteractionLog log = hand_time_log();
  const std::vector<std::size_t> pick = {3, 0, 5, 0};
  const InteractionLog s = log.select(pick);
  CHECK(s.num_users() == 3);
  CHECK(s.num_items() == 4);
  CHECK(to_vector(s.users()) == std::vector<Index>{2, 0, 0, 0});
  CHECK(to_vector(s.items()) == std::vector<Index>{3, 0, 0, 0});
  CHECK(to_vector(s.times()) == std::vector<Timestamp>{10, 5, 12, 5});
  CHECK(to_vector(s.weights()) == std::vector<float>{4.0f, 1.0f, 6.0f, 1.0f});

  const InteractionLog none = log.select({});
  CHECK(none.empty());
  CHECK(none.num_users() == 3);
  CHECK(none.num_items() == 4);

  const std::vector<std::size_t> all = {0, 1, 2, 3, 4, 5};
  CHECK(log.select(all) == log);

  const std::vector<std::size_t> bad = {1, 6};
  CHECK_THROWS_WITH_AS((void)log.select(bad), doctest::Contains("position 6"), recmix::invalid_argument);
  const std::vector<std::size_t> huge = {std::numeric_limits<std::size_t>::max()};
  CHECK_THROWS_AS((void)log.select(huge), recmix::invalid_argument);
  const std::vector<std::size_t> zero = {0};
  CHECK_THROWS_AS((void)InteractionLog(2, 2).select(zero), recmix::invalid_argument);
}

TEST_CASE("InteractionLog: to_matrix() sums duplicates, to_binary_matrix() marks pairs") {
  InteractionLog log(3, 4);
  log.add(0, 1, 10, 1.0f);
  log.add(2, 3, 5, 2.0f);
  log.add(0, 1, 7, 0.5f);
  log.add(1, 0, 7, 1.0f);
  log.add(0, 3, 8, 4.0f);
  log.add(0, 1, 1, 0.25f);
  // row 0: item 1 -> 1 + 0.5 + 0.25 = 1.75, item 3 -> 4; row 1: item 0 -> 1; row 2: item 3 -> 2
  const InteractionMatrix m = log.to_matrix();
  CHECK(m.rows() == 3);
  CHECK(m.cols() == 4);
  CHECK(to_vector(m.indptr()) == std::vector<Offset>{0, 2, 3, 4});
  CHECK(to_vector(m.indices()) == std::vector<Index>{1, 3, 0, 3});
  CHECK(to_vector(m.values()) == std::vector<float>{1.75f, 4.0f, 1.0f, 2.0f});

  const InteractionMatrix b = log.to_binary_matrix();
  CHECK(b.rows() == 3);
  CHECK(b.cols() == 4);
  CHECK(to_vector(b.indptr()) == std::vector<Offset>{0, 2, 3, 4});
  CHECK(to_vector(b.indices()) == std::vector<Index>{1, 3, 0, 3});
  CHECK(to_vector(b.values()) == std::vector<float>{1.0f, 1.0f, 1.0f, 1.0f});

  // A pair whose weights cancel is still a pair held in the log.
  InteractionLog cancel(1, 2);
  cancel.add(0, 1, 1, 1.0f);
  cancel.add(0, 1, 2, -1.0f);
  CHECK(to_vector(cancel.to_binary_matrix().indices()) == std::vector<Index>{1});
  CHECK(to_vector(cancel.to_binary_matrix().values()) == std::vector<float>{1.0f});
}

TEST_CASE("InteractionLog: to_matrix() on random logs matches a dense sum") {
  for (std::uint64_t seed : kSeeds) {
    CAPTURE(seed);
    const InteractionLog log = random_log(13, 9, 400, seed, 0, 50);
    std::vector<double> dense(13 * 9, 0.0);
    std::vector<int> count(13 * 9, 0);
    for (std::size_t e = 0; e < log.size(); ++e) {
      const auto c = static_cast<std::size_t>(log.users()[e]) * 9 + static_cast<std::size_t>(log.items()[e]);
      dense[c] += log.weights()[e];
      ++count[c];
    }
    const InteractionMatrix m = log.to_matrix();
    const InteractionMatrix b = log.to_binary_matrix();
    REQUIRE(m.rows() == 13);
    REQUIRE(m.cols() == 9);
    std::size_t pairs = 0;
    for (Index u = 0; u < 13; ++u) {
      std::vector<Index> want_items;
      std::vector<double> want_values;
      for (Index i = 0; i < 9; ++i) {
        const auto c = static_cast<std::size_t>(u) * 9 + static_cast<std::size_t>(i);
        if (count[c] == 0) continue;
        want_items.push_back(i);
        want_values.push_back(dense[c]);
      }
      pairs += want_items.size();
      const auto row = m.row(u);
      CHECK(std::vector<Index>(row.indices.begin(), row.indices.end()) == want_items);
      REQUIRE(row.size() == want_values.size());
      for (std::size_t k = 0; k < want_values.size(); ++k) CHECK(row.values[k] == doctest::Approx(want_values[k]));
      const auto brow = b.row(u);
      CHECK(std::vector<Index>(brow.indices.begin(), brow.indices.end()) == want_items);
      CHECK(std::all_of(brow.values.begin(), brow.values.end(), [](float v) { return v == 1.0f; }));
    }
    CHECK(static_cast<std::size_t>(m.nnz()) == pairs);
    CHECK(static_cast<std::size_t>(b.nnz()) == pairs);
    // The last user never gets an event.
    CHECK(m.row(12).empty());
  }
}

TEST_CASE("InteractionLog: is_time_sorted()") {
  CHECK(make_log(1, 1, {0}, {0}, {5}).is_time_sorted());
  CHECK(make_log(1, 1, {0, 0, 0}, {0, 0, 0}, {5, 5, 7}).is_time_sorted());
  CHECK(make_log(1, 1, {0, 0}, {0, 0}, {kMinTime, kMaxTime}).is_time_sorted());
  CHECK_FALSE(make_log(1, 1, {0, 0}, {0, 0}, {5, 4}).is_time_sorted());
  CHECK_FALSE(make_log(1, 1, {0, 0, 0, 0}, {0, 0, 0, 0}, {1, 2, 3, 2}).is_time_sorted());
  CHECK_FALSE(hand_time_log().is_time_sorted());

  // A random log, and the same events re-selected in time order.
  const InteractionLog log = random_log(5, 5, 200, kSeeds[0], 0, 1000);
  CHECK_FALSE(log.is_time_sorted());
  std::vector<std::size_t> order(log.size());
  for (std::size_t e = 0; e < order.size(); ++e) order[e] = e;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return log.times()[a] < log.times()[b]; });
  CHECK(log.select(order).is_time_sorted());
}

// ================================================================================================
// global_time_split
// ================================================================================================

TEST_CASE("global_time_split: hand case") {
  using recmix::split::global_time_split;
  const InteractionLog log = hand_time_log();
  const Split s = global_time_split(log, 10);
  // Train: e0 (t5), e2 (t9), e4 (t3); test: e1, e3 (t10), e5 (t12).
  CHECK(to_vector(s.train.users()) == std::vector<Index>{0, 0, 1});
  CHECK(to_vector(s.train.items()) == std::vector<Index>{0, 2, 0});
  CHECK(to_vector(s.train.times()) == std::vector<Timestamp>{5, 9, 3});
  CHECK(to_vector(s.train.weights()) == std::vector<float>{1.0f, 3.0f, 5.0f});
  CHECK(to_vector(s.test.users()) == std::vector<Index>{1, 2, 0});
  CHECK(to_vector(s.test.items()) == std::vector<Index>{1, 3, 0});
  CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{10, 10, 12});
  CHECK(to_vector(s.test.weights()) == std::vector<float>{2.0f, 4.0f, 6.0f});
  CHECK(s.report == SplitReport{.train = 3, .test = 3});

  // One past the threshold moves both t10 events to train.
  const Split s11 = global_time_split(log, 11);
  CHECK(to_vector(s11.train.times()) == std::vector<Timestamp>{5, 10, 9, 10, 3});
  CHECK(to_vector(s11.test.times()) == std::vector<Timestamp>{12});

  // Extreme thresholds.
  const Split all_test = global_time_split(log, kMinTime);
  CHECK(all_test.train.empty());
  CHECK(all_test.test == log);
  const Split all_train = global_time_split(log, kMaxTime);
  CHECK(all_train.train == log);
  CHECK(all_train.test.empty());

  // An event at the smallest time is in train for any larger threshold, one at the largest
  // time in test for any threshold.
  const InteractionLog edges = make_log(1, 1, {0, 0}, {0, 0}, {kMaxTime, kMinTime});
  const Split e = global_time_split(edges, 0);
  CHECK(to_vector(e.train.times()) == std::vector<Timestamp>{kMinTime});
  CHECK(to_vector(e.test.times()) == std::vector<Timestamp>{kMaxTime});
  CHECK(to_vector(global_time_split(edges, kMaxTime).test.times()) == std::vector<Timestamp>{kMaxTime});

  const Split empty = global_time_split(InteractionLog(2, 2), 5);
  CHECK(empty.train.empty());
  CHECK(empty.test.empty());
  CHECK(empty.report == SplitReport{});
}

TEST_CASE("global_time_split: random logs, every train time < threshold <= every test time") {
  using recmix::split::global_time_split;
  for (std::uint64_t seed : kSeeds) {
    const InteractionLog log = random_log(40, 30, 2000, seed, -100, 200);
    for (Timestamp threshold : {kMinTime, Timestamp{-100}, Timestamp{-37}, Timestamp{0}, Timestamp{50},
                                Timestamp{99}, Timestamp{100}, kMaxTime}) {
      CAPTURE(seed);
      CAPTURE(threshold);
      const Split s = global_time_split(log, threshold);
      check_partition(log, s);
      for (Timestamp t : s.train.times()) CHECK(t < threshold);
      for (Timestamp t : s.test.times()) CHECK(t >= threshold);
      const auto before = static_cast<std::size_t>(
          std::count_if(log.times().begin(), log.times().end(), [&](Timestamp t) { return t < threshold; }));
      CHECK(s.train.size() == before);
    }
  }
}

// ================================================================================================
// last_n_split
// ================================================================================================

TEST_CASE("last_n_split: hand case with ties broken by log position") {
  using recmix::split::last_n_split;
  // p0 (0,0,t5)  p1 (0,1,t3)  p2 (1,2,t7)  p3 (0,2,t5)  p4 (0,3,t1)  p5 (1,4,t7)  p6 (2,0,t4)
  // User 0 in time order: p4 (t1), p1 (t3), p0 (t5), p3 (t5; added after p0, so later).
  // User 1: p2 (t7), p5 (t7; later). User 2: p6. User 3: nothing.
  const InteractionLog log = make_log(4, 5, {0, 0, 1, 0, 0, 1, 2}, {0, 1, 2, 2, 3, 4, 0}, {5, 3, 7, 5, 1, 7, 4});

  const Split n1 = last_n_split(log, {.n = 1});
  CHECK(to_vector(n1.test.users()) == std::vector<Index>{0, 1, 2});  // p3 p5 p6
  CHECK(to_vector(n1.test.items()) == std::vector<Index>{2, 4, 0});
  CHECK(to_vector(n1.test.times()) == std::vector<Timestamp>{5, 7, 4});
  CHECK(to_vector(n1.train.users()) == std::vector<Index>{0, 0, 1, 0});  // p0 p1 p2 p4
  CHECK(to_vector(n1.train.items()) == std::vector<Index>{0, 1, 2, 3});
  CHECK(n1.report == SplitReport{.train = 4, .test = 3});

  const Split n2 = last_n_split(log, {.n = 2});
  CHECK(to_vector(n2.test.items()) == std::vector<Index>{0, 2, 2, 4, 0});  // p0 p2 p3 p5 p6
  CHECK(to_vector(n2.test.users()) == std::vector<Index>{0, 1, 0, 1, 2});
  CHECK(to_vector(n2.train.items()) == std::vector<Index>{1, 3});  // p1 p4

  const Split n3 = last_n_split(log, {.n = 3});
  CHECK(to_vector(n3.train.items()) == std::vector<Index>{3});  // p4
  CHECK(to_vector(n3.test.times()) == std::vector<Timestamp>{5, 3, 7, 5, 7, 4});

  const Split n9 = last_n_split(log, {.n = 9});
  CHECK(n9.train.empty());
  CHECK(n9.test == log);

  // Default options: n = 1.
  CHECK(last_n_split(log).test == n1.test);

  // Users with n events or fewer end up entirely in test, and drop_cold_users removes them:
  // with n = 2, users 1 and 2 are cold (p2, p5, p6), user 0 keeps p0 and p3.
  const Split cold = last_n_split(log, {.n = 2, .filter = {.drop_cold_users = true}});
  CHECK(to_vector(cold.test.items()) == std::vector<Index>{0, 2});
  CHECK(to_vector(cold.test.users()) == std::vector<Index>{0, 0});
  CHECK(cold.report == SplitReport{.train = 2, .test = 2, .dropped_cold_user = 3});

  // Ties at the very end of a user: three events at the same time, the last two added go.
  const InteractionLog ties = make_log(1, 3, {0, 0, 0}, {0, 1, 2}, {9, 9, 9});
  CHECK(to_vector(last_n_split(ties, {.n = 2}).test.items()) == std::vector<Index>{1, 2});
  CHECK(to_vector(last_n_split(ties, {.n = 1}).train.items()) == std::vector<Index>{0, 1});

  CHECK_THROWS_WITH_AS((void)last_n_split(log, {.n = 0}), doctest::Contains("n must be >= 1"),
                       recmix::invalid_argument);
  CHECK_THROWS_AS((void)last_n_split(log, {.n = -1}), recmix::invalid_argument);
}

TEST_CASE("last_n_split: random logs, each user's latest min(n, count) events in test") {
  using recmix::split::last_n_split;
  for (std::uint64_t seed : kSeeds) {
    // A small time range: many ties inside a user.
    const InteractionLog log = random_log(40, 30, 1500, seed, 0, 25);
    const std::vector<std::size_t> later = later_counts(log);
    std::vector<std::size_t> per_user(40, 0);
    for (Index u : log.users()) ++per_user[static_cast<std::size_t>(u)];
    for (Index n : {1, 2, 5, 40, 1000}) {
      CAPTURE(seed);
      CAPTURE(n);
      const Split s = last_n_split(log, {.n = n});
      check_partition(log, s);
      const auto nn = static_cast<std::size_t>(n);
      CHECK(s.test == log.select(positions_where(log, [&](std::size_t e) { return later[e] < nn; })));
      CHECK(s.train == log.select(positions_where(log, [&](std::size_t e) { return later[e] >= nn; })));
      std::vector<std::size_t> in_test(40, 0);
      for (Index u : s.test.users()) ++in_test[static_cast<std::size_t>(u)];
      for (std::size_t u = 0; u < 40; ++u) CHECK(in_test[u] == std::min(nn, per_user[u]));
      // Every test event of a user is no earlier than any of that user's train events.
      std::vector<Timestamp> latest_train(40, kMinTime), earliest_test(40, kMaxTime);
      for (std::size_t e = 0; e < s.train.size(); ++e) {
        auto& v = latest_train[static_cast<std::size_t>(s.train.users()[e])];
        v = std::max(v, s.train.times()[e]);
      }
      for (std::size_t e = 0; e < s.test.size(); ++e) {
        auto& v = earliest_test[static_cast<std::size_t>(s.test.users()[e])];
        v = std::min(v, s.test.times()[e]);
      }
      for (std::size_t u = 0; u < 40; ++u) CHECK(latest_train[u] <= earliest_test[u]);
    }
  }
}

// ================================================================================================
// last_span_split
// ================================================================================================

TEST_CASE("last_span_split: hand case, test is time > last - span") {
  using recmix::split::last_span_split;
  // q0 (0,0,t100)  q1 (0,1,t95)  q2 (1,0,t7)  q3 (0,2,t90)  q4 (0,3,t91)  q5 (0,4,t100)  q6 (0,0,t50)
  // User 0's last time is 100, user 1's is 7.
  const InteractionLog log = make_log(3, 5, {0, 0, 1, 0, 0, 0, 0}, {0, 1, 0, 2, 3, 4, 0}, {100, 95, 7, 90, 91, 100, 50});

  // span 10: time > 90 -> q0 q1 q4 q5 for user 0 (90 itself stays in train), q2 for user 1.
  const Split s10 = last_span_split(log, {.span = 10});
  CHECK(to_vector(s10.test.times()) == std::vector<Timestamp>{100, 95, 7, 91, 100});
  CHECK(to_vector(s10.test.items()) == std::vector<Index>{0, 1, 0, 3, 4});
  CHECK(to_vector(s10.train.times()) == std::vector<Timestamp>{90, 50});
  CHECK(s10.report == SplitReport{.train = 2, .test = 5});

  // span 11: 90 joins test.
  CHECK(to_vector(last_span_split(log, {.span = 11}).train.times()) == std::vector<Timestamp>{50});
  // span 1 (the default): only each user's last time, both events at t100.
  const Split s1 = last_span_split(log, {.span = 1});
  CHECK(to_vector(s1.test.times()) == std::vector<Timestamp>{100, 7, 100});
  CHECK(to_vector(s1.train.times()) == std::vector<Timestamp>{95, 90, 91, 50});
  CHECK(last_span_split(log).test == s1.test);
  // span 51: time > 49 -> everything.
  CHECK(last_span_split(log, {.span = 51}).train.empty());
  // span 50: time > 50 -> q6 stays.
  CHECK(to_vector(last_span_split(log, {.span = 50}).train.times()) == std::vector<Timestamp>{50});

  CHECK_THROWS_WITH_AS((void)last_span_split(log, {.span = 0}), doctest::Contains("span must be >= 1"),
                       recmix::invalid_argument);
  CHECK_THROWS_AS((void)last_span_split(log, {.span = -5}), recmix::invalid_argument);
  CHECK_THROWS_AS((void)last_span_split(log, {.span = kMinTime}), recmix::invalid_argument);
}

TEST_CASE("last_span_split: extreme int64 times do not overflow") {
  using recmix::split::last_span_split;
  // User 0: MIN, MAX, 0, 1, MAX - 1.  User 1: MIN and -1.  User 2: MIN only.
  const InteractionLog log = make_log(3, 1, {0, 0, 0, 0, 0, 1, 1, 2}, {0, 0, 0, 0, 0, 0, 0, 0},
                                      {kMinTime, kMaxTime, 0, 1, kMaxTime - 1, kMinTime, -1, kMinTime});
  // span 1: MAX for user 0, -1 for user 1, MIN for user 2.
  CHECK(to_vector(last_span_split(log, {.span = 1}).test.times()) ==
        std::vector<Timestamp>{kMaxTime, -1, kMinTime});
  // span 2: user 0 adds MAX - 1.
  CHECK(to_vector(last_span_split(log, {.span = 2}).test.times()) ==
        std::vector<Timestamp>{kMaxTime, kMaxTime - 1, -1, kMinTime});
  // span MAX: user 0 keeps time > MAX - MAX = 0 (so 1, not 0); user 1 keeps time > -1 - MAX = MIN,
  // so MIN stays in train; user 2's only event is its last one.
  const Split big = last_span_split(log, {.span = kMaxTime});
  CHECK(to_vector(big.test.times()) == std::vector<Timestamp>{kMaxTime, 1, kMaxTime - 1, -1, kMinTime});
  CHECK(to_vector(big.train.times()) == std::vector<Timestamp>{kMinTime, 0, kMinTime});
  check_partition(log, big);
}

TEST_CASE("last_span_split: random logs against the definition") {
  using recmix::split::last_span_split;
  for (std::uint64_t seed : kSeeds) {
    const InteractionLog log = random_log(40, 30, 2000, seed, -500, 1000);
    const std::vector<Timestamp> last = last_times(log);
    for (Timestamp span : {Timestamp{1}, Timestamp{7}, Timestamp{100}, Timestamp{999}, Timestamp{1000}, Timestamp{5000}}) {
      CAPTURE(seed);
      CAPTURE(span);
      const Split s = last_span_split(log, {.span = span});
      check_partition(log, s);
      const auto in_test = [&](std::size_t e) {
        return log.times()[e] > last[static_cast<std::size_t>(log.users()[e])] - span;
      };
      CHECK(s.test == log.select(positions_where(log, in_test)));
      CHECK(s.train == log.select(positions_where(log, [&](std::size_t e) { return !in_test(e); })));
    }
  }
}

// ================================================================================================
// TimeRangeFolds
// ================================================================================================

TEST_CASE("TimeRangeFolds: hand case, expanding and sliding") {
  // Times (one user, one item): 1 5 10 12 15 19 20 25 29 30 35 -100.
  const InteractionLog log =
      make_log(1, 1, std::vector<Index>(12, 0), std::vector<Index>(12, 0), {1, 5, 10, 12, 15, 19, 20, 25, 29, 30, 35, -100});

  const TimeRangeFolds expanding(log, {.first_test_begin = 10, .width = 10, .folds = 2});
  REQUIRE(expanding.size() == 2);
  const Fold e0 = expanding.fold(0);
  CHECK(e0.index == 0);
  CHECK(e0.train_begin == kMinTime);
  CHECK(e0.test_begin == 10);
  CHECK(e0.test_end == 20);
  CHECK(to_vector(e0.split.train.times()) == std::vector<Timestamp>{1, 5, -100});
  CHECK(to_vector(e0.split.test.times()) == std::vector<Timestamp>{10, 12, 15, 19});
  CHECK(e0.split.report == SplitReport{.train = 3, .test = 4});
  const Fold e1 = expanding.fold(1);
  CHECK(e1.index == 1);
  CHECK(e1.train_begin == kMinTime);
  CHECK(e1.test_begin == 20);
  CHECK(e1.test_end == 30);
  CHECK(to_vector(e1.split.train.times()) == std::vector<Timestamp>{1, 5, 10, 12, 15, 19, -100});
  CHECK(to_vector(e1.split.test.times()) == std::vector<Timestamp>{20, 25, 29});

  const TimeRangeFolds sliding(log, {.first_test_begin = 10, .width = 10, .folds = 2, .window = FoldWindow::sliding,
                                     .train_width = 5});
  const Fold s0 = sliding.fold(0);
  CHECK(s0.train_begin == 5);
  CHECK(s0.test_begin == 10);
  CHECK(s0.test_end == 20);
  CHECK(to_vector(s0.split.train.times()) == std::vector<Timestamp>{5});
  CHECK(to_vector(s0.split.test.times()) == std::vector<Timestamp>{10, 12, 15, 19});
  const Fold s1 = sliding.fold(1);
  CHECK(s1.train_begin == 15);
  CHECK(to_vector(s1.split.train.times()) == std::vector<Timestamp>{15, 19});
  CHECK(to_vector(s1.split.test.times()) == std::vector<Timestamp>{20, 25, 29});
  CHECK(s1.split.report == SplitReport{.train = 2, .test = 3});

  // The filter applies per fold: with drop_seen, fold 0 of the expanding folds keeps nothing
  // (the only pair (0,0) is in train); the window [-200, 2) has an empty train and two test
  // events (-100 and 1), so drop_cold_users removes both.
  const TimeRangeFolds seen(log, {.first_test_begin = 10, .width = 10, .folds = 1, .filter = {.drop_seen = true}});
  CHECK(seen.fold(0).split.report == SplitReport{.train = 3, .test = 0, .dropped_seen = 4});
  const TimeRangeFolds cold(log, {.first_test_begin = -200, .width = 202, .folds = 1, .filter = {.drop_cold_users = true}});
  CHECK(cold.fold(0).split.report == SplitReport{.train = 0, .test = 0, .dropped_cold_user = 2});

  // An event at the smallest timestamp is in every expanding train.
  const InteractionLog edge = make_log(1, 1, {0, 0}, {0, 0}, {kMinTime, 3});
  const TimeRangeFolds edge_folds(edge, {.first_test_begin = 3, .width = 1, .folds = 1});
  CHECK(to_vector(edge_folds.fold(0).split.train.times()) == std::vector<Timestamp>{kMinTime});
  CHECK(to_vector(edge_folds.fold(0).split.test.times()) == std::vector<Timestamp>{3});

  CHECK_THROWS_WITH_AS((void)expanding.fold(-1), doctest::Contains("fold -1"), recmix::invalid_argument);
  CHECK_THROWS_AS((void)expanding.fold(2), recmix::invalid_argument);
  CHECK_THROWS_AS((void)sliding.fold(2), recmix::invalid_argument);
}

TEST_CASE("TimeRangeFolds: random logs, windows tile the range, trains as defined") {
  for (std::uint64_t seed : kSeeds) {
    const InteractionLog log = random_log(40, 30, 2000, seed, 0, 200);
    for (FoldWindow window : {FoldWindow::expanding, FoldWindow::sliding}) {
      CAPTURE(seed);
      CAPTURE(window == FoldWindow::sliding);
      const Timestamp first = 50, width = 30, train_width = window == FoldWindow::sliding ? 40 : 0;
      const Index folds = 5;
      const TimeRangeFolds range(log, {.first_test_begin = first, .width = width, .folds = folds, .window = window,
                                       .train_width = train_width});
      REQUIRE(range.size() == folds);
      std::size_t tested = 0;
      for (Index f = 0; f < folds; ++f) {
        CAPTURE(f);
        const Fold fold = range.fold(f);
        CHECK(fold.index == f);
        CHECK(fold.test_begin == first + f * width);
        CHECK(fold.test_end - fold.test_begin == width);
        if (f + 1 < folds) CHECK(fold.test_end == range.fold(f + 1).test_begin);
        const Timestamp lo = window == FoldWindow::sliding ? fold.test_begin - train_width : kMinTime;
        CHECK(fold.train_begin == lo);
        const auto times = log.times();
        const auto in_train = [&](std::size_t e) { return times[e] >= lo && times[e] < fold.test_begin; };
        const auto in_test = [&](std::size_t e) { return times[e] >= fold.test_begin && times[e] < fold.test_end; };
        CHECK(fold.split.train == log.select(positions_where(log, in_train)));
        CHECK(fold.split.test == log.select(positions_where(log, in_test)));
        // Nothing of the fold's window lost or duplicated.
        check_partition(log.select(positions_where(log, [&](std::size_t e) { return in_train(e) || in_test(e); })),
                        fold.split);
        for (Timestamp t : fold.split.train.times()) CHECK(t < fold.test_begin);
        for (Timestamp t : fold.split.test.times()) CHECK((t >= fold.test_begin && t < fold.test_end));
        tested += fold.split.test.size();
      }
      // The windows are disjoint, so together they test each event of [50, 200) exactly once.
      const auto in_range = static_cast<std::size_t>(std::count_if(
          log.times().begin(), log.times().end(), [&](Timestamp t) { return t >= first && t < first + folds * width; }));
      CHECK(tested == in_range);
      CHECK(in_range > 0);
    }
  }
}

TEST_CASE("TimeRangeFolds: range-for yields size() folds equal to fold(f)") {
  static_assert(std::input_iterator<TimeRangeFolds::iterator>);
  static_assert(std::ranges::input_range<const TimeRangeFolds>);
  // The range keeps a pointer to the log: a temporary log is refused at compile time.
  static_assert(!std::is_constructible_v<TimeRangeFolds, InteractionLog&&, const recmix::split::TimeRangeFoldsOptions&>);
  static_assert(std::is_constructible_v<TimeRangeFolds, const InteractionLog&, const recmix::split::TimeRangeFoldsOptions&>);

  const InteractionLog log = random_log(10, 10, 300, kSeeds[1], 0, 100);
  const TimeRangeFolds range(log, {.first_test_begin = 20, .width = 15, .folds = 4, .window = FoldWindow::sliding,
                                   .train_width = 20, .filter = {.drop_cold_items = true}});
  Index count = 0;
  for (const Fold& f : range) {
    CAPTURE(count);
    CHECK(f.index == count);
    check_same_fold(f, range.fold(count));
    ++count;
  }
  CHECK(count == range.size());
  CHECK(count == 4);
  CHECK(std::distance(range.begin(), range.end()) == 4);

  // Post-increment returns the old position.
  auto it = range.begin();
  auto old = it++;
  CHECK((*old).index == 0);
  CHECK((*it).index == 1);
  CHECK(old != it);
  CHECK(++old == it);
}

TEST_CASE("TimeRangeFolds: option validation") {
  using recmix::invalid_argument;
  const InteractionLog log = hand_time_log();
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.width = 0}), doctest::Contains("width must be >= 1"), invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.width = -3}), invalid_argument);
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.folds = 0}), doctest::Contains("folds must be >= 1"), invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.folds = -1}), invalid_argument);
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.window = FoldWindow::sliding}), doctest::Contains("train_width"),
                       invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.window = FoldWindow::sliding, .train_width = -2}), invalid_argument);
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.train_width = 3}), doctest::Contains("only applies to the sliding"),
                       invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.window = FoldWindow::expanding, .train_width = -1}), invalid_argument);
  CHECK_NOTHROW(TimeRangeFolds(log, {}));

  // The last window must end at or below INT64_MAX.
  CHECK_NOTHROW(TimeRangeFolds(log, {.first_test_begin = kMaxTime - 10, .width = 5, .folds = 2}));
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.first_test_begin = kMaxTime - 10, .width = 5, .folds = 3}),
                       doctest::Contains("beyond the largest timestamp"), invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.first_test_begin = kMaxTime, .width = 1, .folds = 1}), invalid_argument);
  // folds * width itself overflows.
  CHECK_THROWS_AS(TimeRangeFolds(log, {.first_test_begin = 0, .width = kMaxTime / 2 + 1, .folds = 2}), invalid_argument);
  CHECK_THROWS_AS(TimeRangeFolds(log, {.first_test_begin = kMinTime, .width = kMaxTime, .folds = 3}), invalid_argument);
  CHECK_NOTHROW(TimeRangeFolds(log, {.first_test_begin = 0, .width = kMaxTime, .folds = 1}));
  CHECK_NOTHROW(TimeRangeFolds(log, {.first_test_begin = kMinTime, .width = kMaxTime, .folds = 1}));
  // The first sliding train window must start at or above INT64_MIN.
  CHECK_THROWS_WITH_AS(TimeRangeFolds(log, {.first_test_begin = kMinTime + 4, .window = FoldWindow::sliding,
                                            .train_width = 5}),
                       doctest::Contains("below the smallest timestamp"), invalid_argument);
  CHECK_NOTHROW(TimeRangeFolds(log, {.first_test_begin = kMinTime + 4, .window = FoldWindow::sliding, .train_width = 4}));

  // At the edges, fold windows are still exact.
  const InteractionLog edges = make_log(1, 1, {0, 0, 0, 0}, {0, 0, 0, 0}, {kMaxTime - 1, kMaxTime, kMinTime, kMinTime + 3});
  const TimeRangeFolds top(edges, {.first_test_begin = kMaxTime - 10, .width = 5, .folds = 2});
  const Fold last = top.fold(1);
  CHECK(last.test_begin == kMaxTime - 5);
  CHECK(last.test_end == kMaxTime);
  CHECK(to_vector(last.split.test.times()) == std::vector<Timestamp>{kMaxTime - 1});  // the window is half-open
  CHECK(to_vector(last.split.train.times()) == std::vector<Timestamp>{kMinTime, kMinTime + 3});
  const TimeRangeFolds bottom(edges, {.first_test_begin = kMinTime + 4, .width = 1, .folds = 1,
                                      .window = FoldWindow::sliding, .train_width = 4});
  const Fold b = bottom.fold(0);
  CHECK(b.train_begin == kMinTime);
  CHECK(to_vector(b.split.train.times()) == std::vector<Timestamp>{kMinTime, kMinTime + 3});
  CHECK(b.split.test.empty());
}

// ================================================================================================
// random_split
// ================================================================================================

TEST_CASE("random_split: deterministic for a seed, different for another") {
  using recmix::split::random_split;
  const InteractionLog log = random_log(40, 30, 3000, kSeeds[0], 0, 500);
  const Split a = random_split(log, {.test_fraction = 0.3, .seed = 7});
  const Split b = random_split(log, {.test_fraction = 0.3, .seed = 7});
  CHECK(a.train == b.train);
  CHECK(a.test == b.test);
  CHECK(a.report == b.report);
  check_partition(log, a);

  const Split c = random_split(log, {.test_fraction = 0.3, .seed = 8});
  CHECK_FALSE(a.test == c.test);
  check_partition(log, c);

  // As documented, event e goes to test when hash_uniform(seed, e) < test_fraction.
  for (std::uint64_t seed : {std::uint64_t{7}, std::uint64_t{8}, std::uint64_t{0}}) {
    CAPTURE(seed);
    const Split s = random_split(log, {.test_fraction = 0.3, .seed = seed});
    CHECK(s.test == log.select(positions_where(log, [&](std::size_t e) { return recmix::hash_uniform(seed, e) < 0.3; })));
  }

  // The choice depends on the position only, not on what the events are: another log of the
  // same size is cut at the same positions.
  const InteractionLog other = random_log(5, 5, 3000, kSeeds[2], -1000, 10);
  const Split o = random_split(other, {.test_fraction = 0.3, .seed = 7});
  std::vector<std::size_t> a_positions, o_positions;
  {
    // Recover positions by walking the log: events are selected in order.
    const auto positions_of = [](const InteractionLog& whole, const InteractionLog& part) {
      const std::vector<Event> w = events_of(whole), p = events_of(part);
      std::vector<std::size_t> out;
      std::size_t k = 0;
      for (std::size_t e = 0; e < w.size() && k < p.size(); ++e) {
        if (w[e] == p[k]) {
          out.push_back(e);
          ++k;
        }
      }
      return out;
    };
    a_positions = positions_of(log, a.test);
    o_positions = positions_of(other, o.test);
  }
  CHECK(a_positions.size() == a.test.size());
  CHECK(o.test.size() == a.test.size());
  CHECK(o.test == other.select(a_positions));

  // The default options: fraction 0.2, seed 42.
  const Split d = random_split(log);
  CHECK(d.test == log.select(positions_where(log, [](std::size_t e) { return recmix::hash_uniform(42, e) < 0.2; })));
}

TEST_CASE("random_split: test fraction close to the requested one on 100k events") {
  using recmix::split::random_split;
  const InteractionLog log = random_log(1000, 500, 100000, kSeeds[1], 0, 1000000);
  for (double p : {0.2, 0.5, 0.01}) {
    CAPTURE(p);
    const Split s = random_split(log, {.test_fraction = p, .seed = 12345});
    // Binomial(100000, p): 5 standard deviations is at most 5 * 158 = 791 events.
    const double sd = std::sqrt(100000.0 * p * (1.0 - p));
    const double got = static_cast<double>(s.test.size());
    CHECK(std::abs(got - 100000.0 * p) < 5.0 * sd);
    CHECK(s.train.size() + s.test.size() == 100000);
    CHECK(s.report.test == s.test.size());
    CHECK(s.report.train == s.train.size());
  }
}

TEST_CASE("random_split: fractions 0 and 1, invalid fractions") {
  using recmix::split::random_split;
  const InteractionLog log = random_log(10, 10, 500, kSeeds[2], 0, 100);
  const Split none = random_split(log, {.test_fraction = 0.0});
  CHECK(none.test.empty());
  CHECK(none.train == log);
  const Split all = random_split(log, {.test_fraction = 1.0});
  CHECK(all.train.empty());
  CHECK(all.test == log);
  const Split empty = random_split(InteractionLog(3, 3), {.test_fraction = 0.5});
  CHECK(empty.train.empty());
  CHECK(empty.test.empty());

  using recmix::invalid_argument;
  CHECK_THROWS_WITH_AS((void)random_split(log, {.test_fraction = std::numeric_limits<double>::quiet_NaN()}),
                       doctest::Contains("test_fraction must be in [0, 1]"), invalid_argument);
  CHECK_THROWS_AS((void)random_split(log, {.test_fraction = -0.1}), invalid_argument);
  CHECK_THROWS_AS((void)random_split(log, {.test_fraction = 1.1}), invalid_argument);
  CHECK_THROWS_AS((void)random_split(log, {.test_fraction = std::numeric_limits<double>::infinity()}), invalid_argument);
  CHECK_THROWS_AS((void)random_split(log, {.test_fraction = -std::numeric_limits<double>::infinity()}), invalid_argument);
}

// ================================================================================================
// TestFilter and SplitReport
// ================================================================================================

TEST_CASE("TestFilter: each dropped event counted under its first reason") {
  using recmix::split::global_time_split;
  const InteractionLog log = hand_filter_log();
  // Times identify the test events: t0..t8 are times 10..18.
  SUBCASE("no filter") {
    const Split s = global_time_split(log, 10);
    check_partition(log, s);
    CHECK(to_vector(s.train.times()) == std::vector<Timestamp>{1, 2, 3});
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{10, 11, 12, 13, 14, 15, 16, 17, 18});
  }
  SUBCASE("all three: cold user first, then cold item, then seen") {
    const Split s = global_time_split(log, 10, {.filter = {.drop_cold_users = true, .drop_cold_items = true, .drop_seen = true}});
    // t2 (user 2, item 3) is cold both ways and counts as a cold user only.
    CHECK(s.report == SplitReport{.train = 3, .test = 2, .dropped_cold_user = 3, .dropped_cold_item = 2, .dropped_seen = 2});
    CHECK(s.report.dropped() == 7);
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{14, 18});
    CHECK(to_vector(s.test.users()) == std::vector<Index>{1, 1});
    CHECK(to_vector(s.test.items()) == std::vector<Index>{0, 0});
    CHECK(to_vector(s.train.times()) == std::vector<Timestamp>{1, 2, 3});  // train is never filtered
    CHECK(s.report.describe() == "train 3 events, test 2 events; dropped from test: 3 cold user, 2 cold item, 2 seen");
  }
  SUBCASE("cold users only") {
    const Split s = global_time_split(log, 10, {.filter = {.drop_cold_users = true}});
    CHECK(s.report == SplitReport{.train = 3, .test = 6, .dropped_cold_user = 3});
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{10, 13, 14, 15, 16, 18});
  }
  SUBCASE("cold items only") {
    // Now t2 counts as a cold item.
    const Split s = global_time_split(log, 10, {.filter = {.drop_cold_items = true}});
    CHECK(s.report == SplitReport{.train = 3, .test = 6, .dropped_cold_item = 3});
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{10, 11, 14, 15, 17, 18});
  }
  SUBCASE("seen only") {
    // A pair repeated inside test (t4, t8) is not "seen": only train counts.
    const Split s = global_time_split(log, 10, {.filter = {.drop_seen = true}});
    CHECK(s.report == SplitReport{.train = 3, .test = 7, .dropped_seen = 2});
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{11, 12, 13, 14, 16, 17, 18});
  }
  SUBCASE("cold items and seen") {
    const Split s = global_time_split(log, 10, {.filter = {.drop_cold_items = true, .drop_seen = true}});
    CHECK(s.report == SplitReport{.train = 3, .test = 4, .dropped_cold_item = 3, .dropped_seen = 2});
    CHECK(s.report.dropped() == 5);
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{11, 14, 17, 18});
  }
  SUBCASE("cold users and cold items") {
    const Split s = global_time_split(log, 10, {.filter = {.drop_cold_users = true, .drop_cold_items = true}});
    CHECK(s.report == SplitReport{.train = 3, .test = 4, .dropped_cold_user = 3, .dropped_cold_item = 2});
    CHECK(to_vector(s.test.times()) == std::vector<Timestamp>{10, 14, 15, 18});
  }
  SUBCASE("a train event of weight 0 still makes its pair seen") {
    InteractionLog z(2, 2);
    z.add(0, 1, 1, 0.0f);
    z.add(0, 1, 5);
    z.add(0, 0, 6);
    const Split s = global_time_split(z, 5, {.filter = {.drop_seen = true}});
    CHECK(s.report == SplitReport{.train = 1, .test = 1, .dropped_seen = 1});
    CHECK(to_vector(s.test.items()) == std::vector<Index>{0});
  }
}

TEST_CASE("SplitReport: dropped() and describe()") {
  const SplitReport r{.train = 9811, .test = 1204, .dropped_cold_user = 97, .dropped_cold_item = 5, .dropped_seen = 13};
  CHECK(r.dropped() == 115);
  const std::string text = r.describe();
  CHECK(text == "train 9811 events, test 1204 events; dropped from test: 97 cold user, 5 cold item, 13 seen");
  CHECK(text.find("9811") != std::string::npos);
  CHECK(text.find("97 cold user") != std::string::npos);
  CHECK(SplitReport{}.dropped() == 0);
  CHECK(SplitReport{}.describe() == "train 0 events, test 0 events; dropped from test: 0 cold user, 0 cold item, 0 seen");
  CHECK_FALSE(r == SplitReport{});
}

TEST_CASE("TestFilter: random logs against a set-based reference, for every splitter") {
  using namespace recmix::split;
  for (std::uint64_t seed : kSeeds) {
    // Few events per user and item, so cold users/items and seen pairs all occur.
    const InteractionLog log = random_log(60, 50, 400, seed, 0, 100);
    const auto times = log.times();
    for (const TestFilter& filter : all_filters()) {
      CAPTURE(seed);
      CAPTURE(filter.drop_cold_users);
      CAPTURE(filter.drop_cold_items);
      CAPTURE(filter.drop_seen);
      const auto check = [&](const Split& s, const std::vector<std::size_t>& train, const std::vector<std::size_t>& test) {
        const FilterReference ref = reference_filter(log, train, test, filter);
        CHECK(s.report == ref.report);
        CHECK(s.report.dropped() + s.report.test == test.size());
        CHECK(s.train == log.select(train));
        CHECK(s.test == log.select(ref.kept));
      };
      // global_time_split at 30: a small train, so cold users and items are common
      const Split global = global_time_split(log, 30, {.filter = filter});
      check(global, positions_where(log, [&](std::size_t e) { return times[e] < 30; }),
            positions_where(log, [&](std::size_t e) { return times[e] >= 30; }));
      // The log is sparse enough that every reason occurs.
      if (filter.drop_cold_users) CHECK(global.report.dropped_cold_user > 0);
      if (filter.drop_cold_items && !filter.drop_cold_users) CHECK(global.report.dropped_cold_item > 0);
      if (filter.drop_seen) CHECK(global.report.dropped_seen > 0);
      // random_split, positions from the documented hash
      const auto to_test = [&](std::size_t e) { return recmix::hash_uniform(5, e) < 0.25; };
      check(random_split(log, {.test_fraction = 0.25, .seed = 5, .filter = filter}),
            positions_where(log, [&](std::size_t e) { return !to_test(e); }), positions_where(log, to_test));
      // a sliding fold over [40, 80) with train [20, 40)
      const TimeRangeFolds folds(log, {.first_test_begin = 40, .width = 40, .folds = 1, .window = FoldWindow::sliding,
                                       .train_width = 20, .filter = filter});
      check(folds.fold(0).split, positions_where(log, [&](std::size_t e) { return times[e] >= 20 && times[e] < 40; }),
            positions_where(log, [&](std::size_t e) { return times[e] >= 40 && times[e] < 80; }));
      // last_n_split (n = 2) and last_span_split (span 30), positions from the definitions.
      const std::vector<std::size_t> later = later_counts(log);
      check(last_n_split(log, {.n = 2, .filter = filter}), positions_where(log, [&](std::size_t e) { return later[e] >= 2; }),
            positions_where(log, [&](std::size_t e) { return later[e] < 2; }));
      const std::vector<Timestamp> last = last_times(log);
      const auto recent = [&](std::size_t e) { return times[e] > last[static_cast<std::size_t>(log.users()[e])] - 30; };
      check(last_span_split(log, {.span = 30, .filter = filter}),
            positions_where(log, [&](std::size_t e) { return !recent(e); }), positions_where(log, recent));
    }
  }
}

// ================================================================================================
// snapshot_split
// ================================================================================================

TEST_CASE("snapshot_split: hand panel, added_since_previous vs not_in_train") {
  using namespace recmix::split;
  const Panel panel = hand_panel();

  const Split added = snapshot_split(panel, kHandMonths, {.test_month = 3});
  // Held in month 3 and not in month 2: (0,1) re-acquired, (1,0), (1,3), (2,2).
  using UIT = std::vector<std::array<Timestamp, 3>>;
  CHECK(uit_of(added.test) == UIT{{0, 1, 201504}, {1, 0, 201504}, {1, 3, 201504}, {2, 2, 201504}});
  // Train: one event per (month, user, item) held in months 0..2.
  CHECK(uit_of(added.train) == UIT{{0, 0, 201501}, {0, 0, 201502}, {0, 0, 201503}, {0, 1, 201501}, {0, 2, 201503},
                                   {1, 1, 201502}, {1, 1, 201503}});
  CHECK(std::all_of(added.train.weights().begin(), added.train.weights().end(), [](float w) { return w == 1.0f; }));
  CHECK(std::all_of(added.test.weights().begin(), added.test.weights().end(), [](float w) { return w == 1.0f; }));
  CHECK(added.train.num_users() == 3);
  CHECK(added.train.num_items() == 4);
  CHECK(added.test.num_users() == 3);
  CHECK(added.test.num_items() == 4);
  CHECK(added.report == SplitReport{.train = 7, .test = 4});
  // train.to_matrix() counts months held: user 0 held item 0 three months, items 1 and 2 one
  // month each; user 1 held item 1 two months; user 2 nothing.
  const InteractionMatrix held = added.train.to_matrix();
  CHECK(to_vector(held.indptr()) == std::vector<Offset>{0, 3, 4, 4});
  CHECK(to_vector(held.indices()) == std::vector<Index>{0, 1, 2, 1});
  CHECK(to_vector(held.values()) == std::vector<float>{3.0f, 1.0f, 1.0f, 2.0f});

  // not_in_train: (0,1) was held in month 0, so it is not new.
  const Split fresh = snapshot_split(panel, kHandMonths, {.test_month = 3, .target = NewItems::not_in_train});
  CHECK(uit_of(fresh.test) == UIT{{1, 0, 201504}, {1, 3, 201504}, {2, 2, 201504}});
  CHECK(fresh.train == added.train);
  CHECK(fresh.report == SplitReport{.train = 7, .test = 3});

  // Filters: (2,2) cold user, (1,3) cold item, (0,1) seen in month 0 -> only (1,0) stays.
  const Split filtered = snapshot_split(
      panel, kHandMonths, {.test_month = 3, .filter = {.drop_cold_users = true, .drop_cold_items = true, .drop_seen = true}});
  CHECK(uit_of(filtered.test) == UIT{{1, 0, 201504}});
  CHECK(filtered.report == SplitReport{.train = 7, .test = 1, .dropped_cold_user = 1, .dropped_cold_item = 1, .dropped_seen = 1});

  // Earlier test months.
  const Split m1 = snapshot_split(panel, kHandMonths, {.test_month = 1});
  CHECK(uit_of(m1.test) == UIT{{1, 1, 201502}});
  CHECK(uit_of(m1.train) == UIT{{0, 0, 201501}, {0, 1, 201501}});
  const Split m2 = snapshot_split(panel, kHandMonths, {.test_month = 2, .target = NewItems::not_in_train});
  CHECK(uit_of(m2.test) == UIT{{0, 2, 201503}});
  CHECK(m2.report == SplitReport{.train = 4, .test = 1});
}

TEST_CASE("snapshot_split: train_months window") {
  using namespace recmix::split;
  const Panel panel = hand_panel();
  using UIT = std::vector<std::array<Timestamp, 3>>;

  // Only month 2 in train.
  const Split one = snapshot_split(panel, kHandMonths, {.test_month = 3, .train_months = 1});
  CHECK(uit_of(one.train) == UIT{{0, 0, 201503}, {0, 2, 201503}, {1, 1, 201503}});
  CHECK(uit_of(one.test) == UIT{{0, 1, 201504}, {1, 0, 201504}, {1, 3, 201504}, {2, 2, 201504}});
  // With the window, (0,1) (last held in month 0) is new under not_in_train as well.
  const Split one_fresh = snapshot_split(panel, kHandMonths, {.test_month = 3, .target = NewItems::not_in_train, .train_months = 1});
  CHECK(uit_of(one_fresh.test) == UIT{{0, 1, 201504}, {1, 0, 201504}, {1, 3, 201504}, {2, 2, 201504}});

  // Months 1 and 2.
  const Split two = snapshot_split(panel, kHandMonths, {.test_month = 3, .train_months = 2});
  CHECK(uit_of(two.train) == UIT{{0, 0, 201502}, {0, 0, 201503}, {0, 2, 201503}, {1, 1, 201502}, {1, 1, 201503}});
  CHECK(two.report == SplitReport{.train = 5, .test = 4});

  // A window as long as the history, or longer, or 0: every earlier month.
  const Split all = snapshot_split(panel, kHandMonths, {.test_month = 3});
  for (Index w : {0, 3, 4, 1000}) {
    CAPTURE(w);
    const Split s = snapshot_split(panel, kHandMonths, {.test_month = 3, .target = NewItems::not_in_train, .train_months = w});
    CHECK(s.train == all.train);
    CHECK(s.report.test == 3);
  }
}

TEST_CASE("snapshot_split: invalid input throws") {
  using namespace recmix::split;
  using recmix::invalid_argument;
  const Panel panel = hand_panel();
  SUBCASE("month_times of the wrong size") {
    const std::vector<Timestamp> three = {201501, 201502, 201503};
    CHECK_THROWS_WITH_AS((void)snapshot_split(panel, three, {.test_month = 2}), doctest::Contains("month_times has 3"),
                         invalid_argument);
    const std::vector<Timestamp> five = {1, 2, 3, 4, 5};
    CHECK_THROWS_AS((void)snapshot_split(panel, five, {.test_month = 2}), invalid_argument);
  }
  SUBCASE("month_times not strictly increasing (unsorted timestamps)") {
    const std::vector<Timestamp> unsorted = {201501, 201503, 201502, 201504};
    CHECK_THROWS_WITH_AS((void)snapshot_split(panel, unsorted, {.test_month = 3}), doctest::Contains("increase strictly"),
                         invalid_argument);
    const std::vector<Timestamp> repeated = {201501, 201502, 201502, 201504};
    CHECK_THROWS_AS((void)snapshot_split(panel, repeated, {.test_month = 3}), invalid_argument);
    const std::vector<Timestamp> reversed = {4, 3, 2, 1};
    CHECK_THROWS_AS((void)snapshot_split(panel, reversed, {.test_month = 1}), invalid_argument);
  }
  SUBCASE("test_month out of range") {
    CHECK_THROWS_WITH_AS((void)snapshot_split(panel, kHandMonths, {.test_month = 0}), doctest::Contains("test_month 0"),
                         invalid_argument);
    CHECK_THROWS_AS((void)snapshot_split(panel, kHandMonths, {.test_month = 4}), invalid_argument);
    CHECK_THROWS_AS((void)snapshot_split(panel, kHandMonths, {.test_month = -1}), invalid_argument);
    CHECK_NOTHROW((void)snapshot_split(panel, kHandMonths, {.test_month = 1}));
  }
  SUBCASE("negative train_months") {
    CHECK_THROWS_WITH_AS((void)snapshot_split(panel, kHandMonths, {.test_month = 3, .train_months = -1}),
                         doctest::Contains("train_months"), invalid_argument);
  }
  SUBCASE("a panel value that is not 0 or 1") {
    Panel bad = panel;
    bad(1, 2, 3) = 2;
    CHECK_THROWS_WITH_AS((void)snapshot_split(bad, kHandMonths, {.test_month = 3}),
                         doctest::Contains("month 1, user 2, item 3"), invalid_argument);
    Panel bad_test = panel;
    bad_test(3, 0, 0) = 2;
    CHECK_THROWS_AS((void)snapshot_split(bad_test, kHandMonths, {.test_month = 3}), invalid_argument);
    Panel bad_previous = panel;
    bad_previous(2, 1, 1) = 255;
    CHECK_THROWS_AS((void)snapshot_split(bad_previous, kHandMonths, {.test_month = 3, .train_months = 1}),
                    invalid_argument);
  }
  SUBCASE("a panel with one month has no valid test month") {
    const Panel single = zero_panel(1, 2, 2);
    const std::vector<Timestamp> one = {7};
    CHECK_THROWS_AS((void)snapshot_split(single, one, {.test_month = 1}), invalid_argument);
  }
}

TEST_CASE("snapshot_split: random panels against the definitions") {
  using namespace recmix::split;
  constexpr std::size_t M = 6, U = 25, I = 8;
  const std::vector<Timestamp> month_times = {-30, -2, 0, 31, 59, 1000};
  for (std::uint64_t seed : kSeeds) {
    // Holdings persist with probability 0.75 from month to month.
    recmix::Rng rng(seed);
    Panel panel = zero_panel(M, U, I);
    for (std::size_t u = 0; u < U; ++u) {
      for (std::size_t i = 0; i < I; ++i) {
        for (std::size_t m = 0; m < M; ++m) {
          const bool keep = m > 0 && rng.uniform() < 0.75;
          panel(m, u, i) = keep ? panel(m - 1, u, i) : (rng.uniform() < 0.3 ? 1 : 0);
        }
      }
    }
    for (std::size_t t = 1; t < M; ++t) {
      for (Index window : {0, 1, 2, 5}) {
        for (NewItems target : {NewItems::added_since_previous, NewItems::not_in_train}) {
          CAPTURE(seed);
          CAPTURE(t);
          CAPTURE(window);
          CAPTURE(target == NewItems::not_in_train);
          const std::size_t first = window == 0 || static_cast<std::size_t>(window) >= t ? 0 : t - static_cast<std::size_t>(window);
          std::vector<Event> want_train, want_test;
          std::vector<float> months_held(U * I, 0.0f);
          for (std::size_t m = first; m < t; ++m) {
            for (std::size_t u = 0; u < U; ++u) {
              for (std::size_t i = 0; i < I; ++i) {
                if (panel(m, u, i) == 0) continue;
                want_train.push_back({static_cast<Index>(u), static_cast<Index>(i), month_times[m], 1.0f});
                months_held[u * I + i] += 1.0f;
              }
            }
          }
          for (std::size_t u = 0; u < U; ++u) {
            for (std::size_t i = 0; i < I; ++i) {
              if (panel(t, u, i) == 0) continue;
              bool is_new = false;
              if (target == NewItems::added_since_previous) {
                is_new = panel(t - 1, u, i) == 0;
              } else {
                is_new = months_held[u * I + i] == 0.0f;
              }
              if (is_new) want_test.push_back({static_cast<Index>(u), static_cast<Index>(i), month_times[t], 1.0f});
            }
          }
          const Split s = snapshot_split(panel, month_times, {.test_month = static_cast<Index>(t), .target = target,
                                                              .train_months = window});
          CHECK(sorted(events_of(s.train)) == sorted(want_train));
          CHECK(sorted(events_of(s.test)) == sorted(want_test));
          CHECK(s.report == SplitReport{.train = want_train.size(), .test = want_test.size()});
          const InteractionMatrix held = s.train.to_matrix();
          for (std::size_t u = 0; u < U; ++u) {
            const auto row = held.row(static_cast<Index>(u));
            for (std::size_t k = 0; k < row.size(); ++k) {
              CHECK(row.values[k] == months_held[u * I + static_cast<std::size_t>(row.indices[k])]);
            }
            const auto held_items = static_cast<std::size_t>(
                std::count_if(months_held.begin() + static_cast<std::ptrdiff_t>(u * I),
                              months_held.begin() + static_cast<std::ptrdiff_t>((u + 1) * I), [](float v) { return v > 0.0f; }));
            CHECK(row.size() == held_items);
          }
        }
      }
    }
  }
}
