#pragma once
/// @file
/// InteractionMatrix: users x items implicit feedback in CSR form (64-bit row offsets, 32-bit
/// column indices, float weights), plus the builders from (user, item, weight) triplets with
/// external ids.
///
/// @code
/// std::vector<std::int64_t> customers = {15889, 15889, 1170544};
/// std::vector<std::string> products = {"cco", "recibo", "cco"};
/// std::vector<float> months = {12, 3, 7};
/// auto data = recmix::build_interactions<std::int64_t, std::string>(customers, products, months);
/// data.matrix.rows();                 // 2 users
/// data.matrix.row(data.users.at(15889)).indices;   // items {0, 1}
/// @endcode
///
/// Why not Eigen::SparseMatrix directly: Eigen uses one index type for row offsets and column
/// indices, so int32 caps a matrix at 2^31 nonzeros and int64 doubles the index memory. This
/// class keeps int64 offsets and int32 indices, and converts to Eigen when asked (to_eigen()).

#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/id_map.hpp"
#include "recmix/core/types.hpp"

namespace recmix {

/// Read-only view of one CSR row: sorted column indices and their weights.
struct SparseRow {
  std::span<const Index> indices;
  std::span<const float> values;
  [[nodiscard]] std::size_t size() const noexcept { return indices.size(); }
  [[nodiscard]] bool empty() const noexcept { return indices.empty(); }
};

class InteractionMatrix {
 public:
  /// An empty 0 x 0 matrix.
  InteractionMatrix() : indptr_(1, 0) {}

  /// An empty rows x cols matrix (no interactions).
  InteractionMatrix(Index rows, Index cols) : rows_(rows), cols_(cols), indptr_(checked_rows(rows, cols) + 1, 0) {}

  /// Adopts CSR arrays. Validates everything: shapes, monotone offsets, indices in range and
  /// strictly increasing within a row, finite weights. Throws recmix::invalid_argument.
  InteractionMatrix(Index rows, Index cols, std::vector<Offset> indptr, std::vector<Index> indices,
                    std::vector<float> values)
      : rows_(rows), cols_(cols), indptr_(std::move(indptr)), indices_(std::move(indices)), values_(std::move(values)) {
    validate("InteractionMatrix");
  }

  /// Builds from dense-index triplets; duplicates (same user and item) are summed.
  /// Indices must lie in [0, rows) x [0, cols); weights must be finite.
  static InteractionMatrix from_triplets(Index rows, Index cols, std::span<const Index> users,
                                         std::span<const Index> items, std::span<const float> weights) {
    constexpr const char* api = "InteractionMatrix::from_triplets";
    checked_rows(rows, cols);
    if (users.size() != items.size() || users.size() != weights.size()) {
      throw invalid_argument(std::string(api) + ": users, items and weights differ in length (" +
                             std::to_string(users.size()) + ", " + std::to_string(items.size()) + ", " +
                             std::to_string(weights.size()) + ")");
    }
    const std::size_t n = users.size();
    std::vector<Offset> indptr(static_cast<std::size_t>(rows) + 1, 0);
    for (std::size_t k = 0; k < n; ++k) {
      const Index u = users[k], i = items[k];
      if (u < 0 || u >= rows) throw invalid_argument(std::string(api) + ": user " + std::to_string(u) + " out of range [0, " + std::to_string(rows) + ") at triplet " + std::to_string(k));
      if (i < 0 || i >= cols) throw invalid_argument(std::string(api) + ": item " + std::to_string(i) + " out of range [0, " + std::to_string(cols) + ") at triplet " + std::to_string(k));
      if (!std::isfinite(weights[k])) throw invalid_argument(std::string(api) + ": weight " + std::to_string(weights[k]) + " is not finite at triplet " + std::to_string(k));
      ++indptr[static_cast<std::size_t>(u) + 1];
    }
    std::partial_sum(indptr.begin(), indptr.end(), indptr.begin());
    std::vector<Index> indices(n);
    std::vector<float> values(n);
    {
      std::vector<Offset> next(indptr.begin(), indptr.end() - 1);
      for (std::size_t k = 0; k < n; ++k) {
        const auto pos = static_cast<std::size_t>(next[static_cast<std::size_t>(users[k])]++);
        indices[pos] = items[k];
        values[pos] = weights[k];
      }
    }
    // Sort each row by item and sum duplicates, compacting in place.
    std::vector<std::pair<Index, float>> buf;
    Offset out = 0;
    for (Index r = 0; r < rows; ++r) {
      const Offset b = indptr[static_cast<std::size_t>(r)], e = indptr[static_cast<std::size_t>(r) + 1];
      buf.clear();
      for (Offset k = b; k < e; ++k) buf.emplace_back(indices[static_cast<std::size_t>(k)], values[static_cast<std::size_t>(k)]);
      std::stable_sort(buf.begin(), buf.end(), [](const auto& a, const auto& c) { return a.first < c.first; });
      indptr[static_cast<std::size_t>(r)] = out;
      for (std::size_t k = 0; k < buf.size(); ++k) {
        if (k > 0 && buf[k].first == buf[k - 1].first) {
          values[static_cast<std::size_t>(out - 1)] += buf[k].second;
        } else {
          indices[static_cast<std::size_t>(out)] = buf[k].first;
          values[static_cast<std::size_t>(out)] = buf[k].second;
          ++out;
        }
      }
    }
    indptr[static_cast<std::size_t>(rows)] = out;
    indices.resize(static_cast<std::size_t>(out));
    values.resize(static_cast<std::size_t>(out));
    indices.shrink_to_fit();
    values.shrink_to_fit();
    return adopt(rows, cols, std::move(indptr), std::move(indices), std::move(values));
  }

  /// Converts an Eigen sparse matrix (any storage order); explicit zeros are kept.
  template <class SparseMatrixType>
  static InteractionMatrix from_eigen(const SparseMatrixType& s) {
    Eigen::SparseMatrix<float, Eigen::RowMajor, std::int64_t> csr = s.template cast<float>();
    csr.makeCompressed();
    checked_rows(static_cast<std::int64_t>(csr.rows()), static_cast<std::int64_t>(csr.cols()));
    std::vector<Offset> indptr(csr.outerIndexPtr(), csr.outerIndexPtr() + csr.rows() + 1);
    std::vector<Index> indices(static_cast<std::size_t>(csr.nonZeros()));
    for (std::size_t k = 0; k < indices.size(); ++k) indices[k] = static_cast<Index>(csr.innerIndexPtr()[k]);
    std::vector<float> values(csr.valuePtr(), csr.valuePtr() + csr.nonZeros());
    return InteractionMatrix(static_cast<Index>(csr.rows()), static_cast<Index>(csr.cols()), std::move(indptr),
                             std::move(indices), std::move(values));
  }

  /// An Eigen copy (row-major, int64 indices so any size fits).
  [[nodiscard]] Eigen::SparseMatrix<float, Eigen::RowMajor, std::int64_t> to_eigen() const {
    Eigen::SparseMatrix<float, Eigen::RowMajor, std::int64_t> s(rows_, cols_);
    s.reserve(Eigen::VectorX<std::int64_t>::Map(row_lengths().data(), rows_));
    for (Index r = 0; r < rows_; ++r) {
      auto row_view = row(r);
      for (std::size_t k = 0; k < row_view.size(); ++k) s.insert(r, row_view.indices[k]) = row_view.values[k];
    }
    s.makeCompressed();
    return s;
  }

  [[nodiscard]] Index rows() const noexcept { return rows_; }
  [[nodiscard]] Index cols() const noexcept { return cols_; }
  [[nodiscard]] Offset nnz() const noexcept { return indptr_.back(); }

  [[nodiscard]] SparseRow row(Index r) const {
    const auto b = static_cast<std::size_t>(indptr_[static_cast<std::size_t>(r)]);
    const auto e = static_cast<std::size_t>(indptr_[static_cast<std::size_t>(r) + 1]);
    return {std::span<const Index>(indices_.data() + b, e - b), std::span<const float>(values_.data() + b, e - b)};
  }
  [[nodiscard]] Offset row_nnz(Index r) const noexcept {
    return indptr_[static_cast<std::size_t>(r) + 1] - indptr_[static_cast<std::size_t>(r)];
  }

  [[nodiscard]] std::span<const Offset> indptr() const noexcept { return indptr_; }
  [[nodiscard]] std::span<const Index> indices() const noexcept { return indices_; }
  [[nodiscard]] std::span<const float> values() const noexcept { return values_; }

  /// Bytes held by the three CSR arrays.
  [[nodiscard]] std::size_t memory_bytes() const noexcept {
    return indptr_.size() * sizeof(Offset) + indices_.size() * sizeof(Index) + values_.size() * sizeof(float);
  }

  /// The items x users matrix (CSR of the transpose); rows of the result are sorted.
  [[nodiscard]] InteractionMatrix transpose() const {
    std::vector<Offset> indptr(static_cast<std::size_t>(cols_) + 1, 0);
    for (Index c : indices_) ++indptr[static_cast<std::size_t>(c) + 1];
    std::partial_sum(indptr.begin(), indptr.end(), indptr.begin());
    std::vector<Index> indices(indices_.size());
    std::vector<float> values(values_.size());
    std::vector<Offset> next(indptr.begin(), indptr.end() - 1);
    for (Index r = 0; r < rows_; ++r) {
      for (Offset k = indptr_[static_cast<std::size_t>(r)]; k < indptr_[static_cast<std::size_t>(r) + 1]; ++k) {
        const auto c = static_cast<std::size_t>(indices_[static_cast<std::size_t>(k)]);
        const auto pos = static_cast<std::size_t>(next[c]++);
        indices[pos] = r;
        values[pos] = values_[static_cast<std::size_t>(k)];
      }
    }
    return adopt(cols_, rows_, std::move(indptr), std::move(indices), std::move(values));
  }

  /// A matrix whose row k is row `rows[k]` of this one (for batch histories).
  [[nodiscard]] InteractionMatrix select_rows(std::span<const Index> selected) const {
    std::vector<Offset> indptr(selected.size() + 1, 0);
    for (std::size_t k = 0; k < selected.size(); ++k) {
      const Index r = selected[k];
      if (r < 0 || r >= rows_) throw invalid_argument("InteractionMatrix::select_rows: row " + std::to_string(r) + " out of range [0, " + std::to_string(rows_) + ")");
      indptr[k + 1] = indptr[k] + row_nnz(r);
    }
    std::vector<Index> indices(static_cast<std::size_t>(indptr.back()));
    std::vector<float> values(indices.size());
    for (std::size_t k = 0; k < selected.size(); ++k) {
      auto src = row(selected[k]);
      std::copy(src.indices.begin(), src.indices.end(), indices.begin() + indptr[k]);
      std::copy(src.values.begin(), src.values.end(), values.begin() + indptr[k]);
    }
    return adopt(static_cast<Index>(selected.size()), cols_, std::move(indptr), std::move(indices), std::move(values));
  }

  /// Number of nonzeros in each row.
  [[nodiscard]] std::vector<std::int64_t> row_lengths() const {
    std::vector<std::int64_t> n(static_cast<std::size_t>(rows_));
    for (Index r = 0; r < rows_; ++r) n[static_cast<std::size_t>(r)] = row_nnz(r);
    return n;
  }

 private:
  /// Takes CSR arrays this class built itself (already valid), without re-validating them.
  static InteractionMatrix adopt(Index rows, Index cols, std::vector<Offset> indptr, std::vector<Index> indices,
                                 std::vector<float> values) {
    InteractionMatrix m;
    m.rows_ = rows;
    m.cols_ = cols;
    m.indptr_ = std::move(indptr);
    m.indices_ = std::move(indices);
    m.values_ = std::move(values);
    return m;
  }

  static std::size_t checked_rows(std::int64_t rows, std::int64_t cols) {
    if (rows < 0 || cols < 0) {
      throw invalid_argument("InteractionMatrix: negative shape " + std::to_string(rows) + " x " + std::to_string(cols));
    }
    if (rows > std::numeric_limits<Index>::max() || cols > std::numeric_limits<Index>::max()) {
      throw invalid_argument("InteractionMatrix: shape " + std::to_string(rows) + " x " + std::to_string(cols) + " exceeds 2^31-1");
    }
    return static_cast<std::size_t>(rows);
  }

  void validate(const char* api) const {
    const std::string who(api);
    checked_rows(rows_, cols_);
    if (indptr_.size() != static_cast<std::size_t>(rows_) + 1) {
      throw invalid_argument(who + ": indptr has " + std::to_string(indptr_.size()) + " entries, expected rows + 1 = " + std::to_string(rows_ + 1));
    }
    if (indptr_.front() != 0) throw invalid_argument(who + ": indptr[0] must be 0");
    if (indices_.size() != values_.size() || static_cast<Offset>(indices_.size()) != indptr_.back()) {
      throw invalid_argument(who + ": indptr.back() = " + std::to_string(indptr_.back()) + " but indices has " +
                             std::to_string(indices_.size()) + " and values " + std::to_string(values_.size()) + " entries");
    }
    // Offsets first: with indptr[0] = 0, monotone offsets and indptr.back() = nnz, every row's
    // range lies inside indices/values, so the column checks below never read out of bounds.
    for (Index r = 0; r < rows_; ++r) {
      if (indptr_[static_cast<std::size_t>(r) + 1] < indptr_[static_cast<std::size_t>(r)]) {
        throw invalid_argument(who + ": indptr decreases at row " + std::to_string(r));
      }
    }
    for (Index r = 0; r < rows_; ++r) {
      const Offset b = indptr_[static_cast<std::size_t>(r)], e = indptr_[static_cast<std::size_t>(r) + 1];
      for (Offset k = b; k < e; ++k) {
        const Index c = indices_[static_cast<std::size_t>(k)];
        if (c < 0 || c >= cols_) throw invalid_argument(who + ": row " + std::to_string(r) + " has column " + std::to_string(c) + " out of range [0, " + std::to_string(cols_) + ")");
        if (k > b && c <= indices_[static_cast<std::size_t>(k) - 1]) throw invalid_argument(who + ": row " + std::to_string(r) + " columns not strictly increasing at column " + std::to_string(c));
        if (!std::isfinite(values_[static_cast<std::size_t>(k)])) throw invalid_argument(who + ": row " + std::to_string(r) + ", column " + std::to_string(c) + " has non-finite weight");
      }
    }
  }

  Index rows_ = 0;
  Index cols_ = 0;
  std::vector<Offset> indptr_;
  std::vector<Index> indices_;
  std::vector<float> values_;
};

/// A matrix together with the maps from external ids to its rows and columns.
template <class UserId, class ItemId>
struct LabeledInteractions {
  InteractionMatrix matrix;
  IdMap<UserId> users;
  IdMap<ItemId> items;
};

/// Builds a matrix from external-id triplets. Users and items get dense indices in order of
/// first appearance; duplicate (user, item) pairs are summed. Weights must be finite.
template <class UserId, class ItemId>
LabeledInteractions<UserId, ItemId> build_interactions(std::span<const UserId> users, std::span<const ItemId> items,
                                                        std::span<const float> weights) {
  if (users.size() != items.size() || users.size() != weights.size()) {
    throw invalid_argument("build_interactions: users, items and weights differ in length (" + std::to_string(users.size()) +
                           ", " + std::to_string(items.size()) + ", " + std::to_string(weights.size()) + ")");
  }
  LabeledInteractions<UserId, ItemId> out;
  std::vector<Index> u(users.size()), i(items.size());
  for (std::size_t k = 0; k < users.size(); ++k) {
    u[k] = out.users.insert(users[k]);
    i[k] = out.items.insert(items[k]);
  }
  out.matrix = InteractionMatrix::from_triplets(out.users.size(), out.items.size(), u, i, weights);
  return out;
}

/// Overload for containers (std::vector etc.).
template <class UserId, class ItemId>
LabeledInteractions<UserId, ItemId> build_interactions(const std::vector<UserId>& users, const std::vector<ItemId>& items,
                                                        const std::vector<float>& weights) {
  return build_interactions<UserId, ItemId>(std::span<const UserId>(users), std::span<const ItemId>(items),
                                            std::span<const float>(weights));
}

}  // namespace recmix
