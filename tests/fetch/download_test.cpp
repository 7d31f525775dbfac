// download_file() against a local server: success, resume, ignored ranges, hash mismatch, HTTP
// errors, retries, stalls, redirects and the URL policy.
#include "fetch/download.h"

#include <gtest/gtest.h>

#include <atomic>

#include "core/sha256.h"
#include "fetch_test_util.h"
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
using testing::test_body;
using testing::TestHttpServer;

const std::string kBody = test_body(300'000);

DownloadRequest request_for(const TestHttpServer& server, const std::string& path,
                            const std::string& dir, const std::string& sha = sha256_hex(kBody)) {
  return {server.url(path), dir + "/file.bin", sha, {}};
}

TEST(Download, FetchesAndChecksTheHash) {
  const std::string dir = xrs::testing::scratch_dir("download_ok");
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  uint64_t last_done = 0;
  int calls = 0;
  StatusOr<DownloadResult> r =
      download_file(request_for(server, "/f", dir), fast_options(), [&](const DownloadProgress& p) {
        EXPECT_GE(p.bytes_done, last_done);
        last_done = p.bytes_done;
        EXPECT_EQ(p.bytes_total, static_cast<int64_t>(kBody.size()));
        ++calls;
      });
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  EXPECT_FALSE(testing::exists(dir + "/file.bin.part"));
  EXPECT_EQ(r->sha256, sha256_hex(kBody));
  EXPECT_EQ(r->size, kBody.size());
  EXPECT_EQ(r->attempts, 1);
  EXPECT_FALSE(r->resumed);
  EXPECT_GE(calls, 1);
  EXPECT_EQ(last_done, kBody.size());
}

TEST(Download, ResumesFromAPartialFile) {
  const std::string dir = xrs::testing::scratch_dir("download_resume");
  spit(dir + "/file.bin.part", kBody.substr(0, 123'456));
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].headers.at("range"), "bytes=123456-");
}

TEST(Download, RestartsWhenTheServerIgnoresRange) {
  const std::string dir = xrs::testing::scratch_dir("download_norange");
  // A .part whose bytes are wrong: appending the rest would corrupt the file.
  spit(dir + "/file.bin.part", std::string(5000, 'x'));
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, false); });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_FALSE(r->resumed);
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  EXPECT_EQ(server.requests()[0].headers.count("range"), 1u);
}

TEST(Download, StartsOverWhenThePartIsLargerThanTheFile) {
  const std::string dir = xrs::testing::scratch_dir("download_416");
  spit(dir + "/file.bin.part", kBody + "trailing junk");
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  ASSERT_EQ(server.requests().size(), 2u);  // 416, then the whole file
  EXPECT_EQ(server.requests()[1].headers.count("range"), 0u);
}

TEST(Download, RetriesACutTransferByResuming) {
  const std::string dir = xrs::testing::scratch_dir("download_cut");
  std::atomic<int> n{0};
  TestHttpServer server([&](const HttpRequest& r) {
    HttpResponse resp = file_response(r, kBody, true);
    if (n++ == 0) resp.send_bytes = 100'000;  // the connection drops mid-body
    return resp;
  });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_TRUE(r->resumed);
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  ASSERT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.requests()[1].headers.at("range"), "bytes=100000-");
}

TEST(Download, HashMismatchFailsAndLeavesNoFile) {
  const std::string dir = xrs::testing::scratch_dir("download_mismatch");
  const std::string wrong(64, 'a');
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir, wrong), fast_options());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(sha256_hex(kBody)), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("expected " + wrong), std::string::npos);
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
  EXPECT_FALSE(testing::exists(dir + "/file.bin.part"));
}

TEST(Download, VerifyCallbackCanRefuseTheFile) {
  const std::string dir = xrs::testing::scratch_dir("download_verify");
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  DownloadRequest req = request_for(server, "/f", dir, "");
  req.verify = [](const std::string& part) {
    EXPECT_EQ(slurp(part), kBody);
    return Status::corruption("not a PNG");
  };
  StatusOr<DownloadResult> r = download_file(req, fast_options());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().message(), "not a PNG");
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
  EXPECT_FALSE(testing::exists(dir + "/file.bin.part"));
}

TEST(Download, NotFoundIsReportedWithoutRetrying) {
  const std::string dir = xrs::testing::scratch_dir("download_404");
  TestHttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 404;
    r.body = "nope";
    return r;
  });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/missing", dir), fast_options());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/missing: HTTP 404"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
}

TEST(Download, ServerErrorsAreRetriedThenReported) {
  const std::string dir = xrs::testing::scratch_dir("download_500");
  TestHttpServer server([](const HttpRequest&) {
    HttpResponse r;
    r.status = 500;
    r.body = "<html>oops</html>";
    return r;
  });
  DownloadOptions o = fast_options();
  o.max_attempts = 3;
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("HTTP 500"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
  EXPECT_FALSE(testing::exists(dir + "/file.bin.part"));  // an error page is never saved
}

TEST(Download, TransientErrorThenSuccess) {
  const std::string dir = xrs::testing::scratch_dir("download_503");
  std::atomic<int> n{0};
  TestHttpServer server([&](const HttpRequest& r) {
    if (n++ == 0) {
      HttpResponse busy;
      busy.status = 503;
      busy.headers.emplace_back("Retry-After", "0");
      return busy;
    }
    return file_response(r, kBody, true);
  });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
}

TEST(Download, StalledServerTimesOut) {
  const std::string dir = xrs::testing::scratch_dir("download_stall");
  TestHttpServer server([](const HttpRequest& r) {
    HttpResponse resp = file_response(r, kBody, true);
    resp.stall_after = 1000;
    resp.stall = std::chrono::seconds(30);
    return resp;
  });
  DownloadOptions o = fast_options();
  o.max_attempts = 2;
  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("no data for 1 s (the transfer stalled)"), std::string::npos)
      << r.status().message();
  EXPECT_LT(secs, 8.0);
  EXPECT_EQ(server.requests().size(), 2u);
  // The second attempt resumed from what the first one got.
  EXPECT_EQ(server.requests()[1].headers.at("range"), "bytes=1000-");
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
}

TEST(Download, FollowsRedirects) {
  const std::string dir = xrs::testing::scratch_dir("download_redirect");
  TestHttpServer server([](const HttpRequest& r) {
    if (r.path == "/file") return file_response(r, kBody, true);
    HttpResponse moved;
    moved.status = 302;
    moved.headers.emplace_back("Location", r.path == "/a" ? "/b" : "/file");
    moved.body = "moved";
    return moved;
  });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/a", dir), fast_options());
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->final_url, server.url("/file"));
  EXPECT_EQ(slurp(dir + "/file.bin"), kBody);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(Download, RedirectLoopsAreCut) {
  const std::string dir = xrs::testing::scratch_dir("download_loop");
  TestHttpServer server([](const HttpRequest&) {
    HttpResponse moved;
    moved.status = 301;
    moved.headers.emplace_back("Location", "/again");
    return moved;
  });
  DownloadOptions o = fast_options();
  o.max_redirects = 3;
  StatusOr<DownloadResult> r = download_file(request_for(server, "/a", dir), o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("more than 3 redirects"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(Download, RedirectToPlainHttpElsewhereIsRefused) {
  const std::string dir = xrs::testing::scratch_dir("download_downgrade");
  TestHttpServer server([](const HttpRequest&) {
    HttpResponse moved;
    moved.status = 302;
    moved.headers.emplace_back("Location", "http://example.com/file");
    return moved;
  });
  StatusOr<DownloadResult> r = download_file(request_for(server, "/a", dir), fast_options());
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("redirected"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("http://example.com/file"), std::string::npos);
}

TEST(Download, PlainHttpNeedsTheLoopbackPermission) {
  const std::string dir = xrs::testing::scratch_dir("download_http");
  TestHttpServer server([](const HttpRequest& r) { return file_response(r, kBody, true); });
  DownloadOptions o = fast_options();
  o.allow_http_loopback = false;
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server.requests().empty());
}

TEST(Download, BodiesOverTheLimitAreRefused) {
  const std::string dir = xrs::testing::scratch_dir("download_limit");
  TestHttpServer server([](const HttpRequest& r) {
    HttpResponse resp = file_response(r, kBody, true);
    resp.omit_content_length = true;  // the limit must hold while streaming, too
    return resp;
  });
  DownloadOptions o = fast_options();
  o.max_bytes = 1000;
  StatusOr<DownloadResult> r = download_file(request_for(server, "/f", dir), o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
}

TEST(Download, UnreachableHostIsUnavailable) {
  const std::string dir = xrs::testing::scratch_dir("download_unreachable");
  DownloadOptions o = fast_options();
  o.max_attempts = 2;
  // Nothing listens on port 1 (privileged, unassigned).
  StatusOr<DownloadResult> r =
      download_file({"https://127.0.0.1:1/ViT-B-32.pt", dir + "/file.bin", "", {}}, o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("https://127.0.0.1:1/ViT-B-32.pt"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(testing::exists(dir + "/file.bin"));
}

}  // namespace
}  // namespace xrs
