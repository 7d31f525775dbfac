// Union-find, and the connected components of items linked by shared keys and explicit groups:
// how a split keeps a patient's images, or a near-duplicate group, on one side (evaluate's
// leave-one-out, train's held-out split; docs/DUPLICATES.md, "Splits").
//
// Thread-safety: DisjointSets is a plain value (one thread at a time); link_components is a pure
// function.
#pragma once

#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace xrs {

// Union-find over positions 0..n-1 with path halving and union by size.
class DisjointSets {
 public:
  explicit DisjointSets(size_t n) : parent_(n), size_(n, 1) {
    std::iota(parent_.begin(), parent_.end(), size_t{0});
  }
  size_t find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  // False when already joined.
  bool join(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    return true;
  }
  size_t size_of(size_t x) { return size_[find(x)]; }

 private:
  std::vector<size_t> parent_;
  std::vector<size_t> size_;
};

// The components of items 0..keys.size()-1 where items with the same non-empty key are linked
// (a patient or study id) and the items of each group are linked (near-duplicates; indices out
// of range are ignored). Returns, for each item, the smallest item index of its component: a
// label that does not depend on the order the links were given in.
std::vector<size_t> link_components(std::span<const std::string> keys,
                                    std::span<const std::vector<size_t>> groups);

}  // namespace xrs
