#include "clip/weights.h"

#include <cstring>
#include <set>

namespace xrs {

namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Fetches tensors by name with shape checks. The first failure is kept in `status` and later
// calls become no-ops, so that a whole table of tensors reads as a flat list.
class Loader {
 public:
  Loader(const TensorArchive& archive, ClipWeights& weights) : archive_(archive), w_(weights) {}

  Status status;

  Mat mat(const std::string& name, std::vector<int64_t> shape) {
    const float* p = floats(name, shape);
    int64_t cols = 1;
    for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
    return {p, static_cast<int>(shape[0]), static_cast<int>(cols)};
  }
  Vec vec(const std::string& name, int64_t size) {
    return {floats(name, {size}), static_cast<int>(size)};
  }
  float scalar(const std::string& name) {
    const TensorView* v = view(name, {});
    if (v == nullptr) return 0;
    float f = 0;
    Status s = TensorArchive::to_float(*v, {&f, 1});
    if (!s.is_ok()) fail(s.with_context(archive_.path() + ": tensor '" + name + "'"));
    return f;
  }
  // A [rows, cols] tensor stored transposed as [cols, rows] (OpenAI's x @ proj matrices).
  Mat transposed(const std::string& name, int64_t rows, int64_t cols) {
    std::vector<float> src = copy(name, {rows, cols});
    if (src.empty()) return {};
    std::vector<float>& dst = own(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
    }
    return {dst.data(), static_cast<int>(cols), static_cast<int>(rows)};
  }
  // Several [rows_i, cols] tensors stacked along rows into one matrix (Hugging Face q, k, v).
  Mat stacked(const std::vector<std::string>& names, int64_t rows, int64_t cols) {
    std::vector<float>& dst = own(size_t(names.size() * rows * cols));
    for (size_t i = 0; i < names.size(); ++i) {
      std::vector<float> src =
          copy(names[i], cols == 1 ? std::vector<int64_t>{rows} : std::vector<int64_t>{rows, cols});
      if (src.empty()) return {};
      std::memcpy(dst.data() + i * rows * cols, src.data(), src.size() * sizeof(float));
    }
    return {dst.data(), static_cast<int>(names.size() * rows), static_cast<int>(cols)};
  }

  void finish() {
    std::string dtypes;
    for (const std::string& d : dtypes_) dtypes += (dtypes.empty() ? "" : "+") + d;
    w_.source_dtypes = dtypes;
    w_.parameter_count = parameters_;
  }

 private:
  void fail(Status s) {
    if (status.is_ok()) status = std::move(s);
  }

  const TensorView* view(const std::string& name, const std::vector<int64_t>& shape) {
    if (!status.is_ok()) return nullptr;
    const TensorView* v = archive_.find(name);
    if (v == nullptr) {
      fail(Status::not_found(archive_.path() + ": tensor '" + name + "' is missing"));
      return nullptr;
    }
    if (v->shape != shape) {
      fail(Status::corruption(archive_.path() + ": tensor '" + name + "' has shape " +
                              shape_string(v->shape) + ", expected " + shape_string(shape)));
      return nullptr;
    }
    if (v->dtype != DType::kF32 && v->dtype != DType::kF16 && v->dtype != DType::kBF16) {
      fail(Status::unsupported(archive_.path() + ": tensor '" + name + "' has dtype " +
                               std::string(dtype_name(v->dtype)) +
                               "; only F32, F16 and BF16 weights are supported"));
      return nullptr;
    }
    if (used_.insert(name).second) {
      dtypes_.insert(std::string(dtype_name(v->dtype)));
      parameters_ += v->numel();
    }
    return v;
  }

  std::vector<float>& own(size_t n) {
    w_.owned.emplace_back(n);
    return w_.owned.back();
  }

  std::vector<float> copy(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* v = view(name, shape);
    if (v == nullptr) return {};
    std::vector<float> out(static_cast<size_t>(v->numel()));
    Status s = TensorArchive::to_float(*v, out);
    if (!s.is_ok()) {
      fail(s.with_context(archive_.path() + ": tensor '" + name + "'"));
      return {};
    }
    return out;
  }

  const float* floats(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorView* v = view(name, shape);
    if (v == nullptr) return nullptr;
    // float32, contiguous and aligned: use the mapped bytes in place.
    if (v->dtype == DType::kF32 && v->is_contiguous() &&
        reinterpret_cast<uintptr_t>(v->data.data()) % alignof(float) == 0) {
      return reinterpret_cast<const float*>(v->data.data());
    }
    std::vector<float> converted = copy(name, shape);
    if (converted.empty() && v->numel() != 0) return nullptr;
    w_.owned.push_back(std::move(converted));
    return w_.owned.back().data();
  }

  const TensorArchive& archive_;
  ClipWeights& w_;
  std::set<std::string> used_;
  std::set<std::string> dtypes_;
  int64_t parameters_ = 0;
};

// One block, in either naming: OpenAI's fused attention input projection is used as is, Hugging
// Face's separate q, k and v are stacked into the same [3W, W] layout.
void load_block(Loader& l, WeightNaming naming, Tower tower, int layer, const TowerHParams& t,
                BlockWeights& b) {
  const int64_t W = t.width, M = t.mlp_width;
  auto name = [&](BlockTensor id) { return block_tensor_name(naming, tower, layer, id); };
  using B = BlockTensor;
  b.ln_1_weight = l.vec(name(B::kLn1Weight), W);
  b.ln_1_bias = l.vec(name(B::kLn1Bias), W);
  if (naming == WeightNaming::kOpenAI) {
    b.attn_in_weight = l.mat(name(B::kAttnInWeight), {3 * W, W});
    b.attn_in_bias = l.vec(name(B::kAttnInBias), 3 * W);
  } else {
    b.attn_in_weight =
        l.stacked({name(B::kAttnQWeight), name(B::kAttnKWeight), name(B::kAttnVWeight)}, W, W);
    Mat bias = l.stacked({name(B::kAttnQBias), name(B::kAttnKBias), name(B::kAttnVBias)}, W, 1);
    b.attn_in_bias = {bias.data, static_cast<int>(3 * W)};
  }
  b.attn_out_weight = l.mat(name(B::kAttnOutWeight), {W, W});
  b.attn_out_bias = l.vec(name(B::kAttnOutBias), W);
  b.ln_2_weight = l.vec(name(B::kLn2Weight), W);
  b.ln_2_bias = l.vec(name(B::kLn2Bias), W);
  b.mlp_fc_weight = l.mat(name(B::kMlpFcWeight), {M, W});
  b.mlp_fc_bias = l.vec(name(B::kMlpFcBias), M);
  b.mlp_proj_weight = l.mat(name(B::kMlpProjWeight), {W, M});
  b.mlp_proj_bias = l.vec(name(B::kMlpProjBias), W);
}

// A projection to the joint space as [E, W]: transposed once where the checkpoint stores it as
// [W, E] (OpenAI), in place where it is already nn.Linear-shaped (Hugging Face).
Mat projection(Loader& l, WeightNaming naming, ModelTensor id, int64_t W, int64_t E) {
  if (is_stored_transposed(naming, id)) return l.transposed(tensor_name(naming, id), W, E);
  return l.mat(tensor_name(naming, id), {E, W});
}

void load_all(Loader& l, WeightNaming naming, const ClipHParams& h, ClipWeights& w) {
  const int64_t VW = h.vision.width, TW = h.text.width, E = h.embed_dim, P = h.patch_size;
  auto name = [&](ModelTensor id) { return tensor_name(naming, id); };
  using T = ModelTensor;
  VisionWeights& v = w.vision;
  v.patch_weight = l.mat(name(T::kPatchEmbedding), {VW, 3, P, P});
  v.class_embedding = l.vec(name(T::kClassEmbedding), VW);
  v.positional_embedding = l.mat(name(T::kVisionPositionalEmbedding), {h.vision_tokens(), VW});
  v.ln_pre_weight = l.vec(name(T::kLnPreWeight), VW);
  v.ln_pre_bias = l.vec(name(T::kLnPreBias), VW);
  v.blocks.resize(h.vision.layers);
  for (int i = 0; i < h.vision.layers; ++i) {
    load_block(l, naming, Tower::kVision, i, h.vision, v.blocks[i]);
  }
  v.ln_post_weight = l.vec(name(T::kLnPostWeight), VW);
  v.ln_post_bias = l.vec(name(T::kLnPostBias), VW);
  v.projection = projection(l, naming, T::kVisionProjection, VW, E);

  TextWeights& t = w.text;
  t.token_embedding = l.mat(name(T::kTokenEmbedding), {h.vocab_size, TW});
  t.positional_embedding = l.mat(name(T::kTextPositionalEmbedding), {h.context_length, TW});
  t.blocks.resize(h.text.layers);
  for (int i = 0; i < h.text.layers; ++i) {
    load_block(l, naming, Tower::kText, i, h.text, t.blocks[i]);
  }
  t.ln_final_weight = l.vec(name(T::kLnFinalWeight), TW);
  t.ln_final_bias = l.vec(name(T::kLnFinalBias), TW);
  t.projection = projection(l, naming, T::kTextProjection, TW, E);
  w.logit_scale = l.scalar(name(T::kLogitScale));
}

}  // namespace

StatusOr<std::unique_ptr<ClipWeights>> load_clip_weights(
    std::shared_ptr<const TensorArchive> archive, WeightNaming naming, const ClipHParams& hparams) {
  XRS_RETURN_IF_ERROR(hparams.validate().with_context(archive->path()));
  auto weights = std::make_unique<ClipWeights>();
  weights->archive = archive;
  Loader loader(*archive, *weights);
  load_all(loader, naming, hparams, *weights);
  XRS_RETURN_IF_ERROR(loader.status);
  loader.finish();
  return weights;
}

}  // namespace xrs
