#pragma once
/// @file
/// Index and scalar types shared by every recmix header.

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace recmix {

/// Dense index of a user or an item inside a fitted model (0 .. n-1).
using Index = std::int32_t;
/// Offset into the nonzeros of a sparse matrix: 64-bit, so matrices may exceed 2^31 nonzeros.
using Offset = std::int64_t;

/// Marks a user the model has never seen (in a UserBatch).
inline constexpr Index kNewUser = -1;

template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixXf = RowMatrix<float>;
using RowMatrixXd = RowMatrix<double>;

/// Name of a scalar type as written into model files ("float32", "float64").
template <class Scalar>
constexpr const char* scalar_name() noexcept {
  if constexpr (std::is_same_v<Scalar, float>) {
    return "float32";
  } else if constexpr (std::is_same_v<Scalar, double>) {
    return "float64";
  } else {
    return "unknown";
  }
}

}  // namespace recmix
