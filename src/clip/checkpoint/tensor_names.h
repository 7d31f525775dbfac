// The one table of checkpoint names: every CLIP tensor name the engine reads or the trainer writes,
// in both naming conventions, and the file names of a model folder and of a TorchScript archive.
//
// Nothing else in the code base spells a tensor name. A tensor is named by an id (ModelTensor for
// the tensors outside the transformer blocks, BlockTensor for those inside one block) and, for
// block tensors, the tower and the block index:
//
//   tensor_name(kOpenAI, ModelTensor::kPatchEmbedding)             "visual.conv1.weight"
//   block_tensor_name(kOpenAI, Tower::kText, 3, BlockTensor::kLn1Weight)
//                                                     "transformer.resblocks.3.ln_1.weight"
//   block_tensor_name(kHuggingFace, Tower::kVision, 0, BlockTensor::kAttnQWeight)
//                                    "vision_model.encoder.layers.0.self_attn.q_proj.weight"
//
// Some ids exist in one convention only: OpenAI fuses the attention input projection into one
// [3W, W] matrix (kAttnInWeight / kAttnInBias) where Hugging Face has separate q, k and v
// (kAttnQWeight ... kAttnVBias); those return "" in the other convention. OpenAI stores the two
// output projections as [in, out] (x @ proj), Hugging Face as nn.Linear [out, in]
// (is_stored_transposed). docs/MODEL_FORMATS.md lists the table for people.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace xrs {

class TensorArchive;
struct ClipHParams;

// Tensor naming conventions of the supported checkpoints.
enum class WeightNaming {
  kOpenAI,       // OpenAI .pt and OpenCLIP safetensors: "visual.conv1.weight", ...
  kHuggingFace,  // transformers CLIPModel: "vision_model.embeddings.patch_embedding.weight", ...
};

std::string_view weight_naming_name(WeightNaming naming);  // "openai", "huggingface"

// Which naming an archive uses, from the tensors it holds (kNotFound, naming the file and the two
// tensors looked for, if neither).
StatusOr<WeightNaming> detect_naming(const TensorArchive& archive);

enum class Tower { kVision, kText };

// Tensors outside the transformer blocks.
enum class ModelTensor {
  kPatchEmbedding,             // [W, 3, P, P] (the patch convolution, no bias)
  kClassEmbedding,             // [W]
  kVisionPositionalEmbedding,  // [grid^2 + 1, W]
  kLnPreWeight,                // [W]
  kLnPreBias,                  // [W]
  kLnPostWeight,               // [W]
  kLnPostBias,                 // [W]
  kVisionProjection,           // OpenAI [W, E]; Hugging Face [E, W]
  kTokenEmbedding,             // [vocab, W]
  kTextPositionalEmbedding,    // [context, W]
  kLnFinalWeight,              // [W]
  kLnFinalBias,                // [W]
  kTextProjection,             // OpenAI [W, E]; Hugging Face [E, W]
  kLogitScale,                 // [] (log of the learned temperature)
};
inline constexpr int kModelTensorCount = 14;

// Tensors of one pre-LayerNorm residual attention block, W = width, M = MLP width.
enum class BlockTensor {
  kLn1Weight,      // [W]
  kLn1Bias,        // [W]
  kAttnInWeight,   // [3W, W] q; k; v (OpenAI only)
  kAttnInBias,     // [3W]               (OpenAI only)
  kAttnQWeight,    // [W, W]  (Hugging Face only, likewise the next five)
  kAttnKWeight,    // [W, W]
  kAttnVWeight,    // [W, W]
  kAttnQBias,      // [W]
  kAttnKBias,      // [W]
  kAttnVBias,      // [W]
  kAttnOutWeight,  // [W, W]
  kAttnOutBias,    // [W]
  kLn2Weight,      // [W]
  kLn2Bias,        // [W]
  kMlpFcWeight,    // [M, W]
  kMlpFcBias,      // [M]
  kMlpProjWeight,  // [W, M]
  kMlpProjBias,    // [W]
};
inline constexpr int kBlockTensorCount = 18;

// The full name of a tensor outside the blocks.
std::string tensor_name(WeightNaming naming, ModelTensor id);

// "<tower block prefix><layer>." e.g. "visual.transformer.resblocks.3.",
// "text_model.encoder.layers.0.".
std::string block_prefix(WeightNaming naming, Tower tower, int layer);
// The prefix without the layer index: "visual.transformer.resblocks." (for counting layers).
std::string_view blocks_prefix(WeightNaming naming, Tower tower);
// A block tensor's name relative to its block prefix ("ln_1.weight"); "" when the naming has no
// such tensor.
std::string_view block_tensor_suffix(WeightNaming naming, BlockTensor id);
// block_prefix + block_tensor_suffix; "" when the naming has no such tensor.
std::string block_tensor_name(WeightNaming naming, Tower tower, int layer, BlockTensor id);

// True for the projections OpenAI stores as [in, out] (visual.proj, text_projection).
bool is_stored_transposed(WeightNaming naming, ModelTensor id);

// Every tensor a checkpoint of this architecture holds in this naming, with its shape as stored,
// in a fixed order (model tensors, then vision blocks, then text blocks). What the engine requires
// and what the trainer writes.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<ExpectedTensor> expected_tensors(WeightNaming naming, const ClipHParams& hparams);

// ---- file names -------------------------------------------------------------------------------

// A model folder (docs/MODEL_FORMATS.md "Finding the files").
inline constexpr const char* kOpenClipWeightsFile = "open_clip_model.safetensors";
inline constexpr const char* kOpenClipConfigFile = "open_clip_config.json";
inline constexpr const char* kHfWeightsFile = "model.safetensors";
inline constexpr const char* kHfConfigFile = "config.json";
inline constexpr const char* kHfPreprocessorFile = "preprocessor_config.json";
inline constexpr const char* kTorchScriptExtension = ".pt";

// Entries of a TorchScript / torch.save zip, under its single "<prefix>/" folder.
inline constexpr std::string_view kTorchPickleEntry = "data.pkl";
inline constexpr std::string_view kTorchStorageFolder = "data/";
inline constexpr std::string_view kTorchByteOrderEntry = "byteorder";

}  // namespace xrs
