// fetch_dataset() against a local server: layout, skipping intact files, replacing damaged ones,
// refusing hostile rows, the sha256 column and per-row failures.
#include "fetch/dataset_fetch.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "core/sha256.h"
#include "fetch_test_util.h"
#include "imaging/encode.h"
#include "support/test_paths.h"
#include "test_http_server.h"

namespace xrs {
namespace {

using testing::fast_options;
using testing::file_response;
using testing::HttpRequest;
using testing::HttpResponse;
using testing::slurp;
using testing::spit;
using testing::TestHttpServer;

Image gradient(int w, int h, PixelFormat format) {
  Image img;
  img.width = w;
  img.height = h;
  img.format = format;
  img.pixels.resize(size_t(w) * h * img.channels());
  for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i * 7);
  return img;
}

const std::string kPng = *encode_png(gradient(64, 48, PixelFormat::kL));
const std::string kJpeg = *encode_jpeg(gradient(80, 60, PixelFormat::kRGB));

// /img/*.png → kPng, /img/*.jpg → kJpeg, /html/* → an HTML page, else 404.
HttpResponse serve_images(const HttpRequest& r) {
  if (r.path.rfind("/img/", 0) == 0) {
    const bool png = r.path.size() > 4 && r.path.substr(r.path.size() - 4) == ".png";
    return file_response(r, png ? kPng : kJpeg, true);
  }
  HttpResponse resp;
  if (r.path.rfind("/html/", 0) == 0) {
    resp.body = "<!DOCTYPE html><html>rate limited</html>";
  } else {
    resp.status = 404;
  }
  return resp;
}

DatasetFetchOptions fast() {
  DatasetFetchOptions o;
  o.download = fast_options();
  o.download.max_attempts = 1;
  return o;
}

std::string csv_row(const std::string& name, const std::string& url, const std::string& cat) {
  return name + "," + url + "," + cat + "\n";
}

TEST(DatasetFetch, DownloadsIntoRawCategoryFolders) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_ok");
  TestHttpServer server(serve_images);
  std::string csv = "image_name,source_url,category,license\n";
  for (int i = 0; i < 6; ++i) {
    const std::string name = "img" + std::to_string(i) + (i % 2 ? ".png" : ".jpg");
    csv += name + "," + server.url("/img/" + name) + "," + (i < 3 ? "chest" : "hand") + ",CC-BY\n";
  }
  spit(root + "/metadata.csv", csv);
  std::mutex mu;
  int calls = 0, last_done = 0;
  DatasetFetchOptions o = fast();
  o.parallel = 3;
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root + "/data", o,
                                                 [&](const DatasetFetchItem&, int done, int total) {
                                                   std::lock_guard<std::mutex> lock(mu);
                                                   EXPECT_EQ(done, last_done + 1);
                                                   EXPECT_EQ(total, 6);
                                                   last_done = done;
                                                   ++calls;
                                                 });
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->downloaded, 6);
  EXPECT_EQ(r->failed, 0);
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(slurp(root + "/data/raw/chest/img0.jpg"), kJpeg);
  EXPECT_EQ(slurp(root + "/data/raw/chest/img1.png"), kPng);
  EXPECT_EQ(slurp(root + "/data/raw/hand/img5.png"), kPng);
  EXPECT_EQ(slurp(root + "/data/metadata.csv"), csv);
  ASSERT_EQ(r->items.size(), 6u);
  EXPECT_EQ(r->items[0].line, 2);
  EXPECT_EQ(r->items[0].relative_path, "raw/chest/img0.jpg");
  EXPECT_EQ(r->items[0].bytes, kJpeg.size());
}

TEST(DatasetFetch, SkipsIntactFilesAndReplacesATruncatedOne) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_skip");
  TestHttpServer server(serve_images);
  std::string csv = "image_name,source_url,category\n";
  for (int i = 0; i < 4; ++i) {
    const std::string name = "x" + std::to_string(i) + ".png";
    csv += csv_row(name, server.url("/img/" + name), "dental");
  }
  spit(root + "/metadata.csv", csv);
  ASSERT_TRUE(fetch_dataset(root + "/metadata.csv", root, fast()).is_ok());
  const size_t first = server.requests().size();
  ASSERT_EQ(first, 4u);

  spit(root + "/raw/dental/x2.png", kPng.substr(0, kPng.size() / 2));
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->skipped, 3);
  EXPECT_EQ(r->downloaded, 1);
  EXPECT_EQ(r->items[2].outcome, FetchOutcome::kDownloaded);
  ASSERT_EQ(server.requests().size(), first + 1);
  EXPECT_EQ(server.requests().back().path, "/img/x2.png");
  EXPECT_EQ(slurp(root + "/raw/dental/x2.png"), kPng);
}

TEST(DatasetFetch, ResumesAPartialDownload) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_resume");
  TestHttpServer server(serve_images);
  spit(root + "/metadata.csv",
       "image_name,source_url,category\n" + csv_row("a.jpg", server.url("/img/a.jpg"), "chest"));
  std::filesystem::create_directories(root + "/raw/chest");
  spit(root + "/raw/chest/a.jpg.part", kJpeg.substr(0, 100));
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->downloaded, 1);
  EXPECT_EQ(server.requests().at(0).headers.at("range"), "bytes=100-");
  EXPECT_EQ(slurp(root + "/raw/chest/a.jpg"), kJpeg);
}

TEST(DatasetFetch, EachBadRowFailsOnItsOwn) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_bad");
  TestHttpServer server(serve_images);
  const std::string good = server.url("/img/ok.png");
  std::string csv = "image_name,source_url,category\n";
  csv += csv_row("ok.png", good, "chest");                              // line 2
  csv += csv_row("../escape.png", good, "chest");                       // 3
  csv += csv_row("/etc/abs.png", good, "chest");                        // 4
  csv += csv_row("c.png", good, "chest/../..");                         // 5
  csv += csv_row("notes.txt", good, "chest");                           // 6
  csv += csv_row("gone.png", server.url("/nothing.png"), "chest");      // 7: 404
  csv += csv_row("page.png", server.url("/html/p.png"), "chest");       // 8: HTML, not a PNG
  csv += csv_row("wrongtype.png", server.url("/img/w.jpg"), "chest");   // 9: a JPEG
  csv += csv_row("ok.png", good, "chest");                              // 10: duplicate
  csv += csv_row("insecure.png", "http://example.com/x.png", "chest");  // 11
  csv += csv_row("empty.png", "", "chest");                             // 12
  csv += "broken.png,\"unterminated,chest\n";                           // 13
  spit(root + "/metadata.csv", csv);
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root + "/d", fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->downloaded, 1);
  std::map<int, std::string> reasons;
  for (const DatasetFetchItem& it : r->items) {
    if (it.outcome == FetchOutcome::kFailed) reasons[it.line] = it.reason;
  }
  auto has = [&](int line, const std::string& text) {
    EXPECT_NE(reasons[line].find(text), std::string::npos)
        << "line " << line << ": " << reasons[line];
  };
  has(3, "'..' component");
  has(4, "absolute path");
  has(5, "category 'chest/../..' is refused");
  has(6, "image extension");
  has(7, "HTTP 404");
  has(8, "not usable");
  has(9, "holds a jpeg image");
  has(10, "also listed on line 2");
  has(11, "plain http");
  has(12, "source_url is empty");
  has(13, "never closed");
  EXPECT_EQ(r->failed, 11);
  EXPECT_FALSE(r->ok());
  // Nothing was written outside the dataset folder, and nothing half-done stays.
  EXPECT_FALSE(testing::exists(root + "/escape.png"));
  EXPECT_FALSE(testing::exists(root + "/d/raw/chest/page.png"));
  EXPECT_FALSE(testing::exists(root + "/d/raw/chest/page.png.part"));
  // Only the good row and the three that reached the network made requests.
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(DatasetFetch, Sha256ColumnDecidesIntactness) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_sha");
  TestHttpServer server(serve_images);
  spit(root + "/metadata.csv", "image_name,source_url,category,sha256\n" + std::string("a.png,") +
                                   server.url("/img/a.png") + ",chest," + sha256_hex(kPng) + "\n" +
                                   "b.png," + server.url("/img/b.png") + ",chest," +
                                   std::string(64, 'F') + "\n" + "c.png," +
                                   server.url("/img/c.png") + ",chest,xyz\n");
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root, fast());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->items[0].outcome, FetchOutcome::kDownloaded);
  EXPECT_EQ(r->items[1].outcome, FetchOutcome::kFailed);
  EXPECT_NE(r->items[1].reason.find("expected " + std::string(64, 'f')), std::string::npos)
      << r->items[1].reason;
  EXPECT_NE(r->items[2].reason.find("not 64 hex digits"), std::string::npos);
  // A valid image whose bytes differ from the listed hash is not intact: fetched again.
  spit(root + "/raw/chest/a.png", kJpeg);
  r = fetch_dataset(root + "/metadata.csv", root, fast());
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->items[0].outcome, FetchOutcome::kDownloaded);
  EXPECT_EQ(slurp(root + "/raw/chest/a.png"), kPng);
}

TEST(DatasetFetch, WholeRunErrors) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_errors");
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/none.csv", root, fast());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  spit(root + "/metadata.csv", "image_name,url,category\na.png,https://x/a.png,chest\n");
  r = fetch_dataset(root + "/metadata.csv", root + "/d", fast());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no column 'source_url'"), std::string::npos);
  DatasetFetchOptions o = fast();
  o.parallel = 0;
  EXPECT_EQ(fetch_dataset(root + "/metadata.csv", root + "/d", o).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(DatasetFetch, UnreachableHostSaysWhereTheFileGoes) {
  const std::string root = xrs::testing::scratch_dir("dataset_fetch_offline");
  spit(root + "/metadata.csv",
       "image_name,source_url,category\n"
       "a.png,https://127.0.0.1:1/o/r/a.png,chest\n"
       "b.png,https://127.0.0.1:1/o/r/b.png,hand\n");
  DatasetFetchOptions o = fast();
  o.parallel = 1;
  StatusOr<DatasetFetchReport> r = fetch_dataset(root + "/metadata.csv", root + "/d", o);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->failed, 2);
  const std::string& why = r->items[0].reason;
  EXPECT_NE(why.find("https://127.0.0.1:1/o/r/a.png"), std::string::npos) << why;
  EXPECT_NE(why.find("save it as " + root + "/d/raw/chest/a.png"), std::string::npos) << why;
  // The second row from the same host is not tried again, and still says where its file goes.
  const std::string& why2 = r->items[1].reason;
  EXPECT_NE(why2.find("not tried: 127.0.0.1 was unreachable"), std::string::npos) << why2;
  EXPECT_NE(why2.find("save it as " + root + "/d/raw/hand/b.png"), std::string::npos) << why2;
}

}  // namespace
}  // namespace xrs
