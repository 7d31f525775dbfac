// The web UI's files (web/*), embedded in the binary at build time so that `xray-search serve`
// needs nothing beside itself. src/server/embed_web_assets.cmake generates the table from the
// files in web/ (every file there, with its content type from the extension and an ETag from its
// SHA-256). Immutable static data: safe from any thread.
#pragma once

#include <span>
#include <string_view>

namespace xrs {

struct WebAsset {
  std::string_view path;          // the URL path, e.g. "/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // a strong ETag, quoted: "\"<16 hex digits of SHA-256>\""
  std::string_view bytes;         // the file's content
};

// Every embedded file, sorted by path (generated).
std::span<const WebAsset> web_assets();

// The asset served at `path` ("/" is "/index.html"), or nullptr.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace xrs
