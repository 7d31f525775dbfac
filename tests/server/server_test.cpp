// The real server on a free port with the fake backend, driven over sockets: concurrency, limits,
// slow clients, path tricks, authentication, the access log, graceful stop and signals.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "router_fixture.h"
#include "server/server.h"

namespace xrs::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A raw TCP connection, for what httplib::Client will not do (stall, send junk).
class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawSocket() { ::close(fd_); }
  void send(const std::string& data) {
    EXPECT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(data.size()));
  }
  // Everything the server sends until it closes the connection or `timeout` passes.
  std::string read_until_closed(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    if (closed) *closed = false;
    return out;
  }

 private:
  int fd_ = -1;
};

class ServerTest : public RouterTest {
 protected:
  void start(ServerOptions options = {}) {
    options.port = 0;
    options.host = "127.0.0.1";
    options.access_log = [this](std::string_view line) {
      std::lock_guard lock(log_mutex_);
      log_.emplace_back(line);
    };
    auto server = HttpServer::bind(*backend_, options);
    ASSERT_TRUE(server.is_ok()) << server.status().to_string();
    server_ = std::move(server).value();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
    run_ = std::async(std::launch::async, [this] { return server_->run(); });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      Status s = run_.get();
      EXPECT_TRUE(s.is_ok()) << s.to_string();
    }
  }
  httplib::Client client(int timeout_s = 10) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_s, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }
  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mutex_);
    return log_;
  }

  std::unique_ptr<HttpServer> server_;
  std::future<Status> run_;
  int port_ = 0;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

ServerOptions any_port() {
  ServerOptions options;
  options.port = 0;
  return options;
}

httplib::MultipartFormDataItems upload(const std::string& bytes, const std::string& k = "") {
  httplib::MultipartFormDataItems items = {{"file", bytes, "q.png", "image/png"}};
  if (!k.empty()) items.push_back({"k", k, "", ""});
  return items;
}

void expect_json_error(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, status) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  json j = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << res->body;
  EXPECT_EQ(j["error"]["code"], code) << res->body;
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ServerTest, ServesHealthUiAndSearches) {
  start();
  auto c = client();
  auto health = c.Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["images"], 6);
  EXPECT_FALSE(health->get_header_value("X-Request-Id").empty());
  EXPECT_FALSE(health->has_header("Access-Control-Allow-Origin"));

  auto ui = c.Get("/");
  ASSERT_TRUE(ui);
  EXPECT_EQ(ui->status, 200);
  EXPECT_EQ(ui->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(ui->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);

  auto text = c.Post("/api/search/text", R"({"query":"chest","k":3})", "application/json");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 200) << text->body;
  EXPECT_LE(json::parse(text->body)["results"].size(), 3u);

  auto image = c.Post("/api/search/image", upload(png_bytes(16, 16), "2"));
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200) << image->body;
  EXPECT_EQ(json::parse(image->body)["results"].size(), 2u);

  auto bad = c.Post("/api/search/image", upload("not an image at all"));
  expect_json_error(bad, 400, "invalid_argument");
}

TEST_F(ServerTest, ConcurrentMixedRequestsAllSucceed) {
  start(with<ServerOptions>([](auto& o) { o.threads = 8; }));
  const std::string png = png_bytes(24, 24);
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto c = client();
      c.set_keep_alive(t % 2 == 0);  // half reuse connections, half open one per request
      for (int i = 0; i < 50; ++i) {
        auto request = [&]() {
          switch ((t + i) % 3) {
            case 0:
              return c.Post(
                  "/api/search/text",
                  json({{"query", "chest " + std::to_string(i)}, {"k", 1 + i % 20}}).dump(),
                  "application/json");
            case 1:
              return c.Post("/api/search/image", upload(png, std::to_string(1 + i % 5)));
            default:
              return c.Get("/api/images/" + std::to_string(i % 3) + "/preview?size=32");
          }
        };
        httplib::Result res = request();
        const bool good = res && res->status == 200 &&
                          ((t + i) % 3 == 2 || json::parse(res->body).contains("results"));
        (good ? ok : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(ServerTest, OversizedUploadIs413AndTheServerKeepsServing) {
  start(with<ServerOptions>([](auto& o) { o.max_upload_bytes = 256 * 1024; }));
  auto c = client();
  auto big = c.Post("/api/search/image", upload(std::string(1024 * 1024, 'x')));
  expect_json_error(big, 413, "resource_exhausted");
  // A body just under the limit is read (and refused for what it is, not for its size).
  auto junk = c.Post("/api/search/image", upload(std::string(200 * 1024, 'x')));
  expect_json_error(junk, 400, "invalid_argument");
  // JSON routes have their own, smaller limit.
  auto long_json = c.Post("/api/search/text", std::string(100 * 1024, ' '), "application/json");
  expect_json_error(long_json, 413, "resource_exhausted");
  auto health = client().Get("/api/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto image = c.Post("/api/search/image", upload(png_bytes(16, 16)));
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 200);
}

TEST_F(ServerTest, ChunkedBodyIsCutOffAtTheLimit) {
  start(with<ServerOptions>([](auto& o) { o.keep_alive_timeout_s = 1; }));
  RawSocket s(port_);
  s.send(
      "POST /api/search/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  const std::string chunk(16 * 1024, ' ');
  char size_line[16];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  for (int i = 0; i < 5; ++i) s.send(size_line + chunk + "\r\n");  // 80 KB > 64 KB JSON limit
  const std::string reply = s.read_until_closed(std::chrono::seconds(5));
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 413")) << reply.substr(0, 200);
  EXPECT_NE(reply.find("Connection: close"), std::string::npos);
}

TEST_F(ServerTest, CompressedBodiesAndBodiesOnGetAreRefused) {
  start(with<ServerOptions>([](auto& o) { o.keep_alive_timeout_s = 1; }));
  {
    RawSocket s(port_);
    s.send(
        "POST /api/search/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd");
    const std::string reply = s.read_until_closed(std::chrono::seconds(3));
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 415")) << reply.substr(0, 200);
  }
  {
    RawSocket s(port_);
    s.send(
        "GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
        "hello");
    const std::string reply = s.read_until_closed(std::chrono::seconds(3));
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 200);
  }
  {  // A method httplib parses but does not route still gets the router's answer.
    RawSocket s(port_);
    s.send("TRACE /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const std::string reply = s.read_until_closed(std::chrono::seconds(3));
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 405")) << reply.substr(0, 200);
    EXPECT_NE(reply.find("Allow: GET, HEAD"), std::string::npos);
  }
  {  // Junk instead of a request line: a JSON 400 with the security headers.
    RawSocket s(port_);
    s.send("\x01\x02 garbage\r\nConnection: close\r\n\r\n");
    const std::string reply = s.read_until_closed(std::chrono::seconds(3));
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 200);
    EXPECT_NE(reply.find("\"bad_request\""), std::string::npos);
    EXPECT_NE(reply.find("X-Content-Type-Options: nosniff"), std::string::npos);
  }
}

TEST_F(ServerTest, SlowClientDoesNotBlockOthersAndTimesOut) {
  start(with<ServerOptions>([](auto& o) {
    o.threads = 4;
    o.read_timeout_s = 3;
    o.keep_alive_timeout_s = 1;
  }));
  RawSocket stalled_body(port_);
  stalled_body.send(
      "POST /api/search/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"query\":");
  RawSocket stalled_headers(port_);
  stalled_headers.send("GET /api/health HTTP/1.1\r\nHost: x\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  const auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) {
    auto res = client().Post("/api/search/text", R"({"query":"hand"})", "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  // Held up behind a stalled client, they would take the read timeout (3 s) at least.
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(2500)) << "others were held up";

  // Answered 400 after the read timeout, disconnected after the keep-alive timeout.
  bool closed = false;
  const std::string reply = stalled_body.read_until_closed(std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed) << "the stalled client was never disconnected";
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 400")) << reply.substr(0, 200);
  const std::string reply2 = stalled_headers.read_until_closed(std::chrono::seconds(10), &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(reply2.starts_with("HTTP/1.1 400")) << reply2.substr(0, 200);
}

TEST_F(ServerTest, PathTricksNeverReachAFileOutsideTheIndex) {
  start();
  auto c = client();
  const std::vector<std::string> paths = {"/api/images/../../etc/passwd",
                                          "/api/images/%2e%2e/%2e%2e/etc/passwd",
                                          "/api/images/%2e%2e",
                                          "/api/images/..%2f..%2fetc%2fpasswd",
                                          "/api/images/-1",
                                          "/api/images/99999999999999999999",
                                          "/api/images/1abc",
                                          "/api/images/0%00",
                                          "/api/images/%2fetc%2fpasswd",
                                          "/api/images/0/preview/../../../../etc/passwd",
                                          "/../../etc/passwd",
                                          "/%2e%2e/%2e%2e/etc/passwd"};
  for (const std::string& path : paths) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_TRUE(res->status == 400 || res->status == 404) << path << " " << res->status;
    EXPECT_EQ(res->body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json") << path;
  }
}

TEST_F(ServerTest, TokenIsCheckedBeforeTheBodyIsRead) {
  start(with<ServerOptions>([](auto& o) { o.api_token = "tok"; }));
  auto c = client();
  auto denied = c.Post("/api/search/image", upload(std::string(2 * 1024 * 1024, 'x')));
  expect_json_error(denied, 401, "unauthenticated");
  EXPECT_EQ(backend_->search_count(), 0);
  EXPECT_EQ(c.Get("/api/health")->status, 200) << "the connection stays usable";
  c.set_bearer_token_auth("tok");
  auto ok = c.Post("/api/search/text", R"({"query":"dental"})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(ServerTest, AccessLogHasOneLinePerRequestAndNoQueryText) {
  start();
  auto c = client();
  ASSERT_TRUE(c.Post("/api/search/text", R"({"query":"zebra secret words"})", "application/json"));
  auto preview = c.Get("/api/images/0/preview?size=32");
  ASSERT_TRUE(preview);
  ASSERT_TRUE(c.Post("/api/search/image", upload(png_bytes(8, 8))));
  ASSERT_TRUE(c.Get("/api/nope%0aFORGED"));
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (log_lines().size() < 4 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto lines = log_lines();
  ASSERT_EQ(lines.size(), 4u);
  // Each request used its own connection (and worker), so the lines may come in any order.
  auto line_with = [&](const std::string& fragment) {
    for (const auto& line : lines) {
      if (line.find(fragment) != std::string::npos) return line;
    }
    ADD_FAILURE() << "no log line contains '" << fragment << "'";
    return std::string();
  };
  EXPECT_NE(line_with(" POST /api/search/text 200 ").find("query_chars=18"), std::string::npos);
  EXPECT_NE(line_with(" GET /api/images/0/preview 200 ")
                .find("id=" + preview->get_header_value("X-Request-Id")),
            std::string::npos);
  EXPECT_NE(line_with(" POST /api/search/image 200 ").find("upload_bytes="), std::string::npos);
  line_with(" GET /api/nope%0AFORGED 404 ");
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("zebra"), std::string::npos) << line;
    EXPECT_EQ(line.find("size="), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_TRUE(line.size() > 24 && line[4] == '-' && line[10] == 'T' && line[23] == 'Z') << line;
  }
}

TEST_F(ServerTest, StopLetsInFlightRequestsFinish) {
  start();
  backend_->set_search_delay_ms(400);
  auto in_flight = std::async(std::launch::async, [&] {
    return client().Post("/api/search/text", R"({"query":"chest"})", "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  server_->stop();
  auto res = in_flight.get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(run_.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(ServerTest, StopBeforeRunAndBindErrors) {
  auto server = HttpServer::bind(*backend_, any_port());
  ASSERT_TRUE(server.is_ok());
  (*server)->stop();
  EXPECT_TRUE((*server)->run().is_ok()) << "a stop requested before run() is honoured";

  auto first = HttpServer::bind(*backend_, any_port());
  ASSERT_TRUE(first.is_ok());
  ServerOptions same_port;
  same_port.port = (*first)->port();
  auto second = HttpServer::bind(*backend_, same_port);
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos);

  EXPECT_EQ(HttpServer::bind(*backend_, with<ServerOptions>([](auto& o) { o.port = 70000; }))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpServer::bind(*backend_, with<ServerOptions>([](auto& o) { o.threads = 0; }))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ServerTest, ServeStopsOnSigterm) {
  std::promise<int> listening;
  ServerOptions options = any_port();
  options.access_log = [](std::string_view) {};
  options.on_listening = [&](const std::string&, int port) { listening.set_value(port); };
  auto serving = std::async(std::launch::async, [&] { return serve(*backend_, options); });
  auto port = listening.get_future();
  ASSERT_EQ(port.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  httplib::Client c("127.0.0.1", port.get());
  ASSERT_TRUE(c.Get("/api/health"));
  ::kill(::getpid(), SIGTERM);
  ASSERT_EQ(serving.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(serving.get().is_ok());
  struct sigaction current {};
  sigaction(SIGTERM, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL) << "the previous handler is restored";
}

}  // namespace
}  // namespace xrs::testing
