#pragma once
/// @file
/// Everything recmix offers that needs no optional dependency. Serialization (Boost) lives in
/// <recmix/io/serialization.hpp>; include it (and link recmix::serialization) to save or load.
///
/// @code
/// #include <recmix/recmix.hpp>
/// recmix::als::ImplicitALS<float> als({.factors = 64});
/// als.fit(user_items);
/// @endcode

#include "recmix/version.hpp"

#include "recmix/core/errors.hpp"
#include "recmix/core/feature_columns.hpp"
#include "recmix/core/id_map.hpp"
#include "recmix/core/interaction_log.hpp"
#include "recmix/core/interaction_matrix.hpp"
#include "recmix/core/observer.hpp"
#include "recmix/core/random.hpp"
#include "recmix/core/recommend.hpp"
#include "recmix/core/recommender.hpp"
#include "recmix/core/threads.hpp"
#include "recmix/core/types.hpp"
#include "recmix/core/user_batch.hpp"

#include "recmix/als/implicit_als.hpp"
#include "recmix/als/solvers.hpp"

#include "recmix/cluster/cluster_recommender.hpp"
#include "recmix/cluster/kmeans.hpp"

#include "recmix/blend/dynamic_blender.hpp"
#include "recmix/blend/hybrid_blender.hpp"
#include "recmix/blend/normalize.hpp"
#include "recmix/blend/popularity.hpp"

#include "recmix/datasets/santander.hpp"

#include "recmix/features/encoding.hpp"
#include "recmix/features/scaling.hpp"

#include "recmix/io/coo.hpp"
#include "recmix/io/csv.hpp"

#include "recmix/trees/binning.hpp"
#include "recmix/trees/classifier_recommender.hpp"
#include "recmix/trees/multilabel_gbdt.hpp"
#include "recmix/trees/tree.hpp"
#include "recmix/trees/tree_builder.hpp"

#include "recmix/split/random_split.hpp"
#include "recmix/split/snapshot.hpp"
#include "recmix/split/split_result.hpp"
#include "recmix/split/temporal.hpp"

#include "recmix/metrics/classification.hpp"
#include "recmix/metrics/evaluate.hpp"
#include "recmix/metrics/ranking.hpp"
