#include "core/disjoint_sets.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace xrs {
namespace {

// Reference: breadth-first search over the explicit graph (an edge between every two items with
// the same non-empty key and between every two members of a group), labels = smallest member.
std::vector<size_t> bfs_components(const std::vector<std::string>& keys,
                                   const std::vector<std::vector<size_t>>& groups) {
  const size_t n = keys.size();
  std::vector<std::vector<bool>> edge(n, std::vector<bool>(n, false));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (!keys[i].empty() && keys[i] == keys[j]) edge[i][j] = true;
    }
  }
  for (const auto& g : groups) {
    for (size_t a : g) {
      for (size_t b : g) {
        if (a < n && b < n) edge[a][b] = true;
      }
    }
  }
  std::vector<size_t> label(n, n);
  for (size_t s = 0; s < n; ++s) {
    if (label[s] != n) continue;  // visited from a smaller start
    std::vector<size_t> queue{s};
    label[s] = s;
    for (size_t q = 0; q < queue.size(); ++q) {
      for (size_t j = 0; j < n; ++j) {
        if (edge[queue[q]][j] && label[j] == n) {
          label[j] = s;
          queue.push_back(j);
        }
      }
    }
  }
  return label;
}

TEST(DisjointSetsTest, JoinFindAndSizes) {
  DisjointSets sets(5);
  EXPECT_TRUE(sets.join(0, 3));
  EXPECT_FALSE(sets.join(3, 0));
  EXPECT_TRUE(sets.join(4, 3));
  EXPECT_EQ(sets.find(0), sets.find(4));
  EXPECT_NE(sets.find(1), sets.find(0));
  EXPECT_EQ(sets.size_of(4), 3u);
  EXPECT_EQ(sets.size_of(2), 1u);
}

TEST(DisjointSetsTest, KeysAndGroupsChainAcrossEachOther) {
  // 0,2 share patient p1; 2~5 near-duplicates; 5,6 share p2; 1 and 3 alone; 4~7.
  const std::vector<std::string> keys = {"p1", "", "p1", "", "", "p2", "p2", ""};
  const std::vector<std::vector<size_t>> groups = {{5, 2}, {7, 4}, {99}};
  const std::vector<size_t> expected = {0, 1, 0, 3, 4, 0, 0, 4};
  EXPECT_EQ(link_components(keys, groups), expected);
}

TEST(DisjointSetsTest, MatchesBreadthFirstSearchOnRandomGraphs) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 40;
    std::vector<std::string> keys(n);
    for (auto& k : keys) {
      const unsigned r = rng() % 10;
      k = r < 4 ? std::string() : std::string(1, static_cast<char>('a' + r));
    }
    std::vector<std::vector<size_t>> groups(rng() % 6);
    for (auto& g : groups) {
      g.resize(rng() % 5);
      for (size_t& i : g) i = rng() % (n + 2);  // some out of range: ignored
    }
    EXPECT_EQ(link_components(keys, groups), bfs_components(keys, groups)) << "trial " << trial;
  }
}

TEST(DisjointSetsTest, EmptyInput) {
  EXPECT_TRUE(link_components({}, {}).empty());
}

}  // namespace
}  // namespace xrs
