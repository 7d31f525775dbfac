#include "server/api/router.h"

#include <chrono>
#include <exception>
#include <string>
#include <string_view>

#include "core/strings.h"
#include "server/api/handlers.h"
#include "server/api/metrics.h"

namespace xrs {
namespace {

using api::BodyKind;
using api::Route;

// The media type of a Content-Type value, without parameters, lower-cased.
std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return ascii_lower(type);
}

// Whether a request for `path` needs the token: when any route of the path does; an unknown path
// does when it is under /api/ (so that a client without the token cannot probe for routes).
bool needs_token(const std::vector<api::PathMatch>& matches, std::string_view path) {
  if (matches.empty()) return path.starts_with("/api/");
  for (const api::PathMatch& m : matches) {
    if (m.route->access.needs_token) return true;
  }
  return false;
}

// "GET, HEAD" / "POST" / "GET, HEAD, POST": the methods of the matched routes, each once.
std::string allowed_methods(const std::vector<api::PathMatch>& matches) {
  std::string out;
  for (api::Method method : {api::Method::kGet, api::Method::kPost}) {
    for (const api::PathMatch& m : matches) {
      if (m.route->method != method) continue;
      out += (out.empty() ? "" : ", ") + std::string(api::allow_header_value(method));
      break;
    }
  }
  return out;
}

}  // namespace

bool auth_enabled(const RouterOptions& options) {
  return !options.api_token.empty() || (options.tokens && options.tokens->enabled());
}

ApiRouter::ApiRouter(const SearchBackend& backend, RouterOptions options)
    : backend_(backend), options_(std::move(options)), metrics_(std::make_unique<api::Metrics>()) {
  if (options_.preview_cache_bytes > 0) {
    thumbnails_ = std::make_unique<api::ThumbnailCache>(options_.preview_cache_bytes);
  }
  if (options_.tokens) auth_ = *options_.tokens;
  if (!options_.api_token.empty()) {
    // A clash with the token file (same name or same token) leaves the file's entry in charge;
    // `serve` refuses such a configuration before it gets here.
    (void)auth_.add_token(kApiTokenName, options_.api_token, security::kAllScopes);
  }
  limiter_ = std::make_unique<security::RateLimiter>(options_.rate_limit);
}

ApiRouter::~ApiRouter() = default;

void ApiRouter::audit(const HttpRequest& request, const api::Route* route,
                      const HttpResponse& response) const {
  if (!options_.audit) return;
  const bool audited_route = route != nullptr && !route->audit.empty();
  const bool denied = response.status == 401 || response.status == 403 || response.status == 429;
  if (!audited_route && !denied) return;
  security::AuditRecord record;
  record.request_id = request.request_id;
  record.principal = request.principal.name;
  record.client = request.remote_address;
  record.method = request.method;
  // The pattern, not the path: an unknown path is the client's text and stays out of the log.
  record.route = route != nullptr ? std::string(route->path) : std::string("-");
  record.status = response.status;
  record.facts = response.audit;
  if (record.facts.empty()) {
    record.facts.event = audited_route ? std::string(route->audit) : std::string("denied");
  }
  options_.audit->write(record);
}

HttpResponse ApiRouter::reject(const HttpRequest& request, const api::Route* route,
                               HttpResponse response) const {
  add_security_headers(response);
  metrics_->record(route != nullptr ? route->path : "unmatched", response.status, -1, 0);
  audit(request, route, response);
  return response;
}

std::variant<ApiRouter::Admission, HttpResponse> ApiRouter::admit(HttpRequest& request) const {
  std::vector<api::PathMatch> matches = api::match_routes(request.path);
  // The route the request is for (the first whose method matches), for the audit log.
  api::PathMatch* chosen = nullptr;
  for (api::PathMatch& m : matches) {
    if (api::method_matches(m.route->method, request.method)) {
      chosen = &m;
      break;
    }
  }
  const api::Route* route = chosen != nullptr ? chosen->route : nullptr;

  request.principal = {};
  const auto auth = auth_.authenticate(request.header("Authorization"));
  if (auth.outcome == security::Authenticator::Outcome::kValid) request.principal = auth.principal;
  if (auth_.enabled() && needs_token(matches, request.path) &&
      auth.outcome != security::Authenticator::Outcome::kValid) {
    HttpResponse response = error_response(
        401, "unauthenticated",
        auth.outcome == security::Authenticator::Outcome::kNone
            ? "this server requires an API token: send 'Authorization: Bearer <token>'"
            : "the API token is not valid (send 'Authorization: Bearer <token>')");
    response.set_header("WWW-Authenticate", "Bearer realm=\"xray-search\"");
    return reject(request, route, std::move(response));
  }

  // Every request under /api/ counts against its client's rate, whatever becomes of it.
  const std::string client = request.principal.authenticated() ? "token:" + request.principal.name
                                                               : "addr:" + request.remote_address;
  if (request.path.starts_with("/api/")) {
    if (auto wait = limiter_->admit(client, std::chrono::steady_clock::now())) {
      HttpResponse response = error_response(
          429, "resource_exhausted",
          "too many requests from this client; retry in " + std::to_string(*wait) + " s");
      response.set_header("Retry-After", std::to_string(*wait));
      return reject(request, route, std::move(response));
    }
  }

  if (matches.empty()) {
    return reject(
        request, nullptr,
        error_response(404, "not_found", "no such route: " + clip_for_message(request.path)));
  }
  if (chosen == nullptr) {
    const std::string allowed = allowed_methods(matches);
    HttpResponse response = error_response(405, "method_not_allowed",
                                           "method " + clip_for_message(request.method, 16) +
                                               " is not allowed here; allowed: " + allowed);
    response.set_header("Allow", allowed);
    return reject(request, nullptr, std::move(response));
  }
  if (auth_.enabled() && route->access.needs_token &&
      (request.principal.scopes & route->access.scopes) != route->access.scopes) {
    return reject(request, route,
                  error_response(403, "permission_denied",
                                 "the token '" + request.principal.name +
                                     "' does not have the scope this route needs (" +
                                     security::scopes_text(route->access.scopes) + ")"));
  }
  const std::string type = media_type(request.header("Content-Type").value_or(""));
  const bool multipart =
      type == "multipart/form-data" &&
      (route->body == BodyKind::kMultipart || route->body == BodyKind::kJsonOrMultipart);
  if (route->body != BodyKind::kNone && !multipart &&
      (type != "application/json" || route->body == BodyKind::kMultipart)) {
    const char* expected = route->body == BodyKind::kMultipart ? "multipart/form-data"
                           : route->body == BodyKind::kJson
                               ? "application/json"
                               : "application/json (or multipart/form-data with uploads)";
    return reject(request, route,
                  error_response(415, "unsupported_media_type",
                                 std::string("send the request as Content-Type: ") + expected +
                                     (type.empty() ? std::string(" (none was given)")
                                                   : ", not " + clip_for_message(type, 40))));
  }
  Admission admission{route, std::move(chosen->params), {}, multipart};
  if (multipart) {
    auto slot = limiter_->begin_upload(client);
    if (!slot) {
      HttpResponse response = error_response(
          429, "resource_exhausted",
          "this client has " + std::to_string(options_.rate_limit.uploads_per_client) +
              " uploads in flight already; retry when one has finished");
      response.set_header("Retry-After", "1");
      return reject(request, route, std::move(response));
    }
    admission.upload = std::move(*slot);
  }
  return admission;
}

size_t ApiRouter::body_limit(const Admission& admission) const {
  const api::Route* route = admission.route;
  if (route == nullptr || route->body_limit == nullptr) return 0;
  return admission.multipart ? options_.max_upload_bytes : options_.*(route->body_limit);
}

HttpResponse ApiRouter::serve(const HttpRequest& request, const Admission& admission) const {
  HttpResponse response;
  const auto start = std::chrono::steady_clock::now();
  // The edge of the module: nothing thrown below (bad_alloc, a JSON library surprise) may escape
  // as anything but a 500.
  try {
    const api::RouteContext context{backend_,         options_,          request,
                                    admission.params, thumbnails_.get(), metrics_.get()};
    response = admission.route->handler(context);
  } catch (const std::exception& e) {
    response = error_response(500, "internal", std::string("internal error: ") + e.what());
  } catch (...) {
    response = error_response(500, "internal", "internal error");
  }
  add_security_headers(response);
  audit(request, admission.route, response);
  size_t upload = 0;
  if (admission.multipart) {
    for (const FormPart& part : request.form) upload += part.content.size();
  }
  metrics_->record(admission.route->path, response.status,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                   upload);
  return response;
}

HttpResponse ApiRouter::handle(HttpRequest request) const {
  auto admitted = admit(request);
  if (auto* rejection = std::get_if<HttpResponse>(&admitted)) return std::move(*rejection);
  return serve(request, std::get<Admission>(admitted));
}

}  // namespace xrs
