// xray-search preprocess --size N IMAGE --out OUT.png
// Writes the image as CLIP sees it: resized, centre-cropped, RGB (before normalisation).
#include <memory>

#include "common.h"
#include "core/file_util.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"
#include "imaging/encode.h"

namespace xrs::app {

namespace {

struct PreprocessOptions {
  int size = 224;
  std::string image;
  std::string out;
};

int run_preprocess(const PreprocessOptions& o) {
  StatusOr<Image> image = decode_image_file(o.image);
  if (!image.is_ok()) return report_error(image.status());
  StatusOr<Image> rgb = clip_resize_crop(*image, o.size);
  if (!rgb.is_ok()) return report_error(rgb.status().with_context(o.image));
  StatusOr<std::string> png = encode_png(*rgb);
  if (!png.is_ok()) return report_error(png.status());
  Status s = write_file_atomic(o.out, *png);
  if (!s.is_ok()) return report_error(s);
  return kExitOk;
}

}  // namespace

void setup_preprocess(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<PreprocessOptions>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess", "Write an image resized and centre-cropped exactly as CLIP sees it (PNG)");
  cmd->add_option("--size", o->size, "output side in pixels (the model's image size)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("image", o->image, "input image (PNG, JPEG, DICOM)")->required();
  cmd->add_option("--out,-o", o->out, "output PNG file")->required();
  cmd->callback([o, &exit_code] { exit_code = run_preprocess(*o); });
}

}  // namespace xrs::app
