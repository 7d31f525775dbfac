#include "server/web_assets.h"

#include <algorithm>

#include "server/routes.h"

namespace xrs {

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  auto assets = web_assets();
  auto it =
      std::find_if(assets.begin(), assets.end(), [&](const WebAsset& a) { return a.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

namespace server_internal {

HttpResponse handle_asset(const WebAsset& asset, const HttpRequest& request) {
  HttpResponse response;
  response.set_header("ETag", std::string(asset.etag));
  // Revalidate every time: a new build changes the files behind the same URLs.
  response.set_header("Cache-Control", "no-cache");
  auto if_none_match = request.header("If-None-Match");
  // The header may list several tags ("a", "b") or be "*"; a weak W/"a" matches too.
  if (if_none_match &&
      (if_none_match->find(asset.etag) != std::string_view::npos || *if_none_match == "*")) {
    response.status = 304;
    return response;
  }
  response.content_type = std::string(asset.content_type);
  response.body = std::string(asset.bytes);
  return response;
}

}  // namespace server_internal
}  // namespace xrs
