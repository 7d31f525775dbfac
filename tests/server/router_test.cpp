// ApiRouter without sockets: routing, methods, authentication, headers, health, OpenAPI, the UI.
#include <set>

#include "router_fixture.h"
#include "server/web_assets.h"

namespace xrs::testing {
namespace {

TEST_F(RouterTest, HealthReportsIndexModelCategoriesAndLimits) {
  HttpResponse r = handle(get_request("/api/health"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json j = body_json(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["images"], 6);
  EXPECT_EQ(j["model"], "fake-backend 0123456789ab");
  EXPECT_EQ(j["categories"], json::array({"chest", "dental", "hand"}));
  EXPECT_EQ(j["auth_required"], false);
  EXPECT_EQ(j["limits"]["k_max"], kMaxK);
  EXPECT_EQ(j["limits"]["k_default"], kDefaultK);
  EXPECT_EQ(j["limits"]["text_min_score"], 0.25);
  EXPECT_EQ(j["limits"]["image_min_score"], 0.95);
  EXPECT_EQ(j["limits"]["max_upload_bytes"], 32 * 1024 * 1024);
  // The generation served (the backend's), for replicas and their load balancers.
  EXPECT_EQ(j["index"]["generation"], 7);
  EXPECT_EQ(j["index"]["catalog_id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(j["index"]["read_only"], false);
  EXPECT_EQ(j["index"]["reloads"], 0);
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
}

TEST_F(RouterTest, HeadIsAcceptedWhereGetIs) {
  HttpRequest r = get_request("/api/health");
  r.method = "HEAD";
  EXPECT_EQ(handle(r).status, 200);
  r.path = "/";
  EXPECT_EQ(handle(r).status, 200);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  HttpRequest r = get_request("/api/search/text");
  HttpResponse res = handle(r);
  expect_error(res, 405, "method_not_allowed", "POST");
  EXPECT_EQ(res.header("Allow"), "POST");

  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"}) {
    HttpRequest g = get_request("/api/health");
    g.method = method;
    HttpResponse h = handle(g);
    expect_error(h, 405, "method_not_allowed");
    EXPECT_EQ(h.header("Allow"), "GET, HEAD") << method;
  }
  HttpRequest del = get_request("/api/images/1");
  del.method = "DELETE";
  expect_error(handle(del), 405, "method_not_allowed");
  HttpRequest put = get_request("/");
  put.method = "PUT";
  expect_error(handle(put), 405, "method_not_allowed");
}

TEST_F(RouterTest, UnknownRoutesAre404Json) {
  for (const char* path : {"/api/nope", "/nope", "/api", "/api/", "/api/health/", "/api/images",
                           "/api/images/", "/api/images/1/preview/x", "/app.js/", "/index.htm"}) {
    expect_error(handle(get_request(path)), 404, "not_found", "no such route");
  }
  HttpRequest post = json_request("/api/search/nope", "{}");
  expect_error(handle(post), 404, "not_found");
}

TEST_F(RouterTest, SecurityHeadersOnEveryKindOfResponse) {
  std::vector<HttpResponse> responses = {handle(get_request("/")),
                                         handle(get_request("/api/health")),
                                         handle(get_request("/api/nope")),
                                         handle(get_request("/api/images/0")),
                                         search_text(R"({"query":"chest"})"),
                                         search_text("not json")};
  for (const HttpResponse& r : responses) {
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff") << r.status;
    auto csp = r.header("Content-Security-Policy");
    ASSERT_TRUE(csp) << r.status;
    EXPECT_NE(csp->find("default-src 'none'"), std::string::npos);
    EXPECT_NE(csp->find("script-src 'self'"), std::string::npos);
    EXPECT_NE(csp->find("frame-ancestors 'none'"), std::string::npos);
    EXPECT_EQ(csp->find("unsafe-inline"), std::string::npos);
    EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << "no CORS by default";
  }
}

TEST_F(RouterTest, TokenProtectsApiButNotHealthOrUi) {
  make_router(with<RouterOptions>([](auto& o) { o.api_token = "s3cret-token"; }));
  HttpResponse no_auth = search_text(R"({"query":"chest"})");
  expect_error(no_auth, 401, "unauthenticated", "Bearer");
  EXPECT_EQ(no_auth.header("WWW-Authenticate"), "Bearer realm=\"xray-search\"");

  auto with_auth = [&](HttpRequest r, std::string value) {
    r.headers.emplace_back("Authorization", std::move(value));
    return handle(r);
  };
  const HttpRequest text = json_request("/api/search/text", R"({"query":"chest"})");
  EXPECT_EQ(with_auth(text, "Bearer s3cret-token").status, 200);
  EXPECT_EQ(with_auth(text, "bearer s3cret-token").status, 200) << "the scheme is case-insensitive";
  for (const char* wrong : {"Bearer s3cret", "Bearer s3cret-token2", "Bearer ",
                            "Basic s3cret-token", "s3cret-token", "Bearer S3CRET-TOKEN"}) {
    expect_error(with_auth(text, wrong), 401, "unauthenticated");
  }
  // Unknown /api/ routes do not reveal themselves to a client without the token.
  expect_error(handle(get_request("/api/nope")), 401, "unauthenticated");
  expect_error(handle(get_request("/api/images/0")), 401, "unauthenticated");
  expect_error(handle(get_request("/api/openapi.json")), 401, "unauthenticated");
  EXPECT_EQ(with_auth(get_request("/api/images/0"), "Bearer s3cret-token").status, 200);

  HttpResponse health = handle(get_request("/api/health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(body_json(health)["auth_required"], true);
  EXPECT_EQ(handle(get_request("/")).status, 200);
  EXPECT_EQ(handle(get_request("/app.js")).status, 200);
}

TEST_F(RouterTest, AdmitRejectsWithoutTheBody) {
  make_router(with<RouterOptions>([](auto& o) { o.api_token = "t"; }));
  // The rejection admit() gives, or nullopt when it admits the request.
  auto precheck = [&](HttpRequest r) -> std::optional<HttpResponse> {
    auto admitted = router_->admit(r);
    if (auto* rejection = std::get_if<HttpResponse>(&admitted)) return *rejection;
    return std::nullopt;
  };
  HttpRequest upload = form_request({});  // no parts: the body is not needed to refuse it
  auto rejection = precheck(upload);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->status, 401);
  EXPECT_EQ(rejection->header("X-Content-Type-Options"), "nosniff");

  upload.headers.emplace_back("Authorization", "Bearer t");
  EXPECT_FALSE(precheck(upload));
  upload.headers[0].second = "application/json";
  ASSERT_TRUE(precheck(upload));
  EXPECT_EQ(precheck(upload)->status, 415);
}

TEST_F(RouterTest, BodyLimitsByRoute) {
  make_router(with<RouterOptions>([](auto& o) {
    o.max_upload_bytes = 1000;
    o.max_json_bytes = 100;
  }));
  auto limit = [&](HttpRequest r) {
    auto admitted = router_->admit(r);
    EXPECT_TRUE(std::holds_alternative<ApiRouter::Admission>(admitted)) << r.path;
    auto* a = std::get_if<ApiRouter::Admission>(&admitted);
    return a == nullptr ? size_t{999999} : router_->body_limit(*a);
  };
  EXPECT_EQ(limit(form_request({})), 1000u);
  EXPECT_EQ(limit(json_request("/api/search/text", "")), 100u);
  EXPECT_EQ(limit(json_request("/api/search/similar", "")), 100u);
  EXPECT_EQ(limit(json_request("/api/search/embedding", "")), 100u);
  EXPECT_EQ(limit(json_request("/api/search/combined", "")), 100u);
  EXPECT_EQ(limit(get_request("/api/health")), 0u);
}

TEST_F(RouterTest, BackendExceptionBecomes500) {
  backend_->throw_in_searches(true);
  HttpResponse r = search_text(R"({"query":"chest"})");
  expect_error(r, 500, "internal", "fake backend exploded");
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
}

TEST_F(RouterTest, UiIsServedWithTypesAndEtags) {
  HttpResponse index = handle(get_request("/"));
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("Retrieval only"), std::string::npos);
  EXPECT_NE(index.body.find("app.js"), std::string::npos);
  EXPECT_EQ(handle(get_request("/index.html")).body, index.body);

  auto etag = index.header("ETag");
  ASSERT_TRUE(etag);
  EXPECT_EQ(etag->size(), 18u);  // 16 hex digits in quotes
  HttpRequest again = get_request("/");
  again.headers.emplace_back("If-None-Match", std::string(*etag));
  HttpResponse not_modified = handle(again);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(not_modified.header("ETag"), *etag);

  EXPECT_EQ(handle(get_request("/app.js")).content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(handle(get_request("/style.css")).content_type, "text/css; charset=utf-8");
  EXPECT_EQ(handle(get_request("/favicon.svg")).content_type, "image/svg+xml");
}

TEST_F(RouterTest, EmbeddedAssetsMatchTheWebFolder) {
  // The generated table holds exactly the files of web/, byte for byte.
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/web")) {
    on_disk.insert("/" + entry.path().filename().string());
  }
  std::set<std::string> embedded;
  for (const WebAsset& asset : web_assets()) {
    embedded.insert(std::string(asset.path));
    std::ifstream in(source_dir() + "/web" + std::string(asset.path), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, asset.bytes) << asset.path;
  }
  EXPECT_EQ(embedded, on_disk);
}

// Every "$ref" in the document points at something that exists.
void check_refs(const json& doc, const json& node) {
  if (node.is_object()) {
    if (auto it = node.find("$ref"); it != node.end()) {
      std::string ref = it->get<std::string>();
      ASSERT_TRUE(ref.starts_with("#/")) << ref;
      EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << "dangling $ref " << ref;
    }
    for (const auto& [key, value] : node.items()) check_refs(doc, value);
  } else if (node.is_array()) {
    for (const auto& value : node) check_refs(doc, value);
  }
}

TEST_F(RouterTest, OpenApiDescribesEveryRoute) {
  HttpResponse r = handle(get_request("/api/openapi.json"));
  ASSERT_EQ(r.status, 200);
  json doc = json::parse(r.body);  // throws (fails the test) when not JSON
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/", "get"},
      {"/{file}", "get"},
      {"/api/health", "get"},
      {"/api/openapi.json", "get"},
      {"/metrics", "get"},
      {"/api/search/text", "post"},
      {"/api/search/image", "post"},
      {"/api/search/similar", "post"},
      {"/api/search/embedding", "post"},
      {"/api/search/combined", "post"},
      {"/api/images/{id}", "get"},
      {"/api/images/{id}/preview", "get"}};
  EXPECT_EQ(doc["paths"].size(), routes.size());
  for (const auto& [path, method] : routes) {
    ASSERT_TRUE(doc["paths"].contains(path)) << path;
    EXPECT_TRUE(doc["paths"][path].contains(method)) << path << " " << method;
    for (const auto& [status, response] : doc["paths"][path][method]["responses"].items()) {
      EXPECT_TRUE(response.contains("description") || response.contains("$ref")) << path << status;
    }
  }
  check_refs(doc, doc);
  // Each route answers as documented: the same paths really are served.
  for (const WebAsset& asset : web_assets()) {
    const auto& files = doc["paths"]["/{file}"]["get"]["parameters"][0]["schema"]["enum"];
    EXPECT_NE(std::find(files.begin(), files.end(), std::string(asset.path.substr(1))),
              files.end());
  }
  EXPECT_EQ(doc["components"]["schemas"]["TextSearchRequest"]["properties"]["query"]["maxLength"],
            1000);
  EXPECT_EQ(doc["security"], json::array({json::object()}));
  make_router(with<RouterOptions>([](auto& o) { o.api_token = "t"; }));
  HttpRequest authed = get_request("/api/openapi.json");
  authed.headers.emplace_back("Authorization", "Bearer t");
  EXPECT_EQ(body_json(handle(authed))["security"][0].begin().key(), "bearerAuth");
}

}  // namespace
}  // namespace xrs::testing
