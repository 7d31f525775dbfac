// Internal to the transport: collecting a request body within the route's byte limit, a number
// of form parts, and a deadline (docs/SECURITY.md, "Slow clients"). Independent of cpp-httplib:
// the transport feeds it the chunks its reader delivers and stops reading when a call returns
// false.
//
//   BodyCollector body(request, limit, deadline);
//   reader(part -> body.begin_part(...), chunk -> body.append(data, n));
//   if (!ok) send body.failure();
//
// The deadline is checked on every chunk, so a client that trickles its body is cut off at the
// first chunk after the deadline: at most one read timeout (ServerOptions::read_timeout_s) after
// it, since a client that sends nothing at all is dropped by the read timeout itself.
//
// Not thread-safe: one collector per request, used by the thread reading that request.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "server/http_message.h"

namespace xrs::http {

inline constexpr size_t kMaxFormParts = 16;

class BodyCollector {
 public:
  using Clock = std::chrono::steady_clock;

  // Appends to request.body, or to the last of request.form once begin_part() was called.
  BodyCollector(HttpRequest& request, size_t limit, Clock::time_point deadline)
      : request_(request), limit_(limit), deadline_(deadline) {}

  // A new multipart part; false past kMaxFormParts or the deadline.
  bool begin_part(std::string name, std::string filename, std::string content_type);
  // The next bytes of the body (or of the current part); false past the limit or the deadline,
  // or for part data before any part began.
  bool append(const char* data, size_t n);

  // Bytes discarded while draining a body that will not be used: counts them against the
  // limit and the deadline the same way.
  bool discard(size_t n);

  // Why reading stopped, as the response to send (with Connection: close): 413 past the limit,
  // 400 for too many parts, 408 past the deadline, else (the client's stream broke) 400.
  HttpResponse failure() const;

  // The 408 response, for a body cut off at its deadline from outside (DeadlineWatch).
  HttpResponse deadline_failure() const;

  bool timed_out() const { return stop_ == Stop::kDeadline; }
  size_t bytes() const { return total_; }

 private:
  enum class Stop { kNone, kTooLarge, kTooManyParts, kDeadline };
  bool within(size_t n);

  HttpRequest& request_;
  const size_t limit_;
  const Clock::time_point deadline_;
  size_t total_ = 0;
  Stop stop_ = Stop::kNone;
};

}  // namespace xrs::http
