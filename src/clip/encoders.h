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

// A text prefix's keys and values at every layer of the text tower: the causal mask makes a
// prefix's activations independent of what follows it, so a prompt template's fixed beginning
// ("<start> a chest radiograph of") is computed once and reused by every query put into it.
struct TextPrefix {
  int length = 0;           // tokens (the start token included)
  std::vector<float> k, v;  // layers x length x W
};

// Runs `length` tokens (no end token needed) and keeps their keys and values.
void encode_text_prefix(const ClipWeights& w, const ClipHParams& h, const int32_t* tokens,
                        int length, TextPrefix& out);

// n sequences, each continuing prefixes[b] (nullptr: from the start): tokens holds n x
// context_length ids, sequence b's at positions prefix length + i; eot[b] is the end token's index
// in tokens (not counting the prefix). prefix length + eot[b] < context_length. out: n x embed_dim
// (not normalised), equal to encode_texts_forward of the whole sequences.
void encode_texts_after_prefix(const ClipWeights& w, const ClipHParams& h,
                               const TextPrefix* const* prefixes, const int32_t* tokens, int n,
                               const int* eot, float* out);

}  // namespace xrs
