#include "clip/checkpoint/hparams.h"

namespace xrs {

std::string_view activation_name(Activation act) {
  return act == Activation::kQuickGelu ? "quick_gelu" : "gelu";
}

namespace {

Status check_tower(const char* name, const TowerHParams& t) {
  std::string where = std::string(name) + " tower: ";
  if (t.width <= 0 || t.layers <= 0 || t.heads <= 0 || t.mlp_width <= 0) {
    return Status::corruption(where + "width, layers, heads and MLP width must be positive");
  }
  if (t.width % t.heads != 0) {
    return Status::corruption(where + "width " + std::to_string(t.width) + " is not divisible by " +
                              std::to_string(t.heads) + " heads");
  }
  return Status::ok();
}

}  // namespace

Status ClipHParams::validate() const {
  if (embed_dim <= 0) return Status::corruption("embedding size must be positive");
  if (image_size <= 0 || patch_size <= 0 || image_size % patch_size != 0) {
    return Status::corruption("image size " + std::to_string(image_size) +
                              " is not a positive multiple of patch size " +
                              std::to_string(patch_size));
  }
  if (context_length <= 1 || vocab_size <= 0) {
    return Status::corruption("context length and vocabulary size must be positive");
  }
  XRS_RETURN_IF_ERROR(check_tower("vision", vision));
  XRS_RETURN_IF_ERROR(check_tower("text", text));
  for (float s : std) {
    if (!(s > 0)) return Status::corruption("preprocessing std must be positive");
  }
  return Status::ok();
}

std::string ClipHParams::describe() const {
  auto tower = [](const TowerHParams& t) {
    return "width " + std::to_string(t.width) + ", " + std::to_string(t.layers) + " layers, " +
           std::to_string(t.heads) + " heads, MLP " + std::to_string(t.mlp_width);
  };
  return "ViT " + std::to_string(image_size) + "px/" + std::to_string(patch_size) + " (vision " +
         tower(vision) + "; text " + tower(text) + ", context " + std::to_string(context_length) +
         ", vocab " + std::to_string(vocab_size) + "; embed " + std::to_string(embed_dim) + ", " +
         std::string(activation_name(activation)) + ")";
}

}  // namespace xrs
