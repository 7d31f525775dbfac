// HTTP requests and responses as plain values, so that every route of the server is a pure
// function of a request (DESIGN.md habit 7) and can be tested without sockets. The socket layer
// (server.h) converts to and from these; nothing here knows about cpp-httplib.
//
// Errors travel as JSON bodies {"error":{"code":"<status code name>","message":"..."}} with a
// 4xx/5xx status (docs/API.md, "Errors"); http_status_for() is the one mapping from Status codes
// to HTTP statuses.
//
// Plain values: safe to use from any thread, not to share mutably.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/strings.h"  // iequals for header names
#include "server/security/audit_log.h"
#include "server/security/principal.h"

namespace xrs {

// One part of a multipart/form-data body.
struct FormPart {
  std::string name;          // the form field name
  std::string filename;      // empty for plain fields
  std::string content_type;  // as the client declared it (never trusted for images)
  std::string content;       // the raw bytes
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ... exactly as sent
  std::string path;    // percent-decoded, without the query string
  std::vector<std::pair<std::string, std::string>> query;    // decoded parameters, in order
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;                                          // the body of a non-multipart request
  std::vector<FormPart> form;  // the parts of a multipart/form-data request, in order

  // Set by the transport: the peer's address ("" when there is no socket, as in tests) and the
  // request id (X-Request-Id, the access and audit logs).
  std::string remote_address;
  std::string request_id;
  // Set by ApiRouter::admit(): who is calling (the token's name and scopes, or anonymous). The
  // access log and the audit log both read it from here.
  security::Principal principal;

  // The value of the first header called `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // The value of the first query parameter called `name` (case-sensitive), or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;  // empty only when the body is empty
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type
  // Extra access-log fields for this request ("query_chars=12"); never sent to the client and
  // never holding query text or image bytes.
  std::string log_detail;
  // What the route tells the audit log (security/audit_log.h); empty for routes not audited.
  security::AuditFacts audit;

  // Replaces every header called `name` (case-insensitive) with one `name: value`.
  void set_header(std::string_view name, std::string value);
  // The value of the first header called `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

// The HTTP status for a failed Status: invalid_argument and corruption 400, not_found 404,
// already_exists 409, unsupported 415, resource_exhausted 413, failed_precondition, unavailable
// and cancelled 503, io_error and internal 500. (Routes that read uploads map corruption, a
// damaged upload, to 400 through this table too; a damaged file of the index is reported by the
// image routes as 500 themselves.)
int http_status_for(StatusCode code);

// An error response with the JSON error body and `no-store` caching.
HttpResponse error_response(int http_status, std::string_view code, std::string_view message);
// The same for a failed Status, with http_status_for(status.code()) and the code's name.
HttpResponse error_response(const Status& status);

// Adds the headers every response carries (nosniff, a Content-Security-Policy allowing only
// 'self' (plus blob:/data: images for client-side previews), no referrer, no framing, same-origin
// resource policy), without touching headers already set. No CORS headers are ever added.
void add_security_headers(HttpResponse& response);

}  // namespace xrs
