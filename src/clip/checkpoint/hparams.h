// CLIP ViT architecture: every number the engine needs, read from the model's config file
// (OpenCLIP open_clip_config.json or Hugging Face config.json) or inferred from tensor shapes
// the way OpenAI's clip/model.py build_model() does.
#pragma once

#include <array>
#include <string>

#include "core/status.h"

namespace xrs {

class TensorArchive;

enum class Activation {
  kQuickGelu,  // x * sigmoid(1.702 x): OpenAI's checkpoints
  kGelu,       // exact (erf) GELU: OpenCLIP's LAION models, Hugging Face "gelu"
};

std::string_view activation_name(Activation act);  // "quick_gelu", "gelu"

// One transformer tower.
struct TowerHParams {
  int width = 0;      // d_model
  int layers = 0;     // residual blocks
  int heads = 0;      // attention heads; head width = width / heads
  int mlp_width = 0;  // hidden size of the MLP (4 * width in CLIP)
};

struct ClipHParams {
  int embed_dim = 0;  // joint embedding size (512 for ViT-B/32)

  int image_size = 0;  // S: input images are S x S
  int patch_size = 0;  // P: S / P patches per side
  TowerHParams vision;

  int context_length = 0;  // 77
  int vocab_size = 0;      // 49408
  TowerHParams text;

  Activation activation = Activation::kQuickGelu;
  float layer_norm_eps = 1e-5f;

  // Preprocessing (ToTensor + Normalize), OpenAI's values unless the config says otherwise.
  std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};

  int grid() const { return image_size / patch_size; }
  int vision_tokens() const { return grid() * grid() + 1; }  // patches + class token
  int patch_dim() const { return 3 * patch_size * patch_size; }

  // Checks internal consistency (positive sizes, heads dividing widths, S divisible by P).
  Status validate() const;
  // "ViT S/P vision WxL text WxL embed E act" for `model info` and logs.
  std::string describe() const;
};

}  // namespace xrs
