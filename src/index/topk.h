// Hit, the result order, and TopK: selecting the k best of a stream of scored ids. Used by every
// vector index kind, and by anything that merges result lists (shards, combined queries): one
// definition of "best" for the whole project.
//
// The order (`better`): score descending, then id ascending. It is total for distinct ids, so a
// ranking is deterministic and pages of it (offset, k) concatenate to the whole.
//
// Thread-safety: a TopK is a plain value; use one per thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace xrs {

struct Hit {
  int64_t id = 0;
  float score = 0;
  bool operator==(const Hit&) const = default;
};

// True when `a` ranks before `b`: higher score, or the same score and a smaller id. (NaN scores
// never reach a TopK: its threshold check refuses them.)
inline bool better(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}

// Keeps the k best hits with score >= min_score (k >= 1). The scan is one pass in which a score
// below the current threshold (min_score, or the worst kept score once k are kept) costs one
// compare: the heap is touched only by candidates, which are rare after the first few hundred
// rows. Memory: k hits.
class TopK {
 public:
  TopK(size_t k, float min_score) : k_(k), threshold_(min_score) { heap_.reserve(k); }

  // Offers scores[0..n): score i belongs to row row_of(i), whose id is ids[row]; rows for which
  // allowed(row) is false are skipped. NaN scores never pass the threshold.
  template <typename RowOf, typename Allowed>
  void scan(const float* scores, size_t n, RowOf row_of, const int64_t* ids, Allowed allowed) {
    for (size_t i = 0; i < n; ++i) {
      if (scores[i] >= threshold_) [[unlikely]] {
        size_t row = row_of(i);
        if (allowed(row)) offer({ids[row], scores[i]});
      }
    }
  }

  // Offers one hit (kept when it passes the threshold and beats the worst kept one).
  void push(const Hit& h) {
    if (h.score >= threshold_) offer(h);
  }

  // The kept hits in result order; the TopK is empty afterwards.
  std::vector<Hit> take_sorted() {
    std::sort_heap(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  // The heap's front is the worst kept hit (std heaps keep the comparator's "largest" in front,
  // and with `better` as the comparator that is the worst hit).
  void offer(const Hit& h) {
    if (heap_.size() < k_) {
      heap_.push_back(h);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else {
      // Equal scores reach here too (the pre-check is >=): the smaller id wins the tie.
      if (!better(h, heap_.front())) return;
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = h;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
    if (heap_.size() == k_) threshold_ = heap_.front().score;
  }

  size_t k_;
  float threshold_;
  std::vector<Hit> heap_;
};

}  // namespace xrs
