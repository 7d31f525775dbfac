#include "core/disjoint_sets.h"

#include <algorithm>
#include <limits>
#include <map>
#include <string_view>

namespace xrs {

std::vector<size_t> link_components(std::span<const std::string> keys,
                                    std::span<const std::vector<size_t>> groups) {
  const size_t n = keys.size();
  DisjointSets sets(n);
  std::map<std::string_view, size_t> first_with_key;
  for (size_t i = 0; i < n; ++i) {
    if (keys[i].empty()) continue;
    auto [it, inserted] = first_with_key.try_emplace(keys[i], i);
    if (!inserted) sets.join(it->second, i);
  }
  for (const std::vector<size_t>& g : groups) {
    size_t first = std::numeric_limits<size_t>::max();
    for (size_t i : g) {
      if (i >= n) continue;
      if (first == std::numeric_limits<size_t>::max()) {
        first = i;
      } else {
        sets.join(first, i);
      }
    }
  }
  std::vector<size_t> smallest(n, std::numeric_limits<size_t>::max());
  for (size_t i = 0; i < n; ++i) {
    size_t& s = smallest[sets.find(i)];
    s = std::min(s, i);
  }
  std::vector<size_t> label(n);
  for (size_t i = 0; i < n; ++i) label[i] = smallest[sets.find(i)];
  return label;
}

}  // namespace xrs
