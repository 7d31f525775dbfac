// Internal to the server module: one access-log line per request, and request ids.
//
//   2026-01-02T03:04:05.678Z POST /api/search/text 200 1532B 12.4ms id=3f2a-00000b
//       client=10.0.0.7 principal=reading-room query_chars=23        (one line)
//
// Fields: completion time (UTC, ms), method, path (no query string; bytes outside printable ASCII
// and spaces written as %XX so that a request cannot forge log lines), status, body bytes,
// duration from the start of routing (or "-" when the request never reached it), request id,
// the peer address, the caller (the token's name, "-" when anonymous: never the token), then
// the route's detail (never query text or image bytes). Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace xrs {

class AccessLog {
 public:
  using Sink = std::function<void(std::string_view line)>;

  // `sink` receives each line without a newline, one call at a time (under a mutex); an empty
  // one writes to stderr.
  explicit AccessLog(Sink sink);

  // "<4 hex digits that differ between server runs>-<6+ hex digits counting requests>".
  std::string next_request_id();

  void write(std::string_view method, std::string_view path, int status, size_t bytes, double ms,
             std::string_view request_id, std::string_view principal, std::string_view client,
             std::string_view detail);

 private:
  Sink sink_;
  std::mutex mutex_;  // one line at a time, whole
  std::atomic<uint64_t> counter_{0};
  unsigned prefix_;
};

}  // namespace xrs
