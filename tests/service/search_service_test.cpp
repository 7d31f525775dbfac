// The whole read path on a real index: a copy of the X-ray dataset is validated and indexed with
// the tiny fixture model, then SearchService answers text, image and by-id queries. Every answer
// is checked against a brute-force cosine loop (double precision) over the embeddings read back
// from the catalog, and every stored embedding against ClipModel::embed_image of its file.
#include "service/clip_search_service.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "dataset/validate.h"
#include "imaging/decode.h"
#include "pipeline/dataset_copy.h"
#include "pipeline/indexer.h"

namespace xrs {
namespace {

using testing::BruteHit;

constexpr size_t kPerCategory = 12;

SearchOptions options(int k, std::optional<float> min_score = {},
                      std::optional<std::string> category = {}, bool exclude_self = true) {
  SearchOptions o;
  o.k = k;
  o.min_score = min_score;
  o.category = std::move(category);
  o.exclude_self = exclude_self;
  return o;
}

SearchServiceOptions service_options(const std::string& index_dir,
                                     const std::string& model_path = {}) {
  SearchServiceOptions o;
  o.index_dir = index_dir;
  o.model_path = model_path;
  return o;
}

class SearchServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::DatasetCopy(testing::make_dataset_copy("service-flow", kPerCategory));
    index_dir_ = new std::string(testing::scratch_dir("service-flow-index"));
    const ValidationReport report = validate_dataset(data_->dir(), DatasetConfig{});
    ASSERT_TRUE(report.valid()) << report.problems.front().message;
    ASSERT_EQ(report.rows, int(testing::category_count() * kPerCategory));
    IndexOptions o;
    o.data_dir = data_->dir();
    o.index_dir = *index_dir_;
    o.model_path = testing::tiny_model_dir();
    o.batch = 7;  // batches that do not divide the dataset
    auto summary = run_index(testing::tiny_model(), o);
    ASSERT_TRUE(summary.is_ok()) << summary.status().to_string();
    ASSERT_EQ(summary->added, testing::category_count() * kPerCategory);
    ASSERT_TRUE(summary->skipped.empty());
    auto service = SearchService::open(service_options(*index_dir_));
    ASSERT_TRUE(service.is_ok()) << service.status().to_string();
    service_ = std::move(service).value().release();
    rows_ = new std::map<std::string, ImageRecord>(testing::read_catalog(*index_dir_));
  }
  static void TearDownTestSuite() {
    delete service_;
    delete rows_;
    delete index_dir_;
    delete data_;
  }
  void SetUp() override {
    XRS_REQUIRE_DATASET();
    ASSERT_NE(service_, nullptr) << "the index could not be built (see above)";
  }

  // The service's answer must be the brute-force answer: same images in the same order (ties
  // within float rounding may swap), same scores.
  static void expect_matches(const SearchResponse& got, const std::vector<BruteHit>& want,
                             const std::string& what) {
    ASSERT_EQ(got.results.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) {
      const SearchHit& h = got.results[i];
      EXPECT_EQ(h.rank, int(i) + 1) << what;
      EXPECT_NEAR(h.score, want[i].score, 2e-6) << what << " rank " << i + 1;
      if (h.id != want[i].id) {
        // Only a near-tie may change places.
        const bool tie =
            (i > 0 && std::fabs(want[i - 1].score - want[i].score) < 2e-6) ||
            (i + 1 < want.size() && std::fabs(want[i + 1].score - want[i].score) < 2e-6);
        EXPECT_TRUE(tie) << what << " rank " << i + 1 << ": id " << h.id << " instead of "
                         << want[i].id;
      }
      const ImageRecord* r = service_->index().find(h.id);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(h.image_name, r->image_name);
      EXPECT_EQ(h.category, r->category);
      EXPECT_EQ(h.path, r->relative_path);
      EXPECT_EQ(h.source_url, r->source_url);
    }
  }

  // A min_score halfway between the brute-force scores at ranks n and n+1 (no borderline cases).
  static double threshold_after(const std::vector<BruteHit>& all, size_t n) {
    return (all[n - 1].score + all[n].score) / 2;
  }

  static const ImageRecord& row(const std::string& name) { return rows_->at(name); }

  static testing::DatasetCopy* data_;
  static std::string* index_dir_;
  static SearchService* service_;
  static std::map<std::string, ImageRecord>* rows_;
};

testing::DatasetCopy* SearchServiceTest::data_ = nullptr;
std::string* SearchServiceTest::index_dir_ = nullptr;
SearchService* SearchServiceTest::service_ = nullptr;
std::map<std::string, ImageRecord>* SearchServiceTest::rows_ = nullptr;

TEST_F(SearchServiceTest, StoredEmbeddingsAreThoseOfTheDecodedFiles) {
  ASSERT_EQ(rows_->size(), testing::category_count() * kPerCategory);
  for (const testing::DatasetRow& d : data_->rows()) {
    const ImageRecord& r = row(d.image_name);
    const std::string path = data_->file(d);
    EXPECT_EQ(r.category, d.category);
    EXPECT_EQ(r.source_url, d.source_url);
    EXPECT_EQ(r.relative_path, "raw/" + d.category + "/" + d.image_name);
    EXPECT_EQ(r.sha256, sha256_hex(testing::read_bytes(path))) << d.image_name;
    EXPECT_EQ(r.file_size, std::filesystem::file_size(path));
    auto image = decode_image_file(path);
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();
    EXPECT_EQ(r.width, uint32_t(image->width));
    EXPECT_EQ(r.height, uint32_t(image->height));
    auto e = testing::tiny_model().embed_image(*image);
    ASSERT_TRUE(e.is_ok()) << e.status().to_string();
    EXPECT_LE(testing::max_abs_diff(r.embedding, *e), 1e-5) << d.image_name;
  }
}

TEST_F(SearchServiceTest, TextSearchEqualsBruteForce) {
  for (const std::string query : {"hand x-ray", "chest radiograph", "panoramic dental x-ray"}) {
    auto e = testing::tiny_model().embed_text(query);
    ASSERT_TRUE(e.is_ok());
    const auto all = testing::brute_force(*rows_, *e, rows_->size(), -1.0);
    ASSERT_EQ(all.size(), rows_->size());
    for (int k : {1, 5, 20}) {
      auto got = service_->search_text(query, options(k, -1.0f));
      ASSERT_TRUE(got.is_ok()) << got.status().to_string();
      EXPECT_EQ(got->min_score, -1.0f);
      expect_matches(*got, testing::brute_force(*rows_, *e, k, -1.0), query);
    }
    // A threshold that keeps exactly 3 results, with k larger than that.
    const double t = threshold_after(all, 3);
    auto got = service_->search_text(query, options(10, float(t)));
    ASSERT_TRUE(got.is_ok());
    expect_matches(*got, testing::brute_force(*rows_, *e, 10, float(t)), query + " min_score");
    EXPECT_EQ(got->results.size(), 3u);
    for (const std::string& category : testing::categories()) {
      auto c = service_->search_text(query, options(4, -1.0f, category));
      ASSERT_TRUE(c.is_ok());
      expect_matches(*c, testing::brute_force(*rows_, *e, 4, -1.0, category), query + category);
      for (const SearchHit& h : c->results) EXPECT_EQ(h.category, category);
    }
  }
}

TEST_F(SearchServiceTest, TextDefaultsToTheTextThreshold) {
  auto e = testing::tiny_model().embed_text("hand x-ray");
  ASSERT_TRUE(e.is_ok());
  auto got = service_->search_text("hand x-ray", {});
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->min_score, kDefaultTextMinScore);
  expect_matches(*got, testing::brute_force(*rows_, *e, kDefaultK, kDefaultTextMinScore), "dflt");
}

TEST_F(SearchServiceTest, AnIndexedImageQueryExcludesItself) {
  const testing::DatasetRow& d = data_->rows()[kPerCategory + 2];
  const std::string bytes = testing::read_bytes(data_->file(d));
  const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const ImageRecord& self = row(d.image_name);
  auto image = decode_image_file(data_->file(d));
  ASSERT_TRUE(image.is_ok());
  auto embedded = testing::tiny_model().embed_image(*image);
  ASSERT_TRUE(embedded.is_ok());
  const std::vector<float>& q = *embedded;
  auto got = service_->search_image(span, options(6, -1.0f));
  ASSERT_TRUE(got.is_ok()) << got.status().to_string();
  expect_matches(*got, testing::brute_force(*rows_, q, 6, -1.0, {}, self.id), "exclude self");
  for (const SearchHit& h : got->results) EXPECT_NE(h.id, self.id);

  auto with_self = service_->search_image(span, options(6, -1.0f, {}, false));
  ASSERT_TRUE(with_self.is_ok());
  expect_matches(*with_self, testing::brute_force(*rows_, q, 6, -1.0), "include self");
  EXPECT_EQ(with_self->results[0].id, self.id);
  EXPECT_NEAR(with_self->results[0].score, 1.0, 1e-5);

  // The image default threshold (0.95) keeps only near-duplicates.
  auto dflt = service_->search_image(span, options(20, {}, {}, false));
  ASSERT_TRUE(dflt.is_ok());
  EXPECT_EQ(dflt->min_score, kDefaultImageMinScore);
  expect_matches(*dflt, testing::brute_force(*rows_, q, 20, kDefaultImageMinScore), "default");

  const std::string last = testing::categories().back();  // hand, or dental in the demo set
  auto filtered = service_->search_image(span, options(5, -1.0f, last));
  ASSERT_TRUE(filtered.is_ok());
  expect_matches(*filtered, testing::brute_force(*rows_, q, 5, -1.0, last, self.id), last);
}

TEST_F(SearchServiceTest, AnImageFromOutsideTheIndexEqualsBruteForce) {
  const testing::DatasetRow outside = testing::rows_not_copied(kPerCategory).back();
  const std::string bytes = testing::read_bytes(testing::shared_file(outside));
  auto image = decode_image_file(testing::shared_file(outside));
  ASSERT_TRUE(image.is_ok());
  auto q = testing::tiny_model().embed_image(*image);
  ASSERT_TRUE(q.is_ok());
  auto got = service_->search_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                    options(8, -1.0f));
  ASSERT_TRUE(got.is_ok());
  expect_matches(*got, testing::brute_force(*rows_, *q, 8, -1.0), outside.image_name);
}

TEST_F(SearchServiceTest, SearchByIdEqualsBruteForce) {
  for (const std::string& name : {data_->rows()[0].image_name, data_->rows().back().image_name}) {
    const ImageRecord& self = row(name);
    auto got = service_->search_by_id(self.id, options(7, -1.0f));
    ASSERT_TRUE(got.is_ok()) << got.status().to_string();
    expect_matches(*got, testing::brute_force(*rows_, self.embedding, 7, -1.0, {}, self.id), name);
    auto c = service_->search_by_id(self.id, options(3, -1.0f, "dental"));
    ASSERT_TRUE(c.is_ok());
    expect_matches(*c, testing::brute_force(*rows_, self.embedding, 3, -1.0, "dental", self.id),
                   name + " dental");
  }
  int64_t unknown = 1;
  for (const auto& [name, r] : *rows_) unknown = std::max(unknown, r.id + 1);
  auto missing = service_->search_by_id(unknown, {});
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// Paging: walking pages of size k (offset 0, k, 2k, ...) until one comes back short gives the
// whole brute-force ranking (threshold and category applied), each image once, ranks 1..n in
// order, ties by id; the first page equals the unpaged answer of the same size.
TEST_F(SearchServiceTest, PagesConcatenateToTheBruteForceRanking) {
  auto text = testing::tiny_model().embed_text("hand x-ray");
  ASSERT_TRUE(text.is_ok());
  const ImageRecord& self = rows_->begin()->second;
  struct Case {
    std::string what;
    std::vector<float> query;
    std::optional<int64_t> id;  // by-id query (excludes itself)
    std::optional<std::string> category;
    double min_score;
  };
  const auto all_text = testing::brute_force(*rows_, *text, rows_->size(), -1.0);
  const std::vector<Case> cases = {
      {"text", *text, {}, {}, -1.0},
      {"text chest", *text, {}, "chest", -1.0},
      {"text threshold", *text, {}, {}, threshold_after(all_text, 23)},
      {"by id", self.embedding, self.id, {}, -1.0},
  };
  for (const Case& c : cases) {
    const auto want =
        testing::brute_force(*rows_, c.query, rows_->size(), c.min_score, c.category, c.id);
    ASSERT_FALSE(want.empty()) << c.what;
    for (int k : {1, 3, 7, 20}) {
      const std::string what = c.what + " k=" + std::to_string(k);
      std::vector<SearchHit> pages;
      std::set<int64_t> seen;
      for (int offset = 0;; offset += k) {
        SearchOptions o = options(k, float(c.min_score), c.category);
        o.offset = offset;
        auto page =
            c.id ? service_->search_by_id(*c.id, o) : service_->search_text("hand x-ray", o);
        ASSERT_TRUE(page.is_ok()) << what << ": " << page.status().to_string();
        ASSERT_LE(page->results.size(), size_t(k));
        for (const SearchHit& h : page->results) {
          EXPECT_TRUE(seen.insert(h.id).second) << what << ": id " << h.id << " repeated";
          pages.push_back(h);
        }
        if (offset == 0) {
          SearchOptions unpaged = options(k, float(c.min_score), c.category);
          auto first = c.id ? service_->search_by_id(*c.id, unpaged)
                            : service_->search_text("hand x-ray", unpaged);
          ASSERT_TRUE(first.is_ok());
          ASSERT_EQ(first->results.size(), page->results.size()) << what;
          for (size_t i = 0; i < page->results.size(); ++i) {
            EXPECT_EQ(first->results[i].id, page->results[i].id) << what;
          }
        }
        if (page->results.size() < size_t(k)) break;
        ASSERT_LT(offset, 100 * k) << what << ": paging does not end";
      }
      SearchResponse joined;
      joined.results = pages;
      expect_matches(joined, want, what);  // same length, ranks 1..n, brute-force order
      for (size_t i = 1; i < pages.size(); ++i) {
        const SearchHit& a = pages[i - 1];
        const SearchHit& b = pages[i];
        EXPECT_TRUE(a.score > b.score || (a.score == b.score && a.id < b.id))
            << what << ": ranks " << i << " and " << i + 1 << " out of order";
      }
    }
  }
  // Past the end: an empty page, not an error.
  SearchOptions far = options(5, -1.0f);
  far.offset = int(rows_->size());
  auto empty = service_->search_text("hand x-ray", far);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->results.empty());
}

// Collapsing near-duplicates (service/collapse.h) against the definition applied here in plain
// loops to the brute-force ranking: walk it best first; a result whose cosine similarity (double
// precision, catalog embeddings) with a kept result above it is >= t is hidden and counted for
// the first such kept result. Pages of every size concatenate to it, counts included. The
// thresholds sit between two neighbouring pair similarities (no borderline pair).
TEST_F(SearchServiceTest, CollapsedPagesConcatenateToTheCollapsedBruteForceRanking) {
  std::map<int64_t, const ImageRecord*> by_id;
  for (const auto& [name, r] : *rows_) by_id[r.id] = &r;
  auto cosine = [](const ImageRecord& a, const ImageRecord& b) {
    double d = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.embedding.size(); ++i) {
      d += double(a.embedding[i]) * b.embedding[i];
      na += double(a.embedding[i]) * a.embedding[i];
      nb += double(b.embedding[i]) * b.embedding[i];
    }
    return d / std::sqrt(na * nb);
  };
  std::vector<double> pairs;
  for (const auto& [a, ra] : by_id) {
    for (const auto& [b, rb] : by_id) {
      // collapse_duplicates takes a cosine in (0, 1]: thresholds among the positive pairs (all
      // of them with the fixture model; the trained model also has negative ones).
      if (a < b && cosine(*ra, *rb) > 0) pairs.push_back(cosine(*ra, *rb));
    }
  }
  std::sort(pairs.rbegin(), pairs.rend());
  std::vector<double> thresholds;
  for (double q : {0.05, 0.3, 0.7}) {
    size_t i = size_t(q * double(pairs.size()));
    while (i + 1 < pairs.size() && pairs[i] - pairs[i + 1] < 1e-5) ++i;
    ASSERT_LT(i + 1, pairs.size());
    thresholds.push_back((pairs[i] + pairs[i + 1]) / 2);
  }
  auto text = testing::tiny_model().embed_text("hand x-ray");
  ASSERT_TRUE(text.is_ok());
  const ImageRecord& self = rows_->begin()->second;
  struct Case {
    std::string what;
    std::vector<float> query;
    std::optional<int64_t> id;
    std::optional<std::string> category;
  };
  const std::vector<Case> cases = {{"text", *text, {}, {}},
                                   {"text chest", *text, {}, "chest"},
                                   {"by id", self.embedding, self.id, {}}};
  for (const Case& c : cases) {
    const auto ranking =
        testing::brute_force(*rows_, c.query, rows_->size(), -1.0, c.category, c.id);
    for (double t : thresholds) {
      std::vector<int64_t> kept;
      std::vector<int> hidden;
      for (const BruteHit& h : ranking) {
        size_t match = kept.size();
        for (size_t j = 0; j < kept.size(); ++j) {
          if (cosine(*by_id[h.id], *by_id[kept[j]]) >= t) {
            match = j;
            break;
          }
        }
        if (match < kept.size()) {
          ++hidden[match];
        } else {
          kept.push_back(h.id);
          hidden.push_back(0);
        }
      }
      ASSERT_LT(kept.size(), ranking.size()) << c.what << " t=" << t << ": nothing collapses";
      for (int k : {1, 3, 7, 20}) {
        const std::string what = c.what + " t=" + std::to_string(t) + " k=" + std::to_string(k);
        std::vector<SearchHit> pages;
        for (int offset = 0;; offset += k) {
          SearchOptions o = options(k, -1.0f, c.category);
          o.offset = offset;
          o.collapse_duplicates = float(t);
          auto page =
              c.id ? service_->search_by_id(*c.id, o) : service_->search_text("hand x-ray", o);
          ASSERT_TRUE(page.is_ok()) << what << ": " << page.status().to_string();
          pages.insert(pages.end(), page->results.begin(), page->results.end());
          if (page->results.size() < size_t(k)) break;
          ASSERT_LT(offset, 100 * k) << what;
        }
        ASSERT_EQ(pages.size(), kept.size()) << what;
        for (size_t i = 0; i < kept.size(); ++i) {
          EXPECT_EQ(pages[i].id, kept[i]) << what << " rank " << i + 1;
          EXPECT_EQ(pages[i].rank, int(i) + 1) << what;
          EXPECT_EQ(pages[i].duplicates_hidden, hidden[i]) << what << " rank " << i + 1;
        }
      }
    }
  }
  // Without collapse nothing is counted; a bad threshold is refused.
  auto plain = service_->search_text("hand x-ray", options(5, -1.0f));
  ASSERT_TRUE(plain.is_ok());
  for (const SearchHit& h : plain->results) EXPECT_EQ(h.duplicates_hidden, 0);
  for (float bad : {0.0f, -0.2f, 1.5f, std::nanf("")}) {
    SearchOptions o = options(5);
    o.collapse_duplicates = bad;
    EXPECT_EQ(service_->search_text("hand x-ray", o).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
}

// A query by embedding equals the query that produced the embedding: text, an outside image,
// an indexed image (which an embedding query does not exclude: it has no identity).
TEST_F(SearchServiceTest, EmbeddingQueryEqualsTheQueryThatProducedIt) {
  auto text = testing::tiny_model().embed_text("chest radiograph");
  ASSERT_TRUE(text.is_ok());
  auto by_text = service_->search_text("chest radiograph", options(20, -1.0f));
  auto by_vector = service_->search_vector(*text, options(20, -1.0f));
  ASSERT_TRUE(by_text.is_ok() && by_vector.is_ok()) << by_vector.status().to_string();
  expect_matches(*by_vector, testing::brute_force(*rows_, *text, 20, -1.0), "vector");
  ASSERT_EQ(by_vector->results.size(), by_text->results.size());
  for (size_t i = 0; i < by_text->results.size(); ++i) {
    EXPECT_EQ(by_vector->results[i].id, by_text->results[i].id);
    EXPECT_EQ(by_vector->results[i].score, by_text->results[i].score);
  }
  const testing::DatasetRow& d = data_->rows()[2];
  const std::string bytes = testing::read_bytes(data_->file(d));
  auto by_image =
      service_->search_image({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                             options(10, -1.0f, {}, /*exclude_self=*/false));
  ASSERT_TRUE(by_image.is_ok());
  auto image = decode_image_file(data_->file(d));
  ASSERT_TRUE(image.is_ok());
  auto e = testing::tiny_model().embed_image(*image);
  ASSERT_TRUE(e.is_ok());
  auto by_image_vector = service_->search_vector(*e, options(10, -1.0f));
  ASSERT_TRUE(by_image_vector.is_ok());
  ASSERT_EQ(by_image_vector->results.size(), by_image->results.size());
  for (size_t i = 0; i < by_image->results.size(); ++i) {
    EXPECT_EQ(by_image_vector->results[i].id, by_image->results[i].id);
    EXPECT_NEAR(by_image_vector->results[i].score, by_image->results[i].score, 1e-6);
  }
  EXPECT_EQ(by_image_vector->results[0].id, row(d.image_name).id);
  // Unscaled: any non-zero length is normalised first.
  std::vector<float> scaled = *text;
  for (float& v : scaled) v *= 7.5f;
  auto by_scaled = service_->search_vector(scaled, options(5, -1.0f));
  ASSERT_TRUE(by_scaled.is_ok());
  expect_matches(*by_scaled, testing::brute_force(*rows_, *text, 5, -1.0), "scaled");
  // The default threshold is the image one.
  auto dflt = service_->search_vector(*text, {});
  ASSERT_TRUE(dflt.is_ok());
  EXPECT_EQ(dflt->min_score, kDefaultImageMinScore);
  // Wrong dimension, non-finite values, all zeros.
  std::vector<std::vector<float>> bad = {{},
                                         std::vector<float>(text->size() + 1, 0.1f),
                                         std::vector<float>(text->size() - 1, 0.1f),
                                         std::vector<float>(text->size(), 0.0f)};
  for (float v : {NAN, INFINITY, -INFINITY}) {
    bad.push_back(*text);
    bad.back()[5] = v;
  }
  for (const auto& b : bad) {
    auto r = service_->search_vector(b, options(5, -1.0f));
    ASSERT_FALSE(r.is_ok()) << b.size();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  }
  EXPECT_EQ(service_->info().dim, text->size());
}

TEST_F(SearchServiceTest, BadQueriesAreInvalidArguments) {
  const std::vector<std::pair<std::string, SearchOptions>> bad = {
      {"k 0", options(0)},
      {"k 21", options(21)},
      {"NaN", options(5, NAN)},
      {"min_score 1.5", options(5, 1.5f)},
      {"unknown category", options(5, {}, "skull")},
      {"empty category", options(5, {}, "")},
      {"offset -1",
       [] {
         SearchOptions o;
         o.offset = -1;
         return o;
       }()},
      {"offset 10001",
       [] {
         SearchOptions o;
         o.offset = kMaxOffset + 1;
         return o;
       }()},
  };
  for (const auto& [what, options] : bad) {
    auto r = service_->search_text("chest", options);
    ASSERT_FALSE(r.is_ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << what;
  }
  EXPECT_EQ(service_->search_text("  \t", {}).status().code(), StatusCode::kInvalidArgument);
  const std::string junk = "this is not an image";
  auto r = service_->search_image({reinterpret_cast<const uint8_t*>(junk.data()), junk.size()}, {});
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(service_->search_image({}, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SearchServiceTest, InfoAndImagesComeFromTheIndex) {
  const BackendInfo info = service_->info();
  EXPECT_EQ(info.images, testing::category_count() * kPerCategory);
  EXPECT_EQ(info.categories, testing::categories());
  auto identity = testing::tiny_model().identity();
  ASSERT_TRUE(identity.is_ok());
  EXPECT_EQ(info.model.rfind(identity->name + " " + identity->weights_sha256.substr(0, 8), 0), 0u)
      << info.model;
  for (const auto& [name, r] : *rows_) {
    auto image = service_->image(r.id);
    ASSERT_TRUE(image.is_ok()) << image.status().to_string();
    EXPECT_EQ(image->image_name, name);
    EXPECT_TRUE(std::filesystem::equivalent(image->absolute_path, data_->file(name))) << name;
  }
  EXPECT_EQ(service_->image(-5).status().code(), StatusCode::kNotFound);
}

TEST_F(SearchServiceTest, AnotherModelIsRefused) {
  auto first = testing::tiny_model().identity();
  auto second = ClipModel::load(testing::other_model_dir());
  ASSERT_TRUE(first.is_ok() && second.is_ok());
  auto second_identity = (*second)->identity();
  ASSERT_TRUE(second_identity.is_ok());
  auto other = SearchService::open(service_options(*index_dir_, testing::other_model_dir()));
  ASSERT_FALSE(other.is_ok());
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find(first->name), std::string::npos)
      << other.status().message();
  EXPECT_NE(other.status().message().find(second_identity->name), std::string::npos)
      << other.status().message();
}

TEST_F(SearchServiceTest, AMissingIndexIsNotFound) {
  auto none = SearchService::open(service_options(testing::scratch_dir("service-no-index")));
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("service-no-index"), std::string::npos)
      << none.status().message();
}

}  // namespace
}  // namespace xrs
