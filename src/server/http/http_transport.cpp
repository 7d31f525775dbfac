// cpp-httplib glue: converts requests and responses, reads bodies within limits and deadlines,
// speaks TLS, logs, stops. The one file of the project that includes httplib.h (built by Debian
// with CPPHTTPLIB_OPENSSL_SUPPORT, which its pkg-config flags define; SSLServer comes from it).
#include <arpa/inet.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/strings.h"
#include "server/http/access_log.h"
#include "server/http/body_reader.h"
#include "server/http/deadline_watch.h"
#include "server/http/tls_context.h"
#include "server/server.h"

namespace xrs {
namespace {

using Clock = std::chrono::steady_clock;
using http::BodyCollector;

// httplib::Server or SSLServer with a way to release a socket that was bound but never listened
// on (the library's destructor does not close it).
template <class Base>
class BoundServer : public Base {
 public:
  using Base::Base;
  void close_unused_socket() {
    auto sock = this->svr_sock_.exchange(INVALID_SOCKET);
    if (sock != INVALID_SOCKET) ::close(sock);
  }
};

// The request being processed by this worker thread. httplib handles one request at a time per
// thread, from the pre-routing handler to the logger, so a thread_local carries what the logger
// needs (start time, id, the route's log detail) without touching httplib's types.
struct RequestContext {
  bool active = false;
  Clock::time_point start;
  std::string id;
  std::string log_detail;
  std::string principal;  // the token's name once the router admitted the request
};
thread_local RequestContext t_request;

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

std::optional<uint64_t> declared_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return std::nullopt;
  const std::string v = req.get_header_value("Content-Length");
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size()) return UINT64_MAX;  // treat as too large
  return n;
}

HttpRequest to_request(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  r.remote_address = req.remote_addr;
  r.request_id = t_request.id;
  for (const auto& [k, v] : req.params) r.query.emplace_back(k, v);
  for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
  return r;
}

void to_httplib(HttpResponse response, httplib::Response& res) {
  add_security_headers(response);
  res.status = response.status;
  for (auto& [name, value] : response.headers) res.set_header(name, value);
  if (!response.body.empty() || !response.content_type.empty()) {
    res.set_content(std::move(response.body), response.content_type);
  }
  t_request.log_detail = std::move(response.log_detail);
}

// The JSON error for a status httplib produced itself (before or instead of our handlers).
HttpResponse library_error(int status, size_t max_upload_bytes) {
  switch (status) {
    case 400:
      return error_response(400, "bad_request",
                            "the request could not be read: malformed request line, headers or "
                            "body (a truncated or malformed multipart upload), or the client "
                            "stopped sending");
    case 413:
      return error_response(413, "resource_exhausted",
                            "the request body is larger than the limit of " +
                                std::to_string(max_upload_bytes) + " bytes");
    case 414:
      return error_response(414, "uri_too_long", "the request URI is too long");
    case 416:
      return error_response(416, "range_not_satisfiable", "the Range header is invalid");
    default:
      break;
  }
  return error_response(status, status >= 500 ? "internal" : "bad_request",
                        "the request failed with HTTP status " + std::to_string(status));
}

RouterOptions router_options(const ServerOptions& options) {
  RouterOptions r;
  r.api_token = options.api_token;
  r.tokens = options.tokens;
  r.rate_limit = options.rate_limit;
  r.audit = options.audit;
  r.serve_originals = options.serve_originals;
  r.max_upload_bytes = options.max_upload_bytes;
  return r;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, std::string(host).c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const SearchBackend& backend, const ServerOptions& opts)
      : options(opts), router(backend, router_options(opts)), log(opts.access_log) {}

  void begin_request() {
    if (t_request.active) return;
    t_request.active = true;
    t_request.start = Clock::now();
    t_request.id = log.next_request_id();
    t_request.log_detail.clear();
  }

  httplib::Server::HandlerResponse pre_route(const httplib::Request& req, httplib::Response& res);
  void handle_plain(const httplib::Request& req, httplib::Response& res);
  void handle_with_body(const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& reader);
  void configure();

  ServerOptions options;
  ApiRouter router;
  AccessLog log;
  http::DeadlineWatch deadlines;  // request bodies' deadlines
  // Exactly one of the two, `server` pointing at it.
  std::unique_ptr<BoundServer<httplib::Server>> plain_server;
  std::unique_ptr<BoundServer<httplib::SSLServer>> tls_server;
  httplib::Server* server = nullptr;
  int port = 0;
  bool ran = false;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;  // guarded by stop_mutex
  bool listen_done = false;     // guarded by stop_mutex
};

// Requests the handlers below could not answer safely: compressed bodies (an inflating body
// escapes every size limit), bodies on methods that never read one (the bytes would be taken for
// the next request) and methods httplib does not route (answered by the router: 405 or 404).
httplib::Server::HandlerResponse HttpServer::Impl::pre_route(const httplib::Request& req,
                                                             httplib::Response& res) {
  begin_request();
  std::optional<HttpResponse> response;
  const std::string encoding = req.get_header_value("Content-Encoding");
  const std::string transfer = req.get_header_value("Transfer-Encoding");
  const bool reads_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                          req.method == "DELETE";
  const bool routed_method =
      reads_body || req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS";
  if (!encoding.empty() && !iequals(encoding, "identity")) {
    response = error_response(415, "unsupported_media_type",
                              "compressed request bodies (Content-Encoding) are not accepted");
  } else if (!transfer.empty() && !iequals(transfer, "chunked")) {
    response = error_response(400, "bad_request", "unsupported Transfer-Encoding");
  } else if (!routed_method) {
    response = router.handle(to_request(req));
  } else if (!reads_body && has_body(req)) {
    response = error_response(400, "bad_request", req.method + " requests must not have a body");
  }
  if (!response) return httplib::Server::HandlerResponse::Unhandled;
  // Whatever body follows is left unread: the connection cannot carry another request.
  if (has_body(req)) response->set_header("Connection", "close");
  to_httplib(*std::move(response), res);
  return httplib::Server::HandlerResponse::Handled;
}

void HttpServer::Impl::handle_plain(const httplib::Request& req, httplib::Response& res) {
  HttpRequest request = to_request(req);
  auto admitted = router.admit(request);
  t_request.principal = request.principal.name;
  if (auto* rejection = std::get_if<HttpResponse>(&admitted)) {
    return to_httplib(std::move(*rejection), res);
  }
  to_httplib(router.serve(request, std::get<ApiRouter::Admission>(admitted)), res);
}

void HttpServer::Impl::handle_with_body(const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& reader) {
  HttpRequest request = to_request(req);
  const bool multipart = req.is_multipart_form_data();
  // RFC 9112: a request with neither Content-Length nor Transfer-Encoding has no body (httplib
  // would otherwise wait for the connection to close).
  const bool body_follows = has_body(req);
  // The whole body, and a rejected body being drained, must arrive by this time (t_request.start
  // is when the headers had been read).
  const Clock::time_point deadline = t_request.start + std::chrono::seconds(options.body_timeout_s);
  // At the deadline the connection's read side is shut, whatever the client sends meanwhile; the
  // collector also checks the time on every chunk (and is all there is when the socket cannot be
  // found).
  struct Armed {
    http::DeadlineWatch& watch;
    uint64_t ticket = 0;
    bool fired = false;
    ~Armed() { disarm(); }
    void disarm() {
      if (ticket != 0) fired = watch.disarm(ticket) || fired;
      ticket = 0;
    }
  } armed{deadlines};
  if (body_follows) {
    const int fd =
        http::find_connection_fd(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
    if (fd >= 0) armed.ticket = deadlines.arm(fd, deadline);
  }

  // Reads and drops the body, so that the connection stays usable; false when that failed
  // (then the connection is closed after the response).
  auto drain = [&]() {
    if (!body_follows) return true;
    HttpRequest scratch;
    BodyCollector sink(scratch, options.max_upload_bytes, deadline);
    const auto discard = [&](const char*, size_t n) { return sink.discard(n); };
    return multipart ? reader([](const httplib::MultipartFormData&) { return true; }, discard)
                     : reader(discard);
  };
  auto reject = [&](HttpResponse response) {
    if (!drain()) response.set_header("Connection", "close");
    armed.disarm();
    to_httplib(std::move(response), res);
  };

  auto admitted = router.admit(request);
  t_request.principal = request.principal.name;
  if (auto* rejection = std::get_if<HttpResponse>(&admitted)) return reject(std::move(*rejection));
  const ApiRouter::Admission& admission = std::get<ApiRouter::Admission>(admitted);
  const size_t limit = router.body_limit(admission);
  const auto declared = declared_length(req);
  // Past the limit by its own declaration: refused without buffering a byte (httplib skips a
  // body longer than max_upload_bytes, and drain() drops a shorter one).
  if (declared && *declared > limit) {
    return reject(error_response(413, "resource_exhausted",
                                 "the request body is " + std::to_string(*declared) +
                                     " bytes; the limit here is " + std::to_string(limit) +
                                     " bytes"));
  }
  BodyCollector body(request, limit, deadline);
  bool ok = true;
  if (body_follows && multipart) {
    ok = reader(
        [&](const httplib::MultipartFormData& part) {
          return body.begin_part(part.name, part.filename, part.content_type);
        },
        [&](const char* data, size_t n) { return body.append(data, n); });
  } else if (body_follows) {
    ok = reader([&](const char* data, size_t n) { return body.append(data, n); });
  }
  armed.disarm();
  if (!ok) return to_httplib(armed.fired ? body.deadline_failure() : body.failure(), res);
  to_httplib(router.serve(request, admission), res);
}

void HttpServer::Impl::configure() {
  httplib::Server& svr = *server;
  const size_t threads = static_cast<size_t>(options.threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_read_timeout(options.read_timeout_s, 0);
  svr.set_write_timeout(options.write_timeout_s, 0);
  svr.set_keep_alive_timeout(options.keep_alive_timeout_s);
  svr.set_keep_alive_max_count(static_cast<size_t>(options.keep_alive_max_requests));
  svr.set_payload_max_length(options.max_upload_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second server bind
  // the same port and silently take half of the connections.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });

  svr.set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return pre_route(req, res); });
  auto plain = [this](const httplib::Request& req, httplib::Response& res) {
    handle_plain(req, res);
  };
  auto with_body = [this](const httplib::Request& req, httplib::Response& res,
                          const httplib::ContentReader& reader) {
    handle_with_body(req, res, reader);
  };
  // Every path goes to the router ("[\s\S]" also matches a decoded newline).
  const std::string any = R"([\s\S]*)";
  svr.Get(any, plain).Options(any, plain);
  svr.Post(any, with_body).Put(any, with_body).Patch(any, with_body).Delete(any, with_body);

  // Statuses httplib sets on its own (unparseable request, body over the limit, ...) get the
  // JSON error body; ours already have one.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        to_httplib(library_error(res.status, options.max_upload_bytes), res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        to_httplib(error_response(500, "internal", "internal error"), res);
      });
  // Runs for every response just before it is written, including httplib's own.
  svr.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
    begin_request();
    res.set_header("X-Request-Id", t_request.id);
    HttpResponse headers_only;
    add_security_headers(headers_only);
    for (auto& [name, value] : headers_only.headers) {
      if (!res.has_header(name.c_str())) res.set_header(name, value);
    }
  });
  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    begin_request();
    const double ms =
        std::chrono::duration<double, std::milli>(Clock::now() - t_request.start).count();
    log.write(req.method, req.path, res.status, res.body.size(), ms, t_request.id,
              t_request.principal, req.remote_addr, t_request.log_detail);
    t_request.active = false;
    t_request.principal.clear();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  if (!impl_ || impl_->ran) return;
  if (impl_->plain_server) impl_->plain_server->close_unused_socket();
  if (impl_->tls_server) impl_->tls_server->close_unused_socket();
}

Status check_exposure(const ServerOptions& options) {
  if (is_loopback_host(options.host)) return Status::ok();
  const bool tls = !options.tls_cert.empty();
  const bool tokens = !options.api_token.empty() || (options.tokens && options.tokens->enabled());
  std::string missing;
  if (!tls && !options.insecure_http) {
    missing = "TLS (--tls-cert and --tls-key; or --insecure-http behind a TLS proxy)";
  }
  if (!tokens) {
    missing += std::string(missing.empty() ? "" : " and ") +
               "API tokens (--tokens FILE or --api-token-file FILE)";
  }
  if (missing.empty()) return Status::ok();
  return Status::invalid_argument("refusing to listen on " + options.host +
                                  ", which is not a loopback address, without " + missing +
                                  " (docs/SECURITY.md)");
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::bind(const SearchBackend& backend,
                                                       const ServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return Status::invalid_argument("port must be between 0 and 65535, got " +
                                    std::to_string(options.port));
  }
  if (options.threads < 1 || options.read_timeout_s < 1 || options.write_timeout_s < 1 ||
      options.keep_alive_timeout_s < 1 || options.keep_alive_max_requests < 1) {
    return Status::invalid_argument(
        "threads, timeouts and keep-alive requests must each be at least 1");
  }
  if (options.max_upload_bytes < 1) {
    return Status::invalid_argument("max_upload_bytes must be at least 1");
  }
  if (options.body_timeout_s < 1) return Status::invalid_argument("body_timeout_s must be >= 1");
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return Status::invalid_argument("TLS needs both a certificate and a key file");
  }
  XRS_RETURN_IF_ERROR(check_exposure(options));
  auto impl = std::make_unique<Impl>(backend, options);
  if (options.tls_cert.empty()) {
    impl->plain_server = std::make_unique<BoundServer<httplib::Server>>();
    impl->server = impl->plain_server.get();
  } else {
    const http::TlsFiles files{options.tls_cert, options.tls_key};
    XRS_RETURN_IF_ERROR(http::check_tls_files(files));
    Status tls_status;
    impl->tls_server = std::make_unique<BoundServer<httplib::SSLServer>>([&](SSL_CTX& ctx) {
      tls_status = http::configure_tls_context(ctx, files);
      return tls_status.is_ok();
    });
    if (!tls_status.is_ok()) return tls_status;
    if (!impl->tls_server->is_valid()) {
      return Status::internal("cannot create the TLS context (OpenSSL)");
    }
    impl->server = impl->tls_server.get();
  }
  impl->configure();
  const std::string where = options.host + ":" + std::to_string(options.port);
  if (options.port == 0) {
    impl->port = impl->server->bind_to_any_port(options.host);
  } else {
    impl->port = impl->server->bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (impl->port < 0) {
    return Status::unavailable(
        "cannot listen on " + where +
        ": the port is in use or the host is not an address of this machine");
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const {
  return impl_->port;
}

Status HttpServer::run() {
  Impl& s = *impl_;
  if (s.ran) return Status::failed_precondition("HttpServer::run() called twice");
  s.ran = true;
  if (s.options.on_listening) s.options.on_listening(s.options.host, s.port);
  // httplib's stop() only works once the accept loop is running; a stop() requested before that
  // (or from a signal watcher) is carried out by this thread as soon as it can be.
  std::thread watcher([&s] {
    std::unique_lock lock(s.stop_mutex);
    bool stopped = false;
    while (!s.listen_done) {
      s.stop_cv.wait_for(lock, std::chrono::milliseconds(20));
      if (s.stop_requested && !stopped && s.server->is_running()) {
        s.server->stop();
        stopped = true;
      }
    }
  });
  const bool ok = s.server->listen_after_bind();
  {
    std::lock_guard lock(s.stop_mutex);
    s.listen_done = true;
  }
  s.stop_cv.notify_all();
  watcher.join();
  bool requested = false;
  {
    std::lock_guard lock(s.stop_mutex);
    requested = s.stop_requested;
  }
  if (!ok && !requested) return Status::io_error("the server stopped accepting connections");
  return Status::ok();
}

void HttpServer::stop() {
  {
    std::lock_guard lock(impl_->stop_mutex);
    impl_->stop_requested = true;
  }
  impl_->stop_cv.notify_all();
}

}  // namespace xrs
