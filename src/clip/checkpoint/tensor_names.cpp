#include "clip/checkpoint/tensor_names.h"

#include "clip/checkpoint/hparams.h"
#include "clip/checkpoint/tensor_archive.h"

namespace xrs {

namespace {

// The table. Each row: OpenAI / OpenCLIP name, Hugging Face name ("" = not in that convention).
struct Names {
  const char* openai;
  const char* hf;
};

constexpr Names kModelTensors[kModelTensorCount] = {
    {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"},
    {"visual.class_embedding", "vision_model.embeddings.class_embedding"},
    {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"},
    {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight"},  // sic: transformers' spelling
    {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"},
    {"visual.ln_post.weight", "vision_model.post_layernorm.weight"},
    {"visual.ln_post.bias", "vision_model.post_layernorm.bias"},
    {"visual.proj", "visual_projection.weight"},
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
    {"ln_final.weight", "text_model.final_layer_norm.weight"},
    {"ln_final.bias", "text_model.final_layer_norm.bias"},
    {"text_projection", "text_projection.weight"},
    {"logit_scale", "logit_scale"},
};

constexpr Names kBlockTensors[kBlockTensorCount] = {
    {"ln_1.weight", "layer_norm1.weight"},
    {"ln_1.bias", "layer_norm1.bias"},
    {"attn.in_proj_weight", ""},
    {"attn.in_proj_bias", ""},
    {"", "self_attn.q_proj.weight"},
    {"", "self_attn.k_proj.weight"},
    {"", "self_attn.v_proj.weight"},
    {"", "self_attn.q_proj.bias"},
    {"", "self_attn.k_proj.bias"},
    {"", "self_attn.v_proj.bias"},
    {"attn.out_proj.weight", "self_attn.out_proj.weight"},
    {"attn.out_proj.bias", "self_attn.out_proj.bias"},
    {"ln_2.weight", "layer_norm2.weight"},
    {"ln_2.bias", "layer_norm2.bias"},
    {"mlp.c_fc.weight", "mlp.fc1.weight"},
    {"mlp.c_fc.bias", "mlp.fc1.bias"},
    {"mlp.c_proj.weight", "mlp.fc2.weight"},
    {"mlp.c_proj.bias", "mlp.fc2.bias"},
};

// Block prefixes by [naming][tower].
constexpr const char* kBlockPrefixes[2][2] = {
    {"visual.transformer.resblocks.", "transformer.resblocks."},
    {"vision_model.encoder.layers.", "text_model.encoder.layers."},
};

const char* pick(const Names& n, WeightNaming naming) {
  return naming == WeightNaming::kOpenAI ? n.openai : n.hf;
}

}  // namespace

std::string_view weight_naming_name(WeightNaming naming) {
  return naming == WeightNaming::kOpenAI ? "openai" : "huggingface";
}

StatusOr<WeightNaming> detect_naming(const TensorArchive& archive) {
  const std::string openai = tensor_name(WeightNaming::kOpenAI, ModelTensor::kPatchEmbedding);
  const std::string hf = tensor_name(WeightNaming::kHuggingFace, ModelTensor::kPatchEmbedding);
  if (archive.find(openai) != nullptr) return WeightNaming::kOpenAI;
  if (archive.find(hf) != nullptr) return WeightNaming::kHuggingFace;
  return Status::not_found(archive.path() + ": not a CLIP checkpoint (neither '" + openai +
                           "' nor '" + hf + "' is present)");
}

std::string tensor_name(WeightNaming naming, ModelTensor id) {
  return pick(kModelTensors[static_cast<int>(id)], naming);
}

std::string_view blocks_prefix(WeightNaming naming, Tower tower) {
  return kBlockPrefixes[naming == WeightNaming::kOpenAI ? 0 : 1][tower == Tower::kVision ? 0 : 1];
}

std::string block_prefix(WeightNaming naming, Tower tower, int layer) {
  return std::string(blocks_prefix(naming, tower)) + std::to_string(layer) + ".";
}

std::string_view block_tensor_suffix(WeightNaming naming, BlockTensor id) {
  return pick(kBlockTensors[static_cast<int>(id)], naming);
}

std::string block_tensor_name(WeightNaming naming, Tower tower, int layer, BlockTensor id) {
  std::string_view suffix = block_tensor_suffix(naming, id);
  if (suffix.empty()) return {};
  return block_prefix(naming, tower, layer) + std::string(suffix);
}

bool is_stored_transposed(WeightNaming naming, ModelTensor id) {
  return naming == WeightNaming::kOpenAI &&
         (id == ModelTensor::kVisionProjection || id == ModelTensor::kTextProjection);
}

std::vector<ExpectedTensor> expected_tensors(WeightNaming naming, const ClipHParams& h) {
  const int64_t VW = h.vision.width, TW = h.text.width, E = h.embed_dim, P = h.patch_size;
  const bool openai = naming == WeightNaming::kOpenAI;
  std::vector<ExpectedTensor> out;
  auto model = [&](ModelTensor id, std::vector<int64_t> shape) {
    out.push_back({tensor_name(naming, id), std::move(shape)});
  };
  using M = ModelTensor;
  model(M::kPatchEmbedding, {VW, 3, P, P});
  model(M::kClassEmbedding, {VW});
  model(M::kVisionPositionalEmbedding, {h.vision_tokens(), VW});
  model(M::kLnPreWeight, {VW});
  model(M::kLnPreBias, {VW});
  model(M::kLnPostWeight, {VW});
  model(M::kLnPostBias, {VW});
  model(M::kVisionProjection, openai ? std::vector<int64_t>{VW, E} : std::vector<int64_t>{E, VW});
  model(M::kTokenEmbedding, {h.vocab_size, TW});
  model(M::kTextPositionalEmbedding, {h.context_length, TW});
  model(M::kLnFinalWeight, {TW});
  model(M::kLnFinalBias, {TW});
  model(M::kTextProjection, openai ? std::vector<int64_t>{TW, E} : std::vector<int64_t>{E, TW});
  model(M::kLogitScale, {});
  for (Tower tower : {Tower::kVision, Tower::kText}) {
    const TowerHParams& t = tower == Tower::kVision ? h.vision : h.text;
    const int64_t W = t.width, Mw = t.mlp_width;
    const std::vector<std::pair<BlockTensor, std::vector<int64_t>>> shapes = {
        {BlockTensor::kLn1Weight, {W}},           {BlockTensor::kLn1Bias, {W}},
        {BlockTensor::kAttnInWeight, {3 * W, W}}, {BlockTensor::kAttnInBias, {3 * W}},
        {BlockTensor::kAttnQWeight, {W, W}},      {BlockTensor::kAttnKWeight, {W, W}},
        {BlockTensor::kAttnVWeight, {W, W}},      {BlockTensor::kAttnQBias, {W}},
        {BlockTensor::kAttnKBias, {W}},           {BlockTensor::kAttnVBias, {W}},
        {BlockTensor::kAttnOutWeight, {W, W}},    {BlockTensor::kAttnOutBias, {W}},
        {BlockTensor::kLn2Weight, {W}},           {BlockTensor::kLn2Bias, {W}},
        {BlockTensor::kMlpFcWeight, {Mw, W}},     {BlockTensor::kMlpFcBias, {Mw}},
        {BlockTensor::kMlpProjWeight, {W, Mw}},   {BlockTensor::kMlpProjBias, {W}},
    };
    for (int layer = 0; layer < t.layers; ++layer) {
      for (const auto& [id, shape] : shapes) {
        std::string name = block_tensor_name(naming, tower, layer, id);
        if (!name.empty()) out.push_back({std::move(name), shape});
      }
    }
  }
  return out;
}

}  // namespace xrs
