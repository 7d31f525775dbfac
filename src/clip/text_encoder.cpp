#include <algorithm>
#include <cmath>
#include <cstring>

#include "clip/encoder_block.h"
#include "clip/encoders.h"
#include "clip/ops.h"

namespace xrs {

void encode_texts_forward(const ClipWeights& w, const ClipHParams& h, const int32_t* tokens, int n,
                          const int* eot, float* out, std::vector<float>* block0_out) {
  const TextWeights& t = w.text;
  const int W = h.text.width, C = h.context_length;
  // Every sequence is cut to the longest end-token position in the batch.
  const int L = block0_out != nullptr ? C : *std::max_element(eot, eot + n) + 1;
  const int rows = n * L;

  std::vector<float> x(size_t(rows) * W);
  for (int b = 0; b < n; ++b) {
    for (int i = 0; i < L; ++i) {
      const float* tok = t.token_embedding.data + size_t(tokens[size_t(b) * C + i]) * W;
      const float* pos = t.positional_embedding.data + size_t(i) * W;
      float* dst = x.data() + (size_t(b) * L + i) * W;
      for (int c = 0; c < W; ++c) dst[c] = tok[c] + pos[c];
    }
  }
  BlockScratch scratch(rows, L, h.text);
  for (size_t l = 0; l < t.blocks.size(); ++l) {
    residual_block(t.blocks[l], h.text, h.activation, h.layer_norm_eps, true, n, L, x.data(),
                   scratch);
    if (l == 0 && block0_out != nullptr) *block0_out = x;
  }
  std::vector<float> pooled(size_t(n) * W);
  for (int b = 0; b < n; ++b) {
    layer_norm(x.data() + (size_t(b) * L + eot[b]) * W, 1, W, W, t.ln_final_weight.data,
               t.ln_final_bias.data, h.layer_norm_eps, pooled.data() + size_t(b) * W, W);
  }
  gemm(n, h.embed_dim, W, 1.0f, pooled.data(), W, t.projection.data, W, true, 0.0f, out,
       h.embed_dim);
}

namespace {

// The text tower over n sequences of `len` rows each, sequence b continuing prefixes[b] (may be
// nullptr), rows at positions prefix length + i. x: n * len x W, the token + position embeddings on
// entry, the last block's output on return. With `capture` (n == 1, no prefix), every layer's keys
// and values are kept.
void forward_after_prefix(const ClipWeights& w, const ClipHParams& h,
                          const TextPrefix* const* prefixes, int n, int len, float* x,
                          TextPrefix* capture) {
  const TowerHParams& t = h.text;
  const int W = t.width, M = t.mlp_width, rows = n * len;
  const int head_dim = W / t.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  int max_prefix = 0;
  for (int b = 0; b < n; ++b) {
    if (prefixes[b] != nullptr) max_prefix = std::max(max_prefix, prefixes[b]->length);
  }
  const int layers = static_cast<int>(w.text.blocks.size());
  if (capture != nullptr) {
    capture->length = len;
    capture->k.assign(size_t(layers) * len * W, 0.0f);
    capture->v.assign(size_t(layers) * len * W, 0.0f);
  }
  std::vector<float> normed(size_t(rows) * W), qkv(size_t(rows) * 3 * W), attn(size_t(rows) * W),
      hidden(size_t(rows) * M), scores(size_t(len) * (max_prefix + len));
  for (int l = 0; l < layers; ++l) {
    const BlockWeights& bw = w.text.blocks[l];
    layer_norm(x, rows, W, W, bw.ln_1_weight.data, bw.ln_1_bias.data, h.layer_norm_eps,
               normed.data(), W);
    linear(rows, normed.data(), W, bw.attn_in_weight, 0.0f, qkv.data(), 3 * W);
    add_bias(qkv.data(), rows, 3 * W, 3 * W, bw.attn_in_bias.data);
    if (capture != nullptr) {
      for (int r = 0; r < len; ++r) {
        const float* row = qkv.data() + size_t(r) * 3 * W;
        std::memcpy(capture->k.data() + (size_t(l) * len + r) * W, row + W, W * sizeof(float));
        std::memcpy(capture->v.data() + (size_t(l) * len + r) * W, row + 2 * W, W * sizeof(float));
      }
    }
    for (int b = 0; b < n; ++b) {
      const TextPrefix* prefix = prefixes[b];
      const int P = prefix != nullptr ? prefix->length : 0;
      const int ld = P + len;
      const float* seq = qkv.data() + size_t(b) * len * 3 * W;
      for (int hd = 0; hd < t.heads; ++hd) {
        const int off = hd * head_dim;
        const float* q = seq + off;
        // Scores against the prefix's keys, then the sequence's own (causal: row i sees the whole
        // prefix and its rows 0..i).
        if (P > 0) {
          gemm(len, P, head_dim, scale, q, 3 * W, prefix->k.data() + size_t(l) * P * W + off, W,
               true, 0.0f, scores.data(), ld);
        }
        gemm(len, len, head_dim, scale, q, 3 * W, q + W, 3 * W, true, 0.0f, scores.data() + P, ld);
        for (int i = 0; i < len; ++i) {
          float* row = scores.data() + size_t(i) * ld;
          const int valid = P + i + 1;
          softmax_rows(row, 1, valid, ld, false);
          std::fill(row + valid, row + ld, 0.0f);
        }
        float* dst = attn.data() + size_t(b) * len * W + off;
        if (P > 0) {
          gemm(len, head_dim, P, 1.0f, scores.data(), ld,
               prefix->v.data() + size_t(l) * P * W + off, W, false, 0.0f, dst, W);
        }
        gemm(len, head_dim, len, 1.0f, scores.data() + P, ld, q + 2 * W, 3 * W, false,
             P > 0 ? 1.0f : 0.0f, dst, W);
      }
    }
    linear(rows, attn.data(), W, bw.attn_out_weight, 1.0f, x, W);
    add_bias(x, rows, W, W, bw.attn_out_bias.data);
    layer_norm(x, rows, W, W, bw.ln_2_weight.data, bw.ln_2_bias.data, h.layer_norm_eps,
               normed.data(), W);
    linear(rows, normed.data(), W, bw.mlp_fc_weight, 0.0f, hidden.data(), M);
    add_bias_activation(hidden.data(), rows, M, bw.mlp_fc_bias.data, h.activation);
    linear(rows, hidden.data(), M, bw.mlp_proj_weight, 1.0f, x, W);
    add_bias(x, rows, W, W, bw.mlp_proj_bias.data);
  }
}

// Token + position embeddings of n sequences of `len` rows from `tokens` (n x C), row i of
// sequence b at position offsets[b] + i (clamped: rows past the end token are never read).
std::vector<float> embed_tokens(const ClipHParams& h, const TextWeights& t, const int32_t* tokens,
                                int n, int len, const int* offsets) {
  const int W = h.text.width, C = h.context_length;
  std::vector<float> x(size_t(n) * len * W);
  for (int b = 0; b < n; ++b) {
    for (int i = 0; i < len; ++i) {
      const int pos = std::min(C - 1, offsets[b] + i);
      const float* tok = t.token_embedding.data + size_t(tokens[size_t(b) * C + i]) * W;
      const float* pe = t.positional_embedding.data + size_t(pos) * W;
      float* dst = x.data() + (size_t(b) * len + i) * W;
      for (int c = 0; c < W; ++c) dst[c] = tok[c] + pe[c];
    }
  }
  return x;
}

}  // namespace

void encode_text_prefix(const ClipWeights& w, const ClipHParams& h, const int32_t* tokens,
                        int length, TextPrefix& out) {
  const int C = h.context_length;
  std::vector<int32_t> padded(C, 0);
  std::copy(tokens, tokens + std::min(length, C), padded.begin());
  const int zero = 0;
  std::vector<float> x = embed_tokens(h, w.text, padded.data(), 1, length, &zero);
  const TextPrefix* none = nullptr;
  forward_after_prefix(w, h, &none, 1, length, x.data(), &out);
}

void encode_texts_after_prefix(const ClipWeights& w, const ClipHParams& h,
                               const TextPrefix* const* prefixes, const int32_t* tokens, int n,
                               const int* eot, float* out) {
  const TextWeights& t = w.text;
  const int W = h.text.width;
  const int len = *std::max_element(eot, eot + n) + 1;
  std::vector<int> offsets(n);
  for (int b = 0; b < n; ++b) offsets[b] = prefixes[b] != nullptr ? prefixes[b]->length : 0;
  std::vector<float> x = embed_tokens(h, t, tokens, n, len, offsets.data());
  forward_after_prefix(w, h, prefixes, n, len, x.data(), nullptr);
  std::vector<float> pooled(size_t(n) * W);
  for (int b = 0; b < n; ++b) {
    layer_norm(x.data() + (size_t(b) * len + eot[b]) * W, 1, W, W, t.ln_final_weight.data,
               t.ln_final_bias.data, h.layer_norm_eps, pooled.data() + size_t(b) * W, W);
  }
  gemm(n, h.embed_dim, W, 1.0f, pooled.data(), W, t.projection.data, W, true, 0.0f, out,
       h.embed_dim);
}

}  // namespace xrs
