#pragma once
/// @file
/// Partial top-k selection over a row of scores, without sorting the row.
///
/// Rule (documented, relied on by tests): higher score first; equal scores go to the lower item
/// index. Scores of -inf and NaN are never selected, so a caller excludes an item by writing -inf.
///
/// @code
/// std::vector<float> s = {0.1f, 0.9f, 0.5f, 0.9f};
/// recmix::detail::TopK top(2);
/// top.scan(s.data(), 4);            // items {1, 3}: 0.9 tie broken by the lower index
/// @endcode

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "recmix/core/types.hpp"

namespace recmix::detail {

class TopK {
 public:
  explicit TopK(Index k) : k_(static_cast<std::size_t>(k)) { heap_.reserve(k_); }

  void clear() { heap_.clear(); }

  /// Offers one candidate.
  void push(float score, Index item) {
    if (!(score > -std::numeric_limits<float>::infinity())) return;  // -inf and NaN
    if (heap_.size() < k_) {
      heap_.emplace_back(score, item);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (k_ > 0 && better({score, item}, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = {score, item};
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }

  /// Offers items 0..n-1 with scores[i].
  void scan(const float* scores, Index n) {
    Index i = 0;
    for (; i < n && heap_.size() < k_; ++i) push(scores[i], i);
    if (k_ == 0) return;
    float threshold = heap_.empty() ? -std::numeric_limits<float>::infinity() : heap_.front().first;
    for (; i < n; ++i) {
      if (scores[i] >= threshold) {
        push(scores[i], i);
        threshold = heap_.front().first;
      }
    }
  }

  /// Offers only the listed items.
  void scan(const float* scores, std::span<const Index> items) {
    for (Index i : items) push(scores[i], i);
  }

  /// Writes the selection best first into items/scores (k slots each); unused slots get item -1
  /// and a NaN score. Returns how many were filled.
  Index write(Index* items, float* scores) {
    std::sort(heap_.begin(), heap_.end(), [](const Entry& a, const Entry& b) { return better(a, b); });
    std::size_t j = 0;
    for (; j < heap_.size(); ++j) {
      items[j] = heap_[j].second;
      scores[j] = heap_[j].first;
    }
    for (std::size_t t = j; t < k_; ++t) {
      items[t] = -1;
      scores[t] = std::numeric_limits<float>::quiet_NaN();
    }
    heap_.clear();
    return static_cast<Index>(j);
  }

 private:
  using Entry = std::pair<float, Index>;
  // Heap order: the front is the worst kept candidate. "a better than b" = higher score, or the
  // same score and a lower index; used as the heap's less-than, so the front is the worst.
  static bool better(const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }

  std::size_t k_;
  std::vector<Entry> heap_;
};

}  // namespace recmix::detail
