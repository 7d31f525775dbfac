// The pre-LayerNorm residual attention block shared by both towers (OpenAI's
// ResidualAttentionBlock; Hugging Face's CLIPEncoderLayer computes the same thing):
//
//   x = x + out_proj(MultiHeadAttention(ln_1(x)))      causal in the text tower
//   x = x + c_proj(act(c_fc(ln_2(x))))
#pragma once

#include <vector>

#include "clip/checkpoint/hparams.h"
#include "clip/weights.h"

namespace xrs {

// Per-call scratch for a block over `rows` = batch * tokens rows. Sized once per forward pass
// and reused by every layer; not shared between threads.
struct BlockScratch {
  BlockScratch(int rows, int tokens, const TowerHParams& tower);
  std::vector<float> normed;  // rows x W      ln output
  std::vector<float> qkv;     // rows x 3W     q | k | v per row
  std::vector<float> attn;    // rows x W      heads concatenated
  std::vector<float> hidden;  // rows x M      MLP hidden
  std::vector<float> scores;  // tokens x tokens
};

// Runs one block in place on x: batch sequences of `tokens` rows each, rows x W, row-major.
void residual_block(const BlockWeights& w, const TowerHParams& tower, Activation act, float eps,
                    bool causal, int batch, int tokens, float* x, BlockScratch& scratch);

}  // namespace xrs
