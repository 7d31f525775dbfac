// The engine against OpenAI's reference implementation (../shared/fixtures/clip): activations and
// embeddings from the reference's own pixels and tokens, for every model and weight file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "clip/encoders.h"
#include "clip/checkpoint/model_config.h"
#include "clip/checkpoint/tensor_archive.h"
#include "clip/weights.h"
#include "reference_util.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

struct LoadedModel {
  ClipHParams hparams;
  std::unique_ptr<ClipWeights> weights;
};

LoadedModel load(const std::string& path) {
  LoadedModel m;
  auto files = find_model_files(path);
  EXPECT_TRUE(files.is_ok()) << files.status().to_string();
  auto opened = TensorArchive::open(files->weights);
  EXPECT_TRUE(opened.is_ok()) << opened.status().to_string();
  if (!opened.is_ok()) return m;
  std::shared_ptr<const TensorArchive> archive(std::move(opened).value());
  WeightNaming naming = detect_naming(*archive).value();
  files = find_model_files(path, &naming);
  auto h = infer_hparams(*archive, naming);
  EXPECT_TRUE(h.is_ok()) << h.status().to_string();
  m.hparams = *h;
  if (!files->config.empty()) {
    Status s = apply_config_file(files->config, naming, m.hparams);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
  }
  auto w = load_clip_weights(archive, naming, m.hparams);
  EXPECT_TRUE(w.is_ok()) << w.status().to_string();
  if (w.is_ok()) m.weights = std::move(w).value();
  return m;
}

using testing::reference_floats;
using testing::relative_error;

struct Reference {
  std::unique_ptr<TensorArchive> archive;
  nlohmann::json manifest;
  std::vector<std::string> image_order;
};

Reference reference(const std::string& model_name) {
  Reference r;
  r.archive = std::move(TensorArchive::open(testing::fixtures_dir() + "/" + model_name +
                                            "/reference.safetensors"))
                  .value();
  std::ifstream f(testing::fixtures_dir() + "/manifest.json");
  r.manifest = nlohmann::json::parse(f);
  r.image_order = r.manifest["models"][model_name]["image_order"].get<std::vector<std::string>>();
  return r;
}

// The model input the reference used: (pixels_u8 / 255 - mean) / std, channel-first.
std::vector<float> reference_pixels(const Reference& r, int S) {
  std::vector<float> mean = r.manifest["mean"].get<std::vector<float>>();
  std::vector<float> stdv = r.manifest["std"].get<std::vector<float>>();
  std::vector<float> out;
  for (const std::string& name : r.image_order) {
    const TensorView* v = r.archive->find("pixels_u8." + name);
    EXPECT_NE(v, nullptr);
    const uint8_t* px = reinterpret_cast<const uint8_t*>(v->data.data());
    size_t base = out.size();
    out.resize(base + size_t(3) * S * S);
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < S * S; ++i) {
        out[base + size_t(c) * S * S + i] = (px[i * 3 + c] / 255.0f - mean[c]) / stdv[c];
      }
    }
  }
  return out;
}

struct Case {
  std::string model;
  std::string file;  // weights file inside the model folder
};

class EngineReferenceTest : public ::testing::TestWithParam<Case> {};

TEST_P(EngineReferenceTest, ImageAndTextEmbeddingsMatchTheReference) {
  XRS_REQUIRE_FIXTURES();
  const Case& c = GetParam();
  const std::string path = testing::fixtures_dir() + "/" + c.model + "/" + c.file;
  XRS_REQUIRE_PATH(path);
  LoadedModel m = load(path);
  ASSERT_NE(m.weights, nullptr);
  Reference ref = reference(c.model);
  const ClipHParams& h = m.hparams;
  const int n_images = static_cast<int>(ref.image_order.size());

  std::vector<float> pixels = reference_pixels(ref, h.image_size);
  std::vector<float> out(size_t(n_images) * h.embed_dim);
  std::vector<float> ln_pre, block0;
  encode_images_forward(*m.weights, h, pixels.data(), n_images, out.data(), &ln_pre, &block0);
  std::vector<float> expected = reference_floats(*ref.archive, "image_embeds");
  ASSERT_EQ(expected.size(), out.size());
  for (int i = 0; i < n_images; ++i) {
    EXPECT_LE(relative_error(&out[size_t(i) * h.embed_dim], &expected[size_t(i) * h.embed_dim],
                             h.embed_dim),
              1e-4)
        << ref.image_order[i];
  }
  const size_t act = size_t(h.vision_tokens()) * h.vision.width;
  std::vector<float> ref_ln_pre = reference_floats(*ref.archive, "act.vision.ln_pre");
  std::vector<float> ref_block0 = reference_floats(*ref.archive, "act.vision.block0");
  ASSERT_EQ(ref_ln_pre.size(), ln_pre.size());
  ASSERT_EQ(ref_block0.size(), block0.size());
  for (int i = 0; i < n_images; ++i) {
    EXPECT_LE(relative_error(&ln_pre[i * act], &ref_ln_pre[i * act], act), 1e-4);
    EXPECT_LE(relative_error(&block0[i * act], &ref_block0[i * act], act), 1e-4);
  }

  const TensorView* tok = ref.archive->find("text_tokens");
  ASSERT_NE(tok, nullptr);
  const int n_texts = static_cast<int>(tok->shape[0]);
  const int32_t* tokens = reinterpret_cast<const int32_t*>(tok->data.data());
  std::vector<int> eot(n_texts);
  for (int b = 0; b < n_texts; ++b) {
    const int32_t* seq = tokens + size_t(b) * h.context_length;
    eot[b] = static_cast<int>(std::max_element(seq, seq + h.context_length) - seq);
  }
  std::vector<float> text_out(size_t(n_texts) * h.embed_dim);
  // Batched (cut to the longest sequence) and one by one (cut to each sequence's own length).
  encode_texts_forward(*m.weights, h, tokens, n_texts, eot.data(), text_out.data());
  std::vector<float> ref_text = reference_floats(*ref.archive, "text_embeds");
  for (int b = 0; b < n_texts; ++b) {
    EXPECT_LE(relative_error(&text_out[size_t(b) * h.embed_dim], &ref_text[size_t(b) * h.embed_dim],
                             h.embed_dim),
              1e-4)
        << "text " << b;
    std::vector<float> single(h.embed_dim);
    encode_texts_forward(*m.weights, h, tokens + size_t(b) * h.context_length, 1, &eot[b],
                         single.data());
    EXPECT_LE(relative_error(single.data(), &ref_text[size_t(b) * h.embed_dim], h.embed_dim), 1e-4)
        << "text " << b << " alone";
  }
  std::vector<float> text_block0;
  encode_texts_forward(*m.weights, h, tokens, n_texts, eot.data(), text_out.data(), &text_block0);
  std::vector<float> ref_text_block0 = reference_floats(*ref.archive, "act.text.block0");
  ASSERT_EQ(ref_text_block0.size(), text_block0.size());
  const size_t tact = size_t(h.context_length) * h.text.width;
  for (int b = 0; b < n_texts; ++b) {
    EXPECT_LE(relative_error(&text_block0[b * tact], &ref_text_block0[b * tact], tact), 1e-4);
  }
  float expected_scale = reference_floats(*ref.archive, "logit_scale")[0];
  EXPECT_FLOAT_EQ(m.weights->logit_scale, expected_scale);
}

INSTANTIATE_TEST_SUITE_P(AllModelsAllFormats, EngineReferenceTest,
                         ::testing::Values(Case{"tiny-openai-b32", "open_clip_model.safetensors"},
                                           Case{"tiny-openai-b32", "model.safetensors"},
                                           Case{"tiny-openai-b32", "tiny-openai-b32.pt"},
                                           Case{"tiny-laion-b16", "open_clip_model.safetensors"}),
                         [](const auto& param_info) {
                           std::string s = param_info.param.model + "_" + param_info.param.file;
                           for (char& ch : s) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace xrs
