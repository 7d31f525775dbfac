// Incremental indexing: between runs files are added, modified, deleted, renamed, moved, copied
// and swapped (metadata.csv edited to match). Each run's summary must count exactly those
// changes, only the changed images may go through the model, the rows that did not change must
// stay bit for bit, and the index must end up equal to a fresh one built from scratch.
#include "pipeline/indexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pipeline/dataset_copy.h"

namespace xrs {
namespace {

using testing::DatasetCopy;

// 18 images: 6 of each of ../shared's 3 categories, else 9 of each of the demo set's 2.
constexpr size_t kImages = 18;

StatusOr<IndexSummary> index(const DatasetCopy& data, const std::string& index_dir, int batch = 4) {
  IndexOptions o;
  o.data_dir = data.dir();
  o.index_dir = index_dir;
  o.model_path = testing::tiny_model_dir();
  o.batch = batch;
  return run_index(testing::tiny_model(), o);
}

// A category of the dataset other than the row's own.
std::string other_category(const testing::DatasetRow& r) {
  return testing::other_category(r.category);
}

struct Counts {
  size_t added, updated, renamed, metadata, removed, unchanged, total, embedded;
};

void expect_counts(const IndexSummary& s, const Counts& c, const std::string& what) {
  EXPECT_EQ(s.added, c.added) << what;
  EXPECT_EQ(s.updated, c.updated) << what;
  EXPECT_EQ(s.renamed, c.renamed) << what;
  EXPECT_EQ(s.metadata, c.metadata) << what;
  EXPECT_EQ(s.removed, c.removed) << what;
  EXPECT_EQ(s.unchanged, c.unchanged) << what;
  EXPECT_EQ(s.total, c.total) << what;
  EXPECT_EQ(s.embedded, c.embedded) << what;
  EXPECT_TRUE(s.skipped.empty()) << what << ": " << s.skipped.front().reason;
}

// A fresh index of `data` (the reference the incremental one must equal).
std::map<std::string, ImageRecord> from_scratch(const DatasetCopy& data, const std::string& name) {
  const std::string dir = testing::scratch_dir(name);
  auto s = index(data, dir, 5);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return testing::read_catalog(dir);
}

// Rows `before` and `after` both have, that must be untouched: same id, same bytes.
void expect_kept(const std::map<std::string, ImageRecord>& before,
                 const std::map<std::string, ImageRecord>& after,
                 const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    ASSERT_TRUE(before.count(n) && after.count(n)) << n;
    EXPECT_EQ(after.at(n).id, before.at(n).id) << n;
    EXPECT_EQ(after.at(n).added_at, before.at(n).added_at) << n;
    EXPECT_EQ(after.at(n).embedding, before.at(n).embedding) << n;  // exactly: not re-embedded
  }
}

TEST(IncrementalTest, EachRunEmbedsOnlyWhatChangedAndEndsEqualToAFreshIndex) {
  XRS_REQUIRE_DATASET();
  const size_t per_category = testing::per_category_for(kImages);
  DatasetCopy data = testing::make_dataset_copy("incremental", per_category);
  const std::string idx = testing::scratch_dir("incremental-index");
  const std::vector<testing::DatasetRow> spare = testing::rows_not_copied(per_category);
  const size_t n = kImages;
  ASSERT_EQ(data.rows().size(), n);

  auto s = index(data, idx);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  expect_counts(*s, {n, 0, 0, 0, 0, 0, n, n}, "first run");
  auto before = testing::read_catalog(idx);

  s = index(data, idx);
  ASSERT_TRUE(s.is_ok());
  expect_counts(*s, {0, 0, 0, 0, 0, n, n, 0}, "nothing changed");
  EXPECT_EQ(testing::read_catalog(idx).size(), n);

  // Round 1: one change of every kind.
  const std::vector<testing::DatasetRow> rows = data.rows();
  data.add(spare[0]);                 // new
  data.add(spare[1]);                 // new
  testing::DatasetRow dup = rows[1];  // copy of indexed content
  dup.image_name = "copy-of-" + rows[1].image_name;
  data.add(dup, data.file(rows[1]));
  data.set_bytes(rows[2].image_name, testing::read_bytes(testing::shared_file(spare[2])));
  data.remove(rows[3].image_name);  // deleted
  data.move(rows[4].image_name, "renamed-" + rows[4].image_name, rows[4].category);
  data.move(rows[7].image_name, rows[7].image_name, other_category(rows[7]));  // moved
  data.row(rows[8].image_name).source_url = "https://example.org/new-url";     // metadata only
  data.row(rows[9].image_name).note = "a note, with \"quotes\"";               // extra column
  data.write_metadata();
  s = index(data, idx);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  // added: 2 new + 1 copy; updated: rows[2]; renamed: rows[4]; metadata: rows[7], [8], [9];
  // removed: rows[3]; embedded: the 2 new and rows[2]'s new content.
  expect_counts(*s, {3, 1, 1, 3, 1, n - 6, n + 2, 3}, "round 1");
  auto after = testing::read_catalog(idx);
  std::vector<std::string> untouched;
  for (size_t i : {0, 1, 5, 6}) untouched.push_back(rows[i].image_name);
  for (size_t i = 10; i < n; ++i) untouched.push_back(rows[i].image_name);
  expect_kept(before, after, untouched);
  // The renamed, moved and edited rows keep their id and embedding; the copy shares one.
  EXPECT_EQ(after.at("renamed-" + rows[4].image_name).id, before.at(rows[4].image_name).id);
  EXPECT_EQ(after.at("renamed-" + rows[4].image_name).embedding,
            before.at(rows[4].image_name).embedding);
  expect_kept(before, after, {rows[7].image_name, rows[8].image_name, rows[9].image_name});
  EXPECT_EQ(after.at(rows[7].image_name).category, other_category(rows[7]));
  EXPECT_EQ(after.at(rows[7].image_name).relative_path,
            "raw/" + other_category(rows[7]) + "/" + rows[7].image_name);
  EXPECT_EQ(after.at(dup.image_name).embedding, before.at(rows[1].image_name).embedding);
  EXPECT_FALSE(after.count(rows[3].image_name));
  EXPECT_NE(after.at(rows[2].image_name).sha256, before.at(rows[2].image_name).sha256);
  EXPECT_EQ(after.at(rows[2].image_name).id, before.at(rows[2].image_name).id);
  testing::expect_same_index(after, from_scratch(data, "incremental-fresh-1"));

  // Round 2: swap two files' contents, two new identical files, delete a file whose content
  // lives on in a copy, and rename a file onto a new category and name at once.
  const std::string a = rows[10].image_name, b = rows[11].image_name;
  const std::string bytes_a = testing::read_bytes(data.file(a));
  data.set_bytes(a, testing::read_bytes(data.file(b)));
  data.set_bytes(b, bytes_a);
  testing::DatasetRow twin1 = spare[3], twin2 = spare[3];
  twin1.image_name = "twin-1" + std::filesystem::path(spare[3].image_name).extension().string();
  twin2.image_name = "twin-2" + std::filesystem::path(spare[3].image_name).extension().string();
  data.add(twin1, testing::shared_file(spare[3]));
  data.add(twin2, testing::shared_file(spare[3]));
  data.remove(rows[1].image_name);  // its content stays indexed under dup's name
  data.move(rows[12].image_name, "moved-" + rows[12].image_name, other_category(rows[12]));
  data.write_metadata();
  before = testing::read_catalog(idx);
  s = index(data, idx);
  ASSERT_TRUE(s.is_ok()) << s.status().to_string();
  // added: twins; updated: a, b; renamed: rows[12]; removed: rows[1]; embedded: a, b and the
  // twins' one content.
  expect_counts(*s, {2, 2, 1, 0, 1, n - 2, n + 3, 3}, "round 2");
  after = testing::read_catalog(idx);
  EXPECT_EQ(after.at(twin1.image_name).embedding, after.at(twin2.image_name).embedding);
  EXPECT_EQ(after.at(dup.image_name).embedding, before.at(dup.image_name).embedding);
  testing::expect_same_index(after, from_scratch(data, "incremental-fresh-2"));

  // Round 3: nothing changed again.
  s = index(data, idx);
  ASSERT_TRUE(s.is_ok());
  expect_counts(*s, {0, 0, 0, 0, 0, n + 3, n + 3, 0}, "round 3");
}

TEST(IncrementalTest, TouchedFilesUpdateMetadataWithoutEmbedding) {
  XRS_REQUIRE_DATASET();
  DatasetCopy data = testing::make_dataset_copy("incremental-touch", testing::per_category_for(6));
  ASSERT_EQ(data.rows().size(), 6u);
  const std::string idx = testing::scratch_dir("incremental-touch-index");
  ASSERT_TRUE(index(data, idx).is_ok());
  const auto before = testing::read_catalog(idx);
  const std::string name = data.rows()[0].image_name;
  std::filesystem::last_write_time(
      data.file(name), std::filesystem::file_time_type::clock::now() + std::chrono::hours(1));
  auto s = index(data, idx);
  ASSERT_TRUE(s.is_ok());
  expect_counts(*s, {0, 0, 0, 1, 0, 5, 6, 0}, "touched");
  const auto after = testing::read_catalog(idx);
  expect_kept(before, after, {name});
  EXPECT_NE(after.at(name).mtime_ns, before.at(name).mtime_ns);
}

}  // namespace
}  // namespace xrs
