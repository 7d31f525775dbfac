// IndexReader over an exact index: request validation, filters, joined rows, paging, batches,
// sharing.
#include "index/index_reader.h"

#include <gtest/gtest.h>

#include <thread>

#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

constexpr uint32_t kDim = 32;

struct Fixture {
  std::string dir;
  std::vector<ImageRecord> records;
  std::shared_ptr<const IndexReader> reader;
};

Fixture make(const std::string& name, size_t n) {
  Fixture f;
  f.dir = testing::scratch_dir(name);
  f.records = testing::fill_catalog(f.dir, n, kDim, 5);
  auto reader = IndexReader::open(f.dir);
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  f.reader = std::move(reader).value();
  return f;
}

std::vector<float> stack(const std::vector<ImageRecord>& records) {
  std::vector<float> out;
  for (const auto& r : records) out.insert(out.end(), r.embedding.begin(), r.embedding.end());
  return out;
}

TEST(SearchTest, ResultsJoinRowsAndEqualBruteForce) {
  Fixture f = make("search_bruteforce", 300);
  ASSERT_EQ(f.reader->size(), 300u);
  EXPECT_EQ(f.reader->load_report().kind, IndexKind::kExact);
  EXPECT_EQ(f.reader->categories(), (std::vector<std::string>{"chest", "dental", "hand"}));
  std::vector<int64_t> ids;
  RowBitset chest(f.records.size());
  for (size_t r = 0; r < f.records.size(); ++r) {
    ids.push_back(f.records[r].id);
    if (f.records[r].category == "chest") chest.set(r);
  }
  std::vector<float> data = stack(f.records);
  std::vector<float> queries = testing::clustered_unit_vectors(10, kDim, 12, 0.8f, 77, 99);
  for (size_t q = 0; q < 10; ++q) {
    std::vector<float> query(&queries[q * kDim], &queries[(q + 1) * kDim]);
    std::vector<float> scaled = query;
    for (float& v : scaled) v *= 3.5f;  // not normalised: the reader normalises
    SearchRequest req;
    req.k = 20;
    req.min_score = 0.3f;
    req.category = "chest";
    req.exclude_ids = {ids[3 * q]};
    auto results = f.reader->search(scaled, req);
    ASSERT_TRUE(results.is_ok()) << results.status().to_string();
    auto ref = testing::brute_force(ids, data, kDim, query.data(), 20, 0.3, &chest, ids[3 * q]);
    ASSERT_EQ(results->size(), ref.size()) << "query " << q;
    for (size_t i = 0; i < ref.size(); ++i) {
      const SearchResult& r = (*results)[i];
      EXPECT_EQ(r.rank, i + 1);
      EXPECT_EQ(r.id, ref[i].id) << "query " << q << " rank " << i;
      EXPECT_NEAR(r.score, ref[i].score, 1e-5);
      const ImageRecord* row = f.reader->find(r.id);
      ASSERT_NE(row, nullptr);
      EXPECT_EQ(r.image, row);
      EXPECT_EQ(r.image->category, "chest");
    }
  }
}

TEST(SearchTest, RequestsAreValidated) {
  Fixture f = make("search_validate", 30);
  std::vector<float> q = f.records[0].embedding;
  auto code = [&](const SearchRequest& req, std::vector<float> query, const std::string& text) {
    auto r = f.reader->search(query, req);
    EXPECT_FALSE(r.is_ok()) << text;
    if (r.is_ok()) return StatusCode::kOk;
    EXPECT_NE(r.status().message().find(text), std::string::npos) << r.status().to_string();
    return r.status().code();
  };
  SearchRequest req;
  req.k = 0;
  EXPECT_EQ(code(req, q, "k is 0; it must be at least 1"), StatusCode::kInvalidArgument);
  // Any k is served (the cap on page size is the service's policy): all 30 rows here.
  req.k = 1000;
  EXPECT_EQ(f.reader->search(q, req).value().size(), 30u);
  req.offset = SIZE_MAX;
  EXPECT_EQ(code(req, q, "too large"), StatusCode::kInvalidArgument);
  req.offset = 0;
  req.k = 20;
  EXPECT_TRUE(f.reader->search(q, req).is_ok());
  req.min_score = std::nanf("");
  EXPECT_EQ(code(req, q, "min_score"), StatusCode::kInvalidArgument);
  req.min_score = 0;
  EXPECT_EQ(code(req, std::vector<float>(kDim + 1, 0.1f), "dim 32"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(req, std::vector<float>(kDim, 0.0f), "all zeros"), StatusCode::kInvalidArgument);
  std::vector<float> inf = q;
  inf[0] = INFINITY;
  EXPECT_EQ(code(req, inf, "not finite"), StatusCode::kInvalidArgument);
  req.category = "knee";
  EXPECT_EQ(code(req, q, "unknown category 'knee' (the index has: chest, dental, hand)"),
            StatusCode::kInvalidArgument);
}

TEST(SearchTest, QueryByIndexedImageAndThreshold) {
  Fixture f = make("search_by_image", 60);
  const ImageRecord& self = f.records[10];
  auto stored = f.reader->embedding(self.id);
  ASSERT_TRUE(stored.is_ok());
  EXPECT_EQ(*stored, self.embedding);
  EXPECT_EQ(f.reader->embedding(-1).status().code(), StatusCode::kNotFound);
  SearchRequest req;
  req.k = 5;
  auto with_self = f.reader->search(*stored, req).value();
  ASSERT_FALSE(with_self.empty());
  EXPECT_EQ(with_self[0].id, self.id);
  EXPECT_NEAR(with_self[0].score, 1.0f, 1e-5);
  req.exclude_ids = {self.id};
  auto without = f.reader->search(*stored, req).value();
  ASSERT_EQ(without.size(), 5u);
  EXPECT_EQ(without[0].id, with_self[1].id);
  req.min_score = 0.999f;
  EXPECT_TRUE(f.reader->search(*stored, req).value().empty());
  req.min_score = 1.1f;
  req.exclude_ids.clear();
  EXPECT_TRUE(f.reader->search(*stored, req).value().empty());
}

TEST(SearchTest, SharedByManyThreads) {
  Fixture f = make("search_threads", 400);
  std::vector<float> queries = testing::random_unit_vectors(40, kDim, 3);
  SearchRequest req;
  req.k = 10;
  std::vector<std::vector<SearchResult>> expected;
  for (size_t q = 0; q < 40; ++q) {
    expected.push_back(f.reader->search({&queries[q * kDim], kDim}, req).value());
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t q = 0; q < 40; ++q) {
          auto r = f.reader->search({&queries[q * kDim], kDim}, req).value();
          for (size_t i = 0; i < r.size(); ++i) mismatches[t] += r[i].id != expected[q][i].id;
          mismatches[t] += r.size() != expected[q].size();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(SearchTest, SnapshotModelCheckAndEmptyIndex) {
  Fixture f = make("search_snapshot", 9);
  EXPECT_TRUE(f.reader->check_model(testing::test_model(kDim)).is_ok());
  ModelIdentity other = testing::test_model(kDim);
  other.weights_sha256 = std::string(64, 'c');
  EXPECT_EQ(f.reader->check_model(other).code(), StatusCode::kFailedPrecondition);

  testing::fill_catalog(f.dir, 5, kDim, 6, "late");  // after the reader opened
  EXPECT_EQ(f.reader->size(), 9u);
  EXPECT_EQ(IndexReader::open(f.dir).value()->size(), 14u);

  std::string empty = testing::scratch_dir("search_empty");
  ASSERT_TRUE(Catalog::open_or_create(empty, testing::test_model(kDim)).is_ok());
  auto reader = IndexReader::open(empty).value();
  EXPECT_EQ(reader->size(), 0u);
  SearchRequest req;
  EXPECT_TRUE(reader->search(f.records[0].embedding, req).value().empty());
  req.category = "chest";
  EXPECT_EQ(reader->search(f.records[0].embedding, req).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexReader::open(empty + "/nothing").status().code(), StatusCode::kNotFound);
}

// Pages of one ranking (offset, k) concatenate to the unpaged ranking: no gap, no repeat, ranks
// continue; several excluded ids are all left out.
TEST(SearchTest, PagesConcatenateAndSeveralIdsAreExcluded) {
  Fixture f = make("search_pages", 200);
  const std::vector<float> q = testing::random_unit_vectors(1, kDim, 17);
  SearchRequest all;
  all.k = 200;
  all.min_score = -1.0f;
  all.exclude_ids = {f.records[5].id, f.records[9].id, f.records[70].id};
  const auto full = f.reader->search(q, all).value();
  ASSERT_GT(full.size(), 20u);
  for (const SearchResult& r : full) {
    EXPECT_NE(r.id, f.records[5].id);
    EXPECT_NE(r.id, f.records[9].id);
    EXPECT_NE(r.id, f.records[70].id);
  }
  std::vector<int64_t> ids;
  for (const SearchResult& r : full) ids.push_back(r.id);
  std::vector<float> data = stack(f.records);
  std::vector<int64_t> all_ids;
  for (const auto& r : f.records) all_ids.push_back(r.id);
  auto ref = testing::brute_force(all_ids, data, kDim, q.data(), 200, -1.0, nullptr, std::nullopt);
  std::vector<int64_t> ref_ids;
  for (const auto& h : ref) {
    if (h.id != f.records[5].id && h.id != f.records[9].id && h.id != f.records[70].id) {
      ref_ids.push_back(h.id);
    }
  }
  EXPECT_EQ(ids, ref_ids);

  for (size_t page : {1u, 3u, 7u}) {
    std::vector<int64_t> joined;
    SearchRequest req = all;
    req.k = page;
    for (req.offset = 0;; req.offset += page) {
      const auto got = f.reader->search(q, req).value();
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].rank, req.offset + i + 1);
        joined.push_back(got[i].id);
      }
      if (got.size() < page) break;
    }
    EXPECT_EQ(joined, ids) << "page size " << page;
  }
}

// A batch answers each query as search() does.
TEST(SearchTest, BatchEqualsSingleQueries) {
  Fixture f = make("search_batch", 150);
  const std::vector<float> queries = testing::random_unit_vectors(6, kDim, 21);
  SearchRequest req;
  req.k = 7;
  req.offset = 2;
  req.category = "dental";
  const auto batch = f.reader->search_batch(queries, req).value();
  ASSERT_EQ(batch.size(), 6u);
  for (size_t q = 0; q < 6; ++q) {
    const auto one = f.reader->search({&queries[q * kDim], kDim}, req).value();
    ASSERT_EQ(batch[q].size(), one.size());
    for (size_t i = 0; i < one.size(); ++i) {
      EXPECT_EQ(batch[q][i].id, one[i].id);
      EXPECT_NEAR(batch[q][i].score, one[i].score, 1e-6);
      EXPECT_EQ(batch[q][i].rank, one[i].rank);
    }
  }
  std::vector<float> bad = queries;
  bad[kDim * 3 + 1] = NAN;
  EXPECT_NE(f.reader->search_batch(bad, req).status().message().find("query 3"), std::string::npos);
  EXPECT_EQ(f.reader->search_batch({queries.data(), kDim + 1}, req).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xrs
