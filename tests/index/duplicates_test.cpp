// Near-duplicate groups (index/duplicates.h) against a brute-force reference written here: every
// pair scored in double precision, components by breadth-first search, and each group's linking
// score as the largest threshold at which the group is still connected (found by trying every
// pair score), on a catalog with planted near-duplicates, a chain, and a group larger than the
// first neighbour list.
#include "index/duplicates.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

constexpr uint32_t kDim = 32;

struct RefGroup {
  std::vector<int64_t> ids;
  double min_score;
};

// The unit vector of `base` moved by noise of the given size (cosine to base about
// 1 - size^2 / 2).
std::vector<float> nudge(const float* base, float size, std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(base, base + kDim);
  std::vector<float> noise(kDim);
  for (float& x : noise) x = g(rng);
  testing::normalise(noise.data(), kDim);
  for (uint32_t i = 0; i < kDim; ++i) v[i] += size * noise[i];
  testing::normalise(v.data(), kDim);
  return v;
}

struct Data {
  std::string dir;
  std::vector<int64_t> ids;
  std::vector<float> vectors;  // ids.size() x kDim
};

// 80 random images, then: 6 pairs (nudged copies), one chain a~b~c, and a group of 40 copies.
Data make_catalog(const std::string& name) {
  Data d;
  d.dir = testing::scratch_dir(name);
  std::vector<std::vector<float>> rows;
  std::vector<float> base = testing::random_unit_vectors(80, kDim, 11);
  for (size_t i = 0; i < 80; ++i) rows.emplace_back(&base[i * kDim], &base[(i + 1) * kDim]);
  std::mt19937 rng(5);
  for (size_t i = 0; i < 6; ++i) rows.push_back(nudge(&base[i * kDim], 0.1f, rng));
  // A chain: b is 0.2 from a (cos ~0.98), c another 0.2 from b; a and c ~0.4 apart (cos ~0.92).
  std::vector<float> a = rows[10];
  std::vector<float> b = nudge(a.data(), 0.2f, rng);
  std::vector<float> dir2(kDim);
  for (uint32_t i = 0; i < kDim; ++i) dir2[i] = 2 * b[i] - a[i];  // c continues from a past b
  testing::normalise(dir2.data(), kDim);
  rows.push_back(b);
  rows.push_back(dir2);
  for (size_t i = 0; i < 40; ++i) rows.push_back(nudge(&base[20 * kDim], 0.05f, rng));

  auto catalog = Catalog::open_or_create(d.dir, testing::test_model(kDim)).value();
  auto tx = catalog->begin().value();
  for (size_t i = 0; i < rows.size(); ++i) {
    ImageRecord r = testing::make_record("img" + std::to_string(i) + ".png", "chest", rows[i], i);
    d.ids.push_back(tx.upsert(r).value());
    d.vectors.insert(d.vectors.end(), rows[i].begin(), rows[i].end());
  }
  EXPECT_TRUE(tx.commit().is_ok());
  return d;
}

double dot(const Data& d, size_t i, size_t j) {
  double s = 0;
  for (size_t x = 0; x < kDim; ++x) {
    s += static_cast<double>(d.vectors[i * kDim + x]) * d.vectors[j * kDim + x];
  }
  return s;
}

// Rows of `members` connected by pairs scoring >= s (breadth-first from the first).
bool connected(const Data& d, const std::vector<size_t>& members, double s) {
  std::set<size_t> seen = {members[0]};
  std::vector<size_t> todo = {members[0]};
  while (!todo.empty()) {
    size_t i = todo.back();
    todo.pop_back();
    for (size_t j : members) {
      if (!seen.count(j) && dot(d, i, j) >= s) {
        seen.insert(j);
        todo.push_back(j);
      }
    }
  }
  return seen.size() == members.size();
}

std::vector<RefGroup> brute_force(const Data& d, double t) {
  const size_t n = d.ids.size();
  std::vector<int> component(n, -1);
  std::vector<std::vector<size_t>> members;
  for (size_t i = 0; i < n; ++i) {
    if (component[i] >= 0) continue;
    std::vector<size_t> group = {i}, todo = {i};
    component[i] = static_cast<int>(members.size());
    while (!todo.empty()) {
      size_t x = todo.back();
      todo.pop_back();
      for (size_t j = 0; j < n; ++j) {
        EXPECT_GT(std::abs(dot(d, x, j) - t), 1e-5) << "a pair on the threshold: ambiguous test";
        if (component[j] < 0 && j != x && dot(d, x, j) >= t) {
          component[j] = component[i];
          group.push_back(j);
          todo.push_back(j);
        }
      }
    }
    members.push_back(group);
  }
  std::vector<RefGroup> out;
  for (std::vector<size_t>& g : members) {
    if (g.size() < 2) continue;
    std::sort(g.begin(), g.end());
    std::vector<double> scores;
    for (size_t x : g) {
      for (size_t y : g) {
        if (x < y && dot(d, x, y) >= t) scores.push_back(dot(d, x, y));
      }
    }
    std::sort(scores.rbegin(), scores.rend());
    double link = 0;
    for (double s : scores) {
      if (connected(d, g, s)) {
        link = s;
        break;
      }
    }
    RefGroup r{{}, link};
    for (size_t x : g) r.ids.push_back(d.ids[x]);
    out.push_back(r);
  }
  return out;
}

void expect_same(const std::vector<DuplicateGroup>& got, std::vector<RefGroup> want) {
  ASSERT_EQ(got.size(), want.size());
  std::map<std::vector<int64_t>, double> by_ids;
  for (const RefGroup& r : want) by_ids[r.ids] = r.min_score;
  for (const DuplicateGroup& g : got) {
    auto it = by_ids.find(g.ids);
    ASSERT_NE(it, by_ids.end()) << "group of " << g.ids.size() << " from " << g.ids.front();
    EXPECT_NEAR(g.min_score, it->second, 1e-5);
  }
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_GE(got[i - 1].ids.size(), got[i].ids.size()) << "largest groups first";
  }
}

TEST(DuplicatesTest, EqualBruteForceWithSmallNeighbourLists) {
  Data d = make_catalog("dup_bruteforce");
  auto reader = IndexReader::open(d.dir).value();
  for (double t : {0.97, 0.9, 0.985}) {
    std::vector<RefGroup> want = brute_force(d, t);
    ASSERT_FALSE(want.empty());
    for (size_t neighbours : {1, 4, 16, 200}) {
      DuplicateOptions o;
      o.min_score = static_cast<float>(t);
      o.neighbours = neighbours;
      o.queries_per_batch = 7;  // several batches
      auto got = find_duplicate_groups(*reader, o);
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      SCOPED_TRACE("t=" + std::to_string(t) + " neighbours=" + std::to_string(neighbours));
      expect_same(*got, want);
    }
  }
  // The planted structure at 0.97: the 40 copies, 6 pairs and the chain.
  DuplicateOptions o;
  o.min_score = 0.97f;
  auto groups = find_duplicate_groups(*reader, o).value();
  ASSERT_GE(groups.size(), 8u);
  EXPECT_EQ(groups[0].ids.size(), 41u);  // base 20 and its 40 copies
  EXPECT_EQ(groups[1].ids.size(), 3u);   // the chain, held together by ~0.98 links
  EXPECT_LT(dot(d, 10, d.ids.size() - 41), 0.97) << "the chain's ends are not near-identical";
}

TEST(DuplicatesTest, PairsAreEachOnceAndAboveThreshold) {
  Data d = make_catalog("dup_pairs");
  auto reader = IndexReader::open(d.dir).value();
  DuplicateOptions o;
  o.min_score = 0.97f;
  o.neighbours = 3;
  auto pairs = find_duplicate_pairs(*reader, o).value();
  size_t want = 0;
  for (size_t i = 0; i < d.ids.size(); ++i) {
    for (size_t j = i + 1; j < d.ids.size(); ++j) want += dot(d, i, j) >= 0.97;
  }
  EXPECT_EQ(pairs.size(), want);
  std::set<std::pair<int64_t, int64_t>> seen;
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_LT(pairs[i].a, pairs[i].b);
    EXPECT_GE(pairs[i].score, 0.97f);
    EXPECT_TRUE(seen.insert({pairs[i].a, pairs[i].b}).second);
    if (i > 0) {
      EXPECT_GE(pairs[i - 1].score, pairs[i].score);
    }
  }
}

TEST(DuplicatesTest, IvfIndexFindsThePlantedGroups) {
  Data d = make_catalog("dup_ivf");
  IndexReaderOptions ro;
  ro.vectors.kind = IndexKind::kIvf;
  ro.vectors.ivf.nlist = 2;
  ro.vectors.ivf.nprobe = 2;  // every list: exact answers from the approximate index
  ro.write_vectors_file = false;
  auto reader = IndexReader::open(d.dir, ro).value();
  ASSERT_EQ(reader->load_report().kind, IndexKind::kIvf);
  DuplicateOptions o;
  o.min_score = 0.97f;
  o.neighbours = 4;
  auto got = find_duplicate_groups(*reader, o);
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  expect_same(*got, brute_force(d, 0.97));
}

TEST(DuplicatesTest, ThresholdIsValidatedAndEmptyResults) {
  Data d = make_catalog("dup_validate");
  auto reader = IndexReader::open(d.dir).value();
  for (float bad : {0.0f, -0.5f, 1.0001f, std::nanf("")}) {
    DuplicateOptions o;
    o.min_score = bad;
    auto r = find_duplicate_groups(*reader, o);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("(0, 1]"), std::string::npos) << r.status().message();
  }
  DuplicateOptions zero;
  zero.min_score = 0.97f;
  zero.neighbours = 0;
  EXPECT_EQ(find_duplicate_groups(*reader, zero).status().code(), StatusCode::kInvalidArgument);

  // Random vectors only: nothing near-identical.
  const std::string dir = testing::scratch_dir("dup_none");
  testing::fill_catalog(dir, 50, kDim, 3);
  DuplicateOptions o;
  o.min_score = 0.999f;
  auto none = find_duplicate_groups(*IndexReader::open(dir).value(), o);
  ASSERT_TRUE(none.is_ok());
  EXPECT_TRUE(none->empty());
  // An empty index and a one-image index.
  const std::string empty = testing::scratch_dir("dup_empty");
  Catalog::open_or_create(empty, testing::test_model(kDim)).value();
  EXPECT_TRUE(find_duplicate_groups(*IndexReader::open(empty).value(), o).value().empty());
  const std::string one = testing::scratch_dir("dup_one");
  testing::fill_catalog(one, 1, kDim, 3);
  EXPECT_TRUE(find_duplicate_groups(*IndexReader::open(one).value(), o).value().empty());
}

TEST(DuplicatesTest, GroupingOfGivenPairs) {
  // a-b 0.99, b-c 0.98, c-a 0.975: the spanning tree keeps 0.99 and 0.98, so the group's linking
  // score is 0.98 (not 0.975, the weakest pair). d-e 0.97 alone.
  std::vector<DuplicatePair> pairs = {{1, 2, 0.99f}, {2, 3, 0.98f}, {1, 3, 0.975f}, {4, 5, 0.97f}};
  auto groups = group_duplicates(pairs);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FLOAT_EQ(groups[0].min_score, 0.98f);
  EXPECT_EQ(groups[1].ids, (std::vector<int64_t>{4, 5}));
  EXPECT_FLOAT_EQ(groups[1].min_score, 0.97f);
  EXPECT_TRUE(group_duplicates({}).empty());
}

}  // namespace
}  // namespace xrs
