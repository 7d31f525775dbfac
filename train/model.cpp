#include "model.h"

#include <cmath>

#include "clip/checkpoint/tensor_names.h"

namespace xrs::train {
namespace {

namespace F = torch::nn::functional;
using M = ModelTensor;
using B = BlockTensor;

std::string name_of(M id) {
  return tensor_name(WeightNaming::kOpenAI, id);
}
std::string name_of(bool vision, int layer, B id) {
  return block_tensor_name(WeightNaming::kOpenAI, vision ? Tower::kVision : Tower::kText, layer,
                           id);
}

// torch parameter names cannot hold '.'.
std::string registered_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (c == '.') c = '_';
  }
  return out;
}

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                         float eps) {
  return F::layer_norm(x, F::LayerNormFuncOptions({x.size(-1)}).weight(w).bias(b).eps(eps));
}

}  // namespace

std::vector<std::string> arch_names() {
  return {"tiny", "small", "ViT-B-32"};
}

StatusOr<ClipHParams> arch_hparams(const std::string& arch) {
  ClipHParams h;
  h.activation = Activation::kGelu;
  auto tower = [](int width, int layers, int head_width) {
    return TowerHParams{width, layers, width / head_width, 4 * width};
  };
  if (arch == "tiny") {
    h.image_size = 32, h.patch_size = 8, h.embed_dim = 32, h.context_length = 16;
    h.vision = tower(64, 2, 32), h.text = tower(64, 2, 32);
  } else if (arch == "small") {
    h.image_size = 64, h.patch_size = 8, h.embed_dim = 128, h.context_length = 32;
    h.vision = tower(128, 4, 64), h.text = tower(128, 4, 64);
  } else if (arch == "ViT-B-32") {
    h.image_size = 224, h.patch_size = 32, h.embed_dim = 512, h.context_length = 77;
    h.vision = tower(768, 12, 64), h.text = tower(512, 12, 64);
  } else {
    std::string known;
    for (const std::string& n : arch_names()) known += (known.empty() ? "" : ", ") + n;
    return Status::invalid_argument("--arch: unknown architecture '" + arch + "' (known: " + known +
                                    ")");
  }
  h.vocab_size = 1;  // the caller sets the trained vocabulary's size
  return h;
}

StatusOr<Trainable> parse_trainable(const std::string& value, const ClipHParams& h) {
  Trainable t;
  if (value == "all") return t;
  if (value == "projections") {
    t.kind = Trainable::Kind::kProjections;
    return t;
  }
  const std::string prefix = "last-", suffix = "-blocks";
  const int max_layers = std::min(h.vision.layers, h.text.layers);
  if (value.size() > prefix.size() + suffix.size() && value.rfind(prefix, 0) == 0 &&
      value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0) {
    const std::string n = value.substr(prefix.size(), value.size() - prefix.size() - suffix.size());
    if (!n.empty() && n.size() <= 3 && n.find_first_not_of("0123456789") == std::string::npos) {
      t.kind = Trainable::Kind::kLastBlocks;
      t.blocks = std::stoi(n);
      if (t.blocks < 1 || t.blocks > max_layers) {
        return Status::invalid_argument("--trainable " + value + ": N must be between 1 and " +
                                        std::to_string(max_layers) +
                                        " (the blocks of this architecture's towers)");
      }
      return t;
    }
  }
  return Status::invalid_argument("--trainable: '" + value +
                                  "' is not one of projections, last-N-blocks (N = 1.." +
                                  std::to_string(max_layers) + "), all");
}

ClipNetImpl::ClipNetImpl(const ClipHParams& hparams) : h_(hparams) {
  torch::NoGradGuard no_grad;
  logit_scale_name_ = name_of(M::kLogitScale);
  for (const ExpectedTensor& e : expected_tensors(WeightNaming::kOpenAI, h_)) {
    torch::Tensor t = torch::empty(e.shape, torch::kFloat32);
    const std::string& n = e.name;
    const bool vision = n.rfind("visual.", 0) == 0;
    const double W = vision ? h_.vision.width : h_.text.width;
    const int layers = vision ? h_.vision.layers : h_.text.layers;
    const double attn_std = std::pow(W, -0.5);
    const double proj_std = attn_std * std::pow(2.0 * layers, -0.5);
    const double fc_std = std::pow(2.0 * W, -0.5);
    auto ends = [&](const char* s) {
      const std::string suf(s);
      return n.size() >= suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
    };
    if (n == logit_scale_name_) {
      t.fill_(std::log(1.0 / 0.07));
    } else if (ends("ln_1.weight") || ends("ln_2.weight") || n == name_of(M::kLnPreWeight) ||
               n == name_of(M::kLnPostWeight) || n == name_of(M::kLnFinalWeight)) {
      t.fill_(1.0);
    } else if (e.shape.size() == 1 && n != name_of(M::kClassEmbedding)) {
      t.zero_();  // biases and LayerNorm biases
    } else if (n == name_of(M::kTokenEmbedding)) {
      t.normal_(0, 0.02);
    } else if (n == name_of(M::kTextPositionalEmbedding)) {
      t.normal_(0, 0.01);
    } else if (n == name_of(M::kClassEmbedding) || n == name_of(M::kVisionPositionalEmbedding) ||
               n == name_of(M::kVisionProjection) || n == name_of(M::kTextProjection)) {
      t.normal_(0, attn_std);
    } else if (n == name_of(M::kPatchEmbedding)) {
      t.normal_(0, std::pow(double(h_.patch_dim()), -0.5));
    } else if (ends("attn.in_proj_weight")) {
      t.normal_(0, attn_std);
    } else if (ends("attn.out_proj.weight") || ends("mlp.c_proj.weight")) {
      t.normal_(0, proj_std);
    } else if (ends("mlp.c_fc.weight")) {
      t.normal_(0, fc_std);
    } else {
      t.normal_(0, 0.02);
    }
    params_[n] = register_parameter(registered_name(n), t);
  }
}

torch::Tensor& ClipNetImpl::tensor(const std::string& name) {
  return params_.at(name);
}

torch::Tensor ClipNetImpl::block(const torch::Tensor& x, bool vision, int layer,
                                 const torch::Tensor& mask) {
  const TowerHParams& t = vision ? h_.vision : h_.text;
  const int64_t Bn = x.size(0), L = x.size(1), W = t.width, H = t.heads, D = W / H;
  auto P = [&](B id) -> const torch::Tensor& { return p(name_of(vision, layer, id)); };
  torch::Tensor h = layer_norm(x, P(B::kLn1Weight), P(B::kLn1Bias), h_.layer_norm_eps);
  torch::Tensor qkv = F::linear(h, P(B::kAttnInWeight), P(B::kAttnInBias))
                          .view({Bn, L, 3, H, D})
                          .permute({2, 0, 3, 1, 4});
  torch::Tensor q = qkv[0] * (1.0 / std::sqrt(double(D))), k = qkv[1], v = qkv[2];
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));
  if (mask.defined()) scores = scores + mask;
  torch::Tensor o =
      torch::matmul(torch::softmax(scores, -1), v).permute({0, 2, 1, 3}).reshape({Bn, L, W});
  torch::Tensor y = x + F::linear(o, P(B::kAttnOutWeight), P(B::kAttnOutBias));
  h = layer_norm(y, P(B::kLn2Weight), P(B::kLn2Bias), h_.layer_norm_eps);
  h = F::linear(h, P(B::kMlpFcWeight), P(B::kMlpFcBias));
  h = h_.activation == Activation::kGelu ? torch::gelu(h) : h * torch::sigmoid(1.702 * h);
  return y + F::linear(h, P(B::kMlpProjWeight), P(B::kMlpProjBias));
}

torch::Tensor ClipNetImpl::encode_image(const torch::Tensor& pixels) {
  return project_image(image_features(pixels));
}

torch::Tensor ClipNetImpl::encode_text(const torch::Tensor& tokens) {
  return project_text(text_features(tokens));
}

torch::Tensor ClipNetImpl::project_image(const torch::Tensor& features) {
  return torch::matmul(features, p(name_of(M::kVisionProjection)));
}

torch::Tensor ClipNetImpl::project_text(const torch::Tensor& features) {
  return torch::matmul(features, p(name_of(M::kTextProjection)));
}

torch::Tensor ClipNetImpl::image_features(const torch::Tensor& pixels) {
  const int64_t Bn = pixels.size(0), W = h_.vision.width;
  torch::Tensor x = torch::conv2d(pixels, p(name_of(M::kPatchEmbedding)), {}, h_.patch_size);
  x = x.flatten(2).transpose(1, 2);  // [B, g*g, W]
  torch::Tensor cls = p(name_of(M::kClassEmbedding)).view({1, 1, W}).expand({Bn, 1, W});
  x = torch::cat({cls, x}, 1) + p(name_of(M::kVisionPositionalEmbedding));
  x = layer_norm(x, p(name_of(M::kLnPreWeight)), p(name_of(M::kLnPreBias)), h_.layer_norm_eps);
  for (int l = 0; l < h_.vision.layers; ++l) x = block(x, true, l, {});
  return layer_norm(x.select(1, 0), p(name_of(M::kLnPostWeight)), p(name_of(M::kLnPostBias)),
                    h_.layer_norm_eps);
}

torch::Tensor ClipNetImpl::text_features(const torch::Tensor& tokens) {
  const int64_t C = tokens.size(1);
  torch::Tensor x = F::embedding(tokens, p(name_of(M::kTokenEmbedding))) +
                    p(name_of(M::kTextPositionalEmbedding)).slice(0, 0, C);
  torch::Tensor mask = torch::full({C, C}, -std::numeric_limits<float>::infinity()).triu(1);
  for (int l = 0; l < h_.text.layers; ++l) x = block(x, false, l, mask);
  x = layer_norm(x, p(name_of(M::kLnFinalWeight)), p(name_of(M::kLnFinalBias)), h_.layer_norm_eps);
  torch::Tensor eot = tokens.argmax(-1);
  return x.index({torch::arange(x.size(0)), eot});
}

void ClipNetImpl::set_trainable(const Trainable& trainable) {
  for (auto& [name, t] : params_) {
    bool on = true;
    if (trainable.kind != Trainable::Kind::kAll) {
      on = name == name_of(M::kVisionProjection) || name == name_of(M::kTextProjection) ||
           name == logit_scale_name_;
      if (trainable.kind == Trainable::Kind::kLastBlocks) {
        on = on || name == name_of(M::kLnPostWeight) || name == name_of(M::kLnPostBias) ||
             name == name_of(M::kLnFinalWeight) || name == name_of(M::kLnFinalBias);
        for (bool vision : {true, false}) {
          const int layers = vision ? h_.vision.layers : h_.text.layers;
          for (int l = layers - trainable.blocks; l < layers; ++l) {
            const std::string prefix =
                block_prefix(WeightNaming::kOpenAI, vision ? Tower::kVision : Tower::kText, l);
            if (name.rfind(prefix, 0) == 0) on = true;
          }
        }
      }
    }
    t.set_requires_grad(on);
  }
}

}  // namespace xrs::train

#include <nlohmann/json.hpp>

#include <filesystem>

#include "clip/checkpoint/model_config.h"
#include "clip/checkpoint/safetensors_writer.h"
#include "clip/weights.h"
#include "core/file_util.h"

namespace xrs::train {
namespace {

// The engine's loading steps (ClipModel::load): files, archive, naming, architecture, weights.
StatusOr<InitModel> load_init_model_impl(const std::string& path) {
  XRS_ASSIGN_OR_RETURN(ModelFiles files, find_model_files(path));
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<TensorArchive> opened, TensorArchive::open(files.weights));
  std::shared_ptr<const TensorArchive> archive(std::move(opened));
  XRS_ASSIGN_OR_RETURN(WeightNaming naming, detect_naming(*archive));
  if (std::filesystem::is_regular_file(path)) {
    XRS_ASSIGN_OR_RETURN(files, find_model_files(path, &naming));
  }
  XRS_ASSIGN_OR_RETURN(ClipHParams h, infer_hparams(*archive, naming));
  if (!files.config.empty()) XRS_RETURN_IF_ERROR(apply_config_file(files.config, naming, h));
  if (!files.preprocessor.empty())
    XRS_RETURN_IF_ERROR(apply_preprocessor_config(files.preprocessor, h));
  XRS_RETURN_IF_ERROR(h.validate().with_context(files.weights));
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<ClipWeights> w, load_clip_weights(archive, naming, h));

  InitModel m;
  m.hparams = h;
  m.dir = files.dir;
  m.weights = files.weights;
  m.format = std::string(weight_naming_name(naming)) + " names, " +
             std::string(archive_format_name(archive->format()));
  // The engine's canonical layout is nn.Linear [out, in] everywhere; ClipNet keeps OpenAI's
  // layout, which differs only in the two projections ([in, out]) and the patch convolution's
  // 4-D shape.
  auto put = [&](const std::string& name, const float* data, std::vector<int64_t> shape) {
    m.tensors[name] = torch::from_blob(const_cast<float*>(data), shape, torch::kFloat32).clone();
  };
  auto mat = [&](M id, const Mat& x) { put(name_of(id), x.data, {x.rows, x.cols}); };
  auto vec = [&](M id, const Vec& x) { put(name_of(id), x.data, {x.size}); };
  auto blocks = [&](bool vision, const std::vector<BlockWeights>& bs) {
    for (int l = 0; l < int(bs.size()); ++l) {
      const BlockWeights& b = bs[l];
      auto bm = [&](B id, const Mat& x) { put(name_of(vision, l, id), x.data, {x.rows, x.cols}); };
      auto bv = [&](B id, const Vec& x) { put(name_of(vision, l, id), x.data, {x.size}); };
      bv(B::kLn1Weight, b.ln_1_weight), bv(B::kLn1Bias, b.ln_1_bias);
      bm(B::kAttnInWeight, b.attn_in_weight), bv(B::kAttnInBias, b.attn_in_bias);
      bm(B::kAttnOutWeight, b.attn_out_weight), bv(B::kAttnOutBias, b.attn_out_bias);
      bv(B::kLn2Weight, b.ln_2_weight), bv(B::kLn2Bias, b.ln_2_bias);
      bm(B::kMlpFcWeight, b.mlp_fc_weight), bv(B::kMlpFcBias, b.mlp_fc_bias);
      bm(B::kMlpProjWeight, b.mlp_proj_weight), bv(B::kMlpProjBias, b.mlp_proj_bias);
    }
  };
  const VisionWeights& v = w->vision;
  put(name_of(M::kPatchEmbedding), v.patch_weight.data,
      {h.vision.width, 3, h.patch_size, h.patch_size});
  vec(M::kClassEmbedding, v.class_embedding);
  mat(M::kVisionPositionalEmbedding, v.positional_embedding);
  vec(M::kLnPreWeight, v.ln_pre_weight), vec(M::kLnPreBias, v.ln_pre_bias);
  blocks(true, v.blocks);
  vec(M::kLnPostWeight, v.ln_post_weight), vec(M::kLnPostBias, v.ln_post_bias);
  mat(M::kVisionProjection, v.projection);
  const TextWeights& t = w->text;
  mat(M::kTokenEmbedding, t.token_embedding);
  mat(M::kTextPositionalEmbedding, t.positional_embedding);
  blocks(false, t.blocks);
  vec(M::kLnFinalWeight, t.ln_final_weight), vec(M::kLnFinalBias, t.ln_final_bias);
  mat(M::kTextProjection, t.projection);
  for (M id : {M::kVisionProjection, M::kTextProjection}) {
    m.tensors[name_of(id)] = m.tensors[name_of(id)].t().contiguous();  // [E, W] -> [W, E]
  }
  m.tensors[name_of(M::kLogitScale)] = torch::tensor(w->logit_scale, torch::kFloat32).reshape({});
  // Every tensor ClipNet has, with its shape: a mismatch is a bug here, not in the file.
  for (const ExpectedTensor& e : expected_tensors(WeightNaming::kOpenAI, h)) {
    auto it = m.tensors.find(e.name);
    if (it == m.tensors.end() || it->second.sizes().vec() != e.shape) {
      return Status::corruption(files.weights + ": tensor '" + e.name +
                                "' did not convert to ClipNet's shape");
    }
  }
  return m;
}

}  // namespace

StatusOr<InitModel> load_init_model(const std::string& path) {
  StatusOr<InitModel> m = load_init_model_impl(path);
  if (!m.is_ok()) {
    return Status::invalid_argument("--init " + path +
                                    ": not a model the engine can load: " + m.status().message());
  }
  return m;
}

std::map<std::string, torch::Tensor> wise_ft(const std::map<std::string, torch::Tensor>& init,
                                             const std::map<std::string, torch::Tensor>& trained,
                                             double alpha) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t0] : init) {
    const torch::Tensor& t1 = trained.at(name);
    // The ends are copies, not sums: 1 * x + 0 * y can turn a -0 into +0.
    if (alpha == 0.0) {
      out[name] = t0.detach().clone();
    } else if (alpha == 1.0) {
      out[name] = t1.detach().clone();
    } else {
      out[name] = t0.detach() * (1.0 - alpha) + t1.detach() * alpha;
    }
  }
  return out;
}

Status write_openclip(const std::map<std::string, torch::Tensor>& tensors, const ClipHParams& h,
                      const std::string& dir, bool f16) {
  SafetensorsWriter writer;
  for (const auto& [name, t] : tensors) {
    torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
    std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
    XRS_RETURN_IF_ERROR(writer.add_floats(
        name, shape, std::span<const float>(c.data_ptr<float>(), size_t(c.numel())),
        f16 ? DType::kF16 : DType::kF32));
  }
  writer.set_metadata("format", "pt");
  writer.set_metadata("producer", "xray-search-train");
  XRS_RETURN_IF_ERROR(writer.write(dir + "/" + kOpenClipWeightsFile));
  nlohmann::json cfg;
  cfg["model_cfg"] = {{"embed_dim", h.embed_dim},
                      {"quick_gelu", h.activation == Activation::kQuickGelu},
                      {"vision_cfg",
                       {{"image_size", h.image_size},
                        {"layers", h.vision.layers},
                        {"width", h.vision.width},
                        {"head_width", h.vision.width / h.vision.heads},
                        {"patch_size", h.patch_size}}},
                      {"text_cfg",
                       {{"context_length", h.context_length},
                        {"vocab_size", h.vocab_size},
                        {"width", h.text.width},
                        {"heads", h.text.heads},
                        {"layers", h.text.layers}}}};
  cfg["preprocess_cfg"] = {
      {"mean", h.mean}, {"std", h.std}, {"interpolation", "bicubic"}, {"resize_mode", "shortest"}};
  return write_file_atomic(dir + "/" + kOpenClipConfigFile, cfg.dump(2) + "\n");
}

}  // namespace xrs::train
