// The compressed vector index kinds (f16, ivf-pq): recall@10 against a brute-force loop on
// clustered data, f16 scores within float16 rounding of exact ones, filters, persistence through
// IDX/vectors.faiss and the catalog setting, and refused parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "index/index_reader.h"
#include "index/vectors_file.h"
#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using testing::brute_force;
using testing::make_set;

constexpr size_t kN = 10000, kDim = 64, kQueries = 100, kK = 10;

struct Data {
  std::vector<float> vectors = testing::clustered_unit_vectors(kN, kDim, 100, 1.3f, 1, 2);
  std::vector<float> queries = testing::clustered_unit_vectors(kQueries, kDim, 100, 1.3f, 1, 3);
  std::vector<int64_t> ids;
  Data() {
    for (size_t i = 0; i < kN; ++i) ids.push_back(5 + 3 * static_cast<int64_t>(i));
  }
};

const Data& data() {
  static const Data d;
  return d;
}

std::unique_ptr<VectorIndex> build(const std::string& spec) {
  auto options = parse_vector_index_spec(spec);
  EXPECT_TRUE(options.is_ok()) << options.status().to_string();
  auto index = build_vector_index(make_set(data().ids, data().vectors, kDim), *options);
  EXPECT_TRUE(index.is_ok()) << index.status().to_string();
  return std::move(index).value();
}

// Built once per spec and shared (an index is immutable).
const VectorIndex& built(const std::string& spec) {
  static std::map<std::string, std::unique_ptr<VectorIndex>> cache;
  auto& slot = cache[spec];
  if (!slot) slot = build(spec);
  return *slot;
}

// Mean recall@k against the brute-force reference (double-precision loop over the float32
// vectors), with an optional filter; also checks that every hit is allowed and sorted.
double recall(const VectorIndex& index, const VectorSearchOptions& o) {
  size_t found = 0, wanted = 0;
  for (size_t q = 0; q < kQueries; ++q) {
    const float* query = &data().queries[q * kDim];
    auto hits = index.search({query, kDim}, o).value();
    auto ref = brute_force(data().ids, data().vectors, kDim, query, o.k, o.min_score, o.allow,
                           o.exclude_id);
    EXPECT_EQ(hits.size(), ref.size());
    std::set<int64_t> got;
    for (const Hit& h : hits) {
      got.insert(h.id);
      if (o.allow != nullptr) {
        EXPECT_TRUE(o.allow->test(*index.row_of(h.id)));
      }
    }
    for (const auto& r : ref) found += got.count(r.id);
    wanted += ref.size();
    for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
  }
  return static_cast<double>(found) / static_cast<double>(wanted);
}

TEST(CompressedIndexTest, F16RecallEqualsExactUpToTies) {
  const VectorIndex& index = built("f16");
  ASSERT_EQ(index.kind(), IndexKind::kF16);
  VectorSearchOptions o;
  o.k = kK;
  const double r = recall(index, o);
  std::cout << "f16 recall@10 = " << r << "\n";
  EXPECT_GE(r, 0.99);
}

TEST(CompressedIndexTest, F16ScoresEqualExactWithinHalfRounding) {
  const VectorIndex& index = built("f16");
  VectorSearchOptions o;
  o.k = 50;
  double worst = 0;
  for (size_t q = 0; q < kQueries; ++q) {
    const float* query = &data().queries[q * kDim];
    auto hits = index.search({query, kDim}, o).value();
    auto ref = brute_force(data().ids, data().vectors, kDim, query, data().ids.size(), -1e9,
                           nullptr, std::nullopt);
    std::map<int64_t, double> exact;
    for (const auto& h : ref) exact[h.id] = h.score;
    const double kth = ref[o.k - 1].score;
    for (const Hit& h : hits) {
      const size_t row = *index.row_of(h.id);
      // Rounding each stored value to float16 moves it by at most 2^-11 of itself, so the score
      // moves by at most 2^-11 * sum |q_i v_i|; float32 accumulation adds a little.
      double bound = 0;
      for (size_t i = 0; i < kDim; ++i) {
        bound += std::fabs(static_cast<double>(query[i]) * data().vectors[row * kDim + i]);
      }
      bound = bound * std::ldexp(1.0, -11) + 1e-6;
      const double diff = std::fabs(h.score - exact.at(h.id));
      worst = std::max(worst, diff);
      EXPECT_LE(diff, bound) << "query " << q << " id " << h.id;
      // A hit can only displace an exact top-k item that is within rounding of it.
      EXPECT_GE(exact.at(h.id), kth - 2 * bound) << "query " << q << " id " << h.id;
    }
  }
  std::cout << "f16 largest score difference from exact: " << worst << "\n";
  EXPECT_GT(worst, 0);  // the vectors really are rounded
}

TEST(CompressedIndexTest, IvfPqRecallAboveFloor) {
  // m = 32 codes of 2 dimensions each (32 bytes per 64-d vector: 1/8 of float32).
  const VectorIndex& index = built("ivf-pq:m=32");
  ASSERT_EQ(index.kind(), IndexKind::kIvfPq);
  EXPECT_NE(index.describe().find("m=32 nbits=8"), std::string::npos) << index.describe();
  VectorSearchOptions o;
  o.k = kK;
  const double r = recall(index, o);
  o.nprobe = 400;  // every list: what is left is the codes' loss
  const double r_all = recall(index, o);
  std::cout << index.describe() << " recall@10 = " << r << ", all lists " << r_all << "\n";
  EXPECT_GE(r, 0.80);
  EXPECT_GE(r_all, r);
}

// build_vector_index_batched: the rows read in batches (never all at once for the compressed
// kinds). f16 gives the same index as the in-memory build (the same search results, bit for bit);
// IVF-PQ trains on evenly spread runs instead of a random sample, so it is held to the same recall
// floor and to within 0.05 of the in-memory build's recall.
RowSource source_of(const Data& d, size_t* calls, size_t* largest) {
  return [&d, calls, largest](size_t begin, size_t count, float* vectors, int64_t* ids) {
    ++*calls;
    *largest = std::max(*largest, count);
    std::copy_n(d.vectors.begin() + begin * kDim, count * kDim, vectors);
    std::copy_n(d.ids.begin() + begin, count, ids);
    return Status::ok();
  };
}

TEST(CompressedIndexTest, BatchedBuildsReadBatchesAndMatchTheInMemoryBuild) {
  VectorSearchOptions o;
  o.k = kK;
  {
    size_t calls = 0, largest = 0;
    auto batched = build_vector_index_batched(kN, kDim, source_of(data(), &calls, &largest),
                                              *parse_vector_index_spec("f16"), 1000);
    ASSERT_TRUE(batched.is_ok()) << batched.status().to_string();
    EXPECT_EQ(calls, kN / 1000);
    EXPECT_EQ(largest, 1000u);
    const VectorIndex& whole = built("f16");
    for (size_t q = 0; q < kQueries; ++q) {
      const float* query = &data().queries[q * kDim];
      auto a = (*batched)->search({query, kDim}, o).value();
      auto b = whole.search({query, kDim}, o).value();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id);
        EXPECT_EQ(a[i].score, b[i].score);
      }
    }
  }
  size_t calls = 0, largest = 0;
  auto batched = build_vector_index_batched(kN, kDim, source_of(data(), &calls, &largest),
                                            *parse_vector_index_spec("ivf-pq:m=32"), 1500);
  ASSERT_TRUE(batched.is_ok()) << batched.status().to_string();
  ASSERT_EQ((*batched)->kind(), IndexKind::kIvfPq);
  EXPECT_EQ(largest, 1500u);          // never more than one batch (the sample runs are smaller)
  EXPECT_GE(calls, 64u + kN / 1500);  // 64 sample runs, then the batches
  const double r = recall(**batched, o), r_whole = recall(built("ivf-pq:m=32"), o);
  std::cout << "batched ivf-pq recall@10 = " << r << ", in memory " << r_whole << "\n";
  EXPECT_GE(r, 0.80);
  EXPECT_NEAR(r, r_whole, 0.05);
  for (size_t i = 0; i < kN; i += 997) EXPECT_EQ((*batched)->row_of(data().ids[i]), i);
}

TEST(CompressedIndexTest, BatchedBuildsReportTheSourcesErrorsAndBadIds) {
  size_t calls = 0, largest = 0;
  const RowSource real = source_of(data(), &calls, &largest);
  const RowSource failing = [&real](size_t begin, size_t count, float* vectors, int64_t* ids) {
    return begin >= 4000 ? Status::io_error("disk gone") : real(begin, count, vectors, ids);
  };
  for (const char* spec : {"f16", "ivf-pq:m=32", "exact"}) {
    auto r = build_vector_index_batched(kN, kDim, failing, *parse_vector_index_spec(spec), 1000);
    ASSERT_FALSE(r.is_ok()) << spec;
    EXPECT_NE(r.status().message().find("disk gone"), std::string::npos) << r.status().to_string();
    // Where it was: the training sample's run or the batch that failed.
    EXPECT_NE(r.status().message().find(" row"), std::string::npos) << r.status().to_string();
  }
  const RowSource repeated = [](size_t, size_t count, float* vectors, int64_t* ids) {
    for (size_t i = 0; i < count * kDim; ++i) vectors[i] = i % kDim == 0 ? 1.0f : 0.0f;
    for (size_t i = 0; i < count; ++i) ids[i] = 7;  // not increasing
    return Status::ok();
  };
  auto r = build_vector_index_batched(kN, kDim, repeated, *parse_vector_index_spec("f16"), 1000);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  EXPECT_NE(r.status().message().find("strictly increasing"), std::string::npos);
}

TEST(CompressedIndexTest, IvfPqFiltersAndThresholds) {
  const VectorIndex& index = built("ivf-pq:m=32");
  RowBitset half(kN);
  for (size_t r = 0; r < kN; r += 2) half.set(r);
  VectorSearchOptions o;
  o.k = kK;
  o.allow = &half;
  const double r_half = recall(index, o);
  std::cout << "ivf-pq filtered recall@10 = " << r_half << "\n";
  EXPECT_GE(r_half, 0.75);

  // Very selective: 5 allowed rows, all of them come back whatever lists they sit in.
  RowBitset few(kN);
  for (size_t r : {3, 1700, 4242, 8001, 9999}) few.set(r);
  o.allow = &few;
  o.k = 10;
  auto hits = index.search({&data().queries[0], kDim}, o).value();
  ASSERT_EQ(hits.size(), 5u);
  for (const Hit& h : hits) EXPECT_TRUE(few.test(*index.row_of(h.id)));

  // exclude_id and min_score.
  VectorSearchOptions e;
  e.k = 3;
  e.exclude_id = data().ids[0];
  const std::vector<Hit> others = index.search({&data().vectors[0], kDim}, e).value();
  EXPECT_EQ(others.size(), 3u);
  for (const Hit& h : others) EXPECT_NE(h.id, data().ids[0]);
  e.min_score = 2.0f;
  EXPECT_TRUE(index.search({&data().vectors[0], kDim}, e).value().empty());
}

TEST(CompressedIndexTest, F16FiltersAreExact) {
  const VectorIndex& index = built("f16");
  RowBitset third(kN);
  for (size_t r = 0; r < kN; r += 3) third.set(r);
  VectorSearchOptions o;
  o.k = kK;
  o.allow = &third;
  EXPECT_GE(recall(index, o), 0.99);
}

TEST(CompressedIndexTest, CopyVectorIsTheStoredApproximation) {
  for (const char* spec : {"f16", "ivf-pq:m=32"}) {
    const VectorIndex& index = built(spec);
    std::vector<float> v(kDim);
    ASSERT_TRUE(index.copy_vector(data().ids[42], v).is_ok());
    double dot = 0;
    for (size_t i = 0; i < kDim; ++i)
      dot += static_cast<double>(v[i]) * data().vectors[42 * kDim + i];
    EXPECT_GT(dot, std::string(spec) == "f16" ? 0.9999 : 0.8) << spec;
  }
}

TEST(CompressedIndexTest, PersistedFilesGiveTheSameResults) {
  const std::string dir = testing::scratch_dir("compressed_roundtrip");
  const VectorsFileStamp stamp{std::string(32, 'c'), 7, kDim};
  for (const char* spec : {"f16", "ivf-pq:m=32"}) {
    const VectorIndex& index = built(spec);
    const std::string path = dir + "/" + std::string(index_kind_name(index.kind())) + ".faiss";
    ASSERT_TRUE(write_vectors_file(path, index, stamp).is_ok());
    auto loaded =
        read_vectors_file(path, index.kind(), stamp, data().ids, *parse_vector_index_spec(spec));
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_EQ((*loaded)->describe(), index.describe());
    VectorSearchOptions o;
    o.k = kK;
    for (size_t q = 0; q < 20; ++q) {
      auto a = index.search({&data().queries[q * kDim], kDim}, o).value();
      auto b = (*loaded)->search({&data().queries[q * kDim], kDim}, o).value();
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id) << spec;
        EXPECT_EQ(a[i].score, b[i].score) << spec;
      }
    }
    // Asked for other PQ parameters now: the file is stale.
    if (index.kind() == IndexKind::kIvfPq) {
      auto other = read_vectors_file(path, index.kind(), stamp, data().ids,
                                     *parse_vector_index_spec("ivf-pq:m=16"));
      EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_NE(other.status().message().find("m=32"), std::string::npos)
          << other.status().message();
    }
  }
}

TEST(CompressedIndexTest, ReaderFollowsTheRecordedSetting) {
  const std::string dir = testing::scratch_dir("compressed_setting");
  auto records = testing::fill_catalog(dir, 600, 32, 5);
  auto set = [&](const std::string& spec) {
    auto catalog = Catalog::open(dir, Catalog::Mode::kReadWrite).value();
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.set_setting(kSettingVectorIndex, spec).is_ok());
    ASSERT_TRUE(tx.commit().is_ok());
  };
  set("ivf-pq:m=8");
  auto reader = IndexReader::open(dir).value();
  EXPECT_EQ(reader->load_report().kind, IndexKind::kIvfPq);
  EXPECT_FALSE(reader->load_report().from_file);
  reader = IndexReader::open(dir).value();
  EXPECT_TRUE(reader->load_report().from_file) << reader->load_report().rebuild_reason;
  SearchRequest req;
  req.k = 5;
  auto hits = reader->search(records[10].embedding, req).value();
  ASSERT_EQ(hits.size(), 5u);
  EXPECT_EQ(hits[0].id, records[10].id);

  set("f16");
  reader = IndexReader::open(dir).value();
  EXPECT_EQ(reader->load_report().kind, IndexKind::kF16);
  hits = reader->search(records[10].embedding, req).value();
  EXPECT_EQ(hits[0].id, records[10].id);

  // An explicit kind overrides the setting; "auto" restores the automatic choice.
  IndexReaderOptions exact;
  exact.vectors.kind = IndexKind::kExact;
  EXPECT_EQ(IndexReader::open(dir, exact).value()->load_report().kind, IndexKind::kExact);
  set("auto");
  EXPECT_EQ(IndexReader::open(dir).value()->load_report().kind, IndexKind::kExact);
}

TEST(CompressedIndexTest, TooFewVectorsForIvfPqAreSearchedExactly) {
  const std::string dir = testing::scratch_dir("compressed_small");
  auto records = testing::fill_catalog(dir, 100, 32, 6);
  {
    auto catalog = Catalog::open(dir, Catalog::Mode::kReadWrite).value();
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.set_setting(kSettingVectorIndex, "ivf-pq").is_ok());
    ASSERT_TRUE(tx.commit().is_ok());
  }
  auto reader = IndexReader::open(dir).value();
  EXPECT_EQ(reader->load_report().kind, IndexKind::kExact);
  // The library call itself refuses, saying why.
  VectorIndexOptions o;
  o.kind = IndexKind::kIvfPq;
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  for (const auto& r : records) {
    ids.push_back(r.id);
    vectors.insert(vectors.end(), r.embedding.begin(), r.embedding.end());
  }
  auto index = build_vector_index(make_set(ids, vectors, 32), o);
  ASSERT_EQ(index.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(index.status().message().find("needs at least 256 vectors"), std::string::npos)
      << index.status().message();
}

TEST(CompressedIndexTest, BadParametersAreRefusedClearly) {
  struct Case {
    const char* spec;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"pq", "unknown vector index kind 'pq'"},
           {"ivf-pq:nbits=3", "nbits=3 is out of range"},
           {"ivf-pq:nbits=17", "nbits=17 is out of range"},
           {"ivf-pq:m=x", "m='x' is not a whole number"},
           {"ivf-pq:m=-4", "is not a whole number"},
           {"ivf-pq:m", "'m' is not NAME=VALUE"},
           {"ivf-pq:nlist=8,efsearch=3", "ivf-pq has no parameter 'efsearch'"},
           {"ivf:m=8", "ivf has no parameter 'm' (it has nlist, nprobe)"},
           {"f16:m=8", "f16 takes no parameters"},
           {"exact:nprobe=3", "exact takes no parameters"},
           {"hnsw:m=0", "m must be at least 1"},
           {"auto:m=1", "'auto' takes no parameters"},
       }) {
    auto parsed = parse_vector_index_spec(c.spec);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.spec;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos)
        << c.spec << ": " << parsed.status().message();
  }
  // m must divide the dimension: known when the index is built.
  auto options = parse_vector_index_spec("ivf-pq:m=7").value();
  auto index = build_vector_index(make_set(data().ids, data().vectors, kDim), options);
  EXPECT_EQ(index.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(index.status().message().find("m=7 does not divide the dimension 64"),
            std::string::npos)
      << index.status().message();
}

TEST(CompressedIndexTest, SpecsRoundTrip) {
  for (const char* spec : {"auto", "exact", "f16", "ivf", "ivf:nlist=100,nprobe=9", "ivf-pq",
                           "ivf-pq:nprobe=40,m=32,nbits=6", "hnsw:m=16,ef_search=200"}) {
    auto parsed = parse_vector_index_spec(spec);
    ASSERT_TRUE(parsed.is_ok()) << spec << ": " << parsed.status().to_string();
    EXPECT_EQ(vector_index_spec(*parsed), spec);
  }
  EXPECT_EQ(vector_index_spec(parse_vector_index_spec("").value()), "auto");
  EXPECT_EQ(vector_index_spec(parse_vector_index_spec("ivf-pq:nbits=8").value()), "ivf-pq");
}

}  // namespace
}  // namespace xrs
