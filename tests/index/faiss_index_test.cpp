// The approximate (FAISS) indexes: recall against exact search on clustered data, filters,
// thresholds and the exact fallback.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "index/vector_index.h"
#include "index_test_data.h"

namespace xrs {
namespace {

using testing::brute_force;
using testing::make_set;

constexpr size_t kN = 10000, kDim = 64, kQueries = 200, kK = 10;

struct Data {
  // Queries come from the same mixture (same centres) as the data, as real queries do.
  std::vector<float> vectors = testing::clustered_unit_vectors(kN, kDim, 100, 1.3f, 1, 2);
  std::vector<float> queries = testing::clustered_unit_vectors(kQueries, kDim, 100, 1.3f, 1, 3);
  std::vector<int64_t> ids;
  Data() {
    for (size_t i = 0; i < kN; ++i) ids.push_back(10 + 2 * static_cast<int64_t>(i));
  }
};

const Data& data() {
  static const Data d;
  return d;
}

// Built once per kind and shared by the tests (an index is immutable).
const VectorIndex& built(IndexKind kind) {
  static std::map<IndexKind, std::unique_ptr<VectorIndex>> cache;
  auto& slot = cache[kind];
  if (!slot) {
    VectorIndexOptions o;
    o.kind = kind;
    auto index = build_vector_index(make_set(data().ids, data().vectors, kDim), o);
    EXPECT_TRUE(index.is_ok()) << index.status().to_string();
    slot = std::move(index).value();
  }
  return *slot;
}

// Mean recall@k of `index` against the brute-force reference, with an optional filter.
double recall(const VectorIndex& index, const VectorSearchOptions& o) {
  size_t found = 0, wanted = 0;
  for (size_t q = 0; q < kQueries; ++q) {
    const float* query = &data().queries[q * kDim];
    auto hits = index.search({query, kDim}, o).value();
    auto ref = brute_force(data().ids, data().vectors, kDim, query, o.k, o.min_score, o.allow,
                           o.exclude_id);
    std::set<int64_t> got;
    for (const Hit& h : hits) got.insert(h.id);
    for (const auto& r : ref) found += got.count(r.id);
    wanted += ref.size();
    for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  }
  return static_cast<double>(found) / static_cast<double>(wanted);
}

class FaissIndexTest : public ::testing::TestWithParam<IndexKind> {};

TEST_P(FaissIndexTest, RecallAtTenOnClusteredData) {
  const VectorIndex& index = built(GetParam());
  ASSERT_EQ(index.kind(), GetParam());
  VectorSearchOptions o;
  o.k = kK;
  double r = recall(index, o);
  std::cout << index_kind_name(GetParam()) << " recall@10 = " << r << "\n";
  EXPECT_GE(r, 0.95);
}

TEST_P(FaissIndexTest, PerQueryEffortTradesSpeedForRecall) {
  const VectorIndex& index = built(GetParam());
  VectorSearchOptions low, full;
  low.k = full.k = kK;
  low.nprobe = 1;
  low.ef_search = 1;
  // Every list probed: an IVF search is then exhaustive (brute force up to float rounding).
  full.nprobe = 1u << 20;
  full.ef_search = 1024;
  const double r_low = recall(index, low), r_full = recall(index, full);
  std::cout << index_kind_name(GetParam()) << " recall@10 low effort " << r_low << ", high "
            << r_full << "\n";
  EXPECT_LT(r_low, r_full);
  EXPECT_GE(r_full, GetParam() == IndexKind::kIvf ? 0.999 : 0.99);
}

TEST_P(FaissIndexTest, FiltersAndThresholdAreObeyed) {
  const VectorIndex* index = &built(GetParam());
  RowBitset half(kN), rare(kN);
  for (size_t r = 0; r < kN; ++r) {
    if (r % 2 == 0) half.set(r);
    if (r % 100 == 0) rare.set(r);  // 1% of rows: below the approximate search's reach
  }
  VectorSearchOptions o;
  o.k = kK;
  o.allow = &half;
  double r_half = recall(*index, o);
  std::cout << index_kind_name(GetParam()) << " filtered recall@10 = " << r_half << "\n";
  EXPECT_GE(r_half, 0.9);

  // A very selective filter is answered by an exact scan: identical to brute force.
  o.allow = &rare;
  for (size_t q = 0; q < 20; ++q) {
    const float* query = &data().queries[q * kDim];
    o.exclude_id = data().ids[100 * q];
    auto hits = index->search({query, kDim}, o).value();
    auto ref =
        brute_force(data().ids, data().vectors, kDim, query, kK, o.min_score, &rare, o.exclude_id);
    ASSERT_EQ(hits.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(hits[i].id, ref[i].id);
      EXPECT_NEAR(hits[i].score, ref[i].score, 1e-5);
    }
  }

  // Exclusion and threshold on the unfiltered path.
  o.allow = nullptr;
  for (size_t q = 0; q < 20; ++q) {
    const float* row = &data().vectors[q * 37 * kDim];  // an indexed vector as the query
    o.exclude_id = data().ids[q * 37];
    o.min_score = 0.5f;
    auto hits = index->search({row, kDim}, o).value();
    for (const Hit& h : hits) {
      EXPECT_NE(h.id, *o.exclude_id);
      EXPECT_GE(h.score, 0.5f);
    }
  }
}

TEST_P(FaissIndexTest, SmallIndexKLargerThanNAndCopyVector) {
  const size_t n = 120;
  std::vector<int64_t> ids(data().ids.begin(), data().ids.begin() + n);
  VectorIndexOptions o;
  o.kind = GetParam();
  auto index = build_vector_index(make_set(ids, data().vectors, kDim), o).value();
  VectorSearchOptions s;
  s.k = 500;
  const float* query = data().queries.data();
  auto hits = index->search({query, kDim}, s).value();
  auto ref = brute_force(ids, data().vectors, kDim, query, s.k, s.min_score, nullptr, {});
  ASSERT_EQ(hits.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].id, ref[i].id);

  std::vector<float> v(kDim);
  ASSERT_TRUE(index->copy_vector(ids[7], v).is_ok());
  for (size_t i = 0; i < kDim; ++i) EXPECT_EQ(v[i], data().vectors[7 * kDim + i]);
  EXPECT_EQ(index->copy_vector(-5, v).code(), StatusCode::kNotFound);

  auto batch = index->search_batch({data().queries.data(), 3 * kDim}, s).value();
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].size(), n);
}

TEST_P(FaissIndexTest, SharedByManyThreads) {
  const VectorIndex& index = built(GetParam());
  VectorSearchOptions o;
  o.k = kK;
  std::vector<std::vector<Hit>> expected;
  for (size_t q = 0; q < 50; ++q) {
    expected.push_back(index.search({&data().queries[q * kDim], kDim}, o).value());
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t q = 0; q < 50; ++q) {
        auto hits = index.search({&data().queries[q * kDim], kDim}, o).value();
        mismatches[t] += hits != expected[q];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Kinds, FaissIndexTest,
                         ::testing::Values(IndexKind::kHnsw, IndexKind::kIvf),
                         [](const auto& param_info) {
                           return std::string(index_kind_name(param_info.param));
                         });

TEST(FaissAutoTest, AutomaticChoicePassesTheThreshold) {
  VectorIndexOptions o;
  o.auto_threshold = 1000;
  std::vector<int64_t> ids(data().ids.begin(), data().ids.begin() + 999);
  EXPECT_EQ(build_vector_index(make_set(ids, data().vectors, kDim), o).value()->kind(),
            IndexKind::kExact);
  ids.push_back(data().ids[999]);
  EXPECT_EQ(build_vector_index(make_set(ids, data().vectors, kDim), o).value()->kind(),
            IndexKind::kIvf);
}

}  // namespace
}  // namespace xrs
