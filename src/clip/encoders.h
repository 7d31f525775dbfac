// The two towers. Inputs and outputs are plain float arrays; these functions trust their
// arguments (ClipModel validates them) and are pure: safe to run concurrently.
#pragma once

#include <cstdint>
#include <vector>

#include "clip/checkpoint/hparams.h"
#include "clip/weights.h"

namespace xrs {

// pixels: n x 3 x S x S (normalised, channel-first) → out: n x embed_dim (not normalised).
// When `ln_pre_out` is non-null it receives the n x tokens x W activations after ln_pre, and
// `block0_out` those after the first block (for tests against the reference's activations).
void encode_images_forward(const ClipWeights& w, const ClipHParams& h, const float* pixels, int n,
                           float* out, std::vector<float>* ln_pre_out = nullptr,
                           std::vector<float>* block0_out = nullptr);

// tokens: n x context_length ids (start, ..., end, 0 padding), each < vocab_size → out: n x
// embed_dim (not normalised). Only positions up to each sequence's end token are computed: the
// causal mask makes later positions irrelevant to it. `eot` gives each sequence's end-token
// position (the argmax of its ids, as the reference pools).
void encode_texts_forward(const ClipWeights& w, const ClipHParams& h, const int32_t* tokens, int n,
                          const int* eot, float* out, std::vector<float>* block0_out = nullptr);

}  // namespace xrs
