// The HTTP server behind `xray-search serve`: ApiRouter (api/router.h) on cpp-httplib sockets.
//
//   xrs::ServerOptions options;            // host 127.0.0.1, port 8080, no token, 32 MB uploads
//   options.on_listening = [](const std::string& host, int port) { ... print the URL ... };
//   xrs::Status s = xrs::serve(service, options);   // blocks until SIGINT/SIGTERM
//
// What the socket layer adds to the router:
// - Bodies are read only after ApiRouter::admit() accepts the request (so an unauthenticated
//   or misrouted upload is never buffered), and never past ApiRouter::body_limit(): a declared
//   Content-Length over the limit is answered 413 without buffering; chunked bodies are cut off
//   at the limit (413). Compressed request bodies (Content-Encoding) are refused with 415 (a
//   small gzip body could inflate without bound); a GET with a body gets 400.
// - Errors raised by the HTTP layer itself (a malformed request line, an unreadable or truncated
//   multipart body, a URI too long) are JSON errors like the router's.
// - Every response gets an X-Request-Id, and one access-log line is written per request:
//     2026-01-02T03:04:05.678Z GET /api/images/3/preview 200 18234B 4.2ms id=1f3a-000017 [detail]
//   (the path without its query string, control characters escaped; never query text, image
//   bytes or a token: a text search logs only "query_chars=N", an upload "upload_bytes=N", the
//   caller by its token's name).
// - read/write timeouts (a client that stalls mid-request holds one worker thread until its
//   read timeout, never the server), a deadline for a whole request body (a client that trickles
//   its upload is cut off with 408), a fixed worker pool, keep-alive limits.
// - TLS when a certificate and key are given (http/tls_context.h: TLS 1.2+, modern ciphers),
//   and the refusal to listen beyond loopback without TLS (or insecure_http) and tokens
//   (check_exposure()).
//
// Thread-safety: HttpServer::stop() may be called from any thread (or a signal watcher) at any
// time, before, during or after run(); everything else is for the owning thread. The backend must
// outlive the server and is called concurrently from the worker threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/api/router.h"
#include "service/search_service.h"

namespace xrs {

struct ServerOptions {
  std::string host = "127.0.0.1";  // "0.0.0.0" to listen on every interface
  int port = 8080;                 // 0: any free port (on_listening reports which)
  // Authentication, rate limits, audit, originals: as RouterOptions (api/router.h) has them.
  std::string api_token;  // one token with every scope
  std::shared_ptr<const security::Authenticator> tokens;
  security::RateLimitOptions rate_limit;
  std::shared_ptr<security::AuditLog> audit;
  bool serve_originals = false;
  // TLS: both PEM files, or neither (plain HTTP).
  std::string tls_cert;
  std::string tls_key;
  // Plain HTTP on a non-loopback address (behind a TLS-terminating proxy): see check_exposure().
  bool insecure_http = false;
  size_t max_upload_bytes = 32 * 1024 * 1024;
  int threads = 8;               // worker threads (concurrent requests)
  int read_timeout_s = 10;       // per read while receiving a request
  int write_timeout_s = 30;      // per write while sending a response
  int keep_alive_timeout_s = 5;  // idle time before a kept-alive connection is closed
  int keep_alive_max_requests = 100;
  int body_timeout_s = 60;  // a request body must have arrived this long after its headers
  // serve() only: stop gracefully on SIGINT/SIGTERM (in-flight requests finish).
  bool handle_signals = true;
  // Called once the socket listens, with the host and the actual port (before run() accepts).
  std::function<void(const std::string& host, int port)> on_listening;
  // Receives each access-log line (without newline), from the worker threads but one call at a
  // time. Unset: written to stderr.
  std::function<void(std::string_view line)> access_log;
};

// OK when the server may listen where `options` says: a loopback host (127.0.0.0/8, ::1,
// "localhost") always; any other host only with TLS (or insecure_http) AND tokens.
// kInvalidArgument saying what is missing otherwise.
Status check_exposure(const ServerOptions& options);

class HttpServer {
 public:
  // Validates the options and binds the listening socket. Errors: kInvalidArgument for bad
  // options (port outside 0..65535, threads < 1, timeouts < 1, only one TLS file, a refused
  // exposure), the TLS files' errors (tls_context.h), kUnavailable when the address
  // cannot be bound (in use, or not an address of this machine).
  static StatusOr<std::unique_ptr<HttpServer>> bind(const SearchBackend& backend,
                                                    const ServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;  // the bound port (the chosen one when options.port was 0)

  // Calls on_listening, then accepts and serves requests until stop(). Returns OK after a stop,
  // kIoError when accepting fails. Call at most once.
  Status run();

  // Stops accepting, lets in-flight requests finish (run() returns once they have). Idempotent.
  void stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// bind() + run(), stopping on SIGINT/SIGTERM when options.handle_signals (the previous signal
// handlers are restored before it returns). One serve() per process at a time.
Status serve(const SearchBackend& backend, const ServerOptions& options);

}  // namespace xrs
