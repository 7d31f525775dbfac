#include "clip/checkpoint/tensor_names.h"

#include <gtest/gtest.h>

#include <set>

#include "clip/checkpoint/hparams.h"
#include "clip/checkpoint/model_config.h"
#include "clip/checkpoint/tensor_archive.h"
#include "support/test_paths.h"

namespace xrs {
namespace {

ClipHParams vit_b32() {
  ClipHParams h;
  h.embed_dim = 512;
  h.image_size = 224;
  h.patch_size = 32;
  h.vision = {768, 12, 12, 3072};
  h.context_length = 77;
  h.vocab_size = 49408;
  h.text = {512, 12, 8, 2048};
  return h;
}

TEST(TensorNamesTest, SpellsBothConventions) {
  EXPECT_EQ(tensor_name(WeightNaming::kOpenAI, ModelTensor::kPatchEmbedding),
            "visual.conv1.weight");
  EXPECT_EQ(tensor_name(WeightNaming::kHuggingFace, ModelTensor::kLnPreWeight),
            "vision_model.pre_layrnorm.weight");
  EXPECT_EQ(block_tensor_name(WeightNaming::kOpenAI, Tower::kText, 3, BlockTensor::kLn1Weight),
            "transformer.resblocks.3.ln_1.weight");
  EXPECT_EQ(
      block_tensor_name(WeightNaming::kOpenAI, Tower::kVision, 11, BlockTensor::kAttnInWeight),
      "visual.transformer.resblocks.11.attn.in_proj_weight");
  EXPECT_EQ(
      block_tensor_name(WeightNaming::kHuggingFace, Tower::kVision, 0, BlockTensor::kAttnQWeight),
      "vision_model.encoder.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(
      block_tensor_name(WeightNaming::kHuggingFace, Tower::kText, 1, BlockTensor::kMlpProjBias),
      "text_model.encoder.layers.1.mlp.fc2.bias");
  // Fused vs separate attention projections exist in one convention only.
  EXPECT_EQ(
      block_tensor_name(WeightNaming::kHuggingFace, Tower::kText, 0, BlockTensor::kAttnInBias), "");
  EXPECT_EQ(block_tensor_name(WeightNaming::kOpenAI, Tower::kText, 0, BlockTensor::kAttnVBias), "");
  EXPECT_TRUE(is_stored_transposed(WeightNaming::kOpenAI, ModelTensor::kVisionProjection));
  EXPECT_FALSE(is_stored_transposed(WeightNaming::kHuggingFace, ModelTensor::kTextProjection));
  EXPECT_FALSE(is_stored_transposed(WeightNaming::kOpenAI, ModelTensor::kTokenEmbedding));
}

TEST(TensorNamesTest, ExpectedTensorsOfViTB32) {
  // OpenAI's ViT-B-32 state dict (without its three deleted int buffers) holds 302 tensors:
  // 14 outside the blocks + 24 blocks x 12; Hugging Face's CLIPModel 14 + 24 x 16 = 398.
  const auto openai = expected_tensors(WeightNaming::kOpenAI, vit_b32());
  const auto hf = expected_tensors(WeightNaming::kHuggingFace, vit_b32());
  EXPECT_EQ(openai.size(), 302u);
  EXPECT_EQ(hf.size(), 398u);
  int64_t params = 0;
  std::set<std::string> names;
  for (const auto& t : openai) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    params += n;
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
  }
  // ViT-B/32: 151,277,313 parameters (OpenAI's model card: 151M; the exact count of
  // clip.load("ViT-B/32") parameters, logit_scale included).
  EXPECT_EQ(params, 151277313);
  EXPECT_EQ(openai.front().name, "visual.conv1.weight");
  EXPECT_EQ(openai.front().shape, (std::vector<int64_t>{768, 3, 32, 32}));
}

// Every name the table lists is in the fixture checkpoints (written by OpenAI's code and by
// transformers), with the shape the table gives.
TEST(TensorNamesTest, MatchesFixtureCheckpoints) {
  XRS_REQUIRE_FIXTURES();
  const std::string dir = testing::fixtures_dir() + "/tiny-openai-b32/";
  for (const auto& [file, naming] :
       {std::pair{"open_clip_model.safetensors", WeightNaming::kOpenAI},
        std::pair{"model.safetensors", WeightNaming::kHuggingFace},
        std::pair{"tiny-openai-b32.pt", WeightNaming::kOpenAI}}) {
    SCOPED_TRACE(file);
    auto archive = TensorArchive::open(dir + file);
    ASSERT_TRUE(archive.is_ok()) << archive.status().to_string();
    auto detected = detect_naming(**archive);
    ASSERT_TRUE(detected.is_ok());
    EXPECT_EQ(*detected, naming);
    auto h = infer_hparams(**archive, naming);
    ASSERT_TRUE(h.is_ok()) << h.status().to_string();
    const auto expected = expected_tensors(naming, *h);
    for (const auto& t : expected) {
      const TensorView* v = (*archive)->find(t.name);
      ASSERT_NE(v, nullptr) << t.name;
      EXPECT_EQ(v->shape, t.shape) << t.name;
    }
    // Nothing learned is left out of the table: the files' other tensors are buffers.
    size_t floats = 0;
    for (const auto& [name, view] : (*archive)->tensors()) {
      if (name.find("attn_mask") != std::string::npos ||
          name.find("position_ids") != std::string::npos || name == "input_resolution" ||
          name == "context_length" || name == "vocab_size") {
        continue;
      }
      ++floats;
    }
    EXPECT_EQ(floats, expected.size());
  }
}

}  // namespace
}  // namespace xrs
