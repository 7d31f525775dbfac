// The real server over loopback sockets with its security options: tokens in the logs, rate
// limits, a trickling upload, the exposure rule, and TLS (certificates made here with the openssl
// CLI, handshakes made with curl).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "e2e/subprocess.h"
#include "router_fixture.h"
#include "server/server.h"

namespace xrs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kToken[] = "xrs_the-secret-token-value-1234567890";

class SecureServerTest : public RouterTest {
 protected:
  void start(ServerOptions options) {
    options.port = 0;
    options.host = "127.0.0.1";
    options.access_log = [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      access_.emplace_back(line);
    };
    auto server = HttpServer::bind(*backend_, options);
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    server_ = std::move(server).value();
    port_ = server_->port();
    run_ = std::async(std::launch::async, [this] { return server_->run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      EXPECT_TRUE(run_.get().is_ok());
    }
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }
  std::vector<std::string> access_lines(size_t at_least) {
    const auto deadline = Clock::now() + 2s;
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(mutex_);
        if (access_.size() >= at_least) break;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock(mutex_);
    return access_;
  }
  std::shared_ptr<security::AuditLog> audit_to(std::vector<std::string>* lines) {
    return security::AuditLog::to_sink([this, lines](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines->emplace_back(line);
    });
  }

  std::unique_ptr<HttpServer> server_;
  std::future<Status> run_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> access_;
};

std::shared_ptr<const security::Authenticator> token_file() {
  const std::string text =
      security::token_file_line("reading-room", security::kAllScopes, kToken) + "\n" +
      security::token_file_line("searcher", security::scope_bit(security::Scope::kSearch),
                                "xrs_search-only-token-0987654321") +
      "\n";
  return std::make_shared<const security::Authenticator>(
      security::Authenticator::parse(text, "tokens").value());
}

TEST_F(SecureServerTest, LogsNameTheTokenNeverShowIt) {
  std::vector<std::string> audit;
  start(with<ServerOptions>([&](auto& o) {
    o.tokens = token_file();
    o.audit = audit_to(&audit);
  }));
  auto c = client();
  c.set_bearer_token_auth(kToken);
  ASSERT_EQ(c.Post("/api/search/text", R"({"query":"hand"})", "application/json")->status, 200);
  ASSERT_EQ(c.Get("/api/images/1")->status, 200);
  auto s = client();
  s.set_bearer_token_auth("xrs_search-only-token-0987654321");
  ASSERT_EQ(s.Get("/api/images/1/preview")->status, 403);
  auto wrong = client();
  wrong.set_bearer_token_auth(std::string(kToken) + "-guess");
  ASSERT_EQ(wrong.Get("/api/images/1")->status, 401);
  ASSERT_EQ(client().Get("/api/images/1")->status, 401);

  const auto lines = access_lines(5);
  ASSERT_EQ(lines.size(), 5u);
  int named = 0;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find("secret-token"), std::string::npos) << line;
    EXPECT_EQ(line.find("search-only-token"), std::string::npos) << line;
    EXPECT_NE(line.find(" client=127.0.0.1 "), std::string::npos) << line;
    named += line.find(" principal=reading-room") != std::string::npos;
  }
  EXPECT_EQ(named, 2);
  std::lock_guard lock(mutex_);
  ASSERT_EQ(audit.size(), 5u);
  for (const std::string& line : audit) {
    EXPECT_EQ(line.find("secret-token"), std::string::npos) << line;
    EXPECT_EQ(line.find("search-only-token"), std::string::npos) << line;
    EXPECT_EQ(json::parse(line)["client"], "127.0.0.1") << line;
  }
}

TEST_F(SecureServerTest, BurstGets429WithRetryAfterThenRecovers) {
  start(with<ServerOptions>(
      [](auto& o) { o.rate_limit = {.requests_per_s = 2, .burst = 4, .uploads_per_client = 1}; }));
  auto c = client();
  int ok = 0;
  std::optional<httplib::Response> limited;
  for (int i = 0; i < 10; ++i) {
    auto res = c.Get("/api/health");
    ASSERT_TRUE(res);
    if (res->status == 200) {
      ++ok;
    } else {
      EXPECT_EQ(res->status, 429) << res->body;
      limited = *res;
      break;
    }
  }
  EXPECT_GE(ok, 4);
  EXPECT_LE(ok, 5);  // the burst, plus at most one token refilled meanwhile
  ASSERT_TRUE(limited) << "no 429 within 10 requests";
  const int retry_after = std::stoi(limited->get_header_value("Retry-After"));
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 2);
  EXPECT_EQ(json::parse(limited->body)["error"]["code"], "resource_exhausted");
  EXPECT_EQ(c.Get("/")->status, 200) << "the UI's files are not limited";
  std::this_thread::sleep_for(std::chrono::seconds(retry_after));
  auto again = c.Get("/api/health");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << "recovered after Retry-After";
}

// A raw TCP connection that sends a request slowly.
class Trickler {
 public:
  explicit Trickler(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~Trickler() { ::close(fd_); }
  bool send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // What the server sent so far (waiting up to `wait`); sets *closed when it closed.
  std::string poll_reply(std::chrono::milliseconds wait, bool* closed) {
    std::string out;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) out.assign(buf, static_cast<size_t>(n));
      if (n == 0) *closed = true;
    }
    return out;
  }

 private:
  int fd_ = -1;
};

TEST_F(SecureServerTest, TricklingUploadIsCutOffAtItsDeadlineWhileOthersAreServed) {
  start(with<ServerOptions>([](auto& o) {
    o.threads = 4;
    o.body_timeout_s = 2;
    o.read_timeout_s = 1;
  }));
  Trickler slow(port_);
  const std::string boundary = "xrsboundary";
  ASSERT_TRUE(
      slow.send("POST /api/search/image HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: multipart/form-data; boundary=" +
                boundary + "\r\nContent-Length: 100000\r\n\r\n--" + boundary +
                "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.png\""
                "\r\n\r\n"));
  const auto t0 = Clock::now();
  std::string reply;
  bool closed = false;
  int others = 0;
  // One byte every 300 ms (well inside the 1 s read timeout), while other clients search.
  while (Clock::now() - t0 < 8s && reply.empty() && !closed) {
    slow.send("x");
    auto res = client().Post("/api/search/text", R"({"query":"hand"})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    ++others;
    reply += slow.poll_reply(300ms, &closed);
  }
  const auto took = Clock::now() - t0;
  // Dropped: the connection is closed (with a 408 when the server's check came first).
  EXPECT_TRUE(closed || reply.starts_with("HTTP/1.1 408")) << reply.substr(0, 300);
  if (!reply.empty()) {
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 408")) << reply.substr(0, 300);
    EXPECT_NE(reply.find("Connection: close"), std::string::npos);
  }
  if (!closed) slow.poll_reply(1000ms, &closed);
  EXPECT_TRUE(closed) << "the connection stayed open";
  // The deadline (2 s from the headers) plus at most one read timeout (1 s), plus slack.
  EXPECT_GE(took, 1800ms);
  EXPECT_LT(took, 4000ms);
  EXPECT_GE(others, 5) << "others were served while the upload trickled";
  EXPECT_EQ(backend_->search_count(), others) << "the trickled upload never reached a search";
}

TEST(Exposure, NonLoopbackNeedsTlsOrInsecureHttpAndTokens) {
  ServerOptions o;
  for (const char* host : {"127.0.0.1", "127.8.9.10", "::1", "localhost"}) {
    o.host = host;
    EXPECT_TRUE(check_exposure(o).is_ok()) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "myhost", "128.0.0.1"}) {
    o.host = host;
    Status s = check_exposure(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << host;
    EXPECT_NE(s.message().find("refusing to listen"), std::string::npos);
    EXPECT_NE(s.message().find("TLS"), std::string::npos);
    EXPECT_NE(s.message().find("API tokens"), std::string::npos);
  }
  o.host = "0.0.0.0";
  o.insecure_http = true;
  EXPECT_NE(check_exposure(o).message().find("API tokens"), std::string::npos)
      << "insecure HTTP still needs tokens";
  o.api_token = "t";
  EXPECT_TRUE(check_exposure(o).is_ok());
  o.insecure_http = false;
  EXPECT_NE(check_exposure(o).message().find("TLS"), std::string::npos) << "tokens need TLS";
  o.tls_cert = "c.pem";
  o.tls_key = "k.pem";
  EXPECT_TRUE(check_exposure(o).is_ok());
  o.api_token.clear();
  o.tokens = token_file();
  EXPECT_TRUE(check_exposure(o).is_ok());
  // bind() applies the same rule before it touches a socket.
  FakeBackend backend({});
  ServerOptions open;
  open.host = "0.0.0.0";
  open.port = 0;
  auto refused = HttpServer::bind(backend, open);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
}

// ---- TLS ----------------------------------------------------------------------------------------

bool have_program(const std::string& name) {
  return run_process({"/bin/sh", "-c", "command -v " + name}).exit_code == 0;
}

class TlsServerTest : public SecureServerTest {
 protected:
  void SetUp() override {
    SecureServerTest::SetUp();
    if (!have_program("openssl") || !have_program("curl")) {
      GTEST_SKIP() << "skipped: the openssl and curl programs are needed (scripts/install-deps.sh)";
    }
    tls_dir_ = scratch_dir(std::string("tls_") +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    cert_ = tls_dir_ + "/cert.pem";
    key_ = tls_dir_ + "/key.pem";
    ProcessResult made = run_process(
        {"/bin/sh", "-c",
         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
         "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
             key_ + "' -out '" + cert_ + "'"});
    ASSERT_EQ(made.exit_code, 0) << describe(made);
  }
  // curl's exit code and output for `args` against https://127.0.0.1:<port><path>.
  ProcessResult curl(std::vector<std::string> args, const std::string& url) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "10"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    return run_process({"/bin/sh", "-c", shell_join(argv)});
  }
  static std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const std::string& a : argv) out += "'" + a + "' ";
    return out;
  }
  std::string https(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::string tls_dir_, cert_, key_;
};

TEST_F(TlsServerTest, CurlHandshakeAndPlainHttpFails) {
  start(with<ServerOptions>([&](auto& o) {
    o.tls_cert = cert_;
    o.tls_key = key_;
    o.tokens = token_file();
  }));
  ProcessResult health = curl({"--cacert", cert_}, https("/api/health"));
  ASSERT_EQ(health.exit_code, 0) << describe(health);
  EXPECT_EQ(json::parse(health.out)["status"], "ok");
  ProcessResult search =
      curl({"--cacert", cert_, "-H", "Authorization: Bearer " + std::string(kToken), "-H",
            "Content-Type: application/json", "-d", R"({"query":"hand"})"},
           https("/api/search/text"));
  ASSERT_EQ(search.exit_code, 0) << describe(search);
  EXPECT_TRUE(json::parse(search.out).contains("results")) << search.out;
  // TLS 1.3 and 1.2 work; 1.1 and older are refused.
  EXPECT_EQ(curl({"--cacert", cert_, "--tlsv1.2", "--tls-max", "1.2", "-o", "/dev/null"},
                 https("/api/health"))
                .exit_code,
            0);
  ProcessResult old = curl({"--cacert", cert_, "--tlsv1", "--tls-max", "1.1", "-o", "/dev/null"},
                           https("/api/health"));
  EXPECT_NE(old.exit_code, 0) << "TLS 1.1 was accepted";
  // Without the certificate the client refuses the server (curl verifies by default).
  EXPECT_NE(curl({"-o", "/dev/null"}, https("/api/health")).exit_code, 0);
  // Plain HTTP to the TLS port gets no HTTP answer.
  auto plain = client().Get("/api/health");
  EXPECT_FALSE(plain && plain->status == 200) << "plain HTTP was answered";
  ProcessResult plain_curl =
      curl({"-o", "/dev/null"}, "http://127.0.0.1:" + std::to_string(port_) + "/api/health");
  EXPECT_NE(plain_curl.exit_code, 0);
  // The server still serves TLS clients afterwards.
  EXPECT_EQ(curl({"--cacert", cert_, "-o", "/dev/null"}, https("/")).exit_code, 0);
}

TEST_F(TlsServerTest, BadCertificateOrKeyIsAClearError) {
  FakeBackend backend({});
  ServerOptions o;
  o.port = 0;
  o.tls_cert = cert_;
  o.tls_key = tls_dir_ + "/missing.pem";
  auto missing = HttpServer::bind(backend, o);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing.pem"), std::string::npos);
  o.tls_key = cert_;  // a certificate where the key should be
  auto wrong = HttpServer::bind(backend, o);
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_NE(wrong.status().message().find("private key"), std::string::npos)
      << wrong.status().to_string();
  // A key that is not this certificate's.
  ProcessResult other =
      run_process({"/bin/sh", "-c",
                   "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out '" +
                       tls_dir_ + "/other.pem'"});
  ASSERT_EQ(other.exit_code, 0) << describe(other);
  o.tls_key = tls_dir_ + "/other.pem";
  auto mismatch = HttpServer::bind(backend, o);
  ASSERT_FALSE(mismatch.is_ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos)
      << mismatch.status().to_string();
  o.tls_key.clear();
  EXPECT_EQ(HttpServer::bind(backend, o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xrs::testing
