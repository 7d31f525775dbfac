// ModelIdentity: which model produced a set of embeddings. An index records the identity of the
// model it was built with (index/catalog.h), and a query embedded by another model is refused:
// cosine scores between embeddings of different models mean nothing.
//
// The engine computes a loaded model's identity (ClipModel::identity(), clip/clip_model.h); the
// index stores and compares identities. Living in core, the type is shared by both without the
// read side (service) depending on the write side (pipeline). Plain value; thread-safe to read.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace xrs {

// Two identities denote the same model when the weights' SHA-256, the embedding dimension and
// the preprocessing id agree; `name` is a human label ("ViT-B-32") and may differ (a renamed file
// is still the same model).
struct ModelIdentity {
  std::string name;
  std::string weights_sha256;  // 64 lower-case hex digits
  uint32_t dim = 0;            // embedding dimension, 1..65536
  // Everything between an image file and the model's input that changes the embedding, as one
  // id string: e.g. "clip-224-bicubic-centercrop mean=... std=... imaging-1"; any non-empty id.
  std::string preprocessing;

  bool same_model(const ModelIdentity& other) const;
  // "ViT-B-32 (sha256 40d36571..., dim 512, preprocessing clip-224)"
  std::string describe() const;
};

// OK when `requested` is the model the index was built with, else kFailedPrecondition
// "index built with model <X>, this is <Y>" (the caller decides whether to rebuild).
Status check_same_model(const ModelIdentity& index_model, const ModelIdentity& requested);

}  // namespace xrs
