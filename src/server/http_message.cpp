#include "server/http_message.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace xrs {
namespace {

template <typename Pairs>
std::optional<std::string_view> find_header(const Pairs& pairs, std::string_view name) {
  for (const auto& [key, value] : pairs) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

// Only what the UI needs: its own scripts, styles and API, images from the API plus blob: URLs
// (the query image's client-side preview). Everything else, framing included, is refused.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

std::optional<std::string_view> HttpRequest::query_param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

void HttpResponse::set_header(std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  headers.emplace_back(std::string(name), std::move(value));
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kCorruption:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnsupported:
      return 415;
    // The server cannot run this kind of request in its present state or configuration (for
    // instance a model without a tokenizer asked for a text query): not the client's fault, and
    // not a bug.
    case StatusCode::kFailedPrecondition:
      return 503;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kCancelled:
      return 503;
    case StatusCode::kIoError:
      return 500;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse error_response(int http_status, std::string_view code, std::string_view message) {
  HttpResponse response;
  response.status = http_status;
  response.content_type = "application/json";
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  // Replace rather than throw on bytes that are not UTF-8 (a message may quote client input).
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.set_header("Cache-Control", "no-store");
  return response;
}

HttpResponse error_response(const Status& status) {
  if (status.is_ok()) {
    return error_response(500, "internal", "an error response was built from an OK status");
  }
  return error_response(http_status_for(status.code()), status_code_name(status.code()),
                        status.message());
}

void add_security_headers(HttpResponse& response) {
  auto add = [&](std::string_view name, std::string_view value) {
    if (!response.header(name)) response.headers.emplace_back(name, value);
  };
  add("X-Content-Type-Options", "nosniff");
  add("Content-Security-Policy", kContentSecurityPolicy);
  add("Referrer-Policy", "no-referrer");
  add("X-Frame-Options", "DENY");
  add("Cross-Origin-Opener-Policy", "same-origin");
  add("Cross-Origin-Resource-Policy", "same-origin");
  add("Permissions-Policy", "camera=(), microphone=(), geolocation=()");
}

}  // namespace xrs
