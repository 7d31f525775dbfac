// Shared by the router tests: a FakeBackend over a few images written for the test (PNG and
// JPEG made with the imaging module's encoders, a DICOM-signature stub, a JPEG named .png, and a
// file that is indexed but missing), an ApiRouter over it, and request/response helpers.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fake_backend.h"
#include "imaging/encode.h"
#include "server/api/router.h"
#include "support/test_paths.h"

namespace xrs::testing {

using json = nlohmann::json;

// An options struct with some fields changed: with<RouterOptions>([](auto& o) { o.k = 1; }).
template <typename T, typename F>
T with(F change) {
  T value;
  change(value);
  return value;
}

inline Image make_gradient(int width, int height, PixelFormat format) {
  Image image;
  image.width = width;
  image.height = height;
  image.format = format;
  image.pixels.resize(static_cast<size_t>(width) * height * channel_count(format));
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  return image;
}

inline std::string png_bytes(int w, int h) {
  return encode_png(make_gradient(w, h, PixelFormat::kL)).value();
}
inline std::string jpeg_bytes(int w, int h) {
  return encode_jpeg(make_gradient(w, h, PixelFormat::kRGB)).value();
}
// The DICOM Part 10 signature (128-byte preamble + "DICM") and no valid data set after it.
inline std::string dicom_stub() {
  return std::string(128, '\0') + "DICM" + std::string(64, '\x01');
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline HttpRequest get_request(std::string path) {
  HttpRequest r;
  r.method = "GET";
  auto q = path.find('?');
  if (q != std::string::npos) {
    std::string query = path.substr(q + 1);
    path.resize(q);
    auto eq = query.find('=');
    r.query.emplace_back(query.substr(0, eq), eq == std::string::npos ? "" : query.substr(eq + 1));
  }
  r.path = std::move(path);
  return r;
}

inline HttpRequest json_request(std::string path, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = std::move(path);
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

inline HttpRequest form_request(std::vector<FormPart> parts) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/api/search/image";
  r.headers = {{"Content-Type", "multipart/form-data; boundary=x"}};
  r.form = std::move(parts);
  return r;
}

inline FormPart file_part(std::string bytes, std::string filename = "query.png") {
  return {"file", std::move(filename), "application/octet-stream", std::move(bytes)};
}
inline FormPart field(std::string name, std::string value) {
  return {std::move(name), "", "", std::move(value)};
}

inline json body_json(const HttpResponse& r) {
  return json::parse(r.body);
}

// A JSON error with this status and code whose message contains `fragment`.
inline void expect_error(const HttpResponse& r, int status, const std::string& code,
                         const std::string& fragment = "") {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  json j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  ASSERT_TRUE(j.contains("error")) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_NE(j["error"]["message"].get<std::string>().find(fragment), std::string::npos)
      << "message lacks '" << fragment << "': " << r.body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = scratch_dir(std::string("server_") +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    write_bytes(dir_ + "/chest-a.png", png_bytes(64, 48));
    write_bytes(dir_ + "/chest-b.jpg", jpeg_bytes(80, 60));
    write_bytes(dir_ + "/dental-a.png", png_bytes(300, 200));
    write_bytes(dir_ + "/hand-a.dcm", dicom_stub());
    write_bytes(dir_ + "/misnamed.png", jpeg_bytes(40, 30));
    const std::vector<std::pair<std::string, std::string>> files = {
        {"chest-a.png", "chest"}, {"chest-b.jpg", "chest"}, {"dental-a.png", "dental"},
        {"hand-a.dcm", "hand"},   {"misnamed.png", "hand"}, {"missing.png", "dental"}};
    std::vector<IndexedImage> images;
    for (const auto& [name, category] : files) {
      IndexedImage image;
      image.id = static_cast<int64_t>(images.size());
      image.image_name = name;
      image.category = category;
      image.absolute_path = dir_ + "/" + name;
      image.source_url = "https://example.org/" + name;
      images.push_back(image);
    }
    backend_ = std::make_unique<FakeBackend>(std::move(images));
    make_router({});
  }

  void make_router(RouterOptions options) {
    router_ = std::make_unique<ApiRouter>(*backend_, std::move(options));
  }
  HttpResponse handle(const HttpRequest& r) const { return router_->handle(r); }
  HttpResponse search_text(const std::string& body) const {
    return handle(json_request("/api/search/text", body));
  }

  std::string dir_;
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<ApiRouter> router_;
};

}  // namespace xrs::testing
