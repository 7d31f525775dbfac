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

// Sequence b's rows of a packed batch: start[b] .. start[b + 1].
std::vector<int> row_starts(const int* lengths, int n) {
  std::vector<int> start(n + 1, 0);
  for (int b = 0; b < n; ++b) start[b + 1] = start[b] + lengths[b];
  return start;
}

// One head's causal attention for `len` query rows continuing a prefix of P rows: row i sees the
// prefix's keys and values (pk, pv, row stride W) and its own sequence's rows 0..i (k, v, row
// stride 3W, like q). out (row stride W) = softmax(scale · q · keysᵀ) · values, for query rows
// first..len (the others are not written). `scores` holds at least P + len floats.
void attend(int len, int P, int head_dim, float scale, const float* q, const float* k,
            const float* v, const float* pk, const float* pv, int W, float* scores, float* out,
            int first = 0) {
  const int ld = 3 * W;
  for (int i = first; i < len; ++i) {
    const float* qi = q + size_t(i) * ld;
    const int valid = P + i + 1;
    for (int j = 0; j < valid; ++j) {
      const float* kj = j < P ? pk + size_t(j) * W : k + size_t(j - P) * ld;
      scores[j] = scale * dot(qi, kj, head_dim);
    }
    softmax_rows(scores, 1, valid, valid, false);
    float* o = out + size_t(i) * W;
    std::fill(o, o + head_dim, 0.0f);
    for (int j = 0; j < valid; ++j) {
      const float* vj = j < P ? pv + size_t(j) * W : v + size_t(j - P) * ld;
      const float p = scores[j];
      for (int c = 0; c < head_dim; ++c) o[c] += p * vj[c];
    }
  }
}

// The last block of forward_after_prefix for each sequence's last row only: keys and values of
// every row (attention needs them), then attention, output projection, MLP and residuals of the n
// last rows, written back to those rows of x.
void last_block_last_rows(const BlockWeights& bw, const ClipHParams& h,
                          const TextPrefix* const* prefixes, int n, const int* lengths,
                          const std::vector<int>& start, int l, float* x,
                          std::vector<float>& normed, std::vector<float>& qkv,
                          std::vector<float>& attn, std::vector<float>& hidden,
                          std::vector<float>& scores) {
  const TowerHParams& t = h.text;
  const int W = t.width, M = t.mlp_width, rows = start[n];
  const int head_dim = W / t.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  layer_norm(x, rows, W, W, bw.ln_1_weight.data, bw.ln_1_bias.data, h.layer_norm_eps, normed.data(),
             W);
  linear(rows, normed.data(), W, bw.attn_in_weight, 0.0f, qkv.data(), 3 * W);
  add_bias(qkv.data(), rows, 3 * W, 3 * W, bw.attn_in_bias.data);
  // last: the n last rows of x, attn_last: their attention outputs, packed.
  std::vector<float> last(size_t(n) * W), attn_last(size_t(n) * W);
  for (int b = 0; b < n; ++b) {
    const TextPrefix* prefix = prefixes[b];
    const int P = prefix != nullptr ? prefix->length : 0;
    const int len = lengths[b];
    const float* seq = qkv.data() + size_t(start[b]) * 3 * W;
    const float* pk = P > 0 ? prefix->k.data() + size_t(l) * P * W : nullptr;
    const float* pv = P > 0 ? prefix->v.data() + size_t(l) * P * W : nullptr;
    for (int hd = 0; hd < t.heads; ++hd) {
      const int off = hd * head_dim;
      attend(len, P, head_dim, scale, seq + off, seq + W + off, seq + 2 * W + off,
             P > 0 ? pk + off : nullptr, P > 0 ? pv + off : nullptr, W, scores.data(),
             attn.data() + size_t(start[b]) * W + off, len - 1);
    }
    const size_t row = size_t(start[b]) + len - 1;
    std::memcpy(attn_last.data() + size_t(b) * W, attn.data() + row * W, W * sizeof(float));
    std::memcpy(last.data() + size_t(b) * W, x + row * W, W * sizeof(float));
  }
  linear(n, attn_last.data(), W, bw.attn_out_weight, 1.0f, last.data(), W);
  add_bias(last.data(), n, W, W, bw.attn_out_bias.data);
  layer_norm(last.data(), n, W, W, bw.ln_2_weight.data, bw.ln_2_bias.data, h.layer_norm_eps,
             normed.data(), W);
  linear(n, normed.data(), W, bw.mlp_fc_weight, 0.0f, hidden.data(), M);
  add_bias_activation(hidden.data(), n, M, bw.mlp_fc_bias.data, h.activation);
  linear(n, hidden.data(), M, bw.mlp_proj_weight, 1.0f, last.data(), W);
  add_bias(last.data(), n, W, W, bw.mlp_proj_bias.data);
  for (int b = 0; b < n; ++b) {
    std::memcpy(x + (size_t(start[b]) + lengths[b] - 1) * W, last.data() + size_t(b) * W,
                W * sizeof(float));
  }
}

// The text tower over n sequences packed one after the other (no padding rows: the linear layers
// see sum(lengths) rows, attention runs per sequence), sequence b continuing prefixes[b] (may be
// nullptr), its rows at positions prefix length + i. x: sum(lengths) x W, the token + position
// embeddings on entry, the last block's output on return. With `capture` (n == 1, no prefix),
// every layer's keys and values are kept. Without it only each sequence's last row of the output
// is computed (the end token's, the only one pooled): the last block runs its attention, output
// projection and MLP on those n rows alone, and the other rows of x hold the previous block's
// output on return.
void forward_after_prefix(const ClipWeights& w, const ClipHParams& h,
                          const TextPrefix* const* prefixes, int n, const int* lengths, float* x,
                          TextPrefix* capture) {
  const TowerHParams& t = h.text;
  const std::vector<int> start = row_starts(lengths, n);
  const int W = t.width, M = t.mlp_width, rows = start[n];
  const int head_dim = W / t.heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  int max_context = 0;
  for (int b = 0; b < n; ++b) {
    max_context =
        std::max(max_context, (prefixes[b] != nullptr ? prefixes[b]->length : 0) + lengths[b]);
  }
  const int layers = static_cast<int>(w.text.blocks.size());
  if (capture != nullptr) {
    capture->length = rows;
    capture->k.assign(size_t(layers) * rows * W, 0.0f);
    capture->v.assign(size_t(layers) * rows * W, 0.0f);
  }
  std::vector<float> normed(size_t(rows) * W), qkv(size_t(rows) * 3 * W), attn(size_t(rows) * W),
      hidden(size_t(rows) * M), scores(max_context);
  for (int l = 0; l < layers; ++l) {
    const BlockWeights& bw = w.text.blocks[l];
    if (l == layers - 1 && capture == nullptr) {
      last_block_last_rows(bw, h, prefixes, n, lengths, start, l, x, normed, qkv, attn, hidden,
                           scores);
      break;
    }
    layer_norm(x, rows, W, W, bw.ln_1_weight.data, bw.ln_1_bias.data, h.layer_norm_eps,
               normed.data(), W);
    linear(rows, normed.data(), W, bw.attn_in_weight, 0.0f, qkv.data(), 3 * W);
    add_bias(qkv.data(), rows, 3 * W, 3 * W, bw.attn_in_bias.data);
    if (capture != nullptr) {
      for (int r = 0; r < rows; ++r) {
        const float* row = qkv.data() + size_t(r) * 3 * W;
        std::memcpy(capture->k.data() + (size_t(l) * rows + r) * W, row + W, W * sizeof(float));
        std::memcpy(capture->v.data() + (size_t(l) * rows + r) * W, row + 2 * W, W * sizeof(float));
      }
    }
    for (int b = 0; b < n; ++b) {
      const TextPrefix* prefix = prefixes[b];
      const int P = prefix != nullptr ? prefix->length : 0;
      const float* seq = qkv.data() + size_t(start[b]) * 3 * W;
      const float* pk = P > 0 ? prefix->k.data() + size_t(l) * P * W : nullptr;
      const float* pv = P > 0 ? prefix->v.data() + size_t(l) * P * W : nullptr;
      for (int hd = 0; hd < t.heads; ++hd) {
        const int off = hd * head_dim;
        attend(lengths[b], P, head_dim, scale, seq + off, seq + W + off, seq + 2 * W + off,
               P > 0 ? pk + off : nullptr, P > 0 ? pv + off : nullptr, W, scores.data(),
               attn.data() + size_t(start[b]) * W + off);
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

// Token + position embeddings of n packed sequences from `tokens` (n x C): sequence b's
// lengths[b] rows, row i at position offsets[b] + i.
std::vector<float> embed_tokens(const ClipHParams& h, const TextWeights& t, const int32_t* tokens,
                                int n, const int* lengths, const int* offsets) {
  const int W = h.text.width, C = h.context_length;
  const std::vector<int> start = row_starts(lengths, n);
  std::vector<float> x(size_t(start[n]) * W);
  for (int b = 0; b < n; ++b) {
    for (int i = 0; i < lengths[b]; ++i) {
      const float* tok = t.token_embedding.data + size_t(tokens[size_t(b) * C + i]) * W;
      const float* pe = t.positional_embedding.data + size_t(offsets[b] + i) * W;
      float* dst = x.data() + (size_t(start[b]) + i) * W;
      for (int c = 0; c < W; ++c) dst[c] = tok[c] + pe[c];
    }
  }
  return x;
}

}  // namespace

void encode_text_prefix(const ClipWeights& w, const ClipHParams& h, const int32_t* tokens,
                        int length, TextPrefix& out) {
  const int C = h.context_length;
  length = std::min(length, C);
  std::vector<int32_t> padded(C, 0);
  std::copy(tokens, tokens + length, padded.begin());
  const int zero = 0;
  std::vector<float> x = embed_tokens(h, w.text, padded.data(), 1, &length, &zero);
  const TextPrefix* none = nullptr;
  forward_after_prefix(w, h, &none, 1, &length, x.data(), &out);
}

void encode_texts_after_prefix(const ClipWeights& w, const ClipHParams& h,
                               const TextPrefix* const* prefixes, const int32_t* tokens, int n,
                               const int* eot, float* out) {
  const TextWeights& t = w.text;
  const int W = h.text.width;
  // Each sequence up to its own end token: causal attention makes the rows after it irrelevant.
  std::vector<int> lengths(n), offsets(n);
  for (int b = 0; b < n; ++b) {
    lengths[b] = eot[b] + 1;
    offsets[b] = prefixes[b] != nullptr ? prefixes[b]->length : 0;
  }
  std::vector<float> x = embed_tokens(h, t, tokens, n, lengths.data(), offsets.data());
  forward_after_prefix(w, h, prefixes, n, lengths.data(), x.data(), nullptr);
  const std::vector<int> start = row_starts(lengths.data(), n);
  std::vector<float> pooled(size_t(n) * W);
  for (int b = 0; b < n; ++b) {
    layer_norm(x.data() + (size_t(start[b]) + eot[b]) * W, 1, W, W, t.ln_final_weight.data,
               t.ln_final_bias.data, h.layer_norm_eps, pooled.data() + size_t(b) * W, W);
  }
  gemm(n, h.embed_dim, W, 1.0f, pooled.data(), W, t.projection.data, W, true, 0.0f, out,
       h.embed_dim);
}

}  // namespace xrs
