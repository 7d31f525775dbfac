// IDX/vectors.faiss: written by the reader, reused when current, rebuilt when missing, damaged,
// stale or foreign, never trusted.
#include "index/vectors_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/log.h"
#include "index/index_reader.h"
#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

constexpr uint32_t kDim = 32;
constexpr size_t kN = 1500;

IndexReaderOptions with_kind(IndexKind kind) {
  IndexReaderOptions o;
  o.vectors.kind = kind;
  return o;
}

std::shared_ptr<const IndexReader> open_reader(const std::string& dir, IndexKind kind) {
  auto r = IndexReader::open(dir, with_kind(kind));
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  return std::move(r).value();
}

std::vector<int64_t> top_ids(const IndexReader& reader, const std::vector<ImageRecord>& records) {
  std::vector<int64_t> out;
  SearchRequest req;
  req.k = 10;
  for (size_t q = 0; q < 20; ++q) {
    std::vector<SearchResult> results = reader.search(records[q * 7].embedding, req).value();
    for (const SearchResult& r : results) out.push_back(r.id);
  }
  return out;
}

// Captures warnings logged by the library while alive.
struct LogCapture {
  std::string text;
  LogCapture() {
    set_log_sink([this](LogLevel, std::string_view m) { text += std::string(m) + "\n"; });
  }
  ~LogCapture() { set_log_sink(nullptr); }
};

void overwrite(const std::string& path, uint64_t offset, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class VectorsFileTest : public ::testing::TestWithParam<IndexKind> {
 protected:
  void SetUp() override {
    // One folder per test: ctest runs the tests of this file in parallel processes.
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name = name.substr(0, name.find('/'));
    dir_ = testing::scratch_dir("vectors_file_" + name + "_" +
                                std::string(index_kind_name(GetParam())));
    records_ = testing::fill_catalog(dir_, kN, kDim, 3);
    path_ = dir_ + "/" + kVectorsFileName;
  }
  std::string dir_, path_;
  std::vector<ImageRecord> records_;
};

TEST_P(VectorsFileTest, WrittenOnceThenLoaded) {
  auto first = open_reader(dir_, GetParam());
  EXPECT_EQ(first->load_report().kind, GetParam());
  EXPECT_FALSE(first->load_report().from_file);
  EXPECT_NE(first->load_report().rebuild_reason.find("No such file"), std::string::npos)
      << first->load_report().rebuild_reason;
  ASSERT_TRUE(std::filesystem::exists(path_));
  auto second = open_reader(dir_, GetParam());
  EXPECT_TRUE(second->load_report().from_file) << second->load_report().rebuild_reason;
  EXPECT_EQ(top_ids(*second, records_), top_ids(*first, records_));
  std::vector<float> v = second->embedding(records_[5].id).value();
  if (GetParam() == IndexKind::kF16 || GetParam() == IndexKind::kIvfPq) {
    // Compressed kinds hold an approximation of the catalog's float32 vector.
    double dot = 0;
    for (size_t i = 0; i < kDim; ++i) dot += static_cast<double>(v[i]) * records_[5].embedding[i];
    EXPECT_GT(dot, GetParam() == IndexKind::kF16 ? 0.9999 : 0.5);
  } else {
    EXPECT_EQ(v, records_[5].embedding);
  }

  IndexReaderOptions no_write = with_kind(GetParam());
  no_write.write_vectors_file = false;
  std::filesystem::remove(path_);
  EXPECT_TRUE(IndexReader::open(dir_, no_write).is_ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_P(VectorsFileTest, DamagedFilesAreRebuilt) {
  const std::vector<int64_t> expected = top_ids(*open_reader(dir_, GetParam()), records_);
  const uint64_t size = std::filesystem::file_size(path_);
  struct Damage {
    const char* name;
    std::function<void()> apply;
    const char* reason;
  };
  std::vector<Damage> damages = {
      {"empty", [&] { std::filesystem::resize_file(path_, 0); }, "truncated"},
      {"header only", [&] { std::filesystem::resize_file(path_, 100); }, "truncated"},
      {"half", [&] { std::filesystem::resize_file(path_, size / 2); }, "disagrees"},
      {"appended", [&] { std::ofstream(path_, std::ios::app) << "tail"; }, "disagrees"},
      {"magic", [&] { overwrite(path_, 0, "NOTVECS!"); }, "magic"},
      {"version", [&] { overwrite(path_, 8, std::string("\x09\0\0\0", 4)); }, "version 9"},
      {"id bytes", [&] { overwrite(path_, 128 + 8 * 3, "\xff"); }, "checksum"},
      {"payload", [&] { overwrite(path_, size - size / 3, "\x5a\x5a\x5a"); }, "checksum"},
      {"catalog id", [&] { overwrite(path_, 40, "zz"); }, "another catalog"},
      {"generation", [&] { overwrite(path_, 32, "\x07"); }, "generation"},
  };
  for (const Damage& d : damages) {
    d.apply();
    LogCapture log;
    auto reader = open_reader(dir_, GetParam());
    EXPECT_FALSE(reader->load_report().from_file) << d.name;
    EXPECT_NE(reader->load_report().rebuild_reason.find(d.reason), std::string::npos)
        << d.name << ": " << reader->load_report().rebuild_reason;
    EXPECT_NE(log.text.find("rebuilding it from the catalog"), std::string::npos) << d.name;
    EXPECT_EQ(top_ids(*reader, records_), expected) << d.name;
    // The rebuilt file was saved and is good again.
    EXPECT_TRUE(open_reader(dir_, GetParam())->load_report().from_file) << d.name;
  }
}

TEST_P(VectorsFileTest, StaleOrForeignFilesAreRebuilt) {
  open_reader(dir_, GetParam());
  auto added = testing::fill_catalog(dir_, 3, kDim, 4, "new");
  auto reader = open_reader(dir_, GetParam());
  EXPECT_FALSE(reader->load_report().from_file);
  EXPECT_NE(reader->load_report().rebuild_reason.find("generation"), std::string::npos);
  EXPECT_EQ(reader->size(), kN + 3);
  SearchRequest req;
  req.k = 1;
  auto hit = reader->search(added[1].embedding, req).value();
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(hit[0].image->image_name, "new1.png");

  // Another catalog with the very same rows: its file is still not ours.
  std::string other = testing::scratch_dir(std::string("vectors_file_other_") +
                                           std::string(index_kind_name(GetParam())));
  testing::fill_catalog(other, kN, kDim, 3);
  open_reader(other, GetParam());
  std::filesystem::copy_file(other + "/" + kVectorsFileName, path_,
                             std::filesystem::copy_options::overwrite_existing);
  reader = open_reader(dir_, GetParam());
  EXPECT_NE(reader->load_report().rebuild_reason.find("another catalog"), std::string::npos);

  // A file of the other approximate kind.
  IndexKind other_kind = GetParam() == IndexKind::kHnsw ? IndexKind::kIvf : IndexKind::kHnsw;
  reader = open_reader(dir_, other_kind);
  EXPECT_NE(reader->load_report().rebuild_reason.find("another kind"), std::string::npos)
      << reader->load_report().rebuild_reason;
}

TEST_P(VectorsFileTest, IdsAreCheckedAgainstTheCatalog) {
  open_reader(dir_, GetParam());
  auto catalog = Catalog::open(dir_, Catalog::Mode::kReadOnly).value();
  CatalogInfo info = catalog->info().value();
  std::vector<int64_t> ids;
  for (const auto& r : records_) ids.push_back(r.id);
  VectorsFileStamp stamp{info.catalog_id, info.generation, kDim};
  EXPECT_TRUE(read_vectors_file(path_, GetParam(), stamp, ids, {}).is_ok());
  ids[17] += 100000;
  auto wrong = read_vectors_file(path_, GetParam(), stamp, ids, {});
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("ids differ"), std::string::npos);
  ids.pop_back();
  EXPECT_EQ(read_vectors_file(path_, GetParam(), stamp, ids, {}).status().code(),
            StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Kinds, VectorsFileTest,
                         ::testing::Values(IndexKind::kHnsw, IndexKind::kIvf, IndexKind::kIvfPq,
                                           IndexKind::kF16),
                         [](const auto& param_info) {
                           std::string name(index_kind_name(param_info.param));
                           std::erase(name, '-');  // gtest names: letters, digits, _
                           return name;
                         });

TEST(VectorsFileExactTest, ExactIndexesAreNeverPersisted) {
  std::string dir = testing::scratch_dir("vectors_file_exact");
  auto records = testing::fill_catalog(dir, 50, kDim, 3);
  auto reader = IndexReader::open(dir).value();
  EXPECT_EQ(reader->load_report().kind, IndexKind::kExact);
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + kVectorsFileName));
  std::vector<int64_t> ids;
  for (const auto& r : records) ids.push_back(r.id);
  auto exact =
      build_vector_index(testing::make_set(ids, std::vector<float>(50 * kDim, 0.1f), kDim), {})
          .value();
  EXPECT_EQ(write_vectors_file(dir + "/x", *exact, {std::string(32, 'a'), 1, kDim}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xrs
