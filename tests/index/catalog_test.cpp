#include "index/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

using testing::make_record;
using testing::random_unit_vectors;
using testing::test_model;

constexpr uint32_t kDim = 16;

std::vector<float> unit(uint32_t seed) {
  return random_unit_vectors(1, kDim, seed);
}

std::unique_ptr<Catalog> create(const std::string& dir) {
  auto c = Catalog::open_or_create(dir, test_model(kDim));
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return std::move(c).value();
}

bool contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(CatalogTest, CreateUpsertReopenRoundTrip) {
  std::string dir = testing::scratch_dir("catalog_roundtrip") + "/IDX";  // created on demand
  std::vector<ImageRecord> written = {make_record("a.png", "chest", unit(1), 1),
                                      make_record("b,\"x\".jpg", "hand", unit(2), 2),
                                      make_record("c.png", "dental", unit(3), 3)};
  {
    auto catalog = create(dir);
    auto tx = catalog->begin();
    ASSERT_TRUE(tx.is_ok()) << tx.status().to_string();
    for (auto& r : written) {
      auto id = tx->upsert(r);
      ASSERT_TRUE(id.is_ok()) << id.status().to_string();
      r.id = *id;
    }
    ASSERT_TRUE(tx->commit().is_ok());
  }
  auto catalog = Catalog::open(dir, Catalog::Mode::kReadOnly);
  ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
  Catalog& c = **catalog;
  EXPECT_EQ(c.model().weights_sha256, test_model(kDim).weights_sha256);
  EXPECT_EQ(c.model().dim, kDim);
  EXPECT_EQ(c.catalog_id().size(), 32u);
  auto info = c.info();
  ASSERT_TRUE(info.is_ok());
  EXPECT_EQ(info->generation, 1u);
  EXPECT_EQ(info->created_at.size(), 24u);  // 2026-01-31T12:34:56.789Z
  EXPECT_EQ(c.count().value(), 3u);

  auto rows = c.list().value();
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ImageRecord& w = written[i];
    const ImageRecord& r = rows[i];
    EXPECT_EQ(r.id, w.id);
    EXPECT_EQ(r.image_name, w.image_name);
    EXPECT_EQ(r.category, w.category);
    EXPECT_EQ(r.relative_path, w.relative_path);
    EXPECT_EQ(r.source_url, w.source_url);
    EXPECT_EQ(r.sha256, w.sha256);
    EXPECT_EQ(r.file_size, w.file_size);
    EXPECT_EQ(r.mtime_ns, w.mtime_ns);
    EXPECT_EQ(r.width, w.width);
    EXPECT_EQ(r.height, w.height);
    EXPECT_EQ(r.extra_json, w.extra_json);
    EXPECT_FALSE(r.added_at.empty());
    EXPECT_TRUE(r.embedding.empty());
  }
  auto found = c.find_by_name("b,\"x\".jpg", /*with_embedding=*/true).value();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->embedding, written[1].embedding);
  EXPECT_FALSE(c.find_by_name("missing.png").value().has_value());

  auto set = c.load_embeddings().value();
  ASSERT_EQ(set.ids.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(set.ids[i], written[i].id);
    std::vector<float> row(set.vectors.row(i).begin(), set.vectors.row(i).end());
    EXPECT_EQ(row, written[i].embedding);
  }
  EXPECT_EQ(reinterpret_cast<uintptr_t>(set.vectors.data()) % 64, 0u);
}

// snapshot_streaming: the rows of the snapshot, and batches of their embeddings read by id range
// within the same read transaction, equal to what was written (after a removal leaves a gap in
// the ids); a range past the snapshot is an error, not a short read.
TEST(CatalogTest, StreamingSnapshotReadsEmbeddingsInBatches) {
  std::string dir = testing::scratch_dir("catalog_streaming") + "/IDX";
  std::map<std::string, std::vector<float>> written;
  auto catalog = create(dir);
  {
    auto tx = catalog->begin();
    ASSERT_TRUE(tx.is_ok()) << tx.status().to_string();
    for (uint32_t i = 0; i < 10; ++i) {
      const std::string name = "img" + std::to_string(i) + ".png";
      ImageRecord r = make_record(name, "chest", unit(100 + i), i + 1);
      written[name] = r.embedding;
      ASSERT_TRUE(tx->upsert(r).is_ok());
    }
    ASSERT_TRUE(tx->remove("img4.png").is_ok());
    written.erase("img4.png");
    ASSERT_TRUE(tx->commit().is_ok());
  }
  size_t batches = 0;
  auto snap = catalog->snapshot_streaming([&](const CatalogSnapshot& s,
                                              const Catalog::EmbeddingSource& source) -> Status {
    EXPECT_EQ(s.rows.size(), 9u);
    for (size_t begin = 0; begin < s.rows.size(); begin += 4) {
      const size_t count = std::min<size_t>(4, s.rows.size() - begin);
      std::vector<float> vectors(count * kDim);
      std::vector<int64_t> ids(count);
      XRS_RETURN_IF_ERROR(source(begin, count, vectors.data(), ids.data()));
      ++batches;
      for (size_t r = 0; r < count; ++r) {
        EXPECT_EQ(ids[r], s.rows[begin + r].id);
        const std::vector<float> got(vectors.begin() + r * kDim, vectors.begin() + (r + 1) * kDim);
        EXPECT_EQ(got, written.at(s.rows[begin + r].image_name));
      }
    }
    std::vector<float> vectors(2 * kDim);
    std::vector<int64_t> ids(2);
    const Status past = source(8, 2, vectors.data(), ids.data());
    EXPECT_FALSE(past.is_ok());
    EXPECT_TRUE(contains(past, "past the snapshot")) << past.to_string();
    return Status::ok();
  });
  ASSERT_TRUE(snap.is_ok()) << snap.status().to_string();
  EXPECT_EQ(batches, 3u);
  EXPECT_EQ(snap->rows.size(), 9u);
  EXPECT_FALSE(snap->vectors.has_value());
}

TEST(CatalogTest, UpsertReplacesRenameAndRemove) {
  std::string dir = testing::scratch_dir("catalog_edit");
  auto catalog = create(dir);
  int64_t a, b;
  {
    auto tx = catalog->begin().value();
    a = tx.upsert(make_record("a.png", "chest", unit(1), 1)).value();
    b = tx.upsert(make_record("b.png", "chest", unit(2), 2)).value();
    ASSERT_TRUE(tx.commit().is_ok());
  }
  std::string added_at = catalog->find_by_name("a.png").value()->added_at;
  {
    auto tx = catalog->begin().value();
    // Same name: replaced in place, same id, added_at kept.
    EXPECT_EQ(tx.upsert(make_record("a.png", "hand", unit(9), 9)).value(), a);
    // Rename keeps id and embedding, takes the new metadata.
    ImageRecord moved = make_record("b-renamed.png", "dental", {}, 2);
    EXPECT_EQ(tx.rename("b.png", moved).value(), b);
    EXPECT_EQ(tx.rename("nope.png", moved).status().code(), StatusCode::kNotFound);
    Status taken = tx.rename("a.png", moved).status();
    EXPECT_EQ(taken.code(), StatusCode::kAlreadyExists) << taken.to_string();
    EXPECT_TRUE(contains(taken, "b-renamed.png"));
    ASSERT_TRUE(tx.commit().is_ok());
  }
  auto a_row = catalog->find_by_name("a.png", true).value();
  ASSERT_TRUE(a_row);
  EXPECT_EQ(a_row->category, "hand");
  EXPECT_EQ(a_row->embedding, unit(9));
  EXPECT_EQ(a_row->added_at, added_at);
  EXPECT_FALSE(catalog->find_by_name("b.png").value());
  auto b_row = catalog->find_by_name("b-renamed.png", true).value();
  ASSERT_TRUE(b_row);
  EXPECT_EQ(b_row->id, b);
  EXPECT_EQ(b_row->category, "dental");
  EXPECT_EQ(b_row->embedding, unit(2));

  auto by_sha = catalog->find_by_sha256(testing::fake_sha(2)).value();
  ASSERT_EQ(by_sha.size(), 1u);
  EXPECT_EQ(by_sha[0].image_name, "b-renamed.png");

  {
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.remove("b-renamed.png").is_ok());
    EXPECT_EQ(tx.remove("b-renamed.png").code(), StatusCode::kNotFound);
    // AUTOINCREMENT: the removed highest id is not handed out again.
    int64_t c = tx.upsert(make_record("c.png", "chest", unit(3), 3)).value();
    EXPECT_GT(c, b);
    ASSERT_TRUE(tx.commit().is_ok());
  }
  EXPECT_EQ(catalog->count().value(), 2u);
  auto set = catalog->load_embeddings().value();  // the removed image's embedding went with it
  EXPECT_EQ(set.ids.size(), 2u);
  EXPECT_EQ(catalog->info().value().generation, 3u);
}

TEST(CatalogTest, UncommittedTransactionRollsBack) {
  std::string dir = testing::scratch_dir("catalog_rollback");
  auto catalog = create(dir);
  {
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.upsert(make_record("a.png", "chest", unit(1))).is_ok());
    EXPECT_EQ(catalog->begin().status().code(), StatusCode::kFailedPrecondition);
  }  // dropped without commit
  EXPECT_EQ(catalog->count().value(), 0u);
  EXPECT_EQ(catalog->info().value().generation, 0u);
  // A commit without changes does not move the generation.
  ASSERT_TRUE(catalog->begin().value().commit().is_ok());
  EXPECT_EQ(catalog->info().value().generation, 0u);
}

TEST(CatalogTest, BadRecordsAreRejectedAndTheTransactionGoesOn) {
  std::string dir = testing::scratch_dir("catalog_invalid");
  auto catalog = create(dir);
  auto tx = catalog->begin().value();
  auto expect_invalid = [&](ImageRecord r, const std::string& text) {
    Status s = tx.upsert(r).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_TRUE(contains(s, text)) << s.to_string();
  };
  expect_invalid(make_record("a.png", "chest", random_unit_vectors(1, kDim + 1, 1)), "dim 16");
  std::vector<float> scaled = unit(1);
  for (float& v : scaled) v *= 2;
  expect_invalid(make_record("a.png", "chest", scaled), "L2 norm");
  std::vector<float> nan = unit(1);
  nan[3] = std::nanf("");
  expect_invalid(make_record("a.png", "chest", nan), "value 3 is not finite");
  ImageRecord bad_sha = make_record("a.png", "chest", unit(1));
  bad_sha.sha256 = "ABC";
  expect_invalid(bad_sha, "sha256");
  ImageRecord bad_json = make_record("a.png", "chest", unit(1));
  bad_json.extra_json = "[1,2";
  expect_invalid(bad_json, "extra_json");
  expect_invalid(make_record("", "chest", unit(1)), "empty image_name");
  expect_invalid(make_record("a.png", "", unit(1)), "empty category");
  ASSERT_TRUE(tx.upsert(make_record("ok.png", "chest", unit(1))).is_ok());
  ASSERT_TRUE(tx.commit().is_ok());
  EXPECT_EQ(catalog->count().value(), 1u);
}

TEST(CatalogTest, SettingsRoundTrip) {
  std::string dir = testing::scratch_dir("catalog_settings");
  {
    auto catalog = create(dir);
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.set_setting(kSettingDataDir, "/data/xray").is_ok());
    ASSERT_TRUE(tx.set_setting("model_path", "/models/a").is_ok());
    ASSERT_TRUE(tx.set_setting("model_path", "/models/b").is_ok());  // replaced
    EXPECT_EQ(tx.set_setting("Bad-Name", "x").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(tx.set_setting("", "x").code(), StatusCode::kInvalidArgument);
    ASSERT_TRUE(tx.commit().is_ok());
  }
  auto info = Catalog::open(dir, Catalog::Mode::kReadOnly).value()->info().value();
  EXPECT_EQ(info.settings, (std::map<std::string, std::string>{{"data_dir", "/data/xray"},
                                                               {"model_path", "/models/b"}}));
  EXPECT_EQ(info.generation, 1u);
}

TEST(CatalogTest, ModelMismatchIsRefused) {
  std::string dir = testing::scratch_dir("catalog_model");
  create(dir);
  ModelIdentity other = test_model(kDim);
  other.name = "other-model";
  other.weights_sha256 = std::string(64, 'b');
  auto reopened = Catalog::open_or_create(dir, other);
  ASSERT_FALSE(reopened.is_ok());
  EXPECT_EQ(reopened.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(contains(reopened.status(), "index built with model test-model"))
      << reopened.status().to_string();
  EXPECT_TRUE(contains(reopened.status(), "this is other-model"));
  // Only the label differs: the same model.
  ModelIdentity renamed = test_model(kDim);
  renamed.name = "ViT-B-32 renamed file";
  EXPECT_TRUE(Catalog::open_or_create(dir, renamed).is_ok());
  ModelIdentity other_dim = test_model(kDim * 2);
  EXPECT_EQ(Catalog::open_or_create(dir, other_dim).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Catalog::open_or_create(dir, {"x", "not-hex", kDim, "p"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CatalogTest, ReadOnlyCatalogCannotWrite) {
  std::string dir = testing::scratch_dir("catalog_readonly");
  create(dir);
  auto ro = Catalog::open(dir, Catalog::Mode::kReadOnly).value();
  Status s = ro->begin().status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(contains(s, "read-only"));
}

TEST(CatalogTest, MissingGarbageAndForeignFilesGiveClearErrors) {
  std::string dir = testing::scratch_dir("catalog_bad");
  auto missing = Catalog::open(dir, Catalog::Mode::kReadOnly);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(missing.status(), "catalog.sqlite"));

  std::string path = dir + "/catalog.sqlite";
  std::ofstream(path) << std::string(5000, 'x') << "garbage, not a database";
  for (auto mode : {Catalog::Mode::kReadOnly, Catalog::Mode::kReadWrite}) {
    auto garbage = Catalog::open(dir, mode);
    ASSERT_FALSE(garbage.is_ok());
    EXPECT_EQ(garbage.status().code(), StatusCode::kCorruption) << garbage.status().to_string();
    EXPECT_TRUE(contains(garbage.status(), path));
    EXPECT_TRUE(contains(garbage.status(), "not a database"));
  }
  EXPECT_EQ(Catalog::open_or_create(dir, test_model(kDim)).status().code(),
            StatusCode::kCorruption);

  // An empty file (creation interrupted before its first commit) is initialised by a writer.
  std::filesystem::resize_file(path, 0);
  EXPECT_EQ(Catalog::open(dir, Catalog::Mode::kReadOnly).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Catalog::open_or_create(dir, test_model(kDim)).is_ok());

  std::filesystem::create_directories(dir + "/dir-as-catalog/catalog.sqlite");
  EXPECT_EQ(Catalog::open(dir + "/dir-as-catalog", Catalog::Mode::kReadOnly).status().code(),
            StatusCode::kInvalidArgument);
}

// Python's sqlite3 (code nobody here wrote) reads the file: the documented schema, little-endian
// float32 blobs; then it stamps a newer schema version and another program's database, which
// must be refused.
TEST(CatalogTest, IndependentReaderAndForeignVersions) {
  std::string dir = testing::scratch_dir("catalog_python");
  std::vector<float> e = unit(5);
  {
    auto catalog = create(dir);
    auto tx = catalog->begin().value();
    ASSERT_TRUE(tx.upsert(make_record("a.png", "chest", e, 5)).is_ok());
    ASSERT_TRUE(tx.commit().is_ok());
  }
  std::string expected;
  for (float v : e) expected += std::to_string(v) + ",";
  std::string script = R"(
import sqlite3, struct
db = sqlite3.connect(')" +
                       dir + R"(/catalog.sqlite')
assert db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
assert db.execute('PRAGMA user_version').fetchone()[0] == 1
meta = dict(db.execute('SELECT key, value FROM meta'))
assert meta['embedding_dim'] == '16' and meta['model_name'] == 'test-model', meta
name, blob = db.execute('SELECT image_name, vector FROM images JOIN embeddings ON image_id = id').fetchone()
vals = struct.unpack('<16f', blob)
want = [float(x) for x in ')" +
                       expected + R"('.strip(',').split(',')]
assert name == 'a.png' and all(abs(a - b) < 1e-6 for a, b in zip(vals, want)), vals
db.execute('PRAGMA user_version = 7'); db.commit()
other = sqlite3.connect(')" +
                       dir + R"(/other.sqlite')
other.execute('CREATE TABLE t (x)'); other.commit()
)";
  int rc = testing::run_python(dir + "/check.py", script);
  if (rc == -1) GTEST_SKIP() << "skipped: /usr/bin/python3 is absent";
  ASSERT_EQ(rc, 0);
  auto newer = Catalog::open(dir, Catalog::Mode::kReadOnly);
  EXPECT_EQ(newer.status().code(), StatusCode::kUnsupported);
  EXPECT_TRUE(contains(newer.status(), "schema version 7 is newer")) << newer.status().to_string();

  std::string foreign = testing::scratch_dir("catalog_foreign");
  std::filesystem::rename(dir + "/other.sqlite", foreign + "/catalog.sqlite");
  auto other = Catalog::open(foreign, Catalog::Mode::kReadOnly);
  EXPECT_EQ(other.status().code(), StatusCode::kCorruption);
  EXPECT_TRUE(contains(other.status(), "not an xray-search catalog"));
}

}  // namespace
}  // namespace xrs
