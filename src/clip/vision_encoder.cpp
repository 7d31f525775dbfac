#include <cstring>

#include "clip/encoder_block.h"
#include "clip/encoders.h"
#include "clip/ops.h"

namespace xrs {

void encode_images_forward(const ClipWeights& w, const ClipHParams& h, const float* pixels, int n,
                           float* out, std::vector<float>* ln_pre_out,
                           std::vector<float>* block0_out) {
  const VisionWeights& v = w.vision;
  const int S = h.image_size, P = h.patch_size, G = h.grid(), T = h.vision_tokens();
  const int W = h.vision.width, K = h.patch_dim(), rows = n * T;

  // im2col: one row per patch, (channel, ky, kx) order like conv1's weight.
  std::vector<float> patches(size_t(n) * G * G * K);
  for (int b = 0; b < n; ++b) {
    for (int gy = 0; gy < G; ++gy) {
      for (int gx = 0; gx < G; ++gx) {
        float* dst = patches.data() + (size_t(b) * G * G + gy * G + gx) * K;
        for (int c = 0; c < 3; ++c) {
          const float* plane = pixels + (size_t(b) * 3 + c) * S * S;
          for (int ky = 0; ky < P; ++ky) {
            std::memcpy(dst + (c * P + ky) * P, plane + size_t(gy * P + ky) * S + gx * P,
                        sizeof(float) * P);
          }
        }
      }
    }
  }
  // Patch embeddings land in rows 1.. of each sequence; row 0 is the class token.
  std::vector<float> x(size_t(rows) * W);
  for (int b = 0; b < n; ++b) {
    gemm(G * G, W, K, 1.0f, patches.data() + size_t(b) * G * G * K, K, v.patch_weight.data, K, true,
         0.0f, x.data() + (size_t(b) * T + 1) * W, W);
    float* seq = x.data() + size_t(b) * T * W;
    for (int c = 0; c < W; ++c) seq[c] = v.class_embedding.data[c];
    for (int t = 0; t < T; ++t) {
      for (int c = 0; c < W; ++c) seq[t * W + c] += v.positional_embedding.data[t * W + c];
    }
  }
  patches = {};
  layer_norm(x.data(), rows, W, W, v.ln_pre_weight.data, v.ln_pre_bias.data, h.layer_norm_eps,
             x.data(), W);
  if (ln_pre_out != nullptr) *ln_pre_out = x;

  BlockScratch scratch(rows, T, h.vision);
  for (size_t l = 0; l < v.blocks.size(); ++l) {
    residual_block(v.blocks[l], h.vision, h.activation, h.layer_norm_eps, false, n, T, x.data(),
                   scratch);
    if (l == 0 && block0_out != nullptr) *block0_out = x;
  }
  // ln_post on each class token, then the projection.
  std::vector<float> pooled(size_t(n) * W);
  layer_norm(x.data(), n, W, T * W, v.ln_post_weight.data, v.ln_post_bias.data, h.layer_norm_eps,
             pooled.data(), W);
  gemm(n, h.embed_dim, W, 1.0f, pooled.data(), W, v.projection.data, W, true, 0.0f, out,
       h.embed_dim);
}

}  // namespace xrs
