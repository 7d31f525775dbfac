// The audit log (docs/SECURITY.md, "Audit log"): who searched what kind of query and which
// images they opened, one JSON object per line, separate from the access log.
//
//   {"time":"2026-01-02T03:04:05.678Z","request_id":"3f2a-00000b","principal":"reading-room",
//    "client":"10.0.0.7","method":"POST","route":"/api/search/text","status":200,
//    "event":"search.text","text_chars":23,"k":5,"results":5}
//
// Members: time (UTC, ms), request_id (as in the access log and X-Request-Id), principal (the
// token's name; null for an anonymous caller), client (the peer address), method, route (the
// route's pattern, so an id is never hidden in a path), status, then the route's own facts
// (AuditFacts): never query text unless AuditOptions::log_query_text, never image bytes, never a
// token.
//
// Rotation by size: a line that would take the file past max_bytes first renames FILE to
// FILE.1 (FILE.1 to FILE.2, ..., dropping FILE.<keep>) and starts a new FILE. Files are created
// with mode 0600 and appended with one write() per line (O_APPEND), so a crash loses at most the
// line being written and never interleaves two.
//
// Thread-safety: write() may be called from any number of threads (one mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"

namespace xrs::security {

// What one route tells the audit log about a request: an event name ("search.text",
// "image.open", ...) and members whose values are integers, strings or booleans.
struct AuditFacts {
  std::string event;
  std::vector<std::pair<std::string, std::variant<int64_t, std::string, bool>>> members;

  bool empty() const { return event.empty(); }
  void add(std::string name, int64_t value) { members.emplace_back(std::move(name), value); }
  void add(std::string name, std::string value) {
    members.emplace_back(std::move(name), std::move(value));
  }
  void add(std::string name, bool value) { members.emplace_back(std::move(name), value); }
};

struct AuditRecord {
  std::string request_id;
  std::string principal;  // empty: anonymous
  std::string client;
  std::string method;
  std::string route;
  int status = 0;
  AuditFacts facts;
};

struct AuditOptions {
  std::string path;                   // FILE
  uint64_t max_bytes = 100ull << 20;  // rotate past this size
  int keep = 5;                       // rotated files kept: FILE.1 .. FILE.<keep>
  bool log_query_text = false;        // also write text queries themselves
};

class AuditLog {
 public:
  using Sink = std::function<void(std::string_view line)>;

  // Opens (creating, mode 0600) FILE for appending. kInvalidArgument for max_bytes < 1024 or
  // keep outside 1..100, kIoError naming the file when it cannot be opened.
  static StatusOr<std::unique_ptr<AuditLog>> open(const AuditOptions& options);
  // An audit log that hands each line (without newline) to `sink`, for tests.
  static std::unique_ptr<AuditLog> to_sink(Sink sink, bool log_query_text = false);

  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  bool log_query_text() const { return options_.log_query_text; }

  // Writes one line. An I/O error is reported once to the server's log (core/log.h) and the
  // line is dropped; the server keeps serving.
  void write(const AuditRecord& record);

  // The JSON line for `record` (without newline), with the current time.
  static std::string format(const AuditRecord& record);

 private:
  AuditLog(AuditOptions options, Sink sink);
  Status append(std::string_view line);
  Status rotate();

  const AuditOptions options_;
  Sink sink_;
  std::mutex mutex_;
  int fd_ = -1;
  uint64_t size_ = 0;
  bool reported_error_ = false;
};

}  // namespace xrs::security
