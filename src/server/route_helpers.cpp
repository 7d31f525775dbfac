// Helpers shared by the route handlers, and the health route.
#include <cstdint>

#include "server/routes.h"

namespace xrs::server_internal {

HttpResponse json_response(const nlohmann::json& body, int status) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.set_header("Cache-Control", "no-store");
  return response;
}

namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when it is malformed (RFC 3629:
// shortest form only, no surrogates, nothing past U+10FFFF).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t j) { return static_cast<uint8_t>(text[j]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t j = 2; j < n; ++j) {
    if ((byte(i + j) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_sequence_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return count;
}

std::string clip_for_message(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  // Cut on a code point boundary so that the message stays UTF-8.
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "...";
}

HttpResponse handle_health(const SearchBackend& backend, const RouterOptions& options) {
  const BackendInfo info = backend.info();
  nlohmann::json body = {
      {"status", "ok"},
      {"images", info.images},
      {"model", info.model},
      {"categories", info.categories},
      {"auth_required", !options.api_token.empty()},
      {"limits",
       {{"k_default", kDefaultK},
        {"k_max", kMaxK},
        {"text_min_score", json_score(kDefaultTextMinScore)},
        {"image_min_score", json_score(kDefaultImageMinScore)},
        {"max_query_chars", options.max_query_chars},
        {"max_upload_bytes", options.max_upload_bytes}}},
  };
  return json_response(body);
}

}  // namespace xrs::server_internal
