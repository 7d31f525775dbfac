#include "clip/clip_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "clip/checkpoint/model_config.h"
#include "clip/encoders.h"
#include "clip/model_settings.h"
#include "clip/ops.h"
#include "core/sha256.h"
#include "imaging/decode.h"  // kImagingVersion

namespace xrs {

namespace fs = std::filesystem;

namespace {

// Each thread encodes its share of a batch in passes of at most this many inputs, which bounds
// scratch memory (about 0.6 MB per image for ViT-B/32) whatever batch the caller passes.
constexpr int kMaxPerPass = 32;

// Runs fn(begin, end) over [0, n) split into one contiguous part per compute thread, each part
// single-threaded inside (products inside a part run inline). A batch of one runs on the
// calling thread and gemm splits its products instead.
template <typename Fn>
void for_each_part(int n, Fn fn) {
  const int parts = std::min(n, available_threads());
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  parallel_for(parts,
               [&](int p) { fn(int(int64_t(n) * p / parts), int(int64_t(n) * (p + 1) / parts)); });
}

}  // namespace

StatusOr<std::unique_ptr<ClipModel>> ClipModel::load(const std::string& path,
                                                     const ClipLoadOptions& options) {
  XRS_ASSIGN_OR_RETURN(ModelFiles files, find_model_files(path));
  XRS_ASSIGN_OR_RETURN(std::unique_ptr<TensorArchive> opened, TensorArchive::open(files.weights));
  std::shared_ptr<const TensorArchive> archive(std::move(opened));
  XRS_ASSIGN_OR_RETURN(WeightNaming naming, detect_naming(*archive));
  if (std::filesystem::is_regular_file(path)) {
    XRS_ASSIGN_OR_RETURN(files, find_model_files(path, &naming));  // config matching the naming
  }
  XRS_ASSIGN_OR_RETURN(ClipHParams hparams, infer_hparams(*archive, naming));
  if (!files.config.empty()) XRS_RETURN_IF_ERROR(apply_config_file(files.config, naming, hparams));
  if (!files.preprocessor.empty()) {
    XRS_RETURN_IF_ERROR(apply_preprocessor_config(files.preprocessor, hparams));
  }
  XRS_RETURN_IF_ERROR(hparams.validate().with_context(files.weights));

  auto model = std::unique_ptr<ClipModel>(new ClipModel());
  XRS_ASSIGN_OR_RETURN(model->weights_, load_clip_weights(archive, naming, hparams));
  model->hparams_ = hparams;
  ModelInfo& info = model->info_;
  info.weights_path = files.weights;
  info.config_path = files.config;
  info.format = std::string(archive_format_name(archive->format()));
  info.naming = std::string(weight_naming_name(naming));
  info.dtypes = model->weights_->source_dtypes;
  info.parameter_count = model->weights_->parameter_count;
  model->precision_ = options.precision;
  info.precision = std::string(kernels::precision_name(options.precision));
  const TowerHParams& vt = hparams.vision;
  info.kernels = kernels::sgemm_backend(50.0 * vt.width * vt.mlp_width);
  model->keep_text_weights_in_f16();
  if (options.precision != kernels::Precision::kFp32) {
    ClipWeights& w = *model->weights_;
    for (BlockWeights& b : w.vision.blocks) {
      for (Mat* m : {&b.attn_in_weight, &b.attn_out_weight, &b.mlp_fc_weight, &b.mlp_proj_weight}) {
        XRS_ASSIGN_OR_RETURN(
            std::unique_ptr<kernels::PackedWeight> packed,
            kernels::PackedWeight::pack(m->data, m->rows, m->cols, options.precision));
        m->packed = packed.get();
        w.packed.push_back(std::move(packed));
      }
    }
    if (!w.packed.empty()) info.kernels = w.packed.front()->backend();
  }

  StatusOr<Tokenizer> tokenizer = Tokenizer::load_dir(files.dir);
  if (tokenizer.is_ok()) {
    model->tokenizer_ = std::make_unique<Tokenizer>(std::move(tokenizer).value());
    info.tokenizer = files.dir;
  } else {
    info.tokenizer = "none: " + tokenizer.status().message();
  }
  return model;
}

void ClipModel::keep_text_weights_in_f16() {
  ClipWeights& w = *weights_;
  for (BlockWeights& b : w.text.blocks) {
    for (Mat* m : {&b.attn_in_weight, &b.attn_out_weight, &b.mlp_fc_weight, &b.mlp_proj_weight}) {
      const size_t count = size_t(m->rows) * m->cols;
      std::vector<uint16_t> half(count);
      bool exact = m->data != nullptr;
      for (size_t i = 0; exact && i < count; ++i) {
        half[i] = kernels::to_f16(m->data[i]);
        const float back = kernels::from_f16(half[i]);
        exact = std::memcmp(&back, &m->data[i], sizeof(float)) == 0;  // -0 and +0 differ too
      }
      if (!exact) continue;  // a value float16 cannot hold: this matrix stays float32
      // The float32 copy made at load (16-bit checkpoints) is freed; a float32 tensor used in
      // place stays mapped (the page cache's, not this process's memory).
      for (std::vector<float>& owned : w.owned) {
        if (owned.data() == m->data) {
          std::vector<float>().swap(owned);
        }
      }
      w.owned16.push_back(std::move(half));
      m->f16 = w.owned16.back().data();
      m->data = nullptr;
      ++info_.text_f16_matrices;
    }
  }
}

ClipPreprocessConfig ClipModel::preprocess_config() const {
  ClipPreprocessConfig c;
  c.image_size = hparams_.image_size;
  c.mean = hparams_.mean;
  c.std = hparams_.std;
  return c;
}

StatusOr<std::string> ClipModel::weights_sha256() const {
  std::call_once(sha_once_, [this] {
    StatusOr<std::string> h = sha256_file(info_.weights_path);
    if (h.is_ok()) {
      sha_ = *h;
    } else {
      sha_status_ = h.status();
    }
  });
  if (!sha_status_.is_ok()) return sha_status_;
  return sha_;
}

StatusOr<ModelIdentity> ClipModel::identity() const {
  ModelIdentity id;
  const fs::path weights(info_.weights_path);
  id.name = weights.parent_path().filename().string();
  if (id.name.empty()) id.name = weights.stem().string();
  XRS_ASSIGN_OR_RETURN(id.weights_sha256, weights_sha256());
  const ClipHParams& h = hparams_;
  id.dim = static_cast<uint32_t>(h.embed_dim);
  char buf[256];
  std::snprintf(
      buf, sizeof(buf), "clip-%d-bicubic-centercrop mean=%.8g,%.8g,%.8g std=%.8g,%.8g,%.8g %s",
      h.image_size, h.mean[0], h.mean[1], h.mean[2], h.std[0], h.std[1], h.std[2], kImagingVersion);
  id.preprocessing = buf;
  // A lower-precision image tower gives other (nearby) embeddings: part of the identity, so an
  // index never mixes them with float32 ones. Float32 keeps the id it always had.
  if (precision_ != kernels::Precision::kFp32) {
    id.preprocessing += " precision=" + std::string(kernels::precision_name(precision_));
  }
  return id;
}

Status ClipModel::encode_images(std::span<const float> pixels, int n, std::span<float> out) const {
  const size_t per_image = size_t(3) * hparams_.image_size * hparams_.image_size;
  if (n < 0 || pixels.size() != per_image * n || out.size() != size_t(n) * hparams_.embed_dim) {
    return Status::invalid_argument("encode_images: expected " + std::to_string(n) + " x 3 x " +
                                    std::to_string(hparams_.image_size) + " x " +
                                    std::to_string(hparams_.image_size) + " pixels and " +
                                    std::to_string(n) + " x " + std::to_string(hparams_.embed_dim) +
                                    " outputs");
  }
  for_each_part(n, [&](int begin, int end) {
    for (int done = begin; done < end; done += kMaxPerPass) {
      const int chunk = std::min(kMaxPerPass, end - done);
      encode_images_forward(*weights_, hparams_, pixels.data() + per_image * done, chunk,
                            out.data() + size_t(done) * hparams_.embed_dim);
    }
  });
  return Status::ok();
}

namespace {

// The pooling position of each sequence: the first occurrence of its largest id (the end token
// has the largest id in CLIP's vocabulary), as the reference's argmax.
Status end_positions(std::span<const int32_t> tokens, int n, const ClipHParams& h,
                     std::vector<int>& eot) {
  eot.resize(n);
  const int C = h.context_length;
  for (int b = 0; b < n; ++b) {
    const int32_t* seq = tokens.data() + size_t(b) * C;
    for (int i = 0; i < C; ++i) {
      if (seq[i] < 0 || seq[i] >= h.vocab_size) {
        return Status::invalid_argument("encode_texts: token id " + std::to_string(seq[i]) +
                                        " at position " + std::to_string(i) + " of sequence " +
                                        std::to_string(b) + " is outside the vocabulary of " +
                                        std::to_string(h.vocab_size));
      }
    }
    eot[b] = static_cast<int>(std::max_element(seq, seq + C) - seq);
  }
  return Status::ok();
}

}  // namespace

Status ClipModel::encode_texts(std::span<const int32_t> tokens, int n, std::span<float> out) const {
  const int C = hparams_.context_length;
  if (n < 0 || tokens.size() != size_t(n) * C || out.size() != size_t(n) * hparams_.embed_dim) {
    return Status::invalid_argument("encode_texts: expected " + std::to_string(n) + " x " +
                                    std::to_string(C) + " token ids and " + std::to_string(n) +
                                    " x " + std::to_string(hparams_.embed_dim) + " outputs");
  }
  if (n == 0) return Status::ok();
  std::vector<int> eot;
  XRS_RETURN_IF_ERROR(end_positions(tokens, n, hparams_, eot));
  for_each_part(n, [&](int begin, int end) {
    for (int done = begin; done < end; done += kMaxPerPass) {
      const int chunk = std::min(kMaxPerPass, end - done);
      encode_texts_forward(*weights_, hparams_, tokens.data() + size_t(done) * C, chunk,
                           eot.data() + done, out.data() + size_t(done) * hparams_.embed_dim);
    }
  });
  return Status::ok();
}

StatusOr<std::vector<float>> ClipModel::embed_image(const Image& image) const {
  const int S = hparams_.image_size;
  std::vector<float> pixels(size_t(3) * S * S);
  XRS_RETURN_IF_ERROR(clip_preprocess(image, preprocess_config(), pixels));
  std::vector<float> out(hparams_.embed_dim);
  XRS_RETURN_IF_ERROR(encode_images(pixels, 1, out));
  l2_normalize_rows(out.data(), 1, hparams_.embed_dim);
  return out;
}

StatusOr<std::vector<float>> ClipModel::embed_text(std::string_view text) const {
  if (tokenizer_ == nullptr) {
    return Status::failed_precondition("this model has no tokenizer (" + info_.tokenizer +
                                       "); put bpe_simple_vocab_16e6.txt.gz or vocab.json + "
                                       "merges.txt beside the weights");
  }
  XRS_ASSIGN_OR_RETURN(std::vector<int32_t> tokens,
                       tokenizer_->tokenize(text, /*truncate=*/true, hparams_.context_length));
  std::vector<float> out(hparams_.embed_dim);
  XRS_RETURN_IF_ERROR(encode_texts(tokens, 1, out));
  l2_normalize_rows(out.data(), 1, hparams_.embed_dim);
  return out;
}

StatusOr<std::vector<float>> ClipModel::embed_texts(std::span<const std::string> texts) const {
  if (tokenizer_ == nullptr) return embed_text("").status();  // the no-tokenizer error
  const size_t e = hparams_.embed_dim;
  std::vector<int32_t> tokens;
  for (const std::string& text : texts) {
    XRS_ASSIGN_OR_RETURN(std::vector<int32_t> t,
                         tokenizer_->tokenize(text, /*truncate=*/true, hparams_.context_length));
    tokens.insert(tokens.end(), t.begin(), t.end());
  }
  std::vector<float> out(texts.size() * e);
  if (texts.empty()) return out;
  XRS_RETURN_IF_ERROR(encode_texts(tokens, static_cast<int>(texts.size()), out));
  l2_normalize_rows(out.data(), static_cast<int>(texts.size()), static_cast<int>(e));
  return out;
}

StatusOr<std::vector<float>> ClipModel::embed_text_ensemble(
    std::string_view text, std::span<const std::string> templates) const {
  if (templates.empty()) return embed_text(text);
  std::vector<std::string> prompts;
  prompts.reserve(templates.size());
  for (const std::string& t : templates) prompts.push_back(apply_prompt_template(t, text));
  XRS_ASSIGN_OR_RETURN(const std::vector<float> rows, embed_texts(prompts));
  const size_t e = hparams_.embed_dim;
  std::vector<double> sum(e, 0.0);
  for (size_t r = 0; r < prompts.size(); ++r) {
    for (size_t j = 0; j < e; ++j) sum[j] += rows[r * e + j];
  }
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  if (!(norm > 0)) {
    return Status::invalid_argument("the prompt ensemble of the text query cancels out");
  }
  std::vector<float> out(e);
  for (size_t j = 0; j < e; ++j) out[j] = static_cast<float>(sum[j] / norm);
  return out;
}

void ClipModel::debug_vision_activations(std::span<const float> pixels, int n,
                                         std::vector<float>& ln_pre,
                                         std::vector<float>& block0) const {
  std::vector<float> out(size_t(n) * hparams_.embed_dim);
  encode_images_forward(*weights_, hparams_, pixels.data(), n, out.data(), &ln_pre, &block0);
}

void ClipModel::debug_text_block0(std::span<const int32_t> tokens, int n,
                                  std::vector<float>& block0) const {
  std::vector<int> eot;
  if (!end_positions(tokens, n, hparams_, eot).is_ok()) return;
  std::vector<float> out(size_t(n) * hparams_.embed_dim);
  encode_texts_forward(*weights_, hparams_, tokens.data(), n, eot.data(), out.data(), &block0);
}

}  // namespace xrs
