#include "clip/checkpoint/model_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/file_util.h"

namespace xrs {

namespace fs = std::filesystem;

namespace {

std::string existing(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : std::string();
}

// The largest N such that "<prefix>N.<suffix>" is a tensor, plus one (the layer count).
int count_layers(const TensorArchive& archive, const std::string& prefix,
                 const std::string& suffix) {
  int n = 0;
  while (archive.find(prefix + std::to_string(n) + "." + suffix) != nullptr) ++n;
  return n;
}

StatusOr<const TensorView*> need(const TensorArchive& archive, const std::string& name,
                                 size_t rank) {
  const TensorView* v = archive.find(name);
  if (v == nullptr) return Status::not_found(archive.path() + ": tensor '" + name + "' is missing");
  if (v->shape.size() != rank) {
    return Status::corruption(archive.path() + ": tensor '" + name + "' has rank " +
                              std::to_string(v->shape.size()) + ", expected " +
                              std::to_string(rank));
  }
  for (int64_t d : v->shape) {
    if (d <= 0 || d > (1 << 24)) {
      return Status::corruption(archive.path() + ": tensor '" + name + "' has a bad dimension");
    }
  }
  return v;
}

StatusOr<nlohmann::json> read_json(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(std::string text, read_file(path, 16 << 20));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::corruption(path + ": not a JSON object");
  return j;
}

// Reads an integer field if present; a present field of the wrong type is an error.
Status get_int(const nlohmann::json& obj, const char* key, const std::string& where, int* out) {
  if (!obj.contains(key) || obj[key].is_null()) return Status::ok();
  const auto& v = obj[key];
  if (v.is_array() && !v.empty() && v[0].is_number_integer()) {  // image_size: [224, 224]
    *out = v[0].get<int>();
    return Status::ok();
  }
  if (!v.is_number()) return Status::corruption(where + ": '" + key + "' is not a number");
  double d = v.get<double>();
  if (d != std::floor(d) || d < 0 || d > (1 << 24)) {
    return Status::corruption(where + ": '" + key + "' is not a valid size");
  }
  *out = static_cast<int>(d);
  return Status::ok();
}

Status check_same(const std::string& where, const char* what, int from_config, int from_shapes) {
  if (from_config != from_shapes) {
    return Status::corruption(where + ": " + what + " is " + std::to_string(from_config) +
                              " but the weights have " + std::to_string(from_shapes));
  }
  return Status::ok();
}

Status read_mean_std(const nlohmann::json& obj, const char* mean_key, const char* std_key,
                     const std::string& where, ClipHParams& h) {
  for (auto [key, dst] : {std::pair{mean_key, &h.mean}, std::pair{std_key, &h.std}}) {
    if (!obj.contains(key)) continue;
    const auto& v = obj[key];
    if (!v.is_array() || v.size() != 3 ||
        !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number(); })) {
      return Status::corruption(where + ": '" + key + "' must be a list of 3 numbers");
    }
    for (int c = 0; c < 3; ++c) (*dst)[c] = v[c].get<float>();
  }
  return Status::ok();
}

Status apply_openclip(const nlohmann::json& root, const std::string& where, ClipHParams& h) {
  if (!root.contains("model_cfg") || !root["model_cfg"].is_object()) {
    return Status::corruption(where + ": no 'model_cfg' object");
  }
  const auto& cfg = root["model_cfg"];
  int embed = h.embed_dim;
  XRS_RETURN_IF_ERROR(get_int(cfg, "embed_dim", where, &embed));
  XRS_RETURN_IF_ERROR(check_same(where, "embed_dim", embed, h.embed_dim));
  // OpenCLIP's CLIP defaults to exact GELU; OpenAI-trained models set quick_gelu.
  h.activation = cfg.value("quick_gelu", false) ? Activation::kQuickGelu : Activation::kGelu;
  if (cfg.contains("vision_cfg") && cfg["vision_cfg"].is_object()) {
    const auto& v = cfg["vision_cfg"];
    for (const char* unsupported : {"timm_model_name", "ls_init_value", "attentional_pool"}) {
      if (v.contains(unsupported) && !v[unsupported].is_null() && v[unsupported] != false) {
        return Status::unsupported(where + ": vision_cfg." + unsupported + " is not supported");
      }
    }
    if (v.contains("pool_type") && v["pool_type"] != "tok") {
      return Status::unsupported(where + ": vision_cfg.pool_type other than 'tok'");
    }
    int width = h.vision.width, layers = h.vision.layers, patch = h.patch_size, size = h.image_size,
        head_width = 64;
    XRS_RETURN_IF_ERROR(get_int(v, "width", where, &width));
    XRS_RETURN_IF_ERROR(get_int(v, "layers", where, &layers));
    XRS_RETURN_IF_ERROR(get_int(v, "patch_size", where, &patch));
    XRS_RETURN_IF_ERROR(get_int(v, "image_size", where, &size));
    XRS_RETURN_IF_ERROR(get_int(v, "head_width", where, &head_width));
    XRS_RETURN_IF_ERROR(check_same(where, "vision_cfg.width", width, h.vision.width));
    XRS_RETURN_IF_ERROR(check_same(where, "vision_cfg.layers", layers, h.vision.layers));
    XRS_RETURN_IF_ERROR(check_same(where, "vision_cfg.patch_size", patch, h.patch_size));
    XRS_RETURN_IF_ERROR(check_same(where, "vision_cfg.image_size", size, h.image_size));
    if (head_width <= 0 || width % head_width != 0) {
      return Status::corruption(where + ": vision_cfg.head_width does not divide the width");
    }
    h.vision.heads = width / head_width;
  }
  if (cfg.contains("text_cfg") && cfg["text_cfg"].is_object()) {
    const auto& t = cfg["text_cfg"];
    if (t.contains("hf_model_name") && !t["hf_model_name"].is_null()) {
      return Status::unsupported(where + ": text_cfg.hf_model_name (a Hugging Face text tower)");
    }
    if (t.contains("ls_init_value") && !t["ls_init_value"].is_null()) {
      return Status::unsupported(where + ": text_cfg.ls_init_value is not supported");
    }
    int width = h.text.width, layers = h.text.layers, heads = 8, context = h.context_length,
        vocab = h.vocab_size;
    XRS_RETURN_IF_ERROR(get_int(t, "width", where, &width));
    XRS_RETURN_IF_ERROR(get_int(t, "layers", where, &layers));
    XRS_RETURN_IF_ERROR(get_int(t, "heads", where, &heads));  // OpenCLIP's default is 8
    XRS_RETURN_IF_ERROR(get_int(t, "context_length", where, &context));
    XRS_RETURN_IF_ERROR(get_int(t, "vocab_size", where, &vocab));
    XRS_RETURN_IF_ERROR(check_same(where, "text_cfg.width", width, h.text.width));
    XRS_RETURN_IF_ERROR(check_same(where, "text_cfg.layers", layers, h.text.layers));
    XRS_RETURN_IF_ERROR(check_same(where, "text_cfg.context_length", context, h.context_length));
    XRS_RETURN_IF_ERROR(check_same(where, "text_cfg.vocab_size", vocab, h.vocab_size));
    h.text.heads = heads;
  }
  if (root.contains("preprocess_cfg") && root["preprocess_cfg"].is_object()) {
    const auto& p = root["preprocess_cfg"];
    XRS_RETURN_IF_ERROR(read_mean_std(p, "mean", "std", where, h));
    if (p.contains("interpolation") && p["interpolation"] != "bicubic") {
      return Status::unsupported(where + ": preprocess_cfg.interpolation other than bicubic");
    }
    if (p.contains("resize_mode") && p["resize_mode"] != "shortest") {
      return Status::unsupported(where + ": preprocess_cfg.resize_mode other than 'shortest'");
    }
  }
  return Status::ok();
}

Activation hf_activation(const nlohmann::json& cfg, Activation fallback) {
  if (!cfg.contains("hidden_act") || !cfg["hidden_act"].is_string()) return fallback;
  return cfg["hidden_act"] == "quick_gelu" ? Activation::kQuickGelu : Activation::kGelu;
}

Status apply_hf(const nlohmann::json& root, const std::string& where, ClipHParams& h) {
  int embed = h.embed_dim;
  XRS_RETURN_IF_ERROR(get_int(root, "projection_dim", where, &embed));
  XRS_RETURN_IF_ERROR(check_same(where, "projection_dim", embed, h.embed_dim));
  Activation vision_act = h.activation, text_act = h.activation;
  for (auto [key, tower, act] : {std::tuple{"vision_config", &h.vision, &vision_act},
                                 std::tuple{"text_config", &h.text, &text_act}}) {
    if (!root.contains(key) || !root[key].is_object()) continue;
    const auto& c = root[key];
    const std::string w = where + ": " + key;
    int width = tower->width, layers = tower->layers, mlp = tower->mlp_width, heads = tower->heads;
    XRS_RETURN_IF_ERROR(get_int(c, "hidden_size", w, &width));
    XRS_RETURN_IF_ERROR(get_int(c, "num_hidden_layers", w, &layers));
    XRS_RETURN_IF_ERROR(get_int(c, "intermediate_size", w, &mlp));
    XRS_RETURN_IF_ERROR(get_int(c, "num_attention_heads", w, &heads));
    XRS_RETURN_IF_ERROR(check_same(w, "hidden_size", width, tower->width));
    XRS_RETURN_IF_ERROR(check_same(w, "num_hidden_layers", layers, tower->layers));
    XRS_RETURN_IF_ERROR(check_same(w, "intermediate_size", mlp, tower->mlp_width));
    tower->heads = heads;
    *act = hf_activation(c, h.activation);
    if (c.contains("layer_norm_eps") && c["layer_norm_eps"].is_number()) {
      h.layer_norm_eps = c["layer_norm_eps"].get<float>();
    }
  }
  if (vision_act != text_act) {
    return Status::unsupported(where + ": different activations in the two towers");
  }
  h.activation = vision_act;
  return Status::ok();
}

}  // namespace

StatusOr<ModelFiles> find_model_files(const std::string& path, WeightNaming* naming_hint) {
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) return Status::not_found(path + ": no such model file or folder");
  ModelFiles files;
  if (fs::is_directory(p, ec)) {
    files.dir = p.string();
    if (!(files.weights = existing(p / kOpenClipWeightsFile)).empty()) {
      files.config = existing(p / kOpenClipConfigFile);
    } else if (!(files.weights = existing(p / kHfWeightsFile)).empty()) {
      files.config = existing(p / kHfConfigFile);
      files.preprocessor = existing(p / kHfPreprocessorFile);
    } else {
      std::vector<std::string> pts;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_regular_file() && e.path().extension() == kTorchScriptExtension)
          pts.push_back(e.path().string());
      }
      std::sort(pts.begin(), pts.end());
      if (pts.size() > 1) {
        return Status::invalid_argument(path + ": several .pt checkpoints; name one of them");
      }
      if (pts.empty()) {
        return Status::not_found(path + ": no model weights found (looked for " +
                                 kOpenClipWeightsFile + ", " + kHfWeightsFile + ", *.pt)");
      }
      files.weights = pts[0];
    }
  } else {
    files.weights = p.string();
    files.dir = p.has_parent_path() ? p.parent_path().string() : ".";
    fs::path dir(files.dir);
    if (p.extension() == ".safetensors") {
      // The naming decides which config belongs to it; the caller may know it already.
      bool hf = naming_hint != nullptr ? *naming_hint == WeightNaming::kHuggingFace
                                       : p.filename() == kHfWeightsFile;
      files.config = existing(dir / (hf ? kHfConfigFile : kOpenClipConfigFile));
      if (hf) files.preprocessor = existing(dir / kHfPreprocessorFile);
    }
  }
  return files;
}

StatusOr<ClipHParams> infer_hparams(const TensorArchive& a, WeightNaming naming) {
  ClipHParams h;
  const std::string conv = tensor_name(naming, ModelTensor::kPatchEmbedding);
  const std::string vpos = tensor_name(naming, ModelTensor::kVisionPositionalEmbedding);
  const std::string tok = tensor_name(naming, ModelTensor::kTokenEmbedding);
  const std::string tpos = tensor_name(naming, ModelTensor::kTextPositionalEmbedding);
  const std::string vblock(blocks_prefix(naming, Tower::kVision));
  const std::string tblock(blocks_prefix(naming, Tower::kText));
  const std::string fc(block_tensor_suffix(naming, BlockTensor::kMlpFcWeight));
  const std::string ln(block_tensor_suffix(naming, BlockTensor::kLn1Weight));

  XRS_ASSIGN_OR_RETURN(const TensorView* c, need(a, conv, 4));
  if (c->shape[1] != 3 || c->shape[2] != c->shape[3]) {
    return Status::corruption(a.path() + ": tensor '" + conv + "' is not [width, 3, P, P]");
  }
  h.vision.width = static_cast<int>(c->shape[0]);
  h.patch_size = static_cast<int>(c->shape[2]);
  XRS_ASSIGN_OR_RETURN(const TensorView* vp, need(a, vpos, 2));
  const int grid = static_cast<int>(std::lround(std::sqrt(double(vp->shape[0] - 1))));
  if (grid * grid + 1 != vp->shape[0]) {
    return Status::corruption(a.path() + ": tensor '" + vpos + "' does not hold grid^2 + 1 rows");
  }
  h.image_size = grid * h.patch_size;
  h.vision.layers = count_layers(a, vblock, ln);
  h.text.layers = count_layers(a, tblock, ln);
  if (h.vision.layers == 0 || h.text.layers == 0) {
    return Status::corruption(a.path() + ": no transformer blocks found");
  }
  XRS_ASSIGN_OR_RETURN(const TensorView* vfc, need(a, vblock + "0." + fc, 2));
  h.vision.mlp_width = static_cast<int>(vfc->shape[0]);
  XRS_ASSIGN_OR_RETURN(const TensorView* t, need(a, tok, 2));
  h.vocab_size = static_cast<int>(t->shape[0]);
  h.text.width = static_cast<int>(t->shape[1]);
  XRS_ASSIGN_OR_RETURN(const TensorView* tp, need(a, tpos, 2));
  h.context_length = static_cast<int>(tp->shape[0]);
  XRS_ASSIGN_OR_RETURN(const TensorView* tfc, need(a, tblock + "0." + fc, 2));
  h.text.mlp_width = static_cast<int>(tfc->shape[0]);
  // The text projection is [E, W] (Hugging Face) or [W, E] (OpenAI, stored transposed).
  XRS_ASSIGN_OR_RETURN(const TensorView* proj,
                       need(a, tensor_name(naming, ModelTensor::kTextProjection), 2));
  h.embed_dim = static_cast<int>(
      proj->shape[is_stored_transposed(naming, ModelTensor::kTextProjection) ? 1 : 0]);
  // OpenAI's build_model: 64-wide heads, QuickGELU.
  h.vision.heads = std::max(1, h.vision.width / 64);
  h.text.heads = std::max(1, h.text.width / 64);
  h.activation = Activation::kQuickGelu;
  return h;
}

Status apply_config_file(const std::string& path, WeightNaming naming, ClipHParams& hparams) {
  XRS_ASSIGN_OR_RETURN(nlohmann::json root, read_json(path));
  if (naming == WeightNaming::kOpenAI) return apply_openclip(root, path, hparams);
  return apply_hf(root, path, hparams);
}

Status apply_preprocessor_config(const std::string& path, ClipHParams& hparams) {
  XRS_ASSIGN_OR_RETURN(nlohmann::json root, read_json(path));
  return read_mean_std(root, "image_mean", "image_std", path, hparams);
}

}  // namespace xrs
