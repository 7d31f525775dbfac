// What the indexer refuses or leaves out: an index built with one model is never updated with
// another (unless rebuilt), unusable images are skipped and reported without stopping the run,
// and a dataset-scope problem stops the run before the index changes.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "imaging/decode.h"
#include "pipeline/dataset_copy.h"
#include "pipeline/indexer.h"

namespace xrs {
namespace {

using testing::DatasetCopy;

IndexOptions options(const DatasetCopy& data, const std::string& index_dir) {
  IndexOptions o;
  o.data_dir = data.dir();
  o.index_dir = index_dir;
  o.batch = 4;
  return o;
}

// The catalog's generation (+1 per committed change) and rows, to prove nothing changed.
struct CatalogState {
  uint64_t generation = 0;
  std::map<std::string, ImageRecord> rows;
};

CatalogState state(const std::string& index_dir) {
  CatalogState s;
  auto catalog = Catalog::open(index_dir, Catalog::Mode::kReadOnly);
  EXPECT_TRUE(catalog.is_ok()) << catalog.status().to_string();
  if (!catalog.is_ok()) return s;
  s.generation = (*catalog)->info()->generation;
  s.rows = testing::read_catalog(index_dir);
  return s;
}

void expect_unchanged(const CatalogState& before, const std::string& index_dir) {
  const CatalogState after = state(index_dir);
  EXPECT_EQ(after.generation, before.generation);
  testing::expect_same_index(after.rows, before.rows, 0.0);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ModelGuardTest, AnIndexOfOneModelRefusesAnotherUnlessRebuilt) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("guard-model", 2);
  const size_t n = data.rows().size();
  ASSERT_EQ(n, 2 * testing::category_count());
  const std::string idx = testing::scratch_dir("guard-model-index");
  ASSERT_TRUE(run_index(testing::tiny_model(), options(data, idx)).is_ok());
  const CatalogState before = state(idx);
  ASSERT_EQ(before.rows.size(), n);

  auto other = ClipModel::load(testing::other_model_dir());
  ASSERT_TRUE(other.is_ok()) << other.status().to_string();
  // tiny-openai-b32 and tiny-laion-b16 (../shared), else xray-small and its variant.
  auto first_identity = testing::tiny_model().identity();
  auto other_identity = (*other)->identity();
  ASSERT_TRUE(first_identity.is_ok() && other_identity.is_ok());
  ASSERT_FALSE(first_identity->same_model(*other_identity));
  const std::string first_name = first_identity->name, other_name = other_identity->name;
  ASSERT_NE(first_name, other_name);
  auto refused = run_index(**other, options(data, idx));
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  const std::string message = refused.status().message();
  EXPECT_TRUE(contains(message, first_name)) << message;
  EXPECT_TRUE(contains(message, other_name)) << message;
  EXPECT_TRUE(contains(message, "--rebuild")) << message;
  expect_unchanged(before, idx);

  IndexOptions rebuild = options(data, idx);
  rebuild.rebuild = true;
  auto s = run_index(**other, rebuild);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->embedded, n);
  EXPECT_EQ(s->added, n);
  EXPECT_EQ(s->total, n);
  auto catalog = Catalog::open(idx, Catalog::Mode::kReadOnly);
  ASSERT_TRUE(catalog.is_ok());
  EXPECT_EQ((*catalog)->model().name, other_name);
  EXPECT_EQ((*catalog)->model().dim, other_identity->dim);
  EXPECT_EQ((*catalog)->model().weights_sha256, other_identity->weights_sha256);
  for (const auto& [name, r] : testing::read_catalog(idx)) {
    auto image = decode_image_file(data.file(name));
    ASSERT_TRUE(image.is_ok());
    auto e = (*other)->embed_image(*image);
    ASSERT_TRUE(e.is_ok());
    EXPECT_LE(testing::max_abs_diff(r.embedding, *e), 1e-5) << name;
  }
  // And now the first model is the one refused.
  EXPECT_EQ(run_index(testing::tiny_model(), options(data, idx)).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(SkippedImagesTest, DamagedImagesAreSkippedAndReportedNeverFatal) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("guard-skipped", 2);
  const size_t n = data.rows().size();
  ASSERT_EQ(n, 2 * testing::category_count());
  // A PNG cut in half (its header still reads: the decoder finds the damage) and an empty file.
  testing::DatasetRow truncated = data.rows()[0], empty = data.rows()[0];
  truncated.image_name = "truncated.png";
  empty.image_name = "empty.png";
  std::string png;
  for (const testing::DatasetRow& r : testing::shared_rows()) {
    if (r.image_name.ends_with(".png")) {
      png = testing::read_bytes(testing::shared_file(r));
      break;
    }
  }
  ASSERT_GT(png.size(), 1000u);
  testing::write_bytes(data.file(truncated), png.substr(0, png.size() / 2));
  testing::write_bytes(data.file(empty), "");
  data.add(truncated, data.file(truncated));
  data.add(empty, data.file(empty));
  data.write_metadata();

  const std::string idx = testing::scratch_dir("guard-skipped-index");
  auto s = run_index(testing::tiny_model(), options(data, idx));
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->total, n);
  EXPECT_EQ(s->added, n);
  ASSERT_EQ(s->skipped.size(), 2u);
  std::map<std::string, SkippedImage> skipped;
  for (const SkippedImage& k : s->skipped) skipped[k.image_name] = k;
  ASSERT_TRUE(skipped.count("truncated.png") && skipped.count("empty.png"));
  EXPECT_EQ(skipped["empty.png"].file, "raw/" + empty.category + "/empty.png");
  EXPECT_TRUE(contains(skipped["empty.png"].reason, "empty")) << skipped["empty.png"].reason;
  EXPECT_EQ(skipped["truncated.png"].file, "raw/" + truncated.category + "/truncated.png");
  EXPECT_TRUE(contains(skipped["truncated.png"].reason, "truncated"))
      << skipped["truncated.png"].reason;
  const auto rows = testing::read_catalog(idx);
  EXPECT_EQ(rows.size(), n);
  EXPECT_FALSE(rows.count("truncated.png") || rows.count("empty.png"));

  // Indexed images that become damaged lose their rows (an old embedding must not stay).
  const std::string a = data.rows()[1].image_name, b = data.rows()[2].image_name;
  const std::string bytes_b = testing::read_bytes(data.file(b));
  data.set_bytes(a, "");
  data.set_bytes(b, bytes_b.substr(0, bytes_b.size() / 2));
  s = run_index(testing::tiny_model(), options(data, idx));
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  EXPECT_EQ(s->removed, 2u);
  EXPECT_EQ(s->total, n - 2);
  EXPECT_EQ(s->skipped.size(), 4u);
  const auto after = testing::read_catalog(idx);
  EXPECT_EQ(after.size(), n - 2);
  EXPECT_FALSE(after.count(a) || after.count(b));
}

TEST(DatasetScopeTest, AnUnusableDatasetStopsTheRunBeforeTheIndexChanges) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("guard-scope", 2);
  const std::string idx = testing::scratch_dir("guard-scope-index");
  ASSERT_TRUE(run_index(testing::tiny_model(), options(data, idx)).is_ok());
  const CatalogState before = state(idx);
  const std::string metadata = testing::read_bytes(data.dir() + "/metadata.csv");
  // Damage that would also change rows if the run went on: one file deleted.
  std::filesystem::remove(data.file(data.rows()[0]));

  struct Case {
    std::string label, metadata, expected;
  };
  const std::vector<Case> cases = {
      {"no metadata.csv", "", "metadata.csv"},
      {"no category column", "image_name,source_url\r\nx.png,http://x\r\n", "category"},
      {"unterminated quote", "image_name,source_url,category\r\n\"x.png,http://x,chest\r\n",
       "metadata.csv"},
  };
  for (const Case& c : cases) {
    std::filesystem::remove(data.dir() + "/metadata.csv");
    if (!c.metadata.empty()) testing::write_bytes(data.dir() + "/metadata.csv", c.metadata);
    auto s = run_index(testing::tiny_model(), options(data, idx));
    ASSERT_FALSE(s.is_ok()) << c.label;
    EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition) << c.label;
    EXPECT_TRUE(contains(s.status().message(), c.expected)) << c.label << s.status().message();
    expect_unchanged(before, idx);
    // A new index is not even created.
    const std::string fresh = testing::scratch_dir("guard-scope-fresh") + "/idx";
    EXPECT_FALSE(run_index(testing::tiny_model(), options(data, fresh)).is_ok());
    EXPECT_FALSE(std::filesystem::exists(fresh)) << c.label;
  }
  testing::write_bytes(data.dir() + "/metadata.csv", metadata);
  auto s = run_index(testing::tiny_model(), options(data, idx));
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->skipped.size(), 1u);  // the deleted file
  EXPECT_EQ(s->removed, 1u);
}

TEST(CancelTest, ACancelledRunBeforeEmbeddingChangesNothing) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("guard-cancel", 2);
  const std::atomic<bool> cancelled{true};
  IndexOptions o = options(data, testing::scratch_dir("guard-cancel-index") + "/idx");
  o.cancel = &cancelled;
  auto s = run_index(testing::tiny_model(), o);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(o.index_dir));

  o.cancel = nullptr;
  ASSERT_TRUE(run_index(testing::tiny_model(), o).is_ok());
  const CatalogState before = state(o.index_dir);
  data.remove(data.rows()[0].image_name);
  data.write_metadata();
  o.cancel = &cancelled;
  EXPECT_EQ(run_index(testing::tiny_model(), o).status().code(), StatusCode::kCancelled);
  expect_unchanged(before, o.index_dir);
}

}  // namespace
}  // namespace xrs
