// xray-search embed --model M [--image FILE]... [--text Q]...
// One JSON line per input, images first then texts, each with its L2-normalised embedding. An
// image that cannot be decoded (or crashes the decoder, imaging/decoder_pool.h) gets an error
// line on stderr instead; the others are still embedded and the exit status is 1.
#include <memory>
#include <vector>

#include "clip/clip_model.h"
#include "clip/ops.h"
#include "common.h"
#include "imaging/clip_preprocess.h"
#include "imaging/decode.h"

namespace xrs::app {

namespace {

struct EmbedOptions {
  std::string model;
  std::string precision;
  std::vector<std::string> images;
  std::vector<std::string> texts;
};

nlohmann::json embedding_line(const char* kind, const std::string& input, const float* e, int dim) {
  return {{"kind", kind}, {"input", input}, {"embedding", std::vector<float>(e, e + dim)}};
}

int run_embed(const EmbedOptions& o) {
  if (o.images.empty() && o.texts.empty()) {
    return report_error(Status::invalid_argument("embed: give at least one --image or --text"),
                        true);
  }
  StatusOr<std::optional<kernels::Precision>> precision = parse_precision_option(o.precision);
  if (!precision.is_ok()) return report_error(precision.status(), true);
  ClipLoadOptions load;
  load.precision = precision->value_or(kernels::Precision::kFp32);
  StatusOr<std::unique_ptr<ClipModel>> model = ClipModel::load(o.model, load);
  if (!model.is_ok()) return report_error(model.status());
  const ClipModel& m = **model;
  const ClipHParams& h = m.hparams();
  const size_t per_image = size_t(3) * h.image_size * h.image_size;

  std::vector<float> pixels(per_image * o.images.size());
  std::vector<std::string> embedded;  // the images that decoded, in order
  int failed = 0;
  for (const std::string& path : o.images) {
    StatusOr<Image> image = decode_image_file(path);
    Status s = image.is_ok() ? clip_preprocess(*image, m.preprocess_config(),
                                               {&pixels[per_image * embedded.size()], per_image})
                                   .with_context(path)
                             : image.status();
    if (!s.is_ok()) {
      report_error(s);
      ++failed;
      continue;
    }
    embedded.push_back(path);
  }
  const int n_images = static_cast<int>(embedded.size());
  pixels.resize(per_image * embedded.size());
  std::vector<float> image_out(embedded.size() * h.embed_dim);
  Status s = n_images > 0 ? m.encode_images(pixels, n_images, image_out) : Status::ok();
  if (!s.is_ok()) return report_error(s);

  std::vector<int32_t> tokens;
  for (const std::string& text : o.texts) {
    if (m.tokenizer() == nullptr) {
      return report_error(Status::failed_precondition("no tokenizer beside the model (" +
                                                      m.info().tokenizer + ")"));
    }
    StatusOr<std::vector<int32_t>> t = m.tokenizer()->tokenize(text, true, h.context_length);
    if (!t.is_ok()) return report_error(t.status());
    tokens.insert(tokens.end(), t->begin(), t->end());
  }
  std::vector<float> text_out(o.texts.size() * h.embed_dim);
  s = m.encode_texts(tokens, static_cast<int>(o.texts.size()), text_out);
  if (!s.is_ok()) return report_error(s);

  l2_normalize_rows(image_out.data(), n_images, h.embed_dim);
  l2_normalize_rows(text_out.data(), static_cast<int>(o.texts.size()), h.embed_dim);
  for (size_t i = 0; i < embedded.size(); ++i) {
    print_json(embedding_line("image", embedded[i], &image_out[i * h.embed_dim], h.embed_dim));
  }
  for (size_t i = 0; i < o.texts.size(); ++i) {
    print_json(embedding_line("text", o.texts[i], &text_out[i * h.embed_dim], h.embed_dim));
  }
  return failed > 0 ? kExitFailure : kExitOk;
}

}  // namespace

void setup_embed(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<EmbedOptions>();
  o->model = default_model_path();
  CLI::App* cmd = app.add_subcommand(
      "embed", "Print L2-normalised CLIP embeddings of images and texts as JSON lines");
  cmd->add_option("--model,-m", o->model, "model folder or weights file ($XRAY_MODEL)")
      ->capture_default_str();
  add_precision_option(*cmd, o->precision, "default fp32");
  cmd->add_option("--image,-i", o->images, "an image file (PNG, JPEG, DICOM); repeatable");
  cmd->add_option("--text,-t", o->texts, "a text; repeatable");
  cmd->callback([o, &exit_code] { exit_code = run_embed(*o); });
}

}  // namespace xrs::app
