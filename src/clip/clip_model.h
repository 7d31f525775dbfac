// ClipModel: a loaded CLIP ViT model, the entry point of the engine.
//
//   auto model = ClipModel::load("models/ViT-B-32");          // folder or weights file
//   model->encode_images(pixels, n, out);                     // n x 3 x S x S → n x E
//   model->encode_texts(tokens, n, out);                      // n x 77 ids   → n x E
//   model->embed_image(image) / model->embed_text("...")      // L2-normalised, one input
//
// Loading memory-maps the weights (float32 tensors are used in place; others converted once),
// reads the architecture from the config or the tensor shapes, and loads the tokenizer found
// beside the weights. A loaded model is immutable: every const method is safe to call from
// several threads at once (each call allocates its own scratch). BLAS threads are process-wide
// (ops.h set_blas_threads), chosen by the app.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clip/checkpoint/hparams.h"
#include "clip/weights.h"
#include "core/model_identity.h"
#include "core/status.h"
#include "imaging/clip_preprocess.h"
#include "imaging/image.h"
#include "tokenizer/tokenizer.h"

namespace xrs {

struct ModelInfo {
  std::string weights_path;  // the file the weights came from
  std::string config_path;   // config file used, or ""
  std::string format;        // "safetensors" or "torchscript"
  std::string naming;        // "openai" or "huggingface"
  std::string dtypes;        // dtypes in the file, e.g. "F16+F32"
  int64_t parameter_count = 0;
  std::string tokenizer;  // where the tokenizer came from, or why there is none
  std::string precision;  // "fp32", "bf16" or "int8" (ClipLoadOptions::precision)
  // The kernels that run the image tower's linear layers, e.g. "onednn:brg:avx512_core_amx_bf16"
  // or "openblas" (kernels/gemm.h).
  std::string kernels;
  // Text tower matrices held as float16 because every value is exactly a float16 (OpenAI's
  // checkpoints store them so): bit-exact, half the bytes a text query streams. 0..48.
  int text_f16_matrices = 0;
};

// How to load a model. precision: the image tower's 48 linear layers (4 per block) in bfloat16
// or int8 (kernels/gemm.h); layer norm, softmax, GELU, the attention products, the patch
// embedding, the projections and the whole text tower stay float32. The precision is part of the
// model's identity (an index built at one precision refuses queries embedded at another).
struct ClipLoadOptions {
  kernels::Precision precision = kernels::Precision::kFp32;
};

class ClipModel {
 public:
  static StatusOr<std::unique_ptr<ClipModel>> load(const std::string& path,
                                                   const ClipLoadOptions& options = {});
  kernels::Precision precision() const { return precision_; }

  const ClipHParams& hparams() const { return hparams_; }
  const ModelInfo& info() const { return info_; }
  float logit_scale() const { return weights_->logit_scale; }
  ClipPreprocessConfig preprocess_config() const;

  // The model's identity for indexes: SHA-256 of the weights file, computed on first use
  // (about 0.4 s per 600 MB) and cached. Thread-safe.
  StatusOr<std::string> weights_sha256() const;
  // The identity an index records for this model: name (the weights' folder, else the file's
  // stem), weights_sha256(), embed_dim, and the preprocessing id (input size, bicubic + center
  // crop, mean/std, kImagingVersion). Errors: those of weights_sha256() (the file is read).
  StatusOr<ModelIdentity> identity() const;

  // The tokenizer, or nullptr when none was found beside the weights (see info().tokenizer).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }

  // pixels: n x 3 x S x S, normalised as clip_preprocess() makes them; out: n x embed_dim,
  // unnormalised (as the reference's encode_image). Sizes are checked (kInvalidArgument).
  Status encode_images(std::span<const float> pixels, int n, std::span<float> out) const;

  // tokens: n x context_length ids as Tokenizer::tokenize() makes them; out: n x embed_dim,
  // unnormalised (as the reference's encode_text). Ids outside the vocabulary are rejected.
  Status encode_texts(std::span<const int32_t> tokens, int n, std::span<float> out) const;

  // One decoded image → its L2-normalised embedding (preprocess + encode + normalise).
  StatusOr<std::vector<float>> embed_image(const Image& image) const;
  // One text → its L2-normalised embedding (tokenize with truncation + encode + normalise).
  StatusOr<std::vector<float>> embed_text(std::string_view text) const;
  // Several texts in one batched forward pass → texts.size() x embed_dim, each row L2-normalised.
  StatusOr<std::vector<float>> embed_texts(std::span<const std::string> texts) const;
  // A prompt ensemble (CLIP paper §3.1.4): `text` put into each template (each holds "{}" once,
  // ModelSettings::prompt_templates), the normalised embeddings averaged and normalised again;
  // one batched pass. No templates: embed_text(text).
  StatusOr<std::vector<float>> embed_text_ensemble(std::string_view text,
                                                   std::span<const std::string> templates) const;

  // Activations for the reference tests (ln_pre and first block outputs, batch-first).
  void debug_vision_activations(std::span<const float> pixels, int n, std::vector<float>& ln_pre,
                                std::vector<float>& block0) const;
  void debug_text_block0(std::span<const int32_t> tokens, int n, std::vector<float>& block0) const;

 private:
  // Moves the text tower's linear layers to float16 where that is exact (Mat::f16).
  void keep_text_weights_in_f16();
  friend class PromptEnsemble;  // runs the text tower after cached prefixes (its weights)
  ClipModel() = default;

  ClipHParams hparams_;
  ModelInfo info_;
  std::unique_ptr<ClipWeights> weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  kernels::Precision precision_ = kernels::Precision::kFp32;
  mutable std::once_flag sha_once_;
  mutable std::string sha_;
  mutable Status sha_status_;
};

}  // namespace xrs
