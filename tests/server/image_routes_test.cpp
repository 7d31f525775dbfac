// GET /api/images/<id> and /api/images/<id>/preview through ApiRouter: only indexed files, the
// right content types, path tricks refused, thumbnails decoded back with the real decoder.
#include <fstream>

#include "imaging/decode.h"
#include "router_fixture.h"

namespace xrs::testing {
namespace {

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Image decode_body(const HttpResponse& r) {
  auto image =
      decode_image(std::span(reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()));
  EXPECT_TRUE(image.is_ok()) << image.status().to_string();
  return image.is_ok() ? *image : Image{};
}

TEST_F(RouterTest, OriginalsOnlyWithServeOriginals) {
  make_router(with<RouterOptions>([](auto& o) { o.serve_originals = true; }));
  EXPECT_EQ(body_json(handle(get_request("/api/health")))["originals"], true);
  struct Case {
    int id;
    std::string name;
    std::string type;
  };
  for (const Case& c :
       {Case{0, "chest-a.png", "image/png"}, Case{1, "chest-b.jpg", "image/jpeg"},
        Case{3, "hand-a.dcm", "application/dicom"}, Case{4, "misnamed.png", "image/jpeg"}}) {
    HttpResponse r = handle(get_request("/api/images/" + std::to_string(c.id)));
    ASSERT_EQ(r.status, 200) << c.name << r.body;
    EXPECT_EQ(r.content_type, c.type) << c.name;
    EXPECT_EQ(r.body, file_bytes(dir_ + "/" + c.name)) << c.name;
    EXPECT_EQ(r.header("Content-Disposition"), "inline; filename=\"" + c.name + "\"");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  }
}

// By default the image route sends the decoded pixels as a PNG, never the stored file: exactly
// what decode_image (the indexer's decoder) makes of it.
TEST_F(RouterTest, ImagesAreSentAsPngRenderingsByDefault) {
  EXPECT_EQ(body_json(handle(get_request("/api/health")))["originals"], false);
  for (const auto& [id, name] : std::vector<std::pair<int, std::string>>{
           {0, "chest-a.png"}, {1, "chest-b.jpg"}, {2, "dental-a.png"}, {4, "misnamed.png"}}) {
    HttpResponse r = handle(get_request("/api/images/" + std::to_string(id)));
    ASSERT_EQ(r.status, 200) << name << r.body;
    EXPECT_EQ(r.content_type, "image/png") << name;
    EXPECT_TRUE(r.body.starts_with("\x89PNG\r\n\x1a\n")) << name;
    const std::string stem = name.substr(0, name.rfind('.'));
    EXPECT_EQ(r.header("Content-Disposition"), "inline; filename=\"" + stem + ".png\"");
    const std::string file = file_bytes(dir_ + "/" + name);
    auto expected =
        decode_image(std::span(reinterpret_cast<const uint8_t*>(file.data()), file.size()));
    ASSERT_TRUE(expected.is_ok());
    const Image got = decode_body(r);
    EXPECT_EQ(got.width, expected->width) << name;
    EXPECT_EQ(got.height, expected->height) << name;
    EXPECT_EQ(got.format, expected->format) << name;
    EXPECT_TRUE(got.pixels == expected->pixels) << name;
    if (name.ends_with(".jpg")) {
      EXPECT_NE(r.body, file) << "never the stored file";
    }
  }
  // A DICOM file that does not decode is an error: its bytes are never sent instead.
  HttpResponse stub = handle(get_request("/api/images/3"));
  EXPECT_EQ(stub.status, 500) << stub.body;
  EXPECT_EQ(stub.content_type, "application/json");
  EXPECT_EQ(stub.body.find("DICM"), std::string::npos);
}

TEST_F(RouterTest, ImageIdsMustBeDecimalAndIndexed) {
  const std::vector<std::pair<std::string, int>> cases = {
      {"/api/images/..", 400},
      {"/api/images/-1", 400},
      {"/api/images/1abc", 400},
      {"/api/images/+1", 400},
      {"/api/images/%31", 400},  // the router sees decoded paths; a literal '%' is no digit
      {"/api/images/0x1", 400},
      {"/api/images/ 1", 400},
      {"/api/images/1.0", 400},
      {"/api/images/99999999999999999999", 404},
      {"/api/images/9223372036854775808", 404},
      {"/api/images/6", 404},
      {"/api/images/123456", 404},
      {"/api/images/../../etc/passwd", 404},
      {"/api/images/0/../../../etc/passwd", 404},
      {"/api/images//etc/passwd", 404},
      {"/api/images/..%2F..%2Fetc%2Fpasswd", 400},
  };
  for (const auto& [path, status] : cases) {
    HttpResponse r = handle(get_request(path));
    EXPECT_EQ(r.status, status) << path << " " << r.body;
    EXPECT_EQ(r.content_type, "application/json") << path;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
  EXPECT_EQ(handle(get_request("/api/images/00")).status, 200) << "leading zeros are still 0";
}

TEST_F(RouterTest, MissingFileIs404WithoutServerPaths) {
  HttpResponse r = handle(get_request("/api/images/5"));
  expect_error(r, 404, "not_found", "missing on the server");
  EXPECT_EQ(r.body.find(dir_), std::string::npos) << "the server's folder must not leak";
  HttpResponse p = handle(get_request("/api/images/5/preview"));
  expect_error(p, 404, "not_found", "missing on the server");
}

TEST_F(RouterTest, PreviewIsABoundedJpeg) {
  HttpResponse r = handle(get_request("/api/images/2/preview"));  // 300 x 200
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "image/jpeg");
  Image image = decode_body(r);
  EXPECT_EQ(image.width, 300) << "never enlarged";
  EXPECT_EQ(image.height, 200);

  r = handle(get_request("/api/images/2/preview?size=64"));
  ASSERT_EQ(r.status, 200) << r.body;
  image = decode_body(r);
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 43);  // 200 * 64 / 300 = 42.67, rounded

  r = handle(get_request("/api/images/1/preview?size=16"));  // 80 x 60 RGB
  image = decode_body(r);
  EXPECT_EQ(image.width, 16);
  EXPECT_EQ(image.height, 12);
  // Cached: the same bytes again.
  EXPECT_EQ(handle(get_request("/api/images/1/preview?size=16")).body, r.body);
}

TEST_F(RouterTest, PreviewValidatesSize) {
  for (const char* size : {"abc", "0", "15", "1025", "-1", "64px", "", "1e3"}) {
    expect_error(handle(get_request(std::string("/api/images/2/preview?size=") + size)), 400,
                 "invalid_argument", "size must be an integer between 16 and 1024");
  }
  EXPECT_EQ(handle(get_request("/api/images/2/preview?size=1024")).status, 200);
  expect_error(handle(get_request("/api/images/x/preview")), 400, "invalid_argument");
  expect_error(handle(get_request("/api/images/77/preview")), 404, "not_found");
}

TEST_F(RouterTest, PreviewOfAnUndecodableIndexedFileIs500) {
  HttpResponse r = handle(get_request("/api/images/3/preview"));  // DICOM signature, no data set
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(body_json(r)["error"]["message"].get<std::string>().find("cannot render a preview"),
            std::string::npos);
}

TEST_F(RouterTest, PreviewRendersRealDicomAnd16BitSpecimens) {
  const std::string special = shared_dir() + "/datasets/xray-special";
  XRS_REQUIRE_PATH(special + "/cr-hip-mono2-jpeg-lossless.dcm");
  std::vector<IndexedImage> images;
  for (const char* name : {"cr-hip-mono2-jpeg-lossless.dcm", "cr-tibia-mono1-rle-lossless.dcm",
                           "chest-16bit-15bitrange.png"}) {
    IndexedImage image;
    image.id = static_cast<int64_t>(images.size());
    image.image_name = name;
    image.category = "special";
    image.absolute_path = special + "/" + name;
    images.push_back(image);
  }
  FakeBackend backend(images);
  ApiRouter router(backend, {});
  RouterOptions originals_options;
  originals_options.serve_originals = true;
  ApiRouter originals(backend, originals_options);
  for (size_t id = 0; id < images.size(); ++id) {
    HttpResponse raw = originals.handle(get_request("/api/images/" + std::to_string(id)));
    ASSERT_EQ(raw.status, 200);
    EXPECT_EQ(raw.content_type, id < 2 ? "application/dicom" : "image/png");
    // By default: the rendering the indexer sees (DICOM windowed to 8 bits), as a PNG.
    HttpResponse png = router.handle(get_request("/api/images/" + std::to_string(id)));
    ASSERT_EQ(png.status, 200) << png.body;
    EXPECT_EQ(png.content_type, "image/png");
    EXPECT_EQ(png.body.find("DICM"), std::string::npos);
    auto expected =
        decode_image(std::span(reinterpret_cast<const uint8_t*>(raw.body.data()), raw.body.size()));
    ASSERT_TRUE(expected.is_ok());
    EXPECT_TRUE(decode_body(png).pixels == expected->pixels) << images[id].image_name;
    HttpResponse r =
        router.handle(get_request("/api/images/" + std::to_string(id) + "/preview?size=128"));
    ASSERT_EQ(r.status, 200) << images[id].image_name << " " << r.body;
    EXPECT_EQ(r.content_type, "image/jpeg");
    Image image = decode_body(r);
    EXPECT_EQ(std::max(image.width, image.height), 128) << images[id].image_name;
  }
}

}  // namespace
}  // namespace xrs::testing
