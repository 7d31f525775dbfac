// plan_index: every row of plan.h's table, checked on hand-made catalogs and file lists (pure:
// no files, no model). The expected plans are written out from the table, case by case.
#include "pipeline/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace xrs {
namespace {

// A distinct, well-formed SHA-256 per letter.
std::string sha(char c) {
  return std::string(64, c);
}

ImageRecord row(const std::string& name, char content, const std::string& category = "chest") {
  ImageRecord r;
  r.image_name = name;
  r.category = category;
  r.relative_path = "raw/" + category + "/" + name;
  r.source_url = "https://example.org/" + name;
  r.sha256 = sha(content);
  r.file_size = 1000;
  r.mtime_ns = 42;
  r.extra_json = "{}";
  return r;
}

// The file that `row(name, content, category)` was made from, unchanged.
FileState file(const std::string& name, char content, const std::string& category = "chest") {
  FileState f;
  f.entry.image_name = name;
  f.entry.category = category;
  f.entry.relative_path = "raw/" + category + "/" + name;
  f.entry.source_url = "https://example.org/" + name;
  f.sha256 = sha(content);
  f.size = 1000;
  f.mtime_ns = 42;
  f.extra_json = "{}";
  return f;
}

size_t changes(const IndexPlan& p) {
  return p.embed_groups.size() + p.renames.size() + p.copies.size() + p.metadata_updates.size() +
         p.removals.size();
}

TEST(PlanTest, EmptyCatalogEmbedsEveryFile) {
  const IndexPlan p = plan_index({}, {file("a", 'a'), file("b", 'b')});
  ASSERT_EQ(p.embed_groups.size(), 2u);
  EXPECT_EQ(p.embed_groups[0], std::vector<size_t>{0});
  EXPECT_EQ(p.embed_groups[1], std::vector<size_t>{1});
  EXPECT_EQ(p.embed_count(), 2u);
  EXPECT_EQ(changes(p), 2u);
  EXPECT_EQ(p.unchanged, 0u);
}

TEST(PlanTest, NothingChangedIsUnchanged) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {file("a", 'a'), file("b", 'b')});
  EXPECT_EQ(p.unchanged, 2u);
  EXPECT_EQ(changes(p), 0u);
}

TEST(PlanTest, EmptyDatasetRemovesEveryRow) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {});
  EXPECT_EQ(p.removals, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(changes(p), 2u);
}

TEST(PlanTest, SameContentOtherMetadataIsAMetadataUpdate) {
  // Each field the catalog keeps from the dataset, changed on its own.
  std::vector<FileState> changed(5, file("a", 'a'));
  changed[0].entry.source_url = "https://example.org/elsewhere";
  changed[1].extra_json = R"({"license":"CC0"})";
  changed[2].mtime_ns = 43;  // touched
  changed[3].size = 1001;    // cannot happen with the same SHA-256, but is still metadata
  changed[4].entry.relative_path = "raw/chest/sub/a";
  for (size_t i = 0; i < changed.size(); ++i) {
    const IndexPlan p = plan_index({row("a", 'a')}, {changed[i]});
    EXPECT_EQ(p.metadata_updates, std::vector<size_t>{0}) << "field " << i;
    EXPECT_EQ(changes(p), 1u) << "field " << i;
    EXPECT_EQ(p.unchanged, 0u);
  }
}

TEST(PlanTest, ChangedContentIsEmbeddedAgain) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {file("a", 'z'), file("b", 'b')});
  ASSERT_EQ(p.embed_groups.size(), 1u);
  EXPECT_EQ(p.embed_groups[0], std::vector<size_t>{0});
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(changes(p), 1u);  // no removal: the row is overwritten
}

TEST(PlanTest, NewNameWithTheContentOfAVanishedRowIsARename) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {file("c", 'a'), file("b", 'b')});
  ASSERT_EQ(p.renames.size(), 1u);
  EXPECT_EQ(p.renames[0], (std::pair<std::string, size_t>("a", 0)));
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(changes(p), 1u);  // neither removed nor embedded
}

TEST(PlanTest, MoveToAnotherCategory) {
  // Same name in another category folder: the row keeps its embedding, only metadata changes.
  IndexPlan p = plan_index({row("a", 'a', "chest")}, {file("a", 'a', "hand")});
  EXPECT_EQ(p.metadata_updates, std::vector<size_t>{0});
  EXPECT_EQ(changes(p), 1u);
  // Moved and renamed at once: a rename.
  p = plan_index({row("a", 'a', "chest")}, {file("b", 'a', "hand")});
  ASSERT_EQ(p.renames.size(), 1u);
  EXPECT_EQ(p.renames[0].first, "a");
  EXPECT_EQ(changes(p), 1u);
}

TEST(PlanTest, NewNameWithContentIndexedElsewhereCopiesItsEmbedding) {
  const IndexPlan p = plan_index({row("a", 'a')}, {file("a", 'a'), file("copy-of-a", 'a')});
  EXPECT_EQ(p.copies, std::vector<size_t>{1});
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(changes(p), 1u);
}

TEST(PlanTest, TwoNewIdenticalFilesAreEmbeddedOnce) {
  const IndexPlan p = plan_index({row("a", 'a')}, {file("x", 'n'), file("a", 'a'), file("y", 'n')});
  ASSERT_EQ(p.embed_groups.size(), 1u);
  EXPECT_EQ(p.embed_groups[0], (std::vector<size_t>{0, 2}));
  EXPECT_EQ(p.embed_count(), 2u);
  EXPECT_EQ(changes(p), 1u);
}

TEST(PlanTest, ARowWhoseFileIsGoneIsRemoved) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {file("b", 'b')});
  EXPECT_EQ(p.removals, std::vector<std::string>{"a"});
  EXPECT_EQ(p.unchanged, 1u);
  EXPECT_EQ(changes(p), 1u);
}

TEST(PlanTest, SwappedContentsAreEmbeddedAgainNeverRenamed) {
  // Both names still exist, so neither row may move; each name's content changed.
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'b')}, {file("a", 'b'), file("b", 'a')});
  ASSERT_EQ(p.embed_groups.size(), 2u);
  EXPECT_EQ(p.embed_groups[0], std::vector<size_t>{0});
  EXPECT_EQ(p.embed_groups[1], std::vector<size_t>{1});
  EXPECT_EQ(changes(p), 2u);
}

TEST(PlanTest, OneVanishedRowFeedsOneRenameAndTheOtherNewNameCopies) {
  const IndexPlan p = plan_index({row("a", 'a')}, {file("b", 'a'), file("c", 'a')});
  ASSERT_EQ(p.renames.size(), 1u);
  EXPECT_EQ(p.renames[0], (std::pair<std::string, size_t>("a", 0)));
  EXPECT_EQ(p.copies, std::vector<size_t>{1});
  EXPECT_TRUE(p.removals.empty());
  EXPECT_EQ(p.embed_count(), 0u);
}

TEST(PlanTest, TwoVanishedRowsOfOneContentGiveARenameAndARemoval) {
  const IndexPlan p = plan_index({row("a", 'a'), row("b", 'a')}, {file("c", 'a')});
  ASSERT_EQ(p.renames.size(), 1u);
  EXPECT_EQ(p.renames[0].second, 0u);
  const std::string moved = p.renames[0].first;
  ASSERT_EQ(p.removals.size(), 1u);
  EXPECT_NE(p.removals[0], moved);
  EXPECT_TRUE(moved == "a" || moved == "b");
  EXPECT_EQ(p.embed_count(), 0u);
}

TEST(PlanTest, ContentOfARowThatIsEmbeddedAgainIsNotCopied) {
  // "a" changes content; its old content reappears under a new name while "a" still exists.
  // The new name cannot take a's row (a is present) and a's old embedding is being replaced,
  // so the new file is embedded, not copied from a row that will not keep that content.
  const IndexPlan p = plan_index({row("a", 'a')}, {file("a", 'z'), file("c", 'a')});
  EXPECT_TRUE(p.copies.empty());
  EXPECT_TRUE(p.renames.empty());
  EXPECT_EQ(p.embed_count(), 2u);
  EXPECT_EQ(p.embed_groups.size(), 2u);
}

TEST(PlanTest, EveryFileAppearsInExactlyOnePartOfThePlan) {
  // A mix of every case at once: each file index is accounted for exactly once.
  const std::vector<ImageRecord> rows = {row("same", 's'), row("meta", 'm'), row("chg", 'c'),
                                         row("old", 'o'),  row("gone", 'g'), row("sw1", '1'),
                                         row("sw2", '2')};
  std::vector<FileState> files = {file("same", 's'), file("meta", 'm'), file("chg", 'C'),
                                  file("new", 'o'),  file("dup", 's'),  file("n1", 'N'),
                                  file("n2", 'N'),   file("sw1", '2'),  file("sw2", '1')};
  files[1].entry.source_url = "changed";
  const IndexPlan p = plan_index(rows, files);
  std::vector<int> seen(files.size(), 0);
  for (const auto& g : p.embed_groups) {
    for (size_t i : g) ++seen[i];
  }
  for (const auto& r : p.renames) ++seen[r.second];
  for (size_t i : p.copies) ++seen[i];
  for (size_t i : p.metadata_updates) ++seen[i];
  EXPECT_EQ(p.unchanged, 1u);
  seen[0] += static_cast<int>(p.unchanged);  // "same" is the one unchanged file
  for (size_t i = 0; i < files.size(); ++i) EXPECT_EQ(seen[i], 1) << files[i].entry.image_name;
  EXPECT_EQ(p.removals, std::vector<std::string>{"gone"});
  EXPECT_EQ(p.renames, (std::vector<std::pair<std::string, size_t>>{{"old", 3}}));
  EXPECT_EQ(p.copies, std::vector<size_t>{4});
  EXPECT_EQ(p.metadata_updates, std::vector<size_t>{1});
  // chg, {n1, n2}, sw1, sw2
  EXPECT_EQ(p.embed_groups.size(), 4u);
  EXPECT_EQ(p.embed_count(), 5u);
}

TEST(PlanTest, RecordForCarriesEveryDatasetField) {
  FileState f = file("a", 'a', "hand");
  f.extra_json = R"({"license":"CC0"})";
  const ImageRecord r = record_for(f);
  EXPECT_EQ(r.image_name, "a");
  EXPECT_EQ(r.category, "hand");
  EXPECT_EQ(r.relative_path, "raw/hand/a");
  EXPECT_EQ(r.source_url, "https://example.org/a");
  EXPECT_EQ(r.sha256, sha('a'));
  EXPECT_EQ(r.file_size, 1000u);
  EXPECT_EQ(r.mtime_ns, 42);
  EXPECT_EQ(r.extra_json, R"({"license":"CC0"})");
  EXPECT_TRUE(r.embedding.empty());
}

}  // namespace
}  // namespace xrs
