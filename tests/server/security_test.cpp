// The security layer: token files and scopes (auth.h), the rate limiter (rate_limit.h), the
// audit log (audit_log.h), and how the router applies them to every route of the table.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/sha256.h"
#include "router_fixture.h"
#include "server/security/audit_log.h"
#include "server/security/auth.h"
#include "server/security/rate_limit.h"

namespace xrs::testing {
namespace {

using security::Authenticator;
using security::RateLimiter;
using security::Scope;

// Tokens of this test: one per scope, one with all, and their file.
constexpr char kSearchToken[] = "search-token-0123456789abcdef";
constexpr char kImagesToken[] = "images-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kAllToken[] = "all-token-0123456789abcdef";

std::string token_file_text() {
  using security::scope_bit;
  return "# test tokens\n\n" +
         security::token_file_line("searcher", scope_bit(Scope::kSearch), kSearchToken) + "\n" +
         security::token_file_line("viewer", scope_bit(Scope::kImages), kImagesToken) + "\n" +
         security::token_file_line("operator", scope_bit(Scope::kAdmin), kAdminToken) + "\r\n" +
         "  everything   all   " + security::token_digest_text(kAllToken) + "\n";
}

TEST(TokenFile, ParsesNamesScopesAndDigests) {
  auto auth = Authenticator::parse(token_file_text(), "tokens.txt");
  ASSERT_TRUE(auth.is_ok()) << auth.status().to_string();
  EXPECT_EQ(auth->size(), 4u);
  // The digest is SHA-256 of the token's bytes (checked against the core hash, itself tested
  // against NIST vectors).
  EXPECT_EQ(security::token_digest_text("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto r = auth->authenticate("Bearer " + std::string(kImagesToken));
  EXPECT_EQ(r.outcome, Authenticator::Outcome::kValid);
  EXPECT_EQ(r.principal.name, "viewer");
  EXPECT_EQ(r.principal.scopes, security::scope_bit(Scope::kImages));
  r = auth->authenticate("bearer   " + std::string(kAllToken) + " ");
  EXPECT_EQ(r.principal.name, "everything");
  EXPECT_EQ(r.principal.scopes, security::kAllScopes);
  EXPECT_EQ(auth->authenticate(std::nullopt).outcome, Authenticator::Outcome::kNone);
  for (const std::string& wrong : std::vector<std::string>{
           "Bearer nope", "Bearer ", "Basic " + std::string(kAllToken), std::string(kAllToken),
           "Bearer " + std::string(kAllToken) + "x", "Bearer sha256:" + sha256_hex(kAllToken)}) {
    EXPECT_EQ(auth->authenticate(wrong).outcome, Authenticator::Outcome::kInvalid) << wrong;
  }
}

TEST(TokenFile, RefusesBadLinesNamingTheLine) {
  const std::string digest = security::token_digest_text("t");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a search\n", "f.txt:1: expected"},
      {"# c\na search " + digest + " extra\n", "f.txt:2: expected"},
      {"a searh " + digest + "\n", "f.txt:1: unknown scope"},
      {"a search,search " + digest + "\n", "listed twice"},
      {"a search plain-token-not-a-digest\n", "never tokens"},
      {"a search sha256:" + std::string(64, 'G') + "\n", "64 lower-case hex"},
      {"b@d search " + digest + "\n", "token name"},
      {"a search " + digest + "\na images " + security::token_digest_text("u") + "\n",
       "f.txt:2: token name a is used twice"},
      {"a search " + digest + "\nb images " + digest + "\n", "same token"},
  };
  for (const auto& [text, fragment] : cases) {
    auto auth = Authenticator::parse(text, "f.txt");
    ASSERT_FALSE(auth.is_ok()) << text;
    EXPECT_EQ(auth.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(auth.status().message().find(fragment), std::string::npos)
        << auth.status().to_string();
  }
  EXPECT_EQ(Authenticator::load("/nonexistent/tokens").status().code(), StatusCode::kNotFound);
}

TEST(TokenFile, GeneratedTokensAreRandomAndUrlSafe) {
  auto a = security::generate_token();
  auto b = security::generate_token();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 4u + 43u);  // "xrs_" + 32 bytes in unpadded base64url
  EXPECT_TRUE(a->starts_with("xrs_"));
  for (char c : a->substr(4))
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  EXPECT_EQ(security::parse_scopes("images,search").value(), 3);
  EXPECT_EQ(security::scopes_text(security::kAllScopes), "search,images,admin");
  EXPECT_FALSE(security::parse_scopes("").is_ok());
}

TEST(RateLimit, BurstThenRetryAfterThenRecovers) {
  RateLimiter limiter({.requests_per_s = 2, .burst = 3, .uploads_per_client = 1});
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.admit("a", t0)) << i;
  auto wait = limiter.admit("a", t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 1);  // one token refills in 0.5 s: rounded up to whole seconds
  EXPECT_FALSE(limiter.admit("b", t0)) << "another client has its own bucket";
  EXPECT_TRUE(limiter.admit("a", t0 + std::chrono::milliseconds(400)));
  EXPECT_FALSE(limiter.admit("a", t0 + std::chrono::milliseconds(600)));
  // After a long pause the bucket is full again, not fuller.
  const auto later = t0 + std::chrono::seconds(100);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.admit("a", later)) << i;
  EXPECT_TRUE(limiter.admit("a", later));

  auto slot = limiter.begin_upload("a");
  ASSERT_TRUE(slot);
  EXPECT_FALSE(limiter.begin_upload("a")) << "one upload in flight per client";
  EXPECT_TRUE(limiter.begin_upload("b"));
  slot->reset();
  EXPECT_TRUE(limiter.begin_upload("a")) << "the slot came back";

  RateLimiter open({});
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(open.admit("a", t0));
}

TEST(RateLimit, ForgetsIdleClientsPastTheCap) {
  RateLimiter limiter(
      {.requests_per_s = 10, .burst = 2, .uploads_per_client = 0, .max_clients = 3});
  const auto t0 = RateLimiter::Clock::now();
  for (std::string c : {"a", "b", "c"}) EXPECT_FALSE(limiter.admit(c, t0));
  EXPECT_TRUE(limiter.admit("d", t0)) << "no room: every bucket is still refilling";
  const auto t1 = t0 + std::chrono::seconds(5);
  EXPECT_FALSE(limiter.admit("d", t1)) << "refilled buckets are forgotten";
  EXPECT_LE(limiter.tracked_clients(), 3u);
}

TEST(AuditLog, OneJsonObjectPerLineAndRotation) {
  const std::string dir = scratch_dir("audit_log_rotation");
  security::AuditOptions options;
  options.path = dir + "/audit.log";
  options.max_bytes = 1024;
  options.keep = 2;
  auto log = security::AuditLog::open(options);
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  security::AuditRecord record;
  record.request_id = "abcd-000001";
  record.principal = "viewer";
  record.client = "127.0.0.1";
  record.method = "GET";
  record.route = "/api/images/{id}";
  record.status = 200;
  record.facts.event = "image.open";
  record.facts.add("image_id", int64_t{42});
  record.facts.add("note", std::string("line\nbreak \xff"));
  for (int i = 0; i < 30; ++i) (*log)->write(record);
  struct stat st {};
  ASSERT_EQ(::stat(options.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_LE(static_cast<uint64_t>(st.st_size), options.max_bytes);
  EXPECT_TRUE(std::filesystem::exists(options.path + ".1"));
  EXPECT_TRUE(std::filesystem::exists(options.path + ".2"));
  EXPECT_FALSE(std::filesystem::exists(options.path + ".3")) << "keep = 2";
  std::ifstream in(options.path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    json j = json::parse(line);
    EXPECT_EQ(j["principal"], "viewer");
    EXPECT_EQ(j["event"], "image.open");
    EXPECT_EQ(j["image_id"], 42);
    EXPECT_EQ(j["note"], "line\nbreak \xef\xbf\xbd");
    EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
  }
  EXPECT_GT(lines, 0);
  security::AuditOptions bad = options;
  bad.max_bytes = 10;
  EXPECT_EQ(security::AuditLog::open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = options;
  bad.path = dir;  // a folder
  EXPECT_FALSE(security::AuditLog::open(bad).is_ok());
}

// ---- the router applying tokens, scopes, limits and the audit log -------------------------------

class SecureRouterTest : public RouterTest {
 protected:
  void make_secure_router(RouterOptions options = {}) {
    options.tokens = std::make_shared<const Authenticator>(
        Authenticator::parse(token_file_text(), "tokens").value());
    options.audit = security::AuditLog::to_sink(
        [this](std::string_view line) { audit_lines_.emplace_back(line); });
    make_router(std::move(options));
  }

  // A request for each route of the table that the route accepts when the caller may call it.
  HttpRequest request_for(const api::Route& route) {
    std::string path(route.path);
    if (path == "/{file}") path = "/app.js";
    if (auto at = path.find("{id}"); at != std::string::npos) path.replace(at, 4, "0");
    if (route.method == api::Method::kGet) return get_request(path);
    if (route.body == api::BodyKind::kMultipart) {
      return form_request({file_part(png_bytes(32, 32))});
    }
    if (path.ends_with("similar")) return json_request(path, R"({"id":1})");
    if (path.ends_with("combined")) return json_request(path, R"({"terms":[{"text":"chest"}]})");
    if (path.ends_with("embedding"))
      return json_request(path, R"({"embedding":[1,0,0,0,0,0,0,0]})");
    return json_request(path, R"({"query":"chest"})");
  }

  std::vector<std::string> audit_lines_;
};

TEST_F(SecureRouterTest, EveryRouteWithEveryToken) {
  make_secure_router();
  struct Caller {
    const char* header;  // nullptr: no Authorization header
    security::Scopes scopes;
    bool valid;
  };
  const std::vector<Caller> callers = {
      {nullptr, security::kNoScopes, false},
      {"Bearer wrong-token", security::kNoScopes, false},
      {"Basic c2VhcmNoZXI=", security::kNoScopes, false},
      {"Bearer search-token-0123456789abcdef", security::scope_bit(Scope::kSearch), true},
      {"Bearer images-token-0123456789abcdef", security::scope_bit(Scope::kImages), true},
      {"Bearer admin-token-0123456789abcdef", security::scope_bit(Scope::kAdmin), true},
      {"Bearer all-token-0123456789abcdef", security::kAllScopes, true},
  };
  int checked = 0;
  for (const api::Route& route : api::routes()) {
    for (const Caller& caller : callers) {
      HttpRequest request = request_for(route);
      if (caller.header != nullptr) request.headers.emplace_back("Authorization", caller.header);
      const HttpResponse r = handle(request);
      const std::string what = std::string(route.path) + " with " +
                               (caller.header ? caller.header : "no token") + ": " + r.body;
      if (!route.access.needs_token) {
        EXPECT_EQ(r.status, 200) << what;
      } else if (!caller.valid) {
        EXPECT_EQ(r.status, 401) << what;
        EXPECT_TRUE(r.header("WWW-Authenticate")) << what;
      } else if ((caller.scopes & route.access.scopes) != route.access.scopes) {
        expect_error(r, 403, "permission_denied", security::scopes_text(route.access.scopes));
      } else {
        EXPECT_EQ(r.status, 200) << what;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(api::routes().size() * callers.size()));
  // Unknown /api/ paths answer 401 without a token, 404 with any valid one.
  expect_error(handle(get_request("/api/nope")), 401, "unauthenticated");
  HttpRequest nope = get_request("/api/nope");
  nope.headers.emplace_back("Authorization", "Bearer admin-token-0123456789abcdef");
  expect_error(handle(nope), 404, "not_found");
}

TEST_F(SecureRouterTest, LegacyTokenHasEveryScopeAndHealthShowsThePrincipal) {
  make_secure_router(with<RouterOptions>([](auto& o) { o.api_token = "legacy"; }));
  HttpRequest health = get_request("/api/health");
  health.headers.emplace_back("Authorization", "Bearer legacy");
  const json j = body_json(handle(health));
  EXPECT_EQ(j["auth_required"], true);
  EXPECT_EQ(j["originals"], false);
  EXPECT_EQ(j["principal"]["name"], kApiTokenName);
  EXPECT_EQ(j["principal"]["scopes"], json::array({"search", "images", "admin"}));
  EXPECT_FALSE(body_json(handle(get_request("/api/health"))).contains("principal"));
  HttpRequest image = get_request("/api/images/0");
  image.headers.emplace_back("Authorization", "Bearer legacy");
  EXPECT_EQ(handle(image).status, 200);
}

TEST_F(SecureRouterTest, AuditLinesNameThePrincipalNeverTheTokenOrQueryText) {
  make_secure_router();
  HttpRequest text = json_request("/api/search/text", R"({"query":"secret words here"})");
  text.headers.emplace_back("Authorization", "Bearer all-token-0123456789abcdef");
  text.remote_address = "10.1.2.3";
  text.request_id = "beef-000001";
  EXPECT_EQ(handle(text).status, 200);
  HttpRequest image = get_request("/api/images/2");
  image.headers.emplace_back("Authorization", "Bearer images-token-0123456789abcdef");
  EXPECT_EQ(handle(image).status, 200);
  HttpRequest denied = get_request("/api/images/1/preview");
  denied.headers.emplace_back("Authorization", "Bearer search-token-0123456789abcdef");
  EXPECT_EQ(handle(denied).status, 403);
  HttpRequest wrong = get_request("/api/openapi.json");
  wrong.headers.emplace_back("Authorization", "Bearer guessed-token");
  EXPECT_EQ(handle(wrong).status, 401);
  EXPECT_EQ(handle(get_request("/api/health")).status, 200);  // not audited

  ASSERT_EQ(audit_lines_.size(), 4u);
  const json a = json::parse(audit_lines_[0]);
  EXPECT_EQ(a["principal"], "everything");
  EXPECT_EQ(a["client"], "10.1.2.3");
  EXPECT_EQ(a["request_id"], "beef-000001");
  EXPECT_EQ(a["route"], "/api/search/text");
  EXPECT_EQ(a["event"], "search.text");
  EXPECT_EQ(a["status"], 200);
  EXPECT_EQ(a["text_chars"], 17);
  const json b = json::parse(audit_lines_[1]);
  EXPECT_EQ(b["event"], "image.open");
  EXPECT_EQ(b["image_id"], 2);
  EXPECT_EQ(b["principal"], "viewer");
  const json c = json::parse(audit_lines_[2]);
  EXPECT_EQ(c["status"], 403);
  EXPECT_EQ(c["event"], "image.preview");
  const json d = json::parse(audit_lines_[3]);
  EXPECT_EQ(d["status"], 401);
  EXPECT_EQ(d["event"], "denied");
  EXPECT_TRUE(d["principal"].is_null());
  for (const std::string& line : audit_lines_) {
    EXPECT_EQ(line.find("secret words"), std::string::npos) << line;
    EXPECT_EQ(line.find("token-0123456789"), std::string::npos) << line;
    EXPECT_EQ(line.find("guessed-token"), std::string::npos) << line;
  }
}

TEST_F(SecureRouterTest, QueryTextOnlyWhenConfigured) {
  RouterOptions options;
  options.audit = security::AuditLog::to_sink(
      [this](std::string_view line) { audit_lines_.emplace_back(line); },
      /*log_query_text=*/true);
  make_router(options);
  EXPECT_EQ(search_text(R"({"query":"pleural effusion"})").status, 200);
  ASSERT_EQ(audit_lines_.size(), 1u);
  EXPECT_EQ(json::parse(audit_lines_[0])["text"], "pleural effusion");
  EXPECT_TRUE(json::parse(audit_lines_[0])["principal"].is_null());
}

TEST_F(SecureRouterTest, RequestRateAndUploadsPerClient) {
  make_secure_router(with<RouterOptions>([](auto& o) {
    o.rate_limit = {.requests_per_s = 0.001, .burst = 2, .uploads_per_client = 1};
  }));
  auto as = [](HttpRequest r, const char* header, const char* address) {
    if (header) r.headers.emplace_back("Authorization", header);
    r.remote_address = address;
    return r;
  };
  const char* viewer = "Bearer images-token-0123456789abcdef";
  EXPECT_EQ(handle(as(get_request("/api/images/0"), viewer, "10.0.0.1")).status, 200);
  EXPECT_EQ(handle(as(get_request("/api/images/0"), viewer, "10.0.0.2")).status, 200);
  HttpResponse limited = handle(as(get_request("/api/images/0"), viewer, "10.0.0.3"));
  expect_error(limited, 429, "resource_exhausted", "too many requests");
  ASSERT_TRUE(limited.header("Retry-After"));
  EXPECT_GE(std::stoi(std::string(*limited.header("Retry-After"))), 1);
  // Another token is another client; anonymous callers are told apart by address; the UI's
  // files are not counted.
  EXPECT_EQ(
      handle(as(get_request("/api/images/0"), "Bearer all-token-0123456789abcdef", "x")).status,
      200);
  EXPECT_EQ(handle(as(get_request("/api/health"), nullptr, "10.0.0.9")).status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(handle(get_request("/app.js")).status, 200);

  // One upload in flight per client: the second one waits for the first to finish.
  HttpRequest upload = as(form_request({file_part(png_bytes(16, 16))}),
                          "Bearer search-token-0123456789abcdef", "10.0.0.4");
  auto first = router_->admit(upload);
  ASSERT_TRUE(std::holds_alternative<ApiRouter::Admission>(first));
  HttpRequest again = upload;
  auto second = router_->admit(again);
  ASSERT_TRUE(std::holds_alternative<HttpResponse>(second));
  expect_error(std::get<HttpResponse>(second), 429, "resource_exhausted", "uploads in flight");
  EXPECT_EQ(std::get<HttpResponse>(second).header("Retry-After"), "1");
}

// A combined query with uploads is an upload: it takes the client's upload slot (shared with
// /api/search/image); the same route with a JSON body does not.
TEST_F(SecureRouterTest, CombinedQueriesWithUploadsTakeAnUploadSlot) {
  make_secure_router(with<RouterOptions>([](auto& o) {
    o.rate_limit = {.requests_per_s = 100, .burst = 100, .uploads_per_client = 1};
  }));
  auto as_searcher = [](HttpRequest r) {
    r.headers.emplace_back("Authorization", "Bearer search-token-0123456789abcdef");
    r.remote_address = "10.0.0.5";
    return r;
  };
  HttpRequest combined =
      as_searcher(form_request({field("query", R"({"terms":[{"upload":"a"}]})"),
                                {"a", "a.png", "image/png", png_bytes(16, 16)}}));
  combined.path = "/api/search/combined";
  const HttpRequest image = as_searcher(form_request({file_part(png_bytes(16, 16))}));
  const HttpRequest json_body =
      as_searcher(json_request("/api/search/combined", R"({"terms":[{"text":"chest"}]})"));
  {
    HttpRequest r = combined;
    auto first = router_->admit(r);
    ASSERT_TRUE(std::holds_alternative<ApiRouter::Admission>(first));
    EXPECT_TRUE(std::get<ApiRouter::Admission>(first).multipart);
    for (HttpRequest again : {combined, image}) {
      auto second = router_->admit(again);
      ASSERT_TRUE(std::holds_alternative<HttpResponse>(second)) << again.path;
      expect_error(std::get<HttpResponse>(second), 429, "resource_exhausted", "uploads in flight");
    }
    HttpRequest j = json_body;
    auto plain = router_->admit(j);
    ASSERT_TRUE(std::holds_alternative<ApiRouter::Admission>(plain));
    EXPECT_FALSE(std::get<ApiRouter::Admission>(plain).multipart);
  }
  // The first one answered: its slot is free again.
  EXPECT_EQ(handle(combined).status, 200);
  EXPECT_EQ(handle(image).status, 200);
}

}  // namespace
}  // namespace xrs::testing
