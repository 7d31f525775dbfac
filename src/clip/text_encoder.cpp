#include <algorithm>
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

}  // namespace xrs
