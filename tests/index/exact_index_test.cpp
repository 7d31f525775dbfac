// The exact index against a brute-force loop in double precision.
#include <gtest/gtest.h>

#include <random>

#include "index/vector_index.h"
#include "index_test_data.h"

namespace xrs {
namespace {

using testing::brute_force;
using testing::make_set;
using testing::RefHit;

VectorIndexOptions exact() {
  VectorIndexOptions o;
  o.kind = IndexKind::kExact;
  return o;
}

// `hits` must be the reference list (`what` names the query as "<query>/k=<k>"), except that
// float32 rounding (<= eps) may swap hits whose reference scores are that close, or move one across
// min_score.
void expect_matches(const std::vector<Hit>& hits, const std::vector<RefHit>& ref,
                    const std::vector<int64_t>& ids, const std::vector<float>& data, size_t dim,
                    const float* query, double min_score, const std::string& what) {
  constexpr double kEps = 1e-5;
  auto score_of = [&](int64_t id) {
    size_t r = static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
    double s = 0;
    for (size_t i = 0; i < dim; ++i) s += static_cast<double>(data[r * dim + i]) * query[i];
    return s;
  };
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].score, score_of(hits[i].id), kEps) << what;
    if (i > 0) {
      EXPECT_TRUE(hits[i - 1].score > hits[i].score ||
                  (hits[i - 1].score == hits[i].score && hits[i - 1].id < hits[i].id))
          << what << ": not in order at " << i;
    }
  }
  if (hits.size() != ref.size()) {
    // Only a score within eps of the threshold may be in one list and not the other.
    const RefHit& edge = hits.size() < ref.size() ? ref[hits.size()] : ref.back();
    EXPECT_NEAR(edge.score, min_score, kEps)
        << what << ": " << hits.size() << " vs " << ref.size() << " hits";
  }
  for (size_t i = 0; i < std::min(hits.size(), ref.size()); ++i) {
    if (hits[i].id != ref[i].id) {
      EXPECT_NEAR(score_of(hits[i].id), ref[i].score, kEps) << what << ": rank " << i;
    }
  }
}

TEST(ExactIndexTest, EqualsBruteForceOnRandomData) {
  const size_t n = 3000, dim = 64;
  std::vector<float> data = testing::random_unit_vectors(n, dim, 7);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = 7 + 3 * static_cast<int64_t>(i);  // sparse ids
  auto index = build_vector_index(make_set(ids, data, dim), exact()).value();
  ASSERT_EQ(index->kind(), IndexKind::kExact);
  std::vector<float> queries = testing::random_unit_vectors(20, dim, 8);
  RowBitset third(n);
  std::mt19937 rng(3);
  for (size_t r = 0; r < n; ++r) {
    if (rng() % 3 == 0) third.set(r);
  }
  int checked = 0;
  for (size_t q = 0; q < 20; ++q) {
    const float* query = &queries[q * dim];
    for (size_t k : {1, 5, 20, 100}) {
      for (double min_score : {-2.0, 0.0, 0.2}) {
        for (bool filtered : {false, true}) {
          VectorSearchOptions o;
          o.k = k;
          o.min_score = static_cast<float>(min_score);
          if (filtered) {
            o.allow = &third;
            o.exclude_id = ids[q * 7];
          }
          auto hits = index->search({query, dim}, o).value();
          auto ref = brute_force(ids, data, dim, query, k, o.min_score, o.allow, o.exclude_id);
          expect_matches(hits, ref, ids, data, dim, query, o.min_score,
                         std::to_string(q) + "/k=" + std::to_string(k));
          for (const Hit& h : hits) {
            if (filtered) {
              EXPECT_NE(h.id, *o.exclude_id);
              EXPECT_TRUE(third.test(*index->row_of(h.id)));
            }
            EXPECT_GE(h.score, o.min_score);
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 20 * 4 * 3 * 2);
}

// Vectors with four entries of +-0.5 (norm 1): every dot product is an exact multiple of 0.25, so
// scores tie exactly and the order must fall back to ascending id.
TEST(ExactIndexTest, TiesAreOrderedByIdAndBatchEqualsSingle) {
  const size_t n = 500, dim = 8;
  std::mt19937 rng(11);
  std::vector<float> data(n * dim, 0.0f);
  for (size_t r = 0; r < n; ++r) {
    for (int j = 0; j < 4; ++j) data[r * dim + (rng() % 2) * 4 + j] = rng() % 2 ? 0.5f : -0.5f;
  }
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = 1000 + 2 * static_cast<int64_t>(i);
  auto index = build_vector_index(make_set(ids, data, dim), exact()).value();
  const size_t nq = 9;
  std::vector<float> queries(data.begin(), data.begin() + nq * dim);
  VectorSearchOptions o;
  o.k = 25;
  o.min_score = 0.25f;
  auto batch = index->search_batch(queries, o).value();
  ASSERT_EQ(batch.size(), nq);
  for (size_t q = 0; q < nq; ++q) {
    auto ref = brute_force(ids, data, dim, &queries[q * dim], o.k, o.min_score, nullptr, {});
    auto single = index->search({&queries[q * dim], dim}, o).value();
    ASSERT_EQ(single.size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(single[i].id, ref[i].id) << "query " << q << " rank " << i;
      EXPECT_EQ(single[i].score, static_cast<float>(ref[i].score));
    }
    EXPECT_EQ(batch[q], single) << "query " << q;
  }
}

TEST(ExactIndexTest, KLargerThanIndexAndEmptyIndex) {
  const size_t n = 10, dim = 4;
  std::vector<float> data = testing::random_unit_vectors(n, dim, 1);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i) + 1;
  auto index = build_vector_index(make_set(ids, data, dim), exact()).value();
  VectorSearchOptions o;
  o.k = 50;
  auto hits = index->search({data.data(), dim}, o).value();
  ASSERT_EQ(hits.size(), n);
  EXPECT_EQ(hits[0].id, 1);  // the query is row 0 itself
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-6);

  auto empty = build_vector_index(make_set({}, {}, dim), {}).value();
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_TRUE(empty->search({data.data(), dim}, o).value().empty());

  std::vector<float> row(dim);
  ASSERT_TRUE(index->copy_vector(3, row).is_ok());
  EXPECT_TRUE(std::equal(row.begin(), row.end(), data.begin() + 2 * dim));
  EXPECT_EQ(index->copy_vector(99, row).code(), StatusCode::kNotFound);
}

TEST(ExactIndexTest, InvalidArgumentsAreRejected) {
  const size_t n = 10, dim = 4;
  std::vector<float> data = testing::random_unit_vectors(n, dim, 1);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  auto index = build_vector_index(make_set(ids, data, dim), exact()).value();
  std::vector<float> q(data.begin(), data.begin() + dim);
  VectorSearchOptions o;
  EXPECT_EQ(index->search({data.data(), dim + 1}, o).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->search_batch({data.data(), dim + 1}, o).status().code(),
            StatusCode::kInvalidArgument);
  o.k = 0;
  EXPECT_EQ(index->search(q, o).status().code(), StatusCode::kInvalidArgument);
  o.k = 3;
  o.min_score = std::nanf("");
  EXPECT_EQ(index->search(q, o).status().code(), StatusCode::kInvalidArgument);
  o.min_score = 0;
  RowBitset wrong(n + 1, true);
  o.allow = &wrong;
  EXPECT_EQ(index->search(q, o).status().code(), StatusCode::kInvalidArgument);
  o.allow = nullptr;
  q[1] = INFINITY;
  EXPECT_EQ(index->search(q, o).status().code(), StatusCode::kInvalidArgument);

  std::vector<int64_t> unsorted = ids;
  std::swap(unsorted[2], unsorted[3]);
  EXPECT_EQ(build_vector_index(make_set(unsorted, data, dim), {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_index_kind("annoy").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_index_kind("hnsw").value(), IndexKind::kHnsw);
}

TEST(ExactIndexTest, RowBitsetAndKindChoice) {
  RowBitset all(130, true);
  EXPECT_EQ(all.count(), 130u);
  all.reset(129);
  all.reset(0);
  EXPECT_EQ(all.count(), 128u);
  EXPECT_FALSE(all.test(0));
  EXPECT_TRUE(all.test(64));
  VectorIndexOptions o;
  EXPECT_EQ(choose_index_kind(0, o), IndexKind::kExact);
  EXPECT_EQ(choose_index_kind(kAutoApproximateThreshold - 1, o), IndexKind::kExact);
  EXPECT_EQ(choose_index_kind(kAutoApproximateThreshold, o), IndexKind::kIvf);
  o.kind = IndexKind::kHnsw;
  EXPECT_EQ(choose_index_kind(10, o), IndexKind::kHnsw);
  EXPECT_EQ(choose_index_kind(0, o), IndexKind::kExact);
}

}  // namespace
}  // namespace xrs
