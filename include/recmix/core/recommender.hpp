#pragma once
/// @file
/// The Recommender concept: a model that scores a batch of users against all its items.
///
/// @code
/// static_assert(recmix::Recommender<recmix::als::ImplicitALS<float>>);
/// void serve(const recmix::Recommender auto& model, const recmix::UserBatch& batch) {
///   recmix::RowMatrixXf scores(batch.size(), model.num_items());
///   model.score(batch, scores);                 // higher is better
///   std::vector<std::uint8_t> known(batch.size());
///   model.can_score(batch, known);              // 0 where the model knows nothing of a user
/// }
/// @endcode

#include <Eigen/Core>
#include <concepts>
#include <cstdint>
#include <span>

#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

namespace recmix {

/// Output block a model writes scores into: batch.size() rows x num_items() columns.
using ScoreBlock = Eigen::Ref<RowMatrixXf>;

template <class M>
concept Recommender = requires(const M& m, const UserBatch& b, ScoreBlock out, std::span<std::uint8_t> mask) {
  { m.num_items() } -> std::convertible_to<Index>;
  m.score(b, out);
  m.can_score(b, mask);
};

}  // namespace recmix
