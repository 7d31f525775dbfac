// Helpers for the pipeline, service and CLI tests: writable copies of a real X-ray dataset
// (test_dataset_dir(): ../shared/datasets/xray where present, else the committed
// datasets/xray-demo) in a scratch folder, the catalog read back as the reference, and a
// brute-force (double precision) search over it.
//
// The copies are real copies, never hard links: tests rewrite and delete files in them, and
// the shared dataset must stay untouched.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "clip/clip_model.h"
#include "index/catalog.h"
#include "support/test_paths.h"

namespace xrs::testing {

inline std::string shared_dataset_dir() {
  return test_dataset_dir();
}
// The model the tests index with (test_paths.h test_model_dir()).
inline std::string tiny_model_dir() {
  return test_model_dir();
}

// A second model, for the checks that an index refuses another model: the fixture
// tiny-laion-b16 where ../shared has it, else a variant of the committed model written once into
// the build tree (the same files with the sign of its first 64 float16 weights flipped: other
// weights, so another identity and other embeddings).
inline std::string other_model_dir() {
  if (have_fixtures()) return fixtures_dir() + "/tiny-laion-b16";
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(binary_dir()) / "test-assets" / "xray-variant";
  const fs::path weights = dir / "open_clip_model.safetensors";
  if (fs::exists(weights)) return dir.string();
  const fs::path tmp =
      fs::path(binary_dir()) / "test-assets" / ("xray-variant.tmp" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  for (const auto& entry : fs::directory_iterator(committed_model_dir())) {
    fs::copy_file(entry.path(), tmp / entry.path().filename());
  }
  std::fstream f(tmp / "open_clip_model.safetensors",
                 std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header = 0;
  f.read(reinterpret_cast<char*>(&header), 8);  // little-endian length of the JSON header
  for (int i = 0; i < 64; ++i) {
    const std::streamoff high_byte = std::streamoff(8 + header + 2 * i + 1);
    char b = 0;
    f.seekg(high_byte);
    f.read(&b, 1);
    b = char(b ^ 0x80);
    f.seekp(high_byte);
    f.write(&b, 1);
  }
  f.close();
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // another test program may have made it first: either is the same
  if (ec) fs::remove_all(tmp);
  return dir.string();
}

#define XRS_REQUIRE_DATASET()                                                 \
  do {                                                                        \
    XRS_REQUIRE_PATH(::xrs::testing::shared_dataset_dir() + "/metadata.csv"); \
    XRS_REQUIRE_PATH(::xrs::testing::tiny_model_dir());                       \
  } while (0)

struct DatasetRow {
  std::string image_name;
  std::string source_url;
  std::string category;
  std::string note;  // a fourth, free column (it ends up in the catalog's extra_json)
};

// The rows of the test dataset's metadata.csv, in file order. Its first three columns never
// hold quotes or commas, so a split on the first commas reads them.
inline std::vector<DatasetRow> shared_rows() {
  std::ifstream in(shared_dataset_dir() + "/metadata.csv");
  std::vector<DatasetRow> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      size_t comma = line.find(',', start);
      f.push_back(line.substr(start, comma == std::string::npos ? comma : comma - start));
      start = comma == std::string::npos ? line.size() : comma + 1;
    }
    rows.push_back({f[0], f[1], f[2], ""});
  }
  return rows;
}

// The name an index records for the model folder `dir` (ModelIdentity: the weights' folder).
inline std::string model_name(const std::string& dir) {
  return std::filesystem::path(dir).filename().string();
}

// The test dataset's categories, sorted (chest, dental, hand in ../shared's; chest, dental in
// the demo set).
inline std::vector<std::string> categories() {
  std::set<std::string> seen;
  for (const DatasetRow& r : shared_rows()) seen.insert(r.category);
  return {seen.begin(), seen.end()};
}
inline size_t category_count() {
  return categories().size();
}
// Images per category for a copy of `total` images in all (a multiple of 6 fits both datasets).
inline size_t per_category_for(size_t total) {
  EXPECT_EQ(total % category_count(), 0u) << total << " images do not split evenly";
  return total / category_count();
}

// Another category of the test dataset than `category` (the next one, wrapping around).
inline std::string other_category(const std::string& category) {
  const std::vector<std::string> all = categories();
  auto it = std::find(all.begin(), all.end(), category);
  return it == all.end() || it + 1 == all.end() ? all.front() : *(it + 1);
}

inline std::string shared_file(const DatasetRow& r) {
  return shared_dataset_dir() + "/raw/" + r.category + "/" + r.image_name;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  ASSERT_TRUE(out.good()) << path;
}

inline std::string csv_quote(const std::string& v) {
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A dataset folder the test may change at will; rows_ mirror metadata.csv (write_metadata()).
class DatasetCopy {
 public:
  explicit DatasetCopy(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  const std::vector<DatasetRow>& rows() const { return rows_; }
  std::string file(const DatasetRow& r) const {
    return dir_ + "/raw/" + r.category + "/" + r.image_name;
  }
  std::string file(const std::string& name) const { return file(row(name)); }
  // The row named `name` (which must exist).
  const DatasetRow& row(const std::string& name) const { return *find(name); }
  DatasetRow& row(const std::string& name) { return *find(name); }

  // Adds `r` with the bytes of `source` (default: the shared file of `r`).
  void add(const DatasetRow& r, const std::string& source = {}) {
    write_bytes(file(r), read_bytes(source.empty() ? shared_file(r) : source));
    rows_.push_back(r);
  }
  void remove(const std::string& name) {
    std::filesystem::remove(file(name));
    rows_.erase(find(name));
  }
  // Moves the file and its row to a new name and/or category (same bytes, same inode).
  void move(const std::string& name, const std::string& new_name, const std::string& category) {
    DatasetRow r = row(name);
    const std::string from = file(r);
    r.image_name = new_name;
    r.category = category;
    std::filesystem::create_directories(std::filesystem::path(file(r)).parent_path());
    std::filesystem::rename(from, file(r));
    rows_.erase(find(name));
    rows_.push_back(r);
  }
  // Gives `name` new bytes (a new file: the old inode is unlinked first, never written).
  void set_bytes(const std::string& name, const std::string& bytes) {
    std::filesystem::remove(file(name));
    write_bytes(file(name), bytes);
  }

  void write_metadata() const {
    std::ofstream out(dir_ + "/metadata.csv", std::ios::trunc);
    out << "image_name,source_url,category,note\r\n";
    for (const DatasetRow& r : rows_) {
      out << csv_quote(r.image_name) << ',' << csv_quote(r.source_url) << ','
          << csv_quote(r.category) << ',' << csv_quote(r.note) << "\r\n";
    }
  }

 private:
  std::vector<DatasetRow>::iterator find(const std::string& name) {
    auto it = std::find_if(rows_.begin(), rows_.end(),
                           [&](const DatasetRow& r) { return r.image_name == name; });
    if (it == rows_.end()) throw std::out_of_range("the test dataset has no row " + name);
    return it;
  }
  std::vector<DatasetRow>::const_iterator find(const std::string& name) const {
    return const_cast<DatasetCopy*>(this)->find(name);
  }

  std::string dir_;
  std::vector<DatasetRow> rows_;
};

// `per_category` images of each category of the shared dataset, starting at the `skip`-th of
// each, copied into scratch_dir(name) with a metadata.csv.
inline DatasetCopy make_dataset_copy(const std::string& name, size_t per_category,
                                     size_t skip = 0) {
  DatasetCopy copy(scratch_dir(name) + "/data");
  std::map<std::string, size_t> seen;
  for (const DatasetRow& r : shared_rows()) {
    const size_t n = seen[r.category]++;
    if (n < skip || n >= skip + per_category) continue;
    DatasetRow row = r;
    row.note = "from " + r.category;
    copy.add(row);
  }
  copy.write_metadata();
  return copy;
}

// The shared rows (of any category) that make_dataset_copy(_, per_category, skip) left out.
inline std::vector<DatasetRow> rows_not_copied(size_t per_category, size_t skip = 0) {
  std::map<std::string, size_t> seen;
  std::vector<DatasetRow> out;
  for (const DatasetRow& r : shared_rows()) {
    const size_t n = seen[r.category]++;
    if (n < skip || n >= skip + per_category) out.push_back(r);
  }
  return out;
}

// The tiny fixture model, loaded once per test program.
inline const ClipModel& tiny_model() {
  static std::unique_ptr<ClipModel> model = [] {
    auto m = ClipModel::load(tiny_model_dir());
    EXPECT_TRUE(m.is_ok()) << m.status().to_string();
    return m.is_ok() ? std::move(m).value() : nullptr;
  }();
  return *model;
}

// Every row of IDX's catalog with its embedding, by image name: read straight from the catalog.
inline std::map<std::string, ImageRecord> read_catalog(const std::string& index_dir) {
  std::map<std::string, ImageRecord> out;
  auto catalog = Catalog::open(index_dir, Catalog::Mode::kReadOnly);
  EXPECT_TRUE(catalog.is_ok()) << catalog.status().to_string();
  if (!catalog.is_ok()) return out;
  auto rows = (*catalog)->list();
  auto vectors = (*catalog)->load_embeddings();
  EXPECT_TRUE(rows.is_ok() && vectors.is_ok());
  if (!rows.is_ok() || !vectors.is_ok()) return out;
  EXPECT_EQ(rows->size(), vectors->ids.size());
  std::map<int64_t, size_t> row_of_id;
  for (size_t i = 0; i < vectors->ids.size(); ++i) row_of_id[vectors->ids[i]] = i;
  for (ImageRecord& r : *rows) {
    auto it = row_of_id.find(r.id);
    EXPECT_NE(it, row_of_id.end()) << r.image_name << " has no embedding";
    if (it == row_of_id.end()) continue;
    auto v = vectors->vectors.row(it->second);
    r.embedding.assign(v.begin(), v.end());
    out.emplace(r.image_name, std::move(r));
  }
  return out;
}

struct BruteHit {
  int64_t id = 0;
  double score = 0;
};

// Cosine similarity of `query` with every row, in double precision: the hits at or above
// min_score, best first (ties by id), at most k.
inline std::vector<BruteHit> brute_force(const std::map<std::string, ImageRecord>& rows,
                                         const std::vector<float>& query, size_t k,
                                         double min_score,
                                         const std::optional<std::string>& category = {},
                                         std::optional<int64_t> exclude = {}) {
  double qn = 0;
  for (float v : query) qn += double(v) * v;
  qn = std::sqrt(qn);
  std::vector<BruteHit> hits;
  for (const auto& [name, r] : rows) {
    if (category && r.category != *category) continue;
    if (exclude && r.id == *exclude) continue;
    double dot = 0, rn = 0;
    for (size_t i = 0; i < query.size(); ++i) {
      dot += double(query[i]) * r.embedding[i];
      rn += double(r.embedding[i]) * r.embedding[i];
    }
    const double score = dot / (qn * std::sqrt(rn));
    if (score >= min_score) hits.push_back({r.id, score});
  }
  std::sort(hits.begin(), hits.end(), [](const BruteHit& a, const BruteHit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

// Largest |a[i] - b[i]|.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

// Expects two catalogs to describe the same images: names, file identity, metadata and
// embeddings (within `tolerance`); ids and timestamps may differ.
inline void expect_same_index(const std::map<std::string, ImageRecord>& got,
                              const std::map<std::string, ImageRecord>& want,
                              double tolerance = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name << " is missing";
    const ImageRecord& g = it->second;
    EXPECT_EQ(g.category, w.category) << name;
    EXPECT_EQ(g.relative_path, w.relative_path) << name;
    EXPECT_EQ(g.source_url, w.source_url) << name;
    EXPECT_EQ(g.sha256, w.sha256) << name;
    EXPECT_EQ(g.file_size, w.file_size) << name;
    EXPECT_EQ(g.width, w.width) << name;
    EXPECT_EQ(g.height, w.height) << name;
    EXPECT_EQ(g.extra_json, w.extra_json) << name;
    EXPECT_LE(max_abs_diff(g.embedding, w.embedding), tolerance) << name;
  }
}

}  // namespace xrs::testing
