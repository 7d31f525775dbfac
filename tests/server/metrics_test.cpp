// GET /metrics through ApiRouter: the exposition parses as Prometheus text format 0.0.4 (a small
// parser written here from the format's description: HELP/TYPE comments, samples
// `name{label="value",...} number`), and its counters and histograms move as requests are made.
#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "router_fixture.h"
#include "server/api/metrics.h"

namespace xrs::testing {
namespace {

struct Exposition {
  std::map<std::string, std::string> types;  // metric family → counter/gauge/histogram
  std::map<std::string, double> samples;     // name{labels as written} → value
  double get(const std::string& key) const {
    auto it = samples.find(key);
    return it == samples.end() ? 0.0 : it->second;
  }
};

// Fails the test on any line that is not a comment, a HELP/TYPE line or a well-formed sample,
// on a sample whose family has no TYPE, and on a duplicate sample.
Exposition parse_prometheus(const std::string& text) {
  Exposition e;
  const std::regex type_line(
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  const std::regex help_line(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*)?\})? ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN)))");
  EXPECT_TRUE(text.ends_with("\n")) << "the exposition must end with a newline";
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.empty()) continue;
    if (std::regex_match(line, m, type_line)) {
      EXPECT_EQ(e.types.count(m[1]), 0u) << "TYPE given twice: " << line;
      e.types[m[1]] = m[2];
    } else if (std::regex_match(line, help_line)) {
    } else if (line.starts_with("#")) {
      ADD_FAILURE() << "a comment that is neither HELP nor TYPE: " << line;
    } else if (std::regex_match(line, m, sample)) {
      std::string family = m[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (e.types.count(family) == 0 && family.ends_with(suffix)) {
          family = family.substr(0, family.size() - std::string(suffix).size());
        }
      }
      EXPECT_EQ(e.types.count(family), 1u) << "no TYPE before " << line;
      const std::string key = line.substr(0, line.rfind(' '));
      EXPECT_EQ(e.samples.count(key), 0u) << "duplicate sample " << key;
      e.samples[key] = std::stod(m[8]);
    } else {
      ADD_FAILURE() << "not a Prometheus text line: '" << line << "'";
    }
  }
  return e;
}

TEST_F(RouterTest, MetricsParseAndCountersMoveWithRequests) {
  HttpResponse r = handle(get_request("/metrics"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  Exposition before = parse_prometheus(r.body);
  EXPECT_EQ(before.types["xrs_http_requests_total"], "counter");
  EXPECT_EQ(before.types["xrs_search_duration_seconds"], "histogram");
  EXPECT_EQ(before.types["xrs_index_images"], "gauge");
  EXPECT_EQ(before.get("xrs_index_images"), double(backend_->info().images));
  EXPECT_EQ(before.get("xrs_embedding_dimension"), double(kFakeDim));
  EXPECT_EQ(before.get("xrs_model_info{model=\"fake-backend 0123456789ab\"}"), 1.0);
  // Image batching (serve --batch-max-size): the fake backend does not batch.
  EXPECT_EQ(before.types["xrs_image_batches_total"], "counter");
  EXPECT_EQ(before.types["xrs_image_batch_queries_total"], "counter");
  EXPECT_EQ(before.types["xrs_image_batch_max_size"], "gauge");
  EXPECT_EQ(before.get("xrs_image_batches_total"), 0.0);
  EXPECT_EQ(before.get("xrs_image_batch_queries_total"), 0.0);
  EXPECT_EQ(before.get("xrs_image_batch_max_size"), 1.0);

  const std::string text_ok = R"(xrs_http_requests_total{route="/api/search/text",status="200"})";
  const std::string text_bad = R"(xrs_http_requests_total{route="/api/search/text",status="400"})";
  ASSERT_EQ(search_text(R"({"query":"chest"})").status, 200);
  ASSERT_EQ(search_text(R"({"query":"hand","k":3})").status, 200);
  ASSERT_EQ(search_text(R"({"query":""})").status, 400);
  const std::string png = png_bytes(16, 16);
  ASSERT_EQ(handle(form_request({file_part(png)})).status, 200);
  ASSERT_EQ(handle(get_request("/api/nowhere")).status, 404);

  Exposition after = parse_prometheus(handle(get_request("/metrics")).body);
  EXPECT_EQ(after.get(text_ok) - before.get(text_ok), 2.0);
  EXPECT_EQ(after.get(text_bad) - before.get(text_bad), 1.0);
  EXPECT_EQ(after.get(R"(xrs_http_requests_total{route="/api/search/image",status="200"})"), 1.0);
  EXPECT_EQ(after.get(R"(xrs_http_requests_total{route="unmatched",status="404"})"), 1.0);
  EXPECT_EQ(after.get(R"(xrs_http_requests_total{route="/metrics",status="200"})"), 1.0);
  EXPECT_EQ(after.get("xrs_upload_bytes_total"), double(png.size()));
  EXPECT_EQ(after.get("xrs_uploads_total"), 1.0);
  // Histograms: every text search counted (errors too), buckets cumulative, +Inf = count.
  const std::string t = R"(type="text")";
  EXPECT_EQ(after.get("xrs_search_duration_seconds_count{" + t + "}"), 3.0);
  EXPECT_EQ(after.get("xrs_search_duration_seconds_bucket{" + t + R"(,le="+Inf"})"), 3.0);
  EXPECT_GE(after.get("xrs_search_duration_seconds_sum{" + t + "}"), 0.0);
  double previous = 0;
  for (double le : api::Metrics::kBuckets) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", le);
    const double v = after.get("xrs_search_duration_seconds_bucket{" + t + ",le=\"" + buf + "\"}");
    EXPECT_GE(v, previous) << le;
    previous = v;
  }
  EXPECT_EQ(after.get(R"(xrs_search_duration_seconds_count{type="image"})"), 1.0);
}

TEST_F(RouterTest, MetricsNeedATokenWhenTheServerHasOne) {
  make_router(with<RouterOptions>([](auto& o) { o.api_token = "secret-token-0123456789"; }));
  expect_error(handle(get_request("/metrics")), 401, "unauthenticated");
  HttpRequest with_token = get_request("/metrics");
  with_token.headers.emplace_back("Authorization", "Bearer secret-token-0123456789");
  HttpResponse r = handle(with_token);
  ASSERT_EQ(r.status, 200) << r.body;
  Exposition e = parse_prometheus(r.body);
  EXPECT_EQ(e.get(R"(xrs_http_requests_total{route="/metrics",status="401"})"), 1.0);
}

}  // namespace
}  // namespace xrs::testing
