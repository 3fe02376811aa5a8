#pragma once
/// @file
/// IdMap: external ids (int64 customer numbers, string SKUs) <-> dense indices 0..n-1.
///
/// @code
/// recmix::IdMap<std::string> items;
/// recmix::Index a = items.insert("ind_cco_fin_ult1");   // 0
/// recmix::Index b = items.insert("ind_recibo_ult1");    // 1
/// items.insert("ind_cco_fin_ult1");                      // 0 again
/// items.at("ind_recibo_ult1");                           // 1; unknown ids throw
/// items.id(1);                                           // "ind_recibo_ult1"
/// @endcode

#include <cstdint>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "recmix/core/errors.hpp"
#include "recmix/core/types.hpp"

namespace recmix {

template <class Key>
class IdMap {
 public:
  using key_type = Key;

  IdMap() = default;

  /// Builds a map in which ids[i] gets index i. Duplicate ids throw.
  explicit IdMap(const std::vector<Key>& ids) {
    reserve(ids.size());
    for (const auto& id : ids) {
      if (index_.count(id) != 0) {
        throw invalid_argument("IdMap: duplicate id " + to_text(id));
      }
      insert(id);
    }
  }

  /// Index of `id`, adding it with the next free index when new.
  Index insert(const Key& id) {
    auto [it, added] = index_.try_emplace(id, static_cast<Index>(ids_.size()));
    if (added) {
      if (ids_.size() >= static_cast<std::size_t>(std::numeric_limits<Index>::max())) {
        index_.erase(it);
        throw invalid_argument("IdMap::insert: more than 2^31-1 ids");
      }
      ids_.push_back(id);
    }
    return it->second;
  }

  /// Index of a known id; throws invalid_argument naming the id when unknown.
  [[nodiscard]] Index at(const Key& id) const {
    auto it = index_.find(id);
    if (it == index_.end()) throw invalid_argument("IdMap::at: unknown id " + to_text(id));
    return it->second;
  }

  /// Index of `id`, or std::nullopt when unknown.
  [[nodiscard]] std::optional<Index> find(const Key& id) const {
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  [[nodiscard]] bool contains(const Key& id) const { return index_.count(id) != 0; }

  /// External id of a dense index; throws when out of range.
  [[nodiscard]] const Key& id(Index index) const {
    if (index < 0 || static_cast<std::size_t>(index) >= ids_.size()) {
      throw invalid_argument("IdMap::id: index " + std::to_string(index) + " out of range (size " +
                             std::to_string(ids_.size()) + ")");
    }
    return ids_[static_cast<std::size_t>(index)];
  }

  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(ids_.size()); }
  [[nodiscard]] bool empty() const noexcept { return ids_.empty(); }
  [[nodiscard]] const std::vector<Key>& ids() const noexcept { return ids_; }

  void reserve(std::size_t n) {
    ids_.reserve(n);
    index_.reserve(n);
  }

 private:
  static std::string to_text(const Key& id) {
    std::ostringstream os;
    os << id;
    return os.str();
  }

  std::vector<Key> ids_;
  std::unordered_map<Key, Index> index_;
};

}  // namespace recmix
