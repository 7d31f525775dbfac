// Export to .npy + CSV, read back by NumPy and Python's csv module (code nobody here wrote).
#include "index/export.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "index_test_data.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

constexpr uint32_t kDim = 24;

bool numpy_available() {
  return std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0;
}

TEST(ExportTest, NumpyAndCsvReadBackEqual) {
  if (!numpy_available()) GTEST_SKIP() << "skipped: /usr/bin/python3 with numpy is absent";
  std::string dir = testing::scratch_dir("export");
  auto records = testing::fill_catalog(dir, 40, kDim, 8);
  {
    // Names and URLs that need RFC 4180 quoting.
    auto catalog = Catalog::open(dir, Catalog::Mode::kReadWrite).value();
    auto tx = catalog->begin().value();
    ImageRecord odd = testing::make_record("odd, \"quoted\"\nname.png", "hand",
                                           testing::random_unit_vectors(1, kDim, 4), 99);
    odd.source_url = "https://example.org/a?b=1,2";
    odd.id = tx.upsert(odd).value();
    records.push_back(odd);
    ASSERT_TRUE(tx.remove(records[3].image_name).is_ok());
    ASSERT_TRUE(tx.commit().is_ok());
    records.erase(records.begin() + 3);
  }
  ASSERT_TRUE(export_embeddings(dir, dir + "/e.npy", dir + "/e.csv").is_ok());

  // The expectation, written independently of the export: raw float32 rows and a JSON list.
  std::string raw;
  std::string rows = "[";
  for (const ImageRecord& r : records) {
    raw.append(reinterpret_cast<const char*>(r.embedding.data()), r.embedding.size() * 4);
    nlohmann::json row = {std::to_string(r.id), r.image_name, r.category,
                          r.relative_path,      r.source_url, r.sha256};
    rows += row.dump() + ",";
  }
  rows.back() = ']';
  std::ofstream(dir + "/expected.f32", std::ios::binary) << raw;
  std::ofstream(dir + "/expected.json") << rows;
  std::string script = R"(
import csv, json, numpy, sys
d = ')" + dir + R"('
a = numpy.load(d + '/e.npy')
b = numpy.fromfile(d + '/expected.f32', dtype='<f4').reshape(-1, )" +
                       std::to_string(kDim) + R"()
assert a.dtype == numpy.dtype('<f4') and a.flags['C_CONTIGUOUS'], a.dtype
assert a.shape == b.shape, (a.shape, b.shape)
assert (a == b).all()
with open(d + '/e.csv', newline='') as f:
    rows = list(csv.reader(f))
assert rows[0] == ['id', 'image_name', 'category', 'path', 'source_url', 'sha256'], rows[0]
assert rows[1:] == json.load(open(d + '/expected.json')), rows[1:3]
)";
  ASSERT_EQ(testing::run_python(dir + "/check.py", script), 0);
}

TEST(ExportTest, EmptyIndexAndFormatHelpers) {
  if (!numpy_available()) GTEST_SKIP() << "skipped: /usr/bin/python3 with numpy is absent";
  std::string dir = testing::scratch_dir("export_empty");
  ASSERT_TRUE(Catalog::open_or_create(dir, testing::test_model(kDim)).is_ok());
  ASSERT_TRUE(export_embeddings(dir, dir + "/e.npy", dir + "/e.csv").is_ok());
  std::string script = "import numpy\na = numpy.load('" + dir +
                       "/e.npy')\nassert a.shape == (0, 24) and a.dtype == numpy.float32\n";
  ASSERT_EQ(testing::run_python(dir + "/check.py", script), 0);

  EXPECT_EQ(npy_header(3, 512).size() % 64, 0u);
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\r\nlines"), "\"two\r\nlines\"");
  EXPECT_EQ(export_embeddings(dir + "/missing", dir + "/x.npy", dir + "/x.csv").code(),
            StatusCode::kNotFound);
  EXPECT_EQ(export_embeddings(dir, dir + "/no/such/dir/x.npy", dir + "/x.csv").code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace xrs
