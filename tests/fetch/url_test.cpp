// URL parsing, the download policy and the GitHub blob → raw rewrite.
#include "fetch/url.h"

#include <gtest/gtest.h>

namespace xrs {
namespace {

TEST(ParseUrl, SplitsSchemeHostAndPath) {
  StatusOr<UrlParts> p = parse_url("HTTPS://Example.COM:8443/a/b.png?x=1#f");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->scheme, "https");
  EXPECT_EQ(p->host, "example.com");
  EXPECT_EQ(p->path, "/a/b.png");
  p = parse_url("http://[::1]:8080");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->path, "/");
}

TEST(ParseUrl, RefusesMalformedUrls) {
  for (const char* url :
       {"", "example.com/a", "://x", "https://", "https:///path", "https://a b/c",
        "https://user:pw@host/x", "https://host:port/x", "https://[::1/x", "https://host/a\nb"}) {
    StatusOr<UrlParts> p = parse_url(url);
    ASSERT_FALSE(p.is_ok()) << url;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << url;
  }
}

TEST(Loopback, RecognisesOnlyThisMachine) {
  for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1"}) {
    EXPECT_TRUE(is_loopback_host(h)) << h;
  }
  for (const char* h : {"127.0.0.1.evil.com", "127.0.0", "128.0.0.1", "127.0.0.256",
                        "localhost.localdomain.example", "10.0.0.1", "example.com", "127.a.0.1"}) {
    EXPECT_FALSE(is_loopback_host(h)) << h;
  }
}

TEST(DownloadPolicy, HttpsAlwaysHttpOnlyToLoopbackWhenAllowed) {
  EXPECT_TRUE(check_download_url("https://huggingface.co/x", false).is_ok());
  EXPECT_TRUE(check_download_url("http://127.0.0.1:8000/x", true).is_ok());
  EXPECT_TRUE(check_download_url("http://localhost/x", true).is_ok());
  Status s = check_download_url("http://127.0.0.1:8000/x", false);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("plain http is refused"), std::string::npos) << s.message();
  s = check_download_url("http://example.com/x", true);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("loopback"), std::string::npos) << s.message();
  s = check_download_url("ftp://example.com/x", true);
  EXPECT_NE(s.message().find("scheme 'ftp'"), std::string::npos) << s.message();
  EXPECT_FALSE(check_download_url("file:///etc/passwd", true).is_ok());
}

TEST(GithubBlobToRaw, RewritesFilePages) {
  EXPECT_EQ(github_blob_to_raw("https://github.com/ml-workgroup/covid-19-image-repository/blob/"
                               "ad7ab099b425f16e06bba22322336b7d6a732965/png/887db78f.png"),
            "https://raw.githubusercontent.com/ml-workgroup/covid-19-image-repository/"
            "ad7ab099b425f16e06bba22322336b7d6a732965/png/887db78f.png");
  // Nested paths and "?raw=true" (GitHub's own download link).
  EXPECT_EQ(github_blob_to_raw("https://github.com/o/r/blob/main/a/b/c%20d.jpg?raw=true"),
            "https://raw.githubusercontent.com/o/r/main/a/b/c%20d.jpg");
  EXPECT_EQ(github_blob_to_raw("http://github.com/o/r/blob/v1/x.png"),
            "https://raw.githubusercontent.com/o/r/v1/x.png");
}

TEST(GithubBlobToRaw, LeavesEverythingElseAlone) {
  for (const char* url :
       {"https://raw.githubusercontent.com/o/r/main/x.png", "https://github.com/o/r/tree/main/x",
        "https://github.com/o/r/blob/main/", "https://github.com/o/r/blob/main",
        "https://github.com/o//blob/main/x.png", "https://github.com/o/r/blob/main/x.png?a=b",
        "https://example.com/o/r/blob/main/x.png", "https://github.com.evil.com/o/r/blob/m/x",
        "https://github.com/o/r/blob/main/x.png#L1"}) {
    EXPECT_EQ(github_blob_to_raw(url), url);
  }
}

}  // namespace
}  // namespace xrs
