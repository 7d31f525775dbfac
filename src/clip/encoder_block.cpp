#include "clip/encoder_block.h"

#include <cmath>

#include "clip/ops.h"

namespace xrs {

BlockScratch::BlockScratch(int rows, int tokens, const TowerHParams& t)
    : normed(size_t(rows) * t.width),
      qkv(size_t(rows) * 3 * t.width),
      attn(size_t(rows) * t.width),
      hidden(size_t(rows) * t.mlp_width),
      scores(size_t(tokens) * tokens) {}

void residual_block(const BlockWeights& w, const TowerHParams& t, Activation act, float eps,
                    bool causal, int batch, int tokens, float* x, BlockScratch& s) {
  const int W = t.width, M = t.mlp_width, rows = batch * tokens;
  const int head_dim = W / t.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  // Attention.
  layer_norm(x, rows, W, W, w.ln_1_weight.data, w.ln_1_bias.data, eps, s.normed.data(), W);
  linear(rows, s.normed.data(), W, w.attn_in_weight, 0.0f, s.qkv.data(), 3 * W);
  add_bias(s.qkv.data(), rows, 3 * W, 3 * W, w.attn_in_bias.data);
  for (int b = 0; b < batch; ++b) {
    const float* seq = s.qkv.data() + size_t(b) * tokens * 3 * W;
    for (int h = 0; h < t.heads; ++h) {
      const float* q = seq + h * head_dim;
      const float* k = q + W;
      const float* v = q + 2 * W;
      gemm(tokens, tokens, head_dim, scale, q, 3 * W, k, 3 * W, true, 0.0f, s.scores.data(),
           tokens);
      softmax_rows(s.scores.data(), tokens, tokens, tokens, causal);
      gemm(tokens, head_dim, tokens, 1.0f, s.scores.data(), tokens, v, 3 * W, false, 0.0f,
           s.attn.data() + size_t(b) * tokens * W + h * head_dim, W);
    }
  }
  linear(rows, s.attn.data(), W, w.attn_out_weight, 1.0f, x, W);
  add_bias(x, rows, W, W, w.attn_out_bias.data);

  // MLP.
  layer_norm(x, rows, W, W, w.ln_2_weight.data, w.ln_2_bias.data, eps, s.normed.data(), W);
  linear(rows, s.normed.data(), W, w.mlp_fc_weight, 0.0f, s.hidden.data(), M);
  add_bias_activation(s.hidden.data(), rows, M, w.mlp_fc_bias.data, act);
  linear(rows, s.hidden.data(), M, w.mlp_proj_weight, 1.0f, x, W);
  add_bias(x, rows, W, W, w.mlp_proj_bias.data);
}

}  // namespace xrs
