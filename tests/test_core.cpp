// Unit tests of the core layer: IdMap, InteractionMatrix, UserBatch, TopK, the generic
// recommend(), the Recommender concept, thread resolution and the progress bar.

#include <doctest/doctest.h>

#include "test_support.hpp"

#include <recmix/core/errors.hpp>
#include <recmix/core/id_map.hpp>
#include <recmix/core/interaction_matrix.hpp>
#include <recmix/core/observer.hpp>
#include <recmix/core/recommend.hpp>
#include <recmix/core/recommender.hpp>
#include <recmix/core/threads.hpp>
#include <recmix/core/topk.hpp>
#include <recmix/core/types.hpp>
#include <recmix/core/user_batch.hpp>

#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using recmix::Index;
using recmix::InteractionMatrix;
using recmix::Offset;
using recmix::RowMatrixXf;
using recmix::UserBatch;

namespace {

using recmix::test::random_matrix;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <class T>
std::vector<T> to_vector(std::span<const T> s) {
  return std::vector<T>(s.begin(), s.end());
}

void check_same_matrix(const InteractionMatrix& a, const InteractionMatrix& b) {
  CHECK(a.rows() == b.rows());
  CHECK(a.cols() == b.cols());
  CHECK(a.nnz() == b.nnz());
  CHECK(to_vector(a.indptr()) == to_vector(b.indptr()));
  CHECK(to_vector(a.indices()) == to_vector(b.indices()));
  CHECK(to_vector(a.values()) == to_vector(b.values()));
}

/// The 3 x 4 example used by several tests, built from unsorted triplets with duplicates:
///   row 0: item 2 -> 2 + 3 = 5
///   row 1: item 0 -> 0.5, item 3 -> 1 + 0.25 = 1.25
///   row 2: item 1 -> 4
InteractionMatrix hand_matrix() {
  const std::vector<Index> users = {1, 0, 1, 0, 2, 1};
  const std::vector<Index> items = {3, 2, 0, 2, 1, 3};
  const std::vector<float> weights = {1.0f, 2.0f, 0.5f, 3.0f, 4.0f, 0.25f};
  return InteractionMatrix::from_triplets(3, 4, users, items, weights);
}

// ---- IdMap key helpers -------------------------------------------------------------------------

template <class Key>
Key key_of(int n);
template <>
std::int64_t key_of<std::int64_t>(int n) {
  return 1000000007LL * (n + 1) - 3;  // large, non-contiguous customer numbers
}
template <>
std::string key_of<std::string>(int n) {
  return "sku_" + std::to_string(100 - n);
}

}  // namespace

// ================================================================================================
// IdMap
// ================================================================================================

TEST_CASE_TEMPLATE("IdMap: insert order, repeats, lookups", Key, std::int64_t, std::string) {
  recmix::IdMap<Key> map;
  CHECK(map.empty());
  CHECK(map.size() == 0);

  CHECK(map.insert(key_of<Key>(5)) == 0);
  CHECK(map.insert(key_of<Key>(2)) == 1);
  CHECK(map.insert(key_of<Key>(9)) == 2);
  // Repeat inserts return the original index and do not grow the map.
  CHECK(map.insert(key_of<Key>(2)) == 1);
  CHECK(map.insert(key_of<Key>(5)) == 0);
  CHECK(map.size() == 3);
  CHECK_FALSE(map.empty());

  CHECK(map.at(key_of<Key>(9)) == 2);
  CHECK(map.id(0) == key_of<Key>(5));
  CHECK(map.id(1) == key_of<Key>(2));
  CHECK(map.id(2) == key_of<Key>(9));
  CHECK(map.ids() == std::vector<Key>{key_of<Key>(5), key_of<Key>(2), key_of<Key>(9)});
  CHECK(map.contains(key_of<Key>(2)));
  CHECK_FALSE(map.contains(key_of<Key>(3)));
  REQUIRE(map.find(key_of<Key>(9)).has_value());
  CHECK(*map.find(key_of<Key>(9)) == 2);
  CHECK_FALSE(map.find(key_of<Key>(3)).has_value());

  CHECK_THROWS_AS((void)map.at(key_of<Key>(3)), recmix::invalid_argument);
  CHECK_THROWS_AS((void)map.id(3), recmix::invalid_argument);
  CHECK_THROWS_AS((void)map.id(-1), recmix::invalid_argument);
  // A failed lookup leaves the map as it was.
  CHECK(map.size() == 3);
}

TEST_CASE_TEMPLATE("IdMap: construction from a vector", Key, std::int64_t, std::string) {
  const std::vector<Key> ids = {key_of<Key>(7), key_of<Key>(1), key_of<Key>(4)};
  const recmix::IdMap<Key> map(ids);
  CHECK(map.size() == 3);
  CHECK(map.at(key_of<Key>(7)) == 0);
  CHECK(map.at(key_of<Key>(1)) == 1);
  CHECK(map.at(key_of<Key>(4)) == 2);
  CHECK(map.ids() == ids);

  const std::vector<Key> dup = {key_of<Key>(7), key_of<Key>(1), key_of<Key>(7)};
  CHECK_THROWS_AS(recmix::IdMap<Key>{dup}, recmix::invalid_argument);
}

TEST_CASE("IdMap: the unknown-id message names the id") {
  recmix::IdMap<std::string> map;
  map.insert("ind_cco_fin_ult1");
  CHECK_THROWS_WITH_AS((void)map.at("ind_recibo_ult1"), doctest::Contains("ind_recibo_ult1"), recmix::invalid_argument);
  recmix::IdMap<std::int64_t> numbers;
  numbers.insert(15889);
  CHECK_THROWS_WITH_AS((void)numbers.at(1170544), doctest::Contains("1170544"), recmix::invalid_argument);
}

TEST_CASE("recmix exceptions derive from recmix::error and std::runtime_error") {
  static_assert(std::is_base_of_v<recmix::error, recmix::invalid_argument>);
  static_assert(std::is_base_of_v<recmix::error, recmix::not_fitted>);
  static_assert(std::is_base_of_v<std::runtime_error, recmix::error>);
  const recmix::parse_error e("data.csv", 3, 7, "bad number");
  CHECK(std::string(e.what()) == "data.csv:3:7: bad number");
  CHECK(e.line() == 3);
  CHECK(e.column() == 7);
  CHECK(e.source() == "data.csv");
}

// ================================================================================================
// InteractionMatrix
// ================================================================================================

TEST_CASE("InteractionMatrix: empty constructors") {
  const InteractionMatrix empty;
  CHECK(empty.rows() == 0);
  CHECK(empty.cols() == 0);
  CHECK(empty.nnz() == 0);
  const InteractionMatrix blank(3, 5);
  CHECK(blank.rows() == 3);
  CHECK(blank.cols() == 5);
  CHECK(blank.nnz() == 0);
  CHECK(blank.row(2).empty());
  CHECK(to_vector(blank.indptr()) == std::vector<Offset>{0, 0, 0, 0});
  CHECK_THROWS_AS(InteractionMatrix(-1, 5), recmix::invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix(3, -2), recmix::invalid_argument);
}

TEST_CASE("InteractionMatrix::from_triplets: duplicates summed, rows sorted") {
  const InteractionMatrix m = hand_matrix();
  CHECK(m.rows() == 3);
  CHECK(m.cols() == 4);
  CHECK(m.nnz() == 4);
  CHECK(to_vector(m.indptr()) == std::vector<Offset>{0, 1, 3, 4});
  CHECK(to_vector(m.indices()) == std::vector<Index>{2, 0, 3, 1});
  CHECK(to_vector(m.values()) == std::vector<float>{5.0f, 0.5f, 1.25f, 4.0f});
  CHECK(m.row_nnz(0) == 1);
  CHECK(m.row_nnz(1) == 2);
  CHECK(m.row_lengths() == std::vector<std::int64_t>{1, 2, 1});
  const recmix::SparseRow r1 = m.row(1);
  REQUIRE(r1.size() == 2);
  CHECK(r1.indices[0] == 0);
  CHECK(r1.indices[1] == 3);
  CHECK(r1.values[0] == 0.5f);
  CHECK(r1.values[1] == 1.25f);
  CHECK(m.memory_bytes() == 4 * sizeof(Offset) + 4 * sizeof(Index) + 4 * sizeof(float));
}

TEST_CASE("InteractionMatrix::from_triplets: empty rows, many duplicates, nothing at all") {
  // Row 1 has nothing; row 2 gets the same item five times.
  const std::vector<Index> users = {2, 2, 0, 2, 2, 2};
  const std::vector<Index> items = {1, 1, 3, 1, 1, 1};
  const std::vector<float> weights = {1, 2, 3, 4, 5, 6};
  const auto m = InteractionMatrix::from_triplets(4, 5, users, items, weights);
  CHECK(to_vector(m.indptr()) == std::vector<Offset>{0, 1, 1, 2, 2});
  CHECK(to_vector(m.indices()) == std::vector<Index>{3, 1});
  CHECK(to_vector(m.values()) == std::vector<float>{3.0f, 18.0f});

  const auto none = InteractionMatrix::from_triplets(2, 2, {}, {}, {});
  CHECK(none.rows() == 2);
  CHECK(none.nnz() == 0);
}

TEST_CASE("InteractionMatrix::from_triplets: invalid input throws") {
  const std::vector<Index> u = {0, 1};
  const std::vector<Index> i = {1, 0};
  const std::vector<float> w = {1.0f, 2.0f};
  using recmix::invalid_argument;
  // out-of-range user / item
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(1, 2, u, i, w), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 1, u, i, w), invalid_argument);
  const std::vector<Index> neg = {0, -1};
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, neg, i, w), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, neg, w), invalid_argument);
  // negative shape
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(-1, 2, {}, {}, {}), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, -1, {}, {}, {}), invalid_argument);
  // mismatched lengths
  const std::vector<float> w1 = {1.0f};
  const std::vector<Index> i3 = {0, 1, 1};
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, i, w1), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, i3, w), invalid_argument);
  // non-finite weights
  const std::vector<float> wnan = {1.0f, kNaN};
  const std::vector<float> winf = {kInf, 1.0f};
  const std::vector<float> wninf = {1.0f, -kInf};
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, i, wnan), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, i, winf), invalid_argument);
  CHECK_THROWS_AS(InteractionMatrix::from_triplets(2, 2, u, i, wninf), invalid_argument);
  // The message names what is wrong.
  CHECK_THROWS_WITH_AS(InteractionMatrix::from_triplets(1, 2, u, i, w), doctest::Contains("user 1"), invalid_argument);
}

TEST_CASE("InteractionMatrix CSR constructor: valid input is adopted") {
  const InteractionMatrix m(3, 4, {0, 1, 3, 4}, {2, 0, 3, 1}, {5.0f, 0.5f, 1.25f, 4.0f});
  check_same_matrix(m, hand_matrix());
  // Explicit zeros and negative weights are allowed at this level (models decide).
  const InteractionMatrix z(1, 3, {0, 2}, {0, 2}, {0.0f, -1.0f});
  CHECK(z.nnz() == 2);
  // Zero rows.
  const InteractionMatrix e(0, 3, {0}, {}, {});
  CHECK(e.rows() == 0);
}

TEST_CASE("InteractionMatrix CSR constructor: every validation path throws") {
  using recmix::invalid_argument;
  SUBCASE("indptr of the wrong size") {
    CHECK_THROWS_WITH_AS(InteractionMatrix(3, 4, {0, 1, 2}, {0, 1}, {1.0f, 1.0f}), doctest::Contains("indptr has"),
                         invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 1, 2}, {0, 1}, {1.0f, 1.0f}), invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {}, {}, {}), invalid_argument);
  }
  SUBCASE("indptr[0] != 0") {
    CHECK_THROWS_WITH_AS(InteractionMatrix(2, 4, {1, 1, 2}, {0, 1}, {1.0f, 1.0f}), doctest::Contains("indptr[0]"),
                         invalid_argument);
  }
  SUBCASE("decreasing indptr") {
    // Row 0 claims two entries although only one exists: must be caught before row 0 is read.
    CHECK_THROWS_WITH_AS(InteractionMatrix(2, 4, {0, 2, 1}, {0}, {1.0f}), doctest::Contains("decreases"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(InteractionMatrix(3, 4, {0, 1, 0, 1}, {2}, {1.0f}), doctest::Contains("decreases"),
                         invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(2, 4, {0, -1, 0}, {}, {}), invalid_argument);
  }
  SUBCASE("column out of range") {
    CHECK_THROWS_WITH_AS(InteractionMatrix(1, 4, {0, 2}, {0, 4}, {1.0f, 1.0f}), doctest::Contains("out of range"),
                         invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 1}, {-1}, {1.0f}), invalid_argument);
  }
  SUBCASE("unsorted or duplicate columns in a row") {
    CHECK_THROWS_WITH_AS(InteractionMatrix(1, 4, {0, 2}, {3, 1}, {1.0f, 1.0f}), doctest::Contains("strictly increasing"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(InteractionMatrix(1, 4, {0, 2}, {2, 2}, {1.0f, 1.0f}), doctest::Contains("strictly increasing"),
                         invalid_argument);
    // Sorted within rows but not across them is fine.
    CHECK_NOTHROW(InteractionMatrix(2, 4, {0, 1, 2}, {3, 1}, {1.0f, 1.0f}));
  }
  SUBCASE("non-finite value") {
    CHECK_THROWS_WITH_AS(InteractionMatrix(1, 4, {0, 2}, {0, 1}, {1.0f, kNaN}), doctest::Contains("non-finite"),
                         invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 1}, {0}, {kInf}), invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 1}, {0}, {-kInf}), invalid_argument);
  }
  SUBCASE("indices / values / indptr sizes disagree") {
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 2}, {0, 1}, {1.0f}), invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 2}, {0}, {1.0f, 1.0f}), invalid_argument);
    CHECK_THROWS_AS(InteractionMatrix(1, 4, {0, 1}, {0, 1}, {1.0f, 1.0f}), invalid_argument);
  }
  SUBCASE("negative shape") {
    CHECK_THROWS_AS(InteractionMatrix(-1, 4, {0}, {}, {}), invalid_argument);
  }
}

TEST_CASE("InteractionMatrix::transpose") {
  const InteractionMatrix m = hand_matrix();
  const InteractionMatrix t = m.transpose();
  CHECK(t.rows() == 4);
  CHECK(t.cols() == 3);
  CHECK(to_vector(t.indptr()) == std::vector<Offset>{0, 1, 2, 3, 4});
  CHECK(to_vector(t.indices()) == std::vector<Index>{1, 2, 0, 1});
  CHECK(to_vector(t.values()) == std::vector<float>{0.5f, 4.0f, 5.0f, 1.25f});
  check_same_matrix(t.transpose(), m);

  // A bigger random one: transposing twice is the identity and entries land where they should.
  const InteractionMatrix r = random_matrix(37, 23, 0.2, 7);
  const InteractionMatrix rt = r.transpose();
  check_same_matrix(rt.transpose(), r);
  const auto dense = Eigen::MatrixXf(r.to_eigen());
  const auto dense_t = Eigen::MatrixXf(rt.to_eigen());
  CHECK(dense.transpose() == dense_t);
  // The result is itself a valid CSR matrix (rows sorted).
  CHECK_NOTHROW(InteractionMatrix(rt.rows(), rt.cols(), to_vector(rt.indptr()), to_vector(rt.indices()),
                                  to_vector(rt.values())));
}

TEST_CASE("InteractionMatrix::select_rows") {
  const InteractionMatrix m = hand_matrix();
  const std::vector<Index> pick = {2, 0, 2, 1};
  const InteractionMatrix s = m.select_rows(pick);
  CHECK(s.rows() == 4);
  CHECK(s.cols() == 4);
  CHECK(to_vector(s.indptr()) == std::vector<Offset>{0, 1, 2, 3, 5});
  CHECK(to_vector(s.indices()) == std::vector<Index>{1, 2, 1, 0, 3});
  CHECK(to_vector(s.values()) == std::vector<float>{4.0f, 5.0f, 4.0f, 0.5f, 1.25f});

  const InteractionMatrix none = m.select_rows(std::vector<Index>{});
  CHECK(none.rows() == 0);
  CHECK(none.cols() == 4);

  CHECK_THROWS_AS((void)m.select_rows(std::vector<Index>{0, 3}), recmix::invalid_argument);
  CHECK_THROWS_AS((void)m.select_rows(std::vector<Index>{-1}), recmix::invalid_argument);
}

TEST_CASE("InteractionMatrix: to_eigen / from_eigen round trip") {
  const InteractionMatrix m = hand_matrix();
  const auto e = m.to_eigen();
  CHECK(e.rows() == 3);
  CHECK(e.cols() == 4);
  CHECK(e.nonZeros() == 4);
  CHECK(e.coeff(0, 2) == 5.0f);
  CHECK(e.coeff(1, 0) == 0.5f);
  CHECK(e.coeff(1, 3) == 1.25f);
  CHECK(e.coeff(2, 1) == 4.0f);
  CHECK(e.coeff(2, 2) == 0.0f);
  check_same_matrix(InteractionMatrix::from_eigen(e), m);

  // From a column-major double matrix with an explicit zero, which is kept.
  Eigen::SparseMatrix<double> cm(2, 3);
  cm.insert(1, 2) = 2.5;
  cm.insert(0, 1) = 0.0;
  cm.insert(1, 0) = 1.0;
  cm.makeCompressed();
  const auto fm = InteractionMatrix::from_eigen(cm);
  CHECK(fm.rows() == 2);
  CHECK(fm.cols() == 3);
  CHECK(to_vector(fm.indptr()) == std::vector<Offset>{0, 1, 3});
  CHECK(to_vector(fm.indices()) == std::vector<Index>{1, 0, 2});
  CHECK(to_vector(fm.values()) == std::vector<float>{0.0f, 1.0f, 2.5f});

  const InteractionMatrix r = random_matrix(19, 31, 0.15, 11);
  check_same_matrix(InteractionMatrix::from_eigen(r.to_eigen()), r);

  // Empty shapes survive too.
  const InteractionMatrix blank(2, 0);
  const auto be = blank.to_eigen();
  CHECK(be.rows() == 2);
  CHECK(be.cols() == 0);
  check_same_matrix(InteractionMatrix::from_eigen(be), blank);

  // Non-finite values in an Eigen matrix are refused.
  Eigen::SparseMatrix<float> bad(1, 1);
  bad.insert(0, 0) = kNaN;
  CHECK_THROWS_AS(InteractionMatrix::from_eigen(bad), recmix::invalid_argument);
}

TEST_CASE("build_interactions: ids in order of first appearance") {
  const std::vector<std::int64_t> customers = {15889, 15889, 1170544, 42, 1170544, 15889};
  const std::vector<std::string> products = {"cco", "recibo", "cco", "nomina", "cco", "recibo"};
  const std::vector<float> months = {12, 3, 7, 1, 2, 4};
  const auto data = recmix::build_interactions<std::int64_t, std::string>(customers, products, months);
  CHECK(data.users.ids() == std::vector<std::int64_t>{15889, 1170544, 42});
  CHECK(data.items.ids() == std::vector<std::string>{"cco", "recibo", "nomina"});
  const InteractionMatrix& m = data.matrix;
  CHECK(m.rows() == 3);
  CHECK(m.cols() == 3);
  CHECK(m.nnz() == 4);
  CHECK(to_vector(m.indptr()) == std::vector<Offset>{0, 2, 3, 4});
  CHECK(to_vector(m.indices()) == std::vector<Index>{0, 1, 0, 2});
  CHECK(to_vector(m.values()) == std::vector<float>{12.0f, 7.0f, 9.0f, 1.0f});
  const auto row = m.row(data.users.at(1170544));
  REQUIRE(row.size() == 1);
  CHECK(row.indices[0] == data.items.at("cco"));
  CHECK(row.values[0] == 9.0f);

  // The other way round: string users, int64 items.
  const std::vector<std::string> names = {"b", "a", "b"};
  const std::vector<std::int64_t> skus = {900, 900, 100};
  const std::vector<float> ones = {1, 1, 1};
  const auto d2 = recmix::build_interactions<std::string, std::int64_t>(names, skus, ones);
  CHECK(d2.users.ids() == std::vector<std::string>{"b", "a"});
  CHECK(d2.items.ids() == std::vector<std::int64_t>{900, 100});
  CHECK(to_vector(d2.matrix.indices()) == std::vector<Index>{0, 1, 0});

  const std::vector<float> short_weights = {1, 1};
  CHECK_THROWS_AS((recmix::build_interactions<std::string, std::int64_t>(names, skus, short_weights)),
                  recmix::invalid_argument);
  const std::vector<float> nan_weights = {1, kNaN, 1};
  CHECK_THROWS_AS((recmix::build_interactions<std::string, std::int64_t>(names, skus, nan_weights)),
                  recmix::invalid_argument);
}

// ================================================================================================
// UserBatch
// ================================================================================================

TEST_CASE("UserBatch: aligned history must match the batch") {
  const InteractionMatrix m = hand_matrix();  // 3 rows
  const std::vector<Index> two = {0, 1};
  CHECK_THROWS_AS(UserBatch(two, &m), recmix::invalid_argument);
  CHECK_THROWS_AS(UserBatch(two, &m, recmix::HistoryRows::aligned), recmix::invalid_argument);
  // by_user_id takes the training matrix whatever its size.
  CHECK_NOTHROW(UserBatch(two, &m, recmix::HistoryRows::by_user_id));
  // No history at all.
  const UserBatch bare(two);
  CHECK(bare.size() == 2);
  CHECK(bare.history() == nullptr);
  CHECK(bare.history_row(1).empty());
  CHECK(bare.features().rows() == 0);
  CHECK(bare.features().cols() == 0);
}

TEST_CASE("UserBatch: slice offsets aligned history rows") {
  const InteractionMatrix m = hand_matrix();
  const std::vector<Index> users = {7, recmix::kNewUser, 3};
  const UserBatch batch(users, &m);
  CHECK(batch.history_mode() == recmix::HistoryRows::aligned);
  CHECK(batch.history_row(0).indices[0] == 2);

  const UserBatch tail = batch.slice(1, 3);
  CHECK(tail.size() == 2);
  CHECK(tail.users()[0] == recmix::kNewUser);
  CHECK(tail.users()[1] == 3);
  // Batch row 0 of the slice is history row 1.
  CHECK(to_vector(tail.history_row(0).indices) == std::vector<Index>{0, 3});
  CHECK(to_vector(tail.history_row(1).indices) == std::vector<Index>{1});

  // Slices of slices keep adding offsets.
  const UserBatch last = tail.slice(1, 2);
  CHECK(last.size() == 1);
  CHECK(last.users()[0] == 3);
  CHECK(to_vector(last.history_row(0).indices) == std::vector<Index>{1});
  CHECK(to_vector(last.history_row(0).values) == std::vector<float>{4.0f});

  const UserBatch empty = batch.slice(2, 2);
  CHECK(empty.size() == 0);

  CHECK_THROWS_AS((void)batch.slice(-1, 2), recmix::invalid_argument);
  CHECK_THROWS_AS((void)batch.slice(2, 1), recmix::invalid_argument);
  CHECK_THROWS_AS((void)batch.slice(0, 4), recmix::invalid_argument);
  CHECK_THROWS_AS((void)tail.slice(0, 3), recmix::invalid_argument);
}

TEST_CASE("UserBatch: by_user_id looks rows up by user, also after slicing") {
  const InteractionMatrix m = hand_matrix();
  const std::vector<Index> users = {2, recmix::kNewUser, 0, 5, 1};
  const UserBatch batch(users, &m, recmix::HistoryRows::by_user_id);
  CHECK(to_vector(batch.history_row(0).indices) == std::vector<Index>{1});
  CHECK(batch.history_row(1).empty());  // new user: no history
  CHECK(to_vector(batch.history_row(2).indices) == std::vector<Index>{2});
  CHECK(batch.history_row(3).empty());  // beyond the training rows: no history
  CHECK(to_vector(batch.history_row(4).indices) == std::vector<Index>{0, 3});

  const UserBatch s = batch.slice(2, 5);
  CHECK(s.history_mode() == recmix::HistoryRows::by_user_id);
  CHECK(to_vector(s.history_row(0).indices) == std::vector<Index>{2});
  CHECK(s.history_row(1).empty());
  CHECK(to_vector(s.history_row(2).indices) == std::vector<Index>{0, 3});
  CHECK(to_vector(s.slice(1, 3).history_row(1).indices) == std::vector<Index>{0, 3});
}

TEST_CASE("UserBatch: features view and sliced features") {
  const std::vector<Index> users = {0, 1, 2, 3};
  RowMatrixXf features(4, 3);
  features << 1, 2, 3,  //
      4, 5, 6,          //
      7, 8, 9,          //
      10, 11, 12;
  const UserBatch batch(users, nullptr, recmix::HistoryRows::aligned, features);
  CHECK(batch.features().rows() == 4);
  CHECK(batch.features().cols() == 3);
  CHECK(RowMatrixXf(batch.features()) == features);

  const UserBatch mid = batch.slice(1, 3);
  CHECK(mid.features().rows() == 2);
  CHECK(mid.features().cols() == 3);
  CHECK(RowMatrixXf(mid.features()) == features.middleRows(1, 2));
  const UserBatch one = mid.slice(1, 2);
  CHECK(RowMatrixXf(one.features()) == features.middleRows(2, 1));
  CHECK(batch.slice(4, 4).features().rows() == 0);

  // A feature table of the wrong height is refused.
  const RowMatrixXf three(3, 2);
  CHECK_THROWS_AS(UserBatch(users, nullptr, recmix::HistoryRows::aligned, three), recmix::invalid_argument);
  // Temporaries cannot be bound (the batch only keeps a view).
  static_assert(!std::is_constructible_v<UserBatch, std::span<const Index>, const InteractionMatrix*,
                                         recmix::HistoryRows, RowMatrixXf&&>);
}

// ================================================================================================
// TopK
// ================================================================================================

namespace {

struct Selection {
  std::vector<Index> items;
  std::vector<float> scores;
  Index filled = 0;
};

Selection run_scan(const std::vector<float>& s, Index k) {
  recmix::detail::TopK top(k);
  top.scan(s.data(), static_cast<Index>(s.size()));
  Selection out;
  out.items.assign(static_cast<std::size_t>(k), 99);
  out.scores.assign(static_cast<std::size_t>(k), 99.0f);
  out.filled = top.write(out.items.data(), out.scores.data());
  return out;
}

/// Reference: drop -inf and NaN, sort everything by (score desc, index asc), keep k.
std::vector<Index> reference_topk(const std::vector<float>& s, Index k) {
  std::vector<Index> idx;
  for (Index i = 0; i < static_cast<Index>(s.size()); ++i) {
    const float v = s[static_cast<std::size_t>(i)];
    if (!std::isnan(v) && v != -kInf) idx.push_back(i);
  }
  std::sort(idx.begin(), idx.end(), [&](Index a, Index b) {
    const float va = s[static_cast<std::size_t>(a)], vb = s[static_cast<std::size_t>(b)];
    return va > vb || (va == vb && a < b);
  });
  if (static_cast<Index>(idx.size()) > k) idx.resize(static_cast<std::size_t>(k));
  return idx;
}

}  // namespace

TEST_CASE("TopK: hand example with ties, -inf and NaN") {
  //                              0     1     2     3     4      5     6     7
  const std::vector<float> s = {0.1f, 0.9f, 0.5f, 0.9f, -kInf, kNaN, 0.5f, 0.7f};

  const Selection k4 = run_scan(s, 4);
  CHECK(k4.filled == 4);
  CHECK(k4.items == std::vector<Index>{1, 3, 7, 2});  // 0.9 tie -> 1 before 3; 0.5 tie -> 2 wins
  CHECK(k4.scores == std::vector<float>{0.9f, 0.9f, 0.7f, 0.5f});

  const Selection k1 = run_scan(s, 1);
  CHECK(k1.items == std::vector<Index>{1});

  const Selection k5 = run_scan(s, 5);
  CHECK(k5.items == std::vector<Index>{1, 3, 7, 2, 6});

  // Only six candidates are selectable: the rest is padded with -1 / NaN.
  const Selection k8 = run_scan(s, 8);
  CHECK(k8.filled == 6);
  CHECK(k8.items == std::vector<Index>{1, 3, 7, 2, 6, 0, -1, -1});
  CHECK(k8.scores[5] == 0.1f);
  CHECK(std::isnan(k8.scores[6]));
  CHECK(std::isnan(k8.scores[7]));

  // The same candidates offered one by one in reverse order give the same answer.
  recmix::detail::TopK top(4);
  for (Index i = 7; i >= 0; --i) top.push(s[static_cast<std::size_t>(i)], i);
  std::vector<Index> items(4);
  std::vector<float> scores(4);
  CHECK(top.write(items.data(), scores.data()) == 4);
  CHECK(items == std::vector<Index>{1, 3, 7, 2});
  // write() leaves the selector empty and reusable.
  CHECK(top.write(items.data(), scores.data()) == 0);
  CHECK(items == std::vector<Index>{-1, -1, -1, -1});

  // Offering a listed subset only.
  const std::vector<Index> subset = {6, 0, 4, 5, 2};
  top.scan(s.data(), std::span<const Index>(subset));
  CHECK(top.write(items.data(), scores.data()) == 3);
  CHECK(items == std::vector<Index>{2, 6, 0, -1});
}

TEST_CASE("TopK: nothing selectable, k = 0, +inf") {
  const std::vector<float> bad = {kNaN, -kInf, kNaN};
  const Selection none = run_scan(bad, 2);
  CHECK(none.filled == 0);
  CHECK(none.items == std::vector<Index>{-1, -1});
  CHECK(std::isnan(none.scores[0]));

  recmix::detail::TopK zero(0);
  const std::vector<float> s = {1.0f, 2.0f};
  zero.scan(s.data(), 2);
  zero.push(3.0f, 0);
  Index dummy_item = 5;
  float dummy_score = 5.0f;
  CHECK(zero.write(&dummy_item, &dummy_score) == 0);
  CHECK(dummy_item == 5);  // nothing written for k = 0

  const std::vector<float> inf = {1.0f, kInf, 3.0f, kInf};
  CHECK(run_scan(inf, 3).items == std::vector<Index>{1, 3, 2});
}

TEST_CASE("TopK: agrees with a full sort on random data") {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> level(0, 40);  // coarse levels, so ties are common
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    const Index n = trial == 0 ? 1 : static_cast<Index>(50 + 97 * trial);
    std::vector<float> s(static_cast<std::size_t>(n));
    for (auto& v : s) {
      const double p = u01(rng);
      if (p < 0.05) {
        v = kNaN;
      } else if (p < 0.10) {
        v = -kInf;
      } else if (p < 0.11) {
        v = kInf;
      } else {
        v = static_cast<float>(level(rng)) / 8.0f - 2.0f;
      }
    }
    for (Index k : {Index(1), Index(2), Index(5), Index(17), Index(64), n - 1, n, n + 7}) {
      if (k < 1) continue;
      CAPTURE(trial);
      CAPTURE(k);
      const std::vector<Index> want = reference_topk(s, k);
      const Selection got = run_scan(s, k);
      REQUIRE(got.filled == static_cast<Index>(want.size()));
      for (std::size_t j = 0; j < want.size(); ++j) {
        CHECK(got.items[j] == want[j]);
        CHECK(got.scores[j] == s[static_cast<std::size_t>(want[j])]);
      }
      for (std::size_t j = want.size(); j < static_cast<std::size_t>(k); ++j) {
        CHECK(got.items[j] == -1);
        CHECK(std::isnan(got.scores[j]));
      }
      // Offering the items as an explicit (shuffled) list gives the same selection.
      std::vector<Index> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      recmix::detail::TopK top(k);
      top.scan(s.data(), std::span<const Index>(order));
      std::vector<Index> items(static_cast<std::size_t>(k));
      std::vector<float> scores(static_cast<std::size_t>(k));
      top.write(items.data(), scores.data());
      CHECK(items == got.items);
    }
  }
}

// ================================================================================================
// The Recommender concept and recommend()
// ================================================================================================

namespace {

struct score_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Scores from a fixed users x items table (users outside it score 0 everywhere); `unknown`
/// cannot be scored; scoring `poison` throws score_failure.
struct TableModel {
  RowMatrixXf table;
  Index unknown = -100;
  Index poison = -100;

  [[nodiscard]] Index num_items() const { return static_cast<Index>(table.cols()); }
  void score(const UserBatch& batch, recmix::ScoreBlock out) const {
    for (Index r = 0; r < batch.size(); ++r) {
      const Index u = batch.users()[static_cast<std::size_t>(r)];
      if (u == poison) throw score_failure("TableModel: poisoned user");
      if (u >= 0 && u < table.rows()) {
        out.row(r) = table.row(u);
      } else {
        out.row(r).setZero();
      }
    }
  }
  void can_score(const UserBatch& batch, std::span<std::uint8_t> mask) const {
    for (Index r = 0; r < batch.size(); ++r) {
      const Index u = batch.users()[static_cast<std::size_t>(r)];
      mask[static_cast<std::size_t>(r)] = u != unknown ? 1 : 0;
    }
  }
};

struct MissingCanScore {
  [[nodiscard]] Index num_items() const { return 1; }
  void score(const UserBatch&, recmix::ScoreBlock) const {}
};

struct MissingNumItems {
  void score(const UserBatch&, recmix::ScoreBlock) const {}
  void can_score(const UserBatch&, std::span<std::uint8_t>) const {}
};

struct NonConstScore {
  [[nodiscard]] Index num_items() const { return 1; }
  void score(const UserBatch&, recmix::ScoreBlock) {}
  void can_score(const UserBatch&, std::span<std::uint8_t>) const {}
};

struct WrongScoreSignature {
  [[nodiscard]] Index num_items() const { return 1; }
  void score(const UserBatch&, std::vector<float>&) const {}
  void can_score(const UserBatch&, std::span<std::uint8_t>) const {}
};

static_assert(recmix::Recommender<TableModel>);
static_assert(!recmix::Recommender<MissingCanScore>);
static_assert(!recmix::Recommender<MissingNumItems>);
static_assert(!recmix::Recommender<NonConstScore>);
static_assert(!recmix::Recommender<WrongScoreSignature>);
static_assert(!recmix::Recommender<int>);

/// 4 users x 6 items. User 2 is unknown to the model.
TableModel hand_model() {
  TableModel m;
  m.table.resize(4, 6);
  m.table << 0.1f, 0.9f, 0.5f, 0.9f, 0.3f, 0.2f,  //
      0.6f, 0.1f, 0.8f, 0.2f, 0.7f, 0.4f,         //
      1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f,         //
      0.0f, -1.0f, 0.3f, 0.3f, 0.3f, 2.0f;
  m.unknown = 2;
  return m;
}

/// What each user holds: 0 -> {1}, 1 -> {2, 4}, 2 -> {0}, 3 -> {5}.
InteractionMatrix hand_history() {
  return InteractionMatrix(4, 6, {0, 1, 3, 4, 5}, {1, 2, 4, 0, 5}, {1.0f, 1.0f, 1.0f, 1.0f, 1.0f});
}

std::vector<Index> items_of(const recmix::Recommendations& r, Index row) {
  return std::vector<Index>(r.items.row(row).data(), r.items.row(row).data() + r.items.cols());
}

bool same_scores(const RowMatrixXf& a, const RowMatrixXf& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    const float x = a.data()[i], y = b.data()[i];
    if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
  }
  return true;
}

void check_same_recommendations(const recmix::Recommendations& a, const recmix::Recommendations& b) {
  CHECK(a.items == b.items);
  CHECK(same_scores(a.scores, b.scores));
}

}  // namespace

TEST_CASE("recommend: exclude_history on a hand table") {
  const TableModel model = hand_model();
  const InteractionMatrix hist = hand_history();
  const std::vector<Index> users = {0, 1, 2, 3};
  const UserBatch batch(users, &hist, recmix::HistoryRows::by_user_id);

  const auto top = recmix::recommend(model, batch, 3);
  CHECK(top.users() == 4);
  CHECK(top.k() == 3);
  CHECK(items_of(top, 0) == std::vector<Index>{3, 2, 4});
  CHECK(items_of(top, 1) == std::vector<Index>{0, 5, 3});
  CHECK(items_of(top, 2) == std::vector<Index>{-1, -1, -1});  // can_score == 0
  CHECK(items_of(top, 3) == std::vector<Index>{2, 3, 4});     // 0.3 three-way tie
  CHECK(top.scores(0, 0) == 0.9f);
  CHECK(top.scores(0, 1) == 0.5f);
  CHECK(top.scores(0, 2) == 0.3f);
  CHECK(std::isnan(top.scores(2, 0)));
  CHECK(top.row(2).empty());
  CHECK(top.row(0).size() == 3);

  const auto keep = recmix::recommend(model, batch, 3, {.exclude_history = false});
  CHECK(items_of(keep, 0) == std::vector<Index>{1, 3, 2});
  CHECK(items_of(keep, 1) == std::vector<Index>{2, 4, 0});
  CHECK(items_of(keep, 2) == std::vector<Index>{-1, -1, -1});
  CHECK(items_of(keep, 3) == std::vector<Index>{5, 2, 3});

  // More slots than items: the rest is padding.
  const auto wide = recmix::recommend(model, batch, 8);
  CHECK(items_of(wide, 0) == std::vector<Index>{3, 2, 4, 5, 0, -1, -1, -1});
  CHECK(wide.row(1).size() == 4);
  CHECK(std::isnan(wide.scores(0, 5)));

  // Aligned history (the rows in batch order) gives the same answer as by_user_id.
  const std::vector<Index> shuffled = {3, 0, 2, 1};
  const InteractionMatrix aligned = hist.select_rows(shuffled);
  const UserBatch b2(shuffled, &aligned);
  const auto top2 = recmix::recommend(model, b2, 3, {.block_users = 1});
  CHECK(items_of(top2, 0) == items_of(top, 3));
  CHECK(items_of(top2, 1) == items_of(top, 0));
  CHECK(items_of(top2, 3) == items_of(top, 1));

  // Without history nothing is excluded even when asked.
  const UserBatch bare(users);
  const auto top3 = recmix::recommend(model, bare, 3);
  CHECK(top3.items == keep.items);
}

TEST_CASE("recommend: allow_items and deny_items") {
  const TableModel model = hand_model();
  const InteractionMatrix hist = hand_history();
  const std::vector<Index> users = {0, 1, 2, 3};
  const UserBatch batch(users, &hist, recmix::HistoryRows::by_user_id);

  const std::vector<Index> allow = {0, 3, 5};
  const auto a = recmix::recommend(model, batch, 3, {.allow_items = allow});
  CHECK(items_of(a, 0) == std::vector<Index>{3, 5, 0});
  CHECK(items_of(a, 1) == std::vector<Index>{0, 5, 3});
  CHECK(items_of(a, 2) == std::vector<Index>{-1, -1, -1});
  CHECK(items_of(a, 3) == std::vector<Index>{3, 0, -1});  // 5 is held

  const std::vector<Index> deny = {3, 0};
  const auto d = recmix::recommend(model, batch, 3, {.deny_items = deny});
  CHECK(items_of(d, 0) == std::vector<Index>{2, 4, 5});
  CHECK(items_of(d, 1) == std::vector<Index>{5, 1, -1});
  CHECK(items_of(d, 3) == std::vector<Index>{2, 4, 1});

  // deny wins over allow.
  const std::vector<Index> deny3 = {3};
  const auto ad = recmix::recommend(model, batch, 3, {.allow_items = allow, .deny_items = deny3});
  CHECK(items_of(ad, 0) == std::vector<Index>{5, 0, -1});

  // An item listed twice in allow_items is still recommended once.
  const std::vector<Index> twice = {3, 3, 0, 3};
  const auto t = recmix::recommend(model, batch, 3, {.allow_items = twice});
  CHECK(items_of(t, 0) == std::vector<Index>{3, 0, -1});
  CHECK(items_of(t, 3) == std::vector<Index>{3, 0, -1});

  // The same with exclude_history off.
  const auto t2 = recmix::recommend(model, batch, 4, {.exclude_history = false, .allow_items = twice});
  CHECK(items_of(t2, 1) == std::vector<Index>{0, 3, -1, -1});
}

TEST_CASE("recommend: invalid arguments throw") {
  const TableModel model = hand_model();
  const InteractionMatrix hist = hand_history();
  const std::vector<Index> users = {0, 1, 2, 3};
  const UserBatch batch(users, &hist, recmix::HistoryRows::by_user_id);
  using recmix::invalid_argument;

  CHECK_THROWS_AS(recmix::recommend(model, batch, 0), invalid_argument);
  CHECK_THROWS_AS(recmix::recommend(model, batch, -3), invalid_argument);
  const std::vector<Index> six = {1, 6};
  const std::vector<Index> minus = {-1};
  CHECK_THROWS_WITH_AS(recmix::recommend(model, batch, 2, {.allow_items = six}), doctest::Contains("allow_items"),
                       invalid_argument);
  CHECK_THROWS_AS(recmix::recommend(model, batch, 2, {.allow_items = minus}), invalid_argument);
  CHECK_THROWS_WITH_AS(recmix::recommend(model, batch, 2, {.deny_items = six}), doctest::Contains("deny_items"),
                       invalid_argument);
  CHECK_THROWS_AS(recmix::recommend(model, batch, 2, {.deny_items = minus}), invalid_argument);
  // block_users = 0 picks a size automatically; negative sizes are refused.
  CHECK_THROWS_AS(recmix::recommend(model, batch, 2, {.block_users = -1}), invalid_argument);
  CHECK_THROWS_AS(recmix::recommend(model, batch, 2, {.block_users = -5}), invalid_argument);
  CHECK_THROWS_AS(recmix::recommend(model, batch, 2, {.threads = -1}), invalid_argument);
}

TEST_CASE("recommend: result independent of block size and thread count") {
  // A bigger random table, with ties and an unknown user, and random histories.
  TableModel model;
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> level(0, 30);
  model.table.resize(57, 23);
  for (Index i = 0; i < model.table.size(); ++i) model.table.data()[i] = static_cast<float>(level(rng)) / 10.0f;
  model.unknown = 11;
  const InteractionMatrix hist = random_matrix(57, 23, 0.2, 5);
  std::vector<Index> users(57);
  std::iota(users.begin(), users.end(), 0);
  users.push_back(recmix::kNewUser);  // scored as zeros, no history
  const UserBatch batch(users, &hist, recmix::HistoryRows::by_user_id);
  const std::vector<Index> deny = {4, 9};

  const auto ref = recmix::recommend(model, batch, 5, {.deny_items = deny, .block_users = 256, .threads = 1});
  // Every row checked against a direct reference.
  for (Index r = 0; r < 57; ++r) {
    CAPTURE(r);
    if (r == 11) {
      CHECK(items_of(ref, r) == std::vector<Index>(5, -1));
      continue;
    }
    std::vector<float> s(model.table.row(r).data(), model.table.row(r).data() + 23);
    for (Index i : hist.row(r).indices) s[static_cast<std::size_t>(i)] = -kInf;
    for (Index i : deny) s[static_cast<std::size_t>(i)] = -kInf;
    std::vector<Index> want = reference_topk(s, 5);
    want.resize(5, -1);
    CHECK(items_of(ref, r) == want);
  }
  CHECK(items_of(ref, 57) == std::vector<Index>{0, 1, 2, 3, 5});  // all zeros; lowest indices win

  for (Index block : {Index(0), Index(1), Index(7), Index(256), std::numeric_limits<Index>::max()}) {
    for (int threads : {1, 2}) {
      CAPTURE(block);
      CAPTURE(threads);
      const auto got = recmix::recommend(model, batch, 5, {.deny_items = deny, .block_users = block, .threads = threads});
      check_same_recommendations(got, ref);
    }
  }

  // An empty batch gives an empty result.
  const UserBatch none(std::span<const Index>{});
  const auto empty = recmix::recommend(model, none, 3);
  CHECK(empty.users() == 0);
  CHECK(empty.k() == 3);
}

TEST_CASE("recommend: an exception from score() propagates unchanged") {
  TableModel model = hand_model();
  model.poison = 3;
  const std::vector<Index> users = {0, 1, 2, 3, 0, 1};
  const UserBatch batch(users);
  for (int threads : {1, 2}) {
    for (Index block : {Index(1), Index(2), Index(256)}) {
      CAPTURE(threads);
      CAPTURE(block);
      CHECK_THROWS_WITH_AS(recmix::recommend(model, batch, 2, {.block_users = block, .threads = threads}),
                           "TableModel: poisoned user", score_failure);
    }
  }
  // Batches without the poisoned user still work.
  const std::vector<Index> fine = {0, 1};
  CHECK_NOTHROW(recmix::recommend(model, UserBatch(fine), 2));
}

// ================================================================================================
// Threads and progress
// ================================================================================================

TEST_CASE("resolve_threads") {
  CHECK_THROWS_AS(recmix::resolve_threads(-1), recmix::invalid_argument);
  CHECK_THROWS_WITH_AS(recmix::resolve_threads(-2, "MyModel::fit"), doctest::Contains("MyModel::fit"),
                       recmix::invalid_argument);
  CHECK(recmix::resolve_threads(0) >= 1);
  if (recmix::kHasOpenMP) {
    CHECK(recmix::resolve_threads(1) == 1);
    CHECK(recmix::resolve_threads(3) == 3);
    CHECK(recmix::threading_description(2) == "OpenMP, 2 threads");
    CHECK(recmix::threading_description(1) == "OpenMP, 1 thread");
  } else {
    CHECK(recmix::resolve_threads(3) == 1);
    CHECK(recmix::threading_description(2) == "serial (built without OpenMP)");
  }
}

TEST_CASE("EigenSerialGuard restores Eigen's thread setting") {
  Eigen::setNbThreads(2);
  const int before = Eigen::nbThreads();
  {
    const recmix::detail::EigenSerialGuard outer;
    CHECK(Eigen::nbThreads() == 1);
    {
      const recmix::detail::EigenSerialGuard inner;
      CHECK(Eigen::nbThreads() == 1);
    }
    CHECK(Eigen::nbThreads() == 1);
  }
  CHECK(Eigen::nbThreads() == before);
  Eigen::setNbThreads(0);
}

TEST_CASE("ProgressBar: one line per iteration") {
  std::ostringstream os;
  recmix::ProgressBar bar(os, recmix::ProgressStyle::lines, /*width=*/10);
  bar.on_begin("ImplicitALS", 5, "OpenMP, 2 threads");
  recmix::IterationInfo info;
  info.iteration = 3;
  info.total = 5;
  info.seconds = 0.5;
  info.elapsed_seconds = 1.5;
  info.loss = 0.0171234;
  bar.on_iteration(info);
  info.iteration = 4;
  info.elapsed_seconds = 2.0;
  info.loss = std::numeric_limits<double>::quiet_NaN();
  bar.on_iteration(info);
  bar.on_end(recmix::FitReport{});
  const std::string text = os.str();
  CHECK(text.find("ImplicitALS") != std::string::npos);
  CHECK(text.find("3/5") != std::string::npos);
  CHECK(text.find("loss 0.0171234") != std::string::npos);
  CHECK(text.find("4/5") != std::string::npos);
  CHECK(text.find("[######....]") != std::string::npos);  // 3/5 of 10
  CHECK(text.find("(OpenMP, 2 threads)") != std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  // The NaN-loss line says nothing about the loss.
  const std::string second = text.substr(text.find('\n') + 1);
  CHECK(second.find("loss") == std::string::npos);
  CHECK(second.find("ETA 0.50s") != std::string::npos);  // 2 s / 4 iterations * 1 left
}

TEST_CASE("ProgressBar: redraw mode") {
  std::ostringstream os;
  recmix::ProgressBar bar(os, recmix::ProgressStyle::redraw);
  bar.on_begin("M", 2, "serial");
  recmix::IterationInfo info;
  info.iteration = 1;
  info.total = 2;
  bar.on_iteration(info);
  info.iteration = 2;
  bar.on_iteration(info);
  bar.on_end(recmix::FitReport{});
  const std::string text = os.str();
  CHECK(text.front() == '\r');
  CHECK(std::count(text.begin(), text.end(), '\r') == 2);
  CHECK(text.back() == '\n');
  CHECK(text.find("2/2") != std::string::npos);
}

TEST_CASE("FitReport helpers") {
  recmix::FitReport r;
  CHECK(r.median_iteration_seconds() == 0.0);
  CHECK(std::isnan(r.final_loss()));
  r.iteration_seconds = {3.0, 1.0, 2.0};
  CHECK(r.median_iteration_seconds() == 2.0);
  r.iteration_seconds.push_back(10.0);
  CHECK(r.median_iteration_seconds() == 2.5);
  r.loss = {0.5, 0.25};
  CHECK(r.final_loss() == 0.25);
}

TEST_CASE("ProgressBar: automatic style prints lines to a stream that is not a terminal") {
  std::ostringstream os;
  recmix::ProgressBar bar(os);
  bar.on_begin("M", 1, "serial");
  recmix::IterationInfo info;
  info.iteration = 1;
  info.total = 1;
  bar.on_iteration(info);
  bar.on_end(recmix::FitReport{});
  const std::string text = os.str();
  CHECK(text.find('\r') == std::string::npos);
  CHECK(text == std::string(text.c_str()));
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
}
