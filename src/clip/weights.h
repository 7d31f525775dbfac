// CLIP weights in the engine's canonical layout, from any supported checkpoint.
//
// Every matrix is float32, row-major, in PyTorch nn.Linear layout [out, in] (y = x W^T + b), so
// that one GEMM call shape serves every product. Tensors that are float32 and contiguous in the
// file are used in place from the memory map (no copy); the rest (float16, bfloat16, Hugging
// Face's separate q/k/v, OpenAI's [in, out] projections) are converted once at load time into
// buffers the ClipWeights owns. Immutable after load; safe to share between threads.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "clip/checkpoint/hparams.h"
#include "clip/checkpoint/tensor_archive.h"
#include "clip/checkpoint/tensor_names.h"
#include "core/status.h"
#include "kernels/gemm.h"

namespace xrs {

// A read-only float32 matrix, row-major, rows x cols, no padding. `packed`, when set, is the same
// matrix stored for a lower-precision tier (kernels/gemm.h); linear() (ops.h) then uses it.
// `f16`, when set, holds the matrix as IEEE float16 (rows x cols) and `data` is null: only where
// every value is exactly a float16 (OpenAI's checkpoints), so widening gives the float32 values
// back bit for bit (ClipModel::load, text tower).
struct Mat {
  const float* data = nullptr;
  int rows = 0;
  int cols = 0;
  const kernels::PackedWeight* packed = nullptr;
  const uint16_t* f16 = nullptr;
};

// A read-only float32 vector.
struct Vec {
  const float* data = nullptr;
  int size = 0;
};

// One pre-LayerNorm residual attention block (OpenAI's ResidualAttentionBlock). The comment
// after each field is its OpenAI/OpenCLIP checkpoint name under "<tower>resblocks.<i>."
// (clip/checkpoint/tensor_names.h has both conventions).
struct BlockWeights {
  Vec ln_1_weight, ln_1_bias;  // ln_1.{weight,bias}                [W]
  Mat attn_in_weight;          // attn.in_proj_weight (q; k; v)      [3W, W]
  Vec attn_in_bias;            // attn.in_proj_bias                  [3W]
  Mat attn_out_weight;         // attn.out_proj.weight               [W, W]
  Vec attn_out_bias;           // attn.out_proj.bias                 [W]
  Vec ln_2_weight, ln_2_bias;  // ln_2.{weight,bias}                [W]
  Mat mlp_fc_weight;           // mlp.c_fc.weight                    [M, W]
  Vec mlp_fc_bias;             // mlp.c_fc.bias                      [M]
  Mat mlp_proj_weight;         // mlp.c_proj.weight                  [W, M]
  Vec mlp_proj_bias;           // mlp.c_proj.bias                    [W]
};

struct VisionWeights {
  Mat patch_weight;                  // visual.conv1.weight [W, 3, P, P] as [W, 3*P*P] (no bias)
  Vec class_embedding;               // visual.class_embedding [W]
  Mat positional_embedding;          // visual.positional_embedding [grid^2 + 1, W]
  Vec ln_pre_weight, ln_pre_bias;    // visual.ln_pre
  std::vector<BlockWeights> blocks;  // visual.transformer.resblocks.*
  Vec ln_post_weight, ln_post_bias;  // visual.ln_post
  Mat projection;                    // visual.proj [W, E] stored transposed as [E, W]
};

struct TextWeights {
  Mat token_embedding;                 // token_embedding.weight [vocab, W]
  Mat positional_embedding;            // positional_embedding [context, W]
  std::vector<BlockWeights> blocks;    // transformer.resblocks.*
  Vec ln_final_weight, ln_final_bias;  // ln_final
  Mat projection;                      // text_projection [W, E] stored transposed as [E, W]
};

struct ClipWeights {
  VisionWeights vision;
  TextWeights text;
  float logit_scale = 0;  // log of the learned temperature

  // Dtypes found in the file, e.g. "F16+F32", and the number of parameters.
  std::string source_dtypes;
  int64_t parameter_count = 0;

  // Keep the memory map (tensors used in place) and the converted buffers alive.
  std::shared_ptr<const TensorArchive> archive;
  std::deque<std::vector<float>> owned;  // deque: references stay valid as it grows
  // The vision tower's linear layers in a lower precision (ClipLoadOptions::precision).
  std::vector<std::unique_ptr<kernels::PackedWeight>> packed;
  // The text tower's linear layers kept as float16 (Mat::f16).
  std::deque<std::vector<uint16_t>> owned16;
};

// Maps the archive's tensors onto `hparams`: every expected tensor must be present with exactly
// the expected shape, else kCorruption / kNotFound naming the file and tensor.
StatusOr<std::unique_ptr<ClipWeights>> load_clip_weights(
    std::shared_ptr<const TensorArchive> archive, WeightNaming naming, const ClipHParams& hparams);

}  // namespace xrs
