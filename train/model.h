// The CLIP ViT of the engine (src/clip) as a LibTorch module, for training. Its parameters are
// kept under the engine's own names (clip/checkpoint/tensor_names.h, OpenAI naming), so export is
// a copy: the engine loads what this writes and computes the same forward pass.
//
// Only train/ includes LibTorch (docs/ARCHITECTURE.md).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "clip/checkpoint/hparams.h"
#include "core/status.h"

namespace xrs::train {

// A named architecture for --arch: "tiny" (tests: 32 px, width 64, 2 layers), "small" (64 px,
// width 128, 4 layers: minutes on 2 cores), "ViT-B-32" (OpenAI's shape: 224 px, 768x12 vision,
// 512x12 text, embed 512). The vocabulary size is the trainer's (set by the caller).
StatusOr<ClipHParams> arch_hparams(const std::string& arch);
std::vector<std::string> arch_names();

// Which parameters train: --trainable projections | last-N-blocks | all.
struct Trainable {
  enum class Kind { kProjections, kLastBlocks, kAll } kind = Kind::kAll;
  int blocks = 0;  // N for kLastBlocks
};
// Parses a --trainable value and checks it against the architecture (N between 1 and the
// towers' layer count). kInvalidArgument naming the value otherwise.
StatusOr<Trainable> parse_trainable(const std::string& value, const ClipHParams& hparams);

class ClipNetImpl : public torch::nn::Module {
 public:
  // Parameters initialised as OpenCLIP does (normal with the same standard deviations), from
  // torch's global generator (seed it first).
  explicit ClipNetImpl(const ClipHParams& hparams);

  const ClipHParams& hparams() const { return h_; }
  // Every tensor by its checkpoint name ("visual.conv1.weight", ...), the engine's set.
  const std::map<std::string, torch::Tensor>& tensors() const { return params_; }
  torch::Tensor& tensor(const std::string& name);

  // pixels [B, 3, S, S] float → [B, E] (unnormalised, as the engine's encode_images).
  torch::Tensor encode_image(const torch::Tensor& pixels);
  // tokens [B, C] int64 (end token = largest id) → [B, E] (unnormalised).
  torch::Tensor encode_text(const torch::Tensor& tokens);
  // The towers without their projections: the image tower's ln_post output [B, vision width] and
  // the text tower's pooled ln_final output [B, text width]. encode_image(x) ==
  // project_image(image_features(x)), likewise for text; --trainable projections caches these.
  torch::Tensor image_features(const torch::Tensor& pixels);
  torch::Tensor text_features(const torch::Tensor& tokens);
  torch::Tensor project_image(const torch::Tensor& features);
  torch::Tensor project_text(const torch::Tensor& features);
  torch::Tensor logit_scale() { return params_.at(logit_scale_name_); }

  // Marks parameters trainable or frozen (requires_grad).
  void set_trainable(const Trainable& trainable);

 private:
  torch::Tensor block(const torch::Tensor& x, bool vision, int layer, const torch::Tensor& mask);
  const torch::Tensor& p(const std::string& name) const { return params_.at(name); }

  ClipHParams h_;
  std::map<std::string, torch::Tensor> params_;
  std::string logit_scale_name_;
};
TORCH_MODULE(ClipNet);

}  // namespace xrs::train

namespace xrs::train {

// A model the engine loads (any folder or file of docs/MODEL_FORMATS.md: OpenAI .pt, OpenCLIP,
// Hugging Face), read through the engine's own loader (clip/model_config.h, clip/weights.h) and
// turned into ClipNet's tensors (OpenAI names and layouts): the starting point of --init.
struct InitModel {
  ClipHParams hparams;
  std::map<std::string, torch::Tensor> tensors;  // float32, ClipNet::tensors() names and shapes
  std::string dir;                               // the folder of its files (and tokenizer)
  std::string weights;                           // the weights file read
  std::string format;                            // "openclip safetensors", "huggingface ...", ...
};
// kInvalidArgument, naming the path and the engine's reason, when the engine cannot load it.
StatusOr<InitModel> load_init_model(const std::string& path);

// WiSE-FT: (1 - alpha) * init + alpha * trained, tensor by tensor (the same names in both).
// alpha = 0 gives `init` exactly, alpha = 1 `trained` exactly.
std::map<std::string, torch::Tensor> wise_ft(const std::map<std::string, torch::Tensor>& init,
                                             const std::map<std::string, torch::Tensor>& trained,
                                             double alpha);

// Writes an OpenCLIP folder's weights and config: open_clip_model.safetensors (F32, or F16 when
// `f16`) and open_clip_config.json, atomically each. `tensors` are named as ClipNet::tensors().
Status write_openclip(const std::map<std::string, torch::Tensor>& tensors, const ClipHParams& h,
                      const std::string& dir, bool f16);

}  // namespace xrs::train
