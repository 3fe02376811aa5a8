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
  explicit TopK(Index k) : k_(static_cast<std::size_t>(k)), sorted_(k_ <= kSortedLimit), entries_(k_) {}

  void clear() { size_ = 0; }

  /// Offers one candidate.
  void push(float score, Index item) {
    if (!(score > -std::numeric_limits<float>::infinity())) return;  // -inf and NaN
    if (k_ == 0) return;
    if (sorted_) {
      push_sorted({score, item});
    } else {
      push_heap({score, item});
    }
  }

  /// Offers items 0..n-1 with scores[i].
  void scan(const float* scores, Index n) {
    Index i = 0;
    for (; i < n && size_ < k_; ++i) push(scores[i], i);
    if (k_ == 0) return;
    // Once full, only a candidate at least as good as the worst kept entry can enter.
    float threshold = worst_score();
    for (; i < n; ++i) {
      if (scores[i] >= threshold) {
        push(scores[i], i);
        threshold = worst_score();
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
    const auto end = entries_.begin() + static_cast<std::ptrdiff_t>(size_);
    if (!sorted_) std::sort(entries_.begin(), end, [](const Entry& a, const Entry& b) { return better(a, b); });
    std::size_t j = 0;
    for (; j < size_; ++j) {
      items[j] = entries_[j].second;
      scores[j] = entries_[j].first;
    }
    for (std::size_t t = j; t < k_; ++t) {
      items[t] = -1;
      scores[t] = std::numeric_limits<float>::quiet_NaN();
    }
    size_ = 0;
    return static_cast<Index>(j);
  }

 private:
  using Entry = std::pair<float, Index>;
  /// Up to this k the selection is a sorted array with insertion (a few compares per item for
  /// catalogues of tens of items); above it, a binary heap.
  static constexpr std::size_t kSortedLimit = 64;

  // "a better than b" = higher score, or the same score and a lower index.
  static bool better(const Entry& a, const Entry& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  }

  float worst_score() const {
    if (size_ < k_) return -std::numeric_limits<float>::infinity();
    return sorted_ ? entries_[size_ - 1].first : entries_.front().first;
  }

  // Sorted mode: entries_ best first.
  void push_sorted(const Entry& e) {
    std::size_t pos = size_;
    if (size_ == k_) {
      if (!better(e, entries_[size_ - 1])) return;
      --pos;
    } else {
      ++size_;
    }
    while (pos > 0 && better(e, entries_[pos - 1])) {
      entries_[pos] = entries_[pos - 1];
      --pos;
    }
    entries_[pos] = e;
  }

  // Heap mode: used as the heap's less-than, `better` puts the worst kept entry at the front.
  void push_heap(const Entry& e) {
    if (size_ < k_) {
      entries_[size_++] = e;
      std::push_heap(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(size_), better);
    } else if (better(e, entries_.front())) {
      std::pop_heap(entries_.begin(), entries_.end(), better);
      entries_.back() = e;
      std::push_heap(entries_.begin(), entries_.end(), better);
    }
  }

  std::size_t k_;
  bool sorted_;
  std::vector<Entry> entries_;  // k slots; the first size_ are in use
  std::size_t size_ = 0;
};

}  // namespace recmix::detail
