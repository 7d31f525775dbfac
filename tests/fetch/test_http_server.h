// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests: each request is answered by a
// handler that decides everything (status, headers, how many body bytes, pauses, dropping the
// connection), so that resumes, ignored ranges, stalls and redirects can be staged. One thread
// accepts; each connection gets its own thread, serves one request and closes.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace xrs::testing {

struct HttpRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Send only this many body bytes, then close the connection (a cut transfer). The
  // Content-Length still announces the whole body.
  size_t send_bytes = SIZE_MAX;
  // Wait this long after the first `stall_after` body bytes (a stalled server).
  std::chrono::milliseconds stall{0};
  size_t stall_after = 0;
  bool omit_content_length = false;
};

// A 200 with `body`, or, when the request has "Range: bytes=N-" and `honor_range`, a 206 with
// the rest from N (416 when N is past the end).
HttpResponse file_response(const HttpRequest& req, const std::string& body, bool honor_range);

class TestHttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();  // stops: pending stalls end, threads are joined
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;  // "http://127.0.0.1:<port><path>"
  // Every request served so far, in arrival order.
  std::vector<HttpRequest> requests() const;

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;  // guards requests_ and workers_
  std::vector<HttpRequest> requests_;
  std::vector<std::thread> workers_;
};

}  // namespace xrs::testing
