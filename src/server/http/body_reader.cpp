#include "server/http/body_reader.h"

namespace xrs::http {

bool BodyCollector::within(size_t n) {
  if (Clock::now() > deadline_) {
    stop_ = Stop::kDeadline;
    return false;
  }
  if (total_ + n > limit_) {
    stop_ = Stop::kTooLarge;
    return false;
  }
  total_ += n;
  return true;
}

bool BodyCollector::begin_part(std::string name, std::string filename, std::string content_type) {
  if (request_.form.size() == kMaxFormParts) {
    stop_ = Stop::kTooManyParts;
    return false;
  }
  if (!within(0)) return false;
  request_.form.push_back({std::move(name), std::move(filename), std::move(content_type), {}});
  return true;
}

bool BodyCollector::append(const char* data, size_t n) {
  if (!within(n)) return false;
  (request_.form.empty() ? request_.body : request_.form.back().content).append(data, n);
  return true;
}

bool BodyCollector::discard(size_t n) {
  return within(n);
}

HttpResponse BodyCollector::deadline_failure() const {
  HttpResponse response =
      error_response(408, "request_timeout",
                     "the request body was not received in time (" + std::to_string(total_) +
                         " bytes arrived before the deadline)");
  response.set_header("Connection", "close");
  return response;
}

HttpResponse BodyCollector::failure() const {
  if (stop_ == Stop::kDeadline) return deadline_failure();
  HttpResponse response;
  switch (stop_) {
    case Stop::kTooLarge:
      response = error_response(
          413, "resource_exhausted",
          "the request body is larger than the limit of " + std::to_string(limit_) + " bytes");
      break;
    case Stop::kTooManyParts:
      response =
          error_response(400, "invalid_argument",
                         "too many form fields (at most " + std::to_string(kMaxFormParts) + ")");
      break;
    case Stop::kDeadline:  // handled above
    case Stop::kNone:
      response = error_response(400, "bad_request",
                                "the request could not be read: malformed request line, headers "
                                "or body (a truncated or malformed multipart upload), or the "
                                "client stopped sending");
      break;
  }
  response.set_header("Connection", "close");
  return response;
}

}  // namespace xrs::http
