#include "server/web_assets.h"

#include <algorithm>

namespace xrs {

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  auto assets = web_assets();
  auto it =
      std::find_if(assets.begin(), assets.end(), [&](const WebAsset& a) { return a.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

}  // namespace xrs
