// Fuzz target: the HTTP API's request handling (server/api/router.h ApiRouter), over the test
// suite's FakeBackend (tests/server/fake_backend.h), which decodes uploads with the real decoders.
//
// Input: a request written like HTTP/1.1 (http_request_text.h: method, target, headers, a JSON
// or multipart body). The backend indexes four files made at start-up: a PNG, a JPEG, a damaged
// DICOM and one that is missing. Each request goes to two routers: one open, one requiring a
// token (with the thumbnail cache on). Checked for every response:
//   - a status in 100..599 and the security headers;
//   - 4xx/5xx: a JSON body {"error":{"code":"...","message":"..."}}; never a 500 "internal"
//     (that is what an exception caught at the router's edge becomes: a bug);
//   - a JSON content type comes with a parseable body; 405 has Allow, 401 WWW-Authenticate;
//   - admit() and handle() agree on rejections;
//   - with a token configured, only /api/health and non-API paths answer without it.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "fake_backend.h"
#include "fuzz_support.h"
#include "http_request_text.h"
#include "imaging/encode.h"
#include "server/api/router.h"

namespace {

constexpr std::string_view kToken = "fuzz-token";

struct World {
  std::string dir;
  std::unique_ptr<xrs::testing::FakeBackend> backend;
  std::unique_ptr<xrs::ApiRouter> open;
  std::unique_ptr<xrs::ApiRouter> guarded;
};

World* g_world = nullptr;

xrs::Image gradient(int width, int height, xrs::PixelFormat format) {
  xrs::Image image;
  image.width = width;
  image.height = height;
  image.format = format;
  image.pixels.resize(size_t(width) * height * xrs::channel_count(format));
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = uint8_t(i * 7);
  return image;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) xrs::fuzz::skip_target("cannot write " + path);
}

void remove_world() {
  std::error_code ec;
  if (g_world != nullptr) std::filesystem::remove_all(g_world->dir, ec);
}

std::string summary(const xrs::HttpRequest& request, const xrs::HttpResponse& response) {
  return request.method.substr(0, 16) + " " + request.path.substr(0, 80) + " -> " +
         std::to_string(response.status) + " " + response.body.substr(0, 300);
}

void check_response(const xrs::HttpRequest& request, const xrs::HttpResponse& response) {
  const std::string what = summary(request, response);
  XRS_FUZZ_CHECK(response.status >= 100 && response.status <= 599, what);
  XRS_FUZZ_CHECK(response.header("X-Content-Type-Options") == "nosniff", what);
  XRS_FUZZ_CHECK(response.header("Content-Security-Policy").has_value(), what);
  if (!response.body.empty()) XRS_FUZZ_CHECK(!response.content_type.empty(), what);
  const bool is_json = response.content_type == "application/json";
  if (response.status >= 400) {
    XRS_FUZZ_CHECK(is_json, what);
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    XRS_FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_object(), what);
    const nlohmann::json& error = body["error"];
    XRS_FUZZ_CHECK(error.contains("code") && error["code"].is_string() &&
                       !error["code"].get<std::string>().empty(),
                   what);
    XRS_FUZZ_CHECK(error.contains("message") && error["message"].is_string(), what);
    XRS_FUZZ_CHECK(!(response.status == 500 && error["code"] == "internal"), what);
  } else if (is_json && !response.body.empty()) {
    XRS_FUZZ_CHECK(!nlohmann::json::parse(response.body, nullptr, false).is_discarded(), what);
  }
  if (response.status == 405) XRS_FUZZ_CHECK(response.header("Allow").has_value(), what);
  if (response.status == 401) XRS_FUZZ_CHECK(response.header("WWW-Authenticate").has_value(), what);
}

void route(const xrs::ApiRouter& router, const xrs::HttpRequest& request) {
  xrs::HttpRequest admitted_request = request;
  auto admitted = router.admit(admitted_request);
  const xrs::HttpResponse* early = std::get_if<xrs::HttpResponse>(&admitted);
  const xrs::HttpResponse response = router.handle(request);
  xrs::fuzz::note(summary(request, response));
  check_response(request, response);
  if (early) {
    check_response(request, *early);
    XRS_FUZZ_CHECK(
        early->status == response.status,
        "admit " + summary(request, *early) + " but handle " + summary(request, response));
  }
  if (!router.options().api_token.empty() && request.path.starts_with("/api/") &&
      request.path != "/api/health" && response.status != 401) {
    const std::string_view auth = request.header("Authorization").value_or("");
    XRS_FUZZ_CHECK(auth.size() > kToken.size() && auth.ends_with(kToken),
                   "answered without the token: " + summary(request, response));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "xrs-fuzz-http-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) xrs::fuzz::skip_target("cannot create a temporary folder");
  g_world = new World;
  // The image routes log a missing file as a warning: quiet unless XRS_FUZZ_VERBOSE is set.
  xrs::set_log_sink([](xrs::LogLevel, std::string_view message) { xrs::fuzz::note(message); });
  g_world->dir = tmpl;
  std::atexit(remove_world);

  struct File {
    const char* name;
    const char* category;
    std::string bytes;  // empty: indexed but missing
  };
  const std::vector<File> files = {
      {"chest-a.png", "chest", xrs::encode_png(gradient(64, 48, xrs::PixelFormat::kL)).value()},
      {"dental-b.jpg", "dental",
       xrs::encode_jpeg(gradient(40, 30, xrs::PixelFormat::kRGB)).value()},
      {"hand-c.dcm", "hand", std::string(128, '\0') + "DICM" + std::string(64, '\x01')},
      {"missing.png", "chest", ""},
  };
  std::vector<xrs::IndexedImage> images;
  for (const File& file : files) {
    xrs::IndexedImage image;
    image.id = static_cast<int64_t>(images.size());
    image.image_name = file.name;
    image.category = file.category;
    image.absolute_path = g_world->dir + "/" + file.name;
    image.source_url = std::string("https://example.org/") + file.name;
    if (!file.bytes.empty()) write_file(image.absolute_path, file.bytes);
    images.push_back(std::move(image));
  }
  g_world->backend = std::make_unique<xrs::testing::FakeBackend>(std::move(images));

  xrs::RouterOptions open;
  open.preview_cache_bytes = 0;
  open.max_json_bytes = 4096;
  g_world->open = std::make_unique<xrs::ApiRouter>(*g_world->backend, open);
  xrs::RouterOptions guarded;
  guarded.api_token = std::string(kToken);
  guarded.preview_cache_bytes = 1 << 20;
  guarded.max_upload_bytes = 1 << 16;
  g_world->guarded = std::make_unique<xrs::ApiRouter>(*g_world->backend, guarded);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const xrs::HttpRequest request =
      xrs::fuzz::parse_request_text(std::string_view(reinterpret_cast<const char*>(data), size));
  route(*g_world->open, request);
  route(*g_world->guarded, request);
  return 0;
}
